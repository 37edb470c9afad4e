/* OFF (Geomview, ASCII): counts on the header line, checked against the
 * limits and the bytes present; texture/colour columns are skipped. */
#include "encoders/media/mesh_parse.h"

int odx_mesh_decode_off(const unsigned char *d, size_t len, const odx_mesh_limits *lim, odx_mesh *m)
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
