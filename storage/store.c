/* LMDB environment, transactions with transparent map growth, and the catalog. */
#include "storage/store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/log.h"
#include "common/util.h"

struct odx_store {
    MDB_env *env;
    MDB_dbi meta, catalog;
    char *dir;
    int lockfd;
    int readonly;
    unsigned psize;
    pthread_rwlock_t resize; /* shared by transactions, exclusive to grow */
};

int odx_mdb_err(int rc, const char *what)
{
    switch (rc) {
    case 0: return 0;
    case MDB_MAP_FULL: return ODX_EMAPFULL;
    case MDB_NOTFOUND: return odx_error(ODX_ENOTFOUND, "%s: not found", what);
    case ENOSPC:
    case EDQUOT: return odx_error(ODX_EFULL, "%s: disk full (%s); reads still work", what, strerror(rc));
    case ENOMEM: return odx_error(ODX_ENOMEM, "%s: out of memory", what);
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID: return odx_error(ODX_ECORRUPT, "%s: %s", what, mdb_strerror(rc));
    case MDB_VERSION_MISMATCH: return odx_error(ODX_EVERSION, "%s: %s", what, mdb_strerror(rc));
    case MDB_READERS_FULL:
    case MDB_TXN_FULL:
    case MDB_DBS_FULL: return odx_error(ODX_ELIMIT, "%s: %s", what, mdb_strerror(rc));
    default:
        if (rc > 0) return odx_error(ODX_EIO, "%s: %s", what, strerror(rc));
        return odx_error(ODX_EINTERNAL, "%s: %s", what, mdb_strerror(rc));
    }
}

const char *odx_store_dir(const odx_store *st) { return st->dir; }
unsigned odx_store_page_size(const odx_store *st) { return st->psize; }

/* One writer process per data directory: a writer holds an exclusive flock
 * on LOCK for its lifetime. Readers take no lock at all: LMDB serves any
 * number of reader processes beside one writer (its own lock.mdb), and index
 * checkpoints are replaced by rename, so a reader always loads a whole one.
 * A writer that finds LOCK held retries for a few seconds: a reader may hold
 * it briefly while saving a checkpoint it rebuilt (odx_store_writer_try). */
static int take_writer_lock(const char *dir, int wait_ms, int *fd_out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/LOCK", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return odx_error(errno == EACCES || errno == EROFS ? ODX_EREADONLY : ODX_EIO, "cannot open %s: %s", path, strerror(errno));
    for (int waited = 0;; waited += 50) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            *fd_out = fd;
            return 0;
        }
        if (errno != EWOULDBLOCK) {
            int e = errno;
            close(fd);
            return odx_error(ODX_EIO, "cannot lock %s: %s", path, strerror(e));
        }
        if (waited >= wait_ms) break;
        usleep(50 * 1000);
    }
    close(fd);
    return odx_error(ODX_EPRECOND,
                     "data directory %s is in use by another omnidex process that writes to it "
                     "(a server? use --server HOST:PORT to reach it; reading commands work beside it)",
                     dir);
}

static int lock_dir(odx_store *st)
{
    if (st->readonly) return 0;
    return take_writer_lock(st->dir, 3000, &st->lockfd);
}

int odx_store_writer_try(const odx_store *st, int *fd)
{
    if (!st->readonly) return odx_error(ODX_EINVAL, "this handle is the writer");
    return take_writer_lock(st->dir, 0, fd);
}

void odx_store_writer_release(int fd)
{
    if (fd >= 0) close(fd); /* closing drops the flock */
}

void odx_store_close(odx_store *st)
{
    if (!st) return;
    if (st->env) mdb_env_close(st->env);
    if (st->lockfd >= 0) close(st->lockfd);
    pthread_rwlock_destroy(&st->resize);
    odx_free(st->dir);
    odx_free(st);
}

