/* The vector-only core used alone (docs/core.md "Library split"). This
 * program includes omnidex.h and nothing else of omnidex, and the Makefile
 * links it with the whole of libomnidex-core.a and only the core's libraries
 * (FAISS, LMDB, cJSON, OpenBLAS, zlib, OpenMP, libstdc++): that it links at
 * all proves the core needs no media library, no gRPC and no curl.
 *
 *   vector_only [SPACE_DB]
 *
 * Without arguments: a vector database in a temporary directory (create,
 * upsert, search, filter, delete, reopen) and the encoder calls answering
 * ODX_EUNSUPPORTED. SPACE_DB (tests/integration/core_only.sh makes it with
 * the full omnidex) holds a collection "photos" bound to the space
 * omni-tiny (128 dimensions): there a text payload and a text query must
 * fail with ODX_EUNSUPPORTED, and vectors must still go in and come out.
 * TAP lines: "ok - ..." / "not ok - ...". */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "omnidex.h"

static int fails;

static void check(int cond, const char *what)
{
    if (cond) {
        printf("ok - %s\n", what);
    } else {
        printf("not ok - %s\n# rc message: %s\n", what, odx_last_error());
        fails++;
    }
}

/* Unsupported with a message that says why (the build has no encoders). */
static void check_unsupported(int rc, const char *what)
{
    char line[512];
    snprintf(line, sizeof line, "%s: ODX_EUNSUPPORTED, message \"%.300s\"", what, odx_last_error());
    check(rc == ODX_EUNSUPPORTED && strstr(odx_last_error(), "no encoders"), line);
}

#define DIM 16
#define N 200

/* Item i's vector: a unit vector mostly along axis i % DIM, tilted by i, so
 * that every item is its own nearest neighbour under cosine. */
static void vec_of(int i, float *v)
{
    double n = 0;
    for (int k = 0; k < DIM; k++) {
        v[k] = (float)(k == i % DIM ? 4.0 : sin(0.37 * (i + 1) * (k + 1)));
        n += (double)v[k] * v[k];
    }
    for (int k = 0; k < DIM; k++) v[k] = (float)(v[k] / sqrt(n));
}

