/*
 * sampler_tpe.c -- the Tree-structured Parzen Estimator ("tpe").
 *
 * Bergstra, Bardenet, Bengio & Kegl, "Algorithms for Hyper-Parameter
 * Optimization", NeurIPS 2011, section 4; Bergstra, Yamins & Cox,
 * "Making a Science of Model Search", ICML 2013. We follow hyperopt
 * 0.2.7's tpe.suggest as hyperopt-spec.md section 6.3 describes it:
 *
 *  1. History: ERROR/CANCEL trials are invisible, NEW/RUNNING ones count
 *     as loss +inf, NaN losses are dropped (they do not count toward
 *     'n_startup_jobs' either).
 *  2. Fewer than 'n_startup_jobs' visible trials: a prior draw.
 *  3. The n_below = min(ceil(gamma * sqrt(N)), 25) smallest losses (ties:
 *     older first) form the good set, the rest the bad set.
 *  4. Parameter by parameter, in table order (so a choice drawn first
 *     decides which children are active): l(x) is fitted to the good
 *     trials where the parameter was active, g(x) to the bad ones
 *     (mixture.c), 'n_EI_candidates' candidates are drawn from l and the
 *     first maximising log l - log g is taken. Inactive parameters: NaN.
 *
 * Deliberate deviations (none changes a decision):
 * - randint always adds its 'low' back (upstream drops it for keyword
 *   bounds and then crashes, hyperopt-spec.md section 5.1).
 * - Truncated mixtures are not divided by their mass inside the bounds:
 *   that constant shifts every candidate's score of a parameter equally.
 * - Ties among equal losses are broken by age, not numpy's introsort.
 *
 * Workload: one ask per trial with histories of 10 to 10^4+ trials. An
 * ask is O(N d) to split and gather and O(N) per parameter to fit: the
 * numeric columns stay sorted across asks (sort_cache; an ask merges in
 * the rows added since the last), so nothing is sorted from scratch. The
 * densities cost what mixture.c's windows, pruning and fast Gauss
 * transform leave (bench/bench_ask.c, docs/benchmarks.md). Scratch comes
 * from the arena, sized once per ask; the cache is the sampler's (8 + 8
 * bytes per numeric value, freed with the study).
 */
#include "pz_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GAMMA_CAP 25           /* hyperopt's DEFAULT_LF, fixed */
#define DENSE_CATEGORIES 65536 /* larger ranges count by scanning */
#define MAX_COUNT_OPTION 1e9

/* One numeric parameter's history rows that have a value, sorted by
 * (mixture-space value, row): item key = pz__mixture_key, pos = row. */
typedef struct sorted_col {
    pz__mixture_item *e;
    size_t n, cap;
} sorted_col;

/* The sorted columns, kept across asks: rows are only ever appended to
 * a history (until a clear bumps its epoch), so each ask merges in the
 * few rows added since the last one instead of sorting n values again. */
typedef struct sort_cache {
    uint64_t epoch;   /* history epoch of the rows below */
    size_t rows;      /* history rows [0, rows) are in every column */
    size_t n_cols;    /* allocated columns (the space's parameters) */
    sorted_col *cols; /* NULL until the first model-based ask */
} sort_cache;

typedef struct tpe_state {
    double prior_weight;    /* weight of the prior component, > 0 */
    size_t n_startup_jobs;  /* prior draws until this many trials */
    size_t n_ei_candidates; /* candidates drawn from l(x), >= 1 */
    double gamma;           /* size of the good set, > 0 */
    size_t lf;              /* linear forgetting horizon */
    sort_cache cache;
} tpe_state;

static const tpe_state tpe_defaults = {
    .prior_weight = 1.0,
    .n_startup_jobs = 20,
    .n_ei_candidates = 24,
    .gamma = 0.25,
    .lf = 25,
};

