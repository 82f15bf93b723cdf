/*
 * json_check.c -- is this text JSON? Answered without allocating, on the
 * tokens of json_lex.c.
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

#define MAX_DEPTH JSON_PARSER_MAX_DEPTH /* 2048, as jansson */

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

static bool push(levels *l, bool obj)
{
    if (l->depth == MAX_DEPTH) {
        return false;
    }
    unsigned bit = 1u << (l->depth % 8);
    uint8_t *byte = &l->bits[l->depth / 8];
    *byte = (uint8_t)(obj ? *byte | bit : *byte & ~bit);
    l->depth++;
    return true;
}

static bool is_scalar(pz__json_tok t)
{
    return t == PZ__JSON_STRING || t == PZ__JSON_NUMBER || t == PZ__JSON_TRUE ||
           t == PZ__JSON_FALSE || t == PZ__JSON_NULL;
}

/* An object member's key and its colon, the key's token just read. */
static bool key(pz__json_lexer *lx)
{
    return lx->tok == PZ__JSON_STRING &&
           pz__json_lex_next(lx) == PZ__JSON_COLON;
}

/* What the grammar waits for next. */
typedef enum want {
    W_VALUE,       /* a value */
    W_FIRST,       /* after '{' or '[': the first key or value, or close */
    W_AFTER_VALUE, /* ',' or the close of the open container */
} want;

/* A value's first token 't': a scalar, or a container opened. */
static bool value(levels *l, pz__json_tok t, want *w)
{
    if (t == PZ__JSON_LBRACE || t == PZ__JSON_LBRACKET) {
        *w = W_FIRST;
        return push(l, t == PZ__JSON_LBRACE);
    }
    *w = W_AFTER_VALUE;
    return is_scalar(t);
}

/* The token just read, in state '*w'; false on a syntax error. */
static bool step(pz__json_lexer *lx, levels *l, want *w)
{
    bool obj = l->depth > 0 && top_is_object(l);
    pz__json_tok close = obj ? PZ__JSON_RBRACE : PZ__JSON_RBRACKET;
    if (*w != W_VALUE && l->depth > 0 && lx->tok == close) {
        l->depth--;
        *w = W_AFTER_VALUE;
        return true;
    }
    if (*w == W_AFTER_VALUE) {
        if (lx->tok != PZ__JSON_COMMA) {
            return false;
        }
        *w = W_VALUE;
        return !obj || (pz__json_lex_next(lx), key(lx));
    }
    if (*w == W_FIRST && obj) {
        if (!key(lx)) {
            return false;
        }
        pz__json_lex_next(lx);
    }
    return value(l, lx->tok, w);
}

bool pz__json_check(const char *text, size_t len)
{
    pz__json_lexer lx;
    levels l = {.depth = 0};
    want w = W_VALUE;
    pz__json_lex_init(&lx, text, len);
    pz__json_tok t = pz__json_lex_next(&lx);
    if (t != PZ__JSON_LBRACE && t != PZ__JSON_LBRACKET) {
        return false; /* jansson loads objects and arrays only */
    }
    do {
        if (!step(&lx, &l, &w)) {
            return false;
        }
        pz__json_lex_next(&lx);
    } while (l.depth > 0);
    return lx.tok == PZ__JSON_END;
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
