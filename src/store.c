/*
 * store.c -- the durable trial store, its policy: open and close a file,
 * and every state change of a trial (ask, add, start, tell), each one
 * write transaction that first syncs what other handles committed
 * (store_sync.c). The
 * other concerns are in the store_*.c files; store_internal.h lists them
 * and states the invariants.
 */
#define _POSIX_C_SOURCE 200809L
#include "store_internal.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int pz_store_open(pz_store **out, const char *path, unsigned flags,
                  pz_error *err)
{
    *out = NULL;
    if (path == NULL || path[0] == '\0') {
        return pz__fail(err, PZ_EINVAL, "store path is empty");
    }
    if (!(flags & PZ_STORE_CREATE) && access(path, F_OK) != 0) {
        return pz__fail(err, PZ_ESTORE, "no store at '%s'", path);
    }
    pz_store *s = pz__calloc(1, sizeof *s);
    if (s == NULL || (s->path = pz__strdup(path)) == NULL) {
        pz__free(s, sizeof *s);
        return pz__fail(err, PZ_ENOMEM, "out of memory opening '%s'", path);
    }
    pz__store_owner_init(s);
    int rc = pz__store_open_db(s, flags, err);
    if (rc == PZ_OK) {
        rc = pz__store_migrate(s, err);
    }
    if (rc == PZ_OK) {
        rc = pz__store_prepare_all(s, err);
    }
    if (rc != PZ_OK) {
        pz_store_close(s);
        return rc;
    }
    *out = s;
    return PZ_OK;
}

void pz_store_close(pz_store *s)
{
    if (s == NULL) {
        return;
    }
    if (s->db != NULL && s->st[N_STMT - 1] != NULL) {
        pz__store_abandon_running(s);
    }
    for (int i = 0; i < N_STMT; i++) {
        sqlite3_finalize(s->st[i]);
    }
    sqlite3_close(s->db);
    pz__store_binding_fini(&s->cur);
    pz__free(s->changes, s->cap_changes * sizeof *s->changes);
    pz__free_str(s->path);
    pz__free(s, sizeof *s);
}

const char *pz_store_path(const pz_store *s)
{
    return s->path;
}

/* ------------------------------------------------------------------ ask */

static int count_budget(pz_store *s, size_t *n, pz_error *err)
{
    sqlite3_stmt *q = pz__store_stmt(s, S_BUDGET);
    sqlite3_bind_int64(q, 1, s->cur.rowid);
    int rc = sqlite3_step(q);
    *n = rc == SQLITE_ROW ? (size_t)sqlite3_column_int64(q, 0) : 0;
    int out = rc == SQLITE_ROW ? PZ_OK : pz__store_fail(s, rc, err);
    sqlite3_reset(q);
    return out;
}

/* The oldest queued (NEW) trial, or with 'retry' the oldest CANCEL one:
 * its id and point, or *id = PZ_NO_TRIAL. */
static int pick_queued(pz_store *s, bool retry, int64_t *id, double *values,
                       pz_error *err)
{
    sqlite3_stmt *q = pz__store_stmt(s, S_PICK);
    sqlite3_bind_int64(q, 1, s->cur.rowid);
    sqlite3_bind_int(q, 2, retry);
    int rc = sqlite3_step(q), out = PZ_OK;
    *id = PZ_NO_TRIAL;
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(q, 0);
        out = pz__store_params_from_json(pz_study_space(s->cur.study), *id,
                                         pz__store_col_text(q, 1), values, err);
    } else if (rc != SQLITE_DONE) {
        out = pz__store_fail(s, rc, err);
    }
    sqlite3_reset(q);
    return out;
}

static void bind_owner(pz_store *s, sqlite3_stmt *q, int first, double now)
{
    pz__store_bind_text(q, first, s->host);
    sqlite3_bind_int64(q, first + 1, s->pid);
    sqlite3_bind_int64(q, first + 2, s->start);
    sqlite3_bind_int64(q, first + 3, s->token);
    sqlite3_bind_double(q, first + 4, now + s->lease_s);
}

int pz__store_claim(pz_store *s, int64_t id, int64_t seq, pz_error *err)
{
    sqlite3_stmt *q = pz__store_stmt(s, S_CLAIM);
    double now = pz__store_now();
    sqlite3_bind_int64(q, 1, s->cur.rowid);
    sqlite3_bind_int64(q, 2, id);
    sqlite3_bind_double(q, 3, now);
    bind_owner(s, q, 4, now);
    sqlite3_bind_int64(q, 9, seq);
    int rc = pz__store_step_done(s, q, err);
    if (rc == PZ_OK) { /* a re-run reports from its first step again */
        sqlite3_stmt *c = pz__store_stmt(s, S_REPORTS_CLEAR);
        sqlite3_bind_int64(c, 1, s->cur.rowid);
        sqlite3_bind_int64(c, 2, id);
        rc = pz__store_step_done(s, c, err);
    }
    if (rc == PZ_OK) {
        pz__study_clear_reports(s->cur.study, id);
    }
    return rc == PZ_OK ? pz__store_note_change(s, id, PZ_TRIAL_RUNNING,
                                               (double)NAN, false, err)
                       : rc;
}

