/*
 * store_internal.h -- what the store files share and nothing else sees:
 * the handle, the prepared statements and the helpers over them. The
 * store files are the only ones that include <sqlite3.h>.
 *
 * The store (pz_store, one SQLite file, any number of studies by name),
 * one concern per file:
 *   store.c          the policy: open/close, sync, ask, add, tell, start
 *   store_study.c    a handle's current study: find, check or create it,
 *                    load its trials; list the studies of a file
 *   store_records.c  trial records read back (each, get, best)
 *   store_sync.c     the in-memory study kept equal to the file (sync,
 *                    changes applied after a commit), stored parameters
 *   store_owner.c    who runs a trial: owner identity and liveness (the
 *                    only reader of /proc), leases, lost trials
 *   store_schema.c   the file: open, WAL, schema version and migrations
 *   store_sql.c      every statement (SQL text, prepared once at open),
 *                    the SQLite -> pz code mapping, bind/column helpers,
 *                    transactions and the list of changes they made
 *
 * Invariants.
 * - Every state change is one write transaction (BEGIN IMMEDIATE) that
 *   first loads the changes other handles committed (sync), then writes.
 *   Each write transaction takes the next value of the study's change
 *   counter 'studies.seq' and stamps it on every trial row it touches;
 *   'binding.seq' is the last value whose rows the in-memory study has.
 *   Trial ids are max(id) + 1 (0 for the first, as in pz_study_ask)
 *   under the write lock, so ids are unique across processes and grow
 *   with seq.
 * - The in-memory study is changed only after a commit (or by a sync,
 *   which applies committed rows), and applying a row is idempotent
 *   (tell if the id is known, else add), so a failure between commit and
 *   apply is repaired by the next sync.
 * - A RUNNING trial names its owner (host, pid, process start time, a
 *   per-handle token, a lease). It is lost when its owner is on this host
 *   and no longer runs, or on another host and its lease expired.
 *
 * Workload: one ask and one tell per trial (a few hundred microseconds
 * each, dominated by the commit), studies of up to ~10^5 trials loaded
 * once at open.
 */
#ifndef PZ_STORE_INTERNAL_H
#define PZ_STORE_INTERNAL_H
/* Calls between the files go one way: store.c -> store_study.c,
 * store_owner.c, store_sync.c; store_study.c -> store_owner.c,
 * store_records.c, store_sync.c; store_owner.c, store_records.c ->
 * store_sync.c; everything -> store_schema.c, store_sql.c. */

#include "pz_internal.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

/* The prepared statements (SQL text in store_sql.c). */

enum {
    S_BEGIN_W,
    S_BEGIN_R,
    S_COMMIT,
    S_ROLLBACK,
    S_STUDY_GET,
    S_STUDY_INSERT,
    S_STUDY_LIST,
    S_STUDY_COUNTS,
    S_BUMP,
    S_ALL,
    S_SINCE,
    S_GET,
    S_BEST,
    S_MAX_ID,
    S_BUDGET,
    S_PICK,
    S_INSERT,
    S_CLAIM,
    S_STATE_OF,
    S_FINISH,
    S_OUTPUT,
    S_RUNNING,
    S_LOST,
    S_RENEW,
    S_ABANDON,
    S_REPORT_INSERT,
    S_REPORTS_SINCE,
    S_REPORTS_CLEAR,
    S_DATA_VERSION,
    N_STMT
};

/* Column numbers of RECORD_COLS (+ RECORD_OUTPUT). */
enum {
    C_ID,
    C_STATE,
    C_LOSS,
    C_STATUS,
    C_PARAMS,
    C_POINT,
    C_RESULT,
    C_ERROR,
    C_QUEUED,
    C_STARTED,
    C_FINISHED,
    C_HOST,
    C_PID,
    C_START,
    C_LEASE,
    C_ATTEMPTS,
    C_STDOUT,
    C_STDERR
};

/* -------------------------------------------------------------- handles */

/* The current study of a handle. */
typedef struct binding {
    int64_t rowid;      /* studies.id; 0: none */
    char *name;         /* owned */
    char *space_json;   /* owned, canonical */
    char *sampler;      /* owned, canonical */
    char *options_json; /* owned, canonical ("{}" for none) */
    uint64_t seed;
    double created_at; /* Unix seconds */
    int created_now;
    pz_study *study;    /* owned; equal to the file up to 'seq' */
    int64_t seq;        /* last studies.seq applied to 'study' */
    int64_t report_seq; /* last trial_reports.id applied to 'study' */
    /* PRAGMA data_version at the last complete sync; -1 forces the next.
     * It moves only on other connections' commits, so while it stands
     * the study already holds every row (ours are applied on commit). */
    int64_t data_version;
    double *row; /* n_params scratch values */
    size_t n_params;
} binding;

/* A trial a write transaction changed, applied to the study on commit. */
typedef struct change {
    int64_t id;
    pz_trial_state state;
    double loss; /* as the study records it */
    bool added;  /* new in the study (else an existing trial's state) */
} change;

