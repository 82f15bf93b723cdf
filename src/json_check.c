/*
 * json_check.c -- is this text JSON? Answered without allocating.
 *
 * jansson cannot always say why a load failed. When the copy of a string
 * token cannot be allocated, its lexer calls the token invalid and the
 * parser reports a syntax error ("invalid token", "string or '}'
 * expected") with the code json_error_invalid_syntax: under memory
 * pressure a valid space was called invalid JSON. A second opinion that
 * allocates nothing tells the two apart: if the text is valid JSON, the
 * failure was memory.
 *
 * The check follows RFC 8259 plus jansson's own rules (the top-level value
 * is an object or an array, \u escapes pair their surrogates, strings are
 * valid UTF-8) and allows JSON_PARSER_MAX_DEPTH nested containers, so it
 * is never more lenient than jansson: a text it accepts is one jansson
 * loads, or refuses for a reason other than syntax (duplicate key, \u0000,
 * numeric overflow, depth). One pass, O(len), no recursion; it only runs
 * after jansson has failed.
 */
#include "pz_internal.h"

#include <jansson.h>
#include <string.h>

#define MAX_DEPTH JSON_PARSER_MAX_DEPTH /* 2048, as jansson */

typedef struct cursor {
    const unsigned char *p;   /* next byte */
    const unsigned char *end; /* one past the last byte */
} cursor;

static bool at(const cursor *c, unsigned char b)
{
    return c->p < c->end && *c->p == b;
}

static bool is_digit(const cursor *c)
{
    return c->p < c->end && *c->p >= '0' && *c->p <= '9';
}

static void skip_ws(cursor *c)
{
    while (c->p < c->end &&
           (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) {
        c->p++;
    }
}

/* One or more digits. */
static bool digits(cursor *c)
{
    const unsigned char *start = c->p;
    while (is_digit(c)) {
        c->p++;
    }
    return c->p > start;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool number(cursor *c)
{
    if (at(c, '-')) {
        c->p++;
    }
    if (at(c, '0')) {
        c->p++;
    } else if (!digits(c)) {
        return false;
    }
    if (at(c, '.')) {
        c->p++;
        if (!digits(c)) {
            return false;
        }
    }
    if (at(c, 'e') || at(c, 'E')) {
        c->p++;
        if (at(c, '+') || at(c, '-')) {
            c->p++;
        }
        return digits(c);
    }
    return true;
}

static bool literal(cursor *c, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0) {
        return false;
    }
    c->p += n;
    return true;
}

/* Four hex digits after "\u", into '*out'. */
static bool hex4(cursor *c, unsigned *out)
{
    if (c->end - c->p < 4) {
        return false;
    }
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned b = *c->p++;
        unsigned d = b >= '0' && b <= '9'   ? b - '0'
                     : b >= 'a' && b <= 'f' ? b - 'a' + 10
                     : b >= 'A' && b <= 'F' ? b - 'A' + 10
                                            : 16;
        if (d == 16) {
            return false;
        }
        v = v << 4 | d;
    }
    *out = v;
    return true;
}

/* An escape, at the byte after the backslash. A high surrogate must be
 * followed by an escaped low one; a lone low surrogate is refused. */
static bool escape(cursor *c)
{
    if (c->p == c->end) {
        return false;
    }
    unsigned char b = *c->p++;
    if (b != 'u') {
        return strchr("\"\\/bfnrt", b) != NULL && b != '\0';
    }
    unsigned v, low;
    if (!hex4(c, &v)) {
        return false;
    }
    if (v >= 0xDC00 && v <= 0xDFFF) {
        return false;
    }
    if (v < 0xD800 || v > 0xDBFF) {
        return true;
    }
    if (!at(c, '\\') || c->end - c->p < 2 || c->p[1] != 'u') {
        return false;
    }
    c->p += 2;
    return hex4(c, &low) && low >= 0xDC00 && low <= 0xDFFF;
}

/* One multi-byte UTF-8 character (RFC 3629: no overlong form, no
 * surrogate, nothing past U+10FFFF), at its lead byte. */
