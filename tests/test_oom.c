/*
 * test_oom.c -- allocation-failure loops (STYLE.md convention 21, after
 * Lua's memerr.lua and SQLite's -faults oom): for n = 0, 1, 2, ... make
 * allocation n fail and run a whole workload; every run returns PZ_OK or
 * PZ_ENOMEM, never crashes, and (under ASan) never leaks. A failed
 * mutation leaves its object as it was. A custom allocator checks that
 * every free and realloc passes back the size that was allocated.
 *
 * jansson allocates with malloc, outside parzen's allocator: the library
 * leaves jansson's (process-wide) allocator to the program. Most loops
 * here fail parzen's own allocations only; the 'jansson' section routes
 * jansson's through the same countdown, as a program may.
 */
#define _POSIX_C_SOURCE 200809L
#include "pz_internal.h"
#include "pz_test_util.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* A conditional space using every distribution, a pchoice sub-space,
 * lists, literals and a const. */
static const char space_json[] =
    "{\"lr\": {\"hp\": \"loguniform\", \"low\": -9, \"high\": -2},\n"
    " \"dropout\": {\"hp\": \"uniform\", \"low\": 0, \"high\": 0.5},\n"
    " \"units\": {\"hp\": \"quniform\", \"low\": 16, \"high\": 256, "
    "\"q\": 16},\n"
    " \"l2\": {\"hp\": \"qloguniform\", \"low\": -6.9, \"high\": 0, "
    "\"q\": 0.001},\n"
    " \"bias\": {\"hp\": \"normal\", \"mu\": 0, \"sigma\": 1},\n"
    " \"shift\": {\"hp\": \"qnormal\", \"mu\": 0, \"sigma\": 4, \"q\": 0.5},\n"
    " \"scale\": {\"hp\": \"lognormal\", \"mu\": 0, \"sigma\": 1},\n"
    " \"batch\": {\"hp\": \"qlognormal\", \"mu\": 4, \"sigma\": 0.5, "
    "\"q\": 8},\n"
    " \"seed\": {\"hp\": \"randint\", \"upper\": 1000},\n"
    " \"epochs\": {\"hp\": \"uniformint\", \"low\": 5, \"high\": 50},\n"
    " \"optimizer\": {\"hp\": \"pchoice\", \"options\": [[0.7, \"adam\"], "
    "[0.3, {\"name\": \"sgd\", \"momentum\": {\"hp\": \"uniform\", "
    "\"low\": 0, \"high\": 1}}]]},\n"
    " \"fixed\": {\"hp\": \"const\", \"value\": [1, {\"a\": null}]},\n"
    " \"model\": {\"hp\": \"choice\", \"options\": [\n"
    "   {\"kind\": \"svm\", \"C\": {\"hp\": \"loguniform\", \"low\": -5, "
    "\"high\": 5},\n"
    "    \"kernel\": {\"hp\": \"choice\", \"options\": [\"linear\",\n"
    "      {\"name\": \"rbf\", \"gamma\": {\"hp\": \"loguniform\", "
    "\"low\": -8, \"high\": 1}}]}},\n"
    "   {\"kind\": \"knn\", \"k\": {\"hp\": \"randint\", \"low\": 1, "
    "\"high\": 30}},\n"
    "   {\"kind\": \"tree\", \"depth\": [1, 2, {\"hp\": \"uniformint\", "
    "\"label\": \"depth\", \"low\": 2, \"high\": 12}]}]}}\n";

#define MAX_PARAMS 32
#define N_TRIALS 30
#define MAX_RUNS 100000 /* a loop that never reaches PZ_OK is a bug */

/* ask/tell N_TRIALS trials, writing each point as JSON; then serialize
 * the study's space. */
static int ask_tell(pz_study *st, pz_error *e)
{
    const pz_space *sp = pz_study_space(st);
    double v[MAX_PARAMS];
    cr_assert_leq(pz_space_size(sp), MAX_PARAMS);
    int rc = PZ_OK;
    for (int t = 0; t < N_TRIALS && rc == PZ_OK; t++) {
        int64_t id = -1;
        char *pt = NULL;
        rc = pz_study_ask(st, &id, v, e);
        if (rc == PZ_OK) {
            rc = pz_space_point_json(sp, v, &pt, e);
            pz_free(pt);
        }
        if (rc == PZ_OK) {
            pz_trial_state s = t % 5 == 4 ? PZ_TRIAL_ERROR : PZ_TRIAL_DONE;
            rc = pz_study_tell(st, id, s, (double)t * 0.5, e);
        }
    }
    if (rc == PZ_OK) {
        rc = pz_study_add(st, 1000, v, PZ_TRIAL_DONE, -1.0, e);
    }
    if (rc == PZ_OK) {
        rc = pz_study_suggest(st, 5000, 9, v, e);
    }
    char *js = NULL;
    if (rc == PZ_OK) {
        rc = pz_space_to_json(sp, &js, e);
        pz_free(js);
    }
    return rc;
}

