/* materia — private pieces shared by the two trainers: mt_train (src/nn/train.c) and the HWA
 * phase mt_hwa_train (src/aimc/hwa_train.c).  Library-internal, not installed: the validation
 * carve, checkpoint metadata, and the resumable training state (fingerprint, save, load, the
 * fresh-start-or-resume decision, per-epoch history).  Implemented in src/nn/train_util.c.
 *
 * A training state is a safetensors file: tensors params, buffers, opt_m, opt_v, best_params,
 * best_buffers (F32) and bn_count, best_bn_count (I64, [nlayers] num_batches_tracked), plus any
 * extra tensors of the caller (the HWA phase: its input ranges and their optimiser); metadata
 * "materia_state" = {"format": "materia-train-state", "version", "fingerprint", "epoch_done",
 * "best_epoch", "best_acc", "best_loss", "opt_t", "forward_id", "history"}.  It is written
 * atomically at the end of every epoch and continues a run only when its fingerprint (model
 * shape, options, data) equals the run's.
 */
#ifndef MATERIA_TRAIN_IMPL_H
#define MATERIA_TRAIN_IMPL_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "materia/features.h"
#include "materia/io.h"
#include "materia/nn.h"

/* Monotonic wall clock in seconds. */
double nn_now_s(void);

/* Index of the largest of z[0..n) (the first one on ties). */
static inline int nn_argmax(const float *z, int64_t n)
{
    int best = 0;
    for (int64_t k = 1; k < n; k++)
        if (z[k] > z[best]) best = (int)k;
    return best;
}

/* Range checks of the options both trainers share (epochs, batch, lr, wd, val_frac, clip). */
mt_status nn_train_opts_check(const mt_train_opts *o, mt_err *err);

/* Batches per epoch for ntr training items: a trailing batch of one item is dropped
 * (BatchNorm needs two). */
static inline int64_t nn_batches(int64_t ntr, int64_t bs) { return ntr / bs + ((ntr % bs) >= 2 ? 1 : 0); }

/* The learning rate (and the cycled momentum: SGD momentum or AdamW β1) of optimiser step
 * `step` from the schedule, set on opt; returns the learning rate. */
double nn_sched_apply(const mt_sched *sch, const mt_train_opts *o, int64_t step, mt_optim *opt);

/* ---- splits -------------------------------------------------------------------------------- */

typedef struct nn_splits {
    int8_t *role;          /* [n] MT_SPLIT_* of every item after the validation carve */
    int *tr, *va, *te;     /* [n] item indices by role, in item order */
    int64_t ntr, nva, nte;
    int carved;            /* 1: the validation items were carved from train */
} nn_splits;

/* Roles from f->split (all TRAIN without one); when no item is VAL and val_frac > 0, a
 * stratified validation carve: per class, a shuffle of its training items from stream
 * (seed, 0x7A110000 + class) and the first round(val_frac·n_c) of them (never all) become VAL.
 * Fails when fewer than 2 items are left for training and, with need_all_classes, when one of
 * the nc classes has no training item. */
mt_status nn_splits_make(const mt_features *f, int nc, double val_frac, uint64_t seed,
                         int need_all_classes, nn_splits *s, mt_err *err);
void nn_splits_free(nn_splits *s);
/* perm[0..ntr) = the training items in epoch e's order: a shuffle from stream
 * (seed, 0x5EED0000 + e), so any epoch's order is known without the ones before it. */
void nn_epoch_order(const nn_splits *s, uint64_t seed, int e, int *perm);

/* ---- checkpoint metadata ------------------------------------------------------------------- */

typedef struct nn_train_state nn_train_state;

/* The "materia" metadata object text (malloc'd, NULL when out of memory) of a trainer's
 * checkpoint: model name, class names, rate, seed, "training" {phase (when not NULL), epochs,
 * epochs_done, batch, lr, wd, schedule, optimizer, best_epoch, n_train, n_val, n_test,
 * val_source, val_accuracy, val and test (when given and not empty)}, features_config. */
char *nn_checkpoint_meta(const mt_features *f, const mt_train_opts *o, const char *phase,
                         const nn_train_state *ts, const nn_splits *sp, const mt_eval_result *val,
                         const mt_eval_result *test);

/* ---- resumable training state -------------------------------------------------------------- */

