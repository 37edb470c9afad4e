/* enc-tool: a thin program over the encoder library for the parity tests and
 * benchmarks (not the user CLI; `omnidex embed` is).
 *
 *   enc-tool ids MODEL IDS.bin OUT.bin        IDS: int32 n, then per text:
 *                                             int32 len, len int32 ids
 *   enc-tool pixels MODEL PIX.bin N OUT.bin   PIX: N*3*S*S float32
 *   enc-tool texts MODEL OUT.bin < lines      one UTF-8 text per line
 *   enc-tool images MODEL OUT.bin FILE...
 *   enc-tool tokenize VOCAB MERGES [CTX] < lines   prints ids per line
 *   enc-tool preprocess PREPROC_JSON|- FILE OUT.bin  writes 3*H*W float32
 *   enc-tool bench MODEL image|text BATCH ITERS
 *   enc-tool pull REPO DEST [HUB [REVISION]]   (progress on stderr)
 *   enc-tool embed SPACE (--text STR | --image FILE)
 *        SPACE: a directory (contains '/') or a name under the models dir;
 *        prints {"modality":..,"dim":..,"vector":[..]} (the format of
 *        `omnidex embed --json`)
 * OUT.bin: n * dim float32. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/util.h"
#include "encoders/media/image.h"
#include "encoders/media/preprocess.h"
#include "encoders/models/clip.h"
#include "encoders/models/hub.h"
#include "encoders/space.h"
#include "encoders/tokenizer/clip_bpe.h"
#include "tools/enc/tool_io.h"

static long arg_long(const char *s, long lo, long hi)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == 0 || *end || v < lo || v > hi) { fprintf(stderr, "enc-tool: bad number '%s'\n", s); exit(2); }
    return v;
}

static int cmd_ids(odx_clip *m, const char *in, const char *outp)
{
    size_t len;
    char *buf = odx_tool_slurp(in, &len);
    if (!buf || len < 4) { fprintf(stderr, "enc-tool: cannot read %s\n", in); return 1; }
    int32_t *w = (int32_t *)(void *)buf;
    size_t nw = len / 4, pos = 1;
    int n = w[0];
    int32_t *ids = odx_malloc(nw * sizeof *ids);
    int *off = odx_malloc(((size_t)n + 1) * sizeof *off);
    off[0] = 0;
    for (int i = 0; i < n; i++) {
        int l = w[pos++];
        memcpy(ids + off[i], w + pos, (size_t)l * 4);
        pos += (size_t)l;
        off[i + 1] = off[i] + l;
    }
    int dim = odx_clip_dim(m);
    float *out = odx_malloc((size_t)n * dim * sizeof(float));
    int rc = odx_clip_embed_ids(m, ids, off, n, out);
    int ret = rc ? odx_tool_die("enc-tool", rc) : odx_tool_write_f32(outp, out, (size_t)n * dim);
    odx_free(out); odx_free(ids); odx_free(off); odx_free(buf);
    return ret;
}

static int cmd_pixels(odx_clip *m, const char *in, int n, const char *outp)
{
    size_t len;
    char *buf = odx_tool_slurp(in, &len);
    int s = odx_clip_get_config(m)->vision.image_size;
    if (!buf || len != (size_t)n * 3 * s * s * 4) {
        fprintf(stderr, "enc-tool: %s has the wrong size\n", in);
        odx_free(buf);
        return 1;
    }
    int dim = odx_clip_dim(m);
    float *out = odx_malloc((size_t)n * dim * sizeof(float));
    int rc = odx_clip_embed_pixels(m, (const float *)(void *)buf, n, out);
    int ret = rc ? odx_tool_die("enc-tool", rc) : odx_tool_write_f32(outp, out, (size_t)n * dim);
    odx_free(out); odx_free(buf);
    return ret;
}

static void free_lines(char **v, int n)
{
    for (int i = 0; i < n; i++) odx_free(v[i]);
    odx_free(v);
}

static char **read_lines(int *n)
{
    size_t cap = 64, cnt = 0, lcap = 0;
    char **v = odx_malloc(cap * sizeof *v);
    char *line = NULL;
    ssize_t l;
    while ((l = getline(&line, &lcap, stdin)) >= 0) {
        if (l && line[l - 1] == '\n') line[--l] = 0;
        if (cnt == cap) { cap *= 2; v = odx_realloc(v, cap * sizeof *v); }
        v[cnt++] = odx_strndup(line, (size_t)l);
    }
    free(line);
    *n = (int)cnt;
    return v;
}

static int cmd_tokenize(const char *vocab, const char *merges, int ctx)
{
    odx_bpe *b;
    int rc = odx_bpe_open(vocab, merges, &b);
    if (rc) return odx_tool_die("enc-tool", rc);
    int n;
    char **lines = read_lines(&n);
    int32_t *ids = odx_malloc((size_t)ctx * sizeof *ids);
    for (int i = 0; i < n; i++) {
        /* Lines carry \n and \\ escaped so texts may hold newlines. */
        size_t l = strlen(lines[i]), k = 0;
        char *t = lines[i];
        for (size_t j = 0; j < l; j++) {
            if (t[j] == '\\' && j + 1 < l) {
                j++;
                t[k++] = t[j] == 'n' ? '\n' : t[j] == 't' ? '\t' : t[j] == 'r' ? '\r' : t[j];
            } else {
                t[k++] = t[j];
            }
        }
        int cnt = 0;
        rc = odx_bpe_encode(b, t, k, ids, ctx, &cnt);
        if (rc) { printf("ERR %d\n", rc); continue; }
        for (int j = 0; j < cnt; j++) printf(j ? " %d" : "%d", ids[j]);
        printf("\n");
    }
    free_lines(lines, n);
    odx_free(ids);
    odx_bpe_close(b);
    return 0;
}

