/*
 * test_sampler_tpe.c -- the TPE sampler through the study API: the
 * startup phase and which trials count toward it (NaN losses and
 * ERROR/CANCEL trials do not, pending ones do), pending trials steering
 * proposals away from themselves, option validation, conditional
 * parameters modelled only where active, randint's offset, and the
 * sampler registry.
 */
#include "pz_internal.h"
#include "pz_test_util.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>

/* ------------------------------------------------------------ helpers */

/* 'n' DONE trials with ids 0..n-1 at x = -4.5 + 9 i / n, loss (x - 1)^2,
 * on a one-parameter uniform(-5, 5) space. */
static void add_line(pz_study *st, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double x = -4.5 + 9.0 * (double)i / (double)n;
        pzt_add_trial(st, (int64_t)i, &x, PZ_TRIAL_DONE, (x - 1) * (x - 1));
    }
}

static double suggest1(pz_study *st, int64_t id)
{
    double x = NAN;
    pz_error e = {0};
    cr_assert_eq(pz_study_suggest(st, id, 7, &x, &e), PZ_OK, "%s", e.msg);
    return x;
}

/* Does the study propose, for trial 'id', what the prior would draw
 * from that trial's stream? */
static bool is_prior_draw(pz_study *st, int64_t id)
{
    pz__rng rng;
    double prior;
    pz__rng_seed(&rng, 7, (uint64_t)id);
    pz__sampler_draw_prior(pz_study_space(st), &rng, &prior);
    return suggest1(st, id) == prior;
}

static const pz_param_spec unit_uniform = {
    .dist = PZ_UNIFORM, .low = -5, .high = 5};

/* ------------------------------------------------------------ startup */

Test(tpe, draws_from_the_prior_until_n_startup_jobs_trials)
{
    pz_space *sp = pzt_space_of(&unit_uniform, 1);
    pz_study *st = pzt_study_on(sp, "tpe", 1);
    add_line(st, 19);
    for (int64_t id = 100; id < 110; id++) {
        cr_assert(is_prior_draw(st, id), "id %lld", (long long)id);
    }
    double x = 0.9;
    pzt_add_trial(st, 19, &x, PZ_TRIAL_DONE, 0.01);
    size_t differ = 0;
    for (int64_t id = 100; id < 110; id++) {
        differ += !is_prior_draw(st, id);
    }
    cr_assert_eq(differ, 10, "only %zu of 10 modelled", differ);
    pz_study_free(st);
    pz_space_free(sp);
}

Test(tpe, n_startup_jobs_option_moves_the_switch)
{
    pz_space *sp = pzt_space_of(&unit_uniform, 1);
    pz_study *st = pzt_study_on(sp, "tpe", 2);
    pzt_set_option(st, "tpe.n_startup_jobs", 5);
    add_line(st, 4);
    cr_assert(is_prior_draw(st, 50));
    double x = 1.0;
    pzt_add_trial(st, 4, &x, PZ_TRIAL_DONE, 0.0);
    cr_assert(!is_prior_draw(st, 50));
    pz_study_free(st);
    pz_space_free(sp);
}

Test(tpe, nan_losses_and_failed_trials_do_not_count_toward_startup)
{
    pz_space *sp = pzt_space_of(&unit_uniform, 1);
    pz_study *st = pzt_study_on(sp, "tpe", 3);
    add_line(st, 19);
    double x = 0.5;
    for (int64_t id = 19; id < 29; id++) {
        pzt_add_trial(st, id, &x, PZ_TRIAL_DONE, NAN);
    }
    pzt_add_trial(st, 29, &x, PZ_TRIAL_ERROR, INFINITY);
    pzt_add_trial(st, 30, &x, PZ_TRIAL_CANCEL, 1.0);
    cr_assert(is_prior_draw(st, 100), "NaN/ERROR/CANCEL counted");
    pzt_add_trial(st, 31, &x, PZ_TRIAL_DONE, INFINITY); /* a lossless failure */
    cr_assert(!is_prior_draw(st, 100), "+inf loss not counted");
    pz_study_free(st);
    pz_space_free(sp);
}

