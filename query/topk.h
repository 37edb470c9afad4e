/* A bounded heap of the k best (score, seq) pairs for exact search: the root
 * is the worst kept, so a better pair replaces it in O(log k). */
#ifndef ODX_QUERY_TOPK_H
#define ODX_QUERY_TOPK_H
#include <stddef.h>
#include <stdint.h>

typedef struct odx_topk {
    float *s;
    uint64_t *id;
    size_t n, k;
    int lower_better; /* l2 distances; else similarities */
} odx_topk;

/* s and id have room for k pairs (the caller owns them). */
void odx_topk_init(odx_topk *t, float *s, uint64_t *id, size_t k, int lower_better);
void odx_topk_push(odx_topk *t, float s, uint64_t id);
/* Empties the heap into s/id, best first; returns how many. */
size_t odx_topk_drain(odx_topk *t, float *s, uint64_t *id);

#endif
