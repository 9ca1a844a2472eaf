/* Training loop and evaluation metrics.
 *
 * Model selection uses a validation split carved from the training data (or the feature set's
 * own validation items) — never the test split, which the public code used for checkpointing.
 * Randomness: the validation carve, each epoch's shuffle and dropout masks come from streams
 * derived from (seed, epoch / step), so an interrupted run resumed from its state file continues
 * bit-identically: the state file holds parameters, BN buffers, optimiser moments, the best
 * weights so far, counters and the history (nn/train_impl.h; shared with the HWA phase).
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "materia/rng.h"
#include "nn/nn_impl.h"
#include "nn/train_impl.h"

void mt_train_opts_default(mt_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->epochs = 30;
    o->batch = 32;
    o->lr = 0.01;
    o->wd = 1e-4;
    o->schedule = MT_SCHED_ONECYCLE;
    o->optimizer = MT_OPT_ADAMW;
    o->momentum = 0.9;
    o->clip_norm = 0.0;
    o->val_frac = 0.1;
    o->seed = 0;
    o->resume = 1;
}

/* ---------------------------------------------------------------------------------------- */
/* Metrics                                                                                   */
/* ---------------------------------------------------------------------------------------- */

void mt_eval_result_free(mt_eval_result *r)
{
    if (!r) return;
    free(r->confusion);
    free(r->support);
    free(r->recall);
    free(r->precision);
    free(r->f1);
    memset(r, 0, sizeof *r);
}

mt_status mt_eval_metrics(const int32_t *pred, const int32_t *labels, int64_t n, int nc,
                          mt_eval_result *r, mt_err *err)
{
    memset(r, 0, sizeof *r);
    if (nc < 1) return mt_err_set(err, MT_ERR_ARG, "metrics: no classes");
    r->n = n;
    r->nclasses = nc;
    r->confusion = calloc((size_t)nc * (size_t)nc, sizeof(int64_t));
    r->support = calloc((size_t)nc, sizeof(int64_t));
    r->recall = calloc((size_t)nc, sizeof(double));
    r->precision = calloc((size_t)nc, sizeof(double));
    r->f1 = calloc((size_t)nc, sizeof(double));
    if (!r->confusion || !r->support || !r->recall || !r->precision || !r->f1) {
        mt_eval_result_free(r);
        return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    }
    int64_t correct = 0;
    for (int64_t i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= nc || pred[i] < 0 || pred[i] >= nc) {
            mt_eval_result_free(r);
            return mt_err_set(err, MT_ERR_DATA, "metrics: label or prediction out of range at %lld",
                              (long long)i);
        }
        r->confusion[(int64_t)labels[i] * nc + pred[i]]++;
        correct += labels[i] == pred[i];
    }
    r->accuracy = n ? (double)correct / (double)n : 0.0;
    double wsum = 0, msum = 0;
    int mcount = 0;
    for (int c = 0; c < nc; c++) {
        int64_t tp = r->confusion[(int64_t)c * nc + c], sup = 0, predc = 0;
        for (int k = 0; k < nc; k++) {
            sup += r->confusion[(int64_t)c * nc + k];
            predc += r->confusion[(int64_t)k * nc + c];
        }
        r->support[c] = sup;
        r->recall[c] = sup ? (double)tp / (double)sup : 0.0;
        r->precision[c] = predc ? (double)tp / (double)predc : 0.0;
        double pr = r->precision[c] + r->recall[c];
        r->f1[c] = pr > 0 ? 2.0 * r->precision[c] * r->recall[c] / pr : 0.0;
        wsum += (double)sup * r->f1[c];
        if (sup || predc) {
            msum += r->f1[c];
            mcount++;
        }
    }
    r->weighted_f1 = n ? wsum / (double)n : 0.0;
    r->macro_f1 = mcount ? msum / mcount : 0.0;
    return MT_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Data checks and batches                                                                   */
/* ---------------------------------------------------------------------------------------- */

