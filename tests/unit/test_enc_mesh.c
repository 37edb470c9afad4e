/* 3D path: mesh decoding of hand-made files in every format (and broken
 * ones), surface sampling, normalisation, FPS / kNN against brute force,
 * the depth renderer, and allocation failure at every step. Expected values
 * come from the geometry of the hand-made shapes, not from the code. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "encoders/media/mesh.h"
#include "encoders/media/points.h"
#include "encoders/media/render.h"
#include "testlib.h"

/* A growable byte buffer for building files. */
typedef struct buf {
    unsigned char d[1 << 16];
    size_t n;
} buf;

static void put(buf *b, const void *p, size_t n) { memcpy(b->d + b->n, p, n); b->n += n; }
static void puts_(buf *b, const char *s) { put(b, s, strlen(s)); }
static void put_u32le(buf *b, uint32_t v) { unsigned char c[4] = {v, v >> 8, v >> 16, v >> 24}; put(b, c, 4); }
static void put_f32(buf *b, float f, int be)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    unsigned char c[4] = {u, u >> 8, u >> 16, u >> 24};
    if (be) { unsigned char t = c[0]; c[0] = c[3]; c[3] = t; t = c[1]; c[1] = c[2]; c[2] = t; }
    put(b, c, 4);
}
static void put_i32(buf *b, int32_t v, int be)
{
    uint32_t u = (uint32_t)v;
    unsigned char c[4] = {u, u >> 8, u >> 16, u >> 24};
    if (be) { unsigned char t = c[0]; c[0] = c[3]; c[3] = t; t = c[1]; c[1] = c[2]; c[2] = t; }
    put(b, c, 4);
}

/* Square pyramid: base (0,0,0) (1,0,0) (1,1,0) (0,1,0) as one quad, apex
 * (0.5,0.5,1), four triangular sides: 6 triangles after triangulation. */
static const float PYR_V[5][3] = {{0, 0, 0}, {1, 0, 0}, {1, 1, 0}, {0, 1, 0}, {0.5f, 0.5f, 1}};

static void ply_pyramid(buf *b, int format /* 0 ascii 1 LE 2 BE */)
{
    static const char *fmt[] = {"ascii", "binary_little_endian", "binary_big_endian"};
    char h[512];
    snprintf(h, sizeof h,
             "ply\nformat %s 1.0\ncomment hand-made\nelement vertex 5\nproperty float x\nproperty float y\n"
             "property float z\nproperty uchar red\nelement face 5\nproperty list uchar int vertex_indices\nend_header\n",
             fmt[format]);
    b->n = 0;
    puts_(b, h);
    static const int faces[5][5] = {{4, 0, 1, 2, 3}, {3, 0, 1, 4}, {3, 1, 2, 4}, {3, 2, 3, 4}, {3, 3, 0, 4}};
    for (int i = 0; i < 5; i++) {
        if (format == 0) {
            char l[128];
            snprintf(l, sizeof l, "%g %g %g 200\n", PYR_V[i][0], PYR_V[i][1], PYR_V[i][2]);
            puts_(b, l);
        } else {
            for (int k = 0; k < 3; k++) put_f32(b, PYR_V[i][k], format == 2);
            unsigned char c = 200;
            put(b, &c, 1);
        }
    }
    for (int i = 0; i < 5; i++) {
        int n = faces[i][0];
        if (format == 0) {
            char l[128];
            int o = snprintf(l, sizeof l, "%d", n);
            for (int k = 1; k <= n; k++) o += snprintf(l + o, sizeof l - o, " %d", faces[i][k]);
            snprintf(l + o, sizeof l - o, "\n");
            puts_(b, l);
        } else {
            unsigned char c = (unsigned char)n;
            put(b, &c, 1);
            for (int k = 1; k <= n; k++) put_i32(b, faces[i][k], format == 2);
        }
    }
}

static int decode(const buf *b, const odx_mesh_limits *lim, odx_mesh *m)
{
    return odx_mesh_decode(b->d, b->n, lim, m);
}

/* Every vertex of m is one of the pyramid's corners, and every corner is used. */
static int same_corners(const odx_mesh *m)
{
    int used[5] = {0};
    for (int64_t i = 0; i < m->nv; i++) {
        int hit = -1;
        for (int c = 0; c < 5; c++)
            if (fabsf(m->v[i * 3] - PYR_V[c][0]) < 1e-6f && fabsf(m->v[i * 3 + 1] - PYR_V[c][1]) < 1e-6f &&
                fabsf(m->v[i * 3 + 2] - PYR_V[c][2]) < 1e-6f) hit = c;
        if (hit < 0) return 0;
        used[hit] = 1;
    }
    return used[0] && used[1] && used[2] && used[3] && used[4];
}

/* Sum of triangle areas: the pyramid's surface is 1 + 4 * 0.5 * 1 * sqrt(1.25). */
static double surface(const odx_mesh *m)
{
    double s = 0;
    for (int64_t t = 0; t < m->nf; t++) {
        const float *a = m->v + m->f[t * 3] * 3, *b = m->v + m->f[t * 3 + 1] * 3, *c = m->v + m->f[t * 3 + 2] * 3;
        double e1[3], e2[3];
        for (int k = 0; k < 3; k++) { e1[k] = b[k] - a[k]; e2[k] = c[k] - a[k]; }
        double x = e1[1] * e2[2] - e1[2] * e2[1], y = e1[2] * e2[0] - e1[0] * e2[2], z = e1[0] * e2[1] - e1[1] * e2[0];
        s += 0.5 * sqrt(x * x + y * y + z * z);
    }
    return s;
}

