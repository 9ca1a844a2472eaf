/* Baseline front-ends (lowpass, nlowpass, gammatone, gammatone-tanh, esn, logmel, mfcc): each
 * front-end's defining property against a value computed independently here (in double, by
 * direct sums), plus shapes, rates, determinism across thread counts and option checking. */
#include <complex.h>
#include <float.h>
#include <math.h>
#include <omp.h>

#include "testutil.h"

#include "frontend/dsp.h"
#include "frontend/frontend_impl.h"
#include "materia/frontend.h"
#include "materia/rng.h"

extern const mt_frontend_ops mt_fe_esn;

#define FS 12500.0

/* ---- helpers ----------------------------------------------------------------------------- */

static mt_frontend *make(const char *name, int channels, int decim, const char *params)
{
    mt_frontend_cfg cfg = {.name = name, .channels = channels, .seed = 7, .rate_hz = 0,
                           .decim = decim, .params_json = params};
    mt_frontend *fe = NULL;
    mt_err e = {0};
    mt_status s = mt_frontend_create(&cfg, &fe, &e);
    if (s) fail_msg("create %s %s: %s", name, params ? params : "", e.msg);
    return fe;
}

/* Output [C, T] of fe on x [n] (malloc'd); *t gets T. */
static float *run(const mt_frontend *fe, const float *x, int64_t n, uint64_t utt, int64_t *t)
{
    const int64_t tt = mt_frontend_out_len(fe, n);
    float *out = malloc(sizeof(float) * (size_t)(mt_frontend_channels(fe) * tt + 1));
    mt_err e = {0};
    if (mt_frontend_process(fe, x, n, utt, out, &e)) fail_msg("process: %s", e.msg);
    if (t) *t = tt;
    return out;
}

static float *sine(int64_t n, double f, double fs, double amp)
{
    float *x = malloc(sizeof(float) * n);
    for (int64_t i = 0; i < n; i++) x[i] = (float)(amp * sin(2 * M_PI * f * i / fs));
    return x;
}

static float *noise(int64_t n, double amp, uint64_t stream)
{
    mt_rng r;
    mt_rng_init(&r, 1234, stream);
    float *x = malloc(sizeof(float) * n);
    for (int64_t i = 0; i < n; i++) x[i] = (float)(amp * mt_rng_normal(&r));
    return x;
}

/* Least-squares amplitude of a sinusoid at f in y[i0 .. i0+len) (2×2 normal equations, so the
 * window need not hold whole periods). */
static double fit_amp(const float *y, int64_t i0, int64_t len, double f, double fs)
{
    double cc = 0, ss = 0, cs = 0, yc = 0, ys = 0;
    for (int64_t i = i0; i < i0 + len; i++) {
        const double c = cos(2 * M_PI * f * i / fs), s = sin(2 * M_PI * f * i / fs);
        cc += c * c;
        ss += s * s;
        cs += c * s;
        yc += y[i] * c;
        ys += y[i] * s;
    }
    const double det = cc * ss - cs * cs;
    const double a = (yc * ss - ys * cs) / det, b = (ys * cc - yc * cs) / det;
    return hypot(a, b);
}

/* |sum_i h[i] e^{-j 2π f i / fs}| in double. */
static double dtft_mag(const float *h, int64_t n, double f, double fs)
{
    double complex acc = 0;
    const double complex w = cexp(-I * 2 * M_PI * f / fs);
    double complex p = 1;
    for (int64_t i = 0; i < n; i++) {
        acc += h[i] * p;
        p *= w;
        if ((i & 1023) == 1023) p = cexp(-I * 2 * M_PI * f * (i + 1) / fs); /* renormalise */
    }
    return cabs(acc);
}

static cJSON *config_of(const mt_frontend *fe)
{
    char *s = mt_frontend_config_json(fe);
    assert_non_null(s);
    cJSON *j = cJSON_Parse(s);
    free(s);
    assert_non_null(j);
    return j;
}

static double cfg_num(const cJSON *j, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    assert_non_null(v);
    return v->valuedouble;
}

static double cfg_at(const cJSON *j, const char *key, int i)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    assert_non_null(v);
    return cJSON_GetArrayItem(v, i)->valuedouble;
}

/* ---- registry, shapes, rates, options ------------------------------------------------------ */

static const char *const mine[] = {"lowpass", "nlowpass", "gammatone", "gammatone-tanh", "esn",
                                   "logmel", "mfcc"};

static void test_registry_order(void **st)
{
    (void)st;
    int last = -1;
    for (size_t k = 0; k < sizeof mine / sizeof mine[0]; k++) {
        int at = -1;
        for (int i = 0; i < mt_frontend_count(); i++)
            if (strcmp(mt_frontend_name_at(i), mine[k]) == 0) at = i;
        if (at < 0) fail_msg("front-end %s not registered", mine[k]);
        assert_true(at > last); /* listed in the documented order */
        last = at;
    }
    assert_string_equal(mt_frontend_name_at(0), "raw");
}

