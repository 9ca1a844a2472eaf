/* materia — hardware-aware (HWA) training for the PCM chip: the paper's second training phase
 * (full precision first, then HWA retraining; Methods "AIMC"), with the forward semantics of
 * aihwkit-lightning's TorchLinear (shared/spec/paper-code.md §5.2), written out in docs/aimc.md
 * ("Hardware-aware training").
 *
 * Per analog layer (every conv/linear with layer.analog != 0).  A conv is its im2col matrix:
 * x [R = C_in·k rows, positions], one column per output position; a linear layer has one column.
 *
 *   IR      one learnable input range per layer, initialised from data over the first
 *           ir_init_batches training batches: IR ← (IR·n + ir_init_alpha·std(x))/(n+1)
 *   xc    = clamp(x, ±IR)                          backward: gradient 0 where |x| > IR
 *   xq    = round(xc/Δ)·Δ, Δ = 2·IR/(2^b − 2)      b = inp_bits (8: levels ±127, the chip's DAC);
 *                                                  backward: straight-through (identity)
 *   wmax_i = max_j |W_ij|                          per output row i (clean weights)
 *   W'    = W + weight_noise·wmax_i·N(0,1)         training only, fresh every forward (per sample
 *                                                  by default, or shared by the batch as in
 *                                                  aihwkit-lightning); gradients flow to W
 *   y     = W'·xq
 *   y_i  += out_noise·wmax_i·IR·N(0,1)             training only, per output element
 *   y_i   = clamp(round(y_i/Δo)·Δo, ±B_i)           optional ADC, B_i = out_bound·wmax_i·IR,
 *                                                  Δo = 2·B_i/(2^out_bits − 2); backward identity
 *   y    += b                                      digital bias
 *
 *   dL/dIR = IR·(Σ_{x ≥ IR} min(g, 0) − Σ_{x ≤ −IR} max(g, 0))
 *            + ir_decay·IR·[fraction of unclipped inputs > ir_min_pct]      g = dL/dxq
 *   after every optimiser step: W_i ← clamp(W_i, ±clip_sigma·std(W_i))    (unbiased row std)
 *
 * In eval mode there is no noise: the model is the digital model with clipped, 8-bit quantised
 * inputs (and the optional ADC), which is also what mt_hwa_matmul computes as an nn matmul hook.
 *
 * Why this module has its own trainer: the nn engine's hooks (materia/nn.h) replace the forward
 * product but back-propagate it as the exact product with the layer's raw input, and expose no
 * per-layer output gradient, so neither dL/dIR nor the clip mask can be computed through them.
 * An mt_hwa_net therefore cuts the model at its analog layers: runs of digital layers become
 * sub-models run by the nn engine (with their input gradient on), the analog layers run here
 * (forward and exact backward, with a naive reference beside the BLAS path).  All parameters
 * stay in the caller's mt_model; the optimiser, schedule and checkpoints are the nn engine's.
 *
 * Randomness: weight noise of layer l in forward f comes from stream (seed, l, f, sample) (or
 * (seed, l, f, row) when shared by the batch), output noise from (seed, l, sample, f), so
 * training is bit-identical at any thread count.
 */
#ifndef MATERIA_HWA_H
#define MATERIA_HWA_H

#include <stdint.h>

