/*
 * mixture_internal.h -- what the mixture files share and nothing else
 * sees: the accuracy constants, the small inlined helpers of the sums
 * (bounds search, branch-free exp).
 *
 * The adaptive Parzen estimators, one concern per file:
 *   mixture.c          fit (hyperopt's adaptive_parzen_normal), the
 *                      preparation of the summing devices, sampling,
 *                      categorical posteriors
 *   mixture_density.c  log-densities and interval masses, windowed sums,
 *                      the lower bounds behind pz__mixture_argmax_ratio
 *   mixture_fgt.c      the fast Gauss transform of dense histories
 *   mixture_sort.c     observations sorted by value (radix, insertion)
 *   normal.c           normal-distribution math (pz__normal_*), also
 *                      used by the multivariate TPE
 */
#ifndef PZ_MIXTURE_INTERNAL_H
#define PZ_MIXTURE_INTERNAL_H
/* Calls between the files go one way: mixture.c -> mixture_fgt.c,
 * mixture_sort.c, normal.c; mixture_density.c -> mixture_fgt.c, normal.c;
 * mixture_fgt.c -> mixture_sort.c. */

#include "pz_internal.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define REACH_SIGMAS 7.5 /* narrow window half-width, in sigmas */
#define CORE_SIGMAS 3.0  /* quantized lower bound: window, in sigmas */
#define BOUND_SIGMAS 3.0 /* continuous lower bound: window, in sigmas */
#define REL_TOL 1e-9     /* accepted relative error of a windowed sum */
#define TINY_SUM 1e-280  /* a linear sum this small may have underflowed */
#define MAX_REJECTIONS 1000
#define N_BUCKETS 16     /* sigma classes, powers of 2 above the smallest */
#define WIDE_CLASS_MIN 8 /* fewer wide components: bound them all */

static const double LOG_SQRT_2PI = 0.91893853320467274178;
static const double SQRT2 = 1.41421356237309504880;

static inline double dmax(double a, double b)
{
    return a > b ? a : b;
}

static inline double dmin(double a, double b)
{
    return a < b ? a : b;
}

/* Index of the first of a[0..n) that is >= v ('upper': > v). Written
 * without a data-dependent branch, which mispredicts half the time. */
static inline size_t bound(const double *a, size_t n, double v, bool upper)
{
    if (n == 0) {
        return 0;
    }
    const double *base = a;
    while (n > 1) {
        size_t half = n / 2;
        double x = base[half - 1];
        base = (upper ? x <= v : x < v) ? base + half : base;
        n -= half;
    }
    return (size_t)(base - a) + (upper ? *base <= v : *base < v);
}

static inline bool is_bounded(const pz__mixture *m)
{
    return isfinite(m->low) || isfinite(m->high);
}

/* Component 'to' of the d_* arrays from (mu, sigma, 1/sigma, r). */
static inline void move_component(pz__mixture *m, size_t to, const double *from)
{
    m->d_mu[to] = from[0];
    m->d_sig[to] = from[1];
    m->d_inv[to] = from[2];
    m->d_r[to] = from[3];
}

/* 2^(j/64), j = 0..63, correctly rounded. */
static const double two_j64[64] = {
    0x1.0000000000000p+0, 0x1.02c9a3e778061p+0, 0x1.059b0d3158574p+0,
    0x1.0874518759bc8p+0, 0x1.0b5586cf9890fp+0, 0x1.0e3ec32d3d1a2p+0,
    0x1.11301d0125b51p+0, 0x1.1429aaea92de0p+0, 0x1.172b83c7d517bp+0,
    0x1.1a35beb6fcb75p+0, 0x1.1d4873168b9aap+0, 0x1.2063b88628cd6p+0,
    0x1.2387a6e756238p+0, 0x1.26b4565e27cddp+0, 0x1.29e9df51fdee1p+0,
    0x1.2d285a6e4030bp+0, 0x1.306fe0a31b715p+0, 0x1.33c08b26416ffp+0,
    0x1.371a7373aa9cbp+0, 0x1.3a7db34e59ff7p+0, 0x1.3dea64c123422p+0,
    0x1.4160a21f72e2ap+0, 0x1.44e086061892dp+0, 0x1.486a2b5c13cd0p+0,
    0x1.4bfdad5362a27p+0, 0x1.4f9b2769d2ca7p+0, 0x1.5342b569d4f82p+0,
    0x1.56f4736b527dap+0, 0x1.5ab07dd485429p+0, 0x1.5e76f15ad2148p+0,
    0x1.6247eb03a5585p+0, 0x1.6623882552225p+0, 0x1.6a09e667f3bcdp+0,
    0x1.6dfb23c651a2fp+0, 0x1.71f75e8ec5f74p+0, 0x1.75feb564267c9p+0,
    0x1.7a11473eb0187p+0, 0x1.7e2f336cf4e62p+0, 0x1.82589994cce13p+0,
    0x1.868d99b4492edp+0, 0x1.8ace5422aa0dbp+0, 0x1.8f1ae99157736p+0,
    0x1.93737b0cdc5e5p+0, 0x1.97d829fde4e50p+0, 0x1.9c49182a3f090p+0,
    0x1.a0c667b5de565p+0, 0x1.a5503b23e255dp+0, 0x1.a9e6b5579fdbfp+0,
    0x1.ae89f995ad3adp+0, 0x1.b33a2b84f15fbp+0, 0x1.b7f76f2fb5e47p+0,
    0x1.bcc1e904bc1d2p+0, 0x1.c199bdd85529cp+0, 0x1.c67f12e57d14bp+0,
    0x1.cb720dcef9069p+0, 0x1.d072d4a07897cp+0, 0x1.d5818dcfba487p+0,
    0x1.da9e603db3285p+0, 0x1.dfc97337b9b5fp+0, 0x1.e502ee78b3ff6p+0,
    0x1.ea4afa2a490dap+0, 0x1.efa1bee615a27p+0, 0x1.f50765b6e4540p+0,
    0x1.fa7c1819e90d8p+0};

