/* CLIPImageProcessor's steps (see preprocess.h). The resize reproduces
 * Pillow's Resample.c arithmetic: coefficients in double precision over the
 * filter's support (widened by the scale when shrinking), normalised, turned
 * into 22-bit fixed point, a horizontal pass into an 8-bit image, then a
 * vertical pass, each rounding and clipping to 0..255. */
#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "encoders/media/preprocess.h"

#define PRECISION_BITS (32 - 8 - 2)

void odx_clip_preproc_default(odx_clip_preproc *p)
{
    static const float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
    static const float std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
    p->do_resize = p->do_center_crop = p->do_rescale = p->do_normalize = 1;
    p->shortest_edge = 224;
    p->crop_h = p->crop_w = 224;
    p->resample = 3;
    p->rescale = 1.0 / 255.0;
    memcpy(p->mean, mean, sizeof mean);
    memcpy(p->std, std, sizeof std);
}

static int get_bool(const cJSON *o, const char *k, int *v)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!j) return 0;
    if (!cJSON_IsBool(j)) return odx_error(ODX_EINVAL, "preprocessor_config.json: %s must be true/false", k);
    *v = cJSON_IsTrue(j);
    return 0;
}

static int get_dim(const cJSON *j, const char *k, int *v)
{
    if (!cJSON_IsNumber(j) || !(j->valuedouble >= 1 && j->valuedouble <= 4096) || j->valuedouble != (int)j->valuedouble)
        return odx_error(ODX_EINVAL, "preprocessor_config.json: %s must be an integer in [1, 4096]", k);
    *v = (int)j->valuedouble;
    return 0;
}

/* "size": 224 | {"shortest_edge": 224} ; "crop_size": 224 | {"height":..,"width":..} */
static int get_sizes(const cJSON *root, odx_clip_preproc *p)
{
    int rc;
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(root, "size");
    if (cJSON_IsObject(s)) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(s, "shortest_edge");
        if (!e) return odx_error(ODX_EUNSUPPORTED, "preprocessor_config.json: size without shortest_edge is not supported");
        if ((rc = get_dim(e, "size.shortest_edge", &p->shortest_edge))) return rc;
    } else if (s && (rc = get_dim(s, "size", &p->shortest_edge))) {
        return rc;
    }
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(root, "crop_size");
    if (cJSON_IsObject(c)) {
        if ((rc = get_dim(cJSON_GetObjectItemCaseSensitive(c, "height"), "crop_size.height", &p->crop_h)) ||
            (rc = get_dim(cJSON_GetObjectItemCaseSensitive(c, "width"), "crop_size.width", &p->crop_w)))
            return rc;
    } else if (c) {
        if ((rc = get_dim(c, "crop_size", &p->crop_h))) return rc;
        p->crop_w = p->crop_h;
    }
    return 0;
}

static int get_triple(const cJSON *root, const char *k, float *v, int positive)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, k);
    if (!a) return 0;
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != 3)
        return odx_error(ODX_EINVAL, "preprocessor_config.json: %s must be 3 numbers", k);
    int i = 0;
    for (const cJSON *e = a->child; e; e = e->next, i++) {
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble) || (positive && !(e->valuedouble > 0)))
            return odx_error(ODX_EINVAL, "preprocessor_config.json: bad %s", k);
        v[i] = (float)e->valuedouble;
    }
    return 0;
}

int odx_clip_preproc_parse(const char *json, size_t len, odx_clip_preproc *p)
{
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return odx_error(ODX_EINVAL, "preprocessor_config.json: not a JSON object");
    }
    odx_clip_preproc q = *p;
    int rc;
    if ((rc = get_bool(root, "do_resize", &q.do_resize)) || (rc = get_bool(root, "do_center_crop", &q.do_center_crop)) ||
        (rc = get_bool(root, "do_rescale", &q.do_rescale)) || (rc = get_bool(root, "do_normalize", &q.do_normalize)) ||
        (rc = get_sizes(root, &q)) || (rc = get_triple(root, "image_mean", q.mean, 0)) ||
        (rc = get_triple(root, "image_std", q.std, 1)))
        goto out;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(root, "resample");
    if (r) {
        if (!cJSON_IsNumber(r) || (r->valueint != 2 && r->valueint != 3)) {
            rc = odx_error(ODX_EUNSUPPORTED, "preprocessor_config.json: resample must be 2 (bilinear) or 3 (bicubic)");
            goto out;
        }
        q.resample = r->valueint;
    }
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, "rescale_factor");
    if (f) {
        if (!cJSON_IsNumber(f) || !(f->valuedouble > 0 && f->valuedouble <= 1)) {
            rc = odx_error(ODX_EINVAL, "preprocessor_config.json: rescale_factor must be in (0, 1]");
            goto out;
        }
        q.rescale = f->valuedouble;
    }
    *p = q;
