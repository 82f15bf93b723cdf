/*
 * store_study.c -- the current study of a store handle: its settings
 * (space, sampler, options, seed) in canonical form, found by name and
 * checked against what the caller insists on, or created; the in-memory
 * pz_study built from them with every stored trial added; the list of
 * the studies of a file with their counts.
 */
#define _POSIX_C_SOURCE 200809L
#include "store_internal.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void pz__store_binding_fini(binding *b)
{
    pz__free_str(b->name);
    pz__free_str(b->space_json);
    pz__free_str(b->sampler);
    pz__free_str(b->options_json);
    pz_study_free(b->study);
    pz__free(b->row, b->n_params * sizeof *b->row);
    memset(b, 0, sizeof *b);
}

/* ---------------------------------------------------------------- study */

/* Apply a JSON object of numeric sampler options to 'study'. */
static int apply_options(pz_study *study, const char *options, pz_error *err)
{
    /* zeroed: jansson leaves its error code unset on some failures */
    json_error_t je = {0};
    json_t *obj = json_loads(options, 0, &je);
    if (obj == NULL && pz__json_check_oom(&je, options, strlen(options))) {
        return pz__fail(err, PZ_ENOMEM, "out of memory");
    }
    if (!json_is_object(obj)) {
        json_decref(obj);
        return pz__fail(err, PZ_EINVAL,
                        "sampler options must be a JSON object of numbers");
    }
    const char *key;
    json_t *v;
    int rc = PZ_OK;
    json_object_foreach(obj, key, v)
    {
        if (!json_is_number(v)) {
            rc = pz__fail(err, PZ_EINVAL,
                          "sampler option '%s' is not a "
                          "number",
                          key);
            break;
        }
        if ((rc = pz_study_set_option(study, key, json_number_value(v), err)) !=
            PZ_OK) {
            break;
        }
    }
    json_decref(obj);
    return rc;
}

/* Give '*study' the sampler, options and seed; on failure it is freed. */
static int configure(pz_study **study, const char *sampler, const char *options,
                     uint64_t seed, pz_error *err)
{
    int rc = pz_study_set_sampler(*study, sampler, err);
    if (rc == PZ_OK) {
        rc = apply_options(*study, options, err);
    }
    if (rc != PZ_OK) {
        pz_study_free(*study);
        *study = NULL;
        return rc;
    }
    pz_study_set_seed(*study, seed);
    return PZ_OK;
}

/* A study on 'sp', or else on the space 'space_json' (parsed), with the
 * sampler, options and seed. */
static int build_study(const pz_space *sp, const char *space_json,
                       const char *sampler, const char *options, uint64_t seed,
                       pz_study **out, pz_error *err)
{
    pz_space *parsed = NULL;
    *out = NULL;
    int rc =
        sp ? PZ_OK
           : pz_space_from_json(&parsed, space_json, strlen(space_json), err);
    if (rc == PZ_OK) {
        rc = pz_study_new(out, sp ? sp : parsed, err);
    }
    pz_space_free(parsed);
    return rc == PZ_OK ? configure(out, sampler, options, seed, err) : rc;
}

/* Options in canonical form: sorted keys, compact; transferred. */
static int canon_options(const char *options, char **out, pz_error *err)
{
    /* zeroed: jansson leaves its error code unset on some failures */
    json_error_t je = {0};
    const char *given = options ? options : "{}";
    json_t *obj = json_loads(given, 0, &je);
    bool is_object = json_is_object(obj);
    if (obj == NULL && pz__json_check_oom(&je, given, strlen(given))) {
        return pz__fail(err, PZ_ENOMEM, "out of memory");
    }
    char *text = is_object ? json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS |
                                                 JSON_REAL_PRECISION(17))
                           : NULL;
    /* Under memory pressure jansson's dump has been seen to return a text
     * missing a key ('{":2}'), which the store would keep for good: a
     * text that does not read back as the object is out of memory. */
    json_t *back = text ? json_loads(text, 0, NULL) : NULL;
    bool same = back != NULL && json_equal(back, obj);
    json_decref(back);
    if (text != NULL && !same) {
        json_decref(obj);
        pz__store_json_text_free(text);
        return pz__fail(err, PZ_ENOMEM, "out of memory");
    }
    json_decref(obj);
    *out = text ? pz__strdup(text) : NULL;
    pz__store_json_text_free(text);
    if (*out == NULL) {
        return pz__fail(err, is_object ? PZ_ENOMEM : PZ_EINVAL,
                        "sampler options must be a JSON object of numbers");
    }
    return PZ_OK;
}

