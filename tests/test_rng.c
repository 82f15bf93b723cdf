/*
 * test_rng.c -- the explicit RNG: reproducible streams per (seed, trial),
 * uniform doubles in [0, 1), unbiased bounded integers, normal deviates
 * and categorical draws with the right distribution (fixed seeds).
 */
#include "pz_internal.h"
#include "pz_test_stats.h"

#include <criterion/criterion.h>

#define N_DRAWS 20000

Test(rng, same_seed_and_stream_give_same_numbers)
{
    pz__rng a, b;
    pz__rng_seed(&a, 42, 7);
    pz__rng_seed(&b, 42, 7);
    for (int i = 0; i < 100; i++) {
        cr_assert_eq(pz__rng_next(&a), pz__rng_next(&b));
    }
}

Test(rng, xoshiro256starstar_matches_the_reference_outputs)
{
    /* Reference implementation (prng.di.unimi.it) from state {1,2,3,4}. */
    pz__rng r = {{1, 2, 3, 4}};
    const uint64_t want[] = {11520ULL, 0ULL, 1509978240ULL,
                             1215971899390074240ULL, 1216172134540287360ULL};
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(pz__rng_next(&r), want[i], "output %zu", i);
    }
}

Test(rng, seeded_streams_are_pinned_across_machines)
{
    /* Pure 64-bit integer arithmetic: (seed, stream) -> numbers is part
     * of the reproducibility contract. Values from an independent
     * Python transcription of splitmix64 + xoshiro256** seeding. */
    pz__rng a;
    pz__rng_seed(&a, 0, 0);
    cr_assert_eq(pz__rng_next(&a), 0x1e61e4ec2b00c0d0ULL);
    cr_assert_eq(pz__rng_next(&a), 0xd74e9b8e7648c41aULL);
    cr_assert_eq(pz__rng_next(&a), 0x3e91232a36ff151eULL);
    pz__rng b;
    pz__rng_seed(&b, 42, 7);
    cr_assert_eq(pz__rng_next(&b), 0xeb79258aaf49652dULL);
    cr_assert_eq(pz__rng_next(&b), 0x2668af30afd641a7ULL);
    cr_assert_eq(pz__rng_next(&b), 0xdc4916b3eb879e6dULL);
}

Test(rng, uniform_is_built_from_the_top_53_bits)
{
    pz__rng a, b;
    pz__rng_seed(&a, 3, 3);
    pz__rng_seed(&b, 3, 3);
    for (int i = 0; i < 100; i++) {
        uint64_t bits = pz__rng_next(&a) >> 11;
        cr_assert_eq(pz__rng_uniform(&b), (double)bits / 9007199254740992.0);
    }
}

static bool streams_differ(uint64_t seed_a, uint64_t stream_a, uint64_t seed_b,
                           uint64_t stream_b)
{
    pz__rng a, b;
    pz__rng_seed(&a, seed_a, stream_a);
    pz__rng_seed(&b, seed_b, stream_b);
    int same = 0;
    for (int i = 0; i < 64; i++) {
        same += pz__rng_next(&a) == pz__rng_next(&b);
    }
    return same == 0;
}

Test(rng, different_streams_and_seeds_give_different_numbers)
{
    cr_assert(streams_differ(42, 0, 42, 1));
    cr_assert(streams_differ(42, 1, 43, 1));
    cr_assert(streams_differ(0, 0, 1, 0));
    cr_assert(streams_differ(0, 0, 0, 1));
    /* Neighbouring (seed, stream) pairs must not alias. */
    cr_assert(streams_differ(1, 0, 0, 1));
    cr_assert(streams_differ(5, (uint64_t)-1, 5, 0));
}

Test(rng, first_draws_of_many_streams_are_distinct)
{
    /* Trial t's stream is (seed, t): its first value must not repeat
     * across 10^4 trials (a collision would be 1 in 2^37 by chance). */
    enum { N = 10000 };
    static uint64_t first[N];
    for (uint64_t t = 0; t < N; t++) {
        pz__rng r;
        pz__rng_seed(&r, 1234, t);
        first[t] = pz__rng_next(&r);
    }
    qsort(first, N, sizeof first[0], pzt_cmp_u64);
    for (size_t i = 1; i < N; i++) {
        cr_assert_neq(first[i], first[i - 1], "streams %zu collide", i);
    }
}

Test(rng, uniform_lies_in_half_open_unit_interval)
{
    pz__rng r;
    pz__rng_seed(&r, 1, 0);
    for (int i = 0; i < 100000; i++) {
        double u = pz__rng_uniform(&r);
        cr_assert(u >= 0.0 && u < 1.0, "u = %.17g", u);
    }
}

static double uniform_cdf(double v, const void *ctx)
{
    (void)ctx;
    return v < 0 ? 0 : v > 1 ? 1 : v;
}

Test(rng, uniform_passes_kolmogorov_smirnov)
{
    static double x[N_DRAWS];
    pz__rng r;
    pz__rng_seed(&r, 2, 0);
    for (size_t i = 0; i < N_DRAWS; i++) {
        x[i] = pz__rng_uniform(&r);
    }
    double p = pzt_ks_pvalue(x, N_DRAWS, uniform_cdf, NULL);
    cr_assert_gt(p, PZ_TEST_ALPHA, "KS p = %g", p);
}

static double chi2_below(uint64_t seed, uint64_t n_cat, size_t n)
{
    double obs[64] = {0}, prob[64];
    pz__rng r;
    pz__rng_seed(&r, seed, 0);
    for (size_t i = 0; i < n; i++) {
        uint64_t v = pz__rng_below(&r, n_cat);
        cr_assert_lt(v, n_cat);
        obs[v]++;
    }
    for (size_t k = 0; k < n_cat; k++) {
        prob[k] = 1.0 / (double)n_cat;
    }
    return pzt_chi2_pvalue(obs, prob, (size_t)n_cat, n);
}

