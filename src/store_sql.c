/*
 * store_sql.c -- the store's statements and transactions: the SQL text of
 * every statement (prepared once at open, finalized at close), the one
 * mapping of SQLite codes to pz codes (BUSY/LOCKED -> PZ_EBUSY, NOMEM ->
 * PZ_ENOMEM, anything else -> PZ_ESTORE with sqlite3_errmsg), bind and
 * column helpers, and the write transaction with its change counter and
 * the trials it changed (applied to the study after the commit).
 */
#define _POSIX_C_SOURCE 200809L
#include "store_internal.h"

#include <math.h>
#include <time.h>

/* ------------------------------------------------------------ statements */

/* Columns of a trial record, shared by S_ALL, S_GET and S_BEST. */
#define RECORD_COLS                                                            \
    "t.id, t.state, t.loss, t.status, t.params, t.point, t.result, t.error,"   \
    " t.queued_at, t.started_at, t.finished_at, t.owner_host, t.owner_pid,"    \
    " t.owner_start, t.lease_until, t.attempts"
#define RECORD_OUTPUT ", o.stdout, o.stderr"
#define RECORD_JOIN                                                            \
    " FROM trials t LEFT JOIN trial_output o"                                  \
    " ON o.study = t.study AND o.trial = t.id"

static const char *const sql_text[N_STMT] = {
    [S_BEGIN_W] = "BEGIN IMMEDIATE",
    [S_BEGIN_R] = "BEGIN",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_STUDY_GET] = "SELECT id, space, sampler, options, seed, created_at,"
                    " seq FROM studies WHERE name = ?1",
    [S_STUDY_INSERT] = "INSERT INTO studies(name, space, sampler, options,"
                       " seed, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [S_STUDY_LIST] = "SELECT id, name, sampler, seed, created_at"
                     " FROM studies ORDER BY name",
    [S_STUDY_COUNTS] = "SELECT state, count(*),"
                       " min(CASE WHEN status = 'ok' THEN loss END)"
                       " FROM trials WHERE study = ?1 GROUP BY state",
    [S_BUMP] = "UPDATE studies SET seq = seq + 1 WHERE id = ?1 RETURNING seq",
    [S_ALL] = "SELECT " RECORD_COLS " FROM trials t WHERE t.study = ?1"
              " ORDER BY t.id",
    [S_SINCE] = "SELECT id, state, loss, status, params, seq FROM trials"
                " WHERE study = ?1 AND seq > ?2 ORDER BY seq, id",
    [S_GET] = "SELECT " RECORD_COLS RECORD_OUTPUT RECORD_JOIN
              " WHERE t.study = ?1 AND t.id = ?2",
    [S_BEST] = "SELECT " RECORD_COLS RECORD_OUTPUT RECORD_JOIN
               " WHERE t.study = ?1 AND t.state = 2 AND t.status = 'ok'"
               " AND t.loss IS NOT NULL ORDER BY t.loss, t.id LIMIT 1",
    [S_MAX_ID] = "SELECT coalesce(max(id) + 1, 0) FROM trials"
                 " WHERE study = ?1",
    /* the states of pz_trial_counts (tests/test_store.c checks it) */
    [S_BUDGET] = "SELECT count(*) FROM trials WHERE study = ?1"
                 " AND state IN (1, 2, 3, 5)",
    [S_PICK] = "SELECT id, params FROM trials WHERE study = ?1"
               " AND (state = 0 OR (?2 AND state = 4))"
               " ORDER BY state, id LIMIT 1",
    [S_INSERT] = "INSERT INTO trials(study, id, state, params, point,"
                 " queued_at, started_at, owner_host, owner_pid, owner_start,"
                 " owner_token, lease_until, attempts, seq) VALUES (?1, ?2,"
                 " ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    [S_CLAIM] = "UPDATE trials SET state = 1, started_at = ?3,"
                " finished_at = NULL, error = NULL, loss = NULL,"
                " status = NULL, result = NULL, owner_host = ?4,"
                " owner_pid = ?5, owner_start = ?6, owner_token = ?7,"
                " lease_until = ?8, attempts = attempts + 1, seq = ?9"
                " WHERE study = ?1 AND id = ?2",
    [S_STATE_OF] = "SELECT state FROM trials WHERE study = ?1 AND id = ?2",
    [S_FINISH] = "UPDATE trials SET state = ?3, loss = ?4, status = ?5,"
                 " result = ?6, error = ?7, finished_at = ?8, seq = ?9"
                 " WHERE study = ?1 AND id = ?2 AND state NOT IN (2, 3, 5)",
    [S_OUTPUT] = "INSERT OR REPLACE INTO trial_output(study, trial, stdout,"
                 " stderr) VALUES (?1, ?2, ?3, ?4)",
    [S_RUNNING] = "SELECT id, owner_host, owner_pid, owner_start,"
                  " lease_until FROM trials WHERE study = ?1 AND state = 1",
    [S_LOST] = "UPDATE trials SET state = 4, error = ?3, finished_at = ?4,"
               " seq = ?5 WHERE study = ?1 AND id = ?2 AND state = 1",
    [S_RENEW] = "UPDATE trials SET lease_until = ?2 WHERE study = ?1"
                " AND state = 1 AND owner_token = ?3",
    [S_ABANDON] = "UPDATE trials SET state = 4, error = ?2,"
                  " finished_at = ?3, seq = ?4 WHERE study = ?1"
                  " AND state = 1 AND owner_token = ?5",
    [S_REPORT_INSERT] = "INSERT INTO trial_reports(study, trial, step, value)"
                        " VALUES (?1, ?2, ?3, ?4)",
    [S_REPORTS_SINCE] = "SELECT id, trial, step, value FROM trial_reports"
                        " WHERE study = ?1 AND id > ?2 ORDER BY id",
    [S_REPORTS_CLEAR] = "DELETE FROM trial_reports WHERE study = ?1"
                        " AND trial = ?2",
    [S_DATA_VERSION] = "PRAGMA data_version",
};

