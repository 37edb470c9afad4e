/* safetensors reader: mmap, validate everything in the header up front, hand
 * out float32 views. See safetensors.h for the rules. */
#include "encoders/runtime/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/util.h"
#include "encoders/runtime/half.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c maps F32 data directly and assumes a little-endian host"
#endif

typedef struct st_tensor {
    odx_st_info info;
    const unsigned char *base; /* the data buffer of the file holding it */
    uint64_t begin, end;   /* within that buffer */
    float *converted;      /* owned float32 copy, when one was needed */
} st_tensor;

/* Memory owned by a handle: its own mapping and names, plus those of the
 * shards merged into it. */
typedef struct st_owned { void *map; size_t map_len; char *names; } st_owned;

struct odx_st {
    void *map;             /* mmap base, NULL for caller bytes */
    size_t map_len;
    const unsigned char *data; /* byte buffer after the header */
    size_t data_len;
    st_tensor *t;
    size_t n;
    char *names;           /* all names, NUL-separated */
    st_owned *extra;       /* merged shards */
    size_t nextra;
};

static const struct { const char *name; odx_st_dtype dt; size_t size; } dtypes[] = {
    {"F32", ODX_ST_F32, 4}, {"F16", ODX_ST_F16, 2}, {"BF16", ODX_ST_BF16, 2},
    {"F64", ODX_ST_F64, 8}, {"I64", ODX_ST_I64, 8}, {"I32", ODX_ST_I32, 4},
    {"I16", ODX_ST_I16, 2}, {"I8", ODX_ST_I8, 1},   {"U8", ODX_ST_U8, 1},
    {"BOOL", ODX_ST_BOOL, 1},
};

const char *odx_st_dtype_name(odx_st_dtype dt)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (dtypes[i].dt == dt) return dtypes[i].name;
    return "?";
}

static size_t dtype_size(odx_st_dtype dt)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (dtypes[i].dt == dt) return dtypes[i].size;
    return 0;
}

void odx_st_close(odx_st *st)
{
    if (!st) return;
    for (size_t i = 0; i < st->n; i++) odx_free(st->t[i].converted);
    odx_free(st->t);
    odx_free(st->names);
    if (st->map) munmap(st->map, st->map_len);
    for (size_t i = 0; i < st->nextra; i++) {
        odx_free(st->extra[i].names);
        if (st->extra[i].map) munmap(st->extra[i].map, st->extra[i].map_len);
    }
    odx_free(st->extra);
    odx_free(st);
}

/* A JSON number that is a non-negative integer below 2^53, or -1. */
static int64_t json_uint(const cJSON *j)
{
    if (!cJSON_IsNumber(j)) return -1;
    double d = j->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0) || d != (double)(int64_t)d) return -1;
    return (int64_t)d;
}