#include "materia/error.h"
#include "materia/features.h"
#include "materia/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_hwa_opts {
    double weight_noise;   /* σ_w relative to the row's max |w| (0.12, the paper's figure) */
    int noise_per_sample;  /* 1: every sample of a batch draws its own weight noise (default);
                              0: one draw per forward shared by the batch (aihwkit-lightning).
                              With a shared draw, training-mode BatchNorm removes the channel
                              shift the noise causes, so the model never learns to tolerate it
                              (docs/aimc.md); per sample it cannot. */
    double out_noise;      /* σ_out relative to wmax_i·IR (0.1, the paper's code) */
    double clip_sigma;     /* clip rows to ±clip_sigma·std after every step (1.5); 0 = off */
    int inp_bits;          /* input DAC bits (8); 0 = clip only, no quantisation */
    double out_bound;      /* ADC range relative to wmax_i·IR; 0 = no bound (default) */
    int out_bits;          /* ADC bits; 0 = no output quantisation (default); needs out_bound */
    int learn_ir;          /* 1: IR is learned with the gradient above (default); 0: data init only */
    int ir_init_batches;   /* training batches that initialise IR from data (100) */
    double ir_init_alpha;  /* IR = alpha·std(x) (3.0) */
    double ir_init_value;  /* IR before any data (3.0) */
    double ir_decay;       /* shrinks IR while fewer than (1 − ir_min_pct) inputs clip (0.15, the
                              paper's code; aihwkit-lightning's default is 0.001) */
    double ir_min_pct;     /* 0.95 */
    int bn_recal;          /* BatchNorm running statistics before every validation: 1 = recomputed
                              as the exact average over one noise-free pass over the training
                              items (default; see docs/aimc.md), 0 = the running averages of the
                              noisy training forwards (aihwkit-lightning) */
    const char *from;      /* recorded in the checkpoint metadata (the full-precision model), or NULL */
} mt_hwa_opts;

void mt_hwa_opts_default(mt_hwa_opts *o);
/* Range checks; one line naming the bad field. */
mt_status mt_hwa_opts_check(const mt_hwa_opts *o, mt_err *err);

/* ------------------------------------------------------------------------------------------ */
/* The HWA network over a model                                                                */
/* ------------------------------------------------------------------------------------------ */

typedef struct mt_hwa_net mt_hwa_net;

/* Split m at its analog layers (fails with MT_ERR_ARG if it has none).  m must outlive the net;
 * its parameters are read at every forward and its gradients written by every backward.  The
 * sub-models take m's BatchNorm statistics now (and again at mt_hwa_net_load). */
mt_status mt_hwa_net_new(mt_hwa_net **out, mt_model *m, const mt_hwa_opts *o, uint64_t seed,
                         mt_err *err);
void mt_hwa_net_free(mt_hwa_net *h);
/* Naive reference kernels for the analog layers and the sub-models (tests). */
void mt_hwa_net_set_reference(mt_hwa_net *h, int on);

/* Input ranges, [m->nlayers] indexed by layer (0 for digital layers); writable. */
float *mt_hwa_net_ranges(mt_hwa_net *h);
/* Gradients of the last backward(s), accumulated until mt_hwa_net_zero_grad, [m->nlayers]:
 * the aihwkit-lightning rule above (what the trainer uses), and the exact derivative of the
 * clamp Σ_{x≥IR} g − Σ_{x≤−IR} g (straight-through quantiser, no decay; for checks). */
const double *mt_hwa_net_range_grads(const mt_hwa_net *h);
const double *mt_hwa_net_range_grads_exact(const mt_hwa_net *h);
/* Training batches that have initialised layer l's range so far. */
int64_t mt_hwa_net_range_updates(const mt_hwa_net *h, int layer);
void mt_hwa_net_set_range_updates(mt_hwa_net *h, int layer, int64_t n);

/* Forward a batch x [B, in_c, in_t] (x must stay valid until the backward).  train = 1: noise,
 * batch statistics, range initialisation; train = 0: the deterministic quantised model. */
mt_status mt_hwa_net_forward(mt_hwa_net *h, const float *x, int64_t B, int train, mt_err *err);
const float *mt_hwa_net_output(const mt_hwa_net *h); /* [B, nclasses] */
/* Backward from dout [B, nclasses]: ACCUMULATES into m->grads and the range gradients. */
mt_status mt_hwa_net_backward(mt_hwa_net *h, const float *dout, mt_err *err);
/* Zero m->grads and the range gradients. */
void mt_hwa_net_zero_grad(mt_hwa_net *h);
/* Copy m's BatchNorm statistics into the sub-models (after replacing m's weights) / the
 * sub-models' statistics back into m (before evaluating or saving m). */
