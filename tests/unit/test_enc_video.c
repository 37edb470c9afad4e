/* Video decoding checks that need no media file: sniffing, options, empty
 * and garbage input, and a two-frame animated GIF written byte by byte here
 * (GIF89a spec: graphic control extension delays of 10/100 s, LZW codes
 * worked out by hand; three frames white, black, white at 0, 0.1, 0.2 s),
 * decoded with the contract's frame times and colours,
 * then with every one of our allocations failing in turn.
 *
 * Given a clip path as argv[1] (tests/integration/enc_video_files.py passes
 * one made by the ffmpeg CLI), the allocation failure sweep also runs over a
 * real H.264 + AAC decode with audio. */
#include <stdint.h>
#include <string.h>

#include "common/alloc.h"
#include "encoders/media/video.h"
#include "omnidex.h"
#include "testlib.h"

/* 1x1 pixel frames on a 2-colour global palette (0 = white, 1 = black). */
static const unsigned char gif_hdr[] = {
    'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0x80, 0, 0, /* screen 1x1, global table of 2 */
    0xff, 0xff, 0xff, 0, 0, 0};
static const unsigned char gif_frame_white[] = {
    0x21, 0xf9, 4, 0x00, 10, 0, 0, 0,   /* GCE: delay 10 cs */
    0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0,    /* image 1x1 at 0,0 */
    2, 2, 0x44, 0x01, 0};               /* LZW min 2: clear(4) 0 end(5) */
static const unsigned char gif_frame_black[] = {
    0x21, 0xf9, 4, 0x00, 10, 0, 0, 0,
    0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0,
    2, 2, 0x4c, 0x01, 0};               /* clear(4) 1 end(5) */

static size_t make_gif(unsigned char *buf)
{
    size_t n = 0;
    memcpy(buf + n, gif_hdr, sizeof gif_hdr); n += sizeof gif_hdr;
    memcpy(buf + n, gif_frame_white, sizeof gif_frame_white); n += sizeof gif_frame_white;
    memcpy(buf + n, gif_frame_black, sizeof gif_frame_black); n += sizeof gif_frame_black;
    memcpy(buf + n, gif_frame_white, sizeof gif_frame_white); n += sizeof gif_frame_white;
    buf[n++] = 0x3b;
    return n;
}

static void test_sniff(void)
{
    CHECK(strcmp(odx_video_format_name("\0\0\0\x18" "ftypisom", 12), "mp4/mov") == 0, "ftyp");
    CHECK(strcmp(odx_video_format_name("\0\0\0\x08moov", 8), "mp4/mov") == 0, "moov");
    CHECK(strcmp(odx_video_format_name("\x1a\x45\xdf\xa3", 4), "webm/mkv") == 0, "EBML");
    CHECK(strcmp(odx_video_format_name("GIF87a", 6), "gif") == 0, "GIF87a");
    CHECK(strcmp(odx_video_format_name("GIF89a", 6), "gif") == 0, "GIF89a");
    CHECK(odx_video_format_name("\x89PNG\r\n\x1a\n", 8) == NULL, "PNG is not video");
    CHECK(odx_video_format_name("\x1a\x45\xdf", 3) == NULL, "short EBML");
    CHECK(odx_video_format_name("\0\0\0\x18" "fty", 7) == NULL, "short ftyp");
    CHECK(odx_video_format_name("GIF8", 4) == NULL, "short GIF");
    CHECK(odx_video_format_name(NULL, 0) == NULL, "NULL");
}