/* exp(x) for -708 <= x <= 0, inlined for the density sums (a libm call
 * costs twice as much there, errno handling included): 2^(k/64) from a
 * table times a degree-5 polynomial on |r| <= ln 2 / 128, within 2 ulp.
 * Branch-free, so loops over it vectorize. */
static inline double exp_core(double x)
{
    const double shift = 0x1.8p52, inv_ln2_64 = 0x1.71547652b82fep+6;
    const double ln2_64_hi = 0x1.62e42fee00000p-7;
    const double ln2_64_lo = 0x1.a39ef35793c76p-39;
    double kd = x * inv_ln2_64 + shift; /* round(x * 64 / ln 2) + shift */
    uint64_t ki;
    memcpy(&ki, &kd, sizeof ki);
    kd -= shift;
    double r = (x - kd * ln2_64_hi) - kd * ln2_64_lo;
    double p = 1.0 + r +
               r * r * (0.5 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120))));
    uint64_t sb; /* 2^(k / 64) = 2^(j / 64) 2^e, k = 64 e + j */
    memcpy(&sb, &two_j64[ki & 63], sizeof sb);
    sb += ((ki & ~UINT64_C(63)) - UINT64_C(0x4338000000000000)) << 46;
    double scale;
    memcpy(&scale, &sb, sizeof scale);
    return scale * p;
}

/* exp(x) for x <= 0. Results below exp(-708) = 3.3e-308 come out as
 * that: they only matter when every term is that small, and log_sum then
 * redoes the sum in log space. */
static inline double exp_nonpos(double x)
{
    return exp_core(x < -708.0 ? -708.0 : x);
}

/* ---------------------------------------------- mixture_sort.c */

/* Sort 'obs' into m->items by (value, tid position). Larger arrays are
 * radix-sorted on their top 32 or 33 bits (3 or 4 passes), then finished
 * by an insertion sort that only reorders keys sharing those bits;
 * should that take long (many nearly equal values), a full 64-bit radix
 * sort runs instead. */
void pz__mixture_sort_obs(pz__mixture *m, const double *obs, size_t n);
/* Stable partition of components [0, n): those with sigma <= limit
 * first, both parts in their order (ascending mean); returns how many
 * are first. 'tmp' holds 4 doubles per component moved behind. */
size_t pz__mixture_partition_by_sigma(pz__mixture *m, size_t n, double limit,
                                      double *tmp);

/* ----------------------------------------------- mixture_fgt.c */

/* Choose and build the FGT for a continuous mixture, or leave it off. */
void pz__mixture_fgt_setup(pz__mixture *m);
/* Sum over the FGT boxes within reach of y; *err bounds its error. */
double pz__mixture_fgt_sum(const pz__mixture *m, double y, double *err);
/* Lower bound of the FGT boxes' terms at y, by Jensen's inequality as
 * in sum_bins: with t = (y - c) / delta and s = (mu - c) / delta, each
 * term is r exp(-(t - s)^2), and the moments A_0, A_1, A_2 = sum r,
 * sum r s, sum r s^2 / 2 give the r-weighted mean of (t - s)^2. */
double pz__mixture_fgt_bound(const pz__mixture *m, double y);

#endif /* PZ_MIXTURE_INTERNAL_H */
