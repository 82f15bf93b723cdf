/*
 * stop.c -- the stop rules every driver shares (fmin, the CLI, Spark):
 * a trial budget, a wall-clock timeout and a loss threshold, checked
 * between trials; and the one meaning of the words they use: which
 * trials count toward the budget, what a trial's loss is, and what each
 * state is called (parzen.h).
 * The runner, the store and the Python driver call these; none has a
 * rule of its own.
 */
#include "pz_internal.h"

#include <math.h>
#include <string.h>

const char *pz_trial_state_name(int state)
{
    switch (state) {
#define PZ__TRIAL_STATE_NAME(name, code, text)                                 \
    case PZ_TRIAL_##name:                                                      \
        return text;
        PZ_TRIAL_STATE_MAP(PZ__TRIAL_STATE_NAME)
#undef PZ__TRIAL_STATE_NAME
    default:
        return "unknown";
    }
}

int pz_trial_counts(pz_trial_state state)
{
    return state == PZ_TRIAL_RUNNING || state == PZ_TRIAL_DONE ||
           state == PZ_TRIAL_ERROR || state == PZ_TRIAL_PRUNED;
}

double pz_trial_loss(pz_trial_state state, const char *status, double loss)
{
    if (state == PZ_TRIAL_NEW || state == PZ_TRIAL_RUNNING) {
        return (double)INFINITY;
    }
    if (state == PZ_TRIAL_PRUNED) {
        return loss; /* its last reported value */
    }
    if (state != PZ_TRIAL_DONE) {
        return (double)NAN;
    }
    /* a "fail" result is no result: its loss, if any, is not a loss */
    return status == NULL || strcmp(status, "ok") == 0 ? loss
                                                       : (double)INFINITY;
}

size_t pz_stop_counted(const pz_study *st)
{
    size_t n = 0;
    for (int s = PZ_TRIAL_NEW; s < PZ_TRIAL_STATE_COUNT; s++) {
        if (pz_trial_counts((pz_trial_state)s)) {
            n += pz_study_count(st, (pz_trial_state)s);
        }
    }
    return n;
}

pz_stop_rules pz_stop_rules_none(void)
{
    return (pz_stop_rules){
        .max_trials = 0, .timeout_s = 0, .loss_threshold = (double)NAN};
}

double pz__stop_best_loss(const pz_study *st)
{
    pz_trial_info t;
    return pz_study_best(st, &t, NULL) == PZ_OK ? t.loss : (double)NAN;
}

double pz__stop_told_loss(pz_trial_state state, const char *status, double loss)
{
    return state == PZ_TRIAL_DONE || state == PZ_TRIAL_PRUNED
               ? pz_trial_loss(state, status, loss)
               : (double)NAN;
}

pz_stop_reason pz_stop_check(const pz_stop_rules *r, const pz_study *st,
                             double elapsed_s)
{
    if (r->max_trials > 0 && pz_stop_counted(st) >= r->max_trials) {
        return PZ_STOP_MAX_TRIALS;
    }
    if (r->timeout_s > 0 && elapsed_s >= r->timeout_s) {
        return PZ_STOP_TIMEOUT;
    }
    if (!isnan(r->loss_threshold)) {
        double best = pz__stop_best_loss(st);
        if (!isnan(best) && best < r->loss_threshold) {
            return PZ_STOP_LOSS_THRESHOLD;
        }
    }
    return PZ_STOP_NONE;
}

const char *pz_stop_reason_name(pz_stop_reason reason)
{
    switch (reason) {
    case PZ_STOP_MAX_TRIALS:
        return "max_trials";
    case PZ_STOP_TIMEOUT:
        return "timeout";
    case PZ_STOP_LOSS_THRESHOLD:
        return "loss_threshold";
    default:
        return "none";
    }
}
