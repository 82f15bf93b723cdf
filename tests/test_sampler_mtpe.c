/*
 * test_sampler_mtpe.c -- the multivariate TPE: its densities against a
 * naive reference written from the definition, its draws against its
 * densities (chi-square at fixed seeds), reproducibility, every
 * distribution, nested conditional spaces, pending trials, NaN and
 * infinite losses as the worst observations, degenerate histories and
 * option validation.
 */
#include "pz_internal.h"
#include "pz_test_stats.h"
#include "pz_test_util.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------ helpers */

static void suggest(pz_study *st, int64_t id, double *x)
{
    pz_error e = {0};
    cr_assert_eq(pz_study_suggest(st, id, 7, x, &e), PZ_OK, "%s", e.msg);
}

/* Loss of a prior draw: squared distance of its numeric values to 1. */
static double sq_loss(const pz_space *sp, const double *x)
{
    double l = 0;
    for (size_t j = 0; j < pz_space_size(sp); j++) {
        if (!isnan(x[j])) {
            l += (x[j] - 1) * (x[j] - 1);
        }
    }
    return l;
}

/* A history of 'n' prior draws of 'sp' (stream seed), losses sq_loss. */
static void history_of(pz__history *h, const pz_space *sp, size_t n,
                       uint64_t seed)
{
    pz_error e = {0};
    cr_assert_eq(pz__history_init(h, pz_space_size(sp), &e), PZ_OK);
    double x[16];
    for (size_t i = 0; i < n; i++) {
        pz__rng rng;
        pz__rng_seed(&rng, seed, i);
        pz__sampler_draw_prior(sp, &rng, x);
        cr_assert_eq(pz__history_append(h, (int64_t)i, x, PZ_TRIAL_DONE,
                                        sq_loss(sp, x), &e),
                     PZ_OK);
    }
}

static void probe(const pz_space *sp, const pz__history *h,
                  const double *points, size_t n_points, double *ll, double *lg,
                  double *draws, size_t n_draws)
{
    pz__mtpe_probe_args pa = {.space = sp,
                              .hist = h,
                              .points = points,
                              .n_points = n_points,
                              .n_draws = n_draws,
                              .seed = 11};
    pz_error e = {0};
    cr_assert_eq(pz__mtpe_probe(&pa, ll, lg, draws, &e), PZ_OK, "%s", e.msg);
}

/* ------------------------------------------------- naive reference */

/* The definition, spelled out with no shortcut: sort the trials by
 * (loss, age), the good set is min(ceil(0.1 n), 25) of them; each set's
 * density is (sum of w_i x product kernel i + prior kernel) / (sum w + 1)
 * with the default options (bandwidth 0.05 x scale x m^(-1/(D+4))
 * clipped to [0.03, 1] x scale; Aitchison-Aitken mass 0.5 (k-1)/k
 * m^(-1/(D+4))). The weights w: hyperopt's linear forgetting within each
 * set -- in trial order, the newest 25 weigh 1, the m - 25 older ones
 * linspace(1/m, 1, m - 25). */
static void ref_weights(const size_t *rows, size_t m, double *w)
{
    for (size_t i = 0; i < m; i++) {
        size_t age = 0; /* how many of the set are older */
        for (size_t j = 0; j < m; j++) {
            age += rows[j] < rows[i];
        }
        size_t n_ramp = m > 25 ? m - 25 : 0;
        w[i] = 1.0;
        if (age < n_ramp) {
            w[i] = n_ramp == 1 ? 1.0 / (double)m
                               : 1.0 / (double)m + (1.0 - 1.0 / (double)m) *
                                                       (double)age /
                                                       (double)(n_ramp - 1);
        }
    }
}

typedef struct ref_dim {
    bool cat, log_space;
    double low, high, mu0, sig0, scale; /* numeric, mixture space */
    size_t k;
} ref_dim;

static double ref_gauss(double x, double mu, double s, double lo, double hi)
{
    double z = (x - mu) / s;
    double mass = 0.5 * (erf((hi - mu) / (s * sqrt(2.0))) -
                         erf((lo - mu) / (s * sqrt(2.0))));
    return exp(-0.5 * z * z) / (s * sqrt(2.0 * PZ_PI)) / mass;
}

static double ref_density(const ref_dim *dims, size_t D, const double *cen,
                          const double *w, size_t m, const double *x)
{
    double wsum = 1.0; /* the prior kernel's weight */
    double shrink = m ? pow((double)m, -1.0 / ((double)D + 4.0)) : 1.0;
    double sum = 1.0; /* the prior kernel, computed below */
    for (size_t d = 0; d < D; d++) {
        const ref_dim *r = &dims[d];
        sum *= r->cat ? 1.0 / (double)r->k
                      : ref_gauss(x[d], r->mu0, r->sig0, r->low, r->high);
    }
    for (size_t i = 0; i < m; i++) {
        double prod = 1.0;
        for (size_t d = 0; d < D; d++) {
            const ref_dim *r = &dims[d];
            double c = cen[i * D + d];
            if (r->cat) {
                double lam = 0.5 * (double)(r->k - 1) / (double)r->k * shrink;
                prod *= x[d] == c ? 1.0 - lam : lam / (double)(r->k - 1);
            } else {
                double s = fmin(fmax(0.05 * r->scale * shrink, 0.03 * r->scale),
                                r->scale);
                prod *= ref_gauss(x[d], c, s, r->low, r->high);
            }
        }
        sum += w[i] * prod;
        wsum += w[i];
    }
    return sum / wsum;
}

