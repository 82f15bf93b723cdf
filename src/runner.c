/*
 * runner.c -- the local process pool's handle: its settings, and one run
 * from start to end (signals installed, the loop run, everything that
 * still runs after an error canceled and told). runner_internal.h lists
 * the other files of the runner.
 */
#define _POSIX_C_SOURCE 200809L
#include "runner_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_GRACE_S 5.0
#define DEFAULT_OUTPUT_LIMIT ((size_t)64 << 10)

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

static int run(pz_runner *r, pz_study *study, pz_store *store, pz_error *err)
{
    loop L = {.r = r, .study = study, .store = store};
    r->stop_reason = "none";
    int rc = pz__runner_signals_install(err);
    if (rc != PZ_OK) {
        return rc;
    }
    rc = pz__runner_loop_init(&L, err);
    if (rc == PZ_OK) {
        rc = pz__runner_run_loop(&L, err);
    }
    if (rc != PZ_OK) {
        if (L.n_running > 0) { /* only after loop_init succeeded */
            pz__runner_abort_running(&L);
        }
        r->stop_reason = "error";
    }
    size_t n_canceled = L.n_canceled;
    bool interrupted = L.interrupts > 0;
    pz__runner_loop_fini(&L);
    pz__runner_signals_restore();
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
