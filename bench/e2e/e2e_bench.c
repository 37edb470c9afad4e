/* End-to-end benchmark: Search over gRPC (rpc/client.h -> the rpc/ server on
 * the gRPC C core) against the same searches in-process (odx_search), on
 * N x DIM structured vectors (low-rank latent + noise, normalised) in an
 * HNSW collection, k=10, with 1, 4 and 16 concurrent clients, in one run.
 * Each client is one thread with its own channel (gRPC) or its own loop
 * (in-process) issuing one query at a time; every call's latency is kept.
 *
 *   e2e_bench [--n 100000] [--dim 128] [--k 10] [--ef 64] [--seconds 5]
 *             [--workers 4] [--clients 1,4,16] [--data DIR]
 *
 * Prints a markdown table (QPS, p50, p99 per mode and client count) and the
 * p50 overhead of gRPC over in-process, then the RPC floor: the same clients
 * calling grpc.health.v1.Health/Check, which does no work. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "omnidex.h"
#include "rpc/client.h"
#include "omnidex_rpc.h"

static int N = 100000, DIM = 128, K = 10, EF = 64, WORKERS = 4;
static double SECONDS = 5;
static int CLIENTS[8] = {1, 4, 16}, NCLIENTS = 3;
static const char *DATA = NULL;

#define NQ 1000

static float *base, *queries;
static odx_db *db;
static char target[64];

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static double urand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}
static float gauss(void)
{
    double u = urand() + 1e-12, v = urand();
    return (float)(sqrt(-2 * log(u)) * cos(6.283185307179586 * v));
}

/* rank-16 latent x basis + noise, normalised (FACTS: no i.i.d. Gaussians) */
static void make_vectors(float *out, int n, const float *basis, int rank)
{
    for (int i = 0; i < n; i++) {
        float z[64], *v = out + (size_t)i * DIM;
        for (int r = 0; r < rank; r++) z[r] = gauss();
        double s = 0;
        for (int d = 0; d < DIM; d++) {
            float x = 0.1f * gauss();
            for (int r = 0; r < rank; r++) x += z[r] * basis[r * DIM + d];
            v[d] = x;
            s += (double)x * x;
        }
        float inv = (float)(1.0 / sqrt(s));
        for (int d = 0; d < DIM; d++) v[d] *= inv;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

struct worker {
    int id, grpc;
    double *lat;
    size_t n, cap;
    int errors;
    double t_end;
};

static void record(struct worker *w, double dt)
{
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 4096;
        w->lat = realloc(w->lat, w->cap * sizeof *w->lat);
    }
    w->lat[w->n++] = dt;
}

static void *run_worker(void *arg)
{
    struct worker *w = arg;
    odx_search_params *p;
    odx_search_params_new(&p);
    odx_search_params_set_k(p, K);
    odx_search_params_set_ef_search(p, EF);
    odx_rpc_client *cl = NULL;
    Omnidex__V1__SearchRequest req = OMNIDEX__V1__SEARCH_REQUEST__INIT;
    Omnidex__V1__QueryPart part = OMNIDEX__V1__QUERY_PART__INIT, *pp = &part;
    Omnidex__V1__Vector vec = OMNIDEX__V1__VECTOR__INIT;
    Omnidex__V1__SearchParams sp = OMNIDEX__V1__SEARCH_PARAMS__INIT;
    if (w->grpc) {
        if (odx_rpc_client_open(target, NULL, &cl) != 0) {
            fprintf(stderr, "client: %s\n", odx_last_error());
            w->errors++;
            return NULL;
        }
        req.collection = "bench";
        req.n_parts = 1;
        req.parts = &pp;
        req.k = (uint32_t)K;
        sp.ef_search = (uint32_t)EF;
        req.params = &sp;
        part.part_case = OMNIDEX__V1__QUERY_PART__PART_VECTOR;
        part.vector = &vec;
        vec.n_values = (size_t)DIM;
    }
    unsigned qi = (unsigned)w->id * 7919u;
    while (now() < w->t_end) {
        const float *q = queries + (size_t)(qi++ % NQ) * DIM;
        double t0 = now();
        int rc;
        if (w->grpc == 2) {
            int serving = 0;
            rc = odx_rpc_health_check(cl, "", &serving);
            if (rc == 0 && !serving) rc = -1;
        } else if (w->grpc) {
            Omnidex__V1__SearchResponse *resp = NULL;
            vec.values = (float *)q;
            rc = odx_rpc_search(cl, &req, &resp);
            if (rc == 0 && resp->n_hits != (size_t)K) rc = -1;
            odx_rpc_free(resp ? &resp->base : NULL);
        } else {
            odx_results *r = NULL;
            rc = odx_search(db, "bench", q, 1, DIM, p, &r);
            if (rc == 0 && odx_results_count(r, 0) != (size_t)K) rc = -1;
            odx_results_free(r);
        }
        double dt = now() - t0;
        if (rc) w->errors++;
        else record(w, dt);
    }
    odx_rpc_client_close(cl);
    odx_search_params_free(p);
    return NULL;
}

struct result {
    double qps, p50, p99;
    size_t calls;
    int errors;
};

static struct result measure(int grpc, int clients)
{
    struct worker *w = calloc((size_t)clients, sizeof *w);
    pthread_t *th = calloc((size_t)clients, sizeof *th);
    double t0 = now();
    for (int i = 0; i < clients; i++) {
        w[i].id = i;
        w[i].grpc = grpc;
        w[i].t_end = t0 + SECONDS;
        pthread_create(&th[i], NULL, run_worker, &w[i]);
    }
    size_t total = 0;
    struct result r = {0};
    for (int i = 0; i < clients; i++) {
        pthread_join(th[i], NULL);
        total += w[i].n;
        r.errors += w[i].errors;
    }
    double el = now() - t0;
    double *all = malloc((total ? total : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < clients; i++) {
        memcpy(all + k, w[i].lat, w[i].n * sizeof *all);
        k += w[i].n;
        free(w[i].lat);
    }
    qsort(all, total, sizeof *all, cmp_double);
    r.calls = total;
    r.qps = total / el;
    r.p50 = total ? all[total / 2] * 1e6 : 0;
    r.p99 = total ? all[(size_t)(total * 0.99)] * 1e6 : 0;
    free(all);
    free(w);
    free(th);
    return r;
}

static int parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) goto bad;
        i++;
        if (!strcmp(a, "--n")) N = (int)strtol(v, NULL, 10);
        else if (!strcmp(a, "--dim")) DIM = (int)strtol(v, NULL, 10);
        else if (!strcmp(a, "--k")) K = (int)strtol(v, NULL, 10);
        else if (!strcmp(a, "--ef")) EF = (int)strtol(v, NULL, 10);
        else if (!strcmp(a, "--workers")) WORKERS = (int)strtol(v, NULL, 10);
        else if (!strcmp(a, "--seconds")) SECONDS = strtod(v, NULL);
        else if (!strcmp(a, "--data")) DATA = v;
        else if (!strcmp(a, "--clients")) {
            NCLIENTS = 0;
            char buf[128];
            snprintf(buf, sizeof buf, "%s", v);
            for (char *t = strtok(buf, ","); t && NCLIENTS < 8; t = strtok(NULL, ","))
                CLIENTS[NCLIENTS++] = (int)strtol(t, NULL, 10);
        } else goto bad;
    }
    if (N < 1000 || DIM < 2 || DIM > 4096 || K < 1 || K > 1024 || SECONDS <= 0 || NCLIENTS < 1) goto bad;
    return 0;
