/*
 * bench_util.h -- what the C benchmarks share: clocks, peak RSS, a
 * counting allocator for pz_set_allocator, and order statistics.
 * Header-only (static inline): each benchmark is one translation unit.
 */
#ifndef PZ_BENCH_UTIL_H
#define PZ_BENCH_UTIL_H

#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

/* Seconds on clock 'id': CLOCK_MONOTONIC for wall time, and
 * CLOCK_THREAD_CPUTIME_ID for this thread's CPU time, which a busy,
 * shared machine does not inflate (wall time includes waiting for a
 * core). */
static inline double bench_clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline double bench_now_s(void)
{
    return bench_clock_s(CLOCK_MONOTONIC);
}

static inline double bench_cpu_s(void)
{
    return bench_clock_s(CLOCK_THREAD_CPUTIME_ID);
}

/* Peak resident set size of the process, kB. */
static inline long bench_peak_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* Library memory, counted through pz_set_allocator(bench_counting_alloc,
 * &counter). */
typedef struct bench_counter {
    size_t n_allocs; /* successful allocations and growths */
    size_t live;     /* bytes currently held */
    size_t peak;     /* largest 'live' seen */
} bench_counter;

static inline void *bench_counting_alloc(void *ud, void *ptr, size_t osize,
                                         size_t nsize)
{
    bench_counter *c = ud;
    if (nsize == 0) {
        free(ptr);
        c->live -= ptr ? osize : 0;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (p != NULL) {
        c->n_allocs++;
        c->live += nsize - (ptr ? osize : 0);
        c->peak = c->live > c->peak ? c->live : c->peak;
    }
    return p;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile of v[0..n) (sorts v), n > 0. */
static inline double bench_quantile(double *v, size_t n, double q)
{
    qsort(v, n, sizeof *v, bench_cmp_double);
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

#endif
