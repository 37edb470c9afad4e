/* Generic ViT tower (see vit.h). */
#include "encoders/models/vit.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "encoders/runtime/ops.h"

#define VIT_MAX_TOKENS 65536

void odx_vit_free(odx_vit *v)
{
    if (!v) return;
    odx_tf_encoder_free(&v->enc);
}

int odx_vit_load(odx_st *st, const char *prefix, const char *proj_name, const odx_tower_config *cfg,
                 const odx_vit_shape *shape, int proj_dim, odx_vit *v)
{
    memset(v, 0, sizeof *v);
    const odx_vit_shape *s = shape;
    if (s->channels < 1 || s->patch < 1 || s->stride < 1 || s->patch > s->height || s->patch > s->width)
        return odx_error(ODX_EINVAL, "%s: patch %d / stride %d do not fit a %dx%dx%d input", prefix, s->patch,
                         s->stride, s->channels, s->height, s->width);
    int gh = (s->height - s->patch) / s->stride + 1, gw = (s->width - s->patch) / s->stride + 1;
    if ((long long)gh * gw + 1 > VIT_MAX_TOKENS)
        return odx_error(ODX_EINVAL, "%s: %d x %d patches exceed %d tokens", prefix, gh, gw, VIT_MAX_TOKENS);
    v->shape = *s;
    v->gh = gh;
    v->gw = gw;
    v->hidden = cfg->hidden;
    v->proj_dim = proj_dim;
    v->eps = cfg->eps;
    char e[128], name[192];
    if (snprintf(e, sizeof e, "%s.", prefix) >= (int)sizeof e) return odx_error(ODX_EINVAL, "prefix too long");
    int64_t h = cfg->hidden, p = s->patch;
    int64_t shape4[4] = {h, s->channels, p, p};
    snprintf(name, sizeof name, "%sembeddings.patch_embedding.weight", e);
    int rc = odx_st_get_f32(st, name, 4, shape4, &v->patch_w);
    snprintf(name, sizeof name, "%sencoder", e);
    if (rc ||
        (rc = odx_tf_get(st, e, "embeddings.class_embedding", 1, h, 0, &v->cls)) ||
        (rc = odx_tf_get(st, e, "embeddings.position_embedding.weight", 2, (int64_t)gh * gw + 1, h, &v->pos)) ||
        (rc = odx_tf_get(st, e, "pre_layrnorm.weight", 1, h, 0, &v->pre_g)) ||
        (rc = odx_tf_get(st, e, "pre_layrnorm.bias", 1, h, 0, &v->pre_b)) ||
        (rc = odx_tf_get(st, e, "post_layernorm.weight", 1, h, 0, &v->post_g)) ||
        (rc = odx_tf_get(st, e, "post_layernorm.bias", 1, h, 0, &v->post_b)) ||
        (rc = odx_tf_get(st, "", proj_name, 2, proj_dim, h, &v->proj)) ||
        (rc = odx_tf_encoder_load(st, name, cfg, &v->enc))) {
        odx_vit_free(v);
        return rc;
    }
    return 0;
}

static int vit_forward(const odx_vit *v, const float *in, int n, float *out, odx_arena *arena)
{
    const odx_vit_shape *s = &v->shape;
    int h = v->hidden, p = s->patch, st = s->stride, ch = s->channels, H = s->height, W = s->width;
    int gw = v->gw, np = v->gh * v->gw, tokens = np + 1, kdim = ch * p * p;
    if (n <= 0) return n == 0 ? 0 : odx_error(ODX_EINVAL, "negative batch");
    if ((long long)n * tokens > (1 << 24)) return odx_error(ODX_ELIMIT, "batch of %d inputs too large", n);
    int rows = n * tokens;
    float *patches = odx_arena_floats(arena, (size_t)n * np * kdim);
    float *x = odx_arena_floats(arena, (size_t)rows * h);
    float *emb = odx_arena_floats(arena, (size_t)n * np * h);
    int *off = odx_arena_alloc(arena, (size_t)(n + 1) * sizeof(int));
    float *pooled = odx_arena_floats(arena, (size_t)n * h);
    float *t = odx_arena_floats(arena, (size_t)n * h);
    if (!patches || !x || !emb || !off || !pooled || !t) return odx_error(ODX_ENOMEM, "out of memory");
    /* im2col: row (img, gy, gx) = in[img][c][gy*s + ky][gx*s + kx] in (c, ky, kx) order,
     * the order of the conv weight [hidden, C, p, p]; the conv is then one GEMM. */
    #pragma omp parallel for schedule(static)
    for (int r = 0; r < n * np; r++) {
        int img = r / np, gy = (r % np) / gw, gx = r % gw;
        float *dst = patches + (size_t)r * kdim;
        const float *src = in + (size_t)img * ch * H * W;
        for (int cc = 0; cc < ch; cc++)
            for (int ky = 0; ky < p; ky++)
                memcpy(dst + ((size_t)cc * p + ky) * p,
                       src + ((size_t)cc * H + (size_t)gy * st + ky) * W + (size_t)gx * st,
                       (size_t)p * sizeof(float));
    }
    odx_op_linear(patches, n * np, kdim, v->patch_w, NULL, h, emb);
    for (int img = 0; img < n; img++) {
        float *xi = x + (size_t)img * tokens * h;
        for (int j = 0; j < h; j++) xi[j] = v->cls[j] + v->pos[j];
        for (int k = 1; k < tokens; k++) {
            const float *e = emb + ((size_t)img * np + k - 1) * h;
            const float *pp = v->pos + (size_t)k * h;
            float *xt = xi + (size_t)k * h;
            for (int j = 0; j < h; j++) xt[j] = e[j] + pp[j];
        }
        off[img] = img * tokens;
    }
    off[n] = rows;
    odx_op_layernorm(x, rows, h, v->pre_g, v->pre_b, v->eps, x);
    /* The class token (row 0 of each input) is pooled. */
    int rc = odx_tf_encoder_forward(&v->enc, x, rows, off, n, 0, off, pooled, arena);
    if (rc) return rc;
    odx_op_layernorm(pooled, n, h, v->post_g, v->post_b, v->eps, t);
    odx_op_linear(t, n, h, v->proj, NULL, v->proj_dim, out);
    odx_op_l2norm_rows(out, n, v->proj_dim);
    return 0;
}

int odx_vit_forward(const odx_vit *v, const float *in, int n, float *out, odx_arena *arena)
{
    int tokens = v->gh * v->gw + 1;
    int saved = odx_op_narrow_begin(odx_tf_encoder_flops(&v->enc, n * tokens));
    int rc = vit_forward(v, in, n, out, arena);
    odx_op_narrow_end(saved);
    return rc;
}
