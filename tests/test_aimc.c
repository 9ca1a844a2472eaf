/* aimc: PCM statistics against their formulas, drift and compensation, DAC/ADC steps, tiling,
 * determinism, optimised vs reference MVM, chip mapping/energy arithmetic. */
#include "testutil.h"

#include <math.h>
#include <omp.h>

#include "materia/aimc.h"

/* ---------------------------------------------------------------------------------------- */
/* helpers                                                                                   */
/* ---------------------------------------------------------------------------------------- */

static void mean_std(const double *v, int n, double *mean, double *sd)
{
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++) s += v[i];
    double m = s / n;
    for (int i = 0; i < n; i++) s2 += (v[i] - m) * (v[i] - m);
    *mean = m;
    *sd = sqrt(s2 / (n - 1));
}

/* Moments of |N(mu, sd²)| (folded normal), which is how ν is drawn. */
static void folded(double mu, double sd, double *mean, double *std)
{
    double m = sd * sqrt(2.0 / M_PI) * exp(-mu * mu / (2 * sd * sd)) + mu * erf(mu / (sd * sqrt(2.0)));
    *mean = m;
    *std = sqrt(mu * mu + sd * sd - m * m);
}

static void rand_fill(float *a, int64_t n, uint64_t seed, double lo, double hi)
{
    mt_rng r;
    mt_rng_init(&r, seed, 99);
    for (int64_t i = 0; i < n; i++) a[i] = (float)mt_rng_range(&r, lo, hi);
}

static mt_aimc_matrix *program(const float *W, int64_t outs, int64_t ins, const mt_aimc_params *p,
                               uint64_t seed)
{
    mt_aimc_matrix *m = NULL;
    mt_err e = {0};
    mt_status st = mt_aimc_matrix_program(&m, W, outs, ins, p, seed, &e);
    if (st) fail_msg("program: %s", e.msg);
    return m;
}

static void mvm(const mt_aimc_matrix *m, const float *x, int64_t cols, float *y, uint64_t seed)
{
    mt_rng r;
    mt_rng_init(&r, seed, 7);
    mt_err e = {0};
    if (mt_aimc_matrix_mvm(m, x, cols, y, &r, &e)) fail_msg("mvm: %s", e.msg);
}

static void gemm_ref(const float *W, const float *x, int64_t outs, int64_t ins, int64_t cols, double *y)
{
    for (int64_t o = 0; o < outs; o++)
        for (int64_t c = 0; c < cols; c++) {
            double a = 0;
            for (int64_t i = 0; i < ins; i++) a += (double)W[o * ins + i] * x[i * cols + c];
            y[o * cols + c] = a;
        }
}

/* ---------------------------------------------------------------------------------------- */
/* device formulas                                                                           */
/* ---------------------------------------------------------------------------------------- */

/* The spec's test-vector table (aimc.md §2.3), derived independently from the formulas. */
static void test_pcm_formulas(void **st)
{
    (void)st;
    mt_pcm_params p;
    mt_pcm_params_default(&p, MT_PCM_PCMLIKE, 1);
    static const double x[] = {0.00, 0.01, 0.05, 0.10, 0.25, 0.50, 1.00};
    static const double sp[] = {0.26348, 0.28301, 0.35880, 0.44825, 0.68141, 0.95271, 1.05538};
    static const double mu[] = {0.1000, 0.0958, 0.0708, 0.0601, 0.0490, 0.0490, 0.0490};
    static const double sd[] = {0.0450, 0.0450, 0.0315, 0.0229, 0.0114, 0.0080, 0.0080};
    static const double qs[] = {0.2000, 0.1756, 0.0617, 0.0393, 0.0217, 0.0138, 0.0088};
    for (int i = 0; i < 7; i++) {
        double g = x[i] * 25.0, m, s;
        assert_true(fabs(mt_pcm_prog_sigma(&p, g) - sp[i]) < 6e-5);
        mt_pcm_drift_stats(&p, g, &m, &s);
        assert_true(fabs(m - mu[i]) < 6e-5);
        assert_true(fabs(s - sd[i]) < 6e-5);
        assert_true(fabs(mt_pcm_read_qs(&p, g) - qs[i]) < 6e-5);
    }
    /* σ_prog scales with g_max (the fit is in µS at 25 µS). */
    mt_pcm_params p2 = p;
    p2.g_max = 50;
    assert_true(fabs(mt_pcm_prog_sigma(&p2, 25.0) - 2 * 0.95271) < 2e-4);
    static const double t[] = {0, 60, 3600, 86400, 30 * 86400.0, 360 * 86400.0};
    static const double rf[] = {4.1838, 4.3463, 4.7648, 5.0868, 5.4108, 5.6357};
    static const double df[] = {1.0000, 0.9330, 0.7711, 0.6580, 0.5551, 0.4902};
    for (int i = 0; i < 6; i++) {
        assert_true(fabs(mt_pcm_read_factor(&p, t[i]) - rf[i]) < 6e-5);
        /* G(t) = G0 (t/t0)^−ν with t = t_inf + t0 */
        assert_true(fabs(mt_pcm_drift(&p, 1.0, 0.05, t[i]) - df[i]) < 6e-5);
    }
    /* HERMES fits: continuity at the breakpoints within the fits' own precision, and the
     * characterised g_max per polarity. */
    mt_pcm_params h;
    mt_pcm_params_default(&h, MT_PCM_HERMES, 2);
    assert_true(fabs(mt_pcm_unit_gmax(&h) - 20.7) < 1e-12);
    assert_int_equal(mt_pcm_units(&h), 1);
    assert_true(fabs(h.t0 - 300) < 1e-12);
    assert_true(fabs(mt_pcm_prog_sigma(&h, 0) - 0.16603222) < 1e-9);
    double m1, m2;
    mt_pcm_drift_stats(&h, 0.0945 * 20.7 * (1 - 1e-9), &m1, NULL);
    mt_pcm_drift_stats(&h, 0.0945 * 20.7, &m2, NULL);
    assert_true(fabs(m1 - m2) < 2e-3);
    mt_pcm_params_default(&h, MT_PCM_HERMES, 1);
    assert_true(fabs(mt_pcm_unit_gmax(&h) - 10.35) < 1e-12 && fabs(h.t0 - 200) < 1e-12);
    /* Q_s at g = 0 is the clamp's upper value. */
    assert_true(fabs(mt_pcm_read_qs(&h, 0) - 0.04) < 1e-12);
}

