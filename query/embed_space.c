/* The encoders as the engine uses them (engine.h, "The encoders"), in
 * libomnidex.a: each collection bound to a space embeds through that
 * space's encoders; media named by URI is fetched first (fetch.c) under the
 * handle's policy. Spaces are opened on first use and cached for the life
 * of the database handle (an odx_space is thread-safe). The vector-only
 * libomnidex-core.a links embed_none.c in this file's place. */
#include <dirent.h>
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

void odx_encoders_close(odx_engine *db)
{
    for (size_t i = 0; i < db->nspaces; i++) odx_space_close(db->spaces[i]);
    db->nspaces = 0;
}

int odx_encoders_space_info(odx_engine *db, const char *space, int *dim, unsigned *modalities)
{
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

int odx_encoders_embed(odx_engine *db, const char *coll, const char *space, int dim, odx_modality m, const void *data,
                       size_t len, const char *uri, float *out)
{
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

static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

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
