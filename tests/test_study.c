/*
 * test_study.c -- ask/tell/add/suggest: trial ids and states, counts, the
 * best trial, reproducibility from a seed, independence from call order,
 * error codes, sampler selection and the shared stop rules.
 */
#include "pz_internal.h"
#include "pz_test_util.h"

#include <criterion/criterion.h>

/* x ~ uniform(0, 1); c ~ choice(2) with k ~ randint(0, 5) under option 1. */
enum { P_X, P_C, P_K, N_P };

static pz_study *open_study(uint64_t seed)
{
    pz_space *sp = NULL;
    pz_study *st = NULL;
    pz_error e = {0};
    pz_param_spec x = pzt_range(PZ_UNIFORM, 0, 1), c = pzt_choice(2);
    pz_param_spec k = pzt_range(PZ_RANDINT, 0, 5);
    cr_assert_eq(pz_space_new(&sp, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "x", &x, PZ_NO_PARENT, 0, NULL, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "c", &c, PZ_NO_PARENT, 0, NULL, &e), PZ_OK);
    cr_assert_eq(pz_space_add(sp, "k", &k, P_C, 1, NULL, &e), PZ_OK);
    cr_assert_eq(pz_study_new(&st, sp, &e), PZ_OK, "%s", e.msg);
    pz_space_free(sp);
    pz_study_set_seed(st, seed);
    return st;
}

static int64_t ask(pz_study *st, double *v)
{
    int64_t id = -99;
    pz_error e = {0};
    cr_assert_eq(pz_study_ask(st, &id, v, &e), PZ_OK, "%s", e.msg);
    return id;
}

static void tell(pz_study *st, int64_t id, pz_trial_state s, double loss)
{
    pz_error e = {0};
    cr_assert_eq(pz_study_tell(st, id, s, loss, &e), PZ_OK, "%s", e.msg);
}

