/*
 * runner_reports.c -- the report protocol of a trial's command
 * (docs/cli.md): the command appends lines "STEP VALUE" to the file
 * named in PARZEN_REPORT_FILE while it runs; the runner reads what was
 * appended every REPORT_POLL_S, reports each value to the study (or the
 * store) and, when the study's pruner says so, stops the trial's process
 * group the way a timeout does and records it PRUNED.
 *
 * A plain file rather than a fifo: a command may open, append and close
 * it for every line (echo "$step $loss" >> "$PARZEN_REPORT_FILE") and
 * nothing ever blocks, whether the runner reads or not.
 */
#define _POSIX_C_SOURCE 200809L
#include "runner_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int pz__runner_reports_open(loop *L, slot *s, char *path, size_t n)
{
    pz__runner_trial_path(L, s->id, "reports", path, n);
    unlink(path);
    int wfd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (wfd < 0) {
        return errno;
    }
    close(wfd);
    s->fd_rep = open(path, O_RDONLY | O_CLOEXEC);
    s->rep_lineno = 0;
    s->rep_len = 0;
    s->pruned_loss = (double)NAN;
    return s->fd_rep < 0 ? errno : 0;
}

void pz__runner_reports_close(loop *L, slot *s)
{
    if (s->fd_rep >= 0) {
        close(s->fd_rep);
        s->fd_rep = -1;
        char path[4096];
        pz__runner_trial_path(L, s->id, "reports", path, sizeof path);
        unlink(path);
    }
}

/* "STEP VALUE": an integer step >= 0 and a number, blanks around. */
static bool parse_line(const char *line, int64_t *step, double *value)
{
    char *end = NULL;
    errno = 0;
    long long st = strtoll(line, &end, 10);
    if (end == line || errno != 0 || st < 0 || (*end != ' ' && *end != '\t')) {
        return false;
    }
    const char *v = end;
    double x = strtod(v, &end);
    if (end == v) {
        return false;
    }
    while (*end == ' ' || *end == '\t' || *end == '\r') {
        end++;
    }
    *step = (int64_t)st;
    *value = x;
    return *end == '\0';
}

static void warn(loop *L, const slot *s, const char *msg)
{
    pz_runner_event ev = {.kind = PZ_RUNNER_WARNING,
                          .trial_id = s->id,
                          .point_json = s->point_json,
                          .error = msg};
    pz__runner_emit(L, &ev);
}

static void bad_line(loop *L, slot *s, const char *line, const char *why)
{
    char msg[224];
    snprintf(msg, sizeof msg, "report file line %zu: '%.60s': %.100s",
             s->rep_lineno, line, why);
    pz__runner_kill_slot(L, s, PZ_TRIAL_ERROR, msg);
}

static int report(loop *L, int64_t id, int64_t step, double value,
                  pz_error *err)
{
    return L->store != NULL ? pz_store_report(L->store, id, step, value, err)
                            : pz_study_report(L->study, id, step, value, err);
}

/* One complete line of trial s's report file. */
static int handle_line(loop *L, slot *s, char *line, bool final, pz_error *err)
{
    s->rep_lineno++;
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ')) {
        line[--n] = '\0';
    }
    int64_t step = 0;
    double value = 0;
    if (n == 0 || s->kills > 0) {
        return PZ_OK; /* blank, or the trial is being stopped anyway */
    }
    if (!parse_line(line, &step, &value)) {
        bad_line(L, s, line,
                 "expected 'STEP VALUE' (an integer >= 0, a "
                 "number)");
        return PZ_OK;
    }
    pz_error e = {0};
    int rc = report(L, s->id, step, value, &e);
    if (rc == PZ_REPORT_IGNORED) {
        warn(L, s, e.msg);
        return PZ_OK;
    }
    if (rc == PZ_EINVAL) { /* a step that does not increase */
        bad_line(L, s, line, e.msg);
        return PZ_OK;
    }
    if (rc != PZ_OK) {
        if (err != NULL) {
            *err = e;
        }
        return rc;
    }
    int prune = 0;
    rc = pz_study_should_prune(L->study, s->id, &prune, err);
    if (rc == PZ_OK && prune && !final) {
        char why[96];
        snprintf(why, sizeof why, "pruned at step %lld", (long long)step);
        s->pruned_loss = value;
        pz__runner_kill_slot(L, s, PZ_TRIAL_PRUNED, why);
    }
    return rc;
}

/* Split the unfinished line plus 'p' (n bytes) into lines. */
static int take_bytes(loop *L, slot *s, const char *p, size_t n, bool final,
                      pz_error *err)
{
    int rc = PZ_OK;
    for (size_t i = 0; i < n && rc == PZ_OK; i++) {
        if (p[i] == '\n') {
            s->rep_buf[s->rep_len] = '\0';
            s->rep_len = 0;
            rc = handle_line(L, s, s->rep_buf, final, err);
        } else if (s->rep_len < REPORT_LINE_MAX) {
            s->rep_buf[s->rep_len++] = p[i] ? p[i] : ' ';
        } else if (s->kills == 0) { /* far too long for "STEP VALUE" */
            s->rep_buf[s->rep_len] = '\0';
            s->rep_lineno++;
            bad_line(L, s, s->rep_buf, "line too long");
        }
    }
    return rc;
}

int pz__runner_reports_read(loop *L, slot *s, bool final, pz_error *err)
{
    int rc = PZ_OK;
    while (rc == PZ_OK && s->fd_rep >= 0) {
        ssize_t n = read(s->fd_rep, L->readbuf, READ_CHUNK);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break; /* end of what was written so far */
        }
        rc = take_bytes(L, s, L->readbuf, (size_t)n, final, err);
    }
    if (rc == PZ_OK && final && s->rep_len > 0) {
        s->rep_buf[s->rep_len] = '\0';
        s->rep_len = 0;
        rc = handle_line(L, s, s->rep_buf, final, err);
    }
    return rc;
}

int pz__runner_reports_poll(loop *L, pz_error *err)
{
    double now = pz__runner_mono_s();
    if (now < L->next_report) {
        return PZ_OK;
    }
    L->next_report = now + REPORT_POLL_S;
    int rc = PZ_OK;
    for (size_t i = 0; i < L->r->parallelism && rc == PZ_OK; i++) {
        slot *s = &L->slots[i];
        if (s->pid != 0 && s->kills == 0) {
            rc = pz__runner_reports_read(L, s, false, err);
        }
    }
    return rc;
}
