/*
 * sampler_mtpe.c -- multivariate Tree-structured Parzen Estimator ("mtpe").
 *
 * parzen's own TPE, beside hyperopt's faithful "tpe". Designed from
 * Watanabe, "Tree-structured Parzen Estimator: Understanding Its Algorithm
 * Components and Their Roles for Better Empirical Performance" (2023) and
 * Falkner, Klein & Hutter, "BOHB" (ICML 2018), tuned on bench/quality
 * (docs/benchmarks.md records each choice and its evidence):
 *
 *  1. History: ERROR/CANCEL trials are invisible; DONE trials with a NaN
 *     or infinite loss are the worst observations. Pending (NEW/RUNNING)
 *     trials are invisible by default (mtpe.hide_pending = 1): in the
 *     simulated-parallelism experiment (P = 16) that beat counting them
 *     as bad observations, whose kernels punch holes next to the good
 *     region the narrow bandwidths model (docs/benchmarks.md, "mtpe").
 *     Fewer than 'n_startup_jobs' visible trials: a prior draw.
 *  2. Parameters are modelled in groups of the same activity pattern: the
 *     unconditional ones together, then, once a choice is drawn, the
 *     parameters it activates (same parent, same option) together, and so
 *     on down the tree. A group sees the trials where it was active.
 *  3. Within a group: the ceil(gamma * n) smallest finite losses (at most
 *     gamma_cap; ties: older first) are the good set, the rest the bad
 *     set. l(x) and g(x) are product-kernel densities over the group's
 *     parameters: one kernel per trial, plus a prior kernel of weight
 *     prior_weight. Within each set the newest 'forget' trials weigh 1,
 *     older ones less (linear forgetting, as in hyperopt and Optuna): the
 *     bad set follows where the search is now, so an option it lost
 *     early against random trials gets weighed again. Numeric
 *     dimensions: Gaussians in mixture space (log x for log ones),
 *     truncated to the bounds, bandwidth from Scott's exponent
 *     m^(-1/(D+4)), clipped below by bw_min times the dimension's scale
 *     ("magic clipping" in spirit). Categorical dimensions:
 *     Aitchison-Aitken kernels.
 *  4. n_EI_candidates joint candidates drawn from l, quantized the way the
 *     prior quantizes; the first maximising log l - log g is taken --
 *     in a space that is one grid, the first that no finished or running
 *     trial has, if any is new (dedup: a repeat only repeats a loss). A
 *     quantized dimension's density is the kernel's mass on the value's
 *     rounding interval whenever the bandwidth is not wide against it.
 *
 * Contracts: a pure function of (space, history, stream); one ask costs
 * O(n D C) for n trials, D parameters in a group and C candidates -- no
 * sorting of the history beyond choosing the good set (a bounded
 * insertion, or one O(n log n) sort when the good set is large). The
 * kernel loop passes over kernels out of reach of a candidate after a
 * branch-free screen (kde_screen), and the history's log coordinates
 * are computed once per trial, not once per ask (coord_cache): neither
 * changes a bit of the result. All scratch comes from the arena; the
 * state holds the options and that cache (8 bytes per log-scale
 * parameter per trial, freed with the study).
 */
#include "pz_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COUNT_OPTION 1e9
#define INSERT_SELECT_MAX 64 /* larger good sets are chosen by sorting */
#define LOG_SQRT_2PI 0.91893853320467274178
#define SQRT1_2 0.70710678118654752440
#define SCREEN_DIMS 8 /* continuous dimensions screened per candidate */

/* The mixture-space coordinates (log x, clamped to the bounds) of the
 * history's values of each log-scale parameter, kept across asks: rows
 * are only ever appended to a history (until a clear bumps its epoch),
 * so an ask computes the logs of the rows added since the last one
 * instead of n logs per parameter. */
typedef struct coord_col {
    double *v; /* cap coordinates, rows [0, coord_cache.rows) set */
    size_t cap;
} coord_col;

typedef struct coord_cache {
    uint64_t epoch;  /* history epoch of the rows below */
    size_t rows;     /* history rows [0, rows) are in every column */
    size_t n_cols;   /* allocated columns (the space's parameters) */
    coord_col *cols; /* NULL until the first modelled ask */
} coord_cache;

typedef struct mtpe_state {
    double gamma;           /* good set: ceil(gamma * n) trials */
    size_t gamma_cap;       /* ... at most this many; 0: no cap */
    double prior_weight;    /* weight of the prior kernel, > 0 */
    size_t n_startup_jobs;  /* prior draws until this many trials */
    size_t n_ei_candidates; /* candidates drawn from l(x), >= 1 */
    double bw_factor;       /* bandwidth at one observation / scale */
    double bw_min;          /* smallest bandwidth / scale */
    double cat_smooth;      /* categorical kernel smoothing at m = 1 */
    size_t bw_rule;         /* 0: scale-based, 1: sample spread (Scott),
                               2: per kernel, the gap to its neighbours */
    double sample_bw;       /* candidates are drawn this much wider */
    size_t hide_pending;    /* 1: pending trials are invisible; 0: bad */
    double explore;         /* chance that an ask uses bw_rule 2 */
    size_t explore_until;   /* ... while fewer trials are visible; 0: always */
    double gap_factor;      /* bw_rule 2: bandwidth = gap x this */
    size_t dedup;           /* 1: no repeat of a trial's configuration */
    size_t forget;          /* recency weights past this many; 0: none */
    coord_cache cache;      /* not an option: see coord_cache */
} mtpe_state;

static const mtpe_state mtpe_defaults = {
    .gamma = 0.10,
    .gamma_cap = 25,
    .prior_weight = 1.0,
    .n_startup_jobs = 10,
    .n_ei_candidates = 24,
    .bw_factor = 0.05,
    .bw_min = 0.03,
    .cat_smooth = 0.5,
    .bw_rule = 0,
    .sample_bw = 1.0,
    .hide_pending = 1,
    .explore = 1.0,
    .explore_until = 30,
    .gap_factor = 1.0,
    .dedup = 1,
    .forget = 25,
};

/* One dimension of a group: how a parameter maps to its kernels. */
typedef struct dim {
    const pz__param *p;
    bool cat;
    size_t k;         /* categories (cat) */
    double offset;    /* randint's low (cat) */
    double low, high; /* mixture-space truncation, +-inf when none */
    double q;         /* quantum in value space, 0 continuous */
    bool log_space;   /* kernels over log x */
    double obs_floor; /* values are floored here before the log */
    double prior_mu;  /* prior kernel centre (mixture space) */
    double prior_sig; /* prior kernel sigma (mixture space) */
    double scale;     /* the dimension's width, for the bandwidth */
} dim;

/* A product-kernel density: m data kernels (centres row-major, m x D) and
 * the prior kernel. */
typedef struct kde {
    size_t m, D;
    const double *mu;  /* m x D centres: mixture-space value or category */
    double *sig;       /* D bandwidths (numeric) */
    double *inv;       /* D 1 / bandwidth (numeric) */
    double *lsig;      /* D log(bandwidth sqrt(2 pi)) (numeric) */
    double *ksig;      /* m x D per-kernel bandwidths (bw_rule 2), or NULL */
    double *kinv;      /* m x D their inverses */
    double *klsig;     /* m x D log(bandwidth sqrt(2 pi)) */
    double *lam;       /* D Aitchison-Aitken off-centre masses (cat) */
    double *lsame;     /* D log(1 - lam) */
    double *ldiff;     /* D log(lam / (k - 1)) */
    double *logc;      /* m per-kernel constants (weights, sigmas) */
    double *lmass;     /* m -log(mass inside the bounds), NaN: not yet */
    double mass_bound; /* an upper bound of every lmass */
    double logc_prior;
    double logw, logw_prior; /* log weights, normalised */
    const double *w;         /* m kernel weights, or NULL: all 1 */
    double wsum;             /* their sum plus prior_weight */
    struct ranked *tmp;      /* m entries of scratch (bw_rule 2) */
    size_t n_scr;            /* screening dimensions (kde_screen) */
    size_t scr_dim[SCREEN_DIMS];
    double *scr; /* n_scr x m: their centres, column by column, or NULL */
} kde;

