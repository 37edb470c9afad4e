/* omnidex put | search | get | delete */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "omnidex_util.h"

/* ---- input files ---- */

/* Reads the next fvecs record (int32 dim, dim float32). 1 = got one, 0 =
 * end of file, -1 = malformed (message printed). */
static int fvecs_next(FILE *f, const char *path, long rec, float **buf, int *dim)
{
    int32_t d;
    size_t got = fread(&d, 1, 4, f);
    if (got == 0 && feof(f)) return 0;
    if (got != 4) { cli_fail("%s: vector %ld: truncated dimension field", path, rec); return -1; }
    if (d < 1 || d > ODX_MAX_DIM) { cli_fail("%s: vector %ld: dimension %d out of range (is this an fvecs file?)", path, rec, d); return -1; }
    if (*dim && d != *dim) { cli_fail("%s: vector %ld has dimension %d, earlier ones %d", path, rec, d, *dim); return -1; }
    if (!*dim) {
        *buf = odx_malloc((size_t)d * sizeof(float));
        if (!*buf) { cli_fail("out of memory"); return -1; }
        *dim = d;
    }
    if (fread(*buf, sizeof(float), (size_t)d, f) != (size_t)d) {
        cli_fail("%s: vector %ld: truncated (file ends inside it)", path, rec);
        return -1;
    }
    return 1;
}

int cli_meta_set_json(odx_meta *m, const char *key, const cJSON *e)
{
    if (cJSON_IsString(e)) return odx_meta_set_string(m, key, e->valuestring, strlen(e->valuestring));
    if (cJSON_IsBool(e)) return odx_meta_set_bool(m, key, cJSON_IsTrue(e));
    if (cJSON_IsNumber(e)) {
        double d = e->valuedouble;
        /* Integers stay integers (exact up to 2^53, the JSON number limit here). */
        if (d == floor(d) && fabs(d) <= 9007199254740992.0) return odx_meta_set_int(m, key, (int64_t)d);
        return odx_meta_set_float(m, key, d);
    }
    return odx_error(ODX_EINVAL, "metadata \"%.64s\": only strings, numbers and booleans are allowed", key);
}

/* Parses one JSONL line into the batch. Returns 0 or prints an error. */
static int jsonl_item(const char *path, long lineno, const char *line, size_t len, odx_batch *b,
                      float **vec, size_t *veccap)
{
    cJSON *o = cJSON_ParseWithLength(line, len);
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return cli_fail("%s:%ld: not a JSON object", path, lineno);
    }
    int status = 1;
    odx_meta *m = NULL;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "vector");
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(o, "metadata");
    const cJSON *mo = cJSON_GetObjectItemCaseSensitive(o, "modality");
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(o, "source");
    char idbuf[64];
    const char *ids;
    if (cJSON_IsString(id)) ids = id->valuestring;
    else if (cJSON_IsNumber(id) && id->valuedouble == floor(id->valuedouble) && fabs(id->valuedouble) < 9e15) {
        snprintf(idbuf, sizeof idbuf, "%.0f", id->valuedouble);
        ids = idbuf;
    } else {
        cli_fail("%s:%ld: \"id\" must be a string", path, lineno);
        goto out;
    }
    if (!cJSON_IsArray(v)) { cli_fail("%s:%ld: \"vector\" must be an array of numbers", path, lineno); goto out; }
    int dim = cJSON_GetArraySize(v);
    if (dim < 1 || dim > ODX_MAX_DIM) { cli_fail("%s:%ld: vector of %d numbers", path, lineno, dim); goto out; }
    if ((size_t)dim > *veccap) {
        float *nv = odx_realloc(*vec, (size_t)dim * sizeof(float));
        if (!nv) { cli_fail("out of memory"); goto out; }
        *vec = nv;
        *veccap = (size_t)dim;
    }
    int i = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, v)
    {
        if (!cJSON_IsNumber(x)) { cli_fail("%s:%ld: vector[%d] is not a number", path, lineno, i); goto out; }
        (*vec)[i++] = (float)x->valuedouble;
    }
    odx_modality mod = ODX_MODALITY_VECTOR;
    if (mo && (!cJSON_IsString(mo) || odx_modality_parse(mo->valuestring, &mod))) {
        cli_fail("%s:%ld: bad \"modality\" (vector, text, image, audio, video, mesh)", path, lineno);
        goto out;
    }
    if (src && !cJSON_IsString(src)) { cli_fail("%s:%ld: \"source\" must be a string", path, lineno); goto out; }
    if (md) {
        if (!cJSON_IsObject(md)) { cli_fail("%s:%ld: \"metadata\" must be an object", path, lineno); goto out; }
        if (odx_meta_new(&m)) { cli_fail("out of memory"); goto out; }
        const cJSON *e;
        cJSON_ArrayForEach(e, md)
        {
            if (cli_meta_set_json(m, e->string, e)) { cli_fail("%s:%ld: %s", path, lineno, odx_last_error()); goto out; }
        }
    }
    if (odx_batch_add(b, ids, *vec, dim, m, mod, src ? src->valuestring : NULL)) {
        cli_fail("%s:%ld: %s", path, lineno, odx_last_error());
        goto out;
    }
    status = 0;
