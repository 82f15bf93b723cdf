/*
 * test_pruner.c -- the pruners' decisions against hand-computed cases
 * (median, asynchronous successive halving, hyperband brackets), the
 * reports' rules (increasing steps, non-finite values), option errors,
 * rebuilding from recorded reports, and how samplers see PRUNED trials.
 */
#include "pz_internal.h"
#include "pz_test_util.h"

#include <criterion/criterion.h>
#include <math.h>

static pz_study *open_study(void)
{
    pz_param_spec x = pzt_range(PZ_UNIFORM, 0, 1);
    pz_space *sp = pzt_space_of(&x, 1);
    pz_study *st = pzt_study_on(sp, "tpe", 1);
    pz_space_free(sp);
    return st;
}

static void add(pz_study *st, int64_t id, pz_trial_state s, double loss)
{
    double v = 0.5;
    pzt_add_trial(st, id, &v, s, loss);
}

static void pruner(pz_study *st, const char *kind, const char *opts)
{
    pz_error e = {0};
    cr_assert_eq(pz_study_set_pruner(st, kind, opts, &e), PZ_OK, "%s", e.msg);
}

static void report(pz_study *st, int64_t id, int64_t step, double v)
{
    pz_error e = {0};
    cr_assert_eq(pz_study_report(st, id, step, v, &e), PZ_OK, "%s", e.msg);
}

static int prune(pz_study *st, int64_t id)
{
    pz_error e = {0};
    int out = -1;
    cr_assert_eq(pz_study_should_prune(st, id, &out, &e), PZ_OK, "%s", e.msg);
    return out;
}

/* DONE trials 0..n-1 whose value at step 1 is values[i]. */
static void done_at_step1(pz_study *st, const double *values, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        add(st, (int64_t)i, PZ_TRIAL_RUNNING, (double)INFINITY);
        report(st, (int64_t)i, 1, values[i]);
        pz_error e = {0};
        cr_assert_eq(
            pz_study_tell(st, (int64_t)i, PZ_TRIAL_DONE, values[i], &e), PZ_OK);
    }
}

/* --------------------------------------------------------------- median */

Test(pruner_median, prunes_above_the_median_of_done_trials_at_the_step)
{
    pz_study *st = open_study();
    pruner(st, "median", NULL);
    double v[] = {5, 1, 4, 2, 3}; /* median 3 */
    done_at_step1(st, v, 5);
    add(st, 10, PZ_TRIAL_RUNNING, (double)INFINITY);
    add(st, 11, PZ_TRIAL_RUNNING, (double)INFINITY);
    report(st, 10, 1, 3.5);
    report(st, 11, 1, 3.0);
    cr_assert_eq(prune(st, 10), 1, "3.5 > median 3");
    cr_assert_eq(prune(st, 11), 0, "3 is not worse than the median 3");
    /* a sixth DONE value moves the median to (3 + 4) / 2 = 3.5 */
    double six[] = {4};
    add(st, 5, PZ_TRIAL_RUNNING, (double)INFINITY);
    report(st, 5, 1, six[0]);
    add(st, 12, PZ_TRIAL_RUNNING, (double)INFINITY);
    report(st, 12, 1, 3.6);
    cr_assert_eq(prune(st, 10), 1, "trial 5 is not DONE yet");
    pz_error e = {0};
    cr_assert_eq(pz_study_tell(st, 5, PZ_TRIAL_DONE, 4, &e), PZ_OK);
    cr_assert_eq(prune(st, 10), 0, "3.5 is the median of 1 2 3 4 4 5");
    cr_assert_eq(prune(st, 12), 1, "3.6 > 3.5");
    /* leaving DONE takes a trial's values out again */
    cr_assert_eq(pz_study_tell(st, 5, PZ_TRIAL_CANCEL, NAN, &e), PZ_OK);
    cr_assert_eq(prune(st, 10), 1);
    pz_study_free(st);
}

