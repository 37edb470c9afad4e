/* Image decoding to RGB8 by Debian's libraries (libjpeg-turbo, libpng,
 * libwebp, giflib) plus a small BMP reader. The pixel limit is checked from
 * each header before any pixel buffer exists. See image.h for colour rules. */
#include <stdio.h> /* before jpeglib.h, which needs FILE */
#include <gif_lib.h>
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <setjmp.h>
#include <string.h>
#include <webp/decode.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/util.h"
#include "encoders/media/image.h"

odx_image_format odx_image_sniff(const void *data, size_t len)
{
    const unsigned char *p = data;
    if (len >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) return ODX_IMAGE_JPEG;
    if (len >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0) return ODX_IMAGE_PNG;
    if (len >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0) return ODX_IMAGE_WEBP;
    if (len >= 6 && (memcmp(p, "GIF87a", 6) == 0 || memcmp(p, "GIF89a", 6) == 0)) return ODX_IMAGE_GIF;
    /* "BM" alone starts plenty of text ("BMW ..."): the info header's size
     * must be one that BMP writers use (the decoder reads 40 and up). */
    if (len >= 18 && p[0] == 'B' && p[1] == 'M') {
        uint32_t dib = odx_get_le32(p + 14);
        if (dib == 12 || dib == 40 || dib == 52 || dib == 56 || dib == 64 || dib == 108 || dib == 124) return ODX_IMAGE_BMP;
    }
    return ODX_IMAGE_UNKNOWN;
}

void odx_image_free(odx_image *img)
{
    if (!img) return;
    odx_free(img->rgb);
    img->rgb = NULL;
    img->w = img->h = 0;
}

static int check_size(const char *fmt, uint64_t w, uint64_t h, uint64_t max_pixels)
{
    if (w == 0 || h == 0) return odx_error(ODX_EMEDIA, "%s: empty image (%llux%llu)", fmt, (unsigned long long)w, (unsigned long long)h);
    if (w > 1000000 || h > 1000000 || w * h > max_pixels)
        return odx_error(ODX_ELIMIT, "%s: %llux%llu pixels is over the limit of %llu", fmt,
                         (unsigned long long)w, (unsigned long long)h, (unsigned long long)max_pixels);
    return 0;
}

static int alloc_rgb(odx_image *img, int w, int h)
{
    img->rgb = odx_malloc((size_t)w * h * 3);
    if (!img->rgb) return odx_error(ODX_ENOMEM, "out of memory for a %dx%d image", w, h);
    img->w = w;
    img->h = h;
    return 0;
}

/* ---- JPEG ---------------------------------------------------------------- */

typedef struct jpeg_err {
    struct jpeg_error_mgr mgr;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
    int truncated;
} jpeg_err;

static void jpeg_fail(j_common_ptr c)
{
    jpeg_err *e = (jpeg_err *)(void *)c->err;
    (*c->err->format_message)(c, e->msg);
    longjmp(e->jb, 1);
}

/* Warnings are tolerated (PIL accepts e.g. extraneous bytes) except a
 * premature end of data, which PIL refuses as a truncated file. */
static void jpeg_warn(j_common_ptr c, int level)
{
    jpeg_err *e = (jpeg_err *)(void *)c->err;
    if (level < 0 && c->err->msg_code == JWRN_JPEG_EOF) e->truncated = 1;
}

static unsigned char muldiv255(unsigned a, unsigned b)
{
    unsigned t = a * b + 128;
    return (unsigned char)(((t >> 8) + t) >> 8);
}

typedef struct jpeg_ctx {
    struct jpeg_decompress_struct d;
    jpeg_err err;
    unsigned char *row;
} jpeg_ctx;

