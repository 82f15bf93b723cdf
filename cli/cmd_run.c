/*
 * cmd_run.c -- 'parzen run': tune any command.
 *
 *   parzen run SPACE.json --max-evals N [options] -- COMMAND [ARGS...]
 *
 * Opens (or creates) a study in a store file, marks trials whose runner
 * died as lost, and runs the command once per trial through the local
 * process pool until N trials were evaluated in total, so the same line
 * run again resumes. The protocol a command sees is in docs/cli.md.
 *
 * Output: a progress line on stderr when it is a terminal (not with
 * --quiet), one JSON event per line on stdout with --json, and a summary
 * line on stderr at the end (not with --quiet). Errors are returned to
 * main.c, which prints them.
 */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RUN_USAGE                                                              \
    "usage: parzen run SPACE.json --max-evals N [options] -- COMMAND "         \
    "[ARGS...]"

static const char run_help[] = RUN_USAGE
    "\n"
    "\n"
    "Runs COMMAND once per trial (never through a shell) until N trials\n"
    "were evaluated in the study; the same line run again resumes.\n"
    "\n"
    "options:\n"
    "  --max-evals N        total number of evaluated trials (required)\n"
    "  --parallelism P      trials running at once (default 1)\n"
    "  --algo NAME          mtpe (default), tpe, rand, anneal or mix\n"
    "  --seed S             seed of a new study (default: chosen, stored)\n"
    "  --timeout SEC        stop the run after SEC seconds\n"
    "  --trial-timeout SEC  kill a trial after SEC seconds (an error)\n"
    "  --loss-threshold X   stop once the best loss is below X\n"
    "  --patience N         stop after N trials without a better loss\n"
    "  --store FILE         store file (default parzen.db)\n"
    "  --study NAME         study in the store (default 'default')\n"
    "  --retry-lost         re-run lost and interrupted trials first\n"
    "  --pruner NAME        stop unpromising trials from their reports:\n"
    "                       median, sha (successive halving), hyperband\n"
    "  --pruner-opt K=V     a pruner option (repeatable), e.g.\n"
    "                       n_startup_trials=5, reduction_factor=3,\n"
    "                       max_resource=27 (docs/cli.md, \"Pruning\")\n"
    "  --quiet              no progress line, no summary\n"
    "  --json               one JSON event per line on stdout\n"
    "  --mlflow URI         log the study (parent run) and every trial (child\n"
    "                       runs) to the MLflow tracking URI; needs parzen\n"
    "                       and mlflow in $PARZEN_PYTHON or python3\n"
    "  --spark MASTER       run the trials as Spark tasks (see docs/spark.md;\n"
    "                       needs PySpark and parzen in $PARZEN_PYTHON or\n"
    "                       python3, the command on every executor)\n"
    "  --report-address H[:P]  with --spark --pruner: where executors send\n"
    "                       reports (default: spark.driver.host)\n"
    "\n"
    "The command gets the point as JSON on stdin and in PARZEN_PARAMS,\n"
    "PARZEN_TRIAL_ID and PARZEN_RESULT_FILE, and {label} in ARGS becomes\n"
    "the value of 'label'. It reports a loss by writing a number or a JSON\n"
    "object to PARZEN_RESULT_FILE, or as the last line of its stdout, and\n"
    "intermediate values by appending lines 'STEP VALUE' to\n"
    "PARZEN_REPORT_FILE (what --pruner decides from).\n"
    "See docs/cli.md.\n";

typedef struct run_args {
    const char *space_path;
    uint64_t max_evals;
    uint64_t parallelism;
    const char *algo; /* NULL: the study's, "mtpe" for a new one */
    uint64_t seed;
    bool have_seed;
    double timeout_s, trial_timeout_s, loss_threshold;
    uint64_t patience;
    bool old_patience; /* spelled --no-progress (deprecated) */
    const char *store_path, *study;
    const char *spark;  /* --spark MASTER: hand over to the Python driver */
    const char *mlflow; /* --mlflow URI: log trials (run_mlflow.c) */
    const char *pruner; /* --pruner NAME, NULL: none */
    const char *report_address; /* --report-address (--spark --pruner) */
    char pruner_opts[512];      /* --pruner-opt K=V as a JSON object's body */
    bool retry_lost, quiet, json, help;
    char **cmd; /* after "--", NULL-terminated (argv's) */
} run_args;

