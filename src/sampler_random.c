/*
 * sampler_random.c -- random search: every point drawn from the prior.
 *
 * Bergstra & Bengio, "Random Search for Hyper-Parameter Optimization",
 * JMLR 13 (2012). Hyperopt's rand.suggest; it ignores the history.
 */
#include "pz_internal.h"

static int random_init(void *st, const pz_space *sp, pz_error *err)
{
    (void)st;
    (void)sp;
    (void)err;
    return PZ_OK;
}

static int random_set_option(void *st, const char *key, double value,
                             pz_error *err)
{
    (void)st;
    (void)value;
    return pz__fail(err, PZ_EINVAL,
                    "unknown option '%s' (random search has "
                    "no options)",
                    key);
}

static int random_ask(void *st, const pz__sampler_ctx *ctx, double *x,
                      pz_error *err)
{
    (void)st;
    (void)err;
    pz__sampler_draw_prior(ctx->space, ctx->rng, x);
    return PZ_OK;
}

const pz__sampler_vt pz__sampler_random = {
    .name = "random",
    .state_size = 0,
    .init = random_init,
    .set_option = random_set_option,
    .ask = random_ask,
    .fini = NULL,
};
