/* A whole CLIP model directory written by this test (config.json, a
 * safetensors file of deterministic pseudo-random weights, the BPE fixture,
 * preprocessor_config.json), then properties that need no reference:
 * unit-norm outputs, determinism, batch = one by one, padded ids = unpadded,
 * threads sharing one model get the sequential results, and every
 * allocation failure during open and embed reports ODX_ENOMEM cleanly (run
 * under SANITIZE=address for the leak half of that claim). Numerical
 * correctness is enc_clip_parity.py's job. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "encoders/models/clip.h"
#include "omnidex.h"
#include "testlib.h"

#define H 16
#define F 32
#define P 12
#define V 4514 /* the BPE fixture's vocabulary */
#define IMG 16
#define PATCH 8

static char dir[256];

typedef struct tensor { char name[96]; int rank; int64_t shape[4]; } tensor;
static tensor ts[200];
static int nts;

static void add(const char *name, int rank, int64_t a, int64_t b, int64_t c, int64_t d)
{
    tensor *t = &ts[nts++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->rank = rank;
    t->shape[0] = a; t->shape[1] = b; t->shape[2] = c; t->shape[3] = d;
}

static void add_layers(const char *tower, int layers)
{
    char n[96];
    const char *vec[] = {"layer_norm1.weight", "layer_norm1.bias", "layer_norm2.weight", "layer_norm2.bias",
                         "self_attn.q_proj.bias", "self_attn.k_proj.bias", "self_attn.v_proj.bias",
                         "self_attn.out_proj.bias", "mlp.fc2.bias"};
    const char *mat[] = {"self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
                         "self_attn.out_proj.weight"};
    for (int l = 0; l < layers; l++) {
        for (int i = 0; i < 9; i++) { snprintf(n, sizeof n, "%s.encoder.layers.%d.%s", tower, l, vec[i]); add(n, 1, H, 0, 0, 0); }
        for (int i = 0; i < 4; i++) { snprintf(n, sizeof n, "%s.encoder.layers.%d.%s", tower, l, mat[i]); add(n, 2, H, H, 0, 0); }
        snprintf(n, sizeof n, "%s.encoder.layers.%d.mlp.fc1.weight", tower, l); add(n, 2, F, H, 0, 0);
        snprintf(n, sizeof n, "%s.encoder.layers.%d.mlp.fc1.bias", tower, l); add(n, 1, F, 0, 0, 0);
        snprintf(n, sizeof n, "%s.encoder.layers.%d.mlp.fc2.weight", tower, l); add(n, 2, H, F, 0, 0);
    }
}

static int write_model(void)
{
    snprintf(dir, sizeof dir, "/tmp/odx_enc_model_XXXXXX");
    if (!mkdtemp(dir)) return -1;
    char path[512];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"projection_dim\": %d, \"text_config\": {\"hidden_size\": %d, \"intermediate_size\": %d, "
               "\"num_attention_heads\": 2, \"num_hidden_layers\": 2, \"vocab_size\": %d, \"bos_token_id\": 4512, "
               "\"eos_token_id\": 4513, \"max_position_embeddings\": 77}, \"vision_config\": {\"hidden_size\": %d, "
               "\"intermediate_size\": %d, \"num_attention_heads\": 2, \"num_hidden_layers\": 2, \"image_size\": %d, "
               "\"patch_size\": %d, \"hidden_act\": \"gelu\"}}", P, H, F, V, H, F, IMG, PATCH);
    fclose(f);
    snprintf(path, sizeof path, "%s/preprocessor_config.json", dir);
    f = fopen(path, "w");
    fprintf(f, "{\"size\": {\"shortest_edge\": %d}, \"crop_size\": {\"height\": %d, \"width\": %d}}", IMG, IMG, IMG);
    fclose(f);
    for (int i = 0; i < 2; i++) {
        const char *fn = i ? "merges.txt" : "vocab.json";
        char src[256], cmd[800];
        snprintf(src, sizeof src, "tests/fixtures/encoders/bpe/%s", fn);
        snprintf(cmd, sizeof cmd, "cp %s %s/%s", src, dir, fn);
        if (system(cmd) != 0) return -1;
    }
    nts = 0;
    int g = IMG / PATCH;
    add("text_model.embeddings.token_embedding.weight", 2, V, H, 0, 0);
    add("text_model.embeddings.position_embedding.weight", 2, 77, H, 0, 0);
    add("text_model.final_layer_norm.weight", 1, H, 0, 0, 0);
    add("text_model.final_layer_norm.bias", 1, H, 0, 0, 0);
    add("text_projection.weight", 2, P, H, 0, 0);
    add_layers("text_model", 2);
    add("vision_model.embeddings.patch_embedding.weight", 4, H, 3, PATCH, PATCH);
    add("vision_model.embeddings.class_embedding", 1, H, 0, 0, 0);
    add("vision_model.embeddings.position_embedding.weight", 2, g * g + 1, H, 0, 0);
    add("vision_model.pre_layrnorm.weight", 1, H, 0, 0, 0);
    add("vision_model.pre_layrnorm.bias", 1, H, 0, 0, 0);
    add("vision_model.post_layernorm.weight", 1, H, 0, 0, 0);
    add("vision_model.post_layernorm.bias", 1, H, 0, 0, 0);
    add("visual_projection.weight", 2, P, H, 0, 0);
    add_layers("vision_model", 2);
    /* header */
    static char hdr[65536];
    size_t hl = 0, off = 0;
    hl += (size_t)snprintf(hdr + hl, sizeof hdr - hl, "{");
    for (int i = 0; i < nts; i++) {
        size_t n = 1;
        char shape[64] = "";
        size_t sl = 0;
        for (int k = 0; k < ts[i].rank; k++) {
            n *= (size_t)ts[i].shape[k];
            sl += (size_t)snprintf(shape + sl, sizeof shape - sl, "%s%lld", k ? "," : "", (long long)ts[i].shape[k]);
        }
        hl += (size_t)snprintf(hdr + hl, sizeof hdr - hl, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%s],\"data_offsets\":[%zu,%zu]}",
                               i ? "," : "", ts[i].name, shape, off, off + n * 4);
        off += n * 4;
    }
    hl += (size_t)snprintf(hdr + hl, sizeof hdr - hl, "}");
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    f = fopen(path, "wb");
    uint64_t h64 = hl;
    fwrite(&h64, 8, 1, f);
    fwrite(hdr, 1, hl, f);
    uint64_t s = 12345;
    for (int i = 0; i < nts; i++) {
        size_t n = 1;
        for (int k = 0; k < ts[i].rank; k++) n *= (size_t)ts[i].shape[k];
        int is_gain = strstr(ts[i].name, "norm") && strstr(ts[i].name, "weight");
        for (size_t j = 0; j < n; j++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            float v = (float)((s >> 40) / 16777216.0) - 0.5f;
            v = is_gain ? 1.0f + 0.2f * v : 0.5f * v;
            fwrite(&v, 4, 1, f);
        }
    }
    fclose(f);
    return 0;
}