Test(tpe, pending_trials_count_toward_startup)
{
    pz_space *sp = pzt_space_of(&unit_uniform, 1);
    pz_study *st = pzt_study_on(sp, "tpe", 4);
    add_line(st, 19);
    double x = 0.5;
    pzt_add_trial(st, 19, &x, PZ_TRIAL_RUNNING, NAN);
    cr_assert(!is_prior_draw(st, 100));
    pz_study_free(st);
    pz_space_free(sp);
}

Test(tpe, nan_losses_are_ignored_by_the_model)
{
    /* The same history with ten NaN trials at a bad spot gives the same
     * proposals: they are in neither density. */
    pz_space *sp = pzt_space_of(&unit_uniform, 1);
    pz_study *a = pzt_study_on(sp, "tpe", 5), *b = pzt_study_on(sp, "tpe", 5);
    add_line(a, 30);
    add_line(b, 30);
    double bad = -4.9;
    for (int64_t id = 30; id < 40; id++) {
        pzt_add_trial(b, id, &bad, PZ_TRIAL_DONE, NAN);
    }
    for (int64_t id = 100; id < 120; id++) {
        cr_assert_eq(suggest1(a, id), suggest1(b, id));
    }
    pz_study_free(a);
    pz_study_free(b);
    pz_space_free(sp);
}

/* ----------------------------------------------------------- modelling */

/* 'n' DONE trials at prior draws of 'sp', loss = sum of (x_i - 1)^2. */
static void add_random(pz_study *st, size_t n, uint64_t seed)
{
    const pz_space *sp = pz_study_space(st);
    size_t d = pz_space_size(sp);
    double x[8];
    for (size_t i = 0; i < n; i++) {
        pz__rng rng;
        pz__rng_seed(&rng, seed, i);
        pz__sampler_draw_prior(sp, &rng, x);
        double loss = 0;
        for (size_t j = 0; j < d; j++) {
            loss += (x[j] - 1) * (x[j] - 1);
        }
        pzt_add_trial(st, (int64_t)i, x, PZ_TRIAL_DONE, loss);
    }
}

Test(tpe, concentrates_near_the_good_trials)
{
    /* (A regular grid is a bad history to test this on: its components
     * leave the ends of the range empty, g is tiny there and TPE
     * rightly explores them.) */
    pz_space *sp = pzt_space_of(&unit_uniform, 1);
    pz_study *st = pzt_study_on(sp, "tpe", 6);
    add_random(st, 100, 6); /* best at x = 1 */
    size_t near = 0;
    for (int64_t id = 100; id < 200; id++) {
        near += fabs(suggest1(st, id) - 1.0) < 1.0;
    }
    cr_assert(near >= 70, "%zu of 100 within 1 of the optimum", near);
    pz_study_free(st);
    pz_space_free(sp);
}

Test(tpe, is_deterministic_for_a_seed_and_trial_id)
{
    pz_space *sp = pzt_space_of(&unit_uniform, 1);
    pz_study *a = pzt_study_on(sp, "tpe", 8), *b = pzt_study_on(sp, "tpe", 8);
    add_line(a, 40);
    add_line(b, 40);
    for (int64_t id = 40; id < 60; id++) {
        cr_assert_eq(suggest1(a, id), suggest1(b, id));
    }
    cr_assert_neq(suggest1(a, 40), suggest1(a, 41));
    pz_study_free(a);
    pz_study_free(b);
    pz_space_free(sp);
}

/* Largest coordinate difference between two points of d values. */
static double sup_dist(const double *a, const double *b, size_t d)
{
    double m = 0;
    for (size_t i = 0; i < d; i++) {
        m = fmax(m, fabs(a[i] - b[i]));
    }
    return m;
}

/* Near-duplicates among 10 proposals made after 30 finished trials:
 * 'pending' asks (each proposal becomes a RUNNING trial the next one
 * sees), otherwise suggestions that do not see each other. */
