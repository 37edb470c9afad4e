/* The LMDB side of omnidex: one environment per data directory, the catalog
 * of collections, and per collection the named databases
 *   <cid>.items  external id -> record
 *   <cid>.vec    block number -> packed float32 vectors (see vectors.c)
 *   <cid>.seq    seq (u64 BE) -> modality, external id   (present = live)
 *   <cid>.fields field\0 type value seq -> ""  (filter index, see fields.c)
 *   <cid>.log    lsn (u64 BE) -> op, seq      (change log)
 * LMDB is the source of truth; indexes are derived from it. */
#ifndef ODX_STORAGE_STORE_H
#define ODX_STORAGE_STORE_H
#include <lmdb.h>
#include <stdint.h>

#include "common/bitmap.h"
#include "common/filter.h"
#include "common/limits.h"
#include "common/meta.h"
#include "omnidex.h"

#define ODX_FORMAT_VERSION 2 /* 2: seq map values carry the modality */

/* Internal status: the LMDB map is full; the caller grows it and retries. */
#define ODX_EMAPFULL (-30999)

typedef struct odx_store odx_store;

typedef struct odx_coll_desc {
    uint32_t cid;
    int dim;
    odx_metric metric;
    char spec[128];    /* as created ("auto" or a factory string) */
    char space[128];   /* "" when none */
    int64_t created, updated;
    uint64_t next_seq; /* next sequence number to assign */
    uint64_t lsn;      /* last committed change */
    uint64_t count;    /* live items */
    uint32_t flags;    /* ODX_COLL_* */
} odx_coll_desc;

#define ODX_COLL_GPU 0x1u /* mirror the vectors on a GPU when the process has one */

typedef struct odx_coll_dbis {
    MDB_dbi items, vec, seqs, fields, log;
} odx_coll_dbis;

int odx_store_open(const char *dir, int readonly, odx_store **out);
/* For a read-only store: takes the writer lock if no writer process holds
 * it (0 and *fd), else ODX_EPRECOND; ODX_EREADONLY when the directory is not
 * writable. Release it with odx_store_writer_release(fd). */
int odx_store_writer_try(const odx_store *st, int *fd);
void odx_store_writer_release(int fd);
void odx_store_close(odx_store *st);
const char *odx_store_dir(const odx_store *st);
unsigned odx_store_page_size(const odx_store *st);

/* Transactions. Every transaction holds the store's resize lock (shared), so
 * that growing the map (exclusive) never races a live transaction. */
int odx_txn_begin(odx_store *st, int write, MDB_txn **txn);
void odx_txn_abort(odx_store *st, MDB_txn *txn);
int odx_txn_commit(odx_store *st, MDB_txn *txn);
/* Doubles the map size; call with no transaction of this thread open. */
int odx_store_grow(odx_store *st);
/* Maps an LMDB return code to an omnidex status with a message. */
int odx_mdb_err(int rc, const char *what);

/* Catalog. */
int odx_catalog_get(MDB_txn *txn, odx_store *st, const char *name, odx_coll_desc *d);
int odx_catalog_put(MDB_txn *txn, odx_store *st, const char *name, const odx_coll_desc *d);
int odx_catalog_del(MDB_txn *txn, odx_store *st, const char *name);
/* Names of all collections in key order: one allocation (odx_free). */
int odx_catalog_list(MDB_txn *txn, odx_store *st, char ***names, size_t *n);
int odx_catalog_next_cid(MDB_txn *txn, odx_store *st, uint32_t *cid);
int odx_coll_dbis_open(MDB_txn *txn, uint32_t cid, int create, odx_coll_dbis *out);
int odx_coll_dbis_drop(MDB_txn *txn, const odx_coll_dbis *d);

/* Records: external id -> record. */
typedef struct odx_rec {
    uint64_t seq;
    odx_modality modality;
    int64_t created, updated;
    const char *source; /* points into the LMDB value: valid for the txn */
    size_t source_len;
    const unsigned char *meta; /* encoded metadata, inside the LMDB value */
    size_t meta_len;
} odx_rec;