/* ------------------------------------------------------------- options */

static int mtpe_init(void *st, const pz_space *sp, pz_error *err)
{
    (void)sp;
    (void)err;
    *(mtpe_state *)st = mtpe_defaults;
    return PZ_OK;
}

static int want_count(const char *key, double v, double min, double max,
                      size_t *out, pz_error *err)
{
    if (!(v >= min && v <= max && v == floor(v))) {
        return pz__fail(err, PZ_EINVAL,
                        "option '%s' must be an integer in [%g, %g] (got %g)",
                        key, min, max, v);
    }
    *out = (size_t)v;
    return PZ_OK;
}

static int want_real(const char *key, double v, double lo, double hi,
                     bool lo_open, double *out, pz_error *err)
{
    if (!(isfinite(v) && (lo_open ? v > lo : v >= lo) && v <= hi)) {
        return pz__fail(err, PZ_EINVAL,
                        "option '%s' must be a number in %s%g, %g] (got %g)",
                        key, lo_open ? "(" : "[", lo, hi, v);
    }
    *out = v;
    return PZ_OK;
}

static int mtpe_set_option(void *st, const char *key, double v, pz_error *err)
{
    mtpe_state *t = st;
    const char *o = pz__sampler_option_suffix(key, "mtpe");
    o = o ? o : "";
    if (strcmp(o, "gamma") == 0) {
        return want_real(key, v, 0.0, 1.0, true, &t->gamma, err);
    }
    if (strcmp(o, "gamma_cap") == 0) {
        return want_count(key, v, 0, MAX_COUNT_OPTION, &t->gamma_cap, err);
    }
    if (strcmp(o, "prior_weight") == 0) {
        return want_real(key, v, 0.0, 1e9, true, &t->prior_weight, err);
    }
    if (strcmp(o, "n_startup_jobs") == 0) {
        return want_count(key, v, 0, MAX_COUNT_OPTION, &t->n_startup_jobs, err);
    }
    if (strcmp(o, "n_EI_candidates") == 0 ||
        strcmp(o, "n_ei_candidates") == 0) {
        return want_count(key, v, 1, 1e6, &t->n_ei_candidates, err);
    }
    if (strcmp(o, "bw_factor") == 0) {
        return want_real(key, v, 0.0, 10.0, true, &t->bw_factor, err);
    }
    if (strcmp(o, "bw_min") == 0) {
        return want_real(key, v, 0.0, 1.0, true, &t->bw_min, err);
    }
    if (strcmp(o, "cat_smooth") == 0) {
        return want_real(key, v, 0.0, 1.0, true, &t->cat_smooth, err);
    }
    if (strcmp(o, "sample_bw") == 0) {
        return want_real(key, v, 0.0, 100.0, true, &t->sample_bw, err);
    }
    if (strcmp(o, "bw_rule") == 0) {
        return want_count(key, v, 0, 2, &t->bw_rule, err);
    }
    if (strcmp(o, "explore") == 0) {
        return want_real(key, v, 0.0, 1.0, false, &t->explore, err);
    }
    if (strcmp(o, "explore_until") == 0) {
        return want_count(key, v, 0, MAX_COUNT_OPTION, &t->explore_until, err);
    }
    if (strcmp(o, "gap_factor") == 0) {
        return want_real(key, v, 0.0, 10.0, true, &t->gap_factor, err);
    }
    if (strcmp(o, "forget") == 0) {
        return want_count(key, v, 0, MAX_COUNT_OPTION, &t->forget, err);
    }
    if (strcmp(o, "dedup") == 0) {
        return want_count(key, v, 0, 1, &t->dedup, err);
    }
    if (strcmp(o, "hide_pending") == 0) {
        return want_count(key, v, 0, 1, &t->hide_pending, err);
    }
    return pz__fail(err, PZ_EINVAL,
                    "unknown option '%s' (mtpe options, each as mtpe.NAME: "
                    "gamma, gamma_cap, "
                    "prior_weight, n_startup_jobs, n_EI_candidates, "
                    "bw_factor, bw_min, cat_smooth, bw_rule, sample_bw, "
                    "hide_pending, explore, explore_until, gap_factor, "
                    "dedup, forget)",
                    key);
}

/* ---------------------------------------------------------- dimensions */

static bool is_categorical(pz_dist d)
{
    return d == PZ_CHOICE || d == PZ_PCHOICE || d == PZ_RANDINT;
}

static void dim_of(const pz__param *p, dim *dm)
{
    const pz_param_spec *s = &p->spec;
    pz_dist d = s->dist;
    memset(dm, 0, sizeof *dm);
    dm->p = p;
    if (is_categorical(d)) {
        dm->cat = true;
        dm->k = pz__space_n_categories(p);
        dm->offset = d == PZ_RANDINT ? s->low : 0.0;
        return;
    }
    bool bounded = d == PZ_UNIFORM || d == PZ_QUNIFORM || d == PZ_LOGUNIFORM ||
                   d == PZ_QLOGUNIFORM || d == PZ_UNIFORMINT;
    dm->log_space = d == PZ_LOGUNIFORM || d == PZ_QLOGUNIFORM ||
                    d == PZ_LOGNORMAL || d == PZ_QLOGNORMAL;
    dm->q = d == PZ_UNIFORMINT ? 1.0 : s->q;
    if (d == PZ_UNIFORM || d == PZ_LOGUNIFORM || d == PZ_NORMAL ||
        d == PZ_LOGNORMAL) {
        dm->q = 0.0;
    }
    dm->obs_floor = dm->log_space ? PZ__MIXTURE_EPS : 0.0;
    if (bounded) {
        dm->low = s->low;
        dm->high = s->high;
        dm->prior_mu = 0.5 * (s->low + s->high);
        dm->scale = s->high - s->low;
        dm->prior_sig = dm->scale;
    } else {
        dm->low = -(double)INFINITY;
        dm->high = (double)INFINITY;
        dm->prior_mu = s->mu;
        dm->prior_sig = s->sigma;
        dm->scale = sqrt(12.0) * s->sigma; /* a box of the same spread */
    }
    if (!(dm->scale > 0.0)) { /* low == high: any positive width will do */
        dm->scale = 1.0;
        dm->prior_sig = 1.0;
    }
}

/* Mixture-space coordinate of a value (numeric), or category index. */
static double coord(const dim *dm, double v)
{
    if (dm->cat) {
        double c = v - dm->offset;
        return c < 0.0 ? 0.0
                       : (c > (double)(dm->k - 1) ? (double)(dm->k - 1) : c);
    }
    if (dm->log_space) {
        v = log(v > dm->obs_floor ? v : dm->obs_floor);
    }
    return v;
}

/* --------------------------------------------------------------- group */

/* The trials one group is fitted to: rows where every member is active,
 * good ones first, with their coordinates (n x D, same order). */
typedef struct group {
    size_t D;
    dim *dims;
    size_t n, n_good;
    double *cen; /* n x D */
    double *w;   /* n kernel weights (same order), or NULL: all 1 */
} group;

typedef struct ranked {
    double loss; /* or a coordinate, when sorting a column */
    size_t row;
} ranked;

static int ranked_cmp(const void *pa, const void *pb)
{
    const ranked *a = pa, *b = pb;
    if (a->loss != b->loss) {
        return a->loss < b->loss ? -1 : 1;
    }
    return a->row < b->row ? -1 : (a->row > b->row);
}

