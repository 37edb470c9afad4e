/* Spaces over model directories (see space.h). */
#include "encoders/space.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/file.h"
#include "common/util.h"
#include "encoders/media/audio.h"
#include "encoders/media/mesh.h"
#include "encoders/media/render.h"
#include "encoders/media/video.h"
#include "encoders/models/audio_tower.h"
#include "encoders/models/clip.h"
#include "encoders/models/point_tower.h"
#include "encoders/runtime/ops.h"

#define SPACE_JSON_MAX (1u << 20)

struct odx_space {
    char name[129];
    char dir[4096]; /* where it was opened from */
    int dim;
    int has[ODX_MODALITY_COUNT];
    int listed[ODX_MODALITY_COUNT]; /* space.json's modalities (all when absent) */
    odx_clip *clip;
    /* Towers beyond CLIP's two, over the same weights (docs/modalities.md).
     * Their passes share one arena, serialised by lock. */
    odx_audio_tower *audio;
    odx_point_tower *point;
    odx_arena arena;
    pthread_mutex_t lock;
    int lock_init;
    /* video: frames sampled, weight of the soundtrack; mesh: rendered views */
    int video_frames;
    float video_audio_weight;
    int mesh_views, mesh_size;
    double audio_max_seconds, video_max_seconds;
};

/* The default search path when $OMNIDEX_MODELS is unset: the user's own
 * directory first (where 'models pull' writes), then the spaces shipped with
 * this program, found beside its executable as <bin>/../share/omnidex/models
 * (make install lays them out so; the build tree has build/share too), then
 * the usual system share directories. */
static int default_path(char *buf, size_t cap)
{
    const char *home = getenv("HOME");
    size_t n = 0;
    int w = snprintf(buf, cap, "%s/.omnidex/models", home && *home ? home : ".");
    if (w < 0 || (size_t)w >= cap) return odx_error(ODX_EINVAL, "models directory path too long");
    n = (size_t)w;
    char exe[4096];
    ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
    const char *extra[3] = {NULL, "/usr/local/share/omnidex/models", "/usr/share/omnidex/models"};
    char shipped[4096 + 32];
    if (el > 0) {
        exe[el] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            snprintf(shipped, sizeof shipped, "%s/../share/omnidex/models", exe);
            char real[PATH_MAX];
            /* Absent: nothing shipped beside this program (a test binary). */
            if (realpath(shipped, real)) {
                snprintf(shipped, sizeof shipped, "%s", real);
                extra[0] = shipped;
            }
        }
    }
    for (int i = 0; i < 3; i++) {
        if (!extra[i]) continue;
        w = snprintf(buf + n, cap - n, ":%s", extra[i]);
        if (w < 0 || (size_t)w >= cap - n) break; /* the fallbacks are optional */
        n += (size_t)w;
    }
    return 0;
}

int odx_models_path(char *buf, size_t cap)
{
    const char *env = getenv("OMNIDEX_MODELS");
    if (env && *env) {
        int n = snprintf(buf, cap, "%s", env);
        if (n < 0 || (size_t)n >= cap) return odx_error(ODX_EINVAL, "OMNIDEX_MODELS is too long");
        return 0;
    }
    return default_path(buf, cap);
}

int odx_models_dir(char *buf, size_t cap)
{
    char path[8192];
    int rc = odx_models_path(path, sizeof path);
    if (rc) return rc;
    size_t n = strcspn(path, ":");
    if (n >= cap) return odx_error(ODX_EINVAL, "models directory path too long");
    memcpy(buf, path, n);
    buf[n] = 0;
    return 0;
}

int odx_models_path_next(const char **cursor, char *dir, size_t cap)
{
    const char *p = *cursor;
    while (p && *p) {
        size_t n = strcspn(p, ":");
        const char *next = p[n] ? p + n + 1 : p + n;
        if (n > 0 && n < cap) {
            memcpy(dir, p, n);
            dir[n] = 0;
            *cursor = next;
            return 1;
        }
        p = next;
    }
    *cursor = p;
    return 0;
}

void odx_space_close(odx_space *s)
{
    if (!s) return;
    odx_audio_tower_close(s->audio);
    odx_point_tower_close(s->point);
    odx_arena_free(&s->arena);
    if (s->lock_init) pthread_mutex_destroy(&s->lock);
    odx_clip_close(s->clip);
    odx_free(s);
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

/* A number member of obj in [lo, hi], or def when absent. */
static int opt_number(const cJSON *obj, const char *section, const char *key, double lo, double hi, double def,
                      double *out)
{
    const cJSON *v = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    if (!v) { *out = def; return 0; }
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi))
        return odx_error(ODX_EINVAL, "space.json: %s.%s must be a number in [%g, %g]", section, key, lo, hi);
    *out = v->valuedouble;
    return 0;
}