/* Programming noise: mean and σ per conductance level over many devices match the formula,
 * including the clamped "off" device (half-normal: mean σ/√(2π), std σ·√(1/2 − 1/(2π))).
 * Drawn through the matrix (constant weight levels), so the weight→conductance map is tested. */
static void test_programming_noise_stats(void **st)
{
    (void)st;
    enum { OUTS = 5, INS = 4001 };
    static const double level[OUTS] = {0.0, 0.1, 0.25, 0.5, 1.0};
    float *W = malloc(sizeof(float) * OUTS * INS);
    for (int o = 0; o < OUTS; o++) {
        W[o * INS] = 1.0f; /* sets the column's scale to 1: every other weight = its level */
        for (int i = 1; i < INS; i++) W[o * INS + i] = (float)(i % 2 ? level[o] : -level[o]);
    }
    mt_aimc_params p;
    mt_aimc_params_default(&p);
    p.tile_rows = INS; /* one tile */
    p.pcm.drift_scale = 0;
    p.read = MT_AIMC_READ_OFF;
    mt_aimc_matrix *m = program(W, OUTS, INS, &p, 11);
    assert_int_equal(mt_aimc_matrix_ntiles(m), 1);
    int U = mt_pcm_units(&p.pcm);
    assert_int_equal(U, 2);
    double *v = malloc(sizeof(double) * 2 * U * INS);
    for (int o = 0; o < OUTS; o++) {
        double g = level[o] * 25.0, s = mt_pcm_prog_sigma(&p.pcm, g);
        int nv = 0, no = 0;
        double *off = malloc(sizeof(double) * 2 * U * INS);
        for (int u = 0; u < 2 * U; u++) {
            const float *gt, *gp;
            mt_aimc_matrix_devices(m, 0, u, &gt, &gp, NULL, NULL);
            for (int i = 1; i < INS; i++) {
                int k = o * INS + i;
                int on = (u < U) == (i % 2 == 1);
                if (on && level[o] > 0) {
                    assert_true(fabs(gt[k] - g) < 1e-5);
                    v[nv++] = gp[k];
                } else {
                    assert_true(gt[k] == 0.0f);
                    off[no++] = gp[k];
                }
            }
        }
        double mean, sd;
        if (nv) {
            mean_std(v, nv, &mean, &sd);
            assert_true(fabs(mean - g) < 4 * s / sqrt(nv));
            assert_true(fabs(sd / s - 1) < 0.04);
        }
        /* The off devices (target 0): clamped half-normal of σ_prog(0). */
        mean_std(off, no, &mean, &sd);
        double s0 = mt_pcm_prog_sigma(&p.pcm, 0);
        assert_true(fabs(mean - s0 / sqrt(2 * M_PI)) < 0.03 * s0);
        assert_true(fabs(sd - s0 * sqrt(0.5 - 1 / (2 * M_PI))) < 0.03 * s0);
        free(off);
    }
    free(v);
    mt_aimc_matrix_free(m);
    free(W);
}

/* The HERMES fit treats a polarity (1 or 2 devices programmed alike) as one unit of
 * devices·10.35 µS with its own cubic σ_prog(x). */
static void test_hermes_programming(void **st)
{
    (void)st;
    enum { INS = 6001 };
    float *W = malloc(sizeof(float) * INS);
    W[0] = 1.0f;
    for (int i = 1; i < INS; i++) W[i] = 0.4f;
    for (int dev = 1; dev <= 2; dev++) {
        mt_aimc_params p;
        mt_aimc_params_default(&p);
        mt_pcm_params_default(&p.pcm, MT_PCM_HERMES, dev);
        p.tile_rows = INS;
        mt_aimc_matrix *m = program(W, 1, INS, &p, 3);
        const float *gt, *gp;
        assert_int_equal(mt_aimc_matrix_devices(m, 0, 0, &gt, &gp, NULL, NULL), 1);
        double g = 0.4 * 10.35 * dev, s = mt_pcm_prog_sigma(&p.pcm, g);
        double *v = malloc(sizeof(double) * INS), mean, sd;
        for (int i = 1; i < INS; i++) {
            assert_true(fabs(gt[i] - g) < 1e-5);
            v[i - 1] = gp[i];
        }
        mean_std(v, INS - 1, &mean, &sd);
        assert_true(fabs(mean - g) < 4 * s / sqrt(INS));
        assert_true(fabs(sd / s - 1) < 0.05);
        free(v);
        mt_aimc_matrix_free(m);
    }
    free(W);
}

/* ν distribution: ν fitted from G at two times (read noise off) reproduces the folded normal
 * |N(μ_ν, σ_ν)| per level, and G(t) follows the power law exactly. */
