/* Small helpers shared by every module: clocks, byte order, UTF-8, names. */
#ifndef ODX_COMMON_UTIL_H
#define ODX_COMMON_UTIL_H
#include <stddef.h>
#include <stdint.h>

int64_t odx_now_unix(void);
#include "omnidex_util.h" /* odx_now_mono, odx_utf8_valid */

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
static inline uint16_t odx_get_le16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t odx_get_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t odx_get_le64(const unsigned char *p)
{
    return (uint64_t)odx_get_le32(p) | (uint64_t)odx_get_le32(p + 4) << 32;
}
static inline void odx_put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) { p[i] = (unsigned char)v; v >>= 8; }
}
static inline uint16_t odx_get_be16(const unsigned char *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* Names (collections, spaces, model files, metadata keys) share one
 * alphabet, [A-Za-z0-9_.-], and differ only in length and in whether they
 * may start with '.' (a name that becomes a file name may not: no hidden
 * files, no "." or ".."). */
static inline int odx_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.';
}
#define ODX_NAME_NO_LEADING_DOT 0x1u
/* 1 if s[0..len) is 1..max odx_name_char()s (and, with
 * ODX_NAME_NO_LEADING_DOT, does not start with '.'); s may be NULL (0). */
int odx_name_valid(const char *s, size_t len, size_t max, unsigned flags);

/* 1 if every float is finite. */
int odx_vec_finite(const float *v, size_t n);
/* Scales v to unit L2 norm; returns 0, or ODX_EVECTOR for a zero vector. */
int odx_vec_normalize(float *v, size_t n);

#endif
