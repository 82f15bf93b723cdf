

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
 * The other mixture files: see mixture_internal.h.
 */
#include "mixture_internal.h"

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
        pp = pr->mu < pz__mixture_key_value(it[0].key) ? 0 : 1;
    } else {
        size_t lo = 0, hi = n; /* left insertion point (searchsorted) */
        uint64_t kp = pz__mixture_key(pr->mu);
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
        m->mu[i] = pz__mixture_key_value(it[i].key);
        m->w[i] = lf_w[it[i].pos] * inv;
    }
    m->mu[pp] = pr->mu;
    m->w[pp] = pr->weight * inv;
    for (size_t i = pp; i < n; i++) {
        m->mu[i + 1] = pz__mixture_key_value(it[i].key);
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
        pz__mixture_sort_obs(m, obs, n_obs);
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

/* ----------------------------------------------------------- prepare */

/* Log of the mass of the mixture inside [low, high). */
static double log_accept(const pz__mixture *m)
{
    double p = 0.0;
    for (size_t i = 0; i < m->n; i++) {
        double inv = 1.0 / fmax(m->sigma[i], PZ__MIXTURE_EPS);
        p += m->w[i] * pz__normal_mass((m->low - m->mu[i]) * inv,
                                       (m->high - m->mu[i]) * inv);
    }
    return log(p);
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
        m->n_narrow = pz__mixture_partition_by_sigma(
            m, m->n_d, thr, (double *)(void *)m->items);
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

void pz__mixture_prepare(pz__mixture *m)
{
    double log_norm = 0.0;
    if (m->normalise && is_bounded(m) && !(m->log_space && m->q == 0.0)) {
        log_norm = log_accept(m);
    }
    bool sorted = merge_components(m, log_norm);
    split_components(m, sorted);
    pz__mixture_fgt_setup(m);
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
        total += m->w[i] * pz__normal_mass((m->low - m->mu[i]) / m->sigma[i],
                                           (m->high - m->mu[i]) / m->sigma[i]);
    }
    double u = pz__rng_uniform(rng) * total, acc = 0.0;
    size_t k = m->n - 1;
    for (size_t i = 0; i < m->n; i++) {
        acc += m->w[i] * pz__normal_mass((m->low - m->mu[i]) / m->sigma[i],
                                         (m->high - m->mu[i]) / m->sigma[i]);
        if (u < acc) {
            k = i;
            break;
        }
    }
    double s = m->sigma[k];
    double z = pz__normal_truncated((m->low - m->mu[k]) / s,
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
