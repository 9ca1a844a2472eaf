/* logmel and mfcc: Kaldi-style filterbank and cepstral features, the front-end a keyword-
 * spotting engineer would use instead of an RNPU (Kaldi src/feat/feature-window.cc,
 * mel-computations.cc, feature-mfcc.cc; torchaudio.compliance.kaldi defaults).
 *
 * Frames: win = (int)(rate·frame_ms/1000) samples (312 at 12.5 kS/s, 25 ms), hop
 * shift = (int)(rate·shift_ms/1000) (125, 10 ms), snip_edges: T = 1 + (n - win) / shift frames
 * (n >= win), so 100 frames/s.  Per frame, in double:
 *   remove the DC offset (frame mean) → [raw log-energy for use_energy] → pre-emphasis
 *   s[i] -= 0.97·s[i-1] (s[0] -= 0.97·s[0]) → window (Povey = Hann^0.85) → zero-pad to
 *   nfft = next power of two (512) → |FFT|² (float FFTW) on bins 0 .. nfft/2 - 1
 *   → n_mels = 40 triangles, equally spaced on mel = 1127·ln(1 + f/700) from low_hz = 20 Hz to
 *   high_hz = Nyquist, weights linear in mel → floor at FLT_EPSILON → natural log.
 *   logmel: out [n_mels, T].
 *   mfcc:   c = orthonormal DCT-II of the log-mel vector (first n_ceps = 13 rows), times the
 *           lifter 1 + (Q/2)·sin(π·i/Q), Q = 22; with use_energy, c0 is replaced by the raw
 *           log-energy.  out [n_ceps, T].
 * Differences from Kaldi's command-line defaults (chosen as torchaudio.compliance.kaldi does):
 * dither 0 (features are deterministic), use_energy false.  Kaldi's mfcc default is 23 mel bins;
 * here 40, the usual keyword-spotting choice.  cfg.channels sets n_mels (logmel) or n_ceps
 * (mfcc); cfg.decim must be 0 or 1 (the hop sets the frame rate).
 */
#include <fftw3.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dsp.h"
#include "frontend_impl.h"

typedef struct mel_state {
    int mfcc;
    double rate_hz, frame_ms, shift_ms, preemph, low_hz, high_hz, lifter;
    int win, shift, nfft, n_mels, n_ceps, use_energy, remove_dc, window_type;
    double *window; /* [win] */
    float *fbank;   /* [n_mels][nfft/2] triangle weights on the power spectrum */
    int *fb_lo, *fb_hi; /* [n_mels] first / one-past-last non-zero bin */
    double *dct;    /* [n_ceps][n_mels], lifter folded in */
    fftwf_plan plan; /* r2c nfft, planned at create; process() uses fftwf_execute_dft_r2c */
} mel_state;

static const char *const mel_keys[] = {"n_mels", "frame_ms", "shift_ms", "preemph", "low_hz",
                                       "high_hz", "window", "remove_dc", NULL};
static const char *const mfcc_keys[] = {"n_mels", "n_ceps", "frame_ms", "shift_ms", "preemph",
                                        "low_hz", "high_hz", "window", "remove_dc", "lifter",
                                        "use_energy", NULL};
static const char *const mel_windows[] = {"povey", "hann", "hamming", "rectangular", NULL};

static double mel_scale(double f) { return 1127.0 * log(1.0 + f / 700.0); }

static void mel_destroy(void *st)
{
    mel_state *s = st;
    if (!s) return;
    if (s->plan) fftwf_destroy_plan(s->plan);
    free(s->window);
    free(s->fbank);
    free(s->fb_lo);
    free(s->fb_hi);
    free(s->dct);
    free(s);
}

