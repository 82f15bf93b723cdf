/*
 * test_space.c -- the parameter table: every distribution samples in its
 * range, on its grid and with the right distribution (goodness of fit at
 * fixed seeds against exact CDFs and bin masses computed here), the
 * activity of conditional parameters, every validation rejection, and
 * hyperopt's rounding.
 *
 * Samples come through the public path a driver uses: a study on a
 * one-parameter space, pz_study_suggest(id, seed) for ids 0..N-1, so each
 * sample is the first draw of its own trial stream.
 */
#include "pz_internal.h"
#include "pz_test_stats.h"
#include "pz_test_util.h"

#include <criterion/criterion.h>
#include <stdio.h>

#define N_SAMPLES 10000
#define SEED 20240501u

static double samples[N_SAMPLES];

/* N_SAMPLES draws of a lone parameter labelled "x" into 'samples'. */
static void draw_samples(const pz_param_spec *spec, uint64_t seed)
{
    pz_space *sp = NULL;
    pz_study *st = NULL;
    pz_error e = {0};
    cr_assert_eq(pz_space_new(&sp, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "x", spec, PZ_NO_PARENT, 0, NULL, &e), PZ_OK,
                 "%s", e.msg);
    cr_assert_eq(pz_study_new(&st, sp, &e), PZ_OK, "%s", e.msg);
    for (size_t i = 0; i < N_SAMPLES; i++) {
        cr_assert_eq(pz_study_suggest(st, (int64_t)i, seed, &samples[i], &e),
                     PZ_OK, "%s", e.msg);
    }
    pz_study_free(st);
    pz_space_free(sp);
}

static void assert_in(double lo, double hi)
{
    for (size_t i = 0; i < N_SAMPLES; i++) {
        cr_assert(samples[i] >= lo && samples[i] <= hi,
                  "sample %zu = %.17g outside [%.17g, %.17g]", i, samples[i],
                  lo, hi);
    }
}

/* ------------------------------------------------- continuous: KS tests */

typedef struct dist_args {
    double a, b; /* low/high (log space for log dists) or mu/sigma */
} dist_args;

static double cdf_uniform(double v, const void *ctx)
{
    const dist_args *d = ctx;
    return fmin(1.0, fmax(0.0, (v - d->a) / (d->b - d->a)));
}

static double cdf_loguniform(double v, const void *ctx)
{
    const dist_args *d = ctx;
    return v <= 0 ? 0.0 : fmin(1.0, fmax(0.0, (log(v) - d->a) / (d->b - d->a)));
}

static double cdf_normal(double v, const void *ctx)
{
    const dist_args *d = ctx;
    return pzt_phi((v - d->a) / d->b);
}

static double cdf_lognormal(double v, const void *ctx)
{
    const dist_args *d = ctx;
    return v <= 0 ? 0.0 : pzt_phi((log(v) - d->a) / d->b);
}

static void assert_ks(double (*cdf)(double, const void *), dist_args d)
{
    static double sorted[N_SAMPLES];
    memcpy(sorted, samples, sizeof sorted);
    double p = pzt_ks_pvalue(sorted, N_SAMPLES, cdf, &d);
    cr_assert_gt(p, PZ_TEST_ALPHA, "KS p = %g (args %g, %g)", p, d.a, d.b);
}

Test(space, uniform_stays_in_range_and_matches_its_cdf)
{
    pz_param_spec s = pzt_range(PZ_UNIFORM, -2.0, 3.0);
    draw_samples(&s, SEED);
    assert_in(-2.0, 3.0);
    assert_ks(cdf_uniform, (dist_args){-2.0, 3.0});
}

Test(space, loguniform_takes_bounds_in_log_space)
{
    pz_param_spec s = pzt_range(PZ_LOGUNIFORM, -3.0, 2.0);
    draw_samples(&s, SEED);
    assert_in(exp(-3.0), exp(2.0));
    assert_ks(cdf_loguniform, (dist_args){-3.0, 2.0});
}

Test(space, normal_matches_its_cdf)
{
    pz_param_spec s = pzt_normal(PZ_NORMAL, 1.5, 2.0);
    draw_samples(&s, SEED);
    assert_in(-HUGE_VAL, HUGE_VAL);
    assert_ks(cdf_normal, (dist_args){1.5, 2.0});
}

Test(space, lognormal_is_positive_and_matches_its_cdf)
{
    pz_param_spec s = pzt_normal(PZ_LOGNORMAL, 0.5, 0.75);
    draw_samples(&s, SEED);
    for (size_t i = 0; i < N_SAMPLES; i++) {
        cr_assert_gt(samples[i], 0.0);
    }
    assert_ks(cdf_lognormal, (dist_args){0.5, 0.75});
}

Test(space, continuous_tests_detect_a_wrong_distribution)
{
    /* The KS check must be able to fail: loguniform samples are not
     * uniform on [exp(low), exp(high)]. */
    pz_param_spec s = pzt_range(PZ_LOGUNIFORM, 0.0, 2.0);
    draw_samples(&s, SEED);
    static double sorted[N_SAMPLES];
    memcpy(sorted, samples, sizeof sorted);
    dist_args wrong = {1.0, exp(2.0)};
    cr_assert_lt(pzt_ks_pvalue(sorted, N_SAMPLES, cdf_uniform, &wrong), 1e-6);
}

/* ----------------------------------------- quantized: grid + chi-square */

typedef struct grid {
    double q;        /* spacing of the values: v = k * q */
    long kmin, kmax; /* bins; values beyond are folded into the ends */
    double (*mass)(long k, const struct grid *g); /* exact P(v = k q) */
    double a, b;                                  /* distribution args */
} grid;

/* Probability that the continuous value before rounding, x, lies in
 * [lo, hi]; the rounding ties have measure zero. */
static double uniform_mass(double lo, double hi, double a, double b)
{
    return fmax(0.0, fmin(hi, b) - fmax(lo, a)) / (b - a);
}

static double log_or_minus_inf(double v)
{
    return v > 0 ? log(v) : -HUGE_VAL;
}

static double mass_quniform(long k, const grid *g)
{
    double c = (double)k * g->q;
    return uniform_mass(c - 0.5 * g->q, c + 0.5 * g->q, g->a, g->b);
}

