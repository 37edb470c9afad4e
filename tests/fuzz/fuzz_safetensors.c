/* Fuzz target: the safetensors loader (encoders/runtime/safetensors.c) over
 * bytes in memory. Accepted files expose tensors whose byte ranges lie in
 * the file; reading each as float32 touches its first and last element. */
#include <string.h>

#include "encoders/runtime/safetensors.h"
#include "omnidex.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    odx_st *st = NULL;
    int rc = odx_st_open_bytes(data, size, &st);
    if (rc) {
        FUZZ_ASSERT(rc != ODX_EINTERNAL, "internal error: %s", odx_last_error());
        return 0;
    }
    size_t total = 0;
    for (size_t i = 0; i < odx_st_count(st); i++) {
        const odx_st_info *t = odx_st_at(st, i);
        FUZZ_ASSERT(t && t->name, "tensor %zu has no info", i);
        FUZZ_ASSERT(t->nbytes <= size, "tensor '%s' claims %zu bytes of a %zu-byte file", t->name, t->nbytes, size);
        total += t->nbytes;
        FUZZ_ASSERT(odx_st_find(st, t->name) != NULL, "find('%s') fails", t->name);
        const float *p = NULL;
        if (odx_st_get_f32(st, t->name, t->rank, t->shape, &p) == 0 && t->nbytes >= 4) {
            volatile float a = p[0], b = p[t->nbytes / 4 - 1];
            (void)a;
            (void)b;
        }
    }
    (void)total;
    odx_st_close(st);
    return 0;
}
