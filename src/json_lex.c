/*
 * json_lex.c -- one JSON lexer: tokens with their byte offset, line and
 * column, and the walk from a JSON path to where its value starts.
 *
 * jansson loads the text but keeps no positions, so the two places that
 * read JSON text themselves share this lexer: the syntax check
 * (json_check.c, the second opinion after a failed load) and the path
 * locator below (space_json.c's error messages). Tokens follow RFC 8259
 * plus jansson's rules: \u escapes pair their surrogates, strings are
 * valid UTF-8, no control character inside a string. The lexer allocates
 * nothing and never reads past 'end'.
 *
 * Columns count characters (UTF-8 lead bytes), as jansson's do.
 */
#include "pz_internal.h"

#include <string.h>

void pz__json_lex_init(pz__json_lexer *lx, const char *text, size_t len)
{
    *lx = (pz__json_lexer){
        .base = (const unsigned char *)text,
        .p = (const unsigned char *)text,
        .end = (const unsigned char *)text + len,
        .line = 1,
        .col = 1,
    };
}

static bool at(const pz__json_lexer *lx, unsigned char b)
{
    return lx->p < lx->end && *lx->p == b;
}

static bool is_digit(const pz__json_lexer *lx)
{
    return lx->p < lx->end && *lx->p >= '0' && *lx->p <= '9';
}

static void skip_ws(pz__json_lexer *lx)
{
    while (lx->p < lx->end) {
        unsigned char b = *lx->p;
        if (b == '\n') {
            lx->line++;
            lx->col = 1;
        } else if (b == ' ' || b == '\t' || b == '\r') {
            lx->col++;
        } else {
            return;
        }
        lx->p++;
    }
}

/* One or more digits. */
static bool digits(pz__json_lexer *lx)
{
    const unsigned char *start = lx->p;
    while (is_digit(lx)) {
        lx->p++;
    }
    return lx->p > start;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool number(pz__json_lexer *lx)
{
    if (at(lx, '-')) {
        lx->p++;
    }
    if (at(lx, '0')) {
        lx->p++;
    } else if (!digits(lx)) {
        return false;
    }
    if (at(lx, '.')) {
        lx->p++;
        if (!digits(lx)) {
            return false;
        }
    }
    if (at(lx, 'e') || at(lx, 'E')) {
        lx->p++;
        if (at(lx, '+') || at(lx, '-')) {
            lx->p++;
        }
        return digits(lx);
    }
    return true;
}

static bool literal(pz__json_lexer *lx, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(lx->end - lx->p) < n || memcmp(lx->p, word, n) != 0) {
        return false;
    }
    lx->p += n;
    return true;
}

/* The value of four hex digits at 'p' (known to be there), or 0x10000
 * when one is not a hex digit. */
static unsigned hex4_at(const unsigned char *p)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned b = p[i];
        unsigned d = b >= '0' && b <= '9'   ? b - '0'
                     : b >= 'a' && b <= 'f' ? b - 'a' + 10
                     : b >= 'A' && b <= 'F' ? b - 'A' + 10
                                            : 16;
        if (d == 16) {
            return 0x10000;
        }
        v = v << 4 | d;
    }
    return v;
}

/* Four hex digits after "\u", into '*out'. */
static bool hex4(pz__json_lexer *lx, unsigned *out)
{
    if (lx->end - lx->p < 4) {
        return false;
    }
    *out = hex4_at(lx->p);
    lx->p += 4;
    return *out < 0x10000;
}

/* An escape, at the byte after the backslash. A high surrogate must be
 * followed by an escaped low one; a lone low surrogate is refused. */
static bool escape(pz__json_lexer *lx)
{
    if (lx->p == lx->end) {
        return false;
    }
    unsigned char b = *lx->p++;
    if (b != 'u') {
        return strchr("\"\\/bfnrt", b) != NULL && b != '\0';
    }
    unsigned v, low;
    if (!hex4(lx, &v)) {
        return false;
    }
    if (v >= 0xDC00 && v <= 0xDFFF) {
        return false;
    }
    if (v < 0xD800 || v > 0xDBFF) {
        return true;
    }
    if (!at(lx, '\\') || lx->end - lx->p < 2 || lx->p[1] != 'u') {
        return false;
    }
    lx->p += 2;
    return hex4(lx, &low) && low >= 0xDC00 && low <= 0xDFFF;
}