bad:
    fprintf(stderr, "usage: e2e_bench [--n N] [--dim D] [--k K] [--ef EF] [--seconds S] [--workers W] "
                    "[--clients 1,4,16] [--data DIR]\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (parse_args(argc, argv)) return 2;
    char tmp[] = "/tmp/odx-e2e-XXXXXX";
    const char *dir = DATA ? DATA : mkdtemp(tmp);
    if (!dir) return 1;
    int rank = 16;
    float *basis = malloc(sizeof(float) * rank * DIM);
    for (int i = 0; i < rank * DIM; i++) basis[i] = gauss();
    base = malloc(sizeof(float) * (size_t)N * DIM);
    queries = malloc(sizeof(float) * NQ * DIM);
    make_vectors(base, N, basis, rank);
    make_vectors(queries, NQ, basis, rank);

    if (odx_db_open(dir, ODX_OPEN_CREATE, &db) != 0) {
        fprintf(stderr, "open %s: %s\n", dir, odx_last_error());
        return 1;
    }
    double t0 = now();
    int rc = odx_collection_create(db, "bench", DIM, ODX_METRIC_COSINE, "HNSW32,Flat", NULL);
    odx_batch *b;
    odx_batch_new(&b);
    char id[32];
    for (int i = 0; rc == 0 && i < N; i++) {
        snprintf(id, sizeof id, "%d", i);
        rc = odx_batch_add(b, id, base + (size_t)i * DIM, DIM, NULL, ODX_MODALITY_VECTOR, NULL);
        if (rc == 0 && (odx_batch_size(b) == 10000 || i == N - 1)) {
            rc = odx_upsert(db, "bench", b);
            odx_batch_clear(b);
        }
    }
    odx_batch_free(b);
    if (rc) {
        fprintf(stderr, "load: %s\n", odx_last_error());
        return 1;
    }
    /* one warm-up search so that lazy index work is not timed */
    odx_results *r0;
    if (odx_search(db, "bench", queries, 1, DIM, NULL, &r0) == 0) odx_results_free(r0);
    double load_s = now() - t0;

    odx_rpc_options o;
    odx_rpc_options_init(&o);
    o.listen = "127.0.0.1:0";
    o.workers = WORKERS;
    o.calls_per_method = 32;
    odx_rpc_server *srv;
    if (odx_rpc_server_start(db, &o, &srv) != 0) {
        fprintf(stderr, "server: %s\n", odx_last_error());
        return 1;
    }
    snprintf(target, sizeof target, "127.0.0.1:%d", odx_rpc_server_port(srv));

    char loadavg[64] = "?";
    FILE *la = fopen("/proc/loadavg", "r");
    if (la) {
        if (!fgets(loadavg, sizeof loadavg, la)) loadavg[0] = '\0';
        fclose(la);
        loadavg[strcspn(loadavg, "\n")] = '\0';
    }
    printf("Setup: %d x %d structured vectors, HNSW32,Flat, cosine, k=%d, efSearch=%d, %.1f s per row, "
           "%d server workers, %ld CPUs; load+index %.1f s; loadavg before: %s\n\n",
           N, DIM, K, EF, SECONDS, WORKERS, sysconf(_SC_NPROCESSORS_ONLN), load_s, loadavg);
    printf("| clients | in-process QPS | p50 us | p99 us | gRPC QPS | p50 us | p99 us | p50 overhead us | errors |\n");
    printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    int errors = 0;
    for (int c = 0; c < NCLIENTS; c++) {
        struct result in = measure(0, CLIENTS[c]);
        struct result g = measure(1, CLIENTS[c]);
        errors += in.errors + g.errors;
        printf("| %d | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %d |\n", CLIENTS[c], in.qps, in.p50, in.p99,
               g.qps, g.p50, g.p99, g.p50 - in.p50, in.errors + g.errors);
        fflush(stdout);
    }
    /* The transport alone: grpc.health.v1.Health/Check, which does no work,
     * through the same client and server. */
    printf("\nRPC floor (Health/Check, no search, same client and server):\n\n");
    printf("| clients | calls/s | p50 us | p99 us | errors |\n|---:|---:|---:|---:|---:|\n");
    for (int c = 0; c < NCLIENTS; c++) {
        struct result h = measure(2, CLIENTS[c]);
        errors += h.errors;
        printf("| %d | %.0f | %.0f | %.0f | %d |\n", CLIENTS[c], h.qps, h.p50, h.p99, h.errors);
        fflush(stdout);
    }
    odx_rpc_server_stop(srv);
    odx_db_close(db);
    if (!DATA) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    }
    free(base);
    free(queries);
    free(basis);
    return errors ? 1 : 0;
}