static const double PYR_AREA = 1.0 + 2.0 * 1.118033988749895;

static void check_pyramid(const odx_mesh *m, const char *what, int nv)
{
    CHECK(m->nv == nv, "%s: %lld vertices", what, (long long)m->nv);
    CHECK(m->nf == 6, "%s: %lld triangles", what, (long long)m->nf);
    CHECK(same_corners(m), "%s: corners", what);
    CHECK(fabs(surface(m) - PYR_AREA) < 1e-5, "%s: area %g", what, surface(m));
}

static void test_ply(void)
{
    static buf b;
    for (int f = 0; f < 3; f++) {
        odx_mesh m;
        ply_pyramid(&b, f);
        REQUIRE_OK(decode(&b, NULL, &m));
        CHECK(strcmp(odx_mesh_format_name(b.d, b.n), "PLY") == 0, "name");
        check_pyramid(&m, f == 0 ? "ascii PLY" : f == 1 ? "binary LE PLY" : "binary BE PLY", 5);
        odx_mesh_free(&m);
    }
    /* A point cloud: vertices, no face element. */
    const char *pc = "ply\nformat ascii 1.0\nelement vertex 3\nproperty double x\nproperty double y\nproperty double z\n"
                     "end_header\n1 2 3\n4 5 6\n-7 8 9.5\n";
    odx_mesh m;
    REQUIRE_OK(odx_mesh_decode(pc, strlen(pc), NULL, &m));
    CHECK(m.nv == 3 && m.nf == 0 && m.f == NULL, "point cloud %lld/%lld", (long long)m.nv, (long long)m.nf);
    CHECK(m.v[6] == -7.0f && m.v[8] == 9.5f, "values");
    odx_mesh_free(&m);
}

static void test_off_obj_stl(void)
{
    odx_mesh m;
    const char *off = "OFF\n# a comment\n5 5 0\n0 0 0\n1 0 0\n1 1 0\n0 1 0\n0.5 0.5 1\n"
                      "4 0 1 2 3\n3 0 1 4\n3 1 2 4 255 0 0\n3 2 3 4\n3 3 0 4\n";
    REQUIRE_OK(odx_mesh_decode(off, strlen(off), NULL, &m));
    CHECK(strcmp(odx_mesh_format_name(off, strlen(off)), "OFF") == 0, "name");
    check_pyramid(&m, "OFF", 5);
    odx_mesh_free(&m);

    const char *obj = "# pyramid\no pyr\nv 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nv 0.5 0.5 1\n"
                      "f 1 2 3 4\nf 1 2 5\nf 2 3 5\nf 3 4 5\nf 4 1 5\n";
    REQUIRE_OK(odx_mesh_decode(obj, strlen(obj), NULL, &m));
    CHECK(strcmp(odx_mesh_format_name(obj, strlen(obj)), "OBJ") == 0, "name");
    /* assimp's OBJ importer gives each face corner its own vertex: 4 + 4*3. */
    check_pyramid(&m, "OBJ", 16);
    odx_mesh_free(&m);

    /* STL: the pyramid's base as two facets, ascii and binary. */
    static const float tri[2][3][3] = {{{0, 0, 0}, {1, 0, 0}, {1, 1, 0}}, {{0, 0, 0}, {1, 1, 0}, {0, 1, 0}}};
    static buf b;
    b.n = 0;
    puts_(&b, "solid base\n");
    for (int t = 0; t < 2; t++) {
        puts_(&b, " facet normal 0 0 1\n  outer loop\n");
        for (int k = 0; k < 3; k++) {
            char l[96];
            snprintf(l, sizeof l, "   vertex %g %g %g\n", tri[t][k][0], tri[t][k][1], tri[t][k][2]);
            puts_(&b, l);
        }
        puts_(&b, "  endloop\n endfacet\n");
    }
    puts_(&b, "endsolid base\n");
    REQUIRE_OK(decode(&b, NULL, &m));
    CHECK(strcmp(odx_mesh_format_name(b.d, b.n), "STL") == 0, "name");
    CHECK(m.nf == 2 && fabs(surface(&m) - 1.0) < 1e-6, "ascii STL: %lld faces, area %g", (long long)m.nf, surface(&m));
    odx_mesh_free(&m);

    b.n = 0;
    unsigned char hdr[80];
    memset(hdr, 0, sizeof hdr);
    memcpy(hdr, "solid but binary", 16); /* exporters do this; the size rule wins */
    put(&b, hdr, 80);
    put_u32le(&b, 2);
    for (int t = 0; t < 2; t++) {
        for (int k = 0; k < 3; k++) put_f32(&b, k == 2 ? 1.0f : 0.0f, 0);
        for (int k = 0; k < 3; k++)
            for (int q = 0; q < 3; q++) put_f32(&b, tri[t][k][q], 0);
        unsigned char attr[2] = {0, 0};
        put(&b, attr, 2);
    }
    REQUIRE_OK(decode(&b, NULL, &m));
    CHECK(m.nf == 2 && fabs(surface(&m) - 1.0) < 1e-6, "binary STL: %lld faces", (long long)m.nf);
    odx_mesh_free(&m);
    /* The same file claiming 3 triangles: named, refused. */
    b.d[80] = 3;
    CHECK(decode(&b, NULL, &m) == ODX_EMEDIA && strstr(odx_last_error(), "STL"), "lying STL: %s", odx_last_error());
    b.d[80] = 2;
    odx_mesh_limits lim = {0, 1};
    CHECK(decode(&b, &lim, &m) == ODX_ELIMIT, "STL over the face limit");
}

