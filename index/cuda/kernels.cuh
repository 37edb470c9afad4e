// The CUDA kernels of the GPU backend and their launchers (kernels.cu);
// gpu.cu drives them. Internal: C++ only, never included from C.
#ifndef ODX_INDEX_CUDA_KERNELS_CUH
#define ODX_INDEX_CUDA_KERNELS_CUH
#include <cuda_runtime.h>
#include <stdint.h>

#include "index/cuda/select.h"

namespace odxg {

// Where the values of one select pass come from and where its k survivors
// per (row, chunk) go.
struct SelArgs {
    // input: either floats (vals) or keys from an earlier pass
    const float *vals;
    const uint32_t *keys;
    const int32_t *ids;    // explicit ids (NULL: id = id_base + column)
    uint64_t in_stride;    // elements between rows
    uint64_t row_len;
    int larger_better;
    // implicit ids only: slot = id_base + column
    int64_t id_base;
    const float *qnorm;    // L2 through GEMM: v = qnorm[row] + xnorm[slot] - 2 v
    const float *xnorm;
    const uint64_t *seq_of_slot; // dead slots hold UINT64_MAX; NULL: no slot filter
    const uint64_t *member;      // bitmap over seqs; NULL: all
    uint64_t member_nbits;
    // output
    uint32_t k;
    uint32_t *out_keys;    // unsorted survivors: row r, chunk c at r*out_stride + c*k
    int32_t *out_ids;
    uint64_t out_stride;
    int final_out;         // 1: one chunk per row; write sorted (dist, seq) rows of k
    float *out_dist;
    uint64_t *out_seq;
    const uint64_t *final_map; // slot -> seq for the final ids (NULL: the id itself)
};

// One pass over nrows rows; chunks per row = odx_gsel_nchunks(row_len).
cudaError_t select_pass(const SelArgs &a, uint64_t nrows, cudaStream_t st);

// Distances of nq (<= 8) queries to slots [base, base + n) of x, written to
// out[q * out_stride + i]. l2: squared L2, else inner product. The
// bandwidth-bound path: each vector is read once for all the queries.
cudaError_t scan_flat(const void *x, int fp16, uint64_t base, uint64_t n, int dim, const float *q, int nq, int l2,
                      float *out, uint64_t out_stride, cudaStream_t st);

// IVF: for query i and probe p (list = probes[i * nprobe + p]) writes the
// distances of that list's entries to vals[i * stride + p * maxlen + j] and
// their slots to ids[...] (-1 for dead, filtered-out or padding entries).
cudaError_t scan_ivf(const void *x, int fp16, int dim, const float *q, uint64_t nq, const uint64_t *probes,
                     uint32_t nprobe, const uint64_t *list_off, const uint64_t *list_len, uint64_t maxlen, int l2,
                     const uint64_t *seq_of_slot, const uint64_t *member, uint64_t member_nbits, float *vals,
                     int32_t *ids, cudaStream_t st);

// Writes staged fp32 rows src[i] to slot dst[i] (converting to fp16 when
// asked), seq_of_slot[dst[i]] = seqs[i] and the norm of the stored row.
cudaError_t scatter_rows(const float *src, uint64_t n, int dim, const uint64_t *dst, const uint64_t *seqs, void *x,
                         int fp16, uint64_t *seq_of_slot, float *norms, cudaStream_t st);

// seq_of_slot[slots[i]] = UINT64_MAX.
cudaError_t tombstone(uint64_t *seq_of_slot, const uint64_t *slots, uint64_t n, cudaStream_t st);

// Squared norms of n fp32 rows (query norms for L2 through GEMM).
cudaError_t row_norms(const float *x, uint64_t n, int dim, float *out, cudaStream_t st);

// fp32 -> fp16.
cudaError_t to_half(const float *x, uint64_t n, void *out, cudaStream_t st);

} // namespace odxg
#endif
