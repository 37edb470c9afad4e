/* Kaldi log-mel filter banks with the semantics of
 * torchaudio.compliance.kaldi.fbank as ImageBind calls it (htk_compat,
 * no energy, no dither, DC removal, pre-emphasis 0.97, FFT size rounded up
 * to a power of two, power spectrum, snip_edges), followed by ImageBind's
 * framing of the result: waveform mean removed first, output transposed to
 * [mel, frame], zero-padded or cut to target_length frames, normalised
 * (x - mean) / std. See docs/modalities.md "Front end".
 *
 * An odx_fbank holds the window, the mel filters and an FFTW plan; it is
 * immutable after creation, so one may be shared by threads. */
#ifndef ODX_ENC_FBANK_H
#define ODX_ENC_FBANK_H
#include <stdint.h>

typedef enum odx_fbank_window {
    ODX_FBANK_HANNING = 0, ODX_FBANK_HAMMING, ODX_FBANK_POVEY, ODX_FBANK_RECTANGULAR
} odx_fbank_window;

typedef struct odx_fbank_opts {
    int sample_rate;         /* Hz */
    int num_mel_bins;
    double frame_length_ms, frame_shift_ms;
    odx_fbank_window window;
    double low_freq, high_freq; /* Hz; high_freq <= 0 is an offset from Nyquist (Kaldi) */
    int target_length;       /* frames after padding / cutting */
    double mean, std;        /* normalisation */
} odx_fbank_opts;

/* ImageBind's values: 16 kHz, 128 mels, 25/10 ms, hanning, 20 Hz..Nyquist,
 * 204 frames, mean -4.268, std 9.138. */
void odx_fbank_opts_default(odx_fbank_opts *o);
/* "hanning", "hamming", "povey", "rectangular" -> 0, else ODX_EINVAL. */
int odx_fbank_window_parse(const char *name, odx_fbank_window *out);

typedef struct odx_fbank odx_fbank;

/* Validates o (ODX_EINVAL naming the option) and precomputes. */
int odx_fbank_create(const odx_fbank_opts *o, odx_fbank **out);
void odx_fbank_close(odx_fbank *fb);
const odx_fbank_opts *odx_fbank_get_opts(const odx_fbank *fb);

/* Kaldi's frame count for n samples (snip_edges): 0 when n is shorter than
 * one window. */
int64_t odx_fbank_num_frames(const odx_fbank *fb, int64_t n);

/* wave: n samples at opts.sample_rate. out: num_mel_bins x target_length
 * floats, row m = mel bin m over time. Scratch is allocated per call
 * (thread-safe). Returns 0 or ODX_ENOMEM. */
int odx_fbank_compute(const odx_fbank *fb, const float *wave, int64_t n, float *out);

#endif
