/*
 * runner.c -- the local process pool: runs a command per trial, up to
 * 'parallelism' at a time. The only file of the library that creates
 * processes (or threads).
 *
 * The loop is event-driven and single-threaded. It sleeps in poll() on
 * the read ends of every running trial's stdout/stderr pipes and on a
 * self-pipe written by the SIGCHLD/SIGINT/SIGTERM/SIGHUP handlers, with a
 * timeout only when a deadline is pending (a trial timeout, a kill grace,
 * the run timeout, a progress tick, a lease renewal). Each wake-up reads
 * what is readable, reaps what exited, then fills free slots at once: a
 * finishing trial's slot is reused in the same iteration.
 *
 * A trial's process is started with posix_spawnp: its own process group
 * (so a timeout or Ctrl-C kills everything it started), default signal
 * dispositions and an empty mask, stdin an unlinked file holding the
 * point, stdout/stderr pipes. Nothing goes through a shell. When the
 * group leader exits, what is left of its group is killed (the leader is
 * waited for with WNOWAIT first, so the group id cannot be reused).
 *
 * Invariants: a slot with pid != 0 is a started trial whose outcome has
 * not been told; every started trial is told exactly once (DONE, ERROR
 * or CANCEL) before pz_runner_run returns, errors included.
 */
#define _GNU_SOURCE /* pipe2, environ */
#include "pz_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_GRACE_S 5.0
#define DEFAULT_OUTPUT_LIMIT ((size_t)64 << 10)
#define RESULT_FILE_MAX ((size_t)1 << 20)
#define RENEW_EVERY_S 20.0 /* a third of the store's default lease */
#define READ_CHUNK 65536

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

/* ------------------------------------------------------------- handles */

/* Can 'cmd' be executed, directly or through PATH? */
static bool executable(const char *cmd)
{
    if (strchr(cmd, '/') != NULL) {
        return access(cmd, X_OK) == 0;
    }
    const char *path = getenv("PATH");
    path = path ? path : "/usr/local/bin:/usr/bin:/bin";
    char buf[4096];
    while (*path != '\0') {
        size_t n = strcspn(path, ":");
        int k = snprintf(buf, sizeof buf, "%.*s%s%s", (int)n, path,
                         n ? "/" : "", cmd);
        struct stat st;
        if (k > 0 && (size_t)k < sizeof buf && stat(buf, &st) == 0 &&
            S_ISREG(st.st_mode) && access(buf, X_OK) == 0) {
            return true;
        }
        path += n + (path[n] == ':');
    }
    return false;
}

static int copy_argv(pz_runner *r, const char *const *argv, pz_error *err)
{
    while (argv[r->argc] != NULL) {
        r->argc++;
    }
    r->argv = pz__calloc(r->argc + 1, sizeof *r->argv);
    for (size_t i = 0; r->argv != NULL && i < r->argc; i++) {
        if ((r->argv[i] = pz__strdup(argv[i])) == NULL) {
            return pz__fail(err, PZ_ENOMEM, "out of memory");
        }
    }
    return r->argv ? PZ_OK : pz__fail(err, PZ_ENOMEM, "out of memory");
}

int pz_runner_new(pz_runner **out, const char *const *argv, pz_error *err)
{
    *out = NULL;
    if (argv == NULL || argv[0] == NULL || argv[0][0] == '\0') {
        return pz__fail(err, PZ_EINVAL, "no command to run");
    }
    if (!executable(argv[0])) {
        return pz__fail(err, PZ_EINVAL,
                        "command not found or not executable: '%s'", argv[0]);
    }
    pz_runner *r = pz__calloc(1, sizeof *r);
    if (r == NULL) {
        return pz__fail(err, PZ_ENOMEM, "out of memory");
    }
    *r = (pz_runner){.parallelism = 1,
                     .grace_s = DEFAULT_GRACE_S,
                     .output_limit = DEFAULT_OUTPUT_LIMIT,
                     .rules = pz_stop_rules_none(),
                     .stop_reason = "none"};
    int rc = copy_argv(r, argv, err);
    if (rc != PZ_OK) {
        pz_runner_free(r);
        return rc;
    }
    *out = r;
    return PZ_OK;
}

