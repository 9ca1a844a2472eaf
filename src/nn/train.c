/* Training loop, evaluation metrics and resumable training state.
 *
 * Model selection uses a validation split carved from the training data (or the feature set's
 * own validation items) — never the test split, which the public code used for checkpointing.
 * Randomness: the validation carve, each epoch's shuffle and dropout masks come from streams
 * derived from (seed, epoch / step), so an interrupted run resumed from its state file continues
 * bit-identically: the state file holds parameters, BN buffers, optimiser moments, the best
 * weights so far, counters and the history.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "materia/io.h"
#include "materia/rng.h"
#include "materia/version.h"
#include "nn/nn_impl.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

uint64_t nn_fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

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

static int argmax(const float *z, int64_t n)
{
    int best = 0;
    for (int64_t k = 1; k < n; k++)
        if (z[k] > z[best]) best = (int)k;
    return best;
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
            pred[o + b] = argmax(z + b * m->nclasses, m->nclasses);
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
/* Training state (resume)                                                                   */
/* ---------------------------------------------------------------------------------------- */

typedef struct train_state {
    int epoch_done;       /* completed epochs */
    int best_epoch;
    double best_acc, best_loss;
    int64_t opt_t;
    uint64_t forward_id;
    float *best_params, *best_buffers;
    int64_t *bn_count, *best_bn_count; /* [nlayers] num_batches_tracked */
    cJSON *hist;          /* array of per-epoch arrays */
} train_state;

/* Everything that must match for a state file to continue this run. */
static cJSON *fingerprint(const mt_model *m, const mt_features *f, const mt_train_opts *o)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "arch", m->arch);
    cJSON_AddNumberToObject(j, "in_c", (double)m->in_c);
    cJSON_AddNumberToObject(j, "in_t", (double)m->in_t);
    cJSON_AddNumberToObject(j, "classes", m->nclasses);
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)o->seed);
    cJSON_AddStringToObject(j, "seed", buf);
    cJSON_AddNumberToObject(j, "epochs", o->epochs);
    cJSON_AddNumberToObject(j, "batch", o->batch);
    cJSON_AddNumberToObject(j, "lr", o->lr);
    cJSON_AddNumberToObject(j, "wd", o->wd);
    cJSON_AddStringToObject(j, "schedule", mt_sched_name(o->schedule));
    cJSON_AddStringToObject(j, "optimizer", o->optimizer == MT_OPT_SGD ? "sgd" : "adamw");
    cJSON_AddNumberToObject(j, "momentum", o->momentum);
    cJSON_AddNumberToObject(j, "clip", o->clip_norm);
    cJSON_AddNumberToObject(j, "val_frac", o->val_frac);
    /* data: labels and split in full, the features at a stride */
    uint64_t h = NN_FNV_INIT;
    h = nn_fnv1a(h, &f->n, sizeof f->n);
    h = nn_fnv1a(h, f->labels, (size_t)f->n * sizeof *f->labels);
    if (f->split) h = nn_fnv1a(h, f->split, (size_t)f->n);
    int64_t tot = f->n * f->c * f->t;
    for (int64_t i = 0; i < tot; i += 997) h = nn_fnv1a(h, f->x + i, sizeof(float));
    snprintf(buf, sizeof buf, "%016llx", (unsigned long long)h);
    cJSON_AddStringToObject(j, "data", buf);
    return j;
}

static void hist_push(cJSON *hist, const mt_epoch_stats *e)
{
    cJSON *a = cJSON_CreateArray();
    double v[9] = {e->epoch, e->train_loss, e->train_acc, e->val_loss, e->val_acc, e->lr, e->seconds,
                   e->improved, e->epochs};
    for (int k = 0; k < 9; k++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[k]));
    cJSON_AddItemToArray(hist, a);
}

