/*
 * Replays every input under fuzz/regressions/<target>/ through the same
 * property checks the fuzzers use, so each crash found stays fixed.
 */
#include "fuzz_checks.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t replay(const char *dir, void (*check)(const uint8_t *, size_t))
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "cannot open %s", dir);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        cr_assert_not_null(f, "cannot open %s", path);
        static uint8_t buf[1 << 20];
        size_t len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        check(buf, len);
        n++;
    }
    closedir(d);
    return n;
}

Test(fuzz_regressions, space_json_inputs_found_by_the_fuzzer_stay_fixed)
{
    size_t n = replay(PZ_SOURCE_DIR "/fuzz/regressions/space_json",
                      pz_fuzz_space_json);
    cr_assert_gt(n, 0, "no regression inputs found");
}

Test(fuzz_regressions, result_inputs_found_by_the_fuzzer_stay_fixed)
{
    size_t n = replay(PZ_SOURCE_DIR "/fuzz/regressions/result", pz_fuzz_result);
    cr_assert_gt(n, 0, "no regression inputs found");
}

Test(fuzz_regressions, store_inputs_found_by_the_fuzzer_stay_fixed)
{
    size_t n =
        replay(PZ_SOURCE_DIR "/fuzz/regressions/store", pz_fuzz_store_open);
    cr_assert_gt(n, 0, "no regression inputs found");
}

Test(fuzz_regressions, cli_args_inputs_found_by_the_fuzzer_stay_fixed)
{
    size_t n =
        replay(PZ_SOURCE_DIR "/fuzz/regressions/cli_args", pz_fuzz_cli_args);
    cr_assert_gt(n, 0, "no regression inputs found");
}

/* The seed corpora hold every bad input of the hardening issue: replaying
 * them checks the same properties outside the fuzzer. */
Test(fuzz_regressions, seed_corpora_pass_the_fuzz_properties)
{
    cr_assert_gt(
        replay(PZ_SOURCE_DIR "/fuzz/corpus/space_json", pz_fuzz_space_json),
        20);
    cr_assert_gt(replay(PZ_SOURCE_DIR "/fuzz/corpus/result", pz_fuzz_result),
                 40);
    cr_assert_gt(replay(PZ_SOURCE_DIR "/fuzz/corpus/store", pz_fuzz_store_open),
                 10);
    cr_assert_gt(
        replay(PZ_SOURCE_DIR "/fuzz/corpus/cli_args", pz_fuzz_cli_args), 20);
}
