/* omnidex ingest | embed, and the text/media parts of omnidex search. Files
 * are read whole (capped) and their modality sniffed from magic bytes, so a
 * misnamed file still goes to the right encoder and a wrong one gets an
 * error that names the format found. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "common/alloc.h"
#include "common/error.h"
#include "common/util.h"
#include "encoders/models/hub.h"
#include "encoders/space.h"

#define MAX_FILE (256u << 20)

int cli_read_file(const char *path, void **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return cli_fail("cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) || !S_ISREG(sb.st_mode)) { fclose(f); return cli_fail("%s is not a regular file", path); }
    if ((unsigned long long)sb.st_size > MAX_FILE) {
        fclose(f);
        return cli_fail("%s: %lld bytes, over the %u MiB limit", path, (long long)sb.st_size, MAX_FILE >> 20);
    }
    size_t n = (size_t)sb.st_size;
    char *b = odx_malloc(n + 1);
    if (!b) { fclose(f); return cli_fail("out of memory reading %s", path); }
    if (fread(b, 1, n, f) != n) { fclose(f); odx_free(b); return cli_fail("cannot read %s", path); }
    fclose(f);
    b[n] = 0;
    *data = b;
    *len = n;
    return 0;
}

/* Wavefront OBJ is plain text: call it a mesh when, skipping comments and
 * blanks, its lines are OBJ statements with at least 3 vertices and a face. */
static int looks_like_obj(const char *s, size_t len)
{
    size_t i = 0, verts = 0, faces = 0, other = 0;
    while (i < len && other == 0) {
        size_t e = i;
        while (e < len && s[e] != '\n') e++;
        const char *l = s + i;
        size_t n = e - i;
        while (n && (l[0] == ' ' || l[0] == '\t')) { l++; n--; }
        if (n == 0 || l[0] == '#') {}
        else if (n > 2 && l[0] == 'v' && l[1] == ' ') verts++;
        else if (n > 2 && l[0] == 'f' && l[1] == ' ') faces++;
        else if ((n > 3 && (l[0] == 'v' && (l[1] == 'n' || l[1] == 't') && l[2] == ' ')) ||
                 (n > 2 && (l[0] == 'o' || l[0] == 'g' || l[0] == 's') && l[1] == ' ') || !strncmp(l, "mtllib ", 7) ||
                 !strncmp(l, "usemtl ", 7)) {}
        else other++;
        i = e + 1;
    }
    return other == 0 && verts >= 3 && faces >= 1;
}

