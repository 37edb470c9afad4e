/* mesh-tool: a thin program over the 3D path for the tests and benchmarks.
 *
 *   mesh-tool decode FILE                  {"format","vertices","faces","bbox"} or
 *                                          {"format","error","message"} (exit 2)
 *   mesh-tool sample FILE N OUT.f32 [--normalize]    N x 3 float32
 *   mesh-tool group PTS.f32 G K CENTRES.f32 NEIGH.f32
 *   mesh-tool embed MODEL_DIR FILE...      one JSON vector per file
 *   mesh-tool embed-groups MODEL_DIR CENTRES.f32 NEIGH.f32 N OUT.f32
 *   mesh-tool render FILE VIEWS SIZE OUTDIR   OUTDIR/view_<i>.pgm
 *   mesh-tool bench MODEL_DIR FILE REPS    per-stage timings (JSON; X_s wall clock,
 *                                          X_cpu_s process CPU time of all threads)
 *   mesh-tool bench-views CLIP_DIR FILE VIEWS REPS
 *        the multi-view path of a space without a point tower, per stage,
 *        best of REPS: load, render VIEWS depth views at the image tower's
 *        size, preprocess them, image tower on them as one batch (JSON, as bench)
 * MODEL_DIR: config.json (point_config, projection_dim) + model.safetensors. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/error.h"
#include "encoders/media/mesh.h"
#include "encoders/media/preprocess.h"
#include "encoders/models/clip.h"
#include "encoders/media/points.h"
#include "encoders/media/render.h"
#include "encoders/models/point_tower.h"
#include "tools/enc/tool_io.h"

static float *read_f32(const char *path, size_t want)
{
    size_t len = 0;
    char *b = odx_tool_slurp(path, &len);
    if (!b) return NULL;
    if (len != want * sizeof(float)) {
        fprintf(stderr, "mesh-tool: %s holds %zu bytes, expected %zu\n", path, len, want * sizeof(float));
        odx_free(b);
        return NULL;
    }
    return (float *)b;
}

static int load_mesh(const char *path, odx_mesh *m)
{
    size_t len = 0;
    char *b = odx_tool_slurp(path, &len);
    if (!b) return odx_error(ODX_EIO, "cannot read %s", path);
    int rc = odx_mesh_decode(b, len, NULL, m);
    odx_free(b);
    return rc;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Process CPU time (every thread), beside the wall clock: on a shared
 * machine a stage's CPU seconds move far less than its wall seconds. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 32) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

static int cmd_decode(const char *path)
{
    size_t len = 0;
    char *b = odx_tool_slurp(path, &len);
    if (!b) return odx_tool_die("mesh-tool", odx_error(ODX_EIO, "cannot read %s", path));
    odx_mesh m;
    int rc = odx_mesh_decode(b, len, NULL, &m);
    printf("{\"format\":\"%s\",", odx_mesh_format_name(b, len));
    odx_free(b);
    if (rc) {
        printf("\"error\":\"%s\",\"message\":", odx_strerror(rc));
        json_str(odx_last_error());
        printf("}\n");
        return 2;
    }
    float lo[3], hi[3];
    for (int k = 0; k < 3; k++) lo[k] = hi[k] = m.v[k];
    for (int64_t i = 0; i < m.nv; i++)
        for (int k = 0; k < 3; k++) {
            float x = m.v[i * 3 + k];
            lo[k] = x < lo[k] ? x : lo[k];
            hi[k] = x > hi[k] ? x : hi[k];
        }
    printf("\"vertices\":%lld,\"faces\":%lld,\"bbox\":[[%.9g,%.9g,%.9g],[%.9g,%.9g,%.9g]]}\n", (long long)m.nv,
           (long long)m.nf, lo[0], lo[1], lo[2], hi[0], hi[1], hi[2]);
    odx_mesh_free(&m);
    return 0;
}

static int cmd_sample(int argc, char **argv)
{
    if (argc < 5) return odx_tool_die("mesh-tool", odx_error(ODX_EINVAL, "usage: sample FILE N OUT.f32 [--normalize]"));
    int n = atoi(argv[3]);
    if (n <= 0 || n > (1 << 24)) return odx_tool_die("mesh-tool", odx_error(ODX_EINVAL, "bad N"));
    odx_mesh m;
    int rc = load_mesh(argv[2], &m);
    if (rc) return odx_tool_die("mesh-tool", rc);
    float *p = odx_malloc((size_t)n * 3 * sizeof(float));
    rc = p ? odx_points_sample(&m, n, p) : odx_error(ODX_ENOMEM, "oom");
    if (!rc && argc > 5 && strcmp(argv[5], "--normalize") == 0) odx_points_normalize(p, n);
    if (!rc) rc = odx_tool_write_f32(argv[4], p, (size_t)n * 3);
    odx_free(p);
    odx_mesh_free(&m);
    return rc ? odx_tool_die("mesh-tool", rc) : 0;
}

static int cmd_group(int argc, char **argv)
{
    if (argc < 7) return odx_tool_die("mesh-tool", odx_error(ODX_EINVAL, "usage: group PTS.f32 G K CENTRES.f32 NEIGH.f32"));
    size_t len = 0;
    char *b = odx_tool_slurp(argv[2], &len);
    if (!b) return odx_tool_die("mesh-tool", odx_error(ODX_EIO, "cannot read %s", argv[2]));
    int n = (int)(len / 12), g = atoi(argv[3]), k = atoi(argv[4]);
    if (g < 1 || k < 1 || g > n || k > n) { odx_free(b); return odx_tool_die("mesh-tool", odx_error(ODX_EINVAL, "bad G/K")); }
    float *c = odx_malloc((size_t)g * 3 * sizeof(float)), *nb = odx_malloc((size_t)g * k * 3 * sizeof(float));
    int rc = c && nb ? odx_points_group((float *)b, n, g, k, c, nb) : odx_error(ODX_ENOMEM, "oom");
    if (!rc) rc = odx_tool_write_f32(argv[5], c, (size_t)g * 3);
    if (!rc) rc = odx_tool_write_f32(argv[6], nb, (size_t)g * k * 3);
    odx_free(b);
    odx_free(c);
    odx_free(nb);
    return rc ? odx_tool_die("mesh-tool", rc) : 0;
}

typedef struct model {
    odx_st *st;
    odx_point_tower *t;
} model;

static int model_open(const char *dir, model *m)
{
    char path[4096];
    size_t len = 0;
    memset(m, 0, sizeof *m);
    snprintf(path, sizeof path, "%s/config.json", dir);
    char *js = odx_tool_slurp(path, &len);
    if (!js) return odx_error(ODX_EIO, "cannot read %s", path);
    cJSON *root = cJSON_ParseWithLength(js, len);
    odx_free(js);
    if (!root) return odx_error(ODX_EINVAL, "config.json does not parse");
    const cJSON *pd = cJSON_GetObjectItemCaseSensitive(root, "projection_dim");
    int proj = cJSON_IsNumber(pd) ? (int)pd->valuedouble : 512;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    int rc = odx_st_open(path, &m->st);
    if (!rc) rc = odx_point_tower_load(m->st, cJSON_GetObjectItemCaseSensitive(root, "point_config"), proj, &m->t);
    cJSON_Delete(root);
    return rc;
}

static void model_close(model *m)
{
    odx_point_tower_close(m->t);
    odx_st_close(m->st);
}

static void print_vec(const float *v, int d)
{
    printf("[");
    for (int i = 0; i < d; i++) printf("%s%.9g", i ? "," : "", v[i]);
    printf("]\n");
}

static int cmd_embed(int argc, char **argv)
{
    if (argc < 4) return odx_tool_die("mesh-tool", odx_error(ODX_EINVAL, "usage: embed MODEL_DIR FILE..."));
    model md;
    int rc = model_open(argv[2], &md);
    if (rc) { model_close(&md); return odx_tool_die("mesh-tool", rc); }
    int d = odx_point_tower_config(md.t)->proj_dim;
    float *v = odx_malloc((size_t)d * sizeof(float));
    odx_arena a;
    odx_arena_init(&a);
    for (int i = 3; i < argc && !rc && v; i++) {
        odx_mesh m;
        rc = load_mesh(argv[i], &m);
        if (!rc) rc = odx_point_tower_embed_mesh(md.t, &a, &m, v);
        odx_arena_reset(&a);
        odx_mesh_free(&m);
        if (!rc) print_vec(v, d);
    }
    if (!v) rc = odx_error(ODX_ENOMEM, "oom");
    odx_arena_free(&a);
    odx_free(v);
    model_close(&md);
    return rc ? odx_tool_die("mesh-tool", rc) : 0;
}

static int cmd_embed_groups(int argc, char **argv)
{
    if (argc < 7) return odx_tool_die("mesh-tool", odx_error(ODX_EINVAL, "usage: embed-groups MODEL_DIR CENTRES.f32 NEIGH.f32 N OUT.f32"));
    model md;
    int rc = model_open(argv[2], &md);
    if (rc) { model_close(&md); return odx_tool_die("mesh-tool", rc); }
    const odx_point_config *c = odx_point_tower_config(md.t);
    int n = atoi(argv[5]);
    float *cen = n > 0 ? read_f32(argv[3], (size_t)n * c->num_groups * 3) : NULL;
    float *nb = n > 0 ? read_f32(argv[4], (size_t)n * c->num_groups * c->group_size * 3) : NULL;
    float *out = odx_malloc((size_t)(n > 0 ? n : 1) * c->proj_dim * sizeof(float));
    odx_arena a;
    odx_arena_init(&a);
    if (!cen || !nb || !out) rc = odx_error(ODX_EINVAL, "bad inputs");
    if (!rc) rc = odx_point_tower_embed_groups(md.t, &a, cen, nb, n, out);
    if (!rc) rc = odx_tool_write_f32(argv[6], out, (size_t)n * c->proj_dim);
    odx_arena_free(&a);
    odx_free(cen);
    odx_free(nb);
    odx_free(out);
    model_close(&md);
    return rc ? odx_tool_die("mesh-tool", rc) : 0;
}

static int cmd_render(int argc, char **argv)
{
    if (argc < 6) return odx_tool_die("mesh-tool", odx_error(ODX_EINVAL, "usage: render FILE VIEWS SIZE OUTDIR"));
    int views = atoi(argv[3]), size = atoi(argv[4]);
    odx_mesh m;
    int rc = load_mesh(argv[2], &m);
    if (rc) return odx_tool_die("mesh-tool", rc);
    odx_image img[ODX_RENDER_MAX_VIEWS];
    if (views < 1 || views > ODX_RENDER_MAX_VIEWS) { odx_mesh_free(&m); return odx_tool_die("mesh-tool", odx_error(ODX_EINVAL, "bad VIEWS")); }
    rc = odx_render_depth_views(&m, views, size, img);
    for (int i = 0; i < views && !rc; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/view_%d.pgm", argv[5], i);
        FILE *f = fopen(path, "wb");
        if (!f) { rc = odx_error(ODX_EIO, "cannot write %s", path); break; }
        fprintf(f, "P5\n%d %d\n255\n", size, size);
        for (int q = 0; q < size * size; q++) fputc(img[i].rgb[q * 3], f);
        fclose(f);
    }
    if (!rc)
        for (int i = 0; i < views; i++) odx_image_free(&img[i]);
    odx_mesh_free(&m);
    return rc ? odx_tool_die("mesh-tool", rc) : 0;
}

/* Per stage, best of REPS: load (decode), sample + normalise + group, tower
 * (batch of one), render (6 views of 224). */
