/*
 * space_json.c -- the JSON form of a search space (docs/space-format.md).
 *
 * Parsing turns a JSON document into the parameter table (space.c) and a
 * template: a tree of dicts, lists, literals and parameter references that
 * rebuilds the user's nested point from per-parameter values. A JSON
 * object with an "hp" key is a parameter; any other object is a dict,
 * arrays are lists, scalars are literals. Parameters inside option k of a
 * choice are active only when that choice takes option k.
 *
 * Every error names the JSON path ("$.model.options[1].C") and, found by a
 * second walk over the source text, its line and column. jansson does the
 * lexing: strict RFC 8259 (no NaN literals, valid UTF-8, no NUL in
 * strings), duplicate keys rejected, nesting depth bounded.
 */
#define _POSIX_C_SOURCE 200809L /* fileno, fstat */
#include "pz_internal.h"

#include <errno.h>
#include <jansson.h>
#include <stdatomic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_FILE_BYTES ((size_t)64 << 20)

typedef enum { T_LITERAL, T_DICT, T_LIST, T_PARAM } tmpl_kind;

struct pz__tmpl {
    tmpl_kind kind;
    json_t *literal; /* T_LITERAL: owned reference */
    size_t n;        /* children: dict/list items, or a choice's options */
    char **keys;     /* T_DICT: n owned keys */
    pz__tmpl **kids; /* n owned children (NULL entries never) */
    size_t param;    /* T_PARAM: parameter index */
};

/* -------------------------------------------------------------- template */

void pz__space_json_tmpl_free(pz__tmpl *t)
{
    if (t == NULL) {
        return;
    }
    for (size_t i = 0; i < t->n; i++) {
        pz__space_json_tmpl_free(t->kids[i]);
        if (t->keys != NULL) {
            pz__free_str(t->keys[i]);
        }
    }
    pz__free(t->kids, t->n * sizeof *t->kids);
    pz__free(t->keys, t->keys ? t->n * sizeof *t->keys : 0);
    json_decref(t->literal);
    pz__free(t, sizeof *t);
}

/* A node with room for n children (and keys for a dict). */
static pz__tmpl *tmpl_new(tmpl_kind kind, size_t n)
{
    pz__tmpl *t = pz__calloc(1, sizeof *t);
    if (t == NULL) {
        return NULL;
    }
    t->kind = kind;
    if (n > 0) {
        t->kids = pz__calloc(n, sizeof *t->kids);
        t->keys = kind == T_DICT ? pz__calloc(n, sizeof *t->keys) : NULL;
        if (t->kids == NULL || (kind == T_DICT && t->keys == NULL)) {
            pz__free(t->kids, n * sizeof *t->kids);
            pz__free(t->keys, t->keys ? n * sizeof *t->keys : 0);
            pz__free(t, sizeof *t);
            return NULL;
        }
    }
    t->n = n;
    return t;
}

int pz__space_json_tmpl_clone(pz__tmpl **out, const pz__tmpl *t)
{
    pz__tmpl *c = tmpl_new(t->kind, t->n);
    if (c == NULL) {
        return PZ_ENOMEM;
    }
    c->param = t->param;
    c->literal = t->literal ? json_deep_copy(t->literal) : NULL;
    int rc = (t->literal && !c->literal) ? PZ_ENOMEM : PZ_OK;
    for (size_t i = 0; rc == PZ_OK && i < t->n; i++) {
        if (t->keys && (c->keys[i] = pz__strdup(t->keys[i])) == NULL) {
            rc = PZ_ENOMEM;
        } else {
            rc = pz__space_json_tmpl_clone(&c->kids[i], t->kids[i]);
        }
    }
    if (rc != PZ_OK) {
        pz__space_json_tmpl_free(c);
        return rc;
    }
    *out = c;
    return PZ_OK;
}

/* ---------------------------------------------------------- parse state */

typedef struct parser {
    pz_space *sp;
    const char *text;
    size_t len;
    pz__json_seg *path; /* current JSON path, 'depth' segments */
    size_t depth, cap;
    pz_error *err;
} parser;

static bool is_ident(const char *s)
{
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_')) {
        return false;
    }
    for (; *s; s++) {
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
              (*s >= '0' && *s <= '9') || *s == '_')) {
            return false;
        }
    }
    return true;
}

/* Append key 'k' as a JSON string: quotes, backslashes and control
 * characters escaped, so the path is valid and stays on one line. */
