/* omnidex demo: cross-modal retrieval measured by the engine.
 *
 * Reads a demo corpus directory (tools/omni_tiny/demo_corpus.py writes it):
 *   manifest.jsonl  {"path", "modality", "label", "class_name"} per corpus file
 *   queries.jsonl   {"pair": "text->image", "label", "target_modality",
 *                    "parts": [{"modality": "text", "text": ".."} | {"modality": "audio", "path": ".."}]}
 * The corpus must have been ingested into the collection with
 * `omnidex ingest COLLECTION CORPUS/images CORPUS/audio ...`, whose ids
 * (images/x.png: the directory's name, then the path below it) are the
 * manifest's paths. Each query is run
 * as a multi-part search restricted to its target modality; P@k is the
 * fraction of the top k whose manifest label is the query's label. */
#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "omnidex_util.h"

#define DEMO_MAX_LINE (1u << 20)
#define DEMO_MAX_PAIRS 32

struct entry {
    char *id, *label;
};

struct pair_stat {
    char name[64];
    double sum;
    int n;
    char example[1024]; /* the first query's top hits, for the table */
};

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->id, ((const struct entry *)b)->id);
}

/* A JSON label (string or number) as text. */
static void label_text(const cJSON *v, char *buf, size_t cap)
{
    if (cJSON_IsString(v)) snprintf(buf, cap, "%s", v->valuestring);
    else if (cJSON_IsNumber(v)) snprintf(buf, cap, "%.17g", v->valuedouble);
    else snprintf(buf, cap, "?");
}

/* Calls fn on each JSON object line of path; stops on fn's non-zero. */
static int each_line(const char *path, int (*fn)(const cJSON *, void *), void *ud)
{
    FILE *f = fopen(path, "r");
    if (!f) return cli_fail("%s: cannot open (is the demo corpus built? make demo builds it)", path);
    char *line = odx_malloc(DEMO_MAX_LINE);
    int rc = line ? 0 : cli_fail("out of memory"), lineno = 0;
    while (!rc && fgets(line, DEMO_MAX_LINE, f)) {
        lineno++;
        if (line[strspn(line, " \t\r\n")] == 0) continue;
        cJSON *o = cJSON_Parse(line);
        if (!cJSON_IsObject(o)) rc = cli_fail("%s:%d: not a JSON object", path, lineno);
        else rc = fn(o, ud);
        cJSON_Delete(o);
    }
    odx_free(line);
    fclose(f);
    return rc;
}

struct manifest {
    const char *dir;
    struct entry *e;
    size_t n, cap;
};

static int add_entry(const cJSON *o, void *ud)
{
    struct manifest *m = ud;
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "path");
    if (!cJSON_IsString(p)) return cli_fail("manifest line without a path");
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 1024;
        struct entry *ne = odx_realloc(m->e, cap * sizeof *ne);
        if (!ne) return cli_fail("out of memory");
        m->e = ne;
        m->cap = cap;
    }
    char label[256];
    const char *id = p->valuestring; /* ingest's id for corpus/DIR/file is DIR/file */
    label_text(cJSON_GetObjectItemCaseSensitive(o, "label"), label, sizeof label);
    m->e[m->n].id = odx_strdup(id);
    m->e[m->n].label = odx_strdup(label);
    if (!m->e[m->n].id || !m->e[m->n].label) return cli_fail("out of memory");
    m->n++;
    return 0;
}

struct run {
    odx_db *db;
    const char *coll, *dir;
    struct manifest *man;
    int k, json;
    struct pair_stat pairs[DEMO_MAX_PAIRS];
    int npairs, queries, failed;
    FILE *html;
};

static const char *label_of(const struct manifest *m, const char *id)
{
    struct entry key = {(char *)id, NULL};
    const struct entry *e = bsearch(&key, m->e, m->n, sizeof *m->e, entry_cmp);
    return e ? e->label : NULL;
}

static struct pair_stat *pair_get(struct run *r, const char *name)
{
    for (int i = 0; i < r->npairs; i++)
        if (!strcmp(r->pairs[i].name, name)) return &r->pairs[i];
    if (r->npairs == DEMO_MAX_PAIRS) return NULL;
    struct pair_stat *p = &r->pairs[r->npairs++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    return p;
}

static void html_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else if (*s == '"') fputs("&quot;", f);
        else fputc(*s, f);
    }
}

