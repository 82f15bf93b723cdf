/*
 * bench_ask.c -- latency of one TPE ask against history size and
 * dimension, and proof that asking does not grow memory.
 *
 * For every space kind (all-uniform; mixed: loguniform, quniform,
 * choice, uniform, qloguniform in turn), dimension d in {2, 10, 50} and
 * history size n in {10, 100, 1000, 10000}: a study is filled with n
 * DONE trials (points from the prior, loss = a shifted sphere, so the
 * good set is a real cluster), then the TPE sampler (defaults, except
 * n_startup_jobs = 0 so that n = 10 is modelled too) proposes points for
 * fresh trial ids with pz_study_suggest (the history stays at n). The
 * table gives the median and 90th percentile of the per-ask wall time,
 * and the median of the thread's CPU time per ask (what a busy, shared
 * machine does not inflate).
 * A second table times asks on histories TPE itself produced (d = 10,
 * n up to 10000): observations crowd around the optimum there, which
 * is the harder case for the densities.
 *
 * Memory: a counting allocator (pz_set_allocator) records allocations
 * and live bytes; after warm-up, 1000 further asks must allocate nothing
 * and leave the live bytes and the peak RSS where they were.
 *
 * With --mtpe, the same latency table and memory check for the
 * multivariate TPE ("mtpe", n_startup_jobs = 0 likewise) instead.
 *
 * Usage: bench_ask [--quick] [--mtpe] [--d D] [--n N] [--space K]
 *   --quick: fewer repetitions; --d / --n / --space (uniform, mixed):
 *   only those rows of the latency table, nothing else (for paired
 *   before/after runs of one configuration).
 * Not a test: it asserts nothing about time, it reports.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, getrusage */

#include "parzen.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"

/* ------------------------------------------------------------- spaces */

typedef enum space_kind { UNIFORM_SPACE, MIXED_SPACE } space_kind;

static pz_param_spec mixed_param(size_t i)
{
    switch (i % 5) {
    case 0:
        return (pz_param_spec){
            .dist = PZ_LOGUNIFORM, .low = log(1e-4), .high = log(1.0)};
    case 1:
        return (pz_param_spec){
            .dist = PZ_QUNIFORM, .low = -10, .high = 10, .q = 0.5};
    case 2:
        return (pz_param_spec){.dist = PZ_CHOICE, .n_options = 4};
    case 3:
        return (pz_param_spec){.dist = PZ_UNIFORM, .low = -5, .high = 5};
    default:
        return (pz_param_spec){
            .dist = PZ_QLOGUNIFORM, .low = 0, .high = log(1000.0), .q = 1};
    }
}

static pz_space *make_space(space_kind kind, size_t d)
{
    pz_space *sp = NULL;
    pz_error err = {0};
    if (pz_space_new(&sp, &err) != PZ_OK) {
        return NULL;
    }
    for (size_t i = 0; i < d; i++) {
        char label[32];
        snprintf(label, sizeof label, "p%zu", i);
        pz_param_spec s =
            kind == UNIFORM_SPACE
                ? (pz_param_spec){.dist = PZ_UNIFORM, .low = -5, .high = 5}
                : mixed_param(i);
        if (pz_space_add(sp, label, &s, PZ_NO_PARENT, 0, NULL, &err) != 0) {
            fprintf(stderr, "bench_ask: %s\n", err.msg);
            pz_space_free(sp);
            return NULL;
        }
    }
    return sp;
}

/* A loss with its minimum inside the space, so good trials cluster. */
static double sphere(const double *x, size_t d)
{
    double s = 0.0;
    for (size_t i = 0; i < d; i++) {
        double v = x[i] > 0 ? log1p(x[i]) : x[i];
        s += (v - 0.3) * (v - 0.3);
    }
    return s;
}

/* A study on 'sp' with n DONE trials drawn from the prior, asked with
 * sampler 'algo' ("tpe" or "mtpe"). */
static pz_study *make_study(const pz_space *sp, size_t n, double *x,
                            const char *algo)
{
    pz_study *st = NULL;
    pz_error err = {0};
    size_t d = pz_space_size(sp);
    if (pz_study_new(&st, sp, &err) != PZ_OK) {
        fprintf(stderr, "bench_ask: %s\n", err.msg);
        return NULL;
    }
    pz_study_set_seed(st, 12345);
    for (size_t i = 0; i < n; i++) {
        int64_t id;
        if (pz_study_ask(st, &id, x, &err) != PZ_OK ||
            pz_study_tell(st, id, PZ_TRIAL_DONE, sphere(x, d), &err) != 0) {
            fprintf(stderr, "bench_ask: %s\n", err.msg);
            pz_study_free(st);
            return NULL;
        }
    }
    /* n_startup_jobs 0: model even the 10-trial histories (with the
     * default 20 such an ask is a prior draw, ~0.1 us). */
    char key[64];
    snprintf(key, sizeof key, "%s.n_startup_jobs", algo);
    if (pz_study_set_sampler(st, algo, &err) != PZ_OK ||
        pz_study_set_option(st, key, 0, &err) != PZ_OK) {
        fprintf(stderr, "bench_ask: %s\n", err.msg);
        pz_study_free(st);
        return NULL;
    }
    return st;
}

