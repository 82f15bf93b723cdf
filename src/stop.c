/*
 * stop.c -- the stop rules every driver shares (fmin, the CLI, Spark):
 * a trial budget, a wall-clock timeout and a loss threshold, checked
 * between trials with hyperopt's meaning of each.
 */
#include "pz_internal.h"

#include <math.h>

pz_stop_rules pz_stop_rules_none(void)
{
    return (pz_stop_rules){
        .max_trials = 0, .timeout_s = 0, .loss_threshold = (double)NAN};
}

/* hyperopt's best loss: any DONE trial's non-NaN loss, whatever its
 * status; NaN when there is none. */
static double best_loss(const pz_study *st)
{
    pz_trial_info t;
    return pz_study_best(st, &t, NULL) == PZ_OK ? t.loss : (double)NAN;
}

pz_stop_reason pz_stop_check(const pz_stop_rules *r, const pz_study *st,
                             double elapsed_s)
{
    if (r->max_trials > 0) {
        size_t done = pz_study_count(st, PZ_TRIAL_DONE) +
                      pz_study_count(st, PZ_TRIAL_ERROR) +
                      pz_study_count(st, PZ_TRIAL_CANCEL);
        if (done >= r->max_trials) {
            return PZ_STOP_MAX_TRIALS;
        }
    }
    if (r->timeout_s > 0 && elapsed_s >= r->timeout_s) {
        return PZ_STOP_TIMEOUT;
    }
    if (!isnan(r->loss_threshold)) {
        double best = best_loss(st);
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