Test(mtpe, densities_match_a_naive_reference)
{
    const pz_param_spec specs[] = {pzt_range(PZ_UNIFORM, -5, 5),
                                   pzt_range(PZ_LOGUNIFORM, log(0.01), 0),
                                   pzt_normal(PZ_NORMAL, 1, 2), pzt_choice(3)};
    const ref_dim dims[] = {
        {.low = -5, .high = 5, .mu0 = 0, .sig0 = 10, .scale = 10},
        {.log_space = true,
         .low = log(0.01),
         .high = 0,
         .mu0 = 0.5 * log(0.01),
         .sig0 = -log(0.01),
         .scale = -log(0.01)},
        {.low = -INFINITY,
         .high = INFINITY,
         .mu0 = 1,
         .sig0 = 2,
         .scale = 2 * sqrt(12.0)},
        {.cat = true, .k = 3}};
    pz_space *sp = pzt_space_of(specs, 4);
    pz__history h;
    history_of(&h, sp, 57, 3);
    /* The reference's own split: sort rows by (loss, row). */
    size_t n = h.n, order[64];
    for (size_t i = 0; i < n; i++) {
        order[i] = i;
    }
    for (size_t i = 1; i < n; i++) { /* insertion sort, stable */
        for (size_t j = i; j > 0 && h.loss[order[j]] < h.loss[order[j - 1]];
             j--) {
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    }
    size_t n_good = (size_t)ceil(0.1 * (double)n); /* 6 */
    double cen[64 * 4], w[64]; /* 51 bad: the 26 oldest weigh less */
    ref_weights(order, n_good, w);
    ref_weights(order + n_good, n - n_good, w + n_good);
    for (size_t i = 0; i < n; i++) {
        for (size_t d = 0; d < 4; d++) {
            double v = h.cols[d][order[i]];
            cen[i * 4 + d] = d == 1 ? log(v) : v;
        }
    }
    double pts[5][4] = {{0.5, 0.3, 1.2, 0},
                        {-4.9, 0.011, -3, 2},
                        {4.2, 0.9, 6, 1},
                        {1.0, 0.05, 1.0, 1},
                        {-2, 0.5, 0, 0}};
    double ll[5], lg[5];
    probe(sp, &h, &pts[0][0], 5, ll, lg, NULL, 0);
    for (size_t j = 0; j < 5; j++) {
        double x[4] = {pts[j][0], log(pts[j][1]), pts[j][2], pts[j][3]};
        double rl = log(ref_density(dims, 4, cen, w, n_good, x));
        double rg = log(
            ref_density(dims, 4, cen + n_good * 4, w + n_good, n - n_good, x));
        cr_assert(fabs(ll[j] - rl) < 1e-9 * (1 + fabs(rl)),
                  "point %zu: log l %.15g, reference %.15g", j, ll[j], rl);
        cr_assert(fabs(lg[j] - rg) < 1e-9 * (1 + fabs(rg)),
                  "point %zu: log g %.15g, reference %.15g", j, lg[j], rg);
    }
    pz__history_fini(&h);
    pz_space_free(sp);
}

/* A quantized dimension's kernel term as the definition states it: the
 * truncated kernel's mass on the rounding interval [a, b] over its
 * width when the bandwidth is under 5 widths, else its density at the
 * interval's middle. */
static double ref_qterm(double a, double b, double mu, double s, double lo,
                        double hi)
{
    if (s >= 5.0 * (b - a)) {
        return ref_gauss(0.5 * (a + b), mu, s, lo, hi);
    }
    double in = 0.5 * (erf((b - mu) / (s * sqrt(2.0))) -
                       erf((a - mu) / (s * sqrt(2.0))));
    double all = 0.5 * (erf((hi - mu) / (s * sqrt(2.0))) -
                        erf((lo - mu) / (s * sqrt(2.0))));
    return in / all / (b - a);
}

/* uniform, quniform (q 0.5), choice(4), qloguniform (q 1), loguniform:
 * mixture space; 'x' gives each numeric dimension's coordinate and, for
 * the quantized ones, the rounding interval in xa/xb. */
static double ref_mixed_density(const double *cen, const double *w, size_t m,
                                const double *x, const double *xa,
                                const double *xb)
{
    double wsum = 1.0;
    static const double lo[5] = {-5, -10, 0, 0, -9.210340371976182};
    static const double hi[5] = {5, 10, 0, 6.907755278982137, 0};
    const size_t D = 5;
    double shrink = m ? pow((double)m, -1.0 / ((double)D + 4.0)) : 1.0;
    double lam = 0.5 * 3.0 / 4.0 * shrink;
    double sum = 1.0;
    for (size_t d = 0; d < D; d++) {
        double sc = hi[d] - lo[d], mu0 = 0.5 * (lo[d] + hi[d]);
        sum *= d == 2 ? 0.25
               : (d == 1 || d == 3)
                   ? ref_qterm(xa[d], xb[d], mu0, sc, lo[d], hi[d])
                   : ref_gauss(x[d], mu0, sc, lo[d], hi[d]);
    }
    for (size_t i = 0; i < m; i++) {
        double prod = 1.0;
        for (size_t d = 0; d < D; d++) {
            double c = cen[i * D + d], sc = hi[d] - lo[d];
            double s = fmin(fmax(0.05 * sc * shrink, 0.03 * sc), sc);
            prod *= d == 2 ? (x[d] == c ? 1.0 - lam : lam / 3.0)
                    : (d == 1 || d == 3)
                        ? ref_qterm(xa[d], xb[d], c, s, lo[d], hi[d])
                        : ref_gauss(x[d], c, s, lo[d], hi[d]);
        }
        sum += w[i] * prod;
        wsum += w[i];
    }
    return sum / wsum;
}

/* 600 trials in a mixed space, points near and far from the observed
 * ones: most kernels are out of reach of a point, which is what the
 * screen before the kernel loop must get exactly right (a bound that
 * drops a kernel it should keep shows here). */
Test(mtpe, quantized_densities_match_a_naive_reference)
{
    const pz_param_spec specs[] = {
        pzt_range(PZ_UNIFORM, -5, 5), pzt_qrange(PZ_QUNIFORM, -10, 10, 0.5),
        pzt_choice(4), pzt_qrange(PZ_QLOGUNIFORM, 0, log(1000.0), 1),
        pzt_range(PZ_LOGUNIFORM, log(1e-4), 0)};
    pz_space *sp = pzt_space_of(specs, 5);
    pz__history h;
    history_of(&h, sp, 600, 9);
    static size_t order[600];
    static double cen[600 * 5], w[600];
    size_t n = h.n;
    for (size_t i = 0; i < n; i++) {
        order[i] = i;
    }
    for (size_t i = 1; i < n; i++) { /* insertion sort, stable */
        for (size_t j = i; j > 0 && h.loss[order[j]] < h.loss[order[j - 1]];
             j--) {
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    }
    size_t n_good = 25; /* min(ceil(0.1 x 600), 25) */
    ref_weights(order, n_good, w);
    ref_weights(order + n_good, n - n_good, w + n_good);
    for (size_t i = 0; i < n; i++) {
        for (size_t d = 0; d < 5; d++) {
            double v = h.cols[d][order[i]];
            cen[i * 5 + d] = d >= 3 ? log(v) : v;
        }
    }
    enum { NP = 9 };
    double pts[NP][5] = {{0.5, 1.0, 0, 1, 0.3},      {-4.9, -9.5, 3, 2, 1e-4},
                         {4.2, 9.5, 1, 1000, 0.9},   {1.0, 0.5, 1, 3, 0.05},
                         {-2, -3, 2, 17, 0.5},       {4.99, 10, 3, 1, 0.99},
                         {-4.99, -10, 0, 500, 2e-4}, {0.9, 1.0, 2, 1, 0.8},
                         {0.0, 0.0, 1, 4, 0.01}};
    double ll[NP], lg[NP];
    probe(sp, &h, &pts[0][0], NP, ll, lg, NULL, 0);
    for (size_t j = 0; j < NP; j++) {
        double x[5] = {pts[j][0], pts[j][1], pts[j][2], log(pts[j][3]),
                       log(pts[j][4])};
        double xa[5] = {0}, xb[5] = {0};
        xa[1] = fmax(pts[j][1] - 0.25, -10);
        xb[1] = fmin(pts[j][1] + 0.25, 10);
        xa[3] = fmax(log(pts[j][3] - 0.5), 0);
        xb[3] = fmin(log(pts[j][3] + 0.5), log(1000.0));
        double rl = log(ref_mixed_density(cen, w, n_good, x, xa, xb));
        double rg = log(ref_mixed_density(cen + n_good * 5, w + n_good,
                                          n - n_good, x, xa, xb));
        cr_assert(fabs(ll[j] - rl) < 1e-9 * (1 + fabs(rl)),
                  "point %zu: log l %.15g, reference %.15g", j, ll[j], rl);
        cr_assert(fabs(lg[j] - rg) < 1e-9 * (1 + fabs(rg)),
                  "point %zu: log g %.15g, reference %.15g", j, lg[j], rg);
    }
    pz__history_fini(&h);
    pz_space_free(sp);
}

/* Log densities of 'sp' (D dimensions) fitted to 'h', with and without
 * the screen before the kernel loop, at NP points: prior draws and
 * draws from l(x). */
#define SCREEN_NP 3000
static void screened_and_not(const pz_space *sp, size_t D, const pz__history *h,
                             double ll[2][SCREEN_NP], double lg[2][SCREEN_NP])
{
    static double pts[SCREEN_NP * 16];
    cr_assert(D <= 16);
    for (size_t j = 0; j < SCREEN_NP / 2; j++) {
        pz__rng rng;
        pz__rng_seed(&rng, 99, j);
        pz__sampler_draw_prior(sp, &rng, pts + j * D);
    }
    pz__mtpe_probe_args pa = {.space = sp,
                              .hist = h,
                              .points = pts,
                              .n_points = SCREEN_NP / 2,
                              .n_draws = SCREEN_NP / 2,
                              .seed = 11};
    pz_error e = {0};
    cr_assert_eq(pz__mtpe_probe(&pa, ll[0], lg[0], pts + SCREEN_NP / 2 * D, &e),
                 PZ_OK, "%s", e.msg);
    pa.n_points = SCREEN_NP;
    pa.n_draws = 0;
    for (int off = 0; off < 2; off++) {
        pa.no_screen = off;
        cr_assert_eq(pz__mtpe_probe(&pa, ll[off], lg[off], NULL, &e), PZ_OK,
                     "%s", e.msg);
    }
}

/* The screen before the kernel loop only skips kernels that cannot
 * reach the sum: with and without it, every density is the same to the
 * last bit. Every distribution (12 dimensions, more than the screen
 * takes), and a 5-dimensional mixed space where it takes all (the
 * categorical bound too); 800 trials; prior draws and draws from l(x)
 * as points. A bound a few nats too tight only touches terms below
 * e^-35 of the sum, under its last bit; one wrong by a factor shows. */
Test(mtpe, the_kernel_screen_leaves_densities_bit_identical)
{
    static const double probs[] = {0.2, 0.5, 0.3};
    const pz_param_spec every[] = {
        pzt_range(PZ_UNIFORM, -5, 5),    pzt_qrange(PZ_QUNIFORM, 0, 10, 2),
        pzt_range(PZ_LOGUNIFORM, -3, 3), pzt_qrange(PZ_QLOGUNIFORM, 0, 5, 3),
        pzt_normal(PZ_NORMAL, 1, 2),     pzt_qnormal(PZ_QNORMAL, 0, 3, 1),
        pzt_normal(PZ_LOGNORMAL, 0, 1),  pzt_qnormal(PZ_QLOGNORMAL, 1, 1, 0.5),
        pzt_range(PZ_RANDINT, 3, 9),     pzt_range(PZ_UNIFORMINT, 0, 6),
        pzt_pchoice(3, probs),           pzt_choice(2)};
    const pz_param_spec mixed[] = {
        pzt_range(PZ_UNIFORM, -5, 5), pzt_qrange(PZ_QUNIFORM, -10, 10, 0.5),
        pzt_choice(4), pzt_qrange(PZ_QLOGUNIFORM, 0, log(1000.0), 1),
        pzt_range(PZ_LOGUNIFORM, log(1e-4), 0)};
    const pz_param_spec *spaces[] = {every, mixed};
    const size_t dims[] = {12, 5};
    static double ll[2][SCREEN_NP], lg[2][SCREEN_NP];
    for (size_t i = 0; i < 2; i++) {
        pz_space *sp = pzt_space_of(spaces[i], dims[i]);
        pz__history h;
        history_of(&h, sp, 800, 21);
        screened_and_not(sp, dims[i], &h, ll, lg);
        for (size_t j = 0; j < SCREEN_NP; j++) {
            cr_assert(memcmp(&ll[0][j], &ll[1][j], sizeof(double)) == 0 &&
                          memcmp(&lg[0][j], &lg[1][j], sizeof(double)) == 0,
                      "space %zu, point %zu: screened log l %a, log g %a; "
                      "unscreened %a, %a",
                      i, j, ll[0][j], lg[0][j], ll[1][j], lg[1][j]);
            cr_assert(isfinite(ll[0][j]) && isfinite(lg[0][j]),
                      "space %zu, point %zu", i, j);
        }
        pz__history_fini(&h);
        pz_space_free(sp);
    }
}

/* The per-kernel gap rule (bw_rule 2), spelled out: along each numeric
 * dimension a kernel's bandwidth is the larger gap to its neighbours
 * among the set's centres (the bounds close the ends), clipped to
 * [scale / min(100, m + 2), scale]. O(m^2) on purpose: no sorting. */
static double ref_gap_sig(const double *cen, size_t m, size_t D, size_t i,
                          size_t d, double low, double high)
{
    double c = cen[i * D + d], left = low, right = high;
    for (size_t j = 0; j < m; j++) {
        double v = cen[j * D + d];
        if (j == i) {
            continue;
        }
        /* a tie with an older-sorted twin: the twin is a neighbour */
        if (v < c || (v == c && j < i)) {
            left = v > left ? v : left;
        } else {
            right = v < right ? v : right;
        }
    }
    double b = fmax(c - left, right - c), scale = high - low;
    double clip = fmin(100.0, (double)m + 2.0);
    return fmin(fmax(b, scale / clip), scale);
}

/* All-numeric bounded dims: the density with gap bandwidths. */
static double ref_gap_density(const ref_dim *dims, size_t D, const double *cen,
                              size_t m, const double *x)
{
    double sum = 1.0;
    for (size_t d = 0; d < D; d++) {
        sum *= ref_gauss(x[d], dims[d].mu0, dims[d].sig0, dims[d].low,
                         dims[d].high);
    }
    for (size_t i = 0; i < m; i++) {
        double prod = 1.0;
        for (size_t d = 0; d < D; d++) {
            double s = ref_gap_sig(cen, m, D, i, d, dims[d].low, dims[d].high);
            prod *=
                ref_gauss(x[d], cen[i * D + d], s, dims[d].low, dims[d].high);
        }
        sum += prod;
    }
    return sum / ((double)m + 1.0);
}

/* bw_rule 2 on a 300-trial history in 3 bounded dimensions: most bad
 * kernels lie far from a point, which is the case the early drop and
 * the lazily computed truncation masses must get exactly right. */
Test(mtpe, gap_bandwidths_match_a_naive_reference)
{
    const pz_param_spec specs[] = {pzt_range(PZ_UNIFORM, -5, 5),
                                   pzt_range(PZ_LOGUNIFORM, log(0.01), 0),
                                   pzt_range(PZ_UNIFORM, 0, 1)};
    const ref_dim dims[] = {{.low = -5, .high = 5, .mu0 = 0, .sig0 = 10},
                            {.log_space = true,
                             .low = log(0.01),
                             .high = 0,
                             .mu0 = 0.5 * log(0.01),
                             .sig0 = -log(0.01)},
                            {.low = 0, .high = 1, .mu0 = 0.5, .sig0 = 1}};
    pz_space *sp = pzt_space_of(specs, 3);
    pz__history h;
    history_of(&h, sp, 300, 5);
    static size_t order[300];
    static double cen[300 * 3];
    size_t n = h.n;
    for (size_t i = 0; i < n; i++) {
        order[i] = i;
    }
    for (size_t i = 1; i < n; i++) { /* insertion sort, stable */
        for (size_t j = i; j > 0 && h.loss[order[j]] < h.loss[order[j - 1]];
             j--) {
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    }
    size_t n_good = 25; /* min(ceil(0.1 x 300), 25) */
    for (size_t i = 0; i < n; i++) {
        for (size_t d = 0; d < 3; d++) {
            double v = h.cols[d][order[i]];
            cen[i * 3 + d] = d == 1 ? log(v) : v;
        }
    }
    double pts[6][3] = {{0.5, 0.3, 0.2}, {-4.99, 0.011, 0.99},
                        {4.2, 0.9, 0.5}, {1.0, 0.05, 0.01},
                        {-2, 0.5, 0.7},  {1.01, 0.99, 0.98}};
    double ll[6], lg[6];
    /* uniform weights: the reference above checks the recency weights */
    const char *keys[] = {"mtpe.bw_rule", "mtpe.forget"};
    const double vals[] = {2, 0};
    pz__mtpe_probe_args pa = {.space = sp,
                              .hist = &h,
                              .keys = keys,
                              .vals = vals,
                              .n_opts = 2,
                              .points = &pts[0][0],
                              .n_points = 6,
                              .seed = 11};
    pz_error e = {0};
    cr_assert_eq(pz__mtpe_probe(&pa, ll, lg, NULL, &e), PZ_OK, "%s", e.msg);
    for (size_t j = 0; j < 6; j++) {
        double x[3] = {pts[j][0], log(pts[j][1]), pts[j][2]};
        double rl = log(ref_gap_density(dims, 3, cen, n_good, x));
        double rg =
            log(ref_gap_density(dims, 3, cen + n_good * 3, n - n_good, x));
        cr_assert(fabs(ll[j] - rl) < 1e-9 * (1 + fabs(rl)),
                  "point %zu: log l %.15g, reference %.15g", j, ll[j], rl);
        cr_assert(fabs(lg[j] - rg) < 1e-9 * (1 + fabs(rg)),
                  "point %zu: log g %.15g, reference %.15g", j, lg[j], rg);
    }
    pz__history_fini(&h);
    pz_space_free(sp);
}

/* --------------------------------------------- draws against densities */

/* Chi-square p-value of 'count' (k bins, n draws) against probabilities
 * 'p' (normalised here), bins with expected count < 5 pooled. */
static double chi2_p(const double *count, const double *p, size_t k, size_t n)
{
    double tot = 0, stat = 0, ec = 0, oc = 0;
    size_t df = 0;
    for (size_t i = 0; i < k; i++) {
        tot += p[i];
    }
    for (size_t i = 0; i < k; i++) {
        ec += (double)n * p[i] / tot;
        oc += count[i];
        if (ec >= 5.0 || i == k - 1) {
            stat += (oc - ec) * (oc - ec) / ec;
            df++;
            ec = oc = 0;
        }
    }
    return pzt_gamma_q(0.5 * (double)(df - 1), 0.5 * stat);
}

#define N_DRAWS 20000

Test(mtpe, continuous_draws_follow_the_density)
{
    const pz_param_spec spec = pzt_range(PZ_UNIFORM, 0, 10);
    pz_space *sp = pzt_space_of(&spec, 1);
    pz__history h;
    history_of(&h, sp, 60, 4);
    enum { BINS = 25, SUB = 64 };
    static double pts[BINS * SUB + 1], ll[BINS * SUB + 1], lg[BINS * SUB + 1];
    static double draws[N_DRAWS];
    for (size_t i = 0; i <= BINS * SUB; i++) {
        pts[i] = 10.0 * (double)i / (BINS * SUB);
    }
    probe(sp, &h, pts, BINS * SUB + 1, ll, lg, draws, N_DRAWS);
    double p[BINS], count[BINS] = {0}, total = 0;
    for (size_t b = 0; b < BINS; b++) { /* Simpson's rule per bin */
        double s = 0, hstep = 10.0 / (BINS * SUB);
        for (size_t j = 0; j <= SUB; j++) {
            double w = (j == 0 || j == SUB) ? 1 : (j % 2 ? 4 : 2);
            s += w * exp(ll[b * SUB + j]);
        }
        p[b] = s * hstep / 3.0;
        total += p[b];
    }
    cr_assert(fabs(total - 1.0) < 1e-6, "l integrates to %.9f", total);
    for (size_t i = 0; i < N_DRAWS; i++) {
        cr_assert(draws[i] >= 0 && draws[i] < 10, "draw %g", draws[i]);
        count[(size_t)(draws[i] / 10.0 * BINS)] += 1;
    }
    double pv = chi2_p(count, p, BINS, N_DRAWS);
    cr_assert(pv > PZ_TEST_ALPHA, "chi-square p = %g", pv);
    pz__history_fini(&h);
    pz_space_free(sp);
}

/* Draws of one discrete dimension against exp(log l) x interval width. */
static void discrete_draws_follow(const pz_param_spec *spec, size_t k,
                                  double first, double step, double low,
                                  double high)
{
    pz_space *sp = pzt_space_of(spec, 1);
    pz__history h;
    history_of(&h, sp, 40, 5);
    double pts[32], ll[32], lg[32], p[32], count[32] = {0};
    static double draws[N_DRAWS];
    cr_assert(k <= 32);
    for (size_t i = 0; i < k; i++) {
        pts[i] = first + step * (double)i;
    }
    probe(sp, &h, pts, k, ll, lg, draws, N_DRAWS);
    double total = 0;
    for (size_t i = 0; i < k; i++) {
        double w = high > low /* quantized: its rounding interval */
                       ? fmin(pts[i] + 0.5 * step, high) -
                             fmax(pts[i] - 0.5 * step, low)
                       : 1.0;
        p[i] = exp(ll[i]) * w;
        total += p[i];
    }
    cr_assert(fabs(total - 1.0) < 2e-3, "l sums to %.9f (%zu values from %g)",
              total, k, first);
    for (size_t i = 0; i < N_DRAWS; i++) {
        double c = (draws[i] - first) / step;
        cr_assert(c == floor(c) && c >= 0 && c < (double)k, "draw %g",
                  draws[i]);
        count[(size_t)c] += 1;
    }
    double pv = chi2_p(count, p, k, N_DRAWS);
    cr_assert(pv > PZ_TEST_ALPHA, "chi-square p = %g", pv);
    pz__history_fini(&h);
    pz_space_free(sp);
}

Test(mtpe, categorical_draws_follow_the_density)
{
    static const double probs[] = {0.1, 0.2, 0.3, 0.4};
    const pz_param_spec choice = pzt_choice(5);
    const pz_param_spec pchoice = pzt_pchoice(4, probs);
    const pz_param_spec randint = pzt_range(PZ_RANDINT, -3, 4);
    discrete_draws_follow(&choice, 5, 0, 1, 0, 0);
    discrete_draws_follow(&pchoice, 4, 0, 1, 0, 0);
    discrete_draws_follow(&randint, 7, -3, 1, 0, 0);
}

Test(mtpe, quantized_draws_follow_the_interval_masses)
{
    const pz_param_spec q = pzt_qrange(PZ_QUNIFORM, 0, 10, 1);
    const pz_param_spec qi = pzt_range(PZ_UNIFORMINT, 2, 8);
    discrete_draws_follow(&q, 11, 0, 1, 0, 10);
    discrete_draws_follow(&qi, 7, 2, 1, 2, 8);
}

/* ------------------------------------------------------------ contracts */

Test(mtpe, is_a_pure_function_of_seed_trial_and_history)
{
    const pz_param_spec specs[] = {pzt_range(PZ_UNIFORM, -5, 5), pzt_choice(3),
                                   pzt_qrange(PZ_QLOGUNIFORM, 0, 4, 1)};
    pz_space *sp = pzt_space_of(specs, 3);
    pz_study *a = pzt_study_on(sp, "mtpe", 8), *b = pzt_study_on(sp, "mtpe", 8);
    pz__history h;
    history_of(&h, sp, 40, 8);
    for (size_t i = 0; i < h.n; i++) {
        double x[3] = {h.cols[0][i], h.cols[1][i], h.cols[2][i]};
        pzt_add_trial(a, (int64_t)i, x, PZ_TRIAL_DONE, h.loss[i]);
        pzt_add_trial(b, (int64_t)i, x, PZ_TRIAL_DONE, h.loss[i]);
    }
    double xa[3], xb[3], xc[3];
    for (int64_t id = 40; id < 50; id++) {
        suggest(a, id, xa);
        suggest(a, id, xc); /* asking again changes nothing */
        suggest(b, id, xb);
        for (size_t j = 0; j < 3; j++) {
            cr_assert_eq(xa[j], xb[j]);
            cr_assert_eq(xa[j], xc[j]);
        }
    }
    suggest(a, 40, xa);
    suggest(a, 41, xb);
    cr_assert_neq(xa[0], xb[0], "two trial ids, one stream");
    pz__history_fini(&h);
    pz_study_free(a);
    pz_study_free(b);
    pz_space_free(sp);
}

/* The log-scale coordinates an ask keeps for the next one (coord_cache)
 * follow the history: a study asked after every new trial proposes what
 * a fresh study with that history proposes, and so it does after a
 * clear and a different, longer history (first asked at more trials
 * than the cache holds: only the history's epoch tells them apart). */
Test(mtpe, cached_log_coordinates_follow_the_history)
{
    const pz_param_spec specs[] = {
        pzt_range(PZ_LOGUNIFORM, log(1e-3), 0), pzt_range(PZ_UNIFORM, -5, 5),
        pzt_qnormal(PZ_QLOGNORMAL, 1, 1, 0.5), pzt_normal(PZ_LOGNORMAL, 0, 1)};
    pz_space *sp = pzt_space_of(specs, 4);
    pz_study *a = pzt_study_on(sp, "mtpe", 8);
    for (uint64_t seed = 1; seed <= 2; seed++) {
        pz__history h;
        history_of(&h, sp, 45 + 10 * seed, seed);
        for (size_t i = 0; i < h.n; i++) {
            double x[4] = {h.cols[0][i], h.cols[1][i], h.cols[2][i],
                           h.cols[3][i]};
            pzt_add_trial(a, (int64_t)i, x, PZ_TRIAL_DONE, h.loss[i]);
            if (i < (seed == 1 ? 10 : 56) || i % 3 != 0) {
                continue;
            }
            pz_study *b = pzt_study_on(sp, "mtpe", 8);
            for (size_t k = 0; k <= i; k++) {
                double y[4] = {h.cols[0][k], h.cols[1][k], h.cols[2][k],
                               h.cols[3][k]};
                pzt_add_trial(b, (int64_t)k, y, PZ_TRIAL_DONE, h.loss[k]);
            }
            for (int64_t id = 1000; id < 1020; id++) {
                double xa[4], xb[4];
                suggest(a, id, xa);
                suggest(b, id, xb);
                for (size_t j = 0; j < 4; j++) {
                    cr_assert_eq(xa[j], xb[j],
                                 "history %llu, %zu trials, trial %lld, "
                                 "parameter %zu: %.17g, fresh study %.17g",
                                 (unsigned long long)seed, i + 1, (long long)id,
                                 j, xa[j], xb[j]);
                }
            }
            pz_study_free(b);
        }
        pz__history_fini(&h);
        pz_study_clear(a);
    }
    pz_study_free(a);
    pz_space_free(sp);
}

Test(mtpe, draws_from_the_prior_until_n_startup_jobs_trials)
{
    const pz_param_spec spec = pzt_range(PZ_UNIFORM, -5, 5);
    pz_space *sp = pzt_space_of(&spec, 1);
    pz_study *st = pzt_study_on(sp, "mtpe", 9);
    pzt_set_option(st, "mtpe.n_startup_jobs", 5);
    for (int64_t i = 0; i < 6; i++) {
        double x, prior;
        pz__rng rng;
        pz__rng_seed(&rng, 7, (uint64_t)(100 + i));
        pz__sampler_draw_prior(sp, &rng, &prior);
        suggest(st, 100 + i, &x);
        cr_assert_eq(x == prior, i < 5, "%lld trials: %g vs prior %g",
                     (long long)i, x, prior);
        double v = (double)i - 2.5;
        pzt_add_trial(st, i, &v, PZ_TRIAL_DONE, v * v);
    }
    pz_study_free(st);
    pz_space_free(sp);
}

Test(mtpe, proposes_valid_values_for_every_distribution)
{
    static const double probs[] = {0.5, 0.25, 0.25};
    const pz_param_spec specs[] = {pzt_range(PZ_UNIFORM, -2, 3),
                                   pzt_qrange(PZ_QUNIFORM, 0, 10, 2.5),
                                   pzt_range(PZ_LOGUNIFORM, -3, 1),
                                   pzt_qrange(PZ_QLOGUNIFORM, 0, 5, 4),
                                   pzt_normal(PZ_NORMAL, 0, 3),
                                   pzt_qnormal(PZ_QNORMAL, 2, 4, 0.5),
                                   pzt_normal(PZ_LOGNORMAL, 0, 1),
                                   pzt_qnormal(PZ_QLOGNORMAL, 1, 1, 2),
                                   pzt_range(PZ_RANDINT, 5, 9),
                                   pzt_range(PZ_UNIFORMINT, -4, 4),
                                   pzt_choice(4),
                                   pzt_pchoice(3, probs)};
    size_t n = sizeof specs / sizeof specs[0];
    pz_space *sp = pzt_space_of(specs, n);
    pz_study *st = pzt_study_on(sp, "mtpe", 10);
    pz__history h;
    history_of(&h, sp, 50, 10);
    double x[16];
    for (size_t i = 0; i < h.n; i++) {
        for (size_t j = 0; j < n; j++) {
            x[j] = h.cols[j][i];
        }
        pzt_add_trial(st, (int64_t)i, x, PZ_TRIAL_DONE, h.loss[i]);
    }
    const pz_space *ssp = pz_study_space(st);
    for (int64_t id = 50; id < 90; id++) {
        suggest(st, id, x);
        for (size_t j = 0; j < n; j++) {
            const pz__param *p = &ssp->params[j];
            const char *why = NULL;
            cr_assert(pz__space_value_ok(p, x[j], &why), "%s = %g: %s",
                      p->label, x[j], why);
            if (p->spec.q > 0) {
                double r = x[j] / p->spec.q;
                cr_assert(fabs(r - nearbyint(r)) < 1e-9, "%s = %g, q %g",
                          p->label, x[j], p->spec.q);
            }
        }
        cr_assert(x[0] >= -2 && x[0] < 3);
        cr_assert(x[2] >= exp(-3) && x[2] <= exp(1));
        cr_assert(x[6] > 0);
    }
    pz__history_fini(&h);
    pz_study_free(st);
    pz_space_free(sp);
}

/* -------------------------------------------------- conditional spaces */

/* c = choice(2); c=0: a ~ U(0, 1); c=1: b ~ U(0, 1) and d = choice(2);
 * d=1: e ~ U(-1, 1). Indices: c 0, a 1, b 2, d 3, e 4. */
static pz_space *nested_space(void)
{
    pz_space *sp = NULL;
    pz_error err = {0};
    cr_assert_eq(pz_space_new(&sp, &err), PZ_OK);
    pz_param_spec c = pzt_choice(2), u = pzt_range(PZ_UNIFORM, 0, 1);
    pz_param_spec e = pzt_range(PZ_UNIFORM, -1, 1);
    size_t ic, id;
    cr_assert_eq(pz_space_add(sp, "c", &c, PZ_NO_PARENT, 0, &ic, &err), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "a", &u, ic, 0, NULL, &err), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "b", &u, ic, 1, NULL, &err), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "d", &c, ic, 1, &id, &err), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "e", &e, id, 1, NULL, &err), PZ_OK, "%s",
                 err.msg);
    return sp;
}