static size_t near_duplicates(uint64_t seed, bool pending)
{
    static const pz_param_spec two[] = {
        {.dist = PZ_UNIFORM, .low = -5, .high = 5},
        {.dist = PZ_UNIFORM, .low = -5, .high = 5}};
    pz_space *sp = pzt_space_of(two, 2);
    pz_study *st = pzt_study_on(sp, "random", seed);
    pz_error e = {0};
    double x[10][2];
    for (int i = 0; i < 30; i++) {
        int64_t id;
        cr_assert_eq(pz_study_ask(st, &id, x[0], &e), PZ_OK);
        double loss =
            (x[0][0] - 1) * (x[0][0] - 1) + (x[0][1] - 1) * (x[0][1] - 1);
        cr_assert_eq(pz_study_tell(st, id, PZ_TRIAL_DONE, loss, &e), PZ_OK);
    }
    cr_assert_eq(pz_study_set_sampler(st, "tpe", &e), PZ_OK);
    size_t dups = 0;
    for (int k = 0; k < 10; k++) {
        int64_t id = 100 + k;
        int rc = pending ? pz_study_ask(st, &id, x[k], &e)
                         : pz_study_suggest(st, id, seed, x[k], &e);
        cr_assert_eq(rc, PZ_OK, "%s", e.msg);
        for (int j = 0; j < k; j++) {
            dups += sup_dist(x[k], x[j], 2) < 0.05;
        }
    }
    pz_study_free(st);
    pz_space_free(sp);
    return dups;
}

Test(tpe, pending_trials_are_not_proposed_again)
{
    size_t with = 0, without = 0;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        with += near_duplicates(seed, true);
        without += near_duplicates(seed, false);
    }
    /* Blind to each other, proposals pile up near the best trials; seen
     * as +inf-loss trials, the pending ones push the next ask away. */
    cr_assert_eq(with, 0, "%zu near-duplicates of pending points", with);
    cr_assert(without >= 10, "control found only %zu", without);
}

Test(tpe, conditional_parameters_are_modelled_where_active)
{
    /* c = choice(2); a in option 0, b in option 1. Option 0 trials are
     * good when a is near 3; option 1 trials are all bad. */
    pz_space *sp = NULL;
    pz_error e = {0};
    size_t c;
    pz_param_spec ch = pzt_choice(2), u = pzt_range(PZ_UNIFORM, -10, 10);
    cr_assert_eq(pz_space_new(&sp, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "c", &ch, PZ_NO_PARENT, 0, &c, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "a", &u, c, 0, NULL, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "b", &u, c, 1, NULL, &e), PZ_OK);
    pz_study *st = pzt_study_on(sp, "tpe", 9);
    for (int64_t i = 0; i < 60; i++) {
        double v = -9.5 + 19.0 * (double)(i / 2) / 30.0;
        double x[3] = {(double)(i % 2), i % 2 ? NAN : v, i % 2 ? v : NAN};
        double loss = i % 2 ? 50 + v * v : (v - 3) * (v - 3);
        pzt_add_trial(st, i, x, PZ_TRIAL_DONE, loss);
    }
    size_t opt0 = 0, near3 = 0;
    for (int64_t id = 100; id < 200; id++) {
        double x[3];
        cr_assert_eq(pz_study_suggest(st, id, 1, x, &e), PZ_OK, "%s", e.msg);
        cr_assert(x[0] == 0 || x[0] == 1);
        cr_assert(isnan(x[x[0] == 0 ? 2 : 1]), "inactive value not NaN");
        cr_assert(!isnan(x[x[0] == 0 ? 1 : 2]), "active value NaN");
        opt0 += x[0] == 0;
        near3 += x[0] == 0 && fabs(x[1] - 3) < 1.5;
    }
    cr_assert(opt0 >= 80, "option 0 chosen %zu times of 100", opt0);
    cr_assert(near3 >= 60, "a near 3 in %zu of %zu", near3, opt0);
    pz_study_free(st);
    pz_space_free(sp);
}

/* A space with a choice, conditional numeric children, log, quantized
 * and normal parameters: every path of the sorted-column cache. */
static pz_space *cache_space(void)
{
    pz_space *sp = NULL;
    pz_error e = {0};
    size_t c;
    pz_param_spec ch = pzt_choice(2), u = pzt_range(PZ_UNIFORM, -10, 10);
    pz_param_spec lu = pzt_range(PZ_LOGUNIFORM, -3, 2);
    pz_param_spec qlu = pzt_range(PZ_QLOGUNIFORM, -1, 3);
    qlu.q = 2;
    pz_param_spec nm = {.dist = PZ_NORMAL, .mu = 0, .sigma = 2};
    cr_assert_eq(pz_space_new(&sp, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "c", &ch, PZ_NO_PARENT, 0, &c, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "a", &u, c, 0, NULL, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "b", &lu, c, 1, NULL, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "q", &qlu, PZ_NO_PARENT, 0, NULL, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "n", &nm, PZ_NO_PARENT, 0, NULL, &e), PZ_OK);
    return sp;
}

