/*
 * space_type.c -- parzen._core.Space: a search space (pz_space).
 *
 * The Python package compiles a hyperopt-style pyll graph into a Space
 * parameter by parameter (Space.add); the JSON form of docs/space-format.md
 * is read and written too. Values are hyperopt's stored 'misc.vals' form,
 * one double per parameter, NaN where inactive.
 */
#include "binding.h"

#include <math.h>
#include <string.h>

#define SPACE(o) (((pz_py_space *)(o))->space)

int pz_py_doubles(PyObject *seq, double *out, size_t n, const char *what)
{
    PyObject *fast = PySequence_Fast(seq, "values must be a sequence");
    if (fast == NULL) {
        return -1;
    }
    Py_ssize_t len = PySequence_Fast_GET_SIZE(fast);
    if ((size_t)len != n) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zu values, got %zd", what,
                     n, len);
        Py_DECREF(fast);
        return -1;
    }
    PyObject **items = PySequence_Fast_ITEMS(fast);
    for (Py_ssize_t i = 0; i < len; i++) {
        double v = PyFloat_AsDouble(items[i]);
        if (v == -1.0 && PyErr_Occurred()) {
            Py_DECREF(fast);
            return -1;
        }
        out[i] = v;
    }
    Py_DECREF(fast);
    return 0;
}

/* Values of a point: a new array of pz_space_size doubles (PyMem). */
static double *point_values(pz_space *sp, PyObject *seq)
{
    size_t n = pz_space_size(sp);
    double *v = PyMem_New(double, n ? n : 1);
    if (v == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    if (pz_py_doubles(seq, v, n, "point") < 0) {
        PyMem_Free(v);
        return NULL;
    }
    return v;
}

static int dist_from_name(const char *name, pz_dist *out)
{
    for (int d = 0; d < PZ_DIST_COUNT; d++) {
        if (strcmp(pz_dist_name((pz_dist)d), name) == 0) {
            *out = (pz_dist)d;
            return 0;
        }
    }
    PyErr_Format(PyExc_ValueError, "unknown distribution '%s'", name);
    return -1;
}

static PyObject *space_wrap(PyTypeObject *type, pz_space *sp)
{
    pz_py_space *self = PyObject_GC_New(pz_py_space, type);
    if (self == NULL) {
        pz_space_free(sp);
        return NULL;
    }
    self->space = sp;
    PyObject_GC_Track(self);
    return (PyObject *)self;
}

PyObject *pz_py_space_wrap(pz_py_state *st, pz_space *sp)
{
    return space_wrap(st->SpaceType, sp);
}

static PyObject *space_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kw, ":Space", kwlist)) {
        return NULL;
    }
    pz_error err = {0};
    pz_space *sp = NULL;
    if (pz_space_new(&sp, &err) != PZ_OK) {
        return pz_py_raise(pz_py_state_of_type(type), &err);
    }
    return space_wrap(type, sp);
}

static int space_traverse(PyObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static void space_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    pz_space_free(SPACE(self));
    SPACE(self) = NULL;
    tp->tp_free(self);
    Py_DECREF(tp);
}

PyDoc_STRVAR(
    space_add_doc,
    "add(label, dist, *, low=0.0, high=0.0, mu=0.0, sigma=0.0, q=0.0,\n"
    "    n_options=0, probs=None, parent=None, option=0)\n--\n\n"
    "Add a parameter and return its index. 'dist' is a distribution name\n"
    "('uniform', 'quniform', ..., 'choice', 'pchoice'); 'parent' is the\n"
    "index of a choice parameter (None: top level) and 'option' the option\n"
    "under which this one is active. Raises SearchSpaceError naming the\n"
    "label when the arguments are invalid; the space is then unchanged.");