static void test_shapes_and_rates(void **st)
{
    (void)st;
    const int64_t n = 3000; /* 0.24 s at 12.5 kS/s */
    float *x = noise(n, 0.2, 1);
    for (size_t k = 0; k < sizeof mine / sizeof mine[0]; k++) {
        const int mel = strcmp(mine[k], "logmel") == 0 || strcmp(mine[k], "mfcc") == 0;
        mt_frontend *fe = make(mine[k], 0, 0, strcmp(mine[k], "esn") == 0 ? "{\"units\": 8}" : NULL);
        const int c = mt_frontend_channels(fe);
        int64_t t = 0;
        if (!mel) {
            assert_int_equal(c, 64);
            assert_true(fabs(mt_frontend_out_rate(fe) - 1250.0) < 1e-9);
            assert_int_equal(mt_frontend_out_len(fe, 12500), 1250);
        } else {
            assert_int_equal(c, strcmp(mine[k], "mfcc") == 0 ? 13 : 40);
            assert_true(fabs(mt_frontend_out_rate(fe) - 100.0) < 1e-9);
            /* 312-sample frames, 125-sample hop: 1 + (12500 - 312) / 125 = 98 */
            assert_int_equal(mt_frontend_out_len(fe, 12500), 98);
            assert_int_equal(mt_frontend_out_len(fe, 311), 0);
        }
        float *y = run(fe, x, n, 0, &t);
        assert_int_equal(t, mel ? 1 + (n - 312) / 125 : n / 10);
        for (int64_t i = 0; i < c * t; i++)
            if (!isfinite(y[i])) fail_msg("%s: output %lld not finite", mine[k], (long long)i);
        cJSON *j = config_of(fe);
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "frontend")->valuestring, mine[k]);
        assert_int_equal((int)cfg_num(j, "channels"), c);
        cJSON_Delete(j);
        free(y);
        mt_frontend_free(fe);
        /* cfg.channels is honoured */
        fe = make(mine[k], 20, 0, strcmp(mine[k], "esn") == 0 ? "{\"units\": 4}" : NULL);
        assert_int_equal(mt_frontend_channels(fe), 20);
        mt_frontend_free(fe);
    }
    /* cfg.decim is honoured by the time-domain banks */
    mt_frontend *fe = make("gammatone", 8, 5, NULL);
    assert_true(fabs(mt_frontend_out_rate(fe) - 2500.0) < 1e-9);
    assert_int_equal(mt_frontend_out_len(fe, 1001), 200);
    mt_frontend_free(fe);
    free(x);
}

static void expect_reject(const char *name, int channels, int decim, const char *params, const char *needle)
{
    mt_frontend_cfg cfg = {.name = name, .channels = channels, .decim = decim, .params_json = params};
    mt_frontend *fe = NULL;
    mt_err e = {0};
    mt_status s = mt_frontend_create(&cfg, &fe, &e);
    if (s == MT_OK) fail_msg("%s accepted %s", name, params);
    assert_null(fe);
    if (!strstr(e.msg, needle)) fail_msg("%s %s: message '%s' lacks '%s'", name, params, e.msg, needle);
}

static void test_options_rejected(void **st)
{
    (void)st;
    for (size_t k = 0; k < sizeof mine / sizeof mine[0]; k++)
        expect_reject(mine[k], 0, 0, "{\"bogus_key\": 1}", "bogus_key");
    expect_reject("lowpass", 0, 0, "{\"preset\": \"narrow\"}", "preset");
    expect_reject("lowpass", 0, 0, "{\"f_lo_hz\": 100, \"f_hi_hz\": 50}", "f_lo_hz");
    expect_reject("lowpass", 0, 0, "{\"f_hi_hz\": 7000}", "f_hi_hz");
    expect_reject("gammatone", 0, 0, "{\"gain\": 2}", "gain"); /* only gammatone-tanh has gain */
    expect_reject("gammatone-tanh", 0, 0, "{\"gain\": \"big\"}", "gain");
    expect_reject("nlowpass", 0, 0, "{\"harmonic_band_hz\": [50, 10]}", "harmonic_band_hz");
    expect_reject("esn", 0, 0, "{\"lr\": [0.5, 2]}", "lr");
    expect_reject("esn", 0, 0, "{\"carry_over\": 1}", "carry_over");
    expect_reject("mfcc", 0, 0, "{\"n_mels\": 10, \"n_ceps\": 20}", "n_ceps");
    expect_reject("mfcc", 5, 0, "{\"n_ceps\": 13}", "n_ceps");
    expect_reject("logmel", 0, 10, NULL, "shift_ms");
}

/* ---- lowpass -------------------------------------------------------------------------------- */

/* Steady-state gain of a one-channel lowpass with cut-off fc at frequency f. */
static double lp_gain(double fc, double f)
{
    char p[128];
    snprintf(p, sizeof p, "{\"f_lo_hz\": %.17g, \"f_hi_hz\": %.17g}", fc, fc);
    mt_frontend *fe = make("lowpass", 1, 1, p);
    const int64_t n = (int64_t)(FS * (1.5 + 6.0 / f)); /* > 6 periods after a 1 s settle */
    float *x = sine(n, f, FS, 0.5);
    float *y = run(fe, x, n, 0, NULL);
    const int64_t i0 = (int64_t)FS; /* the slowest pole (4 Hz) has τ = 40 ms: settled by 1 s */
    const double g = fit_amp(y, i0, n - i0, f, FS) / 0.5;
    free(x);
    free(y);
    mt_frontend_free(fe);
    return g;
}

