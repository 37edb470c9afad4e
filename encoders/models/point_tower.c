/* Point tower (see point_tower.h). The group encoder's second layer takes
 * [global feature g | point feature f]; its weight is split at load into
 * the g half and the f half, so the g product is computed once per group
 * and broadcast instead of once per point (half the largest GEMM). */
#include "encoders/models/point_tower.h"

#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "encoders/media/points.h"
#include "encoders/models/transformer.h"
#include "encoders/runtime/ops.h"

struct odx_point_tower {
    odx_point_config cfg;
    const float *w1, *b1, *w2, *b2, *b3, *w4, *b4; /* group encoder */
    float *w3g, *w3f;                              /* second.0 split, owned */
    const float *pw0, *pb0, *pw1, *pb1;            /* pos_embed */
    const float *cls_token, *cls_pos, *post_g, *post_b, *proj;
    odx_tf_encoder enc;
};

static int get_int(const cJSON *o, const char *key, int lo, int hi, int *v)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!j || cJSON_IsNull(j)) return 0;
    double d = cJSON_IsNumber(j) ? j->valuedouble : -1e300;
    if (!cJSON_IsNumber(j) || !(d >= lo && d <= hi) || d != (double)(long long)d)
        return odx_error(ODX_EINVAL, "config.json: point_config.%s must be an integer in [%d, %d]", key, lo, hi);
    *v = (int)d;
    return 0;
}

int odx_point_config_parse(const cJSON *o, int proj_dim, odx_point_config *c)
{
    memset(c, 0, sizeof *c);
    odx_tower_config *t = &c->tower;
    t->hidden = 384; t->intermediate = 1536; t->heads = 6; t->layers = 12;
    t->eps = 1e-5f; t->act = ODX_ACT_GELU;
    c->num_points = 1024; c->num_groups = 64; c->group_size = 32;
    c->channels[0] = 128; c->channels[1] = 256; c->channels[2] = 512;
    if (proj_dim < 1 || proj_dim > 16384) return odx_error(ODX_EINVAL, "config.json: projection_dim %d out of range", proj_dim);
    c->proj_dim = t->proj_dim = proj_dim;
    if (!o) return 0;
    if (!cJSON_IsObject(o)) return odx_error(ODX_EINVAL, "config.json: point_config must be an object");
    int rc;
    if ((rc = get_int(o, "hidden_size", 1, 16384, &t->hidden)) ||
        (rc = get_int(o, "intermediate_size", 1, 65536, &t->intermediate)) ||
        (rc = get_int(o, "num_attention_heads", 1, 256, &t->heads)) ||
        (rc = get_int(o, "num_hidden_layers", 0, 256, &t->layers)) ||
        (rc = get_int(o, "num_points", 1, 1 << 20, &c->num_points)) ||
        (rc = get_int(o, "num_groups", 1, 4096, &c->num_groups)) ||
        (rc = get_int(o, "group_size", 1, 4096, &c->group_size)))
        return rc;
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(o, "encoder_channels");
    if (ch && !cJSON_IsNull(ch)) {
        if (!cJSON_IsArray(ch) || cJSON_GetArraySize(ch) != 3)
            return odx_error(ODX_EINVAL, "config.json: point_config.encoder_channels must be [c1, c2, c3]");
        for (int i = 0; i < 3; i++) {
            const cJSON *e = cJSON_GetArrayItem(ch, i);
            double d = cJSON_IsNumber(e) ? e->valuedouble : -1;
            if (!(d >= 1 && d <= 8192) || d != (double)(long long)d)
                return odx_error(ODX_EINVAL, "config.json: point_config.encoder_channels[%d] must be an integer in [1, 8192]", i);
            c->channels[i] = (int)d;
        }
    }
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(o, "layer_norm_eps");
    if (eps && !cJSON_IsNull(eps)) {
        if (!cJSON_IsNumber(eps) || !(eps->valuedouble > 0 && eps->valuedouble < 1))
            return odx_error(ODX_EINVAL, "config.json: point_config.layer_norm_eps must be in (0, 1)");
        t->eps = (float)eps->valuedouble;
    }
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(o, "hidden_act");
    if (act && !cJSON_IsNull(act)) {
        if (!cJSON_IsString(act)) return odx_error(ODX_EINVAL, "config.json: point_config.hidden_act must be a string");
        if ((rc = odx_act_parse(act->valuestring, &t->act))) return odx_error_wrap(rc, "config.json: point_config");
    }
    if (t->hidden % t->heads)
        return odx_error(ODX_EINVAL, "config.json: point_config.hidden_size %d is not a multiple of num_attention_heads %d",
                         t->hidden, t->heads);
    if (c->num_groups > c->num_points || c->group_size > c->num_points)
        return odx_error(ODX_EINVAL, "config.json: point_config: num_groups %d and group_size %d must be <= num_points %d",
                         c->num_groups, c->group_size, c->num_points);
    /* The group encoder holds G*K rows of width up to 2*c2 / c3 per object. */
    if ((long long)c->num_groups * c->group_size > (1 << 20))
        return odx_error(ODX_EINVAL, "config.json: point_config: num_groups * group_size over %d", 1 << 20);
    return 0;
}

