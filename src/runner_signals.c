/*
 * runner_signals.c -- SIGCHLD, SIGINT, SIGTERM and SIGHUP during a run:
 * the handlers write the signal number to a self-pipe that the loop
 * polls (runner_loop.c), and the previous dispositions are restored when
 * the run ends.
 */
#define _GNU_SOURCE /* pipe2 */
#include "runner_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

/* The self-pipe and the dispositions to restore. Process-wide by
 * nature: one run at a time ('active'). */
static int sig_pipe[2] = {-1, -1};
static bool active;
static const int handled[] = {SIGCHLD, SIGINT, SIGTERM, SIGHUP};
#define N_HANDLED (sizeof handled / sizeof handled[0])
static struct sigaction saved[N_HANDLED];

static void on_signal(int sig)
{
    int saved_errno = errno;
    unsigned char c = (unsigned char)sig;
    ssize_t n = write(sig_pipe[1], &c, 1); /* full pipe: already woken */
    (void)n;
    errno = saved_errno;
}

static void signals_restore(size_t n_installed)
{
    for (size_t i = 0; i < n_installed; i++) {
        sigaction(handled[i], &saved[i], NULL);
    }
    for (int i = 0; i < 2; i++) {
        if (sig_pipe[i] >= 0) {
            close(sig_pipe[i]);
        }
        sig_pipe[i] = -1;
    }
    active = false;
}

int pz__runner_signals_install(pz_error *err)
{
    if (active) {
        return pz__fail(err, PZ_EBUSY,
                        "another run is active in this "
                        "process");
    }
    if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        return pz__fail(err, PZ_EIO, "pipe: %s", strerror(errno));
    }
    active = true;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < N_HANDLED; i++) {
        sa.sa_flags = SA_RESTART | (handled[i] == SIGCHLD ? SA_NOCLDSTOP : 0);
        if (sigaction(handled[i], &sa, &saved[i]) != 0) {
            signals_restore(i);
            return pz__fail(err, PZ_EIO, "sigaction: %s", strerror(errno));
        }
    }
    return PZ_OK;
}

void pz__runner_signals_restore(void)
{
    signals_restore(N_HANDLED);
}

int pz__runner_signals_fd(void)
{
    return sig_pipe[0];
}
