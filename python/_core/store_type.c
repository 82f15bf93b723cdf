/*
 * store_type.c -- parzen._core.Store: a durable trial store (pz_store).
 *
 * One Store object owns one pz_store handle: a SQLite file holding any
 * number of studies by name (docs/cli.md, "The store file"). A handle is
 * used by one thread at a time (parzen.h), so each Store carries a lock
 * that every method takes; every call that touches the file (a commit, a
 * read, a wait on another process's lock of up to 30 s) runs with the GIL
 * released. Walks over the stored trials re-acquire the GIL in their
 * callback to build one dict per record.
 *
 * Records are dicts: id, state, loss (None when none), status, values (a
 * tuple, NaN where inactive), point_json, params_json, result_json,
 * error, queued_at, started_at, finished_at (Unix seconds or None),
 * owner_host, owner_pid, lease_until, owner_gone, attempts, stdout and
 * stderr (bytes or None; only get_trial() and best() read them).
 */
#include "binding.h"

#include <math.h>
#include <pythread.h>
#include <string.h>
#include <unistd.h>

typedef struct pz_py_store {
    PyObject_HEAD pz_store *store; /* NULL once closed */
    PyThread_type_lock lock;       /* serializes every use of 'store' */
    PyObject *path;                /* the path as given (str or bytes) */
    size_t n_params;               /* of the current study; 0: none yet */
    pid_t pid;                     /* the process that opened it */
} pz_py_store;

#define SELF(o) ((pz_py_store *)(o))

static void store_lock(pz_py_store *self)
{
    if (!PyThread_acquire_lock(self->lock, NOWAIT_LOCK)) {
        Py_BEGIN_ALLOW_THREADS PyThread_acquire_lock(self->lock, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
}

static void store_unlock(pz_py_store *self)
{
    PyThread_release_lock(self->lock);
}

/* Lock and return the handle; on a closed Store (ValueError) or in a
 * forked child (RuntimeError: the handle, its SQLite connection and the
 * trials it owns belong to the parent) unlock, raise and return NULL. */
static pz_store *acquire(PyObject *self)
{
    store_lock(SELF(self));
    if (SELF(self)->store == NULL) {
        store_unlock(SELF(self));
        PyErr_SetString(PyExc_ValueError, "operation on a closed Store");
        return NULL;
    }
    if (SELF(self)->pid != getpid()) {
        store_unlock(SELF(self));
        PyErr_SetString(PyExc_RuntimeError,
                        "a Store cannot be used in a forked child process: "
                        "open the file again there");
        return NULL;
    }
    return SELF(self)->store;
}

static PyObject *raise_err(PyObject *self, const pz_error *err)
{
    return pz_py_raise(pz_py_state_of_type(Py_TYPE(self)), err);
}

/* The outcome of a call that returns nothing. */
static PyObject *none_or_raise(PyObject *self, int rc, const pz_error *err)
{
    if (rc != PZ_OK) {
        return raise_err(self, err);
    }
    Py_RETURN_NONE;
}

/* ----------------------------------------------------------- lifecycle */

static PyObject *store_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"path", "create", NULL};
    PyObject *path = NULL, *fs = NULL;
    int create = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|p:Store", kwlist, &path,
                                     &create) ||
        !PyUnicode_FSConverter(path, &fs)) {
        return NULL;
    }
    PyThread_type_lock lock = PyThread_allocate_lock();
    pz_py_store *self = lock ? PyObject_GC_New(pz_py_store, type) : NULL;
    if (self == NULL) {
        if (lock != NULL) {
            PyThread_free_lock(lock);
        }
        Py_DECREF(fs);
        return lock ? NULL : PyErr_NoMemory();
    }
    self->store = NULL;
    self->lock = lock;
    self->path = Py_NewRef(path);
    self->n_params = 0;
    self->pid = getpid();
    PyObject_GC_Track(self);
    pz_error err = {0};
    int rc;
    const char *p = PyBytes_AS_STRING(fs);
    Py_BEGIN_ALLOW_THREADS rc =
        pz_store_open(&self->store, p, create ? PZ_STORE_CREATE : 0u, &err);
    Py_END_ALLOW_THREADS Py_DECREF(fs);
    if (rc != PZ_OK) {
        raise_err((PyObject *)self, &err);
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static int store_traverse(PyObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(SELF(self)->path);
    return 0;
}

static int store_clear_refs(PyObject *self)
{
    Py_CLEAR(SELF(self)->path);
    return 0;
}

/* Close the handle (marks trials it started and never told CANCEL). In
 * a forked child the handle is dropped without closing: closing would
 * mark the parent's running trials abandoned. */
static void close_handle(pz_py_store *self)
{
    pz_store *s = self->store;
    self->store = NULL;
    if (s != NULL && self->pid == getpid()) {
        Py_BEGIN_ALLOW_THREADS pz_store_close(s);
        Py_END_ALLOW_THREADS
    }
}

static void store_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    close_handle(SELF(self));
    (void)store_clear_refs(self);
    if (SELF(self)->lock != NULL) {
        PyThread_free_lock(SELF(self)->lock);
    }
    tp->tp_free(self);
    Py_DECREF(tp);
}

