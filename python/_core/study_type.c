/*
 * study_type.c -- parzen._core.Study: ask/tell over a pz_study.
 *
 * A pz_study is used by one thread at a time (parzen.h), so each Study
 * object carries a lock: every method takes it, and suggest/ask -- the
 * only calls that do real work (a TPE proposal reads the whole history)
 * -- release the GIL while they run. Trial ids are int64, seeds uint64,
 * states the hyperopt JOB_STATE_* numbers, values one double per
 * parameter (NaN where inactive).
 */
#include "binding.h"

#include <math.h>
#include <pythread.h>

typedef struct pz_py_study {
    PyObject_HEAD pz_study *study;
    PyThread_type_lock lock; /* serializes every use of 'study' */
    PyObject *space;         /* the Space it was opened on (strong ref) */
    size_t n_params;
} pz_py_study;

#define SELF(o) ((pz_py_study *)(o))

/* Take the study's lock, waiting with the GIL released if another
 * thread holds it (the pattern of CPython's _bz2 module). */
static void study_lock(pz_py_study *self)
{
    if (!PyThread_acquire_lock(self->lock, NOWAIT_LOCK)) {
        Py_BEGIN_ALLOW_THREADS PyThread_acquire_lock(self->lock, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
}

static void study_unlock(pz_py_study *self)
{
    PyThread_release_lock(self->lock);
}

static PyObject *raise_err(PyObject *self, const pz_error *err)
{
    return pz_py_raise(pz_py_state_of_type(Py_TYPE(self)), err);
}

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

static PyObject *study_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"space", NULL};
    pz_py_state *st = pz_py_state_of_type(type);
    PyObject *space = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!:Study", kwlist,
                                     st->SpaceType, &space)) {
        return NULL;
    }
    pz_error err = {0};
    pz_study *study = NULL;
    if (pz_study_new(&study, ((pz_py_space *)space)->space, &err) != PZ_OK) {
        return pz_py_raise(st, &err);
    }
    PyThread_type_lock lock = PyThread_allocate_lock();
    if (lock == NULL) {
        pz_study_free(study);
        return PyErr_NoMemory();
    }
    pz_py_study *self = PyObject_GC_New(pz_py_study, type);
    if (self == NULL) {
        PyThread_free_lock(lock);
        pz_study_free(study);
        return NULL;
    }
    self->study = study;
    self->lock = lock;
    self->space = Py_NewRef(space);
    self->n_params = pz_space_size(pz_study_space(study));
    PyObject_GC_Track(self);
    return (PyObject *)self;
}

static int study_traverse(PyObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(SELF(self)->space);
    return 0;
}

static int study_clear_refs(PyObject *self)
{
    Py_CLEAR(SELF(self)->space);
    return 0;
}

static void study_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    (void)study_clear_refs(self);
    pz_study_free(SELF(self)->study);
    if (SELF(self)->lock != NULL) {
        PyThread_free_lock(SELF(self)->lock);
    }
    tp->tp_free(self);
    Py_DECREF(tp);
}

PyDoc_STRVAR(set_seed_doc, "set_seed(seed, /)\n--\n\n"
                           "Seed every trial's random stream (an int; taken "
                           "modulo 2**64).");

static PyObject *study_set_seed(PyObject *self, PyObject *arg)
{
    unsigned long long seed = PyLong_AsUnsignedLongLongMask(arg);
    if (seed == (unsigned long long)-1 && PyErr_Occurred()) {
        return NULL;
    }
    study_lock(SELF(self));
    pz_study_set_seed(SELF(self)->study, (uint64_t)seed);
    study_unlock(SELF(self));
    Py_RETURN_NONE;
}

PyDoc_STRVAR(set_sampler_doc,
             "set_sampler(name, /)\n--\n\n"
             "Choose the sampler: 'random' ('rand'), 'tpe', 'anneal', 'mix'.\n"
             "Resets its options; InvalidArgumentError for an unknown name.");

static PyObject *study_set_sampler(PyObject *self, PyObject *arg)
{
    const char *name = PyUnicode_AsUTF8(arg);
    if (name == NULL) {
        return NULL;
    }
    pz_error err = {0};
    study_lock(SELF(self));
    int rc = pz_study_set_sampler(SELF(self)->study, name, &err);
    study_unlock(SELF(self));
    if (rc != PZ_OK) {
        return raise_err(self, &err);
    }
    Py_RETURN_NONE;
}

