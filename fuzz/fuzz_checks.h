/*
 * fuzz_checks.h -- the properties each fuzz target checks, callable from
 * the libFuzzer entry points and from the regression tests alike. A
 * violated property aborts (libFuzzer and Criterion both report it).
 */
#ifndef PZ_FUZZ_CHECKS_H
#define PZ_FUZZ_CHECKS_H

#include "parzen.h"

#include <stddef.h>
#include <stdint.h>

void pz_fuzz_space_json(const uint8_t *data, size_t size);
void pz_fuzz_result(const uint8_t *data, size_t size);
void pz_fuzz_store_open(const uint8_t *data, size_t size);
void pz_fuzz_cli_args(const uint8_t *data, size_t size);

#endif