static PyObject *space_add(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"label", "dist",   "low",    "high",
                             "mu",    "sigma",  "q",      "n_options",
                             "probs", "parent", "option", NULL};
    const char *label = NULL, *dist = NULL;
    pz_param_spec spec = {0};
    Py_ssize_t n_options = 0, option = 0;
    PyObject *probs = Py_None, *parent = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "ss|$dddddnOOn:add", kwlist,
                                     &label, &dist, &spec.low, &spec.high,
                                     &spec.mu, &spec.sigma, &spec.q, &n_options,
                                     &probs, &parent, &option)) {
        return NULL;
    }
    if (dist_from_name(dist, &spec.dist) < 0) {
        return NULL;
    }
    if (n_options < 0 || option < 0) {
        PyErr_SetString(PyExc_ValueError, "n_options and option must be >= 0");
        return NULL;
    }
    size_t parent_i = PZ_NO_PARENT;
    if (parent != Py_None) {
        parent_i = PyLong_AsSize_t(parent);
        if (parent_i == (size_t)-1 && PyErr_Occurred()) {
            return NULL;
        }
    }
    double *p = NULL;
    if (probs != Py_None) {
        Py_ssize_t np = PyObject_Length(probs);
        if (np < 0) {
            return NULL;
        }
        if (n_options == 0) {
            n_options = np;
        }
        p = PyMem_New(double, np ? (size_t)np : 1);
        if (p == NULL) {
            return PyErr_NoMemory();
        }
        if (pz_py_doubles(probs, p, (size_t)np, "probs") < 0) {
            PyMem_Free(p);
            return NULL;
        }
        if (np != n_options) {
            PyMem_Free(p);
            PyErr_SetString(PyExc_ValueError,
                            "len(probs) must equal n_options");
            return NULL;
        }
    }
    spec.n_options = (size_t)n_options;
    spec.probs = p;
    pz_error err = {0};
    size_t index = 0;
    int rc = pz_space_add(SPACE(self), label, &spec, parent_i, (size_t)option,
                          &index, &err);
    PyMem_Free(p);
    if (rc != PZ_OK) {
        return pz_py_raise(pz_py_state_of_type(Py_TYPE(self)), &err);
    }
    return PyLong_FromSize_t(index);
}

static Py_ssize_t space_len(PyObject *self)
{
    return (Py_ssize_t)pz_space_size(SPACE(self));
}

PyDoc_STRVAR(space_label_doc, "label(i, /)\n--\n\nLabel of parameter i.");

static PyObject *space_label(PyObject *self, PyObject *arg)
{
    Py_ssize_t i = PyLong_AsSsize_t(arg);
    if (i == -1 && PyErr_Occurred()) {
        return NULL;
    }
    const char *label = i < 0 ? NULL : pz_space_label(SPACE(self), (size_t)i);
    if (label == NULL) {
        PyErr_Format(PyExc_IndexError, "parameter index %zd out of range", i);
        return NULL;
    }
    return PyUnicode_FromString(label);
}

PyDoc_STRVAR(
    space_find_doc,
    "find(label, /)\n--\n\n"
    "Index of the parameter labelled 'label' (NotFoundError if none).");

static PyObject *space_find(PyObject *self, PyObject *arg)
{
    const char *label = PyUnicode_AsUTF8(arg);
    if (label == NULL) {
        return NULL;
    }
    size_t index = 0;
    if (pz_space_find(SPACE(self), label, &index) != PZ_OK) {
        pz_error err = {.code = PZ_ENOTFOUND};
        PyOS_snprintf(err.msg, sizeof err.msg, "no parameter labelled '%s'",
                      label);
        return pz_py_raise(pz_py_state_of_type(Py_TYPE(self)), &err);
    }
    return PyLong_FromSize_t(index);
}

static PyObject *probs_tuple(const pz_param_spec *spec)
{
    if (spec->dist != PZ_PCHOICE || spec->probs == NULL) {
        Py_RETURN_NONE;
    }
    PyObject *t = PyTuple_New((Py_ssize_t)spec->n_options);
    for (size_t i = 0; t != NULL && i < spec->n_options; i++) {
        PyObject *f = PyFloat_FromDouble(spec->probs[i]);
        if (f == NULL) {
            Py_CLEAR(t);
            break;
        }
        PyTuple_SET_ITEM(t, (Py_ssize_t)i, f);
    }
    return t;
}

PyDoc_STRVAR(space_param_doc,
             "param(i, /)\n--\n\n"
             "Parameter i as a dict: label, dist, low, high, mu, sigma, q,\n"
             "n_options, probs, parent (None at top level), option.");

static PyObject *space_param(PyObject *self, PyObject *arg)
{
    Py_ssize_t i = PyLong_AsSsize_t(arg);
    if (i == -1 && PyErr_Occurred()) {
        return NULL;
    }
    pz_param_spec spec;
    size_t parent = 0, option = 0;
    pz_error err = {0};
    if (i < 0 || pz_space_param(SPACE(self), (size_t)i, &spec, &parent, &option,
                                &err) != PZ_OK) {
        PyErr_Format(PyExc_IndexError, "parameter index %zd out of range", i);
        return NULL;
    }
    PyObject *probs = probs_tuple(&spec);
    if (probs == NULL) {
        return NULL;
    }
    PyObject *par =
        parent == PZ_NO_PARENT ? Py_NewRef(Py_None) : PyLong_FromSize_t(parent);
    if (par == NULL) {
        Py_DECREF(probs);
        return NULL;
    }
    return Py_BuildValue(
        "{s:s,s:s,s:d,s:d,s:d,s:d,s:d,s:n,s:N,s:N,s:n}", "label",
        pz_space_label(SPACE(self), (size_t)i), "dist", pz_dist_name(spec.dist),
        "low", spec.low, "high", spec.high, "mu", spec.mu, "sigma", spec.sigma,
        "q", spec.q, "n_options", (Py_ssize_t)spec.n_options, "probs", probs,
        "parent", par, "option", (Py_ssize_t)option);
}

