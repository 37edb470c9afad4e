/* Audio tower (see audio_tower.h). */
#include "encoders/models/audio_tower.h"

#include <math.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "encoders/models/vit.h"
#include "encoders/runtime/ops.h"

#define AUDIO_MAX_CLIPS 64
#define AUDIO_MAX_BATCH 4096

struct odx_audio_tower {
    odx_audio_config cfg;
    odx_fbank *fb;
    odx_vit vit;
};

void odx_audio_config_default(odx_audio_config *c)
{
    memset(c, 0, sizeof *c);
    c->tower.hidden = 768;
    c->tower.intermediate = 3072;
    c->tower.heads = 12;
    c->tower.layers = 12;
    c->tower.eps = 1e-6f;
    c->tower.act = ODX_ACT_GELU;
    c->tower.channels = 1;
    odx_fbank_opts_default(&c->fbank);
    c->patch_size = 16;
    c->patch_stride = 10;
    c->clip_seconds = 2.0;
    c->clips = 3;
}

static int get_num(const cJSON *o, const char *key, double lo, double hi, int integer, double *v)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!j || cJSON_IsNull(j)) return 0;
    double d = cJSON_IsNumber(j) ? j->valuedouble : NAN;
    if (!(d >= lo && d <= hi) || (integer && d != floor(d)))
        return odx_error(ODX_EINVAL, "config.json: audio_config.%s must be %s in [%g, %g]", key,
                         integer ? "an integer" : "a number", lo, hi);
    *v = d;
    return 0;
}

static int get_int(const cJSON *o, const char *key, int lo, int hi, int *v)
{
    double d = *v;
    int rc = get_num(o, key, lo, hi, 1, &d);
    if (!rc) *v = (int)d;
    return rc;
}

int odx_audio_config_parse(const cJSON *o, odx_audio_config *out)
{
    odx_audio_config c;
    odx_audio_config_default(&c);
    int rc = 0;
    if (o && !cJSON_IsNull(o)) {
        if (!cJSON_IsObject(o)) return odx_error(ODX_EINVAL, "config.json: audio_config must be an object");
        odx_tower_config *t = &c.tower;
        odx_fbank_opts *f = &c.fbank;
        double eps = t->eps;
        if ((rc = get_int(o, "hidden_size", 1, 16384, &t->hidden)) ||
            (rc = get_int(o, "intermediate_size", 1, 65536, &t->intermediate)) ||
            (rc = get_int(o, "num_attention_heads", 1, 256, &t->heads)) ||
            (rc = get_int(o, "num_hidden_layers", 0, 256, &t->layers)) ||
            (rc = get_num(o, "layer_norm_eps", 1e-30, 0.5, 0, &eps)) ||
            (rc = get_int(o, "sample_rate", 1000, 768000, &f->sample_rate)) ||
            (rc = get_int(o, "num_mel_bins", 4, 1024, &f->num_mel_bins)) ||
            (rc = get_num(o, "frame_length_ms", 1e-3, 1000, 0, &f->frame_length_ms)) ||
            (rc = get_num(o, "frame_shift_ms", 1e-3, 1000, 0, &f->frame_shift_ms)) ||
            (rc = get_num(o, "low_freq", 0, 384000, 0, &f->low_freq)) ||
            (rc = get_num(o, "high_freq", -384000, 384000, 0, &f->high_freq)) ||
            (rc = get_int(o, "target_length", 1, 100000, &f->target_length)) ||
            (rc = get_num(o, "mean", -1e6, 1e6, 0, &f->mean)) ||
            (rc = get_num(o, "std", 1e-6, 1e6, 0, &f->std)) ||
            (rc = get_int(o, "patch_size", 1, 1024, &c.patch_size)) ||
            (rc = get_int(o, "patch_stride", 1, 1024, &c.patch_stride)) ||
            (rc = get_num(o, "clip_seconds", 1e-3, 3600, 0, &c.clip_seconds)) ||
            (rc = get_int(o, "clips", 1, AUDIO_MAX_CLIPS, &c.clips)))
            return rc;
        t->eps = (float)eps;
        const cJSON *act = cJSON_GetObjectItemCaseSensitive(o, "hidden_act");
        if (act && !cJSON_IsNull(act)) {
            if (!cJSON_IsString(act)) return odx_error(ODX_EINVAL, "config.json: audio_config.hidden_act must be a string");
            if ((rc = odx_act_parse(act->valuestring, &t->act))) return odx_error_wrap(rc, "config.json: audio_config");
        }
        const cJSON *win = cJSON_GetObjectItemCaseSensitive(o, "window");
        if (win && !cJSON_IsNull(win)) {
            if (!cJSON_IsString(win)) return odx_error(ODX_EINVAL, "config.json: audio_config.window must be a string");
            if ((rc = odx_fbank_window_parse(win->valuestring, &f->window)))
                return odx_error_wrap(rc, "config.json: audio_config");
        }
        if (t->hidden % t->heads)
            return odx_error(ODX_EINVAL, "config.json: audio_config.hidden_size %d is not a multiple of num_attention_heads %d",
                             t->hidden, t->heads);
    }
    if (c.patch_size > c.fbank.num_mel_bins || c.patch_size > c.fbank.target_length)
        return odx_error(ODX_EINVAL, "config.json: audio_config.patch_size %d exceeds num_mel_bins %d or target_length %d",
                         c.patch_size, c.fbank.num_mel_bins, c.fbank.target_length);
    if (odx_audio_clip_length(&c) < 1)
        return odx_error(ODX_EINVAL, "config.json: audio_config.clip_seconds %g is under one sample", c.clip_seconds);
    *out = c;
    return 0;
}

