/* Regression tests for the filter printer and nesting limits
 * (common/filter.c), found by the fuzz_filter round-trip target: a filter
 * that parses must print to text that parses again to the same filter, and
 * the builders must accept what the parser accepts. */
#include <string.h>

#include "common/alloc.h"
#include "common/filter.h"
#include "omnidex.h"
#include "testlib.h"

/* Parses expr, prints it, parses and prints again: both prints equal. */
static int round_trips(const char *expr, char **printed)
{
    odx_filter *f = NULL, *g = NULL;
    char *s1 = NULL, *s2 = NULL;
    int ok = odx_filter_parse(expr, &f) == 0 && odx_filter_to_string(f, &s1) == 0 &&
             odx_filter_parse(s1, &g) == 0 && odx_filter_to_string(g, &s2) == 0 && strcmp(s1, s2) == 0;
    if (printed) *printed = s1;
    else odx_free(s1);
    odx_free(s2);
    odx_filter_free(f);
    odx_filter_free(g);
    return ok;
}

static void test_rel_filter_deep_not_round_trip(void)
{
    char e[1024] = "";
    for (int i = 0; i < 64; i++) strcat(e, "NOT ");
    strcat(e, "a = 1");
    char *p = NULL;
    CHECK(round_trips(e, &p), "64 NOTs: printed as %.80s...: %s", p ? p : "(none)", odx_last_error());
    odx_free(p);
    strcat(e, " AND NOT NOT b = 2");
    memmove(e + 4, e, strlen(e) + 1);
    memcpy(e, "NOT ", 4); /* 65 NOTs: over the limit */
    odx_filter *f = NULL;
    CHECK(odx_filter_parse(e, &f) == ODX_EFILTER, "65 NOTs refused");
    odx_filter_free(f);
}

static void test_rel_filter_and_in_or_round_trip(void)
{
    /* OR inside AND needs parentheses; AND inside OR does not. 60 levels. */
    char e[4096] = "";
    for (int i = 0; i < 60; i++) strcat(e, "a = 1 OR b = 1 AND (");
    strcat(e, "c = 1");
    for (int i = 0; i < 60; i++) strcat(e, ")");
    CHECK(round_trips(e, NULL), "60 alternating levels: %s", odx_last_error());
}

static void test_rel_filter_not_over_chain(void)
{
    /* A chain of 100 ORs adds no nesting, with or without NOT around it. */
    char e[4096] = "NOT (a = 0";
    for (int i = 1; i < 100; i++) snprintf(e + strlen(e), sizeof e - strlen(e), " OR a = %d", i);
    strcat(e, ")");
    CHECK(round_trips(e, NULL), "NOT over a 100-term OR chain: %s", odx_last_error());
    CHECK(round_trips(e + 4, NULL), "100-term OR chain in parentheses: %s", odx_last_error());
}

static void test_rel_filter_builders_match_parser(void)
{
    /* 100 comparisons ORed by the builders (as the gRPC any_of does). */
    odx_filter *acc = NULL;
    int rc = 0;
    for (int i = 0; i < 100 && rc == 0; i++) {
        odx_filter *x = NULL;
        REQUIRE_OK(odx_filter_cmp_int("n", ODX_FILTER_EQ, i, &x));
        if (!acc) { acc = x; continue; }
        odx_filter *y = NULL;
        rc = odx_filter_or(acc, x, &y);
        acc = rc ? NULL : y;
    }
    CHECK(rc == 0 && acc, "100-term OR by the builders: %s", odx_last_error());
    odx_filter *n = NULL;
    CHECK_OK(odx_filter_not(acc, &n));
    char *s = NULL;
    CHECK(n && odx_filter_to_string(n, &s) == 0 && s && !strncmp(s, "NOT (n = 0 OR n = 1 OR", 22), "printed %.40s", s ? s : "");
    odx_filter *g = NULL;
    CHECK(s && odx_filter_parse(s, &g) == 0, "printed builder filter parses: %s", odx_last_error());
    odx_free(s);
    odx_filter_free(g);
    odx_filter_free(n);
    /* Nesting over 64 through the builders is refused like in the parser. */
    odx_filter *f = NULL;
    REQUIRE_OK(odx_filter_cmp_int("n", ODX_FILTER_EQ, 1, &f));
    int i;
    for (i = 0; i < 70; i++) {
        odx_filter *y = NULL;
        if (odx_filter_not(f, &y)) { f = NULL; break; }
        f = y;
    }
    CHECK(i == 64, "builders stop NOT nesting at 64 (stopped at %d)", i);
    odx_filter_free(f);
    /* The node cap bounds the tree for the recursive walkers. */
    acc = NULL;
    for (i = 0; i < 5000; i++) {
        odx_filter *x = NULL;
        REQUIRE_OK(odx_filter_cmp_int("n", ODX_FILTER_EQ, i, &x));
        if (!acc) { acc = x; continue; }
        odx_filter *y = NULL;
        if (odx_filter_and(acc, x, &y)) { acc = NULL; break; }
        acc = y;
    }
    CHECK(i > 2000 && i < 5000, "AND chain refused past the node cap (at %d)", i);
    odx_filter_free(acc);
}

int main(void)
{
    RUN(test_rel_filter_deep_not_round_trip);
    RUN(test_rel_filter_and_in_or_round_trip);
    RUN(test_rel_filter_not_over_chain);
    RUN(test_rel_filter_builders_match_parser);
    TEST_EXIT();
}