/* ------------------------------------------------------------- options */

typedef int (*opt_fn)(run_args *a, const char *opt, const char *val,
                      pz_error *err);

static int opt_max_evals(run_args *a, const char *o, const char *v,
                         pz_error *err)
{
    return pz_cli_parse_u64(o, v, 1, 1000000000, &a->max_evals, err);
}

static int opt_parallelism(run_args *a, const char *o, const char *v,
                           pz_error *err)
{
    return pz_cli_parse_u64(o, v, 1, 4096, &a->parallelism, err);
}

static int opt_algo(run_args *a, const char *o, const char *v, pz_error *err)
{
    static const char *const names[] = {"tpe",    "mtpe",   "rand",
                                        "random", "anneal", "mix"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(v, names[i]) == 0) {
            a->algo = v;
            return PZ_OK;
        }
    }
    return pz_cli_fail(err, PZ_EINVAL,
                       "%s expects tpe, mtpe, rand, anneal or mix, got '%s'", o,
                       v);
}

static int opt_seed(run_args *a, const char *o, const char *v, pz_error *err)
{
    a->have_seed = true;
    return pz_cli_parse_u64(o, v, 0, UINT64_MAX, &a->seed, err);
}

static int opt_timeout(run_args *a, const char *o, const char *v, pz_error *err)
{
    return pz_cli_parse_double(o, v, true, &a->timeout_s, err);
}

static int opt_trial_timeout(run_args *a, const char *o, const char *v,
                             pz_error *err)
{
    return pz_cli_parse_double(o, v, true, &a->trial_timeout_s, err);
}

static int opt_threshold(run_args *a, const char *o, const char *v,
                         pz_error *err)
{
    return pz_cli_parse_double(o, v, false, &a->loss_threshold, err);
}

static int opt_patience(run_args *a, const char *o, const char *v,
                        pz_error *err)
{
    /* --no-progress read as "hide the progress line"; it still works */
    a->old_patience = strcmp(o, "--no-progress") == 0;
    return pz_cli_parse_u64(o, v, 1, 1000000000, &a->patience, err);
}

static int opt_text(const char **dst, const char *o, const char *v,
                    pz_error *err)
{
    if (v[0] == '\0') {
        return pz_cli_fail(err, PZ_EINVAL, "%s expects a non-empty value", o);
    }
    *dst = v;
    return PZ_OK;
}

static int opt_store(run_args *a, const char *o, const char *v, pz_error *err)
{
    return opt_text(&a->store_path, o, v, err);
}

static int opt_study(run_args *a, const char *o, const char *v, pz_error *err)
{
    return opt_text(&a->study, o, v, err);
}

static int opt_spark(run_args *a, const char *o, const char *v, pz_error *err)
{
    return opt_text(&a->spark, o, v, err);
}

static int opt_mlflow(run_args *a, const char *o, const char *v, pz_error *err)
{
    return opt_text(&a->mlflow, o, v, err);
}

static int opt_report_address(run_args *a, const char *o, const char *v,
                              pz_error *err)
{
    return opt_text(&a->report_address, o, v, err);
}

static int opt_pruner(run_args *a, const char *o, const char *v, pz_error *err)
{
    if (strcmp(v, "median") != 0 && strcmp(v, "sha") != 0 &&
        strcmp(v, "hyperband") != 0 && strcmp(v, "none") != 0) {
        return pz_cli_fail(err, PZ_EINVAL,
                           "%s expects median, sha, hyperband or none, got "
                           "'%s'",
                           o, v);
    }
    a->pruner = v;
    return PZ_OK;
}

