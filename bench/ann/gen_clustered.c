/* Writes a clustered, anisotropic data set (clustered.h) as base.fvecs and
 * query.fvecs in a directory; bench/ann/clustered_run.py adds the exact
 * ground truth (prep.py) and runs the contenders on it.
 *
 *   gen_clustered OUTDIR N NQ DIM SEED [grouped]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/ann/clustered.h"

static int write_fvecs(const char *dir, const char *name, const float *x, size_t n, int d)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return -1;
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++)
        ok = fwrite(&d, sizeof d, 1, f) == 1 && fwrite(x + i * (size_t)d, sizeof *x, (size_t)d, f) == (size_t)d;
    if (fclose(f) || !ok || rename(tmp, path)) return -1;
    return 0;
}

static long num(const char *s, long lo, long hi, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) {
        fprintf(stderr, "gen_clustered: %s must be %ld..%ld\n", what, lo, hi);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: gen_clustered OUTDIR N NQ DIM SEED [grouped]\n");
        return 2;
    }
    bench_clustered_opts o = {0};
    o.n = (size_t)num(argv[2], 1, 100000000, "N");
    o.nq = (size_t)num(argv[3], 1, 1000000, "NQ");
    o.dim = (int)num(argv[4], 8, 4096, "DIM");
    o.seed = (uint64_t)num(argv[5], 0, 1L << 62, "SEED");
    o.grouped = argc > 6 && !strcmp(argv[6], "grouped");
    float *x = malloc(o.n * (size_t)o.dim * sizeof *x), *q = malloc(o.nq * (size_t)o.dim * sizeof *q);
    if (!x || !q || bench_clustered_make(&o, x, q, NULL)) {
        fprintf(stderr, "gen_clustered: out of memory or bad options\n");
        return 1;
    }
    if (write_fvecs(argv[1], "base.fvecs", x, o.n, o.dim) || write_fvecs(argv[1], "query.fvecs", q, o.nq, o.dim)) {
        fprintf(stderr, "gen_clustered: writing %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    free(x);
    free(q);
    return 0;
}