Test(pruner_median, waits_for_startup_trials_and_uses_the_best_value)
{
    pz_study *st = open_study();
    pruner(st, "median", NULL);
    double v[] = {1, 2, 3, 4};
    done_at_step1(st, v, 4);
    add(st, 10, PZ_TRIAL_RUNNING, (double)INFINITY);
    report(st, 10, 1, 100);
    cr_assert_eq(prune(st, 10), 0, "4 DONE trials < n_startup_trials 5");
    double w[] = {5};
    add(st, 4, PZ_TRIAL_RUNNING, (double)INFINITY);
    report(st, 4, 1, w[0]);
    pz_error e = {0};
    cr_assert_eq(pz_study_tell(st, 4, PZ_TRIAL_DONE, 5, &e), PZ_OK);
    cr_assert_eq(prune(st, 10), 1);
    /* best so far: 0.5 at step 0, then 100 at step 1: 0.5 < 3 */
    add(st, 11, PZ_TRIAL_RUNNING, (double)INFINITY);
    report(st, 11, 0, 0.5);
    report(st, 11, 1, 100);
    cr_assert_eq(prune(st, 11), 0);
    /* a step no DONE trial reported: nothing to compare with */
    add(st, 12, PZ_TRIAL_RUNNING, (double)INFINITY);
    report(st, 12, 7, 100);
    cr_assert_eq(prune(st, 12), 0);
    pz_study_free(st);
}

Test(pruner_median, warmup_and_interval_steps)
{
    pz_study *st = open_study();
    pruner(st, "median",
           "{\"n_startup_trials\": 1, \"n_warmup_steps\": 2, "
           "\"interval_steps\": 2}");
    add(st, 0, PZ_TRIAL_RUNNING, (double)INFINITY);
    for (int64_t s = 0; s < 6; s++) {
        report(st, 0, s, 1.0);
    }
    pz_error e = {0};
    cr_assert_eq(pz_study_tell(st, 0, PZ_TRIAL_DONE, 1.0, &e), PZ_OK);
    add(st, 1, PZ_TRIAL_RUNNING, (double)INFINITY);
    report(st, 1, 1, 9.0);
    cr_assert_eq(prune(st, 1), 0, "step 1 < n_warmup_steps 2");
    report(st, 1, 2, 9.0);
    cr_assert_eq(prune(st, 1), 1, "step 2: first pruning step");
    report(st, 1, 3, 9.0);
    cr_assert_eq(prune(st, 1), 0, "step 3 is inside the interval");
    report(st, 1, 4, 9.0);
    cr_assert_eq(prune(st, 1), 1, "step 4: next pruning step");
    /* jumping over a pruning step decides at the first report after it */
    add(st, 2, PZ_TRIAL_RUNNING, (double)INFINITY);
    report(st, 2, 3, 9.0);
    cr_assert_eq(prune(st, 2), 1, "first report past pruning step 2");
    pz_study_free(st);
}

/* ------------------------------------------------------------------ sha */

Test(pruner_sha, promotes_the_best_third_of_each_rung_without_waiting)
{
    pz_study *st = open_study();
    pruner(st, "sha", NULL); /* rungs at steps 1, 3, 9 */
    for (int64_t id = 0; id < 6; id++) {
        add(st, id, PZ_TRIAL_RUNNING, (double)INFINITY);
    }
    report(st, 0, 0, 99.0);
    cr_assert_eq(prune(st, 0), 0, "step 0 is below rung 0 (step 1)");
    report(st, 0, 1, 5.0); /* rung 0: [5], the first is promoted */
    cr_assert_eq(prune(st, 0), 0);
    report(st, 1, 1, 6.0); /* [5 6]: fewer than 3, only the best goes on */
    cr_assert_eq(prune(st, 1), 1);
    report(st, 2, 1, 4.0); /* [4 5 6]: 3 // 3 = 1, the best */
    cr_assert_eq(prune(st, 2), 0);
    report(st, 3, 1, 4.5); /* [4 4.5 5 6]: 4.5 > 4 */
    cr_assert_eq(prune(st, 3), 1);
    report(st, 4, 2, 2.0); /* step 2 passes rung 0 only: [2 4 4.5 5 6] */
    cr_assert_eq(prune(st, 4), 0);
    /* step 9 passes rungs 0, 1 and 2 at once. Rung 0: [2 3 4 4.5 5 6],
     * 6 // 3 = 2 go on: 3 <= 3; rungs 1 and 2: [3], the first. */
    report(st, 5, 9, 3.0);
    cr_assert_eq(prune(st, 5), 0);
    report(st, 0, 3, 10.0); /* rung 1: [3 10] */
    cr_assert_eq(prune(st, 0), 1);
    pz_study_free(st);
}

