/* A space's self-check: one small sample of each modality, made here in
 * memory as a real file of a format the decoders read (BMP, WAV, animated
 * GIF, OFF), embedded end to end through the space's own path (decoder,
 * preprocessing, tower, pooling). 'omnidex models verify' runs it for every
 * modality a space lists, so a broken tower is found before a collection
 * meets it. The samples are structured (gradients, a chirp, a cube) rather
 * than constant, so preprocessing and normalisation see real variation. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "encoders/space.h"

static void le16(unsigned char *p, unsigned v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }
static void le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* 64 x 48 24-bit BMP: a colour gradient with a bright square. */
static unsigned char *make_bmp(size_t *len)
{
    const int w = 64, h = 48, row = w * 3; /* 192: already a multiple of 4 */
    size_t n = 54 + (size_t)row * h;
    unsigned char *b = odx_calloc(1, n);
    if (!b) return NULL;
    b[0] = 'B'; b[1] = 'M';
    le32(b + 2, (uint32_t)n);
    le32(b + 10, 54);
    le32(b + 14, 40);
    le32(b + 18, (uint32_t)w);
    le32(b + 22, (uint32_t)h);
    le16(b + 26, 1);
    le16(b + 28, 24);
    le32(b + 34, (uint32_t)(row * h));
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            unsigned char *px = b + 54 + (size_t)y * row + x * 3;
            int sq = x > 20 && x < 40 && y > 12 && y < 32;
            px[0] = (unsigned char)(sq ? 250 : x * 4);
            px[1] = (unsigned char)(sq ? 240 : y * 5);
            px[2] = (unsigned char)(sq ? 30 : 255 - x * 3);
        }
    *len = n;
    return b;
}

/* 1 s of 16 kHz mono 16-bit PCM WAV: a chirp from 200 Hz to 2 kHz. */
static unsigned char *make_wav(size_t *len)
{
    const int rate = 16000, n = rate;
    size_t bytes = 44 + (size_t)n * 2;
    unsigned char *b = odx_calloc(1, bytes);
    if (!b) return NULL;
    memcpy(b, "RIFF", 4);
    le32(b + 4, (uint32_t)(bytes - 8));
    memcpy(b + 8, "WAVEfmt ", 8);
    le32(b + 16, 16);
    le16(b + 20, 1);
    le16(b + 22, 1);
    le32(b + 24, (uint32_t)rate);
    le32(b + 28, (uint32_t)rate * 2);
    le16(b + 32, 2);
    le16(b + 34, 16);
    memcpy(b + 36, "data", 4);
    le32(b + 40, (uint32_t)n * 2);
    double phase = 0;
    for (int i = 0; i < n; i++) {
        double f = 200.0 + 1800.0 * i / n;
        phase += 2 * M_PI * f / rate;
        le16(b + 44 + 2 * i, (unsigned)(int16_t)lrint(12000.0 * sin(phase)) & 0xffffu);
    }
    *len = bytes;
    return b;
}

/* An animated GIF of 4 frames, 32 x 32, 128 grey-to-colour palette entries.
 * The image data is LZW with 8-bit codes throughout: a clear code every 100
 * literals keeps the code width at its initial 8 bits, so each code is one
 * byte (a valid stream any decoder reads, just not a compressed one). */
static unsigned char *make_gif(size_t *len)
{
    const int w = 32, h = 32, frames = 4, ncol = 128;
    size_t cap = 13 + 3 * ncol + 19 + (size_t)frames * (8 + 10 + 1 + (size_t)w * h * 2 + 64) + 1;
    unsigned char *b = odx_calloc(1, cap), *p = b;
    if (!b) return NULL;
    memcpy(p, "GIF89a", 6); p += 6;
    le16(p, (unsigned)w); le16(p + 2, (unsigned)h); p += 4;
    *p++ = 0x80 | 0x70 | 6; /* global table of 2^(6+1) = 128 colours */
    *p++ = 0; *p++ = 0;
    for (int i = 0; i < ncol; i++) { *p++ = (unsigned char)(i * 2); *p++ = (unsigned char)(255 - i * 2); *p++ = (unsigned char)(i * 37); }
    /* NETSCAPE2.0 loop extension */
    const unsigned char loop[19] = {0x21, 0xff, 0x0b, 'N', 'E', 'T', 'S', 'C', 'A', 'P', 'E', '2', '.', '0', 3, 1, 0, 0, 0};
    memcpy(p, loop, sizeof loop); p += sizeof loop;
    for (int f = 0; f < frames; f++) {
        const unsigned char gce[8] = {0x21, 0xf9, 4, 0, 10, 0, 0, 0}; /* 0.1 s per frame */
        memcpy(p, gce, sizeof gce); p += sizeof gce;
        *p++ = 0x2c;
        le16(p, 0); le16(p + 2, 0); le16(p + 4, (unsigned)w); le16(p + 6, (unsigned)h); p += 8;
        *p++ = 0;
        *p++ = 7; /* LZW minimum code size: codes start 8 bits wide */
        unsigned char sub[255];
        int sn = 0, lit = 0;
#define EMIT(c) do { sub[sn++] = (unsigned char)(c); if (sn == 255) { *p++ = 255; memcpy(p, sub, 255); p += 255; sn = 0; } } while (0)
        EMIT(128); /* clear */
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                if (lit == 100) { EMIT(128); lit = 0; }
                EMIT(((x + y + f * 8) * 2) % ncol);
                lit++;
            }
        EMIT(129); /* end of information */
#undef EMIT
        if (sn) { *p++ = (unsigned char)sn; memcpy(p, sub, (size_t)sn); p += sn; }
        *p++ = 0; /* block terminator */
    }
    *p++ = 0x3b;
    *len = (size_t)(p - b);
    return b;
}