void odx_point_tower_close(odx_point_tower *t)
{
    if (!t) return;
    odx_tf_encoder_free(&t->enc);
    odx_free(t->w3g);
    odx_free(t->w3f);
    odx_free(t);
}

const odx_point_config *odx_point_tower_config(const odx_point_tower *t) { return &t->cfg; }

int odx_point_tower_load(odx_st *st, const cJSON *point_config, int proj_dim, odx_point_tower **out)
{
    *out = NULL;
    odx_point_tower *t = odx_calloc(1, sizeof *t);
    if (!t) return odx_error(ODX_ENOMEM, "out of memory");
    int rc = odx_point_config_parse(point_config, proj_dim, &t->cfg);
    if (rc) { odx_free(t); return rc; }
    const odx_point_config *c = &t->cfg;
    int64_t h = c->tower.hidden, c1 = c->channels[0], c2 = c->channels[1], c3 = c->channels[2], ph = ODX_POINT_POS_HIDDEN;
    const char *g = "point_model.group_encoder.", *p = "point_model.";
    const float *w3;
    if ((rc = odx_tf_get(st, g, "first.0.weight", 2, c1, 3, &t->w1)) ||
        (rc = odx_tf_get(st, g, "first.0.bias", 1, c1, 0, &t->b1)) ||
        (rc = odx_tf_get(st, g, "first.1.weight", 2, c2, c1, &t->w2)) ||
        (rc = odx_tf_get(st, g, "first.1.bias", 1, c2, 0, &t->b2)) ||
        (rc = odx_tf_get(st, g, "second.0.weight", 2, c3, 2 * c2, &w3)) ||
        (rc = odx_tf_get(st, g, "second.0.bias", 1, c3, 0, &t->b3)) ||
        (rc = odx_tf_get(st, g, "second.1.weight", 2, h, c3, &t->w4)) ||
        (rc = odx_tf_get(st, g, "second.1.bias", 1, h, 0, &t->b4)) ||
        (rc = odx_tf_get(st, p, "pos_embed.0.weight", 2, ph, 3, &t->pw0)) ||
        (rc = odx_tf_get(st, p, "pos_embed.0.bias", 1, ph, 0, &t->pb0)) ||
        (rc = odx_tf_get(st, p, "pos_embed.1.weight", 2, h, ph, &t->pw1)) ||
        (rc = odx_tf_get(st, p, "pos_embed.1.bias", 1, h, 0, &t->pb1)) ||
        (rc = odx_tf_get(st, p, "cls_token", 1, h, 0, &t->cls_token)) ||
        (rc = odx_tf_get(st, p, "cls_pos", 1, h, 0, &t->cls_pos)) ||
        (rc = odx_tf_get(st, p, "post_layernorm.weight", 1, h, 0, &t->post_g)) ||
        (rc = odx_tf_get(st, p, "post_layernorm.bias", 1, h, 0, &t->post_b)) ||
        (rc = odx_tf_get(st, "", "point_projection.weight", 2, c->proj_dim, 2 * h, &t->proj)))
        goto fail;
    t->w3g = odx_malloc((size_t)c3 * c2 * sizeof(float));
    t->w3f = odx_malloc((size_t)c3 * c2 * sizeof(float));
    if (!t->w3g || !t->w3f) { rc = odx_error(ODX_ENOMEM, "out of memory splitting the group encoder"); goto fail; }
    for (int64_t r = 0; r < c3; r++) {
        memcpy(t->w3g + r * c2, w3 + r * 2 * c2, (size_t)c2 * sizeof(float));
        memcpy(t->w3f + r * c2, w3 + r * 2 * c2 + c2, (size_t)c2 * sizeof(float));
    }
    if ((rc = odx_tf_encoder_load(st, "point_model.encoder", &c->tower, &t->enc))) goto fail;
    *out = t;
    return 0;
fail:
    odx_point_tower_close(t);
    return odx_error_wrap(rc, "point tower");
}