static double mass_qloguniform(long k, const grid *g)
{
    double c = (double)k * g->q;
    return uniform_mass(log_or_minus_inf(c - 0.5 * g->q),
                        log_or_minus_inf(c + 0.5 * g->q), g->a, g->b);
}

/* Normal-likes: the end bins take the tails so the masses sum to 1. */
static double normal_mass_between(double lo, double hi, const grid *g, long k)
{
    double plo = k == g->kmin ? 0.0 : pzt_phi((lo - g->a) / g->b);
    double phi = k == g->kmax ? 1.0 : pzt_phi((hi - g->a) / g->b);
    return phi - plo;
}

static double mass_qnormal(long k, const grid *g)
{
    double c = (double)k * g->q;
    return normal_mass_between(c - 0.5 * g->q, c + 0.5 * g->q, g, k);
}

static double mass_qlognormal(long k, const grid *g)
{
    double c = (double)k * g->q;
    return normal_mass_between(log_or_minus_inf(c - 0.5 * g->q),
                               log_or_minus_inf(c + 0.5 * g->q), g, k);
}

static double mass_uniform_int(long k, const grid *g)
{
    /* randint / choice: a, b = first and one-past-last value. */
    return (double)k >= g->a && (double)k < g->b ? 1.0 / (g->b - g->a) : 0.0;
}

/* Every sample lies on the grid; 'clamp' folds samples beyond the bins
 * into the end bins (for unbounded normal-likes); otherwise they fail. */
static void assert_grid_fit(const grid *g, bool clamp)
{
    size_t nb = (size_t)(g->kmax - g->kmin + 1);
    static double obs[4096], prob[4096];
    cr_assert_leq(nb, 4096);
    memset(obs, 0, nb * sizeof *obs);
    double total = 0.0;
    for (size_t b = 0; b < nb; b++) {
        prob[b] = g->mass(g->kmin + (long)b, g);
        total += prob[b];
    }
    cr_assert_lt(fabs(total - 1.0), 1e-9, "bin masses sum to %.15g", total);
    for (size_t i = 0; i < N_SAMPLES; i++) {
        double v = samples[i], r = v / g->q, k = nearbyint(r);
        cr_assert(fabs(r - k) <= 1e-9 * fmax(1.0, fabs(k)),
                  "sample %.17g is not a multiple of q = %g", v, g->q);
        cr_assert_eq(v, pz__space_quantize(v, g->q),
                     "sample %.17g is not exactly on the grid", v);
        if (clamp) {
            k = fmin(fmax(k, (double)g->kmin), (double)g->kmax);
        }
        cr_assert(k >= (double)g->kmin && k <= (double)g->kmax,
                  "sample %.17g is outside the support", v);
        obs[(size_t)((long)k - g->kmin)]++;
    }
    for (size_t b = 0; b < nb; b++) {
        cr_assert(prob[b] > 0.0 || obs[b] == 0.0,
                  "value %g has probability 0 but was drawn %g times",
                  (double)(g->kmin + (long)b) * g->q, obs[b]);
    }
    double p = pzt_chi2_pvalue(obs, prob, nb, N_SAMPLES);
    cr_assert_gt(p, PZ_TEST_ALPHA, "chi-square p = %g", p);
}

Test(space, quniform_gives_end_points_their_partial_mass)
{
    /* quniform(0, 10, 4): x in [0, 2] -> 0, (2, 6) -> 4, [6, 10) -> 8,
     * i.e. 20%, 40%, 40%; never 12. */
    pz_param_spec s = pzt_qrange(PZ_QUNIFORM, 0.0, 10.0, 4.0);
    draw_samples(&s, SEED);
    assert_in(0.0, 8.0);
    grid g = {.q = 4.0, .kmin = 0, .kmax = 2, .mass = mass_quniform, 0, 10};
    cr_assert_float_eq(mass_quniform(0, &g), 0.2, 1e-15);
    cr_assert_float_eq(mass_quniform(1, &g), 0.4, 1e-15);
    cr_assert_float_eq(mass_quniform(2, &g), 0.4, 1e-15);
    assert_grid_fit(&g, false);
}

Test(space, quniform_with_a_fractional_q_and_offset_bounds)
{
    pz_param_spec s = pzt_qrange(PZ_QUNIFORM, -3.3, 7.1, 0.5);
    draw_samples(&s, SEED + 1);
    assert_in(-3.5, 7.0);
    grid g = {
        .q = 0.5, .kmin = -7, .kmax = 14, .mass = mass_quniform, -3.3, 7.1};
    assert_grid_fit(&g, false);
}

Test(space, quniform_can_round_below_low_as_hyperopt_does)
{
    /* hyperopt: quniform(0.5, 3, 1) rounds 0.5 down to 0 (half to even);
     * only x = 0.5 exactly does, so the mass of 0 is zero. 1 and 2 get
     * 40%, 3 gets 20%. */
    pz_param_spec s = pzt_qrange(PZ_QUNIFORM, 0.5, 3.0, 1.0);
    draw_samples(&s, SEED + 2);
    grid g = {.q = 1.0, .kmin = 0, .kmax = 3, .mass = mass_quniform, 0.5, 3};
    cr_assert_float_eq(mass_quniform(3, &g), 0.2, 1e-15);
    assert_grid_fit(&g, false);
}

Test(space, uniformint_gives_the_ends_half_mass)
{
    /* hyperopt (verified): uniformint(1, 3) -> 1: 25%, 2: 50%, 3: 25%. */
    pz_param_spec s = pzt_range(PZ_UNIFORMINT, 1.0, 3.0);
    draw_samples(&s, SEED);
    assert_in(1.0, 3.0);
    grid g = {.q = 1.0, .kmin = 1, .kmax = 3, .mass = mass_quniform, 1, 3};
    cr_assert_float_eq(mass_quniform(1, &g), 0.25, 1e-15);
    cr_assert_float_eq(mass_quniform(2, &g), 0.5, 1e-15);
    assert_grid_fit(&g, false);
    for (size_t i = 0; i < N_SAMPLES; i++) {
        cr_assert_eq(samples[i], floor(samples[i]));
    }
}

