/*
 * mixture.c -- adaptive Parzen estimators: the densities TPE compares.
 *
 * Bergstra, Bardenet, Bengio & Kegl, "Algorithms for Hyper-Parameter
 * Optimization", NeurIPS 2011, section 4 (the Tree-structured Parzen
 * Estimator), as hyperopt 0.2.7 implements it: adaptive_parzen_normal,
 * GMM1/LGMM1 sampling and log-densities, categorical posteriors
 * (hyperopt-spec.md section 6.3, steps 4 and 5, worked vectors included).
 *
 * A mixture has one component per observation plus a prior component.
 * TPE asks for the log-density of ~24 candidates under a mixture of up
 * to N components (N = history size, up to 10^4 and more), so the
 * density is where the time goes. Exact devices keep it cheap:
 * - components with the same mean and sigma are merged (their weights
 *   add up); quantized histories have many;
 * - components are split into "narrow" ones (sorted by mean) and a few
 *   "wide" ones. A point sums every wide component but only the narrow
 *   ones within 'reach' = 7.5 of their sigmas; each left-out term is
 *   below exp(-7.5^2 / 2) = 6e-13 of its weight, and 'tail' bounds their sum.
 *   When the kept sum is not 1e9 times that bound (or underflows), the
 *   point is recomputed over every component, in linear scale or,
 *   failing that, with a log-sum-exp. Either way the result matches the
 *   full log-sum-exp to ~1e-9 relative;
 * - in dense histories (most bandwidths clipped to the smallest sigma,
 *   windows holding most components) those components are summed by a
 *   fast Gauss transform with a checked error bound (section below);
 * - TPE only needs the best of log l - log g over its candidates:
 *   pz__mixture_argmax_ratio bounds g from below cheaply and skips the
 *   candidates that cannot win. The bound takes the narrow components by
 *   bins (or FGT boxes), one Jensen term each (within a few percent of
 *   the bin's sum), and the wide ones by sigma class, each class windowed
 *   by its largest sigma; terms beyond 3 sigmas are left out. On TPE's
 *   own histories ~2 of 23 candidates then need an exact density.
 * The sums use an inlined, branch-free exp() (table + polynomial, 2 ulp).
 *
 * Deliberate deviations from hyperopt (none changes a decision):
 * - Interval masses use erfc in the tails instead of differences of
 *   0.5 * (1 + erf), so far-away quantized candidates get a finite
 *   log-probability rather than log(0).
 * - A bounded draw that keeps being rejected (1000 times: the mixture
 *   has almost no mass inside the bounds, e.g. every observation was
 *   given by the user outside them) is drawn exactly by inverting the
 *   truncated normal CDF instead of looping for ever.
 * And one that can change a decision: equal observations are ordered by
 * tid position (a stable sort), where numpy's argsort is not stable; the
 * order decides which duplicate gets a run-end bandwidth and which
 * forgetting weight, so quantized near-ties may go the other way
 * (docs/compatibility.md).
 * Nothing here allocates; the arrays come from the caller's arena.
 */
#include "pz_internal.h"

#include <math.h>
#include <string.h>

#define REACH_SIGMAS 7.5 /* narrow window half-width, in sigmas */
#define CORE_SIGMAS 3.0  /* quantized lower bound: window, in sigmas */
#define BOUND_SIGMAS 3.0 /* continuous lower bound: window, in sigmas */
#define REL_TOL 1e-9     /* accepted relative error of a windowed sum */
#define TINY_SUM 1e-280  /* a linear sum this small may have underflowed */
#define MAX_REJECTIONS 1000
#define N_BUCKETS 16     /* sigma classes, powers of 2 above the smallest */
#define WIDE_CLASS_MIN 8 /* fewer wide components: bound them all */

static const double LOG_SQRT_2PI = 0.91893853320467274178;
static const double SQRT1_2 = 0.70710678118654752440;
static const double SQRT2 = 1.41421356237309504880;

/* ------------------------------------------------------------ arrays */

int pz__mixture_alloc(pz__mixture *m, size_t cap, pz__arena *arena)
{
    memset(m, 0, sizeof *m);
    size_t nd = cap ? cap : 1;
    double *d = pz__arena_alloc(arena, 8 * nd * sizeof *d);
    /* items: two sort buffers, later six doubles per bin (build_bins) */
    pz__mixture_item *it = pz__arena_alloc(arena, 3 * nd * sizeof *it);
    uint32_t *cnt = NULL;
    if (cap >= 64) { /* radix sorts need counters: 6 x 2^11 or 8 x 2^8 */
        cnt = pz__arena_alloc(arena, 6 * 2048 * sizeof *cnt);
    }
    if (d == NULL || it == NULL || (cap >= 64 && cnt == NULL)) {
        return PZ_ENOMEM;
    }
    m->cap = cap;
    m->w = d;
    m->mu = d + nd;
    m->sigma = d + 2 * nd;
    m->scratch = d + 3 * nd;
    m->d_mu = d + 4 * nd;
    m->d_inv = d + 5 * nd;
    m->d_r = d + 6 * nd;
    m->d_sig = d + 7 * nd;
    m->items = it;
    m->items2 = it + nd;
    m->radix_cnt = cnt;
    m->low = -(double)INFINITY;
    m->high = (double)INFINITY;
    m->normalise = true;
    return PZ_OK;
}

static double dmax(double a, double b)
{
    return a > b ? a : b;
}

static double dmin(double a, double b)
{
    return a < b ? a : b;
}

/* Index of the first of a[0..n) that is >= v ('upper': > v). Written
 * without a data-dependent branch, which mispredicts half the time. */
static size_t bound(const double *a, size_t n, double v, bool upper)
{
    if (n == 0) {
        return 0;
    }
    const double *base = a;
    while (n > 1) {
        size_t half = n / 2;
        double x = base[half - 1];
        base = (upper ? x <= v : x < v) ? base + half : base;
        n -= half;
    }
    return (size_t)(base - a) + (upper ? *base <= v : *base < v);
}

/* ----------------------------------------------------------- weights */

/* Sum with four accumulators: no long chain of dependent additions. */
static double sum_of(const double *a, size_t n)
{
    double s[4] = {0.0, 0.0, 0.0, 0.0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s[0] += a[i];
        s[1] += a[i + 1];
        s[2] += a[i + 2];
        s[3] += a[i + 3];
    }
    for (; i < n; i++) {
        s[0] += a[i];
    }
    return (s[0] + s[1]) + (s[2] + s[3]);
}

/* numpy.linspace(1/n, 1, n - lf) for the oldest n - lf, then ones. */
void pz__mixture_lf_weights(double *w, size_t n, size_t lf)
{
    size_t ramp = n > lf ? n - lf : 0;
    double start = n ? 1.0 / (double)n : 0.0;
    double step = ramp > 1 ? (1.0 - start) / (double)(ramp - 1) : 0.0;
    for (size_t i = 0; i < ramp; i++) {
        w[i] = (double)i * step + start;
    }
    if (ramp > 1) {
        w[ramp - 1] = 1.0;
    }
    for (size_t i = ramp; i < n; i++) {
        w[i] = 1.0;
    }
}

/* ----------------------------------------------------------- sorting */

/* Doubles as unsigned keys in the same order (no NaN expected); -0.0
 * is +0.0, so equal values stay in tid order as numpy's stable sort
 * would keep them. */
static uint64_t key_of(double v)
{
    uint64_t u;
    v = v == 0.0 ? 0.0 : v;
    memcpy(&u, &v, sizeof u);
    return (u >> 63) ? ~u : u | (UINT64_C(1) << 63);
}

uint64_t pz__mixture_key(double v)
{
    return key_of(v);
}