static int next_id(pz_store *s, int64_t *id, pz_error *err)
{
    sqlite3_stmt *q = pz__store_stmt(s, S_MAX_ID);
    sqlite3_bind_int64(q, 1, s->cur.rowid);
    int rc = sqlite3_step(q);
    *id = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : PZ_NO_TRIAL;
    int out = rc == SQLITE_ROW ? PZ_OK : pz__store_fail(s, rc, err);
    sqlite3_reset(q);
    return out;
}

/* Insert trial 'id' with its point, NEW (queued) or RUNNING (owned). */
static int insert_trial(pz_store *s, int64_t id, pz_trial_state state,
                        const double *values, int64_t seq, pz_error *err)
{
    const pz_space *sp = pz_study_space(s->cur.study);
    char *params = NULL, *point = NULL;
    int rc = pz__store_params_to_json(sp, values, &params, err);
    if (rc == PZ_OK) {
        rc = pz_space_point_json(sp, values, &point, err);
    }
    if (rc == PZ_OK) {
        sqlite3_stmt *q = pz__store_stmt(s, S_INSERT);
        double now = pz__store_now();
        sqlite3_bind_int64(q, 1, s->cur.rowid);
        sqlite3_bind_int64(q, 2, id);
        sqlite3_bind_int(q, 3, (int)state);
        pz__store_bind_text(q, 4, params);
        pz__store_bind_text(q, 5, point);
        sqlite3_bind_double(q, 6, now);
        if (state == PZ_TRIAL_RUNNING) {
            sqlite3_bind_double(q, 7, now);
            bind_owner(s, q, 8, now);
        }
        sqlite3_bind_int(q, 13, state == PZ_TRIAL_RUNNING);
        sqlite3_bind_int64(q, 14, seq);
        rc = pz__store_step_done(s, q, err);
    }
    pz__free_str(params);
    pz_free(point);
    return rc == PZ_OK
               ? pz__store_note_change(s, id, state, (double)NAN, true, err)
               : rc;
}

/* Inside a write txn, after sync and lost marking: start a trial. */
static int ask_in_txn(pz_store *s, size_t max_trials, unsigned flags,
                      int64_t *id, double *values, pz_error *err)
{
    size_t n = 0;
    int64_t seq = 0;
    int rc = max_trials > 0 ? count_budget(s, &n, err) : PZ_OK;
    if (rc != PZ_OK || (max_trials > 0 && n >= max_trials)) {
        return rc;
    }
    rc = pz__store_txn_seq(s, &seq, err);
    if (rc == PZ_OK) {
        rc = pick_queued(s, flags & PZ_ASK_RETRY_LOST, id, values, err);
    }
    if (rc != PZ_OK) {
        return rc;
    }
    if (*id != PZ_NO_TRIAL) {
        return pz__store_claim(s, *id, seq, err);
    }
    rc = next_id(s, id, err);
    if (rc == PZ_OK) {
        rc = pz_study_suggest(s->cur.study, *id, s->cur.seed, values, err);
    }
    return rc == PZ_OK
               ? insert_trial(s, *id, PZ_TRIAL_RUNNING, values, seq, err)
               : rc;
}

int pz_store_ask(pz_store *s, size_t max_trials, unsigned flags,
                 int64_t *trial_id, double *values, pz_error *err)
{
    *trial_id = PZ_NO_TRIAL;
    int64_t id = PZ_NO_TRIAL;
    int rc = pz__store_need_study(s, err);
    if (rc != PZ_OK || (rc = pz__store_begin_write(s, err)) != PZ_OK) {
        return rc;
    }
    rc = pz__store_sync_rows(s, &s->cur, err);
    if (rc == PZ_OK) {
        rc = pz__store_mark_lost_rows(s, NULL, err);
    }
    if (rc == PZ_OK) {
        rc = ask_in_txn(s, max_trials, flags, &id, values, err);
    }
    rc = pz__store_end_txn(s, rc, err);
    if (rc == PZ_OK) {
        s->started_any |= id != PZ_NO_TRIAL;
        rc = pz__store_apply_changes(s, values, err);
    }
    if (rc == PZ_OK) {
        *trial_id = id;
    }
    return rc;
}

