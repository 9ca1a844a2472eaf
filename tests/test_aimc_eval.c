/* Accuracy on the simulated PCM chip (mt_aimc_evaluate, `materia aimc eval`, `materia aimc
 * sweep`) on a small synthetic task trained here: the noise-free chip equals the quantised digital
 * model, the noisy chip stays near software accuracy, repeats are reproducible by seed at any
 * thread count, the CLI's JSON keys, the sweep's points and plot, and clean failures. */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <omp.h>

#include "materia/aimc.h"
#include "materia/hwa.h"
#include "materia/nn.h"
#include "materia/rng.h"

#define ARCH "conv6k5,bn,tanh,maxpool2,conv6k3,bn,tanh,gap,fc3"

typedef struct fixture {
    char dir[64], feat[128], fp[128], hwa[128];
    mt_features f;
    mt_model m;         /* the HWA model */
    float ranges[16];
    mt_hwa_infer inf;
} fixture;

/* A 3-class set [N, 3, 24]: class k has a tone in channel k plus noise; every 5th item is test. */
static void synth(mt_features *f, int64_t n, uint64_t seed)
{
    mt_err e = {0};
    if (mt_features_alloc(f, n, 3, 24, &e)) fail_msg("%s", e.msg);
    char *names[3] = {"a", "b", "c"};
    if (mt_features_set_classes(f, 3, names, &e)) fail_msg("%s", e.msg);
    mt_rng r;
    mt_rng_init(&r, seed, 1);
    for (int64_t i = 0; i < n; i++) {
        int k = (int)(i % 3);
        f->labels[i] = k;
        f->split[i] = (i % 5 == 4) ? MT_SPLIT_TEST : MT_SPLIT_TRAIN;
        for (int c = 0; c < 3; c++)
            for (int t = 0; t < 24; t++)
                f->x[(i * 3 + c) * 24 + t] =
                    (float)((c == k ? 1.2 * sin(0.9 * t + mt_rng_uniform(&r)) : 0.0) + 0.4 * mt_rng_normal(&r));
    }
    f->rate_hz = 1250;
}

static int setup(void **st)
{
    fixture *x = calloc(1, sizeof *x);
    tu_tmpdir(x->dir, sizeof x->dir);
    snprintf(x->feat, sizeof x->feat, "%s/f.npy", x->dir);
    snprintf(x->fp, sizeof x->fp, "%s/fp.safetensors", x->dir);
    snprintf(x->hwa, sizeof x->hwa, "%s/hwa.safetensors", x->dir);
    mt_err e = {0};
    synth(&x->f, 150, 4);
    if (mt_features_save(&x->f, x->feat, &e)) fail_msg("%s", e.msg);
    if (mt_model_build(&x->m, ARCH, 3, 24, 3, 2, &e)) fail_msg("%s", e.msg);
    mt_train_opts to;
    mt_train_opts_default(&to);
    to.epochs = 12;
    to.batch = 16;
    to.lr = 0.02;
    to.out_path = x->fp;
    mt_train_result r;
    if (mt_train(&x->m, &x->f, &to, &r, &e)) fail_msg("%s", e.msg);
    mt_train_result_free(&r);
    mt_hwa_opts o;
    mt_hwa_opts_default(&o);
    o.ir_init_batches = 5;
    to.epochs = 3;
    to.lr = 0.002;
    to.out_path = x->hwa;
    if (mt_hwa_train(&x->m, &x->f, &o, &to, x->ranges, &r, &e)) fail_msg("%s", e.msg);
    mt_train_result_free(&r);
    x->inf = (mt_hwa_infer){x->ranges, 8, 0, 0};
    *st = x;
    return 0;
}

static int teardown(void **st)
{
    fixture *x = *st;
    tu_rmrf(x->dir);
    mt_features_free(&x->f);
    mt_model_free(&x->m);
    free(x);
    return 0;
}

static double acc_with_hook(mt_model *m, const mt_features *f, void *ctx, mt_matmul_fn fn)
{
    mt_err e = {0};
    mt_eval_result r;
    m->hooks.ctx = ctx;
    m->hooks.matmul = fn;
    if (mt_model_evaluate(m, f, MT_SPLIT_TEST, 32, &r, &e)) fail_msg("%s", e.msg);
    memset(&m->hooks, 0, sizeof m->hooks);
    double a = r.accuracy;
    mt_eval_result_free(&r);
    return a;
}