/* Per-ask scratch, from the arena. */
typedef struct tpe_work {
    size_t n;              /* visible trials */
    size_t *rows;          /* their history rows, tid order */
    double *loss;          /* their losses (+inf for pending) */
    unsigned char *below;  /* 1 for the good set */
    unsigned char *set_of; /* per history row: 0 invisible, 1 good, 2 bad */
    size_t *pos_of;        /* per history row: position in its set */
    size_t *pos_all;       /* the same for a parameter active everywhere */
    size_t hist_n;         /* history rows */
    size_t n_below;        /* size of the good set */
    double *obs_b, *obs_a; /* one parameter's good/bad observations */
    double *w_b, *w_a;     /* their forgetting weights (categorical) */
    size_t nb, na;
    pz__mixture l, g; /* good and bad numeric posteriors */
    double *cand, *ll, *lg;
    double *counts; /* dense categorical counts for g */
} tpe_work;

/* ------------------------------------------------------------- options */

static int tpe_init(void *st, const pz_space *sp, pz_error *err)
{
    (void)sp;
    (void)err;
    *(tpe_state *)st = tpe_defaults;
    return PZ_OK;
}

static int want_count(const char *key, double v, double min, size_t *out,
                      pz_error *err)
{
    if (!(v >= min && v <= MAX_COUNT_OPTION && v == floor(v))) {
        return pz__fail(err, PZ_EINVAL,
                        "option '%s' must be an integer in [%g, %g] (got %g)",
                        key, min, MAX_COUNT_OPTION, v);
    }
    *out = (size_t)v;
    return PZ_OK;
}

static int want_positive(const char *key, double v, double *out, pz_error *err)
{
    if (!(v > 0.0 && isfinite(v))) {
        return pz__fail(err, PZ_EINVAL,
                        "option '%s' must be a finite number > 0 (got %g)", key,
                        v);
    }
    *out = v;
    return PZ_OK;
}

static int tpe_set_option(void *st, const char *key, double v, pz_error *err)
{
    tpe_state *t = st;
    const char *opt = pz__sampler_option_suffix(key, "tpe");
    if (opt == NULL) {
        opt = "";
    }
    if (strcmp(opt, "prior_weight") == 0) {
        return want_positive(key, v, &t->prior_weight, err);
    }
    if (strcmp(opt, "gamma") == 0) {
        return want_positive(key, v, &t->gamma, err);
    }
    if (strcmp(opt, "n_startup_jobs") == 0) {
        return want_count(key, v, 0, &t->n_startup_jobs, err);
    }
    if (strcmp(opt, "n_EI_candidates") == 0 ||
        strcmp(opt, "n_ei_candidates") == 0) {
        return want_count(key, v, 1, &t->n_ei_candidates, err);
    }
    if (strcmp(opt, "linear_forgetting") == 0) {
        return want_count(key, v, 0, &t->lf, err);
    }
    return pz__fail(err, PZ_EINVAL,
                    "unknown option '%s' (tpe options: tpe.prior_weight, "
                    "tpe.n_startup_jobs, tpe.n_EI_candidates, tpe.gamma, "
                    "tpe.linear_forgetting)",
                    key);
}

/* ------------------------------------------------------------- history */

/* Visible trials in tid order with their losses; returns their number. */
static size_t collect_visible(const pz__history *h, size_t *rows, double *loss)
{
    size_t n = 0;
    for (size_t i = 0; i < h->n; i++) {
        double l = pz__history_effective_loss(h, i);
        if (!isnan(l)) {
            rows[n] = i;
            loss[n++] = l;
        }
    }
    return n;
}

/* Mark the n_below smallest losses (older first among equals). 'best'
 * is scratch for n_below indices, kept sorted by (loss, age). */
static void split_good_bad(tpe_work *w, size_t *best)
{
    size_t k = 0;
    memset(w->below, 0, w->n);
    if (w->n_below == 0) {
        return;
    }
    for (size_t i = 0; i < w->n; i++) {
        if (k == w->n_below && !(w->loss[i] < w->loss[best[k - 1]])) {
            continue;
        }
        size_t j = k < w->n_below ? k++ : k - 1;
        for (; j > 0 && w->loss[i] < w->loss[best[j - 1]]; j--) {
            best[j] = best[j - 1];
        }
        best[j] = i;
    }
    for (size_t j = 0; j < k; j++) {
        w->below[best[j]] = 1;
    }
}