static int decode_jpeg(const unsigned char *data, size_t len, uint64_t max_pixels, odx_image *img)
{
    jpeg_ctx *c = odx_calloc(1, sizeof *c);
    if (!c) return odx_error(ODX_ENOMEM, "out of memory");
    int rc = 0;
    c->d.err = jpeg_std_error(&c->err.mgr);
    c->err.mgr.error_exit = jpeg_fail;
    c->err.mgr.emit_message = jpeg_warn;
    if (setjmp(c->err.jb)) {
        rc = odx_error(ODX_EMEDIA, "jpeg: %s", c->err.msg);
        goto out;
    }
    jpeg_create_decompress(&c->d);
    jpeg_mem_src(&c->d, data, (unsigned long)len);
    jpeg_read_header(&c->d, TRUE);
    if ((rc = check_size("jpeg", c->d.image_width, c->d.image_height, max_pixels))) goto out;
    int cmyk = c->d.jpeg_color_space == JCS_CMYK || c->d.jpeg_color_space == JCS_YCCK;
    c->d.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(&c->d);
    int w = (int)c->d.output_width, h = (int)c->d.output_height, nc = c->d.output_components;
    if ((rc = alloc_rgb(img, w, h))) goto out;
    c->row = odx_malloc((size_t)w * nc);
    if (!c->row) { rc = odx_error(ODX_ENOMEM, "out of memory"); goto out; }
    while (c->d.output_scanline < c->d.output_height) {
        unsigned char *dst = img->rgb + (size_t)c->d.output_scanline * w * 3;
        JSAMPROW rp = c->row;
        jpeg_read_scanlines(&c->d, &rp, 1);
        if (!cmyk) {
            memcpy(dst, c->row, (size_t)w * 3);
            continue;
        }
        /* PIL reads CMYK JPEGs as Adobe-inverted ("CMYK;I") and converts with
         * R = (255 - K) - C * (255 - K) / 255. */
        for (int x = 0; x < w; x++) {
            const unsigned char *s = c->row + (size_t)x * 4;
            unsigned nk = s[3];
            for (int k = 0; k < 3; k++) dst[x * 3 + k] = (unsigned char)(nk - muldiv255(255u - s[k], nk));
        }
    }
    jpeg_finish_decompress(&c->d);
    if (c->err.truncated) { rc = odx_error(ODX_EMEDIA, "jpeg: truncated data"); goto out; }
    int o = odx_jpeg_exif_orientation(data, len);
    if (o != 1) rc = odx_image_orient(img, o);
out:
    jpeg_destroy_decompress(&c->d);
    odx_free(c->row);
    odx_free(c);
    if (rc) odx_image_free(img);
    return rc;
}

/* ---- PNG ----------------------------------------------------------------- */

typedef struct png_ctx {
    const unsigned char *data;
    size_t len, pos;
    char msg[200];
    png_bytep *rows;
} png_ctx;

static void png_read_mem(png_structp p, png_bytep out, png_size_t n)
{
    png_ctx *c = png_get_io_ptr(p);
    if (n > c->len - c->pos) png_error(p, "truncated data");
    memcpy(out, c->data + c->pos, n);
    c->pos += n;
}

static void png_fail(png_structp p, png_const_charp msg)
{
    png_ctx *c = png_get_error_ptr(p);
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    png_longjmp(p, 1);
}

static void png_warn(png_structp p, png_const_charp msg) { (void)p; (void)msg; }