static bool ranked_less(const ranked *a, const ranked *b)
{
    return a->loss < b->loss || (a->loss == b->loss && a->row < b->row);
}

/* The loss a trial is ranked by; NaN: invisible. Non-finite losses and
 * pending trials rank last (+inf). */
static double rank_loss(const mtpe_state *t, const pz__history *h, size_t i)
{
    switch ((pz_trial_state)h->state[i]) {
    case PZ_TRIAL_NEW:
    case PZ_TRIAL_RUNNING:
        return t->hide_pending ? (double)NAN : (double)INFINITY;
    case PZ_TRIAL_DONE: { /* the loss, or the budget rule's rank */
        double l = pz__history_effective_loss(h, i);
        return isfinite(l) ? l : (double)INFINITY;
    }
    case PZ_TRIAL_PRUNED: /* the study's pruned-trial rule */
        return pz__history_effective_loss(h, i);
    default:
        return (double)NAN;
    }
}

static size_t good_size(const mtpe_state *t, size_t n_finite, size_t n)
{
    double g = ceil(t->gamma * (double)n);
    size_t k = g >= (double)n ? n : (size_t)g;
    if (t->gamma_cap > 0 && k > t->gamma_cap) {
        k = t->gamma_cap;
    }
    return k < n_finite ? k : n_finite;
}

/* Move the k best of r[0..n) (by loss, then age) to the front, sorted. */
static void select_best(ranked *r, size_t n, size_t k)
{
    if (k == 0) {
        return;
    }
    if (k > INSERT_SELECT_MAX) {
        qsort(r, n, sizeof *r, ranked_cmp);
        return;
    }
    size_t have = 0; /* r[0..have) is the sorted best so far */
    for (size_t i = 0; i < n; i++) {
        if (have == k && !ranked_less(&r[i], &r[k - 1])) {
            continue;
        }
        ranked x = r[i];
        if (have < k) {
            r[i] = r[have]; /* slot 'have' moves to i (i >= have) */
            have++;
        } else {
            r[i] = r[k - 1]; /* the evicted one goes where x was */
        }
        size_t j = have - 1;
        for (; j > 0 && ranked_less(&x, &r[j - 1]); j--) {
            r[j] = r[j - 1];
        }
        r[j] = x;
    }
}

/* A numeric dimension's coordinate of a value: mixture space, clamped
 * to the bounds (every kernel's centre lies inside them). */
static double centre_of(const dim *dm, double v)
{
    double c = coord(dm, v);
    return c < dm->low ? dm->low : (c > dm->high ? dm->high : c);
}

/* The weight of the i-th oldest of m kernels: hyperopt's and Optuna's
 * linear forgetting -- the newest 'forget' weigh 1, the older ones ramp
 * from 1/m up towards 1 -- so each density follows where the search is
 * now: evidence against a region from early, random trials fades, and a
 * choice the search locked onto early is weighed again. */
static double ramp_weight(size_t i, size_t m, size_t forget)
{
    if (m <= forget || i >= m - forget) {
        return 1.0;
    }
    size_t n_ramp = m - forget;
    double lo = 1.0 / (double)m;
    return n_ramp == 1 ? lo
                       : lo + (1.0 - lo) * (double)i / (double)(n_ramp - 1);
}

/* g->w: each kernel's recency weight within its own set (good or bad),
 * ages from 'age' (the group's rows in history order). O(n). */
static int recency_weights(const mtpe_state *t, const pz__sampler_ctx *ctx,
                           const ranked *r, const size_t *age, group *g)
{
    size_t nh = ctx->hist->n;
    double *wrow = pz__arena_alloc(ctx->arena, nh * sizeof *wrow);
    unsigned char *good = pz__arena_alloc(ctx->arena, nh);
    g->w = pz__arena_alloc(ctx->arena, g->n * sizeof *g->w);
    if (wrow == NULL || good == NULL || g->w == NULL) {
        return PZ_ENOMEM;
    }
    memset(good, 0, nh);
    for (size_t j = 0; j < g->n_good; j++) {
        good[r[j].row] = 1;
    }
    size_t n_bad = g->n - g->n_good, ig = 0, ib = 0;
    for (size_t j = 0; j < g->n; j++) {
        size_t row = age[j];
        wrow[row] = good[row] ? ramp_weight(ig++, g->n_good, t->forget)
                              : ramp_weight(ib++, n_bad, t->forget);
    }
    for (size_t j = 0; j < g->n; j++) {
        g->w[j] = wrow[r[j].row];
    }
    return PZ_OK;
}

/* Gather the group's trials, coordinates of log-scale parameters from
 * 'cache' when not NULL. Returns PZ_ENOMEM or PZ_OK. */
static int group_gather(const mtpe_state *t, const pz__sampler_ctx *ctx,
                        const coord_cache *cache, group *g)
{
    const pz__history *h = ctx->hist;
    ranked *r = pz__arena_alloc(ctx->arena, (h->n ? h->n : 1) * sizeof *r);
    if (r == NULL) {
        return PZ_ENOMEM;
    }
    size_t n = 0, n_finite = 0;
    for (size_t i = 0; i < h->n; i++) {
        double l = rank_loss(t, h, i);
        bool active = !isnan(l);
        for (size_t d = 0; active && d < g->D; d++) {
            active = !isnan(h->cols[g->dims[d].p - ctx->space->params][i]);
        }
        if (!active) {
            continue;
        }
        r[n++] = (ranked){l, i};
        n_finite += isfinite(l) ? 1u : 0u;
    }
    g->n = n;
    g->n_good = good_size(t, n_finite, n);
    size_t *age = NULL; /* the rows in history order, before selection */
    if (t->forget > 0 && n > t->forget) {
        age = pz__arena_alloc(ctx->arena, n * sizeof *age);
        if (age == NULL) {
            return PZ_ENOMEM;
        }
        for (size_t j = 0; j < n; j++) {
            age[j] = r[j].row;
        }
    }
    select_best(r, n, g->n_good);
    g->w = NULL;
    if (age != NULL && recency_weights(t, ctx, r, age, g) != PZ_OK) {
        return PZ_ENOMEM;
    }
    g->cen = pz__arena_alloc(ctx->arena, (n ? n : 1) * g->D * sizeof *g->cen);
    if (g->cen == NULL) {
        return PZ_ENOMEM;
    }
    for (size_t d = 0; d < g->D; d++) {
        const dim *dm = &g->dims[d];
        size_t p = (size_t)(dm->p - ctx->space->params);
        const double *col = h->cols[p];
        double *out = g->cen + d;
        if (dm->log_space && cache != NULL) {
            const double *cc = cache->cols[p].v;
            for (size_t j = 0; j < n; j++) {
                out[j * g->D] = cc[r[j].row];
            }
        } else if (dm->cat) {
            for (size_t j = 0; j < n; j++) {
                out[j * g->D] = coord(dm, col[r[j].row]);
            }
        } else {
            for (size_t j = 0; j < n; j++) {
                out[j * g->D] = centre_of(dm, col[r[j].row]);
            }
        }
    }
    return PZ_OK;
}

/* ----------------------------------------------------------------- kde */

