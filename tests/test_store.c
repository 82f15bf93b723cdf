/*
 * test_store.c -- the SQLite trial store: schema and file format, round
 * trips, a differential test against the in-memory study on random
 * sequences of operations, several handles on one file, configuration
 * mismatches, damaged files, lost-trial detection and allocation
 * failures. Each test works in its own temporary directory.
 */
#define _DEFAULT_SOURCE /* mkdtemp, ftruncate */
#include "pz_internal.h"
#include "pz_test_util.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char space_json[] =
    "{\"x\": {\"hp\": \"uniform\", \"low\": -5, \"high\": 5},"
    " \"k\": {\"hp\": \"choice\", \"options\": ["
    "   \"linear\","
    "   {\"gamma\": {\"hp\": \"loguniform\", \"low\": -3, \"high\": 1}}]},"
    " \"n\": {\"hp\": \"randint\", \"low\": 1, \"high\": 9}}";

static char dir[64];
static char db[128];

static void make_dir(void)
{
    strcpy(dir, "/tmp/pz-store-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(db, sizeof db, "%s/t.db", dir);
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(store, .init = make_dir, .fini = remove_dir);

static pz_study_config config(const char *sampler, uint64_t seed)
{
    return (pz_study_config){
        .space_json = space_json, .sampler = sampler, .seed = seed};
}

static pz_store *open_study(const char *name, const pz_study_config *cfg)
{
    pz_store *s = NULL;
    pz_error err = {0};
    int rc = pz_store_open(&s, db, PZ_STORE_CREATE, &err);
    cr_assert_eq(rc, PZ_OK, "%s", err.msg);
    rc = pz_store_open_study(s, name, cfg, &err);
    cr_assert_eq(rc, PZ_OK, "%s", err.msg);
    return s;
}

static int64_t ask(pz_store *s, double *values)
{
    int64_t id;
    pz_error err = {0};
    cr_assert_eq(pz_store_ask(s, 0, 0, &id, values, &err), PZ_OK, "%s",
                 err.msg);
    return id;
}

static void tell(pz_store *s, int64_t id, pz_trial_state state, double loss)
{
    pz_trial_result res = {.state = state, .loss = loss};
    pz_error err = {0};
    cr_assert_eq(pz_store_tell(s, id, &res, &err), PZ_OK, "%s", err.msg);
}

/* Big-endian 32-bit field of the database header. */
static uint32_t header_u32(const char *path, long offset)
{
    unsigned char b[4] = {0};
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    cr_assert_eq(fseek(f, offset, SEEK_SET), 0);
    cr_assert_eq(fread(b, 1, 4, f), 4);
    fclose(f);
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 |
           b[3];
}

static void write_header_u32(const char *path, long offset, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    cr_assert_eq(fseek(f, offset, SEEK_SET), 0);
    cr_assert_eq(fwrite(b, 1, 4, f), 4);
    fclose(f);
}

/* ---------------------------------------------------------------- schema */

Test(store, creates_a_versioned_wal_file_of_its_own)
{
    pz_study_config cfg = config("random", 1);
    pz_store *s = open_study("default", &cfg);
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", db);
    cr_assert_eq(access(wal, F_OK), 0, "WAL mode keeps a -wal file");
    pz_store_close(s);
    /* Header: bytes 18-19 are 2 in WAL mode, 60 user_version, 68
     * application_id ("pzdb"). */
    cr_assert_eq(header_u32(db, 16) & 0xffff, 0x0202);
    cr_assert_eq(header_u32(db, 60), 2);
    cr_assert_eq(header_u32(db, 68), 0x707a6462);
    pzt_assert_no_leaks();
}

/* Opening a run parses its space once: the caller's parse, passed as a
 * pz_space (cmd_run.c does so); the store only serialises it, to store
 * and compare the canonical form, and builds the study from it. Reopening
 * compares the stored text as is, and a text config is parsed once. */
Test(store, opening_a_study_parses_the_space_at_most_once)
{
    pz_error err = {0};
    pz_space *sp = NULL;
    cr_assert_eq(pz_space_from_json(&sp, space_json, strlen(space_json), &err),
                 PZ_OK, "%s", err.msg);
    for (int round = 0; round < 2; round++) { /* create, then resume */
        pz_study_config cfg = {.space = sp, .sampler = "tpe", .seed = 4};
        size_t before = pz__space_json_parses();
        pz_store *s = open_study("parsed", &cfg);
        cr_assert_eq(pz__space_json_parses() - before, 0, "round %d", round);
        cr_assert_eq(pz_space_size(pz_study_space(pz_store_study(s))), 4);
        cr_assert_str_eq(pz_study_sampler(pz_store_study(s)), "tpe");
        pz_store_close(s);
    }
    pz_study_config text = config("tpe", 4);
    size_t before = pz__space_json_parses();
    pz_store *s = open_study("parsed", &text);
    cr_assert_eq(pz__space_json_parses() - before, 1);
    pz_store_close(s);
    /* a stored sampler taken as a default goes onto the kept study */
    pz_study_config dflt = {.space = sp,
                            .sampler = "random",
                            .seed = 9,
                            .flags = PZ_STUDY_DEFAULT_SAMPLER |
                                     PZ_STUDY_DEFAULT_SEED};
    s = open_study("parsed", &dflt);
    cr_assert_str_eq(pz_study_sampler(pz_store_study(s)), "tpe");
    pz_store_close(s);
    pz_space_free(sp);
}

Test(store, creates_files_with_the_umask)
{
    mode_t old = umask(027);
    pz_study_config cfg = config("random", 1);
    pz_store *s = open_study("default", &cfg);
    pz_store_close(s);
    umask(old);
    struct stat st;
    cr_assert_eq(stat(db, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0640, "mode %o", st.st_mode & 0777);
}

Test(store, missing_file_without_create_is_a_store_error)
{
    pz_store *s = NULL;
    pz_error err = {0};
    cr_assert_eq(pz_store_open(&s, db, 0, &err), PZ_ESTORE);
    cr_assert_null(s);
    cr_assert(strstr(err.msg, "no store at") != NULL, "%s", err.msg);
    cr_assert_neq(access(db, F_OK), 0, "nothing created");
}

Test(store, unknown_study_is_not_found)
{
    pz_study_config cfg = config("random", 1);
    pz_store *s = open_study("a", &cfg);
    pz_error err = {0};
    cr_assert_eq(pz_store_open_study(s, "b", NULL, &err), PZ_ENOTFOUND);
    cr_assert(strstr(err.msg, "no study 'b'") != NULL, "%s", err.msg);
    cr_assert_not_null(pz_store_study(s), "the handle keeps study 'a'");
    pz_store_close(s);
}

Test(store, rejects_garbage_with_a_clear_store_error)
{
    FILE *f = fopen(db, "wb");
    for (int i = 0; i < 4096; i++) {
        fputc("not a database at all "[i % 22], f);
    }
    fclose(f);
    pz_store *s = NULL;
    pz_error err = {0};
    cr_assert_eq(pz_store_open(&s, db, 0, &err), PZ_ESTORE);
    cr_assert_null(s);
    cr_assert(strstr(err.msg, db) != NULL, "names the file: %s", err.msg);
    cr_assert(strstr(err.msg, "not a database") != NULL, "%s", err.msg);
    pzt_assert_no_leaks();
}

/* A store with enough trials to span many pages, closed. */
static void make_big_store(void)
{
    pz_study_config cfg = config("random", 3);
    pz_store *s = open_study("default", &cfg);
    double v[4];
    for (int i = 0; i < 300; i++) {
        int64_t id = ask(s, v);
        pz_trial_result res = {.state = PZ_TRIAL_DONE,
                               .loss = v[0],
                               .stdout_tail = "some output\n",
                               .stdout_len = 12};
        cr_assert_eq(pz_store_tell(s, id, &res, NULL), PZ_OK);
    }
    pz_store_close(s);
}

Test(store, truncated_file_gives_a_store_error_not_a_crash)
{
    make_big_store();
    struct stat st;
    cr_assert_eq(stat(db, &st), 0);
    cr_assert_gt(st.st_size, 8 * 4096);
    cr_assert_eq(truncate(db, st.st_size / 2), 0);
    pz_store *s = NULL;
    pz_error err = {0};
    int rc = pz_store_open(&s, db, 0, &err);
    if (rc == PZ_OK) {
        rc = pz_store_open_study(s, "default", NULL, &err);
    }
    cr_assert_eq(rc, PZ_ESTORE, "rc %d: %s", rc, err.msg);
    cr_assert(strstr(err.msg, db) != NULL, "names the file: %s", err.msg);
    pz_store_close(s);
    pzt_assert_no_leaks();
}

Test(store, refuses_a_newer_schema_and_foreign_files)
{
    pz_study_config cfg = config("random", 1);
    pz_store_close(open_study("default", &cfg));
    write_header_u32(db, 60, 7);
    pz_store *s = NULL;
    pz_error err = {0};
    cr_assert_eq(pz_store_open(&s, db, 0, &err), PZ_ESTORE);
    cr_assert(strstr(err.msg, "newer parzen (schema 7") != NULL, "%s", err.msg);
    write_header_u32(db, 60, 1);
    write_header_u32(db, 68, 0x12345678);
    cr_assert_eq(pz_store_open(&s, db, 0, &err), PZ_ESTORE);
    cr_assert(strstr(err.msg, "not a parzen store") != NULL, "%s", err.msg);
}

/* ------------------------------------------------------------- round trip */

typedef struct seen {
    int n;
    int64_t ids[16];
    pz_trial_state states[16];
    double losses[16];
    char errors[16][64];
    char results[16][96];
    size_t out_len[16];
} seen;

static int collect(const pz_trial_record *r, void *ud)
{
    seen *s = ud;
    int i = s->n++;
    s->ids[i] = r->id;
    s->states[i] = r->state;
    s->losses[i] = r->loss;
    snprintf(s->errors[i], 64, "%s", r->error ? r->error : "");
    snprintf(s->results[i], 96, "%s", r->result_json ? r->result_json : "");
    s->out_len[i] = r->stdout_len;
    return 0;
}

Test(store, round_trips_every_outcome_and_document)
{
    pz_study_config cfg = config("random", 5);
    pz_store *s = open_study("default", &cfg);
    double v[4];
    for (int i = 0; i < 5; i++) {
        ask(s, v);
    }
    pz_trial_result ok = {.state = PZ_TRIAL_DONE,
                          .loss = 0.5,
                          .result_json = "{\"loss\":0.5,\"extra\":[1,2]}",
                          .stdout_tail = "a\0b",
                          .stdout_len = 3};
    pz_trial_result fail = {
        .state = PZ_TRIAL_DONE, .loss = NAN, .status = "fail"};
    pz_trial_result error = {
        .state = PZ_TRIAL_ERROR, .loss = NAN, .error = "exit status 1: boom"};
    pz_trial_result cancel = {
        .state = PZ_TRIAL_CANCEL, .loss = NAN, .error = "interrupted"};
    cr_assert_eq(pz_store_tell(s, 0, &ok, NULL), PZ_OK);
    cr_assert_eq(pz_store_tell(s, 1, &fail, NULL), PZ_OK);
    cr_assert_eq(pz_store_tell(s, 2, &error, NULL), PZ_OK);
    cr_assert_eq(pz_store_tell(s, 3, &cancel, NULL), PZ_OK);
    pz_store_close(s);

    s = open_study("default", NULL);
    const pz_study *st = pz_store_study(s);
    cr_assert_eq(pz_study_n_trials(st), 5);
    pz_trial_info t;
    pz_study_trial(st, 1, &t, NULL);
    cr_assert(isinf(t.loss) && t.loss > 0, "a fail trial ranks last");
    seen got = {0};
    cr_assert_eq(pz_store_each_trial(s, collect, &got, NULL), PZ_OK);
    cr_assert_eq(got.n, 5);
    /* Trial 4 was still running when the writer closed: abandoned. */
    const pz_trial_state want[] = {PZ_TRIAL_DONE, PZ_TRIAL_DONE, PZ_TRIAL_ERROR,
                                   PZ_TRIAL_CANCEL, PZ_TRIAL_CANCEL};
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(got.ids[i], i);
        cr_assert_eq(got.states[i], want[i], "trial %d", i + 1);
    }
    cr_assert_str_eq(got.results[0], "{\"loss\":0.5,\"extra\":[1,2]}");
    cr_assert_str_eq(got.errors[2], "exit status 1: boom");
    cr_assert(isnan(got.losses[1]), "no loss stored for a lossless fail");
    seen one = {0};
    cr_assert_eq(pz_store_get_trial(s, 0, collect, &one, NULL), PZ_OK);
    cr_assert_eq(one.out_len[0], 3, "output tails are binary-safe");
    seen best = {0};
    cr_assert_eq(pz_store_best(s, collect, &best, NULL), PZ_OK);
    cr_assert_eq(best.ids[0], 0);
    cr_assert_eq(pz_store_get_trial(s, 99, collect, &one, NULL), PZ_ENOTFOUND);
    pz_store_close(s);
    pzt_assert_no_leaks();
}

Test(store, first_outcome_wins_and_unknown_ids_are_not_found)
{
    pz_study_config cfg = config("random", 5);
    pz_store *s = open_study("default", &cfg);
    double v[4];
    int64_t id = ask(s, v);
    tell(s, id, PZ_TRIAL_DONE, 1.0);
    tell(s, id, PZ_TRIAL_DONE, 2.0);
    pz_trial_info t;
    pz_study_trial(pz_store_study(s), 0, &t, NULL);
    cr_assert_eq(t.loss, 1.0);
    pz_trial_result res = {.state = PZ_TRIAL_DONE, .loss = 1};
    cr_assert_eq(pz_store_tell(s, 42, &res, NULL), PZ_ENOTFOUND);
    res.state = PZ_TRIAL_RUNNING;
    cr_assert_eq(pz_store_tell(s, id, &res, NULL), PZ_EINVAL);
    pz_store_close(s);
}

Test(store, runs_queued_points_first)
{
    pz_study_config cfg = config("random", 5);
    pz_store *s = open_study("default", &cfg);
    double point[4] = {1.5, 0, NAN, 4}, v[4];
    int64_t queued;
    cr_assert_eq(pz_store_add(s, point, &queued, NULL), PZ_OK);
    cr_assert_eq(pz_study_count(pz_store_study(s), PZ_TRIAL_NEW), 1);
    cr_assert_eq(ask(s, v), queued);
    cr_assert_eq(v[0], 1.5);
    cr_assert_eq(v[1], 0);
    cr_assert(isnan(v[2]), "inactive");
    cr_assert_eq(v[3], 4);
    cr_assert_eq(ask(s, v), queued + 1, "then new points");
    point[3] = 99;
    pz_error err = {0};
    cr_assert_eq(pz_store_add(s, point, &queued, &err), PZ_EINVAL, "%s",
                 err.msg);
    pz_store_close(s);
}

/* ----------------------------------------------------------- differential */

/* Trials of two studies agree: ids, states, losses and points. */
static void assert_same_trials(const pz_study *a, const pz_study *b)
{
    size_t dim = pz_space_size(pz_study_space(a));
    cr_assert_eq(pz_study_n_trials(a), pz_study_n_trials(b));
    for (size_t i = 0; i < pz_study_n_trials(a); i++) {
        pz_trial_info x, y;
        pz_study_trial(a, i, &x, NULL);
        double vx[8];
        memcpy(vx, x.values, dim * sizeof *vx);
        pz_study_trial(b, i, &y, NULL);
        cr_assert_eq(x.id, y.id, "row %zu", i);
        cr_assert_eq(x.state, y.state, "trial %lld: %d vs %d", (long long)x.id,
                     (int)x.state, (int)y.state);
        cr_assert(x.loss == y.loss || (isnan(x.loss) && isnan(y.loss)),
                  "trial %lld (state %d): %g vs %g", (long long)x.id,
                  (int)x.state, x.loss, y.loss);
        for (size_t j = 0; j < dim; j++) {
            cr_assert(vx[j] == y.values[j] ||
                          (isnan(vx[j]) && isnan(y.values[j])),
                      "trial %lld param %zu", (long long)x.id, j);
        }
    }
}

static double random_loss(pz__rng *rng)
{
    return pz__rng_uniform(rng) < 0.1 ? (double)INFINITY
                                      : 10 * pz__rng_uniform(rng);
}

static const char *diff_name; /* study of the running differential */

/* Close and reopen the store; closing abandons the handle's running
 * trials (CANCEL), which 'mem' mirrors. */
static void reopen(pz_study *mem, pz_store **s)
{
    for (size_t i = 0; i < pz_study_n_trials(mem); i++) {
        pz_trial_info t;
        pz_study_trial(mem, i, &t, NULL);
        if (t.state == PZ_TRIAL_RUNNING) {
            pz_study_tell(mem, t.id, PZ_TRIAL_CANCEL, (double)NAN, NULL);
        }
    }
    pz_store_close(*s);
    *s = open_study(diff_name, NULL);
}

/* One random operation on both: ask, tell, or reopen the store. */
static void random_op(pz__rng *rng, pz_study *mem, pz_store **s)
{
    double a[4], b[4];
    size_t n = pz_study_n_trials(mem);
    uint64_t op = pz__rng_below(rng, 10);
    if (n == 0 || op < 4) {
        int64_t ida, idb = ask(*s, b);
        cr_assert_eq(pz_study_ask(mem, &ida, a, NULL), PZ_OK);
        cr_assert_eq(ida, idb);
        for (int j = 0; j < 4; j++) {
            cr_assert(a[j] == b[j] || (isnan(a[j]) && isnan(b[j])),
                      "trial %lld: same point", (long long)ida);
        }
    } else if (op < 9) {
        pz_trial_info t;
        pz_study_trial(mem, (size_t)pz__rng_below(rng, n), &t, NULL);
        if (t.state == PZ_TRIAL_DONE || t.state == PZ_TRIAL_ERROR) {
            return; /* the store keeps the first outcome */
        }
        pz_trial_state st = (pz_trial_state)(2 + pz__rng_below(rng, 3));
        double loss = st == PZ_TRIAL_DONE ? random_loss(rng) : (double)NAN;
        tell(*s, t.id, st, loss);
        cr_assert_eq(pz_study_tell(mem, t.id, st, loss, NULL), PZ_OK);
    } else {
        reopen(mem, s);
    }
}

static void differential(const char *sampler, uint64_t seed, int n_ops)
{
    pz_study_config cfg = config(sampler, seed);
    diff_name = sampler;
    pz_store *s = open_study(diff_name, &cfg);
    pz_study *mem = NULL;
    pz_space *sp = NULL;
    cr_assert_eq(pz_space_from_json(&sp, space_json, strlen(space_json), NULL),
                 PZ_OK);
    cr_assert_eq(pz_study_new(&mem, sp, NULL), PZ_OK);
    cr_assert_eq(pz_study_set_sampler(mem, sampler, NULL), PZ_OK);
    pz_study_set_seed(mem, seed);
    pz__rng rng;
    pz__rng_seed(&rng, 99, seed);
    for (int i = 0; i < n_ops; i++) {
        random_op(&rng, mem, &s);
        assert_same_trials(mem, pz_store_study(s));
    }
    reopen(mem, &s);
    assert_same_trials(mem, pz_store_study(s));
    pz_store_close(s);
    pz_study_free(mem);
    pz_space_free(sp);
}

Test(store, matches_the_in_memory_study_on_random_operations)
{
    differential("random", 11, 150);
    differential("tpe", 12, 150);
    pzt_assert_no_leaks();
}

/* ------------------------------------------------------- several handles */

Test(store, two_handles_share_ids_and_see_each_others_trials)
{
    pz_study_config cfg = config("tpe", 8);
    pz_store *a = open_study("shared", &cfg);
    pz_store *b = open_study("shared", &cfg);
    double v[4];
    int64_t ia = ask(a, v), ib = ask(b, v);
    cr_assert_eq(ia, 0);
    cr_assert_eq(ib, 1, "ids are reserved in the file");
    cr_assert_eq(pz_study_count(pz_store_study(b), PZ_TRIAL_RUNNING), 2,
                 "b's sampler saw a's running trial");
    tell(a, ia, PZ_TRIAL_DONE, 0.25);
    cr_assert_eq(pz_store_sync(b, NULL), PZ_OK);
    pz_trial_info t;
    pz_study_trial(pz_store_study(b), 0, &t, NULL);
    cr_assert_eq(t.state, PZ_TRIAL_DONE);
    cr_assert_eq(t.loss, 0.25);
    for (int i = 0; i < 20; i++) {
        pz_store *h = i % 2 ? a : b;
        tell(h, ask(h, v), PZ_TRIAL_DONE, i);
    }
    pz_store_sync(a, NULL);
    pz_store_sync(b, NULL);
    assert_same_trials(pz_store_study(a), pz_store_study(b));
    pz_store_close(a);
    pz_store_close(b);
}

Test(store, budget_counts_every_handle)
{
    pz_study_config cfg = config("random", 8);
    pz_store *a = open_study("b", &cfg);
    pz_store *b = open_study("b", &cfg);
    double v[4];
    int64_t id;
    cr_assert_eq(pz_store_ask(a, 3, 0, &id, v, NULL), PZ_OK);
    cr_assert_eq(pz_store_ask(b, 3, 0, &id, v, NULL), PZ_OK);
    tell(b, id, PZ_TRIAL_ERROR, NAN);
    cr_assert_eq(pz_store_ask(a, 3, 0, &id, v, NULL), PZ_OK);
    cr_assert_eq(id, 2);
    cr_assert_eq(pz_store_ask(b, 3, 0, &id, v, NULL), PZ_OK);
    cr_assert_eq(id, PZ_NO_TRIAL, "running + done + error reached 3");
    tell(a, 2, PZ_TRIAL_CANCEL, NAN);
    cr_assert_eq(pz_store_ask(b, 3, 0, &id, v, NULL), PZ_OK);
    cr_assert_eq(id, 3, "a CANCEL trial frees its place");
    pz_store_close(a);
    pz_store_close(b);
}

/* ---------------------------------------------------------------- config */

Test(store, existing_study_must_match_its_config)
{
    pz_study_config cfg = config("tpe", 8);
    pz_store_close(open_study("c", &cfg));
    pz_store *s = NULL;
    pz_error err = {0};
    cr_assert_eq(pz_store_open(&s, db, 0, &err), PZ_OK);
    pz_study_config other = cfg;
    other.space_json =
        "{\"x\": {\"hp\": \"uniform\", \"low\": 0, \"high\": 1}}";
    cr_assert_eq(pz_store_open_study(s, "c", &other, &err), PZ_EINVAL);
    cr_assert(strstr(err.msg, "different space") != NULL, "%s", err.msg);
    other = cfg;
    other.sampler = "rand";
    cr_assert_eq(pz_store_open_study(s, "c", &other, &err), PZ_EINVAL);
    cr_assert(strstr(err.msg, "sampler 'tpe'") != NULL, "%s", err.msg);
    other = cfg;
    other.seed = 9;
    cr_assert_eq(pz_store_open_study(s, "c", &other, &err), PZ_EINVAL);
    cr_assert(strstr(err.msg, "seed 8, not 9") != NULL, "%s", err.msg);
    other.sampler = "rand";
    other.flags = PZ_STUDY_DEFAULT_SAMPLER | PZ_STUDY_DEFAULT_SEED;
    cr_assert_eq(pz_store_open_study(s, "c", &other, &err), PZ_OK, "%s",
                 err.msg);
    pz_store_study_info info;
    cr_assert_eq(pz_store_study_info_get(s, &info, NULL), PZ_OK);
    cr_assert_str_eq(info.sampler, "tpe", "defaults adopt the stored ones");
    cr_assert_eq(info.seed, 8);
    cr_assert_eq(info.created_now, 0);
    pz_store_close(s);
}

Test(store, same_space_in_another_layout_matches)
{
    pz_study_config cfg = config("random", 1);
    pz_store_close(open_study("c", &cfg));
    char *reformatted = NULL;
    pz_space *sp = NULL;
    cr_assert_eq(pz_space_from_json(&sp, space_json, strlen(space_json), NULL),
                 PZ_OK);
    cr_assert_eq(pz_space_to_json(sp, &reformatted, NULL), PZ_OK);
    cfg.space_json = reformatted;
    pz_store_close(open_study("c", &cfg));
    pz_free(reformatted);
    pz_space_free(sp);
}

Test(store, sampler_options_are_stored_and_applied)
{
    pz_study_config cfg = config("tpe", 1);
    cfg.options_json = "{\"tpe.gamma\": 0.5}";
    pz_store_close(open_study("o", &cfg));
    pz_store *s = open_study("o", NULL);
    pz_store_study_info info;
    pz_store_study_info_get(s, &info, NULL);
    cr_assert_str_eq(info.options_json, "{\"tpe.gamma\":0.5}");
    pz_store_close(s);
    cfg.options_json = "{\"tpe.nonsense\": 1}";
    pz_error err = {0};
    cr_assert_eq(pz_store_open(&s, db, 0, NULL), PZ_OK);
    cr_assert_eq(pz_store_open_study(s, "o2", &cfg, &err), PZ_EINVAL);
    pz_store_close(s);
}

typedef struct study_count {
    int n;
    size_t done;
    double best;
} study_count;

static int count_studies(const pz_store_study_summary *sum, void *ud)
{
    study_count *c = ud;
    c->n++;
    c->done += sum->n_state[PZ_TRIAL_DONE];
    if (strcmp(sum->name, "b") == 0) {
        c->best = sum->best_loss;
    }
    return 0;
}

Test(store, lists_its_studies)
{
    pz_study_config cfg = config("random", 1);
    pz_store *s = open_study("a", &cfg);
    pz_store_close(s);
    s = open_study("b", &cfg);
    double v[4];
    tell(s, ask(s, v), PZ_TRIAL_DONE, 3.0);
    tell(s, ask(s, v), PZ_TRIAL_DONE, 2.0);
    study_count c = {0};
    cr_assert_eq(pz_store_each_study(s, count_studies, &c, NULL), PZ_OK);
    cr_assert_eq(c.n, 2);
    cr_assert_eq(c.done, 2);
    cr_assert_eq(c.best, 2.0);
    pz_store_close(s);
}

/* ------------------------------------------------------------------ lost */

/* In a child process: open the study, start one trial, then exit without
 * closing (as kill -9 would). Returns the trial id. */
static int64_t orphan_trial(void)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        pz_store *s = NULL;
        double v[4];
        int64_t id = -1;
        if (pz_store_open(&s, db, 0, NULL) == PZ_OK &&
            pz_store_open_study(s, "lost", NULL, NULL) == PZ_OK) {
            pz_store_ask(s, 0, 0, &id, v, NULL);
        }
        ssize_t n = write(fds[1], &id, sizeof id);
        _exit(n == sizeof id ? 0 : 1);
    }
    int64_t id = -1;
    cr_assert_eq(read(fds[0], &id, sizeof id), sizeof id);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    close(fds[0]);
    close(fds[1]);
    return id;
}

