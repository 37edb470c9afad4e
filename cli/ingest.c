/* omnidex ingest: files, directories and URLs into a collection bound to a
 * space. The rules (docs/core.md "Ingest", and --help) in short:
 *
 * - Walk first, embed second. Arguments and directories are walked into a
 *   list of candidate files; each file is reached once (device + inode:
 *   hard links, symlinks, loops and repeated arguments count as duplicates),
 *   symlinked directories are entered only after the real tree, so a file
 *   keeps the id of its real path where it has one. Names starting with '.'
 *   and anything that is not a regular file (pipes, sockets, devices,
 *   broken links) are skipped and counted, never opened.
 * - Ids: a file named on the command line is its file name ("a.png" for
 *   a.png, ./a.png, d//a.png or /abs/a.png); a file found in directory DIR is
 *   DIR's name, then its path below DIR ("photos/2023/a.png"). They depend on
 *   neither the working directory nor how a path was spelled.
 * - What is taken: a named file, whatever it holds that omnidex can embed
 *   (UTF-8 text included); inside directories only media (image, audio,
 *   video, 3D) unless --modality or --include says otherwise.
 * - Resume: each item records its content's sha256; a file whose id is
 *   stored with the same sha256, modality, metadata and source is skipped
 *   (--update re-embeds it anyway). Every file is committed as it is
 *   embedded, so an interrupted ingest resumes by running it again. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>

#include "cli/cli.h"
#include "omnidex_util.h"

#define MAX_DEPTH 64
#define MEDIA_MODALITIES ((1u << ODX_MODALITY_IMAGE) | (1u << ODX_MODALITY_AUDIO) | \
                          (1u << ODX_MODALITY_VIDEO) | (1u << ODX_MODALITY_MESH))
#define ALL_MODALITIES (MEDIA_MODALITIES | (1u << ODX_MODALITY_TEXT))

enum { C_NAMED = 1, C_VIA_LINK = 2, C_URL = 4, C_DROP = 8 };

/* A file to ingest, found by the walk. */
struct cand {
    char *path; /* as reached (a URL for C_URL) */
    char *id;
    dev_t dev;
    ino_t ino;
    unsigned flags;
    size_t order;
};

/* A manifest line: metadata for the file at path (matched by device and
 * inode) or for the item id. */
struct mentry {
    char *id;   /* NULL for a path entry */
    dev_t dev;
    ino_t ino;
    odx_meta *meta;
    long line;
    int used;
};

struct dirkey { dev_t dev; ino_t ino; };
struct pending { char *path, *id; int depth; };

struct ingest {
    odx_db *db;
    const char *coll, *space;
    unsigned space_mods;   /* modalities the space embeds */
    unsigned want;         /* --modality (0 = not given) */
    const char **inc, **exc;
    int ninc, nexc, update, verbose;
    odx_meta *meta;        /* --meta */
    struct mentry *man;
    size_t nman;
    const char *manifest;
    struct cand *c;
    size_t n, cap;
    struct dirkey *dirs;
    size_t ndirs, capdirs;
    struct pending *pend;
    size_t npend, cappend, pend_head;
    odx_batch *b;
    struct progress pg;
    /* counters */
    size_t items, unchanged, failed;
    size_t hidden, notreg, dups, excluded, empty, unknown;
    size_t not_wanted[ODX_MODALITY_COUNT], no_encoder[ODX_MODALITY_COUNT];
};

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) { (void)sig; interrupted = 1; }

/* A skipped file (by the id it would have): one line with --verbose,
 * otherwise only the count. */
static void note(const struct ingest *in, const char *path, const char *why)
{
    if (!in->verbose) return;
    progress_interrupt();
    printf("skipped %s: %s\n", path, why);
    fflush(stdout);
}

/* ---- the walk ---- */

static int add_cand(struct ingest *in, const char *path, const char *id, const struct stat *sb, unsigned flags)
{
    if (odx_grow(&in->c, &in->cap, in->n + 1, sizeof *in->c)) return cli_fail("out of memory");
    struct cand *c = &in->c[in->n];
    memset(c, 0, sizeof *c);
    c->path = odx_strdup(path);
    c->id = odx_strdup(id);
    if (!c->path || !c->id) { odx_free(c->path); odx_free(c->id); return cli_fail("out of memory"); }
    if (sb) { c->dev = sb->st_dev; c->ino = sb->st_ino; }
    c->flags = flags;
    c->order = in->n++;
    return 0;
}