/* ------------------------------------------------------------- helpers */

double pz__store_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The one place SQLite codes become pz codes; 'err' gets the message of
 * the connection (call before any rollback, which would reset it). */
int pz__store_fail(const pz_store *s, int rc, pz_error *err)
{
    int prim = rc & 0xff;
    int code = prim == SQLITE_BUSY || prim == SQLITE_LOCKED ? PZ_EBUSY
               : prim == SQLITE_NOMEM                       ? PZ_ENOMEM
                                                            : PZ_ESTORE;
    const char *msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
    return pz__fail(err, code, "%s: %s", s->path, msg);
}

/* A failure 'rc' caused by what the file holds (a stored space, trial
 * or parameters that do not parse), once pz__fail_context ('ctx', its
 * result) put the context before the message: PZ_ESTORE, whatever code
 * the parser reported, except that out of memory stays PZ_ENOMEM. */
int pz__store_stored_fail(pz_error *err, int rc, int ctx)
{
    (void)ctx;
    if (rc == PZ_ENOMEM) {
        return rc;
    }
    if (err != NULL) {
        err->code = PZ_ESTORE;
    }
    return PZ_ESTORE;
}

/* A reset statement with no bindings. */
sqlite3_stmt *pz__store_stmt(pz_store *s, int which)
{
    sqlite3_stmt *q = s->st[which];
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    return q;
}

/* Step a statement that returns no rows (or whose rows are ignored). */
int pz__store_step_done(pz_store *s, sqlite3_stmt *q, pz_error *err)
{
    int rc = sqlite3_step(q);
    while (rc == SQLITE_ROW) {
        rc = sqlite3_step(q);
    }
    int out = rc == SQLITE_DONE ? PZ_OK : pz__store_fail(s, rc, err);
    sqlite3_reset(q);
    return out;
}