/* Best in branch c=1, d=1 near b = 0.2, e = 0.5. */
static double nested_loss(const double *x)
{
    if (x[0] == 0) {
        return 2 + x[1];
    }
    if (x[3] == 0) {
        return 1 + x[2];
    }
    return fabs(x[2] - 0.2) + fabs(x[4] - 0.5);
}

static void assert_active_pattern(const double *x)
{
    cr_assert(x[0] == 0 || x[0] == 1);
    cr_assert_eq(isnan(x[1]), x[0] != 0);
    cr_assert_eq(isnan(x[2]), x[0] != 1);
    cr_assert_eq(isnan(x[3]), x[0] != 1);
    cr_assert_eq(isnan(x[4]), !(x[0] == 1 && x[3] == 1));
}

Test(mtpe, models_nested_conditional_spaces)
{
    pz_space *sp = nested_space();
    pz_study *st = pzt_study_on(sp, "random", 12);
    pz_error e = {0};
    double x[5];
    for (int i = 0; i < 40; i++) {
        int64_t id;
        cr_assert_eq(pz_study_ask(st, &id, x, &e), PZ_OK);
        cr_assert_eq(pz_study_tell(st, id, PZ_TRIAL_DONE, nested_loss(x), &e),
                     PZ_OK);
    }
    cr_assert_eq(pz_study_set_sampler(st, "mtpe", &e), PZ_OK);
    size_t deep = 0, near = 0;
    for (int i = 0; i < 60; i++) {
        int64_t id;
        cr_assert_eq(pz_study_ask(st, &id, x, &e), PZ_OK, "%s", e.msg);
        assert_active_pattern(x);
        if (x[0] == 1 && x[3] == 1) {
            deep++;
            near += fabs(x[4] - 0.5) < 0.25;
        }
        cr_assert_eq(pz_study_tell(st, id, PZ_TRIAL_DONE, nested_loss(x), &e),
                     PZ_OK);
    }
    cr_assert(deep >= 40, "%zu of 60 in the best branch", deep);
    cr_assert(near >= deep / 2, "%zu of %zu near e = 0.5", near, deep);
    pz_study_free(st);
    pz_space_free(sp);
}