static PyObject *study_get_sampler(PyObject *self, void *closure)
{
    (void)closure;
    study_lock(SELF(self));
    const char *name = pz_study_sampler(SELF(self)->study);
    study_unlock(SELF(self));
    return PyUnicode_FromString(name);
}

PyDoc_STRVAR(set_option_doc, "set_option(key, value, /)\n--\n\n"
                             "Set a sampler option, e.g. ('tpe.gamma', 0.25).");

static PyObject *study_set_option(PyObject *self, PyObject *args)
{
    const char *key = NULL;
    double value = 0.0;
    if (!PyArg_ParseTuple(args, "sd:set_option", &key, &value)) {
        return NULL;
    }
    pz_error err = {0};
    study_lock(SELF(self));
    int rc = pz_study_set_option(SELF(self)->study, key, value, &err);
    study_unlock(SELF(self));
    if (rc != PZ_OK) {
        return raise_err(self, &err);
    }
    Py_RETURN_NONE;
}

/* A scratch row of n_params doubles (PyMem); NULL with MemoryError. */
static double *new_row(pz_py_study *self)
{
    double *v = PyMem_New(double, self->n_params ? self->n_params : 1);
    if (v == NULL) {
        PyErr_NoMemory();
    }
    return v;
}

PyDoc_STRVAR(suggest_doc,
             "suggest(trial_id, seed, /)\n--\n\n"
             "Propose a point from the history without recording it, drawing\n"
             "from the stream (seed, trial_id). Returns a tuple of floats\n"
             "(NaN for inactive parameters). Releases the GIL.");

static PyObject *study_suggest(PyObject *self, PyObject *args)
{
    long long tid = 0;
    unsigned long long seed = 0;
    if (!PyArg_ParseTuple(args, "LK:suggest", &tid, &seed)) {
        return NULL;
    }
    double *v = new_row(SELF(self));
    if (v == NULL) {
        return NULL;
    }
    pz_error err = {0};
    int rc;
    study_lock(SELF(self));
    Py_BEGIN_ALLOW_THREADS rc = pz_study_suggest(
        SELF(self)->study, (int64_t)tid, (uint64_t)seed, v, &err);
    Py_END_ALLOW_THREADS study_unlock(SELF(self));
    PyObject *out = rc == PZ_OK ? values_tuple(v, SELF(self)->n_params)
                                : raise_err(self, &err);
    PyMem_Free(v);
    return out;
}

PyDoc_STRVAR(ask_doc, "ask()\n--\n\n"
                      "Propose and record a new RUNNING trial; returns\n"
                      "(trial_id, values). Releases the GIL.");

static PyObject *study_ask(PyObject *self, PyObject *noargs)
{
    (void)noargs;
    double *v = new_row(SELF(self));
    if (v == NULL) {
        return NULL;
    }
    pz_error err = {0};
    int64_t tid = 0;
    int rc;
    study_lock(SELF(self));
    Py_BEGIN_ALLOW_THREADS rc = pz_study_ask(SELF(self)->study, &tid, v, &err);
    Py_END_ALLOW_THREADS study_unlock(SELF(self));
    PyObject *out = NULL;
    if (rc == PZ_OK) {
        out = Py_BuildValue("(LN)", (long long)tid,
                            values_tuple(v, SELF(self)->n_params));
    } else {
        raise_err(self, &err);
    }
    PyMem_Free(v);
    return out;
}