int64_t odx_audio_clip_length(const odx_audio_config *c)
{
    /* Python's round(): half to even, which nearbyint does in the default mode. */
    return (int64_t)nearbyint(c->clip_seconds * c->fbank.sample_rate);
}

int odx_audio_clip_starts(const odx_audio_config *c, int64_t n, int64_t *starts, int max)
{
    int64_t len = odx_audio_clip_length(c);
    int k = c->clips;
    if (n <= len || k == 1) {
        if (max > 0) starts[0] = 0;
        return 1;
    }
    for (int i = 0; i < k && i < max; i++) starts[i] = (int64_t)i * (n - len) / (k - 1);
    return k;
}

void odx_audio_tower_close(odx_audio_tower *t)
{
    if (!t) return;
    odx_vit_free(&t->vit);
    odx_fbank_close(t->fb);
    odx_free(t);
}

const odx_audio_config *odx_audio_tower_config(const odx_audio_tower *t) { return &t->cfg; }
int odx_audio_tower_dim(const odx_audio_tower *t) { return t->vit.proj_dim; }

int odx_audio_tower_load(odx_st *st, const cJSON *audio_config, int proj_dim, odx_audio_tower **out)
{
    *out = NULL;
    if (proj_dim < 1 || proj_dim > 16384) return odx_error(ODX_EINVAL, "audio tower: projection_dim %d", proj_dim);
    odx_audio_tower *t = odx_calloc(1, sizeof *t);
    if (!t) return odx_error(ODX_ENOMEM, "out of memory");
    int rc = odx_audio_config_parse(audio_config, &t->cfg);
    if (!rc) rc = odx_fbank_create(&t->cfg.fbank, &t->fb);
    if (!rc) {
        odx_vit_shape shape = {1, t->cfg.fbank.num_mel_bins, t->cfg.fbank.target_length, t->cfg.patch_size,
                               t->cfg.patch_stride};
        rc = odx_vit_load(st, "audio_model", "audio_projection.weight", &t->cfg.tower, &shape, proj_dim, &t->vit);
    }
    if (rc) {
        odx_audio_tower_close(t);
        /* The space decides a tower exists from its first tensor; any other
         * tensor missing means a damaged checkpoint. */
        return odx_error_wrap(rc == ODX_ENOTFOUND ? ODX_ECORRUPT : rc, "audio tower");
    }
    *out = t;
    return 0;
}

int odx_audio_tower_embed_features(odx_audio_tower *t, odx_arena *a, const float *feats, int n, float *out)
{
    if (n < 0 || n > AUDIO_MAX_BATCH) return odx_error(ODX_EINVAL, "audio batch of %d (0..%d)", n, AUDIO_MAX_BATCH);
    if (n == 0) return 0;
    odx_arena_mark_t mk = odx_arena_mark(a);
    int rc = odx_vit_forward(&t->vit, feats, n, out, a);
    odx_arena_release(a, mk);
    return rc;
}

int odx_audio_tower_embed_pcm(odx_audio_tower *t, odx_arena *a, const float *pcm, int64_t n, float *out)
{
    if (n < 0) return odx_error(ODX_EINVAL, "negative sample count");
    const odx_audio_config *c = &t->cfg;
    int64_t starts[AUDIO_MAX_CLIPS];
    int k = odx_audio_clip_starts(c, n, starts, AUDIO_MAX_CLIPS);
    int64_t len = odx_audio_clip_length(c);
    size_t per = (size_t)c->fbank.num_mel_bins * c->fbank.target_length;
    int p = t->vit.proj_dim, rc = 0;
    odx_arena_mark_t mk = odx_arena_mark(a);
    float *feats = odx_arena_floats(a, per * k);
    float *emb = odx_arena_floats(a, (size_t)k * p);
    if (!feats || !emb) { rc = odx_error(ODX_ENOMEM, "out of memory"); goto out; }
    for (int i = 0; i < k && !rc; i++) {
        int64_t m = n - starts[i] < len ? n - starts[i] : len;
        rc = odx_fbank_compute(t->fb, m > 0 ? pcm + starts[i] : pcm, m, feats + per * i);
    }
    if (!rc) rc = odx_vit_forward(&t->vit, feats, k, emb, a);
    if (!rc) {
        for (int j = 0; j < p; j++) {
            float s = 0;
            for (int i = 0; i < k; i++) s += emb[(size_t)i * p + j];
            out[j] = s / (float)k;
        }
        odx_op_l2norm_rows(out, 1, p);
    }
out:
    odx_arena_release(a, mk);
    return rc;
}
