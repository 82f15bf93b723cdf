/*
 * store_sqlite.c -- the durable trial store: one SQLite file, any number
 * of studies by name. The ONLY file that includes <sqlite3.h>.
 *
 * What it owns: the schema (versioned with PRAGMA user_version, migrated
 * by the 'migrations' table of steps below, each applied step recorded in
 * the file's own 'migrations' table), every SQL statement (prepared once
 * at open, finalized at close), the mapping of SQLite codes to pz codes
 * (store_fail: BUSY/LOCKED -> PZ_EBUSY, NOMEM -> PZ_ENOMEM, anything else
 * -> PZ_ESTORE with sqlite3_errmsg), and the pz_study of the current
 * study, kept equal to the file.
 *
 * Invariants.
 * - Every state change is one write transaction (BEGIN IMMEDIATE) that
 *   first loads the changes other handles committed (sync), then writes.
 *   Each write transaction takes the next value of the study's change
 *   counter 'studies.seq' and stamps it on every trial row it touches;
 *   'binding.seq' is the last value whose rows the in-memory study has.
 *   Trial ids are max(id) + 1 (0 for the first, as in pz_study_ask)
 *   under the write lock, so ids are unique across processes and grow
 *   with seq.
 * - The in-memory study is changed only after a commit (or by a sync,
 *   which applies committed rows), and applying a row is idempotent
 *   (tell if the id is known, else add), so a failure between commit and
 *   apply is repaired by the next sync.
 * - A RUNNING trial names its owner (host, pid, process start time, a
 *   per-handle token, a lease). It is lost when its owner is on this host
 *   and no longer runs, or on another host and its lease expired.
 *
 * Workload: one ask and one tell per trial (a few hundred microseconds
 * each, dominated by the commit), studies of up to ~10^5 trials loaded
 * once at open.
 */
#define _DEFAULT_SOURCE /* gethostname, kill */
#define _POSIX_C_SOURCE 200809L
#include "pz_internal.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define APP_ID 0x707a6462 /* "pzdb" in PRAGMA application_id */
#define BUSY_TIMEOUT_MS 30000
#define DEFAULT_LEASE_S 60.0

/* ---------------------------------------------------------------- schema */

typedef struct migration {
    int version;
    const char *description;
    const char *sql;
} migration;

static const migration migrations[] = {
    {1, "studies, trials, trial output",
     "CREATE TABLE migrations("
     " version INTEGER PRIMARY KEY, applied_at REAL NOT NULL,"
     " description TEXT NOT NULL);"
     "CREATE TABLE studies("
     " id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
     " space TEXT NOT NULL, sampler TEXT NOT NULL, options TEXT NOT NULL,"
     " seed INTEGER NOT NULL, created_at REAL NOT NULL,"
     " seq INTEGER NOT NULL DEFAULT 0);"
     "CREATE TABLE trials("
     " study INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,"
     " id INTEGER NOT NULL,"
     " state INTEGER NOT NULL CHECK (state BETWEEN 0 AND 4),"
     " params TEXT NOT NULL, point TEXT NOT NULL,"
     " loss REAL, status TEXT, result TEXT, error TEXT,"
     " queued_at REAL, started_at REAL, finished_at REAL,"
     " owner_host TEXT, owner_pid INTEGER, owner_start INTEGER,"
     " owner_token INTEGER, lease_until REAL,"
     " attempts INTEGER NOT NULL DEFAULT 0, seq INTEGER NOT NULL,"
     " PRIMARY KEY (study, id));"
     "CREATE INDEX trials_by_seq ON trials(study, seq);"
     "CREATE INDEX trials_by_state ON trials(study, state, id);"
     "CREATE TABLE trial_output("
     " study INTEGER NOT NULL, trial INTEGER NOT NULL,"
     " stdout BLOB, stderr BLOB, PRIMARY KEY (study, trial),"
     " FOREIGN KEY (study, trial) REFERENCES trials(study, id)"
     " ON DELETE CASCADE);"},
};

#define N_MIGRATIONS (sizeof migrations / sizeof migrations[0])
#define SCHEMA_VERSION 1

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

enum {
    S_BEGIN_W,
    S_BEGIN_R,
    S_COMMIT,
    S_ROLLBACK,
    S_STUDY_GET,
    S_STUDY_INSERT,
    S_STUDY_LIST,
    S_STUDY_COUNTS,
    S_BUMP,
    S_ALL,
    S_SINCE,
    S_GET,
    S_BEST,
    S_MAX_ID,
    S_BUDGET,
    S_PICK,
    S_INSERT,
    S_CLAIM,
    S_STATE_OF,
    S_FINISH,
    S_OUTPUT,
    S_RUNNING,
    S_LOST,
    S_RENEW,
    S_ABANDON,
    N_STMT
};

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
                 " AND state IN (1, 2, 3)",
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
                 " WHERE study = ?1 AND id = ?2 AND state NOT IN (2, 3)",
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
};

/* Column numbers of RECORD_COLS (+ RECORD_OUTPUT). */
enum {
    C_ID,
    C_STATE,
    C_LOSS,
    C_STATUS,
    C_PARAMS,
    C_POINT,
    C_RESULT,
    C_ERROR,
    C_QUEUED,
    C_STARTED,
    C_FINISHED,
    C_HOST,
    C_PID,
    C_START,
    C_LEASE,
    C_ATTEMPTS,
    C_STDOUT,
    C_STDERR
};

/* -------------------------------------------------------------- handles */

/* The current study of a handle. */
typedef struct binding {
    int64_t rowid;      /* studies.id; 0: none */
    char *name;         /* owned */
    char *space_json;   /* owned, canonical */
    char *sampler;      /* owned, canonical */
    char *options_json; /* owned, canonical ("{}" for none) */
    uint64_t seed;
    double created_at; /* Unix seconds */
    int created_now;
    pz_study *study; /* owned; equal to the file up to 'seq' */
    int64_t seq;     /* last studies.seq applied to 'study' */
    double *row;     /* n_params scratch values */
    size_t n_params;
} binding;

/* A trial a write transaction changed, applied to the study on commit. */
typedef struct change {
    int64_t id;
    pz_trial_state state;
    double loss; /* as the study records it */
    bool added;  /* new in the study (else an existing trial's state) */
} change;

struct pz_store {
    sqlite3 *db;
    char *path;                /* owned copy */
    sqlite3_stmt *st[N_STMT];  /* prepared at open */
    char host[256];            /* owner identity of this handle */
    int64_t pid, start, token; /* start: /proc start time, 0 unknown */
    double lease_s;            /* lease of the trials it starts */
    bool started_any;          /* asked at least once (close abandons) */
    binding cur;               /* current study */
    int64_t txn_seq;           /* seq of the open write txn, 0: none */
    change *changes;           /* of the open write txn */
    size_t n_changes, cap_changes;
};

/* ------------------------------------------------------------- helpers */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The one place SQLite codes become pz codes; 'err' gets the message of
 * the connection (call before any rollback, which would reset it). */
static int store_fail(const pz_store *s, int rc, pz_error *err)
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
static int stored_fail(pz_error *err, int rc, int ctx)
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
static sqlite3_stmt *stmt(pz_store *s, int which)
{
    sqlite3_stmt *q = s->st[which];
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    return q;
}

