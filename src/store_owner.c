/*
 * store_owner.c -- who runs a trial. A RUNNING trial names its owner
 * (host, pid, process start time, a per-handle token, a lease); this file
 * says whether that owner still runs (the only reader of /proc), renews
 * the leases of a handle, marks lost trials CANCEL and, at close, the
 * trials a handle abandons.
 */
#define _DEFAULT_SOURCE /* gethostname, kill */
#define _POSIX_C_SOURCE 200809L
#include "store_internal.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_LEASE_S 60.0

/* ---------------------------------------------------------------- owner */

/* Start time (clock ticks since boot) and whether the process is a
 * zombie, from /proc/<pid>/stat; false when unreadable. */
static bool proc_stat(int64_t pid, int64_t *start, bool *zombie)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%lld/stat", (long long)pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f != NULL) {
        fclose(f);
    }
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold anything */
    if (p == NULL || p[1] != ' ') {
        return false;
    }
    *zombie = p[2] == 'Z' || p[2] == 'X';
    /* Field 3 is the state; the start time is field 22. */
    for (int field = 3; field < 22 && p != NULL; field++) {
        p = strchr(p + 1, ' ');
    }
    *start = p ? strtoll(p + 1, NULL, 10) : 0;
    return p != NULL;
}

/* Does process 'pid' that started at 'start' (0: unknown) still run? */
static bool owner_alive(int64_t pid, int64_t start)
{
    if (pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno != EPERM)) {
        return false;
    }
    int64_t now_start = 0;
    bool zombie = false;
    if (!proc_stat(pid, &now_start, &zombie)) {
        return true; /* no /proc: trust kill() */
    }
    return !zombie && (start == 0 || now_start == start);
}

void pz__store_owner_init(pz_store *s)
{
    if (gethostname(s->host, sizeof s->host) != 0) {
        strcpy(s->host, "localhost");
    }
    s->host[sizeof s->host - 1] = '\0';
    s->pid = (int64_t)getpid();
    bool zombie;
    if (!proc_stat(s->pid, &s->start, &zombie)) {
        s->start = 0;
    }
    sqlite3_randomness(sizeof s->token, &s->token);
    s->lease_s = DEFAULT_LEASE_S;
}

/* Why a RUNNING trial owned by (host, pid, start, lease) is lost, or
 * NULL-equivalent (false) when its owner may still run it. */
bool pz__store_lost_reason(const pz_store *s, const char *host, int64_t pid,
                           int64_t start, double lease, char *why, size_t n)
{
    if (host != NULL && strcmp(host, s->host) == 0) {
        if (owner_alive(pid, start)) {
            return false;
        }
        snprintf(why, n, "lost: its owner (pid %lld on %s) is gone",
                 (long long)pid, host);
        return true;
    }
    if (!isnan(lease) && lease >= pz__store_now()) {
        return false;
    }
    snprintf(why, n, "lost: the lease of its owner (pid %lld on %s) expired",
             (long long)pid, host ? host : "an unknown host");
    return true;
}

/* Mark what this handle still runs as CANCEL: nobody will tell it. */
void pz__store_abandon_running(pz_store *s)
{
    if (!s->started_any || s->cur.rowid == 0) {
        return;
    }
    int64_t seq = 0;
    int rc = pz__store_begin_write(s, NULL);
    if (rc == PZ_OK) {
        rc = pz__store_txn_seq(s, &seq, NULL);
    }
    if (rc == PZ_OK) {
        sqlite3_stmt *q = pz__store_stmt(s, S_ABANDON);
        sqlite3_bind_int64(q, 1, s->cur.rowid);
        pz__store_bind_text(q, 2,
                            "abandoned: the store was closed while it ran");
        sqlite3_bind_double(q, 3, pz__store_now());
        sqlite3_bind_int64(q, 4, seq);
        sqlite3_bind_int64(q, 5, s->token);
        rc = pz__store_step_done(s, q, NULL);
    }
    pz__store_end_txn(s, rc, NULL);
}

/* ----------------------------------------------------------------- lost */

typedef struct lost_trial {
    int64_t id;
    char why[200];
} lost_trial;