static int kde_alloc(const mtpe_state *t, kde *s, size_t m, size_t D,
                     pz__arena *a)
{
    memset(s, 0, sizeof *s);
    s->m = m;
    s->D = D;
    size_t nd = D ? D : 1, nm = m ? m : 1;
    s->sig = pz__arena_alloc(a, 6 * nd * sizeof(double));
    s->logc = pz__arena_alloc(a, 2 * nm * sizeof(double));
    if (s->sig == NULL || s->logc == NULL) {
        return PZ_ENOMEM;
    }
    s->lmass = s->logc + nm;
    if (t->bw_rule != 2) { /* shared bandwidths: kernels can be screened */
        s->scr = pz__arena_alloc(a, SCREEN_DIMS * nm * sizeof(double));
        if (s->scr == NULL) {
            return PZ_ENOMEM;
        }
    } else {
        s->ksig = pz__arena_alloc(a, 3 * nm * nd * sizeof(double));
        s->tmp = pz__arena_alloc(a, nm * sizeof *s->tmp);
        if (s->ksig == NULL || s->tmp == NULL) {
            return PZ_ENOMEM;
        }
        s->kinv = s->ksig + nm * nd;
        s->klsig = s->kinv + nm * nd;
    }
    s->inv = s->sig + nd;
    s->lam = s->inv + nd;
    s->lsame = s->lam + nd;
    s->ldiff = s->lsame + nd;
    s->lsig = s->ldiff + nd;
    return PZ_OK;
}

/* Bandwidth of numeric dimension d for m kernels in D dimensions. */
static double bandwidth(const mtpe_state *t, const kde *s, const dim *dm,
                        size_t d)
{
    double shrink = pow((double)s->m, -1.0 / ((double)s->D + 4.0));
    double spread = dm->scale;
    if (t->bw_rule == 1 && s->m >= 2) { /* Scott: the sample's spread */
        double mean = 0.0, ss = 0.0;
        for (size_t k = 0; k < s->m; k++) {
            mean += s->mu[k * s->D + d];
        }
        mean /= (double)s->m;
        for (size_t k = 0; k < s->m; k++) {
            double e = s->mu[k * s->D + d] - mean;
            ss += e * e;
        }
        spread = sqrt(12.0 * ss / (double)(s->m - 1)); /* box-equivalent */
    }
    double b = t->bw_factor * spread * shrink;
    double lo = t->bw_min * dm->scale;
    return b < lo ? lo : (b > dm->scale ? dm->scale : b);
}

/* The ends of dimension dm's column for the gap rule: its bounds, or
 * for an unbounded prior a box of the prior's spread widened to the data. */
static void column_ends(const dim *dm, const ranked *r, size_t m, double *lo,
                        double *hi)
{
    *lo = dm->low;
    *hi = dm->high;
    if (isinf(*lo)) {
        double e = dm->prior_mu - 0.5 * dm->scale;
        *lo = r[0].loss < e ? r[0].loss : e;
    }
    if (isinf(*hi)) {
        double e = dm->prior_mu + 0.5 * dm->scale;
        *hi = r[m - 1].loss > e ? r[m - 1].loss : e;
    }
}

/* Per-kernel bandwidths (bw_rule 2: the rule of Bergstra et al.'s TPE
 * that Watanabe 2023 studies): along each numeric dimension a kernel is
 * as wide as the larger gap to its neighbours among the centres (the
 * bounds close the ends), clipped to [scale / min(100, m + 2), scale]
 * ("magic clipping"). An isolated good point keeps exploring around
 * itself while a cluster sharpens; in the bad set, kernels are as
 * narrow as the observations are dense. One sort per dimension. The
 * dimension's sig[d] holds the narrowest, which decides use_mass. */
static void kernel_bandwidths(const mtpe_state *t, kde *s, const dim *dims)
{
    size_t m = s->m, D = s->D;
    double clip = (double)m + 2.0 < 100.0 ? (double)m + 2.0 : 100.0;
    for (size_t d = 0; d < D; d++) {
        const dim *dm = &dims[d];
        if (dm->cat) {
            continue;
        }
        ranked *r = s->tmp;
        for (size_t k = 0; k < m; k++) {
            r[k] = (ranked){s->mu[k * D + d], k};
        }
        qsort(r, m, sizeof *r, ranked_cmp);
        double lo, hi, floor = dm->scale / clip, narrowest = dm->scale;
        column_ends(dm, r, m, &lo, &hi);
        for (size_t j = 0; j < m; j++) {
            double left = r[j].loss - (j > 0 ? r[j - 1].loss : lo);
            double right = (j + 1 < m ? r[j + 1].loss : hi) - r[j].loss;
            double b = t->gap_factor * (left > right ? left : right);
            b = b < floor ? floor : (b > dm->scale ? dm->scale : b);
            size_t at = r[j].row * D + d;
            s->ksig[at] = b;
            s->kinv[at] = 1.0 / b;
            s->klsig[at] = log(b) + LOG_SQRT_2PI;
            narrowest = b < narrowest ? b : narrowest;
        }
        s->sig[d] = narrowest;
        s->inv[d] = 1.0 / narrowest;
        s->lsig[d] = log(narrowest) + LOG_SQRT_2PI;
    }
}

/* Bandwidth of kernel k in numeric dimension d. */
static double kernel_sig(const kde *s, size_t k, size_t d)
{
    return s->ksig ? s->ksig[k * s->D + d] : s->sig[d];
}

/* A kernel's mass inside the bounds of dimension dm. The centre lies
 * inside them and sig <= their width, so the mass is at least
 * Phi(1) - 1/2 = 0.34: one minus the two tails is accurate, and a tail
 * further than 8.5 sigma away (below 1e-17) is left out. */
static double mass_inside(const dim *dm, double mu, double sig)
{
    double zl = (dm->low - mu) / sig, zh = (dm->high - mu) / sig;
    double out = 0.0;
    if (zl > -8.5) {
        out += 0.5 * erfc(-zl * SQRT1_2);
    }
    if (zh < 8.5) {
        out += 0.5 * erfc(zh * SQRT1_2);
    }
    return 1.0 - out;
}

/* log of a kernel's mass inside the bounds, for a centre anywhere. */
static double log_inside(const dim *dm, double mu, double sig)
{
    if (isinf(dm->low) && isinf(dm->high)) {
        return 0.0;
    }
    return pz__normal_log_mass((dm->low - mu) / sig, (dm->high - mu) / sig);
}

/* The screen: up to SCREEN_DIMS dimensions' centres, one column each
 * (continuous dimensions first, then quantized, then categorical: the
 * order in which they tend to rule kernels out), so that a candidate's
 * bound for every kernel is one branch-free pass per column
 * (kde_screen). */
static void kde_screen_fit(kde *s, const dim *dims)
{
    s->n_scr = 0;
    for (int kind = 0; kind < 3; kind++) {
        for (size_t d = 0; s->scr && d < s->D && s->n_scr < SCREEN_DIMS; d++) {
            const dim *dm = &dims[d];
            if ((dm->cat ? 2 : (dm->q > 0.0 ? 1 : 0)) != kind) {
                continue;
            }
            double *col = s->scr + s->n_scr * s->m;
            for (size_t k = 0; k < s->m; k++) {
                col[k] = s->mu[k * s->D + d];
            }
            s->scr_dim[s->n_scr++] = d;
        }
    }
}

