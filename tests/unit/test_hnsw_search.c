/* omnidex's own HNSW search loop (index/hnsw_search.cpp) against exact
 * search computed here and against FAISS's own search on the same graph
 * (odx_faiss_hnsw_own(0) switches to it): recall@10 at several efSearch for
 * cosine and L2, filters, short result lists, k up to 1024, and the
 * distances it reports. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <faiss/c_api/index_factory_c.h>

#include "index/faiss_ext.h"
#include "index/index.h"
#include "omnidex.h"
#include "testdata.h"
#include "testlib.h"

static char tmpdir[256];

/* Score of x against q in the metric's own terms (float64). */
static double score(int l2, const float *q, const float *x, int dim)
{
    double s = 0;
    for (int j = 0; j < dim; j++) s += l2 ? ((double)q[j] - x[j]) * ((double)q[j] - x[j]) : (double)q[j] * x[j];
    return s;
}

/* Exact top-k over rows with keep[i] != 0 (keep may be NULL). */
static void brute_topk(int l2, const float *x, size_t n, int dim, const float *q, const char *keep, int k, long *out)
{
    double *best = malloc(k * sizeof *best);
    for (int i = 0; i < k; i++) { best[i] = l2 ? 1e300 : -1e300; out[i] = -1; }
    for (size_t i = 0; i < n; i++) {
        if (keep && !keep[i]) continue;
        double s = score(l2, q, x + i * dim, dim);
        if (l2 ? s >= best[k - 1] : s <= best[k - 1]) continue;
        int p = k - 1;
        while (p > 0 && (l2 ? best[p - 1] > s : best[p - 1] < s)) { best[p] = best[p - 1]; out[p] = out[p - 1]; p--; }
        best[p] = s;
        out[p] = (long)i;
    }
    free(best);
}

static void fresh_dir(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmpdir, name);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", buf);
    if (system(cmd)) {}
}

static int put_range(odx_db *db, const char *coll, const float *x, size_t n, int dim)
{
    odx_batch *b;
    odx_batch_new(&b);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        char id[32];
        snprintf(id, sizeof id, "%zu", i);
        odx_meta *m = NULL;
        odx_meta_new(&m);
        odx_meta_set_string(m, "half", i % 2 ? "odd" : "even", i % 2 ? 3 : 4);
        rc = odx_batch_add(b, id, x + i * dim, dim, m, ODX_MODALITY_VECTOR, NULL);
        odx_meta_free(m);
        if (!rc && (odx_batch_size(b) == 1000 || i + 1 == n)) {
            rc = odx_upsert(db, coll, b);
            odx_batch_clear(b);
        }
    }
    odx_batch_free(b);
    return rc;
}

/* recall@k of odx_search against truth (nq x k ids, -1 = none); also checks
 * that every hit passes keep and that scores are sorted best first. */
static double recall(odx_db *db, const char *coll, int l2, const float *qs, size_t nq, int dim, int k, int ef,
                     const char *filter, const char *keep, const long *truth)
{
    odx_search_params *p;
    odx_search_params_new(&p);
    odx_search_params_set_k(p, k);
    odx_search_params_set_ef_search(p, ef);
    odx_filter *f = NULL;
    if (filter && odx_filter_parse(filter, &f)) { printf("# filter: %s\n", odx_last_error()); return -1; }
    odx_search_params_set_filter(p, f);
    odx_results *r;
    if (odx_search(db, coll, qs, nq, dim, p, &r)) { printf("# search: %s\n", odx_last_error()); return -1; }
    size_t hit = 0, tot = 0, bad = 0, unsorted = 0;
    for (size_t q = 0; q < nq; q++) {
        size_t cnt = odx_results_count(r, q);
        for (size_t j = 0; j < cnt; j++) {
            long id = strtol(odx_results_id(r, q, j), NULL, 10);
            if (keep && !keep[id]) bad++;
            if (j && (l2 ? odx_results_score(r, q, j) < odx_results_score(r, q, j - 1)
                         : odx_results_score(r, q, j) > odx_results_score(r, q, j - 1)))
                unsorted++;
        }
        for (int i = 0; i < k; i++) {
            long t = truth[q * k + i];
            if (t < 0) continue;
            tot++;
            char id[32];
            snprintf(id, sizeof id, "%ld", t);
            for (size_t j = 0; j < cnt; j++)
                if (!strcmp(odx_results_id(r, q, j), id)) { hit++; break; }
        }
    }
    CHECK(bad == 0, "%zu hits fail the filter", bad);
    CHECK(unsorted == 0, "%zu hits out of order", unsorted);
    odx_results_free(r);
    odx_filter_free(f);
    odx_search_params_free(p);
    return tot ? (double)hit / tot : 0;
}