static double value_of(uint64_t k)
{
    uint64_t u = (k >> 63) ? k & ~(UINT64_C(1) << 63) : ~k;
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

bool pz__mixture_items_isort(pz__mixture_item *a, size_t n, size_t budget)
{
    size_t moves = 0;
    for (size_t i = 1; i < n; i++) {
        pz__mixture_item x = a[i];
        size_t j = i;
        for (; j > 0 && pz__mixture_item_less(&x, &a[j - 1]); j--) {
            a[j] = a[j - 1];
        }
        a[j] = x;
        moves += i - j;
        if (moves > budget) {
            return false;
        }
    }
    return true;
}

/* Stable LSD radix sort of m->items[0..n) by the key bits from 'low_bit'
 * up, 'bits' bits a pass (8 or 11); passes where every key has the same
 * digit are skipped. */
static void radix_sort(pz__mixture *m, size_t n, unsigned bits,
                       unsigned low_bit)
{
    size_t n_buckets = (size_t)1 << bits;
    size_t passes = (64 - low_bit + bits - 1) / bits;
    uint64_t mask = n_buckets - 1;
    uint32_t *cnt = m->radix_cnt; /* passes x n_buckets counters */
    memset(cnt, 0, passes * n_buckets * sizeof *cnt);
    for (size_t i = 0; i < n; i++) {
        uint64_t k = m->items[i].key >> low_bit;
        for (size_t d = 0; d < passes; d++) {
            cnt[d * n_buckets + ((k >> (bits * d)) & mask)]++;
        }
    }
    pz__mixture_item *src = m->items, *dst = m->items2;
    for (size_t d = 0; d < passes; d++) {
        uint32_t *c = cnt + d * n_buckets;
        unsigned shift = low_bit + bits * (unsigned)d;
        if (c[(src[0].key >> shift) & mask] == n) {
            continue;
        }
        uint32_t off = 0;
        for (size_t b = 0; b < n_buckets; b++) {
            uint32_t t = c[b];
            c[b] = off;
            off += t;
        }
        for (size_t i = 0; i < n; i++) {
            dst[c[(src[i].key >> shift) & mask]++] = src[i];
        }
        pz__mixture_item *t = src;
        src = dst;
        dst = t;
    }
    if (src != m->items) {
        memcpy(m->items, src, n * sizeof *src);
    }
}

static void load_items(pz__mixture *m, const double *obs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        m->items[i].key = key_of(obs[i]);
        m->items[i].pos = i;
    }
}

/* Sort 'obs' into m->items by (value, tid position). Larger arrays are
 * radix-sorted on their top 32 or 33 bits (3 or 4 passes), then finished
 * by an insertion sort that only reorders keys sharing those bits;
 * should that take long (many nearly equal values), a full 64-bit radix
 * sort runs instead. */
static void sort_obs(pz__mixture *m, const double *obs, size_t n)
{
    load_items(m, obs, n);
    if (n < 64) {
        pz__mixture_items_isort(m->items, n, SIZE_MAX);
        return;
    }
    unsigned bits = n < 512 ? 8 : 11;
    radix_sort(m, n, bits, bits == 8 ? 32 : 31);
    if (!pz__mixture_items_isort(m->items, n, 4 * n)) {
        load_items(m, obs, n);
        radix_sort(m, n, bits, 0);
    }
}

/* --------------------------------------------------------------- fit */

/* Sorted observations with the prior inserted at 'prior_pos' into mu,
 * weights (normalised) into w; returns prior_pos. The forgetting
 * weights by tid position go through m->scratch. */
static size_t place_components(pz__mixture *m, size_t n,
                               const pz__parzen_prior *pr)
{
    const pz__mixture_item *it = m->items;
    size_t pp = 0;
    if (n == 1) {
        pp = pr->mu < value_of(it[0].key) ? 0 : 1;
    } else {
        size_t lo = 0, hi = n; /* left insertion point (searchsorted) */
        uint64_t kp = key_of(pr->mu);
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (it[mid].key < kp) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        pp = lo;
    }
    double *lf_w = m->scratch;
    pz__mixture_lf_weights(lf_w, n, pr->lf);
    double inv = 1.0 / (sum_of(lf_w, n) + pr->weight);
    for (size_t i = 0; i < pp; i++) {
        m->mu[i] = value_of(it[i].key);
        m->w[i] = lf_w[it[i].pos] * inv;
    }
    m->mu[pp] = pr->mu;
    m->w[pp] = pr->weight * inv;
    for (size_t i = pp; i < n; i++) {
        m->mu[i + 1] = value_of(it[i].key);
        m->w[i + 1] = lf_w[it[i].pos] * inv;
    }
    return pp;
}

/* Neighbour-gap bandwidths, clipped, the prior's forced to its own. */
static void bandwidths(pz__mixture *m, size_t n, size_t pp,
                       const pz__parzen_prior *pr)
{
    double *mu = m->mu, *s = m->sigma;
    double lo = pr->sigma / dmin(100.0, (double)n + 2.0), hi = pr->sigma;
    if (n == 1) {
        s[0] = s[1] = dmin(dmax(0.5 * pr->sigma, lo), hi);
    } else { /* n observations + prior: indices 0..n */
        s[0] = dmin(dmax(mu[1] - mu[0], lo), hi);
        s[n] = dmin(dmax(mu[n] - mu[n - 1], lo), hi);
        double left = mu[1] - mu[0];
        for (size_t i = 1; i < n; i++) {
            double right = mu[i + 1] - mu[i];
            s[i] = dmin(dmax(dmax(left, right), lo), hi);
            left = right;
        }
    }
    s[pp] = pr->sigma;
}

void pz__mixture_fit(pz__mixture *m, const double *obs, size_t n_obs,
                     const pz__parzen_prior *prior)
{
    pz_assert(n_obs + 1 <= m->cap);
    if (n_obs > 0) {
        sort_obs(m, obs, n_obs);
    }
    pz__mixture_fit_sorted(m, n_obs, prior);
}

pz__mixture_item *pz__mixture_items(pz__mixture *m)
{
    return m->items;
}

void pz__mixture_fit_sorted(pz__mixture *m, size_t n_obs,
                            const pz__parzen_prior *prior)
{
    pz_assert(n_obs + 1 <= m->cap);
    if (n_obs == 0) {
        m->n = 1;
        m->w[0] = 1.0;
        m->mu[0] = prior->mu;
        m->sigma[0] = prior->sigma;
        pz__mixture_prepare(m);
        return;
    }
    size_t pp = place_components(m, n_obs, prior);
    bandwidths(m, n_obs, pp, prior);
    m->n = n_obs + 1;
    pz__mixture_prepare(m);
}

/* -------------------------------------------------- normal functions */

/* Phi(zu) - Phi(zl) for zl <= zu, accurate in both tails. */
static double gauss_mass(double zl, double zu)
{
    if (zl >= 0.0) {
        return 0.5 * (erfc(zl * SQRT1_2) - erfc(zu * SQRT1_2));
    }
    if (zu <= 0.0) {
        return 0.5 * (erfc(-zu * SQRT1_2) - erfc(-zl * SQRT1_2));
    }
    return 0.5 * (erf(zu * SQRT1_2) - erf(zl * SQRT1_2));
}

/* log Phi(z), also far in the lower tail where Phi underflows. */
static double log_phi(double z)
{
    if (z > -35.0) {
        return log(0.5 * erfc(-z * SQRT1_2));
    }
    double r = 1.0 / (z * z); /* asymptotic series of Mills' ratio */
    double s = 1.0 - r * (1.0 - 3.0 * r * (1.0 - 5.0 * r * (1.0 - 7.0 * r)));
    return -0.5 * z * z - log(-z) - LOG_SQRT_2PI + log(s);
}