Test(pruner_sha, min_resource_and_early_stopping_rate_move_the_rungs)
{
    pz_study *st = open_study();
    /* rungs at 2 * 2^(1 + r): steps 4, 8, 16 */
    pruner(st, "sha",
           "{\"min_resource\": 2, \"reduction_factor\": 2, "
           "\"min_early_stopping_rate\": 1}");
    add(st, 0, PZ_TRIAL_RUNNING, (double)INFINITY);
    add(st, 1, PZ_TRIAL_RUNNING, (double)INFINITY);
    report(st, 0, 4, 1.0);
    report(st, 1, 3, 5.0);
    cr_assert_eq(prune(st, 1), 0, "step 3 < rung 0 at step 4");
    report(st, 1, 4, 5.0); /* [1 5]: 2 // 2 = 1, the best */
    cr_assert_eq(prune(st, 1), 1);
    pz_study_free(st);
}

/* ------------------------------------------------------------ hyperband */

Test(pruner_hyperband, brackets_follow_optunas_budgets)
{
    /* min 1, max 9, eta 3: 3 brackets with budgets 9, 5, 3 */
    cr_assert_eq(pz__pruner_hyperband_brackets(1, 9, 3), 3);
    cr_assert_eq(pz__pruner_hyperband_brackets(1, 8, 3), 2);
    cr_assert_eq(pz__pruner_hyperband_brackets(1, 1, 3), 1);
    cr_assert_eq(pz__pruner_hyperband_brackets(2, 81, 3), 4);
    size_t want[17];
    for (int i = 0; i < 17; i++) {
        want[i] = i < 9 ? 0 : i < 14 ? 1 : 2;
    }
    for (int64_t id = 0; id < 34; id++) {
        cr_assert_eq(pz__pruner_hyperband_bracket(3, 3, id), want[id % 17],
                     "trial %lld", (long long)id);
    }
}

Test(pruner_hyperband, rungs_are_shared_within_a_bracket_only)
{
    pz_study *st = open_study();
    pruner(st, "hyperband", "{\"max_resource\": 9}");
    int64_t ids[] = {0, 1, 9, 10};
    for (size_t i = 0; i < 4; i++) {
        add(st, ids[i], PZ_TRIAL_RUNNING, (double)INFINITY);
    }
    report(st, 0, 3, 10.0); /* bracket 0: rungs at 1, 3: [10], [10] */
    report(st, 9, 1, 99.0); /* bracket 1: first rung at step 3 */
    cr_assert_eq(prune(st, 9), 0);
    report(st, 9, 3, 20.0); /* bracket 1 rung 0: [20], not beside 10 */
    cr_assert_eq(prune(st, 9), 0);
    report(st, 10, 3, 30.0); /* [20 30] */
    cr_assert_eq(prune(st, 10), 1);
    report(st, 1, 1, 30.0); /* bracket 0 rung 0: [10 30] */
    cr_assert_eq(prune(st, 1), 1);
    pz_study_free(st);
}

Test(pruner_hyperband, auto_max_resource_waits_for_a_done_trial)
{
    pz_study *st = open_study();
    pruner(st, "hyperband", NULL);
    add(st, 0, PZ_TRIAL_RUNNING, (double)INFINITY);
    add(st, 1, PZ_TRIAL_RUNNING, (double)INFINITY);
    add(st, 2, PZ_TRIAL_RUNNING, (double)INFINITY);
    report(st, 1, 1, 1.0);
    report(st, 2, 1, 5.0);
    cr_assert_eq(prune(st, 2), 0, "max_resource not known: no pruning");
    for (int64_t s = 0; s <= 8; s++) {
        report(st, 0, s, 3.0);
    }
    pz_error e = {0};
    /* DONE with last step 8: max_resource 9, three brackets; the replay
     * puts trials 0, 1, 2 (bracket 0) at rung 0: 3, then 1, then 5 */
    cr_assert_eq(pz_study_tell(st, 0, PZ_TRIAL_DONE, 3.0, &e), PZ_OK);
    cr_assert_eq(prune(st, 1), 0);
    cr_assert_eq(prune(st, 2), 1);
    pz_study_free(st);
}

/* -------------------------------------------------------------- reports */

