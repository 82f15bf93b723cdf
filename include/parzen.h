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

/* A specific message about the last failure of a call that took it. The
 * message is one line with no control character: those of the labels,
 * paths and texts it quotes are escaped as \n, \r, \t or \xNN
 * (backslashes are kept as they are). */
typedef struct pz_error {
    int code;      /* PZ_OK or a negative pz_status */
    char msg[256]; /* NUL-terminated, names the label/path/trial */
} pz_error;

/* "PZ_EINVAL" for PZ_EINVAL; "PZ_UNKNOWN" for codes not in the table. */
const char *pz_status_name(int code);
/* "invalid argument" for PZ_EINVAL; a static string, never NULL. */
const char *pz_strerror(int code);
/* "0.1.0" */
const char *pz_version(void);
/* 'v' as the shortest of %.15g, %.16g and %.17g that reads back as 'v'
 * (0.1 is "0.1", 100 is "100"): the one form in which parzen writes
 * numbers, in JSON (points, spaces, records) and on the command line.
 * 'buf' holds n >= 32 bytes. */
void pz_format_double(double v, char *buf, size_t n);

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
/* A deep copy of 'space' (parameters and the JSON form's template), no
 * text parsed. Free with pz_space_free. PZ_ENOMEM. */
int pz_space_copy(pz_space **out, const pz_space *space, pz_error *err);

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

/* Job states, numbered as hyperopt's JOB_STATE_* (0..4). One table
 * generates the enum and 'pz_trial_state_name' (the names the CLI prints
 * and the Python package shows, through _core.trial_state_name). PRUNED
 * is parzen's own: a pruner stopped the trial (pz_study_should_prune);
 * its loss is its last reported value. Samplers see PRUNED trials
 * through the rule of pz_study_set_pruned_rule. */
#define PZ_TRIAL_STATE_MAP(XX)                                                 \
    XX(NEW, 0, "new")                                                          \
    XX(RUNNING, 1, "running")                                                  \
    XX(DONE, 2, "done")                                                        \
    XX(ERROR, 3, "error")                                                      \
    XX(CANCEL, 4, "cancel")                                                    \
    XX(PRUNED, 5, "pruned")

typedef enum pz_trial_state {
#define PZ__TRIAL_STATE_ENUM(name, code, text) PZ_TRIAL_##name = (code),
    PZ_TRIAL_STATE_MAP(PZ__TRIAL_STATE_ENUM)
#undef PZ__TRIAL_STATE_ENUM
} pz_trial_state;
#define PZ_TRIAL_STATE_COUNT 6

/* "new", "running", "done", "error", "cancel" or "pruned"; "unknown"
 * for a value outside the table. */
const char *pz_trial_state_name(int state);

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

/* Remove every trial (hyperopt's Trials.delete_all), with its reports. */
void pz_study_clear(pz_study *study);

/* ---------------------------------------------------------------- pruning */

/* Pruners stop unpromising trials from their intermediate values
 * (docs/pruning.md). Every driver reports through the study, so the CLI
 * runner and the Python driver decide alike:
 *   pz_study_report(tid, step, value) ... pz_study_should_prune(tid)
 *   -> stop the trial, pz_study_tell(tid, PZ_TRIAL_PRUNED, last value).
 *
 * 'kind' and its options ('options_json', a JSON object; NULL or "{}"
 * for the defaults):
 *   "median"    n_startup_trials 5, n_warmup_steps 0, interval_steps 1:
 *               prune when the trial's best value so far is worse than
 *               the median of the DONE trials' values at the same step,
 *               once n_startup_trials trials are DONE (Optuna's
 *               MedianPruner);
 *   "sha"       min_resource 1, reduction_factor 3,
 *               min_early_stopping_rate 0: asynchronous successive
 *               halving; rung r is reached at step min_resource *
 *               reduction_factor^(min_early_stopping_rate + r), and a
 *               trial reaching it goes on only when its value is among
 *               the best 1/reduction_factor of the values recorded at
 *               that rung so far (the best one while fewer than
 *               reduction_factor are recorded); it never waits;
 *   "hyperband" min_resource 1, max_resource "auto" (1 + the largest last
 *               step of the DONE trials, known once one is DONE; no trial
 *               is pruned before) or an integer, reduction_factor 3:
 *               brackets of "sha" with min_early_stopping_rate 0, 1, ...;
 *               trial t's bracket is chosen from t with Optuna's budget
 *               per bracket, and rungs are shared only within a bracket;
 *   "none"      no pruning (the default).
 * PZ_EINVAL names an unknown kind, an unknown key or a bad value; the
 * study then keeps its pruner. Setting a pruner rebuilds its tables from
 * the reports already recorded (a resumed study). */
