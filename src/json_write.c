/*
 * json_write.c -- JSON text with numbers in their shortest exact form.
 *
 * jansson prints reals with a fixed 17 significant digits, so a 0.1 read
 * from a space file comes back as 0.10000000000000001: exact, but noise to
 * the people who read points, spaces and trial records. This writer emits
 * the shortest of %.15g, %.16g and %.17g that parses back to the same
 * double (and keeps a ".0" on integral reals so they stay reals), with
 * jansson's layout: compact, or indented by 'indent' spaces.
 */
#include "pz_internal.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sbuf {
    char *s;
    size_t n, cap;
    bool oom;
} sbuf;

static void put(sbuf *b, const char *s, size_t n)
{
    if (b->oom) {
        return;
    }
    if (pz__grow((void **)&b->s, &b->cap, b->n + n + 1, 1) != PZ_OK) {
        b->oom = true;
        return;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
}

static void puts_(sbuf *b, const char *s)
{
    put(b, s, strlen(s));
}

void pz_format_double(double v, char *buf, size_t n)
{
    /* Rounding to 15 digits already gives any shorter exact form (padded
     * zeros are trimmed by %g), so only 15..17 need trying. */
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) {
            return;
        }
    }
}

static void put_real(sbuf *b, double v)
{
    char text[40];
    pz_format_double(v, text, sizeof text);
    puts_(b, text);
    if (strpbrk(text, ".eEn") == NULL) {
        puts_(b, ".0"); /* an integral real stays a real */
    }
}

static void put_string(sbuf *b, const char *s, size_t n)
{
    puts_(b, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(b, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            put(b, esc, 6);
        } else {
            put(b, (const char *)&s[i], 1);
        }
    }
    puts_(b, "\"");
}

static void newline(sbuf *b, int indent, int depth)
{
    if (indent > 0) {
        puts_(b, "\n");
        for (int i = 0; i < indent * depth; i++) {
            puts_(b, " ");
        }
    }
}

static void put_value(sbuf *b, const json_t *j, int indent, int depth);

static void put_object(sbuf *b, const json_t *j, int indent, int depth)
{
    if (json_object_size(j) == 0) {
        puts_(b, "{}");
        return;
    }
    puts_(b, "{");
    const char *key;
    json_t *v;
    bool first = true;
    json_object_foreach((json_t *)(uintptr_t)j, key, v)
    {
        puts_(b, first ? "" : ",");
        first = false;
        newline(b, indent, depth + 1);
        put_string(b, key, strlen(key));
        puts_(b, indent > 0 ? ": " : ":");
        put_value(b, v, indent, depth + 1);
    }
    newline(b, indent, depth);
    puts_(b, "}");
}

static void put_array(sbuf *b, const json_t *j, int indent, int depth)
{
    size_t n = json_array_size(j);
    if (n == 0) {
        puts_(b, "[]");
        return;
    }
    puts_(b, "[");
    for (size_t i = 0; i < n; i++) {
        puts_(b, i ? "," : "");
        newline(b, indent, depth + 1);
        put_value(b, json_array_get(j, i), indent, depth + 1);
    }
    newline(b, indent, depth);
    puts_(b, "]");
}

static void put_value(sbuf *b, const json_t *j, int indent, int depth)
{
    char text[32];
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        put_object(b, j, indent, depth);
        break;
    case JSON_ARRAY:
        put_array(b, j, indent, depth);
        break;
    case JSON_STRING:
        put_string(b, json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER:
        snprintf(text, sizeof text, "%lld", (long long)json_integer_value(j));
        puts_(b, text);
        break;
    case JSON_REAL:
        put_real(b, json_real_value(j));
        break;
    case JSON_TRUE:
        puts_(b, "true");
        break;
    case JSON_FALSE:
        puts_(b, "false");
        break;
    default:
        puts_(b, "null");
        break;
    }
}

int pz__json_write(const json_t *j, int indent, char **out)
{
    sbuf b = {0};
    put_value(&b, j, indent, 0);
    if (b.oom) {
        pz__free(b.s, b.cap);
        return PZ_ENOMEM;
    }
    /* pz_free releases strlen + 1 bytes: hand back exactly that. */
    char *s = pz__realloc(b.s, b.cap, b.n + 1);
    if (s == NULL) {
        pz__free(b.s, b.cap);
        return PZ_ENOMEM;
    }
    s[b.n] = '\0';
    *out = s;
    return PZ_OK;
}
