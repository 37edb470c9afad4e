/* Audio decoding, resampling and the Kaldi fbank front end.
 *
 * WAV files are built byte by byte here, so the expected samples follow
 * from the format (integer / 2^(bits-1), float as stored, the channel mean)
 * and not from the code under test. The fbank is checked against a direct
 * double-precision DFT and mel filters computed in this file from Kaldi's
 * definitions. The resampler is checked on a sine: same frequency (zero
 * crossings and a DFT scan), same amplitude, expected length. */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>

#include "common/alloc.h"
#include "common/error.h"
#include "encoders/media/audio.h"
#include "encoders/media/fbank.h"
#include "encoders/models/audio_tower.h"
#include "omnidex.h"
#include "testlib.h"

/* ---- WAV builder -------------------------------------------------------- */

typedef struct buf { unsigned char *p; size_t n, cap; } buf;

static void put(buf *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}
static void put_u32(buf *b, uint32_t v)
{
    unsigned char x[4] = {v, v >> 8, v >> 16, v >> 24};
    put(b, x, 4);
}
static void put_u16(buf *b, unsigned v)
{
    unsigned char x[2] = {v, v >> 8};
    put(b, x, 2);
}

/* samples: frames x channels interleaved, as integers for PCM (already in
 * range) or floats for bits == -32. data_size overrides the data chunk's
 * size field when nonzero. */
static buf make_wav(int bits, int ch, int rate, int frames, const int32_t *pcm, const float *flt,
                    uint32_t data_size)
{
    buf b = {0};
    int bytes = bits < 0 ? 4 : bits / 8;
    uint32_t data = (uint32_t)frames * ch * bytes;
    put(&b, "RIFF", 4);
    put_u32(&b, 36 + data);
    put(&b, "WAVEfmt ", 8);
    put_u32(&b, 16);
    put_u16(&b, bits < 0 ? 3 : 1);
    put_u16(&b, ch);
    put_u32(&b, rate);
    put_u32(&b, rate * ch * bytes);
    put_u16(&b, ch * bytes);
    put_u16(&b, bits < 0 ? 32 : bits);
    put(&b, "data", 4);
    put_u32(&b, data_size ? data_size : data);
    for (int i = 0; i < frames * ch; i++) {
        if (bits < 0) {
            put(&b, &flt[i], 4);
        } else {
            uint32_t v = (uint32_t)pcm[i];
            unsigned char x[4] = {v, v >> 8, v >> 16, v >> 24};
            put(&b, x, bytes);
        }
    }
    return b;
}

/* ---- decoding ----------------------------------------------------------- */

static void test_wav_pcm16_24_float(void)
{
    enum { N = 1000 };
    int32_t v16[N], v24[N];
    float vf[N];
    for (int i = 0; i < N; i++) {
        v16[i] = (int32_t)((i * 7919) % 65536) - 32768;
        v24[i] = (int32_t)((i * 104729) % 16777216) - 8388608;
        vf[i] = (float)sin(i * 0.01) * 1.5f; /* float WAV may exceed 1 */
    }
    odx_pcm p;
    buf b = make_wav(16, 1, 16000, N, v16, NULL, 0);
    REQUIRE_OK(odx_audio_decode(b.p, b.n, 0, 0, &p));
    CHECK(p.n == N && p.rate == 16000, "16-bit: n %lld rate %d", (long long)p.n, p.rate);
    int bad = 0;
    for (int i = 0; i < N && p.n == N; i++) bad += p.samples[i] != (float)(v16[i] / 32768.0);
    CHECK(bad == 0, "16-bit samples == v / 32768 (%d differ)", bad);
    CHECK(!strcmp(odx_audio_format_name(b.p, b.n), "WAV"), "format %s", odx_audio_format_name(b.p, b.n));
    odx_pcm_free(&p);
    free(b.p);

    b = make_wav(24, 1, 8000, N, v24, NULL, 0);
    REQUIRE_OK(odx_audio_decode(b.p, b.n, 0, 0, &p));
    bad = 0;
    for (int i = 0; i < N && p.n == N; i++) bad += p.samples[i] != (float)(v24[i] / 8388608.0);
    CHECK(p.n == N && bad == 0, "24-bit samples == v / 2^23 (%d differ, n %lld)", bad, (long long)p.n);
    odx_pcm_free(&p);
    free(b.p);

    b = make_wav(-32, 1, 22050, N, NULL, vf, 0);
    REQUIRE_OK(odx_audio_decode(b.p, b.n, 0, 0, &p));
    bad = 0;
    for (int i = 0; i < N && p.n == N; i++) bad += p.samples[i] != vf[i];
    CHECK(p.n == N && p.rate == 22050 && bad == 0, "float samples as stored (%d differ)", bad);
    odx_pcm_free(&p);
    free(b.p);
}