/* log(Phi(zu) - Phi(zl)) for zl <= zu; -inf for an empty interval. */
static double log_gauss_mass(double zl, double zu)
{
    if (!(zl < zu)) {
        return -(double)INFINITY;
    }
    if (zl >= 0.0) {
        double t = zl;
        zl = -zu;
        zu = -t;
    }
    if (zu <= 0.0) {
        double a = log_phi(zu), b = log_phi(zl);
        return a + log1p(-exp(b - a));
    }
    return log(gauss_mass(zl, zu));
}

/* Acklam's rational approximation of the normal quantile, polished by
 * one Halley step; p in (0, 1). */
static double ndtri(double p)
{
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                               -2.759285104469687e+02, 1.383577518672690e+02,
                               -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                               -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                               -2.400758277161838e+00, -2.549732539343734e+00,
                               4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                               2.445134137142996e+00, 3.754408661907416e+00};
    if (!(p > 0.0)) {
        return -(double)INFINITY;
    }
    if (!(p < 1.0)) {
        return (double)INFINITY;
    }
    double x;
    if (p < 0.02425 || p > 0.97575) {
        double t = sqrt(-2.0 * log(p < 0.5 ? p : 1.0 - p));
        x = (((((c[0] * t + c[1]) * t + c[2]) * t + c[3]) * t + c[4]) * t +
             c[5]) /
            ((((d[0] * t + d[1]) * t + d[2]) * t + d[3]) * t + 1.0);
        x = p < 0.5 ? x : -x;
    } else {
        double t = p - 0.5, r = t * t;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r +
             a[5]) *
            t /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r +
             1.0);
    }
    double e = 0.5 * erfc(-x * SQRT1_2) - p;
    double u = e * sqrt(2.0 * PZ_PI) * exp(0.5 * x * x);
    return x - u / (1.0 + 0.5 * x * u);
}

/* A standard normal deviate conditioned on [a, b), a < b, a <= 0 side
 * handled by symmetry: inverse CDF, or an exponential tail far out. */
static double truncated_std_normal(double a, double b, pz__rng *rng)
{
    if (a >= 0.0) {
        return -truncated_std_normal(-b, -a, rng);
    }
    double u = pz__rng_uniform(rng);
    double pa = 0.5 * erfc(-a * SQRT1_2);
    double pb = 0.5 * erfc(-b * SQRT1_2);
    if (pb > 1e-300 && pb - pa > 0.0) {
        double z = ndtri(pa + u * (pb - pa));
        return fmin(fmax(z, a), nextafter(b, a));
    }
    /* Both ends far in the lower tail: phi(z) ~ phi(b) exp(|b|(z - b)). */
    double lam = -b;
    double e = -log1p(-u * -expm1(-lam * (b - a))) / lam;
    return fmax(b - e, a);
}

/* Exported for the multivariate TPE (sampler_mtpe.c), which needs the
 * same accurate interval masses and truncated draws per dimension. */
double pz__normal_log_mass(double zl, double zu)
{
    return log_gauss_mass(zl, zu);
}

double pz__normal_truncated(double a, double b, pz__rng *rng)
{
    return truncated_std_normal(a, b, rng);
}

/* ----------------------------------------------------------- prepare */

/* Log of the mass of the mixture inside [low, high). */
static double log_accept(const pz__mixture *m)
{
    double p = 0.0;
    for (size_t i = 0; i < m->n; i++) {
        double inv = 1.0 / fmax(m->sigma[i], PZ__MIXTURE_EPS);
        p += m->w[i] *
             gauss_mass((m->low - m->mu[i]) * inv, (m->high - m->mu[i]) * inv);
    }
    return log(p);
}

static bool is_bounded(const pz__mixture *m)
{
    return isfinite(m->low) || isfinite(m->high);
}

/* Merge runs of identical (mu, sigma) into d_* and turn their summed
 * weights into coefficients relative to the largest: w / sigma for a
 * density (the run's sum times 1 / sigma, once the run is closed),
 * w for interval masses; log_scale is what they are relative to.
 * Returns whether the means are ascending. One pass; the open run lives
 * in registers. */
static bool merge_components(pz__mixture *m, double log_norm)
{
    bool sorted = true, dens = m->q == 0.0;
    size_t nd = 0;
    double mu = 0.0, s = 0.0, inv = 0.0, r = 0.0, cmax = 0.0;
    m->d_smin = (double)INFINITY;
    m->n_d = 0;
    m->log_scale = -(double)INFINITY;
    if (m->n == 0) {
        return true; /* no component: a density of 0 */
    }
    for (size_t i = 0; i < m->n; i++) {
        double mi = m->mu[i], si = dmax(m->sigma[i], PZ__MIXTURE_EPS);
        if (nd > 0 && mi == mu && si == s) {
            r += m->w[i];
            continue;
        }
        if (nd > 0) { /* close the previous run */
            m->d_r[nd - 1] = dens ? r * inv : r;
            cmax = dmax(cmax, m->d_r[nd - 1]);
        }
        sorted = sorted && (nd == 0 || mi >= mu);
        if (si != s) { /* most sigmas repeat: spare the division */
            inv = 1.0 / si;
            m->d_smin = dmin(m->d_smin, si);
        }
        mu = mi;
        s = si;
        r = m->w[i];
        m->d_mu[nd] = mu;
        m->d_sig[nd] = s;
        m->d_inv[nd] = inv;
        nd++;
    }
    m->d_r[nd - 1] = dens ? r * inv : r;
    cmax = dmax(cmax, m->d_r[nd - 1]);
    m->n_d = nd;
    double scale = 1.0 / cmax;
    for (size_t i = 0; i < nd; i++) {
        m->d_r[i] *= scale;
    }
    m->log_scale = log(cmax) - log_norm - (dens ? LOG_SQRT_2PI : 0.0);
    return sorted;
}

/* Sigma class of a component with sigma / smallest sigma = 'ratio' >= 1:
 * the smallest b with ratio <= 2^b, capped at N_BUCKETS - 1. */
static size_t sigma_bucket(double ratio)
{
    uint64_t u;
    memcpy(&u, &ratio, sizeof u);
    int64_t e = (int64_t)((u >> 52) & 0x7ff) - 1023; /* 2^e <= ratio */
    int64_t b = e + ((u & ((UINT64_C(1) << 52) - 1)) != 0);
    return b <= 0 ? 0 : (b >= N_BUCKETS ? N_BUCKETS - 1 : (size_t)b);
}

/* The narrow/wide split minimising the expected work of a candidate:
 * wide components are summed for every candidate, narrow ones only
 * within reach (estimated as spread evenly over the span of means).
 * Returns the sigma threshold, +inf for "all narrow". */
static double choose_threshold(pz__mixture *m)
{
    size_t cnt[N_BUCKETS] = {0}, c4[4][N_BUCKETS] = {{0}};
    double smin = m->d_smin;
    double inv_smin = 1.0 / smin;
    for (size_t i = 0; i < m->n_d; i++) { /* 4 tables: no store chains */
        double sg = m->d_sig[i];          /* most are clipped to the smallest */
        c4[i & 3][sg == smin ? 0 : sigma_bucket(sg * inv_smin)]++;
    }
    for (size_t b = 0; b < N_BUCKETS; b++) {
        cnt[b] = c4[0][b] + c4[1][b] + c4[2][b] + c4[3][b];
    }
    m->n_smin = cnt[0]; /* narrow whatever the threshold: the FGT's */
    double span = m->d_mu[m->n_d - 1] - m->d_mu[0];
    double best_cost = (double)INFINITY, best = (double)INFINITY;
    size_t narrow = 0;
    for (size_t b = 0; b < N_BUCKETS; b++) {
        narrow += cnt[b];
        double thr = ldexp(smin, (int)b);
        double frac = span > 0 ? dmin(1.0, 2 * REACH_SIGMAS * thr / span) : 1;
        double cost = (double)(m->n_d - narrow) + (double)narrow * frac;
        if (cost < best_cost) {
            best_cost = cost;
            best = b + 1 == N_BUCKETS ? (double)INFINITY : thr;
        }
    }
    return best;
}

