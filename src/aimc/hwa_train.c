/* The HWA training phase: mt_train's loop (same validation carve, shuffles, schedule, optimiser,
 * model selection, checkpoint, resumable state; the shared pieces are in nn/train_impl.h) around
 * an mt_hwa_net, with the input ranges as extra learnable parameters (their own optimiser state,
 * same optimiser type, learning rate, schedule and weight decay: aihwkit-lightning keeps them in
 * model.parameters()), and the weights clipped per row after every step.  Validation and test
 * use the noise-free quantised model (mt_hwa_matmul).
 *
 * Resume: the state file is mt_train's (parameters, BatchNorm statistics of the sub-models
 * stored into the model, optimiser moments, best weights, counters, history) plus the HWA
 * state carried from step to step: the input ranges [nlayers] (current and best), their
 * data-initialisation counts, their optimiser's moments [analog layers], the network's forward
 * counter (the weight- and output-noise streams) and the range optimiser's step count.  Shuffles
 * and dropout derive from (seed, epoch / step), so nothing else is needed for a bit-identical
 * continuation.  The fingerprint adds the HWA options and a hash of the starting weights. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aimc/hwa_impl.h"
#include "nn/train_impl.h"

#define IR_FLOOR 1e-6f /* an input range never reaches 0 or below (the clamp would be undefined) */

/* Checkpoint metadata: the nn trainer's with training.phase = "hwa", plus the "hwa" entry of
 * mt_hwa_meta_add (options and the input ranges). */
static char *checkpoint_meta(const mt_model *m, const mt_features *f, const mt_train_opts *o,
                             const mt_hwa_opts *ho, const float *ranges, const nn_train_state *ts,
                             const nn_splits *sp, const mt_eval_result *val, const mt_eval_result *test)
{
    char *s = nn_checkpoint_meta(f, o, "hwa", ts, sp, val, test);
    if (!s) return NULL;
    char *out = mt_hwa_meta_add(s, m, ho, ranges);
    free(s);
    return out;
}

/* mt_train's fingerprint plus the phase, every HWA option that changes training (not `from`,
 * a path) and the starting weights: a state of another HWA run, or of one that started from
 * other weights, does not continue this one. */
static cJSON *fingerprint(const mt_model *m, const mt_features *f, const mt_train_opts *o,
                          const mt_hwa_opts *ho)
{
    cJSON *j = nn_fingerprint(m, f, o);
    if (!j) return NULL;
    cJSON_AddStringToObject(j, "phase", "hwa");
    cJSON *h = cJSON_AddObjectToObject(j, "hwa");
    cJSON_AddNumberToObject(h, "weight_noise", ho->weight_noise);
    cJSON_AddNumberToObject(h, "noise_per_sample", ho->noise_per_sample);
    cJSON_AddNumberToObject(h, "out_noise", ho->out_noise);
    cJSON_AddNumberToObject(h, "clip_sigma", ho->clip_sigma);
    cJSON_AddNumberToObject(h, "inp_bits", ho->inp_bits);
    cJSON_AddNumberToObject(h, "out_bound", ho->out_bound);
    cJSON_AddNumberToObject(h, "out_bits", ho->out_bits);
    cJSON_AddNumberToObject(h, "learn_ir", ho->learn_ir);
    cJSON_AddNumberToObject(h, "ir_init_batches", ho->ir_init_batches);
    cJSON_AddNumberToObject(h, "ir_init_alpha", ho->ir_init_alpha);
    cJSON_AddNumberToObject(h, "ir_init_value", ho->ir_init_value);
    cJSON_AddNumberToObject(h, "ir_decay", ho->ir_decay);
    cJSON_AddNumberToObject(h, "ir_min_pct", ho->ir_min_pct);
    cJSON_AddNumberToObject(h, "bn_recal", ho->bn_recal);
    char buf[32];
    snprintf(buf, sizeof buf, "%016llx", (unsigned long long)nn_weights_hash(m));
    cJSON_AddStringToObject(j, "start_weights", buf);
    return j;
}