static void test_stereo_downmix(void)
{
    enum { N = 500, C = 3 };
    int32_t v[N * C];
    for (int i = 0; i < N * C; i++) v[i] = (int32_t)((i * 2654435761u) % 65536) - 32768;
    for (int ch = 2; ch <= 3; ch++) {
        buf b = make_wav(16, ch, 16000, N, v, NULL, 0);
        odx_pcm p;
        REQUIRE_OK(odx_audio_decode(b.p, b.n, 0, 0, &p));
        double worst = 0;
        for (int i = 0; i < N && p.n == N; i++) {
            double m = 0;
            for (int c = 0; c < ch; c++) m += v[i * ch + c] / 32768.0;
            m /= ch;
            worst = fmax(worst, fabs(p.samples[i] - m));
        }
        /* stereo: (a + b) / 2 of k/32768 values is exact in float; three
         * channels round once. */
        CHECK(p.n == N && (ch == 2 ? worst == 0 : worst < 1e-7), "%d channels: mean off by %g", ch, worst);
        odx_pcm_free(&p);
        free(b.p);
    }
}

static void test_bad_input(void)
{
    odx_pcm p;
    CHECK(odx_audio_decode("", 0, 0, 0, &p) == ODX_EMEDIA, "zero bytes");
    unsigned char junk[4000];
    uint32_t s = 12345;
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)((s = s * 1103515245u + 12345u) >> 24);
    CHECK(odx_audio_decode(junk, sizeof junk, 0, 0, &p) == ODX_EMEDIA, "garbage");
    CHECK(!strcmp(odx_audio_format_name(junk, sizeof junk), "unknown"), "garbage format name");

    int32_t v[2000] = {0};
    for (int i = 0; i < 2000; i++) v[i] = (i % 200) * 100 - 10000;
    buf b = make_wav(16, 1, 16000, 2000, v, NULL, 0);
    /* cut inside the samples, inside the header, inside the magic */
    size_t cuts[] = {b.n / 2, b.n - 1, 40, 30, 11, 3};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        int rc = odx_audio_decode(b.p, cuts[i], 0, 0, &p);
        CHECK(rc == ODX_EMEDIA, "WAV cut at %zu bytes -> %d (%s)", cuts[i], rc, odx_last_error());
        if (cuts[i] >= 12) CHECK(strstr(odx_last_error(), "WAV") != NULL, "message names WAV: %s", odx_last_error());
    }
    /* other magics, cut short */
    static const struct { unsigned char b[10]; const char *name; } mag[] = {
        {"fLaC\0\0\0\x22", "FLAC"}, {"OggS\0\x02\0\0\0", "Ogg"}, {"ID3\x04\0\0\0\0\0", "MP3"}};
    for (int i = 0; i < 3; i++) {
        int rc = odx_audio_decode(mag[i].b, sizeof mag[i].b, 0, 0, &p);
        CHECK(rc == ODX_EMEDIA && strstr(odx_last_error(), mag[i].name), "short %s -> %d: %s", mag[i].name, rc,
              odx_last_error());
    }
    free(b.p);
}