/* Builds one query's parts; desc receives a short description of them. */
static int build_query(struct run *r, const cJSON *parts, odx_query *q, char *desc, size_t cap)
{
    size_t used = 0;
    desc[0] = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, parts) {
        const cJSON *mod = cJSON_GetObjectItemCaseSensitive(p, "modality");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(p, "text");
        const cJSON *path = cJSON_GetObjectItemCaseSensitive(p, "path");
        odx_modality m;
        if (!cJSON_IsString(mod) || odx_modality_parse(mod->valuestring, &m))
            return cli_fail("query part without a known modality");
        int rc;
        if (m == ODX_MODALITY_TEXT && cJSON_IsString(text)) {
            rc = odx_query_add_payload(q, m, text->valuestring, strlen(text->valuestring), NULL, 1.0f);
            used += (size_t)snprintf(desc + used, used < cap ? cap - used : 0, "%s\"%s\"", used ? " + " : "",
                                     text->valuestring);
        } else if (cJSON_IsString(path)) {
            char full[PATH_MAX];
            void *data;
            size_t len;
            snprintf(full, sizeof full, "%s/%s", r->dir, path->valuestring);
            if (cli_read_file(full, &data, &len)) return 1;
            rc = odx_query_add_payload(q, m, data, len, NULL, 1.0f);
            odx_free(data);
            used += (size_t)snprintf(desc + used, used < cap ? cap - used : 0, "%s%s %s", used ? " + " : "",
                                     mod->valuestring, path->valuestring);
        } else {
            return cli_fail("query part needs text or a path");
        }
        if (rc) return cli_fail_rc(rc, "demo query");
    }
    return 0;
}

static int run_query(const cJSON *o, void *ud)
{
    struct run *r = ud;
    const cJSON *pair = cJSON_GetObjectItemCaseSensitive(o, "pair");
    const cJSON *parts = cJSON_GetObjectItemCaseSensitive(o, "parts");
    const cJSON *target = cJSON_GetObjectItemCaseSensitive(o, "target_modality");
    char want[256];
    label_text(cJSON_GetObjectItemCaseSensitive(o, "label"), want, sizeof want);
    odx_modality tm;
    if (!cJSON_IsString(pair) || !cJSON_IsArray(parts) || !cJSON_IsString(target) ||
        odx_modality_parse(target->valuestring, &tm))
        return cli_fail("query line needs pair, parts and target_modality");
    struct pair_stat *ps = pair_get(r, pair->valuestring);
    if (!ps) return cli_fail("more than %d query pairs", DEMO_MAX_PAIRS);
    odx_query *q = NULL;
    odx_search_params *sp = NULL;
    odx_results *res = NULL;
    char desc[512];
    int rc = odx_query_new(&q), status = 0;
    if (!rc) rc = odx_search_params_new(&sp);
    if (rc) return cli_fail_rc(rc, "demo");
    odx_search_params_set_k(sp, r->k);
    odx_search_params_set_modalities(sp, 1u << tm);
    status = build_query(r, parts, q, desc, sizeof desc);
    if (!status && (rc = odx_search_query(r->db, r->coll, q, sp, &res))) {
        status = cli_fail_rc(rc, desc);
    }
    if (!status) {
        size_t n = odx_results_count(res, 0), hit = 0;
        for (size_t i = 0; i < n; i++) {
            const char *l = label_of(r->man, odx_results_id(res, 0, i));
            if (l && !strcmp(l, want)) hit++;
        }
        ps->sum += (double)hit / r->k;
        ps->n++;
        r->queries++;
        if (!ps->example[0]) {
            size_t u = (size_t)snprintf(ps->example, sizeof ps->example, "%s [%s] ->", desc, want);
            for (size_t i = 0; i < n && i < 3 && u < sizeof ps->example; i++) {
                const char *id = odx_results_id(res, 0, i), *base = strrchr(id, '/');
                const char *l = label_of(r->man, id);
                u += (size_t)snprintf(ps->example + u, sizeof ps->example - u, " %s%s", base ? base + 1 : id,
                                      l && !strcmp(l, want) ? " (ok)" : " (miss)");
            }
        }
        if (r->html && tm == ODX_MODALITY_IMAGE) {
            fprintf(r->html, "<tr><td><b>%s</b><br>", pair->valuestring);
            html_escape(r->html, desc);
            fprintf(r->html, "<br>P@%d = %.2f</td><td>", r->k, (double)hit / r->k);
            for (size_t i = 0; i < n; i++) {
                const char *id = odx_results_id(res, 0, i), *l = label_of(r->man, id);
                char path[PATH_MAX], real[PATH_MAX];
                snprintf(path, sizeof path, "%s/%s", r->dir, id);
                fprintf(r->html, "<img src=\"file://");
                html_escape(r->html, realpath(path, real) ? real : path);
                fprintf(r->html, "\" class=\"%s\" title=\"", l && !strcmp(l, want) ? "ok" : "miss");
                html_escape(r->html, id);
                fprintf(r->html, " %.3f\">", odx_results_score(res, 0, i));
            }
            fprintf(r->html, "</td></tr>\n");
        }
    } else {
        r->failed++;
    }
    odx_results_free(res);
    odx_search_params_free(sp);
    odx_query_free(q);
    return status;
}

