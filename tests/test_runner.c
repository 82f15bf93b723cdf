/*
 * test_runner.c -- the local process pool and its helpers: objectives
 * that succeed and fail in every way (exit 1, garbage, NaN, a hang past
 * the trial timeout, megabytes of output, death by a signal), the
 * objective protocol (stdin, environment, result file, {label}
 * placeholders, shell metacharacters passed literally), stop rules,
 * interruption, and runs over a store.
 *
 * Objectives are small /bin/sh scripts passed as 'sh -c SCRIPT sh ARGS':
 * the runner itself never uses a shell. Nothing here depends on timing:
 * timeouts are generous, hanging objectives sleep 1000 s and are killed.
 */
#define _DEFAULT_SOURCE /* mkdtemp */
#include "pz_internal.h"
#include "pz_test_util.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char dir[64];

static void make_dir(void)
{
    strcpy(dir, "/tmp/pz-runner-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(runner, .init = make_dir, .fini = remove_dir);
TestSuite(runner_io);

/* A study on a JSON space with the random sampler. */
static pz_study *study_on(const char *json, uint64_t seed)
{
    pz_space *sp = NULL;
    pz_study *st = NULL;
    pz_error err = {0};
    cr_assert_eq(pz_space_from_json(&sp, json, strlen(json), &err), PZ_OK, "%s",
                 err.msg);
    cr_assert_eq(pz_study_new(&st, sp, &err), PZ_OK);
    pz_study_set_seed(st, seed);
    pz_space_free(sp);
    return st;
}

static const char xspace[] =
    "{\"x\": {\"hp\": \"uniform\", \"low\": 0, \"high\": 1}}";

/* A runner for 'sh -c SCRIPT sh [ARG]'. */
static pz_runner *sh_runner(const char *script, const char *arg)
{
    const char *argv[] = {"/bin/sh", "-c", script, "sh", arg, NULL};
    pz_runner *r = NULL;
    pz_error err = {0};
    cr_assert_eq(pz_runner_new(&r, argv, &err), PZ_OK, "%s", err.msg);
    return r;
}

static void set_max(pz_runner *r, size_t n)
{
    pz_stop_rules rules = pz_stop_rules_none();
    rules.max_trials = n;
    pz_runner_set_stop_rules(r, &rules);
}

static int run(pz_runner *r, pz_study *st)
{
    pz_error err = {0};
    int rc = pz_runner_run(r, st, &err);
    cr_assert(rc == PZ_OK || rc == PZ_ECANCELED, "rc %d: %s", rc, err.msg);
    return rc;
}

static pz_trial_info trial(const pz_study *st, size_t i)
{
    pz_trial_info t;
    cr_assert_eq(pz_study_trial(st, i, &t, NULL), PZ_OK);
    return t;
}

/* Errors of FINISH events, by trial id (ids < 16). */
typedef struct finish_log {
    int n_start, n_finish;
    char error[16][128];
    pz_trial_state state[16];
    double loss[16];
} finish_log;

static void log_event(const pz_runner_event *ev, void *ud)
{
    finish_log *l = ud;
    if (ev->kind == PZ_RUNNER_START) {
        l->n_start++;
    } else if (ev->kind == PZ_RUNNER_FINISH && ev->trial_id < 16) {
        l->n_finish++;
        snprintf(l->error[ev->trial_id], 128, "%s", ev->error ? ev->error : "");
        l->state[ev->trial_id] = ev->state;
        l->loss[ev->trial_id] = ev->loss;
    }
}

/* ----------------------------------------------------------- protocol */

Test(runner, runs_every_trial_and_records_its_loss)
{
    pz_study *st = study_on(xspace, 1);
    pz_runner *r = sh_runner("echo \"$PARZEN_TRIAL_ID\"", NULL);
    set_max(r, 10);
    cr_assert_eq(pz_runner_set_parallelism(r, 3, NULL), PZ_OK);
    finish_log log = {0};
    pz_runner_set_events(r, log_event, &log, 0);
    cr_assert_eq(run(r, st), PZ_OK);
    cr_assert_str_eq(pz_runner_stop_reason(r), "max_trials");
    cr_assert_eq(pz_study_n_trials(st), 10);
    cr_assert_eq(log.n_start, 10);
    cr_assert_eq(log.n_finish, 10);
    for (size_t i = 0; i < 10; i++) {
        pz_trial_info t = trial(st, i);
        cr_assert_eq(t.state, PZ_TRIAL_DONE, "trial %lld: %s", (long long)t.id,
                     log.error[t.id]);
        cr_assert_eq(t.loss, (double)t.id);
    }
    pz_runner_free(r);
    pz_study_free(st);
    pzt_assert_no_leaks();
}

Test(runner, point_comes_on_stdin_and_in_the_environment)
{
    pz_study *st = study_on(xspace, 2);
    pz_runner *r =
        sh_runner("read -r line; [ \"$line\" = \"$PARZEN_PARAMS\" ] || exit 3;"
                  " case \"$PARZEN_PARAMS\" in '{\"x\":'*) ;; *) exit 4;; esac;"
                  " [ -n \"$PARZEN_RESULT_FILE\" ] || exit 5; echo 0.5",
                  NULL);
    set_max(r, 3);
    finish_log log = {0};
    pz_runner_set_events(r, log_event, &log, 0);
    run(r, st);
    cr_assert_eq(pz_study_count(st, PZ_TRIAL_DONE), 3, "%s", log.error[0]);
    pz_runner_free(r);
    pz_study_free(st);
}

Test(runner, result_file_wins_over_stdout_and_keeps_extra_keys)
{
    pz_study *st = study_on(xspace, 3);
    pz_runner *r =
        sh_runner("echo '{\"loss\": 0.125, \"status\": \"ok\", \"acc\": 0.9}'"
                  " > \"$PARZEN_RESULT_FILE\"; echo 99",
                  NULL);
    set_max(r, 2);
    run(r, st);
    cr_assert_eq(trial(st, 0).loss, 0.125);
    cr_assert_eq(trial(st, 1).loss, 0.125);
    pz_runner_free(r);
    pz_study_free(st);
}

/* Trial i of 'script' runs case branch i: every way to fail. */
static const char failures[] =
    "case \"$PARZEN_TRIAL_ID\" in"
    " 0) echo boom >&2; exit 1;;"
    " 1) echo 'not a number';;"
    " 2) echo nan;;"
    " 3) echo inf;;"
    " 4) kill -9 $$;;"
    " 5) echo '{\"status\": \"fail\"}';;"
    " 6) echo '{\"loss\": \"2.5\"}';;"
    " 7) echo '{\"status\": \"ok\"}';;"
    " 8) echo '{\"loss\": 1, \"status\": \"weird\"}';;"
    " 9) echo '{\"loss\": 1,';;"
    " 10) ;;"
    " *) echo 1;;"
    " esac";

Test(runner, objectives_that_fail_in_every_way_become_error_trials)
{
    pz_study *st = study_on(xspace, 4);
    pz_runner *r = sh_runner(failures, NULL);
    set_max(r, 12);
    pz_runner_set_parallelism(r, 4, NULL);
    finish_log log = {0};
    pz_runner_set_events(r, log_event, &log, 0);
    cr_assert_eq(run(r, st), PZ_OK, "failing objectives are data");
    const char *want[] = {"exit status 1: boom",
                          "unparsable result 'not a number'",
                          "the loss is NaN",
                          "the loss is +inf",
                          "killed by signal 9",
                          "",
                          "",
                          "status \"ok\" but no \"loss\"",
                          "\"status\" must be \"ok\" or \"fail\"",
                          "not a valid JSON object",
                          "no result"};
    for (int id = 0; id < 11; id++) {
        bool ok = id == 5 || id == 6;
        cr_assert_eq(log.state[id], ok ? PZ_TRIAL_DONE : PZ_TRIAL_ERROR,
                     "trial %d: %s", id, log.error[id]);
        cr_assert(strstr(log.error[id], want[id]) != NULL,
                  "trial %d: '%s' lacks '%s'", id, log.error[id], want[id]);
    }
    cr_assert_eq(log.loss[6], 2.5, "a numeric string is a loss");
    cr_assert_eq(pz_study_count(st, PZ_TRIAL_ERROR), 9);
    pz_trial_info fail = trial(st, 5);
    cr_assert(isinf(fail.loss), "a 'fail' trial ranks last");
    pz_runner_free(r);
    pz_study_free(st);
    pzt_assert_no_leaks();
}

/* Is any live (not zombie) process in process group 'pgid'? */
static bool group_alive(long pgid)
{
    DIR *d = opendir("/proc");
    cr_assert_not_null(d);
    struct dirent *e;
    bool alive = false;
    while (!alive && (e = readdir(d)) != NULL) {
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f != NULL) {
            fclose(f);
        }
        buf[n] = '\0';
        char *p = strrchr(buf, ')');
        char state;
        long ppid, pg;
        if (p != NULL &&
            sscanf(p + 1, " %c %ld %ld", &state, &ppid, &pg) == 3) {
            alive = pg == pgid && state != 'Z' && state != 'X';
        }
    }
    closedir(d);
    return alive;
}

/* Wait (bounded, generous) for a process group to be gone. */
static bool group_gone(long pgid)
{
    for (int i = 0; i < 2000; i++) {
        if (!group_alive(pgid)) {
            return true;
        }
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    return false;
}

static long read_pid(const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    long pid = -1;
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fscanf(f, "%ld", &pid), 1);
    fclose(f);
    return pid;
}

Test(runner, trial_timeout_kills_the_whole_process_group)
{
    pz_study *st = study_on(xspace, 5);
    /* The shell starts a grandchild that would outlive it. */
    pz_runner *r = sh_runner("echo $$ > \"$1/pid\"; sleep 1000 & wait", dir);
    set_max(r, 1);
    pz_runner_set_trial_timeout(r, 0.3, NULL);
    pz_runner_set_kill_grace(r, 30, NULL);
    finish_log log = {0};
    pz_runner_set_events(r, log_event, &log, 0);
    run(r, st);
    cr_assert_eq(trial(st, 0).state, PZ_TRIAL_ERROR);
    cr_assert(strstr(log.error[0], "timed out after 0.3 s") != NULL, "%s",
              log.error[0]);
    long pgid = read_pid("pid");
    cr_assert(group_gone(pgid), "process group %ld still runs", pgid);
    pz_runner_free(r);
    pz_study_free(st);
}

Test(runner, a_term_ignoring_trial_is_killed_after_the_grace)
{
    pz_study *st = study_on(xspace, 5);
    pz_runner *r = sh_runner("trap '' TERM; echo $$ > \"$1/pid\"; "
                             "while :; do sleep 1; done",
                             dir);
    set_max(r, 1);
    pz_runner_set_trial_timeout(r, 0.2, NULL);
    pz_runner_set_kill_grace(r, 0.2, NULL);
    run(r, st);
    cr_assert_eq(trial(st, 0).state, PZ_TRIAL_ERROR);
    cr_assert(group_gone(read_pid("pid")));
    pz_runner_free(r);
    pz_study_free(st);
}

Test(runner, megabytes_of_output_keep_a_bounded_tail)
{
    pz_study *st = study_on(xspace, 6);
    pz_runner *r = sh_runner("i=0; while [ $i -lt 4000 ]; do"
                             " echo 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx';"
                             " echo 'yyyyyyyyyyyyyyyyyyyyyyyyyyyyyy' >&2;"
                             " i=$((i+1)); done; echo 0.75",
                             NULL);
    set_max(r, 2);
    pz_runner_set_parallelism(r, 2, NULL);
    run(r, st);
    cr_assert_eq(trial(st, 0).loss, 0.75, "the last line survives");
    cr_assert_eq(trial(st, 1).loss, 0.75);
    pz_runner_free(r);
    pz_study_free(st);
}

Test(runner, shell_metacharacters_reach_the_program_literally)
{
    static const char space[] =
        "{\"v\": {\"hp\": \"choice\", \"options\": [\"; rm -rf ~\","
        " \"$(touch PWNED)\", \"`touch PWNED`\", \"a b' \\\"c\", \"x\\ny\"]}}";
    pz_study *st = study_on(space, 7);
    char out[128];
    snprintf(out, sizeof out, "%s/out", dir);
    const char *argv[] = {
        "/bin/sh", "-c", "printf '%s|' \"$1\" >> \"$2\"; echo 0", "sh", "{v}",
        out,       NULL};
    pz_runner *r = NULL;
    cr_assert_eq(pz_runner_new(&r, argv, NULL), PZ_OK);
    set_max(r, 25);
    cr_assert_eq(chdir(dir), 0);
    run(r, st);
    const char *values[] = {"; rm -rf ~", "$(touch PWNED)", "`touch PWNED`",
                            "a b' \"c", "x\ny"};
    FILE *f = fopen(out, "r");
    char buf[4096] = {0};
    cr_assert_not_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    cr_assert_gt(n, 0);
    for (size_t i = 0; i < pz_study_n_trials(st); i++) {
        pz_trial_info t = trial(st, i);
        cr_assert_eq(t.state, PZ_TRIAL_DONE);
        char want[64];
        snprintf(want, sizeof want, "%s|", values[(int)t.values[0]]);
        cr_assert(strstr(buf, want) != NULL, "'%s' not in '%s'", want, buf);
    }
    cr_assert_neq(access("PWNED", F_OK), 0, "no shell ran the value");
    pz_runner_free(r);
    pz_study_free(st);
}

Test(runner, placeholders_take_the_value_in_the_users_point)
{
    static const char space[] =
        "{\"model\": {\"hp\": \"choice\", \"label\": \"m\", \"options\": ["
        "  {\"kind\": \"svm\", \"C\": {\"hp\": \"quniform\", \"label\": \"C\","
        "   \"low\": 1, \"high\": 4, \"q\": 1}},"
        "  \"tree\"]},"
        " \"n\": {\"hp\": \"randint\", \"low\": 5, \"high\": 6}}";
    pz_study *st = study_on(space, 8);
    char out[128];
    snprintf(out, sizeof out, "%s/args", dir);
    const char *argv[] = {"/bin/sh",
                          "-c",
                          "printf '%s %s %s %s\\n' \"$1\" \"$2\" \"$3\" "
                          "\"$4\" >> \"$5\"; echo 0",
                          "sh",
                          "m={m}",
                          "C={C}",
                          "n={n}",
                          "{unknown} {",
                          out,
                          NULL};
    pz_runner *r = NULL;
    cr_assert_eq(pz_runner_new(&r, argv, NULL), PZ_OK);
    set_max(r, 20);
    run(r, st);
    FILE *f = fopen(out, "r");
    cr_assert_not_null(f);
    char line[256];
    int n_svm = 0, n_tree = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        int C;
        if (sscanf(line, "m={\"kind\":\"svm\",\"C\":%d", &C) == 1) {
            char want[128];
            snprintf(want, sizeof want, "C=%d n=5 {unknown} {\n", C);
            cr_assert(strstr(line, want) != NULL, "%s", line);
            n_svm++;
        } else {
            cr_assert_str_eq(line, "m=tree C= n=5 {unknown} {\n");
            n_tree++;
        }
    }
    fclose(f);
    cr_assert_gt(n_svm, 0);
    cr_assert_gt(n_tree, 0);
    pz_runner_free(r);
    pz_study_free(st);
}

