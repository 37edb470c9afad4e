/* The collection index over FAISS's C API. FAISS labels are positions; the
 * pos2seq array maps them to omnidex seqs, so any FAISS index type works the
 * same way (no IndexIDMap, whose 1.7.3 search rejects parameters). */
#include "index/index.h"

#include <errno.h>
#include <faiss/c_api/AutoTune_c.h>
#include <faiss/c_api/Index_c.h>
#include <faiss/c_api/error_c.h>
#include <faiss/c_api/index_factory_c.h>
#include <faiss/c_api/index_io_c.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "index/faiss_ext.h"

struct odx_index {
    FaissIndex *fx;
    int dim;
    odx_metric metric;
    char factory[128];
    uint64_t *pos2seq;
    size_t n, cap;
};

/* FAISS messages read "Error in <C++ signature> at <build path>:<line>:
 * <what>", and an assertion's <what> is "Error: '<expr>' failed[: <why>]".
 * The user gets <what> (or <why>) only: a signature and a path on the build
 * machine mean nothing to them. Multi-line messages become one line. */
static int faiss_err(const char *what)
{
    const char *m = faiss_get_last_error();
    char msg[600];
    snprintf(msg, sizeof msg, "%s", m ? m : "unknown FAISS error");
    for (char *c = msg; *c; c++) if (*c == '\n') *c = ' ';
    const char *t = msg;
    if (!strncmp(t, "Error in ", 9)) {
        const char *at = strstr(t, " at ");
        const char *colon = at ? strchr(at + 4, ':') : NULL; /* after the path, before the line */
        if (colon && colon[1] >= '0' && colon[1] <= '9') {
            const char *e = colon + 1;
            while (*e >= '0' && *e <= '9') e++;
            if (*e == ':') t = e + 1;
        }
        while (*t == ' ') t++;
    }
    if (!strncmp(t, "Error: '", 8)) {
        const char *why = strstr(t, "' failed: ");
        t = why ? why + 10 : t + 7;
    }
    return odx_error(ODX_EINDEX, "%s: %s", what, *t ? t : "FAISS reported an error");
}

static FaissMetricType faiss_metric(odx_metric m)
{
    return m == ODX_METRIC_L2 ? METRIC_L2 : METRIC_INNER_PRODUCT;
}

/* Default nprobe for an IVF index: about nlist/64, at least 8. */
static int default_nprobe(const char *spec)
{
    const char *p = strstr(spec, "IVF");
    if (!p) return 0;
    long nlist = strtol(p + 3, NULL, 10);
    long np = nlist / 64;
    if (np < 8) np = 8;
    if (np > nlist) np = nlist;
    return (int)np;
}

void odx_index_free(odx_index *ix)
{
    if (!ix) return;
    if (ix->fx) faiss_Index_free(ix->fx);
    odx_free(ix->pos2seq);
    odx_free(ix);
}

/* Parses an unsigned decimal at *p (advancing it); -1 when there is none or
 * it passes max. */
static long spec_num(const char **p, long max)
{
    if (**p < '0' || **p > '9') return -1;
    long v = 0;
    while (**p >= '0' && **p <= '9') {
        v = v * 10 + (**p - '0');
        if (v > max) return -1;
        (*p)++;
    }
    return v;
}

/* "e.g. PQ4 or PQ8": the divisors of dim nearest to m, for a message. */
static void near_divisors(const char *kind, long m, int dim, char *out, size_t len)
{
    long lo = m - 1, hi = m + 1;
    while (lo > 1 && dim % lo) lo--;
    while (hi < dim && dim % hi) hi++;
    if (lo >= 1 && hi <= dim) snprintf(out, len, "%s%ld or %s%ld", kind, lo, kind, hi);
    else snprintf(out, len, "%s%ld", kind, lo >= 1 ? lo : hi);
}

enum { SPEC_OK, SPEC_SYNTAX, SPEC_DIM };

/* The index specs omnidex accepts, checked before FAISS sees them: FAISS's
 * factory takes sizes on trust (IVF999999999 asks for tens of GB) and
 * asserts on shapes that do not fit the dimension (PQ5 on 16-d) with a C++
 * signature and a build path. *dim is the dimension reaching this
 * component: PCA and OPQ change it for the ones after them. */
