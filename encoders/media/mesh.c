/* 3D mesh decoding (see mesh.h): format sniffing, strict PLY, OFF and STL
 * parsers, and the libassimp path for OBJ and glTF/GLB. */
#include "encoders/media/mesh.h"

#include <assimp/cfileio.h>
#include <assimp/cimport.h>
#include <assimp/postprocess.h>
#include <assimp/scene.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"

typedef enum fmt { F_UNKNOWN, F_PLY, F_OFF, F_OBJ, F_STL_ASCII, F_STL_BIN, F_GLTF, F_GLB } fmt;

static const char *fmt_name(fmt f)
{
    switch (f) {
    case F_PLY: return "PLY";
    case F_OFF: return "OFF";
    case F_OBJ: return "OBJ";
    case F_STL_ASCII: case F_STL_BIN: return "STL";
    case F_GLTF: return "glTF";
    case F_GLB: return "GLB";
    default: return "unknown";
    }
}

static int starts(const unsigned char *d, size_t len, const char *s)
{
    size_t n = strlen(s);
    return len >= n && memcmp(d, s, n) == 0;
}

static uint32_t rd_u32le(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* OFF's header keyword: [ST][C][N][4][n]OFF (Geomview), then whitespace. */
static int is_off(const unsigned char *d, size_t len)
{
    size_t i = 0;
    while (i < len && i < 6 && strchr("STCN4n", d[i]) && d[i]) i++;
    if (len < i + 3 || memcmp(d + i, "OFF", 3) != 0) return 0;
    return len == i + 3 || isspace(d[i + 3]) || d[i + 3] == '#';
}

/* A binary STL whose size does not match its count still reads as STL when
 * it cannot be text: some byte of the 80-byte header or first triangle is
 * not printable. (ASCII STL starts with "solid"; some binary exporters also
 * write "solid" into the header, so the size rule comes first.) */
static int looks_binary(const unsigned char *d, size_t len)
{
    size_t n = len < 134 ? len : 134;
    for (size_t i = 0; i < n; i++)
        if (d[i] < 9 || (d[i] > 13 && d[i] < 32) || d[i] == 127) return 1;
    return 0;
}

/* OBJ has no magic: text whose first statement lines are OBJ keywords. */
static int is_obj(const unsigned char *d, size_t len)
{
    static const char *const kw[] = {"v", "vt", "vn", "vp", "f", "l", "p", "o", "g", "s",
                                     "mtllib", "usemtl", "#", NULL};
    size_t i = 0;
    int lines = 0, seen_v = 0;
    while (i < len && lines < 64) {
        while (i < len && (d[i] == ' ' || d[i] == '\t' || d[i] == '\r' || d[i] == '\n')) i++;
        if (i >= len) break;
        size_t s = i;
        if (d[i] == '#') {
            while (i < len && d[i] != '\n') i++;
            lines++;
            continue;
        }
        while (i < len && !isspace(d[i])) i++;
        size_t wl = i - s;
        int ok = 0;
        for (int k = 0; kw[k]; k++)
            if (strlen(kw[k]) == wl && memcmp(d + s, kw[k], wl) == 0) ok = 1;
        if (!ok) return 0;
        if (wl == 1 && d[s] == 'v') seen_v = 1;
        while (i < len && d[i] != '\n') i++;
        lines++;
    }
    return seen_v;
}

static fmt sniff_bytes(const unsigned char *d, size_t len);

/* Text with a byte-order mark: UTF-8 is sniffed after the mark; UTF-16 on
 * its low bytes (assimp's OBJ reader converts UTF-16 itself). */
static fmt sniff(const unsigned char *d, size_t len)
{
    if (starts(d, len, "\xEF\xBB\xBF")) return sniff_bytes(d + 3, len - 3);
    if (len >= 4 && ((d[0] == 0xFE && d[1] == 0xFF) || (d[0] == 0xFF && d[1] == 0xFE))) {
        unsigned char narrow[4096];
        size_t n = 0, lo = d[0] == 0xFF ? 0 : 1;
        for (size_t i = 2 + lo; i < len && n < sizeof narrow; i += 2) narrow[n++] = d[i];
        fmt f = sniff_bytes(narrow, n);
        return f == F_OBJ ? F_OBJ : F_UNKNOWN;
    }
    return sniff_bytes(d, len);
}

static fmt sniff_bytes(const unsigned char *d, size_t len)
{
    if (starts(d, len, "ply\n") || starts(d, len, "ply\r\n")) return F_PLY;
    if (len >= 12 && memcmp(d, "glTF", 4) == 0) return F_GLB;
    if (len >= 84) {
        uint64_t n = rd_u32le(d + 80);
        if (84 + 50 * n == len) return F_STL_BIN;
    }
    size_t i = 0;
    while (i < len && isspace(d[i])) i++;
    if (len - i >= 5 && memcmp(d + i, "solid", 5) == 0 && !looks_binary(d, len)) return F_STL_ASCII;
    if (is_off(d + i, len - i)) return F_OFF;
    if (i < len && d[i] == '{') {
        /* glTF JSON: an object with an "asset" member near the start. */
        size_t n = len < 4096 ? len : 4096;
        for (size_t k = i; k + 7 <= n; k++)
            if (memcmp(d + k, "\"asset\"", 7) == 0) return F_GLTF;
        return F_UNKNOWN;
    }
    if (is_obj(d, len)) return F_OBJ;
    if (len >= 84 && rd_u32le(d + 80) > 0 && looks_binary(d, len)) return F_STL_BIN;
    return F_UNKNOWN;
}

const char *odx_mesh_format_name(const void *data, size_t len)
{
    return fmt_name(data ? sniff(data, len) : F_UNKNOWN);
}

void odx_mesh_free(odx_mesh *m)
{
    if (!m) return;
    odx_free(m->v);
    odx_free(m->f);
    memset(m, 0, sizeof *m);
}

/* ---------------------------------------------------------------- text cursor */

typedef struct cur {
    const char *p, *end;
} cur;

/* Skips spaces and tabs (and newlines when nl); '#' comments when hash. */
static void skip_ws(cur *c, int nl, int hash)
{
    while (c->p < c->end) {
        char ch = *c->p;
        if (ch == ' ' || ch == '\t' || ch == '\r' || (nl && ch == '\n') || ch == '\f' || ch == '\v') {
            c->p++;
        } else if (hash && ch == '#') {
            while (c->p < c->end && *c->p != '\n') c->p++;
        } else {
            break;
        }
    }
}

static void skip_line(cur *c)
{
    while (c->p < c->end && *c->p != '\n') c->p++;
    if (c->p < c->end) c->p++;
}

/* Next whitespace-delimited token into buf (NUL-terminated); 0 if none or
 * longer than the buffer (no number needs 64 characters). */
static int token(cur *c, int nl, int hash, char *buf, size_t cap)
{
    skip_ws(c, nl, hash);
    const char *s = c->p;
    while (c->p < c->end && !isspace((unsigned char)*c->p) && !(hash && *c->p == '#')) c->p++;
    size_t n = (size_t)(c->p - s);
    if (n == 0 || n >= cap) return 0;
    memcpy(buf, s, n);
    buf[n] = 0;
    return 1;
}

static int tok_double(cur *c, int nl, int hash, double *out)
{
    char b[64], *e;
    if (!token(c, nl, hash, b, sizeof b)) return 0;
    *out = strtod(b, &e);
    return *e == 0;
}

static int tok_int(cur *c, int nl, int hash, int64_t *out)
{
    char b[64], *e;
    if (!token(c, nl, hash, b, sizeof b)) return 0;
    long long v = strtoll(b, &e, 10);
    if (*e != 0) {
        /* Some writers print integral values as floats ("3.0"). */
        double d = strtod(b, &e);
        if (*e != 0 || d != floor(d) || fabs(d) > 9e15) return 0;
        v = (long long)d;
    }
    *out = v;
    return 1;
}

/* ------------------------------------------------------------ shared output */

typedef struct build {
    odx_mesh *m;
    size_t fcap;
    int64_t max_faces;
    const char *fmt;
} build;

/* Coordinates beyond this magnitude are refused: the contract's float32
 * normalisation (points.c: p - centroid, then x*x + y*y + z*z) overflows
 * past about 5e18, and a valid mesh at +-3.4e38 then normalised to NaN
 * points (found by fuzz_mesh), which would reach the tower and the index.
 * No real model is measured in units that far from 1. */
#define MAX_COORD 1e18f

static int check_vertex(const char *fmt, const float *v, int64_t i)
{
    for (int k = 0; k < 3; k++) {
        if (!isfinite(v[k])) return odx_error(ODX_EMEDIA, "%s: vertex %lld has a non-finite coordinate", fmt, (long long)i);
        if (fabsf(v[k]) > MAX_COORD)
            return odx_error(ODX_EMEDIA, "%s: vertex %lld has a coordinate of %g (magnitude limit 1e18)", fmt,
                             (long long)i, (double)v[k]);
    }
    return 0;
}

/* Appends polygon idx[0..n) as a fan of n-2 triangles (polygons with fewer
 * than 3 corners are lines/points and add nothing). */
static int add_polygon(build *b, const int64_t *idx, int64_t n)
{
    for (int64_t k = 0; k < n; k++)
        if (idx[k] < 0 || idx[k] >= b->m->nv)
            return odx_error(ODX_EMEDIA, "%s: face index %lld out of range (%lld vertices)", b->fmt,
                             (long long)idx[k], (long long)b->m->nv);
    if (n < 3) return 0;
    if (b->m->nf + (n - 2) > b->max_faces)
        return odx_error(ODX_ELIMIT, "%s: more than %lld triangles", b->fmt, (long long)b->max_faces);
    int rc = odx_grow(&b->m->f, &b->fcap, (size_t)(b->m->nf + n - 2) * 3, sizeof(uint32_t));
    if (rc) return rc;
    for (int64_t k = 1; k + 1 < n; k++) {
        uint32_t *t = b->m->f + b->m->nf * 3;
        t[0] = (uint32_t)idx[0];
        t[1] = (uint32_t)idx[k];
        t[2] = (uint32_t)idx[k + 1];
        b->m->nf++;
    }
    return 0;
}

/* ----------------------------------------------------------------------- PLY */

typedef enum ply_type { P_NONE, P_I8, P_U8, P_I16, P_U16, P_I32, P_U32, P_F32, P_F64 } ply_type;

static ply_type ply_type_parse(const char *s)
{
    static const struct { const char *n; ply_type t; } tab[] = {
        {"char", P_I8}, {"int8", P_I8}, {"uchar", P_U8}, {"uint8", P_U8},
        {"short", P_I16}, {"int16", P_I16}, {"ushort", P_U16}, {"uint16", P_U16},
        {"int", P_I32}, {"int32", P_I32}, {"uint", P_U32}, {"uint32", P_U32},
        {"float", P_F32}, {"float32", P_F32}, {"double", P_F64}, {"float64", P_F64}};
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (strcmp(s, tab[i].n) == 0) return tab[i].t;
    return P_NONE;
}

static const int ply_size[] = {0, 1, 1, 2, 2, 4, 4, 4, 8};

#define PLY_MAX_PROPS 64
#define PLY_MAX_ELEMS 32

typedef struct ply_prop {
    ply_type type, count_type; /* count_type != P_NONE: a list */
    int role;                  /* 0 other, 1..3 x/y/z, 4 vertex index list */
} ply_prop;

typedef struct ply_elem {
    int64_t count;
    int kind; /* 0 other, 1 vertex, 2 face */
    int nprops;
    ply_prop prop[PLY_MAX_PROPS];
} ply_elem;

typedef struct ply {
    int format; /* 0 ascii, 1 binary LE, 2 binary BE */
    int nelems;
    ply_elem elem[PLY_MAX_ELEMS];
} ply;

/* One binary value as double; 0 when the data ends first. */
static int ply_bin(cur *c, ply_type t, int be, double *out)
{
    int n = ply_size[t];
    if (c->end - c->p < n) return 0;
    unsigned char b[8];
    for (int i = 0; i < n; i++) b[i] = (unsigned char)c->p[be ? n - 1 - i : i];
    c->p += n;
    uint64_t u = 0;
    for (int i = n - 1; i >= 0; i--) u = u << 8 | b[i];
    switch (t) {
    case P_I8: *out = (int8_t)u; break;
    case P_U8: *out = (uint8_t)u; break;
    case P_I16: *out = (int16_t)u; break;
    case P_U16: *out = (uint16_t)u; break;
    case P_I32: *out = (int32_t)u; break;
    case P_U32: *out = (uint32_t)u; break;
    case P_F32: { uint32_t w = (uint32_t)u; float f; memcpy(&f, &w, 4); *out = f; break; }
    case P_F64: { double d; memcpy(&d, &u, 8); *out = d; break; }
    default: return 0;
    }
    return 1;
}

static int ply_value(cur *c, const ply *h, ply_type t, double *out)
{
    if (h->format == 0) return tok_double(c, 1, 0, out);
    return ply_bin(c, t, h->format == 2, out);
}

static int ply_header(cur *c, ply *h, const odx_mesh_limits *lim)
{
    char line[256];
    memset(h, 0, sizeof *h);
    skip_line(c); /* "ply" */
    int have_format = 0;
    ply_elem *e = NULL;
    for (;;) {
        if (c->p >= c->end) return odx_error(ODX_EMEDIA, "PLY: header has no end_header");
        const char *s = c->p;
        skip_line(c);
        size_t n = (size_t)(c->p - s);
        while (n && (s[n - 1] == '\n' || s[n - 1] == '\r')) n--;
        if (n >= sizeof line) return odx_error(ODX_EMEDIA, "PLY: header line too long");
        memcpy(line, s, n);
        line[n] = 0;
        char *save = NULL, *w = strtok_r(line, " \t", &save);
        if (!w) continue;
        if (strcmp(w, "end_header") == 0) break;
        if (strcmp(w, "comment") == 0 || strcmp(w, "obj_info") == 0) continue;
        if (strcmp(w, "format") == 0) {
            const char *f = strtok_r(NULL, " \t", &save);
            if (!f) return odx_error(ODX_EMEDIA, "PLY: bad format line");
            if (strcmp(f, "ascii") == 0) h->format = 0;
            else if (strcmp(f, "binary_little_endian") == 0) h->format = 1;
            else if (strcmp(f, "binary_big_endian") == 0) h->format = 2;
            else return odx_error(ODX_EMEDIA, "PLY: unknown format '%s'", f);
            have_format = 1;
        } else if (strcmp(w, "element") == 0) {
            const char *name = strtok_r(NULL, " \t", &save), *cnt = strtok_r(NULL, " \t", &save);
            char *end;
            if (!name || !cnt) return odx_error(ODX_EMEDIA, "PLY: bad element line");
            long long k = strtoll(cnt, &end, 10);
            if (*end || k < 0) return odx_error(ODX_EMEDIA, "PLY: bad element count '%s'", cnt);
            if (h->nelems == PLY_MAX_ELEMS) return odx_error(ODX_EMEDIA, "PLY: more than %d elements", PLY_MAX_ELEMS);
            e = &h->elem[h->nelems++];
            e->count = k;
            e->kind = strcmp(name, "vertex") == 0 ? 1 : strcmp(name, "face") == 0 ? 2 : 0;
            if (e->kind == 1 && k > lim->max_vertices)
                return odx_error(ODX_ELIMIT, "PLY: %lld vertices declared, limit %lld", k, (long long)lim->max_vertices);
            if (e->kind == 2 && k > lim->max_faces)
                return odx_error(ODX_ELIMIT, "PLY: %lld faces declared, limit %lld", k, (long long)lim->max_faces);
        } else if (strcmp(w, "property") == 0) {
            if (!e) return odx_error(ODX_EMEDIA, "PLY: property before any element");
            if (e->nprops == PLY_MAX_PROPS) return odx_error(ODX_EMEDIA, "PLY: more than %d properties", PLY_MAX_PROPS);
            ply_prop *p = &e->prop[e->nprops++];
            const char *t = strtok_r(NULL, " \t", &save);
            if (t && strcmp(t, "list") == 0) {
                const char *ct = strtok_r(NULL, " \t", &save), *it = strtok_r(NULL, " \t", &save);
                p->count_type = ct ? ply_type_parse(ct) : P_NONE;
                p->type = it ? ply_type_parse(it) : P_NONE;
                if (p->count_type == P_NONE || p->type == P_NONE || p->count_type >= P_F32)
                    return odx_error(ODX_EMEDIA, "PLY: bad list property");
            } else {
                p->type = t ? ply_type_parse(t) : P_NONE;
                if (p->type == P_NONE) return odx_error(ODX_EMEDIA, "PLY: unknown property type '%s'", t ? t : "");
            }
            const char *name = strtok_r(NULL, " \t", &save);
            if (!name) return odx_error(ODX_EMEDIA, "PLY: property without a name");
            if (e->kind == 1 && !p->count_type && !name[1] && name[0] >= 'x' && name[0] <= 'z')
                p->role = 1 + name[0] - 'x';
            if (e->kind == 2 && p->count_type &&
                (strcmp(name, "vertex_indices") == 0 || strcmp(name, "vertex_index") == 0)) {
                if (p->type >= P_F32) return odx_error(ODX_EMEDIA, "PLY: float vertex indices");
                p->role = 4;
            }
        }
        /* Other lines are ignored: old exporters (Blender 2.4x) wrote free
         * text without the "comment" keyword. */
    }
    if (!have_format) return odx_error(ODX_EMEDIA, "PLY: no format line");
    return 0;
}

/* Bytes each instance of e needs at least: binary, its fixed part (a list
 * counts its count field); ascii, two characters per value. The declared
 * counts must fit in what is left of the file. */
static int ply_check_sizes(const ply *h, size_t left)
{
    double need = 0;
    for (int i = 0; i < h->nelems; i++) {
        const ply_elem *e = &h->elem[i];
        double per = 0;
        for (int k = 0; k < e->nprops; k++)
            per += h->format ? ply_size[e->prop[k].count_type ? e->prop[k].count_type : e->prop[k].type] : 2;
        need += per * (double)e->count;
    }
    if (need > (double)left + 1)
        return odx_error(ODX_EMEDIA, "PLY: header declares at least %.0f bytes of data, the file holds %zu", need, left);
    return 0;
}

static int decode_ply(const unsigned char *d, size_t len, const odx_mesh_limits *lim, odx_mesh *m)
{
    cur c = {(const char *)d, (const char *)d + len};
    ply h;
    int rc = ply_header(&c, &h, lim);
    if (rc) return rc;
    if ((rc = ply_check_sizes(&h, (size_t)(c.end - c.p)))) return rc;
    const ply_elem *ve = NULL;
    for (int i = 0; i < h.nelems; i++)
        if (h.elem[i].kind == 1 && !ve) ve = &h.elem[i];
    if (!ve || ve->count == 0) return odx_error(ODX_EMEDIA, "PLY: no vertices");
    int roles = 0;
    for (int k = 0; k < ve->nprops; k++) roles |= ve->prop[k].role ? 1 << ve->prop[k].role : 0;
    if (roles != 0xe) return odx_error(ODX_EMEDIA, "PLY: vertex element lacks x, y or z");
    m->v = odx_malloc((size_t)ve->count * 3 * sizeof(float));
    if (!m->v) return odx_error(ODX_ENOMEM, "out of memory for %lld vertices", (long long)ve->count);
    build b = {m, 0, lim->max_faces, "PLY"};
    int64_t *poly = NULL;
    size_t pcap = 0;
    int have_verts = 0;
    for (int i = 0; i < h.nelems && !rc; i++) {
        const ply_elem *e = &h.elem[i];
        int is_v = e == ve, is_f = e->kind == 2 && have_verts;
        if (e->kind == 2 && !have_verts) return odx_error(ODX_EMEDIA, "PLY: faces before vertices");
        for (int64_t r = 0; r < e->count && !rc; r++) {
            if (h.format == 0) skip_ws(&c, 1, 0);
            for (int k = 0; k < e->nprops && !rc; k++) {
                const ply_prop *p = &e->prop[k];
                double val;
                if (!p->count_type) {
                    if (!ply_value(&c, &h, p->type, &val)) { rc = odx_error(ODX_EMEDIA, "PLY: truncated or bad value in element %d row %lld", i, (long long)r); break; }
                    if (is_v && p->role) m->v[r * 3 + p->role - 1] = (float)val;
                    continue;
                }
                if (!ply_value(&c, &h, p->count_type, &val) || val < 0 || val != floor(val) ||
                    val > (double)(c.end - c.p)) {
                    rc = odx_error(ODX_EMEDIA, "PLY: bad list length in element %d row %lld", i, (long long)r);
                    break;
                }
                int64_t n = (int64_t)val;
                if (is_f && p->role == 4 && (rc = odx_grow(&poly, &pcap, (size_t)n + 1, sizeof *poly))) break;
                for (int64_t q = 0; q < n; q++) {
                    if (!ply_value(&c, &h, p->type, &val)) { rc = odx_error(ODX_EMEDIA, "PLY: truncated list in element %d row %lld", i, (long long)r); break; }
                    if (is_f && p->role == 4) {
                        if (val != floor(val) || val < 0 || val >= (double)ve->count) {
                            rc = odx_error(ODX_EMEDIA, "PLY: face index %g out of range (%lld vertices)", val, (long long)ve->count);
                            break;
                        }
                        poly[q] = (int64_t)val;
                    }
                }
                if (!rc && is_f && p->role == 4) {
                    m->nv = ve->count;
                    rc = add_polygon(&b, poly, n);
                }
            }
            if (!rc && is_v) rc = check_vertex("PLY", m->v + r * 3, r);
        }
        if (is_v) have_verts = 1;
    }
    odx_free(poly);
    if (rc) return rc;
    m->nv = ve->count;
    return 0;
}

/* ----------------------------------------------------------------------- OFF */

static int decode_off(const unsigned char *d, size_t len, const odx_mesh_limits *lim, odx_mesh *m)
{
    cur c = {(const char *)d, (const char *)d + len};
    char kw[16];
    skip_ws(&c, 1, 1);
    if (!token(&c, 0, 1, kw, sizeof kw)) return odx_error(ODX_EMEDIA, "OFF: bad header");
    if (strchr(kw, '4') || strchr(kw, 'n'))
        return odx_error(ODX_EMEDIA, "OFF: %s (not 3-dimensional) is not supported", kw);
    int has_st = strchr(kw, 'S') && strchr(kw, 'T') && strchr(kw, 'T') < strstr(kw, "OFF");
    (void)has_st; /* texture coordinates and colours follow xyz on the line; skipped */
    skip_ws(&c, 0, 1);
    if (c.end - c.p >= 6 && memcmp(c.p, "BINARY", 6) == 0)
        return odx_error(ODX_EMEDIA, "OFF: binary OFF is not supported");
    int64_t nv, nf, ne;
    /* The edge count (unused) is often left out: read only on the same line. */
    if (!tok_int(&c, 1, 1, &nv) || !tok_int(&c, 0, 1, &nf) || nv < 0 || nf < 0)
        return odx_error(ODX_EMEDIA, "OFF: bad vertex/face counts");
    skip_ws(&c, 0, 1);
    if (c.p < c.end && *c.p != '\n' && !tok_int(&c, 0, 1, &ne))
        return odx_error(ODX_EMEDIA, "OFF: bad edge count");
    if (nv > lim->max_vertices)
        return odx_error(ODX_ELIMIT, "OFF: %lld vertices declared, limit %lld", (long long)nv, (long long)lim->max_vertices);
    if (nf > lim->max_faces)
        return odx_error(ODX_ELIMIT, "OFF: %lld faces declared, limit %lld", (long long)nf, (long long)lim->max_faces);
    skip_line(&c);
    /* "0 0 0\n" per vertex, "1 0\n" per face at the least. */
    double need = 6.0 * (double)nv + 4.0 * (double)nf, left = (double)(c.end - c.p);
    if (need > left + 1)
        return odx_error(ODX_EMEDIA, "OFF: %lld vertices and %lld faces declared, the file holds %.0f bytes", (long long)nv, (long long)nf, left);
    if (nv == 0) return odx_error(ODX_EMEDIA, "OFF: no vertices");
    m->v = odx_malloc((size_t)nv * 3 * sizeof(float));
    if (!m->v) return odx_error(ODX_ENOMEM, "out of memory for %lld vertices", (long long)nv);
    m->nv = nv;
    for (int64_t i = 0; i < nv; i++) {
        for (int k = 0; k < 3; k++) {
            double x;
            if (!tok_double(&c, k == 0, 1, &x)) return odx_error(ODX_EMEDIA, "OFF: truncated or bad vertex %lld", (long long)i);
            m->v[i * 3 + k] = (float)x;
        }
        int rc = check_vertex("OFF", m->v + i * 3, i);
        if (rc) return rc;
        skip_line(&c);
    }
    build b = {m, 0, lim->max_faces, "OFF"};
    int64_t *poly = NULL;
    size_t pcap = 0;
    int rc = 0;
    for (int64_t i = 0; i < nf && !rc; i++) {
        int64_t n;
        if (!tok_int(&c, 1, 1, &n) || n < 0 || n > (int64_t)(c.end - c.p) / 2 + 1) {
            rc = odx_error(ODX_EMEDIA, "OFF: truncated or bad face %lld", (long long)i);
            break;
        }
        if ((rc = odx_grow(&poly, &pcap, (size_t)n + 1, sizeof *poly))) break;
        for (int64_t k = 0; k < n; k++)
            if (!tok_int(&c, 0, 1, &poly[k])) { rc = odx_error(ODX_EMEDIA, "OFF: truncated face %lld", (long long)i); break; }
        if (!rc) rc = add_polygon(&b, poly, n);
        skip_line(&c);
    }
    odx_free(poly);
    return rc;
}

/* ----------------------------------------------------------------------- STL */

/* STL is a list of independent triangles: three vertices each, not shared
 * (as assimp and most tools load it). Read here rather than by assimp,
 * whose reader refuses a file with an empty "solid" block. */
static int stl_triangle(build *b, const float tri[9])
{
    int64_t base = b->m->nv;
    for (int k = 0; k < 3; k++) {
        int rc = check_vertex("STL", tri + k * 3, base + k);
        if (rc) return rc;
    }
    memcpy(b->m->v + base * 3, tri, 9 * sizeof(float));
    b->m->nv += 3;
    int64_t idx[3] = {base, base + 1, base + 2};
    return add_polygon(b, idx, 3);
}

static int decode_stl_bin(const unsigned char *d, size_t len, const odx_mesh_limits *lim, odx_mesh *m)
{
    uint64_t n = rd_u32le(d + 80);
    /* Size first: a real file over the limit has the matching size, so a
     * mismatch says "not this count" whatever the count is. */
    if (84 + 50 * n != len)
        return odx_error(ODX_EMEDIA, "STL: binary file declares %llu triangles (%llu bytes) but holds %zu bytes",
                         (unsigned long long)n, (unsigned long long)(84 + 50 * n), len);
    if (n > (uint64_t)lim->max_faces || 3 * n > (uint64_t)lim->max_vertices)
        return odx_error(ODX_ELIMIT, "STL: %llu triangles declared, limits %lld triangles, %lld vertices",
                         (unsigned long long)n, (long long)lim->max_faces, (long long)lim->max_vertices);
    if (n == 0) return odx_error(ODX_EMEDIA, "STL: no triangles");
    m->v = odx_malloc((size_t)n * 9 * sizeof(float));
    m->f = odx_malloc((size_t)n * 3 * sizeof(uint32_t));
    if (!m->v || !m->f) return odx_error(ODX_ENOMEM, "out of memory for %llu triangles", (unsigned long long)n);
    build b = {m, (size_t)n * 3, lim->max_faces, "STL"};
    for (uint64_t t = 0; t < n; t++) {
        const unsigned char *r = d + 84 + t * 50 + 12; /* skip the normal */
        float tri[9];
        for (int k = 0; k < 9; k++) {
            uint32_t u = rd_u32le(r + 4 * k);
            memcpy(&tri[k], &u, 4);
        }
        int rc = stl_triangle(&b, tri);
        if (rc) return rc;
    }
    return 0;
}

static int decode_stl_ascii(const unsigned char *d, size_t len, const odx_mesh_limits *lim, odx_mesh *m)
{
    cur c = {(const char *)d, (const char *)d + len};
    build b = {m, 0, lim->max_faces, "STL"};
    size_t vcap = 0;
    char w[64];
    float tri[9];
    int nvtx = 0, in_facet = 0, rc = 0;
    while (!rc && token(&c, 1, 0, w, sizeof w)) {
        if (strcmp(w, "facet") == 0) {
            if (in_facet) return odx_error(ODX_EMEDIA, "STL: facet inside a facet");
            in_facet = 1;
            nvtx = 0;
        } else if (strcmp(w, "vertex") == 0) {
            if (!in_facet || nvtx == 3) return odx_error(ODX_EMEDIA, "STL: vertex outside a triangle facet");
            for (int k = 0; k < 3; k++) {
                double x;
                if (!tok_double(&c, 0, 0, &x)) return odx_error(ODX_EMEDIA, "STL: bad vertex");
                tri[nvtx * 3 + k] = (float)x;
            }
            nvtx++;
        } else if (strcmp(w, "endfacet") == 0) {
            if (!in_facet || nvtx != 3) return odx_error(ODX_EMEDIA, "STL: facet without 3 vertices");
            in_facet = 0;
            if (m->nv + 3 > lim->max_vertices)
                return odx_error(ODX_ELIMIT, "STL: more than %lld vertices", (long long)lim->max_vertices);
            if ((rc = odx_grow(&m->v, &vcap, (size_t)(m->nv + 3) * 3, sizeof(float)))) break;
            rc = stl_triangle(&b, tri);
        } else if (strcmp(w, "solid") == 0 || strcmp(w, "endsolid") == 0) {
            if (in_facet) return odx_error(ODX_EMEDIA, "STL: unterminated facet");
            skip_line(&c); /* the solid's name */
        }
        /* "normal" values, "outer loop", "endloop" need nothing. */
    }
    if (rc) return rc;
    if (in_facet) return odx_error(ODX_EMEDIA, "STL: truncated facet");
    if (m->nf == 0) return odx_error(ODX_EMEDIA, "STL: no triangles");
    return 0;
}

/* -------------------------------------------------------------------- assimp */

/* The only "file" assimp may open: the caller's buffer under a name whose
 * extension selects the importer. Any other name (mtllib, buffer uris,
 * external images) fails to open, so nothing is read from the disk. */
typedef struct mem_file {
    const unsigned char *d;
    size_t len, pos;
} mem_file;

typedef struct mem_fs {
    const char *name;
    const unsigned char *d;
    size_t len;
} mem_fs;

static size_t mf_read(struct aiFile *f, char *buf, size_t size, size_t count)
{
    mem_file *m = (mem_file *)f->UserData;
    if (!size) return 0;
    size_t n = (m->len - m->pos) / size;
    if (n > count) n = count;
    memcpy(buf, m->d + m->pos, n * size);
    m->pos += n * size;
    return n;
}
static size_t mf_write(struct aiFile *f, const char *b, size_t s, size_t c) { (void)f; (void)b; (void)s; (void)c; return 0; }
static size_t mf_tell(struct aiFile *f) { return ((mem_file *)f->UserData)->pos; }
static size_t mf_size(struct aiFile *f) { return ((mem_file *)f->UserData)->len; }
static void mf_flush(struct aiFile *f) { (void)f; }
static enum aiReturn mf_seek(struct aiFile *f, size_t off, enum aiOrigin o)
{
    mem_file *m = (mem_file *)f->UserData;
    size_t base = o == aiOrigin_SET ? 0 : o == aiOrigin_CUR ? m->pos : m->len;
    if (off > m->len - base) return aiReturn_FAILURE;
    m->pos = base + off;
    return aiReturn_SUCCESS;
}

/* Assimp allocates these with the C++ runtime; ours use malloc directly
 * rather than odx_malloc, since a failure inside assimp's callback is not one
 * of the failure points the tests walk (assimp reports it as a failed import). */
static struct aiFile *mfs_open(struct aiFileIO *io, const char *name, const char *mode)
{
    mem_fs *fs = (mem_fs *)io->UserData;
    if (strcmp(name, fs->name) != 0 || strchr(mode, 'w')) return NULL;
    struct aiFile *f = calloc(1, sizeof *f);
    mem_file *m = calloc(1, sizeof *m);
    if (!f || !m) { free(f); free(m); return NULL; }
    m->d = fs->d;
    m->len = fs->len;
    f->ReadProc = mf_read;
    f->WriteProc = mf_write;
    f->TellProc = mf_tell;
    f->FileSizeProc = mf_size;
    f->SeekProc = mf_seek;
    f->FlushProc = mf_flush;
    f->UserData = (aiUserData)m;
    return f;
}
static void mfs_close(struct aiFileIO *io, struct aiFile *f)
{
    (void)io;
    if (!f) return;
    free(f->UserData);
    free(f);
}

#define MAX_NODE_DEPTH 64
#define MAX_NODE_VISITS 100000

typedef struct walk {
    const struct aiScene *sc;
    int64_t nv, nf, visits;
    odx_mesh *m; /* NULL: counting pass */
    const char *fmt;
    const odx_mesh_limits *lim;
} walk;

static int walk_node(walk *w, const struct aiNode *n, const struct aiMatrix4x4 *parent, int depth)
{
    if (depth > MAX_NODE_DEPTH) return odx_error(ODX_EMEDIA, "%s: node hierarchy deeper than %d", w->fmt, MAX_NODE_DEPTH);
    if (++w->visits > MAX_NODE_VISITS) return odx_error(ODX_EMEDIA, "%s: more than %d nodes", w->fmt, MAX_NODE_VISITS);
    struct aiMatrix4x4 t = *parent;
    aiMultiplyMatrix4(&t, &n->mTransformation); /* t = parent * local */
    for (unsigned i = 0; i < n->mNumMeshes; i++) {
        if (n->mMeshes[i] >= w->sc->mNumMeshes) return odx_error(ODX_EMEDIA, "%s: node names a missing mesh", w->fmt);
        const struct aiMesh *me = w->sc->mMeshes[n->mMeshes[i]];
        if (!me->mVertices) continue;
        int64_t base = w->nv, tris = 0;
        for (unsigned k = 0; k < me->mNumFaces; k++) tris += me->mFaces[k].mNumIndices == 3;
        if (w->m) {
            for (unsigned k = 0; k < me->mNumVertices; k++) {
                struct aiVector3D p = me->mVertices[k];
                aiTransformVecByMatrix4(&p, &t);
                float *o = w->m->v + (base + k) * 3;
                o[0] = p.x; o[1] = p.y; o[2] = p.z;
                int rc = check_vertex(w->fmt, o, base + k);
                if (rc) return rc;
            }
            for (unsigned k = 0; k < me->mNumFaces; k++) {
                const struct aiFace *fc = &me->mFaces[k];
                if (fc->mNumIndices != 3) continue;
                uint32_t *o = w->m->f + w->nf * 3;
                for (int q = 0; q < 3; q++) {
                    if (fc->mIndices[q] >= me->mNumVertices)
                        return odx_error(ODX_EMEDIA, "%s: face index %u out of range (%u vertices)", w->fmt, fc->mIndices[q], me->mNumVertices);
                    o[q] = (uint32_t)(base + fc->mIndices[q]);
                }
                w->nf++;
            }
        } else {
            w->nf += tris;
        }
        w->nv += me->mNumVertices;
        if (w->nv > w->lim->max_vertices)
            return odx_error(ODX_ELIMIT, "%s: more than %lld vertices", w->fmt, (long long)w->lim->max_vertices);
        if (w->nf > w->lim->max_faces)
            return odx_error(ODX_ELIMIT, "%s: more than %lld triangles", w->fmt, (long long)w->lim->max_faces);
    }
    for (unsigned i = 0; i < n->mNumChildren; i++) {
        int rc = walk_node(w, n->mChildren[i], &t, depth + 1);
        if (rc) return rc;
    }
    return 0;
}

/* GLB declares its total length and each chunk's length in headers that
 * assimp 5.2 allocates from before reading (a 300-byte file declaring a
 * 4 GiB JSON chunk made it allocate and zero 4 GiB; found by fuzz_mesh).
 * Every declared length must fit in the bytes present. Version 1 has one
 * content length after the total; version 2 a list of chunks. */
static int check_glb(const unsigned char *d, size_t len)
{
    uint32_t version = rd_u32le(d + 4), total = rd_u32le(d + 8);
    if (total < 12 || total > len)
        return odx_error(ODX_EMEDIA, "GLB: header declares %u bytes, the file holds %zu", (unsigned)total, len);
    size_t off = 12;
    if (version == 1) {
        if (total < 20 || rd_u32le(d + 12) > total - 20)
            return odx_error(ODX_EMEDIA, "GLB: content length runs past the declared %u bytes", (unsigned)total);
        return 0;
    }
    while (off < total) {
        if (total - off < 8) return odx_error(ODX_EMEDIA, "GLB: chunk header at byte %zu is cut", off);
        uint32_t clen = rd_u32le(d + off);
        if (clen > total - off - 8)
            return odx_error(ODX_EMEDIA, "GLB: chunk at byte %zu declares %u bytes, past the declared end", off,
                             (unsigned)clen);
        off += 8 + (size_t)clen;
    }
    return 0;
}

static int decode_assimp(const unsigned char *d, size_t len, fmt f, const odx_mesh_limits *lim, odx_mesh *m)
{
    const char *name = fmt_name(f);
    if (f == F_GLB) {
        int rc = check_glb(d, len);
        if (rc) return rc;
    }
    static const char *const fname[] = {
        [F_OBJ] = "$$omnidex$$.obj", [F_GLTF] = "$$omnidex$$.gltf", [F_GLB] = "$$omnidex$$.glb"};
    mem_fs fs = {fname[f], d, len};
    struct aiFileIO io = {mfs_open, mfs_close, (aiUserData)&fs};
    const struct aiScene *sc = aiImportFileEx(fs.name, aiProcess_Triangulate | aiProcess_SortByPType, &io);
    if (!sc) {
        const char *e = aiGetErrorString();
        if (!e || !*e) e = "assimp could not import the file";
        /* assimp's importers often name themselves already ("OBJ: ..."). */
        if (!strncmp(e, name, strlen(name)) && e[strlen(name)] == ':') return odx_error(ODX_EMEDIA, "%s", e);
        return odx_error(ODX_EMEDIA, "%s: %s", name, e);
    }
    int rc = 0;
    if (!sc->mRootNode || !sc->mNumMeshes) {
        rc = odx_error(ODX_EMEDIA, "%s: no geometry", name);
        goto out;
    }
    struct aiMatrix4x4 id;
    memset(&id, 0, sizeof id);
    id.a1 = id.b2 = id.c3 = id.d4 = 1;
    walk w = {sc, 0, 0, 0, NULL, name, lim};
    if ((rc = walk_node(&w, sc->mRootNode, &id, 0))) goto out;
    if (w.nv == 0) { rc = odx_error(ODX_EMEDIA, "%s: no vertices", name); goto out; }
    m->v = odx_malloc((size_t)w.nv * 3 * sizeof(float));
    m->f = w.nf ? odx_malloc((size_t)w.nf * 3 * sizeof(uint32_t)) : NULL;
    if (!m->v || (w.nf && !m->f)) { rc = odx_error(ODX_ENOMEM, "out of memory for %lld vertices", (long long)w.nv); goto out; }
    walk w2 = {sc, 0, 0, 0, m, name, lim};
    if ((rc = walk_node(&w2, sc->mRootNode, &id, 0))) goto out;
    m->nv = w2.nv;
    m->nf = w2.nf;
out:
    aiReleaseImport(sc);
    return rc;
}

int odx_mesh_decode(const void *data, size_t len, const odx_mesh_limits *lim_in, odx_mesh *out)
{
    memset(out, 0, sizeof *out);
    odx_mesh_limits lim = {ODX_MESH_DEFAULT_MAX_VERTICES, ODX_MESH_DEFAULT_MAX_FACES};
    if (lim_in && lim_in->max_vertices > 0) lim.max_vertices = lim_in->max_vertices;
    if (lim_in && lim_in->max_faces > 0) lim.max_faces = lim_in->max_faces;
    /* uint32 face indices: never more vertices than they can address. */
    if (lim.max_vertices > (int64_t)UINT32_MAX) lim.max_vertices = UINT32_MAX;
    if (!data || len == 0) return odx_error(ODX_EMEDIA, "empty 3D file");
    const unsigned char *d = data;
    fmt f = sniff(d, len);
    int rc;
    switch (f) {
    case F_PLY: rc = decode_ply(d, len, &lim, out); break;
    case F_OFF: rc = decode_off(d, len, &lim, out); break;
    case F_STL_BIN: rc = decode_stl_bin(d, len, &lim, out); break;
    case F_STL_ASCII: rc = decode_stl_ascii(d, len, &lim, out); break;
    case F_UNKNOWN: return odx_error(ODX_EMEDIA, "unrecognised 3D format (PLY, OFF, OBJ, STL, glTF, GLB are read)");
    default: rc = decode_assimp(d, len, f, &lim, out); break;
    }
    if (rc) odx_mesh_free(out);
    return rc;
}
