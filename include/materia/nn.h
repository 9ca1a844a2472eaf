/* materia — the classifier engine: 1-D CNN layers, models, training and evaluation in C.
 *
 * Shapes: one utterance is [C, T] (channels × time samples); a batch is [B, C, T], C-ordered
 * (PyTorch's NCL layout).  Every layer is a forward/backward pair (src/nn/kernels.c) with a naive
 * reference kernel beside the optimised one (src/nn/ref.c).
 *
 * Models are built from a short architecture string (grammar in docs/models.md), e.g.
 *     "bn,conv64k8,bn,tanh,maxpool4,gap,fc64,tanh,fc"
 * A bare "fc" at the end is the classifier with `nclasses` outputs; the network's output is
 * logits [B, nclasses] and the loss is log_softmax + NLL (= PyTorch CrossEntropyLoss).
 *
 * Memory (llm.c style): one flat arena holds every learnable parameter (params), one its gradient
 * (grads), and the optimiser keeps its moments in arenas of the same layout, so optimisers are
 * flat loops.  BatchNorm running statistics live in a separate buffer arena.  Activations and
 * per-thread scratch are allocated lazily on the first forward with a larger batch and then
 * reused: a training step allocates nothing.
 *
 * Threads and determinism: work is split over OpenMP threads by batch samples (per-thread
 * scratch), by channels (BatchNorm) or by output elements; weight gradients are summed per fixed
 * chunk of samples and the chunks reduced in a fixed order, so the same seed gives bit-identical
 * weights at any OMP_NUM_THREADS.  GEMMs run through OpenBLAS with OpenBLAS itself set to one
 * thread (mt_model_build calls openblas_set_num_threads(1), a process-wide setting).
 */
#ifndef MATERIA_NN_H
#define MATERIA_NN_H

#include <stdint.h>

#include "materia/error.h"
#include "materia/features.h"
#include "materia/progress.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* Layers                                                                                      */
/* ------------------------------------------------------------------------------------------ */

typedef enum mt_layer_type {
    MT_LAYER_CONV = 0,   /* Conv1d, weight [out_c, in_c, k], bias [out_c] */
    MT_LAYER_LINEAR,     /* Linear on the flattened [in_c*in_t] input, weight [out, in], bias */
    MT_LAYER_BN,         /* BatchNorm1d over channels (stats over batch and time), γ, β */
    MT_LAYER_MAXPOOL,    /* MaxPool1d(k, stride), floor, no padding */
    MT_LAYER_AVGPOOL,    /* AvgPool1d(k, stride), floor, no padding */
    MT_LAYER_GAP,        /* global average over time: [C, T] -> [C, 1] */
    MT_LAYER_TANH,
    MT_LAYER_RELU,
    MT_LAYER_SWISH,      /* x·σ(x) (SiLU) */
    MT_LAYER_LOGSIGMOID, /* log σ(x) = −softplus(−x) */
    MT_LAYER_DROPOUT,    /* inverted dropout with probability p (identity in eval) */
    MT_LAYER_SLICE,      /* x[:, c0:c1, t0:t1:tstep] (Python slice semantics) */
    MT_LAYER_NTYPES
} mt_layer_type;

const char *mt_layer_type_name(mt_layer_type t); /* "conv", "linear", "bn", ... */

typedef struct mt_layer {
    mt_layer_type type;
    char name[24];          /* checkpoint prefix: "conv0", "bn3", "fc1", ... ("" if no state) */
    char spec[48];          /* canonical grammar token, e.g. "conv64k8" or "maxpool4" */
    int64_t in_c, in_t;     /* input shape of one sample */
    int64_t out_c, out_t;   /* output shape of one sample */
    int k, stride, pad, dilation; /* conv (all) / pools (k, stride) */
    int64_t c0, c1, t0, t1, tstep; /* slice */
    float p;                /* dropout probability */
    int analog;             /* conv/linear: 1 = "analog-capable" (runs through hooks.matmul
                               when set); a client may clear it to keep a layer digital */
    /* Learnable parameters: views into mt_model.params / .grads (NULL when absent).
     * conv: w [out_c, in_c, k]; linear: w [out_c, in_c*in_t]; bn: w = γ [C], b = β [C]. */
    float *w, *b, *dw, *db;
    int64_t nw, nb;         /* element counts */
    float *running_mean, *running_var; /* bn: [C], views into mt_model.buffers */
    int64_t num_batches_tracked;       /* bn: PyTorch's counter (saved in checkpoints) */
    float bn_eps, bn_momentum;         /* bn: 1e-5, 0.1 (PyTorch defaults) */
    int64_t params;         /* learnable parameters of this layer */
    int64_t macs;           /* conv/linear multiply-accumulates per sample */
    int64_t bn_ops;         /* bn: 2 per output element (the profiler convention of the paper) */
} mt_layer;

