/* Unit tests of the engine through the public API (omnidex.h): CRUD
 * semantics, errors, reopen, recall against brute force computed here,
 * filters, checkpoints and their recovery, storage density, IVF training,
 * compaction, concurrency and map growth. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "omnidex.h"
#include "testdata.h"
#include "testlib.h"

static char tmpdir[256];

static void fresh_dir(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmpdir, name);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", buf);
    if (system(cmd)) {}
}

/* Brute-force top-k by inner product over the rows where keep[i] != 0. */
static void brute_topk(const float *x, size_t n, int dim, const float *q, const char *keep, int k, long *out)
{
    double *best = malloc(k * sizeof *best);
    for (int i = 0; i < k; i++) { best[i] = -1e30; out[i] = -1; }
    for (size_t i = 0; i < n; i++) {
        if (keep && !keep[i]) continue;
        double s = 0;
        for (int j = 0; j < dim; j++) s += (double)q[j] * x[i * dim + j];
        if (s <= best[k - 1]) continue;
        int p = k - 1;
        while (p > 0 && best[p - 1] < s) { best[p] = best[p - 1]; out[p] = out[p - 1]; p--; }
        best[p] = s;
        out[p] = (long)i;
    }
    free(best);
}

static int put_range(odx_db *db, const char *coll, const float *x, size_t from, size_t to, int dim, int with_meta)
{
    odx_batch *b;
    odx_batch_new(&b);
    int rc = 0;
    for (size_t i = from; i < to && !rc; i++) {
        char id[32];
        snprintf(id, sizeof id, "%zu", i);
        odx_meta *m = NULL;
        if (with_meta) {
            odx_meta_new(&m);
            odx_meta_set_int(m, "bucket", (int64_t)(i % 100));
            odx_meta_set_float(m, "price", (double)(i % 1000) / 10.0);
            odx_meta_set_string(m, "half", i % 2 ? "odd" : "even", i % 2 ? 3 : 4);
        }
        rc = odx_batch_add(b, id, x + i * dim, dim, m, ODX_MODALITY_VECTOR, NULL);
        odx_meta_free(m);
        if (!rc && (odx_batch_size(b) == 1000 || i + 1 == to)) {
            rc = odx_upsert(db, coll, b);
            odx_batch_clear(b);
        }
    }
    odx_batch_free(b);
    return rc;
}