static void test_drift_exponent_and_power_law(void **st)
{
    (void)st;
    enum { OUTS = 4, INS = 3001 };
    static const double level[OUTS] = {0.05, 0.1, 0.5, 1.0};
    float *W = malloc(sizeof(float) * OUTS * INS);
    for (int o = 0; o < OUTS; o++) {
        W[o * INS] = 1.0f;
        for (int i = 1; i < INS; i++) W[o * INS + i] = (float)level[o];
    }
    mt_aimc_params p;
    mt_aimc_params_default(&p);
    p.tile_rows = INS;
    p.pcm.devices = 1;
    p.pcm.prog_noise_scale = 0;
    p.read = MT_AIMC_READ_OFF;
    mt_aimc_matrix *m = program(W, OUTS, INS, &p, 5);
    mt_err e = {0};
    const double t1 = 100.0, t2 = 86400.0 * 30, t0 = p.pcm.t0;
    float *g1 = malloc(sizeof(float) * OUTS * INS);
    const float *gt, *gp, *gn, *nu;
    assert_int_equal(mt_aimc_matrix_set_time(m, t1, 1, &e), MT_OK);
    mt_aimc_matrix_devices(m, 0, 0, &gt, &gp, &gn, &nu);
    memcpy(g1, gn, sizeof(float) * OUTS * INS);
    assert_int_equal(mt_aimc_matrix_set_time(m, t2, 1, &e), MT_OK);
    mt_aimc_matrix_devices(m, 0, 0, &gt, &gp, &gn, &nu);
    double *v = malloc(sizeof(double) * INS);
    for (int o = 0; o < OUTS; o++) {
        int n = 0;
        for (int i = 1; i < INS; i++) {
            int k = o * INS + i;
            /* power law at both times */
            assert_true(fabs(g1[k] - gp[k] * pow((t1 + t0) / t0, -nu[k])) < 1e-5 * gp[k]);
            assert_true(fabs(gn[k] - gp[k] * pow((t2 + t0) / t0, -nu[k])) < 1e-5 * gp[k]);
            v[n++] = log((double)g1[k] / gn[k]) / log((t2 + t0) / (t1 + t0));
        }
        double mean, sd, mu, sg, fm, fs;
        mean_std(v, n, &mean, &sd);
        mt_pcm_drift_stats(&p.pcm, level[o] * 25.0, &mu, &sg);
        folded(mu, sg, &fm, &fs);
        assert_true(fabs(mean - fm) < 4 * fs / sqrt(n) + 2e-5);
        assert_true(fabs(sd / fs - 1) < 0.06);
    }
    free(v);
    free(g1);
    mt_aimc_matrix_free(m);
    free(W);
}

/* ---------------------------------------------------------------------------------------- */
/* quantisation                                                                              */
/* ---------------------------------------------------------------------------------------- */

static void test_dac_adc_steps(void **st)
{
    (void)st;
    mt_aimc_params p;
    mt_aimc_params_ideal(&p);
    p.adc_bits = 0;
    p.out_bound = 0;
    float w = 1.0f;
    mt_aimc_matrix *m = program(&w, 1, 1, &p, 1);
    mt_aimc_matrix_set_input_range(m, 2.0f);
    enum { N = 2001 };
    float *x = malloc(sizeof(float) * N), *y = malloc(sizeof(float) * N);
    for (int i = 0; i < N; i++) x[i] = (float)(-2.5 + 5.0 * i / (N - 1));
    mvm(m, x, N, y, 1);
    /* DAC: y = ir · round(clip(x/ir)·127)/127 → multiples of 2/127, |error| ≤ half a step inside
     * the range, clipped to ±2 outside; every one of the 255 levels is hit. */
    double step = 2.0 / 127;
    int seen[255] = {0};
    for (int i = 0; i < N; i++) {
        double k = y[i] / step;
        assert_true(fabs(k - rint(k)) < 1e-4);
        assert_true(fabs(k) <= 127 + 1e-4);
        seen[(int)rint(k) + 127] = 1;
        if (fabs(x[i]) <= 2) assert_true(fabs(y[i] - x[i]) <= step / 2 + 1e-6);
        else assert_true(fabs(y[i]) == 2.0f);
    }
    for (int k = 0; k < 255; k++) assert_true(seen[k]);
    /* half-way values round to even: with ir = 127 the DAC level is x itself */
    mt_aimc_matrix_set_input_range(m, 127.0f);
    x[0] = 0.5f, x[1] = 1.5f, x[2] = 2.5f, x[3] = -0.5f, x[4] = -3.5f;
    mvm(m, x, 5, y, 1);
    assert_true(y[0] == 0.0f && y[1] == 2.0f && y[2] == 2.0f && y[3] == 0.0f && y[4] == -4.0f);
    mt_aimc_matrix_free(m);

    /* ADC: 8 bits over ±10 tile units → Δ = 20/254; a 256-input all-ones column saturates. */
    mt_aimc_params_ideal(&p);
    p.dac_bits = 0;
    p.out_bound = 10;
    p.adc_bits = 8;
    float W2[256];
    for (int i = 0; i < 256; i++) W2[i] = 1.0f;
    m = program(W2, 1, 256, &p, 1);
    mt_aimc_matrix_set_input_range(m, 1.0f);
    float *X2 = malloc(sizeof(float) * 256 * 64);
    for (int c = 0; c < 64; c++)
        for (int i = 0; i < 256; i++) X2[i * 64 + c] = (i < 4 * c) ? 0.037f : 0.0f;
    mvm(m, X2, 64, y, 1);
    double d = 20.0 / 254;
    for (int c = 0; c < 64; c++) {
        double ideal = 4 * c * (double)0.037f, k = y[c] / d;
        assert_true(fabs(k - rint(k)) < 1e-3);
        if (ideal < 10) assert_true(fabs(y[c] - ideal) <= d / 2 + 1e-5);
    }
    for (int i = 0; i < 256; i++) X2[i] = 1.0f; /* column 0 only, cols = 1 */
    mvm(m, X2, 1, y, 1);
    assert_true(fabs(y[0] - 10.0) < 1e-5); /* bound */
    mt_aimc_matrix_free(m);
    free(X2);
    free(x);
    free(y);
}

