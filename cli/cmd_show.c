/*
 * cmd_show.c -- the commands that read a store: 'parzen show' (a table
 * of a study's trials, or one trial in full), 'parzen best' (the best
 * trial as JSON), 'parzen export' (every trial as CSV or JSON lines, or
 * into an Optuna storage through the Python package) and 'parzen
 * status' (the studies of a store and their running trials).
 *
 * They never write trials: a store that is being run is read as a
 * consistent snapshot. Times are printed in UTC, ISO 8601.
 */
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { O_TRIAL = 1u, O_FORMAT = 2u, O_STUDY_OPT = 4u };

typedef struct store_args {
    const char *store_path;
    const char *study; /* NULL: 'default' (status: every study) */
    const char *format;
    const char *to; /* export --format optuna: the Optuna storage URL */
    bool replace;   /* export --format optuna: replace a study there */
    uint64_t trial;
    bool have_trial;
} store_args;

static int value_of(const char *cmd, int argc, char **argv, int *i,
                    const char **out, pz_error *err)
{
    const char *eq = strchr(argv[*i], '=');
    if (eq != NULL) {
        *out = eq + 1;
    } else if (*i + 1 < argc) {
        *out = argv[++*i];
    } else {
        return pz_cli_fail(err, PZ_EINVAL, "%s: %s needs a value", cmd,
                           argv[*i]);
    }
    return PZ_OK;
}

static bool is_opt(const char *arg, const char *name)
{
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

static int parse_one(const char *cmd, unsigned allowed, int argc, char **argv,
                     int *i, store_args *a, pz_error *err)
{
    const char *arg = argv[*i], *v = NULL;
    if (is_opt(arg, "--store")) {
        return value_of(cmd, argc, argv, i, &a->store_path, err);
    }
    if (is_opt(arg, "--study")) {
        return value_of(cmd, argc, argv, i, &a->study, err);
    }
    if ((allowed & O_TRIAL) && is_opt(arg, "--trial")) {
        int rc = value_of(cmd, argc, argv, i, &v, err);
        a->have_trial = true;
        return rc ? rc
                  : pz_cli_parse_u64("--trial", v, 0, INT64_MAX, &a->trial,
                                     err);
    }
    if ((allowed & O_FORMAT) && is_opt(arg, "--format")) {
        int rc = value_of(cmd, argc, argv, i, &a->format, err);
        if (rc == PZ_OK && strcmp(a->format, "csv") != 0 &&
            strcmp(a->format, "jsonl") != 0 &&
            strcmp(a->format, "optuna") != 0) {
            rc = pz_cli_fail(err, PZ_EINVAL,
                             "%s: --format expects csv, "
                             "jsonl or optuna, got '%s'",
                             cmd, a->format);
        }
        return rc;
    }
    if ((allowed & O_FORMAT) && is_opt(arg, "--to")) {
        return value_of(cmd, argc, argv, i, &a->to, err);
    }
    if ((allowed & O_FORMAT) && strcmp(arg, "--replace") == 0) {
        a->replace = true;
        return PZ_OK;
    }
    if (arg[0] == '-') {
        return pz_cli_fail(err, PZ_EINVAL, "%s: unknown option '%s'", cmd, arg);
    }
    return pz_cli_fail(err, PZ_EINVAL, "%s: unexpected argument '%s'", cmd,
                       arg);
}

static int parse_store_args(const char *cmd, unsigned allowed, int argc,
                            char **argv, store_args *a, pz_error *err)
{
    *a = (store_args){.store_path = "parzen.db", .format = "csv"};
    int rc = PZ_OK;
    for (int i = 1; i < argc && rc == PZ_OK; i++) {
        rc = parse_one(cmd, allowed, argc, argv, &i, a, err);
    }
    if (rc == PZ_OK && ((a->store_path[0] == '\0') ||
                        (a->study != NULL && a->study[0] == '\0'))) {
        rc = pz_cli_fail(err, PZ_EINVAL,
                         "%s: --store and --study expect "
                         "a non-empty value",
                         cmd);
    }
    bool optuna = strcmp(a->format, "optuna") == 0;
    if (rc == PZ_OK && optuna && (a->to == NULL || a->to[0] == '\0')) {
        rc = pz_cli_fail(err, PZ_EINVAL,
                         "%s: --format optuna needs --to STORAGE_URL "
                         "(e.g. sqlite:///optuna.db)",
                         cmd);
    } else if (rc == PZ_OK && !optuna && (a->to != NULL || a->replace)) {
        rc = pz_cli_fail(err, PZ_EINVAL, "%s: %s is for --format optuna only",
                         cmd, a->to != NULL ? "--to" : "--replace");
    }
    return rc;
}

int pz_cli_store_parse(const char *cmd, int argc, char **argv, pz_error *err)
{
    static const struct {
        const char *name;
        unsigned allowed;
    } cmds[] = {{"show", O_TRIAL},
                {"best", 0},
                {"export", O_FORMAT},
                {"status", O_STUDY_OPT}};
    store_args a;
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        if (strcmp(cmd, cmds[i].name) == 0) {
            return parse_store_args(cmd, cmds[i].allowed, argc, argv, &a, err);
        }
    }
    return pz_cli_fail(err, PZ_EINVAL, "unknown command '%s'", cmd);
}

