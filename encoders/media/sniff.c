/* The one media sniffer (odx_media_sniff in omnidex.h): what a file's bytes
 * hold, decided by the same format detection each decoder uses (image,
 * audio, video, mesh), then UTF-8 text. The CLI picks the encoder with it,
 * so a file is never called one thing by the CLI and another by the
 * decoder that then reads it. Nothing is decoded here; only a GIF's block
 * structure is walked to tell an animation from a still picture. */
#include <string.h>

#include "common/error.h"
#include "common/util.h"
#include "encoders/media/audio.h"
#include "encoders/media/image.h"
#include "encoders/media/mesh.h"
#include "encoders/media/video.h"

#define BIT(m) (1u << (m))

/* Skips a GIF's data sub-blocks from i; returns the index after the
 * terminator (or len when the file ends first). */
static size_t gif_skip_blocks(const unsigned char *p, size_t len, size_t i)
{
    while (i < len) {
        size_t n = p[i++];
        if (n == 0) break;
        i += n;
    }
    return i < len ? i : len;
}

/* Image descriptors in a GIF, counted up to 2 (2 = animated). */
static int gif_frames(const unsigned char *p, size_t len)
{
    if (len < 13) return 0;
    size_t i = 13;
    if (p[10] & 0x80) i += (size_t)3 << ((p[10] & 7) + 1); /* global colour table */
    int frames = 0;
    while (i < len && frames < 2) {
        unsigned char b = p[i++];
        if (b == 0x21) { /* extension: label, sub-blocks */
            if (i >= len) break;
            i = gif_skip_blocks(p, len, i + 1);
        } else if (b == 0x2C) { /* image: descriptor, local table, LZW size, sub-blocks */
            if (i + 9 > len) break;
            unsigned flags = p[i + 8];
            i += 9;
            if (flags & 0x80) i += (size_t)3 << ((flags & 7) + 1);
            frames++;
            if (i >= len) break;
            i = gif_skip_blocks(p, len, i + 1);
        } else {
            break; /* trailer (0x3B) or damage */
        }
    }
    return frames;
}

static int found(odx_modality m, unsigned mask, const char *fmt, odx_modality *mo, unsigned *masko,
                 const char **fmto)
{
    if (mo) *mo = m;
    if (masko) *masko = mask;
    if (fmto) *fmto = fmt;
    return 0;
}

int odx_media_sniff(const void *data, size_t len, odx_modality *modality, unsigned *modalities,
                    const char **format)
{
    const unsigned char *p = data;
    if (!data || len == 0) return odx_error(ODX_EMEDIA, "empty file");
    switch (odx_image_sniff(p, len)) {
    case ODX_IMAGE_JPEG: return found(ODX_MODALITY_IMAGE, BIT(ODX_MODALITY_IMAGE), "JPEG", modality, modalities, format);
    case ODX_IMAGE_PNG: return found(ODX_MODALITY_IMAGE, BIT(ODX_MODALITY_IMAGE), "PNG", modality, modalities, format);
    case ODX_IMAGE_WEBP: return found(ODX_MODALITY_IMAGE, BIT(ODX_MODALITY_IMAGE), "WebP", modality, modalities, format);
    case ODX_IMAGE_BMP: return found(ODX_MODALITY_IMAGE, BIT(ODX_MODALITY_IMAGE), "BMP", modality, modalities, format);
    case ODX_IMAGE_GIF: {
        /* Both decoders read GIF: the image tower its first frame, the
         * video path every frame. An animation is a video by default. */
        unsigned both = BIT(ODX_MODALITY_IMAGE) | BIT(ODX_MODALITY_VIDEO);
        if (gif_frames(p, len) >= 2) return found(ODX_MODALITY_VIDEO, both, "animated GIF", modality, modalities, format);
        return found(ODX_MODALITY_IMAGE, both, "GIF", modality, modalities, format);
    }
    default: break;
    }
    const char *a = odx_audio_format_name(p, len);
    if (strcmp(a, "unknown") && strcmp(a, "RIFF")) return found(ODX_MODALITY_AUDIO, BIT(ODX_MODALITY_AUDIO), a, modality, modalities, format);
    const char *v = odx_video_format_name(p, len);
    if (v) {
        const char *name = !strcmp(v, "mp4/mov") ? "MP4/MOV" : "WebM/MKV";
        return found(ODX_MODALITY_VIDEO, BIT(ODX_MODALITY_VIDEO), name, modality, modalities, format);
    }
    const char *m = odx_mesh_format_name(p, len);
    if (strcmp(m, "unknown")) {
        /* The mesh decoder calls any binary blob whose bytes 80..83 are not
         * zero "STL" so that its error names the format it tried; as a
         * classification only a size that matches the triangle count is. */
        int binary = 0;
        for (size_t i = 0; i < len && i < 134; i++)
            if (p[i] < 9 || (p[i] > 13 && p[i] < 32) || p[i] == 127) binary = 1;
        uint64_t n = len >= 84 ? odx_get_le32(p + 80) : 0;
        if (strcmp(m, "STL") || !binary || 84 + 50 * n == len)
            return found(ODX_MODALITY_MESH, BIT(ODX_MODALITY_MESH), m, modality, modalities, format);
    }
    if (!memchr(p, 0, len) && odx_utf8_valid(data, len))
        return found(ODX_MODALITY_TEXT, BIT(ODX_MODALITY_TEXT), "UTF-8 text", modality, modalities, format);
    return odx_error(ODX_EMEDIA, "unknown binary data");
}
