/*
 * test_mixture.c -- the adaptive Parzen estimators of mixture.c.
 *
 * - hyperopt-spec.md section 6.3's worked vectors: bandwidths, means and
 *   weights of adaptive_parzen_normal, linear forgetting, and the
 *   GMM1/LGMM1 log-density reference values, all to 1e-6;
 * - a naive O(n^2) reference (selection sort, neighbour gaps by scanning,
 *   densities by a plain log-sum-exp over every component) against the
 *   fast paths (radix sort, merged components, windows) on random
 *   histories of up to 5000 observations, ties and outliers included;
 * - samples against densities (chi-square at fixed seeds) for the
 *   bounded/unbounded, continuous/quantized, GMM/LGMM variants, and the
 *   exact truncated sampler used when rejection keeps failing;
 * - categorical posteriors with prior pseudo-counts.
 */
#include "pz_internal.h"
#include "pz_test_stats.h"

#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>

/* ------------------------------------------------------------ helpers */

static pz__arena arena;

static void setup(void)
{
    pz__arena_init(&arena);
}

static void teardown(void)
{
    pz__arena_fini(&arena);
}

TestSuite(mixture, .init = setup, .fini = teardown);

static pz__mixture new_mixture(size_t cap)
{
    pz__mixture m;
    cr_assert_eq(pz__mixture_alloc(&m, cap, &arena), PZ_OK);
    return m;
}

static const pz__parzen_prior prior_0_10 = {
    .mu = 0.0, .sigma = 10.0, .weight = 1.0, .lf = 25};

static void assert_vec(const double *got, const double *want, size_t n,
                       double tol, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        cr_assert(fabs(got[i] - want[i]) <= tol, "%s[%zu] = %.9g, want %.9g",
                  what, i, got[i], want[i]);
    }
}

static void assert_fit(const double *obs, size_t n, const double *w,
                       const double *mu, const double *sigma)
{
    pz__mixture m = new_mixture(n + 1);
    pz__mixture_fit(&m, obs, n, &prior_0_10);
    cr_assert_eq(m.n, n + 1, "n = %zu", m.n);
    assert_vec(m.w, w, n + 1, 1e-6, "w");
    assert_vec(m.mu, mu, n + 1, 1e-6, "mu");
    assert_vec(m.sigma, sigma, n + 1, 1e-6, "sigma");
}

/* A mixture with the components given, bounds and shape as asked. */
static pz__mixture given(const double *w, const double *mu, const double *s,
                         size_t n, double low, double high, double q,
                         bool log_space)
{
    pz__mixture m = new_mixture(n);
    for (size_t i = 0; i < n; i++) {
        m.w[i] = w[i];
        m.mu[i] = mu[i];
        m.sigma[i] = s[i];
    }
    m.n = n;
    m.low = low;
    m.high = high;
    m.q = q;
    m.log_space = log_space;
    pz__mixture_prepare(&m);
    return m;
}

/* ------------------------------------------------- worked vectors 6.3 */

Test(mixture, fit_with_no_observations_is_the_prior)
{
    double w[] = {1}, mu[] = {0}, s[] = {10};
    assert_fit(NULL, 0, w, mu, s);
}

Test(mixture, fit_of_one_observation_above_the_prior_mean)
{
    double obs[] = {3}, w[] = {.5, .5}, mu[] = {0, 3}, s[] = {10, 5};
    assert_fit(obs, 1, w, mu, s);
}

Test(mixture, fit_of_one_observation_below_the_prior_mean)
{
    double obs[] = {-3}, w[] = {.5, .5}, mu[] = {-3, 0}, s[] = {5, 10};
    assert_fit(obs, 1, w, mu, s);
}

Test(mixture, fit_bandwidths_are_the_larger_neighbour_gap_clipped)
{
    double obs[] = {1, -2, 4, 4.5};
    double w[] = {.2, .2, .2, .2, .2}, mu[] = {-2, 0, 1, 4, 4.5};
    double s[] = {2, 10, 3, 3, 10.0 / 6.0};
    assert_fit(obs, 4, w, mu, s);
}