int odx_rec_get(MDB_txn *txn, MDB_dbi items, const char *id, size_t idlen, odx_rec *r);
int odx_rec_put(MDB_txn *txn, MDB_dbi items, const char *id, size_t idlen, uint64_t seq,
                odx_modality mod, int64_t created, int64_t updated, const char *source,
                const odx_meta *meta);
int odx_rec_del(MDB_txn *txn, MDB_dbi items, const char *id, size_t idlen);
/* seq -> modality and external id (the id points into the map; valid for
 * the txn). Keeping the modality here lets a search name its hits' ids and
 * modalities with one lookup each. */
int odx_seq_get(MDB_txn *txn, MDB_dbi seqs, uint64_t seq, odx_modality *mod, const char **id, size_t *idlen);
int odx_seq_put(MDB_txn *txn, MDB_dbi seqs, uint64_t seq, odx_modality mod, const char *id, size_t idlen);
int odx_seq_del(MDB_txn *txn, MDB_dbi seqs, uint64_t seq);
/* Sets bit seq in live for every live item (live must be sized). */
int odx_seq_scan_live(MDB_txn *txn, MDB_dbi seqs, odx_bitmap *live);

/* The vector store (odx_vstore_*, vectors.c): vectors packed in blocks so
 * that no vector wastes a page. Vector maths is odx_vec_* in common/util.h. */
uint32_t odx_vstore_per_block(int dim, unsigned page_size);
int odx_vstore_put(MDB_txn *txn, MDB_dbi vec, int dim, uint32_t per_block, uint64_t first_seq,
                   size_t n, const float *data);
/* A pointer into the map, valid for the txn. ODX_ENOTFOUND if absent. */
int odx_vstore_get(MDB_txn *txn, MDB_dbi vec, int dim, uint32_t per_block, uint64_t seq,
                   const float **out);
/* Calls fn for each stored block in seq order: (first_seq, count, data). */
typedef int (*odx_vstore_block_fn)(void *ctx, uint64_t first_seq, size_t n, const float *data);
int odx_vstore_scan(MDB_txn *txn, MDB_dbi vec, int dim, uint32_t per_block, odx_vstore_block_fn fn, void *ctx);
/* Deletes blocks (other than the last) whose every seq is dead. */
int odx_vstore_reclaim(MDB_txn *txn, MDB_dbi vec, int dim, uint32_t per_block, const odx_bitmap *live,
                       uint64_t next_seq, uint64_t *freed);
/* Bytes of LMDB pages used by the vectors database. */
int odx_dbi_bytes(MDB_txn *txn, MDB_dbi dbi, unsigned page_size, uint64_t *bytes);

/* The change log (odx_wal_*, records.c): lsn -> op, seq, replayed into the
 * index after its checkpoint. odx_log() is stderr logging (common/log.h). */
enum { ODX_WAL_ADD = 1, ODX_WAL_DEL = 2 };
int odx_wal_append(MDB_txn *txn, MDB_dbi log, uint64_t lsn, int op, uint64_t seq);
typedef int (*odx_wal_fn)(void *ctx, uint64_t lsn, int op, uint64_t seq);
/* Calls fn for entries with lsn > after, in order. *first receives the first
 * lsn present (> after) or 0, so callers can detect a truncated log. */
int odx_wal_scan(MDB_txn *txn, MDB_dbi log, uint64_t after, odx_wal_fn fn, void *ctx, uint64_t *first);
int odx_wal_truncate(MDB_txn *txn, MDB_dbi log, uint64_t upto);

/* Field index for filters. */
int odx_fields_add(MDB_txn *txn, MDB_dbi fields, uint64_t seq, odx_modality mod, const odx_meta *meta);
int odx_fields_del(MDB_txn *txn, MDB_dbi fields, uint64_t seq, odx_modality mod, const odx_meta *meta);
/* Evaluates f to the set of matching live seqs (out is sized to live's bits). */
int odx_fields_eval(MDB_txn *txn, MDB_dbi fields, const odx_filter *f, const odx_bitmap *live,
                    odx_bitmap *out);



/* A nested write transaction inside parent (no extra locking). */
int odx_txn_begin_child(odx_store *st, MDB_txn *parent, MDB_txn **txn);
#endif
