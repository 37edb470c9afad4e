/* The optional GPU mirror of a collection (index/cuda, built with make GPU=1):
 * an exact index of the live vectors in device memory. The CPU index stays
 * the source of answers whenever the GPU cannot serve (no device, busy, over
 * budget, an error): every failure here falls back, none reaches the user. */
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/log.h"
#include "query/engine.h"

#ifdef ODX_HAVE_CUDA
#include "index/cuda/gpu.h"

int odx_gpu_open(odx_engine *db)
{
    int n = 0;
    if (odx_gpu_available(0, &n)) {
        odx_log(ODX_LOG_WARN, "--gpu: no usable GPU (%s); searching on the CPU", odx_last_error());
        return 0;
    }
    char d[256];
    odx_gpu_describe(0, d, sizeof d);
    odx_log(ODX_LOG_INFO, "GPU search on %s", d);
    db->gpu_on = 1;
    return 0;
}

void odx_coll_gpu_free(odx_coll *c)
{
    odx_gpu_free(c->gpu);
    c->gpu = NULL;
}

struct gpu_fill {
    odx_gpu_index *g;
    const odx_bitmap *live;
    int dim;
};

/* Uploads runs of consecutive live seqs of one block. */
static int fill_block(void *ctx, uint64_t first, size_t n, const float *data)
{
    struct gpu_fill *f = ctx;
    uint64_t seqs[1024];
    size_t i = 0;
    while (i < n) {
        while (i < n && !odx_bitmap_get(f->live, first + i)) i++;
        size_t st = i;
        while (i < n && i - st < 1024 && odx_bitmap_get(f->live, first + i)) { seqs[i - st] = first + i; i++; }
        if (i > st) {
            int rc = odx_gpu_add(f->g, i - st, data + st * (size_t)f->dim, seqs);
            if (rc) return rc;
        }
    }
    return 0;
}

void odx_coll_gpu_build(odx_engine *db, odx_coll *c, MDB_txn *txn)
{
    odx_coll_gpu_free(c);
    if (!db->gpu_on || !(c->desc.flags & ODX_COLL_GPU)) return;
    odx_gpu_options o;
    odx_gpu_options_init(&o);
    o.reserve = c->desc.count;
    odx_gpu_index *g;
    int rc = odx_gpu_create(c->desc.dim, c->desc.metric, &o, &g);
    if (!rc) {
        struct gpu_fill f = {g, &c->live, c->desc.dim};
        rc = odx_vstore_scan(txn, c->dbis.vec, c->desc.dim, c->per_block, fill_block, &f);
        if (rc) odx_gpu_free(g);
        else c->gpu = g;
    }
    if (rc) odx_log(ODX_LOG_WARN, "collection '%s': GPU index off (%s); searching on the CPU", c->name, odx_last_error());
}

void odx_coll_gpu_apply(odx_coll *c, uint64_t first_seq, size_t nadd, const float *vecs, const uint64_t *dead,
                        size_t ndead)
{
    if (!c->gpu) return;
    int rc = 0;
    if (nadd) {
        uint64_t *seqs = odx_malloc(nadd * sizeof *seqs);
        if (!seqs) rc = odx_error(ODX_ENOMEM, "out of memory");
        for (size_t i = 0; seqs && i < nadd; i++) seqs[i] = first_seq + i;
        if (!rc) rc = odx_gpu_add(c->gpu, nadd, vecs, seqs);
        odx_free(seqs);
    }
    if (!rc && ndead) rc = odx_gpu_remove(c->gpu, ndead, dead, NULL);
    if (rc) {
        odx_log(ODX_LOG_WARN, "collection '%s': GPU index dropped after a failed update (%s); CPU search continues",
                c->name, odx_last_error());
        odx_coll_gpu_free(c);
    }
}

int odx_coll_gpu_search(odx_coll *c, size_t nq, const float *q, int k, int nprobe, const odx_bitmap *members,
                        float *dist, uint64_t *seqs)
{
    if (!c->gpu) return ODX_EUNSUPPORTED;
    int rc = odx_gpu_search(c->gpu, nq, q, k, nprobe, members->w, members->nbits, ODX_GPU_PATH_AUTO, dist, seqs);
    if (rc && !odx_gpu_fallback(rc))
        odx_log(ODX_LOG_WARN, "collection '%s': GPU search failed (%s); answered on the CPU", c->name, odx_last_error());
    return rc;
}

#else /* CPU-only build */

int odx_gpu_open(odx_engine *db)
{
    (void)db;
    return odx_error(ODX_EUNSUPPORTED, "this omnidex was built without CUDA (build with make GPU=1)");
}
void odx_coll_gpu_free(odx_coll *c) { (void)c; }
void odx_coll_gpu_build(odx_engine *db, odx_coll *c, MDB_txn *txn) { (void)db; (void)c; (void)txn; }
void odx_coll_gpu_apply(odx_coll *c, uint64_t first_seq, size_t nadd, const float *vecs, const uint64_t *dead,
                        size_t ndead)
{
    (void)c; (void)first_seq; (void)nadd; (void)vecs; (void)dead; (void)ndead;
}
int odx_coll_gpu_search(odx_coll *c, size_t nq, const float *q, int k, int nprobe, const odx_bitmap *members,
                        float *dist, uint64_t *seqs)
{
    (void)c; (void)nq; (void)q; (void)k; (void)nprobe; (void)members; (void)dist; (void)seqs;
    return ODX_EUNSUPPORTED;
}

#endif
