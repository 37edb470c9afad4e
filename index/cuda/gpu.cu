// The GPU index (gpu.h): device memory, uploads, deletes, the search
// drivers (scan kernel or cuBLAS GEMM, then chunked top-k; IVF coarse step
// then list scan) and the fallback conditions. No C++ exception is thrown
// here and none crosses into C: every CUDA/cuBLAS status is checked and
// turned into an omnidex code with a message (CONVENTIONS.md).
#include "index/cuda/gpu.h"

#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "index/cuda/kernels.cuh"
#include "index/cuda/layout.h"

extern "C" {
#include "common/alloc.h"
#include "common/error.h"
}

using namespace odxg;

namespace {

constexpr uint64_t kAddBatch = 16384;        // vectors staged per upload
constexpr uint64_t kMaxSlots = 0x7fffffffULL; // slots travel as int32 ids
constexpr int kScanMaxQ = 8;

int cuda_fail(cudaError_t e, const char *what)
{
    int rc = (e == cudaErrorMemoryAllocation) ? ODX_ELIMIT : ODX_EUNSUPPORTED;
    return odx_error(rc, "GPU: %s: %s", what, cudaGetErrorString(e));
}

int blas_fail(cublasStatus_t s, const char *what)
{
    return odx_error(s == CUBLAS_STATUS_ALLOC_FAILED ? ODX_ELIMIT : ODX_EUNSUPPORTED, "GPU: %s: cuBLAS status %d",
                     what, (int)s);
}

#define CK(call, what)                                            \
    do {                                                          \
        cudaError_t e_ = (call);                                  \
        if (e_ != cudaSuccess) { rc = cuda_fail(e_, what); goto fail; } \
    } while (0)

pthread_once_t g_once = PTHREAD_ONCE_INIT;
int g_ndev = 0;
cudaError_t g_err = cudaSuccess;
void probe_devices()
{
    int n = 0;
    g_err = cudaGetDeviceCount(&n);
    g_ndev = g_err == cudaSuccess ? n : 0;
}

} // namespace

struct odx_gpu_index {
    int dim;
    odx_metric metric;
    odx_gpu_options opt;
    int fp16, elem;
    pthread_mutex_t mu;
    cudaStream_t st;
    cublasHandle_t blas;
    // slots: flat appends; IVF places by list (layout.h)
    void *x;           // cap x dim, fp32 or fp16
    uint64_t *seq;     // seq of each slot, UINT64_MAX when dead
    float *norm;       // squared norm of each stored row
    uint64_t cap, used;
    uint64_t *h_seq;   // host mirror of seq
    odx_gpu_slotmap map;
    uint64_t live;
    // IVF
    odx_ivf_layout L;
    float *cent, *cent_norm;
    uint64_t *d_off, *d_len;
    int trained;
    // scratch
    void *scratch;
    uint64_t scratch_cap;
    uint64_t *stage_u64; // host staging for dst slots + seqs
    int incomplete, broken;
};

