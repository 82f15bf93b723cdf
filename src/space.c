/*
 * space.c -- the parameter table of a search space.
 *
 * A space is a flat table of parameters, each with its distribution, its
 * arguments and the condition under which it is active: (parent choice
 * parameter, option index). Parents come before their children, so one
 * pass in table order settles the activity of a whole point. Labels are
 * unique across the space (a hash table keeps adding O(1), so spaces of
 * 10^5 parameters build in linear time). The nested structure a user
 * wrote (dicts, lists, literals) is the template, owned by space_json.c.
 *
 * Values are held as hyperopt stores them ('misc.vals'): a choice index,
 * a quantized value, the value itself for log distributions.
 */
#include "pz_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const dist_names[PZ_DIST_COUNT] = {
    [PZ_UNIFORM] = "uniform",       [PZ_QUNIFORM] = "quniform",
    [PZ_LOGUNIFORM] = "loguniform", [PZ_QLOGUNIFORM] = "qloguniform",
    [PZ_NORMAL] = "normal",         [PZ_QNORMAL] = "qnormal",
    [PZ_LOGNORMAL] = "lognormal",   [PZ_QLOGNORMAL] = "qlognormal",
    [PZ_RANDINT] = "randint",       [PZ_UNIFORMINT] = "uniformint",
    [PZ_CHOICE] = "choice",         [PZ_PCHOICE] = "pchoice",
};

const char *pz_dist_name(pz_dist dist)
{
    return (unsigned)dist < PZ_DIST_COUNT ? dist_names[dist] : "unknown";
}

double pz__space_quantize(double x, double q)
{
    /* nearbyint rounds half to even under the default rounding mode,
     * as numpy's round does (C's round() would go away from zero). */
    return nearbyint(x / q) * q;
}

/* ------------------------------------------------------------ validation */

static bool is_integral(double v)
{
    return isfinite(v) && v == floor(v) && fabs(v) <= 9007199254740992.0;
}

static int bad(pz_error *err, const char *label, const char *fmt, ...)
    PZ_PRINTF(3, 4);

