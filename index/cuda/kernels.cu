// The kernels of the GPU backend: chunked radix top-k selection, the
// bandwidth-bound scan for small query batches, the IVF list scan, and the
// small helpers of the upload path. See select.h for the selection scheme.
#include "index/cuda/kernels.cuh"

#include <cuda_fp16.h>
#include <math.h>

namespace odxg {
namespace {

constexpr int kSelThreads = 256;

__device__ __forceinline__ bool is_member(const uint64_t *member, uint64_t nbits, uint64_t seq)
{
    return seq < nbits && ((member[seq >> 6] >> (seq & 63)) & 1);
}

// The key of column col of row r in this pass (ODX_GSEL_WORST when excluded).
__device__ __forceinline__ uint32_t load_key(const SelArgs &a, uint64_t r, uint64_t col)
{
    uint64_t at = r * a.in_stride + col;
    if (a.keys) return a.ids[at] < 0 ? ODX_GSEL_WORST : a.keys[at];
    float v = a.vals[at];
    if (a.ids) {
        if (a.ids[at] < 0) return ODX_GSEL_WORST;
    } else {
        uint64_t slot = (uint64_t)a.id_base + col;
        if (a.seq_of_slot) {
            uint64_t seq = a.seq_of_slot[slot];
            if (seq == UINT64_MAX) return ODX_GSEL_WORST;
            if (a.member && !is_member(a.member, a.member_nbits, seq)) return ODX_GSEL_WORST;
        }
        if (a.qnorm) v = a.qnorm[r] + a.xnorm[slot] - 2.0f * v;
    }
    if (isnan(v)) return ODX_GSEL_WORST;
    return odx_gsel_key(v, a.larger_better);
}

__device__ __forceinline__ int32_t load_id(const SelArgs &a, uint64_t r, uint64_t col)
{
    if (a.ids) return a.ids[r * a.in_stride + col];
    return (int32_t)(a.id_base + (int64_t)col);
}

// One block per (chunk, row): radix-select the k best keys of the chunk
// (held in shared memory), keep them, and in the final pass sort them.
__global__ void __launch_bounds__(kSelThreads) select_kernel(SelArgs a)
{
    extern __shared__ uint32_t skey[]; // ODX_GSEL_CHUNK
    __shared__ uint32_t hist[256];
    __shared__ uint32_t okey[ODX_GSEL_MAXK];
    __shared__ int32_t oid[ODX_GSEL_MAXK];
    __shared__ uint32_t s_prefix, s_rank, s_less, s_eq;
    const uint64_t r = blockIdx.y;
    const uint64_t start = (uint64_t)blockIdx.x * ODX_GSEL_CHUNK;
    const uint32_t tid = threadIdx.x, nt = blockDim.x;
    const uint32_t k = a.k;
    uint64_t rem = a.row_len - start;
    const uint32_t len = rem < ODX_GSEL_CHUNK ? (uint32_t)rem : ODX_GSEL_CHUNK;

    for (uint32_t i = tid; i < len; i += nt) skey[i] = load_key(a, r, start + i);
    for (uint32_t i = tid; i < k; i += nt) { okey[i] = ODX_GSEL_WORST; oid[i] = -1; }
    __syncthreads();

    if (len <= k) {
        for (uint32_t i = tid; i < len; i += nt) {
            okey[i] = skey[i];
            oid[i] = skey[i] == ODX_GSEL_WORST ? -1 : load_id(a, r, start + i);
        }
    } else {
        uint32_t prefix = 0, mask = 0, rank = k;
        for (int shift = 24; shift >= 0; shift -= 8) {
            for (uint32_t i = tid; i < 256; i += nt) hist[i] = 0;
            __syncthreads();
            for (uint32_t i = tid; i < len; i += nt) {
                uint32_t key = skey[i];
                if ((key & mask) == prefix) atomicAdd(&hist[(key >> shift) & 255u], 1u);
            }
            __syncthreads();
            if (tid == 0) {
                uint32_t rk = rank;
                uint32_t b = odx_gsel_pick_bin(hist, &rk);
                s_prefix = prefix | (b << shift);
                s_rank = rk;
                s_less = 0;
                s_eq = 0;
            }
            __syncthreads();
            prefix = s_prefix;
            rank = s_rank;
            mask |= 255u << shift;
        }
        const uint32_t T = prefix, nless = k - rank;
        for (uint32_t i = tid; i < len; i += nt) {
            uint32_t key = skey[i];
            int slot = -1;
            if (key < T) slot = (int)atomicAdd(&s_less, 1u);
            else if (key == T) {
                uint32_t e = atomicAdd(&s_eq, 1u);
                if (e < rank) slot = (int)(nless + e);
            }
            if (slot >= 0) {
                okey[slot] = key;
                oid[slot] = key == ODX_GSEL_WORST ? -1 : load_id(a, r, start + i);
            }
        }
    }
    __syncthreads();

    if (!a.final_out) {
        uint64_t o = r * a.out_stride + (uint64_t)blockIdx.x * k;
        for (uint32_t i = tid; i < k; i += nt) { a.out_keys[o + i] = okey[i]; a.out_ids[o + i] = oid[i]; }
        return;
    }
    // Bitonic sort of the survivors (padded to a power of two with WORST).
    uint32_t P = 1;
    while (P < k) P <<= 1;
    for (uint32_t i = k + tid; i < P; i += nt) { okey[i] = ODX_GSEL_WORST; oid[i] = -1; }
    __syncthreads();
    for (uint32_t size = 2; size <= P; size <<= 1) {
        for (uint32_t stride = size >> 1; stride > 0; stride >>= 1) {
            for (uint32_t i = tid; i < P / 2; i += nt) {
                uint32_t lo = 2 * stride * (i / stride) + (i % stride), hi = lo + stride;
                bool up = (lo & size) == 0;
                bool sw = up ? odx_gsel_before(okey[hi], oid[hi], okey[lo], oid[lo])
                             : odx_gsel_before(okey[lo], oid[lo], okey[hi], oid[hi]);
                if (sw) {
                    uint32_t tk = okey[lo]; okey[lo] = okey[hi]; okey[hi] = tk;
                    int32_t ti = oid[lo]; oid[lo] = oid[hi]; oid[hi] = ti;
                }
            }
            __syncthreads();
        }
    }
    const float empty = a.larger_better ? -INFINITY : INFINITY;
    for (uint32_t i = tid; i < k; i += nt) {
        int32_t id = oid[i];
        uint64_t o = r * (uint64_t)k + i;
        if (id < 0) {
            a.out_dist[o] = empty;
            a.out_seq[o] = UINT64_MAX;
        } else {
            a.out_dist[o] = odx_gsel_value(okey[i], a.larger_better);
            a.out_seq[o] = a.final_map ? a.final_map[id] : (uint64_t)id;
        }
    }
}

// Loads VEC consecutive elements of a stored row as floats.
template <typename T, int VEC> struct Loader;
template <> struct Loader<float, 4> {
    __device__ __forceinline__ static void load(const float *p, float *o)
    {
        float4 v = *reinterpret_cast<const float4 *>(p);
        o[0] = v.x; o[1] = v.y; o[2] = v.z; o[3] = v.w;
    }
};
template <> struct Loader<float, 1> {
    __device__ __forceinline__ static void load(const float *p, float *o) { o[0] = *p; }
};
template <> struct Loader<__half, 8> {
    __device__ __forceinline__ static void load(const __half *p, float *o)
    {
        uint4 v = *reinterpret_cast<const uint4 *>(p);
        const __half2 *h = reinterpret_cast<const __half2 *>(&v);
        for (int j = 0; j < 4; j++) {
            float2 f = __half22float2(h[j]);
            o[2 * j] = f.x;
            o[2 * j + 1] = f.y;
        }
    }
};
template <> struct Loader<__half, 1> {
    __device__ __forceinline__ static void load(const __half *p, float *o) { o[0] = __half2float(*p); }
};

__device__ __forceinline__ float warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

constexpr int kScanMaxQ = 8;

// One warp per stored vector, all queries at once from shared memory: the
// database is streamed from HBM exactly once per batch.
template <typename T, int VEC>
__global__ void __launch_bounds__(256) scan_flat_kernel(const T *x, uint64_t base, uint64_t n, int dim,
                                                        const float *q, int nq, int l2, float *out,
                                                        uint64_t out_stride)
{
    extern __shared__ float sq[];
    for (int i = threadIdx.x; i < nq * dim; i += blockDim.x) sq[i] = q[i];
    __syncthreads();
    const int lane = threadIdx.x & 31;
    const uint64_t warp = ((uint64_t)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    const uint64_t nwarps = ((uint64_t)gridDim.x * blockDim.x) >> 5;
    for (uint64_t v = warp; v < n; v += nwarps) {
        const T *row = x + (base + v) * (uint64_t)dim;
        float acc[kScanMaxQ];
#pragma unroll
        for (int j = 0; j < kScanMaxQ; j++) acc[j] = 0.f;
        for (int d0 = lane * VEC; d0 < dim; d0 += 32 * VEC) {
            float xv[VEC];
            Loader<T, VEC>::load(row + d0, xv);
#pragma unroll
            for (int j = 0; j < kScanMaxQ; j++) {
                if (j < nq) {
                    const float *qq = sq + j * dim + d0;
#pragma unroll
                    for (int e = 0; e < VEC; e++) {
                        if (l2) { float d = qq[e] - xv[e]; acc[j] += d * d; }
                        else acc[j] += qq[e] * xv[e];
                    }
                }
            }
        }
#pragma unroll
        for (int j = 0; j < kScanMaxQ; j++) {
            if (j < nq) {
                float s = warp_sum(acc[j]);
                if (lane == 0) out[j * out_stride + v] = s;
            }
        }
    }
}

template <typename T, int VEC>
__global__ void __launch_bounds__(128) scan_ivf_kernel(const T *x, int dim, const float *q, const uint64_t *probes,
                                                       uint32_t nprobe, const uint64_t *list_off,
                                                       const uint64_t *list_len, uint64_t maxlen, int l2,
                                                       const uint64_t *seq_of_slot, const uint64_t *member,
                                                       uint64_t member_nbits, float *vals, int32_t *ids)
{
    extern __shared__ float sq[];
    const uint64_t qi = blockIdx.y;
    const uint32_t p = blockIdx.x;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) sq[i] = q[qi * dim + i];
    __syncthreads();
    const uint64_t list = probes[qi * nprobe + p];
    const uint64_t o = qi * (uint64_t)nprobe * maxlen + (uint64_t)p * maxlen;
    const uint64_t len = list == UINT64_MAX ? 0 : list_len[list];
    const uint64_t off = list == UINT64_MAX ? 0 : list_off[list];
    for (uint64_t j = len + threadIdx.x; j < maxlen; j += blockDim.x) ids[o + j] = -1;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    for (uint64_t j = warp; j < len; j += nw) {
        uint64_t slot = off + j;
        uint64_t seq = seq_of_slot[slot];
        bool keep = seq != UINT64_MAX && (!member || is_member(member, member_nbits, seq));
        if (!keep) { // warp-uniform
            if (lane == 0) ids[o + j] = -1;
            continue;
        }
        const T *row = x + slot * (uint64_t)dim;
        float acc = 0.f;
        for (int d0 = lane * VEC; d0 < dim; d0 += 32 * VEC) {
            float xv[VEC];
            Loader<T, VEC>::load(row + d0, xv);
#pragma unroll
            for (int e = 0; e < VEC; e++) {
                if (l2) { float d = sq[d0 + e] - xv[e]; acc += d * d; }
                else acc += sq[d0 + e] * xv[e];
            }
        }
        acc = warp_sum(acc);
        if (lane == 0) { vals[o + j] = acc; ids[o + j] = (int32_t)slot; }
    }
}

__global__ void scatter_kernel(const float *src, uint64_t n, int dim, const uint64_t *dst, const uint64_t *seqs,
                               void *x, int fp16, uint64_t *seq_of_slot, float *norms)
{
    const int lane = threadIdx.x & 31;
    const uint64_t warp = ((uint64_t)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    const uint64_t nwarps = ((uint64_t)gridDim.x * blockDim.x) >> 5;
    for (uint64_t i = warp; i < n; i += nwarps) {
        uint64_t slot = dst[i];
        const float *s = src + i * (uint64_t)dim;
        float acc = 0.f;
        for (int d = lane; d < dim; d += 32) {
            float v = s[d];
            if (fp16) {
                __half h = __float2half_rn(v);
                reinterpret_cast<__half *>(x)[slot * dim + d] = h;
                v = __half2float(h); // the norm of what is stored
            } else {
                reinterpret_cast<float *>(x)[slot * dim + d] = v;
            }
            acc += v * v;
        }
        acc = warp_sum(acc);
        if (lane == 0) { norms[slot] = acc; seq_of_slot[slot] = seqs[i]; }
    }
}

__global__ void tombstone_kernel(uint64_t *seq_of_slot, const uint64_t *slots, uint64_t n)
{
    uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) seq_of_slot[slots[i]] = UINT64_MAX;
}

__global__ void norms_kernel(const float *x, uint64_t n, int dim, float *out)
{
    const int lane = threadIdx.x & 31;
    const uint64_t warp = ((uint64_t)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    if (warp >= n) return;
    float acc = 0.f;
    for (int d = lane; d < dim; d += 32) { float v = x[warp * dim + d]; acc += v * v; }
    acc = warp_sum(acc);
    if (lane == 0) out[warp] = acc;
}

__global__ void half_kernel(const float *x, uint64_t n, __half *out)
{
    uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = __float2half_rn(x[i]);
}

unsigned grid_for(uint64_t items, unsigned per_block, unsigned cap = 65535u * 16u)
{
    uint64_t g = (items + per_block - 1) / per_block;
    if (g < 1) g = 1;
    return (unsigned)(g < cap ? g : cap);
}

} // namespace

cudaError_t select_pass(const SelArgs &a, uint64_t nrows, cudaStream_t st)
{
    uint64_t nch = odx_gsel_nchunks(a.row_len, ODX_GSEL_CHUNK);
    if (nrows > 65535 || nch > 0x7fffffffu || a.k < 1 || a.k > ODX_GSEL_MAXK) return cudaErrorInvalidValue;
    dim3 grid((unsigned)nch, (unsigned)nrows);
    select_kernel<<<grid, kSelThreads, ODX_GSEL_CHUNK * sizeof(uint32_t), st>>>(a);
    return cudaGetLastError();
}

cudaError_t scan_flat(const void *x, int fp16, uint64_t base, uint64_t n, int dim, const float *q, int nq, int l2,
                      float *out, uint64_t out_stride, cudaStream_t st)
{
    if (nq < 1 || nq > kScanMaxQ) return cudaErrorInvalidValue;
    size_t sh = (size_t)nq * dim * sizeof(float);
    unsigned grid = grid_for(n * 32, 256);
    if (fp16) {
        const __half *h = static_cast<const __half *>(x);
        if (dim % 8 == 0) scan_flat_kernel<__half, 8><<<grid, 256, sh, st>>>(h, base, n, dim, q, nq, l2, out, out_stride);
        else scan_flat_kernel<__half, 1><<<grid, 256, sh, st>>>(h, base, n, dim, q, nq, l2, out, out_stride);
    } else {
        const float *f = static_cast<const float *>(x);
        if (dim % 4 == 0) scan_flat_kernel<float, 4><<<grid, 256, sh, st>>>(f, base, n, dim, q, nq, l2, out, out_stride);
        else scan_flat_kernel<float, 1><<<grid, 256, sh, st>>>(f, base, n, dim, q, nq, l2, out, out_stride);
    }
    return cudaGetLastError();
}

cudaError_t scan_ivf(const void *x, int fp16, int dim, const float *q, uint64_t nq, const uint64_t *probes,
                     uint32_t nprobe, const uint64_t *list_off, const uint64_t *list_len, uint64_t maxlen, int l2,
                     const uint64_t *seq_of_slot, const uint64_t *member, uint64_t member_nbits, float *vals,
                     int32_t *ids, cudaStream_t st)
{
    if (nq > 65535) return cudaErrorInvalidValue;
    dim3 grid(nprobe, (unsigned)nq);
    size_t sh = (size_t)dim * sizeof(float);
    if (fp16) {
        const __half *h = static_cast<const __half *>(x);
        if (dim % 8 == 0)
            scan_ivf_kernel<__half, 8><<<grid, 128, sh, st>>>(h, dim, q, probes, nprobe, list_off, list_len, maxlen,
                                                               l2, seq_of_slot, member, member_nbits, vals, ids);
        else
            scan_ivf_kernel<__half, 1><<<grid, 128, sh, st>>>(h, dim, q, probes, nprobe, list_off, list_len, maxlen,
                                                               l2, seq_of_slot, member, member_nbits, vals, ids);
    } else {
        const float *f = static_cast<const float *>(x);
        if (dim % 4 == 0)
            scan_ivf_kernel<float, 4><<<grid, 128, sh, st>>>(f, dim, q, probes, nprobe, list_off, list_len, maxlen,
                                                              l2, seq_of_slot, member, member_nbits, vals, ids);
        else
            scan_ivf_kernel<float, 1><<<grid, 128, sh, st>>>(f, dim, q, probes, nprobe, list_off, list_len, maxlen,
                                                              l2, seq_of_slot, member, member_nbits, vals, ids);
    }
    return cudaGetLastError();
}

cudaError_t scatter_rows(const float *src, uint64_t n, int dim, const uint64_t *dst, const uint64_t *seqs, void *x,
                         int fp16, uint64_t *seq_of_slot, float *norms, cudaStream_t st)
{
    if (!n) return cudaSuccess;
    scatter_kernel<<<grid_for(n * 32, 256), 256, 0, st>>>(src, n, dim, dst, seqs, x, fp16, seq_of_slot, norms);
    return cudaGetLastError();
}

cudaError_t tombstone(uint64_t *seq_of_slot, const uint64_t *slots, uint64_t n, cudaStream_t st)
{
    if (!n) return cudaSuccess;
    tombstone_kernel<<<(unsigned)((n + 255) / 256), 256, 0, st>>>(seq_of_slot, slots, n);
    return cudaGetLastError();
}

cudaError_t row_norms(const float *x, uint64_t n, int dim, float *out, cudaStream_t st)
{
    if (!n) return cudaSuccess;
    norms_kernel<<<(unsigned)((n * 32 + 255) / 256), 256, 0, st>>>(x, n, dim, out);
    return cudaGetLastError();
}

cudaError_t to_half(const float *x, uint64_t n, void *out, cudaStream_t st)
{
    if (!n) return cudaSuccess;
    half_kernel<<<(unsigned)((n + 255) / 256), 256, 0, st>>>(x, n, static_cast<__half *>(out));
    return cudaGetLastError();
}

} // namespace odxg
