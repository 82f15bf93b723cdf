/*
 * module.c -- the parzen._core module: multi-phase init, module state
 * (exception types and the Space/Study/Store heap types) with traverse/clear
 * hooks, and a few module-level constants.
 */
#include "binding.h"
#include "pz_internal.h" /* the test-only hooks: sampler mutants, parses */

#include <limits.h>
#include <string.h>

pz_py_state *pz_py_state_of_module(PyObject *module)
{
    return (pz_py_state *)PyModule_GetState(module);
}

pz_py_state *pz_py_state_of_type(PyTypeObject *type)
{
    return (pz_py_state *)PyType_GetModuleState(type);
}

static int add_int(PyObject *m, const char *name, long v)
{
    return PyModule_AddIntConstant(m, name, v);
}

static int add_constants(PyObject *m)
{
    if (PyModule_AddStringConstant(m, "__version__", pz_version()) < 0 ||
        add_int(m, "STATE_NEW", PZ_TRIAL_NEW) < 0 ||
        add_int(m, "STATE_RUNNING", PZ_TRIAL_RUNNING) < 0 ||
        add_int(m, "STATE_DONE", PZ_TRIAL_DONE) < 0 ||
        add_int(m, "STATE_ERROR", PZ_TRIAL_ERROR) < 0 ||
        add_int(m, "STATE_CANCEL", PZ_TRIAL_CANCEL) < 0 ||
        add_int(m, "STATE_PRUNED", PZ_TRIAL_PRUNED) < 0) {
        return -1;
    }
    PyObject *names = PyTuple_New(PZ_DIST_COUNT);
    if (names == NULL) {
        return -1;
    }
    for (int d = 0; d < PZ_DIST_COUNT; d++) {
        PyObject *s = PyUnicode_FromString(pz_dist_name((pz_dist)d));
        if (s == NULL) {
            Py_DECREF(names);
            return -1;
        }
        PyTuple_SET_ITEM(names, d, s);
    }
    if (PyModule_AddObject(m, "DISTRIBUTIONS", names) < 0) {
        Py_DECREF(names);
        return -1;
    }
    return 0;
}

int pz_py_add_type(PyObject *m, PyType_Spec *spec, PyTypeObject **slot)
{
    const char *name = strrchr(spec->name, '.');
    name = name ? name + 1 : spec->name;
    *slot = (PyTypeObject *)PyType_FromModuleAndSpec(m, spec, NULL);
    if (*slot == NULL) {
        return -1;
    }
    Py_INCREF(*slot); /* one for the module state, one for the module */
    if (PyModule_AddObject(m, name, (PyObject *)*slot) < 0) {
        Py_DECREF(*slot);
        return -1;
    }
    return 0;
}

static int module_exec(PyObject *m)
{
    pz_py_state *st = pz_py_state_of_module(m);
    if (pz_py_errors_init(m, st) < 0 || pz_py_space_type_init(m, st) < 0 ||
        pz_py_study_type_init(m, st) < 0 || pz_py_store_type_init(m, st) < 0 ||
        add_constants(m) < 0) {
        return -1;
    }
    return 0;
}

static int module_traverse(PyObject *m, visitproc visit, void *arg)
{
    pz_py_state *st = pz_py_state_of_module(m);
    Py_VISIT(st->ParzenError);
    Py_VISIT(st->InvalidArgumentError);
    Py_VISIT(st->SearchSpaceError);
    Py_VISIT(st->StorageError);
    Py_VISIT(st->CanceledError);
    Py_VISIT(st->NotFoundError);
    Py_VISIT(st->SpaceType);
    Py_VISIT(st->StudyType);
    Py_VISIT(st->StoreType);
    return 0;
}

static int module_clear(PyObject *m)
{
    pz_py_state *st = pz_py_state_of_module(m);
    Py_CLEAR(st->ParzenError);
    Py_CLEAR(st->InvalidArgumentError);
    Py_CLEAR(st->SearchSpaceError);
    Py_CLEAR(st->StorageError);
    Py_CLEAR(st->CanceledError);
    Py_CLEAR(st->NotFoundError);
    Py_CLEAR(st->SpaceType);
    Py_CLEAR(st->StudyType);
    Py_CLEAR(st->StoreType);
    return 0;
}

static void module_free(void *m)
{
    (void)module_clear((PyObject *)m);
}

PyDoc_STRVAR(strerror_doc, "strerror(code, /)\n--\n\n"
                           "The message of a pz_status code.");

static PyObject *mod_strerror(PyObject *m, PyObject *arg)
{
    (void)m;
    long code = PyLong_AsLong(arg);
    if (code == -1 && PyErr_Occurred()) {
        return NULL;
    }
    return PyUnicode_FromString(pz_strerror((int)code));
}

PyDoc_STRVAR(set_sampler_mutant_doc,
             "_set_sampler_mutant(name, /)\n--\n\n"
             "Test-only (mutation testing, scripts/mutation-check.sh): "
             "'none',\n'random' (every sampler draws from the prior) or\n"
             "'tpe-no-selection' (TPE keeps its first candidate). Process-"
             "wide.");