Test(pruner_reports, steps_must_increase_and_name_the_trial)
{
    pz_study *st = open_study();
    add(st, 7, PZ_TRIAL_RUNNING, (double)INFINITY);
    report(st, 7, 5, 1.0);
    pz_error e = {0};
    pzt_assert_fails(pz_study_report(st, 7, 2, 1.0, &e), e, PZ_EINVAL,
                     "trial 7", "step 2", "after step 5");
    pzt_assert_fails(pz_study_report(st, 7, 5, 1.0, &e), e, PZ_EINVAL,
                     "trial 7", "step 5", "after step 5");
    pzt_assert_fails(pz_study_report(st, 8, 6, 1.0, &e), e, PZ_ENOTFOUND, "8");
    pzt_assert_fails(pz_study_report(st, 7, -1, 1.0, &e), e, PZ_EINVAL,
                     "trial 7", "negative");
    size_t n = 0;
    const int64_t *steps = NULL;
    const double *values = NULL;
    cr_assert_eq(pz_study_reports(st, 7, &n, &steps, &values, &e), PZ_OK);
    cr_assert_eq(n, 1);
    cr_assert_eq(steps[0], 5);
    cr_assert_eq(values[0], 1.0);
    pz_study_free(st);
}

Test(pruner_reports, non_finite_values_are_ignored_with_a_message)
{
    pz_study *st = open_study();
    pruner(st, "sha", NULL);
    add(st, 3, PZ_TRIAL_RUNNING, (double)INFINITY);
    pz_error e = {0};
    cr_assert_eq(pz_study_report(st, 3, 1, NAN, &e), PZ_REPORT_IGNORED);
    cr_assert(strstr(e.msg, "trial 3") && strstr(e.msg, "step 1") &&
                  strstr(e.msg, "ignored"),
              "%s", e.msg);
    cr_assert_eq(pz_study_report(st, 3, 2, INFINITY, &e), PZ_REPORT_IGNORED);
    size_t n = 9;
    const int64_t *steps = NULL;
    const double *values = NULL;
    cr_assert_eq(pz_study_reports(st, 3, &n, &steps, &values, &e), PZ_OK);
    cr_assert_eq(n, 0, "nothing stored");
    cr_assert_eq(prune(st, 3), 0);
    report(st, 3, 1, 2.0); /* step 1 is still free */
    pz_study_free(st);
}

Test(pruner_options, errors_name_the_kind_and_the_key)
{
    pz_study *st = open_study();
    pz_error e = {0};
    pzt_assert_fails(pz_study_set_pruner(st, "mean", NULL, &e), e, PZ_EINVAL,
                     "unknown pruner 'mean'");
    pzt_assert_fails(
        pz_study_set_pruner(st, "median", "{\"n_startup\": 1}", &e), e,
        PZ_EINVAL, "'n_startup'", "n_startup_trials");
    pzt_assert_fails(
        pz_study_set_pruner(st, "sha", "{\"reduction_factor\": 1}", &e), e,
        PZ_EINVAL, "'reduction_factor'", ">= 2");
    pzt_assert_fails(
        pz_study_set_pruner(st, "median", "{\"interval_steps\": 1.5}", &e), e,
        PZ_EINVAL, "'interval_steps'", "integer");
    pzt_assert_fails(
        pz_study_set_pruner(st, "hyperband", "{\"max_resource\": \"x\"}", &e),
        e, PZ_EINVAL, "'max_resource'", "auto");
    pzt_assert_fails(pz_study_set_pruner(st, "hyperband",
                                         "{\"min_resource\": 5, "
                                         "\"max_resource\": 4}",
                                         &e),
                     e, PZ_EINVAL, "max_resource", "min_resource");
    pzt_assert_fails(pz_study_set_pruner(st, "sha", "[1]", &e), e, PZ_EINVAL,
                     "JSON object");
    cr_assert_str_eq(pz_study_pruner(st), "none", "a failure keeps the pruner");
    pruner(st, "median", "{\"n_startup_trials\": 2.0}");
    cr_assert_str_eq(pz_study_pruner(st), "median");
    pz_study_free(st);
}

