/*
 * parzen.h -- the whole public C API of parzen, a hyperparameter optimizer.
 *
 * A user builds a search space ('pz_space'), opens a study on it
 * ('pz_study'), then loops: 'pz_study_ask' proposes a point for a new
 * trial, the caller evaluates it, 'pz_study_tell' records the outcome.
 * Samplers ("random", "tpe", "anneal", "mix") read the study's history.
 *
 * Conventions (see docs/architecture.md):
 * - Handles are opaque. Constructors return a status and write an
 *   out-pointer (NULL on failure); destructors accept NULL.
 * - Every fallible function returns 0 (PZ_OK) or a negative 'pz_status'
 *   and takes a caller-owned 'pz_error *err' last; 'err' may be NULL.
 * - Strings passed in are copied. Arrays passed in are borrowed for the
 *   duration of the call. Pointers returned are borrowed from their
 *   handle unless a comment says "transferred".
 * - A handle is used by one thread at a time. Different handles are
 *   independent; the library has no global mutable state except the
 *   allocator set by 'pz_set_allocator'.
 */
#ifndef PARZEN_H
#define PARZEN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PZ_VERSION_MAJOR 0
#define PZ_VERSION_MINOR 1
#define PZ_VERSION_PATCH 0
#define PZ_VERSION_STRING "0.1.0"

/* ---------------------------------------------------------------- status */

/* One table generates the enum, 'pz_status_name' and 'pz_strerror'. */
#define PZ_STATUS_MAP(XX)                                                      \
    XX(EINVAL, -1, "invalid argument")                                         \
    XX(ENOMEM, -2, "out of memory")                                            \
    XX(ESPACE, -3, "invalid search space")                                     \
    XX(ESTORE, -4, "trial store error")                                        \
    XX(EBUSY, -5, "trial store is locked")                                     \
    XX(ECANCELED, -6, "operation canceled")                                    \
    XX(ENOTFOUND, -7, "not found")                                             \
    XX(EIO, -8, "input/output error")                                          \
    XX(EINTERNAL, -9, "internal error (bug)")

typedef enum pz_status {
    PZ_OK = 0,
#define PZ__STATUS_ENUM(name, code, text) PZ_##name = (code),
    PZ_STATUS_MAP(PZ__STATUS_ENUM)
#undef PZ__STATUS_ENUM
} pz_status;

/* A specific message about the last failure of a call that took it. */
typedef struct pz_error {
    int code;      /* PZ_OK or a negative pz_status */
    char msg[256]; /* NUL-terminated, names the label/path/trial, no '\n' */
} pz_error;

/* "PZ_EINVAL" for PZ_EINVAL; "PZ_UNKNOWN" for codes not in the table. */
const char *pz_status_name(int code);
/* "invalid argument" for PZ_EINVAL; a static string, never NULL. */
const char *pz_strerror(int code);
/* "0.1.0" */
const char *pz_version(void);

/* ------------------------------------------------------------- allocator */

/* Replace malloc/realloc/free for the whole library: 'fn(ud, ptr, osize,
 * nsize)' behaves like Lua's lua_Alloc (nsize == 0 frees, returns NULL).
 * Call before creating any handle; passing NULL restores the default.
 * Not thread-safe with respect to other parzen calls. */
typedef void *(*pz_alloc_fn)(void *ud, void *ptr, size_t osize, size_t nsize);
void pz_set_allocator(pz_alloc_fn fn, void *ud);

/* ------------------------------------------------------------------ space */

typedef struct pz_space pz_space;

/* Distributions, with hyperopt's sampling semantics (docs/space-format.md):
 * q-variants round with round-half-to-even, log-variants take their
 * bounds in log space, uniformint is quniform(q=1) reported as an int,
 * randint draws from [low, high). */
typedef enum pz_dist {
    PZ_UNIFORM,
    PZ_QUNIFORM,
    PZ_LOGUNIFORM,
    PZ_QLOGUNIFORM,
    PZ_NORMAL,
    PZ_QNORMAL,
    PZ_LOGNORMAL,
    PZ_QLOGNORMAL,
    PZ_RANDINT,
    PZ_UNIFORMINT,
    PZ_CHOICE,
    PZ_PCHOICE,
    PZ_DIST_COUNT
} pz_dist;

/* Numeric arguments of a parameter. Which fields matter depends on the
 * distribution: uniform-likes use low/high(/q), normal-likes mu/sigma(/q),
 * randint low/high, choice n_options, pchoice n_options and probs. */
typedef struct pz_param_spec {
    pz_dist dist;
    double low, high;    /* uniform, loguniform (log space), randint, ... */
    double mu, sigma;    /* normal, lognormal and their q-variants */
    double q;            /* quantum of q-variants; 0 otherwise */
    size_t n_options;    /* choice and pchoice */
    const double *probs; /* pchoice: n_options probabilities; borrowed */
} pz_param_spec;

