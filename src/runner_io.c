/*
 * runner_io.c -- the command protocol (pz_command*, parzen.h), without
 * touching processes: a trial's argv from the command template, its
 * outcome from how it ended and what it wrote, and the tails of its
 * output. The local process pool (runner*.c) and the Spark path of
 * `parzen run` (python/_core, on the driver) both call it.
 *
 * Result protocol (docs/cli.md): the text is a number, or a JSON object
 * with "loss" (a number or numeric string), "status" ("ok" or "fail",
 * default "ok") and any other keys, kept as the result document. A NaN or
 * infinite loss, an 'ok' without a loss, or anything unparsable is an
 * ERROR outcome with the reason: failing objectives are data.
 *
 * Placeholders: "{label}" in an argument is the value 'label' takes in
 * the user's point. For a space with a template (the JSON form) this is
 * found by walking the space's JSON form and the point side by side, so
 * a choice between strings gives the string; for a flat space it is the
 * parameter's value (a choice gives its index). Unknown names and other
 * braces are left as they are. Expansion runs once per trial; the space
 * JSON is parsed once per cmdline.
 */
#define _POSIX_C_SOURCE 200809L /* strsignal */
#include "pz_internal.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ----------------------------------------------------------------- tail */

int pz__runner_io_tail_init(pz__tail *t, size_t cap, pz_error *err)
{
    memset(t, 0, sizeof *t);
    t->buf = pz__malloc(cap);
    if (t->buf == NULL) {
        return pz__fail(err, PZ_ENOMEM, "out of memory for output buffers");
    }
    t->cap = cap;
    return PZ_OK;
}

void pz__runner_io_tail_fini(pz__tail *t)
{
    pz__free(t->buf, t->cap);
    memset(t, 0, sizeof *t);
}

void pz__runner_io_tail_reset(pz__tail *t)
{
    t->len = 0;
    t->head = 0;
    t->total = 0;
}

void pz__runner_io_tail_push(pz__tail *t, const char *p, size_t n)
{
    t->total += n;
    if (n >= t->cap) { /* only the last cap bytes survive */
        memcpy(t->buf, p + (n - t->cap), t->cap);
        t->head = 0;
        t->len = t->cap;
        return;
    }
    size_t tail = (t->head + t->len) % t->cap; /* first free byte */
    size_t first = n < t->cap - tail ? n : t->cap - tail;
    memcpy(t->buf + tail, p, first);
    memcpy(t->buf, p + first, n - first);
    size_t over = t->len + n > t->cap ? t->len + n - t->cap : 0;
    t->head = (t->head + over) % t->cap;
    t->len += n - over;
}

static void reverse(char *p, size_t n)
{
    for (size_t i = 0; i < n / 2; i++) {
        char c = p[i];
        p[i] = p[n - 1 - i];
        p[n - 1 - i] = c;
    }
}

const char *pz__runner_io_tail_bytes(pz__tail *t, size_t *len)
{
    if (t->head != 0) { /* rotate left by head: three reversals */
        reverse(t->buf, t->head);
        reverse(t->buf + t->head, t->cap - t->head);
        reverse(t->buf, t->cap);
        t->head = 0;
    }
    *len = t->len;
    return t->buf;
}

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
           c == '\f';
}

const char *pz__runner_io_last_line(const char *buf, size_t len,
                                    size_t *line_len)
{
    size_t end = len;
    while (end > 0 && blank(buf[end - 1])) {
        end--;
    }
    if (end == 0) {
        return NULL;
    }
    size_t start = end;
    while (start > 0 && buf[start - 1] != '\n') {
        start--;
    }
    *line_len = end - start;
    return buf + start;
}

/* --------------------------------------------------------------- result */

/* An ERROR outcome; the reason is made one printable line (a JSON
 * error quotes the objective's raw bytes). */
static void fail_outcome(pz_command_outcome *o, const char *fmt,
                         const char *arg)
{
    o->state = PZ_TRIAL_ERROR;
    o->status = "fail";
    o->loss = (double)NAN;
    snprintf(o->error, sizeof o->error, fmt, arg);
    for (char *p = o->error; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            *p = '?';
        }
    }
}