/* Parse, open the store and its study. */
static int open_for(const char *cmd, unsigned allowed, int argc, char **argv,
                    store_args *a, pz_store **store, pz_error *err)
{
    *store = NULL;
    int rc = parse_store_args(cmd, allowed, argc, argv, a, err);
    if (rc == PZ_OK) {
        rc = pz_store_open(store, a->store_path, 0, err);
    }
    if (rc == PZ_OK && (allowed & O_STUDY_OPT) == 0) {
        rc = pz_store_open_study(*store, a->study ? a->study : "default", NULL,
                                 err);
    }
    return rc;
}

static double duration(const pz_trial_record *r)
{
    return r->finished_at - r->started_at; /* NaN unless both are set */
}

/* ----------------------------------------------------------------- show */

static int table_row(const pz_trial_record *r, void *ud)
{
    (void)ud;
    char loss[32] = "-", secs[32] = "-";
    if (!isnan(r->loss)) {
        snprintf(loss, sizeof loss, "%.6g", r->loss);
    }
    if (!isnan(duration(r))) {
        snprintf(secs, sizeof secs, "%.2f", duration(r));
    }
    printf("%5lld  %-7s  %-12s  %7s  %s", (long long)r->id,
           pz_trial_state_name((int)r->state), loss, secs, r->point_json);
    if (r->error != NULL) {
        printf("  # %s", r->error);
    }
    putchar('\n');
    return 0;
}

static void field(const char *name, const char *value)
{
    printf("  %-9s %s\n", name, value && value[0] ? value : "-");
}

static void time_field(const char *name, double t)
{
    char buf[40];
    pz_cli_format_time(t, buf, sizeof buf);
    field(name, buf);
}

static void output_block(const char *name, const char *p, size_t n)
{
    if (p == NULL || n == 0) {
        return;
    }
    printf("--- %s (last %zu bytes) ---\n", name, n);
    fwrite(p, 1, n, stdout);
    if (n > 0 && p[n - 1] != '\n') {
        putchar('\n');
    }
}

/* "STEP: VALUE" pairs, the last 'keep' of them after an ellipsis. */
static void reports_field(const pz_trial_record *r, size_t keep)
{
    if (r->n_reports == 0) {
        return;
    }
    printf("  %-9s %zu:", "reports", r->n_reports);
    size_t from = r->n_reports > keep ? r->n_reports - keep : 0;
    if (from > 0) {
        fputs(" ...", stdout);
    }
    for (size_t i = from; i < r->n_reports; i++) {
        char buf[40];
        pz_format_double(r->report_values[i], buf, sizeof buf);
        printf("%s %lld: %s", i > from ? "," : "",
               (long long)r->report_steps[i], buf);
    }
    putchar('\n');
}