static long *truth_for(int l2, const float *x, size_t n, int dim, const float *qs, size_t nq, const char *keep, int k)
{
    long *t = malloc(nq * k * sizeof *t);
    for (size_t q = 0; q < nq; q++) brute_topk(l2, x, n, dim, qs + q * dim, keep, k, t + q * k);
    return t;
}

/* Recall@10 of omnidex's loop and of FAISS's at each efSearch on one
 * collection: rises with ef, reaches 0.99 at 256, within 0.01 of FAISS. */
static void sweep(odx_db *db, const char *coll, int l2, const float *qs, size_t nq, int dim, const long *truth)
{
    static const int efs[] = {10, 16, 32, 64, 128, 256};
    const int ne = sizeof efs / sizeof efs[0];
    double own[6], fs[6];
    for (int i = 0; i < ne; i++) {
        odx_faiss_hnsw_own(1);
        own[i] = recall(db, coll, l2, qs, nq, dim, 10, efs[i], NULL, NULL, truth);
        odx_faiss_hnsw_own(0);
        fs[i] = recall(db, coll, l2, qs, nq, dim, 10, efs[i], NULL, NULL, truth);
        odx_faiss_hnsw_own(1);
        printf("# %s ef %3d: recall@10 omnidex %.4f, FAISS %.4f\n", coll, efs[i], own[i], fs[i]);
        /* Not worse than FAISS. It may be better at small ef: FAISS 1.7.3's
         * MinimaxHeap::push decrements its count of unexpanded entries even
         * when the entry it evicts was already expanded, so once its queue
         * is full it can stop with candidates left. */
        CHECK(own[i] >= fs[i] - 0.01, "%s ef %d: omnidex %.4f vs FAISS %.4f", coll, efs[i], own[i], fs[i]);
        if (efs[i] >= 64) CHECK(fabs(own[i] - fs[i]) <= 0.01, "%s ef %d: omnidex %.4f vs FAISS %.4f", coll, efs[i], own[i], fs[i]);
        if (i) CHECK(own[i] >= own[i - 1] - 0.003, "%s: recall falls from ef %d to %d", coll, efs[i - 1], efs[i]);
    }
    CHECK(own[ne - 1] >= own[0] + 0.02, "%s: recall does not rise with ef (%.4f -> %.4f)", coll, own[0], own[ne - 1]);
    CHECK(own[ne - 1] >= 0.99, "%s: recall@10 at ef 256 = %.4f", coll, own[ne - 1]);
}

static const size_t N = 20000, NQ = 200;
static const int DIM = 64;

static void test_cosine_and_filters(void)
{
    char dir[512];
    fresh_dir(dir, sizeof dir, "cos");
    float *x = make_data(N + NQ, DIM, 48, 4242);
    const float *qs = x + N * DIM;
    odx_db *db;
    REQUIRE_OK(odx_db_open(dir, ODX_OPEN_CREATE, &db));
    REQUIRE_OK(odx_collection_create(db, "cos", DIM, ODX_METRIC_COSINE, "HNSW16,Flat", NULL));
    REQUIRE_OK(put_range(db, "cos", x, N, DIM));
    long *truth = truth_for(0, x, N, DIM, qs, NQ, NULL, 10);
    sweep(db, "cos", 0, qs, NQ, DIM, truth);
    free(truth);

    /* 50% filter: answered by the graph with the selector; non-members are
     * walked through but never returned. */
    char *keep = malloc(N);
    for (size_t i = 0; i < N; i++) keep[i] = i % 2 == 1;
    truth = truth_for(0, x, N, DIM, qs, NQ, keep, 10);
    double own = recall(db, "cos", 0, qs, NQ, DIM, 10, 64, "half = \"odd\"", keep, truth);
    odx_faiss_hnsw_own(0);
    double fs = recall(db, "cos", 0, qs, NQ, DIM, 10, 64, "half = \"odd\"", keep, truth);
    odx_faiss_hnsw_own(1);
    printf("# 50%% filter, ef 64: recall@10 omnidex %.4f, FAISS %.4f\n", own, fs);
    CHECK(own >= 0.95 && fabs(own - fs) <= 0.01, "filtered recall %.4f vs FAISS %.4f", own, fs);
    free(truth);

    /* k = 1024 through the public API (efSearch defaults below k). */
    truth = truth_for(0, x, N, DIM, qs, 20, NULL, 1024);
    own = recall(db, "cos", 0, qs, 20, DIM, 1024, 0, NULL, NULL, truth);
    odx_faiss_hnsw_own(0);
    fs = recall(db, "cos", 0, qs, 20, DIM, 1024, 0, NULL, NULL, truth);
    odx_faiss_hnsw_own(1);
    printf("# k 1024: recall@1024 omnidex %.4f, FAISS %.4f\n", own, fs);
    CHECK(own >= 0.95 && fabs(own - fs) <= 0.01, "recall@1024 %.4f vs FAISS %.4f", own, fs);
    free(truth);
    free(keep);
    free(x);
    odx_db_close(db);
}

