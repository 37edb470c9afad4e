/* Unit tests: metadata, UTF-8, the filter language (parse, print, errors). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/file.h"
#include "common/filter.h"
#include "common/meta.h"
#include "common/util.h"
#include "omnidex.h"
#include "testlib.h"

static void test_meta_roundtrip(void)
{
    odx_meta *m, *d;
    REQUIRE_OK(odx_meta_new(&m));
    CHECK_OK(odx_meta_set_string(m, "label", "sneaker", 7));
    CHECK_OK(odx_meta_set_int(m, "price", -42));
    CHECK_OK(odx_meta_set_float(m, "w", 2.5));
    CHECK_OK(odx_meta_set_bool(m, "ok", 1));
    CHECK_OK(odx_meta_set_int(m, "price", 7)); /* replace */
    CHECK(odx_meta_count(m) == 4, "count %zu", odx_meta_count(m));
    CHECK(odx_meta_set_string(m, "bad key", "x", 1) == ODX_EINVAL, "space in key accepted");
    CHECK(odx_meta_set_string(m, "k", "\xff\xfe", 2) == ODX_EINVAL, "invalid UTF-8 accepted");
    CHECK(odx_meta_set_float(m, "k", NAN) == ODX_EINVAL, "NaN accepted");
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0, used;
    REQUIRE_OK(odx_meta_encode(m, &buf, &len, &cap));
    REQUIRE_OK(odx_meta_new(&d));
    CHECK_OK(odx_meta_decode(buf, len, &used, d));
    CHECK(used == len, "used %zu of %zu", used, len);
    char *j1, *j2;
    REQUIRE_OK(odx_meta_to_json(m, &j1));
    REQUIRE_OK(odx_meta_to_json(d, &j2));
    CHECK(!strcmp(j1, j2), "%s vs %s", j1, j2);
    CHECK(!strcmp(j1, "{\"label\":\"sneaker\",\"price\":7,\"w\":2.5,\"ok\":true}"), "json %s", j1);
    /* Every truncation of the encoding is rejected, never read past. */
    for (size_t cut = 0; cut < len; cut++) {
        odx_meta *t;
        odx_meta_new(&t);
        int rc = odx_meta_decode(buf, cut, &used, t);
        CHECK(rc == ODX_ECORRUPT, "truncated at %zu: rc %d", cut, rc);
        odx_meta_free(t);
    }
    odx_free(j1);
    odx_free(j2);
    odx_free(buf);
    odx_meta_free(m);
    odx_meta_free(d);
}

static void test_utf8(void)
{
    CHECK(odx_utf8_valid("h\xc3\xa9llo \xe6\x97\xa5\xf0\x9f\x98\x80", 15), "valid rejected");
    CHECK(!odx_utf8_valid("\xc0\xaf", 2), "overlong accepted");
    CHECK(!odx_utf8_valid("\xed\xa0\x80", 3), "surrogate accepted");
    CHECK(!odx_utf8_valid("\xe6\x97", 2), "truncated accepted");
}

static void roundtrip(const char *expr, const char *want)
{
    odx_filter *f, *g;
    int rc = odx_filter_parse(expr, &f);
    CHECK(rc == 0, "parse '%s': %s", expr, odx_last_error());
    if (rc) return;
    char *s, *s2;
    REQUIRE_OK(odx_filter_to_string(f, &s));
    if (want) CHECK(!strcmp(s, want), "'%s' printed as '%s', want '%s'", expr, s, want);
    rc = odx_filter_parse(s, &g);
    CHECK(rc == 0, "reparse '%s': %s", s, odx_last_error());
    if (!rc) {
        REQUIRE_OK(odx_filter_to_string(g, &s2));
        CHECK(!strcmp(s, s2), "unstable print '%s' vs '%s'", s, s2);
        odx_free(s2);
        odx_filter_free(g);
    }
    odx_free(s);
    odx_filter_free(f);
}

static void test_filter_parse(void)
{
    roundtrip("label = \"sneaker\" AND price < 100 AND NOT (tag IN (\"a\",\"b\"))",
              "label = \"sneaker\" AND price < 100 AND NOT tag IN (\"a\", \"b\")");
    roundtrip("a=1 or b>=2.5 and c != true", "a = 1 OR b >= 2.5 AND c != true");
    roundtrip("(a = 1 OR b = 2) AND c <= -3", "(a = 1 OR b = 2) AND c <= -3");
    roundtrip("x NOT IN (1, 2.0, \"s\", false)", "NOT x IN (1, 2.0, \"s\", false)");
    roundtrip("name = 'it\\'s \\u00e9'", NULL);
    roundtrip("`weird-key` > 1e3", "`weird-key` > 1000.0");
    /* A long AND chain must print flat and re-parse. */
    char buf[8192] = "f0 = 0";
    for (int i = 1; i < 300; i++) {
        char t[32];
        snprintf(t, sizeof t, " AND f%d = %d", i, i);
        strcat(buf, t);
    }
    roundtrip(buf, NULL);
}

static void expect_err(const char *expr)
{
    odx_filter *f = NULL;
    int rc = odx_filter_parse(expr, &f);
    CHECK(rc == ODX_EFILTER, "'%s' -> %d, want ODX_EFILTER", expr, rc);
    CHECK(rc == 0 || strlen(odx_last_error()) > 8, "no message for '%s'", expr);
    if (!rc) odx_filter_free(f);
}

