/* materia nn — private declarations shared by the src/nn sources and the nn tests.
 *
 * Shape letters in comments: B batch, C channels, T time samples, K kernel taps, N features.
 * Two kernel families implement every layer:
 *   nn_*   optimised: im2col + OpenBLAS sgemm, OpenMP over samples/channels, deterministic;
 *   ref_*  naive reference: direct loops with double accumulators, single-threaded.
 * Tests check the two against each other and the optimised backward against finite differences.
 */
#ifndef MATERIA_NN_IMPL_H
#define MATERIA_NN_IMPL_H

#include <math.h>
#include <stdint.h>

#include "materia/nn.h"

/* Weight gradients are summed per chunk of consecutive samples (chunk j of a batch B covers
 * samples [j·B/n, (j+1)·B/n) with n = min(B, NN_CHUNKS)) and the chunk partials reduced in chunk
 * order: the result does not depend on the number of threads. */
#define NN_CHUNKS 8

static inline int64_t nn_nchunks(int64_t B) { return B < NN_CHUNKS ? B : NN_CHUNKS; }
static inline int64_t nn_chunk_lo(int64_t B, int64_t j) { return j * B / nn_nchunks(B); }

/* Per-layer activation storage (lazily allocated for the batch capacity). */
typedef struct nn_act {
    float *y;      /* [Bcap, out_c, out_t] output of the layer */
    float *save;   /* bn: mean [C], invstd [C] of the last training forward, then backward
                      coefficients A, Bc, k1 [C] each (conv block);
                      dropout: mask [Bcap, out] (0 or 1/(1-p)) */
    int32_t *idx;  /* maxpool: argmax index within the input row [Bcap, C, out_t] */
    float *wperm;  /* conv with stride 1: weights permuted to [k][out_c][in_c] */
    int wperm_ok;  /* the last forward ran the shifted path, so wperm holds its weights */
    double *mom;   /* conv feeding a BatchNorm (training): per-sample channel moments
                      Σ(y − bias), Σ(y − bias)² [Bcap, out_c, 2] computed in the conv epilogue */
    float *pext;   /* fused bn/act/maxpool: the raw input value at each argmax [Bcap, C, out_t] */
    float *gz;     /* conv block backward: k1·dL/dz at each argmax [Bcap, C, out_t] */
} nn_act;

struct mt_nn_work {
    int64_t bcap;            /* batch capacity of the buffers below */
    int64_t B;               /* batch of the last forward */
    int train;               /* mode of the last forward */
    const float *x;          /* input of the last forward (caller's buffer) */
    nn_act *act;             /* [nlayers] */
    float *g0, *g1;          /* ping-pong activation gradients [Bcap * max layer size] */
    float *dx;               /* input gradient [Bcap, in_c, in_t] (when input_grad) */
    int nthreads;            /* per-thread scratch slots */
    int64_t scratch_floats;  /* per slot */
    float *scratch;          /* [nthreads][scratch_floats] */
    int64_t partial_floats;  /* per chunk: largest w + b of a conv/linear/bn layer */
    float *partial;          /* [NN_CHUNKS][partial_floats] */
    float *xt;               /* linear hook: transposed input and output [(in+out) * Bcap] */
    int64_t xt_floats;
    /* Execution plan of the last forward: step s runs layers [sfirst[s], sfirst[s]+slen[s]);
     * a step of 2-3 layers is a fused [bn,] act, maxpool. */
    int nsteps;
    int *sfirst, *slen;
};

/* Execution context of one layer call. */
typedef struct nn_ctx {
    mt_model *m;
    int li;                  /* layer index */
    int64_t B;
    int train;
    struct mt_nn_work *w;
    /* BatchNorm input moments precomputed by the preceding conv (NULL: compute from x):
     * per sample and channel Σ(x − shift), Σ(x − shift)², shift = that conv's bias */
    const double *mom;
    const float *mom_shift;
} nn_ctx;

/* ---- element-wise helpers ---- */

