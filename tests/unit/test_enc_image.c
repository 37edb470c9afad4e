/* Image helpers on hand-built inputs: format sniffing, a BMP written byte by
 * byte, PNG colour layouts written with libpng (palette with and without
 * transparency at 8 and 4 bits, RGBA), EXIF orientation parsing, the eight
 * orientations on a 3x2 image (expected layouts worked out by hand), resize
 * to the same size being the identity, and the pixel limit. */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "encoders/media/image.h"
#include "encoders/media/preprocess.h"
#include "omnidex.h"
#include "testlib.h"

static void put32(unsigned char *p, unsigned v) { p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24; }

/* 2x2 24-bit bottom-up BMP: top row red, green; bottom row blue, white. */
static size_t make_bmp(unsigned char *b)
{
    memset(b, 0, 70);
    b[0] = 'B'; b[1] = 'M';
    put32(b + 2, 70); put32(b + 10, 54); put32(b + 14, 40);
    put32(b + 18, 2); put32(b + 22, 2);
    b[26] = 1; b[28] = 24;
    unsigned char *px = b + 54; /* rows of 6 bytes padded to 8, BGR, bottom row first */
    unsigned char bottom[6] = {255, 0, 0, 255, 255, 255}, top[6] = {0, 0, 255, 0, 255, 0};
    memcpy(px, bottom, 6);
    memcpy(px + 8, top, 6);
    return 70;
}

static void test_bmp_and_sniff(void)
{
    unsigned char b[70];
    size_t n = make_bmp(b);
    CHECK(odx_image_sniff(b, n) == ODX_IMAGE_BMP, "sniff bmp");
    CHECK(odx_image_sniff("GIF89a", 6) == ODX_IMAGE_GIF, "sniff gif");
    CHECK(odx_image_sniff("xx", 2) == ODX_IMAGE_UNKNOWN, "sniff unknown");
    odx_image img;
    REQUIRE_OK(odx_image_decode(b, n, 0, &img));
    const unsigned char want[12] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255};
    CHECK(img.w == 2 && img.h == 2 && memcmp(img.rgb, want, 12) == 0, "bmp pixels");
    odx_image_free(&img);
    CHECK(odx_image_decode(b, n, 3, &img) == ODX_ELIMIT, "4 pixels over a limit of 3");
    CHECK(odx_image_decode(b, 60, 0, &img) == ODX_EMEDIA, "truncated bmp");
}

/* Writes a 2x2 PNG in memory (malloc'ed, *len bytes) with libpng. rows
 * holds the packed rows; plte/trns are for colour type 3. */
static unsigned char *write_png(int ct, int depth, const unsigned char *rows, size_t rowbytes,
                                const png_color *plte, int nplte, const unsigned char *trns, int ntrns,
                                const png_color_16 *trans_color, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f) return NULL;
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(p);
    if (setjmp(png_jmpbuf(p))) {
        png_destroy_write_struct(&p, &info);
        fclose(f);
        free(buf);
        return NULL;
    }
    png_init_io(p, f);
    png_set_IHDR(p, info, 2, 2, depth, ct, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (plte) png_set_PLTE(p, info, plte, nplte);
    if (trns || trans_color) png_set_tRNS(p, info, trns, ntrns, trans_color);
    png_bytep rp[2] = {(png_bytep)rows, (png_bytep)rows + rowbytes};
    png_set_rows(p, info, rp);
    png_write_png(p, info, PNG_TRANSFORM_IDENTITY, NULL);
    png_destroy_write_struct(&p, &info);
    fclose(f);
    *len = n;
    return (unsigned char *)buf;
}

/* Palette PNGs with a tRNS chunk (what pngquant writes) decode like RGBA
 * PNGs: alpha is dropped and the colour kept, as PIL's convert("RGB")
 * does for the CLIP reference. Expected pixels are the palette entries. */