int pz_study_set_pruner(pz_study *study, const char *kind,
                        const char *options_json, pz_error *err);
/* Name of the current pruner ("none", "median", "sha", "hyperband"). */
const char *pz_study_pruner(const pz_study *study);

/* pz_study_report's "not stored" return: not an error. */
#define PZ_REPORT_IGNORED 1

/* Record the intermediate value of trial 'trial_id' at 'step' (>= 0,
 * strictly increasing per trial). A non-finite value is not stored: the
 * call returns PZ_REPORT_IGNORED with err->msg "trial T: non-finite value
 * nan at step S ignored" for the caller to warn with. PZ_EINVAL when the
 * step does not increase ("trial T: step S reported after step P") or is
 * negative; PZ_ENOTFOUND for an unknown id. */
int pz_study_report(pz_study *study, int64_t trial_id, int64_t step,
                    double value, pz_error *err);

/* Should trial 'trial_id' stop now, from its last report and the reports
 * of all trials? '*out' is 1 or 0 (0 with no pruner or no report). */
int pz_study_should_prune(pz_study *study, int64_t trial_id, int *out,
                          pz_error *err);

/* The reports of a trial, in step order (borrowed; valid until the next
 * call that changes the study). PZ_ENOTFOUND for an unknown id. */
int pz_study_reports(const pz_study *study, int64_t trial_id, size_t *n,
                     const int64_t **steps, const double **values,
                     pz_error *err);

/* How tpe, anneal and mtpe use PRUNED trials: "bad" (the default)
 * counts them as bad observations only (never among the good ones, like
 * pending trials); "rank" ranks them after every DONE trial, among
 * themselves by the last step reached (later first) then by the value
 * there, as Optuna's TPE does (it lets pruned trials into the good set
 * when there are few DONE ones); "ignore" hides them; "budget" ranks
 * DONE and PRUNED trials together by the value each reported at one
 * step, the deepest that at least (parameters + 3) of them reached (as
 * BOHB fits its model on the largest budget with enough observations),
 * those short of it after them by the step they reached, then that
 * value (a DONE trial without reports counts as reaching every step with
 * its loss; with no PRUNED trial every rule uses the plain losses). bench/
 * bench_pruned_rule.py: bad and rank tie for tpe and anneal, bad is
 * ahead for mtpe, ignore is worse for all three (docs/benchmarks.md).
 * PZ_EINVAL for another name. */
int pz_study_set_pruned_rule(pz_study *study, const char *rule, pz_error *err);
/* The current rule: "bad", "rank", "ignore" or "budget" (static
 * string). */
const char *pz_study_pruned_rule(const pz_study *study);

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
    size_t max_trials;     /* trials that count (pz_trial_counts) */
    double timeout_s;      /* wall-clock seconds since the run began */
    double loss_threshold; /* stop once the best loss is < this; NaN: off */
} pz_stop_rules;

typedef enum pz_stop_reason {
    PZ_STOP_NONE = 0,
    PZ_STOP_MAX_TRIALS,
    PZ_STOP_TIMEOUT,
    PZ_STOP_LOSS_THRESHOLD
} pz_stop_reason;