static void test_empty_and_silent(void)
{
    odx_pcm p;
    buf b = make_wav(16, 1, 16000, 0, NULL, NULL, 0);
    REQUIRE_OK(odx_audio_decode(b.p, b.n, 16000, 0, &p));
    CHECK(p.n == 0 && p.samples == NULL && p.rate == 16000, "zero frames: n %lld", (long long)p.n);
    free(b.p);
    int32_t z[800] = {0};
    b = make_wav(16, 2, 8000, 400, z, NULL, 0);
    REQUIRE_OK(odx_audio_decode(b.p, b.n, 16000, 0, &p));
    int nz = 0;
    for (int64_t i = 0; i < p.n; i++) nz += p.samples[i] != 0;
    CHECK(p.n == 800 && nz == 0, "silence resampled: n %lld, %d non-zero", (long long)p.n, nz);
    odx_pcm_free(&p);
    free(b.p);
}

static void test_limits(void)
{
    odx_pcm p;
    int32_t v[16] = {0};
    /* The header declares ~74 hours (0xFFFFFFF0 bytes at 8 kHz, 16-bit):
     * refused before any allocation. */
    buf b = make_wav(16, 1, 8000, 16, v, NULL, 0xFFFFFFF0u);
    odx_alloc_fail_at(0); /* resets the allocation counter */
    int rc = odx_audio_decode(b.p, b.n, 0, 0, &p);
    long allocs = odx_alloc_count();
    CHECK(rc == ODX_ELIMIT, "declared hours -> %d (%s)", rc, odx_last_error());
    CHECK(allocs == 0, "%ld allocations before the limit refused it", allocs);
    free(b.p);
    /* A real 1 s file over a 0.5 s limit, with the length declared. */
    int32_t *s = calloc(16000, sizeof *s);
    b = make_wav(16, 1, 16000, 16000, s, NULL, 0);
    CHECK(odx_audio_decode(b.p, b.n, 0, 0.5, &p) == ODX_ELIMIT, "declared 1 s over 0.5 s");
    CHECK(odx_audio_decode(b.p, b.n, 0, 1.0, &p) == 0 && p.n == 16000, "1 s at the 1 s limit");
    odx_pcm_free(&p);
    free(b.p);
    /* Length unknown (streaming size 0xFFFFFFFF): the limit holds while reading. */
    b = make_wav(16, 1, 16000, 16000, s, NULL, 0xFFFFFFFFu);
    rc = odx_audio_decode(b.p, b.n, 0, 0.5, &p);
    CHECK(rc == ODX_ELIMIT, "streaming WAV over the limit -> %d (%s)", rc, odx_last_error());
    rc = odx_audio_decode(b.p, b.n, 0, 0, &p);
    CHECK(rc == 0 && p.n == 16000, "streaming WAV within the limit -> %d, n %lld", rc, (long long)p.n);
    odx_pcm_free(&p);
    free(b.p);
    free(s);
    CHECK(odx_audio_decode(v, sizeof v, -5, 0, &p) == ODX_EINVAL, "negative target rate");
}

/* ---- resampling --------------------------------------------------------- */

/* Power of x at frequency f (Hz) by direct correlation. */
static double tone_power(const float *x, int64_t n, int rate, double f)
{
    double re = 0, im = 0;
    for (int64_t i = 0; i < n; i++) {
        re += x[i] * cos(2 * M_PI * f * i / rate);
        im -= x[i] * sin(2 * M_PI * f * i / rate);
    }
    return (re * re + im * im) / ((double)n * n);
}