/* ---------------------------------------------------------------------------------------- */
/* tiling, exact path, determinism                                                           */
/* ---------------------------------------------------------------------------------------- */

static void test_tiled_equals_untiled(void **st)
{
    (void)st;
    enum { OUTS = 300, INS = 600, COLS = 9 };
    float *W = malloc(sizeof(float) * OUTS * INS), *x = malloc(sizeof(float) * INS * COLS);
    float *y1 = malloc(sizeof(float) * OUTS * COLS), *y2 = malloc(sizeof(float) * OUTS * COLS);
    double *yr = malloc(sizeof(double) * OUTS * COLS);
    rand_fill(W, OUTS * INS, 1, -0.7, 0.7);
    rand_fill(x, INS * COLS, 2, -1.3, 1.3);
    mt_aimc_params p;
    mt_aimc_params_ideal(&p);
    p.dac_bits = 0;
    p.adc_bits = 0;
    p.out_bound = 0;
    gemm_ref(W, x, OUTS, INS, COLS, yr);
    for (int mode = 0; mode < 3; mode++) {
        p.scale = (mt_aimc_scale)mode;
        p.tile_rows = p.tile_cols = 256;
        mt_aimc_matrix *a = program(W, OUTS, INS, &p, 3);
        assert_int_equal(mt_aimc_matrix_ntiles(a), 3 * 2); /* 600 → 200·3, 300 → 150·2 */
        mt_aimc_tile_info ti;
        mt_aimc_matrix_tile(a, 0, &ti);
        assert_true(ti.rows == 200 && ti.cols == 150);
        p.tile_rows = p.tile_cols = 1024;
        mt_aimc_matrix *b = program(W, OUTS, INS, &p, 3);
        assert_int_equal(mt_aimc_matrix_ntiles(b), 1);
        mt_aimc_matrix_set_input_range(a, 1.5f);
        mt_aimc_matrix_set_input_range(b, 1.5f);
        mvm(a, x, COLS, y1, 4);
        mvm(b, x, COLS, y2, 4);
        for (int k = 0; k < OUTS * COLS; k++) {
            assert_true(fabs(y1[k] - y2[k]) < 2e-5 * (1 + fabs(yr[k])));
            assert_true(fabs(y1[k] - yr[k]) < 2e-5 * (1 + fabs(yr[k])));
        }
        mt_aimc_matrix_free(a);
        mt_aimc_matrix_free(b);
    }
    /* With the 8-bit DAC (fixed input range) tiled == untiled == W·DAC(x). */
    mt_aimc_params_ideal(&p);
    p.adc_bits = 0;
    p.out_bound = 0;
    p.tile_rows = p.tile_cols = 256;
    mt_aimc_matrix *a = program(W, OUTS, INS, &p, 3);
    p.tile_rows = p.tile_cols = 4096;
    mt_aimc_matrix *b = program(W, OUTS, INS, &p, 3);
    mt_aimc_matrix_set_input_range(a, 1.0f);
    mt_aimc_matrix_set_input_range(b, 1.0f);
    float *xq = malloc(sizeof(float) * INS * COLS);
    for (int k = 0; k < INS * COLS; k++) xq[k] = (float)(rint(fmax(-1, fmin(1, x[k])) * 127) / 127);
    gemm_ref(W, xq, OUTS, INS, COLS, yr);
    mvm(a, x, COLS, y1, 4);
    mvm(b, x, COLS, y2, 4);
    for (int k = 0; k < OUTS * COLS; k++) {
        assert_true(fabs(y1[k] - y2[k]) < 2e-5 * (1 + fabs(yr[k])));
        assert_true(fabs(y1[k] - yr[k]) < 2e-5 * (1 + fabs(yr[k])));
    }
    /* Exact path with the default 8-bit ADC: within half an ADC step per tile of the DAC'd
     * product (ADC step 2·out_bound/254 in tile units, times the column scale). */
    mt_aimc_params_ideal(&p);
    mt_aimc_matrix *c = program(W, OUTS, INS, &p, 3);
    mt_aimc_matrix_set_input_range(c, 4.0f); /* |x| ≤ 1.3: partial sums stay inside the bound */
    for (int k = 0; k < INS * COLS; k++) xq[k] = (float)(4 * rint(x[k] / 4.0 * 127) / 127);
    gemm_ref(W, xq, OUTS, INS, COLS, yr);
    mvm(c, x, COLS, y1, 4);
    double worst = 0;
    for (int k = 0; k < OUTS * COLS; k++) worst = fmax(worst, fabs(y1[k] - yr[k]));
    /* 3 row blocks, each off by at most Δ/2 · column scale (≤ 0.7) · ir (4) */
    assert_true(worst <= 3 * 0.5 * (2 * p.out_bound / 254) * 0.7 * 4 + 1e-4);
    assert_true(worst > 0); /* the ADC really quantises */
    mt_aimc_matrix_free(a);
    mt_aimc_matrix_free(b);
    mt_aimc_matrix_free(c);
    free(xq);
    free(W), free(x), free(y1), free(y2), free(yr);
}