static void test_bad_input(void)
{
    odx_video v;
    CHECK(odx_video_decode("", 0, NULL, &v) == ODX_EMEDIA, "zero bytes");
    CHECK(v.n_frames == 0 && v.frames == NULL, "empty on failure");
    CHECK(odx_video_decode(NULL, 10, NULL, &v) == ODX_EINVAL, "NULL data");
    CHECK(odx_video_decode("x", 1, NULL, NULL) == ODX_EINVAL, "NULL out");
    CHECK(odx_video_decode("hello world", 11, NULL, &v) == ODX_EMEDIA, "unknown magic");
    CHECK(strstr(odx_last_error(), "unknown magic") != NULL, "message: %s", odx_last_error());
    static const char *magics[] = {"\0\0\0\x18" "ftypisom\0\0\x02\0isomiso2", "\x1a\x45\xdf\xa3", "GIF89a"};
    static const size_t mlen[] = {24, 4, 6};
    unsigned char buf[4096];
    for (int m = 0; m < 3; m++) {
        uint32_t x = 12345;
        memcpy(buf, magics[m], mlen[m]);
        for (size_t i = mlen[m]; i < sizeof buf; i++) { x = x * 1103515245u + 12345u; buf[i] = (unsigned char)(x >> 16); }
        for (size_t len = mlen[m]; len <= sizeof buf; len = len * 2 + 1) {
            int rc = odx_video_decode(buf, len, NULL, &v);
            CHECK(rc == ODX_EMEDIA, "garbage %d len %zu -> %d (%s)", m, len, rc, odx_last_error());
            CHECK(v.frames == NULL && v.audio == NULL, "nothing left allocated");
        }
    }
}

static void test_options(void)
{
    unsigned char gif[256];
    size_t n = make_gif(gif);
    odx_video v;
    odx_video_opts o = {.frames = -1};
    CHECK(odx_video_decode(gif, n, &o, &v) == ODX_EINVAL, "frames -1");
    o.frames = ODX_VIDEO_MAX_FRAMES + 1;
    CHECK(odx_video_decode(gif, n, &o, &v) == ODX_EINVAL, "too many frames");
    o = (odx_video_opts){.audio_rate = 10};
    CHECK(odx_video_decode(gif, n, &o, &v) == ODX_EINVAL, "audio_rate 10");
    o = (odx_video_opts){.max_seconds = -1};
    CHECK(odx_video_decode(gif, n, &o, &v) == ODX_EINVAL, "max_seconds -1");
    o = (odx_video_opts){.max_seconds = 0.2};
    CHECK(odx_video_decode(gif, n, &o, &v) == ODX_ELIMIT, "0.3 s GIF over a 0.2 s limit: %s", odx_last_error());
    o = (odx_video_opts){.max_pixels = 1};
    CHECK(odx_video_decode(gif, n, &o, &v) == 0, "1 pixel within a 1-pixel limit: %s", odx_last_error());
    odx_video_free(&v);
}