namespace {

uint64_t data_bytes(const odx_gpu_index *ix, uint64_t cap)
{
    return odx_gpu_data_bytes(cap, ix->dim, ix->elem);
}

uint64_t ivf_bytes(const odx_gpu_index *ix)
{
    return ix->opt.nlist ? (uint64_t)ix->opt.nlist * ((uint64_t)ix->dim * 4 + 4 + 16) : 0;
}

uint64_t held_bytes(const odx_gpu_index *ix)
{
    return data_bytes(ix, ix->cap) + ivf_bytes(ix) + ix->scratch_cap;
}

bool larger_better(const odx_gpu_index *ix) { return ix->metric != ODX_METRIC_L2; }

// Grows the slot arrays to hold `need` slots (doubling), within the budget.
int ensure_slots(odx_gpu_index *ix, uint64_t need)
{
    if (need <= ix->cap) return 0;
    if (need > kMaxSlots) return odx_error(ODX_ELIMIT, "GPU index: more than %llu slots", (unsigned long long)kMaxSlots);
    uint64_t nc = ix->cap ? ix->cap * 2 : 1024;
    if (nc < need) nc = need;
    if (nc < ix->opt.reserve) nc = ix->opt.reserve;
    if (nc > kMaxSlots) nc = kMaxSlots;
    // Prefer the exact need when doubling would break the budget.
    if (data_bytes(ix, nc) + ivf_bytes(ix) + ix->scratch_cap > ix->opt.budget_bytes) nc = need;
    if (data_bytes(ix, nc) + ivf_bytes(ix) + ix->scratch_cap > ix->opt.budget_bytes)
        return odx_error(ODX_ELIMIT, "GPU index: %llu vectors need %llu bytes, over the budget of %llu",
                         (unsigned long long)need, (unsigned long long)(data_bytes(ix, nc) + ivf_bytes(ix) + ix->scratch_cap),
                         (unsigned long long)ix->opt.budget_bytes);
    int rc = 0;
    void *x = NULL;
    uint64_t *seq = NULL, *h = NULL;
    float *norm = NULL;
    CK(cudaMalloc(&x, nc * ix->dim * ix->elem), "allocating vectors");
    CK(cudaMalloc(&seq, nc * 8), "allocating seqs");
    CK(cudaMalloc(&norm, nc * 4), "allocating norms");
    CK(cudaMemsetAsync(seq, 0xff, nc * 8, ix->st), "clearing seqs");
    if (ix->used) {
        CK(cudaMemcpyAsync(x, ix->x, ix->used * ix->dim * ix->elem, cudaMemcpyDeviceToDevice, ix->st), "moving vectors");
        CK(cudaMemcpyAsync(seq, ix->seq, ix->used * 8, cudaMemcpyDeviceToDevice, ix->st), "moving seqs");
        CK(cudaMemcpyAsync(norm, ix->norm, ix->used * 4, cudaMemcpyDeviceToDevice, ix->st), "moving norms");
    }
    CK(cudaStreamSynchronize(ix->st), "growing the index");
    h = (uint64_t *)odx_realloc(ix->h_seq, nc * 8);
    if (!h) { rc = odx_error(ODX_ENOMEM, "out of memory"); goto fail; }
    memset(h + ix->cap, 0xff, (nc - ix->cap) * 8);
    ix->h_seq = h;
    cudaFree(ix->x);
    cudaFree(ix->seq);
    cudaFree(ix->norm);
    ix->x = x;
    ix->seq = seq;
    ix->norm = norm;
    ix->cap = nc;
    return 0;
fail:
    cudaFree(x);
    cudaFree(seq);
    cudaFree(norm);
    return rc;
}

// Makes the scratch buffer hold `bytes` (grow-only, within the budget).
int ensure_scratch(odx_gpu_index *ix, uint64_t bytes)
{
    if (bytes <= ix->scratch_cap) return 0;
    if (data_bytes(ix, ix->cap) + ivf_bytes(ix) + bytes > ix->opt.budget_bytes)
        return odx_error(ODX_ELIMIT, "GPU index: %llu bytes of search scratch would pass the budget",
                         (unsigned long long)bytes);
    int rc = 0;
    void *p = NULL;
    cudaFree(ix->scratch);
    ix->scratch = NULL;
    ix->scratch_cap = 0;
    CK(cudaMalloc(&p, bytes), "allocating search scratch");
    ix->scratch = p;
    ix->scratch_cap = bytes;
    return 0;
fail:
    return rc;
}

// The pieces of a plan, carved from the scratch buffer in order.
struct Carve {
    void *p[ODX_GP_COUNT];
};
Carve carve(odx_gpu_index *ix, const odx_gpu_plan &pl)
{
    Carve c;
    char *base = (char *)ix->scratch;
    uint64_t off = 0;
    for (int i = 0; i < ODX_GP_COUNT; i++) {
        c.p[i] = pl.piece[i] ? base + off : NULL;
        off += odx_gpu_align(pl.piece[i]);
    }
    return c;
}

// What a flat search runs over: the collection's slots or the centroids.
struct View {
    const void *x;
    int fp16;
    uint64_t n;
    const float *norm;
    const uint64_t *seq;   // NULL: ids are slots and none is dead
    const uint64_t *member;
    uint64_t member_nbits;
};

// Runs select passes over nrows rows (the first pass described by `first`)
// until one chunk per row remains; the last pass writes `fin` outputs.
int reduce_rows(odx_gpu_index *ix, SelArgs a, uint64_t nrows, uint32_t *ka, int32_t *ia, uint32_t *kb, int32_t *ib,
                const SelArgs &fin)
{
    int rc = 0;
    for (;;) {
        uint64_t nch = odx_gsel_nchunks(a.row_len, ODX_GSEL_CHUNK);
        if (nch == 1) {
            a.final_out = fin.final_out;
            a.out_keys = fin.out_keys;
            a.out_ids = fin.out_ids;
            a.out_stride = fin.out_stride;
            a.out_dist = fin.out_dist;
            a.out_seq = fin.out_seq;
            a.final_map = fin.final_map;
            CK(select_pass(a, nrows, ix->st), "top-k selection");
            return 0;
        }
        a.final_out = 0;
        a.out_keys = ka;
        a.out_ids = ia;
        a.out_stride = nch * a.k;
        CK(select_pass(a, nrows, ix->st), "top-k selection");
        SelArgs n = a;
        n.vals = NULL;
        n.keys = ka;
        n.ids = ia;
        n.in_stride = nch * a.k;
        n.row_len = nch * a.k;
        n.qnorm = n.xnorm = NULL;
        n.seq_of_slot = n.member = NULL;
        a = n;
        uint32_t *tk = ka; ka = kb; kb = tk;
        int32_t *ti = ia; ia = ib; ib = ti;
    }
fail:
    return rc;
}

// Flat k-NN of nq device queries (fp32 at q; fp16 copy at qh when the view
// is fp16 and GEMM runs) over a view, into out_dist/out_seq (nq x k).
// final_map maps slots to seqs (NULL: report slots).
int flat_batch(odx_gpu_index *ix, const View &v, const odx_gpu_plan &pl, const Carve &c, uint64_t nq, uint32_t k,
               bool use_scan, const uint64_t *final_map, float *out_dist, uint64_t *out_seq)
{
    int rc = 0;
    const bool l2 = ix->metric == ODX_METRIC_L2;
    const float *q = (const float *)c.p[ODX_GP_Q];
    float *tile = (float *)c.p[ODX_GP_TILE];
    uint32_t *ka = (uint32_t *)c.p[ODX_GP_SELA], *kb = (uint32_t *)c.p[ODX_GP_SELB];
    int32_t *ia = ka ? (int32_t *)(ka + pl.piece[ODX_GP_SELA] / 8) : NULL;
    int32_t *ib = kb ? (int32_t *)(kb + pl.piece[ODX_GP_SELB] / 8) : NULL;
    uint32_t *rk = (uint32_t *)c.p[ODX_GP_RES];
    int32_t *ri = rk ? (int32_t *)(rk + pl.piece[ODX_GP_RES] / 8) : NULL;
    const uint64_t ntiles = (v.n + pl.tile - 1) / pl.tile;
    if (!use_scan && l2) CK(row_norms(q, nq, ix->dim, (float *)c.p[ODX_GP_QN], ix->st), "query norms");
    if (!use_scan && v.fp16) CK(to_half(q, nq * ix->dim, c.p[ODX_GP_QH], ix->st), "query conversion");
    for (uint64_t t = 0; t < (ntiles ? ntiles : 1); t++) {
        uint64_t base = t * pl.tile, n = v.n - base < pl.tile ? v.n - base : pl.tile;
        if (use_scan) {
            CK(scan_flat(v.x, v.fp16, base, n, ix->dim, q, (int)nq, l2, tile, n, ix->st), "scan kernel");
        } else {
            const float one = 1.f, zero = 0.f;
            cublasStatus_t s;
            if (v.fp16)
                s = cublasGemmEx(ix->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)n, (int)nq, ix->dim, &one,
                                 (const __half *)v.x + base * ix->dim, CUDA_R_16F, ix->dim, c.p[ODX_GP_QH], CUDA_R_16F,
                                 ix->dim, &zero, tile, CUDA_R_32F, (int)n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
            else
                s = cublasSgemm(ix->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)n, (int)nq, ix->dim, &one,
                                (const float *)v.x + base * ix->dim, ix->dim, q, ix->dim, &zero, tile, (int)n);
            if (s != CUBLAS_STATUS_SUCCESS) return blas_fail(s, "GEMM");
        }
        SelArgs a = {};
        a.vals = tile;
        a.in_stride = n;
        a.row_len = n;
        a.larger_better = larger_better(ix);
        a.id_base = (int64_t)base;
        if (!use_scan && l2) { a.qnorm = (const float *)c.p[ODX_GP_QN]; a.xnorm = v.norm; }
        a.seq_of_slot = v.seq;
        a.member = v.member;
        a.member_nbits = v.member_nbits;
        a.k = k;
        SelArgs fin = {};
        if (ntiles > 1) {
            fin.out_keys = rk + t * k;
            fin.out_ids = ri + t * k;
            fin.out_stride = ntiles * k;
        } else {
            fin.final_out = 1;
            fin.out_dist = out_dist;
            fin.out_seq = out_seq;
            fin.final_map = final_map;
        }
        if ((rc = reduce_rows(ix, a, nq, ka, ia, kb, ib, fin))) return rc;
    }
    if (ntiles > 1) {
        SelArgs a = {};
        a.keys = rk;
        a.ids = ri;
        a.in_stride = ntiles * k;
        a.row_len = ntiles * k;
        a.larger_better = larger_better(ix);
        a.k = k;
        SelArgs fin = {};
        fin.final_out = 1;
        fin.out_dist = out_dist;
        fin.out_seq = out_seq;
        fin.final_map = final_map;
        if ((rc = reduce_rows(ix, a, nq, ka, ia, kb, ib, fin))) return rc;
    }
    return 0;
fail:
    return rc;
}

