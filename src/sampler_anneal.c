/*
 * sampler_anneal.c -- simulated-annealing-style search ("anneal").
 *
 * Hyperopt's anneal.suggest (hyperopt-spec.md section 6.4), itself a
 * variant of simulated annealing (Kirkpatrick, Gelatt & Vecchi, Science
 * 220, 1983) without an acceptance rule: each parameter is drawn near
 * the value it had in one of the best trials so far, from a neighbourhood
 * that shrinks as 1 / (1 + T * shrink_coef), T the number of trials in
 * which the parameter was active.
 *
 *  - Visible trials: NEW, RUNNING (loss +inf) and DONE (NaN losses rank
 *    last); ERROR and CANCEL are invisible.
 *  - Parameters are visited in table order. For each active one, the
 *    base trial is the first one already chosen for this point in which
 *    it is active (keeps the point coherent); otherwise the k-th best of
 *    the trials where it is active, k + 1 ~ Geometric(1 / avg_best_idx),
 *    clipped to T, and it joins the chosen ones.
 *  - No trial history: the prior.
 *
 * Deviation: any number of pending trials is fine (upstream accepts
 * exactly one new id per call, i.e. max_queue_len = 1).
 *
 * Workload: O(N log N) to rank the history once per ask, then O(N) per
 * parameter; all scratch comes from the arena.
 */
#include "pz_internal.h"

#include <math.h>
#include <string.h>

typedef struct anneal_state {
    double avg_best_idx; /* mean rank of the base trial, >= 1 */
    double shrink_coef;  /* neighbourhood shrinkage per trial, >= 0 */
} anneal_state;

static const anneal_state anneal_defaults = {
    .avg_best_idx = 2.0,
    .shrink_coef = 0.1,
};

/* Per-ask scratch, from the arena. */
typedef struct anneal_work {
    size_t n;       /* visible trials */
    size_t *rows;   /* their history rows, best first */
    size_t *chosen; /* base trials chosen so far (history rows) */
    size_t n_chosen;
} anneal_work;

/* ------------------------------------------------------------- options */

static int anneal_init(void *st, const pz_space *sp, pz_error *err)
{
    (void)sp;
    (void)err;
    *(anneal_state *)st = anneal_defaults;
    return PZ_OK;
}

static int anneal_set_option(void *st, const char *key, double v, pz_error *err)
{
    anneal_state *a = st;
    const char *opt = pz__sampler_option_suffix(key, "anneal");
    if (opt != NULL && strcmp(opt, "avg_best_idx") == 0) {
        if (!(v >= 1.0 && isfinite(v))) {
            return pz__fail(err, PZ_EINVAL,
                            "option '%s' must be a finite number >= 1 "
                            "(got %g)",
                            key, v);
        }
        a->avg_best_idx = v;
        return PZ_OK;
    }
    if (opt != NULL && strcmp(opt, "shrink_coef") == 0) {
        if (!(v >= 0.0 && isfinite(v))) {
            return pz__fail(err, PZ_EINVAL,
                            "option '%s' must be a finite number >= 0 "
                            "(got %g)",
                            key, v);
        }
        a->shrink_coef = v;
        return PZ_OK;
    }
    return pz__fail(err, PZ_EINVAL,
                    "unknown option '%s' (anneal options: "
                    "anneal.avg_best_idx, anneal.shrink_coef)",
                    key);
}

/* ------------------------------------------------------------- ranking */

/* Does trial i outrank trial j? Smaller loss first, NaN last, then
 * older first. */
static bool ranks_before(const pz__history *h, size_t i, size_t j)
{
    double a = pz__history_effective_loss(h, i);
    double b = pz__history_effective_loss(h, j);
    if (isnan(a) || isnan(b)) {
        return isnan(b) && (!isnan(a) || i < j);
    }
    return a < b || (a == b && i < j);
}

/* Stable bottom-up merge sort of rows[0..n) by rank; tmp holds n. */
static void sort_by_rank(const pz__history *h, size_t *rows, size_t *tmp,
                         size_t n)
{
    size_t *src = rows, *dst = tmp;
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t a = lo, b = mid, o = lo;
            while (a < mid && b < hi) {
                dst[o++] =
                    ranks_before(h, src[b], src[a]) ? src[b++] : src[a++];
            }
            while (a < mid) {
                dst[o++] = src[a++];
            }
            while (b < hi) {
                dst[o++] = src[b++];
            }
        }
        size_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != rows) {
        memcpy(rows, src, n * sizeof *rows);
    }
}

/* Rows of NEW, RUNNING and DONE trials, best first. */
static int rank_history(anneal_work *w, const pz__sampler_ctx *ctx)
{
    const pz__history *h = ctx->hist;
    size_t cap = h->n ? h->n : 1;
    size_t *tmp = pz__arena_alloc(ctx->arena, cap * sizeof *tmp);
    w->rows = pz__arena_alloc(ctx->arena, cap * sizeof *w->rows);
    w->chosen = pz__arena_alloc(ctx->arena,
                                (ctx->space->n_params + 1) * sizeof *w->chosen);
    if (tmp == NULL || w->rows == NULL || w->chosen == NULL) {
        return PZ_ENOMEM;
    }
    w->n = w->n_chosen = 0;
    for (size_t i = 0; i < h->n; i++) {
        pz_trial_state s = (pz_trial_state)h->state[i];
        bool pruned =
            s == PZ_TRIAL_PRUNED && !isnan(pz__history_effective_loss(h, i));
        if (s == PZ_TRIAL_NEW || s == PZ_TRIAL_RUNNING || s == PZ_TRIAL_DONE ||
            pruned) {
            w->rows[w->n++] = i;
        }
    }
    sort_by_rank(h, w->rows, tmp, w->n);
    return PZ_OK;
}

