/*
 * study.c -- ask/tell: the one loop every driver is built from.
 *
 * A study owns a copy of its space, the columnar history, the chosen
 * sampler's state and a scratch arena. ask() draws from the stream of the
 * new trial id, so results do not depend on the order in which trials
 * finish. The study never runs objectives and never prints.
 */
#include "pz_internal.h"

#include <math.h>
#include <string.h>

struct pz_study {
    pz_space *space;          /* owned copy */
    pz__history hist;         /* every trial, insertion order */
    uint64_t seed;            /* root of every trial's stream */
    const pz__sampler_vt *vt; /* current sampler */
    void *state;              /* vt->state_size bytes */
    pz__arena arena;          /* per-ask scratch, reset after each ask */
    int64_t next_id;          /* 1 + the largest id seen */
    pz__trial_reports *rep;   /* per history row; rep_cap rows */
    size_t rep_cap;
    pz__pruner pruner;
    size_t n_pruned; /* PRUNED rows: the rank rule has work only then */
};

/* A fresh, initialised state for 'vt', or an error. */
static int sampler_state_new(const pz__sampler_vt *vt, const pz_space *sp,
                             void **out, pz_error *err)
{
    void *st = NULL;
    if (vt->state_size > 0 && (st = pz__calloc(1, vt->state_size)) == NULL) {
        return pz__fail(err, PZ_ENOMEM, "out of memory for sampler '%s'",
                        vt->name);
    }
    int rc = vt->init(st, sp, err);
    if (rc != PZ_OK) {
        pz__free(st, vt->state_size);
        return rc;
    }
    *out = st;
    return PZ_OK;
}

static void sampler_state_free(const pz__sampler_vt *vt, void *st)
{
    if (vt != NULL && vt->fini != NULL) {
        vt->fini(st);
    }
    pz__free(st, vt ? vt->state_size : 0);
}

int pz_study_new(pz_study **out, const pz_space *space, pz_error *err)
{
    *out = NULL;
    if (space == NULL) {
        return pz__fail(err, PZ_EINVAL, "pz_study_new: space is NULL");
    }
    pz_study *st = pz__calloc(1, sizeof *st);
    if (st == NULL) {
        return pz__fail(err, PZ_ENOMEM, "out of memory opening a study");
    }
    pz__arena_init(&st->arena);
    pz__ptable_init(&st->pruner.table);
    (void)pz__pruner_config(&st->pruner, "none", NULL, NULL);
    int rc = pz__space_clone(&st->space, space, err);
    if (rc == PZ_OK) {
        rc = pz__history_init(&st->hist, space->n_params, err);
        /* measured best, or as good (docs/benchmarks.md, "Pruned trials") */
        st->hist.pruned_rule = PZ__PRUNED_BAD;
    }
    if (rc == PZ_OK) {
        st->vt = &pz__sampler_random;
        rc = sampler_state_new(st->vt, st->space, &st->state, err);
    }
    if (rc != PZ_OK) {
        st->vt = NULL;
        pz_study_free(st);
        return rc;
    }
    *out = st;
    return PZ_OK;
}

void pz_study_free(pz_study *st)
{
    if (st == NULL) {
        return;
    }
    sampler_state_free(st->vt, st->state);
    for (size_t i = 0; i < st->rep_cap; i++) {
        pz__reports_fini(&st->rep[i]);
    }
    pz__free(st->rep, st->rep_cap * sizeof *st->rep);
    pz__ptable_fini(&st->pruner.table);
    pz__history_fini(&st->hist);
    pz_space_free(st->space);
    pz__arena_fini(&st->arena);
    pz__free(st, sizeof *st);
}

const pz_space *pz_study_space(const pz_study *st)
{
    return st->space;
}

void pz_study_set_seed(pz_study *st, uint64_t seed)
{
    st->seed = seed;
}

int pz_study_set_sampler(pz_study *st, const char *name, pz_error *err)
{
    const pz__sampler_vt *vt = name ? pz__sampler_find(name) : NULL;
    if (vt == NULL) {
        return pz__fail(err, PZ_EINVAL,
                        "unknown sampler '%s' (expected one "
                        "of: %s)",
                        name ? name : "(null)", pz__sampler_names());
    }
    void *state = NULL;
    int rc = sampler_state_new(vt, st->space, &state, err);
    if (rc != PZ_OK) {
        return rc;
    }
    sampler_state_free(st->vt, st->state);
    st->vt = vt;
    st->state = state;
    return PZ_OK;
}