static size_t good_set_size(const tpe_state *t, size_t n)
{
    double nb = ceil(t->gamma * sqrt((double)n));
    size_t cap = n < GAMMA_CAP ? n : GAMMA_CAP;
    return nb >= (double)cap ? cap : (size_t)nb;
}

/* ---------------------------------------------------------- work space */

static size_t max_dense_categories(const pz_space *sp)
{
    size_t k = 0;
    for (size_t i = 0; i < sp->n_params; i++) {
        const pz__param *p = &sp->params[i];
        pz_dist d = p->spec.dist;
        if (d == PZ_CHOICE || d == PZ_PCHOICE || d == PZ_RANDINT) {
            size_t c = pz__space_n_categories(p);
            if (c <= DENSE_CATEGORIES && c > k) {
                k = c;
            }
        }
    }
    return k;
}

/* Candidates drawn per parameter; one (no selection by l/g) under the
 * test-only mutant of sampler.c. */
static size_t n_candidates(const tpe_state *t)
{
    return pz__sampler_mutant() == PZ__MUTANT_TPE_NO_SELECTION
               ? 1
               : t->n_ei_candidates;
}

#define ARENA_ARRAY(a, ptr, count)                                             \
    ((ptr) = pz__arena_alloc((a), (count) * sizeof *(ptr)))

static int work_alloc(tpe_work *w, const tpe_state *t,
                      const pz__sampler_ctx *ctx)
{
    pz__arena *a = ctx->arena;
    size_t n = ctx->hist->n ? ctx->hist->n : 1;
    size_t nc = n_candidates(t);
    size_t nk = max_dense_categories(ctx->space);
    if (!ARENA_ARRAY(a, w->rows, n) || !ARENA_ARRAY(a, w->loss, n) ||
        !ARENA_ARRAY(a, w->below, n) || !ARENA_ARRAY(a, w->obs_b, n) ||
        !ARENA_ARRAY(a, w->obs_a, n) || !ARENA_ARRAY(a, w->w_b, n) ||
        !ARENA_ARRAY(a, w->w_a, n) || !ARENA_ARRAY(a, w->cand, nc) ||
        !ARENA_ARRAY(a, w->ll, nc) || !ARENA_ARRAY(a, w->lg, nc) ||
        !ARENA_ARRAY(a, w->set_of, n) || !ARENA_ARRAY(a, w->pos_of, n) ||
        !ARENA_ARRAY(a, w->pos_all, n) ||
        !ARENA_ARRAY(a, w->counts, nk ? nk : 1)) {
        return PZ_ENOMEM;
    }
    return PZ_OK;
}

/* ------------------------------------------------------------- numeric */

/* How a numeric distribution maps to a Parzen mixture. */
typedef struct numeric_model {
    double low, high; /* mixture-space truncation, +-inf for normals */
    double q;         /* quantum, 0 for continuous */
    bool log_space;   /* LGMM */
    double obs_floor; /* observations are floored here before the log */
    pz__parzen_prior prior;
} numeric_model;

static void numeric_model_of(const tpe_state *t, const pz_param_spec *s,
                             numeric_model *md)
{
    pz_dist d = s->dist;
    bool uniform = d == PZ_UNIFORM || d == PZ_QUNIFORM || d == PZ_LOGUNIFORM ||
                   d == PZ_QLOGUNIFORM || d == PZ_UNIFORMINT;
    md->log_space = d == PZ_LOGUNIFORM || d == PZ_QLOGUNIFORM ||
                    d == PZ_LOGNORMAL || d == PZ_QLOGNORMAL;
    md->q = d == PZ_UNIFORMINT ? 1.0 : s->q;
    if (d == PZ_UNIFORM || d == PZ_LOGUNIFORM || d == PZ_NORMAL ||
        d == PZ_LOGNORMAL) {
        md->q = 0.0;
    }
    md->low = uniform ? s->low : -(double)INFINITY;
    md->high = uniform ? s->high : (double)INFINITY;
    md->obs_floor = d == PZ_QLOGUNIFORM
                        ? fmax(PZ__MIXTURE_EPS, exp(s->low))
                        : (d == PZ_QLOGNORMAL ? PZ__MIXTURE_EPS : 0.0);
    md->prior = (pz__parzen_prior){
        .mu = uniform ? 0.5 * (s->low + s->high) : s->mu,
        .sigma = uniform ? s->high - s->low : s->sigma,
        .weight = t->prior_weight,
        .lf = t->lf,
    };
}

