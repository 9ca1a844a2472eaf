/* The "rnpu" front-end (mt_frontend_*) and the `materia rnpu` lab command: shapes, rates, options
 * (unknown keys rejected), resolved config, bad input, JSON fields the project's checks rely on. */
#include "testutil.h"

#include <math.h>

#include <cjson/cJSON.h>

#include "materia/frontend.h"
#include "materia/rnpu.h"

static void frontend_shapes_and_config(void **st)
{
    (void)st;
    mt_frontend *fe;
    mt_err e = {0};
    mt_frontend_cfg cfg = {.name = "rnpu", .channels = 16, .seed = 3, .params_json = "{\"cal_sets\":8}"};
    assert_int_equal(mt_frontend_create(&cfg, &fe, &e), MT_OK);
    assert_int_equal(mt_frontend_channels(fe), 16);
    assert_int_equal(mt_frontend_out_len(fe, 12500), 1250);
    assert_true(fabs(mt_frontend_out_rate(fe) - 1250.0) < 1e-9);
    enum { N = 6250 };
    float x[N], out[16 * 625], out2[16 * 625];
    for (int i = 0; i < N; i++) x[i] = (float)(0.75 * sin(2 * M_PI * 180 * i / 12500.0) * sin(M_PI * i / N));
    assert_int_equal(mt_frontend_process(fe, x, N, 7, out, &e), MT_OK);
    assert_int_equal(mt_frontend_process(fe, x, N, 7, out2, &e), MT_OK);
    assert_memory_equal(out, out2, sizeof out);
    for (int i = 0; i < 16 * 625; i++) assert_true(isfinite(out[i]));
    char *cj = mt_frontend_config_json(fe);
    cJSON *j = cJSON_Parse(cj);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "frontend")->valuestring, "rnpu");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "controls_v")), 16 * 6);
    cJSON *p = cJSON_GetObjectItem(j, "params");
    assert_non_null(p);
    assert_true(cJSON_GetObjectItem(p, "c_ext_pf")->valuedouble == 30.0); /* model v2 */
    assert_true(cJSON_GetObjectItem(p, "mu_a")->valuedouble == -3.0);
    assert_non_null(cJSON_GetObjectItem(j, "device"));
    /* the resolved options re-create the same front-end */
    char *pt = cJSON_PrintUnformatted(p);
    mt_frontend *fe2;
    mt_frontend_cfg cfg2 = {.name = "rnpu", .channels = 16, .seed = 3, .params_json = pt};
    assert_int_equal(mt_frontend_create(&cfg2, &fe2, &e), MT_OK);
    assert_int_equal(mt_frontend_process(fe2, x, N, 7, out2, &e), MT_OK);
    assert_memory_equal(out, out2, sizeof out);
    mt_frontend_free(fe2);
    free(pt);
    cJSON_Delete(j);
    free(cj);
    /* NaN input is rejected */
    x[100] = NAN;
    assert_int_not_equal(mt_frontend_process(fe, x, N, 0, out, &e), MT_OK);
    mt_frontend_free(fe);
}

/* Model presets, and stored configurations written before `mu_a` existed (every option but
 * mu_a): they are read with mu_a = mu_b, the meaning they had, not with today's default. */