/* Step a statement that returns no rows (or whose rows are ignored). */
static int step_done(pz_store *s, sqlite3_stmt *q, pz_error *err)
{
    int rc = sqlite3_step(q);
    while (rc == SQLITE_ROW) {
        rc = sqlite3_step(q);
    }
    int out = rc == SQLITE_DONE ? PZ_OK : store_fail(s, rc, err);
    sqlite3_reset(q);
    return out;
}

static int run(pz_store *s, int which, pz_error *err)
{
    return step_done(s, stmt(s, which), err);
}

/* Bind helpers: NaN is NULL, text and blobs are static (the statement is
 * stepped and reset before the caller's buffers change). */
static void bind_real(sqlite3_stmt *q, int i, double v)
{
    if (isnan(v)) {
        sqlite3_bind_null(q, i);
    } else {
        sqlite3_bind_double(q, i, v);
    }
}

static void bind_text(sqlite3_stmt *q, int i, const char *text)
{
    if (text == NULL) {
        sqlite3_bind_null(q, i);
    } else {
        sqlite3_bind_text(q, i, text, -1, SQLITE_STATIC);
    }
}

static void bind_blob(sqlite3_stmt *q, int i, const char *p, size_t n)
{
    if (p == NULL) {
        sqlite3_bind_null(q, i);
    } else {
        sqlite3_bind_blob64(q, i, n ? p : "", (sqlite3_uint64)n, SQLITE_STATIC);
    }
}

static double col_real(sqlite3_stmt *q, int i)
{
    return sqlite3_column_type(q, i) == SQLITE_NULL
               ? (double)NAN
               : sqlite3_column_double(q, i);
}

static const char *col_text(sqlite3_stmt *q, int i)
{
    return (const char *)sqlite3_column_text(q, i);
}

static char *dup_text(sqlite3_stmt *q, int i)
{
    const char *t = col_text(q, i);
    return pz__strdup(t ? t : "");
}

/* ---------------------------------------------------------- transactions */

static int begin_write(pz_store *s, pz_error *err)
{
    s->txn_seq = 0;
    s->n_changes = 0;
    return run(s, S_BEGIN_W, err);
}

static int begin_read(pz_store *s, pz_error *err)
{
    return run(s, S_BEGIN_R, err);
}

/* Commit if 'rc' is PZ_OK, else roll back; returns the outcome. */
static int end_txn(pz_store *s, int rc, pz_error *err)
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
static int txn_seq(pz_store *s, int64_t *seq, pz_error *err)
{
    if (s->txn_seq == 0) {
        sqlite3_stmt *q = stmt(s, S_BUMP);
        sqlite3_bind_int64(q, 1, s->cur.rowid);
        int rc = sqlite3_step(q);
        if (rc != SQLITE_ROW) {
            rc = store_fail(s, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc, err);
            sqlite3_reset(q);
            return rc;
        }
        s->txn_seq = sqlite3_column_int64(q, 0);
        sqlite3_reset(q);
    }
    *seq = s->txn_seq;
    return PZ_OK;
}

static int note_change(pz_store *s, int64_t id, pz_trial_state state,
                       double loss, bool added, pz_error *err)
{
    if (pz__grow((void **)&s->changes, &s->cap_changes, s->n_changes + 1,
                 sizeof *s->changes) != PZ_OK) {
        return pz__fail(err, PZ_ENOMEM, "out of memory");
    }
    s->changes[s->n_changes++] = (change){id, state, loss, added};
    return PZ_OK;
}

/* -------------------------------------------------------------- values */

/* Free text from json_dumps with jansson's own free function: the
 * embedding program may have set its allocators (json_set_alloc_funcs). */
static void json_text_free(char *s)
{
    json_free_t jfree = NULL;
    json_get_alloc_funcs(NULL, &jfree);
    if (s != NULL) {
        (jfree ? jfree : free)(s);
    }
}

/* The loss the study records for a stored outcome (see pz_study_tell):
 * a DONE trial's pz_trial_loss; NaN for the others (the history gives
 * pending trials +inf itself). */
static double study_loss(pz_trial_state state, const char *status, double loss)
{
    return state == PZ_TRIAL_DONE ? pz_trial_loss(state, status, loss)
                                  : (double)NAN;
}

static bool int_valued(pz_dist d)
{
    return d == PZ_CHOICE || d == PZ_PCHOICE || d == PZ_RANDINT ||
           d == PZ_UNIFORMINT;
}

/* {label: value} of the active parameters (NaN is inactive), compact;
 * transferred (pz__free_str). */
static int params_to_json(const pz_space *sp, const double *values, char **out,
                          pz_error *err)
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
static int params_from_json(const pz_space *sp, int64_t id, const char *text,
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

/* ---------------------------------------------------------------- owner */

/* Start time (clock ticks since boot) and whether the process is a
 * zombie, from /proc/<pid>/stat; false when unreadable. */
static bool proc_stat(int64_t pid, int64_t *start, bool *zombie)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%lld/stat", (long long)pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f != NULL) {
        fclose(f);
    }
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold anything */
    if (p == NULL || p[1] != ' ') {
        return false;
    }
    *zombie = p[2] == 'Z' || p[2] == 'X';
    /* Field 3 is the state; the start time is field 22. */
    for (int field = 3; field < 22 && p != NULL; field++) {
        p = strchr(p + 1, ' ');
    }
    *start = p ? strtoll(p + 1, NULL, 10) : 0;
    return p != NULL;
}

/* Does process 'pid' that started at 'start' (0: unknown) still run? */
static bool owner_alive(int64_t pid, int64_t start)
{
    if (pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno != EPERM)) {
        return false;
    }
    int64_t now_start = 0;
    bool zombie = false;
    if (!proc_stat(pid, &now_start, &zombie)) {
        return true; /* no /proc: trust kill() */
    }
    return !zombie && (start == 0 || now_start == start);
}

static void owner_init(pz_store *s)
{
    if (gethostname(s->host, sizeof s->host) != 0) {
        strcpy(s->host, "localhost");
    }
    s->host[sizeof s->host - 1] = '\0';
    s->pid = (int64_t)getpid();
    bool zombie;
    if (!proc_stat(s->pid, &s->start, &zombie)) {
        s->start = 0;
    }
    sqlite3_randomness(sizeof s->token, &s->token);
    s->lease_s = DEFAULT_LEASE_S;
}

/* Why a RUNNING trial owned by (host, pid, start, lease) is lost, or
 * NULL-equivalent (false) when its owner may still run it. */
static bool lost_reason(const pz_store *s, const char *host, int64_t pid,
                        int64_t start, double lease, char *why, size_t n)
{
    if (host != NULL && strcmp(host, s->host) == 0) {
        if (owner_alive(pid, start)) {
            return false;
        }
        snprintf(why, n, "lost: its owner (pid %lld on %s) is gone",
                 (long long)pid, host);
        return true;
    }
    if (!isnan(lease) && lease >= now_s()) {
        return false;
    }
    snprintf(why, n, "lost: the lease of its owner (pid %lld on %s) expired",
             (long long)pid, host ? host : "an unknown host");
    return true;
}

