/* Fuzz target: the binary metadata encoding records are stored with
 * (odx_meta_decode, common/meta.c). Any bytes either decode or are refused
 * with ODX_ECORRUPT/ODX_ENOMEM; decoded metadata obeys the odx_meta rules
 * (valid keys, UTF-8 strings within the cap) and re-encodes to bytes that
 * decode to the same values. */
#include <math.h>
#include <string.h>

#include "common/alloc.h"
#include "common/meta.h"
#include "common/util.h"
#include "omnidex.h"
#include "tests/fuzz/fuzz.h"

static int same_meta(const odx_meta *a, const odx_meta *b)
{
    if (odx_meta_count(a) != odx_meta_count(b)) return 0;
    for (size_t i = 0; i < odx_meta_count(a); i++) {
        long j = odx_meta_find(b, odx_meta_key(a, i));
        if (j < 0 || odx_meta_type(a, i) != odx_meta_type(b, (size_t)j)) return 0;
        switch (odx_meta_type(a, i)) {
        case ODX_VALUE_STRING: {
            size_t la, lb;
            const char *sa = odx_meta_string(a, i, &la), *sb = odx_meta_string(b, (size_t)j, &lb);
            if (la != lb || memcmp(sa, sb, la)) return 0;
            break;
        }
        case ODX_VALUE_INT: if (odx_meta_int(a, i) != odx_meta_int(b, (size_t)j)) return 0; break;
        case ODX_VALUE_FLOAT: {
            double x = odx_meta_float(a, i), y = odx_meta_float(b, (size_t)j);
            if (memcmp(&x, &y, sizeof x) && !(isnan(x) && isnan(y))) return 0;
            break;
        }
        case ODX_VALUE_BOOL: if (!odx_meta_bool(a, i) != !odx_meta_bool(b, (size_t)j)) return 0; break;
        }
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    odx_meta *m = NULL;
    if (odx_meta_new(&m)) return 0;
    size_t used = 0;
    int rc = odx_meta_decode(data, size, &used, m);
    if (rc) {
        FUZZ_ASSERT(rc == ODX_ECORRUPT || rc == ODX_ENOMEM, "decode returned %d (%s)", rc, odx_strerror(rc));
        odx_meta_free(m);
        return 0;
    }
    FUZZ_ASSERT(used <= size, "used %zu of %zu bytes", used, size);
    FUZZ_ASSERT(odx_meta_count(m) <= ODX_META_MAX_FIELDS, "%zu fields", odx_meta_count(m));
    for (size_t i = 0; i < odx_meta_count(m); i++) {
        const char *k = odx_meta_key(m, i);
        FUZZ_ASSERT(odx_meta_key_valid(k, strlen(k)), "invalid key accepted");
        if (odx_meta_type(m, i) == ODX_VALUE_STRING) {
            size_t l;
            const char *s = odx_meta_string(m, i, &l);
            FUZZ_ASSERT(l <= ODX_META_MAX_STRING && odx_utf8_valid(s, l) && !memchr(s, 0, l), "bad string accepted");
        }
    }
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;
    rc = odx_meta_encode(m, &buf, &len, &cap);
    FUZZ_ASSERT(rc == 0 || rc == ODX_ENOMEM, "encode failed: %s", odx_last_error());
    if (rc == 0) {
        odx_meta *m2 = NULL;
        FUZZ_ASSERT(odx_meta_new(&m2) == 0, "meta_new");
        size_t used2 = 0;
        rc = odx_meta_decode(buf, len, &used2, m2);
        FUZZ_ASSERT(rc == 0 && used2 == len, "re-decode: %d, %zu of %zu", rc, used2, len);
        FUZZ_ASSERT(same_meta(m, m2), "re-decoded metadata differs");
        char *json = NULL;
        if (odx_meta_to_json(m, &json) == 0) odx_free(json);
        odx_meta_free(m2);
    }
    odx_free(buf);
    odx_meta_free(m);
    return 0;
}