struct pz_store {
    sqlite3 *db;
    char *path;                /* owned copy */
    sqlite3_stmt *st[N_STMT];  /* prepared at open */
    char host[256];            /* owner identity of this handle */
    int64_t pid, start, token; /* start: /proc start time, 0 unknown */
    double lease_s;            /* lease of the trials it starts */
    bool started_any;          /* asked at least once (close abandons) */
    binding cur;               /* current study */
    int64_t txn_seq;           /* seq of the open write txn, 0: none */
    change *changes;           /* of the open write txn */
    size_t n_changes, cap_changes;
};

/* ------------------------------------------------- store_sql.c */

double pz__store_now(void);
/* The one place SQLite codes become pz codes; 'err' gets the message of
 * the connection (call before any rollback, which would reset it). */
int pz__store_fail(const pz_store *s, int rc, pz_error *err);
/* A failure 'rc' caused by what the file holds (a stored space, trial
 * or parameters that do not parse), once pz__fail_context ('ctx', its
 * result) put the context before the message: PZ_ESTORE, whatever code
 * the parser reported, except that out of memory stays PZ_ENOMEM. */
int pz__store_stored_fail(pz_error *err, int rc, int ctx);
/* A reset statement with no bindings. */
sqlite3_stmt *pz__store_stmt(pz_store *s, int which);
/* Step a statement that returns no rows (or whose rows are ignored). */
int pz__store_step_done(pz_store *s, sqlite3_stmt *q, pz_error *err);
/* Bind helpers: NaN is NULL, text and blobs are static (the statement is
 * stepped and reset before the caller's buffers change). */
void pz__store_bind_real(sqlite3_stmt *q, int i, double v);
void pz__store_bind_text(sqlite3_stmt *q, int i, const char *text);
void pz__store_bind_blob(sqlite3_stmt *q, int i, const char *p, size_t n);
double pz__store_col_real(sqlite3_stmt *q, int i);
const char *pz__store_col_text(sqlite3_stmt *q, int i);
char *pz__store_dup_text(sqlite3_stmt *q, int i);
int pz__store_begin_write(pz_store *s, pz_error *err);
int pz__store_begin_read(pz_store *s, pz_error *err);
/* Commit if 'rc' is PZ_OK, else roll back; returns the outcome. */
int pz__store_end_txn(pz_store *s, int rc, pz_error *err);
/* The change number of the open write transaction, taken on first use. */
int pz__store_txn_seq(pz_store *s, int64_t *seq, pz_error *err);
int pz__store_note_change(pz_store *s, int64_t id, pz_trial_state state,
                          double loss, bool added, pz_error *err);
int pz__store_prepare_all(pz_store *s, pz_error *err);

/* ---------------------------------------------- store_schema.c */

int pz__store_open_db(pz_store *s, unsigned flags, pz_error *err);
int pz__store_migrate(pz_store *s, pz_error *err);

/* ----------------------------------------------- store_owner.c */

void pz__store_owner_init(pz_store *s);
/* Why a RUNNING trial owned by (host, pid, start, lease) is lost, or
 * NULL-equivalent (false) when its owner may still run it. */
bool pz__store_lost_reason(const pz_store *s, const char *host, int64_t pid,
                           int64_t start, double lease, char *why, size_t n);
/* Mark what this handle still runs as CANCEL: nobody will tell it. */
void pz__store_abandon_running(pz_store *s);
/* Inside a write txn: mark lost trials CANCEL. */
int pz__store_mark_lost_rows(pz_store *s, size_t *n_marked, pz_error *err);

/* ----------------------------------------------- store_study.c */

void pz__store_binding_fini(binding *b);
int pz__store_stopped(int rc, pz_error *err);

/* --------------------------------------------- store_records.c */

/* Walk statement 'which' (bound to the study and, if not PZ_NO_TRIAL,
 * to 'id') in a read transaction. */
int pz__store_walk(pz_store *s, int which, int64_t id, pz_trial_record_fn fn,
                   void *ud, size_t *n, pz_error *err);

/* ------------------------------------------------ store_sync.c */

/* Free text from json_dumps with jansson's own free function: the
 * embedding program may have set its allocators (json_set_alloc_funcs). */
void pz__store_json_text_free(char *s);
/* {label: value} of the active parameters (NaN is inactive), compact;
 * transferred (pz__free_str). */
int pz__store_params_to_json(const pz_space *sp, const double *values,
                             char **out, pz_error *err);
/* Parse stored params into 'values' (NaN where absent). */
int pz__store_params_from_json(const pz_space *sp, int64_t id, const char *text,
                               double *values, pz_error *err);
/* After a commit: the transaction's own changes, then its seq. */
int pz__store_apply_changes(pz_store *s, const double *values, pz_error *err);
int pz__store_need_study(const pz_store *s, pz_error *err);
int pz__store_sync_reports(pz_store *s, binding *b, pz_error *err);
/* Apply every row changed after 'b->seq', in commit order, then the
 * reports stored after 'b->report_seq'. */
int pz__store_sync_rows(pz_store *s, binding *b, pz_error *err);
/* ----------------------------------------------------- store.c */

int pz__store_claim(pz_store *s, int64_t id, int64_t seq, pz_error *err);

#endif /* PZ_STORE_INTERNAL_H */
