/* Front-end over a dataset, in parallel over utterances (see mt_features_extract). */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "materia/features.h"

mt_status mt_features_extract(const mt_dataset *ds, const mt_audio_prep *prep,
                              const mt_frontend *fe, int threads, const mt_progress *progress,
                              mt_features *f, mt_err *err)
{
    if (prep->length <= 0)
        return mt_err_set(err, MT_ERR_ARG, "feature extraction needs a fixed utterance length");
    int64_t C = mt_frontend_channels(fe), T = mt_frontend_out_len(fe, prep->length);
    if (T <= 0)
        return mt_err_set(err, MT_ERR_ARG, "front-end '%s' gives no output frames for %lld input samples",
                          mt_frontend_name(fe), (long long)prep->length);
    mt_status s = mt_features_alloc(f, ds->n, C, T, err);
    if (!s) s = mt_features_set_classes(f, ds->nclasses, ds->classes, err);
    if (!s && !(f->files = calloc((size_t)ds->n, sizeof *f->files)))
        s = mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    for (int i = 0; !s && i < ds->n; i++) {
        f->labels[i] = ds->items[i].label;
        f->split[i] = (int8_t)ds->items[i].split;
        if (!(f->files[i] = strdup(ds->items[i].rel))) s = mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    }
    if (s) {
        mt_features_free(f);
        return s;
    }
    f->rate_hz = mt_frontend_out_rate(fe);

    int nthr = threads > 0 ? threads : omp_get_max_threads();
    int n = ds->n, fail_at = n;
    int chunk = 8 * nthr; /* progress granularity */
    mt_err ferr = {0};
    for (int c0 = 0; c0 < n && fail_at == n; c0 += chunk) {
        int c1 = c0 + chunk < n ? c0 + chunk : n;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthr)
        for (int i = c0; i < c1; i++) {
            mt_err e = {0};
            float *x = NULL;
            int64_t nx = 0;
            const mt_item *it = &ds->items[i];
            mt_status st = mt_audio_prepare(it->path, it->offset, it->length, prep, &x, &nx, &e);
            if (!st) {
                st = mt_frontend_process(fe, x, nx, (uint64_t)i, mt_features_sample(f, i), &e);
                if (st) mt_err_prefix(&e, st, "%s", it->path);
            }
            free(x);
            if (st) {
#pragma omp critical(mt_features_extract_fail)
                if (i < fail_at) {
                    fail_at = i;
                    ferr = e;
                }
            }
        }
        mt_progress_report(progress, "features", c1, n);
    }
    if (fail_at < n) {
        mt_features_free(f);
        if (err) *err = ferr;
        return ferr.code ? ferr.code : MT_ERR_INTERNAL;
    }
    return MT_OK;
}
