/* Turning text and media payloads into vectors: each collection bound to a
 * space embeds through that space's encoders. Spaces are opened on first use
 * and cached for the life of the database handle (an odx_space is
 * thread-safe). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "encoders/space.h"
#include "query/engine.h"

static int space_get(odx_engine *db, const char *name, odx_space **out)
{
    pthread_mutex_lock(&db->spmu);
    for (size_t i = 0; i < db->nspaces; i++) {
        if (!strcmp(odx_space_name(db->spaces[i]), name) || !strcmp(db->space_names[i], name)) {
            *out = db->spaces[i];
            pthread_mutex_unlock(&db->spmu);
            return 0;
        }
    }
    odx_space *s;
    int rc = odx_space_open_name(name, &s);
    if (rc == ODX_ENOTFOUND) {
        char path[8192] = "";
        odx_models_path(path, sizeof path);
        rc = odx_error(ODX_EPRECOND, "space '%s' is not installed (looked in %s; set OMNIDEX_MODELS or run 'omnidex models pull')",
                       name, path);
    } else if (rc == ODX_ECORRUPT || rc == ODX_EINVAL || rc == ODX_EVERSION) {
        /* A broken model directory: the request is fine, the server is not
         * ready to serve it ('omnidex models verify' says why). */
        rc = odx_error_wrap(ODX_EPRECOND, "space '%s' cannot be opened", name);
    }
    if (!rc && db->nspaces >= sizeof db->spaces / sizeof db->spaces[0]) {
        odx_space_close(s);
        rc = odx_error(ODX_ELIMIT, "too many spaces open");
    }
    if (!rc) {
        snprintf(db->space_names[db->nspaces], sizeof db->space_names[0], "%s", name);
        db->spaces[db->nspaces++] = s;
        *out = s;
    }
    pthread_mutex_unlock(&db->spmu);
    return rc;
}

void odx_engine_spaces_close(odx_engine *db)
{
    for (size_t i = 0; i < db->nspaces; i++) odx_space_close(db->spaces[i]);
    db->nspaces = 0;
}

int odx_engine_space_check(odx_engine *db, const char *space, int dim)
{
    odx_space *s;
    int rc = space_get(db, space, &s);
    if (rc) return rc;
    if (odx_space_dim(s) != dim)
        return odx_error(ODX_EDIM, "space '%s' embeds into %d dimensions, not %d", space, odx_space_dim(s), dim);
    return 0;
}

int odx_engine_embed(odx_engine *db, const char *coll, const char *space, int dim, odx_modality m, const void *data,
                     size_t len, const char *uri, float *out)
{
    if (!space || !*space)
        return odx_error(ODX_EPRECOND, "collection '%s' is bound to no space, so it cannot embed %s; send vectors, "
                         "or create the collection with --space", coll, odx_modality_name(m));
    if (!data && !uri) return odx_error(ODX_EINVAL, "payload has neither bytes nor a URI");
    odx_space *s;
    int rc = space_get(db, space, &s);
    if (rc) return rc;
    if (!odx_space_supports(s, m))
        return odx_error(ODX_EPRECOND, "space '%s' of collection '%s' has no %s encoder", space, coll,
                         odx_modality_name(m));
    if (odx_space_dim(s) != dim)
        return odx_error(ODX_EDIM, "space '%s' embeds into %d dimensions; collection '%s' has %d", space,
                         odx_space_dim(s), coll, dim);
    void *fetched = NULL;
    if (!data) {
        if ((rc = odx_fetch(&db->fetch, uri, &fetched, &len))) return rc;
        data = fetched;
    }
    const void *d[1] = {data};
    size_t l[1] = {len};
    rc = odx_space_embed(s, m, d, l, 1, out);
    if (rc && fetched) rc = odx_error_wrap(rc, "%.200s", uri);
    odx_free(fetched);
    return rc;
}