/* Build a space from JSON, open a study, ask/tell, write points, free. */
static int run_json(pz_error *e)
{
    pz_space *sp = NULL;
    pz_study *st = NULL;
    int rc = pz_space_from_json(&sp, space_json, strlen(space_json), e);
    if (rc == PZ_OK) {
        rc = pz_study_new(&st, sp, e);
    }
    if (rc == PZ_OK) {
        pz_study_set_seed(st, 17);
        rc = ask_tell(st, e);
    }
    pz_study_free(st);
    pz_space_free(sp);
    return rc;
}

/* The same with a space built by pz_space_add (no template). */
static int run_api(pz_error *e)
{
    const double probs[] = {0.2, 0.8};
    pz_param_spec c = pzt_choice(3), p = pzt_pchoice(2, probs);
    pz_param_spec u = pzt_range(PZ_UNIFORM, 0, 1);
    pz_param_spec q = pzt_qnormal(PZ_QLOGNORMAL, 1, 1, 0.5);
    pz_param_spec r = pzt_range(PZ_RANDINT, -3, 3);
    pz_space *sp = NULL;
    pz_study *st = NULL;
    size_t ic = 0, ip = 0;
    int rc = pz_space_new(&sp, e);
    if (rc == PZ_OK) {
        rc = pz_space_add(sp, "c", &c, PZ_NO_PARENT, 0, &ic, e);
    }
    if (rc == PZ_OK) {
        rc = pz_space_add(sp, "u", &u, ic, 0, NULL, e);
    }
    if (rc == PZ_OK) {
        rc = pz_space_add(sp, "p", &p, ic, 1, &ip, e);
    }
    if (rc == PZ_OK) {
        rc = pz_space_add(sp, "q", &q, ip, 1, NULL, e);
    }
    if (rc == PZ_OK) {
        rc = pz_space_add(sp, "r", &r, PZ_NO_PARENT, 0, NULL, e);
    }
    if (rc == PZ_OK) {
        rc = pz_study_new(&st, sp, e);
    }
    if (rc == PZ_OK) {
        rc = ask_tell(st, e);
    }
    pz_study_free(st);
    pz_space_free(sp);
    return rc;
}

static char temp_path[64];

static int run_file(pz_error *e)
{
    pz_space *sp = NULL;
    pz_study *st = NULL;
    int rc = pz_space_from_file(&sp, temp_path, e);
    if (rc == PZ_OK) {
        rc = pz_study_new(&st, sp, e);
    }
    if (rc == PZ_OK) {
        rc = ask_tell(st, e);
    }
    pz_study_free(st);
    pz_space_free(sp);
    return rc;
}

/* Fail allocation n for n = 0, 1, ... until a run succeeds. Returns the
 * number of failing runs. */
static long oom_loop(int (*run)(pz_error *e))
{
    for (long n = 0; n < MAX_RUNS; n++) {
        pz_error e = {0};
        pz__alloc_fail_after(n);
        int rc = run(&e);
        pz__alloc_fail_after(-1);
        if (rc == PZ_OK) {
            cr_log_info("%ld failing runs before the first success", n);
            pzt_assert_no_leaks();
            return n;
        }
        cr_assert_eq(rc, PZ_ENOMEM, "allocation %ld failed: %s (%s)", n,
                     pz_status_name(rc), e.msg);
        cr_assert_eq(e.code, PZ_ENOMEM, "allocation %ld: err.code %d", n,
                     e.code);
        cr_assert_neq(e.msg[0], '\0', "allocation %ld: no message", n);
    }
    cr_assert_fail("no run succeeded in %d attempts", MAX_RUNS);
    return -1;
}

Test(oom, json_space_study_ask_tell_survives_every_failed_allocation)
{
    long n = oom_loop(run_json);
    cr_assert_gt(n, 20, "only %ld allocations: fault injection is off?", n);
    /* Without faults the workload still succeeds afterwards. */
    cr_assert_eq(run_json(NULL), PZ_OK);
}

