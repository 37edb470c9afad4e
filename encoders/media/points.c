/* Surface sampling, normalisation and PointBERT grouping (see points.h).
 * The arithmetic is written out in the contract's order (double where it
 * says double, float32 elsewhere, no reassociation) because the reference
 * must reproduce every bit; the build uses -std=c11, which keeps GCC from
 * contracting a*b+c into FMAs. */
#include "encoders/media/points.h"

#include <math.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"

typedef struct rng {
    uint64_t s;
} rng;

/* splitmix64 (Steele, Lea, Flood 2014), the k-th output u in [0, 1). */
static double rng_uniform(rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1p-53;
}

static double tri_area(const float *v, const uint32_t *t)
{
    const float *a = v + (size_t)t[0] * 3, *b = v + (size_t)t[1] * 3, *c = v + (size_t)t[2] * 3;
    double e1x = (double)b[0] - (double)a[0], e1y = (double)b[1] - (double)a[1], e1z = (double)b[2] - (double)a[2];
    double e2x = (double)c[0] - (double)a[0], e2y = (double)c[1] - (double)a[1], e2z = (double)c[2] - (double)a[2];
    double cx = e1y * e2z - e1z * e2y;
    double cy = e1z * e2x - e1x * e2z;
    double cz = e1x * e2y - e1y * e2x;
    return 0.5 * sqrt(cx * cx + cy * cy + cz * cz);
}

int odx_points_sample(const odx_mesh *m, int n, float *out)
{
    if (n <= 0) return odx_error(ODX_EINVAL, "sample count %d", n);
    if (!m || m->nv <= 0 || !m->v) return odx_error(ODX_EINVAL, "empty mesh");
    rng r = {ODX_POINTS_SEED};
    double *cum = NULL, total = 0;
    if (m->nf > 0) {
        cum = odx_malloc((size_t)m->nf * sizeof(double));
        if (!cum) return odx_error(ODX_ENOMEM, "out of memory for %lld triangle areas", (long long)m->nf);
        for (int64_t i = 0; i < m->nf; i++) {
            total += tri_area(m->v, m->f + i * 3);
            cum[i] = total;
        }
    }
    if (!(total > 0)) {
        for (int i = 0; i < n; i++) {
            double u = rng_uniform(&r);
            int64_t k = (int64_t)(u * (double)m->nv);
            if (k > m->nv - 1) k = m->nv - 1;
            memcpy(out + (size_t)i * 3, m->v + k * 3, 3 * sizeof(float));
        }
        odx_free(cum);
        return 0;
    }
    for (int i = 0; i < n; i++) {
        double x = rng_uniform(&r) * total;
        int64_t lo = 0, hi = m->nf; /* first index with cum > x */
        while (lo < hi) {
            int64_t mid = lo + (hi - lo) / 2;
            if (cum[mid] > x) hi = mid;
            else lo = mid + 1;
        }
        if (lo > m->nf - 1) lo = m->nf - 1;
        double u1 = rng_uniform(&r), u2 = rng_uniform(&r);
        double r1 = sqrt(u1), s = r1 * (1.0 - u2), t = r1 * u2;
        const uint32_t *tr = m->f + lo * 3;
        const float *a = m->v + (size_t)tr[0] * 3, *b = m->v + (size_t)tr[1] * 3, *c = m->v + (size_t)tr[2] * 3;
        for (int k = 0; k < 3; k++) {
            double ak = a[k];
            out[(size_t)i * 3 + k] = (float)(ak + s * ((double)b[k] - ak) + t * ((double)c[k] - ak));
        }
    }
    odx_free(cum);
    return 0;
}

void odx_points_normalize(float *p, int n)
{
    if (n <= 0) return;
    double s[3] = {0, 0, 0};
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 3; k++) s[k] += (double)p[(size_t)i * 3 + k];
    float c[3];
    for (int k = 0; k < 3; k++) c[k] = (float)(s[k] / (double)n);
    float mx = 0;
    for (int i = 0; i < n; i++) {
        float *q = p + (size_t)i * 3;
        q[0] -= c[0]; q[1] -= c[1]; q[2] -= c[2];
        float d = sqrtf(q[0] * q[0] + q[1] * q[1] + q[2] * q[2]);
        if (d > mx) mx = d;
    }
    if (mx > 0)
        for (size_t i = 0; i < (size_t)n * 3; i++) p[i] /= mx;
}