static void move_component(pz__mixture *m, size_t to, const double *from)
{
    m->d_mu[to] = from[0];
    m->d_sig[to] = from[1];
    m->d_inv[to] = from[2];
    m->d_r[to] = from[3];
}

/* Stable partition of components [0, n): those with sigma <= limit
 * first, both parts in their order (ascending mean); returns how many
 * are first. 'tmp' holds 4 doubles per component moved behind. */
static size_t partition_by_sigma(pz__mixture *m, size_t n, double limit,
                                 double *tmp)
{
    size_t first = 0, behind = 0;
    for (size_t i = 0; i < n; i++) {
        if (m->d_sig[i] <= limit && first == i) {
            first++; /* none moved behind yet: already in place */
            continue;
        }
        double c[4] = {m->d_mu[i], m->d_sig[i], m->d_inv[i], m->d_r[i]};
        if (c[1] <= limit) {
            move_component(m, first++, c);
        } else {
            memcpy(tmp + 4 * behind++, c, sizeof c);
        }
    }
    for (size_t i = 0; i < behind; i++) {
        move_component(m, first + i, tmp + 4 * i);
    }
    return first;
}

/* Order the wide components by sigma class (sigma_bucket), each class
 * by mean, so a lower bound can window each class by its largest sigma;
 * 'tmp' holds 4 doubles per wide component. Few wide components: one
 * class, summed whole. */
static void wide_classes(pz__mixture *m, double *tmp)
{
    size_t nw = m->n_d - m->n_narrow, start[N_BUCKETS + 1] = {0};
    m->n_wcls = 0;
    if (nw < WIDE_CLASS_MIN) {
        return;
    }
    double inv_smin = 1.0 / m->d_smin;
    for (size_t i = m->n_narrow; i < m->n_d; i++) {
        start[sigma_bucket(m->d_sig[i] * inv_smin) + 1]++;
    }
    for (size_t b = 0; b < N_BUCKETS; b++) {
        start[b + 1] += start[b];
    }
    size_t fill[N_BUCKETS];
    memcpy(fill, start, sizeof fill);
    for (size_t i = m->n_narrow; i < m->n_d; i++) {
        size_t k = fill[sigma_bucket(m->d_sig[i] * inv_smin)]++;
        double c[4] = {m->d_mu[i], m->d_sig[i], m->d_inv[i], m->d_r[i]};
        memcpy(tmp + 4 * k, c, sizeof c);
    }
    for (size_t k = 0; k < nw; k++) {
        move_component(m, m->n_narrow + k, tmp + 4 * k);
    }
    for (size_t b = 0; b < N_BUCKETS; b++) {
        if (start[b + 1] > start[b]) {
            size_t c = m->n_wcls++;
            m->wcls_end[c] = m->n_narrow + start[b + 1];
            m->wcls_reach[c] = BOUND_SIGMAS * ldexp(m->d_smin, (int)b + 1);
        }
    }
}

/* Split into narrow and wide, and bound what a window leaves out. The
 * sort items (3 x 16 bytes per component) serve as scratch. */
static void split_components(pz__mixture *m, bool sorted)
{
    m->n_narrow = m->n_wcls = 0;
    m->safe_reach = false;
    m->reach = m->core = 0.0;
    m->tail = 0.0;
    if (!sorted || m->n_d < 8) {
        return; /* all wide: small or unsorted */
    }
    double thr = choose_threshold(m);
    if (isinf(thr)) {
        m->n_narrow = m->n_d;
        thr = 0.0;
        for (size_t i = 0; i < m->n_d; i++) {
            thr = dmax(thr, m->d_sig[i]);
        }
    } else {
        m->n_narrow =
            partition_by_sigma(m, m->n_d, thr, (double *)(void *)m->items);
        wide_classes(m, (double *)(void *)m->items);
    }
    m->reach = REACH_SIGMAS * thr;
    m->core = CORE_SIGMAS * thr;
    m->safe_reach = m->reach <= 37.0 * m->d_smin; /* 37^2 / 2 < 708 */
    m->tail =
        sum_of(m->d_r, m->n_narrow) * exp(-0.5 * REACH_SIGMAS * REACH_SIGMAS);
}

/* Close the bin being summed: store it as bin 'b'. */
static void close_bin(pz__mixture *m, size_t b, double lo, double hi,
                      const double sum[3], double inv_smin)
{
    double is2 = inv_smin * inv_smin;
    double k = sum[0] > 0.0 ? is2 / sum[0] : 0.0;
    m->bin_lo[b] = lo;
    m->bin_hi[b] = hi;
    m->bin_r[b] = sum[0];
    m->bin_a[b] = 0.5 * is2;
    m->bin_b[b] = sum[1] * k;
    m->bin_c[b] = 0.5 * sum[2] * k;
}

/* Group the narrow components into bins no wider than a quarter of their
 * smallest sigma s: [bin_lo, bin_hi] spans their means and bin_r sums
 * their coefficients r. By Jensen's inequality a bin adds at least
 * r exp(-mean of z^2 / 2) to the density at y (z taken with s, which
 * only lowers each term), and with u = mu - bin_lo and t = y - bin_lo
 * that r-weighted mean of z^2 / 2 is exactly the quadratic
 * bin_a t^2 - bin_b t + bin_c: bin_a = 1 / (2 s^2), bin_b = sum r u /
 * (r s^2), bin_c = sum r u^2 / (2 r s^2). Within a few percent of the
 * bin's true sum, it bounds a density from below in a few dozen terms.
 * The sort items (no longer needed) hold the bins. */
static void build_bins(pz__mixture *m)
{
    m->bin_lo = (double *)(void *)m->items;
    m->bin_hi = m->bin_lo + m->cap;
    m->bin_r = m->bin_hi + m->cap;
    m->bin_a = m->bin_r + m->cap;
    m->bin_b = m->bin_a + m->cap;
    m->bin_c = m->bin_b + m->cap;
    m->n_bins = 0;
    if (m->n_narrow == 0) {
        return;
    }
    /* the open bin lives in registers: sums of r, r u, r u^2, and its
     * smallest sigma with its inverse (d_inv: no division here) */
    size_t nb = 0;
    double lo = m->d_mu[0], hi = lo, smin = m->d_sig[0], imax = m->d_inv[0];
    double sum[3] = {0.0, 0.0, 0.0};
    for (size_t i = 0; i < m->n_narrow; i++) {
        double mu = m->d_mu[i], s = m->d_sig[i], r = m->d_r[i];
        if (mu > lo + 0.25 * dmin(s, smin)) {
            close_bin(m, nb++, lo, hi, sum, imax);
            lo = mu;
            smin = s;
            imax = m->d_inv[i];
            sum[0] = sum[1] = sum[2] = 0.0;
        }
        double u = mu - lo;
        hi = mu;
        smin = dmin(smin, s);
        imax = dmax(imax, m->d_inv[i]);
        sum[0] += r;
        sum[1] += r * u;
        sum[2] += r * u * u;
    }
    close_bin(m, nb++, lo, hi, sum, imax);
    m->n_bins = nb;
}

/* ------------------------------------------------ fast Gauss transform */

/*
 * Greengard & Strain, "The fast Gauss transform", SIAM J. Sci. Stat.
 * Comput. 12 (1991), with the truncation bound of Baxter & Roussos, "A
 * new error estimate of the fast Gauss transform", SIAM J. Sci. Comput.
 * 24 (2002). In a history TPE itself produced, most observations crowd
 * around the optimum: their bandwidths are all clipped to the smallest
 * sigma and one window holds most of them, so summing them one exp each
 * costs O(candidates x N). Components sharing the smallest sigma are
 * then grouped into boxes FGT_RHO * delta wide on each side (delta =
 * sqrt(2) sigma); a box is summed from FGT_TERMS moments and Hermite
 * functions: one exp and a short recurrence per box within reach. The
 * truncation error is bounded per point (|h_n(t)| <= K 2^(n/2) sqrt(n!)
 * exp(-t^2/2), Cramer's inequality, K < 1.09) and checked with the
 * window's tail, so the result keeps its 1e-9 relative accuracy.
 */