Test(space, uniformint_over_a_wider_range)
{
    pz_param_spec s = pzt_range(PZ_UNIFORMINT, -5.0, 20.0);
    draw_samples(&s, SEED + 3);
    assert_in(-5.0, 20.0);
    grid g = {.q = 1.0, .kmin = -5, .kmax = 20, .mass = mass_quniform, -5, 20};
    assert_grid_fit(&g, false);
}

Test(space, qloguniform_rounds_the_exponentiated_value)
{
    /* exp(U(log 1, log 100)) rounded to multiples of 5: 0 gets
     * P(x < 2.5), each k*5 gets P(x in [5k-2.5, 5k+2.5]). */
    pz_param_spec s = pzt_qrange(PZ_QLOGUNIFORM, 0.0, log(100.0), 5.0);
    draw_samples(&s, SEED);
    assert_in(0.0, 100.0);
    grid g = {.q = 5.0,
              .kmin = 0,
              .kmax = 20,
              .mass = mass_qloguniform,
              0.0,
              log(100.0)};
    cr_assert_float_eq(mass_qloguniform(0, &g), log(2.5) / log(100.0), 1e-15);
    assert_grid_fit(&g, false);
}

Test(space, qloguniform_with_a_small_q)
{
    pz_param_spec s = pzt_qrange(PZ_QLOGUNIFORM, -6.9, 0.0, 0.01);
    draw_samples(&s, SEED + 4);
    assert_in(0.0, 1.0);
    grid g = {
        .q = 0.01, .kmin = 0, .kmax = 100, .mass = mass_qloguniform, -6.9, 0.0};
    assert_grid_fit(&g, false);
}

Test(space, qnormal_matches_the_rounded_normal)
{
    pz_param_spec s = pzt_qnormal(PZ_QNORMAL, 1.0, 3.0, 2.0);
    draw_samples(&s, SEED);
    grid g = {.q = 2.0, .kmin = -6, .kmax = 7, .mass = mass_qnormal, 1.0, 3.0};
    assert_grid_fit(&g, true);
}

Test(space, qlognormal_is_non_negative_and_matches)
{
    pz_param_spec s = pzt_qnormal(PZ_QLOGNORMAL, 2.0, 0.5, 1.0);
    draw_samples(&s, SEED);
    assert_in(0.0, HUGE_VAL);
    grid g = {
        .q = 1.0, .kmin = 0, .kmax = 40, .mass = mass_qlognormal, 2.0, 0.5};
    assert_grid_fit(&g, true);
}

Test(space, qlognormal_can_round_to_zero)
{
    /* exp(N(-3, 1)) is mostly below 0.5: most samples round to 0. */
    pz_param_spec s = pzt_qnormal(PZ_QLOGNORMAL, -3.0, 1.0, 1.0);
    draw_samples(&s, SEED + 5);
    grid g = {
        .q = 1.0, .kmin = 0, .kmax = 3, .mass = mass_qlognormal, -3.0, 1.0};
    cr_assert_gt(mass_qlognormal(0, &g), 0.75);
    assert_grid_fit(&g, true);
}

/* ------------------------------------------------------ integer dists */

Test(space, randint_with_upper_draws_from_zero_to_upper_exclusive)
{
    pz_param_spec s = pzt_range(PZ_RANDINT, 0.0, 7.0);
    draw_samples(&s, SEED);
    assert_in(0.0, 6.0);
    grid g = {.q = 1.0, .kmin = 0, .kmax = 6, .mass = mass_uniform_int, 0, 7};
    assert_grid_fit(&g, false);
}

Test(space, randint_with_low_and_high_draws_from_low_to_high_exclusive)
{
    pz_param_spec s = pzt_range(PZ_RANDINT, -3.0, 4.0);
    draw_samples(&s, SEED + 6);
    assert_in(-3.0, 3.0);
    grid g = {.q = 1.0, .kmin = -3, .kmax = 3, .mass = mass_uniform_int, -3, 4};
    assert_grid_fit(&g, false);
}

Test(space, randint_with_a_huge_range_stays_in_range)
{
    pz_param_spec s =
        pzt_range(PZ_RANDINT, -9007199254740992.0, 9007199254740992.0);
    draw_samples(&s, SEED);
    assert_in(-9007199254740992.0, 9007199254740991.0);
    for (size_t i = 0; i < N_SAMPLES; i++) {
        cr_assert_eq(samples[i], floor(samples[i]));
    }
}

Test(space, choice_picks_every_option_equally)
{
    pz_param_spec s = pzt_choice(5);
    draw_samples(&s, SEED);
    assert_in(0.0, 4.0);
    grid g = {.q = 1.0, .kmin = 0, .kmax = 4, .mass = mass_uniform_int, 0, 5};
    assert_grid_fit(&g, false);
}

Test(space, choice_with_one_option_always_picks_it)
{
    pz_param_spec s = pzt_choice(1);
    draw_samples(&s, SEED);
    assert_in(0.0, 0.0);
}

static const double pchoice_probs[] = {0.1, 0.6, 0.0, 0.3};

static double mass_pchoice(long k, const grid *g)
{
    (void)g;
    return pchoice_probs[k];
}

Test(space, pchoice_follows_its_probabilities)
{
    pz_param_spec s = pzt_pchoice(4, pchoice_probs);
    draw_samples(&s, SEED);
    assert_in(0.0, 3.0);
    grid g = {.q = 1.0, .kmin = 0, .kmax = 3, .mass = mass_pchoice, 0, 0};
    assert_grid_fit(&g, false);
}

Test(space, discrete_tests_detect_missing_half_mass)
{
    /* The check must be able to fail: uniformint samples are not uniform
     * over {1, 2, 3}. */
    pz_param_spec s = pzt_range(PZ_UNIFORMINT, 1.0, 3.0);
    draw_samples(&s, SEED);
    double obs[3] = {0}, prob[3] = {1.0 / 3, 1.0 / 3, 1.0 / 3};
    for (size_t i = 0; i < N_SAMPLES; i++) {
        obs[(size_t)samples[i] - 1]++;
    }
    cr_assert_lt(pzt_chi2_pvalue(obs, prob, 3, N_SAMPLES), 1e-6);
}