/* What a fresh study holding the same trials as 'st' proposes for 'id':
 * the sorted columns built in one go, not merged ask by ask. */
static void suggest_from_scratch(pz_study *st, const pz_space *sp, int64_t id,
                                 double *x)
{
    pz_study *fresh = pzt_study_on(sp, "tpe", 0);
    pz_error e = {0};
    for (size_t i = 0; i < pz_study_n_trials(st); i++) {
        pz_trial_info t;
        cr_assert_eq(pz_study_trial(st, i, &t, &e), PZ_OK, "%s", e.msg);
        pzt_add_trial(fresh, t.id, t.values, t.state, t.loss);
    }
    cr_assert_eq(pz_study_suggest(fresh, id, 5, x, &e), PZ_OK, "%s", e.msg);
    pz_study_free(fresh);
}

static void assert_same_point(const double *a, const double *b, size_t d,
                              int64_t id)
{
    for (size_t j = 0; j < d; j++) {
        cr_assert(a[j] == b[j] || (isnan(a[j]) && isnan(b[j])),
                  "trial %lld, parameter %zu: %.17g (cached) != %.17g",
                  (long long)id, j, a[j], b[j]);
    }
}

Test(tpe, sorted_column_cache_matches_a_fresh_study)
{
    /* One study asks and tells 150 trials (some failing, some left
     * pending, ties from quantization); at every 10th trial its proposal
     * must equal a fresh study's on the same trials. Then a clear and
     * 200 other trials added at once: the cache must start over. */
    pz_space *sp = cache_space();
    pz_study *st = pzt_study_on(sp, "tpe", 0);
    pz_error e = {0};
    double x[5], y[5];
    for (int64_t k = 0; k < 150; k++) {
        int64_t id;
        cr_assert_eq(pz_study_ask(st, &id, x, &e), PZ_OK, "%s", e.msg);
        double loss = (x[0] == 0 ? (x[1] - 3) * (x[1] - 3) : 20 + x[2]) +
                      x[4] * x[4] + x[3];
        pz_trial_state state = k % 13 == 5   ? PZ_TRIAL_ERROR
                               : k % 17 == 3 ? PZ_TRIAL_RUNNING
                                             : PZ_TRIAL_DONE;
        cr_assert_eq(pz_study_tell(st, id, state, loss, &e), PZ_OK);
        if (k % 10 == 9) {
            cr_assert_eq(pz_study_suggest(st, 1000 + k, 5, x, &e), PZ_OK);
            suggest_from_scratch(st, sp, 1000 + k, y);
            assert_same_point(x, y, 5, 1000 + k);
        }
    }
    pz_study_clear(st);
    for (int64_t k = 0; k < 200; k++) {
        double v = -9.5 + 0.09 * (double)k;
        double p[5] = {(double)(k % 2), k % 2 ? NAN : v, k % 2 ? 1.0 : NAN,
                       2.0 * (double)(k % 7), 0.01 * (double)k};
        pzt_add_trial(st, k, p, PZ_TRIAL_DONE, fabs(v + 4));
    }
    cr_assert_eq(pz_study_suggest(st, 500, 5, x, &e), PZ_OK, "%s", e.msg);
    suggest_from_scratch(st, sp, 500, y);
    assert_same_point(x, y, 5, 500);
    pz_study_free(st);
    pz_space_free(sp);
}

/* Hyperopt's TPE for one numeric parameter, spelled out with the
 * mixture API on observations in tid order (the unsorted-input fit): the
 * reference for the sampler's sorted columns, ties included. */