Test(runner, missing_command_is_rejected_before_running)
{
    const char *argv[] = {"no-such-command-pz", NULL};
    pz_runner *r = NULL;
    pz_error err = {0};
    cr_assert_eq(pz_runner_new(&r, argv, &err), PZ_EINVAL);
    cr_assert_null(r);
    cr_assert(strstr(err.msg, "no-such-command-pz") != NULL, "%s", err.msg);
    const char *none[] = {NULL};
    cr_assert_eq(pz_runner_new(&r, none, &err), PZ_EINVAL);
}

/* ---------------------------------------------------------- stop rules */

Test(runner, loss_threshold_stops_starting_trials)
{
    pz_study *st = study_on(xspace, 9);
    pz_runner *r = sh_runner("echo $((10 - PARZEN_TRIAL_ID))", NULL);
    pz_stop_rules rules = pz_stop_rules_none();
    rules.max_trials = 50;
    rules.loss_threshold = 6.5;
    pz_runner_set_stop_rules(r, &rules);
    run(r, st);
    cr_assert_str_eq(pz_runner_stop_reason(r), "loss_threshold");
    cr_assert_eq(pz_study_n_trials(st), 5, "losses 10, 9, 8, 7, 6");
    pz_runner_free(r);
    pz_study_free(st);
}