/* A unit cube as OFF: 8 vertices, 12 triangles. */
static unsigned char *make_off(size_t *len)
{
    static const char cube[] =
        "OFF\n8 12 0\n"
        "-1 -1 -1\n1 -1 -1\n1 1 -1\n-1 1 -1\n-1 -1 1\n1 -1 1\n1 1 1\n-1 1 1\n"
        "3 0 1 2\n3 0 2 3\n3 4 6 5\n3 4 7 6\n3 0 4 5\n3 0 5 1\n"
        "3 1 5 6\n3 1 6 2\n3 2 6 7\n3 2 7 3\n3 3 7 4\n3 3 4 0\n";
    unsigned char *b = odx_malloc(sizeof cube);
    if (!b) return NULL;
    memcpy(b, cube, sizeof cube - 1);
    *len = sizeof cube - 1;
    return b;
}

const char *odx_space_verify_sample_name(odx_modality m)
{
    switch (m) {
    case ODX_MODALITY_TEXT: return "a text";
    case ODX_MODALITY_IMAGE: return "a 64x48 BMP";
    case ODX_MODALITY_AUDIO: return "1 s of 16 kHz WAV";
    case ODX_MODALITY_VIDEO: return "a 4-frame animated GIF";
    case ODX_MODALITY_MESH: return "an OFF cube";
    default: return "nothing";
    }
}

int odx_space_sample(odx_modality m, unsigned char **data, size_t *len)
{
    static const char text[] = "a photo of a cat";
    unsigned char *b;
    switch (m) {
    case ODX_MODALITY_TEXT:
        if ((b = odx_malloc(sizeof text))) memcpy(b, text, sizeof text);
        *len = sizeof text - 1;
        break;
    case ODX_MODALITY_IMAGE: b = make_bmp(len); break;
    case ODX_MODALITY_AUDIO: b = make_wav(len); break;
    case ODX_MODALITY_VIDEO: b = make_gif(len); break;
    case ODX_MODALITY_MESH: b = make_off(len); break;
    default: return odx_error(ODX_EINVAL, "no sample for modality %d", (int)m);
    }
    if (!b) return odx_error(ODX_ENOMEM, "out of memory");
    *data = b;
    return 0;
}

int odx_space_check_vector(const char *space, odx_modality m, const float *v, int dim)
{
    double norm = 0;
    for (int i = 0; i < dim; i++) {
        if (!isfinite(v[i]))
            return odx_error(ODX_ECORRUPT, "space %s: the %s embedding of %s has a non-finite value at %d", space,
                             odx_modality_name(m), odx_space_verify_sample_name(m), i);
        norm += (double)v[i] * v[i];
    }
    if (fabs(sqrt(norm) - 1.0) > 1e-3)
        return odx_error(ODX_ECORRUPT, "space %s: the %s embedding of %s has norm %g, not 1", space,
                         odx_modality_name(m), odx_space_verify_sample_name(m), sqrt(norm));
    return 0;
}

int odx_space_verify(odx_space *s, odx_modality m, float *out)
{
    if (!odx_space_supports(s, m))
        return odx_error(ODX_EPRECOND, "space %s has no %s encoder", odx_space_name(s), odx_modality_name(m));
    unsigned char *sample;
    size_t len;
    int rc = odx_space_sample(m, &sample, &len);
    if (rc) return rc;
    const void *d = sample;
    rc = odx_space_embed(s, m, &d, &len, 1, out);
    odx_free(sample);
    return rc ? rc : odx_space_check_vector(odx_space_name(s), m, out, odx_space_dim(s));
}
