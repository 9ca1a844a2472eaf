/* Model checkpoints as safetensors with PyTorch-style state_dict names:
 *   conv<i>.weight [out_c, in_c, k], conv<i>.bias [out_c]
 *   fc<i>.weight [out, in], fc<i>.bias [out]
 *   bn<i>.weight, bn<i>.bias, bn<i>.running_mean, bn<i>.running_var [C] (F32),
 *   bn<i>.num_batches_tracked [] (I64)
 * and "__metadata__": {"materia": "<JSON object text>"} describing the architecture, the input
 * shape, the classes and the training run.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "materia/io.h"
#include "materia/version.h"
#include "nn/nn_impl.h"

static void set_f32(mt_st_tensor *t, char *name, float *data, int ndim, int64_t d0, int64_t d1,
                    int64_t d2)
{
    memset(t, 0, sizeof *t);
    t->name = name;
    t->a.dtype = MT_F32;
    t->a.ndim = ndim;
    t->a.shape[0] = d0;
    t->a.shape[1] = d1;
    t->a.shape[2] = d2;
    t->a.data = data;
}

/* Number of tensors a model stores. */
static int tensor_count(const mt_model *m)
{
    int n = 0;
    for (int i = 0; i < m->nlayers; i++) {
        mt_layer_type t = m->layers[i].type;
        if (t == MT_LAYER_CONV || t == MT_LAYER_LINEAR) n += 2;
        if (t == MT_LAYER_BN) n += 5;
    }
    return n;
}

mt_status mt_model_save(const mt_model *m, const char *path, const char *meta_json, mt_err *err)
{
    int nt = tensor_count(m);
    mt_st_tensor *t = calloc((size_t)nt + 1, sizeof *t);
    char (*names)[64] = calloc((size_t)nt + 1, sizeof *names);
    int64_t *counts = calloc((size_t)m->nlayers + 1, sizeof(int64_t));
    if (!t || !names || !counts) {
        free(t);
        free(names);
        free(counts);
        return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    }
    int k = 0;
    for (int i = 0; i < m->nlayers; i++) {
        const mt_layer *L = &m->layers[i];
        if (L->type == MT_LAYER_CONV) {
            snprintf(names[k], 64, "%s.weight", L->name);
            set_f32(&t[k], names[k], L->w, 3, L->out_c, L->in_c, L->k);
            k++;
            snprintf(names[k], 64, "%s.bias", L->name);
            set_f32(&t[k], names[k], L->b, 1, L->out_c, 0, 0);
            k++;
        } else if (L->type == MT_LAYER_LINEAR) {
            snprintf(names[k], 64, "%s.weight", L->name);
            set_f32(&t[k], names[k], L->w, 2, L->out_c, L->in_c * L->in_t, 0);
            k++;
            snprintf(names[k], 64, "%s.bias", L->name);
            set_f32(&t[k], names[k], L->b, 1, L->out_c, 0, 0);
            k++;
        } else if (L->type == MT_LAYER_BN) {
            static const char *const suf[4] = {"weight", "bias", "running_mean", "running_var"};
            float *p[4] = {L->w, L->b, L->running_mean, L->running_var};
            for (int j = 0; j < 4; j++) {
                snprintf(names[k], 64, "%s.%s", L->name, suf[j]);
                set_f32(&t[k], names[k], p[j], 1, L->in_c, 0, 0);
                k++;
            }
            counts[i] = L->num_batches_tracked;
            snprintf(names[k], 64, "%s.num_batches_tracked", L->name);
            memset(&t[k], 0, sizeof t[k]);
            t[k].name = names[k];
            t[k].a.dtype = MT_I64;
            t[k].a.ndim = 0;
            t[k].a.data = &counts[i];
            k++;
        }
    }
    /* metadata: the caller's object plus the fields that define the model */
    cJSON *meta = meta_json ? cJSON_Parse(meta_json) : cJSON_CreateObject();
    mt_status s = MT_OK;
    if (!meta || !cJSON_IsObject(meta)) {
        s = mt_err_set(err, MT_ERR_ARG, "%s: model metadata is not a JSON object", path);
    } else {
        static const char *const keys[5] = {"format", "arch", "input", "classes", "version"};
        for (int j = 0; j < 5; j++) cJSON_DeleteItemFromObjectCaseSensitive(meta, keys[j]);
        cJSON_AddStringToObject(meta, "format", "materia-model");
        cJSON_AddStringToObject(meta, "arch", m->arch);
        cJSON *in = cJSON_AddArrayToObject(meta, "input");
        cJSON_AddItemToArray(in, cJSON_CreateNumber((double)m->in_c));
        cJSON_AddItemToArray(in, cJSON_CreateNumber((double)m->in_t));
        cJSON_AddNumberToObject(meta, "classes", m->nclasses);
        cJSON_AddStringToObject(meta, "version", mt_version());
        char *inner = cJSON_PrintUnformatted(meta);
        cJSON *outer = cJSON_CreateObject();
        char *outer_s = NULL;
        if (inner && outer) {
            cJSON_AddStringToObject(outer, "materia", inner);
            outer_s = cJSON_PrintUnformatted(outer);
        }
        if (!outer_s) s = mt_err_set(err, MT_ERR_NOMEM, "out of memory");
        else s = mt_st_write(path, t, nt, outer_s, err);
        free(inner);
        free(outer_s);
        cJSON_Delete(outer);
    }
    cJSON_Delete(meta);
    free(t);
    free(names);
    free(counts);
    return s;
}

