/* CLIP towers over HF weights (see clip.h).
 *
 * Vision: patches (conv with stride = kernel, as one GEMM) -> [CLS | patches]
 * + position embeddings -> pre_layrnorm (HF's spelling) -> encoder ->
 * post_layernorm on CLS -> visual_projection -> L2 norm.
 * Text: token + position embeddings -> causal encoder -> final_layer_norm at
 * the pooled position -> text_projection -> L2 norm. Because the mask is
 * causal and only the pooled position is read, each sequence is run only up
 * to that position, and sequences of different lengths are packed row-wise
 * into one batch (no padding work). */
#include "encoders/models/clip.h"
#include "encoders/models/hub.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/file.h"
#include "encoders/media/image.h"
#include "encoders/media/preprocess.h"
#include "encoders/models/transformer.h"
#include "encoders/models/vit.h"
#include "encoders/runtime/arena.h"
#include "encoders/runtime/ops.h"
#include "encoders/runtime/safetensors.h"
#include "encoders/tokenizer/clip_bpe.h"

#define CLIP_MAX_FILE (64u << 20) /* config / vocab / merges files */

/* The image tower is the generic ViT (vit.h) on 3 x S x S pixels. */
typedef odx_vit vision_tower;

typedef struct text_tower {
    odx_tf_encoder enc;
    const float *tok, *pos, *final_g, *final_b, *proj;
} text_tower;

struct odx_clip {
    odx_clip_config cfg;
    odx_st *st;
    int has_text, has_vision;
    vision_tower v;
    text_tower t;
    odx_bpe *bpe;           /* NULL without vocab.json/merges.txt */
    odx_clip_preproc pre;
    odx_arena arena;
    pthread_mutex_t lock;
};

/* Reads a whole (small) file; ODX_ENOTFOUND when missing. */
static int read_file(const char *dir, const char *name, char **out, size_t *len)
{
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof path) return odx_error(ODX_EINVAL, "model path too long");
    return odx_read_file(path, CLIP_MAX_FILE, out, len);
}

/* model.safetensors, or the shards listed by model.safetensors.index.json
 * (HF's layout for large checkpoints) merged into one handle. */
static int open_weights(const char *dir, odx_st **out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    int rc = odx_st_open(path, out);
    if (rc != ODX_ENOTFOUND) return rc;
    char *buf = NULL;
    size_t len = 0;
    int irc = read_file(dir, "model.safetensors.index.json", &buf, &len);
    if (irc == ODX_ENOTFOUND) return odx_error(ODX_ENOTFOUND, "no model.safetensors (nor model.safetensors.index.json)");
    if (irc) return irc;
    cJSON *root = cJSON_ParseWithLength(buf, len);
    odx_free(buf);
    const cJSON *map = root ? cJSON_GetObjectItemCaseSensitive(root, "weight_map") : NULL;
    odx_st *all = NULL;
    rc = 0;
    if (!cJSON_IsObject(map)) { rc = odx_error(ODX_ECORRUPT, "model.safetensors.index.json: no weight_map object"); goto out; }
    int shards = 0;
    for (const cJSON *e = map->child; e && !rc; e = e->next) {
        if (!cJSON_IsString(e) || !odx_model_file_name_ok(e->valuestring)) {
            rc = odx_error(ODX_ECORRUPT, "model.safetensors.index.json: bad shard name for '%.64s'", e->string);
            break;
        }
        int seen = 0; /* open each shard once, in first-mention order */
        for (const cJSON *p = map->child; p != e && !seen; p = p->next) seen = strcmp(p->valuestring, e->valuestring) == 0;
        if (seen) continue;
        if (++shards > 1000) { rc = odx_error(ODX_ECORRUPT, "model.safetensors.index.json: over 1000 shards"); break; }
        snprintf(path, sizeof path, "%s/%s", dir, e->valuestring);
        odx_st *one = NULL;
        if ((rc = odx_st_open(path, &one))) break;
        if (!all) all = one;
        else if ((rc = odx_st_merge(all, one))) odx_st_close(one);
    }
    for (const cJSON *e = map->child; e && !rc; e = e->next)
        if (!odx_st_find(all, e->string))
            rc = odx_error(ODX_ECORRUPT, "tensor '%.128s' is in weight_map but not in %s", e->string, e->valuestring);
    if (!rc && !all) rc = odx_error(ODX_ECORRUPT, "model.safetensors.index.json: empty weight_map");
out:
    cJSON_Delete(root);
    if (rc) { odx_st_close(all); return rc; }
    *out = all;
    return 0;
}