static int decode_png(const unsigned char *data, size_t len, uint64_t max_pixels, odx_image *img)
{
    png_ctx *c = odx_calloc(1, sizeof *c);
    if (!c) return odx_error(ODX_ENOMEM, "out of memory");
    c->data = data;
    c->len = len;
    png_structp p = png_create_read_struct(PNG_LIBPNG_VER_STRING, c, png_fail, png_warn);
    png_infop info = p ? png_create_info_struct(p) : NULL;
    int rc = 0;
    if (!p || !info) { rc = odx_error(ODX_ENOMEM, "png: out of memory"); goto out; }
    if (setjmp(png_jmpbuf(p))) {
        rc = odx_error(ODX_EMEDIA, "png: %s", c->msg);
        goto out;
    }
    png_set_read_fn(p, c, png_read_mem);
    png_set_user_limits(p, 1000000, 1000000);
    png_read_info(p, info);
    png_uint_32 w = png_get_image_width(p, info), h = png_get_image_height(p, info);
    if ((rc = check_size("png", w, h, max_pixels))) goto out;
    int ct = png_get_color_type(p, info), bd = png_get_bit_depth(p, info);
    if (bd == 16) png_set_strip_16(p);        /* high byte, as PIL's "RGB;16B" */
    if (ct == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(p);
    if (ct == PNG_COLOR_TYPE_GRAY && bd < 8) png_set_expand_gray_1_2_4_to_8(p);
    if (ct == PNG_COLOR_TYPE_GRAY || ct == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(p);
    /* Alpha is dropped, as PIL's convert("RGB") does for the reference.
     * A palette's tRNS chunk becomes an alpha channel when the palette is
     * expanded (pngquant writes these), so it is stripped the same way;
     * tRNS on grey or RGB is never expanded here and needs nothing. */
    if ((ct & PNG_COLOR_MASK_ALPHA) || (ct == PNG_COLOR_TYPE_PALETTE && png_get_valid(p, info, PNG_INFO_tRNS)))
        png_set_strip_alpha(p);
    png_set_interlace_handling(p);
    png_read_update_info(p, info);
    if (png_get_rowbytes(p, info) != (size_t)w * 3) png_error(p, "unexpected row layout after transforms");
    if ((rc = alloc_rgb(img, (int)w, (int)h))) goto out;
    c->rows = odx_malloc((size_t)h * sizeof *c->rows);
    if (!c->rows) { rc = odx_error(ODX_ENOMEM, "out of memory"); goto out; }
    for (png_uint_32 y = 0; y < h; y++) c->rows[y] = img->rgb + (size_t)y * w * 3;
    png_read_image(p, c->rows);
    png_read_end(p, NULL);
out:
    png_destroy_read_struct(p ? &p : NULL, info ? &info : NULL, NULL);
    odx_free(c->rows);
    odx_free(c);
    if (rc) odx_image_free(img);
    return rc;
}

/* ---- WebP ---------------------------------------------------------------- */

static int decode_webp(const unsigned char *data, size_t len, uint64_t max_pixels, odx_image *img)
{
    int w = 0, h = 0;
    if (!WebPGetInfo(data, len, &w, &h)) return odx_error(ODX_EMEDIA, "webp: bad header");
    int rc = check_size("webp", (uint64_t)w, (uint64_t)h, max_pixels);
    if (rc || (rc = alloc_rgb(img, w, h))) return rc;
    if (!WebPDecodeRGBInto(data, len, img->rgb, (size_t)w * h * 3, w * 3)) {
        odx_image_free(img);
        return odx_error(ODX_EMEDIA, "webp: corrupt data");
    }
    return 0;
}

/* ---- GIF (first frame) --------------------------------------------------- */

typedef struct gif_src { const unsigned char *data; size_t len, pos; } gif_src;

static int gif_read(GifFileType *g, GifByteType *out, int n)
{
    gif_src *s = g->UserData;
    if (n < 0) return 0;
    size_t k = (size_t)n <= s->len - s->pos ? (size_t)n : s->len - s->pos;
    memcpy(out, s->data + s->pos, k);
    s->pos += k;
    return (int)k;
}

static int decode_gif(const unsigned char *data, size_t len, uint64_t max_pixels, odx_image *img)
{
    gif_src src = {data, len, 0};
    int err = 0, rc = 0;
    GifFileType *g = DGifOpen(&src, gif_read, &err);
    GifByteType *line = NULL;
    if (!g) return odx_error(ODX_EMEDIA, "gif: %s", GifErrorString(err));
    if ((rc = check_size("gif", (uint64_t)g->SWidth, (uint64_t)g->SHeight, max_pixels))) goto out;
    int W = g->SWidth, H = g->SHeight;
    for (;;) {
        GifRecordType rt;
        if (DGifGetRecordType(g, &rt) == GIF_ERROR) { rc = odx_error(ODX_EMEDIA, "gif: %s", GifErrorString(g->Error)); goto out; }
        if (rt == TERMINATE_RECORD_TYPE) { rc = odx_error(ODX_EMEDIA, "gif: no image in file"); goto out; }
        if (rt == EXTENSION_RECORD_TYPE) {
            int code;
            GifByteType *ext;
            if (DGifGetExtension(g, &code, &ext) == GIF_ERROR) { rc = odx_error(ODX_EMEDIA, "gif: bad extension"); goto out; }
            while (ext) {
                if (DGifGetExtensionNext(g, &ext) == GIF_ERROR) { rc = odx_error(ODX_EMEDIA, "gif: bad extension"); goto out; }
            }
            continue;
        }
        if (rt != IMAGE_DESC_RECORD_TYPE) continue;
        if (DGifGetImageDesc(g) == GIF_ERROR) { rc = odx_error(ODX_EMEDIA, "gif: bad image descriptor"); goto out; }
        break;
    }
    GifImageDesc *d = &g->Image;
    ColorMapObject *cm = d->ColorMap ? d->ColorMap : g->SColorMap;
    if (!cm || d->Width <= 0 || d->Height <= 0 || d->Width > 1000000 || d->Height > 1000000) {
        rc = odx_error(ODX_EMEDIA, "gif: no palette or bad frame size");
        goto out;
    }
    if ((rc = alloc_rgb(img, W, H))) goto out;
    /* Canvas outside the first frame: the background colour. */
    GifColorType bg = {0, 0, 0};
    if (g->SColorMap && g->SBackGroundColor < g->SColorMap->ColorCount) bg = g->SColorMap->Colors[g->SBackGroundColor];
    for (size_t i = 0; i < (size_t)W * H; i++) {
        img->rgb[i * 3] = bg.Red; img->rgb[i * 3 + 1] = bg.Green; img->rgb[i * 3 + 2] = bg.Blue;
    }
    line = odx_malloc((size_t)d->Width);
    if (!line) { rc = odx_error(ODX_ENOMEM, "out of memory"); goto out; }
    static const int start[4] = {0, 4, 2, 1}, step[4] = {8, 8, 4, 2};
    int passes = d->Interlace ? 4 : 1;
    for (int pass = 0; pass < passes; pass++) {
        for (int y = d->Interlace ? start[pass] : 0; y < d->Height; y += d->Interlace ? step[pass] : 1) {
            if (DGifGetLine(g, line, d->Width) == GIF_ERROR) { rc = odx_error(ODX_EMEDIA, "gif: %s", GifErrorString(g->Error)); goto out; }
            int cy = d->Top + y;
            if (cy < 0 || cy >= H) continue;
            for (int x = 0; x < d->Width; x++) {
                int cx = d->Left + x;
                if (cx < 0 || cx >= W) continue;
                GifColorType col = line[x] < cm->ColorCount ? cm->Colors[line[x]] : (GifColorType){0, 0, 0};
                unsigned char *o = img->rgb + ((size_t)cy * W + cx) * 3;
                o[0] = col.Red; o[1] = col.Green; o[2] = col.Blue;
            }
        }
    }
out:
    odx_free(line);
    DGifCloseFile(g, &err);
    if (rc) odx_image_free(img);
    return rc;
}

/* ---- BMP (uncompressed 8/24/32-bit) -------------------------------------- */


static int decode_bmp(const unsigned char *d, size_t len, uint64_t max_pixels, odx_image *img)
{
    if (len < 54) return odx_error(ODX_EMEDIA, "bmp: truncated header");
    uint32_t off = odx_get_le32(d + 10), dib = odx_get_le32(d + 14);
    if (dib < 40 || dib > len - 14) return odx_error(ODX_EMEDIA, "bmp: unsupported header size %u", dib);
    int32_t w = (int32_t)odx_get_le32(d + 18), hh = (int32_t)odx_get_le32(d + 22);
    unsigned bpp = odx_get_le16(d + 28);
    uint32_t comp = odx_get_le32(d + 30), used = odx_get_le32(d + 46);
    int top_down = hh < 0;
    int64_t h = top_down ? -(int64_t)hh : hh;
    if (w <= 0 || h <= 0) return odx_error(ODX_EMEDIA, "bmp: bad size");
    int rc = check_size("bmp", (uint64_t)w, (uint64_t)h, max_pixels);
    if (rc) return rc;
    if (!((bpp == 24 || bpp == 32 || bpp == 8) && (comp == 0 || (comp == 3 && bpp == 32))))
        return odx_error(ODX_EMEDIA, "bmp: %u-bit compression %u not supported", bpp, comp);
    uint64_t stride = ((uint64_t)bpp * w + 31) / 32 * 4;
    if (off > len || stride * h > len - off) return odx_error(ODX_EMEDIA, "bmp: pixel data past the end of the file");
    const unsigned char *pal = d + 14 + dib;
    uint32_t ncol = used ? used : 256;
    if (bpp == 8 && (ncol > 256 || (size_t)(pal - d) + 4u * ncol > off)) return odx_error(ODX_EMEDIA, "bmp: bad palette");
    if ((rc = alloc_rgb(img, w, (int)h))) return rc;
    for (int64_t y = 0; y < h; y++) {
        const unsigned char *row = d + off + stride * (uint64_t)(top_down ? y : h - 1 - y);
        unsigned char *o = img->rgb + (size_t)y * w * 3;
        for (int32_t x = 0; x < w; x++, o += 3) {
            const unsigned char *px;
            if (bpp == 8) {
                if (row[x] >= ncol) { odx_image_free(img); return odx_error(ODX_EMEDIA, "bmp: palette index out of range"); }
                px = pal + 4u * row[x];
            } else {
                px = row + (size_t)x * (bpp / 8);
            }
            o[0] = px[2]; o[1] = px[1]; o[2] = px[0]; /* BGR(X) */
        }
    }
    return 0;
}

int odx_image_decode(const void *data, size_t len, uint64_t max_pixels, odx_image *out)
{
    if (!max_pixels) max_pixels = ODX_IMAGE_DEFAULT_MAX_PIXELS;
    odx_image img = {0, 0, NULL};
    int rc;
    switch (odx_image_sniff(data, len)) {
    case ODX_IMAGE_JPEG: rc = decode_jpeg(data, len, max_pixels, &img); break;
    case ODX_IMAGE_PNG: rc = decode_png(data, len, max_pixels, &img); break;
    case ODX_IMAGE_WEBP: rc = decode_webp(data, len, max_pixels, &img); break;
    case ODX_IMAGE_GIF: rc = decode_gif(data, len, max_pixels, &img); break;
    case ODX_IMAGE_BMP: rc = decode_bmp(data, len, max_pixels, &img); break;
    default: return odx_error(ODX_EMEDIA, "not an image format omnidex decodes (JPEG, PNG, WebP, GIF, BMP)");
    }
    if (rc) return rc;
    *out = img;
    return 0;
}
