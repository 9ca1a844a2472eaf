/* nlowpass: the nonlinear low-pass filterbank of the paper's Methods ("Nonlinear low-pass
 * filterbanks", Extended Data Table 3): a linear low-pass filter per channel plus two
 * "biologically inspired" distortions.
 *
 * Per channel c (cut-off f_c, 20-625 Hz linear by default, channel 0 lowest):
 *   1. y = LP1(f_c) * x, the causal first-order Butterworth of the lowpass front-end;
 *   2. Y = rfft(y zero-padded to L = next power of two >= n)      (bin width df = rate/L Hz)
 *      Z = Y, then for every source bin k (computed from the ORIGINAL Y, so the result does
 *      not depend on the loop order):
 *        harmonic band  (default 1-128 Hz):  Z[k]   += (g - 1)·Y[k]        g = fundamental_gain 0.9
 *                                            Z[h·k] += g·Y[k] / h          h = 2 .. harmonic_orders
 *        subharmonic band (128-321 Hz):      Z[round(k/s)] += Y[k] / s     s = 2 .. subharmonic_orders
 *      so the added component at n·f has 1/n the magnitude of the (attenuated) fundamental;
 *   3. z = irfft(Z)[0 .. n), mean of every `decim` samples → u_c [T], T = n / decim;
 *   4. delayed inter-channel crosstalk at the output rate:
 *        out_0 = u_0;  out_c[t] = u_c[t] + a·out_{c-1}[t - D]   (a = 0.3, D = 8 ms = 10 samples
 *        at 1,250 S/s, zero before the start).  With crosstalk_cascade = false the added term
 *        is a·u_{c-1}[t - D] (the previous channel's own filter output) instead.
 *
 * Differences from the public code (TI46/ti_spoken_digits_low_pass_filters_nonlinear.py,
 * mixed_nonlinear_lowpass): it finds the harmonic bin by exact float equality of frequencies
 * and silently skips 89 of 495 harmonic pairs (and 36 of 218 divisible subharmonic pairs);
 * here h·k is an exact bin index, and a non-divisible subharmonic goes to the nearest bin.  It
 * modifies Y in place in ascending order, so later bins also propagate earlier additions
 * (cascaded harmonics of harmonics); here every addition comes from the LTI spectrum.  Its bands
 * are bins 1..99 and 100..249 of a 9710-point FFT at 12.5 kHz; here they are given in Hz
 * (1.287-127.4 Hz and 128.7-320.6 Hz in the original) so they mean the same at any length.
 * It decimates by [::10]; here by the mean of 10 (the ADC's averaging).  See docs/frontends.md.
 */
#include <fftw3.h> /* fftwf_complex is float[2]: <complex.h> deliberately not included */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dsp.h"
#include "frontend_impl.h"

#define NL_LOG2_MIN 10 /* smallest FFT length 1024 */
#define NL_LOG2_MAX 21 /* largest 2^21 = 2,097,152 samples (168 s at 12.5 kS/s) */
#define NL_NPLAN (NL_LOG2_MAX - NL_LOG2_MIN + 1)

typedef struct nl_state {
    double rate_hz;
    int decim, channels, spacing;
    double f_lo, f_hi;
    double harm_band[2], sub_band[2]; /* Hz, [lo, hi) */
    int harm_orders, sub_orders;
    double fund_gain;
    double xt_gain, xt_delay_s;
    int xt_delay; /* output samples */
    int xt_cascade;
    double *fc;       /* [C] cut-offs, Hz */
    mt_fe_biquad *lp; /* [C] */
    /* FFTW plans for L = 2^k, planned once at create (FFTW's planner is not thread-safe);
     * process() uses only the thread-safe new-array execute functions. */
    fftwf_plan fwd[NL_NPLAN], inv[NL_NPLAN];
} nl_state;

static const char *const nl_keys[] = {"f_lo_hz", "f_hi_hz", "spacing", "harmonic_band_hz",
                                      "subharmonic_band_hz", "harmonic_orders",
                                      "subharmonic_orders", "fundamental_gain", "crosstalk_gain",
                                      "crosstalk_delay_s", "crosstalk_cascade", NULL};
