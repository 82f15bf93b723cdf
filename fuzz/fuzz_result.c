/*
 * fuzz_result.c -- libFuzzer target for the objective-result parser of
 * the local process pool (runner_io.c): what an objective writes to its
 * result file or prints as the last line of its stdout.
 *
 * The input is used twice: whole, as a result file's content, and as a
 * stdout stream pushed through a bounded tail in uneven chunks, whose
 * last non-blank line is parsed. Properties:
 *   - the tail keeps exactly the last 'cap' bytes of the stream;
 *   - parsing never fails (except out of memory) and gives DONE or ERROR;
 *   - ERROR: status "fail", no loss, a non-empty one-line reason without
 *     control characters, no result document;
 *   - DONE: status "ok" with a finite loss, or "fail" with a finite loss
 *     or none; a result document that is one line of JSON, an object
 *     whose "status" is that status and whose numeric "loss", if any, is
 *     the loss; a bare number was the whole text (no NUL inside).
 */
#include "fuzz_checks.h"
#include "pz_internal.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void check_error_text(const char *msg)
{
    if (msg[0] == '\0') {
        abort(); /* every ERROR says why */
    }
    for (const char *p = msg; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f) {
            abort(); /* one printable line: it is shown in tables */
        }
    }
}

static void check_document(const pz_command_outcome *o)
{
    if (o->result_json == NULL || strchr(o->result_json, '\n') != NULL ||
        strchr(o->result_json, '\r') != NULL) {
        abort();
    }
    json_t *doc = json_loads(o->result_json, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(doc)) {
        abort(); /* the stored document is a JSON object */
    }
    const char *status = json_string_value(json_object_get(doc, "status"));
    if (status == NULL || strcmp(status, o->status) != 0) {
        abort();
    }
    json_t *loss = json_object_get(doc, "loss");
    if (json_is_number(loss) && json_number_value(loss) != o->loss) {
        abort();
    }
    json_decref(doc);
}

static void check_parse(const char *text, size_t len)
{
    pz_command_outcome o;
    pz_error err = {0};
    if (pz__runner_io_parse(text, len, &o, &err) != PZ_OK) {
        abort(); /* only out of memory may fail, and nothing fails here */
    }
    if (o.state == PZ_TRIAL_ERROR) {
        if (strcmp(o.status, "fail") != 0 || !isnan(o.loss) ||
            o.result_json != NULL) {
            abort();
        }
        check_error_text(o.error);
    } else if (o.state == PZ_TRIAL_DONE) {
        bool ok = strcmp(o.status, "ok") == 0;
        if (o.error[0] != '\0' || (!ok && strcmp(o.status, "fail") != 0) ||
            (ok && !isfinite(o.loss)) || (!ok && isinf(o.loss))) {
            abort();
        }
        size_t start = 0;
        while (start < len && strchr(" \t\r\n\v\f", text[start]) != NULL) {
            start++;
        }
        if (start < len && text[start] != '{' &&
            memchr(text + start, '\0', len - start) != NULL) {
            abort(); /* "0.5<NUL>junk" is not the number 0.5 */
        }
        check_document(&o);
    } else {
        abort();
    }
    pz_command_outcome_fini(&o);
}

/* Push the input through a tail of 'cap' bytes in chunks of 1..13 bytes
 * and parse its last line, as the runner does with stdout. */
static void check_stdout(const char *data, size_t size, size_t cap)
{
    pz__tail t;
    if (pz__runner_io_tail_init(&t, cap, NULL) != PZ_OK) {
        abort();
    }
    for (size_t i = 0, step = 1; i < size; i += step, step = step % 13 + 1) {
        pz__runner_io_tail_push(&t, data + i,
                                step < size - i ? step : size - i);
    }
    size_t n, line_len = 0;
    const char *kept = pz__runner_io_tail_bytes(&t, &n);
    size_t want = size < cap ? size : cap;
    if (n != want || t.total != size ||
        (n > 0 && memcmp(kept, data + size - n, n) != 0)) {
        abort(); /* exactly the last 'cap' bytes survive */
    }
    const char *line = pz__runner_io_last_line(kept, n, &line_len);
    if (line != NULL && (line < kept || line + line_len > kept + n ||
                         memchr(line, '\n', line_len) != NULL)) {
        abort();
    }
    check_parse(line ? line : "", line ? line_len : 0);
    pz__runner_io_tail_fini(&t);
}

void pz_fuzz_result(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    check_parse(text, size);
    check_stdout(text, size, 64);
    check_stdout(text, size, 4096);
}

#ifndef PZ_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pz_fuzz_result(data, size);
    return 0;
}
#endif