/* PZ_ESPACE with "parameter '<label>': <what>". */
static int bad(pz_error *err, const char *label, const char *fmt, ...)
{
    char what[192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return pz__fail(err, PZ_ESPACE, "parameter '%s': %s", label, what);
}

static int check_range(const char *label, const pz_param_spec *s, pz_error *err)
{
    if (!isfinite(s->low) || !isfinite(s->high)) {
        return bad(err, label, "bounds must be finite (low=%g, high=%g)",
                   s->low, s->high);
    }
    if (!(s->low < s->high)) {
        return bad(err, label, "low (%g) must be less than high (%g)", s->low,
                   s->high);
    }
    return PZ_OK;
}

static int check_normal(const char *label, const pz_param_spec *s,
                        pz_error *err)
{
    if (!isfinite(s->mu)) {
        return bad(err, label, "mu must be finite (mu=%g)", s->mu);
    }
    if (!isfinite(s->sigma) || !(s->sigma > 0)) {
        return bad(err, label, "sigma must be > 0 and finite (sigma=%g)",
                   s->sigma);
    }
    return PZ_OK;
}

static int check_q(const char *label, const pz_param_spec *s, double width,
                   pz_error *err)
{
    if (!isfinite(s->q) || !(s->q > 0)) {
        return bad(err, label, "q must be > 0 and finite (q=%g)", s->q);
    }
    if (s->q > width) {
        return bad(err, label,
                   "q (%g) is larger than the range it quantizes (%g)", s->q,
                   width);
    }
    return PZ_OK;
}

static int check_probs(const char *label, const pz_param_spec *s, pz_error *err)
{
    if (s->probs == NULL) {
        return bad(err, label, "pchoice needs probabilities");
    }
    double sum = 0.0;
    for (size_t i = 0; i < s->n_options; i++) {
        double p = s->probs[i];
        if (!isfinite(p) || p < 0) {
            return bad(err, label,
                       "probability of option %zu is %g; it must be >= 0", i,
                       p);
        }
        sum += p;
    }
    if (fabs(sum - 1.0) > 1e-9) {
        return bad(err, label, "probabilities sum to %.12g, not 1", sum);
    }
    return PZ_OK;
}

static int check_categorical(const char *label, const pz_param_spec *s,
                             pz_error *err)
{
    if (s->n_options == 0) {
        return bad(err, label, "%s needs at least one option",
                   pz_dist_name(s->dist));
    }
    if (s->n_options > ((size_t)1 << 31)) {
        return bad(err, label, "too many options (%zu)", s->n_options);
    }
    return s->dist == PZ_PCHOICE ? check_probs(label, s, err) : PZ_OK;
}

static int check_randint(const char *label, const pz_param_spec *s,
                         pz_error *err)
{
    if (!is_integral(s->low) || !is_integral(s->high)) {
        return bad(err, label,
                   "randint bounds must be integers (low=%g, high=%g)", s->low,
                   s->high);
    }
    if (!(s->low < s->high)) {
        return bad(err, label,
                   "randint range [%g, %g) is empty: high must exceed low",
                   s->low, s->high);
    }
    return PZ_OK;
}

static bool is_log(pz_dist d)
{
    return d == PZ_LOGUNIFORM || d == PZ_QLOGUNIFORM || d == PZ_LOGNORMAL ||
           d == PZ_QLOGNORMAL;
}

static bool is_q(pz_dist d)
{
    return d == PZ_QUNIFORM || d == PZ_QLOGUNIFORM || d == PZ_QNORMAL ||
           d == PZ_QLOGNORMAL;
}

static bool is_normal(pz_dist d)
{
    return d == PZ_NORMAL || d == PZ_QNORMAL || d == PZ_LOGNORMAL ||
           d == PZ_QLOGNORMAL;
}

/* Every value a parameter can take must be a finite double: the range
 * must not overflow, exp() of a log-space range must stay finite and
 * positive, and a q grid must be representable. Normal-like ranges are
 * taken as mu +- 9 sigma, beyond any draw of the sampler (|z| < 8.6). */
static int check_extent(const char *label, const pz_param_spec *s,
                        pz_error *err)
{
    const double log_min = -708.0, log_max = 709.0;
    bool normal = is_normal(s->dist);
    double lo = normal ? s->mu - 9 * s->sigma : s->low;
    double hi = normal ? s->mu + 9 * s->sigma : s->high;
    if (!isfinite(lo) || !isfinite(hi) || !isfinite(hi - lo)) {
        return bad(err, label, "the range of values overflows a double");
    }
    if (is_log(s->dist) && (lo < log_min || hi > log_max)) {
        return bad(err, label,
                   "log-space range [%g, %g] must lie within [%g, %g] so "
                   "that exp() of it is a finite positive number",
                   lo, hi, log_min, log_max);
    }
    double top = is_log(s->dist) ? exp(hi) : fmax(fabs(lo), fabs(hi));
    if (is_q(s->dist) && top / s->q > 4503599627370496.0) {
        return bad(err, label,
                   "q (%g) is too small for values up to %g: the grid is "
                   "not representable",
                   s->q, top);
    }
    return PZ_OK;
}

/* The checks of one distribution, before its extent. */
static int check_args(const char *label, const pz_param_spec *s, pz_error *err)
{
    int rc;
    switch (s->dist) {
    case PZ_UNIFORM:
    case PZ_LOGUNIFORM:
    case PZ_UNIFORMINT:
        return check_range(label, s, err);
    case PZ_QUNIFORM:
        if ((rc = check_range(label, s, err)) != PZ_OK) {
            return rc;
        }
        return check_q(label, s, s->high - s->low, err);
    case PZ_QLOGUNIFORM:
        if ((rc = check_range(label, s, err)) != PZ_OK) {
            return rc;
        }
        return check_q(label, s, exp(s->high) - exp(s->low), err);
    case PZ_NORMAL:
    case PZ_LOGNORMAL:
        return check_normal(label, s, err);
    case PZ_QNORMAL:
    case PZ_QLOGNORMAL:
        if ((rc = check_normal(label, s, err)) != PZ_OK) {
            return rc;
        }
        return check_q(label, s, (double)INFINITY, err);
    default:
        return pz__fail(err, PZ_ESPACE,
                        "parameter '%s': unknown distribution %d", label,
                        (int)s->dist);
    }
}

static int check_spec(const char *label, const pz_param_spec *s, pz_error *err)
{
    if (s->dist == PZ_RANDINT) {
        return check_randint(label, s, err);
    }
    if (s->dist == PZ_CHOICE || s->dist == PZ_PCHOICE) {
        return check_categorical(label, s, err);
    }
    int rc = check_args(label, s, err);
    return rc == PZ_OK ? check_extent(label, s, err) : rc;
}

/* ----------------------------------------------------------- label table */

static size_t hash_label(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    }
    return (size_t)h;
}

