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
