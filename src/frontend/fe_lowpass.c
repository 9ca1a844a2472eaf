/* lowpass: a bank of linear first-order low-pass filters (paper Methods, "Low-pass and
 * band-pass filterbanks"; Extended Data Table 1, "linear low-pass filterbank").
 *
 *   audio x [n] V at rate_hz → for each channel c: y_c = LP1(f_c) * x (causal, zero initial
 *   state) → mean of every `decim` samples → out [C, n / decim] V at rate_hz / decim.
 *
 * LP1 is the first-order Butterworth (bilinear, pre-warped; -3 dB exactly at f_c), the filter
 * of the public code's "20-625 Hz" scenario.  Presets (option "preset"):
 *   "rnpu": cut-offs 4-13 Hz, the range f = 1/(2πRC) of the RNPU circuit's time constants
 *           RC = 12-34 ms (Fig. 2b);
 *   "wide": cut-offs 20-625 Hz (625 Hz = Nyquist of the 1,250 S/s output).
 * Options: preset, f_lo_hz, f_hi_hz (override the preset's ends), spacing ("linear" as the
 * public code's linspace, or "log").  Channel 0 has the lowest cut-off.
 */
#include <stdlib.h>

#include "dsp.h"
#include "frontend_impl.h"

typedef struct lp_state {
    double rate_hz;
    int decim, channels, preset, spacing;
    double f_lo, f_hi;
    double *fc;       /* [C] cut-offs, Hz */
    mt_fe_biquad *lp; /* [C] first-order sections */
} lp_state;

static const char *const lp_keys[] = {"preset", "f_lo_hz", "f_hi_hz", "spacing", NULL};
static const char *const lp_presets[] = {"rnpu", "wide", NULL};
static const char *const lp_spacings[] = {"linear", "log", NULL};

static void lp_destroy(void *st)
{
    lp_state *s = st;
    if (!s) return;
    free(s->fc);
    free(s->lp);
    free(s);
}

static mt_status lp_create(const mt_frontend_cfg *cfg, const cJSON *params, void **state, mt_err *err)
{
    mt_status r = mt_fe_check_keys(params, lp_keys, err);
    if (r) return r;
    int preset, spacing;
    if ((r = mt_fe_opt_choice(params, "preset", 0, lp_presets, &preset, err))) return r;
    if ((r = mt_fe_opt_choice(params, "spacing", 0, lp_spacings, &spacing, err))) return r;
    const double nyq = cfg->rate_hz / 2;
    double lo, hi;
    if ((r = mt_fe_opt_num(params, "f_lo_hz", preset == 0 ? 4.0 : 20.0, 1e-6, nyq, &lo, err))) return r;
    if ((r = mt_fe_opt_num(params, "f_hi_hz", preset == 0 ? 13.0 : 625.0, 1e-6, nyq, &hi, err))) return r;
    if (lo > hi) return mt_err_set(err, MT_ERR_ARG, "f_lo_hz (%g) is above f_hi_hz (%g)", lo, hi);
    if (hi >= nyq)
        return mt_err_set(err, MT_ERR_ARG, "cut-off %g Hz is not below the Nyquist frequency %g Hz",
                          hi, nyq);
    lp_state *s = calloc(1, sizeof *s);
    if (!s) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    s->rate_hz = cfg->rate_hz;
    s->decim = cfg->decim > 0 ? cfg->decim : 10;
    s->channels = cfg->channels > 0 ? cfg->channels : 64;
    s->preset = preset;
    s->spacing = spacing;
    s->f_lo = lo;
    s->f_hi = hi;
    s->fc = malloc(sizeof *s->fc * s->channels);
    s->lp = malloc(sizeof *s->lp * s->channels);
    if (!s->fc || !s->lp) {
        lp_destroy(s);
        return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    }
    mt_fe_spread(lo, hi, s->channels, spacing == 1, s->fc);
    for (int c = 0; c < s->channels; c++) s->lp[c] = mt_fe_lp1(s->fc[c], s->rate_hz);
    *state = s;
    return MT_OK;
}

static int lp_channels(const void *st) { return ((const lp_state *)st)->channels; }
static int64_t lp_out_len(const void *st, int64_t n) { return n / ((const lp_state *)st)->decim; }
static double lp_out_rate(const void *st)
{
    const lp_state *s = st;
    return s->rate_hz / s->decim;
}

static mt_status lp_process(const void *st, const float *x, int64_t n, uint64_t utt, float *out,
                            mt_err *err)
{
    (void)utt;
    const lp_state *s = st;
    const int64_t t = n / s->decim;
    double *y = malloc(sizeof *y * (size_t)n); /* per-call scratch: process() is reentrant */
    if (!y) return mt_err_set(err, MT_ERR_NOMEM, "out of memory (%lld samples)", (long long)n);
    for (int c = 0; c < s->channels; c++) {
        mt_fe_biquad_run(&s->lp[c], 1, x, n, y);
        mt_fe_decimate_mean_d(y, n, s->decim, out + (int64_t)c * t);
    }
    free(y);
    return MT_OK;
}

static cJSON *lp_config(const void *st)
{
    const lp_state *s = st;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "frontend", "lowpass");
    cJSON_AddNumberToObject(j, "channels", s->channels);
    cJSON_AddNumberToObject(j, "rate_hz", s->rate_hz);
    cJSON_AddNumberToObject(j, "decim", s->decim);
    cJSON_AddNumberToObject(j, "out_rate_hz", s->rate_hz / s->decim);
    cJSON_AddStringToObject(j, "preset", lp_presets[s->preset]);
    cJSON_AddNumberToObject(j, "f_lo_hz", s->f_lo);
    cJSON_AddNumberToObject(j, "f_hi_hz", s->f_hi);
    cJSON_AddStringToObject(j, "spacing", lp_spacings[s->spacing]);
    cJSON_AddStringToObject(j, "filter", "1st-order Butterworth, bilinear, causal");
    cJSON_AddItemToObject(j, "cutoffs_hz", mt_fe_json_array(s->fc, s->channels));
    return j;
}

/* Streaming: the filter states carried across calls (stream.c's biquad-bank helper). */
static int lp_stream_group(const void *st) { return ((const lp_state *)st)->decim; }
static mt_status lp_stream_create(const void *st, uint64_t utt, void **stream, mt_err *err)
{
    (void)utt;
    const lp_state *s = st;
    return mt_fe_sos_stream_create(s->lp, 1, s->channels, s->decim, 0, 0, 0, 0, stream, err);
}

const mt_frontend_ops mt_fe_lowpass = {
    .name = "lowpass",
    .create = lp_create,
    .channels = lp_channels,
    .out_len = lp_out_len,
    .out_rate = lp_out_rate,
    .process = lp_process,
    .config = lp_config,
    .destroy = lp_destroy,
    .stream_group = lp_stream_group,
    .stream_create = lp_stream_create,
    .stream_run = mt_fe_sos_stream_run,
    .stream_destroy = mt_fe_sos_stream_free,
};