static void test_lowpass_cutoff(void **st)
{
    (void)st;
    const double fcs[] = {4.0, 13.0, 20.0, 625.0};
    for (int k = 0; k < 4; k++) {
        const double fc = fcs[k];
        /* -3 dB point located by bisection on measured sine gains */
        double lo = fc / 2, hi = fc * 2;
        assert_true(lp_gain(fc, lo) > M_SQRT1_2 && lp_gain(fc, hi) < M_SQRT1_2);
        for (int it = 0; it < 14; it++) {
            const double mid = sqrt(lo * hi);
            if (lp_gain(fc, mid) > M_SQRT1_2) lo = mid;
            else hi = mid;
        }
        const double f3 = sqrt(lo * hi);
        if (fabs(f3 / fc - 1) > 2e-3) fail_msg("cut-off %g Hz measured at %g Hz", fc, f3);
            /* elsewhere it follows the first-order response (bilinear frequency warping:
         * |H| = 1/sqrt(1 + (tan(πf/fs)/tan(πfc/fs))²)), e.g. ~1/5 at 5·fc */
        const double fr[2] = {fc / 20, fc * 5};
        for (int q = 0; q < 2; q++) {
            const double want = 1 / sqrt(1 + pow(tan(M_PI * fr[q] / FS) / tan(M_PI * fc / FS), 2));
            assert_true(fabs(lp_gain(fc, fr[q]) / want - 1) < 0.005);
        }
    }
    /* presets: 4-13 Hz (RNPU time constants) and 20-625 Hz, channel 0 lowest */
    mt_frontend *fe = make("lowpass", 0, 0, NULL);
    cJSON *j = config_of(fe);
    assert_true(fabs(cfg_at(j, "cutoffs_hz", 0) - 4) < 1e-12 && fabs(cfg_at(j, "cutoffs_hz", 63) - 13) < 1e-12);
    assert_true(cfg_at(j, "cutoffs_hz", 1) > cfg_at(j, "cutoffs_hz", 0));
    cJSON_Delete(j);
    mt_frontend_free(fe);
    fe = make("lowpass", 0, 0, "{\"preset\": \"wide\"}");
    j = config_of(fe);
    assert_true(fabs(cfg_at(j, "cutoffs_hz", 0) - 20) < 1e-12 && fabs(cfg_at(j, "cutoffs_hz", 63) - 625) < 1e-12);
    cJSON_Delete(j);
    /* after ×10 averaging at 1,250 S/s, channel 0 (4 Hz) still passes 4 Hz at -3 dB */
    mt_frontend_free(fe);
    fe = make("lowpass", 0, 0, NULL);
    const int64_t n = 3 * 12500;
    float *x = sine(n, 4.0, FS, 0.5);
    int64_t t;
    float *y = run(fe, x, n, 0, &t);
    /* decimated sample i is the mean over input samples 10i..10i+9: centre at 10i + 4.5 */
    double cc = 0, ss = 0, cs = 0, yc = 0, ys = 0;
    for (int64_t i = 1250; i < t; i++) {
        const double ph = 2 * M_PI * 4.0 * (10 * i + 4.5) / FS;
        cc += cos(ph) * cos(ph), ss += sin(ph) * sin(ph), cs += cos(ph) * sin(ph);
        yc += y[i] * cos(ph), ys += y[i] * sin(ph);
    }
    const double det = cc * ss - cs * cs;
    const double amp = hypot((yc * ss - ys * cs) / det, (ys * cc - yc * cs) / det) / 0.5;
    assert_true(fabs(amp - M_SQRT1_2) < 2e-3);
    free(x);
    free(y);
    mt_frontend_free(fe);
}

/* ---- gammatone ------------------------------------------------------------------------------ */

static void test_gammatone_gain_bandwidth(void **st)
{
    (void)st;
    const double cfs[] = {150.0, 300.0, 625.0};
    for (int k = 0; k < 3; k++) {
        const double fc = cfs[k], erb = fc / 9.26449 + 24.7;
        char p[128];
        snprintf(p, sizeof p, "{\"f_lo_hz\": %.17g, \"f_hi_hz\": %.17g}", fc, fc);
        mt_frontend *fe = make("gammatone", 1, 1, p);
        const int64_t n = 6250; /* 0.5 s: the envelope t^3 e^{-2π·1.019·ERB·t} is < 1e-12 by then */
        float *imp = calloc(n, sizeof(float));
        imp[0] = 1.0f;
        float *h = run(fe, imp, n, 0, NULL);
        /* peak gain: 0 dB at the centre frequency, and no frequency has much more */
        const double g0 = dtft_mag(h, n, fc, FS);
        if (fabs(g0 - 1) > 1e-4) fail_msg("fc %g: |H(fc)| = %.6f", fc, g0);
        double gmax = 0;
        for (double f = fc - erb; f <= fc + erb; f += erb / 50) gmax = fmax(gmax, dtft_mag(h, n, f, FS));
        assert_true(gmax < 1.01);
        /* -3 dB edges by bisection on |H|; a 4th-order gammatone has
         * BW_3dB = 2·b·ERB·sqrt(2^(1/4) - 1) = 0.8865·ERB */
        double edge[2];
        for (int side = 0; side < 2; side++) {
            double in = fc, out = side ? fc + 2 * erb : fmax(fc - 2 * erb, 1.0);
            for (int it = 0; it < 40; it++) {
                const double mid = 0.5 * (in + out);
                if (dtft_mag(h, n, mid, FS) > M_SQRT1_2) in = mid;
                else out = mid;
            }
            edge[side] = 0.5 * (in + out);
        }
        const double bw = edge[1] - edge[0], want = 2 * 1.019 * erb * sqrt(pow(2, 0.25) - 1);
        if (fabs(bw / want - 1) > 0.03) fail_msg("fc %g: -3 dB bandwidth %.2f Hz, expected %.2f", fc, bw, want);
        /* equivalent rectangular bandwidth by Parseval: ∫0^{fs/2}|H|² df = fs/2·Σh² */
        double e2 = 0;
        for (int64_t i = 0; i < n; i++) e2 += (double)h[i] * h[i];
        const double erb_meas = FS / 2 * e2 / (g0 * g0);
        if (fabs(erb_meas / erb - 1) > 0.03) fail_msg("fc %g: ERB %.2f Hz, formula %.2f", fc, erb_meas, erb);
        /* a steady sine at fc comes out with unit amplitude */
        float *x = sine(n, fc, FS, 0.25);
        float *y = run(fe, x, n, 0, NULL);
        assert_true(fabs(fit_amp(y, n / 2, n / 2, fc, FS) / 0.25 - 1) < 1e-3);
        free(x);
        free(y);
        free(imp);
        free(h);
        mt_frontend_free(fe);
    }
    /* default bank: 64 centres ERB-spaced over 20-625 Hz, low → high, equal ERB-number steps */
    mt_frontend *fe = make("gammatone", 0, 0, NULL);
    cJSON *j = config_of(fe);
    assert_true(fabs(cfg_at(j, "centre_hz", 0) - 20) < 1e-9 && fabs(cfg_at(j, "centre_hz", 63) - 625) < 1e-9);
    const double c = 9.26449 * 24.7;
    const double step = log(cfg_at(j, "centre_hz", 1) + c) - log(cfg_at(j, "centre_hz", 0) + c);
    for (int i = 1; i < 64; i++) {
        const double s = log(cfg_at(j, "centre_hz", i) + c) - log(cfg_at(j, "centre_hz", i - 1) + c);
        assert_true(fabs(s - step) < 1e-9);
    }
    cJSON_Delete(j);
    mt_frontend_free(fe);
}