View slots_view(const odx_gpu_index *ix, const uint64_t *member, uint64_t nbits)
{
    View v = {ix->x, ix->fp16, ix->used, ix->norm, ix->seq, member, nbits};
    return v;
}

View centroid_view(const odx_gpu_index *ix)
{
    View v = {ix->cent, 0, ix->opt.nlist, ix->cent_norm, NULL, NULL, 0};
    return v;
}

// The coarse step of IVF: the nprobe nearest centroids of nq device queries
// (already in the plan's Q piece) into the PROBE piece.
int coarse(odx_gpu_index *ix, const odx_gpu_plan &pl, const Carve &c, uint64_t nq, uint32_t nprobe)
{
    View cv = centroid_view(ix);
    bool scan = nq <= kScanMaxQ && (uint64_t)nq * ix->dim * 4 <= 48 * 1024;
    return flat_batch(ix, cv, pl, c, nq, nprobe, scan, NULL, (float *)c.p[ODX_GP_PDIST], (uint64_t *)c.p[ODX_GP_PROBE]);
}

int timed_lock(pthread_mutex_t *mu, int wait_ms)
{
    if (wait_ms <= 0) return pthread_mutex_trylock(mu);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += wait_ms / 1000;
    ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
    return pthread_mutex_timedlock(mu, &ts);
}

// After a failed device call: a sticky error leaves the context unusable.
int note_failure(odx_gpu_index *ix, int rc)
{
    cudaGetLastError(); // clears a non-sticky error
    cudaError_t e = ix->st ? cudaStreamQuery(ix->st) : cudaSuccess;
    if (e != cudaSuccess && e != cudaErrorNotReady) ix->broken = 1;
    return rc;
}

int upload_centroids(odx_gpu_index *ix, const float *centroids)
{
    int rc = 0;
    uint64_t bytes = (uint64_t)ix->opt.nlist * ix->dim * 4;
    CK(cudaMemcpyAsync(ix->cent, centroids, bytes, cudaMemcpyHostToDevice, ix->st), "uploading centroids");
    CK(row_norms(ix->cent, ix->opt.nlist, ix->dim, ix->cent_norm, ix->st), "centroid norms");
    CK(cudaStreamSynchronize(ix->st), "uploading centroids");
    ix->trained = 1;
    return 0;
fail:
    return rc;
}

// Nearest centroid of each of n fp32 host vectors (used by add and train).
int assign_lists(odx_gpu_index *ix, uint64_t n, const float *x, int32_t *assign)
{
    int rc = 0;
    uint64_t *lists = (uint64_t *)odx_malloc(n * 8 + 8);
    if (!lists) return odx_error(ODX_ENOMEM, "out of memory");
    for (uint64_t i = 0; i < n && !rc;) {
        odx_gpu_plan pl;
        if ((rc = odx_gpu_plan_flat(ix->opt.nlist, ix->dim, 1, n - i, 1024, 0, 1, 0, ix->opt.scratch_bytes, &pl)))
            break;
        if ((rc = ensure_scratch(ix, pl.total))) break;
        Carve c = carve(ix, pl);
        uint64_t nb = pl.qb;
        CK(cudaMemcpyAsync(c.p[ODX_GP_Q], x + i * ix->dim, nb * ix->dim * 4, cudaMemcpyHostToDevice, ix->st),
           "uploading vectors");
        if ((rc = flat_batch(ix, centroid_view(ix), pl, c, nb, 1, false, NULL, (float *)c.p[ODX_GP_ODIST],
                             (uint64_t *)c.p[ODX_GP_OSEQ])))
            break;
        CK(cudaMemcpyAsync(lists + i, c.p[ODX_GP_OSEQ], nb * 8, cudaMemcpyDeviceToHost, ix->st), "reading lists");
        CK(cudaStreamSynchronize(ix->st), "assigning lists");
        i += nb;
    }
    for (uint64_t i = 0; i < n && !rc; i++) {
        if (lists[i] >= ix->opt.nlist) rc = odx_error(ODX_EINTERNAL, "GPU: vector %llu has no list", (unsigned long long)i);
        else assign[i] = (int32_t)lists[i];
    }
    odx_free(lists);
    return rc;
fail:
    odx_free(lists);
    return rc;
}

