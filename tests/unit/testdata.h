/* Deterministic structured test data shared by the C tests: a low-rank
 * latent plus noise, unit-normalised, which (unlike i.i.d. Gaussians) has
 * real neighbourhoods. */
#ifndef OMNIDEX_TESTDATA_H
#define OMNIDEX_TESTDATA_H
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

static uint64_t rng_state = 88172645463325252ull;
static double urand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (rng_state >> 11) * (1.0 / 9007199254740992.0);
}
static double gauss(void)
{
    double u = urand() + 1e-12, v = urand();
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

/* n x dim floats (caller frees); rank <= 64 latent dimensions. */
static float *make_data(size_t n, int dim, int rank, uint64_t seed)
{
    rng_state = seed;
    float *basis = malloc((size_t)rank * dim * sizeof(float));
    for (int i = 0; i < rank * dim; i++) basis[i] = (float)gauss();
    float *x = malloc(n * dim * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        float z[64];
        for (int r = 0; r < rank; r++) z[r] = (float)gauss();
        double nrm = 0;
        for (int j = 0; j < dim; j++) {
            float s = 0;
            for (int r = 0; r < rank; r++) s += z[r] * basis[r * dim + j];
            s += 0.3f * (float)gauss();
            x[i * dim + j] = s;
            nrm += (double)s * s;
        }
        for (int j = 0; j < dim; j++) x[i * dim + j] /= (float)sqrt(nrm);
    }
    free(basis);
    return x;
}

#endif
