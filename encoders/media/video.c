/* Video decoding from memory by libavformat/libavcodec/libswscale/
 * libswresample (see video.h for the sampling rules).
 *
 * Why the shape: libav reads through a custom AVIOContext over the caller's
 * buffer (read + seek + AVSEEK_SIZE), so nothing touches the file system and
 * demuxers that would open other files are refused through io_open. The
 * demuxer is chosen from the sniffed magic, never probed, which keeps the
 * reachable parser surface to three demuxers. The frame conversion mirrors
 * what ffmpeg's scale filter does by default (SWS_BICUBIC, colour matrix and
 * range from the frame), so a frame here equals the ffmpeg command line's
 * `-pix_fmt rgb24` output for the same frame. */
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "encoders/media/video.h"

#define IO_BUF_SIZE 32768
/* Streams a container may declare before we refuse it (libav's default is 1000). */
#define MAX_STREAMS 100
/* Undecodable packets tolerated (skipped, as ffmpeg does) before giving up. */
#define MAX_BAD_PACKETS 1000

static pthread_once_t quiet_once = PTHREAD_ONCE_INIT;
static void quiet_libav(void) { av_log_set_level(AV_LOG_QUIET); }

const char *odx_video_format_name(const void *data, size_t len)
{
    const unsigned char *p = data;
    if (!p) return NULL;
    /* ISO BMFF: a box size then 'ftyp'; old QuickTime files may start
     * directly with 'moov', 'mdat', 'wide' or 'free'. */
    if (len >= 8 && (memcmp(p + 4, "ftyp", 4) == 0 || memcmp(p + 4, "moov", 4) == 0 ||
                     memcmp(p + 4, "mdat", 4) == 0 || memcmp(p + 4, "wide", 4) == 0))
        return "mp4/mov";
    if (len >= 4 && p[0] == 0x1A && p[1] == 0x45 && p[2] == 0xDF && p[3] == 0xA3) return "webm/mkv";
    if (len >= 6 && (memcmp(p, "GIF87a", 6) == 0 || memcmp(p, "GIF89a", 6) == 0)) return "gif";
    return NULL;
}

/* ---- memory I/O ---------------------------------------------------------- */

typedef struct mem_src {
    const uint8_t *p;
    size_t len, pos;
} mem_src;

static int mem_read(void *opaque, uint8_t *buf, int n)
{
    mem_src *m = opaque;
    if (m->pos >= m->len) return AVERROR_EOF;
    size_t k = m->len - m->pos;
    if (n < 0) return AVERROR(EINVAL);
    if (k > (size_t)n) k = (size_t)n;
    memcpy(buf, m->p + m->pos, k);
    m->pos += k;
    return (int)k;
}

static int64_t mem_seek(void *opaque, int64_t off, int whence)
{
    mem_src *m = opaque;
    whence &= ~AVSEEK_FORCE;
    if (whence == AVSEEK_SIZE) return (int64_t)m->len;
    int64_t base;
    switch (whence) {
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = (int64_t)m->pos; break;
    case SEEK_END: base = (int64_t)m->len; break;
    default: return AVERROR(EINVAL);
    }
    if ((off > 0 && base > INT64_MAX - off) || base + off < 0 || (uint64_t)(base + off) > m->len)
        return AVERROR(EINVAL);
    m->pos = (size_t)(base + off);
    return (int64_t)m->pos;
}

/* No demuxer may reach outside the buffer (MOV data references, playlists). */
static int deny_io_open(AVFormatContext *s, AVIOContext **pb, const char *url, int flags,
                        AVDictionary **options)
{
    return AVERROR(EPERM);
}

/* ---- one opened stream --------------------------------------------------- */

typedef struct vdec {
    mem_src src;
    AVIOContext *avio;
    AVFormatContext *ic;
    AVCodecContext *dec;
    AVPacket *pkt;
    AVFrame *frame;
    int si;              /* selected stream index */
    AVStream *st;
    int eof_read;        /* demuxer exhausted, decoder being drained */
    int read_error;      /* the demuxer stopped with an error, not a clean EOF */
    int bad_packets;
    int last_error;      /* the decoder's last complaint (AVERROR) */
    const char *label;   /* "MP4", "MOV", "WebM", "MKV", "GIF" for messages */
    uint64_t max_pixels;
} vdec;

static const char *container_label(const char *fmt, const uint8_t *p, size_t len)
{
    if (strcmp(fmt, "gif") == 0) return "GIF";
    if (strcmp(fmt, "mp4/mov") == 0)
        return (len >= 12 && memcmp(p + 4, "ftypqt  ", 8) == 0) ? "MOV" : "MP4";
    /* The EBML header (first few dozen bytes) names the DocType. */
    size_t n = len < 64 ? len : 64;
    for (size_t i = 0; i + 4 <= n; i++)
        if (memcmp(p + i, "webm", 4) == 0) return "WebM";
    return "MKV";
}