static void test_crud(void)
{
    char dir[512];
    fresh_dir(dir, sizeof dir, "crud");
    odx_db *db;
    REQUIRE_OK(odx_db_open(dir, ODX_OPEN_CREATE, &db));
    REQUIRE_OK(odx_collection_create(db, "c", 4, ODX_METRIC_L2, "Flat", NULL));
    odx_batch *b;
    odx_batch_new(&b);
    float v[3][4] = {{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}};
    const char *ids[3] = {"alpha", "beta", "gamma"};
    for (int i = 0; i < 3; i++) {
        odx_meta *m;
        odx_meta_new(&m);
        odx_meta_set_int(m, "n", i);
        CHECK_OK(odx_batch_add(b, ids[i], v[i], 4, m, ODX_MODALITY_IMAGE, "file:///x.png"));
        odx_meta_free(m);
    }
    REQUIRE_OK(odx_upsert(db, "c", b));
    odx_batch_clear(b);
    odx_record *r;
    REQUIRE_OK(odx_get(db, "c", "beta", &r));
    int dim;
    const float *rv = odx_record_vector(r, &dim);
    CHECK(dim == 4 && rv[1] == 1.0f && rv[0] == 0.0f, "vector of beta wrong");
    CHECK(odx_record_modality(r) == ODX_MODALITY_IMAGE, "modality %d", odx_record_modality(r));
    CHECK(!strcmp(odx_record_source(r), "file:///x.png"), "source '%s'", odx_record_source(r));
    const odx_meta *m = odx_record_meta(r);
    long at = odx_meta_find(m, "n");
    CHECK(at >= 0 && odx_meta_int(m, (size_t)at) == 1, "meta n");
    int64_t created = odx_record_created(r);
    odx_record_free(r);
    /* Replace beta: new vector, new metadata, created kept. */
    float nv[4] = {0, 0, 0, 1};
    odx_meta *m2;
    odx_meta_new(&m2);
    odx_meta_set_string(m2, "tag", "new", 3);
    CHECK_OK(odx_batch_add(b, "beta", nv, 4, m2, ODX_MODALITY_VECTOR, NULL));
    odx_meta_free(m2);
    REQUIRE_OK(odx_upsert(db, "c", b));
    REQUIRE_OK(odx_get(db, "c", "beta", &r));
    CHECK(odx_record_vector(r, NULL)[3] == 1.0f, "beta not replaced");
    CHECK(odx_meta_find(odx_record_meta(r), "n") < 0, "old metadata kept");
    CHECK(odx_record_created(r) == created, "created changed");
    odx_record_free(r);
    odx_search_params *p;
    odx_search_params_new(&p);
    odx_search_params_set_k(p, 10);
    odx_results *res;
    float q[4] = {0, 1, 0, 0};
    REQUIRE_OK(odx_search(db, "c", q, 1, 4, p, &res));
    CHECK(odx_results_count(res, 0) == 3, "hits %zu (old beta must be gone)", odx_results_count(res, 0));
    for (size_t i = 0; i < odx_results_count(res, 0); i++)
        CHECK(!(strcmp(odx_results_id(res, 0, i), "beta") == 0 && odx_results_score(res, 0, i) < 1.5f),
              "old beta vector still searchable");
    odx_results_free(res);
    /* The metadata of the old beta must not match filters any more. */
    odx_filter *f;
    REQUIRE_OK(odx_filter_parse("n = 1", &f));
    odx_search_params_set_filter(p, f);
    REQUIRE_OK(odx_search(db, "c", q, 1, 4, p, &res));
    CHECK(odx_results_count(res, 0) == 0, "stale field index entry matched");
    odx_results_free(res);
    odx_filter_free(f);
    odx_search_params_set_filter(p, NULL);
    /* Delete. */
    const char *del[2] = {"alpha", "nope"};
    size_t nd;
    REQUIRE_OK(odx_delete(db, "c", del, 2, &nd));
    CHECK(nd == 1, "deleted %zu", nd);
    CHECK(odx_get(db, "c", "alpha", &r) == ODX_ENOTFOUND, "deleted item still there");
    REQUIRE_OK(odx_search(db, "c", q, 1, 4, p, &res));
    CHECK(odx_results_count(res, 0) == 2, "hits after delete %zu", odx_results_count(res, 0));
    for (size_t i = 0; i < odx_results_count(res, 0); i++)
        CHECK(strcmp(odx_results_id(res, 0, i), "alpha"), "deleted item returned");
    odx_results_free(res);
    odx_collection_info *info;
    REQUIRE_OK(odx_collection_describe(db, "c", &info));
    CHECK(odx_info_count(info) == 2, "count %llu", (unsigned long long)odx_info_count(info));
    odx_collection_info_free(info);
    odx_search_params_free(p);
    odx_batch_free(b);
    odx_db_close(db);
    /* Reopen: the same state. */
    REQUIRE_OK(odx_db_open(dir, 0, &db));
    REQUIRE_OK(odx_get(db, "c", "beta", &r));
    CHECK(odx_record_vector(r, NULL)[3] == 1.0f, "beta lost on reopen");
    odx_record_free(r);
    CHECK(odx_get(db, "c", "alpha", &r) == ODX_ENOTFOUND, "delete lost on reopen");
    char **names;
    size_t nn;
    REQUIRE_OK(odx_collection_list(db, &names, &nn));
    CHECK(nn == 1 && !strcmp(names[0], "c"), "list");
    odx_free(names);
    /* One id twice in a batch: the last wins, the first is not searchable;
     * beta, gamma and dup remain. */
    odx_batch_new(&b);
    float d1[4] = {0, 0, 1, 1}, d2[4] = {1, 1, 0, 0};
    CHECK_OK(odx_batch_add(b, "dup", d1, 4, NULL, 0, NULL));
    CHECK_OK(odx_batch_add(b, "dup", d2, 4, NULL, 0, NULL));
    CHECK_OK(odx_upsert(db, "c", b));
    odx_batch_free(b);
    odx_search_params_new(&p);
    odx_search_params_set_k(p, 10);
    REQUIRE_OK(odx_search(db, "c", d1, 1, 4, p, &res));
    size_t ndup = 0;
    for (size_t i = 0; i < odx_results_count(res, 0); i++) ndup += !strcmp(odx_results_id(res, 0, i), "dup");
    CHECK(ndup == 1, "id 'dup' returned %zu times", ndup);
    odx_results_free(res);
    odx_search_params_free(p);
    REQUIRE_OK(odx_get(db, "c", "dup", &r));
    CHECK(odx_record_vector(r, NULL)[0] == 1.0f, "the last occurrence in a batch must win");
    odx_record_free(r);
    REQUIRE_OK(odx_collection_describe(db, "c", &info));
    CHECK(odx_info_count(info) == 3, "count after duplicate batch %llu", (unsigned long long)odx_info_count(info));
    odx_collection_info_free(info);
    REQUIRE_OK(odx_collection_drop(db, "c"));
    CHECK(odx_get(db, "c", "beta", &r) == ODX_ENOTFOUND, "dropped collection readable");
    REQUIRE_OK(odx_collection_create(db, "c", 8, ODX_METRIC_COSINE, NULL, NULL));
    CHECK(odx_get(db, "c", "beta", &r) == ODX_ENOTFOUND, "recreated collection has old items");
    odx_db_close(db);
}