// Tombstones the current slot of seq, if any (host side; the device slot is
// added to `dead` for one tombstone kernel).
void drop_seq(odx_gpu_index *ix, uint64_t seq, uint64_t *dead, uint64_t *ndead)
{
    uint32_t s = odx_gpu_slotmap_get(&ix->map, seq);
    if (s == ODX_GPU_NO_SLOT) return;
    ix->h_seq[s] = UINT64_MAX;
    odx_gpu_slotmap_set(&ix->map, seq, ODX_GPU_NO_SLOT);
    dead[(*ndead)++] = s;
    ix->live--;
}

// Uploads one batch (nb <= kAddBatch) of vectors into slots chosen here.
int add_batch(odx_gpu_index *ix, uint64_t nb, const float *x, const uint64_t *seqs)
{
    int rc = 0;
    uint64_t *dst = ix->stage_u64, *sv = dst + kAddBatch, *dead = sv + kAddBatch, ndead = 0;
    int32_t *assign = NULL;
    size_t *order = NULL, *start = NULL;
    for (uint64_t i = 0; i < nb; i++)
        if (seqs[i] >= ODX_GPU_MAX_SEQ) return odx_error(ODX_EINVAL, "seq %llu too large", (unsigned long long)seqs[i]);
    if (!ix->opt.nlist) {
        if ((rc = ensure_slots(ix, ix->used + nb))) return rc;
        for (uint64_t i = 0; i < nb; i++) dst[i] = ix->used + i;
    } else {
        assign = (int32_t *)odx_malloc(nb * sizeof *assign);
        order = (size_t *)odx_malloc(nb * sizeof *order);
        start = (size_t *)odx_malloc(((size_t)ix->opt.nlist + 1) * sizeof *start);
        if (!assign || !order || !start) { rc = odx_error(ODX_ENOMEM, "out of memory"); goto out; }
        if ((rc = assign_lists(ix, nb, x, assign))) goto out;
        if ((rc = odx_ivf_group(ix->opt.nlist, nb, assign, order, start))) goto out;
        for (uint32_t l = 0; l < ix->opt.nlist; l++) {
            uint64_t cnt = start[l + 1] - start[l];
            if (!cnt) continue;
            uint64_t first, from;
            int moved;
            // A failure from here on leaves the index incomplete (odx_gpu_add).
            if ((rc = odx_ivf_layout_append(&ix->L, l, cnt, &first, &moved, &from))) goto out;
            if ((rc = ensure_slots(ix, ix->L.end))) goto out;
            if (moved) {
                uint64_t keep = ix->L.len[l] - cnt, to = ix->L.off[l];
                CK(cudaMemcpyAsync((char *)ix->x + to * ix->dim * ix->elem, (char *)ix->x + from * ix->dim * ix->elem,
                                   keep * ix->dim * ix->elem, cudaMemcpyDeviceToDevice, ix->st), "moving a list");
                CK(cudaMemcpyAsync(ix->seq + to, ix->seq + from, keep * 8, cudaMemcpyDeviceToDevice, ix->st),
                   "moving a list");
                CK(cudaMemcpyAsync(ix->norm + to, ix->norm + from, keep * 4, cudaMemcpyDeviceToDevice, ix->st),
                   "moving a list");
                CK(cudaMemsetAsync(ix->seq + from, 0xff, keep * 8, ix->st), "clearing a moved list");
                for (uint64_t j = 0; j < keep; j++) {
                    uint64_t s = ix->h_seq[from + j];
                    ix->h_seq[to + j] = s;
                    ix->h_seq[from + j] = UINT64_MAX;
                    if (s != UINT64_MAX) odx_gpu_slotmap_set(&ix->map, s, (uint32_t)(to + j));
                }
            }
            for (uint64_t j = 0; j < cnt; j++) dst[order[start[l] + j]] = first + j;
        }
        ix->used = ix->L.end;
    }
    // Replaced seqs lose their old slot; within the batch the last copy wins.
    for (uint64_t i = 0; i < nb; i++) {
        drop_seq(ix, seqs[i], dead, &ndead);
        if ((rc = odx_gpu_slotmap_set(&ix->map, seqs[i], (uint32_t)dst[i]))) goto out;
        ix->h_seq[dst[i]] = seqs[i];
        ix->live++;
    }
    for (uint64_t i = 0; i < nb; i++) sv[i] = ix->h_seq[dst[i]];
    {
        odx_gpu_plan pl = {};
        pl.piece[ODX_GP_Q] = nb * ix->dim * 4;
        pl.piece[ODX_GP_OSEQ] = nb * 8 * 3;
        uint64_t need = odx_gpu_align(pl.piece[ODX_GP_Q]) + odx_gpu_align(pl.piece[ODX_GP_OSEQ]);
        if ((rc = ensure_scratch(ix, need))) goto out;
        Carve c = carve(ix, pl);
        uint64_t *d_dst = (uint64_t *)c.p[ODX_GP_OSEQ], *d_sv = d_dst + nb, *d_dead = d_sv + nb;
        CK(cudaMemcpyAsync(c.p[ODX_GP_Q], x, nb * ix->dim * 4, cudaMemcpyHostToDevice, ix->st), "uploading vectors");
        CK(cudaMemcpyAsync(d_dst, dst, nb * 8, cudaMemcpyHostToDevice, ix->st), "uploading slots");
        CK(cudaMemcpyAsync(d_sv, sv, nb * 8, cudaMemcpyHostToDevice, ix->st), "uploading seqs");
        CK(cudaMemcpyAsync(d_dead, dead, ndead * 8, cudaMemcpyHostToDevice, ix->st), "uploading tombstones");
        CK(tombstone(ix->seq, d_dead, ndead, ix->st), "tombstones");
        CK(scatter_rows((const float *)c.p[ODX_GP_Q], nb, ix->dim, d_dst, d_sv, ix->x, ix->fp16, ix->seq, ix->norm,
                        ix->st),
           "storing vectors");
        if (ix->opt.nlist) {
            CK(cudaMemcpyAsync(ix->d_off, ix->L.off, ix->opt.nlist * 8, cudaMemcpyHostToDevice, ix->st), "list offsets");
            CK(cudaMemcpyAsync(ix->d_len, ix->L.len, ix->opt.nlist * 8, cudaMemcpyHostToDevice, ix->st), "list lengths");
        }
        CK(cudaStreamSynchronize(ix->st), "storing vectors");
    }
    if (!ix->opt.nlist) ix->used += nb;
out:
    odx_free(assign);
    odx_free(order);
    odx_free(start);
    return rc;
fail:
    odx_free(assign);
    odx_free(order);
    odx_free(start);
    return rc;
}

} // namespace

