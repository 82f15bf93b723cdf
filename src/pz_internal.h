/*
 * pz_internal.h -- declarations shared between the files of src/.
 *
 * Layering: calls only go downward.
 *
 *   cli/, python/_core/     ->  parzen.h only (never this file)
 *   runner*.c               ->  runner_io.c, store*.c, study.c
 *   store*.c                ->  study.c, space_json.c (via parzen.h)
 *   study.c, stop.c         ->  sampler.c, history.c, space*.c
 *   sampler_*.c, mixture.c  ->  space.c, rng.c, arena.c, history.c (read)
 *   space_json.c            ->  space.c
 *   everything              ->  status.c, alloc.c
 *
 * Samplers never include sqlite3.h, never take locks and never allocate
 * per call outside the arena they are handed. The store files (store*.c,
 * store_internal.h) are the only ones that include sqlite3.h; the runner
 * files (runner*.c) the only ones that create processes or install signal
 * handlers (runner_spawn.c, runner_signals.c).
 *
 * Internal names are pz__<file>_<verb>; a module split into several files
 * (store*.c, runner*.c) shares them as pz__<module>_<verb>, declared in
 * its own <module>_internal.h.
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

/* json_write.c: JSON text of 'j' with shortest exact numbers, compact
 * (indent 0) or indented; '*out' is freed with pz_free. PZ_ENOMEM. */
struct json_t;
int pz__json_write(const struct json_t *j, int indent, char **out);

/* json_lex.c: one JSON lexer (RFC 8259 plus jansson's rules), shared by
 * the syntax check and the path locator. Allocates nothing. */
typedef enum pz__json_tok {
    PZ__JSON_END,   /* no more text */
    PZ__JSON_ERROR, /* not a token: the text is not JSON here */
    PZ__JSON_LBRACE,
    PZ__JSON_RBRACE,
    PZ__JSON_LBRACKET,
    PZ__JSON_RBRACKET,
    PZ__JSON_COLON,
    PZ__JSON_COMMA,
    PZ__JSON_STRING,
    PZ__JSON_NUMBER,
    PZ__JSON_TRUE,
    PZ__JSON_FALSE,
    PZ__JSON_NULL,
} pz__json_tok;

typedef struct pz__json_lexer {
    const unsigned char *base, *p, *end; /* text, next byte, one past */
    size_t line, col;                    /* of 'p', from 1 */
    pz__json_tok tok;                    /* the last token read */
    size_t tok_off, tok_len;             /* its bytes in the text */
    size_t tok_line, tok_col;            /* where it starts */
} pz__json_lexer;

void pz__json_lex_init(pz__json_lexer *lx, const char *text, size_t len);
/* Read the next token (white space skipped) into lx->tok and return it. */
pz__json_tok pz__json_lex_next(pz__json_lexer *lx);
/* Decode the last token, a string, into out[0..n-1] (escapes resolved,
 * NUL-terminated); false when it does not fit. */
bool pz__json_lex_string(const pz__json_lexer *lx, char *out, size_t n);

/* One step of a JSON path: an object member, or (key NULL) an item. */
typedef struct pz__json_seg {
    const char *key;
    size_t index;
} pz__json_seg;

/* Line and column of the first character of the value at 'path' (depth
 * steps) in valid JSON text; a leading byte-order mark is skipped. */
void pz__json_locate(const char *text, size_t len, const pz__json_seg *path,
                     size_t depth, size_t *line, size_t *col);

/* json_check.c: is 'text' (len bytes, NUL bytes included) an object or
 * an array that jansson's syntax accepts? Never more lenient than jansson;
 * allocates nothing. */
bool pz__json_check(const char *text, size_t len);
/* Did jansson fail to load 'text' (len bytes) for lack of memory? True
 * for its out-of-memory code, for a failure that set no error, and for a
 * syntax error on a text pz__json_check accepts (its lexer reports a
 * failed string copy as an invalid token). 'je' must have been zeroed
 * before the load (jansson leaves its code byte unset on some paths). */
struct json_error_t;
bool pz__json_check_oom(const struct json_error_t *je, const char *text,
                        size_t len);