static void test_errors(void)
{
    char dir[512];
    fresh_dir(dir, sizeof dir, "errors");
    odx_db *db;
    CHECK(odx_db_open(dir, 0, &db) == ODX_ENOTFOUND, "open of a missing dir without CREATE");
    REQUIRE_OK(odx_db_open(dir, ODX_OPEN_CREATE, &db));
    REQUIRE_OK(odx_collection_create(db, "v", 3, ODX_METRIC_COSINE, "auto", NULL));
    CHECK(odx_collection_create(db, "v", 3, ODX_METRIC_COSINE, "auto", NULL) == ODX_EEXIST, "duplicate create");
    CHECK(odx_collection_create(db, "bad name", 3, ODX_METRIC_COSINE, NULL, NULL) == ODX_EINVAL, "bad name");
    CHECK(odx_collection_create(db, "x", 0, ODX_METRIC_COSINE, NULL, NULL) == ODX_EINVAL, "dim 0");
    CHECK(odx_collection_create(db, "x", 3, ODX_METRIC_COSINE, "NoSuchIndex", NULL) == ODX_EINVAL, "bad spec");
    CHECK(strstr(odx_last_error(), "NoSuchIndex") != NULL, "spec error message: %s", odx_last_error());
    odx_batch *b;
    odx_batch_new(&b);
    float v3[3] = {1, 2, 3}, v4[4] = {1, 2, 3, 4}, vn[3] = {1, NAN, 3}, vi[3] = {INFINITY, 0, 0}, z[3] = {0, 0, 0};
    CHECK(odx_batch_add(b, "n", vn, 3, NULL, 0, NULL) == ODX_EVECTOR, "NaN accepted");
    CHECK(odx_batch_add(b, "i", vi, 3, NULL, 0, NULL) == ODX_EVECTOR, "Inf accepted");
    CHECK(odx_batch_add(b, "", v3, 3, NULL, 0, NULL) == ODX_EINVAL, "empty id accepted");
    CHECK_OK(odx_batch_add(b, "w", v4, 4, NULL, 0, NULL));
    CHECK(odx_upsert(db, "v", b) == ODX_EDIM, "wrong dim accepted: %s", odx_last_error());
    CHECK(strstr(odx_last_error(), "dimension 3") != NULL, "dim message: %s", odx_last_error());
    odx_batch_clear(b);
    CHECK_OK(odx_batch_add(b, "z", z, 3, NULL, 0, NULL));
    CHECK(odx_upsert(db, "v", b) == ODX_EVECTOR, "zero vector in cosine accepted");
    odx_batch_clear(b);
    CHECK_OK(odx_batch_add(b, "ok", v3, 3, NULL, 0, NULL));
    CHECK(odx_upsert(db, "nope", b) == ODX_ENOTFOUND, "unknown collection");
    CHECK(strstr(odx_last_error(), "nope") != NULL, "message names the collection: %s", odx_last_error());
    odx_batch_clear(b);
    CHECK_OK(odx_batch_add_payload(b, "t", ODX_MODALITY_TEXT, "hello", 5, NULL, NULL));
    CHECK(odx_upsert(db, "v", b) == ODX_EPRECOND, "text payload without encoder");
    odx_batch_free(b);
    odx_results *r;
    CHECK(odx_search(db, "v", v4, 1, 4, NULL, &r) == ODX_EDIM, "query dim");
    CHECK(odx_search(db, "v", vn, 1, 3, NULL, &r) == ODX_EVECTOR, "NaN query");
    CHECK(odx_search(db, "zz", v3, 1, 3, NULL, &r) == ODX_ENOTFOUND, "unknown collection search");
    odx_search_params *p;
    odx_search_params_new(&p);
    CHECK(odx_search_params_set_k(p, 0) == ODX_EINVAL, "k 0");
    CHECK(odx_search_params_set_k(p, 1025) == ODX_EINVAL, "k 1025");
    CHECK(odx_search_params_set(p, "bogus=1") == ODX_EINVAL, "unknown param");
    CHECK(odx_search_params_set(p, "efSearch=x") == ODX_EINVAL, "bad value");
    /* The public limits are the engine's: at the limit accepted, past it refused. */
    CHECK(odx_search_params_set_ef_search(p, 65536) == 0, "efSearch 65536");
    CHECK(odx_search_params_set_ef_search(p, 65537) == ODX_EINVAL, "efSearch 65537");
    CHECK(odx_search_params_set_nprobe(p, 1 << 20) == 0, "nprobe 2^20");
    CHECK(odx_search_params_set_nprobe(p, (1 << 20) + 1) == ODX_EINVAL, "nprobe 2^20 + 1");
    odx_search_params_free(p);
    CHECK(odx_search(db, "v", v3, 1, 0, NULL, &r) == ODX_EDIM, "query of dimension 0");
    CHECK(odx_search(db, "v", NULL, 1, 0, NULL, &r) == ODX_EDIM, "empty query vector");
    CHECK(odx_collection_create(db, "big", 65537, ODX_METRIC_L2, "Flat", NULL) == ODX_EINVAL, "dim 65537");
    odx_query *q;
    REQUIRE_OK(odx_query_new(&q));
    for (int i = 0; i < 16; i++) CHECK_OK(odx_query_add_vector(q, v3, 3, 1.0f));
    CHECK(odx_query_add_vector(q, v3, 3, 1.0f) == ODX_ELIMIT, "17th query part");
    CHECK(odx_query_add_item(q, "a", 1.0f) == ODX_ELIMIT, "17th query part (item)");
    odx_query_free(q);
    odx_db_close(db);
    /* A read-only handle refuses writes. */
    REQUIRE_OK(odx_db_open(dir, ODX_OPEN_READONLY, &db));
    CHECK(odx_collection_create(db, "w", 3, ODX_METRIC_L2, NULL, NULL) == ODX_EREADONLY, "write on read-only");
    odx_db_close(db);
}