Test(mtpe, a_branch_with_one_trial_is_modelled)
{
    pz_space *sp = nested_space();
    pz_study *st = pzt_study_on(sp, "mtpe", 13);
    pzt_set_option(st, "mtpe.n_startup_jobs", 3);
    double t0[5] = {0, 0.3, NAN, NAN, NAN};
    double t1[5] = {0, 0.6, NAN, NAN, NAN};
    double t2[5] = {1, NAN, 0.5, 1, 0.25}; /* the only deep trial */
    pzt_add_trial(st, 0, t0, PZ_TRIAL_DONE, 3);
    pzt_add_trial(st, 1, t1, PZ_TRIAL_DONE, 2);
    pzt_add_trial(st, 2, t2, PZ_TRIAL_DONE, 1);
    double x[5];
    for (int64_t id = 3; id < 40; id++) {
        suggest(st, id, x);
        assert_active_pattern(x);
        for (size_t j = 1; j < 5; j++) {
            cr_assert(isnan(x[j]) || isfinite(x[j]));
        }
    }
    pz_study_free(st);
    pz_space_free(sp);
}

/* ------------------------------------------------------------- pending */

/* Near-duplicates among 10 proposals after 30 finished trials, each
 * proposal becoming a RUNNING trial the next one sees. */
static size_t near_duplicates(uint64_t seed, bool hide)
{
    const pz_param_spec two[] = {pzt_range(PZ_UNIFORM, -5, 5),
                                 pzt_range(PZ_UNIFORM, -5, 5)};
    pz_space *sp = pzt_space_of(two, 2);
    pz_study *st = pzt_study_on(sp, "random", seed);
    pz_error e = {0};
    double x[10][2];
    for (int i = 0; i < 30; i++) {
        int64_t id;
        cr_assert_eq(pz_study_ask(st, &id, x[0], &e), PZ_OK);
        cr_assert_eq(
            pz_study_tell(st, id, PZ_TRIAL_DONE, sq_loss(sp, x[0]), &e), PZ_OK);
    }
    cr_assert_eq(pz_study_set_sampler(st, "mtpe", &e), PZ_OK);
    pzt_set_option(st, "mtpe.hide_pending", hide);
    size_t dups = 0;
    for (int k = 0; k < 10; k++) {
        int64_t id;
        cr_assert_eq(pz_study_ask(st, &id, x[k], &e), PZ_OK, "%s", e.msg);
        for (int j = 0; j < k; j++) {
            dups +=
                fmax(fabs(x[k][0] - x[j][0]), fabs(x[k][1] - x[j][1])) < 0.3;
        }
    }
    pz_study_free(st);
    pz_space_free(sp);
    return dups;
}