static mt_status mel_create_common(const mt_frontend_cfg *cfg, const cJSON *params, int mfcc,
                                   void **state, mt_err *err)
{
    mt_status r = mt_fe_check_keys(params, mfcc ? mfcc_keys : mel_keys, err);
    if (r) return r;
    if (cfg->decim > 1)
        return mt_err_set(err, MT_ERR_ARG, "decimation %d not supported: the frame rate is set by "
                          "the 'shift_ms' option", cfg->decim);
    mel_state *s = calloc(1, sizeof *s);
    if (!s) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    s->mfcc = mfcc;
    s->rate_hz = cfg->rate_hz;
    const double nyq = cfg->rate_hz / 2;
    int def_mels = 40, def_ceps = 13;
    if (cfg->channels > 0) {
        if (mfcc) def_ceps = cfg->channels;
        else def_mels = cfg->channels;
    }
    if ((r = mt_fe_opt_int(params, "n_mels", def_mels, 1, 1024, &s->n_mels, err)) ||
        (r = mt_fe_opt_num(params, "frame_ms", 25.0, 0.1, 1000, &s->frame_ms, err)) ||
        (r = mt_fe_opt_num(params, "shift_ms", 10.0, 0.1, 1000, &s->shift_ms, err)) ||
        (r = mt_fe_opt_num(params, "preemph", 0.97, 0, 1, &s->preemph, err)) ||
        (r = mt_fe_opt_num(params, "low_hz", 20.0, 0, nyq, &s->low_hz, err)) ||
        (r = mt_fe_opt_num(params, "high_hz", 0.0, -nyq, nyq, &s->high_hz, err)) ||
        (r = mt_fe_opt_choice(params, "window", 0, mel_windows, &s->window_type, err)) ||
        (r = mt_fe_opt_bool(params, "remove_dc", 1, &s->remove_dc, err)))
        goto fail;
    if (mfcc &&
        ((r = mt_fe_opt_int(params, "n_ceps", def_ceps, 1, 1024, &s->n_ceps, err)) ||
         (r = mt_fe_opt_num(params, "lifter", 22.0, 0, 1e6, &s->lifter, err)) ||
         (r = mt_fe_opt_bool(params, "use_energy", 0, &s->use_energy, err))))
        goto fail;
    /* channels given both ways must agree */
    if (cfg->channels > 0 && cfg->channels != (mfcc ? s->n_ceps : s->n_mels)) {
        r = mt_err_set(err, MT_ERR_ARG, "%d channels requested but option '%s' = %d", cfg->channels,
                       mfcc ? "n_ceps" : "n_mels", mfcc ? s->n_ceps : s->n_mels);
        goto fail;
    }
    if (mfcc && s->n_ceps > s->n_mels) {
        r = mt_err_set(err, MT_ERR_ARG, "n_ceps (%d) cannot exceed n_mels (%d)", s->n_ceps, s->n_mels);
        goto fail;
    }
    if (s->high_hz <= 0) s->high_hz += nyq; /* Kaldi: <= 0 is an offset from Nyquist */
    if (!(s->low_hz < s->high_hz)) {
        r = mt_err_set(err, MT_ERR_ARG, "low_hz (%g) must be below high_hz (%g)", s->low_hz, s->high_hz);
        goto fail;
    }
    s->win = (int)(s->rate_hz * 0.001 * s->frame_ms);
    s->shift = (int)(s->rate_hz * 0.001 * s->shift_ms);
    if (s->win < 2 || s->shift < 1) {
        r = mt_err_set(err, MT_ERR_ARG, "frame (%d samples) or shift (%d samples) too short at %g Hz",
                       s->win, s->shift, s->rate_hz);
        goto fail;
    }
    s->nfft = 1;
    while (s->nfft < s->win) s->nfft *= 2;
    const int nb = s->nfft / 2;
    s->window = malloc(sizeof(double) * s->win);
    s->fbank = calloc((size_t)s->n_mels * nb, sizeof(float));
    s->fb_lo = malloc(sizeof(int) * s->n_mels);
    s->fb_hi = malloc(sizeof(int) * s->n_mels);
    if (mfcc) s->dct = malloc(sizeof(double) * (size_t)s->n_ceps * s->n_mels);
    if (!s->window || !s->fbank || !s->fb_lo || !s->fb_hi || (mfcc && !s->dct)) {
        r = mt_err_set(err, MT_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < s->win; i++) {
        const double a = 2 * M_PI * i / (s->win - 1);
        switch (s->window_type) {
        case 0: s->window[i] = pow(0.5 - 0.5 * cos(a), 0.85); break;
        case 1: s->window[i] = 0.5 - 0.5 * cos(a); break;
        case 2: s->window[i] = 0.54 - 0.46 * cos(a); break;
        default: s->window[i] = 1.0; break;
        }
    }
    /* Triangles on the mel axis (Kaldi MelBanks). */
    const double mlo = mel_scale(s->low_hz), mhi = mel_scale(s->high_hz);
    const double dm = (mhi - mlo) / (s->n_mels + 1);
    const double bin_hz = s->rate_hz / s->nfft;
    for (int m = 0; m < s->n_mels; m++) {
        const double left = mlo + m * dm, centre = left + dm, right = centre + dm;
        s->fb_lo[m] = nb;
        s->fb_hi[m] = 0;
        for (int b = 0; b < nb; b++) {
            const double mel = mel_scale(bin_hz * b);
            if (mel > left && mel < right) {
                const double w = mel <= centre ? (mel - left) / (centre - left)
                                               : (right - mel) / (right - centre);
                s->fbank[(size_t)m * nb + b] = (float)w;
                if (b < s->fb_lo[m]) s->fb_lo[m] = b;
                s->fb_hi[m] = b + 1;
            }
        }
        if (s->fb_hi[m] == 0) {
            r = mt_err_set(err, MT_ERR_ARG, "mel bin %d (%.1f-%.1f Hz) holds no FFT bin; use fewer "
                           "n_mels or a longer frame", m, 700 * (exp(left / 1127) - 1),
                           700 * (exp(right / 1127) - 1));
            goto fail;
        }
    }
    if (mfcc) {
        /* Orthonormal DCT-II (Kaldi ComputeDctMatrix) with the cepstral lifter folded in. */
        const int nm = s->n_mels;
        for (int k = 0; k < s->n_ceps; k++) {
            const double norm = k == 0 ? sqrt(1.0 / nm) : sqrt(2.0 / nm);
            const double lift = s->lifter > 0 ? 1 + 0.5 * s->lifter * sin(M_PI * k / s->lifter) : 1;
            for (int m = 0; m < nm; m++)
                s->dct[(size_t)k * nm + m] = lift * norm * cos(M_PI / nm * (m + 0.5) * k);
        }
    }
    float *rb = fftwf_malloc(sizeof(float) * s->nfft);
    fftwf_complex *cb = fftwf_malloc(sizeof(fftwf_complex) * (nb + 1));
    if (rb && cb) s->plan = fftwf_plan_dft_r2c_1d(s->nfft, rb, cb, FFTW_ESTIMATE);
    fftwf_free(rb);
    fftwf_free(cb);
    if (!s->plan) {
        r = mt_err_set(err, MT_ERR_NOMEM, "could not plan a %d-point FFT", s->nfft);
        goto fail;
    }
    *state = s;
    return MT_OK;
fail:
    mel_destroy(s);
    return r;
}

static mt_status logmel_create(const mt_frontend_cfg *cfg, const cJSON *params, void **state, mt_err *err)
{
    return mel_create_common(cfg, params, 0, state, err);
}

static mt_status mfcc_create(const mt_frontend_cfg *cfg, const cJSON *params, void **state, mt_err *err)
{
    return mel_create_common(cfg, params, 1, state, err);
}

static int mel_channels(const void *st)
{
    const mel_state *s = st;
    return s->mfcc ? s->n_ceps : s->n_mels;
}

static int64_t mel_out_len(const void *st, int64_t n)
{
    const mel_state *s = st;
    return n < s->win ? 0 : 1 + (n - s->win) / s->shift;
}

static double mel_out_rate(const void *st)
{
    const mel_state *s = st;
    return s->rate_hz / s->shift;
}

static mt_status mel_process(const void *st, const float *x, int64_t n, uint64_t utt, float *out,
                             mt_err *err)
{
    (void)utt;
    const mel_state *s = st;
    const int64_t t_n = mel_out_len(s, n);
    if (t_n <= 0)
        return mt_err_set(err, MT_ERR_DATA, "utterance of %lld samples is shorter than one %d-sample "
                          "(%g ms) frame", (long long)n, s->win, s->frame_ms);
    const int nb = s->nfft / 2, nm = s->n_mels;
    double *fr = malloc(sizeof(double) * s->win);
    double *lm = malloc(sizeof(double) * nm);
    float *rb = fftwf_malloc(sizeof(float) * s->nfft);
    fftwf_complex *cb = fftwf_malloc(sizeof(fftwf_complex) * (nb + 1));
    float *pw = malloc(sizeof(float) * nb);
    if (!fr || !lm || !rb || !cb || !pw) {
        free(fr);
        free(lm);
        fftwf_free(rb);
        fftwf_free(cb);
        free(pw);
        return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    }
    for (int64_t t = 0; t < t_n; t++) {
        const float *src = x + t * s->shift;
        double mean = 0;
        for (int i = 0; i < s->win; i++) mean += src[i];
        mean = s->remove_dc ? mean / s->win : 0;
        double energy = 0;
        for (int i = 0; i < s->win; i++) {
            fr[i] = src[i] - mean;
            energy += fr[i] * fr[i];
        }
        for (int i = s->win - 1; i > 0; i--) fr[i] -= s->preemph * fr[i - 1];
        fr[0] -= s->preemph * fr[0];
        for (int i = 0; i < s->win; i++) rb[i] = (float)(fr[i] * s->window[i]);
        for (int i = s->win; i < s->nfft; i++) rb[i] = 0;
        fftwf_execute_dft_r2c(s->plan, rb, cb);
        for (int b = 0; b < nb; b++) pw[b] = cb[b][0] * cb[b][0] + cb[b][1] * cb[b][1];
        for (int m = 0; m < nm; m++) {
            const float *w = s->fbank + (size_t)m * nb;
            double e = 0;
            for (int b = s->fb_lo[m]; b < s->fb_hi[m]; b++) e += (double)w[b] * pw[b];
            lm[m] = log(fmax(e, FLT_EPSILON));
        }
        if (!s->mfcc) {
            for (int m = 0; m < nm; m++) out[(int64_t)m * t_n + t] = (float)lm[m];
        } else {
            for (int k = 0; k < s->n_ceps; k++) {
                const double *d = s->dct + (size_t)k * nm;
                double c = 0;
                for (int m = 0; m < nm; m++) c += d[m] * lm[m];
                out[(int64_t)k * t_n + t] = (float)c;
            }
            if (s->use_energy) out[t] = (float)log(fmax(energy, FLT_EPSILON));
        }
    }
    free(fr);
    free(lm);
    fftwf_free(rb);
    fftwf_free(cb);
    free(pw);
    return MT_OK;
}

static cJSON *mel_config(const void *st)
{
    const mel_state *s = st;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "frontend", s->mfcc ? "mfcc" : "logmel");
    cJSON_AddNumberToObject(j, "channels", mel_channels(s));
    cJSON_AddNumberToObject(j, "rate_hz", s->rate_hz);
    cJSON_AddNumberToObject(j, "out_rate_hz", s->rate_hz / s->shift);
    cJSON_AddNumberToObject(j, "n_mels", s->n_mels);
    if (s->mfcc) cJSON_AddNumberToObject(j, "n_ceps", s->n_ceps);
    cJSON_AddNumberToObject(j, "frame_ms", s->frame_ms);
    cJSON_AddNumberToObject(j, "shift_ms", s->shift_ms);
    cJSON_AddNumberToObject(j, "frame_samples", s->win);
    cJSON_AddNumberToObject(j, "shift_samples", s->shift);
    cJSON_AddNumberToObject(j, "nfft", s->nfft);
    cJSON_AddNumberToObject(j, "preemph", s->preemph);
    cJSON_AddNumberToObject(j, "low_hz", s->low_hz);
    cJSON_AddNumberToObject(j, "high_hz", s->high_hz);
    cJSON_AddStringToObject(j, "window", mel_windows[s->window_type]);
    cJSON_AddBoolToObject(j, "remove_dc", s->remove_dc);
    cJSON_AddNumberToObject(j, "dither", 0);
    cJSON_AddStringToObject(j, "mel_scale", "1127 ln(1 + f/700)");
    cJSON_AddStringToObject(j, "log_floor", "FLT_EPSILON");
    if (s->mfcc) {
        cJSON_AddNumberToObject(j, "lifter", s->lifter);
        cJSON_AddBoolToObject(j, "use_energy", s->use_energy);
    }
    return j;
}

const mt_frontend_ops mt_fe_logmel = {
    .name = "logmel",
    .create = logmel_create,
    .channels = mel_channels,
    .out_len = mel_out_len,
    .out_rate = mel_out_rate,
    .process = mel_process,
    .config = mel_config,
    .destroy = mel_destroy,
};

const mt_frontend_ops mt_fe_mfcc = {
    .name = "mfcc",
    .create = mfcc_create,
    .channels = mel_channels,
    .out_len = mel_out_len,
    .out_rate = mel_out_rate,
    .process = mel_process,
    .config = mel_config,
    .destroy = mel_destroy,
};
