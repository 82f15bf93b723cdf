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
 */
#include "pz_internal.h"

#include <math.h>
#include <stdlib.h>

typedef struct rank_ctx {
    const pz__history *h;
    const pz__trial_reports *rep;
    size_t n_rep;
} rank_ctx;

static int64_t last_step(const rank_ctx *c, size_t i)
{
    return i < c->n_rep ? pz__reports_last_step(&c->rep[i]) : -1;
}

/* Does row a rank before row b? */
static bool before(const rank_ctx *c, size_t a, size_t b)
{
    int64_t sa = last_step(c, a), sb = last_step(c, b);
    if (sa != sb) {
        return sa > sb;
    }
    double la = c->h->loss[a], lb = c->h->loss[b];
    if (isnan(la) != isnan(lb)) {
        return isnan(lb);
    }
    if (la != lb && !isnan(la)) {
        return la < lb;
    }
    return a < b;
}

/* Stable merge sort of rows[0..n) with 'tmp' of n (no qsort context). */
static void sort_rows(const rank_ctx *c, size_t *rows, size_t *tmp, size_t n)
{
    if (n < 2) {
        return;
    }
    size_t m = n / 2;
    sort_rows(c, rows, tmp, m);
    sort_rows(c, rows + m, tmp, n - m);
    size_t a = 0, b = m, o = 0;
    while (a < m && b < n) {
        tmp[o++] = before(c, rows[b], rows[a]) ? rows[b++] : rows[a++];
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
    rank_ctx c = {h, rep, n_rep};
    sort_rows(&c, scratch, scratch + p, p);
    /* Steps of 'unit' keep ranks apart even where top + 1 == top. */
    double unit = fabs(top) > 1.0 ? fabs(top) : 1.0;
    for (size_t k = 0; k < p; k++) {
        key[scratch[k]] = top + (double)(k + 1) * unit;
    }
}