static void test_determinism_and_reference(void **st)
{
    (void)st;
    enum { OUTS = 70, INS = 530, COLS = 33 };
    float *W = malloc(sizeof(float) * OUTS * INS), *x = malloc(sizeof(float) * INS * COLS);
    float *y1 = malloc(sizeof(float) * OUTS * COLS), *y2 = malloc(sizeof(float) * OUTS * COLS);
    rand_fill(W, OUTS * INS, 8, -1, 1);
    rand_fill(x, INS * COLS, 9, -2, 2);
    mt_aimc_params p;
    mt_aimc_params_default(&p);
    mt_err e = {0};
    int nt = omp_get_max_threads();
    omp_set_num_threads(1);
    mt_aimc_matrix *a = program(W, OUTS, INS, &p, 42);
    omp_set_num_threads(nt > 1 ? nt : 2);
    mt_aimc_matrix *b = program(W, OUTS, INS, &p, 42);
    mt_aimc_matrix *c = program(W, OUTS, INS, &p, 43);
    omp_set_num_threads(nt);
    for (int t = 0; t < 3; t++) {
        const float *ga, *gb;
        mt_aimc_matrix_devices(a, t, 1, NULL, &ga, NULL, NULL);
        mt_aimc_matrix_devices(b, t, 1, NULL, &gb, NULL, NULL);
        mt_aimc_tile_info ti;
        mt_aimc_matrix_tile(a, t, &ti);
        assert_memory_equal(ga, gb, sizeof(float) * ti.rows * ti.cols);
    }
    assert_int_equal(mt_aimc_matrix_set_time(a, 3600, 5, &e), MT_OK);
    assert_int_equal(mt_aimc_matrix_set_time(b, 3600, 5, &e), MT_OK);
    assert_int_equal(mt_aimc_matrix_set_time(c, 3600, 5, &e), MT_OK);
    mvm(a, x, COLS, y1, 77);
    mvm(b, x, COLS, y2, 77);
    assert_memory_equal(y1, y2, sizeof(float) * OUTS * COLS);
    mvm(b, x, COLS, y2, 78); /* another MVM draw */
    assert_memory_not_equal(y1, y2, sizeof(float) * OUTS * COLS);
    mvm(c, x, COLS, y2, 77); /* another programming draw */
    assert_memory_not_equal(y1, y2, sizeof(float) * OUTS * COLS);

    /* Optimised vs naive reference, same draws: equal up to float order; an ADC rounding flip
     * changes one element by one step (20/254 tile units × scale × input range). */
    for (int ir = 0; ir < 2; ir++) {
        mt_aimc_matrix_set_input_range(a, ir ? 1.7f : 0.0f);
        mt_rng r1, r2;
        mt_rng_init(&r1, 3, 3);
        mt_rng_init(&r2, 3, 3);
        assert_int_equal(mt_aimc_matrix_mvm(a, x, COLS, y1, &r1, &e), MT_OK);
        assert_int_equal(mt_aimc_matrix_mvm_ref(a, x, COLS, y2, &r2, &e), MT_OK);
        int close = 0;
        for (int k = 0; k < OUTS * COLS; k++) {
            double d = fabs(y1[k] - y2[k]);
            assert_true(d <= 20.0 / 254 * 2.0 * 2.0 * 1.5 + 1e-4);
            close += d < 1e-4;
        }
        assert_true(close >= OUTS * COLS * 98 / 100);
    }
    mt_aimc_matrix_free(a);
    mt_aimc_matrix_free(b);
    mt_aimc_matrix_free(c);
    free(W), free(x), free(y1), free(y2);
}

/* ---------------------------------------------------------------------------------------- */
/* noise at the output, drift compensation                                                   */
/* ---------------------------------------------------------------------------------------- */

/* Per-MVM read noise: the variance of repeated MVMs equals Σ_j x_j² Σ_u σ_rd,u² (in W units);
 * additive output noise adds out_noise² (× scale² × ir²). */
static void test_mvm_noise_variance(void **st)
{
    (void)st;
    enum { INS = 200, REP = 4000 };
    float W[INS];
    rand_fill(W, INS, 21, -1, 1);
    W[0] = 1.0f;
    float x[INS];
    rand_fill(x, INS, 22, -1, 1);
    mt_aimc_params p;
    mt_aimc_params_ideal(&p);
    p.dac_bits = 0;
    p.adc_bits = 0;
    p.out_bound = 0;
    p.pcm.read_noise_scale = 1;
    p.pcm.drift_scale = 1;
    p.read = MT_AIMC_READ_PER_MVM;
    p.gdc = MT_AIMC_GDC_NONE;
    p.out_noise = 0.03;
    const double tinf = 3600;
    mt_aimc_matrix *m = program(W, 1, INS, &p, 2);
    mt_err e = {0};
    assert_int_equal(mt_aimc_matrix_set_time(m, tinf, 2, &e), MT_OK);
    mt_aimc_matrix_set_input_range(m, 1.0f);
    /* expected: scale = max|W| = 1, ir = 1 */
    double var = p.out_noise * p.out_noise, mean = 0;
    int U = mt_pcm_units(&p.pcm);
    double gfull = U * mt_pcm_unit_gmax(&p.pcm);
    for (int u = 0; u < 2 * U; u++) {
        const float *gp, *gn;
        mt_aimc_matrix_devices(m, 0, u, NULL, &gp, &gn, NULL);
        for (int j = 0; j < INS; j++) {
            double s = mt_pcm_read_sigma(&p.pcm, gp[j], gn[j], tinf) / gfull;
            var += s * s * x[j] * x[j];
            mean += (u < U ? 1 : -1) * gn[j] / gfull * x[j];
        }
    }
    double *v = malloc(sizeof(double) * REP);
    for (int r = 0; r < REP; r++) {
        float y;
        mvm(m, x, 1, &y, 1000 + r);
        v[r] = y;
    }
    double mm, sd;
    mean_std(v, REP, &mm, &sd);
    assert_true(fabs(mm - mean) < 4 * sqrt(var / REP));
    assert_true(fabs(sd * sd / var - 1) < 0.08);
    /* read noise really contributes (not just out_noise) */
    assert_true(var > 1.5 * p.out_noise * p.out_noise);
    free(v);
    mt_aimc_matrix_free(m);

    /* Frozen read noise: the spread of drifted conductances across devices at one level is
     * σ_rd relative (multiplicative), and repeated MVMs carry only the output noise. */
    enum { N2 = 6001 };
    float *W2 = malloc(sizeof(float) * N2);
    for (int j = 0; j < N2; j++) W2[j] = 0.5f;
    W2[0] = 1.0f;
    mt_aimc_params_ideal(&p);
    p.pcm.read_noise_scale = 1;
    p.read = MT_AIMC_READ_FROZEN;
    p.tile_rows = N2;
    m = program(W2, 1, N2, &p, 4);
    assert_int_equal(mt_aimc_matrix_set_time(m, tinf, 9, &e), MT_OK);
    const float *gn;
    mt_aimc_matrix_devices(m, 0, 0, NULL, NULL, &gn, NULL);
    double *g = malloc(sizeof(double) * N2);
    for (int j = 1; j < N2; j++) g[j - 1] = gn[j];
    mean_std(g, N2 - 1, &mm, &sd);
    double g0 = 0.5 * 25, expect = g0 * mt_pcm_read_qs(&p.pcm, g0) * mt_pcm_read_factor(&p.pcm, tinf);
    assert_true(fabs(mm - g0) < 4 * expect / sqrt(N2));
    assert_true(fabs(sd / expect - 1) < 0.05);
    free(g);
    free(W2);
    mt_aimc_matrix_free(m);
}