Test(mixture, fit_of_repeated_observations_clips_zero_gaps)
{
    double obs[] = {1, 1, 1}, w[] = {.25, .25, .25, .25};
    double mu[] = {0, 1, 1, 1}, s[] = {10, 2, 2, 2};
    assert_fit(obs, 3, w, mu, s);
}

Test(mixture, linear_forgetting_ramps_the_oldest_observations)
{
    double w[30];
    pz__mixture_lf_weights(w, 30, 25);
    double want[5] = {1.0 / 30, 0.275, 0.516666667, 0.758333333, 1.0};
    assert_vec(w, want, 5, 1e-6, "lf");
    for (size_t i = 5; i < 30; i++) {
        cr_assert_eq(w[i], 1.0, "lf[%zu] = %g", i, w[i]);
    }
    pz__mixture_lf_weights(w, 25, 25);
    for (size_t i = 0; i < 25; i++) {
        cr_assert_eq(w[i], 1.0);
    }
    pz__mixture_lf_weights(w, 26, 25); /* a one-point ramp is 1/n */
    cr_assert_float_eq(w[0], 1.0 / 26, 1e-15);
}

Test(mixture, fit_weights_follow_linear_forgetting_in_tid_order)
{
    double obs[30];
    for (size_t i = 0; i < 30; i++) {
        obs[i] = 100.0 - (double)i; /* newest smallest: order reversed */
    }
    pz__mixture m = new_mixture(31);
    pz__mixture_fit(&m, obs, 30, &prior_0_10);
    double lf[30], total = 1.0; /* prior weight */
    pz__mixture_lf_weights(lf, 30, 25);
    for (size_t i = 0; i < 30; i++) {
        total += lf[i];
    }
    cr_assert_float_eq(m.mu[0], 0.0, 0); /* prior first */
    for (size_t i = 0; i < 30; i++) {
        /* sorted position i + 1 holds obs 71 + i, the (29 - i)-th */
        cr_assert_float_eq(m.w[i + 1], lf[29 - i] / total, 1e-15);
    }
}

static const double ref_w[] = {0.5, 0.5}, ref_mu[] = {0, 1}, ref_s[] = {1, 2};

Test(mixture, gmm_log_density_matches_hyperopt_bounded)
{
    pz__mixture m = given(ref_w, ref_mu, ref_s, 2, -1, 3, 0, false);
    double x[] = {0.5, 2.0}, out[2], want[] = {-1.026712, -1.890048};
    pz__mixture_logpdf(&m, x, 2, out);
    assert_vec(out, want, 2, 1e-6, "GMM1_lpdf");
}

Test(mixture, quantized_gmm_log_probability_matches_hyperopt)
{
    pz__mixture m = given(ref_w, ref_mu, ref_s, 2, -1, 3, 1, false);
    double x[] = {0, 2}, out[2], want[] = {-1.004604, -1.867522};
    pz__mixture_logpdf(&m, x, 2, out);
    assert_vec(out, want, 2, 1e-6, "QGMM1_lpdf");
}

Test(mixture, lgmm_log_density_matches_hyperopt_unbounded)
{
    pz__mixture m =
        given(ref_w, ref_mu, ref_s, 2, -INFINITY, INFINITY, 0, true);
    double x[] = {0.5, 2.0}, out[2], want[] = {-0.791543, -2.057905};
    pz__mixture_logpdf(&m, x, 2, out);
    assert_vec(out, want, 2, 1e-6, "LGMM1_lpdf");
}

Test(mixture, quantized_lgmm_log_probability_matches_hyperopt)
{
    pz__mixture m = given(ref_w, ref_mu, ref_s, 2, -1, 2, 1, true);
    double x[] = {1, 2}, out[2], want[] = {-0.815577, -1.636794};
    pz__mixture_logpdf(&m, x, 2, out);
    assert_vec(out, want, 2, 1e-6, "QLGMM1_lpdf");
}