static int check_format(odx_store *st, MDB_txn *txn)
{
    MDB_val k = {6, "format"}, v;
    int rc = mdb_get(txn, st->meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        if (st->readonly) return odx_error(ODX_ECORRUPT, "%s: no format record", st->dir);
        unsigned char b[4];
        odx_put_be32(b, ODX_FORMAT_VERSION);
        MDB_val nv = {4, b};
        return odx_mdb_err(mdb_put(txn, st->meta, &k, &nv, 0), "writing format version");
    }
    if (rc) return odx_mdb_err(rc, "reading format version");
    if (v.mv_size != 4) return odx_error(ODX_ECORRUPT, "%s: malformed format record", st->dir);
    uint32_t ver = odx_get_be32(v.mv_data);
    if (ver < ODX_FORMAT_VERSION)
        return odx_error(ODX_EVERSION,
                         "%s has on-disk format %u, written by a pre-release omnidex; this one reads format %d: "
                         "re-create it (omnidex put from your source files)",
                         st->dir, ver, ODX_FORMAT_VERSION);
    if (ver > ODX_FORMAT_VERSION)
        return odx_error(ODX_EVERSION,
                         "%s has on-disk format %u; this omnidex (%s) reads format %d or older: upgrade omnidex",
                         st->dir, ver, OMNIDEX_VERSION_STRING, ODX_FORMAT_VERSION);
    return 0;
}

int odx_store_open(const char *dir, int readonly, odx_store **out)
{
    odx_store *st = odx_calloc(1, sizeof *st);
    if (!st) return odx_error(ODX_ENOMEM, "out of memory");
    st->lockfd = -1;
    st->readonly = readonly;
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&st->resize, &attr);
    pthread_rwlockattr_destroy(&attr);
    int rc;
    if (!(st->dir = odx_strdup(dir))) { rc = odx_error(ODX_ENOMEM, "out of memory"); goto fail; }
    if ((rc = lock_dir(st))) goto fail;

    char path[4096];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    struct stat sb;
    size_t mapsize = (size_t)1 << 30;
    /* Tests pin a small initial map to exercise growth. */
    const char *mapenv = getenv("OMNIDEX_INITIAL_MAP_MB");
    long mb = mapenv ? strtol(mapenv, NULL, 10) : 0;
    if (mb > 0 && mb < (1L << 24)) mapsize = (size_t)mb << 20;
    if (stat(path, &sb) == 0) {
        while (mapsize < (size_t)sb.st_size * 2) mapsize *= 2;
    } else if (readonly) {
        rc = odx_error(ODX_ENOTFOUND, "%s is not an omnidex data directory (no data.mdb)", dir);
        goto fail;
    }
    if ((rc = mdb_env_create(&st->env))) { rc = odx_mdb_err(rc, "creating LMDB environment"); goto fail; }
    mdb_env_set_maxdbs(st->env, ODX_MAX_COLLECTIONS * 5 + 8);
    mdb_env_set_mapsize(st->env, mapsize);
    mdb_env_set_maxreaders(st->env, 1024);
    rc = mdb_env_open(st->env, dir, MDB_NOTLS | MDB_NORDAHEAD | (readonly ? MDB_RDONLY : 0), 0644);
    if (rc) {
        rc = odx_mdb_err(rc, "opening LMDB environment");
        odx_error_wrap(rc, "%s", dir);
        goto fail;
    }
    MDB_stat ms;
    mdb_env_stat(st->env, &ms);
    st->psize = ms.ms_psize;

    MDB_txn *txn;
    if ((rc = mdb_txn_begin(st->env, NULL, readonly ? MDB_RDONLY : 0, &txn))) {
        rc = odx_mdb_err(rc, "opening data directory");
        goto fail;
    }
    unsigned fl = readonly ? 0 : MDB_CREATE;
    if ((rc = mdb_dbi_open(txn, "meta", fl, &st->meta)) || (rc = mdb_dbi_open(txn, "catalog", fl, &st->catalog))) {
        mdb_txn_abort(txn);
        rc = rc == MDB_NOTFOUND ? odx_error(ODX_ECORRUPT, "%s: missing meta/catalog databases", dir)
                                : odx_mdb_err(rc, "opening catalog");
        goto fail;
    }
    if ((rc = check_format(st, txn))) { mdb_txn_abort(txn); goto fail; }
    if ((rc = mdb_txn_commit(txn))) { rc = odx_mdb_err(rc, "initialising data directory"); goto fail; }
    *out = st;
    return 0;
fail:
    odx_store_close(st);
    return rc;
}

int odx_txn_begin(odx_store *st, int write, MDB_txn **txn)
{
    if (write && st->readonly) return odx_error(ODX_EREADONLY, "data directory opened read-only");
    pthread_rwlock_rdlock(&st->resize);
    int rc = mdb_txn_begin(st->env, NULL, write ? 0 : MDB_RDONLY, txn);
    if (rc == MDB_MAP_RESIZED) {
        /* Another process (the writer) grew the map: adopt its size, with
         * no transaction of ours active, and begin again. */
        pthread_rwlock_unlock(&st->resize);
        pthread_rwlock_wrlock(&st->resize);
        mdb_env_set_mapsize(st->env, 0);
        pthread_rwlock_unlock(&st->resize);
        pthread_rwlock_rdlock(&st->resize);
        rc = mdb_txn_begin(st->env, NULL, write ? 0 : MDB_RDONLY, txn);
    }
    if (rc) {
        pthread_rwlock_unlock(&st->resize);
        return odx_mdb_err(rc, write ? "beginning write transaction" : "beginning read transaction");
    }
    return 0;
}

