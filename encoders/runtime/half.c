/* Half-precision conversions used when a checkpoint stores F16/BF16. */
#include "encoders/runtime/half.h"

#include "common/util.h"

#include <string.h>

static float bits_to_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float odx_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ffu;
    uint32_t u;
    if (exp == 0) {
        if (man == 0) {
            u = sign;
        } else { /* subnormal: renormalise */
            int e = -1;
            do { e++; man <<= 1; } while (!(man & 0x400u));
            man &= 0x3ffu;
            u = sign | ((uint32_t)(127 - 15 - e) << 23) | (man << 13);
        }
    } else if (exp == 0x1f) {
        u = sign | 0x7f800000u | (man << 13);
    } else {
        u = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    return bits_to_f32(u);
}

float odx_bf16_to_f32(uint16_t b) { return bits_to_f32((uint32_t)b << 16); }

void odx_f16_to_f32_n(const unsigned char *src, float *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = odx_f16_to_f32(odx_get_le16(src + 2 * i));
}

void odx_bf16_to_f32_n(const unsigned char *src, float *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = odx_bf16_to_f32(odx_get_le16(src + 2 * i));
}
