/* What the encoder tools (enc-tool, audio-tool, video-tool, mesh-tool) share:
 * whole-file reads, float32 dumps, number arguments, the error exit. Thin
 * programs over the library; none of this is library API. */
#ifndef ODX_ENC_TOOL_IO_H
#define ODX_ENC_TOOL_IO_H
#include <stddef.h>

#include "encoders/media/preprocess.h"
#include "encoders/models/clip.h"

/* Reads path whole (at most 1 GiB) into *out, NUL-terminated (odx_free). */
int odx_tool_read(const char *path, char **out, size_t *len);
/* The same, returning the buffer or NULL (the error is in odx_last_error). */
char *odx_tool_slurp(const char *path, size_t *len);
/* Writes n floats; 0 or ODX_EIO. */
int odx_tool_write_f32(const char *path, const float *v, size_t n);
/* Prints "PROG: <code>: <message>" and returns the exit status 1. */
int odx_tool_die(const char *prog, int rc);
/* A number argument in [lo, hi]; exits with status 2 otherwise. */
double odx_tool_arg_num(const char *prog, const char *s, double lo, double hi);
/* The preprocessing odx_clip_open configures for the model in dir:
 * preprocessor_config.json when there is one, else CLIP's defaults at the
 * image tower's input size. */
int odx_tool_model_preproc(const char *dir, const odx_clip *m, odx_clip_preproc *p);

#endif
