/* Audio decoding from memory (WAV, FLAC, Ogg/Vorbis, Ogg/Opus, MP3, and
 * whatever else Debian's libsndfile reads) to mono float32, and resampling
 * with libsoxr. See docs/modalities.md "Audio".
 *
 * - Samples are libsndfile's floats: integer PCM scaled to [-1, 1) (16-bit
 *   divided by 32768), float files as stored.
 * - Downmix: the arithmetic mean of the channels.
 * - Limits: max_seconds (of source audio) is checked on the length the
 *   container declares before any sample buffer exists, and again while
 *   reading (ODX_ELIMIT). Empty, truncated or undecodable data is
 *   ODX_EMEDIA, and the message names the format sniffed from the magic
 *   bytes ("audio: truncated FLAC ...").
 * - A valid file with zero frames is not an error: n == 0. */
#ifndef ODX_ENC_AUDIO_H
#define ODX_ENC_AUDIO_H
#include <stddef.h>
#include <stdint.h>

#define ODX_AUDIO_DEFAULT_MAX_SECONDS 600.0
#define ODX_AUDIO_MAX_RATE 768000
#define ODX_AUDIO_MAX_CHANNELS 64

typedef struct odx_pcm {
    float *samples; /* n mono samples, owned (odx_free via odx_pcm_free); NULL when n == 0 */
    int64_t n;
    int rate;       /* samples per second */
} odx_pcm;

/* "WAV", "FLAC", "Ogg/Vorbis", "Ogg/Opus", "Ogg/FLAC", "Ogg", "MP3",
 * "AIFF", "AU", "CAF", "RF64", "W64", "RIFF" (not WAVE) or "unknown": the
 * container named by the magic bytes. The string is static. Only the named
 * containers are decoded ("RIFF" and "unknown" are ODX_EMEDIA). */
const char *odx_audio_format_name(const void *data, size_t len);

/* Decodes data into *out (mono; resampled to target_rate when target_rate
 * > 0 and differs from the file's rate). max_seconds <= 0 means
 * ODX_AUDIO_DEFAULT_MAX_SECONDS. On failure *out is left empty. */
int odx_audio_decode(const void *data, size_t len, int target_rate, double max_seconds,
                     odx_pcm *out);

/* Resamples n mono samples from from_rate to to_rate with libsoxr (SOXR_HQ)
 * into *out; a plain copy when the rates are equal. The output has
 * round(n * to_rate / from_rate) samples. */
int odx_audio_resample(const float *in, int64_t n, int from_rate, int to_rate, odx_pcm *out);

void odx_pcm_free(odx_pcm *p);

#endif
