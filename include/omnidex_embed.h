/*
 * omnidex_embed.h - the encoders of omnidex, for programs that embed
 * without a database: embedding spaces opened by name or directory,
 * embedding text and media with them, checking them, and downloading
 * models. (To embed into a collection, use omnidex.h: odx_embed, payload
 * items and query parts.)
 *
 * Implemented in libomnidex.a only. The vector-only libomnidex-core.a has no
 * encoders (docs/core.md, "Library split"): a program linked with it must
 * not call these functions.
 *
 * The conventions of omnidex.h hold: int status returns (0 or an ODX_E*
 * code, detail in odx_last_error()), out-parameters written only on
 * success, odx_space_close(NULL) does nothing, strings returned by
 * accessors live as long as the space they came from.
 *
 * A space is a directory holding a model (a Hugging Face CLIP directory,
 * optionally with audio/point towers) and, optionally, space.json naming
 * it, its dimension and its modalities (docs/modalities.md). Spaces are
 * looked up by name along the models search path: the directories of
 * $OMNIDEX_MODELS (colon-separated), else $HOME/.omnidex/models, then the
 * spaces shipped beside the executable (<bin>/../share/omnidex/models,
 * where 'make install' puts them), then /usr/local/share/omnidex/models and
 * /usr/share/omnidex/models.
 *
 * An odx_space may be shared by threads (embedding calls are serialised by
 * the model's own lock). Vectors are L2-normalised; the metric is cosine.
 */
#ifndef OMNIDEX_EMBED_H
#define OMNIDEX_EMBED_H

#include <stddef.h>
#include <stdint.h>

#include "omnidex.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct odx_space odx_space;

/* ---- opening ----------------------------------------------------------- */

/* Opens the space in dir. ODX_ENOTFOUND if dir holds neither space.json nor
 * config.json; ODX_EINVAL for a bad space.json; model errors pass through. */
int odx_space_open(const char *dir, odx_space **out);
/* Resolves name along the models search path and opens it. Names: 1..128
 * chars of [A-Za-z0-9_.-], not starting with '.'. */
int odx_space_open_name(const char *name, odx_space **out);
void odx_space_close(odx_space *s);

const char *odx_space_name(const odx_space *s);
/* The directory the space was opened from. */
const char *odx_space_dir(const odx_space *s);
int odx_space_dim(const odx_space *s);
/* 1 when the space has an encoder for m. */
int odx_space_supports(const odx_space *s, odx_modality m);

/* ---- embedding --------------------------------------------------------- */

/* Embeds n payloads of one modality: UTF-8 text (len bytes, no NUL needed)
 * or encoded media bytes (image, audio, video or mesh files). out: n * dim
 * floats. ODX_EPRECOND when the space has no encoder for m; ODX_EMEDIA /
 * ODX_ELIMIT / ODX_EINVAL for bad input. */
int odx_space_embed(odx_space *s, odx_modality m, const void *const *data, const size_t *len,
                    int n, float *out);

/* ---- verifying --------------------------------------------------------- */

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
/* What odx_space_verify embeds for m, e.g. "a 64x48 BMP" (static string). */
const char *odx_space_verify_sample_name(odx_modality m);

/* ---- the models directory ---------------------------------------------- */

/* The models directory where downloads go: the first directory of the
 * search path ("$HOME/.omnidex/models" or the first of $OMNIDEX_MODELS),
 * written into buf. 0, or ODX_EINVAL if it does not fit. */
int odx_models_dir(char *buf, size_t cap);
/* The whole search path, colon-separated, written into buf. */
int odx_models_path(char *buf, size_t cap);
/* 1 when name can name a model directory (and so a space) under the models
 * directory: 1..255 chars of [A-Za-z0-9._-], not starting with '.'. */
int odx_models_name_ok(const char *name);

/* Progress of a download: file name, bytes done, bytes total (0 when
 * unknown). */
typedef void (*odx_models_progress)(const char *file, uint64_t done, uint64_t total, void *ud);
/* Downloads a model directory, repo ("owner/name") of a Hugging Face-style
 * hub, into dest (created if missing): config.json and the weights
 * (model.safetensors, or an index and its shards), plus the tokenizer and
 * preprocessor files the hub has. Interrupted downloads resume; a sha256
 * the hub sends is checked. hub: NULL for $OMNIDEX_HUB, else
 * https://huggingface.co. revision: NULL for "main". progress may be NULL.
 * ODX_EINVAL for a bad repo/revision name or URL, ODX_ENOTFOUND when a
 * required file is missing, ODX_EIO for network errors, ODX_ECORRUPT for a
 * checksum mismatch, ODX_ELIMIT for a file over 64 GiB. */
int odx_models_pull(const char *repo, const char *dest, const char *hub, const char *revision,
                    odx_models_progress progress, void *ud);

#ifdef __cplusplus
}
#endif
#endif /* OMNIDEX_EMBED_H */