static mt_status state_save(const char *path, const mt_model *m, const mt_optim *opt,
                            const train_state *ts, const cJSON *fp, mt_err *err)
{
    int nbn = m->nlayers;
    mt_st_tensor t[8];
    memset(t, 0, sizeof t);
    static char *const names[8] = {"params", "buffers", "opt_m", "opt_v", "best_params", "best_buffers",
                                   "bn_count", "best_bn_count"};
    void *data[8] = {m->params, m->buffers, opt->m, opt->v, ts->best_params, ts->best_buffers,
                     ts->bn_count, ts->best_bn_count};
    int64_t len[8] = {m->nparams, m->nbuffers, m->nparams, m->nparams, m->nparams, m->nbuffers, nbn, nbn};
    for (int k = 0; k < 8; k++) {
        t[k].name = names[k];
        t[k].a.dtype = k >= 6 ? MT_I64 : MT_F32;
        t[k].a.ndim = 1;
        t[k].a.shape[0] = len[k];
        t[k].a.data = data[k];
    }
    for (int i = 0; i < nbn; i++) ts->bn_count[i] = m->layers[i].num_batches_tracked;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "format", "materia-train-state");
    cJSON_AddStringToObject(j, "version", mt_version());
    cJSON_AddItemToObject(j, "fingerprint", cJSON_Duplicate(fp, 1));
    cJSON_AddNumberToObject(j, "epoch_done", ts->epoch_done);
    cJSON_AddNumberToObject(j, "best_epoch", ts->best_epoch);
    cJSON_AddNumberToObject(j, "best_acc", ts->best_acc);
    cJSON_AddNumberToObject(j, "best_loss", isfinite(ts->best_loss) ? ts->best_loss : 1e308);
    cJSON_AddNumberToObject(j, "opt_t", (double)ts->opt_t);
    cJSON_AddNumberToObject(j, "forward_id", (double)ts->forward_id);
    cJSON_AddItemToObject(j, "history", cJSON_Duplicate(ts->hist, 1));
    char *inner = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    cJSON *outer = cJSON_CreateObject();
    cJSON_AddStringToObject(outer, "materia_state", inner ? inner : "{}");
    char *os = cJSON_PrintUnformatted(outer);
    cJSON_Delete(outer);
    free(inner);
    if (!os) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    mt_status s = mt_st_write(path, t, 8, os, err);
    free(os);
    return s;
}

/* Load a state file into m/opt/ts if its fingerprint equals fp.  *match = 0 when it belongs to
 * another run (nothing is changed then). */
