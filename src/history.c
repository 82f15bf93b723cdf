/*
 * history.c -- the columnar trial history a study keeps and samplers read.
 *
 * One array per column (ids, states, losses, and one value column per
 * parameter), so a sampler modelling parameter j reads one contiguous
 * array. Trials are appended in insertion order; an open-addressing hash
 * maps ids to rows so tell() is O(1) at 10^5 trials. Memory: 8 bytes per
 * parameter per trial plus ~40 bytes per trial.
 */
#include "pz_internal.h"

#include <math.h>
#include <string.h>

int pz__history_init(pz__history *h, size_t n_params, pz_error *err)
{
    memset(h, 0, sizeof *h);
    h->n_params = n_params;
    if (n_params > 0) {
        h->cols = pz__calloc(n_params, sizeof *h->cols);
        h->row = pz__calloc(n_params, sizeof *h->row);
        if (h->cols == NULL || h->row == NULL) {
            pz__history_fini(h);
            return pz__fail(err, PZ_ENOMEM, "out of memory for the history");
        }
    }
    return PZ_OK;
}

void pz__history_fini(pz__history *h)
{
    for (size_t j = 0; h->cols && j < h->n_params; j++) {
        pz__free(h->cols[j], h->cap * sizeof **h->cols);
    }
    pz__free(h->cols, h->cols ? h->n_params * sizeof *h->cols : 0);
    pz__free(h->row, h->row ? h->n_params * sizeof *h->row : 0);
    pz__free(h->ids, h->cap * sizeof *h->ids);
    pz__free(h->state, h->cap * sizeof *h->state);
    pz__free(h->loss, h->cap * sizeof *h->loss);
    pz__free(h->slots, h->n_slots * sizeof *h->slots);
    memset(h, 0, sizeof *h);
}

void pz__history_clear(pz__history *h)
{
    h->n = 0;
    h->epoch++;
    if (h->slots != NULL) {
        memset(h->slots, 0, h->n_slots * sizeof *h->slots);
    }
}

static size_t hash_id(int64_t id)
{
    uint64_t x = (uint64_t)id * 0x9e3779b97f4a7c15ULL;
    return (size_t)(x ^ (x >> 32));
}

static size_t *id_slot(const pz__history *h, int64_t id)
{
    size_t mask = h->n_slots - 1;
    for (size_t i = hash_id(id) & mask;; i = (i + 1) & mask) {
        size_t v = h->slots[i];
        if (v == 0 || h->ids[v - 1] == id) {
            return &h->slots[i];
        }
    }
}

size_t pz__history_find(const pz__history *h, int64_t id)
{
    if (h->n_slots == 0) {
        return (size_t)-1;
    }
    size_t v = *id_slot(h, id);
    return v ? v - 1 : (size_t)-1;
}

static int rehash(pz__history *h, size_t need)
{
    if (2 * need < h->n_slots) {
        return PZ_OK;
    }
    size_t ns = h->n_slots ? h->n_slots * 2 : 64;
    while (2 * need >= ns) {
        ns *= 2;
    }
    size_t *slots = pz__calloc(ns, sizeof *slots);
    if (slots == NULL) {
        return PZ_ENOMEM;
    }
    pz__free(h->slots, h->n_slots * sizeof *h->slots);
    h->slots = slots;
    h->n_slots = ns;
    for (size_t i = 0; i < h->n; i++) {
        *id_slot(h, h->ids[i]) = i + 1;
    }
    return PZ_OK;
}

/* Move 'old' (n_old elements of 'elem' bytes) into a fresh block. */
static void *regrow(void *old, size_t n_used, size_t ncap, size_t elem)
{
    void *p = pz__malloc(ncap * elem);
    if (p != NULL && n_used > 0) {
        memcpy(p, old, n_used * elem);
    }
    return p;
}

/* Grow every column to hold 'need' rows: all arrays or none, so that
 * 'cap' is always the true size of each (custom allocators get exact
 * sizes back). */
static int reserve_rows(pz__history *h, size_t need)
{
    if (need <= h->cap) {
        return PZ_OK;
    }
    size_t ncap = h->cap ? h->cap * 2 : 64;
    while (ncap < need) {
        ncap *= 2;
    }
    size_t n_arr = 3 + h->n_params;
    void *fresh[3 + 64]; /* small spaces avoid a pointer array */
    void **nv = n_arr <= 67 ? fresh : pz__calloc(n_arr, sizeof *nv);
    if (nv == NULL) {
        return PZ_ENOMEM;
    }
    void *old[3] = {h->ids, h->state, h->loss};
    size_t sizes[3] = {sizeof *h->ids, sizeof *h->state, sizeof *h->loss};
    size_t k = 0;
    for (; k < n_arr; k++) {
        void *o = k < 3 ? old[k] : h->cols[k - 3];
        size_t e = k < 3 ? sizes[k] : sizeof **h->cols;
        if ((nv[k] = regrow(o, h->n, ncap, e)) == NULL) {
            break;
        }
    }
    int rc = k == n_arr ? PZ_OK : PZ_ENOMEM;
    for (size_t i = 0; i < k; i++) {
        size_t e = i < 3 ? sizes[i] : sizeof **h->cols;
        void **slot = i == 0   ? (void **)&h->ids
                      : i == 1 ? (void **)&h->state
                      : i == 2 ? (void **)&h->loss
                               : (void **)&h->cols[i - 3];
        void *drop = rc == PZ_OK ? *slot : nv[i];
        pz__free(drop, (rc == PZ_OK ? h->cap : ncap) * e);
        if (rc == PZ_OK) {
            *slot = nv[i];
        }
    }
    if (nv != fresh) {
        pz__free(nv, n_arr * sizeof *nv);
    }
    if (rc == PZ_OK) {
        h->cap = ncap;
    }
    return rc;
}

int pz__history_append(pz__history *h, int64_t id, const double *values,
                       pz_trial_state state, double loss, pz_error *err)
{
    if (pz__history_find(h, id) != (size_t)-1) {
        return pz__fail(err, PZ_EINVAL, "trial %lld already exists",
                        (long long)id);
    }
    if (rehash(h, h->n + 1) != PZ_OK || reserve_rows(h, h->n + 1) != PZ_OK) {
        return pz__fail(err, PZ_ENOMEM, "out of memory recording trial %lld",
                        (long long)id);
    }
    size_t i = h->n++;
    h->ids[i] = id;
    h->state[i] = (unsigned char)state;
    h->loss[i] = loss;
    for (size_t j = 0; j < h->n_params; j++) {
        h->cols[j][i] = values[j];
    }
    *id_slot(h, id) = i + 1;
    return PZ_OK;
}

double pz__history_effective_loss(const pz__history *h, size_t i)
{
    switch ((pz_trial_state)h->state[i]) {
    case PZ_TRIAL_NEW:
    case PZ_TRIAL_RUNNING:
        return (double)INFINITY;
    case PZ_TRIAL_DONE:
        /* the budget rule ranks DONE trials too (none pruned: no key) */
        return h->pruned_rule == PZ__PRUNED_BUDGET && h->pruned_key != NULL
                   ? h->pruned_key[i]
                   : h->loss[i];
    case PZ_TRIAL_PRUNED:
        if (h->pruned_rule == PZ__PRUNED_BAD) {
            return (double)INFINITY;
        }
        return h->pruned_rule != PZ__PRUNED_IGNORE && h->pruned_key != NULL
                   ? h->pruned_key[i]
                   : (double)NAN;
    default:
        return (double)NAN;
    }
}