#define FGT_TERMS 16
#define FGT_RHO 0.25 /* box half-width, in units of delta */
#define FGT_ERR                                                                \
    3e-14             /* K (sqrt2 rho)^16 / sqrt(16!) / (1 - sqrt2 rho),       \
                         plus rounding */
#define FGT_MIN 256   /* fewer equal-sigma components: not worth it */
#define FGT_SHARE 0.3 /* worth it when a window holds this share */

static bool fgt_member(const pz__mixture *m, size_t i)
{
    return m->d_sig[i] == m->d_smin;
}

/* Is the FGT worth its set-up (FGT_TERMS operations per component)?
 * Yes when there are enough equal-sigma components, windows hold on
 * average FGT_SHARE of the narrow ones (estimated from 16 evenly spaced
 * components), and the boxes fit the scratch. Counts the boxes. */
static bool fgt_pays_off(pz__mixture *m)
{
    size_t n = m->n_narrow, n_eq = m->n_smin;
    double in_reach = 0.0;
    for (size_t k = 0; k < 16; k++) {
        double y = m->d_mu[k * (n - 1) / 15];
        in_reach += (double)(bound(m->d_mu, n, y + m->reach, true) -
                             bound(m->d_mu, n, y - m->reach, false));
    }
    if (n_eq < FGT_MIN || in_reach < 16 * FGT_SHARE * (double)n) {
        return false;
    }
    double width = 2 * FGT_RHO * SQRT2 * m->d_smin;
    double box_lo = -(double)INFINITY;
    size_t n_boxes = 0;
    for (size_t i = 0; i < n; i++) {
        if (fgt_member(m, i) && m->d_mu[i] > box_lo + width) {
            box_lo = m->d_mu[i];
            n_boxes++;
        }
    }
    m->n_boxes = n_boxes;
    return n_boxes * (FGT_TERMS + 2) <= 4 * m->cap;
}

/* 1 / (n + 1), n < FGT_TERMS: turns s^n / n! into s^(n+1) / (n+1)!. */
static const double fgt_inv[FGT_TERMS] = {
    1.0,      1.0 / 2,  1.0 / 3,  1.0 / 4,  1.0 / 5,  1.0 / 6,
    1.0 / 7,  1.0 / 8,  1.0 / 9,  1.0 / 10, 1.0 / 11, 1.0 / 12,
    1.0 / 13, 1.0 / 14, 1.0 / 15, 1.0 / 16};

/* Moments of box [i, j): A_n = sum r s^n / n!, s = (mu - c) / delta.
 * Four components at a time, so four chains of products overlap. */
static void fgt_moments(const pz__mixture *m, size_t i, size_t j, double c,
                        double *a)
{
    const double *mu = m->d_mu, *r = m->d_r, id = m->inv_delta;
    for (size_t n = 0; n < FGT_TERMS; n++) {
        a[n] = 0.0;
    }
    size_t k = i;
    for (; k + 4 <= j; k += 4) {
        double s0 = (mu[k] - c) * id, s1 = (mu[k + 1] - c) * id;
        double s2 = (mu[k + 2] - c) * id, s3 = (mu[k + 3] - c) * id;
        double p0 = r[k], p1 = r[k + 1], p2 = r[k + 2], p3 = r[k + 3];
        for (size_t n = 0; n < FGT_TERMS; n++) {
            a[n] += (p0 + p1) + (p2 + p3);
            p0 *= s0 * fgt_inv[n];
            p1 *= s1 * fgt_inv[n];
            p2 *= s2 * fgt_inv[n];
            p3 *= s3 * fgt_inv[n];
        }
    }
    for (; k < j; k++) {
        double sk = (mu[k] - c) * id, p = r[k];
        for (size_t n = 0; n < FGT_TERMS; n++) {
            a[n] += p;
            p *= sk * fgt_inv[n];
        }
    }
}

/* Boxes over the equal-sigma components; the sort items hold them. */
static void fgt_build(pz__mixture *m)
{
    double delta = SQRT2 * m->d_smin, width = 2 * FGT_RHO * delta;
    m->inv_delta = 1.0 / delta;
    m->box_c = (double *)(void *)m->items;
    m->box_r = m->box_c + m->n_boxes;
    m->box_a = m->box_r + m->n_boxes;
    size_t nb = 0;
    for (size_t i = 0, j; i < m->n_eq; i = j) {
        for (j = i; j < m->n_eq && m->d_mu[j] <= m->d_mu[i] + width; j++) {
        }
        double c = 0.5 * (m->d_mu[i] + m->d_mu[j - 1]);
        m->box_c[nb] = c;
        fgt_moments(m, i, j, c, m->box_a + FGT_TERMS * nb);
        m->box_r[nb] = m->box_a[FGT_TERMS * nb]; /* A_0 = sum of r */
        nb++;
    }
    pz_assert(nb == m->n_boxes);
}

/* Choose and build the FGT for a continuous mixture, or leave it off. */
static void setup_fgt(pz__mixture *m)
{
    m->n_eq = m->n_boxes = 0;
    if (m->q != 0.0 || m->n_narrow < FGT_MIN || !fgt_pays_off(m)) {
        m->n_boxes = 0;
        return;
    }
    /* the smallest sigma first: the FGT's components, then the others */
    m->n_eq = partition_by_sigma(m, m->n_narrow, m->d_smin,
                                 (double *)(void *)m->items);
    fgt_build(m);
}

void pz__mixture_prepare(pz__mixture *m)
{
    double log_norm = 0.0;
    if (m->normalise && is_bounded(m) && !(m->log_space && m->q == 0.0)) {
        log_norm = log_accept(m);
    }
    bool sorted = merge_components(m, log_norm);
    split_components(m, sorted);
    setup_fgt(m);
    m->n_bins = 0;
    if (m->q == 0.0 && m->n_narrow > 0 && m->n_boxes == 0) {
        build_bins(m);
    }
}

/* ---------------------------------------------------------- sampling */

/* A component by weight: a linear scan, fine for the few components of
 * the good-set mixture TPE samples from. */
static size_t pick_component(const pz__mixture *m, pz__rng *rng)
{
    return pz__rng_categorical(rng, m->w, m->n);
}

/* Exact draw from the truncated mixture: a component by its weight times
 * its mass inside the bounds, then an inverse-CDF truncated normal. */
static double sample_truncated_exact(const pz__mixture *m, pz__rng *rng)
{
    double total = 0.0;
    for (size_t i = 0; i < m->n; i++) {
        total += m->w[i] * gauss_mass((m->low - m->mu[i]) / m->sigma[i],
                                      (m->high - m->mu[i]) / m->sigma[i]);
    }
    double u = pz__rng_uniform(rng) * total, acc = 0.0;
    size_t k = m->n - 1;
    for (size_t i = 0; i < m->n; i++) {
        acc += m->w[i] * gauss_mass((m->low - m->mu[i]) / m->sigma[i],
                                    (m->high - m->mu[i]) / m->sigma[i]);
        if (u < acc) {
            k = i;
            break;
        }
    }
    double s = m->sigma[k];
    double z = truncated_std_normal((m->low - m->mu[k]) / s,
                                    (m->high - m->mu[k]) / s, rng);
    return fmin(fmax(m->mu[k] + s * z, m->low), nextafter(m->high, m->low));
}

