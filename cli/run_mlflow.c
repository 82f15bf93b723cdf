/*
 * run_mlflow.c -- 'parzen run --mlflow URI': the MLflow logger beside a run.
 *
 * The store is the truth. A Python process, `python -m parzen.mlflow_log
 * follow` (the interpreter python_exec.c finds), reads the study's finished
 * trials and logs each one that is not yet in MLflow: the study is the parent
 * run (found again by its tag when a run resumes), each trial a child run
 * tagged with the study and the trial id, so nothing is logged twice.
 * This file starts it, waits until it says "ready" (or why it cannot run:
 * MLflow missing is a usage error, before any trial), and at the end
 * closes its stdin and waits while it logs the last trials. It ignores
 * Ctrl-C, so Ctrl-C stops the trials, not the logging of what they did,
 * and it runs at the lowest CPU priority. A tracking server that is down
 * never fails the run:
 * the logger retries and says how many trials it could not log.
 */
#define _XOPEN_SOURCE 700 /* clock_gettime, kill, nice */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/* How long the logger may take to import MLflow and reach the store. */
#define MLFLOW_READY_MS 300000

/* The interpreter of this installation (python_exec.c says which). */
static const char *python_path(void)
{
    static char py[PATH_MAX];
    pz_error ignored;
    if (py[0] == '\0' && pz_cli_find_python(py, sizeof py, &ignored) != PZ_OK) {
        strcpy(py, "python3"); /* only for a PARZEN_PYTHON too long */
    }
    return py;
}

static void child_exec(int in_fd, int out_fd, char **argv)
{
    /* Ctrl-C and a closed terminal stop the trials, not the logging of
     * what they did: it finishes on EOF. Not setsid(): with autogroup
     * scheduling a session of its own would compete with the trials as
     * an equal, whatever its nice value. */
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    if (nice(19) == -1) { /* the trials come first */
        errno = 0;
    }
    if (dup2(in_fd, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0) {
        _exit(127);
    }
    execvp(argv[0], argv);
    _exit(127);
}

/* One line from fd (the logger's first reply), within MLFLOW_READY_MS. */
static size_t read_line(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (n + 1 < cap) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        long ms = (long)(t.tv_sec - t0.tv_sec) * 1000 +
                  (t.tv_nsec - t0.tv_nsec) / 1000000;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int k =
            poll(&p, 1, (int)(ms < MLFLOW_READY_MS ? MLFLOW_READY_MS - ms : 0));
        if (k < 0 && errno == EINTR) {
            continue;
        }
        ssize_t r = k > 0 ? read(fd, buf + n, 1) : 0;
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0 || buf[n] == '\n') {
            break;
        }
        n++;
    }
    buf[n] = '\0';
    return n;
}

static int spawn(char **argv, pid_t *pid, int *to_fd, int *from_fd,
                 pz_error *err)
{
    int in[2], out[2];
    if (pipe(in) != 0) {
        return pz_cli_fail(err, PZ_EIO, "--mlflow: pipe: %s", strerror(errno));
    }
    if (pipe(out) != 0) {
        close(in[0]);
        close(in[1]);
        return pz_cli_fail(err, PZ_EIO, "--mlflow: pipe: %s", strerror(errno));
    }
    /* Trials must not inherit our ends: the logger's EOF is our exit. */
    fcntl(in[1], F_SETFD, FD_CLOEXEC);
    fcntl(out[0], F_SETFD, FD_CLOEXEC);
    fflush(stdout);
    fflush(stderr);
    *pid = fork();
    if (*pid == 0) {
        close(in[1]);
        close(out[0]);
        child_exec(in[0], out[1], argv);
    }
    int e = errno;
    close(in[0]);
    close(out[1]);
    if (*pid < 0) {
        close(in[1]);
        close(out[0]);
        return pz_cli_fail(err, PZ_EIO, "--mlflow: fork: %s", strerror(e));
    }
    *to_fd = in[1];
    *from_fd = out[0];
    return PZ_OK;
}

static int reap(pid_t pid)
{
    int st = 0;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            return -1;
        }
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The logger did not say "ready": say why, from its line or its exit. */
static int not_ready(const char *line, pid_t pid, int to_fd, pz_error *err)
{
    const char *py = python_path();
    close(to_fd);
    if (strncmp(line, "error: ", 7) == 0) {
        reap(pid);
        return pz_cli_fail(err, PZ_EINVAL, "--mlflow: %s", line + 7);
    }
    if (line[0] == '\0') { /* silent: no such Python, or it is stuck */
        kill(pid, SIGKILL);
    }
    int st = reap(pid);
    if (st == 127) {
        return pz_cli_fail(err, PZ_EINVAL,
                           "--mlflow: cannot run '%s' (set PARZEN_PYTHON "
                           "to a Python with parzen and mlflow)",
                           py);
    }
    return pz_cli_fail(err, PZ_EINVAL,
                       "--mlflow: '%s -m parzen.mlflow_log' failed (exit "
                       "status %d; set PARZEN_PYTHON to a Python with "
                       "parzen and mlflow)",
                       py, st);
}

int pz_cli_mlflow_start(pz_cli_mlflow *m, const pz_cli_mlflow_args *a,
                        pz_error *err)
{
    char evals[32], par[32];
    snprintf(evals, sizeof evals, "%llu", (unsigned long long)a->max_evals);
    snprintf(par, sizeof par, "%llu", (unsigned long long)a->parallelism);
    const char *argv[] = {python_path(),
                          "-m",
                          "parzen.mlflow_log",
                          "follow",
                          "--uri",
                          a->uri,
                          "--store",
                          a->store_path,
                          "--study",
                          a->study,
                          "--max-evals",
                          evals,
                          "--parallelism",
                          par,
                          a->quiet ? "--quiet" : NULL,
                          NULL};
    int from_fd = -1;
    m->pid = -1;
    m->to_fd = -1;
    int rc = spawn((char **)(uintptr_t)argv, &m->pid, &m->to_fd, &from_fd, err);
    if (rc != PZ_OK) {
        return rc;
    }
    char line[512];
    read_line(from_fd, line, sizeof line);
    close(from_fd); /* later replies go to stderr */
    if (strcmp(line, "ready") != 0) {
        rc = not_ready(line, m->pid, m->to_fd, err);
        m->pid = -1;
        m->to_fd = -1;
    }
    return rc;
}

void pz_cli_mlflow_finish(pz_cli_mlflow *m)
{
    if (m->pid <= 0) {
        return;
    }
    close(m->to_fd); /* EOF: log what is left, then exit */
    reap(m->pid);
    m->pid = -1;
    m->to_fd = -1;
}