PyDoc_STRVAR(close_doc,
             "close()\n--\n\n"
             "Close the file. Trials this handle started and never told are\n"
             "marked CANCEL ('abandoned'). Closing twice is a no-op.");

static PyObject *store_close(PyObject *self, PyObject *noargs)
{
    (void)noargs;
    store_lock(SELF(self));
    close_handle(SELF(self));
    store_unlock(SELF(self));
    Py_RETURN_NONE;
}

static PyObject *store_enter(PyObject *self, PyObject *noargs)
{
    (void)noargs;
    return Py_NewRef(self);
}

static PyObject *store_exit(PyObject *self, PyObject *args)
{
    (void)args;
    return store_close(self, NULL);
}

/* -------------------------------------------------------------- studies */

/* The settings of the current study as a dict; call with the lock. */
static PyObject *info_dict(PyObject *self, pz_store *s)
{
    pz_store_study_info info;
    pz_error err = {0};
    if (pz_store_study_info_get(s, &info, &err) != PZ_OK) {
        return raise_err(self, &err);
    }
    return Py_BuildValue(
        "{s:s,s:s,s:s,s:s,s:K,s:d,s:O}", "name", info.name, "space_json",
        info.space_json, "sampler", info.sampler, "options_json",
        info.options_json, "seed", (unsigned long long)info.seed, "created_at",
        info.created_at, "created_now", info.created_now ? Py_True : Py_False);
}

PyDoc_STRVAR(
    open_study_doc,
    "open_study(name, space=None, sampler='tpe', seed=0,\n"
    "           options_json=None, sampler_default=False,\n"
    "           seed_default=False)\n--\n\n"
    "Make study 'name' current and load it; returns its settings (a dict:\n"
    "name, space_json, sampler, options_json, seed, created_at,\n"
    "created_now). 'space' is a Space (used as parsed: no text is read\n"
    "when the stored space is in canonical form) or the space's JSON\n"
    "text. With a space the study is created if missing, else its space\n"
    "(and sampler, options, seed unless flagged as defaults) must match:\n"
    "InvalidArgumentError names what differs. Without it the study must\n"
    "exist (NotFoundError). space() gives the study's space.");

/* 'space' of open_study into the config: a private copy of a Space (the
 * call runs without the GIL, and a Space may change meanwhile), or its
 * JSON text. 0, or -1 with an exception set. */
static int config_space(PyObject *self, PyObject *space, pz_study_config *cfg,
                        pz_space **copy)
{
    pz_py_state *st = pz_py_state_of_type(Py_TYPE(self));
    *copy = NULL;
    if (space == Py_None) {
        return 0;
    }
    if (PyUnicode_Check(space)) {
        cfg->space_json = PyUnicode_AsUTF8(space);
        return cfg->space_json != NULL ? 0 : -1;
    }
    if (!PyObject_TypeCheck(space, st->SpaceType)) {
        PyErr_Format(PyExc_TypeError,
                     "open_study: space must be a Space, JSON text or "
                     "None, not %.100s",
                     Py_TYPE(space)->tp_name);
        return -1;
    }
    pz_error err = {0};
    if (pz_space_copy(copy, ((pz_py_space *)space)->space, &err) != PZ_OK) {
        pz_py_raise(st, &err);
        return -1;
    }
    cfg->space = *copy;
    return 0;
}