/* Marks a directory visited; 1 when it already was. */
static int dir_seen(struct ingest *in, const struct stat *sb)
{
    for (size_t i = 0; i < in->ndirs; i++)
        if (in->dirs[i].dev == sb->st_dev && in->dirs[i].ino == sb->st_ino) return 1;
    if (!odx_grow(&in->dirs, &in->capdirs, in->ndirs + 1, sizeof *in->dirs))
        in->dirs[in->ndirs++] = (struct dirkey){sb->st_dev, sb->st_ino};
    return 0;
}

/* --include/--exclude: a pattern with a '/' is matched against the item id,
 * one without against the file (or directory) name. */
static int glob_any(const char **pat, int n, const char *name, const char *id)
{
    for (int i = 0; i < n; i++)
        if (!fnmatch(pat[i], strchr(pat[i], '/') ? id : name, 0)) return 1;
    return 0;
}

static const char *type_name(mode_t m)
{
    if (S_ISFIFO(m)) return "a named pipe";
    if (S_ISSOCK(m)) return "a socket";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    return "not a regular file";
}

static void walk(struct ingest *in, const char *dir, const char *prefix, int depth)
{
    if (depth > MAX_DEPTH) {
        cli_fail("%s: directories nested deeper than %d levels", dir, MAX_DEPTH);
        in->failed++;
        return;
    }
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0) { cli_fail("%s: %s", dir, strerror(errno)); in->failed++; return; }
    for (int i = 0; i < n; i++) {
        const char *nm = names[i]->d_name;
        char path[PATH_MAX], id[PATH_MAX];
        if (!strcmp(nm, ".") || !strcmp(nm, "..")) goto next;
        snprintf(path, sizeof path, "%s/%s", dir, nm);
        snprintf(id, sizeof id, "%s%s%s", prefix, *prefix ? "/" : "", nm);
        if (nm[0] == '.') { in->hidden++; note(in, id, "hidden (its name starts with '.')"); goto next; }
        if (glob_any(in->exc, in->nexc, nm, id)) { in->excluded++; note(in, id, "--exclude"); goto next; }
        struct stat lsb, sb;
        if (lstat(path, &lsb)) { cli_fail("%s: %s", path, strerror(errno)); in->failed++; goto next; }
        int link = S_ISLNK(lsb.st_mode);
        if (link && stat(path, &sb)) { in->notreg++; note(in, id, "a broken symbolic link"); goto next; }
        if (!link) sb = lsb;
        if (S_ISDIR(sb.st_mode)) {
            if (link) {
                /* Entered after the real tree (see the top of the file). */
                if (!odx_grow(&in->pend, &in->cappend, in->npend + 1, sizeof *in->pend)) {
                    struct pending *p = &in->pend[in->npend++];
                    p->path = odx_strdup(path);
                    p->id = odx_strdup(id);
                    p->depth = depth + 1;
                }
            } else if (dir_seen(in, &sb)) {
                in->dups++;
                note(in, id, "a directory already walked");
            } else {
                walk(in, path, id, depth + 1);
            }
        } else if (S_ISREG(sb.st_mode)) {
            if (in->ninc && !glob_any(in->inc, in->ninc, nm, id)) { in->excluded++; note(in, id, "no --include matches"); }
            else if (add_cand(in, path, id, &sb, link ? C_VIA_LINK : 0)) in->failed++;
        } else {
            in->notreg++;
            note(in, id, type_name(sb.st_mode));
        }
    next:
        free(names[i]);
    }
    free(names);
}

/* The name an argument contributes to ids: its last component, or for
 * ".", ".." and the like the real directory's name ("" for "/"). */
