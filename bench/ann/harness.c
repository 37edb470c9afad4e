/* The bench/ann harness: see harness.h. Timing covers exactly the search
 * call of each contender (for omnidex: odx_search, reading the hits' ids
 * and odx_results_free). Recall is computed afterwards, outside the timed
 * region, from the exact distances of the returned ids (computed here in
 * double precision), so a contender's own scores are never trusted. */
#include "bench/ann/harness.h"

#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void die(const char *fmt, const char *a)
{
    fprintf(stderr, "bench: ");
    fprintf(stderr, fmt, a);
    fprintf(stderr, "\n");
    exit(2);
}

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void bench_set_threads(int n) { omp_set_num_threads(n); }

/* Reads a .fvecs/.ivecs file (each row: int32 dim, then dim 4-byte values)
 * into a dense n x dim array of 4-byte values. */
static void *read_vecs(const char *path, size_t *n_out, int *d_out)
{
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot open %s", path);
    int32_t d;
    if (fread(&d, 4, 1, f) != 1 || d <= 0 || d > 1 << 16) die("%s: bad header", path);
    if (fseek(f, 0, SEEK_END)) die("%s: seek failed", path);
    long size = ftell(f);
    size_t row = 4 + (size_t)d * 4;
    if (size <= 0 || (size_t)size % row) die("%s: size is not a whole number of rows", path);
    size_t n = (size_t)size / row;
    char *x = malloc(n * (size_t)d * 4);
    if (!x) die("out of memory reading %s", path);
    rewind(f);
    for (size_t i = 0; i < n; i++) {
        int32_t di;
        if (fread(&di, 4, 1, f) != 1 || di != d || fread(x + i * (size_t)d * 4, 4, (size_t)d, f) != (size_t)d)
            die("%s: truncated or ragged", path);
    }
    fclose(f);
    *n_out = n;
    *d_out = d;
    return x;
}

static long parse_long(const char *s, long lo, long hi, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) die("bad value for %s", what);
    return v;
}

void bench_init(bench_ctx *b, int argc, char **argv)
{
    memset(b, 0, sizeof *b);
    b->k = 10;
    b->threads = 2;
    b->reps = 1;
    const char *efs = "16,32,64,128,256";
    long nqs = -1, nqb = -1, fnqs = 200, fnqb = 1000;
    const char *metric = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) || i + 1 >= argc) die("unexpected argument %s", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--data")) b->dir = v;
        else if (!strcmp(a, "--metric")) metric = v;
        else if (!strcmp(a, "--k")) b->k = (int)parse_long(v, 1, 100, a);
        else if (!strcmp(a, "--threads")) b->threads = (int)parse_long(v, 1, 256, a);
        else if (!strcmp(a, "--ef")) efs = v;
        else if (!strcmp(a, "--nq-single")) nqs = parse_long(v, 1, 1 << 24, a);
        else if (!strcmp(a, "--nq-batch")) nqb = parse_long(v, 1, 1 << 24, a);
        else if (!strcmp(a, "--flat-nq-single")) fnqs = parse_long(v, 1, 1 << 24, a);
        else if (!strcmp(a, "--flat-nq-batch")) fnqb = parse_long(v, 1, 1 << 24, a);
        else if (!strcmp(a, "--reps")) b->reps = (int)parse_long(v, 1, 100, a);
        else if (!strcmp(a, "--only")) b->only = v;
        else if (!strcmp(a, "--serve")) b->serve = (int)parse_long(v, 0, 1, a);
        /* anything else belongs to the contender (bench_arg-style) */
    }
    if (!b->dir) die("%s", "--data DIR is required");
    if (!metric || (strcmp(metric, "l2") && strcmp(metric, "ip"))) die("%s", "--metric l2|ip is required");
    b->ip = !strcmp(metric, "ip");
    const char *slash = strrchr(b->dir, '/');
    b->name = slash && slash[1] ? slash + 1 : b->dir;
    for (const char *p = efs; *p && b->nef < 32;) {
        char *end;
        long e = strtol(p, &end, 10);
        if (end == p || e < 1 || e > 65536) die("bad --ef list %s", efs);
        b->efs[b->nef++] = (int)e;
        p = *end == ',' ? end + 1 : end;
    }
    char path[4096];
    size_t n;
    int d;
    snprintf(path, sizeof path, "%s/base.fvecs", b->dir);
    b->base.x = read_vecs(path, &b->base.n, &b->base.d);
    snprintf(path, sizeof path, "%s/query.fvecs", b->dir);
    b->query.x = read_vecs(path, &b->query.n, &b->query.d);
    if (b->query.d != b->base.d) die("%s: queries and base differ in dimension", b->dir);
    snprintf(path, sizeof path, "%s/gt.ivecs", b->dir);
    b->gt_ids = read_vecs(path, &n, &b->gt_k);
    if (n != b->query.n || b->gt_k < b->k) die("%s: ground truth does not match the queries", b->dir);
    snprintf(path, sizeof path, "%s/gt.fvecs", b->dir);
    b->gt_dist = read_vecs(path, &n, &d);
    if (n != b->query.n || d != b->gt_k) die("%s: ground-truth distances do not match", b->dir);
    size_t nq = b->query.n;
    b->nq_single = nqs > 0 && (size_t)nqs < nq ? (size_t)nqs : nq;
    b->nq_batch = nqb > 0 && (size_t)nqb < nq ? (size_t)nqb : nq;
    b->flat_nq_single = (size_t)fnqs < nq ? (size_t)fnqs : nq;
    b->flat_nq_batch = (size_t)fnqb < nq ? (size_t)fnqb : nq;
}