typedef struct lost_list {
    lost_trial *v;
    size_t n, cap;
} lost_list;

/* Collect the lost RUNNING trials of the current study. */
static int find_lost(pz_store *s, lost_list *l, pz_error *err)
{
    sqlite3_stmt *q = pz__store_stmt(s, S_RUNNING);
    sqlite3_bind_int64(q, 1, s->cur.rowid);
    int rc, out = PZ_OK;
    char why[200];
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (!pz__store_lost_reason(s, pz__store_col_text(q, 1),
                                   sqlite3_column_int64(q, 2),
                                   sqlite3_column_int64(q, 3),
                                   pz__store_col_real(q, 4), why, sizeof why)) {
            continue;
        }
        if (pz__grow((void **)&l->v, &l->cap, l->n + 1, sizeof *l->v) !=
            PZ_OK) {
            out = pz__fail(err, PZ_ENOMEM, "out of memory");
            break;
        }
        l->v[l->n].id = sqlite3_column_int64(q, 0);
        memcpy(l->v[l->n++].why, why, sizeof why);
    }
    if (out == PZ_OK && rc != SQLITE_DONE) {
        out = pz__store_fail(s, rc, err);
    }
    sqlite3_reset(q);
    return out;
}

static int mark_one(pz_store *s, const lost_trial *t, int64_t seq,
                    pz_error *err)
{
    sqlite3_stmt *q = pz__store_stmt(s, S_LOST);
    sqlite3_bind_int64(q, 1, s->cur.rowid);
    sqlite3_bind_int64(q, 2, t->id);
    pz__store_bind_text(q, 3, t->why);
    sqlite3_bind_double(q, 4, pz__store_now());
    sqlite3_bind_int64(q, 5, seq);
    int rc = pz__store_step_done(s, q, err);
    return rc == PZ_OK ? pz__store_note_change(s, t->id, PZ_TRIAL_CANCEL,
                                               (double)NAN, false, err)
                       : rc;
}

/* Inside a write txn: mark lost trials CANCEL. */
int pz__store_mark_lost_rows(pz_store *s, size_t *n_marked, pz_error *err)
{
    lost_list l = {0};
    int64_t seq = 0;
    int rc = find_lost(s, &l, err);
    if (rc == PZ_OK && l.n > 0) {
        rc = pz__store_txn_seq(s, &seq, err);
    }
    for (size_t i = 0; rc == PZ_OK && i < l.n; i++) {
        rc = mark_one(s, &l.v[i], seq, err);
    }
    if (n_marked != NULL) {
        *n_marked = rc == PZ_OK ? l.n : 0;
    }
    pz__free(l.v, l.cap * sizeof *l.v);
    return rc;
}

int pz_store_mark_lost(pz_store *s, size_t *n_marked, pz_error *err)
{
    if (n_marked != NULL) {
        *n_marked = 0;
    }
    int rc = pz__store_need_study(s, err);
    if (rc != PZ_OK || (rc = pz__store_begin_write(s, err)) != PZ_OK) {
        return rc;
    }
    rc = pz__store_sync_rows(s, &s->cur, err);
    if (rc == PZ_OK) {
        rc = pz__store_mark_lost_rows(s, n_marked, err);
    }
    rc = pz__store_end_txn(s, rc, err);
    return rc == PZ_OK ? pz__store_apply_changes(s, NULL, err) : rc;
}

void pz_store_set_lease(pz_store *s, double seconds)
{
    if (seconds > 0 && isfinite(seconds)) {
        s->lease_s = seconds;
    }
}

int pz_store_renew(pz_store *s, pz_error *err)
{
    int rc = pz__store_need_study(s, err);
    if (rc == PZ_OK) {
        sqlite3_stmt *q = pz__store_stmt(s, S_RENEW);
        sqlite3_bind_int64(q, 1, s->cur.rowid);
        sqlite3_bind_double(q, 2, pz__store_now() + s->lease_s);
        sqlite3_bind_int64(q, 3, s->token);
        rc = pz__store_step_done(s, q, err);
    }
    return rc;
}
