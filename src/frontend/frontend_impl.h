/* Private: the table each front-end implements.  One file per front-end (src/frontend/fe_*.c
 * or its own module), each defining `const mt_frontend_ops mt_fe_<name>`; registry.c lists them. */
#ifndef MATERIA_FRONTEND_IMPL_H
#define MATERIA_FRONTEND_IMPL_H

#include <cjson/cJSON.h>

#include "materia/frontend.h"

typedef struct mt_frontend_ops {
    const char *name;
    /* Build immutable state from the common config and the parsed params (may be NULL).
     * Unknown keys in params must be rejected with a clear message. */
    mt_status (*create)(const mt_frontend_cfg *cfg, const cJSON *params, void **state, mt_err *err);
    int (*channels)(const void *state);
    int64_t (*out_len)(const void *state, int64_t n);
    double (*out_rate)(const void *state);
    mt_status (*process)(const void *state, const float *x, int64_t n, uint64_t utt, float *out,
                         mt_err *err);
    /* Resolved config as a JSON object (caller deletes). */
    cJSON *(*config)(const void *state);
    void (*destroy)(void *state);
    /* ---- optional streaming (src/frontend/stream.c); all NULL: the front-end cannot stream ----
     * stream_group: input samples per output frame (the decimation D).
     * stream_mean_removal: 1 when process() subtracts each channel's mean over the utterance
     *   (the stream never does; NULL = 0).
     * stream_create: a running state for utterance key utt; it may refer to `state`, which
     *   outlives it.
     * stream_run: x [ngroups·D] samples (whole frames only: the common layer keeps the
     *   remainder) → frame g of channel ch in out[ch·ostride + g], g < ngroups.  Running the
     *   signal through it in any number of calls must give exactly what process() gives for the
     *   whole signal (without the mean removal). */
    int (*stream_group)(const void *state);
    int (*stream_mean_removal)(const void *state);
    mt_status (*stream_create)(const void *state, uint64_t utt, void **stream, mt_err *err);
    mt_status (*stream_run)(void *stream, const float *x, int64_t ngroups, float *out,
                            int64_t ostride, mt_err *err);
    void (*stream_destroy)(void *stream);
} mt_frontend_ops;

/* The ops table and state of a created front-end (registry.c; for stream.c). */
const mt_frontend_ops *mt_fe_ops_of(const mt_frontend *fe);
const void *mt_fe_state_of(const mt_frontend *fe);

/* Streaming helper for banks of cascaded biquads followed by an optional pointwise
 * y ← scale·tanh(gain·y + offset) and the mean of every `decim` samples (lowpass, gammatone,
 * gammatone-tanh): q [channels][nsec] sections (copied), each channel's transposed-direct-form-II
 * state carried across calls, the same double arithmetic as mt_fe_biquad_run +
 * mt_fe_decimate_mean_d.  run/free fit stream_run/stream_destroy. */
struct mt_fe_biquad;
mt_status mt_fe_sos_stream_create(const struct mt_fe_biquad *q, int nsec, int channels, int decim,
                                  int tanh_mode, double gain, double offset, double scale,
                                  void **stream, mt_err *err);
mt_status mt_fe_sos_stream_run(void *stream, const float *x, int64_t ngroups, float *out,
                               int64_t ostride, mt_err *err);
void mt_fe_sos_stream_free(void *stream);

/* Helper for front-ends: average every `decim` samples of x [n] into y [n / decim]. */
void mt_fe_decimate_mean(const float *x, int64_t n, int decim, float *y);

#endif
