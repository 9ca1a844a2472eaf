/* RNPU integrators: vectorised kernel == naive scalar reference for every mechanism, exponential
 * Euler against RK4 with 32 substeps, determinism at any thread count, the MLP reference law. */
#include "testutil.h"

#include <math.h>
#include <omp.h>

#include "materia/io.h"
#include "materia/rnpu.h"

static void chirp12k5(float *x, int n)
{
    for (int i = 0; i < n; i++) {
        double t = i / 12500.0;
        x[i] = (float)(0.75 * sin(2 * M_PI * 100.0 * (pow(20.0, t) - 1.0) / log(20.0) - M_PI / 2));
    }
}

static void fast_vs_naive_case(const char *json, double tol)
{
    mt_rnpu_params p;
    mt_rnpu_chain c;
    mt_rnpu_params_default(&p);
    mt_rnpu_chain_default(&c);
    mt_err e = {0};
    assert_int_equal(mt_rnpu_options_parse(json, &p, &c, &e), MT_OK);
    p.cal_sets = 8; /* keep calibration short */
    mt_rnpu *d;
    assert_int_equal(mt_rnpu_create(&p, 4, &d, &e), MT_OK);
    enum { C = 11, N = 3000 }; /* 11 channels: one full block of 8 and a partial one */
    double vc[C * MT_RNPU_NC];
    mt_rnpu_random_controls(4, 1, C, 0.4, 2.0, vc);
    float x[N];
    chirp12k5(x, N);
    mt_rnpu_state s1[C], s2[C];
    for (int i = 0; i < C; i++) {
        s1[i] = (mt_rnpu_state){.vo = 0.01 * i, .q = 0.02 * i, .vin_prev = 0};
        s2[i] = s1[i];
    }
    double *y1 = malloc(sizeof(double) * C * N), *y2 = malloc(sizeof(double) * C * N);
    mt_rnpu_run_multi(d, NULL, C, vc, x, N, 12500, s1, y1);
    mt_rnpu_run_multi_naive(d, NULL, C, vc, x, N, 12500, s2, y2);
    double md = 0, mag = 0;
    for (int i = 0; i < C * N; i++) {
        md = fmax(md, fabs(y1[i] - y2[i]));
        mag = fmax(mag, fabs(y2[i]));
    }
    printf("fast vs naive %-60s max |dVo| %.2e V (|Vo| up to %.3f V)\n", json, md, mag);
    assert_true(md <= tol);
    assert_true(mag > 1e-4);
    for (int i = 0; i < C; i++) {
        assert_true(fabs(s1[i].vo - s2[i].vo) <= tol);
        assert_true(fabs(s1[i].q - s2[i].q) <= 1e-5);
    }
    free(y1), free(y2);
    mt_rnpu_free(d);
}

static void fast_equals_naive(void **st)
{
    (void)st;
    fast_vs_naive_case("{\"model\":\"spec\"}", 1e-6);
    fast_vs_naive_case("{\"c_io_pf\":5}", 1e-6);
    fast_vs_naive_case("{\"gate\":\"softplus\",\"theta_lo\":-0.5,\"theta_hi\":1.0}", 1e-6);
    fast_vs_naive_case("{\"trap\":true,\"trap_gamma\":2,\"trap_q_pc\":0.5,\"trap_tau_ms\":150}", 1e-6);
    fast_vs_naive_case("{\"gate\":\"softplus\",\"trap\":true,\"c_io_pf\":2}", 1e-6);
    fast_vs_naive_case("{\"traps\":4,\"traps_gamma\":1.5}", 1e-6);
    fast_vs_naive_case("{\"traps\":2,\"gate\":\"softplus\",\"trap\":true}", 1e-6);
    fast_vs_naive_case("{\"traps\":4,\"traps_srh\":true,\"traps_gamma\":1.5}", 1e-6);
}

/* dVo/dt of the spec model with ZOH input held (for RK4). */
static double rhs(const mt_rnpu *d, const double *v, double vo)
{
    const mt_rnpu_params *p = mt_rnpu_get_params(d);
    double w[MT_RNPU_NE];
    memcpy(w, v, sizeof(double) * 7);
    w[7] = vo;
    double C = p->c_ext_pf * 1e-12, gb = 1.0 / (p->r_buf_gohm * 1e9);
    return (mt_rnpu_output_current(d, w) - vo * gb) / C;
}

