/* A plain bitmap over sequence numbers (one bit per item slot). */
#ifndef ODX_COMMON_BITMAP_H
#define ODX_COMMON_BITMAP_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/alloc.h"
#include "omnidex.h"

typedef struct odx_bitmap {
    uint64_t *w;
    size_t nbits;
    size_t cap_words;
} odx_bitmap;

static inline size_t odx_bitmap_words(size_t nbits) { return (nbits + 63) / 64; }

/* Grows to at least nbits (new bits are 0). 0 or ODX_ENOMEM. */
static inline int odx_bitmap_resize(odx_bitmap *b, size_t nbits)
{
    size_t need = odx_bitmap_words(nbits);
    if (need > b->cap_words) {
        size_t nc = b->cap_words ? b->cap_words : 16;
        while (nc < need) nc *= 2;
        uint64_t *w = (uint64_t *)odx_realloc(b->w, nc * 8);
        if (!w) return ODX_ENOMEM;
        memset(w + b->cap_words, 0, (nc - b->cap_words) * 8);
        b->w = w;
        b->cap_words = nc;
    }
    if (nbits > b->nbits) b->nbits = nbits;
    return 0;
}
static inline void odx_bitmap_free(odx_bitmap *b)
{
    odx_free(b->w);
    memset(b, 0, sizeof *b);
}
static inline int odx_bitmap_get(const odx_bitmap *b, uint64_t i)
{
    return i < b->nbits && ((b->w[i >> 6] >> (i & 63)) & 1);
}
static inline void odx_bitmap_set(odx_bitmap *b, uint64_t i) { b->w[i >> 6] |= 1ull << (i & 63); }
static inline void odx_bitmap_clear(odx_bitmap *b, uint64_t i)
{
    if (i < b->nbits) b->w[i >> 6] &= ~(1ull << (i & 63));
}
static inline uint64_t odx_bitmap_count(const odx_bitmap *b)
{
    uint64_t n = 0;
    for (size_t i = 0; i < odx_bitmap_words(b->nbits); i++) n += (uint64_t)__builtin_popcountll(b->w[i]);
    return n;
}

#endif
