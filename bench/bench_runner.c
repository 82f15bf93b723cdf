/*
 * bench_runner.c -- per-trial overhead of the local process pool beyond
 * the command's own run time.
 *
 * Baseline: the command run N times in a row directly (posix_spawn +
 * waitpid, nothing else): what any launcher must pay. Then N trials of
 * the same command through pz_runner_run (in-memory study) and through
 * pz_runner_run_store (a fresh SQLite store in $TMPDIR: two write
 * transactions per trial), at parallelism 1 with the random sampler, so
 * the difference is the runner: ask, point JSON, stdin file, pipes,
 * process group, poll loop, result parsing, tell, store writes. A TPE
 * row shows the sampler's own cost on top (it grows with the history).
 * The ways are run in turn, 7 times; a figure is the median over the
 * repetitions, the overhead the median of (runner - direct) within each.
 *
 * Usage: bench_runner [N]   (default 1000 trials)
 * Not a test: it asserts nothing about time, it reports (markdown).
 */
#define _GNU_SOURCE /* environ */
#include "parzen.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

static const char space[] =
    "{\"x\": {\"hp\": \"uniform\", \"low\": 0, \"high\": 1}}";

static void die(const char *what, const pz_error *err)
{
    fprintf(stderr, "bench_runner: %s: %s\n", what, err ? err->msg : "");
    exit(1);
}

/* Seconds to run 'argv' n times directly, output to /dev/null. */
static double direct(char *const *argv, size_t n)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    double t0 = bench_now_s();
    for (size_t i = 0; i < n; i++) {
        pid_t pid;
        if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
            die("posix_spawn", NULL);
        }
        int status;
        waitpid(pid, &status, 0);
    }
    double t = bench_now_s() - t0;
    posix_spawn_file_actions_destroy(&fa);
    return t;
}

static pz_runner *runner_for(char *const *argv, size_t n)
{
    pz_runner *r = NULL;
    pz_error err = {0};
    if (pz_runner_new(&r, (const char *const *)argv, &err) != PZ_OK) {
        die("pz_runner_new", &err);
    }
    pz_stop_rules rules = pz_stop_rules_none();
    rules.max_trials = n;
    pz_runner_set_stop_rules(r, &rules);
    return r;
}

/* Seconds for n trials through the runner on an in-memory study. */
static double in_memory(char *const *argv, size_t n)
{
    pz_space *sp = NULL;
    pz_study *st = NULL;
    pz_error err = {0};
    if (pz_space_from_json(&sp, space, strlen(space), &err) != PZ_OK ||
        pz_study_new(&st, sp, &err) != PZ_OK) {
        die("study", &err);
    }
    pz_runner *r = runner_for(argv, n);
    double t0 = bench_now_s();
    if (pz_runner_run(r, st, &err) != PZ_OK) {
        die("pz_runner_run", &err);
    }
    double t = bench_now_s() - t0;
    pz_runner_free(r);
    pz_study_free(st);
    pz_space_free(sp);
    return t;
}

/* Seconds for n trials through the runner on a fresh store file. */
static double with_store(char *const *argv, size_t n, const char *sampler)
{
    const char *tmp = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/bench-runner-%d.db",
             tmp && tmp[0] ? tmp : "/tmp", (int)getpid());
    pz_store *s = NULL;
    pz_error err = {0};
    pz_study_config cfg = {.space_json = space, .sampler = sampler};
    if (pz_store_open(&s, path, PZ_STORE_CREATE, &err) != PZ_OK ||
        pz_store_open_study(s, "bench", &cfg, &err) != PZ_OK) {
        die("store", &err);
    }
    pz_runner *r = runner_for(argv, n);
    double t0 = bench_now_s();
    if (pz_runner_run_store(r, s, &err) != PZ_OK) {
        die("pz_runner_run_store", &err);
    }
    double t = bench_now_s() - t0;
    pz_runner_free(r);
    pz_store_close(s);
    for (const char *ext = ""; ext != NULL; ext = ext[0] == '\0'  ? "-wal"
                                                  : ext[1] == 'w' ? "-shm"
                                                                  : NULL) {
        char f[540];
        snprintf(f, sizeof f, "%s%s", path, ext);
        unlink(f);
    }
    return t;
}

#define REPS 7
#define N_WAYS 4 /* direct, in-memory, store random, store tpe */

static double median(double *t, size_t n)
{
    return bench_quantile(t, n, 0.5);
}

/* One repetition of every way, in turn, so that a change in the
 * machine's load hits them alike; 't[way][rep]' in seconds. */
static void measure(char *const *argv, size_t n, double t[N_WAYS][REPS])
{
    for (int rep = 0; rep < REPS; rep++) {
        t[0][rep] = direct(argv, n);
        t[1][rep] = in_memory(argv, n);
        t[2][rep] = with_store(argv, n, "random");
        t[3][rep] = with_store(argv, n, "tpe");
    }
}

static void bench_command(char *const *argv, const char *text, size_t n)
{
    static const char *const label[N_WAYS] = {
        NULL, "runner, in-memory study, random", "runner, SQLite store, random",
        "runner, SQLite store, tpe"};
    double t[N_WAYS][REPS];
    measure(argv, n, t);
    double base[REPS];
    memcpy(base, t[0], sizeof base);
    printf("| `%s` run directly (posix_spawn, waitpid) | %.3f ms | - |\n", text,
           median(t[0], REPS) / (double)n * 1e3);
    for (int w = 1; w < N_WAYS; w++) {
        double over[REPS]; /* paired with the same repetition's baseline */
        for (int rep = 0; rep < REPS; rep++) {
            over[rep] = t[w][rep] - base[rep];
        }
        printf("| %s | %.3f ms | %.3f ms |\n", label[w],
               median(t[w], REPS) / (double)n * 1e3,
               median(over, REPS) / (double)n * 1e3);
    }
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 1000;
    if (n == 0) {
        fprintf(stderr, "usage: bench_runner [N]\n");
        return 2;
    }
    static char bin_true[] = "/bin/true", bin_echo[] = "/bin/echo",
                half[] = "0.5";
    char *true_argv[] = {bin_true, NULL};
    char *echo_argv[] = {bin_echo, half, NULL};
    printf("%zu trials, parallelism 1, medians of %d interleaved runs\n\n", n,
           REPS);
    printf("| what | per trial | overhead per trial |\n");
    printf("|---|---:|---:|\n");
    bench_command(true_argv, "/bin/true", n);
    bench_command(echo_argv, "/bin/echo 0.5", n);
    return 0;
}
