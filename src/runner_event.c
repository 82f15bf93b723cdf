/*
 * runner_event.c -- what a run tells its caller (pz_runner_set_events):
 * one event with the run's counts, best loss and elapsed time on its
 * monotonic clock. The bottom of the runner files: the loop, the spawn
 * and the outcome all report through it.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "runner_internal.h"

#include <time.h>

double pz__runner_mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void pz__runner_emit(loop *L, pz_runner_event *ev)
{
    if (L->r->fn == NULL) {
        return;
    }
    ev->n_done = pz_study_count(L->study, PZ_TRIAL_DONE);
    ev->n_failed = pz_study_count(L->study, PZ_TRIAL_ERROR);
    ev->n_running = L->n_running;
    ev->n_target = L->r->rules.max_trials;
    ev->n_run = L->n_run;
    ev->best_loss = pz__stop_best_loss(L->study);
    ev->elapsed_s = pz__runner_mono_s() - L->t0;
    L->r->fn(ev, L->r->ud);
}
