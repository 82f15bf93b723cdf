/*
 * objectives.h -- hyperopt's benchmark domains (hyperopt-spec.md section
 * 8.2, hyperopt/tests/unit/test_domains.py) as parzen spaces and C loss
 * functions, plus a driver that runs a sampler on one of them.
 *
 * Noise (n_arms, gauss_wave2) comes from a pz__rng seeded per run, the
 * counterpart of the fixed numpy Generator(123) inside hyperopt's spaces.
 */
#ifndef PZ_TEST_OBJECTIVES_H
#define PZ_TEST_OBJECTIVES_H

#include "pz_internal.h"

typedef struct pzt_domain {
    const char *name;
    double loss_target;   /* known (or estimated) optimum */
    double loss_variance; /* variance of the noise; 0: deterministic */
    /* Build the space; returns PZ_OK. */
    int (*build)(pz_space *sp, pz_error *err);
    /* Loss of point x (pz_space_size values, NaN where inactive). */
    double (*loss)(const double *x, pz__rng *noise);
} pzt_domain;

extern const pzt_domain pzt_quadratic1;
extern const pzt_domain pzt_q1_lognormal;
extern const pzt_domain pzt_n_arms;
extern const pzt_domain pzt_distractor;
extern const pzt_domain pzt_gauss_wave;
extern const pzt_domain pzt_gauss_wave2;
extern const pzt_domain pzt_many_dists;
extern const pzt_domain pzt_branin;

/* A sampler setting for pzt_run. */
typedef struct pzt_option {
    const char *key;
    double value;
} pzt_option;

/* The outcome of a run. */
typedef struct pzt_result {
    double best;     /* smallest loss seen */
    double avg_best; /* average best error, see pzt_run */
    size_t n_trials; /* trials run */
} pzt_result;

/* Run 'n_trials' ask/evaluate/tell rounds of 'sampler' (with 'options',
 * n_options of them) on 'dom' with study seed 'seed'. 'avg_best' is
 * hyperopt's Trials.average_best_error: the smallest loss for
 * deterministic domains; for noisy ones the losses within 3 noise sigmas
 * of the smallest, averaged with weights = the probability of each being
 * the minimum (1000 seeded joint draws, as hyperopt's pmin_sampled).
 * Returns PZ_OK or the first failing call's status, with 'err' filled. */
int pzt_run(const pzt_domain *dom, const char *sampler,
            const pzt_option *options, size_t n_options, uint64_t seed,
            size_t n_trials, pzt_result *res, pz_error *err);

#endif
