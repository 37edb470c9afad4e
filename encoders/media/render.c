/* Software depth rendering (see render.h). Orthographic projection keeps
 * depth linear in screen space, so barycentric interpolation of the vertex
 * depths is exact; pixel centres are sampled at (x + 0.5, y + 0.5) and a
 * pixel is inside when all three edge functions share a sign (no culling:
 * meshes from files have no reliable winding). Views render in parallel, one
 * z-buffer each. */
#include "encoders/media/render.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"

typedef struct view_basis {
    double r[3], u[3], d[3]; /* right, up, towards the camera */
} view_basis;

static view_basis basis(double az_deg, double el_deg)
{
    const double pi = 3.14159265358979323846;
    double az = az_deg * pi / 180, el = el_deg * pi / 180;
    view_basis b = {
        {cos(az), 0, -sin(az)},
        {-sin(el) * sin(az), cos(el), -sin(el) * cos(az)},
        {cos(el) * sin(az), sin(el), cos(el) * cos(az)}};
    return b;
}

/* Projects the normalised vertices for one view: sx, sy in pixels, depth
 * (distance from a camera plane; smaller is nearer). */
static void project(const float *v, int64_t nv, const view_basis *b, int size, float *s)
{
    for (int64_t i = 0; i < nv; i++) {
        const float *p = v + i * 3;
        double x = p[0] * b->r[0] + p[1] * b->r[1] + p[2] * b->r[2];
        double y = p[0] * b->u[0] + p[1] * b->u[1] + p[2] * b->u[2];
        double z = p[0] * b->d[0] + p[1] * b->d[1] + p[2] * b->d[2];
        s[i * 3 + 0] = (float)((x + 1) * 0.5 * size);
        s[i * 3 + 1] = (float)((1 - y) * 0.5 * size);
        s[i * 3 + 2] = (float)(-z);
    }
}

static void raster_tri(const float *a, const float *b, const float *c, int size, float *zb)
{
    double area = (double)(b[0] - a[0]) * (c[1] - a[1]) - (double)(b[1] - a[1]) * (c[0] - a[0]);
    if (area == 0 || !isfinite(area)) return;
    double minx = fmin(a[0], fmin(b[0], c[0])), maxx = fmax(a[0], fmax(b[0], c[0]));
    double miny = fmin(a[1], fmin(b[1], c[1])), maxy = fmax(a[1], fmax(b[1], c[1]));
    int x0 = (int)fmax(0, floor(minx - 0.5)), x1 = (int)fmin(size - 1, ceil(maxx - 0.5));
    int y0 = (int)fmax(0, floor(miny - 0.5)), y1 = (int)fmin(size - 1, ceil(maxy - 0.5));
    for (int y = y0; y <= y1; y++) {
        double py = y + 0.5;
        for (int x = x0; x <= x1; x++) {
            double px = x + 0.5;
            double w0 = ((double)b[0] - px) * (c[1] - py) - ((double)b[1] - py) * (c[0] - px);
            double w1 = ((double)c[0] - px) * (a[1] - py) - ((double)c[1] - py) * (a[0] - px);
            double w2 = ((double)a[0] - px) * (b[1] - py) - ((double)a[1] - py) * (b[0] - px);
            if (area > 0 ? (w0 < 0 || w1 < 0 || w2 < 0) : (w0 > 0 || w1 > 0 || w2 > 0)) continue;
            double z = (w0 * a[2] + w1 * b[2] + w2 * c[2]) / area;
            float *o = zb + (size_t)y * size + x;
            if (z < *o) *o = (float)z;
        }
    }
}

