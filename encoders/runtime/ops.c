/* Kernels for the encoder forward pass (see ops.h). Loops are written so GCC
 * vectorises them; the per-row split follows ggml: each thread takes a
 * contiguous range of rows. */
#include "encoders/runtime/ops.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "common/error.h"

#ifdef _OPENMP
#include <omp.h>
#endif

int odx_op_narrow_begin(double flops)
{
#ifdef _OPENMP
    int saved = omp_get_max_threads();
    if (saved > 1 && flops < ODX_OP_SERIAL_FLOPS) {
        omp_set_num_threads(1);
        return saved;
    }
#endif
    (void)flops;
    return 0;
}

void odx_op_narrow_end(int saved)
{
#ifdef _OPENMP
    if (saved > 0) omp_set_num_threads(saved);
#endif
    (void)saved;
}

int odx_op_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

static int thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

int odx_act_parse(const char *name, odx_act *out)
{
    if (strcmp(name, "gelu") == 0) *out = ODX_ACT_GELU;
    else if (strcmp(name, "quick_gelu") == 0) *out = ODX_ACT_QUICK_GELU;
    else if (strcmp(name, "gelu_new") == 0 || strcmp(name, "gelu_pytorch_tanh") == 0 ||
             strcmp(name, "gelu_fast") == 0)
        *out = ODX_ACT_GELU_TANH;
    else if (strcmp(name, "relu") == 0) *out = ODX_ACT_RELU;
    else return odx_error(ODX_EUNSUPPORTED, "activation '%.32s' is not supported", name);
    return 0;
}

void odx_op_linear(const float *x, int rows, int in, const float *w, const float *b,
                   int out, float *y)
{
    float beta = 0.0f;
    if (b) {
        #pragma omp parallel for schedule(static) if ((size_t)rows * out > 16384)
        for (int r = 0; r < rows; r++) memcpy(y + (size_t)r * out, b, (size_t)out * sizeof(float));
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, out, in, 1.0f, x, in, w, in,
                beta, y, out);
}

void odx_op_layernorm(const float *x, int rows, int dim, const float *gamma,
                      const float *beta, float eps, float *y)
{
    #pragma omp parallel for schedule(static) if ((size_t)rows * dim > 16384)
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * dim;
        float *yr = y + (size_t)r * dim;
        double s = 0, ss = 0;
        for (int i = 0; i < dim; i++) s += xr[i];
        double mean = s / dim;
        for (int i = 0; i < dim; i++) {
            double d = xr[i] - mean;
            ss += d * d;
        }
        float m = (float)mean;
        float inv = (float)(1.0 / sqrt(ss / dim + (double)eps));
        for (int i = 0; i < dim; i++) yr[i] = (xr[i] - m) * inv * gamma[i] + beta[i];
    }
}

void odx_op_act(odx_act act, float *x, size_t n)
{
    switch (act) {
    case ODX_ACT_GELU:
        #pragma omp parallel for schedule(static) if (n > 16384)
        for (size_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
        break;
    case ODX_ACT_QUICK_GELU:
        #pragma omp parallel for schedule(static) if (n > 16384)
        for (size_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + expf(-1.702f * x[i]));
        break;
    case ODX_ACT_GELU_TANH:
        #pragma omp parallel for schedule(static) if (n > 16384)
        for (size_t i = 0; i < n; i++) {
            float v = x[i];
            x[i] = 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
        }
        break;
    case ODX_ACT_RELU:
        for (size_t i = 0; i < n; i++) x[i] = x[i] > 0 ? x[i] : 0;
        break;
    }
}

void odx_op_add(float *y, const float *x, size_t n)
{
    #pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

void odx_op_softmax(float *x, int n)
{
    float m = -INFINITY;
    for (int i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
    float s = 0;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - m);
        s += x[i];
    }
    float inv = 1.0f / s;
    for (int i = 0; i < n; i++) x[i] *= inv;
}

void odx_op_l2norm_rows(float *x, int rows, int dim)
{
    for (int r = 0; r < rows; r++) {
        float *xr = x + (size_t)r * dim;
        double ss = 0;
        for (int i = 0; i < dim; i++) ss += (double)xr[i] * xr[i];
        if (ss > 0) {
            float inv = (float)(1.0 / sqrt(ss));
            for (int i = 0; i < dim; i++) xr[i] *= inv;
        }
    }
}

/* One (sequence, head) pair: S = Q K^T * scale, softmax, O = S V, with small
 * single-threaded GEMMs (OpenBLAS runs one thread inside a parallel region). */
static void attend_one(const float *qkv, int ld, int t, int hd, int causal, float scale,
                       float *s, float *out, int ldo)
{
    const float *q = qkv, *k = qkv + ld / 3, *v = qkv + 2 * (ld / 3);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, t, t, hd, scale, q, ld, k, ld, 0.0f, s, t);
    for (int i = 0; i < t; i++) {
        float *row = s + (size_t)i * t;
        int n = causal ? i + 1 : t;
        odx_op_softmax(row, n);
        for (int j = n; j < t; j++) row[j] = 0.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, t, hd, t, 1.0f, s, t, v, ld, 0.0f, out, ldo);
}

