/*
 * pz_test_util.h -- small helpers shared by the C tests: spec builders
 * and assertions on pz_error messages.
 */
#ifndef PZ_TEST_UTIL_H
#define PZ_TEST_UTIL_H

#include "parzen.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define PZT_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PZT_LSAN 1
#endif
#endif
#ifdef PZT_LSAN
#include <sanitizer/lsan_interface.h>
#endif

/* Under ASan, fail the test if any block is unreachable now. LSan's own
 * report at exit does not fail a Criterion test (the worker has already
 * reported), so tests that exercise failure paths call this. A no-op in
 * plain builds. */
static inline void pzt_assert_no_leaks(void)
{
#ifdef PZT_LSAN
    cr_assert_eq(__lsan_do_recoverable_leak_check(), 0,
                 "memory leaked: see the LeakSanitizer report above");
#endif
}

/* A study on 'sp' with 'sampler' and 'seed'; fails the test if not. */
static inline pz_study *pzt_study_on(const pz_space *sp, const char *sampler,
                                     uint64_t seed)
{
    pz_study *st = NULL;
    pz_error e = {0};
    cr_assert_eq(pz_study_new(&st, sp, &e), PZ_OK, "%s", e.msg);
    cr_assert_eq(pz_study_set_sampler(st, sampler, &e), PZ_OK, "%s", e.msg);
    pz_study_set_seed(st, seed);
    return st;
}

/* A space of the n parameters 'specs', labelled x0, x1, ...; fails the
 * test if not. */
static inline pz_space *pzt_space_of(const pz_param_spec *specs, size_t n)
{
    pz_space *sp = NULL;
    pz_error e = {0};
    cr_assert_eq(pz_space_new(&sp, &e), PZ_OK, "%s", e.msg);
    for (size_t i = 0; i < n; i++) {
        char label[16];
        snprintf(label, sizeof label, "x%zu", i);
        cr_assert_eq(
            pz_space_add(sp, label, &specs[i], PZ_NO_PARENT, 0, NULL, &e),
            PZ_OK, "%s", e.msg);
    }
    return sp;
}

/* pz_study_add and pz_study_set_option that fail the test on an error. */
static inline void pzt_add_trial(pz_study *st, int64_t id, const double *x,
                                 pz_trial_state state, double loss)
{
    pz_error e = {0};
    cr_assert_eq(pz_study_add(st, id, x, state, loss, &e), PZ_OK, "%s", e.msg);
}

static inline void pzt_set_option(pz_study *st, const char *key, double v)
{
    pz_error e = {0};
    cr_assert_eq(pz_study_set_option(st, key, v, &e), PZ_OK, "%s", e.msg);
}

static inline pz_param_spec pzt_range(pz_dist d, double low, double high)
{
    return (pz_param_spec){.dist = d, .low = low, .high = high};
}

static inline pz_param_spec pzt_qrange(pz_dist d, double low, double high,
                                       double q)
{
    return (pz_param_spec){.dist = d, .low = low, .high = high, .q = q};
}

static inline pz_param_spec pzt_normal(pz_dist d, double mu, double sigma)
{
    return (pz_param_spec){.dist = d, .mu = mu, .sigma = sigma};
}

static inline pz_param_spec pzt_qnormal(pz_dist d, double mu, double sigma,
                                        double q)
{
    return (pz_param_spec){.dist = d, .mu = mu, .sigma = sigma, .q = q};
}

static inline pz_param_spec pzt_choice(size_t n)
{
    return (pz_param_spec){.dist = PZ_CHOICE, .n_options = n};
}

static inline pz_param_spec pzt_pchoice(size_t n, const double *probs)
{
    return (pz_param_spec){.dist = PZ_PCHOICE, .n_options = n, .probs = probs};
}

/* Assert a failure with 'code' whose message contains every given
 * fragment (NULL-terminated list). */
#define pzt_assert_fails(rc, e, want_code, ...)                                \
    do {                                                                       \
        int pzt_rc_ = (rc);                                                    \
        cr_assert_eq(pzt_rc_, (want_code), "rc = %s (%s), want %s",            \
                     pz_status_name(pzt_rc_), (e).msg,                         \
                     pz_status_name(want_code));                               \
        cr_assert_eq((e).code, (want_code), "err.code = %d", (e).code);        \
        const char *pzt_frags_[] = {__VA_ARGS__, NULL};                        \
        for (size_t pzt_i_ = 0; pzt_frags_[pzt_i_] != NULL; pzt_i_++) {        \
            cr_assert(strstr((e).msg, pzt_frags_[pzt_i_]) != NULL,             \
                      "message \"%s\" lacks \"%s\"", (e).msg,                  \
                      pzt_frags_[pzt_i_]);                                     \
        }                                                                      \
        cr_assert(strchr((e).msg, '\n') == NULL, "newline in message");        \
    } while (0)

#endif