Test(space, different_seeds_give_different_samples)
{
    pz_param_spec s = pzt_range(PZ_UNIFORM, 0.0, 1.0);
    draw_samples(&s, 1);
    double first[16];
    memcpy(first, samples, sizeof first);
    draw_samples(&s, 2);
    cr_assert_neq(memcmp(first, samples, sizeof first), 0);
    draw_samples(&s, 1);
    cr_assert_eq(memcmp(first, samples, sizeof first), 0);
}

/* ---------------------------------------------------------- quantize */

Test(space, quantize_rounds_half_to_even)
{
    cr_assert_eq(pz__space_quantize(2.5, 1.0), 2.0);
    cr_assert_eq(pz__space_quantize(3.5, 1.0), 4.0);
    cr_assert_eq(pz__space_quantize(0.5, 1.0), 0.0);
    cr_assert_eq(pz__space_quantize(1.5, 1.0), 2.0);
    cr_assert_eq(pz__space_quantize(-2.5, 1.0), -2.0);
    cr_assert_eq(pz__space_quantize(-3.5, 1.0), -4.0);
    cr_assert_eq(pz__space_quantize(2.4999, 1.0), 2.0);
    cr_assert_eq(pz__space_quantize(2.5001, 1.0), 3.0);
    cr_assert_eq(pz__space_quantize(5.0, 2.0), 4.0); /* 2.5 -> 2 */
    cr_assert_eq(pz__space_quantize(7.0, 2.0), 8.0); /* 3.5 -> 4 */
    cr_assert_eq(pz__space_quantize(6.0, 4.0), 8.0); /* 1.5 -> 2 */
    cr_assert_eq(pz__space_quantize(2.0, 4.0), 0.0); /* 0.5 -> 0 */
    cr_assert_eq(pz__space_quantize(0.3, 0.25), 0.25);
    cr_assert_eq(pz__space_quantize(12.0, 16.0), 16.0);
}

/* ------------------------------------------------ conditional activity */

/* c: choice(3) top-level
 *   option 0: a ~ uniform
 *   option 1: b ~ choice(2)
 *               option 1: d ~ normal
 * e ~ uniform top-level */
enum { P_C, P_A, P_B, P_D, P_E, N_P };

static pz_space *conditional_space(void)
{
    pz_space *sp = NULL;
    pz_error e = {0};
    pz_param_spec c = pzt_choice(3), b = pzt_choice(2);
    pz_param_spec a = pzt_range(PZ_UNIFORM, 0, 1);
    pz_param_spec d = pzt_normal(PZ_NORMAL, 0, 1);
    size_t i;
    cr_assert_eq(pz_space_new(&sp, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "c", &c, PZ_NO_PARENT, 0, &i, &e), PZ_OK);
    cr_assert_eq(i, P_C);
    cr_assert_eq(pz_space_add(sp, "a", &a, P_C, 0, &i, &e), PZ_OK);
    cr_assert_eq(i, P_A);
    cr_assert_eq(pz_space_add(sp, "b", &b, P_C, 1, &i, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "d", &d, P_B, 1, &i, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "e", &a, PZ_NO_PARENT, 0, &i, &e), PZ_OK);
    cr_assert_eq(i, P_E);
    return sp;
}

static void expected_activity(const double *v, bool *act)
{
    act[P_C] = true;
    act[P_E] = true;
    act[P_A] = v[P_C] == 0;
    act[P_B] = v[P_C] == 1;
    act[P_D] = act[P_B] && v[P_B] == 1;
}

Test(space, inactive_branches_are_nan_and_children_follow_their_option)
{
    pz_space *sp = conditional_space();
    pz_study *st = NULL;
    cr_assert_eq(pz_study_new(&st, sp, NULL), PZ_OK);
    pz_study_set_seed(st, 77);
    size_t seen[N_P] = {0};
    for (int t = 0; t < 2000; t++) {
        double v[N_P];
        bool want[N_P];
        unsigned char act[N_P];
        int64_t id;
        cr_assert_eq(pz_study_ask(st, &id, v, NULL), PZ_OK);
        expected_activity(v, want);
        pz_space_activity(sp, v, act);
        for (size_t i = 0; i < N_P; i++) {
            cr_assert_eq(act[i], want[i], "param %zu activity", i);
            cr_assert_eq(pz__space_active(sp, i, v), want[i]);
            cr_assert_eq(!isnan(v[i]), want[i],
                         "param %s is %g but active = %d",
                         pz_space_label(sp, i), v[i], want[i]);
            seen[i] += want[i];
        }
        cr_assert_eq(pz_space_check_point(sp, v, NULL), PZ_OK);
    }
    /* Every branch was taken: c = 0, 1 (and 2), b = 1. */
    for (size_t i = 0; i < N_P; i++) {
        cr_assert_gt(seen[i], 100, "param %zu active %zu times", i, seen[i]);
    }
    pz_study_free(st);
    pz_space_free(sp);
}

Test(space, activity_ignores_garbage_in_inactive_slots)
{
    /* A caller may leave stale values where parameters are inactive:
     * c = 0 deactivates b, so b's stale '1' must not activate d. */
    pz_space *sp = conditional_space();
    double v[N_P] = {
        [P_C] = 0, [P_A] = 0.5, [P_B] = 1, [P_D] = NAN, [P_E] = 0.25};
    unsigned char act[N_P];
    pz_space_activity(sp, v, act);
    cr_assert_eq(act[P_B], 0);
    cr_assert_eq(act[P_D], 0);
    cr_assert_eq(pz__space_active(sp, P_D, v), false);
    pz_error e = {0};
    cr_assert_eq(pz_space_check_point(sp, v, &e), PZ_OK, "%s", e.msg);
    pz_space_free(sp);
}

