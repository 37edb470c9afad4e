/* Audio decoding through libsndfile's virtual I/O (the bytes never touch
 * the file system) and resampling through libsoxr. See audio.h.
 *
 * libsndfile is lenient about damage: it shortens a WAV whose data chunk
 * runs past the end of the file, and the Ogg reader stops quietly at a
 * page cut in half. A cut file would then embed as a shorter sound without
 * a word, so the containers whose structure says how long they are (RIFF
 * chunks, Ogg pages with their end-of-stream flag, FLAC's STREAMINFO
 * sample count) are checked here and a short file is ODX_EMEDIA. */
#include "encoders/media/audio.h"

#include <math.h>
#include <pthread.h>
#include <sndfile.h>
#include <soxr.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/util.h"

#define READ_FRAMES 4096 /* frames per sf_readf_float call */

typedef enum fmt {
    FMT_UNKNOWN = 0, FMT_WAV, FMT_RIFF, FMT_FLAC, FMT_OGG, FMT_OGG_VORBIS, FMT_OGG_OPUS,
    FMT_OGG_FLAC, FMT_MP3, FMT_AIFF, FMT_AU, FMT_CAF, FMT_RF64, FMT_W64
} fmt;

static const char *const FMT_NAME[] = {
    "unknown", "WAV", "RIFF", "FLAC", "Ogg", "Ogg/Vorbis", "Ogg/Opus", "Ogg/FLAC", "MP3", "AIFF", "AU", "CAF",
    "RF64", "W64"
};


/* An MPEG audio frame header: 11 sync bits, a valid version, layer,
 * bitrate index and sample-rate index. */
static int mpeg_frame_sync(const unsigned char *p, size_t len)
{
    if (len < 4 || p[0] != 0xFF || (p[1] & 0xE0) != 0xE0) return 0;
    int version = (p[1] >> 3) & 3, layer = (p[1] >> 1) & 3;
    int bitrate = p[2] >> 4, rate = (p[2] >> 2) & 3;
    return version != 1 && layer != 0 && bitrate != 15 && rate != 3;
}

/* Whether an MP3 stream states its exact length: a Xing/Info (LAME) or
 * VBRI header in the first frame after any ID3v2 tag. Without one,
 * libsndfile's frame count is an estimate from the bitrate and a shorter
 * read proves nothing. */
static int mp3_has_length_header(const unsigned char *p, size_t len)
{
    size_t off = 0;
    if (len >= 10 && !memcmp(p, "ID3", 3)) {
        off = 10 + ((size_t)(p[6] & 0x7f) << 21 | (size_t)(p[7] & 0x7f) << 14 | (size_t)(p[8] & 0x7f) << 7 |
                    (size_t)(p[9] & 0x7f));
        if (p[5] & 0x10) off += 10; /* footer */
    }
    for (size_t end = off + 4096; off < len && off < end && !mpeg_frame_sync(p + off, len - off); off++) {}
    if (off >= len || !mpeg_frame_sync(p + off, len - off)) return 0;
    for (size_t i = off + 4; i + 4 <= len && i < off + 4 + 40; i++)
        if (!memcmp(p + i, "Xing", 4) || !memcmp(p + i, "Info", 4) || !memcmp(p + i, "VBRI", 4)) return 1;
    return 0;
}

/* Length in bytes of the MPEG audio frame whose header is at p (ISO
 * 11172-3 / 13818-3 bitrate and sample-rate tables), 0 when it cannot be
 * told (free-format bitrate). p must pass mpeg_frame_sync. */
static size_t mpeg_frame_len(const unsigned char *p)
{
    static const short kbps[5][15] = {
        {0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448}, /* MPEG-1 layer I */
        {0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384},    /* MPEG-1 layer II */
        {0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320},     /* MPEG-1 layer III */
        {0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256},    /* MPEG-2/2.5 layer I */
        {0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},         /* MPEG-2/2.5 layers II, III */
    };
    static const int hz[3] = {44100, 48000, 32000};
    int version = (p[1] >> 3) & 3, layer = 4 - ((p[1] >> 1) & 3), pad = (p[2] >> 1) & 1;
    int mpeg1 = version == 3;
    int rate = hz[(p[2] >> 2) & 3] >> (mpeg1 ? 0 : version == 2 ? 1 : 2);
    int br = kbps[mpeg1 ? layer - 1 : layer == 1 ? 3 : 4][p[2] >> 4] * 1000;
    if (br == 0) return 0;
    if (layer == 1) return (size_t)(12 * br / rate + pad) * 4;
    if (layer == 3 && !mpeg1) return (size_t)(72 * br / rate + pad);
    return (size_t)(144 * br / rate + pad);
}