int pz_store_add(pz_store *s, const double *values, int64_t *trial_id,
                 pz_error *err)
{
    int64_t id = PZ_NO_TRIAL, seq = 0;
    int rc = pz__store_need_study(s, err);
    if (rc == PZ_OK) {
        rc = pz_space_check_point(pz_study_space(s->cur.study), values, err);
    }
    if (rc != PZ_OK || (rc = pz__store_begin_write(s, err)) != PZ_OK) {
        return rc;
    }
    rc = pz__store_sync_rows(s, &s->cur, err);
    if (rc == PZ_OK) {
        rc = pz__store_txn_seq(s, &seq, err);
    }
    if (rc == PZ_OK) {
        rc = next_id(s, &id, err);
    }
    if (rc == PZ_OK) {
        rc = insert_trial(s, id, PZ_TRIAL_NEW, values, seq, err);
    }
    rc = pz__store_end_txn(s, rc, err);
    if (rc == PZ_OK &&
        (rc = pz__store_apply_changes(s, values, err)) == PZ_OK) {
        *trial_id = id;
    }
    return rc;
}

/* ----------------------------------------------------------------- tell */

/* State of trial 'id' in the file; PZ_ENOTFOUND when absent. */
static int stored_state(pz_store *s, int64_t id, int *state, pz_error *err)
{
    sqlite3_stmt *q = pz__store_stmt(s, S_STATE_OF);
    sqlite3_bind_int64(q, 1, s->cur.rowid);
    sqlite3_bind_int64(q, 2, id);
    int rc = sqlite3_step(q), out = PZ_OK;
    if (rc == SQLITE_ROW) {
        *state = sqlite3_column_int(q, 0);
    } else if (rc == SQLITE_DONE) {
        out = pz__fail(err, PZ_ENOTFOUND, "no trial %lld in study '%s'",
                       (long long)id, s->cur.name);
    } else {
        out = pz__store_fail(s, rc, err);
    }
    sqlite3_reset(q);
    return out;
}

static int write_output(pz_store *s, int64_t id, const pz_trial_result *res,
                        pz_error *err)
{
    if (res->stdout_tail == NULL && res->stderr_tail == NULL) {
        return PZ_OK;
    }
    sqlite3_stmt *q = pz__store_stmt(s, S_OUTPUT);
    sqlite3_bind_int64(q, 1, s->cur.rowid);
    sqlite3_bind_int64(q, 2, id);
    pz__store_bind_blob(q, 3, res->stdout_tail, res->stdout_len);
    pz__store_bind_blob(q, 4, res->stderr_tail, res->stderr_len);
    return pz__store_step_done(s, q, err);
}

static int tell_in_txn(pz_store *s, int64_t id, const pz_trial_result *res,
                       const char *status, pz_error *err)
{
    int state = 0;
    int64_t seq = 0;
    int rc = stored_state(s, id, &state, err);
    if (rc != PZ_OK || state == PZ_TRIAL_DONE || state == PZ_TRIAL_ERROR ||
        state == PZ_TRIAL_PRUNED) {
        return rc; /* the first outcome wins */
    }
    rc = pz__store_txn_seq(s, &seq, err);
    if (rc == PZ_OK) {
        sqlite3_stmt *q = pz__store_stmt(s, S_FINISH);
        sqlite3_bind_int64(q, 1, s->cur.rowid);
        sqlite3_bind_int64(q, 2, id);
        sqlite3_bind_int(q, 3, (int)res->state);
        pz__store_bind_real(q, 4, res->loss);
        pz__store_bind_text(q, 5, status);
        pz__store_bind_text(q, 6, res->result_json);
        pz__store_bind_text(q, 7, res->error);
        sqlite3_bind_double(q, 8, pz__store_now());
        sqlite3_bind_int64(q, 9, seq);
        rc = pz__store_step_done(s, q, err);
    }
    if (rc == PZ_OK) {
        rc = write_output(s, id, res, err);
    }
    return rc == PZ_OK ? pz__store_note_change(
                             s, id, res->state,
                             pz__stop_told_loss(res->state, status, res->loss),
                             false, err)
                       : rc;
}