static double draw_in_bounds(const pz__mixture *m, pz__rng *rng)
{
    for (int t = 0; t < MAX_REJECTIONS; t++) {
        size_t k = pick_component(m, rng);
        double y = m->mu[k] + m->sigma[k] * pz__rng_normal(rng);
        if (y >= m->low && y < m->high) {
            return y;
        }
    }
    return sample_truncated_exact(m, rng);
}

double pz__mixture_sample(const pz__mixture *m, pz__rng *rng)
{
    double y;
    if (is_bounded(m)) {
        y = draw_in_bounds(m, rng);
    } else {
        size_t k = pick_component(m, rng);
        y = m->mu[k] + m->sigma[k] * pz__rng_normal(rng);
    }
    double x = m->log_space ? exp(y) : y;
    return m->q > 0.0 ? pz__space_quantize(x, m->q) : x;
}

/* ----------------------------------------------------------- density */

/* 2^(j/64), j = 0..63, correctly rounded. */
static const double two_j64[64] = {
    0x1.0000000000000p+0, 0x1.02c9a3e778061p+0, 0x1.059b0d3158574p+0,
    0x1.0874518759bc8p+0, 0x1.0b5586cf9890fp+0, 0x1.0e3ec32d3d1a2p+0,
    0x1.11301d0125b51p+0, 0x1.1429aaea92de0p+0, 0x1.172b83c7d517bp+0,
    0x1.1a35beb6fcb75p+0, 0x1.1d4873168b9aap+0, 0x1.2063b88628cd6p+0,
    0x1.2387a6e756238p+0, 0x1.26b4565e27cddp+0, 0x1.29e9df51fdee1p+0,
    0x1.2d285a6e4030bp+0, 0x1.306fe0a31b715p+0, 0x1.33c08b26416ffp+0,
    0x1.371a7373aa9cbp+0, 0x1.3a7db34e59ff7p+0, 0x1.3dea64c123422p+0,
    0x1.4160a21f72e2ap+0, 0x1.44e086061892dp+0, 0x1.486a2b5c13cd0p+0,
    0x1.4bfdad5362a27p+0, 0x1.4f9b2769d2ca7p+0, 0x1.5342b569d4f82p+0,
    0x1.56f4736b527dap+0, 0x1.5ab07dd485429p+0, 0x1.5e76f15ad2148p+0,
    0x1.6247eb03a5585p+0, 0x1.6623882552225p+0, 0x1.6a09e667f3bcdp+0,
    0x1.6dfb23c651a2fp+0, 0x1.71f75e8ec5f74p+0, 0x1.75feb564267c9p+0,
    0x1.7a11473eb0187p+0, 0x1.7e2f336cf4e62p+0, 0x1.82589994cce13p+0,
    0x1.868d99b4492edp+0, 0x1.8ace5422aa0dbp+0, 0x1.8f1ae99157736p+0,
    0x1.93737b0cdc5e5p+0, 0x1.97d829fde4e50p+0, 0x1.9c49182a3f090p+0,
    0x1.a0c667b5de565p+0, 0x1.a5503b23e255dp+0, 0x1.a9e6b5579fdbfp+0,
    0x1.ae89f995ad3adp+0, 0x1.b33a2b84f15fbp+0, 0x1.b7f76f2fb5e47p+0,
    0x1.bcc1e904bc1d2p+0, 0x1.c199bdd85529cp+0, 0x1.c67f12e57d14bp+0,
    0x1.cb720dcef9069p+0, 0x1.d072d4a07897cp+0, 0x1.d5818dcfba487p+0,
    0x1.da9e603db3285p+0, 0x1.dfc97337b9b5fp+0, 0x1.e502ee78b3ff6p+0,
    0x1.ea4afa2a490dap+0, 0x1.efa1bee615a27p+0, 0x1.f50765b6e4540p+0,
    0x1.fa7c1819e90d8p+0};

/* exp(x) for -708 <= x <= 0, inlined for the density sums (a libm call
 * costs twice as much there, errno handling included): 2^(k/64) from a
 * table times a degree-5 polynomial on |r| <= ln 2 / 128, within 2 ulp.
 * Branch-free, so loops over it vectorize. */
static inline double exp_core(double x)
{
    const double shift = 0x1.8p52, inv_ln2_64 = 0x1.71547652b82fep+6;
    const double ln2_64_hi = 0x1.62e42fee00000p-7;
    const double ln2_64_lo = 0x1.a39ef35793c76p-39;
    double kd = x * inv_ln2_64 + shift; /* round(x * 64 / ln 2) + shift */
    uint64_t ki;
    memcpy(&ki, &kd, sizeof ki);
    kd -= shift;
    double r = (x - kd * ln2_64_hi) - kd * ln2_64_lo;
    double p = 1.0 + r +
               r * r * (0.5 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120))));
    uint64_t sb; /* 2^(k / 64) = 2^(j / 64) 2^e, k = 64 e + j */
    memcpy(&sb, &two_j64[ki & 63], sizeof sb);
    sb += ((ki & ~UINT64_C(63)) - UINT64_C(0x4338000000000000)) << 46;
    double scale;
    memcpy(&scale, &sb, sizeof scale);
    return scale * p;
}

/* exp(x) for x <= 0. Results below exp(-708) = 3.3e-308 come out as
 * that: they only matter when every term is that small, and log_sum then
 * redoes the sum in log space. */
static inline double exp_nonpos(double x)
{
    return exp_core(x < -708.0 ? -708.0 : x);
}

static inline double pdf_term(const pz__mixture *m, double y, size_t i)
{
    double z = (y - m->d_mu[i]) * m->d_inv[i];
    return m->d_r[i] * exp_nonpos(-0.5 * z * z);
}

/* Sum of r * exp(-z^2 / 2) over narrow components d_*[a, b) within reach
 * of y, when m->safe_reach guarantees exp's argument stays above -708:
 * no clamp, eight terms at a time, which compilers vectorize. */
static double sum_pdf_window(const pz__mixture *m, double y, size_t a, size_t b)
{
    double acc[8] = {0};
    size_t i = a;
    for (; i + 8 <= b; i += 8) {
        const double *mu = m->d_mu + i, *inv = m->d_inv + i, *r = m->d_r + i;
        for (size_t k = 0; k < 8; k++) {
            double z = (y - mu[k]) * inv[k];
            acc[k] += r[k] * exp_core(-0.5 * z * z);
        }
    }
    double s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) +
               ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; i < b; i++) {
        s += pdf_term(m, y, i);
    }
    return s;
}

/* Sum of r * exp(-z^2 / 2) over d_*[a, b), four sums at a time so the
 * additions do not wait on each other. */
static double sum_pdf(const pz__mixture *m, double y, size_t a, size_t b)
{
    double s[4] = {0.0, 0.0, 0.0, 0.0};
    size_t i = a;
    for (; i + 4 <= b; i += 4) {
        s[0] += pdf_term(m, y, i);
        s[1] += pdf_term(m, y, i + 1);
        s[2] += pdf_term(m, y, i + 2);
        s[3] += pdf_term(m, y, i + 3);
    }
    for (; i < b; i++) {
        s[0] += pdf_term(m, y, i);
    }
    return (s[0] + s[1]) + (s[2] + s[3]);
}

/* The density sum over narrow components [a, b) within reach of y. */
static double narrow_sum(const pz__mixture *m, double y, size_t a, size_t b)
{
    return m->safe_reach ? sum_pdf_window(m, y, a, b) : sum_pdf(m, y, a, b);
}

/* Sum of r * (Phi(zu) - Phi(zl)) over d_*[a, b). */
static double sum_mass(const pz__mixture *m, double yl, double yu, size_t a,
                       size_t b)
{
    double s = 0.0;
    for (size_t i = a; i < b; i++) {
        double zl = (yl - m->d_mu[i]) * m->d_inv[i];
        double zu = (yu - m->d_mu[i]) * m->d_inv[i];
        s += m->d_r[i] * gauss_mass(zl, zu);
    }
    return s;
}

