/* audio: file formats, resampling, scaling, trimming, length fixing. */
#include "testutil.h"

#include <math.h>
#include <sndfile.h>

#include "materia/audio.h"

static char dir[256];
static int setup(void **st) { (void)st; tu_tmpdir(dir, sizeof dir); return 0; }
static int teardown(void **st) { (void)st; tu_rmrf(dir); return 0; }

/* Write a sine with libsndfile in the given format; returns the path in p. */
static void write_sine(const char *name, int format, int rate, int channels, double f, double amp,
                       int n, char *p, size_t np)
{
    snprintf(p, np, "%s/%s", dir, name);
    SF_INFO info = {.samplerate = rate, .channels = channels, .format = format};
    SNDFILE *sf = sf_open(p, SFM_WRITE, &info);
    assert_non_null(sf);
    float *x = malloc((size_t)n * (size_t)channels * sizeof *x);
    for (int i = 0; i < n; i++)
        for (int c = 0; c < channels; c++) x[i * channels + c] = (float)(amp * sin(2 * M_PI * f * i / rate));
    assert_int_equal(sf_writef_float(sf, x, n), n);
    sf_close(sf);
    free(x);
}

/* Frequency of the strongest DFT bin in [fmin, fmax] (1 Hz grid), and its amplitude. */
static void peak_freq(const float *x, int64_t n, double rate, double fmin, double fmax, double *f_out, double *a_out)
{
    double best = -1, bf = 0;
    for (double f = fmin; f <= fmax; f += 1.0) {
        double re = 0, im = 0;
        for (int64_t i = 0; i < n; i++) {
            re += x[i] * cos(2 * M_PI * f * (double)i / rate);
            im -= x[i] * sin(2 * M_PI * f * (double)i / rate);
        }
        double a = 2 * sqrt(re * re + im * im) / (double)n;
        if (a > best) {
            best = a;
            bf = f;
        }
    }
    *f_out = bf;
    *a_out = best;
}

static void test_formats(void **st)
{
    (void)st;
    static const struct { const char *name; int fmt; } fm[] = {
        {"u8.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_U8},   {"s16.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16},
        {"s24.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_24},  {"s32.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_32},
        {"f32.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT},   {"x.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16},
        {"x.sph", SF_FORMAT_NIST | SF_FORMAT_PCM_16},   {"wavex.wav", SF_FORMAT_WAVEX | SF_FORMAT_PCM_16},
    };
    for (size_t k = 0; k < sizeof fm / sizeof fm[0]; k++) {
        char p[512];
        write_sine(fm[k].name, fm[k].fmt, 8000, 1, 440, 0.5, 800, p, sizeof p);
        mt_audio_info ai;
        mt_err e = {0};
        assert_int_equal(mt_audio_info_read(p, &ai, &e), MT_OK);
        assert_int_equal((int)ai.rate_hz, 8000);
        assert_int_equal(ai.frames, 800);
        float *x;
        int64_t n;
        double r;
        assert_int_equal(mt_audio_load(p, 0, -1, &x, &n, &r, &e), MT_OK);
        assert_int_equal(n, 800);
        float m = 0;
        for (int i = 0; i < n; i++) m = fmaxf(m, fabsf(x[i]));
        assert_true(fabsf(m - 0.5f) < 0.02f); /* 8-bit quantisation: 1/128 */
        free(x);
    }
}

