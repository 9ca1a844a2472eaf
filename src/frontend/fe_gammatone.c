/* gammatone and gammatone-tanh: a 4th-order gammatone band-pass filterbank, linear or followed
 * by the compressive tanh of the paper's Methods ("Nonlinear band-pass filterbanks"):
 *
 *   gammatone:       y_c = G_c * x
 *   gammatone-tanh:  y_c = scale · tanh(gain · (G_c * x) + offset)   (paper: ½·tanh(fb(X) + 1),
 *                    public code: 0.5·tanh(lfilter(b, 1, 50·x) + 1), so gain 50, offset 1,
 *                    scale 0.5)
 *   then the mean of every `decim` samples: out [C, n / decim] at rate_hz / decim.
 *
 * G_c is Slaney's exact digital 4th-order gammatone (4 cascaded biquads, designed in double,
 * each stage normalised to unit gain at f_c, so |G_c(f_c)| = 1, 0 dB), centre frequencies
 * equally spaced on the ERB scale over 20-625 Hz (channel 0 lowest); bandwidth
 * b·ERB(f_c) with b = 1.019 and ERB(f) = f/9.26449 + 24.7 Hz (Glasberg & Moore 1990).
 * Options: f_lo_hz, f_hi_hz, spacing ("erb" or "linear"), and for gammatone-tanh gain,
 * offset, scale.
 */
#include <math.h>
#include <stdlib.h>

#include "dsp.h"
#include "frontend_impl.h"

typedef struct gt_state {
    int tanh_mode;
    double rate_hz;
    int decim, channels, spacing;
    double f_lo, f_hi;
    double gain, offset, scale; /* tanh variant only */
    double *fc;                 /* [C] centre frequencies, Hz */
    mt_fe_biquad *q;            /* [C][4] sections */
} gt_state;

static const char *const gt_keys[] = {"f_lo_hz", "f_hi_hz", "spacing", NULL};
static const char *const gtt_keys[] = {"f_lo_hz", "f_hi_hz", "spacing", "gain", "offset", "scale", NULL};
static const char *const gt_spacings[] = {"erb", "linear", NULL};

static void gt_destroy(void *st)
{
    gt_state *s = st;
    if (!s) return;
    free(s->fc);
    free(s->q);
    free(s);
}

static mt_status gt_create_common(const mt_frontend_cfg *cfg, const cJSON *params, int tanh_mode,
                                  void **state, mt_err *err)
{
    mt_status r = mt_fe_check_keys(params, tanh_mode ? gtt_keys : gt_keys, err);
    if (r) return r;
    const double nyq = cfg->rate_hz / 2;
    double lo, hi, gain = 0, offset = 0, scale = 0;
    int spacing;
    if ((r = mt_fe_opt_num(params, "f_lo_hz", 20.0, 1e-3, nyq, &lo, err))) return r;
    if ((r = mt_fe_opt_num(params, "f_hi_hz", 625.0, 1e-3, nyq, &hi, err))) return r;
    if ((r = mt_fe_opt_choice(params, "spacing", 0, gt_spacings, &spacing, err))) return r;
    if (lo > hi) return mt_err_set(err, MT_ERR_ARG, "f_lo_hz (%g) is above f_hi_hz (%g)", lo, hi);
    if (hi >= nyq)
        return mt_err_set(err, MT_ERR_ARG, "centre frequency %g Hz is not below Nyquist %g Hz", hi, nyq);
    if (tanh_mode) {
        if ((r = mt_fe_opt_num(params, "gain", 50.0, -1e9, 1e9, &gain, err))) return r;
        if ((r = mt_fe_opt_num(params, "offset", 1.0, -1e9, 1e9, &offset, err))) return r;
        if ((r = mt_fe_opt_num(params, "scale", 0.5, -1e9, 1e9, &scale, err))) return r;
    }
    gt_state *s = calloc(1, sizeof *s);
    if (!s) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    s->tanh_mode = tanh_mode;
    s->rate_hz = cfg->rate_hz;
    s->decim = cfg->decim > 0 ? cfg->decim : 10;
    s->channels = cfg->channels > 0 ? cfg->channels : 64;
    s->spacing = spacing;
    s->f_lo = lo;
    s->f_hi = hi;
    s->gain = gain;
    s->offset = offset;
    s->scale = scale;
    s->fc = malloc(sizeof *s->fc * s->channels);
    s->q = malloc(sizeof *s->q * 4 * s->channels);
    if (!s->fc || !s->q) {
        gt_destroy(s);
        return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    }
    if (spacing == 0) mt_fe_erb_space(lo, hi, s->channels, s->fc);
    else mt_fe_spread(lo, hi, s->channels, 0, s->fc);
    for (int c = 0; c < s->channels; c++) mt_fe_gammatone_design(s->fc[c], s->rate_hz, s->q + 4 * c);
    *state = s;
    return MT_OK;
}

