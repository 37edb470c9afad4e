/* Forward-pass kernels over row-major float32 tensors.
 *
 * GEMMs go to CBLAS (OpenBLAS, which threads them itself); the other kernels
 * split their rows over OpenMP threads (serial when built without OpenMP).
 * Every function here trusts its sizes: callers validate shapes against the
 * model config at load time, so a mismatch is a programmer error. */
#ifndef ODX_ENC_OPS_H
#define ODX_ENC_OPS_H
#include <stddef.h>

#include "encoders/runtime/arena.h"

typedef enum odx_act {
    ODX_ACT_GELU = 0,      /* exact: x * Phi(x) (erf form), HF "gelu" */
    ODX_ACT_QUICK_GELU,    /* x * sigmoid(1.702 x), OpenAI CLIP */
    ODX_ACT_GELU_TANH,     /* tanh approximation, HF "gelu_new"/"gelu_pytorch_tanh" */
    ODX_ACT_RELU
} odx_act;

/* Parses an HF hidden_act name; returns 0 or ODX_EUNSUPPORTED. */
int odx_act_parse(const char *name, odx_act *out);

/* y[rows,out] = x[rows,in] * w[out,in]^T (+ b[out] when b != NULL). */
void odx_op_linear(const float *x, int rows, int in, const float *w, const float *b,
                   int out, float *y);
/* Row-wise layer norm; y may equal x. */
void odx_op_layernorm(const float *x, int rows, int dim, const float *gamma,
                      const float *beta, float eps, float *y);
void odx_op_act(odx_act act, float *x, size_t n);
/* y += x */
void odx_op_add(float *y, const float *x, size_t n);
/* In-place softmax of one row of n values. */
void odx_op_softmax(float *x, int n);
/* Scales each row to unit L2 norm (rows of zeros stay zero). */
void odx_op_l2norm_rows(float *x, int rows, int dim);

/* Multi-head self-attention over packed sequences.
 * qkv: rows x (3*heads*head_dim), each row [q | k | v] with heads side by
 * side inside each part; sequence s holds rows [seq_off[s], seq_off[s+1]).
 * out: rows x (heads*head_dim). Scores are scaled by 1/sqrt(head_dim);
 * causal masks keys after the query. Scratch comes from the arena.
 * Returns 0 or ODX_ENOMEM. */
int odx_op_attention(const float *qkv, const int *seq_off, int nseq, int heads,
                     int head_dim, int causal, float *out, odx_arena *arena);

/* The same attention for one query row per sequence: qrow[s] is the row
 * (absolute, inside sequence s) whose output is wanted; keys are all rows of
 * the sequence (up to qrow[s] when causal). out: nseq x (heads*head_dim).
 * Used for a tower's last layer, where only the pooled row is read. */
int odx_op_attention_rows(const float *qkv, const int *seq_off, const int *qrow, int nseq,
                          int heads, int head_dim, int causal, float *out, odx_arena *arena);

/* Number of OpenMP threads kernels use (1 without OpenMP). */
int odx_op_threads(void);

/* Small passes on the calling thread alone: when flops is under
 * ODX_OP_SERIAL_FLOPS, odx_op_narrow_begin() limits this thread's OpenMP
 * team (and OpenBLAS, which follows it) to one thread and returns the count
 * to restore with odx_op_narrow_end(); otherwise it returns 0 and changes
 * nothing. A pass is dozens of parallel regions; for a small model each is
 * microseconds of work, and on a busy machine every barrier waits for a
 * descheduled thread (omni-tiny's image tower: 40 images in 4.7 s with 2
 * threads while another process held a core, 0.25 s with one). */
#define ODX_OP_SERIAL_FLOPS 1e8
int odx_op_narrow_begin(double flops);
void odx_op_narrow_end(int saved);

#endif
