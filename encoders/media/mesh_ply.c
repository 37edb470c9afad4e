/* PLY (ascii, binary little- and big-endian): a strict reader whose header
 * counts are checked against the limits and the bytes present before
 * anything is allocated; vertex-only files are point clouds. */
#include <stdio.h>

#include "encoders/media/mesh_parse.h"

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

int odx_mesh_decode_ply(const unsigned char *d, size_t len, const odx_mesh_limits *lim, odx_mesh *m)
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