static void arg_name(const char *arg, char *out, size_t cap)
{
    size_t n = strlen(arg);
    while (n > 1 && arg[n - 1] == '/') n--;
    size_t s = n;
    while (s > 0 && arg[s - 1] != '/') s--;
    if ((n - s == 1 && arg[s] == '.') || (n - s == 2 && arg[s] == '.' && arg[s + 1] == '.') || n - s == 0 ||
        (n == 1 && arg[0] == '/')) {
        char real[PATH_MAX];
        const char *b = realpath(arg, real) ? strrchr(real, '/') : NULL;
        snprintf(out, cap, "%s", b ? b + 1 : "");
        return;
    }
    snprintf(out, cap, "%.*s", (int)(n - s), arg + s);
}

static void add_arg(struct ingest *in, const char *arg)
{
    if (strstr(arg, "://")) {
        if (add_cand(in, arg, arg, NULL, C_NAMED | C_URL)) in->failed++;
        return;
    }
    struct stat sb;
    if (stat(arg, &sb)) { cli_fail("%s: %s", arg, strerror(errno)); in->failed++; return; }
    char name[PATH_MAX];
    arg_name(arg, name, sizeof name);
    if (S_ISDIR(sb.st_mode)) {
        if (dir_seen(in, &sb)) { in->dups++; note(in, arg, "a directory already walked"); return; }
        walk(in, arg, name, 0);
    } else if (S_ISREG(sb.st_mode)) {
        if (add_cand(in, arg, name, &sb, C_NAMED)) in->failed++;
    } else {
        cli_fail("%s: %s, not a regular file", arg, type_name(sb.st_mode));
        in->failed++;
    }
}

/* Symlinked directories, breadth first, after every argument's real tree. */
static void walk_pending(struct ingest *in)
{
    while (in->pend_head < in->npend) {
        struct pending p = in->pend[in->pend_head++];
        struct stat sb;
        if (p.path && p.id && !stat(p.path, &sb) && S_ISDIR(sb.st_mode)) {
            if (dir_seen(in, &sb)) { in->dups++; note(in, p.id, "a symbolic link to a directory already walked"); }
            else walk(in, p.path, p.id, p.depth);
        }
        odx_free(p.path);
        odx_free(p.id);
    }
}

static int by_file(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->dev != y->dev) return x->dev < y->dev ? -1 : 1;
    if (x->ino != y->ino) return x->ino < y->ino ? -1 : 1;
    if ((x->flags & C_VIA_LINK) != (y->flags & C_VIA_LINK)) return (x->flags & C_VIA_LINK) ? 1 : -1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int by_id(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->order < y->order ? -1 : x->order > y->order);
}

static int by_order(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* One candidate per file (the one reached without a symlink, else the
 * first), then one file per id: a second file with a taken id fails. */
static void dedupe(struct ingest *in)
{
    qsort(in->c, in->n, sizeof *in->c, by_file);
    for (size_t i = 1; i < in->n; i++) {
        const struct cand *p = &in->c[i - 1], *c = &in->c[i];
        if (!(c->flags & C_URL) && !(p->flags & C_URL) && c->dev == p->dev && c->ino == p->ino) {
            in->c[i].flags |= C_DROP;
            in->dups++;
            note(in, c->id, "the same file as an earlier one");
        }
    }
    qsort(in->c, in->n, sizeof *in->c, by_id);
    const struct cand *keep = NULL;
    for (size_t i = 0; i < in->n; i++) {
        struct cand *c = &in->c[i];
        if (c->flags & C_DROP) continue;
        if (keep && !strcmp(keep->id, c->id)) {
            cli_fail("%s: its id '%s' is already taken by %s", c->path, c->id, keep->path);
            c->flags |= C_DROP;
            in->failed++;
        } else {
            keep = c;
        }
    }
    qsort(in->c, in->n, sizeof *in->c, by_order);
}

/* ---- metadata: --meta, --manifest ---- */

/* KEY=VALUE with VALUE typed as in put --jsonl: a JSON number, true/false or
 * "string"; anything else is the string as written. */
static int parse_meta_arg(odx_meta *m, const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) return cli_usage("ingest", "--meta wants KEY=VALUE, got '%s'", kv);
    char key[128];
    snprintf(key, sizeof key, "%.*s", (int)(eq - kv) < 127 ? (int)(eq - kv) : 127, kv);
    const char *v = eq + 1;
    cJSON *j = cJSON_Parse(v);
    int rc;
    if (j && (cJSON_IsNumber(j) || cJSON_IsBool(j) || cJSON_IsString(j))) rc = cli_meta_set_json(m, key, j);
    else rc = odx_meta_set_string(m, key, v, strlen(v));
    cJSON_Delete(j);
    if (rc) return cli_usage("ingest", "--meta %s: %s", kv, odx_last_error());
    return 0;
}

