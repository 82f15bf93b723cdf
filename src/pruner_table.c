/*
 * pruner_table.c -- sorted values per int64 key, the order statistics
 * the pruners compare a trial against: the DONE trials' values at a step
 * (median) and the values recorded at a rung (successive halving).
 *
 * Keys are few (steps, or brackets x rungs) and values arrive one at a
 * time, so each key keeps a sorted array: an insertion is a binary
 * search and a memmove, a decision reads one element.
 */
#include "pz_internal.h"

#include <string.h>

void pz__ptable_init(pz__ptable *t)
{
    memset(t, 0, sizeof *t);
}

void pz__ptable_fini(pz__ptable *t)
{
    for (size_t i = 0; i < t->n_slots; i++) {
        pz__free(t->vals[i].v, t->vals[i].cap * sizeof *t->vals[i].v);
    }
    pz__free(t->keys, t->n_slots * sizeof *t->keys);
    pz__free(t->vals, t->n_slots * sizeof *t->vals);
    pz__free(t->used, t->n_slots);
    memset(t, 0, sizeof *t);
}

void pz__ptable_clear(pz__ptable *t)
{
    for (size_t i = 0; i < t->n_slots; i++) {
        t->vals[i].n = 0;
    }
}

static size_t hash_key(int64_t k)
{
    uint64_t x = (uint64_t)k * 0x9e3779b97f4a7c15ULL;
    return (size_t)(x ^ (x >> 29));
}

/* The slot of 'key', or the empty slot where it would go. */
static size_t slot_of(const pz__ptable *t, int64_t key)
{
    size_t mask = t->n_slots - 1;
    size_t i = hash_key(key) & mask;
    while (t->used[i] && t->keys[i] != key) {
        i = (i + 1) & mask;
    }
    return i;
}

const pz__sorted *pz__ptable_find(const pz__ptable *t, int64_t key)
{
    if (t->n_slots == 0) {
        return NULL;
    }
    size_t i = slot_of(t, key);
    return t->used[i] ? &t->vals[i] : NULL;
}

/* Double the slots (kept at most half full). */
static int grow_slots(pz__ptable *t)
{
    size_t ns = t->n_slots ? 2 * t->n_slots : 16;
    pz__ptable nt = {
        .keys = pz__calloc(ns, sizeof *nt.keys),
        .vals = pz__calloc(ns, sizeof *nt.vals),
        .used = pz__calloc(ns, 1),
        .n_slots = ns,
        .n_used = t->n_used,
    };
    if (nt.keys == NULL || nt.vals == NULL || nt.used == NULL) {
        pz__free(nt.keys, ns * sizeof *nt.keys);
        pz__free(nt.vals, ns * sizeof *nt.vals);
        pz__free(nt.used, ns);
        return PZ_ENOMEM;
    }
    for (size_t i = 0; i < t->n_slots; i++) {
        if (t->used[i]) {
            size_t j = slot_of(&nt, t->keys[i]);
            nt.used[j] = 1;
            nt.keys[j] = t->keys[i];
            nt.vals[j] = t->vals[i];
        }
    }
    pz__free(t->keys, t->n_slots * sizeof *t->keys);
    pz__free(t->vals, t->n_slots * sizeof *t->vals);
    pz__free(t->used, t->n_slots);
    *t = nt;
    return PZ_OK;
}

/* First index whose value is > v (values equal to v stay before). */
static size_t upper_bound(const pz__sorted *s, double v)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->v[mid] <= v) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static int sorted_insert(pz__sorted *s, double v)
{
    if (s->n == s->cap) {
        size_t ncap = s->cap ? 2 * s->cap : 8;
        double *nv =
            pz__realloc(s->v, s->cap * sizeof *s->v, ncap * sizeof *s->v);
        if (nv == NULL) {
            return PZ_ENOMEM;
        }
        s->v = nv;
        s->cap = ncap;
    }
    size_t at = upper_bound(s, v);
    memmove(s->v + at + 1, s->v + at, (s->n - at) * sizeof *s->v);
    s->v[at] = v;
    s->n++;
    return PZ_OK;
}

int pz__ptable_insert(pz__ptable *t, int64_t key, double v)
{
    if (2 * (t->n_used + 1) > t->n_slots && grow_slots(t) != PZ_OK) {
        return PZ_ENOMEM;
    }
    size_t i = slot_of(t, key);
    if (!t->used[i]) {
        t->used[i] = 1;
        t->keys[i] = key;
        t->n_used++;
    }
    return sorted_insert(&t->vals[i], v);
}

void pz__ptable_remove(pz__ptable *t, int64_t key, double v)
{
    if (t->n_slots == 0) {
        return;
    }
    size_t i = slot_of(t, key);
    pz__sorted *s = &t->vals[i];
    if (!t->used[i] || s->n == 0) {
        return;
    }
    size_t at = upper_bound(s, v); /* one past the last v */
    if (at > 0 && s->v[at - 1] == v) {
        memmove(s->v + at - 1, s->v + at, (s->n - at) * sizeof *s->v);
        s->n--;
    }
}

double pz__sorted_median(const pz__sorted *s)
{
    size_t h = s->n / 2;
    return s->n % 2 ? s->v[h] : 0.5 * (s->v[h - 1] + s->v[h]);
}
