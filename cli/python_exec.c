/*
 * python_exec.c -- hand a command over to the Python package: 'parzen
 * export --format optuna' writes through Optuna's own API, which only
 * exists in Python, so the command replaces itself with the interpreter
 * of its installation running parzen.export.
 *
 * Which interpreter: the first of
 *   1. $PARZEN_PYTHON, when set (nothing else is tried);
 *   2. python3 / python next to this executable (a virtual environment's
 *      or a prefix's bin/, where 'pip install' puts the parzen command);
 *   3. <prefix>/bin/pythonX.Y when this executable lives in
 *      <prefix>/lib/pythonX.Y/site-packages/<dir>/ (a repaired wheel:
 *      auditwheel moves the command to parzen.scripts/ and leaves a shim
 *      in bin/);
 *   4. python3 on PATH (a build tree).
 * The interpreter runs a bootstrap that names itself and says what to do
 * when it cannot import parzen, instead of Python's bare traceback.
 */
#define _POSIX_C_SOURCE 200809L /* readlink */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/* '' (the working directory) is dropped from sys.path first: a directory
 * named parzen where the command is run must not shadow the package. */
static const char boot[] =
    "import sys\n"
    "if sys.path and sys.path[0] == '':\n"
    "    del sys.path[0]\n"
    "try:\n"
    "    from parzen import export\n"
    "except ImportError as e:\n"
    "    sys.stderr.write('parzen: %s: the Python at %s cannot import "
    "parzen.export (%s); install parzen there (pip install "
    "\"parzen[optuna]\") or set PARZEN_PYTHON to an interpreter that has "
    "it\\n' % (sys.argv[1], sys.executable, e))\n"
    "    sys.exit(1)\n"
    "sys.exit(export.main(sys.argv[2:], prog='parzen ' + sys.argv[1]))\n";

static bool runnable(const char *path)
{
    return access(path, X_OK) == 0;
}

/* dir of this executable into 'dir' (false when /proc is not there). */
static bool self_dir(char *dir, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", dir, cap - 1);
    if (n <= 0 || (size_t)n >= cap - 1) {
        return false;
    }
    dir[n] = '\0';
    char *slash = strrchr(dir, '/');
    if (slash == NULL) {
        return false;
    }
    *slash = '\0';
    return true;
}

static bool try_path(char *out, size_t cap, const char *dir, size_t dir_len,
                     const char *name)
{
    int n = snprintf(out, cap, "%.*s/%s", (int)dir_len, dir, name);
    return n > 0 && (size_t)n < cap && runnable(out);
}

/* Case 3: dir is <prefix>/lib/pythonX.Y/<site>/<sub>. */
static bool prefix_python(char *out, size_t cap, const char *dir)
{
    const char *lib = NULL;
    for (const char *p = strstr(dir, "/lib/python"); p != NULL;
         p = strstr(p + 1, "/lib/python")) {
        lib = p; /* the last one: a prefix may itself contain /lib/python */
    }
    if (lib == NULL) {
        return false;
    }
    const char *ver = lib + strlen("/lib/"); /* "pythonX.Y/..." */
    size_t ver_len = strcspn(ver, "/");
    char name[64];
    if (ver_len >= sizeof name) {
        return false;
    }
    memcpy(name, ver, ver_len);
    name[ver_len] = '\0';
    char bin[PATH_MAX];
    int n = snprintf(bin, sizeof bin, "%.*s/bin", (int)(lib - dir), dir);
    if (n <= 0 || (size_t)n >= sizeof bin) {
        return false;
    }
    return try_path(out, cap, bin, (size_t)n, name) ||
           try_path(out, cap, bin, (size_t)n, "python3");
}

int pz_cli_find_python(char *out, size_t cap, pz_error *err)
{
    const char *env = getenv("PARZEN_PYTHON");
    if (env != NULL && env[0] != '\0') {
        if (strlen(env) >= cap) {
            return pz_cli_fail(err, PZ_EINVAL, "PARZEN_PYTHON is too long");
        }
        strcpy(out, env);
        return PZ_OK;
    }
    char dir[PATH_MAX];
    if (self_dir(dir, sizeof dir) &&
        (try_path(out, cap, dir, strlen(dir), "python3") ||
         try_path(out, cap, dir, strlen(dir), "python") ||
         prefix_python(out, cap, dir))) {
        return PZ_OK;
    }
    if (cap <= strlen("python3")) {
        return pz_cli_fail(err, PZ_EINVAL, "no room for a path");
    }
    strcpy(out, "python3"); /* execvp searches PATH */
    return PZ_OK;
}

int pz_cli_exec_python(const char *cmd, const char *const *args, size_t n,
                       pz_error *err)
{
    char python[PATH_MAX];
    int rc = pz_cli_find_python(python, sizeof python, err);
    if (rc != PZ_OK) {
        return rc;
    }
    /* python -c BOOT CMD ARGS... NULL */
    const char **argv = calloc(n + 5, sizeof *argv);
    if (argv == NULL) {
        return pz_cli_fail(err, PZ_ENOMEM, "out of memory");
    }
    argv[0] = python;
    argv[1] = "-c";
    argv[2] = boot;
    argv[3] = cmd;
    for (size_t i = 0; i < n; i++) {
        argv[4 + i] = args[i];
    }
    fflush(stdout);
    fflush(stderr);
    /* exec's argv is char *const[] for historical reasons; it is not
     * modified. */
    execvp(python, (char *const *)(void *)argv);
    int e = errno;
    free(argv);
    return pz_cli_fail(err, PZ_ENOTFOUND,
                       "%s: cannot run Python '%s' (%s): install parzen "
                       "with pip (pip install \"parzen[optuna]\") or set "
                       "PARZEN_PYTHON",
                       cmd, python, strerror(e));
}