/* Canonical settings from 'cfg' into 'b', validated by building a study
 * on them; the study is kept in 'b' (load_study reuses it: the space is
 * parsed at most once). */
static int want_config(const pz_study_config *cfg, binding *b, pz_error *err)
{
    if ((cfg->space == NULL && cfg->space_json == NULL) ||
        cfg->sampler == NULL) {
        return pz__fail(err, PZ_EINVAL,
                        "study config needs a space and a "
                        "sampler");
    }
    int rc = canon_options(cfg->options_json, &b->options_json, err);
    if (rc == PZ_OK) {
        rc = build_study(cfg->space, cfg->space_json, cfg->sampler,
                         b->options_json, cfg->seed, &b->study, err);
    }
    if (rc == PZ_OK) {
        rc = pz_space_to_json(pz_study_space(b->study), &b->space_json, err);
    }
    if (rc == PZ_OK &&
        (b->sampler = pz__strdup(pz_study_sampler(b->study))) == NULL) {
        rc = pz__fail(err, PZ_ENOMEM, "out of memory");
    }
    b->seed = cfg->seed;
    return rc;
}

/* The stored space in canonical form, to compare with a wanted one. */
static int canon_space(const char *json, char **out, pz_error *err)
{
    pz_space *sp = NULL;
    int rc = pz_space_from_json(&sp, json, strlen(json), err);
    if (rc == PZ_OK) {
        rc = pz_space_to_json(sp, out, err);
    }
    pz_space_free(sp);
    return rc;
}

static int check_same_space(const pz_store *s, const binding *want,
                            const char *stored, pz_error *err)
{
    if (strcmp(stored, want->space_json) == 0) {
        return PZ_OK; /* stored canonical, as this version writes it */
    }
    char *canon = NULL;
    int rc = canon_space(stored, &canon, err);
    if (rc != PZ_OK) {
        return pz__store_stored_fail(err, rc,
                                     pz__fail_context(err, PZ_ESTORE,
                                                      "%s: study '%s'", s->path,
                                                      want->name));
    }
    bool same = strcmp(canon, want->space_json) == 0;
    pz__free_str(canon);
    if (!same) {
        return pz__fail(err, PZ_EINVAL,
                        "study '%s' in '%s' has a different space (a new "
                        "space needs a new study name)",
                        want->name, s->path);
    }
    return PZ_OK;
}

/* Does the stored row of S_STUDY_GET match what 'cfg' insists on? */
static int check_same(const pz_store *s, sqlite3_stmt *q, const binding *want,
                      unsigned flags, pz_error *err)
{
    const char *space = pz__store_col_text(q, 1),
               *sampler = pz__store_col_text(q, 2),
               *options = pz__store_col_text(q, 3);
    if (space == NULL || sampler == NULL || options == NULL) {
        return pz__fail(err, PZ_ESTORE,
                        "%s: study '%s' has no stored space, sampler or "
                        "options (the file is damaged)",
                        s->path, want->name);
    }
    int rc = check_same_space(s, want, space, err);
    if (rc == PZ_OK && !(flags & PZ_STUDY_DEFAULT_SAMPLER) &&
        (strcmp(sampler, want->sampler) != 0 ||
         strcmp(options, want->options_json) != 0)) {
        rc = pz__fail(err, PZ_EINVAL,
                      "study '%s' in '%s' uses sampler '%s' with options "
                      "%s, not '%s' with %s",
                      want->name, s->path, sampler, options, want->sampler,
                      want->options_json);
    }
    uint64_t seed = (uint64_t)sqlite3_column_int64(q, 4);
    if (rc == PZ_OK && !(flags & PZ_STUDY_DEFAULT_SEED) && seed != want->seed) {
        rc = pz__fail(err, PZ_EINVAL,
                      "study '%s' in '%s' has seed %llu, not %llu", want->name,
                      s->path, (unsigned long long)seed,
                      (unsigned long long)want->seed);
    }
    return rc;
}

/* Take the stored settings of the S_STUDY_GET row into 'b'. */
static int take_stored(sqlite3_stmt *q, binding *b, pz_error *err)
{
    pz__free_str(b->space_json);
    pz__free_str(b->sampler);
    pz__free_str(b->options_json);
    b->rowid = sqlite3_column_int64(q, 0);
    b->space_json = pz__store_dup_text(q, 1);
    b->sampler = pz__store_dup_text(q, 2);
    b->options_json = pz__store_dup_text(q, 3);
    b->seed = (uint64_t)sqlite3_column_int64(q, 4);
    b->created_at = sqlite3_column_double(q, 5);
    b->seq = sqlite3_column_int64(q, 6);
    if (!b->space_json || !b->sampler || !b->options_json) {
        return pz__fail(err, PZ_ENOMEM, "out of memory");
    }
    return PZ_OK;
}