/* ------------------------------------------------------------- timing */

/* Per-ask times, milliseconds: wall-clock median and p90, and the
 * median of the thread's CPU time (which time spent descheduled on a
 * busy machine does not inflate). */
typedef struct timing {
    double median, p90, cpu_median;
} timing;

static int time_asks(pz_study *st, size_t reps, double *x, timing *out)
{
    double *t = malloc(2 * reps * sizeof *t), *c = t + reps;
    pz_error err = {0};
    if (t == NULL) {
        return -1;
    }
    int64_t base = 1000000;
    for (size_t i = 0; i < 3; i++) { /* warm-up: arena, caches */
        pz_study_suggest(st, base++, 7, x, &err);
    }
    for (size_t i = 0; i < reps; i++) {
        double t0 = bench_clock_s(CLOCK_MONOTONIC);
        double c0 = bench_clock_s(CLOCK_THREAD_CPUTIME_ID);
        if (pz_study_suggest(st, base++, 7, x, &err) != PZ_OK) {
            fprintf(stderr, "bench_ask: %s\n", err.msg);
            free(t);
            return -1;
        }
        c[i] = 1e3 * (bench_clock_s(CLOCK_THREAD_CPUTIME_ID) - c0);
        t[i] = 1e3 * (bench_clock_s(CLOCK_MONOTONIC) - t0);
    }
    out->median = bench_quantile(t, reps, 0.5);
    out->p90 = bench_quantile(t, reps, 0.9);
    out->cpu_median = bench_quantile(c, reps, 0.5);
    free(t);
    return 0;
}

static size_t reps_for(size_t n, size_t d, int quick)
{
    size_t work = n * d;
    size_t reps = work >= 100000 ? 100 : (work >= 10000 ? 300 : 1000);
    return quick ? (reps + 9) / 10 : reps;
}

/* Row filter of the latency table: 0 / -1 = every value. */
typedef struct only {
    size_t d, n;
    int kind;
} only;

static int latency_table(int quick, const char *algo, const only *o)
{
    static const size_t ns[] = {10, 100, 1000, 10000};
    static const size_t ds[] = {2, 10, 50};
    static const char *const kinds[] = {"uniform", "mixed"};
    double x[64];
    printf(
        "| sampler | space | d | n | median ms/ask | p90 ms/ask | CPU median "
        "ms/ask |\n");
    printf("|---|---|---:|---:|---:|---:|---:|\n");
    for (int k = 0; k < 2; k++) {
        for (size_t di = 0; di < 3; di++) {
            if ((o->kind >= 0 && o->kind != k) || (o->d && o->d != ds[di])) {
                continue;
            }
            pz_space *sp = make_space((space_kind)k, ds[di]);
            for (size_t ni = 0; sp != NULL && ni < 4; ni++) {
                if (o->n && o->n != ns[ni]) {
                    continue;
                }
                pz_study *st = make_study(sp, ns[ni], x, algo);
                timing tm;
                if (st == NULL || time_asks(st, reps_for(ns[ni], ds[di], quick),
                                            x, &tm) != 0) {
                    pz_study_free(st);
                    pz_space_free(sp);
                    return 1;
                }
                printf("| %s | %s | %zu | %zu | %.4f | %.4f | %.4f |\n", algo,
                       kinds[k], ds[di], ns[ni], tm.median, tm.p90,
                       tm.cpu_median);
                fflush(stdout);
                pz_study_free(st);
            }
            pz_space_free(sp);
        }
    }
    return 0;
}

/* Grow a TPE study on the d = 10 uniform space to each of 'ns' trials
 * (TPE itself proposing every point, so observations crowd around the
 * optimum as in real use) and time asks at each size. */
