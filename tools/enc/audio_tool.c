/* audio-tool: a thin program over the audio path for the parity tests and
 * the benchmark.
 *
 *   audio-tool decode FILE [--rate R] [--max-seconds S] [--raw OUT.f32]
 *       prints {"format":..,"rate":..,"samples":..,"seconds":..}
 *   audio-tool fbank WAVE.f32 CONFIG.json OUT.f32
 *       WAVE: mono float32 at the config's sample_rate; CONFIG: a config.json
 *       with "audio_config" (or a bare audio_config object). Writes
 *       num_mel_bins x target_length float32 (one clip, no clip split).
 *   audio-tool embed MODEL_DIR FILE          decode -> resample -> embed
 *   audio-tool embed-pcm MODEL_DIR WAVE.f32  mono float32 at sample_rate
 *       both print {"dim":..,"vector":[..]}
 *   audio-tool embed-features MODEL_DIR FEATS.f32 N OUT.f32
 *       FEATS: N x mels x frames float32; OUT: N x dim float32
 *   audio-tool bench MODEL_DIR FILE ITERS
 *       prints {"audio_seconds":..,"decode_s":..,"fbank_s":..,"tower_s":..,
 *       "decode_cpu_s":..,"fbank_cpu_s":..,"tower_cpu_s":..}
 *       (per embedding, best of ITERS; *_cpu_s: process CPU time, all threads)
 * MODEL_DIR holds config.json (audio_config, projection_dim) and
 * model.safetensors. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/util.h"
#include "encoders/media/audio.h"
#include "encoders/media/fbank.h"
#include "encoders/models/audio_tower.h"
#include "tools/enc/tool_io.h"
#include "encoders/runtime/arena.h"
#include "encoders/runtime/safetensors.h"


static void print_vector(const float *v, int dim)
{
    printf("{\"dim\":%d,\"vector\":[", dim);
    for (int i = 0; i < dim; i++) printf("%s%.9g", i ? "," : "", v[i]);
    printf("]}\n");
}

/* config.json -> its audio_config object (or the object itself when it is a
 * bare audio config) and projection_dim. The cJSON root is returned for
 * the caller to delete. */
static int read_config(const char *path, cJSON **root, const cJSON **audio, int *proj_dim)
{
    char *buf;
    size_t len;
    int rc = odx_tool_read(path, &buf, &len);
    if (rc) return rc;
    *root = cJSON_ParseWithLength(buf, len);
    odx_free(buf);
    if (!*root) return odx_error(ODX_EINVAL, "%s: not valid JSON", path);
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(*root, "audio_config");
    *audio = a ? a : *root;
    const cJSON *pd = cJSON_GetObjectItemCaseSensitive(*root, "projection_dim");
    if (proj_dim) {
        if (!cJSON_IsNumber(pd)) return odx_error(ODX_EINVAL, "%s: no projection_dim", path);
        *proj_dim = pd->valueint;
    }
    return 0;
}

typedef struct model { cJSON *root; odx_st *st; odx_audio_tower *tower; odx_arena arena; } model;

static void model_close(model *m)
{
    odx_audio_tower_close(m->tower);
    odx_st_close(m->st);
    cJSON_Delete(m->root);
    odx_arena_free(&m->arena);
}

static int model_open(const char *dir, model *m)
{
    memset(m, 0, sizeof *m);
    odx_arena_init(&m->arena);
    char path[4096];
    const cJSON *audio;
    int pd, rc;
    snprintf(path, sizeof path, "%s/config.json", dir);
    if ((rc = read_config(path, &m->root, &audio, &pd))) return rc;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if ((rc = odx_st_open(path, &m->st))) return rc;
    return odx_audio_tower_load(m->st, audio, pd, &m->tower);
}

static int read_f32(const char *path, float **out, int64_t *n)
{
    char *buf;
    size_t len;
    int rc = odx_tool_read(path, &buf, &len);
    if (rc) return rc;
    if (len % sizeof(float)) { odx_free(buf); return odx_error(ODX_EINVAL, "%s: not float32 data", path); }
    *out = (float *)buf; /* odx_malloc memory is aligned for any type */
    *n = (int64_t)(len / sizeof(float));
    return 0;
}