/* [[step, value], ...] */
static void json_reports(const pz_trial_record *r)
{
    putchar('[');
    for (size_t i = 0; i < r->n_reports; i++) {
        printf("%s[%lld, ", i ? ", " : "", (long long)r->report_steps[i]);
        pz_cli_json_number(stdout, r->report_values[i]);
        putchar(']');
    }
    putchar(']');
}

static int trial_detail(const pz_trial_record *r, void *ud)
{
    (void)ud;
    char buf[64];
    printf("trial %lld\n", (long long)r->id);
    field("state", pz_trial_state_name((int)r->state));
    field("status", r->status);
    pz_format_double(r->loss, buf, sizeof buf);
    field("loss", isnan(r->loss) ? NULL : buf);
    field("point", r->point_json);
    field("params", r->params_json);
    field("result", r->result_json);
    field("error", r->error);
    time_field("queued", r->queued_at);
    time_field("started", r->started_at);
    time_field("finished", r->finished_at);
    snprintf(buf, sizeof buf, "%.3f s", duration(r));
    field("duration", isnan(duration(r)) ? NULL : buf);
    snprintf(buf, sizeof buf, "%d", r->attempts);
    field("attempts", buf);
    reports_field(r, 20);
    output_block("stdout", r->stdout_tail, r->stdout_len);
    output_block("stderr", r->stderr_tail, r->stderr_len);
    return 0;
}

int pz_cli_show(int argc, char **argv, pz_error *err)
{
    store_args a;
    pz_store *store = NULL;
    int rc = open_for("show", O_TRIAL, argc, argv, &a, &store, err);
    if (rc == PZ_OK && a.have_trial) {
        rc = pz_store_get_trial(store, (int64_t)a.trial, trial_detail, NULL,
                                err);
    } else if (rc == PZ_OK) {
        printf("%5s  %-7s  %-12s  %7s  %s\n", "id", "state", "loss", "secs",
               "point");
        rc = pz_store_each_trial(store, table_row, NULL, err);
    }
    pz_store_close(store);
    return rc;
}

/* ----------------------------------------------------------------- best */

static int best_json(const pz_trial_record *r, void *ud)
{
    (void)ud;
    printf("{\"id\": %lld, \"loss\": ", (long long)r->id);
    pz_cli_json_number(stdout, r->loss);
    printf(", \"point\": %s, \"params\": %s}\n", r->point_json, r->params_json);
    return 0;
}

int pz_cli_best(int argc, char **argv, pz_error *err)
{
    store_args a;
    pz_store *store = NULL;
    int rc = open_for("best", 0, argc, argv, &a, &store, err);
    if (rc == PZ_OK) {
        rc = pz_store_best(store, best_json, NULL, err);
    }
    pz_store_close(store);
    return rc;
}

/* --------------------------------------------------------------- export */

static void csv_text(const char *s)
{
    if (s == NULL || strpbrk(s, ",\"\n\r") == NULL) {
        fputs(s ? s : "", stdout);
        return;
    }
    putchar('"');
    for (; *s != '\0'; s++) {
        if (*s == '"') {
            putchar('"');
        }
        putchar(*s);
    }
    putchar('"');
}

static void csv_number(double v)
{
    if (isfinite(v)) {
        pz_cli_json_number(stdout, v);
    }
}

static void csv_time(double t)
{
    char buf[40];
    pz_cli_format_time(t, buf, sizeof buf);
    fputs(buf, stdout);
}

static int csv_row(const pz_trial_record *r, void *ud)
{
    const pz_space *sp = ud;
    printf("%lld,%s,", (long long)r->id, pz_trial_state_name((int)r->state));
    csv_text(r->status);
    putchar(',');
    csv_number(r->loss);
    putchar(',');
    csv_time(r->started_at);
    putchar(',');
    csv_time(r->finished_at);
    putchar(',');
    csv_number(duration(r));
    printf(",%d,", r->attempts);
    csv_text(r->error);
    for (size_t i = 0; i < pz_space_size(sp); i++) {
        putchar(',');
        csv_number(r->values[i]);
    }
    putchar('\n');
    return 0;
}