static bool utf8_char(cursor *c)
{
    static const unsigned least[5] = {0, 0, 0x80, 0x800, 0x10000};
    unsigned b = *c->p;
    size_t n = b >= 0xC2 && b <= 0xDF   ? 2
               : b >= 0xE0 && b <= 0xEF ? 3
               : b >= 0xF0 && b <= 0xF4 ? 4
                                        : 0;
    if (n == 0 || (size_t)(c->end - c->p) < n) {
        return false;
    }
    unsigned cp = b & (0x7Fu >> n);
    for (size_t i = 1; i < n; i++) {
        if ((c->p[i] & 0xC0) != 0x80) {
            return false;
        }
        cp = cp << 6 | (c->p[i] & 0x3Fu);
    }
    if (cp < least[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return false;
    }
    c->p += n;
    return true;
}

static bool string(cursor *c)
{
    if (!at(c, '"')) {
        return false;
    }
    c->p++;
    while (c->p < c->end) {
        unsigned char b = *c->p;
        bool ok = true;
        if (b == '"') {
            c->p++;
            return true;
        } else if (b < 0x20) {
            return false;
        } else if (b == '\\') {
            c->p++;
            ok = escape(c);
        } else if (b >= 0x80) {
            ok = utf8_char(c);
        } else {
            c->p++;
        }
        if (!ok) {
            return false;
        }
    }
    return false;
}

static bool scalar(cursor *c)
{
    if (c->p == c->end) {
        return false;
    }
    switch (*c->p) {
    case '"':
        return string(c);
    case 't':
        return literal(c, "true");
    case 'f':
        return literal(c, "false");
    case 'n':
        return literal(c, "null");
    default:
        return number(c);
    }
}

/* An object member's key and its colon. */
static bool key(cursor *c)
{
    skip_ws(c);
    if (!string(c)) {
        return false;
    }
    skip_ws(c);
    if (!at(c, ':')) {
        return false;
    }
    c->p++;
    return true;
}

/* The kinds of the open containers, one bit a level: 1 for an object. */
typedef struct levels {
    uint8_t bits[MAX_DEPTH / 8];
    size_t depth; /* containers open */
} levels;

static bool top_is_object(const levels *l)
{
    size_t d = l->depth - 1;
    return ((unsigned)l->bits[d / 8] >> (d % 8) & 1u) != 0;
}

/* Open a container at 'c' (at '{' or '['), then expect its first key or
 * value, or its close. Returns false on a syntax error; sets '*closed'
 * for an empty container. */
static bool open_container(cursor *c, levels *l, bool *closed)
{
    bool obj = *c->p++ == '{';
    if (l->depth == MAX_DEPTH) {
        return false;
    }
    unsigned bit = 1u << (l->depth % 8);
    uint8_t *byte = &l->bits[l->depth / 8];
    *byte = (uint8_t)(obj ? *byte | bit : *byte & ~bit);
    l->depth++;
    skip_ws(c);
    *closed = at(c, obj ? '}' : ']');
    if (*closed) {
        c->p++;
        l->depth--;
        return true;
    }
    return !obj || key(c);
}

bool pz__json_check(const char *text, size_t len)
{
    cursor c = {(const unsigned char *)text, (const unsigned char *)text + len};
    levels l = {.depth = 0};
    bool want_value = true;
    skip_ws(&c);
    if (!at(&c, '{') && !at(&c, '[')) {
        return false; /* jansson loads objects and arrays only */
    }
    for (;;) {
        skip_ws(&c);
        if (want_value) {
            bool closed = true;
            bool ok = (at(&c, '{') || at(&c, '['))
                          ? open_container(&c, &l, &closed)
                          : scalar(&c);
            if (!ok) {
                return false;
            }
            want_value = !closed;
            continue;
        }
        if (l.depth == 0) {
            return c.p == c.end;
        }
        bool obj = top_is_object(&l);
        if (at(&c, ',')) {
            c.p++;
            want_value = true;
            if (obj && !key(&c)) {
                return false;
            }
        } else if (at(&c, obj ? '}' : ']')) {
            c.p++;
            l.depth--;
        } else {
            return false;
        }
    }
}

bool pz__json_check_oom(const json_error_t *je, const char *text, size_t len)
{
    enum json_error_code code = json_error_code(je);
    if (code == json_error_out_of_memory) {
        return true;
    }
    /* Failures to allocate a value or to start the lexer set no error:
     * 'je' stays as json_loadb initialized it. */
    if (je->line == -1 && je->text[0] == '\0') {
        return true;
    }
    if (code != json_error_invalid_syntax &&
        code != json_error_premature_end_of_input) {
        return false;
    }
    return pz__json_check(text, len);
}