int odx_engine_set_option(odx_engine *db, const char *name, const char *value)
{
    if (!db || !name || !value) return odx_error(ODX_EINVAL, "NULL argument");
    char *end = NULL;
    if (!strcmp(name, "fetch.allow_private")) {
        if (strcmp(value, "0") && strcmp(value, "1")) return odx_error(ODX_EINVAL, "fetch.allow_private is 0 or 1");
        db->fetch.allow_private = value[0] == '1';
        return 0;
    }
    if (!strcmp(name, "fetch.file_root")) return odx_fetch_policy_add_root(&db->fetch, value);
    if (!strcmp(name, "fetch.max_bytes") || !strcmp(name, "fetch.timeout_ms")) {
        errno = 0;
        unsigned long long v = strtoull(value, &end, 10);
        if (errno || end == value || *end || v == 0 || v > (1ull << 40) || value[0] == '-')
            return odx_error(ODX_EINVAL, "%s must be a positive integer", name);
        if (name[6] == 'm') db->fetch.max_bytes = (size_t)v;
        else db->fetch.timeout_ms = (long)v;
        return 0;
    }
    return odx_error(ODX_EINVAL, "unknown option '%.64s' (fetch.allow_private, fetch.file_root, fetch.max_bytes, "
                     "fetch.timeout_ms)", name);
}

int odx_engine_embed_payload(odx_engine *db, const char *space, odx_modality m, const void *data, size_t len, const char *uri,
              float **vec, int *dim)
{
    if (!db || !space) return odx_error(ODX_EINVAL, "NULL argument");
    if (m == ODX_MODALITY_VECTOR || (int)m < 0 || (int)m >= ODX_MODALITY_COUNT)
        return odx_error(ODX_EINVAL, "embedding needs a text or media modality");
    odx_space *s;
    int rc = space_get(db, space, &s);
    if (rc) return rc;
    int d = odx_space_dim(s);
    float *v = odx_malloc((size_t)d * sizeof *v);
    if (!v) return odx_error(ODX_ENOMEM, "out of memory");
    if ((rc = odx_engine_embed(db, "(embed)", space, d, m, data, len, uri, v))) { odx_free(v); return rc; }
    *vec = v;
    *dim = d;
    return 0;
}

int odx_engine_space_info(odx_engine *db, const char *space, int *dim, unsigned *modalities)
{
    if (!db || !space) return odx_error(ODX_EINVAL, "NULL argument");
    odx_space *s;
    int rc = space_get(db, space, &s);
    if (rc) return rc;
    unsigned mask = 0;
    for (int m = 1; m < ODX_MODALITY_COUNT; m++)
        if (odx_space_supports(s, (odx_modality)m)) mask |= 1u << m;
    if (dim) *dim = odx_space_dim(s);
    if (modalities) *modalities = mask;
    return 0;
}

static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int odx_engine_space_list(odx_engine *db, char ***names, size_t *count)
{
    return odx_space_list(names, count);
}

int odx_space_list(char ***names, size_t *count)
{
    char mpath[8192], dir[4096];
    int rc = odx_models_path(mpath, sizeof mpath);
    if (rc) return rc;
    char *found[256];
    size_t n = 0, bytes = 0;
    /* Every directory of the search path; a name seen earlier shadows the
     * same name further down (as odx_space_open_name resolves it). */
    const char *cur = mpath;
    while (odx_models_path_next(&cur, dir, sizeof dir) && n < 256) {
        DIR *d = opendir(dir);
        if (!d) continue; /* absent directories hold no spaces */
        struct dirent *e;
        while ((e = readdir(d)) && n < 256) {
            if (e->d_name[0] == '.') continue;
            char p1[4096 + 300], p2[4096 + 300];
            struct stat sb;
            snprintf(p1, sizeof p1, "%s/%s/space.json", dir, e->d_name);
            snprintf(p2, sizeof p2, "%s/%s/config.json", dir, e->d_name);
            if (stat(p1, &sb) && stat(p2, &sb)) continue;
            int dup = 0;
            for (size_t i = 0; i < n && !dup; i++) dup = !strcmp(found[i], e->d_name);
            if (dup) continue;
            if (!(found[n] = odx_strdup(e->d_name))) break;
            bytes += strlen(found[n]) + 1;
            n++;
        }
        closedir(d);
    }
    qsort(found, n, sizeof *found, name_cmp);
    char **out = odx_malloc((n + 1) * sizeof *out + bytes);
    if (out) {
        char *p = (char *)(out + n + 1);
        for (size_t i = 0; i < n; i++) {
            out[i] = p;
            size_t l = strlen(found[i]) + 1;
            memcpy(p, found[i], l);
            p += l;
        }
        out[n] = NULL;
    }
    for (size_t i = 0; i < n; i++) odx_free(found[i]);
    if (!out) return odx_error(ODX_ENOMEM, "out of memory");
    *names = out;
    *count = n;
    return 0;
}