/* Reads the manifest: one JSON object per line, {"path": FILE} (relative to
 * the manifest's directory) or {"id": ID}, and "metadata": {..}. */
static int load_manifest(struct ingest *in, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return cli_fail("cannot open %s: %s", path, strerror(errno));
    char base[PATH_MAX];
    snprintf(base, sizeof base, "%s", path);
    char *slash = strrchr(base, '/');
    if (slash) slash[1] = 0;
    else base[0] = 0;
    char *line = NULL;
    size_t lcap = 0, cap = 0;
    long lineno = 0;
    int status = 0;
    ssize_t len;
    while (!status && (len = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ')) len--;
        if (len == 0) continue;
        cJSON *o = cJSON_ParseWithLength(line, (size_t)len);
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "path"), *id = cJSON_GetObjectItemCaseSensitive(o, "id");
        const cJSON *md = cJSON_GetObjectItemCaseSensitive(o, "metadata"), *e;
        struct mentry me = {0};
        me.line = lineno;
        if (!cJSON_IsObject(o)) status = cli_fail("%s:%ld: not a JSON object", path, lineno);
        else if (!!cJSON_IsString(p) == !!cJSON_IsString(id))
            status = cli_fail("%s:%ld: needs a \"path\" or an \"id\" string (one of them)", path, lineno);
        else if (md && !cJSON_IsObject(md)) status = cli_fail("%s:%ld: \"metadata\" must be an object", path, lineno);
        else if (odx_meta_new(&me.meta)) status = cli_fail("out of memory");
        if (!status && cJSON_IsString(p)) {
            char full[PATH_MAX];
            struct stat sb;
            snprintf(full, sizeof full, "%s%s", p->valuestring[0] == '/' ? "" : base, p->valuestring);
            if (stat(full, &sb)) status = cli_fail("%s:%ld: %s: %s", path, lineno, full, strerror(errno));
            else { me.dev = sb.st_dev; me.ino = sb.st_ino; }
        } else if (!status && !(me.id = odx_strdup(id->valuestring))) {
            status = cli_fail("out of memory");
        }
        if (!status && md)
            cJSON_ArrayForEach(e, md)
                if (!status && cli_meta_set_json(me.meta, e->string, e))
                    status = cli_fail("%s:%ld: metadata \"%s\": %s", path, lineno, e->string, odx_last_error());
        cJSON_Delete(o);
        if (!status && odx_grow(&in->man, &cap, in->nman + 1, sizeof *in->man)) status = cli_fail("out of memory");
        if (status) { odx_meta_free(me.meta); odx_free(me.id); break; }
        in->man[in->nman++] = me;
    }
    free(line);
    fclose(f);
    return status;
}

/* The manifest entries for a candidate: its path's entry, then its id's. */
static void manifest_apply(struct ingest *in, const struct cand *c, odx_meta *m)
{
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < in->nman; i++) {
            struct mentry *e = &in->man[i];
            int hit = pass == 0 ? !e->id && !(c->flags & C_URL) && e->dev == c->dev && e->ino == c->ino
                                : e->id && !strcmp(e->id, c->id);
            if (hit) { odx_meta_copy(m, e->meta); e->used = 1; }
        }
}

static int meta_equal(const odx_meta *a, const odx_meta *b)
{
    if (odx_meta_count(a) != odx_meta_count(b)) return 0;
    for (size_t i = 0; i < odx_meta_count(a); i++) {
        long j = odx_meta_find(b, odx_meta_key(a, i));
        if (j < 0 || odx_meta_type(a, i) != odx_meta_type(b, (size_t)j)) return 0;
        size_t la, lb;
        const char *sa, *sb;
        switch (odx_meta_type(a, i)) {
        case ODX_VALUE_STRING:
            sa = odx_meta_string(a, i, &la);
            sb = odx_meta_string(b, (size_t)j, &lb);
            if (la != lb || memcmp(sa, sb, la)) return 0;
            break;
        case ODX_VALUE_INT: if (odx_meta_int(a, i) != odx_meta_int(b, (size_t)j)) return 0; break;
        case ODX_VALUE_FLOAT: if (odx_meta_float(a, i) != odx_meta_float(b, (size_t)j)) return 0; break;
        case ODX_VALUE_BOOL: if (odx_meta_bool(a, i) != odx_meta_bool(b, (size_t)j)) return 0; break;
        }
    }
    return 1;
}