static double recall_at_10(odx_db *db, const char *coll, const float *x, size_t n, int dim, const float *qs,
                           size_t nq, const char *keep, const char *filter, const char *param)
{
    odx_search_params *p;
    odx_search_params_new(&p);
    odx_search_params_set_k(p, 10);
    if (param) odx_search_params_set(p, param);
    odx_filter *f = NULL;
    if (filter && odx_filter_parse(filter, &f)) { printf("# filter: %s\n", odx_last_error()); return -1; }
    odx_search_params_set_filter(p, f);
    odx_results *r;
    int rc = odx_search(db, coll, qs, nq, dim, p, &r);
    if (rc) { printf("# search: %s\n", odx_last_error()); return -1; }
    size_t hit = 0, tot = 0;
    for (size_t q = 0; q < nq; q++) {
        long truth[10];
        brute_topk(x, n, dim, qs + q * dim, keep, 10, truth);
        for (int i = 0; i < 10; i++) {
            if (truth[i] < 0) continue;
            tot++;
            char id[32];
            snprintf(id, sizeof id, "%ld", truth[i]);
            for (size_t j = 0; j < odx_results_count(r, q); j++)
                if (!strcmp(odx_results_id(r, q, j), id)) { hit++; break; }
        }
    }
    odx_results_free(r);
    odx_filter_free(f);
    odx_search_params_free(p);
    return tot ? (double)hit / tot : 0;
}

