/* Deterministic mutation fuzzing of every encoder parser (safetensors,
 * config.json, preprocessor_config.json, vocab/tokenizer input, image
 * decoders) from seed inputs: bit flips, byte overwrites with interesting
 * values, truncations and splices. Each input must be either accepted or
 * refused with a status; under `make SANITIZE=address,undefined` any memory
 * error fails the run. Seeds: tests/fixtures/encoders/images and the BPE
 * fixture. OMNIDEX_FUZZ_ITERS scales the number of mutations. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "encoders/media/image.h"
#include "encoders/media/preprocess.h"
#include "encoders/models/clip_config.h"
#include "encoders/runtime/safetensors.h"
#include "encoders/tokenizer/clip_bpe.h"
#include "omnidex.h"
#include "testlib.h"

static uint64_t rs = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void)
{
    rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17;
    return (uint32_t)(rs >> 16);
}

static long iters(long base)
{
    const char *e = getenv("OMNIDEX_FUZZ_ITERS");
    long k = e ? strtol(e, NULL, 10) : 1;
    return base * (k > 0 ? k : 1);
}

/* Writes a mutation of seed into buf (capacity cap); returns its length. */
static size_t mutate(const unsigned char *seed, size_t n, unsigned char *buf, size_t cap)
{
    size_t len = n < cap ? n : cap;
    memcpy(buf, seed, len);
    int ops = 1 + (int)(rnd() % 4);
    static const unsigned char interesting[] = {0, 1, 0x7f, 0x80, 0xff, 0xfe, '"', '{', '}', '[', ']', ',', '-', '9', 0x10};
    for (int o = 0; o < ops && len; o++) {
        size_t at = rnd() % len;
        switch (rnd() % 5) {
        case 0: buf[at] ^= (unsigned char)(1u << (rnd() % 8)); break;
        case 1: buf[at] = interesting[rnd() % sizeof interesting]; break;
        case 2: len = at + 1; break; /* truncate */
        case 3: { /* duplicate a chunk further on */
            size_t l = 1 + rnd() % 16;
            if (at + l < len && len + l <= cap) {
                memmove(buf + at + l, buf + at, len - at);
                len += l;
            }
            break;
        }
        default: { /* big numbers in text headers */
            const char *big = "99999999999";
            size_t l = strlen(big);
            if (at + l <= len) memcpy(buf + at, big, l);
        }
        }
    }
    return len;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *b = malloc(1 << 20);
    *len = fread(b, 1, 1 << 20, f);
    fclose(f);
    return b;
}