/* ------------------------------------------------------------ open/close */

static int exec_sql(pz_store *s, const char *sql, pz_error *err)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? PZ_OK : store_fail(s, rc, err);
}

/* One integer from a one-off query ("PRAGMA user_version"). */
static int query_int(pz_store *s, const char *sql, int64_t *out, pz_error *err)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(q);
    }
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(q, 0);
        rc = SQLITE_OK;
    }
    int out_rc = rc == SQLITE_OK ? PZ_OK : store_fail(s, rc, err);
    sqlite3_finalize(q);
    return out_rc;
}

/* WAL mode, with a retry: when several processes open a new file at
 * once, the switch to WAL needs an exclusive lock for which SQLite does
 * not call the busy handler. On a file system without shared memory
 * SQLite keeps its journal mode; the store then works one process at a
 * time. */
static int set_wal(pz_store *s, pz_error *err)
{
    int rc;
    for (int waited_ms = 0;; waited_ms += 2) {
        rc = sqlite3_exec(s->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
        if ((rc & 0xff) != SQLITE_BUSY || waited_ms >= BUSY_TIMEOUT_MS) {
            break;
        }
        sqlite3_sleep(2);
    }
    if (rc != SQLITE_OK) {
        return store_fail(s, rc, err);
    }
    return exec_sql(s, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON",
                    err);
}

static int open_db(pz_store *s, unsigned flags, pz_error *err)
{
    int oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    if (flags & PZ_STORE_CREATE) {
        oflags |= SQLITE_OPEN_CREATE;
    }
    int rc = sqlite3_open_v2(s->path, &s->db, oflags, NULL);
    if (rc != SQLITE_OK) {
        return store_fail(s, rc, err);
    }
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    return set_wal(s, err);
}

/* Is this file ours, and at which schema version? Inside a write txn. */
static int schema_version(pz_store *s, int64_t *version, pz_error *err)
{
    int64_t app = 0, n_tables = 0;
    int rc = query_int(s, "PRAGMA application_id", &app, err);
    if (rc == PZ_OK) {
        rc = query_int(s, "PRAGMA user_version", version, err);
    }
    if (rc == PZ_OK) {
        rc = query_int(s, "SELECT count(*) FROM sqlite_schema", &n_tables, err);
    }
    if (rc != PZ_OK) {
        return rc;
    }
    if ((app != 0 && app != APP_ID) || (app == 0 && n_tables > 0)) {
        return pz__fail(err, PZ_ESTORE,
                        "%s: not a parzen store (an SQLite file of another "
                        "program)",
                        s->path);
    }
    if (*version > SCHEMA_VERSION) {
        return pz__fail(err, PZ_ESTORE,
                        "%s: written by a newer parzen (schema %lld, this "
                        "one knows up to %d)",
                        s->path, (long long)*version, SCHEMA_VERSION);
    }
    return PZ_OK;
}

static int apply_migration(pz_store *s, const migration *m, pz_error *err)
{
    int rc = exec_sql(s, m->sql, err);
    char *sql = sqlite3_mprintf(
        "INSERT INTO migrations VALUES (%d, %.17g, %Q);"
        "PRAGMA user_version = %d; PRAGMA application_id = %d",
        m->version, now_s(), m->description, m->version, APP_ID);
    if (sql == NULL) {
        return pz__fail(err, PZ_ENOMEM, "out of memory");
    }
    if (rc == PZ_OK) {
        rc = exec_sql(s, sql, err);
    }
    sqlite3_free(sql);
    return rc;
}

static int migrate(pz_store *s, pz_error *err)
{
    int64_t version = 0;
    int rc = query_int(s, "PRAGMA user_version", &version, err);
    if (rc == PZ_OK && version == SCHEMA_VERSION) {
        return schema_version(s, &version, err); /* the common case */
    }
    if (rc == PZ_OK) {
        rc = exec_sql(s, "BEGIN IMMEDIATE", err);
    }
    if (rc == PZ_OK) {
        rc = schema_version(s, &version, err);
    }
    for (size_t i = 0; rc == PZ_OK && i < N_MIGRATIONS; i++) {
        if (migrations[i].version > version) {
            rc = apply_migration(s, &migrations[i], err);
        }
    }
    if (rc == PZ_OK) {
        return exec_sql(s, "COMMIT", err);
    }
    if (!sqlite3_get_autocommit(s->db)) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    }
    return rc;
}

static int prepare_all(pz_store *s, pz_error *err)
{
    for (int i = 0; i < N_STMT; i++) {
        int rc = sqlite3_prepare_v3(s->db, sql_text[i], -1,
                                    SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL);
        if (rc != SQLITE_OK) {
            return store_fail(s, rc, err);
        }
    }
    return PZ_OK;
}

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
    owner_init(s);
    int rc = open_db(s, flags, err);
    if (rc == PZ_OK) {
        rc = migrate(s, err);
    }
    if (rc == PZ_OK) {
        rc = prepare_all(s, err);
    }
    if (rc != PZ_OK) {
        pz_store_close(s);
        return rc;
    }
    *out = s;
    return PZ_OK;
}

static void binding_fini(binding *b)
{
    pz__free_str(b->name);
    pz__free_str(b->space_json);
    pz__free_str(b->sampler);
    pz__free_str(b->options_json);
    pz_study_free(b->study);
    pz__free(b->row, b->n_params * sizeof *b->row);
    memset(b, 0, sizeof *b);
}

/* Mark what this handle still runs as CANCEL: nobody will tell it. */
static void abandon_running(pz_store *s)
{
    if (!s->started_any || s->cur.rowid == 0) {
        return;
    }
    int64_t seq = 0;
    int rc = begin_write(s, NULL);
    if (rc == PZ_OK) {
        rc = txn_seq(s, &seq, NULL);
    }
    if (rc == PZ_OK) {
        sqlite3_stmt *q = stmt(s, S_ABANDON);
        sqlite3_bind_int64(q, 1, s->cur.rowid);
        bind_text(q, 2, "abandoned: the store was closed while it ran");
        sqlite3_bind_double(q, 3, now_s());
        sqlite3_bind_int64(q, 4, seq);
        sqlite3_bind_int64(q, 5, s->token);
        rc = step_done(s, q, NULL);
    }
    end_txn(s, rc, NULL);
}

void pz_store_close(pz_store *s)
{
    if (s == NULL) {
        return;
    }
    if (s->db != NULL && s->st[N_STMT - 1] != NULL) {
        abandon_running(s);
    }
    for (int i = 0; i < N_STMT; i++) {
        sqlite3_finalize(s->st[i]);
    }
    sqlite3_close(s->db);
    binding_fini(&s->cur);
    pz__free(s->changes, s->cap_changes * sizeof *s->changes);
    pz__free_str(s->path);
    pz__free(s, sizeof *s);
}

const char *pz_store_path(const pz_store *s)
{
    return s->path;
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
        rc = params_from_json(sp, id, params, b->row, err);
        if (rc == PZ_OK) {
            rc = pz_study_add(b->study, id, b->row, state, loss, err);
        }
    }
    if (rc == PZ_EINVAL) {
        rc = stored_fail(err, rc,
                         pz__fail_context(err, PZ_ESTORE, "stored trial %lld",
                                          (long long)id));
    }
    return rc;
}