Test(rng, below_is_uniform_over_small_ranges)
{
    const uint64_t sizes[] = {1, 2, 3, 7, 10, 61};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        double p = chi2_below(3 + i, sizes[i], N_DRAWS);
        cr_assert_gt(p, PZ_TEST_ALPHA, "n=%llu: chi2 p = %g",
                     (unsigned long long)sizes[i], p);
    }
}

Test(rng, below_has_no_modulo_bias_for_huge_ranges)
{
    /* n = 3 * 2^62: 2^64 mod n = 2^62, so a plain 'next % n' would give
     * [0, 2^62) twice the mass of the rest (thirds 1/2, 1/4, 1/4). An
     * unbiased draw gives each third 1/3. */
    const uint64_t n_cat = 3ULL << 62;
    double obs[3] = {0}, prob[3] = {1.0 / 3, 1.0 / 3, 1.0 / 3};
    pz__rng r;
    pz__rng_seed(&r, 4, 0);
    for (size_t i = 0; i < N_DRAWS; i++) {
        uint64_t v = pz__rng_below(&r, n_cat);
        cr_assert_lt(v, n_cat);
        obs[v >> 62]++;
    }
    double p = pzt_chi2_pvalue(obs, prob, 3, N_DRAWS);
    cr_assert_gt(p, PZ_TEST_ALPHA, "thirds %g %g %g: chi2 p = %g", obs[0],
                 obs[1], obs[2], p);
}

Test(rng, below_handles_the_extremes)
{
    pz__rng r;
    pz__rng_seed(&r, 5, 0);
    for (int i = 0; i < 1000; i++) {
        cr_assert_eq(pz__rng_below(&r, 1), 0);
        cr_assert_lt(pz__rng_below(&r, UINT64_MAX), UINT64_MAX);
    }
}

static double normal_cdf(double v, const void *ctx)
{
    (void)ctx;
    return pzt_phi(v);
}

Test(rng, normal_has_unit_moments_and_passes_kolmogorov_smirnov)
{
    static double x[N_DRAWS];
    pz__rng r;
    pz__rng_seed(&r, 6, 0);
    double sum = 0, sum2 = 0;
    for (size_t i = 0; i < N_DRAWS; i++) {
        x[i] = pz__rng_normal(&r);
        cr_assert(isfinite(x[i]));
        sum += x[i];
        sum2 += x[i] * x[i];
    }
    double mean = sum / N_DRAWS;
    double var = sum2 / N_DRAWS - mean * mean;
    /* Standard errors: 1/sqrt(n) = 0.007 for the mean, sqrt(2/n) = 0.01
     * for the variance; 5 standard errors. */
    cr_assert_lt(fabs(mean), 5.0 / sqrt(N_DRAWS), "mean = %g", mean);
    cr_assert_lt(fabs(var - 1.0), 5.0 * sqrt(2.0 / N_DRAWS), "var = %g", var);
    double p = pzt_ks_pvalue(x, N_DRAWS, normal_cdf, NULL);
    cr_assert_gt(p, PZ_TEST_ALPHA, "KS p = %g", p);
}

Test(rng, categorical_follows_its_weights)
{
    const double w[] = {0.5, 0.0, 2.0, 1.5}; /* unnormalised, one zero */
    const double prob[] = {0.125, 0.0, 0.5, 0.375};
    double obs[4] = {0};
    pz__rng r;
    pz__rng_seed(&r, 7, 0);
    for (size_t i = 0; i < N_DRAWS; i++) {
        size_t k = pz__rng_categorical(&r, w, 4);
        cr_assert_lt(k, 4);
        obs[k]++;
    }
    cr_assert_eq(obs[1], 0.0, "a zero-weight category was drawn");
    double p = pzt_chi2_pvalue(obs, prob, 4, N_DRAWS);
    cr_assert_gt(p, PZ_TEST_ALPHA, "chi2 p = %g", p);
}

Test(rng, categorical_never_returns_a_trailing_zero_weight)
{
    const double w[] = {1.0, 0.0, 0.0};
    pz__rng r;
    pz__rng_seed(&r, 8, 0);
    for (int i = 0; i < 1000; i++) {
        cr_assert_eq(pz__rng_categorical(&r, w, 3), 0);
    }
}

Test(stats, helpers_reject_an_obviously_wrong_distribution)
{
    /* The helpers themselves must be able to fail: uniform draws against
     * a normal CDF, and fair dice counts against loaded probabilities. */
    static double x[2000];
    pz__rng r;
    pz__rng_seed(&r, 9, 0);
    for (size_t i = 0; i < 2000; i++) {
        x[i] = pz__rng_uniform(&r);
    }
    cr_assert_lt(pzt_ks_pvalue(x, 2000, normal_cdf, NULL), 1e-6);
    double obs[2] = {1000, 1000}, prob[2] = {0.45, 0.55};
    cr_assert_lt(pzt_chi2_pvalue(obs, prob, 2, 2000), 1e-4);
    /* Q(1, x) = exp(-x) and Q(0.5, x) = erfc(sqrt(x)). */
    cr_assert_lt(fabs(pzt_gamma_q(1.0, 3.0) - exp(-3.0)), 1e-12);
    cr_assert_lt(fabs(pzt_gamma_q(0.5, 0.7) - erfc(sqrt(0.7))), 1e-12);
    cr_assert_lt(fabs(pzt_gamma_q(0.5, 4.0) - erfc(2.0)), 1e-12);
}