static void model_presets_and_legacy_configs(void **st)
{
    (void)st;
    mt_rnpu_params p, v1, v2;
    mt_rnpu_chain c;
    mt_err e = {0};
    mt_rnpu_params_v1(&v1);
    mt_rnpu_params_default(&v2);
    assert_true(v1.c_ext_pf == 100.0 && v1.mu_a == v1.mu_b && !v1.trap && v1.c_io_pf == 0.2);
    assert_true(v2.c_ext_pf == 30.0 && v2.mu_a == -3.0 && v2.mu_b == 1.0 && v2.trap);
    mt_rnpu_chain_default(&c);
    mt_rnpu_params_default(&p);
    assert_int_equal(mt_rnpu_options_parse("{\"model\":\"v1\"}", &p, &c, &e), MT_OK);
    assert_memory_equal(&p, &v1, sizeof p);
    assert_int_equal(mt_rnpu_options_parse("{\"model\":\"v2\"}", &p, &c, &e), MT_OK);
    assert_memory_equal(&p, &v2, sizeof p);
    assert_int_equal(mt_rnpu_options_parse("{\"model\":\"v3\"}", &p, &c, &e), MT_ERR_ARG);
    assert_non_null(strstr(e.msg, "model"));
    /* a partial user setting keeps the default's mu_a */
    mt_rnpu_params_default(&p);
    assert_int_equal(mt_rnpu_options_parse("{\"mu_b\":0.5}", &p, &c, &e), MT_OK);
    assert_true(p.mu_a == -3.0 && p.mu_b == 0.5);
    /* a complete v1 dump without mu_a (as written before mu_a existed) rebuilds v1 exactly */
    char *dump = mt_rnpu_options_json(&v1, &c);
    cJSON *j = cJSON_Parse(dump);
    assert_non_null(cJSON_GetObjectItem(j, "mu_a"));
    cJSON_DeleteItemFromObject(j, "mu_a");
    char *legacy = cJSON_PrintUnformatted(j);
    mt_rnpu_params_default(&p);
    assert_int_equal(mt_rnpu_options_parse(legacy, &p, &c, &e), MT_OK);
    assert_memory_equal(&p, &v1, sizeof p);
    /* ... and a complete current dump rebuilds its own model */
    mt_rnpu_params_v1(&p);
    char *d2 = mt_rnpu_options_json(&v2, &c);
    assert_int_equal(mt_rnpu_options_parse(d2, &p, &c, &e), MT_OK);
    assert_memory_equal(&p, &v2, sizeof p);
    free(d2), free(legacy), free(dump);
    cJSON_Delete(j);
}

static void frontend_options(void **st)
{
    (void)st;
    mt_frontend *fe;
    mt_err e = {0};
    mt_frontend_cfg cfg = {.name = "rnpu", .channels = 4, .seed = 1, .params_json = "{\"bogus_key\":1}"};
    assert_int_equal(mt_frontend_create(&cfg, &fe, &e), MT_ERR_ARG);
    assert_non_null(strstr(e.msg, "bogus_key"));
    cfg.params_json = "{\"c_ext_pf\":\"big\"}";
    assert_int_equal(mt_frontend_create(&cfg, &fe, &e), MT_ERR_ARG);
    assert_non_null(strstr(e.msg, "c_ext_pf"));
    cfg.params_json = "{\"c_ext_pf\":-5}";
    assert_int_not_equal(mt_frontend_create(&cfg, &fe, &e), MT_OK);
    cfg.params_json = "{\"adc_bits\":40}";
    assert_int_not_equal(mt_frontend_create(&cfg, &fe, &e), MT_OK);
    cfg.params_json = "{\"law\":\"mlp\"}"; /* needs a file */
    assert_int_not_equal(mt_frontend_create(&cfg, &fe, &e), MT_OK);
    assert_non_null(strstr(e.msg, "mlp_path"));
    /* the public-code variant: ±0.6 V, neighbours ÷4 */
    mt_rnpu_params p;
    mt_rnpu_chain c;
    mt_rnpu_params_default(&p);
    mt_rnpu_chain_default(&c);
    assert_int_equal(mt_rnpu_options_parse("{\"preset\":\"code\",\"adc_bits\":12}", &p, &c, &e), MT_OK);
    assert_true(c.ctrl_range_v == 0.6 && c.neighbour_div == 4.0 && c.adc_bits == 12);
    c.channels = 32;
    p.cal_sets = 8;
    mt_rnpu_fx *fx;
    assert_int_equal(mt_rnpu_fx_create(&p, &c, 2, &fx, &e), MT_OK);
    const double *vc = mt_rnpu_fx_controls(fx);
    for (int ch = 0; ch < 32; ch++)
        for (int k = 0; k < 6; k++) {
            double lim = (k == 0 || k == 5) ? 0.15 : 0.6;
            assert_true(fabs(vc[ch * 6 + k]) <= lim);
        }
    mt_rnpu_fx_free(fx);
    /* 16/32/64 channels and one device per channel are accepted */
    int chs[3] = {16, 32, 64};
    for (int i = 0; i < 3; i++) {
        mt_frontend_cfg cc = {.name = "rnpu", .channels = chs[i], .seed = 1, .params_json = "{\"cal_sets\":8}"};
        assert_int_equal(mt_frontend_create(&cc, &fe, &e), MT_OK);
        assert_int_equal(mt_frontend_channels(fe), chs[i]);
        mt_frontend_free(fe);
    }
}

static cJSON *run_json(const char *args, int *rc)
{
    char *out = NULL;
    *rc = tu_run(args, &out, 0);
    cJSON *j = cJSON_Parse(out);
    free(out);
    return j;
}

