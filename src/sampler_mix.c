/*
 * sampler_mix.c -- a weighted choice among samplers, per ask ("mix").
 *
 * Hyperopt's mix.suggest (hyperopt-spec.md section 6.5): each ask draws
 * one of random, tpe and anneal with probabilities 'mix.random',
 * 'mix.tpe' and 'mix.anneal', then lets it propose the point from the
 * same random stream. The defaults are hyperopt's documented example,
 * (.1 random, .7 tpe, .2 anneal). The weights must be >= 0 when set and
 * sum to 1 (within 1e-9) when asked: they are set one at a time, so the
 * sum is only checked at ask time.
 *
 * Options "tpe.*" and "anneal.*" go to the mix's own tpe and anneal
 * states; the sub-samplers are the ordinary ones, not copies.
 */
#include "pz_internal.h"

#include <math.h>
#include <string.h>

#define N_SUBS 3

static const pz__sampler_vt *const subs[N_SUBS] = {
    &pz__sampler_random,
    &pz__sampler_tpe,
    &pz__sampler_anneal,
};

typedef struct mix_state {
    double p[N_SUBS];    /* probability of each of 'subs' */
    void *state[N_SUBS]; /* their states (owned), NULL when size 0 */
} mix_state;

static const double mix_defaults[N_SUBS] = {0.1, 0.7, 0.2};

static void mix_fini(void *st)
{
    mix_state *m = st;
    for (size_t i = 0; i < N_SUBS; i++) {
        if (m->state[i] != NULL) {
            if (subs[i]->fini != NULL) {
                subs[i]->fini(m->state[i]);
            }
            pz__free(m->state[i], subs[i]->state_size);
            m->state[i] = NULL;
        }
    }
}

static int mix_init(void *st, const pz_space *sp, pz_error *err)
{
    mix_state *m = st;
    memset(m, 0, sizeof *m);
    memcpy(m->p, mix_defaults, sizeof m->p);
    for (size_t i = 0; i < N_SUBS; i++) {
        size_t size = subs[i]->state_size;
        if (size > 0 && (m->state[i] = pz__calloc(1, size)) == NULL) {
            mix_fini(m);
            return pz__fail(err, PZ_ENOMEM, "out of memory for sampler 'mix'");
        }
        int rc = subs[i]->init(m->state[i], sp, err);
        if (rc != PZ_OK) {
            mix_fini(m);
            return rc;
        }
    }
    return PZ_OK;
}

/* Index in 'subs' named by 'name' ("rand" is an alias), or N_SUBS. */
static size_t sub_index(const char *name)
{
    if (strcmp(name, "rand") == 0) {
        name = "random";
    }
    for (size_t i = 0; i < N_SUBS; i++) {
        if (strcmp(subs[i]->name, name) == 0) {
            return i;
        }
    }
    return N_SUBS;
}

/* The sub-sampler an option like "tpe.gamma" belongs to, or N_SUBS. */
static size_t option_owner(const char *key)
{
    const char *dot = strchr(key, '.');
    char name[16];
    size_t len = dot ? (size_t)(dot - key) : 0;
    if (len == 0 || len >= sizeof name) {
        return N_SUBS;
    }
    memcpy(name, key, len);
    name[len] = '\0';
    return sub_index(name);
}

static int mix_set_option(void *st, const char *key, double v, pz_error *err)
{
    mix_state *m = st;
    const char *opt = pz__sampler_option_suffix(key, "mix");
    size_t i = opt ? sub_index(opt) : N_SUBS;
    if (opt != NULL && i < N_SUBS) {
        if (!(v >= 0.0 && isfinite(v))) {
            return pz__fail(err, PZ_EINVAL,
                            "option '%s' must be a finite probability >= 0 "
                            "(got %g)",
                            key, v);
        }
        m->p[i] = v;
        return PZ_OK;
    }
    size_t owner = opt ? N_SUBS : option_owner(key);
    if (owner < N_SUBS) {
        return subs[owner]->set_option(m->state[owner], key, v, err);
    }
    return pz__fail(err, PZ_EINVAL,
                    "unknown option '%s' (mix options: mix.random, mix.tpe, "
                    "mix.anneal, and tpe.* / anneal.* for its samplers)",
                    key);
}

static int mix_ask(void *st, const pz__sampler_ctx *ctx, double *x,
                   pz_error *err)
{
    mix_state *m = st;
    double sum = m->p[0] + m->p[1] + m->p[2];
    if (!(fabs(sum - 1.0) <= 1e-9)) {
        return pz__fail(err, PZ_EINVAL,
                        "mix probabilities should sum to 1: mix.random=%g + "
                        "mix.tpe=%g + mix.anneal=%g = %.12g",
                        m->p[0], m->p[1], m->p[2], sum);
    }
    size_t i = pz__rng_categorical(ctx->rng, m->p, N_SUBS);
    return subs[i]->ask(m->state[i], ctx, x, err);
}

const pz__sampler_vt pz__sampler_mix = {
    .name = "mix",
    .state_size = sizeof(mix_state),
    .init = mix_init,
    .set_option = mix_set_option,
    .ask = mix_ask,
    .fini = mix_fini,
};
