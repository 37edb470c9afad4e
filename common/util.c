#include "common/util.h"

#include <math.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/error.h"
#include "omnidex.h"

int64_t odx_now_unix(void) { return (int64_t)time(NULL); }

double odx_now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int odx_name_valid(const char *s, size_t len, size_t max, unsigned flags)
{
    if (!s || len == 0 || len > max) return 0;
    if ((flags & ODX_NAME_NO_LEADING_DOT) && s[0] == '.') return 0;
    for (size_t i = 0; i < len; i++)
        if (!odx_name_char(s[i])) return 0;
    return 1;
}

int odx_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) { i++; continue; }
        int n;
        unsigned cp;
        if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; }
        else return 0;
        if (i + (size_t)n >= len) return 0;
        for (int k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)) return 0;
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += n + 1;
    }
    return 1;
}

int odx_vec_finite(const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return 0;
    return 1;
}

int odx_vec_normalize(float *v, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)v[i] * v[i];
    if (!(s > 0)) return odx_error(ODX_EVECTOR, "zero vector cannot be normalised for cosine");
    float inv = (float)(1.0 / sqrt(s));
    for (size_t i = 0; i < n; i++) v[i] *= inv;
    return 0;
}

static const char *modality_names[ODX_MODALITY_COUNT] = {"vector", "text",  "image",
                                                         "audio",  "video", "mesh"};

const char *odx_modality_name(odx_modality m)
{
    if ((int)m < 0 || (int)m >= ODX_MODALITY_COUNT) return NULL;
    return modality_names[m];
}

int odx_modality_parse(const char *name, odx_modality *out)
{
    for (int i = 0; i < ODX_MODALITY_COUNT; i++)
        if (!strcasecmp(name, modality_names[i])) { *out = (odx_modality)i; return 0; }
    if (!strcasecmp(name, "3d")) { *out = ODX_MODALITY_MESH; return 0; }
    return odx_error(ODX_EINVAL, "unknown modality '%s' (vector, text, image, audio, video, mesh)", name);
}

const char *odx_metric_name(odx_metric m)
{
    switch (m) {
    case ODX_METRIC_COSINE: return "cosine";
    case ODX_METRIC_IP: return "ip";
    case ODX_METRIC_L2: return "l2";
    }
    return NULL;
}

int odx_metric_parse(const char *name, odx_metric *out)
{
    if (!strcasecmp(name, "cosine")) *out = ODX_METRIC_COSINE;
    else if (!strcasecmp(name, "ip")) *out = ODX_METRIC_IP;
    else if (!strcasecmp(name, "l2")) *out = ODX_METRIC_L2;
    else return odx_error(ODX_EINVAL, "unknown metric '%s' (cosine, ip, l2)", name);
    return 0;
}