static int run(pz_store *s, int which, pz_error *err)
{
    return pz__store_step_done(s, pz__store_stmt(s, which), err);
}

/* Bind helpers: NaN is NULL, text and blobs are static (the statement is
 * stepped and reset before the caller's buffers change). */
void pz__store_bind_real(sqlite3_stmt *q, int i, double v)
{
    if (isnan(v)) {
        sqlite3_bind_null(q, i);
    } else {
        sqlite3_bind_double(q, i, v);
    }
}

void pz__store_bind_text(sqlite3_stmt *q, int i, const char *text)
{
    if (text == NULL) {
        sqlite3_bind_null(q, i);
    } else {
        sqlite3_bind_text(q, i, text, -1, SQLITE_STATIC);
    }
}

void pz__store_bind_blob(sqlite3_stmt *q, int i, const char *p, size_t n)
{
    if (p == NULL) {
        sqlite3_bind_null(q, i);
    } else {
        sqlite3_bind_blob64(q, i, n ? p : "", (sqlite3_uint64)n, SQLITE_STATIC);
    }
}

double pz__store_col_real(sqlite3_stmt *q, int i)
{
    return sqlite3_column_type(q, i) == SQLITE_NULL
               ? (double)NAN
               : sqlite3_column_double(q, i);
}

const char *pz__store_col_text(sqlite3_stmt *q, int i)
{
    return (const char *)sqlite3_column_text(q, i);
}

char *pz__store_dup_text(sqlite3_stmt *q, int i)
{
    const char *t = pz__store_col_text(q, i);
    return pz__strdup(t ? t : "");
}

/* ---------------------------------------------------------- transactions */

int pz__store_begin_write(pz_store *s, pz_error *err)
{
    s->txn_seq = 0;
    s->n_changes = 0;
    return run(s, S_BEGIN_W, err);
}

int pz__store_begin_read(pz_store *s, pz_error *err)
{
    return run(s, S_BEGIN_R, err);
}

/* Commit if 'rc' is PZ_OK, else roll back; returns the outcome. */
int pz__store_end_txn(pz_store *s, int rc, pz_error *err)
{
    if (rc == PZ_OK) {
        rc = run(s, S_COMMIT, err);
    }
    if (rc != PZ_OK && !sqlite3_get_autocommit(s->db)) {
        run(s, S_ROLLBACK, NULL);
    }
    return rc;
}

/* The change number of the open write transaction, taken on first use. */
int pz__store_txn_seq(pz_store *s, int64_t *seq, pz_error *err)
{
    if (s->txn_seq == 0) {
        sqlite3_stmt *q = pz__store_stmt(s, S_BUMP);
        sqlite3_bind_int64(q, 1, s->cur.rowid);
        int rc = sqlite3_step(q);
        if (rc != SQLITE_ROW) {
            rc =
                pz__store_fail(s, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc, err);
            sqlite3_reset(q);
            return rc;
        }
        s->txn_seq = sqlite3_column_int64(q, 0);
        sqlite3_reset(q);
    }
    *seq = s->txn_seq;
    return PZ_OK;
}

int pz__store_note_change(pz_store *s, int64_t id, pz_trial_state state,
                          double loss, bool added, pz_error *err)
{
    if (pz__grow((void **)&s->changes, &s->cap_changes, s->n_changes + 1,
                 sizeof *s->changes) != PZ_OK) {
        return pz__fail(err, PZ_ENOMEM, "out of memory");
    }
    s->changes[s->n_changes++] = (change){id, state, loss, added};
    return PZ_OK;
}

int pz__store_prepare_all(pz_store *s, pz_error *err)
{
    for (int i = 0; i < N_STMT; i++) {
        int rc = sqlite3_prepare_v3(s->db, sql_text[i], -1,
                                    SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL);
        if (rc != SQLITE_OK) {
            return pz__store_fail(s, rc, err);
        }
    }
    return PZ_OK;
}