void pz_runner_free(pz_runner *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; r->argv != NULL && i < r->argc; i++) {
        pz__free_str(r->argv[i]);
    }
    pz__free(r->argv, (r->argc + 1) * sizeof *r->argv);
    pz__free(r, sizeof *r);
}

int pz_runner_set_parallelism(pz_runner *r, size_t n, pz_error *err)
{
    if (n < 1 || n > 4096) {
        return pz__fail(err, PZ_EINVAL,
                        "parallelism must be from 1 to 4096, got %zu", n);
    }
    r->parallelism = n;
    return PZ_OK;
}

static int check_seconds(const char *what, double s, pz_error *err)
{
    if (!(s >= 0) || !isfinite(s)) {
        return pz__fail(err, PZ_EINVAL,
                        "%s must be a finite number of "
                        "seconds >= 0, got %g",
                        what, s);
    }
    return PZ_OK;
}

int pz_runner_set_trial_timeout(pz_runner *r, double s, pz_error *err)
{
    int rc = check_seconds("trial timeout", s, err);
    if (rc == PZ_OK) {
        r->trial_timeout_s = s;
    }
    return rc;
}

int pz_runner_set_kill_grace(pz_runner *r, double s, pz_error *err)
{
    int rc = check_seconds("kill grace", s, err);
    if (rc == PZ_OK) {
        r->grace_s = s;
    }
    return rc;
}

int pz_runner_set_output_limit(pz_runner *r, size_t bytes, pz_error *err)
{
    if (bytes < 1 || bytes > ((size_t)1 << 30)) {
        return pz__fail(err, PZ_EINVAL,
                        "output limit must be from 1 byte "
                        "to 1 GiB, got %zu",
                        bytes);
    }
    r->output_limit = bytes;
    return PZ_OK;
}

void pz_runner_set_stop_rules(pz_runner *r, const pz_stop_rules *rules)
{
    r->rules = rules ? *rules : pz_stop_rules_none();
}

void pz_runner_set_no_progress(pz_runner *r, size_t n)
{
    r->no_progress = n;
}

void pz_runner_set_retry_lost(pz_runner *r, int on)
{
    r->retry_lost = on != 0;
}

void pz_runner_set_events(pz_runner *r, pz_runner_event_fn fn, void *ud,
                          double tick_s)
{
    r->fn = fn;
    r->ud = ud;
    r->tick_s = tick_s > 0 && isfinite(tick_s) ? tick_s : 0;
}

const char *pz_runner_stop_reason(const pz_runner *r)
{
    return r->stop_reason;
}

/* -------------------------------------------------------------- signals */

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

static int signals_install(pz_error *err)
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

/* ----------------------------------------------------------------- loop */

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
    char kill_why[96];
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
    pz__cmdline *cmd;
    double *values;
    double t0, next_tick, next_renew;
    bool stopping; /* start no more trials */
    bool aborting; /* after an error: ignore tell failures */
    int interrupts;
    size_t n_run, since_best, n_canceled;
    double best;
    char *readbuf; /* READ_CHUNK */
} loop;

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double study_best(const pz_study *study)
{
    pz_trial_info t;
    return pz_study_best(study, &t, NULL) == PZ_OK ? t.loss : (double)NAN;
}

static void emit(loop *L, pz_runner_event *ev)
{
    if (L->r->fn == NULL) {
        return;
    }
    ev->n_done = pz_study_count(L->study, PZ_TRIAL_DONE);
    ev->n_failed = pz_study_count(L->study, PZ_TRIAL_ERROR);
    ev->n_running = L->n_running;
    ev->n_target = L->r->rules.max_trials;
    ev->n_run = L->n_run;
    ev->best_loss = study_best(L->study);
    ev->elapsed_s = mono_s() - L->t0;
    L->r->fn(ev, L->r->ud);
}

/* ----------------------------------------------------------- setup/free */

static bool own_var(const char *e)
{
    return strncmp(e, "PARZEN_PARAMS=", 14) == 0 ||
           strncmp(e, "PARZEN_TRIAL_ID=", 16) == 0 ||
           strncmp(e, "PARZEN_RESULT_FILE=", 19) == 0;
}