out:
    cJSON_Delete(root);
    return rc;
}

static double bicubic(double x)
{
    const double a = -0.5;
    if (x < 0) x = -x;
    if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
    return 0;
}

static double bilinear(double x)
{
    if (x < 0) x = -x;
    return x < 1 ? 1 - x : 0;
}

/* Pillow's precompute_coeffs + normalize_coeffs_8bpc. Returns ksize, or -1. */
static int coeffs(int in_size, int out_size, int filter, int **bounds_out, int **kk_out)
{
    double support0 = filter == 3 ? 2.0 : 1.0;
    double (*fn)(double) = filter == 3 ? bicubic : bilinear;
    double scale = (double)in_size / out_size, fscale = scale < 1 ? 1 : scale;
    double support = support0 * fscale;
    int ksize = (int)ceil(support) * 2 + 1;
    double *k = odx_malloc((size_t)out_size * ksize * sizeof *k);
    int *kk = odx_malloc((size_t)out_size * ksize * sizeof *kk);
    int *bounds = odx_malloc((size_t)out_size * 2 * sizeof *bounds);
    if (!k || !kk || !bounds) {
        odx_free(k); odx_free(kk); odx_free(bounds);
        return -1;
    }
    for (int xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale, ww = 0, ss = 1.0 / fscale;
        int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5);
        if (xmin < 0) xmin = 0;
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double *kr = k + (size_t)xx * ksize;
        int x;
        for (x = 0; x < xmax; x++) {
            double w = fn((x + xmin - center + 0.5) * ss);
            kr[x] = w;
            ww += w;
        }
        for (x = 0; x < xmax; x++)
            if (ww != 0.0) kr[x] /= ww;
        for (; x < ksize; x++) kr[x] = 0;
        bounds[xx * 2] = xmin;
        bounds[xx * 2 + 1] = xmax;
    }
    for (size_t i = 0; i < (size_t)out_size * ksize; i++)
        kk[i] = k[i] < 0 ? (int)(-0.5 + k[i] * (1 << PRECISION_BITS)) : (int)(0.5 + k[i] * (1 << PRECISION_BITS));
    odx_free(k);
    *bounds_out = bounds;
    *kk_out = kk;
    return ksize;
}

static unsigned char clip8(int v)
{
    if (v >= (1 << PRECISION_BITS << 8)) return 255;
    if (v <= 0) return 0;
    return (unsigned char)(v >> PRECISION_BITS);
}