/* A condition under which a parameter is active: choice parameter
 * 'parent' (a parameter index) has the value 'option'. Top-level
 * parameters have parent == PZ_NO_PARENT. */
#define PZ_NO_PARENT ((size_t)-1)

/* Create an empty space. Free with pz_space_free. */
int pz_space_new(pz_space **out, pz_error *err);
void pz_space_free(pz_space *space);

/* Add a parameter, active when (parent, option) holds; returns its index
 * in '*index' (may be NULL). 'label' is copied. Fails with PZ_ESPACE and
 * a message naming the label when the label is empty or already used,
 * the arguments are invalid (low >= high, non-finite values, q <= 0,
 * sigma <= 0, empty randint range, no options, pchoice probabilities
 * negative or not summing to 1 within 1e-9), or the parent is not a
 * choice/pchoice with that option. On failure the space is unchanged. */
int pz_space_add(pz_space *space, const char *label, const pz_param_spec *spec,
                 size_t parent, size_t option, size_t *index, pz_error *err);

/* Number of parameters. Parameters are numbered 0..n-1 in the order they
 * were added; a parameter always comes after its parent. */
size_t pz_space_size(const pz_space *space);
/* Label of parameter i (borrowed; valid while the space lives), or NULL
 * when i is out of range. */
const char *pz_space_label(const pz_space *space, size_t i);
/* Index of the parameter labelled 'label', or PZ_ENOTFOUND. */
int pz_space_find(const pz_space *space, const char *label, size_t *index);
/* Copy parameter i's spec (probs borrowed from the space), parent and
 * option. Returns PZ_EINVAL when i is out of range. */
int pz_space_param(const pz_space *space, size_t i, pz_param_spec *spec,
                   size_t *parent, size_t *option, pz_error *err);
/* Name of a distribution as in the JSON form ("uniform", ...). */
const char *pz_dist_name(pz_dist dist);

/* Fill 'active[i]' (1 or 0) for every parameter of a point whose values
 * are 'values' (one per parameter; inactive ones ignored). */
void pz_space_activity(const pz_space *space, const double *values,
                       unsigned char *active);

/* Check a full point: every active value lies in the support of its
 * distribution (an index in range for choice, an integer for randint,
 * on the grid for q-variants up to rounding). The message names the
 * label. */
int pz_space_check_point(const pz_space *space, const double *values,
                         pz_error *err);

/* Parse the JSON form of a space (docs/space-format.md) from 'len' bytes
 * of 'text'. Errors are PZ_ESPACE with the JSON path and line:column,
 * e.g. "$.model.options[1].C (line 4, column 12): sigma must be > 0". */
int pz_space_from_json(pz_space **out, const char *text, size_t len,
                       pz_error *err);
/* Read and parse a space file; errors name the file. */
int pz_space_from_file(pz_space **out, const char *path, pz_error *err);
/* Serialize a space to JSON (transferred: free with pz_free). Parsing
 * the result gives an equal space. Spaces built with pz_space_add have
 * no template: they serialize as a flat object of their parameters. */
int pz_space_to_json(const pz_space *space, char **out, pz_error *err);

/* Rebuild the user's nested point (dicts, lists, literals, choice options
 * replaced by their values) as JSON text (transferred: pz_free). Values
 * are per parameter; inactive ones are ignored. */
int pz_space_point_json(const pz_space *space, const double *values, char **out,
                        pz_error *err);

/* Free memory returned by the library (JSON text). NULL is a no-op. */
void pz_free(void *ptr);

/* ------------------------------------------------------------------ study */

typedef struct pz_study pz_study;

/* Job states, numbered as hyperopt's JOB_STATE_*. */
typedef enum pz_trial_state {
    PZ_TRIAL_NEW = 0,
    PZ_TRIAL_RUNNING = 1,
    PZ_TRIAL_DONE = 2,
    PZ_TRIAL_ERROR = 3,
    PZ_TRIAL_CANCEL = 4
} pz_trial_state;

/* Open a study on a copy of 'space' with the "random" sampler, seed 0.
 * Free with pz_study_free. */
int pz_study_new(pz_study **out, const pz_space *space, pz_error *err);
void pz_study_free(pz_study *study);

/* The study's space (borrowed; valid while the study lives). */
const pz_space *pz_study_space(const pz_study *study);

/* Seed of every random stream: trial t draws from a stream derived from
 * (seed, t), so the same seed gives the same points whatever the order in
 * which trials finish or which worker runs them. */
void pz_study_set_seed(pz_study *study, uint64_t seed);

/* Choose the sampler by name: "random" (alias "rand"), "tpe", "anneal",
 * "mix". Resets its settings to the defaults. PZ_EINVAL names an unknown
 * sampler; the study then keeps its current sampler. */