static int av_fail(const vdec *d, int averr, const char *what)
{
    char eb[AV_ERROR_MAX_STRING_SIZE];
    if (averr == AVERROR(ENOMEM)) return odx_error(ODX_ENOMEM, "video: out of memory in libav (%s)", what);
    av_strerror(averr, eb, sizeof eb);
    return odx_error(ODX_EMEDIA, "video: truncated or corrupt %s (%s: %s)", d->label, what, eb);
}

static void vdec_close(vdec *d)
{
    avcodec_free_context(&d->dec);
    if (d->ic) avformat_close_input(&d->ic);
    if (d->avio) {
        av_freep(&d->avio->buffer);
        avio_context_free(&d->avio);
    }
    av_packet_free(&d->pkt);
    av_frame_free(&d->frame);
}

/* Opens data with the demuxer for fmt and the decoder of its first stream
 * of the given type (attached cover pictures are not video). *found is set
 * to 0 (and 0 returned) when there is no such stream; other streams are
 * discarded at the demuxer unless keep_others. *has_audio (when not NULL) is set to 1 when
 * the file has an audio stream. */
static int vdec_open(vdec *d, const uint8_t *data, size_t len, const char *fmt,
                     enum AVMediaType type, uint64_t max_pixels, int keep_others, int *found, int *has_audio)
{
    static const struct { const char *ours, *demuxer; } demuxers[] = {
        {"mp4/mov", "mov"}, {"webm/mkv", "matroska"}, {"gif", "gif"}};
    const AVInputFormat *ifmt = NULL;
    for (size_t i = 0; i < sizeof demuxers / sizeof demuxers[0]; i++)
        if (strcmp(fmt, demuxers[i].ours) == 0) ifmt = av_find_input_format(demuxers[i].demuxer);
    memset(d, 0, sizeof *d);
    d->si = -1;
    d->max_pixels = max_pixels;
    d->label = container_label(fmt, data, len);
    *found = 0;
    if (!ifmt) return odx_error(ODX_EUNSUPPORTED, "video: this libavformat has no %s demuxer", d->label);
    d->src = (mem_src){data, len, 0};
    d->pkt = av_packet_alloc();
    d->frame = av_frame_alloc();
    uint8_t *buf = av_malloc(IO_BUF_SIZE);
    if (!d->pkt || !d->frame || !buf) {
        av_free(buf);
        return odx_error(ODX_ENOMEM, "video: out of memory opening %s", d->label);
    }
    d->avio = avio_alloc_context(buf, IO_BUF_SIZE, 0, &d->src, mem_read, NULL, mem_seek);
    if (!d->avio) {
        av_free(buf);
        return odx_error(ODX_ENOMEM, "video: out of memory opening %s", d->label);
    }
    d->ic = avformat_alloc_context();
    if (!d->ic) return odx_error(ODX_ENOMEM, "video: out of memory opening %s", d->label);
    d->ic->pb = d->avio;
    d->ic->flags |= AVFMT_FLAG_CUSTOM_IO;
    d->ic->io_open = deny_io_open;
    d->ic->max_streams = MAX_STREAMS;
    int r = avformat_open_input(&d->ic, "", ifmt, NULL); /* frees ic on failure */
    if (r < 0) return av_fail(d, r, "header");

    for (unsigned i = 0; i < d->ic->nb_streams; i++) {
        AVStream *st = d->ic->streams[i];
        int is_pic = (st->disposition & AV_DISPOSITION_ATTACHED_PIC) != 0;
        if (st->codecpar->codec_type == AVMEDIA_TYPE_AUDIO && has_audio) *has_audio = 1;
        if (d->si < 0 && st->codecpar->codec_type == type && !is_pic) d->si = (int)i;
        else if (!keep_others) st->discard = AVDISCARD_ALL;
    }
    if (d->si < 0) return 0;
    d->st = d->ic->streams[d->si];
    AVCodecParameters *par = d->st->codecpar;
    /* The pixel limit from the container's declaration, before any decoder
     * exists; the decoder's own max_pixels catches a stream that lies. */
    if (type == AVMEDIA_TYPE_VIDEO) {
        if (par->width < 0 || par->height < 0 || (uint64_t)par->width * (uint64_t)par->height > max_pixels)
            return odx_error(ODX_ELIMIT, "video: %dx%d frames are over the limit of %llu pixels", par->width,
                             par->height, (unsigned long long)max_pixels);
    }
    /* libav checks its limit on the coded size (rows and columns rounded up
     * to macroblocks or superblocks), so it gets slack; our exact check is
     * on the container's declaration and on every decoded frame. */
    int64_t mp = max_pixels > INT_MAX / 2 - 65536 ? INT_MAX : (int64_t)max_pixels * 2 + 65536;
    AVDictionary **sopts = av_calloc(d->ic->nb_streams, sizeof *sopts);
    if (!sopts) return odx_error(ODX_ENOMEM, "video: out of memory opening %s", d->label);
    for (unsigned i = 0; i < d->ic->nb_streams; i++) {
        av_dict_set(&sopts[i], "threads", "1", 0);
        av_dict_set_int(&sopts[i], "max_pixels", mp, 0);
    }
    r = avformat_find_stream_info(d->ic, sopts);
    for (unsigned i = 0; i < d->ic->nb_streams; i++) av_dict_free(&sopts[i]);
    av_free(sopts);
    if (r < 0) return av_fail(d, r, "stream info");

