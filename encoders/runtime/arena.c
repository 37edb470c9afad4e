/* One arena per forward pass (see arena.h). */
#include "encoders/runtime/arena.h"

#include <stdint.h>

#include "common/alloc.h"

#define ARENA_ALIGN 64

struct odx_arena_block {
    odx_arena_block *next;
    size_t cap, used;
    unsigned char *base;  /* aligned start inside the allocation */
};

void odx_arena_init(odx_arena *a)
{
    a->head = NULL;
    a->high_water = 0;
    a->used = 0;
}

static odx_arena_block *block_new(size_t cap)
{
    if (cap > SIZE_MAX - sizeof(odx_arena_block) - ARENA_ALIGN) return NULL;
    unsigned char *raw = odx_malloc(sizeof(odx_arena_block) + ARENA_ALIGN + cap);
    if (!raw) return NULL;
    odx_arena_block *b = (odx_arena_block *)(void *)raw;
    uintptr_t p = (uintptr_t)(raw + sizeof *b);
    p = (p + ARENA_ALIGN - 1) & ~(uintptr_t)(ARENA_ALIGN - 1);
    b->base = (unsigned char *)p;
    b->cap = cap;
    b->used = 0;
    b->next = NULL;
    return b;
}

void *odx_arena_alloc(odx_arena *a, size_t bytes)
{
    if (bytes > SIZE_MAX - ARENA_ALIGN) return NULL;
    size_t need = (bytes + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (!a->head || a->head->cap - a->head->used < need) {
        size_t cap = a->head ? a->head->cap * 2 : (size_t)1 << 20;
        if (cap < need) cap = need;
        if (a->high_water > cap) cap = a->high_water;
        odx_arena_block *b = block_new(cap);
        if (!b) return NULL;
        b->next = a->head;
        a->head = b;
    }
    void *p = a->head->base + a->head->used;
    a->head->used += need;
    a->used += need;
    return p;
}

float *odx_arena_floats(odx_arena *a, size_t n)
{
    if (n > SIZE_MAX / sizeof(float)) return NULL;
    return odx_arena_alloc(a, n * sizeof(float));
}

odx_arena_mark_t odx_arena_mark(const odx_arena *a)
{
    odx_arena_mark_t m = {a->head, a->head ? a->head->used : 0, a->used};
    return m;
}

void odx_arena_release(odx_arena *a, odx_arena_mark_t m)
{
    if (!m.block || a->head != m.block) return;
    if (a->used > a->high_water) a->high_water = a->used; /* the peak still counts */
    a->head->used = m.block_used;
    a->used = m.used;
}

void odx_arena_reset(odx_arena *a)
{
    if (a->used > a->high_water) a->high_water = a->used;
    a->used = 0;
    if (a->head && a->head->next) { /* several blocks: replace by one */
        odx_arena_free(a);
        a->head = block_new(a->high_water);
        return;
    }
    if (a->head) a->head->used = 0;
}

void odx_arena_free(odx_arena *a)
{
    odx_arena_block *b = a->head;
    while (b) {
        odx_arena_block *n = b->next;
        odx_free(b);
        b = n;
    }
    a->head = NULL;
}