static unsigned char *jpeg;
static size_t jpeg_len;

static void load_jpeg(void)
{
    FILE *f = fopen("tests/fixtures/encoders/images/seed.jpg", "rb");
    jpeg = malloc(1 << 16);
    jpeg_len = f ? fread(jpeg, 1, 1 << 16, f) : 0;
    if (f) fclose(f);
}

static double maxdiff(const float *a, const float *b, int n)
{
    double m = 0;
    for (int i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

static const char *texts[3] = {"a photo of a cat", "東京の夜景 🌃", "it's a dog"};

static void test_properties(void)
{
    odx_clip *m = NULL;
    REQUIRE_OK(odx_clip_open(dir, &m));
    CHECK(odx_clip_dim(m) == P && odx_clip_has_text(m) && odx_clip_has_vision(m), "model shape");
    float all[3 * P], one[P], again[P];
    REQUIRE_OK(odx_clip_embed_texts(m, texts, 3, all));
    for (int i = 0; i < 3; i++) {
        double n = 0;
        for (int k = 0; k < P; k++) n += (double)all[i * P + k] * all[i * P + k];
        CHECK(fabs(n - 1) < 1e-5, "text %d norm %g", i, n);
        REQUIRE_OK(odx_clip_embed_texts(m, &texts[i], 1, one));
        CHECK(maxdiff(one, all + i * P, P) < 1e-6, "text %d: batch of 3 == alone (%g)", i, maxdiff(one, all + i * P, P));
    }
    /* The same call twice gives the same bits. A text alone and in a batch
     * agree only within a tolerance (checked above): BLAS may pick another
     * kernel, so another summation order, for another matrix shape (as
     * OpenBLAS does under OPENBLAS_CORETYPE=Haswell). */
    REQUIRE_OK(odx_clip_embed_texts(m, texts, 1, one));
    REQUIRE_OK(odx_clip_embed_texts(m, texts, 1, again));
    CHECK(memcmp(again, one, sizeof again) == 0, "deterministic: the same call twice, the same bits");
    CHECK(maxdiff(all, all + P, P) > 1e-3, "different texts differ");
    /* padded ids (eos repeated to 77) == unpadded */
    int32_t ids[77];
    int off[2] = {0, 5};
    int32_t base[5] = {4512, 100, 200, 300, 4513};
    memcpy(ids, base, sizeof base);
    float a[P], b[P];
    REQUIRE_OK(odx_clip_embed_ids(m, ids, off, 1, a));
    for (int i = 5; i < 77; i++) ids[i] = 4513;
    off[1] = 77;
    REQUIRE_OK(odx_clip_embed_ids(m, ids, off, 1, b));
    CHECK(maxdiff(a, b, P) < 1e-6, "padding after eos changes nothing");
    ids[3] = V; /* out of vocabulary */
    CHECK(odx_clip_embed_ids(m, ids, off, 1, b) == ODX_EINVAL, "id outside the vocabulary refused");
    off[1] = 78;
    CHECK(odx_clip_embed_ids(m, ids, off, 1, b) == ODX_EINVAL, "sequence longer than the context refused");
    /* images: two copies in a batch equal one alone */
    REQUIRE(jpeg_len > 0, "fixture jpeg");
    const void *d[2] = {jpeg, jpeg};
    size_t l[2] = {jpeg_len, jpeg_len};
    float im2[2 * P], im1[P];
    REQUIRE_OK(odx_clip_embed_image_bytes(m, d, l, 2, im2));
    REQUIRE_OK(odx_clip_embed_image_bytes(m, d, l, 1, im1));
    CHECK(maxdiff(im2, im1, P) < 1e-6 && maxdiff(im2 + P, im1, P) < 1e-6, "image batch == alone");
    size_t bad = 10;
    CHECK(odx_clip_embed_image_bytes(m, d, &bad, 1, im1) == ODX_EMEDIA, "truncated image refused");
    odx_clip_close(m);
}

typedef struct job { odx_clip *m; int id; float out[3 * P]; float img[P]; int rc; } job;

static void *worker(void *arg)
{
    job *j = arg;
    for (int r = 0; r < 5 && !j->rc; r++) {
        j->rc = odx_clip_embed_texts(j->m, texts, 3, j->out);
        const void *d[1] = {jpeg};
        if (!j->rc) j->rc = odx_clip_embed_image_bytes(j->m, d, &jpeg_len, 1, j->img);
    }
    return NULL;
}

static void test_threads(void)
{
    odx_clip *m = NULL;
    REQUIRE_OK(odx_clip_open(dir, &m));
    float ref[3 * P], refi[P];
    REQUIRE_OK(odx_clip_embed_texts(m, texts, 3, ref));
    const void *d[1] = {jpeg};
    REQUIRE_OK(odx_clip_embed_image_bytes(m, d, &jpeg_len, 1, refi));
    job jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        jobs[i].m = m;
        pthread_create(&th[i], NULL, worker, &jobs[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK(jobs[i].rc == 0, "thread %d rc %d", i, jobs[i].rc);
        CHECK(memcmp(jobs[i].out, ref, sizeof ref) == 0 && memcmp(jobs[i].img, refi, sizeof refi) == 0,
              "thread %d results equal the sequential ones", i);
    }
    odx_clip_close(m);
}

static void test_alloc_failures(void)
{
    long k, failures = 0;
    float out[P];
    for (k = 1; k < 5000; k++) {
        odx_alloc_fail_at(k);
        odx_clip *m = NULL;
        int rc = odx_clip_open(dir, &m);
        if (rc == 0) {
            rc = odx_clip_embed_texts(m, texts, 1, out);
            const void *d[1] = {jpeg};
            if (rc == 0) rc = odx_clip_embed_image_bytes(m, d, &jpeg_len, 1, out);
        }
        odx_clip_close(m);
        odx_alloc_fail_at(0);
        if (rc == 0) break;
        failures++;
        if (rc != ODX_ENOMEM) {
            CHECK(0, "allocation %ld failed with %d (%s): %s", k, rc, odx_strerror(rc), odx_last_error());
            break;
        }
    }
    CHECK(k < 5000 && failures > 20, "every one of %ld allocation failures reported ODX_ENOMEM", failures);
    printf("# %ld allocation points in open + embed text + embed image\n", failures);
}

int main(void)
{
    if (write_model() != 0) { printf("not ok - write_model\n"); return 1; }
    load_jpeg();
    RUN(test_properties);
    RUN(test_threads);
    RUN(test_alloc_failures);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) printf("# could not remove %s\n", dir);
    free(jpeg);
    TEST_EXIT();
}