static PyObject *store_open_study(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {
        "name",         "space",           "sampler",      "seed",
        "options_json", "sampler_default", "seed_default", NULL};
    const char *name = NULL, *sampler = "tpe", *options = NULL;
    PyObject *space = Py_None;
    unsigned long long seed = 0;
    int dsampler = 0, dseed = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|OsKzpp:open_study", kwlist,
                                     &name, &space, &sampler, &seed, &options,
                                     &dsampler, &dseed)) {
        return NULL;
    }
    pz_study_config cfg = {.sampler = sampler,
                           .options_json = options,
                           .seed = (uint64_t)seed,
                           .flags = (dsampler ? PZ_STUDY_DEFAULT_SAMPLER : 0u) |
                                    (dseed ? PZ_STUDY_DEFAULT_SEED : 0u)};
    pz_space *copy = NULL;
    if (config_space(self, space, &cfg, &copy) != 0) {
        return NULL;
    }
    pz_store *s = acquire(self);
    if (s == NULL) {
        pz_space_free(copy);
        return NULL;
    }
    pz_error err = {0};
    int rc;
    int given = space != Py_None;
    Py_BEGIN_ALLOW_THREADS rc =
        pz_store_open_study(s, name, given ? &cfg : NULL, &err);
    Py_END_ALLOW_THREADS pz_space_free(copy);
    PyObject *out = NULL;
    if (rc == PZ_OK) {
        SELF(self)->n_params = pz_space_size(pz_study_space(pz_store_study(s)));
        out = info_dict(self, s);
    } else {
        raise_err(self, &err);
    }
    store_unlock(SELF(self));
    return out;
}

PyDoc_STRVAR(space_doc,
             "space()\n--\n\n"
             "A copy of the current study's space, as the store holds it\n"
             "(its parameter order is the store's); InvalidArgumentError\n"
             "before any open_study.");

static PyObject *store_space(PyObject *self, PyObject *noargs)
{
    (void)noargs;
    pz_store *s = acquire(self);
    if (s == NULL) {
        return NULL;
    }
    pz_store_study_info info; /* its error names the missing study */
    pz_space *copy = NULL;
    pz_error err = {0};
    int rc = pz_store_study_info_get(s, &info, &err);
    if (rc == PZ_OK) {
        rc = pz_space_copy(&copy, pz_study_space(pz_store_study(s)), &err);
    }
    store_unlock(SELF(self));
    if (rc != PZ_OK) {
        return raise_err(self, &err);
    }
    return pz_py_space_wrap(pz_py_state_of_type(Py_TYPE(self)), copy);
}

PyDoc_STRVAR(info_doc, "info()\n--\n\n"
                       "The settings of the current study (see open_study);\n"
                       "InvalidArgumentError before any open_study.");

static PyObject *store_info(PyObject *self, PyObject *noargs)
{
    (void)noargs;
    pz_store *s = acquire(self);
    if (s == NULL) {
        return NULL;
    }
    PyObject *out = info_dict(self, s);
    store_unlock(SELF(self));
    return out;
}

static int collect_study(const pz_store_study_summary *sum, void *ud)
{
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *d = Py_BuildValue(
        "{s:s,s:s,s:K,s:d,s:(nnnnnn),s:d}", "name", sum->name, "sampler",
        sum->sampler, "seed", (unsigned long long)sum->seed, "created_at",
        sum->created_at, "n_state", (Py_ssize_t)sum->n_state[0],
        (Py_ssize_t)sum->n_state[1], (Py_ssize_t)sum->n_state[2],
        (Py_ssize_t)sum->n_state[3], (Py_ssize_t)sum->n_state[4],
        (Py_ssize_t)sum->n_state[5], "best_loss", sum->best_loss);
    int rc = d != NULL && PyList_Append((PyObject *)ud, d) == 0 ? 0 : 1;
    Py_XDECREF(d);
    PyGILState_Release(g);
    return rc;
}

PyDoc_STRVAR(studies_doc,
             "studies()\n--\n\n"
             "Every study of the file by name, as dicts: name, sampler, seed,\n"
             "created_at, n_state (trials per JOB_STATE_*), best_loss (NaN:\n"
             "none).");