/* space_json.c: template ownership. */
void pz__space_json_tmpl_free(pz__tmpl *t);
int pz__space_json_tmpl_clone(pz__tmpl **out, const pz__tmpl *t);
/* space_json.c: how many times pz_space_from_json ran (a test hook). */
size_t pz__space_json_parses(void);

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
    uint64_t epoch; /* bumped by clear: row-keyed caches start over */
    /* How samplers see PRUNED rows (set by the study around an ask). */
    int pruned_rule;          /* pz__pruned_rule */
    const double *pruned_key; /* RANK, BUDGET: n ranks, or NULL */
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
 * NaN for ERROR/CANCEL (invisible) and for NaN losses; PRUNED trials by
 * 'pruned_rule' (NaN under RANK when no key was computed). */
double pz__history_effective_loss(const pz__history *h, size_t i);

/* The rule of pz_study_set_pruned_rule: how samplers see PRUNED rows. */
typedef enum pz__pruned_rule {
    PZ__PRUNED_RANK,   /* after every DONE trial: by last step, then value */
    PZ__PRUNED_BAD,    /* +inf: bad observations only, like pending ones */
    PZ__PRUNED_IGNORE, /* NaN: invisible */
    PZ__PRUNED_BUDGET, /* DONE and PRUNED by their values at one step */
} pz__pruned_rule;

/* ------------------------------------------------------------- reports */

/* The intermediate values of one trial (reports.c), plus the scratch
 * the pruners keep per trial. Indexed by history row. */
typedef struct pz__trial_reports {
    int64_t *steps; /* n steps, strictly increasing */
    double *values; /* n finite values */
    size_t n, cap;
    double best;     /* smallest value so far (median pruner) */
    uint8_t rung;    /* sha: rungs this trial was promoted past */
    uint8_t doomed;  /* sha: a rung did not promote it */
    uint8_t in_done; /* median: its values are in the step table */
} pz__trial_reports;

/* Append (step, value); the caller checked the order. PZ_ENOMEM. */
int pz__reports_append(pz__trial_reports *r, int64_t step, double value);
/* Forget the values and the pruner scratch, keeping the memory. */
void pz__reports_reset(pz__trial_reports *r);
void pz__reports_fini(pz__trial_reports *r);
/* The last step, or -1 when there is no report. */
int64_t pz__reports_last_step(const pz__trial_reports *r);

/* ---------------------------------------------------------- pruner_table */

/* Sorted values per int64 key (a step, or a bracket's rung): the order
 * statistics the pruners compare against, kept incrementally so a
 * decision costs a lookup, not a scan of every trial. */
typedef struct pz__sorted {
    double *v; /* n values, ascending */
    size_t n, cap;
} pz__sorted;

typedef struct pz__ptable {
    int64_t *keys;
    pz__sorted *vals;
    unsigned char *used;
    size_t n_slots, n_used;
} pz__ptable;

void pz__ptable_init(pz__ptable *t);
void pz__ptable_fini(pz__ptable *t);
/* Empty every list, keeping the memory. */
void pz__ptable_clear(pz__ptable *t);
/* The values of 'key', or NULL when none was ever inserted. */
const pz__sorted *pz__ptable_find(const pz__ptable *t, int64_t key);
/* Insert 'v' (finite) under 'key'. PZ_ENOMEM. */
int pz__ptable_insert(pz__ptable *t, int64_t key, double v);
/* Remove one occurrence of 'v' under 'key', if any. */
void pz__ptable_remove(pz__ptable *t, int64_t key, double v);
/* numpy's 50th percentile (linear): the middle value or the mean of the
 * two middle ones; n > 0. */
double pz__sorted_median(const pz__sorted *s);

/* ----------------------------------------------------------------- pruner */

typedef enum pz__pruner_kind {
    PZ__PRUNER_NONE,
    PZ__PRUNER_MEDIAN,
    PZ__PRUNER_SHA,
    PZ__PRUNER_HYPERBAND,
} pz__pruner_kind;

typedef struct pz__pruner {
    pz__pruner_kind kind;
    /* median */
    int64_t n_startup, n_warmup, interval;
    size_t n_done; /* DONE trials */
    /* sha and hyperband */
    int64_t min_resource, eta, min_rate;
    int64_t max_resource; /* hyperband; 0: "auto", not known yet */
    bool max_auto;
    size_t n_brackets; /* hyperband; 0 until max_resource is known */
    pz__ptable table;  /* median: step -> DONE values; sha: rung values */
} pz__pruner;