Test(runner, no_progress_stops_after_n_trials_without_a_better_loss)
{
    pz_study *st = study_on(xspace, 9);
    pz_runner *r = sh_runner("echo 1", NULL);
    set_max(r, 50);
    pz_runner_set_no_progress(r, 3);
    run(r, st);
    cr_assert_str_eq(pz_runner_stop_reason(r), "no_progress");
    cr_assert_eq(pz_study_n_trials(st), 4, "a best, then 3 without");
    pz_runner_free(r);
    pz_study_free(st);
}

Test(runner, run_timeout_cancels_running_trials)
{
    pz_study *st = study_on(xspace, 10);
    pz_runner *r = sh_runner("sleep 1000", NULL);
    pz_stop_rules rules = pz_stop_rules_none();
    rules.max_trials = 10;
    rules.timeout_s = 0.3;
    pz_runner_set_stop_rules(r, &rules);
    pz_runner_set_parallelism(r, 2, NULL);
    cr_assert_eq(run(r, st), PZ_OK);
    cr_assert_str_eq(pz_runner_stop_reason(r), "timeout");
    cr_assert_eq(pz_study_n_trials(st), 2);
    cr_assert_eq(pz_study_count(st, PZ_TRIAL_CANCEL), 2);
    pz_runner_free(r);
    pz_study_free(st);
}