static int cmd_decode(int argc, char **argv)
{
    const char *file = argv[0], *raw = NULL;
    int rate = 0;
    double maxs = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rate") && i + 1 < argc) rate = (int)odx_tool_arg_num("audio-tool", argv[++i], 0, ODX_AUDIO_MAX_RATE);
        else if (!strcmp(argv[i], "--max-seconds") && i + 1 < argc) maxs = odx_tool_arg_num("audio-tool", argv[++i], 0, 1e9);
        else if (!strcmp(argv[i], "--raw") && i + 1 < argc) raw = argv[++i];
        else { fprintf(stderr, "audio-tool decode: unknown option %s\n", argv[i]); return 2; }
    }
    char *buf;
    size_t len;
    int rc = odx_tool_read(file, &buf, &len);
    if (rc) return odx_tool_die("audio-tool", rc);
    odx_pcm pcm;
    rc = odx_audio_decode(buf, len, rate, maxs, &pcm);
    const char *fmt = odx_audio_format_name(buf, len);
    odx_free(buf);
    if (rc) return odx_tool_die("audio-tool", rc);
    if (raw) rc = odx_tool_write_f32(raw, pcm.samples, (size_t)pcm.n);
    if (!rc)
        printf("{\"format\":\"%s\",\"rate\":%d,\"samples\":%lld,\"seconds\":%.6f}\n", fmt, pcm.rate,
               (long long)pcm.n, (double)pcm.n / pcm.rate);
    odx_pcm_free(&pcm);
    return rc ? odx_tool_die("audio-tool", rc) : 0;
}

static int cmd_fbank(const char *wave, const char *cfgpath, const char *outp)
{
    cJSON *root = NULL;
    const cJSON *audio;
    float *w = NULL, *out = NULL;
    int64_t n;
    odx_audio_config c;
    odx_fbank *fb = NULL;
    int rc = read_config(cfgpath, &root, &audio, NULL);
    if (!rc) rc = odx_audio_config_parse(audio, &c);
    if (!rc) rc = odx_fbank_create(&c.fbank, &fb);
    if (!rc) rc = read_f32(wave, &w, &n);
    size_t per = (size_t)c.fbank.num_mel_bins * c.fbank.target_length;
    if (!rc && !(out = odx_malloc(per * sizeof(float)))) rc = odx_error(ODX_ENOMEM, "out of memory");
    if (!rc) rc = odx_fbank_compute(fb, w, n, out);
    if (!rc) rc = odx_tool_write_f32(outp, out, per);
    if (!rc)
        printf("{\"mel\":%d,\"frames\":%d,\"kaldi_frames\":%lld}\n", c.fbank.num_mel_bins, c.fbank.target_length,
               (long long)odx_fbank_num_frames(fb, n));
    odx_free(w);
    odx_free(out);
    odx_fbank_close(fb);
    cJSON_Delete(root);
    return rc ? odx_tool_die("audio-tool", rc) : 0;
}

static int cmd_embed(const char *dir, const char *file, int raw_pcm)
{
    model m;
    float *v = NULL, *w = NULL;
    odx_pcm pcm = {0};
    int64_t n = 0;
    int rc = model_open(dir, &m);
    if (!rc) {
        if (raw_pcm) {
            rc = read_f32(file, &w, &n);
        } else {
            char *buf;
            size_t len;
            if (!(rc = odx_tool_read(file, &buf, &len))) {
                rc = odx_audio_decode(buf, len, odx_audio_tower_config(m.tower)->fbank.sample_rate, 0, &pcm);
                odx_free(buf);
                w = pcm.samples;
                n = pcm.n;
            }
        }
    }
    int dim = rc ? 0 : odx_audio_tower_dim(m.tower);
    if (!rc && !(v = odx_malloc((size_t)dim * sizeof(float)))) rc = odx_error(ODX_ENOMEM, "out of memory");
    if (!rc) rc = odx_audio_tower_embed_pcm(m.tower, &m.arena, w, n, v);
    if (!rc) print_vector(v, dim);
    if (raw_pcm) odx_free(w);
    odx_pcm_free(&pcm);
    odx_free(v);
    model_close(&m);
    return rc ? odx_tool_die("audio-tool", rc) : 0;
}

static int cmd_embed_features(const char *dir, const char *feats, const char *ns, const char *outp)
{
    model m;
    float *x = NULL, *v = NULL;
    int64_t cnt = 0;
    int n = (int)odx_tool_arg_num("audio-tool", ns, 0, 4096);
    int rc = model_open(dir, &m);
    if (!rc) rc = read_f32(feats, &x, &cnt);
    if (!rc) {
        const odx_audio_config *c = odx_audio_tower_config(m.tower);
        if (cnt != (int64_t)n * c->fbank.num_mel_bins * c->fbank.target_length)
            rc = odx_error(ODX_EINVAL, "%s holds %lld floats, not %d x %d x %d", feats, (long long)cnt, n,
                           c->fbank.num_mel_bins, c->fbank.target_length);
    }
    int dim = rc ? 0 : odx_audio_tower_dim(m.tower);
    if (!rc && !(v = odx_malloc((size_t)(n ? n : 1) * dim * sizeof(float)))) rc = odx_error(ODX_ENOMEM, "out of memory");
    if (!rc) rc = odx_audio_tower_embed_features(m.tower, &m.arena, x, n, v);
    if (!rc) rc = odx_tool_write_f32(outp, v, (size_t)n * dim);
    odx_free(x);
    odx_free(v);
    model_close(&m);
    return rc ? odx_tool_die("audio-tool", rc) : 0;
}

