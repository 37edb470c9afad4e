/* Small helpers shared by every module: clocks, byte order, UTF-8, names. */
#ifndef ODX_COMMON_UTIL_H
#define ODX_COMMON_UTIL_H
#include <stddef.h>
#include <stdint.h>

int64_t odx_now_unix(void);
double odx_now_mono(void); /* seconds, monotonic */

static inline void odx_put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) { p[i] = (unsigned char)v; v >>= 8; }
}
static inline uint64_t odx_get_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
    return v;
}
static inline void odx_put_be32(unsigned char *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--) { p[i] = (unsigned char)v; v >>= 8; }
}
static inline uint32_t odx_get_be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* 1 if s[0..len) is valid UTF-8 (no overlongs, no surrogates). */
int odx_utf8_valid(const char *s, size_t len);
/* 1 if every float is finite. */
int odx_vec_finite(const float *v, size_t n);
/* Scales v to unit L2 norm; returns 0, or ODX_EVECTOR for a zero vector. */
int odx_vec_normalize(float *v, size_t n);

#endif
