/* 3D mesh decoding (see mesh.h): the format sniffer, the limits, and the
 * dispatch to one decoder per format: mesh_ply.c, mesh_off.c, mesh_stl.c
 * (strict parsers of their own) and mesh_assimp.c (OBJ, glTF, GLB through
 * libassimp). Helpers the parsers share are in mesh_parse.h. */
#include "encoders/media/mesh.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "encoders/media/mesh_parse.h"

typedef enum fmt { F_UNKNOWN, F_PLY, F_OFF, F_OBJ, F_STL_ASCII, F_STL_BIN, F_GLTF, F_GLB } fmt;

/* What each sniffed format is called and which file decodes it. */
static const struct {
    const char *name;
    int (*decode)(const unsigned char *d, size_t len, const odx_mesh_limits *lim, odx_mesh *m);
} formats[] = {
    [F_UNKNOWN] = {"unknown", NULL},
    [F_PLY] = {"PLY", odx_mesh_decode_ply},
    [F_OFF] = {"OFF", odx_mesh_decode_off},
    [F_OBJ] = {"OBJ", odx_mesh_decode_obj},
    [F_STL_ASCII] = {"STL", odx_mesh_decode_stl_ascii},
    [F_STL_BIN] = {"STL", odx_mesh_decode_stl_bin},
    [F_GLTF] = {"glTF", odx_mesh_decode_gltf},
    [F_GLB] = {"GLB", odx_mesh_decode_glb},
};

static int starts(const unsigned char *d, size_t len, const char *s)
{
    size_t n = strlen(s);
    return len >= n && memcmp(d, s, n) == 0;
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
    return formats[data ? sniff(data, len) : F_UNKNOWN].name;
}

void odx_mesh_free(odx_mesh *m)
{
    if (!m) return;
    odx_free(m->v);
    odx_free(m->f);
    memset(m, 0, sizeof *m);
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
    if (f == F_UNKNOWN) return odx_error(ODX_EMEDIA, "unrecognised 3D format (PLY, OFF, OBJ, STL, glTF, GLB are read)");
    int rc = formats[f].decode(d, len, &lim, out);
    if (rc) odx_mesh_free(out);
    return rc;
}