/* Slot holding 'label', or the empty slot where it would go. */
static size_t *label_slot(const pz_space *sp, const char *label)
{
    size_t mask = sp->n_buckets - 1;
    for (size_t i = hash_label(label) & mask;; i = (i + 1) & mask) {
        size_t v = sp->buckets[i];
        if (v == 0 || strcmp(sp->params[v - 1].label, label) == 0) {
            return &sp->buckets[i];
        }
    }
}

/* Keep the load factor under 1/2. */
static int reserve_buckets(pz_space *sp, size_t n_params)
{
    if (2 * n_params < sp->n_buckets) {
        return PZ_OK;
    }
    size_t nb = sp->n_buckets ? sp->n_buckets * 2 : 16;
    while (2 * n_params >= nb) {
        nb *= 2;
    }
    size_t *nbuckets = pz__calloc(nb, sizeof *nbuckets);
    if (nbuckets == NULL) {
        return PZ_ENOMEM;
    }
    size_t *old = sp->buckets;
    size_t old_n = sp->n_buckets;
    sp->buckets = nbuckets;
    sp->n_buckets = nb;
    for (size_t i = 0; i < sp->n_params; i++) {
        *label_slot(sp, sp->params[i].label) = i + 1;
    }
    pz__free(old, old_n * sizeof *old);
    return PZ_OK;
}

/* ------------------------------------------------------------ public API */

int pz_space_new(pz_space **out, pz_error *err)
{
    *out = pz__calloc(1, sizeof **out);
    if (*out == NULL) {
        return pz__fail(err, PZ_ENOMEM, "out of memory creating a space");
    }
    return PZ_OK;
}

static void param_fini(pz__param *p)
{
    pz__free_str(p->label);
    pz__free(p->probs, p->spec.n_options * sizeof *p->probs);
}

void pz_space_free(pz_space *sp)
{
    if (sp == NULL) {
        return;
    }
    for (size_t i = 0; i < sp->n_params; i++) {
        param_fini(&sp->params[i]);
    }
    pz__free(sp->params, sp->cap * sizeof *sp->params);
    pz__free(sp->buckets, sp->n_buckets * sizeof *sp->buckets);
    pz__space_json_tmpl_free(sp->tmpl);
    pz__free(sp, sizeof *sp);
}

/* Control characters would let a label break the one-line messages that
 * name it (and the CLI's output); no real label needs them. */
static int check_label_chars(const char *label, pz_error *err)
{
    for (size_t i = 0; label[i] != '\0'; i++) {
        unsigned char c = (unsigned char)label[i];
        if (c < 0x20 || c == 0x7f) {
            return pz__fail(err, PZ_ESPACE,
                            "a label contains control character 0x%02x at "
                            "byte %zu (labels are printable text)",
                            c, i);
        }
    }
    return PZ_OK;
}

static int check_parent(const pz_space *sp, const char *label, size_t parent,
                        size_t option, pz_error *err)
{
    if (parent == PZ_NO_PARENT) {
        return PZ_OK;
    }
    if (parent >= sp->n_params) {
        return pz__fail(err, PZ_ESPACE,
                        "parameter '%s': parent %zu does not exist", label,
                        parent);
    }
    const pz__param *pp = &sp->params[parent];
    if (pp->spec.dist != PZ_CHOICE && pp->spec.dist != PZ_PCHOICE) {
        return pz__fail(err, PZ_ESPACE,
                        "parameter '%s': parent '%s' is not a choice", label,
                        pp->label);
    }
    if (option >= pp->spec.n_options) {
        return pz__fail(err, PZ_ESPACE,
                        "parameter '%s': parent '%s' has no option %zu", label,
                        pp->label, option);
    }
    return PZ_OK;
}

/* Only the fields 'in->dist' uses (the header promises q == 0 for
 * non-q variants, and so on), so that specs compare equal and serialize
 * the same whatever the caller left in the other fields. */
static pz_param_spec used_fields(const pz_param_spec *in)
{
    pz_dist d = in->dist;
    pz_param_spec s = {.dist = d};
    if (is_normal(d)) {
        s.mu = in->mu;
        s.sigma = in->sigma;
    } else if (d != PZ_CHOICE && d != PZ_PCHOICE) {
        s.low = in->low;
        s.high = in->high;
    }
    if (is_q(d)) {
        s.q = in->q;
    }
    if (d == PZ_CHOICE || d == PZ_PCHOICE) {
        s.n_options = in->n_options;
    }
    return s;
}

