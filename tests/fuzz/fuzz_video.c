/* Fuzz target: the video path (encoders/media/video.c: the MP4/MOV,
 * Matroska/WebM and GIF demuxers of libavformat over a memory AVIO, the
 * decoders they select, frame sampling with seeks, swscale to RGB, display
 * rotation, and the soundtrack through swresample). Options keep one input
 * cheap: 4 frames, frames of at most 1 Mpixel (a declared 16k x 16k stream
 * is ODX_ELIMIT), 600 s, audio at 16 kHz. An accepted input has 1..4 frames
 * in time order, each within the pixel cap with every byte readable, and a
 * soundtrack (when the file has one) within the length limit. */
#include <math.h>
#include <string.h>

#include "encoders/media/video.h"
#include "omnidex.h"
#include "tests/fuzz/fuzz.h"

#define FRAMES 4
#define MAX_PIXELS (1u << 20)
#define MAX_SECONDS 600.0
#define AUDIO_RATE 16000

/* Reads land here so that the compiler keeps them (ASan checks each). */
static volatile unsigned sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)odx_video_format_name(data, size);
    odx_video_opts o = {FRAMES, AUDIO_RATE, MAX_SECONDS, MAX_PIXELS};
    odx_video v;
    int rc = odx_video_decode(data, size, &o, &v);
    if (rc) {
        FUZZ_ASSERT(rc == ODX_EMEDIA || rc == ODX_ELIMIT || rc == ODX_ENOMEM, "decode returned %d (%s)", rc,
                    odx_strerror(rc));
        FUZZ_ASSERT(odx_last_error()[0] != '\0', "refusal without a message");
        FUZZ_ASSERT(v.frames == NULL && v.n_frames == 0 && v.audio == NULL, "refusal left data behind");
        return 0;
    }
    FUZZ_ASSERT(v.n_frames >= 1 && v.n_frames <= FRAMES, "%d frames", v.n_frames);
    FUZZ_ASSERT(isfinite(v.duration) && v.duration >= 0 && v.duration <= MAX_SECONDS + 1, "duration %g",
                v.duration);
    FUZZ_ASSERT(v.format[0] && memchr(v.format, 0, sizeof v.format), "format");
    unsigned sum = 0;
    for (int i = 0; i < v.n_frames; i++) {
        const odx_image *f = &v.frames[i];
        FUZZ_ASSERT(f->w > 0 && f->h > 0 && (uint64_t)f->w * (uint64_t)f->h <= MAX_PIXELS, "frame %d is %dx%d", i,
                    f->w, f->h);
        FUZZ_ASSERT(f->rgb != NULL, "frame %d has no pixels", i);
        size_t n = (size_t)f->w * (size_t)f->h * 3;
        for (size_t k = 0; k < n; k += 37) sum += f->rgb[k];
        sum += f->rgb[n - 1];
        FUZZ_ASSERT(isfinite(v.frame_times[i]), "frame %d time %g", i, v.frame_times[i]);
        if (i) FUZZ_ASSERT(v.frame_times[i] > v.frame_times[i - 1], "frame %d at %g after %g", i, v.frame_times[i],
                           v.frame_times[i - 1]);
    }
    sink = sum;
    if (v.audio_n > 0) {
        FUZZ_ASSERT(v.has_audio && v.audio && v.audio_rate == AUDIO_RATE, "audio without a track or at %d Hz",
                    v.audio_rate);
        /* The decoder's own bound: the limit plus one second of slack. */
        FUZZ_ASSERT(v.audio_n <= (int64_t)((MAX_SECONDS + 1) * AUDIO_RATE) + 1, "%lld audio samples",
                    (long long)v.audio_n);
        unsigned bits = 0;
        for (int64_t k = 0; k < v.audio_n; k++) {
            uint32_t u;
            memcpy(&u, &v.audio[k], 4);
            bits ^= u;
        }
        sink = bits;
    } else {
        FUZZ_ASSERT(v.audio_n == 0, "audio_n %lld", (long long)v.audio_n);
    }
    odx_video_free(&v);
    return 0;
}
