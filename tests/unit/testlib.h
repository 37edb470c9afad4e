/* A tiny test harness: each test program runs functions with RUN(), checks
 * with CHECK(), and prints one TAP-style line per test function. */
#ifndef OMNIDEX_TESTLIB_H
#define OMNIDEX_TESTLIB_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_failed_checks;   /* in the current test function */
static int t_tests_failed;

#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        if (!(cond)) {                                                          \
            t_failed_checks++;                                                  \
            printf("# %s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);  \
            printf(__VA_ARGS__);                                                \
            printf("\n");                                                       \
            fflush(stdout);                                                     \
        }                                                                       \
    } while (0)

/* Stops the current test function when cond is false. */
#define REQUIRE(cond, ...)                                                      \
    do {                                                                        \
        if (!(cond)) {                                                          \
            CHECK(cond, __VA_ARGS__);                                           \
            return;                                                             \
        }                                                                       \
    } while (0)

#define CHECK_OK(expr)                                                          \
    do {                                                                        \
        int t_rc_ = (expr);                                                     \
        CHECK(t_rc_ == 0, "%s -> %d (%s): %s", #expr, t_rc_, odx_strerror(t_rc_), \
              odx_last_error());                                                \
    } while (0)

#define REQUIRE_OK(expr)                                                        \
    do {                                                                        \
        int t_rc_ = (expr);                                                     \
        REQUIRE(t_rc_ == 0, "%s -> %d (%s): %s", #expr, t_rc_, odx_strerror(t_rc_), \
                odx_last_error());                                              \
    } while (0)

#define RUN(fn)                                                                 \
    do {                                                                        \
        t_failed_checks = 0;                                                    \
        fn();                                                                   \
        if (t_failed_checks) { t_tests_failed++; printf("not ok - %s\n", #fn); } \
        else printf("ok - %s\n", #fn);                                          \
        fflush(stdout);                                                         \
    } while (0)

#define TEST_EXIT() return t_tests_failed ? 1 : 0

#endif