/* What the pruners read of a study: every row's id, state and reports. */
typedef struct pz__pruner_view {
    const int64_t *ids;
    const unsigned char *state;
    pz__trial_reports *rep; /* n rows (rows past 'n_rep' have none) */
    size_t n, n_rep;
} pz__pruner_view;

/* pruner.c: parse 'kind' and its options into 'p' (tables untouched). */
int pz__pruner_config(pz__pruner *p, const char *kind, const char *options,
                      pz_error *err);
const char *pz__pruner_name(const pz__pruner *p);
/* Rebuild the tables and the per-row scratch from every report. */
int pz__pruner_rebuild(pz__pruner *p, const pz__pruner_view *v, pz_error *err);
/* Row 'i' got the report (step, value) (already appended). */
int pz__pruner_on_report(pz__pruner *p, const pz__pruner_view *v, size_t i,
                         pz_error *err);
/* Row 'i' moved from state 'from' to its current state ('from' is
 * PZ_TRIAL_STATE_COUNT for a new row). */
int pz__pruner_on_state(pz__pruner *p, const pz__pruner_view *v, size_t i,
                        int from, pz_error *err);
/* Should row 'i' stop at its last report? */
bool pz__pruner_decide(const pz__pruner *p, const pz__pruner_view *v, size_t i);

/* pruner_median.c */
int pz__pruner_median_state(pz__pruner *p, pz__trial_reports *r, bool was_done,
                            bool is_done);
int pz__pruner_median_report(pz__pruner *p, pz__trial_reports *r, bool done);
bool pz__pruner_median_decide(const pz__pruner *p, const pz__trial_reports *r);

/* pruner_asha.c: sha, and hyperband as brackets of it. */
size_t pz__pruner_hyperband_brackets(int64_t min_resource, int64_t max_resource,
                                     int64_t eta);
size_t pz__pruner_hyperband_bracket(size_t n_brackets, int64_t eta, int64_t id);
int pz__pruner_asha_report(pz__pruner *p, pz__trial_reports *r, int64_t id);

/* pruner_rank.c: the losses samplers see for PRUNED rows under
 * PZ__PRUNED_RANK, n_rows doubles into 'key' (other rows untouched):
 * ranked after the largest finite DONE loss, by (last step descending,
 * value at it, row). 'scratch' holds 2 x h->n size_t. */
void pz__pruned_rank(const pz__history *h, const pz__trial_reports *rep,
                     size_t n_rep, size_t *scratch, double *key);
/* pruner_rank.c: the losses samplers see for DONE and PRUNED rows under
 * PZ__PRUNED_BUDGET, h->n doubles into 'key' (NaN for other rows and
 * DONE rows with a NaN loss): ranks 1.. by the value reported at the
 * deepest step that at least 'min_count' of them reached (a DONE trial
 * without reports reached every step with its loss), then the trials
 * short of it by (depth descending, value there), then those without
 * reports; ties by row. 'scratch' holds 2 x h->n size_t. */
void pz__pruned_budget(const pz__history *h, const pz__trial_reports *rep,
                       size_t n_rep, size_t min_count, size_t *scratch,
                       double *key);

/* study.c: forget trial 'id''s reports (a re-run of a lost trial starts
 * its steps again). Unknown ids are ignored. */
void pz__study_clear_reports(pz_study *study, int64_t id);

/* --------------------------------------------------------------- mixture */

/* Adaptive Parzen estimators (mixture.c), the densities TPE compares:
 * 1-D Gaussian mixtures over x (GMM) or over log x (LGMM), optionally
 * truncated to [low, high) and quantized, and categorical posteriors with
 * prior pseudo-counts (hyperopt-spec.md section 6.3, steps 4 and 5).
 * Everything is computed in log space; no function here allocates: the
 * arrays are handed in (pz__mixture_alloc takes them from an arena). */

#define PZ__MIXTURE_EPS 1e-12 /* hyperopt's EPS: floor of sigmas, logs */

/* One observation to fit: the order key of its mixture-space value
 * (pz__mixture_key) and its position in tid order (forgetting weights). */
typedef struct pz__mixture_item {
    uint64_t key;
    uint64_t pos;
} pz__mixture_item;

/* Doubles as unsigned keys in the same order (no NaN expected); -0.0
 * is +0.0, so equal values stay in tid order as numpy's stable sort
 * would keep them. Inline: a fit turns every observation into a key and
 * back. */