int cli_sniff(const void *data, size_t len, odx_modality *m, const char **format)
{
    const unsigned char *p = data;
#define HAS(off, s) (len >= (off) + sizeof(s) - 1 && !memcmp(p + (off), s, sizeof(s) - 1))
    *m = ODX_MODALITY_IMAGE;
    if (HAS(0, "\xff\xd8\xff")) { *format = "JPEG"; return 0; }
    if (HAS(0, "\x89PNG\r\n\x1a\n")) { *format = "PNG"; return 0; }
    if (HAS(0, "GIF8")) { *format = "GIF"; return 0; }
    if (HAS(0, "RIFF") && HAS(8, "WEBP")) { *format = "WebP"; return 0; }
    if (HAS(0, "BM") && len > 26) { *format = "BMP"; return 0; }
    *m = ODX_MODALITY_AUDIO;
    if (HAS(0, "RIFF") && HAS(8, "WAVE")) { *format = "WAV"; return 0; }
    if (HAS(0, "fLaC")) { *format = "FLAC"; return 0; }
    if (HAS(0, "OggS")) { *format = "Ogg"; return 0; }
    if (HAS(0, "ID3") || (len > 2 && p[0] == 0xff && (p[1] & 0xe0) == 0xe0)) { *format = "MP3"; return 0; }
    *m = ODX_MODALITY_VIDEO;
    if (HAS(4, "ftyp")) { *format = "MP4/QuickTime"; return 0; }
    if (HAS(0, "\x1a\x45\xdf\xa3")) { *format = "Matroska/WebM"; return 0; }
    *m = ODX_MODALITY_MESH;
    if (HAS(0, "ply\n") || HAS(0, "ply\r\n")) { *format = "PLY"; return 0; }
    if (HAS(0, "glTF")) { *format = "GLB"; return 0; }
    if (HAS(0, "OFF\n") || HAS(0, "OFF\r\n")) { *format = "OFF"; return 0; }
    if (HAS(0, "solid") && len < (64u << 20) && memmem(p, len, "facet normal", 12)) { *format = "STL (ASCII)"; return 0; }
    if (len >= 84) {
        uint32_t nf = (uint32_t)p[80] | (uint32_t)p[81] << 8 | (uint32_t)p[82] << 16 | (uint32_t)p[83] << 24;
        if ((uint64_t)nf * 50 + 84 == len) { *format = "STL (binary)"; return 0; }
    }
    if (looks_like_obj(data, len)) { *format = "OBJ"; return 0; }
#undef HAS
    if (len > 0 && !memchr(data, 0, len) && odx_utf8_valid(data, len)) {
        *m = ODX_MODALITY_TEXT;
        *format = "UTF-8 text";
        return 0;
    }
    *format = "unknown binary";
    return -1;
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
    const char *model = NULL, *space = NULL, *text = NULL, *file = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help")) {
            puts("usage: omnidex embed (--model DIR | --space NAME) (--text STR | --file FILE) [--json]\n"
                 "  --image/--audio/--video/--mesh FILE are the same as --file: the modality is sniffed\n"
                 "  from the content (JPEG PNG WebP GIF BMP | WAV FLAC Ogg MP3 | MP4 WebM MKV | PLY OBJ OFF STL GLB)\n"
                 "Prints the L2-normalised embedding: {\"modality\":..,\"dim\":..,\"vector\":[..]}");
            return 0;
        }
        if (!strcmp(a, "--model") && v) { model = v; i++; }
        else if (!strcmp(a, "--space") && v) { space = v; i++; }
        else if (!strcmp(a, "--text") && v) { text = v; i++; }
        else if ((!strcmp(a, "--image") || !strcmp(a, "--file") || !strcmp(a, "--audio") || !strcmp(a, "--video") ||
                  !strcmp(a, "--mesh")) && v) { file = v; i++; }
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
        const char *fmt;
        if (cli_read_file(file, &data, &len)) { odx_space_close(sv.s); odx_db_close(sv.db); return 1; }
        if (cli_sniff(data, len, &m, &fmt)) {
            odx_free(data);
            odx_space_close(sv.s);
            odx_db_close(sv.db);
            return cli_fail("%s: %s data is not a format omnidex can embed", file, fmt);
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

/* ---- ingest ---- */

struct ingest {
    odx_db *db;
    const char *coll;
    odx_batch *b;
    size_t files, items, failed;
    struct progress pg;
};

static int flush(struct ingest *in)
{
    if (!odx_batch_size(in->b)) return 0;
    int rc = odx_upsert(in->db, in->coll, in->b);
    if (rc) {
        /* One line per refused file: the id is its path. */
        cli_fail("%s", odx_last_error());
        in->failed += odx_batch_size(in->b);
    } else {
        in->items += odx_batch_size(in->b);
    }
    odx_batch_clear(in->b);
    progress_update(&in->pg, in->items + in->failed);
    return rc;
}

static void ingest_file(struct ingest *in, const char *path)
{
    void *data;
    size_t len;
    in->files++;
    if (cli_read_file(path, &data, &len)) { in->failed++; return; }
    odx_modality m;
    const char *fmt;
    if (cli_sniff(data, len, &m, &fmt)) {
        cli_fail("%s: %s data is not a format omnidex can ingest", path, fmt);
        odx_free(data);
        in->failed++;
        return;
    }
    odx_meta *meta;
    odx_meta_new(&meta);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (strlen(base) <= 400 && odx_utf8_valid(base, strlen(base))) odx_meta_set_string(meta, "filename", base, strlen(base));
    odx_meta_set_string(meta, "format", fmt, strlen(fmt));
    odx_meta_set_int(meta, "bytes", (int64_t)len);
    /* One item per upsert: the space's error then names this file. */
    int rc = odx_batch_add_payload(in->b, path, m, data, len, NULL, meta);
    odx_meta_free(meta);
    odx_free(data);
    if (rc) { cli_fail("%s: %s", path, odx_last_error()); in->failed++; return; }
    flush(in);
}

/* The modality of a URL, from the extension of its path. */
static int url_modality(const char *url, odx_modality *m)
{
    static const struct { const char *ext; odx_modality m; } map[] = {
        {"jpg", ODX_MODALITY_IMAGE}, {"jpeg", ODX_MODALITY_IMAGE}, {"png", ODX_MODALITY_IMAGE},
        {"webp", ODX_MODALITY_IMAGE}, {"gif", ODX_MODALITY_IMAGE}, {"bmp", ODX_MODALITY_IMAGE},
        {"wav", ODX_MODALITY_AUDIO}, {"flac", ODX_MODALITY_AUDIO}, {"ogg", ODX_MODALITY_AUDIO},
        {"oga", ODX_MODALITY_AUDIO}, {"opus", ODX_MODALITY_AUDIO}, {"mp3", ODX_MODALITY_AUDIO},
        {"mp4", ODX_MODALITY_VIDEO}, {"m4v", ODX_MODALITY_VIDEO}, {"mov", ODX_MODALITY_VIDEO},
        {"webm", ODX_MODALITY_VIDEO}, {"mkv", ODX_MODALITY_VIDEO},
        {"ply", ODX_MODALITY_MESH}, {"obj", ODX_MODALITY_MESH}, {"stl", ODX_MODALITY_MESH},
        {"off", ODX_MODALITY_MESH}, {"glb", ODX_MODALITY_MESH}, {"gltf", ODX_MODALITY_MESH},
        {"txt", ODX_MODALITY_TEXT},
    };
    size_t n = strcspn(url, "?#");
    const char *dot = NULL;
    for (size_t i = 0; i < n; i++) {
        if (url[i] == '.') dot = url + i + 1;
        else if (url[i] == '/') dot = NULL;
    }
    if (!dot) return -1;
    size_t el = (size_t)(url + n - dot);
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strlen(map[i].ext) == el && !strncasecmp(dot, map[i].ext, el)) { *m = map[i].m; return 0; }
    return -1;
}

