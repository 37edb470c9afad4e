/* The media-by-URL policy (query/fetch.c): address classes from the IANA
 * special-purpose registries (RFC 6890, 6598, 4193, 4291, 6052, 3056),
 * policy options, and the file:// root rule. With --classify FILE it prints
 * "ADDRESS CLASS|public" per line for the integration test, which compares
 * with Python's ipaddress module. No test here opens a network connection. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "omnidex.h"
#include "query/fetch.h"
#include "tests/unit/testlib.h"

static const char *classify(const char *txt)
{
    struct sockaddr_in in4 = {.sin_family = AF_INET};
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    if (inet_pton(AF_INET, txt, &in4.sin_addr) == 1) return odx_fetch_addr_class((struct sockaddr *)&in4);
    if (inet_pton(AF_INET6, txt, &in6.sin6_addr) == 1) return odx_fetch_addr_class((struct sockaddr *)&in6);
    return "unparsed";
}

static void test_address_classes(void)
{
    static const struct { const char *a, *cls; } cases[] = {
        {"127.0.0.1", "loopback"}, {"127.200.1.1", "loopback"}, {"10.255.0.1", "private"},
        {"172.16.0.0", "private"}, {"172.31.255.255", "private"}, {"172.32.0.0", NULL}, {"172.15.255.255", NULL},
        {"192.168.7.7", "private"}, {"169.254.169.254", "link-local"}, {"100.64.0.0", "carrier-grade NAT"},
        {"100.127.255.255", "carrier-grade NAT"}, {"100.128.0.0", NULL}, {"0.1.2.3", "this-network"},
        {"224.0.0.251", "multicast"}, {"255.255.255.255", "reserved"}, {"198.18.0.1", "benchmarking"},
        {"198.19.255.255", "benchmarking"}, {"198.20.0.0", NULL}, {"192.0.2.10", "documentation"},
        {"8.8.8.8", NULL}, {"93.184.216.34", NULL}, {"::1", "loopback"}, {"::", "unspecified"},
        {"fc00::1", "unique local (private)"}, {"fdff::1", "unique local (private)"}, {"fe80::1", "link-local"},
        {"febf::1", "link-local"}, {"ff02::1", "multicast"}, {"2001:db8::1", "documentation"},
        {"::ffff:127.0.0.1", "loopback"}, {"::ffff:8.8.8.8", NULL}, {"64:ff9b::a00:1", "private"},
        {"2002:a9fe:a9fe::1", "link-local"}, {"2002:808:808::1", NULL}, {"2606:4700::1111", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = classify(cases[i].a);
        CHECK((got == NULL) == (cases[i].cls == NULL) && (!got || !strcmp(got, cases[i].cls)), "%s: got %s want %s",
              cases[i].a, got ? got : "public", cases[i].cls ? cases[i].cls : "public");
    }
}

static void test_options(void)
{
    char dir[] = "/tmp/odx-fetch-XXXXXX";
    REQUIRE(mkdtemp(dir), "mkdtemp");
    odx_db *db;
    REQUIRE_OK(odx_db_open(dir, ODX_OPEN_CREATE, &db));
    CHECK(odx_db_set_option(db, "fetch.allow_private", "yes") == ODX_EINVAL, "bad bool");
    CHECK_OK(odx_db_set_option(db, "fetch.allow_private", "1"));
    CHECK(odx_db_set_option(db, "fetch.max_bytes", "-5") == ODX_EINVAL, "negative");
    CHECK(odx_db_set_option(db, "fetch.max_bytes", "12x") == ODX_EINVAL, "junk");
    CHECK(odx_db_set_option(db, "fetch.timeout_ms", "0") == ODX_EINVAL, "zero");
    CHECK_OK(odx_db_set_option(db, "fetch.timeout_ms", "1500"));
    CHECK(odx_db_set_option(db, "fetch.file_root", "/nonexistent/dir") == ODX_EINVAL, "missing root");
    CHECK_OK(odx_db_set_option(db, "fetch.file_root", dir));
    CHECK(odx_db_set_option(db, "fetch.nope", "1") == ODX_EINVAL, "unknown option");
    odx_db_close(db);
}

static void test_file_roots(void)
{
    char dir[] = "/tmp/odx-froot-XXXXXX", path[512], sib[600];
    REQUIRE(mkdtemp(dir), "mkdtemp");
    snprintf(path, sizeof path, "%s/a.bin", dir);
    FILE *f = fopen(path, "wb");
    REQUIRE(f, "create");
    fputs("hello", f);
    fclose(f);
    /* A sibling directory sharing the root's name as a prefix must not pass. */
    snprintf(sib, sizeof sib, "%sx", dir);
    mkdir(sib, 0755);
    char sibfile[700];
    snprintf(sibfile, sizeof sibfile, "%s/b.bin", sib);
    if ((f = fopen(sibfile, "wb"))) { fputs("no", f); fclose(f); }
    odx_fetch_policy p;
    odx_fetch_policy_init(&p);
    void *data = NULL;
    size_t len = 0;
    char uri[800];
    snprintf(uri, sizeof uri, "file://%s", path);
    CHECK(odx_fetch(&p, uri, &data, &len) == ODX_EINVAL, "no roots: refused");
    REQUIRE_OK(odx_fetch_policy_add_root(&p, dir));
    CHECK_OK(odx_fetch(&p, uri, &data, &len));
    CHECK(len == 5 && data && !memcmp(data, "hello", 5), "content");
    odx_free(data);
    snprintf(uri, sizeof uri, "file://%s", sibfile);
    CHECK(odx_fetch(&p, uri, &data, &len) == ODX_EINVAL, "prefix sibling refused");
    snprintf(uri, sizeof uri, "file://%s/missing", dir);
    CHECK(odx_fetch(&p, uri, &data, &len) == ODX_ENOTFOUND, "missing file");
    p.max_bytes = 3;
    snprintf(uri, sizeof uri, "file://%s", path);
    CHECK(odx_fetch(&p, uri, &data, &len) == ODX_ELIMIT, "over max_bytes");
    CHECK(odx_fetch(&p, "gopher://127.0.0.1/", &data, &len) == ODX_EINVAL, "gopher");
    CHECK(odx_fetch(&p, "not a uri", &data, &len) == ODX_EINVAL, "garbage");
    CHECK(odx_fetch(&p, "http://127.0.0.1:1/x", &data, &len) == ODX_EINVAL, "loopback refused without connecting");
    odx_fetch_policy_free(&p);
    unlink(sibfile);
    rmdir(sib);
}

static int classify_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return 1;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!*line) continue;
        const char *c = classify(line);
        printf("%s %s\n", line, c ? c : "public");
    }
    fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--classify")) return classify_file(argv[2]);
    RUN(test_address_classes);
    RUN(test_options);
    RUN(test_file_roots);
    TEST_EXIT();
}