static PyObject *store_studies(PyObject *self, PyObject *noargs)
{
    (void)noargs;
    PyObject *list = PyList_New(0);
    pz_store *s = list ? acquire(self) : NULL;
    if (s == NULL) {
        Py_XDECREF(list);
        return NULL;
    }
    pz_error err = {0};
    int rc;
    Py_BEGIN_ALLOW_THREADS rc =
        pz_store_each_study(s, collect_study, list, &err);
    Py_END_ALLOW_THREADS store_unlock(SELF(self));
    if (rc != PZ_OK) {
        Py_DECREF(list);
        return PyErr_Occurred() ? NULL : raise_err(self, &err);
    }
    return list;
}

/* ---------------------------------------------------------- ask / tell */

static PyObject *values_tuple(const double *v, size_t n)
{
    PyObject *t = PyTuple_New((Py_ssize_t)n);
    for (size_t i = 0; t != NULL && i < n; i++) {
        PyObject *f = PyFloat_FromDouble(v[i]);
        if (f == NULL) {
            Py_CLEAR(t);
            break;
        }
        PyTuple_SET_ITEM(t, (Py_ssize_t)i, f);
    }
    return t;
}

/* A scratch row for the current study (PyMem; MemoryError on NULL). */
static double *new_row(size_t n)
{
    double *v = PyMem_New(double, n ? n : 1);
    if (v == NULL) {
        PyErr_NoMemory();
    }
    return v;
}

PyDoc_STRVAR(ask_doc,
             "ask(max_trials=0, retry_lost=False)\n--\n\n"
             "Start a trial in one transaction (pz_store_ask): a queued one,\n"
             "with retry_lost a CANCEL one, else a new point from the study's\n"
             "sampler. Returns (trial_id, values), or None when max_trials\n"
             "(> 0) RUNNING, DONE and ERROR trials exist already.");

static PyObject *store_ask(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"max_trials", "retry_lost", NULL};
    Py_ssize_t max_trials = 0;
    int retry = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|np:ask", kwlist, &max_trials,
                                     &retry)) {
        return NULL;
    }
    if (max_trials < 0) {
        PyErr_SetString(PyExc_ValueError, "max_trials must be >= 0");
        return NULL;
    }
    pz_store *s = acquire(self);
    double *v = s ? new_row(SELF(self)->n_params) : NULL;
    if (v == NULL) {
        if (s != NULL) {
            store_unlock(SELF(self));
        }
        return NULL;
    }
    pz_error err = {0};
    int64_t tid = PZ_NO_TRIAL;
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = pz_store_ask(
        s, (size_t)max_trials, retry ? PZ_ASK_RETRY_LOST : 0u, &tid, v, &err);
    Py_END_ALLOW_THREADS PyObject *out = NULL;
    if (rc != PZ_OK) {
        raise_err(self, &err);
    } else if (tid == PZ_NO_TRIAL) {
        out = Py_NewRef(Py_None);
    } else {
        out = Py_BuildValue("(LN)", (long long)tid,
                            values_tuple(v, SELF(self)->n_params));
    }
    store_unlock(SELF(self));
    PyMem_Free(v);
    return out;
}

PyDoc_STRVAR(add_doc,
             "add(values, /)\n--\n\n"
             "Queue a point (one float per parameter, NaN where inactive) as\n"
             "a NEW trial with the next id, in one transaction; returns the\n"
             "id. InvalidArgumentError names a value outside its support.");

static PyObject *store_add(PyObject *self, PyObject *seq)
{
    pz_store *s = acquire(self);
    double *v = s ? new_row(SELF(self)->n_params) : NULL;
    if (v == NULL || pz_py_doubles(seq, v, SELF(self)->n_params, "add") < 0) {
        if (s != NULL) {
            store_unlock(SELF(self));
        }
        PyMem_Free(v);
        return NULL;
    }
    pz_error err = {0};
    int64_t tid = PZ_NO_TRIAL;
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = pz_store_add(s, v, &tid, &err);
    Py_END_ALLOW_THREADS store_unlock(SELF(self));
    PyMem_Free(v);
    if (rc != PZ_OK) {
        return raise_err(self, &err);
    }
    return PyLong_FromLongLong((long long)tid);
}