Test(pruner_rebuild, a_pruner_set_after_the_reports_replays_them)
{
    pz_study *st = open_study();
    add(st, 0, PZ_TRIAL_RUNNING, (double)INFINITY);
    add(st, 1, PZ_TRIAL_RUNNING, (double)INFINITY);
    report(st, 0, 1, 1.0);
    report(st, 1, 1, 2.0);
    cr_assert_eq(prune(st, 1), 0, "no pruner");
    pruner(st, "sha", NULL);
    cr_assert_eq(prune(st, 1), 1, "rung 0 [1 2]");
    pruner(st, "none", NULL);
    cr_assert_eq(prune(st, 1), 0);
    pz_study_clear(st);
    pz_study_free(st);
}

/* ------------------------------------------------- samplers and PRUNED */

Test(pruned_rule, rank_orders_by_last_step_then_value_after_done_trials)
{
    pz_study *st = open_study();
    add(st, 0, PZ_TRIAL_DONE, 1.0);
    add(st, 1, PZ_TRIAL_DONE, -2.0);
    add(st, 2, PZ_TRIAL_DONE, 3.0);
    for (int64_t id = 3; id < 6; id++) {
        add(st, id, PZ_TRIAL_RUNNING, (double)INFINITY);
    }
    report(st, 3, 3, 0.5); /* P1 */
    report(st, 4, 5, 9.0); /* P2: reached furthest */
    report(st, 5, 3, 0.1); /* P3 */
    pz_error e = {0};
    cr_assert_eq(pz_study_tell(st, 3, PZ_TRIAL_PRUNED, 0.5, &e), PZ_OK);
    cr_assert_eq(pz_study_tell(st, 4, PZ_TRIAL_PRUNED, 9.0, &e), PZ_OK);
    cr_assert_eq(pz_study_tell(st, 5, PZ_TRIAL_PRUNED, 0.1, &e), PZ_OK);
    cr_assert_eq(pz_study_count(st, PZ_TRIAL_PRUNED), 3);
    cr_assert_eq(pz_stop_counted(st), 6, "pruned trials count");
    pz_trial_info best;
    cr_assert_eq(pz_study_best(st, &best, &e), PZ_OK);
    cr_assert_eq(best.id, 1, "a pruned trial is never the best");

    /* a history like the study's, to read the surrogate losses */
    pz__history h;
    cr_assert_eq(pz__history_init(&h, 0, &e), PZ_OK);
    pz_trial_state states[] = {PZ_TRIAL_DONE,   PZ_TRIAL_DONE,
                               PZ_TRIAL_DONE,   PZ_TRIAL_PRUNED,
                               PZ_TRIAL_PRUNED, PZ_TRIAL_PRUNED};
    double losses[] = {1.0, -2.0, 3.0, 0.5, 9.0, 0.1};
    pz__trial_reports rep[6] = {0};
    int64_t last[] = {0, 0, 0, 3, 5, 3};
    for (int64_t i = 0; i < 6; i++) {
        cr_assert_eq(pz__history_append(&h, i, NULL, states[i], losses[i], &e),
                     PZ_OK);
        if (i >= 3) {
            cr_assert_eq(pz__reports_append(&rep[i], last[i], losses[i]),
                         PZ_OK);
        }
    }
    size_t scratch[12];
    double key[6] = {0};
    pz__pruned_rank(&h, rep, 6, scratch, key);
    /* top 3, unit 3: P2 (step 5) 6, P3 (step 3, 0.1) 9, P1 12 */
    cr_assert_eq(key[4], 6.0);
    cr_assert_eq(key[5], 9.0);
    cr_assert_eq(key[3], 12.0);
    h.pruned_key = key;
    h.pruned_rule = PZ__PRUNED_RANK;
    cr_assert_eq(pz__history_effective_loss(&h, 5), 9.0);
    h.pruned_rule = PZ__PRUNED_BAD;
    cr_assert(isinf(pz__history_effective_loss(&h, 5)));
    h.pruned_rule = PZ__PRUNED_IGNORE;
    cr_assert(isnan(pz__history_effective_loss(&h, 5)));
    cr_assert_eq(pz__history_effective_loss(&h, 1), -2.0);
    for (int i = 0; i < 6; i++) {
        pz__reports_fini(&rep[i]);
    }
    pz__history_fini(&h);

    cr_assert_str_eq(pz_study_pruned_rule(st), "bad", "the measured default");
    double x[1];
    const char *rules[] = {"rank", "bad", "ignore", "budget"};
    const char *samplers[] = {"tpe", "anneal", "mtpe"};
    for (int s = 0; s < 3; s++) {
        cr_assert_eq(pz_study_set_sampler(st, samplers[s], &e), PZ_OK);
        if (s == 0) {
            pzt_set_option(st, "tpe.n_startup_jobs", 1);
        }
        for (int r = 0; r < 4; r++) {
            cr_assert_eq(pz_study_set_pruned_rule(st, rules[r], &e), PZ_OK);
            cr_assert_str_eq(pz_study_pruned_rule(st), rules[r]);
            cr_assert_eq(pz_study_suggest(st, 6, 1, x, &e), PZ_OK, "%s", e.msg);
            cr_assert(x[0] >= 0 && x[0] < 1);
        }
    }
    pzt_assert_fails(pz_study_set_pruned_rule(st, "best", &e), e, PZ_EINVAL,
                     "'best'");
    pz_study_free(st);
}