/* K=V: V a number, or else a string ("auto"); the pruner checks both. */
static int opt_pruner_opt(run_args *a, const char *o, const char *v,
                          pz_error *err)
{
    const char *eq = strchr(v, '=');
    if (eq == NULL || eq == v || eq[1] == '\0') {
        return pz_cli_fail(err, PZ_EINVAL, "%s expects KEY=VALUE, got '%s'", o,
                           v);
    }
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20) {
            return pz_cli_fail(err, PZ_EINVAL,
                               "%s: unexpected character in '%s'", o, v);
        }
    }
    char *end = NULL;
    (void)strtod(eq + 1, &end);
    bool number = end != eq + 1 && *end == '\0';
    size_t n = strlen(a->pruner_opts);
    int k = snprintf(a->pruner_opts + n, sizeof a->pruner_opts - n,
                     "%s\"%.*s\": %s%s%s", n ? ", " : "", (int)(eq - v), v,
                     number ? "" : "\"", eq + 1, number ? "" : "\"");
    if (k < 0 || (size_t)k >= sizeof a->pruner_opts - n) {
        return pz_cli_fail(err, PZ_EINVAL, "%s: too many pruner options", o);
    }
    return PZ_OK;
}

static int opt_flag(run_args *a, const char *o, const char *v, pz_error *err)
{
    (void)v;
    (void)err;
    bool *flag = strcmp(o, "--retry-lost") == 0 ? &a->retry_lost
                 : strcmp(o, "--quiet") == 0    ? &a->quiet
                 : strcmp(o, "--json") == 0     ? &a->json
                                                : &a->help;
    *flag = true;
    return PZ_OK;
}

typedef struct run_opt {
    const char *name;
    bool takes_value;
    opt_fn fn;
} run_opt;

static const run_opt run_opts[] = {
    {"--max-evals", true, opt_max_evals},
    {"--parallelism", true, opt_parallelism},
    {"--algo", true, opt_algo},
    {"--seed", true, opt_seed},
    {"--timeout", true, opt_timeout},
    {"--trial-timeout", true, opt_trial_timeout},
    {"--loss-threshold", true, opt_threshold},
    {"--patience", true, opt_patience},
    {"--no-progress", true, opt_patience}, /* deprecated spelling */
    {"--store", true, opt_store},
    {"--study", true, opt_study},
    {"--spark", true, opt_spark},
    {"--mlflow", true, opt_mlflow},
    {"--pruner", true, opt_pruner},
    {"--pruner-opt", true, opt_pruner_opt},
    {"--report-address", true, opt_report_address},
    {"--retry-lost", false, opt_flag},
    {"--quiet", false, opt_flag},
    {"--json", false, opt_flag},
    {"--help", false, opt_flag},
    {"-h", false, opt_flag},
};

static const run_opt *find_opt(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof run_opts / sizeof run_opts[0]; i++) {
        if (strlen(run_opts[i].name) == len &&
            strncmp(run_opts[i].name, name, len) == 0) {
            return &run_opts[i];
        }
    }
    return NULL;
}

/* One option at argv[*i] ("--opt VALUE" or "--opt=VALUE"). */
static int parse_opt(run_args *a, int argc, char **argv, int *i, pz_error *err)
{
    const char *arg = argv[*i];
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    const run_opt *o = find_opt(arg, len);
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)len, arg);
    if (o == NULL) {
        return pz_cli_fail(err, PZ_EINVAL,
                           "run: unknown option '%s' (try "
                           "'parzen run --help')",
                           name);
    }
    if (!o->takes_value) {
        return eq ? pz_cli_fail(err, PZ_EINVAL, "%s takes no value", name)
                  : o->fn(a, name, NULL, err);
    }
    if (eq == NULL && (*i + 1 >= argc || strcmp(argv[*i + 1], "--") == 0)) {
        return pz_cli_fail(err, PZ_EINVAL, "%s needs a value", name);
    }
    return o->fn(a, name, eq ? eq + 1 : argv[++*i], err);
}

