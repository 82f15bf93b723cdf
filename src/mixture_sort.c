/*
 * mixture_sort.c -- the observations of a fit in ascending order of
 * their mixture-space values, equal values in tid order (a stable sort):
 * values become order-preserving integer keys, sorted by a radix sort
 * (or an insertion sort for short and nearly sorted runs); and the
 * stable partition of prepared components by sigma.
 */
#include "mixture_internal.h"

bool pz__mixture_items_isort(pz__mixture_item *a, size_t n, size_t budget)
{
    size_t moves = 0;
    for (size_t i = 1; i < n; i++) {
        pz__mixture_item x = a[i];
        size_t j = i;
        for (; j > 0 && pz__mixture_item_less(&x, &a[j - 1]); j--) {
            a[j] = a[j - 1];
        }
        a[j] = x;
        moves += i - j;
        if (moves > budget) {
            return false;
        }
    }
    return true;
}

/* Stable LSD radix sort of m->items[0..n) by the key bits from 'low_bit'
 * up, 'bits' bits a pass (8 or 11); passes where every key has the same
 * digit are skipped. */
static void radix_sort(pz__mixture *m, size_t n, unsigned bits,
                       unsigned low_bit)
{
    size_t n_buckets = (size_t)1 << bits;
    size_t passes = (64 - low_bit + bits - 1) / bits;
    uint64_t mask = n_buckets - 1;
    uint32_t *cnt = m->radix_cnt; /* passes x n_buckets counters */
    memset(cnt, 0, passes * n_buckets * sizeof *cnt);
    for (size_t i = 0; i < n; i++) {
        uint64_t k = m->items[i].key >> low_bit;
        for (size_t d = 0; d < passes; d++) {
            cnt[d * n_buckets + ((k >> (bits * d)) & mask)]++;
        }
    }
    pz__mixture_item *src = m->items, *dst = m->items2;
    for (size_t d = 0; d < passes; d++) {
        uint32_t *c = cnt + d * n_buckets;
        unsigned shift = low_bit + bits * (unsigned)d;
        if (c[(src[0].key >> shift) & mask] == n) {
            continue;
        }
        uint32_t off = 0;
        for (size_t b = 0; b < n_buckets; b++) {
            uint32_t t = c[b];
            c[b] = off;
            off += t;
        }
        for (size_t i = 0; i < n; i++) {
            dst[c[(src[i].key >> shift) & mask]++] = src[i];
        }
        pz__mixture_item *t = src;
        src = dst;
        dst = t;
    }
    if (src != m->items) {
        memcpy(m->items, src, n * sizeof *src);
    }
}

static void load_items(pz__mixture *m, const double *obs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        m->items[i].key = pz__mixture_key(obs[i]);
        m->items[i].pos = i;
    }
}

/* Sort 'obs' into m->items by (value, tid position). Larger arrays are
 * radix-sorted on their top 32 or 33 bits (3 or 4 passes), then finished
 * by an insertion sort that only reorders keys sharing those bits;
 * should that take long (many nearly equal values), a full 64-bit radix
 * sort runs instead. */
void pz__mixture_sort_obs(pz__mixture *m, const double *obs, size_t n)
{
    load_items(m, obs, n);
    if (n < 64) {
        pz__mixture_items_isort(m->items, n, SIZE_MAX);
        return;
    }
    unsigned bits = n < 512 ? 8 : 11;
    radix_sort(m, n, bits, bits == 8 ? 32 : 31);
    if (!pz__mixture_items_isort(m->items, n, 4 * n)) {
        load_items(m, obs, n);
        radix_sort(m, n, bits, 0);
    }
}

/* Stable partition of components [0, n): those with sigma <= limit
 * first, both parts in their order (ascending mean); returns how many
 * are first. 'tmp' holds 4 doubles per component moved behind. */
size_t pz__mixture_partition_by_sigma(pz__mixture *m, size_t n, double limit,
                                      double *tmp)
{
    size_t first = 0, behind = 0;
    for (size_t i = 0; i < n; i++) {
        if (m->d_sig[i] <= limit && first == i) {
            first++; /* none moved behind yet: already in place */
            continue;
        }
        double c[4] = {m->d_mu[i], m->d_sig[i], m->d_inv[i], m->d_r[i]};
        if (c[1] <= limit) {
            move_component(m, first++, c);
        } else {
            memcpy(tmp + 4 * behind++, c, sizeof c);
        }
    }
    for (size_t i = 0; i < behind; i++) {
        move_component(m, first + i, tmp + 4 * i);
    }
    return first;
}