/* A GLB with one triangle (0,0,0) (1,0,0) (0,1,0) instanced by two nodes:
 * translated by (10,0,0), and scaled by 2 under a parent translated by
 * (-5,0,0). */
static void glb_two_nodes(buf *b)
{
    const char *json =
        "{\"asset\":{\"version\":\"2.0\"},\"scene\":0,\"scenes\":[{\"nodes\":[0,1]}],"
        "\"nodes\":[{\"mesh\":0,\"translation\":[10,0,0]},{\"translation\":[-5,0,0],\"children\":[2]},"
        "{\"mesh\":0,\"scale\":[2,2,2]}],"
        "\"meshes\":[{\"primitives\":[{\"attributes\":{\"POSITION\":0},\"indices\":1}]}],"
        "\"accessors\":[{\"bufferView\":0,\"componentType\":5126,\"count\":3,\"type\":\"VEC3\",\"min\":[0,0,0],\"max\":[1,1,0]},"
        "{\"bufferView\":1,\"componentType\":5123,\"count\":3,\"type\":\"SCALAR\"}],"
        "\"bufferViews\":[{\"buffer\":0,\"byteOffset\":0,\"byteLength\":36},{\"buffer\":0,\"byteOffset\":36,\"byteLength\":6}],"
        "\"buffers\":[{\"byteLength\":44}]}";
    size_t jl = strlen(json), jp = (jl + 3) & ~(size_t)3;
    b->n = 0;
    puts_(b, "glTF");
    put_u32le(b, 2);
    put_u32le(b, (uint32_t)(12 + 8 + jp + 8 + 44));
    put_u32le(b, (uint32_t)jp);
    puts_(b, "JSON");
    put(b, json, jl);
    for (size_t i = jl; i < jp; i++) puts_(b, " ");
    put_u32le(b, 44);
    puts_(b, "BIN");
    b->d[b->n++] = 0;
    static const float v[9] = {0, 0, 0, 1, 0, 0, 0, 1, 0};
    for (int i = 0; i < 9; i++) put_f32(b, v[i], 0);
    unsigned char idx[8] = {0, 0, 1, 0, 2, 0, 0, 0};
    put(b, idx, 8);
}

static void test_glb_nodes(void)
{
    static buf b;
    glb_two_nodes(&b);
    odx_mesh m;
    CHECK(strcmp(odx_mesh_format_name(b.d, b.n), "GLB") == 0, "name %s", odx_mesh_format_name(b.d, b.n));
    REQUIRE_OK(decode(&b, NULL, &m));
    CHECK(m.nv == 6 && m.nf == 2, "%lld vertices %lld faces", (long long)m.nv, (long long)m.nf);
    /* Expected: {10,11,10} x and {-5,-3,-5} x (scale 2 then translate). */
    int near10 = 0, nearm5 = 0, nearm3 = 0;
    for (int64_t i = 0; i < m.nv; i++) {
        float x = m.v[i * 3];
        near10 += fabsf(x - 10) < 1e-5f;
        nearm5 += fabsf(x + 5) < 1e-5f;
        nearm3 += fabsf(x + 3) < 1e-5f;
    }
    CHECK(near10 == 2 && nearm5 == 2 && nearm3 == 1, "transforms: %d %d %d", near10, nearm5, nearm3);
    CHECK(fabs(surface(&m) - (0.5 + 2.0)) < 1e-5, "area %g", surface(&m));
    odx_mesh_free(&m);
}

static void expect(const void *d, size_t n, const odx_mesh_limits *lim, int rc, const char *name, const char *what)
{
    odx_mesh m;
    memset(&m, 0x55, sizeof m);
    int got = odx_mesh_decode(d, n, lim, &m);
    CHECK(got == rc, "%s: got %d (%s) want %d", what, got, odx_last_error(), rc);
    if (got == rc && name) CHECK(strstr(odx_last_error(), name) != NULL, "%s: message '%s' lacks %s", what, odx_last_error(), name);
    CHECK(m.v == NULL && m.f == NULL && m.nv == 0, "%s: output not cleared", what);
    if (got == 0) odx_mesh_free(&m);
}