Test(mtpe, pending_trials_push_proposals_apart)
{
    size_t seen = 0, hidden = 0;
    for (uint64_t seed = 1; seed <= 6; seed++) {
        seen += near_duplicates(seed, false);
        hidden += near_duplicates(seed, true);
    }
    cr_assert(seen < hidden,
              "near-duplicates: %zu with pending trials as bad observations, "
              "%zu with them hidden",
              seen, hidden);
}

/* ------------------------------------------------- repeated points */

/* A grid of 21 x 3 points, 30 trials from the prior with losses pulling
 * towards (5, category 1): how many of 40 asks (ids 30..69, each on the
 * same history) repeat a trial's point, with and without mtpe.dedup. */
static size_t repeats(bool dedup, const pz__history *h, const pz_space *sp)
{
    pz_study *st = pzt_study_on(sp, "mtpe", 5);
    pzt_set_option(st, "mtpe.dedup", dedup);
    for (size_t i = 0; i < h->n; i++) {
        double x[2] = {h->cols[0][i], h->cols[1][i]};
        pzt_add_trial(st, (int64_t)i, x, PZ_TRIAL_DONE, h->loss[i]);
    }
    size_t n = 0;
    for (int64_t id = 30; id < 70; id++) {
        double y[2];
        suggest(st, id, y);
        bool seen = false;
        for (size_t i = 0; i < h->n && !seen; i++) {
            seen = h->cols[0][i] == y[0] && h->cols[1][i] == y[1];
        }
        n += seen;
    }
    pz_study_free(st);
    return n;
}