/* Fit the density of m kernels at 'mu' (m x D) plus the prior. */
static void kde_fit(const mtpe_state *t, kde *s, const dim *dims,
                    const double *mu, const double *w)
{
    size_t D = s->D;
    s->mu = mu;
    s->w = w;
    double total = (double)s->m + t->prior_weight;
    if (w != NULL) {
        total = t->prior_weight;
        for (size_t k = 0; k < s->m; k++) {
            total += w[k];
        }
    }
    s->wsum = total;
    s->logw = -log(total);
    s->logw_prior = log(t->prior_weight / total);
    double shrink = s->m ? pow((double)s->m, -1.0 / ((double)D + 4.0)) : 1.0;
    double base = 0.0, prior = s->logw_prior;
    for (size_t d = 0; d < D; d++) {
        const dim *dm = &dims[d];
        if (dm->cat) {
            double kk = (double)dm->k;
            double lam =
                dm->k > 1 ? (kk - 1.0) / kk * t->cat_smooth * shrink : 0.0;
            s->lam[d] = lam;
            s->lsame[d] = log1p(-lam);
            s->ldiff[d] = dm->k > 1 ? log(lam / (kk - 1.0)) : 0.0;
            continue;
        }
        s->sig[d] = s->m ? bandwidth(t, s, dm, d) : dm->scale;
        s->inv[d] = 1.0 / s->sig[d];
        s->lsig[d] = log(s->sig[d]) + LOG_SQRT_2PI;
        base -= s->ksig ? 0.0 : s->lsig[d];
        prior -= log(dm->prior_sig) + LOG_SQRT_2PI +
                 log_inside(dm, dm->prior_mu, dm->prior_sig);
    }
    s->logc_prior = prior;
    if (s->ksig != NULL && s->m > 0) {
        kernel_bandwidths(t, s, dims);
    }
    /* The truncation masses wait until a candidate comes near enough to
     * a kernel to need them (kernel_lmass): most kernels of the bad set
     * never do. Each mass is >= Phi(1) - 1/2 (the centre lies inside the
     * bounds, sig <= their width), so -log(mass) <= 1.075 per bounded
     * dimension: the bound that keeps dropping kernels early exact. */
    size_t n_bounded = 0;
    for (size_t d = 0; d < D; d++) {
        n_bounded +=
            !dims[d].cat && !(isinf(dims[d].low) && isinf(dims[d].high));
    }
    s->mass_bound = 1.075 * (double)n_bounded;
    kde_screen_fit(s, dims);
    for (size_t k = 0; k < s->m; k++) {
        double c = (w ? log(w[k]) : 0.0) + s->logw + base;
        for (size_t d = 0; s->ksig && d < D; d++) {
            c -= dims[d].cat ? 0.0 : s->klsig[k * D + d];
        }
        s->logc[k] = c;
        s->lmass[k] = (double)NAN;
    }
}

/* -log of kernel k's mass inside the bounds, computed once per ask. A
 * product of 64 masses >= 0.34 cannot underflow: one log per 64
 * dimensions instead of one per dimension. */
static double kernel_lmass(kde *s, const dim *dims, size_t k)
{
    if (!isnan(s->lmass[k])) {
        return s->lmass[k];
    }
    double c = 0.0, prod = 1.0;
    for (size_t d = 0, n = 0; d < s->D; d++) {
        const dim *dm = &dims[d];
        if (dm->cat || (isinf(dm->low) && isinf(dm->high))) {
            continue;
        }
        prod *= mass_inside(dm, s->mu[k * s->D + d], kernel_sig(s, k, d));
        if (++n % 64 == 0) {
            c -= log(prod);
            prod = 1.0;
        }
    }
    s->lmass[k] = c - log(prod);
    return s->lmass[k];
}

/* A candidate's coordinates and, for quantized dimensions, its rounding
 * interval in mixture space. */
typedef struct cand {
    double *x;   /* D coordinates */
    double *mid; /* D: x, or the middle of its rounding interval */
    double *lo;  /* D interval ends (quantized numeric) */
    double *hi;
    double *lwidth; /* D log interval width (quantized numeric) */
} cand;

/* Kernels this many times wider than a rounding interval take the
 * density at its middle times its width for their mass (the midpoint
 * rule: relative error below 1 / (24 x 25)); narrower ones the mass. */
#define MASS_WIDTHS 5.0

/* Should dimension d of 's' use interval masses for this candidate? */
static bool use_mass(const dim *dm, double sig, const cand *c, size_t d)
{
    return !dm->cat && dm->q > 0.0 && sig < MASS_WIDTHS * (c->hi[d] - c->lo[d]);
}

/* log(Phi(zu) - Phi(zl)): one difference of two erfc when that loses at
 * most three digits (a rounding interval is at least a fifth of a sigma
 * wide when masses are used), the careful tail formulas otherwise. */
static double log_interval_mass(double zl, double zu)
{
    if (zl >= 0.0 || zu <= 0.0) {
        double a = zl >= 0.0 ? zl : -zu, b = zl >= 0.0 ? zu : -zl;
        double ea = erfc(a * SQRT1_2), eb = erfc(b * SQRT1_2);
        if (ea > 1e-290 && ea - eb > 1e-3 * ea) {
            return log(0.5 * (ea - eb));
        }
        return pz__normal_log_mass(zl, zu);
    }
    return log(0.5 * (erf(zu * SQRT1_2) - erf(zl * SQRT1_2)));
}

/* log kernel value of one numeric dimension, as a density: the interval
 * mass over its width when 'mass', else the Gaussian density (whose
 * constants live in logc). Returned relative to those constants. */
static double numeric_term(const dim *dm, const cand *c, size_t d, double mu,
                           double lsig, double inv, bool mass)
{
    if (mass) {
        double lm =
            log_interval_mass((c->lo[d] - mu) * inv, (c->hi[d] - mu) * inv);
        return lm - c->lwidth[d] + lsig;
    }
    (void)dm;
    double z = (c->mid[d] - mu) * inv;
    return -0.5 * z * z;
}

/* Kernels whose log value falls this far below the largest one are
 * left out of the sum: each adds less than e^-40 = 4e-18 of it. Every
 * dimension's term is <= 0 (a kernel's density never exceeds its peak),
 * so a kernel can be dropped as soon as its partial sum falls that low:
 * in several dimensions most of the bad set's kernels are dropped after
 * a few dimensions. */
#define DROP_BELOW 40.0

/* Order dims for the kernel loop: plain numeric ones first (cheapest
 * and the quickest to rule a kernel out), then categorical, then those
 * that need interval masses. Returns how many are plain numeric. */
static size_t order_dims(const kde *s, const dim *dims, const cand *c,
                         size_t *order, unsigned char *mass)
{
    size_t D = s->D, n = 0;
    for (int pass = 0; pass < 3; pass++) {
        for (size_t d = 0; d < D; d++) {
            mass[d] = use_mass(&dims[d], s->sig[d], c, d);
            int kind = dims[d].cat ? 1 : (mass[d] ? 2 : 0);
            if (kind == pass) {
                order[n++] = d;
            }
        }
    }
    size_t plain = 0;
    while (plain < D && !dims[order[plain]].cat && !mass[order[plain]]) {
        plain++;
    }
    return plain;
}

/* log value of the prior kernel at 'c'. */
static double prior_term(const kde *s, const dim *dims, const cand *c)
{
    double acc = s->logc_prior;
    for (size_t d = 0; d < s->D; d++) {
        const dim *dm = &dims[d];
        if (dm->cat) {
            const double *p0 =
                dm->p->spec.dist == PZ_PCHOICE ? dm->p->probs : NULL;
            size_t i = (size_t)c->x[d];
            acc += p0 ? log(p0[i]) : -log((double)dm->k);
        } else {
            acc += numeric_term(
                dm, c, d, dm->prior_mu, log(dm->prior_sig) + LOG_SQRT_2PI,
                1.0 / dm->prior_sig, use_mass(dm, dm->prior_sig, c, d));
        }
    }
    return acc;
}

#define HEAD_DIMS 4

/* Sum of squared scaled distances over plain dimensions [j0, j1): 'x' is
 * the candidate's gathered coordinates, 'mu' and 'inv' a kernel's row. */
static double sq_dist(const double *x, const double *mu, const double *inv,
                      size_t j0, size_t j1)
{
    double q = 0.0;
    for (size_t j = j0; j < j1; j++) {
        double z = (x[j] - mu[j]) * inv[j];
        q += z * z;
    }
    return q;
}

/* The same when the plain dimensions are not the first ones: order[j]. */
static double sq_dist_ordered(const double *x, const double *mu,
                              const double *inv, const size_t *order, size_t j0,
                              size_t j1)
{
    double q = 0.0;
    for (size_t j = j0; j < j1; j++) {
        size_t d = order[j];
        double z = (x[j] - mu[d]) * inv[d];
        q += z * z;
    }
    return q;
}

