/*
 * runner_spawn.c -- starting a trial's process with posix_spawnp: its own
 * process group (so a timeout or Ctrl-C kills everything it started),
 * default signal dispositions and an empty mask, stdin an unlinked file
 * holding the point, stdout/stderr pipes, the PARZEN_ variables in its
 * environment. Nothing goes through a shell.
 */
#define _GNU_SOURCE /* pipe2 */
#include "runner_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------- start */

static int above_stdio(int fd)
{
    if (fd >= 0 && fd <= 2) {
        int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        close(fd);
        return nfd;
    }
    return fd;
}

/* Pipe for a child's output: our read end non-blocking. */
static int make_pipe(int fds[2])
{
    if (pipe2(fds, O_CLOEXEC) != 0) {
        return errno;
    }
    fds[0] = above_stdio(fds[0]);
    fds[1] = above_stdio(fds[1]);
    if (fds[0] < 0 || fds[1] < 0 || fcntl(fds[0], F_SETFL, O_NONBLOCK) != 0) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        return e;
    }
    return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno != EINTR) {
            return errno;
        }
        p += k > 0 ? (size_t)k : 0;
        n -= k > 0 ? (size_t)k : 0;
    }
    return 0;
}

/* An unlinked file holding the point, positioned at its start. */
static int point_file(const loop *L, int64_t id, const char *point, int *fd)
{
    char path[4096];
    pz__runner_trial_path(L, id, "in", path, sizeof path);
    unlink(path);
    *fd = above_stdio(open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (*fd < 0) {
        return errno;
    }
    unlink(path);
    int e = write_all(*fd, point, strlen(point));
    if (e == 0) {
        e = write_all(*fd, "\n", 1);
    }
    if (e == 0 && lseek(*fd, 0, SEEK_SET) != 0) {
        e = errno;
    }
    return e;
}

/* "NAME=value" in an exact-size allocation (pz__free_str), or NULL. */
static char *env_var(const char *name, const char *value)
{
    size_t n = strlen(name) + strlen(value) + 2;
    char *v = pz__malloc(n);
    if (v != NULL) {
        snprintf(v, n, "%s=%s", name, value);
    }
    return v;
}

/* The four PARZEN_ variables of a trial, at the end of L->envp. */
static int trial_env(loop *L, slot *s, char *vars[4])
{
    char path[4096], reports[4096], tid[32];
    pz__runner_trial_path(L, s->id, "result", path, sizeof path);
    unlink(path);
    int e = pz__runner_reports_open(L, s, reports, sizeof reports);
    if (e != 0) {
        return e;
    }
    snprintf(tid, sizeof tid, "%lld", (long long)s->id);
    vars[0] = env_var("PARZEN_PARAMS", s->point_json);
    vars[1] = env_var("PARZEN_TRIAL_ID", tid);
    vars[2] = env_var("PARZEN_RESULT_FILE", path);
    vars[3] = env_var("PARZEN_REPORT_FILE", reports);
    if (!vars[0] || !vars[1] || !vars[2] || !vars[3]) {
        return ENOMEM;
    }
    for (int i = 0; i < 4; i++) {
        L->envp[L->n_env + (size_t)i] = vars[i];
    }
    L->envp[L->n_env + 4] = NULL;
    return 0;
}

static void free_env(char *vars[4])
{
    for (int i = 0; i < 4; i++) {
        pz__free_str(vars[i]);
    }
}

/* posix_spawnp in a new process group with default signal handling. */
static int spawn(char *const *argv, char *const *envp, const int fds[3],
                 pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    for (int i = 0; i < 3; i++) {
        posix_spawn_file_actions_adddup2(&fa, fds[i], i);
    }
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP |
                                      POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    int e = posix_spawnp(pid, argv[0], &fa, &at, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    return e;
}

/* Start the process of trial s->id; an errno value on failure. */
static int launch(loop *L, slot *s, pz_error *err)
{
    int in = -1, out[2] = {-1, -1}, errp[2] = {-1, -1};
    char *vars[4] = {NULL, NULL, NULL, NULL};
    char *const *argv = NULL;
    int e = point_file(L, s->id, s->point_json, &in);
    e = e ? e : make_pipe(out);
    e = e ? e : make_pipe(errp);
    e = e ? e : trial_env(L, s, vars);
    if (e == 0 && pz_command_argv(L->cmd, L->values, s->point_json, &argv,
                                  err) != PZ_OK) {
        e = ENOMEM;
    }
    if (e == 0) {
        const int fds[3] = {in, out[1], errp[1]};
        e = spawn(argv, L->envp, fds, &s->pid);
    }
    int child_ends[3] = {in, out[1], errp[1]};
    for (int i = 0; i < 3; i++) {
        if (child_ends[i] >= 0) {
            close(child_ends[i]);
        }
    }
    free_env(vars);
    s->fd_out = out[0];
    s->fd_err = errp[0];
    return e;
}

static slot *free_slot(loop *L)
{
    for (size_t i = 0; i < L->r->parallelism; i++) {
        if (L->slots[i].pid == 0) {
            return &L->slots[i];
        }
    }
    return NULL;
}

/* A trial that could not start: an ERROR outcome, told at once. */
static int start_failed(loop *L, slot *s, int e, pz_error *err)
{
    pz_command_outcome o = {
        .state = PZ_TRIAL_ERROR, .status = "fail", .loss = (double)NAN};
    snprintf(o.error, sizeof o.error, "cannot start '%s': %s", L->r->argv[0],
             strerror(e));
    s->pid = 0;
    int rc = pz__runner_tell_outcome(L, s, &o, err);
    if (rc == PZ_OK) {
        pz__runner_note_progress(L, &o);
        pz__runner_emit_finish(L, s, &o);
    }
    pz__runner_slot_clear(L, s);
    return rc;
}

int pz__runner_start_trial(loop *L, int64_t id, pz_error *err)
{
    slot *s = free_slot(L);
    pz_assert(s != NULL);
    s->id = id;
    s->t_start = pz__runner_mono_s();
    s->kill_at = (double)INFINITY;
    s->deadline = L->r->trial_timeout_s > 0 ? s->t_start + L->r->trial_timeout_s
                                            : (double)INFINITY;
    int rc = pz_space_point_json(pz_study_space(L->study), L->values,
                                 &s->point_json, err);
    int e = rc == PZ_OK ? launch(L, s, err) : ENOMEM;
    if (e != 0) {
        return start_failed(L, s, e, err);
    }
    L->n_running++;
    pz_runner_event ev = {
        .kind = PZ_RUNNER_START, .trial_id = id, .point_json = s->point_json};
    pz__runner_emit(L, &ev);
    return PZ_OK;
}