static double reference_tpe(const double *xs, const double *losses, size_t n,
                            double low, double high, double q, int64_t id,
                            uint64_t seed)
{
    size_t n_below = (size_t)ceil(0.25 * sqrt((double)n)), nb = 0, na = 0;
    double good[64], bad[512], cand[24], ll[24], lg[24];
    cr_assert(n <= 512 && n_below <= 25);
    for (size_t i = 0; i < n; i++) { /* rank by (loss, age) */
        size_t better = 0;
        for (size_t j = 0; j < n; j++) {
            better +=
                losses[j] < losses[i] || (losses[j] == losses[i] && j < i);
        }
        if (better < n_below) {
            good[nb++] = xs[i];
        } else {
            bad[na++] = xs[i];
        }
    }
    pz__arena arena;
    pz__arena_init(&arena);
    pz__mixture l, g;
    pz__parzen_prior pr = {0.5 * (low + high), high - low, 1.0, 25};
    cr_assert_eq(pz__mixture_alloc(&l, nb + 1, &arena), PZ_OK);
    cr_assert_eq(pz__mixture_alloc(&g, na + 1, &arena), PZ_OK);
    l.low = g.low = low;
    l.high = g.high = high;
    l.q = g.q = q;
    l.normalise = g.normalise = false;
    pz__mixture_fit(&l, good, nb, &pr);
    pz__mixture_fit(&g, bad, na, &pr);
    pz__rng rng;
    pz__rng_seed(&rng, seed, (uint64_t)id);
    for (size_t i = 0; i < 24; i++) {
        cand[i] = pz__mixture_sample(&l, &rng);
    }
    double best = cand[pz__mixture_argmax_ratio(&l, &g, cand, 24, ll, lg)];
    pz__arena_fini(&arena);
    return best;
}

Test(tpe, sorted_columns_give_the_reference_proposal_with_ties)
{
    /* quniform(-5, 5, q=0.5): 21 values for 300 trials, so equal values
     * are everywhere and their order (by age) decides which of them gets
     * the gap-sized bandwidth and which the forgetting weight. Checked
     * at every n from 41 on: one ordering slip changes a proposal. */
    pz_param_spec qu = pzt_range(PZ_QUNIFORM, -5, 5);
    qu.q = 0.5;
    pz_space *sp = pzt_space_of(&qu, 1);
    pz_study *st = pzt_study_on(sp, "tpe", 0);
    double xs[300], losses[300];
    for (size_t i = 0; i < 300; i++) {
        xs[i] = 0.5 * (double)((i * 7919) % 21) - 5.0;
        losses[i] = fabs(xs[i] - 1.5) + 0.001 * (double)(i % 5);
        pzt_add_trial(st, (int64_t)i, &xs[i], PZ_TRIAL_DONE, losses[i]);
        if (i >= 40) {
            double x = NAN;
            pz_error e = {0};
            int64_t id = 1000 + (int64_t)i;
            cr_assert_eq(pz_study_suggest(st, id, 11, &x, &e), PZ_OK);
            double want = reference_tpe(xs, losses, i + 1, -5, 5, 0.5, id, 11);
            cr_assert(x == want, "n=%zu: %.17g, reference %.17g", i + 1, x,
                      want);
        }
    }
    pz_study_free(st);
    pz_space_free(sp);
}

Test(tpe, minus_zero_is_zero)
{
    /* Two histories that differ only in the sign of their zeros (qnormal
     * rounding of small negatives gives -0.0) must give the same
     * proposals: the prior mean 0 goes before every value equal to it. */
    pz_param_spec qn = {.dist = PZ_QNORMAL, .mu = 0, .sigma = 10, .q = 2};
    pz_space *sp = pzt_space_of(&qn, 1);
    pz_study *pos = pzt_study_on(sp, "tpe", 3),
             *neg = pzt_study_on(sp, "tpe", 3);
    for (int64_t i = 0; i < 60; i++) {
        double x = 2.0 * (double)((i * 37) % 11) - 10.0;
        double loss = (x - 0.3) * (x - 0.3) + 0.01 * (double)i;
        double xn = x == 0.0 ? -0.0 : x;
        pzt_add_trial(pos, i, &x, PZ_TRIAL_DONE, loss);
        pzt_add_trial(neg, i, &xn, PZ_TRIAL_DONE, loss);
    }
    for (int64_t id = 100; id < 300; id++) {
        double a = suggest1(pos, id), b = suggest1(neg, id);
        cr_assert(a == b, "trial %lld: %g with +0.0, %g with -0.0",
                  (long long)id, a, b);
    }
    pz_study_free(pos);
    pz_study_free(neg);
    pz_space_free(sp);
}