Test(mixture, densities_outside_the_support_are_minus_infinity)
{
    pz__mixture m = given(ref_w, ref_mu, ref_s, 2, -1, 3, 0, false);
    double x[] = {-1.5, 3.5}, out[2];
    pz__mixture_logpdf(&m, x, 2, out);
    cr_assert(isinf(out[0]) && out[0] < 0 && isinf(out[1]) && out[1] < 0);
    pz__mixture l =
        given(ref_w, ref_mu, ref_s, 2, -INFINITY, INFINITY, 0, true);
    double y[] = {0.0, -1.0};
    pz__mixture_logpdf(&l, y, 2, out);
    cr_assert(isinf(out[0]) && out[0] < 0 && isinf(out[1]) && out[1] < 0);
}

Test(mixture, far_tails_stay_finite_where_plain_erf_differences_vanish)
{
    /* 60 sigmas out, 0.5 * (1 + erf) differences are exactly 0 and
     * hyperopt's log gives -inf; the log-space path stays finite and
     * ordered. */
    pz__mixture m =
        given(ref_w, ref_mu, ref_s, 2, -INFINITY, INFINITY, 1, false);
    double x[] = {120, 140, -121}, out[3];
    pz__mixture_logpdf(&m, x, 3, out);
    for (size_t i = 0; i < 3; i++) {
        cr_assert(isfinite(out[i]), "out[%zu] = %g", i, out[i]);
    }
    cr_assert(out[0] > out[1]);
    /* log Phi asymptotics: the mass of [119.5, 120.5] under N(1, 2) */
    double z = (119.5 - 1) / 2;
    double want = log(0.5) - 0.5 * z * z - log(z * sqrt(2 * PZ_PI));
    cr_assert(fabs(out[0] - want) < 0.01, "%g vs %g", out[0], want);
}

/* -------------------------------------------------- naive reference */

/* O(n^2) adaptive_parzen_normal straight from the definition. */
static size_t naive_fit(const double *obs, size_t n, const pz__parzen_prior *pr,
                        double *w, double *mu, double *s)
{
    double *v = malloc((n + 1) * sizeof *v), *lw = malloc((n + 1) * sizeof *lw);
    bool *used = calloc(n + 1, sizeof *used);
    for (size_t k = 0; k < n; k++) { /* stable selection sort */
        size_t best = n;
        for (size_t i = 0; i < n; i++) {
            if (!used[i] && (best == n || obs[i] < obs[best])) {
                best = i;
            }
        }
        used[best] = true;
        v[k] = obs[best];
        size_t ramp = n > pr->lf ? n - pr->lf : 0;
        lw[k] = best >= ramp ? 1.0
                : ramp == 1
                    ? 1.0 / (double)n
                    : 1.0 / (double)n + (1 - 1.0 / (double)n) * (double)best /
                                            (double)(ramp - 1);
    }
    size_t pp = 0;
    while (pp < n && (n == 1 ? !(pr->mu < v[0]) : v[pp] < pr->mu)) {
        pp++;
    }
    double total = pr->weight;
    for (size_t i = 0, j = 0; i <= n; i++) {
        mu[i] = i == pp ? pr->mu : v[j];
        w[i] = i == pp ? pr->weight : lw[j];
        j += i != pp;
        total += i == pp ? 0 : w[i];
    }
    for (size_t i = 0; i <= n; i++) {
        double left = i > 0 ? mu[i] - mu[i - 1] : -1;
        double right = i < n ? mu[i + 1] - mu[i] : -1;
        s[i] = n == 1 ? 0.5 * pr->sigma : fmax(left, right);
        s[i] =
            fmin(fmax(s[i], pr->sigma / fmin(100, (double)n + 2)), pr->sigma);
        w[i] /= total;
    }
    s[pp] = pr->sigma;
    free(v);
    free(lw);
    free(used);
    return n + 1;
}

/* Phi(b) - Phi(a), a <= b, by erfc on the side where it is accurate
 * (upper tail for a > 0): plain differences of Phi near 1 cancel. */
static double naive_mass(double a, double b)
{
    if (a > 0) {
        return 0.5 * (erfc(a / sqrt(2.0)) - erfc(b / sqrt(2.0)));
    }
    return 0.5 * (erfc(-b / sqrt(2.0)) - erfc(-a / sqrt(2.0)));
}

