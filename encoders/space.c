/* Spaces over model directories (see space.h). */
#include "encoders/space.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/alloc.h"
#include "common/error.h"
#include "encoders/models/clip.h"

#define SPACE_JSON_MAX (1u << 20)

struct odx_space {
    char name[129];
    int dim;
    int has[ODX_MODALITY_COUNT];
    odx_clip *clip;
};

int odx_models_dir(char *buf, size_t cap)
{
    const char *env = getenv("OMNIDEX_MODELS");
    const char *home = getenv("HOME");
    int n = env && *env ? snprintf(buf, cap, "%s", env)
                        : snprintf(buf, cap, "%s/.omnidex/models", home && *home ? home : ".");
    if (n < 0 || (size_t)n >= cap) return odx_error(ODX_EINVAL, "models directory path too long");
    return 0;
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128 || s[0] == '.') return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

void odx_space_close(odx_space *s)
{
    if (!s) return;
    odx_clip_close(s->clip);
    odx_free(s);
}

static int read_small(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return errno == ENOENT ? ODX_ENOTFOUND : odx_error(ODX_EIO, "%s: %s", path, strerror(errno));
    char *buf = odx_malloc(SPACE_JSON_MAX);
    if (!buf) { fclose(f); return odx_error(ODX_ENOMEM, "out of memory"); }
    size_t n = fread(buf, 1, SPACE_JSON_MAX, f);
    int big = n == SPACE_JSON_MAX;
    fclose(f);
    if (big) { odx_free(buf); return odx_error(ODX_EINVAL, "%s: over %u bytes", path, SPACE_JSON_MAX); }
    *out = buf;
    *len = n;
    return 0;
}

static const char *base_name(const char *dir, char *buf, size_t cap)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && dir[b - 1] != '/') b--;
    size_t l = n - b < cap - 1 ? n - b : cap - 1;
    memcpy(buf, dir + b, l);
    buf[l] = 0;
    return buf;
}