/* The chip without noise or drift, without ADC, at the learned ranges = the quantised model. */
static void test_noise_free_chip(void **st)
{
    fixture *x = *st;
    double sw = acc_with_hook(&x->m, &x->f, NULL, NULL);
    double q = acc_with_hook(&x->m, &x->f, &x->inf, mt_hwa_matmul);
    assert_true(sw > 0.85);
    mt_aimc_eval_opts eo;
    mt_aimc_eval_opts_default(&eo);
    mt_aimc_params_ideal(&eo.params);
    eo.params.adc_bits = 0;
    eo.params.out_bound = 0;
    eo.repeats = 2;
    eo.input_ranges = x->ranges;
    double acc[2];
    mt_err e = {0};
    assert_int_equal(mt_aimc_evaluate(&x->m, &x->f, &eo, acc, NULL, &e), MT_OK);
    /* 30 test items: at most one prediction may flip on float rounding */
    assert_true(fabs(acc[0] - q) <= 1.0 / 30 + 1e-9);
    assert_true(acc[0] == acc[1]);
    /* per-vector abs-max (no ranges): 8-bit inputs, still the software model up to one item */
    eo.input_ranges = NULL;
    assert_int_equal(mt_aimc_evaluate(&x->m, &x->f, &eo, acc, NULL, &e), MT_OK);
    assert_true(fabs(acc[0] - sw) <= 2.0 / 30 + 1e-9);
}

/* The default chip (PCMLike, 2 devices, 1 h, GDC, ADC) stays near software accuracy on this
 * easy task; seeds reproduce every repeat at 1 and 2 threads; other seeds give other draws. */
static void test_noisy_chip_and_seeds(void **st)
{
    fixture *x = *st;
    double sw = acc_with_hook(&x->m, &x->f, NULL, NULL);
    mt_aimc_eval_opts eo;
    mt_aimc_eval_opts_default(&eo);
    eo.repeats = 3;
    eo.input_ranges = x->ranges;
    eo.seed = 7;
    double a1[3], a2[3], a3[3], f1[3];
    mt_err e = {0};
    int nt = omp_get_max_threads();
    omp_set_num_threads(1);
    assert_int_equal(mt_aimc_evaluate(&x->m, &x->f, &eo, a1, f1, &e), MT_OK);
    omp_set_num_threads(2);
    assert_int_equal(mt_aimc_evaluate(&x->m, &x->f, &eo, a2, NULL, &e), MT_OK);
    omp_set_num_threads(nt);
    assert_memory_equal(a1, a2, sizeof a1);
    double mean = (a1[0] + a1[1] + a1[2]) / 3;
    assert_true(mean >= sw - 0.1);
    for (int r = 0; r < 3; r++) assert_true(f1[r] > 0 && f1[r] <= 1);
    /* heavy noise: the accuracy depends on the draw, so seeds must matter */
    eo.params.noise_scale = 6;
    double b1[3], b2[3];
    assert_int_equal(mt_aimc_evaluate(&x->m, &x->f, &eo, b1, NULL, &e), MT_OK);
    eo.seed = 8;
    assert_int_equal(mt_aimc_evaluate(&x->m, &x->f, &eo, b2, NULL, &e), MT_OK);
    assert_true(memcmp(b1, b2, sizeof b1) != 0);
    eo.seed = 7;
    assert_int_equal(mt_aimc_evaluate(&x->m, &x->f, &eo, a3, NULL, &e), MT_OK);
    assert_memory_equal(a3, b1, sizeof a3);
    /* bad options */
    eo.repeats = 0;
    assert_int_equal(mt_aimc_evaluate(&x->m, &x->f, &eo, a3, NULL, &e), MT_ERR_ARG);
    eo.repeats = 1;
    eo.t_inf = NAN;
    assert_int_equal(mt_aimc_evaluate(&x->m, &x->f, &eo, a3, NULL, &e), MT_ERR_ARG);
    /* the model's hooks and forward counter are left as they were */
    assert_null(x->m.hooks.matmul);
}

static cJSON *run_json(const char *args)
{
    char *out = NULL;
    int rc = tu_run(args, &out, 0);
    if (rc != 0) fail_msg("materia %s: exit %d\n%s", args, rc, out ? out : "");
    cJSON *j = cJSON_Parse(out);
    if (!j) fail_msg("materia %s: output is not JSON:\n%s", args, out);
    free(out);
    return j;
}

static const cJSON *get(const cJSON *o, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    const cJSON *cur = o;
    for (char *sv, *t = strtok_r(buf, ".", &sv); t; t = strtok_r(NULL, ".", &sv)) {
        cur = cJSON_GetObjectItemCaseSensitive(cur, t);
        if (!cur) fail_msg("missing %s", path);
    }
    return cur;
}

static double num(const cJSON *o, const char *path)
{
    const cJSON *v = get(o, path);
    if (!cJSON_IsNumber(v)) fail_msg("%s is not a number", path);
    return v->valuedouble;
}