Test(store, marks_trials_of_a_dead_owner_lost_and_retries_them)
{
    pz_study_config cfg = config("random", 4);
    pz_store *s = open_study("lost", &cfg);
    double v[4], first[4];
    int64_t mine = ask(s, v);
    int64_t orphan = orphan_trial();
    cr_assert_eq(orphan, 1);
    cr_assert_eq(pz_store_sync(s, NULL), PZ_OK);
    pz_trial_info t;
    pz_study_trial(pz_store_study(s), 1, &t, NULL);
    memcpy(first, t.values, sizeof first);
    size_t n = 0;
    cr_assert_eq(pz_store_mark_lost(s, &n, NULL), PZ_OK);
    cr_assert_eq(n, 1, "only the dead owner's trial");
    seen got = {0};
    cr_assert_eq(pz_store_get_trial(s, orphan, collect, &got, NULL), PZ_OK);
    cr_assert_eq(got.states[0], PZ_TRIAL_CANCEL);
    cr_assert(strstr(got.errors[0], "lost: its owner (pid") != NULL, "%s",
              got.errors[0]);
    cr_assert_eq(pz_study_count(pz_store_study(s), PZ_TRIAL_CANCEL), 1);
    int64_t id;
    cr_assert_eq(pz_store_ask(s, 0, PZ_ASK_RETRY_LOST, &id, v, NULL), PZ_OK);
    cr_assert_eq(id, orphan, "the lost trial runs again");
    for (int j = 0; j < 4; j++) {
        cr_assert(v[j] == first[j] || (isnan(v[j]) && isnan(first[j])),
                  "with its own point (param %d: %g vs %g)", j, v[j], first[j]);
    }
    (void)mine;
    pz_store_close(s);
}