/* Exponential Euler (1 step per DAC sample at 12.5 kS/s) against RK4 with 32 substeps on the
 * 0.75-V chirp: max error ≤ 10 µV (spec E13; explicit Euler would be ~0.2 mV). */
static void expeuler_vs_rk4(void **st)
{
    (void)st;
    mt_rnpu_params p;
    mt_rnpu_params_spec(&p);
    p.cal_sets = 8;
    mt_rnpu *d;
    mt_err e = {0};
    assert_int_equal(mt_rnpu_create(&p, 1, &d, &e), MT_OK);
    enum { N = 12500 };
    float *x = malloc(sizeof(float) * N);
    chirp12k5(x, N);
    double vc[MT_RNPU_NC];
    mt_rnpu_random_controls(1, 3, 1, 0.4, 2.0, vc);
    double v[MT_RNPU_NB];
    for (int k = 0; k < MT_RNPU_NC; k++) v[k + 1] = vc[k];
    mt_rnpu_state s = {0};
    double vo = 0, h = 1.0 / 12500, hs = h / 32, maxerr = 0, maxv = 0;
    for (int i = 0; i < N; i++) {
        v[0] = x[i];
        mt_rnpu_step(d, v, h, 0, &s);
        for (int q = 0; q < 32; q++) {
            double k1 = rhs(d, v, vo), k2 = rhs(d, v, vo + 0.5 * hs * k1), k3 = rhs(d, v, vo + 0.5 * hs * k2),
                   k4 = rhs(d, v, vo + hs * k3);
            vo += hs / 6 * (k1 + 2 * k2 + 2 * k3 + k4);
        }
        maxerr = fmax(maxerr, fabs(vo - s.vo));
        maxv = fmax(maxv, fabs(vo));
    }
    printf("exponential Euler vs RK4x32 on the chirp: max error %.2e V (|Vo| up to %.3f V)\n", maxerr, maxv);
    assert_true(maxerr <= 10e-6);
    assert_true(maxv > 1e-3);
    free(x);
    mt_rnpu_free(d);
}

/* Features are identical whatever the thread count, and noise depends only on (seed, utt, ch). */
static void thread_independence(void **st)
{
    (void)st;
    mt_rnpu_params p;
    mt_rnpu_chain c;
    mt_rnpu_params_default(&p);
    mt_rnpu_chain_default(&c);
    p.cal_sets = 8;
    c.channels = 12;
    mt_rnpu_fx *fx;
    mt_err e = {0};
    assert_int_equal(mt_rnpu_fx_create(&p, &c, 5, &fx, &e), MT_OK);
    enum { U = 4, N = 2500 };
    float *x = malloc(sizeof(float) * U * N);
    for (int u = 0; u < U; u++) {
        chirp12k5(x + u * N, N);
        for (int i = 0; i < N; i++) x[u * N + i] *= (float)(0.5 + 0.1 * u);
    }
    size_t per = (size_t)12 * (N / 10);
    float *a = malloc(sizeof(float) * U * per), *b = malloc(sizeof(float) * U * per);
    int fails = 0;
    omp_set_num_threads(1);
#pragma omp parallel for schedule(dynamic, 1) reduction(+ : fails)
    for (int u = 0; u < U; u++) {
        mt_err le = {0};
        fails += mt_rnpu_fx_process(fx, x + u * N, N, (uint64_t)u, a + u * per, 0, &le) != MT_OK;
    }
    omp_set_num_threads(2);
#pragma omp parallel for schedule(dynamic, 1) reduction(+ : fails)
    for (int u = U - 1; u >= 0; u--) {
        mt_err le = {0};
        fails += mt_rnpu_fx_process(fx, x + u * N, N, (uint64_t)u, b + u * per, 0, &le) != MT_OK;
    }
    assert_int_equal(fails, 0);
    assert_memory_equal(a, b, sizeof(float) * U * per);
    /* another utterance index draws other ADC noise */
    assert_int_equal(mt_rnpu_fx_process(fx, x, N, 99, b, 0, &e), MT_OK);
    assert_memory_not_equal(a, b, sizeof(float) * per);
    /* naive chain == fast chain up to float rounding and the rare LSB flip of a rounding tie */
    assert_int_equal(mt_rnpu_fx_process(fx, x, N, 0, b, 1, &e), MT_OK);
    double md = 0;
    for (size_t i = 0; i < per; i++) md = fmax(md, fabs(a[i] - b[i]));
    printf("chain fast vs naive: max |d| %.2e V (LSB/10 = %.2e V)\n", md, 20.0 / 65536 / 10);
    assert_true(md <= 3 * 20.0 / 65536 / 10 + 1e-7); /* a few LSB rounding flips per group */
    free(x), free(a), free(b);
    mt_rnpu_fx_free(fx);
}

