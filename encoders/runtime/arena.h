/* A bump allocator for one forward pass: every activation of a pass comes
 * from here and is released at once by odx_arena_reset(). After the first
 * pass at a given batch size the arena holds one block large enough for it,
 * so steady-state inference does no malloc. Not thread-safe: one arena per
 * concurrent forward pass. */
#ifndef ODX_ENC_ARENA_H
#define ODX_ENC_ARENA_H
#include <stddef.h>

typedef struct odx_arena_block odx_arena_block;
typedef struct odx_arena {
    odx_arena_block *head; /* newest block first */
    size_t high_water;     /* bytes used by the largest pass so far */
    size_t used;           /* bytes used since the last reset */
} odx_arena;

void odx_arena_init(odx_arena *a);
/* 64-byte aligned memory, or NULL (the caller reports ODX_ENOMEM). */
void *odx_arena_alloc(odx_arena *a, size_t bytes);
float *odx_arena_floats(odx_arena *a, size_t n);
/* Scratch inside a pass: odx_arena_mark() then odx_arena_release(mark)
 * gives back everything allocated in between, when it all came from the
 * block that was current at the mark (otherwise the memory stays until the
 * reset, which is still correct). */
typedef struct odx_arena_mark { odx_arena_block *block; size_t block_used, used; } odx_arena_mark_t;
odx_arena_mark_t odx_arena_mark(const odx_arena *a);
void odx_arena_release(odx_arena *a, odx_arena_mark_t m);

/* Frees everything allocated since the last reset; coalesces the blocks into
 * one of the high-water size for the next pass. */
void odx_arena_reset(odx_arena *a);
void odx_arena_free(odx_arena *a);

#endif
