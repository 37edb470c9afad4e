/* Fuzz target: CLIP's BPE tokenizer (encoders/tokenizer/clip_bpe.c) on the
 * project's BPE fixture. The first input byte picks the mode: even bytes
 * encode the rest as text; odd bytes use the rest as a merges.txt for a
 * new tokenizer over the fixture's vocabulary. Text either encodes to
 * <bos> ids... <eos> with every id in the vocabulary, or is refused. */
#include <stdio.h>
#include <string.h>

#include "encoders/tokenizer/clip_bpe.h"
#include "omnidex.h"
#include "tests/fuzz/fuzz.h"

static odx_bpe *bpe;
static char *vocab;
static size_t vocab_len;

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    *len = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char v[4096], m[4096];
    snprintf(v, sizeof v, "%s/tests/fixtures/encoders/bpe/vocab.json", fuzz_top());
    snprintf(m, sizeof m, "%s/tests/fixtures/encoders/bpe/merges.txt", fuzz_top());
    if (odx_bpe_open(v, m, &bpe)) {
        fprintf(stderr, "fuzz_tokenizer: cannot open the BPE fixture: %s\n", odx_last_error());
        exit(2);
    }
    vocab = slurp(v, &vocab_len);
    return 0;
}

static void check_encode(const odx_bpe *b, const char *text, size_t len)
{
    int32_t ids[77];
    int n = 0;
    int rc = odx_bpe_encode(b, text, len, ids, 77, &n);
    if (rc) {
        FUZZ_ASSERT(rc == ODX_EINVAL || rc == ODX_ENOMEM || rc == ODX_ELIMIT, "encode returned %d (%s)", rc, odx_strerror(rc));
        return;
    }
    FUZZ_ASSERT(n >= 2 && n <= 77, "%d ids", n);
    FUZZ_ASSERT(ids[0] == odx_bpe_bos(b) && ids[n - 1] == odx_bpe_eos(b), "bos/eos missing");
    for (int i = 0; i < n; i++)
        FUZZ_ASSERT(ids[i] >= 0 && (size_t)ids[i] < odx_bpe_vocab_size(b), "id %d out of range", ids[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    if ((data[0] & 1) == 0) {
        check_encode(bpe, (const char *)data + 1, size - 1);
        return 0;
    }
    odx_bpe *b = NULL;
    if (odx_bpe_open_bytes(vocab, vocab_len, (const char *)data + 1, size - 1, &b) == 0) {
        check_encode(b, "a photo of a cat", 16);
        check_encode(b, "hello world", 11);
        odx_bpe_close(b);
    }
    return 0;
}