static size_t format_key(char *buf, size_t n, size_t used, const char *k)
{
    used += (size_t)snprintf(buf + used, n - used, "[\"");
    for (; *k && used < n; k++) {
        unsigned char ch = (unsigned char)*k;
        if (ch < 0x20) {
            used += (size_t)snprintf(buf + used, n - used, "\\u%04x", ch);
        } else {
            bool esc = ch == '"' || ch == '\\';
            used += (size_t)snprintf(buf + used, n - used, "%s%c",
                                     esc ? "\\" : "", ch);
        }
    }
    return used < n ? used + (size_t)snprintf(buf + used, n - used, "\"]")
                    : used;
}

/* "$.a.options[1][\"odd key\"]" into buf. */
static void format_path(const parser *ps, char *buf, size_t n)
{
    size_t used = (size_t)snprintf(buf, n, "$");
    for (size_t i = 0; i < ps->depth && used < n; i++) {
        const pz__json_seg *s = &ps->path[i];
        if (s->key == NULL) {
            used += (size_t)snprintf(buf + used, n - used, "[%zu]", s->index);
        } else if (is_ident(s->key)) {
            used += (size_t)snprintf(buf + used, n - used, ".%s", s->key);
        } else {
            used = format_key(buf, n, used, s->key);
        }
    }
}

static int push(parser *ps, const char *key, size_t index)
{
    if (pz__grow((void **)&ps->path, &ps->cap, ps->depth + 1,
                 sizeof *ps->path) != PZ_OK) {
        return pz__fail(ps->err, PZ_ENOMEM, "out of memory parsing a space");
    }
    ps->path[ps->depth++] = (pz__json_seg){key, index};
    return PZ_OK;
}

static void pop(parser *ps)
{
    ps->depth--;
}

static int perr(parser *ps, const char *fmt, ...) PZ_PRINTF(2, 3);

/* PZ_ESPACE with "<path> (line L, column C): <message>". */
static int perr(parser *ps, const char *fmt, ...)
{
    char path[128], what[160];
    size_t line, col;
    format_path(ps, path, sizeof path);
    pz__json_locate(ps->text, ps->len, ps->path, ps->depth, &line, &col);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return pz__fail(ps->err, PZ_ESPACE, "%s (line %zu, column %zu): %s", path,
                    line, col, what);
}

/* ------------------------------------------------------- parameter form */

typedef struct dist_form {
    const char *name;
    pz_dist dist;
    const char *keys[4]; /* allowed numeric keys, NULL-terminated */
} dist_form;

static const dist_form forms[] = {
    {"uniform", PZ_UNIFORM, {"low", "high", NULL}},
    {"quniform", PZ_QUNIFORM, {"low", "high", "q", NULL}},
    {"loguniform", PZ_LOGUNIFORM, {"low", "high", NULL}},
    {"qloguniform", PZ_QLOGUNIFORM, {"low", "high", "q", NULL}},
    {"normal", PZ_NORMAL, {"mu", "sigma", NULL}},
    {"qnormal", PZ_QNORMAL, {"mu", "sigma", "q", NULL}},
    {"lognormal", PZ_LOGNORMAL, {"mu", "sigma", NULL}},
    {"qlognormal", PZ_QLOGNORMAL, {"mu", "sigma", "q", NULL}},
    {"randint", PZ_RANDINT, {"low", "high", "upper", NULL}},
    {"uniformint", PZ_UNIFORMINT, {"low", "high", NULL}},
    {"choice", PZ_CHOICE, {NULL}},
    {"pchoice", PZ_PCHOICE, {NULL}},
};

static const dist_form *find_form(const char *name)
{
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        if (strcmp(forms[i].name, name) == 0) {
            return &forms[i];
        }
    }
    return NULL;
}

static const dist_form *form_of(pz_dist d)
{
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        if (forms[i].dist == d) {
            return &forms[i];
        }
    }
    return NULL;
}

static bool form_allows(const dist_form *f, const char *key)
{
    if (strcmp(key, "hp") == 0 || strcmp(key, "label") == 0) {
        return true;
    }
    if (f->dist == PZ_CHOICE || f->dist == PZ_PCHOICE) {
        return strcmp(key, "options") == 0;
    }
    for (size_t i = 0; f->keys[i]; i++) {
        if (strcmp(f->keys[i], key) == 0) {
            return true;
        }
    }
    return false;
}

static void list_keys(const dist_form *f, char *buf, size_t n)
{
    if (f->dist == PZ_CHOICE || f->dist == PZ_PCHOICE) {
        snprintf(buf, n, "options, label");
        return;
    }
    size_t used = 0;
    for (size_t i = 0; f->keys[i] && used < n; i++) {
        used += (size_t)snprintf(buf + used, n - used, "%s, ", f->keys[i]);
    }
    snprintf(buf + (used < n ? used : n - 1), n - (used < n ? used : n - 1),
             "label");
}