/* Drift shrinks outputs by about (t/t0)^−ν̄; global drift compensation restores the mean output
 * magnitude, per tile, including the programming-noise off-device offset. */
static void test_drift_compensation(void **st)
{
    (void)st;
    enum { OUTS = 64, INS = 512, COLS = 40 };
    float *W = malloc(sizeof(float) * OUTS * INS), *x = malloc(sizeof(float) * INS * COLS);
    float *y = malloc(sizeof(float) * OUTS * COLS);
    double *yr = malloc(sizeof(double) * OUTS * COLS);
    mt_rng r;
    mt_rng_init(&r, 1, 1);
    for (int k = 0; k < OUTS * INS; k++) W[k] = (float)(0.3 * mt_rng_normal(&r));
    for (int k = 0; k < INS * COLS; k++) x[k] = (float)(0.5 * mt_rng_normal(&r));
    gemm_ref(W, x, OUTS, INS, COLS, yr);
    double ideal = 0;
    for (int k = 0; k < OUTS * COLS; k++) ideal += fabs(yr[k]);
    mt_err e = {0};
    const double day = 86400;
    double ratio[4];
    for (int g = 0; g < 4; g++) {
        mt_aimc_params p;
        mt_aimc_params_default(&p);
        p.adc_bits = 0;
        p.out_bound = 0;
        p.gdc = g == 0 ? MT_AIMC_GDC_NONE : g == 1 ? MT_AIMC_GDC_GLOBAL : g == 2 ? MT_AIMC_GDC_GLOBAL_EXACT : MT_AIMC_GDC_COLUMN;
        mt_aimc_matrix *m = program(W, OUTS, INS, &p, 17);
        assert_int_equal(mt_aimc_matrix_set_time(m, day, 3, &e), MT_OK);
        mt_aimc_matrix_set_input_range(m, 2.0f);
        mvm(m, x, COLS, y, 5);
        double s = 0;
        for (int k = 0; k < OUTS * COLS; k++) s += fabs(y[k]);
        ratio[g] = s / ideal;
        if (g == 0) {
            for (int t = 0; t < mt_aimc_matrix_ntiles(m); t++) {
                mt_aimc_tile_info ti;
                mt_aimc_matrix_tile(m, t, &ti);
                assert_true(ti.alpha == 1.0);
            }
        } else {
            mt_aimc_tile_info ti;
            mt_aimc_matrix_tile(m, 0, &ti);
            assert_true(ti.alpha > 1.2); /* drift of a day is ~(86420/20)^−0.05 ≈ 0.66 */
        }
        mt_aimc_matrix_free(m);
    }
    /* Uncompensated: shrinks roughly like the drift of the mean ν (0.049 … 0.1 over levels). */
    assert_true(ratio[0] < 0.75 && ratio[0] > 0.4);
    for (int g = 1; g < 4; g++) assert_true(fabs(ratio[g] - 1) < 0.06);
    free(W), free(x), free(y), free(yr);
}

/* ---------------------------------------------------------------------------------------- */
/* parameters and errors                                                                     */
/* ---------------------------------------------------------------------------------------- */

static void test_bad_input(void **st)
{
    (void)st;
    mt_aimc_params p;
    mt_aimc_params_default(&p);
    mt_err e = {0};
    mt_aimc_matrix *m = NULL;
    float W[4] = {1, 2, NAN, 4};
    assert_int_equal(mt_aimc_matrix_program(&m, W, 2, 2, &p, 1, &e), MT_ERR_DATA);
    assert_non_null(strstr(e.msg, "[1, 0]"));
    assert_null(m);
    W[2] = 3;
    assert_int_equal(mt_aimc_matrix_program(&m, W, 0, 2, &p, 1, &e), MT_ERR_ARG);
    p.pcm.devices = 3;
    assert_int_equal(mt_aimc_matrix_program(&m, W, 2, 2, &p, 1, &e), MT_ERR_ARG);
    assert_non_null(strstr(e.msg, "devices"));
    mt_aimc_params_default(&p);
    p.out_bound = 0; /* ADC on without a bound */
    assert_int_equal(mt_aimc_params_check(&p, &e), MT_ERR_ARG);
    mt_aimc_params_default(&p);
    p.noise_scale = -1;
    assert_int_equal(mt_aimc_params_check(&p, &e), MT_ERR_ARG);
    mt_aimc_params_default(&p);
    assert_int_equal(mt_aimc_matrix_program(&m, W, 2, 2, &p, 1, &e), MT_OK);
    assert_int_equal(mt_aimc_matrix_set_time(m, -1, 1, &e), MT_ERR_ARG);
    assert_int_equal(mt_aimc_matrix_set_time(m, NAN, 1, &e), MT_ERR_ARG);
    mt_aimc_matrix_free(m);
    mt_pcm_model pm;
    assert_int_equal(mt_pcm_model_parse("hermes", &pm, &e), MT_OK);
    assert_int_equal(pm, MT_PCM_HERMES);
    assert_int_equal(mt_pcm_model_parse("rram", &pm, &e), MT_ERR_ARG);
}