static void test_gammatone_tanh(void **st)
{
    (void)st;
    const int64_t n = 5000;
    float *x = noise(n, 0.2, 2);
    float *xl = malloc(sizeof(float) * n), *xneg = malloc(sizeof(float) * n);
    for (int64_t i = 0; i < n; i++) xl[i] = 50 * x[i], xneg[i] = -x[i];
    int64_t t;
    /* bounded by scale (0.5) even for a loud input */
    mt_frontend *fe = make("gammatone-tanh", 16, 0, NULL);
    float *y = run(fe, xl, n, 0, &t);
    double ymax = 0;
    for (int64_t i = 0; i < 16 * t; i++) ymax = fmax(ymax, fabs(y[i]));
    assert_true(ymax <= 0.5 && ymax > 0.45); /* saturated near the bound */
    free(y);
    /* small-signal: out ≈ ½tanh(1) + ½·gain·sech²(1)·(linear gammatone output) */
    float *xs = malloc(sizeof(float) * n);
    for (int64_t i = 0; i < n; i++) xs[i] = 1e-5f * x[i];
    mt_frontend *lin = make("gammatone", 16, 0, NULL);
    float *yt = run(fe, xs, n, 0, &t), *yl = run(lin, xs, n, 0, NULL);
    const double slope = 0.5 * 50 / (cosh(1.0) * cosh(1.0));
    double num = 0, den = 0;
    for (int64_t i = 0; i < 16 * t; i++) {
        const double d = (yt[i] - 0.5 * tanh(1.0)) - slope * yl[i];
        num += d * d;
        den += slope * slope * (double)yl[i] * yl[i];
    }
    assert_true(den > 0 && sqrt(num / den) < 0.02);
    free(yt);
    free(yl);
    mt_frontend_free(lin);
    mt_frontend_free(fe);
    /* offset 0: odd in the input, and compressive (doubling the input less than doubles it) */
    fe = make("gammatone-tanh", 16, 0, "{\"offset\": 0, \"gain\": 100}");
    float *yp = run(fe, x, n, 0, &t), *yn = run(fe, xneg, n, 0, NULL), *y2 = NULL;
    float *x2 = malloc(sizeof(float) * n);
    for (int64_t i = 0; i < n; i++) x2[i] = 2 * x[i];
    y2 = run(fe, x2, n, 0, NULL);
    double e1 = 0, e2 = 0;
    for (int64_t i = 0; i < 16 * t; i++) {
        assert_true(fabs(yp[i] + yn[i]) <= 1e-7);
        e1 += (double)yp[i] * yp[i];
        e2 += (double)y2[i] * y2[i];
    }
    assert_true(e1 > 0 && sqrt(e2 / e1) < 1.8);
    free(yp);
    free(yn);
    free(y2);
    free(x2);
    mt_frontend_free(fe);
    free(x);
    free(xl);
    free(xneg);
    free(xs);
}

/* ---- nlowpass ------------------------------------------------------------------------------- */

/* |DFT_k| of y[0..n) in double. */
static double dft_mag(const float *y, int64_t n, int64_t k)
{
    double complex acc = 0;
    for (int64_t i = 0; i < n; i++) acc += y[i] * cexp(-I * 2 * M_PI * (double)((k * i) % n) / n);
    return cabs(acc);
}