static void relu(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = x[i] > 0 ? x[i] : 0;
}

/* Row-wise max over groups of k rows: in [groups*k, w] -> out [groups, w]. */
static void max_rows(const float *in, int groups, int k, int w, float *out)
{
    for (int gi = 0; gi < groups; gi++) {
        float *o = out + (size_t)gi * w;
        memcpy(o, in + (size_t)gi * k * w, (size_t)w * sizeof(float));
        for (int j = 1; j < k; j++) {
            const float *r = in + ((size_t)gi * k + j) * w;
            for (int q = 0; q < w; q++) o[q] = r[q] > o[q] ? r[q] : o[q];
        }
    }
}

/* One object's group tokens: neigh [G*K, 3] -> tok [G, H]. */
static int group_encoder(const odx_point_tower *t, odx_arena *a, const float *neigh, float *tok)
{
    const odx_point_config *c = &t->cfg;
    int G = c->num_groups, K = c->group_size, R = G * K, h = c->tower.hidden;
    int c1 = c->channels[0], c2 = c->channels[1], c3 = c->channels[2];
    odx_arena_mark_t mk = odx_arena_mark(a);
    float *f1 = odx_arena_floats(a, (size_t)R * c1);
    float *f2 = odx_arena_floats(a, (size_t)R * c2);
    float *gm = odx_arena_floats(a, (size_t)G * c2);
    float *hg = odx_arena_floats(a, (size_t)G * c3);
    float *f3 = odx_arena_floats(a, (size_t)R * c3);
    float *f4 = odx_arena_floats(a, (size_t)R * h);
    if (!f1 || !f2 || !gm || !hg || !f3 || !f4) return odx_error(ODX_ENOMEM, "out of memory for the group encoder");
    odx_op_linear(neigh, R, 3, t->w1, t->b1, c1, f1);
    relu(f1, (size_t)R * c1);
    odx_op_linear(f1, R, c1, t->w2, t->b2, c2, f2);
    max_rows(f2, G, K, c2, gm);
    odx_op_linear(gm, G, c2, t->w3g, t->b3, c3, hg);      /* global half + bias, once per group */
    odx_op_linear(f2, R, c2, t->w3f, NULL, c3, f3);        /* point half */
    for (int gi = 0; gi < G; gi++)
        for (int j = 0; j < K; j++) {
            float *r = f3 + ((size_t)gi * K + j) * c3;
            const float *b = hg + (size_t)gi * c3;
            for (int q = 0; q < c3; q++) {
                float v = r[q] + b[q];
                r[q] = v > 0 ? v : 0;
            }
        }
    odx_op_linear(f3, R, c3, t->w4, t->b4, h, f4);
    max_rows(f4, G, K, h, tok);
    odx_arena_release(a, mk);
    return 0;
}

