/*
 * pz_test_stats.h -- goodness-of-fit helpers shared by the C tests.
 *
 * The distribution tests draw a fixed number of samples at a fixed seed
 * and compare them with the exact distribution they should follow:
 * Kolmogorov-Smirnov against an exact CDF for continuous distributions,
 * Pearson's chi-square against exact bin masses for discrete ones. Both
 * return a p-value; the tests require p > PZ_TEST_ALPHA. At fixed seeds
 * the outcome is deterministic; a correct sampler fails one such test
 * with probability 0.001, a wrong one (a shifted bound, a missing half
 * mass at an end, a log applied twice) gives p-values near 0.
 */
#ifndef PZ_TEST_STATS_H
#define PZ_TEST_STATS_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PZ_TEST_ALPHA 0.001

/* Standard normal CDF. */
static inline double pzt_phi(double z)
{
    return 0.5 * erfc(-z / sqrt(2.0));
}

static inline int pzt_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static inline int pzt_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* p-value of the one-sample KS test of 'x' (n values, sorted in place)
 * against the continuous CDF 'cdf(v, ctx)'. Stephens' (1970) scaling of
 * the Kolmogorov distribution; accurate to ~1e-3 for n >= 100. */
static inline double pzt_ks_pvalue(double *x, size_t n,
                                   double (*cdf)(double v, const void *ctx),
                                   const void *ctx)
{
    qsort(x, n, sizeof *x, pzt_cmp_double);
    double d = 0.0;
    for (size_t i = 0; i < n; i++) {
        double f = cdf(x[i], ctx);
        double lo = f - (double)i / (double)n;
        double hi = (double)(i + 1) / (double)n - f;
        d = fmax(d, fmax(lo, hi));
    }
    double sn = sqrt((double)n);
    double t = d * (sn + 0.12 + 0.11 / sn);
    double p = 0.0;
    for (int k = 1; k <= 100; k++) {
        double term = exp(-2.0 * k * k * t * t);
        p += (k % 2 ? 2.0 : -2.0) * term;
        if (term < 1e-12) {
            break;
        }
    }
    return fmin(1.0, fmax(0.0, p));
}

/* Regularized upper incomplete gamma Q(a, x) (Numerical Recipes 6.2). */
static inline double pzt_gamma_q(double a, double x)
{
    if (x <= 0.0) {
        return 1.0;
    }
    double lg = lgamma(a);
    if (x < a + 1.0) { /* series for P, then Q = 1 - P */
        double ap = a, sum = 1.0 / a, del = sum;
        for (int i = 0; i < 1000; i++) {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if (fabs(del) < fabs(sum) * 1e-15) {
                break;
            }
        }
        return 1.0 - sum * exp(-x + a * log(x) - lg);
    }
    double b = x + 1.0 - a, c = 1.0 / 1e-300, d = 1.0 / b, h = d;
    for (int i = 1; i < 1000; i++) { /* Lentz's continued fraction */
        double an = -i * (i - a);
        b += 2.0;
        d = an * d + b;
        d = fabs(d) < 1e-300 ? 1e-300 : d;
        c = b + an / c;
        c = fabs(c) < 1e-300 ? 1e-300 : c;
        d = 1.0 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1.0) < 1e-15) {
            break;
        }
    }
    return exp(-x + a * log(x) - lg) * h;
}

/* Pearson's chi-square p-value for 'obs' counts (total 'n') against
 * probabilities 'p' over 'k' bins (k <= 4096). Adjacent bins are pooled
 * until each expects at least 5 samples; a short tail joins the last
 * pooled bin. Returns -1 (a certain failure) when a bin of probability 0
 * was observed or the counts do not add up to n. */
static inline double pzt_chi2_pvalue(const double *obs, const double *p,
                                     size_t k, size_t n)
{
    static double po[4096], pe[4096];
    size_t bins = 0;
    double o = 0.0, e = 0.0, total = 0.0;
    for (size_t i = 0; i < k && i < 4096; i++) {
        if (p[i] <= 0.0 && obs[i] > 0.0) {
            return -1.0;
        }
        total += obs[i];
        o += obs[i];
        e += p[i] * (double)n;
        if (e >= 5.0) {
            po[bins] = o;
            pe[bins++] = e;
            o = e = 0.0;
        }
    }
    if (total != (double)n || k > 4096) {
        return -1.0;
    }
    if (bins == 0) {
        return 1.0;
    }
    po[bins - 1] += o;
    pe[bins - 1] += e;
    double stat = 0.0;
    for (size_t i = 0; i < bins; i++) {
        stat += (po[i] - pe[i]) * (po[i] - pe[i]) / pe[i];
    }
    if (bins < 2) {
        return 1.0;
    }
    return pzt_gamma_q(0.5 * (double)(bins - 1), 0.5 * stat);
}

#endif