/* ------------------------------------------------------------------------------------------ */
/* Hooks for analogue in-memory computing (materia/aimc.h builds on these)                     */
/* ------------------------------------------------------------------------------------------ */

/* Describes one matrix product that a hook may replace. */
typedef struct mt_matmul_call {
    const struct mt_model *model;
    int layer;              /* index into model->layers (an analog-capable conv or linear) */
    int64_t sample;         /* conv: batch row of this call; linear: -1 (whole batch at once) */
    int64_t batch;          /* batch size of the forward */
    int train;              /* 1 in a training forward */
    uint64_t forward_id;    /* counts forwards of this model (distinct noise per forward) */
} mt_matmul_call;

/* y[outs, cols] = W[outs, rows] · x[rows, cols], all C-ordered, WITHOUT bias (the engine adds
 * the digital bias afterwards).  Conv: x is the im2col matrix of one sample, row index
 * c·k + j (input channel c, kernel tap j), one column per output position; linear: x is the
 * transposed batch, rows = in features, cols = batch.  Called concurrently from several OpenMP
 * threads (one call per sample for convs): it must be thread-safe and should draw noise from a
 * stream derived from (layer, sample, forward_id) to stay deterministic.  Return MT_OK or an
 * error code (the forward then fails with that code). */
typedef mt_status (*mt_matmul_fn)(void *ctx, const mt_matmul_call *call, const float *w,
                                  const float *x, int64_t rows, int64_t cols, int64_t outs,
                                  float *y);

/* All optional (NULL = not used; the default path pays only a pointer test per layer).
 *  matmul        replaces W·x in the forward of every layer with layer.analog != 0, in training
 *                and in eval.  The backward pass treats it as the exact product with the
 *                weights in the arena (a straight-through estimator).
 *  pre_forward   called at the start of every mt_model_forward (e.g. save the clean weights and
 *                add programming/weight noise to the arena copy);
 *  post_backward called at the end of every mt_model_backward (e.g. restore the clean weights so
 *                that the noisy-weight gradients update them: straight-through);
 *  post_step     called by the trainer after every optimiser step (e.g. clip weights to ±kσ). */
typedef struct mt_nn_hooks {
    void *ctx;
    mt_matmul_fn matmul;
    mt_status (*pre_forward)(void *ctx, struct mt_model *m, int train);
    mt_status (*post_backward)(void *ctx, struct mt_model *m);
    mt_status (*post_step)(void *ctx, struct mt_model *m);
} mt_nn_hooks;

/* ------------------------------------------------------------------------------------------ */
/* Models                                                                                      */
/* ------------------------------------------------------------------------------------------ */

struct mt_nn_work; /* private: activations and scratch */

typedef struct mt_model {
    char *arch;             /* canonical architecture string (bare "fc" resolved to "fcN") */
    int64_t in_c, in_t;     /* input shape of one sample */
    int nclasses;           /* output features (out_c*out_t of the last layer) */
    int nlayers;
    mt_layer *layers;
    int64_t nparams;        /* learnable parameters (= sum of layer params) */
    float *params, *grads;  /* arenas [nparams] */
    int64_t nbuffers;
    float *buffers;         /* BatchNorm running stats */
    int64_t macs, bn_ops;   /* per sample totals */
    /* Settings the caller may change between calls: */
    int input_grad;         /* 1: backward also computes d/d(input) (mt_model_input_grad) */
    int reference;          /* 1: use the naive reference kernels (tests) */
    uint64_t seed;          /* seed of dropout masks */
    uint64_t step;          /* dropout masks are drawn from (seed, step, layer, sample) */
    uint64_t forward_id;    /* incremented by every mt_model_forward */
    mt_nn_hooks hooks;
    struct mt_nn_work *work;
} mt_model;