/* The one meaning of the words every driver uses (docs/architecture.md,
 * "One meaning"):
 * - a trial counts toward max_trials (fmin's max_evals, --max-evals) from
 *   its start until it ends, unless it ends CANCEL (lost with its worker or
 *   driver, abandoned, stopped: it gives its place back). Queued (NEW)
 *   trials are started before any new point is asked, so a driver that
 *   asks counts them too;
 * - the loss of a trial (pz_trial_loss): a DONE trial with status "ok"
 *   (or no status) has its loss; a DONE trial with any other status
 *   ("fail") has +inf whatever loss it reported; NEW and RUNNING have
 *   +inf (hyperopt's rule for pending trials); ERROR and CANCEL have NaN
 *   (invisible to samplers); a PRUNED trial counts and has its last
 *   reported value (samplers see it by pz_study_set_pruned_rule; it is
 *   never the best trial);
 * - the best trial is the DONE trial with the smallest non-NaN loss
 *   (first on ties), and loss_threshold compares that loss. */
int pz_trial_counts(pz_trial_state state); /* 1: counts, 0: not */
double pz_trial_loss(pz_trial_state state, const char *status, double loss);
/* The trials of 'study' that count toward max_trials. */
size_t pz_stop_counted(const pz_study *study);
/* Rules with no limits (loss_threshold NaN). The best loss for
 * loss_threshold is the best trial's (see above). */
pz_stop_rules pz_stop_rules_none(void);
/* Which rule, if any, says the run is over after 'elapsed_s' seconds. */
pz_stop_reason pz_stop_check(const pz_stop_rules *rules, const pz_study *study,
                             double elapsed_s);
/* "max_trials", "timeout", "loss_threshold" or "none". */
const char *pz_stop_reason_name(pz_stop_reason reason);

/* ------------------------------------------------------------------ store */

/* A durable trial store: one SQLite file holding any number of studies by
 * name, each with its space (JSON form), sampler, sampler options, seed
 * and every trial (point, state, loss, status, result document, error
 * text, timestamps, owner, captured output).
 *
 * Several handles, in one process or in several processes on one machine,
 * may share a file: each state change is one transaction, trial ids are
 * reserved under the write lock, and every write first loads the changes
 * other handles made, so the sampler sees everybody's trials. A process
 * killed at any moment leaves every committed trial intact; a trial it
 * was running stays RUNNING until pz_store_mark_lost (or the next
 * pz_store_ask of any handle) finds its owner gone and marks it CANCEL.
 *
 * A store handle is used by one thread at a time. It owns the pz_study
 * it keeps in sync with the file (pz_store_study). */
typedef struct pz_store pz_store;

/* Flags of pz_store_open. */
#define PZ_STORE_CREATE 1u /* create the file (with the umask) if missing */

/* Open the store file 'path' (copied): WAL mode, a busy timeout, the
 * schema created or migrated to the current version. Without
 * PZ_STORE_CREATE a missing file is PZ_ESTORE "no store at ...".
 * PZ_ESTORE also for a file that is not a parzen store, is corrupt, or
 * was written by a newer parzen (the message names the file); PZ_EBUSY
 * when another process holds the lock past the busy timeout. Close with
 * pz_store_close. */
int pz_store_open(pz_store **out, const char *path, unsigned flags,
                  pz_error *err);
/* Close the handle. Trials this handle reserved and never told are
 * marked CANCEL ("abandoned"). NULL is a no-op. */
void pz_store_close(pz_store *store);
/* The path given to pz_store_open (borrowed). */
const char *pz_store_path(const pz_store *store);

/* Flags of pz_study_config: which settings are only defaults for a new
 * study, so that an existing study keeps its own. */
#define PZ_STUDY_DEFAULT_SAMPLER 1u /* sampler and options */
#define PZ_STUDY_DEFAULT_SEED 2u