static void test_recall_and_filters(void)
{
    char dir[512];
    fresh_dir(dir, sizeof dir, "recall");
    const size_t n = 20000, nq = 200;
    const int dim = 64;
    float *x = make_data(n + nq, dim, 16, 12345);
    const float *qs = x + n * dim;
    odx_db *db;
    REQUIRE_OK(odx_db_open(dir, ODX_OPEN_CREATE, &db));
    REQUIRE_OK(odx_collection_create(db, "h", dim, ODX_METRIC_COSINE, "HNSW32,Flat", NULL));
    REQUIRE_OK(put_range(db, "h", x, 0, n, dim, 1));
    double r = recall_at_10(db, "h", x, n, dim, qs, nq, NULL, NULL, NULL);
    printf("# HNSW32 recall@10 (default efSearch) = %.3f\n", r);
    CHECK(r >= 0.95, "HNSW recall %.3f < 0.95", r);
    double r16 = recall_at_10(db, "h", x, n, dim, qs, nq, NULL, NULL, "efSearch=16");
    double r256 = recall_at_10(db, "h", x, n, dim, qs, nq, NULL, NULL, "efSearch=256");
    printf("# efSearch=16: %.3f, efSearch=256: %.3f\n", r16, r256);
    CHECK(r256 >= r16 && r256 >= 0.98, "efSearch has no effect (%.3f vs %.3f)", r16, r256);
    /* efSearch must reach the graph walk: on data of high intrinsic
     * dimension (where the default efSearch is not enough) a larger one
     * raises recall and a smaller one lowers it. FAISS 1.7.3 sized its queue
     * from the index default whatever the call asked; tools/deps.sh fixes
     * that, and this catches a build without the fix. */
    {
        float *hx = make_data(n + nq, dim, 64, 999);
        REQUIRE_OK(odx_collection_create(db, "hard", dim, ODX_METRIC_COSINE, "HNSW8,Flat", NULL));
        REQUIRE_OK(put_range(db, "hard", hx, 0, n, dim, 0));
        double h8 = recall_at_10(db, "hard", hx, n, dim, hx + n * dim, nq, NULL, NULL, "efSearch=10");
        double h64 = recall_at_10(db, "hard", hx, n, dim, hx + n * dim, nq, NULL, NULL, NULL);
        double h512 = recall_at_10(db, "hard", hx, n, dim, hx + n * dim, nq, NULL, NULL, "efSearch=512");
        printf("# hard set, HNSW8: efSearch=10 %.3f, default %.3f, efSearch=512 %.3f\n", h8, h64, h512);
        CHECK(h512 > h64 + 0.01 && h64 > h8 + 0.01, "efSearch does not reach the search: %.3f %.3f %.3f", h8, h64, h512);
        free(hx);
    }
    /* 1%-selective filter (bucket = 7): answered exactly. */
    char *keep = calloc(n, 1);
    for (size_t i = 0; i < n; i++) keep[i] = i % 100 == 7;
    r = recall_at_10(db, "h", x, n, dim, qs, nq, keep, "bucket = 7", NULL);
    printf("# recall@10 under a 1%% filter = %.3f\n", r);
    CHECK(r >= 0.95, "1%% filter recall %.3f", r);
    /* Broad filter (50%): ANN with a selector. */
    for (size_t i = 0; i < n; i++) keep[i] = i % 2 == 1;
    r = recall_at_10(db, "h", x, n, dim, qs, nq, keep, "half = \"odd\"", NULL);
    printf("# recall@10 under a 50%% filter = %.3f\n", r);
    CHECK(r >= 0.9, "50%% filter recall %.3f", r);
    /* Range over floats with an int literal, combined with NOT and IN. */
    for (size_t i = 0; i < n; i++) {
        double price = (double)(i % 1000) / 10.0;
        long bucket = (long)(i % 100);
        keep[i] = price >= 20 && price < 60 && !(bucket == 3 || bucket == 5);
    }
    r = recall_at_10(db, "h", x, n, dim, qs, nq, keep, "price >= 20 AND price < 60 AND NOT bucket IN (3, 5)", NULL);
    printf("# recall@10 under a range filter = %.3f\n", r);
    CHECK(r >= 0.9, "range filter recall %.3f", r);
    /* Every hit of an exact filtered search satisfies the predicate. */
    odx_search_params *p;
    odx_search_params_new(&p);
    odx_search_params_set_k(p, 1024);
    odx_search_params_set_exact(p, 1);
    odx_filter *f;
    REQUIRE_OK(odx_filter_parse("bucket <= 2 OR price > 99.85", &f));
    odx_search_params_set_filter(p, f);
    odx_results *res;
    REQUIRE_OK(odx_search(db, "h", qs, 1, dim, p, &res));
    size_t expect = 0;
    for (size_t i = 0; i < n; i++) expect += (i % 100) <= 2 || (double)(i % 1000) / 10.0 > 99.85;
    size_t got = odx_results_count(res, 0);
    CHECK(got == (expect < 1024 ? expect : 1024), "filtered hits %zu, expected %zu", got, expect);
    for (size_t i = 0; i < got; i++) {
        long id = strtol(odx_results_id(res, 0, i), NULL, 10);
        CHECK(id % 100 <= 2 || (double)(id % 1000) / 10.0 > 99.85, "hit %ld fails the filter", id);
        if (i) CHECK(odx_results_score(res, 0, i) <= odx_results_score(res, 0, i - 1), "not sorted");
    }
    odx_results_free(res);
    odx_filter_free(f);
    odx_search_params_free(p);
    free(keep);
    free(x);
    odx_db_close(db);
}

static long file_size(const char *p)
{
    struct stat sb;
    return stat(p, &sb) ? -1 : (long)sb.st_size;
}

