/*
 * fuzz_space_json.c -- libFuzzer target for the space JSON parser.
 *
 * Any byte string must give either a space or PZ_ESPACE with a message;
 * a parsed space must serialize, re-parse to the same number of
 * parameters, sample, and rebuild its point as JSON. The syntax check
 * that tells jansson's allocation failures from bad input
 * (pz__json_check) accepts what jansson loads and refuses what jansson
 * calls bad syntax, so a syntax error is never taken for a lack of
 * memory. The checks are also compiled into the C tests
 * (-DPZ_FUZZ_NO_MAIN), which replay every input under fuzz/regressions/
 * so a crash once found stays fixed.
 */
#include "fuzz_checks.h"
#include "pz_internal.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void exercise(pz_space *space)
{
    char *json = NULL;
    pz_space *again = NULL;
    if (pz_space_to_json(space, &json, NULL) != PZ_OK) {
        abort();
    }
    if (pz_space_from_json(&again, json, strlen(json), NULL) != PZ_OK ||
        pz_space_size(again) != pz_space_size(space)) {
        abort(); /* serialized spaces must parse back */
    }
    pz_study *study = NULL;
    size_t n = pz_space_size(space);
    double *x = malloc((n ? n : 1) * sizeof *x);
    if (x != NULL && pz_study_new(&study, space, NULL) == PZ_OK) {
        int64_t id;
        char *point = NULL;
        if (pz_study_ask(study, &id, x, NULL) != PZ_OK ||
            pz_space_point_json(space, x, &point, NULL) != PZ_OK) {
            abort();
        }
        pz_free(point);
    }
    pz_study_free(study);
    free(x);
    pz_space_free(again);
    pz_free(json);
}

static void check_syntax_check(const char *text, size_t size)
{
    json_error_t je = {0};
    json_t *j = json_loadb(text, size, JSON_REJECT_DUPLICATES, &je);
    enum json_error_code code = json_error_code(&je);
    bool syntax = code == json_error_invalid_syntax ||
                  code == json_error_premature_end_of_input;
    bool ok = pz__json_check(text, size);
    /* jansson skips a NUL byte after a number or a literal ("[0\0]"
     * loads); pz_space_from_json refuses every NUL byte first. */
    bool has_nul = memchr(text, '\0', size) != NULL;
    if ((j != NULL && !ok && !has_nul) || (j == NULL && syntax && ok)) {
        abort();
    }
    json_decref(j);
}

void pz_fuzz_space_json(const uint8_t *data, size_t size)
{
    check_syntax_check((const char *)data, size);
    pz_space *space = NULL;
    pz_error err = {0};
    int rc = pz_space_from_json(&space, (const char *)data, size, &err);
    if (rc == PZ_OK) {
        exercise(space);
    } else if (rc != PZ_ESPACE || err.msg[0] == '\0') {
        abort(); /* every rejection is PZ_ESPACE with a message */
    }
    pz_space_free(space);
}

#ifndef PZ_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pz_fuzz_space_json(data, size);
    return 0;
}
#endif