/* How to create a study, or what an existing one must match. */
typedef struct pz_study_config {
    const char *space_json;   /* JSON form of the space (docs/space-format) */
    const char *sampler;      /* "tpe", "random"/"rand", "anneal", "mix" */
    const char *options_json; /* {"tpe.gamma": 0.25, ...}, or NULL: none */
    uint64_t seed;            /* root of every trial's random stream */
    unsigned flags;           /* PZ_STUDY_DEFAULT_* */
    /* the space already parsed (copied; space_json is then not read), or
     * NULL; last, so initializers by position keep their meaning */
    const pz_space *space;
} pz_study_config;

/* Make study 'name' (copied) the handle's current study and load it.
 * With 'cfg' (strings and space copied): create the study if it does
 * not exist;
 * if it does, its space must equal cfg's (compared in canonical form)
 * and so must the sampler, options and seed unless flagged as defaults,
 * else PZ_EINVAL names what differs. Without 'cfg' (NULL) the study must
 * exist (PZ_ENOTFOUND otherwise). Then a pz_study is built from the
 * stored settings, with every stored trial added in id order. On failure
 * the handle keeps its previous study, if any. */
int pz_store_open_study(pz_store *store, const char *name,
                        const pz_study_config *cfg, pz_error *err);

/* The current study, kept in sync by the calls below (borrowed; valid
 * until the next pz_store_open_study or pz_store_close), or NULL. Read
 * it only: its trials and settings change through the store. */
pz_study *pz_store_study(pz_store *store);

/* Settings of the current study (strings borrowed from the handle). */
typedef struct pz_store_study_info {
    const char *name;
    const char *space_json;   /* canonical JSON form */
    const char *sampler;      /* canonical name: "random", "tpe", ... */
    const char *options_json; /* JSON object, "{}" for none */
    uint64_t seed;
    double created_at; /* Unix time, seconds */
    int created_now;   /* 1 when pz_store_open_study created it */
} pz_store_study_info;

/* PZ_EINVAL before any pz_store_open_study succeeded. */
int pz_store_study_info_get(const pz_store *store, pz_store_study_info *info,
                            pz_error *err);

/* A summary of one study of the file, for pz_store_each_study. */
typedef struct pz_store_study_summary {
    const char *name;    /* borrowed for the duration of the callback */
    const char *sampler; /* borrowed likewise */
    uint64_t seed;
    double created_at;
    size_t n_state[PZ_TRIAL_STATE_COUNT]; /* trials per pz_trial_state */
    double best_loss; /* smallest loss of a DONE 'ok' trial; NaN: none */
} pz_store_study_summary;

/* Walk callbacks: a non-zero return stops the walk, and the walking
 * function returns that value (with a generic message in 'err'). They
 * run inside a read transaction and must not call the same handle. */
typedef int (*pz_store_study_fn)(const pz_store_study_summary *s, void *ud);
/* Every study of the file, by name. */
int pz_store_each_study(pz_store *store, pz_store_study_fn fn, void *ud,
                        pz_error *err);

/* Returned as the id by pz_store_ask when no trial may start. */
#define PZ_NO_TRIAL ((int64_t)-1)
/* Flags of pz_store_ask. */
#define PZ_ASK_RETRY_LOST 1u /* re-run a CANCEL trial (lost, interrupted) */

/* Start a trial, in one write transaction: load the other handles'
 * changes into the study, mark trials whose owner is gone as lost, then
 *   - if 'max_trials' > 0 and the RUNNING, DONE and ERROR trials of the
 *     study already number 'max_trials', start nothing: '*trial_id' is
 *     PZ_NO_TRIAL and the call returns PZ_OK;
 *   - else claim the oldest NEW trial (a queued point, pz_store_add),
 *     else with PZ_ASK_RETRY_LOST the oldest CANCEL trial (same id and
 *     point), else reserve id = 1 + the largest id of the study (0 for
 *     the first) and ask the sampler for its point (pz_study_suggest
 *     with the study seed).
 * The trial is stored RUNNING, owned by this handle (host, pid, lease).
 * 'values' receives pz_space_size() values as pz_study_ask gives them.
 * On failure no trial starts (after an out-of-memory past the commit the
 * stored trial is marked CANCEL when the handle closes). */
