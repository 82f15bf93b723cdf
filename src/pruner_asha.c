/*
 * pruner_asha.c -- asynchronous successive halving (Li et al., ASHA, as
 * Optuna's SuccessiveHalvingPruner runs it) and Hyperband as brackets of
 * it (Optuna's HyperbandPruner).
 *
 * Rung r of a bracket is reached at step min_resource * eta^(rate + r).
 * A trial whose report reaches a rung records its value there and goes
 * on only if that value is among the best 1/eta of the rung's values so
 * far (the best one while fewer than eta are recorded): nobody waits for
 * a rung to fill. The decision is taken when the report arrives, so
 * pz_study_should_prune only reads a flag. Each rung's values are kept
 * sorted (pruner_table.c): the test is one read.
 */
#include "pz_internal.h"

#include <math.h>

#define MAX_RUNGS 62 /* eta >= 2 and steps are int64: never reached */

/* Table key of (bracket, rung). */
static int64_t rung_key(size_t bracket, unsigned rung)
{
    return (int64_t)(bracket * 64 + rung);
}

/* min_resource * eta^e, or -1 past INT64_MAX. */
static int64_t rung_step(int64_t min_resource, int64_t eta, int64_t e)
{
    int64_t s = min_resource;
    for (int64_t i = 0; i < e; i++) {
        if (s > INT64_MAX / eta) {
            return -1;
        }
        s *= eta;
    }
    return s;
}

size_t pz__pruner_hyperband_brackets(int64_t min_resource, int64_t max_resource,
                                     int64_t eta)
{
    /* floor(log_eta(max / min)) + 1, in integers */
    size_t n = 1;
    for (int64_t x = min_resource; x <= max_resource / eta; x *= eta) {
        n++;
    }
    return n < MAX_RUNGS ? n : MAX_RUNGS;
}

/* Optuna's budget of bracket b: ceil(n * eta^s / (s + 1)), s = n - 1 - b.
 * Computed in doubles: n < 63 and the sums only pick a bracket. */
static double bracket_budget(size_t n, int64_t eta, size_t b)
{
    size_t s = n - 1 - b;
    double p = 1.0;
    for (size_t i = 0; i < s; i++) {
        p *= (double)eta;
    }
    return ceil((double)n * p / (double)(s + 1));
}

size_t pz__pruner_hyperband_bracket(size_t n_brackets, int64_t eta, int64_t id)
{
    double total = 0.0;
    for (size_t b = 0; b < n_brackets; b++) {
        total += bracket_budget(n_brackets, eta, b);
    }
    /* the id picks a slot of the total budget; brackets own slots in
     * proportion to their budgets (bracket 0, the most aggressive, most) */
    double slot = fmod((double)(uint64_t)id, total);
    for (size_t b = 0; b < n_brackets; b++) {
        slot -= bracket_budget(n_brackets, eta, b);
        if (slot < 0.0) {
            return b;
        }
    }
    return n_brackets - 1;
}

/* Is 'value' promotable among the rung's sorted values (itself included)? */
static bool promotable(const pz__sorted *s, int64_t eta, double value)
{
    size_t idx = s->n / (size_t)eta;
    idx = idx > 0 ? idx - 1 : 0;
    return value <= s->v[idx];
}

int pz__pruner_asha_report(pz__pruner *p, pz__trial_reports *r, int64_t id)
{
    size_t bracket = 0;
    int64_t rate = p->min_rate;
    if (p->kind == PZ__PRUNER_HYPERBAND) {
        if (p->n_brackets == 0) {
            return PZ_OK; /* max_resource "auto" not known yet */
        }
        bracket = pz__pruner_hyperband_bracket(p->n_brackets, p->eta, id);
        rate = (int64_t)bracket;
    }
    int64_t step = r->steps[r->n - 1];
    double value = r->values[r->n - 1];
    while (!r->doomed && r->rung < MAX_RUNGS) {
        int64_t at = rung_step(p->min_resource, p->eta, rate + r->rung);
        if (at < 0 || step < at) {
            break;
        }
        int64_t key = rung_key(bracket, r->rung);
        if (pz__ptable_insert(&p->table, key, value) != PZ_OK) {
            return PZ_ENOMEM;
        }
        if (promotable(pz__ptable_find(&p->table, key), p->eta, value)) {
            r->rung++;
        } else {
            r->doomed = 1;
        }
    }
    return PZ_OK;
}
