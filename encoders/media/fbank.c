/* Kaldi fbank as torchaudio.compliance.kaldi computes it (see fbank.h).
 *
 * Per frame (snip_edges: frame f covers samples [f*shift, f*shift + win)):
 * subtract the frame's mean, pre-emphasise x[i] -= 0.97 x[i-1] with x[-1]
 * taken as x[0] (Kaldi's replicate padding), multiply by the window,
 * zero-pad to the next power of two, real FFT, power spectrum, triangular
 * mel filters on Kaldi's mel scale 1127 ln(1 + f/700) (the Nyquist bin has
 * no weight), log of max(energy, FLT_EPSILON).
 *
 * FFTW's planner is not thread-safe, so plans are made and destroyed under
 * one process-wide mutex; executing a plan on other buffers
 * (fftwf_execute_dft_r2c) is thread-safe, and FFTW_UNALIGNED lets those
 * buffers come from odx_malloc. */
#include "encoders/media/fbank.h"

#include <float.h>
#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"

#define FBANK_MAX_WINDOW 65536 /* samples in one frame */
#define FBANK_MAX_MELS 1024
#define FBANK_MAX_TARGET 100000

static pthread_mutex_t plan_lock = PTHREAD_MUTEX_INITIALIZER;

struct odx_fbank {
    odx_fbank_opts o;
    int win, shift, nfft, nbins; /* nbins = nfft / 2 + 1 */
    float *window;               /* win */
    float *mel;                  /* num_mel_bins x nbins, zero outside [lo, hi) */
    int *lo, *hi;                /* non-zero bin range of each filter */
    fftwf_plan plan;
};

void odx_fbank_opts_default(odx_fbank_opts *o)
{
    o->sample_rate = 16000;
    o->num_mel_bins = 128;
    o->frame_length_ms = 25.0;
    o->frame_shift_ms = 10.0;
    o->window = ODX_FBANK_HANNING;
    o->low_freq = 20.0;
    o->high_freq = 0.0;
    o->target_length = 204;
    o->mean = -4.268;
    o->std = 9.138;
}

int odx_fbank_window_parse(const char *name, odx_fbank_window *out)
{
    static const char *const names[] = {"hanning", "hamming", "povey", "rectangular"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, names[i])) {
            *out = (odx_fbank_window)i;
            return 0;
        }
    return odx_error(ODX_EINVAL, "audio window '%.32s' is not hanning, hamming, povey or rectangular", name);
}

void odx_fbank_close(odx_fbank *fb)
{
    if (!fb) return;
    if (fb->plan) {
        pthread_mutex_lock(&plan_lock);
        fftwf_destroy_plan(fb->plan);
        pthread_mutex_unlock(&plan_lock);
    }
    odx_free(fb->window);
    odx_free(fb->mel);
    odx_free(fb->lo);
    odx_free(fb->hi);
    odx_free(fb);
}

const odx_fbank_opts *odx_fbank_get_opts(const odx_fbank *fb) { return &fb->o; }

static double mel_scale(double f) { return 1127.0 * log(1.0 + f / 700.0); }