out:
    odx_meta_free(m);
    cJSON_Delete(o);
    return status;
}

static const char *put_help =
    "usage: omnidex put NAME (--fvecs FILE | --jsonl FILE) [--ids-start N] [--batch N] [--print-acks]\n"
    "  --fvecs FILE    vectors in fvecs format; ids are decimal strings from --ids-start (default 0)\n"
    "  --jsonl FILE    one {\"id\":\"..\",\"vector\":[..],\"metadata\":{..}} per line (\"-\" = stdin)\n"
    "  --batch N       items per transaction (default 1000)\n"
    "  --print-acks    print \"acked N\" after each committed batch (N items durable so far)\n"
    "Items whose id exists replace the old item.\n";

int cmd_put(const struct cli *g, int argc, char **argv)
{
    const char *name = NULL, *fvecs = NULL, *jsonl = NULL;
    long ids_start = 0, batch = 1000;
    int acks = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(put_help, stdout); return 0; }
        if (!strcmp(a, "--fvecs") && v) { fvecs = v; i++; }
        else if (!strcmp(a, "--jsonl") && v) { jsonl = v; i++; }
        else if (!strcmp(a, "--ids-start") && v) { if (cli_parse_int(v, 0, LONG_MAX, &ids_start)) return cli_usage("put", "bad --ids-start '%s'", v); i++; }
        else if (!strcmp(a, "--batch") && v) { if (cli_parse_int(v, 1, 1000000, &batch)) return cli_usage("put", "bad --batch '%s'", v); i++; }
        else if (!strcmp(a, "--print-acks")) acks = 1;
        else if (a[0] == '-') return cli_usage("put", "unknown or incomplete option '%s'", a);
        else if (!name) name = a;
        else return cli_usage("put", "unexpected argument '%s'", a);
    }
    if (!name) return cli_usage("put", "needs a collection NAME");
    if (!!fvecs == !!jsonl) return cli_usage("put", "needs exactly one of --fvecs FILE or --jsonl FILE");
    const char *path = fvecs ? fvecs : jsonl;
    FILE *f = !strcmp(path, "-") ? stdin : fopen(path, "rb");
    if (!f) return cli_fail("cannot open %s: %s", path, strerror(errno));
    long long total = 0;
    if (fvecs && f != stdin) {
        /* Size the progress bar from the first record's dimension. */
        int32_t d;
        if (fread(&d, 1, 4, f) == 4 && d > 0 && d <= ODX_MAX_DIM) {
            fseek(f, 0, SEEK_END);
            total = ftell(f) / (4 + 4LL * d);
        }
        rewind(f);
    }
    odx_db *db;
    if (cli_open(g, 1, &db)) { if (f != stdin) fclose(f); return 1; }
    odx_batch *b;
    odx_batch_new(&b);
    struct progress pg;
    progress_start(&pg, "put", (unsigned long long)total);
    float *vec = NULL;
    size_t veccap = 0;
    int dim = 0, status = 0;
    long long n = 0;
    char *line = NULL;
    size_t lcap = 0;
    long lineno = 0;
    for (;;) {
        int more;
        if (fvecs) {
            more = fvecs_next(f, path, (long)n, &vec, &dim);
            if (more < 0) { status = 1; break; }
            if (more) {
                char id[32];
                snprintf(id, sizeof id, "%lld", ids_start + n + (long long)odx_batch_size(b));
                if (odx_batch_add(b, id, vec, dim, NULL, ODX_MODALITY_VECTOR, NULL)) {
                    status = cli_fail("%s: vector %lld: %s", path, n, odx_last_error());
                    break;
                }
            }
        } else {
            ssize_t len = getline(&line, &lcap, f);
            more = len >= 0;
            if (more) {
                lineno++;
                while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
                if (len == 0) continue;
                if (jsonl_item(path, lineno, line, (size_t)len, b, &vec, &veccap)) { status = 1; break; }
            }
        }
        if ((long)odx_batch_size(b) >= batch || (!more && odx_batch_size(b))) {
            int rc = odx_upsert(db, name, b);
            if (rc) { status = cli_fail_rc(rc, "put"); break; }
            n += (long long)odx_batch_size(b);
            odx_batch_clear(b);
            if (acks) { printf("acked %lld\n", n); fflush(stdout); }
            progress_update(&pg, (unsigned long long)n);
        }
        if (!more) break;
    }
    progress_end(&pg);
    double el = odx_now_mono() - pg.start;
    if (!g->quiet || status)
        printf("put: %lld items into '%s' in %.2f s (%.0f items/s)%s\n", n, name, el, el > 0 ? n / el : 0.0,
               status ? " before the error" : "");
    free(line);
    odx_free(vec);
    odx_batch_free(b);
    if (f != stdin) fclose(f);
    odx_db_close(db);
    return status;
}