/* log density by a plain log-sum-exp over every component. */
static double naive_logpdf(const pz__mixture *m, double x)
{
    double acc = 0.0, t[6000], mx = -INFINITY;
    pz_assert(m->n <= 6000);
    double lb = x - m->q / 2, ub = x + m->q / 2;
    if (m->log_space && m->q > 0) {
        lb = log(fmax(lb, 1e-12));
        ub = log(fmax(ub, 1e-12));
    }
    for (size_t k = 0; k < m->n; k++) {
        double z;
        if (m->q > 0) {
            double a = (lb - m->mu[k]) / m->sigma[k];
            double b = (ub - m->mu[k]) / m->sigma[k];
            t[k] = log(m->w[k]) + log(naive_mass(a, b));
        } else {
            double y = m->log_space ? log(x) : x;
            z = (y - m->mu[k]) / m->sigma[k];
            t[k] = log(m->w[k]) - log(m->sigma[k]) - 0.5 * log(2 * PZ_PI) -
                   0.5 * z * z - (m->log_space ? y : 0);
        }
        mx = fmax(mx, t[k]);
    }
    for (size_t k = 0; k < m->n; k++) {
        acc += exp(t[k] - mx);
    }
    return mx + log(acc);
}

/* A random history: a dense cluster, a spread, outliers and ties. */
static void random_obs(pz__rng *rng, double *obs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double u = pz__rng_uniform(rng);
        if (u < 0.4) {
            obs[i] = 1.5 + 0.05 * pz__rng_normal(rng);
        } else if (u < 0.8) {
            obs[i] = -10 + 20 * pz__rng_uniform(rng);
        } else if (u < 0.85) {
            obs[i] = 40 * pz__rng_normal(rng);
        } else {
            obs[i] = (double)pz__rng_below(rng, 5) - 2; /* ties */
        }
    }
}

static void compare_fit(const double *obs, size_t n)
{
    const pz__parzen_prior pr = {
        .mu = 0.5, .sigma = 20, .weight = 0.7, .lf = 25};
    double *w = malloc((n + 1) * sizeof *w), *mu = malloc((n + 1) * sizeof *w),
           *s = malloc((n + 1) * sizeof *w);
    naive_fit(obs, n, &pr, w, mu, s);
    pz__mixture m = new_mixture(n + 1);
    pz__mixture_fit(&m, obs, n, &pr);
    for (size_t i = 0; i <= n; i++) {
        cr_assert_eq(m.mu[i], mu[i], "n=%zu mu[%zu]: %.17g vs %.17g", n, i,
                     m.mu[i], mu[i]);
        cr_assert_eq(m.sigma[i], s[i], "n=%zu sigma[%zu]", n, i);
        cr_assert(fabs(m.w[i] - w[i]) <= 1e-15, "n=%zu w[%zu]", n, i);
    }
    free(w);
    free(mu);
    free(s);
}

Test(mixture, fit_matches_the_naive_reference)
{
    pz__rng rng;
    pz__rng_seed(&rng, 11, 0);
    size_t sizes[] = {2, 3, 7, 25, 26, 63, 64, 65, 500, 2047, 2048, 5000};
    double *obs = malloc(5000 * sizeof *obs);
    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
        random_obs(&rng, obs, sizes[t]);
        compare_fit(obs, sizes[t]);
        pz__arena_reset(&arena);
    }
    free(obs);
}

Test(mixture, fit_sorts_nearly_equal_values_exactly)
{
    /* Values sharing their top 33 bits defeat the fast partial sort;
     * the full radix sort must take over and agree. */
    size_t n = 5000;
    double *obs = malloc(n * sizeof *obs);
    pz__rng rng;
    pz__rng_seed(&rng, 12, 0);
    for (size_t i = 0; i < n; i++) {
        obs[i] = 1.0 + (double)pz__rng_below(&rng, 1000000) * 1e-15;
    }
    compare_fit(obs, n);
    free(obs);
}

/* Points where densities are checked: near data, between, far out. */
static void probe_points(pz__rng *rng, double *x, size_t n, bool positive)
{
    for (size_t i = 0; i < n; i++) {
        double u = pz__rng_uniform(rng);
        double v = u < 0.3   ? 1.5 + 0.1 * pz__rng_normal(rng)
                   : u < 0.8 ? -12 + 24 * pz__rng_uniform(rng)
                             : 80 * pz__rng_normal(rng);
        x[i] = positive ? exp(v / 8) : v;
    }
}

