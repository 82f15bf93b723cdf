/*
 * store_records.c -- stored trials read back as pz_trial_record: every
 * trial in id order, one trial, the best one.
 */
#define _POSIX_C_SOURCE 200809L
#include "store_internal.h"

#include <math.h>
#include <string.h>

/* -------------------------------------------------------------- records */

static void read_output(sqlite3_stmt *q, pz_trial_record *r)
{
    if (sqlite3_column_type(q, C_STDOUT) != SQLITE_NULL) {
        r->stdout_tail = sqlite3_column_blob(q, C_STDOUT);
        r->stdout_len = (size_t)sqlite3_column_bytes(q, C_STDOUT);
        r->stdout_tail = r->stdout_tail ? r->stdout_tail : "";
    }
    if (sqlite3_column_type(q, C_STDERR) != SQLITE_NULL) {
        r->stderr_tail = sqlite3_column_blob(q, C_STDERR);
        r->stderr_len = (size_t)sqlite3_column_bytes(q, C_STDERR);
        r->stderr_tail = r->stderr_tail ? r->stderr_tail : "";
    }
}

/* The current row of a RECORD_COLS statement as a record. */
static int read_record(pz_store *s, sqlite3_stmt *q, bool with_output,
                       pz_trial_record *r, pz_error *err)
{
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(q, C_ID);
    r->state = (pz_trial_state)sqlite3_column_int(q, C_STATE);
    r->loss = pz__store_col_real(q, C_LOSS);
    r->status = pz__store_col_text(q, C_STATUS);
    r->params_json = pz__store_col_text(q, C_PARAMS);
    r->point_json = pz__store_col_text(q, C_POINT);
    r->result_json = pz__store_col_text(q, C_RESULT);
    r->error = pz__store_col_text(q, C_ERROR);
    r->queued_at = pz__store_col_real(q, C_QUEUED);
    r->started_at = pz__store_col_real(q, C_STARTED);
    r->finished_at = pz__store_col_real(q, C_FINISHED);
    r->owner_host = pz__store_col_text(q, C_HOST);
    r->owner_pid = sqlite3_column_int64(q, C_PID);
    r->lease_until = pz__store_col_real(q, C_LEASE);
    r->attempts = sqlite3_column_int(q, C_ATTEMPTS);
    char why[200];
    r->owner_gone = r->state == PZ_TRIAL_RUNNING &&
                    pz__store_lost_reason(s, r->owner_host, r->owner_pid,
                                          sqlite3_column_int64(q, C_START),
                                          r->lease_until, why, sizeof why);
    if (with_output) {
        read_output(q, r);
    }
    r->values = s->cur.row;
    (void)pz_study_reports(s->cur.study, r->id, &r->n_reports, &r->report_steps,
                           &r->report_values, NULL);
    if (r->point_json == NULL || (unsigned)r->state >= PZ_TRIAL_STATE_COUNT) {
        return pz__fail(err, PZ_ESTORE,
                        "%s: trial %lld has no stored point or a state "
                        "out of range (the file is damaged)",
                        s->path, (long long)r->id);
    }
    return pz__store_params_from_json(pz_study_space(s->cur.study), r->id,
                                      r->params_json, s->cur.row, err);
}

/* Call 'fn' on every row of 'q'; '*n' counts them. */
static int walk_trials(pz_store *s, sqlite3_stmt *q, bool with_output,
                       pz_trial_record_fn fn, void *ud, size_t *n,
                       pz_error *err)
{
    int rc, out = PZ_OK;
    int64_t last = 0;
    *n = 0;
    while (out == PZ_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        pz_trial_record r;
        out = read_record(s, q, with_output, &r, err);
        if (out == PZ_OK && *n > 0 && r.id <= last) { /* a damaged index */
            out = pz__fail(err, PZ_ESTORE,
                           "%s: trial %lld out of order (the file is "
                           "damaged)",
                           s->path, (long long)r.id);
        }
        last = r.id;
        if (out == PZ_OK && (out = fn(&r, ud)) != 0) {
            out = pz__store_stopped(out, err);
        }
        ++*n;
    }
    if (out == PZ_OK && rc != SQLITE_DONE) {
        out = pz__store_fail(s, rc, err);
    }
    sqlite3_reset(q);
    return out;
}

/* Walk statement 'which' (bound to the study and, if not PZ_NO_TRIAL,
 * to 'id') in a read transaction. */
int pz__store_walk(pz_store *s, int which, int64_t id, pz_trial_record_fn fn,
                   void *ud, size_t *n, pz_error *err)
{
    int rc = pz__store_need_study(s, err);
    if (rc != PZ_OK || (rc = pz__store_begin_read(s, err)) != PZ_OK) {
        return rc;
    }
    /* the reports come from the study: bring it to this snapshot */
    if ((rc = pz__store_sync_rows(s, &s->cur, err)) != PZ_OK) {
        return pz__store_end_txn(s, rc, err);
    }
    sqlite3_stmt *q = pz__store_stmt(s, which);
    sqlite3_bind_int64(q, 1, s->cur.rowid);
    if (id != PZ_NO_TRIAL) {
        sqlite3_bind_int64(q, 2, id);
    }
    rc = walk_trials(s, q, which != S_ALL, fn, ud, n, err);
    return pz__store_end_txn(s, rc, err);
}

int pz_store_each_trial(pz_store *s, pz_trial_record_fn fn, void *ud,
                        pz_error *err)
{
    size_t n;
    return pz__store_walk(s, S_ALL, PZ_NO_TRIAL, fn, ud, &n, err);
}

int pz_store_get_trial(pz_store *s, int64_t trial_id, pz_trial_record_fn fn,
                       void *ud, pz_error *err)
{
    size_t n = 0;
    int rc = pz__store_walk(s, S_GET, trial_id, fn, ud, &n, err);
    if (rc == PZ_OK && n == 0) {
        rc = pz__fail(err, PZ_ENOTFOUND, "no trial %lld in study '%s'",
                      (long long)trial_id, s->cur.name);
    }
    return rc;
}

int pz_store_best(pz_store *s, pz_trial_record_fn fn, void *ud, pz_error *err)
{
    size_t n = 0;
    int rc = pz__store_walk(s, S_BEST, PZ_NO_TRIAL, fn, ud, &n, err);
    if (rc == PZ_OK && n == 0) {
        rc = pz__fail(err, PZ_ENOTFOUND,
                      "no finished trial with status 'ok' in study '%s'",
                      s->cur.name);
    }
    return rc;
}