static void test_nlowpass_harmonics(void **st)
{
    (void)st;
    /* n = 8192 is its own FFT length: bin k is k·12500/8192 = 1.526k Hz */
    const int64_t n = 8192;
    const char *p = "{\"f_lo_hz\": 1000, \"f_hi_hz\": 1000}";
    mt_frontend *nl = make("nlowpass", 1, 1, p);
    mt_frontend *lin = make("lowpass", 1, 1, "{\"f_lo_hz\": 1000, \"f_hi_hz\": 1000}");
    /* a tone on bin 40 (61 Hz, harmonic band 1-128 Hz): components at 2f..6f with 0.9/h of
     * the LTI fundamental, fundamental itself × 0.9, nothing at 7f */
    const int64_t k = 40;
    float *x = malloc(sizeof(float) * n);
    for (int64_t i = 0; i < n; i++) x[i] = (float)(0.5 * sin(2 * M_PI * (double)(k * i) / n));
    float *z = run(nl, x, n, 0, NULL), *y = run(lin, x, n, 0, NULL);
    const double yk = dft_mag(y, n, k), zk = dft_mag(z, n, k);
    assert_true(fabs(zk / yk - 0.9) < 1e-3);
    for (int h = 2; h <= 6; h++) {
        const double r = dft_mag(z, n, h * k) / zk;
        if (fabs(r * h - 1) > 0.01) fail_msg("harmonic %d: |Z[%lld]|/|Z[%lld]| = %.5f, want 1/%d", h,
                                             (long long)(h * k), (long long)k, r, h);
    }
    assert_true(dft_mag(z, n, 7 * k) / zk < 1e-3);
    free(z);
    free(y);
    /* a tone on bin 120 (183 Hz, subharmonic band 128-321 Hz): components at f/2 .. f/6 with
     * 1/s of the fundamental (bins 60, 40, 30, 24), fundamental unchanged, no harmonic of the
     * added components (sources are taken from the LTI spectrum) */
    const int64_t ks = 120;
    for (int64_t i = 0; i < n; i++) x[i] = (float)(0.5 * sin(2 * M_PI * (double)(ks * i) / n));
    z = run(nl, x, n, 0, NULL);
    y = run(lin, x, n, 0, NULL);
    const double zs = dft_mag(z, n, ks);
    assert_true(fabs(zs / dft_mag(y, n, ks) - 1) < 1e-3);
    for (int s = 2; s <= 6; s++) {
        const double r = dft_mag(z, n, ks / s) / zs;
        if (fabs(r * s - 1) > 0.01) fail_msg("subharmonic %d: ratio %.5f", s, r);
    }
    assert_true(dft_mag(z, n, 80) / zs < 1e-3 && dft_mag(z, n, 90) / zs < 1e-3);
    free(z);
    free(y);
    /* a non-divisible subharmonic (bin 121 / 2 = 60.5) lands on the nearest bin (61) rather than
     * being skipped */
    for (int64_t i = 0; i < n; i++) x[i] = (float)(0.5 * sin(2 * M_PI * (double)(121 * i) / n));
    z = run(nl, x, n, 0, NULL);
    assert_true(dft_mag(z, n, 61) / dft_mag(z, n, 121) > 0.3);
    free(z);
    free(x);
    mt_frontend_free(nl);
    mt_frontend_free(lin);
}

/* Naive reference of one nlowpass channel (decim 1, no crosstalk) in double with direct DFTs:
 * LP1 → zero-pad to l → DFT → harmonic/subharmonic additions → inverse DFT → first n. */
static void nl_reference(const float *x, int n, int l, double fc, double *out)
{
    const double k = tan(M_PI * fc / FS), b0 = k / (1 + k), a1 = (k - 1) / (k + 1);
    double *y = calloc(l, sizeof(double));
    double prev_x = 0, prev_y = 0;
    for (int i = 0; i < n; i++) {
        y[i] = b0 * x[i] + b0 * prev_x - a1 * prev_y;
        prev_x = x[i];
        prev_y = y[i];
    }
    const int half = l / 2;
    double complex *yf = calloc(half + 1, sizeof(double complex)), *zf = calloc(half + 1, sizeof(double complex));
    for (int b = 0; b <= half; b++) {
        double complex acc = 0;
        for (int i = 0; i < n; i++) acc += y[i] * cexp(-I * 2 * M_PI * (double)((int64_t)b * i % l) / l);
        yf[b] = zf[b] = acc;
    }
    for (int b = 1; b < half; b++) {
        const double f = b * FS / l;
        if (f >= 1.0 && f < 128.0) {
            zf[b] += (0.9 - 1) * yf[b];
            for (int h = 2; h <= 6 && h * b < half; h++) zf[h * b] += 0.9 / h * yf[b];
        }
        if (f >= 128.0 && f < 321.0)
            for (int s = 2; s <= 6; s++) zf[(int)lround((double)b / s + 1e-9)] += yf[b] / s;
    }
    for (int i = 0; i < n; i++) {
        double acc = creal(zf[0]) + creal(zf[half]) * ((i & 1) ? -1 : 1);
        for (int b = 1; b < half; b++) acc += 2 * creal(zf[b] * cexp(I * 2 * M_PI * (double)((int64_t)b * i % l) / l));
        out[i] = acc / l;
    }
    free(y);
    free(yf);
    free(zf);
}

static void test_nlowpass_reference(void **st)
{
    (void)st;
    const int n = 700, l = 1024; /* zero-padded to the minimum FFT length */
    float *x = noise(n, 0.3, 3);
    mt_frontend *nl = make("nlowpass", 1, 1, "{\"f_lo_hz\": 400, \"f_hi_hz\": 400}");
    float *z = run(nl, x, n, 0, NULL);
    double *ref = malloc(sizeof(double) * n);
    nl_reference(x, n, l, 400.0, ref);
    double emax = 0, rmax = 0;
    for (int i = 0; i < n; i++) {
        emax = fmax(emax, fabs(z[i] - ref[i]));
        rmax = fmax(rmax, fabs(ref[i]));
    }
    if (emax > 1e-4 * rmax) fail_msg("nlowpass vs direct-DFT reference: max error %.3g of %.3g", emax, rmax);
    free(x);
    free(z);
    free(ref);
    mt_frontend_free(nl);
}