/* Parse an architecture string for inputs [in_c, in_t] and allocate the model.  nclasses is used
 * by a bare "fc" (the classifier); pass 0 when the string gives every size.  Parameters are
 * initialised like PyTorch (kaiming-uniform(a=√5) weights, uniform(±1/√fan_in) biases, γ=1, β=0,
 * running mean 0, var 1) from seeded streams.  Errors: syntax (naming the token), shapes that
 * vanish (naming the layer), out-of-range values. */
mt_status mt_model_build(mt_model *m, const char *arch, int64_t in_c, int64_t in_t, int nclasses,
                         uint64_t seed, mt_err *err);
void mt_model_free(mt_model *m);
/* Re-initialise all parameters and buffers from seed (as mt_model_build does). */
void mt_model_init_params(mt_model *m, uint64_t seed);
/* Copy parameters and BN buffers from src (same architecture). */
mt_status mt_model_copy_weights(mt_model *dst, const mt_model *src, mt_err *err);

/* Forward a batch x [B, in_c, in_t].  train=1: BatchNorm uses batch statistics and updates its
 * running stats, dropout is active.  The output [B, nclasses] stays valid until the next call. */
mt_status mt_model_forward(mt_model *m, const float *x, int64_t B, int train, mt_err *err);
const float *mt_model_output(const mt_model *m);
/* Backward from dout = d(loss)/d(output) [B, nclasses] of the last forward (which must have been
 * a training forward for BN/dropout semantics, or an eval forward for eval semantics).
 * ACCUMULATES into m->grads (call mt_model_zero_grad first). */
mt_status mt_model_backward(mt_model *m, const float *dout, mt_err *err);
void mt_model_zero_grad(mt_model *m);
/* d(loss)/d(input) [B, in_c, in_t] of the last backward when m->input_grad was set, else NULL. */
const float *mt_model_input_grad(const mt_model *m);

/* Mean NLL of log_softmax(logits) [B, n] for labels [B]; writes log-probabilities (logp, may be
 * NULL) and d(loss)/d(logits) = (softmax − onehot)/B (dlogits, may be NULL).  Returns the loss. */
double mt_nll_loss(const float *logits, const int32_t *labels, int64_t B, int64_t n, float *logp,
                   float *dlogits);

/* ------------------------------------------------------------------------------------------ */
/* Architecture strings and the zoo                                                            */
/* ------------------------------------------------------------------------------------------ */

typedef struct mt_zoo_entry {
    const char *name;       /* "hwa6" */
    const char *arch;       /* architecture string */
    int64_t in_c, in_t;     /* the paper's input shape */
    int classes;            /* the paper's class count */
    const char *about;      /* one line: source and paper figure */
} mt_zoo_entry;

/* The zoo, terminated by an entry with name == NULL. */
const mt_zoo_entry *mt_zoo(void);
const mt_zoo_entry *mt_zoo_find(const char *name);

/* Resolve --model: a zoo name, a .json file ({"arch": "...", "classes": N} or {"layers": [...]})
 * or an architecture string.  *arch is malloc'd; *classes is the default class count (0 when
 * unknown); *name (malloc'd, may be NULL to skip) is the zoo or file name, or "custom". */
mt_status mt_arch_resolve(const char *spec, char **arch, int *classes, char **name, mt_err *err);

/* ------------------------------------------------------------------------------------------ */
/* Optimisers and schedules (PyTorch semantics)                                               */
/* ------------------------------------------------------------------------------------------ */

typedef enum mt_opt_type { MT_OPT_ADAMW = 0, MT_OPT_SGD } mt_opt_type;

