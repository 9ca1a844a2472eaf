/* Feature sets: [N, C, T] float32 .npy + sidecar JSON (labels, split, classes, provenance). */
#include "materia/features.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "materia/io.h"
#include "materia/version.h"

static const char *const split_names[3] = {"train", "val", "test"};

mt_status mt_features_alloc(mt_features *f, int64_t n, int64_t c, int64_t t, mt_err *err)
{
    memset(f, 0, sizeof *f);
    if (n <= 0 || c <= 0 || t <= 0)
        return mt_err_set(err, MT_ERR_ARG, "invalid feature shape [%lld, %lld, %lld]", (long long)n,
                          (long long)c, (long long)t);
    f->n = n;
    f->c = c;
    f->t = t;
    f->x = calloc((size_t)(n * c * t), sizeof *f->x);
    f->labels = calloc((size_t)n, sizeof *f->labels);
    f->split = calloc((size_t)n, sizeof *f->split);
    if (!f->x || !f->labels || !f->split) {
        mt_features_free(f);
        return mt_err_set(err, MT_ERR_NOMEM, "cannot allocate features [%lld, %lld, %lld]", (long long)n,
                          (long long)c, (long long)t);
    }
    return MT_OK;
}

void mt_features_free(mt_features *f)
{
    if (!f) return;
    free(f->x);
    free(f->labels);
    free(f->split);
    for (int i = 0; f->classes && i < f->nclasses; i++) free(f->classes[i]);
    free(f->classes);
    for (int64_t i = 0; f->files && i < f->n; i++) free(f->files[i]);
    free(f->files);
    free(f->config_json);
    memset(f, 0, sizeof *f);
}

mt_status mt_features_set_classes(mt_features *f, int nclasses, char *const *names, mt_err *err)
{
    f->classes = calloc((size_t)nclasses, sizeof *f->classes);
    if (!f->classes) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    f->nclasses = nclasses;
    for (int i = 0; i < nclasses; i++)
        if (!(f->classes[i] = strdup(names[i]))) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    return MT_OK;
}

void mt_features_sidecar_path(const char *npy_path, char *buf, size_t size)
{
    size_t l = strlen(npy_path);
    if (l >= 4 && strcmp(npy_path + l - 4, ".npy") == 0) snprintf(buf, size, "%.*s.json", (int)(l - 4), npy_path);
    else snprintf(buf, size, "%s.json", npy_path);
}

mt_status mt_features_save(const mt_features *f, const char *npy_path, mt_err *err)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "format", "materia-features");
    cJSON_AddStringToObject(j, "version", mt_version());
    cJSON *shape = cJSON_AddArrayToObject(j, "shape");
    cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)f->n));
    cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)f->c));
    cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)f->t));
    cJSON_AddNumberToObject(j, "rate_hz", f->rate_hz);
    cJSON *cl = cJSON_AddArrayToObject(j, "classes");
    for (int i = 0; i < f->nclasses; i++) cJSON_AddItemToArray(cl, cJSON_CreateString(f->classes[i]));
    cJSON *lab = cJSON_AddArrayToObject(j, "labels");
    cJSON *sp = cJSON_AddArrayToObject(j, "split");
    for (int64_t i = 0; i < f->n; i++) {
        cJSON_AddItemToArray(lab, cJSON_CreateNumber(f->labels[i]));
        int s = f->split[i];
        cJSON_AddItemToArray(sp, cJSON_CreateString(split_names[(s >= 0 && s <= 2) ? s : 0]));
    }
    if (f->files) {
        cJSON *fl = cJSON_AddArrayToObject(j, "files");
        for (int64_t i = 0; i < f->n; i++) cJSON_AddItemToArray(fl, cJSON_CreateString(f->files[i] ? f->files[i] : ""));
    }
    if (f->config_json) {
        cJSON *cfg = cJSON_Parse(f->config_json);
        if (cfg) cJSON_AddItemToObject(j, "config", cfg);
    }
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    if (!text) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    char side[4096];
    mt_features_sidecar_path(npy_path, side, sizeof side);
    mt_status s = mt_file_write_all(side, text, strlen(text), err);
    free(text);
    if (s) return s;
    mt_array a = {.dtype = MT_F32, .ndim = 3, .shape = {f->n, f->c, f->t}, .data = f->x};
    s = mt_npy_write(npy_path, &a, err);
    if (s) remove(side);
    return s;
}