void odx_txn_abort(odx_store *st, MDB_txn *txn)
{
    if (!txn) return;
    mdb_txn_abort(txn);
    pthread_rwlock_unlock(&st->resize);
}

/* LMDB reports a write cut short by a full filesystem as EIO ("short
 * write, filesystem full?"); tell that case apart by the free space left. */
static int disk_nearly_full(const char *dir)
{
    struct statvfs v;
    if (statvfs(dir, &v) != 0) return 0;
    return (uint64_t)v.f_bavail * v.f_frsize < ((uint64_t)16 << 20);
}

int odx_txn_commit(odx_store *st, MDB_txn *txn)
{
    int rc = mdb_txn_commit(txn);
    pthread_rwlock_unlock(&st->resize);
    if (rc == EIO && disk_nearly_full(st->dir))
        return odx_error(ODX_EFULL, "committing transaction: disk full (%s has under 16 MiB free); reads still work",
                         st->dir);
    return rc ? odx_mdb_err(rc, "committing transaction") : 0;
}

int odx_store_grow(odx_store *st)
{
    pthread_rwlock_wrlock(&st->resize);
    MDB_envinfo info;
    mdb_env_info(st->env, &info);
    size_t ns = info.me_mapsize * 2;
    int rc = mdb_env_set_mapsize(st->env, ns);
    pthread_rwlock_unlock(&st->resize);
    if (rc) return odx_mdb_err(rc, "growing the LMDB map");
    odx_log(ODX_LOG_DEBUG, "LMDB map grown to %zu MiB", ns >> 20);
    return 0;
}

/* ---- catalog ---- */

/* Descriptor encoding: u8 version, u32 cid, u32 dim, u8 metric, u8 speclen,
 * spec, u8 spacelen, space, i64 created, i64 updated, u64 next_seq, u64 lsn,
 * u64 count, u32 flags (older entries end before the flags: 0). */
int odx_catalog_put(MDB_txn *txn, odx_store *st, const char *name, const odx_coll_desc *d)
{
    unsigned char b[512];
    size_t o = 0, sl = strlen(d->spec), pl = strlen(d->space);
    b[o++] = 1;
    odx_put_be32(b + o, d->cid); o += 4;
    odx_put_be32(b + o, (uint32_t)d->dim); o += 4;
    b[o++] = (unsigned char)d->metric;
    b[o++] = (unsigned char)sl; memcpy(b + o, d->spec, sl); o += sl;
    b[o++] = (unsigned char)pl; memcpy(b + o, d->space, pl); o += pl;
    odx_put_be64(b + o, (uint64_t)d->created); o += 8;
    odx_put_be64(b + o, (uint64_t)d->updated); o += 8;
    odx_put_be64(b + o, d->next_seq); o += 8;
    odx_put_be64(b + o, d->lsn); o += 8;
    odx_put_be64(b + o, d->count); o += 8;
    odx_put_be32(b + o, d->flags); o += 4;
    MDB_val k = {strlen(name), (void *)name}, v = {o, b};
    return odx_mdb_err(mdb_put(txn, st->catalog, &k, &v, 0), "writing catalog");
}