int odx_op_attention(const float *qkv, const int *seq_off, int nseq, int heads,
                     int head_dim, int causal, float *out, odx_arena *arena)
{
    int width = heads * head_dim, ld = 3 * width, tmax = 0;
    for (int s = 0; s < nseq; s++)
        if (seq_off[s + 1] - seq_off[s] > tmax) tmax = seq_off[s + 1] - seq_off[s];
    int nth = odx_op_threads();
    odx_arena_mark_t mark = odx_arena_mark(arena);
    float *scratch = odx_arena_floats(arena, (size_t)nth * tmax * tmax);
    if (!scratch) return odx_error(ODX_ENOMEM, "attention: out of memory for %d x %d scores", tmax, tmax);
    float scale = 1.0f / sqrtf((float)head_dim);
    int pairs = nseq * heads;
    #pragma omp parallel for schedule(dynamic, 1)
    for (int p = 0; p < pairs; p++) {
        int s = p / heads, h = p % heads;
        int off = seq_off[s], t = seq_off[s + 1] - off;
        float *sc = scratch + (size_t)thread_id() * tmax * tmax;
        attend_one(qkv + (size_t)off * ld + (size_t)h * head_dim, ld, t, head_dim, causal, scale, sc,
                   out + (size_t)off * width + (size_t)h * head_dim, width);
    }
    odx_arena_release(arena, mark);
    return 0;
}

int odx_op_attention_rows(const float *qkv, const int *seq_off, const int *qrow, int nseq,
                          int heads, int head_dim, int causal, float *out, odx_arena *arena)
{
    int width = heads * head_dim, ld = 3 * width, tmax = 0;
    for (int s = 0; s < nseq; s++)
        if (seq_off[s + 1] - seq_off[s] > tmax) tmax = seq_off[s + 1] - seq_off[s];
    int nth = odx_op_threads();
    odx_arena_mark_t mark = odx_arena_mark(arena);
    float *scratch = odx_arena_floats(arena, (size_t)nth * tmax);
    if (!scratch) return odx_error(ODX_ENOMEM, "attention: out of memory");
    float scale = 1.0f / sqrtf((float)head_dim);
    int pairs = nseq * heads;
    #pragma omp parallel for schedule(static)
    for (int p = 0; p < pairs; p++) {
        int s = p / heads, h = p % heads;
        int off = seq_off[s], t = causal ? qrow[s] - off + 1 : seq_off[s + 1] - off;
        float *sc = scratch + (size_t)thread_id() * tmax;
        const float *base = qkv + (size_t)off * ld + (size_t)h * head_dim;
        const float *q = qkv + (size_t)qrow[s] * ld + (size_t)h * head_dim;
        cblas_sgemv(CblasRowMajor, CblasNoTrans, t, head_dim, scale, base + width, ld, q, 1, 0.0f, sc, 1);
        odx_op_softmax(sc, t);
        cblas_sgemv(CblasRowMajor, CblasTrans, t, head_dim, 1.0f, base + 2 * width, ld, sc, 1, 0.0f,
                    out + (size_t)s * width + (size_t)h * head_dim, 1);
    }
    odx_arena_release(arena, mark);
    return 0;
}
