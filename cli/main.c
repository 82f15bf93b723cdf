/*
 * main.c -- the parzen command: argv -> a subcommand.
 *
 * The only place that prints errors and picks exit codes. Subcommands
 * return a pz_status with the message in a pz_error; main prints one line
 * "parzen: <message>" and maps the status to an exit code:
 *   0 success, 2 bad input (usage, JSON, space), 3 store errors,
 *   130 interrupted, 1 anything else.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: parzen <command> [options]\n"
    "\n"
    "Hyperparameter optimization: TPE, annealing and random search.\n"
    "\n"
    "commands:\n"
    "  sample SPACE.json [-n N] [--seed S]   draw N points (JSON lines)\n"
    "  validate SPACE.json                   check a space file\n"
    "  run SPACE.json --max-evals N [options] -- COMMAND [ARGS...]\n"
    "                                        tune a command (resumable)\n"
    "  show [--trial ID]                     table of a study's trials\n"
    "  best                                  best trial as JSON\n"
    "  export [--format csv|jsonl]           every trial, CSV or JSON lines\n"
    "  export --format optuna --to URL [--replace]\n"
    "                                        into an Optuna storage (for\n"
    "                                        optuna-dashboard; needs Python)\n"
    "  status                                studies and running trials\n"
    "  (store commands take --store FILE (default parzen.db) and\n"
    "   --study NAME (default 'default'); 'parzen run --help' for more)\n"
    "\n"
    "options:\n"
    "  -h, --help      show this help\n"
    "  -V, --version   show the version\n"
    "\n"
    "exit status: 0 ok, 1 failure, 2 bad input, 3 store error, 130 "
    "interrupted\n"
    "The space format is described in docs/space-format.md, the\n"
    "objective protocol and the store commands in docs/cli.md.\n";

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv, pz_error *err);
} command;

/* clang-format off */
static const command commands[] = {
    {"sample", pz_cli_sample},
    {"validate", pz_cli_validate},
    {"run", pz_cli_run},
    {"show", pz_cli_show},
    {"best", pz_cli_best},
    {"export", pz_cli_export},
    {"status", pz_cli_status},
};
/* clang-format on */

static int exit_status(int rc)
{
    switch (rc) {
    case PZ_OK:
        return 0;
    case PZ_EINVAL:
    case PZ_ESPACE:
    case PZ_EIO:
        return 2;
    case PZ_ESTORE:
    case PZ_EBUSY:
        return 3;
    case PZ_ECANCELED:
        return 130;
    default:
        return 1;
    }
}

static int dispatch(int argc, char **argv, pz_error *err)
{
    if (argc < 2) {
        return pz_cli_fail(err, PZ_EINVAL,
                           "no command given (try 'parzen --help')");
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 ||
        strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return PZ_OK;
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
        printf("parzen %s\n", pz_version());
        return PZ_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(commands[i].name, cmd) == 0) {
            return commands[i].run(argc - 1, argv + 1, err);
        }
    }
    return pz_cli_fail(err, PZ_EINVAL, "unknown %s '%s' (try 'parzen --help')",
                       cmd[0] == '-' ? "option" : "command", cmd);
}

int main(int argc, char **argv)
{
    pz_error err = {0};
    int rc = dispatch(argc, argv, &err);
    if (rc != PZ_OK) {
        pz_cli_one_line(err.msg,
                        sizeof err.msg); /* a path may hold a newline */
        fprintf(stderr, "parzen: %s\n", err.msg[0] ? err.msg : pz_strerror(rc));
    }
    if (fflush(stdout) != 0 && rc == PZ_OK) {
        fprintf(stderr, "parzen: error writing output\n");
        return 1;
    }
    return exit_status(rc);
}