static mt_status state_load(const char *path, mt_model *m, mt_optim *opt, train_state *ts,
                            const cJSON *fp, int *match, mt_err *err)
{
    *match = 0;
    mt_safetensors st;
    mt_status s = mt_st_read(path, &st, err);
    if (s) return s;
    char *meta = mt_st_meta_get(&st, "materia_state");
    cJSON *j = meta ? cJSON_Parse(meta) : NULL;
    free(meta);
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, "fingerprint");
    if (!j || !f) {
        s = mt_err_set(err, MT_ERR_FORMAT, "%s: not a materia training state", path);
        goto done;
    }
    if (!cJSON_Compare(f, fp, 1)) goto done; /* another run */
    static const char *const keys[6] = {"epoch_done", "best_epoch", "best_acc", "best_loss", "opt_t",
                                        "forward_id"};
    for (int k = 0; k < 6; k++)
        if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, keys[k]))) {
            s = mt_err_set(err, MT_ERR_FORMAT, "%s: training state lacks '%s'", path, keys[k]);
            goto done;
        }
    if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "history"))) {
        s = mt_err_set(err, MT_ERR_FORMAT, "%s: training state lacks its history", path);
        goto done;
    }
    static const char *const names[8] = {"params", "buffers", "opt_m", "opt_v", "best_params",
                                         "best_buffers", "bn_count", "best_bn_count"};
    void *dst[8] = {m->params, m->buffers, opt->m, opt->v, ts->best_params, ts->best_buffers,
                    ts->bn_count, ts->best_bn_count};
    int64_t len[8] = {m->nparams, m->nbuffers, m->nparams, m->nparams, m->nparams, m->nbuffers,
                      m->nlayers, m->nlayers};
    for (int k = 0; k < 8; k++) {
        const mt_array *a = mt_st_get(&st, names[k]);
        if (!a || a->ndim != 1 || a->shape[0] != len[k] || a->dtype != (k >= 6 ? MT_I64 : MT_F32)) {
            s = mt_err_set(err, MT_ERR_FORMAT, "%s: tensor '%s' missing or mis-shaped", path, names[k]);
            goto done;
        }
    }
    for (int k = 0; k < 8; k++) {
        const mt_array *a = mt_st_get(&st, names[k]);
        memcpy(dst[k], a->data, (size_t)len[k] * (k >= 6 ? sizeof(int64_t) : sizeof(float)));
    }
    for (int i = 0; i < m->nlayers; i++) m->layers[i].num_batches_tracked = ts->bn_count[i];
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "history");
    ts->epoch_done = cJSON_GetObjectItemCaseSensitive(j, "epoch_done")->valueint;
    ts->best_epoch = cJSON_GetObjectItemCaseSensitive(j, "best_epoch")->valueint;
    ts->best_acc = cJSON_GetObjectItemCaseSensitive(j, "best_acc")->valuedouble;
    ts->best_loss = cJSON_GetObjectItemCaseSensitive(j, "best_loss")->valuedouble;
    ts->opt_t = (int64_t)cJSON_GetObjectItemCaseSensitive(j, "opt_t")->valuedouble;
    ts->forward_id = (uint64_t)cJSON_GetObjectItemCaseSensitive(j, "forward_id")->valuedouble;
    opt->t = ts->opt_t;
    m->forward_id = ts->forward_id;
    cJSON_Delete(ts->hist);
    ts->hist = cJSON_Duplicate(h, 1);
    *match = 1;
done:
    cJSON_Delete(j);
    mt_st_free(&st);
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

static cJSON *eval_json(const mt_eval_result *e)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "n", (double)e->n);
    cJSON_AddNumberToObject(j, "accuracy", e->accuracy);
    cJSON_AddNumberToObject(j, "weighted_f1", e->weighted_f1);
    cJSON_AddNumberToObject(j, "loss", e->loss);
    return j;
}

/* The "materia" metadata of a checkpoint written by the trainer. */
static char *checkpoint_meta(const mt_model *m, const mt_features *f, const mt_train_opts *o,
                             const train_state *ts, int64_t ntr, int64_t nva, int64_t nte,
                             int carved, const mt_eval_result *val, const mt_eval_result *test)
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
    cJSON_AddNumberToObject(t, "epochs", o->epochs);
    cJSON_AddNumberToObject(t, "epochs_done", ts->epoch_done);
    cJSON_AddNumberToObject(t, "batch", o->batch);
    cJSON_AddNumberToObject(t, "lr", o->lr);
    cJSON_AddNumberToObject(t, "wd", o->wd);
    cJSON_AddStringToObject(t, "schedule", mt_sched_name(o->schedule));
    cJSON_AddStringToObject(t, "optimizer", o->optimizer == MT_OPT_SGD ? "sgd" : "adamw");
    cJSON_AddNumberToObject(t, "best_epoch", ts->best_epoch);
    cJSON_AddNumberToObject(t, "n_train", (double)ntr);
    cJSON_AddNumberToObject(t, "n_val", (double)nva);
    cJSON_AddNumberToObject(t, "n_test", (double)nte);
    cJSON_AddStringToObject(t, "val_source", carved ? "carved from train" : "feature set split");
    cJSON_AddNumberToObject(t, "val_accuracy", ts->best_acc);
    if (val && val->n) cJSON_AddItemToObject(t, "val", eval_json(val));
    if (test && test->n) cJSON_AddItemToObject(t, "test", eval_json(test));
    cJSON *cfg = f->config_json ? cJSON_Parse(f->config_json) : NULL;
    cJSON_AddItemToObject(j, "features_config", cfg ? cfg : cJSON_CreateNull());
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