const char *pz_study_sampler(const pz_study *st)
{
    return st->vt->name;
}

int pz_study_set_option(pz_study *st, const char *key, double value,
                        pz_error *err)
{
    if (key == NULL) {
        return pz__fail(err, PZ_EINVAL, "option name is NULL");
    }
    return st->vt->set_option(st->state, key, value, err);
}

/* The rank and budget rules' surrogate losses for this ask
 * (pruner_rank.c), in the arena; false when it is out of memory. Without
 * a PRUNED trial every rule is the plain losses. */
static bool prepare_pruned(pz_study *st)
{
    pz__history *h = &st->hist;
    h->pruned_key = NULL;
    if (st->n_pruned == 0 || (h->pruned_rule != PZ__PRUNED_RANK &&
                              h->pruned_rule != PZ__PRUNED_BUDGET)) {
        return true;
    }
    double *key = pz__arena_alloc(&st->arena, h->n * sizeof *key);
    size_t *scratch = pz__arena_alloc(&st->arena, 2 * h->n * sizeof *scratch);
    if (key == NULL || scratch == NULL) {
        return false;
    }
    size_t n_rep = st->rep_cap < h->n ? st->rep_cap : h->n;
    if (h->pruned_rule == PZ__PRUNED_RANK) {
        pz__pruned_rank(h, st->rep, n_rep, scratch, key);
    } else {
        /* BOHB's "enough": N_min + 2 with N_min = d + 1 */
        pz__pruned_budget(h, st->rep, n_rep, h->n_params + 3, scratch, key);
    }
    h->pruned_key = key;
    return true;
}

int pz_study_suggest(pz_study *st, int64_t trial_id, uint64_t seed,
                     double *values, pz_error *err)
{
    if (!prepare_pruned(st)) {
        pz__arena_reset(&st->arena);
        return pz__fail(err, PZ_ENOMEM, "out of memory ranking pruned trials");
    }
    pz__rng rng;
    pz__rng_seed(&rng, seed, (uint64_t)trial_id);
    pz__sampler_ctx ctx = {
        .space = st->space,
        .hist = &st->hist,
        .rng = &rng,
        .arena = &st->arena,
        .trial_id = trial_id,
    };
    int rc = pz__sampler_ask(st->vt, st->state, &ctx, values, err);
    st->hist.pruned_key = NULL;
    pz__arena_reset(&st->arena);
    return rc;
}

static void note_id(pz_study *st, int64_t id)
{
    /* Saturate: after INT64_MAX the next ask finds its id taken and
     * fails with PZ_EINVAL instead of overflowing. */
    if (id >= st->next_id) {
        st->next_id = id < INT64_MAX ? id + 1 : INT64_MAX;
    }
}

int pz_study_ask(pz_study *st, int64_t *trial_id, double *values, pz_error *err)
{
    int64_t id = st->next_id;
    int rc = pz_study_suggest(st, id, st->seed, values, err);
    if (rc == PZ_OK) {
        rc = pz__history_append(&st->hist, id, values, PZ_TRIAL_RUNNING,
                                (double)NAN, err);
    }
    if (rc != PZ_OK) {
        return rc;
    }
    note_id(st, id);
    *trial_id = id;
    return PZ_OK;
}

static pz__pruner_view view_of(pz_study *st)
{
    return (pz__pruner_view){
        .ids = st->hist.ids,
        .state = st->hist.state,
        .rep = st->rep,
        .n = st->hist.n,
        .n_rep = st->rep_cap < st->hist.n ? st->rep_cap : st->hist.n,
    };
}

/* Tell the pruner that row i left state 'from'. */
static int state_changed(pz_study *st, size_t i, int from, pz_error *err)
{
    if (st->pruner.kind == PZ__PRUNER_NONE) {
        return PZ_OK;
    }
    pz__pruner_view v = view_of(st);
    return pz__pruner_on_state(&st->pruner, &v, i, from, err);
}

static bool state_ok(pz_trial_state s)
{
    return s >= PZ_TRIAL_NEW && s < PZ_TRIAL_STATE_COUNT;
}