static void interrupt_on_start(const pz_runner_event *ev, void *ud)
{
    int *n = ud;
    if (ev->kind == PZ_RUNNER_START && ++*n == 2) {
        raise(SIGINT);
    }
}

Test(runner, sigint_kills_running_trials_and_marks_them_canceled)
{
    pz_study *st = study_on(xspace, 11);
    const char *argv[] = {"/bin/sh", "-c", "echo $$ >> \"$1\"; sleep 1000",
                          "sh",      NULL, NULL};
    char pids[128];
    snprintf(pids, sizeof pids, "%s/pids", dir);
    argv[4] = pids;
    pz_runner *r = NULL;
    cr_assert_eq(pz_runner_new(&r, argv, NULL), PZ_OK);
    set_max(r, 10);
    pz_runner_set_parallelism(r, 2, NULL);
    int n = 0;
    pz_runner_set_events(r, interrupt_on_start, &n, 0);
    pz_error err = {0};
    cr_assert_eq(pz_runner_run(r, st, &err), PZ_ECANCELED);
    cr_assert(strstr(err.msg, "interrupted: 2 running trials") != NULL, "%s",
              err.msg);
    cr_assert_str_eq(pz_runner_stop_reason(r), "interrupted");
    cr_assert_eq(pz_study_count(st, PZ_TRIAL_CANCEL), 2);
    cr_assert_eq(pz_study_n_trials(st), 2);
    FILE *f = fopen(pids, "r");
    long pid;
    int n_groups = 0;
    while (f != NULL && fscanf(f, "%ld", &pid) == 1) {
        cr_assert(group_gone(pid), "group %ld", pid);
        n_groups++;
    }
    if (f != NULL) {
        fclose(f);
    }
    cr_assert_leq(n_groups, 2);
    /* The handlers were restored: a second run works. */
    pz_runner_set_events(r, NULL, NULL, 0);
    pz_runner_free(r);
    r = sh_runner("echo 1", NULL);
    set_max(r, 3);
    cr_assert_eq(run(r, st), PZ_OK);
    pz_runner_free(r);
    pz_study_free(st);
}