/* ---- search ---- */

static const char *search_help =
    "usage: omnidex search NAME (--vector \"f,f,..\" | --fvecs QUERIES) [options]\n"
    "       omnidex search NAME PART... [options]     a multi-part query, parts weighted and fused:\n"
    "  --text STR | --image FILE | --audio FILE | --video FILE | --mesh FILE | --item ID | --vector V\n"
    "                    each may be followed by --weight W (default 1)\n"
    "  --k N             hits per query (1..1024, default 10)\n"
    "  --filter EXPR     e.g. 'label = \"sneaker\" AND price < 100 AND NOT (tag IN (\"a\",\"b\"))'\n"
    "  --param P=V       efSearch=N, nprobe=N (repeatable)\n"
    "  --modality M      only hits of this modality (repeatable)\n"
    "  --exact           brute force over the stored vectors\n"
    "  --gpu             search collections that opted in on a GPU (GPU=1 builds)\n"
    "  --meta            include metadata in --json output\n"
    "  --json            one line per query: {\"query\":i,\"hits\":[{\"id\":..,\"score\":s},...]}\n"
    "Scores: similarity for cosine/ip (higher is better), squared distance for l2.\n";

static int parse_vector(const char *s, float **out, int *dim)
{
    size_t cap = 16, n = 0;
    float *v = odx_malloc(cap * sizeof *v);
    if (!v) return -1;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        double x = strtod(p, &end);
        if (end == p || errno) { odx_free(v); return -1; }
        if (n == cap) {
            float *nv = odx_realloc(v, cap * 2 * sizeof *v);
            if (!nv) { odx_free(v); return -1; }
            v = nv;
            cap *= 2;
        }
        v[n++] = (float)x;
        p = end;
        while (*p == ' ') p++;
        if (*p == ',') p++;
        else if (*p) { odx_free(v); return -1; }
        if (n > ODX_MAX_DIM) { odx_free(v); return -1; }
    }
    if (!n) { odx_free(v); return -1; }
    *out = v;
    *dim = (int)n;
    return 0;
}

static void print_results(const odx_results *r, size_t base, int json, int meta)
{
    for (size_t q = 0; q < odx_results_nq(r); q++) {
        size_t n = odx_results_count(r, q);
        if (json) {
            char *b = NULL;
            size_t len = 0, cap = 0;
            odx_buf_printf(&b, &len, &cap, "{\"query\":%zu,\"hits\":[", base + q);
            for (size_t i = 0; i < n; i++) {
                const char *id = odx_results_id(r, q, i);
                odx_buf_append(&b, &len, &cap, i ? ",{\"id\":" : "{\"id\":", i ? 7 : 6);
                odx_json_append_string(&b, &len, &cap, id, strlen(id));
                odx_buf_printf(&b, &len, &cap, ",\"score\":%.6g", odx_results_score(r, q, i));
                if (meta) {
                    char *mj = NULL;
                    odx_buf_printf(&b, &len, &cap, ",\"modality\":\"%s\"", odx_modality_name(odx_results_modality(r, q, i)));
                    if (odx_results_meta(r, q, i) && !odx_meta_to_json(odx_results_meta(r, q, i), &mj)) {
                        odx_buf_append(&b, &len, &cap, ",\"metadata\":", 12);
                        odx_buf_append(&b, &len, &cap, mj, strlen(mj));
                        odx_free(mj);
                    }
                }
                odx_buf_append(&b, &len, &cap, "}", 1);
            }
            odx_buf_append(&b, &len, &cap, "]}", 2);
            if (b) puts(b);
            odx_free(b);
        } else {
            printf("query %zu: %zu hit%s\n", base + q, n, n == 1 ? "" : "s");
            for (size_t i = 0; i < n; i++) {
                char *mj = NULL;
                if (odx_results_meta(r, q, i)) odx_meta_to_json(odx_results_meta(r, q, i), &mj);
                printf("  %3zu. %-24s %10.6f  %s\n", i + 1, odx_results_id(r, q, i), odx_results_score(r, q, i),
                       mj && strcmp(mj, "{}") ? mj : "");
                odx_free(mj);
            }
        }
    }
}