Test(space, check_point_names_the_label_of_a_bad_value)
{
    pz_space *sp = conditional_space();
    pz_error e = {0};
    double v[N_P] = {
        [P_C] = 1, [P_A] = NAN, [P_B] = 2, [P_D] = NAN, [P_E] = 0.5};
    pzt_assert_fails(pz_space_check_point(sp, v, &e), e, PZ_EINVAL, "'b'");
    v[P_B] = 1; /* d now active but NaN */
    pzt_assert_fails(pz_space_check_point(sp, v, &e), e, PZ_EINVAL, "'d'");
    v[P_D] = 0.0;
    v[P_C] = 0.5; /* not an integer index */
    pzt_assert_fails(pz_space_check_point(sp, v, &e), e, PZ_EINVAL, "'c'");
    v[P_C] = 2;
    v[P_E] = INFINITY;
    pzt_assert_fails(pz_space_check_point(sp, v, &e), e, PZ_EINVAL, "'e'");
    pz_space_free(sp);
}

Test(space, check_point_checks_integer_and_log_supports)
{
    pz_space *sp = NULL;
    pz_error e = {0};
    pz_param_spec r = pzt_range(PZ_RANDINT, 2, 5);
    pz_param_spec u = pzt_range(PZ_UNIFORMINT, 2, 5);
    pz_param_spec l = pzt_range(PZ_LOGUNIFORM, 0, 1);
    pz_param_spec q = pzt_qnormal(PZ_QLOGNORMAL, 0, 1, 1);
    cr_assert_eq(pz_space_new(&sp, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "r", &r, PZ_NO_PARENT, 0, NULL, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "u", &u, PZ_NO_PARENT, 0, NULL, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "l", &l, PZ_NO_PARENT, 0, NULL, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "q", &q, PZ_NO_PARENT, 0, NULL, &e), PZ_OK);
    double ok[] = {2, 5, 1.5, 0};
    cr_assert_eq(pz_space_check_point(sp, ok, &e), PZ_OK, "%s", e.msg);
    double bad_r[] = {5, 3, 1.5, 0}; /* randint excludes high */
    pzt_assert_fails(pz_space_check_point(sp, bad_r, &e), e, PZ_EINVAL, "'r'");
    double bad_u[] = {2, 3.5, 1.5, 0};
    pzt_assert_fails(pz_space_check_point(sp, bad_u, &e), e, PZ_EINVAL, "'u'");
    double bad_l[] = {2, 3, 0.0, 0};
    pzt_assert_fails(pz_space_check_point(sp, bad_l, &e), e, PZ_EINVAL, "'l'");
    double bad_q[] = {2, 3, 1, -1};
    pzt_assert_fails(pz_space_check_point(sp, bad_q, &e), e, PZ_EINVAL, "'q'");
    pz_space_free(sp);
}

/* ------------------------------------------------------------ validation */

/* Adding 'spec' as 'label' to a space holding one parameter fails with
 * PZ_ESPACE, names the label and 'why', and leaves the space as it was. */
static void assert_rejected(const char *label, pz_param_spec spec,
                            const char *why)
{
    pz_space *sp = NULL;
    pz_error e = {0};
    pz_param_spec ok = pzt_range(PZ_UNIFORM, 0, 1);
    cr_assert_eq(pz_space_new(&sp, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "first", &ok, PZ_NO_PARENT, 0, NULL, &e),
                 PZ_OK);
    size_t idx = 12345;
    int rc = pz_space_add(sp, label, &spec, PZ_NO_PARENT, 0, &idx, &e);
    char quoted[128];
    snprintf(quoted, sizeof quoted, "'%s'", label);
    pzt_assert_fails(rc, e, PZ_ESPACE, quoted, why);
    cr_assert_eq(idx, 12345, "index written on failure");
    cr_assert_eq(pz_space_size(sp), 1);
    cr_assert_eq(pz_space_find(sp, label, NULL), PZ_ENOTFOUND);
    /* The space still works after the failure. */
    cr_assert_eq(pz_space_add(sp, "after", &ok, PZ_NO_PARENT, 0, NULL, &e),
                 PZ_OK);
    pz_space_free(sp);
    pzt_assert_no_leaks();
}

static const pz_dist range_dists[] = {PZ_UNIFORM, PZ_QUNIFORM, PZ_LOGUNIFORM,
                                      PZ_QLOGUNIFORM, PZ_UNIFORMINT};
static const pz_dist normal_dists[] = {PZ_NORMAL, PZ_QNORMAL, PZ_LOGNORMAL,
                                       PZ_QLOGNORMAL};
static const pz_dist q_dists[] = {PZ_QUNIFORM, PZ_QLOGUNIFORM, PZ_QNORMAL,
                                  PZ_QLOGNORMAL};

static bool is_q(pz_dist d)
{
    return d == PZ_QUNIFORM || d == PZ_QLOGUNIFORM || d == PZ_QNORMAL ||
           d == PZ_QLOGNORMAL;
}

Test(space, rejects_low_not_below_high)
{
    for (size_t i = 0; i < sizeof range_dists / sizeof range_dists[0]; i++) {
        double q = is_q(range_dists[i]) ? 0.1 : 0.0;
        assert_rejected("lr_equal", pzt_qrange(range_dists[i], 3, 3, q), "low");
        assert_rejected("lr_reversed", pzt_qrange(range_dists[i], 5, 1, q),
                        "low");
        /* hyperopt skips its check when a bound is 0; we do not. */
        assert_rejected("lr_zero", pzt_qrange(range_dists[i], 0, 0, q), "low");
        assert_rejected("lr_neg", pzt_qrange(range_dists[i], 0, -1, q), "low");
    }
}

Test(space, rejects_non_finite_bounds)
{
    const double bad[] = {NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof range_dists / sizeof range_dists[0]; i++) {
        double q = is_q(range_dists[i]) ? 0.1 : 0.0;
        for (size_t k = 0; k < 3; k++) {
            assert_rejected("bounds", pzt_qrange(range_dists[i], bad[k], 1, q),
                            "finite");
            assert_rejected("bounds", pzt_qrange(range_dists[i], 0, bad[k], q),
                            "finite");
        }
    }
    for (size_t i = 0; i < sizeof normal_dists / sizeof normal_dists[0]; i++) {
        double q = is_q(normal_dists[i]) ? 0.1 : 0.0;
        for (size_t k = 0; k < 3; k++) {
            assert_rejected("mu", pzt_qnormal(normal_dists[i], bad[k], 1, q),
                            "mu");
            assert_rejected("sig", pzt_qnormal(normal_dists[i], 0, bad[k], q),
                            "sigma");
        }
    }
}