static int cmd_preprocess(const char *cfg, const char *file, const char *outp)
{
    odx_clip_preproc p;
    odx_clip_preproc_default(&p);
    size_t len;
    if (strcmp(cfg, "-") != 0) {
        char *j = odx_tool_slurp(cfg, &len);
        if (!j) { fprintf(stderr, "enc-tool: cannot read %s\n", cfg); return 1; }
        int rc = odx_clip_preproc_parse(j, len, &p);
        odx_free(j);
        if (rc) return odx_tool_die("enc-tool", rc);
    }
    char *data = odx_tool_slurp(file, &len);
    if (!data) { fprintf(stderr, "enc-tool: cannot read %s\n", file); return 1; }
    odx_image img = {0, 0, NULL};
    float *out = NULL;
    int rc = odx_image_decode(data, len, 0, &img), ret;
    if (!rc) {
        out = odx_malloc((size_t)3 * p.crop_h * p.crop_w * sizeof(float));
        rc = out ? odx_clip_preprocess(&p, &img, out) : ODX_ENOMEM;
    }
    ret = rc ? odx_tool_die("enc-tool", rc) : odx_tool_write_f32(outp, out, (size_t)3 * p.crop_h * p.crop_w);
    odx_free(out); odx_free(data);
    odx_image_free(&img);
    return ret;
}

