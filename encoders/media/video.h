/* Video decoding from memory (MP4/MOV, WebM/MKV, animated GIF) by
 * libavformat/libavcodec: N frames sampled over the duration, converted to
 * 8-bit RGB by libswscale, and optionally the audio track as mono float PCM.
 * The image tower then embeds each frame (docs/modalities.md, "Video").
 *
 * Frame sampling (the contract): sample times t_i = (i + 0.5) * D / N,
 * i = 0..N-1, on the video stream's own clock from its first timestamp
 * (exactly: start + ceil((2i + 1) * D / 2N) in stream ticks); the frame kept
 * for t_i is the first frame in presentation order whose timestamp is
 * >= t_i (the last frame when the stream ends first, provided it is still on
 * screen at t_i; otherwise the file is truncated: ODX_EMEDIA). A frame
 * chosen for several t_i is returned once, so n_frames <= N (a one-frame GIF
 * gives one frame). D is the video stream's declared duration; where the
 * stream declares none (Matroska/WebM tracks), a demux-only pass over the
 * packets measures it first (these containers always carry timestamps;
 * none at all is ODX_EMEDIA).
 *
 * Display rotation (the MP4 display matrix, 90/180/270 degrees) is applied
 * to the frames, as the ffmpeg command line does by default.
 *
 * Only the MP4/MOV, Matroska/WebM and GIF demuxers are used (sniffed from
 * magic bytes; nothing else is probed), and no demuxer may open another
 * file or URL. Decoders run single-threaded: callers parallelise across
 * files. libav's log output is silenced; failures come back as ODX_E* codes
 * with odx_last_error() messages. */
#ifndef ODX_ENC_VIDEO_H
#define ODX_ENC_VIDEO_H
#include <stddef.h>
#include <stdint.h>
#include "encoders/media/image.h"

#define ODX_VIDEO_DEFAULT_FRAMES 8
#define ODX_VIDEO_MAX_FRAMES 1024
#define ODX_VIDEO_DEFAULT_MAX_SECONDS 7200.0

typedef struct odx_video_opts {
    int frames;          /* N frames to sample; 0 = ODX_VIDEO_DEFAULT_FRAMES */
    int audio_rate;      /* 0 = no audio wanted, else mono float PCM at this rate (Hz) */
    double max_seconds;  /* declared or decoded length limit; 0 = 7200 */
    uint64_t max_pixels; /* per frame; 0 = ODX_IMAGE_DEFAULT_MAX_PIXELS */
} odx_video_opts;

typedef struct odx_video {
    odx_image *frames;   /* n_frames RGB8 frames in time order; owned */
    int n_frames;
    double duration;     /* seconds (declared, or measured by the demux pass) */
    double *frame_times; /* n_frames, seconds from the stream's first timestamp */
    int width, height;   /* of the decoded stream (before rotation) */
    int has_audio;       /* the file has an audio stream */
    float *audio;        /* audio_n mono samples at audio_rate (only when asked for); owned */
    int64_t audio_n;
    int audio_rate;
    char format[32];     /* "mp4/mov", "webm/mkv" or "gif" */
} odx_video;

/* The container sniffed from magic bytes ("mp4/mov", "webm/mkv", "gif"),
 * or NULL when it is none of them. */
const char *odx_video_format_name(const void *data, size_t len);

/* Decodes data (not retained) into *out; free with odx_video_free. opt may
 * be NULL (defaults). ODX_EMEDIA: unknown format, no video stream, corrupt or
 * truncated data; ODX_ELIMIT: frame size over max_pixels or a length over
 * max_seconds; ODX_EINVAL: bad options; ODX_ENOMEM. On failure *out is
 * left empty. */
int odx_video_decode(const void *data, size_t len, const odx_video_opts *opt, odx_video *out);
void odx_video_free(odx_video *v);

#endif
