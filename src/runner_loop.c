/*
 * runner_loop.c -- the event loop of one run and its policy: what a run
 * holds (slots, poll set, environment, trial directory), asking for a
 * trial whenever a slot is free, the stop rules and timeouts, kills
 * (SIGTERM, then SIGKILL after the grace), and the wait in poll() for
 * output, exits and signals.
 */
#define _GNU_SOURCE /* environ */
#include "runner_internal.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ----------------------------------------------------------- setup/free */

static bool own_var(const char *e)
{
    return strncmp(e, "PARZEN_PARAMS=", 14) == 0 ||
           strncmp(e, "PARZEN_TRIAL_ID=", 16) == 0 ||
           strncmp(e, "PARZEN_RESULT_FILE=", 19) == 0 ||
           strncmp(e, "PARZEN_REPORT_FILE=", 19) == 0;
}

/* The inherited environment without our variables, + 4 free entries. */
static int env_init(loop *L, pz_error *err)
{
    size_t n = 0;
    while (environ[n] != NULL) {
        n++;
    }
    L->env_cap = n + 5;
    L->envp = pz__calloc(L->env_cap, sizeof *L->envp);
    if (L->envp == NULL) {
        return pz__fail(err, PZ_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        if (!own_var(environ[i])) {
            L->envp[L->n_env++] = environ[i];
        }
    }
    return PZ_OK;
}

static int tmpdir_init(loop *L, pz_error *err)
{
    const char *base = getenv("TMPDIR");
    base = base && base[0] ? base : "/tmp";
    size_t n = strlen(base) + 32;
    L->tmpdir = pz__malloc(n);
    if (L->tmpdir == NULL) {
        return pz__fail(err, PZ_ENOMEM, "out of memory");
    }
    snprintf(L->tmpdir, n, "%s/parzen-XXXXXX", base);
    if (mkdtemp(L->tmpdir) == NULL) {
        return pz__fail(err, PZ_EIO, "cannot create a directory in '%s': %s",
                        base, strerror(errno));
    }
    return PZ_OK;
}

static int slots_init(loop *L, pz_error *err)
{
    size_t p = L->r->parallelism;
    L->slots = pz__calloc(p, sizeof *L->slots);
    L->pfd = pz__calloc(1 + 2 * p, sizeof *L->pfd);
    L->pfd_slot = pz__calloc(1 + 2 * p, sizeof *L->pfd_slot);
    L->readbuf = pz__malloc(READ_CHUNK);
    if (!L->slots || !L->pfd || !L->pfd_slot || !L->readbuf) {
        return pz__fail(err, PZ_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < p; i++) {
        slot *s = &L->slots[i];
        s->fd_out = s->fd_err = s->fd_rep = -1;
        int rc = pz__runner_io_tail_init(&s->out, L->r->output_limit, err);
        if (rc == PZ_OK) {
            rc = pz__runner_io_tail_init(&s->err, L->r->output_limit, err);
        }
        if (rc != PZ_OK) {
            return rc;
        }
    }
    return PZ_OK;
}

void pz__runner_loop_fini(loop *L)
{
    size_t p = L->r->parallelism;
    for (size_t i = 0; L->slots != NULL && i < p; i++) {
        pz__runner_io_tail_fini(&L->slots[i].out);
        pz__runner_io_tail_fini(&L->slots[i].err);
    }
    pz__free(L->slots, p * sizeof *L->slots);
    pz__free(L->pfd, (1 + 2 * p) * sizeof *L->pfd);
    pz__free(L->pfd_slot, (1 + 2 * p) * sizeof *L->pfd_slot);
    pz__free(L->readbuf, READ_CHUNK);
    if (L->tmpdir != NULL) {
        rmdir(L->tmpdir);
        pz__free_str(L->tmpdir);
    }
    pz__free(L->envp, L->env_cap * sizeof *L->envp);
    pz_command_free(L->cmd);
    size_t dim = pz_space_size(pz_study_space(L->study));
    pz__free(L->values, (dim ? dim : 1) * sizeof *L->values);
}

int pz__runner_loop_init(loop *L, pz_error *err)
{
    size_t dim = pz_space_size(pz_study_space(L->study));
    L->values = pz__calloc(dim ? dim : 1, sizeof *L->values);
    if (L->values == NULL) {
        return pz__fail(err, PZ_ENOMEM, "out of memory");
    }
    int rc = env_init(L, err);
    if (rc == PZ_OK) {
        rc = slots_init(L, err);
    }
    if (rc == PZ_OK) {
        rc = tmpdir_init(L, err);
    }
    if (rc == PZ_OK) {
        rc = pz_command_new(&L->cmd, pz_study_space(L->study), L->r->argv, err);
    }
    L->t0 = pz__runner_mono_s();
    L->next_tick = L->r->tick_s > 0 ? L->t0 + L->r->tick_s : (double)INFINITY;
    L->next_renew = L->store ? L->t0 + RENEW_EVERY_S : (double)INFINITY;
    L->next_report = L->t0 + REPORT_POLL_S;
    L->best = pz__stop_best_loss(L->study);
    return rc;
}

/* ---------------------------------------------------------------- kills */

static void signal_group(const slot *s, int sig)
{
    if (killpg(s->pid, sig) != 0) {
        kill(s->pid, sig); /* not a group leader yet: the process */
    }
}

void pz__runner_kill_slot(loop *L, slot *s, pz_trial_state state,
                          const char *why)
{
    if (s->kills > 0) {
        return;
    }
    s->kill_state = state;
    snprintf(s->kill_why, sizeof s->kill_why, "%s", why);
    signal_group(s, SIGTERM);
    s->kills = 1;
    s->kill_at = pz__runner_mono_s() + L->r->grace_s;
}

static void escalate(slot *s)
{
    signal_group(s, SIGKILL);
    s->kills = 2;
    s->kill_at = (double)INFINITY;
}

static void cancel_all(loop *L, const char *why)
{
    for (size_t i = 0; i < L->r->parallelism; i++) {
        if (L->slots[i].pid != 0) {
            pz__runner_kill_slot(L, &L->slots[i], PZ_TRIAL_CANCEL, why);
        }
    }
}

static void stop(loop *L, const char *reason)
{
    if (!L->stopping) {
        L->stopping = true;
        L->r->stop_reason = reason;
    }
}

/* ----------------------------------------------------------------- fill */

static int ask(loop *L, int64_t *id, pz_error *err)
{
    size_t max = L->r->rules.max_trials;
    if (L->store != NULL) {
        unsigned flags = L->r->retry_lost ? PZ_ASK_RETRY_LOST : 0;
        return pz_store_ask(L->store, max, flags, id, L->values, err);
    }
    *id = PZ_NO_TRIAL;
    if (max > 0 && pz_stop_counted(L->study) >= max) {
        return PZ_OK;
    }
    return pz_study_ask(L->study, id, L->values, err);
}

static void run_timeout(loop *L)
{
    if (L->r->rules.timeout_s > 0 &&
        pz__runner_mono_s() - L->t0 >= L->r->rules.timeout_s &&
        strcmp(L->r->stop_reason, "timeout") != 0) {
        L->stopping = false; /* the timeout overrides a softer reason */
        stop(L, "timeout");
        cancel_all(L, "canceled: the run's timeout expired");
    }
}

/* Loss threshold and no-progress: stop starting trials. */
static void check_stop(loop *L)
{
    run_timeout(L);
    pz_stop_rules rules = L->r->rules;
    rules.max_trials = 0;
    rules.timeout_s = 0;
    if (pz_stop_check(&rules, L->study, 0) == PZ_STOP_LOSS_THRESHOLD) {
        stop(L, "loss_threshold");
    }
    if (L->r->no_progress > 0 && L->since_best >= L->r->no_progress) {
        stop(L, "no_progress");
    }
}

static int fill(loop *L, pz_error *err)
{
    int rc = PZ_OK;
    while (rc == PZ_OK && !L->stopping && L->n_running < L->r->parallelism) {
        check_stop(L);
        if (L->stopping) {
            break;
        }
        int64_t id;
        rc = ask(L, &id, err);
        if (rc == PZ_OK && id == PZ_NO_TRIAL) {
            stop(L, "max_trials");
        } else if (rc == PZ_OK) {
            rc = pz__runner_start_trial(L, id, err);
        }
    }
    return rc;
}

/* ----------------------------------------------------------------- wait */

/* Read what is there (up to a few chunks); close at EOF or error. */
static void read_fd(loop *L, int *fd, pz__tail *t)
{
    for (int i = 0; i < 16 && *fd >= 0; i++) {
        ssize_t n = read(*fd, L->readbuf, READ_CHUNK);
        if (n > 0) {
            pz__runner_io_tail_push(t, L->readbuf, (size_t)n);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            return;
        }
        close(*fd);
        *fd = -1;
    }
}

static size_t build_pollfds(loop *L)
{
    size_t n = 0;
    L->pfd[n] =
        (struct pollfd){.fd = pz__runner_signals_fd(), .events = POLLIN};
    L->pfd_slot[n++] = NULL;
    for (size_t i = 0; i < L->r->parallelism; i++) {
        slot *s = &L->slots[i];
        int fds[2] = {s->fd_out, s->fd_err};
        for (int k = 0; s->pid != 0 && k < 2; k++) {
            if (fds[k] >= 0) {
                L->pfd[n] = (struct pollfd){.fd = fds[k], .events = POLLIN};
                L->pfd_slot[n++] = s;
            }
        }
    }
    return n;
}

static int poll_timeout_ms(const loop *L)
{
    double next = fmin(L->next_tick, L->next_renew);
    for (size_t i = 0; i < L->r->parallelism; i++) {
        const slot *s = &L->slots[i];
        if (s->pid != 0) {
            next = fmin(next, s->kills == 0 ? s->deadline : s->kill_at);
        }
    }
    if (L->r->rules.timeout_s > 0 && !L->stopping) {
        next = fmin(next, L->t0 + L->r->rules.timeout_s);
    }
    if (L->n_running > 0) {
        next = fmin(next, L->next_report);
    }
    if (isinf(next)) {
        return -1;
    }
    double ms = ceil((next - pz__runner_mono_s()) * 1000.0);
    return ms < 0 ? 0 : ms > 1e9 ? 1000000000 : (int)ms;
}

static void handle_signals(loop *L)
{
    unsigned char buf[64];
    ssize_t n;
    while ((n = read(pz__runner_signals_fd(), buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == SIGCHLD) {
                continue;
            }
            if (L->interrupts++ == 0) {
                L->stopping = false;
                stop(L, "interrupted");
                cancel_all(L, "interrupted");
            } else {
                for (size_t k = 0; k < L->r->parallelism; k++) {
                    if (L->slots[k].pid != 0) {
                        escalate(&L->slots[k]);
                    }
                }
            }
        }
    }
}

static void read_ready(loop *L, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        slot *s = L->pfd_slot[i];
        if (L->pfd[i].revents == 0 || s == NULL) {
            continue;
        }
        if (L->pfd[i].fd == s->fd_out) {
            read_fd(L, &s->fd_out, &s->out);
        } else if (L->pfd[i].fd == s->fd_err) {
            read_fd(L, &s->fd_err, &s->err);
        }
    }
}

static void check_timers(loop *L)
{
    double now = pz__runner_mono_s();
    for (size_t i = 0; i < L->r->parallelism; i++) {
        slot *s = &L->slots[i];
        if (s->pid != 0 && s->kills == 0 && now >= s->deadline) {
            char why[96];
            snprintf(why, sizeof why, "timed out after %g s",
                     L->r->trial_timeout_s);
            pz__runner_kill_slot(L, s, PZ_TRIAL_ERROR, why);
        } else if (s->pid != 0 && s->kills == 1 && now >= s->kill_at) {
            escalate(s);
        }
    }
    run_timeout(L);
    if (now >= L->next_tick) {
        L->next_tick = now + L->r->tick_s;
        pz_runner_event ev = {.kind = PZ_RUNNER_TICK};
        pz__runner_emit(L, &ev);
    }
    if (now >= L->next_renew) {
        L->next_renew = now + RENEW_EVERY_S;
        pz_store_renew(L->store, NULL); /* best effort: a lease is slack */
    }
}

/* Reap every exited trial: kill what its group left, read the rest of
 * its output, record its outcome. */
static int reap(loop *L, pz_error *err)
{
    int rc = PZ_OK;
    for (size_t i = 0; i < L->r->parallelism; i++) {
        slot *s = &L->slots[i];
        siginfo_t si;
        memset(&si, 0, sizeof si);
        int w = s->pid ? waitid(P_PID, (id_t)s->pid, &si,
                                WEXITED | WNOHANG | WNOWAIT)
                       : 0;
        if (s->pid == 0 || (w == 0 && si.si_pid == 0)) {
            continue;
        }
        if (w == 0) { /* not when someone else reaped it: pid reusable */
            killpg(s->pid, SIGKILL); /* the zombie leader pins the group */
        }
        read_fd(L, &s->fd_out, &s->out);
        read_fd(L, &s->fd_err, &s->err);
        /* its last reports count; a failure to store them is the run's */
        int r = pz__runner_reports_read(L, s, true, rc == PZ_OK ? err : NULL);
        rc = rc == PZ_OK ? r : rc;
        int wstatus = 255 << 8; /* "exit status 255" if it was reaped */
        while (waitpid(s->pid, &wstatus, 0) < 0 && errno == EINTR) {
        }
        int f = pz__runner_finish(L, s, wstatus, rc == PZ_OK ? err : NULL);
        rc = rc == PZ_OK ? f : rc; /* the first error; reap them all */
    }
    return rc;
}

static int step(loop *L, pz_error *err)
{
    size_t n = build_pollfds(L);
    int k = poll(L->pfd, (nfds_t)n, poll_timeout_ms(L));
    if (k < 0 && errno != EINTR) {
        return pz__fail(err, PZ_EIO, "poll: %s", strerror(errno));
    }
    if (k > 0 && L->pfd[0].revents != 0) {
        handle_signals(L);
    }
    if (k > 0) {
        read_ready(L, n);
    }
    check_timers(L);
    int rc = pz__runner_reports_poll(L, err);
    int r = reap(L, rc == PZ_OK ? err : NULL);
    return rc == PZ_OK ? r : rc;
}

int pz__runner_run_loop(loop *L, pz_error *err)
{
    int rc = PZ_OK;
    while (rc == PZ_OK) {
        rc = fill(L, err);
        if (rc != PZ_OK || L->n_running == 0) {
            break;
        }
        rc = step(L, err);
    }
    return rc;
}

/* After an error: kill what runs, wait for it, tell CANCEL (errors
 * ignored: the first error is the one reported). */
void pz__runner_abort_running(loop *L)
{
    L->aborting = true;
    L->stopping = true;
    reap(L, NULL); /* what exited already sent its SIGCHLD */
    cancel_all(L, "canceled: the run failed");
    for (int guard = 0; L->n_running > 0 && guard < 100000; guard++) {
        if (step(L, NULL) != PZ_OK) {
            for (size_t i = 0; i < L->r->parallelism; i++) {
                if (L->slots[i].pid != 0) {
                    escalate(&L->slots[i]);
                }
            }
        }
    }
}