PyDoc_STRVAR(start_doc,
             "start(trial_id, /)\n--\n\n"
             "Start the queued (NEW) or CANCEL trial 'trial_id': stored\n"
             "RUNNING, owned by this handle, in one transaction.\n"
             "NotFoundError for an unknown id, InvalidArgumentError when it\n"
             "is RUNNING, DONE or ERROR.");

static PyObject *store_start(PyObject *self, PyObject *arg)
{
    long long tid = PyLong_AsLongLong(arg);
    if (tid == -1 && PyErr_Occurred()) {
        return NULL;
    }
    pz_store *s = acquire(self);
    if (s == NULL) {
        return NULL;
    }
    pz_error err = {0};
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = pz_store_start(s, (int64_t)tid, &err);
    Py_END_ALLOW_THREADS store_unlock(SELF(self));
    return none_or_raise(self, rc, &err);
}

PyDoc_STRVAR(
    tell_doc,
    "tell(trial_id, state, loss=None, *, status=None, result_json=None,\n"
    "     error=None, stdout=None, stderr=None)\n--\n\n"
    "Record the outcome (state DONE, ERROR or CANCEL) of a trial in one\n"
    "transaction. loss None: no loss. status None: 'ok' if DONE else\n"
    "'fail'. The first outcome wins: a trial already DONE or ERROR keeps\n"
    "its result. stdout/stderr: captured output (bytes or str).");

static PyObject *store_tell(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"trial_id", "state",       "loss",
                             "status",   "result_json", "error",
                             "stdout",   "stderr",      NULL};
    long long tid = 0;
    int state = 0;
    PyObject *loss_obj = Py_None;
    pz_trial_result res = {0};
    Py_ssize_t nout = 0, nerr = 0;
    if (!PyArg_ParseTupleAndKeywords(
            args, kw, "Li|O$zzzz#z#:tell", kwlist, &tid, &state, &loss_obj,
            &res.status, &res.result_json, &res.error, &res.stdout_tail, &nout,
            &res.stderr_tail, &nerr)) {
        return NULL;
    }
    res.state = (pz_trial_state)state;
    res.loss = loss_obj == Py_None ? (double)NAN : PyFloat_AsDouble(loss_obj);
    if (res.loss == -1.0 && PyErr_Occurred()) {
        return NULL;
    }
    res.stdout_len = (size_t)nout;
    res.stderr_len = (size_t)nerr;
    pz_store *s = acquire(self);
    if (s == NULL) {
        return NULL;
    }
    pz_error err = {0};
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = pz_store_tell(s, (int64_t)tid, &res, &err);
    Py_END_ALLOW_THREADS store_unlock(SELF(self));
    return none_or_raise(self, rc, &err);
}

PyDoc_STRVAR(report_doc,
             "report(trial_id, step, value, /)\n--\n\n"
             "Store the trial's intermediate value at step (pz_store_report)\n"
             "and report it to the study. True when stored, False for a\n"
             "non-finite value (not stored: warn). InvalidArgumentError for a\n"
             "step that does not increase (naming the trial and both steps).");

static PyObject *store_report(PyObject *self, PyObject *args)
{
    long long tid = 0, step = 0;
    double value = 0.0;
    if (!PyArg_ParseTuple(args, "LLd:report", &tid, &step, &value)) {
        return NULL;
    }
    pz_store *s = acquire(self);
    if (s == NULL) {
        return NULL;
    }
    pz_error err = {0};
    int rc;
    Py_BEGIN_ALLOW_THREADS rc =
        pz_store_report(s, (int64_t)tid, (int64_t)step, value, &err);
    Py_END_ALLOW_THREADS store_unlock(SELF(self));
    if (rc < 0) {
        return none_or_raise(self, rc, &err);
    }
    return PyBool_FromLong(rc == PZ_OK);
}

PyDoc_STRVAR(sync_doc, "sync()\n--\n\n"
                       "Load the changes other handles made since the last "
                       "call.");

/* A store call that takes no argument and returns nothing, run with the
 * GIL released. */
