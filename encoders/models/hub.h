/* Downloading a model directory from a Hugging Face-style hub with libcurl.
 *
 * URL layout: {hub}/{repo}/resolve/{revision}/{file}. Files: config.json and
 * model.safetensors are required (or, for sharded checkpoints,
 * model.safetensors.index.json and every shard its weight_map names);
 * vocab.json, merges.txt,
 * preprocessor_config.json, tokenizer.json, tokenizer_config.json,
 * special_tokens_map.json are fetched when the hub has them (404 skips).
 * Each file downloads to FILE.part and is renamed when complete. A .part
 * left by an interrupted run is resumed with an HTTP Range request (a server
 * that answers 200 instead of 206 restarts the file). When the response
 * carries a sha256 (X-Linked-Etag, as the HF hub sends for LFS files, or an
 * ETag of 64 hex digits) the whole file is checked against it; a mismatch
 * deletes the .part and fails with ODX_ECORRUPT. Only http and https are
 * allowed; redirects are followed (up to 5). */
#ifndef ODX_ENC_HUB_H
#define ODX_ENC_HUB_H
#include <stdint.h>

#define ODX_HUB_DEFAULT "https://huggingface.co"
#define ODX_HUB_MAX_FILE (64ull << 30) /* bytes accepted for one file */

/* Progress: file name, bytes done, bytes total (0 when unknown). */
typedef void (*odx_hub_progress)(const char *file, uint64_t done, uint64_t total, void *ud);

typedef struct odx_hub_opts {
    const char *hub;       /* NULL: $OMNIDEX_HUB, else ODX_HUB_DEFAULT */
    const char *revision;  /* NULL: "main" */
    odx_hub_progress progress;
    void *progress_ud;
    long timeout_s;        /* stall timeout (no bytes for this long); 0: 60 */
} odx_hub_opts;

/* Downloads repo ("owner/name") into dest (created if missing).
 * ODX_EINVAL for a bad repo/revision name or URL, ODX_ENOTFOUND when a
 * required file is missing (404), ODX_EIO for network errors (the message
 * has curl's), ODX_ECORRUPT for a checksum mismatch, ODX_ELIMIT for a file
 * over ODX_HUB_MAX_FILE. */
int odx_hub_pull(const char *repo, const char *dest, const odx_hub_opts *opts);

/* 1 when s is a plain file name fit for a model directory: 1..255 chars of
 * [A-Za-z0-9._-], not starting with '.' (so no paths, no "..") . */
int odx_model_file_name_ok(const char *s);

/* SHA-256 of a file as 64 lowercase hex digits + NUL. 0 or ODX_EIO. */
int odx_sha256_file(const char *path, char hex[65]);

#endif