/* The windowed sum for [yl, yu] (yl == yu: a density), or -1 when the
 * window's error bound is not small enough to trust it. */
/* The Hermite expansions of boxes b and b + 1 at y (b + 1 may be past
 * the end: then only b), added to *v; their error weights to *e. Two
 * boxes at a time so the two recurrences overlap. */
static void fgt_boxes(const pz__mixture *m, double y, size_t b, bool two,
                      double *v, double *e)
{
    size_t c = two ? b + 1 : b;
    double t0 = (y - m->box_c[b]) * m->inv_delta;
    double t1 = (y - m->box_c[c]) * m->inv_delta;
    double g0 = exp_nonpos(-t0 * t0), g1 = two ? exp_nonpos(-t1 * t1) : 0;
    const double *a0 = m->box_a + FGT_TERMS * b, *a1 = m->box_a + FGT_TERMS * c;
    double p0 = g0, q0 = 2 * t0 * g0, p1 = g1, q1 = 2 * t1 * g1;
    double v0 = a0[0] * p0 + a0[1] * q0, v1 = a1[0] * p1 + a1[1] * q1;
    for (size_t n = 2; n < FGT_TERMS; n++) {
        double k = 2 * (double)(n - 1);
        double r0 = 2 * t0 * q0 - k * p0, r1 = 2 * t1 * q1 - k * p1;
        v0 += a0[n] * r0;
        v1 += a1[n] * r1;
        p0 = q0;
        q0 = r0;
        p1 = q1;
        q1 = r1;
    }
    *v += v0 + v1;
    *e += m->box_r[b] * sqrt(g0) + (two ? m->box_r[c] * sqrt(g1) : 0.0);
}

/* Sum over the FGT boxes within reach of y; *err bounds its error. */
static double fgt_sum(const pz__mixture *m, double y, double *err)
{
    double hw = FGT_RHO * SQRT2 * m->d_smin, s = 0.0, e = 0.0;
    size_t a = bound(m->box_c, m->n_boxes, y - m->reach - hw, false);
    size_t b = bound(m->box_c, m->n_boxes, y + m->reach + hw, true);
    for (size_t i = a; i < b; i += 2) {
        fgt_boxes(m, y, i, i + 1 < b, &s, &e);
    }
    *err = FGT_ERR * e;
    return s;
}

/* The windowed density sum at y when the FGT is on, or -1. */
static double windowed_fgt(const pz__mixture *m, double y)
{
    double err, s = fgt_sum(m, y, &err);
    size_t n_other = m->n_narrow - m->n_eq;
    const double *mu = m->d_mu + m->n_eq;
    size_t a = m->n_eq + bound(mu, n_other, y - m->reach, false);
    size_t b = m->n_eq + bound(mu, n_other, y + m->reach, true);
    s += narrow_sum(m, y, a, b) + sum_pdf(m, y, m->n_narrow, m->n_d);
    return s * REL_TOL < m->tail + err ? -1.0 : s;
}

static double windowed_sum(const pz__mixture *m, double yl, double yu)
{
    bool cont = m->q == 0.0;
    if (m->n_boxes > 0) {
        return windowed_fgt(m, yl);
    }
    size_t a = bound(m->d_mu, m->n_narrow, yl - m->reach, false);
    size_t b = bound(m->d_mu, m->n_narrow, yu + m->reach, true);
    double s =
        cont ? narrow_sum(m, yl, a, b) + sum_pdf(m, yl, m->n_narrow, m->n_d)
             : sum_mass(m, yl, yu, a, b) +
                   sum_mass(m, yl, yu, m->n_narrow, m->n_d);
    bool cut = a > 0 || b < m->n_narrow;
    return (cut && s * REL_TOL < m->tail) ? -1.0 : s;
}

/* Log-sum-exp over every component: the path that cannot underflow. */
static double log_sum_all(const pz__mixture *m, double yl, double yu)
{
    double mx = -(double)INFINITY, s = 0.0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < m->n_d; i++) {
            double t = log(m->d_r[i]);
            if (m->q == 0.0) {
                double z = (yl - m->d_mu[i]) * m->d_inv[i];
                t -= 0.5 * z * z;
            } else {
                t += log_gauss_mass((yl - m->d_mu[i]) * m->d_inv[i],
                                    (yu - m->d_mu[i]) * m->d_inv[i]);
            }
            if (pass == 0) {
                mx = fmax(mx, t);
            } else if (t > -(double)INFINITY) {
                s += exp(t - mx);
            }
        }
        if (isinf(mx)) {
            return mx;
        }
    }
    return mx + log(s);
}

/* log of sum_i r_i * term_i(yl, yu), by the cheapest exact path. */
static double log_sum(const pz__mixture *m, double yl, double yu)
{
    double s = windowed_sum(m, yl, yu);
    if (s < 0.0) {
        s = m->q == 0.0 ? sum_pdf(m, yl, 0, m->n_d)
                        : sum_mass(m, yl, yu, 0, m->n_d);
    }
    return s > TINY_SUM ? log(s) : log_sum_all(m, yl, yu);
}

/* The interval [*yl, *yu] (mixture space) a quantized value covers. */
static void quantum_interval(const pz__mixture *m, double x, double *yl,
                             double *yu)
{
    double lb = x - 0.5 * m->q, ub = x + 0.5 * m->q;
    if (m->log_space) {
        if (is_bounded(m)) {
            lb = fmax(lb, exp(m->low));
            ub = fmin(ub, exp(m->high));
        }
        *yl = log(fmax(lb, PZ__MIXTURE_EPS));
        *yu = log(fmax(ub, PZ__MIXTURE_EPS));
    } else {
        *yl = fmax(lb, m->low);
        *yu = fmin(ub, m->high);
    }
}

/* Where x falls in mixture space: [*yl, *yu] (a point unless quantized)
 * and the log-Jacobian *jac an LGMM density subtracts. False when x is
 * outside the support; *out then holds its log-density. */
static bool locate(const pz__mixture *m, double x, double *yl, double *yu,
                   double *jac, double *out)
{
    *jac = 0.0;
    *out = -(double)INFINITY;
    if (isnan(x)) {
        *out = x;
        return false;
    }
    if (m->q > 0.0) {
        quantum_interval(m, x, yl, yu);
        return *yl < *yu;
    }
    if (m->log_space) {
        *yl = *yu = *jac = log(x); /* NaN or -inf for x <= 0 */
        return x > 0.0;
    }
    *yl = *yu = x;
    return x >= m->low && x <= m->high;
}

static double logpdf_one(const pz__mixture *m, double x)
{
    double yl, yu, jac, out;
    if (!locate(m, x, &yl, &yu, &jac, &out)) {
        return out;
    }
    return m->log_scale + log_sum(m, yl, yu) - jac;
}

/* Lower bound of the narrow terms at y from the bins within reach (see
 * build_bins). The clamp guards the quadratic against rounding below
 * zero. */
static double sum_bins(const pz__mixture *m, double y)
{
    double reach = m->reach * (BOUND_SIGMAS / REACH_SIGMAS);
    size_t a = bound(m->bin_hi, m->n_bins, y - reach, false);
    double s = 0.0;
    for (size_t i = a; i < m->n_bins && m->bin_lo[i] <= y + reach; i++) {
        double t = y - m->bin_lo[i];
        double q = (m->bin_a[i] * t - m->bin_b[i]) * t + m->bin_c[i];
        s += m->bin_r[i] * exp_nonpos(-dmax(q, 0.0));
    }
    return s;
}

