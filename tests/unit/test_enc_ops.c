/* Encoder kernels against straightforward double-precision loops written
 * here: linear, layer norm, activations, softmax, attention (with and
 * without the causal mask, packed sequences of different lengths), arena. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "encoders/runtime/arena.h"
#include "encoders/runtime/ops.h"
#include "omnidex.h"
#include "testlib.h"

static uint64_t rng = 88172645463325252ull;
static float frand(void)
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((rng >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}
static void fill(float *x, size_t n) { for (size_t i = 0; i < n; i++) x[i] = frand(); }

static void test_linear(void)
{
    int r = 5, in = 37, out = 19;
    float *x = malloc(sizeof(float) * r * in), *w = malloc(sizeof(float) * out * in), b[19], y[5 * 19];
    fill(x, (size_t)r * in); fill(w, (size_t)out * in); fill(b, 19);
    odx_op_linear(x, r, in, w, b, out, y);
    double md = 0;
    for (int i = 0; i < r; i++)
        for (int o = 0; o < out; o++) {
            double s = b[o];
            for (int k = 0; k < in; k++) s += (double)x[i * in + k] * w[o * in + k];
            md = fmax(md, fabs(s - y[i * out + o]));
        }
    CHECK(md < 1e-5, "linear max diff %g", md);
    odx_op_linear(x, r, in, w, NULL, out, y);
    double s = 0;
    for (int k = 0; k < in; k++) s += (double)x[k] * w[k];
    CHECK(fabs(s - y[0]) < 1e-5, "no-bias linear");
    free(x); free(w);
}

static void test_layernorm(void)
{
    int r = 3, d = 50;
    float x[150], y[150], g[50], b[50];
    fill(x, 150); fill(g, 50); fill(b, 50);
    for (int i = 0; i < 50; i++) x[i] += 100.0f; /* large mean: needs care */
    odx_op_layernorm(x, r, d, g, b, 1e-5f, y);
    double md = 0;
    for (int i = 0; i < r; i++) {
        double m = 0, v = 0;
        for (int k = 0; k < d; k++) m += x[i * d + k];
        m /= d;
        for (int k = 0; k < d; k++) v += (x[i * d + k] - m) * (x[i * d + k] - m);
        v /= d;
        for (int k = 0; k < d; k++) {
            double e = (x[i * d + k] - m) / sqrt(v + 1e-5) * g[k] + b[k];
            md = fmax(md, fabs(e - y[i * d + k]));
        }
    }
    CHECK(md < 1e-5, "layernorm max diff %g", md);
}

static void test_activations(void)
{
    float v[4] = {-3.0f, -0.5f, 0.0f, 2.0f}, q[4], g[4], t[4];
    memcpy(q, v, sizeof v); memcpy(g, v, sizeof v); memcpy(t, v, sizeof v);
    odx_op_act(ODX_ACT_QUICK_GELU, q, 4);
    odx_op_act(ODX_ACT_GELU, g, 4);
    odx_op_act(ODX_ACT_GELU_TANH, t, 4);
    for (int i = 0; i < 4; i++) {
        double x = v[i];
        CHECK(fabs(q[i] - x / (1 + exp(-1.702 * x))) < 1e-6, "quick_gelu(%g)", x);
        CHECK(fabs(g[i] - 0.5 * x * (1 + erf(x / sqrt(2.0)))) < 1e-6, "gelu(%g)", x);
        CHECK(fabs(t[i] - 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)))) < 1e-6, "gelu_tanh(%g)", x);
    }
    odx_act a;
    CHECK(odx_act_parse("quick_gelu", &a) == 0 && a == ODX_ACT_QUICK_GELU, "parse");
    CHECK(odx_act_parse("swish9", &a) == ODX_EUNSUPPORTED, "unknown activation refused");
}

/* Naive attention for one sequence in double. */
static void naive_attention(const float *qkv, int t, int heads, int hd, int causal, double *out)
{
    int w = heads * hd;
    double *s = malloc(sizeof(double) * t);
    for (int h = 0; h < heads; h++)
        for (int i = 0; i < t; i++) {
            double m = -1e300, sum = 0;
            int n = causal ? i + 1 : t;
            for (int j = 0; j < n; j++) {
                double d = 0;
                for (int k = 0; k < hd; k++) d += (double)qkv[i * 3 * w + h * hd + k] * qkv[j * 3 * w + w + h * hd + k];
                s[j] = d / sqrt((double)hd);
                m = fmax(m, s[j]);
            }
            for (int j = 0; j < n; j++) { s[j] = exp(s[j] - m); sum += s[j]; }
            for (int k = 0; k < hd; k++) {
                double o = 0;
                for (int j = 0; j < n; j++) o += s[j] / sum * qkv[j * 3 * w + 2 * w + h * hd + k];
                out[i * w + h * hd + k] = o;
            }
        }
    free(s);
}