void bench_free(bench_ctx *b)
{
    free(b->base.x);
    free(b->query.x);
    free(b->gt_ids);
    free(b->gt_dist);
    free(b->cs);
}

const char *bench_arg(int argc, char **argv, const char *name, const char *def)
{
    const char *v = def;
    for (int i = 1; i + 1 < argc; i += 2)
        if (!strcmp(argv[i], name)) v = argv[i + 1];
    return v;
}

int bench_wants(const bench_ctx *b, const char *kind)
{
    if (!b->only) return 1;
    size_t n = strlen(kind);
    for (const char *p = b->only; (p = strstr(p, kind)); p += n)
        if ((p == b->only || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) return 1;
    return 0;
}

static void emit_prefix(const bench_ctx *b, const char *contender, const char *index)
{
    printf("{\"dataset\":\"%s\",\"n\":%zu,\"dim\":%d,\"metric\":\"%s\",\"contender\":\"%s\",\"index\":\"%s\"",
           b->name, b->base.n, b->base.d, b->ip ? "ip" : "l2", contender, index);
}

void bench_emit_build(const bench_ctx *b, const char *contender, const char *index, double seconds, const char *extra)
{
    emit_prefix(b, contender, index);
    printf(",\"phase\":\"build\",\"threads\":%d,\"seconds\":%.3f%s%s}\n", b->threads, seconds, extra ? "," : "",
           extra ? extra : "");
    fflush(stdout);
}

/* Exact distance of base row id to query q, in double precision. */
static double exact_dist(const bench_ctx *b, const float *q, int64_t id)
{
    const float *v = b->base.x + (size_t)id * b->base.d;
    double s = 0;
    if (b->ip) {
        for (int j = 0; j < b->base.d; j++) s += (double)q[j] * v[j];
    } else {
        for (int j = 0; j < b->base.d; j++) { double t = (double)q[j] - v[j]; s += t * t; }
    }
    return s;
}

/* recall@k of labels (nq x k) for queries [0, nq): a returned id counts if
 * it is valid, not a repeat, and no farther than the true k-th neighbour
 * (within a relative 1e-5, so exact ties count either way, as in
 * ann-benchmarks). */
static double recall(const bench_ctx *b, size_t nq, const int64_t *labels)
{
    int k = b->k;
    size_t hits = 0;
    for (size_t i = 0; i < nq; i++) {
        const float *q = b->query.x + i * b->query.d;
        double kth = b->gt_dist[i * b->gt_k + k - 1];
        double tol = 1e-5 * (kth < 0 ? -kth : kth) + 1e-6;
        const int64_t *l = labels + i * k;
        for (int j = 0; j < k; j++) {
            if (l[j] < 0 || (size_t)l[j] >= b->base.n) continue;
            int dup = 0;
            for (int t = 0; t < j && !dup; t++) dup = l[t] == l[j];
            if (dup) continue;
            double d = exact_dist(b, q, l[j]);
            hits += b->ip ? d >= kth - tol : d <= kth + tol;
        }
    }
    return (double)hits / ((double)nq * k);
}

static int fail(const bench_contender *c, int ef)
{
    fprintf(stderr, "bench: %s %s: search failed at ef=%d\n", c->contender, c->index, ef);
    return -1;
}

/* Times one measurement of contender c: the best of b->reps runs over the
 * first nq queries, batched (one call, b->threads threads) or single (one
 * call per query, 1 thread). Emits one line. */
static int measure(const bench_ctx *b, bench_contender *c, int batch, int ef, int64_t *labels)
{
    int flat = !strcmp(c->kind, "flat");
    size_t nq = flat ? (batch ? b->flat_nq_batch : b->flat_nq_single) : (batch ? b->nq_batch : b->nq_single);
    int k = b->k, d = b->query.d;
    if (!c->warm) {
        /* Warm-up: touch the index and start the thread team once. */
        bench_set_threads(b->threads);
        size_t nw = nq < 100 ? nq : 100;
        if (c->search(c->self, nw, b->query.x, k, ef, labels)) return fail(c, ef);
        c->warm = 1;
    }
    bench_set_threads(batch ? b->threads : 1);
    double best = 1e300, best_cpu = 1e300;
    for (int r = 0; r < b->reps; r++) {
        double c0 = cpu_now();
        double t = bench_now();
        if (batch) {
            if (c->search(c->self, nq, b->query.x, k, ef, labels)) return fail(c, ef);
        } else {
            for (size_t i = 0; i < nq; i++)
                if (c->search(c->self, 1, b->query.x + i * (size_t)d, k, ef, labels + i * (size_t)k))
                    return fail(c, ef);
        }
        t = bench_now() - t;
        double cpu = cpu_now() - c0;
        if (t < best) best = t;
        if (cpu < best_cpu) best_cpu = cpu;
    }
    bench_set_threads(b->threads);
    /* qps_cpu: queries per second of the threads' CPU time divided by the
     * thread count, i.e. the rate on dedicated cores; on a shared machine it
     * is far steadier than wall-clock, which is reported too. */
    int nt = batch ? b->threads : 1;
    emit_prefix(b, c->contender, c->index);
    printf(",\"phase\":\"search\",\"mode\":\"%s\",\"threads\":%d,\"ef\":%d,\"k\":%d,\"nq\":%zu,\"reps\":%d,"
           "\"seconds\":%.6f,\"qps\":%.1f,\"cpu_seconds\":%.6f,\"qps_cpu\":%.1f,\"recall\":%.5f}\n",
           batch ? "batch" : "single", nt, ef, k, nq, b->reps, best, (double)nq / best, best_cpu,
           (double)nq * nt / best_cpu, recall(b, nq, labels));
    fflush(stdout);
    return 0;
}

void bench_add(bench_ctx *b, const bench_contender *c)
{
    bench_contender *n = realloc(b->cs, (size_t)(b->ncs + 1) * sizeof *n);
    if (!n) die("%s", "out of memory");
    b->cs = n;
    b->cs[b->ncs] = *c;
    b->cs[b->ncs].warm = 0;
    b->ncs++;
}

void bench_main(bench_ctx *b)
{
    size_t nmax = b->query.n;
    int64_t *labels = malloc(nmax * (size_t)b->k * sizeof *labels);
    if (!labels) die("%s", "out of memory");
    if (!b->serve) {
        for (int i = 0; i < b->ncs; i++) {
            bench_contender *c = &b->cs[i];
            int flat = !strcmp(c->kind, "flat");
            for (int e = 0; e < (flat ? 1 : b->nef); e++) {
                int ef = flat ? 0 : b->efs[e];
                if (measure(b, c, 1, ef, labels) || measure(b, c, 0, ef, labels)) exit(1);
            }
        }
        free(labels);
        return;
    }
    printf("{\"phase\":\"ready\",\"indexes\":[");
    for (int i = 0; i < b->ncs; i++)
        printf("%s{\"i\":%d,\"contender\":\"%s\",\"index\":\"%s\",\"kind\":\"%s\"}", i ? "," : "", i,
               b->cs[i].contender, b->cs[i].index, b->cs[i].kind);
    printf("]}\n");
    fflush(stdout);
    char line[256];
    while (fgets(line, sizeof line, stdin)) {
        int i, ef;
        char mode[16];
        if (!strncmp(line, "quit", 4)) break;
        if (sscanf(line, "search %d %15s %d", &i, mode, &ef) != 3 || i < 0 || i >= b->ncs || ef < 0 ||
            (strcmp(mode, "batch") && strcmp(mode, "single"))) {
            fprintf(stderr, "bench: bad command: %s", line);
            exit(2);
        }
        if (measure(b, &b->cs[i], !strcmp(mode, "batch"), ef, labels)) exit(1);
    }
    free(labels);
}