static int spec_component_ok(const char *c, size_t n, int *dimp, char *why, size_t wlen)
{
    char t[64], alt[64];
    int dim = *dimp;
    if (n == 0 || n >= sizeof t) { snprintf(why, wlen, "empty or overlong component"); return SPEC_SYNTAX; }
    memcpy(t, c, n);
    t[n] = 0;
    const char *p = t;
    long v;
    if (!strcmp(t, "Flat") || !strcmp(t, "L2norm") || !strcmp(t, "SQ4") || !strcmp(t, "SQ6") || !strcmp(t, "SQ8") ||
        !strcmp(t, "SQfp16"))
        return SPEC_OK;
    if (!strncmp(t, "HNSW", 4)) {
        p += 4;
        if ((v = spec_num(&p, 128)) < 2 || *p) { snprintf(why, wlen, "HNSW<M> needs M in 2..128"); return SPEC_SYNTAX; }
        return SPEC_OK;
    }
    if (!strncmp(t, "IVF", 3)) {
        p += 3;
        if ((v = spec_num(&p, 262144)) < 1 || *p) { snprintf(why, wlen, "IVF<nlist> needs nlist in 1..262144"); return SPEC_SYNTAX; }
        return SPEC_OK;
    }
    if (!strncmp(t, "OPQ", 3) || !strncmp(t, "PCAR", 4) || !strncmp(t, "PCA", 3)) {
        int opq = !strncmp(t, "OPQ", 3);
        p += opq ? 3 : !strncmp(t, "PCAR", 4) ? 4 : 3;
        if ((v = spec_num(&p, dim)) < 1) { snprintf(why, wlen, "%.4s<n> needs n in 1..%d here", t, dim); return SPEC_DIM; }
        long out = opq ? dim : v;
        if (*p == '_') {
            p++;
            if ((out = spec_num(&p, dim)) < 1) { snprintf(why, wlen, "output dimension must be 1..%d here", dim); return SPEC_DIM; }
        }
        if (*p) { snprintf(why, wlen, "trailing characters"); return SPEC_SYNTAX; }
        if (opq && out % v) {
            near_divisors("OPQ", v, (int)out, alt, sizeof alt);
            snprintf(why, wlen, "OPQ<m> needs m to divide its %ld output dimensions (e.g. %s)", out, alt);
            return SPEC_DIM;
        }
        *dimp = (int)out;
        return SPEC_OK;
    }
    if (!strncmp(t, "PQ", 2)) {
        p += 2;
        if ((v = spec_num(&p, dim)) < 1) { snprintf(why, wlen, "PQ<m> needs m in 1..%d here", dim); return SPEC_DIM; }
        if (*p == 'x') {
            p++;
            long b = spec_num(&p, 16);
            if (b < 1 || b > 12) { snprintf(why, wlen, "PQ<m>x<bits> needs bits in 1..12"); return SPEC_SYNTAX; }
        }
        if (!strcmp(p, "np")) p += 2;
        if (*p) { snprintf(why, wlen, "trailing characters"); return SPEC_SYNTAX; }
        if (dim % v) {
            near_divisors("PQ", v, dim, alt, sizeof alt);
            snprintf(why, wlen, "PQ<m> splits vectors into m equal parts, so m must divide the %d dimensions it "
                     "receives (e.g. %s)", dim, alt);
            return SPEC_DIM;
        }
        return SPEC_OK;
    }
    snprintf(why, wlen, "unsupported component");
    return SPEC_SYNTAX;
}

/* The parts of a spec: the FAISS factory string (the components without
 * '='), and omnidex's own parameters (efC=, efS=), which FAISS's factory
 * does not take. */
typedef struct {
    char factory[128];
    int hnsw;      /* an HNSW<M> component is present */
    int efc, efs;  /* 0: not given */
} spec_parts;