static void test_cli_eval_json(void **st)
{
    fixture *x = *st;
    char a[1024];
    snprintf(a, sizeof a, "aimc eval --model %s --features %s --repeats 2 --seed 3 --json", x->hwa, x->feat);
    cJSON *j = run_json(a);
    const cJSON *runs = get(j, "accuracy.runs");
    assert_int_equal(cJSON_GetArraySize(runs), 2);
    double m = num(j, "accuracy.mean"), sd = num(j, "accuracy.std");
    double r0 = cJSON_GetArrayItem(runs, 0)->valuedouble, r1 = cJSON_GetArrayItem(runs, 1)->valuedouble;
    assert_true(fabs(m - (r0 + r1) / 2) < 1e-12);
    assert_true(fabs(sd - fabs(r0 - r1) / sqrt(2.0)) < 1e-12); /* sample std of two */
    double sw = num(j, "software_accuracy");
    assert_true(fabs(sw - acc_with_hook(&x->m, &x->f, NULL, NULL)) < 1e-12);
    assert_true(fabs(num(j, "quantised_accuracy") - acc_with_hook(&x->m, &x->f, &x->inf, mt_hwa_matmul)) < 1e-12);
    assert_int_equal((int)num(j, "n"), 30);
    assert_true(num(j, "drift_s") == 3600);
    assert_string_equal(get(j, "config.input_ranges")->valuestring, "learned (hwa)");
    assert_true(fabs(num(j, "config.ranges.conv0") - x->ranges[0]) < 1e-6);
    assert_string_equal(get(j, "config.pcm")->valuestring, "pcmlike");
    assert_int_equal((int)num(j, "config.devices"), 2);
    assert_int_equal((int)num(j, "config.repeats"), 2);
    assert_string_equal(get(j, "config.gdc")->valuestring, "global");
    { /* the CLI's chip is the library's default chip (`materia run` evaluates with that one) */
        mt_aimc_params dp;
        mt_aimc_params_default(&dp);
        assert_true(num(j, "config.out_bound") == dp.out_bound);
        assert_true(num(j, "config.out_noise") == dp.out_noise);
    }
    assert_int_equal(cJSON_GetArraySize(get(j, "weighted_f1.runs")), 2);
    /* the same command again: the same numbers; another seed: a run of its own */
    cJSON *k = run_json(a);
    assert_true(num(k, "accuracy.mean") == m && num(k, "accuracy.std") == sd);
    cJSON_Delete(k);
    cJSON_Delete(j);
    /* an FP checkpoint has no ranges; options reach the config */
    snprintf(a, sizeof a,
             "aimc eval --model %s --features %s --repeats 1 --drift-s 1d --pcm hermes --devices 1 --gdc none "
             "--read frozen --noise-scale 0.5 --json",
             x->fp, x->feat);
    j = run_json(a);
    assert_true(cJSON_IsNull(get(j, "quantised_accuracy")));
    assert_string_equal(get(j, "config.input_ranges")->valuestring, "per-vector abs-max");
    assert_true(num(j, "drift_s") == 86400);
    assert_string_equal(get(j, "config.pcm")->valuestring, "hermes");
    assert_string_equal(get(j, "config.read_noise")->valuestring, "frozen");
    assert_true(num(j, "config.noise_scale") == 0.5);
    cJSON_Delete(j);
    /* text output names the figures */
    char *out = NULL;
    snprintf(a, sizeof a, "aimc eval --model %s --features %s --repeats 1", x->hwa, x->feat);
    assert_int_equal(tu_run(a, &out, 0), 0);
    assert_non_null(strstr(out, "software accuracy"));
    assert_non_null(strstr(out, "PCM accuracy"));
    free(out);
}

