/* A space: one aligned embedding space and the encoders that map each
 * modality into it. On disk a space is a directory holding a model (a
 * Hugging Face CLIP directory, optionally with audio_config/point_config
 * towers, docs/modalities.md) and, optionally, space.json:
 *
 *   {"format": 1, "name": "omni-tiny", "family": "clip",
 *    "dim": 128, "metric": "cosine",
 *    "modalities": ["text", "image", "audio", "video", "3d"],
 *    "model": ".",                       (model directory, relative to space.json)
 *    "video": {"frames": 8, "audio_weight": 0.0, "max_seconds": 7200},
 *    "audio": {"max_seconds": 600},
 *    "mesh": {"views": 6, "size": 0}}
 *
 * Without space.json a directory holding config.json is opened as a space
 * named after the directory, with every tower its weights contain. Video
 * goes through the image tower (frames mean-pooled, soundtrack fused by
 * audio_weight); 3D through the point tower, or where there is none, depth
 * views rendered in software through the image tower.
 * Spaces are looked up by name under the models directory:
 * $OMNIDEX_MODELS, else $HOME/.omnidex/models.
 *
 * An odx_space may be shared by threads (embedding calls are serialised by
 * the model's own lock). Vectors are L2-normalised; metric is cosine. */
#ifndef ODX_ENC_SPACE_H
#define ODX_ENC_SPACE_H
#include <stddef.h>

#include "omnidex.h"

typedef struct odx_space odx_space;

/* Opens the space in dir. ODX_ENOTFOUND if dir holds neither space.json nor
 * config.json; ODX_EINVAL for a bad space.json; model errors pass through. */
int odx_space_open(const char *dir, odx_space **out);
/* Resolves name under the models directory and opens it. Names: 1..128
 * chars of [A-Za-z0-9_.-], not starting with '.'. */
int odx_space_open_name(const char *name, odx_space **out);
void odx_space_close(odx_space *s);

/* The models directory (never NULL; "$HOME/.omnidex/models" or
 * $OMNIDEX_MODELS), written into buf. 0 or ODX_EINVAL if it does not fit. */
int odx_models_dir(char *buf, size_t cap);

const char *odx_space_name(const odx_space *s);
int odx_space_dim(const odx_space *s);
/* 1 when the space has an encoder for m. */
int odx_space_supports(const odx_space *s, odx_modality m);

/* Embeds n payloads of one modality: UTF-8 text (len bytes, no NUL needed)
 * or encoded media bytes (image, audio, video or mesh files). out: n * dim floats. ODX_EPRECOND when the space
 * has no encoder for m; ODX_EMEDIA / ODX_ELIMIT / ODX_EINVAL for bad input. */
int odx_space_embed(odx_space *s, odx_modality m, const void *const *data, const size_t *len,
                    int n, float *out);

#endif
