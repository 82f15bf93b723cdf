/*
 * pz_internal.h -- declarations shared between the files of src/.
 *
 * Layering: calls only go downward.
 *
 *   cli/, python/_core/     ->  parzen.h only (never this file)
 *   study.c, stop.c         ->  sampler.c, history.c, space*.c
 *   sampler_*.c, mixture.c  ->  space.c, rng.c, arena.c, history.c (read)
 *   space_json.c            ->  space.c
 *   everything              ->  status.c, alloc.c
 *
 * Samplers never include sqlite3.h, never take locks and never allocate
 * per call outside the arena they are handed.
 *
 * Internal names are pz__<file>_<verb>.
 */
#ifndef PZ_INTERNAL_H
#define PZ_INTERNAL_H

#include "parzen.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- status */

#if defined(__GNUC__)
#define PZ_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define PZ_PRINTF(f, a)
#endif

/* Fill 'err' (if not NULL) with 'code' and a formatted message; return
 * 'code'. The one way a function in src/ reports a failure. */
int pz__fail(pz_error *err, int code, const char *fmt, ...) PZ_PRINTF(3, 4);
/* Prefix err->msg with "context: " (the code is kept). Returns err->code,
 * or 'code' when err is NULL. */
int pz__fail_context(pz_error *err, int code, const char *fmt, ...)
    PZ_PRINTF(3, 4);

#ifdef PZ_DEBUG
#include <assert.h>
#define pz_assert(c) assert(c)
#else
#define pz_assert(c) ((void)0)
#endif

#define PZ_PI 3.14159265358979323846

/* ----------------------------------------------------------------- alloc */

void *pz__malloc(size_t n);
void *pz__calloc(size_t count, size_t size);
/* 'old_n' is the size of the block at 'p' (0 when p is NULL). */
void *pz__realloc(void *p, size_t old_n, size_t new_n);
void pz__free(void *p, size_t n);
char *pz__strdup(const char *s);
void pz__free_str(char *s);
/* Grow '*arr' (elements of 'elem' bytes, capacity '*cap') to hold at
 * least 'need' elements; doubles. Returns PZ_ENOMEM (arr untouched). */
int pz__grow(void **arr, size_t *cap, size_t need, size_t elem);

/* Test builds: make the n-th allocation from now fail (n = 0 is the very
 * next one); a negative n switches fault injection off. Returns how many
 * allocations were made since the last call. */
long pz__alloc_fail_after(long n);

/* ----------------------------------------------------------------- arena */

/* Bump allocator for per-ask scratch memory. Blocks are kept across
 * resets, so a steady workload allocates nothing after the first asks. */
typedef struct pz__arena_block pz__arena_block;
typedef struct pz__arena {
    pz__arena_block *head; /* current block; older ones follow */
    size_t used;           /* bytes used in 'head' */
} pz__arena;

void pz__arena_init(pz__arena *a);
/* NULL when out of memory. Memory is 16-byte aligned and uninitialised. */
void *pz__arena_alloc(pz__arena *a, size_t n);
/* Forget every allocation; keeps the largest block for reuse. */
void pz__arena_reset(pz__arena *a);
void pz__arena_fini(pz__arena *a);

/* ------------------------------------------------------------------- rng */

/* xoshiro256** (Blackman & Vigna). */
typedef struct pz__rng {
    uint64_t s[4];
} pz__rng;

/* Seed the stream of trial 'stream' of a study seeded with 'seed'. */
void pz__rng_seed(pz__rng *rng, uint64_t seed, uint64_t stream);
uint64_t pz__rng_next(pz__rng *rng);
/* Uniform in [0, 1) from the top 53 bits. */
double pz__rng_uniform(pz__rng *rng);
/* Unbiased integer in [0, n), n > 0. */
uint64_t pz__rng_below(pz__rng *rng, uint64_t n);
/* Standard normal deviate. */
double pz__rng_normal(pz__rng *rng);
/* Index drawn with probabilities w[0..n-1] (non-negative, sum > 0,
 * need not be normalised). */
size_t pz__rng_categorical(pz__rng *rng, const double *w, size_t n);

/* ----------------------------------------------------------------- space */

typedef struct pz__tmpl pz__tmpl; /* owned by space_json.c */

typedef struct pz__param {
    char *label;        /* owned, unique, non-empty */
    pz_param_spec spec; /* spec.probs points at 'probs' */
    double *probs;      /* pchoice: n_options probabilities; owned */
    size_t parent;      /* choice parameter index, or PZ_NO_PARENT */
    size_t option;      /* option of 'parent' that activates this one */
} pz__param;

