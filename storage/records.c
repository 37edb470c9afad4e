/* Records (external id -> record), the seq map, and the change log. */
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/util.h"
#include "storage/store.h"

/* Record encoding: u8 version, u64 seq, u8 modality, i64 created,
 * i64 updated, u16 source_len, source, metadata (meta.c encoding). */
int odx_rec_put(MDB_txn *txn, MDB_dbi items, const char *id, size_t idlen, uint64_t seq,
                odx_modality mod, int64_t created, int64_t updated, const char *source,
                const odx_meta *meta)
{
    unsigned char *b = NULL;
    size_t len = 0, cap = 0, sl = source ? strlen(source) : 0;
    unsigned char h[28];
    h[0] = 1;
    odx_put_be64(h + 1, seq);
    h[9] = (unsigned char)mod;
    odx_put_be64(h + 10, (uint64_t)created);
    odx_put_be64(h + 18, (uint64_t)updated);
    h[26] = (unsigned char)(sl >> 8);
    h[27] = (unsigned char)sl;
    int rc = odx_buf_append((char **)&b, &len, &cap, (const char *)h, sizeof h);
    if (!rc && sl) rc = odx_buf_append((char **)&b, &len, &cap, source, sl);
    if (!rc) rc = odx_meta_encode(meta, &b, &len, &cap);
    if (rc) { odx_free(b); return rc; }
    MDB_val k = {idlen, (void *)id}, v = {len, b};
    rc = mdb_put(txn, items, &k, &v, 0);
    odx_free(b);
    return odx_mdb_err(rc, "writing record");
}

int odx_rec_get(MDB_txn *txn, MDB_dbi items, const char *id, size_t idlen, odx_rec *r)
{
    MDB_val k = {idlen, (void *)id}, v;
    int rc = mdb_get(txn, items, &k, &v);
    if (rc == MDB_NOTFOUND) return ODX_ENOTFOUND; /* callers word the message */
    if (rc) return odx_mdb_err(rc, "reading record");
    const unsigned char *b = v.mv_data;
    if (v.mv_size < 28 || b[0] != 1) return odx_error(ODX_ECORRUPT, "record '%.*s' is malformed", (int)idlen, id);
    r->seq = odx_get_be64(b + 1);
    r->modality = (odx_modality)b[9];
    r->created = (int64_t)odx_get_be64(b + 10);
    r->updated = (int64_t)odx_get_be64(b + 18);
    r->source_len = ((size_t)b[26] << 8) | b[27];
    if (28 + r->source_len > v.mv_size || r->modality >= ODX_MODALITY_COUNT)
        return odx_error(ODX_ECORRUPT, "record '%.*s' is malformed", (int)idlen, id);
    r->source = (const char *)b + 28;
    r->meta = b + 28 + r->source_len;
    r->meta_len = v.mv_size - 28 - r->source_len;
    return 0;
}

int odx_rec_del(MDB_txn *txn, MDB_dbi items, const char *id, size_t idlen)
{
    MDB_val k = {idlen, (void *)id};
    return odx_mdb_err(mdb_del(txn, items, &k, NULL), "deleting record");
}

int odx_seq_get(MDB_txn *txn, MDB_dbi seqs, uint64_t seq, odx_modality *mod, const char **id, size_t *idlen)
{
    unsigned char kb[8];
    odx_put_be64(kb, seq);
    MDB_val k = {8, kb}, v;
    int rc = mdb_get(txn, seqs, &k, &v);
    if (rc == MDB_NOTFOUND) return ODX_ENOTFOUND;
    if (rc) return odx_mdb_err(rc, "reading seq map");
    const unsigned char *b = v.mv_data;
    if (v.mv_size < 2 || b[0] >= ODX_MODALITY_COUNT) return odx_error(ODX_ECORRUPT, "malformed seq map entry");
    *mod = (odx_modality)b[0];
    *id = (const char *)b + 1;
    *idlen = v.mv_size - 1;
    return 0;
}