static void test_stereo_to_mono_and_range(void **st)
{
    (void)st;
    char p[512];
    write_sine("st.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 2, 100, 0.25, 1600, p, sizeof p);
    float *x;
    int64_t n;
    double r;
    mt_err e = {0};
    assert_int_equal(mt_audio_load(p, 160, 320, &x, &n, &r, &e), MT_OK);
    assert_int_equal(n, 320);
    /* sample 0 of the clip is sample 160 of the file: sin(2π·100·160/16000) = sin(2π) = 0 */
    assert_true(fabsf(x[0]) < 1e-3f);
    assert_true(fabsf(x[40] - 0.25f) < 1e-3f); /* quarter period later */
    free(x);
    assert_int_equal(mt_audio_load(p, 99999, 10, &x, &n, &r, &e), MT_ERR_ARG);
}

static void test_resample_sine(void **st)
{
    (void)st;
    /* 300 Hz at 8 kHz → 12.5 kHz keeps frequency and amplitude. */
    int n = 8000;
    float *x = malloc((size_t)n * sizeof *x);
    for (int i = 0; i < n; i++) x[i] = (float)(0.6 * sin(2 * M_PI * 300.0 * i / 8000.0));
    float *y;
    int64_t ny;
    mt_err e = {0};
    assert_int_equal(mt_audio_resample(x, n, 8000, 12500, &y, &ny, &e), MT_OK);
    assert_int_equal(ny, 12500);
    double f, a;
    peak_freq(y + 1000, 10000, 12500, 250, 350, &f, &a);
    assert_true(fabs(f - 300) <= 1.0);
    assert_true(fabs(a - 0.6) < 0.01);
    /* value check against the analytic sine in the middle (delay-free resampler) */
    for (int i = 5000; i < 5010; i++) assert_true(fabs(y[i] - 0.6 * sin(2 * M_PI * 300.0 * i / 12500.0)) < 5e-3);
    free(y);
    /* a tone above the new Nyquist is removed when downsampling 16 kHz → 8 kHz */
    float *z = malloc(16000 * sizeof *z);
    for (int i = 0; i < 16000; i++) z[i] = (float)(0.5 * sin(2 * M_PI * 6000.0 * i / 16000.0));
    assert_int_equal(mt_audio_resample(z, 16000, 16000, 8000, &y, &ny, &e), MT_OK);
    double rms = 0;
    for (int i = 500; i < 7500; i++) rms += (double)y[i] * y[i];
    assert_true(sqrt(rms / 7000) < 1e-3);
    free(y);
    free(z);
    assert_int_equal(mt_audio_resample(x, 10, 0, 8000, &y, &ny, &e), MT_ERR_ARG);
    free(x);
}

static void test_scale_trim_fix(void **st)
{
    (void)st;
    /* silence · burst · silence */
    int n = 3000;
    float *x = calloc((size_t)n, sizeof *x);
    for (int i = 1000; i < 2000; i++) x[i] = (float)(0.2 * sin(2 * M_PI * (i - 1000) / 50.0));
    x[100] = 0.001f; /* tiny click, below thresholds */
    float *y = malloc((size_t)n * sizeof *y);
    mt_audio_scale_peak(x, n, 0.75f, y);
    float m = 0;
    for (int i = 0; i < n; i++) m = fmaxf(m, fabsf(y[i]));
    assert_true(fabsf(m - 0.75f) < 1e-6f);
    int64_t s, e;
    mt_audio_trim_abs(y, n, 0.05f, &s, &e);
    assert_true(s >= 1000 && s < 1010);
    assert_true(e > 1990 && e <= 2000);
    mt_audio_trim_db(y, n, 12.0, 128, 4, &s, &e);
    assert_true(s >= 1000 - 64 && s <= 1000); /* frame-resolution edges */
    assert_true(e >= 2000 && e <= 2000 + 64);
    /* all-quiet input: empty range */
    float q[10] = {0};
    mt_audio_trim_abs(q, 10, 0.05f, &s, &e);
    assert_int_equal(s, e);
    /* fix length: crop and pad */
    float a[5] = {1, 2, 3, 4, 5}, b[8];
    mt_audio_fix_length(a, 5, 8, b);
    assert_true(b[4] == 5 && b[5] == 0 && b[7] == 0);
    mt_audio_fix_length(a, 5, 3, b);
    assert_true(b[2] == 3);
    free(x);
    free(y);
}

static void test_prepare_recipe(void **st)
{
    (void)st;
    char p[512];
    write_sine("r.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 1, 200, 0.3, 4000, p, sizeof p);
    mt_audio_prep prep = mt_audio_prep_default();
    float *y;
    int64_t ny;
    mt_err e = {0};
    assert_int_equal(mt_audio_prepare(p, 0, -1, &prep, &y, &ny, &e), MT_OK);
    assert_int_equal(ny, 12500);
    float m = 0;
    for (int i = 0; i < ny; i++) m = fmaxf(m, fabsf(y[i]));
    assert_true(fabsf(m - 0.75f) < 0.01f);
    /* 0.5 s of tone at 12.5 kHz is 6250 samples; the tail is zero padding */
    assert_true(y[12000] == 0.0f);
    assert_true(fabsf(y[3000]) > 0.0f || fabsf(y[3001]) > 0.0f);
    free(y);
}

static void test_bad_files(void **st)
{
    (void)st;
    mt_audio_info ai;
    mt_err e = {0};
    char p[512];
    assert_int_equal(mt_audio_info_read("/no/such/file.wav", &ai, &e), MT_ERR_IO);
    assert_non_null(strstr(e.msg, "/no/such/file.wav"));
    snprintf(p, sizeof p, "%s/empty.wav", dir);
    FILE *f = fopen(p, "wb");
    fclose(f);
    assert_int_equal(mt_audio_info_read(p, &ai, &e), MT_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "empty"));
    snprintf(p, sizeof p, "%s/junk.wav", dir);
    f = fopen(p, "wb");
    fputs("this is not audio at all, just text pretending", f);
    fclose(f);
    assert_int_equal(mt_audio_info_read(p, &ai, &e), MT_ERR_FORMAT);
    /* truncated: a valid WAV cut in half */
    char q[512];
    write_sine("full.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 1, 200, 0.3, 8000, q, sizeof q);
    void *buf;
    FILE *in = fopen(q, "rb");
    buf = malloc(16044);
    size_t got = fread(buf, 1, 16044, in);
    fclose(in);
    snprintf(p, sizeof p, "%s/trunc.wav", dir);
    f = fopen(p, "wb");
    fwrite(buf, 1, got / 2, f);
    fclose(f);
    free(buf);
    assert_int_equal(mt_audio_info_read(p, &ai, &e), MT_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "trunc"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formats),        cmocka_unit_test(test_stereo_to_mono_and_range),
        cmocka_unit_test(test_resample_sine),  cmocka_unit_test(test_scale_trim_fix),
        cmocka_unit_test(test_prepare_recipe), cmocka_unit_test(test_bad_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
