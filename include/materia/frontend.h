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

#ifdef __cplusplus
}
#endif
#endif
