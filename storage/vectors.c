/* Vectors packed in blocks. A 512-d float32 vector is 2 KiB: stored one per
 * LMDB value it would take an overflow page of its own (4 KiB, 2x the raw
 * size). Instead block b holds the vectors of seqs [b*P, (b+1)*P), with P
 * chosen so that a full block fills 16 pages minus LMDB's overflow header:
 * about 1.03x the raw size at 512-d. Seqs only grow, so writes append to the
 * last block; deleted vectors stay until their whole block is dead
 * (odx_vstore_reclaim). */
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/util.h"
#include "storage/store.h"

uint32_t odx_vstore_per_block(int dim, unsigned page_size)
{
    size_t bytes = (size_t)16 * page_size - 16; /* LMDB's overflow page header */
    size_t vb = (size_t)dim * sizeof(float);
    size_t p = bytes / vb;
    return p ? (uint32_t)p : 1;
}

static void block_key(unsigned char *kb, uint64_t block) { odx_put_be64(kb, block); }

int odx_vstore_put(MDB_txn *txn, MDB_dbi vec, int dim, uint32_t per_block, uint64_t first_seq,
                   size_t n, const float *data)
{
    size_t vb = (size_t)dim * sizeof(float);
    while (n > 0) {
        uint64_t block = first_seq / per_block;
        size_t slot = first_seq % per_block;
        size_t take = per_block - slot;
        if (take > n) take = n;
        unsigned char kb[8];
        block_key(kb, block);
        MDB_val k = {8, kb}, old;
        size_t old_n = 0;
        int rc = mdb_get(txn, vec, &k, &old);
        if (rc == 0) old_n = old.mv_size / vb;
        else if (rc != MDB_NOTFOUND) return odx_mdb_err(rc, "reading vector block");
        if (old_n > slot) old_n = slot; /* overwritten tail: never happens with growing seqs */
        size_t new_n = slot + take;
        /* Copy the old prefix out first: MDB_RESERVE may move pages. */
        float *tmp = NULL;
        if (old_n) {
            tmp = odx_malloc(old_n * vb);
            if (!tmp) return odx_error(ODX_ENOMEM, "out of memory");
            memcpy(tmp, old.mv_data, old_n * vb);
        }
        MDB_val v = {new_n * vb, NULL};
        rc = mdb_put(txn, vec, &k, &v, MDB_RESERVE);
        if (rc) { odx_free(tmp); return odx_mdb_err(rc, "writing vector block"); }
        unsigned char *dst = v.mv_data;
        if (old_n) memcpy(dst, tmp, old_n * vb);
        if (slot > old_n) memset(dst + old_n * vb, 0, (slot - old_n) * vb);
        memcpy(dst + slot * vb, data, take * vb);
        odx_free(tmp);
        first_seq += take;
        data += take * (size_t)dim;
        n -= take;
    }
    return 0;
}

int odx_vstore_get(MDB_txn *txn, MDB_dbi vec, int dim, uint32_t per_block, uint64_t seq, const float **out)
{
    unsigned char kb[8];
    block_key(kb, seq / per_block);
    MDB_val k = {8, kb}, v;
    int rc = mdb_get(txn, vec, &k, &v);
    if (rc == MDB_NOTFOUND) return ODX_ENOTFOUND;
    if (rc) return odx_mdb_err(rc, "reading vector block");
    size_t vb = (size_t)dim * sizeof(float), slot = seq % per_block;
    if (v.mv_size % vb) return odx_error(ODX_ECORRUPT, "vector block has a bad size");
    if ((slot + 1) * vb > v.mv_size) return ODX_ENOTFOUND;
    *out = (const float *)((const unsigned char *)v.mv_data + slot * vb);
    return 0;
}

int odx_vstore_scan(MDB_txn *txn, MDB_dbi vec, int dim, uint32_t per_block, odx_vstore_block_fn fn, void *ctx)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, vec, &cur);
    if (rc) return odx_mdb_err(rc, "scanning vectors");
    size_t vb = (size_t)dim * sizeof(float);
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8 || v.mv_size % vb || v.mv_size / vb > per_block) {
            rc = odx_error(ODX_ECORRUPT, "malformed vector block");
            break;
        }
        if ((rc = fn(ctx, odx_get_be64(k.mv_data) * per_block, v.mv_size / vb, v.mv_data))) break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int odx_vstore_reclaim(MDB_txn *txn, MDB_dbi vec, int dim, uint32_t per_block, const odx_bitmap *live,
                       uint64_t next_seq, uint64_t *freed)
{
    (void)dim;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, vec, &cur);
    if (rc) return odx_mdb_err(rc, "reclaiming vector blocks");
    MDB_val k, v;
    uint64_t last_block = next_seq ? (next_seq - 1) / per_block : 0;
    *freed = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint64_t b = odx_get_be64(k.mv_data);
        if (b >= last_block) break;
        int any = 0;
        for (uint64_t s = b * per_block; s < (b + 1) * per_block && !any; s++) any = odx_bitmap_get(live, s);
        if (!any) {
            if ((rc = mdb_cursor_del(cur, 0))) break;
            (*freed)++;
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : odx_mdb_err(rc, "reclaiming vector blocks");
}
