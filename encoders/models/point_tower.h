/* The point tower (docs/modalities.md, "Point tower"): PointBERT's design
 * over the generic transformer. Groups of neighbouring points become tokens
 * through a mini-PointNet, centres become position embeddings, a CLS token
 * leads, every row is layer-normed, and CLS concatenated with the max over
 * the group rows is projected into the space and L2-normalised.
 *
 * Weights under "point_model." and "point_projection.weight" in the model's
 * safetensors; sizes from config.json's "point_config". The tower keeps no
 * lock and no arena: the caller serialises calls and owns the arena (every
 * activation comes from it; the caller resets it after each call). */
#ifndef ODX_ENC_POINT_TOWER_H
#define ODX_ENC_POINT_TOWER_H

#include <cjson/cJSON.h>

#include "encoders/media/mesh.h"
#include "encoders/models/clip_config.h"
#include "encoders/runtime/arena.h"
#include "encoders/runtime/safetensors.h"

#define ODX_POINT_POS_HIDDEN 128 /* width of pos_embed.0, fixed by the contract */

typedef struct odx_point_config {
    odx_tower_config tower; /* hidden, intermediate, heads, layers, eps, act */
    int num_points, num_groups, group_size;
    int channels[3];        /* encoder_channels c1, c2, c3 */
    int proj_dim;
} odx_point_config;

typedef struct odx_point_tower odx_point_tower;

/* Fills *out from a point_config object (NULL: every default). Keys are
 * range-checked; ODX_EINVAL names the key, ODX_EUNSUPPORTED an unknown
 * activation. */
int odx_point_config_parse(const cJSON *point_config, int proj_dim, odx_point_config *out);

/* Loads the tower from st (which must outlive it). ODX_ECORRUPT names a
 * missing tensor or a shape mismatch. */
int odx_point_tower_load(odx_st *st, const cJSON *point_config, int proj_dim, odx_point_tower **out);
void odx_point_tower_close(odx_point_tower *t);
const odx_point_config *odx_point_tower_config(const odx_point_tower *t);

/* n objects already grouped: centres [n, G, 3], neigh [n, G, K, 3] ->
 * out [n, proj_dim], L2-normalised. */
int odx_point_tower_embed_groups(odx_point_tower *t, odx_arena *a, const float *centres,
                                 const float *neigh, int n, float *out);
/* One normalised cloud of num_points points -> out [proj_dim]. */
int odx_point_tower_embed_points(odx_point_tower *t, odx_arena *a, const float *pts, float *out);
/* One mesh: sample num_points, normalise, group, embed -> out [proj_dim]. */
int odx_point_tower_embed_mesh(odx_point_tower *t, odx_arena *a, const odx_mesh *m, float *out);

#endif
