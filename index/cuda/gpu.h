/* omnidex's GPU search backend: exact (flat) and IVF-Flat k-NN over vectors
 * kept in device memory, written in CUDA (the .cu files of index/cuda) behind this C API.
 * Built only with `make GPU=1` (which defines ODX_HAVE_CUDA); the CPU index
 * stays the default and the reference, and every GPU failure is one the
 * caller answers by searching on the CPU instead (odx_gpu_fallback).
 *
 * Like index/index.h it knows nothing of LMDB: vectors arrive with their
 * seqs, membership (live items, a filter's candidates) as a bitmap over seqs
 * in the layout of common/bitmap.h (bit s of word s/64).
 *
 * Scores follow the CPU path exactly: inner product for ODX_METRIC_IP and
 * ODX_METRIC_COSINE (the caller normalises, as for FAISS), squared L2
 * distance for ODX_METRIC_L2.
 *
 * Threads: every call may come from any thread; calls on one index are
 * serialised by the index's own lock (a search waits at most
 * opt.busy_wait_ms for it, then answers ODX_ELIMIT "busy"). */
#ifndef ODX_INDEX_CUDA_GPU_H
#define ODX_INDEX_CUDA_GPU_H
#include <stddef.h>
#include <stdint.h>

#include "omnidex.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct odx_gpu_index odx_gpu_index;

typedef enum odx_gpu_storage {
    ODX_GPU_STORAGE_FP32 = 0,
    ODX_GPU_STORAGE_FP16 = 1 /* half the memory and traffic; fp32 accumulation */
} odx_gpu_storage;

typedef enum odx_gpu_path {
    ODX_GPU_PATH_AUTO = 0, /* scan kernel for nq <= 8, cuBLAS GEMM above */
    ODX_GPU_PATH_SCAN = 1, /* the bandwidth-bound kernel (benchmarks, tests) */
    ODX_GPU_PATH_GEMM = 2
} odx_gpu_path;

typedef struct odx_gpu_options {
    int device;              /* CUDA ordinal; default 0 */
    odx_gpu_storage storage; /* default FP32 */
    uint32_t nlist;          /* 0: flat (exact); > 0: IVF-Flat with nlist lists */
    uint64_t budget_bytes;   /* device memory this index may hold, data and
                                scratch together; 0: 80% of the free memory
                                seen at create */
    uint64_t scratch_bytes;  /* the part of the budget searches use; default 256 MiB */
    uint64_t reserve;        /* expected vectors: sized up front, no regrowth */
    int busy_wait_ms;        /* how long a search waits for the index; default 0 */
} odx_gpu_options;

/* Fills defaults. */
void odx_gpu_options_init(odx_gpu_options *opt);

/* 0 when a usable CUDA device exists (at least `device + 1` of them);
 * ODX_EUNSUPPORTED otherwise, with the reason in odx_last_error() (no
 * device, no driver, driver too old). The answer is cached after the first
 * call. *ndevices (may be NULL) receives the count seen. */
int odx_gpu_available(int device, int *ndevices);

/* One line naming device 0 ("NVIDIA H200, 139.8 GiB, sm_90") or the reason
 * there is none. */
void odx_gpu_describe(int device, char *buf, size_t len);

/* An empty index. IVF indexes also need centroids (odx_gpu_set_centroids or
 * odx_gpu_train) before the first add. */
int odx_gpu_create(int dim, odx_metric metric, const odx_gpu_options *opt, odx_gpu_index **out);
void odx_gpu_free(odx_gpu_index *ix);

/* IVF: coarse centroids, nlist x dim, e.g. copied from the CPU IVF index so
 * that both sides probe the same lists. */
int odx_gpu_set_centroids(odx_gpu_index *ix, const float *centroids);
/* IVF: trains centroids by k-means on n sample vectors (assignments on the
 * device, means on the host; 10 iterations, deterministic seed). */
int odx_gpu_train(odx_gpu_index *ix, size_t n, const float *x);
int odx_gpu_is_trained(const odx_gpu_index *ix);

/* Appends n vectors (fp32 on the host; converted on the device when the
 * storage is fp16) with their seqs. A seq already present is replaced (its
 * old slot becomes a tombstone). ODX_ELIMIT when the budget would be
 * exceeded: the index is then marked incomplete and every search answers
 * ODX_ELIMIT until it is rebuilt (odx_gpu_reset + adds). */
int odx_gpu_add(odx_gpu_index *ix, size_t n, const float *x, const uint64_t *seqs);

/* Tombstones seqs (absent ones are ignored); *removed (may be NULL) gets the
 * number found. The device slots stay until the index is rebuilt. */
int odx_gpu_remove(odx_gpu_index *ix, size_t n, const uint64_t *seqs, size_t *removed);

/* Drops every vector (keeps centroids and the device allocations). */
int odx_gpu_reset(odx_gpu_index *ix);

/* k-NN search, 1 <= k <= 1024. member: a bitmap over seqs (NULL: every
 * live seq); a seq at or past member_nbits is not a member. nprobe: IVF
 * lists to scan (<= 0: the index default, nlist / 16 at least 1; ignored by
 * flat). dist/seqs_out are nq x k, best first; past the last hit seqs_out
 * is UINT64_MAX and dist is +Inf (L2) or -Inf (IP). */
int odx_gpu_search(odx_gpu_index *ix, size_t nq, const float *q, int k, int nprobe, const uint64_t *member,
                   uint64_t member_nbits, odx_gpu_path path, float *dist, uint64_t *seqs_out);

/* Live vectors, slots in use (live + tombstones + IVF holes), device bytes
 * held (data + scratch) and the budget. */
typedef struct odx_gpu_stats {
    uint64_t live, slots, device_bytes, budget_bytes;
    uint32_t nlist, max_list;
    int incomplete; /* an add failed: the index must be rebuilt */
} odx_gpu_stats;
void odx_gpu_get_stats(const odx_gpu_index *ix, odx_gpu_stats *st);

/* Non-zero when rc is a condition the caller should answer on the CPU (no
 * device, device error, busy, over budget, incomplete index) rather than
 * report to the user. */
static inline int odx_gpu_fallback(int rc)
{
    return rc == ODX_EUNSUPPORTED || rc == ODX_ELIMIT || rc == ODX_ENOMEM || rc == ODX_EINDEX;
}

#ifdef __cplusplus
}
#endif
#endif