static int tpe_history_table(int quick)
{
    static const size_t ns[] = {1000, 3000, 10000};
    double x[64];
    pz_error err = {0};
    pz_space *sp = make_space(UNIFORM_SPACE, 10);
    pz_study *st = NULL;
    int rc = sp ? pz_study_new(&st, sp, &err) : PZ_ENOMEM;
    if (rc == PZ_OK) {
        pz_study_set_seed(st, 12345);
        rc = pz_study_set_sampler(st, "tpe", &err);
    }
    printf("\n| history | d | n | median ms/ask | p90 ms/ask | CPU median "
           "ms/ask |\n");
    printf("|---|---:|---:|---:|---:|---:|\n");
    for (size_t i = 0, n = 0; rc == PZ_OK && i < (quick ? 2u : 3u); i++) {
        for (; rc == PZ_OK && n < ns[i]; n++) {
            int64_t id;
            rc = pz_study_ask(st, &id, x, &err);
            if (rc == PZ_OK) {
                rc = pz_study_tell(st, id, PZ_TRIAL_DONE, sphere(x, 10), &err);
            }
        }
        timing tm;
        if (rc == PZ_OK &&
            (rc = time_asks(st, reps_for(ns[i], 10, quick), x, &tm)) == 0) {
            printf("| TPE-generated | 10 | %zu | %.4f | %.4f | %.4f |\n", ns[i],
                   tm.median, tm.p90, tm.cpu_median);
            fflush(stdout);
        }
    }
    if (rc != PZ_OK) {
        fprintf(stderr, "bench_ask: %s\n", err.msg);
    }
    pz_study_free(st);
    pz_space_free(sp);
    return rc != PZ_OK;
}

/* ------------------------------------------------------------- memory */

/* Asks after warm-up on the mixed space, d = 10, n = 10000: 1000 for
 * tpe, 100 for mtpe (whose asks at that size cost 100 times more). The
 * live bytes are the study's (space, history, sampler state). */
static int memory_check(bench_counter *c, const char *algo)
{
    double x[64];
    pz_error err = {0};
    int mtpe = strcmp(algo, "mtpe") == 0;
    int64_t n_asks = mtpe ? 100 : 1000;
    pz_space *sp = make_space(MIXED_SPACE, 10);
    pz_study *st = sp ? make_study(sp, 10000, x, algo) : NULL;
    if (st == NULL) {
        pz_space_free(sp);
        return 1;
    }
    for (int64_t i = 0; i < 20; i++) {
        pz_study_suggest(st, 2000000 + i, 7, x, &err);
    }
    size_t allocs0 = c->n_allocs, live0 = c->live;
    long rss0 = bench_peak_rss_kb();
    for (int64_t i = 0; i < n_asks; i++) {
        if (pz_study_suggest(st, 3000000 + i, 7, x, &err) != PZ_OK) {
            fprintf(stderr, "bench_ask: %s\n", err.msg);
            break;
        }
    }
    printf("\nMemory over %lld %s asks (mixed space, d=10, n=10000, after 20 "
           "warm-up asks):\n",
           (long long)n_asks, algo);
    printf("- allocations during the asks: %zu\n", c->n_allocs - allocs0);
    printf("- live library bytes: %zu before, %zu after (peak %zu); %.0f "
           "bytes per trial\n",
           live0, c->live, c->peak, (double)c->live / 10000.0);
    printf("- peak RSS: %ld kB before, %ld kB after\n", rss0,
           bench_peak_rss_kb());
    int flat = c->n_allocs == allocs0 && c->live == live0;
    printf("- flat: %s\n", flat ? "yes" : "NO");
    pz_study_free(st);
    pz_space_free(sp);
    return flat ? 0 : 1;
}

int main(int argc, char **argv)
{
    static bench_counter c;
    int quick = 0, mtpe = 0;
    only o = {0, 0, -1};
    for (int i = 1; i < argc; i++) {
        quick |= strcmp(argv[i], "--quick") == 0;
        mtpe |= strcmp(argv[i], "--mtpe") == 0;
        if (i + 1 < argc && strcmp(argv[i], "--d") == 0) {
            o.d = (size_t)strtoul(argv[++i], NULL, 10);
        } else if (i + 1 < argc && strcmp(argv[i], "--n") == 0) {
            o.n = (size_t)strtoul(argv[++i], NULL, 10);
        } else if (i + 1 < argc && strcmp(argv[i], "--space") == 0) {
            o.kind = strcmp(argv[++i], "mixed") == 0 ? 1 : 0;
        }
    }
    int filtered = o.d || o.n || o.kind >= 0;
    const char *algo = mtpe ? "mtpe" : "tpe";
    pz_set_allocator(bench_counting_alloc, &c);
    int rc = latency_table(quick, algo, &o);
    if (rc == 0 && !mtpe && !filtered) {
        rc = tpe_history_table(quick);
    }
    if (rc == 0 && !filtered) {
        rc = memory_check(&c, algo);
    }
    pz_set_allocator(NULL, NULL);
    return rc;
}