static int cmd_bench(int argc, char **argv)
{
    if (argc < 5) return odx_tool_die("mesh-tool", odx_error(ODX_EINVAL, "usage: bench MODEL_DIR FILE REPS"));
    int reps = atoi(argv[4]);
    if (reps < 1) reps = 1;
    model md;
    int rc = model_open(argv[2], &md);
    if (rc) { model_close(&md); return odx_tool_die("mesh-tool", rc); }
    const odx_point_config *c = odx_point_tower_config(md.t);
    size_t len = 0;
    char *b = odx_tool_slurp(argv[3], &len);
    if (!b) { model_close(&md); return odx_tool_die("mesh-tool", odx_error(ODX_EIO, "cannot read %s", argv[3])); }
    float *pts = odx_malloc((size_t)c->num_points * 3 * sizeof(float));
    float *cen = odx_malloc((size_t)c->num_groups * 3 * sizeof(float));
    float *nb = odx_malloc((size_t)c->num_groups * c->group_size * 3 * sizeof(float));
    float *v = odx_malloc((size_t)c->proj_dim * sizeof(float));
    odx_arena a;
    odx_arena_init(&a);
    double best[4] = {1e9, 1e9, 1e9, 1e9}, cbest[4] = {1e9, 1e9, 1e9, 1e9};
    long long nv = 0, nf = 0;
    for (int r = 0; r < reps && !rc; r++) {
        odx_mesh m;
        odx_image img[6];
        double c0 = cpu_now(), t0 = now();
        rc = odx_mesh_decode(b, len, NULL, &m);
        if (rc) break;
        nv = m.nv;
        nf = m.nf;
        double c1 = cpu_now(), t1 = now();
        rc = odx_points_sample(&m, c->num_points, pts);
        if (!rc) { odx_points_normalize(pts, c->num_points); rc = odx_points_group(pts, c->num_points, c->num_groups, c->group_size, cen, nb); }
        double c2 = cpu_now(), t2 = now();
        if (!rc) rc = odx_point_tower_embed_groups(md.t, &a, cen, nb, 1, v);
        odx_arena_reset(&a);
        double c3 = cpu_now(), t3 = now();
        if (!rc) rc = odx_render_depth_views(&m, 6, 224, img);
        double c4 = cpu_now(), t4 = now();
        if (!rc) for (int i = 0; i < 6; i++) odx_image_free(&img[i]);
        odx_mesh_free(&m);
        double d[4] = {t1 - t0, t2 - t1, t3 - t2, t4 - t3}, cd[4] = {c1 - c0, c2 - c1, c3 - c2, c4 - c3};
        for (int i = 0; i < 4; i++) best[i] = d[i] < best[i] ? d[i] : best[i];
        for (int i = 0; i < 4; i++) cbest[i] = cd[i] < cbest[i] ? cd[i] : cbest[i];
    }
    if (!rc)
        printf("{\"vertices\":%lld,\"faces\":%lld,\"load_s\":%.6f,\"sample_group_s\":%.6f,\"tower_s\":%.6f,\"render6x224_s\":%.6f,"
               "\"load_cpu_s\":%.6f,\"sample_group_cpu_s\":%.6f,\"tower_cpu_s\":%.6f,\"render6x224_cpu_s\":%.6f}\n",
               nv, nf, best[0], best[1], best[2], best[3], cbest[0], cbest[1], cbest[2], cbest[3]);
    odx_arena_free(&a);
    odx_free(b);
    odx_free(pts);
    odx_free(cen);
    odx_free(nb);
    odx_free(v);
    model_close(&md);
    return rc ? odx_tool_die("mesh-tool", rc) : 0;
}