/* Mixture-space value of an observation. */
static double to_mixture_space(const numeric_model *md, double v)
{
    if (!md->log_space) {
        return v;
    }
    double f = md->obs_floor > 0.0 ? md->obs_floor : PZ__MIXTURE_EPS;
    return log(v > f ? v : f);
}

/* Split a categorical parameter's values on visible trials into good
 * and bad, in tid order. */
static void gather(tpe_work *w, const double *col)
{
    w->nb = w->na = 0;
    for (size_t i = 0; i < w->n; i++) {
        double v = col[w->rows[i]];
        if (isnan(v)) {
            continue; /* inactive in that trial */
        }
        if (w->below[i]) {
            w->obs_b[w->nb++] = v;
        } else {
            w->obs_a[w->na++] = v;
        }
    }
}

static void set_shape(pz__mixture *m, const numeric_model *md)
{
    m->low = md->low;
    m->high = md->high;
    m->q = md->q;
    m->log_space = md->log_space;
    m->normalise = false; /* a per-parameter constant: see the header */
}

/* Index of the first best score, NaN scores never winning. */
static size_t argmax_score(const double *ll, const double *lg, size_t n)
{
    size_t best = 0;
    double top = -(double)INFINITY;
    for (size_t i = 0; i < n; i++) {
        double s = ll[i] - lg[i];
        if (s > top) {
            top = s;
            best = i;
        }
    }
    return best;
}

/* Split a sorted column into the good and bad sets' items, sorted as
 * pz__mixture_fit_sorted wants them: an item's position is its rank in
 * tid order among its set's trials where the parameter is active. A
 * column with a value in every row (a parameter active in every trial)
 * shares the ranks split_and_reserve computed once for all. */
static void gather_sorted(tpe_work *w, const sorted_col *sc, const double *col)
{
    const size_t *pos = w->pos_all;
    if (sc->n < w->hist_n) {
        size_t nb = 0, na = 0;
        for (size_t i = 0; i < w->n; i++) {
            size_t row = w->rows[i];
            if (!isnan(col[row])) {
                w->pos_of[row] = w->below[i] ? nb++ : na++;
            }
        }
        pos = w->pos_of;
    }
    pz__mixture_item *ib = pz__mixture_items(&w->l);
    pz__mixture_item *ia = pz__mixture_items(&w->g);
    w->nb = w->na = 0;
    for (size_t k = 0; k < sc->n; k++) { /* in value order */
        size_t row = (size_t)sc->e[k].pos;
        pz__mixture_item it = {sc->e[k].key, pos[row]};
        if (w->set_of[row] == 1) {
            ib[w->nb++] = it;
        } else if (w->set_of[row] == 2) {
            ia[w->na++] = it;
        }
    }
}

static double choose_numeric(const tpe_state *t, tpe_work *w,
                             const pz__param *p, const sorted_col *sc,
                             const double *col, pz__rng *rng)
{
    numeric_model md;
    numeric_model_of(t, &p->spec, &md);
    set_shape(&w->l, &md);
    set_shape(&w->g, &md);
    gather_sorted(w, sc, col);
    pz__mixture_fit_sorted(&w->l, w->nb, &md.prior);
    pz__mixture_fit_sorted(&w->g, w->na, &md.prior);
    size_t nc = n_candidates(t);
    for (size_t i = 0; i < nc; i++) {
        w->cand[i] = pz__mixture_sample(&w->l, rng);
    }
    return w->cand[pz__mixture_argmax_ratio(&w->l, &w->g, w->cand, nc, w->ll,
                                            w->lg)];
}

/* --------------------------------------------------------- categorical */