static void csv_header(const pz_space *sp)
{
    fputs("id,state,status,loss,started_at,finished_at,duration_s,attempts,"
          "error",
          stdout);
    for (size_t i = 0; i < pz_space_size(sp); i++) {
        putchar(',');
        csv_text(pz_space_label(sp, i));
    }
    putchar('\n');
}

static void json_text_or_null(const char *s)
{
    if (s == NULL) {
        fputs("null", stdout);
    } else {
        pz_cli_json_string(stdout, s, strlen(s));
    }
}

static void json_time(const char *key, double t)
{
    char buf[40];
    pz_cli_format_time(t, buf, sizeof buf);
    printf(", \"%s\": ", key);
    json_text_or_null(buf[0] ? buf : NULL);
}

static int jsonl_row(const pz_trial_record *r, void *ud)
{
    (void)ud;
    printf("{\"id\": %lld, \"state\": \"%s\", \"status\": ", (long long)r->id,
           pz_trial_state_name((int)r->state));
    json_text_or_null(r->status);
    fputs(", \"loss\": ", stdout);
    pz_cli_json_number(stdout, r->loss);
    printf(", \"point\": %s, \"params\": %s, \"result\": %s, \"error\": ",
           r->point_json, r->params_json,
           r->result_json ? r->result_json : "null");
    json_text_or_null(r->error);
    json_time("queued_at", r->queued_at);
    json_time("started_at", r->started_at);
    json_time("finished_at", r->finished_at);
    fputs(", \"duration_s\": ", stdout);
    pz_cli_json_number(stdout, duration(r));
    fputs(", \"intermediate_values\": ", stdout);
    json_reports(r);
    printf(", \"attempts\": %d, \"owner\": ", r->attempts);
    if (r->owner_host != NULL) {
        fputs("{\"host\": ", stdout);
        json_text_or_null(r->owner_host);
        printf(", \"pid\": %lld}", (long long)r->owner_pid);
    } else {
        fputs("null", stdout);
    }
    puts("}");
    return 0;
}

/* "--name=value" in malloc'd memory (a value may begin with '-': the
 * '=' form keeps Python's argparse from reading it as an option). */
static char *opt_eq(const char *name, const char *value)
{
    size_t n = strlen(name) + strlen(value) + 2;
    char *s = malloc(n);
    if (s != NULL) {
        snprintf(s, n, "%s=%s", name, value);
    }
    return s;
}

/* The store and the study are checked here, so a missing file or study
 * is the usual error and exit status; the store is closed before Python
 * opens it. */
static int export_optuna(store_args *a, pz_error *err)
{
    char *own[3] = {opt_eq("--store", a->store_path),
                    opt_eq("--study", a->study ? a->study : "default"),
                    opt_eq("--to", a->to)};
    const char *args[4] = {own[0], own[1], own[2], "--replace"};
    int rc = own[0] && own[1] && own[2]
                 ? pz_cli_exec_python("export --format optuna", args,
                                      a->replace ? 4 : 3, err)
                 : pz_cli_fail(err, PZ_ENOMEM, "out of memory");
    for (size_t i = 0; i < 3; i++) {
        free(own[i]);
    }
    return rc;
}

int pz_cli_export(int argc, char **argv, pz_error *err)
{
    store_args a;
    pz_store *store = NULL;
    int rc = open_for("export", O_FORMAT, argc, argv, &a, &store, err);
    if (rc == PZ_OK && strcmp(a.format, "optuna") == 0) {
        pz_store_close(store);
        return export_optuna(&a, err);
    }
    if (rc == PZ_OK && strcmp(a.format, "csv") == 0) {
        const pz_space *sp = pz_study_space(pz_store_study(store));
        csv_header(sp);
        rc = pz_store_each_trial(store, csv_row, (void *)sp, err);
    } else if (rc == PZ_OK) {
        rc = pz_store_each_trial(store, jsonl_row, NULL, err);
    }
    pz_store_close(store);
    return rc;
}

