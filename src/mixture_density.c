/*
 * mixture_density.c -- log-densities and interval masses of a prepared
 * mixture: every wide component and the narrow ones within reach, in
 * linear scale with a checked error bound, else over every component
 * (linear, then log-sum-exp); and pz__mixture_argmax_ratio, which skips
 * the candidates a cheap lower bound of g shows cannot win.
 */
#include "mixture_internal.h"

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
        s += m->d_r[i] * pz__normal_mass(zl, zu);
    }
    return s;
}

/* The windowed density sum at y when the FGT is on, or -1. */
static double windowed_fgt(const pz__mixture *m, double y)
{
    double err, s = pz__mixture_fgt_sum(m, y, &err);
    size_t n_other = m->n_narrow - m->n_eq;
    const double *mu = m->d_mu + m->n_eq;
    size_t a = m->n_eq + bound(mu, n_other, y - m->reach, false);
    size_t b = m->n_eq + bound(mu, n_other, y + m->reach, true);
    s += narrow_sum(m, y, a, b) + sum_pdf(m, y, m->n_narrow, m->n_d);
    return s * REL_TOL < m->tail + err ? -1.0 : s;
}

/* The windowed sum for [yl, yu] (yl == yu: a density), or -1 when the
 * window's error bound is not small enough to trust it. */
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
                t += pz__normal_log_mass((yl - m->d_mu[i]) * m->d_inv[i],
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
        s = pz__mixture_fgt_bound(m, yl) + wide_bound(m, yl);
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