static void compare_density(pz__mixture *m, pz__rng *rng, double q,
                            bool log_space)
{
    double x[200], out[200];
    probe_points(rng, x, 200, log_space);
    for (size_t i = 0; i < 200 && q > 0; i++) {
        x[i] = pz__space_quantize(x[i], q);
    }
    pz__mixture_logpdf(m, x, 200, out);
    for (size_t i = 0; i < 200; i++) {
        double want = naive_logpdf(m, x[i]);
        if (!isfinite(want)) { /* the naive path underflowed */
            cr_assert(out[i] < -600 || !isfinite(out[i]));
            continue;
        }
        /* A quantum tiny next to a log-space value leaves the interval a
         * few ulps of log(x) wide: both sides only know its mass to
         * ~ulp(log x) / width (relative). */
        double tol = 1e-8 * fmax(1, fabs(want));
        if (q > 0 && log_space && x[i] > q) {
            double y = log(x[i] + q / 2);
            tol += 4 * y * DBL_EPSILON / log1p(q / (x[i] - q / 2));
        }
        cr_assert(fabs(out[i] - want) <= tol,
                  "n=%zu q=%g log=%d x=%.17g: %.15g vs naive %.15g", m->n, q,
                  log_space, x[i], out[i], want);
    }
}

Test(mixture, densities_match_the_naive_reference)
{
    pz__rng rng;
    pz__rng_seed(&rng, 13, 0);
    size_t sizes[] = {1, 5, 40, 300, 5000};
    double *obs = malloc(5000 * sizeof *obs);
    const pz__parzen_prior pr = {.mu = 0, .sigma = 20, .weight = 1, .lf = 25};
    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
        for (int shape = 0; shape < 4; shape++) {
            double q = shape & 1 ? 0.5 : 0.0;
            bool log_space = shape & 2;
            random_obs(&rng, obs, sizes[t]);
            for (size_t i = 0; i < sizes[t] && q > 0 && !log_space; i++) {
                obs[i] = pz__space_quantize(obs[i], q); /* many ties */
            }
            pz__mixture m = new_mixture(sizes[t] + 1);
            m.q = q;
            m.log_space = log_space;
            pz__mixture_fit(&m, obs, sizes[t], &pr);
            compare_density(&m, &rng, q, log_space);
            pz__arena_reset(&arena);
        }
    }
    free(obs);
}

Test(mixture, dense_histories_use_the_fast_gauss_transform_exactly)
{
    /* 3000 observations crowded within a sigma of each other (a history
     * TPE itself produced looks like this): boxes and Hermite moments
     * replace the per-component sums, to the same 1e-8. */
    pz__rng rng;
    pz__rng_seed(&rng, 15, 0);
    size_t n = 3000;
    double *obs = malloc(n * sizeof *obs);
    const pz__parzen_prior pr = {.mu = 0, .sigma = 20, .weight = 1, .lf = 25};
    for (int lsp = 0; lsp < 2; lsp++) {
        for (size_t i = 0; i < n; i++) {
            double u = pz__rng_uniform(&rng);
            obs[i] = u < 0.9 ? 0.3 * pz__rng_normal(&rng)
                             : -10 + 20 * pz__rng_uniform(&rng);
        }
        pz__mixture m = new_mixture(n + 1);
        m.log_space = lsp;
        pz__mixture_fit(&m, obs, n, &pr);
        cr_assert(m.n_boxes > 0 && m.n_eq >= 2000, "FGT off (%zu boxes)",
                  m.n_boxes);
        compare_density(&m, &rng, 0.0, lsp);
        double x[200], out[200];
        for (size_t i = 0; i < 200; i++) { /* every distance from the crowd */
            x[i] = -6 + 12 * (double)i / 200;
            x[i] = lsp ? exp(x[i]) : x[i];
        }
        pz__mixture_logpdf(&m, x, 200, out);
        for (size_t i = 0; i < 200; i++) {
            double want = naive_logpdf(&m, x[i]);
            cr_assert(fabs(out[i] - want) <= 1e-8 * fmax(1, fabs(want)),
                      "log=%d x=%.17g: %.15g vs naive %.15g", lsp, x[i], out[i],
                      want);
        }
        pz__arena_reset(&arena);
    }
    free(obs);
}