static void test_filter_errors(void)
{
    expect_err("");
    expect_err("label =");
    expect_err("label = \"unterminated");
    expect_err("= 3");
    expect_err("a = 1 AND");
    expect_err("a = 1 b = 2");
    expect_err("a IN (1, 2");
    expect_err("a < true");
    expect_err("a = 99999999999999999999999");
    expect_err("a = \"\\q\"");
    expect_err("bad key! = 1");
    char deep[400];
    int n = 0;
    for (int i = 0; i < 70; i++) deep[n++] = '(';
    n += snprintf(deep + n, sizeof deep - n, "a = 1");
    for (int i = 0; i < 70; i++) deep[n++] = ')';
    deep[n] = 0;
    expect_err(deep);
    char nots[600] = "";
    for (int i = 0; i < 100; i++) strcat(nots, "NOT ");
    strcat(nots, "a = 1");
    expect_err(nots);
}

static void test_filter_builders(void)
{
    odx_filter *a, *b, *in, *n, *x, *y;
    REQUIRE_OK(odx_filter_cmp_string("label", ODX_FILTER_EQ, "boot", 4, &a));
    REQUIRE_OK(odx_filter_cmp_float("price", ODX_FILTER_LT, 9.5, &b));
    REQUIRE_OK(odx_filter_in("tag", &in));
    CHECK_OK(odx_filter_in_add_int(in, 3));
    CHECK_OK(odx_filter_in_add_string(in, "z", 1));
    REQUIRE_OK(odx_filter_not(in, &n));
    REQUIRE_OK(odx_filter_and(a, b, &x));
    REQUIRE_OK(odx_filter_or(x, n, &y));
    char *s;
    REQUIRE_OK(odx_filter_to_string(y, &s));
    CHECK(!strcmp(s, "label = \"boot\" AND price < 9.5 OR NOT tag IN (3, \"z\")"), "got %s", s);
    odx_free(s);
    odx_filter_free(y);
    odx_filter *bad;
    CHECK(odx_filter_cmp_bool("b", ODX_FILTER_LT, 1, &bad) == ODX_EFILTER, "bool < accepted");
    CHECK(odx_filter_cmp_int("no space", ODX_FILTER_EQ, 1, &bad) == ODX_EFILTER, "bad field accepted");
    CHECK(odx_filter_cmp_int("f", (odx_filter_op)99, 1, &bad) == ODX_EFILTER, "bad op accepted");
}

static void test_names(void)
{
    CHECK(odx_name_valid("a.b-c_9", 7, 7, ODX_NAME_NO_LEADING_DOT), "a name at its length limit");
    CHECK(!odx_name_valid("a.b-c_9", 7, 6, 0), "one byte over the limit");
    CHECK(!odx_name_valid("", 0, 8, 0) && !odx_name_valid(NULL, 0, 8, 0), "empty and NULL");
    CHECK(odx_name_valid(".x", 2, 8, 0) && !odx_name_valid(".x", 2, 8, ODX_NAME_NO_LEADING_DOT), "leading dot by flag");
    CHECK(!odx_name_valid("a/b", 3, 8, 0) && !odx_name_valid("a b", 3, 8, 0), "outside [A-Za-z0-9_.-]");
    CHECK(!odx_name_valid("ab\0c", 4, 8, 0), "a NUL inside the length");
}

static void test_read_file(void)
{
    char dir[] = "/tmp/odx_read_file_XXXXXX", path[64], fifo[64], miss[64];
    REQUIRE(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(path, sizeof path, "%s/f", dir);
    snprintf(fifo, sizeof fifo, "%s/p", dir);
    snprintf(miss, sizeof miss, "%s/none", dir);
    FILE *f = fopen(path, "wb");
    REQUIRE(f != NULL, "create");
    fwrite("abc\0de", 1, 6, f);
    fclose(f);
    char *d = NULL;
    size_t n = 0;
    CHECK_OK(odx_read_file(path, 6, &d, &n));
    CHECK(n == 6 && d && !memcmp(d, "abc\0de", 6) && d[6] == 0, "contents, NUL-terminated");
    odx_free(d);
    CHECK(odx_read_file(path, 5, &d, &n) == ODX_ELIMIT, "one byte over the cap");
    CHECK(strstr(odx_last_error(), path) != NULL, "message names the file: %s", odx_last_error());
    CHECK(odx_read_file(miss, 6, &d, &n) == ODX_ENOTFOUND, "missing file");
    CHECK(odx_read_file(dir, 6, &d, &n) == ODX_EINVAL, "a directory");
    REQUIRE(mkfifo(fifo, 0600) == 0, "mkfifo");
    CHECK(odx_read_file(fifo, 6, &d, &n) == ODX_EINVAL, "a named pipe is refused, not waited on");
    unlink(fifo);
    unlink(path);
    rmdir(dir);
}

static void test_alloc_failure(void)
{
    /* Parsing under every possible allocation failure: clean error, no leak
     * (LeakSanitizer checks the latter in the sanitizer build). */
    const char *expr = "label = \"sneaker\" AND price < 100 AND NOT (tag IN (\"a\",\"b\",\"c\"))";
    int ok_seen = 0;
    for (long nth = 1; nth < 200; nth++) {
        odx_alloc_fail_at(nth);
        odx_filter *f = NULL;
        int rc = odx_filter_parse(expr, &f);
        odx_alloc_fail_at(0);
        CHECK(rc == 0 || rc == ODX_ENOMEM, "nth %ld: rc %d (%s)", nth, rc, odx_last_error());
        if (rc == 0) { ok_seen = 1; odx_filter_free(f); break; }
    }
    CHECK(ok_seen, "parse never succeeded within 200 allocations");
}

int main(void)
{
    RUN(test_meta_roundtrip);
    RUN(test_utf8);
    RUN(test_filter_parse);
    RUN(test_filter_errors);
    RUN(test_filter_builders);
    RUN(test_names);
    RUN(test_read_file);
    RUN(test_alloc_failure);
    TEST_EXIT();
}