static void test_checkpoint_recovery(void)
{
    char dir[512], path[700];
    fresh_dir(dir, sizeof dir, "ckpt");
    const size_t n = 3000;
    const int dim = 32;
    float *x = make_data(n + 10, dim, 8, 777);
    odx_db *db;
    REQUIRE_OK(odx_db_open(dir, ODX_OPEN_CREATE, &db));
    REQUIRE_OK(odx_collection_create(db, "k", dim, ODX_METRIC_COSINE, "HNSW16,Flat", NULL));
    REQUIRE_OK(put_range(db, "k", x, 0, n, dim, 0));
    odx_db_close(db); /* checkpoints */
    snprintf(path, sizeof path, "%s/indexes/k.faiss", dir);
    CHECK(file_size(path) > 0, "no checkpoint written at close");
    double base = 0;
    /* 1: reopen from the checkpoint; add more (log replay on next open). */
    REQUIRE_OK(odx_db_open(dir, 0, &db));
    base = recall_at_10(db, "k", x, n, dim, x + n * dim, 10, NULL, NULL, NULL);
    odx_db_close(db);
    CHECK(base >= 0.9, "recall after reopen %.3f", base);
    /* 2: corrupt a byte in the middle: rebuilt, same answers. */
    FILE *fp = fopen(path, "r+b");
    REQUIRE(fp, "open checkpoint");
    fseek(fp, file_size(path) / 2, SEEK_SET);
    fputc(0x5a ^ fgetc(fp), fp);
    fclose(fp);
    REQUIRE_OK(odx_db_open(dir, 0, &db));
    double r = recall_at_10(db, "k", x, n, dim, x + n * dim, 10, NULL, NULL, NULL);
    CHECK(r >= 0.9, "recall after corrupt checkpoint %.3f", r);
    odx_db_close(db);
    /* 3: truncated file. */
    if (truncate(path, file_size(path) / 3)) {}
    REQUIRE_OK(odx_db_open(dir, 0, &db));
    r = recall_at_10(db, "k", x, n, dim, x + n * dim, 10, NULL, NULL, NULL);
    CHECK(r >= 0.9, "recall after truncated checkpoint %.3f", r);
    odx_db_close(db);
    /* 4: deleted file. */
    unlink(path);
    REQUIRE_OK(odx_db_open(dir, 0, &db));
    r = recall_at_10(db, "k", x, n, dim, x + n * dim, 10, NULL, NULL, NULL);
    CHECK(r >= 0.9, "recall after deleted checkpoint %.3f", r);
    /* 5: a stale checkpoint (older lsn) plus the log: writes after it
     * replayed, not lost. Save the file, write more, restore the file. */
    odx_db_close(db);
    char cmd[1600];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s.old'", path, path);
    CHECK(system(cmd) == 0, "cp");
    REQUIRE_OK(odx_db_open(dir, 0, &db));
    odx_batch *b;
    odx_batch_new(&b);
    CHECK_OK(odx_batch_add(b, "late", x + (n + 5) * dim, dim, NULL, 0, NULL));
    CHECK_OK(odx_upsert(db, "k", b));
    odx_batch_free(b);
    const char *del[1] = {"0"};
    CHECK_OK(odx_delete(db, "k", del, 1, NULL));
    odx_db_close(db);
    snprintf(cmd, sizeof cmd, "mv '%s.old' '%s'", path, path);
    CHECK(system(cmd) == 0, "mv");
    REQUIRE_OK(odx_db_open(dir, 0, &db));
    odx_results *res;
    REQUIRE_OK(odx_search(db, "k", x + (n + 5) * dim, 1, dim, NULL, &res));
    CHECK(odx_results_count(res, 0) > 0 && !strcmp(odx_results_id(res, 0, 0), "late"),
          "write after the checkpoint not replayed");
    odx_results_free(res);
    REQUIRE_OK(odx_search(db, "k", x, 1, dim, NULL, &res));
    for (size_t i = 0; i < odx_results_count(res, 0); i++)
        CHECK(strcmp(odx_results_id(res, 0, i), "0"), "delete after the checkpoint lost");
    odx_results_free(res);
    odx_db_close(db);
    free(x);
}

static void test_vector_density(void)
{
    char dir[512];
    fresh_dir(dir, sizeof dir, "density");
    const size_t n = 5000;
    const int dim = 512;
    float *x = make_data(n, dim, 8, 99);
    odx_db *db;
    REQUIRE_OK(odx_db_open(dir, ODX_OPEN_CREATE, &db));
    REQUIRE_OK(odx_collection_create(db, "d", dim, ODX_METRIC_IP, "Flat", NULL));
    REQUIRE_OK(put_range(db, "d", x, 0, n, dim, 0));
    odx_collection_info *info;
    REQUIRE_OK(odx_collection_describe(db, "d", &info));
    double ratio = (double)odx_info_vector_bytes(info) / ((double)n * dim * 4);
    printf("# 512-d: %llu bytes of LMDB pages for %zu vectors = %.4fx raw float32\n",
           (unsigned long long)odx_info_vector_bytes(info), n, ratio);
    CHECK(ratio <= 1.15 && ratio >= 1.0, "vector storage %.3fx raw", ratio);
    odx_collection_info_free(info);
    /* Every vector reads back bit-exact. */
    for (size_t i = 0; i < n; i += 997) {
        char id[32];
        snprintf(id, sizeof id, "%zu", i);
        odx_record *r;
        REQUIRE_OK(odx_get(db, "d", id, &r));
        CHECK(!memcmp(odx_record_vector(r, NULL), x + i * dim, dim * 4), "vector %zu differs", i);
        odx_record_free(r);
    }
    odx_db_close(db);
    free(x);
}

