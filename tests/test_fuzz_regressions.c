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