int odx_resize_rgb8(const unsigned char *src, int sw, int sh, unsigned char *dst, int dw, int dh, int filter)
{
    int *hb = NULL, *hk = NULL, *vb = NULL, *vk = NULL;
    unsigned char *tmp = NULL;
    int rc = 0;
    int hks = coeffs(sw, dw, filter, &hb, &hk);
    int vks = hks < 0 ? -1 : coeffs(sh, dh, filter, &vb, &vk);
    if (vks < 0) { rc = odx_error(ODX_ENOMEM, "resize: out of memory"); goto out; }
    /* Horizontal pass over the rows the vertical pass reads. */
    int y0 = vb[0], y1 = vb[(dh - 1) * 2] + vb[(dh - 1) * 2 + 1];
    const unsigned char *vsrc = src;
    int vsrc_first = 0;
    if (dw != sw) {
        tmp = odx_malloc((size_t)dw * (y1 - y0) * 3);
        if (!tmp) { rc = odx_error(ODX_ENOMEM, "resize: out of memory"); goto out; }
        #pragma omp parallel for schedule(static) if ((size_t)dw * (y1 - y0) > 65536)
        for (int y = y0; y < y1; y++) {
            const unsigned char *row = src + (size_t)y * sw * 3;
            unsigned char *o = tmp + (size_t)(y - y0) * dw * 3;
            for (int xx = 0; xx < dw; xx++) {
                int xmin = hb[xx * 2], xmax = hb[xx * 2 + 1];
                const int *k = hk + (size_t)xx * hks;
                int s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
                for (int x = 0; x < xmax; x++) {
                    const unsigned char *px = row + (size_t)(x + xmin) * 3;
                    s0 += px[0] * k[x]; s1 += px[1] * k[x]; s2 += px[2] * k[x];
                }
                o[xx * 3] = clip8(s0); o[xx * 3 + 1] = clip8(s1); o[xx * 3 + 2] = clip8(s2);
            }
        }
        vsrc = tmp;
        vsrc_first = y0;
    }
    if (dh != sh) {
        #pragma omp parallel for schedule(static) if ((size_t)dw * dh > 65536)
        for (int yy = 0; yy < dh; yy++) {
            int ymin = vb[yy * 2] - vsrc_first, ymax = vb[yy * 2 + 1];
            const int *k = vk + (size_t)yy * vks;
            unsigned char *o = dst + (size_t)yy * dw * 3;
            for (int xx = 0; xx < dw * 3; xx++) {
                int s = 1 << (PRECISION_BITS - 1);
                for (int y = 0; y < ymax; y++) s += vsrc[((size_t)(y + ymin) * dw) * 3 + xx] * k[y];
                o[xx] = clip8(s);
            }
        }
    } else {
        for (int y = 0; y < dh; y++)
            memcpy(dst + (size_t)y * dw * 3, vsrc + (size_t)(y - vsrc_first) * dw * 3, (size_t)dw * 3);
    }
out:
    odx_free(hb); odx_free(hk); odx_free(vb); odx_free(vk); odx_free(tmp);
    return rc;
}

static int floordiv2(int v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); }

int odx_clip_preprocess(const odx_clip_preproc *p, const odx_image *img, float *out)
{
    int w = img->w, h = img->h, rc = 0;
    const unsigned char *px = img->rgb;
    unsigned char *resized = NULL;
    if (p->do_resize) {
        /* HF get_resize_output_image_size(default_to_square=False). */
        int shrt = w <= h ? w : h, lng = w <= h ? h : w;
        int ns = p->shortest_edge, nl = (int)((double)p->shortest_edge * lng / shrt);
        if (nl < 1) nl = 1;
        int nw = w <= h ? ns : nl, nh = w <= h ? nl : ns;
        if (nw != w || nh != h) {
            resized = odx_malloc((size_t)nw * nh * 3);
            if (!resized) return odx_error(ODX_ENOMEM, "out of memory");
            if ((rc = odx_resize_rgb8(px, w, h, resized, nw, nh, p->resample))) goto out;
            px = resized;
            w = nw;
            h = nh;
        }
    }
    int ch = p->do_center_crop ? p->crop_h : h, cw = p->do_center_crop ? p->crop_w : w;
    /* HF center_crop, including its zero padding when the image is smaller. */
    int top = floordiv2(h - ch), left = floordiv2(w - cw);
    int top_pad = h < ch ? (ch - h + 1) / 2 : 0, left_pad = w < cw ? (cw - w + 1) / 2 : 0;
    int y0 = top + top_pad < 0 ? 0 : top + top_pad, x0 = left + left_pad < 0 ? 0 : left + left_pad;
    for (int c = 0; c < 3; c++) {
        float mean = p->do_normalize ? p->mean[c] : 0.0f, sd = p->do_normalize ? p->std[c] : 1.0f;
        float *o = out + (size_t)c * ch * cw;
        for (int y = 0; y < ch; y++) {
            int sy = y0 + y - top_pad;
            for (int x = 0; x < cw; x++) {
                int sx = x0 + x - left_pad;
                unsigned v = (sy >= 0 && sy < h && sx >= 0 && sx < w) ? px[((size_t)sy * w + sx) * 3 + c] : 0;
                float f = p->do_rescale ? (float)(v * p->rescale) : (float)v;
                o[(size_t)y * cw + x] = (f - mean) / sd;
            }
        }
    }
out:
    odx_free(resized);
    return rc;
}
