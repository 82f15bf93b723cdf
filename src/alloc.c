/*
 * alloc.c -- every allocation of the library goes through here.
 *
 * Running out of memory is an error the caller sees (PZ_ENOMEM), never an
 * abort: the library is loaded into Python processes. The allocator can
 * be replaced (pz_set_allocator, shaped like Lua's lua_Alloc), and tests
 * can make the n-th allocation fail to prove every failure path clean.
 */
#include "pz_internal.h"

#include <stdlib.h>
#include <string.h>

static void *default_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, nsize);
}

static pz_alloc_fn alloc_fn = default_alloc;
static void *alloc_ud = NULL;

/* Fault injection: allocations left before one fails (-1: never).
 * Plain globals: fault injection is a single-threaded test feature. */
static long fail_countdown = -1;
static long alloc_count = 0;

void pz_set_allocator(pz_alloc_fn fn, void *ud)
{
    alloc_fn = fn ? fn : default_alloc;
    alloc_ud = fn ? ud : NULL;
}

long pz__alloc_fail_after(long n)
{
    long made = alloc_count;
    alloc_count = 0;
    fail_countdown = n < 0 ? -1 : n;
    return made;
}

static bool injected_failure(void)
{
    alloc_count++;
    if (fail_countdown < 0) {
        return false;
    }
    return fail_countdown-- == 0;
}

void *pz__realloc(void *p, size_t old_n, size_t new_n)
{
    if (new_n == 0) {
        pz__free(p, old_n);
        return NULL;
    }
    if (injected_failure()) {
        return NULL;
    }
    return alloc_fn(alloc_ud, p, old_n, new_n);
}

void *pz__malloc(size_t n)
{
    return pz__realloc(NULL, 0, n ? n : 1);
}

void *pz__calloc(size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size) {
        return NULL;
    }
    void *p = pz__malloc(count * size);
    if (p != NULL) {
        memset(p, 0, count * size);
    }
    return p;
}

void pz__free(void *p, size_t n)
{
    if (p != NULL) {
        alloc_fn(alloc_ud, p, n, 0);
    }
}

char *pz__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = pz__malloc(n);
    if (d != NULL) {
        memcpy(d, s, n);
    }
    return d;
}

void pz__free_str(char *s)
{
    if (s != NULL) {
        pz__free(s, strlen(s) + 1);
    }
}

int pz__grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) {
        return PZ_OK;
    }
    size_t ncap = *cap ? *cap : 8;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / elem) {
            return PZ_ENOMEM;
        }
        ncap *= 2;
    }
    void *p = pz__realloc(*arr, *cap * elem, ncap * elem);
    if (p == NULL) {
        return PZ_ENOMEM;
    }
    *arr = p;
    *cap = ncap;
    return PZ_OK;
}

void pz_free(void *ptr)
{
    /* Text handed out by the library: its size is strlen + 1. */
    pz__free_str(ptr);
}