    const AVCodec *codec = avcodec_find_decoder(par->codec_id);
    if (!codec)
        return odx_error(ODX_EMEDIA, "video: no decoder for %s in %s", avcodec_get_name(par->codec_id), d->label);
    d->dec = avcodec_alloc_context3(codec);
    if (!d->dec) return odx_error(ODX_ENOMEM, "video: out of memory opening the %s decoder", codec->name);
    r = avcodec_parameters_to_context(d->dec, par);
    if (r < 0) return av_fail(d, r, "codec parameters");
    d->dec->thread_count = 1; /* callers parallelise across files */
    d->dec->max_pixels = mp;
    d->dec->pkt_timebase = d->st->time_base;
    r = avcodec_open2(d->dec, codec, NULL);
    if (r < 0) return av_fail(d, r, "decoder");
    *found = 1;
    return 0;
}

/* The next decoded frame of the selected stream into d->frame: 0, 1 at the
 * end of the stream, or a negative ODX code. */
static int vdec_next(vdec *d)
{
    for (;;) {
        int r = avcodec_receive_frame(d->dec, d->frame);
        if (r == 0) return 0;
        if (r == AVERROR_EOF) return 1;
        if (r == AVERROR(ENOMEM)) return av_fail(d, r, "decoding");
        if (r != AVERROR(EAGAIN)) {
            d->last_error = r;
            if (++d->bad_packets > MAX_BAD_PACKETS) return av_fail(d, r, "decoding");
            continue;
        }
        if (d->eof_read) return 1;
        r = av_read_frame(d->ic, d->pkt);
        if (r < 0) {
            if (r == AVERROR(ENOMEM)) return av_fail(d, r, "demuxing");
            if (r != AVERROR_EOF) d->read_error = r;
            d->eof_read = 1;
            avcodec_send_packet(d->dec, NULL); /* drain the frames still inside */
            continue;
        }
        if (d->pkt->stream_index != d->si) {
            av_packet_unref(d->pkt);
            continue;
        }
        r = avcodec_send_packet(d->dec, d->pkt);
        av_packet_unref(d->pkt);
        if (r == AVERROR(ENOMEM)) return av_fail(d, r, "decoding");
        /* A damaged packet is skipped, as ffmpeg does; too many of them is a
         * broken file. */
        if (r < 0) d->last_error = r;
        if (r < 0 && ++d->bad_packets > MAX_BAD_PACKETS) return av_fail(d, r, "decoding");
    }
}

static int vdec_seek(vdec *d, int64_t ts)
{
    int r = av_seek_frame(d->ic, d->si, ts, AVSEEK_FLAG_BACKWARD);
    if (r < 0) return r;
    avcodec_flush_buffers(d->dec);
    d->eof_read = 0;
    d->read_error = 0;
    return 0;
}

/* ---- frames to RGB --------------------------------------------------------- */

/* How a frame is turned for display: what ffmpeg's autorotate inserts for
 * the display matrix (transpose / hflip / vflip). */
typedef enum orient {
    OR_NONE, OR_CLOCK, OR_CCLOCK, OR_CLOCK_FLIP, OR_CCLOCK_FLIP, OR_HFLIP, OR_VFLIP, OR_HVFLIP
} orient;

static orient stream_orientation(const AVStream *st)
{
    const int32_t *m = (const int32_t *)av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, NULL);
    if (!m) return OR_NONE;
    double theta = -round(av_display_rotation_get(m));
    if (isnan(theta)) return OR_NONE;
    theta -= 360 * floor(theta / 360 + 0.9 / 360);
    if (fabs(theta - 90) < 1.0) return m[3] > 0 ? OR_CCLOCK_FLIP : OR_CLOCK;
    if (fabs(theta - 270) < 1.0) return m[3] < 0 ? OR_CLOCK_FLIP : OR_CCLOCK;
    if (fabs(theta - 180) < 1.0) {
        int h = m[0] < 0, v = m[4] < 0;
        return h && v ? OR_HVFLIP : h ? OR_HFLIP : v ? OR_VFLIP : OR_NONE;
    }
    if (fabs(theta) < 1.0 && m[4] < 0) return OR_VFLIP;
    return OR_NONE; /* other angles are left as stored */
}