/* One device per channel: channels use different devices; fast == naive there too. */
static void device_per_channel(void **st)
{
    (void)st;
    mt_rnpu_params p;
    mt_rnpu_chain c;
    mt_rnpu_params_default(&p);
    mt_rnpu_chain_default(&c);
    p.cal_sets = 8;
    c.channels = 3;
    c.device_per_channel = 1;
    c.adc_noise_v = 0;
    c.adc_bits = 0;
    mt_rnpu_fx *fx;
    mt_err e = {0};
    assert_int_equal(mt_rnpu_fx_create(&p, &c, 6, &fx, &e), MT_OK);
    char *j0 = mt_rnpu_describe_json(mt_rnpu_fx_device(fx, 0)), *j1 = mt_rnpu_describe_json(mt_rnpu_fx_device(fx, 1));
    assert_string_not_equal(j0, j1);
    free(j0), free(j1);
    enum { N = 2500 };
    float x[N], a[3 * 250], b[3 * 250];
    chirp12k5(x, N);
    assert_int_equal(mt_rnpu_fx_process(fx, x, N, 0, a, 0, &e), MT_OK);
    assert_int_equal(mt_rnpu_fx_process(fx, x, N, 0, b, 1, &e), MT_OK);
    for (int i = 0; i < 3 * 250; i++) assert_true(fabs(a[i] - b[i]) < 1e-6);
    mt_rnpu_fx_free(fx);
}

/* A small random MLP in the brains-py layout, saved as safetensors. */
static void write_mlp(const char *path, int hidden)
{
    int dims[4] = {7, hidden, hidden, 1};
    mt_st_tensor t[6];
    char names[6][32];
    uint64_t s = 12345;
    for (int l = 0; l < 3; l++) {
        int64_t ws[2] = {dims[l + 1], dims[l]}, bs[1] = {dims[l + 1]};
        mt_err e = {0};
        snprintf(names[2 * l], 32, "raw_model.%d.weight", 2 * l);
        snprintf(names[2 * l + 1], 32, "raw_model.%d.bias", 2 * l);
        t[2 * l].name = names[2 * l];
        t[2 * l + 1].name = names[2 * l + 1];
        assert_int_equal(mt_array_alloc(&t[2 * l].a, MT_F32, 2, ws, &e), MT_OK);
        assert_int_equal(mt_array_alloc(&t[2 * l + 1].a, MT_F32, 1, bs, &e), MT_OK);
        float *w = t[2 * l].a.data, *b = t[2 * l + 1].a.data;
        for (int64_t i = 0; i < ws[0] * ws[1]; i++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            w[i] = (float)(((s >> 11) * (1.0 / 9007199254740992.0) - 0.5) * 1.2);
        }
        for (int64_t i = 0; i < bs[0]; i++) b[i] = 0.05f * (float)(i % 3);
    }
    mt_err e = {0};
    assert_int_equal(mt_st_write(path, t, 6, NULL, &e), MT_OK);
    for (int i = 0; i < 6; i++) mt_array_free(&t[i].a);
}