/* An upper bound of every kernel's log value at 'c' but for the mass
 * term, into 'ub' (m): its constant plus, for each screened dimension,
 * an upper bound of its term there (every other dimension's term is
 * <= 0). Continuous: the term itself, -z^2/2. Quantized: -z^2/2 at the
 * point of the rounding interval nearest the centre (the interval mass
 * over its width never exceeds the density there, nor does the density
 * at its middle). Categorical: the term itself. Column by column,
 * without branches: the kernel loop then passes over the ~95% of the
 * bad set's kernels that are out of reach at the cost of a comparison
 * each (screen_skip), instead of summing their first dimensions one
 * kernel at a time. */
static void kde_screen(const kde *s, const dim *dims, const cand *c, double *ub)
{
    size_t m = s->m;
    for (size_t k = 0; k < m; k++) {
        ub[k] = 0.0; /* -2 x the sum of the terms */
    }
    for (size_t j = 0; j < s->n_scr; j++) {
        const double *col = s->scr + j * m;
        size_t d = s->scr_dim[j];
        const dim *dm = &dims[d];
        if (dm->cat) {
            double x = c->x[d], same = -2.0 * s->lsame[d];
            double diff = -2.0 * s->ldiff[d];
            for (size_t k = 0; k < m; k++) { /* a select, not a branch */
                ub[k] += diff + (double)(col[k] == x) * (same - diff);
            }
        } else if (dm->q > 0.0) {
            double lo = c->lo[d], hi = c->hi[d], inv = s->inv[d];
            for (size_t k = 0; k < m; k++) {
                /* the distance to [lo, hi]: at most one of a, b is > 0,
                 * and (a + |a|) / 2 is a or 0 exactly, without a branch */
                double a = lo - col[k], b = col[k] - hi;
                double z = 0.5 * (a + fabs(a) + b + fabs(b)) * inv;
                ub[k] += z * z;
            }
        } else {
            double x = c->mid[d], inv = s->inv[d];
            for (size_t k = 0; k < m; k++) {
                double z = (x - col[k]) * inv;
                ub[k] += z * z;
            }
        }
    }
    for (size_t k = 0; k < m; k++) {
        ub[k] = s->logc[k] - 0.5 * ub[k];
    }
}

/* Screened kernels are dropped only when their bound is below the limit
 * by more than the bound's rounding (it sums in another order than the
 * kernel loop): a kernel kept by the loop is never screened out, so
 * the density is the same to the last bit. */
#define SCREEN_SLACK 1e-9

/* From kernel k on, mark the kernels whose bound 'ub' is below 'lim'
 * (less the slack) as dropped in 'buf'; returns the first kept one, or
 * m. The tight loop that makes a screened-out kernel cost ~2 ns. */
static size_t screen_skip(const double *ub, double *buf, size_t k, size_t m,
                          double lim)
{
    double thr = lim - SCREEN_SLACK * (1.0 + fabs(lim));
    for (; k < m && ub[k] < thr; k++) {
        buf[k] = -(double)INFINITY;
    }
    return k;
}

/* log density of candidate 'c'; 'buf' holds 2m + 1 + D doubles of
 * scratch, 'order' D indices and 'mass' D flags. */
static double kde_logpdf(kde *s, const dim *dims, const cand *c, double *buf,
                         size_t *order, unsigned char *mass)
{
    size_t D = s->D;
    size_t plain = order_dims(s, dims, c, order, mass);
    /* the plain dimensions' coordinates, gathered: a tight first loop */
    double *xp = buf + s->m + 1, *ub = xp + D;
    if (s->n_scr > 0) {
        kde_screen(s, dims, c, ub);
    }
    for (size_t j = 0; j < plain; j++) {
        xp[j] = c->mid[order[j]];
    }
    bool identity = true;
    for (size_t j = 0; j < plain && identity; j++) {
        identity = order[j] == j;
    }
    /* The plain dimensions go without a test per dimension (a branch
     * each costs more than the few it saves, measured with bench_ask),
     * but with one after the first HEAD_DIMS: in several dimensions most
     * of the bad set's kernels are out of reach by then. */
    size_t head = plain < HEAD_DIMS ? plain : HEAD_DIMS;
    double top = prior_term(s, dims, c);
    buf[s->m] = top;
    for (size_t k = 0; k < s->m; k++) {
        if (s->n_scr > 0) { /* to the next kernel the screen lets through */
            k = screen_skip(ub, buf, k, s->m, top - DROP_BELOW - s->mass_bound);
            if (k == s->m) {
                break;
            }
        }
        const double *mu = s->mu + k * D;
        const double *inv = s->kinv ? s->kinv + k * D : s->inv;
        const double *lsig = s->klsig ? s->klsig + k * D : s->lsig;
        /* acc leaves out the mass term (<= mass_bound) until the end */
        double acc = s->logc[k], floor = top - DROP_BELOW;
        double lim = floor - s->mass_bound;
        double q = identity ? sq_dist(xp, mu, inv, 0, head)
                            : sq_dist_ordered(xp, mu, inv, order, 0, head);
        if (acc - 0.5 * q < lim) { /* out of reach after the first few */
            buf[k] = -(double)INFINITY;
            continue;
        }
        q += identity ? sq_dist(xp, mu, inv, head, plain)
                      : sq_dist_ordered(xp, mu, inv, order, head, plain);
        acc -= 0.5 * q;
        for (size_t j = plain; j < D && acc >= lim; j++) {
            size_t d = order[j];
            if (dims[d].cat) {
                acc += c->x[d] == mu[d] ? s->lsame[d] : s->ldiff[d];
            } else {
                acc +=
                    numeric_term(&dims[d], c, d, mu[d], lsig[d], inv[d], true);
            }
        }
        if (acc >= lim) {
            acc += kernel_lmass(s, dims, k);
        }
        buf[k] = acc >= floor ? acc : -(double)INFINITY;
        top = acc > top ? acc : top;
    }
    if (!(top > -(double)INFINITY)) {
        return top;
    }
    double sum = 0.0, floor = top - DROP_BELOW;
    for (size_t k = 0; k <= s->m; k++) {
        if (buf[k] >= floor) {
            sum += exp(buf[k] - top);
        }
    }
    return top + log(sum);
}

/* ------------------------------------------------------------ sampling */

/* Draw one value of numeric dimension dm from N(mu, sig) truncated to
 * the bounds, in value space (exp'd, quantized like the prior). */
static double draw_numeric(const dim *dm, double mu, double sig, pz__rng *rng)
{
    double z =
        pz__normal_truncated((dm->low - mu) / sig, (dm->high - mu) / sig, rng);
    double v = mu + sig * z;
    if (dm->log_space) {
        v = exp(v);
    }
    return dm->q > 0.0 ? pz__space_quantize(v, dm->q) : v;
}

static double draw_category(const dim *dm, const kde *s, size_t d,
                            const double *mu, pz__rng *rng)
{
    if (mu == NULL) { /* the prior kernel */
        if (dm->p->spec.dist == PZ_PCHOICE) {
            return (double)pz__rng_categorical(rng, dm->p->probs, dm->k);
        }
        return (double)pz__rng_below(rng, dm->k);
    }
    size_t c = (size_t)mu[d];
    if (dm->k < 2 || !(pz__rng_uniform(rng) < s->lam[d])) {
        return (double)c;
    }
    size_t o = (size_t)pz__rng_below(rng, dm->k - 1);
    return (double)(o >= c ? o + 1 : o);
}

/* One joint draw from 's' into 'vals' (value space; categories as
 * indices, offset not added). */