struct qpart {
    const char *kind, *value;
    float weight;
};

/* Builds and runs a multi-part query (text, media files, item ids, vectors). */
static int search_parts(odx_db *db, const char *name, const struct qpart *parts, int n, const odx_search_params *p,
                        int json, int meta)
{
    odx_query *q;
    int rc = odx_query_new(&q), status = 0;
    for (int i = 0; i < n && !rc && !status; i++) {
        const struct qpart *pt = &parts[i];
        if (!strcmp(pt->kind, "text")) {
            rc = odx_query_add_payload(q, ODX_MODALITY_TEXT, pt->value, strlen(pt->value), NULL, pt->weight);
        } else if (!strcmp(pt->kind, "item")) {
            rc = odx_query_add_item(q, pt->value, pt->weight);
        } else if (!strcmp(pt->kind, "vector")) {
            float *v;
            int dim;
            if (parse_vector(pt->value, &v, &dim)) { status = cli_fail("--vector: expected comma-separated numbers"); break; }
            rc = odx_query_add_vector(q, v, dim, pt->weight);
            odx_free(v);
        } else {
            void *data;
            size_t len;
            odx_modality m, want;
            odx_modality_parse(pt->kind, &want);
            if (strstr(pt->value, "://")) { /* fetched by the engine (or the server) under its URL policy */
                rc = odx_query_add_payload(q, want, NULL, 0, pt->value, pt->weight);
                continue;
            }
            if (cli_read_file(pt->value, &data, &len)) { status = 1; break; }
            if (cli_media_modality(pt->value, data, len, pt->kind, &m)) status = 1;
            else rc = odx_query_add_payload(q, m, data, len, NULL, pt->weight);
            odx_free(data);
        }
    }
    if (rc && !status) status = cli_fail_rc(rc, "search");
    if (!status) {
        odx_results *r;
        if ((rc = odx_search_query(db, name, q, p, &r))) status = cli_fail_rc(rc, "search");
        else { print_results(r, 0, json, meta); odx_results_free(r); }
    }
    odx_query_free(q);
    return status;
}

