/*
 * test_store_reports.c -- the store and pruning: a store written by the
 * previous schema (version 1, made here from its SQL) opens, keeps its
 * trials and output and takes reports; reports reach another handle's
 * study at its next sync; a PRUNED outcome is stored, counted and read
 * back with its reports; a re-run of a lost trial starts its steps again.
 */
#define _DEFAULT_SOURCE /* mkdtemp */
#include "pz_internal.h"
#include "pz_test_util.h"

#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[64];
static char db[128];

static void make_dir(void)
{
    strcpy(dir, "/tmp/pz-reports-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(db, sizeof db, "%s/t.db", dir);
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(store_reports, .init = make_dir, .fini = remove_dir);

static const char space_json[] = "{\"x\": {\"hp\": \"uniform\", \"low\": 0, "
                                 "\"high\": 1}}";

/* Schema 1 as parzen 0.1.0 (main before pruning) wrote it, with a study,
 * a DONE trial with output and a RUNNING one. */
static const char v1_sql[] =
    "CREATE TABLE migrations(version INTEGER PRIMARY KEY, applied_at REAL "
    " NOT NULL, description TEXT NOT NULL);"
    "CREATE TABLE studies(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
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
    "CREATE TABLE trial_output(study INTEGER NOT NULL, trial INTEGER NOT NULL,"
    " stdout BLOB, stderr BLOB, PRIMARY KEY (study, trial),"
    " FOREIGN KEY (study, trial) REFERENCES trials(study, id)"
    " ON DELETE CASCADE);"
    "INSERT INTO migrations VALUES (1, 0, 'studies, trials, trial output');"
    "INSERT INTO studies VALUES (1, 'old', '{\"x\":{\"hp\":\"uniform\","
    "\"low\":0,\"high\":1}}', 'random', '{}', 7, 0, 2);"
    "INSERT INTO trials(study, id, state, params, point, loss, status,"
    " attempts, seq) VALUES (1, 0, 2, '{\"x\":0.25}', '{\"x\":0.25}', 0.25,"
    " 'ok', 1, 1);"
    "INSERT INTO trial_output VALUES (1, 0, CAST('hello' AS BLOB), NULL);"
    "INSERT INTO trials(study, id, state, params, point, seq, owner_host,"
    " owner_pid, lease_until) VALUES (1, 1, 1, '{\"x\":0.5}', '{\"x\":0.5}',"
    " 2, 'elsewhere', 1, 1e18);"
    "PRAGMA user_version = 1; PRAGMA application_id = 1887069282;";

static pz_store *open_store(const char *name, const pz_study_config *cfg)
{
    pz_store *s = NULL;
    pz_error err = {0};
    cr_assert_eq(pz_store_open(&s, db, PZ_STORE_CREATE, &err), PZ_OK, "%s",
                 err.msg);
    cr_assert_eq(pz_store_open_study(s, name, cfg, &err), PZ_OK, "%s", err.msg);
    return s;
}

typedef struct seen {
    int64_t id;
    pz_trial_state state;
    size_t n_reports;
    int64_t last_step;
    double last_value;
    char out[16];
} seen;

static int take(const pz_trial_record *r, void *ud)
{
    seen *s = ud;
    s->id = r->id;
    s->state = r->state;
    s->n_reports = r->n_reports;
    s->last_step = r->n_reports ? r->report_steps[r->n_reports - 1] : -1;
    s->last_value = r->n_reports ? r->report_values[r->n_reports - 1] : NAN;
    snprintf(s->out, sizeof s->out, "%.*s", (int)r->stdout_len,
             r->stdout_tail ? r->stdout_tail : "");
    return 0;
}

Test(store_reports, a_schema_1_store_opens_keeps_its_trials_and_takes_reports)
{
    sqlite3 *h = NULL;
    char *msg = NULL;
    cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(h, v1_sql, NULL, NULL, &msg), SQLITE_OK, "%s",
                 msg);
    sqlite3_close(h);

    pz_store *s = open_store("old", NULL);
    pz_study *st = pz_store_study(s);
    cr_assert_eq(pz_study_n_trials(st), 2);
    cr_assert_eq(pz_study_count(st, PZ_TRIAL_DONE), 1);
    pz_error err = {0};
    seen got = {0};
    cr_assert_eq(pz_store_get_trial(s, 0, take, &got, &err), PZ_OK, "%s",
                 err.msg);
    cr_assert_str_eq(got.out, "hello", "the output survived the rebuild");
    cr_assert_eq(pz_store_report(s, 1, 0, 0.9, &err), PZ_OK, "%s", err.msg);
    cr_assert_eq(pz_store_report(s, 1, 1, 0.7, &err), PZ_OK, "%s", err.msg);
    pz_trial_result res = {.state = PZ_TRIAL_PRUNED, .loss = 0.7};
    cr_assert_eq(pz_store_tell(s, 1, &res, &err), PZ_OK, "%s", err.msg);
    pz_store_close(s);

    s = open_store("old", NULL); /* schema 2 now: the common path */
    cr_assert_eq(pz_store_get_trial(s, 1, take, &got, &err), PZ_OK, "%s",
                 err.msg);
    cr_assert_eq(got.state, PZ_TRIAL_PRUNED);
    cr_assert_eq(got.n_reports, 2);
    cr_assert_eq(got.last_step, 1);
    cr_assert_eq(got.last_value, 0.7);
    cr_assert_eq(pz_study_count(pz_store_study(s), PZ_TRIAL_PRUNED), 1);
    cr_assert_eq(pz_stop_counted(pz_store_study(s)), 2, "pruned counts");
    pz_store_close(s);
    cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
    sqlite3_stmt *q = NULL;
    cr_assert_eq(sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &q, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_int(q, 0), 2);
    sqlite3_finalize(q);
    sqlite3_close(h);
    pzt_assert_no_leaks();
}

Test(store_reports, reports_reach_the_other_handle_and_its_pruner)
{
    pz_study_config cfg = {
        .space_json = space_json, .sampler = "random", .seed = 1};
    pz_store *a = open_store("s", &cfg);
    pz_store *b = open_store("s", &cfg);
    pz_error err = {0};
    cr_assert_eq(pz_study_set_pruner(pz_store_study(b), "sha", NULL, &err),
                 PZ_OK);
    double v[1];
    int64_t t0 = -1, t1 = -1;
    cr_assert_eq(pz_store_ask(a, 0, 0, &t0, v, &err), PZ_OK, "%s", err.msg);
    cr_assert_eq(pz_store_report(a, t0, 1, 1.0, &err), PZ_OK, "%s", err.msg);
    cr_assert_eq(pz_store_ask(b, 0, 0, &t1, v, &err), PZ_OK, "%s", err.msg);
    /* b's ask synced a's report: rung 0 holds 1.0 before b's 2.0 */
    cr_assert_eq(pz_store_report(b, t1, 1, 2.0, &err), PZ_OK, "%s", err.msg);
    int prune = 0;
    cr_assert_eq(pz_study_should_prune(pz_store_study(b), t1, &prune, &err),
                 PZ_OK);
    cr_assert_eq(prune, 1, "rung 0 [1 2]: 2 is not the best");
    pzt_assert_fails(pz_store_report(b, t1, 0, 1.0, &err), err, PZ_EINVAL,
                     "step 0 reported after step 1");
    cr_assert_eq(pz_store_report(b, t1, 2, NAN, &err), PZ_REPORT_IGNORED);
    cr_assert_eq(pz_store_sync(a, &err), PZ_OK);
    size_t n = 0;
    const int64_t *steps = NULL;
    const double *values = NULL;
    cr_assert_eq(
        pz_study_reports(pz_store_study(a), t1, &n, &steps, &values, &err),
        PZ_OK);
    cr_assert_eq(n, 1, "b's report reached a");
    cr_assert_eq(values[0], 2.0);
    pz_store_close(a);
    pz_store_close(b);
    pzt_assert_no_leaks();
}