static void test_resample_sine(void)
{
    const int from = 44100;
    const double f0 = 440.0, amp = 0.5;
    int64_t n = from; /* 1 s */
    float *x = malloc(n * sizeof *x);
    for (int64_t i = 0; i < n; i++) x[i] = (float)(amp * sin(2 * M_PI * f0 * i / from));
    int rates[] = {16000, 48000, 8000};
    for (int r = 0; r < 3; r++) {
        int to = rates[r];
        odx_pcm p;
        REQUIRE_OK(odx_audio_resample(x, n, from, to, &p));
        CHECK(p.n == to && p.rate == to, "%d -> %d: %lld samples", from, to, (long long)p.n);
        /* middle half: away from the filter's edges */
        int64_t a = p.n / 4, m = p.n / 2;
        int zc = 0;
        double ss = 0;
        for (int64_t i = a; i < a + m; i++) {
            zc += (p.samples[i] < 0) != (p.samples[i + 1] < 0);
            ss += (double)p.samples[i] * p.samples[i];
        }
        double freq = zc / 2.0 / ((double)m / to), rms = sqrt(ss / m);
        CHECK(fabs(freq - f0) < 3, "%d Hz: zero crossings say %.1f Hz", to, freq);
        CHECK(fabs(rms - amp / sqrt(2)) < 0.005, "%d Hz: rms %.4f, expected %.4f", to, rms, amp / sqrt(2));
        double best = 0, bestf = 0;
        for (double f = 400; f <= 480; f += 1) {
            double pw = tone_power(p.samples + a, m, to, f);
            if (pw > best) best = pw, bestf = f;
        }
        CHECK(bestf == f0, "%d Hz: DFT peak at %.0f Hz", to, bestf);
        odx_pcm_free(&p);
    }
    /* equal rates copy; nothing in, nothing out; bad rates */
    odx_pcm p;
    REQUIRE_OK(odx_audio_resample(x, 100, 16000, 16000, &p));
    CHECK(p.n == 100 && !memcmp(p.samples, x, 100 * sizeof *x), "equal rates copy");
    odx_pcm_free(&p);
    CHECK(odx_audio_resample(x, 0, 16000, 8000, &p) == 0 && p.n == 0, "empty");
    CHECK(odx_audio_resample(x, 10, 0, 8000, &p) == ODX_EINVAL, "rate 0");
    free(x);
}

/* ---- fbank vs a direct double-precision Kaldi computation --------------- */

static double mel_of(double f) { return 1127.0 * log(1.0 + f / 700.0); }

/* out: m x t, as fbank.h defines, computed here in double. */
static void ref_fbank(const float *wave, int64_t n, const odx_fbank_opts *o, double *out)
{
    int win = (int)(o->sample_rate * o->frame_length_ms * 0.001);
    int shift = (int)(o->sample_rate * o->frame_shift_ms * 0.001);
    int nfft = 1;
    while (nfft < win) nfft <<= 1;
    int m = o->num_mel_bins, t = o->target_length;
    int64_t frames = n < win ? 0 : 1 + (n - win) / shift;
    double mean = 0;
    for (int64_t i = 0; i < n; i++) mean += wave[i];
    mean = n ? mean / n : 0;
    double ny = o->sample_rate / 2.0, lo = o->low_freq, hi = o->high_freq > 0 ? o->high_freq : ny + o->high_freq;
    double mlo = mel_of(lo), mhi = mel_of(hi), d = (mhi - mlo) / (m + 1);
    double *x = malloc(nfft * sizeof *x), *pw = malloc((nfft / 2 + 1) * sizeof *pw);
    for (int f = 0; f < t; f++) {
        if (f >= frames) {
            for (int k = 0; k < m; k++) out[(size_t)k * t + f] = (0 - o->mean) / o->std;
            continue;
        }
        double fm = 0;
        for (int i = 0; i < win; i++) fm += x[i] = wave[(int64_t)f * shift + i] - mean;
        fm /= win;
        for (int i = 0; i < win; i++) x[i] -= fm;
        for (int i = win - 1; i >= 0; i--) x[i] -= 0.97 * x[i > 0 ? i - 1 : 0];
        for (int i = 0; i < win; i++) {
            double h = 0.5 - 0.5 * cos(2 * M_PI * i / (win - 1));
            x[i] *= o->window == ODX_FBANK_POVEY ? pow(h, 0.85) : h;
        }
        for (int i = win; i < nfft; i++) x[i] = 0;
        for (int k = 0; k <= nfft / 2; k++) {
            double re = 0, im = 0;
            for (int i = 0; i < win; i++) {
                re += x[i] * cos(2 * M_PI * (double)k * i / nfft);
                im -= x[i] * sin(2 * M_PI * (double)k * i / nfft);
            }
            pw[k] = re * re + im * im;
        }
        for (int k = 0; k < m; k++) {
            double l = mlo + k * d, c = mlo + (k + 1) * d, r = mlo + (k + 2) * d, e = 0;
            for (int j = 0; j < nfft / 2; j++) {
                double mj = mel_of((double)o->sample_rate / nfft * j);
                double w = fmin((mj - l) / (c - l), (r - mj) / (r - c));
                if (w > 0) e += w * pw[j];
            }
            out[(size_t)k * t + f] = (log(fmax(e, FLT_EPSILON)) - o->mean) / o->std;
        }
    }
    free(x);
    free(pw);
}

