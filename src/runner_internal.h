/*
 * runner_internal.h -- what the runner files share and nothing else
 * sees: the runner's settings, the loop of one run and its slots.
 *
 * The local process pool: runs a command per trial, up to 'parallelism'
 * at a time; the only code of the library that creates processes (or
 * threads). One concern per file:
 *   runner.c          the handle and its settings, one run from start to
 *                     end
 *   runner_loop.c     the event loop of a run and its policy: fill free
 *                     slots (ask), stop rules, timeouts, kills, poll
 *   runner_spawn.c    starting a trial: the point file, environment,
 *                     pipes, posix_spawnp in its own process group
 *   runner_outcome.c  a finished trial: its outcome, told to the study
 *   runner_signals.c  the self-pipe the signal handlers write to
 *   runner_event.c    the events a run reports, its clock
 *   runner_io.c       the command protocol: output tails, result parsing
 *
 * The loop is event-driven and single-threaded. It sleeps in poll() on
 * the read ends of every running trial's stdout/stderr pipes and on a
 * self-pipe written by the SIGCHLD/SIGINT/SIGTERM/SIGHUP handlers, with a
 * timeout only when a deadline is pending (a trial timeout, a kill grace,
 * the run timeout, a progress tick, a lease renewal). Each wake-up reads
 * what is readable, reaps what exited, then fills free slots at once: a
 * finishing trial's slot is reused in the same iteration.
 *
 * Invariants: a slot with pid != 0 is a started trial whose outcome has
 * not been told; every started trial is told exactly once (DONE, ERROR
 * or CANCEL) before pz_runner_run returns, errors included.
 */
#ifndef PZ_RUNNER_INTERNAL_H
#define PZ_RUNNER_INTERNAL_H

#include "pz_internal.h"

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define RESULT_FILE_MAX ((size_t)1 << 20)
#define RENEW_EVERY_S 20.0 /* a third of the store's default lease */
#define READ_CHUNK 65536
#define REPORT_POLL_S 0.05 /* how often the report files are read */
#define REPORT_LINE_MAX 256

struct pz_runner {
    char **argv; /* owned, NULL-terminated */
    size_t argc;
    size_t parallelism;
    double trial_timeout_s; /* 0: none */
    double grace_s;         /* SIGTERM -> SIGKILL */
    size_t output_limit;    /* bytes kept per stream */
    pz_stop_rules rules;
    size_t no_progress; /* 0: off */
    bool retry_lost;
    pz_runner_event_fn fn;
    void *ud;
    double tick_s;
    const char *stop_reason; /* static string */
};

typedef struct slot {
    pid_t pid;                 /* 0: free */
    int64_t id;                /* trial */
    int fd_out, fd_err;        /* read ends, -1 once closed */
    pz__tail out, err;         /* kept output */
    char *point_json;          /* owned (pz_free) */
    double t_start;            /* monotonic seconds */
    double deadline;           /* trial timeout, INFINITY: none */
    double kill_at;            /* SIGKILL after SIGTERM, INFINITY: not yet */
    int kills;                 /* 0, 1 (SIGTERM sent), 2 (SIGKILL sent) */
    pz_trial_state kill_state; /* outcome of a killed trial */
    char kill_why[224];
    int fd_rep;        /* the report file, read end; -1: none */
    size_t rep_lineno; /* lines of it handled */
    size_t rep_len;    /* bytes of an unfinished line in rep_buf */
    char rep_buf[REPORT_LINE_MAX + 1];
    double pruned_loss; /* the value a pruned trial stopped at */
} slot;

typedef struct loop {
    pz_runner *r;
    pz_study *study;
    pz_store *store; /* NULL: in-memory study */
    slot *slots;     /* r->parallelism */
    size_t n_running;
    struct pollfd *pfd; /* 1 + 2 * parallelism */
    slot **pfd_slot;    /* owner of each pfd entry, NULL for the pipe */
    char *tmpdir;       /* owned; trial files live here */
    char **envp;        /* inherited environment + 3 PARZEN_ variables */
    size_t n_env;       /* inherited entries */
    size_t env_cap;     /* entries allocated */
    pz_command *cmd;
    double *values;
    double t0, next_tick, next_renew, next_report;
    bool stopping; /* start no more trials */
    bool aborting; /* after an error: ignore tell failures */
    int interrupts;
    size_t n_run, since_best, n_canceled;
    double best;
    char *readbuf; /* READ_CHUNK */
} loop;

/* -------------------------------------------- runner_signals.c */

/* Install the handlers; PZ_EBUSY when another run of this process has
 * them (one run at a time). */
int pz__runner_signals_install(pz_error *err);
/* Restore the dispositions saved at install; close the self-pipe. */
void pz__runner_signals_restore(void);
/* The read end of the self-pipe: one byte per signal received. */
int pz__runner_signals_fd(void);

/* ---------------------------------------------- runner_event.c */

/* Seconds on the monotonic clock. */
double pz__runner_mono_s(void);
/* Fill the counts, best loss and elapsed time of 'ev' and hand it to the
 * run's event callback, if any. */
void pz__runner_emit(loop *L, pz_runner_event *ev);

/* ----------------------------------------------- runner_loop.c */

/* SIGTERM the trial's group; SIGKILL follows after the grace. The
 * outcome will be 'state' with the reason 'why', whatever the exit. */
void pz__runner_kill_slot(loop *L, slot *s, pz_trial_state state,
                          const char *why);
void pz__runner_loop_fini(loop *L);
int pz__runner_loop_init(loop *L, pz_error *err);
int pz__runner_run_loop(loop *L, pz_error *err);
/* After an error: kill what runs, wait for it, tell CANCEL (errors
 * ignored: the first error is the one reported). */
void pz__runner_abort_running(loop *L);

/* -------------------------------------------- runner_outcome.c */

void pz__runner_emit_finish(loop *L, const slot *s,
                            const pz_command_outcome *o);
void pz__runner_note_progress(loop *L, const pz_command_outcome *o);
void pz__runner_slot_clear(loop *L, slot *s);
int pz__runner_tell_outcome(loop *L, slot *s, const pz_command_outcome *o,
                            pz_error *err);
void pz__runner_trial_path(const loop *L, int64_t id, const char *ext,
                           char *buf, size_t n);
/* Record the outcome of the trial in 's' (exit status 'wstatus') and
 * free the slot. */
int pz__runner_finish(loop *L, slot *s, int wstatus, pz_error *err);

/* -------------------------------------------- runner_reports.c */

/* Create trial s->id's empty report file (path into 'path') and open
 * its read end; an errno value on failure. */
int pz__runner_reports_open(loop *L, slot *s, char *path, size_t n);
void pz__runner_reports_close(loop *L, slot *s);
/* Read what every running trial appended to its report file and act on
 * each complete line: report it, prune, or fail the trial on a bad line.
 * 'final' (one slot, its process gone): the last line counts without
 * its newline, and nothing is pruned any more. Fails only on a store or
 * memory error. */
int pz__runner_reports_read(loop *L, slot *s, bool final, pz_error *err);
int pz__runner_reports_poll(loop *L, pz_error *err);

/* ---------------------------------------------- runner_spawn.c */

int pz__runner_start_trial(loop *L, int64_t id, pz_error *err);

#endif /* PZ_RUNNER_INTERNAL_H */