static int check_args(const run_args *a, pz_error *err)
{
    if (a->space_path == NULL) {
        return pz_cli_fail(err, PZ_EINVAL,
                           "run: missing SPACE.json (" RUN_USAGE ")");
    }
    if (a->max_evals == 0) {
        return pz_cli_fail(err, PZ_EINVAL,
                           "run: --max-evals N is required "
                           "(" RUN_USAGE ")");
    }
    if (a->pruner_opts[0] != '\0' && a->pruner == NULL) {
        return pz_cli_fail(err, PZ_EINVAL,
                           "run: --pruner-opt needs --pruner NAME");
    }
    if (a->report_address != NULL && (a->spark == NULL || a->pruner == NULL)) {
        /* only Spark's executors send reports over the network */
        return pz_cli_fail(err, PZ_EINVAL,
                           "run: --report-address needs --spark MASTER and "
                           "--pruner NAME");
    }
    if (a->cmd == NULL || a->cmd[0] == NULL) {
        return pz_cli_fail(err, PZ_EINVAL,
                           "run: missing '-- COMMAND "
                           "[ARGS...]' after the options");
    }
    return PZ_OK;
}

static int parse_run_args(int argc, char **argv, run_args *a, pz_error *err)
{
    int rc = PZ_OK;
    for (int i = 1; i < argc && rc == PZ_OK && !a->help; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--") == 0) {
            a->cmd = argv + i + 1;
            break;
        }
        if (arg[0] == '-' && arg[1] != '\0') {
            rc = parse_opt(a, argc, argv, &i, err);
        } else if (a->space_path != NULL) {
            rc = pz_cli_fail(err, PZ_EINVAL,
                             "run: unexpected argument '%s' "
                             "(the command goes after '--')",
                             arg);
        } else {
            a->space_path = arg;
        }
    }
    return rc == PZ_OK && !a->help ? check_args(a, err) : rc;
}

/* -------------------------------------------------------------- output */

typedef struct run_ctx {
    const run_args *a;
    bool progress;   /* a progress line on stderr */
    bool line_shown; /* it is on screen (needs a newline at the end) */
} run_ctx;

static void clock_text(double s, char *buf, size_t n)
{
    long t = isfinite(s) && s > 0 ? (long)(s + 0.5) : 0;
    if (t >= 3600) {
        snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    } else {
        snprintf(buf, n, "%02ld:%02ld", t / 60, t % 60);
    }
}

static void progress_line(run_ctx *c, const pz_runner_event *ev)
{
    char best[40] = "-", elapsed[32], eta[32] = "-";
    if (!isnan(ev->best_loss)) {
        snprintf(best, sizeof best, "%.6g", ev->best_loss);
    }
    clock_text(ev->elapsed_s, elapsed, sizeof elapsed);
    size_t finished = ev->n_done + ev->n_failed;
    if (ev->n_run > 0 && ev->n_target > finished) {
        double per = ev->elapsed_s / (double)ev->n_run;
        clock_text(per * (double)(ev->n_target - finished), eta, sizeof eta);
    }
    fprintf(stderr,
            "\r\033[K[%zu/%zu] %zu running, %zu failed, best %s | %s "
            "elapsed, ETA %s",
            finished, ev->n_target, ev->n_running, ev->n_failed, best, elapsed,
            eta);
    fflush(stderr);
    c->line_shown = true;
}

static void json_event(const pz_runner_event *ev)
{
    bool start = ev->kind == PZ_RUNNER_START;
    printf("{\"event\": \"%s\", \"id\": %lld, \"point\": %s",
           start ? "start" : "finish", (long long)ev->trial_id,
           ev->point_json ? ev->point_json : "null");
    if (!start) {
        printf(", \"state\": \"%s\", \"status\": \"%s\", \"loss\": ",
               pz_trial_state_name((int)ev->state), ev->status);
        pz_cli_json_number(stdout, ev->loss);
        fputs(", \"error\": ", stdout);
        if (ev->error != NULL) {
            pz_cli_json_string(stdout, ev->error, strlen(ev->error));
        } else {
            fputs("null", stdout);
        }
        fputs(", \"duration\": ", stdout);
        pz_cli_json_number(stdout, ev->duration_s);
    }
    puts("}");
    fflush(stdout);
}