static void test_fbank_vs_direct_dft(void)
{
    int64_t n = 8000; /* 0.5 s at 16 kHz: 48 frames of 400, shift 160 */
    float *w = malloc(n * sizeof *w);
    uint32_t s = 99;
    for (int64_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        w[i] = (float)(0.3 * sin(2 * M_PI * 300 * i / 16000.0) + 0.1 * sin(2 * M_PI * 2500 * i / 16000.0) +
                       0.01 * ((double)(s >> 8) / (1 << 24) - 0.5) + 0.05);
    }
    struct { const char *name; odx_fbank_window win; double len, shift; int mels, target; double lo, hi; } cases[] = {
        {"imagebind defaults", ODX_FBANK_HANNING, 25, 10, 128, 204, 20, 0},
        {"povey 20 ms (320 -> 512 FFT), 40 mels, cut to 30 frames", ODX_FBANK_POVEY, 20, 10, 40, 30, 60, -1000},
    };
    for (int c = 0; c < 2; c++) {
        odx_fbank_opts o;
        odx_fbank_opts_default(&o);
        o.window = cases[c].win;
        o.frame_length_ms = cases[c].len;
        o.frame_shift_ms = cases[c].shift;
        o.num_mel_bins = cases[c].mels;
        o.target_length = cases[c].target;
        o.low_freq = cases[c].lo;
        o.high_freq = cases[c].hi;
        odx_fbank *fb;
        REQUIRE_OK(odx_fbank_create(&o, &fb));
        size_t sz = (size_t)o.num_mel_bins * o.target_length;
        float *got = malloc(sz * sizeof *got);
        double *ref = malloc(sz * sizeof *ref);
        REQUIRE_OK(odx_fbank_compute(fb, w, n, got));
        ref_fbank(w, n, &o, ref);
        double worst = 0;
        for (size_t i = 0; i < sz; i++) worst = fmax(worst, fabs(got[i] - ref[i]));
        CHECK(worst < 1e-3, "%s: max abs %g vs the direct DFT", cases[c].name, worst);
        printf("# fbank %s: max abs %.3g vs double-precision direct DFT\n", cases[c].name, worst);
        int64_t nf = odx_fbank_num_frames(fb, n);
        CHECK(nf == 1 + (n - (int64_t)(16 * cases[c].len)) / 160, "frames %lld", (long long)nf);
        /* fewer samples than one frame: all padding */
        REQUIRE_OK(odx_fbank_compute(fb, w, 100, got));
        int bad = 0;
        for (size_t i = 0; i < sz; i++) bad += fabs(got[i] - (0 - o.mean) / o.std) > 1e-6;
        CHECK(bad == 0 && odx_fbank_num_frames(fb, 100) == 0, "sub-frame input is padding (%d differ)", bad);
        free(got);
        free(ref);
        odx_fbank_close(fb);
    }
    free(w);
    /* invalid options */
    odx_fbank_opts o;
    odx_fbank_opts_default(&o);
    odx_fbank *fb;
    o.num_mel_bins = 3;
    CHECK(odx_fbank_create(&o, &fb) == ODX_EINVAL, "3 mel bins");
    odx_fbank_opts_default(&o);
    o.low_freq = 9000;
    CHECK(odx_fbank_create(&o, &fb) == ODX_EINVAL, "low_freq over Nyquist");
    odx_fbank_opts_default(&o);
    o.frame_length_ms = 0.05;
    CHECK(odx_fbank_create(&o, &fb) == ODX_EINVAL, "window under 2 samples");
}