/* "video": {"frames", "audio_weight", "max_seconds"}, "mesh": {"views",
 * "size"}, "audio": {"max_seconds"} (docs/modalities.md). */
static int parse_media_options(odx_space *s, const cJSON *root)
{
    const cJSON *video = cJSON_GetObjectItemCaseSensitive(root, "video");
    const cJSON *mesh = cJSON_GetObjectItemCaseSensitive(root, "mesh");
    const cJSON *audio = cJSON_GetObjectItemCaseSensitive(root, "audio");
    if ((video && !cJSON_IsObject(video)) || (mesh && !cJSON_IsObject(mesh)) || (audio && !cJSON_IsObject(audio)))
        return odx_error(ODX_EINVAL, "space.json: video, mesh and audio must be objects");
    double v;
    int rc;
    if ((rc = opt_number(video, "video", "frames", 1, 256, 8, &v))) return rc;
    s->video_frames = (int)v;
    if ((rc = opt_number(video, "video", "audio_weight", 0, 1, 0, &v))) return rc;
    s->video_audio_weight = (float)v;
    if ((rc = opt_number(video, "video", "max_seconds", 1, 86400, 7200, &s->video_max_seconds))) return rc;
    if ((rc = opt_number(audio, "audio", "max_seconds", 1, 86400, 600, &s->audio_max_seconds))) return rc;
    if ((rc = opt_number(mesh, "mesh", "views", 1, 64, 6, &v))) return rc;
    s->mesh_views = (int)v;
    if ((rc = opt_number(mesh, "mesh", "size", 0, 1024, 0, &v))) return rc;
    s->mesh_size = (int)v;
    return 0;
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
        if (!cJSON_IsString(name) || !odx_name_valid(name->valuestring, strlen(name->valuestring), ODX_MAX_NAME_LEN,
                                                     ODX_NAME_NO_LEADING_DOT)) {
            rc = odx_error(ODX_EINVAL, "space.json: bad name");
            goto out;
        }
        snprintf(s->name, sizeof s->name, "%s", name->valuestring);
    }
    const cJSON *mods = cJSON_GetObjectItemCaseSensitive(root, "modalities");
    if (mods) {
        if (!cJSON_IsArray(mods)) { rc = odx_error(ODX_EINVAL, "space.json: modalities must be an array"); goto out; }
        memset(s->listed, 0, sizeof s->listed);
        for (const cJSON *m = mods->child; m; m = m->next) {
            odx_modality md;
            if (!cJSON_IsString(m) || odx_modality_parse(m->valuestring, &md) || md == ODX_MODALITY_VECTOR) {
                rc = odx_error(ODX_EUNSUPPORTED, "space.json: unknown modality '%.32s' (text, image, audio, video, 3d)",
                               cJSON_IsString(m) ? m->valuestring : "?");
                goto out;
            }
            s->listed[md] = 1;
        }
    }
    if ((rc = parse_media_options(s, root))) goto out;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const char *rel = cJSON_IsString(model) ? model->valuestring : ".";
    if (model && !cJSON_IsString(model)) { rc = odx_error(ODX_EINVAL, "space.json: model must be a path"); goto out; }
    int n = rel[0] == '/' ? snprintf(model_dir, cap, "%s", rel) : snprintf(model_dir, cap, "%s/%s", dir, rel);
    if (n < 0 || (size_t)n >= cap) { rc = odx_error(ODX_EINVAL, "space.json: model path too long"); goto out; }
    const cJSON *dim = cJSON_GetObjectItemCaseSensitive(root, "dim");
    if (dim && (!cJSON_IsNumber(dim) || !(dim->valuedouble >= 1 && dim->valuedouble <= ODX_MAX_DIM))) {
        rc = odx_error(ODX_EINVAL, "space.json: dim must be a number in [1, %d]", ODX_MAX_DIM);
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

/* The audio and point towers named by config.json (audio_config,
 * point_config) whose first weight is in the checkpoint. */
static int open_extra_towers(odx_space *s, const char *model_dir)
{
    char path[4200], *json = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/config.json", model_dir);
    int rc = odx_read_file(path, SPACE_JSON_MAX, &json, &len);
    if (rc) return rc == ODX_ENOTFOUND ? 0 : rc;
    cJSON *root = cJSON_ParseWithLength(json, len);
    odx_free(json);
    if (!root) return odx_error(ODX_ECORRUPT, "config.json is not JSON");
    odx_st *st = odx_clip_weights(s->clip);
    int proj = odx_clip_dim(s->clip);
    const cJSON *ac = cJSON_GetObjectItemCaseSensitive(root, "audio_config");
    const cJSON *pc = cJSON_GetObjectItemCaseSensitive(root, "point_config");
    if (cJSON_IsObject(ac) && odx_st_find(st, "audio_model.embeddings.patch_embedding.weight"))
        rc = odx_audio_tower_load(st, ac, proj, &s->audio);
    if (!rc && cJSON_IsObject(pc) && odx_st_find(st, "point_model.group_encoder.first.0.weight"))
        rc = odx_point_tower_load(st, pc, proj, &s->point);
    cJSON_Delete(root);
    return rc;
}

int odx_space_open(const char *dir, odx_space **out)
{
    odx_space *s = odx_calloc(1, sizeof *s);
    if (!s) return odx_error(ODX_ENOMEM, "out of memory");
    char path[4096], model_dir[4096];
    base_name(dir, s->name, sizeof s->name);
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    for (int m = 1; m < ODX_MODALITY_COUNT; m++) s->listed[m] = 1;
    s->video_frames = 8;
    s->video_max_seconds = 7200;
    s->audio_max_seconds = 600;
    s->mesh_views = 6;
    odx_arena_init(&s->arena);
    pthread_mutex_init(&s->lock, NULL);
    s->lock_init = 1;
    s->dim = -1;
    snprintf(model_dir, sizeof model_dir, "%s", dir);
    int n = snprintf(path, sizeof path, "%s/space.json", dir), rc;
    if (n < 0 || (size_t)n >= sizeof path) { odx_free(s); return odx_error(ODX_EINVAL, "space path too long"); }
    char *json = NULL;
    size_t len = 0;
    rc = odx_read_file(path, SPACE_JSON_MAX, &json, &len);
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
    if ((rc = open_extra_towers(s, model_dir))) {
        rc = odx_error_wrap(rc, "space %s", s->name);
        odx_space_close(s);
        return rc;
    }
    int vision = odx_clip_has_vision(s->clip);
    s->has[ODX_MODALITY_TEXT] = s->listed[ODX_MODALITY_TEXT] && odx_clip_has_text(s->clip);
    s->has[ODX_MODALITY_IMAGE] = s->listed[ODX_MODALITY_IMAGE] && vision;
    s->has[ODX_MODALITY_AUDIO] = s->listed[ODX_MODALITY_AUDIO] && s->audio;
    s->has[ODX_MODALITY_VIDEO] = s->listed[ODX_MODALITY_VIDEO] && vision;
    s->has[ODX_MODALITY_MESH] = s->listed[ODX_MODALITY_MESH] && (s->point || vision);
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
    if (!odx_name_valid(name, name ? strlen(name) : 0, ODX_MAX_NAME_LEN, ODX_NAME_NO_LEADING_DOT))
        return odx_error(ODX_EINVAL, "bad space name '%.64s'", name ? name : "(null)");
    char mpath[8192], dir[4096], path[4096 + 130];
    int rc = odx_models_path(mpath, sizeof mpath);
    if (rc) return rc;
    /* The first directory of the search path that holds the name wins. */
    const char *cur = mpath;
    while (odx_models_path_next(&cur, dir, sizeof dir)) {
        snprintf(path, sizeof path, "%s/%s", dir, name);
        struct stat sb;
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) return odx_space_open(path, out);
    }
    return odx_error(ODX_ENOTFOUND, "space '%s' is not installed (looked in %s)", name, mpath);
}