/* Process CPU time (every thread), beside the wall clock: on a shared
 * machine a stage's CPU seconds move far less than its wall seconds. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Time per embedding of FILE: decode+resample, fbank of the clips, tower. */
static int cmd_bench(const char *dir, const char *file, const char *its)
{
    int iters = (int)odx_tool_arg_num("audio-tool", its, 1, 100000);
    model m;
    char *buf = NULL;
    size_t len = 0;
    float *feats = NULL, *emb = NULL;
    int rc = model_open(dir, &m);
    if (!rc) rc = odx_tool_read(file, &buf, &len);
    if (rc) { odx_free(buf); model_close(&m); return odx_tool_die("audio-tool", rc); }
    const odx_audio_config *c = odx_audio_tower_config(m.tower);
    odx_fbank *fb = NULL;
    rc = odx_fbank_create(&c->fbank, &fb);
    size_t per = (size_t)c->fbank.num_mel_bins * c->fbank.target_length;
    int dim = odx_audio_tower_dim(m.tower);
    double best[3] = {1e30, 1e30, 1e30}, cbest[3] = {1e30, 1e30, 1e30}, secs = 0;
    feats = odx_malloc(per * c->clips * sizeof(float));
    emb = odx_malloc((size_t)c->clips * dim * sizeof(float));
    if (!rc && (!feats || !emb)) rc = odx_error(ODX_ENOMEM, "out of memory");
    for (int it = 0; it < iters && !rc; it++) {
        odx_pcm pcm;
        double c0 = cpu_now(), t0 = odx_now_mono();
        if ((rc = odx_audio_decode(buf, len, c->fbank.sample_rate, 0, &pcm))) break;
        double c1 = cpu_now(), t1 = odx_now_mono();
        int64_t starts[64];
        int k = odx_audio_clip_starts(c, pcm.n, starts, 64);
        int64_t cl = odx_audio_clip_length(c);
        for (int i = 0; i < k && !rc; i++) {
            int64_t nn = pcm.n - starts[i] < cl ? pcm.n - starts[i] : cl;
            rc = odx_fbank_compute(fb, nn > 0 ? pcm.samples + starts[i] : pcm.samples, nn, feats + per * i);
        }
        double c2 = cpu_now(), t2 = odx_now_mono();
        if (!rc) rc = odx_audio_tower_embed_features(m.tower, &m.arena, feats, k, emb);
        odx_arena_reset(&m.arena);
        double c3 = cpu_now(), t3 = odx_now_mono();
        secs = (double)pcm.n / pcm.rate;
        odx_pcm_free(&pcm);
        if (t1 - t0 < best[0]) best[0] = t1 - t0;
        if (t2 - t1 < best[1]) best[1] = t2 - t1;
        if (t3 - t2 < best[2]) best[2] = t3 - t2;
        double cd[3] = {c1 - c0, c2 - c1, c3 - c2};
        for (int i = 0; i < 3; i++) cbest[i] = cd[i] < cbest[i] ? cd[i] : cbest[i];
    }
    if (!rc)
        printf("{\"audio_seconds\":%.3f,\"decode_s\":%.6f,\"fbank_s\":%.6f,\"tower_s\":%.6f,\"decode_cpu_s\":%.6f,"
               "\"fbank_cpu_s\":%.6f,\"tower_cpu_s\":%.6f}\n", secs, best[0], best[1], best[2], cbest[0], cbest[1], cbest[2]);
    odx_fbank_close(fb);
    odx_free(feats);
    odx_free(emb);
    odx_free(buf);
    model_close(&m);
    return rc ? odx_tool_die("audio-tool", rc) : 0;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";
    if (!strcmp(cmd, "decode") && argc >= 3) return cmd_decode(argc - 2, argv + 2);
    if (!strcmp(cmd, "fbank") && argc == 5) return cmd_fbank(argv[2], argv[3], argv[4]);
    if (!strcmp(cmd, "embed") && argc == 4) return cmd_embed(argv[2], argv[3], 0);
    if (!strcmp(cmd, "embed-pcm") && argc == 4) return cmd_embed(argv[2], argv[3], 1);
    if (!strcmp(cmd, "embed-features") && argc == 6) return cmd_embed_features(argv[2], argv[3], argv[4], argv[5]);
    if (!strcmp(cmd, "bench") && argc == 5) return cmd_bench(argv[2], argv[3], argv[4]);
    fprintf(stderr,
            "usage: audio-tool decode FILE [--rate R] [--max-seconds S] [--raw OUT.f32]\n"
            "       audio-tool fbank WAVE.f32 CONFIG.json OUT.f32\n"
            "       audio-tool embed MODEL_DIR FILE | embed-pcm MODEL_DIR WAVE.f32\n"
            "       audio-tool embed-features MODEL_DIR FEATS.f32 N OUT.f32\n"
            "       audio-tool bench MODEL_DIR FILE ITERS\n");
    return 2;
}