/* Apply every row changed after 'b->seq', in commit order. */
static int sync_rows(pz_store *s, binding *b, pz_error *err)
{
    sqlite3_stmt *q = stmt(s, S_SINCE);
    sqlite3_bind_int64(q, 1, b->rowid);
    sqlite3_bind_int64(q, 2, b->seq);
    int rc, out = PZ_OK;
    while (out == PZ_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        pz_trial_state state = (pz_trial_state)sqlite3_column_int(q, 1);
        double loss = study_loss(state, col_text(q, 3), col_real(q, 2));
        out = apply_row(b, sqlite3_column_int64(q, 0), state, loss,
                        col_text(q, 4), err);
        if (out == PZ_OK) {
            b->seq = sqlite3_column_int64(q, 5);
        }
    }
    if (out == PZ_OK && rc != SQLITE_DONE) {
        out = store_fail(s, rc, err);
    }
    sqlite3_reset(q);
    return out;
}

/* After a commit: the transaction's own changes, then its seq. */
static int apply_changes(pz_store *s, const double *values, pz_error *err)
{
    for (size_t i = 0; i < s->n_changes; i++) {
        const change *c = &s->changes[i];
        int rc = c->added ? pz_study_add(s->cur.study, c->id, values, c->state,
                                         c->loss, err)
                          : pz_study_tell(s->cur.study, c->id, c->state,
                                          c->loss, err);
        if (rc != PZ_OK) { /* the next sync applies it again */
            /* Committed rows the study cannot take: the file contradicts
             * itself (damaged pages or indexes). */
            return stored_fail(err, rc,
                               pz__fail_context(err, PZ_ESTORE,
                                                "%s: the file is damaged",
                                                s->path));
        }
    }
    if (s->txn_seq > s->cur.seq) {
        s->cur.seq = s->txn_seq;
    }
    return PZ_OK;
}

static int need_study(const pz_store *s, pz_error *err)
{
    if (s->cur.rowid == 0) {
        return pz__fail(err, PZ_EINVAL, "%s: no study opened", s->path);
    }
    return PZ_OK;
}

int pz_store_sync(pz_store *s, pz_error *err)
{
    int rc = need_study(s, err);
    if (rc == PZ_OK) {
        rc = begin_read(s, err);
        if (rc == PZ_OK) {
            rc = end_txn(s, sync_rows(s, &s->cur, err), err);
        }
    }
    return rc;
}

/* ----------------------------------------------------------------- lost */

typedef struct lost_trial {
    int64_t id;
    char why[200];
} lost_trial;

typedef struct lost_list {
    lost_trial *v;
    size_t n, cap;
} lost_list;

/* Collect the lost RUNNING trials of the current study. */
static int find_lost(pz_store *s, lost_list *l, pz_error *err)
{
    sqlite3_stmt *q = stmt(s, S_RUNNING);
    sqlite3_bind_int64(q, 1, s->cur.rowid);
    int rc, out = PZ_OK;
    char why[200];
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (!lost_reason(s, col_text(q, 1), sqlite3_column_int64(q, 2),
                         sqlite3_column_int64(q, 3), col_real(q, 4), why,
                         sizeof why)) {
            continue;
        }
        if (pz__grow((void **)&l->v, &l->cap, l->n + 1, sizeof *l->v) !=
            PZ_OK) {
            out = pz__fail(err, PZ_ENOMEM, "out of memory");
            break;
        }
        l->v[l->n].id = sqlite3_column_int64(q, 0);
        memcpy(l->v[l->n++].why, why, sizeof why);
    }
    if (out == PZ_OK && rc != SQLITE_DONE) {
        out = store_fail(s, rc, err);
    }
    sqlite3_reset(q);
    return out;
}

static int mark_one(pz_store *s, const lost_trial *t, int64_t seq,
                    pz_error *err)
{
    sqlite3_stmt *q = stmt(s, S_LOST);
    sqlite3_bind_int64(q, 1, s->cur.rowid);
    sqlite3_bind_int64(q, 2, t->id);
    bind_text(q, 3, t->why);
    sqlite3_bind_double(q, 4, now_s());
    sqlite3_bind_int64(q, 5, seq);
    int rc = step_done(s, q, err);
    return rc == PZ_OK
               ? note_change(s, t->id, PZ_TRIAL_CANCEL, (double)NAN, false, err)
               : rc;
}

/* Inside a write txn: mark lost trials CANCEL. */
static int mark_lost_rows(pz_store *s, size_t *n_marked, pz_error *err)
{
    lost_list l = {0};
    int64_t seq = 0;
    int rc = find_lost(s, &l, err);
    if (rc == PZ_OK && l.n > 0) {
        rc = txn_seq(s, &seq, err);
    }
    for (size_t i = 0; rc == PZ_OK && i < l.n; i++) {
        rc = mark_one(s, &l.v[i], seq, err);
    }
    if (n_marked != NULL) {
        *n_marked = rc == PZ_OK ? l.n : 0;
    }
    pz__free(l.v, l.cap * sizeof *l.v);
    return rc;
}

int pz_store_mark_lost(pz_store *s, size_t *n_marked, pz_error *err)
{
    if (n_marked != NULL) {
        *n_marked = 0;
    }
    int rc = need_study(s, err);
    if (rc != PZ_OK || (rc = begin_write(s, err)) != PZ_OK) {
        return rc;
    }
    rc = sync_rows(s, &s->cur, err);
    if (rc == PZ_OK) {
        rc = mark_lost_rows(s, n_marked, err);
    }
    rc = end_txn(s, rc, err);
    return rc == PZ_OK ? apply_changes(s, NULL, err) : rc;
}

void pz_store_set_lease(pz_store *s, double seconds)
{
    if (seconds > 0 && isfinite(seconds)) {
        s->lease_s = seconds;
    }
}

int pz_store_renew(pz_store *s, pz_error *err)
{
    int rc = need_study(s, err);
    if (rc == PZ_OK) {
        sqlite3_stmt *q = stmt(s, S_RENEW);
        sqlite3_bind_int64(q, 1, s->cur.rowid);
        sqlite3_bind_double(q, 2, now_s() + s->lease_s);
        sqlite3_bind_int64(q, 3, s->token);
        rc = step_done(s, q, err);
    }
    return rc;
}

/* ---------------------------------------------------------------- study */

/* Apply a JSON object of numeric sampler options to 'study'. */
static int apply_options(pz_study *study, const char *options, pz_error *err)
{
    /* zeroed: jansson leaves its error code unset on some failures */
    json_error_t je = {0};
    json_t *obj = json_loads(options, 0, &je);
    if (obj == NULL && pz__json_check_oom(&je, options, strlen(options))) {
        return pz__fail(err, PZ_ENOMEM, "out of memory");
    }
    if (!json_is_object(obj)) {
        json_decref(obj);
        return pz__fail(err, PZ_EINVAL,
                        "sampler options must be a JSON object of numbers");
    }
    const char *key;
    json_t *v;
    int rc = PZ_OK;
    json_object_foreach(obj, key, v)
    {
        if (!json_is_number(v)) {
            rc = pz__fail(err, PZ_EINVAL,
                          "sampler option '%s' is not a "
                          "number",
                          key);
            break;
        }
        if ((rc = pz_study_set_option(study, key, json_number_value(v), err)) !=
            PZ_OK) {
            break;
        }
    }
    json_decref(obj);
    return rc;
}