/* A history of 'n' rows and their reports for the budget rule: row i
 * has state st[i], loss loss[i] and reports steps[i][k] / vals[i][k]
 * for k < nr[i]. */
#define BMAX 8
typedef struct budget_case {
    size_t n;
    pz_trial_state st[BMAX];
    double loss[BMAX];
    size_t nr[BMAX];
    int64_t steps[BMAX][4];
    double vals[BMAX][4];
} budget_case;

/* The keys of pz__pruned_budget for 'bc' with 'min_count'. */
static void budget_keys(const budget_case *bc, size_t min_count, double *key)
{
    pz_error e = {0};
    pz__history h;
    cr_assert_eq(pz__history_init(&h, 0, &e), PZ_OK);
    pz__trial_reports rep[BMAX] = {0};
    for (size_t i = 0; i < bc->n; i++) {
        cr_assert_eq(pz__history_append(&h, (int64_t)i, NULL, bc->st[i],
                                        bc->loss[i], &e),
                     PZ_OK);
        for (size_t k = 0; k < bc->nr[i]; k++) {
            cr_assert_eq(
                pz__reports_append(&rep[i], bc->steps[i][k], bc->vals[i][k]),
                PZ_OK);
        }
    }
    size_t scratch[2 * BMAX];
    pz__pruned_budget(&h, rep, bc->n, min_count, scratch, key);
    for (size_t i = 0; i < bc->n; i++) {
        pz__reports_fini(&rep[i]);
    }
    pz__history_fini(&h);
}

static void assert_keys(const double *key, const double *want, size_t n,
                        const char *what)
{
    for (size_t i = 0; i < n; i++) {
        if (isnan(want[i])) {
            cr_assert(isnan(key[i]), "%s: row %zu: %g, want NaN", what, i,
                      key[i]);
        } else {
            cr_assert_eq(key[i], want[i], "%s: row %zu: %g, want %g", what, i,
                         key[i], want[i]);
        }
    }
}

Test(pruned_rule, budget_ranks_done_and_pruned_at_the_deepest_common_step)
{
    const pz_trial_state D = PZ_TRIAL_DONE, P = PZ_TRIAL_PRUNED;
    budget_case bc = {
        .n = 8,
        .st = {D, D, P, P, P, P, D, PZ_TRIAL_RUNNING},
        .loss = {0.5, 0.4, 0.55, 0.2, 0.65, 0.0, NAN, INFINITY},
        .nr = {3, 3, 2, 1, 2, 0, 1, 0},
        .steps = {{1, 3, 9}, {1, 3, 9}, {1, 3}, {1}, {1, 3}, {0}, {1}},
        .vals = {{0.9, 0.6, 0.5},
                 {0.8, 0.7, 0.4},
                 {0.3, 0.55},
                 {0.2},
                 {0.95, 0.65},
                 {0},
                 {0.1}},
    };
    double key[BMAX];
    /* Three trials reached step 3: rows 0, 1, 2 and 4 compare there (row
     * 1, the best final loss, is behind row 0 at step 3), row 3 (step 1)
     * after them, row 5 (no report) last; NaN DONE and RUNNING: none. */
    budget_keys(&bc, 3, key);
    assert_keys(key, (double[]){2, 4, 1, 5, 3, 6, NAN, NAN}, 8, "min 3");
    /* Two reached step 9: the DONE trials by their step-9 values, then
     * the step-3 ones by their values there. */
    budget_keys(&bc, 2, key);
    assert_keys(key, (double[]){2, 1, 3, 5, 4, 6, NAN, NAN}, 8, "min 2");
    /* Fewer reported trials than asked: all compare at the shallowest
     * reported step. */
    budget_keys(&bc, 10, key);
    assert_keys(key, (double[]){4, 3, 2, 1, 5, 6, NAN, NAN}, 8, "min 10");
}