static int oom_run(pz_study *st)
{
    const char *argv[] = {"/bin/sh", "-c", "echo {x}", NULL};
    pz_runner *r = NULL;
    int rc = pz_runner_new(&r, argv, NULL);
    if (rc == PZ_OK) {
        set_max(r, 3);
        pz_runner_set_parallelism(r, 2, NULL);
        rc = pz_runner_run(r, st, NULL);
    }
    pz_runner_free(r);
    return rc;
}

Test(runner, allocation_failures_return_enomem_and_leak_nothing)
{
    for (long n = 0;; n++) {
        pz_study *st = study_on(xspace, 12);
        pz__alloc_fail_after(n);
        int rc = oom_run(st);
        long made = pz__alloc_fail_after(-1);
        cr_assert(rc == PZ_OK || rc == PZ_ENOMEM, "n = %ld: rc %d", n, rc);
        for (size_t i = 0; i < pz_study_n_trials(st); i++) {
            cr_assert_neq(trial(st, i).state, PZ_TRIAL_RUNNING,
                          "n = %ld: every started trial is told", n);
        }
        pz_study_free(st);
        if (made <= n) {
            cr_assert_eq(rc, PZ_OK);
            break; /* no allocation failed: every one was tried */
        }
        cr_assert_lt(n, 100000);
    }
    pzt_assert_no_leaks();
}