static const char *const nl_spacings[] = {"linear", "log", NULL};

static void nl_destroy(void *st)
{
    nl_state *s = st;
    if (!s) return;
    for (int i = 0; i < NL_NPLAN; i++) {
        if (s->fwd[i]) fftwf_destroy_plan(s->fwd[i]);
        if (s->inv[i]) fftwf_destroy_plan(s->inv[i]);
    }
    free(s->fc);
    free(s->lp);
    free(s);
}

static mt_status nl_create(const mt_frontend_cfg *cfg, const cJSON *params, void **state, mt_err *err)
{
    mt_status r = mt_fe_check_keys(params, nl_keys, err);
    if (r) return r;
    const double nyq = cfg->rate_hz / 2;
    nl_state *s = calloc(1, sizeof *s);
    if (!s) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    s->rate_hz = cfg->rate_hz;
    s->decim = cfg->decim > 0 ? cfg->decim : 10;
    s->channels = cfg->channels > 0 ? cfg->channels : 64;
    if ((r = mt_fe_opt_num(params, "f_lo_hz", 20.0, 1e-6, nyq, &s->f_lo, err)) ||
        (r = mt_fe_opt_num(params, "f_hi_hz", 625.0, 1e-6, nyq, &s->f_hi, err)) ||
        (r = mt_fe_opt_choice(params, "spacing", 0, nl_spacings, &s->spacing, err)) ||
        (r = mt_fe_opt_range(params, "harmonic_band_hz", 1.0, 128.0, 0, nyq, s->harm_band, err)) ||
        (r = mt_fe_opt_range(params, "subharmonic_band_hz", 128.0, 321.0, 0, nyq, s->sub_band, err)) ||
        (r = mt_fe_opt_int(params, "harmonic_orders", 6, 1, 64, &s->harm_orders, err)) ||
        (r = mt_fe_opt_int(params, "subharmonic_orders", 6, 1, 64, &s->sub_orders, err)) ||
        (r = mt_fe_opt_num(params, "fundamental_gain", 0.9, -1e6, 1e6, &s->fund_gain, err)) ||
        (r = mt_fe_opt_num(params, "crosstalk_gain", 0.3, -1e6, 1e6, &s->xt_gain, err)) ||
        (r = mt_fe_opt_num(params, "crosstalk_delay_s", 0.008, 0, 10, &s->xt_delay_s, err)) ||
        (r = mt_fe_opt_bool(params, "crosstalk_cascade", 1, &s->xt_cascade, err))) {
        nl_destroy(s);
        return r;
    }
    if (s->f_lo > s->f_hi || s->f_hi >= nyq) {
        nl_destroy(s);
        return mt_err_set(err, MT_ERR_ARG, "cut-offs must satisfy f_lo_hz <= f_hi_hz < Nyquist "
                          "(%g Hz); got %g, %g", nyq, s->f_lo, s->f_hi);
    }
    s->xt_delay = (int)lround(s->xt_delay_s * s->rate_hz / s->decim);
    s->fc = malloc(sizeof *s->fc * s->channels);
    s->lp = malloc(sizeof *s->lp * s->channels);
    const int lmax = 1 << NL_LOG2_MAX;
    float *rb = fftwf_malloc(sizeof(float) * lmax);
    fftwf_complex *cb = fftwf_malloc(sizeof(fftwf_complex) * (lmax / 2 + 1));
    if (!s->fc || !s->lp || !rb || !cb) {
        fftwf_free(rb);
        fftwf_free(cb);
        nl_destroy(s);
        return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    }
    mt_fe_spread(s->f_lo, s->f_hi, s->channels, s->spacing == 1, s->fc);
    for (int c = 0; c < s->channels; c++) s->lp[c] = mt_fe_lp1(s->fc[c], s->rate_hz);
    for (int i = 0; i < NL_NPLAN; i++) {
        const int l = 1 << (NL_LOG2_MIN + i);
        /* FFTW_ESTIMATE does not touch the arrays; they only fix the alignment. */
        s->fwd[i] = fftwf_plan_dft_r2c_1d(l, rb, cb, FFTW_ESTIMATE);
        s->inv[i] = fftwf_plan_dft_c2r_1d(l, cb, rb, FFTW_ESTIMATE | FFTW_DESTROY_INPUT);
        if (!s->fwd[i] || !s->inv[i]) {
            fftwf_free(rb);
            fftwf_free(cb);
            nl_destroy(s);
            return mt_err_set(err, MT_ERR_INTERNAL, "FFTW could not plan a %d-point transform", l);
        }
    }
    fftwf_free(rb);
    fftwf_free(cb);
    *state = s;
    return MT_OK;
}

