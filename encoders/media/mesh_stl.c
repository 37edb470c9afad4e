/* STL, binary and ASCII: independent triangles. */
#include "encoders/media/mesh_parse.h"

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

int odx_mesh_decode_stl_bin(const unsigned char *d, size_t len, const odx_mesh_limits *lim, odx_mesh *m)
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

int odx_mesh_decode_stl_ascii(const unsigned char *d, size_t len, const odx_mesh_limits *lim, odx_mesh *m)
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