int cmd_search(const struct cli *g, int argc, char **argv)
{
    const char *name = NULL, *vector = NULL, *fvecs = NULL, *filter = NULL;
    struct qpart parts[16];
    int nparts = 0;
    int json = 0, meta = 0, gpu = 0, rc;
    odx_search_params *p;
    odx_search_params_new(&p);
    unsigned mods = 0;
    int status = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long x;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(search_help, stdout); odx_search_params_free(p); return 0; }
        if ((!strcmp(a, "--vector") || !strcmp(a, "--text") || !strcmp(a, "--image") || !strcmp(a, "--audio") ||
             !strcmp(a, "--video") || !strcmp(a, "--mesh") || !strcmp(a, "--item")) && v) {
            if (nparts == 16) { status = cli_usage("search", "at most 16 query parts"); goto done; }
            parts[nparts++] = (struct qpart){a + 2, v, 1.0f};
            if (!strcmp(a, "--vector")) vector = v;
            i++;
        } else if (!strcmp(a, "--weight") && v) {
            char *end;
            float w = strtof(v, &end);
            if (!nparts || *end || !isfinite(w)) { status = cli_usage("search", "--weight W follows a query part"); goto done; }
            parts[nparts - 1].weight = w;
            i++;
        }
        else if (!strcmp(a, "--fvecs") && v) { fvecs = v; i++; }
        else if (!strcmp(a, "--k") && v) {
            if (cli_parse_int(v, 1, ODX_MAX_K, &x)) { status = cli_usage("search", "--k must be 1..%d, got '%s'", ODX_MAX_K, v); goto done; }
            odx_search_params_set_k(p, (int)x);
            i++;
        } else if (!strcmp(a, "--filter") && v) { filter = v; i++; }
        else if (!strcmp(a, "--param") && v) {
            if (odx_search_params_set(p, v)) { status = cli_usage("search", "%s", odx_last_error()); goto done; }
            i++;
        } else if (!strcmp(a, "--modality") && v) {
            odx_modality m;
            if (odx_modality_parse(v, &m)) { status = cli_usage("search", "%s", odx_last_error()); goto done; }
            mods |= 1u << m;
            i++;
        } else if (!strcmp(a, "--exact")) odx_search_params_set_exact(p, 1);
        else if (!strcmp(a, "--gpu")) gpu = 1;
        else if (!strcmp(a, "--meta")) meta = 1;
        else if (!strcmp(a, "--json")) json = 1;
        else if (a[0] == '-') { status = cli_usage("search", "unknown or incomplete option '%s'", a); goto done; }
        else if (!name) name = a;
        else { status = cli_usage("search", "unexpected argument '%s'", a); goto done; }
    }
    if (!name) { status = cli_usage("search", "needs a collection NAME"); goto done; }
    if (!nparts && !fvecs) { status = cli_usage("search", "needs a query: --vector, --fvecs, --text, --image, --item ..."); goto done; }
    if (nparts && fvecs) { status = cli_usage("search", "--fvecs cannot be combined with other query parts"); goto done; }
    int multi = nparts > 1 || (nparts == 1 && !vector);
    odx_filter *f = NULL;
    if (filter && (rc = odx_filter_parse(filter, &f))) { status = cli_fail("%s", odx_last_error()); goto done; }
    odx_search_params_set_filter(p, f);
    odx_search_params_set_modalities(p, mods);
    odx_search_params_set_with_meta(p, meta || !json);
    odx_db *db;
    if (gpu && !g->server) {
        if ((rc = odx_db_open(g->data, ODX_OPEN_READONLY | ODX_OPEN_GPU, &db))) {
            odx_filter_free(f);
            status = cli_fail_rc(rc, "--gpu");
            goto done;
        }
    } else if (cli_open(g, 0, &db)) { odx_filter_free(f); status = 1; goto done; }
    float *q = NULL;
    int dim = 0;
    double t0 = odx_now_mono();
    size_t nq = 0;
    if (multi) {
        status = search_parts(db, name, parts, nparts, p, json, meta);
    } else if (vector) {
        if (parse_vector(vector, &q, &dim)) status = cli_fail("--vector: expected comma-separated numbers");
        else {
            odx_results *r;
            if ((rc = odx_search(db, name, q, 1, dim, p, &r))) status = cli_fail_rc(rc, "search");
            else { print_results(r, 0, json, meta); odx_results_free(r); nq = 1; }
        }
    } else {
        FILE *fq = fopen(fvecs, "rb");
        if (!fq) status = cli_fail("cannot open %s: %s", fvecs, strerror(errno));
        /* Queries go in chunks so huge query files stream. */
        size_t chunk = 1024, have = 0;
        float *one = NULL;
        while (fq && !status) {
            int more = fvecs_next(fq, fvecs, (long)(nq + have), &one, &dim);
            if (more < 0) { status = 1; break; }
            if (more) {
                if (!q && !(q = odx_malloc(chunk * (size_t)dim * sizeof *q))) { status = cli_fail("out of memory"); break; }
                memcpy(q + have * dim, one, (size_t)dim * sizeof *q);
                have++;
            }
            if (have == chunk || (!more && have)) {
                odx_results *r;
                if ((rc = odx_search(db, name, q, have, dim, p, &r))) { status = cli_fail_rc(rc, "search"); break; }
                print_results(r, nq, json, meta);
                odx_results_free(r);
                nq += have;
                have = 0;
            }
            if (!more) break;
        }
        odx_free(one);
        if (fq) fclose(fq);
    }
    double el = odx_now_mono() - t0;
    if (!status && fvecs && !g->quiet)
        fprintf(stderr, "search: %zu queries in %.3f s (%.0f queries/s)\n", nq, el, el > 0 ? nq / el : 0.0);
    odx_free(q);
    odx_filter_free(f);
    odx_db_close(db);
done:
    odx_search_params_free(p);
    return status;
}

/* ---- get, delete ---- */