static void kde_sample(const mtpe_state *t, const kde *s, const dim *dims,
                       pz__rng *rng, double *vals)
{
    double u = pz__rng_uniform(rng) * s->wsum;
    const double *mu = NULL;
    size_t k = 0;
    if (s->w == NULL && u < (double)s->m) {
        k = (size_t)u < s->m ? (size_t)u : s->m - 1;
        mu = s->mu + k * s->D;
    } else if (s->w != NULL) { /* O(m): the scoring costs O(m D) anyway */
        while (k < s->m && u >= s->w[k]) {
            u -= s->w[k++];
        }
        mu = k < s->m ? s->mu + k * s->D : NULL;
    }
    for (size_t d = 0; d < s->D; d++) {
        const dim *dm = &dims[d];
        if (dm->cat) {
            vals[d] = draw_category(dm, s, d, mu, rng);
        } else if (mu != NULL) {
            /* BOHB's idea: candidates from wider kernels than the density
             * they are scored by, so the search keeps moving locally. */
            double sig = kernel_sig(s, k, d) * t->sample_bw;
            vals[d] =
                draw_numeric(dm, mu[d], sig < dm->scale ? sig : dm->scale, rng);
        } else {
            vals[d] = draw_numeric(dm, dm->prior_mu, dm->prior_sig, rng);
        }
    }
}

/* Coordinates and rounding intervals of a drawn candidate. */
static void cand_set(const dim *dims, size_t D, const double *vals, cand *c)
{
    for (size_t d = 0; d < D; d++) {
        const dim *dm = &dims[d];
        if (dm->cat) {
            c->x[d] = vals[d];
            continue;
        }
        c->x[d] = coord(dm, vals[d]);
        c->mid[d] = c->x[d];
        if (dm->q > 0.0) {
            double a = vals[d] - 0.5 * dm->q, b = vals[d] + 0.5 * dm->q;
            if (dm->log_space) {
                a = log(a > dm->obs_floor ? a : dm->obs_floor);
                b = log(b > dm->obs_floor ? b : dm->obs_floor);
            }
            a = a < dm->low ? dm->low : a;
            b = b > dm->high ? dm->high : b;
            if (!(b > a)) { /* a value outside the bounds: a sliver */
                b = a + 1e-12 * (1.0 + fabs(a));
            }
            c->lo[d] = a;
            c->hi[d] = b;
            c->lwidth[d] = log(b - a);
            c->mid[d] = 0.5 * (a + b);
        }
    }
}

/* --------------------------------------------------------- coord cache */

static void cache_free(coord_cache *c)
{
    for (size_t j = 0; c->cols != NULL && j < c->n_cols; j++) {
        pz__free(c->cols[j].v, c->cols[j].cap * sizeof *c->cols[j].v);
    }
    pz__free(c->cols, c->n_cols * sizeof *c->cols);
    memset(c, 0, sizeof *c);
}

static bool is_log_numeric(pz_dist d)
{
    return d == PZ_LOGUNIFORM || d == PZ_QLOGUNIFORM || d == PZ_LOGNORMAL ||
           d == PZ_QLOGNORMAL;
}

/* Bring the cached coordinates up to date with the history: a clear
 * starts them over, then the rows added since the last ask get theirs.
 * On PZ_ENOMEM the cache is empty (the ask computes every log). */
static int cache_update(coord_cache *c, const pz_space *sp,
                        const pz__history *h)
{
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
    for (size_t j = 0; j < sp->n_params; j++) {
        coord_col *cc = &c->cols[j];
        if (!is_log_numeric(sp->params[j].spec.dist)) {
            continue;
        }
        if (pz__grow((void **)&cc->v, &cc->cap, h->n, sizeof *cc->v) != PZ_OK) {
            cache_free(c);
            return PZ_ENOMEM;
        }
        dim dm;
        dim_of(&sp->params[j], &dm);
        for (size_t row = c->rows; row < h->n; row++) {
            cc->v[row] = centre_of(&dm, h->cols[j][row]);
        }
    }
    c->rows = h->n;
    return PZ_OK;
}

static void mtpe_fini(void *st)
{
    cache_free(&((mtpe_state *)st)->cache);
}

/* ---------------------------------------------------------------- ask */

/* Is the group the whole configuration, every member on a grid? Then a
 * candidate equal to an evaluated row is an exact repeat of that trial. */
static bool whole_discrete(const pz_space *sp, const group *g)
{
    if (g->D != sp->n_params) {
        return false;
    }
    for (size_t d = 0; d < g->D; d++) {
        if (!g->dims[d].cat && !(g->dims[d].q > 0.0)) {
            return false;
        }
    }
    return true;
}

/* Does a trial of the group -- a visible one, or one still pending --
 * have exactly coordinates x (clamped to the bounds, as the trials'
 * are: rounding puts at most one grid value past each bound)? Values on
 * a grid are quantized by one function, so equal points are equal
 * doubles. O(n D). */
static bool evaluated(const mtpe_state *t, const pz__sampler_ctx *ctx,
                      const group *g, const double *x)
{
    for (size_t j = 0; j < g->n; j++) {
        const double *row = g->cen + j * g->D;
        size_t d = 0;
        while (d < g->D && row[d] == x[d]) {
            d++;
        }
        if (d == g->D) {
            return true;
        }
    }
    const pz__history *h = ctx->hist;
    for (size_t i = 0; t->hide_pending && i < h->n; i++) {
        if (h->state[i] != PZ_TRIAL_NEW && h->state[i] != PZ_TRIAL_RUNNING) {
            continue;
        }
        size_t d = 0;
        while (d < g->D) {
            const dim *dm = &g->dims[d];
            double v = h->cols[dm->p - ctx->space->params][i];
            if (isnan(v) ||
                (dm->cat ? coord(dm, v) : centre_of(dm, v)) != x[d]) {
                break;
            }
            d++;
        }
        if (d == g->D) {
            return true;
        }
    }
    return false;
}

/* Model one group and write its members' values into x. */
static int ask_group(const mtpe_state *t, const pz__sampler_ctx *ctx,
                     const coord_cache *cache, group *g, double *x)
{
    pz__arena *a = ctx->arena;
    size_t D = g->D;
    if (group_gather(t, ctx, cache, g) != PZ_OK) {
        return PZ_ENOMEM;
    }
    kde l, b;
    size_t nc = t->n_ei_candidates;
    double *vals = pz__arena_alloc(a, (nc + 1) * D * sizeof *vals);
    double *buf = pz__arena_alloc(a, (2 * g->n + 1 + D) * sizeof *buf);
    unsigned char *mass = pz__arena_alloc(a, D);
    size_t *order = pz__arena_alloc(a, D * sizeof *order);
    cand c;
    c.x = pz__arena_alloc(a, 5 * D * sizeof(double));
    if (vals == NULL || buf == NULL || mass == NULL || order == NULL ||
        c.x == NULL || kde_alloc(t, &l, g->n_good, D, a) != PZ_OK ||
        kde_alloc(t, &b, g->n - g->n_good, D, a) != PZ_OK) {
        return PZ_ENOMEM;
    }
    c.lo = c.x + D;
    c.hi = c.lo + D;
    c.lwidth = c.hi + D;
    c.mid = c.lwidth + D;
    kde_fit(t, &l, g->dims, g->cen, g->w);
    kde_fit(t, &b, g->dims, g->cen + g->n_good * D,
            g->w ? g->w + g->n_good : NULL);
    bool dedup = t->dedup && whole_discrete(ctx->space, g);
    double *key = dedup ? pz__arena_alloc(a, D * sizeof *key) : NULL;
    if (dedup && key == NULL) {
        return PZ_ENOMEM;
    }
    size_t best = 0, best_new = nc;
    double top = -(double)INFINITY, top_new = -(double)INFINITY;
    for (size_t i = 0; i < nc; i++) {
        double *v = vals + i * D;
        kde_sample(t, &l, g->dims, ctx->rng, v);
        cand_set(g->dims, D, v, &c);
        double s = kde_logpdf(&l, g->dims, &c, buf, order, mass) -
                   kde_logpdf(&b, g->dims, &c, buf, order, mass);
        if (s > top) { /* NaN never wins; the first of equals does */
            top = s;
            best = i;
        }
        for (size_t d = 0; dedup && d < D; d++) {
            const dim *dm = &g->dims[d];
            key[d] = dm->cat ? c.x[d] : fmin(fmax(c.x[d], dm->low), dm->high);
        }
        if (dedup && s > top_new && !evaluated(t, ctx, g, key)) {
            top_new = s;
            best_new = i;
        }
    }
    best = best_new < nc ? best_new : best;
    for (size_t d = 0; d < D; d++) {
        const dim *dm = &g->dims[d];
        x[dm->p - ctx->space->params] = vals[best * D + d] + dm->offset;
    }
    return PZ_OK;
}