static PyObject *call_store(PyObject *self, int (*fn)(pz_store *, pz_error *))
{
    pz_store *s = acquire(self);
    if (s == NULL) {
        return NULL;
    }
    pz_error err = {0};
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = fn(s, &err);
    Py_END_ALLOW_THREADS store_unlock(SELF(self));
    return none_or_raise(self, rc, &err);
}

static PyObject *store_sync(PyObject *self, PyObject *noargs)
{
    (void)noargs;
    return call_store(self, pz_store_sync);
}

PyDoc_STRVAR(mark_lost_doc,
             "mark_lost()\n--\n\n"
             "Mark RUNNING trials whose owner is gone CANCEL ('lost: ...');\n"
             "returns how many.");

static PyObject *store_mark_lost(PyObject *self, PyObject *noargs)
{
    (void)noargs;
    pz_store *s = acquire(self);
    if (s == NULL) {
        return NULL;
    }
    pz_error err = {0};
    size_t n = 0;
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = pz_store_mark_lost(s, &n, &err);
    Py_END_ALLOW_THREADS store_unlock(SELF(self));
    if (rc != PZ_OK) {
        return raise_err(self, &err);
    }
    return PyLong_FromSize_t(n);
}

PyDoc_STRVAR(set_lease_doc,
             "set_lease(seconds, /)\n--\n\n"
             "Lease of the trials this handle starts (default 60 s).");

static PyObject *store_set_lease(PyObject *self, PyObject *arg)
{
    double seconds = PyFloat_AsDouble(arg);
    if (seconds == -1.0 && PyErr_Occurred()) {
        return NULL;
    }
    if (!(seconds > 0) || !isfinite(seconds)) {
        PyErr_SetString(PyExc_ValueError, "lease must be > 0 seconds");
        return NULL;
    }
    pz_store *s = acquire(self);
    if (s == NULL) {
        return NULL;
    }
    pz_store_set_lease(s, seconds);
    store_unlock(SELF(self));
    Py_RETURN_NONE;
}

PyDoc_STRVAR(renew_doc, "renew()\n--\n\n"
                        "Extend the lease of every RUNNING trial this handle "
                        "owns.");

static PyObject *store_renew(PyObject *self, PyObject *noargs)
{
    (void)noargs;
    return call_store(self, pz_store_renew);
}

/* ------------------------------------------------------------- records */

/* Text from the file (invalid UTF-8, e.g. a command's stderr quoted in
 * an error, is replaced), or None. */
static PyObject *text(const char *s)
{
    if (s == NULL) {
        return Py_NewRef(Py_None);
    }
    return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "replace");
}

static PyObject *real(double v)
{
    return isnan(v) ? Py_NewRef(Py_None) : PyFloat_FromDouble(v);
}

static PyObject *blob(const char *p, size_t n)
{
    return p ? PyBytes_FromStringAndSize(p, (Py_ssize_t)n) : Py_NewRef(Py_None);
}

/* [(step, value), ...] of a record's reports. */
static PyObject *reports_list(const pz_trial_record *r)
{
    PyObject *out = PyList_New((Py_ssize_t)r->n_reports);
    for (size_t i = 0; out != NULL && i < r->n_reports; i++) {
        PyObject *t = Py_BuildValue("(Ld)", (long long)r->report_steps[i],
                                    r->report_values[i]);
        if (t == NULL) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, (Py_ssize_t)i, t);
    }
    return out;
}

static PyObject *record_dict(const pz_trial_record *r, size_t n_params)
{
    PyObject *d = Py_BuildValue(
        "{s:L,s:i,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:L,s:N,s:O,"
        "s:i,s:N,s:N}",
        "id", (long long)r->id, "state", (int)r->state, "loss", real(r->loss),
        "status", text(r->status), "values", values_tuple(r->values, n_params),
        "point_json", text(r->point_json), "params_json", text(r->params_json),
        "result_json", text(r->result_json), "error", text(r->error),
        "queued_at", real(r->queued_at), "started_at", real(r->started_at),
        "finished_at", real(r->finished_at), "owner_host", text(r->owner_host),
        "owner_pid", (long long)r->owner_pid, "lease_until",
        real(r->lease_until), "owner_gone", r->owner_gone ? Py_True : Py_False,
        "attempts", r->attempts, "stdout", blob(r->stdout_tail, r->stdout_len),
        "stderr", blob(r->stderr_tail, r->stderr_len));
    PyObject *reports = d ? reports_list(r) : NULL;
    if (reports == NULL ||
        PyDict_SetItemString(d, "intermediate_values", reports) < 0) {
        Py_CLEAR(d);
    }
    Py_XDECREF(reports);
    return d;
}