/* Copies a packed RGB24 picture (stride s) into img with orientation o. */
static void orient_copy(const uint8_t *src, int w, int h, int s, orient o, odx_image *img)
{
    int tr = o == OR_CLOCK || o == OR_CCLOCK || o == OR_CLOCK_FLIP || o == OR_CCLOCK_FLIP;
    int ow = tr ? h : w, oh = tr ? w : h;
    img->w = ow;
    img->h = oh;
    if (o == OR_NONE) {
        for (int y = 0; y < h; y++) memcpy(img->rgb + (size_t)y * w * 3, src + (size_t)y * s, (size_t)w * 3);
        return;
    }
    for (int y = 0; y < oh; y++) {
        uint8_t *out = img->rgb + (size_t)y * ow * 3;
        for (int x = 0; x < ow; x++) {
            int sx, sy;
            switch (o) {
            case OR_CLOCK: sx = y; sy = h - 1 - x; break;          /* 90 degrees clockwise */
            case OR_CCLOCK: sx = w - 1 - y; sy = x; break;         /* 90 degrees counter-clockwise */
            case OR_CCLOCK_FLIP: sx = y; sy = x; break;            /* transpose */
            case OR_CLOCK_FLIP: sx = w - 1 - y; sy = h - 1 - x; break; /* anti-transpose */
            case OR_HFLIP: sx = w - 1 - x; sy = y; break;
            case OR_VFLIP: sx = x; sy = h - 1 - y; break;
            default: sx = w - 1 - x; sy = h - 1 - y; break;      /* 180 degrees */
            }
            memcpy(out + (size_t)x * 3, src + (size_t)sy * s + (size_t)sx * 3, 3);
        }
    }
}

typedef struct rgb_conv {
    struct SwsContext *sws;
    int w, h, fmt;
    enum AVColorRange range;
    enum AVColorSpace space;
    uint8_t *buf; /* padded RGB24 scratch: swscale may write past a tight row */
    size_t buf_size;
    int stride;
    orient o;
} rgb_conv;

static void rgb_conv_free(rgb_conv *c)
{
    sws_freeContext(c->sws);
    odx_free(c->buf);
    memset(c, 0, sizeof *c);
}

/* Converts f to RGB24 into img (allocated here) with the settings of
 * ffmpeg's scale filter: SWS_BICUBIC, the frame's colour matrix (BT.601
 * when unspecified) and its range. */
static int rgb_convert(rgb_conv *c, const AVFrame *f, uint64_t max_pixels, odx_image *img)
{
    if (f->width <= 0 || f->height <= 0 || (uint64_t)f->width * (uint64_t)f->height > max_pixels)
        return odx_error(ODX_ELIMIT, "video: a %dx%d frame is over the limit of %llu pixels", f->width, f->height,
                         (unsigned long long)max_pixels);
    if (!c->sws || c->w != f->width || c->h != f->height || c->fmt != f->format || c->range != f->color_range ||
        c->space != f->colorspace) {
        sws_freeContext(c->sws);
        c->sws = sws_getContext(f->width, f->height, f->format, f->width, f->height, AV_PIX_FMT_RGB24, SWS_BICUBIC,
                                NULL, NULL, NULL);
        if (!c->sws)
            return odx_error(ODX_EMEDIA, "video: cannot convert %s frames to RGB",
                             av_get_pix_fmt_name(f->format) ? av_get_pix_fmt_name(f->format) : "unknown");
        c->w = f->width;
        c->h = f->height;
        c->fmt = f->format;
        c->range = f->color_range;
        c->space = f->colorspace;
        /* As vf_scale with its defaults (in_color_matrix "auto"): the
         * frame's matrix (BT.601 when unspecified or unknown to swscale) on
         * both sides, the frame's range when it declares one. */
        int *inv, *tab, in_full, out_full, bri, con, sat;
        if (sws_getColorspaceDetails(c->sws, &inv, &in_full, &tab, &out_full, &bri, &con, &sat) >= 0) {
            int cs = f->colorspace;
            if (cs < 1 || cs > 10 || cs == 8) cs = AVCOL_SPC_BT470BG;
            const int *coef = sws_getCoefficients(cs);
            if (f->color_range != AVCOL_RANGE_UNSPECIFIED) in_full = f->color_range == AVCOL_RANGE_JPEG;
            sws_setColorspaceDetails(c->sws, coef, in_full, coef, out_full, bri, con, sat);
        }
        c->stride = (f->width * 3 + 63) & ~63;
        size_t need = (size_t)c->stride * (size_t)(f->height + 1) + 64;
        if (need > c->buf_size) {
            odx_free(c->buf);
            c->buf_size = 0;
            c->buf = odx_malloc(need);
            if (!c->buf) return odx_error(ODX_ENOMEM, "video: out of memory for a %dx%d frame", f->width, f->height);
            c->buf_size = need;
        }
    }
    uint8_t *dst[4] = {c->buf, NULL, NULL, NULL};
    int dst_stride[4] = {c->stride, 0, 0, 0};
    int r = sws_scale(c->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, dst_stride);
    if (r <= 0) return odx_error(ODX_EMEDIA, "video: frame conversion to RGB failed");
    img->rgb = odx_malloc((size_t)f->width * f->height * 3);
    if (!img->rgb) return odx_error(ODX_ENOMEM, "video: out of memory for a %dx%d frame", f->width, f->height);
    orient_copy(c->buf, f->width, f->height, c->stride, c->o, img);
    return 0;
}