/* A URL is fetched by the engine (embedded) or the server (client mode),
 * under its URL policy; the modality comes from the path's extension. */
static void ingest_url(struct ingest *in, const char *url)
{
    odx_modality m;
    in->files++;
    if (url_modality(url, &m)) {
        cli_fail("%s: cannot tell the media type from the URL's extension (.jpg .png .wav .mp3 .mp4 .webm .ply .obj .stl ...)", url);
        in->failed++;
        return;
    }
    int rc = odx_batch_add_payload(in->b, url, m, NULL, 0, url, NULL);
    if (rc) { cli_fail("%s: %s", url, odx_last_error()); in->failed++; return; }
    flush(in);
}

static void ingest_path(struct ingest *in, const char *path, int depth)
{
    if (depth == 0 && strstr(path, "://")) { ingest_url(in, path); return; }
    struct stat sb;
    if (stat(path, &sb)) { cli_fail("%s: %s", path, strerror(errno)); in->failed++; return; }
    if (!S_ISDIR(sb.st_mode)) { ingest_file(in, path); return; }
    if (depth > 32) { cli_fail("%s: directories nested too deep", path); return; }
    struct dirent **names;
    int n = scandir(path, &names, NULL, alphasort);
    if (n < 0) { cli_fail("%s: %s", path, strerror(errno)); in->failed++; return; }
    for (int i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.') {
            char child[4096];
            snprintf(child, sizeof child, "%s/%s", path, names[i]->d_name);
            ingest_path(in, child, depth + 1);
        }
        free(names[i]);
    }
    free(names);
}

int cmd_ingest(const struct cli *g, int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "--help")) {
        puts("usage: omnidex ingest COLLECTION FILE|DIR|URL...\n"
             "Embeds each file with the collection's space (modality sniffed from the content) and stores it\n"
             "under its path as id, with filename/format/bytes metadata. Directories are walked.\n"
             "A URL (http://, https://, file://) is fetched by the engine, or by the server with --server,\n"
             "under its URL policy: public addresses only unless OMNIDEX_FETCH_ALLOW_PRIVATE=1 (serve:\n"
             "--fetch-allow-private); file:// only under OMNIDEX_FILE_ROOTS=DIR[:DIR] (serve: --file-root DIR).\n"
             "The modality of a URL comes from its extension.");
        return 0;
    }
    if (argc < 3) return cli_usage("ingest", "needs a COLLECTION and at least one FILE or DIR");
    struct ingest in = {0};
    in.coll = argv[1];
    if (cli_open(g, 1, &in.db)) return 1;
    odx_batch_new(&in.b);
    progress_start(&in.pg, "ingest", 0);
    for (int i = 2; i < argc; i++) ingest_path(&in, argv[i], 0);
    flush(&in);
    progress_end(&in.pg);
    double el = odx_now_mono() - in.pg.start;
    if (!g->quiet || in.failed)
        printf("ingest: %zu items into '%s' in %.2f s (%.1f items/s), %zu failed\n", in.items, in.coll, el,
               el > 0 ? in.items / el : 0.0, in.failed);
    odx_batch_free(in.b);
    odx_db_close(in.db);
    return in.failed ? 1 : 0;
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
    if (!odx_model_file_name_ok(name)) return cli_fail("'%s' is not a usable space name (use --name)", name);
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
    odx_hub_opts o = {hub, rev, pull_progress_cb, &pp, 0};
    double t0 = odx_now_mono();
    int rc = odx_hub_pull(repo, dest, &o);
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
    char *esc = NULL;
    odx_meta *e = NULL;
    if (!odx_meta_new(&e) && !odx_meta_set_string(e, key, val, strnlen(val, 400)) && !odx_meta_to_json(e, &esc))
        printf(",%.*s", (int)strlen(esc) - 2, esc + 1);
    odx_free(esc);
    odx_meta_free(e);
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
