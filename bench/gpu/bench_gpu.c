/* GPU backend benchmark (bench/gpu/run.sh runs it): QPS against the query
 * batch size for flat search over N x D vectors stored fp32 and fp16, the
 * fraction of the HBM bandwidth single queries reach, and CPU FAISS Flat
 * (the project's AVX2 build, through its C API) in the same run. Markdown
 * on stdout. Each measurement runs for about --secs seconds.
 *   bench_gpu [--n 1000000] [--dim 512] [--k 10] [--secs 1.5] [--hbm-gbs 4800]
 *             [--cpu-secs 20] */
#include <faiss/c_api/IndexFlat_c.h>
#include <faiss/c_api/Index_c.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "index/cuda/gpu.h"
#include "omnidex.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rs = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}
static float gauss(void)
{
    double u = ((rnd() >> 11) + 0.5) / 9007199254740992.0, v = ((rnd() >> 11) + 0.5) / 9007199254740992.0;
    return (float)(sqrt(-2 * log(u)) * cos(6.283185307179586 * v));
}

/* Structured data: 1024 clusters + noise, unit norm (FACTS.md: never i.i.d.). */
static float *make(size_t n, int d, const float *cent, int nc)
{
    float *x = malloc(n * d * sizeof *x);
    if (!x) { fprintf(stderr, "out of memory\n"); exit(1); }
    for (size_t i = 0; i < n; i++) {
        const float *c = cent + (rnd() % nc) * d;
        double nn = 0;
        for (int j = 0; j < d; j++) { float v = c[j] + 0.7f * gauss(); x[i * d + j] = v; nn += (double)v * v; }
        for (int j = 0; j < d; j++) x[i * d + j] = (float)(x[i * d + j] / sqrt(nn));
    }
    return x;
}

