/* materia — front-ends: audio [n] volts → features [C, T].
 *
 * Every front-end (rnpu, raw, lowpass, nlowpass, gammatone, gammatone-tanh, esn, logmel, mfcc)
 * has the same interface so that any classifier can be trained on any of them.  The paper's
 * front-ends run at 12.5 kS/s and average every `decim` = 10 output samples (the ADC's
 * oversampling), giving 1,250 S/s; logmel/mfcc give 100 frames/s.
 *
 * A created front-end is immutable: mt_frontend_process may be called concurrently from many
 * threads.  Stochastic front-ends derive every draw from (cfg.seed, utterance index), so the
 * result for an utterance never depends on thread count or processing order.
 */
#ifndef MATERIA_FRONTEND_H
#define MATERIA_FRONTEND_H

#include <stdint.h>

#include "materia/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_frontend mt_frontend;

typedef struct mt_frontend_cfg {
    const char *name;        /* "rnpu", "lowpass", ... */
    int channels;            /* C; 0 = the front-end's default (64) */
    uint64_t seed;           /* device instance / control sets / reservoir draws */
    double rate_hz;          /* input sample rate; 0 = 12,500 */
    int decim;               /* output decimation by averaging; 0 = the front-end's default
                              * (10 for the paper's front-ends, 1 for raw) */
    const char *params_json; /* front-end specific options (JSON object text) or NULL */
} mt_frontend_cfg;

mt_status mt_frontend_create(const mt_frontend_cfg *cfg, mt_frontend **out, mt_err *err);
void mt_frontend_free(mt_frontend *fe);

const char *mt_frontend_name(const mt_frontend *fe);
int mt_frontend_channels(const mt_frontend *fe);
/* Output frames for an input of n samples. */
int64_t mt_frontend_out_len(const mt_frontend *fe, int64_t n);
/* Output sample rate (S/s). */
double mt_frontend_out_rate(const mt_frontend *fe);
/* x [n] volts at cfg.rate_hz → out [C, out_len(n)] (caller-allocated).  utt seeds per-utterance
 * noise.  Thread-safe. */
mt_status mt_frontend_process(const mt_frontend *fe, const float *x, int64_t n, uint64_t utt,
                              float *out, mt_err *err);
/* The fully resolved configuration (all defaults filled in) as JSON text; free() it. */
char *mt_frontend_config_json(const mt_frontend *fe);
/* The registered front-ends: count and the i-th name (NULL when out of range). */
int mt_frontend_count(void);
const char *mt_frontend_name_at(int i);

/* ---- streaming (`materia listen`) ---------------------------------------------------------
 * A stream runs a front-end on audio that arrives in pieces, as a real-time system would.  It
 * carries the front-end's state from push to push (for rnpu: each channel's device state after
 * the same pre-roll as the batch path, the samples of an incomplete ADC group and the absolute
 * sample index that keys the ADC noise), so that pushing x in blocks of ANY sizes gives exactly
 * the frames mt_frontend_process(fe, x, n, utt, ...) gives for the whole x — WITHOUT the
 * per-utterance mean removal: that is a whole-utterance operation, left to the caller (see
 * mt_frontend_stream_mean_removal).
 *
 * Streaming front-ends: rnpu, raw, lowpass, gammatone, gammatone-tanh.  The others (nlowpass:
 * FFT over the whole utterance; esn; logmel/mfcc: overlapping windows) cannot stream:
 * mt_frontend_can_stream is 0 and mt_frontend_stream_create fails with MT_ERR_ARG; recompute
 * each analysis window with mt_frontend_process instead.
 *
 * A stream refers to fe, which must outlive it.  One stream is used by one thread at a time;
 * any number of streams may run on the same fe concurrently. */
typedef struct mt_frontend_stream mt_frontend_stream;

/* 1 if fe has a streaming implementation. */
int mt_frontend_can_stream(const mt_frontend *fe);
/* A new stream at the start of utterance utt (the noise key of mt_frontend_process). */
mt_status mt_frontend_stream_create(const mt_frontend *fe, uint64_t utt, mt_frontend_stream **out,
                                    mt_err *err);
/* Push x[n] volts (n ≥ 0, finite) and receive the frames they complete: *nout new frames laid
 * out [C, *nout] contiguous, i.e. frame t of channel ch is out[ch·(*nout) + t] (row stride
 * *nout, like mt_frontend_process's [C, T]).  out holds C·cap floats; when the push would yield
 * more than cap frames (see mt_frontend_stream_out_len) it fails with MT_ERR_ARG and consumes
 * nothing.  A non-finite sample fails with MT_ERR_DATA naming its absolute index, consuming
 * nothing. */
mt_status mt_frontend_stream_push(mt_frontend_stream *s, const float *x, int64_t n, float *out,
                                  int64_t cap, int64_t *nout, mt_err *err);
/* Frames the next push of n samples will yield. */
int64_t mt_frontend_stream_out_len(const mt_frontend_stream *s, int64_t n);
/* Samples pushed so far; the frames produced so far are samples / mt_frontend_stream_group. */
int64_t mt_frontend_stream_samples(const mt_frontend_stream *s);
/* Input samples per output frame (the decimation). */
int mt_frontend_stream_group(const mt_frontend_stream *s);
/* 1 if mt_frontend_process removes each channel's mean over the utterance (rnpu with the
 * default mean_removal): the caller should then subtract each channel's mean over its analysis
 * window to reproduce what the model was trained on. */
int mt_frontend_stream_mean_removal(const mt_frontend_stream *s);
void mt_frontend_stream_free(mt_frontend_stream *s);

#ifdef __cplusplus
}
#endif
#endif