/* ---- sampling -------------------------------------------------------------- */

static int keep_frame(odx_video *out, rgb_conv *c, const AVFrame *f, double t, uint64_t max_pixels)
{
    odx_image img = {0};
    int rc = rgb_convert(c, f, max_pixels, &img);
    if (rc) return rc;
    out->frames[out->n_frames] = img;
    out->frame_times[out->n_frames] = t;
    out->n_frames++;
    return 0;
}

/* Timestamps from the file are kept within +-2^60 ticks so that sums and
 * differences of two of them cannot overflow; anything outside counts as
 * missing. */
#define TS_LIMIT ((int64_t)1 << 60)
static int ts_ok(int64_t t) { return t != AV_NOPTS_VALUE && t > -TS_LIMIT && t < TS_LIMIT; }

static int64_t frame_ts(const AVFrame *f)
{
    int64_t t = f->best_effort_timestamp != AV_NOPTS_VALUE ? f->best_effort_timestamp : f->pts;
    return ts_ok(t) ? t : AV_NOPTS_VALUE;
}

/* Length in stream ticks of one frame: its own duration, else 1 / the
 * stream's frame rate. */
static int64_t frame_len(const vdec *d, const AVFrame *f)
{
    if (f->pkt_duration > 0) return f->pkt_duration < TS_LIMIT ? f->pkt_duration : TS_LIMIT;
    AVRational fr = d->st->avg_frame_rate.num > 0 ? d->st->avg_frame_rate : d->st->r_frame_rate;
    if (fr.num > 0 && fr.den > 0) return av_rescale_q(1, av_inv_q(fr), d->st->time_base);
    return 0;
}

/* Frames at t_i = start + ceil((2i + 1) * dur / 2N) (stream ticks): the
 * first frame with timestamp >= t_i. Seeks (to the keyframe before t_i)
 * only when the index shows a keyframe beyond the current position;
 * otherwise decodes forward, which is always correct. */
static int sample_by_time(vdec *d, int n, int64_t start, int64_t dur, const odx_video_opts *o, odx_video *out)
{
    rgb_conv conv = {0};
    conv.o = stream_orientation(d->st);
    AVFrame *prev = av_frame_alloc(); /* last decoded frame (for the end of the stream) */
    if (!prev) return odx_error(ODX_ENOMEM, "video: out of memory");
    int rc = 0, have_prev = 0, prev_kept = 0, at_end = 0;
    int64_t prev_ts = INT64_MIN, max_ts = INT64_MIN;
    long stalled = 0, stall_limit = 50L * n > 2000 ? 50L * n : 2000;
    double tb = av_q2d(d->st->time_base);
    for (int i = 0; i < n && !rc; i++) {
        int64_t target = start + (int64_t)(((__int128)(2 * i + 1) * dur + 2 * n - 1) / (2 * n));
        if (have_prev && prev_ts >= target) continue; /* the same frame again */
        if (at_end) goto ended;
        int idx = av_index_search_timestamp(d->st, target, AVSEEK_FLAG_BACKWARD);
        const AVIndexEntry *e = idx >= 0 ? avformat_index_get_entry(d->st, idx) : NULL;
        int seeked = 0, retries = 0;
        int64_t seek_ts = target;
        if (e && (!have_prev || e->timestamp > prev_ts) && vdec_seek(d, target) == 0) {
            seeked = 1;
            have_prev = 0;
            max_ts = INT64_MIN;
        }
        int got = 0, first = 1;
        while (!got) {
            int r = vdec_next(d);
            if (r < 0) { rc = r; break; }
            if (r == 1) break;
            int64_t ts = frame_ts(d->frame);
            if (ts == AV_NOPTS_VALUE) ts = have_prev ? prev_ts : start;
            /* Keyframe index entries are decode times: with B-frames a
             * seek can land after an earlier frame that is the answer.
             * Seek further back when the first frame is past the target. */
            if (seeked && first && ts > target && retries < 4) {
                first = 1;
                retries++;
                double back = (double)((int64_t)1 << retries) / tb;
                seek_ts -= back < (double)TS_LIMIT ? (int64_t)back : TS_LIMIT;
                if (seek_ts < start) seek_ts = start;
                if (vdec_seek(d, seek_ts) < 0) seeked = 0;
                max_ts = INT64_MIN;
                av_frame_unref(d->frame);
                continue;
            }
            first = 0;
            if (ts > max_ts) {
                max_ts = ts;
                stalled = 0;
            } else if (++stalled > stall_limit) {
                rc = odx_error(ODX_EMEDIA, "video: corrupt %s (%ld frames without advancing timestamps)", d->label,
                               stalled);
                break;
            }
            if ((ts - start) * tb > o->max_seconds) {
                rc = odx_error(ODX_ELIMIT, "video: %s runs past the limit of %.0f s", d->label, o->max_seconds);
                break;
            }
            av_frame_unref(prev);
            av_frame_move_ref(prev, d->frame);
            have_prev = 1;
            prev_kept = 0;
            prev_ts = ts;
            if (ts >= target) {
                rc = keep_frame(out, &conv, prev, (double)(ts - start) * tb, d->max_pixels);
                prev_kept = 1;
                got = 1;
            }
        }
        if (rc || got) continue;
        at_end = 1;
    ended:
        /* The stream ended before t_i: the last frame counts when it is
         * still on screen at t_i; otherwise data is missing. */
        if (have_prev && !d->read_error && prev_ts + frame_len(d, prev) >= target) {
            /* After a seek prev_kept is lost, and a file whose timestamps
             * repeat can end on a frame at or before the last one returned:
             * that frame is (a copy of) one already returned, and a frame
             * is returned once (found by fuzz_video). */
            double t = (double)(prev_ts - start) * tb;
            int seen = out->n_frames && t <= out->frame_times[out->n_frames - 1];
            if (!prev_kept && !seen) rc = keep_frame(out, &conv, prev, t, d->max_pixels);
            prev_kept = 1;
            continue;
        }
        if (d->read_error) {
            rc = av_fail(d, d->read_error, "reading packets");
        } else if (d->bad_packets) {
            char eb[AV_ERROR_MAX_STRING_SIZE];
            av_strerror(d->last_error, eb, sizeof eb);
            rc = odx_error(ODX_EMEDIA, "video: corrupt %s (video ends at %.3f s of %.3f s declared; %d packets "
                           "undecodable: %s)", d->label, have_prev ? (double)(prev_ts - start) * tb : 0.0,
                           (double)dur * tb, d->bad_packets, eb);
        } else {
            rc = odx_error(ODX_EMEDIA, "video: truncated or corrupt %s (video ends at %.3f s, %.3f s declared)",
                           d->label, have_prev ? (double)(prev_ts - start) * tb : 0.0, (double)dur * tb);
        }
    }
    av_frame_free(&prev);
    rgb_conv_free(&conv);
    return rc;
}