/* Copy tensor `name` (F32, exactly the given shape) into dst. */
static mt_status load_f32(const mt_safetensors *st, const char *path, const char *name, float *dst,
                          int ndim, const int64_t *shape, mt_err *err)
{
    const mt_array *a = mt_st_get(st, name);
    if (!a) return mt_err_set(err, MT_ERR_FORMAT, "%s: tensor '%s' is missing", path, name);
    if (a->dtype != MT_F32)
        return mt_err_set(err, MT_ERR_FORMAT, "%s: tensor '%s' has dtype %s, expected F32", path,
                          name, mt_dtype_name(a->dtype));
    int ok = a->ndim == ndim;
    for (int d = 0; ok && d < ndim; d++) ok = a->shape[d] == shape[d];
    if (!ok) {
        char want[96] = "", got[96] = "";
        size_t o = 0;
        for (int d = 0; d < ndim; d++)
            o += (size_t)snprintf(want + o, sizeof want - o, "%s%lld", d ? "," : "", (long long)shape[d]);
        o = 0;
        for (int d = 0; d < a->ndim && o < sizeof got; d++)
            o += (size_t)snprintf(got + o, sizeof got - o, "%s%lld", d ? "," : "", (long long)a->shape[d]);
        return mt_err_set(err, MT_ERR_FORMAT, "%s: tensor '%s' has shape [%s], expected [%s]", path,
                          name, got, want);
    }
    int64_t n = mt_array_numel(a);
    const float *src = a->data;
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(src[i]))
            return mt_err_set(err, MT_ERR_FORMAT, "%s: tensor '%s' holds a non-finite value", path, name);
    memcpy(dst, src, (size_t)n * sizeof(float));
    return MT_OK;
}

