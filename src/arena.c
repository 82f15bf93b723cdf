/*
 * arena.c -- bump allocator for the scratch memory of one ask.
 *
 * A sampler needs a few arrays per ask (sorted observations, mixture
 * components, candidates), sized by the history. Allocating them from an
 * arena that is reset after every ask keeps memory flat across asks and
 * makes cleanup on every error path free. When a block is too small a
 * bigger one is chained; reset keeps only the biggest.
 */
#include "pz_internal.h"

#include <stdalign.h>

struct pz__arena_block {
    pz__arena_block *next;
    size_t size; /* usable bytes after the header */
    alignas(16) unsigned char data[];
};

void pz__arena_init(pz__arena *a)
{
    a->head = NULL;
    a->used = 0;
}

static size_t round_up(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

void *pz__arena_alloc(pz__arena *a, size_t n)
{
    n = round_up(n ? n : 1);
    if (a->head == NULL || a->head->size - a->used < n) {
        size_t size = a->head ? a->head->size * 2 : 4096;
        while (size < n) {
            size *= 2;
        }
        pz__arena_block *b = pz__malloc(sizeof *b + size);
        if (b == NULL) {
            return NULL;
        }
        b->next = a->head;
        b->size = size;
        a->head = b;
        a->used = 0;
    }
    void *p = a->head->data + a->used;
    a->used += n;
    return p;
}

void pz__arena_reset(pz__arena *a)
{
    if (a->head != NULL) {
        pz__arena_block *b = a->head->next; /* head is the biggest */
        while (b != NULL) {
            pz__arena_block *next = b->next;
            pz__free(b, sizeof *b + b->size);
            b = next;
        }
        a->head->next = NULL;
    }
    a->used = 0;
}

void pz__arena_fini(pz__arena *a)
{
    pz__arena_reset(a);
    if (a->head != NULL) {
        pz__free(a->head, sizeof *a->head + a->head->size);
    }
    a->head = NULL;
}