static mt_status check_features(const mt_model *m, const mt_features *f, mt_err *err)
{
    if (!f || !f->x || f->n < 1) return mt_err_set(err, MT_ERR_DATA, "feature set is empty");
    if (f->c != m->in_c || f->t != m->in_t)
        return mt_err_set(err, MT_ERR_DATA,
                          "feature shape %lldx%lld does not match the model input %lldx%lld",
                          (long long)f->c, (long long)f->t, (long long)m->in_c, (long long)m->in_t);
    if (f->nclasses > 0 && f->nclasses != m->nclasses)
        return mt_err_set(err, MT_ERR_DATA, "feature set has %d classes but the model outputs %d",
                          f->nclasses, m->nclasses);
    for (int64_t i = 0; i < f->n; i++) {
        if (f->labels[i] < 0 || f->labels[i] >= m->nclasses)
            return mt_err_set(err, MT_ERR_DATA, "item %lld: label %d out of range 0..%d", (long long)i,
                              f->labels[i], m->nclasses - 1);
        if (f->split && (f->split[i] < MT_SPLIT_TRAIN || f->split[i] > MT_SPLIT_TEST))
            return mt_err_set(err, MT_ERR_DATA, "item %lld: invalid split code %d", (long long)i,
                              f->split[i]);
    }
    /* finite inputs: find the first offending utterance */
    const int64_t per = f->c * f->t;
    int64_t bad = f->n;
#pragma omp parallel for schedule(static) reduction(min : bad)
    for (int64_t i = 0; i < f->n; i++) {
        const float *x = f->x + i * per;
        for (int64_t k = 0; k < per; k++)
            if (!isfinite(x[k])) {
                if (i < bad) bad = i;
                break;
            }
    }
    if (bad < f->n)
        return mt_err_set(err, MT_ERR_DATA, "item %lld%s%s: features hold NaN or Inf", (long long)bad,
                          f->files && f->files[bad] ? " " : "", f->files && f->files[bad] ? f->files[bad] : "");
    return MT_OK;
}

static void gather(const mt_features *f, const int *idx, int64_t n, float *xb, int32_t *yb)
{
    const int64_t per = f->c * f->t;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        memcpy(xb + i * per, f->x + (int64_t)idx[i] * per, (size_t)per * sizeof(float));
        yb[i] = f->labels[idx[i]];
    }
}

/* Evaluate items idx[0..n) in eval mode; xb/yb are batch buffers of `batch` items. */
static mt_status eval_items(mt_model *m, const mt_features *f, const int *idx, int64_t n, int batch,
                            float *xb, int32_t *yb, mt_eval_result *r, mt_err *err)
{
    int32_t *pred = calloc((size_t)(n ? n : 1), sizeof *pred);
    int32_t *lab = calloc((size_t)(n ? n : 1), sizeof *lab);
    if (!pred || !lab) {
        free(pred);
        free(lab);
        return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    }
    double loss = 0;
    mt_status s = MT_OK;
    for (int64_t o = 0; o < n && !s; o += batch) {
        int64_t B = n - o < batch ? n - o : batch;
        gather(f, idx + o, B, xb, yb);
        s = mt_model_forward(m, xb, B, 0, err);
        if (s) break;
        const float *z = mt_model_output(m);
        loss += mt_nll_loss(z, yb, B, m->nclasses, NULL, NULL) * (double)B;
        for (int64_t b = 0; b < B; b++) {
            pred[o + b] = nn_argmax(z + b * m->nclasses, m->nclasses);
            lab[o + b] = yb[b];
        }
    }
    if (!s) s = mt_eval_metrics(pred, lab, n, m->nclasses, r, err);
    if (!s) r->loss = n ? loss / (double)n : 0.0;
    free(pred);
    free(lab);
    return s;
}