int pz_store_tell(pz_store *s, int64_t trial_id, const pz_trial_result *res,
                  pz_error *err)
{
    int rc = pz__store_need_study(s, err);
    if (rc != PZ_OK) {
        return rc;
    }
    if (res == NULL ||
        (res->state != PZ_TRIAL_DONE && res->state != PZ_TRIAL_ERROR &&
         res->state != PZ_TRIAL_CANCEL && res->state != PZ_TRIAL_PRUNED)) {
        return pz__fail(err, PZ_EINVAL,
                        "trial %lld: an outcome must be DONE, ERROR, CANCEL "
                        "or PRUNED",
                        (long long)trial_id);
    }
    /* a pruned trial's loss is a real (intermediate) loss: "ok" */
    const char *status =
        res->status ? res->status
        : res->state == PZ_TRIAL_DONE || res->state == PZ_TRIAL_PRUNED ? "ok"
                                                                       : "fail";
    if ((rc = pz__store_begin_write(s, err)) != PZ_OK) {
        return rc;
    }
    rc = pz__store_sync_rows(s, &s->cur, err);
    if (rc == PZ_OK) {
        rc = tell_in_txn(s, trial_id, res, status, err);
    }
    rc = pz__store_end_txn(s, rc, err);
    return rc == PZ_OK ? pz__store_apply_changes(s, NULL, err) : rc;
}

/* ---------------------------------------------------------------- start */

/* Inside a write txn: claim the NEW or CANCEL trial 'id'. */
static int start_in_txn(pz_store *s, int64_t id, pz_error *err)
{
    int state = 0;
    int64_t seq = 0;
    int rc = stored_state(s, id, &state, err);
    if (rc == PZ_OK && state != PZ_TRIAL_NEW && state != PZ_TRIAL_CANCEL) {
        rc = pz__fail(err, PZ_EINVAL,
                      "trial %lld of study '%s' is %s: only a queued or "
                      "canceled trial can start",
                      (long long)id, s->cur.name, pz_trial_state_name(state));
    }
    if (rc == PZ_OK) {
        rc = pz__store_txn_seq(s, &seq, err);
    }
    return rc == PZ_OK ? pz__store_claim(s, id, seq, err) : rc;
}

int pz_store_start(pz_store *s, int64_t trial_id, pz_error *err)
{
    int rc = pz__store_need_study(s, err);
    if (rc != PZ_OK || (rc = pz__store_begin_write(s, err)) != PZ_OK) {
        return rc;
    }
    rc = pz__store_sync_rows(s, &s->cur, err);
    if (rc == PZ_OK) {
        rc = start_in_txn(s, trial_id, err);
    }
    rc = pz__store_end_txn(s, rc, err);
    if (rc == PZ_OK) {
        s->started_any = true;
        rc = pz__store_apply_changes(s, NULL, err);
    }
    return rc;
}

/* --------------------------------------------------------------- report */

/* Inside a write txn: store trial 'id''s report; '*row' its id. */
static int report_in_txn(pz_store *s, int64_t id, int64_t step, double value,
                         int64_t *row, pz_error *err)
{
    size_t n = 0;
    const int64_t *steps = NULL;
    const double *values = NULL;
    int rc = pz_study_reports(s->cur.study, id, &n, &steps, &values, err);
    if (rc == PZ_ENOTFOUND) {
        return pz__fail(err, PZ_ENOTFOUND, "no trial %lld in study '%s'",
                        (long long)id, s->cur.name);
    }
    if (rc == PZ_OK && (step < 0 || (n > 0 && step <= steps[n - 1]))) {
        /* the study's message: it names the trial and both steps */
        return pz_study_report(s->cur.study, id, step, value, err);
    }
    sqlite3_stmt *q = pz__store_stmt(s, S_REPORT_INSERT);
    sqlite3_bind_int64(q, 1, s->cur.rowid);
    sqlite3_bind_int64(q, 2, id);
    sqlite3_bind_int64(q, 3, step);
    sqlite3_bind_double(q, 4, value);
    rc = pz__store_step_done(s, q, err);
    *row = sqlite3_last_insert_rowid(s->db);
    return rc;
}

int pz_store_report(pz_store *s, int64_t trial_id, int64_t step, double value,
                    pz_error *err)
{
    int rc = pz__store_need_study(s, err);
    if (rc != PZ_OK) {
        return rc;
    }
    if (!isfinite(value)) { /* nothing to store: the study's warning */
        return pz_study_report(s->cur.study, trial_id, step, value, err);
    }
    if ((rc = pz__store_begin_write(s, err)) != PZ_OK) {
        return rc;
    }
    int64_t row = 0;
    rc = pz__store_sync_rows(s, &s->cur, err);
    if (rc == PZ_OK) {
        rc = report_in_txn(s, trial_id, step, value, &row, err);
    }
    rc = pz__store_end_txn(s, rc, err);
    if (rc != PZ_OK) {
        return rc;
    }
    /* ours is the newest report: the sync in the txn applied the rest */
    s->cur.report_seq = row;
    return pz_study_report(s->cur.study, trial_id, step, value, err);
}