/* An MP3 without an ID3 tag must start with two consecutive frame headers
 * (one alone is too easy for other data to contain). */
static int mpeg_stream_start(const unsigned char *p, size_t len)
{
    if (!mpeg_frame_sync(p, len)) return 0;
    size_t fl = mpeg_frame_len(p);
    return fl >= 4 && fl < len && mpeg_frame_sync(p + fl, len - fl);
}

static fmt sniff(const unsigned char *p, size_t len)
{
    if (len >= 12 && !memcmp(p, "RIFF", 4)) return memcmp(p + 8, "WAVE", 4) ? FMT_RIFF : FMT_WAV;
    if (len >= 4 && !memcmp(p, "fLaC", 4)) return FMT_FLAC;
    if (len >= 12 && !memcmp(p, "FORM", 4) && (!memcmp(p + 8, "AIFF", 4) || !memcmp(p + 8, "AIFC", 4)))
        return FMT_AIFF;
    if (len >= 4 && !memcmp(p, "OggS", 4)) {
        /* The first page's first packet names the codec. */
        if (len < 27) return FMT_OGG;
        size_t body = 27 + (size_t)p[26];
        if (body + 8 <= len && !memcmp(p + body, "OpusHead", 8)) return FMT_OGG_OPUS;
        if (body + 7 <= len && !memcmp(p + body, "\x01vorbis", 7)) return FMT_OGG_VORBIS;
        if (body + 5 <= len && !memcmp(p + body, "\x7f" "FLAC", 5)) return FMT_OGG_FLAC;
        return FMT_OGG;
    }
    if (len >= 4 && !memcmp(p, ".snd", 4)) return FMT_AU;
    if (len >= 4 && !memcmp(p, "caff", 4)) return FMT_CAF;
    if (len >= 4 && !memcmp(p, "RF64", 4)) return FMT_RF64;
    if (len >= 16 && !memcmp(p, "riff\x2e\x91\xcf\x11", 8)) return FMT_W64;
    if (len >= 3 && !memcmp(p, "ID3", 3)) return FMT_MP3;
    if (mpeg_stream_start(p, len)) return FMT_MP3;
    return FMT_UNKNOWN;
}

const char *odx_audio_format_name(const void *data, size_t len)
{
    return FMT_NAME[data ? sniff(data, len) : FMT_UNKNOWN];
}

/* RIFF/WAVE: the fmt chunk's rate and block size give the declared length
 * of the data chunk in seconds, checked against the limit first (a header
 * may declare hours over a few bytes); then a data chunk running past the
 * end of the input is a truncated file. 0xFFFFFFFF is the size streaming
 * writers leave when they cannot seek back: length unknown, not checked. */
static int check_wav(const unsigned char *p, size_t len, double max_seconds)
{
    size_t off = 12;
    unsigned rate = 0, block = 0;
    while (off + 8 <= len) {
        uint32_t size = odx_get_le32(p + off + 4);
        size_t avail = len - off - 8;
        if (!memcmp(p + off, "fmt ", 4) && size >= 16 && avail >= 16) {
            rate = odx_get_le32(p + off + 12);
            block = odx_get_le16(p + off + 20);
        }
        if (!memcmp(p + off, "data", 4)) {
            if (size == 0xFFFFFFFFu) return 0;
            if (rate && block && (double)size / block / rate > max_seconds)
                return odx_error(ODX_ELIMIT, "audio: WAV declares %.0f s of audio (limit %.0f s)",
                                 (double)size / block / rate, max_seconds);
            if (size > avail)
                return odx_error(ODX_EMEDIA, "audio: truncated WAV: the data chunk declares %u bytes, %zu present",
                                 (unsigned)size, avail);
            return 0;
        }
        if (size > avail) return odx_error(ODX_EMEDIA, "audio: truncated WAV: a '%.4s' chunk runs past the end",
                                           (const char *)p + off);
        off += 8 + (size_t)size + (size & 1);
    }
    return odx_error(ODX_EMEDIA, "audio: truncated or corrupt WAV: no data chunk");
}

