/*
 * reports.c -- the intermediate values a trial reports while it runs
 * (pz_study_report): two growing arrays per trial, steps strictly
 * increasing, so the last report and a step lookup need no search.
 */
#include "pz_internal.h"

#include <math.h>
#include <string.h>

/* Move both arrays to blocks of 'ncap' elements: both or neither, so
 * 'cap' stays the true size of each (allocators get exact sizes back). */
static int regrow(pz__trial_reports *r, size_t ncap)
{
    int64_t *s = pz__malloc(ncap * sizeof *s);
    double *v = pz__malloc(ncap * sizeof *v);
    if (s == NULL || v == NULL) {
        pz__free(s, ncap * sizeof *s);
        pz__free(v, ncap * sizeof *v);
        return PZ_ENOMEM;
    }
    if (r->n > 0) {
        memcpy(s, r->steps, r->n * sizeof *s);
        memcpy(v, r->values, r->n * sizeof *v);
    }
    pz__free(r->steps, r->cap * sizeof *r->steps);
    pz__free(r->values, r->cap * sizeof *r->values);
    r->steps = s;
    r->values = v;
    r->cap = ncap;
    return PZ_OK;
}

int pz__reports_append(pz__trial_reports *r, int64_t step, double value)
{
    if (r->n == r->cap && regrow(r, r->cap ? 2 * r->cap : 8) != PZ_OK) {
        return PZ_ENOMEM;
    }
    if (r->n == 0 || value < r->best) {
        r->best = value;
    }
    r->steps[r->n] = step;
    r->values[r->n++] = value;
    return PZ_OK;
}

void pz__reports_reset(pz__trial_reports *r)
{
    r->n = 0;
    r->best = (double)NAN;
    r->rung = 0;
    r->doomed = 0;
    r->in_done = 0;
}

void pz__reports_fini(pz__trial_reports *r)
{
    pz__free(r->steps, r->cap * sizeof *r->steps);
    pz__free(r->values, r->cap * sizeof *r->values);
    memset(r, 0, sizeof *r);
}

int64_t pz__reports_last_step(const pz__trial_reports *r)
{
    return r->n ? r->steps[r->n - 1] : -1;
}
