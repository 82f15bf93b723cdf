/*
 * binding.h -- what the files of the parzen._core extension share.
 *
 * The extension is a thin door onto include/parzen.h (never
 * src/pz_internal.h): one file per Python type (space_type.c,
 * study_type.c, store_type.c), module.c for the module itself and errors.c, the
 * only place where a 'pz_error' becomes a Python exception. Types are heap
 * types created at module execution (multi-phase init); the module state
 * holds them and the exception types.
 */
#ifndef PZ_BINDING_H
#define PZ_BINDING_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "parzen.h"

#if PY_VERSION_HEX < 0x030A0000
static inline PyObject *Py_NewRef(PyObject *o)
{
    Py_INCREF(o);
    return o;
}
#endif

typedef struct pz_py_state {
    PyObject *ParzenError;          /* base of every parzen exception */
    PyObject *InvalidArgumentError; /* (ParzenError, ValueError) */
    PyObject *SearchSpaceError;     /* (ParzenError, ValueError) */
    PyObject *StorageError;         /* (ParzenError, OSError) */
    PyObject *CanceledError;        /* (ParzenError) */
    PyObject *NotFoundError;        /* (ParzenError, LookupError) */
    PyTypeObject *SpaceType;
    PyTypeObject *StudyType;
    PyTypeObject *StoreType;
} pz_py_state;

/* The Space object: owns one pz_space. */
typedef struct pz_py_space {
    PyObject_HEAD pz_space *space;
} pz_py_space;

/* Module state of the module that defined 'type' (a type of this module;
 * they are final, so Py_TYPE(self) always is). */
pz_py_state *pz_py_state_of_type(PyTypeObject *type);
pz_py_state *pz_py_state_of_module(PyObject *module);

/* errors.c: set the exception matching err->code; always returns NULL. */
PyObject *pz_py_raise(pz_py_state *st, const pz_error *err);
/* errors.c: create the exception types into 'st' and add them to 'm'. */
int pz_py_errors_init(PyObject *m, pz_py_state *st);

/* module.c: create a heap type from 'spec' into '*slot' (a strong
 * reference kept in the module state) and add it to 'm' under the last
 * component of its dotted name. 0, or -1 with an exception set. */
int pz_py_add_type(PyObject *m, PyType_Spec *spec, PyTypeObject **slot);

/* space_type.c / study_type.c / store_type.c: create the type and add it
 * to 'm'. */
int pz_py_space_type_init(PyObject *m, pz_py_state *st);
int pz_py_study_type_init(PyObject *m, pz_py_state *st);
int pz_py_store_type_init(PyObject *m, pz_py_state *st);

/* space_type.c: a new Space object owning 'sp' (freed on failure). */
PyObject *pz_py_space_wrap(pz_py_state *st, pz_space *sp);

/* space_type.c: copy a Python sequence of numbers into 'out' (n doubles);
 * raises ValueError/TypeError and returns -1 on a bad sequence. */
int pz_py_doubles(PyObject *seq, double *out, size_t n, const char *what);

#endif /* PZ_BINDING_H */