static int insert_study(pz_store *s, binding *b, pz_error *err)
{
    sqlite3_stmt *q = pz__store_stmt(s, S_STUDY_INSERT);
    b->created_at = pz__store_now();
    pz__store_bind_text(q, 1, b->name);
    pz__store_bind_text(q, 2, b->space_json);
    pz__store_bind_text(q, 3, b->sampler);
    pz__store_bind_text(q, 4, b->options_json);
    sqlite3_bind_int64(q, 5, (sqlite3_int64)b->seed);
    sqlite3_bind_double(q, 6, b->created_at);
    int rc = pz__store_step_done(s, q, err);
    if (rc == PZ_OK) {
        b->rowid = sqlite3_last_insert_rowid(s->db);
        b->created_now = 1;
        b->seq = 0;
    }
    return rc;
}

/* Inside a txn: find study 'b->name', check it against 'cfg', or create
 * it from 'b' when 'cfg' is given. */
static int find_or_create(pz_store *s, binding *b, const pz_study_config *cfg,
                          pz_error *err)
{
    sqlite3_stmt *q = pz__store_stmt(s, S_STUDY_GET);
    pz__store_bind_text(q, 1, b->name);
    int rc = sqlite3_step(q);
    int out = PZ_OK;
    if (rc == SQLITE_ROW) {
        if (cfg != NULL) {
            out = check_same(s, q, b, cfg->flags, err);
        }
        if (out == PZ_OK) {
            out = take_stored(q, b, err);
        }
    } else if (rc != SQLITE_DONE) {
        out = pz__store_fail(s, rc, err);
    } else if (cfg == NULL) {
        out = pz__fail(err, PZ_ENOTFOUND, "no study '%s' in '%s'", b->name,
                       s->path);
    }
    sqlite3_reset(q);
    if (out == PZ_OK && rc == SQLITE_DONE) {
        out = insert_study(s, b, err);
    }
    return out;
}

/* Add every stored trial to b->study in id order (the order samplers
 * read the history in). Rows up to b->seq: inside the same txn. */
static int load_rows(pz_store *s, binding *b, pz_error *err)
{
    sqlite3_stmt *q = pz__store_stmt(s, S_ALL);
    sqlite3_bind_int64(q, 1, b->rowid);
    const pz_space *sp = pz_study_space(b->study);
    int rc, out = PZ_OK;
    while (out == PZ_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(q, C_ID);
        pz_trial_state state = (pz_trial_state)sqlite3_column_int(q, C_STATE);
        double loss = pz__stop_told_loss(state, pz__store_col_text(q, C_STATUS),
                                         pz__store_col_real(q, C_LOSS));
        out = pz__store_params_from_json(
            sp, id, pz__store_col_text(q, C_PARAMS), b->row, err);
        if (out == PZ_OK) {
            out = pz_study_add(b->study, id, b->row, state, loss, err);
        }
        if (out == PZ_EINVAL) {
            out = pz__store_stored_fail(err, out,
                                        pz__fail_context(err, PZ_ESTORE,
                                                         "stored trial %lld",
                                                         (long long)id));
        }
    }
    if (out == PZ_OK && rc != SQLITE_DONE) {
        out = pz__store_fail(s, rc, err);
    }
    sqlite3_reset(q);
    return out;
}

/* Build b->study from its stored settings and add every stored trial.
 * A study want_config built has the stored space (checked or just
 * written): it only takes the stored sampler, options and seed. */
static int load_study(pz_store *s, binding *b, pz_error *err)
{
    int rc = b->study ? configure(&b->study, b->sampler, b->options_json,
                                  b->seed, err)
                      : build_study(NULL, b->space_json, b->sampler,
                                    b->options_json, b->seed, &b->study, err);
    if (rc != PZ_OK) {
        return pz__store_stored_fail(err, rc,
                                     pz__fail_context(err, PZ_ESTORE,
                                                      "%s: study '%s'", s->path,
                                                      b->name));
    }
    b->n_params = pz_space_size(pz_study_space(b->study));
    b->row = pz__calloc(b->n_params ? b->n_params : 1, sizeof *b->row);
    b->n_params = b->n_params ? b->n_params : 1;
    if (b->row == NULL) {
        return pz__fail(err, PZ_ENOMEM, "out of memory");
    }
    int rc2 = load_rows(s, b, err);
    b->report_seq = 0;
    b->data_version = -1;
    return rc2 == PZ_OK ? pz__store_sync_reports(s, b, err) : rc2;
}