Test(oom, api_space_study_ask_tell_survives_every_failed_allocation)
{
    long n = oom_loop(run_api);
    cr_assert_gt(n, 10, "only %ld allocations", n);
}

Test(oom, space_file_survives_every_failed_allocation)
{
    snprintf(temp_path, sizeof temp_path, "/tmp/pz_oom_XXXXXX");
    int fd = mkstemp(temp_path);
    cr_assert_geq(fd, 0);
    size_t len = strlen(space_json);
    cr_assert_eq(write(fd, space_json, len), (ssize_t)len);
    close(fd);
    long n = oom_loop(run_file);
    unlink(temp_path);
    cr_assert_gt(n, 20);
}

/* ------------------------------------------ jansson's allocations too */

/* jansson's allocator routed through parzen's, so that one countdown
 * (pz__alloc_fail_after) fails both. Each block is preceded by its size
 * (pz__free takes it). */
static struct {
    long live;   /* jansson blocks held */
    long failed; /* jansson allocations that failed */
} jansson;

#define JHEAD sizeof(max_align_t)

static void *jansson_malloc(size_t n)
{
    char *p = pz__malloc(JHEAD + n);
    if (p == NULL) {
        jansson.failed++;
        return NULL;
    }
    memcpy(p, &n, sizeof n);
    jansson.live++;
    return p + JHEAD;
}

static void jansson_free(void *ptr)
{
    if (ptr != NULL) {
        char *p = (char *)ptr - JHEAD;
        size_t n;
        memcpy(&n, p, sizeof n);
        jansson.live--;
        pz__free(p, JHEAD + n);
    }
}

/* Parse 'space_json' failing allocation 'fail_after' (< 0: none); the
 * space serialized (transferred), or NULL. '*made': allocations tried. */
static char *parsed_space(long fail_after, long *made, int *rc, pz_error *e)
{
    pz_space *sp = NULL;
    char *json = NULL;
    pz__alloc_fail_after(fail_after);
    *rc = pz_space_from_json(&sp, space_json, strlen(space_json), e);
    *made = pz__alloc_fail_after(-1);
    if (*rc == PZ_OK) {
        cr_assert_eq(pz_space_to_json(sp, &json, NULL), PZ_OK);
    }
    pz_space_free(sp);
    return json;
}

/* jansson's lexer calls a string token invalid when it cannot copy it, so
 * a valid space used to come back as "invalid JSON ... invalid token"
 * (PZ_ESPACE) for one jansson allocation in three. Every token of
 * 'space_json' is under 16 bytes: jansson 2.14 drops a byte when it
 * cannot grow its token buffer past that, and then misreads the token or
 * fails an assertion (akheron/jansson#362), which no caller can catch. */
Test(oom, space_json_survives_every_failed_allocation_of_jansson_too)
{
    json_set_alloc_funcs(jansson_malloc, jansson_free);
    int rc;
    long made, tried;
    char *want = parsed_space(-1, &made, &rc, NULL);
    cr_assert_not_null(want);
    long in_jansson = 0;
    for (long n = 0; n < made; n++) {
        pz_error e = {0};
        long failed = jansson.failed;
        char *got = parsed_space(n, &tried, &rc, &e);
        cr_assert_eq(jansson.live, 0, "n = %ld: jansson blocks leaked", n);
        if (rc == PZ_OK) { /* the failed allocation was not needed */
            cr_assert_str_eq(got, want, "n = %ld: a different space", n);
            pz_free(got);
            continue;
        }
        pzt_assert_fails(rc, e, PZ_ENOMEM, "out of memory");
        in_jansson += jansson.failed > failed;
    }
    json_set_alloc_funcs(malloc, free);
    pz_free(want);
    cr_log_info("%ld allocations; failing each: %ld in jansson", made,
                in_jansson);
    cr_assert_gt(in_jansson, 100, "only %ld jansson failures", in_jansson);
    cr_assert_lt(in_jansson, made, "no failure in parzen's allocations");
    pzt_assert_no_leaks();
}

/* A trial's result under every failed allocation: the same outcome, or
 * PZ_ENOMEM; never an ERROR outcome blaming the objective (jansson calls
 * a string it cannot copy an invalid token). Tokens under 16 bytes, as
 * above. */