/* tanh to ~4e-7 (absolute and relative) by a [13/6] rational minimax fit on |x| ≤ 7.905 (beyond
 * which float tanh is ±1).  Branch-free so that loops vectorise (no special case for tiny x: the
 * fit's slope at 0 is 1 − 1.3e-7). */
static inline float nn_tanhf(float x)
{
    const float c = 7.90531110763549805f;
    float xc = x > c ? c : (x < -c ? -c : x);
    float x2 = xc * xc;
    float p = -2.76076847742355e-16f;
    p = p * x2 + 2.00018790482477e-13f;
    p = p * x2 + -8.60467152213735e-11f;
    p = p * x2 + 5.12229709037114e-08f;
    p = p * x2 + 1.48572235717979e-05f;
    p = p * x2 + 6.37261928875436e-04f;
    p = p * x2 + 4.89352455891786e-03f;
    p = p * xc;
    float q = 1.19825839466702e-06f;
    q = q * x2 + 1.18534705686654e-04f;
    q = q * x2 + 2.26843463243900e-03f;
    q = q * x2 + 4.89352518554385e-03f;
    return p / q;
}

/* ---- optimised kernels (kernels.c) ----
 * Forward: x [B, in_c, in_t] -> y [B, out_c, out_t].  Backward: given x (the forward input), y
 * (its output) and dy, accumulate parameter gradients into L->dw/L->db and, when dx != NULL,
 * write dx (overwrite, not accumulate). */
mt_status nn_conv_forward(nn_ctx *c, const mt_layer *L, const float *x, float *y, nn_act *a,
                          double *mom, mt_err *err);
void nn_conv_backward(nn_ctx *c, mt_layer *L, const nn_act *a, const float *x, const float *dy,
                      float *dx);
mt_status nn_linear_forward(nn_ctx *c, const mt_layer *L, const float *x, float *y, mt_err *err);
void nn_linear_backward(nn_ctx *c, mt_layer *L, const float *x, const float *dy, float *dx);
void nn_bn_forward(nn_ctx *c, mt_layer *L, const float *x, float *y, nn_act *a);
void nn_bn_backward(nn_ctx *c, mt_layer *L, const float *x, const float *dy, float *dx,
                    const nn_act *a);
void nn_maxpool_forward(const mt_layer *L, const float *x, float *y, int32_t *idx, int64_t B);
void nn_maxpool_backward(const mt_layer *L, const float *dy, const int32_t *idx, float *dx,
                         int64_t B);
void nn_avgpool_forward(const mt_layer *L, const float *x, float *y, int64_t B);
void nn_avgpool_backward(const mt_layer *L, const float *dy, float *dx, int64_t B);
void nn_gap_forward(const mt_layer *L, const float *x, float *y, int64_t B);
void nn_gap_backward(const mt_layer *L, const float *dy, float *dx, int64_t B);
void nn_act_forward(mt_layer_type t, const float *x, float *y, int64_t n);
void nn_act_backward(mt_layer_type t, const float *x, const float *y, const float *dy, float *dx,
                     int64_t n);
void nn_dropout_forward(const mt_layer *L, const float *x, float *y, float *mask, int64_t B,
                        int train, uint64_t seed, uint64_t step, int li);
void nn_dropout_backward(const mt_layer *L, const float *dy, const float *mask, float *dx,
                         int64_t B, int train);
void nn_slice_forward(const mt_layer *L, const float *x, float *y, int64_t B);
void nn_slice_backward(const mt_layer *L, const float *dy, float *dx, int64_t B);

/* Fused [bn,] monotone activation, maxpool (model.c recognises the pattern): forward computes
 * z = bn(x) (or x) and writes y = act(maxpool(z)) with the argmax, never materialising the
 * full-resolution activation; exact because the activation is non-decreasing. */
void nn_fused_pool_forward(nn_ctx *c, mt_layer *bn, mt_layer_type act, const mt_layer *pool,
                           const float *x, float *y, nn_act *pool_act, nn_act *bn_act);