const char *odx_space_name(const odx_space *s) { return s->name; }
const char *odx_space_dir(const odx_space *s) { return s->dir; }
int odx_space_dim(const odx_space *s) { return s->dim; }

int odx_space_supports(const odx_space *s, odx_modality m)
{
    return (int)m >= 0 && (int)m < ODX_MODALITY_COUNT && s->has[m];
}

/* The mean of n unit rows, normalised, into out. */
static void mean_pool(const float *rows, int n, int dim, float *out)
{
    memset(out, 0, (size_t)dim * sizeof *out);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < dim; j++) out[j] += rows[(size_t)i * dim + j];
    odx_op_l2norm_rows(out, 1, dim);
}

static int embed_audio(odx_space *s, const void *data, size_t len, float *out)
{
    odx_pcm pcm = {0};
    int rate = odx_audio_tower_config(s->audio)->fbank.sample_rate;
    int rc = odx_audio_decode(data, len, rate, s->audio_max_seconds, &pcm);
    if (rc) return rc;
    pthread_mutex_lock(&s->lock);
    rc = odx_audio_tower_embed_pcm(s->audio, &s->arena, pcm.samples, pcm.n, out);
    odx_arena_reset(&s->arena);
    pthread_mutex_unlock(&s->lock);
    odx_pcm_free(&pcm);
    return rc;
}