/* Lower bound of the FGT boxes' terms at y, by Jensen's inequality as
 * in sum_bins: with t = (y - c) / delta and s = (mu - c) / delta, each
 * term is r exp(-(t - s)^2), and the moments A_0, A_1, A_2 = sum r,
 * sum r s, sum r s^2 / 2 give the r-weighted mean of (t - s)^2. */
static double fgt_bound(const pz__mixture *m, double y)
{
    double hw = FGT_RHO * SQRT2 * m->d_smin, s = 0.0;
    double reach = m->reach * (BOUND_SIGMAS / REACH_SIGMAS);
    size_t a = bound(m->box_c, m->n_boxes, y - reach - hw, false);
    size_t b = bound(m->box_c, m->n_boxes, y + reach + hw, true);
    for (size_t i = a; i < b; i++) {
        const double *am = m->box_a + FGT_TERMS * i;
        double t = (y - m->box_c[i]) * m->inv_delta;
        double sq = dmax(am[0] * t * t - 2.0 * t * am[1] + 2.0 * am[2], 0.0);
        s += am[0] > 0.0 ? am[0] * exp_nonpos(-sq / am[0]) : 0.0;
    }
    return s;
}

/* Lower bound of the wide terms at y: each class's components within
 * BOUND_SIGMAS of its largest sigma (the others add < exp(-4.5) each). */
static double wide_bound(const pz__mixture *m, double y)
{
    if (m->n_wcls == 0) {
        return sum_pdf(m, y, m->n_narrow, m->n_d);
    }
    double s = 0.0;
    for (size_t c = 0, from = m->n_narrow; c < m->n_wcls; c++) {
        size_t to = m->wcls_end[c], n = to - from, a = from, b = to;
        if (n > WIDE_CLASS_MIN) { /* smaller classes: summed whole */
            const double *mu = m->d_mu + from;
            a = from + bound(mu, n, y - m->wcls_reach[c], false);
            b = from + bound(mu, n, y + m->wcls_reach[c], true);
        }
        s += sum_pdf(m, y, a, b);
        from = to;
    }
    return s;
}

/* A lower bound of the log-density at x, exact outside the support: the
 * wide components plus, for the narrow ones, the bins (continuous) or
 * the components within 'core' (quantized). -inf when the partial sum
 * may have underflowed. */
static double logpdf_lower_bound(const pz__mixture *m, double x)
{
    double yl, yu, jac, out;
    if (!locate(m, x, &yl, &yu, &jac, &out)) {
        return out;
    }
    double s;
    if (m->n_boxes > 0) { /* the other narrow terms: at least 0 */
        s = fgt_bound(m, yl) + wide_bound(m, yl);
    } else if (m->q == 0.0) {
        s = sum_bins(m, yl) + wide_bound(m, yl);
    } else {
        size_t a = bound(m->d_mu, m->n_narrow, yl - m->core, false);
        size_t b = bound(m->d_mu, m->n_narrow, yu + m->core, true);
        s = sum_mass(m, yl, yu, a, b) +
            sum_mass(m, yl, yu, m->n_narrow, m->n_d);
    }
    return s > TINY_SUM ? m->log_scale + log(s) - jac : -(double)INFINITY;
}

void pz__mixture_logpdf(const pz__mixture *m, const double *x, size_t n,
                        double *out)
{
    for (size_t i = 0; i < n; i++) {
        size_t j = 0; /* quantized candidates repeat: reuse their result */
        while (j < i && !(x[j] == x[i])) {
            j++;
        }
        out[i] = j < i ? out[j] : logpdf_one(m, x[i]);
    }
}

/* Does score s of candidate i beat 'best' held by candidate 'bi'? NaN
 * and -inf never win; among equal scores the first candidate does. */
static bool beats(double s, size_t i, double best, size_t bi)
{
    return s > best || (s == best && s > -(double)INFINITY && i < bi);
}

/* Has x[i] appeared before in x? Its first occurrence decides. */
static bool repeated(const double *x, size_t i)
{
    for (size_t j = 0; j < i; j++) {
        if (x[j] == x[i]) {
            return true;
        }
    }
    return false;
}

size_t pz__mixture_argmax_ratio(const pz__mixture *l, const pz__mixture *g,
                                const double *x, size_t n, double *ll,
                                double *ub)
{
    pz__mixture_logpdf(l, x, n, ll);
    size_t first = 0; /* candidate with the largest upper bound */
    for (size_t i = 0; i < n; i++) {
        ub[i] =
            repeated(x, i) ? (double)NAN : ll[i] - logpdf_lower_bound(g, x[i]);
        if (beats(ub[i], i, ub[first], first) || isnan(ub[first])) {
            first = i;
        }
    }
    double best = ll[first] - logpdf_one(g, x[first]);
    size_t bi = isnan(best) ? n : first;
    best = isnan(best) ? -(double)INFINITY : best;
    for (size_t i = 0; i < n; i++) {
        double margin = 1e-9 * (1.0 + fabs(best)); /* rounding of bounds */
        if (i == first || isnan(ub[i]) || ub[i] < best - margin) {
            continue; /* repeated, done, or cannot win */
        }
        double sc = ll[i] - logpdf_one(g, x[i]);
        if (beats(sc, i, best, bi)) {
            best = sc;
            bi = i;
        }
    }
    return bi < n ? bi : 0;
}

/* ------------------------------------------------------- categorical */

static bool category_of(const pz__categorical *c, double v, size_t *i)
{
    double d = v - c->offset;
    if (!(d >= 0.0 && d < (double)c->k)) {
        return false;
    }
    *i = (size_t)d;
    return true;
}

void pz__mixture_categorical(pz__categorical *c, size_t k, double offset,
                             const double *p0, double prior_weight,
                             const double *obs, const double *obs_w, size_t n,
                             double *counts)
{
    *c = (pz__categorical){.k = k,
                           .offset = offset,
                           .p0 = p0,
                           .prior_weight = prior_weight,
                           .obs = obs,
                           .obs_w = obs_w,
                           .n = n,
                           .counts = counts};
    if (counts != NULL) {
        memset(counts, 0, k * sizeof *counts);
    }
    double total = (double)k * prior_weight;
    for (size_t j = 0; j < n; j++) {
        size_t i;
        if (category_of(c, obs[j], &i)) {
            total += obs_w[j];
            if (counts != NULL) {
                counts[i] += obs_w[j];
            }
        }
    }
    c->total = total;
}

double pz__mixture_categorical_logp(const pz__categorical *c, size_t i)
{
    double count = 0.0;
    if (c->counts != NULL) {
        count = c->counts[i];
    } else {
        for (size_t j = 0; j < c->n; j++) {
            size_t cat;
            if (category_of(c, c->obs[j], &cat) && cat == i) {
                count += c->obs_w[j];
            }
        }
    }
    double pseudo = c->prior_weight * (c->p0 ? (double)c->k * c->p0[i] : 1.0);
    return log((count + pseudo) / c->total);
}

/* The posterior is a mixture of the prior (mass k * prior_weight) and
 * the observations (mass their weights): draw from one of the two. */
size_t pz__mixture_categorical_sample(const pz__categorical *c, pz__rng *rng)
{
    double u = pz__rng_uniform(rng) * c->total;
    double prior_mass = (double)c->k * c->prior_weight;
    if (u >= prior_mass) {
        double acc = prior_mass;
        size_t last = c->k;
        for (size_t j = 0; j < c->n; j++) {
            size_t cat;
            if (category_of(c, c->obs[j], &cat)) {
                acc += c->obs_w[j];
                last = cat;
                if (u < acc) {
                    return cat;
                }
            }
        }
        if (last < c->k) {
            return last; /* rounding left u >= acc */
        }
    }
    if (c->p0 != NULL) {
        return pz__rng_categorical(rng, c->p0, c->k);
    }
    return (size_t)pz__rng_below(rng, c->k);
}