/* ---- one file ---- */

/* The modality to embed as: the sniffed one, else another the format
 * allows, that the selection takes (0 when none) and the space embeds. */
static int choose(unsigned allowed, unsigned space, odx_modality m, unsigned mask, odx_modality *out)
{
    if ((allowed & space) & (1u << m)) { *out = m; return 0; }
    for (int k = 1; k < ODX_MODALITY_COUNT; k++)
        if ((mask & allowed & space) & (1u << k)) { *out = (odx_modality)k; return 0; }
    return -1;
}

static const char *modality_word(odx_modality m)
{
    return m == ODX_MODALITY_MESH ? "3D" : odx_modality_name(m);
}

static int commit(struct ingest *in, const struct cand *c)
{
    int rc = odx_upsert(in->db, in->coll, in->b);
    odx_batch_clear(in->b);
    if (rc) {
        cli_fail("%s", odx_last_error());
        in->failed++;
        return rc;
    }
    in->items++;
    if (in->verbose) { progress_interrupt(); printf("added %s\n", c->id); fflush(stdout); }
    return 0;
}

/* A URL is fetched by the engine under its URL policy; its modality comes
 * from the path's extension. Never skipped as unchanged (that would need
 * the body). */
static int url_modality(const char *url, odx_modality *m);
static void ingest_url(struct ingest *in, const struct cand *c, odx_meta *meta)
{
    odx_modality m;
    if (url_modality(c->path, &m)) {
        cli_fail("%s: cannot tell the media type from the URL's extension (.jpg .png .wav .mp3 .mp4 .webm .ply .obj .stl ...)", c->path);
        in->failed++;
        return;
    }
    if (odx_batch_add_payload(in->b, c->id, m, NULL, 0, c->path, meta)) {
        cli_fail("%s: %s", c->path, odx_last_error());
        in->failed++;
        return;
    }
    commit(in, c);
}