Test(store, closing_abandons_what_the_handle_still_runs)
{
    pz_study_config cfg = config("random", 4);
    pz_store *s = open_study("ab", &cfg);
    double v[4];
    int64_t id = ask(s, v);
    pz_store_close(s);
    s = open_study("ab", NULL);
    seen got = {0};
    cr_assert_eq(pz_store_get_trial(s, id, collect, &got, NULL), PZ_OK);
    cr_assert_eq(got.states[0], PZ_TRIAL_CANCEL);
    cr_assert(strstr(got.errors[0], "abandoned") != NULL, "%s", got.errors[0]);
    pz_store_close(s);
}

/* The sync after a re-open must read the rows this same connection
 * committed when it abandoned the old binding's trials: a connection's own
 * commits do not move PRAGMA data_version, so only the fresh binding's
 * forced first sync brings them in. */
Test(store, reopening_a_study_on_its_handle_sees_what_it_abandoned)
{
    pz_study_config cfg = config("random", 4);
    pz_store *s = open_study("re", &cfg);
    double v[4];
    int64_t id = ask(s, v);
    pz_error err = {0};
    cr_assert_eq(pz_store_open_study(s, "re", NULL, &err), PZ_OK, "%s",
                 err.msg);
    cr_assert_eq(pz_store_sync(s, &err), PZ_OK, "%s", err.msg);
    pz_trial_info t;
    cr_assert_eq(pz_study_trial(pz_store_study(s), id, &t, NULL), PZ_OK);
    cr_assert_eq(t.state, PZ_TRIAL_CANCEL);
    pz_store_close(s);
}