static int embed_groups(odx_point_tower *t, odx_arena *a, const float *centres, const float *neigh, int n,
                        float *out)
{
    if (n <= 0) return n == 0 ? 0 : odx_error(ODX_EINVAL, "negative batch");
    const odx_point_config *c = &t->cfg;
    int G = c->num_groups, K = c->group_size, h = c->tower.hidden, S = G + 1;
    if ((long long)n * S > (1 << 24)) return odx_error(ODX_ELIMIT, "batch of %d objects too large", n);
    int rows = n * S;
    float *x = odx_arena_floats(a, (size_t)rows * h);
    float *tok = odx_arena_floats(a, (size_t)G * h);
    float *ph = odx_arena_floats(a, (size_t)G * ODX_POINT_POS_HIDDEN);
    float *pos = odx_arena_floats(a, (size_t)G * h);
    int *off = odx_arena_alloc(a, (size_t)(n + 1) * sizeof(int));
    if (!x || !tok || !ph || !pos || !off) return odx_error(ODX_ENOMEM, "out of memory for %d point clouds", n);
    for (int i = 0; i < n; i++) {
        int rc = group_encoder(t, a, neigh + (size_t)i * G * K * 3, tok);
        if (rc) return rc;
        odx_op_linear(centres + (size_t)i * G * 3, G, 3, t->pw0, t->pb0, ODX_POINT_POS_HIDDEN, ph);
        odx_op_act(ODX_ACT_GELU, ph, (size_t)G * ODX_POINT_POS_HIDDEN);
        odx_op_linear(ph, G, ODX_POINT_POS_HIDDEN, t->pw1, t->pb1, h, pos);
        float *xs = x + (size_t)i * S * h;
        for (int q = 0; q < h; q++) xs[q] = t->cls_token[q] + t->cls_pos[q];
        for (int gi = 0; gi < G; gi++) {
            float *r = xs + (size_t)(gi + 1) * h;
            const float *tk = tok + (size_t)gi * h, *pp = pos + (size_t)gi * h;
            for (int q = 0; q < h; q++) r[q] = tk[q] + pp[q];
        }
        off[i] = i * S;
    }
    off[n] = rows;
    int rc = odx_tf_encoder_forward(&t->enc, x, rows, off, n, 0, NULL, NULL, a);
    if (rc) return rc;
    odx_op_layernorm(x, rows, h, t->post_g, t->post_b, c->tower.eps, x);
    float *pooled = odx_arena_floats(a, (size_t)n * 2 * h);
    if (!pooled) return odx_error(ODX_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        const float *xs = x + (size_t)i * S * h;
        float *pr = pooled + (size_t)i * 2 * h;
        memcpy(pr, xs, (size_t)h * sizeof(float));
        max_rows(xs + h, 1, G, h, pr + h);
    }
    odx_op_linear(pooled, n, 2 * h, t->proj, NULL, c->proj_dim, out);
    odx_op_l2norm_rows(out, n, c->proj_dim);
    return 0;
}

int odx_point_tower_embed_points(odx_point_tower *t, odx_arena *a, const float *pts, float *out)
{
    const odx_point_config *c = &t->cfg;
    float *cen = odx_arena_floats(a, (size_t)c->num_groups * 3);
    float *nb = odx_arena_floats(a, (size_t)c->num_groups * c->group_size * 3);
    if (!cen || !nb) return odx_error(ODX_ENOMEM, "out of memory for grouping");
    int rc = odx_points_group(pts, c->num_points, c->num_groups, c->group_size, cen, nb);
    if (rc) return rc;
    return odx_point_tower_embed_groups(t, a, cen, nb, 1, out);
}

int odx_point_tower_embed_mesh(odx_point_tower *t, odx_arena *a, const odx_mesh *m, float *out)
{
    const odx_point_config *c = &t->cfg;
    float *pts = odx_arena_floats(a, (size_t)c->num_points * 3);
    if (!pts) return odx_error(ODX_ENOMEM, "out of memory for %d points", c->num_points);
    int rc = odx_points_sample(m, c->num_points, pts);
    if (rc) return rc;
    odx_points_normalize(pts, c->num_points);
    return odx_point_tower_embed_points(t, a, pts, out);
}

int odx_point_tower_embed_groups(odx_point_tower *t, odx_arena *a, const float *centres,
                                 const float *neigh, int n, float *out)
{
    /* The group encoder's per-point MLPs cost about as much as the encoder. */
    int rows = n > 0 ? n * (t->cfg.num_groups + 1) : 0;
    int saved = odx_op_narrow_begin(2.0 * odx_tf_encoder_flops(&t->enc, rows));
    int rc = embed_groups(t, a, centres, neigh, n, out);
    odx_op_narrow_end(saved);
    return rc;
}