static mt_status gt_create(const mt_frontend_cfg *cfg, const cJSON *params, void **state, mt_err *err)
{
    return gt_create_common(cfg, params, 0, state, err);
}

static mt_status gtt_create(const mt_frontend_cfg *cfg, const cJSON *params, void **state, mt_err *err)
{
    return gt_create_common(cfg, params, 1, state, err);
}

static int gt_channels(const void *st) { return ((const gt_state *)st)->channels; }
static int64_t gt_out_len(const void *st, int64_t n) { return n / ((const gt_state *)st)->decim; }
static double gt_out_rate(const void *st)
{
    const gt_state *s = st;
    return s->rate_hz / s->decim;
}

static mt_status gt_process(const void *st, const float *x, int64_t n, uint64_t utt, float *out,
                            mt_err *err)
{
    (void)utt;
    const gt_state *s = st;
    const int64_t t = n / s->decim;
    double *y = malloc(sizeof *y * (size_t)n); /* per-call scratch */
    if (!y) return mt_err_set(err, MT_ERR_NOMEM, "out of memory (%lld samples)", (long long)n);
    for (int c = 0; c < s->channels; c++) {
        mt_fe_biquad_run(s->q + 4 * c, 4, x, n, y);
        if (s->tanh_mode)
            for (int64_t i = 0; i < n; i++) y[i] = s->scale * tanh(s->gain * y[i] + s->offset);
        mt_fe_decimate_mean_d(y, n, s->decim, out + (int64_t)c * t);
    }
    free(y);
    return MT_OK;
}

static cJSON *gt_config(const void *st)
{
    const gt_state *s = st;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "frontend", s->tanh_mode ? "gammatone-tanh" : "gammatone");
    cJSON_AddNumberToObject(j, "channels", s->channels);
    cJSON_AddNumberToObject(j, "rate_hz", s->rate_hz);
    cJSON_AddNumberToObject(j, "decim", s->decim);
    cJSON_AddNumberToObject(j, "out_rate_hz", s->rate_hz / s->decim);
    cJSON_AddNumberToObject(j, "f_lo_hz", s->f_lo);
    cJSON_AddNumberToObject(j, "f_hi_hz", s->f_hi);
    cJSON_AddStringToObject(j, "spacing", gt_spacings[s->spacing]);
    cJSON_AddStringToObject(j, "filter", "Slaney 4th-order gammatone, 4 biquads, b=1.019, unit gain at fc");
    if (s->tanh_mode) {
        cJSON_AddNumberToObject(j, "gain", s->gain);
        cJSON_AddNumberToObject(j, "offset", s->offset);
        cJSON_AddNumberToObject(j, "scale", s->scale);
    }
    cJSON_AddItemToObject(j, "centre_hz", mt_fe_json_array(s->fc, s->channels));
    return j;
}

/* Streaming: the filter states carried across calls (stream.c's biquad-bank helper). */
static int gt_stream_group(const void *st) { return ((const gt_state *)st)->decim; }
static mt_status gt_stream_create(const void *st, uint64_t utt, void **stream, mt_err *err)
{
    (void)utt;
    const gt_state *s = st;
    return mt_fe_sos_stream_create(s->q, 4, s->channels, s->decim, s->tanh_mode, s->gain, s->offset,
                                   s->scale, stream, err);
}

const mt_frontend_ops mt_fe_gammatone = {
    .name = "gammatone",
    .create = gt_create,
    .channels = gt_channels,
    .out_len = gt_out_len,
    .out_rate = gt_out_rate,
    .process = gt_process,
    .config = gt_config,
    .destroy = gt_destroy,
    .stream_group = gt_stream_group,
    .stream_create = gt_stream_create,
    .stream_run = mt_fe_sos_stream_run,
    .stream_destroy = mt_fe_sos_stream_free,
};

const mt_frontend_ops mt_fe_gammatone_tanh = {
    .name = "gammatone-tanh",
    .create = gtt_create,
    .channels = gt_channels,
    .out_len = gt_out_len,
    .out_rate = gt_out_rate,
    .process = gt_process,
    .config = gt_config,
    .destroy = gt_destroy,
    .stream_group = gt_stream_group,
    .stream_create = gt_stream_create,
    .stream_run = mt_fe_sos_stream_run,
    .stream_destroy = mt_fe_sos_stream_free,
};