Test(pruned_rule, budget_reads_the_latest_value_at_or_before_the_step)
{
    const pz_trial_state D = PZ_TRIAL_DONE, P = PZ_TRIAL_PRUNED;
    budget_case bc = {
        .n = 4,
        .st = {D, P, P, P},
        .loss = {0.2, 0.05, 0.3, 0.01},
        .nr = {2, 2, 2, 1},
        .steps = {{2, 6}, {5, 8}, {1, 4}, {1}},
        .vals = {{0.7, 0.2}, {0.1, 0.05}, {0.9, 0.3}, {0.01}},
    };
    double key[BMAX];
    /* Depths 6, 8, 4, 1: with three, step 4. Row 0's value there is its
     * step-2 report, row 1 started after it: its first report. */
    budget_keys(&bc, 3, key);
    assert_keys(key, (double[]){3, 1, 2, 4}, 4, "gaps");
}

Test(pruned_rule, budget_ties_keep_row_order_and_no_reports_use_losses)
{
    const pz_trial_state D = PZ_TRIAL_DONE, P = PZ_TRIAL_PRUNED;
    budget_case ties = {
        .n = 3,
        .st = {P, P, D},
        .loss = {0.5, 0.5, 0.1},
        .nr = {1, 1, 2},
        .steps = {{2}, {2}, {2, 4}},
        .vals = {{0.5}, {0.5}, {0.5, 0.1}},
    };
    double key[BMAX];
    budget_keys(&ties, 2, key);
    assert_keys(key, (double[]){1, 2, 3}, 3, "ties at step 2");
    /* No reports at all: DONE trials reached every step with their
     * losses (+inf last among them), the pruned one after them. */
    budget_case none = {
        .n = 4,
        .st = {D, D, P, D},
        .loss = {2.0, 1.0, 0.5, INFINITY},
    };
    budget_keys(&none, 7, key);
    assert_keys(key, (double[]){2, 1, 4, 3}, 4, "no reports");
}

/* Six DONE trials at x = id / 10 told loss id, reporting 6 - id at step
 * 1; then, with 'pruned', trial 6 pruned at step 1 with 9. */
static pz_study *budget_study(bool pruned)
{
    pz_study *st = open_study();
    pz_error e = {0};
    pzt_set_option(st, "tpe.n_startup_jobs", 1);
    for (int64_t id = 0; id < (pruned ? 7 : 6); id++) {
        double x = (double)id / 10.0;
        pzt_add_trial(st, id, &x, PZ_TRIAL_RUNNING, (double)INFINITY);
        report(st, id, 1, id < 6 ? 6.0 - (double)id : 9.0);
        cr_assert_eq(pz_study_tell(st, id,
                                   id < 6 ? PZ_TRIAL_DONE : PZ_TRIAL_PRUNED,
                                   id < 6 ? (double)id : 9.0, &e),
                     PZ_OK);
    }
    return st;
}