static int state_arg(int state)
{
    if (state < PZ_TRIAL_NEW || state >= PZ_TRIAL_STATE_COUNT) {
        PyErr_Format(PyExc_ValueError,
                     "state must be a JOB_STATE_* value in 0..4 or "
                     "STATE_PRUNED (5), got %d",
                     state);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(add_doc,
             "add(trial_id, values, state, loss, /)\n--\n\n"
             "Record a trial whose point was made elsewhere. 'loss' is the\n"
             "loss of a DONE trial, inf for 'no loss'; NaN is kept but\n"
             "ignored by samplers. InvalidArgumentError if the id exists or a\n"
             "value is outside its distribution (the message names it).");

static PyObject *study_add(PyObject *self, PyObject *args)
{
    long long tid = 0;
    PyObject *seq = NULL;
    int state = 0;
    double loss = 0.0;
    if (!PyArg_ParseTuple(args, "LOid:add", &tid, &seq, &state, &loss) ||
        state_arg(state) < 0) {
        return NULL;
    }
    double *v = new_row(SELF(self));
    if (v == NULL) {
        return NULL;
    }
    if (pz_py_doubles(seq, v, SELF(self)->n_params, "add") < 0) {
        PyMem_Free(v);
        return NULL;
    }
    pz_error err = {0};
    study_lock(SELF(self));
    int rc = pz_study_add(SELF(self)->study, (int64_t)tid, v,
                          (pz_trial_state)state, loss, &err);
    study_unlock(SELF(self));
    PyMem_Free(v);
    if (rc != PZ_OK) {
        return raise_err(self, &err);
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(tell_doc, "tell(trial_id, state, loss, /)\n--\n\n"
                       "Record the state and loss of a trial (overwrites).");

static PyObject *study_tell(PyObject *self, PyObject *args)
{
    long long tid = 0;
    int state = 0;
    double loss = 0.0;
    if (!PyArg_ParseTuple(args, "Lid:tell", &tid, &state, &loss) ||
        state_arg(state) < 0) {
        return NULL;
    }
    pz_error err = {0};
    study_lock(SELF(self));
    int rc = pz_study_tell(SELF(self)->study, (int64_t)tid,
                           (pz_trial_state)state, loss, &err);
    study_unlock(SELF(self));
    if (rc != PZ_OK) {
        return raise_err(self, &err);
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(clear_doc, "clear()\n--\n\nRemove every trial.");

static PyObject *study_clear(PyObject *self, PyObject *noargs)
{
    (void)noargs;
    study_lock(SELF(self));
    pz_study_clear(SELF(self)->study);
    study_unlock(SELF(self));
    Py_RETURN_NONE;
}

static Py_ssize_t study_len(PyObject *self)
{
    study_lock(SELF(self));
    size_t n = pz_study_n_trials(SELF(self)->study);
    study_unlock(SELF(self));
    return (Py_ssize_t)n;
}

static PyObject *study_get_n_trials(PyObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromSsize_t(study_len(self));
}

static PyObject *study_get_n_params(PyObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromSize_t(SELF(self)->n_params);
}

static PyObject *study_get_space(PyObject *self, void *closure)
{
    (void)closure;
    return Py_NewRef(SELF(self)->space);
}

PyDoc_STRVAR(count_doc, "count(state, /)\n--\n\n"
                        "Number of trials in a JOB_STATE_* state.");

static PyObject *study_count(PyObject *self, PyObject *arg)
{
    long state = PyLong_AsLong(arg);
    if ((state == -1 && PyErr_Occurred()) || state_arg((int)state) < 0) {
        return NULL;
    }
    study_lock(SELF(self));
    size_t n = pz_study_count(SELF(self)->study, (pz_trial_state)state);
    study_unlock(SELF(self));
    return PyLong_FromSize_t(n);
}

/* (id, state, loss, values) of a trial view; call with the lock held. */
static PyObject *info_tuple(pz_py_study *self, const pz_trial_info *info)
{
    return Py_BuildValue("(LidN)", (long long)info->id, (int)info->state,
                         info->loss,
                         values_tuple(info->values, self->n_params));
}

PyDoc_STRVAR(trial_doc, "trial(i, /)\n--\n\n"
                        "The i-th trial in insertion order as (id, state, "
                        "loss, values).");

static PyObject *study_trial(PyObject *self, PyObject *arg)
{
    Py_ssize_t i = PyLong_AsSsize_t(arg);
    if (i == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (i < 0) {
        PyErr_Format(PyExc_IndexError, "trial index %zd out of range", i);
        return NULL;
    }
    pz_trial_info info;
    pz_error err = {0};
    PyObject *out = NULL;
    study_lock(SELF(self));
    if ((size_t)i >= pz_study_n_trials(SELF(self)->study)) {
        PyErr_Format(PyExc_IndexError, "trial index %zd out of range", i);
    } else if (pz_study_trial(SELF(self)->study, (size_t)i, &info, &err) ==
               PZ_OK) {
        out = info_tuple(SELF(self), &info);
    } else {
        raise_err(self, &err);
    }
    study_unlock(SELF(self));
    return out;
}

PyDoc_STRVAR(best_doc, "best()\n--\n\n"
                       "The DONE trial with the smallest non-NaN loss as\n"
                       "(id, state, loss, values), or None.");

static PyObject *study_best(PyObject *self, PyObject *noargs)
{
    (void)noargs;
    pz_trial_info info;
    PyObject *out = NULL;
    study_lock(SELF(self));
    if (pz_study_best(SELF(self)->study, &info, NULL) == PZ_OK) {
        out = info_tuple(SELF(self), &info);
    } else {
        out = Py_NewRef(Py_None);
    }
    study_unlock(SELF(self));
    return out;
}

PyDoc_STRVAR(set_pruner_doc,
             "set_pruner(kind, options_json=None, /)\n--\n\n"
             "Choose the pruner: 'median', 'sha', 'hyperband' or 'none', with\n"
             "its options as a JSON object (None: the defaults; parzen.h,\n"
             "pz_study_set_pruner). InvalidArgumentError names a bad key.\n"
             "Rebuilds the pruner's tables from the reports recorded so far.");

static PyObject *study_set_pruner(PyObject *self, PyObject *args)
{
    const char *kind = NULL;
    const char *options = NULL;
    if (!PyArg_ParseTuple(args, "s|z:set_pruner", &kind, &options)) {
        return NULL;
    }
    pz_error err = {0};
    study_lock(SELF(self));
    int rc = pz_study_set_pruner(SELF(self)->study, kind, options, &err);
    study_unlock(SELF(self));
    if (rc != PZ_OK) {
        return raise_err(self, &err);
    }
    Py_RETURN_NONE;
}

static PyObject *study_get_pruner(PyObject *self, void *closure)
{
    (void)closure;
    study_lock(SELF(self));
    const char *name = pz_study_pruner(SELF(self)->study);
    study_unlock(SELF(self));
    return PyUnicode_FromString(name);
}

PyDoc_STRVAR(set_pruned_rule_doc,
             "set_pruned_rule(rule, /)\n--\n\n"
             "How tpe, anneal and mtpe see PRUNED trials: 'bad' (default),\n"
             "'rank', 'ignore' or 'budget' (parzen.h, "
             "pz_study_set_pruned_rule).");

static PyObject *study_set_pruned_rule(PyObject *self, PyObject *arg)
{
    const char *rule = PyUnicode_AsUTF8(arg);
    if (rule == NULL) {
        return NULL;
    }
    pz_error err = {0};
    study_lock(SELF(self));
    int rc = pz_study_set_pruned_rule(SELF(self)->study, rule, &err);
    study_unlock(SELF(self));
    if (rc != PZ_OK) {
        return raise_err(self, &err);
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(report_doc,
             "report(trial_id, step, value, /)\n--\n\n"
             "Record trial_id's intermediate value at step (an int >= 0,\n"
             "increasing per trial). Returns True when stored, False when the\n"
             "value is not finite (not stored: the caller warns, naming the\n"
             "trial). InvalidArgumentError for a step that does not increase\n"
             "(the message names the trial and both steps); NotFoundError for\n"
             "an unknown id.");

static PyObject *study_report(PyObject *self, PyObject *args)
{
    long long tid = 0, step = 0;
    double value = 0.0;
    if (!PyArg_ParseTuple(args, "LLd:report", &tid, &step, &value)) {
        return NULL;
    }
    pz_error err = {0};
    study_lock(SELF(self));
    int rc = pz_study_report(SELF(self)->study, (int64_t)tid, (int64_t)step,
                             value, &err);
    study_unlock(SELF(self));
    if (rc < 0) {
        return raise_err(self, &err);
    }
    return PyBool_FromLong(rc == PZ_OK);
}

PyDoc_STRVAR(should_prune_doc,
             "should_prune(trial_id, /)\n--\n\n"
             "Should the trial stop, from its last report and the reports of\n"
             "all trials? False with no pruner or no report.");

static PyObject *study_should_prune(PyObject *self, PyObject *arg)
{
    long long tid = PyLong_AsLongLong(arg);
    if (tid == -1 && PyErr_Occurred()) {
        return NULL;
    }
    pz_error err = {0};
    int out = 0;
    study_lock(SELF(self));
    int rc = pz_study_should_prune(SELF(self)->study, (int64_t)tid, &out, &err);
    study_unlock(SELF(self));
    if (rc != PZ_OK) {
        return raise_err(self, &err);
    }
    return PyBool_FromLong(out);
}

PyDoc_STRVAR(reports_doc, "reports(trial_id, /)\n--\n\n"
                          "The trial's reports as a list of (step, value), "
                          "in step order.");

static PyObject *study_reports(PyObject *self, PyObject *arg)
{
    long long tid = PyLong_AsLongLong(arg);
    if (tid == -1 && PyErr_Occurred()) {
        return NULL;
    }
    pz_error err = {0};
    size_t n = 0;
    const int64_t *steps = NULL;
    const double *values = NULL;
    PyObject *out = NULL;
    study_lock(SELF(self));
    int rc = pz_study_reports(SELF(self)->study, (int64_t)tid, &n, &steps,
                              &values, &err);
    if (rc == PZ_OK && (out = PyList_New((Py_ssize_t)n)) != NULL) {
        for (size_t i = 0; i < n; i++) {
            PyObject *t = Py_BuildValue("(Ld)", (long long)steps[i], values[i]);
            if (t == NULL) {
                Py_CLEAR(out);
                break;
            }
            PyList_SET_ITEM(out, (Py_ssize_t)i, t);
        }
    }
    study_unlock(SELF(self));
    if (rc != PZ_OK) {
        return raise_err(self, &err);
    }
    return out;
}

static PyMethodDef study_methods[] = {
    {"set_seed", study_set_seed, METH_O, set_seed_doc},
    {"set_sampler", study_set_sampler, METH_O, set_sampler_doc},
    {"set_option", study_set_option, METH_VARARGS, set_option_doc},
    {"suggest", study_suggest, METH_VARARGS, suggest_doc},
    {"ask", study_ask, METH_NOARGS, ask_doc},
    {"add", study_add, METH_VARARGS, add_doc},
    {"tell", study_tell, METH_VARARGS, tell_doc},
    {"clear", study_clear, METH_NOARGS, clear_doc},
    {"count", study_count, METH_O, count_doc},
    {"trial", study_trial, METH_O, trial_doc},
    {"best", study_best, METH_NOARGS, best_doc},
    {"set_pruner", study_set_pruner, METH_VARARGS, set_pruner_doc},
    {"set_pruned_rule", study_set_pruned_rule, METH_O, set_pruned_rule_doc},
    {"report", study_report, METH_VARARGS, report_doc},
    {"should_prune", study_should_prune, METH_O, should_prune_doc},
    {"reports", study_reports, METH_O, reports_doc},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef study_getset[] = {
    {"sampler", study_get_sampler, NULL, "Name of the current sampler.", NULL},
    {"pruner", study_get_pruner, NULL, "Name of the current pruner.", NULL},
    {"n_trials", study_get_n_trials, NULL, "Number of trials recorded.", NULL},
    {"n_params", study_get_n_params, NULL, "Number of parameters.", NULL},
    {"space", study_get_space, NULL, "The Space the study was opened on.",
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyDoc_STRVAR(study_doc,
             "Study(space)\n--\n\n"
             "A study on a copy of 'space' with the 'random' sampler, seed 0.");

static PyType_Slot study_slots[] = {
    {Py_tp_new, (void *)study_new},
    {Py_tp_dealloc, (void *)study_dealloc},
    {Py_tp_traverse, (void *)study_traverse},
    {Py_tp_clear, (void *)study_clear_refs},
    {Py_tp_methods, study_methods},
    {Py_tp_getset, study_getset},
    {Py_tp_doc, (void *)study_doc},
    {Py_sq_length, (void *)study_len},
    {0, NULL},
};

static PyType_Spec study_spec = {
    .name = "parzen._core.Study",
    .basicsize = sizeof(pz_py_study),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = study_slots,
};

int pz_py_study_type_init(PyObject *m, pz_py_state *st)
{
    return pz_py_add_type(m, &study_spec, &st->StudyType);
}