static void ingest_one(struct ingest *in, const struct cand *c)
{
    odx_meta *meta = NULL;
    void *data = NULL;
    size_t len;
    odx_record *old = NULL;
    if (odx_meta_new(&meta)) { cli_fail("out of memory"); in->failed++; return; }
    if (c->flags & C_URL) {
        odx_meta_copy(meta, in->meta);
        manifest_apply(in, c, meta);
        ingest_url(in, c, meta);
        goto out;
    }
    if (cli_read_file(c->path, &data, &len)) { in->failed++; goto out; }
    int named = c->flags & C_NAMED;
    odx_modality sniffed, m;
    unsigned mask;
    const char *fmt;
    if (odx_media_sniff(data, len, &sniffed, &mask, &fmt)) {
        if (named) { cli_fail("%s: %s, not a format omnidex can ingest", c->path, odx_last_error()); in->failed++; }
        else if (len == 0) { in->empty++; note(in, c->id, "empty file"); }
        else { in->unknown++; note(in, c->id, "unknown binary data"); }
        goto out;
    }
    /* What the selection takes: named files anything, directories media,
     * or what --include names; --modality narrows both. */
    unsigned allowed = in->want ? in->want : named || in->ninc ? ALL_MODALITIES : MEDIA_MODALITIES;
    if (choose(allowed, ~0u, sniffed, mask, &m)) {
        in->not_wanted[sniffed]++;
        char why[96];
        snprintf(why, sizeof why, "%s (%s), not taken without --modality %s", fmt, odx_modality_name(sniffed), odx_modality_name(sniffed));
        note(in, c->id, why);
        goto out;
    }
    if (choose(allowed, in->space_mods, sniffed, mask, &m)) {
        if (named) {
            cli_fail("%s: %s data, and space '%s' has no %s encoder", c->path, fmt, in->space, odx_modality_name(m));
            in->failed++;
        } else {
            in->no_encoder[m]++;
            note(in, c->id, "the space has no encoder for it");
        }
        goto out;
    }
    /* Metadata: automatic, then --meta, then the manifest; sha256 last. */
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    char hex[2 * EVP_MAX_MD_SIZE + 1], src[PATH_MAX];
    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1) { cli_fail("%s: sha256 failed", c->path); in->failed++; goto out; }
    for (unsigned i = 0; i < mdlen; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    const char *base = strrchr(c->path, '/');
    base = base ? base + 1 : c->path;
    if (strlen(base) <= 400 && odx_utf8_valid(base, strlen(base))) odx_meta_set_string(meta, "filename", base, strlen(base));
    odx_meta_set_string(meta, "format", fmt, strlen(fmt));
    odx_meta_set_int(meta, "bytes", (int64_t)len);
    odx_meta_copy(meta, in->meta);
    manifest_apply(in, c, meta);
    odx_meta_set_string(meta, "sha256", hex, strlen(hex));
    /* The source: the file's absolute path, symlinks resolved. */
    if (!realpath(c->path, src)) snprintf(src, sizeof src, "%s", c->path);
    if (!in->update && !odx_get(in->db, in->coll, c->id, &old) && odx_record_modality(old) == m &&
        !strcmp(odx_record_source(old), src) && meta_equal(odx_record_meta(old), meta)) {
        in->unchanged++;
        if (in->verbose) { progress_interrupt(); printf("unchanged %s\n", c->id); fflush(stdout); }
        goto out;
    }
    /* One item per upsert: an error names this file, and every file is
     * durable once embedded (resume). */
    if (odx_batch_add_payload(in->b, c->id, m, data, len, src, meta)) {
        cli_fail("%s: %s", c->path, odx_last_error());
        in->failed++;
        goto out;
    }
    commit(in, c);
out:
    odx_record_free(old);
    odx_meta_free(meta);
    odx_free(data);
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

/* ---- the command ---- */

static const char *ingest_help =
    "usage: omnidex ingest COLLECTION [options] FILE|DIR|URL...\n"
    "Embeds files with the collection's space and stores one item per file; the modality is sniffed\n"
    "from the content (JPEG PNG WebP GIF BMP | WAV FLAC Ogg MP3 ... | MP4 MOV WebM MKV, animated GIF |\n"
    "PLY OBJ OFF STL glTF GLB | UTF-8 text), never from the extension.\n"
    "Which files:\n"
    "  a FILE named here is taken whatever it holds, UTF-8 text included; inside a DIR (walked\n"
    "  recursively) only media files are taken: images, audio, video and 3D. Names starting with '.',\n"
    "  anything not a regular file (pipes, sockets, devices, broken links), empty files, unknown\n"
    "  formats and modalities the space cannot embed are skipped and counted at the end. Symlinks are\n"
    "  followed, but each file and directory is visited once (device + inode), so links, loops and\n"
    "  repeated arguments never make duplicates.\n"
    "  --modality M       take only files of modality M (text, image, audio, video, mesh|3d; repeatable\n"
    "                     or comma-separated; 'all'); applies to named files too\n"
    "  --include GLOB     inside DIRs take only files matching GLOB, of any modality (text included)\n"
    "  --exclude GLOB     skip files and directories matching GLOB (wins over --include)\n"
    "                     A GLOB without '/' matches the file or directory name, one with '/' the id.\n"
    "Ids:\n"
    "  a named FILE is its file name: a.png, ./a.png, d//a.png and /abs/a.png are all 'a.png';\n"
    "  a file inside DIR is DIR's name and its path below it: 'photos/2023/a.png' (for '.', the\n"
    "  directory's real name). Two different files with the same id: the second fails.\n"
    "  A URL (http://, https://, file://) is its own id; it is fetched by the engine under its URL\n"
    "  policy (OMNIDEX_FETCH_ALLOW_PRIVATE=1, OMNIDEX_FILE_ROOTS=DIR[:DIR]) and its modality comes\n"
    "  from its extension.\n"
    "Metadata: filename, format, bytes and sha256 (of the content), then:\n"
    "  --meta KEY=VALUE   on every item (repeatable); VALUE is typed like put --jsonl: 12 is an int,\n"
    "                     1.5 a float, true/false a bool, \"12\" or anything else a string\n"
    "  --manifest FILE    JSON lines: {\"path\":\"a.png\",\"metadata\":{\"label\":\"cat\",\"year\":2023}} or\n"
    "                     {\"id\":\"photos/a.png\",\"metadata\":{..}}; a path is relative to FILE's\n"
    "                     directory and matches that file wherever it is reached; the manifest's\n"
    "                     values win over --meta. A line that matches nothing is reported.\n"
    "  The item's source is the file's absolute path (symlinks resolved), or the URL.\n"
    "Resume:\n"
    "  each file is committed as soon as it is embedded. A file whose id is already stored with the\n"
    "  same sha256, modality, metadata and source is skipped as unchanged, so re-running an\n"
    "  interrupted (Ctrl-C) ingest carries on where it stopped. URLs are always re-fetched.\n"
    "  --update           re-embed unchanged files too\n"
    "  --verbose          one line per file: added, unchanged or skipped (with the reason)\n"
    "Exit status: 0, 1 when any file failed, 130 when interrupted.\n";

static int parse_modalities(const char *v, unsigned *mask)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", v);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        odx_modality m;
        if (!strcmp(t, "all")) *mask |= ALL_MODALITIES;
        else if (odx_modality_parse(t, &m) || m == ODX_MODALITY_VECTOR) return -1;
        else *mask |= 1u << m;
    }
    return 0;
}

