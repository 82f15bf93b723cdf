/*
 * pruner.c -- which pruner a study uses, its options, and the dispatch
 * of the study's events (a report, a state change) to it.
 *
 * Pruners keep derived state only (sorted tables, per-trial scratch), so
 * a study can always rebuild it from its reports: setting a pruner on a
 * resumed study, or hyperband learning its max_resource, is a replay.
 * The decisions themselves live in pruner_median.c and pruner_asha.c.
 */
#include "pz_internal.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

typedef struct opt_spec {
    const char *key;
    size_t offset; /* of the int64_t field in pz__pruner */
    int64_t min;
} opt_spec;

#define OPT(k, field, lo)                                                      \
    {                                                                          \
        k, offsetof(pz__pruner, field), lo                                     \
    }

static const opt_spec median_opts[] = {
    OPT("n_startup_trials", n_startup, 0),
    OPT("n_warmup_steps", n_warmup, 0),
    OPT("interval_steps", interval, 1),
};
static const opt_spec sha_opts[] = {
    OPT("min_resource", min_resource, 1),
    OPT("reduction_factor", eta, 2),
    OPT("min_early_stopping_rate", min_rate, 0),
};
static const opt_spec hyperband_opts[] = {
    OPT("min_resource", min_resource, 1),
    OPT("max_resource", max_resource, 1),
    OPT("reduction_factor", eta, 2),
};

typedef struct kind_spec {
    const char *name;
    pz__pruner_kind kind;
    const opt_spec *opts;
    size_t n_opts;
    const char *opt_names; /* for the unknown-key message */
} kind_spec;

static const kind_spec kinds[] = {
    {"none", PZ__PRUNER_NONE, NULL, 0, "none"},
    {"median", PZ__PRUNER_MEDIAN, median_opts, 3,
     "n_startup_trials, n_warmup_steps, interval_steps"},
    {"sha", PZ__PRUNER_SHA, sha_opts, 3,
     "min_resource, reduction_factor, min_early_stopping_rate"},
    {"hyperband", PZ__PRUNER_HYPERBAND, hyperband_opts, 3,
     "min_resource, max_resource, reduction_factor"},
};

static void set_defaults(pz__pruner *p, pz__pruner_kind kind)
{
    p->kind = kind;
    p->n_startup = 5;
    p->n_warmup = 0;
    p->interval = 1;
    p->min_resource = 1;
    p->eta = 3;
    p->min_rate = 0;
    p->max_resource = 0;
    p->max_auto = true;
    p->n_brackets = 0;
}

/* An integer option: a JSON integer, or a real with an integral value
 * (Python's json writes 5.0 for a float 5). */
static int int_value(const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return 0;
    }
    double d = json_is_real(v) ? json_real_value(v) : (double)NAN;
    if (isfinite(d) && d == floor(d) && fabs(d) < 9.0e15) {
        *out = (int64_t)d;
        return 0;
    }
    return -1;
}

static int set_one(pz__pruner *p, const kind_spec *k, const char *key,
                   const json_t *v, pz_error *err)
{
    for (size_t i = 0; i < k->n_opts; i++) {
        const opt_spec *o = &k->opts[i];
        if (strcmp(o->key, key) != 0) {
            continue;
        }
        if (p->kind == PZ__PRUNER_HYPERBAND &&
            strcmp(key, "max_resource") == 0 && json_is_string(v) &&
            strcmp(json_string_value(v), "auto") == 0) {
            p->max_auto = true;
            return PZ_OK;
        }
        int64_t x = 0;
        if (int_value(v, &x) != 0 || x < o->min) {
            return pz__fail(err, PZ_EINVAL,
                            "pruner '%s': option '%s' must be an integer "
                            ">= %lld%s",
                            k->name, key, (long long)o->min,
                            strcmp(key, "max_resource") == 0 ? " or \"auto\""
                                                             : "");
        }
        *(int64_t *)(void *)((char *)p + o->offset) = x;
        if (strcmp(key, "max_resource") == 0) {
            p->max_auto = false;
        }
        return PZ_OK;
    }
    return pz__fail(err, PZ_EINVAL,
                    "pruner '%s': unknown option '%s' (%s options: %s)",
                    k->name, key, k->name, k->opt_names);
}

static int parse_options(pz__pruner *p, const kind_spec *k, const char *text,
                         pz_error *err)
{
    json_error_t je;
    memset(&je, 0, sizeof je);
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL || !json_is_object(root)) {
        json_decref(root);
        return pz__fail(err, PZ_EINVAL,
                        "pruner '%s': options must be a JSON object "
                        "(line %d, column %d: %s)",
                        k->name, je.line, je.column,
                        root ? "not an object" : je.text);
    }
    int rc = PZ_OK;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        if ((rc = set_one(p, k, key, v, err)) != PZ_OK) {
            break;
        }
    }
    json_decref(root);
    if (rc == PZ_OK && p->kind == PZ__PRUNER_HYPERBAND && !p->max_auto &&
        p->max_resource < p->min_resource) {
        rc = pz__fail(err, PZ_EINVAL,
                      "pruner 'hyperband': option 'max_resource' (%lld) must "
                      "be >= min_resource (%lld)",
                      (long long)p->max_resource, (long long)p->min_resource);
    }
    return rc;
}