typedef struct mt_optim {
    mt_opt_type type;
    double lr;              /* current learning rate (set by the schedule before each step) */
    double beta1, beta2, eps; /* AdamW (beta1 doubles as SGD momentum when cycled) */
    double momentum, dampening; /* SGD */
    int nesterov;           /* SGD */
    double wd;              /* decoupled weight decay: p ← p·(1 − lr·wd) before the update */
    int64_t n;              /* parameters */
    int64_t t;              /* steps taken */
    float *m, *v;           /* AdamW first/second moments; SGD momentum buffer in m */
} mt_optim;

/* Defaults: AdamW β=(0.9, 0.999), eps 1e-8, wd 1e-2; SGD momentum 0.9, dampening 0. */
mt_status mt_optim_init(mt_optim *o, mt_opt_type type, int64_t nparams, mt_err *err);
void mt_optim_free(mt_optim *o);
/* One update of params from grads (arenas of o->n floats); increments o->t. */
void mt_optim_step(mt_optim *o, float *params, const float *grads);
/* Scale grads so that their global L2 norm is at most max_norm (PyTorch clip_grad_norm_);
 * returns the norm before clipping. */
double mt_grad_clip(float *grads, int64_t n, double max_norm);

typedef enum mt_sched_type { MT_SCHED_CONSTANT = 0, MT_SCHED_ONECYCLE, MT_SCHED_COSINE } mt_sched_type;

typedef struct mt_sched {
    mt_sched_type type;
    double max_lr;          /* constant: the lr; onecycle: max_lr; cosine: the initial lr */
    int64_t total_steps;    /* optimiser steps (batches × epochs) */
    double pct_start;       /* onecycle: 0.3 */
    double div_factor;      /* onecycle: 25 (initial lr = max_lr/25) */
    double final_div_factor; /* onecycle: 1e4 (final lr = initial/1e4) */
    int cycle_momentum;     /* onecycle: cycle β1 (AdamW) / momentum (SGD) between: */
    double base_momentum, max_momentum; /* 0.85, 0.95 */
    double eta_min;         /* cosine: final lr (0) */
} mt_sched;

mt_status mt_sched_parse(const char *name, mt_sched_type *out, mt_err *err);
const char *mt_sched_name(mt_sched_type t);
/* Defaults above for type, with max_lr and total_steps. */
void mt_sched_init(mt_sched *s, mt_sched_type type, double max_lr, int64_t total_steps);
/* Learning rate and momentum (β1) for optimiser step `step` (0-based); *momentum is left
 * untouched when the schedule does not cycle momentum. */
void mt_sched_at(const mt_sched *s, int64_t step, double *lr, double *momentum);

/* ------------------------------------------------------------------------------------------ */
/* Evaluation                                                                                  */
/* ------------------------------------------------------------------------------------------ */

typedef struct mt_eval_result {
    int64_t n;              /* utterances evaluated */
    int nclasses;
    double loss;            /* mean NLL */
    double accuracy;
    double weighted_f1;     /* F1 averaged with class support as weight (sklearn "weighted") */
    double macro_f1;
    int64_t *confusion;     /* [nclasses][nclasses]: row = true class, column = predicted */
    int64_t *support;       /* [nclasses] */
    double *recall, *precision, *f1; /* [nclasses]; 0 where undefined */
} mt_eval_result;

void mt_eval_result_free(mt_eval_result *r);
/* Metrics from predictions (pred, labels: [n]). */
mt_status mt_eval_metrics(const int32_t *pred, const int32_t *labels, int64_t n, int nclasses,
                          mt_eval_result *r, mt_err *err);
/* Evaluate (eval mode) the items of f whose split is `split` (-1: all) in batches of `batch`.
 * Checks shapes, labels and finite inputs. */
mt_status mt_model_evaluate(mt_model *m, const mt_features *f, int split, int batch,
                            mt_eval_result *r, mt_err *err);

/* ------------------------------------------------------------------------------------------ */
/* Training                                                                                    */
/* ------------------------------------------------------------------------------------------ */