/* The brute-force choice: both densities everywhere, first best score,
 * NaN and -inf never winning (0 when nothing wins). */
static size_t brute_argmax(const pz__mixture *l, const pz__mixture *g,
                           const double *x, size_t n)
{
    double ll[64], lg[64], best = -INFINITY;
    size_t bi = 0;
    pz__mixture_logpdf(l, x, n, ll);
    pz__mixture_logpdf(g, x, n, lg);
    for (size_t i = 0; i < n; i++) {
        if (ll[i] - lg[i] > best) {
            best = ll[i] - lg[i];
            bi = i;
        }
    }
    return bi;
}

Test(mixture, argmax_ratio_matches_brute_force)
{
    pz__rng rng;
    pz__rng_seed(&rng, 14, 0);
    double *obs = malloc(5000 * sizeof *obs);
    const pz__parzen_prior pr = {.mu = 0, .sigma = 20, .weight = 1, .lf = 25};
    size_t sizes[] = {3, 60, 800, 5000}, agree = 0, total = 0;
    for (size_t t = 0; t < 4; t++) {
        for (int shape = 0; shape < 4; shape++) {
            double q = shape & 1 ? 0.5 : 0.0;
            bool lsp = shape & 2;
            pz__mixture l = new_mixture(26), g = new_mixture(sizes[t] + 1);
            l.q = g.q = q;
            l.log_space = g.log_space = lsp;
            l.low = g.low = lsp ? log(1e-3) : -10; /* truncated */
            l.high = g.high = lsp ? log(1e3) : 10;
            l.normalise = g.normalise = false;
            random_obs(&rng, obs, sizes[t]);
            for (size_t i = 0; t == 3 && shape == 0 && i < sizes[t]; i++) {
                obs[i] = 0.3 * pz__rng_normal(&rng); /* dense: FGT */
            }
            pz__mixture_fit(&g, obs, sizes[t], &pr);
            random_obs(&rng, obs, 25);
            pz__mixture_fit(&l, obs, 25, &pr);
            for (int rep = 0; rep < 50; rep++) {
                double x[24], ll[24], ub[24];
                for (size_t i = 0; i < 24; i++) {
                    x[i] = pz__mixture_sample(&l, &rng);
                }
                size_t got = pz__mixture_argmax_ratio(&l, &g, x, 24, ll, ub);
                size_t want = brute_argmax(&l, &g, x, 24);
                cr_assert_eq(got, want, "n=%zu q=%g log=%d rep %d", sizes[t], q,
                             lsp, rep);
                agree++;
            }
            total += 50;
            pz__arena_reset(&arena);
        }
    }
    cr_assert_eq(agree, total);
    free(obs);
}

/* --------------------------------------------- samples versus density */

#define N_DRAWS 20000

/* Chi-square of N_DRAWS samples against bin masses from the density:
 * quantized mixtures bin by grid point, continuous ones by 40 bins of
 * [lo, hi) integrated with Simpson's rule on exp(logpdf). */
static double sample_vs_density(const pz__mixture *m, double lo, double hi,
                                uint64_t seed)
{
    enum { BINS = 40 };
    double obs[BINS + 2] = {0}, p[BINS + 2] = {0};
    pz__rng rng;
    pz__rng_seed(&rng, seed, 0);
    double width = (hi - lo) / BINS, step = m->q > 0 ? m->q : width;
    size_t k = m->q > 0 ? (size_t)llround((hi - lo) / m->q) + 1 : BINS;
    cr_assert(k <= BINS + 2);
    for (size_t i = 0; i < N_DRAWS; i++) {
        double x = pz__mixture_sample(m, &rng);
        double b = m->q > 0 ? round((x - lo) / step) : floor((x - lo) / step);
        cr_assert(b >= 0 && b < (double)k, "sample %g outside [%g, %g]", x, lo,
                  hi);
        obs[(size_t)b] += 1;
    }
    for (size_t b = 0; b < k; b++) {
        if (m->q > 0) {
            double x = lo + (double)b * step;
            pz__mixture_logpdf(m, &x, 1, &p[b]);
            p[b] = exp(p[b]);
            continue;
        }
        for (int j = 0; j <= 200; j++) { /* Simpson on 200 panels */
            double x = lo + width * ((double)b + j / 200.0), l;
            pz__mixture_logpdf(m, &x, 1, &l);
            double c = (j == 0 || j == 200) ? 1 : (j % 2 ? 4 : 2);
            p[b] += c * exp(l) * width / 600.0;
        }
    }
    double total = 0;
    for (size_t b = 0; b < k; b++) {
        total += p[b];
    }
    cr_assert(fabs(total - 1) < 2e-3, "density mass %g", total);
    return pzt_chi2_pvalue(obs, p, k, N_DRAWS);
}

