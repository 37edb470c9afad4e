/* A seeded generator of clustered, anisotropic, unit-length vectors shaped
 * like CLIP-style embeddings, for ANN benchmarks (bench/ann, make bench-ann)
 * and for the recall test in make test (tests/unit/test_hnsw_recall.c).
 *
 * What makes such data hard for a graph index, and what the generator
 * therefore has:
 *   - a shared offset: every vector carries the same mean direction, so all
 *     cosines sit in a narrow band above zero (CLIP's "cone");
 *   - cluster centres in a low-dimensional subspace with a decaying
 *     spectrum (global anisotropy);
 *   - uneven clusters: sizes drawn from a log-normal (a few large clusters,
 *     many small ones) and spreads that differ by cluster;
 *   - anisotropic clusters: each spreads along its own random subspace with
 *     decaying variances, plus a little isotropic noise;
 *   - queries drawn from the same distribution (fresh draws, never copies
 *     of base rows).
 * Base rows come out in random cluster order (as an ingest of mixed
 * sources would); `grouped` emits them cluster by cluster instead (as an
 * ingest folder by folder would).
 *
 * Pure C, one thread, deterministic for a given option set on any machine
 * with IEEE floats and the same libm. */
#ifndef BENCH_ANN_CLUSTERED_H
#define BENCH_ANN_CLUSTERED_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    size_t n, nq;      /* base rows, query rows */
    int dim;           /* 8..4096 */
    int clusters;      /* 1..4096; 0 = n / 800, at least 8 */
    int local_rank;    /* directions each cluster spreads along; 0 = 64 */
    double offset;     /* length of the shared mean direction; 0 = 1.0 */
    double spread;     /* typical cluster radius relative to its centre; 0 = 0.6 */
    double noise;      /* isotropic noise relative to the spread; 0 = 0.25 */
    double decay;      /* a cluster's variances fall as (j+1)^-decay; 0 = 0.7 */
    int grouped;       /* 1: base rows cluster by cluster */
    uint64_t seed;
} bench_clustered_opts;

/* Fills base (n x dim) and queries (nq x dim), row-major, each row of unit
 * length. cluster_of (may be NULL) receives the cluster of each base row.
 * Returns 0, or -1 on bad options or out of memory. */
int bench_clustered_make(const bench_clustered_opts *o, float *base, float *queries, int32_t *cluster_of);

#ifdef __cplusplus
}
#endif
#endif