/* Reads "efC=200" / "efS=64" (or efConstruction= / efSearch=) into sp. */
static int spec_param_ok(const char *c, size_t n, spec_parts *sp, char *why, size_t wlen)
{
    const char *eq = memchr(c, '=', n);
    size_t kl = (size_t)(eq - c);
    int *slot;
    long max;
    const char *name;
    if ((kl == 3 && !strncmp(c, "efC", 3)) || (kl == 14 && !strncmp(c, "efConstruction", 14))) {
        slot = &sp->efc, max = ODX_HNSW_EFC_MAX, name = "efC";
    } else if ((kl == 3 && !strncmp(c, "efS", 3)) || (kl == 8 && !strncmp(c, "efSearch", 8))) {
        slot = &sp->efs, max = ODX_HNSW_EFS_MAX, name = "efS";
    } else {
        snprintf(why, wlen, "unknown parameter (efC=<n>, efS=<n>)");
        return 0;
    }
    char t[16];
    size_t vl = n - kl - 1;
    if (vl == 0 || vl >= sizeof t) { snprintf(why, wlen, "%s needs a value in 1..%ld", name, max); return 0; }
    memcpy(t, eq + 1, vl);
    t[vl] = 0;
    const char *p = t;
    long v = spec_num(&p, max);
    if (v < 1 || *p) { snprintf(why, wlen, "%s needs a value in 1..%ld", name, max); return 0; }
    if (*slot) { snprintf(why, wlen, "%s given twice", name); return 0; }
    *slot = (int)v;
    return 1;
}

/* Splits and checks spec. 0, or ODX_EINVAL with the reason in the error
 * message. */
static int spec_parse(const char *spec, int dim, spec_parts *sp)
{
    memset(sp, 0, sizeof *sp);
    if (strlen(spec) >= sizeof sp->factory) return odx_error(ODX_EINVAL, "index spec longer than 127 characters");
    size_t flen = 0;
    const char *s = spec;
    int cur = dim;
    for (;;) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        char why[160];
        int bad;
        if (n && memchr(s, '=', n)) {
            bad = spec_param_ok(s, n, sp, why, sizeof why) ? SPEC_OK : SPEC_SYNTAX;
        } else {
            bad = spec_component_ok(s, n, &cur, why, sizeof why);
            if (bad == SPEC_OK) {
                if (n >= 4 && !strncmp(s, "HNSW", 4)) sp->hnsw = 1;
                if (flen) sp->factory[flen++] = ',';
                memcpy(sp->factory + flen, s, n);
                flen += n;
                sp->factory[flen] = 0;
            }
        }
        if (bad == SPEC_DIM && n == strlen(spec))
            return odx_error(ODX_EINVAL, "index spec '%.127s' does not fit dimension %d: %s", spec, dim, why);
        if (bad == SPEC_DIM)
            return odx_error(ODX_EINVAL, "index spec '%.127s' does not fit dimension %d: '%.*s': %s", spec, dim,
                             (int)(n > 40 ? 40 : n), s, why);
        if (bad)
            return odx_error(ODX_EINVAL,
                             "index spec '%.127s': '%.*s': %s (supported: Flat, HNSW<M>, IVF<nlist>, PQ<m>[x<bits>][np], "
                             "SQ4|SQ6|SQ8|SQfp16, OPQ<m>[_<d>], PCA[R]<d>, L2norm, and for HNSW efC=<n> efS=<n>, joined by "
                             "commas)",
                             spec, (int)(n > 40 ? 40 : n), s, why);
        if (!e) break;
        s = e + 1;
    }
    if (!flen) return odx_error(ODX_EINVAL, "index spec '%.127s' names no index type", spec);
    if ((sp->efc || sp->efs) && !sp->hnsw)
        return odx_error(ODX_EINVAL, "index spec '%.127s': efC= and efS= apply to HNSW only", spec);
    return 0;
}

int odx_index_create(const char *spec, int dim, odx_metric metric, odx_index **out)
{
    spec_parts sp;
    int rc = spec_parse(spec, dim, &sp);
    if (rc) return rc;
    odx_index *ix = odx_calloc(1, sizeof *ix);
    if (!ix) return odx_error(ODX_ENOMEM, "out of memory");
    if (faiss_index_factory(&ix->fx, dim, sp.factory, faiss_metric(metric))) {
        rc = faiss_err("index spec");
        odx_error_wrap(rc, "'%s'", spec);
        odx_free(ix);
        return rc;
    }
    ix->dim = dim;
    ix->metric = metric;
    snprintf(ix->factory, sizeof ix->factory, "%s", spec);
    if (odx_faiss_set_defaults(ix->fx, sp.efs ? sp.efs : ODX_HNSW_EFS_DEFAULT, default_nprobe(spec)) ||
        (sp.hnsw && odx_faiss_set_ef_construction(ix->fx, sp.efc ? sp.efc : ODX_HNSW_EFC_DEFAULT))) {
        rc = faiss_err("configuring index");
        odx_index_free(ix);
        return rc;
    }
    *out = ix;
    return 0;
}

