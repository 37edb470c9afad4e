/* Host-side bookkeeping of the GPU index (see layout.h). */
#include "index/cuda/layout.h"

#include <string.h>

#include "common/alloc.h"
#include "common/error.h"

int odx_gpu_slotmap_set(odx_gpu_slotmap *m, uint64_t seq, uint32_t slot)
{
    if (seq >= ODX_GPU_MAX_SEQ) return odx_error(ODX_EINVAL, "seq %llu is too large for the GPU index", (unsigned long long)seq);
    if (seq >= m->cap) {
        uint64_t nc = m->cap ? m->cap : 1024;
        while (nc <= seq) nc *= 2;
        uint32_t *p = odx_realloc(m->slot_of_seq, (size_t)nc * sizeof *p);
        if (!p) return odx_error(ODX_ENOMEM, "out of memory");
        for (uint64_t i = m->cap; i < nc; i++) p[i] = ODX_GPU_NO_SLOT;
        m->slot_of_seq = p;
        m->cap = nc;
    }
    m->slot_of_seq[seq] = slot;
    return 0;
}

uint32_t odx_gpu_slotmap_get(const odx_gpu_slotmap *m, uint64_t seq)
{
    return seq < m->cap ? m->slot_of_seq[seq] : ODX_GPU_NO_SLOT;
}

void odx_gpu_slotmap_free(odx_gpu_slotmap *m)
{
    odx_free(m->slot_of_seq);
    memset(m, 0, sizeof *m);
}

int odx_ivf_layout_init(odx_ivf_layout *L, uint32_t nlist)
{
    memset(L, 0, sizeof *L);
    if (nlist == 0) return odx_error(ODX_EINVAL, "an IVF layout needs at least one list");
    L->nlist = nlist;
    L->off = odx_calloc(nlist, sizeof *L->off);
    L->len = odx_calloc(nlist, sizeof *L->len);
    L->cap = odx_calloc(nlist, sizeof *L->cap);
    if (!L->off || !L->len || !L->cap) {
        odx_ivf_layout_free(L);
        return odx_error(ODX_ENOMEM, "out of memory");
    }
    return 0;
}

void odx_ivf_layout_free(odx_ivf_layout *L)
{
    odx_free(L->off);
    odx_free(L->len);
    odx_free(L->cap);
    memset(L, 0, sizeof *L);
}

uint64_t odx_ivf_layout_grow_cap(uint64_t old_cap, uint64_t need)
{
    uint64_t c = need + need / 8;
    if (c < 16) c = 16;
    if (old_cap && c < 2 * old_cap) c = 2 * old_cap;
    return c;
}

int odx_ivf_layout_append(odx_ivf_layout *L, uint32_t l, uint64_t n, uint64_t *dst, int *moved, uint64_t *from)
{
    if (l >= L->nlist) return odx_error(ODX_EINVAL, "list %u out of range (%u lists)", l, L->nlist);
    *moved = 0;
    *from = L->off[l];
    uint64_t need = L->len[l] + n;
    if (need > L->cap[l]) {
        uint64_t nc = odx_ivf_layout_grow_cap(L->cap[l], need);
        if (L->cap[l] && L->off[l] + L->cap[l] == L->end) {
            /* The list is the last run of the arena: it grows in place. */
            L->end += nc - L->cap[l];
        } else {
            if (L->cap[l]) {
                *moved = L->len[l] > 0;
                L->holes += L->cap[l];
            }
            L->off[l] = L->end;
            L->end += nc;
        }
        L->cap[l] = nc;
    }
    *dst = L->off[l] + L->len[l];
    L->len[l] = need;
    if (need > L->maxlen) L->maxlen = need;
    return 0;
}

int odx_ivf_group(uint32_t nlist, size_t n, const int32_t *assign, size_t *order, size_t *start)
{
    memset(start, 0, ((size_t)nlist + 1) * sizeof *start);
    for (size_t i = 0; i < n; i++) {
        if (assign[i] < 0 || (uint32_t)assign[i] >= nlist)
            return odx_error(ODX_EINTERNAL, "assignment %d out of range (%u lists)", assign[i], nlist);
        start[assign[i] + 1]++;
    }
    for (uint32_t l = 0; l < nlist; l++) start[l + 1] += start[l];
    /* Place with a moving cursor per list, then restore the starts. */
    for (size_t i = 0; i < n; i++) order[start[assign[i]]++] = i;
    for (uint32_t l = nlist; l > 0; l--) start[l] = start[l - 1];
    start[0] = 0;
    return 0;
}

uint64_t odx_gpu_data_bytes(uint64_t slots, int dim, int elem_bytes)
{
    return slots * ((uint64_t)dim * (uint64_t)elem_bytes + sizeof(uint64_t) + sizeof(float));
}

uint64_t odx_gpu_align(uint64_t bytes) { return (bytes + 255) & ~(uint64_t)255; }

uint64_t odx_gpu_sel_bytes(uint64_t rows, uint64_t row_len, uint32_t k)
{
    uint64_t nch = odx_gsel_nchunks(row_len, ODX_GSEL_CHUNK);
    return nch > 1 ? rows * nch * k * (sizeof(uint32_t) + sizeof(int32_t)) : 0;
}

