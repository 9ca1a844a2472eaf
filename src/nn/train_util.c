/* Pieces shared by mt_train (train.c) and the HWA phase mt_hwa_train (src/aimc/hwa_train.c):
 * the validation carve, checkpoint metadata and the resumable training state.  Declarations
 * and the state file's layout: nn/train_impl.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "materia/rng.h"
#include "materia/version.h"
#include "nn/nn_impl.h"
#include "nn/train_impl.h"

double nn_now_s(void)
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

mt_status nn_train_opts_check(const mt_train_opts *o, mt_err *err)
{
    if (o->epochs < 1 || o->batch < 2) return mt_err_set(err, MT_ERR_ARG, "need epochs >= 1 and batch >= 2");
    if (!(o->lr > 0) || !(o->wd >= 0) || !(o->val_frac >= 0 && o->val_frac < 1) || !(o->clip_norm >= 0))
        return mt_err_set(err, MT_ERR_ARG, "lr must be > 0, wd >= 0, 0 <= val_frac < 1, clip >= 0");
    return MT_OK;
}

double nn_sched_apply(const mt_sched *sch, const mt_train_opts *o, int64_t step, mt_optim *opt)
{
    double lr = o->lr, mom = o->optimizer == MT_OPT_SGD ? o->momentum : opt->beta1;
    mt_sched_at(sch, step, &lr, &mom);
    opt->lr = lr;
    if (o->optimizer == MT_OPT_SGD) opt->momentum = mom;
    else opt->beta1 = mom;
    return lr;
}

/* ---------------------------------------------------------------------------------------- */
/* Splits                                                                                    */
/* ---------------------------------------------------------------------------------------- */

void nn_splits_free(nn_splits *s)
{
    if (!s) return;
    free(s->role);
    free(s->tr);
    free(s->va);
    free(s->te);
    memset(s, 0, sizeof *s);
}

/* Stratified validation carve (see nn_splits_make); items is scratch of f->n ints. */
static void carve_val(const mt_features *f, int nc, double frac, uint64_t seed, int8_t *role, int *items)
{
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
}

mt_status nn_splits_make(const mt_features *f, int nc, double val_frac, uint64_t seed,
                         int need_all_classes, nn_splits *s, mt_err *err)
{
    memset(s, 0, sizeof *s);
    s->role = malloc((size_t)f->n);
    s->tr = malloc((size_t)f->n * sizeof *s->tr);
    s->va = malloc((size_t)f->n * sizeof *s->va);
    s->te = malloc((size_t)f->n * sizeof *s->te);
    if (!s->role || !s->tr || !s->va || !s->te) {
        nn_splits_free(s);
        return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    }
    int has_val = 0;
    for (int64_t i = 0; i < f->n; i++) {
        s->role[i] = f->split ? f->split[i] : MT_SPLIT_TRAIN;
        has_val |= s->role[i] == MT_SPLIT_VAL;
    }
    if (!has_val && val_frac > 0) {
        carve_val(f, nc, val_frac, seed, s->role, s->va); /* va is free scratch until filled below */
        s->carved = 1;
    }
    for (int64_t i = 0; i < f->n; i++) {
        if (s->role[i] == MT_SPLIT_TRAIN) s->tr[s->ntr++] = (int)i;
        else if (s->role[i] == MT_SPLIT_VAL) s->va[s->nva++] = (int)i;
        else s->te[s->nte++] = (int)i;
    }
    mt_status st = MT_OK;
    for (int c = 0; c < nc && need_all_classes && !st; c++) {
        int64_t k = 0;
        for (int64_t i = 0; i < s->ntr; i++) k += f->labels[s->tr[i]] == c;
        if (k == 0)
            st = mt_err_set(err, MT_ERR_DATA, "class %d%s%s%s has no training items", c,
                            f->classes && f->classes[c] ? " ('" : "",
                            f->classes && f->classes[c] ? f->classes[c] : "",
                            f->classes && f->classes[c] ? "')" : "");
    }
    if (!st && s->ntr < 2)
        st = mt_err_set(err, MT_ERR_DATA, "need at least 2 training items (have %lld)", (long long)s->ntr);
    if (st) nn_splits_free(s);
    return st;
}

