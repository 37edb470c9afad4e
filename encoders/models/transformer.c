/* Generic pre-LN transformer encoder (see transformer.h). */
#include "encoders/models/transformer.h"
#include "encoders/runtime/ops.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"

int odx_tf_get(odx_st *st, const char *prefix, const char *name, int rank, int64_t d0,
               int64_t d1, const float **out)
{
    char full[512];
    int n = snprintf(full, sizeof full, "%s%s", prefix, name);
    if (n < 0 || (size_t)n >= sizeof full) return odx_error(ODX_EINVAL, "tensor name too long");
    int64_t shape[2] = {d0, d1};
    return odx_st_get_f32(st, full, rank, shape, out);
}

void odx_tf_encoder_free(odx_tf_encoder *enc)
{
    if (!enc || !enc->layer) return;
    for (int i = 0; i < enc->layers; i++) {
        odx_free(enc->layer[i].qkv_w);
        odx_free(enc->layer[i].qkv_b);
    }
    odx_free(enc->layer);
    enc->layer = NULL;
}

static int load_layer(odx_st *st, const char *p, const odx_tower_config *c, odx_tf_layer *l)
{
    int64_t h = c->hidden, f = c->intermediate;
    const float *q_w, *q_b, *k_w, *k_b, *v_w, *v_b;
    int rc;
    if ((rc = odx_tf_get(st, p, "layer_norm1.weight", 1, h, 0, &l->ln1_g)) ||
        (rc = odx_tf_get(st, p, "layer_norm1.bias", 1, h, 0, &l->ln1_b)) ||
        (rc = odx_tf_get(st, p, "layer_norm2.weight", 1, h, 0, &l->ln2_g)) ||
        (rc = odx_tf_get(st, p, "layer_norm2.bias", 1, h, 0, &l->ln2_b)) ||
        (rc = odx_tf_get(st, p, "self_attn.q_proj.weight", 2, h, h, &q_w)) ||
        (rc = odx_tf_get(st, p, "self_attn.q_proj.bias", 1, h, 0, &q_b)) ||
        (rc = odx_tf_get(st, p, "self_attn.k_proj.weight", 2, h, h, &k_w)) ||
        (rc = odx_tf_get(st, p, "self_attn.k_proj.bias", 1, h, 0, &k_b)) ||
        (rc = odx_tf_get(st, p, "self_attn.v_proj.weight", 2, h, h, &v_w)) ||
        (rc = odx_tf_get(st, p, "self_attn.v_proj.bias", 1, h, 0, &v_b)) ||
        (rc = odx_tf_get(st, p, "self_attn.out_proj.weight", 2, h, h, &l->o_w)) ||
        (rc = odx_tf_get(st, p, "self_attn.out_proj.bias", 1, h, 0, &l->o_b)) ||
        (rc = odx_tf_get(st, p, "mlp.fc1.weight", 2, f, h, &l->fc1_w)) ||
        (rc = odx_tf_get(st, p, "mlp.fc1.bias", 1, f, 0, &l->fc1_b)) ||
        (rc = odx_tf_get(st, p, "mlp.fc2.weight", 2, h, f, &l->fc2_w)) ||
        (rc = odx_tf_get(st, p, "mlp.fc2.bias", 1, h, 0, &l->fc2_b)))
        return rc;
    size_t hh = (size_t)h * h;
    l->qkv_w = odx_malloc(3 * hh * sizeof(float));
    l->qkv_b = odx_malloc(3 * (size_t)h * sizeof(float));
    if (!l->qkv_w || !l->qkv_b) return odx_error(ODX_ENOMEM, "out of memory fusing q/k/v");
    memcpy(l->qkv_w, q_w, hh * sizeof(float));
    memcpy(l->qkv_w + hh, k_w, hh * sizeof(float));
    memcpy(l->qkv_w + 2 * hh, v_w, hh * sizeof(float));
    memcpy(l->qkv_b, q_b, (size_t)h * sizeof(float));
    memcpy(l->qkv_b + h, k_b, (size_t)h * sizeof(float));
    memcpy(l->qkv_b + 2 * h, v_b, (size_t)h * sizeof(float));
    return 0;
}

