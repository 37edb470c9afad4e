/* A generic Vision Transformer tower over CLIP vision's weight names, used
 * for CLIP images (3 x S x S, stride = patch) and ImageBind-style audio
 * spectrograms (1 x mels x frames, stride < patch):
 *
 *   conv patch embedding (kernel p, stride s, no bias) -> [CLS | patches]
 *   + position embeddings -> pre_layrnorm -> pre-LN encoder (not causal)
 *   -> post_layernorm on the CLS row -> projection (no bias) -> L2 norm.
 *
 * Patches form a gh x gw grid, gh = (H - p) / s + 1, gw = (W - p) / s + 1,
 * flattened row-major (as a conv output flattened over its last two dims).
 * Weight names under `prefix` ("vision_model", "audio_model"):
 *   embeddings.patch_embedding.weight [hidden, C, p, p],
 *   embeddings.class_embedding [hidden],
 *   embeddings.position_embedding.weight [1 + gh*gw, hidden],
 *   pre_layrnorm.{weight,bias}, post_layernorm.{weight,bias},
 *   encoder.layers.{i}.* (transformer.h), and `proj_name` [proj_dim, hidden]. */
#ifndef ODX_ENC_VIT_H
#define ODX_ENC_VIT_H

#include "encoders/models/clip_config.h"
#include "encoders/models/transformer.h"
#include "encoders/runtime/arena.h"
#include "encoders/runtime/safetensors.h"

typedef struct odx_vit_shape {
    int channels, height, width; /* input tensor C x H x W */
    int patch, stride;           /* conv kernel and stride */
} odx_vit_shape;

typedef struct odx_vit {
    odx_vit_shape shape;
    int gh, gw, hidden, proj_dim;
    float eps;
    odx_tf_encoder enc;
    const float *patch_w, *cls, *pos, *pre_g, *pre_b, *post_g, *post_b, *proj; /* borrowed from st */
} odx_vit;

/* Checks the shape (patch and stride >= 1, patch <= H and W, at most
 * 65,536 tokens) and fetches every weight with the shape it implies
 * (ODX_ECORRUPT naming the tensor on a mismatch). cfg gives hidden,
 * intermediate, heads, layers, eps, act. st must outlive the tower. */
int odx_vit_load(odx_st *st, const char *prefix, const char *proj_name, const odx_tower_config *cfg,
                 const odx_vit_shape *shape, int proj_dim, odx_vit *out);
void odx_vit_free(odx_vit *v);

/* x: n inputs of C x H x W floats. out: n x proj_dim, L2-normalised rows.
 * Activations come from the arena (not reset here). ODX_ELIMIT when
 * n * tokens exceeds 2^24 rows, ODX_ENOMEM. */
int odx_vit_forward(const odx_vit *v, const float *x, int n, float *out, odx_arena *arena);

#endif