/* Up to 60 bytes of 'text' with control bytes shown as '?'. */
static void excerpt(const char *text, size_t len, char *out, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < len && k + 4 < n && i < 60; i++) {
        unsigned char c = (unsigned char)text[i];
        out[k++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (len > 60 && k + 4 < n) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
}

/* Check a loss is usable; on failure the outcome says why. */
static bool loss_ok(double loss, pz_command_outcome *o)
{
    if (isnan(loss)) {
        fail_outcome(o, "the loss is NaN%s", "");
        return false;
    }
    if (!isfinite(loss)) {
        fail_outcome(o, "the loss is %s", loss > 0 ? "+inf" : "-inf");
        return false;
    }
    return true;
}

/* The result document: the objective's own JSON text, kept as written
 * (numbers keep their digits), on one line, with "status" added when it
 * was left out. Raw line breaks can only be whitespace in valid JSON. */
static int keep_text(const char *text, size_t len, bool add_status,
                     pz_command_outcome *o, pz_error *err)
{
    static const char status[] = "\"status\":\"ok\",";
    size_t extra = add_status ? sizeof status - 1 : 0;
    char *out = pz__malloc(len + extra + 1);
    if (out == NULL) {
        return pz__fail(err, PZ_ENOMEM, "out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        out[k++] = text[i] == '\n' || text[i] == '\r' ? ' ' : text[i];
        if (i == 0 && add_status) {
            memcpy(out + k, status, extra);
            k += extra;
        }
    }
    out[k] = '\0';
    o->result_json = pz__strdup(out);
    pz__free(out, len + extra + 1);
    return o->result_json ? PZ_OK : pz__fail(err, PZ_ENOMEM, "out of memory");
}

static int parse_number(const char *text, size_t len, pz_command_outcome *o,
                        pz_error *err)
{
    char buf[128], *end = NULL;
    double v = (double)NAN;
    if (len < sizeof buf) {
        memcpy(buf, text, len);
        buf[len] = '\0';
        v = strtod(buf, &end);
    }
    /* The whole text: "0.5<NUL>junk" is not the number 0.5. */
    if (end == NULL || end == buf || end != buf + len) {
        char ex[80];
        excerpt(text, len, ex, sizeof ex);
        fail_outcome(o,
                     "unparsable result '%s' (expected a number or a "
                     "JSON object)",
                     ex);
        return PZ_OK;
    }
    if (!loss_ok(v, o)) {
        return PZ_OK;
    }
    o->state = PZ_TRIAL_DONE;
    o->status = "ok";
    o->loss = v;
    char doc[96], num[40];
    pz_format_double(v, num, sizeof num);
    snprintf(doc, sizeof doc, "{\"loss\":%s,\"status\":\"ok\"}", num);
    o->result_json = pz__strdup(doc);
    return o->result_json ? PZ_OK : pz__fail(err, PZ_ENOMEM, "out of memory");
}

/* The "loss" of a result object: a number, a numeric string, or none
 * (NaN, *present false). */
static bool object_loss(json_t *obj, double *loss, bool *present)
{
    json_t *v = json_object_get(obj, "loss");
    *present = v != NULL && !json_is_null(v);
    *loss = (double)NAN;
    if (!*present) {
        return true;
    }
    if (json_is_number(v)) {
        *loss = json_number_value(v);
        return true;
    }
    char *end = NULL;
    if (json_is_string(v)) {
        *loss = strtod(json_string_value(v), &end);
    }
    return end != NULL && end != json_string_value(v) && *end == '\0';
}

/* "ok" or "fail" from the object (default "ok"), else NULL. */
static const char *object_status(json_t *obj, pz_command_outcome *o)
{
    json_t *v = json_object_get(obj, "status");
    const char *s = v ? json_string_value(v) : "ok";
    if (s != NULL && (strcmp(s, "ok") == 0 || strcmp(s, "fail") == 0)) {
        return strcmp(s, "ok") == 0 ? "ok" : "fail";
    }
    fail_outcome(o, "the result's \"status\" must be \"ok\" or \"fail\"%s", "");
    return NULL;
}

static int parse_object(json_t *obj, const char *text, size_t len,
                        pz_command_outcome *o, pz_error *err)
{
    double loss;
    bool present;
    const char *status = object_status(obj, o);
    if (status == NULL) {
        return PZ_OK;
    }
    if (!object_loss(obj, &loss, &present)) {
        fail_outcome(o, "the result's \"loss\" is not a number%s", "");
        return PZ_OK;
    }
    if (!present && strcmp(status, "ok") == 0) {
        fail_outcome(o, "the result has status \"ok\" but no \"loss\"%s", "");
        return PZ_OK;
    }
    if (present && !loss_ok(loss, o)) {
        return PZ_OK;
    }
    o->state = PZ_TRIAL_DONE;
    o->status = status;
    o->loss = loss;
    return keep_text(text, len, json_object_get(obj, "status") == NULL, o, err);
}

int pz__runner_io_parse(const char *text, size_t len, pz_command_outcome *o,
                        pz_error *err)
{
    memset(o, 0, sizeof *o);
    while (len > 0 && blank(*text)) {
        text++;
        len--;
    }
    while (len > 0 && blank(text[len - 1])) {
        len--;
    }
    if (len == 0) {
        fail_outcome(o, "no result: nothing on stdout and no result file%s",
                     "");
        return PZ_OK;
    }
    if (memchr(text, '\0', len) != NULL) { /* jansson skips some */
        fail_outcome(o, "the result holds a NUL byte%s", "");
        return PZ_OK;
    }
    if (text[0] != '{') {
        return parse_number(text, len, o, err);
    }
    /* zeroed: jansson leaves its error code unset on some failures */
    json_error_t je = {0};
    json_t *obj = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (obj == NULL && pz__json_check_oom(&je, text, len)) {
        /* the objective is not at fault: jansson ran out of memory */
        return pz__fail(err, PZ_ENOMEM, "out of memory reading a result");
    }
    if (!json_is_object(obj)) {
        json_decref(obj);
        fail_outcome(o, "the result is not a valid JSON object: %s", je.text);
        return PZ_OK;
    }
    int rc = parse_object(obj, text, len, o, err);
    json_decref(obj);
    return rc;
}

void pz_command_outcome_fini(pz_command_outcome *o)
{
    pz__free_str(o->result_json);
    o->result_json = NULL;
}

/* "exit status 1: <last line of stderr>" */
static void exit_reason(const pz_command_exit *ex, pz_command_outcome *o)
{
    size_t line_len = 0;
    const char *line =
        ex->err_text
            ? pz__runner_io_last_line(ex->err_text, ex->err_len, &line_len)
            : NULL;
    int k =
        snprintf(o->error, sizeof o->error, "exit status %d", ex->exit_code);
    if (line != NULL && k > 0 && (size_t)k < sizeof o->error) {
        snprintf(o->error + k, sizeof o->error - (size_t)k, ": %.*s",
                 (int)(line_len < 160 ? line_len : 160), line);
    }
}

int pz_command_outcome_of(const pz_command_exit *ex, pz_command_outcome *o,
                          pz_error *err)
{
    memset(o, 0, sizeof *o);
    o->state = PZ_TRIAL_ERROR;
    o->status = "fail";
    o->loss = (double)NAN;
    if (ex->signal > 0) {
        snprintf(o->error, sizeof o->error, "killed by signal %d (%s)",
                 ex->signal, strsignal(ex->signal));
        return PZ_OK;
    }
    if (ex->exit_code != 0) {
        exit_reason(ex, o);
        return PZ_OK;
    }
    if (ex->result_file != NULL && ex->result_len > 0) {
        return pz__runner_io_parse(ex->result_file, ex->result_len, o, err);
    }
    size_t line_len = 0;
    const char *line =
        ex->out ? pz__runner_io_last_line(ex->out, ex->out_len, &line_len)
                : NULL;
    return pz__runner_io_parse(line ? line : "", line_len, o, err);
}

/* -------------------------------------------------------------- cmdline */

struct pz_command {
    const pz_space *sp; /* borrowed */
    char *const *tmpl;  /* borrowed, argc + NULL */
    size_t argc;
    bool expand;  /* some argument holds a '{' */
    json_t *form; /* the space's JSON form (spaces with a template) */
    char **text;  /* n_params texts of the current trial, or NULL */
    char **argv;  /* argc + 1: expanded (owned) or template pointers */
    bool *owned;  /* argc: argv[i] is ours */
    size_t n_params;
};

int pz_command_new(pz_command **out, const pz_space *sp, char *const *argv,
                   pz_error *err)
{
    *out = NULL;
    pz_command *c = pz__calloc(1, sizeof *c);
    if (c == NULL) {
        return pz__fail(err, PZ_ENOMEM, "out of memory");
    }
    c->sp = sp;
    c->tmpl = argv;
    while (argv[c->argc] != NULL) {
        c->expand |= strchr(argv[c->argc], '{') != NULL;
        c->argc++;
    }
    c->n_params = pz_space_size(sp);
    c->argv = pz__calloc(c->argc + 1, sizeof *c->argv);
    c->owned = pz__calloc(c->argc + 1, sizeof *c->owned);
    c->text = pz__calloc(c->n_params + 1, sizeof *c->text);
    char *form = NULL;
    int rc = c->argv && c->owned && c->text ? PZ_OK : PZ_ENOMEM;
    if (rc == PZ_OK && c->expand && sp->tmpl != NULL &&
        (rc = pz_space_to_json(sp, &form, err)) == PZ_OK) {
        c->form = json_loads(form, 0, NULL);
        rc = c->form ? PZ_OK : PZ_ENOMEM;
    }
    pz_free(form);
    if (rc != PZ_OK) {
        pz_command_free(c);
        return pz__fail(err, rc, "out of memory");
    }
    *out = c;
    return PZ_OK;
}

static void clear_trial(pz_command *c)
{
    for (size_t i = 0; i < c->n_params; i++) {
        pz__free_str(c->text[i]);
        c->text[i] = NULL;
    }
    for (size_t i = 0; i < c->argc; i++) {
        if (c->owned[i]) {
            pz__free_str(c->argv[i]);
        }
        c->owned[i] = false;
        c->argv[i] = NULL;
    }
}

void pz_command_free(pz_command *c)
{
    if (c == NULL) {
        return;
    }
    if (c->text != NULL && c->argv != NULL && c->owned != NULL) {
        clear_trial(c);
    }
    json_decref(c->form);
    pz__free(c->text, (c->n_params + 1) * sizeof *c->text);
    pz__free(c->argv, (c->argc + 1) * sizeof *c->argv);
    pz__free(c->owned, (c->argc + 1) * sizeof *c->owned);
    pz__free(c, sizeof *c);
}

/* Text of a JSON value as a placeholder: strings unquoted, numbers in
 * their shortest form, containers as compact JSON. Transferred. */
static char *value_text(json_t *v)
{
    char buf[64];
    if (json_is_string(v)) {
        return pz__strdup(json_string_value(v));
    }
    if (json_is_integer(v)) {
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
        return pz__strdup(buf);
    }
    if (json_is_real(v)) {
        pz_format_double(json_real_value(v), buf, sizeof buf);
        return pz__strdup(buf);
    }
    char *out = NULL;
    return pz__json_write(v, 0, &out) == PZ_OK ? out : NULL;
}

static int walk(pz_command *c, json_t *form, json_t *point,
                const double *values);

/* A parameter node of the form: record its value, follow a choice. */
static int walk_param(pz_command *c, json_t *form, json_t *point,
                      const double *values)
{
    const char *hp = json_string_value(json_object_get(form, "hp"));
    const char *label = json_string_value(json_object_get(form, "label"));
    size_t i;
    if (hp == NULL || strcmp(hp, "const") == 0 || label == NULL ||
        pz_space_find(c->sp, label, &i) != PZ_OK) {
        return PZ_OK;
    }
    if (c->text[i] == NULL && (c->text[i] = value_text(point)) == NULL) {
        return PZ_ENOMEM;
    }
    json_t *opts = json_object_get(form, "options");
    if (!json_is_array(opts) || isnan(values[i])) {
        return PZ_OK;
    }
    json_t *opt = json_array_get(opts, (size_t)values[i]);
    if (strcmp(hp, "pchoice") == 0) {
        opt = json_array_get(opt, 1); /* [probability, option] */
    }
    return opt ? walk(c, opt, point, values) : PZ_OK;
}

/* Walk the space's JSON form and the point side by side. */
static int walk(pz_command *c, json_t *form, json_t *point,
                const double *values)
{
    int rc = PZ_OK;
    if (json_is_object(form) && json_object_get(form, "hp") != NULL) {
        return walk_param(c, form, point, values);
    }
    if (json_is_object(form) && json_is_object(point)) {
        const char *key;
        json_t *sub;
        json_object_foreach(form, key, sub)
        {
            json_t *p = json_object_get(point, key);
            if (p != NULL && (rc = walk(c, sub, p, values)) != PZ_OK) {
                break;
            }
        }
    } else if (json_is_array(form) && json_is_array(point)) {
        for (size_t k = 0; k < json_array_size(form) && rc == PZ_OK; k++) {
            json_t *p = json_array_get(point, k);
            rc = p ? walk(c, json_array_get(form, k), p, values) : PZ_OK;
        }
    }
    return rc;
}

/* Texts of every active parameter for a flat space: their values. */
static int flat_texts(pz_command *c, const double *values)
{
    char buf[64];
    for (size_t i = 0; i < c->n_params; i++) {
        if (isnan(values[i])) {
            continue;
        }
        pz_format_double(values[i], buf, sizeof buf);
        if ((c->text[i] = pz__strdup(buf)) == NULL) {
            return PZ_ENOMEM;
        }
    }
    return PZ_OK;
}

static int label_texts(pz_command *c, const double *values,
                       const char *point_json)
{
    if (c->form == NULL) {
        return flat_texts(c, values);
    }
    json_t *point = json_loads(point_json, JSON_DECODE_ANY, NULL);
    if (point == NULL) {
        return PZ_ENOMEM;
    }
    int rc = walk(c, c->form, point, values);
    json_decref(point);
    return rc;
}

/* Append n bytes to a growing string. */
static int append(char **s, size_t *len, size_t *cap, const char *p, size_t n)
{
    if (pz__grow((void **)s, cap, *len + n + 1, 1) != PZ_OK) {
        return PZ_ENOMEM;
    }
    memcpy(*s + *len, p, n);
    *len += n;
    (*s)[*len] = '\0';
    return PZ_OK;
}

/* The text for "{name}" (name not NUL-terminated), or NULL: no label. */
static const char *lookup(const pz_command *c, const char *name, size_t n)
{
    char buf[256];
    size_t i;
    if (n >= sizeof buf) {
        return NULL;
    }
    memcpy(buf, name, n);
    buf[n] = '\0';
    if (pz_space_find(c->sp, buf, &i) != PZ_OK) {
        return NULL;
    }
    return c->text[i] ? c->text[i] : "";
}

/* Expand one argument into a fresh string (exact-size, pz__free_str). */
static int expand_arg(const pz_command *c, const char *arg, char **out)
{
    char *s = NULL;
    size_t len = 0, cap = 0;
    int rc = append(&s, &len, &cap, "", 0);
    for (const char *p = arg; rc == PZ_OK && *p != '\0';) {
        const char *close = *p == '{' ? strchr(p, '}') : NULL;
        const char *v = close ? lookup(c, p + 1, (size_t)(close - p - 1)) : 0;
        if (v != NULL) {
            rc = append(&s, &len, &cap, v, strlen(v));
            p = close + 1;
        } else {
            rc = append(&s, &len, &cap, p, 1);
            p++;
        }
    }
    *out = rc == PZ_OK ? pz__strdup(s) : NULL;
    pz__free(s, cap);
    return *out ? PZ_OK : PZ_ENOMEM;
}

int pz_command_argv(pz_command *c, const double *values, const char *point_json,
                    char *const **argv, pz_error *err)
{
    clear_trial(c);
    int rc = c->expand ? label_texts(c, values, point_json) : PZ_OK;
    for (size_t i = 0; rc == PZ_OK && i < c->argc; i++) {
        if (c->expand && strchr(c->tmpl[i], '{') != NULL) {
            rc = expand_arg(c, c->tmpl[i], &c->argv[i]);
            c->owned[i] = rc == PZ_OK;
        } else {
            c->argv[i] = c->tmpl[i];
        }
    }
    if (rc != PZ_OK) {
        clear_trial(c);
        return pz__fail(err, PZ_ENOMEM, "out of memory building the argv");
    }
    *argv = c->argv;
    return PZ_OK;
}