static void test_config_ranges(void)
{
    const char *bad[] = {
        "{\"num_mel_bins\": 2}", "{\"window\": \"kaiser\"}", "{\"hidden_size\": 65, \"num_attention_heads\": 4}",
        "{\"sample_rate\": 16000.5}", "{\"clips\": 0}", "{\"std\": 0}", "{\"patch_size\": 300}",
        "{\"hidden_act\": \"swish\"}", "{\"target_length\": -1}", "{\"clip_seconds\": \"2\"}", "[1]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cJSON *j = cJSON_Parse(bad[i]);
        odx_audio_config c;
        int rc = odx_audio_config_parse(j, &c);
        CHECK(rc == ODX_EINVAL || rc == ODX_EUNSUPPORTED, "%s -> %d", bad[i], rc);
        cJSON_Delete(j);
    }
    odx_audio_config c;
    REQUIRE_OK(odx_audio_config_parse(NULL, &c));
    CHECK(c.fbank.num_mel_bins == 128 && c.fbank.target_length == 204 && c.patch_stride == 10 && c.clips == 3 &&
          c.tower.hidden == 768, "defaults");
    int64_t st[8];
    /* docs/modalities.md "Clips": L = 32000; floor(i * (S - L) / 2) */
    CHECK(odx_audio_clip_starts(&c, 32000, st, 8) == 1 && st[0] == 0, "S == L: one clip");
    CHECK(odx_audio_clip_starts(&c, 96001, st, 8) == 3 && st[0] == 0 && st[1] == 32000 && st[2] == 64001,
          "3 clips: %lld %lld %lld", (long long)st[0], (long long)st[1], (long long)st[2]);
}

/* ---- one odx_fbank shared by threads (FFTW plans executed concurrently,
 * fbanks created and closed concurrently: the planner lock) ------------- */

typedef struct fb_job { const odx_fbank *fb; const float *w; int64_t n; float *out; int rc; } fb_job;

static void *fb_thread(void *arg)
{
    fb_job *j = arg;
    for (int r = 0; r < 20 && !j->rc; r++) {
        odx_fbank_opts o;
        odx_fbank_opts_default(&o);
        o.frame_length_ms = 10 + r; /* a new plan size each round */
        odx_fbank *own = NULL;
        j->rc = odx_fbank_create(&o, &own);
        odx_fbank_close(own);
        if (!j->rc) j->rc = odx_fbank_compute(j->fb, j->w, j->n, j->out);
    }
    return NULL;
}

static void test_fbank_threads(void)
{
    int64_t n = 32000;
    float *w = malloc(n * sizeof *w);
    for (int64_t i = 0; i < n; i++) w[i] = (float)sin(i * 0.037) * (float)(i % 977) / 977.0f;
    odx_fbank_opts o;
    odx_fbank_opts_default(&o);
    odx_fbank *fb;
    REQUIRE_OK(odx_fbank_create(&o, &fb));
    size_t sz = (size_t)o.num_mel_bins * o.target_length;
    float *ref = malloc(sz * sizeof *ref);
    REQUIRE_OK(odx_fbank_compute(fb, w, n, ref));
    enum { T = 4 };
    fb_job jobs[T];
    pthread_t th[T];
    for (int i = 0; i < T; i++) {
        jobs[i] = (fb_job){fb, w, n, malloc(sz * sizeof(float)), 0};
        pthread_create(&th[i], NULL, fb_thread, &jobs[i]);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        CHECK(jobs[i].rc == 0 && !memcmp(jobs[i].out, ref, sz * sizeof *ref), "thread %d equals the serial result", i);
        free(jobs[i].out);
    }
    odx_fbank_close(fb);
    free(ref);
    free(w);
}

/* ---- deterministic mutation fuzzing of the WAV path --------------------- */

