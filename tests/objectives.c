/*
 * objectives.c -- hyperopt's benchmark domains rewritten as parzen spaces
 * (hyperopt-spec.md section 8.2). Each space lists its parameters in the
 * order hyperopt labels them; choice parameters with nested options get
 * their children attached to the option that uses them (gauss_wave2's
 * 'amp' is only read when 'hf' picks option 1, so it is conditional).
 */
#include "objectives.h"

#include <math.h>
#include <stdlib.h>

static int add(pz_space *sp, const char *label, pz_param_spec s, size_t parent,
               size_t option, pz_error *err)
{
    return pz_space_add(sp, label, &s, parent, option, NULL, err);
}

static pz_param_spec range(pz_dist d, double low, double high, double q)
{
    return (pz_param_spec){.dist = d, .low = low, .high = high, .q = q};
}

static pz_param_spec normal(pz_dist d, double mu, double sigma, double q)
{
    return (pz_param_spec){.dist = d, .mu = mu, .sigma = sigma, .q = q};
}

static pz_param_spec choice(size_t n)
{
    return (pz_param_spec){.dist = PZ_CHOICE, .n_options = n};
}

/* ---------------------------------------------------------- quadratic1 */

static int quadratic1_build(pz_space *sp, pz_error *err)
{
    return add(sp, "x", range(PZ_UNIFORM, -5, 5, 0), PZ_NO_PARENT, 0, err);
}

static double quadratic1_loss(const double *x, pz__rng *noise)
{
    (void)noise;
    return (x[0] - 3) * (x[0] - 3);
}

const pzt_domain pzt_quadratic1 = {"quadratic1", 0.0, 0.0, quadratic1_build,
                                   quadratic1_loss};

/* -------------------------------------------------------- q1_lognormal */

static int q1_lognormal_build(pz_space *sp, pz_error *err)
{
    return add(sp, "x", normal(PZ_LOGNORMAL, 0, 2, 0), PZ_NO_PARENT, 0, err);
}

static double q1_lognormal_loss(const double *x, pz__rng *noise)
{
    (void)noise;
    return fmin(0.1 * (x[0] - 10) * (x[0] - 10), 10.0);
}

const pzt_domain pzt_q1_lognormal = {"q1_lognormal", 0.0, 0.0,
                                     q1_lognormal_build, q1_lognormal_loss};

/* -------------------------------------------------------------- n_arms */

static int n_arms_build(pz_space *sp, pz_error *err)
{
    return add(sp, "x", choice(2), PZ_NO_PARENT, 0, err);
}

static double n_arms_loss(const double *x, pz__rng *noise)
{
    double mu = x[0] == 0.0 ? -1.0 : 0.0;
    return mu + pz__rng_normal(noise);
}

const pzt_domain pzt_n_arms = {"n_arms", -2.0, 1.0, n_arms_build, n_arms_loss};

/* ---------------------------------------------------------- distractor */

static int distractor_build(pz_space *sp, pz_error *err)
{
    return add(sp, "x", range(PZ_UNIFORM, -15, 15, 0), PZ_NO_PARENT, 0, err);
}

static double distractor_loss(const double *x, pz__rng *noise)
{
    (void)noise;
    double f1 = 1.0 / (1.0 + exp(-x[0]));
    double f2 = 2.0 * exp(-(x[0] + 10) * (x[0] + 10));
    return -f1 - f2;
}

const pzt_domain pzt_distractor = {"distractor", -2.0, 0.0, distractor_build,
                                   distractor_loss};

/* ---------------------------------------------------------- gauss_wave */

static int gauss_wave_build(pz_space *sp, pz_error *err)
{
    int rc = add(sp, "x", range(PZ_UNIFORM, -20, 20, 0), PZ_NO_PARENT, 0, err);
    return rc ? rc : add(sp, "curve", choice(2), PZ_NO_PARENT, 0, err);
}

static double gauss_wave_loss(const double *x, pz__rng *noise)
{
    (void)noise;
    double t = x[1] == 0.0 ? x[0] : x[0] + PZ_PI;
    return -(sin(t) + 2.0 * exp(-(t / 5.0) * (t / 5.0)));
}