struct nn_train_state {
    int epoch_done;                    /* completed epochs */
    int best_epoch;                    /* 1-based, 0 before the first */
    double best_acc, best_loss;        /* validation figures of the best epoch (−1, +inf before) */
    int64_t opt_t;                     /* optimiser steps */
    uint64_t forward_id;               /* m->forward_id */
    float *best_params, *best_buffers; /* [nparams], [nbuffers] */
    int64_t *bn_count, *best_bn_count; /* [nlayers] num_batches_tracked */
    cJSON *hist;                       /* array of per-epoch arrays (nn_hist_push) */
};

/* Epoch e's entry (0-based e) from its training figures (validation: nn_epoch_judge). */
void nn_epoch_stats_init(mt_epoch_stats *es, int e, int epochs, double loss_sum, int64_t correct,
                         int64_t count, double lr);
/* The validation figures of es from ev, and whether they improve on the best so far (higher
 * accuracy, or equal accuracy and lower loss).  Without validation (ev NULL) every epoch is kept. */
void nn_epoch_judge(mt_epoch_stats *es, const nn_train_state *ts, const mt_eval_result *ev);
/* es is the best epoch: remember its number, validation figures and m's weights, buffers and
 * BatchNorm counters. */
void nn_keep_best(nn_train_state *ts, const mt_model *m, const mt_epoch_stats *es, int has_val);
/* Put the best epoch's weights, buffers and BatchNorm counters back into m. */
void nn_restore_best(const nn_train_state *ts, mt_model *m);
/* The result's figures after training: best epoch and validation accuracy (NaN without
 * validation), throughput over t_train seconds and `seen` samples, the history. */
mt_status nn_result_finish(mt_train_result *r, const nn_train_state *ts, int has_val, double t_train,
                           int64_t seen, mt_err *err);

/* Allocate for m: best weights = m's current ones, best_acc −1, best_loss +inf, bn counts 0. */
mt_status nn_train_state_init(nn_train_state *ts, const mt_model *m, mt_err *err);
void nn_train_state_free(nn_train_state *ts);

/* One more tensor of a caller's state: a 1-D array of len entries of dtype at data, written by
 * nn_state_save and overwritten in place by a matching nn_state_resume. */
typedef struct nn_state_extra {
    const char *name;
    mt_dtype dtype;       /* MT_F32 or MT_I64 */
    int64_t len;          /* >= 1 */
    void *data;
} nn_state_extra;

/* Everything that must match for a state file to continue this run: arch, input shape,
 * classes, seed, the training options and a hash of the data (labels and split in full, the
 * features at a stride).  Callers add their own keys (the HWA phase: its options and a hash of
 * the starting weights).  NULL when out of memory. */
cJSON *nn_fingerprint(const mt_model *m, const mt_features *f, const mt_train_opts *o);

/* FNV-1a hash of m's parameters, buffers and BatchNorm counters (a fingerprint entry for runs
 * that start from given weights). */
uint64_t nn_weights_hash(const mt_model *m);

/* Append epoch e's figures to hist (as an array of 9 numbers; NaN is stored as null). */
void nn_hist_push(cJSON *hist, const mt_epoch_stats *e);
/* r->hist / r->nhist from the history array. */
mt_status nn_hist_to_result(const cJSON *hist, mt_train_result *r, mt_err *err);

/* Write the state of the run (m's parameters, buffers and BN counters, opt's moments, ts, the
 * extra tensors) to path, atomically. */
mt_status nn_state_save(const char *path, const mt_model *m, const mt_optim *opt, nn_train_state *ts,
                        const cJSON *fp, const nn_state_extra *x, int nx, mt_err *err);

/* The fresh-start-or-resume decision of o->state_path / o->resume: with resume ≥ 1 and a state
 * file whose fingerprint equals fp, load it into m (parameters, buffers, BN counters,
 * forward_id), opt (moments, t), ts and the extra tensors, and set r->resumed_from; a state of
 * another run is left alone (r->state_mismatch = 1) with resume = 1 and refused
 * (MT_ERR_STATE) with resume = 2; resume = 2 without a state file is MT_ERR_IO.  A malformed
 * state file is MT_ERR_FORMAT (nothing is changed then). */
mt_status nn_state_resume(const mt_train_opts *o, mt_model *m, mt_optim *opt, nn_train_state *ts,
                          const cJSON *fp, const nn_state_extra *x, int nx, mt_train_result *r,
                          mt_err *err);

#endif
