/* omnidex embed | models, and reading media files for the commands that
 * embed them. Files are read whole (capped) and their modality sniffed by
 * odx_media_sniff, the decoders' own detection, so a misnamed file still
 * goes to the right encoder and a flag that names another modality gets an
 * error that names the format found. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "omnidex_util.h"
#include "omnidex_embed.h"

#define MAX_FILE (256u << 20)

int cli_read_file(const char *path, void **data, size_t *len)
{
    char *b;
    if (odx_read_file(path, MAX_FILE, &b, len)) return cli_fail("%s", odx_last_error());
    *data = b;
    return 0;
}

int cli_media_modality(const char *path, const void *data, size_t len, const char *want, odx_modality *m)
{
    odx_modality found;
    unsigned mask;
    const char *fmt;
    if (odx_media_sniff(data, len, &found, &mask, &fmt))
        return cli_fail("%s: %s, not a format omnidex can embed", path, odx_last_error());
    if (!want) { *m = found; return 0; }
    odx_modality w;
    if (odx_modality_parse(want, &w) || !(mask & (1u << w)))
        return cli_fail("%s: given as --%s but holds %s data (%s)", path, want, fmt, odx_modality_name(found));
    *m = w;
    return 0;
}

/* A space seen by the models command: opened here from the models path, or
 * the server's (omnidex --server), whose encoders run there. */
struct space_view {
    odx_space *s; /* local */
    odx_db *db;   /* client mode */
    const char *name;
    int dim;
    unsigned mask;
};

static int view_embed(struct space_view *sv, odx_modality m, const void *data, size_t len, float *out)
{
    if (sv->s) return odx_space_embed(sv->s, m, &data, &len, 1, out);
    float *v = NULL;
    int dim = 0, rc = odx_embed(sv->db, sv->name, m, data, len, NULL, &v, &dim);
    if (!rc && dim != sv->dim)
        rc = odx_error(ODX_ECORRUPT, "the server's %s vector has %d values, not %d", odx_modality_name(m), dim, sv->dim);
    if (!rc) memcpy(out, v, (size_t)dim * sizeof *out);
    odx_free(v);
    return rc;
}

/* ---- embed ---- */

