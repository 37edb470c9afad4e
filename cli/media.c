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
#include "common/alloc.h"
#include "common/util.h"
#include "encoders/models/hub.h"
#include "encoders/space.h"

#define MAX_FILE (256u << 20)

int cli_read_file(const char *path, void **data, size_t *len)
{
    /* O_NONBLOCK: opening a named pipe must not wait for a writer; it is
     * then refused as not a regular file. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return cli_fail("cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) { close(fd); return cli_fail("%s is not a regular file", path); }
    if ((unsigned long long)sb.st_size > MAX_FILE) {
        close(fd);
        return cli_fail("%s: %lld bytes, over the %u MiB limit", path, (long long)sb.st_size, MAX_FILE >> 20);
    }
    size_t n = (size_t)sb.st_size, got = 0;
    char *b = odx_malloc(n + 1);
    if (!b) { close(fd); return cli_fail("out of memory reading %s", path); }
    while (got < n) {
        ssize_t r = read(fd, b + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) { close(fd); odx_free(b); return cli_fail("cannot read %s%s%s", path, r ? ": " : " (it shrank)", r ? strerror(errno) : ""); }
        got += (size_t)r;
    }
    close(fd);
    b[n] = 0;
    *data = b;
    *len = n;
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

/* ---- embed ---- */

int cmd_embed(const struct cli *g, int argc, char **argv)
{
    (void)g;
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
    odx_space *s;
    int rc = model ? odx_space_open(model, &s) : odx_space_open_name(space, &s);
    if (rc) return cli_fail_rc(rc, "embed");
    void *data = (void *)text;
    size_t len = text ? strlen(text) : 0;
    odx_modality m = ODX_MODALITY_TEXT;
    int status = 0;
    if (file) {
        if (cli_read_file(file, &data, &len)) { odx_space_close(s); return 1; }
        if (cli_media_modality(file, data, len, want, &m)) {
            odx_free(data);
            odx_space_close(s);
            return 1;
        }
    }
    int dim = odx_space_dim(s);
    float *v = odx_malloc((size_t)dim * sizeof *v);
    const void *d[1] = {data};
    size_t l[1] = {len};
    if (!v) status = cli_fail("out of memory");
    else if ((rc = odx_space_embed(s, m, d, l, 1, v))) status = cli_fail_rc(rc, file ? file : "embed");
    else {
        if (json) printf("{\"modality\":\"%s\",\"dim\":%d,\"vector\":[", odx_modality_name(m), dim);
        else printf("%s, %d dimensions:\n", odx_modality_name(m), dim);
        for (int i = 0; i < dim; i++) printf(json ? (i ? ",%.9g" : "%.9g") : (i ? " %.6g" : "%.6g"), v[i]);
        printf(json ? "]}\n" : "\n");
    }
    odx_free(v);
    if (file) odx_free(data);
    odx_space_close(s);
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

int cmd_models(const struct cli *g, int argc, char **argv)
{
    const char *sub = argc >= 2 ? argv[1] : "--help";
    int json = 0;
    const char *name = NULL;
    for (int i = 2; i < argc && strcmp(sub, "pull"); i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (argv[i][0] == '-') return cli_usage("models", "unknown option '%s'", argv[i]);
        else name = argv[i];
    }
    char dir[1024];
    odx_models_dir(dir, sizeof dir);
    if (!strcmp(sub, "list")) {
        char **names;
        size_t n;
        int rc = odx_space_list(&names, &n);
        if (rc) return cli_fail_rc(rc, "models list");
        if (json) {
            printf("[");
            for (size_t i = 0; i < n; i++) printf("%s\"%s\"", i ? "," : "", names[i]);
            printf("]\n");
        } else {
            if (!n && !g->quiet) fprintf(stderr, "no spaces installed under %s\n", dir);
            for (size_t i = 0; i < n; i++) printf("%s\n", names[i]);
        }
        odx_free(names);
        return 0;
    }
    if (!strcmp(sub, "pull")) return models_pull(g, argc, argv);
    if (!strcmp(sub, "info") || !strcmp(sub, "verify")) {
        if (!name) return cli_usage("models", "%s needs a space NAME", sub);
        odx_space *s;
        int rc = odx_space_open_name(name, &s);
        if (rc) return cli_fail_rc(rc, name);
        unsigned mask = 0;
        for (int m = 1; m < ODX_MODALITY_COUNT; m++)
            if (odx_space_supports(s, (odx_modality)m)) mask |= 1u << m;
        if (json) {
            printf("{\"name\":\"%s\",\"dim\":%d,\"modalities\":[", odx_space_name(s), odx_space_dim(s));
            int first = 1;
            for (int m = 1; m < ODX_MODALITY_COUNT; m++)
                if (mask & (1u << m)) { printf("%s\"%s\"", first ? "" : ",", odx_modality_name((odx_modality)m)); first = 0; }
            printf("],\"path\":\"%s/%s\"}\n", dir, name);
        } else {
            printf("space       %s\ndimension   %d\nmodalities ", odx_space_name(s), odx_space_dim(s));
            for (int m = 1; m < ODX_MODALITY_COUNT; m++)
                if (mask & (1u << m)) printf(" %s", odx_modality_name((odx_modality)m));
            printf("\npath        %s/%s\n", dir, name);
        }
        /* Opening loads and validates every tensor; verify also runs one
         * embedding per modality end to end. */
        int status = 0;
        if (!strcmp(sub, "verify")) {
            float *v = odx_malloc((size_t)odx_space_dim(s) * sizeof *v);
            if (v && (mask & (1u << ODX_MODALITY_TEXT))) {
                const void *d[1] = {"a photo of a cat"};
                size_t l[1] = {16};
                if ((rc = odx_space_embed(s, ODX_MODALITY_TEXT, d, l, 1, v))) status = cli_fail_rc(rc, "verify text");
                else if (!g->quiet) printf("verify: text tower ok\n");
            }
            odx_free(v);
        }
        odx_space_close(s);
        return status;
    }
    fputs("usage: omnidex models list [--json]\n"
          "       omnidex models pull REPO [--revision R] [--hub URL] [--name NAME]\n"
          "           download a Hugging Face-layout model ({hub}/{repo}/resolve/{rev}/{file}; hub from\n"
          "           --hub, $OMNIDEX_HUB or huggingface.co), resumable, checksummed, into the models dir\n"
          "       omnidex models info NAME [--json]\n"
          "       omnidex models verify NAME\n"
          "Spaces live under $OMNIDEX_MODELS (default $HOME/.omnidex/models).\n",
          !strcmp(sub, "--help") ? stdout : stderr);
    return !strcmp(sub, "--help") ? 0 : 2;
}