/* A report the study ignored (a non-finite value): said, never fatal. */
static void warning(run_ctx *c, const pz_runner_event *ev)
{
    if (c->a->json) {
        printf("{\"event\": \"warning\", \"id\": %lld, \"message\": ",
               (long long)ev->trial_id);
        pz_cli_json_string(stdout, ev->error, strlen(ev->error));
        puts("}");
        fflush(stdout);
    }
    if (!c->a->quiet) {
        fprintf(stderr, "%sparzen: warning: %s\n",
                c->line_shown ? "\r\033[K" : "", ev->error);
    }
}

static void on_event(const pz_runner_event *ev, void *ud)
{
    run_ctx *c = ud;
    if (ev->kind == PZ_RUNNER_WARNING) {
        warning(c, ev);
        return;
    }
    if (c->a->json && ev->kind != PZ_RUNNER_TICK) {
        json_event(ev);
    }
    if (c->progress) {
        progress_line(c, ev);
    }
    /* without a progress line or --json, events only carry warnings */
}

/* --------------------------------------------------------------- setup */

static int make_runner(const run_args *a, run_ctx *c, pz_runner **out,
                       pz_error *err)
{
    int rc = pz_runner_new(out, (const char *const *)a->cmd, err);
    if (rc == PZ_OK) {
        rc = pz_runner_set_parallelism(*out, (size_t)a->parallelism, err);
    }
    if (rc == PZ_OK) {
        rc = pz_runner_set_trial_timeout(*out, a->trial_timeout_s, err);
    }
    if (rc != PZ_OK) {
        return rc;
    }
    pz_stop_rules rules = pz_stop_rules_none();
    rules.max_trials = (size_t)a->max_evals;
    rules.timeout_s = a->timeout_s;
    rules.loss_threshold = a->loss_threshold;
    pz_runner_set_stop_rules(*out, &rules);
    pz_runner_set_no_progress(*out, (size_t)a->patience);
    pz_runner_set_retry_lost(*out, a->retry_lost);
    /* always: warnings are printed whatever the output mode */
    pz_runner_set_events(*out, on_event, c, c->progress ? 1.0 : 0.0);
    return PZ_OK;
}

/* The space is parsed once, here; the store takes it as parsed. */
static int open_study(const run_args *a, const pz_space *space,
                      pz_store **store, pz_error *err)
{
    pz_study_config cfg = {
        .space = space,
        .sampler = a->algo ? a->algo : "mtpe", /* docs/benchmarks.md, "mtpe" */
        .seed = a->have_seed ? a->seed : pz_cli_random_seed(),
        .flags = (a->algo ? 0u : PZ_STUDY_DEFAULT_SAMPLER) |
                 (a->have_seed ? 0u : PZ_STUDY_DEFAULT_SEED),
    };
    int rc = pz_store_open(store, a->store_path, PZ_STORE_CREATE, err);
    if (rc == PZ_OK) {
        rc = pz_store_open_study(*store, a->study, &cfg, err);
    }
    if (rc == PZ_OK && a->pruner != NULL) {
        /* the pruner is this run's (like its stop rules), not the study's:
         * it rebuilds its tables from the stored reports */
        char opts[sizeof a->pruner_opts + 4];
        snprintf(opts, sizeof opts, "{%s}", a->pruner_opts);
        rc = pz_study_set_pruner(pz_store_study(*store), a->pruner, opts, err);
    }
    return rc;
}

static size_t count(pz_store *store, pz_trial_state state)
{
    return pz_study_count(pz_store_study(store), state);
}