void nn_fused_pool_backward(nn_ctx *c, mt_layer *bn, mt_layer_type act, const mt_layer *pool,
                            const float *x, const float *y, const nn_act *pool_act,
                            const float *dy, float *dx, const nn_act *bn_act);

/* Fused conv → bn → [monotone activation] → maxpool (a "conv block", recognised by model.c).
 * Forward: per sample, the conv GEMMs are followed (while the sample's output is in cache) by
 * the bias, the BatchNorm moments and the window extremes of the raw output — the max where
 * γ ≥ 0, the min where γ < 0, since x ↦ (x − μ)·γ/σ + β is monotone — so the batch-normalised
 * full-resolution tensor is never formed.  Backward: the dense BatchNorm gradient of each sample
 * is generated inside the conv backward from per-channel coefficients.  yconv = conv output
 * [B, out_c, out_t] (kept for the backward), y = block output [B, out_c, pool out_t]. */
mt_status nn_convblock_forward(nn_ctx *c, mt_layer *conv, mt_layer *bn, mt_layer_type act,
                               const mt_layer *pool, const float *x, float *yconv, float *y,
                               nn_act *conv_act, nn_act *bn_act, nn_act *pool_act, mt_err *err);
void nn_convblock_backward(nn_ctx *c, mt_layer *conv, mt_layer *bn, mt_layer_type act,
                           const mt_layer *pool, const float *x, const float *yconv,
                           const float *y, const float *dy, float *dx, const nn_act *conv_act,
                           nn_act *bn_act, const nn_act *pool_act);

/* im2col of one sample x [in_c, in_t] into col [in_c·k, out_t] (row c·k + j); col2im adds
 * dcol back into dx [in_c, in_t] (dx zeroed by the caller). */
void nn_im2col(const mt_layer *L, const float *x, float *col);
void nn_col2im(const mt_layer *L, const float *dcol, float *dx);

/* ---- naive reference kernels (ref.c): same contracts, single-threaded ---- */
void ref_conv_forward(const mt_layer *L, const float *x, float *y, int64_t B);
void ref_conv_backward(mt_layer *L, const float *x, const float *dy, float *dx, int64_t B);
void ref_linear_forward(const mt_layer *L, const float *x, float *y, int64_t B);
void ref_linear_backward(mt_layer *L, const float *x, const float *dy, float *dx, int64_t B);
/* save: mean [C], invstd [C] (written in train mode) */
void ref_bn_forward(mt_layer *L, const float *x, float *y, float *save, int64_t B, int train);
void ref_bn_backward(mt_layer *L, const float *x, const float *dy, float *dx, const float *save,
                     int64_t B, int train);
void ref_maxpool_forward(const mt_layer *L, const float *x, float *y, int32_t *idx, int64_t B);
void ref_maxpool_backward(const mt_layer *L, const float *x, const float *dy, float *dx,
                          int64_t B);
void ref_avgpool_forward(const mt_layer *L, const float *x, float *y, int64_t B);
void ref_avgpool_backward(const mt_layer *L, const float *dy, float *dx, int64_t B);
void ref_act_forward(mt_layer_type t, const float *x, float *y, int64_t n);
void ref_act_backward(mt_layer_type t, const float *x, const float *dy, float *dx, int64_t n);

/* ---- architecture parsing (arch.c) ---- */
/* Parse one token into L (type, sizes, spec); in_c/in_t are the incoming shape; fills out_c/out_t
 * and counts.  nclasses resolves a bare "fc". */
mt_status nn_parse_token(const char *tok, mt_layer *L, int64_t in_c, int64_t in_t, int nclasses,
                         int is_last, mt_err *err);

/* ---- model internals (model.c) ---- */
mt_status nn_work_ensure(mt_model *m, int64_t B, mt_err *err);

/* ---- training internals (train.c) ---- */
/* FNV-1a 64 over bytes, chained from h (start with NN_FNV_INIT). */
#define NN_FNV_INIT 0xcbf29ce484222325ULL
uint64_t nn_fnv1a(uint64_t h, const void *p, size_t n);

#endif