/* A number that a double holds exactly: integers beyond 2^53 are refused
 * rather than silently rounded. */
static int get_number(parser *ps, json_t *v, double *out)
{
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i > 9007199254740992LL || i < -9007199254740992LL) {
            return perr(ps,
                        "integer %lld is too large to be represented "
                        "exactly (limit 2^53)",
                        (long long)i);
        }
        *out = (double)i;
        return PZ_OK;
    }
    if (json_is_real(v)) {
        *out = json_real_value(v);
        return PZ_OK;
    }
    return perr(ps, "expected a number");
}

static int get_arg(parser *ps, json_t *obj, const char *key, bool required,
                   double *out)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        return required ? perr(ps, "'%s' is required", key) : PZ_OK;
    }
    int rc = push(ps, key, 0);
    if (rc == PZ_OK) {
        rc = get_number(ps, v, out);
        pop(ps);
    }
    return rc;
}

static int check_keys(parser *ps, json_t *obj, const dist_form *f)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        if (!form_allows(f, key)) {
            char keys[96];
            list_keys(f, keys, sizeof keys);
            return perr(ps, "unknown key '%s' for %s (expected: %s)", key,
                        f->name, keys);
        }
    }
    return PZ_OK;
}

/* Numeric arguments of a non-categorical parameter. */
static int read_args(parser *ps, json_t *obj, const dist_form *f,
                     pz_param_spec *s)
{
    int rc = PZ_OK;
    bool q = f->dist == PZ_QUNIFORM || f->dist == PZ_QLOGUNIFORM ||
             f->dist == PZ_QNORMAL || f->dist == PZ_QLOGNORMAL;
    if (f->dist == PZ_RANDINT && json_object_get(obj, "upper")) {
        if (json_object_get(obj, "low") || json_object_get(obj, "high")) {
            return perr(ps, "randint takes either 'upper' or 'low' and "
                            "'high', not both");
        }
        s->low = 0;
        return get_arg(ps, obj, "upper", true, &s->high);
    }
    if (f->keys[0] && strcmp(f->keys[0], "low") == 0) {
        if ((rc = get_arg(ps, obj, "low", true, &s->low)) == PZ_OK) {
            rc = get_arg(ps, obj, "high", true, &s->high);
        }
    } else if ((rc = get_arg(ps, obj, "mu", true, &s->mu)) == PZ_OK) {
        rc = get_arg(ps, obj, "sigma", true, &s->sigma);
    }
    if (rc == PZ_OK && q) {
        rc = get_arg(ps, obj, "q", true, &s->q);
    }
    return rc;
}

static int parse_value(parser *ps, json_t *v, const char *key_label,
                       size_t parent, size_t option, pz__tmpl **out);

/* Add the parameter to the table, with the message located at its path. */
static int add_param(parser *ps, const char *label, const pz_param_spec *s,
                     size_t parent, size_t option, size_t *index)
{
    pz_error e = {0};
    int rc = pz_space_add(ps->sp, label, s, parent, option, index, &e);
    if (rc == PZ_ENOMEM) {
        return pz__fail(ps->err, rc, "%s", e.msg);
    }
    return rc == PZ_OK ? PZ_OK : perr(ps, "%s", e.msg);
}

/* options: [opt, ...] for choice, [[p, opt], ...] for pchoice. Each
 * option's template is parsed with this parameter as its condition. */
static int parse_options(parser *ps, json_t *opts, pz_param_spec *s,
                         json_t **option_values, double **probs)
{
    size_t n = json_array_size(opts);
    if (!json_is_array(opts) || n == 0) {
        return perr(ps, "'options' must be a non-empty array");
    }
    s->n_options = n;
    if (s->dist != PZ_PCHOICE) {
        for (size_t i = 0; i < n; i++) {
            option_values[i] = json_array_get(opts, i);
        }
        return PZ_OK;
    }
    *probs = pz__malloc(n * sizeof **probs);
    if (*probs == NULL) {
        return pz__fail(ps->err, PZ_ENOMEM, "out of memory parsing a space");
    }
    for (size_t i = 0; i < n; i++) {
        json_t *pair = json_array_get(opts, i);
        int rc = push(ps, NULL, i);
        if (rc != PZ_OK) {
            return rc;
        }
        if (!json_is_array(pair) || json_array_size(pair) != 2) {
            return perr(ps, "a pchoice option must be [probability, value]");
        }
        rc = push(ps, NULL, 0);
        if (rc == PZ_OK) {
            rc = get_number(ps, json_array_get(pair, 0), &(*probs)[i]);
            pop(ps);
        }
        pop(ps);
        if (rc != PZ_OK) {
            return rc;
        }
        option_values[i] = json_array_get(pair, 1);
    }
    s->probs = *probs;
    return PZ_OK;
}

