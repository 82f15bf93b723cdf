/*
 * test_sampler_anneal.c -- the anneal and mix samplers through the study
 * API: anneal's prior fallback, shrinking neighbourhoods, coherent base
 * trials, visibility rules and pending trials; mix's weights, their
 * validation and the forwarding of tpe.* / anneal.* options.
 */
#include "pz_internal.h"
#include "pz_test_util.h"

#include <criterion/criterion.h>
#include <math.h>

typedef struct mix_option {
    const char *key;
    double v;
} mix_option;

/* Two uniform(-5, 5) parameters "x" and "y". */
static pz_space *plane(void)
{
    pz_space *sp = NULL;
    pz_error e = {0};
    pz_param_spec u = pzt_range(PZ_UNIFORM, -5, 5);
    cr_assert_eq(pz_space_new(&sp, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "x", &u, PZ_NO_PARENT, 0, NULL, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "y", &u, PZ_NO_PARENT, 0, NULL, &e), PZ_OK);
    return sp;
}

static void suggest(pz_study *st, int64_t id, double *x)
{
    pz_error e = {0};
    cr_assert_eq(pz_study_suggest(st, id, 3, x, &e), PZ_OK, "%s", e.msg);
}

/* 'n' DONE trials on a grid of the plane, loss = distance^2 to (1, 2). */
static void add_grid(pz_study *st, int n)
{
    for (int i = 0; i < n; i++) {
        double x[2] = {-4.5 + 9.0 * (i % 10) / 10.0, -4.5 + 0.9 * (i / 10)};
        double loss = (x[0] - 1) * (x[0] - 1) + (x[1] - 2) * (x[1] - 2);
        pzt_add_trial(st, i, x, PZ_TRIAL_DONE, loss);
    }
}

/* ------------------------------------------------------------- anneal */

Test(anneal, draws_from_the_prior_without_history)
{
    pz_space *sp = plane();
    pz_study *st = pzt_study_on(sp, "anneal", 1);
    for (int64_t id = 0; id < 20; id++) {
        double x[2], prior[2];
        pz__rng rng;
        pz__rng_seed(&rng, 3, (uint64_t)id);
        pz__sampler_draw_prior(sp, &rng, prior);
        suggest(st, id, x);
        cr_assert(x[0] == prior[0] && x[1] == prior[1]);
    }
    pz_study_free(st);
    pz_space_free(sp);
}

Test(anneal, proposes_near_the_best_trials_in_a_shrunk_window)
{
    pz_space *sp = plane();
    pz_study *st = pzt_study_on(sp, "anneal", 2);
    add_grid(st, 100); /* shrink = 1 / (1 + 100 * 0.1) = 1/11 */
    size_t near = 0;
    for (int64_t id = 100; id < 300; id++) {
        double x[2];
        suggest(st, id, x);
        cr_assert(x[0] >= -5 && x[0] < 5 && x[1] >= -5 && x[1] < 5);
        /* the window is 10/11 wide around a top-ranked grid point */
        near += fabs(x[0] - 1) < 2 && fabs(x[1] - 2) < 2;
    }
    cr_assert(near >= 150, "%zu of 200 near the optimum", near);
    pz_study_free(st);
    pz_space_free(sp);
}

Test(anneal, takes_every_parameter_from_one_base_trial)
{
    /* With no shrinkage left, each proposal must sit on one trial's
     * (x, y): a coherent point, not x of one trial and y of another. */
    pz_space *sp = plane();
    pz_study *st = pzt_study_on(sp, "anneal", 3);
    pz_error e = {0};
    cr_assert_eq(pz_study_set_option(st, "anneal.shrink_coef", 1e9, &e), PZ_OK);
    cr_assert_eq(pz_study_set_option(st, "anneal.avg_best_idx", 5, &e), PZ_OK);
    double pts[5][2] = {{-4, 4}, {-2, 1}, {0, -3}, {2, 3}, {4, -1}};
    for (int i = 0; i < 5; i++) {
        pzt_add_trial(st, i, pts[i], PZ_TRIAL_DONE, (double)i);
    }
    bool seen[5] = {false};
    for (int64_t id = 10; id < 110; id++) {
        double x[2];
        suggest(st, id, x);
        int match = -1;
        for (int i = 0; i < 5; i++) {
            if (fabs(x[0] - pts[i][0]) < 1e-6 &&
                fabs(x[1] - pts[i][1]) < 1e-6) {
                match = i;
            }
        }
        cr_assert(match >= 0, "(%g, %g) is no trial's point", x[0], x[1]);
        seen[match] = true;
    }
    cr_assert(seen[0] && seen[1] && seen[2], "base ranks not explored");
    pz_study_free(st);
    pz_space_free(sp);
}