static pz_space *grid_space(void)
{
    const pz_param_spec specs[] = {pzt_qrange(PZ_QUNIFORM, 0, 20, 1),
                                   pzt_choice(3)};
    return pzt_space_of(specs, 2);
}

static void grid_history(pz__history *h, const pz_space *sp)
{
    history_of(h, sp, 30, 12);
    for (size_t i = 0; i < h->n; i++) {
        h->loss[i] = fabs(h->cols[0][i] - 5) + 3.0 * (h->cols[1][i] != 1);
    }
}

/* In a space that is one grid (no continuous parameter, no condition),
 * an ask proposes a point no trial has when a candidate it drew is one:
 * a deterministic objective would only repeat a known loss. Without the
 * rule, mtpe's narrow kernels mostly re-propose the best points. */
Test(mtpe, does_not_repeat_an_evaluated_grid_point)
{
    pz_space *sp = grid_space();
    pz__history h;
    grid_history(&h, sp);
    size_t with = repeats(true, &h, sp), without = repeats(false, &h, sp);
    cr_assert(with == 0 && without >= 10,
              "asks repeating a trial's point: %zu with mtpe.dedup, %zu "
              "without",
              with, without);
    pz__history_fini(&h);
    pz_space_free(sp);
}

/* ... nor the point of a trial still running: once an ask's proposal
 * runs as another trial, the same ask again (same id: same stream, and
 * the same model, pending trials being hidden from it) proposes another
 * point -- without the rule it would propose that one again. */