/* Parameters i.. with the same activating condition as i, undecided. */
static size_t group_members(const pz_space *sp, size_t i,
                            const unsigned char *done, size_t *members)
{
    size_t n = 0;
    const pz__param *pi = &sp->params[i];
    for (size_t j = i; j < sp->n_params; j++) {
        const pz__param *pj = &sp->params[j];
        if (!done[j] && pj->parent == pi->parent &&
            (pi->parent == PZ_NO_PARENT || pj->option == pi->option)) {
            members[n++] = j;
        }
    }
    return n;
}

static size_t visible_trials(const mtpe_state *t, const pz__history *h)
{
    size_t n = 0;
    for (size_t i = 0; i < h->n; i++) {
        n += isnan(rank_loss(t, h, i)) ? 0u : 1u;
    }
    return n;
}

static int mtpe_ask(void *st, const pz__sampler_ctx *ctx, double *x,
                    pz_error *err)
{
    mtpe_state tt = *(const mtpe_state *)st;
    const mtpe_state *t = &tt;
    const pz_space *sp = ctx->space;
    size_t n_vis = visible_trials(t, ctx->hist);
    if (n_vis < t->n_startup_jobs) {
        pz__sampler_draw_prior(sp, ctx->rng, x);
        return PZ_OK;
    }
    /* Out of memory for the cache: this ask computes its logs. */
    coord_cache *cache = &((mtpe_state *)st)->cache;
    if (cache_update(cache, sp, ctx->hist) != PZ_OK) {
        cache = NULL;
    }
    /* An exploring ask models with the per-kernel gap bandwidths. */
    if (tt.explore > 0.0 &&
        (tt.explore_until == 0 || n_vis < tt.explore_until) &&
        pz__rng_uniform(ctx->rng) < tt.explore) {
        tt.bw_rule = 2;
    }
    size_t np = sp->n_params ? sp->n_params : 1;
    unsigned char *done = pz__arena_alloc(ctx->arena, np);
    size_t *members = pz__arena_alloc(ctx->arena, np * sizeof *members);
    group g = {0};
    g.dims = pz__arena_alloc(ctx->arena, np * sizeof *g.dims);
    if (done == NULL || members == NULL || g.dims == NULL) {
        return pz__fail(err, PZ_ENOMEM, "out of memory in the mtpe sampler");
    }
    memset(done, 0, np);
    /* Parents precede children: when parameter i is reached, whether it
     * is active is known, and its whole group is decided at once. */
    for (size_t i = 0; i < sp->n_params; i++) {
        if (done[i]) {
            continue;
        }
        if (!pz__space_active(sp, i, x)) {
            x[i] = (double)NAN;
            done[i] = 1;
            continue;
        }
        g.D = group_members(sp, i, done, members);
        for (size_t d = 0; d < g.D; d++) {
            dim_of(&sp->params[members[d]], &g.dims[d]);
            done[members[d]] = 1;
        }
        if (ask_group(t, ctx, cache, &g, x) != PZ_OK) {
            return pz__fail(err, PZ_ENOMEM,
                            "out of memory in the mtpe sampler");
        }
    }
    return PZ_OK;
}

const pz__sampler_vt pz__sampler_mtpe = {
    .name = "mtpe",
    .state_size = sizeof(mtpe_state),
    .init = mtpe_init,
    .set_option = mtpe_set_option,
    .ask = mtpe_ask,
    .fini = mtpe_fini,
};

/* --------------------------------------------------------------- probe */

int pz__mtpe_probe(const pz__mtpe_probe_args *pa, double *log_l, double *log_g,
                   double *draws, pz_error *err)
{
    mtpe_state t = mtpe_defaults;
    for (size_t i = 0; i < pa->n_opts; i++) {
        int rc = mtpe_set_option(&t, pa->keys[i], pa->vals[i], err);
        if (rc != PZ_OK) {
            return rc;
        }
    }
    const pz_space *sp = pa->space;
    pz__arena arena;
    pz__arena_init(&arena);
    pz__rng rng;
    pz__rng_seed(&rng, pa->seed, 0);
    pz__sampler_ctx ctx = {sp, pa->hist, &rng, &arena, 0};
    group g = {0};
    kde l, b;
    cand c;
    size_t np = sp->n_params ? sp->n_params : 1;
    int rc = PZ_ENOMEM;
    g.dims = pz__arena_alloc(&arena, np * sizeof *g.dims);
    if (g.dims == NULL) {
        goto done;
    }
    for (size_t i = 0; i < sp->n_params; i++) { /* the root group */
        if (sp->params[i].parent == PZ_NO_PARENT) {
            dim_of(&sp->params[i], &g.dims[g.D++]);
        }
    }
    size_t D = g.D ? g.D : 1;
    double *buf = NULL, *v = pz__arena_alloc(&arena, D * sizeof *v);
    unsigned char *mass = pz__arena_alloc(&arena, D);
    size_t *order = pz__arena_alloc(&arena, D * sizeof *order);
    c.x = pz__arena_alloc(&arena, 5 * D * sizeof(double));
    if (v == NULL || mass == NULL || order == NULL || c.x == NULL ||
        group_gather(&t, &ctx, NULL, &g) != PZ_OK ||
        (buf = pz__arena_alloc(&arena, (2 * g.n + 1 + g.D) * sizeof *buf)) ==
            NULL ||
        kde_alloc(&t, &l, g.n_good, g.D, &arena) != PZ_OK ||
        kde_alloc(&t, &b, g.n - g.n_good, g.D, &arena) != PZ_OK) {
        goto done;
    }
    if (pa->no_screen) {
        l.scr = b.scr = NULL;
    }
    c.lo = c.x + D;
    c.hi = c.lo + D;
    c.lwidth = c.hi + D;
    c.mid = c.lwidth + D;
    kde_fit(&t, &l, g.dims, g.cen, g.w);
    kde_fit(&t, &b, g.dims, g.cen + g.n_good * g.D,
            g.w ? g.w + g.n_good : NULL);
    for (size_t j = 0; j < pa->n_points; j++) {
        for (size_t d = 0; d < g.D; d++) {
            v[d] = pa->points[j * g.D + d] - g.dims[d].offset;
        }
        cand_set(g.dims, g.D, v, &c);
        log_l[j] = kde_logpdf(&l, g.dims, &c, buf, order, mass);
        log_g[j] = kde_logpdf(&b, g.dims, &c, buf, order, mass);
    }
    for (size_t j = 0; j < pa->n_draws; j++) {
        kde_sample(&t, &l, g.dims, &rng, draws + j * g.D);
        for (size_t d = 0; d < g.D; d++) {
            draws[j * g.D + d] += g.dims[d].offset;
        }
    }
    rc = PZ_OK;
done:
    pz__arena_fini(&arena);
    return rc == PZ_OK ? PZ_OK
                       : pz__fail(err, rc, "out of memory in the mtpe probe");
}
