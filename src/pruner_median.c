/*
 * pruner_median.c -- the median pruner (Optuna's MedianPruner): a trial
 * stops when its best value so far is worse than the median of the DONE
 * trials' values at the same step.
 *
 * The DONE trials' values sit in one sorted list per step (pruner_table.c),
 * updated when a trial becomes DONE or leaves DONE, so a decision is a
 * hash lookup and one read, whatever the number of trials.
 */
#include "pz_internal.h"

/* Add (or remove) every report of r to the step lists. */
static int move_values(pz__pruner *p, pz__trial_reports *r, bool add)
{
    for (size_t k = 0; r != NULL && k < r->n; k++) {
        if (!add) {
            pz__ptable_remove(&p->table, r->steps[k], r->values[k]);
        } else if (pz__ptable_insert(&p->table, r->steps[k], r->values[k]) !=
                   PZ_OK) {
            /* undo the part already added: the tables stay consistent */
            while (k-- > 0) {
                pz__ptable_remove(&p->table, r->steps[k], r->values[k]);
            }
            return PZ_ENOMEM;
        }
    }
    return PZ_OK;
}

int pz__pruner_median_state(pz__pruner *p, pz__trial_reports *r, bool was_done,
                            bool is_done)
{
    if (is_done && !was_done) {
        if (r != NULL && !r->in_done) {
            if (move_values(p, r, true) != PZ_OK) {
                return PZ_ENOMEM;
            }
            r->in_done = 1;
        }
        p->n_done++;
    } else if (was_done && !is_done) {
        if (r != NULL && r->in_done) {
            (void)move_values(p, r, false);
            r->in_done = 0;
        }
        p->n_done--;
    }
    return PZ_OK;
}

int pz__pruner_median_report(pz__pruner *p, pz__trial_reports *r, bool done)
{
    if (!done) {
        return PZ_OK; /* only DONE trials are compared against */
    }
    /* A DONE trial's report (a store loading its history): add it now. */
    size_t k = r->n - 1;
    if (pz__ptable_insert(&p->table, r->steps[k], r->values[k]) != PZ_OK) {
        return PZ_ENOMEM;
    }
    r->in_done = 1;
    return PZ_OK;
}

/* Optuna's interval rule: decide only at the first report at or after
 * each pruning step (n_warmup + k * interval). */
static bool first_in_interval(const pz__pruner *p, const pz__trial_reports *r)
{
    int64_t step = r->steps[r->n - 1];
    int64_t nearest =
        (step - p->n_warmup) / p->interval * p->interval + p->n_warmup;
    int64_t before = r->n > 1 ? r->steps[r->n - 2] : -1;
    return before < nearest;
}

bool pz__pruner_median_decide(const pz__pruner *p, const pz__trial_reports *r)
{
    int64_t step = r->steps[r->n - 1];
    if (p->n_done == 0 || p->n_done < (size_t)p->n_startup ||
        step < p->n_warmup || !first_in_interval(p, r)) {
        return false;
    }
    const pz__sorted *s = pz__ptable_find(&p->table, step);
    if (s == NULL || s->n == 0) {
        return false; /* no DONE trial reported at this step */
    }
    return r->best > pz__sorted_median(s);
}