Test(pruned_rule, budget_without_pruned_trials_is_the_plain_losses)
{
    pz_error e = {0};
    pz_study *st = budget_study(false);
    double bad[1], budget[1];
    cr_assert_eq(pz_study_suggest(st, 6, 7, bad, &e), PZ_OK);
    cr_assert_eq(pz_study_set_pruned_rule(st, "budget", &e), PZ_OK);
    cr_assert_str_eq(pz_study_pruned_rule(st), "budget");
    cr_assert_eq(pz_study_suggest(st, 6, 7, budget, &e), PZ_OK);
    cr_assert_eq(bad[0], budget[0], "no PRUNED trial: the told losses");
    pz_study_free(st);

    /* With the pruned trial, every trial reached step 1 only: TPE sees
     * the step-1 order, as if the DONE trials had been told 6 - id and
     * the pruned one were a DONE trial of loss 9. */
    st = budget_study(true);
    cr_assert_eq(pz_study_set_pruned_rule(st, "budget", &e), PZ_OK);
    cr_assert_eq(pz_study_suggest(st, 7, 7, budget, &e), PZ_OK);
    pz_study *same = open_study();
    pzt_set_option(same, "tpe.n_startup_jobs", 1);
    for (int64_t id = 0; id < 7; id++) {
        double x = (double)id / 10.0;
        pzt_add_trial(same, id, &x, PZ_TRIAL_DONE,
                      id < 6 ? 6.0 - (double)id : 9.0);
    }
    cr_assert_eq(pz_study_suggest(same, 7, 7, bad, &e), PZ_OK);
    cr_assert_eq(budget[0], bad[0], "step-1 order: %g, want %g", budget[0],
                 bad[0]);
    /* and the told losses would have drawn elsewhere */
    cr_assert_eq(pz_study_set_pruned_rule(st, "bad", &e), PZ_OK);
    cr_assert_eq(pz_study_suggest(st, 7, 7, bad, &e), PZ_OK);
    cr_assert_neq(budget[0], bad[0], "the budget rule reorders DONE trials");
    pz_study_free(same);
    pz_study_free(st);
}

/* ------------------------------------------------------------------ oom */

/* Reports, both pruners' tables, the rank and budget rules' asks and a
 * rebuild, with allocation n failing: every call fails cleanly with PZ_ENOMEM
 * (or succeeds), nothing leaks, and some n lets the whole workload through. */
static int pruning_workload(const char *kind, const pz_space *sp, pz_error *e)
{
    pz_study *st = NULL;
    int rc = pz_study_new(&st, sp, e);
    if (rc == PZ_OK) {
        rc = pz_study_set_sampler(st, "tpe", e);
    }
    if (rc == PZ_OK) {
        bool median = strcmp(kind, "median") == 0;
        rc = pz_study_set_pruner(
            st, kind, median ? "{\"n_startup_trials\": 1}" : NULL, e);
    }
    double v[1];
    for (int t = 0; rc == PZ_OK && t < 12; t++) {
        int64_t id = -1;
        rc = pz_study_ask(st, &id, v, e);
        for (int64_t s = 0; rc == PZ_OK && s < 10; s++) {
            rc = pz_study_report(st, id, s, v[0] + 1.0 / (double)(s + 1), e);
        }
        int prune = 0;
        if (rc == PZ_OK) {
            rc = pz_study_should_prune(st, id, &prune, e);
        }
        if (rc == PZ_OK) {
            rc = pz_study_tell(st, id, t % 3 ? PZ_TRIAL_PRUNED : PZ_TRIAL_DONE,
                               v[0], e);
        }
    }
    if (rc == PZ_OK) {
        rc = pz_study_set_pruned_rule(st, "rank", e);
    }
    if (rc == PZ_OK) {
        rc = pz_study_suggest(st, 99, 1, v, e);
    }
    if (rc == PZ_OK) {
        rc = pz_study_set_pruned_rule(st, "budget", e);
    }
    if (rc == PZ_OK) {
        rc = pz_study_suggest(st, 99, 1, v, e);
    }
    if (rc == PZ_OK) {
        rc = pz_study_set_pruner(st, "sha", NULL, e); /* a rebuild */
    }
    pz_study_free(st);
    return rc;
}

static void oom_pruning(const char *kind)
{
    pz_param_spec x = pzt_range(PZ_UNIFORM, 0, 1);
    pz_space *sp = pzt_space_of(&x, 1);
    for (long n = 0; n < 100000; n++) {
        pz_error e = {0};
        pz__alloc_fail_after(n);
        int rc = pruning_workload(kind, sp, &e);
        pz__alloc_fail_after(-1);
        if (rc == PZ_OK) {
            pz_space_free(sp);
            cr_assert_gt(n, 20, "only %ld allocations: injection off?", n);
            pzt_assert_no_leaks();
            return;
        }
        cr_assert_eq(rc, PZ_ENOMEM, "allocation %ld: %s (%s)", n,
                     pz_status_name(rc), e.msg);
    }
    cr_assert_fail("no run succeeded");
}

Test(pruner_oom, median_survives_every_failed_allocation)
{
    oom_pruning("median");
}

Test(pruner_oom, sha_and_hyperband_survive_every_failed_allocation)
{
    oom_pruning("sha");
    oom_pruning("hyperband");
}
