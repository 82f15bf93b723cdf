/*
 * errors.c -- the one place where a pz_error becomes a Python exception.
 *
 * Every exception type derives from ParzenError and from the built-in
 * that matches its meaning, so callers may catch either:
 * InvalidArgumentError(ParzenError, ValueError), SearchSpaceError(
 * ParzenError, ValueError), StorageError(ParzenError, OSError),
 * NotFoundError(ParzenError, LookupError), CanceledError(ParzenError).
 */
#include "binding.h"

PyObject *pz_py_raise(pz_py_state *st, const pz_error *err)
{
    const char *msg = err->msg[0] ? err->msg : pz_strerror(err->code);
    switch (err->code) {
    case PZ_ENOMEM:
        return PyErr_NoMemory();
    case PZ_EINVAL:
        PyErr_SetString(st->InvalidArgumentError, msg);
        break;
    case PZ_ESPACE:
        PyErr_SetString(st->SearchSpaceError, msg);
        break;
    case PZ_ESTORE:
    case PZ_EBUSY:
    case PZ_EIO:
        PyErr_SetString(st->StorageError, msg);
        break;
    case PZ_ENOTFOUND:
        PyErr_SetString(st->NotFoundError, msg);
        break;
    case PZ_ECANCELED:
        /* Ctrl-C raises KeyboardInterrupt rather than CanceledError. */
        if (PyErr_CheckSignals() == 0) {
            PyErr_SetString(st->CanceledError, msg);
        }
        break;
    default:
        PyErr_Format(st->ParzenError, "%s [%s]", msg,
                     pz_status_name(err->code));
        break;
    }
    return NULL;
}

/* A new exception type 'parzen._core.<name>' with the given bases. */
static PyObject *new_error(PyObject *m, const char *name, PyObject *bases,
                           const char *doc)
{
    char qualname[96];
    PyOS_snprintf(qualname, sizeof qualname, "parzen._core.%s", name);
    PyObject *type = PyErr_NewExceptionWithDoc(qualname, doc, bases, NULL);
    if (type == NULL) {
        return NULL;
    }
    /* PyModule_AddObject steals a reference on success only; the state
     * keeps the one PyErr_NewExceptionWithDoc gave us. */
    Py_INCREF(type);
    if (PyModule_AddObject(m, name, type) < 0) {
        Py_DECREF(type);
        Py_DECREF(type);
        return NULL;
    }
    return type;
}

/* new_error with bases (ParzenError, builtin) or (ParzenError,). */
static PyObject *new_child(PyObject *m, pz_py_state *st, const char *name,
                           PyObject *builtin, const char *doc)
{
    PyObject *bases = builtin ? PyTuple_Pack(2, st->ParzenError, builtin)
                              : PyTuple_Pack(1, st->ParzenError);
    if (bases == NULL) {
        return NULL;
    }
    PyObject *type = new_error(m, name, bases, doc);
    Py_DECREF(bases);
    return type;
}

int pz_py_errors_init(PyObject *m, pz_py_state *st)
{
    st->ParzenError = new_error(m, "ParzenError", PyExc_Exception,
                                "Base class of every parzen error.");
    if (st->ParzenError == NULL) {
        return -1;
    }
    st->InvalidArgumentError =
        new_child(m, st, "InvalidArgumentError", PyExc_ValueError,
                  "A bad argument to a parzen call (PZ_EINVAL).");
    st->SearchSpaceError = new_child(
        m, st, "SearchSpaceError", PyExc_ValueError,
        "An invalid search space; the message names the label (PZ_ESPACE).");
    st->StorageError = new_child(m, st, "StorageError", PyExc_OSError,
                                 "A trial store or I/O failure.");
    st->NotFoundError = new_child(m, st, "NotFoundError", PyExc_LookupError,
                                  "No such trial or parameter (PZ_ENOTFOUND).");
    st->CanceledError =
        new_child(m, st, "CanceledError", NULL, "The operation was canceled.");
    if (st->InvalidArgumentError == NULL || st->SearchSpaceError == NULL ||
        st->StorageError == NULL || st->NotFoundError == NULL ||
        st->CanceledError == NULL) {
        return -1;
    }
    return 0;
}