int odx_tf_encoder_load(odx_st *st, const char *prefix, const odx_tower_config *cfg,
                        odx_tf_encoder *enc)
{
    memset(enc, 0, sizeof *enc);
    enc->hidden = cfg->hidden;
    enc->inter = cfg->intermediate;
    enc->heads = cfg->heads;
    enc->eps = cfg->eps;
    enc->act = cfg->act;
    enc->layer = odx_calloc(cfg->layers ? (size_t)cfg->layers : 1, sizeof *enc->layer);
    if (!enc->layer) return odx_error(ODX_ENOMEM, "out of memory");
    for (int i = 0; i < cfg->layers; i++) {
        enc->layers = i + 1; /* so free() releases what was fused so far */
        char p[256];
        snprintf(p, sizeof p, "%s.layers.%d.", prefix, i);
        int rc = load_layer(st, p, cfg, &enc->layer[i]);
        if (rc) { odx_tf_encoder_free(enc); return rc; }
    }
    enc->layers = cfg->layers;
    return 0;
}

/* x += fc2(act(fc1(LN2(x)))) on rows of x; t and mlp are scratch. */
static void mlp_block(const odx_tf_encoder *enc, const odx_tf_layer *l, float *x, int rows, float *t, float *mlp)
{
    int h = enc->hidden, f = enc->inter;
    odx_op_layernorm(x, rows, h, l->ln2_g, l->ln2_b, enc->eps, t);
    odx_op_linear(t, rows, h, l->fc1_w, l->fc1_b, f, mlp);
    odx_op_act(enc->act, mlp, (size_t)rows * f);
    odx_op_linear(mlp, rows, f, l->fc2_w, l->fc2_b, h, t);
    odx_op_add(x, t, (size_t)rows * h);
}

static int encoder_forward(const odx_tf_encoder *enc, float *x, int rows, const int *seq_off,
                           int nseq, int causal, const int *pool, float *pooled, odx_arena *arena)
{
    int h = enc->hidden, f = enc->inter;
    float *t = odx_arena_floats(arena, (size_t)rows * h);
    float *qkv = odx_arena_floats(arena, (size_t)rows * 3 * h);
    float *att = odx_arena_floats(arena, (size_t)rows * h);
    float *mlp = odx_arena_floats(arena, (size_t)rows * f);
    if (!t || !qkv || !att || !mlp) return odx_error(ODX_ENOMEM, "out of memory for activations (%d rows)", rows);
    size_t n = (size_t)rows * h;
    for (int i = 0; i < enc->layers; i++) {
        const odx_tf_layer *l = &enc->layer[i];
        int last = i == enc->layers - 1 && pool; /* pool NULL: every row to the end */
        odx_op_layernorm(x, rows, h, l->ln1_g, l->ln1_b, enc->eps, t);
        odx_op_linear(t, rows, h, l->qkv_w, l->qkv_b, 3 * h, qkv);
        if (last) {
            /* Only the pooled rows are read after this layer. */
            int rc = odx_op_attention_rows(qkv, seq_off, pool, nseq, enc->heads, h / enc->heads, causal, att, arena);
            if (rc) return rc;
            odx_op_linear(att, nseq, h, l->o_w, l->o_b, h, t);
            for (int s = 0; s < nseq; s++) {
                const float *xr = x + (size_t)pool[s] * h, *tr = t + (size_t)s * h;
                float *pr = pooled + (size_t)s * h;
                for (int k = 0; k < h; k++) pr[k] = xr[k] + tr[k];
            }
            mlp_block(enc, l, pooled, nseq, t, mlp);
            return 0;
        }
        int rc = odx_op_attention(qkv, seq_off, nseq, enc->heads, h / enc->heads, causal, att, arena);
        if (rc) return rc;
        odx_op_linear(att, rows, h, l->o_w, l->o_b, h, t);
        odx_op_add(x, t, n);
        mlp_block(enc, l, x, rows, t, mlp);
    }
    if (!pool) return 0; /* x holds the output of every row */
    /* No layers: the pooled rows are the input rows. */
    for (int s = 0; s < nseq; s++) memcpy(pooled + (size_t)s * h, x + (size_t)pool[s] * h, (size_t)h * sizeof(float));
    return 0;
}

double odx_tf_encoder_flops(const odx_tf_encoder *enc, int rows)
{
    return 2.0 * rows * enc->layers * (4.0 * enc->hidden * enc->hidden + 2.0 * enc->hidden * enc->inter);
}

int odx_tf_encoder_forward(const odx_tf_encoder *enc, float *x, int rows, const int *seq_off,
                           int nseq, int causal, const int *pool, float *pooled, odx_arena *arena)
{
    int saved = odx_op_narrow_begin(odx_tf_encoder_flops(enc, rows));
    int rc = encoder_forward(enc, x, rows, seq_off, nseq, causal, pool, pooled, arena);
    odx_op_narrow_end(saved);
    return rc;
}
