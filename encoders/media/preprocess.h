/* CLIP image preprocessing as Hugging Face's CLIPImageProcessor does it,
 * configured from preprocessor_config.json: resize so the shortest edge is
 * `size.shortest_edge` (the long edge is int(edge * long / short)) with PIL's
 * bicubic filter (reproduced exactly, including its 8-bit fixed-point passes
 * and antialiasing support when shrinking), centre crop (top = (h - ch) / 2,
 * integer division, as HF), rescale by 1/255, normalise by mean/std, output
 * channels-first float32. */
#ifndef ODX_ENC_PREPROCESS_H
#define ODX_ENC_PREPROCESS_H
#include <stddef.h>

#include "encoders/media/image.h"

typedef struct odx_clip_preproc {
    int do_resize, do_center_crop, do_rescale, do_normalize;
    int shortest_edge;      /* resize target for the short side */
    int crop_h, crop_w;
    int resample;           /* PIL code: 3 bicubic, 2 bilinear */
    double rescale;         /* applied in double, then rounded to float, as numpy does */
    float mean[3], std[3];
} odx_clip_preproc;

/* CLIP's defaults (224, bicubic, OpenAI mean/std). */
void odx_clip_preproc_default(odx_clip_preproc *p);
/* Reads preprocessor_config.json on top of the defaults. ODX_EINVAL on bad
 * JSON or values out of range; ODX_EUNSUPPORTED for other resample filters. */
int odx_clip_preproc_parse(const char *json, size_t len, odx_clip_preproc *p);

/* Writes 3 x crop_h x crop_w floats to out. Images smaller than the crop are
 * padded with zeros before normalisation, as HF's center_crop does. */
int odx_clip_preprocess(const odx_clip_preproc *p, const odx_image *img, float *out);

/* PIL-exact resize of 8-bit RGB (exposed for tests). filter: 3 bicubic,
 * 2 bilinear. dst holds dw * dh * 3 bytes. 0 or ODX_ENOMEM. */
int odx_resize_rgb8(const unsigned char *src, int sw, int sh, unsigned char *dst, int dw, int dh,
                    int filter);

#endif