const pzt_domain pzt_gauss_wave = {"gauss_wave", -1.0, 0.0, gauss_wave_build,
                                   gauss_wave_loss};

/* --------------------------------------------------------- gauss_wave2 */

static int gauss_wave2_build(pz_space *sp, pz_error *err)
{
    size_t hf = 0;
    pz_param_spec c = choice(2);
    int rc = add(sp, "x", range(PZ_UNIFORM, -20, 20, 0), PZ_NO_PARENT, 0, err);
    if (rc == PZ_OK) {
        rc = pz_space_add(sp, "hf", &c, PZ_NO_PARENT, 0, &hf, err);
    }
    return rc ? rc : add(sp, "amp", range(PZ_UNIFORM, 0, 1, 0), hf, 1, err);
}

static double gauss_wave2_loss(const double *x, pz__rng *noise)
{
    double t =
        0.1 * pz__rng_normal(noise) + 2.0 * exp(-(x[0] / 5.0) * (x[0] / 5.0));
    return x[1] == 0.0 ? -t : -(t + sin(x[0]) * x[2]);
}

const pzt_domain pzt_gauss_wave2 = {"gauss_wave2", -2.5, 0.1, gauss_wave2_build,
                                    gauss_wave2_loss};

/* ---------------------------------------------------------- many_dists */

static int many_dists_build(pz_space *sp, pz_error *err)
{
    static const double pk[] = {0.1, 0.9};
    const struct {
        const char *label;
        pz_param_spec s;
    } ps[] = {
        {"a", choice(3)},
        {"b", range(PZ_RANDINT, 0, 10, 0)},
        {"bb", range(PZ_RANDINT, 12, 25, 0)},
        {"c", range(PZ_UNIFORM, 4, 7, 0)},
        {"d", range(PZ_LOGUNIFORM, -2, 0, 0)},
        {"e", range(PZ_QUNIFORM, 0, 10, 3)},
        {"f", range(PZ_QLOGUNIFORM, 0, 3, 2)},
        {"g", normal(PZ_NORMAL, 4, 7, 0)},
        {"h", normal(PZ_LOGNORMAL, -2, 2, 0)},
        {"i", normal(PZ_QNORMAL, 0, 10, 2)},
        {"j", normal(PZ_QLOGNORMAL, 0, 2, 1)},
        {"k", {.dist = PZ_PCHOICE, .n_options = 2, .probs = pk}},
    };
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        int rc = add(sp, ps[i].label, ps[i].s, PZ_NO_PARENT, 0, err);
        if (rc != PZ_OK) {
            return rc;
        }
    }
    return PZ_OK;
}

static double many_dists_loss(const double *x, pz__rng *noise)
{
    (void)noise;
    double z = 0.0;
    for (size_t i = 0; i < 12; i++) {
        z += x[i]; /* choice/pchoice options are their own indices */
    }
    return log(1e-12 + z * z);
}

const pzt_domain pzt_many_dists = {"many_dists", 0.0, 0.0, many_dists_build,
                                   many_dists_loss};

/* -------------------------------------------------------------- branin */

static int branin_build(pz_space *sp, pz_error *err)
{
    int rc = add(sp, "x", range(PZ_UNIFORM, -5, 10, 0), PZ_NO_PARENT, 0, err);
    return rc ? rc
              : add(sp, "y", range(PZ_UNIFORM, 0, 15, 0), PZ_NO_PARENT, 0, err);
}

static double branin_loss(const double *x, pz__rng *noise)
{
    (void)noise;
    double a =
        x[1] - 5.1 / (4 * PZ_PI * PZ_PI) * x[0] * x[0] + 5 * x[0] / PZ_PI - 6;
    return a * a + 10 * (1 - 1 / (8 * PZ_PI)) * cos(x[0]) + 10;
}

const pzt_domain pzt_branin = {"branin", 0.398, 0.0, branin_build, branin_loss};