/* One store run in a fresh file with the n-th allocation failing;
 * nothing may stay RUNNING. */
static int oom_store_run(int n, long fail_after, long *made)
{
    char db[128];
    snprintf(db, sizeof db, "%s/oom%d.db", dir, n);
    pz_study_config cfg = {.space_json = xspace, .sampler = "tpe"};
    pz_store *s = NULL;
    cr_assert_eq(pz_store_open(&s, db, PZ_STORE_CREATE, NULL), PZ_OK);
    cr_assert_eq(pz_store_open_study(s, "oom", &cfg, NULL), PZ_OK);
    const char *argv[] = {"/bin/sh", "-c", "echo {x}", NULL};
    pz_runner *r = NULL;
    cr_assert_eq(pz_runner_new(&r, argv, NULL), PZ_OK);
    set_max(r, 3);
    pz_runner_set_parallelism(r, 2, NULL);
    pz__alloc_fail_after(fail_after);
    int rc = pz_runner_run_store(r, s, NULL);
    *made = pz__alloc_fail_after(-1);
    pz_runner_free(r);
    cr_assert_eq(pz_study_count(pz_store_study(s), PZ_TRIAL_RUNNING), 0);
    pz_store_close(s);
    return rc;
}

Test(runner, store_runs_survive_allocation_failures)
{
    for (long n = 0;; n++) {
        long made = 0;
        int rc = oom_store_run((int)n, n, &made);
        cr_assert(rc == PZ_OK || rc == PZ_ENOMEM, "n = %ld: rc %d", n, rc);
        if (made <= n) {
            cr_assert_eq(rc, PZ_OK);
            break;
        }
        cr_assert_lt(n, 100000);
    }
    pzt_assert_no_leaks();
}

/* --------------------------------------------------------------- store */

Test(runner, store_runs_resume_to_the_total_and_keep_output)
{
    char db[128];
    snprintf(db, sizeof db, "%s/r.db", dir);
    pz_study_config cfg = {.space_json = xspace, .sampler = "tpe", .seed = 3};
    for (int round = 0; round < 2; round++) {
        pz_store *s = NULL;
        cr_assert_eq(pz_store_open(&s, db, PZ_STORE_CREATE, NULL), PZ_OK);
        cr_assert_eq(pz_store_open_study(s, "r", &cfg, NULL), PZ_OK);
        pz_runner *r = sh_runner(
            "echo out-$PARZEN_TRIAL_ID; echo err-$PARZEN_TRIAL_ID >&2;"
            " echo 0.$PARZEN_TRIAL_ID",
            NULL);
        set_max(r, round == 0 ? 4 : 9);
        pz_runner_set_parallelism(r, 3, NULL);
        pz_error err = {0};
        cr_assert_eq(pz_runner_run_store(r, s, &err), PZ_OK, "%s", err.msg);
        cr_assert_eq(pz_study_count(pz_store_study(s), PZ_TRIAL_DONE),
                     round == 0 ? 4 : 9);
        pz_runner_free(r);
        pz_store_close(s);
    }
    pz_store *s = NULL;
    cr_assert_eq(pz_store_open(&s, db, 0, NULL), PZ_OK);
    cr_assert_eq(pz_store_open_study(s, "r", NULL, NULL), PZ_OK);
    cr_assert_eq(pz_study_n_trials(pz_store_study(s)), 9);
    pz_store_close(s);
    pzt_assert_no_leaks();
}