/* A study on the space 'space_json' with the sampler, options and seed. */
static int build_study(const char *space_json, const char *sampler,
                       const char *options, uint64_t seed, pz_study **out,
                       pz_error *err)
{
    pz_space *sp = NULL;
    *out = NULL;
    int rc = pz_space_from_json(&sp, space_json, strlen(space_json), err);
    if (rc == PZ_OK) {
        rc = pz_study_new(out, sp, err);
    }
    pz_space_free(sp);
    if (rc == PZ_OK) {
        rc = pz_study_set_sampler(*out, sampler, err);
    }
    if (rc == PZ_OK) {
        rc = apply_options(*out, options, err);
    }
    if (rc != PZ_OK) {
        pz_study_free(*out);
        *out = NULL;
        return rc;
    }
    pz_study_set_seed(*out, seed);
    return PZ_OK;
}

/* Options in canonical form: sorted keys, compact; transferred. */
static int canon_options(const char *options, char **out, pz_error *err)
{
    /* zeroed: jansson leaves its error code unset on some failures */
    json_error_t je = {0};
    const char *given = options ? options : "{}";
    json_t *obj = json_loads(given, 0, &je);
    bool is_object = json_is_object(obj);
    if (obj == NULL && pz__json_check_oom(&je, given, strlen(given))) {
        return pz__fail(err, PZ_ENOMEM, "out of memory");
    }
    char *text = is_object ? json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS |
                                                 JSON_REAL_PRECISION(17))
                           : NULL;
    json_decref(obj);
    *out = text ? pz__strdup(text) : NULL;
    json_text_free(text);
    if (*out == NULL) {
        return pz__fail(err, is_object ? PZ_ENOMEM : PZ_EINVAL,
                        "sampler options must be a JSON object of numbers");
    }
    return PZ_OK;
}

/* Canonical settings from 'cfg' into 'b' (validated by building a study
 * on them). */
static int want_config(const pz_study_config *cfg, binding *b, pz_error *err)
{
    if (cfg->space_json == NULL || cfg->sampler == NULL) {
        return pz__fail(err, PZ_EINVAL,
                        "study config needs a space and a "
                        "sampler");
    }
    int rc = canon_options(cfg->options_json, &b->options_json, err);
    if (rc == PZ_OK) {
        rc = build_study(cfg->space_json, cfg->sampler, b->options_json,
                         cfg->seed, &b->study, err);
    }
    if (rc == PZ_OK) {
        rc = pz_space_to_json(pz_study_space(b->study), &b->space_json, err);
    }
    if (rc == PZ_OK &&
        (b->sampler = pz__strdup(pz_study_sampler(b->study))) == NULL) {
        rc = pz__fail(err, PZ_ENOMEM, "out of memory");
    }
    pz_study_free(b->study);
    b->study = NULL;
    b->seed = cfg->seed;
    return rc;
}

/* The stored space in canonical form, to compare with a wanted one. */
static int canon_space(const char *json, char **out, pz_error *err)
{
    pz_space *sp = NULL;
    int rc = pz_space_from_json(&sp, json, strlen(json), err);
    if (rc == PZ_OK) {
        rc = pz_space_to_json(sp, out, err);
    }
    pz_space_free(sp);
    return rc;
}

static int check_same_space(const pz_store *s, const binding *want,
                            const char *stored, pz_error *err)
{
    char *canon = NULL;
    int rc = canon_space(stored, &canon, err);
    if (rc != PZ_OK) {
        return stored_fail(err, rc,
                           pz__fail_context(err, PZ_ESTORE, "%s: study '%s'",
                                            s->path, want->name));
    }
    bool same = strcmp(canon, want->space_json) == 0;
    pz__free_str(canon);
    if (!same) {
        return pz__fail(err, PZ_EINVAL,
                        "study '%s' in '%s' has a different space (a new "
                        "space needs a new study name)",
                        want->name, s->path);
    }
    return PZ_OK;
}

/* Does the stored row of S_STUDY_GET match what 'cfg' insists on? */
static int check_same(const pz_store *s, sqlite3_stmt *q, const binding *want,
                      unsigned flags, pz_error *err)
{
    const char *space = col_text(q, 1), *sampler = col_text(q, 2),
               *options = col_text(q, 3);
    if (space == NULL || sampler == NULL || options == NULL) {
        return pz__fail(err, PZ_ESTORE,
                        "%s: study '%s' has no stored space, sampler or "
                        "options (the file is damaged)",
                        s->path, want->name);
    }
    int rc = check_same_space(s, want, space, err);
    if (rc == PZ_OK && !(flags & PZ_STUDY_DEFAULT_SAMPLER) &&
        (strcmp(sampler, want->sampler) != 0 ||
         strcmp(options, want->options_json) != 0)) {
        rc = pz__fail(err, PZ_EINVAL,
                      "study '%s' in '%s' uses sampler '%s' with options "
                      "%s, not '%s' with %s",
                      want->name, s->path, sampler, options, want->sampler,
                      want->options_json);
    }
    uint64_t seed = (uint64_t)sqlite3_column_int64(q, 4);
    if (rc == PZ_OK && !(flags & PZ_STUDY_DEFAULT_SEED) && seed != want->seed) {
        rc = pz__fail(err, PZ_EINVAL,
                      "study '%s' in '%s' has seed %llu, not %llu", want->name,
                      s->path, (unsigned long long)seed,
                      (unsigned long long)want->seed);
    }
    return rc;
}

/* Take the stored settings of the S_STUDY_GET row into 'b'. */
static int take_stored(sqlite3_stmt *q, binding *b, pz_error *err)
{
    pz__free_str(b->space_json);
    pz__free_str(b->sampler);
    pz__free_str(b->options_json);
    b->rowid = sqlite3_column_int64(q, 0);
    b->space_json = dup_text(q, 1);
    b->sampler = dup_text(q, 2);
    b->options_json = dup_text(q, 3);
    b->seed = (uint64_t)sqlite3_column_int64(q, 4);
    b->created_at = sqlite3_column_double(q, 5);
    b->seq = sqlite3_column_int64(q, 6);
    if (!b->space_json || !b->sampler || !b->options_json) {
        return pz__fail(err, PZ_ENOMEM, "out of memory");
    }
    return PZ_OK;
}

static int insert_study(pz_store *s, binding *b, pz_error *err)
{
    sqlite3_stmt *q = stmt(s, S_STUDY_INSERT);
    b->created_at = now_s();
    bind_text(q, 1, b->name);
    bind_text(q, 2, b->space_json);
    bind_text(q, 3, b->sampler);
    bind_text(q, 4, b->options_json);
    sqlite3_bind_int64(q, 5, (sqlite3_int64)b->seed);
    sqlite3_bind_double(q, 6, b->created_at);
    int rc = step_done(s, q, err);
    if (rc == PZ_OK) {
        b->rowid = sqlite3_last_insert_rowid(s->db);
        b->created_now = 1;
        b->seq = 0;
    }
    return rc;
}