int odx_seq_put(MDB_txn *txn, MDB_dbi seqs, uint64_t seq, odx_modality mod, const char *id, size_t idlen)
{
    unsigned char kb[8], vb[1 + ODX_MAX_ID_LEN];
    if (idlen > ODX_MAX_ID_LEN) return odx_error(ODX_EINVAL, "id longer than %d bytes", ODX_MAX_ID_LEN);
    odx_put_be64(kb, seq);
    vb[0] = (unsigned char)mod;
    memcpy(vb + 1, id, idlen);
    MDB_val k = {8, kb}, v = {idlen + 1, vb};
    /* Seqs only grow, so appending keeps the B-tree pages full. */
    int rc = mdb_put(txn, seqs, &k, &v, MDB_APPEND);
    if (rc == MDB_KEYEXIST) rc = mdb_put(txn, seqs, &k, &v, 0);
    return odx_mdb_err(rc, "writing seq map");
}

int odx_seq_del(MDB_txn *txn, MDB_dbi seqs, uint64_t seq)
{
    unsigned char kb[8];
    odx_put_be64(kb, seq);
    MDB_val k = {8, kb};
    int rc = mdb_del(txn, seqs, &k, NULL);
    if (rc == MDB_NOTFOUND) return 0;
    return odx_mdb_err(rc, "deleting from seq map");
}

int odx_seq_scan_live(MDB_txn *txn, MDB_dbi seqs, odx_bitmap *live)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, seqs, &cur);
    if (rc) return odx_mdb_err(rc, "scanning seq map");
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8) { mdb_cursor_close(cur); return odx_error(ODX_ECORRUPT, "malformed seq key"); }
        uint64_t s = odx_get_be64(k.mv_data);
        if (s >= live->nbits) { mdb_cursor_close(cur); return odx_error(ODX_ECORRUPT, "seq %llu beyond next_seq", (unsigned long long)s); }
        odx_bitmap_set(live, s);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : odx_mdb_err(rc, "scanning seq map");
}

int odx_wal_append(MDB_txn *txn, MDB_dbi log, uint64_t lsn, int op, uint64_t seq)
{
    unsigned char kb[8], vb[9];
    odx_put_be64(kb, lsn);
    vb[0] = (unsigned char)op;
    odx_put_be64(vb + 1, seq);
    MDB_val k = {8, kb}, v = {9, vb};
    int rc = mdb_put(txn, log, &k, &v, MDB_APPEND);
    if (rc == MDB_KEYEXIST) return odx_error(ODX_ECORRUPT, "change log already holds lsn %llu", (unsigned long long)lsn);
    return odx_mdb_err(rc, "appending to change log");
}

int odx_wal_scan(MDB_txn *txn, MDB_dbi log, uint64_t after, odx_wal_fn fn, void *ctx, uint64_t *first)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, log, &cur);
    if (rc) return odx_mdb_err(rc, "reading change log");
    unsigned char kb[8];
    odx_put_be64(kb, after + 1);
    MDB_val k = {8, kb}, v;
    *first = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); !rc; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8 || v.mv_size != 9) { rc = odx_error(ODX_ECORRUPT, "malformed change log entry"); break; }
        uint64_t lsn = odx_get_be64(k.mv_data);
        if (!*first) *first = lsn;
        const unsigned char *b = v.mv_data;
        if ((rc = fn(ctx, lsn, b[0], odx_get_be64(b + 1)))) break;
    }
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND) return 0;
    return rc;
}

int odx_wal_truncate(MDB_txn *txn, MDB_dbi log, uint64_t upto)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, log, &cur);
    if (rc) return odx_mdb_err(rc, "truncating change log");
    MDB_val k, v;
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0) {
        if (k.mv_size != 8 || odx_get_be64(k.mv_data) > upto) break;
        if ((rc = mdb_cursor_del(cur, 0))) break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : odx_mdb_err(rc, "truncating change log");
}

int odx_dbi_bytes(MDB_txn *txn, MDB_dbi dbi, unsigned page_size, uint64_t *bytes)
{
    MDB_stat s;
    int rc = mdb_stat(txn, dbi, &s);
    if (rc) return odx_mdb_err(rc, "stat");
    *bytes = (uint64_t)(s.ms_branch_pages + s.ms_leaf_pages + s.ms_overflow_pages) * page_size;
    return 0;
}
