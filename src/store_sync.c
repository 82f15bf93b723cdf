/*
 * store_sync.c -- the in-memory study kept equal to the file: the rows
 * other handles committed applied in commit order (sync), a transaction's
 * own changes applied after its commit, and the stored JSON of a trial's
 * parameters. Applying a row is idempotent (tell if the study knows the
 * id, else add), so a failure between a commit and its apply is repaired
 * by the next sync.
 */
#define _POSIX_C_SOURCE 200809L
#include "store_internal.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* -------------------------------------------------------------- values */

/* Free text from json_dumps with jansson's own free function: the
 * embedding program may have set its allocators (json_set_alloc_funcs). */
void pz__store_json_text_free(char *s)
{
    json_free_t jfree = NULL;
    json_get_alloc_funcs(NULL, &jfree);
    if (s != NULL) {
        (jfree ? jfree : free)(s);
    }
}

static bool int_valued(pz_dist d)
{
    return d == PZ_CHOICE || d == PZ_PCHOICE || d == PZ_RANDINT ||
           d == PZ_UNIFORMINT;
}

/* {label: value} of the active parameters (NaN is inactive), compact;
 * transferred (pz__free_str). */
int pz__store_params_to_json(const pz_space *sp, const double *values,
                             char **out, pz_error *err)
{
    json_t *obj = json_object();
    for (size_t i = 0; obj != NULL && i < pz_space_size(sp); i++) {
        if (isnan(values[i])) {
            continue;
        }
        const pz__param *p = &sp->params[i];
        json_t *v = int_valued(p->spec.dist)
                        ? json_integer((json_int_t)values[i])
                        : json_real(values[i]);
        if (json_object_set_new(obj, p->label, v) != 0) {
            json_decref(obj);
            obj = NULL;
        }
    }
    *out = NULL;
    if (obj != NULL && pz__json_write(obj, 0, out) != PZ_OK) {
        *out = NULL;
    }
    json_decref(obj);
    return *out ? PZ_OK : pz__fail(err, PZ_ENOMEM, "out of memory");
}

static int bad_params(int64_t id, const char *why, pz_error *err)
{
    return pz__fail(err, PZ_ESTORE, "trial %lld: stored parameters %s",
                    (long long)id, why);
}

/* Parse stored params into 'values' (NaN where absent). */
int pz__store_params_from_json(const pz_space *sp, int64_t id, const char *text,
                               double *values, pz_error *err)
{
    for (size_t i = 0; i < pz_space_size(sp); i++) {
        values[i] = (double)NAN;
    }
    /* zeroed: jansson leaves its error code unset on some failures */
    json_error_t je = {0};
    json_t *obj = text ? json_loads(text, 0, &je) : NULL;
    if (obj == NULL && text != NULL &&
        pz__json_check_oom(&je, text, strlen(text))) {
        return pz__fail(err, PZ_ENOMEM, "out of memory");
    }
    if (!json_is_object(obj)) {
        json_decref(obj);
        return bad_params(id, "are not a JSON object", err);
    }
    const char *key;
    json_t *v;
    int rc = PZ_OK;
    json_object_foreach(obj, key, v)
    {
        size_t k;
        if (pz_space_find(sp, key, &k) != PZ_OK || !json_is_number(v)) {
            rc = bad_params(id, "do not match the space", err);
            break;
        }
        values[k] = json_number_value(v);
    }
    json_decref(obj);
    return rc;
}

/* ----------------------------------------------------------------- sync */

/* Bring trial 'id' of the study to a stored row: tell it if the study
 * has it, else add it with its stored point. Idempotent. */
static int apply_row(binding *b, int64_t id, pz_trial_state state, double loss,
                     const char *params, pz_error *err)
{
    pz_error tell_err = {0};
    int rc = pz_study_tell(b->study, id, state, loss, &tell_err);
    if (rc != PZ_ENOTFOUND && rc != PZ_OK) { /* e.g. a stored state > 4 */
        rc = pz__fail(err, rc, "%s", tell_err.msg);
    } else if (rc == PZ_ENOTFOUND) {
        const pz_space *sp = pz_study_space(b->study);
        rc = pz__store_params_from_json(sp, id, params, b->row, err);
        if (rc == PZ_OK) {
            rc = pz_study_add(b->study, id, b->row, state, loss, err);
        }
    }
    if (rc == PZ_EINVAL) {
        rc = pz__store_stored_fail(err, rc,
                                   pz__fail_context(err, PZ_ESTORE,
                                                    "stored trial %lld",
                                                    (long long)id));
    }
    return rc;
}

/* Apply the reports stored after 'b->report_seq', in arrival order. A
 * report the study refuses (a step it already holds: the first run of a
 * retried trial, which another handle re-ran) is skipped: reports only
 * inform pruning. */