static uint64_t plan_total(odx_gpu_plan *p)
{
    p->total = 0;
    for (int i = 0; i < ODX_GP_COUNT; i++) p->total += odx_gpu_align(p->piece[i]);
    return p->total;
}

/* The pieces of a flat search over n slots for p->qb queries, tile given. */
static void flat_pieces(odx_gpu_plan *p, uint64_t n, int dim, uint32_t k, int fp16_queries, int l2_gemm,
                        uint64_t member_words)
{
    uint64_t qb = p->qb;
    p->ntiles = (n + p->tile - 1) / p->tile;
    if (!p->ntiles) p->ntiles = 1;
    uint64_t sel = odx_gpu_sel_bytes(qb, p->tile, k);
    if (p->ntiles > 1) {
        uint64_t s2 = odx_gpu_sel_bytes(qb, p->ntiles * k, k);
        if (s2 > sel) sel = s2;
    }
    p->piece[ODX_GP_Q] = qb * (uint64_t)dim * 4;
    p->piece[ODX_GP_QH] = fp16_queries ? qb * (uint64_t)dim * 2 : 0;
    p->piece[ODX_GP_QN] = l2_gemm ? qb * 4 : 0;
    p->piece[ODX_GP_MEMBER] = member_words * 8;
    p->piece[ODX_GP_TILE] = qb * p->tile * 4;
    p->piece[ODX_GP_SELA] = sel;
    p->piece[ODX_GP_SELB] = sel;
    p->piece[ODX_GP_RES] = p->ntiles > 1 ? qb * p->ntiles * k * 8 : 0;
    p->piece[ODX_GP_ODIST] = qb * k * 4;
    p->piece[ODX_GP_OSEQ] = qb * k * 8;
}

int odx_gpu_plan_flat(uint64_t n, int dim, uint32_t k, uint64_t nq, uint64_t max_qb, int fp16_queries, int l2_gemm,
                      uint64_t member_words, uint64_t scratch, odx_gpu_plan *p)
{
    memset(p, 0, sizeof *p);
    if (!n) n = 1;
    p->qb = nq < max_qb ? nq : max_qb;
    if (!p->qb) p->qb = 1;
    uint64_t whole = odx_gsel_nchunks(n, ODX_GSEL_CHUNK) * ODX_GSEL_CHUNK;
    for (;;) {
        /* Half the scratch for the distance tile, the rest for the others. */
        uint64_t t = scratch / 2 / (p->qb * 4);
        t -= t % ODX_GSEL_CHUNK;
        if (t < ODX_GSEL_CHUNK) t = ODX_GSEL_CHUNK;
        p->tile = t < whole ? t : whole;
        if (p->tile > n && n < ODX_GSEL_CHUNK) p->tile = n; /* a small row: no padding */
        flat_pieces(p, n, dim, k, fp16_queries, l2_gemm, member_words);
        if (plan_total(p) <= scratch) return 0;
        if (p->qb == 1) break;
        p->qb /= 2;
    }
    return odx_error(ODX_ELIMIT, "a search over %llu vectors (k=%u) needs more than %llu bytes of GPU scratch",
                     (unsigned long long)n, k, (unsigned long long)scratch);
}

int odx_gpu_plan_ivf(uint32_t nlist, uint32_t nprobe, uint64_t maxlen, int dim, uint32_t k, uint64_t nq,
                     uint64_t member_words, uint64_t scratch, odx_gpu_plan *p)
{
    memset(p, 0, sizeof *p);
    if (!maxlen) maxlen = 1;
    p->qb = nq < 1024 ? nq : 1024;
    if (!p->qb) p->qb = 1;
    for (;;) {
        /* The coarse step is one tile over all centroids, k = nprobe. */
        p->tile = nlist;
        flat_pieces(p, nlist, dim, nprobe, 0, 1, member_words);
        uint64_t row = (uint64_t)nprobe * maxlen;
        uint64_t sel = odx_gpu_sel_bytes(p->qb, row, k);
        if (sel > p->piece[ODX_GP_SELA]) p->piece[ODX_GP_SELA] = p->piece[ODX_GP_SELB] = sel;
        p->piece[ODX_GP_ODIST] = p->qb * k * 4;
        p->piece[ODX_GP_OSEQ] = p->qb * k * 8;
        p->piece[ODX_GP_PDIST] = p->qb * nprobe * 4;
        p->piece[ODX_GP_PROBE] = p->qb * nprobe * 8;
        p->piece[ODX_GP_SCANV] = p->qb * row * 4;
        p->piece[ODX_GP_SCANI] = p->qb * row * 4;
        if (plan_total(p) <= scratch) return 0;
        if (p->qb == 1) break;
        p->qb /= 2;
    }
    return odx_error(ODX_ELIMIT, "an IVF search (nprobe=%u, longest list %llu, k=%u) needs more than %llu bytes of GPU scratch",
                     nprobe, (unsigned long long)maxlen, k, (unsigned long long)scratch);
}