static int load_vision(odx_clip *m)
{
    const odx_tower_config *c = &m->cfg.vision;
    odx_vit_shape shape = {c->channels, c->image_size, c->image_size, c->patch_size, c->patch_size};
    int rc = odx_vit_load(m->st, "vision_model", "visual_projection.weight", c, &shape, m->cfg.proj_dim, &m->v);
    if (rc) return odx_error_wrap(rc, "vision tower");
    return 0;
}

static int load_text(odx_clip *m)
{
    const odx_tower_config *c = &m->cfg.text;
    text_tower *t = &m->t;
    int64_t h = c->hidden;
    const char *e = "text_model.";
    int rc;
    if ((rc = odx_tf_get(m->st, e, "embeddings.token_embedding.weight", 2, c->vocab_size, h, &t->tok)) ||
        (rc = odx_tf_get(m->st, e, "embeddings.position_embedding.weight", 2, c->max_positions, h, &t->pos)) ||
        (rc = odx_tf_get(m->st, e, "final_layer_norm.weight", 1, h, 0, &t->final_g)) ||
        (rc = odx_tf_get(m->st, e, "final_layer_norm.bias", 1, h, 0, &t->final_b)) ||
        (rc = odx_tf_get(m->st, "", "text_projection.weight", 2, m->cfg.proj_dim, h, &t->proj)) ||
        (rc = odx_tf_encoder_load(m->st, "text_model.encoder", c, &t->enc)))
        return odx_error_wrap(rc, "text tower");
    return 0;
}

void odx_clip_close(odx_clip *m)
{
    if (!m) return;
    odx_vit_free(&m->v);
    odx_tf_encoder_free(&m->t.enc);
    odx_bpe_close(m->bpe);
    odx_st_close(m->st);
    odx_arena_free(&m->arena);
    pthread_mutex_destroy(&m->lock);
    odx_free(m);
}

int odx_clip_open(const char *dir, odx_clip **out)
{
    odx_clip *m = odx_calloc(1, sizeof *m);
    if (!m) return odx_error(ODX_ENOMEM, "out of memory");
    odx_arena_init(&m->arena);
    pthread_mutex_init(&m->lock, NULL);
    odx_clip_preproc_default(&m->pre);
    char *buf = NULL, *buf2 = NULL;
    size_t len = 0, len2 = 0;
    int rc = read_file(dir, "config.json", &buf, &len);
    if (rc) goto fail;
    rc = odx_clip_config_parse(buf, len, &m->cfg);
    odx_free(buf);
    buf = NULL;
    if (rc) goto fail;
    if ((rc = open_weights(dir, &m->st))) goto fail;
    m->has_vision = m->cfg.has_vision && odx_st_find(m->st, "vision_model.embeddings.patch_embedding.weight");
    m->has_text = m->cfg.has_text && odx_st_find(m->st, "text_model.embeddings.token_embedding.weight");
    if (!m->has_vision && !m->has_text) {
        rc = odx_error(ODX_ECORRUPT, "%s: model.safetensors holds neither CLIP tower", dir);
        goto fail;
    }
    if (m->has_vision && (rc = load_vision(m))) goto fail;
    if (m->has_text && (rc = load_text(m))) goto fail;
    if (m->has_text) {
        rc = read_file(dir, "vocab.json", &buf, &len);
        if (rc == 0) rc = read_file(dir, "merges.txt", &buf2, &len2);
        if (rc == 0) rc = odx_bpe_open_bytes(buf, len, buf2, len2, &m->bpe);
        odx_free(buf);
        odx_free(buf2);
        buf = buf2 = NULL;
        if (rc == ODX_ENOTFOUND) rc = 0; /* ids-only use stays possible */
        if (rc) goto fail;
    }
    rc = read_file(dir, "preprocessor_config.json", &buf, &len);
    if (rc == 0) {
        rc = odx_clip_preproc_parse(buf, len, &m->pre);
        odx_free(buf);
        buf = NULL;
        if (rc) goto fail;
    } else if (rc == ODX_ENOTFOUND) { /* CLIP defaults at the model's own resolution */
        m->pre.shortest_edge = m->pre.crop_h = m->pre.crop_w = m->cfg.vision.image_size;
    } else {
        goto fail;
    }
    rc = 0;
    if (m->has_vision && (m->pre.crop_h != m->cfg.vision.image_size || m->pre.crop_w != m->cfg.vision.image_size)) {
        rc = odx_error(ODX_EINVAL, "preprocessor_config.json crops %dx%d but the model takes %dx%d",
                       m->pre.crop_w, m->pre.crop_h, m->cfg.vision.image_size, m->cfg.vision.image_size);
        goto fail;
    }
    *out = m;
    return 0;
fail:
    odx_clip_close(m);
    return odx_error_wrap(rc, "model %s", dir);
}

