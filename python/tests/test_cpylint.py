"""A cpylint-style check of python/_core/*.c (STYLE.md §24): in every
function, PyGILState_Ensure/Release and Py_BEGIN/END_ALLOW_THREADS are
balanced and properly nested, with no return (or goto) while the GIL is
released or a GIL state is held."""

import glob
import os
import re

import pytest

CORE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), "_core")
FILES = sorted(glob.glob(os.path.join(CORE, "*.c")))

TOKENS = re.compile(
    r"(Py_BEGIN_ALLOW_THREADS|Py_END_ALLOW_THREADS|PyGILState_Ensure|"
    r"PyGILState_Release|\breturn\b|\bgoto\b|[{}])")


def strip_comments_and_strings(src):
    src = re.sub(r"/\*.*?\*/", lambda m: " " * len(m.group()), src,
                 flags=re.S)
    src = re.sub(r"//[^\n]*", "", src)
    src = re.sub(r'"(\\.|[^"\\])*"', '""', src)
    return src


def check(src):
    """Problems found in one C source (a list of strings)."""
    problems = []
    depth = 0
    stack = []  # open regions: ("threads"|"gil", line)
    for m in TOKENS.finditer(strip_comments_and_strings(src)):
        tok = m.group()
        line = src.count("\n", 0, m.start()) + 1
        if tok == "{":
            depth += 1
        elif tok == "}":
            depth -= 1
            if depth == 0 and stack:
                problems.append("line %d: function ends inside %s region "
                                "opened at line %d" % (line, *stack[-1]))
                stack = []
        elif tok == "Py_BEGIN_ALLOW_THREADS":
            stack.append(("threads", line))
        elif tok == "Py_END_ALLOW_THREADS":
            if not stack or stack[-1][0] != "threads":
                problems.append("line %d: unbalanced Py_END_ALLOW_THREADS"
                                % line)
            else:
                stack.pop()
        elif tok == "PyGILState_Ensure":
            stack.append(("gil", line))
        elif tok == "PyGILState_Release":
            if not stack or stack[-1][0] != "gil":
                problems.append("line %d: unbalanced PyGILState_Release"
                                % line)
            else:
                stack.pop()
        elif tok in ("return", "goto") and stack:
            problems.append("line %d: %s inside %s region opened at line %d"
                            % (line, tok, *stack[-1]))
    return problems


@pytest.mark.parametrize("path", FILES, ids=os.path.basename)
def test_gil_regions_balanced(path):
    with open(path) as f:
        assert check(f.read()) == []


def test_sources_found():
    names = {os.path.basename(p) for p in FILES}
    assert {"module.c", "errors.c", "space_type.c",
            "study_type.c"} <= names


def test_checker_catches_mistakes():
    bad = """
static int f(void) {
    Py_BEGIN_ALLOW_THREADS
    if (x) return 1;
    Py_END_ALLOW_THREADS
    return 0;
}
static void g(void) {
    PyGILState_STATE s = PyGILState_Ensure();
}
static void h(void) { Py_END_ALLOW_THREADS }
"""
    problems = check(bad)
    assert any("return inside threads" in p for p in problems)
    assert any("function ends inside gil" in p for p in problems)
    assert any("unbalanced Py_END_ALLOW_THREADS" in p for p in problems)
    good = """
static int f(void) {
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = work();
    Py_END_ALLOW_THREADS
    return rc;
}
"""
    assert check(good) == []