static inline float sqdist(const float *a, const float *c)
{
    float dx = a[0] - c[0], dy = a[1] - c[1], dz = a[2] - c[2];
    return dx * dx + dy * dy + dz * dz;
}

int odx_points_fps(const float *p, int n, int g, int *idx)
{
    if (g < 1 || g > n) return odx_error(ODX_EINVAL, "%d centres from %d points", g, n);
    float *d = odx_malloc((size_t)n * sizeof(float));
    if (!d) return odx_error(ODX_ENOMEM, "out of memory for FPS");
    idx[0] = 0;
    for (int j = 0; j < n; j++) d[j] = sqdist(p + (size_t)j * 3, p);
    for (int i = 1; i < g; i++) {
        int best = 0;
        for (int j = 1; j < n; j++)
            if (d[j] > d[best]) best = j;
        idx[i] = best;
        const float *c = p + (size_t)best * 3;
        for (int j = 0; j < n; j++) {
            float e = sqdist(p + (size_t)j * 3, c);
            if (e < d[j]) d[j] = e;
        }
    }
    odx_free(d);
    return 0;
}

int odx_points_knn(const float *p, int n, const int *centres, int g, int k, int *out)
{
    if (k < 1 || k > n) return odx_error(ODX_EINVAL, "%d neighbours from %d points", k, n);
    for (int i = 0; i < g; i++)
        if (centres[i] < 0 || centres[i] >= n) return odx_error(ODX_EINVAL, "centre %d out of range", centres[i]);
#pragma omp parallel for schedule(static) if (g * n > 65536)
    for (int i = 0; i < g; i++) {
        const float *c = p + (size_t)centres[i] * 3;
        int *o = out + (size_t)i * k;
        /* Insertion into a sorted list of the k best: points come in index
         * order, so an equal distance never displaces an earlier point and
         * the result is the stable sort's prefix. dist[] tracks o[]. */
        float dist[k];
        int have = 0;
        for (int j = 0; j < n; j++) {
            float e = sqdist(p + (size_t)j * 3, c);
            if (have == k && !(e < dist[k - 1])) continue;
            int pos = have < k ? have : k - 1;
            while (pos > 0 && dist[pos - 1] > e) {
                dist[pos] = dist[pos - 1];
                o[pos] = o[pos - 1];
                pos--;
            }
            dist[pos] = e;
            o[pos] = j;
            if (have < k) have++;
        }
    }
    return 0;
}

int odx_points_group(const float *p, int n, int groups, int k, float *centres, float *neigh)
{
    if (groups < 1 || groups > n || k < 1 || k > n)
        return odx_error(ODX_EINVAL, "%d groups of %d from %d points", groups, k, n);
    int *ci = odx_malloc((size_t)groups * sizeof(int));
    int *nb = odx_malloc((size_t)groups * k * sizeof(int));
    int rc = 0;
    if (!ci || !nb) rc = odx_error(ODX_ENOMEM, "out of memory for grouping");
    if (!rc) rc = odx_points_fps(p, n, groups, ci);
    if (!rc) rc = odx_points_knn(p, n, ci, groups, k, nb);
    if (!rc) {
        for (int i = 0; i < groups; i++) {
            const float *c = p + (size_t)ci[i] * 3;
            memcpy(centres + (size_t)i * 3, c, 3 * sizeof(float));
            for (int j = 0; j < k; j++) {
                const float *q = p + (size_t)nb[(size_t)i * k + j] * 3;
                float *o = neigh + ((size_t)i * k + j) * 3;
                o[0] = q[0] - c[0]; o[1] = q[1] - c[1]; o[2] = q[2] - c[2];
            }
        }
    }
    odx_free(ci);
    odx_free(nb);
    return rc;
}