static int cmp_begin(const void *a, const void *b)
{
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

static int parse_header(odx_st *st, const char *json, size_t len)
{
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root) return odx_error(ODX_ECORRUPT, "safetensors: header is not valid JSON");
    int rc = 0;
    st_tensor **order = NULL;
    if (!cJSON_IsObject(root)) {
        rc = odx_error(ODX_ECORRUPT, "safetensors: header is not a JSON object");
        goto out;
    }
    size_t count = 0, names_len = 0;
    for (cJSON *e = root->child; e; e = e->next) {
        if (!e->string) { rc = odx_error(ODX_ECORRUPT, "safetensors: unnamed entry"); goto out; }
        if (strcmp(e->string, "__metadata__") == 0) continue;
        if (++count > ODX_ST_MAX_TENSORS) {
            rc = odx_error(ODX_ECORRUPT, "safetensors: more than %d tensors", ODX_ST_MAX_TENSORS);
            goto out;
        }
        names_len += strlen(e->string) + 1;
    }
    st->t = odx_calloc(count ? count : 1, sizeof *st->t);
    st->names = odx_malloc(names_len ? names_len : 1);
    order = odx_malloc((count ? count : 1) * sizeof *order);
    if (!st->t || !st->names || !order) { rc = odx_error(ODX_ENOMEM, "safetensors: out of memory"); goto out; }
    char *np = st->names;
    for (cJSON *e = root->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(e)) { rc = odx_error(ODX_ECORRUPT, "safetensors: __metadata__ is not an object"); goto out; }
            continue;
        }
        st_tensor *t = &st->t[st->n];
        size_t nl = strlen(e->string) + 1;
        memcpy(np, e->string, nl);
        t->info.name = np;
        np += nl;
        const char *nm = t->info.name;
        if (!cJSON_IsObject(e)) { rc = odx_error(ODX_ECORRUPT, "safetensors: tensor '%s' is not an object", nm); goto out; }
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
        const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
        const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
        if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off)) {
            rc = odx_error(ODX_ECORRUPT, "safetensors: tensor '%s' lacks dtype, shape or data_offsets", nm);
            goto out;
        }
        size_t esize = 0;
        for (size_t k = 0; k < sizeof dtypes / sizeof dtypes[0]; k++)
            if (strcmp(dt->valuestring, dtypes[k].name) == 0) { t->info.dtype = dtypes[k].dt; esize = dtypes[k].size; }
        if (!esize) { rc = odx_error(ODX_ECORRUPT, "safetensors: tensor '%s' has unknown dtype '%.16s'", nm, dt->valuestring); goto out; }
        int rank = cJSON_GetArraySize(sh);
        if (rank > ODX_ST_MAX_RANK) { rc = odx_error(ODX_ECORRUPT, "safetensors: tensor '%s' has rank %d > %d", nm, rank, ODX_ST_MAX_RANK); goto out; }
        t->info.rank = rank;
        uint64_t elems = 1;
        int k = 0;
        for (const cJSON *d = sh->child; d; d = d->next, k++) {
            int64_t v = json_uint(d);
            if (v < 0) { rc = odx_error(ODX_ECORRUPT, "safetensors: tensor '%s' has a bad dimension", nm); goto out; }
            t->info.shape[k] = v;
            if (v && elems > UINT64_MAX / (uint64_t)v) { rc = odx_error(ODX_ECORRUPT, "safetensors: tensor '%s' is too large", nm); goto out; }
            elems *= (uint64_t)v;
        }
        if (cJSON_GetArraySize(off) != 2) { rc = odx_error(ODX_ECORRUPT, "safetensors: tensor '%s': data_offsets needs 2 numbers", nm); goto out; }
        int64_t b = json_uint(off->child), en = json_uint(off->child->next);
        if (b < 0 || en < 0 || b > en || (uint64_t)en > st->data_len) {
            rc = odx_error(ODX_ECORRUPT, "safetensors: tensor '%s': offsets [%lld, %lld] outside the %zu-byte buffer",
                           nm, (long long)b, (long long)en, st->data_len);
            goto out;
        }
        if (elems > UINT64_MAX / esize || (uint64_t)(en - b) != elems * esize) {
            rc = odx_error(ODX_ECORRUPT, "safetensors: tensor '%s': %lld bytes for %llu %s elements",
                           nm, (long long)(en - b), (unsigned long long)elems, dt->valuestring);
            goto out;
        }
        t->base = st->data;
        t->begin = (uint64_t)b;
        t->end = (uint64_t)en;
        t->info.nbytes = (size_t)(en - b);
        order[st->n] = t;
        st->n++;
    }
    qsort(order, st->n, sizeof *order, cmp_begin);
    for (size_t i = 1; i < st->n; i++)
        if (order[i]->begin < order[i - 1]->end) {
            rc = odx_error(ODX_ECORRUPT, "safetensors: tensors '%s' and '%s' overlap",
                           order[i - 1]->info.name, order[i]->info.name);
            goto out;
        }
out:
    odx_free(order);
    cJSON_Delete(root);
    return rc;
}

int odx_st_open_bytes(const void *data, size_t len, odx_st **out)
{
    const unsigned char *p = data;
    if (len < 8) return odx_error(ODX_ECORRUPT, "safetensors: %zu bytes is too short for a header", len);
    uint64_t hlen = odx_get_le64(p);
    if (hlen > ODX_ST_MAX_HEADER)
        return odx_error(ODX_ECORRUPT, "safetensors: header length %llu over the %u-byte cap",
                         (unsigned long long)hlen, ODX_ST_MAX_HEADER);
    if (hlen > len - 8)
        return odx_error(ODX_ECORRUPT, "safetensors: header length %llu past the end of the %zu-byte file",
                         (unsigned long long)hlen, len);
    odx_st *st = odx_calloc(1, sizeof *st);
    if (!st) return odx_error(ODX_ENOMEM, "safetensors: out of memory");
    st->data = p + 8 + hlen;
    st->data_len = len - 8 - (size_t)hlen;
    int rc = parse_header(st, (const char *)p + 8, (size_t)hlen);
    if (rc) { odx_st_close(st); return rc; }
    *out = st;
    return 0;
}

