/* Shared by the mesh decoders (mesh.c and one file per format): the text
 * cursor of the PLY, OFF and ASCII STL parsers, the output builder every
 * parser appends to (vertex checks, polygon fans, the face limit), and the
 * decoders mesh.c dispatches to. Private to encoders/media/mesh*.c; the
 * helpers are static inline so each parser's hot loops compile exactly as
 * they did when all formats lived in one file. */
#ifndef ODX_ENC_MESH_PARSE_H
#define ODX_ENC_MESH_PARSE_H
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "encoders/media/mesh.h"

/* One decoder per format. m is zeroed by the caller, which frees it on
 * failure; lim holds the effective limits (never <= 0). */
int odx_mesh_decode_ply(const unsigned char *d, size_t len, const odx_mesh_limits *lim, odx_mesh *m);      /* mesh_ply.c */
int odx_mesh_decode_off(const unsigned char *d, size_t len, const odx_mesh_limits *lim, odx_mesh *m);      /* mesh_off.c */
int odx_mesh_decode_stl_bin(const unsigned char *d, size_t len, const odx_mesh_limits *lim, odx_mesh *m);  /* mesh_stl.c */
int odx_mesh_decode_stl_ascii(const unsigned char *d, size_t len, const odx_mesh_limits *lim, odx_mesh *m);
int odx_mesh_decode_obj(const unsigned char *d, size_t len, const odx_mesh_limits *lim, odx_mesh *m);      /* mesh_assimp.c */
int odx_mesh_decode_gltf(const unsigned char *d, size_t len, const odx_mesh_limits *lim, odx_mesh *m);
int odx_mesh_decode_glb(const unsigned char *d, size_t len, const odx_mesh_limits *lim, odx_mesh *m);

static inline uint32_t rd_u32le(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---------------------------------------------------------------- text cursor */

typedef struct cur {
    const char *p, *end;
} cur;

/* Skips spaces and tabs (and newlines when nl); '#' comments when hash. */
static inline void skip_ws(cur *c, int nl, int hash)
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

static inline void skip_line(cur *c)
{
    while (c->p < c->end && *c->p != '\n') c->p++;
    if (c->p < c->end) c->p++;
}

/* Next whitespace-delimited token into buf (NUL-terminated); 0 if none or
 * longer than the buffer (no number needs 64 characters). */
static inline int token(cur *c, int nl, int hash, char *buf, size_t cap)
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

static inline int tok_double(cur *c, int nl, int hash, double *out)
{
    char b[64], *e;
    if (!token(c, nl, hash, b, sizeof b)) return 0;
    *out = strtod(b, &e);
    return *e == 0;
}

static inline int tok_int(cur *c, int nl, int hash, int64_t *out)
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

static inline int check_vertex(const char *fmt, const float *v, int64_t i)
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
static inline int add_polygon(build *b, const int64_t *idx, int64_t n)
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

#endif