int cmd_demo(const struct cli *g, int argc, char **argv)
{
    const char *corpus = "demo/out/corpus", *coll = "demo", *html = NULL;
    long k = 10;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help")) {
            puts("usage: omnidex demo [--corpus DIR] [--collection NAME] [--k 10] [--html FILE] [--json]\n"
                 "Runs the demo corpus's cross-modal queries (DIR/queries.jsonl) against COLLECTION, into which\n"
                 "DIR was ingested ('make demo' builds, ingests and runs it), and reports P@k per pair: the\n"
                 "fraction of the top k hits whose label (DIR/manifest.jsonl) is the query's. --json prints one\n"
                 "object {\"text->image\": P, ...}; --html writes a contact sheet of the image results.\n"
                 "Defaults: --corpus demo/out/corpus --collection demo --k 10.");
            return 0;
        }
        if (!strcmp(a, "--corpus") && v) { corpus = v; i++; }
        else if (!strcmp(a, "--collection") && v) { coll = v; i++; }
        else if (!strcmp(a, "--html") && v) { html = v; i++; }
        else if (!strcmp(a, "--k") && v) {
            if (cli_parse_int(v, 1, ODX_MAX_K, &k)) return cli_usage("demo", "--k wants 1..%d", ODX_MAX_K);
            i++;
        } else if (!strcmp(a, "--json")) json = 1;
        else return cli_usage("demo", "unknown or incomplete option '%s'", a);
    }
    char path[PATH_MAX];
    struct manifest man = {corpus, NULL, 0, 0};
    snprintf(path, sizeof path, "%s/manifest.jsonl", corpus);
    int status = each_line(path, add_entry, &man);
    if (!status) qsort(man.e, man.n, sizeof *man.e, entry_cmp);
    struct run r;
    memset(&r, 0, sizeof r);
    r.coll = coll;
    r.dir = corpus;
    r.man = &man;
    r.k = (int)k;
    r.json = json;
    if (!status && html && !(r.html = fopen(html, "w"))) status = cli_fail("%s: cannot write", html);
    if (r.html)
        fprintf(r.html, "<!doctype html><meta charset=\"utf-8\"><title>omnidex demo</title>\n<style>"
                        "body{font-family:sans-serif} img{width:56px;height:56px;margin:2px;image-rendering:pixelated}"
                        " img.ok{border:3px solid #2a2} img.miss{border:3px solid #c22} td{vertical-align:top;"
                        "padding:4px}</style>\n<h1>omnidex demo: image results</h1>\n<p>green: the query's class, "
                        "red: another class.</p><table>\n");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (!status) status = cli_open(g, 0, &r.db);
    if (!status) {
        snprintf(path, sizeof path, "%s/queries.jsonl", corpus);
        status = each_line(path, run_query, &r);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double el = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (r.html) {
        fprintf(r.html, "</table>\n");
        fclose(r.html);
    }
    if (!status && json) {
        printf("{");
        for (int i = 0; i < r.npairs; i++)
            printf("%s\"%s\": %.4f", i ? ", " : "", r.pairs[i].name, r.pairs[i].sum / r.pairs[i].n);
        printf("}\n");
    } else if (!status) {
        printf("%-20s %8s %8s\n", "pair", "queries", "P@k");
        for (int i = 0; i < r.npairs; i++)
            printf("%-20s %8d %8.3f\n", r.pairs[i].name, r.pairs[i].n, r.pairs[i].sum / r.pairs[i].n);
        printf("\n%d queries (k = %ld) in %.2f s, %.1f queries/s, embedding included\n\nexamples (top 3):\n",
               r.queries, k, el, el > 0 ? r.queries / el : 0.0);
        for (int i = 0; i < r.npairs; i++) printf("  %-18s %s\n", r.pairs[i].name, r.pairs[i].example);
        if (html) printf("\ncontact sheet: %s\n", html);
    }
    odx_db_close(r.db);
    for (size_t i = 0; i < man.n; i++) {
        odx_free(man.e[i].id);
        odx_free(man.e[i].label);
    }
    odx_free(man.e);
    return status;
}
