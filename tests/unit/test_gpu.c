/* The GPU backend against a CPU brute force (index/cuda/gpu.h): identical
 * top-k ids (ties aside) and scores within 1e-4 on 100k x 512 (fp32), with
 * filters, deletes and replacements, on both the scan kernel and the GEMM
 * path, k up to 1024; fp16 storage against the fp16-rounded data; IVF with
 * every list probed equal to exact search; the budget fallback.
 *   ODX_GPU_QUICK=1 (or --quick): 20k x 128.
 * Without a device: one "ok ... # skip" line, "skipped: no GPU", exit 0. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "index/cuda/gpu.h"
#include "omnidex.h"
#include "testlib.h"

static size_t N = 100000;
static int D = 512;

static uint64_t rs = 0x2545F4914F6CDD1Dull;
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

static float *X;      /* N x D, unit norm, clustered (latent + noise) */
static uint64_t *SEQ; /* seq of row i: 3 i + 1 (not the row number) */

static void make_data(void)
{
    const int C = 256;
    float *cent = malloc((size_t)C * D * 4);
    for (size_t i = 0; i < (size_t)C * D; i++) cent[i] = gauss();
    X = malloc(N * D * 4);
    SEQ = malloc(N * 8);
    for (size_t i = 0; i < N; i++) {
        const float *c = cent + (rnd() % C) * D;
        double nn = 0;
        for (int d = 0; d < D; d++) { float v = c[d] + 0.7f * gauss(); X[i * D + d] = v; nn += (double)v * v; }
        for (int d = 0; d < D; d++) X[i * D + d] = (float)(X[i * D + d] / sqrt(nn));
        SEQ[i] = 3 * i + 1;
    }
    free(cent);
}

static double score(const float *q, const float *x, int l2)
{
    double s = 0;
    for (int d = 0; d < D; d++) s += l2 ? ((double)q[d] - x[d]) * ((double)q[d] - x[d]) : (double)q[d] * x[d];
    return s;
}

static float half_round(float v) { return (float)(_Float16)v; }

/* Reference: the k best rows of `data` among rows i with keep(i). */
struct ref {
    double *s;
    size_t *row;
    size_t n;
};

static void reference(const float *data, const float *q, int k, int l2, const unsigned char *keep, struct ref *r)
{
    r->s = malloc((size_t)k * 8);
    r->row = malloc((size_t)k * sizeof(size_t));
    r->n = 0;
    for (size_t i = 0; i < N; i++) {
        if (keep && !keep[i]) continue;
        double s = score(q, data + i * D, l2);
        size_t pos = r->n;
        while (pos > 0 && (l2 ? s < r->s[pos - 1] : s > r->s[pos - 1])) pos--;
        if (pos >= (size_t)k) continue;
        size_t last = r->n < (size_t)k ? r->n : (size_t)k - 1;
        memmove(r->s + pos + 1, r->s + pos, (last - pos) * 8);
        memmove(r->row + pos + 1, r->row + pos, (last - pos) * sizeof(size_t));
        r->s[pos] = s;
        r->row[pos] = i;
        if (r->n < (size_t)k) r->n++;
    }
}

static size_t row_of_seq(uint64_t seq) { return (seq - 1) % 3 == 0 ? (size_t)((seq - 1) / 3) : (size_t)-1; }

/* Compares one query's GPU answer with the reference. tol: relative to
 * max(1, |score|). A GPU id outside the reference's top k is a tie when its
 * true score is within tol of the k-th score. */
static int compare(const float *data, const float *q, int k, int l2, const unsigned char *keep, const float *gd,
                   const uint64_t *gs, double tol, const char *what, struct ref r)
{
    int bad = 0;
    size_t got = 0;
    for (int i = 0; i < k; i++) {
        if (gs[i] == UINT64_MAX) break;
        got++;
        size_t row = row_of_seq(gs[i]);
        if (row >= N || (keep && !keep[row])) { CHECK(0, "%s: hit %d is seq %llu, not a member", what, i, (unsigned long long)gs[i]); bad++; break; }
        double truth = score(q, data + row * D, l2), t = tol * fmax(1.0, fabs(truth));
        if (fabs(gd[i] - truth) > t) { CHECK(0, "%s: hit %d score %.7f, true %.7f", what, i, gd[i], truth); bad++; break; }
        if (i < (int)r.n && fabs(gd[i] - r.s[i]) > t) {
            CHECK(0, "%s: rank %d score %.7f, reference %.7f", what, i, gd[i], r.s[i]);
            bad++;
            break;
        }
        int in_ref = 0;
        for (size_t j = 0; j < r.n && !in_ref; j++) in_ref = r.row[j] == row;
        if (!in_ref && r.n && fabs(truth - r.s[r.n - 1]) > t) {
            CHECK(0, "%s: hit %d (row %zu, %.7f) is not in the top %d (k-th %.7f)", what, i, row, truth, k, r.s[r.n - 1]);
            bad++;
            break;
        }
        for (int j = 0; j < i; j++)
            if (gs[j] == gs[i]) { CHECK(0, "%s: seq reported twice", what); bad++; break; }
    }
    CHECK(got == r.n, "%s: %zu hits, reference %zu", what, got, r.n);
    return bad;
}