static void test_bad_files(void)
{
    static buf b;
    expect("", 0, NULL, ODX_EMEDIA, NULL, "zero bytes");
    expect(NULL, 0, NULL, ODX_EMEDIA, NULL, "NULL");
    unsigned char junk[1000];
    uint64_t s = 12345;
    for (size_t i = 0; i < sizeof junk; i++) { s = s * 6364136223846793005ull + 1; junk[i] = (unsigned char)(s >> 56); }
    expect(junk, sizeof junk, NULL, ODX_EMEDIA, NULL, "garbage");
    expect("hello world\n", 12, NULL, ODX_EMEDIA, "unrecognised", "text");
    /* Truncated binary PLY: every prefix after the header fails cleanly. */
    ply_pyramid(&b, 1);
    size_t full = b.n;
    for (size_t cut = full - 1; cut > full - 60; cut -= 7) expect(b.d, cut, NULL, ODX_EMEDIA, "PLY", "truncated binary PLY");
    ply_pyramid(&b, 0);
    expect(b.d, b.n - 12, NULL, ODX_EMEDIA, "PLY", "truncated ascii PLY");
    /* Lying counts. */
    const char *lie = "ply\nformat binary_little_endian 1.0\nelement vertex 1000000\nproperty float x\nproperty float y\n"
                      "property float z\nend_header\n\0\0\0\0\0\0\0\0\0\0\0\0";
    expect(lie, strlen(lie) + 12, NULL, ODX_EMEDIA, "PLY", "PLY lying vertex count");
    const char *huge = "ply\nformat ascii 1.0\nelement vertex 99999999999\nproperty float x\nend_header\n";
    expect(huge, strlen(huge), NULL, ODX_ELIMIT, "PLY", "PLY over the vertex limit");
    const char *off_lie = "OFF\n100 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n";
    expect(off_lie, strlen(off_lie), NULL, ODX_EMEDIA, "OFF", "OFF lying count");
    odx_mesh_limits lim = {4, 0};
    ply_pyramid(&b, 0);
    expect(b.d, b.n, &lim, ODX_ELIMIT, "PLY", "PLY over a custom vertex limit");
    odx_mesh_limits flim = {0, 5};
    expect(b.d, b.n, &flim, ODX_ELIMIT, "PLY", "PLY over the triangle limit after triangulation");
    /* NaN/Inf, bad indices, no vertices. */
    const char *nan_ply = "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\n"
                          "end_header\n0 0 0\n1 nan 0\n0 1 0\n";
    expect(nan_ply, strlen(nan_ply), NULL, ODX_EMEDIA, "non-finite", "NaN vertex");
    const char *inf_off = "OFF\n3 1 0\n0 0 0\ninf 0 0\n0 1 0\n3 0 1 2\n";
    expect(inf_off, strlen(inf_off), NULL, ODX_EMEDIA, "non-finite", "Inf vertex");
    const char *bad_idx = "OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 3\n";
    expect(bad_idx, strlen(bad_idx), NULL, ODX_EMEDIA, "out of range", "OFF index out of range");
    const char *bad_idx_ply = "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\n"
                              "element face 1\nproperty list uchar int vertex_indices\nend_header\n0 0 0\n1 0 0\n0 1 0\n3 0 1 -1\n";
    expect(bad_idx_ply, strlen(bad_idx_ply), NULL, ODX_EMEDIA, "out of range", "PLY index out of range");
    const char *no_v = "OFF\n0 0 0\n";
    expect(no_v, strlen(no_v), NULL, ODX_EMEDIA, "OFF", "no vertices");
    const char *bad_obj = "v 0 0 0\nv 1 0 0\nf 1 2 7\n";
    expect(bad_obj, strlen(bad_obj), NULL, ODX_EMEDIA, "OBJ", "OBJ index out of range");
    /* assimp's own messages already start "OBJ: ": the format is named once. */
    const char *first = strstr(odx_last_error(), "OBJ:");
    CHECK(first && !strstr(first + 1, "OBJ:"), "format named once: '%s'", odx_last_error());
    /* An OBJ asking for a material file on disk: the importer cannot read
     * it (only the caller's buffer exists), the geometry still loads. */
    const char *mtl = "mtllib /etc/passwd\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n";
    odx_mesh m;
    CHECK(odx_mesh_decode(mtl, strlen(mtl), NULL, &m) == 0 && m.nf == 1, "OBJ with an mtllib: %s", odx_last_error());
    odx_mesh_free(&m);
    glb_two_nodes(&b);
    expect(b.d, b.n - 10, NULL, ODX_EMEDIA, "GLB", "truncated GLB");
    const char *stl_cut = "solid s\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\n";
    expect(stl_cut, strlen(stl_cut), NULL, ODX_EMEDIA, "STL", "truncated ascii STL");
    const char *stl_empty = "solid s\nendsolid s\n";
    expect(stl_empty, strlen(stl_empty), NULL, ODX_EMEDIA, "STL", "ascii STL without facets");
}

/* Two triangles in z = 0 of areas 1 (x in [0, 2]) and 3 (x in [10, 13]). */
static void two_triangles(odx_mesh *m, float *v, uint32_t *f)
{
    static const float vv[18] = {0, 0, 0, 2, 0, 0, 0, 1, 0, 10, 0, 0, 13, 0, 0, 10, 2, 0};
    static const uint32_t ff[6] = {0, 1, 2, 3, 4, 5};
    memcpy(v, vv, sizeof vv);
    memcpy(f, ff, sizeof ff);
    m->v = v; m->nv = 6; m->f = f; m->nf = 2;
}