static void announce(const run_args *a, pz_store *store, size_t n_lost)
{
    pz_store_study_info info;
    pz_store_study_info_get(store, &info, NULL);
    if (a->json) {
        printf("{\"event\": \"study\", \"store\": ");
        pz_cli_json_string(stdout, a->store_path, strlen(a->store_path));
        printf(", \"study\": ");
        pz_cli_json_string(stdout, info.name, strlen(info.name));
        printf(", \"created\": %s, \"sampler\": \"%s\", \"seed\": %llu, "
               "\"lost\": %zu}\n",
               info.created_now ? "true" : "false", info.sampler,
               (unsigned long long)info.seed, n_lost);
        fflush(stdout);
    }
    if (a->quiet) {
        return;
    }
    size_t done = count(store, PZ_TRIAL_DONE) + count(store, PZ_TRIAL_ERROR) +
                  count(store, PZ_TRIAL_PRUNED);
    fprintf(stderr, "parzen: %s study '%s' in %s (sampler %s, seed %llu)",
            info.created_now ? "new" : "resuming", info.name, a->store_path,
            info.sampler, (unsigned long long)info.seed);
    if (!info.created_now) {
        fprintf(stderr, ": %zu of %llu trials evaluated", done,
                (unsigned long long)a->max_evals);
    }
    fputc('\n', stderr);
    if (n_lost > 0) {
        fprintf(stderr,
                "parzen: marked %zu lost trial%s CANCEL (its runner "
                "died); --retry-lost re-runs them\n",
                n_lost, n_lost == 1 ? "" : "s");
    }
}

/* ------------------------------------------------------------- summary */

static const char *reason_text(const char *reason)
{
    return strcmp(reason, "max_trials") == 0       ? "reached --max-evals"
           : strcmp(reason, "timeout") == 0        ? "--timeout expired"
           : strcmp(reason, "loss_threshold") == 0 ? "loss below "
                                                     "--loss-threshold"
           : strcmp(reason, "no_progress") == 0    ? "no better loss for "
                                                     "--patience trials"
                                                   : reason;
}

typedef struct best_out {
    int64_t id;
    double loss;
} best_out;

static int take_best(const pz_trial_record *rec, void *ud)
{
    best_out *b = ud;
    b->id = rec->id;
    b->loss = rec->loss;
    return 0;
}

static void summary(const run_args *a, pz_store *store, const char *reason)
{
    best_out best = {PZ_NO_TRIAL, (double)NAN};
    pz_store_best(store, take_best, &best, NULL);
    size_t done = count(store, PZ_TRIAL_DONE);
    size_t failed = count(store, PZ_TRIAL_ERROR);
    size_t canceled = count(store, PZ_TRIAL_CANCEL);
    size_t running = count(store, PZ_TRIAL_RUNNING);
    size_t pruned = count(store, PZ_TRIAL_PRUNED);
    if (a->json) {
        printf("{\"event\": \"end\", \"reason\": \"%s\", \"done\": %zu, "
               "\"failed\": %zu, \"canceled\": %zu, \"pruned\": %zu, "
               "\"best_id\": ",
               reason, done, failed, canceled, pruned);
        best.id == PZ_NO_TRIAL ? printf("null")
                               : printf("%lld", (long long)best.id);
        printf(", \"best_loss\": ");
        pz_cli_json_number(stdout, best.loss);
        puts("}");
    }
    if (a->quiet) {
        return;
    }
    fprintf(stderr,
            "parzen: stopped (%s): %zu done, %zu failed, %zu "
            "canceled",
            reason_text(reason), done, failed, canceled);
    if (pruned > 0) {
        fprintf(stderr, ", %zu pruned", pruned);
    }
    if (running > 0) {
        fprintf(stderr, ", %zu running elsewhere", running);
    }
    if (best.id != PZ_NO_TRIAL) {
        fprintf(stderr, "; best loss %.10g (trial %lld)", best.loss,
                (long long)best.id);
    }
    fputc('\n', stderr);
}

/* ----------------------------------------------------------------- run */