extern "C" {

void odx_gpu_options_init(odx_gpu_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->scratch_bytes = 256ull << 20;
}

int odx_gpu_available(int device, int *ndevices)
{
    pthread_once(&g_once, probe_devices);
    if (ndevices) *ndevices = g_ndev;
    if (g_err != cudaSuccess) return odx_error(ODX_EUNSUPPORTED, "no usable GPU: %s", cudaGetErrorString(g_err));
    if (g_ndev == 0) return odx_error(ODX_EUNSUPPORTED, "no GPU: the CUDA runtime sees no device");
    if (device < 0 || device >= g_ndev)
        return odx_error(ODX_EUNSUPPORTED, "no GPU %d (the CUDA runtime sees %d)", device, g_ndev);
    return 0;
}

void odx_gpu_describe(int device, char *buf, size_t len)
{
    if (odx_gpu_available(device, NULL)) {
        snprintf(buf, len, "%s", odx_last_error());
        return;
    }
    cudaDeviceProp p;
    cudaError_t e = cudaGetDeviceProperties(&p, device);
    if (e != cudaSuccess) { snprintf(buf, len, "GPU %d: %s", device, cudaGetErrorString(e)); return; }
    snprintf(buf, len, "%s, %.1f GiB, sm_%d%d", p.name, (double)p.totalGlobalMem / (1 << 30), p.major, p.minor);
}

int odx_gpu_create(int dim, odx_metric metric, const odx_gpu_options *opt, odx_gpu_index **out)
{
    if (dim < 1 || dim > 12288) return odx_error(ODX_EINVAL, "GPU index: dimension %d out of range (1..12288)", dim);
    if (metric != ODX_METRIC_COSINE && metric != ODX_METRIC_IP && metric != ODX_METRIC_L2)
        return odx_error(ODX_EINVAL, "GPU index: unknown metric %d", (int)metric);
    odx_gpu_options o;
    if (opt) o = *opt;
    else odx_gpu_options_init(&o);
    if (!o.scratch_bytes) o.scratch_bytes = 256ull << 20;
    if (o.nlist > 1u << 20) return odx_error(ODX_EINVAL, "GPU index: nlist %u too large", o.nlist);
    int rc = odx_gpu_available(o.device, NULL);
    if (rc) return rc;
    odx_gpu_index *ix = (odx_gpu_index *)odx_calloc(1, sizeof *ix);
    if (!ix) return odx_error(ODX_ENOMEM, "out of memory");
    ix->dim = dim;
    ix->metric = metric;
    ix->fp16 = o.storage == ODX_GPU_STORAGE_FP16;
    ix->elem = ix->fp16 ? 2 : 4;
    pthread_mutex_init(&ix->mu, NULL);
    size_t freeb = 0, totalb = 0;
    CK(cudaSetDevice(o.device), "selecting the device");
    CK(cudaMemGetInfo(&freeb, &totalb), "reading free memory");
    if (!o.budget_bytes) o.budget_bytes = (uint64_t)(freeb * 0.8);
    if (o.scratch_bytes > o.budget_bytes / 2) o.scratch_bytes = o.budget_bytes / 2;
    ix->opt = o;
    CK(cudaStreamCreateWithFlags(&ix->st, cudaStreamNonBlocking), "creating a stream");
    {
        cublasStatus_t s = cublasCreate(&ix->blas);
        if (s != CUBLAS_STATUS_SUCCESS) { ix->blas = NULL; rc = blas_fail(s, "cublasCreate"); goto fail; }
        cublasSetStream(ix->blas, ix->st);
        cublasSetMathMode(ix->blas, CUBLAS_DEFAULT_MATH); // no TF32: scores must match the CPU within 1e-4
    }
    ix->stage_u64 = (uint64_t *)odx_malloc(3 * kAddBatch * 8);
    if (!ix->stage_u64) { rc = odx_error(ODX_ENOMEM, "out of memory"); goto fail; }
    if (o.nlist) {
        if ((rc = odx_ivf_layout_init(&ix->L, o.nlist))) goto fail;
        if (ivf_bytes(ix) > o.budget_bytes) { rc = odx_error(ODX_ELIMIT, "GPU index: centroids over the budget"); goto fail; }
        CK(cudaMalloc(&ix->cent, (size_t)o.nlist * dim * 4), "allocating centroids");
        CK(cudaMalloc(&ix->cent_norm, (size_t)o.nlist * 4), "allocating centroids");
        CK(cudaMalloc(&ix->d_off, (size_t)o.nlist * 8), "allocating lists");
        CK(cudaMalloc(&ix->d_len, (size_t)o.nlist * 8), "allocating lists");
        CK(cudaMemset(ix->d_len, 0, (size_t)o.nlist * 8), "clearing lists");
        CK(cudaMemset(ix->d_off, 0, (size_t)o.nlist * 8), "clearing lists");
    }
    if (o.reserve && (rc = ensure_slots(ix, o.reserve))) goto fail;
    *out = ix;
    return 0;
fail:
    odx_gpu_free(ix);
    return rc;
}

void odx_gpu_free(odx_gpu_index *ix)
{
    if (!ix) return;
    cudaSetDevice(ix->opt.device);
    if (ix->st) cudaStreamSynchronize(ix->st);
    if (ix->blas) cublasDestroy(ix->blas);
    cudaFree(ix->x);
    cudaFree(ix->seq);
    cudaFree(ix->norm);
    cudaFree(ix->cent);
    cudaFree(ix->cent_norm);
    cudaFree(ix->d_off);
    cudaFree(ix->d_len);
    cudaFree(ix->scratch);
    if (ix->st) cudaStreamDestroy(ix->st);
    odx_free(ix->h_seq);
    odx_free(ix->stage_u64);
    odx_gpu_slotmap_free(&ix->map);
    odx_ivf_layout_free(&ix->L);
    pthread_mutex_destroy(&ix->mu);
    odx_free(ix);
}

int odx_gpu_is_trained(const odx_gpu_index *ix) { return !ix->opt.nlist || ix->trained; }

int odx_gpu_set_centroids(odx_gpu_index *ix, const float *centroids)
{
    if (!ix->opt.nlist) return odx_error(ODX_EINVAL, "GPU index: a flat index has no centroids");
    if (!centroids) return odx_error(ODX_EINVAL, "NULL centroids");
    pthread_mutex_lock(&ix->mu);
    int rc = ix->used ? odx_error(ODX_EINVAL, "GPU index: centroids change only while empty") : 0;
    if (!rc) {
        cudaSetDevice(ix->opt.device);
        rc = note_failure(ix, upload_centroids(ix, centroids));
    }
    pthread_mutex_unlock(&ix->mu);
    return rc;
}

int odx_gpu_train(odx_gpu_index *ix, size_t n, const float *x)
{
    const uint32_t nl = ix->opt.nlist;
    if (!nl) return odx_error(ODX_EINVAL, "GPU index: a flat index needs no training");
    if (n < nl) return odx_error(ODX_EINVAL, "GPU index: %zu vectors cannot train %u lists", n, nl);
    if (!x) return odx_error(ODX_EINVAL, "NULL argument");
    if (ix->used) return odx_error(ODX_EINVAL, "GPU index: training only while empty");
    const int dim = ix->dim;
    uint64_t ns = n < (uint64_t)nl * 256 ? n : (uint64_t)nl * 256;
    float *sample = (float *)odx_malloc(ns * dim * 4);
    float *cent = (float *)odx_malloc((size_t)nl * dim * 4);
    double *sum = (double *)odx_malloc((size_t)nl * dim * sizeof(double));
    uint64_t *cnt = (uint64_t *)odx_malloc((size_t)nl * 8);
    int32_t *assign = (int32_t *)odx_malloc(ns * 4);
    int rc = 0;
    if (!sample || !cent || !sum || !cnt || !assign) { rc = odx_error(ODX_ENOMEM, "out of memory"); goto out; }
    for (uint64_t i = 0; i < ns; i++) memcpy(sample + i * dim, x + (i * n / ns) * dim, (size_t)dim * 4);
    {
        uint64_t rng = 0x9e3779b97f4a7c15ull;
        for (uint32_t l = 0; l < nl; l++) { // distinct starting points: a strided pick with a random offset
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            uint64_t pick = ((uint64_t)l * ns / nl + (rng >> 33) % (ns / nl)) % ns;
            memcpy(cent + (size_t)l * dim, sample + pick * dim, (size_t)dim * 4);
        }
        pthread_mutex_lock(&ix->mu);
        cudaSetDevice(ix->opt.device);
        for (int it = 0; it < 10 && !rc; it++) {
            if ((rc = upload_centroids(ix, cent)) || (rc = assign_lists(ix, ns, sample, assign))) break;
            memset(sum, 0, (size_t)nl * dim * sizeof(double));
            memset(cnt, 0, (size_t)nl * 8);
            for (uint64_t i = 0; i < ns; i++) {
                cnt[assign[i]]++;
                for (int d = 0; d < dim; d++) sum[(size_t)assign[i] * dim + d] += sample[i * dim + d];
            }
            for (uint32_t l = 0; l < nl; l++) {
                float *c = cent + (size_t)l * dim;
                if (!cnt[l]) { // an empty list restarts at a random sample
                    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
                    memcpy(c, sample + ((rng >> 33) % ns) * dim, (size_t)dim * 4);
                    continue;
                }
                double nn = 0;
                for (int d = 0; d < dim; d++) { c[d] = (float)(sum[(size_t)l * dim + d] / cnt[l]); nn += (double)c[d] * c[d]; }
                if (ix->metric != ODX_METRIC_L2 && nn > 0) // spherical k-means for inner product
                    for (int d = 0; d < dim; d++) c[d] = (float)(c[d] / sqrt(nn));
            }
        }
        if (!rc) rc = upload_centroids(ix, cent);
        if (rc) { ix->trained = 0; note_failure(ix, rc); }
        pthread_mutex_unlock(&ix->mu);
    }
out:
    odx_free(sample);
    odx_free(cent);
    odx_free(sum);
    odx_free(cnt);
    odx_free(assign);
    return rc;
}

int odx_gpu_add(odx_gpu_index *ix, size_t n, const float *x, const uint64_t *seqs)
{
    if (!n) return 0;
    if (!x || !seqs) return odx_error(ODX_EINVAL, "NULL argument");
    pthread_mutex_lock(&ix->mu);
    int rc = 0;
    if (ix->broken) rc = odx_error(ODX_EUNSUPPORTED, "GPU index: the device failed earlier; rebuild on the CPU");
    else if (!odx_gpu_is_trained(ix)) rc = odx_error(ODX_EPRECOND, "GPU IVF index has no centroids yet");
    if (!rc) {
        cudaSetDevice(ix->opt.device);
        for (size_t i = 0; i < n && !rc; i += kAddBatch) {
            size_t nb = n - i < kAddBatch ? n - i : kAddBatch;
            rc = add_batch(ix, nb, x + i * ix->dim, seqs + i);
        }
        if (rc && rc != ODX_EINVAL) {
            ix->incomplete = 1;
            note_failure(ix, rc);
        }
    }
    pthread_mutex_unlock(&ix->mu);
    return rc;
}

int odx_gpu_remove(odx_gpu_index *ix, size_t n, const uint64_t *seqs, size_t *removed)
{
    if (n && !seqs) return odx_error(ODX_EINVAL, "NULL argument");
    pthread_mutex_lock(&ix->mu);
    int rc = ix->broken ? odx_error(ODX_EUNSUPPORTED, "GPU index: the device failed earlier") : 0;
    size_t total = 0;
    cudaSetDevice(ix->opt.device);
    for (size_t i = 0; i < n && !rc; i += kAddBatch) {
        size_t nb = n - i < kAddBatch ? n - i : kAddBatch;
        uint64_t *dead = ix->stage_u64, ndead = 0;
        for (size_t j = 0; j < nb; j++) drop_seq(ix, seqs[i + j], dead, &ndead);
        total += ndead;
        if (!ndead) continue;
        if ((rc = ensure_scratch(ix, odx_gpu_align(ndead * 8)))) break;
        cudaError_t e = cudaMemcpyAsync(ix->scratch, dead, ndead * 8, cudaMemcpyHostToDevice, ix->st);
        if (e == cudaSuccess) e = tombstone(ix->seq, (const uint64_t *)ix->scratch, ndead, ix->st);
        if (e == cudaSuccess) e = cudaStreamSynchronize(ix->st);
        if (e != cudaSuccess) rc = cuda_fail(e, "tombstones");
    }
    if (rc) { ix->incomplete = 1; note_failure(ix, rc); }
    pthread_mutex_unlock(&ix->mu);
    if (!rc && removed) *removed = total;
    return rc;
}

int odx_gpu_reset(odx_gpu_index *ix)
{
    pthread_mutex_lock(&ix->mu);
    int rc = 0;
    cudaSetDevice(ix->opt.device);
    if (ix->cap) {
        cudaError_t e = cudaMemsetAsync(ix->seq, 0xff, ix->cap * 8, ix->st);
        if (e == cudaSuccess) e = cudaStreamSynchronize(ix->st);
        if (e != cudaSuccess) rc = note_failure(ix, cuda_fail(e, "reset"));
        memset(ix->h_seq, 0xff, ix->cap * 8);
    }
    if (!rc) {
        ix->used = 0;
        ix->live = 0;
        ix->incomplete = 0;
        odx_gpu_slotmap_free(&ix->map);
        if (ix->opt.nlist) {
            uint32_t nl = ix->opt.nlist;
            odx_ivf_layout_free(&ix->L);
            rc = odx_ivf_layout_init(&ix->L, nl);
            if (!rc) {
                cudaError_t e = cudaMemsetAsync(ix->d_len, 0, (size_t)nl * 8, ix->st);
                if (e == cudaSuccess) e = cudaStreamSynchronize(ix->st);
                if (e != cudaSuccess) rc = note_failure(ix, cuda_fail(e, "reset"));
            }
        }
    }
    pthread_mutex_unlock(&ix->mu);
    return rc;
}

int odx_gpu_search(odx_gpu_index *ix, size_t nq, const float *q, int k, int nprobe, const uint64_t *member,
                   uint64_t member_nbits, odx_gpu_path path, float *dist, uint64_t *seqs_out)
{
    if (k < 1 || k > ODX_GSEL_MAXK) return odx_error(ODX_EINVAL, "k = %d out of range (1..%d)", k, ODX_GSEL_MAXK);
    if (!nq) return 0;
    if (!q || !dist || !seqs_out) return odx_error(ODX_EINVAL, "NULL argument");
    if (member_nbits > ODX_GPU_MAX_SEQ) member_nbits = ODX_GPU_MAX_SEQ;
    int lr = timed_lock(&ix->mu, ix->opt.busy_wait_ms);
    if (lr) return odx_error(ODX_ELIMIT, "GPU index busy%s", lr == EBUSY || lr == ETIMEDOUT ? "" : " (lock error)");
    int rc = 0;
    const uint64_t words = member ? (member_nbits + 63) / 64 : 0;
    const uint32_t nl = ix->opt.nlist;
    uint32_t np = nprobe > 0 ? (uint32_t)nprobe : (nl / 16 ? nl / 16 : 1);
    if (np > nl) np = nl;
    if (ix->broken) rc = odx_error(ODX_EUNSUPPORTED, "GPU index: the device failed earlier; searching on the CPU");
    else if (ix->incomplete) rc = odx_error(ODX_ELIMIT, "GPU index is incomplete (an upload failed); searching on the CPU");
    else if (!odx_gpu_is_trained(ix)) rc = odx_error(ODX_EPRECOND, "GPU IVF index has no centroids yet");
    if (rc) { pthread_mutex_unlock(&ix->mu); return rc; }
    cudaSetDevice(ix->opt.device);
    const bool small_scan = (uint64_t)ix->dim * 4 <= 48 * 1024;
    for (uint64_t i = 0; i < nq && !rc;) {
        odx_gpu_plan pl;
        bool scan = false;
        if (nl) {
            rc = odx_gpu_plan_ivf(nl, np, ix->L.maxlen, ix->dim, (uint32_t)k, nq - i, words, ix->opt.scratch_bytes, &pl);
        } else {
            scan = path == ODX_GPU_PATH_SCAN || (path == ODX_GPU_PATH_AUTO && nq - i <= kScanMaxQ);
            uint64_t max_qb = 1024;
            if (scan) {
                if (!small_scan) scan = false;
                else {
                    max_qb = (48 * 1024) / ((uint64_t)ix->dim * 4);
                    if (max_qb > kScanMaxQ) max_qb = kScanMaxQ;
                }
            }
            rc = odx_gpu_plan_flat(ix->used, ix->dim, (uint32_t)k, nq - i, max_qb, !scan && ix->fp16,
                                   !scan && ix->metric == ODX_METRIC_L2, words, ix->opt.scratch_bytes, &pl);
        }
        if (rc || (rc = ensure_scratch(ix, pl.total))) break;
        Carve c = carve(ix, pl);
        const uint64_t nb = pl.qb;
        CK(cudaMemcpyAsync(c.p[ODX_GP_Q], q + i * ix->dim, nb * ix->dim * 4, cudaMemcpyHostToDevice, ix->st),
           "uploading queries");
        if (words) CK(cudaMemcpyAsync(c.p[ODX_GP_MEMBER], member, words * 8, cudaMemcpyHostToDevice, ix->st),
                      "uploading the member bitmap");
        const uint64_t *dm = words ? (const uint64_t *)c.p[ODX_GP_MEMBER] : NULL;
        float *od = (float *)c.p[ODX_GP_ODIST];
        uint64_t *os = (uint64_t *)c.p[ODX_GP_OSEQ];
        if (!ix->used) {
            CK(cudaMemsetAsync(os, 0xff, nb * k * 8, ix->st), "empty result");
            float e = larger_better(ix) ? -INFINITY : INFINITY;
            for (uint64_t j = 0; j < nb * (uint64_t)k; j++) dist[i * k + j] = e;
        } else if (!nl) {
            View v = slots_view(ix, dm, member_nbits);
            if ((rc = flat_batch(ix, v, pl, c, nb, (uint32_t)k, scan, ix->seq, od, os))) break;
        } else {
            if ((rc = coarse(ix, pl, c, nb, np))) break;
            const uint64_t row = (uint64_t)np * ix->L.maxlen;
            float *sv = (float *)c.p[ODX_GP_SCANV];
            int32_t *si = (int32_t *)c.p[ODX_GP_SCANI];
            CK(scan_ivf(ix->x, ix->fp16, ix->dim, (const float *)c.p[ODX_GP_Q], nb, (const uint64_t *)c.p[ODX_GP_PROBE],
                        np, ix->d_off, ix->d_len, ix->L.maxlen, ix->metric == ODX_METRIC_L2, ix->seq, dm, member_nbits,
                        sv, si, ix->st),
               "IVF scan");
            SelArgs a = {};
            a.vals = sv;
            a.ids = si;
            a.in_stride = row;
            a.row_len = row;
            a.larger_better = larger_better(ix);
            a.k = (uint32_t)k;
            SelArgs fin = {};
            fin.final_out = 1;
            fin.out_dist = od;
            fin.out_seq = os;
            fin.final_map = ix->seq;
            uint32_t *ka = (uint32_t *)c.p[ODX_GP_SELA], *kb = (uint32_t *)c.p[ODX_GP_SELB];
            int32_t *ia = ka ? (int32_t *)(ka + pl.piece[ODX_GP_SELA] / 8) : NULL;
            int32_t *ib = kb ? (int32_t *)(kb + pl.piece[ODX_GP_SELB] / 8) : NULL;
            if ((rc = reduce_rows(ix, a, nb, ka, ia, kb, ib, fin))) break;
        }
        if (ix->used) {
            CK(cudaMemcpyAsync(dist + i * k, od, nb * k * 4, cudaMemcpyDeviceToHost, ix->st), "reading results");
            CK(cudaMemcpyAsync(seqs_out + i * k, os, nb * k * 8, cudaMemcpyDeviceToHost, ix->st), "reading results");
        } else {
            for (uint64_t j = 0; j < nb * (uint64_t)k; j++) seqs_out[i * k + j] = UINT64_MAX;
        }
        CK(cudaStreamSynchronize(ix->st), "search");
        i += nb;
    }
    goto done;
fail:
done:
    if (rc) note_failure(ix, rc);
    pthread_mutex_unlock(&ix->mu);
    return rc;
}

void odx_gpu_get_stats(const odx_gpu_index *ix, odx_gpu_stats *st)
{
    odx_gpu_index *m = (odx_gpu_index *)ix;
    pthread_mutex_lock(&m->mu);
    memset(st, 0, sizeof *st);
    st->live = ix->live;
    st->slots = ix->used;
    st->device_bytes = held_bytes(ix);
    st->budget_bytes = ix->opt.budget_bytes;
    st->nlist = ix->opt.nlist;
    st->max_list = (uint32_t)ix->L.maxlen;
    st->incomplete = ix->incomplete || ix->broken;
    pthread_mutex_unlock(&m->mu);
}

} // extern "C"