static double choose_categorical(const tpe_state *t, tpe_work *w,
                                 const pz__param *p, const double *col,
                                 pz__rng *rng)
{
    size_t k = pz__space_n_categories(p);
    double offset = p->spec.dist == PZ_RANDINT ? p->spec.low : 0.0;
    const double *p0 = p->spec.dist == PZ_PCHOICE ? p->probs : NULL;
    gather(w, col);
    pz__mixture_lf_weights(w->w_b, w->nb, t->lf);
    pz__mixture_lf_weights(w->w_a, w->na, t->lf);
    pz__categorical cl, cg;
    pz__mixture_categorical(&cl, k, offset, p0, t->prior_weight, w->obs_b,
                            w->w_b, w->nb, NULL);
    pz__mixture_categorical(&cg, k, offset, p0, t->prior_weight, w->obs_a,
                            w->w_a, w->na,
                            k <= DENSE_CATEGORIES ? w->counts : NULL);
    size_t nc = n_candidates(t);
    for (size_t i = 0; i < nc; i++) {
        size_t c = pz__mixture_categorical_sample(&cl, rng);
        w->cand[i] = (double)c;
        w->ll[i] = pz__mixture_categorical_logp(&cl, c);
        w->lg[i] = pz__mixture_categorical_logp(&cg, c);
    }
    return offset + w->cand[argmax_score(w->ll, w->lg, nc)];
}

/* -------------------------------------------------------- sort cache */

static bool is_categorical(pz_dist d)
{
    return d == PZ_CHOICE || d == PZ_PCHOICE || d == PZ_RANDINT;
}

static void cache_free(sort_cache *c)
{
    for (size_t j = 0; c->cols != NULL && j < c->n_cols; j++) {
        pz__free(c->cols[j].e, c->cols[j].cap * sizeof *c->cols[j].e);
    }
    pz__free(c->cols, c->n_cols * sizeof *c->cols);
    memset(c, 0, sizeof *c);
}

static int item_cmp(const void *pa, const void *pb)
{
    const pz__mixture_item *a = pa, *b = pb;
    return pz__mixture_item_less(a, b) ? -1
                                       : (pz__mixture_item_less(b, a) ? 1 : 0);
}

/* Insert one item into column 'sc' (capacity for it reserved): a binary
 * search, then one memmove of the tail. The common case, an ask after a
 * tell, adds one row. */
static void insert_one(sorted_col *sc, pz__mixture_item x)
{
    size_t lo = 0, hi = sc->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (pz__mixture_item_less(&sc->e[mid], &x)) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    memmove(&sc->e[lo + 1], &sc->e[lo], (sc->n - lo) * sizeof x);
    sc->e[lo] = x;
    sc->n++;
}

/* Sort 'add' (k items) and merge it into column 'sc', whose capacity
 * already holds them: from the back, so nothing moves twice. */
static void merge_into(sorted_col *sc, pz__mixture_item *add, size_t k)
{
    if (k <= 2) {
        for (size_t i = 0; i < k; i++) {
            insert_one(sc, add[i]);
        }
        return;
    }
    if (k <= 16) {
        pz__mixture_items_isort(add, k, SIZE_MAX);
    } else {
        qsort(add, k, sizeof *add, item_cmp);
    }
    size_t i = sc->n, j = k, out = sc->n + k;
    while (j > 0) {
        if (i > 0 && pz__mixture_item_less(&add[j - 1], &sc->e[i - 1])) {
            sc->e[--out] = sc->e[--i];
        } else {
            sc->e[--out] = add[--j];
        }
    }
    sc->n += k;
}

/* Bring the sorted columns up to date with the history: a clear starts
 * them over, then the rows added since the last ask are merged in. On
 * PZ_ENOMEM the cache is as it was. */