static float *queries(size_t nq)
{
    float *q = malloc(nq * D * 4);
    for (size_t i = 0; i < nq; i++) {
        const float *x = X + (rnd() % N) * D;
        double nn = 0;
        for (int d = 0; d < D; d++) { q[i * D + d] = x[d] + 0.3f * gauss(); nn += (double)q[i * D + d] * q[i * D + d]; }
        for (int d = 0; d < D; d++) q[i * D + d] = (float)(q[i * D + d] / sqrt(nn));
    }
    return q;
}

static int check_search(odx_gpu_index *ix, const float *data, size_t nq, int k, int l2, const unsigned char *keep,
                        odx_gpu_path path, int nprobe, double tol, const char *what)
{
    float *q = queries(nq), *gd = malloc(nq * k * 4);
    uint64_t *gs = malloc(nq * k * 8), *member = NULL, nbits = 0;
    if (keep) {
        nbits = 3 * N + 1;
        member = calloc((nbits + 63) / 64, 8);
        for (size_t i = 0; i < N; i++)
            if (keep[i]) member[SEQ[i] / 64] |= 1ull << (SEQ[i] % 64);
    }
    int rc = odx_gpu_search(ix, nq, q, k, nprobe, member, nbits, path, gd, gs);
    CHECK(rc == 0, "%s: search -> %d: %s", what, rc, odx_last_error());
    int bad = rc != 0;
    struct ref *refs = calloc(nq, sizeof *refs);
#pragma omp parallel for schedule(dynamic)
    for (size_t i = 0; i < nq; i++) reference(data, q + i * D, k, l2, keep, &refs[i]);
    for (size_t i = 0; i < nq; i++) {
        char w[160];
        snprintf(w, sizeof w, "%s, query %zu", what, i);
        if (!bad) bad += compare(data, q + i * D, k, l2, keep, gd + i * k, gs + i * k, tol, w, refs[i]);
        free(refs[i].s);
        free(refs[i].row);
    }
    free(refs);
    free(q);
    free(gd);
    free(gs);
    free(member);
    return bad;
}

static odx_gpu_index *make_index(odx_metric m, odx_gpu_storage s, uint32_t nlist)
{
    odx_gpu_options o;
    odx_gpu_options_init(&o);
    o.storage = s;
    o.nlist = nlist;
    odx_gpu_index *ix = NULL;
    int rc = odx_gpu_create(D, m, &o, &ix);
    CHECK(rc == 0, "create -> %d: %s", rc, odx_last_error());
    return ix;
}

static void test_flat_fp32(void)
{
    for (int l2 = 0; l2 < 2; l2++) {
        odx_gpu_index *ix = make_index(l2 ? ODX_METRIC_L2 : ODX_METRIC_COSINE, ODX_GPU_STORAGE_FP32, 0);
        REQUIRE(ix, "no index");
        CHECK_OK(odx_gpu_add(ix, N / 2, X, SEQ)); /* two uploads: incremental growth */
        CHECK_OK(odx_gpu_add(ix, N - N / 2, X + (N / 2) * D, SEQ + N / 2));
        check_search(ix, X, 1, 10, l2, NULL, ODX_GPU_PATH_SCAN, 0, 1e-4, l2 ? "l2 scan nq=1" : "ip scan nq=1");
        check_search(ix, X, 8, 100, l2, NULL, ODX_GPU_PATH_SCAN, 0, 1e-4, "scan nq=8 k=100");
        check_search(ix, X, 64, 10, l2, NULL, ODX_GPU_PATH_GEMM, 0, 1e-4, "gemm nq=64 k=10");
        check_search(ix, X, 16, 1024, l2, NULL, ODX_GPU_PATH_GEMM, 0, 1e-4, "gemm k=1024");
        check_search(ix, X, 3, 1024, l2, NULL, ODX_GPU_PATH_SCAN, 0, 1e-4, "scan k=1024");
        odx_gpu_free(ix);
    }
}

