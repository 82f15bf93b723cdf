/*
 * test_domains.c -- convergence on hyperopt's benchmark domains
 * (hyperopt-spec.md sections 8.2 and 8.3) for tpe, anneal and random.
 *
 * Hyperopt asserts each threshold once, at one numpy seed. Our streams
 * differ from numpy's, so each (sampler, domain) runs at SEEDS seeds
 * with hyperopt's own budget, overrides and threshold, and a clear
 * majority (MIN_PASS of SEEDS) must pass. Then TPE must beat random
 * search at TPE's budget: its mean average-best-error over
 * COMPARE_SEEDS seeds is lower on every domain.
 *
 * One exception, documented: random search on many_dists. Hyperopt's
 * threshold (best loss < 0.2 after 500 draws, i.e. |z| < 1.1 for a sum
 * of twelve parameters whose typical size is ~50) passes by luck at its
 * one seed; we measured it at ~7% of seeds. We assert what random search
 * does reach there (best < 6, met by >95% of seeds) and that TPE and
 * anneal pass hyperopt's much stricter 0.0005.
 */
#include "objectives.h"

#include <criterion/criterion.h>
#include <math.h>

#define SEEDS 7
#define MIN_PASS 5

typedef struct algo_case {
    const pzt_domain *dom;
    size_t n_trials;
    double threshold;      /* min loss (tpe/anneal) must be below this */
    pzt_option options[3]; /* overrides, hyperopt's TestOpt */
    size_t n_options;
} algo_case;

static pzt_result run(const pzt_domain *dom, const char *sampler,
                      const pzt_option *opts, size_t n_opts, uint64_t seed,
                      size_t n)
{
    pzt_result r;
    pz_error e = {0};
    int rc = pzt_run(dom, sampler, opts, n_opts, seed, n, &r, &e);
    cr_assert_eq(rc, PZ_OK, "%s on %s: %s", sampler, dom->name, e.msg);
    cr_assert_eq(r.n_trials, n);
    return r;
}

/* Count the seeds where 'sampler' gets its best loss under threshold. */
static void assert_converges(const char *sampler, const algo_case *c)
{
    size_t pass = 0;
    double bests[SEEDS];
    for (uint64_t s = 0; s < SEEDS; s++) {
        pzt_result r =
            run(c->dom, sampler, c->options, c->n_options, s + 1, c->n_trials);
        bests[s] = r.best;
        pass += r.best < c->threshold;
    }
    cr_assert(pass >= MIN_PASS,
              "%s on %s: %zu of %d seeds below %g in %zu trials (bests %g "
              "%g %g %g %g %g %g)",
              sampler, c->dom->name, pass, SEEDS, c->threshold, c->n_trials,
              bests[0], bests[1], bests[2], bests[3], bests[4], bests[5],
              bests[6]);
}

/* hyperopt tests/unit/test_tpe.py TestOpt */
static const algo_case tpe_cases[] = {
    {&pzt_quadratic1, 1000, 1e-5, {{"tpe.n_EI_candidates", 5}}, 1},
    {&pzt_q1_lognormal, 250, 0.01, {{0}}, 0},
    {&pzt_distractor,
     100,
     -1.96,
     {{"tpe.gamma", 0.05},
      {"tpe.prior_weight", 0.01},
      {"tpe.n_EI_candidates", 15}},
     3},
    {&pzt_gauss_wave, 50, -2.0, {{0}}, 0},
    {&pzt_gauss_wave2, 75, -2.0, {{0}}, 0},
    {&pzt_n_arms, 50, -2.5, {{0}}, 0},
    {&pzt_many_dists, 200, 0.0005, {{0}}, 0},
    {&pzt_branin, 200, 0.7, {{0}}, 0},
};

/* hyperopt tests/unit/test_anneal.py TestItAtLeastSortOfWorks */
static const algo_case anneal_cases[] = {
    {&pzt_quadratic1, 1000, 1e-5, {{0}}, 0},
    {&pzt_q1_lognormal, 50, 0.01, {{0}}, 0},
    {&pzt_distractor, 150, -0.96, {{0}}, 0},
    {&pzt_gauss_wave, 50, -2.0, {{0}}, 0},
    {&pzt_gauss_wave2, 50, -2.0, {{0}}, 0},
    {&pzt_n_arms, 50, -2.5, {{0}}, 0},
    {&pzt_many_dists, 200, 0.0005, {{0}}, 0},
    {&pzt_branin, 200, 0.7, {{0}}, 0},
};

#define N_CASES (sizeof tpe_cases / sizeof tpe_cases[0])

Test(domains, tpe_meets_hyperopt_thresholds, .timeout = 120)
{
    for (size_t i = 0; i < N_CASES; i++) {
        assert_converges("tpe", &tpe_cases[i]);
    }
}

Test(domains, anneal_meets_hyperopt_thresholds, .timeout = 120)
{
    for (size_t i = 0; i < N_CASES; i++) {
        assert_converges("anneal", &anneal_cases[i]);
    }
}

/* hyperopt tests/unit/test_domains.py DomainExperimentMixin: 500 draws
 * (gauss_wave2: 5000), average best error within 0.2 of the target. */
Test(domains, random_meets_hyperopt_thresholds, .timeout = 120)
{
    for (size_t i = 0; i < N_CASES; i++) {
        const pzt_domain *d = tpe_cases[i].dom;
        size_t n = d == &pzt_gauss_wave2 ? 5000 : 500;
        size_t pass = 0;
        for (uint64_t s = 0; s < SEEDS; s++) {
            pzt_result r = run(d, "random", NULL, 0, s + 1, n);
            pass += d == &pzt_many_dists ? r.best < 6.0
                                         : r.avg_best - d->loss_target < 0.2;
        }
        cr_assert(pass >= MIN_PASS, "random on %s: %zu of %d seeds", d->name,
                  pass, SEEDS);
    }
}

/* Noisy domains (n_arms, gauss_wave2) need more seeds than SEEDS for
 * the means to separate: 15 seeds, all cheap. */
#define COMPARE_SEEDS 15

Test(domains, tpe_beats_random_at_the_same_budget, .timeout = 120)
{
    for (size_t i = 0; i < N_CASES; i++) {
        const algo_case *c = &tpe_cases[i];
        double tpe = 0, rnd = 0;
        for (uint64_t s = 0; s < COMPARE_SEEDS; s++) {
            tpe +=
                run(c->dom, "tpe", c->options, c->n_options, s + 1, c->n_trials)
                    .avg_best;
            rnd += run(c->dom, "random", NULL, 0, s + 1, c->n_trials).avg_best;
        }
        cr_assert(tpe < rnd,
                  "%s: mean average best error over %d seeds: tpe %g, "
                  "random %g",
                  c->dom->name, COMPARE_SEEDS, tpe / COMPARE_SEEDS,
                  rnd / COMPARE_SEEDS);
    }
}

Test(domains, mix_converges_on_quadratic1)
{
    size_t pass = 0;
    for (uint64_t s = 0; s < SEEDS; s++) {
        pass += run(&pzt_quadratic1, "mix", NULL, 0, s + 1, 200).best < 1e-3;
    }
    cr_assert(pass >= MIN_PASS, "mix: %zu of %d seeds", pass, SEEDS);
}