void nn_epoch_order(const nn_splits *s, uint64_t seed, int e, int *perm)
{
    for (int64_t i = 0; i < s->ntr; i++) perm[i] = s->tr[i];
    mt_rng rr;
    mt_rng_init(&rr, seed, 0x5EED0000ULL + (uint64_t)e);
    mt_rng_shuffle_int(&rr, perm, (int)s->ntr);
}

/* ---------------------------------------------------------------------------------------- */
/* Checkpoint metadata                                                                       */
/* ---------------------------------------------------------------------------------------- */

static cJSON *eval_json(const mt_eval_result *e)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "n", (double)e->n);
    cJSON_AddNumberToObject(j, "accuracy", e->accuracy);
    cJSON_AddNumberToObject(j, "weighted_f1", e->weighted_f1);
    cJSON_AddNumberToObject(j, "loss", e->loss);
    return j;
}

char *nn_checkpoint_meta(const mt_features *f, const mt_train_opts *o, const char *phase,
                         const nn_train_state *ts, const nn_splits *sp, const mt_eval_result *val,
                         const mt_eval_result *test)
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
    if (phase) cJSON_AddStringToObject(t, "phase", phase);
    cJSON_AddNumberToObject(t, "epochs", o->epochs);
    cJSON_AddNumberToObject(t, "epochs_done", ts->epoch_done);
    cJSON_AddNumberToObject(t, "batch", o->batch);
    cJSON_AddNumberToObject(t, "lr", o->lr);
    cJSON_AddNumberToObject(t, "wd", o->wd);
    cJSON_AddStringToObject(t, "schedule", mt_sched_name(o->schedule));
    cJSON_AddStringToObject(t, "optimizer", o->optimizer == MT_OPT_SGD ? "sgd" : "adamw");
    cJSON_AddNumberToObject(t, "best_epoch", ts->best_epoch);
    cJSON_AddNumberToObject(t, "n_train", (double)sp->ntr);
    cJSON_AddNumberToObject(t, "n_val", (double)sp->nva);
    cJSON_AddNumberToObject(t, "n_test", (double)sp->nte);
    cJSON_AddStringToObject(t, "val_source", sp->carved ? "carved from train" : "feature set split");
    cJSON_AddNumberToObject(t, "val_accuracy", ts->best_acc);
    if (val && val->n) cJSON_AddItemToObject(t, "val", eval_json(val));
    if (test && test->n) cJSON_AddItemToObject(t, "test", eval_json(test));
    cJSON *cfg = f->config_json ? cJSON_Parse(f->config_json) : NULL;
    cJSON_AddItemToObject(j, "features_config", cfg ? cfg : cJSON_CreateNull());
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

/* ---------------------------------------------------------------------------------------- */
/* Training state                                                                            */
/* ---------------------------------------------------------------------------------------- */

void nn_epoch_stats_init(mt_epoch_stats *es, int e, int epochs, double loss_sum, int64_t correct,
                         int64_t count, double lr)
{
    memset(es, 0, sizeof *es);
    es->epoch = e + 1;
    es->epochs = epochs;
    es->train_loss = count ? loss_sum / (double)count : 0;
    es->train_acc = count ? (double)correct / (double)count : 0;
    es->lr = lr;
}

void nn_epoch_judge(mt_epoch_stats *es, const nn_train_state *ts, const mt_eval_result *ev)
{
    if (!ev) { /* no validation data: the last epoch is kept */
        es->val_acc = NAN;
        es->val_loss = NAN;
        es->improved = 1;
        return;
    }
    es->val_acc = ev->accuracy;
    es->val_loss = ev->loss;
    es->improved = es->val_acc > ts->best_acc || (es->val_acc == ts->best_acc && es->val_loss < ts->best_loss);
}

void nn_keep_best(nn_train_state *ts, const mt_model *m, const mt_epoch_stats *es, int has_val)
{
    ts->best_epoch = es->epoch;
    if (has_val) {
        ts->best_acc = es->val_acc;
        ts->best_loss = es->val_loss;
    }
    memcpy(ts->best_params, m->params, (size_t)m->nparams * sizeof(float));
    memcpy(ts->best_buffers, m->buffers, (size_t)m->nbuffers * sizeof(float));
    for (int i = 0; i < m->nlayers; i++) ts->best_bn_count[i] = m->layers[i].num_batches_tracked;
}

