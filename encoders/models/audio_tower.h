/* The audio tower of a space (docs/modalities.md "Audio"): ImageBind's
 * design over the generic ViT (vit.h) on Kaldi fbank features (fbank.h).
 *
 *   pcm (mono, sample_rate) -> clips (clip_seconds, clips) -> per clip:
 *   mean removal, fbank, [mel, frame] padded/cut to target_length,
 *   (x - mean) / std -> ViT (1 x mels x frames, patch_size, patch_stride)
 *   -> audio_projection -> L2 norm;  embedding = L2(mean of the clips).
 *
 * Weights: audio_model.* (CLIP vision's names) and audio_projection.weight.
 * A tower is immutable after load; the caller serialises embed calls on it
 * (they share no state, but the caller's arena is not thread-safe). */
#ifndef ODX_ENC_AUDIO_TOWER_H
#define ODX_ENC_AUDIO_TOWER_H
#include <cjson/cJSON.h>
#include <stdint.h>

#include "encoders/media/fbank.h"
#include "encoders/models/clip_config.h"
#include "encoders/runtime/arena.h"
#include "encoders/runtime/safetensors.h"

typedef struct odx_audio_config {
    odx_tower_config tower;  /* hidden, intermediate, heads, layers, eps, act */
    odx_fbank_opts fbank;    /* sample_rate, num_mel_bins, ..., target_length, mean, std */
    int patch_size, patch_stride;
    double clip_seconds;
    int clips;
} odx_audio_config;

/* ImageBind's audio tower: 768 / 3072 / 12 heads / 12 layers, gelu, eps
 * 1e-6, patch 16 stride 10, 3 clips of 2 s, fbank defaults (fbank.h). */
void odx_audio_config_default(odx_audio_config *c);

/* Fills *out from config.json's "audio_config" object (NULL: defaults).
 * Every key is optional and range-checked: ODX_EINVAL naming the key,
 * ODX_EUNSUPPORTED for an unknown hidden_act. */
int odx_audio_config_parse(const cJSON *audio_config, odx_audio_config *out);

typedef struct odx_audio_tower odx_audio_tower;

/* Parses audio_config and fetches audio_model.* and audio_projection.weight
 * [proj_dim, hidden] from st (ODX_ECORRUPT naming tensor and shapes on a
 * mismatch). st must outlive the tower. */
int odx_audio_tower_load(odx_st *st, const cJSON *audio_config, int proj_dim, odx_audio_tower **out);
void odx_audio_tower_close(odx_audio_tower *t);
const odx_audio_config *odx_audio_tower_config(const odx_audio_tower *t);
int odx_audio_tower_dim(const odx_audio_tower *t);

/* The start sample of each clip for a waveform of n samples; returns the
 * clip count (<= config clips) and writes at most max starts. The clip
 * length is odx_audio_clip_length(). */
int odx_audio_clip_starts(const odx_audio_config *c, int64_t n, int64_t *starts, int max);
int64_t odx_audio_clip_length(const odx_audio_config *c);

/* feats: n inputs of num_mel_bins x target_length normalised features.
 * out: n x proj_dim, L2-normalised. Scratch comes from arena and is given
 * back on return (odx_arena_mark/release); the arena is not reset. */
int odx_audio_tower_embed_features(odx_audio_tower *t, odx_arena *a, const float *feats, int n, float *out);

/* pcm: n mono samples at the config's sample_rate (n == 0 is silence).
 * out: proj_dim floats, the L2-normalised mean of the clips' embeddings. */
int odx_audio_tower_embed_pcm(odx_audio_tower *t, odx_arena *a, const float *pcm, int64_t n, float *out);

#endif