static const double sw[] = {0.2, 0.5, 0.3}, smu[] = {-1, 0.5, 2.5},
                    ss[] = {0.5, 1.0, 3.0};

Test(mixture, bounded_gmm_samples_follow_its_density)
{
    pz__mixture m = given(sw, smu, ss, 3, -2, 3, 0, false);
    double p = sample_vs_density(&m, -2, 3, 1);
    cr_assert(p > PZ_TEST_ALPHA, "p = %g", p);
}

Test(mixture, unbounded_gmm_samples_follow_its_density)
{
    pz__mixture m = given(sw, smu, ss, 3, -INFINITY, INFINITY, 0, false);
    /* Restrict the comparison to [-6, 12): the rest is ~1e-4 of mass. */
    pz__mixture b = given(sw, smu, ss, 3, -6, 12, 0, false);
    double p = sample_vs_density(&b, -6, 12, 2);
    cr_assert(p > PZ_TEST_ALPHA, "p = %g", p);
    pz__rng rng;
    pz__rng_seed(&rng, 3, 0);
    double mean = 0;
    for (int i = 0; i < N_DRAWS; i++) {
        mean += pz__mixture_sample(&m, &rng) / N_DRAWS;
    }
    double want = 0.2 * -1 + 0.5 * 0.5 + 0.3 * 2.5; /* sd ~1.9 */
    cr_assert(fabs(mean - want) < 0.05, "mean %g vs %g", mean, want);
}

Test(mixture, quantized_gmm_samples_follow_its_probabilities)
{
    pz__mixture m = given(sw, smu, ss, 3, -2, 3, 0.5, false);
    double p = sample_vs_density(&m, -2, 3, 4);
    cr_assert(p > PZ_TEST_ALPHA, "p = %g", p);
}

Test(mixture, bounded_lgmm_samples_follow_its_density)
{
    pz__mixture m = given(sw, smu, ss, 3, log(0.5), log(8.0), 0, true);
    /* The continuous LGMM density is not truncation-normalised (as in
     * hyperopt): compare the samples with the normalised shape. */
    pz__mixture norm = m;
    double lo = 0.5, hi = 8.0, mass = 0;
    for (int j = 0; j <= 4000; j++) {
        double x = lo + (hi - lo) * j / 4000.0, l;
        pz__mixture_logpdf(&norm, &x, 1, &l);
        mass += ((j == 0 || j == 4000) ? 1 : (j % 2 ? 4 : 2)) * exp(l) *
                (hi - lo) / 12000.0;
    }
    norm.log_scale -= log(mass);
    double p = sample_vs_density(&norm, lo, hi, 5);
    cr_assert(p > PZ_TEST_ALPHA, "p = %g", p);
}

Test(mixture, quantized_lgmm_samples_follow_its_probabilities)
{
    pz__mixture m = given(sw, smu, ss, 3, log(0.6), log(12.0), 1, true);
    double p = sample_vs_density(&m, 1, 12, 6);
    cr_assert(p > PZ_TEST_ALPHA, "p = %g", p);
}