Test(oom, result_parse_survives_every_failed_allocation_of_jansson_too)
{
    static const char result[] = "{\"loss\": 0.25, \"status\": \"ok\", "
                                 "\"acc\": [0.5, 0.75], \"note\": \"x\"}";
    json_set_alloc_funcs(jansson_malloc, jansson_free);
    pz_command_outcome want = {0}, got;
    pz__alloc_fail_after(-1);
    cr_assert_eq(pz__runner_io_parse(result, strlen(result), &want, NULL),
                 PZ_OK);
    long made = pz__alloc_fail_after(-1), in_jansson = 0;
    cr_assert_eq(want.state, PZ_TRIAL_DONE, "%s", want.error);
    for (long n = 0; n < made; n++) {
        pz_error e = {0};
        long failed = jansson.failed;
        memset(&got, 0, sizeof got);
        pz__alloc_fail_after(n);
        int rc = pz__runner_io_parse(result, strlen(result), &got, &e);
        pz__alloc_fail_after(-1);
        cr_assert_eq(jansson.live, 0, "n = %ld: jansson blocks leaked", n);
        if (rc == PZ_OK) {
            cr_assert_eq(got.state, PZ_TRIAL_DONE, "n = %ld: %s", n, got.error);
            cr_assert_str_eq(got.result_json, want.result_json);
        } else {
            pzt_assert_fails(rc, e, PZ_ENOMEM, "out of memory");
        }
        in_jansson += jansson.failed > failed;
        pz_command_outcome_fini(&got);
    }
    json_set_alloc_funcs(malloc, free);
    pz_command_outcome_fini(&want);
    cr_assert_gt(in_jansson, 5, "only %ld jansson failures", in_jansson);
    pzt_assert_no_leaks();
}

Test(oom, fail_after_counts_allocations)
{
    pz__alloc_fail_after(-1);
    void *p = pz__malloc(8);
    void *q = pz__malloc(8);
    cr_assert_eq(pz__alloc_fail_after(0), 2);
    cr_assert_null(pz__malloc(8), "allocation 0 must fail");
    void *r = pz__malloc(8);
    cr_assert_not_null(r, "only one allocation fails");
    pz__alloc_fail_after(-1);
    pz__free(p, 8);
    pz__free(q, 8);
    pz__free(r, 8);
}

/* --------------------------------------- failed mutations change nothing */

Test(oom, failed_space_add_leaves_the_space_unchanged)
{
    pz_space *sp = NULL;
    pz_param_spec u = pzt_range(PZ_UNIFORM, 0, 1);
    const double probs[] = {0.5, 0.5};
    pz_param_spec p = pzt_pchoice(2, probs);
    char label[16];
    cr_assert_eq(pz_space_new(&sp, NULL), PZ_OK);
    /* Grow past several table resizes, failing each allocation once. */
    for (size_t i = 0; i < 40; i++) {
        snprintf(label, sizeof label, "p%zu", i);
        const pz_param_spec *s = i % 3 ? &u : &p;
        for (long n = 0;; n++) {
            pz_error e = {0};
            pz__alloc_fail_after(n);
            int rc = pz_space_add(sp, label, s, PZ_NO_PARENT, 0, NULL, &e);
            pz__alloc_fail_after(-1);
            if (rc == PZ_OK) {
                break;
            }
            pzt_assert_fails(rc, e, PZ_ENOMEM, label);
            cr_assert_eq(pz_space_size(sp), i);
            cr_assert_eq(pz_space_find(sp, label, NULL), PZ_ENOTFOUND);
            cr_assert_lt(n, 100);
        }
        cr_assert_eq(pz_space_size(sp), i + 1);
    }
    for (size_t i = 0; i < 40; i++) {
        size_t k;
        snprintf(label, sizeof label, "p%zu", i);
        cr_assert_eq(pz_space_find(sp, label, &k), PZ_OK);
        cr_assert_eq(k, i);
    }
    pz_space_free(sp);
    pzt_assert_no_leaks();
}