static void test_ivf_training_and_compaction(void)
{
    char dir[512];
    fresh_dir(dir, sizeof dir, "ivf");
    const size_t n = 4000;
    const int dim = 16;
    float *x = make_data(n + 20, dim, 6, 4242);
    odx_db *db;
    REQUIRE_OK(odx_db_open(dir, ODX_OPEN_CREATE, &db));
    REQUIRE_OK(odx_collection_create(db, "i", dim, ODX_METRIC_L2, "IVF64,Flat", NULL));
    REQUIRE_OK(put_range(db, "i", x, 0, 1000, dim, 0));
    odx_collection_info *info;
    REQUIRE_OK(odx_collection_describe(db, "i", &info));
    CHECK(strncmp(odx_info_index_type(info), "Flat", 4) == 0, "untrained IVF should be Flat, is %s",
          odx_info_index_type(info));
    odx_collection_info_free(info);
    /* Untrained: exact answers. L2 brute force == inner product order only
     * for unit vectors, which these are. */
    double r = recall_at_10(db, "i", x, 1000, dim, x + n * dim, 20, NULL, NULL, NULL);
    CHECK(r == 1.0, "exact fallback recall %.3f", r);
    REQUIRE_OK(put_range(db, "i", x, 1000, n, dim, 0));
    REQUIRE_OK(odx_collection_checkpoint(db, "i")); /* rebuilds when needed */
    REQUIRE_OK(odx_collection_describe(db, "i", &info));
    CHECK(strstr(odx_info_index_type(info), "IVF64") != NULL, "IVF not trained at %zu vectors: %s", n,
          odx_info_index_type(info));
    odx_collection_info_free(info);
    r = recall_at_10(db, "i", x, n, dim, x + n * dim, 20, NULL, NULL, "nprobe=64");
    CHECK(r >= 0.99, "IVF nprobe=nlist recall %.3f", r);
    /* Delete half, compact: tombstones gone, deleted never returned. */
    char **ids = malloc(n / 2 * sizeof *ids);
    for (size_t i = 0; i < n / 2; i++) {
        ids[i] = malloc(16);
        snprintf(ids[i], 16, "%zu", i * 2);
    }
    size_t nd;
    REQUIRE_OK(odx_delete(db, "i", (const char *const *)ids, n / 2, &nd));
    CHECK(nd == n / 2, "deleted %zu", nd);
    REQUIRE_OK(odx_collection_describe(db, "i", &info));
    CHECK(odx_info_tombstones(info) == n / 2, "tombstones %llu", (unsigned long long)odx_info_tombstones(info));
    odx_collection_info_free(info);
    char *keep = calloc(n, 1);
    for (size_t i = 0; i < n; i++) keep[i] = i % 2;
    r = recall_at_10(db, "i", x, n, dim, x + n * dim, 20, keep, NULL, "nprobe=64");
    CHECK(r >= 0.99, "recall with tombstones %.3f", r);
    REQUIRE_OK(odx_collection_compact(db, "i"));
    REQUIRE_OK(odx_collection_describe(db, "i", &info));
    CHECK(odx_info_tombstones(info) == 0 && odx_info_index_ntotal(info) == n / 2, "after compaction %llu/%llu",
          (unsigned long long)odx_info_tombstones(info), (unsigned long long)odx_info_index_ntotal(info));
    odx_collection_info_free(info);
    r = recall_at_10(db, "i", x, n, dim, x + n * dim, 20, keep, NULL, "nprobe=64");
    CHECK(r >= 0.99, "recall after compaction %.3f", r);
    for (size_t i = 0; i < n / 2; i++) free(ids[i]);
    free(ids);
    free(keep);
    free(x);
    odx_db_close(db);
}

struct writer_arg {
    odx_db *db;
    int t;
    const float *x;
    int dim;
    size_t per;
    int errors;
};

static void *writer(void *a)
{
    struct writer_arg *w = a;
    odx_batch *b;
    odx_batch_new(&b);
    for (size_t i = 0; i < w->per; i++) {
        char id[32];
        snprintf(id, sizeof id, "t%d-%zu", w->t, i);
        odx_batch_add(b, id, w->x + ((w->t * w->per + i) % 1000) * w->dim, w->dim, NULL, 0, NULL);
        if (odx_batch_size(b) == 10) {
            if (odx_upsert(w->db, "cc", b)) w->errors++;
            odx_batch_clear(b);
        }
    }
    odx_batch_free(b);
    return NULL;
}