mt_status mt_model_evaluate(mt_model *m, const mt_features *f, int split, int batch,
                            mt_eval_result *r, mt_err *err)
{
    memset(r, 0, sizeof *r);
    mt_status s = check_features(m, f, err);
    if (s) return s;
    if (batch < 1) batch = 32;
    int *idx = malloc((size_t)f->n * sizeof *idx);
    float *xb = malloc((size_t)(batch * f->c * f->t) * sizeof(float));
    int32_t *yb = malloc((size_t)batch * sizeof *yb);
    if (!idx || !xb || !yb) {
        s = mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    } else {
        int64_t n = 0;
        for (int64_t i = 0; i < f->n; i++)
            if (split < 0 || (f->split && f->split[i] == split) || (!f->split && split == MT_SPLIT_TRAIN))
                idx[n++] = (int)i;
        if (n == 0) s = mt_err_set(err, MT_ERR_DATA, "no items in the requested split");
        else s = eval_items(m, f, idx, n, batch, xb, yb, r, err);
    }
    free(idx);
    free(xb);
    free(yb);
    return s;
}


/* ---------------------------------------------------------------------------------------- */
/* Train                                                                                     */
/* ---------------------------------------------------------------------------------------- */

void mt_train_result_free(mt_train_result *r)
{
    if (!r) return;
    mt_eval_result_free(&r->val);
    mt_eval_result_free(&r->test);
    free(r->hist);
    memset(r, 0, sizeof *r);
}

