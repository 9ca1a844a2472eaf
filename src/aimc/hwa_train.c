/* The HWA training phase: mt_train's loop (same validation carve, shuffles, schedule, optimiser,
 * model selection, checkpoint) around an mt_hwa_net, with the input ranges as extra learnable
 * parameters (their own optimiser state, same optimiser type, learning rate, schedule and weight
 * decay: aihwkit-lightning keeps them in model.parameters()), and the weights clipped per row
 * after every step.  Validation and test use the noise-free quantised model (mt_hwa_matmul). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aimc/hwa_impl.h"
#include "materia/version.h"

#define IR_FLOOR 1e-6f /* an input range never reaches 0 or below (the clamp would be undefined) */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Stratified validation carve, identical to the nn trainer's for the same seed (so the HWA phase
 * validates on the items the full-precision phase validated on): per class, a seeded shuffle of
 * its training items and the first round(frac·n_c) of them (never all) become validation. */
static void carve_val(const mt_features *f, int nc, double frac, uint64_t seed, int8_t *role)
{
    int *items = malloc((size_t)f->n * sizeof *items);
    if (!items) return;
    for (int c = 0; c < nc; c++) {
        int n = 0;
        for (int64_t i = 0; i < f->n; i++)
            if (role[i] == MT_SPLIT_TRAIN && f->labels[i] == c) items[n++] = (int)i;
        mt_rng r;
        mt_rng_init(&r, seed, 0x7A110000ULL + (uint64_t)c);
        mt_rng_shuffle_int(&r, items, n);
        int nv = (int)floor(frac * n + 0.5);
        if (nv >= n) nv = n - 1;
        for (int k = 0; k < nv; k++) role[items[k]] = MT_SPLIT_VAL;
    }
    free(items);
}

static int argmax(const float *z, int64_t n)
{
    int b = 0;
    for (int64_t k = 1; k < n; k++)
        if (z[k] > z[b]) b = (int)k;
    return b;
}

static cJSON *eval_json(const mt_eval_result *e)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "n", (double)e->n);
    cJSON_AddNumberToObject(j, "accuracy", e->accuracy);
    cJSON_AddNumberToObject(j, "weighted_f1", e->weighted_f1);
    cJSON_AddNumberToObject(j, "loss", e->loss);
    return j;
}

typedef struct run_info {
    int epochs_done, best_epoch;
    double best_acc;
    int64_t ntr, nva, nte;
    int carved;
} run_info;

/* Checkpoint metadata: the nn trainer's fields (model, classes, rate, seed, training summary,
 * feature config) with training.phase = "hwa", plus the "hwa" entry of mt_hwa_meta_add. */
