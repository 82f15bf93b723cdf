/*
 * pruner_rank.c -- how tpe, anneal and mtpe see PRUNED trials under the
 * "rank" rule (pz_study_set_pruned_rule; "bad", the default, needs no
 * code: history.c gives them +inf): Optuna's order, every DONE
 * trial first, then the pruned ones by the last step they reached (later
 * is better: they survived longer), then by their value there.
 *
 * The samplers only compare losses, so the order is handed to them as
 * surrogate losses just above the largest finite DONE loss, computed per
 * ask into the ask's arena: O(n + p log p) for p pruned trials, the
 * order of the samplers' own sort.
 *
 * The "budget" rule (after BOHB, Falkner et al. 2018: fit the model on
 * the largest budget that has enough observations) ranks DONE and PRUNED
 * trials together by the value they reported at one step, the deepest
 * that enough of them reached; a DONE trial's final loss and a pruned
 * trial's step-1 value are not comparable, their values at one step are.
 */
#include "pz_internal.h"

#include <math.h>
#include <stdlib.h>

typedef struct rank_ctx {
    const pz__history *h;
    const pz__trial_reports *rep;
    size_t n_rep;
    int64_t budget; /* the budget rule's comparison step */
} rank_ctx;

typedef bool (*rank_before_fn)(const rank_ctx *c, size_t a, size_t b);

static int64_t last_step(const rank_ctx *c, size_t i)
{
    return i < c->n_rep ? pz__reports_last_step(&c->rep[i]) : -1;
}

/* The order of two values: smaller first, NaN last; 0 for equal ones
 * (and two NaNs), which both rules break by row. */
static int value_cmp(double a, double b)
{
    if (isnan(a) || isnan(b)) {
        return (isnan(a) ? 1 : 0) - (isnan(b) ? 1 : 0);
    }
    return (a > b) - (a < b);
}

/* Does row a rank before row b? */
static bool before(const rank_ctx *c, size_t a, size_t b)
{
    int64_t sa = last_step(c, a), sb = last_step(c, b);
    if (sa != sb) {
        return sa > sb;
    }
    int v = value_cmp(c->h->loss[a], c->h->loss[b]);
    return v != 0 ? v < 0 : a < b;
}

/* Stable merge sort of rows[0..n) with 'tmp' of n (no qsort context). */
static void sort_rows(const rank_ctx *c, rank_before_fn cmp, size_t *rows,
                      size_t *tmp, size_t n)
{
    if (n < 2) {
        return;
    }
    size_t m = n / 2;
    sort_rows(c, cmp, rows, tmp, m);
    sort_rows(c, cmp, rows + m, tmp, n - m);
    size_t a = 0, b = m, o = 0;
    while (a < m && b < n) {
        tmp[o++] = cmp(c, rows[b], rows[a]) ? rows[b++] : rows[a++];
    }
    while (a < m) {
        tmp[o++] = rows[a++];
    }
    while (b < n) {
        tmp[o++] = rows[b++];
    }
    for (size_t i = 0; i < n; i++) {
        rows[i] = tmp[i];
    }
}

void pz__pruned_rank(const pz__history *h, const pz__trial_reports *rep,
                     size_t n_rep, size_t *scratch, double *key)
{
    double top = 0.0;
    bool any = false;
    size_t p = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (h->state[i] == PZ_TRIAL_DONE && isfinite(h->loss[i])) {
            top = any && top >= h->loss[i] ? top : h->loss[i];
            any = true;
        } else if (h->state[i] == PZ_TRIAL_PRUNED) {
            scratch[p++] = i;
        }
    }
    rank_ctx c = {h, rep, n_rep, 0};
    sort_rows(&c, before, scratch, scratch + p, p);
    /* Steps of 'unit' keep ranks apart even where top + 1 == top. */
    double unit = fabs(top) > 1.0 ? fabs(top) : 1.0;
    for (size_t k = 0; k < p; k++) {
        key[scratch[k]] = top + (double)(k + 1) * unit;
    }
}

/* ---------------------------------------------------------------- budget */

/* How deep a trial went: its last step; a DONE trial without reports
 * went all the way (it only has its loss); -1 for no report. */
static int64_t depth(const rank_ctx *c, size_t i)
{
    int64_t s = last_step(c, i);
    return s < 0 && c->h->state[i] == PZ_TRIAL_DONE ? INT64_MAX : s;
}

/* The trial's value at step 'b': its latest report at or before b (its
 * first when it started reporting after b), its loss when DONE without
 * reports, NaN with nothing. */
static double value_at(const rank_ctx *c, size_t i, int64_t b)
{
    if (i >= c->n_rep || c->rep[i].n == 0) {
        return c->h->state[i] == PZ_TRIAL_DONE ? c->h->loss[i] : (double)NAN;
    }
    const pz__trial_reports *r = &c->rep[i];
    size_t lo = 0, hi = r->n; /* first report after b, by bisection */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->steps[mid] <= b) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return r->values[lo ? lo - 1 : 0];
}

static bool deeper(const rank_ctx *c, size_t a, size_t b)
{
    int64_t da = depth(c, a), db = depth(c, b);
    return da != db ? da > db : a < b;
}

/* Trials that reached the budget step by their value there, then the
 * others by how deep they went and their value there, then no reports. */
static bool budget_before(const rank_ctx *c, size_t a, size_t b)
{
    int64_t da = depth(c, a), db = depth(c, b);
    int ga = da >= c->budget ? 0 : da >= 0 ? 1 : 2;
    int gb = db >= c->budget ? 0 : db >= 0 ? 1 : 2;
    if (ga != gb) {
        return ga < gb;
    }
    if (ga == 1 && da != db) {
        return da > db;
    }
    int v = value_cmp(value_at(c, a, ga ? da : c->budget),
                      value_at(c, b, gb ? db : c->budget));
    return v != 0 ? v < 0 : a < b;
}

void pz__pruned_budget(const pz__history *h, const pz__trial_reports *rep,
                       size_t n_rep, size_t min_count, size_t *scratch,
                       double *key)
{
    size_t m = 0;
    for (size_t i = 0; i < h->n; i++) {
        bool done = h->state[i] == PZ_TRIAL_DONE && !isnan(h->loss[i]);
        key[i] = (double)NAN;
        if (done || h->state[i] == PZ_TRIAL_PRUNED) {
            scratch[m++] = i;
        }
    }
    rank_ctx c = {h, rep, n_rep, INT64_MAX};
    /* The budget: the min_count-th deepest trial's depth, or the
     * shallowest reported depth when fewer trials reported: all of them
     * are then compared at one step. */
    sort_rows(&c, deeper, scratch, scratch + m, m);
    for (size_t k = 0; k < m && depth(&c, scratch[k]) >= 0; k++) {
        c.budget = depth(&c, scratch[k]);
        if (k + 1 >= min_count) {
            break;
        }
    }
    sort_rows(&c, budget_before, scratch, scratch + m, m);
    /* The samplers only compare losses: ranks are enough. */
    for (size_t k = 0; k < m; k++) {
        key[scratch[k]] = (double)(k + 1);
    }
}