struct pz_space {
    pz__param *params; /* n_params, parents before children */
    size_t n_params, cap;
    size_t *buckets; /* label hash table: index+1, 0 empty; n_buckets */
    size_t n_buckets;
    pz__tmpl *tmpl; /* nested structure from JSON, or NULL */
};

/* Hyperopt's quantization: round(x / q) * q with round-half-to-even. */
double pz__space_quantize(double x, double q);
/* Is parameter i active given the values of its ancestors? */
bool pz__space_active(const pz_space *sp, size_t i, const double *values);
/* Draw parameter i from its prior distribution (hyperopt's semantics). */
double pz__space_draw(const pz__param *p, pz__rng *rng);
/* Number of categories of a choice/pchoice/randint parameter. */
size_t pz__space_n_categories(const pz__param *p);
/* Deep copy, template included. */
int pz__space_clone(pz_space **out, const pz_space *sp, pz_error *err);
/* Does a value lie in parameter p's support? Writes the reason. */
bool pz__space_value_ok(const pz__param *p, double v, const char **why);

/* space_json.c: template ownership. */
void pz__space_json_tmpl_free(pz__tmpl *t);
int pz__space_json_tmpl_clone(pz__tmpl **out, const pz__tmpl *t);

/* --------------------------------------------------------------- history */

/* Columnar trial history. Trials are kept in insertion order, which is
 * tid order for every driver we ship; samplers treat it as such. */
typedef struct pz__history {
    size_t n, cap;        /* trials held / allocated */
    size_t n_params;      /* columns */
    int64_t *ids;         /* n trial ids, unique */
    unsigned char *state; /* n pz_trial_state */
    double *loss;         /* n losses: NaN ignored, +inf for none */
    double **cols;        /* n_params columns of n values; NaN inactive */
    double *row;          /* n_params scratch for pz_study_trial */
    size_t *slots;        /* id hash: index+1, 0 empty; n_slots */
    size_t n_slots;
} pz__history;

int pz__history_init(pz__history *h, size_t n_params, pz_error *err);
void pz__history_fini(pz__history *h);
void pz__history_clear(pz__history *h);
/* Append a trial. Fails with PZ_EINVAL if the id exists. */
int pz__history_append(pz__history *h, int64_t id, const double *values,
                       pz_trial_state state, double loss, pz_error *err);
/* Index of trial 'id', or (size_t)-1. */
size_t pz__history_find(const pz__history *h, int64_t id);
/* Loss as a sampler should see it: +inf for NEW/RUNNING trials,
 * NaN for ERROR/CANCEL (invisible) and for NaN losses. */
double pz__history_effective_loss(const pz__history *h, size_t i);

/* --------------------------------------------------------------- sampler */

/* What a sampler sees when asked for one point. */
typedef struct pz__sampler_ctx {
    const pz_space *space;
    const pz__history *hist; /* read-only */
    pz__rng *rng;            /* the stream of 'trial_id' */
    pz__arena *arena;        /* scratch; reset by the caller after ask */
    int64_t trial_id;        /* id the point is for */
} pz__sampler_ctx;

typedef struct pz__sampler_vt {
    const char *name;  /* "random", "tpe", ... */
    size_t state_size; /* bytes of per-study state */
    /* Set defaults. May not allocate outside 'st' unless fini frees. */
    int (*init)(void *st, const pz_space *sp, pz_error *err);
    /* 'key' is the full key, e.g. "tpe.gamma". PZ_EINVAL if unknown. */
    int (*set_option)(void *st, const char *key, double value, pz_error *err);
    /* Write one value per parameter (NaN where inactive) into x. */
    int (*ask)(void *st, const pz__sampler_ctx *ctx, double *x, pz_error *err);
    void (*fini)(void *st); /* may be NULL */
} pz__sampler_vt;

/* The registry; NULL when no sampler has that name. */
const pz__sampler_vt *pz__sampler_find(const char *name);
/* Comma-separated names, for error messages. */
const char *pz__sampler_names(void);
/* Prior sampling of a whole point, honouring conditions. */
void pz__sampler_draw_prior(const pz_space *sp, pz__rng *rng, double *x);
/* Split "tpe.gamma" into prefix length; checks 'key' starts with
 * "<name>.". Returns the suffix or NULL. */
const char *pz__sampler_option_suffix(const char *key, const char *name);

extern const pz__sampler_vt pz__sampler_random;
extern const pz__sampler_vt pz__sampler_tpe;
extern const pz__sampler_vt pz__sampler_anneal;
extern const pz__sampler_vt pz__sampler_mix;

#endif /* PZ_INTERNAL_H */
