/* materia — datasets: layouts, labels, speakers and reproducible splits.
 *
 * A dataset is a list of items (audio file + optional frame range, class label, speaker) found
 * under a root folder in one of the known layouts:
 *   fsdd    {digit}_{speaker}_{index}.wav; official split: index 0-4 = test
 *   gsc     Speech Commands folders ({word}/{speaker}_nohash_{n}.wav|flac); 12-class mapping
 *           (10 keywords + _unknown_ + _silence_) or the paper's 30-word -> 11 keywords
 *           (+ "house") + unknown mapping; validation_list.txt / testing_list.txt when present;
 *           _silence_ clips from a _silence_ folder, else 1-s windows of _background_noise_
 *   ti46    LDC TI-46-Word tree of SPHERE files ({ww}{sex}{n}set{k}.*), TRAIN/TEST folders =
 *           official split; digits 0-9 by default; optional female-only filter
 *   folder  one sub-folder per class
 */
#ifndef MATERIA_DATASET_H
#define MATERIA_DATASET_H

#include <stdint.h>

#include "materia/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mt_layout { MT_LAYOUT_FSDD = 0, MT_LAYOUT_GSC, MT_LAYOUT_TI46, MT_LAYOUT_FOLDER } mt_layout;
typedef enum mt_split_set { MT_SPLIT_TRAIN = 0, MT_SPLIT_VAL = 1, MT_SPLIT_TEST = 2 } mt_split_set;
typedef enum mt_split_method {
    MT_SPLIT_OFFICIAL = 0,   /* the layout's own split (error if it has none) */
    MT_SPLIT_STRATIFIED,     /* per-class random test fraction, seeded (the paper: 90/10) */
    MT_SPLIT_SPEAKER,        /* whole speakers to test, seeded, ≈ test fraction of files */
    MT_SPLIT_AUTO            /* official when the data has one, else stratified */
} mt_split_method;
typedef enum mt_gsc_classes { MT_GSC_12 = 0, MT_GSC_PAPER } mt_gsc_classes;

typedef struct mt_item {
    char *path;      /* full path of the audio file */
    char *rel;       /* path relative to the dataset root (stable id) */
    int64_t offset;  /* first frame of the clip in the file (0) */
    int64_t length;  /* frames, or -1 for the whole file */
    int label;       /* class index */
    int speaker;     /* speaker index, or -1 when unknown */
    int split;       /* mt_split_set */
} mt_item;

typedef struct mt_dataset_opts {
    mt_gsc_classes gsc_classes;  /* gsc: 12-class (default) or the paper's mapping */
    int ti46_female_only;        /* ti46: keep female speakers only (the paper's subset) */
    int ti46_all_words;          /* ti46: all 20 TI-20 words instead of digits 0-9 */
} mt_dataset_opts;

typedef struct mt_dataset {
    mt_layout layout;
    char *root;
    int n;
    mt_item *items;      /* sorted by rel path, so order never depends on the file system */
    int nclasses;
    char **classes;
    int nspeakers;
    char **speakers;
    int has_official;    /* the layout/data defines an official split */
    mt_split_method split_method; /* what the last mt_dataset_split applied */
} mt_dataset;

mt_status mt_layout_parse(const char *name, mt_layout *out, mt_err *err);
const char *mt_layout_name(mt_layout l);
mt_status mt_split_method_parse(const char *name, mt_split_method *out, mt_err *err);
const char *mt_split_method_name(mt_split_method m);

/* Scan root; items get the official split (or all train when there is none).
 * Errors: missing dir, no audio files, empty class, unparsable file name. */
mt_status mt_dataset_open(const char *root, mt_layout layout, const mt_dataset_opts *opts,
                          mt_dataset *ds, mt_err *err);
void mt_dataset_free(mt_dataset *ds);

/* Assign items to train/test (and keep official validation items).  Reproducible from seed. */
mt_status mt_dataset_split(mt_dataset *ds, mt_split_method method, double test_frac, uint64_t seed,
                           mt_err *err);

/* Count items with the given split (or -1 for all) and label (or -1 for all). */
int mt_dataset_count(const mt_dataset *ds, int split, int label);

#ifdef __cplusplus
}
#endif
#endif
