/* Image decoding (JPEG, PNG, WebP, GIF first frame, BMP) to 8-bit RGB, by
 * Debian's libraries, with EXIF orientation applied for JPEG.
 *
 * Colour handling follows PIL's Image.convert("RGB"), which is what CLIP's
 * Hugging Face processor does: grayscale is replicated, alpha is dropped (not
 * composited), 16-bit samples are reduced to 8, palettes expanded, CMYK
 * converted as PIL does (R = 255 - min(255, C + K) ... on Adobe-inverted
 * data).
 *
 * Decompression bombs: the header's width * height is checked against
 * max_pixels before any pixel buffer is allocated (ODX_ELIMIT). */
#ifndef ODX_ENC_IMAGE_H
#define ODX_ENC_IMAGE_H
#include <stddef.h>
#include <stdint.h>

#define ODX_IMAGE_DEFAULT_MAX_PIXELS (89478485ull) /* PIL's bomb threshold */

typedef struct odx_image {
    int w, h;
    unsigned char *rgb; /* w * h * 3 bytes, row-major; owned */
} odx_image;

typedef enum odx_image_format {
    ODX_IMAGE_UNKNOWN = 0, ODX_IMAGE_JPEG, ODX_IMAGE_PNG, ODX_IMAGE_WEBP, ODX_IMAGE_GIF,
    ODX_IMAGE_BMP
} odx_image_format;

/* The format sniffed from magic bytes. */
odx_image_format odx_image_sniff(const void *data, size_t len);

/* Decodes data into *out (caller frees with odx_image_free). max_pixels 0
 * means ODX_IMAGE_DEFAULT_MAX_PIXELS. ODX_EMEDIA for unknown or corrupt
 * data, ODX_ELIMIT for an image over the limit. */
int odx_image_decode(const void *data, size_t len, uint64_t max_pixels, odx_image *out);
void odx_image_free(odx_image *img);

/* EXIF orientation (1..8) found in a JPEG's APP1 segment, 1 if none. */
int odx_jpeg_exif_orientation(const unsigned char *data, size_t len);
/* Applies an EXIF orientation in place (replacing img->rgb). 0 or ODX_ENOMEM. */
int odx_image_orient(odx_image *img, int orientation);

#endif