/* Parse option templates of choice parameter 'index'. */
static int parse_option_tmpls(parser *ps, json_t **vals, size_t n, bool pchoice,
                              size_t index, pz__tmpl *t)
{
    int rc = push(ps, "options", 0);
    for (size_t i = 0; rc == PZ_OK && i < n; i++) {
        rc = push(ps, NULL, i);
        if (rc == PZ_OK && pchoice) {
            rc = push(ps, NULL, 1);
        }
        if (rc == PZ_OK) {
            rc = parse_value(ps, vals[i], NULL, index, i, &t->kids[i]);
            ps->depth -= pchoice ? 2 : 1;
        }
    }
    if (rc == PZ_OK) {
        pop(ps);
    }
    return rc;
}

static int parse_choice(parser *ps, json_t *obj, const char *label,
                        pz_param_spec *s, size_t parent, size_t option,
                        pz__tmpl **out)
{
    json_t *opts = json_object_get(obj, "options");
    if (opts == NULL) {
        return perr(ps, "'options' is required");
    }
    size_t n = json_array_size(opts);
    json_t **vals = pz__calloc(n ? n : 1, sizeof *vals);
    double *probs = NULL;
    pz__tmpl *t = NULL;
    int rc = vals ? PZ_OK : pz__fail(ps->err, PZ_ENOMEM, "out of memory");
    if (rc == PZ_OK && (rc = push(ps, "options", 0)) == PZ_OK) {
        rc = parse_options(ps, opts, s, vals, &probs);
        if (rc == PZ_OK) {
            pop(ps);
        }
    }
    size_t index = 0;
    if (rc == PZ_OK) {
        rc = add_param(ps, label, s, parent, option, &index);
    }
    if (rc == PZ_OK && (t = tmpl_new(T_PARAM, n)) == NULL) {
        rc = pz__fail(ps->err, PZ_ENOMEM, "out of memory parsing a space");
    }
    if (rc == PZ_OK) {
        t->param = index;
        rc = parse_option_tmpls(ps, vals, n, s->dist == PZ_PCHOICE, index, t);
    }
    pz__free(probs, n * sizeof *probs);
    pz__free(vals, (n ? n : 1) * sizeof *vals);
    if (rc != PZ_OK) {
        pz__space_json_tmpl_free(t);
        return rc;
    }
    *out = t;
    return PZ_OK;
}

static int parse_label(parser *ps, json_t *obj, const char *key_label,
                       const char **label)
{
    json_t *l = json_object_get(obj, "label");
    if (l == NULL) {
        if (key_label == NULL) {
            return perr(ps, "a parameter that is not the value of an object "
                            "key needs a 'label'");
        }
        *label = key_label;
        return PZ_OK;
    }
    if (!json_is_string(l)) {
        int rc = push(ps, "label", 0);
        return rc == PZ_OK ? perr(ps, "'label' must be a string") : rc;
    }
    *label = json_string_value(l);
    return PZ_OK;
}

static int parse_const(parser *ps, json_t *obj, pz__tmpl **out)
{
    json_t *v = json_object_get(obj, "value");
    if (v == NULL || json_object_size(obj) != 2) {
        return perr(ps, "a const takes exactly one other key, 'value'");
    }
    pz__tmpl *t = tmpl_new(T_LITERAL, 0);
    if (t == NULL) {
        return pz__fail(ps->err, PZ_ENOMEM, "out of memory parsing a space");
    }
    t->literal = json_incref(v);
    *out = t;
    return PZ_OK;
}

static int parse_param(parser *ps, json_t *obj, const char *key_label,
                       size_t parent, size_t option, pz__tmpl **out)
{
    json_t *hp = json_object_get(obj, "hp");
    if (!json_is_string(hp)) {
        int rc = push(ps, "hp", 0);
        return rc == PZ_OK ? perr(ps, "'hp' must be a string naming a "
                                      "distribution")
                           : rc;
    }
    const char *name = json_string_value(hp);
    if (strcmp(name, "const") == 0) {
        return parse_const(ps, obj, out);
    }
    const dist_form *f = find_form(name);
    if (f == NULL) {
        return perr(ps, "unknown distribution '%s'", name);
    }
    const char *label = NULL;
    int rc = check_keys(ps, obj, f);
    if (rc == PZ_OK) {
        rc = parse_label(ps, obj, key_label, &label);
    }
    if (rc != PZ_OK) {
        return rc;
    }
    pz_param_spec s = {.dist = f->dist};
    if (f->dist == PZ_CHOICE || f->dist == PZ_PCHOICE) {
        return parse_choice(ps, obj, label, &s, parent, option, out);
    }
    size_t index = 0;
    if ((rc = read_args(ps, obj, f, &s)) != PZ_OK ||
        (rc = add_param(ps, label, &s, parent, option, &index)) != PZ_OK) {
        return rc;
    }
    if ((*out = tmpl_new(T_PARAM, 0)) == NULL) {
        return pz__fail(ps->err, PZ_ENOMEM, "out of memory parsing a space");
    }
    (*out)->param = index;
    return PZ_OK;
}