void nn_restore_best(const nn_train_state *ts, mt_model *m)
{
    memcpy(m->params, ts->best_params, (size_t)m->nparams * sizeof(float));
    memcpy(m->buffers, ts->best_buffers, (size_t)m->nbuffers * sizeof(float));
    for (int i = 0; i < m->nlayers; i++) m->layers[i].num_batches_tracked = ts->best_bn_count[i];
}

mt_status nn_result_finish(mt_train_result *r, const nn_train_state *ts, int has_val, double t_train,
                           int64_t seen, mt_err *err)
{
    r->best_epoch = ts->best_epoch;
    r->best_val_acc = has_val ? ts->best_acc : NAN;
    r->train_seconds = t_train;
    r->samples_per_s = t_train > 0 ? (double)seen / t_train : 0;
    return nn_hist_to_result(ts->hist, r, err);
}

mt_status nn_train_state_init(nn_train_state *ts, const mt_model *m, mt_err *err)
{
    memset(ts, 0, sizeof *ts);
    ts->best_params = malloc((size_t)(m->nparams + 1) * sizeof(float));
    ts->best_buffers = malloc((size_t)(m->nbuffers + 1) * sizeof(float));
    ts->bn_count = calloc((size_t)m->nlayers, sizeof(int64_t));
    ts->best_bn_count = calloc((size_t)m->nlayers, sizeof(int64_t));
    ts->hist = cJSON_CreateArray();
    if (!ts->best_params || !ts->best_buffers || !ts->bn_count || !ts->best_bn_count || !ts->hist) {
        nn_train_state_free(ts);
        return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    }
    memcpy(ts->best_params, m->params, (size_t)m->nparams * sizeof(float));
    memcpy(ts->best_buffers, m->buffers, (size_t)m->nbuffers * sizeof(float));
    ts->best_acc = -1;
    ts->best_loss = INFINITY;
    return MT_OK;
}

void nn_train_state_free(nn_train_state *ts)
{
    if (!ts) return;
    cJSON_Delete(ts->hist);
    free(ts->best_params);
    free(ts->best_buffers);
    free(ts->bn_count);
    free(ts->best_bn_count);
    memset(ts, 0, sizeof *ts);
}

cJSON *nn_fingerprint(const mt_model *m, const mt_features *f, const mt_train_opts *o)
{
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
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

uint64_t nn_weights_hash(const mt_model *m)
{
    uint64_t h = NN_FNV_INIT;
    h = nn_fnv1a(h, m->params, (size_t)m->nparams * sizeof(float));
    h = nn_fnv1a(h, m->buffers, (size_t)m->nbuffers * sizeof(float));
    for (int i = 0; i < m->nlayers; i++)
        h = nn_fnv1a(h, &m->layers[i].num_batches_tracked, sizeof m->layers[i].num_batches_tracked);
    return h;
}

void nn_hist_push(cJSON *hist, const mt_epoch_stats *e)
{
    cJSON *a = cJSON_CreateArray();
    double v[9] = {e->epoch, e->train_loss, e->train_acc, e->val_loss, e->val_acc, e->lr, e->seconds,
                   e->improved, e->epochs};
    for (int k = 0; k < 9; k++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[k]));
    cJSON_AddItemToArray(hist, a);
}