Test(space, rejects_quantized_with_nonpositive_q)
{
    const double bad[] = {0.0, -1.0, -0.0, NAN, INFINITY};
    for (size_t i = 0; i < sizeof q_dists / sizeof q_dists[0]; i++) {
        for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
            pz_param_spec s =
                q_dists[i] == PZ_QUNIFORM || q_dists[i] == PZ_QLOGUNIFORM
                    ? pzt_qrange(q_dists[i], 0, 1, bad[k])
                    : pzt_qnormal(q_dists[i], 0, 1, bad[k]);
            assert_rejected("step", s, "q must be > 0");
        }
    }
}

Test(space, rejects_normal_with_nonpositive_sigma)
{
    const double bad[] = {0.0, -1.0, -1e-300};
    for (size_t i = 0; i < sizeof normal_dists / sizeof normal_dists[0]; i++) {
        double q = is_q(normal_dists[i]) ? 0.5 : 0.0;
        for (size_t k = 0; k < 3; k++) {
            assert_rejected("noise", pzt_qnormal(normal_dists[i], 0, bad[k], q),
                            "sigma must be > 0");
        }
    }
}

Test(space, rejects_ranges_whose_values_would_not_be_finite)
{
    /* Every value a parameter can take must be a finite double. */
    assert_rejected("wide", pzt_range(PZ_UNIFORM, -1e308, 1e308), "overflow");
    assert_rejected("wide", pzt_normal(PZ_NORMAL, 0, 1e308), "overflow");
    assert_rejected("big_exp", pzt_range(PZ_LOGUNIFORM, 0, 710), "log-space");
    assert_rejected("tiny_exp", pzt_range(PZ_LOGUNIFORM, -800, 0), "log-space");
    assert_rejected("big_exp", pzt_normal(PZ_LOGNORMAL, 700, 10), "log-space");
    assert_rejected("fine", pzt_qrange(PZ_QUNIFORM, 0, 1e10, 1e-9),
                    "not representable");
}

Test(space, rejects_randint_with_an_empty_range)
{
    assert_rejected("n_layers", pzt_range(PZ_RANDINT, 0, 0), "empty");
    assert_rejected("n_layers", pzt_range(PZ_RANDINT, 4, 3), "empty");
    assert_rejected("n_layers", pzt_range(PZ_RANDINT, -1, -5), "empty");
}

Test(space, rejects_randint_with_non_integer_bounds)
{
    assert_rejected("n_units", pzt_range(PZ_RANDINT, 0, 2.5), "integers");
    assert_rejected("n_units", pzt_range(PZ_RANDINT, 0.5, 3), "integers");
    assert_rejected("n_units", pzt_range(PZ_RANDINT, 0, INFINITY), "integers");
    assert_rejected("n_units", pzt_range(PZ_RANDINT, NAN, 3), "integers");
    assert_rejected("n_units", pzt_range(PZ_RANDINT, 0, 1e300), "integers");
}

Test(space, rejects_choice_without_options)
{
    assert_rejected("optimizer", pzt_choice(0), "at least one option");
    const double p[] = {1.0};
    assert_rejected("optimizer", pzt_pchoice(0, p), "at least one option");
}

Test(space, rejects_pchoice_with_negative_probability)
{
    const double p[] = {0.5, -0.1, 0.6};
    assert_rejected("opt", pzt_pchoice(3, p), "option 1");
    const double nan_p[] = {0.5, NAN};
    assert_rejected("opt", pzt_pchoice(2, nan_p), "option 1");
    const double inf_p[] = {INFINITY, 0.5};
    assert_rejected("opt", pzt_pchoice(2, inf_p), "option 0");
}

Test(space, rejects_pchoice_probabilities_not_summing_to_one)
{
    const double low[] = {0.3, 0.6};
    assert_rejected("opt", pzt_pchoice(2, low), "sum");
    const double high[] = {0.5, 0.6};
    assert_rejected("opt", pzt_pchoice(2, high), "sum");
    const double just_over[] = {0.5, 0.5 + 2e-9};
    assert_rejected("opt", pzt_pchoice(2, just_over), "sum");
    const double zeros[] = {0.0, 0.0};
    assert_rejected("opt", pzt_pchoice(2, zeros), "sum");
    assert_rejected("opt", pzt_pchoice(2, NULL), "probabilities");
}

Test(space, accepts_pchoice_probabilities_within_rounding_of_one)
{
    const double tenths[] = {0.1, 0.1, 0.1, 0.1, 0.1,
                             0.1, 0.1, 0.1, 0.1, 0.1}; /* sums to 0.999.. */
    const double over[] = {0.5, 0.5 + 1e-12};
    const double under[] = {0.5, 0.5 - 1e-12};
    const double within[] = {0.25, 0.75 + 5e-10};
    const double *ps[] = {tenths, over, under, within};
    const size_t ns[] = {10, 2, 2, 2};
    for (size_t i = 0; i < 4; i++) {
        pz_space *sp = NULL;
        pz_error e = {0};
        cr_assert_eq(pz_space_new(&sp, &e), PZ_OK);
        pz_param_spec s = pzt_pchoice(ns[i], ps[i]);
        cr_assert_eq(pz_space_add(sp, "p", &s, PZ_NO_PARENT, 0, NULL, &e),
                     PZ_OK, "case %zu: %s", i, e.msg);
        pz_space_free(sp);
    }
}

Test(space, rejects_empty_label)
{
    pz_space *sp = NULL;
    pz_error e = {0};
    pz_param_spec s = pzt_range(PZ_UNIFORM, 0, 1);
    cr_assert_eq(pz_space_new(&sp, &e), PZ_OK);
    pzt_assert_fails(pz_space_add(sp, "", &s, PZ_NO_PARENT, 0, NULL, &e), e,
                     PZ_ESPACE, "empty label");
    cr_assert_eq(pz_space_size(sp), 0);
    pzt_assert_fails(pz_space_add(sp, NULL, &s, PZ_NO_PARENT, 0, NULL, &e), e,
                     PZ_EINVAL, "NULL");
    pzt_assert_fails(pz_space_add(sp, "x", NULL, PZ_NO_PARENT, 0, NULL, &e), e,
                     PZ_EINVAL, "NULL");
    pz_space_free(sp);
}