/* Ogg's page checksum (RFC 3533): CRC-32, polynomial 0x04c11db7, MSB
 * first, initial value 0, no final xor, over the page with its CRC field
 * taken as zero. */
static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t r = i << 24;
        for (int k = 0; k < 8; k++) r = r & 0x80000000u ? (r << 1) ^ 0x04c11db7u : r << 1;
        crc_table[i] = r;
    }
}

static uint32_t ogg_crc(const unsigned char *p, size_t n)
{
    pthread_once(&crc_once, crc_init);
    const uint32_t *table = crc_table;
    uint32_t crc = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char b = i >= 22 && i < 26 ? 0 : p[i];
        crc = (crc << 8) ^ table[((crc >> 24) ^ b) & 0xff];
    }
    return crc;
}

/* Ogg: every page must be whole, pass its CRC, follow the previous page of
 * its stream in sequence, and the last one must carry the end-of-stream
 * flag. A file cut or damaged anywhere fails one of these; libogg itself
 * would silently skip such pages and libsndfile return less audio. */
static int check_ogg(const unsigned char *p, size_t len, const char *name)
{
    size_t off = 0;
    int last_flags = 0;
    uint32_t serial[8], seq[8];
    int streams = 0;
    while (off < len) {
        if (len - off < 27 || memcmp(p + off, "OggS", 4))
            return odx_error(ODX_EMEDIA, "audio: truncated or corrupt %s: bad page at byte %zu", name, off);
        size_t nseg = p[off + 26], size = 27 + nseg;
        if (len - off < size)
            return odx_error(ODX_EMEDIA, "audio: truncated %s: page at byte %zu is cut", name, off);
        for (size_t i = 0; i < nseg; i++) size += p[off + 27 + i];
        if (len - off < size)
            return odx_error(ODX_EMEDIA, "audio: truncated %s: page at byte %zu is cut", name, off);
        if (ogg_crc(p + off, size) != odx_get_le32(p + off + 22))
            return odx_error(ODX_EMEDIA, "audio: corrupt %s: page at byte %zu fails its CRC", name, off);
        uint32_t ser = odx_get_le32(p + off + 14), sq = odx_get_le32(p + off + 18);
        int s = 0;
        while (s < streams && serial[s] != ser) s++;
        if (s < streams && sq != seq[s] + 1)
            return odx_error(ODX_EMEDIA, "audio: truncated or corrupt %s: page %u of stream %u follows page %u",
                             name, (unsigned)sq, (unsigned)ser, (unsigned)seq[s]);
        if (s == streams && streams < 8) serial[streams++] = ser;
        if (s < 8) seq[s] = sq;
        last_flags = p[off + 5];
        off += size;
    }
    if (!(last_flags & 4))
        return odx_error(ODX_EMEDIA, "audio: truncated %s: the last page is not marked end of stream", name);
    return 0;
}

/* libsndfile virtual I/O over a read-only memory buffer. */
typedef struct membuf { const unsigned char *p; sf_count_t len, pos; } membuf;

static sf_count_t vio_len(void *u) { return ((membuf *)u)->len; }
static sf_count_t vio_tell(void *u) { return ((membuf *)u)->pos; }
static sf_count_t vio_seek(sf_count_t off, int whence, void *u)
{
    membuf *m = u;
    sf_count_t base = whence == SEEK_CUR ? m->pos : whence == SEEK_END ? m->len : 0;
    if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END) return -1;
    sf_count_t to = base + off;
    if (to < 0) return -1;
    m->pos = to > m->len ? m->len : to;
    return m->pos;
}
static sf_count_t vio_read(void *dst, sf_count_t n, void *u)
{
    membuf *m = u;
    if (n <= 0 || m->pos >= m->len) return 0;
    if (n > m->len - m->pos) n = m->len - m->pos;
    memcpy(dst, m->p + m->pos, (size_t)n);
    m->pos += n;
    return n;
}
static sf_count_t vio_write(const void *src, sf_count_t n, void *u)
{
    (void)src, (void)n, (void)u;
    return 0;
}