int pz__store_sync_reports(pz_store *s, binding *b, pz_error *err)
{
    sqlite3_stmt *q = pz__store_stmt(s, S_REPORTS_SINCE);
    sqlite3_bind_int64(q, 1, b->rowid);
    sqlite3_bind_int64(q, 2, b->report_seq);
    int rc, out = PZ_OK;
    while (out == PZ_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        int r = pz_study_report(b->study, sqlite3_column_int64(q, 1),
                                sqlite3_column_int64(q, 2),
                                sqlite3_column_double(q, 3), err);
        if (r == PZ_ENOMEM) {
            out = r;
        } else {
            b->report_seq = sqlite3_column_int64(q, 0);
        }
    }
    if (out == PZ_OK && rc != SQLITE_DONE) {
        out = pz__store_fail(s, rc, err);
    }
    sqlite3_reset(q);
    return out;
}

/* PRAGMA data_version of the connection: read before the rows, so a
 * commit that lands between it and them only costs one more sync. */
static int data_version(pz_store *s, int64_t *out, pz_error *err)
{
    sqlite3_stmt *q = pz__store_stmt(s, S_DATA_VERSION);
    int rc = sqlite3_step(q);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : -1;
    sqlite3_reset(q);
    return rc == SQLITE_ROW ? PZ_OK : pz__store_fail(s, rc, err);
}

static int sync_rows(pz_store *s, binding *b, pz_error *err)
{
    sqlite3_stmt *q = pz__store_stmt(s, S_SINCE);
    sqlite3_bind_int64(q, 1, b->rowid);
    sqlite3_bind_int64(q, 2, b->seq);
    int rc, out = PZ_OK;
    while (out == PZ_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        pz_trial_state state = (pz_trial_state)sqlite3_column_int(q, 1);
        double loss = pz__stop_told_loss(state, pz__store_col_text(q, 3),
                                         pz__store_col_real(q, 2));
        out = apply_row(b, sqlite3_column_int64(q, 0), state, loss,
                        pz__store_col_text(q, 4), err);
        if (out == PZ_OK) {
            b->seq = sqlite3_column_int64(q, 5);
        }
    }
    if (out == PZ_OK && rc != SQLITE_DONE) {
        out = pz__store_fail(s, rc, err);
    }
    sqlite3_reset(q);
    return out == PZ_OK ? pz__store_sync_reports(s, b, err) : out;
}

/* Apply every row and report other handles committed after 'b->seq' and
 * 'b->report_seq', in commit order; nothing to read when no other
 * connection has committed since the last complete sync (the common
 * single-writer run: two SELECTs saved per ask, tell and report). */
int pz__store_sync_rows(pz_store *s, binding *b, pz_error *err)
{
    int64_t version = -1;
    int rc = data_version(s, &version, err);
    if (rc != PZ_OK || version == b->data_version) {
        return rc;
    }
    b->data_version = -1; /* until this sync completes */
    rc = sync_rows(s, b, err);
    if (rc == PZ_OK) {
        b->data_version = version;
    }
    return rc;
}

/* After a commit: the transaction's own changes, then its seq. */
int pz__store_apply_changes(pz_store *s, const double *values, pz_error *err)
{
    for (size_t i = 0; i < s->n_changes; i++) {
        const change *c = &s->changes[i];
        int rc = c->added ? pz_study_add(s->cur.study, c->id, values, c->state,
                                         c->loss, err)
                          : pz_study_tell(s->cur.study, c->id, c->state,
                                          c->loss, err);
        if (rc != PZ_OK) { /* the next sync applies it again */
            s->cur.data_version = -1;
            /* Committed rows the study cannot take: the file contradicts
             * itself (damaged pages or indexes). */
            return pz__store_stored_fail(
                err, rc,
                pz__fail_context(err, PZ_ESTORE, "%s: the file is damaged",
                                 s->path));
        }
    }
    if (s->txn_seq > s->cur.seq) {
        s->cur.seq = s->txn_seq;
    }
    return PZ_OK;
}

int pz__store_need_study(const pz_store *s, pz_error *err)
{
    if (s->cur.rowid == 0) {
        return pz__fail(err, PZ_EINVAL, "%s: no study opened", s->path);
    }
    return PZ_OK;
}

int pz_store_sync(pz_store *s, pz_error *err)
{
    int rc = pz__store_need_study(s, err);
    if (rc == PZ_OK) {
        rc = pz__store_begin_read(s, err);
        if (rc == PZ_OK) {
            rc =
                pz__store_end_txn(s, pz__store_sync_rows(s, &s->cur, err), err);
        }
    }
    return rc;
}