/* One multi-byte UTF-8 character (RFC 3629: no overlong form, no
 * surrogate, nothing past U+10FFFF), at its lead byte. */
static bool utf8_char(pz__json_lexer *lx)
{
    static const unsigned least[5] = {0, 0, 0x80, 0x800, 0x10000};
    unsigned b = *lx->p;
    size_t n = b >= 0xC2 && b <= 0xDF   ? 2
               : b >= 0xE0 && b <= 0xEF ? 3
               : b >= 0xF0 && b <= 0xF4 ? 4
                                        : 0;
    if (n == 0 || (size_t)(lx->end - lx->p) < n) {
        return false;
    }
    unsigned cp = b & (0x7Fu >> n);
    for (size_t i = 1; i < n; i++) {
        if ((lx->p[i] & 0xC0) != 0x80) {
            return false;
        }
        cp = cp << 6 | (lx->p[i] & 0x3Fu);
    }
    if (cp < least[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return false;
    }
    lx->p += n;
    return true;
}

/* A string, at its opening quote. */
static bool string(pz__json_lexer *lx)
{
    lx->p++;
    while (lx->p < lx->end) {
        unsigned char b = *lx->p;
        bool ok = true;
        if (b == '"') {
            lx->p++;
            return true;
        } else if (b < 0x20) {
            return false;
        } else if (b == '\\') {
            lx->p++;
            ok = escape(lx);
        } else if (b >= 0x80) {
            ok = utf8_char(lx);
        } else {
            lx->p++;
        }
        if (!ok) {
            return false;
        }
    }
    return false;
}

/* The token at the cursor (after white space), its end left in lx->p. */
static pz__json_tok scan(pz__json_lexer *lx)
{
    static const char punct[] = "{}[]:,";
    static const pz__json_tok punct_tok[] = {
        PZ__JSON_LBRACE,   PZ__JSON_RBRACE, PZ__JSON_LBRACKET,
        PZ__JSON_RBRACKET, PZ__JSON_COLON,  PZ__JSON_COMMA,
    };
    if (lx->p == lx->end) {
        return PZ__JSON_END;
    }
    unsigned char b = *lx->p;
    const char *pc = b != '\0' ? strchr(punct, b) : NULL;
    if (pc != NULL) {
        lx->p++;
        return punct_tok[pc - punct];
    }
    switch (b) {
    case '"':
        return string(lx) ? PZ__JSON_STRING : PZ__JSON_ERROR;
    case 't':
        return literal(lx, "true") ? PZ__JSON_TRUE : PZ__JSON_ERROR;
    case 'f':
        return literal(lx, "false") ? PZ__JSON_FALSE : PZ__JSON_ERROR;
    case 'n':
        return literal(lx, "null") ? PZ__JSON_NULL : PZ__JSON_ERROR;
    default:
        return number(lx) ? PZ__JSON_NUMBER : PZ__JSON_ERROR;
    }
}

pz__json_tok pz__json_lex_next(pz__json_lexer *lx)
{
    skip_ws(lx);
    const unsigned char *start = lx->p;
    lx->tok_off = (size_t)(start - lx->base);
    lx->tok_line = lx->line;
    lx->tok_col = lx->col;
    lx->tok = scan(lx);
    lx->tok_len = (size_t)(lx->p - start);
    /* No token holds a newline: only the column moves, by characters. */
    for (const unsigned char *q = start; q < lx->p; q++) {
        lx->col += (*q & 0xC0) != 0x80;
    }
    return lx->tok;
}

/* Append code point 'cp' as UTF-8 to out[*k..n-1]; false if it does not
 * fit (with room for the terminating NUL). */
static bool put_utf8(char *out, size_t n, size_t *k, uint32_t cp)
{
    unsigned char b[4];
    size_t len = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    static const unsigned char lead[5] = {0, 0, 0xC0, 0xE0, 0xF0};
    for (size_t i = len - 1; i > 0; i--) {
        b[i] = (unsigned char)(0x80 | (cp & 0x3F));
        cp >>= 6;
    }
    b[0] = (unsigned char)(lead[len] | cp);
    if (*k + len >= n) {
        return false;
    }
    memcpy(out + *k, b, len);
    *k += len;
    return true;
}

/* The code point of the escape at 'p' (after the backslash; the lexer
 * accepted it), joining a surrogate pair; '*p' moves past it. */
static uint32_t decode_escape(const unsigned char **p)
{
    static const char from[] = "bfnrt", to[] = "\b\f\n\r\t";
    unsigned char e = *(*p)++;
    if (e != 'u') {
        const char *f = strchr(from, e);
        return f != NULL ? (unsigned char)to[f - from] : e; /* " \ / */
    }
    uint32_t cp = hex4_at(*p);
    *p += 4;
    if (cp >= 0xD800 && cp < 0xDC00) {
        uint32_t lo = hex4_at(*p + 2); /* the lexer checked the pair */
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        *p += 6;
    }
    return cp;
}

bool pz__json_lex_string(const pz__json_lexer *lx, char *out, size_t n)
{
    const unsigned char *p = lx->base + lx->tok_off + 1;
    const unsigned char *end = lx->base + lx->tok_off + lx->tok_len - 1;
    size_t k = 0;
    bool fits = n > 0;
    while (fits && p < end) {
        if (*p == '\\') {
            p++;
            fits = put_utf8(out, n, &k, decode_escape(&p));
        } else if (k + 1 < n) {
            out[k++] = (char)*p++;
        } else {
            fits = false;
        }
    }
    if (n > 0) {
        out[k] = '\0';
    }
    return fits;
}

/* ------------------------------------------------- locating a JSON path */

/* Skip the rest of the value whose first token was just read. */
static bool skip_value(pz__json_lexer *lx)
{
    size_t depth = 0;
    pz__json_tok t = lx->tok;
    for (;;) {
        if (t == PZ__JSON_LBRACE || t == PZ__JSON_LBRACKET) {
            depth++;
        } else if (t == PZ__JSON_RBRACE || t == PZ__JSON_RBRACKET) {
            depth--;
        } else if (t == PZ__JSON_END || t == PZ__JSON_ERROR) {
            return false;
        }
        if (depth == 0) {
            return true;
        }
        t = pz__json_lex_next(lx);
    }
}

/* Move from an object's '{' (just read) to the first token of member
 * 'key' (compared decoded, as jansson gives keys). */
static bool enter_key(pz__json_lexer *lx, const char *key)
{
    char buf[512];
    if (lx->tok != PZ__JSON_LBRACE) {
        return false;
    }
    for (;;) {
        if (pz__json_lex_next(lx) != PZ__JSON_STRING) {
            return false;
        }
        bool whole = pz__json_lex_string(lx, buf, sizeof buf);
        if (pz__json_lex_next(lx) != PZ__JSON_COLON) {
            return false;
        }
        pz__json_lex_next(lx);
        if (whole && strcmp(buf, key) == 0) {
            return true;
        }
        if (!skip_value(lx) || pz__json_lex_next(lx) != PZ__JSON_COMMA) {
            return false;
        }
    }
}

/* Move from an array's '[' (just read) to the first token of its item
 * 'index'. */
static bool enter_index(pz__json_lexer *lx, size_t index)
{
    if (lx->tok != PZ__JSON_LBRACKET) {
        return false;
    }
    pz__json_lex_next(lx);
    for (size_t i = 0; i < index; i++) {
        if (!skip_value(lx) || pz__json_lex_next(lx) != PZ__JSON_COMMA) {
            return false;
        }
        pz__json_lex_next(lx);
    }
    return true;
}

void pz__json_locate(const char *text, size_t len, const pz__json_seg *path,
                     size_t depth, size_t *line, size_t *col)
{
    pz__json_lexer lx;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        text += 3;
        len -= 3;
    }
    pz__json_lex_init(&lx, text, len);
    pz__json_lex_next(&lx);
    for (size_t i = 0; i < depth; i++) {
        const pz__json_seg *s = &path[i];
        bool ok = s->key ? enter_key(&lx, s->key) : enter_index(&lx, s->index);
        if (!ok) {
            break;
        }
    }
    *line = lx.tok_line;
    *col = lx.tok_col;
}