void mt_hwa_net_load(mt_hwa_net *h);
void mt_hwa_net_store(mt_hwa_net *h);
/* A BatchNorm calibration forward: the digital runs in training mode with BN momentum
 * 1/(k+1) (so batches k = 0, 1, ... give the exact average of their statistics), the analog
 * layers noise-free with fixed ranges. */
mt_status mt_hwa_net_calibrate(mt_hwa_net *h, const float *x, int64_t B, int64_t k, mt_err *err);
/* Weight noise / output noise draws per forward come from this counter (saved with a run). */
uint64_t mt_hwa_net_forward_id(const mt_hwa_net *h);

/* Clip every analog layer's weight rows to ±sigma·std(row) (unbiased); sigma ≤ 0: nothing. */
void mt_hwa_clip_weights(mt_model *m, double sigma);

/* ------------------------------------------------------------------------------------------ */
/* The trained model without noise, as an nn matmul hook                                       */
/* ------------------------------------------------------------------------------------------ */

typedef struct mt_hwa_infer {
    const float *ranges;   /* [m->nlayers]; ≤ 0: that layer's input is not clipped or quantised */
    int inp_bits;
    double out_bound;
    int out_bits;
} mt_hwa_infer;

/* mt_matmul_fn with ctx = const mt_hwa_infer *: y = W·xq (+ ADC), deterministic in training and
 * eval forwards alike.  Install as m->hooks.matmul (hooks.ctx = the mt_hwa_infer). */
mt_status mt_hwa_matmul(void *ctx, const mt_matmul_call *call, const float *w, const float *x,
                        int64_t rows, int64_t cols, int64_t outs, float *y);

/* ------------------------------------------------------------------------------------------ */
/* Training                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/* The HWA phase: train m (usually loaded from a full-precision checkpoint) on f with the
 * semantics above, with everything else as mt_train does it (same validation carve for the same
 * seed, shuffles, schedule, optimiser, gradient clipping, model selection on validation accuracy
 * of the noise-free quantised model, test metrics of the best epoch, progress and on_epoch).  The
 * best weights are left in m and written to o->out_path with the metadata of mt_hwa_meta_add.
 * ranges_out (may be NULL) receives the best epoch's input ranges [m->nlayers].
 * o->state_path / o->resume as mt_train: the state written every epoch adds the HWA state (input
 * ranges, their data-initialisation counts and optimiser moments, the noise streams' forward
 * counter), and its fingerprint adds the options h (not h->from) and a hash of m's starting
 * weights, so a resumed run ends bit-identical to an uninterrupted one and the state of another
 * run is ignored (resume 1) or refused (resume 2, MT_ERR_STATE). */
mt_status mt_hwa_train(mt_model *m, const mt_features *f, const mt_hwa_opts *h,
                       const mt_train_opts *o, float *ranges_out, mt_train_result *r, mt_err *err);

/* ------------------------------------------------------------------------------------------ */
/* Checkpoint metadata                                                                         */
/* ------------------------------------------------------------------------------------------ */

/* meta_json (an object text, may be NULL) plus "hwa": {"weight_noise", "out_noise", "clip_sigma",
 * "inp_bits", "out_bound", "out_bits", "ir_decay", ..., "from", "input_ranges": {"conv0": IR,
 * ...}} keyed by layer name.  Returns malloc'd text, or NULL (out of memory / meta_json not an
 * object). */
char *mt_hwa_meta_add(const char *meta_json, const mt_model *m, const mt_hwa_opts *o,
                      const float *ranges);
/* Read the learned ranges of m's analog layers from checkpoint metadata into ranges[nlayers]
 * (0 where none), and the HWA DAC/ADC settings into *inf_opts (may be NULL; its ranges pointer
 * is set to `ranges`).  *found = number of layers with a range (0: not an HWA checkpoint).
 * MT_ERR_FORMAT when an "hwa" entry exists but is malformed or names an unknown layer. */
mt_status mt_hwa_ranges_from_meta(const char *meta_json, const mt_model *m, float *ranges,
                                  mt_hwa_infer *inf_opts, int *found, mt_err *err);

#ifdef __cplusplus
}
#endif
#endif