Test(tpe, randint_proposals_keep_the_low_offset)
{
    /* Upstream drops 'low' for keyword bounds and proposes [0, high -
     * low); we always add it back. */
    pz_param_spec r = pzt_range(PZ_RANDINT, 100, 110);
    pz_space *sp = pzt_space_of(&r, 1);
    pz_study *st = pzt_study_on(sp, "tpe", 10);
    for (int64_t i = 0; i < 40; i++) {
        double x = 100 + (double)(i % 10);
        pzt_add_trial(st, i, &x, PZ_TRIAL_DONE, fabs(x - 107));
    }
    size_t at107 = 0;
    for (int64_t id = 100; id < 200; id++) {
        double x = suggest1(st, id);
        cr_assert(x >= 100 && x < 110 && x == floor(x), "x = %g", x);
        at107 += x == 107;
    }
    cr_assert(at107 >= 50, "107 proposed %zu times of 100", at107);
    pz_study_free(st);
    pz_space_free(sp);
}

Test(tpe, every_distribution_yields_values_in_its_support)
{
    static const double pk[] = {0.2, 0.8};
    pz_param_spec specs[] = {
        pzt_range(PZ_UNIFORM, -2, 2),
        pzt_qrange(PZ_QUNIFORM, 0.5, 10, 1),
        pzt_range(PZ_LOGUNIFORM, -3, 1),
        pzt_qrange(PZ_QLOGUNIFORM, 0, 4, 2),
        pzt_normal(PZ_NORMAL, 1, 2),
        pzt_qnormal(PZ_QNORMAL, 0, 5, 0.5),
        pzt_normal(PZ_LOGNORMAL, 0, 1),
        pzt_qnormal(PZ_QLOGNORMAL, 1, 1, 3),
        pzt_range(PZ_RANDINT, -3, 4),
        pzt_range(PZ_UNIFORMINT, 1, 6),
        pzt_choice(5),
        pzt_pchoice(2, pk),
    };
    size_t d = sizeof specs / sizeof specs[0];
    pz_space *sp = pzt_space_of(specs, d);
    pz_study *st = pzt_study_on(sp, "tpe", 11);
    pzt_set_option(st, "tpe.n_startup_jobs", 10);
    pz_error e = {0};
    for (int i = 0; i < 60; i++) {
        double x[12], loss = 0;
        int64_t id;
        cr_assert_eq(pz_study_ask(st, &id, x, &e), PZ_OK, "%s", e.msg);
        cr_assert_eq(pz_space_check_point(sp, x, &e), PZ_OK, "ask %d: %s", i,
                     e.msg);
        for (size_t j = 0; j < d; j++) {
            loss += x[j] * x[j];
        }
        cr_assert_eq(pz_study_tell(st, id, PZ_TRIAL_DONE, loss, &e), PZ_OK);
    }
    pz_study_free(st);
    pz_space_free(sp);
}

/* ------------------------------------------------------------ options */

Test(tpe, options_accept_valid_values)
{
    pz_space *sp = pzt_space_of(&unit_uniform, 1);
    pz_study *st = pzt_study_on(sp, "tpe", 12);
    pzt_set_option(st, "tpe.prior_weight", 0.01);
    pzt_set_option(st, "tpe.n_startup_jobs", 0);
    pzt_set_option(st, "tpe.n_EI_candidates", 1);
    pzt_set_option(st, "tpe.n_ei_candidates", 5);
    pzt_set_option(st, "tpe.gamma", 0.05);
    pzt_set_option(st, "tpe.linear_forgetting", 0);
    cr_assert(isfinite(suggest1(st, 0))); /* modelling an empty history */
    pz_study_free(st);
    pz_space_free(sp);
}

static void assert_bad_option(pz_study *st, const char *key, double v)
{
    pz_error e = {0};
    pzt_assert_fails(pz_study_set_option(st, key, v, &e), e, PZ_EINVAL, key);
}