int odx_index_spec_check(const char *spec, int dim, odx_metric metric)
{
    spec_parts sp;
    int rc = spec_parse(spec, dim, &sp);
    if (rc) return rc;
    odx_index *ix;
    rc = odx_index_create(spec, dim, metric, &ix);
    if (rc) return rc == ODX_EINDEX ? ODX_EINVAL : rc;
    odx_index_free(ix);
    return 0;
}

size_t odx_index_train_min(const char *spec)
{
    size_t need = 0;
    const char *p = strstr(spec, "IVF");
    if (p) {
        long nlist = strtol(p + 3, NULL, 10);
        if (nlist > 0) need = (size_t)nlist * 39; /* FAISS warns below 39 per centroid */
    }
    if (strstr(spec, "PQ") && need < 256 * 39) need = 256 * 39;
    /* Anything else that trains (SQ ranges, PCA/OPQ rotations) wants a
     * reasonable sample too. */
    if ((strstr(spec, "SQ") || strstr(spec, "PCA") || strstr(spec, "OPQ")) && need < 1000) need = 1000;
    return need;
}

int odx_index_is_trained(const odx_index *ix) { return faiss_Index_is_trained(ix->fx); }

int odx_index_train(odx_index *ix, size_t n, const float *x)
{
    if (faiss_Index_train(ix->fx, (idx_t)n, x)) return faiss_err("training index");
    return 0;
}

int odx_index_add(odx_index *ix, size_t n, const float *x, const uint64_t *seqs)
{
    int rc = odx_grow(&ix->pos2seq, &ix->cap, ix->n + n, sizeof *ix->pos2seq);
    if (rc) return rc;
    if (faiss_Index_add(ix->fx, (idx_t)n, x)) return faiss_err("adding to index");
    memcpy(ix->pos2seq + ix->n, seqs, n * sizeof *seqs);
    ix->n += n;
    if ((uint64_t)faiss_Index_ntotal(ix->fx) != ix->n)
        return odx_error(ODX_EINTERNAL, "index holds %lld vectors, map %zu", (long long)faiss_Index_ntotal(ix->fx), ix->n);
    return 0;
}

uint64_t odx_index_ntotal(const odx_index *ix) { return ix->n; }
const char *odx_index_factory(const odx_index *ix) { return ix->factory; }

void odx_index_describe(const odx_index *ix, char *buf, size_t len)
{
    char d[200];
    odx_faiss_describe(ix->fx, d, sizeof d);
    snprintf(buf, len, "%s [%s]", ix->factory, d);
}

int odx_index_default_nprobe(const odx_index *ix) { return default_nprobe(ix->factory); }

uint64_t odx_index_max_seq(const odx_index *ix)
{
    uint64_t m = 0;
    for (size_t i = 0; i < ix->n; i++)
        if (ix->pos2seq[i] + 1 > m) m = ix->pos2seq[i] + 1;
    return m;
}

struct sel_ctx {
    const odx_index *ix;
    odx_seq_member_fn member;
    void *ctx;
};

static int pos_member(void *c, idx_t pos)
{
    struct sel_ctx *s = c;
    if (pos < 0 || (size_t)pos >= s->ix->n) return 0;
    return s->member(s->ctx, s->ix->pos2seq[pos]);
}

