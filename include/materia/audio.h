/* materia — audio loading and preprocessing.
 *
 * Signals are float32 volts at a stated rate.  Every step is a pure function on a buffer:
 * load → (mix to mono) → resample → scale to a peak voltage → trim silence → fix length.
 * mt_audio_prepare chains them according to an mt_audio_prep recipe.
 */
#ifndef MATERIA_AUDIO_H
#define MATERIA_AUDIO_H

#include <stdint.h>

#include "materia/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Header facts of an audio file (read without decoding the samples). */
typedef struct mt_audio_info {
    double rate_hz;
    int64_t frames;
    int channels;
    double duration_s;
    char format[64]; /* e.g. "WAV PCM_16", "FLAC PCM_16", "NIST PCM_16" */
} mt_audio_info;

/* Open with libsndfile (WAV/FLAC/NIST SPHERE/...); rejects zero-length or unreadable files. */
mt_status mt_audio_info_read(const char *path, mt_audio_info *info, mt_err *err);

/* Decode a whole file to mono float32 (channels averaged), full scale = ±1.0.
 * *x is malloc'd (free()).  offset/length select a frame range (length < 0: to the end). */
mt_status mt_audio_load(const char *path, int64_t offset, int64_t length, float **x, int64_t *n,
                        double *rate_hz, mt_err *err);

/* Band-limited resampling (libsamplerate, SRC_SINC_BEST_QUALITY).  *y malloc'd, *ny ≈ n·out/in. */
mt_status mt_audio_resample(const float *x, int64_t n, double in_hz, double out_hz, float **y,
                            int64_t *ny, mt_err *err);

/* y = x · (peak / max|x|); all-zero input stays zero.  x and y may alias. */
void mt_audio_scale_peak(const float *x, int64_t n, float peak, float *y);

/* Paper trim (Methods, TI-46): drop leading and trailing samples with |x| < thresh (volts);
 * returns the kept range [*start, *end).  An all-quiet signal gives start == end. */
void mt_audio_trim_abs(const float *x, int64_t n, float thresh, int64_t *start, int64_t *end);

/* Public-code trim (librosa.effects.trim semantics, zero padding): frames of frame_len samples
 * every hop samples, non-silent when RMS > max-frame RMS · 10^(−top_db/20). */
void mt_audio_trim_db(const float *x, int64_t n, double top_db, int frame_len, int hop,
                      int64_t *start, int64_t *end);

/* Copy into exactly len samples: crop the tail or pad with zeros at the end. */
void mt_audio_fix_length(const float *x, int64_t n, int64_t len, float *y);

typedef enum mt_trim { MT_TRIM_NONE = 0, MT_TRIM_ABS, MT_TRIM_DB } mt_trim;

/* A preprocessing recipe. */
typedef struct mt_audio_prep {
    double rate_hz;    /* target rate; 0 keeps the file's rate.  Paper: 12,500 Hz */
    float peak_v;      /* peak after scaling; 0 disables scaling.  Paper: 0.75 V */
    mt_trim trim;      /* MT_TRIM_ABS (paper, default for fsdd/ti46 presets) or MT_TRIM_DB */
    float trim_abs_v;  /* MT_TRIM_ABS threshold, volts (after scaling).  Paper: 0.05 V */
    double trim_db;    /* MT_TRIM_DB threshold, dB below the loudest frame.  Code: 12 */
    int64_t length;    /* final length in samples; 0 keeps the trimmed length */
} mt_audio_prep;

/* The paper's TI-46 recipe: 12.5 kHz, 0.75 V peak, 50 mV trim, 12,500 samples (1 s). */
mt_audio_prep mt_audio_prep_default(void);

/* Load a file (or a frame range of it) and apply a recipe; *y malloc'd. */
mt_status mt_audio_prepare(const char *path, int64_t offset, int64_t length,
                           const mt_audio_prep *prep, float **y, int64_t *ny, mt_err *err);
/* The same recipe on a buffer already in memory (rate in_hz). */
mt_status mt_audio_prepare_buffer(const float *x, int64_t n, double in_hz,
                                  const mt_audio_prep *prep, float **y, int64_t *ny, mt_err *err);

/* Write mono float samples as a 16-bit PCM WAV (atomic). */
mt_status mt_audio_write_wav(const char *path, const float *x, int64_t n, double rate_hz,
                             mt_err *err);

#ifdef __cplusplus
}
#endif
#endif