/* ------------------------------------------------------------------- oom */

static int store_session(void)
{
    pz_store *s = NULL;
    pz_study_config cfg = config("tpe", 2);
    double v[4];
    int64_t id;
    int rc = pz_store_open(&s, db, PZ_STORE_CREATE, NULL);
    if (rc == PZ_OK) {
        rc = pz_store_open_study(s, "oom", &cfg, NULL);
    }
    for (int i = 0; rc == PZ_OK && i < 3; i++) {
        rc = pz_store_ask(s, 0, PZ_ASK_RETRY_LOST, &id, v, NULL);
        pz_trial_result res = {
            .state = PZ_TRIAL_DONE, .loss = v[0], .result_json = "{}"};
        rc = rc == PZ_OK ? pz_store_tell(s, id, &res, NULL) : rc;
    }
    pz_store_close(s);
    return rc;
}

Test(store, allocation_failures_return_enomem_and_leak_nothing)
{
    for (long n = 0;; n++) {
        pz__alloc_fail_after(n);
        int rc = store_session();
        pz__alloc_fail_after(-1);
        if (rc == PZ_OK) {
            break;
        }
        cr_assert_eq(rc, PZ_ENOMEM, "n = %ld: rc %d", n, rc);
        cr_assert_lt(n, 100000);
    }
    pzt_assert_no_leaks();
}