Test(mixture, hopeless_rejection_falls_back_to_exact_truncated_sampling)
{
    /* One component at 5 sigmas from [0, 1): ~3e-5 acceptance. */
    double w[] = {1}, mu[] = {5.5}, s[] = {1};
    pz__mixture m = given(w, mu, s, 1, 0, 1, 0, false);
    double p = sample_vs_density(&m, 0, 1, 7);
    cr_assert(p > PZ_TEST_ALPHA, "p = %g", p);
    /* 100 sigmas away: the exponential tail approximation, all in range
     * and crowding the near end. */
    double mu2[] = {101};
    pz__mixture far = given(w, mu2, s, 1, 0, 1, 0, false);
    pz__rng rng;
    pz__rng_seed(&rng, 8, 0);
    double mean = 0;
    for (int i = 0; i < 1000; i++) {
        double x = pz__mixture_sample(&far, &rng);
        cr_assert(x >= 0 && x < 1, "x = %g", x);
        mean += x / 1000;
    }
    cr_assert(fabs(mean - (1 - 1.0 / 100)) < 0.003, "mean %g", mean);
}

/* -------------------------------------------------------- categorical */

Test(mixture, categorical_posterior_adds_prior_weight_per_category)
{
    double obs[] = {2, 0, 2, 2}, w[] = {1, 1, 1, 1};
    pz__categorical c;
    pz__mixture_categorical(&c, 4, 0, NULL, 1.0, obs, w, 4, NULL);
    double want[] = {2.0 / 8, 1.0 / 8, 4.0 / 8, 1.0 / 8};
    for (size_t i = 0; i < 4; i++) {
        cr_assert_float_eq(exp(pz__mixture_categorical_logp(&c, i)), want[i],
                           1e-12);
    }
}

Test(mixture, randint_posterior_counts_values_minus_low)
{
    double obs[] = {12, 14, 14}, w[] = {1, 1, 1}, counts[3];
    pz__categorical c, d;
    pz__mixture_categorical(&c, 3, 12, NULL, 0.5, obs, w, 3, counts);
    pz__mixture_categorical(&d, 3, 12, NULL, 0.5, obs, w, 3, NULL);
    double want[] = {1.5 / 4.5, 0.5 / 4.5, 2.5 / 4.5};
    for (size_t i = 0; i < 3; i++) {
        cr_assert_float_eq(exp(pz__mixture_categorical_logp(&c, i)), want[i],
                           1e-12);
        cr_assert_float_eq(exp(pz__mixture_categorical_logp(&d, i)), want[i],
                           1e-12);
    }
}

Test(mixture, pchoice_posterior_scales_prior_by_k_times_p0)
{
    double p0[] = {0.1, 0.9}, obs[] = {0, 0, 0}, w[] = {0.5, 1, 1};
    pz__categorical c;
    pz__mixture_categorical(&c, 2, 0, p0, 2.0, obs, w, 3, NULL);
    /* counts (2.5, 0) + 2 * 2 * (0.1, 0.9) = (2.9, 3.6), sum 6.5 */
    cr_assert_float_eq(exp(pz__mixture_categorical_logp(&c, 0)), 2.9 / 6.5,
                       1e-12);
    cr_assert_float_eq(exp(pz__mixture_categorical_logp(&c, 1)), 3.6 / 6.5,
                       1e-12);
}

Test(mixture, categorical_samples_follow_the_posterior)
{
    double p0[] = {0.1, 0.2, 0.3, 0.4}, obs[40], w[40];
    for (size_t i = 0; i < 40; i++) {
        obs[i] = (double)(i % 3);
    }
    pz__mixture_lf_weights(w, 40, 25);
    pz__categorical c;
    pz__mixture_categorical(&c, 4, 0, p0, 1.0, obs, w, 40, NULL);
    double counts[4] = {0}, p[4];
    pz__rng rng;
    pz__rng_seed(&rng, 9, 0);
    for (int i = 0; i < N_DRAWS; i++) {
        counts[pz__mixture_categorical_sample(&c, &rng)] += 1;
    }
    for (size_t i = 0; i < 4; i++) {
        p[i] = exp(pz__mixture_categorical_logp(&c, i));
    }
    double pv = pzt_chi2_pvalue(counts, p, 4, N_DRAWS);
    cr_assert(pv > PZ_TEST_ALPHA, "p = %g", pv);
}