/* A str from library-owned JSON text (freed here). */
static PyObject *json_result(PyObject *self, int rc, char *text,
                             const pz_error *err)
{
    if (rc != PZ_OK) {
        pz_free(text);
        return pz_py_raise(pz_py_state_of_type(Py_TYPE(self)), err);
    }
    PyObject *s = PyUnicode_FromString(text);
    pz_free(text);
    return s;
}

PyDoc_STRVAR(space_to_json_doc,
             "to_json()\n--\n\nThe JSON form of the space (a str).");

static PyObject *space_to_json(PyObject *self, PyObject *noargs)
{
    (void)noargs;
    pz_error err = {0};
    char *text = NULL;
    int rc = pz_space_to_json(SPACE(self), &text, &err);
    return json_result(self, rc, text, &err);
}

PyDoc_STRVAR(space_point_json_doc,
             "point_json(values, /)\n--\n\n"
             "The user's nested point for 'values', as JSON text.");

static PyObject *space_point_json(PyObject *self, PyObject *seq)
{
    double *v = point_values(SPACE(self), seq);
    if (v == NULL) {
        return NULL;
    }
    pz_error err = {0};
    char *text = NULL;
    int rc = pz_space_point_json(SPACE(self), v, &text, &err);
    PyMem_Free(v);
    return json_result(self, rc, text, &err);
}

/* The argv strings of 'list' as a NULL-terminated array (PyMem_Free)
 * of pointers into the list's str objects. */
