/*
 * fuzz_store_open.c -- libFuzzer target for the SQLite store opener: the
 * input is the content of a store file (seeds: real stores, truncated,
 * with a foreign or newer header, garbage).
 *
 * The bytes are written to a fresh file in a private directory (under
 * /dev/shm when it exists: commits fsync) and the file is driven through
 * what the CLI does with a store: open, list the studies, open each of
 * the first few and the default one, read every trial and the best, sync,
 * mark lost trials, ask and tell one trial, open a study with a config
 * that takes the stored settings and with one that insists on its own
 * (check the stored one, or create one). Properties: nothing crashes or
 * leaks; every failure is a store error (or not found / invalid for a
 * study that is missing or differs) with a message; a study that opened
 * is consistent with what its walk reports.
 */
#define _DEFAULT_SOURCE /* mkdtemp */
#include "fuzz_checks.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char space_json[] =
    "{\"x\": {\"hp\": \"uniform\", \"low\": -5, \"high\": 5},"
    " \"k\": {\"hp\": \"choice\", \"options\": [\"linear\","
    " {\"gamma\": {\"hp\": \"loguniform\", \"low\": -3, \"high\": 1}}]}}";

static char dir[256];
static char path[300];

static void remove_files(void)
{
    static const char *const ext[] = {"", "-wal", "-shm", "-journal"};
    char p[320];
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        snprintf(p, sizeof p, "%s%s", path, ext[i]);
        unlink(p);
    }
}

static void cleanup(void)
{
    remove_files();
    rmdir(dir);
}

static void setup(void)
{
    if (dir[0] != '\0') {
        return;
    }
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof dir, "%s/pz-fuzz-store-XXXXXX", base);
    if (mkdtemp(dir) == NULL) {
        abort();
    }
    snprintf(path, sizeof path, "%s/store.db", dir);
    atexit(cleanup);
}

/* A failure must be one of 'allowed' (PZ_OK-terminated) with a message. */
static void expect(int rc, const pz_error *err, const int *allowed)
{
    if (rc == PZ_OK) {
        return;
    }
    for (const int *a = allowed; *a != PZ_OK; a++) {
        if (rc == *a && err->msg[0] != '\0' && err->code == rc) {
            return;
        }
    }
    fprintf(stderr, "unexpected %s (code %d): %s\n", pz_status_name(rc),
            err->code, err->msg);
    abort();
}

static const int store_errors[] = {PZ_ESTORE, PZ_EBUSY, PZ_OK};
static const int study_errors[] = {PZ_ESTORE, PZ_EBUSY, PZ_ENOTFOUND, PZ_EINVAL,
                                   PZ_OK};

typedef struct walk_state {
    size_t n, n_params;
    int64_t last_id;
    char names[3][64];
    size_t n_names;
} walk_state;

static int on_study(const pz_store_study_summary *s, void *ud)
{
    walk_state *w = ud;
    if (s->name == NULL || s->sampler == NULL) {
        abort();
    }
    if (w->n_names < 3 && strlen(s->name) < sizeof w->names[0]) {
        strcpy(w->names[w->n_names++], s->name);
    }
    return 0;
}

static int on_trial(const pz_trial_record *r, void *ud)
{
    walk_state *w = ud;
    if (w->n > 0 && r->id <= w->last_id) {
        abort(); /* id order, no duplicates */
    }
    if ((unsigned)r->state > PZ_TRIAL_CANCEL || r->point_json == NULL ||
        r->params_json == NULL || r->values == NULL) {
        abort();
    }
    for (size_t i = 0; i < w->n_params; i++) {
        volatile double v = r->values[i]; /* readable (ASan) */
        (void)v;
    }
    w->last_id = r->id;
    w->n++;
    return 0;
}

static void read_study(pz_store *s)
{
    pz_error err = {0};
    const pz_study *st = pz_store_study(s);
    walk_state w = {.n_params = pz_space_size(pz_study_space(st))};
    int rc = pz_store_each_trial(s, on_trial, &w, &err);
    expect(rc, &err, store_errors);
    rc =
        pz_store_best(s, on_trial, &(walk_state){.n_params = w.n_params}, &err);
    expect(rc, &err, study_errors);
    rc = pz_store_get_trial(s, 0, on_trial,
                            &(walk_state){.n_params = w.n_params}, &err);
    expect(rc, &err, study_errors);
    pz_store_study_info info;
    if (pz_store_study_info_get(s, &info, &err) != PZ_OK ||
        info.space_json == NULL || info.sampler == NULL) {
        abort();
    }
}

static void write_study(pz_store *s)
{
    pz_error err = {0};
    size_t n_lost = 0;
    int rc = pz_store_sync(s, &err);
    expect(rc, &err, store_errors);
    rc = pz_store_mark_lost(s, &n_lost, &err);
    expect(rc, &err, store_errors);
    size_t dim = pz_space_size(pz_study_space(pz_store_study(s)));
    if (dim > 100000) {
        return; /* bounded by the input anyway; keep executions fast */
    }
    double *values = malloc((dim ? dim : 1) * sizeof *values);
    int64_t id = PZ_NO_TRIAL;
    rc = values ? pz_store_ask(s, 0, PZ_ASK_RETRY_LOST, &id, values, &err)
                : PZ_ENOMEM;
    expect(rc, &err, study_errors);
    if (rc == PZ_OK && id != PZ_NO_TRIAL) {
        pz_trial_result res = {.state = PZ_TRIAL_DONE,
                               .loss = 0.5,
                               .status = "ok",
                               .result_json = "{\"loss\": 0.5}",
                               .stdout_tail = "out\n",
                               .stdout_len = 4};
        rc = pz_store_tell(s, id, &res, &err);
        expect(rc, &err, store_errors);
    }
    free(values);
}

static void drive(pz_store *s)
{
    pz_error err = {0};
    walk_state w = {0};
    int rc = pz_store_each_study(s, on_study, &w, &err);
    expect(rc, &err, store_errors);
    for (size_t i = 0; i < w.n_names; i++) {
        rc = pz_store_open_study(s, w.names[i], NULL, &err);
        expect(rc, &err, study_errors);
        if (rc == PZ_OK) {
            read_study(s);
        }
    }
    rc = pz_store_open_study(s, "default", NULL, &err);
    expect(rc, &err, study_errors);
    if (rc == PZ_OK) {
        read_study(s);
        write_study(s);
    }
    pz_study_config cfg = {.space_json = space_json,
                           .sampler = "tpe",
                           .seed = 1,
                           .flags = PZ_STUDY_DEFAULT_SAMPLER |
                                    PZ_STUDY_DEFAULT_SEED};
    rc = pz_store_open_study(s, "default", &cfg, &err);
    expect(rc, &err, study_errors);
    if (rc == PZ_OK) {
        write_study(s);
    }
    /* A config that insists: the stored sampler, options and seed are
     * compared too (or a new study is made). */
    cfg.flags = 0;
    rc = pz_store_open_study(s, w.n_names ? w.names[0] : "default", &cfg, &err);
    expect(rc, &err, study_errors);
}

void pz_fuzz_store_open(const uint8_t *data, size_t size)
{
    setup();
    remove_files();
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
        abort();
    }
    pz_store *s = NULL;
    pz_error err = {0};
    int rc = pz_store_open(&s, path, 0, &err);
    expect(rc, &err, store_errors);
    if (rc == PZ_OK) {
        drive(s);
    }
    pz_store_close(s);
    remove_files();
}

#ifndef PZ_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pz_fuzz_store_open(data, size);
    return 0;
}
#endif
