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

int pz_cli_sample(int argc, char **argv, pz_error *err);
int pz_cli_validate(int argc, char **argv, pz_error *err);

#endif