static void test_l2(void)
{
    char dir[512];
    fresh_dir(dir, sizeof dir, "l2");
    float *x = make_data(N + NQ, DIM, 16, 777);
    /* Uneven norms and an offset, so that L2 order differs from IP order. */
    for (size_t i = 0; i < N + NQ; i++)
        for (int j = 0; j < DIM; j++) x[i * DIM + j] = x[i * DIM + j] * (float)(1 + (i % 7) * 0.25) + 0.5f;
    const float *qs = x + N * DIM;
    odx_db *db;
    REQUIRE_OK(odx_db_open(dir, ODX_OPEN_CREATE, &db));
    REQUIRE_OK(odx_collection_create(db, "l2", DIM, ODX_METRIC_L2, "HNSW16,Flat", NULL));
    REQUIRE_OK(put_range(db, "l2", x, N, DIM));
    long *truth = truth_for(1, x, N, DIM, qs, NQ, NULL, 10);
    sweep(db, "l2", 1, qs, NQ, DIM, truth);
    free(truth);
    free(x);
    odx_db_close(db);
}

static int seq_member(void *ctx, uint64_t seq) { return seq % *(const uint64_t *)ctx == 0; }

/* Through the index module (below the query layer, which would answer
 * small member sets exactly): distances as FAISS reports them, selectors
 * that leave fewer than k members, k above ntotal, and equality with
 * FAISS's loop on the same graph. */
static void test_index_level(void)
{
    const size_t n = 3000, nq = 20;
    const int dim = 32;
    for (int l2 = 0; l2 <= 1; l2++) {
        float *x = make_data(n + nq, dim, 8, 99 + l2);
        const float *qs = x + n * dim;
        odx_index *ix;
        REQUIRE_OK(odx_index_create("HNSW16,Flat", dim, l2 ? ODX_METRIC_L2 : ODX_METRIC_IP, &ix));
        uint64_t *seqs = malloc(n * sizeof *seqs);
        for (size_t i = 0; i < n; i++) seqs[i] = i;
        REQUIRE_OK(odx_index_add(ix, n, x, seqs));
        free(seqs);
        const int k = 1024;
        float *d = malloc(nq * k * sizeof *d), *df = malloc(nq * k * sizeof *df);
        uint64_t *s = malloc(nq * k * sizeof *s), *sf = malloc(nq * k * sizeof *sf);

        /* Distances are the metric's own (IP or squared L2), best first,
         * and agree with FAISS's loop at ef 256 (identical top 10). */
        REQUIRE_OK(odx_index_search(ix, nq, qs, 10, 256, 0, NULL, NULL, d, s));
        odx_faiss_hnsw_own(0);
        REQUIRE_OK(odx_index_search(ix, nq, qs, 10, 256, 0, NULL, NULL, df, sf));
        odx_faiss_hnsw_own(1);
        size_t same = 0, bad_d = 0;
        for (size_t i = 0; i < nq * 10; i++) {
            same += s[i] == sf[i];
            double want = score(l2, qs + (i / 10) * dim, x + s[i] * dim, dim);
            if (fabs(d[i] - want) > 1e-4 * (1 + fabs(want))) bad_d++;
            if (i % 10) CHECK(l2 ? d[i] >= d[i - 1] : d[i] <= d[i - 1], "not best first at %zu", i);
        }
        CHECK(bad_d == 0, "%s: %zu distances differ from the exact ones", l2 ? "L2" : "IP", bad_d);
        CHECK(same >= nq * 10 - 2, "%s: %zu of %zu labels equal FAISS's", l2 ? "L2" : "IP", same, nq * 10);

        /* Selector keeping 1 in 100 (30 members) with k 50: only members,
         * fewer than k, the rest marked empty. */
        uint64_t mod = 100;
        REQUIRE_OK(odx_index_search(ix, nq, qs, 50, 64, 0, seq_member, &mod, d, s));
        odx_faiss_hnsw_own(0);
        REQUIRE_OK(odx_index_search(ix, nq, qs, 50, 64, 0, seq_member, &mod, df, sf));
        odx_faiss_hnsw_own(1);
        size_t nonmember = 0, short_tail = 0, max_got = 0, total = 0, total_f = 0;
        for (size_t q = 0; q < nq; q++) {
            size_t got = 0;
            while (got < 50 && s[q * 50 + got] != UINT64_MAX) got++;
            for (size_t j = 0; j < got; j++) nonmember += s[q * 50 + j] % mod != 0;
            for (size_t j = got; j < 50; j++) short_tail += s[q * 50 + j] != UINT64_MAX;
            if (got > max_got) max_got = got;
            total += got;
            for (size_t j = 0; j < 50; j++) total_f += sf[q * 50 + j] != UINT64_MAX;
        }
        printf("# %s, 30 members of 3000, k 50, ef 64: %zu hits (FAISS %zu) over %zu queries\n", l2 ? "L2" : "IP",
               total, total_f, nq);
        CHECK(nonmember == 0, "%zu non-members returned", nonmember);
        CHECK(short_tail == 0, "hits after the first empty slot");
        CHECK(max_got <= 30 && max_got >= 1, "%zu hits from 30 members", max_got);
        CHECK(total >= total_f, "fewer members found (%zu) than FAISS (%zu)", total, total_f);

        /* k 1024 on an index of 500: every vector once, then -1. */
        odx_index *small;
        REQUIRE_OK(odx_index_create("HNSW16,Flat", dim, l2 ? ODX_METRIC_L2 : ODX_METRIC_IP, &small));
        uint64_t sq[500];
        for (int i = 0; i < 500; i++) sq[i] = (uint64_t)i;
        REQUIRE_OK(odx_index_add(small, 500, x, sq));
        REQUIRE_OK(odx_index_search(small, 2, qs, k, 0, 0, NULL, NULL, d, s));
        for (size_t q = 0; q < 2; q++) {
            char seen[500] = {0};
            size_t got = 0, dup = 0;
            while (got < (size_t)k && s[q * k + got] != UINT64_MAX) {
                dup += seen[s[q * k + got]]++;
                got++;
            }
            CHECK(got == 500 && dup == 0, "k 1024 over 500 vectors: %zu hits, %zu repeated", got, dup);
            size_t tail = 0;
            for (size_t j = got; j < (size_t)k; j++) tail += s[q * k + j] != UINT64_MAX;
            CHECK(tail == 0, "hits after the tail began");
        }
        odx_index_free(small);
        free(d);
        free(df);
        free(s);
        free(sf);
        odx_index_free(ix);
        free(x);
    }
}