static void test_sampling(void)
{
    float v[18];
    uint32_t f[6];
    odx_mesh m;
    two_triangles(&m, v, f);
    enum { N = 40000 };
    static float p[N * 3];
    REQUIRE_OK(odx_points_sample(&m, N, p));
    int in2 = 0, off_surface = 0;
    for (int i = 0; i < N; i++) {
        float x = p[i * 3], y = p[i * 3 + 1], z = p[i * 3 + 2];
        if (z != 0) off_surface++;
        if (x < 5) {  /* inside (0,0) (2,0) (0,1): x/2 + y <= 1 */
            if (x < 0 || y < 0 || x / 2 + y > 1 + 1e-6f) off_surface++;
        } else {      /* inside (10,0) (13,0) (10,2): (x-10)/3 + y/2 <= 1 */
            in2++;
            if (x < 10 || y < 0 || (x - 10) / 3 + y / 2 > 1 + 1e-6f) off_surface++;
        }
    }
    CHECK(off_surface == 0, "%d points off the surface", off_surface);
    /* Expected share 0.75; sd sqrt(.75*.25/N) = 0.0022; the seed is fixed,
     * so the bound (7 sd) decides once and for all. */
    double share = (double)in2 / N;
    CHECK(fabs(share - 0.75) < 0.015, "area share %g", share);
    /* Deterministic: the same points again. */
    static float q[N * 3];
    REQUIRE_OK(odx_points_sample(&m, N, q));
    CHECK(memcmp(p, q, sizeof p) == 0, "not deterministic");
    /* A point cloud: every sample is one of its vertices, all get used. */
    m.nf = 0;
    REQUIRE_OK(odx_points_sample(&m, 600, p));
    int used[6] = {0}, strays = 0;
    for (int i = 0; i < 600; i++) {
        int hit = -1;
        for (int k = 0; k < 6; k++)
            if (!memcmp(p + i * 3, v + k * 3, 12)) hit = k;
        if (hit < 0) strays++; else used[hit]++;
    }
    CHECK(strays == 0, "%d samples are not vertices", strays);
    for (int k = 0; k < 6; k++) CHECK(used[k] > 50, "vertex %d drawn %d times of 600", k, used[k]);
    /* Zero area: vertices as well. */
    float flat[9] = {1, 1, 1, 2, 2, 2, 3, 3, 3};
    uint32_t ft[3] = {0, 1, 2};
    odx_mesh d = {flat, 3, ft, 1};
    REQUIRE_OK(odx_points_sample(&d, 10, p));
    for (int i = 0; i < 10; i++) CHECK(p[i * 3] == p[i * 3 + 1] && (p[i * 3] == 1 || p[i * 3] == 2 || p[i * 3] == 3), "degenerate");
    CHECK(odx_points_sample(&d, 0, p) == ODX_EINVAL, "n = 0");
    /* Normalise: centroid 0, farthest point at 1. */
    m.nf = 2;
    REQUIRE_OK(odx_points_sample(&m, 1000, p));
    odx_points_normalize(p, 1000);
    double c[3] = {0, 0, 0}, mx = 0;
    for (int i = 0; i < 1000; i++)
        for (int k = 0; k < 3; k++) c[k] += p[i * 3 + k] / 1000.0;
    for (int i = 0; i < 1000; i++) {
        double n = sqrt((double)p[i * 3] * p[i * 3] + (double)p[i * 3 + 1] * p[i * 3 + 1] + (double)p[i * 3 + 2] * p[i * 3 + 2]);
        if (n > mx) mx = n;
    }
    CHECK(fabs(c[0]) < 1e-5 && fabs(c[1]) < 1e-5 && fabs(c[2]) < 1e-5, "centroid %g %g %g", c[0], c[1], c[2]);
    CHECK(fabs(mx - 1) < 1e-6, "max norm %g", mx);
}

static float sq(const float *a, const float *b)
{
    float dx = a[0] - b[0], dy = a[1] - b[1], dz = a[2] - b[2];
    return dx * dx + dy * dy + dz * dz;
}

typedef struct dist_idx { float d; int i; } dist_idx;
static int cmp_di(const void *a, const void *b)
{
    const dist_idx *x = a, *y = b;
    if (x->d != y->d) return x->d < y->d ? -1 : 1;
    return x->i - y->i;
}

static void test_fps_knn(void)
{
    enum { N = 500, G = 40, K = 16 };
    static float p[N * 3];
    uint64_t s = 99;
    for (int i = 0; i < N * 3; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        /* A coarse grid (multiples of 1/8) so that equal distances occur
         * and the tie rule is exercised. */
        p[i] = (float)((int)(s >> 59) - 16) / 8.0f;
    }
    int idx[G], nb[G * K];
    REQUIRE_OK(odx_points_fps(p, N, G, idx));
    /* Brute force: for each step recompute every point's distance to the
     * nearest chosen centre from scratch; take the first maximum. */
    int bf[G];
    bf[0] = 0;
    for (int g = 1; g < G; g++) {
        int best = -1;
        float bd = -1;
        for (int j = 0; j < N; j++) {
            float d = INFINITY;
            for (int q = 0; q < g; q++) { float e = sq(p + j * 3, p + bf[q] * 3); if (e < d) d = e; }
            if (d > bd) { bd = d; best = j; }
        }
        bf[g] = best;
    }
    CHECK(memcmp(idx, bf, sizeof bf) == 0, "FPS differs from brute force");
    REQUIRE_OK(odx_points_knn(p, N, idx, G, K, nb));
    static dist_idx all[N];
    int bad = 0, ties = 0;
    for (int g = 0; g < G; g++) {
        for (int j = 0; j < N; j++) { all[j].d = sq(p + j * 3, p + idx[g] * 3); all[j].i = j; }
        qsort(all, N, sizeof all[0], cmp_di);
        for (int k = 0; k < K; k++) {
            bad += nb[g * K + k] != all[k].i;
            ties += k > 0 && all[k].d == all[k - 1].d;
        }
    }
    CHECK(bad == 0, "%d kNN entries differ from the sorted brute force", bad);
    CHECK(ties > 0, "the data set has no ties, the tie rule is untested");
    static float cen[G * 3], neigh[G * K * 3];
    REQUIRE_OK(odx_points_group(p, N, G, K, cen, neigh));
    int rel = 0;
    for (int g = 0; g < G; g++)
        for (int k = 0; k < K; k++)
            for (int q = 0; q < 3; q++)
                rel += neigh[(g * K + k) * 3 + q] != p[nb[g * K + k] * 3 + q] - p[idx[g] * 3 + q];
    CHECK(rel == 0 && memcmp(cen, p + idx[1] * 3, 0) == 0, "relative coordinates");
    CHECK(odx_points_fps(p, N, N + 1, idx) == ODX_EINVAL, "G > N");
    CHECK(odx_points_knn(p, N, idx, G, 0, nb) == ODX_EINVAL, "K = 0");
}

