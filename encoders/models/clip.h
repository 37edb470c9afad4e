/* A CLIP model loaded from a Hugging Face model directory, as downloaded:
 *   config.json, model.safetensors (required)
 *   vocab.json + merges.txt (text from strings), preprocessor_config.json
 *   (images from files; CLIP defaults when absent).
 * Either tower may be absent from the weights (CLIPVisionModelWithProjection
 * checkpoints, for instance); the embed calls for it then fail with
 * ODX_EPRECOND. Every embedding is L2-normalised, dim = projection_dim.
 *
 * An odx_clip may be shared by threads: forward passes are serialised by an
 * internal lock (each pass itself uses every OpenMP thread). */
#ifndef ODX_ENC_CLIP_H
#define ODX_ENC_CLIP_H
#include <stddef.h>
#include <stdint.h>

#include "encoders/media/image.h"
#include "encoders/models/clip_config.h"
#include "encoders/runtime/safetensors.h"

typedef struct odx_clip odx_clip;

int odx_clip_open(const char *dir, odx_clip **out);
void odx_clip_close(odx_clip *m);

const odx_clip_config *odx_clip_get_config(const odx_clip *m);
int odx_clip_dim(const odx_clip *m);
int odx_clip_has_text(const odx_clip *m);
int odx_clip_has_vision(const odx_clip *m);
/* The model's weights (every tensor of the checkpoint, shards merged), for
 * towers of the same space that live outside odx_clip (audio, 3D). Owned by
 * the model. */
odx_st *odx_clip_weights(const odx_clip *m);

/* Text tower on token ids: n sequences, sequence i is ids[off[i]..off[i+1]).
 * Pooling follows HF: the first eos_token_id position (or, for configs with
 * the legacy eos_token_id == 2, the position of the largest id). Sequences
 * longer than max_position_embeddings or ids outside the vocabulary fail with
 * ODX_EINVAL. out: n * dim floats. */
int odx_clip_embed_ids(odx_clip *m, const int32_t *ids, const int *off, int n, float *out);

/* Image tower on preprocessed pixels: n images of channels x S x S floats
 * (S = image_size), already normalised. out: n * dim floats. */
int odx_clip_embed_pixels(odx_clip *m, const float *pixels, int n, float *out);

/* Strings through the model's tokenizer (needs vocab.json + merges.txt). */
int odx_clip_embed_texts(odx_clip *m, const char *const *texts, int n, float *out);

/* Encoded image files (JPEG, PNG, WebP, GIF, BMP) through the model's
 * preprocessing. ODX_EMEDIA for undecodable input, ODX_ELIMIT for images
 * over the pixel limit. */
int odx_clip_embed_image_bytes(odx_clip *m, const void *const *data, const size_t *len, int n,
                               float *out);

/* Decoded RGB images (video frames, rendered views) through the model's
 * preprocessing and image tower. */
int odx_clip_embed_images(odx_clip *m, const odx_image *imgs, int n, float *out);

#endif