static void test_nlowpass_crosstalk(void **st)
{
    (void)st;
    const int64_t n = 5000;
    float *x = noise(n, 0.3, 4);
    mt_frontend *with = make("nlowpass", 3, 0, NULL);
    mt_frontend *none = make("nlowpass", 3, 0, "{\"crosstalk_gain\": 0}");
    mt_frontend *flat = make("nlowpass", 3, 0, "{\"crosstalk_cascade\": false}");
    cJSON *j = config_of(with);
    assert_int_equal((int)cfg_num(j, "crosstalk_delay_samples"), 10); /* 8 ms at 1,250 S/s */
    cJSON_Delete(j);
    int64_t t;
    float *a = run(with, x, n, 0, &t), *b = run(none, x, n, 0, NULL), *c = run(flat, x, n, 0, NULL);
    assert_int_equal(t, 500);
    for (int64_t i = 0; i < t; i++) {
        assert_true(a[i] == b[i]); /* channel 0 has no neighbour below */
        for (int ch = 1; ch < 3; ch++) {
            /* cascade: out_c[t] = u_c[t] + 0.3·out_{c-1}[t - 10] */
            const double want = i >= 10 ? 0.3 * a[(ch - 1) * t + i - 10] : 0.0;
            assert_true(fabs(a[ch * t + i] - b[ch * t + i] - want) < 1e-6);
            /* no cascade: out_c[t] = u_c[t] + 0.3·u_{c-1}[t - 10] */
            const double want2 = i >= 10 ? 0.3 * b[(ch - 1) * t + i - 10] : 0.0;
            assert_true(fabs(c[ch * t + i] - b[ch * t + i] - want2) < 1e-6);
        }
    }
    double d = 0;
    for (int64_t i = 10; i < t; i++) d = fmax(d, fabs(a[t + i] - b[t + i]));
    assert_true(d > 1e-3); /* the crosstalk is really there */
    free(a);
    free(b);
    free(c);
    free(x);
    mt_frontend_free(with);
    mt_frontend_free(none);
    mt_frontend_free(flat);
}

/* ---- esn ------------------------------------------------------------------------------------ */

/* Spectral radius by power iteration in double: mean log-growth of ||W^k v|| over the last
 * `avg` of `iters` steps (valid for complex or repeated dominant eigenvalues too). */
static double power_radius(const double *w, int n, int iters, int avg)
{
    double *v = malloc(sizeof(double) * n), *u = malloc(sizeof(double) * n);
    for (int i = 0; i < n; i++) v[i] = 1.0 + 0.01 * i;
    double lsum = 0;
    for (int it = 0; it < iters; it++) {
        double nn = 0;
        for (int i = 0; i < n; i++) {
            double acc = 0;
            for (int k = 0; k < n; k++) acc += w[i * n + k] * v[k];
            u[i] = acc;
            nn += acc * acc;
        }
        nn = sqrt(nn);
        if (nn == 0) break;
        for (int i = 0; i < n; i++) v[i] = u[i] / nn;
        if (it >= iters - avg) lsum += log(nn);
    }
    free(v);
    free(u);
    return exp(lsum / avg);
}

static void test_esn_spectral_radius(void **st)
{
    (void)st;
    mt_frontend_cfg cfg = {.name = "esn", .channels = 6, .seed = 11, .rate_hz = FS, .decim = 10};
    cJSON *params = cJSON_Parse("{\"units\": 40, \"sr\": [0.2, 1.5], \"connectivity\": [0.05, 1]}");
    void *state = NULL;
    mt_err e = {0};
    assert_int_equal(mt_fe_esn.create(&cfg, params, &state, &e), MT_OK);
    double *w = malloc(sizeof(double) * 40 * 40);
    for (int j = 0; j < 6; j++) {
        double sr = -1;
        assert_int_equal(mt_fe_esn_debug_matrix(state, j, w, &sr), 40);
        assert_true(sr >= 0.2 && sr <= 1.5);
        int nnz = 0;
        for (int i = 0; i < 1600; i++) nnz += w[i] != 0;
        assert_true(nnz > 0);
        const double rho = power_radius(w, 40, 4000, 2000);
        if (fabs(rho / sr - 1) > 0.01) fail_msg("reservoir %d: radius %.5f, requested %.5f", j, rho, sr);
    }
    assert_int_equal(mt_fe_esn_debug_matrix(state, 6, w, NULL), -1);
    mt_fe_esn.destroy(state);
    cJSON_Delete(params);
    free(w);
}

/* The reservoir recurrence, naively in double from the drawn parameters (noise 0, decim 1),
 * against the optimised float kernel. */