static void test_fuzz_wav(void)
{
    int32_t v[2400];
    float f[1200];
    for (int i = 0; i < 2400; i++) v[i] = (int32_t)(12000 * sin(i * 0.07));
    for (int i = 0; i < 1200; i++) f[i] = (float)cos(i * 0.03);
    buf seeds[3] = {make_wav(16, 2, 22050, 1200, v, NULL, 0), make_wav(24, 1, 8000, 2400, v, NULL, 0),
                    make_wav(-32, 1, 16000, 1200, NULL, f, 0)};
    long iters = 1500;
    const char *e = getenv("OMNIDEX_FUZZ_ITERS");
    if (e && atol(e) > 0) iters *= atol(e);
    odx_fbank_opts o;
    odx_fbank_opts_default(&o);
    odx_fbank *fb;
    REQUIRE_OK(odx_fbank_create(&o, &fb));
    float *feat = malloc((size_t)o.num_mel_bins * o.target_length * sizeof *feat);
    uint64_t r = 0x6f6d6e69646578ull;
    long ok = 0, refused = 0, bad = 0;
    for (long it = 0; it < iters; it++) {
        const buf *sd = &seeds[it % 3];
        size_t n = sd->n;
        unsigned char *m = malloc(n + 64);
        memcpy(m, sd->p, n);
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        int kind = (int)(r >> 60) % 4, k = 1 + (int)((r >> 40) % 8);
        for (int j = 0; j < k; j++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            /* headers are where the parsers live: bias the position there */
            size_t pos = (r >> 33) % ((r >> 20) & 1 ? 64 : n);
            if (kind == 0) m[pos] = (unsigned char)(r >> 8);
            else if (kind == 1) m[pos] ^= (unsigned char)(1u << ((r >> 5) & 7));
            else if (kind == 2) n = pos + 1;                      /* truncate */
            else { m[pos] = 0xFF; if (pos + 1 < n) m[pos + 1] = 0xFF; } /* huge sizes */
        }
        odx_pcm p;
        int rc = odx_audio_decode(m, n, it % 2 ? 16000 : 0, 5.0, &p);
        if (rc == 0) {
            ok++;
            if (p.rate == 16000 && odx_fbank_compute(fb, p.samples, p.n, feat) != 0) bad++;
            odx_pcm_free(&p);
        } else if (rc == ODX_EMEDIA || rc == ODX_ELIMIT) {
            refused++;
        } else {
            bad++;
            printf("# mutation %ld: rc %d (%s)\n", it, rc, odx_last_error());
        }
        free(m);
    }
    CHECK(bad == 0, "%ld mutations gave an unexpected status", bad);
    printf("# %ld WAV mutations: %ld decoded, %ld refused (EMEDIA/ELIMIT)\n", iters, ok, refused);
    for (int i = 0; i < 3; i++) free(seeds[i].p);
    free(feat);
    odx_fbank_close(fb);
}

/* ---- allocation failure at every point of decode + resample + fbank ----- */

static void test_alloc_failures(void)
{
    int32_t v[4000];
    for (int i = 0; i < 4000; i++) v[i] = (int32_t)(10000 * sin(i * 0.05));
    buf b = make_wav(16, 2, 22050, 2000, v, NULL, 0xFFFFFFFFu); /* unknown length: the buffer grows */
    long k, failures = 0;
    int rc = 0;
    for (k = 1; k < 1000; k++) {
        odx_alloc_fail_at(k);
        odx_pcm p = {0};
        odx_fbank *fb = NULL;
        float *out = NULL;
        odx_fbank_opts o;
        odx_fbank_opts_default(&o);
        rc = odx_audio_decode(b.p, b.n, 16000, 0, &p);
        if (!rc) rc = odx_fbank_create(&o, &fb);
        if (!rc && !(out = odx_malloc((size_t)o.num_mel_bins * o.target_length * sizeof *out))) rc = ODX_ENOMEM;
        if (!rc) rc = odx_fbank_compute(fb, p.samples, p.n, out);
        odx_free(out);
        odx_fbank_close(fb);
        odx_pcm_free(&p);
        odx_alloc_fail_at(0);
        if (rc == 0) break;
        failures++;
        if (rc != ODX_ENOMEM) break;
    }
    CHECK(rc == 0 && failures >= 8, "allocation failure %ld returned %d (%s)", k, rc, rc ? odx_last_error() : "");
    printf("# %ld allocation points in decode + resample + fbank\n", failures);
    free(b.p);
}

int main(void)
{
    RUN(test_wav_pcm16_24_float);
    RUN(test_stereo_downmix);
    RUN(test_bad_input);
    RUN(test_empty_and_silent);
    RUN(test_limits);
    RUN(test_resample_sine);
    RUN(test_fbank_vs_direct_dft);
    RUN(test_fbank_threads);
    RUN(test_config_ranges);
    RUN(test_fuzz_wav);
    RUN(test_alloc_failures);
    TEST_EXIT();
}