static int nl_channels(const void *st) { return ((const nl_state *)st)->channels; }
static int64_t nl_out_len(const void *st, int64_t n) { return n / ((const nl_state *)st)->decim; }
static double nl_out_rate(const void *st)
{
    const nl_state *s = st;
    return s->rate_hz / s->decim;
}

/* Step 2 on one spectrum: y [l/2+1] (LTI) → z [l/2+1] with the harmonic/subharmonic
 * additions.  Bins k with f_k = k·rate/l in [lo, hi) of a band are sources (DC never). */
static void nl_distort(const nl_state *s, const fftwf_complex *y, fftwf_complex *z, int l)
{
    const int half = l / 2;
    const double df = s->rate_hz / l;
    memcpy(z, y, sizeof(fftwf_complex) * (half + 1));
    for (int k = 1; k < half; k++) {
        const double f = k * df;
        if (f >= s->harm_band[0] && f < s->harm_band[1]) {
            const float re = y[k][0], im = y[k][1];
            z[k][0] += (float)(s->fund_gain - 1) * re;
            z[k][1] += (float)(s->fund_gain - 1) * im;
            for (int h = 2; h <= s->harm_orders; h++) {
                const int64_t t = (int64_t)h * k;
                if (t >= half) break; /* beyond Nyquist (the Nyquist bin itself must stay real) */
                const float a = (float)(s->fund_gain / h);
                z[t][0] += a * re;
                z[t][1] += a * im;
            }
        }
        if (f >= s->sub_band[0] && f < s->sub_band[1]) {
            for (int sub = 2; sub <= s->sub_orders; sub++) {
                const int t = (k + sub / 2) / sub; /* nearest bin to k/sub (ties upward) */
                if (t < 1) continue;
                z[t][0] += y[k][0] / sub;
                z[t][1] += y[k][1] / sub;
            }
        }
    }
}