static int parse_dict(parser *ps, json_t *obj, size_t parent, size_t option,
                      pz__tmpl **out)
{
    pz__tmpl *t = tmpl_new(T_DICT, json_object_size(obj));
    if (t == NULL) {
        return pz__fail(ps->err, PZ_ENOMEM, "out of memory parsing a space");
    }
    const char *key;
    json_t *v;
    size_t i = 0;
    int rc = PZ_OK;
    json_object_foreach(obj, key, v)
    {
        if ((t->keys[i] = pz__strdup(key)) == NULL) {
            rc = pz__fail(ps->err, PZ_ENOMEM, "out of memory");
        } else if ((rc = push(ps, t->keys[i], 0)) == PZ_OK) {
            rc = parse_value(ps, v, t->keys[i], parent, option, &t->kids[i]);
            if (rc == PZ_OK) {
                pop(ps);
            }
        }
        if (rc != PZ_OK) {
            break;
        }
        i++;
    }
    if (rc != PZ_OK) {
        pz__space_json_tmpl_free(t);
        return rc;
    }
    *out = t;
    return PZ_OK;
}

static int parse_list(parser *ps, json_t *arr, size_t parent, size_t option,
                      pz__tmpl **out)
{
    pz__tmpl *t = tmpl_new(T_LIST, json_array_size(arr));
    if (t == NULL) {
        return pz__fail(ps->err, PZ_ENOMEM, "out of memory parsing a space");
    }
    int rc = PZ_OK;
    for (size_t i = 0; rc == PZ_OK && i < t->n; i++) {
        if ((rc = push(ps, NULL, i)) == PZ_OK) {
            rc = parse_value(ps, json_array_get(arr, i), NULL, parent, option,
                             &t->kids[i]);
            if (rc == PZ_OK) {
                pop(ps);
            }
        }
    }
    if (rc != PZ_OK) {
        pz__space_json_tmpl_free(t);
        return rc;
    }
    *out = t;
    return PZ_OK;
}

static int parse_value(parser *ps, json_t *v, const char *key_label,
                       size_t parent, size_t option, pz__tmpl **out)
{
    *out = NULL;
    if (json_is_object(v)) {
        if (json_object_get(v, "hp") != NULL) {
            return parse_param(ps, v, key_label, parent, option, out);
        }
        return parse_dict(ps, v, parent, option, out);
    }
    if (json_is_array(v)) {
        return parse_list(ps, v, parent, option, out);
    }
    pz__tmpl *t = tmpl_new(T_LITERAL, 0);
    if (t == NULL) {
        return pz__fail(ps->err, PZ_ENOMEM, "out of memory parsing a space");
    }
    t->literal = json_incref(v);
    *out = t;
    return PZ_OK;
}

/* ------------------------------------------------------------ entry points */

static int syntax_error(const json_error_t *je, const char *text, size_t len,
                        pz_error *err)
{
    if (len == 0) {
        return pz__fail(err, PZ_ESPACE, "the space is empty (no JSON value)");
    }
    /* jansson says "out of memory", says nothing, or calls a valid token
     * invalid when it could not copy it. */
    if (pz__json_check_oom(je, text, len)) {
        return pz__fail(err, PZ_ENOMEM, "out of memory parsing the space");
    }
    if (json_error_code(je) == json_error_null_character) {
        /* jansson's text names its own flag; say what is wrong instead. */
        return pz__fail(err, PZ_ESPACE,
                        "invalid JSON at line %d, column %d: a string "
                        "contains \\u0000 (NUL), which is not allowed",
                        je->line, je->column);
    }
    return pz__fail(err, PZ_ESPACE, "invalid JSON at line %d, column %d: %s",
                    je->line, je->column, je->text);
}

static bool has_bom(const char *text, size_t len)
{
    return len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0;
}

/* JSON text holds no NUL byte, but jansson skips one that follows a
 * number or a literal ("[0\0]" loads as [0]): refuse them all first. */