static inline uint64_t pz__mixture_key(double v)
{
    union {
        double d;
        uint64_t u;
    } b = {v == 0.0 ? 0.0 : v};
    return (b.u >> 63) ? ~b.u : b.u | (UINT64_C(1) << 63);
}
/* The double of a key. */
static inline double pz__mixture_key_value(uint64_t k)
{
    union {
        uint64_t u;
        double d;
    } b = {(k >> 63) ? k & ~(UINT64_C(1) << 63) : ~k};
    return b.d;
}
/* The order of items: by key, then by position. */
static inline bool pz__mixture_item_less(const pz__mixture_item *a,
                                         const pz__mixture_item *b)
{
    return a->key < b->key || (a->key == b->key && a->pos < b->pos);
}
/* Insertion sort of n items in that order; gives up (returns false) once
 * it has moved more than 'budget' items, leaving a permutation behind. */
bool pz__mixture_items_isort(pz__mixture_item *a, size_t n, size_t budget);

/* The prior component and forgetting of an adaptive Parzen fit. */
typedef struct pz__parzen_prior {
    double mu, sigma; /* prior component, mixture space; sigma > 0 */
    double weight;    /* prior_weight > 0 (before normalisation) */
    size_t lf;        /* linear forgetting: newest 'lf' obs weigh 1 */
} pz__parzen_prior;

typedef struct pz__mixture {
    size_t n;         /* components in use (prior included) */
    size_t cap;       /* capacity of every array */
    double *w;        /* n weights, sum 1 */
    double *mu;       /* n means in mixture space, ascending after fit */
    double *sigma;    /* n standard deviations > 0 */
    double low, high; /* truncation in mixture space; -inf/+inf: none */
    double q;         /* quantum in value space; 0: continuous */
    bool log_space;   /* LGMM: components over log(x); values are x */
    bool normalise;   /* divide by the mass inside [low, high) */
    /* Derived by pz__mixture_prepare; private to mixture.c. */
    double *scratch;         /* cap doubles of scratch for the fit */
    double *d_mu, *d_inv;    /* merged components: means, 1/sigma */
    double *d_sig, *d_r;     /* sigma; coefficient relative to the max */
    size_t n_d, n_narrow;    /* merged count; narrow ones come first */
    size_t n_wcls;           /* wide components' sigma classes, or 0 */
    size_t wcls_end[16];     /* end of each class (by mean within) */
    double wcls_reach[16];   /* BOUND_SIGMAS x the class's largest sigma */
    double d_smin;           /* smallest merged sigma */
    size_t n_smin;           /* components with that sigma (split only) */
    double reach;            /* narrow components further away vanish */
    double core;             /* quantized: window of the lower bound */
    bool safe_reach;         /* reach / smallest sigma <= 37 */
    double *bin_lo, *bin_hi; /* continuous: narrow means, binned */
    double *bin_r, *bin_a;   /* per bin: summed coefficients, and the */
    double *bin_b, *bin_c;   /* Jensen bound's quadratic (build_bins) */
    size_t n_bins;
    size_t n_eq;           /* fast Gauss transform: narrow components of
                              the smallest sigma, first; 0 when off */
    size_t n_boxes;        /* their boxes, ascending centres */
    double *box_c, *box_r; /* box centre, summed coefficients */
    double *box_a;         /* moments, FGT_TERMS per box */
    double inv_delta;      /* 1 / (sqrt(2) smallest sigma) */
    double log_scale;      /* log of what d_r is relative to */
    double tail;           /* bound on the terms a window leaves out */
    struct pz__mixture_item *items, *items2; /* sort scratch; 3 x cap in all */
    uint32_t *radix_cnt;                     /* radix counters or NULL */
} pz__mixture;

/* Take arrays for up to 'cap' components from 'arena' and clear 'm'
 * (no bounds, continuous, normalised). PZ_ENOMEM when the arena fails. */
int pz__mixture_alloc(pz__mixture *m, size_t cap, pz__arena *arena);
/* Linear-forgetting weights of n observations in tid order: 1 for the
 * newest 'lf', a ramp from 1/n up to 1 for the older ones. */
void pz__mixture_lf_weights(double *w, size_t n, size_t lf);
/* Hyperopt's adaptive_parzen_normal: one component per observation
 * ('obs', n_obs values in mixture space, tid order) plus the prior,
 * bandwidths from neighbour gaps clipped to [prior.sigma / min(100,
 * n_obs + 2), prior.sigma], forgetting weights. Needs cap >= n_obs + 1.
 * Sets w, mu (ascending), sigma and n, then prepares 'm' (bounds, q and
 * log_space must already be set). */