int odx_index_search(const odx_index *ix, size_t nq, const float *q, int k, int ef_search, int nprobe,
                     odx_seq_member_fn member, void *ctx, float *dist, uint64_t *seqs_out)
{
    for (size_t i = 0; i < nq * (size_t)k; i++) seqs_out[i] = UINT64_MAX;
    if (ix->n == 0 || nq == 0) return 0;
    /* HNSW needs efSearch >= k to return k hits (with the index's own
     * efSearch, both search loops raise it to k themselves). */
    if (ef_search > 0 && ef_search < k) ef_search = k;
    struct sel_ctx sc = {ix, member, ctx};
    size_t kk = (size_t)k;
    for (;;) {
        idx_t *lab = odx_malloc(nq * kk * sizeof *lab);
        float *d = odx_malloc(nq * kk * sizeof *d);
        if (!lab || !d) {
            odx_free(lab);
            odx_free(d);
            return odx_error(ODX_ENOMEM, "out of memory for search results");
        }
        int rc = odx_faiss_search(ix->fx, (idx_t)nq, q, (idx_t)kk, ef_search, nprobe,
                                  member ? pos_member : NULL, &sc, d, lab);
        if (rc < 0) {
            odx_free(lab);
            odx_free(d);
            return faiss_err("searching index");
        }
        int short_any = 0;
        for (size_t qi = 0; qi < nq; qi++) {
            size_t got = 0;
            for (size_t j = 0; j < kk && got < (size_t)k; j++) {
                idx_t p = lab[qi * kk + j];
                if (p < 0 || (size_t)p >= ix->n) continue;
                uint64_t seq = ix->pos2seq[p];
                /* Post-filter: the selector could not be applied. */
                if (rc == ODX_FAISS_EXT_NOSEL && !member(ctx, seq)) continue;
                seqs_out[qi * k + got] = seq;
                dist[qi * k + got] = d[qi * kk + j];
                got++;
            }
            if (got < (size_t)k) short_any = 1;
        }
        odx_free(lab);
        odx_free(d);
        if (rc != ODX_FAISS_EXT_NOSEL || !short_any || kk >= ix->n || kk >= 65536) return 0;
        kk *= 4;
        if (kk > ix->n) kk = ix->n;
    }
}

/* ---- checkpoint files ---- */

#define MAGIC "ODXIDX01"
#define HDR_SIZE 192 /* 64 bytes of fields, then the factory string */

static void put_le64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) { p[i] = (unsigned char)v; v >>= 8; } }
static uint64_t get_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static int fsync_dir(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    int fd = open(dirname(tmp), O_RDONLY | O_DIRECTORY);
    if (fd < 0) return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

/* CRC32 of the header with its checksum field (bytes 56..63) zeroed. */
static uint32_t header_crc(const unsigned char *h)
{
    unsigned char c[HDR_SIZE];
    memcpy(c, h, HDR_SIZE);
    memset(c + 56, 0, 8);
    return (uint32_t)crc32(0L, c, HDR_SIZE);
}

/* CRC32 of bytes [off, off+len) of f. */
static int file_crc(FILE *f, long off, uint64_t len, uint32_t *crc)
{
    if (fseek(f, off, SEEK_SET)) return -1;
    unsigned char buf[1 << 16];
    uLong c = crc32(0L, Z_NULL, 0);
    while (len > 0) {
        size_t want = len < sizeof buf ? (size_t)len : sizeof buf;
        size_t got = fread(buf, 1, want, f);
        if (got != want) return -1;
        c = crc32(c, buf, (uInt)got);
        len -= got;
    }
    *crc = (uint32_t)c;
    return 0;
}

int odx_index_save(const odx_index *ix, const char *path, uint64_t lsn, uint64_t next_seq)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w+b");
    if (!f) return odx_error(ODX_EIO, "cannot write %s: %s", tmp, strerror(errno));
    unsigned char h[HDR_SIZE];
    memset(h, 0, sizeof h);
    int rc = 0;
    if (fwrite(h, 1, HDR_SIZE, f) != HDR_SIZE) goto io;
    for (size_t i = 0; i < ix->n; i++) {
        unsigned char b[8];
        put_le64(b, ix->pos2seq[i]);
        if (fwrite(b, 1, 8, f) != 8) goto io;
    }
    if (faiss_write_index(ix->fx, f)) { rc = faiss_err("writing index checkpoint"); goto fail; }
    if (fflush(f)) goto io;
    long end = ftell(f);
    if (end < HDR_SIZE) goto io;
    uint64_t plen = (uint64_t)end - HDR_SIZE;
    uint32_t crc;
    if (file_crc(f, HDR_SIZE, plen, &crc)) goto io;
    memcpy(h, MAGIC, 8);
    put_le64(h + 8, 1 | ((uint64_t)ix->dim << 32));
    put_le64(h + 16, (uint64_t)ix->metric);
    put_le64(h + 24, lsn);
    put_le64(h + 32, next_seq);
    put_le64(h + 40, ix->n);
    put_le64(h + 48, plen);
    memcpy(h + 64, ix->factory, strlen(ix->factory));
    put_le64(h + 56, crc | ((uint64_t)header_crc(h) << 32));
    if (fseek(f, 0, SEEK_SET) || fwrite(h, 1, HDR_SIZE, f) != HDR_SIZE || fflush(f) || fsync(fileno(f))) goto io;
    if (fclose(f)) { f = NULL; goto io; }
    f = NULL;
    if (rename(tmp, path)) goto io;
    fsync_dir(path);
    return 0;
io:
    rc = odx_error(errno == ENOSPC ? ODX_EFULL : ODX_EIO, "writing index checkpoint %s: %s", tmp,
                   strerror(errno ? errno : EIO));
fail:
    if (f) fclose(f);
    unlink(tmp);
    return rc;
}

