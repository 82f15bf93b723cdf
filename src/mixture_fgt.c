/*
 * mixture_fgt.c -- the fast Gauss transform of a mixture's equal-sigma
 * components: whether it pays off, its boxes and moments (at prepare),
 * and the sums and lower bounds it gives at a point (mixture_density.c).
 */
#include "mixture_internal.h"

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
 * Four components at a time, so four chains of products overlap. The
 * four are arrays, not four named scalars: with the latter, GCC 12 -O3
 * vectorizes the unrolled a[n] += ... across n (a[n] and a[n + 1] in one
 * register), which first computes and spills all 64 products of a step:
 * 35% more instructions in this loop, 2% of bench_ask (issue #17). */
static void fgt_moments(const pz__mixture *m, size_t i, size_t j, double c,
                        double *a)
{
    const double *mu = m->d_mu, *r = m->d_r, id = m->inv_delta;
    for (size_t n = 0; n < FGT_TERMS; n++) {
        a[n] = 0.0;
    }
    size_t k = i;
    for (; k + 4 <= j; k += 4) {
        double s[4], p[4];
        for (size_t l = 0; l < 4; l++) {
            s[l] = (mu[k + l] - c) * id;
            p[l] = r[k + l];
        }
        for (size_t n = 0; n < FGT_TERMS; n++) {
            a[n] += (p[0] + p[1]) + (p[2] + p[3]);
            for (size_t l = 0; l < 4; l++) {
                p[l] *= s[l] * fgt_inv[n];
            }
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
void pz__mixture_fgt_setup(pz__mixture *m)
{
    m->n_eq = m->n_boxes = 0;
    if (m->q != 0.0 || m->n_narrow < FGT_MIN || !fgt_pays_off(m)) {
        m->n_boxes = 0;
        return;
    }
    /* the smallest sigma first: the FGT's components, then the others */
    m->n_eq = pz__mixture_partition_by_sigma(m, m->n_narrow, m->d_smin,
                                             (double *)(void *)m->items);
    fgt_build(m);
}

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
double pz__mixture_fgt_sum(const pz__mixture *m, double y, double *err)
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

/* Lower bound of the FGT boxes' terms at y, by Jensen's inequality as
 * in sum_bins: with t = (y - c) / delta and s = (mu - c) / delta, each
 * term is r exp(-(t - s)^2), and the moments A_0, A_1, A_2 = sum r,
 * sum r s, sum r s^2 / 2 give the r-weighted mean of (t - s)^2. */
double pz__mixture_fgt_bound(const pz__mixture *m, double y)
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