/* The inherited environment without our variables, + 3 free entries. */
static int env_init(loop *L, pz_error *err)
{
    size_t n = 0;
    while (environ[n] != NULL) {
        n++;
    }
    L->env_cap = n + 4;
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
        s->fd_out = s->fd_err = -1;
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

static void loop_fini(loop *L)
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
    pz__runner_io_cmdline_free(L->cmd);
    size_t dim = pz_space_size(pz_study_space(L->study));
    pz__free(L->values, (dim ? dim : 1) * sizeof *L->values);
}

static int loop_init(loop *L, pz_error *err)
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
        rc = pz__runner_io_cmdline_new(&L->cmd, pz_study_space(L->study),
                                       L->r->argv, err);
    }
    L->t0 = mono_s();
    L->next_tick = L->r->tick_s > 0 ? L->t0 + L->r->tick_s : (double)INFINITY;
    L->next_renew = L->store ? L->t0 + RENEW_EVERY_S : (double)INFINITY;
    L->best = study_best(L->study);
    return rc;
}

/* ---------------------------------------------------------------- kills */

static void signal_group(const slot *s, int sig)
{
    if (killpg(s->pid, sig) != 0) {
        kill(s->pid, sig); /* not a group leader yet: the process */
    }
}

/* SIGTERM the trial's group; SIGKILL follows after the grace. The
 * outcome will be 'state' with the reason 'why', whatever the exit. */