Test(space, rejects_unknown_distribution)
{
    pz_param_spec s = {.dist = PZ_DIST_COUNT};
    assert_rejected("weird", s, "unknown distribution");
    pz_param_spec neg = {.dist = (pz_dist)-1};
    assert_rejected("weird", neg, "unknown distribution");
}

Test(space, rejects_duplicate_label)
{
    pz_space *sp = NULL;
    pz_error e = {0};
    pz_param_spec s = pzt_range(PZ_UNIFORM, 0, 1);
    cr_assert_eq(pz_space_new(&sp, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "lr", &s, PZ_NO_PARENT, 0, NULL, &e), PZ_OK);
    pzt_assert_fails(pz_space_add(sp, "lr", &s, PZ_NO_PARENT, 0, NULL, &e), e,
                     PZ_ESPACE, "duplicate", "'lr'");
    cr_assert_eq(pz_space_size(sp), 1);
    pz_space_free(sp);
}

Test(space, rejects_duplicate_label_across_choice_branches)
{
    /* Labels are unique across the whole space, even in branches that can
     * never be active together. */
    pz_space *sp = NULL;
    pz_error e = {0};
    pz_param_spec c = pzt_choice(2), inner = pzt_choice(2);
    pz_param_spec s = pzt_range(PZ_UNIFORM, 0, 1);
    size_t ci, ii;
    cr_assert_eq(pz_space_new(&sp, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "model", &c, PZ_NO_PARENT, 0, &ci, &e),
                 PZ_OK);
    cr_assert_eq(pz_space_add(sp, "C", &s, ci, 0, NULL, &e), PZ_OK);
    pzt_assert_fails(pz_space_add(sp, "C", &s, ci, 1, NULL, &e), e, PZ_ESPACE,
                     "duplicate", "'C'");
    cr_assert_eq(pz_space_add(sp, "kernel", &inner, ci, 1, &ii, &e), PZ_OK);
    pzt_assert_fails(pz_space_add(sp, "C", &s, ii, 1, NULL, &e), e, PZ_ESPACE,
                     "duplicate", "'C'");
    pzt_assert_fails(pz_space_add(sp, "model", &s, ii, 0, NULL, &e), e,
                     PZ_ESPACE, "duplicate", "'model'");
    cr_assert_eq(pz_space_size(sp), 3);
    pz_space_free(sp);
}

Test(space, rejects_a_parent_that_is_not_a_choice_option)
{
    pz_space *sp = NULL;
    pz_error e = {0};
    pz_param_spec c = pzt_choice(2);
    pz_param_spec s = pzt_range(PZ_UNIFORM, 0, 1);
    cr_assert_eq(pz_space_new(&sp, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "c", &c, PZ_NO_PARENT, 0, NULL, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "u", &s, PZ_NO_PARENT, 0, NULL, &e), PZ_OK);
    pzt_assert_fails(pz_space_add(sp, "k", &s, 0, 2, NULL, &e), e, PZ_ESPACE,
                     "'k'", "no option 2");
    pzt_assert_fails(pz_space_add(sp, "k", &s, 1, 0, NULL, &e), e, PZ_ESPACE,
                     "'k'", "not a choice");
    pzt_assert_fails(pz_space_add(sp, "k", &s, 7, 0, NULL, &e), e, PZ_ESPACE,
                     "'k'", "does not exist");
    cr_assert_eq(pz_space_size(sp), 2);
    pz_space_free(sp);
}

Test(space, error_pointer_may_be_null)
{
    pz_space *sp = NULL;
    pz_param_spec bad = pzt_range(PZ_UNIFORM, 1, 0);
    cr_assert_eq(pz_space_new(&sp, NULL), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "x", &bad, PZ_NO_PARENT, 0, NULL, NULL),
                 PZ_ESPACE);
    pz_space_free(sp);
    pz_space_free(NULL);
}

/* --------------------------------------------------- table accessors */

Test(space, accessors_report_what_was_added)
{
    pz_space *sp = conditional_space();
    pz_param_spec s;
    size_t parent, option;
    cr_assert_eq(pz_space_size(sp), N_P);
    cr_assert_str_eq(pz_space_label(sp, P_D), "d");
    cr_assert_null(pz_space_label(sp, N_P));
    size_t idx;
    cr_assert_eq(pz_space_find(sp, "d", &idx), PZ_OK);
    cr_assert_eq(idx, P_D);
    cr_assert_eq(pz_space_find(sp, "nope", &idx), PZ_ENOTFOUND);
    cr_assert_eq(pz_space_param(sp, P_D, &s, &parent, &option, NULL), PZ_OK);
    cr_assert_eq(s.dist, PZ_NORMAL);
    cr_assert_eq(s.sigma, 1.0);
    cr_assert_eq(parent, P_B);
    cr_assert_eq(option, 1);
    cr_assert_eq(pz_space_param(sp, P_C, &s, &parent, NULL, NULL), PZ_OK);
    cr_assert_eq(s.n_options, 3);
    cr_assert_eq(parent, PZ_NO_PARENT);
    pz_error e = {0};
    pzt_assert_fails(pz_space_param(sp, N_P, &s, NULL, NULL, &e), e, PZ_EINVAL,
                     "index");
    cr_assert_str_eq(pz_dist_name(PZ_QLOGNORMAL), "qlognormal");
    cr_assert_str_eq(pz_dist_name(PZ_PCHOICE), "pchoice");
    cr_assert_str_eq(pz_dist_name(PZ_DIST_COUNT), "unknown");
    pz_space_free(sp);
}

Test(space, pchoice_probabilities_are_copied)
{
    double p[] = {0.25, 0.75};
    pz_space *sp = NULL;
    pz_param_spec s = pzt_pchoice(2, p);
    cr_assert_eq(pz_space_new(&sp, NULL), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "p", &s, PZ_NO_PARENT, 0, NULL, NULL), PZ_OK);
    p[0] = 0.9;
    pz_param_spec got;
    cr_assert_eq(pz_space_param(sp, 0, &got, NULL, NULL, NULL), PZ_OK);
    cr_assert_neq(got.probs, p);
    cr_assert_eq(got.probs[0], 0.25);
    cr_assert_eq(got.probs[1], 0.75);
    pz_space_free(sp);
}

