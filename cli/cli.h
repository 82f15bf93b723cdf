/*
 * cli.h -- what the subcommands of the parzen command share. Commands
 * use only the public API (parzen.h); they never print errors
 * themselves but return a status with a message (main.c prints it).
 */
#ifndef PZ_CLI_H
#define PZ_CLI_H

#include "parzen.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#if defined(__GNUC__)
#define PZ_CLI_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define PZ_CLI_PRINTF(f, a)
#endif

/* Fill 'err' and return 'code'. */
int pz_cli_fail(pz_error *err, int code, const char *fmt, ...)
    PZ_CLI_PRINTF(3, 4);

/* Parse a whole decimal number in [min, max] for option 'opt'. */
int pz_cli_parse_u64(const char *opt, const char *text, uint64_t min,
                     uint64_t max, uint64_t *out, pz_error *err);

/* A seed from the operating system, for runs given no --seed. */
uint64_t pz_cli_random_seed(void);

/* Make an error message ('cap' bytes of room, at most a pz_error's) one
 * printable line in place: control bytes (from an argument or a path) are
 * escaped as the library does (\n, \r, \t, \xNN); a message that no
 * longer fits is cut before an escape. main.c prints it so. */
void pz_cli_one_line(char *msg, size_t cap);

int pz_cli_sample(int argc, char **argv, pz_error *err);
int pz_cli_validate(int argc, char **argv, pz_error *err);

/* cmd_run.c, cmd_show.c: tune a command, read a store. */
int pz_cli_run(int argc, char **argv, pz_error *err);
int pz_cli_show(int argc, char **argv, pz_error *err);
int pz_cli_best(int argc, char **argv, pz_error *err);
int pz_cli_export(int argc, char **argv, pz_error *err);
int pz_cli_status(int argc, char **argv, pz_error *err);

/* Parse-only entries: the argument checks of a command without running
 * it (the fuzzer and the tests call them). 'cmd' is "show", "best",
 * "export" or "status". */
int pz_cli_run_parse(int argc, char **argv, pz_error *err);
int pz_cli_sample_parse(int argc, char **argv, pz_error *err);
int pz_cli_store_parse(const char *cmd, int argc, char **argv, pz_error *err);

/* python_exec.c: the interpreter of this installation (see the file's
 * comment for the order it looks in) into 'out'; and the handing over
 * of command 'cmd' ("export --format optuna") to parzen.export in it,
 * with n arguments. Returns only on failure. */
enum { PZ_CLI_PYTHON_CAP = 4096 }; /* room for its path (Linux PATH_MAX) */
int pz_cli_find_python(char *out, size_t cap, pz_error *err);
int pz_cli_exec_python(const char *cmd, const char *const *args, size_t n,
                       pz_error *err);

/* run_mlflow.c: 'parzen run --mlflow URI', the MLflow logger process
 * (python -m parzen.mlflow_log follow) beside a run. */
typedef struct pz_cli_mlflow_args {
    const char *uri, *store_path, *study;
    uint64_t max_evals, parallelism;
    bool quiet;
} pz_cli_mlflow_args;

typedef struct pz_cli_mlflow {
    int pid;   /* the logger, -1 when none */
    int to_fd; /* its stdin: closing it ends the run */
} pz_cli_mlflow;

/* Start the logger and wait until it is ready; PZ_EINVAL with the reason
 * (MLflow or parzen missing in $PARZEN_PYTHON / python3) otherwise. */
int pz_cli_mlflow_start(pz_cli_mlflow *m, const pz_cli_mlflow_args *a,
                        pz_error *err);
/* Close its stdin and wait while it logs the last trials (bounded by its
 * own retry limit). A no-op when none was started. */
void pz_cli_mlflow_finish(pz_cli_mlflow *m);

/* cli_out.c: output helpers shared by the store commands. */
/* A JSON string literal of 'n' bytes of 's' (invalid UTF-8 bytes are
 * written as U+FFFD). */
void pz_cli_json_string(FILE *f, const char *s, size_t n);
/* A JSON number in its shortest exact form, or null when not finite. */
void pz_cli_json_number(FILE *f, double v);
/* "2024-05-01T12:00:00.123Z", or "" for NaN. */
void pz_cli_format_time(double unix_s, char *buf, size_t n);
/* Parse a finite number for option 'opt' (> 0 when 'positive'). */
int pz_cli_parse_double(const char *opt, const char *text, bool positive,
                        double *out, pz_error *err);

#endif
