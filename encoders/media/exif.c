/* EXIF orientation: find tag 0x0112 in IFD0 of a JPEG's APP1 "Exif" segment,
 * and apply it the way PIL's ImageOps.exif_transpose does. Every offset read
 * from the file is checked against the segment bounds. */
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/util.h"
#include "encoders/media/image.h"

/* TIFF data is either byte order ("II" or "MM"). */
static unsigned rd16(const unsigned char *p, int le) { return le ? odx_get_le16(p) : odx_get_be16(p); }
static unsigned long rd32(const unsigned char *p, int le) { return le ? odx_get_le32(p) : odx_get_be32(p); }

static int tiff_orientation(const unsigned char *t, size_t n)
{
    if (n < 8) return 1;
    int le;
    if (t[0] == 'I' && t[1] == 'I') le = 1;
    else if (t[0] == 'M' && t[1] == 'M') le = 0;
    else return 1;
    if (rd16(t + 2, le) != 42) return 1;
    unsigned long ifd = rd32(t + 4, le);
    if (ifd > n - 2) return 1;
    unsigned cnt = rd16(t + ifd, le);
    for (unsigned i = 0; i < cnt; i++) {
        unsigned long e = ifd + 2 + 12ul * i;
        if (e + 12 > n) return 1;
        if (rd16(t + e, le) == 0x0112) {
            unsigned type = rd16(t + e + 2, le);
            unsigned v = type == 3 ? rd16(t + e + 8, le) : type == 4 ? (unsigned)rd32(t + e + 8, le) : 1;
            return v >= 1 && v <= 8 ? (int)v : 1;
        }
    }
    return 1;
}

int odx_jpeg_exif_orientation(const unsigned char *d, size_t n)
{
    if (n < 4 || d[0] != 0xFF || d[1] != 0xD8) return 1;
    size_t p = 2;
    while (p + 4 <= n) {
        if (d[p] != 0xFF) return 1;
        unsigned marker = d[p + 1];
        if (marker == 0xFF) { p++; continue; }            /* fill byte */
        if (marker == 0xD9 || marker == 0xDA) return 1;    /* EOI / start of scan */
        size_t seg = odx_get_be16(d + p + 2);
        if (seg < 2 || p + 2 + seg > n) return 1;
        const unsigned char *s = d + p + 4;
        size_t sl = seg - 2;
        if (marker == 0xE1 && sl >= 6 && memcmp(s, "Exif\0\0", 6) == 0) return tiff_orientation(s + 6, sl - 6);
        p += 2 + seg;
    }
    return 1;
}

int odx_image_orient(odx_image *img, int o)
{
    if (o <= 1 || o > 8) return 0;
    int w = img->w, h = img->h, swap = o >= 5;
    int nw = swap ? h : w, nh = swap ? w : h;
    unsigned char *dst = odx_malloc((size_t)w * h * 3);
    if (!dst) return odx_error(ODX_ENOMEM, "out of memory rotating image");
    for (int y = 0; y < nh; y++)
        for (int x = 0; x < nw; x++) {
            int sx, sy;
            switch (o) {
            case 2: sx = w - 1 - x; sy = y; break;             /* mirror */
            case 3: sx = w - 1 - x; sy = h - 1 - y; break;     /* 180 */
            case 4: sx = x; sy = h - 1 - y; break;             /* flip */
            case 5: sx = y; sy = x; break;                     /* transpose */
            case 6: sx = y; sy = h - 1 - x; break;             /* 90 clockwise */
            case 7: sx = w - 1 - y; sy = h - 1 - x; break;     /* transverse */
            default: sx = w - 1 - y; sy = x; break;            /* 8: 90 anticlockwise */
            }
            memcpy(dst + ((size_t)y * nw + x) * 3, img->rgb + ((size_t)sy * w + sx) * 3, 3);
        }
    odx_free(img->rgb);
    img->rgb = dst;
    img->w = nw;
    img->h = nh;
    return 0;
}
