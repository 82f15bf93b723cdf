/*
 * sampler.c -- the registry of samplers and what they share.
 *
 * A sampler is a table of functions (pz__sampler_vt); adding one is a new
 * file plus one line in 'samplers' below. Samplers are pure: (space,
 * read-only history, rng, scratch arena) -> one point.
 */
#include "pz_internal.h"

#include <math.h>
#include <string.h>

static const pz__sampler_vt *const samplers[] = {
    &pz__sampler_random, &pz__sampler_tpe,  &pz__sampler_anneal,
    &pz__sampler_mix,    &pz__sampler_mtpe,
};

const pz__sampler_vt *pz__sampler_find(const char *name)
{
    if (strcmp(name, "rand") == 0) {
        name = "random"; /* hyperopt's module name */
    }
    for (size_t i = 0; i < sizeof samplers / sizeof samplers[0]; i++) {
        if (strcmp(samplers[i]->name, name) == 0) {
            return samplers[i];
        }
    }
    return NULL;
}

const char *pz__sampler_names(void)
{
    return "random, tpe, anneal, mix, mtpe";
}

/* Mutation testing: the Python suite's sampler claims must fail when the
 * samplers are broken on purpose (scripts/mutation-check.sh). Like the
 * allocator's fault injection, a plain global that only tests set. */
static pz__mutant active_mutant = PZ__MUTANT_NONE;

int pz__sampler_set_mutant(const char *name)
{
    static const char *const names[] = {"none", "random", "tpe-no-selection"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(name, names[i]) == 0) {
            active_mutant = (pz__mutant)i;
            return PZ_OK;
        }
    }
    return PZ_EINVAL;
}

pz__mutant pz__sampler_mutant(void)
{
    return active_mutant;
}

int pz__sampler_ask(const pz__sampler_vt *vt, void *st,
                    const pz__sampler_ctx *ctx, double *x, pz_error *err)
{
    if (active_mutant == PZ__MUTANT_RANDOM && vt != &pz__sampler_random) {
        pz__sampler_draw_prior(ctx->space, ctx->rng, x);
        return PZ_OK;
    }
    return vt->ask(st, ctx, x, err);
}

void pz__sampler_draw_prior(const pz_space *sp, pz__rng *rng, double *x)
{
    /* Parents precede children, so x[parent] is final when a child is
     * reached; inactive parameters stay NaN and draw nothing. */
    for (size_t i = 0; i < sp->n_params; i++) {
        x[i] = pz__space_active(sp, i, x) ? pz__space_draw(&sp->params[i], rng)
                                          : (double)NAN;
    }
}

const char *pz__sampler_option_suffix(const char *key, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(key, name, n) == 0 && key[n] == '.') {
        return key + n + 1;
    }
    return NULL;
}