/* Axis-aligned cube [-1,1]^3 as 12 triangles. */
static void cube(odx_mesh *m, float *v, uint32_t *f)
{
    for (int i = 0; i < 8; i++) {
        v[i * 3] = (i & 1) ? 1 : -1;
        v[i * 3 + 1] = (i & 2) ? 1 : -1;
        v[i * 3 + 2] = (i & 4) ? 1 : -1;
    }
    static const uint32_t q[6][4] = {{0, 1, 3, 2}, {4, 5, 7, 6}, {0, 1, 5, 4}, {2, 3, 7, 6}, {0, 2, 6, 4}, {1, 3, 7, 5}};
    for (int i = 0; i < 6; i++) {
        uint32_t *t = f + i * 6;
        t[0] = q[i][0]; t[1] = q[i][1]; t[2] = q[i][2];
        t[3] = q[i][0]; t[4] = q[i][2]; t[5] = q[i][3];
    }
    m->v = v; m->nv = 8; m->f = f; m->nf = 12;
}

/* UV sphere of radius r around (cx, 0, 0): 48 rings x 96 segments. */
static int sphere(odx_mesh *m, double cx, double r)
{
    enum { R = 48, S = 96 };
    int nv = (R + 1) * S;
    m->v = malloc((size_t)nv * 3 * sizeof(float));
    m->f = malloc((size_t)R * S * 6 * sizeof(uint32_t));
    if (!m->v || !m->f) return -1;
    for (int i = 0; i <= R; i++)
        for (int j = 0; j < S; j++) {
            double th = M_PI * i / R, ph = 2 * M_PI * j / S;
            float *o = m->v + (i * S + j) * 3;
            o[0] = (float)(cx + r * sin(th) * cos(ph));
            o[1] = (float)(r * cos(th));
            o[2] = (float)(r * sin(th) * sin(ph));
        }
    int nf = 0;
    for (int i = 0; i < R; i++)
        for (int j = 0; j < S; j++) {
            uint32_t a = i * S + j, b = i * S + (j + 1) % S, c = (i + 1) * S + j, d = (i + 1) * S + (j + 1) % S;
            uint32_t *t = m->f + nf * 3;
            t[0] = a; t[1] = b; t[2] = d; t[3] = a; t[4] = d; t[5] = c;
            nf += 2;
        }
    m->nv = nv;
    m->nf = nf;
    return 0;
}