int pz__pruner_config(pz__pruner *p, const char *kind, const char *options,
                      pz_error *err)
{
    const kind_spec *k = NULL;
    for (size_t i = 0; kind != NULL && i < sizeof kinds / sizeof kinds[0];
         i++) {
        if (strcmp(kinds[i].name, kind) == 0) {
            k = &kinds[i];
        }
    }
    if (k == NULL) {
        return pz__fail(err, PZ_EINVAL,
                        "unknown pruner '%s' (expected one of: none, median, "
                        "sha, hyperband)",
                        kind ? kind : "(null)");
    }
    pz__pruner cfg = *p;
    set_defaults(&cfg, k->kind);
    if (options != NULL) {
        int rc = parse_options(&cfg, k, options, err);
        if (rc != PZ_OK) {
            return rc;
        }
    }
    if (cfg.kind == PZ__PRUNER_HYPERBAND && !cfg.max_auto) {
        cfg.n_brackets = pz__pruner_hyperband_brackets(
            cfg.min_resource, cfg.max_resource, cfg.eta);
    }
    *p = cfg; /* the table moves with it */
    return PZ_OK;
}

const char *pz__pruner_name(const pz__pruner *p)
{
    return kinds[p->kind].name;
}

static pz__trial_reports *row_reports(const pz__pruner_view *v, size_t i)
{
    return i < v->n_rep ? &v->rep[i] : NULL;
}

/* Hyperband with max_resource "auto": 1 + the largest last step of the
 * DONE trials (Optuna's rule), once one is DONE with reports. */
static bool learn_max_resource(pz__pruner *p, const pz__pruner_view *v)
{
    int64_t last = -1;
    for (size_t i = 0; i < v->n; i++) {
        pz__trial_reports *r = row_reports(v, i);
        if (v->state[i] == PZ_TRIAL_DONE && r != NULL && r->n > 0) {
            int64_t s = pz__reports_last_step(r);
            last = s > last ? s : last;
        }
    }
    if (last < 0) {
        return false;
    }
    p->max_resource = last + 1 > p->min_resource ? last + 1 : p->min_resource;
    p->n_brackets =
        pz__pruner_hyperband_brackets(p->min_resource, p->max_resource, p->eta);
    return true;
}

/* Replay row i's reports into the sha tables, one report at a time, as
 * if they arrived now. */
static int replay_asha(pz__pruner *p, const pz__pruner_view *v, size_t i)
{
    pz__trial_reports *r = row_reports(v, i);
    if (r == NULL || r->n == 0) {
        return PZ_OK;
    }
    size_t n = r->n;
    int rc = PZ_OK;
    for (size_t k = 1; k <= n && rc == PZ_OK; k++) {
        r->n = k; /* the pruner reads the last report */
        rc = pz__pruner_asha_report(p, r, v->ids[i]);
    }
    r->n = n;
    return rc;
}

int pz__pruner_rebuild(pz__pruner *p, const pz__pruner_view *v, pz_error *err)
{
    pz__ptable_clear(&p->table);
    p->n_done = 0;
    for (size_t i = 0; i < v->n_rep; i++) {
        v->rep[i].rung = 0;
        v->rep[i].doomed = 0;
        v->rep[i].in_done = 0;
    }
    if (p->kind == PZ__PRUNER_HYPERBAND && p->max_auto) {
        p->n_brackets = 0;
        (void)learn_max_resource(p, v);
    }
    int rc = PZ_OK;
    for (size_t i = 0; i < v->n && rc == PZ_OK; i++) {
        if (p->kind == PZ__PRUNER_MEDIAN) {
            rc = pz__pruner_on_state(p, v, i, PZ_TRIAL_STATE_COUNT, err);
        } else if (p->kind != PZ__PRUNER_NONE) {
            rc = replay_asha(p, v, i);
        }
    }
    return rc == PZ_OK ? PZ_OK
                       : pz__fail(err, rc, "out of memory for the pruner");
}

int pz__pruner_on_report(pz__pruner *p, const pz__pruner_view *v, size_t i,
                         pz_error *err)
{
    pz__trial_reports *r = row_reports(v, i);
    int rc = PZ_OK;
    switch (p->kind) {
    case PZ__PRUNER_MEDIAN:
        rc = pz__pruner_median_report(p, r, v->state[i] == PZ_TRIAL_DONE);
        break;
    case PZ__PRUNER_SHA:
    case PZ__PRUNER_HYPERBAND:
        rc = pz__pruner_asha_report(p, r, v->ids[i]);
        break;
    default:
        break;
    }
    return rc == PZ_OK ? PZ_OK
                       : pz__fail(err, rc, "out of memory for the pruner");
}

int pz__pruner_on_state(pz__pruner *p, const pz__pruner_view *v, size_t i,
                        int from, pz_error *err)
{
    bool was_done = from == PZ_TRIAL_DONE;
    bool is_done = v->state[i] == PZ_TRIAL_DONE;
    if (was_done == is_done) {
        return PZ_OK;
    }
    int rc = PZ_OK;
    if (p->kind == PZ__PRUNER_MEDIAN) {
        rc = pz__pruner_median_state(p, row_reports(v, i), was_done, is_done);
    } else if (p->kind == PZ__PRUNER_HYPERBAND && p->n_brackets == 0 &&
               is_done && learn_max_resource(p, v)) {
        return pz__pruner_rebuild(p, v, err);
    }
    return rc == PZ_OK ? PZ_OK
                       : pz__fail(err, rc, "out of memory for the pruner");
}

bool pz__pruner_decide(const pz__pruner *p, const pz__pruner_view *v, size_t i)
{
    const pz__trial_reports *r = row_reports(v, i);
    if (r == NULL || r->n == 0) {
        return false;
    }
    switch (p->kind) {
    case PZ__PRUNER_MEDIAN:
        return pz__pruner_median_decide(p, r);
    case PZ__PRUNER_SHA:
    case PZ__PRUNER_HYPERBAND:
        return r->doomed != 0;
    default:
        return false;
    }
}