static void test_gif_frames(void)
{
    unsigned char gif[256];
    size_t n = make_gif(gif);
    odx_video v;
    /* N = 2 over 0.3 s (ticks of 1/100 s): t = ceil(30/4) = 8 -> the first
     * frame with timestamp >= 8 is the black one at 10; t = ceil(90/4) = 23
     * -> no frame starts at or after 23, and the last one (20..30) is on
     * screen then -> the white one at 20. */
    odx_video_opts o = {.frames = 2};
    REQUIRE_OK(odx_video_decode(gif, n, &o, &v));
    CHECK(strcmp(v.format, "gif") == 0, "format %s", v.format);
    CHECK(v.n_frames == 2, "n_frames %d", v.n_frames);
    CHECK(v.duration > 0.2999 && v.duration < 0.3001, "duration %f", v.duration);
    CHECK(!v.has_audio && v.audio == NULL, "no audio");
    if (v.n_frames == 2) {
        CHECK(v.frame_times[0] > 0.0999 && v.frame_times[0] < 0.1001 && v.frame_times[1] > 0.1999 &&
              v.frame_times[1] < 0.2001, "times %f %f", v.frame_times[0], v.frame_times[1]);
        CHECK(v.frames[0].w == 1 && v.frames[0].h == 1, "size");
        const unsigned char *a = v.frames[0].rgb, *b = v.frames[1].rgb;
        CHECK(a[0] == 0 && a[1] == 0 && a[2] == 0, "black %d %d %d", a[0], a[1], a[2]);
        CHECK(b[0] == 255 && b[1] == 255 && b[2] == 255, "white %d %d %d", b[0], b[1], b[2]);
    }
    odx_video_free(&v);
    CHECK(v.frames == NULL && v.n_frames == 0, "freed");
    /* N = 8: t = 2, 6, 10 -> 10; 14, 17 -> 20; 21, 25, 29 -> the last
     * frame (20): two distinct frames, each returned once. */
    o.frames = 8;
    REQUIRE_OK(odx_video_decode(gif, n, &o, &v));
    CHECK(v.n_frames == 2, "distinct frames %d", v.n_frames);
    odx_video_free(&v);
    /* N = 1: t = 15 -> the white frame at 20. */
    o.frames = 1;
    REQUIRE_OK(odx_video_decode(gif, n, &o, &v));
    CHECK(v.n_frames == 1 && v.frames[0].rgb[0] == 255 && v.frame_times[0] > 0.1999, "N=1 picks the frame at 0.2");
    odx_video_free(&v);
    /* Asking for audio where there is none is not an error. */
    o = (odx_video_opts){.audio_rate = 16000};
    REQUIRE_OK(odx_video_decode(gif, n, &o, &v));
    CHECK(!v.has_audio && v.audio == NULL && v.audio_n == 0, "no audio");
    odx_video_free(&v);
    odx_video_free(NULL);
}

/* Every allocation of ours fails in turn: ODX_ENOMEM each time (ASan finds
 * leaks), then the unfailed run gives the baseline result. */
static void sweep(const void *data, size_t len, const odx_video_opts *o)
{
    odx_video base, v;
    REQUIRE_OK(odx_video_decode(data, len, o, &base));
    int points = 0;
    for (long k = 1; k < 10000; k++) {
        odx_alloc_fail_at(k);
        int rc = odx_video_decode(data, len, o, &v);
        odx_alloc_fail_at(0);
        if (rc == 0) {
            CHECK(v.n_frames == base.n_frames && v.audio_n == base.audio_n, "same result after the sweep");
            for (int i = 0; i < v.n_frames && i < base.n_frames; i++)
                CHECK(memcmp(v.frames[i].rgb, base.frames[i].rgb, (size_t)v.frames[i].w * v.frames[i].h * 3) == 0,
                      "frame %d", i);
            odx_video_free(&v);
            break;
        }
        points++;
        CHECK(rc == ODX_ENOMEM, "allocation %ld failing -> %d (%s)", k, rc, odx_last_error());
        CHECK(v.frames == NULL && v.audio == NULL, "nothing left allocated");
    }
    printf("# %d allocation points\n", points);
    CHECK(points >= 3, "only %d allocation points", points);
    odx_video_free(&base);
}

static void test_alloc_gif(void)
{
    unsigned char gif[256];
    size_t n = make_gif(gif);
    odx_video_opts o = {.frames = 2};
    sweep(gif, n, &o);
}

static const char *clip_path;

static void test_alloc_clip(void)
{
    if (!clip_path) {
        printf("# skipped: no clip given (enc_video_files.py passes one)\n");
        return;
    }
    FILE *f = fopen(clip_path, "rb");
    REQUIRE(f != NULL, "cannot open %s", clip_path);
    static unsigned char buf[8 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    odx_video_opts o = {.frames = 4, .audio_rate = 16000};
    sweep(buf, n, &o);
}

int main(int argc, char **argv)
{
    clip_path = argc > 1 ? argv[1] : NULL;
    RUN(test_sniff);
    RUN(test_bad_input);
    RUN(test_options);
    RUN(test_gif_frames);
    RUN(test_alloc_gif);
    RUN(test_alloc_clip);
    TEST_EXIT();
}