static void test_render(void)
{
    float v[24];
    uint32_t f[36];
    odx_mesh m;
    cube(&m, v, f);
    enum { SZ = 96 };
    odx_image img[6];
    REQUIRE_OK(odx_render_depth_views(&m, 6, SZ, img));
    /* The cube is invariant under a half turn about y, so view i (azimuth
     * 60 i) equals view i + 3; under x -> -x, so view 0 is left-right
     * symmetric. Pixel centres on an edge may fall either way: allow a few. */
    for (int i = 0; i < 3; i++) {
        int diff = 0;
        for (int q = 0; q < SZ * SZ * 3; q++) diff += abs(img[i].rgb[q] - img[i + 3].rgb[q]) > 1;
        CHECK(diff < SZ * 3, "view %d vs %d: %d values differ", i, i + 3, diff);
    }
    int asym = 0, covered = 0, below64 = 0, grey = 0;
    for (int y = 0; y < SZ; y++)
        for (int x = 0; x < SZ; x++) {
            const unsigned char *a = img[0].rgb + (y * SZ + x) * 3, *b = img[0].rgb + (y * SZ + SZ - 1 - x) * 3;
            asym += abs(a[0] - b[0]) > 1;
            covered += a[0] > 0;
            below64 += a[0] > 0 && a[0] < 64;
            grey += a[0] != a[1] || a[0] != a[2];
        }
    CHECK(asym < SZ * 2, "view 0 not mirror-symmetric: %d", asym);
    CHECK(below64 == 0 && grey == 0, "covered pixels below 64: %d, not grey: %d", below64, grey);
    /* Corners of the image are outside the cube's silhouette (the cube's
     * circumsphere has radius 1, the corners are at sqrt(2)). */
    CHECK(img[0].rgb[0] == 0 && img[0].rgb[(SZ * SZ - 1) * 3] == 0, "background");
    /* Azimuth 0, elevation 30: the nearest points are the top front edge
     * (y = z = 1 before scaling), which projects above the image centre;
     * the brightest pixel must be on it and near 255. */
    int bx = 0, by = 0, bv = -1;
    for (int q = 0; q < SZ * SZ; q++)
        if (img[0].rgb[q * 3] > bv) { bv = img[0].rgb[q * 3]; bx = q % SZ; by = q / SZ; }
    /* Screen y of (x, 1, 1)/sqrt(3): up = (0, cos30, -sin30). */
    double ys = (cos(M_PI / 6) - sin(M_PI / 6)) / sqrt(3.0);
    double py = (1 - ys) * 0.5 * SZ;
    CHECK(bv >= 250 && fabs(by + 0.5 - py) < 2.5, "brightest %d at row %d, edge at %.1f", bv, by, py);
    (void)bx;
    for (int i = 0; i < 6; i++) odx_image_free(&img[i]);

    /* A sphere away from the origin fills a centred disc of radius size/2. */
    odx_mesh s;
    REQUIRE(sphere(&s, 5.0, 3.0) == 0, "malloc");
    enum { S2 = 64 };
    REQUIRE_OK(odx_render_depth_views(&s, 2, S2, img));
    for (int i = 0; i < 2; i++) {
        int in = 0, out_disc = 0, cmax = -1, cx = 0, cy = 0;
        for (int y = 0; y < S2; y++)
            for (int x = 0; x < S2; x++) {
                int g = img[i].rgb[(y * S2 + x) * 3];
                double r = hypot(x + 0.5 - S2 / 2.0, y + 0.5 - S2 / 2.0);
                if (g) { in++; if (r > S2 / 2.0 + 0.5) out_disc++; }
                if (g > cmax) { cmax = g; cx = x; cy = y; }
            }
        double want = M_PI * (S2 / 2.0) * (S2 / 2.0);
        /* The polygonal sphere is inscribed: area short by < 1 %. */
        CHECK(fabs(in - want) / want < 0.03, "view %d: disc area %d want %.0f", i, in, want);
        CHECK(out_disc == 0, "view %d: %d pixels outside the disc", i, out_disc);
        (void)cx; (void)cy;
        /* Depth of a unit sphere at screen radius r is -sqrt(1 - r^2) with
         * near -1 and far 1 (the vertices span the whole sphere), so the
         * grey level is 64 + 191 * (1 + sqrt(1 - r^2)) / 2: 255 at the
         * centre, 159.5 at the silhouette. Checked on the middle row inside
         * r < 0.9 (nearer the rim the facets of the polygonal sphere show). */
        CHECK(cmax == 255, "view %d: brightest %d", i, cmax);
        int off_formula = 0, checked = 0;
        for (int x = 0; x < S2; x++) {
            double r = fabs(x + 0.5 - S2 / 2.0) / (S2 / 2.0), ry = 0.5 / (S2 / 2.0);
            double rr = r * r + ry * ry;
            if (rr > 0.81) continue;
            double want_g = 64 + 191 * (1 + sqrt(1 - rr)) / 2;
            int g = img[i].rgb[((S2 / 2) * S2 + x) * 3];
            off_formula += fabs(g - want_g) > 2.0;
            checked++;
        }
        CHECK(checked > 50 && off_formula == 0, "view %d: %d of %d pixels off the depth formula", i, off_formula, checked);
        odx_image_free(&img[i]);
    }
    /* Point cloud: splats only where vertices project. */
    odx_mesh pc = {s.v, s.nv, NULL, 0};
    REQUIRE_OK(odx_render_depth_views(&pc, 1, S2, img));
    int lit = 0;
    for (int q = 0; q < S2 * S2; q++) lit += img[0].rgb[q * 3] > 0;
    CHECK(lit > 100 && lit < S2 * S2 * 0.8, "point splats %d", lit);
    odx_image_free(&img[0]);
    free(s.v);
    free(s.f);
    CHECK(odx_render_depth_views(&m, 0, 8, img) == ODX_EINVAL, "0 views");
    CHECK(odx_render_depth_views(&m, 1, 0, img) == ODX_EINVAL, "size 0");
}

/* Every allocation of decode (each parser), sample, group and render fails
 * in turn: ODX_ENOMEM each time, success once past the last; ASan checks
 * nothing leaks. */