/* ------------------------------------------------------------ proposal */

/* 1 + a Geometric(p) number of failures: support 1, 2, ... */
static double geometric(double p, pz__rng *rng)
{
    if (p >= 1.0) {
        return 1.0;
    }
    double u = 1.0 - pz__rng_uniform(rng); /* (0, 1] */
    return floor(log(u) / log1p(-p)) + 1.0;
}

/* The history row of the base trial for parameter j, active in 'T' of
 * the visible trials (T > 0). */
static size_t base_trial(const anneal_state *a, anneal_work *w,
                         const double *col, size_t T, pz__rng *rng)
{
    for (size_t c = 0; c < w->n_chosen; c++) {
        if (!isnan(col[w->chosen[c]])) {
            return w->chosen[c];
        }
    }
    double k = geometric(1.0 / a->avg_best_idx, rng) - 1.0;
    size_t rank = k >= (double)(T - 1) ? T - 1 : (size_t)k;
    size_t row = w->rows[0];
    for (size_t i = 0, seen = 0; i < w->n; i++) {
        if (!isnan(col[w->rows[i]]) && seen++ == rank) {
            row = w->rows[i];
            break;
        }
    }
    w->chosen[w->n_chosen++] = row;
    return row;
}

/* A uniform-family draw in a window of the range around v. */
static double near_uniform(const pz_param_spec *s, double v, double shrink,
                           pz__rng *rng)
{
    bool lg = s->dist == PZ_LOGUNIFORM || s->dist == PZ_QLOGUNIFORM;
    double mid = lg ? log(v) : v; /* qloguniform's 0 gives -inf: clipped */
    double width = (s->high - s->low) * shrink;
    double centre =
        fmin(fmax(mid, s->low + 0.5 * width), s->high - 0.5 * width);
    double u = centre - 0.5 * width + width * pz__rng_uniform(rng);
    double x = lg ? exp(u) : u;
    if (s->dist == PZ_UNIFORMINT) {
        return pz__space_quantize(x, 1.0);
    }
    if (s->dist == PZ_QUNIFORM || s->dist == PZ_QLOGUNIFORM) {
        return pz__space_quantize(x, s->q);
    }
    return x;
}

/* A normal-family draw around v with a shrunk sigma. */
static double near_normal(const pz_param_spec *s, double v, double shrink,
                          pz__rng *rng)
{
    double sd = s->sigma * shrink;
    switch (s->dist) {
    case PZ_NORMAL:
        return v + sd * pz__rng_normal(rng);
    case PZ_QNORMAL:
        return pz__space_quantize(v + sd * pz__rng_normal(rng), s->q);
    case PZ_LOGNORMAL:
        return exp(log(v) + sd * pz__rng_normal(rng));
    default: /* PZ_QLOGNORMAL */
        return pz__space_quantize(
            exp(log(1e-16 + v) + sd * pz__rng_normal(rng)), s->q);
    }
}

/* Keep v with probability 1 - shrink, else redraw from the prior, so
 * p = (1 - shrink) * onehot(v) + shrink * prior. */
static double near_category(const pz__param *p, double v, double shrink,
                            pz__rng *rng)
{
    if (pz__rng_uniform(rng) < 1.0 - shrink) {
        return v;
    }
    return pz__space_draw(p, rng);
}

static double propose(const pz__param *p, double v, double shrink, pz__rng *rng)
{
    switch (p->spec.dist) {
    case PZ_UNIFORM:
    case PZ_QUNIFORM:
    case PZ_LOGUNIFORM:
    case PZ_QLOGUNIFORM:
    case PZ_UNIFORMINT:
        return near_uniform(&p->spec, v, shrink, rng);
    case PZ_NORMAL:
    case PZ_QNORMAL:
    case PZ_LOGNORMAL:
    case PZ_QLOGNORMAL:
        return near_normal(&p->spec, v, shrink, rng);
    default: /* randint, choice, pchoice */
        return near_category(p, v, shrink, rng);
    }
}

/* ----------------------------------------------------------------- ask */

static double anneal_param(const anneal_state *a, anneal_work *w,
                           const pz__sampler_ctx *ctx, size_t j)
{
    const pz__param *p = &ctx->space->params[j];
    const double *col = ctx->hist->cols[j];
    size_t T = 0;
    for (size_t i = 0; i < w->n; i++) {
        T += isnan(col[w->rows[i]]) ? 0u : 1u;
    }
    if (T == 0) {
        return pz__space_draw(p, ctx->rng);
    }
    size_t row = base_trial(a, w, col, T, ctx->rng);
    double shrink = 1.0 / (1.0 + (double)T * a->shrink_coef);
    return propose(p, col[row], shrink, ctx->rng);
}

static int anneal_ask(void *st, const pz__sampler_ctx *ctx, double *x,
                      pz_error *err)
{
    const anneal_state *a = st;
    anneal_work w;
    if (rank_history(&w, ctx) != PZ_OK) {
        return pz__fail(err, PZ_ENOMEM, "out of memory in the anneal sampler");
    }
    const pz_space *sp = ctx->space;
    for (size_t j = 0; j < sp->n_params; j++) {
        x[j] = pz__space_active(sp, j, x) ? anneal_param(a, &w, ctx, j)
                                          : (double)NAN;
    }
    return PZ_OK;
}

const pz__sampler_vt pz__sampler_anneal = {
    .name = "anneal",
    .state_size = sizeof(anneal_state),
    .init = anneal_init,
    .set_option = anneal_set_option,
    .ask = anneal_ask,
    .fini = NULL,
};