static void cli_lab(void **st)
{
    (void)st;
    int rc;
    cJSON *j = run_json("rnpu step --configs 40 --seed 9 --json", &rc);
    assert_int_equal(rc, 0);
    assert_non_null(j);
    cJSON *t = cJSON_GetObjectItem(j, "tau_ms");
    assert_non_null(t);
    double med = cJSON_GetObjectItem(t, "median")->valuedouble;
    assert_true(med > 10 && med < 40);
    assert_non_null(cJSON_GetObjectItem(t, "p5"));
    assert_non_null(cJSON_GetObjectItem(t, "p95"));
    cJSON_Delete(j);
    j = run_json("rnpu pulses --seed 9 --json", &rc);
    assert_int_equal(rc, 0);
    assert_true(cJSON_GetObjectItem(j, "tau2_ms")->valuedouble > cJSON_GetObjectItem(j, "tau1_ms")->valuedouble);
    cJSON_Delete(j);
    j = run_json("rnpu staircase --seed 9 --json", &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "tau_ms")), 5);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "vss_v")), 5);
    cJSON_Delete(j);
    j = run_json("rnpu chirp --seed 9 --json", &rc);
    assert_int_equal(rc, 0);
    assert_true(cJSON_GetObjectItem(j, "harmonics_visible")->valueint >= 5);
    cJSON_Delete(j);
    j = run_json("rnpu twotone --f1 74 --f2 174 --seed 9 --json", &rc);
    assert_int_equal(rc, 0);
    cJSON *pr = cJSON_GetObjectItem(j, "products");
    assert_int_equal(cJSON_GetArraySize(pr), 4);
    assert_true(cJSON_GetObjectItem(cJSON_GetArrayItem(pr, 0), "hz")->valuedouble == 26);
    assert_true(cJSON_GetObjectItem(cJSON_GetArrayItem(pr, 2), "hz")->valuedouble == 226);
    assert_non_null(cJSON_GetObjectItem(cJSON_GetArrayItem(pr, 1), "v"));
    cJSON_Delete(j);
    j = run_json("rnpu power --configs 10 --seed 9 --json", &rc);
    assert_int_equal(rc, 0);
    double pm = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "static_nw"), "mean")->valuedouble;
    assert_true(pm > 1.4 && pm < 2.4);
    assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "static_nw"), "std"));
    cJSON_Delete(j);
    j = run_json("rnpu iv --seed 9 --json", &rc);
    assert_int_equal(rc, 0);
    double nd = cJSON_GetObjectItem(j, "ndr_fraction")->valuedouble;
    assert_true(nd >= 0 && nd <= 1);
    cJSON_Delete(j);
    j = run_json("rnpu range --configs 16 --seed 9 --json", &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "median_tau_ms")), 5);
    cJSON_Delete(j);
}

static void cli_bad_input(void **st)
{
    (void)st;
    char *out = NULL;
    assert_int_equal(tu_run("rnpu", &out, 1), 2);
    free(out);
    assert_int_equal(tu_run("rnpu warp", &out, 1), 2);
    assert_non_null(strstr(out, "warp"));
    free(out);
    assert_int_equal(tu_run("rnpu step --configs -3", &out, 1), 2);
    assert_non_null(strstr(out, "--configs"));
    free(out);
    assert_int_equal(tu_run("rnpu step --configs nan", &out, 1), 2);
    free(out);
    assert_int_equal(tu_run("rnpu step --frobnicate", &out, 1), 2);
    free(out);
    assert_int_not_equal(tu_run("rnpu step --params '{\"nope\":1}'", &out, 1), 0);
    assert_non_null(strstr(out, "nope"));
    free(out);
    assert_int_equal(tu_run("rnpu twotone --f1 200 --f2 100", &out, 1), 2);
    free(out);
    assert_int_equal(tu_run("rnpu chirp --plot out.txt", &out, 1), 2);
    free(out);
    /* --help documents every experiment and an example */
    assert_int_equal(tu_run("rnpu --help", &out, 0), 0);
    assert_non_null(strstr(out, "twotone"));
    assert_non_null(strstr(out, "example"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(frontend_shapes_and_config),
        cmocka_unit_test(frontend_options),
        cmocka_unit_test(model_presets_and_legacy_configs),
        cmocka_unit_test(cli_lab),
        cmocka_unit_test(cli_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