/* -------------------------------------------------------------- driver */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Hyperopt's pmin_sampled: the probability that each of the n losses
 * (noise variance 'variance') is the smallest, by 1000 joint draws. */
static void pmin_sampled(const double *mean, size_t n, double variance,
                         double *pmin)
{
    pz__rng rng;
    pz__rng_seed(&rng, 232342, 0);
    double sd = sqrt(variance);
    for (size_t i = 0; i < n; i++) {
        pmin[i] = 0.0;
    }
    for (int s = 0; s < 1000; s++) {
        size_t win = 0;
        double best = (double)INFINITY;
        for (size_t i = 0; i < n; i++) {
            double v = mean[i] + sd * pz__rng_normal(&rng);
            if (v < best) {
                best = v;
                win = i;
            }
        }
        pmin[win] += 1.0 / 1000.0;
    }
}

/* Hyperopt's Trials.average_best_error; sorts 'loss'. */
static double average_best(double *loss, size_t n, double variance)
{
    qsort(loss, n, sizeof *loss, cmp_double);
    if (variance == 0.0) {
        return loss[0];
    }
    double cut = loss[0] + 3.0 * sqrt(variance), avg = 0.0;
    size_t k = 0;
    while (k < n && loss[k] < cut) {
        k++;
    }
    double *pmin = malloc(k * sizeof *pmin);
    if (pmin == NULL) {
        return (double)NAN;
    }
    pmin_sampled(loss, k, variance, pmin);
    for (size_t i = 0; i < k; i++) {
        avg += pmin[i] * loss[i];
    }
    free(pmin);
    return avg;
}

static int run_trials(pz_study *st, const pzt_domain *dom, uint64_t seed,
                      double *x, double *loss, size_t n, pz_error *err)
{
    pz__rng noise;
    pz__rng_seed(&noise, seed, UINT64_C(0x6e6f697365)); /* "noise" */
    for (size_t i = 0; i < n; i++) {
        int64_t id;
        int rc = pz_study_ask(st, &id, x, err);
        if (rc != PZ_OK) {
            return rc;
        }
        loss[i] = dom->loss(x, &noise);
        rc = pz_study_tell(st, id, PZ_TRIAL_DONE, loss[i], err);
        if (rc != PZ_OK) {
            return rc;
        }
    }
    return PZ_OK;
}

static int open_study(pz_study **st, const pzt_domain *dom, const char *sampler,
                      const pzt_option *opts, size_t n_opts, pz_error *err)
{
    pz_space *sp = NULL;
    int rc = pz_space_new(&sp, err);
    if (rc == PZ_OK) {
        rc = dom->build(sp, err);
    }
    if (rc == PZ_OK) {
        rc = pz_study_new(st, sp, err);
    }
    pz_space_free(sp);
    if (rc == PZ_OK) {
        rc = pz_study_set_sampler(*st, sampler, err);
    }
    for (size_t i = 0; rc == PZ_OK && i < n_opts; i++) {
        rc = pz_study_set_option(*st, opts[i].key, opts[i].value, err);
    }
    return rc;
}

int pzt_run(const pzt_domain *dom, const char *sampler,
            const pzt_option *options, size_t n_options, uint64_t seed,
            size_t n_trials, pzt_result *res, pz_error *err)
{
    pz_study *st = NULL;
    double x[16];
    double *loss = malloc(n_trials * sizeof *loss);
    int rc = loss ? PZ_OK : PZ_ENOMEM;
    if (rc == PZ_OK) {
        rc = open_study(&st, dom, sampler, options, n_options, err);
    }
    if (rc == PZ_OK) {
        pz_study_set_seed(st, seed);
        rc = run_trials(st, dom, seed, x, loss, n_trials, err);
    }
    if (rc == PZ_OK) {
        res->n_trials = pz_study_n_trials(st);
        res->avg_best = average_best(loss, n_trials, dom->loss_variance);
        res->best = loss[0]; /* sorted by average_best */
    }
    pz_study_free(st);
    free(loss);
    return rc;
}