static void test_esn_naive_reference(void **st)
{
    (void)st;
    const int nu = 12, nc = 3;
    const int64_t n = 1500;
    mt_frontend_cfg cfg = {.name = "esn", .channels = nc, .seed = 5, .rate_hz = FS, .decim = 1};
    cJSON *params = cJSON_Parse("{\"units\": 12, \"noise\": 0, \"sr\": [0.5, 1.2], "
                                "\"bias_scaling\": 0.3, \"input_scaling\": [0.5, 2]}");
    void *state = NULL;
    mt_err e = {0};
    assert_int_equal(mt_fe_esn.create(&cfg, params, &state, &e), MT_OK);
    float *x = noise(n, 0.3, 8);
    float *out = malloc(sizeof(float) * nc * n);
    assert_int_equal(mt_fe_esn.process(state, x, n, 0, out, &e), MT_OK);
    double w[144], win[12], bias[12], wout[12], lr, nz, v[12], vn[12];
    double emax = 0, ymax = 0;
    for (int j = 0; j < nc; j++) {
        assert_int_equal(mt_fe_esn_debug_matrix(state, j, w, NULL), nu);
        assert_int_equal(mt_fe_esn_debug_vectors(state, j, win, bias, wout, &lr, &nz), nu);
        assert_true(nz == 0);
        memset(v, 0, sizeof v);
        for (int64_t t = 0; t < n; t++) {
            double y = 0;
            for (int i = 0; i < nu; i++) {
                double pre = win[i] * x[t] + bias[i];
                for (int k = 0; k < nu; k++) pre += w[i * nu + k] * v[k];
                vn[i] = (1 - lr) * v[i] + lr * tanh(pre);
                y += wout[i] * vn[i];
            }
            memcpy(v, vn, sizeof v);
            emax = fmax(emax, fabs(y - out[j * n + t]));
            ymax = fmax(ymax, fabs(y));
        }
    }
    assert_true(ymax > 0.05);
    if (emax > 1e-4) fail_msg("esn kernel vs naive double reference: max error %.3g", emax);
    free(x);
    free(out);
    mt_fe_esn.destroy(state);
    cJSON_Delete(params);
}

static void test_esn_reset_and_carry(void **st)
{
    (void)st;
    const int64_t n = 2000;
    float *x = noise(n, 0.3, 5);
    const char *p = "{\"units\": 16, \"lr\": [0.2, 0.8], \"sr\": 0.9}";
    mt_frontend *fe = make("esn", 4, 0, p);
    int64_t t;
    float *a = run(fe, x, n, 3, &t), *b = run(fe, x, n, 3, NULL), *c = run(fe, x, n, 4, NULL);
    assert_memory_equal(a, b, sizeof(float) * 4 * t); /* reset: same utterance, same features */
    assert_memory_not_equal(a, c, sizeof(float) * 4 * t); /* the noise depends on utt */
    double var = 0;
    for (int64_t i = 0; i < 4 * t; i++) var += (double)a[i] * a[i];
    assert_true(var > 0);
    mt_frontend_free(fe);
    /* carry_over: the first clip starts from zero state like a reset, the next from the state
     * the first one left, so the same clip gives different features */
    char pc[160];
    snprintf(pc, sizeof pc, "{\"units\": 16, \"lr\": [0.2, 0.8], \"sr\": 0.9, \"carry_over\": true}");
    fe = make("esn", 4, 0, pc);
    float *d = run(fe, x, n, 3, NULL), *f2 = run(fe, x, n, 3, NULL);
    assert_memory_equal(a, d, sizeof(float) * 4 * t);
    assert_memory_not_equal(d, f2, sizeof(float) * 4 * t);
    free(a);
    free(b);
    free(c);
    free(d);
    free(f2);
    mt_frontend_free(fe);
    /* decimated drive: one reservoir step per output sample */
    fe = make("esn", 4, 0, "{\"units\": 16, \"drive\": \"decimated\"}");
    a = run(fe, x, n, 0, &t);
    assert_int_equal(t, 200);
    for (int64_t i = 0; i < 4 * t; i++) assert_true(isfinite(a[i]));
    free(a);
    mt_frontend_free(fe);
    free(x);
}

/* ---- determinism across thread counts --------------------------------------------------------- */

static void test_determinism_threads(void **st)
{
    (void)st;
    const char *names[] = {"esn", "nlowpass", "gammatone-tanh", "mfcc"};
    const int nutt = 6;
    const int64_t n = 2500;
    float *x[6];
    for (int u = 0; u < nutt; u++) x[u] = noise(n, 0.3, 10 + u);
    for (int k = 0; k < 4; k++) {
        mt_frontend *fe = make(names[k], 8, 0, k == 0 ? "{\"units\": 8}" : NULL);
        mt_frontend *fe2 = make(names[k], 8, 0, k == 0 ? "{\"units\": 8}" : NULL); /* same seed */
        const int64_t len = mt_frontend_channels(fe) * mt_frontend_out_len(fe, n);
        float *r1 = malloc(sizeof(float) * len * nutt), *r2 = malloc(sizeof(float) * len * nutt);
        int bad = 0;
        omp_set_num_threads(1);
#pragma omp parallel for schedule(dynamic, 1) reduction(+ : bad)
        for (int u = 0; u < nutt; u++) bad += mt_frontend_process(fe, x[u], n, u, r1 + u * len, NULL) != MT_OK;
        omp_set_num_threads(2);
#pragma omp parallel for schedule(dynamic, 1) reduction(+ : bad)
        for (int u = nutt - 1; u >= 0; u--) bad += mt_frontend_process(fe2, x[u], n, u, r2 + u * len, NULL) != MT_OK;
        assert_int_equal(bad, 0);
        if (memcmp(r1, r2, sizeof(float) * len * nutt) != 0) fail_msg("%s differs across thread counts", names[k]);
        free(r1);
        free(r2);
        mt_frontend_free(fe);
        mt_frontend_free(fe2);
    }
    for (int u = 0; u < nutt; u++) free(x[u]);
}

/* ---- logmel / mfcc ------------------------------------------------------------------------- */

