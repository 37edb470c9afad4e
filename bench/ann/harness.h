/* The shared harness of the bench/ann contenders: dataset loading, timed
 * searches (single-query on 1 thread, batched on T threads), recall against
 * the exact ground truth, and one JSON line per measurement on stdout (the
 * driver, run.py, turns them into tables). Each contender is a small
 * program that builds its indexes, registers them with bench_add() and
 * calls bench_main(), which either runs the whole efSearch sweep at once or,
 * with --serve 1, answers the driver's commands on stdin so that the driver
 * can interleave the contenders' measurements (see run.py). */
#ifndef BENCH_ANN_HARNESS_H
#define BENCH_ANN_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    size_t n;
    int d;
    float *x; /* n x d, row-major */
} bench_mat;

typedef struct {
    const char *dir;    /* dataset directory made by prep.py */
    const char *name;   /* dataset name (last path component) */
    int ip;             /* 1: inner product (higher is better), 0: squared L2 */
    bench_mat base, query;
    int gt_k;
    int32_t *gt_ids;    /* nq x gt_k */
    float *gt_dist;     /* nq x gt_k */
    /* options */
    int k;              /* 10 */
    int threads;        /* batched runs */
    int efs[32], nef;
    size_t nq_single, nq_batch;           /* HNSW sweeps */
    size_t flat_nq_single, flat_nq_batch; /* exact (Flat) runs */
    int reps;           /* timing repetitions; the best is kept */
    const char *only;   /* comma list of index kinds to run, NULL = all */
    int serve;          /* 1: take commands on stdin */
    struct bench_contender *cs;
    int ncs;
} bench_ctx;

/* Searches nq queries, writing nq x k labels (-1 = none). ef = 0 for an
 * index without efSearch. Returns 0 or a non-zero error. */
typedef int (*bench_search_fn)(void *self, size_t nq, const float *q, int k, int ef, int64_t *labels);

typedef struct bench_contender {
    const char *contender; /* e.g. "omnidex", "faiss-avx2", "hnswlib" */
    const char *index;     /* e.g. "HNSW32,Flat", "Flat", "M=32,efC=40" */
    const char *kind;      /* "hnsw" or "flat": picks the sweep */
    bench_search_fn search;
    void *self;
    int warm;              /* set by the harness after its warm-up */
} bench_contender;

/* Parses argv (see harness.c's usage) and loads the dataset; exits with a
 * message on any error. */
void bench_init(bench_ctx *b, int argc, char **argv);
void bench_free(bench_ctx *b);
/* The value of the last `name value` pair in argv (contender options), or
 * def. */
const char *bench_arg(int argc, char **argv, const char *name, const char *def);
/* 1 if this index kind was asked for (--only). */
int bench_wants(const bench_ctx *b, const char *kind);

double bench_now(void);
void bench_set_threads(int n);

/* Emits one JSON line describing a build. extra: further "key":value pairs
 * (without braces), or NULL. */
void bench_emit_build(const bench_ctx *b, const char *contender, const char *index, double seconds,
                      const char *extra);
/* Registers a built index (copied; c->self must stay valid until
 * bench_main returns). */
void bench_add(bench_ctx *b, const bench_contender *c);
/* Without --serve: runs every registered index through the sweep, one line
 * per (mode, ef). With --serve 1: prints a "ready" line listing the indexes,
 * then answers lines `search I batch|single EF` (one result line each) until
 * `quit` or end of input. */
void bench_main(bench_ctx *b);

#ifdef __cplusplus
}
#endif
#endif