static void print_summary(const struct ingest *in, double el)
{
    printf("ingest: %zu items into '%s' in %.2f s (%.1f items/s), %zu unchanged, %zu failed\n", in->items, in->coll, el,
           el > 0 ? in->items / el : 0.0, in->unchanged, in->failed);
    char buf[1024];
    size_t u = 0;
#define PART(...) (u += (size_t)snprintf(buf + u, u < sizeof buf ? sizeof buf - u : 0, __VA_ARGS__))
    for (int m = 1; m < ODX_MODALITY_COUNT; m++)
        if (in->not_wanted[m])
            PART("%s%zu %s file%s (--modality %s takes them)", u ? ", " : "", in->not_wanted[m], modality_word((odx_modality)m),
                 in->not_wanted[m] == 1 ? "" : "s", odx_modality_name((odx_modality)m));
    for (int m = 1; m < ODX_MODALITY_COUNT; m++)
        if (in->no_encoder[m])
            PART("%s%zu %s file%s (space '%s' has no %s encoder)", u ? ", " : "", in->no_encoder[m],
                 modality_word((odx_modality)m), in->no_encoder[m] == 1 ? "" : "s", in->space, odx_modality_name((odx_modality)m));
    if (in->unknown) PART("%s%zu of unknown format", u ? ", " : "", in->unknown);
    if (in->empty) PART("%s%zu empty", u ? ", " : "", in->empty);
    if (in->dups) PART("%s%zu duplicate%s (a file or directory reached twice)", u ? ", " : "", in->dups, in->dups == 1 ? "" : "s");
    if (in->notreg) PART("%s%zu not regular file%s (pipes, sockets, devices, broken links)", u ? ", " : "", in->notreg, in->notreg == 1 ? "" : "s");
    if (in->hidden) PART("%s%zu hidden", u ? ", " : "", in->hidden);
    if (in->excluded) PART("%s%zu excluded by --include/--exclude", u ? ", " : "", in->excluded);
#undef PART
    if (u) printf("ingest: skipped %s\n", buf);
}

