/* video-tool: a thin program over encoders/media/video.h, used by the video
 * tests and for looking at what the decoder samples.
 *
 *   video-tool probe  FILE [opts]          JSON: format, duration, size, sampled frame times, has_audio
 *   video-tool frames FILE N OUTDIR [opts] writes OUTDIR/frame_NNN.ppm (P6) and prints the probe JSON
 *   video-tool audio  FILE RATE OUT.f32 [opts]  mono float32 little-endian PCM at RATE Hz
 *   video-tool bench  FILE N ROUNDS        seconds per decode (sampling N frames), best of ROUNDS
 *   video-tool bench-embed MODEL_DIR FILE N ROUNDS
 *        one video embedding split in stages, each the best of ROUNDS:
 *        decode (N frames), preprocess (the model's image preprocessing),
 *        tower (the N frames as one batch); JSON with the seconds of each,
 *        wall clock (X_s) and process CPU time of all threads (X_cpu_s)
 *
 * opts: --frames N, --max-seconds S, --max-pixels P.
 * Errors: "video-tool: <code name>: <message>" on stderr, exit status 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/error.h"
#include "encoders/media/preprocess.h"
#include "encoders/media/video.h"
#include "encoders/models/clip.h"
#include "omnidex.h"
#include "tools/enc/tool_io.h"

/* Parses the trailing --options from argv[from..]. */
static void parse_opts(int argc, char **argv, int from, odx_video_opts *o)
{
    for (int i = from; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--frames") == 0) o->frames = (int)odx_tool_arg_num("video-tool", argv[++i], 1, 100000);
        else if (i + 1 < argc && strcmp(argv[i], "--max-seconds") == 0) o->max_seconds = odx_tool_arg_num("video-tool", argv[++i], 0, 1e9);
        else if (i + 1 < argc && strcmp(argv[i], "--max-pixels") == 0) o->max_pixels = (uint64_t)odx_tool_arg_num("video-tool", argv[++i], 1, 1e15);
        else {
            fprintf(stderr, "video-tool: unknown option '%s'\n", argv[i]);
            exit(2);
        }
    }
}

static int decode_file(const char *path, const odx_video_opts *o, odx_video *v)
{
    size_t len = 0;
    char *data = odx_tool_slurp(path, &len);
    if (!data) {
        fprintf(stderr, "video-tool: cannot read %s\n", path);
        return 1;
    }
    int rc = odx_video_decode(data, len, o, v);
    odx_free(data);
    return rc ? odx_tool_die("video-tool", rc) : 0;
}

static void print_json(const odx_video *v)
{
    printf("{\"format\": \"%s\", \"duration\": %.6f, \"width\": %d, \"height\": %d, \"has_audio\": %s, \"frames\": [",
           v->format, v->duration, v->width, v->height, v->has_audio ? "true" : "false");
    for (int i = 0; i < v->n_frames; i++)
        printf("%s{\"t\": %.6f, \"w\": %d, \"h\": %d}", i ? ", " : "", v->frame_times[i], v->frames[i].w,
               v->frames[i].h);
    printf("]");
    if (v->audio) printf(", \"audio_samples\": %lld, \"audio_rate\": %d", (long long)v->audio_n, v->audio_rate);
    printf("}\n");
}

static int cmd_probe(const char *path, const odx_video_opts *o)
{
    odx_video v;
    if (decode_file(path, o, &v)) return 1;
    print_json(&v);
    odx_video_free(&v);
    return 0;
}

static int cmd_frames(const char *path, const char *dir, const odx_video_opts *o)
{
    odx_video v;
    if (decode_file(path, o, &v)) return 1;
    int bad = 0;
    for (int i = 0; i < v.n_frames && !bad; i++) {
        char name[4096];
        snprintf(name, sizeof name, "%s/frame_%03d.ppm", dir, i);
        FILE *f = fopen(name, "wb");
        const odx_image *im = &v.frames[i];
        size_t n = (size_t)im->w * im->h * 3;
        if (!f || fprintf(f, "P6\n%d %d\n255\n", im->w, im->h) < 0 || fwrite(im->rgb, 1, n, f) != n) bad = 1;
        if (f && fclose(f) != 0) bad = 1;
        if (bad) fprintf(stderr, "video-tool: cannot write %s\n", name);
    }
    if (!bad) print_json(&v);
    odx_video_free(&v);
    return bad;
}