int odx_fbank_create(const odx_fbank_opts *o, odx_fbank **out)
{
    *out = NULL;
    if (o->sample_rate < 1000 || o->sample_rate > 768000)
        return odx_error(ODX_EINVAL, "audio sample_rate %d outside 1000..768000", o->sample_rate);
    /* torchaudio's sizes: int(sample_frequency * frame_length * 0.001). */
    double wl = (double)o->sample_rate * o->frame_length_ms * 0.001;
    double ws = (double)o->sample_rate * o->frame_shift_ms * 0.001;
    if (!(wl >= 2 && wl <= FBANK_MAX_WINDOW))
        return odx_error(ODX_EINVAL, "audio frame_length_ms %g gives %g samples (2..%d allowed)",
                         o->frame_length_ms, wl, FBANK_MAX_WINDOW);
    if (!(ws >= 1 && ws <= FBANK_MAX_WINDOW))
        return odx_error(ODX_EINVAL, "audio frame_shift_ms %g gives %g samples (1..%d allowed)",
                         o->frame_shift_ms, ws, FBANK_MAX_WINDOW);
    if (o->num_mel_bins <= 3 || o->num_mel_bins > FBANK_MAX_MELS)
        return odx_error(ODX_EINVAL, "audio num_mel_bins %d outside 4..%d", o->num_mel_bins, FBANK_MAX_MELS);
    if (o->target_length < 1 || o->target_length > FBANK_MAX_TARGET)
        return odx_error(ODX_EINVAL, "audio target_length %d outside 1..%d", o->target_length, FBANK_MAX_TARGET);
    if (!isfinite(o->mean) || !isfinite(o->std) || !(fabs(o->std) > 1e-12))
        return odx_error(ODX_EINVAL, "audio mean/std must be finite and std non-zero");
    if ((unsigned)o->window > ODX_FBANK_RECTANGULAR) return odx_error(ODX_EINVAL, "bad audio window");
    double nyquist = 0.5 * o->sample_rate;
    double lowf = o->low_freq, highf = o->high_freq;
    if (highf <= 0.0) highf += nyquist;
    if (!(lowf >= 0.0 && lowf < nyquist && highf > 0.0 && highf <= nyquist && lowf < highf))
        return odx_error(ODX_EINVAL, "audio low_freq %g / high_freq %g do not fit 0..%g Hz", o->low_freq,
                         o->high_freq, nyquist);

    odx_fbank *fb = odx_calloc(1, sizeof *fb);
    if (!fb) return odx_error(ODX_ENOMEM, "out of memory");
    fb->o = *o;
    fb->win = (int)wl;
    fb->shift = (int)ws;
    fb->nfft = 1;
    while (fb->nfft < fb->win) fb->nfft *= 2;
    fb->nbins = fb->nfft / 2 + 1;
    int m = o->num_mel_bins, w = fb->win;
    fb->window = odx_malloc((size_t)w * sizeof(float));
    fb->mel = odx_calloc((size_t)m * fb->nbins, sizeof(float));
    fb->lo = odx_malloc((size_t)m * sizeof(int));
    fb->hi = odx_malloc((size_t)m * sizeof(int));
    if (!fb->window || !fb->mel || !fb->lo || !fb->hi) {
        odx_fbank_close(fb);
        return odx_error(ODX_ENOMEM, "out of memory");
    }
    /* torch.hann_window / hamming_window with periodic=False. */
    double a = 2.0 * M_PI / (w - 1);
    for (int i = 0; i < w; i++) {
        double v;
        switch (o->window) {
        case ODX_FBANK_HAMMING: v = 0.54 - 0.46 * cos(a * i); break;
        case ODX_FBANK_POVEY: v = pow(0.5 - 0.5 * cos(a * i), 0.85); break;
        case ODX_FBANK_RECTANGULAR: v = 1.0; break;
        default: v = 0.5 - 0.5 * cos(a * i); break;
        }
        fb->window[i] = (float)v;
    }
    /* Kaldi's triangular filters, equally spaced on the mel scale between
     * low_freq and high_freq, evaluated at each FFT bin's mel value. */
    double mlo = mel_scale(lowf), mhi = mel_scale(highf), delta = (mhi - mlo) / (m + 1);
    double binw = (double)o->sample_rate / fb->nfft;
    for (int k = 0; k < m; k++) {
        double left = mlo + k * delta, centre = mlo + (k + 1) * delta, right = mlo + (k + 2) * delta;
        int lo = fb->nbins, hi = 0;
        for (int i = 0; i < fb->nbins - 1; i++) { /* the Nyquist bin stays 0 */
            double mel = mel_scale(binw * i);
            double up = (mel - left) / (centre - left), down = (right - mel) / (right - centre);
            double v = up < down ? up : down;
            if (v > 0) {
                fb->mel[(size_t)k * fb->nbins + i] = (float)v;
                if (i < lo) lo = i;
                hi = i + 1;
            }
        }
        fb->lo[k] = lo < hi ? lo : 0;
        fb->hi[k] = hi;
    }
    float *in = odx_malloc((size_t)fb->nfft * sizeof(float));
    float *spec = odx_malloc((size_t)fb->nbins * 2 * sizeof(float));
    if (!in || !spec) {
        odx_free(in);
        odx_free(spec);
        odx_fbank_close(fb);
        return odx_error(ODX_ENOMEM, "out of memory");
    }
    pthread_mutex_lock(&plan_lock);
    fb->plan = fftwf_plan_dft_r2c_1d(fb->nfft, in, (fftwf_complex *)spec, FFTW_ESTIMATE | FFTW_UNALIGNED);
    pthread_mutex_unlock(&plan_lock);
    odx_free(in);
    odx_free(spec);
    if (!fb->plan) {
        odx_fbank_close(fb);
        return odx_error(ODX_ENOMEM, "FFTW could not plan a %d-point FFT", fb->nfft);
    }
    *out = fb;
    return 0;
}