int pz_study_set_sampler(pz_study *study, const char *name, pz_error *err);
/* Name of the current sampler (static string). */
const char *pz_study_sampler(const pz_study *study);
/* Set a sampler setting, e.g. ("tpe.gamma", 0.25), ("tpe.n_startup_jobs",
 * 20), ("mix.tpe", 0.7). PZ_EINVAL names an unknown key or a bad value. */
int pz_study_set_option(pz_study *study, const char *key, double value,
                        pz_error *err);

/* Propose a point for a new trial: the trial gets the next id (one more
 * than the largest id so far) and state RUNNING. 'values' receives one
 * value per parameter (NaN for inactive ones), in hyperopt's stored form:
 * a choice index, a quantized value, the value itself (not its log) for
 * log distributions. 'values' must hold pz_space_size() doubles. On
 * failure no trial is created. */
int pz_study_ask(pz_study *study, int64_t *trial_id, double *values,
                 pz_error *err);

/* Propose a point for trial id 'trial_id' from the history without
 * recording anything, drawing from the stream (seed, trial_id). This is
 * what hyperopt's suggest(new_ids, domain, trials, seed) needs. */
int pz_study_suggest(pz_study *study, int64_t trial_id, uint64_t seed,
                     double *values, pz_error *err);

/* Record a trial whose point was made elsewhere (resume, a user-given
 * point, another worker): values as for pz_study_ask, 'state' any state,
 * 'loss' as for pz_study_tell. PZ_EINVAL if the id exists or a value is
 * outside its distribution (the message names the label). */
int pz_study_add(pz_study *study, int64_t trial_id, const double *values,
                 pz_trial_state state, double loss, pz_error *err);

/* Record the state and loss of a trial, usually its outcome: DONE, ERROR
 * or CANCEL (any state is accepted, e.g. NEW -> RUNNING).
 * 'loss': the loss of a DONE trial; +INFINITY for "no loss" (hyperopt's
 * None: a failed or lossless trial ranks last); NaN is kept but ignored
 * by the samplers. Samplers see NEW and RUNNING trials as +INFINITY and
 * do not see ERROR or CANCEL trials at all. PZ_ENOTFOUND for an unknown
 * id; PZ_EINVAL for a bad state. Telling a trial twice overwrites. */
int pz_study_tell(pz_study *study, int64_t trial_id, pz_trial_state state,
                  double loss, pz_error *err);

/* Remove every trial (hyperopt's Trials.delete_all). */
void pz_study_clear(pz_study *study);

/* A read-only view of one trial (borrowed; valid until the next call that
 * changes the study). */
typedef struct pz_trial_info {
    int64_t id;
    pz_trial_state state;
    double loss;          /* NaN, +INFINITY or the told loss */
    const double *values; /* pz_space_size() values, NaN where inactive */
} pz_trial_info;

/* Number of trials recorded (any state). */
size_t pz_study_n_trials(const pz_study *study);
/* Count trials in a state. */
size_t pz_study_count(const pz_study *study, pz_trial_state state);
/* The i-th trial in insertion order. PZ_EINVAL when out of range. */
int pz_study_trial(const pz_study *study, size_t i, pz_trial_info *info,
                   pz_error *err);
/* The DONE trial with the smallest finite-or-infinite, non-NaN loss
 * (first one on ties). PZ_ENOTFOUND when there is none. */
int pz_study_best(const pz_study *study, pz_trial_info *info, pz_error *err);

/* ------------------------------------------------------------ stop rules */

/* Stop rules shared by every driver (fmin, the CLI, Spark). A zero or
 * NaN field is "no limit" except loss_threshold, which is off when NaN. */
typedef struct pz_stop_rules {
    size_t max_trials;     /* finished trials (DONE, ERROR, CANCEL) */
    double timeout_s;      /* wall-clock seconds since the run began */
    double loss_threshold; /* stop once the best loss is < this; NaN: off */
} pz_stop_rules;

typedef enum pz_stop_reason {
    PZ_STOP_NONE = 0,
    PZ_STOP_MAX_TRIALS,
    PZ_STOP_TIMEOUT,
    PZ_STOP_LOSS_THRESHOLD
} pz_stop_reason;

/* Rules with no limits (loss_threshold NaN). The best loss for
 * loss_threshold is, as in hyperopt, the smallest non-NaN loss of any
 * DONE trial, whatever its status. */
pz_stop_rules pz_stop_rules_none(void);
/* Which rule, if any, says the run is over after 'elapsed_s' seconds. */
pz_stop_reason pz_stop_check(const pz_stop_rules *rules, const pz_study *study,
                             double elapsed_s);
/* "max_trials", "timeout", "loss_threshold" or "none". */
const char *pz_stop_reason_name(pz_stop_reason reason);

#ifdef __cplusplus
}
#endif
#endif /* PARZEN_H */
