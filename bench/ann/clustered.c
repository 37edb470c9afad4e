/* Clustered, anisotropic, CLIP-like vectors: see clustered.h. */
#include "bench/ann/clustered.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GLOBAL_RANK 48 /* dimension of the subspace the cluster centres span */

typedef struct {
    uint64_t s;
} rng_t;

static uint64_t rng_next(rng_t *r) /* splitmix64 */
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rng_unit(rng_t *r) { return ((rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0); }

static double rng_gauss(rng_t *r)
{
    double u = rng_unit(r), v = rng_unit(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v); /* 2 pi */
}

/* rows x dim Gaussian entries of variance 1/dim: rows of length ~1, nearly
 * orthogonal to each other in high dimension. */
static void gauss_rows(rng_t *r, float *m, size_t rows, int dim)
{
    double s = 1.0 / sqrt((double)dim);
    for (size_t i = 0; i < rows * (size_t)dim; i++) m[i] = (float)(rng_gauss(r) * s);
}

/* Variances decaying as (j+1)^-p, scaled to sum to 1. */
static void spectrum(double *t, int r, double p)
{
    double sum = 0;
    for (int j = 0; j < r; j++) sum += t[j] = pow(j + 1.0, -p);
    for (int j = 0; j < r; j++) t[j] = sqrt(t[j] / sum);
}

typedef struct {
    int dim, k, rank;
    const float *mean;    /* dim */
    const float *centre;  /* k x dim */
    const float *basis;   /* k x rank x dim */
    const double *spread; /* k */
    const double *cum;    /* k: cumulative cluster probabilities */
    const double *t;      /* rank: local spectrum */
    double noise;
} model;

static int pick_cluster(const model *m, rng_t *r)
{
    double u = rng_unit(r) * m->cum[m->k - 1];
    int lo = 0, hi = m->k - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (m->cum[mid] > u) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

/* One point of cluster c into x (unit length). */
static void draw(const model *m, int c, rng_t *r, float *x)
{
    const int d = m->dim;
    const double s = m->spread[c];
    const double noise = m->noise * s / sqrt((double)d);
    for (int j = 0; j < d; j++) x[j] = m->mean[j] + m->centre[(size_t)c * d + j] + (float)(noise * rng_gauss(r));
    for (int l = 0; l < m->rank; l++) {
        float z = (float)(s * m->t[l] * rng_gauss(r));
        const float *b = m->basis + ((size_t)c * m->rank + l) * d;
        for (int j = 0; j < d; j++) x[j] += z * b[j];
    }
    double nrm = 0;
    for (int j = 0; j < d; j++) nrm += (double)x[j] * x[j];
    float inv = (float)(1.0 / sqrt(nrm));
    for (int j = 0; j < d; j++) x[j] *= inv;
}

int bench_clustered_make(const bench_clustered_opts *o, float *base, float *queries, int32_t *cluster_of)
{
    const int d = o->dim;
    int k = o->clusters ? o->clusters : (int)(o->n / 800 < 8 ? 8 : o->n / 800);
    const int rank = o->local_rank ? o->local_rank : 64;
    const double offset = o->offset > 0 ? o->offset : 1.0, spread = o->spread > 0 ? o->spread : 0.6;
    if (d < 8 || d > 4096 || k < 1 || k > 4096 || rank < 1 || rank > d) return -1;
    float *mean = malloc((size_t)d * sizeof *mean);
    float *gbasis = malloc((size_t)GLOBAL_RANK * d * sizeof *gbasis);
    float *centre = calloc((size_t)k * d, sizeof *centre);
    float *basis = malloc((size_t)k * rank * d * sizeof *basis);
    double *spr = malloc((size_t)k * sizeof *spr), *cum = malloc((size_t)k * sizeof *cum);
    double *t = malloc((size_t)rank * sizeof *t), gs[GLOBAL_RANK];
    int32_t *lab = malloc((o->n ? o->n : 1) * sizeof *lab);
    int rc = -1;
    if (!mean || !gbasis || !centre || !basis || !spr || !cum || !t || !lab) goto out;

    rng_t r = {o->seed ^ 0x6a09e667f3bcc909ull};
    /* The shared offset: one random direction of length `offset`. */
    gauss_rows(&r, mean, 1, d);
    double mn = 0;
    for (int j = 0; j < d; j++) mn += (double)mean[j] * mean[j];
    for (int j = 0; j < d; j++) mean[j] = (float)(mean[j] * offset / sqrt(mn));
    /* Centres: a decaying spectrum over a GLOBAL_RANK-dimensional subspace. */
    gauss_rows(&r, gbasis, GLOBAL_RANK, d);
    spectrum(gs, GLOBAL_RANK, 0.5);
    for (int c = 0; c < k; c++)
        for (int g = 0; g < GLOBAL_RANK; g++) {
            float z = (float)(gs[g] * rng_gauss(&r));
            for (int j = 0; j < d; j++) centre[(size_t)c * d + j] += z * gbasis[(size_t)g * d + j];
        }
    /* Each cluster: its own local subspace, spread and weight. */
    gauss_rows(&r, basis, (size_t)k * rank, d);
    spectrum(t, rank, o->decay > 0 ? o->decay : 0.7);
    double acc = 0;
    for (int c = 0; c < k; c++) {
        spr[c] = spread * exp(0.3 * rng_gauss(&r));
        acc += exp(1.0 * rng_gauss(&r)); /* log-normal sizes */
        cum[c] = acc;
    }
    model m = {d, k, rank, mean, centre, basis, spr, cum, t, o->noise > 0 ? o->noise : 0.25};

    /* Base and queries from two streams of the same distribution. */
    rng_t rb = {o->seed * 0x9e3779b97f4a7c15ull + 1}, rq = {o->seed * 0x9e3779b97f4a7c15ull + 2};
    for (size_t i = 0; i < o->n; i++) lab[i] = pick_cluster(&m, &rb);
    if (o->grouped) { /* counting sort by cluster, stable */
        size_t *start = calloc((size_t)k + 1, sizeof *start);
        int32_t *tmp = malloc((o->n ? o->n : 1) * sizeof *tmp);
        if (!start || !tmp) { free(start); free(tmp); goto out; }
        for (size_t i = 0; i < o->n; i++) start[lab[i] + 1]++;
        for (int c = 0; c < k; c++) start[c + 1] += start[c];
        for (size_t i = 0; i < o->n; i++) tmp[start[lab[i]]++] = lab[i];
        memcpy(lab, tmp, o->n * sizeof *lab);
        free(start);
        free(tmp);
    }
    for (size_t i = 0; i < o->n; i++) {
        draw(&m, lab[i], &rb, base + i * (size_t)d);
        if (cluster_of) cluster_of[i] = lab[i];
    }
    for (size_t i = 0; i < o->nq; i++) draw(&m, pick_cluster(&m, &rq), &rq, queries + i * (size_t)d);
    rc = 0;
out:
    free(mean);
    free(gbasis);
    free(centre);
    free(basis);
    free(spr);
    free(cum);
    free(t);
    free(lab);
    return rc;
}