Test(space, param_reports_zero_for_fields_its_distribution_does_not_use)
{
    /* The header: q is the quantum of q-variants, "0 otherwise"; a stray
     * field must not leak into the spec (or the JSON form). */
    pz_space *sp = NULL;
    pz_param_spec s = {.dist = PZ_UNIFORM,
                       .low = 0,
                       .high = 1,
                       .mu = 3,
                       .sigma = 4,
                       .q = 0.5,
                       .n_options = 7};
    pz_param_spec n = {
        .dist = PZ_NORMAL, .low = 5, .high = 9, .mu = 0, .sigma = 1, .q = 2};
    cr_assert_eq(pz_space_new(&sp, NULL), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "u", &s, PZ_NO_PARENT, 0, NULL, NULL), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "n", &n, PZ_NO_PARENT, 0, NULL, NULL), PZ_OK);
    pz_param_spec got;
    cr_assert_eq(pz_space_param(sp, 0, &got, NULL, NULL, NULL), PZ_OK);
    cr_assert_eq(got.q, 0.0);
    cr_assert_eq(got.mu, 0.0);
    cr_assert_eq(got.sigma, 0.0);
    cr_assert_eq(got.n_options, 0);
    cr_assert_eq(got.low, 0.0);
    cr_assert_eq(got.high, 1.0);
    cr_assert_eq(pz_space_param(sp, 1, &got, NULL, NULL, NULL), PZ_OK);
    cr_assert_eq(got.q, 0.0);
    cr_assert_eq(got.low, 0.0);
    cr_assert_eq(got.high, 0.0);
    cr_assert_eq(got.sigma, 1.0);
    pz_space_free(sp);
}

Test(space, clone_in_a_study_keeps_every_parameter)
{
    pz_space *sp = conditional_space();
    pz_study *st = NULL;
    cr_assert_eq(pz_study_new(&st, sp, NULL), PZ_OK);
    const pz_space *c = pz_study_space(st);
    cr_assert_neq(c, sp);
    cr_assert_eq(pz_space_size(c), N_P);
    for (size_t i = 0; i < N_P; i++) {
        pz_param_spec a, b;
        size_t pa, pb, oa, ob;
        pz_space_param(sp, i, &a, &pa, &oa, NULL);
        pz_space_param(c, i, &b, &pb, &ob, NULL);
        cr_assert_str_eq(pz_space_label(c, i), pz_space_label(sp, i));
        cr_assert_eq(a.dist, b.dist);
        cr_assert_eq(pa, pb);
        cr_assert_eq(oa, ob);
    }
    pz_space_free(sp); /* the study holds its own copy */
    double v[N_P];
    int64_t id;
    cr_assert_eq(pz_study_ask(st, &id, v, NULL), PZ_OK);
    pz_study_free(st);
}

/* -------------------------------------------------------------- scale */

/* The timeouts of the 100,000-parameter tests guard against quadratic
 * work (hours at this size), not speed: the hardening stage runs them
 * under valgrind, some 40x slower, on a shared machine. */
Test(space, a_space_of_100000_parameters_builds_in_linear_time, .timeout = 120)
{
    /* With a linear label scan this is 5 * 10^9 string compares (minutes);
     * hashed, it is a blink. Criterion's per-test timeout catches a
     * quadratic regression without a timing assertion here. */
    enum { N = 100000 };
    pz_space *sp = NULL;
    pz_error e = {0};
    pz_param_spec s = pzt_range(PZ_UNIFORM, 0, 1);
    cr_assert_eq(pz_space_new(&sp, &e), PZ_OK);
    char label[32];
    for (size_t i = 0; i < N; i++) {
        snprintf(label, sizeof label, "p%zu", i);
        cr_assert_eq(pz_space_add(sp, label, &s, PZ_NO_PARENT, 0, NULL, &e),
                     PZ_OK, "%s", e.msg);
    }
    cr_assert_eq(pz_space_size(sp), N);
    for (size_t i = 0; i < N; i += 7) {
        size_t idx;
        snprintf(label, sizeof label, "p%zu", i);
        cr_assert_eq(pz_space_find(sp, label, &idx), PZ_OK);
        cr_assert_eq(idx, i);
    }
    cr_assert_eq(pz_space_add(sp, "p99999", &s, PZ_NO_PARENT, 0, NULL, &e),
                 PZ_ESPACE);
    pz_space_free(sp);
}

Test(space, a_study_on_100000_parameters_opens, .timeout = 120)
{
    /* Same as above through a study (clone re-adds every label). */
    enum { N = 100000 };
    pz_space *sp = NULL;
    pz_study *st = NULL;
    pz_param_spec s = pzt_range(PZ_UNIFORM, 0, 1);
    cr_assert_eq(pz_space_new(&sp, NULL), PZ_OK);
    char label[32];
    for (size_t i = 0; i < N; i++) {
        snprintf(label, sizeof label, "q%zu", i);
        cr_assert_eq(pz_space_add(sp, label, &s, PZ_NO_PARENT, 0, NULL, NULL),
                     PZ_OK);
    }
    cr_assert_eq(pz_study_new(&st, sp, NULL), PZ_OK);
    cr_assert_eq(pz_space_size(pz_study_space(st)), N);
    pz_study_free(st);
    pz_space_free(sp);
}

Test(space, rejects_a_label_with_a_control_character)
{
    pz_space *sp = NULL;
    pz_error err = {0};
    cr_assert_eq(pz_space_new(&sp, &err), PZ_OK);
    pz_param_spec s = {.dist = PZ_UNIFORM, .low = 0, .high = 1};
    int rc = pz_space_add(sp, "bad\nlabel", &s, PZ_NO_PARENT, 0, NULL, &err);
    cr_assert_eq(rc, PZ_ESPACE);
    cr_assert(strstr(err.msg, "control character 0x0a at byte 3") != NULL, "%s",
              err.msg);
    cr_assert(strchr(err.msg, '\n') == NULL);
    cr_assert_eq(pz_space_size(sp), 0);
    pz_space_free(sp);
}