Test(anneal, ignores_error_and_cancelled_trials)
{
    pz_space *sp = plane();
    pz_study *a = pzt_study_on(sp, "anneal", 4),
             *b = pzt_study_on(sp, "anneal", 4);
    add_grid(a, 30);
    add_grid(b, 30);
    double p[2] = {-4.9, -4.9};
    pzt_add_trial(b, 30, p, PZ_TRIAL_ERROR, -100);
    pzt_add_trial(b, 31, p, PZ_TRIAL_CANCEL, -100);
    for (int64_t id = 40; id < 60; id++) {
        double x[2], y[2];
        suggest(a, id, x);
        suggest(b, id, y);
        cr_assert(x[0] == y[0] && x[1] == y[1]);
    }
    pz_study_free(a);
    pz_study_free(b);
    pz_space_free(sp);
}

Test(anneal, works_with_many_pending_trials)
{
    pz_space *sp = plane();
    pz_study *st = pzt_study_on(sp, "anneal", 5);
    pz_error e = {0};
    add_grid(st, 20);
    for (int i = 0; i < 50; i++) { /* 50 asks, none told */
        int64_t id;
        double x[2];
        cr_assert_eq(pz_study_ask(st, &id, x, &e), PZ_OK, "%s", e.msg);
        cr_assert(x[0] >= -5 && x[0] < 5 && x[1] >= -5 && x[1] < 5);
    }
    cr_assert_eq(pz_study_count(st, PZ_TRIAL_RUNNING), 50);
    pz_study_free(st);
    pz_space_free(sp);
}

Test(anneal, categories_keep_the_base_value_with_probability_one_minus_shrink)
{
    pz_space *sp = NULL;
    pz_error e = {0};
    static const double pk[] = {0.5, 0.5};
    pz_param_spec specs[] = {pzt_range(PZ_RANDINT, 10, 20), pzt_choice(4),
                             pzt_pchoice(2, pk)};
    const char *labels[] = {"r", "c", "p"};
    cr_assert_eq(pz_space_new(&sp, &e), PZ_OK);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(
            pz_space_add(sp, labels[i], &specs[i], PZ_NO_PARENT, 0, NULL, &e),
            PZ_OK);
    }
    pz_study *st = pzt_study_on(sp, "anneal", 6);
    double best[3] = {17, 2, 1};
    pzt_add_trial(st, 0, best, PZ_TRIAL_DONE, 0.0); /* T = 1: shrink 1/1.1 */
    size_t same[3] = {0};
    for (int64_t id = 1; id < 4001; id++) {
        double x[3];
        suggest(st, id, x);
        cr_assert(x[0] >= 10 && x[0] < 20 && x[1] >= 0 && x[1] < 4);
        for (int i = 0; i < 3; i++) {
            same[i] += x[i] == best[i];
        }
    }
    /* P(same) = 1 - shrink + shrink * p0(v): 1/11 + 10/11 * p0(v). */
    double want[3] = {1 / 11.0 + 10 / 11.0 / 10, 1 / 11.0 + 10 / 11.0 / 4,
                      1 / 11.0 + 10 / 11.0 / 2};
    for (int i = 0; i < 3; i++) {
        double f = (double)same[i] / 4000;
        cr_assert(fabs(f - want[i]) < 0.03, "%s: %g vs %g", labels[i], f,
                  want[i]);
    }
    pz_study_free(st);
    pz_space_free(sp);
}

Test(anneal, options_are_validated)
{
    pz_space *sp = plane();
    pz_study *st = pzt_study_on(sp, "anneal", 7);
    pz_error e = {0};
    cr_assert_eq(pz_study_set_option(st, "anneal.avg_best_idx", 1, &e), PZ_OK);
    cr_assert_eq(pz_study_set_option(st, "anneal.shrink_coef", 0, &e), PZ_OK);
    pzt_assert_fails(pz_study_set_option(st, "anneal.avg_best_idx", 0.5, &e), e,
                     PZ_EINVAL, "anneal.avg_best_idx");
    pzt_assert_fails(pz_study_set_option(st, "anneal.shrink_coef", -1, &e), e,
                     PZ_EINVAL, "anneal.shrink_coef");
    pzt_assert_fails(pz_study_set_option(st, "anneal.nope", 1, &e), e,
                     PZ_EINVAL, "anneal.nope");
    pz_study_free(st);
    pz_space_free(sp);
}