static int run_study(const run_args *a, run_ctx *c, pz_runner *runner,
                     pz_store *store, pz_error *err)
{
    size_t n_lost = 0;
    int rc = pz_store_mark_lost(store, &n_lost, err);
    if (rc != PZ_OK) {
        return rc;
    }
    announce(a, store, n_lost);
    rc = pz_runner_run_store(runner, store, err);
    if (c->line_shown) {
        fputc('\n', stderr);
    }
    if (rc == PZ_OK) {
        summary(a, store, pz_runner_stop_reason(runner));
    } else if (rc == PZ_ECANCELED) {
        size_t n = strlen(err->msg);
        snprintf(err->msg + n, sizeof err->msg - n,
                 "; run the same command to resume");
    }
    return rc;
}

/* --spark: the Python driver (parzen.spark_run) takes the same argv. It
 * replaces this process, so its exit status is the command's. The
 * interpreter is found as for 'export --format optuna' (python_exec.c):
 * the installation's own, not whichever python3 PATH holds first. */
static int exec_spark_driver(int argc, char **argv, pz_error *err)
{
    char py[PZ_CLI_PYTHON_CAP];
    int rc = pz_cli_find_python(py, sizeof py, err);
    if (rc != PZ_OK) {
        return rc;
    }
    static char dash_m[] = "-m", module[] = "parzen.spark_run";
    char **args = calloc((size_t)argc + 4, sizeof *args);
    if (args == NULL) {
        return pz_cli_fail(err, PZ_ENOMEM, "out of memory");
    }
    args[0] = py;
    args[1] = dash_m;
    args[2] = module;
    for (int i = 0; i < argc; i++) {
        args[3 + i] = argv[i];
    }
    fflush(stdout);
    execvp(py, args);
    int e = errno;
    free(args);
    return pz_cli_fail(err, PZ_EINVAL,
                       "--spark: cannot start the Python driver '%s': %s "
                       "(set PARZEN_PYTHON to a Python with parzen and "
                       "PySpark)",
                       py, strerror(e));
}

static run_args run_defaults(void)
{
    return (run_args){.parallelism = 1,
                      .loss_threshold = (double)NAN,
                      .store_path = "parzen.db",
                      .study = "default"};
}

int pz_cli_run_parse(int argc, char **argv, pz_error *err)
{
    run_args a = run_defaults();
    return parse_run_args(argc, argv, &a, err);
}

int pz_cli_run(int argc, char **argv, pz_error *err)
{
    run_args a = run_defaults();
    int rc = parse_run_args(argc, argv, &a, err);
    if (rc != PZ_OK || a.help) {
        fputs(a.help ? run_help : "", stdout);
        return rc;
    }
    if (a.old_patience) {
        fputs("parzen: --no-progress N is deprecated, use --patience N (the "
              "same: stop after N trials without a better loss)\n",
              stderr);
    }
    if (a.spark != NULL) {
        return exec_spark_driver(argc, argv, err);
    }
    run_ctx c = {.a = &a, .progress = !a.quiet && isatty(STDERR_FILENO)};
    pz_space *space = NULL;
    pz_runner *runner = NULL;
    pz_store *store = NULL;
    rc = pz_space_from_file(&space, a.space_path, err);
    if (rc == PZ_OK) {
        rc = make_runner(&a, &c, &runner, err);
    }
    if (rc == PZ_OK) {
        rc = open_study(&a, space, &store, err);
    }
    pz_cli_mlflow ml = {.pid = -1, .to_fd = -1};
    if (rc == PZ_OK && a.mlflow != NULL) {
        pz_cli_mlflow_args ma = {a.mlflow,    a.store_path,  a.study,
                                 a.max_evals, a.parallelism, a.quiet};
        rc = pz_cli_mlflow_start(&ml, &ma, err);
    }
    if (rc == PZ_OK) {
        rc = run_study(&a, &c, runner, store, err);
    }
    pz_cli_mlflow_finish(&ml); /* logs the last trials */
    pz_store_close(store);
    pz_runner_free(runner);
    pz_space_free(space);
    return rc;
}