static int cmd_bench(odx_clip *m, const char *what, int batch, int iters)
{
    const odx_clip_config *c = odx_clip_get_config(m);
    int dim = odx_clip_dim(m);
    float *out = odx_malloc((size_t)batch * dim * sizeof(float));
    int rc = 0;
    double best = 1e30;
    if (strcmp(what, "image") == 0) {
        size_t per = (size_t)3 * c->vision.image_size * c->vision.image_size;
        float *px = odx_malloc(per * batch * sizeof(float));
        for (size_t i = 0; i < per * batch; i++) px[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
        rc = odx_clip_embed_pixels(m, px, batch, out); /* warm-up */
        for (int it = 0; it < iters && !rc; it++) {
            double t0 = odx_now_mono();
            rc = odx_clip_embed_pixels(m, px, batch, out);
            double dt = odx_now_mono() - t0;
            if (dt < best) best = dt;
        }
        odx_free(px);
    } else {
        /* Texts of a typical caption length: bos + 15 tokens + eos. */
        int len = 17;
        int32_t *ids = odx_malloc((size_t)batch * len * sizeof *ids);
        int *off = odx_malloc(((size_t)batch + 1) * sizeof *off);
        for (int i = 0; i < batch; i++) {
            off[i] = i * len;
            ids[i * len] = c->text.bos_token_id < c->text.vocab_size ? c->text.bos_token_id : 0;
            for (int j = 1; j < len - 1; j++) ids[i * len + j] = (i * 31 + j * 7) % 40000 % c->text.vocab_size;
            ids[i * len + len - 1] = c->text.vocab_size - 1; /* largest id: eos under either pooling rule */
        }
        off[batch] = batch * len;
        rc = odx_clip_embed_ids(m, ids, off, batch, out);
        for (int it = 0; it < iters && !rc; it++) {
            double t0 = odx_now_mono();
            rc = odx_clip_embed_ids(m, ids, off, batch, out);
            double dt = odx_now_mono() - t0;
            if (dt < best) best = dt;
        }
        odx_free(ids); odx_free(off);
    }
    odx_free(out);
    if (rc) return odx_tool_die("enc-tool", rc);
    printf("%s batch=%d best_s=%.6f per_s=%.2f\n", what, batch, best, batch / best);
    return 0;
}

static int cmd_embed(const char *space, const char *flag, const char *arg)
{
    odx_space *s;
    int rc = strchr(space, '/') ? odx_space_open(space, &s) : odx_space_open_name(space, &s);
    if (rc) return odx_tool_die("enc-tool", rc);
    odx_modality m = strcmp(flag, "--image") == 0 ? ODX_MODALITY_IMAGE : ODX_MODALITY_TEXT;
    size_t len = 0;
    char *data = m == ODX_MODALITY_IMAGE ? odx_tool_slurp(arg, &len) : odx_strdup(arg);
    if (!data) { odx_space_close(s); fprintf(stderr, "enc-tool: cannot read %s\n", arg); return 1; }
    if (m == ODX_MODALITY_TEXT) len = strlen(data);
    int dim = odx_space_dim(s);
    float *v = odx_malloc((size_t)dim * sizeof *v);
    const void *d[1] = {data};
    rc = v ? odx_space_embed(s, m, d, &len, 1, v) : ODX_ENOMEM;
    int ret = 0;
    if (rc) {
        ret = odx_tool_die("enc-tool", rc);
    } else {
        printf("{\"modality\":\"%s\",\"dim\":%d,\"vector\":[", odx_modality_name(m), dim);
        for (int i = 0; i < dim; i++) printf(i ? ",%.9g" : "%.9g", v[i]);
        printf("]}\n");
    }
    odx_free(v);
    odx_free(data);
    odx_space_close(s);
    return ret;
}

static void show_progress(const char *file, uint64_t done, uint64_t total, void *ud)
{
    int *last = ud;
    int pct = total ? (int)(100.0 * done / total) : -1;
    if (pct == *last) return;
    *last = pct;
    if (total) fprintf(stderr, "\r%-28s %6.1f%% %llu/%llu", file, 100.0 * done / total,
                       (unsigned long long)done, (unsigned long long)total);
    else fprintf(stderr, "\r%-28s %llu", file, (unsigned long long)done);
}

static int cmd_pull(int argc, char **argv)
{
    odx_hub_opts o = {0};
    o.hub = argc > 4 ? argv[4] : NULL;
    o.revision = argc > 5 ? argv[5] : NULL;
    int last = -2;
    o.progress = show_progress;
    o.progress_ud = &last;
    int rc = odx_hub_pull(argv[2], argv[3], &o);
    fprintf(stderr, "\n");
    if (rc) return odx_tool_die("enc-tool", rc);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && argc <= 6 && strcmp(argv[1], "pull") == 0) return cmd_pull(argc, argv);
    if (argc == 5 && strcmp(argv[1], "embed") == 0) return cmd_embed(argv[2], argv[3], argv[4]);
    if (argc >= 4 && strcmp(argv[1], "tokenize") == 0)
        return cmd_tokenize(argv[2], argv[3], argc > 4 ? (int)arg_long(argv[4], 2, 100000) : 77);
    if (argc == 5 && strcmp(argv[1], "preprocess") == 0) return cmd_preprocess(argv[2], argv[3], argv[4]);
    if (argc < 4) {
        fprintf(stderr, "usage: enc-tool ids|pixels|texts|images|bench|tokenize|preprocess ...\n");
        return 2;
    }
    odx_clip *m;
    int rc = odx_clip_open(argv[2], &m);
    if (rc) return odx_tool_die("enc-tool", rc);
    int dim = odx_clip_dim(m), ret = 2;
    if (strcmp(argv[1], "ids") == 0 && argc == 5) ret = cmd_ids(m, argv[3], argv[4]);
    else if (strcmp(argv[1], "pixels") == 0 && argc == 6) ret = cmd_pixels(m, argv[3], (int)arg_long(argv[4], 1, 100000), argv[5]);
    else if (strcmp(argv[1], "bench") == 0 && argc == 6)
        ret = cmd_bench(m, argv[3], (int)arg_long(argv[4], 1, 4096), (int)arg_long(argv[5], 1, 100000));
    else if (strcmp(argv[1], "texts") == 0) {
        int n;
        char **lines = read_lines(&n);
        float *out = odx_malloc((size_t)(n ? n : 1) * dim * sizeof(float));
        rc = odx_clip_embed_texts(m, (const char *const *)lines, n, out);
        ret = rc ? odx_tool_die("enc-tool", rc) : odx_tool_write_f32(argv[3], out, (size_t)n * dim);
        odx_free(out);
        free_lines(lines, n);
    } else if (strcmp(argv[1], "images") == 0) {
        int n = argc - 4;
        const void **data = odx_malloc((size_t)(n ? n : 1) * sizeof *data);
        size_t *lens = odx_malloc((size_t)(n ? n : 1) * sizeof *lens);
        int got = 0;
        for (; got < n; got++) {
            data[got] = odx_tool_slurp(argv[4 + got], &lens[got]);
            if (!data[got]) { fprintf(stderr, "enc-tool: cannot read %s\n", argv[4 + got]); break; }
        }
        float *out = odx_malloc((size_t)(n ? n : 1) * dim * sizeof(float));
        rc = got < n ? ODX_EIO : odx_clip_embed_image_bytes(m, (const void *const *)data, lens, n, out);
        ret = rc ? odx_tool_die("enc-tool", rc) : odx_tool_write_f32(argv[3], out, (size_t)n * dim);
        for (int i = 0; i < got; i++) odx_free((void *)data[i]);
        odx_free(data); odx_free(lens); odx_free(out);
    }
    odx_clip_close(m);
    return ret;
}