static PyObject *mod_set_sampler_mutant(PyObject *m, PyObject *arg)
{
    const char *name = PyUnicode_AsUTF8(arg);
    if (name == NULL) {
        return NULL;
    }
    if (pz__sampler_set_mutant(name) != PZ_OK) {
        pz_py_state *st = pz_py_state_of_module(m);
        PyErr_Format(st->InvalidArgumentError,
                     "unknown sampler mutant '%s' (expected one of: none, "
                     "random, tpe-no-selection)",
                     name);
        return NULL;
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(space_json_parses_doc,
             "_space_json_parses()\n--\n\n"
             "Test-only: how many space texts the C core has parsed in this\n"
             "process (tests count the parses of opening a study).");

static PyObject *mod_space_json_parses(PyObject *m, PyObject *noargs)
{
    (void)m;
    (void)noargs;
    return PyLong_FromSize_t(pz__space_json_parses());
}

PyDoc_STRVAR(trial_counts_doc,
             "trial_counts(state, /)\n--\n\n"
             "Does a trial in this state count toward max_evals? (the C\n"
             "core's one meaning: pz_trial_counts).");

static PyObject *mod_trial_counts(PyObject *m, PyObject *arg)
{
    (void)m;
    long state = PyLong_AsLong(arg);
    if (state == -1 && PyErr_Occurred()) {
        return NULL;
    }
    return PyBool_FromLong(pz_trial_counts((pz_trial_state)state));
}

PyDoc_STRVAR(trial_loss_doc,
             "trial_loss(state, status, loss, /)\n--\n\n"
             "The loss of a trial (pz_trial_loss): an ok DONE trial's loss,\n"
             "+inf for a 'fail' DONE trial and for NEW/RUNNING, NaN for\n"
             "ERROR/CANCEL. status may be None.");

static PyObject *mod_trial_loss(PyObject *m, PyObject *args)
{
    (void)m;
    int state;
    const char *status;
    double loss;
    if (!PyArg_ParseTuple(args, "izd:trial_loss", &state, &status, &loss)) {
        return NULL;
    }
    return PyFloat_FromDouble(
        pz_trial_loss((pz_trial_state)state, status, loss));
}

PyDoc_STRVAR(trial_state_name_doc,
             "trial_state_name(state, /)\n--\n\n"
             "The name of a trial state (pz_trial_state_name): 'new',\n"
             "'running', 'done', 'error', 'cancel'; 'unknown' for others.");

static PyObject *mod_trial_state_name(PyObject *m, PyObject *arg)
{
    (void)m;
    long state = PyLong_AsLong(arg);
    if (state == -1 && PyErr_Occurred()) {
        return NULL;
    }
    int s = state < INT_MIN || state > INT_MAX ? INT_MIN : (int)state;
    return PyUnicode_FromString(pz_trial_state_name(s));
}

/* A bytes-like argument or None as (pointer, length); NULL pointer for
 * None. 0, or -1 with an exception set. */
static int bytes_arg(PyObject *o, const char **p, size_t *n)
{
    *p = NULL;
    *n = 0;
    if (o == Py_None) {
        return 0;
    }
    char *s;
    Py_ssize_t len;
    if (PyBytes_AsStringAndSize(o, &s, &len) != 0) {
        return -1;
    }
    *p = s;
    *n = (size_t)len;
    return 0;
}

PyDoc_STRVAR(
    command_outcome_doc,
    "command_outcome(exit_code, signal, result_file, stdout, stderr, /)\n--\n"
    "\n"
    "The outcome of a command trial by the C command protocol of parzen\n"
    "run (pz_command_outcome_of): a dict with 'state' (DONE or ERROR),\n"
    "'loss' (NaN: none), 'status', 'result_json' (str or None) and\n"
    "'error' (str, '' when DONE). result_file is bytes or None; stdout\n"
    "and stderr are bytes.");

static PyObject *mod_command_outcome(PyObject *m, PyObject *args)
{
    pz_command_exit ex = {0};
    PyObject *file, *out, *errb;
    if (!PyArg_ParseTuple(args, "iiOOO:command_outcome", &ex.exit_code,
                          &ex.signal, &file, &out, &errb) ||
        bytes_arg(file, &ex.result_file, &ex.result_len) != 0 ||
        bytes_arg(out, &ex.out, &ex.out_len) != 0 ||
        bytes_arg(errb, &ex.err_text, &ex.err_len) != 0) {
        return NULL;
    }
    pz_error err = {0};
    pz_command_outcome o;
    if (pz_command_outcome_of(&ex, &o, &err) != PZ_OK) {
        return pz_py_raise(pz_py_state_of_module(m), &err);
    }
    PyObject *d = Py_BuildValue("{s:i,s:d,s:s,s:z,s:s}", "state", (int)o.state,
                                "loss", o.loss, "status", o.status,
                                "result_json", o.result_json, "error", o.error);
    pz_command_outcome_fini(&o);
    return d;
}

static PyMethodDef module_methods[] = {
    {"strerror", mod_strerror, METH_O, strerror_doc},
    {"_set_sampler_mutant", mod_set_sampler_mutant, METH_O,
     set_sampler_mutant_doc},
    {"_space_json_parses", mod_space_json_parses, METH_NOARGS,
     space_json_parses_doc},
    {"trial_counts", mod_trial_counts, METH_O, trial_counts_doc},
    {"trial_loss", mod_trial_loss, METH_VARARGS, trial_loss_doc},
    {"trial_state_name", mod_trial_state_name, METH_O, trial_state_name_doc},
    {"command_outcome", mod_command_outcome, METH_VARARGS, command_outcome_doc},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, (void *)module_exec},
    {0, NULL},
};

PyDoc_STRVAR(
    module_doc,
    "The C core of parzen: search spaces (Space), studies (Study) and\n"
    "durable trial stores (Store) over include/parzen.h. Most users\n"
    "want the parzen package.");

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT,         .m_name = "parzen._core",
    .m_doc = module_doc,           .m_size = sizeof(pz_py_state),
    .m_methods = module_methods,   .m_slots = module_slots,
    .m_traverse = module_traverse, .m_clear = module_clear,
    .m_free = module_free,
};

PyMODINIT_FUNC PyInit__core(void);

PyMODINIT_FUNC PyInit__core(void)
{
    return PyModuleDef_Init(&core_module);
}