typedef struct mt_epoch_stats {
    int epoch, epochs;      /* 1-based epoch just finished, total */
    double train_loss, train_acc; /* running means over the epoch's batches */
    double val_loss, val_acc;
    double lr;              /* learning rate of the epoch's last step */
    double seconds;         /* wall time of the epoch */
    int improved;           /* 1 if this epoch became the best checkpoint */
} mt_epoch_stats;

typedef struct mt_train_opts {
    int epochs;             /* 30 */
    int batch;              /* 32 */
    double lr;              /* max lr of the schedule (0.01) */
    double wd;              /* decoupled weight decay (1e-4) */
    mt_sched_type schedule; /* onecycle */
    mt_opt_type optimizer;  /* adamw */
    double momentum;        /* SGD momentum (0.9) */
    double clip_norm;       /* global gradient-norm clip, 0 = off */
    double val_frac;        /* carved from train when the set has no validation items (0.1) */
    uint64_t seed;          /* init, validation carve, shuffling, dropout */
    const char *out_path;   /* best checkpoint (written whenever validation improves and at the
                               end with test metrics), or NULL */
    const char *state_path; /* resumable training state (written every epoch), or NULL */
    int resume;             /* 0: start fresh; 1: resume when state_path matches this run;
                               2: resume or fail */
    const char *model_name; /* recorded in the checkpoint metadata (may be NULL) */
    void (*on_epoch)(void *ctx, const mt_epoch_stats *s); /* may be NULL */
    void *ctx;
    mt_progress progress;   /* batches of the current epoch */
} mt_train_opts;

void mt_train_opts_default(mt_train_opts *o);

typedef struct mt_train_result {
    int64_t n_train, n_val, n_test;
    int epochs_run;         /* epochs trained in this call */
    int resumed_from;       /* epochs already done by the resumed state (0 if fresh) */
    int state_mismatch;     /* 1: a state file existed but belonged to another run (ignored) */
    int best_epoch;         /* 1-based */
    double best_val_acc;
    mt_eval_result val, test; /* of the best checkpoint; test.n == 0 when there is no test split */
    double train_seconds, samples_per_s;
    int nhist;              /* per-epoch history (all epochs, resumed ones included) */
    mt_epoch_stats *hist;
} mt_train_result;

void mt_train_result_free(mt_train_result *r);

/* Train m on f: split = TRAIN items (minus a carved validation set when f has no VAL items),
 * model selection on validation accuracy (never the test split), the best weights are left in m
 * and written to opts->out_path with metadata; test metrics are computed for the best weights.
 * Rejects NaN/Inf inputs, labels out of range, classes without training items, and feature
 * shapes that do not match the model. */
mt_status mt_train(mt_model *m, const mt_features *f, const mt_train_opts *opts,
                   mt_train_result *r, mt_err *err);

/* ------------------------------------------------------------------------------------------ */
/* Checkpoints (safetensors)                                                                   */
/* ------------------------------------------------------------------------------------------ */

/* Tensors named like a PyTorch state_dict ("conv0.weight" [out,in,k], "bn0.running_mean", ...);
 * "__metadata__" holds "materia": a JSON object text with at least {"format": "materia-model",
 * "arch", "input": [C, T], "classes", "version"} plus whatever meta_json (an object text, may be
 * NULL) adds (training summary, class names, the feature set's config). */
mt_status mt_model_save(const mt_model *m, const char *path, const char *meta_json, mt_err *err);
/* Build the model described by the file and load its tensors.  Validates the metadata, every
 * tensor's presence, dtype and shape, rejects extra tensors and non-finite values.  *meta_json
 * (malloc'd, may be NULL to skip) receives the "materia" object text. */
mt_status mt_model_load(const char *path, mt_model *m, char **meta_json, mt_err *err);

/* ------------------------------------------------------------------------------------------ */
/* Info                                                                                        */
/* ------------------------------------------------------------------------------------------ */

/* Per-layer description as a JSON object text (malloc'd): {"arch", "input": [C,T], "classes",
 * "params", "macs", "macs_with_bn", "layers": [{"index","name","type","spec","in","out",
 * "params","macs","analog"}]}. */
char *mt_model_info_json(const mt_model *m);

#ifdef __cplusplus
}
#endif
#endif
