/*
 * store_schema.c -- the store file itself: opening it (WAL mode, busy
 * timeout), knowing it is ours (PRAGMA application_id) and at which
 * schema version (PRAGMA user_version), and migrating it by the
 * 'migrations' table of steps below, each applied step recorded in the
 * file's own 'migrations' table.
 */
#define _POSIX_C_SOURCE 200809L
#include "store_internal.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define APP_ID 0x707a6462 /* "pzdb" in PRAGMA application_id */
#define BUSY_TIMEOUT_MS 30000

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
    /* PRUNED (state 5) and the reports of pruning (docs/pruning.md). The
     * CHECK of 'state' can only change by rebuilding 'trials'; its
     * output moves aside first, as dropping 'trials' would cascade. */
    {2, "pruned trials (state 5), trial reports",
     "CREATE TABLE trials_v2("
     " study INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,"
     " id INTEGER NOT NULL,"
     " state INTEGER NOT NULL CHECK (state BETWEEN 0 AND 5),"
     " params TEXT NOT NULL, point TEXT NOT NULL,"
     " loss REAL, status TEXT, result TEXT, error TEXT,"
     " queued_at REAL, started_at REAL, finished_at REAL,"
     " owner_host TEXT, owner_pid INTEGER, owner_start INTEGER,"
     " owner_token INTEGER, lease_until REAL,"
     " attempts INTEGER NOT NULL DEFAULT 0, seq INTEGER NOT NULL,"
     " PRIMARY KEY (study, id));"
     "INSERT INTO trials_v2 SELECT * FROM trials;"
     "CREATE TEMP TABLE output_v1 AS SELECT * FROM trial_output;"
     "DROP TABLE trial_output;"
     "DROP TABLE trials;"
     "ALTER TABLE trials_v2 RENAME TO trials;"
     "CREATE INDEX trials_by_seq ON trials(study, seq);"
     "CREATE INDEX trials_by_state ON trials(study, state, id);"
     "CREATE TABLE trial_output("
     " study INTEGER NOT NULL, trial INTEGER NOT NULL,"
     " stdout BLOB, stderr BLOB, PRIMARY KEY (study, trial),"
     " FOREIGN KEY (study, trial) REFERENCES trials(study, id)"
     " ON DELETE CASCADE);"
     "INSERT INTO trial_output SELECT * FROM temp.output_v1;"
     "DROP TABLE temp.output_v1;"
     /* id: the order reports arrived in, the cursor of a sync */
     "CREATE TABLE trial_reports("
     " id INTEGER PRIMARY KEY, study INTEGER NOT NULL,"
     " trial INTEGER NOT NULL, step INTEGER NOT NULL, value REAL NOT NULL,"
     " UNIQUE (study, trial, step),"
     " FOREIGN KEY (study, trial) REFERENCES trials(study, id)"
     " ON DELETE CASCADE);"},
};

#define N_MIGRATIONS (sizeof migrations / sizeof migrations[0])
#define SCHEMA_VERSION 2

static int exec_sql(pz_store *s, const char *sql, pz_error *err)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? PZ_OK : pz__store_fail(s, rc, err);
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
    int out_rc = rc == SQLITE_OK ? PZ_OK : pz__store_fail(s, rc, err);
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
        return pz__store_fail(s, rc, err);
    }
    return exec_sql(s, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON",
                    err);
}

int pz__store_open_db(pz_store *s, unsigned flags, pz_error *err)
{
    int oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    if (flags & PZ_STORE_CREATE) {
        oflags |= SQLITE_OPEN_CREATE;
    }
    int rc = sqlite3_open_v2(s->path, &s->db, oflags, NULL);
    if (rc != SQLITE_OK) {
        return pz__store_fail(s, rc, err);
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
        m->version, pz__store_now(), m->description, m->version, APP_ID);
    if (sql == NULL) {
        return pz__fail(err, PZ_ENOMEM, "out of memory");
    }
    if (rc == PZ_OK) {
        rc = exec_sql(s, sql, err);
    }
    sqlite3_free(sql);
    return rc;
}

int pz__store_migrate(pz_store *s, pz_error *err)
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
