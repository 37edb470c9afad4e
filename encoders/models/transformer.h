/* The pre-layer-norm transformer encoder shared by every tower (CLIP ViT,
 * CLIP text; later audio and depth ViTs): per layer
 *   x += out_proj(attn(LN1(x)));  x += fc2(act(fc1(LN2(x))))
 * Weights use Hugging Face names under a prefix, e.g.
 * "vision_model.encoder.layers.3.self_attn.q_proj.weight". q/k/v are fused
 * into one [3H, H] matrix at load so each layer does one QKV GEMM. */
#ifndef ODX_ENC_TRANSFORMER_H
#define ODX_ENC_TRANSFORMER_H

#include "encoders/models/clip_config.h"
#include "encoders/runtime/arena.h"
#include "encoders/runtime/safetensors.h"

typedef struct odx_tf_layer {
    const float *ln1_g, *ln1_b, *ln2_g, *ln2_b;
    float *qkv_w, *qkv_b;            /* owned, fused */
    const float *o_w, *o_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b;
} odx_tf_layer;

typedef struct odx_tf_encoder {
    int hidden, inter, heads, layers;
    float eps;
    odx_act act;
    odx_tf_layer *layer;
} odx_tf_encoder;

/* Fetches and shape-checks every layer's weights under prefix (e.g.
 * "text_model.encoder"). Pointers borrow from st, which must outlive enc. */
int odx_tf_encoder_load(odx_st *st, const char *prefix, const odx_tower_config *cfg,
                        odx_tf_encoder *enc);
void odx_tf_encoder_free(odx_tf_encoder *enc);

/* Runs all layers on x[rows, hidden], rows packed by sequence as in
 * odx_op_attention, and writes the final hidden state of row pool[s] of each
 * sequence to pooled[s] (nseq x hidden). Only those rows are computed in the
 * last layer (their keys and values still come from every row), so x holds
 * the input of the last layer on return. pool == NULL (pooled unused):
 * every row runs through every layer and x holds the output (towers that
 * pool over all rows, e.g. the point tower). Returns 0 or ODX_ENOMEM. */
int odx_tf_encoder_forward(const odx_tf_encoder *enc, float *x, int rows, const int *seq_off,
                           int nseq, int causal, const int *pool, float *pooled, odx_arena *arena);

/* Multiply-adds x 2 of a pass over rows rows (attention scores aside), for
 * odx_op_narrow_begin(). */
double odx_tf_encoder_flops(const odx_tf_encoder *enc, int rows);

/* Helper for tower loaders: fetches prefix+name with the given shape. */
int odx_tf_get(odx_st *st, const char *prefix, const char *name, int rank, int64_t d0,
               int64_t d1, const float **out);

#endif