int odx_index_load(const char *path, int dim, odx_metric metric, odx_index **out, uint64_t *lsn,
                   uint64_t *next_seq)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return odx_error(ODX_ENOTFOUND, "no index checkpoint %s", path);
        return odx_error(ODX_EIO, "cannot read %s: %s", path, strerror(errno));
    }
    odx_index *ix = NULL;
    int rc = 0;
    unsigned char h[HDR_SIZE];
    struct stat sb;
    if (fstat(fileno(f), &sb) || fread(h, 1, HDR_SIZE, f) != HDR_SIZE) {
        rc = odx_error(ODX_ECORRUPT, "%s: truncated header", path);
        goto out;
    }
    uint64_t ver = get_le64(h + 8);
    uint64_t n = get_le64(h + 40), plen = get_le64(h + 48);
    if (memcmp(h, MAGIC, 8) || header_crc(h) != (uint32_t)(get_le64(h + 56) >> 32) ||
        (ver & 0xffffffff) != 1 || (int)(ver >> 32) != dim ||
        get_le64(h + 16) != (uint64_t)metric) {
        rc = odx_error(ODX_ECORRUPT, "%s: not an index checkpoint of this collection", path);
        goto out;
    }
    if ((uint64_t)sb.st_size != HDR_SIZE + plen || n > plen / 8) {
        rc = odx_error(ODX_ECORRUPT, "%s: size %lld does not match its header", path, (long long)sb.st_size);
        goto out;
    }
    uint32_t crc;
    if (file_crc(f, HDR_SIZE, plen, &crc) || crc != (uint32_t)get_le64(h + 56)) {
        rc = odx_error(ODX_ECORRUPT, "%s: checksum mismatch", path);
        goto out;
    }
    if (fseek(f, HDR_SIZE, SEEK_SET)) { rc = odx_error(ODX_EIO, "%s: seek failed", path); goto out; }
    if (!(ix = odx_calloc(1, sizeof *ix)) || (n && !(ix->pos2seq = odx_malloc(n * sizeof *ix->pos2seq)))) {
        rc = odx_error(ODX_ENOMEM, "out of memory loading %s", path);
        goto out;
    }
    ix->cap = ix->n = n;
    ix->dim = dim;
    ix->metric = metric;
    for (uint64_t i = 0; i < n; i++) {
        unsigned char b[8];
        if (fread(b, 1, 8, f) != 8) { rc = odx_error(ODX_ECORRUPT, "%s: truncated", path); goto out; }
        ix->pos2seq[i] = get_le64(b);
    }
    if (faiss_read_index(f, 0, &ix->fx)) {
        rc = faiss_err("reading index checkpoint");
        rc = ODX_ECORRUPT;
        goto out;
    }
    if (faiss_Index_d(ix->fx) != dim || (uint64_t)faiss_Index_ntotal(ix->fx) != n) {
        rc = odx_error(ODX_ECORRUPT, "%s: index shape does not match its header", path);
        goto out;
    }
    char why[200];
    if (odx_faiss_validate(ix->fx, why, sizeof why)) {
        rc = odx_error(ODX_ECORRUPT, "%s: %s", path, why);
        goto out;
    }
    /* FAISS does not keep the factory string: the header does. */
    memcpy(ix->factory, h + 64, sizeof ix->factory - 1);
    ix->factory[sizeof ix->factory - 1] = '\0';
    if (odx_faiss_set_defaults(ix->fx, 0, default_nprobe(ix->factory))) {
        rc = faiss_err("configuring loaded index");
        goto out;
    }
    *lsn = get_le64(h + 24);
    *next_seq = get_le64(h + 32);
out:
    fclose(f);
    if (rc) odx_index_free(ix);
    else *out = ix;
    return rc;
}