int pz_store_ask(pz_store *store, size_t max_trials, unsigned flags,
                 int64_t *trial_id, double *values, pz_error *err);

/* Queue a point (values as for pz_study_add) as a NEW trial with the next
 * id; pz_store_ask runs queued points first (hyperopt's
 * points_to_evaluate). PZ_EINVAL names a value outside its support. */
int pz_store_add(pz_store *store, const double *values, int64_t *trial_id,
                 pz_error *err);

/* Start trial 'trial_id', which must be queued (NEW) or CANCEL (a re-run
 * of a lost or interrupted trial, same id and point), in one write
 * transaction: it is stored RUNNING, owned by this handle, as
 * pz_store_ask stores the trial it picks. For a driver that chooses
 * which queued trial it runs (the Python StoreTrials). PZ_ENOTFOUND for
 * an id the study does not have; PZ_EINVAL when the trial is RUNNING,
 * DONE or ERROR (e.g. another handle started it first). */
int pz_store_start(pz_store *store, int64_t trial_id, pz_error *err);

/* The outcome of a trial. */
typedef struct pz_trial_result {
    pz_trial_state state; /* DONE, ERROR or CANCEL */
    double loss;          /* NaN: none (a DONE 'fail' trial ranks last) */
    const char *status;   /* "ok" or "fail"; NULL: "ok" if DONE else "fail" */
    const char *result_json; /* the result document, or NULL */
    const char *error;       /* why it failed or was cancelled, or NULL */
    const char *stdout_tail; /* captured output (any bytes), or NULL */
    size_t stdout_len;
    const char *stderr_tail;
    size_t stderr_len;
} pz_trial_result;

/* Record the outcome of trial 'trial_id' (strings copied) in one
 * transaction and tell the study. PRUNED is an outcome too (its loss the
 * last reported value, status "ok" unless given). The first outcome wins: a
 * trial that is already DONE or ERROR (another handle's result after it took
 * over a lost trial) keeps its result and the call still returns PZ_OK. A
 * result for a trial marked lost is recorded. PZ_ENOTFOUND for an id the
 * study does not have; PZ_EINVAL for a state that is not an outcome. */
int pz_store_tell(pz_store *store, int64_t trial_id, const pz_trial_result *res,
                  pz_error *err);

/* Store trial 'trial_id''s intermediate value at 'step' in one write
 * transaction and report it to the study (pz_study_report's rules and
 * return codes: PZ_REPORT_IGNORED for a non-finite value, which is not
 * stored). Other handles' reports reach this one's study at each sync,
 * so the study's pruner decides from the reports of every process. A
 * re-run of a lost trial (same id) starts its steps again. */
int pz_store_report(pz_store *store, int64_t trial_id, int64_t step,
                    double value, pz_error *err);

/* Load the changes other handles made since the last call into the
 * study (Trials.refresh). */
int pz_store_sync(pz_store *store, pz_error *err);

/* Mark RUNNING trials whose owner is gone as CANCEL with the reason
 * "lost: ...": the owner is on this host and its process no longer runs
 * (pid and start time), or it is on another host and its lease expired.
 * '*n_marked' (may be NULL) receives how many were marked. */
int pz_store_mark_lost(pz_store *store, size_t *n_marked, pz_error *err);

/* Lease of trials this handle starts, in seconds (default 60): another
 * host treats them as lost once it expires without pz_store_renew. */
void pz_store_set_lease(pz_store *store, double seconds);
/* Extend the lease of every RUNNING trial this handle owns. */
int pz_store_renew(pz_store *store, pz_error *err);

/* One trial as stored (every pointer borrowed for the duration of the
 * callback). */