mt_status mt_features_load(const char *npy_path, mt_features *f, mt_err *err)
{
    memset(f, 0, sizeof *f);
    mt_array a;
    mt_status s = mt_npy_read(npy_path, &a, err);
    if (s) return s;
    if (a.dtype != MT_F32 && a.dtype != MT_F64) {
        mt_array_free(&a);
        return mt_err_set(err, MT_ERR_FORMAT, "%s: features must be float32 (got %s)", npy_path, mt_dtype_name(a.dtype));
    }
    if (a.ndim == 2) { /* [N, T] → [N, 1, T] */
        a.shape[2] = a.shape[1];
        a.shape[1] = 1;
        a.ndim = 3;
    }
    if (a.ndim != 3 || a.shape[0] <= 0 || a.shape[1] <= 0 || a.shape[2] <= 0) {
        mt_array_free(&a);
        return mt_err_set(err, MT_ERR_FORMAT, "%s: features must be a non-empty [N, C, T] array", npy_path);
    }
    if ((s = mt_array_to_f32(&a, err))) {
        mt_array_free(&a);
        return s;
    }
    int64_t numel = mt_array_numel(&a);
    const float *x = a.data;
    for (int64_t i = 0; i < numel; i++)
        if (!isfinite(x[i])) {
            mt_array_free(&a);
            return mt_err_set(err, MT_ERR_DATA, "%s: feature value %lld is not finite (NaN or Inf)", npy_path,
                              (long long)i);
        }
    f->n = a.shape[0];
    f->c = a.shape[1];
    f->t = a.shape[2];
    f->x = a.data;
    f->labels = calloc((size_t)f->n, sizeof *f->labels);
    f->split = calloc((size_t)f->n, sizeof *f->split);
    if (!f->labels || !f->split) {
        mt_features_free(f);
        return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    }
    char side[4096];
    mt_features_sidecar_path(npy_path, side, sizeof side);
    void *buf;
    size_t len;
    s = mt_file_read_all(side, &buf, &len, 0, err);
    if (s) {
        mt_features_free(f);
        return mt_err_prefix(err, s, "%s: the labels sidecar is missing", npy_path);
    }
    cJSON *j = cJSON_ParseWithLength(buf, len);
    free(buf);
#define BAD(...)                                   \
    do {                                           \
        cJSON_Delete(j);                           \
        mt_features_free(f);                       \
        return mt_err_set(err, MT_ERR_FORMAT, __VA_ARGS__); \
    } while (0)
    if (!j || !cJSON_IsObject(j)) BAD("%s: not a JSON object", side);
    cJSON *cl = cJSON_GetObjectItemCaseSensitive(j, "classes");
    cJSON *lab = cJSON_GetObjectItemCaseSensitive(j, "labels");
    cJSON *sp = cJSON_GetObjectItemCaseSensitive(j, "split");
    cJSON *rate = cJSON_GetObjectItemCaseSensitive(j, "rate_hz");
    if (!cJSON_IsArray(cl) || cJSON_GetArraySize(cl) < 1) BAD("%s: missing 'classes'", side);
    if (!cJSON_IsArray(lab) || cJSON_GetArraySize(lab) != f->n)
        BAD("%s: 'labels' must have %lld entries (one per feature row)", side, (long long)f->n);
    if (sp && (!cJSON_IsArray(sp) || cJSON_GetArraySize(sp) != f->n))
        BAD("%s: 'split' must have %lld entries", side, (long long)f->n);
    f->nclasses = cJSON_GetArraySize(cl);
    f->classes = calloc((size_t)f->nclasses, sizeof *f->classes);
    if (!f->classes) BAD("out of memory");
    int i = 0;
    cJSON *it;
    cJSON_ArrayForEach(it, cl)
    {
        if (!cJSON_IsString(it)) BAD("%s: class names must be strings", side);
        f->classes[i++] = strdup(it->valuestring);
    }
    i = 0;
    cJSON_ArrayForEach(it, lab)
    {
        if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble >= f->nclasses ||
            it->valuedouble != (double)(int)it->valuedouble)
            BAD("%s: label %d is not a class index in [0, %d)", side, i, f->nclasses);
        f->labels[i++] = (int32_t)it->valuedouble;
    }
    if (sp) {
        i = 0;
        cJSON_ArrayForEach(it, sp)
        {
            int v = -1;
            for (int k = 0; k < 3; k++)
                if (cJSON_IsString(it) && strcmp(it->valuestring, split_names[k]) == 0) v = k;
            if (v < 0) BAD("%s: split entry %d must be \"train\", \"val\" or \"test\"", side, i);
            f->split[i++] = (int8_t)v;
        }
    }
    f->rate_hz = cJSON_IsNumber(rate) ? rate->valuedouble : 0;
    cJSON *fl = cJSON_GetObjectItemCaseSensitive(j, "files");
    if (cJSON_IsArray(fl) && cJSON_GetArraySize(fl) == f->n) {
        f->files = calloc((size_t)f->n, sizeof *f->files);
        if (!f->files) BAD("out of memory");
        i = 0;
        cJSON_ArrayForEach(it, fl) f->files[i++] = strdup(cJSON_IsString(it) ? it->valuestring : "");
    }
    cJSON *cfg = cJSON_GetObjectItemCaseSensitive(j, "config");
    if (cfg) f->config_json = cJSON_PrintUnformatted(cfg);
#undef BAD
    cJSON_Delete(j);
    return MT_OK;
}