Test(oom, failed_ask_creates_no_trial_and_keeps_the_id)
{
    pz_space *sp = NULL;
    pz_study *st = NULL;
    cr_assert_eq(pz_space_from_json(&sp, space_json, strlen(space_json), NULL),
                 PZ_OK);
    cr_assert_eq(pz_study_new(&st, sp, NULL), PZ_OK);
    double v[MAX_PARAMS], w[MAX_PARAMS];
    for (int64_t t = 0; t < 200; t++) {
        for (long n = 0;; n++) {
            pz_error e = {0};
            int64_t id = -1;
            pz__alloc_fail_after(n);
            int rc = pz_study_ask(st, &id, v, &e);
            pz__alloc_fail_after(-1);
            if (rc == PZ_OK) {
                cr_assert_eq(id, t, "a failed ask consumed an id");
                break;
            }
            pzt_assert_fails(rc, e, PZ_ENOMEM, "out of memory");
            cr_assert_eq(id, -1);
            cr_assert_eq(pz_study_n_trials(st), (size_t)t);
            cr_assert_lt(n, 100);
        }
        /* The point is the one of stream (seed, t), failures or not. */
        cr_assert_eq(pz_study_suggest(st, t, 0, w, NULL), PZ_OK);
        cr_assert_eq(memcmp(v, w, pz_space_size(sp) * sizeof *v), 0);
        cr_assert_eq(pz_study_tell(st, t, PZ_TRIAL_DONE, (double)t, NULL),
                     PZ_OK);
    }
    pz_trial_info info;
    cr_assert_eq(pz_study_best(st, &info, NULL), PZ_OK);
    cr_assert_eq(info.id, 0);
    pz_study_free(st);
    pz_space_free(sp);
    pzt_assert_no_leaks();
}

/* ------------------------------------------------- a checking allocator */

/* Live blocks and their sizes, in an open-addressing table: every free
 * and realloc must hand back the size that block was allocated with. */
#define N_SLOTS (1u << 16)

static struct {
    void *ptr[N_SLOTS];
    size_t size[N_SLOTS];
    size_t live, calls, mismatches;
} book;

static size_t slot_of(void *p)
{
    size_t h = ((size_t)(uintptr_t)p >> 4) * 0x9e3779b97f4a7c15ULL;
    for (size_t i = h & (N_SLOTS - 1);; i = (i + 1) & (N_SLOTS - 1)) {
        if (book.ptr[i] == p || book.ptr[i] == NULL) {
            return i;
        }
    }
}

static void book_remove(size_t i)
{
    /* Backward-shift deletion keeps probe chains intact. */
    book.ptr[i] = NULL;
    for (size_t j = (i + 1) & (N_SLOTS - 1); book.ptr[j] != NULL;
         j = (j + 1) & (N_SLOTS - 1)) {
        void *p = book.ptr[j];
        size_t s = book.size[j];
        book.ptr[j] = NULL;
        size_t k = slot_of(p);
        book.ptr[k] = p;
        book.size[k] = s;
    }
}

static void *checking_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    cr_assert_eq(ud, &book, "user data not passed through");
    book.calls++;
    if (ptr != NULL) {
        size_t i = slot_of(ptr);
        cr_assert_eq(book.ptr[i], ptr, "unknown block %p", ptr);
        if (book.size[i] != osize) {
            book.mismatches++;
            cr_assert_eq(osize, book.size[i],
                         "block %p: osize %zu, allocated %zu", ptr, osize,
                         book.size[i]);
        }
        book_remove(i);
        book.live--;
    } else {
        cr_assert_eq(osize, 0);
    }
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    void *q = realloc(ptr, nsize);
    cr_assert_not_null(q);
    size_t i = slot_of(q);
    book.ptr[i] = q;
    book.size[i] = nsize;
    book.live++;
    cr_assert_lt(book.live, N_SLOTS / 2);
    return q;
}

Test(allocator, every_free_passes_back_the_allocated_size)
{
    pz_set_allocator(checking_alloc, &book);
    cr_assert_eq(run_json(NULL), PZ_OK);
    cr_assert_eq(run_api(NULL), PZ_OK);
    /* Enough trials to grow the history and the id table many times. */
    pz_space *sp = NULL;
    pz_study *st = NULL;
    cr_assert_eq(pz_space_from_json(&sp, space_json, strlen(space_json), NULL),
                 PZ_OK);
    cr_assert_eq(pz_study_new(&st, sp, NULL), PZ_OK);
    double v[MAX_PARAMS];
    for (int t = 0; t < 3000; t++) {
        int64_t id;
        cr_assert_eq(pz_study_ask(st, &id, v, NULL), PZ_OK);
    }
    pz_study_clear(st);
    int64_t id;
    cr_assert_eq(pz_study_ask(st, &id, v, NULL), PZ_OK);
    pz_study_free(st);
    pz_space_free(sp);
    cr_assert_gt(book.calls, 100, "the allocator was not used");
    cr_assert_eq(book.mismatches, 0);
    cr_assert_eq(book.live, 0, "%zu blocks leaked", book.live);
    pz_set_allocator(NULL, NULL);
}