static void test_filters_and_deletes(void)
{
    odx_gpu_index *ix = make_index(ODX_METRIC_IP, ODX_GPU_STORAGE_FP32, 0);
    REQUIRE(ix, "no index");
    REQUIRE_OK(odx_gpu_add(ix, N, X, SEQ));
    unsigned char *keep = malloc(N);
    for (size_t i = 0; i < N; i++) keep[i] = rnd() % 10 == 0; /* a 10% filter */
    check_search(ix, X, 4, 50, 0, keep, ODX_GPU_PATH_SCAN, 0, 1e-4, "filter scan");
    check_search(ix, X, 32, 50, 0, keep, ODX_GPU_PATH_GEMM, 0, 1e-4, "filter gemm");
    for (size_t i = 0; i < N; i++) keep[i] = rnd() % 2000 == 0; /* fewer than k members */
    check_search(ix, X, 2, 100, 0, keep, ODX_GPU_PATH_AUTO, 0, 1e-4, "tiny filter");
    /* delete 5%, then replace 1% with new vectors (the old slots die) */
    uint64_t *del = malloc(N * 8);
    size_t nd = 0;
    for (size_t i = 0; i < N; i++) keep[i] = 1;
    for (size_t i = 0; i < N; i++)
        if (rnd() % 20 == 0) { del[nd++] = SEQ[i]; keep[i] = 0; }
    size_t removed = 0;
    CHECK_OK(odx_gpu_remove(ix, nd, del, &removed));
    CHECK(removed == nd, "removed %zu of %zu", removed, nd);
    CHECK_OK(odx_gpu_remove(ix, nd, del, &removed));
    CHECK(removed == 0, "removed twice");
    size_t nr = 0;
    for (size_t i = 0; i < N && nr < N / 100; i += 97) {
        if (!keep[i]) continue;
        for (int d = 0; d < D; d++) X[i * D + d] = -X[i * D + d]; /* a new vector under the same seq */
        del[nr++] = i;
    }
    for (size_t j = 0; j < nr; j++) CHECK_OK(odx_gpu_add(ix, 1, X + del[j] * D, SEQ + del[j]));
    odx_gpu_stats st;
    odx_gpu_get_stats(ix, &st);
    CHECK(st.live == N - nd, "live %llu, expected %zu", (unsigned long long)st.live, N - nd);
    check_search(ix, X, 4, 100, 0, keep, ODX_GPU_PATH_SCAN, 0, 1e-4, "deletes scan");
    check_search(ix, X, 32, 100, 0, NULL, ODX_GPU_PATH_GEMM, 0, 1e-4, "deletes gemm (no member bitmap)");
    for (size_t j = 0; j < nr; j++)
        for (int d = 0; d < D; d++) X[del[j] * D + d] = -X[del[j] * D + d];
    free(del);
    free(keep);
    odx_gpu_free(ix);
}

static void test_fp16(void)
{
    float *H = malloc(N * D * 4);
    for (size_t i = 0; i < N * D; i++) H[i] = half_round(X[i]);
    for (int l2 = 0; l2 < 2; l2++) {
        odx_gpu_index *ix = make_index(l2 ? ODX_METRIC_L2 : ODX_METRIC_IP, ODX_GPU_STORAGE_FP16, 0);
        REQUIRE(ix, "no index");
        REQUIRE_OK(odx_gpu_add(ix, N, X, SEQ));
        /* the scan kernel keeps fp32 queries: exact against the rounded data */
        check_search(ix, H, 4, 100, l2, NULL, ODX_GPU_PATH_SCAN, 0, 1e-4, "fp16 scan");
        /* GEMM rounds queries to fp16 too: about 2^-11 relative per term */
        check_search(ix, H, 64, 100, l2, NULL, ODX_GPU_PATH_GEMM, 0, 2e-3, "fp16 gemm");
        odx_gpu_free(ix);
    }
    free(H);
}