const odx_clip_config *odx_clip_get_config(const odx_clip *m) { return &m->cfg; }
int odx_clip_dim(const odx_clip *m) { return m->cfg.proj_dim; }
int odx_clip_has_text(const odx_clip *m) { return m->has_text; }
int odx_clip_has_vision(const odx_clip *m) { return m->has_vision; }
odx_st *odx_clip_weights(const odx_clip *m) { return m->st; }

/* Pooled rows -> layer norm -> projection -> L2 norm, into out[n, dim]. */
static int project(odx_clip *m, const float *pooled, int n, int hidden, const float *g,
                   const float *b, float eps, const float *proj, float *out)
{
    float *t = odx_arena_floats(&m->arena, (size_t)n * hidden);
    if (!t) return odx_error(ODX_ENOMEM, "out of memory");
    odx_op_layernorm(pooled, n, hidden, g, b, eps, t);
    odx_op_linear(t, n, hidden, proj, NULL, m->cfg.proj_dim, out);
    odx_op_l2norm_rows(out, n, m->cfg.proj_dim);
    return 0;
}

static int vision_forward(odx_clip *m, const float *pixels, int n, float *out)
{
    return odx_vit_forward(&m->v, pixels, n, out, &m->arena);
}

int odx_clip_embed_pixels(odx_clip *m, const float *pixels, int n, float *out)
{
    if (!m->has_vision) return odx_error(ODX_EPRECOND, "this model has no image tower");
    if (n <= 0) return n == 0 ? 0 : odx_error(ODX_EINVAL, "negative batch");
    pthread_mutex_lock(&m->lock);
    int rc = vision_forward(m, pixels, n, out);
    odx_arena_reset(&m->arena);
    pthread_mutex_unlock(&m->lock);
    return rc;
}

/* HF's pooling position for one sequence. */
static int pool_position(const odx_tower_config *c, const int32_t *ids, int len)
{
    int best = 0;
    if (c->eos_token_id == 2) { /* legacy configs: argmax of the ids */
        for (int i = 1; i < len; i++)
            if (ids[i] > ids[best]) best = i;
        return best;
    }
    for (int i = 0; i < len; i++)
        if (ids[i] == c->eos_token_id) return i;
    return 0; /* HF: argmax of an all-false mask */
}

static int text_forward(odx_clip *m, const int32_t *ids, const int *off, int n, float *out)
{
    const odx_tower_config *c = &m->cfg.text;
    text_tower *t = &m->t;
    int h = c->hidden;
    int *roff = odx_arena_alloc(&m->arena, (size_t)(n + 1) * sizeof(int));
    if (!roff) return odx_error(ODX_ENOMEM, "out of memory");
    roff[0] = 0;
    for (int i = 0; i < n; i++) {
        int len = off[i + 1] - off[i];
        if (len <= 0 || len > c->max_positions)
            return odx_error(ODX_EINVAL, "text %d has %d tokens (1..%d allowed)", i, len, c->max_positions);
        for (int j = 0; j < len; j++)
            if (ids[off[i] + j] < 0 || ids[off[i] + j] >= c->vocab_size)
                return odx_error(ODX_EINVAL, "text %d: token id %d outside the vocabulary", i, ids[off[i] + j]);
        roff[i + 1] = roff[i] + pool_position(c, ids + off[i], len) + 1;
    }
    int rows = roff[n];
    float *x = odx_arena_floats(&m->arena, (size_t)rows * h);
    float *pooled = odx_arena_floats(&m->arena, (size_t)n * h);
    if (!x || !pooled) return odx_error(ODX_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++)
        for (int j = 0; j < roff[i + 1] - roff[i]; j++) {
            const float *te = t->tok + (size_t)ids[off[i] + j] * h, *pe = t->pos + (size_t)j * h;
            float *xr = x + (size_t)(roff[i] + j) * h;
            for (int k = 0; k < h; k++) xr[k] = te[k] + pe[k];
        }
    /* Each sequence was cut at its pooling position: its last row is pooled. */
    int *prow = odx_arena_alloc(&m->arena, (size_t)n * sizeof(int));
    if (!prow) return odx_error(ODX_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) prow[i] = roff[i + 1] - 1;
    int rc = odx_tf_encoder_forward(&t->enc, x, rows, roff, n, 1, prow, pooled, &m->arena);
    if (rc) return rc;
    return project(m, pooled, n, h, t->final_g, t->final_b, c->eps, t->proj, out);
}

int odx_clip_embed_ids(odx_clip *m, const int32_t *ids, const int *off, int n, float *out)
{
    if (!m->has_text) return odx_error(ODX_EPRECOND, "this model has no text tower");
    if (n <= 0) return n == 0 ? 0 : odx_error(ODX_EINVAL, "negative batch");
    pthread_mutex_lock(&m->lock);
    int saved = odx_op_narrow_begin(odx_tf_encoder_flops(&m->t.enc, off[n]));
    int rc = text_forward(m, ids, off, n, out);
    odx_op_narrow_end(saved);
    odx_arena_reset(&m->arena);
    pthread_mutex_unlock(&m->lock);
    return rc;
}