static int fill_param(pz__param *p, const char *label,
                      const pz_param_spec *spec, size_t parent, size_t option)
{
    memset(p, 0, sizeof *p);
    p->spec = used_fields(spec);
    if (spec->dist == PZ_PCHOICE) {
        p->probs = pz__malloc(spec->n_options * sizeof *p->probs);
        if (p->probs == NULL) {
            return PZ_ENOMEM;
        }
        memcpy(p->probs, spec->probs, spec->n_options * sizeof *p->probs);
        p->spec.probs = p->probs;
    }
    p->label = pz__strdup(label);
    if (p->label == NULL) {
        pz__free(p->probs, spec->n_options * sizeof *p->probs);
        return PZ_ENOMEM;
    }
    p->parent = parent;
    p->option = option;
    return PZ_OK;
}

int pz_space_add(pz_space *sp, const char *label, const pz_param_spec *spec,
                 size_t parent, size_t option, size_t *index, pz_error *err)
{
    if (sp == NULL || label == NULL || spec == NULL) {
        return pz__fail(err, PZ_EINVAL, "pz_space_add: NULL argument");
    }
    if (label[0] == '\0') {
        return pz__fail(err, PZ_ESPACE, "a parameter has an empty label");
    }
    int rc = check_label_chars(label, err);
    if (rc != PZ_OK) {
        return rc;
    }
    rc = check_spec(label, spec, err);
    if (rc == PZ_OK) {
        rc = check_parent(sp, label, parent, option, err);
    }
    if (rc != PZ_OK) {
        return rc;
    }
    if (reserve_buckets(sp, sp->n_params + 1) != PZ_OK ||
        pz__grow((void **)&sp->params, &sp->cap, sp->n_params + 1,
                 sizeof *sp->params) != PZ_OK) {
        return pz__fail(err, PZ_ENOMEM, "out of memory adding '%s'", label);
    }
    size_t *slot = label_slot(sp, label);
    if (*slot != 0) {
        return pz__fail(err, PZ_ESPACE, "duplicate label '%s'", label);
    }
    if (fill_param(&sp->params[sp->n_params], label, spec, parent, option)) {
        return pz__fail(err, PZ_ENOMEM, "out of memory adding '%s'", label);
    }
    *slot = ++sp->n_params;
    if (index != NULL) {
        *index = sp->n_params - 1;
    }
    return PZ_OK;
}

size_t pz_space_size(const pz_space *sp)
{
    return sp ? sp->n_params : 0;
}

const char *pz_space_label(const pz_space *sp, size_t i)
{
    return sp && i < sp->n_params ? sp->params[i].label : NULL;
}

int pz_space_find(const pz_space *sp, const char *label, size_t *index)
{
    if (sp == NULL || label == NULL || sp->n_buckets == 0) {
        return PZ_ENOTFOUND;
    }
    size_t v = *label_slot(sp, label);
    if (v == 0) {
        return PZ_ENOTFOUND;
    }
    if (index != NULL) {
        *index = v - 1;
    }
    return PZ_OK;
}

int pz_space_param(const pz_space *sp, size_t i, pz_param_spec *spec,
                   size_t *parent, size_t *option, pz_error *err)
{
    if (sp == NULL || i >= sp->n_params) {
        return pz__fail(err, PZ_EINVAL, "no parameter with index %zu", i);
    }
    const pz__param *p = &sp->params[i];
    if (spec != NULL) {
        *spec = p->spec;
    }
    if (parent != NULL) {
        *parent = p->parent;
    }
    if (option != NULL) {
        *option = p->option;
    }
    return PZ_OK;
}

/* -------------------------------------------------------------- activity */

bool pz__space_active(const pz_space *sp, size_t i, const double *values)
{
    /* Walk the whole chain of ancestors: a caller-given point (add,
     * check_point) may hold stale values where parameters are inactive,
     * so a parent's value alone does not prove the parent active. */
    for (const pz__param *p = &sp->params[i]; p->parent != PZ_NO_PARENT;
         p = &sp->params[p->parent]) {
        if (values[p->parent] != (double)p->option) {
            return false;
        }
    }
    return true;
}

void pz_space_activity(const pz_space *sp, const double *values,
                       unsigned char *active)
{
    for (size_t i = 0; i < sp->n_params; i++) {
        const pz__param *p = &sp->params[i];
        active[i] =
            p->parent == PZ_NO_PARENT ||
            (active[p->parent] && values[p->parent] == (double)p->option);
    }
}

/* -------------------------------------------------------------- sampling */

size_t pz__space_n_categories(const pz__param *p)
{
    if (p->spec.dist == PZ_RANDINT) {
        return (size_t)(p->spec.high - p->spec.low);
    }
    return p->spec.n_options;
}