/* ---------------------------------------------------------------------------------------- */
/* the nn hook on a hand-built model                                                         */
/* ---------------------------------------------------------------------------------------- */

static void test_chip_hook(void **st)
{
    (void)st;
    /* conv(3→5, k4) on T=20 (out 17) and linear(10→6): only the struct fields the chip reads. */
    float wc[5 * 3 * 4], wl[6 * 10];
    rand_fill(wc, 60, 31, -1, 1);
    rand_fill(wl, 60, 32, -1, 1);
    mt_layer L[3];
    memset(L, 0, sizeof L);
    L[0].type = MT_LAYER_CONV;
    snprintf(L[0].name, sizeof L[0].name, "conv0");
    L[0].in_c = 3, L[0].in_t = 20, L[0].k = 4, L[0].out_c = 5, L[0].out_t = 17, L[0].analog = 1;
    L[0].w = wc, L[0].nw = 60;
    L[1].type = MT_LAYER_TANH;
    L[2].type = MT_LAYER_LINEAR;
    snprintf(L[2].name, sizeof L[2].name, "fc0");
    L[2].in_c = 10, L[2].in_t = 1, L[2].out_c = 6, L[2].out_t = 1, L[2].analog = 1;
    L[2].w = wl, L[2].nw = 60;
    mt_model model;
    memset(&model, 0, sizeof model);
    model.nlayers = 3;
    model.layers = L;
    mt_aimc_layer *al;
    int n;
    mt_err e = {0};
    assert_int_equal(mt_aimc_layers_from_model(&model, &al, &n, &e), MT_OK);
    assert_int_equal(n, 2);
    assert_true(al[0].kind == MT_AIMC_CONV && al[0].rows == 12 && al[0].cols == 5 && al[0].positions == 17);
    assert_true(al[1].kind == MT_AIMC_LINEAR && al[1].rows == 10 && al[1].cols == 6 && al[1].positions == 1);
    free(al);

    mt_aimc_params p;
    mt_aimc_params_ideal(&p);
    p.adc_bits = 0;
    p.out_bound = 0;
    p.dac_bits = 0;
    float ir[3] = {4, 0, 4};
    mt_aimc_chip *chip;
    assert_int_equal(mt_aimc_chip_program(&chip, &model, &p, ir, 1, &e), MT_OK);
    assert_null(mt_aimc_chip_matrix(chip, 1));
    assert_non_null(mt_aimc_chip_matrix(chip, 0));
    float x[12 * 17], y[5 * 17];
    double yr[5 * 17];
    rand_fill(x, 12 * 17, 33, -1, 1);
    mt_matmul_call call = {&model, 0, 0, 1, 0, 0};
    assert_int_equal(mt_aimc_chip_matmul(chip, &call, wc, x, 12, 17, 5, y), MT_OK);
    gemm_ref(wc, x, 5, 12, 17, yr);
    for (int k = 0; k < 5 * 17; k++) assert_true(fabs(y[k] - yr[k]) < 1e-5);
    /* shape mismatch and a digital layer are refused */
    assert_int_equal(mt_aimc_chip_matmul(chip, &call, wc, x, 11, 17, 5, y), MT_ERR_STATE);
    call.layer = 1;
    assert_int_equal(mt_aimc_chip_matmul(chip, &call, wc, x, 12, 17, 5, y), MT_ERR_STATE);
    assert_int_equal(mt_aimc_chip_set_time(chip, 60, 1, &e), MT_OK);
    mt_aimc_chip_free(chip);

    /* Noisy chip: same (seed, layer, sample, forward_id) → same output; another sample differs. */
    mt_aimc_params_default(&p);
    assert_int_equal(mt_aimc_chip_program(&chip, &model, &p, NULL, 1, &e), MT_OK);
    float y2[5 * 17];
    mt_matmul_call c1 = {&model, 0, 3, 8, 0, 11};
    assert_int_equal(mt_aimc_chip_matmul(chip, &c1, wc, x, 12, 17, 5, y), MT_OK);
    assert_int_equal(mt_aimc_chip_matmul(chip, &c1, wc, x, 12, 17, 5, y2), MT_OK);
    assert_memory_equal(y, y2, sizeof y);
    c1.sample = 4;
    assert_int_equal(mt_aimc_chip_matmul(chip, &c1, wc, x, 12, 17, 5, y2), MT_OK);
    assert_memory_not_equal(y, y2, sizeof y);
    mt_aimc_chip_free(chip);
}

/* ---------------------------------------------------------------------------------------- */
/* mapping, energy, latency                                                                  */
/* ---------------------------------------------------------------------------------------- */

/* hwa6 (paper-code.md §3.3): convs 512×64, 192×256, 768×256, 768×256 at 1977/492/121/28
 * output positions; FC 256×64 and 64×12. */
static const char *HWA6 = "conv:512x64@1977,conv:192x256@492,conv:768x256@121,conv:768x256@28,"
                          "linear:256x64,fc:64x12";