int odx_catalog_get(MDB_txn *txn, odx_store *st, const char *name, odx_coll_desc *d)
{
    MDB_val k = {strlen(name), (void *)name}, v;
    int rc = mdb_get(txn, st->catalog, &k, &v);
    if (rc == MDB_NOTFOUND) return odx_error(ODX_ENOTFOUND, "no collection named '%s'", name);
    if (rc) return odx_mdb_err(rc, "reading catalog");
    const unsigned char *b = v.mv_data;
    size_t n = v.mv_size, o = 0;
    memset(d, 0, sizeof *d);
#define NEED(k) do { if (o + (k) > n) goto corrupt; } while (0)
    NEED(11);
    if (b[0] != 1) goto corrupt;
    o = 1;
    d->cid = odx_get_be32(b + o); o += 4;
    d->dim = (int)odx_get_be32(b + o); o += 4;
    d->metric = (odx_metric)b[o++];
    size_t sl = b[o++];
    NEED(sl + 1);
    if (sl >= sizeof d->spec) goto corrupt;
    memcpy(d->spec, b + o, sl); o += sl;
    size_t pl = b[o++];
    NEED(pl + 40);
    if (pl >= sizeof d->space) goto corrupt;
    memcpy(d->space, b + o, pl); o += pl;
    d->created = (int64_t)odx_get_be64(b + o); o += 8;
    d->updated = (int64_t)odx_get_be64(b + o); o += 8;
    d->next_seq = odx_get_be64(b + o); o += 8;
    d->lsn = odx_get_be64(b + o); o += 8;
    d->count = odx_get_be64(b + o); o += 8;
    if (o + 4 <= n) d->flags = odx_get_be32(b + o); /* absent in early entries */
    if (d->dim <= 0 || d->dim > ODX_MAX_DIM || d->metric > ODX_METRIC_L2) goto corrupt;
    return 0;
#undef NEED
corrupt:
    return odx_error(ODX_ECORRUPT, "catalog entry of '%s' is malformed", name);
}

int odx_catalog_del(MDB_txn *txn, odx_store *st, const char *name)
{
    MDB_val k = {strlen(name), (void *)name};
    return odx_mdb_err(mdb_del(txn, st->catalog, &k, NULL), "deleting catalog entry");
}

int odx_catalog_list(MDB_txn *txn, odx_store *st, char ***names, size_t *n)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, st->catalog, &cur);
    if (rc) return odx_mdb_err(rc, "listing collections");
    size_t count = 0, bytes = 0;
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        count++;
        bytes += k.mv_size + 1;
    }
    char **out = odx_malloc((count + 1) * sizeof(char *) + bytes);
    if (!out) { mdb_cursor_close(cur); return odx_error(ODX_ENOMEM, "out of memory"); }
    char *s = (char *)(out + count + 1);
    size_t i = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc && i < count; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        out[i++] = s;
        memcpy(s, k.mv_data, k.mv_size);
        s[k.mv_size] = '\0';
        s += k.mv_size + 1;
    }
    out[i] = NULL;
    mdb_cursor_close(cur);
    *names = out;
    *n = i;
    return 0;
}

int odx_catalog_next_cid(MDB_txn *txn, odx_store *st, uint32_t *cid)
{
    MDB_val k = {8, "next_cid"}, v;
    uint32_t next = 1;
    int rc = mdb_get(txn, st->meta, &k, &v);
    if (rc == 0 && v.mv_size == 4) next = odx_get_be32(v.mv_data);
    else if (rc && rc != MDB_NOTFOUND) return odx_mdb_err(rc, "reading next collection id");
    unsigned char b[4];
    odx_put_be32(b, next + 1);
    MDB_val nv = {4, b};
    if ((rc = mdb_put(txn, st->meta, &k, &nv, 0))) return odx_mdb_err(rc, "writing next collection id");
    *cid = next;
    return 0;
}

int odx_coll_dbis_open(MDB_txn *txn, uint32_t cid, int create, odx_coll_dbis *out)
{
    static const char *suffix[5] = {"items", "vec", "seq", "fields", "log"};
    MDB_dbi *slots[5] = {&out->items, &out->vec, &out->seqs, &out->fields, &out->log};
    for (int i = 0; i < 5; i++) {
        char name[32];
        snprintf(name, sizeof name, "%u.%s", cid, suffix[i]);
        int rc = mdb_dbi_open(txn, name, create ? MDB_CREATE : 0, slots[i]);
        if (rc == MDB_NOTFOUND) return odx_error(ODX_ECORRUPT, "collection %u: database %s missing", cid, name);
        if (rc) return odx_mdb_err(rc, "opening collection databases");
    }
    return 0;
}

int odx_coll_dbis_drop(MDB_txn *txn, const odx_coll_dbis *d)
{
    MDB_dbi all[5] = {d->items, d->vec, d->seqs, d->fields, d->log};
    for (int i = 0; i < 5; i++) {
        int rc = mdb_drop(txn, all[i], 1);
        if (rc) return odx_mdb_err(rc, "dropping collection databases");
    }
    return 0;
}

int odx_txn_begin_child(odx_store *st, MDB_txn *parent, MDB_txn **txn)
{
    return odx_mdb_err(mdb_txn_begin(st->env, parent, 0, txn), "beginning nested transaction");
}