void odx_pcm_free(odx_pcm *p)
{
    if (!p) return;
    odx_free(p->samples);
    p->samples = NULL;
    p->n = 0;
}

int odx_audio_decode(const void *data, size_t len, int target_rate, double max_seconds, odx_pcm *out)
{
    memset(out, 0, sizeof *out);
    if (!(max_seconds > 0)) max_seconds = ODX_AUDIO_DEFAULT_MAX_SECONDS;
    if (target_rate < 0 || target_rate > ODX_AUDIO_MAX_RATE)
        return odx_error(ODX_EINVAL, "audio: target rate %d outside 0..%d", target_rate, ODX_AUDIO_MAX_RATE);
    if (!data || len == 0) return odx_error(ODX_EMEDIA, "audio: empty input");
    const unsigned char *p = data;
    fmt f = sniff(p, len);
    const char *name = FMT_NAME[f];
    int rc = 0;
    if (f == FMT_WAV) rc = check_wav(p, len, max_seconds);
    else if (f >= FMT_OGG && f <= FMT_OGG_FLAC) rc = check_ogg(p, len, name);
    if (rc) return rc;
    /* Only containers with a header are handed to libsndfile: given
     * anything else it scans for MPEG frame syncs, which random bytes
     * contain, and decodes noise. */
    if (f == FMT_UNKNOWN || f == FMT_RIFF)
        return odx_error(ODX_EMEDIA, "audio: unrecognised format%s", f == FMT_RIFF ? " (RIFF but not WAVE)" : "");

    membuf mb = {p, (sf_count_t)len, 0};
    SF_VIRTUAL_IO vio = {vio_len, vio_seek, vio_read, vio_write, vio_tell};
    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *sf = sf_open_virtual(&vio, SFM_READ, &info, &mb);
    if (!sf) {
        return odx_error(ODX_EMEDIA, "audio: truncated or corrupt %s (libsndfile: %s)", name, sf_strerror(NULL));
    }
    if (f != FMT_MP3 && (info.format & SF_FORMAT_TYPEMASK) == SF_FORMAT_MPEG) {
        /* a damaged header that libsndfile then took for MPEG frames */
        sf_close(sf);
        return odx_error(ODX_EMEDIA, "audio: corrupt %s (read as MPEG frames)", name);
    }
    float *inter = NULL, *mono = NULL;
    size_t cap = 0;
    int64_t n = 0;
    int ch = info.channels, rate = info.samplerate;
    if (ch < 1 || ch > ODX_AUDIO_MAX_CHANNELS || rate < 1 || rate > ODX_AUDIO_MAX_RATE) {
        rc = odx_error(ODX_EMEDIA, "audio: %s with %d channels at %d Hz is not supported", name, ch, rate);
        goto out;
    }
    /* libsndfile reports SF_COUNT_MAX (or less than 0) when it cannot tell. */
    int declared = info.frames >= 0 && info.frames < SF_COUNT_MAX;
    int64_t limit = (int64_t)floor(max_seconds * rate);
    if (declared && info.frames > limit) {
        rc = odx_error(ODX_ELIMIT, "audio: %s declares %.0f s of audio (limit %.0f s)", name,
                       (double)info.frames / rate, max_seconds);
        goto out;
    }
    inter = odx_malloc((size_t)READ_FRAMES * ch * sizeof(float));
    if (!inter) { rc = odx_error(ODX_ENOMEM, "audio: out of memory"); goto out; }
    if (declared && info.frames > 0) {
        cap = (size_t)info.frames;
        mono = odx_malloc(cap * sizeof(float));
        if (!mono) { rc = odx_error(ODX_ENOMEM, "audio: out of memory for %zu samples", cap); goto out; }
    }
    for (;;) {
        sf_count_t got = sf_readf_float(sf, inter, READ_FRAMES);
        if (got <= 0) break;
        if (n + got > limit) {
            rc = odx_error(ODX_ELIMIT, "audio: %s is longer than the limit of %.0f s", name, max_seconds);
            goto out;
        }
        if ((rc = odx_grow(&mono, &cap, (size_t)(n + got), sizeof(float)))) {
            rc = odx_error(ODX_ENOMEM, "audio: out of memory after %lld samples", (long long)n);
            goto out;
        }
        float inv = 1.0f / (float)ch;
        for (sf_count_t i = 0; i < got; i++) {
            const float *fr = inter + (size_t)i * ch;
            float s = fr[0];
            for (int c = 1; c < ch; c++) s += fr[c];
            mono[n + i] = ch == 1 ? s : s * inv;
        }
        n += got;
    }
    if (sf_error(sf) != SF_ERR_NO_ERROR) {
        rc = odx_error(ODX_EMEDIA, "audio: truncated or corrupt %s: %s", name, sf_strerror(sf));
        goto out;
    }
    /* A stream that ends before the length its header promised (FLAC's
     * STREAMINFO, MP3's Xing/Info frame count, the last Ogg granule
     * position) was cut or damaged: libogg drops a page whose CRC fails. */
    int exact = f == FMT_FLAC || (f >= FMT_OGG && f <= FMT_OGG_FLAC) || (f == FMT_MP3 && mp3_has_length_header(p, len));
    if (declared && exact && n < info.frames) {
        rc = odx_error(ODX_EMEDIA, "audio: truncated or corrupt %s: %lld of %lld declared samples", name,
                       (long long)n, (long long)info.frames);
        goto out;
    }
out:
    sf_close(sf);
    odx_free(inter);
    if (rc) {
        odx_free(mono);
        return rc;
    }
    out->samples = n ? mono : NULL;
    if (!n) odx_free(mono);
    out->n = n;
    out->rate = rate;
    if (target_rate > 0 && target_rate != rate && n > 0) {
        odx_pcm r;
        rc = odx_audio_resample(out->samples, n, rate, target_rate, &r);
        odx_pcm_free(out);
        if (rc) return rc;
        *out = r;
    } else if (target_rate > 0) {
        out->rate = target_rate;
    }
    return 0;
}