static int check_output(const pz_trial_record *rec, void *ud)
{
    (void)ud;
    char want[32];
    snprintf(want, sizeof want, "out-%lld\n", (long long)rec->id);
    cr_assert_eq(rec->stdout_len, strlen(want) + 4);
    cr_assert_eq(memcmp(rec->stdout_tail, want, strlen(want)), 0);
    cr_assert_eq(rec->stderr_len, strlen(want));
    return 0;
}

Test(runner, store_runs_record_output_tails_per_trial)
{
    char db[128];
    snprintf(db, sizeof db, "%s/o.db", dir);
    pz_study_config cfg = {.space_json = xspace, .sampler = "random"};
    pz_store *s = NULL;
    cr_assert_eq(pz_store_open(&s, db, PZ_STORE_CREATE, NULL), PZ_OK);
    cr_assert_eq(pz_store_open_study(s, "o", &cfg, NULL), PZ_OK);
    pz_runner *r = sh_runner("echo out-$PARZEN_TRIAL_ID;"
                             " echo err-$PARZEN_TRIAL_ID >&2; echo 0.5",
                             NULL);
    set_max(r, 3);
    cr_assert_eq(pz_runner_run_store(r, s, NULL), PZ_OK);
    for (int64_t id = 0; id < 3; id++) {
        cr_assert_eq(pz_store_get_trial(s, id, check_output, NULL, NULL),
                     PZ_OK);
    }
    pz_runner_free(r);
    pz_store_close(s);
}

Test(runner, retry_lost_reruns_canceled_trials_with_their_point)
{
    char db[128];
    snprintf(db, sizeof db, "%s/l.db", dir);
    pz_study_config cfg = {.space_json = xspace, .sampler = "random"};
    pz_store *s = NULL;
    cr_assert_eq(pz_store_open(&s, db, PZ_STORE_CREATE, NULL), PZ_OK);
    cr_assert_eq(pz_store_open_study(s, "l", &cfg, NULL), PZ_OK);
    double v[1];
    int64_t id;
    cr_assert_eq(pz_store_ask(s, 0, 0, &id, v, NULL), PZ_OK);
    pz_trial_result cancel = {.state = PZ_TRIAL_CANCEL, .loss = NAN};
    cr_assert_eq(pz_store_tell(s, id, &cancel, NULL), PZ_OK);
    pz_runner *r = sh_runner("echo $PARZEN_PARAMS > \"$1/p$PARZEN_TRIAL_ID\";"
                             " echo 1",
                             dir);
    set_max(r, 2);
    pz_runner_set_retry_lost(r, 1);
    cr_assert_eq(pz_runner_run_store(r, s, NULL), PZ_OK);
    const pz_study *st = pz_store_study(s);
    cr_assert_eq(pz_study_n_trials(st), 2, "trial 0 again, then trial 1");
    cr_assert_eq(pz_study_count(st, PZ_TRIAL_DONE), 2);
    char path[128], text[128] = {0};
    snprintf(path, sizeof path, "%s/p0", dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "trial 0 ran again");
    cr_assert_not_null(fgets(text, sizeof text, f));
    fclose(f);
    double x = strtod(strchr(text, ':') + 1, NULL);
    cr_assert_float_eq(x, v[0], 1e-12);
    pz_runner_free(r);
    pz_store_close(s);
}

/* ----------------------------------------------------------- runner_io */