int64_t odx_fbank_num_frames(const odx_fbank *fb, int64_t n)
{
    if (n < fb->win) return 0;
    return 1 + (n - fb->win) / fb->shift;
}

int odx_fbank_compute(const odx_fbank *fb, const float *wave, int64_t n, float *out)
{
    const odx_fbank_opts *o = &fb->o;
    int m = o->num_mel_bins, t = o->target_length, w = fb->win;
    int64_t frames = odx_fbank_num_frames(fb, n);
    if (frames > t) frames = t; /* frames past target_length are cut anyway */
    float mean = (float)o->mean, std = (float)o->std, pad = (0.0f - mean) / std;
    if (frames == 0) {
        for (size_t i = 0; i < (size_t)m * t; i++) out[i] = pad;
        return 0;
    }
    float *x = odx_malloc(((size_t)fb->nfft + (size_t)fb->nbins * 2) * sizeof(float));
    if (!x) return odx_error(ODX_ENOMEM, "out of memory for fbank scratch");
    float *spec = x + fb->nfft;
    /* ImageBind subtracts the waveform's mean before fbank; only the
     * samples of the frames kept are read, but the mean is over all. */
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += wave[i];
    float wmean = (float)(sum / (double)n);
    for (int64_t f = 0; f < frames; f++) {
        const float *src = wave + f * fb->shift;
        double fs = 0;
        for (int i = 0; i < w; i++) {
            x[i] = src[i] - wmean;
            fs += x[i];
        }
        float fm = (float)(fs / w);
        for (int i = 0; i < w; i++) x[i] -= fm;
        for (int i = w - 1; i > 0; i--) x[i] -= 0.97f * x[i - 1];
        x[0] -= 0.97f * x[0];
        for (int i = 0; i < w; i++) x[i] *= fb->window[i];
        memset(x + w, 0, (size_t)(fb->nfft - w) * sizeof(float));
        fftwf_execute_dft_r2c(fb->plan, x, (fftwf_complex *)spec);
        for (int i = 0; i < fb->nbins; i++) {
            float re = spec[2 * i], im = spec[2 * i + 1];
            spec[i] = re * re + im * im; /* in place: index i <= 2i */
        }
        for (int k = 0; k < m; k++) {
            const float *wk = fb->mel + (size_t)k * fb->nbins;
            float e = 0;
            for (int i = fb->lo[k]; i < fb->hi[k]; i++) e += spec[i] * wk[i];
            if (!(e > FLT_EPSILON)) e = FLT_EPSILON;
            /* A float file may store samples of any size: past about 1e15
             * the power spectrum overflows to Inf (torchaudio gives Inf
             * too), and an Inf feature makes the tower's output NaN. The
             * largest float keeps the features finite (found by fuzz_audio
             * with a float WAV at 1e30). */
            else if (!(e <= FLT_MAX)) e = FLT_MAX;
            out[(size_t)k * t + f] = (logf(e) - mean) / std;
        }
    }
    for (int k = 0; k < m; k++)
        for (int64_t f = frames; f < t; f++) out[(size_t)k * t + f] = pad;
    odx_free(x);
    return 0;
}