static void *searcher(void *a)
{
    struct writer_arg *w = a;
    for (int i = 0; i < 200; i++) {
        odx_results *r;
        if (odx_search(w->db, "cc", w->x + (i % 1000) * w->dim, 1, w->dim, NULL, &r)) w->errors++;
        else odx_results_free(r);
    }
    return NULL;
}

static void test_concurrency_and_growth(void)
{
    char dir[512];
    fresh_dir(dir, sizeof dir, "conc");
    setenv("OMNIDEX_INITIAL_MAP_MB", "1", 1); /* forces many map growths */
    const int dim = 128;
    float *x = make_data(1000, dim, 8, 5);
    odx_db *db;
    REQUIRE_OK(odx_db_open(dir, ODX_OPEN_CREATE, &db));
    REQUIRE_OK(odx_collection_create(db, "cc", dim, ODX_METRIC_COSINE, "auto", NULL));
    pthread_t th[6];
    struct writer_arg wa[6];
    for (int t = 0; t < 6; t++) {
        wa[t] = (struct writer_arg){db, t, x, dim, 2000, 0};
        pthread_create(&th[t], NULL, t < 4 ? writer : searcher, &wa[t]);
    }
    int errors = 0;
    for (int t = 0; t < 6; t++) {
        pthread_join(th[t], NULL);
        errors += wa[t].errors;
    }
    CHECK(errors == 0, "%d errors under concurrency: %s", errors, odx_last_error());
    uint64_t reqs, txns;
    odx_db_write_stats(db, &reqs, &txns);
    printf("# group commit: %llu write requests in %llu transactions\n", (unsigned long long)reqs,
           (unsigned long long)txns);
    CHECK(reqs == 800 && txns < reqs, "no group commit: %llu requests, %llu transactions", (unsigned long long)reqs,
          (unsigned long long)txns);
    odx_collection_info *info;
    REQUIRE_OK(odx_collection_describe(db, "cc", &info));
    CHECK(odx_info_count(info) == 8000, "count %llu", (unsigned long long)odx_info_count(info));
    CHECK(odx_info_index_ntotal(info) == 8000, "indexed %llu", (unsigned long long)odx_info_index_ntotal(info));
    odx_collection_info_free(info);
    odx_db_close(db);
    unsetenv("OMNIDEX_INITIAL_MAP_MB");
    char p[700];
    snprintf(p, sizeof p, "%s/data.mdb", dir);
    CHECK(file_size(p) > (1 << 20), "map never grew (data.mdb %ld bytes)", file_size(p));
    REQUIRE_OK(odx_db_open(dir, 0, &db));
    odx_record *r;
    CHECK_OK(odx_get(db, "cc", "t3-1999", &r));
    odx_record_free(r);
    odx_db_close(db);
    free(x);
}

static void test_auto_switch(void)
{
    char dir[512];
    fresh_dir(dir, sizeof dir, "auto");
    const int dim = 8;
    const size_t n = 50500;
    float *x = make_data(n, dim, 4, 31);
    odx_db *db;
    REQUIRE_OK(odx_db_open(dir, ODX_OPEN_CREATE, &db));
    REQUIRE_OK(odx_collection_create(db, "a", dim, ODX_METRIC_COSINE, "auto", NULL));
    REQUIRE_OK(put_range(db, "a", x, 0, 40000, dim, 0));
    REQUIRE_OK(odx_collection_checkpoint(db, "a"));
    odx_collection_info *info;
    REQUIRE_OK(odx_collection_describe(db, "a", &info));
    CHECK(!strncmp(odx_info_index_type(info), "Flat", 4), "auto at 40k: %s", odx_info_index_type(info));
    odx_collection_info_free(info);
    REQUIRE_OK(put_range(db, "a", x, 40000, n, dim, 0));
    REQUIRE_OK(odx_collection_checkpoint(db, "a"));
    REQUIRE_OK(odx_collection_describe(db, "a", &info));
    CHECK(strstr(odx_info_index_type(info), "HNSW") != NULL, "auto at 50.5k: %s", odx_info_index_type(info));
    odx_collection_info_free(info);
    odx_db_close(db);
    free(x);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s/omnidex-test-engine-%d", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
             (int)getpid());
    mkdir(tmpdir, 0755);
    setenv("OMNIDEX_LOG", "warn", 1);
    RUN(test_crud);
    RUN(test_errors);
    RUN(test_recall_and_filters);
    RUN(test_checkpoint_recovery);
    RUN(test_vector_density);
    RUN(test_ivf_training_and_compaction);
    RUN(test_concurrency_and_growth);
    RUN(test_auto_switch);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (!t_tests_failed && system(cmd)) {}
    TEST_EXIT();
}