int cmd_ingest(const struct cli *g, int argc, char **argv)
{
    struct ingest in;
    memset(&in, 0, sizeof in);
    const char **args = odx_calloc((size_t)argc, sizeof *args);
    in.inc = odx_calloc((size_t)argc, sizeof *in.inc);
    in.exc = odx_calloc((size_t)argc, sizeof *in.exc);
    int nargs = 0, status = 0;
    odx_collection_info *info = NULL;
    if (!args || !in.inc || !in.exc || odx_meta_new(&in.meta)) { status = cli_fail("out of memory"); goto done; }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(ingest_help, stdout); goto done; }
        if (!strcmp(a, "--modality") && v) {
            if (parse_modalities(v, &in.want)) { status = cli_usage("ingest", "--modality: '%s' is not text, image, audio, video, mesh (3d) or all", v); goto done; }
            i++;
        } else if (!strcmp(a, "--include") && v) { in.inc[in.ninc++] = v; i++; }
        else if (!strcmp(a, "--exclude") && v) { in.exc[in.nexc++] = v; i++; }
        else if (!strcmp(a, "--meta") && v) { if ((status = parse_meta_arg(in.meta, v))) goto done; i++; }
        else if (!strcmp(a, "--manifest") && v) { in.manifest = v; i++; }
        else if (!strcmp(a, "--update")) in.update = 1;
        else if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) in.verbose = 1;
        else if (!strcmp(a, "--")) { while (++i < argc) args[nargs++] = argv[i]; }
        else if (a[0] == '-' && a[1]) { status = cli_usage("ingest", "unknown or incomplete option '%s'", a); goto done; }
        else if (!in.coll) in.coll = a;
        else args[nargs++] = a;
    }
    if (!in.coll || !nargs) { status = cli_usage("ingest", "needs a COLLECTION and at least one FILE, DIR or URL"); goto done; }
    if (in.manifest && (status = load_manifest(&in, in.manifest))) goto done;
    if (cli_open(g, 1, &in.db)) { status = 1; goto done; }
    /* The collection and its space are checked once, before any file. */
    int rc = odx_collection_describe(in.db, in.coll, &info);
    if (rc) { status = cli_fail_rc(rc, "ingest"); goto done; }
    in.space = odx_info_space(info);
    if (!*in.space) {
        status = cli_fail("collection '%s' is bound to no space, so it cannot embed files; create it with --space "
                          "(or store vectors with put)", in.coll);
        goto done;
    }
    if ((rc = odx_space_info(in.db, in.space, NULL, &in.space_mods))) { status = cli_fail_rc(rc, "ingest"); goto done; }

    for (int i = 0; i < nargs; i++) add_arg(&in, args[i]);
    walk_pending(&in);
    dedupe(&in);
    size_t todo = 0;
    for (size_t i = 0; i < in.n; i++) todo += !(in.c[i].flags & C_DROP);

    /* Ctrl-C: finish the file in hand, report, exit 130; a second one
     * kills (every committed file is durable either way). */
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old);
    odx_batch_new(&in.b);
    progress_start(&in.pg, "ingest", todo);
    size_t done_n = 0;
    for (size_t i = 0; i < in.n && !interrupted; i++) {
        if (in.c[i].flags & C_DROP) continue;
        ingest_one(&in, &in.c[i]);
        progress_update(&in.pg, ++done_n);
    }
    progress_end(&in.pg);
    sigaction(SIGINT, &old, NULL);
    double el = odx_now_mono() - in.pg.start;
    if (!g->quiet || in.failed || interrupted) print_summary(&in, el);
    size_t unused = 0;
    long first = 0;
    for (size_t i = 0; i < in.nman; i++)
        if (!in.man[i].used && !unused++) first = in.man[i].line;
    if (unused && !interrupted)
        fprintf(stderr, "omnidex: warning: %s: %zu line%s matched no ingested file (first: line %ld)\n", in.manifest, unused,
                unused == 1 ? "" : "s", first);
    if (interrupted) {
        fprintf(stderr, "omnidex: interrupted: %zu items committed to '%s' (%zu of %zu files done); run the same "
                "command again to resume: files stored unchanged are skipped\n", in.items, in.coll, done_n, todo);
        status = 130;
    } else {
        status = in.failed ? 1 : 0;
    }
done:
    for (size_t i = 0; i < in.n; i++) { odx_free(in.c[i].path); odx_free(in.c[i].id); }
    for (size_t i = 0; i < in.nman; i++) { odx_free(in.man[i].id); odx_meta_free(in.man[i].meta); }
    odx_free(in.man);
    odx_free(in.c);
    odx_free(in.dirs);
    odx_free(in.pend);
    odx_batch_free(in.b);
    odx_meta_free(in.meta);
    odx_collection_info_free(info);
    odx_db_close(in.db);
    odx_free(args);
    odx_free(in.inc);
    odx_free(in.exc);
    return status;
}