/* ---------------------------------------------------------------- mix */

Test(mix, default_weights_are_valid)
{
    pz_space *sp = plane();
    pz_study *st = pzt_study_on(sp, "mix", 8);
    pz_error e = {0};
    add_grid(st, 30);
    for (int i = 0; i < 20; i++) {
        int64_t id;
        double x[2];
        cr_assert_eq(pz_study_ask(st, &id, x, &e), PZ_OK, "%s", e.msg);
    }
    pz_study_free(st);
    pz_space_free(sp);
}

Test(mix, weights_are_validated)
{
    pz_space *sp = plane();
    pz_study *st = pzt_study_on(sp, "mix", 9);
    pz_error e = {0};
    pzt_assert_fails(pz_study_set_option(st, "mix.tpe", -0.1, &e), e, PZ_EINVAL,
                     "mix.tpe");
    pzt_assert_fails(pz_study_set_option(st, "mix.random", NAN, &e), e,
                     PZ_EINVAL, "mix.random");
    pzt_assert_fails(pz_study_set_option(st, "mix.bogus", 1, &e), e, PZ_EINVAL,
                     "mix.bogus");
    cr_assert_eq(pz_study_set_option(st, "mix.tpe", 0.9, &e), PZ_OK);
    double x[2];
    int64_t id;
    pzt_assert_fails(pz_study_ask(st, &id, x, &e), e, PZ_EINVAL, "sum to 1",
                     "mix.tpe=0.9");
    cr_assert_eq(pz_study_n_trials(st), 0, "a failed ask made a trial");
    cr_assert_eq(pz_study_set_option(st, "mix.tpe", 0.7, &e), PZ_OK);
    cr_assert_eq(pz_study_ask(st, &id, x, &e), PZ_OK, "%s", e.msg);
    pz_study_free(st);
    pz_space_free(sp);
}

Test(mix, forwards_sampler_options)
{
    pz_space *sp = plane();
    pz_study *st = pzt_study_on(sp, "mix", 10);
    pz_error e = {0};
    cr_assert_eq(pz_study_set_option(st, "tpe.gamma", 0.5, &e), PZ_OK);
    cr_assert_eq(pz_study_set_option(st, "anneal.shrink_coef", 0.2, &e), PZ_OK);
    pzt_assert_fails(pz_study_set_option(st, "tpe.gamma", -1, &e), e, PZ_EINVAL,
                     "tpe.gamma");
    pzt_assert_fails(pz_study_set_option(st, "anneal.avg_best_idx", 0, &e), e,
                     PZ_EINVAL, "anneal.avg_best_idx");
    pzt_assert_fails(pz_study_set_option(st, "random.x", 0, &e), e, PZ_EINVAL,
                     "random.x");
    pz_study_free(st);
    pz_space_free(sp);
}

Test(mix, picks_samplers_by_weight)
{
    /* With no shrinkage left, anneal proposes copies of existing points
     * (to 1e-8); random never does. So the share of copies among 2000
     * asks measures mix.anneal, and shows tpe.* / anneal.* reached the
     * mix's own samplers. */
    pz_space *sp = plane();
    pz_study *st = pzt_study_on(sp, "mix", 11);
    pz_error e = {0};
    add_grid(st, 5);
    const mix_option opts[] = {{"mix.random", 0.7},
                               {"mix.tpe", 0.0},
                               {"mix.anneal", 0.3},
                               {"anneal.shrink_coef", 1e9}};
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(pz_study_set_option(st, opts[i].key, opts[i].v, &e), PZ_OK,
                     "%s", e.msg);
    }
    size_t copies = 0;
    for (int64_t id = 100; id < 2100; id++) {
        double x[2];
        suggest(st, id, x);
        for (int i = 0; i < 5; i++) {
            double g[2] = {-4.5 + 0.9 * i, -4.5};
            copies += fabs(x[0] - g[0]) < 1e-8 && fabs(x[1] - g[1]) < 1e-8;
        }
    }
    double f = (double)copies / 2000;
    cr_assert(fabs(f - 0.3) < 0.035, "anneal share %g, want 0.3", f);
    pz_study_free(st);
    pz_space_free(sp);
}
