/* omnidex collection create|list|info|drop|compact|checkpoint */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "omnidex_util.h"

static const char *help =
    "usage: omnidex collection create NAME (--dim D | --space SPACE [--dim D]) [--metric cosine|ip|l2] [--index SPEC|auto] [--gpu]\n"
    "       omnidex collection list [--json]\n"
    "       omnidex collection info NAME [--json]\n"
    "       omnidex collection drop NAME\n"
    "       omnidex collection compact NAME\n"
    "       omnidex collection checkpoint NAME\n"
    "\n"
    "With --space the dimension is the space's (a --dim that differs is an error).\n"
    "SPEC is a FAISS factory string: Flat, HNSW32,Flat, IVF1024,Flat, IVF1024,PQ32np, SQ8 ...\n"
    "or auto (default): exact Flat below 50,000 vectors, HNSW32 above. HNSW specs take\n"
    "efC=N (efConstruction, default 200) and efS=N (default efSearch, 64): HNSW32,Flat,efC=400,efS=96\n"
    "Metric cosine (default) normalises vectors; scores are similarities (ip, cosine)\n"
    "or squared L2 distances (l2).\n"
    "--gpu opts the collection in to GPU search: processes opened with --gpu (omnidex search --gpu,\n"
    "a GPU=1 build with a CUDA device) mirror its vectors on the device; otherwise the CPU answers.\n";

static int has_flag(int argc, char **argv, const char *f)
{
    for (int i = 0; i < argc; i++) if (!strcmp(argv[i], f)) return 1;
    return 0;
}

static int create(const struct cli *g, int argc, char **argv)
{
    const char *name = NULL, *index = "auto", *space = NULL, *metric_s = "cosine";
    long dim = 0;
    int gpu = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--dim") && v) { if (cli_parse_int(v, 1, ODX_MAX_DIM, &dim)) return cli_usage("collection", "--dim must be 1..%d, got '%s'", ODX_MAX_DIM, v); i++; }
        else if (!strcmp(a, "--metric") && v) { metric_s = v; i++; }
        else if (!strcmp(a, "--index") && v) { index = v; i++; }
        else if (!strcmp(a, "--space") && v) { space = v; i++; }
        else if (!strcmp(a, "--gpu")) gpu = 1;
        else if (a[0] == '-') return cli_usage("collection", "unknown or incomplete option '%s'", a);
        else if (!name) name = a;
        else return cli_usage("collection", "unexpected argument '%s'", a);
    }
    if (!name) return cli_usage("collection", "create needs a NAME");
    if (!dim && !space) return cli_usage("collection", "create needs --dim D or --space SPACE");
    odx_metric m;
    if (odx_metric_parse(metric_s, &m)) return cli_usage("collection", "%s", odx_last_error());
    odx_db *db;
    if (cli_open(g, 1, &db)) return 1;
    int rc = odx_collection_create(db, name, (int)dim, m, index, space);
    if (!rc && gpu) rc = odx_collection_set_gpu(db, name, 1);
    if (!rc && !dim) {
        odx_collection_info *info;
        if (!odx_collection_describe(db, name, &info)) {
            dim = odx_info_dim(info);
            odx_collection_info_free(info);
        }
    }
    odx_db_close(db);
    if (rc) return cli_fail_rc(rc, "collection create");
    if (!g->quiet) printf("created collection '%s' (dim %ld, %s, index %s)\n", name, dim, odx_metric_name(m), index);
    return 0;
}

static void print_time(FILE *f, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    char b[32];
    strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fputs(b, f);
}