/* The raw extern "C" entry on an index made with FAISS's C API: -1 labels
 * and FAISS's sentinel distances past the hits, for both loops alike, and
 * the single member found. */
static int member_only_7(void *ctx, idx_t id) { return id == 7; }
static void test_sentinels(void)
{
    const int dim = 16;
    const size_t n = 1000;
    float *x = make_data(n + 1, dim, 4, 5);
    for (int l2 = 0; l2 <= 1; l2++) {
        FaissIndex *fx = NULL;
        REQUIRE(faiss_index_factory(&fx, dim, "HNSW8,Flat", l2 ? METRIC_L2 : METRIC_INNER_PRODUCT) == 0, "factory");
        REQUIRE(faiss_Index_add(fx, (idx_t)n, x) == 0, "add");
        float d[2][5];
        idx_t lab[2][5];
        for (int own = 1; own >= 0; own--) {
            odx_faiss_hnsw_own(own);
            CHECK(odx_faiss_search(fx, 1, x + n * dim, 5, 1000, 0, member_only_7, NULL, d[own], lab[own]) == 0,
                  "search");
        }
        odx_faiss_hnsw_own(1);
        CHECK(lab[1][0] == 7, "first label %lld, expected 7", (long long)lab[1][0]);
        double want = score(l2, x + n * dim, x + 7 * dim, dim);
        CHECK(fabs(d[1][0] - want) < 1e-4, "distance %g, expected %g", d[1][0], want);
        for (int j = 0; j < 5; j++) {
            CHECK(lab[1][j] == lab[0][j], "label %d: %lld vs FAISS %lld", j, (long long)lab[1][j], (long long)lab[0][j]);
            CHECK(j == 0 || d[1][j] == d[0][j], "sentinel %d: %g vs FAISS %g", j, d[1][j], d[0][j]);
        }
        faiss_Index_free(fx);
    }
    free(x);
}

static void test_env_switch(void)
{
    const char *e = getenv("ODX_HNSW_FAISS");
    CHECK(odx_faiss_hnsw_own(-1) == ((e && e[0] == '1') ? 0 : 1), "ODX_HNSW_FAISS not honoured");
    odx_faiss_hnsw_own(1);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/odx-hnsw-test-%d", (int)getpid());
    char cmd[300];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", tmpdir);
    if (system(cmd)) {}
    RUN(test_env_switch);
    RUN(test_index_level);
    RUN(test_sentinels);
    RUN(test_cosine_and_filters);
    RUN(test_l2);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd)) {}
    TEST_EXIT();
}