static char **argv_of(PyObject *list)
{
    if (!PyList_Check(list) || PyList_GET_SIZE(list) == 0) {
        PyErr_SetString(PyExc_TypeError, "argv must be a non-empty list");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(list);
    char **argv = PyMem_Calloc((size_t)n + 1, sizeof *argv);
    if (argv == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t len;
        const char *s = PyUnicode_AsUTF8AndSize(PyList_GET_ITEM(list, i), &len);
        if (s == NULL || strlen(s) != (size_t)len) {
            if (s != NULL) {
                PyErr_Format(PyExc_ValueError, "argv[%zd] holds a NUL", i);
            }
            PyMem_Free(argv);
            return NULL;
        }
        argv[i] = (char *)(uintptr_t)s; /* pz_command only reads them */
    }
    return argv;
}

static PyObject *argv_list(char *const *argv)
{
    PyObject *out = PyList_New(0);
    for (size_t i = 0; out != NULL && argv[i] != NULL; i++) {
        PyObject *s = PyUnicode_DecodeUTF8(argv[i], (Py_ssize_t)strlen(argv[i]),
                                           "surrogateescape");
        if (s == NULL || PyList_Append(out, s) != 0) {
            Py_CLEAR(out);
        }
        Py_XDECREF(s);
    }
    return out;
}

PyDoc_STRVAR(space_command_argv_doc,
             "command_argv(argv, values, /)\n--\n\n"
             "(argv of the trial, point JSON) for the command template\n"
             "'argv' (a list of str; '{label}' placeholders) and 'values':\n"
             "the C command protocol of parzen run (pz_command_argv).");

static PyObject *space_command_argv(PyObject *self, PyObject *args)
{
    PyObject *list, *seq;
    if (!PyArg_ParseTuple(args, "OO:command_argv", &list, &seq)) {
        return NULL;
    }
    char **tmpl = argv_of(list);
    double *v = tmpl ? point_values(SPACE(self), seq) : NULL;
    if (v == NULL) {
        PyMem_Free(tmpl);
        return NULL;
    }
    pz_error err = {0};
    char *point = NULL;
    pz_command *cmd = NULL;
    char *const *argv = NULL;
    PyObject *out = NULL;
    int rc = pz_space_point_json(SPACE(self), v, &point, &err);
    if (rc == PZ_OK) {
        rc = pz_command_new(&cmd, SPACE(self), tmpl, &err);
    }
    if (rc == PZ_OK) {
        rc = pz_command_argv(cmd, v, point, &argv, &err);
    }
    if (rc == PZ_OK) {
        PyObject *l = argv_list(argv);
        out = l ? Py_BuildValue("(Ns)", l, point) : NULL;
    } else {
        pz_py_raise(pz_py_state_of_type(Py_TYPE(self)), &err);
    }
    pz_command_free(cmd);
    pz_free(point);
    PyMem_Free(v);
    PyMem_Free(tmpl);
    return out;
}

PyDoc_STRVAR(space_check_point_doc,
             "check_point(values, /)\n--\n\n"
             "Raise InvalidArgumentError (naming the label) unless every\n"
             "active value lies in the support of its distribution.");

static PyObject *space_check_point(PyObject *self, PyObject *seq)
{
    double *v = point_values(SPACE(self), seq);
    if (v == NULL) {
        return NULL;
    }
    pz_error err = {0};
    int rc = pz_space_check_point(SPACE(self), v, &err);
    PyMem_Free(v);
    if (rc != PZ_OK) {
        return pz_py_raise(pz_py_state_of_type(Py_TYPE(self)), &err);
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(space_activity_doc,
             "activity(values, /)\n--\n\n"
             "A tuple of bools: which parameters are active at 'values'.");

static PyObject *space_activity(PyObject *self, PyObject *seq)
{
    size_t n = pz_space_size(SPACE(self));
    double *v = point_values(SPACE(self), seq);
    if (v == NULL) {
        return NULL;
    }
    unsigned char *act = PyMem_Malloc(n ? n : 1);
    PyObject *t = act ? PyTuple_New((Py_ssize_t)n) : PyErr_NoMemory();
    if (t != NULL) {
        pz_space_activity(SPACE(self), v, act);
        for (size_t i = 0; i < n; i++) {
            PyTuple_SET_ITEM(t, (Py_ssize_t)i, PyBool_FromLong(act[i]));
        }
    }
    PyMem_Free(act);
    PyMem_Free(v);
    return t;
}

PyDoc_STRVAR(space_from_json_doc,
             "from_json(text, /)\n--\n\n"
             "Parse the JSON form of a space (SearchSpaceError on errors,\n"
             "with the JSON path and line:column).");

static PyObject *space_from_json(PyObject *cls, PyObject *arg)
{
    Py_ssize_t len = 0;
    const char *text = PyUnicode_AsUTF8AndSize(arg, &len);
    if (text == NULL) {
        return NULL;
    }
    pz_error err = {0};
    pz_space *sp = NULL;
    if (pz_space_from_json(&sp, text, (size_t)len, &err) != PZ_OK) {
        return pz_py_raise(pz_py_state_of_type((PyTypeObject *)cls), &err);
    }
    return space_wrap((PyTypeObject *)cls, sp);
}

PyDoc_STRVAR(space_labels_doc,
             "labels()\n--\n\nThe labels of all parameters, in index order.");

static PyObject *space_labels(PyObject *self, PyObject *noargs)
{
    (void)noargs;
    size_t n = pz_space_size(SPACE(self));
    PyObject *l = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; l != NULL && i < n; i++) {
        PyObject *s = PyUnicode_FromString(pz_space_label(SPACE(self), i));
        if (s == NULL) {
            Py_CLEAR(l);
            break;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i, s);
    }
    return l;
}

static PyMethodDef space_methods[] = {
    {"add", (PyCFunction)(void (*)(void))space_add,
     METH_VARARGS | METH_KEYWORDS, space_add_doc},
    {"label", space_label, METH_O, space_label_doc},
    {"labels", space_labels, METH_NOARGS, space_labels_doc},
    {"find", space_find, METH_O, space_find_doc},
    {"param", space_param, METH_O, space_param_doc},
    {"to_json", space_to_json, METH_NOARGS, space_to_json_doc},
    {"point_json", space_point_json, METH_O, space_point_json_doc},
    {"command_argv", space_command_argv, METH_VARARGS, space_command_argv_doc},
    {"check_point", space_check_point, METH_O, space_check_point_doc},
    {"activity", space_activity, METH_O, space_activity_doc},
    {"from_json", space_from_json, METH_O | METH_CLASS, space_from_json_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(space_doc, "Space()\n--\n\n"
                        "An empty search space; fill it with add().");

static PyType_Slot space_slots[] = {
    {Py_tp_new, (void *)space_new},
    {Py_tp_dealloc, (void *)space_dealloc},
    {Py_tp_traverse, (void *)space_traverse},
    {Py_tp_methods, space_methods},
    {Py_tp_doc, (void *)space_doc},
    {Py_sq_length, (void *)space_len},
    {0, NULL},
};

static PyType_Spec space_spec = {
    .name = "parzen._core.Space",
    .basicsize = sizeof(pz_py_space),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = space_slots,
};

int pz_py_space_type_init(PyObject *m, pz_py_state *st)
{
    return pz_py_add_type(m, &space_spec, &st->SpaceType);
}
