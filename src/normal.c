/*
 * normal.c -- standard normal distribution math: interval masses accurate
 * in both tails, their logarithms, the quantile, truncated draws. Used by
 * the mixtures (mixture*.c) and the multivariate TPE (sampler_mtpe.c).
 */
#include "pz_internal.h"

#include <math.h>

static const double LOG_SQRT_2PI = 0.91893853320467274178;
static const double SQRT1_2 = 0.70710678118654752440;

/* Phi(zu) - Phi(zl) for zl <= zu, accurate in both tails. */
double pz__normal_mass(double zl, double zu)
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
double pz__normal_log_mass(double zl, double zu)
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
    return log(pz__normal_mass(zl, zu));
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
double pz__normal_truncated(double a, double b, pz__rng *rng)
{
    if (a >= 0.0) {
        return -pz__normal_truncated(-b, -a, rng);
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