static int nul_error(const char *text, size_t len, pz_error *err)
{
    const char *nul = memchr(text, '\0', len);
    if (nul == NULL) {
        return PZ_OK;
    }
    size_t line = 1, column = 1; /* column in characters, as jansson's */
    for (const char *p = text; p < nul; p++) {
        if (*p == '\n') {
            line++;
            column = 1;
        } else if (((unsigned char)*p & 0xC0) != 0x80) {
            column++;
        }
    }
    return pz__fail(err, PZ_ESPACE,
                    "invalid JSON at line %zu, column %zu: control character "
                    "0x0 (a NUL byte; JSON text holds none)",
                    line, column);
}

/* How many space texts were parsed (tests count the parses of a run). */
static atomic_size_t n_parses;

size_t pz__space_json_parses(void)
{
    return atomic_load_explicit(&n_parses, memory_order_relaxed);
}

int pz_space_from_json(pz_space **out, const char *text, size_t len,
                       pz_error *err)
{
    *out = NULL;
    atomic_fetch_add_explicit(&n_parses, 1, memory_order_relaxed);
    if (has_bom(text, len)) {
        return pz__fail(err, PZ_ESPACE,
                        "the space starts with a byte-order mark (BOM); save "
                        "it as UTF-8 without one");
    }
    int rc = nul_error(text, len, err);
    if (rc != PZ_OK) {
        return rc;
    }
    /* zeroed: jansson leaves its error code unset on some failures */
    json_error_t je = {0};
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        return syntax_error(&je, text, len, err);
    }
    parser ps = {.text = text, .len = len, .err = err};
    rc = pz_space_new(&ps.sp, err);
    if (rc == PZ_OK && !json_is_object(root) && !json_is_array(root)) {
        rc = perr(&ps, "the space must be a JSON object or array, not a "
                       "bare value");
    }
    if (rc == PZ_OK) {
        rc = parse_value(&ps, root, NULL, PZ_NO_PARENT, 0, &ps.sp->tmpl);
    }
    json_decref(root);
    pz__free(ps.path, ps.cap * sizeof *ps.path);
    if (rc != PZ_OK) {
        pz_space_free(ps.sp);
        return rc;
    }
    *out = ps.sp;
    return PZ_OK;
}

/* Read a whole file into '*buf' (capacity '*cap', 'len' bytes used). */
static int read_file(const char *path, char **buf, size_t *len, size_t *cap_out,
                     pz_error *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return pz__fail(err, PZ_EIO, "%s: %s", path, strerror(errno));
    }
    size_t cap = 0, n = 0;
    char *b = NULL;
    int rc = PZ_OK;
    /* A regular file known to be too big is refused before reading it;
     * pipes and devices are bounded by the loop below. */
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) &&
        st.st_size > (off_t)MAX_FILE_BYTES) {
        fclose(f);
        return pz__fail(err, PZ_ESPACE,
                        "%s: larger than %zu MiB; not a search space", path,
                        MAX_FILE_BYTES >> 20);
    }
    for (;;) {
        if (pz__grow((void **)&b, &cap, n + 65536, 1) != PZ_OK) {
            rc = pz__fail(err, PZ_ENOMEM, "%s: out of memory", path);
            break;
        }
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (n > MAX_FILE_BYTES) {
            rc = pz__fail(err, PZ_ESPACE,
                          "%s: larger than %zu MiB; not a search space", path,
                          MAX_FILE_BYTES >> 20);
            break;
        }
        if (got == 0) {
            if (ferror(f)) {
                rc = pz__fail(err, PZ_EIO, "%s: read error: %s", path,
                              strerror(errno));
            }
            break;
        }
    }
    fclose(f);
    if (rc != PZ_OK) {
        pz__free(b, cap);
        return rc;
    }
    *buf = b;
    *len = n;
    *cap_out = cap;
    return PZ_OK;
}

int pz_space_from_file(pz_space **out, const char *path, pz_error *err)
{
    *out = NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = read_file(path, &buf, &len, &cap, err);
    if (rc != PZ_OK) {
        return rc;
    }
    rc = pz_space_from_json(out, buf, len, err);
    if (rc != PZ_OK && rc != PZ_ENOMEM) {
        pz__fail_context(err, rc, "%s", path);
    }
    pz__free(buf, cap);
    return rc;
}

/* ------------------------------------------------------------ serialize */

/* JSON text of 'j' (consumed), numbers in their shortest exact form. */
static int dump(json_t *j, int indent, char **out, pz_error *err)
{
    int rc = j ? pz__json_write(j, indent, out) : PZ_ENOMEM;
    json_decref(j);
    return rc == PZ_OK ? PZ_OK
                       : pz__fail(err, PZ_ENOMEM, "out of memory writing JSON");
}