static int cache_update(tpe_state *t, const pz_space *sp, const pz__history *h,
                        pz__arena *arena)
{
    sort_cache *c = &t->cache;
    if (c->cols != NULL && (c->epoch != h->epoch || c->rows > h->n)) {
        cache_free(c);
    }
    if (c->cols == NULL) {
        size_t n_cols = sp->n_params ? sp->n_params : 1;
        c->cols = pz__calloc(n_cols, sizeof *c->cols);
        if (c->cols == NULL) {
            return PZ_ENOMEM;
        }
        c->n_cols = n_cols; /* the size freed must be the size allocated */
        c->epoch = h->epoch;
    }
    size_t k_max = h->n - c->rows;
    pz__mixture_item *add =
        pz__arena_alloc(arena, (k_max ? k_max : 1) * sizeof *add);
    if (add == NULL) {
        return PZ_ENOMEM;
    }
    for (size_t j = 0; j < sp->n_params; j++) { /* reserve, then fill */
        sorted_col *sc = &c->cols[j];
        if (!is_categorical(sp->params[j].spec.dist) &&
            pz__grow((void **)&sc->e, &sc->cap, sc->n + k_max, sizeof *sc->e) !=
                PZ_OK) {
            return PZ_ENOMEM;
        }
    }
    for (size_t j = 0; j < sp->n_params; j++) {
        if (is_categorical(sp->params[j].spec.dist)) {
            continue;
        }
        numeric_model md;
        numeric_model_of(t, &sp->params[j].spec, &md);
        const double *col = h->cols[j];
        size_t k = 0;
        for (size_t row = c->rows; row < h->n; row++) {
            if (!isnan(col[row])) {
                add[k++] = (pz__mixture_item){
                    pz__mixture_key(to_mixture_space(&md, col[row])), row};
            }
        }
        merge_into(&c->cols[j], add, k);
    }
    c->rows = h->n;
    return PZ_OK;
}

static void tpe_fini(void *st)
{
    cache_free(&((tpe_state *)st)->cache);
}

/* ----------------------------------------------------------------- ask */

/* Split the history into good and bad, and size the two posteriors. */
static int split_and_reserve(const tpe_state *t, tpe_work *w,
                             const pz__sampler_ctx *ctx)
{
    w->n_below = good_set_size(t, w->n);
    size_t *best = pz__arena_alloc(ctx->arena, GAMMA_CAP * sizeof *best);
    if (best == NULL) {
        return PZ_ENOMEM;
    }
    split_good_bad(w, best);
    memset(w->set_of, 0, ctx->hist->n);
    size_t nb = 0, na = 0;
    for (size_t i = 0; i < w->n; i++) {
        w->set_of[w->rows[i]] = w->below[i] ? 1 : 2;
        w->pos_all[w->rows[i]] = w->below[i] ? nb++ : na++;
    }
    w->hist_n = ctx->hist->n;
    if (pz__mixture_alloc(&w->l, w->n_below + 1, ctx->arena) != PZ_OK ||
        pz__mixture_alloc(&w->g, w->n - w->n_below + 1, ctx->arena) != PZ_OK) {
        return PZ_ENOMEM;
    }
    return PZ_OK;
}

static int tpe_ask(void *st, const pz__sampler_ctx *ctx, double *x,
                   pz_error *err)
{
    tpe_state *t = st;
    const pz_space *sp = ctx->space;
    tpe_work w;
    memset(&w, 0, sizeof w);
    if (work_alloc(&w, t, ctx) != PZ_OK) {
        return pz__fail(err, PZ_ENOMEM, "out of memory in the tpe sampler");
    }
    w.n = collect_visible(ctx->hist, w.rows, w.loss);
    if (w.n < t->n_startup_jobs) {
        pz__sampler_draw_prior(sp, ctx->rng, x);
        return PZ_OK;
    }
    if (split_and_reserve(t, &w, ctx) != PZ_OK ||
        cache_update(t, sp, ctx->hist, ctx->arena) != PZ_OK) {
        return pz__fail(err, PZ_ENOMEM, "out of memory in the tpe sampler");
    }
    for (size_t i = 0; i < sp->n_params; i++) {
        const pz__param *p = &sp->params[i];
        const double *col = ctx->hist->cols[i];
        if (!pz__space_active(sp, i, x)) {
            x[i] = (double)NAN;
        } else if (is_categorical(p->spec.dist)) {
            x[i] = choose_categorical(t, &w, p, col, ctx->rng);
        } else {
            x[i] = choose_numeric(t, &w, p, &t->cache.cols[i], col, ctx->rng);
        }
    }
    return PZ_OK;
}

const pz__sampler_vt pz__sampler_tpe = {
    .name = "tpe",
    .state_size = sizeof(tpe_state),
    .init = tpe_init,
    .set_option = tpe_set_option,
    .ask = tpe_ask,
    .fini = tpe_fini,
};