static bool same_values(const double *a, const double *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!(a[i] == b[i] || (isnan(a[i]) && isnan(b[i])))) {
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------------ ask/tell */

Test(study, new_study_uses_random_search_and_has_no_trials)
{
    pz_study *st = open_study(0);
    cr_assert_str_eq(pz_study_sampler(st), "random");
    cr_assert_eq(pz_study_n_trials(st), 0);
    cr_assert_eq(pz_space_size(pz_study_space(st)), N_P);
    pz_trial_info t;
    pz_error e = {0};
    pzt_assert_fails(pz_study_best(st, &t, &e), e, PZ_ENOTFOUND, "no");
    pzt_assert_fails(pz_study_trial(st, 0, &t, &e), e, PZ_EINVAL, "0");
    pz_study_free(st);
    pzt_assert_no_leaks();
}

Test(study, new_study_rejects_a_null_space)
{
    pz_study *st = (pz_study *)&st;
    pz_error e = {0};
    pzt_assert_fails(pz_study_new(&st, NULL, &e), e, PZ_EINVAL, "NULL");
    cr_assert_null(st);
    pz_study_free(NULL);
}

Test(study, ask_gives_consecutive_ids_and_running_trials)
{
    pz_study *st = open_study(1);
    double v[N_P];
    for (int64_t want = 0; want < 5; want++) {
        cr_assert_eq(ask(st, v), want);
        cr_assert(v[P_X] >= 0 && v[P_X] < 1);
        cr_assert(v[P_C] == 0 || v[P_C] == 1);
        cr_assert_eq(isnan(v[P_K]), v[P_C] == 0);
    }
    cr_assert_eq(pz_study_n_trials(st), 5);
    cr_assert_eq(pz_study_count(st, PZ_TRIAL_RUNNING), 5);
    cr_assert_eq(pz_study_count(st, PZ_TRIAL_DONE), 0);
    pz_trial_info t;
    cr_assert_eq(pz_study_trial(st, 4, &t, NULL), PZ_OK);
    cr_assert_eq(t.id, 4);
    cr_assert_eq(t.state, PZ_TRIAL_RUNNING);
    cr_assert(isnan(t.loss));
    cr_assert(same_values(t.values, v, N_P));
    pz_study_free(st);
    pzt_assert_no_leaks();
}

Test(study, tell_records_state_and_loss_and_may_overwrite)
{
    pz_study *st = open_study(2);
    double v[N_P];
    int64_t a = ask(st, v), b = ask(st, v), c = ask(st, v), d = ask(st, v);
    tell(st, a, PZ_TRIAL_DONE, 0.5);
    tell(st, b, PZ_TRIAL_ERROR, INFINITY);
    tell(st, c, PZ_TRIAL_CANCEL, NAN);
    cr_assert_eq(pz_study_count(st, PZ_TRIAL_DONE), 1);
    cr_assert_eq(pz_study_count(st, PZ_TRIAL_ERROR), 1);
    cr_assert_eq(pz_study_count(st, PZ_TRIAL_CANCEL), 1);
    cr_assert_eq(pz_study_count(st, PZ_TRIAL_RUNNING), 1);
    cr_assert_eq(pz_study_count(st, PZ_TRIAL_NEW), 0);
    pz_trial_info t;
    cr_assert_eq(pz_study_trial(st, 1, &t, NULL), PZ_OK);
    cr_assert_eq(t.id, b);
    cr_assert_eq(t.state, PZ_TRIAL_ERROR);
    cr_assert(isinf(t.loss));
    /* Telling again overwrites; any state is accepted (NEW -> RUNNING). */
    tell(st, a, PZ_TRIAL_DONE, 0.25);
    tell(st, d, PZ_TRIAL_NEW, NAN);
    tell(st, d, PZ_TRIAL_RUNNING, NAN);
    cr_assert_eq(pz_study_trial(st, 0, &t, NULL), PZ_OK);
    cr_assert_eq(t.loss, 0.25);
    cr_assert_eq(pz_study_count(st, PZ_TRIAL_RUNNING), 1);
    cr_assert_eq(pz_study_n_trials(st), 4);
    pz_study_free(st);
    pzt_assert_no_leaks();
}

Test(study, tell_of_an_unknown_id_is_not_found)
{
    pz_study *st = open_study(3);
    double v[N_P];
    ask(st, v);
    pz_error e = {0};
    pzt_assert_fails(pz_study_tell(st, 1, PZ_TRIAL_DONE, 0.0, &e), e,
                     PZ_ENOTFOUND, "1");
    pzt_assert_fails(pz_study_tell(st, -5, PZ_TRIAL_DONE, 0.0, &e), e,
                     PZ_ENOTFOUND, "-5");
    pzt_assert_fails(pz_study_tell(st, INT64_MAX, PZ_TRIAL_DONE, 0.0, &e), e,
                     PZ_ENOTFOUND, "9223372036854775807");
    cr_assert_eq(pz_study_count(st, PZ_TRIAL_DONE), 0);
    pz_study_free(st);
    pzt_assert_no_leaks();
}

Test(study, tell_with_a_bad_state_is_invalid)
{
    pz_study *st = open_study(4);
    double v[N_P];
    int64_t id = ask(st, v);
    pz_error e = {0};
    pzt_assert_fails(
        pz_study_tell(st, id, (pz_trial_state)PZ_TRIAL_STATE_COUNT, 0.0, &e), e,
        PZ_EINVAL, "state");
    pzt_assert_fails(pz_study_tell(st, id, (pz_trial_state)-1, 0.0, &e), e,
                     PZ_EINVAL, "state");
    cr_assert_eq(pz_study_count(st, PZ_TRIAL_RUNNING), 1);
    pz_study_free(st);
    pzt_assert_no_leaks();
}

Test(study, tell_finds_ids_among_many_trials)
{
    pz_study *st = open_study(5);
    double v[N_P];
    enum { N = 5000 };
    for (int i = 0; i < N; i++) {
        ask(st, v);
    }
    for (int64_t id = N - 1; id >= 0; id -= 3) {
        tell(st, id, PZ_TRIAL_DONE, (double)id);
    }
    pz_trial_info t;
    cr_assert_eq(pz_study_best(st, &t, NULL), PZ_OK);
    cr_assert_eq(t.id, 1); /* smallest id told: 4999 = 3 * 1666 + 1 */
    cr_assert_eq(pz_study_count(st, PZ_TRIAL_DONE), (N + 2) / 3);
    pz_study_free(st);
    pzt_assert_no_leaks();
}

/* ------------------------------------------------------------------ add */

Test(study, add_records_a_given_point_and_moves_the_next_id)
{
    pz_study *st = open_study(6);
    double p[N_P] = {0.25, 1, 3};
    pz_error e = {0};
    cr_assert_eq(pz_study_add(st, 10, p, PZ_TRIAL_DONE, 1.5, &e), PZ_OK, "%s",
                 e.msg);
    pz_trial_info t;
    cr_assert_eq(pz_study_trial(st, 0, &t, NULL), PZ_OK);
    cr_assert_eq(t.id, 10);
    cr_assert_eq(t.state, PZ_TRIAL_DONE);
    cr_assert_eq(t.loss, 1.5);
    cr_assert(same_values(t.values, p, N_P));
    double v[N_P];
    cr_assert_eq(ask(st, v), 11);
    /* A smaller id does not move the next id back. */
    cr_assert_eq(pz_study_add(st, 3, p, PZ_TRIAL_NEW, NAN, &e), PZ_OK);
    cr_assert_eq(ask(st, v), 12);
    cr_assert_eq(pz_study_n_trials(st), 4);
    pz_study_free(st);
    pzt_assert_no_leaks();
}

Test(study, add_of_the_largest_id_leaves_no_next_id)
{
    /* INT64_MAX + 1 does not exist: the next ask must fail cleanly, not
     * overflow (UBSan checks this in the ASan build). */
    pz_study *st = open_study(6);
    double p[N_P] = {0.25, 0, NAN}, v[N_P];
    pz_error e = {0};
    cr_assert_eq(pz_study_add(st, INT64_MAX, p, PZ_TRIAL_DONE, 1.0, &e), PZ_OK,
                 "%s", e.msg);
    int64_t id = 0;
    int rc = pz_study_ask(st, &id, v, &e);
    cr_assert_neq(rc, PZ_OK, "ask after id INT64_MAX gave id %lld",
                  (long long)id);
    cr_assert_eq(rc, PZ_EINVAL, "%s", e.msg);
    cr_assert_eq(pz_study_n_trials(st), 1);
    /* Smaller ids can still be added. */
    cr_assert_eq(pz_study_add(st, -1, p, PZ_TRIAL_DONE, 1.0, &e), PZ_OK);
    pz_study_free(st);
    pzt_assert_no_leaks();
}

Test(study, add_of_an_existing_id_is_invalid)
{
    pz_study *st = open_study(7);
    double v[N_P];
    int64_t id = ask(st, v);
    pz_error e = {0};
    pzt_assert_fails(pz_study_add(st, id, v, PZ_TRIAL_DONE, 0.0, &e), e,
                     PZ_EINVAL, "already exists");
    cr_assert_eq(pz_study_n_trials(st), 1);
    pz_study_free(st);
    pzt_assert_no_leaks();
}

Test(study, add_with_an_invalid_value_names_the_label)
{
    pz_study *st = open_study(8);
    pz_error e = {0};
    double bad_c[N_P] = {0.5, 2, NAN};
    pzt_assert_fails(pz_study_add(st, 0, bad_c, PZ_TRIAL_DONE, 0, &e), e,
                     PZ_EINVAL, "'c'", "trial 0");
    double bad_k[N_P] = {0.5, 1, 2.5};
    pzt_assert_fails(pz_study_add(st, 1, bad_k, PZ_TRIAL_DONE, 0, &e), e,
                     PZ_EINVAL, "'k'", "trial 1");
    double k_missing[N_P] = {0.5, 1, NAN};
    pzt_assert_fails(pz_study_add(st, 2, k_missing, PZ_TRIAL_DONE, 0, &e), e,
                     PZ_EINVAL, "'k'");
    double bad_x[N_P] = {INFINITY, 0, NAN};
    pzt_assert_fails(pz_study_add(st, 3, bad_x, PZ_TRIAL_DONE, 0, &e), e,
                     PZ_EINVAL, "'x'");
    pzt_assert_fails(pz_study_add(st, 4, k_missing, (pz_trial_state)9, 0, &e),
                     e, PZ_EINVAL, "state");
    cr_assert_eq(pz_study_n_trials(st), 0);
    double v[N_P];
    cr_assert_eq(ask(st, v), 0, "a failed add must not take an id");
    pz_study_free(st);
    pzt_assert_no_leaks();
}

Test(study, add_stores_inactive_parameters_as_nan)
{
    pz_study *st = open_study(9);
    double p[N_P] = {0.5, 0, 4}; /* k is inactive: its 4 is stale */
    cr_assert_eq(pz_study_add(st, 0, p, PZ_TRIAL_DONE, 1.0, NULL), PZ_OK);
    pz_trial_info t;
    cr_assert_eq(pz_study_trial(st, 0, &t, NULL), PZ_OK);
    cr_assert_eq(t.values[P_X], 0.5);
    cr_assert(isnan(t.values[P_K]));
    pz_study_free(st);
    pzt_assert_no_leaks();
}

Test(study, add_accepts_values_outside_the_bounds_as_hyperopt_does)
{
    /* A user-given point may lie outside uniform's bounds (hyperopt
     * evaluates it); only values no sampler can digest are refused. */
    pz_study *st = open_study(10);
    double p[N_P] = {7.5, 1, 2};
    cr_assert_eq(pz_study_add(st, 0, p, PZ_TRIAL_DONE, 1.0, NULL), PZ_OK);
    pz_study_free(st);
    pzt_assert_no_leaks();
}

/* ---------------------------------------------------------------- best */

Test(study, best_is_the_smallest_loss_of_a_done_trial)
{
    pz_study *st = open_study(11);
    double v[N_P];
    int64_t ids[6];
    for (int i = 0; i < 6; i++) {
        ids[i] = ask(st, v);
    }
    tell(st, ids[0], PZ_TRIAL_DONE, 3.0);
    tell(st, ids[1], PZ_TRIAL_ERROR, -100.0); /* not DONE: ignored */
    tell(st, ids[2], PZ_TRIAL_DONE, NAN);     /* NaN: ignored */
    tell(st, ids[3], PZ_TRIAL_DONE, 1.0);
    tell(st, ids[4], PZ_TRIAL_DONE, 1.0); /* tie: the first one wins */
    /* ids[5] is RUNNING: ignored */
    pz_trial_info t;
    cr_assert_eq(pz_study_best(st, &t, NULL), PZ_OK);
    cr_assert_eq(t.id, ids[3]);
    cr_assert_eq(t.loss, 1.0);
    cr_assert_eq(t.state, PZ_TRIAL_DONE);
    tell(st, ids[5], PZ_TRIAL_DONE, -INFINITY);
    cr_assert_eq(pz_study_best(st, &t, NULL), PZ_OK);
    cr_assert_eq(t.id, ids[5]);
    pz_study_free(st);
    pzt_assert_no_leaks();
}

Test(study, best_counts_a_lossless_done_trial_last)
{
    pz_study *st = open_study(12);
    double v[N_P];
    int64_t a = ask(st, v);
    tell(st, a, PZ_TRIAL_DONE, INFINITY);
    pz_trial_info t;
    cr_assert_eq(pz_study_best(st, &t, NULL), PZ_OK);
    cr_assert_eq(t.id, a);
    int64_t b = ask(st, v);
    tell(st, b, PZ_TRIAL_DONE, 1e300);
    cr_assert_eq(pz_study_best(st, &t, NULL), PZ_OK);
    cr_assert_eq(t.id, b);
    pz_study_free(st);
    pzt_assert_no_leaks();
}

Test(study, best_is_not_found_without_a_done_loss)
{
    pz_study *st = open_study(13);
    double v[N_P];
    tell(st, ask(st, v), PZ_TRIAL_ERROR, 1.0);
    tell(st, ask(st, v), PZ_TRIAL_DONE, NAN);
    ask(st, v);
    pz_trial_info t;
    pz_error e = {0};
    pzt_assert_fails(pz_study_best(st, &t, &e), e, PZ_ENOTFOUND, "loss");
    pz_study_free(st);
    pzt_assert_no_leaks();
}

Test(study, clear_removes_every_trial)
{
    pz_study *st = open_study(14);
    double v[N_P];
    int64_t a = ask(st, v);
    tell(st, a, PZ_TRIAL_DONE, 1.0);
    ask(st, v);
    pz_study_clear(st);
    cr_assert_eq(pz_study_n_trials(st), 0);
    cr_assert_eq(pz_study_count(st, PZ_TRIAL_DONE), 0);
    cr_assert_eq(pz_study_tell(st, a, PZ_TRIAL_DONE, 0, NULL), PZ_ENOTFOUND);
    pz_trial_info t;
    cr_assert_eq(pz_study_best(st, &t, NULL), PZ_ENOTFOUND);
    int64_t b = ask(st, v);
    cr_assert_eq(pz_study_n_trials(st), 1);
    tell(st, b, PZ_TRIAL_DONE, 2.0);
    cr_assert_eq(pz_study_best(st, &t, NULL), PZ_OK);
    cr_assert_eq(t.id, b);
    pz_study_free(st);
    pzt_assert_no_leaks();
}

/* ------------------------------------------------------ reproducibility */

Test(study, same_seed_gives_the_same_sequence)
{
    pz_study *a = open_study(42), *b = open_study(42), *c = open_study(43);
    int differ = 0;
    for (int i = 0; i < 100; i++) {
        double va[N_P], vb[N_P], vc[N_P];
        cr_assert_eq(ask(a, va), ask(b, vb));
        ask(c, vc);
        cr_assert(same_values(va, vb, N_P), "trial %d differs", i);
        differ += !same_values(va, vc, N_P);
        /* Outcomes told in a different order change nothing. */
        tell(a, i, PZ_TRIAL_DONE, va[P_X]);
        if (i % 2) {
            tell(b, i - 1, PZ_TRIAL_DONE, 1.0);
            tell(b, i, PZ_TRIAL_ERROR, NAN);
        }
    }
    cr_assert_gt(differ, 95, "seed 43 repeats seed 42");
    pz_study_free(a);
    pz_study_free(b);
    pz_study_free(c);
    pzt_assert_no_leaks();
}

Test(study, ask_draws_from_the_stream_of_the_trial_id)
{
    pz_study *st = open_study(77);
    pz_study *probe = open_study(0);
    double v[N_P], s[N_P];
    for (int i = 0; i < 20; i++) {
        int64_t id = ask(st, v);
        cr_assert_eq(pz_study_suggest(probe, id, 77, s, NULL), PZ_OK);
        cr_assert(same_values(v, s, N_P), "trial %lld", (long long)id);
    }
    /* add moves the next id: the next ask uses that id's stream. */
    double p[N_P] = {0.5, 0, NAN};
    cr_assert_eq(pz_study_add(st, 100, p, PZ_TRIAL_DONE, 0, NULL), PZ_OK);
    cr_assert_eq(ask(st, v), 101);
    cr_assert_eq(pz_study_suggest(probe, 101, 77, s, NULL), PZ_OK);
    cr_assert(same_values(v, s, N_P));
    pz_study_free(probe);
    pz_study_free(st);
    pzt_assert_no_leaks();
}

Test(study, suggest_is_independent_of_call_order_and_records_nothing)
{
    pz_study *st = open_study(5);
    enum { N = 32 };
    double fwd[N][N_P], rev[N][N_P], again[N_P];
    for (int64_t id = 0; id < N; id++) {
        cr_assert_eq(pz_study_suggest(st, id, 1234, fwd[id], NULL), PZ_OK);
    }
    for (int64_t id = N - 1; id >= 0; id--) {
        cr_assert_eq(pz_study_suggest(st, id, 1234, rev[id], NULL), PZ_OK);
    }
    for (int64_t id = 0; id < N; id++) {
        cr_assert(same_values(fwd[id], rev[id], N_P), "id %lld", (long long)id);
    }
    cr_assert_eq(pz_study_n_trials(st), 0);
    /* Interleaved with asks and tells: still the same. */
    double v[N_P];
    tell(st, ask(st, v), PZ_TRIAL_DONE, 1.0);
    cr_assert_eq(pz_study_suggest(st, 7, 1234, again, NULL), PZ_OK);
    cr_assert(same_values(fwd[7], again, N_P));
    /* A different seed gives a different point for the same id. */
    cr_assert_eq(pz_study_suggest(st, 7, 1235, again, NULL), PZ_OK);
    cr_assert(!same_values(fwd[7], again, N_P));
    cr_assert_eq(pz_study_n_trials(st), 1);
    pz_study_free(st);
    pzt_assert_no_leaks();
}

/* -------------------------------------------------------------- sampler */

Test(study, set_sampler_with_an_unknown_name_keeps_the_old_one)
{
    pz_study *st = open_study(1);
    pz_error e = {0};
    pzt_assert_fails(pz_study_set_sampler(st, "simulated-annealing", &e), e,
                     PZ_EINVAL, "'simulated-annealing'", "random");
    cr_assert_str_eq(pz_study_sampler(st), "random");
    pzt_assert_fails(pz_study_set_sampler(st, NULL, &e), e, PZ_EINVAL,
                     "unknown sampler");
    pzt_assert_fails(pz_study_set_sampler(st, "", &e), e, PZ_EINVAL,
                     "unknown sampler");
    cr_assert_str_eq(pz_study_sampler(st), "random");
    double v[N_P];
    cr_assert_eq(ask(st, v), 0, "the study still works");
    pz_study_free(st);
    pzt_assert_no_leaks();
}

Test(study, set_sampler_accepts_hyperopts_rand_alias)
{
    pz_study *st = open_study(1);
    cr_assert_eq(pz_study_set_sampler(st, "rand", NULL), PZ_OK);
    cr_assert_str_eq(pz_study_sampler(st), "random");
    cr_assert_eq(pz_study_set_sampler(st, "random", NULL), PZ_OK);
    cr_assert_str_eq(pz_study_sampler(st), "random");
    pz_study_free(st);
    pzt_assert_no_leaks();
}

Test(study, set_option_with_an_unknown_key_names_it)
{
    pz_study *st = open_study(1);
    pz_error e = {0};
    pzt_assert_fails(pz_study_set_option(st, "random.frobnicate", 1.0, &e), e,
                     PZ_EINVAL, "'random.frobnicate'");
    pzt_assert_fails(pz_study_set_option(st, NULL, 1.0, &e), e, PZ_EINVAL,
                     "NULL");
    pz_study_free(st);
    pzt_assert_no_leaks();
}

Test(study, a_study_on_an_empty_space_asks_empty_points)
{
    pz_space *sp = NULL;
    pz_study *st = NULL;
    cr_assert_eq(pz_space_new(&sp, NULL), PZ_OK);
    cr_assert_eq(pz_study_new(&st, sp, NULL), PZ_OK);
    double dummy = 42;
    int64_t id;
    cr_assert_eq(pz_study_ask(st, &id, &dummy, NULL), PZ_OK);
    cr_assert_eq(dummy, 42);
    tell(st, id, PZ_TRIAL_DONE, 0.0);
    pz_trial_info t;
    cr_assert_eq(pz_study_best(st, &t, NULL), PZ_OK);
    pz_study_free(st);
    pz_space_free(sp);
}

/* ----------------------------------------------------------- stop rules */

Test(stop, no_rules_never_stop)
{
    pz_study *st = open_study(1);
    pz_stop_rules r = pz_stop_rules_none();
    cr_assert_eq(r.max_trials, 0);
    cr_assert_eq(r.timeout_s, 0);
    cr_assert(isnan(r.loss_threshold));
    double v[N_P];
    for (int i = 0; i < 10; i++) {
        tell(st, ask(st, v), PZ_TRIAL_DONE, -1e300);
    }
    cr_assert_eq(pz_stop_check(&r, st, 1e9), PZ_STOP_NONE);
    pz_study_free(st);
    pzt_assert_no_leaks();
}

Test(stop, max_trials_counts_started_trials_not_canceled)
{
    pz_study *st = open_study(1);
    pz_stop_rules r = pz_stop_rules_none();
    r.max_trials = 3;
    double v[N_P];
    int64_t a = ask(st, v), b = ask(st, v);
    cr_assert_eq(pz_stop_check(&r, st, 0), PZ_STOP_NONE, "2 running trials");
    int64_t c = ask(st, v);
    cr_assert_eq(pz_stop_check(&r, st, 0), PZ_STOP_MAX_TRIALS, "3 running");
    tell(st, a, PZ_TRIAL_DONE, 1.0);
    tell(st, b, PZ_TRIAL_ERROR, NAN);
    cr_assert_eq(pz_stop_check(&r, st, 0), PZ_STOP_MAX_TRIALS);
    tell(st, c, PZ_TRIAL_CANCEL, NAN); /* gives its place back */
    cr_assert_eq(pz_stop_counted(st), 2);
    cr_assert_eq(pz_stop_check(&r, st, 0), PZ_STOP_NONE);
    int64_t d = ask(st, v);
    tell(st, d, PZ_TRIAL_NEW, NAN); /* queued: not started yet */
    cr_assert_eq(pz_stop_check(&r, st, 0), PZ_STOP_NONE);
    tell(st, d, PZ_TRIAL_DONE, 2.0);
    cr_assert_eq(pz_stop_check(&r, st, 0), PZ_STOP_MAX_TRIALS);
    cr_assert_str_eq(pz_stop_reason_name(PZ_STOP_MAX_TRIALS), "max_trials");
    pz_study_free(st);
    pzt_assert_no_leaks();
}

Test(stop, one_table_of_trial_state_names)
{
    /* the numbers are hyperopt's JOB_STATE_*; the names are what the CLI
     * prints and Python shows (tests/cli goldens, test_store.py) */
    cr_assert_eq(PZ_TRIAL_NEW, 0);
    cr_assert_eq(PZ_TRIAL_CANCEL, 4);
    cr_assert_str_eq(pz_trial_state_name(PZ_TRIAL_NEW), "new");
    cr_assert_str_eq(pz_trial_state_name(PZ_TRIAL_RUNNING), "running");
    cr_assert_str_eq(pz_trial_state_name(PZ_TRIAL_DONE), "done");
    cr_assert_str_eq(pz_trial_state_name(PZ_TRIAL_ERROR), "error");
    cr_assert_str_eq(pz_trial_state_name(PZ_TRIAL_CANCEL), "cancel");
    cr_assert_str_eq(pz_trial_state_name(PZ_TRIAL_PRUNED), "pruned");
    cr_assert_str_eq(pz_trial_state_name(PZ_TRIAL_STATE_COUNT), "unknown");
    cr_assert_str_eq(pz_trial_state_name(-1), "unknown");
}

Test(stop, one_meaning_of_counts_and_losses)
{
    cr_assert(!pz_trial_counts(PZ_TRIAL_NEW));
    cr_assert(pz_trial_counts(PZ_TRIAL_RUNNING));
    cr_assert(pz_trial_counts(PZ_TRIAL_DONE));
    cr_assert(pz_trial_counts(PZ_TRIAL_ERROR));
    cr_assert(!pz_trial_counts(PZ_TRIAL_CANCEL));
    cr_assert_eq(pz_trial_loss(PZ_TRIAL_DONE, "ok", 0.25), 0.25);
    cr_assert_eq(pz_trial_loss(PZ_TRIAL_DONE, NULL, -1.0), -1.0);
    cr_assert(isnan(pz_trial_loss(PZ_TRIAL_DONE, "ok", NAN)));
    cr_assert(isinf(pz_trial_loss(PZ_TRIAL_DONE, "fail", -5.0)));
    cr_assert(isinf(pz_trial_loss(PZ_TRIAL_NEW, NULL, 1.0)));
    cr_assert(isinf(pz_trial_loss(PZ_TRIAL_RUNNING, NULL, 1.0)));
    cr_assert(isnan(pz_trial_loss(PZ_TRIAL_ERROR, "ok", 1.0)));
    cr_assert(isnan(pz_trial_loss(PZ_TRIAL_CANCEL, NULL, 1.0)));
}

Test(stop, timeout_stops_once_elapsed_reaches_it)
{
    pz_study *st = open_study(1);
    pz_stop_rules r = pz_stop_rules_none();
    r.timeout_s = 2.5;
    cr_assert_eq(pz_stop_check(&r, st, 0.0), PZ_STOP_NONE);
    cr_assert_eq(pz_stop_check(&r, st, 2.4999), PZ_STOP_NONE);
    cr_assert_eq(pz_stop_check(&r, st, 2.5), PZ_STOP_TIMEOUT);
    cr_assert_eq(pz_stop_check(&r, st, 100), PZ_STOP_TIMEOUT);
    r.timeout_s = NAN; /* NaN: no limit */
    cr_assert_eq(pz_stop_check(&r, st, 1e9), PZ_STOP_NONE);
    cr_assert_str_eq(pz_stop_reason_name(PZ_STOP_TIMEOUT), "timeout");
    pz_study_free(st);
    pzt_assert_no_leaks();
}

Test(stop, loss_threshold_stops_when_the_best_is_strictly_below)
{
    /* hyperopt: stop once best_loss < loss_threshold (not <=). */
    pz_study *st = open_study(1);
    pz_stop_rules r = pz_stop_rules_none();
    r.loss_threshold = 0.5;
    double v[N_P];
    cr_assert_eq(pz_stop_check(&r, st, 0), PZ_STOP_NONE, "no trials");
    tell(st, ask(st, v), PZ_TRIAL_DONE, 0.5);
    cr_assert_eq(pz_stop_check(&r, st, 0), PZ_STOP_NONE, "equal is not below");
    tell(st, ask(st, v), PZ_TRIAL_ERROR, 0.1);
    cr_assert_eq(pz_stop_check(&r, st, 0), PZ_STOP_NONE, "ERROR ignored");
    tell(st, ask(st, v), PZ_TRIAL_DONE, NAN);
    cr_assert_eq(pz_stop_check(&r, st, 0), PZ_STOP_NONE, "NaN ignored");
    ask(st, v);
    tell(st, ask(st, v), PZ_TRIAL_DONE, 0.49);
    cr_assert_eq(pz_stop_check(&r, st, 0), PZ_STOP_LOSS_THRESHOLD);
    cr_assert_str_eq(pz_stop_reason_name(PZ_STOP_LOSS_THRESHOLD),
                     "loss_threshold");
    r.loss_threshold = NAN;
    cr_assert_eq(pz_stop_check(&r, st, 0), PZ_STOP_NONE, "NaN: off");
    r.loss_threshold = 0.0; /* zero is a real threshold, not "off" */
    cr_assert_eq(pz_stop_check(&r, st, 0), PZ_STOP_NONE);
    tell(st, ask(st, v), PZ_TRIAL_DONE, -0.1);
    cr_assert_eq(pz_stop_check(&r, st, 0), PZ_STOP_LOSS_THRESHOLD);
    pz_study_free(st);
    pzt_assert_no_leaks();
}

Test(stop, reason_names_cover_none_and_unknown)
{
    cr_assert_str_eq(pz_stop_reason_name(PZ_STOP_NONE), "none");
    cr_assert_str_eq(pz_stop_reason_name((pz_stop_reason)99), "none");
}

/* --------------------------------------------------------------- status */

Test(status, names_and_messages_come_from_one_table)
{
    cr_assert_str_eq(pz_status_name(PZ_OK), "PZ_OK");
    cr_assert_str_eq(pz_status_name(PZ_ENOMEM), "PZ_ENOMEM");
    cr_assert_str_eq(pz_status_name(PZ_EINTERNAL), "PZ_EINTERNAL");
    cr_assert_str_eq(pz_status_name(-1000), "PZ_UNKNOWN");
    cr_assert_str_eq(pz_strerror(PZ_ESPACE), "invalid search space");
    cr_assert_str_eq(pz_strerror(PZ_OK), "success");
    cr_assert_str_eq(pz_strerror(12345), "unknown error");
    cr_assert_str_eq(pz_version(), PZ_VERSION_STRING);
}

Test(status, fail_context_prefixes_and_keeps_the_code)
{
    pz_error e = {0};
    cr_assert_eq(pz__fail(&e, PZ_ESPACE, "bad %s", "thing"), PZ_ESPACE);
    cr_assert_eq(pz__fail_context(&e, PZ_EIO, "file %d", 3), PZ_ESPACE);
    cr_assert_str_eq(e.msg, "file 3: bad thing");
    cr_assert_eq(e.code, PZ_ESPACE);
    cr_assert_eq(pz__fail(NULL, PZ_EINVAL, "x"), PZ_EINVAL);
    char long_msg[400];
    memset(long_msg, 'a', sizeof long_msg - 1);
    long_msg[sizeof long_msg - 1] = '\0';
    pz__fail(&e, PZ_EINVAL, "%s", long_msg);
    cr_assert_eq(strlen(e.msg), sizeof e.msg - 1, "truncated, terminated");
}

/* ------------------------------------------------------------- mutants */

/* The test-only sampler mutants (scripts/mutation-check.sh) do what
 * they say: "random" makes any sampler's point the random sampler's for
 * the same (trial id, seed); "tpe-no-selection" makes TPE's point that
 * of TPE with one candidate. */
static pz_study *told_study(const char *sampler)
{
    pz_study *st = open_study(5);
    pz_error e = {0};
    cr_assert_eq(pz_study_set_sampler(st, sampler, &e), PZ_OK, "%s", e.msg);
    for (int i = 0; i < 30; i++) {
        int64_t id;
        double x[N_P];
        cr_assert_eq(pz_study_ask(st, &id, x, &e), PZ_OK, "%s", e.msg);
        cr_assert_eq(pz_study_tell(st, id, PZ_TRIAL_DONE,
                                   (x[P_X] - 0.3) * (x[P_X] - 0.3), &e),
                     PZ_OK, "%s", e.msg);
    }
    return st;
}

static void point_of(pz_study *st, double *x)
{
    pz_error e = {0};
    cr_assert_eq(pz_study_suggest(st, 100, 7, x, &e), PZ_OK, "%s", e.msg);
}

static bool same_point(const double *a, const double *b)
{
    return memcmp(a, b, N_P * sizeof *a) == 0;
}

Test(study, sampler_mutants_replace_what_they_name)
{
    pz_study *tpe = told_study("tpe"), *one = told_study("tpe");
    pz_study *rnd = told_study("random");
    pz_error e = {0};
    cr_assert_eq(pz_study_set_option(one, "tpe.n_EI_candidates", 1, &e), PZ_OK);
    double t0[N_P], t1[N_P], r[N_P], m[N_P];
    point_of(tpe, t0);
    point_of(one, t1);
    point_of(rnd, r);
    cr_assert(!same_point(t0, r) && !same_point(t0, t1));

    cr_assert_eq(pz__sampler_set_mutant("random"), PZ_OK);
    cr_assert_eq(pz__sampler_mutant(), PZ__MUTANT_RANDOM);
    point_of(tpe, m);
    cr_assert(same_point(m, r), "a 'random' mutant TPE draws the prior");
    cr_assert_eq(pz__sampler_set_mutant("tpe-no-selection"), PZ_OK);
    point_of(tpe, m);
    cr_assert(same_point(m, t1), "no selection: TPE with one candidate");
    cr_assert_eq(pz__sampler_set_mutant("nonsense"), PZ_EINVAL);
    cr_assert_eq(pz__sampler_mutant(), PZ__MUTANT_TPE_NO_SELECTION);
    cr_assert_eq(pz__sampler_set_mutant("none"), PZ_OK);
    point_of(tpe, m);
    cr_assert(same_point(m, t0));
    pz_study_free(tpe);
    pz_study_free(one);
    pz_study_free(rnd);
}
