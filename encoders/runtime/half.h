/* IEEE half and bfloat16 to float32, bit-exact (denormals, inf, NaN). */
#ifndef ODX_ENC_HALF_H
#define ODX_ENC_HALF_H
#include <stddef.h>
#include <stdint.h>

float odx_f16_to_f32(uint16_t h);
float odx_bf16_to_f32(uint16_t b);
/* Converts n little-endian 16-bit values at src (any alignment). */
void odx_f16_to_f32_n(const unsigned char *src, float *dst, size_t n);
void odx_bf16_to_f32_n(const unsigned char *src, float *dst, size_t n);

#endif