/* Inside a txn: find study 'b->name', check it against 'cfg', or create
 * it from 'b' when 'cfg' is given. */
static int find_or_create(pz_store *s, binding *b, const pz_study_config *cfg,
                          pz_error *err)
{
    sqlite3_stmt *q = stmt(s, S_STUDY_GET);
    bind_text(q, 1, b->name);
    int rc = sqlite3_step(q);
    int out = PZ_OK;
    if (rc == SQLITE_ROW) {
        if (cfg != NULL) {
            out = check_same(s, q, b, cfg->flags, err);
        }
        if (out == PZ_OK) {
            out = take_stored(q, b, err);
        }
    } else if (rc != SQLITE_DONE) {
        out = store_fail(s, rc, err);
    } else if (cfg == NULL) {
        out = pz__fail(err, PZ_ENOTFOUND, "no study '%s' in '%s'", b->name,
                       s->path);
    }
    sqlite3_reset(q);
    if (out == PZ_OK && rc == SQLITE_DONE) {
        out = insert_study(s, b, err);
    }
    return out;
}

/* Add every stored trial to b->study in id order (the order samplers
 * read the history in). Rows up to b->seq: inside the same txn. */
static int load_rows(pz_store *s, binding *b, pz_error *err)
{
    sqlite3_stmt *q = stmt(s, S_ALL);
    sqlite3_bind_int64(q, 1, b->rowid);
    const pz_space *sp = pz_study_space(b->study);
    int rc, out = PZ_OK;
    while (out == PZ_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(q, C_ID);
        pz_trial_state state = (pz_trial_state)sqlite3_column_int(q, C_STATE);
        double loss =
            study_loss(state, col_text(q, C_STATUS), col_real(q, C_LOSS));
        out = params_from_json(sp, id, col_text(q, C_PARAMS), b->row, err);
        if (out == PZ_OK) {
            out = pz_study_add(b->study, id, b->row, state, loss, err);
        }
        if (out == PZ_EINVAL) {
            out = stored_fail(err, out,
                              pz__fail_context(err, PZ_ESTORE,
                                               "stored trial %lld",
                                               (long long)id));
        }
    }
    if (out == PZ_OK && rc != SQLITE_DONE) {
        out = store_fail(s, rc, err);
    }
    sqlite3_reset(q);
    return out;
}

/* Build b->study from its stored settings and add every stored trial. */
static int load_study(pz_store *s, binding *b, pz_error *err)
{
    int rc = build_study(b->space_json, b->sampler, b->options_json, b->seed,
                         &b->study, err);
    if (rc != PZ_OK) {
        return stored_fail(err, rc,
                           pz__fail_context(err, PZ_ESTORE, "%s: study '%s'",
                                            s->path, b->name));
    }
    b->n_params = pz_space_size(pz_study_space(b->study));
    b->row = pz__calloc(b->n_params ? b->n_params : 1, sizeof *b->row);
    b->n_params = b->n_params ? b->n_params : 1;
    if (b->row == NULL) {
        return pz__fail(err, PZ_ENOMEM, "out of memory");
    }
    return load_rows(s, b, err);
}

int pz_store_open_study(pz_store *s, const char *name,
                        const pz_study_config *cfg, pz_error *err)
{
    if (name == NULL || name[0] == '\0') {
        return pz__fail(err, PZ_EINVAL, "study name is empty");
    }
    binding b = {0};
    int rc = (b.name = pz__strdup(name)) ? PZ_OK : PZ_ENOMEM;
    if (rc != PZ_OK) {
        pz__fail(err, rc, "out of memory");
    }
    if (rc == PZ_OK && cfg != NULL) {
        rc = want_config(cfg, &b, err);
    }
    if (rc == PZ_OK) {
        rc = cfg ? begin_write(s, err) : begin_read(s, err);
        if (rc == PZ_OK) {
            rc = find_or_create(s, &b, cfg, err);
            rc = rc == PZ_OK ? load_study(s, &b, err) : rc;
            rc = end_txn(s, rc, err);
        }
    }
    if (rc != PZ_OK) {
        binding_fini(&b);
        return rc;
    }
    abandon_running(s);
    binding_fini(&s->cur);
    s->cur = b;
    s->started_any = false;
    return PZ_OK;
}

pz_study *pz_store_study(pz_store *s)
{
    return s->cur.study;
}

int pz_store_study_info_get(const pz_store *s, pz_store_study_info *info,
                            pz_error *err)
{
    int rc = need_study(s, err);
    if (rc == PZ_OK) {
        *info = (pz_store_study_info){
            .name = s->cur.name,
            .space_json = s->cur.space_json,
            .sampler = s->cur.sampler,
            .options_json = s->cur.options_json,
            .seed = s->cur.seed,
            .created_at = s->cur.created_at,
            .created_now = s->cur.created_now,
        };
    }
    return rc;
}

static int stopped(int rc, pz_error *err)
{
    return pz__fail(err, rc, "walk stopped by the callback (%d)", rc);
}

/* Trial counts and best loss of study 'rowid' into 'sum'. */
static int study_counts(pz_store *s, int64_t rowid, pz_store_study_summary *sum,
                        pz_error *err)
{
    sqlite3_stmt *q = stmt(s, S_STUDY_COUNTS);
    sqlite3_bind_int64(q, 1, rowid);
    sum->best_loss = (double)NAN;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        int state = sqlite3_column_int(q, 0);
        if (state >= 0 && state < 5) {
            sum->n_state[state] = (size_t)sqlite3_column_int64(q, 1);
        }
        if (state == PZ_TRIAL_DONE) {
            sum->best_loss = col_real(q, 2);
        }
    }
    int out = rc == SQLITE_DONE ? PZ_OK : store_fail(s, rc, err);
    sqlite3_reset(q);
    return out;
}

static int walk_studies(pz_store *s, pz_store_study_fn fn, void *ud,
                        pz_error *err)
{
    sqlite3_stmt *q = stmt(s, S_STUDY_LIST);
    int rc, out = PZ_OK;
    while (out == PZ_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        pz_store_study_summary sum = {
            .name = col_text(q, 1),
            .sampler = col_text(q, 2),
            .seed = (uint64_t)sqlite3_column_int64(q, 3),
            .created_at = sqlite3_column_double(q, 4),
        };
        if (sum.name == NULL || sum.sampler == NULL) { /* NOT NULL columns */
            out = pz__fail(err, PZ_ESTORE,
                           "%s: a study has no name or sampler (the file is "
                           "damaged)",
                           s->path);
            break;
        }
        out = study_counts(s, sqlite3_column_int64(q, 0), &sum, err);
        if (out == PZ_OK && (out = fn(&sum, ud)) != 0) {
            out = stopped(out, err);
        }
    }
    if (out == PZ_OK && rc != SQLITE_DONE) {
        out = store_fail(s, rc, err);
    }
    sqlite3_reset(q);
    return out;
}

int pz_store_each_study(pz_store *s, pz_store_study_fn fn, void *ud,
                        pz_error *err)
{
    int rc = begin_read(s, err);
    if (rc == PZ_OK) {
        rc = end_txn(s, walk_studies(s, fn, ud, err), err);
    }
    return rc;
}