mt_status mt_model_load(const char *path, mt_model *m, char **meta_json, mt_err *err)
{
    memset(m, 0, sizeof *m);
    if (meta_json) *meta_json = NULL;
    mt_safetensors st;
    mt_status s = mt_st_read(path, &st, err);
    if (s) return s;
    char *meta = mt_st_meta_get(&st, "materia");
    cJSON *j = meta ? cJSON_Parse(meta) : NULL;
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(j, "format");
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(j, "arch");
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(j, "input");
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(j, "classes");
    if (!j || !cJSON_IsObject(j)) {
        s = mt_err_set(err, MT_ERR_FORMAT, "%s: not a materia model (no \"materia\" metadata)", path);
    } else if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "materia-model") != 0) {
        s = mt_err_set(err, MT_ERR_FORMAT, "%s: metadata format is not \"materia-model\"", path);
    } else if (!cJSON_IsString(arch) || !cJSON_IsArray(in) || cJSON_GetArraySize(in) != 2 ||
               !cJSON_IsNumber(cJSON_GetArrayItem(in, 0)) ||
               !cJSON_IsNumber(cJSON_GetArrayItem(in, 1)) || !cJSON_IsNumber(cls)) {
        s = mt_err_set(err, MT_ERR_FORMAT, "%s: metadata lacks arch, input [C, T] or classes", path);
    } else {
        double c = cJSON_GetArrayItem(in, 0)->valuedouble, t = cJSON_GetArrayItem(in, 1)->valuedouble;
        if (c < 1 || t < 1 || c > 1e6 || t > 1e8 || cls->valuedouble < 1 || cls->valuedouble > 1e6)
            s = mt_err_set(err, MT_ERR_FORMAT, "%s: metadata input shape or classes out of range", path);
        else {
            s = mt_model_build(m, arch->valuestring, (int64_t)c, (int64_t)t, cls->valueint, 0, err);
            if (s) mt_err_prefix(err, s, "%s", path);
            else if (m->nclasses != cls->valueint)
                s = mt_err_set(err, MT_ERR_FORMAT, "%s: architecture gives %d outputs but metadata says %d classes",
                               path, m->nclasses, cls->valueint);
        }
    }
    for (int i = 0; !s && i < m->nlayers; i++) {
        mt_layer *L = &m->layers[i];
        char nm[64];
        if (L->type == MT_LAYER_CONV || L->type == MT_LAYER_LINEAR) {
            int64_t shw[3] = {L->out_c, L->type == MT_LAYER_CONV ? L->in_c : L->in_c * L->in_t, L->k};
            snprintf(nm, sizeof nm, "%s.weight", L->name);
            s = load_f32(&st, path, nm, L->w, L->type == MT_LAYER_CONV ? 3 : 2, shw, err);
            snprintf(nm, sizeof nm, "%s.bias", L->name);
            if (!s) s = load_f32(&st, path, nm, L->b, 1, &L->out_c, err);
        } else if (L->type == MT_LAYER_BN) {
            static const char *const suf[4] = {"weight", "bias", "running_mean", "running_var"};
            float *p[4] = {L->w, L->b, L->running_mean, L->running_var};
            for (int k = 0; !s && k < 4; k++) {
                snprintf(nm, sizeof nm, "%s.%s", L->name, suf[k]);
                s = load_f32(&st, path, nm, p[k], 1, &L->in_c, err);
            }
            for (int64_t k = 0; !s && k < L->in_c; k++)
                if (L->running_var[k] < 0)
                    s = mt_err_set(err, MT_ERR_FORMAT, "%s: %s.running_var is negative", path, L->name);
            snprintf(nm, sizeof nm, "%s.num_batches_tracked", L->name);
            const mt_array *a = s ? NULL : mt_st_get(&st, nm);
            if (!s && (!a || a->dtype != MT_I64 || mt_array_numel(a) != 1))
                s = mt_err_set(err, MT_ERR_FORMAT, "%s: tensor '%s' missing or not a scalar I64", path, nm);
            if (!s) L->num_batches_tracked = *(const int64_t *)a->data;
        }
    }
    if (!s && st.n != tensor_count(m)) {
        /* name the first tensor the architecture does not explain */
        const char *extra = "?";
        for (int i = 0; i < st.n; i++) {
            const char *nm = st.t[i].name;
            const char *dot = strrchr(nm, '.');
            int known = 0;
            for (int l = 0; dot && l < m->nlayers; l++)
                if (m->layers[l].name[0] && strlen(m->layers[l].name) == (size_t)(dot - nm) &&
                    strncmp(m->layers[l].name, nm, (size_t)(dot - nm)) == 0)
                    known = 1;
            if (!known) {
                extra = nm;
                break;
            }
        }
        s = mt_err_set(err, MT_ERR_FORMAT, "%s: unexpected tensor '%s' (file has %d tensors, the architecture %d)",
                       path, extra, st.n, tensor_count(m));
    }
    if (!s && meta_json) {
        *meta_json = cJSON_PrintUnformatted(j);
        if (!*meta_json) s = mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    }
    cJSON_Delete(j);
    free(meta);
    mt_st_free(&st);
    if (s) mt_model_free(m);
    return s;
}