int cmd_embed(const struct cli *g, int argc, char **argv)
{
    const char *model = NULL, *space = NULL, *text = NULL, *file = NULL, *want = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help")) {
            puts("usage: omnidex embed (--model DIR | --space NAME) (--text STR | --file FILE) [--json]\n"
                 "  --file FILE       the modality is sniffed from the content (JPEG PNG WebP GIF BMP | WAV FLAC\n"
                 "                    Ogg MP3 | MP4 MOV WebM MKV, animated GIF | PLY OBJ OFF STL glTF GLB | UTF-8 text)\n"
                 "  --image/--audio/--video/--mesh FILE   the same, and the file must hold that modality (a GIF\n"
                 "                    is an image or a video); another one is an error naming the format found\n"
                 "Prints the L2-normalised embedding: {\"modality\":..,\"dim\":..,\"vector\":[..]}");
            return 0;
        }
        if (!strcmp(a, "--model") && v) { model = v; i++; }
        else if (!strcmp(a, "--space") && v) { space = v; i++; }
        else if (!strcmp(a, "--text") && v) { text = v; i++; }
        else if (!strcmp(a, "--file") && v) { file = v; want = NULL; i++; }
        else if ((!strcmp(a, "--image") || !strcmp(a, "--audio") || !strcmp(a, "--video") || !strcmp(a, "--mesh")) && v) {
            file = v;
            want = a + 2;
            i++;
        }
        else if (!strcmp(a, "--json")) json = 1;
        else return cli_usage("embed", "unknown or incomplete option '%s'", a);
    }
    if (!!model == !!space) return cli_usage("embed", "needs exactly one of --model DIR or --space NAME");
    if (!!text == !!file) return cli_usage("embed", "needs exactly one of --text or --file FILE");
    if (g->server && model) return cli_usage("embed", "--model DIR names a local directory; with --server use --space NAME");
    struct space_view sv = {NULL, NULL, space, 0, 0};
    int rc;
    if (g->server) {
        /* The server embeds: no weights needed here. */
        if (cli_open(g, 0, &sv.db)) return 1;
        rc = odx_space_info(sv.db, space, &sv.dim, &sv.mask);
    } else {
        rc = model ? odx_space_open(model, &sv.s) : odx_space_open_name(space, &sv.s);
        if (!rc) sv.dim = odx_space_dim(sv.s);
    }
    if (rc) {
        odx_db_close(sv.db);
        return cli_fail_rc(rc, "embed");
    }
    void *data = (void *)text;
    size_t len = text ? strlen(text) : 0;
    odx_modality m = ODX_MODALITY_TEXT;
    int status = 0;
    if (file) {
        if (cli_read_file(file, &data, &len)) { odx_space_close(sv.s); odx_db_close(sv.db); return 1; }
        if (cli_media_modality(file, data, len, want, &m)) {
            odx_free(data);
            odx_space_close(sv.s);
            odx_db_close(sv.db);
            return 1;
        }
    }
    int dim = sv.dim;
    float *v = odx_malloc((size_t)dim * sizeof *v);
    if (!v) status = cli_fail("out of memory");
    else if ((rc = view_embed(&sv, m, data, len, v))) status = cli_fail_rc(rc, file ? file : "embed");
    else {
        if (json) printf("{\"modality\":\"%s\",\"dim\":%d,\"vector\":[", odx_modality_name(m), dim);
        else printf("%s, %d dimensions:\n", odx_modality_name(m), dim);
        for (int i = 0; i < dim; i++) printf(json ? (i ? ",%.9g" : "%.9g") : (i ? " %.6g" : "%.6g"), v[i]);
        printf(json ? "]}\n" : "\n");
    }
    odx_free(v);
    if (file) odx_free(data);
    odx_space_close(sv.s);
    odx_db_close(sv.db);
    return status;
}

/* ---- models ---- */

struct pull_progress {
    struct progress pg;
    char file[256];
};

static void pull_progress_cb(const char *file, uint64_t done, uint64_t total, void *ud)
{
    struct pull_progress *pp = ud;
    if (strcmp(pp->file, file)) {
        if (pp->file[0]) progress_end(&pp->pg);
        snprintf(pp->file, sizeof pp->file, "%s", file);
        progress_start(&pp->pg, pp->file, total);
    }
    pp->pg.total = total;
    progress_update(&pp->pg, done);
}

static int models_pull(const struct cli *g, int argc, char **argv)
{
    const char *repo = NULL, *hub = NULL, *rev = NULL, *name = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--hub") && v) { hub = v; i++; }
        else if (!strcmp(a, "--revision") && v) { rev = v; i++; }
        else if (!strcmp(a, "--name") && v) { name = v; i++; }
        else if (a[0] == '-') return cli_usage("models", "unknown or incomplete option '%s'", a);
        else if (!repo) repo = a;
        else return cli_usage("models", "unexpected argument '%s'", a);
    }
    if (!repo) return cli_usage("models", "pull needs a REPO (owner/name)");
    if (!name) {
        const char *slash = strrchr(repo, '/');
        name = slash ? slash + 1 : repo;
    }
    if (!odx_models_name_ok(name)) return cli_fail("'%s' is not a usable space name (use --name)", name);
    char dir[1024], dest[1400];
    odx_models_dir(dir, sizeof dir);
    snprintf(dest, sizeof dest, "%s/%s", dir, name);
    /* The models directory itself may not exist yet. */
    char parent[1024];
    snprintf(parent, sizeof parent, "%s", dir);
    for (char *p = parent + 1; *p; p++)
        if (*p == '/') { *p = 0; mkdir(parent, 0755); *p = '/'; }
    mkdir(parent, 0755);
    struct pull_progress pp;
    memset(&pp, 0, sizeof pp);
    double t0 = odx_now_mono();
    int rc = odx_models_pull(repo, dest, hub, rev, pull_progress_cb, &pp);
    if (pp.file[0]) progress_end(&pp.pg);
    if (rc) return cli_fail_rc(rc, "models pull");
    odx_space *s;
    if ((rc = odx_space_open(dest, &s))) return cli_fail_rc(rc, "models pull: the downloaded model does not open");
    if (!g->quiet)
        printf("pulled %s into %s in %.1f s: space '%s', %d dimensions\n", repo, dest, odx_now_mono() - t0, name,
               odx_space_dim(s));
    odx_space_close(s);
    return 0;
}