int odx_render_depth_views(const odx_mesh *m, int views, int size, odx_image *out)
{
    if (views < 1 || views > ODX_RENDER_MAX_VIEWS) return odx_error(ODX_EINVAL, "views %d (1..%d)", views, ODX_RENDER_MAX_VIEWS);
    if (size < 1 || size > ODX_RENDER_MAX_SIZE) return odx_error(ODX_EINVAL, "size %d (1..%d)", size, ODX_RENDER_MAX_SIZE);
    if (!m || m->nv <= 0) return odx_error(ODX_EINVAL, "empty mesh");
    memset(out, 0, (size_t)views * sizeof *out);
    size_t px = (size_t)size * size;
    float *nv = odx_malloc((size_t)m->nv * 3 * sizeof(float));
    float *scr = odx_malloc((size_t)views * m->nv * 3 * sizeof(float));
    float *zb = odx_malloc((size_t)views * px * sizeof(float));
    int rc = 0;
    if (!nv || !scr || !zb) { rc = odx_error(ODX_ENOMEM, "out of memory for rendering"); goto out; }
    for (int i = 0; i < views && !rc; i++) {
        out[i].w = out[i].h = size;
        out[i].rgb = odx_malloc(px * 3);
        if (!out[i].rgb) rc = odx_error(ODX_ENOMEM, "out of memory for %d views of %dx%d", views, size, size);
    }
    if (rc) goto out;
    /* Normalise: vertex centroid to the origin, farthest vertex at 1. */
    double c[3] = {0, 0, 0}, mx = 0;
    for (int64_t i = 0; i < m->nv; i++)
        for (int k = 0; k < 3; k++) c[k] += m->v[i * 3 + k];
    for (int k = 0; k < 3; k++) c[k] /= (double)m->nv;
    for (int64_t i = 0; i < m->nv; i++) {
        double d = 0;
        for (int k = 0; k < 3; k++) {
            double e = m->v[i * 3 + k] - c[k];
            d += e * e;
        }
        if (d > mx) mx = d;
    }
    mx = mx > 0 ? sqrt(mx) : 1;
    for (int64_t i = 0; i < m->nv; i++)
        for (int k = 0; k < 3; k++) nv[i * 3 + k] = (float)((m->v[i * 3 + k] - c[k]) / mx);
#pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < views; i++) {
        view_basis b = basis(360.0 * i / views, 30.0);
        float *s = scr + (size_t)i * m->nv * 3, *z = zb + (size_t)i * px;
        project(nv, m->nv, &b, size, s);
        for (size_t q = 0; q < px; q++) z[q] = FLT_MAX;
        float near = FLT_MAX, far = -FLT_MAX;
        for (int64_t k = 0; k < m->nv; k++) {
            near = fminf(near, s[k * 3 + 2]);
            far = fmaxf(far, s[k * 3 + 2]);
        }
        if (m->nf > 0) {
            for (int64_t t = 0; t < m->nf; t++) {
                const uint32_t *f = m->f + t * 3;
                raster_tri(s + (size_t)f[0] * 3, s + (size_t)f[1] * 3, s + (size_t)f[2] * 3, size, z);
            }
        } else {
            for (int64_t k = 0; k < m->nv; k++) {
                int x = (int)floorf(s[k * 3]), y = (int)floorf(s[k * 3 + 1]);
                if (x < 0 || y < 0 || x >= size || y >= size) {
                    /* The farthest vertex lands exactly on the far edge. */
                    if (x == size) x--;
                    if (y == size) y--;
                    if (x < 0 || y < 0 || x >= size || y >= size) continue;
                }
                float *o = z + (size_t)y * size + x;
                if (s[k * 3 + 2] < *o) *o = s[k * 3 + 2];
            }
        }
        float span = far - near;
        unsigned char *rgb = out[i].rgb;
        for (size_t q = 0; q < px; q++) {
            unsigned char g = 0;
            if (z[q] != FLT_MAX) {
                double t = span > 0 ? (far - z[q]) / span : 1.0;
                t = t < 0 ? 0 : t > 1 ? 1 : t;
                g = (unsigned char)lrint(64 + 191 * t);
            }
            rgb[q * 3] = rgb[q * 3 + 1] = rgb[q * 3 + 2] = g;
        }
    }
out:
    odx_free(nv);
    odx_free(scr);
    odx_free(zb);
    if (rc)
        for (int i = 0; i < views; i++) odx_image_free(&out[i]);
    return rc;
}