static void test_fuzz_safetensors(void)
{
    const char *json = "{\"__metadata__\":{\"format\":\"pt\"},"
                       "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                       "\"b\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[24,28]},"
                       "\"c\":{\"dtype\":\"BF16\",\"shape\":[1,1],\"data_offsets\":[28,30]}}";
    unsigned char seed[512], buf[1024];
    size_t h = strlen(json);
    for (int i = 0; i < 8; i++) seed[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(seed + 8, json, h);
    for (int i = 0; i < 32; i++) seed[8 + h + i] = (unsigned char)(i * 13);
    size_t n = 8 + h + 32;
    long accepted = 0, total = iters(4000);
    for (long it = 0; it < total; it++) {
        size_t len = mutate(seed, n, buf, sizeof buf);
        /* Copy into an exactly-sized heap block so ASan sees reads past the end. */
        unsigned char *exact = malloc(len ? len : 1);
        memcpy(exact, buf, len);
        odx_st *st = NULL;
        if (odx_st_open_bytes(exact, len, &st) == 0) {
            accepted++;
            for (size_t i = 0; i < odx_st_count(st); i++) {
                const odx_st_info *t = odx_st_at(st, i);
                const float *p;
                if (odx_st_get_f32(st, t->name, t->rank, t->shape, &p) == 0 && t->nbytes >= 4) {
                    volatile float x = p[0];
                    (void)x;
                }
            }
            odx_st_close(st);
        }
        free(exact);
    }
    CHECK(accepted > 0 && accepted < total, "accepted %ld of %ld mutations", accepted, total);
    printf("# safetensors: %ld of %ld mutations accepted\n", accepted, total);
}

static void test_fuzz_configs(void)
{
    const char *cfg = "{\"projection_dim\":24,\"text_config\":{\"hidden_size\":32,\"intermediate_size\":64,"
                      "\"num_attention_heads\":4,\"num_hidden_layers\":2,\"hidden_act\":\"gelu\"},"
                      "\"vision_config\":{\"hidden_size\":48,\"image_size\":32,\"patch_size\":8,\"layer_norm_eps\":1e-5}}";
    const char *pre = "{\"do_resize\":true,\"size\":{\"shortest_edge\":32},\"crop_size\":{\"height\":32,\"width\":32},"
                      "\"resample\":3,\"image_mean\":[0.5,0.5,0.5],\"image_std\":[0.5,0.5,0.5],\"rescale_factor\":0.0039}";
    unsigned char buf[1024];
    long total = iters(3000);
    for (long it = 0; it < total; it++) {
        size_t len = mutate((const unsigned char *)cfg, strlen(cfg), buf, sizeof buf);
        odx_clip_config c;
        if (odx_clip_config_parse((const char *)buf, len, &c) == 0) {
            CHECK(c.text.hidden % c.text.heads == 0 && c.vision.patch_size <= c.vision.image_size, "config invariants");
        }
        len = mutate((const unsigned char *)pre, strlen(pre), buf, sizeof buf);
        odx_clip_preproc p;
        odx_clip_preproc_default(&p);
        if (odx_clip_preproc_parse((const char *)buf, len, &p) == 0)
            CHECK(p.crop_h >= 1 && p.crop_h <= 4096 && p.std[0] > 0, "preprocessor invariants");
    }
}

static void test_fuzz_tokenizer(void)
{
    odx_bpe *b = NULL;
    REQUIRE_OK(odx_bpe_open("tests/fixtures/encoders/bpe/vocab.json", "tests/fixtures/encoders/bpe/merges.txt", &b));
    const char *seeds[] = {"a photo of a cat", "caf\xc3\xa9 \xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x98\x80 it's",
                           "<|startoftext|>x<|endoftext|>", "\xce\x9f\xce\x94\xce\x9f\xce\xa3  \t\n 123"};
    unsigned char buf[512];
    int32_t ids[77];
    long total = iters(4000), refused = 0;
    for (long it = 0; it < total; it++) {
        const char *s = seeds[it % 4];
        size_t len = mutate((const unsigned char *)s, strlen(s), buf, sizeof buf);
        if (it % 5 == 0) { /* pure random bytes, sometimes */
            len = rnd() % 64;
            for (size_t i = 0; i < len; i++) buf[i] = (unsigned char)rnd();
        }
        int n = 0;
        int rc = odx_bpe_encode(b, (const char *)buf, len, ids, 77, &n);
        if (rc) { refused++; continue; }
        CHECK(n >= 2 && n <= 77 && ids[0] == odx_bpe_bos(b) && ids[n - 1] == odx_bpe_eos(b), "shape of the output");
        for (int i = 0; i < n; i++) CHECK(ids[i] >= 0 && (size_t)ids[i] < odx_bpe_vocab_size(b), "id in range");
    }
    printf("# tokenizer: %ld of %ld inputs refused (invalid UTF-8)\n", refused, total);
    /* vocab.json / merges.txt mutations */
    size_t vl = 0, ml = 0;
    unsigned char *v = slurp("tests/fixtures/encoders/bpe/vocab.json", &vl), *m = slurp("tests/fixtures/encoders/bpe/merges.txt", &ml);
    REQUIRE(v && m, "fixture");
    unsigned char *mb = malloc(ml + 64);
    for (long it = 0; it < iters(40); it++) {
        size_t len = mutate(m, ml, mb, ml + 64);
        odx_bpe *x = NULL;
        if (odx_bpe_open_bytes((const char *)v, vl, (const char *)mb, len, &x) == 0) {
            int n;
            CHECK(odx_bpe_encode(x, "hello world", 11, ids, 77, &n) == 0, "encode after mutated merges");
            odx_bpe_close(x);
        }
    }
    free(mb); free(v); free(m);
    odx_bpe_close(b);
}

static void test_fuzz_images(void)
{
    const char *dir = "tests/fixtures/encoders/images";
    DIR *d = opendir(dir);
    REQUIRE(d != NULL, "no %s", dir);
    struct dirent *e;
    int seeds = 0;
    odx_clip_preproc p;
    odx_clip_preproc_default(&p);
    p.shortest_edge = p.crop_h = p.crop_w = 16;
    float out[3 * 16 * 16];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t n = 0;
        unsigned char *seed = slurp(path, &n);
        if (!seed) continue;
        seeds++;
        odx_image img;
        CHECK(odx_image_decode(seed, n, 0, &img) == 0, "seed %s decodes: %s", e->d_name, odx_last_error());
        odx_image_free(&img);
        unsigned char *buf = malloc(n + 64);
        long ok = 0, total = iters(300);
        for (long it = 0; it < total; it++) {
            size_t len = mutate(seed, n, buf, n + 64);
            unsigned char *exact = malloc(len ? len : 1);
            memcpy(exact, buf, len);
            if (odx_image_decode(exact, len, 1 << 20, &img) == 0) {
                ok++;
                CHECK(img.w > 0 && img.h > 0 && (uint64_t)img.w * img.h <= (1u << 20), "sane size");
                CHECK(odx_clip_preprocess(&p, &img, out) == 0, "preprocess of a decoded image");
                odx_image_free(&img);
            }
            free(exact);
        }
        printf("# %s: %ld of %ld mutations decoded\n", e->d_name, ok, total);
        free(buf);
        free(seed);
    }
    closedir(d);
    CHECK(seeds >= 10, "only %d image seeds", seeds);
}

int main(void)
{
    RUN(test_fuzz_safetensors);
    RUN(test_fuzz_configs);
    RUN(test_fuzz_tokenizer);
    RUN(test_fuzz_images);
    TEST_EXIT();
}