static const char models_usage[] =
    "usage: omnidex models list [--json]\n"
    "       omnidex models info NAME [--json]\n"
    "       omnidex models verify NAME [--json]\n"
    "       omnidex models pull REPO [--revision R] [--hub URL] [--name NAME]\n"
    "\n"
    "  list     the installed spaces, from every directory of the search path\n"
    "  info     a space's dimension, modalities and directory\n"
    "  verify   loads every tensor, then embeds one sample per modality the space has (a text,\n"
    "           a BMP image, a WAV clip, an animated GIF video, an OFF mesh) end to end and\n"
    "           checks each vector is finite and unit-norm; exit 1 when any tower fails\n"
    "  pull     download a Hugging Face-layout model ({hub}/{repo}/resolve/{rev}/{file}; hub from\n"
    "           --hub, $OMNIDEX_HUB or huggingface.co), resumable, checksummed, into the first\n"
    "           directory of the search path\n"
    "\n"
    "Search path: $OMNIDEX_MODELS (directories separated by ':'); when unset,\n"
    "~/.omnidex/models, then the spaces shipped with omnidex (<bin>/../share/omnidex/models,\n"
    "laid out by 'make install'), /usr/local/share/omnidex/models, /usr/share/omnidex/models.\n"
    "The first directory holding a space of the name wins.\n";

/* ,"key":"value" with value escaped as JSON (through the metadata writer). */
static void print_json_string_member(const char *key, const char *val)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    if (!odx_json_append_string(&buf, &len, &cap, val, strlen(val))) printf(",\"%s\":%s", key, buf);
    odx_free(buf);
}

/* models verify: one sample per modality the space has, end to end. */
static int models_verify(const struct cli *g, struct space_view *sv, int json)
{
    int status = 0, first = 1;
    float *v = odx_malloc((size_t)sv->dim * sizeof *v);
    if (!v) return cli_fail("out of memory");
    if (json) printf("{\"name\":\"%s\",\"towers\":[", sv->name);
    for (int m = 1; m < ODX_MODALITY_COUNT; m++) {
        if (!(sv->mask & (1u << m))) continue;
        double t0 = odx_now_mono();
        unsigned char *sample;
        size_t len;
        int rc = odx_space_sample((odx_modality)m, &sample, &len);
        if (!rc) {
            rc = view_embed(sv, (odx_modality)m, sample, len, v);
            odx_free(sample);
        }
        if (!rc) rc = odx_space_check_vector(sv->name, (odx_modality)m, v, sv->dim);
        double ms = (odx_now_mono() - t0) * 1e3;
        const char *mn = odx_modality_name((odx_modality)m), *what = odx_space_verify_sample_name((odx_modality)m);
        if (json) {
            printf("%s{\"modality\":\"%s\",\"ok\":%s,\"ms\":%.1f", first ? "" : ",", mn, rc ? "false" : "true", ms);
            if (rc) print_json_string_member("error", odx_last_error());
            printf("}");
            first = 0;
        } else if (rc) {
            cli_fail("verify %s (%s): %s", mn, what, odx_last_error());
        } else if (!g->quiet) {
            printf("verify: %-5s ok (%s, %.0f ms)\n", mn, what, ms);
        }
        if (rc) status = 1;
    }
    if (json) printf("],\"ok\":%s}\n", status ? "false" : "true");
    odx_free(v);
    return status;
}