typedef struct pz_trial_record {
    int64_t id;
    pz_trial_state state;
    double loss;             /* NaN when none */
    const char *status;      /* "ok", "fail", or NULL while unfinished */
    const double *values;    /* pz_space_size() values, NaN where inactive */
    const char *point_json;  /* the user's nested point */
    const char *params_json; /* {label: value} of the active parameters */
    const char *result_json; /* the result document, or NULL */
    const char *error;       /* reason of ERROR/CANCEL, or NULL */
    double queued_at;        /* Unix times in seconds; NaN when unset */
    double started_at;
    double finished_at;
    const char *owner_host; /* who ran it last, or NULL */
    int64_t owner_pid;
    double lease_until;
    int owner_gone;          /* RUNNING trials: 1 when pz_store_mark_lost would
                                mark it lost now */
    int attempts;            /* times it was started (> 1 after retries) */
    const char *stdout_tail; /* captured output tails, or NULL */
    size_t stdout_len;
    const char *stderr_tail;
    size_t stderr_len;
    size_t n_reports;            /* intermediate values (pz_store_report) */
    const int64_t *report_steps; /* n_reports steps, increasing */
    const double *report_values;
} pz_trial_record;

typedef int (*pz_trial_record_fn)(const pz_trial_record *rec, void *ud);

/* Every trial of the current study, in id order, read from the file (a
 * consistent snapshot; the study is not changed). Output tails are NULL
 * here: pz_store_get_trial has them. A callback must not call functions
 * of the same store handle. */
int pz_store_each_trial(pz_store *store, pz_trial_record_fn fn, void *ud,
                        pz_error *err);
/* Trial 'trial_id'; PZ_ENOTFOUND if the study has none. */
int pz_store_get_trial(pz_store *store, int64_t trial_id, pz_trial_record_fn fn,
                       void *ud, pz_error *err);
/* The DONE trial with status "ok" and the smallest loss (lowest id on
 * ties); PZ_ENOTFOUND when there is none. */
int pz_store_best(pz_store *store, pz_trial_record_fn fn, void *ud,
                  pz_error *err);

/* ------------------------------------------------------- command protocol */

/* The protocol between parzen and a command that evaluates trials
 * (docs/cli.md "The objective protocol"), in one place: `parzen run`
 * uses it for its local processes, `parzen run --spark` (through the
 * Python extension, on the driver) for commands its Spark executors ran.
 * A trial's argv comes from a template whose arguments may hold
 * "{label}"; its outcome from how the command ended and what it wrote. */
typedef struct pz_command pz_command;

/* A template for 'space'; 'space' and 'argv' (NULL-terminated) are
 * borrowed for the command's life. */
int pz_command_new(pz_command **out, const pz_space *space, char *const *argv,
                   pz_error *err);
void pz_command_free(pz_command *cmd);
/* The argv of one trial, NULL-terminated, borrowed until the next call:
 * every "{label}" becomes the value 'label' takes in the point ('values',
 * pz_space_size of them, NaN inactive, and their pz_space_point_json
 * text): a choice among strings gives the string, a number its shortest
 * form (pz_format_double), an inactive label ""; unknown names and other
 * braces stay as they are. */
int pz_command_argv(pz_command *cmd, const double *values,
                    const char *point_json, char *const **argv, pz_error *err);

/* How a trial's command ended and what it left. */
typedef struct pz_command_exit {
    int exit_code;           /* its exit status, when signal == 0 */
    int signal;              /* > 0: killed by this signal */
    const char *result_file; /* PARZEN_RESULT_FILE's bytes; NULL: none */
    size_t result_len;
    const char *out; /* stdout (its last bytes are enough) */
    size_t out_len;
    const char *err_text; /* stderr (likewise) */
    size_t err_len;
} pz_command_exit;