static void test_map_hwa6(void **st)
{
    (void)st;
    mt_aimc_layer *L;
    int n;
    mt_err e = {0};
    assert_int_equal(mt_aimc_layers_parse(HWA6, &L, &n, &e), MT_OK);
    assert_int_equal(n, 6);
    assert_true(L[5].kind == MT_AIMC_LINEAR && L[5].positions == 1 && L[5].rows == 64 && L[5].cols == 12);
    mt_chip chip;
    assert_int_equal(mt_chip_hermes(&chip, 1, &e), MT_OK);
    mt_aimc_map m;
    /* natural mapping: ceil(rows/256)·ceil(cols/256) = 2, 1, 3, 3, 1, 1 */
    assert_int_equal(mt_aimc_map_layers(L, n, &chip, NULL, &m, &e), MT_OK);
    static const int nat[6] = {2, 1, 3, 3, 1, 1};
    for (int i = 0; i < 6; i++) assert_int_equal(m.layers[i].cores, nat[i]);
    assert_int_equal(m.cores, 11);
    assert_int_equal(m.mvms, 1977 + 492 + 121 + 28 + 2);
    assert_int_equal(m.core_mvms, 1977 * 2 + 492 + 121 * 3 + 28 * 3 + 2);
    assert_true(fabs(m.energy_uj - m.core_mvms / 64.0 * 0.86) < 1e-9);
    assert_true(fabs(m.latency_us - m.mvms * 0.133) < 1e-9);
    double esum = 0, lsum = 0;
    for (int i = 0; i < 6; i++) esum += m.layers[i].energy_uj, lsum += m.layers[i].latency_us;
    assert_true(fabs(esum - m.energy_uj) < 1e-9 && fabs(lsum - m.latency_us) < 1e-9);
    assert_true(fabs(m.layers[0].utilisation - 0.25) < 1e-12); /* 512·64 on 2 cores */
    mt_aimc_map_free(&m);
    /* the paper's cores per layer: 5,861 core-MVMs → 78.7 µJ; 2,619 MVMs → 348.3 µs (±0.2: the
     * paper counts the two FC layers as one core-MVM and one MVM; we count two). */
    static const int paper[6] = {2, 2, 6, 7, 1, 1};
    assert_int_equal(mt_aimc_map_layers(L, n, &chip, paper, &m, &e), MT_OK);
    assert_int_equal(m.cores, 19);
    assert_int_equal(m.core_mvms, 5862);
    assert_int_equal(m.mvms, 2620);
    assert_true(fabs(m.energy_uj - 78.7) <= 0.2);
    assert_true(fabs(m.latency_us - 348.3) <= 0.2);
    assert_true(m.fits && m.layers[3].overridden);
    /* system energy: 64 RNPUs × 5 nW × 1 s = 0.32 µJ (the paper's 320 nW) */
    mt_system_params sp;
    mt_system_params_default(&sp);
    mt_system_energy se;
    assert_int_equal(mt_system_energy_compute(&sp, &m, &se, &e), MT_OK);
    assert_true(fabs(se.rnpu_uj - 0.32) < 1e-12);
    assert_true(fabs(se.adc_uj - 64 * 12500 * 5e-15 * 256 * 1e6) < 1e-12);
    assert_true(fabs(se.total_uj - (se.rnpu_uj + se.adc_uj + m.energy_uj)) < 1e-12);
    assert_true(fabs(se.edp_uj_us - se.total_uj * m.latency_us) < 1e-9);
    mt_aimc_map_free(&m);
    /* four-phase read: energy × 9.76/2.48, latency × 63.1/16.1 */
    mt_chip c4;
    assert_int_equal(mt_chip_by_name(&c4, "hermes-4phase", &e), MT_OK);
    assert_int_equal(mt_aimc_map_layers(L, n, &c4, paper, &m, &e), MT_OK);
    assert_true(fabs(m.energy_uj - 5862 / 64.0 * 0.86 * 9.76 / 2.48) < 1e-9);
    assert_true(fabs(m.latency_us - 2620 * 0.133 * 63.1 / 16.1) < 1e-9);
    mt_aimc_map_free(&m);
    /* a bad override */
    static const int bad[6] = {2, 0, 6, 7, 1, 1};
    assert_int_equal(mt_aimc_map_layers(L, n, &chip, bad, &m, &e), MT_ERR_ARG);
    assert_non_null(strstr(e.msg, "conv1"));
    free(L);
    /* a layer larger than a core in both directions: 600×300 → 3×2 cores */
    assert_int_equal(mt_aimc_layers_parse("linear:600x300", &L, &n, &e), MT_OK);
    assert_int_equal(mt_aimc_map_layers(L, n, &chip, NULL, &m, &e), MT_OK);
    assert_true(m.layers[0].row_blocks == 3 && m.layers[0].col_blocks == 2 && m.cores == 6);
    mt_aimc_map_free(&m);
    free(L);
    /* parse errors name the token */
    static const char *badl[] = {"", "conv:512", "conv:512x64@", "pool:3x3", "conv:0x4", "conv:2x2,", "conv:2x2@3x"};
    for (int i = 0; i < 7; i++) {
        assert_int_equal(mt_aimc_layers_parse(badl[i], &L, &n, &e), MT_ERR_ARG);
        assert_null(L);
    }
    assert_int_equal(mt_chip_by_name(&chip, "loihi", &e), MT_ERR_ARG);
    assert_int_equal(mt_chip_hermes(&chip, 2, &e), MT_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pcm_formulas),
        cmocka_unit_test(test_programming_noise_stats),
        cmocka_unit_test(test_hermes_programming),
        cmocka_unit_test(test_drift_exponent_and_power_law),
        cmocka_unit_test(test_dac_adc_steps),
        cmocka_unit_test(test_tiled_equals_untiled),
        cmocka_unit_test(test_determinism_and_reference),
        cmocka_unit_test(test_mvm_noise_variance),
        cmocka_unit_test(test_drift_compensation),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_chip_hook),
        cmocka_unit_test(test_map_hwa6),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