/* Evaluate split `which` of fv with the noise-free quantised model (hooks swapped in and out). */
static mt_status eval_split(mt_model *m, mt_hwa_net *net, const mt_features *fv, int which, int batch,
                            const mt_hwa_opts *ho, mt_eval_result *ev, mt_err *err)
{
    mt_hwa_net_store(net);
    mt_hwa_infer inf = {mt_hwa_net_ranges(net), ho->inp_bits, ho->out_bound, ho->out_bits};
    mt_nn_hooks saved = m->hooks;
    memset(&m->hooks, 0, sizeof m->hooks);
    m->hooks.ctx = &inf;
    m->hooks.matmul = mt_hwa_matmul;
    mt_status s = mt_model_evaluate(m, fv, which, batch, ev, err);
    m->hooks = saved;
    return s;
}

mt_status mt_hwa_train(mt_model *m, const mt_features *f, const mt_hwa_opts *ho,
                       const mt_train_opts *o, float *ranges_out, mt_train_result *r, mt_err *err)
{
    memset(r, 0, sizeof *r);
    mt_status s = nn_train_opts_check(o, err);
    if (s) return s;
    s = mt_hwa_opts_check(ho, err);
    if (s) return s;
    if (f->c != m->in_c || f->t != m->in_t)
        return mt_err_set(err, MT_ERR_DATA, "features are %lldx%lld per item but the model expects %lldx%lld",
                          (long long)f->c, (long long)f->t, (long long)m->in_c, (long long)m->in_t);
    if (f->nclasses > m->nclasses)
        return mt_err_set(err, MT_ERR_DATA, "features have %d classes but the model outputs %d", f->nclasses,
                          m->nclasses);
    for (int64_t i = 0; i < f->n; i++)
        if (f->labels[i] < 0 || f->labels[i] >= m->nclasses)
            return mt_err_set(err, MT_ERR_DATA, "item %lld: label %d out of range", (long long)i, f->labels[i]);
    for (int64_t k = 0; k < f->n * f->c * f->t; k++)
        if (!isfinite(f->x[k]))
            return mt_err_set(err, MT_ERR_DATA, "item %lld has a non-finite value", (long long)(k / (f->c * f->t)));
    const int nc = m->nclasses;
    const int64_t per = f->c * f->t, bs = o->batch;

    mt_hwa_net *net = NULL;
    int *perm = malloc((size_t)f->n * sizeof *perm);
    float *xb = malloc((size_t)(bs * per) * sizeof(float));
    int32_t *yb = malloc((size_t)bs * sizeof *yb);
    float *dlog = malloc((size_t)(bs * nc) * sizeof(float));
    float *best_ir = calloc((size_t)m->nlayers, sizeof(float));
    int *aidx = malloc((size_t)m->nlayers * sizeof(int));
    float *pir = malloc((size_t)m->nlayers * sizeof(float)), *gir = malloc((size_t)m->nlayers * sizeof(float));
    nn_splits sp;
    nn_train_state ts;
    mt_optim opt, iopt;
    memset(&sp, 0, sizeof sp);
    memset(&ts, 0, sizeof ts);
    memset(&opt, 0, sizeof opt);
    memset(&iopt, 0, sizeof iopt);
    cJSON *fp = NULL;
    char *meta = NULL;
    if (!perm || !xb || !yb || !dlog || !best_ir || !aidx || !pir || !gir) {
        s = mt_err_set(err, MT_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((s = nn_train_state_init(&ts, m, err))) goto done;
    for (int l = 0; l < m->nlayers; l++) ts.best_bn_count[l] = m->layers[l].num_batches_tracked;
    fp = fingerprint(m, f, o, ho); /* before anything can change m */
    if (!fp) {
        s = mt_err_set(err, MT_ERR_NOMEM, "out of memory");
        goto done;
    }

    /* ---- splits (as the nn trainer) ---- */
    if ((s = nn_splits_make(f, nc, o->val_frac, o->seed, 0, &sp, err))) goto done;
    mt_features fv = *f; /* the same items with the carved roles, for mt_model_evaluate */
    fv.split = sp.role;
    r->n_train = sp.ntr;
    r->n_val = sp.nva;
    r->n_test = sp.nte;

    /* ---- network, optimisers, schedule ---- */
    s = mt_hwa_net_new(&net, m, ho, o->seed ^ 0x4857A1ULL, err);
    if (s) goto done;
    int na = 0;
    for (int l = 0; l < m->nlayers; l++)
        if (hwa_is_analog(&m->layers[l])) aidx[na++] = l;
    const int64_t nb = nn_batches(sp.ntr, bs);
    if ((s = mt_optim_init(&opt, o->optimizer, m->nparams, err)) || (s = mt_optim_init(&iopt, o->optimizer, na, err)))
        goto done;
    opt.wd = iopt.wd = o->wd;
    opt.momentum = iopt.momentum = o->momentum;
    mt_sched sch;
    mt_sched_init(&sch, o->schedule, o->lr, nb * (int64_t)o->epochs);
    float *ir = mt_hwa_net_ranges(net);
    memcpy(best_ir, ir, (size_t)m->nlayers * sizeof(float));

    /* ---- fresh start or resume ---- */
    int64_t counters[2] = {(int64_t)net->forward_id, iopt.t}; /* noise streams' forward counter, range steps */
    const nn_state_extra extra[6] = {
        {"hwa_ir", MT_F32, m->nlayers, ir},
        {"hwa_best_ir", MT_F32, m->nlayers, best_ir},
        {"hwa_ir_n", MT_I64, m->nlayers, net->ir_n},
        {"hwa_iopt_m", MT_F32, na, iopt.m},
        {"hwa_iopt_v", MT_F32, na, iopt.v},
        {"hwa_counters", MT_I64, 2, counters},
    };
    if ((s = nn_state_resume(o, m, &opt, &ts, fp, extra, 6, r, err))) goto done;
    net->forward_id = (uint64_t)counters[0];
    iopt.t = counters[1];
    mt_hwa_net_load(net); /* the sub-models take m's (restored) weights and BatchNorm statistics */

    /* ---- epochs ---- */
    double t_train = 0;
    int64_t seen = 0;
    char stage[64];
    for (int e = ts.epoch_done; e < o->epochs; e++) {
        double t0 = nn_now_s();
        nn_epoch_order(&sp, o->seed, e, perm);
        double loss_sum = 0, lr = o->lr;
        int64_t correct = 0, count = 0;
        snprintf(stage, sizeof stage, "hwa epoch %d/%d", e + 1, o->epochs);
        for (int64_t bi = 0; bi < nb; bi++) {
            int64_t B = (bi + 1) * bs <= sp.ntr ? bs : sp.ntr - bi * bs;
            int64_t step = (int64_t)e * nb + bi;
            lr = nn_sched_apply(&sch, o, step, &opt);
            nn_sched_apply(&sch, o, step, &iopt); /* the same values: both start from o */
            for (int64_t b = 0; b < B; b++) {
                memcpy(xb + b * per, mt_features_sample(f, perm[bi * bs + b]), (size_t)per * sizeof(float));
                yb[b] = f->labels[perm[bi * bs + b]];
            }
            m->step = (uint64_t)step;
            if ((s = mt_hwa_net_forward(net, xb, B, 1, err))) goto done;
            const float *z = mt_hwa_net_output(net);
            double l = mt_nll_loss(z, yb, B, nc, NULL, dlog);
            if (!isfinite(l)) {
                s = mt_err_set(err, MT_ERR_DATA, "hwa training diverged (loss %g) at epoch %d; lower --lr", l, e + 1);
                goto done;
            }
            for (int64_t b = 0; b < B; b++) correct += nn_argmax(z + b * nc, nc) == yb[b];
            loss_sum += l * (double)B;
            count += B;
            mt_hwa_net_zero_grad(net);
            if ((s = mt_hwa_net_backward(net, dlog, err))) goto done;
            const double *irg = mt_hwa_net_range_grads(net);
            for (int k = 0; k < na; k++) {
                pir[k] = ir[aidx[k]];
                gir[k] = ho->learn_ir ? (float)irg[aidx[k]] : 0.0f;
            }
            if (o->clip_norm > 0) { /* one global norm over weights and ranges */
                double n2 = 0;
                for (int64_t q = 0; q < m->nparams; q++) n2 += (double)m->grads[q] * m->grads[q];
                for (int k = 0; k < na; k++) n2 += (double)gir[k] * gir[k];
                double nrm = sqrt(n2);
                if (nrm > o->clip_norm) {
                    float sc = (float)(o->clip_norm / (nrm + 1e-6));
                    for (int64_t q = 0; q < m->nparams; q++) m->grads[q] *= sc;
                    for (int k = 0; k < na; k++) gir[k] *= sc;
                }
            }
            mt_optim_step(&opt, m->params, m->grads);
            if (ho->learn_ir) {
                mt_optim_step(&iopt, pir, gir);
                for (int k = 0; k < na; k++) ir[aidx[k]] = pir[k] > IR_FLOOR ? pir[k] : IR_FLOOR;
            }
            mt_hwa_clip_weights(m, ho->clip_sigma);
            mt_progress_report(&o->progress, stage, bi + 1, nb);
        }
        double t1 = nn_now_s();
        t_train += t1 - t0;
        seen += count;
        if (ho->bn_recal) { /* exact BN statistics of the noise-free model (docs/aimc.md) */
            for (int64_t bi = 0; bi < nb; bi++) {
                int64_t B = (bi + 1) * bs <= sp.ntr ? bs : sp.ntr - bi * bs;
                for (int64_t b = 0; b < B; b++)
                    memcpy(xb + b * per, mt_features_sample(f, perm[bi * bs + b]), (size_t)per * sizeof(float));
                if ((s = mt_hwa_net_calibrate(net, xb, B, bi, err))) goto done;
            }
        }
        mt_epoch_stats es;
        nn_epoch_stats_init(&es, e, o->epochs, loss_sum, correct, count, lr);
        if (sp.nva > 0) {
            mt_eval_result ev;
            if ((s = eval_split(m, net, &fv, MT_SPLIT_VAL, (int)bs, ho, &ev, err))) goto done;
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
            mt_hwa_net_store(net);
            nn_keep_best(&ts, m, &es, sp.nva > 0);
            memcpy(best_ir, ir, (size_t)m->nlayers * sizeof(float));
            if (o->out_path) {
                meta = checkpoint_meta(m, f, o, ho, ir, &ts, &sp, NULL, NULL);
                s = meta ? mt_model_save(m, o->out_path, meta, err) : mt_err_set(err, MT_ERR_NOMEM, "out of memory");
                free(meta);
                meta = NULL;
                if (s) goto done;
            }
        }
        nn_hist_push(ts.hist, &es);
        if (o->on_epoch) o->on_epoch(o->ctx, &es);
        if (o->state_path) {
            mt_hwa_net_store(net); /* m holds the sub-models' BatchNorm statistics */
            counters[0] = (int64_t)net->forward_id;
            counters[1] = iopt.t;
            if ((s = nn_state_save(o->state_path, m, &opt, &ts, fp, extra, 6, err))) goto done;
        }
        r->epochs_run++;
    }

    /* ---- best weights and ranges, final metrics, checkpoint ---- */
    nn_restore_best(&ts, m);
    memcpy(ir, best_ir, (size_t)m->nlayers * sizeof(float));
    mt_hwa_net_load(net);
    if (sp.nva > 0 && (s = eval_split(m, net, &fv, MT_SPLIT_VAL, (int)bs, ho, &r->val, err))) goto done;
    if (sp.nte > 0 && (s = eval_split(m, net, &fv, MT_SPLIT_TEST, (int)bs, ho, &r->test, err))) goto done;
    if ((s = nn_result_finish(r, &ts, sp.nva > 0, t_train, seen, err))) goto done;
    if (ranges_out) memcpy(ranges_out, best_ir, (size_t)m->nlayers * sizeof(float));
    if (o->out_path) {
        meta = checkpoint_meta(m, f, o, ho, best_ir, &ts, &sp, &r->val, &r->test);
        s = meta ? mt_model_save(m, o->out_path, meta, err) : mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    }
done:
    if (s) mt_train_result_free(r);
    free(meta);
    cJSON_Delete(fp);
    mt_hwa_net_free(net);
    mt_optim_free(&opt);
    mt_optim_free(&iopt);
    nn_train_state_free(&ts);
    nn_splits_free(&sp);
    free(perm), free(xb), free(yb), free(dlog);
    free(best_ir), free(aidx), free(pir), free(gir);
    return s;
}