typedef struct pz_command_outcome {
    pz_trial_state state; /* DONE or ERROR */
    double loss;          /* NaN: none */
    const char *status;   /* "ok" or "fail" (static) */
    char *result_json;    /* the result document when DONE, else NULL */
    char error[256];      /* why, when ERROR; "" otherwise */
} pz_command_outcome;

/* The outcome of a trial: killed by a signal or a non-zero exit is an
 * ERROR ("killed by signal 9 (Killed)", "exit status 3: <the last line
 * of stderr>"); an exit 0 is read from a non-empty result file, else from
 * the last line of stdout with text: a number, or a JSON object with
 * "loss" and "status"; anything unusable is an ERROR that says why. Fails
 * only with PZ_ENOMEM. Free with pz_command_outcome_fini. */
int pz_command_outcome_of(const pz_command_exit *ex, pz_command_outcome *o,
                          pz_error *err);
void pz_command_outcome_fini(pz_command_outcome *o);

/* ----------------------------------------------------------------- runner */

/* The local process pool: runs a command once per trial, up to
 * 'parallelism' at a time, each in its own process group, never through
 * a shell. The objective protocol (docs/cli.md):
 *   - the point (the user's nested JSON) on stdin and in PARZEN_PARAMS,
 *     the id in PARZEN_TRIAL_ID, a path to write the result to in
 *     PARZEN_RESULT_FILE; "{label}" in an argument becomes the value the
 *     parameter 'label' takes in the point (a string option unquoted,
 *     a number as its shortest exact text, "" when inactive);
 *   - the result is the content of the result file if the command wrote
 *     one, else the last non-empty line of its stdout: a number, or a
 *     JSON object with "loss", "status" ("ok"/"fail") and any extra keys
 *     (kept as the result document);
 *   - a non-zero exit, death by a signal, unparsable output, a NaN or
 *     infinite loss, or running past the trial timeout (SIGTERM to the
 *     group, SIGKILL after the grace) make an ERROR trial with the
 *     reason, and the run goes on;
 *   - while it runs, the command may append lines "STEP VALUE" (an
 *     integer step >= 0, increasing, and a number) to the file named in
 *     PARZEN_REPORT_FILE; the runner reads them every 50 ms and at exit,
 *     reports them (pz_study_report / pz_store_report) and, when the
 *     study's pruner (pz_study_set_pruner on the study, or on
 *     pz_store_study for a store run) says so, stops the process group
 *     as for a timeout and records the trial PRUNED, its loss the value
 *     it stopped at. A malformed line, or a step that does not
 *     increase, makes the trial an ERROR naming the line; a non-finite
 *     value is ignored with a WARNING event.
 * The loop is event-driven: poll() on the children's pipes and a
 * self-pipe for SIGCHLD/SIGINT/SIGTERM; a finishing trial frees its slot
 * for the next ask at once. The last 'output_limit' bytes of each
 * trial's stdout and stderr are kept.
 *
 * pz_runner_run installs handlers for SIGCHLD, SIGINT, SIGTERM and SIGHUP
 * for its duration (restored on return), so only one run may be active
 * in a process at a time (PZ_EBUSY otherwise). A runner handle is used
 * by one thread at a time. */
typedef struct pz_runner pz_runner;

/* A runner for the command 'argv' (NULL-terminated, copied). argv[0] is
 * looked up in PATH now: PZ_EINVAL "command not found" when it cannot
 * be executed. Defaults: parallelism 1, no trial timeout, 5 s kill
 * grace, no stop rules, 64 KiB of output kept per stream. */
int pz_runner_new(pz_runner **out, const char *const *argv, pz_error *err);
void pz_runner_free(pz_runner *runner);

/* Trials running at once, >= 1. PZ_EINVAL otherwise. */
int pz_runner_set_parallelism(pz_runner *runner, size_t n, pz_error *err);
/* Per-trial wall-clock limit in seconds (0: none) and the grace between
 * SIGTERM and SIGKILL. PZ_EINVAL for negative or non-finite values. */
int pz_runner_set_trial_timeout(pz_runner *runner, double seconds,
                                pz_error *err);