static mt_status nl_process(const void *st, const float *x, int64_t n, uint64_t utt, float *out,
                            mt_err *err)
{
    (void)utt;
    const nl_state *s = st;
    int lg = NL_LOG2_MIN;
    while (lg <= NL_LOG2_MAX && ((int64_t)1 << lg) < n) lg++;
    if (lg > NL_LOG2_MAX)
        return mt_err_set(err, MT_ERR_DATA, "utterance of %lld samples is longer than nlowpass's "
                          "largest transform (%d samples)", (long long)n, 1 << NL_LOG2_MAX);
    const int l = 1 << lg, half = l / 2;
    const int64_t t_out = n / s->decim;
    /* Per-call scratch (process() runs concurrently); fftwf_malloc keeps the plans' alignment. */
    double *y = malloc(sizeof *y * (size_t)n);
    float *rb = fftwf_malloc(sizeof(float) * l);
    fftwf_complex *yb = fftwf_malloc(sizeof(fftwf_complex) * (half + 1));
    fftwf_complex *zb = fftwf_malloc(sizeof(fftwf_complex) * (half + 1));
    if (!y || !rb || !yb || !zb) {
        free(y);
        fftwf_free(rb);
        fftwf_free(yb);
        fftwf_free(zb);
        return mt_err_set(err, MT_ERR_NOMEM, "out of memory (%lld samples)", (long long)n);
    }
    for (int c = 0; c < s->channels; c++) {
        mt_fe_biquad_run(&s->lp[c], 1, x, n, y);
        for (int64_t i = 0; i < n; i++) rb[i] = (float)y[i];
        for (int64_t i = n; i < l; i++) rb[i] = 0;
        fftwf_execute_dft_r2c(s->fwd[lg - NL_LOG2_MIN], rb, yb);
        nl_distort(s, yb, zb, l);
        fftwf_execute_dft_c2r(s->inv[lg - NL_LOG2_MIN], zb, rb); /* unnormalised: × l */
        float *u = out + (int64_t)c * t_out;
        for (int64_t i = 0; i < t_out; i++) {
            double acc = 0;
            for (int k = 0; k < s->decim; k++) acc += rb[i * s->decim + k];
            u[i] = (float)(acc / ((double)s->decim * l));
        }
    }
    /* Crosstalk at the output rate.  Ascending c: out_{c-1} already holds its own crosstalk
     * (cascade, as the public code); descending c: out_{c-1} is still the plain u_{c-1}. */
    const int64_t d = s->xt_delay;
    if (s->channels > 1 && s->xt_gain != 0 && d < t_out) {
        const float a = (float)s->xt_gain;
        if (s->xt_cascade) {
            for (int c = 1; c < s->channels; c++)
                for (int64_t i = d; i < t_out; i++)
                    out[c * t_out + i] += a * out[(c - 1) * t_out + i - d];
        } else {
            for (int c = s->channels - 1; c >= 1; c--)
                for (int64_t i = d; i < t_out; i++)
                    out[c * t_out + i] += a * out[(c - 1) * t_out + i - d];
        }
    }
    free(y);
    fftwf_free(rb);
    fftwf_free(yb);
    fftwf_free(zb);
    return MT_OK;
}

static cJSON *nl_config(const void *st)
{
    const nl_state *s = st;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "frontend", "nlowpass");
    cJSON_AddNumberToObject(j, "channels", s->channels);
    cJSON_AddNumberToObject(j, "rate_hz", s->rate_hz);
    cJSON_AddNumberToObject(j, "decim", s->decim);
    cJSON_AddNumberToObject(j, "out_rate_hz", s->rate_hz / s->decim);
    cJSON_AddNumberToObject(j, "f_lo_hz", s->f_lo);
    cJSON_AddNumberToObject(j, "f_hi_hz", s->f_hi);
    cJSON_AddStringToObject(j, "spacing", nl_spacings[s->spacing]);
    cJSON_AddItemToObject(j, "harmonic_band_hz", mt_fe_json_array(s->harm_band, 2));
    cJSON_AddItemToObject(j, "subharmonic_band_hz", mt_fe_json_array(s->sub_band, 2));
    cJSON_AddNumberToObject(j, "harmonic_orders", s->harm_orders);
    cJSON_AddNumberToObject(j, "subharmonic_orders", s->sub_orders);
    cJSON_AddNumberToObject(j, "fundamental_gain", s->fund_gain);
    cJSON_AddNumberToObject(j, "crosstalk_gain", s->xt_gain);
    cJSON_AddNumberToObject(j, "crosstalk_delay_s", s->xt_delay_s);
    cJSON_AddNumberToObject(j, "crosstalk_delay_samples", s->xt_delay);
    cJSON_AddBoolToObject(j, "crosstalk_cascade", s->xt_cascade);
    cJSON_AddStringToObject(j, "fft", "zero-padded to the next power of two >= n (min 1024)");
    cJSON_AddItemToObject(j, "cutoffs_hz", mt_fe_json_array(s->fc, s->channels));
    return j;
}

const mt_frontend_ops mt_fe_nlowpass = {
    .name = "nlowpass",
    .create = nl_create,
    .channels = nl_channels,
    .out_len = nl_out_len,
    .out_rate = nl_out_rate,
    .process = nl_process,
    .config = nl_config,
    .destroy = nl_destroy,
};