/* A demux-only pass for streams that declare no duration (Matroska/WebM
 * tracks never do; streamed WebM has no segment duration either): first
 * timestamp and end (timestamp + duration) of the video stream, and
 * *data_end, the end of the last packet of any stream in seconds from the
 * container's start (to tell a cut file from an audio track that simply
 * outlasts the video). */
static int measure_stream(vdec *d, const odx_video_opts *o, int64_t *first, int64_t *end, double *data_end)
{
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    double tb = av_q2d(d->st->time_base), all_end = 0;
    double t0 = d->ic->start_time != AV_NOPTS_VALUE ? (double)d->ic->start_time / AV_TIME_BASE : 0;
    for (;;) {
        int r = av_read_frame(d->ic, d->pkt);
        if (r == AVERROR_EOF) break;
        if (r < 0) return av_fail(d, r, "reading packets");
        int64_t ts = d->pkt->pts != AV_NOPTS_VALUE ? d->pkt->pts : d->pkt->dts;
        if (ts_ok(ts) && d->pkt->stream_index >= 0 && (unsigned)d->pkt->stream_index < d->ic->nb_streams) {
            int64_t e = ts + (d->pkt->duration > 0 && d->pkt->duration < TS_LIMIT ? d->pkt->duration : 0);
            double es = (double)e * av_q2d(d->ic->streams[d->pkt->stream_index]->time_base) - t0;
            if (es > all_end) all_end = es;
            if (d->pkt->stream_index == d->si) {
                if (ts < lo) lo = ts;
                if (e > hi) hi = e;
            }
        }
        av_packet_unref(d->pkt);
        if (lo != INT64_MAX && (double)(hi - lo) * tb > o->max_seconds)
            return odx_error(ODX_ELIMIT, "video: %s runs past the limit of %.0f s", d->label, o->max_seconds);
    }
    if (lo == INT64_MAX) return odx_error(ODX_EMEDIA, "video: no timestamps in the %s video stream", d->label);
    *first = lo;
    *end = hi > lo ? hi : lo + 1;
    *data_end = all_end;
    return 0;
}

/* ---- audio ------------------------------------------------------------------ */