/* --------------------------------------------------------------- status */

typedef struct name_list {
    char **names;
    size_t n, cap;
    const char *only; /* NULL: every study */
} name_list;

static int collect_name(const pz_store_study_summary *s, void *ud)
{
    name_list *l = ud;
    if (l->only != NULL && strcmp(l->only, s->name) != 0) {
        return 0;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        char **p = realloc(l->names, cap * sizeof *p);
        if (p == NULL) {
            return PZ_ENOMEM;
        }
        l->names = p;
        l->cap = cap;
    }
    l->names[l->n] = malloc(strlen(s->name) + 1);
    if (l->names[l->n] == NULL) {
        return PZ_ENOMEM;
    }
    strcpy(l->names[l->n++], s->name);
    return 0;
}

static int running_row(const pz_trial_record *r, void *ud)
{
    (void)ud;
    if (r->state != PZ_TRIAL_RUNNING) {
        return 0;
    }
    char started[40];
    pz_cli_format_time(r->started_at, started, sizeof started);
    printf("  running: trial %lld, pid %lld on %s, since %s%s\n",
           (long long)r->id, (long long)r->owner_pid,
           r->owner_host ? r->owner_host : "?", started,
           r->owner_gone ? " (owner gone: lost)" : "");
    return 0;
}

static void study_line(pz_store *store)
{
    pz_store_study_info info;
    pz_store_study_info_get(store, &info, NULL);
    const pz_study *st = pz_store_study(store);
    printf("study '%s': sampler %s, seed %llu, %zu trials\n", info.name,
           info.sampler, (unsigned long long)info.seed, pz_study_n_trials(st));
    printf(
        "  done %zu, error %zu, cancel %zu, running %zu, queued %zu",
        pz_study_count(st, PZ_TRIAL_DONE), pz_study_count(st, PZ_TRIAL_ERROR),
        pz_study_count(st, PZ_TRIAL_CANCEL),
        pz_study_count(st, PZ_TRIAL_RUNNING), pz_study_count(st, PZ_TRIAL_NEW));
}

static int best_loss_of(const pz_trial_record *r, void *ud)
{
    *(double *)ud = r->loss;
    return 0;
}

static int print_study(pz_store *store, const char *name, pz_error *err)
{
    int rc = pz_store_open_study(store, name, NULL, err);
    if (rc != PZ_OK) {
        return rc;
    }
    study_line(store);
    double best = (double)NAN;
    pz_error ignored;
    if (pz_store_best(store, best_loss_of, &best, &ignored) == PZ_OK) {
        printf("; best loss %.10g", best);
    }
    putchar('\n');
    return pz_store_each_trial(store, running_row, NULL, err);
}

static int print_status(pz_store *store, const store_args *a, pz_error *err)
{
    name_list l = {.only = a->study};
    int rc = pz_store_each_study(store, collect_name, &l, err);
    if (rc == PZ_OK && l.n == 0) {
        rc = a->study
                 ? pz_cli_fail(err, PZ_ENOTFOUND,
                               "no study '%s' in "
                               "'%s'",
                               a->study, a->store_path)
                 : (printf("store %s: no studies\n", a->store_path), PZ_OK);
    }
    for (size_t i = 0; rc == PZ_OK && i < l.n; i++) {
        rc = print_study(store, l.names[i], err);
    }
    for (size_t i = 0; i < l.n; i++) {
        free(l.names[i]);
    }
    free(l.names);
    return rc;
}

int pz_cli_status(int argc, char **argv, pz_error *err)
{
    store_args a;
    pz_store *store = NULL;
    int rc = open_for("status", O_STUDY_OPT, argc, argv, &a, &store, err);
    if (rc == PZ_OK) {
        rc = print_status(store, &a, err);
    }
    pz_store_close(store);
    return rc;
}
