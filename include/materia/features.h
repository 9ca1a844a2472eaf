/* materia — feature sets: [N, C, T] float32 plus labels, split and provenance.
 *
 * On disk: F.npy holds the [N, C, T] float32 array (NumPy loads it unchanged) and the sidecar
 * F.json holds everything else: {"version", "rate_hz", "classes": [...], "labels": [...],
 * "split": ["train"|"val"|"test", ...], "files": [...], "config": {...}}.
 * Both are written atomically (tmp + rename); the .npy is renamed last.
 */
#ifndef MATERIA_FEATURES_H
#define MATERIA_FEATURES_H

#include <stdint.h>

#include "materia/audio.h"
#include "materia/dataset.h"
#include "materia/error.h"
#include "materia/frontend.h"
#include "materia/progress.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_features {
    int64_t n, c, t;
    float *x;          /* [n, c, t] */
    int32_t *labels;   /* [n] class indices */
    int8_t *split;     /* [n] mt_split_set */
    int nclasses;
    char **classes;    /* [nclasses] */
    char **files;      /* [n] source ids (dataset-relative paths), may be NULL */
    double rate_hz;    /* feature sample rate (1,250 S/s for the paper's front-ends) */
    char *config_json; /* front-end configuration and provenance (JSON object text), may be NULL */
} mt_features;

/* Allocate x/labels/split (zeroed); classes and files are set by the caller (strdup'd). */
mt_status mt_features_alloc(mt_features *f, int64_t n, int64_t c, int64_t t, mt_err *err);
void mt_features_free(mt_features *f);
/* Pointer to sample i: [c, t]. */
static inline float *mt_features_sample(const mt_features *f, int64_t i)
{
    return f->x + i * f->c * f->t;
}
/* Path of the sidecar for a .npy path ("x.npy" -> "x.json"); writes into buf. */
void mt_features_sidecar_path(const char *npy_path, char *buf, size_t size);
mt_status mt_features_save(const mt_features *f, const char *npy_path, mt_err *err);
/* Loads F.npy and its sidecar; validates shapes, labels in range, finite values. */
mt_status mt_features_load(const char *npy_path, mt_features *f, mt_err *err);
/* Set classes from a dataset (copies names). */
mt_status mt_features_set_classes(mt_features *f, int nclasses, char *const *names, mt_err *err);

/* Run a front-end over every item of a dataset: each item is prepared with `prep` (load,
 * resample, scale, trim, fix length) and processed into row i of a new feature set (labels,
 * split, classes and files copied from the dataset; config_json left NULL for the caller).
 * Utterances run in parallel (OpenMP, `threads` workers, 0 = all); each writes only its own row
 * and seeds its noise with its index, so the result is identical for any thread count.  The
 * first failing item (lowest index) is reported, naming its file.  progress gets
 * ("features", done, n) from the calling thread between parallel chunks. */
mt_status mt_features_extract(const mt_dataset *ds, const mt_audio_prep *prep,
                              const mt_frontend *fe, int threads, const mt_progress *progress,
                              mt_features *out, mt_err *err);

#ifdef __cplusplus
}
#endif
#endif