/* ------------------------------------------------------------------ ask */

static int count_budget(pz_store *s, size_t *n, pz_error *err)
{
    sqlite3_stmt *q = stmt(s, S_BUDGET);
    sqlite3_bind_int64(q, 1, s->cur.rowid);
    int rc = sqlite3_step(q);
    *n = rc == SQLITE_ROW ? (size_t)sqlite3_column_int64(q, 0) : 0;
    int out = rc == SQLITE_ROW ? PZ_OK : store_fail(s, rc, err);
    sqlite3_reset(q);
    return out;
}

/* The oldest queued (NEW) trial, or with 'retry' the oldest CANCEL one:
 * its id and point, or *id = PZ_NO_TRIAL. */
static int pick_queued(pz_store *s, bool retry, int64_t *id, double *values,
                       pz_error *err)
{
    sqlite3_stmt *q = stmt(s, S_PICK);
    sqlite3_bind_int64(q, 1, s->cur.rowid);
    sqlite3_bind_int(q, 2, retry);
    int rc = sqlite3_step(q), out = PZ_OK;
    *id = PZ_NO_TRIAL;
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(q, 0);
        out = params_from_json(pz_study_space(s->cur.study), *id,
                               col_text(q, 1), values, err);
    } else if (rc != SQLITE_DONE) {
        out = store_fail(s, rc, err);
    }
    sqlite3_reset(q);
    return out;
}

static void bind_owner(pz_store *s, sqlite3_stmt *q, int first, double now)
{
    bind_text(q, first, s->host);
    sqlite3_bind_int64(q, first + 1, s->pid);
    sqlite3_bind_int64(q, first + 2, s->start);
    sqlite3_bind_int64(q, first + 3, s->token);
    sqlite3_bind_double(q, first + 4, now + s->lease_s);
}

static int claim(pz_store *s, int64_t id, int64_t seq, pz_error *err)
{
    sqlite3_stmt *q = stmt(s, S_CLAIM);
    double now = now_s();
    sqlite3_bind_int64(q, 1, s->cur.rowid);
    sqlite3_bind_int64(q, 2, id);
    sqlite3_bind_double(q, 3, now);
    bind_owner(s, q, 4, now);
    sqlite3_bind_int64(q, 9, seq);
    int rc = step_done(s, q, err);
    return rc == PZ_OK
               ? note_change(s, id, PZ_TRIAL_RUNNING, (double)NAN, false, err)
               : rc;
}

static int next_id(pz_store *s, int64_t *id, pz_error *err)
{
    sqlite3_stmt *q = stmt(s, S_MAX_ID);
    sqlite3_bind_int64(q, 1, s->cur.rowid);
    int rc = sqlite3_step(q);
    *id = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : PZ_NO_TRIAL;
    int out = rc == SQLITE_ROW ? PZ_OK : store_fail(s, rc, err);
    sqlite3_reset(q);
    return out;
}

/* Insert trial 'id' with its point, NEW (queued) or RUNNING (owned). */
static int insert_trial(pz_store *s, int64_t id, pz_trial_state state,
                        const double *values, int64_t seq, pz_error *err)
{
    const pz_space *sp = pz_study_space(s->cur.study);
    char *params = NULL, *point = NULL;
    int rc = params_to_json(sp, values, &params, err);
    if (rc == PZ_OK) {
        rc = pz_space_point_json(sp, values, &point, err);
    }
    if (rc == PZ_OK) {
        sqlite3_stmt *q = stmt(s, S_INSERT);
        double now = now_s();
        sqlite3_bind_int64(q, 1, s->cur.rowid);
        sqlite3_bind_int64(q, 2, id);
        sqlite3_bind_int(q, 3, (int)state);
        bind_text(q, 4, params);
        bind_text(q, 5, point);
        sqlite3_bind_double(q, 6, now);
        if (state == PZ_TRIAL_RUNNING) {
            sqlite3_bind_double(q, 7, now);
            bind_owner(s, q, 8, now);
        }
        sqlite3_bind_int(q, 13, state == PZ_TRIAL_RUNNING);
        sqlite3_bind_int64(q, 14, seq);
        rc = step_done(s, q, err);
    }
    pz__free_str(params);
    pz_free(point);
    return rc == PZ_OK ? note_change(s, id, state, (double)NAN, true, err) : rc;
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
    rc = txn_seq(s, &seq, err);
    if (rc == PZ_OK) {
        rc = pick_queued(s, flags & PZ_ASK_RETRY_LOST, id, values, err);
    }
    if (rc != PZ_OK) {
        return rc;
    }
    if (*id != PZ_NO_TRIAL) {
        return claim(s, *id, seq, err);
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
    int rc = need_study(s, err);
    if (rc != PZ_OK || (rc = begin_write(s, err)) != PZ_OK) {
        return rc;
    }
    rc = sync_rows(s, &s->cur, err);
    if (rc == PZ_OK) {
        rc = mark_lost_rows(s, NULL, err);
    }
    if (rc == PZ_OK) {
        rc = ask_in_txn(s, max_trials, flags, &id, values, err);
    }
    rc = end_txn(s, rc, err);
    if (rc == PZ_OK) {
        s->started_any |= id != PZ_NO_TRIAL;
        rc = apply_changes(s, values, err);
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
    int rc = need_study(s, err);
    if (rc == PZ_OK) {
        rc = pz_space_check_point(pz_study_space(s->cur.study), values, err);
    }
    if (rc != PZ_OK || (rc = begin_write(s, err)) != PZ_OK) {
        return rc;
    }
    rc = sync_rows(s, &s->cur, err);
    if (rc == PZ_OK) {
        rc = txn_seq(s, &seq, err);
    }
    if (rc == PZ_OK) {
        rc = next_id(s, &id, err);
    }
    if (rc == PZ_OK) {
        rc = insert_trial(s, id, PZ_TRIAL_NEW, values, seq, err);
    }
    rc = end_txn(s, rc, err);
    if (rc == PZ_OK && (rc = apply_changes(s, values, err)) == PZ_OK) {
        *trial_id = id;
    }
    return rc;
}

/* ----------------------------------------------------------------- tell */

/* State of trial 'id' in the file; PZ_ENOTFOUND when absent. */
static int stored_state(pz_store *s, int64_t id, int *state, pz_error *err)
{
    sqlite3_stmt *q = stmt(s, S_STATE_OF);
    sqlite3_bind_int64(q, 1, s->cur.rowid);
    sqlite3_bind_int64(q, 2, id);
    int rc = sqlite3_step(q), out = PZ_OK;
    if (rc == SQLITE_ROW) {
        *state = sqlite3_column_int(q, 0);
    } else if (rc == SQLITE_DONE) {
        out = pz__fail(err, PZ_ENOTFOUND, "no trial %lld in study '%s'",
                       (long long)id, s->cur.name);
    } else {
        out = store_fail(s, rc, err);
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
    sqlite3_stmt *q = stmt(s, S_OUTPUT);
    sqlite3_bind_int64(q, 1, s->cur.rowid);
    sqlite3_bind_int64(q, 2, id);
    bind_blob(q, 3, res->stdout_tail, res->stdout_len);
    bind_blob(q, 4, res->stderr_tail, res->stderr_len);
    return step_done(s, q, err);
}

static int tell_in_txn(pz_store *s, int64_t id, const pz_trial_result *res,
                       const char *status, pz_error *err)
{
    int state = 0;
    int64_t seq = 0;
    int rc = stored_state(s, id, &state, err);
    if (rc != PZ_OK || state == PZ_TRIAL_DONE || state == PZ_TRIAL_ERROR) {
        return rc; /* the first outcome wins */
    }
    rc = txn_seq(s, &seq, err);
    if (rc == PZ_OK) {
        sqlite3_stmt *q = stmt(s, S_FINISH);
        sqlite3_bind_int64(q, 1, s->cur.rowid);
        sqlite3_bind_int64(q, 2, id);
        sqlite3_bind_int(q, 3, (int)res->state);
        bind_real(q, 4, res->loss);
        bind_text(q, 5, status);
        bind_text(q, 6, res->result_json);
        bind_text(q, 7, res->error);
        sqlite3_bind_double(q, 8, now_s());
        sqlite3_bind_int64(q, 9, seq);
        rc = step_done(s, q, err);
    }
    if (rc == PZ_OK) {
        rc = write_output(s, id, res, err);
    }
    return rc == PZ_OK ? note_change(s, id, res->state,
                                     study_loss(res->state, status, res->loss),
                                     false, err)
                       : rc;
}

int pz_store_tell(pz_store *s, int64_t trial_id, const pz_trial_result *res,
                  pz_error *err)
{
    int rc = need_study(s, err);
    if (rc != PZ_OK) {
        return rc;
    }
    if (res == NULL ||
        (res->state != PZ_TRIAL_DONE && res->state != PZ_TRIAL_ERROR &&
         res->state != PZ_TRIAL_CANCEL)) {
        return pz__fail(err, PZ_EINVAL,
                        "trial %lld: an outcome must be DONE, ERROR or "
                        "CANCEL",
                        (long long)trial_id);
    }
    const char *status = res->status                   ? res->status
                         : res->state == PZ_TRIAL_DONE ? "ok"
                                                       : "fail";
    if ((rc = begin_write(s, err)) != PZ_OK) {
        return rc;
    }
    rc = sync_rows(s, &s->cur, err);
    if (rc == PZ_OK) {
        rc = tell_in_txn(s, trial_id, res, status, err);
    }
    rc = end_txn(s, rc, err);
    return rc == PZ_OK ? apply_changes(s, NULL, err) : rc;
}

/* ---------------------------------------------------------------- start */

static const char *state_word(int state)
{
    static const char *const words[] = {"queued", "running", "done", "error",
                                        "canceled"};
    return state >= 0 && state < 5 ? words[state] : "in an unknown state";
}

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
                      (long long)id, s->cur.name, state_word(state));
    }
    if (rc == PZ_OK) {
        rc = txn_seq(s, &seq, err);
    }
    return rc == PZ_OK ? claim(s, id, seq, err) : rc;
}