static int decode_audio(const uint8_t *data, size_t len, const char *fmt, const odx_video_opts *o, odx_video *out)
{
    vdec d;
    int found = 0;
    int rc = vdec_open(&d, data, len, fmt, AVMEDIA_TYPE_AUDIO, o->max_pixels, 0, &found, NULL);
    SwrContext *swr = NULL;
    float *pcm = NULL;
    size_t cap = 0, n = 0;
    AVChannelLayout in_layout = {0};
    int in_fmt = -1, in_rate = 0;
    /* Decoded length limit, with one second of slack over the declared-length check. */
    double max_samples = (o->max_seconds + 1.0) * o->audio_rate;
    if (rc || !found) goto done;
    for (;;) {
        int r = vdec_next(&d);
        if (r < 0) { rc = r; goto done; }
        AVFrame *f = r == 1 ? NULL : d.frame;
        if (f && !swr) {
            /* Mono = arithmetic mean of the channels (the contract's downmix),
             * resampled by soxr at swresample's default precision (20 bits,
             * soxr's HQ), the same engine the audio module uses. */
            int ch = f->ch_layout.nb_channels;
            if (ch <= 0 || ch > 64 || f->sample_rate <= 0) {
                rc = odx_error(ODX_EMEDIA, "video: bad audio parameters in %s (%d channels, %d Hz)", d.label, ch,
                               f->sample_rate);
                goto done;
            }
            AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
            if (av_channel_layout_copy(&in_layout, &f->ch_layout) < 0) { rc = av_fail(&d, AVERROR(ENOMEM), "audio"); goto done; }
            in_fmt = f->format;
            in_rate = f->sample_rate;
            r = swr_alloc_set_opts2(&swr, &mono, AV_SAMPLE_FMT_FLT, o->audio_rate, &f->ch_layout, f->format,
                                    f->sample_rate, 0, NULL);
            if (r < 0) { rc = av_fail(&d, r, "audio resampler"); goto done; }
            double mat[64];
            for (int c = 0; c < ch; c++) mat[c] = 1.0 / ch;
            av_opt_set_int(swr, "resampler", SWR_ENGINE_SOXR, 0);
            if ((r = swr_set_matrix(swr, mat, ch)) < 0 || (r = swr_init(swr)) < 0) {
                rc = av_fail(&d, r, "audio resampler");
                goto done;
            }
        }
        if (f && (f->format != in_fmt || f->sample_rate != in_rate ||
                  av_channel_layout_compare(&f->ch_layout, &in_layout) != 0)) {
            rc = odx_error(ODX_EMEDIA, "video: the audio format changes inside the %s stream", d.label);
            goto done;
        }
        if (!swr) break; /* an audio stream without a single frame */
        int want = swr_get_out_samples(swr, f ? f->nb_samples : 0);
        if (want < 0) { rc = av_fail(&d, want, "audio resampler"); goto done; }
        if ((double)n + want > max_samples) {
            rc = odx_error(ODX_ELIMIT, "video: the %s audio runs past the limit of %.0f s", d.label, o->max_seconds);
            goto done;
        }
        if (odx_grow(&pcm, &cap, n + (size_t)want + 1, sizeof *pcm)) {
            rc = odx_error(ODX_ENOMEM, "video: out of memory for %zu audio samples", n + (size_t)want);
            goto done;
        }
        uint8_t *dst = (uint8_t *)(pcm + n);
        int got = swr_convert(swr, &dst, want, f ? (const uint8_t **)f->extended_data : NULL, f ? f->nb_samples : 0);
        if (got < 0) { rc = av_fail(&d, got, "audio resampling"); goto done; }
        n += (size_t)got;
        if (f) av_frame_unref(f);
        else if (got == 0) break; /* resampler flushed */
    }
    if (d.read_error && n == 0) { rc = av_fail(&d, d.read_error, "reading audio"); goto done; }
    out->audio = pcm;
    out->audio_n = (int64_t)n;
    out->audio_rate = o->audio_rate;
    pcm = NULL;
done:
    odx_free(pcm);
    swr_free(&swr);
    av_channel_layout_uninit(&in_layout);
    vdec_close(&d);
    return rc;
}

/* ---- entry point ----------------------------------------------------------- */

void odx_video_free(odx_video *v)
{
    if (!v) return;
    for (int i = 0; i < v->n_frames; i++) odx_image_free(&v->frames[i]);
    odx_free(v->frames);
    odx_free(v->frame_times);
    odx_free(v->audio);
    memset(v, 0, sizeof *v);
}