int pz_study_add(pz_study *st, int64_t trial_id, const double *values,
                 pz_trial_state state, double loss, pz_error *err)
{
    if (!state_ok(state)) {
        return pz__fail(err, PZ_EINVAL, "trial %lld: invalid state %d",
                        (long long)trial_id, (int)state);
    }
    int rc = pz_space_check_point(st->space, values, err);
    if (rc != PZ_OK) {
        return pz__fail_context(err, rc, "trial %lld", (long long)trial_id);
    }
    /* Store inactive parameters as NaN whatever the caller passed. */
    double *row = st->hist.row;
    for (size_t i = 0; i < st->space->n_params; i++) {
        row[i] = pz__space_active(st->space, i, row) ? values[i] : (double)NAN;
    }
    rc = pz__history_append(&st->hist, trial_id, row, state, loss, err);
    if (rc == PZ_OK) {
        note_id(st, trial_id);
        st->n_pruned += state == PZ_TRIAL_PRUNED;
        rc = state_changed(st, st->hist.n - 1, PZ_TRIAL_STATE_COUNT, err);
    }
    return rc;
}

int pz_study_tell(pz_study *st, int64_t trial_id, pz_trial_state state,
                  double loss, pz_error *err)
{
    if (!state_ok(state)) {
        return pz__fail(err, PZ_EINVAL, "trial %lld: invalid state %d",
                        (long long)trial_id, (int)state);
    }
    size_t i = pz__history_find(&st->hist, trial_id);
    if (i == (size_t)-1) {
        return pz__fail(err, PZ_ENOTFOUND, "no trial with id %lld",
                        (long long)trial_id);
    }
    int from = st->hist.state[i];
    st->hist.state[i] = (unsigned char)state;
    st->hist.loss[i] = loss;
    st->n_pruned += state == PZ_TRIAL_PRUNED;
    st->n_pruned -= from == PZ_TRIAL_PRUNED;
    return state_changed(st, i, from, err);
}

void pz_study_clear(pz_study *st)
{
    pz__history_clear(&st->hist);
    for (size_t i = 0; i < st->rep_cap; i++) {
        pz__reports_reset(&st->rep[i]);
    }
    st->n_pruned = 0;
    pz__pruner_view v = view_of(st);
    (void)pz__pruner_rebuild(&st->pruner, &v, NULL); /* empty: no alloc */
}

size_t pz_study_n_trials(const pz_study *st)
{
    return st->hist.n;
}

size_t pz_study_count(const pz_study *st, pz_trial_state state)
{
    size_t n = 0;
    for (size_t i = 0; i < st->hist.n; i++) {
        n += st->hist.state[i] == (unsigned char)state;
    }
    return n;
}

static void fill_info(const pz_study *st, size_t i, pz_trial_info *info)
{
    const pz__history *h = &st->hist;
    for (size_t j = 0; j < h->n_params; j++) {
        h->row[j] = h->cols[j][i];
    }
    info->id = h->ids[i];
    info->state = (pz_trial_state)h->state[i];
    info->loss = h->loss[i];
    info->values = h->row;
}

int pz_study_trial(const pz_study *st, size_t i, pz_trial_info *info,
                   pz_error *err)
{
    if (i >= st->hist.n) {
        return pz__fail(err, PZ_EINVAL,
                        "trial index %zu out of range (%zu "
                        "trials)",
                        i, st->hist.n);
    }
    fill_info(st, i, info);
    return PZ_OK;
}

int pz_study_best(const pz_study *st, pz_trial_info *info, pz_error *err)
{
    const pz__history *h = &st->hist;
    size_t best = (size_t)-1;
    for (size_t i = 0; i < h->n; i++) {
        if (h->state[i] == PZ_TRIAL_DONE && !isnan(h->loss[i]) &&
            (best == (size_t)-1 || h->loss[i] < h->loss[best])) {
            best = i;
        }
    }
    if (best == (size_t)-1) {
        return pz__fail(err, PZ_ENOTFOUND, "no finished trial with a loss");
    }
    fill_info(st, best, info);
    return PZ_OK;
}

/* ---------------------------------------------------------------- pruning */

int pz_study_set_pruner(pz_study *st, const char *kind,
                        const char *options_json, pz_error *err)
{
    pz__pruner p = st->pruner;
    int rc = pz__pruner_config(&p, kind, options_json, err);
    if (rc != PZ_OK) {
        return rc;
    }
    st->pruner = p;
    pz__pruner_view v = view_of(st);
    return pz__pruner_rebuild(&st->pruner, &v, err);
}

const char *pz_study_pruner(const pz_study *st)
{
    return pz__pruner_name(&st->pruner);
}