int pz_store_start(pz_store *s, int64_t trial_id, pz_error *err)
{
    int rc = need_study(s, err);
    if (rc != PZ_OK || (rc = begin_write(s, err)) != PZ_OK) {
        return rc;
    }
    rc = sync_rows(s, &s->cur, err);
    if (rc == PZ_OK) {
        rc = start_in_txn(s, trial_id, err);
    }
    rc = end_txn(s, rc, err);
    if (rc == PZ_OK) {
        s->started_any = true;
        rc = apply_changes(s, NULL, err);
    }
    return rc;
}

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
    r->loss = col_real(q, C_LOSS);
    r->status = col_text(q, C_STATUS);
    r->params_json = col_text(q, C_PARAMS);
    r->point_json = col_text(q, C_POINT);
    r->result_json = col_text(q, C_RESULT);
    r->error = col_text(q, C_ERROR);
    r->queued_at = col_real(q, C_QUEUED);
    r->started_at = col_real(q, C_STARTED);
    r->finished_at = col_real(q, C_FINISHED);
    r->owner_host = col_text(q, C_HOST);
    r->owner_pid = sqlite3_column_int64(q, C_PID);
    r->lease_until = col_real(q, C_LEASE);
    r->attempts = sqlite3_column_int(q, C_ATTEMPTS);
    char why[200];
    r->owner_gone = r->state == PZ_TRIAL_RUNNING &&
                    lost_reason(s, r->owner_host, r->owner_pid,
                                sqlite3_column_int64(q, C_START),
                                r->lease_until, why, sizeof why);
    if (with_output) {
        read_output(q, r);
    }
    r->values = s->cur.row;
    if (r->point_json == NULL || (unsigned)r->state > PZ_TRIAL_CANCEL) {
        return pz__fail(err, PZ_ESTORE,
                        "%s: trial %lld has no stored point or a state "
                        "out of range (the file is damaged)",
                        s->path, (long long)r->id);
    }
    return params_from_json(pz_study_space(s->cur.study), r->id, r->params_json,
                            s->cur.row, err);
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
            out = stopped(out, err);
        }
        ++*n;
    }
    if (out == PZ_OK && rc != SQLITE_DONE) {
        out = store_fail(s, rc, err);
    }
    sqlite3_reset(q);
    return out;
}

/* Walk statement 'which' (bound to the study and, if not PZ_NO_TRIAL,
 * to 'id') in a read transaction. */
static int walk(pz_store *s, int which, int64_t id, pz_trial_record_fn fn,
                void *ud, size_t *n, pz_error *err)
{
    int rc = need_study(s, err);
    if (rc != PZ_OK || (rc = begin_read(s, err)) != PZ_OK) {
        return rc;
    }
    sqlite3_stmt *q = stmt(s, which);
    sqlite3_bind_int64(q, 1, s->cur.rowid);
    if (id != PZ_NO_TRIAL) {
        sqlite3_bind_int64(q, 2, id);
    }
    rc = walk_trials(s, q, which != S_ALL, fn, ud, n, err);
    return end_txn(s, rc, err);
}

int pz_store_each_trial(pz_store *s, pz_trial_record_fn fn, void *ud,
                        pz_error *err)
{
    size_t n;
    return walk(s, S_ALL, PZ_NO_TRIAL, fn, ud, &n, err);
}

int pz_store_get_trial(pz_store *s, int64_t trial_id, pz_trial_record_fn fn,
                       void *ud, pz_error *err)
{
    size_t n = 0;
    int rc = walk(s, S_GET, trial_id, fn, ud, &n, err);
    if (rc == PZ_OK && n == 0) {
        rc = pz__fail(err, PZ_ENOTFOUND, "no trial %lld in study '%s'",
                      (long long)trial_id, s->cur.name);
    }
    return rc;
}

int pz_store_best(pz_store *s, pz_trial_record_fn fn, void *ud, pz_error *err)
{
    size_t n = 0;
    int rc = walk(s, S_BEST, PZ_NO_TRIAL, fn, ud, &n, err);
    if (rc == PZ_OK && n == 0) {
        rc = pz__fail(err, PZ_ENOTFOUND,
                      "no finished trial with status 'ok' in study '%s'",
                      s->cur.name);
    }
    return rc;
}