/* The stages of encoders/space.c's embed_mesh without a point tower; the
 * mean pooling of the views is left out (microseconds). */
static int cmd_bench_views(int argc, char **argv)
{
    if (argc < 6) return odx_tool_die("mesh-tool", odx_error(ODX_EINVAL, "usage: bench-views CLIP_DIR FILE VIEWS REPS"));
    int views = atoi(argv[4]), reps = atoi(argv[5]);
    if (views < 1 || views > ODX_RENDER_MAX_VIEWS) return odx_tool_die("mesh-tool", odx_error(ODX_EINVAL, "bad VIEWS"));
    if (reps < 1) reps = 1;
    odx_clip *cm = NULL;
    odx_clip_preproc pre;
    size_t len = 0;
    char *b = NULL;
    float *px = NULL, *out = NULL;
    int rc = odx_clip_open(argv[2], &cm);
    if (!rc) rc = odx_tool_model_preproc(argv[2], cm, &pre);
    if (!rc && !(b = odx_tool_slurp(argv[3], &len))) rc = odx_error(ODX_EIO, "cannot read %s", argv[3]);
    int size = rc ? 0 : odx_clip_get_config(cm)->vision.image_size, dim = rc ? 0 : odx_clip_dim(cm);
    size_t per = (size_t)3 * pre.crop_h * pre.crop_w;
    if (!rc && (!(px = odx_malloc((size_t)views * per * sizeof *px)) || !(out = odx_malloc((size_t)views * dim * sizeof *out))))
        rc = odx_error(ODX_ENOMEM, "out of memory");
    double best[4] = {1e30, 1e30, 1e30, 1e30}, cbest[4] = {1e30, 1e30, 1e30, 1e30};
    long long nv = 0, nf = 0;
    for (int r = 0; r < reps && !rc; r++) {
        odx_mesh m;
        odx_image img[ODX_RENDER_MAX_VIEWS];
        double c0 = cpu_now(), t0 = now();
        if ((rc = odx_mesh_decode(b, len, NULL, &m))) break;
        nv = m.nv;
        nf = m.nf;
        double c1 = cpu_now(), t1 = now();
        rc = odx_render_depth_views(&m, views, size, img);
        odx_mesh_free(&m);
        if (rc) break;
        double c2 = cpu_now(), t2 = now();
        for (int i = 0; i < views && !rc; i++) rc = odx_clip_preprocess(&pre, &img[i], px + (size_t)i * per);
        double c3 = cpu_now(), t3 = now();
        if (!rc) rc = odx_clip_embed_pixels(cm, px, views, out);
        double c4 = cpu_now(), t4 = now();
        for (int i = 0; i < views; i++) odx_image_free(&img[i]);
        double d[4] = {t1 - t0, t2 - t1, t3 - t2, t4 - t3}, cd[4] = {c1 - c0, c2 - c1, c3 - c2, c4 - c3};
        for (int i = 0; i < 4; i++) best[i] = d[i] < best[i] ? d[i] : best[i];
        for (int i = 0; i < 4; i++) cbest[i] = cd[i] < cbest[i] ? cd[i] : cbest[i];
    }
    if (!rc)
        printf("{\"vertices\":%lld,\"faces\":%lld,\"views\":%d,\"size\":%d,\"load_s\":%.6f,\"render_s\":%.6f,"
               "\"preprocess_s\":%.6f,\"tower_s\":%.6f,\"load_cpu_s\":%.6f,\"render_cpu_s\":%.6f,"
               "\"preprocess_cpu_s\":%.6f,\"tower_cpu_s\":%.6f}\n", nv, nf, views, size, best[0], best[1], best[2],
               best[3], cbest[0], cbest[1], cbest[2], cbest[3]);
    odx_free(b);
    odx_free(px);
    odx_free(out);
    odx_clip_close(cm);
    return rc ? odx_tool_die("mesh-tool", rc) : 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: mesh-tool decode|sample|group|embed|embed-groups|render|bench|bench-views ...\n");
        return 1;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "decode") == 0) return cmd_decode(argv[2]);
    if (strcmp(cmd, "sample") == 0) return cmd_sample(argc, argv);
    if (strcmp(cmd, "group") == 0) return cmd_group(argc, argv);
    if (strcmp(cmd, "embed") == 0) return cmd_embed(argc, argv);
    if (strcmp(cmd, "embed-groups") == 0) return cmd_embed_groups(argc, argv);
    if (strcmp(cmd, "render") == 0) return cmd_render(argc, argv);
    if (strcmp(cmd, "bench") == 0) return cmd_bench(argc, argv);
    if (strcmp(cmd, "bench-views") == 0) return cmd_bench_views(argc, argv);
    fprintf(stderr, "mesh-tool: unknown command %s\n", cmd);
    return 1;
}