Test(runner_io, tail_keeps_exactly_the_last_bytes)
{
    pz__tail t;
    cr_assert_eq(pz__runner_io_tail_init(&t, 7, NULL), PZ_OK);
    char ref[256];
    size_t ref_len = 0;
    pz__rng rng;
    pz__rng_seed(&rng, 1, 1);
    for (int round = 0; round < 500; round++) {
        char chunk[20];
        size_t n = (size_t)pz__rng_below(&rng, 20);
        for (size_t i = 0; i < n; i++) {
            chunk[i] = (char)('a' + (round + (int)i) % 26);
        }
        pz__runner_io_tail_push(&t, chunk, n);
        memcpy(ref + ref_len, chunk, n);
        ref_len += n;
        if (ref_len > 100) { /* keep the reference short */
            memmove(ref, ref + ref_len - 50, 50);
            ref_len = 50;
        }
        size_t len;
        const char *p = pz__runner_io_tail_bytes(&t, &len);
        size_t want = ref_len < 7 ? ref_len : 7;
        cr_assert_eq(len, want, "round %d", round);
        cr_assert_eq(memcmp(p, ref + ref_len - want, want), 0, "round %d",
                     round);
    }
    pz__runner_io_tail_fini(&t);
}

Test(runner_io, last_line_skips_trailing_blank_lines)
{
    size_t n = 0;
    const char *text = "a\n 0.5 \n\n  \n";
    const char *line = pz__runner_io_last_line(text, strlen(text), &n);
    cr_assert_not_null(line);
    cr_assert_eq(n, 4);
    cr_assert_eq(strncmp(line, " 0.5", 4), 0);
    cr_assert_null(pz__runner_io_last_line("\n \n", 3, &n));
    line = pz__runner_io_last_line("7", 1, &n);
    cr_assert_eq(n, 1);
}

static pz_command_outcome parse(const char *text)
{
    pz_command_outcome o;
    cr_assert_eq(pz__runner_io_parse(text, strlen(text), &o, NULL), PZ_OK);
    return o;
}

Test(runner_io, parses_numbers_and_result_objects)
{
    pz_command_outcome o = parse("  -1.5e-3\n");
    cr_assert_eq(o.state, PZ_TRIAL_DONE);
    cr_assert_eq(o.loss, -1.5e-3);
    cr_assert_str_eq(o.result_json, "{\"loss\":-0.0015,\"status\":\"ok\"}");
    pz_command_outcome_fini(&o);
    o = parse("{\"loss\": 0.1,\n \"true_loss\": 2, \"attachments\": {}}");
    cr_assert_eq(o.state, PZ_TRIAL_DONE);
    cr_assert_eq(o.loss, 0.1);
    cr_assert_str_eq(o.result_json,
                     "{\"status\":\"ok\",\"loss\": 0.1,  \"true_loss\": 2, "
                     "\"attachments\": {}}",
                     "kept as written, on one line, with a status");
    pz_command_outcome_fini(&o);
    o = parse("{\"status\": \"fail\", \"loss\": null}");
    cr_assert_eq(o.state, PZ_TRIAL_DONE);
    cr_assert_str_eq(o.status, "fail");
    cr_assert(isnan(o.loss));
    pz_command_outcome_fini(&o);
    const char *bad[] = {"",
                         "abc",
                         "1.5x",
                         "nan",
                         "-inf",
                         "1e999",
                         "{\"loss\": [1]}",
                         "{\"a\": 1, \"a\": 2}",
                         "[1]",
                         "{\"loss\": \"abc\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o = parse(bad[i]);
        cr_assert_eq(o.state, PZ_TRIAL_ERROR, "'%s'", bad[i]);
        cr_assert_neq(o.error[0], '\0', "'%s' has a reason", bad[i]);
        cr_assert_null(o.result_json);
    }
}

Test(runner_io, formats_doubles_in_their_shortest_exact_form)
{
    char buf[40];
    const double v[] = {0.1, 16, 1e-5, -2.5, 1.0 / 3, 1e300, 0};
    const char *want[] = {"0.1",    "16", "1e-05", "-2.5", "0.3333333333333333",
                          "1e+300", "0"};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        pz_format_double(v[i], buf, sizeof buf);
        cr_assert_str_eq(buf, want[i]);
        cr_assert_eq(strtod(buf, NULL), v[i]);
    }
}
