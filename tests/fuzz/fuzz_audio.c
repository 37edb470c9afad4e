/* Fuzz target: the audio path (encoders/media/audio.c: libsndfile over
 * memory for WAV/FLAC/Ogg/MP3/AIFF, the container length checks, libsoxr
 * resampling to 16 kHz) and the Kaldi fbank (encoders/media/fbank.c, FFTW)
 * on what was decoded. Decoding is capped at 30 s of source audio so that a
 * header declaring hours is refused (ODX_ELIMIT) rather than read. An
 * accepted input gives n >= 0 samples at 16 kHz, all readable, at most the
 * cap plus resampler rounding; the fbank over its first 3 s gives
 * num_mel_bins x target_length finite values whatever the samples hold (a
 * float WAV may store NaN, Inf or 1e30). */
#include <math.h>
#include <string.h>

#include "encoders/media/audio.h"
#include "encoders/media/fbank.h"
#include "omnidex.h"
#include "tests/fuzz/fuzz.h"

#define RATE 16000
#define MAX_SECONDS 30.0
#define FBANK_SECONDS 3

static odx_fbank *fb;
static volatile unsigned sink;
static float fb_out[128 * 204];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    odx_fbank_opts o;
    odx_fbank_opts_default(&o);
    int rc = odx_fbank_create(&o, &fb);
    FUZZ_ASSERT(rc == 0, "fbank_create: %s", odx_last_error());
    FUZZ_ASSERT(o.num_mel_bins * o.target_length <= (int)(sizeof fb_out / sizeof fb_out[0]), "fbank size");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *name = odx_audio_format_name(data, size);
    FUZZ_ASSERT(name && name[0], "format name");
    odx_pcm pcm;
    int rc = odx_audio_decode(data, size, RATE, MAX_SECONDS, &pcm);
    if (rc) {
        FUZZ_ASSERT(rc == ODX_EMEDIA || rc == ODX_ELIMIT || rc == ODX_ENOMEM, "decode returned %d (%s)", rc,
                    odx_strerror(rc));
        FUZZ_ASSERT(odx_last_error()[0] != '\0', "refusal without a message");
        FUZZ_ASSERT(pcm.samples == NULL && pcm.n == 0, "refusal left samples behind");
        return 0;
    }
    FUZZ_ASSERT(pcm.rate == RATE, "rate %d", pcm.rate);
    /* 30 s of source audio resampled, plus one sample of rounding. */
    FUZZ_ASSERT(pcm.n >= 0 && pcm.n <= (int64_t)(MAX_SECONDS * RATE) + 1, "%lld samples", (long long)pcm.n);
    FUZZ_ASSERT((pcm.n == 0) == (pcm.samples == NULL), "n %lld with samples %p", (long long)pcm.n,
                (void *)pcm.samples);
    unsigned bits = 0; /* every sample is read (ASan checks the buffer) */
    for (int64_t i = 0; i < pcm.n; i++) {
        uint32_t u;
        memcpy(&u, &pcm.samples[i], 4);
        bits ^= u;
    }
    sink = bits;
    const odx_fbank_opts *o = odx_fbank_get_opts(fb);
    int64_t n = pcm.n < (int64_t)FBANK_SECONDS * RATE ? pcm.n : (int64_t)FBANK_SECONDS * RATE;
    rc = odx_fbank_compute(fb, pcm.samples ? pcm.samples : (const float *)"", n, fb_out);
    FUZZ_ASSERT(rc == 0 || rc == ODX_ENOMEM, "fbank returned %d (%s)", rc, odx_strerror(rc));
    if (rc == 0) {
        size_t m = (size_t)o->num_mel_bins * (size_t)o->target_length;
        for (size_t i = 0; i < m; i++)
            FUZZ_ASSERT(isfinite(fb_out[i]), "fbank value %zu is %g over %lld finite samples", i, fb_out[i],
                        (long long)n);
    }
    odx_pcm_free(&pcm);
    return 0;
}