mt_status nn_hist_to_result(const cJSON *hist, mt_train_result *r, mt_err *err)
{
    r->nhist = cJSON_GetArraySize(hist);
    r->hist = calloc((size_t)r->nhist + 1, sizeof *r->hist);
    if (!r->hist) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    for (int k = 0; k < r->nhist; k++) {
        cJSON *a = cJSON_GetArrayItem(hist, k);
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
    return MT_OK;
}

#define NN_STATE_BASE 8   /* tensors every state holds */
#define NN_STATE_EXTRA 8  /* extra tensors at most */

/* The tensors of a state: the NN_STATE_BASE of every run, then the caller's extras.  Returns
 * their number. */
static int state_tensors(const mt_model *m, const mt_optim *opt, const nn_train_state *ts,
                         const nn_state_extra *x, int nx, mt_st_tensor *t)
{
    static char *const names[NN_STATE_BASE] = {"params", "buffers", "opt_m", "opt_v", "best_params",
                                               "best_buffers", "bn_count", "best_bn_count"};
    void *data[NN_STATE_BASE] = {m->params, m->buffers, opt->m, opt->v, ts->best_params, ts->best_buffers,
                                 ts->bn_count, ts->best_bn_count};
    int64_t len[NN_STATE_BASE] = {m->nparams, m->nbuffers, m->nparams, m->nparams, m->nparams, m->nbuffers,
                                  m->nlayers, m->nlayers};
    int n = 0;
    for (int k = 0; k < NN_STATE_BASE + nx; k++, n++) {
        memset(&t[k], 0, sizeof t[k]);
        t[k].a.ndim = 1;
        if (k < NN_STATE_BASE) {
            t[k].name = names[k];
            t[k].a.dtype = k >= 6 ? MT_I64 : MT_F32;
            t[k].a.shape[0] = len[k];
            t[k].a.data = data[k];
        } else {
            const nn_state_extra *e = &x[k - NN_STATE_BASE];
            t[k].name = (char *)e->name;
            t[k].a.dtype = e->dtype;
            t[k].a.shape[0] = e->len;
            t[k].a.data = e->data;
        }
    }
    return n;
}

mt_status nn_state_save(const char *path, const mt_model *m, const mt_optim *opt, nn_train_state *ts,
                        const cJSON *fp, const nn_state_extra *x, int nx, mt_err *err)
{
    if (nx < 0 || nx > NN_STATE_EXTRA)
        return mt_err_set(err, MT_ERR_INTERNAL, "%s: %d extra state tensors (at most %d)", path, nx, NN_STATE_EXTRA);
    mt_st_tensor t[NN_STATE_BASE + NN_STATE_EXTRA];
    int n = state_tensors(m, opt, ts, x, nx, t);
    for (int i = 0; i < m->nlayers; i++) ts->bn_count[i] = m->layers[i].num_batches_tracked;
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
    mt_status s = mt_st_write(path, t, n, os, err);
    free(os);
    return s;
}

/* Load a state file into m/opt/ts/extras if its fingerprint equals fp.  *match = 0 when it
 * belongs to another run (nothing is changed then, nor when it is malformed). */
static mt_status state_load(const char *path, mt_model *m, mt_optim *opt, nn_train_state *ts, const cJSON *fp,
                            const nn_state_extra *x, int nx, int *match, mt_err *err)
{
    *match = 0;
    if (nx < 0 || nx > NN_STATE_EXTRA)
        return mt_err_set(err, MT_ERR_INTERNAL, "%s: %d extra state tensors (at most %d)", path, nx, NN_STATE_EXTRA);
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
    mt_st_tensor t[NN_STATE_BASE + NN_STATE_EXTRA];
    int n = state_tensors(m, opt, ts, x, nx, t);
    for (int k = 0; k < n; k++) { /* check every tensor before changing anything */
        const mt_array *a = mt_st_get(&st, t[k].name);
        if (!a || a->ndim != 1 || a->shape[0] != t[k].a.shape[0] || a->dtype != t[k].a.dtype) {
            s = mt_err_set(err, MT_ERR_FORMAT, "%s: tensor '%s' missing or mis-shaped", path, t[k].name);
            goto done;
        }
    }
    for (int k = 0; k < n; k++) {
        const mt_array *a = mt_st_get(&st, t[k].name);
        memcpy(t[k].a.data, a->data, (size_t)t[k].a.shape[0] * mt_dtype_size(t[k].a.dtype));
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

mt_status nn_state_resume(const mt_train_opts *o, mt_model *m, mt_optim *opt, nn_train_state *ts,
                          const cJSON *fp, const nn_state_extra *x, int nx, mt_train_result *r,
                          mt_err *err)
{
    if (!o->state_path || !o->resume) return MT_OK;
    struct stat sb;
    if (stat(o->state_path, &sb) != 0) {
        if (o->resume == 2) return mt_err_set(err, MT_ERR_IO, "%s: no training state to resume", o->state_path);
        return MT_OK;
    }
    int match = 0;
    mt_status s = state_load(o->state_path, m, opt, ts, fp, x, nx, &match, err);
    if (s) return s;
    if (!match) {
        if (o->resume == 2)
            return mt_err_set(err, MT_ERR_STATE,
                              "%s: training state belongs to a different run (model, data or options differ)",
                              o->state_path);
        r->state_mismatch = 1;
    } else {
        r->resumed_from = ts->epoch_done;
    }
    return MT_OK;
}
