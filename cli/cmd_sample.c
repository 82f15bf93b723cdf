/*
 * cmd_sample.c -- 'parzen sample' and 'parzen validate': check a space
 * file, and draw points from it with the random sampler, one JSON object
 * per line with the user's nested structure rebuilt.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int pz_cli_fail(pz_error *err, int code, const char *fmt, ...)
{
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

int pz_cli_parse_u64(const char *opt, const char *text, uint64_t min,
                     uint64_t max, uint64_t *out, pz_error *err)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (text[0] == '\0' || text[0] == '-' || *end != '\0' || errno != 0 ||
        v < min || v > max) {
        return pz_cli_fail(err, PZ_EINVAL,
                           "%s expects a whole number from %llu to %llu, "
                           "got '%s'",
                           opt, (unsigned long long)min,
                           (unsigned long long)max, text);
    }
    *out = v;
    return PZ_OK;
}

uint64_t pz_cli_random_seed(void)
{
    uint64_t seed = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (f == NULL || fread(&seed, sizeof seed, 1, f) != 1) {
        seed = (uint64_t)time(NULL) ^ (uint64_t)clock();
    }
    if (f != NULL) {
        fclose(f);
    }
    return seed % 4294967296ULL; /* short enough to retype */
}

typedef struct sample_args {
    const char *space_path;
    uint64_t n;
    uint64_t seed;
    bool have_seed;
} sample_args;

static int need_value(int i, int argc, char **argv, pz_error *err)
{
    if (i + 1 >= argc) {
        return pz_cli_fail(err, PZ_EINVAL, "%s needs a value", argv[i]);
    }
    return PZ_OK;
}

static int parse_sample_args(int argc, char **argv, sample_args *a,
                             pz_error *err)
{
    int rc = PZ_OK;
    for (int i = 1; i < argc && rc == PZ_OK; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-n") == 0 || strcmp(arg, "--n") == 0) {
            if ((rc = need_value(i, argc, argv, err)) == PZ_OK) {
                rc = pz_cli_parse_u64(arg, argv[++i], 0, 100000000, &a->n, err);
            }
        } else if (strcmp(arg, "--seed") == 0) {
            if ((rc = need_value(i, argc, argv, err)) == PZ_OK) {
                rc = pz_cli_parse_u64(arg, argv[++i], 0, UINT64_MAX, &a->seed,
                                      err);
                a->have_seed = true;
            }
        } else if (arg[0] == '-' && arg[1] != '\0') {
            rc =
                pz_cli_fail(err, PZ_EINVAL, "sample: unknown option '%s'", arg);
        } else if (a->space_path != NULL) {
            rc = pz_cli_fail(err, PZ_EINVAL,
                             "sample: unexpected argument "
                             "'%s'",
                             arg);
        } else {
            a->space_path = arg;
        }
    }
    if (rc == PZ_OK && a->space_path == NULL) {
        rc = pz_cli_fail(err, PZ_EINVAL,
                         "sample: missing SPACE.json (usage: parzen sample "
                         "SPACE.json [-n N] [--seed S])");
    }
    return rc;
}

static int print_points(pz_study *study, uint64_t n, pz_error *err)
{
    size_t dim = pz_space_size(pz_study_space(study));
    double *values = malloc((dim ? dim : 1) * sizeof *values);
    if (values == NULL) {
        return pz_cli_fail(err, PZ_ENOMEM, "out of memory");
    }
    int rc = PZ_OK;
    for (uint64_t i = 0; i < n && rc == PZ_OK; i++) {
        int64_t id;
        char *json = NULL;
        rc = pz_study_ask(study, &id, values, err);
        if (rc == PZ_OK) {
            rc = pz_space_point_json(pz_study_space(study), values, &json, err);
        }
        if (rc == PZ_OK && (puts(json) == EOF)) {
            rc = pz_cli_fail(err, PZ_EIO, "error writing to stdout");
        }
        pz_free(json);
    }
    free(values);
    return rc;
}

int pz_cli_sample_parse(int argc, char **argv, pz_error *err)
{
    sample_args a = {.n = 10};
    return parse_sample_args(argc, argv, &a, err);
}

int pz_cli_sample(int argc, char **argv, pz_error *err)
{
    sample_args a = {.n = 10};
    int rc = parse_sample_args(argc, argv, &a, err);
    if (rc != PZ_OK) {
        return rc;
    }
    pz_space *space = NULL;
    pz_study *study = NULL;
    rc = pz_space_from_file(&space, a.space_path, err);
    if (rc == PZ_OK && !a.have_seed) {
        /* Only once the input is good: a failure prints one line. */
        a.seed = pz_cli_random_seed();
        fprintf(stderr, "parzen: sampling with --seed %llu\n",
                (unsigned long long)a.seed);
    }
    if (rc == PZ_OK) {
        rc = pz_study_new(&study, space, err);
    }
    if (rc == PZ_OK) {
        pz_study_set_seed(study, a.seed);
        rc = print_points(study, a.n, err);
    }
    pz_study_free(study);
    pz_space_free(space);
    return rc;
}

int pz_cli_validate(int argc, char **argv, pz_error *err)
{
    if (argc != 2 || argv[1][0] == '-') {
        return pz_cli_fail(err, PZ_EINVAL,
                           "validate: usage: parzen validate SPACE.json");
    }
    pz_space *space = NULL;
    int rc = pz_space_from_file(&space, argv[1], err);
    if (rc == PZ_OK) {
        printf("%s: ok, %zu parameters\n", argv[1], pz_space_size(space));
    }
    pz_space_free(space);
    return rc;
}