typedef struct walk_ctx {
    PyObject *list;
    size_t n_params;
} walk_ctx;

/* Walk callback: runs with the GIL released by the caller. */
static int collect_trial(const pz_trial_record *r, void *ud)
{
    walk_ctx *w = ud;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *d = record_dict(r, w->n_params);
    int rc = d != NULL && PyList_Append(w->list, d) == 0 ? 0 : 1;
    Py_XDECREF(d);
    PyGILState_Release(g);
    return rc;
}

enum { WALK_ALL, WALK_ONE, WALK_BEST };

/* Run walk 'which' (called with the GIL released). */
static int run_walk(pz_store *s, int which, int64_t tid, walk_ctx *w,
                    pz_error *err)
{
    if (which == WALK_ALL) {
        return pz_store_each_trial(s, collect_trial, w, err);
    }
    if (which == WALK_ONE) {
        return pz_store_get_trial(s, tid, collect_trial, w, err);
    }
    return pz_store_best(s, collect_trial, w, err);
}

/* The records of a walk as a list (NULL with an exception). */
static PyObject *walk(PyObject *self, int which, int64_t tid)
{
    walk_ctx w = {PyList_New(0), 0};
    pz_store *s = w.list ? acquire(self) : NULL;
    if (s == NULL) {
        Py_XDECREF(w.list);
        return NULL;
    }
    w.n_params = SELF(self)->n_params;
    pz_error err = {0};
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = run_walk(s, which, tid, &w, &err);
    Py_END_ALLOW_THREADS store_unlock(SELF(self));
    if (rc == PZ_ENOTFOUND && which == WALK_BEST) {
        return w.list; /* empty: no best trial */
    }
    if (rc != PZ_OK) {
        Py_DECREF(w.list);
        return PyErr_Occurred() ? NULL : raise_err(self, &err);
    }
    return w.list;
}

PyDoc_STRVAR(trials_doc,
             "trials()\n--\n\n"
             "Every trial of the current study, in id order, as record dicts\n"
             "(a consistent snapshot read from the file; stdout/stderr None).");

static PyObject *store_trials(PyObject *self, PyObject *noargs)
{
    (void)noargs;
    return walk(self, WALK_ALL, PZ_NO_TRIAL);
}

/* The single record of a one-row walk, or None when there is none. */
static PyObject *single(PyObject *list)
{
    if (list == NULL) {
        return NULL;
    }
    PyObject *out =
        PyList_GET_SIZE(list) > 0 ? PyList_GET_ITEM(list, 0) : Py_None;
    Py_INCREF(out);
    Py_DECREF(list);
    return out;
}

PyDoc_STRVAR(get_trial_doc,
             "get_trial(trial_id, /)\n--\n\n"
             "One trial as a record dict, with its kept stdout/stderr.\n"
             "NotFoundError when the study has no such trial.");

static PyObject *store_get_trial(PyObject *self, PyObject *arg)
{
    long long tid = PyLong_AsLongLong(arg);
    if (tid == -1 && PyErr_Occurred()) {
        return NULL;
    }
    return single(walk(self, WALK_ONE, (int64_t)tid));
}

PyDoc_STRVAR(best_doc,
             "best()\n--\n\n"
             "The DONE trial with status 'ok' and the smallest loss (lowest\n"
             "id on ties) as a record dict, or None.");

static PyObject *store_best(PyObject *self, PyObject *noargs)
{
    (void)noargs;
    return single(walk(self, WALK_BEST, PZ_NO_TRIAL));
}

PyDoc_STRVAR(count_doc,
             "count(state, /)\n--\n\n"
             "Trials of the current study in a JOB_STATE_* state, as the\n"
             "handle last loaded them (see sync).");