int pz_runner_set_kill_grace(pz_runner *runner, double seconds, pz_error *err);
/* Bytes of stdout and of stderr kept per trial (the tail), >= 1. */
int pz_runner_set_output_limit(pz_runner *runner, size_t bytes, pz_error *err);
/* When to stop (copied). 'max_trials' is the study's total target of
 * evaluated (DONE or ERROR) trials, counting those of earlier runs and
 * other processes, so rerunning resumes; CANCEL trials do not count.
 * 'timeout_s' counts from the start of pz_runner_run and cancels the
 * running trials when it expires; 'loss_threshold' stops starting
 * trials once the best loss is below it. */
void pz_runner_set_stop_rules(pz_runner *runner, const pz_stop_rules *rules);
/* Stop starting trials after 'n' consecutive trials of this run finished
 * without improving the best loss (hyperopt's no_progress_loss); 0: off. */
void pz_runner_set_no_progress(pz_runner *runner, size_t n);
/* Store runs: re-run lost and interrupted (CANCEL) trials first. */
void pz_runner_set_retry_lost(pz_runner *runner, int on);

typedef enum pz_runner_event_kind {
    PZ_RUNNER_START,  /* a trial's process was started */
    PZ_RUNNER_FINISH, /* a trial's outcome was recorded */
    PZ_RUNNER_TICK,   /* time passed (see pz_runner_set_events) */
    PZ_RUNNER_WARNING /* 'error' says what was ignored (a report) */
} pz_runner_event_kind;

/* What the event callback sees (pointers borrowed for the call). */
typedef struct pz_runner_event {
    pz_runner_event_kind kind;
    int64_t trial_id;       /* START, FINISH */
    const char *point_json; /* START, FINISH */
    pz_trial_state state;   /* FINISH: DONE, ERROR or CANCEL */
    double loss;            /* FINISH: NaN when none */
    const char *status;     /* FINISH: "ok" or "fail" */
    const char *error;      /* FINISH: the reason, or NULL; WARNING */
    double duration_s;      /* FINISH */
    /* Progress of the study, every kind. */
    size_t n_done;    /* DONE trials */
    size_t n_failed;  /* ERROR trials */
    size_t n_running; /* trials this run has running */
    size_t n_target;  /* the max_trials rule, 0: none */
    size_t n_run;     /* trials this run finished */
    double best_loss; /* best DONE loss (pz_study_best), NaN: none */
    double elapsed_s; /* since the run started */
} pz_runner_event;

typedef void (*pz_runner_event_fn)(const pz_runner_event *ev, void *ud);

/* Call 'fn(ev, ud)' on the runner's thread for every event, and a TICK
 * every 'tick_s' seconds while trials run (0: no ticks). */
void pz_runner_set_events(pz_runner *runner, pz_runner_event_fn fn, void *ud,
                          double tick_s);

/* Run trials of an in-memory study until a stop rule holds and every
 * started trial has finished. Returns PZ_OK when a rule stopped the run
 * (see pz_runner_stop_reason), PZ_ECANCELED after SIGINT/SIGTERM/SIGHUP
 * (running trials killed and told CANCEL "interrupted"), or the error
 * of an ask, tell or system call (running trials are then killed and
 * told CANCEL). Failing objectives are data, not errors. */
int pz_runner_run(pz_runner *runner, pz_study *study, pz_error *err);
/* The same over a store's current study: trials are reserved with
 * pz_store_ask (shared with other processes) and recorded with
 * pz_store_tell, including output tails; leases are renewed. */
int pz_runner_run_store(pz_runner *runner, pz_store *store, pz_error *err);

/* Why the last run stopped: "max_trials", "timeout", "loss_threshold",
 * "no_progress", "interrupted", "error", or "none" before any run. */
const char *pz_runner_stop_reason(const pz_runner *runner);

#ifdef __cplusplus
}
#endif
#endif /* PARZEN_H */
