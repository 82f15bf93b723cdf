/*
 * status.c -- the status table and the one way src/ reports failures.
 *
 * Every message goes into a caller-owned 'pz_error' (never a global), so
 * reporting cannot fail for lack of memory and is safe across threads.
 * A message is one printable line: the paths, labels and texts it quotes
 * come from users and files, so their control characters are escaped
 * (\n, \r, \t, others \xNN). Our own format strings hold none, so
 * escaping the whole message escapes exactly the quoted parts, and doing
 * it again changes nothing.
 */
#include "pz_internal.h"

#include <stdio.h>
#include <string.h>

const char *pz_status_name(int code)
{
    switch (code) {
    case PZ_OK:
        return "PZ_OK";
#define PZ__STATUS_NAME(name, c, text)                                         \
    case PZ_##name:                                                            \
        return "PZ_" #name;
        PZ_STATUS_MAP(PZ__STATUS_NAME)
#undef PZ__STATUS_NAME
    default:
        return "PZ_UNKNOWN";
    }
}

const char *pz_strerror(int code)
{
    switch (code) {
    case PZ_OK:
        return "success";
#define PZ__STATUS_TEXT(name, c, text)                                         \
    case PZ_##name:                                                            \
        return text;
        PZ_STATUS_MAP(PZ__STATUS_TEXT)
#undef PZ__STATUS_TEXT
    default:
        return "unknown error";
    }
}

const char *pz_version(void)
{
    return PZ_VERSION_STRING;
}

/* Byte 'c' as printable text into 'out' (4 bytes); returns its length. */
static size_t escape_byte(unsigned char c, char *out)
{
    static const char hex[] = "0123456789abcdef";
    const char *named = c == '\n'   ? "\\n"
                        : c == '\r' ? "\\r"
                        : c == '\t' ? "\\t"
                                    : NULL;
    if (named != NULL) {
        memcpy(out, named, 2);
        return 2;
    }
    if (c >= 0x20 && c != 0x7f) {
        out[0] = (char)c;
        return 1;
    }
    out[0] = '\\';
    out[1] = 'x';
    out[2] = hex[c >> 4];
    out[3] = hex[c & 0xf];
    return 4;
}

/* Copy 'raw' into 'msg' (capacity 'cap') with its control characters
 * escaped; a message too long is cut before an escape, never inside. */
static void set_escaped(char *msg, size_t cap, const char *raw)
{
    size_t used = 0;
    for (const char *p = raw; *p != '\0'; p++) {
        char e[4];
        size_t n = escape_byte((unsigned char)*p, e);
        if (used + n >= cap) {
            break;
        }
        memcpy(msg + used, e, n);
        used += n;
    }
    msg[used] = '\0';
}

int pz__fail(pz_error *err, int code, const char *fmt, ...)
{
    if (err == NULL) {
        return code;
    }
    char raw[sizeof err->msg]; /* escaping only lengthens: enough */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    err->code = code;
    set_escaped(err->msg, sizeof err->msg, raw);
    return code;
}

int pz__fail_context(pz_error *err, int code, const char *fmt, ...)
{
    if (err == NULL) {
        return code;
    }
    char raw[sizeof err->msg]; /* escaping only lengthens: enough */
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof raw) {
        /* Copied by hand: snprintf("%s", msg) into the rest trips
         * -Wformat-truncation at -O0 (a build error under -Werror). */
        size_t used = (size_t)n;
        const char *parts[2] = {": ", err->msg};
        for (int k = 0; k < 2; k++) {
            for (const char *c = parts[k]; *c && used + 1 < sizeof raw;) {
                raw[used++] = *c++;
            }
        }
        raw[used] = '\0';
    }
    set_escaped(err->msg, sizeof err->msg, raw);
    if (err->code == PZ_OK) {
        err->code = code;
    }
    return err->code;
}
