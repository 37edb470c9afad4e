/* config.json -> odx_clip_config, with HF defaults and range checks. */
#include "encoders/models/clip_config.h"

#include <cjson/cJSON.h>
#include <string.h>

#include "common/error.h"

static void text_defaults(odx_tower_config *c)
{
    memset(c, 0, sizeof *c);
    c->hidden = 512; c->intermediate = 2048; c->heads = 8; c->layers = 12;
    c->proj_dim = 512; c->eps = 1e-5f; c->act = ODX_ACT_QUICK_GELU;
    c->vocab_size = 49408; c->max_positions = 77;
    c->pad_token_id = 1; c->bos_token_id = 49406; c->eos_token_id = 49407;
}

static void vision_defaults(odx_tower_config *c)
{
    memset(c, 0, sizeof *c);
    c->hidden = 768; c->intermediate = 3072; c->heads = 12; c->layers = 12;
    c->proj_dim = 512; c->eps = 1e-5f; c->act = ODX_ACT_QUICK_GELU;
    c->image_size = 224; c->patch_size = 32; c->channels = 3;
}

/* Reads an integer key into *v when present; checks lo <= v <= hi. */
static int get_int(const cJSON *o, const char *key, int lo, int hi, int *v, const char *where)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!j || cJSON_IsNull(j)) return 0;
    double d = cJSON_IsNumber(j) ? j->valuedouble : -1e300;
    if (!cJSON_IsNumber(j) || !(d >= lo && d <= hi) || d != (double)(long long)d) /* range first: the cast needs it */
        return odx_error(ODX_EINVAL, "config.json: %s.%s must be an integer in [%d, %d]", where, key, lo, hi);
    *v = (int)d;
    return 0;
}

static int parse_tower(const cJSON *o, int vision, odx_tower_config *c, const char *where)
{
    int rc = 0;
    if ((rc = get_int(o, "hidden_size", 1, 16384, &c->hidden, where)) ||
        (rc = get_int(o, "intermediate_size", 1, 65536, &c->intermediate, where)) ||
        (rc = get_int(o, "num_attention_heads", 1, 256, &c->heads, where)) ||
        (rc = get_int(o, "num_hidden_layers", 0, 256, &c->layers, where)) ||
        (rc = get_int(o, "projection_dim", 1, 16384, &c->proj_dim, where)))
        return rc;
    if (vision) {
        if ((rc = get_int(o, "image_size", 1, 4096, &c->image_size, where)) ||
            (rc = get_int(o, "patch_size", 1, 1024, &c->patch_size, where)) ||
            (rc = get_int(o, "num_channels", 1, 16, &c->channels, where)))
            return rc;
        if (c->patch_size > c->image_size)
            return odx_error(ODX_EINVAL, "config.json: %s.patch_size %d > image_size %d", where, c->patch_size, c->image_size);
        int g = c->image_size / c->patch_size;
        if ((long long)g * g + 1 > 100000)
            return odx_error(ODX_EINVAL, "config.json: %s: too many patches", where);
    } else {
        if ((rc = get_int(o, "vocab_size", 1, 1 << 22, &c->vocab_size, where)) ||
            (rc = get_int(o, "max_position_embeddings", 1, 8192, &c->max_positions, where)) ||
            (rc = get_int(o, "eos_token_id", 0, 1 << 22, &c->eos_token_id, where)) ||
            (rc = get_int(o, "bos_token_id", 0, 1 << 22, &c->bos_token_id, where)) ||
            (rc = get_int(o, "pad_token_id", 0, 1 << 22, &c->pad_token_id, where)))
            return rc;
    }
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(o, "layer_norm_eps");
    if (eps && !cJSON_IsNull(eps)) {
        if (!cJSON_IsNumber(eps) || !(eps->valuedouble > 0 && eps->valuedouble < 1))
            return odx_error(ODX_EINVAL, "config.json: %s.layer_norm_eps must be in (0, 1)", where);
        c->eps = (float)eps->valuedouble;
    }
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(o, "hidden_act");
    if (act && !cJSON_IsNull(act)) {
        if (!cJSON_IsString(act)) return odx_error(ODX_EINVAL, "config.json: %s.hidden_act must be a string", where);
        if ((rc = odx_act_parse(act->valuestring, &c->act))) return odx_error_wrap(rc, "config.json: %s", where);
    }
    if (c->hidden % c->heads)
        return odx_error(ODX_EINVAL, "config.json: %s.hidden_size %d is not a multiple of num_attention_heads %d",
                         where, c->hidden, c->heads);
    return 0;
}

int odx_clip_config_parse(const char *json, size_t len, odx_clip_config *out)
{
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root) return odx_error(ODX_EINVAL, "config.json: not valid JSON");
    odx_clip_config c;
    memset(&c, 0, sizeof c);
    text_defaults(&c.text);
    vision_defaults(&c.vision);
    int rc = 0;
    if (!cJSON_IsObject(root)) { rc = odx_error(ODX_EINVAL, "config.json: not a JSON object"); goto out; }
    const cJSON *tc = cJSON_GetObjectItemCaseSensitive(root, "text_config");
    const cJSON *vc = cJSON_GetObjectItemCaseSensitive(root, "vision_config");
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    const char *type = cJSON_IsString(mt) ? mt->valuestring : "";
    if (tc || vc) {
        if ((tc && !cJSON_IsObject(tc)) || (vc && !cJSON_IsObject(vc))) {
            rc = odx_error(ODX_EINVAL, "config.json: text_config/vision_config must be objects");
            goto out;
        }
        c.has_text = tc != NULL;
        c.has_vision = vc != NULL;
        /* The top-level projection_dim is the shared space; the towers inherit it. */
        int pd = 512;
        if ((rc = get_int(root, "projection_dim", 1, 16384, &pd, "config"))) goto out;
        c.text.proj_dim = c.vision.proj_dim = pd;
        if (tc && (rc = parse_tower(tc, 0, &c.text, "text_config"))) goto out;
        if (vc && (rc = parse_tower(vc, 1, &c.vision, "vision_config"))) goto out;
        c.text.proj_dim = c.vision.proj_dim = pd;
        c.proj_dim = pd;
    } else if (strcmp(type, "clip_text_model") == 0) {
        c.has_text = 1;
        if ((rc = parse_tower(root, 0, &c.text, "config"))) goto out;
        c.proj_dim = c.text.proj_dim;
    } else if (strcmp(type, "clip_vision_model") == 0) {
        c.has_vision = 1;
        if ((rc = parse_tower(root, 1, &c.vision, "config"))) goto out;
        c.proj_dim = c.vision.proj_dim;
    } else {
        rc = odx_error(ODX_EINVAL, "config.json: no text_config or vision_config (model_type '%.32s')", type);
        goto out;
    }
    *out = c;
out:
    cJSON_Delete(root);
    return rc;
}