double pz__space_draw(const pz__param *p, pz__rng *rng)
{
    const pz_param_spec *s = &p->spec;
    double u = 0.0;
    switch (s->dist) {
    case PZ_UNIFORM:
    case PZ_QUNIFORM:
    case PZ_LOGUNIFORM:
    case PZ_QLOGUNIFORM:
    case PZ_UNIFORMINT:
        u = s->low + (s->high - s->low) * pz__rng_uniform(rng);
        break;
    case PZ_NORMAL:
    case PZ_QNORMAL:
    case PZ_LOGNORMAL:
    case PZ_QLOGNORMAL:
        u = s->mu + s->sigma * pz__rng_normal(rng);
        break;
    case PZ_RANDINT:
        return s->low + (double)pz__rng_below(rng, pz__space_n_categories(p));
    case PZ_CHOICE:
        return (double)pz__rng_below(rng, s->n_options);
    case PZ_PCHOICE:
        return (double)pz__rng_categorical(rng, s->probs, s->n_options);
    default:
        return (double)NAN;
    }
    switch (s->dist) {
    case PZ_QUNIFORM:
    case PZ_QNORMAL:
        return pz__space_quantize(u, s->q);
    case PZ_UNIFORMINT:
        return pz__space_quantize(u, 1.0);
    case PZ_LOGUNIFORM:
    case PZ_LOGNORMAL:
        return exp(u);
    case PZ_QLOGUNIFORM:
    case PZ_QLOGNORMAL:
        return pz__space_quantize(exp(u), s->q);
    default:
        return u;
    }
}

/* Only what a sampler could not digest is refused: hyperopt evaluates
 * user-given points outside the bounds, so we accept them too. */
bool pz__space_value_ok(const pz__param *p, double v, const char **why)
{
    const pz_param_spec *s = &p->spec;
    *why = NULL;
    if (!isfinite(v)) {
        *why = "value is not a finite number";
    } else if (s->dist == PZ_CHOICE || s->dist == PZ_PCHOICE) {
        if (!is_integral(v) || v < 0 || v >= (double)s->n_options) {
            *why = "option index is not an integer in [0, n_options)";
        }
    } else if (s->dist == PZ_RANDINT) {
        if (!is_integral(v) || v < s->low || v >= s->high) {
            *why = "randint value is not an integer in [low, high)";
        }
    } else if (s->dist == PZ_UNIFORMINT && !is_integral(v)) {
        *why = "uniformint value is not an integer";
    } else if ((s->dist == PZ_LOGUNIFORM || s->dist == PZ_LOGNORMAL) &&
               !(v > 0)) {
        *why = "log-distributed value must be > 0";
    } else if ((s->dist == PZ_QLOGUNIFORM || s->dist == PZ_QLOGNORMAL) &&
               v < 0) {
        *why = "log-distributed value must be >= 0";
    }
    return *why == NULL;
}

int pz_space_check_point(const pz_space *sp, const double *values,
                         pz_error *err)
{
    for (size_t i = 0; i < sp->n_params; i++) {
        const char *why;
        if (pz__space_active(sp, i, values) &&
            !pz__space_value_ok(&sp->params[i], values[i], &why)) {
            return pz__fail(err, PZ_EINVAL, "parameter '%s': %s (got %g)",
                            sp->params[i].label, why, values[i]);
        }
    }
    return PZ_OK;
}

/* ----------------------------------------------------------------- clone */

int pz__space_clone(pz_space **out, const pz_space *sp, pz_error *err)
{
    pz_space *c = NULL;
    int rc = pz_space_new(&c, err);
    if (rc != PZ_OK) {
        return rc;
    }
    for (size_t i = 0; i < sp->n_params; i++) {
        const pz__param *p = &sp->params[i];
        rc = pz_space_add(c, p->label, &p->spec, p->parent, p->option, NULL,
                          err);
        if (rc != PZ_OK) {
            goto fail;
        }
    }
    if (sp->tmpl != NULL &&
        pz__space_json_tmpl_clone(&c->tmpl, sp->tmpl) != PZ_OK) {
        rc = pz__fail(err, PZ_ENOMEM, "out of memory copying a space");
        goto fail;
    }
    *out = c;
    return PZ_OK;
fail:
    pz_space_free(c);
    *out = NULL;
    return rc;
}

int pz_space_copy(pz_space **out, const pz_space *space, pz_error *err)
{
    *out = NULL;
    return pz__space_clone(out, space, err);
}