int odx_st_open(const char *path, odx_st **out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return odx_error(errno == ENOENT ? ODX_ENOTFOUND : ODX_EIO, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return odx_error(ODX_EIO, "%s: not a regular file", path);
    }
    size_t len = (size_t)sb.st_size;
    if (len < 8) { close(fd); return odx_error(ODX_ECORRUPT, "%s: %zu bytes is too short for safetensors", path, len); }
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return odx_error(ODX_EIO, "%s: mmap: %s", path, strerror(errno));
    odx_st *st = NULL;
    int rc = odx_st_open_bytes(map, len, &st);
    if (rc) { munmap(map, len); return odx_error_wrap(rc, "%s", path); }
    st->map = map;
    st->map_len = len;
    *out = st;
    return 0;
}

size_t odx_st_count(const odx_st *st) { return st->n; }

const odx_st_info *odx_st_at(const odx_st *st, size_t i) { return i < st->n ? &st->t[i].info : NULL; }

static st_tensor *find(const odx_st *st, const char *name)
{
    for (size_t i = 0; i < st->n; i++)
        if (strcmp(st->t[i].info.name, name) == 0) return &st->t[i];
    return NULL;
}

const odx_st_info *odx_st_find(const odx_st *st, const char *name)
{
    st_tensor *t = find(st, name);
    return t ? &t->info : NULL;
}

int odx_st_get_f32(odx_st *st, const char *name, int rank, const int64_t *shape, const float **out)
{
    st_tensor *t = find(st, name);
    if (!t) return odx_error(ODX_ENOTFOUND, "safetensors: no tensor '%s'", name);
    int same = t->info.rank == rank;
    for (int i = 0; same && i < rank; i++) same = t->info.shape[i] == shape[i];
    if (!same) {
        char want[128] = "", have[128] = "";
        size_t wl = 0, hl = 0;
        for (int i = 0; i < rank && wl < sizeof want; i++)
            wl += (size_t)snprintf(want + wl, sizeof want - wl, "%s%lld", i ? "," : "", (long long)shape[i]);
        for (int i = 0; i < t->info.rank && hl < sizeof have; i++)
            hl += (size_t)snprintf(have + hl, sizeof have - hl, "%s%lld", i ? "," : "", (long long)t->info.shape[i]);
        return odx_error(ODX_ECORRUPT, "safetensors: tensor '%s' has shape [%s], expected [%s]", name, have, want);
    }
    if (t->converted) { *out = t->converted; return 0; }
    const unsigned char *src = t->base + t->begin;
    size_t n = t->info.nbytes / (dtype_size(t->info.dtype) ? dtype_size(t->info.dtype) : 1);
    if (t->info.dtype == ODX_ST_F32 && ((uintptr_t)src & 3u) == 0) {
        *out = (const float *)(const void *)src;
        return 0;
    }
    if (t->info.dtype != ODX_ST_F32 && t->info.dtype != ODX_ST_F16 && t->info.dtype != ODX_ST_BF16)
        return odx_error(ODX_EUNSUPPORTED, "safetensors: tensor '%s' has dtype %s, not a float type",
                         name, odx_st_dtype_name(t->info.dtype));
    t->converted = odx_malloc(n * sizeof(float));
    if (!t->converted) return odx_error(ODX_ENOMEM, "safetensors: out of memory converting '%s'", name);
    if (t->info.dtype == ODX_ST_F32) memcpy(t->converted, src, n * sizeof(float));
    else if (t->info.dtype == ODX_ST_F16) odx_f16_to_f32_n(src, t->converted, n);
    else odx_bf16_to_f32_n(src, t->converted, n);
    *out = t->converted;
    return 0;
}

int odx_st_merge(odx_st *into, odx_st *from)
{
    for (size_t i = 0; i < from->n; i++)
        if (find(into, from->t[i].info.name))
            return odx_error(ODX_ECORRUPT, "safetensors: tensor '%s' appears in two shards", from->t[i].info.name);
    st_tensor *t = odx_realloc(into->t, (into->n + from->n ? into->n + from->n : 1) * sizeof *t);
    if (!t) return odx_error(ODX_ENOMEM, "out of memory merging shards");
    into->t = t;
    st_owned *ex = odx_realloc(into->extra, (into->nextra + 1 + from->nextra) * sizeof *ex);
    if (!ex) return odx_error(ODX_ENOMEM, "out of memory merging shards");
    into->extra = ex;
    if (from->n) memcpy(into->t + into->n, from->t, from->n * sizeof *t);
    into->n += from->n;
    ex[into->nextra++] = (st_owned){from->map, from->map_len, from->names};
    if (from->nextra) memcpy(ex + into->nextra, from->extra, from->nextra * sizeof *ex);
    into->nextra += from->nextra;
    odx_free(from->t);
    odx_free(from->extra);
    odx_free(from);
    return 0;
}