int odx_video_decode(const void *data, size_t len, const odx_video_opts *opt, odx_video *out)
{
    if (!out) return odx_error(ODX_EINVAL, "video: no output");
    memset(out, 0, sizeof *out);
    if (!data && len) return odx_error(ODX_EINVAL, "video: no data");
    odx_video_opts o = opt ? *opt : (odx_video_opts){0};
    if (o.frames == 0) o.frames = ODX_VIDEO_DEFAULT_FRAMES;
    if (o.max_seconds == 0) o.max_seconds = ODX_VIDEO_DEFAULT_MAX_SECONDS;
    if (o.max_pixels == 0) o.max_pixels = ODX_IMAGE_DEFAULT_MAX_PIXELS;
    if (o.frames < 1 || o.frames > ODX_VIDEO_MAX_FRAMES)
        return odx_error(ODX_EINVAL, "video: frames must be 1..%d (got %d)", ODX_VIDEO_MAX_FRAMES, o.frames);
    if (!(o.max_seconds > 0) || o.max_seconds > 1e7)
        return odx_error(ODX_EINVAL, "video: max_seconds must be in (0, 1e7]");
    if (o.audio_rate != 0 && (o.audio_rate < 1000 || o.audio_rate > 768000))
        return odx_error(ODX_EINVAL, "video: audio_rate must be 0 or 1000..768000 Hz (got %d)", o.audio_rate);
    if (len == 0) return odx_error(ODX_EMEDIA, "video: empty input (0 bytes)");
    const char *fmt = odx_video_format_name(data, len);
    if (!fmt) return odx_error(ODX_EMEDIA, "video: not MP4/MOV, WebM/MKV or GIF data (unknown magic bytes)");
    pthread_once(&quiet_once, quiet_libav);

    vdec d;
    int found = 0, has_audio = 0;
    int rc = vdec_open(&d, data, len, fmt, AVMEDIA_TYPE_VIDEO, o.max_pixels, 0, &found, &has_audio);
    if (!rc && !found) rc = odx_error(ODX_EMEDIA, "video: no video stream in %s", d.label);
    if (rc) goto fail;
    double tb = av_q2d(d.st->time_base);
    if (!(tb > 0)) { rc = odx_error(ODX_EMEDIA, "video: bad time base in %s", d.label); goto fail; }
    /* Declared lengths (stream and container) against the limit before any
     * decoding. */
    int64_t dur = 0, start = ts_ok(d.st->start_time) ? d.st->start_time : 0;
    double fdur = d.ic->duration > 0 && d.ic->duration_estimation_method != AVFMT_DURATION_FROM_BITRATE
                      ? (double)d.ic->duration / AV_TIME_BASE : 0;
    /* D is the video stream's own length. The container's (Matroska's
     * segment duration) covers every track, and an audio track outlasting
     * the video would put sample times past the last frame. */
    if (d.st->duration > 0 && d.st->duration < TS_LIMIT) dur = d.st->duration;
    if ((double)dur * tb > o.max_seconds || fdur > o.max_seconds) {
        rc = odx_error(ODX_ELIMIT, "video: %s declares %.0f s, over the limit of %.0f s", d.label,
                       fdur > (double)dur * tb ? fdur : (double)dur * tb, o.max_seconds);
        goto fail;
    }
    if (dur <= 0) {
        int64_t first = 0, end = 0;
        double data_end = 0;
        vdec_close(&d); /* reopened with every stream's packets coming through */
        if ((rc = vdec_open(&d, data, len, fmt, AVMEDIA_TYPE_VIDEO, o.max_pixels, 1, &found, NULL))) goto fail;
        if (!found) { rc = odx_error(ODX_EMEDIA, "video: no video stream in %s", d.label); goto fail; }
        if ((rc = measure_stream(&d, &o, &first, &end, &data_end))) goto fail;
        /* Every track stopping well short of the declared length is a cut
         * file (1% or 0.1 s of slack for rounding and trailing frames). */
        if (fdur > 0 && data_end < fdur - (fdur * 0.01 > 0.1 ? fdur * 0.01 : 0.1)) {
            rc = odx_error(ODX_EMEDIA, "video: truncated or corrupt %s (the data ends at %.3f s, %.3f s declared)",
                           d.label, data_end, fdur);
            goto fail;
        }
        vdec_close(&d);
        if ((rc = vdec_open(&d, data, len, fmt, AVMEDIA_TYPE_VIDEO, o.max_pixels, 0, &found, NULL))) goto fail;
        if (!found) { rc = odx_error(ODX_EMEDIA, "video: no video stream in %s", d.label); goto fail; }
        start = first;
        dur = end - first;
    }
    out->frames = odx_calloc((size_t)o.frames, sizeof *out->frames);
    out->frame_times = odx_calloc((size_t)o.frames, sizeof *out->frame_times);
    if (!out->frames || !out->frame_times) { rc = odx_error(ODX_ENOMEM, "video: out of memory"); goto fail; }
    out->duration = (double)dur * tb;
    out->width = d.st->codecpar->width;
    out->height = d.st->codecpar->height;
    out->has_audio = has_audio;
    snprintf(out->format, sizeof out->format, "%s", fmt);
    if ((rc = sample_by_time(&d, o.frames, start, dur, &o, out))) goto fail;
    if (out->n_frames == 0) { rc = odx_error(ODX_EMEDIA, "video: no decodable frame in %s", d.label); goto fail; }
    vdec_close(&d);
    if (o.audio_rate > 0 && has_audio) {
        if ((rc = decode_audio(data, len, fmt, &o, out))) goto fail_out;
    }
    return 0;
fail:
    vdec_close(&d);
fail_out:
    odx_video_free(out);
    return rc;
}