static void test_ivf(void)
{
    const uint32_t nl = N >= 100000 ? 256 : 64;
    odx_gpu_index *ix = make_index(ODX_METRIC_IP, ODX_GPU_STORAGE_FP32, nl);
    REQUIRE(ix, "no index");
    CHECK(odx_gpu_add(ix, 1, X, SEQ) == ODX_EPRECOND, "add before training");
    REQUIRE_OK(odx_gpu_train(ix, N, X));
    for (size_t i = 0; i < N; i += 10000) {
        size_t n = N - i < 10000 ? N - i : 10000;
        REQUIRE_OK(odx_gpu_add(ix, n, X + i * D, SEQ + i)); /* lists grow and move */
    }
    odx_gpu_stats st;
    odx_gpu_get_stats(ix, &st);
    CHECK(st.live == N && st.nlist == nl && st.max_list > 0, "ivf stats");
    /* every list probed: exactly the flat answer */
    check_search(ix, X, 16, 100, 0, NULL, ODX_GPU_PATH_AUTO, (int)nl, 1e-4, "ivf all lists");
    unsigned char *keep = malloc(N);
    for (size_t i = 0; i < N; i++) keep[i] = rnd() % 5 == 0;
    check_search(ix, X, 3, 10, 0, keep, ODX_GPU_PATH_AUTO, (int)nl, 1e-4, "ivf all lists, filter");
    /* a few lists: recall@10 on clustered data */
    size_t nq = 64, hit = 0;
    float *q = queries(nq), *gd = malloc(nq * 10 * 4);
    uint64_t *gs = malloc(nq * 10 * 8);
    CHECK_OK(odx_gpu_search(ix, nq, q, 10, (int)nl / 8, NULL, 0, ODX_GPU_PATH_AUTO, gd, gs));
    for (size_t i = 0; i < nq; i++) {
        struct ref r;
        reference(X, q + i * D, 10, 0, NULL, &r);
        for (size_t a = 0; a < r.n; a++)
            for (int b = 0; b < 10; b++) hit += row_of_seq(gs[i * 10 + b]) == r.row[a];
        free(r.s);
        free(r.row);
    }
    double recall = (double)hit / (nq * 10);
    printf("# ivf nprobe=%u/%u recall@10 = %.3f\n", nl / 8, nl, recall);
    CHECK(recall >= 0.8, "ivf recall@10 %.3f", recall);
    free(q);
    free(gd);
    free(gs);
    free(keep);
    odx_gpu_free(ix);
}

static void test_budget_fallback(void)
{
    odx_gpu_options o;
    odx_gpu_options_init(&o);
    o.budget_bytes = 8ull << 20; /* 8 MiB: far too small for N x D */
    odx_gpu_index *ix = NULL;
    REQUIRE_OK(odx_gpu_create(D, ODX_METRIC_IP, &o, &ix));
    int rc = odx_gpu_add(ix, N, X, SEQ);
    CHECK(rc == ODX_ELIMIT && odx_gpu_fallback(rc), "over-budget add -> %d", rc);
    float d[10];
    uint64_t s[10];
    rc = odx_gpu_search(ix, 1, X, 10, 0, NULL, 0, ODX_GPU_PATH_AUTO, d, s);
    CHECK(rc == ODX_ELIMIT && odx_gpu_fallback(rc), "search of an incomplete index -> %d", rc);
    CHECK(odx_gpu_search(ix, 1, X, 2000, 0, NULL, 0, ODX_GPU_PATH_AUTO, d, s) == ODX_EINVAL, "k=2000 accepted");
    odx_gpu_stats st;
    odx_gpu_get_stats(ix, &st);
    CHECK(st.device_bytes <= o.budget_bytes && st.incomplete, "held %llu of %llu", (unsigned long long)st.device_bytes,
          (unsigned long long)o.budget_bytes);
    CHECK_OK(odx_gpu_reset(ix));
    CHECK_OK(odx_gpu_add(ix, 100, X, SEQ));
    CHECK_OK(odx_gpu_search(ix, 1, X, 10, 0, NULL, 0, ODX_GPU_PATH_AUTO, d, s));
    CHECK(s[0] == SEQ[0], "self is the nearest (got %llu)", (unsigned long long)s[0]);
    odx_gpu_free(ix);
}

int main(int argc, char **argv)
{
    const char *quick = getenv("ODX_GPU_QUICK");
    if ((quick && *quick && strcmp(quick, "0")) || (argc > 1 && !strcmp(argv[1], "--quick"))) {
        N = 20000;
        D = 128;
    }
    int ndev = 0;
    if (odx_gpu_available(0, &ndev)) {
        printf("ok - gpu tests # skip: no GPU (%s)\n", odx_last_error());
        printf("skipped: no GPU\n");
        fprintf(stderr, "test_gpu: skipped: no GPU (%s)\n", odx_last_error());
        return 0;
    }
    char desc[256];
    odx_gpu_describe(0, desc, sizeof desc);
    printf("# %s; %zu x %d\n", desc, N, D);
    make_data();
    RUN(test_flat_fp32);
    RUN(test_filters_and_deletes);
    RUN(test_fp16);
    RUN(test_ivf);
    RUN(test_budget_fallback);
    free(X);
    free(SEQ);
    TEST_EXIT();
}
