/*
 * fuzz_cli_args.c -- libFuzzer target for the argument parsing of the
 * parzen command (cli/cmd_run.c, cmd_show.c, cmd_sample.c) through their
 * parse-only entries, and the option-value and JSON-string helpers.
 *
 * Input: the first byte picks the command (run, sample, show, best,
 * export, status); the rest, split at NUL bytes, is its arguments (at most
 * 64). Properties: parsing returns PZ_OK or PZ_EINVAL; a failure has a
 * message that, as main.c prints it, is one non-empty printable line; a
 * number an option accepts is finite and in range; every argument written
 * as a JSON string is valid JSON that reads back as the same text (when
 * the argument is valid UTF-8).
 */
#define _POSIX_C_SOURCE 200809L /* open_memstream */
#include "cli.h"
#include "fuzz_checks.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 64

static void check_failure(int rc, pz_error *err)
{
    if (rc == PZ_OK) {
        return;
    }
    if (rc != PZ_EINVAL || err->code != rc || err->msg[0] == '\0') {
        abort();
    }
    pz_cli_one_line(err->msg, sizeof err->msg);
    for (const char *p = err->msg; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f) {
            abort();
        }
    }
}

static void check_json_string(const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL) {
        abort();
    }
    pz_cli_json_string(f, s, strlen(s));
    fclose(f);
    json_error_t je;
    json_t *v = json_loadb(buf, len, JSON_DECODE_ANY, &je);
    if (!json_is_string(v)) {
        abort(); /* always valid JSON */
    }
    /* Valid UTF-8 comes back unchanged (jansson rejects invalid UTF-8). */
    json_t *again = json_stringn(s, strlen(s));
    if (again != NULL && strcmp(json_string_value(v), s) != 0) {
        abort();
    }
    json_decref(again);
    json_decref(v);
    free(buf);
}

static void check_numbers(const char *s)
{
    pz_error err = {0};
    double d = 0;
    uint64_t u = 0;
    if (pz_cli_parse_double("--x", s, true, &d, &err) == PZ_OK &&
        !(isfinite(d) && d > 0)) {
        abort();
    }
    if (pz_cli_parse_double("--x", s, false, &d, &err) == PZ_OK &&
        !isfinite(d)) {
        abort();
    }
    if (pz_cli_parse_u64("--n", s, 1, 4096, &u, &err) == PZ_OK &&
        (u < 1 || u > 4096)) {
        abort();
    }
}

void pz_fuzz_cli_args(const uint8_t *data, size_t size)
{
    static const char *const cmds[] = {"run",  "sample", "show",
                                       "best", "export", "status"};
    if (size == 0) {
        return;
    }
    const char *cmd = cmds[data[0] % 6];
    /* A NUL-terminated copy of the rest, split at NUL bytes. */
    char *text = malloc(size);
    if (text == NULL) {
        abort();
    }
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = (char *)cmd;
    for (size_t i = 0; i < size - 1 && argc <= MAX_ARGS;) {
        argv[argc++] = text + i;
        i += strlen(text + i) + 1;
    }
    argv[argc] = NULL;
    pz_error err = {0};
    int rc = strcmp(cmd, "run") == 0 ? pz_cli_run_parse(argc, argv, &err)
             : strcmp(cmd, "sample") == 0
                 ? pz_cli_sample_parse(argc, argv, &err)
                 : pz_cli_store_parse(cmd, argc, argv, &err);
    check_failure(rc, &err);
    for (int i = 1; i < argc && i < 8; i++) {
        check_json_string(argv[i]);
        check_numbers(argv[i]);
    }
    free(text);
}

#ifndef PZ_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pz_fuzz_cli_args(data, size);
    return 0;
}
#endif