static void mlp_reference_law(void **st)
{
    (void)st;
    char dir[256], path[512];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/mlp.safetensors", dir);
    write_mlp(path, 16);
    mt_rnpu_params p;
    mt_rnpu_chain c;
    mt_rnpu_params_default(&p);
    mt_rnpu_chain_default(&c);
    char json[700];
    snprintf(json, sizeof json, "{\"law\":\"mlp\",\"mlp_path\":\"%s\",\"mlp_amp\":2.0,\"c_io_pf\":0,\"c_ext_pf\":100}", path);
    mt_err e = {0};
    assert_int_equal(mt_rnpu_options_parse(json, &p, &c, &e), MT_OK);
    mt_rnpu *d;
    assert_int_equal(mt_rnpu_create(&p, 1, &d, &e), MT_OK);
    /* gauge invariance of the voltage-mode use: I(V + s, Vo + s) = I(V, Vo) */
    double v[MT_RNPU_NE] = {0.2, -0.1, 0.3, 0.05, -0.2, 0.1, 0.0, 0.04}, w[MT_RNPU_NE];
    for (int k = 0; k < MT_RNPU_NE; k++) w[k] = v[k] - 0.21;
    double i1 = mt_rnpu_output_current(d, v), i2 = mt_rnpu_output_current(d, w);
    assert_true(fabs(i1 - i2) <= 1e-6 * fabs(i1) + 1e-18);
    /* the integrator's analytic Gd matches a finite difference: compare one step against a
     * 64-substep explicit Euler on a step input */
    mt_rnpu_state s = {0};
    double ctl[MT_RNPU_NC] = {0.1, -0.1, 0.2, 0.0, 0.1, -0.05};
    double x[200];
    for (int i = 0; i < 200; i++) x[i] = 0.5;
    double y[200];
    mt_rnpu_run(d, ctl, x, 200, 12500, &s, y);
    assert_true(isfinite(y[199]));
    double vo = 0, vv[MT_RNPU_NE];
    for (int i = 0; i < 200; i++)
        for (int q = 0; q < 64; q++) {
            vv[0] = 0.5;
            for (int k = 0; k < 6; k++) vv[k + 1] = ctl[k];
            vv[7] = vo;
            double I = mt_rnpu_output_current(d, vv) - vo / 1e10;
            vo += I / (p.c_ext_pf * 1e-12) * (1.0 / 12500 / 64);
        }
    printf("MLP law: Vo after 16 ms %.5f V (exp. Euler) vs %.5f V (fine explicit Euler)\n", y[199], vo);
    assert_true(fabs(y[199] - vo) < 1e-3 * fmax(1.0, fabs(vo)) + 1e-4);
    /* run_multi falls back to the reference for this law */
    float xf[100];
    for (int i = 0; i < 100; i++) xf[i] = 0.5f;
    mt_rnpu_state ms[2];
    memset(ms, 0, sizeof ms);
    double ym[200], vcs[12] = {0.1, -0.1, 0.2, 0.0, 0.1, -0.05, 0.1, -0.1, 0.2, 0.0, 0.1, -0.05};
    mt_rnpu_run_multi(d, NULL, 2, vcs, xf, 100, 12500, ms, ym);
    assert_true(fabs(ym[99] - y[99]) < 1e-12);
    /* the MLP law models only the output current: the other electrode currents are unknown */
    double ie[MT_RNPU_NE];
    mt_rnpu_electrode_currents(d, v, ie);
    assert_true(isnan(ie[0]) && !isnan(ie[7]));
    mt_rnpu_free(d);
    /* a flat .npy with the wrong size is rejected with the file named */
    snprintf(path, sizeof path, "%s/bad.npy", dir);
    mt_array a;
    int64_t sh[1] = {100};
    assert_int_equal(mt_array_alloc(&a, MT_F32, 1, sh, &e), MT_OK);
    assert_int_equal(mt_npy_write(path, &a, &e), MT_OK);
    mt_array_free(&a);
    snprintf(json, sizeof json, "{\"law\":\"mlp\",\"mlp_path\":\"%s\"}", path);
    mt_rnpu_params_default(&p);
    assert_int_equal(mt_rnpu_options_parse(json, &p, &c, &e), MT_OK);
    assert_int_not_equal(mt_rnpu_create(&p, 1, &d, &e), MT_OK);
    assert_non_null(strstr(e.msg, "bad.npy"));
    /* a missing file too */
    snprintf(p.mlp_path, sizeof p.mlp_path, "%s/missing.safetensors", dir);
    assert_int_not_equal(mt_rnpu_create(&p, 1, &d, &e), MT_OK);
    tu_rmrf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fast_equals_naive),  cmocka_unit_test(expeuler_vs_rk4),
        cmocka_unit_test(thread_independence), cmocka_unit_test(device_per_channel),
        cmocka_unit_test(mlp_reference_law),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