static int cmd_audio(const char *path, int rate, const char *outp, odx_video_opts *o)
{
    odx_video v;
    o->audio_rate = rate;
    o->frames = o->frames ? o->frames : 1;
    if (decode_file(path, o, &v)) return 1;
    int bad = 0;
    if (!v.has_audio) {
        fprintf(stderr, "video-tool: %s has no audio stream\n", path);
        bad = 1;
    } else {
        FILE *f = fopen(outp, "wb");
        if (!f || fwrite(v.audio, sizeof(float), (size_t)v.audio_n, f) != (size_t)v.audio_n) bad = 1;
        if (f && fclose(f) != 0) bad = 1;
        if (bad) fprintf(stderr, "video-tool: cannot write %s\n", outp);
        else print_json(&v);
    }
    odx_video_free(&v);
    return bad;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmd_bench(const char *path, int n, int rounds)
{
    size_t len = 0;
    char *data = odx_tool_slurp(path, &len);
    if (!data) {
        fprintf(stderr, "video-tool: cannot read %s\n", path);
        return 1;
    }
    odx_video_opts o = {.frames = n};
    double best = 1e30, dur = 0;
    for (int r = 0; r < rounds; r++) {
        odx_video v;
        double t0 = now();
        int rc = odx_video_decode(data, len, &o, &v);
        double t = now() - t0;
        if (rc) {
            odx_free(data);
            return odx_tool_die("video-tool", rc);
        }
        dur = v.duration;
        odx_video_free(&v);
        if (t < best) best = t;
    }
    odx_free(data);
    printf("{\"seconds\": %.6f, \"duration\": %.6f, \"frames\": %d}\n", best, dur, n);
    return 0;
}

/* Process CPU time (every thread), beside the wall clock: on a shared
 * machine a stage's CPU seconds move far less than its wall seconds. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* What a space's video embedding costs, stage by stage (soundtrack off, the
 * default): decode the sampled frames, preprocess them, run the image tower
 * on them as one batch. The mean pooling is left out (microseconds). */
static int cmd_bench_embed(const char *dir, const char *path, int n, int rounds)
{
    odx_clip *m = NULL;
    odx_clip_preproc pre;
    size_t len = 0;
    char *data = NULL;
    float *px = NULL, *out = NULL;
    int rc = odx_clip_open(dir, &m);
    if (!rc) rc = odx_tool_model_preproc(dir, m, &pre);
    if (!rc && !(data = odx_tool_slurp(path, &len))) rc = odx_error(ODX_EIO, "cannot read %s", path);
    size_t per = (size_t)3 * pre.crop_h * pre.crop_w;
    int dim = rc ? 0 : odx_clip_dim(m);
    if (!rc && (!(px = odx_malloc((size_t)n * per * sizeof *px)) || !(out = odx_malloc((size_t)n * dim * sizeof *out))))
        rc = odx_error(ODX_ENOMEM, "out of memory");
    odx_video_opts o = {.frames = n};
    double best[3] = {1e30, 1e30, 1e30}, cbest[3] = {1e30, 1e30, 1e30}, dur = 0;
    int got = 0;
    for (int r = 0; r < rounds && !rc; r++) {
        odx_video v;
        double c0 = cpu_now(), t0 = now();
        if ((rc = odx_video_decode(data, len, &o, &v))) break;
        double c1 = cpu_now(), t1 = now();
        for (int i = 0; i < v.n_frames && !rc; i++) rc = odx_clip_preprocess(&pre, &v.frames[i], px + (size_t)i * per);
        double c2 = cpu_now(), t2 = now();
        if (!rc) rc = odx_clip_embed_pixels(m, px, v.n_frames, out);
        double c3 = cpu_now(), t3 = now();
        dur = v.duration;
        got = v.n_frames;
        odx_video_free(&v);
        double d[3] = {t1 - t0, t2 - t1, t3 - t2}, cd[3] = {c1 - c0, c2 - c1, c3 - c2};
        for (int i = 0; i < 3; i++) best[i] = d[i] < best[i] ? d[i] : best[i];
        for (int i = 0; i < 3; i++) cbest[i] = cd[i] < cbest[i] ? cd[i] : cbest[i];
    }
    if (!rc)
        printf("{\"duration\": %.6f, \"frames\": %d, \"decode_s\": %.6f, \"preprocess_s\": %.6f, \"tower_s\": %.6f, "
               "\"decode_cpu_s\": %.6f, \"preprocess_cpu_s\": %.6f, \"tower_cpu_s\": %.6f}\n",
               dur, got, best[0], best[1], best[2], cbest[0], cbest[1], cbest[2]);
    odx_free(px);
    odx_free(out);
    odx_free(data);
    odx_clip_close(m);
    return rc ? odx_tool_die("video-tool", rc) : 0;
}

int main(int argc, char **argv)
{
    odx_video_opts o = {0};
    if (argc >= 3 && strcmp(argv[1], "probe") == 0) {
        parse_opts(argc, argv, 3, &o);
        return cmd_probe(argv[2], &o);
    }
    if (argc >= 5 && strcmp(argv[1], "frames") == 0) {
        o.frames = (int)odx_tool_arg_num("video-tool", argv[3], 1, 100000);
        parse_opts(argc, argv, 5, &o);
        return cmd_frames(argv[2], argv[4], &o);
    }
    if (argc >= 5 && strcmp(argv[1], "audio") == 0) {
        int rate = (int)odx_tool_arg_num("video-tool", argv[3], 1, 1e7);
        parse_opts(argc, argv, 5, &o);
        return cmd_audio(argv[2], rate, argv[4], &o);
    }
    if (argc == 5 && strcmp(argv[1], "bench") == 0)
        return cmd_bench(argv[2], (int)odx_tool_arg_num("video-tool", argv[3], 1, 100000), (int)odx_tool_arg_num("video-tool", argv[4], 1, 1000));
    if (argc == 6 && strcmp(argv[1], "bench-embed") == 0)
        return cmd_bench_embed(argv[2], argv[3], (int)odx_tool_arg_num("video-tool", argv[4], 1, 256), (int)odx_tool_arg_num("video-tool", argv[5], 1, 1000));
    fprintf(stderr, "usage: video-tool probe FILE [opts] | frames FILE N OUTDIR [opts] | audio FILE RATE OUT.f32 [opts]"
                    " | bench FILE N ROUNDS\n       video-tool bench-embed MODEL_DIR FILE N ROUNDS\n       opts: --frames N --max-seconds S --max-pixels P\n");
    return 2;
}