int odx_clip_embed_texts(odx_clip *m, const char *const *texts, int n, float *out)
{
    if (!m->has_text) return odx_error(ODX_EPRECOND, "this model has no text tower");
    if (!m->bpe) return odx_error(ODX_EPRECOND, "the model directory has no vocab.json/merges.txt");
    if (n <= 0) return n == 0 ? 0 : odx_error(ODX_EINVAL, "negative batch");
    int ctx = m->cfg.text.max_positions;
    int32_t *ids = odx_malloc((size_t)n * ctx * sizeof *ids);
    int *off = odx_malloc((size_t)(n + 1) * sizeof *off);
    int rc = 0;
    if (!ids || !off) { rc = odx_error(ODX_ENOMEM, "out of memory"); goto out; }
    off[0] = 0;
    for (int i = 0; i < n && !rc; i++) {
        int cnt = 0;
        rc = odx_bpe_encode(m->bpe, texts[i], strlen(texts[i]), ids + off[i], ctx, &cnt);
        off[i + 1] = off[i] + cnt;
    }
    if (!rc) rc = odx_clip_embed_ids(m, ids, off, n, out);
out:
    odx_free(ids);
    odx_free(off);
    return rc;
}

int odx_clip_embed_image_bytes(odx_clip *m, const void *const *data, const size_t *len, int n,
                               float *out)
{
    if (!m->has_vision) return odx_error(ODX_EPRECOND, "this model has no image tower");
    if (m->cfg.vision.channels != 3) return odx_error(ODX_EUNSUPPORTED, "image files need a 3-channel model");
    if (n <= 0) return n == 0 ? 0 : odx_error(ODX_EINVAL, "negative batch");
    size_t per = (size_t)m->cfg.vision.channels * m->pre.crop_h * m->pre.crop_w;
    float *px = odx_malloc((size_t)n * per * sizeof(float));
    int *rcs = odx_calloc((size_t)n, sizeof *rcs);
    if (!px || !rcs) {
        odx_free(px);
        odx_free(rcs);
        return odx_error(ODX_ENOMEM, "out of memory");
    }
    /* Images decode in parallel (each decode + resize is serial inside). The
     * detail message is per thread, so a failure is redone on this thread
     * to report it. */
    #pragma omp parallel for schedule(dynamic, 1) if (n > 1)
    for (int i = 0; i < n; i++) {
        odx_image img = {0, 0, NULL};
        rcs[i] = odx_image_decode(data[i], len[i], 0, &img);
        if (!rcs[i]) rcs[i] = odx_clip_preprocess(&m->pre, &img, px + (size_t)i * per);
        odx_image_free(&img);
    }
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        if (!rcs[i]) continue;
        odx_image img = {0, 0, NULL};
        rc = odx_image_decode(data[i], len[i], 0, &img);
        if (!rc) rc = odx_clip_preprocess(&m->pre, &img, px + (size_t)i * per);
        odx_image_free(&img);
        if (!rc) rc = rcs[i]; /* failed only under memory pressure: keep its code */
        rc = odx_error_wrap(rc, "image %d", i);
    }
    odx_free(rcs);
    if (!rc) rc = odx_clip_embed_pixels(m, px, n, out);
    odx_free(px);
    return rc;
}

int odx_clip_embed_images(odx_clip *m, const odx_image *imgs, int n, float *out)
{
    if (!m->has_vision) return odx_error(ODX_EPRECOND, "this model has no image tower");
    if (m->cfg.vision.channels != 3) return odx_error(ODX_EUNSUPPORTED, "images need a 3-channel model");
    if (n <= 0) return n == 0 ? 0 : odx_error(ODX_EINVAL, "negative batch");
    size_t per = (size_t)m->cfg.vision.channels * m->pre.crop_h * m->pre.crop_w;
    float *px = odx_malloc((size_t)n * per * sizeof(float));
    if (!px) return odx_error(ODX_ENOMEM, "out of memory");
    /* One frame per thread, as for image files (the resize is serial). */
    int rc = 0;
    #pragma omp parallel for schedule(dynamic, 1) if (n > 1) reduction(min : rc)
    for (int i = 0; i < n; i++) {
        int r = odx_clip_preprocess(&m->pre, &imgs[i], px + (size_t)i * per);
        if (r < rc) rc = r;
    }
    /* The detail message stayed on the worker thread. */
    if (rc) rc = odx_error(rc, "preprocessing an image failed: %s", odx_strerror(rc));
    if (!rc) rc = odx_clip_embed_pixels(m, px, n, out);
    odx_free(px);
    return rc;
}