static void vector_database(const char *dir)
{
    odx_db *db = NULL;
    check(odx_db_open(dir, ODX_OPEN_CREATE, &db) == 0, "open a new data directory");
    if (!db) return;
    check(odx_collection_create(db, "v", DIM, ODX_METRIC_COSINE, "HNSW16,Flat", NULL) == 0, "create a collection");

    odx_batch *b;
    odx_batch_new(&b);
    char id[32];
    float v[DIM];
    int added = 0;
    for (int i = 0; i < N; i++) {
        odx_meta *m;
        odx_meta_new(&m);
        odx_meta_set_int(m, "i", i);
        vec_of(i, v);
        snprintf(id, sizeof id, "item-%d", i);
        added += odx_batch_add(b, id, v, DIM, m, ODX_MODALITY_VECTOR, NULL) == 0;
        odx_meta_free(m);
    }
    check(added == N && odx_upsert(db, "v", b) == 0, "upsert 200 vectors");
    odx_batch_free(b);

    /* Each of a few items finds itself first, with cosine 1. */
    int self = 0;
    for (int i = 0; i < N; i += 37) {
        odx_results *r = NULL;
        vec_of(i, v);
        snprintf(id, sizeof id, "item-%d", i);
        if (odx_search(db, "v", v, 1, DIM, NULL, &r) == 0 && odx_results_count(r, 0) == 10 &&
            !strcmp(odx_results_id(r, 0, 0), id) && fabsf(odx_results_score(r, 0, 0) - 1.0f) < 1e-5f)
            self++;
        odx_results_free(r);
    }
    check(self == 6, "search: each probed item is its own nearest neighbour (score 1)");

    /* A filter: hits only among items 100..109, the best being item 105. */
    odx_filter *f = NULL;
    odx_search_params *p = NULL;
    odx_results *r = NULL;
    odx_search_params_new(&p);
    int ok = odx_filter_parse("i >= 100 AND i < 110", &f) == 0 && odx_search_params_set_filter(p, f) == 0 &&
             odx_search_params_set_with_meta(p, 1) == 0;
    vec_of(105, v);
    ok = ok && odx_search(db, "v", v, 1, DIM, p, &r) == 0 && odx_results_count(r, 0) == 10 &&
         !strcmp(odx_results_id(r, 0, 0), "item-105");
    for (size_t k = 0; ok && k < odx_results_count(r, 0); k++) {
        const odx_meta *m = odx_results_meta(r, 0, k);
        long at = m ? odx_meta_find(m, "i") : -1;
        int64_t iv = at >= 0 ? odx_meta_int(m, (size_t)at) : -1;
        ok = iv >= 100 && iv < 110;
    }
    check(ok, "filtered search: 10 hits, all with 100 <= i < 110, item-105 first");
    odx_results_free(r);

    const char *gone[] = {"item-105"};
    size_t deleted = 0;
    check(odx_delete(db, "v", gone, 1, &deleted) == 0 && deleted == 1, "delete an item");
    r = NULL;
    check(odx_search(db, "v", v, 1, DIM, p, &r) == 0 && odx_results_count(r, 0) == 9 &&
              strcmp(odx_results_id(r, 0, 0), "item-105") != 0,
          "a deleted item is no longer found");
    odx_results_free(r);

    /* Encoders are absent: said so, as ODX_EUNSUPPORTED. */
    float *ev = NULL;
    int edim = 0;
    check_unsupported(odx_embed(db, "omni-tiny", ODX_MODALITY_TEXT, "a cat", 5, NULL, &ev, &edim), "odx_embed");
    check_unsupported(odx_collection_create(db, "s", 128, ODX_METRIC_COSINE, NULL, "omni-tiny"),
                      "create a collection bound to a space");
    char **names = NULL;
    size_t count = 0;
    check_unsupported(odx_space_list(&names, &count), "odx_space_list");
    check_unsupported(odx_space_info(db, "omni-tiny", NULL, NULL), "odx_space_info");
    check(odx_media_sniff("\x89PNG\r\n\x1a\n", 8, NULL, NULL, NULL) == ODX_EUNSUPPORTED, "odx_media_sniff");
    /* A payload for a collection bound to no space fails as in the full
     * build: the collection cannot embed, whatever the build. */
    odx_batch_new(&b);
    odx_batch_add_payload(b, "t", ODX_MODALITY_TEXT, "hello", 5, NULL, NULL);
    check(odx_upsert(db, "v", b) == ODX_EPRECOND, "text payload into a collection without a space: ODX_EPRECOND");
    odx_batch_free(b);
    odx_db_close(db);

    /* Everything is still there after a reopen. */
    db = NULL;
    r = NULL;
    vec_of(42, v);
    check(odx_db_open(dir, 0, &db) == 0 && odx_search(db, "v", v, 1, DIM, NULL, &r) == 0 &&
              !strcmp(odx_results_id(r, 0, 0), "item-42"),
          "reopen: the vectors are found again");
    odx_results_free(r);
    odx_filter_free(f);
    odx_search_params_free(p);
    odx_db_close(db);
}

/* A data directory the full build made, with "photos" bound to omni-tiny. */
static void space_collection(const char *dir)
{
    odx_db *db = NULL;
    check(odx_db_open(dir, 0, &db) == 0, "open the data directory the full build made");
    if (!db) return;
    odx_batch *b;
    odx_batch_new(&b);
    odx_batch_add_payload(b, "cat", ODX_MODALITY_TEXT, "a photo of a cat", 16, NULL, NULL);
    check_unsupported(odx_upsert(db, "photos", b), "text payload into a collection bound to omni-tiny");
    odx_batch_free(b);

    odx_query *q = NULL;
    odx_results *r = NULL;
    odx_query_new(&q);
    odx_query_add_payload(q, ODX_MODALITY_TEXT, "a cat", 5, NULL, 1.0f);
    check_unsupported(odx_search_query(db, "photos", q, NULL, &r), "text query on a collection bound to omni-tiny");
    odx_query_free(q);

    float v[128] = {0};
    v[7] = 1;
    odx_batch_new(&b);
    odx_batch_add(b, "vec", v, 128, NULL, ODX_MODALITY_VECTOR, NULL);
    r = NULL;
    check(odx_upsert(db, "photos", b) == 0 && odx_search(db, "photos", v, 1, 128, NULL, &r) == 0 &&
              odx_results_count(r, 0) == 1 && !strcmp(odx_results_id(r, 0, 0), "vec"),
          "vectors still go into and come out of that collection");
    odx_results_free(r);
    odx_batch_free(b);
    odx_db_close(db);
}

int main(int argc, char **argv)
{
    char dir[] = "/tmp/odx-core-only-XXXXXX";
    if (!mkdtemp(dir)) {
        printf("not ok - mkdtemp\n");
        return 1;
    }
    vector_database(dir);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) printf("# could not remove %s\n", dir);
    if (argc > 1) space_collection(argv[1]);
    printf("# %s\n", fails ? "FAILED" : "all passed");
    return fails != 0;
}