Test(mtpe, does_not_repeat_a_pending_grid_point)
{
    pz_space *sp = grid_space();
    pz__history h;
    grid_history(&h, sp);
    pz_study *st = pzt_study_on(sp, "mtpe", 5);
    for (size_t i = 0; i < h.n; i++) {
        double x[2] = {h.cols[0][i], h.cols[1][i]};
        pzt_add_trial(st, (int64_t)i, x, PZ_TRIAL_DONE, h.loss[i]);
    }
    for (int64_t id = 30; id < 40; id++) {
        double y[2], z[2];
        suggest(st, id, y);
        pzt_add_trial(st, 1000 + id, y, PZ_TRIAL_RUNNING, NAN);
        suggest(st, id, z);
        cr_assert(!(z[0] == y[0] && z[1] == y[1]),
                  "trial %lld proposed %g, %g again: trial %lld runs it",
                  (long long)id, z[0], z[1], (long long)(1000 + id));
    }
    pz_study_free(st);
    pz__history_fini(&h);
    pz_space_free(sp);
}

/* ------------------------------------------------ degenerate histories */

static void assert_proposes(pz_study *st, size_t d, int64_t id)
{
    double x[4];
    suggest(st, id, x);
    for (size_t j = 0; j < d; j++) {
        cr_assert(isfinite(x[j]) && x[j] >= -5 && x[j] < 5, "x%zu = %g", j,
                  x[j]);
    }
}