static json_t *param_json(const pz_space *sp, size_t i, json_t *options);

static json_t *tmpl_json(const pz_space *sp, const pz__tmpl *t)
{
    if (t->kind == T_LITERAL) {
        if (json_is_object(t->literal) || json_is_array(t->literal)) {
            return json_pack("{s:s, s:O}", "hp", "const", "value", t->literal);
        }
        return json_incref(t->literal);
    }
    json_t *j = t->kind == T_DICT ? json_object() : json_array();
    for (size_t i = 0; j && i < t->n; i++) {
        json_t *kid = tmpl_json(sp, t->kids[i]);
        int bad = t->kind == T_DICT   ? json_object_set_new(j, t->keys[i], kid)
                  : t->kind == T_LIST ? json_array_append_new(j, kid)
                                      : json_array_append_new(j, kid);
        if (bad || kid == NULL) {
            json_decref(j);
            return NULL;
        }
    }
    if (t->kind == T_PARAM) {
        return param_json(sp, t->param, j);
    }
    return j;
}

/* {"hp": ..., "label": ..., args}; 'options' (stolen) for choices.
 * NULL when jansson runs out of memory: every set is checked, so a
 * space is never written with a key missing. */
static json_t *param_json(const pz_space *sp, size_t i, json_t *options)
{
    const pz__param *p = &sp->params[i];
    const pz_param_spec *s = &p->spec;
    const dist_form *f = form_of(s->dist);
    json_t *j = json_pack("{s:s, s:s}", "hp", f->name, "label", p->label);
    if (j == NULL) {
        json_decref(options);
        return NULL;
    }
    int bad = 0;
    if (s->dist == PZ_CHOICE || s->dist == PZ_PCHOICE) {
        bad = options == NULL;
        for (size_t k = 0; !bad && s->dist == PZ_PCHOICE && k < s->n_options;
             k++) {
            json_t *opt = json_array_get(options, k);
            bad = json_array_set_new(options, k,
                                     json_pack("[f, O]", s->probs[k], opt));
        }
        if (bad) {
            json_decref(options);
        } else { /* the set steals 'options', failing or not */
            bad = json_object_set_new(j, "options", options);
        }
    } else {
        json_decref(options);
        bool normal = f->keys[0] && strcmp(f->keys[0], "mu") == 0;
        bad = json_object_set_new(j, normal ? "mu" : "low",
                                  json_real(normal ? s->mu : s->low)) ||
              json_object_set_new(j, normal ? "sigma" : "high",
                                  json_real(normal ? s->sigma : s->high));
        if (!bad && s->q > 0 && f->keys[2] != NULL &&
            strcmp(f->keys[2], "q") == 0) {
            bad = json_object_set_new(j, "q", json_real(s->q));
        }
    }
    if (bad) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* The levels of a space built with pz_space_add, as (parent, option,
 * index) sorted: the parameters of one level -- the top, or one option of
 * one choice -- are a contiguous run found by binary search, so writing a
 * space is O(n log n), not O(n) per option of every choice. */
typedef struct level_item {
    size_t parent, option, index; /* top level: (PZ_NO_PARENT, 0, i) */
} level_item;

typedef struct levels {
    const pz_space *sp;
    level_item *items; /* n_params, sorted */
} levels;

static int level_cmp(const void *pa, const void *pb)
{
    const level_item *a = pa, *b = pb;
    if (a->parent != b->parent) {
        return a->parent < b->parent ? -1 : 1;
    }
    if (a->option != b->option) {
        return a->option < b->option ? -1 : 1;
    }
    return a->index < b->index ? -1 : (a->index > b->index ? 1 : 0);
}

/* [*first, *last) of 'lv->items': the parameters at (parent, option). */
static void level_range(const levels *lv, size_t parent, size_t option,
                        size_t *first, size_t *last)
{
    size_t n = lv->sp->n_params, lo = 0, hi = n;
    level_item key = {parent, parent == PZ_NO_PARENT ? 0 : option, 0};
    while (lo < hi) { /* the first item not before 'key' */
        size_t mid = lo + (hi - lo) / 2;
        if (level_cmp(&lv->items[mid], &key) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *first = *last = lo;
    while (*last < n && lv->items[*last].parent == key.parent &&
           lv->items[*last].option == key.option) {
        (*last)++;
    }
}

/* Spaces built with pz_space_add: children of a choice go inside the
 * option that activates them; an option with no children is its index.
 * A level is an object keyed by label, or a list of labelled parameters
 * when a label is "hp" (as a key it would mark the object a parameter). */
static json_t *table_json(const levels *lv, size_t parent, size_t option)
{
    const pz_space *sp = lv->sp;
    size_t first, last;
    level_range(lv, parent, option, &first, &last);
    bool as_list = false;
    for (size_t k = first; k < last; k++) {
        as_list |= strcmp(sp->params[lv->items[k].index].label, "hp") == 0;
    }
    json_t *obj = as_list ? json_array() : json_object();
    for (size_t k = first; obj && k < last; k++) {
        size_t i = lv->items[k].index;
        const pz__param *p = &sp->params[i];
        json_t *options = NULL;
        int bad = 0;
        if (p->spec.dist == PZ_CHOICE || p->spec.dist == PZ_PCHOICE) {
            options = json_array();
            bad = options == NULL;
            for (size_t o_i = 0; !bad && o_i < p->spec.n_options; o_i++) {
                json_t *o = table_json(lv, i, o_i);
                if (o != NULL && json_object_size(o) == 0 &&
                    json_array_size(o) == 0) {
                    json_decref(o);
                    o = json_integer((json_int_t)o_i);
                }
                bad = o == NULL || json_array_append_new(options, o);
            }
        }
        json_t *pj = bad ? NULL : param_json(sp, i, options);
        if (bad) {
            json_decref(options);
        }
        /* The set functions free 'pj' when they fail (and accept NULL). */
        if (pj == NULL || (as_list ? json_array_append_new(obj, pj)
                                   : json_object_set_new(obj, p->label, pj))) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

int pz_space_to_json(const pz_space *sp, char **out, pz_error *err)
{
    if (sp->tmpl) {
        return dump(tmpl_json(sp, sp->tmpl), 2, out, err);
    }
    size_t n = sp->n_params ? sp->n_params : 1;
    levels lv = {sp, pz__malloc(n * sizeof *lv.items)};
    if (lv.items == NULL) {
        return pz__fail(err, PZ_ENOMEM, "out of memory writing JSON");
    }
    for (size_t i = 0; i < sp->n_params; i++) {
        const pz__param *p = &sp->params[i];
        bool top = p->parent == PZ_NO_PARENT;
        lv.items[i] = (level_item){p->parent, top ? 0 : p->option, i};
    }
    qsort(lv.items, sp->n_params, sizeof *lv.items, level_cmp);
    json_t *j = table_json(&lv, PZ_NO_PARENT, 0);
    pz__free(lv.items, n * sizeof *lv.items);
    return dump(j, 2, out, err);
}

static json_t *value_json(const pz__param *p, double v)
{
    pz_dist d = p->spec.dist;
    if (d == PZ_RANDINT || d == PZ_UNIFORMINT || d == PZ_CHOICE ||
        d == PZ_PCHOICE) {
        return json_integer((json_int_t)v); /* a choice: its index */
    }
    return json_real(v);
}

static json_t *point_json(const pz_space *sp, const pz__tmpl *t,
                          const double *values)
{
    if (t->kind == T_LITERAL) {
        return json_deep_copy(t->literal);
    }
    if (t->kind == T_PARAM) {
        const pz__param *p = &sp->params[t->param];
        double v = values[t->param];
        if (t->n == 0) {
            return value_json(p, v);
        }
        if (!(v >= 0 && v < (double)t->n)) {
            return NULL;
        }
        return point_json(sp, t->kids[(size_t)v], values);
    }
    json_t *j = t->kind == T_DICT ? json_object() : json_array();
    for (size_t i = 0; j && i < t->n; i++) {
        json_t *kid = point_json(sp, t->kids[i], values);
        int bad = kid == NULL ||
                  (t->kind == T_DICT ? json_object_set_new(j, t->keys[i], kid)
                                     : json_array_append_new(j, kid));
        if (bad) {
            json_decref(j);
            return NULL;
        }
    }
    return j;
}

static json_t *flat_point_json(const pz_space *sp, const double *values)
{
    json_t *j = json_object();
    for (size_t i = 0; j && i < sp->n_params; i++) {
        if (pz__space_active(sp, i, values) &&
            json_object_set_new(j, sp->params[i].label,
                                value_json(&sp->params[i], values[i]))) {
            json_decref(j);
            return NULL;
        }
    }
    return j;
}

int pz_space_point_json(const pz_space *sp, const double *values, char **out,
                        pz_error *err)
{
    int rc = pz_space_check_point(sp, values, err);
    if (rc != PZ_OK) {
        return rc;
    }
    json_t *j = sp->tmpl ? point_json(sp, sp->tmpl, values)
                         : flat_point_json(sp, values);
    return dump(j, 0, out, err);
}