static PyObject *store_count(PyObject *self, PyObject *arg)
{
    long state = PyLong_AsLong(arg);
    if (state == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (state < PZ_TRIAL_NEW || state >= PZ_TRIAL_STATE_COUNT) {
        PyErr_Format(PyExc_ValueError,
                     "state must be a JOB_STATE_* value in 0..4, got %ld",
                     state);
        return NULL;
    }
    pz_store *s = acquire(self);
    if (s == NULL) {
        return NULL;
    }
    pz_study *study = pz_store_study(s);
    size_t n = study ? pz_study_count(study, (pz_trial_state)state) : 0;
    store_unlock(SELF(self));
    return PyLong_FromSize_t(n);
}

/* -------------------------------------------------------------- getset */

static PyObject *store_get_path(PyObject *self, void *closure)
{
    (void)closure;
    return Py_NewRef(SELF(self)->path);
}

static PyObject *store_get_closed(PyObject *self, void *closure)
{
    (void)closure;
    store_lock(SELF(self));
    int closed = SELF(self)->store == NULL;
    store_unlock(SELF(self));
    return PyBool_FromLong(closed);
}

static PyObject *store_get_n_params(PyObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromSize_t(SELF(self)->n_params);
}

static PyMethodDef store_methods[] = {
    {"open_study", (PyCFunction)(void (*)(void))store_open_study,
     METH_VARARGS | METH_KEYWORDS, open_study_doc},
    {"info", store_info, METH_NOARGS, info_doc},
    {"space", store_space, METH_NOARGS, space_doc},
    {"studies", store_studies, METH_NOARGS, studies_doc},
    {"ask", (PyCFunction)(void (*)(void))store_ask,
     METH_VARARGS | METH_KEYWORDS, ask_doc},
    {"add", store_add, METH_O, add_doc},
    {"start", store_start, METH_O, start_doc},
    {"report", store_report, METH_VARARGS, report_doc},
    {"tell", (PyCFunction)(void (*)(void))store_tell,
     METH_VARARGS | METH_KEYWORDS, tell_doc},
    {"sync", store_sync, METH_NOARGS, sync_doc},
    {"mark_lost", store_mark_lost, METH_NOARGS, mark_lost_doc},
    {"set_lease", store_set_lease, METH_O, set_lease_doc},
    {"renew", store_renew, METH_NOARGS, renew_doc},
    {"trials", store_trials, METH_NOARGS, trials_doc},
    {"get_trial", store_get_trial, METH_O, get_trial_doc},
    {"best", store_best, METH_NOARGS, best_doc},
    {"count", store_count, METH_O, count_doc},
    {"close", store_close, METH_NOARGS, close_doc},
    {"__enter__", store_enter, METH_NOARGS, NULL},
    {"__exit__", store_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef store_getset[] = {
    {"path", store_get_path, NULL, "The path given to Store().", NULL},
    {"closed", store_get_closed, NULL, "True once close() ran.", NULL},
    {"n_params", store_get_n_params, NULL,
     "Parameters of the current study's space (0 before open_study).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyDoc_STRVAR(store_doc,
             "Store(path, create=True)\n--\n\n"
             "Open the trial store file 'path' (created, with the umask, if\n"
             "missing and create is true). StorageError (an OSError) naming\n"
             "the file when it is missing, not a parzen store, corrupt, from\n"
             "a newer parzen, or locked past the busy timeout. A context\n"
             "manager: leaving the block closes it. Not usable in a forked\n"
             "child (RuntimeError): open the file again there.");

static PyType_Slot store_slots[] = {
    {Py_tp_new, (void *)store_new},
    {Py_tp_dealloc, (void *)store_dealloc},
    {Py_tp_traverse, (void *)store_traverse},
    {Py_tp_clear, (void *)store_clear_refs},
    {Py_tp_methods, store_methods},
    {Py_tp_getset, store_getset},
    {Py_tp_doc, (void *)store_doc},
    {0, NULL},
};

static PyType_Spec store_spec = {
    .name = "parzen._core.Store",
    .basicsize = sizeof(pz_py_store),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = store_slots,
};

int pz_py_store_type_init(PyObject *m, pz_py_state *st)
{
    return pz_py_add_type(m, &store_spec, &st->StoreType);
}
