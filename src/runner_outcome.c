/*
 * runner_outcome.c -- a finished trial: its outcome from the exit status,
 * the result file or the last line of its output (runner_io.c), told to
 * the study (or store), reported as an event, its slot freed.
 */
#define _POSIX_C_SOURCE 200809L
#include "runner_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* -------------------------------------------------------------- outcome */

/* The result file's content, if the command wrote one (then removed). */
static char *read_result_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        return NULL;
    }
    char *buf = pz__malloc(RESULT_FILE_MAX);
    *len = 0;
    ssize_t n = 1;
    while (buf != NULL && n > 0 && *len < RESULT_FILE_MAX) {
        n = read(fd, buf + *len, RESULT_FILE_MAX - *len);
        *len += n > 0 ? (size_t)n : 0;
    }
    close(fd);
    unlink(path);
    return buf;
}

void pz__runner_trial_path(const loop *L, int64_t id, const char *ext,
                           char *buf, size_t n)
{
    snprintf(buf, n, "%s/trial-%lld.%s", L->tmpdir, (long long)id, ext);
}

/* The outcome by the command protocol (pz_command_outcome_of), unless
 * the runner killed the trial: then its own state and reason. */
static int build_outcome(loop *L, slot *s, int wstatus, pz_command_outcome *o,
                         pz_error *err)
{
    if (s->kills > 0) {
        memset(o, 0, sizeof *o);
        o->state = s->kill_state;
        o->status = "fail";
        o->loss = (double)NAN;
        snprintf(o->error, sizeof o->error, "%s", s->kill_why);
        if (o->state == PZ_TRIAL_PRUNED) { /* its loss: where it stopped */
            o->status = "ok";
            o->loss = s->pruned_loss;
        }
        return PZ_OK;
    }
    pz_command_exit ex = {
        .exit_code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 0,
        .signal = WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0};
    char path[4096];
    pz__runner_trial_path(L, s->id, "result", path, sizeof path);
    char *file = ex.signal == 0 && ex.exit_code == 0
                     ? read_result_file(path, &ex.result_len)
                     : NULL;
    ex.result_file = file;
    ex.out = pz__runner_io_tail_bytes(&s->out, &ex.out_len);
    ex.err_text = pz__runner_io_tail_bytes(&s->err, &ex.err_len);
    int rc = pz_command_outcome_of(&ex, o, err);
    pz__free(file, RESULT_FILE_MAX);
    return rc;
}

int pz__runner_tell_outcome(loop *L, slot *s, const pz_command_outcome *o,
                            pz_error *err)
{
    if (L->store == NULL) {
        return pz_study_tell(L->study, s->id, o->state,
                             pz__stop_told_loss(o->state, o->status, o->loss),
                             err);
    }
    pz_trial_result res = {
        .state = o->state,
        .loss = o->loss,
        .status = o->status,
        .result_json = o->result_json,
        .error = o->error[0] ? o->error : NULL,
    };
    res.stdout_tail = pz__runner_io_tail_bytes(&s->out, &res.stdout_len);
    res.stderr_tail = pz__runner_io_tail_bytes(&s->err, &res.stderr_len);
    return pz_store_tell(L->store, s->id, &res, err);
}

void pz__runner_note_progress(loop *L, const pz_command_outcome *o)
{
    L->n_run++;
    L->n_canceled += o->state == PZ_TRIAL_CANCEL;
    if (o->state == PZ_TRIAL_CANCEL) {
        return;
    }
    double b = pz__stop_best_loss(L->study);
    if (!isnan(b) && (isnan(L->best) || b < L->best)) {
        L->best = b;
        L->since_best = 0;
    } else {
        L->since_best++;
    }
}

void pz__runner_emit_finish(loop *L, const slot *s, const pz_command_outcome *o)
{
    pz_runner_event ev = {
        .kind = PZ_RUNNER_FINISH,
        .trial_id = s->id,
        .point_json = s->point_json,
        .state = o->state,
        .loss = o->loss,
        .status = o->status,
        .error = o->error[0] ? o->error : NULL,
        .duration_s = pz__runner_mono_s() - s->t_start,
    };
    pz__runner_emit(L, &ev);
}

void pz__runner_slot_clear(loop *L, slot *s)
{
    for (int *fd = &s->fd_out; fd != NULL;
         fd = fd == &s->fd_out ? &s->fd_err : NULL) {
        if (*fd >= 0) {
            close(*fd);
        }
        *fd = -1;
    }
    char path[4096];
    pz__runner_trial_path(L, s->id, "result", path, sizeof path);
    unlink(path);
    pz__runner_reports_close(L, s);
    pz_free(s->point_json);
    s->point_json = NULL;
    s->pid = 0;
    s->kills = 0;
    pz__runner_io_tail_reset(&s->out);
    pz__runner_io_tail_reset(&s->err);
}

/* Record the outcome of the trial in 's' (exit status 'wstatus') and
 * free the slot. */
int pz__runner_finish(loop *L, slot *s, int wstatus, pz_error *err)
{
    pz_command_outcome o;
    int rc = build_outcome(L, s, wstatus, &o, err);
    if (rc != PZ_OK) { /* out of memory: still record the trial */
        pz_command_outcome_fini(&o);
        o = (pz_command_outcome){
            .state = PZ_TRIAL_ERROR, .status = "fail", .loss = (double)NAN};
        snprintf(o.error, sizeof o.error, "out of memory reading its result");
        pz__runner_tell_outcome(L, s, &o, NULL);
    } else {
        rc = pz__runner_tell_outcome(L, s, &o, err);
        rc = L->aborting ? PZ_OK : rc;
    }
    if (rc == PZ_OK) {
        pz__runner_note_progress(L, &o);
        if (L->n_running > 0 && s->pid != 0) {
            L->n_running--;
        }
        pz__runner_emit_finish(L, s, &o);
    } else if (s->pid != 0) {
        L->n_running--;
    }
    pz_command_outcome_fini(&o);
    pz__runner_slot_clear(L, s);
    return rc;
}