Test(tpe, options_reject_bad_values_naming_the_key)
{
    pz_space *sp = pzt_space_of(&unit_uniform, 1);
    pz_study *st = pzt_study_on(sp, "tpe", 13);
    assert_bad_option(st, "tpe.prior_weight", 0);
    assert_bad_option(st, "tpe.prior_weight", -1);
    assert_bad_option(st, "tpe.prior_weight", INFINITY);
    assert_bad_option(st, "tpe.gamma", 0);
    assert_bad_option(st, "tpe.gamma", NAN);
    assert_bad_option(st, "tpe.n_startup_jobs", -1);
    assert_bad_option(st, "tpe.n_startup_jobs", 2.5);
    assert_bad_option(st, "tpe.n_EI_candidates", 0);
    assert_bad_option(st, "tpe.n_EI_candidates", 1e12);
    assert_bad_option(st, "tpe.linear_forgetting", -3);
    assert_bad_option(st, "tpe.bogus", 1);
    assert_bad_option(st, "anneal.shrink_coef", 1);
    pz_study_free(st);
    pz_space_free(sp);
}

/* ----------------------------------------------------------- registry */

Test(tpe, samplers_are_selectable_by_name)
{
    pz_space *sp = pzt_space_of(&unit_uniform, 1);
    pz_study *st = pzt_study_on(sp, "random", 14);
    pz_error e = {0};
    const char *names[] = {"tpe", "anneal", "mix", "random", "rand"};
    const char *want[] = {"tpe", "anneal", "mix", "random", "random"};
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(pz_study_set_sampler(st, names[i], &e), PZ_OK);
        cr_assert_str_eq(pz_study_sampler(st), want[i]);
        int64_t id;
        double x;
        cr_assert_eq(pz_study_ask(st, &id, &x, &e), PZ_OK, "%s", e.msg);
        cr_assert(x >= -5 && x < 5);
    }
    pzt_assert_fails(pz_study_set_sampler(st, "atpe", &e), e, PZ_EINVAL, "atpe",
                     "tpe", "anneal", "mix");
    pz_study_free(st);
    pz_space_free(sp);
}

/* ---------------------------------------------------- out of memory */

/* Fail the n-th allocation of one suggest (n = 0, 1, ...) on a fresh
 * study until one succeeds: every failure must be a clean PZ_ENOMEM
 * (ASan builds check nothing leaks). */
static void suggest_under_oom(const char *sampler)
{
    static const pz_param_spec specs[] = {
        {.dist = PZ_UNIFORM, .low = -5, .high = 5},
        {.dist = PZ_CHOICE, .n_options = 3},
        {.dist = PZ_QLOGUNIFORM, .low = 0, .high = 3, .q = 1}};
    pz_space *sp = pzt_space_of(specs, 3);
    for (long n = 0;; n++) {
        pz_study *st = pzt_study_on(sp, sampler, 15);
        add_random(st, 30, 15);
        double x[3];
        pz_error e = {0};
        pz__alloc_fail_after(n);
        int rc = pz_study_suggest(st, 100, 1, x, &e);
        pz__alloc_fail_after(-1);
        pz_study_free(st);
        if (rc == PZ_OK) {
            break;
        }
        cr_assert_eq(rc, PZ_ENOMEM, "%s, n=%ld: %s", sampler, n, e.msg);
        cr_assert(n < 1000, "no success after %ld failures", n);
    }
    for (long n = 0;; n++) { /* mix allocates its samplers' states */
        pz_study *st = pzt_study_on(sp, "random", 15);
        pz_error e = {0};
        pz__alloc_fail_after(n);
        int rc = pz_study_set_sampler(st, sampler, &e);
        pz__alloc_fail_after(-1);
        cr_assert_str_eq(pz_study_sampler(st),
                         rc == PZ_OK ? sampler : "random");
        pz_study_free(st);
        if (rc == PZ_OK) {
            break;
        }
        cr_assert_eq(rc, PZ_ENOMEM, "%s, n=%ld: %s", sampler, n, e.msg);
    }
    pz_space_free(sp);
}

Test(tpe, samplers_fail_cleanly_when_memory_runs_out)
{
    suggest_under_oom("tpe");
    suggest_under_oom("anneal");
    suggest_under_oom("mix");
    suggest_under_oom("mtpe");
}
