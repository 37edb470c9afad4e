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

#include "omnidex.h"

typedef struct odx_space odx_space;

/* Opens the space in dir. ODX_ENOTFOUND if dir holds neither space.json nor
 * config.json; ODX_EINVAL for a bad space.json; model errors pass through. */
int odx_space_open(const char *dir, odx_space **out);
/* Resolves name under the models directory and opens it. Names: 1..128
 * chars of [A-Za-z0-9_.-], not starting with '.'. */
int odx_space_open_name(const char *name, odx_space **out);
void odx_space_close(odx_space *s);

/* The models directory where downloads go: the first directory of the
 * search path ("$HOME/.omnidex/models" or the first of $OMNIDEX_MODELS),
 * written into buf. 0 or ODX_EINVAL if it does not fit. */
int odx_models_dir(char *buf, size_t cap);
/* The whole search path, colon-separated, written into buf. */
int odx_models_path(char *buf, size_t cap);
/* Iterates a search path: copies the directory at *cursor into dir and
 * advances; 0 at the end (empty entries are skipped). */
int odx_models_path_next(const char **cursor, char *dir, size_t cap);

const char *odx_space_name(const odx_space *s);
/* The directory the space was opened from. */
const char *odx_space_dir(const odx_space *s);
int odx_space_dim(const odx_space *s);
/* 1 when the space has an encoder for m. */
int odx_space_supports(const odx_space *s, odx_modality m);

/* Embeds n payloads of one modality: UTF-8 text (len bytes, no NUL needed)
 * or encoded media bytes (image, audio, video or mesh files). out: n * dim floats. ODX_EPRECOND when the space
 * has no encoder for m; ODX_EMEDIA / ODX_ELIMIT / ODX_EINVAL for bad input. */
int odx_space_embed(odx_space *s, odx_modality m, const void *const *data, const size_t *len,
                    int n, float *out);

/* Embeds one sample of modality m made in memory (a text, a BMP, a WAV, an
 * animated GIF, an OFF cube) through the space's whole path and checks the
 * vector is finite and unit-norm. out: dim floats. ODX_EPRECOND when the
 * space has no encoder for m; ODX_ECORRUPT for a bad vector. */
int odx_space_verify(odx_space *s, odx_modality m, float *out);
/* The sample odx_space_verify embeds for m, made anew (free with odx_free). */
int odx_space_sample(odx_modality m, unsigned char **data, size_t *len);
/* ODX_ECORRUPT (with a message naming space and m) unless v is finite and
 * unit-norm within 1e-3. */
int odx_space_check_vector(const char *space, odx_modality m, const float *v, int dim);
/* What odx_space_verify embeds for m, e.g. "a 64x48 BMP". */
const char *odx_space_verify_sample_name(odx_modality m);

#endif
