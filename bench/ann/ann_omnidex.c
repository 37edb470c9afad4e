/* omnidex through its public C API (omnidex.h), as an application uses it:
 * vectors go in through odx_batch/odx_upsert (durable LMDB commits plus the
 * FAISS index update), queries through odx_search, and the hits come back
 * as string ids that are parsed here. Collections: "HNSW32,Flat" and "Flat".
 * The inner-product dataset uses the cosine metric, omnidex's default for
 * embedding spaces (its vectors are unit-length already).
 *
 * With --reuse 1 the program builds nothing: it opens an existing data
 * directory read-only (the indexes load from their checkpoints) and searches
 * its collections; run.py uses this to search the very same index with a
 * differently linked binary (see bench/module.mk, ann_omnidex_hnswfix).
 *
 * --spec sets the HNSW collection's index spec (default "HNSW32,Flat").
 *
 *   ann_omnidex --data DIR --metric l2|ip [--db DIR] [--batch N] [--label NAME]
 *               [--spec SPEC] [--reuse 0|1] [harness options]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/ann/harness.h"
#include "omnidex.h"

typedef struct {
    odx_db *db;
    const char *coll;
    odx_search_params *params;
    int dim;
} omni;

static void check(int rc, const char *what)
{
    if (rc) {
        fprintf(stderr, "ann_omnidex: %s: %s (%s)\n", what, odx_strerror(rc), odx_last_error());
        exit(1);
    }
}

static int omni_search(void *self, size_t nq, const float *q, int k, int ef, int64_t *labels)
{
    omni *o = self;
    odx_results *r;
    if (odx_search_params_set_ef_search(o->params, ef)) return -1;
    if (odx_search(o->db, o->coll, q, nq, o->dim, o->params, &r)) return -1;
    for (size_t i = 0; i < nq; i++) {
        size_t n = odx_results_count(r, i);
        for (size_t j = 0; j < (size_t)k; j++) {
            int64_t v = -1;
            if (j < n) {
                const char *s = odx_results_id(r, i, j);
                v = 0;
                for (; *s >= '0' && *s <= '9'; s++) v = v * 10 + (*s - '0');
            }
            labels[i * k + j] = v;
        }
    }
    odx_results_free(r);
    return 0;
}

static void add_contender(bench_ctx *b, odx_db *db, const char *coll, const char *label, const char *spec,
                          const char *kind)
{
    omni *o = calloc(1, sizeof *o);
    if (!o) exit(1);
    o->db = db;
    o->coll = coll;
    o->dim = b->base.d;
    check(odx_search_params_new(&o->params), "params");
    check(odx_search_params_set_k(o->params, b->k), "k");
    bench_contender c = {label, spec, kind, omni_search, o, 0};
    bench_add(b, &c);
}

static void build_one(bench_ctx *b, odx_db *db, const char *coll, const char *label, const char *spec,
                      const char *kind, odx_metric metric, size_t batch)
{
    int dim = b->base.d;
    odx_collection_drop(db, coll);
    check(odx_collection_create(db, coll, dim, metric, spec, NULL), "creating collection");
    bench_set_threads(b->threads);
    odx_batch *bt;
    check(odx_batch_new(&bt), "odx_batch_new");
    double t = bench_now();
    for (size_t i = 0; i < b->base.n; i++) {
        char id[24];
        snprintf(id, sizeof id, "%zu", i);
        check(odx_batch_add(bt, id, b->base.x + i * (size_t)dim, dim, NULL, ODX_MODALITY_VECTOR, NULL),
              "odx_batch_add");
        if (odx_batch_size(bt) == batch || i + 1 == b->base.n) {
            check(odx_upsert(db, coll, bt), "odx_upsert");
            odx_batch_clear(bt);
        }
    }
    double build = bench_now() - t;
    odx_batch_free(bt);
    /* Checkpoint now, timed apart, so the maintenance thread does not write
     * one in the middle of the search timings. */
    t = bench_now();
    check(odx_collection_checkpoint(db, coll), "checkpoint");
    double ckpt = bench_now() - t;
    odx_collection_info *info;
    check(odx_collection_describe(db, coll, &info), "describe");
    char extra[512];
    snprintf(extra, sizeof extra,
             "\"checkpoint_seconds\":%.3f,\"index_type\":\"%s\",\"ntotal\":%llu,\"upsert_batch\":%zu,"
             "\"omnidex_metric\":\"%s\"",
             ckpt, odx_info_index_type(info), (unsigned long long)odx_info_index_ntotal(info), batch,
             odx_metric_name(metric));
    if (odx_info_index_ntotal(info) != b->base.n) {
        fprintf(stderr, "ann_omnidex: index holds %llu vectors, expected %zu\n",
                (unsigned long long)odx_info_index_ntotal(info), b->base.n);
        exit(1);
    }
    odx_collection_info_free(info);
    bench_emit_build(b, label, spec, build, extra);
    add_contender(b, db, coll, label, spec, kind);
}

int main(int argc, char **argv)
{
    bench_ctx b;
    bench_init(&b, argc, argv);
    const char *dir = bench_arg(argc, argv, "--db", "build/bench/db");
    const char *label = bench_arg(argc, argv, "--label", "omnidex");
    int reuse = !strcmp(bench_arg(argc, argv, "--reuse", "0"), "1");
    long batch = strtol(bench_arg(argc, argv, "--batch", "10000"), NULL, 10);
    if (batch < 1) batch = 10000;
    odx_metric metric = b.ip ? ODX_METRIC_COSINE : ODX_METRIC_L2;
    odx_db *db;
    check(odx_db_open(dir, reuse ? ODX_OPEN_READONLY : ODX_OPEN_CREATE, &db), "opening database");
    const char *colls[2][3] = {{"hnsw", bench_arg(argc, argv, "--spec", "HNSW32,Flat"), "hnsw"}, {"flat", "Flat", "flat"}};
    for (int i = 0; i < 2; i++) {
        if (!bench_wants(&b, colls[i][2])) continue;
        if (reuse) add_contender(&b, db, colls[i][0], label, colls[i][1], colls[i][2]);
        else build_one(&b, db, colls[i][0], label, colls[i][1], colls[i][2], metric, (size_t)batch);
    }
    bench_main(&b);
    for (int i = 0; i < b.ncs; i++) odx_search_params_free(((omni *)b.cs[i].self)->params), free(b.cs[i].self);
    odx_db_close(db);
    bench_free(&b);
    return 0;
}