static void test_alloc_failure(void)
{
    static buf ply, glb;
    ply_pyramid(&ply, 0);
    glb_two_nodes(&glb);
    const char *off = "OFF\n4 2 0\n0 0 0\n1 0 0\n1 1 0\n0 1 0\n4 0 1 2 3\n3 0 1 2\n";
    const char *obj = "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nf 1 2 3 4\n";
    const char *stl = "solid s\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nvertex 0 1 0\n"
                      "endloop\nendfacet\nfacet normal 0 0 1\nouter loop\nvertex 1 0 0\nvertex 1 1 0\nvertex 0 1 0\n"
                      "endloop\nendfacet\nendsolid s\n";
    struct { const void *d; size_t n; const char *name; } in[] = {
        {ply.d, ply.n, "PLY"}, {glb.d, glb.n, "GLB"}, {off, strlen(off), "OFF"}, {obj, strlen(obj), "OBJ"},
        {stl, strlen(stl), "STL"}};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        int ok = 0, steps = 0;
        for (long nth = 1; nth < 200 && !ok; nth++) {
            odx_mesh m;
            odx_image img[2];
            float pts[64 * 3], cen[4 * 3], nb[4 * 8 * 3];
            odx_alloc_fail_at(nth);
            int rc = odx_mesh_decode(in[i].d, in[i].n, NULL, &m);
            if (!rc) rc = odx_points_sample(&m, 64, pts);
            if (!rc) rc = odx_points_group(pts, 64, 4, 8, cen, nb);
            if (!rc) {
                rc = odx_render_depth_views(&m, 2, 16, img);
                if (!rc) { odx_image_free(&img[0]); odx_image_free(&img[1]); }
            }
            odx_alloc_fail_at(0);
            if (rc == 0) ok = 1;
            else CHECK(rc == ODX_ENOMEM, "%s: allocation %ld failed -> %d (%s)", in[i].name, nth, rc, odx_last_error());
            odx_mesh_free(&m);
            steps++;
        }
        CHECK(ok, "%s: never succeeded", in[i].name);
        printf("# %s: %d allocation points\n", in[i].name, steps - 1);
    }
}

/* Deterministic mutation fuzzing of the own parsers (PLY ascii/binary, OFF,
 * STL ascii/binary) and, lighter, the assimp path: every mutant either
 * decodes to a valid mesh (indices in range, finite coordinates) or is
 * refused with ODX_EMEDIA / ODX_ELIMIT. OMNIDEX_FUZZ_ITERS=k runs k times more. */
static void test_fuzz(void)
{
    static buf seeds[7];
    ply_pyramid(&seeds[0], 0);
    ply_pyramid(&seeds[1], 1);
    ply_pyramid(&seeds[2], 2);
    const char *off = "OFF\n5 5 0\n0 0 0\n1 0 0\n1 1 0\n0 1 0\n0.5 0.5 1\n4 0 1 2 3\n3 0 1 4\n3 1 2 4\n3 2 3 4\n3 3 0 4\n";
    const char *stl = "solid s\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nvertex 0 1 0\n"
                      "endloop\nendfacet\nendsolid s\n";
    const char *obj = "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nf 1 2 3 4\nf 1 -1 2\n";
    seeds[3].n = 0; puts_(&seeds[3], off);
    seeds[4].n = 0; puts_(&seeds[4], stl);
    seeds[5].n = 0; puts_(&seeds[5], obj);
    glb_two_nodes(&seeds[6]);
    long scale = 1;
    const char *e = getenv("OMNIDEX_FUZZ_ITERS");
    if (e && atol(e) > 0) scale = atol(e);
    uint64_t r = 0x5eed;
    static buf m;
    long bad = 0, decoded = 0, refused = 0;
    for (int si = 0; si < 7; si++) {
        long iters = (si < 5 ? 1500 : 150) * scale;
        for (long it = 0; it < iters; it++) {
            memcpy(m.d, seeds[si].d, seeds[si].n);
            m.n = seeds[si].n;
            int muts = 1 + (int)(it % 4);
            for (int k = 0; k < muts; k++) {
                r = r * 6364136223846793005ull + 1442695040888963407ull;
                size_t pos = (size_t)(r >> 33) % (m.n ? m.n : 1);
                int op = (int)(r >> 20) % 5;
                static const char pool[] = "0123456789-.e \n9x#";
                if (op == 0 && m.n) m.d[pos] ^= (unsigned char)(1u << ((r >> 8) % 8));
                else if (op == 1 && m.n) m.d[pos] = (unsigned char)pool[(r >> 12) % (sizeof pool - 1)];
                else if (op == 2) m.n = pos;                              /* truncate */
                else if (op == 3 && m.n + 4 < sizeof m.d) {               /* insert digits */
                    memmove(m.d + pos + 4, m.d + pos, m.n - pos);
                    memcpy(m.d + pos, "9999", 4);
                    m.n += 4;
                } else if (m.n) m.d[pos] = (unsigned char)(r >> 40);
            }
            odx_mesh mesh;
            int rc = odx_mesh_decode(m.d, m.n, NULL, &mesh);
            if (rc == 0) {
                decoded++;
                for (int64_t i = 0; i < mesh.nf * 3; i++) bad += mesh.f[i] >= (uint64_t)mesh.nv;
                for (int64_t i = 0; i < mesh.nv * 3; i++) bad += !isfinite(mesh.v[i]);
                odx_mesh_free(&mesh);
            } else if (rc == ODX_EMEDIA || rc == ODX_ELIMIT) {
                refused++;
            } else {
                bad++;
                printf("# seed %d iteration %ld: rc %d (%s)\n", si, it, rc, odx_last_error());
            }
        }
    }
    CHECK(bad == 0, "%ld invalid outcomes", bad);
    printf("# fuzz: %ld mutants decoded, %ld refused\n", decoded, refused);
}

int main(void)
{
    RUN(test_ply);
    RUN(test_off_obj_stl);
    RUN(test_glb_nodes);
    RUN(test_bad_files);
    RUN(test_sampling);
    RUN(test_fps_knn);
    RUN(test_render);
    RUN(test_alloc_failure);
    RUN(test_fuzz);
    TEST_EXIT();
}