mt_status mt_train(mt_model *m, const mt_features *f, const mt_train_opts *o, mt_train_result *r,
                   mt_err *err)
{
    memset(r, 0, sizeof *r);
    mt_status s = nn_train_opts_check(o, err);
    if (s) return s;
    s = check_features(m, f, err);
    if (s) return s;
    const int nc = m->nclasses;
    const int64_t per = f->c * f->t;

    int *perm = malloc((size_t)f->n * sizeof *perm);
    float *xb = malloc((size_t)(o->batch * per) * sizeof(float));
    int32_t *yb = malloc((size_t)o->batch * sizeof *yb);
    float *dlog = malloc((size_t)(o->batch * nc) * sizeof(float));
    nn_splits sp;
    nn_train_state ts;
    mt_optim opt;
    memset(&sp, 0, sizeof sp);
    memset(&ts, 0, sizeof ts);
    memset(&opt, 0, sizeof opt);
    cJSON *fp = NULL;
    char *meta = NULL;
    if (!perm || !xb || !yb || !dlog) {
        s = mt_err_set(err, MT_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((s = nn_train_state_init(&ts, m, err))) goto done;

    /* ---- splits ---- */
    if ((s = nn_splits_make(f, nc, o->val_frac, o->seed, 1, &sp, err))) goto done;
    const int64_t ntr = sp.ntr, nva = sp.nva, nte = sp.nte;
    r->n_train = ntr;
    r->n_val = nva;
    r->n_test = nte;

    /* ---- optimiser, schedule ---- */
    const int64_t bs = o->batch;
    const int64_t nb = nn_batches(ntr, bs);
    s = mt_optim_init(&opt, o->optimizer, m->nparams, err);
    if (s) goto done;
    opt.wd = o->wd;
    opt.momentum = o->momentum;
    mt_sched sch;
    mt_sched_init(&sch, o->schedule, o->lr, nb * (int64_t)o->epochs);

    /* ---- fresh start or resume ---- */
    fp = nn_fingerprint(m, f, o);
    if (!fp) {
        s = mt_err_set(err, MT_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((s = nn_state_resume(o, m, &opt, &ts, fp, NULL, 0, r, err))) goto done;

    /* ---- epochs ---- */
    double t_train = 0;
    int64_t seen = 0;
    char stage[64];
    for (int e = ts.epoch_done; e < o->epochs; e++) {
        double t0 = nn_now_s();
        nn_epoch_order(&sp, o->seed, e, perm);
        double loss_sum = 0, lr = o->lr;
        int64_t correct = 0, count = 0;
        snprintf(stage, sizeof stage, "epoch %d/%d", e + 1, o->epochs);
        for (int64_t bi = 0; bi < nb; bi++) {
            int64_t B = (bi + 1) * bs <= ntr ? bs : ntr - bi * bs;
            int64_t step = (int64_t)e * nb + bi;
            lr = nn_sched_apply(&sch, o, step, &opt);
            gather(f, perm + bi * bs, B, xb, yb);
            m->step = (uint64_t)step;
            s = mt_model_forward(m, xb, B, 1, err);
            if (s) goto done;
            const float *z = mt_model_output(m);
            double l = mt_nll_loss(z, yb, B, nc, NULL, dlog);
            if (!isfinite(l)) {
                s = mt_err_set(err, MT_ERR_DATA, "training diverged (loss %g) at epoch %d; lower --lr", l, e + 1);
                goto done;
            }
            for (int64_t b = 0; b < B; b++) correct += nn_argmax(z + b * nc, nc) == yb[b];
            loss_sum += l * (double)B;
            count += B;
            mt_model_zero_grad(m);
            s = mt_model_backward(m, dlog, err);
            if (s) goto done;
            if (o->clip_norm > 0) mt_grad_clip(m->grads, m->nparams, o->clip_norm);
            mt_optim_step(&opt, m->params, m->grads);
            if (m->hooks.post_step) {
                s = m->hooks.post_step(m->hooks.ctx, m);
                if (s) {
                    mt_err_prefix(err, s, "post-step hook");
                    goto done;
                }
            }
            mt_progress_report(&o->progress, stage, bi + 1, nb);
        }
        double t1 = nn_now_s();
        t_train += t1 - t0;
        seen += count;
        /* validation (eval mode) */
        mt_epoch_stats es;
        nn_epoch_stats_init(&es, e, o->epochs, loss_sum, correct, count, lr);
        if (nva > 0) {
            mt_eval_result ev;
            s = eval_items(m, f, sp.va, nva, (int)bs, xb, yb, &ev, err);
            if (s) goto done;
            nn_epoch_judge(&es, &ts, &ev);
            mt_eval_result_free(&ev);
        } else {
            nn_epoch_judge(&es, &ts, NULL);
        }
        es.seconds = nn_now_s() - t0;
        ts.epoch_done = e + 1;
        ts.opt_t = opt.t;
        ts.forward_id = m->forward_id;
        if (es.improved) {
            nn_keep_best(&ts, m, &es, nva > 0);
            if (o->out_path) { /* best so far, so that an interrupted run leaves a usable model */
                meta = nn_checkpoint_meta(f, o, NULL, &ts, &sp, NULL, NULL);
                s = meta ? mt_model_save(m, o->out_path, meta, err)
                         : mt_err_set(err, MT_ERR_NOMEM, "out of memory");
                free(meta);
                meta = NULL;
                if (s) goto done;
            }
        }
        nn_hist_push(ts.hist, &es);
        if (o->on_epoch) o->on_epoch(o->ctx, &es);
        if (o->state_path) {
            s = nn_state_save(o->state_path, m, &opt, &ts, fp, NULL, 0, err);
            if (s) goto done;
        }
        r->epochs_run++;
    }

    /* ---- best weights, final metrics, checkpoint ---- */
    nn_restore_best(&ts, m);
    if (nva > 0) {
        s = eval_items(m, f, sp.va, nva, (int)bs, xb, yb, &r->val, err);
        if (s) goto done;
    }
    if (nte > 0) {
        s = eval_items(m, f, sp.te, nte, (int)bs, xb, yb, &r->test, err);
        if (s) goto done;
    }
    if ((s = nn_result_finish(r, &ts, nva > 0, t_train, seen, err))) goto done;
    if (o->out_path) {
        meta = nn_checkpoint_meta(f, o, NULL, &ts, &sp, &r->val, &r->test);
        if (!meta) {
            s = mt_err_set(err, MT_ERR_NOMEM, "out of memory");
            goto done;
        }
        s = mt_model_save(m, o->out_path, meta, err);
    }
done:
    if (s) mt_train_result_free(r);
    free(meta);
    cJSON_Delete(fp);
    nn_train_state_free(&ts);
    nn_splits_free(&sp);
    mt_optim_free(&opt);
    free(perm);
    free(xb);
    free(yb);
    free(dlog);
    return s;
}