static void test_cli_sweep(void **st)
{
    fixture *x = *st;
    char a[1024], plot[160];
    snprintf(plot, sizeof plot, "%s/sweep.svg", x->dir);
    snprintf(a, sizeof a,
             "aimc sweep --model %s --features %s --drift 1,1h,1y --noise-scales 0.5,2 --repeats 1 --plot %s --json",
             x->hwa, x->feat, plot);
    cJSON *j = run_json(a);
    const cJSON *pts = get(j, "points");
    assert_int_equal(cJSON_GetArraySize(pts), 6);
    assert_true(num(cJSON_GetArrayItem(pts, 1), "drift_s") == 3600);
    assert_true(num(cJSON_GetArrayItem(pts, 5), "drift_s") == 365 * 86400.0);
    assert_true(num(cJSON_GetArrayItem(pts, 4), "noise_scale") == 2);
    for (int i = 0; i < 6; i++) {
        double v = num(cJSON_GetArrayItem(pts, i), "mean");
        assert_true(v >= 0 && v <= 1);
    }
    assert_int_equal(cJSON_GetArraySize(get(j, "drift_s")), 3);
    cJSON_Delete(j);
    FILE *fp = fopen(plot, "r");
    assert_non_null(fp);
    char head[64] = {0};
    assert_true(fread(head, 1, sizeof head - 1, fp) > 0);
    fclose(fp);
    assert_non_null(strstr(head, "<"));
    /* the sweep point (noise x1, 1 h, 1 repeat, seed 0) is the eval of the same settings */
    snprintf(a, sizeof a, "aimc sweep --model %s --features %s --drift 1h --repeats 2 --json", x->hwa, x->feat);
    j = run_json(a);
    snprintf(a, sizeof a, "aimc eval --model %s --features %s --drift-s 3600 --repeats 2 --json", x->hwa, x->feat);
    cJSON *k = run_json(a);
    assert_true(num(cJSON_GetArrayItem(get(j, "points"), 0), "mean") == num(k, "accuracy.mean"));
    cJSON_Delete(j);
    cJSON_Delete(k);
}

static void expect_fail(const char *args, int code, const char *needle)
{
    char *out = NULL;
    int rc = tu_run(args, &out, 1);
    if (rc != code || (needle && !strstr(out, needle)))
        fail_msg("materia %s: exit %d (want %d)\n%s", args, rc, code, out);
    free(out);
}

static void test_cli_failures(void **st)
{
    fixture *x = *st;
    char a[1024], plot[160], other[160];
    snprintf(a, sizeof a, "aimc eval --model %s/missing.safetensors --features %s", x->dir, x->feat);
    expect_fail(a, 1, "missing.safetensors");
    snprintf(a, sizeof a, "aimc eval --model %s --features %s --repeats 0", x->hwa, x->feat);
    expect_fail(a, 2, "--repeats");
    snprintf(a, sizeof a, "aimc eval --model %s --features %s --drift-s nan", x->hwa, x->feat);
    expect_fail(a, 2, "--drift-s");
    snprintf(a, sizeof a, "aimc eval --model %s --features %s --drift-s -5", x->hwa, x->feat);
    expect_fail(a, 2, "--drift-s");
    snprintf(a, sizeof a, "aimc eval --model %s --features %s --devices 3", x->hwa, x->feat);
    expect_fail(a, 2, "--devices");
    snprintf(a, sizeof a, "aimc eval --model %s --features %s --pcm foo", x->hwa, x->feat);
    expect_fail(a, 2, "--pcm");
    snprintf(a, sizeof a, "aimc eval --model %s --features %s --bogus", x->hwa, x->feat);
    expect_fail(a, 2, "--bogus");
    snprintf(a, sizeof a, "aimc eval --features %s", x->feat);
    expect_fail(a, 2, "--model");
    snprintf(a, sizeof a, "aimc eval --model %s --features %s --drift 1,2", x->hwa, x->feat);
    expect_fail(a, 2, "--drift");
    /* a feature set of another shape */
    mt_features g;
    synth(&g, 6, 1);
    g.t = 20; /* reinterpret as [6, 3, 20] + spare: shape mismatch for the model */
    snprintf(other, sizeof other, "%s/other.npy", x->dir);
    mt_err e = {0};
    assert_int_equal(mt_features_save(&g, other, &e), MT_OK);
    g.t = 24;
    mt_features_free(&g);
    snprintf(a, sizeof a, "aimc eval --model %s --features %s", x->hwa, other);
    expect_fail(a, 1, "expects");
    /* sweep: a bad list, a bad plot name; nothing written */
    snprintf(plot, sizeof plot, "%s/never.png", x->dir);
    snprintf(a, sizeof a, "aimc sweep --model %s --features %s --drift 1,abc --plot %s", x->hwa, x->feat, plot);
    expect_fail(a, 2, "--drift");
    snprintf(a, sizeof a, "aimc sweep --model %s --features %s --noise-scales 1,-1 --plot %s", x->hwa, x->feat, plot);
    expect_fail(a, 2, "--noise-scales");
    snprintf(a, sizeof a, "aimc sweep --model %s --features %s --plot %s/x.jpg", x->hwa, x->feat, x->dir);
    expect_fail(a, 2, "--plot");
    struct stat sb;
    assert_int_not_equal(stat(plot, &sb), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_noise_free_chip),
        cmocka_unit_test(test_noisy_chip_and_seeds),
        cmocka_unit_test(test_cli_eval_json),
        cmocka_unit_test(test_cli_sweep),
        cmocka_unit_test(test_cli_failures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