/* The reports of row i, growing the per-row array to reach it. */
static pz__trial_reports *reports_of(pz_study *st, size_t i)
{
    if (i >= st->rep_cap) {
        size_t ncap = st->rep_cap ? st->rep_cap : 64;
        while (ncap <= i) {
            ncap *= 2;
        }
        pz__trial_reports *r =
            pz__realloc(st->rep, st->rep_cap * sizeof *r, ncap * sizeof *r);
        if (r == NULL) {
            return NULL;
        }
        memset(r + st->rep_cap, 0, (ncap - st->rep_cap) * sizeof *r);
        st->rep = r;
        st->rep_cap = ncap;
    }
    return &st->rep[i];
}

static size_t find_row(const pz_study *st, int64_t tid, pz_error *err)
{
    size_t i = pz__history_find(&st->hist, tid);
    if (i == (size_t)-1) {
        pz__fail(err, PZ_ENOTFOUND, "no trial with id %lld", (long long)tid);
    }
    return i;
}

int pz_study_report(pz_study *st, int64_t tid, int64_t step, double value,
                    pz_error *err)
{
    size_t i = find_row(st, tid, err);
    if (i == (size_t)-1) {
        return PZ_ENOTFOUND;
    }
    if (step < 0) {
        return pz__fail(err, PZ_EINVAL, "trial %lld: step %lld is negative",
                        (long long)tid, (long long)step);
    }
    pz__trial_reports *r = reports_of(st, i);
    if (r == NULL) {
        return pz__fail(err, PZ_ENOMEM,
                        "out of memory for trial %lld's reports",
                        (long long)tid);
    }
    int64_t last = pz__reports_last_step(r);
    if (step <= last) {
        return pz__fail(err, PZ_EINVAL,
                        "trial %lld: step %lld reported after step %lld "
                        "(steps must increase)",
                        (long long)tid, (long long)step, (long long)last);
    }
    if (!isfinite(value)) {
        pz__fail(err, PZ_REPORT_IGNORED,
                 "trial %lld: non-finite value %g at step %lld ignored",
                 (long long)tid, value, (long long)step);
        return PZ_REPORT_IGNORED;
    }
    if (pz__reports_append(r, step, value) != PZ_OK) {
        return pz__fail(err, PZ_ENOMEM,
                        "out of memory for trial %lld's reports",
                        (long long)tid);
    }
    pz__pruner_view v = view_of(st);
    return pz__pruner_on_report(&st->pruner, &v, i, err);
}

int pz_study_should_prune(pz_study *st, int64_t tid, int *out, pz_error *err)
{
    *out = 0;
    size_t i = find_row(st, tid, err);
    if (i == (size_t)-1) {
        return PZ_ENOTFOUND;
    }
    pz__pruner_view v = view_of(st);
    *out = pz__pruner_decide(&st->pruner, &v, i);
    return PZ_OK;
}

int pz_study_reports(const pz_study *st, int64_t tid, size_t *n,
                     const int64_t **steps, const double **values,
                     pz_error *err)
{
    *n = 0;
    *steps = NULL;
    *values = NULL;
    size_t i = find_row(st, tid, err);
    if (i == (size_t)-1) {
        return PZ_ENOTFOUND;
    }
    if (i < st->rep_cap) {
        *n = st->rep[i].n;
        *steps = st->rep[i].steps;
        *values = st->rep[i].values;
    }
    return PZ_OK;
}

static const char *const rule_names[] = {"rank", "bad", "ignore", "budget"};

const char *pz_study_pruned_rule(const pz_study *st)
{
    return rule_names[st->hist.pruned_rule];
}

int pz_study_set_pruned_rule(pz_study *st, const char *rule, pz_error *err)
{
    size_t n_rules = sizeof rule_names / sizeof *rule_names;
    for (size_t k = 0; rule != NULL && k < n_rules; k++) {
        if (strcmp(rule, rule_names[k]) == 0) {
            st->hist.pruned_rule = (int)k;
            return PZ_OK;
        }
    }
    return pz__fail(err, PZ_EINVAL,
                    "unknown pruned-trial rule '%s' (expected one of: rank, "
                    "bad, ignore, budget)",
                    rule ? rule : "(null)");
}

void pz__study_clear_reports(pz_study *st, int64_t id)
{
    size_t i = pz__history_find(&st->hist, id);
    if (i != (size_t)-1 && i < st->rep_cap) {
        pz__reports_reset(&st->rep[i]);
    }
}