/* Frames through the image tower, mean-pooled; the soundtrack fused by
 * audio_weight when the space hears and the file has sound. */
static int embed_video(odx_space *s, const void *data, size_t len, float *out)
{
    odx_video_opts o = {0};
    o.frames = s->video_frames;
    o.max_seconds = s->video_max_seconds;
    int fuse = s->audio && s->has[ODX_MODALITY_AUDIO] && s->video_audio_weight > 0;
    if (fuse) o.audio_rate = odx_audio_tower_config(s->audio)->fbank.sample_rate;
    odx_video v = {0};
    int rc = odx_video_decode(data, len, &o, &v);
    if (rc) return rc;
    float *rows = odx_malloc((size_t)(v.n_frames + 1) * s->dim * sizeof *rows);
    if (!rows) rc = odx_error(ODX_ENOMEM, "out of memory");
    else if (v.n_frames <= 0) rc = odx_error(ODX_EMEDIA, "video: no frame could be decoded");
    if (!rc) rc = odx_clip_embed_images(s->clip, v.frames, v.n_frames, rows);
    if (!rc) {
        mean_pool(rows, v.n_frames, s->dim, out);
        if (fuse && v.has_audio && v.audio_n > 0) {
            float *a = rows + (size_t)v.n_frames * s->dim, w = s->video_audio_weight;
            pthread_mutex_lock(&s->lock);
            rc = odx_audio_tower_embed_pcm(s->audio, &s->arena, v.audio, v.audio_n, a);
            odx_arena_reset(&s->arena);
            pthread_mutex_unlock(&s->lock);
            for (int j = 0; !rc && j < s->dim; j++) out[j] = (1 - w) * out[j] + w * a[j];
            if (!rc) odx_op_l2norm_rows(out, 1, s->dim);
        }
    }
    odx_free(rows);
    odx_video_free(&v);
    return rc;
}

/* A point tower when the space has one; otherwise depth views of the mesh
 * through the image tower, mean-pooled. */
static int embed_mesh(odx_space *s, const void *data, size_t len, float *out)
{
    odx_mesh mesh = {0};
    int rc = odx_mesh_decode(data, len, NULL, &mesh);
    if (rc) return rc;
    if (s->point) {
        pthread_mutex_lock(&s->lock);
        rc = odx_point_tower_embed_mesh(s->point, &s->arena, &mesh, out);
        odx_arena_reset(&s->arena);
        pthread_mutex_unlock(&s->lock);
    } else {
        int size = s->mesh_size > 0 ? s->mesh_size : odx_clip_get_config(s->clip)->vision.image_size;
        odx_image *views = odx_calloc((size_t)s->mesh_views, sizeof *views);
        float *rows = odx_malloc((size_t)s->mesh_views * s->dim * sizeof *rows);
        if (!views || !rows) rc = odx_error(ODX_ENOMEM, "out of memory");
        if (!rc) rc = odx_render_depth_views(&mesh, s->mesh_views, size, views);
        if (!rc) rc = odx_clip_embed_images(s->clip, views, s->mesh_views, rows);
        if (!rc) mean_pool(rows, s->mesh_views, s->dim, out);
        for (int i = 0; views && i < s->mesh_views; i++) odx_image_free(&views[i]);
        odx_free(views);
        odx_free(rows);
    }
    odx_mesh_free(&mesh);
    return rc;
}

int odx_space_embed(odx_space *s, odx_modality m, const void *const *data, const size_t *len, int n,
                    float *out)
{
    if (!odx_space_supports(s, m))
        return odx_error(ODX_EPRECOND, "space %s has no %s encoder", s->name,
                         odx_modality_name(m) ? odx_modality_name(m) : "such");
    if (m == ODX_MODALITY_IMAGE) return odx_clip_embed_image_bytes(s->clip, data, len, n, out);
    if (m == ODX_MODALITY_AUDIO || m == ODX_MODALITY_VIDEO || m == ODX_MODALITY_MESH) {
        int rc = 0;
        for (int i = 0; i < n && !rc; i++) {
            float *o = out + (size_t)i * s->dim;
            rc = m == ODX_MODALITY_AUDIO ? embed_audio(s, data[i], len[i], o)
               : m == ODX_MODALITY_VIDEO ? embed_video(s, data[i], len[i], o)
                                         : embed_mesh(s, data[i], len[i], o);
            if (rc && n > 1) rc = odx_error_wrap(rc, "%s %d", odx_modality_name(m), i);
        }
        return rc;
    }
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