void pz__mixture_fit(pz__mixture *m, const double *obs, size_t n_obs,
                     const pz__parzen_prior *prior);
/* The same fit from observations the caller sorted: pz__mixture_items(m)
 * [0, n_obs) in ascending (key, pos) order, positions 0..n_obs-1. */
void pz__mixture_fit_sorted(pz__mixture *m, size_t n_obs,
                            const pz__parzen_prior *prior);
/* The cap items pz__mixture_fit_sorted reads. */
pz__mixture_item *pz__mixture_items(pz__mixture *m);
/* Derive the sampling and density tables after w/mu/sigma/n or the
 * bounds changed. Components need not be sorted (sorted is faster). */
void pz__mixture_prepare(pz__mixture *m);
/* One draw in value space: a component by weight, a normal deviate
 * (rejected until inside [low, high) when bounded), exp'd for an LGMM,
 * rounded to q (half to even) when quantized. */
double pz__mixture_sample(const pz__mixture *m, pz__rng *rng);
/* Log-density (log-probability when quantized) of each of the 'n'
 * values 'x' into 'out'. -inf outside the support. */
void pz__mixture_logpdf(const pz__mixture *m, const double *x, size_t n,
                        double *out);
/* TPE's choice: the index of the first of the n candidates 'x' that
 * maximises log l(x) - log g(x) (NaN scores never win; 0 when none is a
 * number). The same index as comparing pz__mixture_logpdf under both,
 * but g is only evaluated in full where a cheap lower bound of it
 * (binned components, or the nearest ones) cannot rule the candidate
 * out. 'll' and 'ub' are n doubles of scratch ('ll' ends up log l). */
size_t pz__mixture_argmax_ratio(const pz__mixture *l, const pz__mixture *g,
                                const double *x, size_t n, double *ll,
                                double *ub);

/* A categorical posterior: weighted counts of observed categories plus
 * prior pseudo-counts, prior_weight each (choice, randint) or
 * k * prior_weight * p0[i] (pchoice). Counts are looked up in 'counts'
 * when given (k entries), else by scanning the observations, so a
 * randint with a huge range costs no memory. */
typedef struct pz__categorical {
    size_t k;            /* categories */
    double offset;       /* value of category 0: randint's low, else 0 */
    const double *p0;    /* pchoice's k probabilities; NULL: uniform */
    double prior_weight; /* > 0 */
    const double *obs;   /* n observed values (offset included), borrowed */
    const double *obs_w; /* their forgetting weights, borrowed */
    size_t n;
    double *counts; /* k weighted counts, or NULL */
    double total;   /* sum of counts and pseudo-counts */
} pz__categorical;

/* Fill 'c' from the observations; 'obs_w' must hold the forgetting
 * weights of 'obs' (pz__mixture_lf_weights). 'counts' may be NULL. */
void pz__mixture_categorical(pz__categorical *c, size_t k, double offset,
                             const double *p0, double prior_weight,
                             const double *obs, const double *obs_w, size_t n,
                             double *counts);
/* log p(category 'i'), i in [0, k). */
double pz__mixture_categorical_logp(const pz__categorical *c, size_t i);
/* A category index drawn from the posterior. */
size_t pz__mixture_categorical_sample(const pz__categorical *c, pz__rng *rng);

/* ---------------------------------------------------------------- normal */

/* Standard normal math (normal.c). Phi(zu) - Phi(zl) for zl <= zu,
 * accurate in both tails. */
double pz__normal_mass(double zl, double zu);
/* log(Phi(zu) - Phi(zl)) for zl <= zu, accurate in both tails; -inf for
 * an empty interval. */
double pz__normal_log_mass(double zl, double zu);
/* A standard normal deviate conditioned on [a, b), a < b. */
double pz__normal_truncated(double a, double b, pz__rng *rng);

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
/* vt->ask, unless a mutant (below) replaces the sampler. */
int pz__sampler_ask(const pz__sampler_vt *vt, void *st,
                    const pz__sampler_ctx *ctx, double *x, pz_error *err);

