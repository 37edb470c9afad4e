/* safetensors reader: a valid file built here byte by byte, half-precision
 * conversions against values fixed by IEEE 754, and every hand-made corrupt
 * file in tests/fixtures/encoders/safetensors_corrupt refused cleanly. */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "encoders/runtime/half.h"
#include "encoders/runtime/safetensors.h"
#include "omnidex.h"
#include "testlib.h"

/* Builds header + data into buf; returns the length. */
static size_t build(unsigned char *buf, const char *json, const void *data, size_t dlen)
{
    size_t h = strlen(json);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(buf + 8, json, h);
    memcpy(buf + 8 + h, data, dlen);
    return 8 + h + dlen;
}

static void test_valid_file(void)
{
    /* a: F32 [2,3] at 0; b: F16 [2] at 24; c: BF16 [1] at 28; d: I64 [1] at 32 */
    unsigned char data[40];
    float a[6] = {1, 2, 3, 4, 5, -6.5f};
    uint16_t b[2] = {0x3C00, 0xC000}; /* 1.0, -2.0 */
    uint16_t c[2] = {0x3F80, 0};      /* bf16 1.0, then padding */
    int64_t d = 7;
    memcpy(data, a, 24);
    memcpy(data + 24, b, 4);
    memcpy(data + 28, c, 4);
    memcpy(data + 32, &d, 8);
    const char *json = "{\"__metadata__\":{\"format\":\"pt\"},"
                       "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                       "\"b\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[24,28]},"
                       "\"c\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[28,30]},"
                       "\"d\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[32,40]}}";
    static unsigned char buf[1024];
    size_t n = build(buf, json, data, sizeof data);
    odx_st *st = NULL;
    REQUIRE_OK(odx_st_open_bytes(buf, n, &st));
    CHECK(odx_st_count(st) == 4, "count %zu", odx_st_count(st));
    const float *p;
    int64_t s23[2] = {2, 3}, s32[2] = {3, 2}, s2[1] = {2}, s1[1] = {1};
    CHECK_OK(odx_st_get_f32(st, "a", 2, s23, &p));
    CHECK(p[5] == -6.5f && p[0] == 1.0f, "a values");
    CHECK(odx_st_get_f32(st, "a", 2, s32, &p) == ODX_ECORRUPT, "shape mismatch refused");
    CHECK(strstr(odx_last_error(), "expected [3,2]") != NULL, "message: %s", odx_last_error());
    CHECK_OK(odx_st_get_f32(st, "b", 1, s2, &p));
    CHECK(p[0] == 1.0f && p[1] == -2.0f, "f16 values %g %g", p[0], p[1]);
    CHECK_OK(odx_st_get_f32(st, "c", 1, s1, &p));
    CHECK(p[0] == 1.0f, "bf16 value %g", p[0]);
    CHECK(odx_st_get_f32(st, "d", 1, s1, &p) == ODX_EUNSUPPORTED, "int tensor refused as float");
    CHECK(odx_st_get_f32(st, "zz", 1, s1, &p) == ODX_ENOTFOUND, "absent tensor");
    const odx_st_info *info = odx_st_find(st, "a");
    CHECK(info && info->rank == 2 && info->nbytes == 24 && info->dtype == ODX_ST_F32, "info");
    odx_st_close(st);
}

static void test_half_values(void)
{
    CHECK(odx_f16_to_f32(0x7BFF) == 65504.0f, "f16 max");
    CHECK(odx_f16_to_f32(0x0001) == ldexpf(1.0f, -24), "smallest subnormal");
    CHECK(odx_f16_to_f32(0x03FF) == ldexpf(1023.0f, -24), "largest subnormal");
    CHECK(odx_f16_to_f32(0x8000) == 0.0f && signbit(odx_f16_to_f32(0x8000)), "negative zero");
    CHECK(isinf(odx_f16_to_f32(0x7C00)) && isnan(odx_f16_to_f32(0x7E00)), "inf / nan");
    CHECK(odx_f16_to_f32(0x3555) == 0.333251953125f, "0x3555: nearest half to 1/3");
    CHECK(odx_bf16_to_f32(0xC0A0) == -5.0f, "bf16 -5");
}

static void test_corrupt_fixtures(void)
{
    const char *dir = "tests/fixtures/encoders/safetensors_corrupt";
    DIR *d = opendir(dir);
    REQUIRE(d != NULL, "cannot open %s (run from the repository root)", dir);
    int files = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strstr(e->d_name, ".safetensors")) continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        odx_st *st = NULL;
        int rc = odx_st_open(path, &st);
        CHECK(rc != 0 && st == NULL, "%s was accepted", e->d_name);
        if (st) odx_st_close(st);
        files++;
    }
    closedir(d);
    CHECK(files >= 20, "only %d corrupt fixtures", files);
}

static void test_alloc_failures(void)
{
    const char *json = "{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}";
    unsigned char buf[256], data[4] = {0, 0x3C, 0, 0x3C};
    size_t n = build(buf, json, data, 4);
    int64_t s2[1] = {2};
    /* Fail the k-th allocation for every k until the whole sequence succeeds. */
    for (long k = 1; k < 50; k++) {
        odx_alloc_fail_at(k);
        odx_st *st = NULL;
        const float *p;
        int rc = odx_st_open_bytes(buf, n, &st);
        if (rc == 0) rc = odx_st_get_f32(st, "a", 1, s2, &p);
        odx_st_close(st);
        odx_alloc_fail_at(0);
        if (rc == 0) break;
        CHECK(rc == ODX_ENOMEM || rc == ODX_ECORRUPT, "k=%ld rc=%d", k, rc);
    }
}

int main(void)
{
    RUN(test_valid_file);
    RUN(test_half_values);
    RUN(test_corrupt_fixtures);
    RUN(test_alloc_failures);
    TEST_EXIT();
}
