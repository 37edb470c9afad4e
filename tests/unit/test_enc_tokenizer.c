/* CLIP tokenizer on a hand-made vocabulary whose expected ids are worked out
 * by hand in the comments (byte symbol b has id b, "b</w>" id 256 + b for
 * printable ASCII, whose table code point is the byte itself). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "encoders/tokenizer/clip_bpe.h"
#include "omnidex.h"
#include "testlib.h"

/* GPT-2's byte table, written again here. */
static void byte_utf8(int b, char *out)
{
    int keep = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    int n = 0, cp = b;
    if (!keep) {
        for (int c = 0; c < b; c++)
            if (!((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255))) n++;
        cp = 256 + n;
    }
    if (cp < 0x80) { out[0] = (char)cp; out[1] = 0; }
    else { out[0] = (char)(0xC0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3F)); out[2] = 0; }
}

static odx_bpe *make(int drop_byte)
{
    cJSON *v = cJSON_CreateObject();
    char s[16];
    for (int b = 0; b < 256; b++) {
        if (b == drop_byte) continue;
        byte_utf8(b, s);
        cJSON_AddNumberToObject(v, s, b);
        char e[24];
        snprintf(e, sizeof e, "%s</w>", s);
        cJSON_AddNumberToObject(v, e, 256 + b);
    }
    const char *extra[] = {"he", "ll", "hell", "hello</w>", "<|startoftext|>", "<|endoftext|>"};
    for (int i = 0; i < 6; i++) cJSON_AddNumberToObject(v, extra[i], 512 + i);
    char *json = cJSON_PrintUnformatted(v);
    const char *merges = "#version: 0.2\nh e\nl l\nhe ll\nhell o</w>\n";
    odx_bpe *b = NULL;
    int rc = odx_bpe_open_bytes(json, strlen(json), merges, strlen(merges), &b);
    cJSON_free(json);
    cJSON_Delete(v);
    return rc ? NULL : b;
}

static int enc(odx_bpe *b, const char *t, int max, int32_t *ids)
{
    int n = -1;
    int rc = odx_bpe_encode(b, t, strlen(t), ids, max, &n);
    return rc ? rc : n;
}

#define EXPECT(text, max, ...)                                                       \
    do {                                                                             \
        int32_t want[] = {__VA_ARGS__}, got[80];                                     \
        int n = enc(b, text, max, got);                                              \
        int same = n == (int)(sizeof want / sizeof want[0]);                         \
        for (int i_ = 0; same && i_ < n; i_++) same = got[i_] == want[i_];          \
        CHECK(same, "'%s': got %d ids, first %d %d %d", text, n, n > 0 ? got[0] : -1, \
              n > 1 ? got[1] : -1, n > 2 ? got[2] : -1);                             \
    } while (0)

static void test_hand_checked(void)
{
    odx_bpe *b = make(-1);
    REQUIRE(b != NULL, "open: %s", odx_last_error());
    CHECK(odx_bpe_bos(b) == 516 && odx_bpe_eos(b) == 517, "special ids");
    /* lowercase, whitespace collapse; h e -> he, l l -> ll, he ll -> hell, hell o</w> -> hello</w> */
    EXPECT("Hello  \t HELLO!", 77, 516, 515, 515, 256 + '!', 517);
    /* no merge for "hell x</w>" */
    EXPECT("hellx", 77, 516, 514, 256 + 'x', 517);
    /* "it" then the contraction "'s" */
    EXPECT("it's", 77, 516, 'i', 256 + 't', '\'', 256 + 's', 517);
    /* NFC + lowercase: "E" + combining acute -> "é" = bytes C3 A9 (both printable in the table) */
    EXPECT("E\xcc\x81", 77, 516, 0xC3, 256 + 0xA9, 517);
    EXPECT("\xc3\xa9", 77, 516, 0xC3, 256 + 0xA9, 517);
    /* digits split one by one */
    EXPECT("42", 77, 516, 256 + '4', 256 + '2', 517);
    /* truncation keeps the end token */
    EXPECT("a b c d e f", 5, 516, 256 + 'a', 256 + 'b', 256 + 'c', 517);
    EXPECT("", 77, 516, 517);
    EXPECT("   ", 77, 516, 517);
    EXPECT("<|endoftext|>", 77, 516, 517, 517);
    int32_t ids[8];
    CHECK(enc(b, "\xff", 77, ids) == ODX_EINVAL, "invalid UTF-8 refused");
    CHECK(enc(b, "x", 1, ids) == ODX_EINVAL, "max_len < 2 refused");
    odx_bpe_close(b);
}

static void test_bad_vocab(void)
{
    CHECK(make('q') == NULL && strstr(odx_last_error(), "byte symbol"), "vocab without a byte symbol: %s", odx_last_error());
    odx_bpe *b = NULL;
    CHECK(odx_bpe_open_bytes("[1]", 3, "", 0, &b) == ODX_ECORRUPT, "vocab not an object");
    CHECK(odx_bpe_open_bytes("{\"a\": -1}", 9, "", 0, &b) == ODX_ECORRUPT, "negative id");
    CHECK(odx_bpe_open("/nonexistent/vocab.json", "/nonexistent/merges.txt", &b) == ODX_ENOTFOUND, "missing files");
}

int main(void)
{
    RUN(test_hand_checked);
    RUN(test_bad_vocab);
    TEST_EXIT();
}