/* Test-only mutants, to prove that tests of what a sampler does can fail
 * (scripts/mutation-check.sh; never set outside tests, like
 * pz__alloc_fail_after): "random" draws every point of every sampler
 * from the prior, "tpe-no-selection" makes TPE keep its first candidate
 * from l(x) instead of the best of n_EI_candidates by l(x)/g(x). */
typedef enum pz__mutant {
    PZ__MUTANT_NONE,
    PZ__MUTANT_RANDOM,
    PZ__MUTANT_TPE_NO_SELECTION,
} pz__mutant;
/* "none", "random" or "tpe-no-selection"; PZ_EINVAL for other names. */
int pz__sampler_set_mutant(const char *name);
pz__mutant pz__sampler_mutant(void);
/* Prior sampling of a whole point, honouring conditions. */
void pz__sampler_draw_prior(const pz_space *sp, pz__rng *rng, double *x);
/* Split "tpe.gamma" into prefix length; checks 'key' starts with
 * "<name>.". Returns the suffix or NULL. */
const char *pz__sampler_option_suffix(const char *key, const char *name);

extern const pz__sampler_vt pz__sampler_random;
extern const pz__sampler_vt pz__sampler_tpe;
extern const pz__sampler_vt pz__sampler_anneal;
extern const pz__sampler_vt pz__sampler_mix;
extern const pz__sampler_vt pz__sampler_mtpe;

/* sampler_mtpe.c, for the tests: the good and bad densities of the root
 * group (the unconditional parameters, in table order) fitted to 'hist'
 * with the default options overridden by keys/vals, evaluated at
 * n_points points (n_points x D values, value space) into log_l/log_g,
 * and n_draws joint draws from l(x) into draws (n_draws x D). */
typedef struct pz__mtpe_probe_args {
    const pz_space *space;
    const pz__history *hist;
    const char *const *keys;
    const double *vals;
    size_t n_opts;
    const double *points;
    size_t n_points;
    size_t n_draws;
    uint64_t seed;
    bool no_screen; /* evaluate every kernel (tests of the screen) */
} pz__mtpe_probe_args;
int pz__mtpe_probe(const pz__mtpe_probe_args *pa, double *log_l, double *log_g,
                   double *draws, pz_error *err);

/* ------------------------------------------------------------- runner_io */

/* What the local process pool (runner.c) does around a trial's process
 * without touching processes: bounded output tails, parsing a result,
 * building a trial's argv from the {label} template (runner_io.c). */

/* The last 'cap' bytes of a stream, in a ring. */
typedef struct pz__tail {
    char *buf;      /* cap bytes */
    size_t cap;     /* > 0 */
    size_t len;     /* bytes kept, <= cap */
    size_t head;    /* index of the oldest kept byte */
    uint64_t total; /* bytes pushed since the last reset */
} pz__tail;

int pz__runner_io_tail_init(pz__tail *t, size_t cap, pz_error *err);
void pz__runner_io_tail_fini(pz__tail *t);
void pz__runner_io_tail_reset(pz__tail *t);
void pz__runner_io_tail_push(pz__tail *t, const char *p, size_t n);
/* The kept bytes, oldest first (borrowed; rotates the ring in place). */
const char *pz__runner_io_tail_bytes(pz__tail *t, size_t *len);
/* The last line of 'buf' with any text (trailing blank lines skipped),
 * without its newline; NULL when there is none. */
const char *pz__runner_io_last_line(const char *buf, size_t len,
                                    size_t *line_len);

/* Parse a result (the text of the result file or the last line of
 * stdout): a number, or a JSON object with "loss", "status" and other
 * keys kept. Anything unusable gives an ERROR outcome with the reason;
 * the call fails only with PZ_ENOMEM. The public pz_command_outcome_of
 * (which also reads how the command ended) calls it. */
int pz__runner_io_parse(const char *text, size_t len, pz_command_outcome *o,
                        pz_error *err);

/* ------------------------------------------------------------------ stop */

/* The best trial's loss (studies hold pz_trial_loss values, so a "fail"
 * trial is +inf); NaN when there is none (stop.c). */
double pz__stop_best_loss(const pz_study *st);
/* The loss a study is told for an outcome (see pz_study_tell): a DONE
 * or PRUNED trial's pz_trial_loss, NaN for the others (the history gives
 * pending trials +inf itself). */
double pz__stop_told_loss(pz_trial_state state, const char *status,
                          double loss);

#endif /* PZ_INTERNAL_H */