static char *checkpoint_meta(const mt_model *m, const mt_features *f, const mt_train_opts *o,
                             const mt_hwa_opts *ho, const float *ranges, const run_info *ri,
                             const mt_eval_result *val, const mt_eval_result *test)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "model", o->model_name ? o->model_name : "custom");
    if (f->classes) {
        cJSON *c = cJSON_AddArrayToObject(j, "class_names");
        for (int k = 0; k < f->nclasses; k++)
            cJSON_AddItemToArray(c, cJSON_CreateString(f->classes[k] ? f->classes[k] : ""));
    }
    cJSON_AddNumberToObject(j, "rate_hz", f->rate_hz);
    cJSON_AddNumberToObject(j, "seed", (double)o->seed);
    cJSON *t = cJSON_AddObjectToObject(j, "training");
    cJSON_AddStringToObject(t, "phase", "hwa");
    cJSON_AddNumberToObject(t, "epochs", o->epochs);
    cJSON_AddNumberToObject(t, "epochs_done", ri->epochs_done);
    cJSON_AddNumberToObject(t, "batch", o->batch);
    cJSON_AddNumberToObject(t, "lr", o->lr);
    cJSON_AddNumberToObject(t, "wd", o->wd);
    cJSON_AddStringToObject(t, "schedule", mt_sched_name(o->schedule));
    cJSON_AddStringToObject(t, "optimizer", o->optimizer == MT_OPT_SGD ? "sgd" : "adamw");
    cJSON_AddNumberToObject(t, "best_epoch", ri->best_epoch);
    cJSON_AddNumberToObject(t, "n_train", (double)ri->ntr);
    cJSON_AddNumberToObject(t, "n_val", (double)ri->nva);
    cJSON_AddNumberToObject(t, "n_test", (double)ri->nte);
    cJSON_AddStringToObject(t, "val_source", ri->carved ? "carved from train" : "feature set split");
    cJSON_AddNumberToObject(t, "val_accuracy", ri->best_acc);
    if (val && val->n) cJSON_AddItemToObject(t, "val", eval_json(val));
    if (test && test->n) cJSON_AddItemToObject(t, "test", eval_json(test));
    cJSON *cfg = f->config_json ? cJSON_Parse(f->config_json) : NULL;
    cJSON_AddItemToObject(j, "features_config", cfg ? cfg : cJSON_CreateNull());
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!s) return NULL;
    char *out = mt_hwa_meta_add(s, m, ho, ranges);
    free(s);
    return out;
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
    if (o->epochs < 1 || o->batch < 2) return mt_err_set(err, MT_ERR_ARG, "need epochs >= 1 and batch >= 2");
    if (!(o->lr > 0) || !(o->wd >= 0) || !(o->val_frac >= 0 && o->val_frac < 1) || !(o->clip_norm >= 0))
        return mt_err_set(err, MT_ERR_ARG, "lr must be > 0, wd >= 0, 0 <= val_frac < 1, clip >= 0");
    if (o->resume == 2)
        return mt_err_set(err, MT_ERR_ARG, "hwa: resuming a hardware-aware training run is not supported");
    mt_status s = mt_hwa_opts_check(ho, err);
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
    int8_t *role = malloc((size_t)f->n);
    int *tr = malloc((size_t)f->n * sizeof *tr), *perm = malloc((size_t)f->n * sizeof *perm);
    float *xb = malloc((size_t)(bs * per) * sizeof(float));
    int32_t *yb = malloc((size_t)bs * sizeof *yb);
    float *dlog = malloc((size_t)(bs * nc) * sizeof(float));
    float *best_p = malloc((size_t)(m->nparams + 1) * sizeof(float));
    float *best_b = malloc((size_t)(m->nbuffers + 1) * sizeof(float));
    float *best_ir = calloc((size_t)m->nlayers, sizeof(float));
    int64_t *best_bn = calloc((size_t)m->nlayers, sizeof(int64_t));
    int *aidx = malloc((size_t)m->nlayers * sizeof(int));
    float *pir = malloc((size_t)m->nlayers * sizeof(float)), *gir = malloc((size_t)m->nlayers * sizeof(float));
    mt_optim opt, iopt;
    memset(&opt, 0, sizeof opt);
    memset(&iopt, 0, sizeof iopt);
    char *meta = NULL;
    run_info ri;
    memset(&ri, 0, sizeof ri);
    if (!role || !tr || !perm || !xb || !yb || !dlog || !best_p || !best_b || !best_ir || !best_bn || !aidx ||
        !pir || !gir) {
        s = mt_err_set(err, MT_ERR_NOMEM, "out of memory");
        goto done;
    }
    /* ---- splits (as the nn trainer) ---- */
    int has_val = 0;
    for (int64_t i = 0; i < f->n; i++) {
        role[i] = f->split ? f->split[i] : MT_SPLIT_TRAIN;
        has_val |= role[i] == MT_SPLIT_VAL;
    }
    if (!has_val && o->val_frac > 0) {
        carve_val(f, nc, o->val_frac, o->seed, role);
        ri.carved = 1;
    }
    for (int64_t i = 0; i < f->n; i++) {
        if (role[i] == MT_SPLIT_TRAIN) tr[ri.ntr++] = (int)i;
        else if (role[i] == MT_SPLIT_VAL) ri.nva++;
        else ri.nte++;
    }
    if (ri.ntr < 2) {
        s = mt_err_set(err, MT_ERR_DATA, "need at least 2 training items (have %lld)", (long long)ri.ntr);
        goto done;
    }
    mt_features fv = *f; /* the same items with the carved roles, for mt_model_evaluate */
    fv.split = role;
    r->n_train = ri.ntr;
    r->n_val = ri.nva;
    r->n_test = ri.nte;

    /* ---- network, optimisers, schedule ---- */
    s = mt_hwa_net_new(&net, m, ho, o->seed ^ 0x4857A1ULL, err);
    if (s) goto done;
    int na = 0;
    for (int l = 0; l < m->nlayers; l++)
        if (hwa_is_analog(&m->layers[l])) aidx[na++] = l;
    const int64_t nb = ri.ntr / bs + ((ri.ntr % bs) >= 2 ? 1 : 0);
    if ((s = mt_optim_init(&opt, o->optimizer, m->nparams, err)) || (s = mt_optim_init(&iopt, o->optimizer, na, err)))
        goto done;
    opt.wd = iopt.wd = o->wd;
    opt.momentum = iopt.momentum = o->momentum;
    mt_sched sch;
    mt_sched_init(&sch, o->schedule, o->lr, nb * (int64_t)o->epochs);
    memcpy(best_p, m->params, (size_t)m->nparams * sizeof(float));
    memcpy(best_b, m->buffers, (size_t)m->nbuffers * sizeof(float));
    for (int l = 0; l < m->nlayers; l++) best_bn[l] = m->layers[l].num_batches_tracked;
    memcpy(best_ir, mt_hwa_net_ranges(net), (size_t)m->nlayers * sizeof(float));
    ri.best_acc = -1;
    double best_loss = INFINITY;
    float *ir = mt_hwa_net_ranges(net);

    /* ---- epochs ---- */
    double t_train = 0;
    int64_t seen = 0;
    char stage[64];
    for (int e = 0; e < o->epochs; e++) {
        double t0 = now_s();
        for (int64_t i = 0; i < ri.ntr; i++) perm[i] = tr[i];
        mt_rng rr;
        mt_rng_init(&rr, o->seed, 0x5EED0000ULL + (uint64_t)e);
        mt_rng_shuffle_int(&rr, perm, (int)ri.ntr);
        double loss_sum = 0, lr = o->lr;
        int64_t correct = 0, count = 0;
        snprintf(stage, sizeof stage, "hwa epoch %d/%d", e + 1, o->epochs);
        for (int64_t bi = 0; bi < nb; bi++) {
            int64_t B = (bi + 1) * bs <= ri.ntr ? bs : ri.ntr - bi * bs;
            int64_t step = (int64_t)e * nb + bi;
            double mom = o->optimizer == MT_OPT_SGD ? o->momentum : opt.beta1;
            mt_sched_at(&sch, step, &lr, &mom);
            opt.lr = iopt.lr = lr;
            if (o->optimizer == MT_OPT_SGD) opt.momentum = iopt.momentum = mom;
            else opt.beta1 = iopt.beta1 = mom;
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
            for (int64_t b = 0; b < B; b++) correct += argmax(z + b * nc, nc) == yb[b];
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
        double t1 = now_s();
        t_train += t1 - t0;
        seen += count;
        if (ho->bn_recal) { /* exact BN statistics of the noise-free model (docs/aimc.md) */
            for (int64_t bi = 0; bi < nb; bi++) {
                int64_t B = (bi + 1) * bs <= ri.ntr ? bs : ri.ntr - bi * bs;
                for (int64_t b = 0; b < B; b++)
                    memcpy(xb + b * per, mt_features_sample(f, perm[bi * bs + b]), (size_t)per * sizeof(float));
                if ((s = mt_hwa_net_calibrate(net, xb, B, bi, err))) goto done;
            }
        }
        mt_epoch_stats es;
        memset(&es, 0, sizeof es);
        es.epoch = e + 1;
        es.epochs = o->epochs;
        es.train_loss = count ? loss_sum / (double)count : 0;
        es.train_acc = count ? (double)correct / (double)count : 0;
        es.lr = lr;
        if (ri.nva > 0) {
            mt_eval_result ev;
            if ((s = eval_split(m, net, &fv, MT_SPLIT_VAL, (int)bs, ho, &ev, err))) goto done;
            es.val_acc = ev.accuracy;
            es.val_loss = ev.loss;
            mt_eval_result_free(&ev);
            es.improved = es.val_acc > ri.best_acc || (es.val_acc == ri.best_acc && es.val_loss < best_loss);
        } else {
            es.val_acc = NAN;
            es.val_loss = NAN;
            es.improved = 1;
        }
        es.seconds = now_s() - t0;
        ri.epochs_done = e + 1;
        if (es.improved) {
            mt_hwa_net_store(net);
            ri.best_epoch = e + 1;
            if (ri.nva > 0) {
                ri.best_acc = es.val_acc;
                best_loss = es.val_loss;
            }
            memcpy(best_p, m->params, (size_t)m->nparams * sizeof(float));
            memcpy(best_b, m->buffers, (size_t)m->nbuffers * sizeof(float));
            for (int l = 0; l < m->nlayers; l++) best_bn[l] = m->layers[l].num_batches_tracked;
            memcpy(best_ir, ir, (size_t)m->nlayers * sizeof(float));
            if (o->out_path) {
                meta = checkpoint_meta(m, f, o, ho, ir, &ri, NULL, NULL);
                s = meta ? mt_model_save(m, o->out_path, meta, err) : mt_err_set(err, MT_ERR_NOMEM, "out of memory");
                free(meta);
                meta = NULL;
                if (s) goto done;
            }
        }
        mt_epoch_stats *nh = realloc(r->hist, (size_t)(r->nhist + 1) * sizeof *nh);
        if (!nh) {
            s = mt_err_set(err, MT_ERR_NOMEM, "out of memory");
            goto done;
        }
        r->hist = nh;
        r->hist[r->nhist++] = es;
        if (o->on_epoch) o->on_epoch(o->ctx, &es);
        r->epochs_run++;
    }

    /* ---- best weights and ranges, final metrics, checkpoint ---- */
    memcpy(m->params, best_p, (size_t)m->nparams * sizeof(float));
    memcpy(m->buffers, best_b, (size_t)m->nbuffers * sizeof(float));
    for (int l = 0; l < m->nlayers; l++) m->layers[l].num_batches_tracked = best_bn[l];
    memcpy(ir, best_ir, (size_t)m->nlayers * sizeof(float));
    mt_hwa_net_load(net);
    if (ri.nva > 0 && (s = eval_split(m, net, &fv, MT_SPLIT_VAL, (int)bs, ho, &r->val, err))) goto done;
    if (ri.nte > 0 && (s = eval_split(m, net, &fv, MT_SPLIT_TEST, (int)bs, ho, &r->test, err))) goto done;
    r->best_epoch = ri.best_epoch;
    r->best_val_acc = ri.nva > 0 ? ri.best_acc : NAN;
    r->train_seconds = t_train;
    r->samples_per_s = t_train > 0 ? (double)seen / t_train : 0;
    if (ranges_out) memcpy(ranges_out, best_ir, (size_t)m->nlayers * sizeof(float));
    if (o->out_path) {
        meta = checkpoint_meta(m, f, o, ho, best_ir, &ri, &r->val, &r->test);
        s = meta ? mt_model_save(m, o->out_path, meta, err) : mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    }
done:
    if (s) mt_train_result_free(r);
    free(meta);
    mt_hwa_net_free(net);
    mt_optim_free(&opt);
    mt_optim_free(&iopt);
    free(role), free(tr), free(perm), free(xb), free(yb), free(dlog);
    free(best_p), free(best_b), free(best_ir), free(best_bn), free(aidx), free(pir), free(gir);
    return s;
}
