/*
 * rng.c -- explicit, seeded random streams (xoshiro256**).
 *
 * Each trial draws from its own stream, derived from (study seed, trial
 * id) by splitmix64, so a point depends only on the seed, the id and the
 * history it was asked with: not on threads, workers or timing. The same
 * seed gives the same numbers on every platform (pure 64-bit integer
 * arithmetic; doubles built from the top 53 bits).
 */
#include "pz_internal.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void pz__rng_seed(pz__rng *rng, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed;
    uint64_t h = splitmix64(&x);
    x = h ^ (stream * 0xd1342543de82ef95ULL + 0x632be59bd9b4e019ULL);
    for (int i = 0; i < 4; i++) {
        rng->s[i] = splitmix64(&x);
    }
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t pz__rng_next(pz__rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double pz__rng_uniform(pz__rng *rng)
{
    return (double)(pz__rng_next(rng) >> 11) * 0x1.0p-53;
}

uint64_t pz__rng_below(pz__rng *rng, uint64_t n)
{
    /* Rejection from the largest multiple of n: exact, no modulo bias. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t r;
    do {
        r = pz__rng_next(rng);
    } while (r >= limit);
    return r % n;
}

double pz__rng_normal(pz__rng *rng)
{
    /* Box-Muller; 1 - u is in (0, 1], so the log is finite. */
    double u1 = 1.0 - pz__rng_uniform(rng);
    double u2 = pz__rng_uniform(rng);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * PZ_PI * u2);
}

size_t pz__rng_categorical(pz__rng *rng, const double *w, size_t n)
{
    double total = 0.0;
    for (size_t i = 0; i < n; i++) {
        total += w[i];
    }
    double u = pz__rng_uniform(rng) * total;
    double acc = 0.0;
    size_t last = 0;
    for (size_t i = 0; i < n; i++) {
        if (w[i] > 0.0) {
            acc += w[i];
            last = i;
            if (u < acc) {
                return i;
            }
        }
    }
    return last; /* rounding left u >= acc: the last possible category */
}