static void test_attention(void)
{
    int heads = 3, hd = 8, w = heads * hd;
    int off[4] = {0, 7, 8, 20}; /* three packed sequences: 7, 1, 12 rows */
    int rows = off[3];
    float *qkv = malloc(sizeof(float) * rows * 3 * w), *out = malloc(sizeof(float) * rows * w);
    double *ref = malloc(sizeof(double) * rows * w);
    fill(qkv, (size_t)rows * 3 * w);
    odx_arena a;
    odx_arena_init(&a);
    for (int causal = 0; causal < 2; causal++) {
        REQUIRE_OK(odx_op_attention(qkv, off, 3, heads, hd, causal, out, &a));
        double md = 0;
        for (int s = 0; s < 3; s++) {
            naive_attention(qkv + (size_t)off[s] * 3 * w, off[s + 1] - off[s], heads, hd, causal, ref + (size_t)off[s] * w);
        }
        for (int i = 0; i < rows * w; i++) md = fmax(md, fabs(ref[i] - out[i]));
        CHECK(md < 1e-5, "attention (causal=%d) max diff %g", causal, md);
        /* one query row per sequence: rows 3, 7 and 15 */
        int qrow[3] = {3, 7, 15};
        float one[3 * 24];
        REQUIRE_OK(odx_op_attention_rows(qkv, off, qrow, 3, heads, hd, causal, one, &a));
        double mr = 0;
        for (int s = 0; s < 3; s++)
            for (int k = 0; k < w; k++) mr = fmax(mr, fabs(ref[(size_t)qrow[s] * w + k] - one[s * w + k]));
        CHECK(mr < 1e-5, "single-row attention (causal=%d) max diff %g", causal, mr);
        odx_arena_reset(&a);
    }
    odx_arena_free(&a);
    free(qkv); free(out); free(ref);
}

static void test_softmax_l2(void)
{
    float x[5] = {1000.0f, 1001.0f, -5.0f, 0.0f, 999.0f};
    odx_op_softmax(x, 5);
    double s = 0;
    for (int i = 0; i < 5; i++) s += x[i];
    CHECK(fabs(s - 1) < 1e-6 && x[1] > x[0] && x[0] > x[4], "softmax stable and normalised");
    float v[6] = {3, 4, 0, 0, 0, 0};
    odx_op_l2norm_rows(v, 2, 3);
    CHECK(fabs(v[0] - 0.6f) < 1e-7 && fabs(v[1] - 0.8f) < 1e-7 && v[3] == 0, "l2norm");
}

static void test_arena(void)
{
    odx_arena a;
    odx_arena_init(&a);
    char *p1 = odx_arena_alloc(&a, 10);
    char *p2 = odx_arena_alloc(&a, 3 << 20); /* forces a second block */
    REQUIRE(p1 && p2, "alloc");
    CHECK(((uintptr_t)p1 & 63) == 0 && ((uintptr_t)p2 & 63) == 0, "aligned");
    memset(p2, 1, 3 << 20);
    odx_arena_reset(&a);
    char *p3 = odx_arena_alloc(&a, 3 << 20);
    char *p4 = odx_arena_alloc(&a, 10);
    CHECK(p3 && p4 && p4 > p3, "one coalesced block after reset");
    odx_arena_free(&a);
    odx_arena_init(&a);
    REQUIRE(odx_arena_alloc(&a, 100) != NULL, "alloc");
    odx_arena_mark_t m = odx_arena_mark(&a);
    char *p5 = odx_arena_alloc(&a, 1000);
    odx_arena_release(&a, m);
    char *p6 = odx_arena_alloc(&a, 1000);
    CHECK(p5 && p5 == p6, "release gives the scratch back");
    odx_arena_free(&a);
}

int main(void)
{
    RUN(test_linear);
    RUN(test_layernorm);
    RUN(test_activations);
    RUN(test_attention);
    RUN(test_softmax_l2);
    RUN(test_arena);
    TEST_EXIT();
}
