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
 * Spaces are looked up by name along the models search path: the
 * directories of $OMNIDEX_MODELS (colon-separated), else
 * $HOME/.omnidex/models, then the spaces shipped beside the executable
 * (<bin>/../share/omnidex/models, where 'make install' puts them), then
 * /usr/local/share/omnidex/models and /usr/share/omnidex/models.
 *
 * An odx_space may be shared by threads (embedding calls are serialised by
 * the model's own lock). Vectors are L2-normalised; metric is cosine. */
#ifndef ODX_ENC_SPACE_H
#define ODX_ENC_SPACE_H
#include <stddef.h>

/* The public part (spaces, embedding, verifying, the models directory) is
 * include/omnidex_embed.h; what follows is the encoders' own. */
#include "omnidex_embed.h"

/* Iterates a search path: copies the directory at *cursor into dir and
 * advances; 0 at the end (empty entries are skipped). */
int odx_models_path_next(const char **cursor, char *dir, size_t cap);

#endif
