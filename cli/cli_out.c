/*
 * cli_out.c -- output helpers of the store commands (run, show, best,
 * export, status): JSON strings and numbers, times, state names, and
 * number parsing for options. No JSON library: the CLI only writes JSON
 * (stored documents are copied through verbatim).
 */
#define _POSIX_C_SOURCE 200809L /* gmtime_r */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len = s[0] < 0x80             ? 1
                 : (s[0] & 0xe0) == 0xc0 ? 2
                 : (s[0] & 0xf0) == 0xe0 ? 3
                 : (s[0] & 0xf8) == 0xf0 ? 4
                                         : 0;
    if (len == 0 || len > n || (len == 2 && s[0] < 0xc2)) {
        return 0;
    }
    /* No overlong forms, UTF-16 surrogates or code points past U+10FFFF
     * (RFC 3629): strict JSON readers reject them. */
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90) ||
        s[0] > 0xf4) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
    }
    return len;
}

void pz_cli_json_string(FILE *f, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', f);
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        size_t len = utf8_len(p + i, n - i);
        if (c == '"' || c == '\\') {
            fprintf(f, "\\%c", c);
        } else if (c == '\n') {
            fputs("\\n", f);
        } else if (c == '\t') {
            fputs("\\t", f);
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(f, "\\u%04x", c);
        } else if (len == 0) {
            fputs("\\ufffd", f);
        } else {
            fwrite(p + i, 1, len, f);
            i += len;
            continue;
        }
        i++;
    }
    fputc('"', f);
}

void pz_cli_one_line(char *msg, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    char out[sizeof(((pz_error *)0)->msg)];
    size_t used = 0, limit = cap < sizeof out ? cap : sizeof out;
    if (cap == 0) {
        return;
    }
    for (const char *p = msg; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        char e[4] = {(char)c};
        size_t n = 1;
        if (c == '\n' || c == '\r' || c == '\t') {
            e[0] = '\\';
            e[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
            n = 2;
        } else if (c < 0x20 || c == 0x7f) {
            e[0] = '\\';
            e[1] = 'x';
            e[2] = hex[c >> 4];
            e[3] = hex[c & 0xf];
            n = 4;
        }
        if (used + n >= limit) {
            break;
        }
        memcpy(out + used, e, n);
        used += n;
    }
    out[used] = '\0';
    memcpy(msg, out, used + 1);
}

void pz_cli_json_number(FILE *f, double v)
{
    if (!isfinite(v)) {
        fputs("null", f);
        return;
    }
    char buf[40];
    pz_format_double(v, buf, sizeof buf);
    fputs(buf, f);
}

void pz_cli_format_time(double unix_s, char *buf, size_t n)
{
    if (!isfinite(unix_s) || n < 25) {
        if (n > 0) {
            buf[0] = '\0';
        }
        return;
    }
    time_t secs = (time_t)floor(unix_s);
    int ms = (int)((unix_s - floor(unix_s)) * 1000.0);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t k = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + k, n - k, ".%03dZ", ms > 999 ? 999 : ms);
}

int pz_cli_parse_double(const char *opt, const char *text, bool positive,
                        double *out, pz_error *err)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (text[0] == '\0' || *end != '\0' || errno != 0 || !isfinite(v) ||
        (positive && !(v > 0))) {
        return pz_cli_fail(err, PZ_EINVAL, "%s expects %s, got '%s'", opt,
                           positive ? "a number > 0" : "a finite number", text);
    }
    *out = v;
    return PZ_OK;
}