int main(int argc, char **argv)
{
    size_t n = 1000000, nqmax = 4096;
    int d = 512, k = 10;
    double secs = 1.5, hbm = 4800, cpu_secs = 20;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--n")) n = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--dim")) d = (int)strtol(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--k")) k = (int)strtol(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--secs")) secs = strtod(argv[i + 1], NULL);
        else if (!strcmp(argv[i], "--hbm-gbs")) hbm = strtod(argv[i + 1], NULL);
        else if (!strcmp(argv[i], "--cpu-secs")) cpu_secs = strtod(argv[i + 1], NULL);
        else { fprintf(stderr, "unknown option %s\n", argv[i]); return 2; }
    }
    char desc[256];
    if (odx_gpu_available(0, NULL)) {
        printf("skipped: no GPU (%s)\n", odx_last_error());
        return 0;
    }
    odx_gpu_describe(0, desc, sizeof desc);
    int nc = 1024;
    float *cent = malloc((size_t)nc * d * sizeof *cent);
    for (size_t i = 0; i < (size_t)nc * d; i++) cent[i] = gauss();
    double t0 = now();
    float *x = make(n, d, cent, nc), *q = make(nqmax, d, cent, nc);
    uint64_t *seqs = malloc(n * sizeof *seqs);
    for (size_t i = 0; i < n; i++) seqs[i] = i;
    float *dist = malloc(nqmax * k * sizeof *dist);
    uint64_t *out = malloc(nqmax * k * sizeof *out);
    fprintf(stderr, "data: %.1f s\n", now() - t0);

    printf("## GPU flat search, %zu x %d, k=%d (%s)\n\n", n, d, k, desc);
    printf("Structured synthetic data (1024 clusters + noise, unit norm), inner product. One run of bench/gpu/run.sh.\n\n");
    double single_qps[2] = {0, 0}, best_qps[2] = {0, 0};
    for (int half = 0; half < 2; half++) {
        odx_gpu_options o;
        odx_gpu_options_init(&o);
        o.storage = half ? ODX_GPU_STORAGE_FP16 : ODX_GPU_STORAGE_FP32;
        o.reserve = n;
        o.scratch_bytes = 2ull << 30;
        odx_gpu_index *ix;
        if (odx_gpu_create(d, ODX_METRIC_IP, &o, &ix) || (t0 = now(), odx_gpu_add(ix, n, x, seqs))) {
            printf("create/add failed: %s\n", odx_last_error());
            return 1;
        }
        double up = now() - t0;
        printf("### %s storage (upload of %zu vectors: %.2f s)\n\n", half ? "fp16" : "fp32", n, up);
        printf("| batch | path | QPS | ms / batch | GB/s streamed |\n|---:|---|---:|---:|---:|\n");
        for (size_t b = 1; b <= nqmax; b *= 2) {
            for (int path = 1; path <= 2; path++) {
                if (path == ODX_GPU_PATH_SCAN && b > 8) continue;
                if (path == ODX_GPU_PATH_GEMM && b < 8) continue;
                if (odx_gpu_search(ix, b, q, k, 0, NULL, 0, (odx_gpu_path)path, dist, out)) { /* warm-up */
                    printf("| %zu | %s | failed: %s | | |\n", b, path == 1 ? "scan" : "gemm", odx_last_error());
                    continue;
                }
                size_t iters = 0;
                t0 = now();
                double t;
                do {
                    odx_gpu_search(ix, b, q, k, 0, NULL, 0, (odx_gpu_path)path, dist, out);
                    iters++;
                } while ((t = now() - t0) < secs);
                double per = t / iters, qps = b / per;
                double gbs = (double)n * d * (half ? 2 : 4) / per / 1e9;
                printf("| %zu | %s | %.0f | %.3f | %.0f |\n", b, path == 1 ? "scan" : "gemm", qps, per * 1e3, gbs);
                if (b == 1) single_qps[half] = qps;
                if (qps > best_qps[half]) best_qps[half] = qps;
                fflush(stdout);
            }
        }
        double per1 = 1.0 / single_qps[half], gbs1 = (double)n * d * (half ? 2 : 4) / per1 / 1e9;
        printf("\nSingle query: %.3f ms, %.0f GB/s = %.1f%% of %.0f GB/s HBM.\n\n", per1 * 1e3, gbs1, 100 * gbs1 / hbm, hbm);
        odx_gpu_free(ix);
    }

    /* CPU FAISS Flat, the same data and queries, for as long as cpu_secs allows. */
    FaissIndexFlatIP *cpu;
    if (faiss_IndexFlatIP_new_with(&cpu, d) || faiss_Index_add((FaissIndex *)cpu, (idx_t)n, x)) {
        printf("FAISS failed\n");
        return 1;
    }
    idx_t *lab = malloc(nqmax * k * sizeof *lab);
    printf("### CPU FAISS Flat (AVX2 build, C API), same run\n\n| batch | QPS |\n|---:|---:|\n");
    double cpu_qps[2] = {0, 0};
    size_t batches[2] = {1, 256};
    for (int i = 0; i < 2; i++) {
        size_t b = batches[i], iters = 0;
        t0 = now();
        double t;
        do {
            faiss_Index_search((FaissIndex *)cpu, (idx_t)b, q, k, dist, lab);
            iters++;
        } while ((t = now() - t0) < cpu_secs / 2);
        cpu_qps[i] = b * iters / t;
        printf("| %zu | %.1f |\n", b, cpu_qps[i]);
    }
    printf("\n| ratio GPU / CPU FAISS | fp32 | fp16 |\n|---|---:|---:|\n");
    printf("| single query | %.1fx | %.1fx |\n", single_qps[0] / cpu_qps[0], single_qps[1] / cpu_qps[0]);
    printf("| best batch vs CPU batch 256 | %.1fx | %.1fx |\n", best_qps[0] / cpu_qps[1], best_qps[1] / cpu_qps[1]);
    faiss_Index_free((FaissIndex *)cpu);
    free(lab);
    free(x);
    free(q);
    free(cent);
    free(seqs);
    free(dist);
    free(out);
    return 0;
}
