/* CLIP model configuration read from a Hugging Face config.json
 * (CLIPConfig with text_config / vision_config, or a bare CLIPTextConfig /
 * CLIPVisionConfig). Missing keys take Hugging Face's defaults; every size
 * is range-checked so that a hostile config cannot ask for absurd buffers. */
#ifndef ODX_ENC_CLIP_CONFIG_H
#define ODX_ENC_CLIP_CONFIG_H
#include <stddef.h>

#include "encoders/runtime/ops.h"

typedef struct odx_tower_config {
    int hidden, intermediate, heads, layers, proj_dim;
    float eps;
    odx_act act;
    /* vision */
    int image_size, patch_size, channels;
    /* text */
    int vocab_size, max_positions, eos_token_id, bos_token_id, pad_token_id;
} odx_tower_config;

typedef struct odx_clip_config {
    odx_tower_config text, vision;
    int proj_dim;
    int has_text, has_vision; /* which sub-configs the file described */
} odx_clip_config;

/* Fills *out from config.json bytes. ODX_EINVAL for bad JSON or values out
 * of range (the message names the key), ODX_EUNSUPPORTED for an unknown
 * activation. */
int odx_clip_config_parse(const char *json, size_t len, odx_clip_config *out);

#endif
