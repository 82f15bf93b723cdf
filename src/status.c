/*
 * status.c -- the status table and the one way src/ reports failures.
 *
 * Every message goes into a caller-owned 'pz_error' (never a global), so
 * reporting cannot fail for lack of memory and is safe across threads.
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

int pz__fail(pz_error *err, int code, const char *fmt, ...)
{
    if (err == NULL) {
        return code;
    }
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

int pz__fail_context(pz_error *err, int code, const char *fmt, ...)
{
    if (err == NULL) {
        return code;
    }
    char old[sizeof err->msg];
    memcpy(old, err->msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof err->msg) {
        /* Copied by hand: snprintf("%s", old) into the rest trips
         * -Wformat-truncation at -O0 (a build error under -Werror). */
        size_t used = (size_t)n;
        const char *parts[2] = {": ", old};
        for (int k = 0; k < 2; k++) {
            for (const char *c = parts[k]; *c && used + 1 < sizeof err->msg;) {
                err->msg[used++] = *c++;
            }
        }
        err->msg[used] = '\0';
    }
    if (err->code == PZ_OK) {
        err->code = code;
    }
    return err->code;
}