int pz_store_open_study(pz_store *s, const char *name,
                        const pz_study_config *cfg, pz_error *err)
{
    if (name == NULL || name[0] == '\0') {
        return pz__fail(err, PZ_EINVAL, "study name is empty");
    }
    binding b = {0};
    int rc = (b.name = pz__strdup(name)) ? PZ_OK : PZ_ENOMEM;
    if (rc != PZ_OK) {
        pz__fail(err, rc, "out of memory");
    }
    if (rc == PZ_OK && cfg != NULL) {
        rc = want_config(cfg, &b, err);
    }
    if (rc == PZ_OK) {
        rc = cfg ? pz__store_begin_write(s, err) : pz__store_begin_read(s, err);
        if (rc == PZ_OK) {
            rc = find_or_create(s, &b, cfg, err);
            rc = rc == PZ_OK ? load_study(s, &b, err) : rc;
            rc = pz__store_end_txn(s, rc, err);
        }
    }
    if (rc != PZ_OK) {
        pz__store_binding_fini(&b);
        return rc;
    }
    pz__store_abandon_running(s);
    pz__store_binding_fini(&s->cur);
    s->cur = b;
    s->started_any = false;
    return PZ_OK;
}

pz_study *pz_store_study(pz_store *s)
{
    return s->cur.study;
}

int pz_store_study_info_get(const pz_store *s, pz_store_study_info *info,
                            pz_error *err)
{
    int rc = pz__store_need_study(s, err);
    if (rc == PZ_OK) {
        *info = (pz_store_study_info){
            .name = s->cur.name,
            .space_json = s->cur.space_json,
            .sampler = s->cur.sampler,
            .options_json = s->cur.options_json,
            .seed = s->cur.seed,
            .created_at = s->cur.created_at,
            .created_now = s->cur.created_now,
        };
    }
    return rc;
}

int pz__store_stopped(int rc, pz_error *err)
{
    return pz__fail(err, rc, "walk stopped by the callback (%d)", rc);
}

/* Trial counts and best loss of study 'rowid' into 'sum'. */
static int study_counts(pz_store *s, int64_t rowid, pz_store_study_summary *sum,
                        pz_error *err)
{
    sqlite3_stmt *q = pz__store_stmt(s, S_STUDY_COUNTS);
    sqlite3_bind_int64(q, 1, rowid);
    sum->best_loss = (double)NAN;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        int state = sqlite3_column_int(q, 0);
        if (state >= 0 && state < PZ_TRIAL_STATE_COUNT) {
            sum->n_state[state] = (size_t)sqlite3_column_int64(q, 1);
        }
        if (state == PZ_TRIAL_DONE) {
            sum->best_loss = pz__store_col_real(q, 2);
        }
    }
    int out = rc == SQLITE_DONE ? PZ_OK : pz__store_fail(s, rc, err);
    sqlite3_reset(q);
    return out;
}

static int walk_studies(pz_store *s, pz_store_study_fn fn, void *ud,
                        pz_error *err)
{
    sqlite3_stmt *q = pz__store_stmt(s, S_STUDY_LIST);
    int rc, out = PZ_OK;
    while (out == PZ_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        pz_store_study_summary sum = {
            .name = pz__store_col_text(q, 1),
            .sampler = pz__store_col_text(q, 2),
            .seed = (uint64_t)sqlite3_column_int64(q, 3),
            .created_at = sqlite3_column_double(q, 4),
        };
        if (sum.name == NULL || sum.sampler == NULL) { /* NOT NULL columns */
            out = pz__fail(err, PZ_ESTORE,
                           "%s: a study has no name or sampler (the file is "
                           "damaged)",
                           s->path);
            break;
        }
        out = study_counts(s, sqlite3_column_int64(q, 0), &sum, err);
        if (out == PZ_OK && (out = fn(&sum, ud)) != 0) {
            out = pz__store_stopped(out, err);
        }
    }
    if (out == PZ_OK && rc != SQLITE_DONE) {
        out = pz__store_fail(s, rc, err);
    }
    sqlite3_reset(q);
    return out;
}

int pz_store_each_study(pz_store *s, pz_store_study_fn fn, void *ud,
                        pz_error *err)
{
    int rc = pz__store_begin_read(s, err);
    if (rc == PZ_OK) {
        rc = pz__store_end_txn(s, walk_studies(s, fn, ud, err), err);
    }
    return rc;
}