static int info_print(odx_db *db, const char *name, int json)
{
    odx_collection_info *in;
    int rc = odx_collection_describe(db, name, &in);
    if (rc) return cli_fail_rc(rc, "collection info");
    if (json) {
        char *esc = NULL, *sp = NULL, *ty = NULL;
        size_t l = 0, c = 0, l2 = 0, c2 = 0, l3 = 0, c3 = 0;
        odx_json_append_string(&esc, &l, &c, odx_info_index_spec(in), strlen(odx_info_index_spec(in)));
        odx_json_append_string(&sp, &l2, &c2, odx_info_space(in), strlen(odx_info_space(in)));
        odx_json_append_string(&ty, &l3, &c3, odx_info_index_type(in), strlen(odx_info_index_type(in)));
        printf("{\"name\":\"%s\",\"dim\":%d,\"metric\":\"%s\",\"index\":%s,\"index_type\":%s,\"space\":%s,"
               "\"count\":%llu,\"indexed\":%llu,\"tombstones\":%llu,\"lsn\":%llu,\"checkpoint_lsn\":%llu,"
               "\"vector_bytes\":%llu,\"created\":%lld,\"updated\":%lld}\n",
               odx_info_name(in), odx_info_dim(in), odx_metric_name(odx_info_metric(in)), esc ? esc : "\"\"",
               ty ? ty : "\"\"", sp ? sp : "\"\"", (unsigned long long)odx_info_count(in),
               (unsigned long long)odx_info_index_ntotal(in), (unsigned long long)odx_info_tombstones(in),
               (unsigned long long)odx_info_lsn(in), (unsigned long long)odx_info_checkpoint_lsn(in),
               (unsigned long long)odx_info_vector_bytes(in), (long long)odx_info_created(in),
               (long long)odx_info_updated(in));
        odx_free(esc);
        odx_free(sp);
        odx_free(ty);
    } else {
        uint64_t n = odx_info_count(in), vb = odx_info_vector_bytes(in);
        printf("collection   %s\n", odx_info_name(in));
        printf("dimension    %d\n", odx_info_dim(in));
        printf("metric       %s\n", odx_metric_name(odx_info_metric(in)));
        printf("index spec   %s\n", odx_info_index_spec(in));
        printf("index now    %s\n", odx_info_index_type(in));
        printf("space        %s\n", *odx_info_space(in) ? odx_info_space(in) : "(none: vectors only)");
        if (odx_info_gpu(in))
            printf("gpu          opted in%s\n", odx_info_gpu(in) == 2 ? ", served from the GPU now" : " (CPU in this process)");
        printf("items        %llu\n", (unsigned long long)n);
        printf("indexed      %llu (%llu deleted, awaiting compaction)\n", (unsigned long long)odx_info_index_ntotal(in),
               (unsigned long long)odx_info_tombstones(in));
        printf("lsn          %llu (checkpoint at %llu)\n", (unsigned long long)odx_info_lsn(in),
               (unsigned long long)odx_info_checkpoint_lsn(in));
        printf("vector bytes %llu", (unsigned long long)vb);
        if (n) printf(" (%.3fx raw float32)", (double)vb / ((double)n * odx_info_dim(in) * 4));
        printf("\ncreated      ");
        print_time(stdout, odx_info_created(in));
        printf("\nupdated      ");
        print_time(stdout, odx_info_updated(in));
        printf("\n");
    }
    odx_collection_info_free(in);
    return 0;
}

int cmd_collection(const struct cli *g, int argc, char **argv)
{
    if (argc < 2 || has_flag(argc, argv, "--help") || has_flag(argc, argv, "-h")) {
        fputs(help, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    int json = has_flag(argc, argv, "--json");
    if (!strcmp(sub, "create")) return create(g, argc, argv);
    const char *name = NULL;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) continue;
        if (argv[i][0] == '-') return cli_usage("collection", "unknown option '%s'", argv[i]);
        if (name) return cli_usage("collection", "unexpected argument '%s'", argv[i]);
        name = argv[i];
    }
    int write = !strcmp(sub, "drop") || !strcmp(sub, "compact") || !strcmp(sub, "checkpoint");
    if (strcmp(sub, "list") && strcmp(sub, "info") && !write)
        return cli_usage("collection", "unknown subcommand '%s'", sub);
    if (strcmp(sub, "list") && !name) return cli_usage("collection", "%s needs a NAME", sub);
    odx_db *db;
    if (cli_open(g, write, &db)) return 1;
    int rc = 0, status = 0;
    if (!strcmp(sub, "list")) {
        char **names;
        size_t n;
        if ((rc = odx_collection_list(db, &names, &n))) status = cli_fail_rc(rc, "collection list");
        else {
            if (json) {
                printf("[");
                for (size_t i = 0; i < n; i++) printf("%s\"%s\"", i ? "," : "", names[i]);
                printf("]\n");
            } else {
                for (size_t i = 0; i < n; i++) printf("%s\n", names[i]);
            }
            odx_free(names);
        }
    } else if (!strcmp(sub, "info")) {
        status = info_print(db, name, json);
    } else if (!strcmp(sub, "drop")) {
        if ((rc = odx_collection_drop(db, name))) status = cli_fail_rc(rc, "collection drop");
        else if (!g->quiet) printf("dropped collection '%s'\n", name);
    } else if (!strcmp(sub, "compact")) {
        if ((rc = odx_collection_compact(db, name))) status = cli_fail_rc(rc, "collection compact");
        else if (!g->quiet) printf("compacted collection '%s'\n", name);
    } else {
        if ((rc = odx_collection_checkpoint(db, name))) status = cli_fail_rc(rc, "collection checkpoint");
        else if (!g->quiet) printf("checkpointed collection '%s'\n", name);
    }
    odx_db_close(db);
    return status;
}