/* Stratified validation carve: per class, a seeded shuffle of its training items and the first
 * round(frac·n_c) of them (never all of them) become validation items. */
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

mt_status mt_train(mt_model *m, const mt_features *f, const mt_train_opts *o, mt_train_result *r,
                   mt_err *err)
{
    memset(r, 0, sizeof *r);
    if (o->epochs < 1 || o->batch < 2)
        return mt_err_set(err, MT_ERR_ARG, "need epochs >= 1 and batch >= 2");
    if (!(o->lr > 0) || !(o->wd >= 0) || !(o->val_frac >= 0 && o->val_frac < 1) || !(o->clip_norm >= 0))
        return mt_err_set(err, MT_ERR_ARG, "lr must be > 0, wd >= 0, 0 <= val_frac < 1, clip >= 0");
    mt_status s = check_features(m, f, err);
    if (s) return s;
    const int nc = m->nclasses;
    const int64_t per = f->c * f->t;

    /* ---- splits ---- */
    int8_t *role = malloc((size_t)f->n);
    int *tr = malloc((size_t)f->n * sizeof *tr), *va = malloc((size_t)f->n * sizeof *va),
        *te = malloc((size_t)f->n * sizeof *te), *perm = malloc((size_t)f->n * sizeof *perm);
    float *xb = malloc((size_t)(o->batch * per) * sizeof(float));
    int32_t *yb = malloc((size_t)o->batch * sizeof *yb);
    float *dlog = malloc((size_t)(o->batch * nc) * sizeof(float));
    train_state ts;
    memset(&ts, 0, sizeof ts);
    ts.best_params = malloc((size_t)(m->nparams + 1) * sizeof(float));
    ts.best_buffers = malloc((size_t)(m->nbuffers + 1) * sizeof(float));
    ts.bn_count = calloc((size_t)m->nlayers, sizeof(int64_t));
    ts.best_bn_count = calloc((size_t)m->nlayers, sizeof(int64_t));
    ts.hist = cJSON_CreateArray();
    mt_optim opt;
    memset(&opt, 0, sizeof opt);
    cJSON *fp = NULL;
    char *meta = NULL;
    if (!role || !tr || !va || !te || !perm || !xb || !yb || !dlog || !ts.best_params ||
        !ts.best_buffers || !ts.bn_count || !ts.best_bn_count || !ts.hist) {
        s = mt_err_set(err, MT_ERR_NOMEM, "out of memory");
        goto done;
    }
    int has_val = 0;
    for (int64_t i = 0; i < f->n; i++) {
        role[i] = f->split ? f->split[i] : MT_SPLIT_TRAIN;
        has_val |= role[i] == MT_SPLIT_VAL;
    }
    int carved = 0;
    if (!has_val && o->val_frac > 0) {
        carve_val(f, nc, o->val_frac, o->seed, role);
        carved = 1;
    }
    int64_t ntr = 0, nva = 0, nte = 0;
    for (int64_t i = 0; i < f->n; i++) {
        if (role[i] == MT_SPLIT_TRAIN) tr[ntr++] = (int)i;
        else if (role[i] == MT_SPLIT_VAL) va[nva++] = (int)i;
        else te[nte++] = (int)i;
    }
    for (int c = 0; c < nc && !s; c++) {
        int64_t k = 0;
        for (int64_t i = 0; i < ntr; i++) k += f->labels[tr[i]] == c;
        if (k == 0)
            s = mt_err_set(err, MT_ERR_DATA, "class %d%s%s%s has no training items", c,
                           f->classes && f->classes[c] ? " ('" : "",
                           f->classes && f->classes[c] ? f->classes[c] : "",
                           f->classes && f->classes[c] ? "')" : "");
    }
    if (s) goto done;
    if (ntr < 2) {
        s = mt_err_set(err, MT_ERR_DATA, "need at least 2 training items (have %lld)", (long long)ntr);
        goto done;
    }
    r->n_train = ntr;
    r->n_val = nva;
    r->n_test = nte;

    /* ---- optimiser, schedule ---- */
    const int64_t bs = o->batch;
    /* a trailing batch of one item is dropped (BatchNorm needs two) */
    const int64_t nb = ntr / bs + ((ntr % bs) >= 2 ? 1 : 0);
    s = mt_optim_init(&opt, o->optimizer, m->nparams, err);
    if (s) goto done;
    opt.wd = o->wd;
    opt.momentum = o->momentum;
    mt_sched sch;
    mt_sched_init(&sch, o->schedule, o->lr, nb * (int64_t)o->epochs);

    /* ---- fresh start or resume ---- */
    fp = fingerprint(m, f, o);
    memcpy(ts.best_params, m->params, (size_t)m->nparams * sizeof(float));
    memcpy(ts.best_buffers, m->buffers, (size_t)m->nbuffers * sizeof(float));
    ts.best_acc = -1;
    ts.best_loss = INFINITY;
    if (o->state_path && o->resume) {
        struct stat sb;
        if (stat(o->state_path, &sb) == 0) {
            int match = 0;
            s = state_load(o->state_path, m, &opt, &ts, fp, &match, err);
            if (s) goto done;
            if (!match) {
                if (o->resume == 2) {
                    s = mt_err_set(err, MT_ERR_STATE,
                                   "%s: training state belongs to a different run (model, data or options differ)",
                                   o->state_path);
                    goto done;
                }
                r->state_mismatch = 1;
            } else {
                r->resumed_from = ts.epoch_done;
            }
        } else if (o->resume == 2) {
            s = mt_err_set(err, MT_ERR_IO, "%s: no training state to resume", o->state_path);
            goto done;
        }
    }

    /* ---- epochs ---- */
    double t_train = 0;
    int64_t seen = 0;
    char stage[64];
    for (int e = ts.epoch_done; e < o->epochs; e++) {
        double t0 = now_s();
        for (int64_t i = 0; i < ntr; i++) perm[i] = tr[i];
        mt_rng rr;
        mt_rng_init(&rr, o->seed, 0x5EED0000ULL + (uint64_t)e);
        mt_rng_shuffle_int(&rr, perm, (int)ntr);
        double loss_sum = 0, lr = o->lr;
        int64_t correct = 0, count = 0;
        snprintf(stage, sizeof stage, "epoch %d/%d", e + 1, o->epochs);
        for (int64_t bi = 0; bi < nb; bi++) {
            int64_t B = (bi + 1) * bs <= ntr ? bs : ntr - bi * bs;
            int64_t step = (int64_t)e * nb + bi;
            double mom = o->optimizer == MT_OPT_SGD ? o->momentum : opt.beta1;
            mt_sched_at(&sch, step, &lr, &mom);
            opt.lr = lr;
            if (o->optimizer == MT_OPT_SGD) opt.momentum = mom;
            else opt.beta1 = mom;
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
            for (int64_t b = 0; b < B; b++) correct += argmax(z + b * nc, nc) == yb[b];
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
        double t1 = now_s();
        t_train += t1 - t0;
        seen += count;
        /* validation (eval mode) */
        mt_epoch_stats es;
        memset(&es, 0, sizeof es);
        es.epoch = e + 1;
        es.epochs = o->epochs;
        es.train_loss = count ? loss_sum / (double)count : 0;
        es.train_acc = count ? (double)correct / (double)count : 0;
        es.lr = lr;
        if (nva > 0) {
            mt_eval_result ev;
            s = eval_items(m, f, va, nva, (int)bs, xb, yb, &ev, err);
            if (s) goto done;
            es.val_acc = ev.accuracy;
            es.val_loss = ev.loss;
            mt_eval_result_free(&ev);
            es.improved = es.val_acc > ts.best_acc || (es.val_acc == ts.best_acc && es.val_loss < ts.best_loss);
        } else {
            es.val_acc = NAN;
            es.val_loss = NAN;
            es.improved = 1; /* no validation data: the last epoch is kept */
        }
        es.seconds = now_s() - t0;
        ts.epoch_done = e + 1;
        ts.opt_t = opt.t;
        ts.forward_id = m->forward_id;
        if (es.improved) {
            ts.best_epoch = e + 1;
            if (nva > 0) {
                ts.best_acc = es.val_acc;
                ts.best_loss = es.val_loss;
            }
            memcpy(ts.best_params, m->params, (size_t)m->nparams * sizeof(float));
            memcpy(ts.best_buffers, m->buffers, (size_t)m->nbuffers * sizeof(float));
            for (int i = 0; i < m->nlayers; i++) ts.best_bn_count[i] = m->layers[i].num_batches_tracked;
            if (o->out_path) { /* best so far, so that an interrupted run leaves a usable model */
                meta = checkpoint_meta(m, f, o, &ts, ntr, nva, nte, carved, NULL, NULL);
                s = meta ? mt_model_save(m, o->out_path, meta, err)
                         : mt_err_set(err, MT_ERR_NOMEM, "out of memory");
                free(meta);
                meta = NULL;
                if (s) goto done;
            }
        }
        hist_push(ts.hist, &es);
        if (o->on_epoch) o->on_epoch(o->ctx, &es);
        if (o->state_path) {
            s = state_save(o->state_path, m, &opt, &ts, fp, err);
            if (s) goto done;
        }
        r->epochs_run++;
    }

    /* ---- best weights, final metrics, checkpoint ---- */
    memcpy(m->params, ts.best_params, (size_t)m->nparams * sizeof(float));
    memcpy(m->buffers, ts.best_buffers, (size_t)m->nbuffers * sizeof(float));
    for (int i = 0; i < m->nlayers; i++) m->layers[i].num_batches_tracked = ts.best_bn_count[i];
    if (nva > 0) {
        s = eval_items(m, f, va, nva, (int)bs, xb, yb, &r->val, err);
        if (s) goto done;
    }
    if (nte > 0) {
        s = eval_items(m, f, te, nte, (int)bs, xb, yb, &r->test, err);
        if (s) goto done;
    }
    r->best_epoch = ts.best_epoch;
    r->best_val_acc = nva > 0 ? ts.best_acc : NAN;
    r->train_seconds = t_train;
    r->samples_per_s = t_train > 0 ? (double)seen / t_train : 0;
    r->nhist = cJSON_GetArraySize(ts.hist);
    r->hist = calloc((size_t)r->nhist + 1, sizeof *r->hist);
    if (!r->hist) {
        s = mt_err_set(err, MT_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int k = 0; k < r->nhist; k++) {
        cJSON *a = cJSON_GetArrayItem(ts.hist, k);
        mt_epoch_stats *h = &r->hist[k];
        double v[9];
        for (int q = 0; q < 9; q++) {
            cJSON *x = cJSON_GetArrayItem(a, q);
            v[q] = cJSON_IsNumber(x) ? x->valuedouble : NAN; /* NaN is stored as null */
        }
        h->epoch = (int)v[0];
        h->train_loss = v[1];
        h->train_acc = v[2];
        h->val_loss = v[3];
        h->val_acc = v[4];
        h->lr = v[5];
        h->seconds = v[6];
        h->improved = (int)v[7];
        h->epochs = (int)v[8];
    }
    if (o->out_path) {
        meta = checkpoint_meta(m, f, o, &ts, ntr, nva, nte, carved, &r->val, &r->test);
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
    cJSON_Delete(ts.hist);
    free(ts.best_params);
    free(ts.best_buffers);
    free(ts.bn_count);
    free(ts.best_bn_count);
    mt_optim_free(&opt);
    free(role);
    free(tr);
    free(va);
    free(te);
    free(perm);
    free(xb);
    free(yb);
    free(dlog);
    return s;
}