/* Applies space.json on top of the defaults; model_dir receives the model path. */
static int parse_space_json(odx_space *s, const char *dir, const char *json, size_t len, char *model_dir, size_t cap)
{
    cJSON *root = cJSON_ParseWithLength(json, len);
    int rc = 0;
    if (!root || !cJSON_IsObject(root)) { rc = odx_error(ODX_EINVAL, "space.json: not a JSON object"); goto out; }
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    if (fmt && (!cJSON_IsNumber(fmt) || fmt->valuedouble != 1)) {
        rc = odx_error(ODX_EVERSION, "space.json: format %g is not supported (this build reads format 1)",
                       cJSON_IsNumber(fmt) ? fmt->valuedouble : -1.0);
        goto out;
    }
    const cJSON *fam = cJSON_GetObjectItemCaseSensitive(root, "family");
    if (fam && (!cJSON_IsString(fam) || strcmp(fam->valuestring, "clip") != 0)) {
        rc = odx_error(ODX_EUNSUPPORTED, "space.json: family '%.32s' is not supported (clip is)",
                       cJSON_IsString(fam) ? fam->valuestring : "?");
        goto out;
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
    if (name) {
        if (!cJSON_IsString(name) || !valid_name(name->valuestring)) { rc = odx_error(ODX_EINVAL, "space.json: bad name"); goto out; }
        snprintf(s->name, sizeof s->name, "%s", name->valuestring);
    }
    const cJSON *mods = cJSON_GetObjectItemCaseSensitive(root, "modalities");
    if (mods) {
        if (!cJSON_IsArray(mods)) { rc = odx_error(ODX_EINVAL, "space.json: modalities must be an array"); goto out; }
        memset(s->has, 0, sizeof s->has);
        for (const cJSON *m = mods->child; m; m = m->next) {
            if (cJSON_IsString(m) && strcmp(m->valuestring, "text") == 0) s->has[ODX_MODALITY_TEXT] = 1;
            else if (cJSON_IsString(m) && strcmp(m->valuestring, "image") == 0) s->has[ODX_MODALITY_IMAGE] = 1;
            else { rc = odx_error(ODX_EUNSUPPORTED, "space.json: modality '%.32s' has no encoder in a clip space",
                                  cJSON_IsString(m) ? m->valuestring : "?"); goto out; }
        }
    }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const char *rel = cJSON_IsString(model) ? model->valuestring : ".";
    if (model && !cJSON_IsString(model)) { rc = odx_error(ODX_EINVAL, "space.json: model must be a path"); goto out; }
    int n = rel[0] == '/' ? snprintf(model_dir, cap, "%s", rel) : snprintf(model_dir, cap, "%s/%s", dir, rel);
    if (n < 0 || (size_t)n >= cap) { rc = odx_error(ODX_EINVAL, "space.json: model path too long"); goto out; }
    const cJSON *dim = cJSON_GetObjectItemCaseSensitive(root, "dim");
    if (dim && (!cJSON_IsNumber(dim) || !(dim->valuedouble >= 1 && dim->valuedouble <= 65536))) {
        rc = odx_error(ODX_EINVAL, "space.json: dim must be a number in [1, 65536]");
        goto out;
    }
    s->dim = dim ? (int)dim->valuedouble : -1;
    const cJSON *metric = cJSON_GetObjectItemCaseSensitive(root, "metric");
    if (metric && (!cJSON_IsString(metric) || strcmp(metric->valuestring, "cosine") != 0)) {
        rc = odx_error(ODX_EUNSUPPORTED, "space.json: only metric \"cosine\" is supported");
        goto out;
    }
out:
    cJSON_Delete(root);
    return rc;
}

int odx_space_open(const char *dir, odx_space **out)
{
    odx_space *s = odx_calloc(1, sizeof *s);
    if (!s) return odx_error(ODX_ENOMEM, "out of memory");
    char path[4096], model_dir[4096];
    base_name(dir, s->name, sizeof s->name);
    s->has[ODX_MODALITY_TEXT] = s->has[ODX_MODALITY_IMAGE] = 1;
    s->dim = -1;
    snprintf(model_dir, sizeof model_dir, "%s", dir);
    int n = snprintf(path, sizeof path, "%s/space.json", dir), rc;
    if (n < 0 || (size_t)n >= sizeof path) { odx_free(s); return odx_error(ODX_EINVAL, "space path too long"); }
    char *json = NULL;
    size_t len = 0;
    rc = read_small(path, &json, &len);
    if (rc == 0) {
        rc = parse_space_json(s, dir, json, len, model_dir, sizeof model_dir);
        odx_free(json);
        if (rc) { odx_space_close(s); return odx_error_wrap(rc, "space %s", dir); }
    } else if (rc != ODX_ENOTFOUND) {
        odx_space_close(s);
        return rc;
    } else {
        struct stat sb;
        snprintf(path, sizeof path, "%s/config.json", dir);
        if (stat(path, &sb) != 0) {
            odx_space_close(s);
            return odx_error(ODX_ENOTFOUND, "%s holds neither space.json nor a model config.json", dir);
        }
    }
    if ((rc = odx_clip_open(model_dir, &s->clip))) {
        rc = odx_error_wrap(rc, "space %s", s->name);
        odx_space_close(s);
        return rc;
    }
    int want_text = s->has[ODX_MODALITY_TEXT], want_image = s->has[ODX_MODALITY_IMAGE];
    s->has[ODX_MODALITY_TEXT] = want_text && odx_clip_has_text(s->clip);
    s->has[ODX_MODALITY_IMAGE] = want_image && odx_clip_has_vision(s->clip);
    if (s->dim >= 0 && s->dim != odx_clip_dim(s->clip)) {
        rc = odx_error(ODX_ECORRUPT, "space %s: space.json says dim %d but the model projects to %d",
                       s->name, s->dim, odx_clip_dim(s->clip));
        odx_space_close(s);
        return rc;
    }
    s->dim = odx_clip_dim(s->clip);
    *out = s;
    return 0;
}

int odx_space_open_name(const char *name, odx_space **out)
{
    if (!valid_name(name)) return odx_error(ODX_EINVAL, "bad space name '%.64s'", name);
    char dir[4096], path[4096 + 130];
    int rc = odx_models_dir(dir, sizeof dir);
    if (rc) return rc;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return odx_space_open(path, out);
}

const char *odx_space_name(const odx_space *s) { return s->name; }
int odx_space_dim(const odx_space *s) { return s->dim; }

int odx_space_supports(const odx_space *s, odx_modality m)
{
    return (int)m >= 0 && (int)m < ODX_MODALITY_COUNT && s->has[m];
}

int odx_space_embed(odx_space *s, odx_modality m, const void *const *data, const size_t *len, int n,
                    float *out)
{
    if (!odx_space_supports(s, m))
        return odx_error(ODX_EPRECOND, "space %s has no %s encoder", s->name,
                         odx_modality_name(m) ? odx_modality_name(m) : "such");
    if (m == ODX_MODALITY_IMAGE) return odx_clip_embed_image_bytes(s->clip, data, len, n, out);
    /* Text: copy into NUL-terminated strings for the tokenizer. */
    char **t = odx_calloc(n > 0 ? (size_t)n : 1, sizeof *t);
    int rc = t ? 0 : odx_error(ODX_ENOMEM, "out of memory");
    for (int i = 0; i < n && !rc; i++) {
        if (memchr(data[i], 0, len[i])) rc = odx_error(ODX_EINVAL, "text %d contains a NUL byte", i);
        else if (!(t[i] = odx_strndup(data[i], len[i]))) rc = odx_error(ODX_ENOMEM, "out of memory");
    }
    if (!rc) rc = odx_clip_embed_texts(s->clip, (const char *const *)t, n, out);
    for (int i = 0; t && i < n; i++) odx_free(t[i]);
    odx_free(t);
    return rc;
}