Test(mtpe, degenerate_histories_still_give_valid_points)
{
    const pz_param_spec two[] = {pzt_range(PZ_UNIFORM, -5, 5),
                                 pzt_range(PZ_UNIFORM, -5, 5)};
    pz_space *sp = pzt_space_of(two, 2);
    const double losses[] = {1.0, NAN, INFINITY, -INFINITY};
    for (size_t c = 0; c < 4; c++) { /* all equal, all NaN, all +-inf */
        pz_study *st = pzt_study_on(sp, "mtpe", 14);
        for (int64_t i = 0; i < 20; i++) {
            double x[2] = {0.25 * (double)i - 2, 0.5};
            pzt_add_trial(st, i, x, PZ_TRIAL_DONE, losses[c]);
        }
        for (int64_t id = 20; id < 30; id++) {
            assert_proposes(st, 2, id);
        }
        pz_study_free(st);
    }
    pz_study *st = pzt_study_on(sp, "mtpe", 14); /* only pending trials */
    for (int64_t i = 0; i < 20; i++) {
        double x[2] = {0.1 * (double)i, -1};
        pzt_add_trial(st, i, x, PZ_TRIAL_RUNNING, NAN);
    }
    assert_proposes(st, 2, 20);
    pz_study_free(st);
    pz_space_free(sp);
}

Test(mtpe, nan_and_infinite_losses_are_the_worst_observations)
{
    /* 10 trials near x = -4 with a non-finite loss, 20 spread over
     * [0, 5) with loss x: however their loss is spelled, the -4 region
     * must look bad (log l - log g lower there than at x = 0.5). */
    const pz_param_spec spec = pzt_range(PZ_UNIFORM, -5, 5);
    pz_space *sp = pzt_space_of(&spec, 1);
    const double bad[] = {NAN, INFINITY, -INFINITY};
    for (size_t c = 0; c < 3; c++) {
        pz__history h;
        pz_error e = {0};
        cr_assert_eq(pz__history_init(&h, 1, &e), PZ_OK);
        for (int64_t i = 0; i < 30; i++) {
            double x = i < 10 ? -4 + 0.01 * (double)i : 0.25 * (double)(i - 10);
            double loss = i < 10 ? bad[c] : x;
            cr_assert_eq(pz__history_append(&h, i, &x, PZ_TRIAL_DONE, loss, &e),
                         PZ_OK);
        }
        double pts[2] = {-4, 0.5}, ll[2], lg[2];
        probe(sp, &h, pts, 2, ll, lg, NULL, 0);
        cr_assert(ll[0] - lg[0] < ll[1] - lg[1] - 1.0,
                  "loss %g: score %g at -4, %g at 0.5", bad[c], ll[0] - lg[0],
                  ll[1] - lg[1]);
        pz__history_fini(&h);
    }
    pz_space_free(sp);
}

/* ------------------------------------------------------------- quality */

Test(mtpe, beats_random_search_on_a_sphere)
{
    /* 4-D sphere, 80 evaluations, 8 seeds: the median best loss of mtpe
     * must be below random search's (same seeds, same startup draws). */
    const pz_param_spec four[] = {
        pzt_range(PZ_UNIFORM, -5, 5), pzt_range(PZ_UNIFORM, -5, 5),
        pzt_range(PZ_UNIFORM, -5, 5), pzt_range(PZ_UNIFORM, -5, 5)};
    pz_space *sp = pzt_space_of(four, 4);
    double best[2][8];
    const char *alg[2] = {"mtpe", "random"};
    for (int a = 0; a < 2; a++) {
        for (uint64_t s = 0; s < 8; s++) {
            pz_study *st = pzt_study_on(sp, alg[a], 100 + s);
            pz_error e = {0};
            best[a][s] = INFINITY;
            for (int i = 0; i < 80; i++) {
                int64_t id;
                double x[4];
                cr_assert_eq(pz_study_ask(st, &id, x, &e), PZ_OK);
                double l = sq_loss(sp, x);
                best[a][s] = fmin(best[a][s], l);
                cr_assert_eq(pz_study_tell(st, id, PZ_TRIAL_DONE, l, &e),
                             PZ_OK);
            }
            pz_study_free(st);
        }
        qsort(best[a], 8, sizeof(double), pzt_cmp_double);
    }
    double med_m = 0.5 * (best[0][3] + best[0][4]);
    double med_r = 0.5 * (best[1][3] + best[1][4]);
    cr_assert(med_m < 0.5 * med_r, "median best: mtpe %g, random %g", med_m,
              med_r);
    pz_space_free(sp);
}

/* ------------------------------------------------------------- options */

static void assert_bad_option(pz_study *st, const char *key, double v)
{
    pz_error e = {0};
    pzt_assert_fails(pz_study_set_option(st, key, v, &e), e, PZ_EINVAL, key);
}

Test(mtpe, options_are_validated_naming_the_key)
{
    const pz_param_spec spec = pzt_range(PZ_UNIFORM, -5, 5);
    pz_space *sp = pzt_space_of(&spec, 1);
    pz_study *st = pzt_study_on(sp, "mtpe", 15);
    pzt_set_option(st, "mtpe.gamma", 0.2);
    pzt_set_option(st, "mtpe.gamma_cap", 0);
    pzt_set_option(st, "mtpe.n_EI_candidates", 5);
    pzt_set_option(st, "mtpe.bw_rule", 1);
    pzt_set_option(st, "mtpe.hide_pending", 1);
    pzt_set_option(st, "mtpe.bw_rule", 2);
    pzt_set_option(st, "mtpe.explore", 0);
    pzt_set_option(st, "mtpe.explore", 1);
    pzt_set_option(st, "mtpe.gap_factor", 0.5);
    pzt_set_option(st, "mtpe.explore_until", 100);
    pzt_set_option(st, "mtpe.dedup", 0);
    pzt_set_option(st, "mtpe.forget", 0);
    pzt_set_option(st, "mtpe.forget", 25);
    assert_bad_option(st, "mtpe.gamma", 0);
    assert_bad_option(st, "mtpe.gamma", 1.5);
    assert_bad_option(st, "mtpe.gamma", NAN);
    assert_bad_option(st, "mtpe.prior_weight", 0);
    assert_bad_option(st, "mtpe.n_startup_jobs", 2.5);
    assert_bad_option(st, "mtpe.n_EI_candidates", 0);
    assert_bad_option(st, "mtpe.bw_factor", -1);
    assert_bad_option(st, "mtpe.bw_min", 2);
    assert_bad_option(st, "mtpe.cat_smooth", INFINITY);
    assert_bad_option(st, "mtpe.bw_rule", 3);
    assert_bad_option(st, "mtpe.hide_pending", 0.5);
    assert_bad_option(st, "mtpe.explore", 1.5);
    assert_bad_option(st, "mtpe.explore", -0.1);
    assert_bad_option(st, "mtpe.gap_factor", 0);
    assert_bad_option(st, "mtpe.explore_until", -1);
    assert_bad_option(st, "mtpe.dedup", 2);
    assert_bad_option(st, "mtpe.forget", 2.5);
    assert_bad_option(st, "mtpe.bogus", 1);
    pz_error e = {0};
    pzt_assert_fails(pz_study_set_option(st, "mtpe.bogus", 1, &e), e, PZ_EINVAL,
                     "mtpe options", "gamma_cap", "gap_factor", "dedup",
                     "forget");
    pz_study_free(st);
    pz_space_free(sp);
}