int odx_audio_resample(const float *in, int64_t n, int from_rate, int to_rate, odx_pcm *out)
{
    memset(out, 0, sizeof *out);
    if (from_rate < 1 || from_rate > ODX_AUDIO_MAX_RATE || to_rate < 1 || to_rate > ODX_AUDIO_MAX_RATE)
        return odx_error(ODX_EINVAL, "audio: resample %d -> %d Hz: rates must be 1..%d", from_rate, to_rate,
                         ODX_AUDIO_MAX_RATE);
    if (n < 0) return odx_error(ODX_EINVAL, "audio: negative sample count");
    out->rate = to_rate;
    if (n == 0) return 0;
    /* Output length n * to / from rounded, computed without overflow for
     * any n a limit lets through. */
    double want = floor((double)n * to_rate / from_rate + 0.5);
    if (want > (double)(SIZE_MAX / sizeof(float)) / 2 || want > 9e15)
        return odx_error(ODX_ELIMIT, "audio: resampled length %.0f too large", want);
    size_t olen = (size_t)want;
    if (olen == 0) return 0;
    float *o = odx_malloc(olen * sizeof(float));
    if (!o) return odx_error(ODX_ENOMEM, "audio: out of memory resampling %zu samples", olen);
    if (from_rate == to_rate) {
        memcpy(o, in, olen * sizeof(float));
    } else {
        soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
        soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
        size_t done = 0;
        soxr_error_t err = soxr_oneshot(from_rate, to_rate, 1, in, (size_t)n, NULL, o, olen, &done, &io, &q, NULL);
        if (err) {
            odx_free(o);
            return odx_error(ODX_EMEDIA, "audio: resampling %d -> %d Hz failed: %s", from_rate, to_rate, err);
        }
        /* soxr may stop a sample short of the rounded length; the tail is
         * zero-padded, which is where its filter had run out of input. */
        if (done < olen) memset(o + done, 0, (olen - done) * sizeof(float));
    }
    out->samples = o;
    out->n = (int64_t)olen;
    return 0;
}