static void kill_slot(loop *L, slot *s, pz_trial_state state, const char *why)
{
    if (s->kills > 0) {
        return;
    }
    s->kill_state = state;
    snprintf(s->kill_why, sizeof s->kill_why, "%s", why);
    signal_group(s, SIGTERM);
    s->kills = 1;
    s->kill_at = mono_s() + L->r->grace_s;
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
            kill_slot(L, &L->slots[i], PZ_TRIAL_CANCEL, why);
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

static void trial_path(const loop *L, int64_t id, const char *ext, char *buf,
                       size_t n)
{
    snprintf(buf, n, "%s/trial-%lld.%s", L->tmpdir, (long long)id, ext);
}

/* Outcome of a command that exited 0: its result file, else stdout. */
static int parse_result(loop *L, slot *s, pz__outcome *o, pz_error *err)
{
    char path[4096];
    size_t len = 0, line_len = 0;
    trial_path(L, s->id, "result", path, sizeof path);
    char *file = read_result_file(path, &len);
    int rc;
    if (file != NULL && len > 0) {
        rc = pz__runner_io_parse(file, len, o, err);
    } else {
        size_t n;
        const char *out = pz__runner_io_tail_bytes(&s->out, &n);
        const char *line = pz__runner_io_last_line(out, n, &line_len);
        rc = pz__runner_io_parse(line ? line : "", line_len, o, err);
    }
    pz__free(file, RESULT_FILE_MAX);
    return rc;
}

/* "exit status 1: <last line of stderr>" */
static void exit_reason(slot *s, int code, pz__outcome *o)
{
    size_t n, line_len = 0;
    const char *e = pz__runner_io_tail_bytes(&s->err, &n);
    const char *line = pz__runner_io_last_line(e, n, &line_len);
    int k = snprintf(o->error, sizeof o->error, "exit status %d", code);
    if (line != NULL && k > 0 && (size_t)k < sizeof o->error) {
        snprintf(o->error + k, sizeof o->error - (size_t)k, ": %.*s",
                 (int)(line_len < 160 ? line_len : 160), line);
    }
}

static int build_outcome(loop *L, slot *s, int wstatus, pz__outcome *o,
                         pz_error *err)
{
    memset(o, 0, sizeof *o);
    o->state = PZ_TRIAL_ERROR;
    o->status = "fail";
    o->loss = (double)NAN;
    if (s->kills > 0) {
        o->state = s->kill_state;
        snprintf(o->error, sizeof o->error, "%s", s->kill_why);
    } else if (WIFSIGNALED(wstatus)) {
        int sig = WTERMSIG(wstatus);
        snprintf(o->error, sizeof o->error, "killed by signal %d (%s)", sig,
                 strsignal(sig));
    } else if (WEXITSTATUS(wstatus) != 0) {
        exit_reason(s, WEXITSTATUS(wstatus), o);
    } else {
        return parse_result(L, s, o, err);
    }
    return PZ_OK;
}

static double study_loss(const pz__outcome *o)
{
    return o->state == PZ_TRIAL_DONE
               ? pz_trial_loss(o->state, o->status, o->loss)
               : (double)NAN;
}

static int tell(loop *L, slot *s, const pz__outcome *o, pz_error *err)
{
    if (L->store == NULL) {
        return pz_study_tell(L->study, s->id, o->state, study_loss(o), err);
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

static void note_progress(loop *L, const pz__outcome *o)
{
    L->n_run++;
    L->n_canceled += o->state == PZ_TRIAL_CANCEL;
    if (o->state == PZ_TRIAL_CANCEL) {
        return;
    }
    double b = study_best(L->study);
    if (!isnan(b) && (isnan(L->best) || b < L->best)) {
        L->best = b;
        L->since_best = 0;
    } else {
        L->since_best++;
    }
}

static void emit_finish(loop *L, const slot *s, const pz__outcome *o)
{
    pz_runner_event ev = {
        .kind = PZ_RUNNER_FINISH,
        .trial_id = s->id,
        .point_json = s->point_json,
        .state = o->state,
        .loss = o->loss,
        .status = o->status,
        .error = o->error[0] ? o->error : NULL,
        .duration_s = mono_s() - s->t_start,
    };
    emit(L, &ev);
}

static void slot_clear(loop *L, slot *s)
{
    for (int *fd = &s->fd_out; fd != NULL;
         fd = fd == &s->fd_out ? &s->fd_err : NULL) {
        if (*fd >= 0) {
            close(*fd);
        }
        *fd = -1;
    }
    char path[4096];
    trial_path(L, s->id, "result", path, sizeof path);
    unlink(path);
    pz_free(s->point_json);
    s->point_json = NULL;
    s->pid = 0;
    s->kills = 0;
    pz__runner_io_tail_reset(&s->out);
    pz__runner_io_tail_reset(&s->err);
}

/* Record the outcome of the trial in 's' (exit status 'wstatus') and
 * free the slot. */
static int finish(loop *L, slot *s, int wstatus, pz_error *err)
{
    pz__outcome o;
    int rc = build_outcome(L, s, wstatus, &o, err);
    if (rc != PZ_OK) { /* out of memory: still record the trial */
        pz__runner_io_outcome_fini(&o);
        o = (pz__outcome){
            .state = PZ_TRIAL_ERROR, .status = "fail", .loss = (double)NAN};
        snprintf(o.error, sizeof o.error, "out of memory reading its result");
        tell(L, s, &o, NULL);
    } else {
        rc = tell(L, s, &o, err);
        rc = L->aborting ? PZ_OK : rc;
    }
    if (rc == PZ_OK) {
        note_progress(L, &o);
        if (L->n_running > 0 && s->pid != 0) {
            L->n_running--;
        }
        emit_finish(L, s, &o);
    } else if (s->pid != 0) {
        L->n_running--;
    }
    pz__runner_io_outcome_fini(&o);
    slot_clear(L, s);
    return rc;
}

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
    trial_path(L, id, "in", path, sizeof path);
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

/* The three PARZEN_ variables of a trial, at the end of L->envp. */
static int trial_env(loop *L, int64_t id, const char *point, char *vars[3])
{
    char path[4096], tid[32];
    trial_path(L, id, "result", path, sizeof path);
    unlink(path);
    snprintf(tid, sizeof tid, "%lld", (long long)id);
    vars[0] = env_var("PARZEN_PARAMS", point);
    vars[1] = env_var("PARZEN_TRIAL_ID", tid);
    vars[2] = env_var("PARZEN_RESULT_FILE", path);
    if (!vars[0] || !vars[1] || !vars[2]) {
        return ENOMEM;
    }
    for (int i = 0; i < 3; i++) {
        L->envp[L->n_env + (size_t)i] = vars[i];
    }
    L->envp[L->n_env + 3] = NULL;
    return 0;
}

static void free_env(char *vars[3])
{
    for (int i = 0; i < 3; i++) {
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
    char *vars[3] = {NULL, NULL, NULL};
    char *const *argv = NULL;
    int e = point_file(L, s->id, s->point_json, &in);
    e = e ? e : make_pipe(out);
    e = e ? e : make_pipe(errp);
    e = e ? e : trial_env(L, s->id, s->point_json, vars);
    if (e == 0 && pz__runner_io_cmdline_argv(L->cmd, L->values, s->point_json,
                                             &argv, err) != PZ_OK) {
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
    pz__outcome o = {
        .state = PZ_TRIAL_ERROR, .status = "fail", .loss = (double)NAN};
    snprintf(o.error, sizeof o.error, "cannot start '%s': %s", L->r->argv[0],
             strerror(e));
    s->pid = 0;
    int rc = tell(L, s, &o, err);
    if (rc == PZ_OK) {
        note_progress(L, &o);
        emit_finish(L, s, &o);
    }
    slot_clear(L, s);
    return rc;
}

static int start_trial(loop *L, int64_t id, pz_error *err)
{
    slot *s = free_slot(L);
    pz_assert(s != NULL);
    s->id = id;
    s->t_start = mono_s();
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
    emit(L, &ev);
    return PZ_OK;
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
        mono_s() - L->t0 >= L->r->rules.timeout_s &&
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
            rc = start_trial(L, id, err);
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
    L->pfd[n] = (struct pollfd){.fd = sig_pipe[0], .events = POLLIN};
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
    if (isinf(next)) {
        return -1;
    }
    double ms = ceil((next - mono_s()) * 1000.0);
    return ms < 0 ? 0 : ms > 1e9 ? 1000000000 : (int)ms;
}

static void handle_signals(loop *L)
{
    unsigned char buf[64];
    ssize_t n;
    while ((n = read(sig_pipe[0], buf, sizeof buf)) > 0) {
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
    double now = mono_s();
    for (size_t i = 0; i < L->r->parallelism; i++) {
        slot *s = &L->slots[i];
        if (s->pid != 0 && s->kills == 0 && now >= s->deadline) {
            char why[96];
            snprintf(why, sizeof why, "timed out after %g s",
                     L->r->trial_timeout_s);
            kill_slot(L, s, PZ_TRIAL_ERROR, why);
        } else if (s->pid != 0 && s->kills == 1 && now >= s->kill_at) {
            escalate(s);
        }
    }
    run_timeout(L);
    if (now >= L->next_tick) {
        L->next_tick = now + L->r->tick_s;
        pz_runner_event ev = {.kind = PZ_RUNNER_TICK};
        emit(L, &ev);
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
        int wstatus = 255 << 8; /* "exit status 255" if it was reaped */
        while (waitpid(s->pid, &wstatus, 0) < 0 && errno == EINTR) {
        }
        int f = finish(L, s, wstatus, rc == PZ_OK ? err : NULL);
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
    return reap(L, err);
}

static int run_loop(loop *L, pz_error *err)
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
static void abort_running(loop *L)
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

static int run(pz_runner *r, pz_study *study, pz_store *store, pz_error *err)
{
    loop L = {.r = r, .study = study, .store = store};
    r->stop_reason = "none";
    int rc = signals_install(err);
    if (rc != PZ_OK) {
        return rc;
    }
    rc = loop_init(&L, err);
    if (rc == PZ_OK) {
        rc = run_loop(&L, err);
    }
    if (rc != PZ_OK) {
        if (L.n_running > 0) { /* only after loop_init succeeded */
            abort_running(&L);
        }
        r->stop_reason = "error";
    }
    size_t n_canceled = L.n_canceled;
    bool interrupted = L.interrupts > 0;
    loop_fini(&L);
    signals_restore(N_HANDLED);
    if (rc == PZ_OK && interrupted) {
        rc = pz__fail(err, PZ_ECANCELED,
                      "interrupted: %zu running trial%s marked CANCEL",
                      n_canceled, n_canceled == 1 ? "" : "s");
    }
    return rc;
}

int pz_runner_run(pz_runner *r, pz_study *study, pz_error *err)
{
    if (study == NULL) {
        return pz__fail(err, PZ_EINVAL, "pz_runner_run: study is NULL");
    }
    return run(r, study, NULL, err);
}

int pz_runner_run_store(pz_runner *r, pz_store *store, pz_error *err)
{
    if (store == NULL || pz_store_study(store) == NULL) {
        return pz__fail(err, PZ_EINVAL,
                        "pz_runner_run_store: no study opened in the store");
    }
    return run(r, pz_store_study(store), store, err);
}