static int models_info(const struct cli *g, struct space_view *sv, int json)
{
    const char *where = sv->s ? odx_space_dir(sv->s) : g->server;
    if (json) {
        printf("{\"name\":\"%s\",\"dim\":%d,\"modalities\":[", sv->name, sv->dim);
        int first = 1;
        for (int m = 1; m < ODX_MODALITY_COUNT; m++)
            if (sv->mask & (1u << m)) { printf("%s\"%s\"", first ? "" : ",", odx_modality_name((odx_modality)m)); first = 0; }
        printf("]");
        print_json_string_member(sv->s ? "path" : "server", where);
        printf("}\n");
    } else {
        printf("space       %s\ndimension   %d\nmodalities ", sv->name, sv->dim);
        for (int m = 1; m < ODX_MODALITY_COUNT; m++)
            if (sv->mask & (1u << m)) printf(" %s", odx_modality_name((odx_modality)m));
        printf("\n%s      %s\n", sv->s ? "path  " : "server", where);
    }
    return 0;
}

int cmd_models(const struct cli *g, int argc, char **argv)
{
    const char *sub = argc >= 2 ? argv[1] : NULL;
    if (!sub) { fputs(models_usage, stderr); return 2; }
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) { fputs(models_usage, stdout); return 0; }
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { fputs(models_usage, stdout); return 0; }
    int json = 0;
    const char *name = NULL;
    for (int i = 2; i < argc && strcmp(sub, "pull"); i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (argv[i][0] == '-') return cli_usage("models", "unknown option '%s'", argv[i]);
        else if (!name) name = argv[i];
        else return cli_usage("models", "unexpected argument '%s'", argv[i]);
    }
    int is_list = !strcmp(sub, "list"), is_info = !strcmp(sub, "info"), is_verify = !strcmp(sub, "verify");
    if (!strcmp(sub, "pull")) {
        if (g->server)
            return cli_fail("models pull downloads into this machine's models directory; to give the server a space, "
                            "run 'omnidex models pull' on the server's host (the server finds it on its next use)");
        return models_pull(g, argc, argv);
    }
    if (!is_list && !is_info && !is_verify) {
        fprintf(stderr, "omnidex models: unknown subcommand '%s'\n\n%s", sub, models_usage);
        return 2;
    }
    if ((is_info || is_verify) && !name) return cli_usage("models", "%s needs a space NAME", sub);
    struct space_view sv = {NULL, NULL, name, 0, 0};
    if (g->server && cli_open(g, 0, &sv.db)) return 1;
    int rc, status = 0;
    if (is_list) {
        char **names;
        size_t n;
        if ((rc = odx_db_space_list(sv.db, &names, &n))) {
            odx_db_close(sv.db);
            return cli_fail_rc(rc, "models list");
        }
        if (json) {
            printf("[");
            for (size_t i = 0; i < n; i++) printf("%s\"%s\"", i ? "," : "", names[i]);
            printf("]\n");
        } else {
            char path[8192] = "";
            odx_models_path(path, sizeof path);
            if (!n && !g->quiet) {
                if (g->server) fprintf(stderr, "no spaces installed on %s\n", g->server);
                else fprintf(stderr, "no spaces installed (search path %s)\n", path);
            }
            for (size_t i = 0; i < n; i++) printf("%s\n", names[i]);
        }
        odx_free(names);
        odx_db_close(sv.db);
        return 0;
    }
    if (sv.db) {
        rc = odx_space_info(sv.db, name, &sv.dim, &sv.mask);
    } else if (!(rc = odx_space_open_name(name, &sv.s))) {
        sv.name = odx_space_name(sv.s);
        sv.dim = odx_space_dim(sv.s);
        for (int m = 1; m < ODX_MODALITY_COUNT; m++)
            if (odx_space_supports(sv.s, (odx_modality)m)) sv.mask |= 1u << m;
    }
    if (rc) status = cli_fail_rc(rc, name);
    /* Opening loaded and validated every tensor; verify runs every tower. */
    else if (is_verify) status = models_verify(g, &sv, json);
    else status = models_info(g, &sv, json);
    odx_space_close(sv.s);
    odx_db_close(sv.db);
    return status;
}
