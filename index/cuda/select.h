/* Top-k selection pieces shared by the CUDA kernels and the host tests.
 *
 * The GPU picks the k best of a row without sorting the row: a row is cut
 * into chunks of ODX_GSEL_CHUNK values; one thread block per chunk finds the
 * k-th best key by a 4-pass radix select (8 bits a pass, a 256-bin shared
 * histogram) and compacts the keys better than it plus just enough ties.
 * Each chunk leaves k candidates; the candidates of all chunks form a shorter
 * row that the same kernel reduces again until one chunk is left, whose k
 * survivors alone are sorted (bitonic, in shared memory).
 *
 * Everything here is plain C that nvcc compiles for host and device alike,
 * so that tests/unit/test_gpu_host.c checks on the CPU the exact logic the
 * kernels run (key order, bin choice, tie accounting, the pass plan). */
#ifndef ODX_INDEX_CUDA_SELECT_H
#define ODX_INDEX_CUDA_SELECT_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __CUDACC__
#define ODX_HD __host__ __device__ __forceinline__
#else
#define ODX_HD static inline
#endif

#define ODX_GSEL_CHUNK 8192   /* values per block; keys live in shared memory */
#define ODX_GSEL_MAXK 1024    /* the largest k (ODX_MAX_K) */
#define ODX_GSEL_WORST 0xffffffffu /* the key of an excluded slot (id -1) */

/* Maps a float to a uint32 whose unsigned order is "best first": ascending
 * for distances (lower is better), descending for similarities. */
ODX_HD uint32_t odx_gsel_key(float v, int larger_better)
{
    uint32_t u;
#ifdef __CUDA_ARCH__
    u = __float_as_uint(v);
#else
    memcpy(&u, &v, 4);
#endif
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    return larger_better ? ~u : u;
}

ODX_HD float odx_gsel_value(uint32_t key, int larger_better)
{
    uint32_t u = larger_better ? ~key : key;
    u = (u & 0x80000000u) ? (u & 0x7fffffffu) : ~u;
#ifdef __CUDA_ARCH__
    return __uint_as_float(u);
#else
    float v;
    memcpy(&v, &u, 4);
    return v;
#endif
}

/* One radix pass: hist[256] counts the keys that share the prefix found so
 * far, by their next 8-bit digit. *rank is the 1-based rank (among those
 * keys) of the key wanted; returns the digit that holds it and lowers *rank
 * to its rank inside that digit's bin. After the four passes the prefix is
 * the k-th best key T and *rank the number of keys equal to T that belong in
 * the top k: the block keeps every key < T (k - *rank of them) and the first
 * *rank keys == T. */
ODX_HD uint32_t odx_gsel_pick_bin(const uint32_t *hist, uint32_t *rank)
{
    uint32_t below = 0;
    for (uint32_t b = 0; b < 256; b++) {
        if (below + hist[b] >= *rank) {
            *rank -= below;
            return b;
        }
        below += hist[b];
    }
    return 255; /* unreachable when rank <= the number of keys counted */
}

/* The pass plan: a row of n values cut into chunks of `chunk` leaves
 * nchunks * k candidates (each chunk pads to k); repeated until a single
 * chunk remains. Returns the number of passes, the last of which sorts. */
ODX_HD uint64_t odx_gsel_nchunks(uint64_t n, uint32_t chunk) { return n ? (n + chunk - 1) / chunk : 1; }

ODX_HD int odx_gsel_passes(uint64_t n, uint32_t k, uint32_t chunk)
{
    int passes = 1;
    while (odx_gsel_nchunks(n, chunk) > 1) {
        n = odx_gsel_nchunks(n, chunk) * k;
        passes++;
    }
    return passes;
}

/* Bitonic sort of (key, id) pairs of a power-of-two length by key, then id
 * (the stable choice among equal scores: lower position first). The device
 * version runs the same compare-exchange network with one thread per pair. */
ODX_HD int odx_gsel_before(uint32_t ka, int32_t ia, uint32_t kb, int32_t ib)
{
    if (ka != kb) return ka < kb;
    /* id -1 (empty) sorts last among equal keys */
    return (uint32_t)ia < (uint32_t)ib;
}

#endif