static void test_png_layouts(void)
{
    const png_color plte[4] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255}};
    const unsigned char trns[3] = {0, 128, 255}; /* entry 3 has no alpha: opaque */
    const unsigned char want[12] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255};
    const unsigned char idx8[4] = {0, 1, 2, 3}, idx4[4] = {0x01, 0, 0x23, 0}; /* rows padded to bytes */
    const unsigned char rgba[16] = {255, 0, 0, 0, 0, 255, 0, 128, 0, 0, 255, 255, 255, 255, 255, 255};
    const unsigned char grey[4] = {0, 0, 255, 255}, grey_rgb[12] = {0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255};
    const png_color_16 red = {0, 255, 0, 0, 0}, black = {0, 0, 0, 0, 0};
    struct {
        const char *name;
        int ct, depth;
        const unsigned char *rows;
        size_t rowbytes;
        int trns;
        const png_color_16 *key; /* tRNS colour key (grey, RGB) */
        const unsigned char *want;
    } cases[] = {
        {"palette 8-bit", PNG_COLOR_TYPE_PALETTE, 8, idx8, 2, 0, NULL, want},
        {"palette 8-bit + tRNS", PNG_COLOR_TYPE_PALETTE, 8, idx8, 2, 1, NULL, want},
        {"palette 4-bit + tRNS", PNG_COLOR_TYPE_PALETTE, 4, idx4, 2, 1, NULL, want},
        {"RGBA 8-bit", PNG_COLOR_TYPE_RGB_ALPHA, 8, rgba, 8, 0, NULL, want},
        {"RGB 8-bit + tRNS key", PNG_COLOR_TYPE_RGB, 8, want, 6, 0, &red, want},
        {"grey 8-bit + tRNS key", PNG_COLOR_TYPE_GRAY, 8, grey, 2, 0, &black, grey_rgb},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = 0;
        int pal = cases[i].ct == PNG_COLOR_TYPE_PALETTE;
        unsigned char *png = write_png(cases[i].ct, cases[i].depth, cases[i].rows, cases[i].rowbytes,
                                       pal ? plte : NULL, 4, cases[i].trns ? trns : NULL, 3, cases[i].key, &len);
        REQUIRE(png != NULL, "libpng wrote %s", cases[i].name);
        CHECK(odx_image_sniff(png, len) == ODX_IMAGE_PNG, "sniff %s", cases[i].name);
        odx_image img;
        int rc = odx_image_decode(png, len, 0, &img);
        CHECK(rc == 0, "%s decodes: %s", cases[i].name, rc ? odx_last_error() : "");
        if (rc == 0) {
            CHECK(img.w == 2 && img.h == 2 && memcmp(img.rgb, cases[i].want, 12) == 0, "%s: colours kept, alpha dropped",
                  cases[i].name);
            odx_image_free(&img);
        }
        free(png);
    }
}

static void test_exif_parse(void)
{
    /* SOI, APP1 "Exif\0\0" + big-endian TIFF with IFD0 holding orientation 6. */
    unsigned char j[64] = {0xFF, 0xD8, 0xFF, 0xE1, 0, 34, 'E', 'x', 'i', 'f', 0, 0,
                           'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1,
                           0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0,
                           0, 0, 0, 0, 0xFF, 0xD9};
    CHECK(odx_jpeg_exif_orientation(j, 40) == 6, "orientation 6");
    j[31] = 9;
    CHECK(odx_jpeg_exif_orientation(j, 40) == 1, "out-of-range value ignored");
    j[31] = 6;
    j[23] = 0x13; /* first tag is no longer 0x0112 ... */
    j[21] = 200;  /* ... and the entry count runs past the segment */
    CHECK(odx_jpeg_exif_orientation(j, 40) == 1, "bounds respected");
    CHECK(odx_jpeg_exif_orientation(j, 10) == 1, "truncated");
}

static void test_orientations(void)
{
    /* Source 3x2, pixel values = index: row0 = 0 1 2, row1 = 3 4 5. */
    const char *want[9] = {NULL, "012345", "210543", "543210", "345012",
                           "031425", "304152", "524130", "251403"};
    int ww[9] = {0, 3, 3, 3, 3, 2, 2, 2, 2};
    for (int o = 1; o <= 8; o++) {
        odx_image img = {3, 2, odx_malloc(18)};
        REQUIRE(img.rgb != NULL, "alloc");
        for (int i = 0; i < 6; i++) img.rgb[i * 3] = img.rgb[i * 3 + 1] = img.rgb[i * 3 + 2] = (unsigned char)i;
        REQUIRE_OK(odx_image_orient(&img, o));
        char got[7];
        for (int i = 0; i < 6; i++) got[i] = (char)('0' + img.rgb[i * 3]);
        got[6] = 0;
        CHECK(img.w == ww[o] && strcmp(got, want[o]) == 0, "orientation %d: %dx%d %s, want %s", o, img.w, img.h, got, want[o]);
        odx_image_free(&img);
    }
}

static void test_resize_identity(void)
{
    unsigned char src[5 * 4 * 3], dst[5 * 4 * 3];
    for (int i = 0; i < 60; i++) src[i] = (unsigned char)(i * 37);
    REQUIRE_OK(odx_resize_rgb8(src, 5, 4, dst, 5, 4, 3));
    CHECK(memcmp(src, dst, 60) == 0, "same-size bicubic is the identity");
    unsigned char flat[8 * 8 * 3], small[3 * 3 * 3];
    memset(flat, 77, sizeof flat);
    REQUIRE_OK(odx_resize_rgb8(flat, 8, 8, small, 3, 3, 3));
    int same = 1;
    for (int i = 0; i < 27; i++) same &= small[i] == 77;
    CHECK(same, "a flat image stays flat when shrunk");
}

int main(void)
{
    RUN(test_bmp_and_sniff);
    RUN(test_png_layouts);
    RUN(test_exif_parse);
    RUN(test_orientations);
    RUN(test_resize_identity);
    TEST_EXIT();
}
