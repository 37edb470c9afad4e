/* Host-side bookkeeping of the GPU index, kept apart from the CUDA code so
 * that it is built and tested by the ordinary C compiler on machines without
 * a device:
 *  - the slot map: which device slot holds a seq (and back), so that a delete
 *    can tombstone the slot in place;
 *  - the IVF arena: every inverted list is one contiguous run of slots in a
 *    single device array; a list that fills up moves to the end of the arena
 *    with twice its capacity (its old run becomes a hole), so an upsert never
 *    rewrites more than the one list it grows;
 *  - the memory budget arithmetic.
 * Not thread-safe: the GPU index serialises callers. */
#ifndef ODX_INDEX_CUDA_LAYOUT_H
#define ODX_INDEX_CUDA_LAYOUT_H
#include <stddef.h>
#include <stdint.h>

#include "index/cuda/select.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ODX_GPU_NO_SLOT UINT32_MAX
#define ODX_GPU_MAX_SEQ ((uint64_t)1 << 40) /* seqs index a host array */

/* seq -> slot (ODX_GPU_NO_SLOT when absent). */
typedef struct odx_gpu_slotmap {
    uint32_t *slot_of_seq;
    uint64_t cap;
} odx_gpu_slotmap;

int odx_gpu_slotmap_set(odx_gpu_slotmap *m, uint64_t seq, uint32_t slot);
uint32_t odx_gpu_slotmap_get(const odx_gpu_slotmap *m, uint64_t seq);
void odx_gpu_slotmap_free(odx_gpu_slotmap *m);

typedef struct odx_ivf_layout {
    uint32_t nlist;
    uint64_t *off, *len, *cap; /* per list, in slots */
    uint64_t end;              /* slots handed out, holes included */
    uint64_t holes;            /* slots left behind by moved lists */
    uint64_t maxlen;           /* the longest list */
} odx_ivf_layout;

int odx_ivf_layout_init(odx_ivf_layout *L, uint32_t nlist);
void odx_ivf_layout_free(odx_ivf_layout *L);

/* The capacity a list of n entries is given when it is (re)placed: n plus
 * an eighth, at least 16 and at least twice its old capacity when growing. */
uint64_t odx_ivf_layout_grow_cap(uint64_t old_cap, uint64_t need);

/* Makes room for n more entries in list l. On return *dst is the first slot
 * to write. When the list had to move, *moved is 1, *from the old first
 * slot: the caller copies len[l] - n entries from *from to off[l] (the new
 * place) before writing. len[l] already counts the n new entries. The
 * caller must make the device arena hold L->end slots. */
int odx_ivf_layout_append(odx_ivf_layout *L, uint32_t l, uint64_t n, uint64_t *dst, int *moved, uint64_t *from);

/* Groups n assignments (list numbers < nlist) by list with a counting sort:
 * order[] receives the input indices list by list, start[nlist + 1] the
 * boundaries (list l's items are order[start[l] .. start[l+1])). */
int odx_ivf_group(uint32_t nlist, size_t n, const int32_t *assign, size_t *order, size_t *start);

/* Device bytes of a collection's vectors: slots x (dim x elem + seq + norm). */
uint64_t odx_gpu_data_bytes(uint64_t slots, int dim, int elem_bytes);


/* Scratch memory of one search: the pieces, in the order the search carves
 * them out of its scratch buffer, each rounded up to 256 bytes. */
enum {
    ODX_GP_Q,       /* queries, fp32 */
    ODX_GP_QH,      /* queries, fp16 (GEMM over fp16 storage) */
    ODX_GP_QN,      /* query norms (L2 through GEMM) */
    ODX_GP_MEMBER,  /* the member bitmap */
    ODX_GP_TILE,    /* distances of a query batch x a database tile */
    ODX_GP_SELA,    /* select pass outputs, ping */
    ODX_GP_SELB,    /* ... and pong */
    ODX_GP_RES,     /* k survivors per tile (several tiles only) */
    ODX_GP_ODIST,   /* final distances */
    ODX_GP_OSEQ,    /* final seqs */
    ODX_GP_PDIST,   /* IVF: coarse distances */
    ODX_GP_PROBE,   /* IVF: lists to probe */
    ODX_GP_SCANV,   /* IVF: distances to the probed lists' entries */
    ODX_GP_SCANI,   /* IVF: their slots */
    ODX_GP_COUNT
};

typedef struct odx_gpu_plan {
    uint64_t qb;     /* queries per batch */
    uint64_t tile;   /* database slots per tile (flat; the coarse step for IVF) */
    uint64_t ntiles;
    uint64_t piece[ODX_GP_COUNT];
    uint64_t total;  /* sum of the aligned pieces */
} odx_gpu_plan;

uint64_t odx_gpu_align(uint64_t bytes);
/* Bytes of the first select pass over rows of row_len values (0 when a
 * row already fits one chunk: the pass then writes the final output). */
uint64_t odx_gpu_sel_bytes(uint64_t rows, uint64_t row_len, uint32_t k);
/* Plans a flat search of nq queries over n slots within `scratch` bytes.
 * max_qb: 8 for the scan kernel (its queries live in shared memory), 1024
 * for GEMM. ODX_ELIMIT when even one query and one chunk do not fit. */
int odx_gpu_plan_flat(uint64_t n, int dim, uint32_t k, uint64_t nq, uint64_t max_qb, int fp16_queries, int l2_gemm,
                      uint64_t member_words, uint64_t scratch, odx_gpu_plan *p);
/* Plans an IVF search: the coarse step over nlist centroids (k = nprobe)
 * and the scan of nprobe lists of at most maxlen entries. */
int odx_gpu_plan_ivf(uint32_t nlist, uint32_t nprobe, uint64_t maxlen, int dim, uint32_t k, uint64_t nq,
                     uint64_t member_words, uint64_t scratch, odx_gpu_plan *p);

#ifdef __cplusplus
}
#endif
#endif