/* Independent Kaldi-style reference in double, direct DFT: logmel [nm][T] and mfcc [nc][T]. */
static void mel_reference(const float *x, int64_t n, int nm, int nc, double *lm, double *cc, int64_t *tn)
{
    const int win = 312, hop = 125, nfft = 512, nb = 256;
    const int64_t t_n = 1 + (n - win) / hop;
    *tn = t_n;
    double fr[512], pw[256];
    const double mlo = 1127 * log(1 + 20.0 / 700), mhi = 1127 * log(1 + 6250.0 / 700);
    const double dm = (mhi - mlo) / (nm + 1);
    for (int64_t t = 0; t < t_n; t++) {
        double mean = 0;
        for (int i = 0; i < win; i++) mean += x[t * hop + i];
        mean /= win;
        double raw[512];
        for (int i = 0; i < win; i++) raw[i] = x[t * hop + i] - mean;
        for (int i = 0; i < win; i++) {
            const double pre = raw[i] - 0.97 * (i > 0 ? raw[i - 1] : raw[0]);
            fr[i] = pre * pow(0.5 - 0.5 * cos(2 * M_PI * i / (win - 1)), 0.85);
        }
        for (int b = 0; b < nb; b++) {
            double re = 0, im = 0;
            for (int i = 0; i < win; i++) {
                re += fr[i] * cos(2 * M_PI * (double)(b * i % nfft) / nfft);
                im -= fr[i] * sin(2 * M_PI * (double)(b * i % nfft) / nfft);
            }
            pw[b] = re * re + im * im;
        }
        for (int m = 0; m < nm; m++) {
            double e = 0;
            for (int b = 0; b < nb; b++) {
                const double mel = 1127 * log(1 + b * (FS / nfft) / 700);
                const double l = mlo + m * dm, c = l + dm, r = c + dm;
                if (mel > l && mel < r) e += pw[b] * (mel <= c ? (mel - l) / dm : (r - mel) / dm);
            }
            lm[m * t_n + t] = log(fmax(e, FLT_EPSILON));
        }
        for (int k = 0; k < nc; k++) {
            double acc = 0;
            for (int m = 0; m < nm; m++) acc += lm[m * t_n + t] * cos(M_PI * k * (m + 0.5) / nm);
            acc *= k == 0 ? sqrt(1.0 / nm) : sqrt(2.0 / nm);
            cc[k * t_n + t] = acc * (1 + 11 * sin(M_PI * k / 22));
        }
    }
}

static void test_mel_tone(void **st)
{
    (void)st;
    const int64_t n = 3750; /* 0.3 s */
    const double f0 = 440;
    float *x = sine(n, f0, FS, 0.5);
    float *w = noise(n, 1e-3, 6); /* a faint floor keeps every mel bin far above float round-off */
    for (int64_t i = 0; i < n; i++) x[i] += w[i];
    mt_frontend *lm = make("logmel", 0, 0, NULL), *mf = make("mfcc", 0, 0, NULL);
    int64_t t, t2, tr;
    float *yl = run(lm, x, n, 0, &t), *ym = run(mf, x, n, 0, &t2);
    double *rl = malloc(sizeof(double) * 40 * t), *rc = malloc(sizeof(double) * 13 * t);
    mel_reference(x, n, 40, 13, rl, rc, &tr);
    assert_int_equal(t, tr);
    assert_int_equal(t2, tr);
    for (int64_t i = 0; i < 40 * t; i++)
        if (fabs(yl[i] - rl[i]) > 1e-3 * (1 + fabs(rl[i])))
            fail_msg("logmel[%lld] = %.6f, reference %.6f", (long long)i, yl[i], rl[i]);
    for (int64_t i = 0; i < 13 * t; i++)
        if (fabs(ym[i] - rc[i]) > 1e-3 * (1 + fabs(rc[i])))
            fail_msg("mfcc[%lld] = %.6f, reference %.6f", (long long)i, ym[i], rc[i]);
    /* the loudest mel bin is the one whose centre is nearest the tone on the mel axis */
    const double mlo = 1127 * log(1 + 20.0 / 700), dm = (1127 * log(1 + 6250.0 / 700) - mlo) / 41;
    const int want = (int)lround((1127 * log(1 + f0 / 700) - mlo) / dm) - 1;
    int best = 0;
    for (int m = 1; m < 40; m++)
        if (yl[m * t + t / 2] > yl[best * t + t / 2]) best = m;
    assert_int_equal(best, want);
    free(x);
    free(w);
    free(yl);
    free(ym);
    free(rl);
    free(rc);
    mt_frontend_free(lm);
    mt_frontend_free(mf);
    /* use_energy replaces c0 with the raw log-energy of the DC-free frame */
    mf = make("mfcc", 0, 0, "{\"use_energy\": true}");
    x = sine(n, f0, FS, 0.5);
    ym = run(mf, x, n, 0, &t);
    double e = 0, mean = 0;
    for (int i = 0; i < 312; i++) mean += x[i];
    mean /= 312;
    for (int i = 0; i < 312; i++) e += (x[i] - mean) * (x[i] - mean);
    assert_true(fabs(ym[0] - log(e)) < 1e-4);
    free(x);
    free(ym);
    mt_frontend_free(mf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_order),
        cmocka_unit_test(test_shapes_and_rates),
        cmocka_unit_test(test_options_rejected),
        cmocka_unit_test(test_lowpass_cutoff),
        cmocka_unit_test(test_gammatone_gain_bandwidth),
        cmocka_unit_test(test_gammatone_tanh),
        cmocka_unit_test(test_nlowpass_harmonics),
        cmocka_unit_test(test_nlowpass_reference),
        cmocka_unit_test(test_nlowpass_crosstalk),
        cmocka_unit_test(test_esn_spectral_radius),
        cmocka_unit_test(test_esn_naive_reference),
        cmocka_unit_test(test_esn_reset_and_carry),
        cmocka_unit_test(test_determinism_threads),
        cmocka_unit_test(test_mel_tone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