int cmd_get(const struct cli *g, int argc, char **argv)
{
    const char *name = NULL, *id = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--help")) { puts("usage: omnidex get NAME ID [--json]"); return 0; }
        else if (argv[i][0] == '-' && argv[i][1] == '-') return cli_usage("get", "unknown option '%s'", argv[i]);
        else if (!name) name = argv[i];
        else if (!id) id = argv[i];
        else return cli_usage("get", "unexpected argument '%s'", argv[i]);
    }
    if (!name || !id) return cli_usage("get", "needs NAME and ID");
    odx_db *db;
    if (cli_open(g, 0, &db)) return 1;
    odx_record *r;
    int rc = odx_get(db, name, id, &r), status = 0;
    if (rc) status = cli_fail_rc(rc, "get");
    else {
        int dim;
        const float *v = odx_record_vector(r, &dim);
        char *mj = NULL, *b = NULL;
        size_t len = 0, cap = 0;
        odx_meta_to_json(odx_record_meta(r), &mj);
        if (json) {
            odx_buf_append(&b, &len, &cap, "{\"id\":", 6);
            odx_json_append_string(&b, &len, &cap, odx_record_id(r), strlen(odx_record_id(r)));
            odx_buf_printf(&b, &len, &cap, ",\"modality\":\"%s\",\"metadata\":", odx_modality_name(odx_record_modality(r)));
            odx_buf_append(&b, &len, &cap, mj, strlen(mj));
            odx_buf_append(&b, &len, &cap, ",\"source\":", 10);
            odx_json_append_string(&b, &len, &cap, odx_record_source(r), strlen(odx_record_source(r)));
            odx_buf_printf(&b, &len, &cap, ",\"created\":%lld,\"updated\":%lld,\"vector\":[",
                           (long long)odx_record_created(r), (long long)odx_record_updated(r));
            for (int i = 0; i < dim; i++) odx_buf_printf(&b, &len, &cap, "%s%.9g", i ? "," : "", v[i]);
            odx_buf_append(&b, &len, &cap, "]}", 2);
            puts(b);
        } else {
            printf("id        %s\nmodality  %s\nmetadata  %s\nsource    %s\nvector    [", odx_record_id(r),
                   odx_modality_name(odx_record_modality(r)), mj, odx_record_source(r));
            for (int i = 0; i < dim && i < 8; i++) printf("%s%.6g", i ? ", " : "", v[i]);
            printf("%s] (dim %d)\n", dim > 8 ? ", ..." : "", dim);
        }
        odx_free(b);
        odx_free(mj);
        odx_record_free(r);
    }
    odx_db_close(db);
    return status;
}

static const char delete_help[] =
    "usage: omnidex delete NAME ID...\n"
    "Deletes the items with these ids. Delete is idempotent, like gRPC Delete: an id that\n"
    "does not exist is not an error. Prints \"deleted N of M\" and, for up to 100 ids, which\n"
    "were not found (\"; not found: ID, ...\"). Exit status 0 whether or not every id existed;\n"
    "1 for an unknown collection or a failed write (nothing is deleted then).\n";

/* Idempotent, as gRPC Delete: a retried delete (after a timeout, a crash)
 * must not turn into an error, and "is it gone?" is answered by success.
 * Which ids were missing is worth telling a person, so a short list is
 * looked up first (informative only: a concurrent writer may change it). */
int cmd_delete(const struct cli *g, int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "--help")) { fputs(delete_help, stdout); return 0; }
    if (argc < 3) return cli_usage("delete", "needs NAME and at least one ID");
    const char *name = argv[1];
    odx_db *db;
    if (cli_open(g, 1, &db)) return 1;
    size_t deleted = 0, n = (size_t)(argc - 2), nmissing = 0;
    char **ids = argv + 2;
    unsigned char missing[100] = {0};
    for (size_t i = 0; i < n && n <= sizeof missing; i++) {
        odx_record *r = NULL;
        int grc = odx_get(db, name, ids[i], &r);
        if (grc == ODX_ENOTFOUND && r == NULL) missing[i] = 1, nmissing++;
        odx_record_free(r);
    }
    int rc = odx_delete(db, name, (const char *const *)ids, n, &deleted), status = 0;
    if (rc) status = cli_fail_rc(rc, "delete");
    else if (!g->quiet) {
        printf("deleted %zu of %zu", deleted, n);
        if (deleted < n && nmissing == n - deleted) {
            fputs("; not found: ", stdout);
            for (size_t i = 0, k = 0; i < n; i++)
                if (missing[i]) printf("%s%s", k++ ? ", " : "", ids[i]);
        } else if (deleted < n) {
            printf("; %zu not found", n - deleted);
        }
        putchar('\n');
    }
    odx_db_close(db);
    return status;
}
