/* `materia compare`: one classifier over many front-ends.
 *
 * Fixture: a `folder` dataset of two classes of noisy tones (150 Hz vs 500 Hz, 0.4 s, random
 * phase and level), 24 utterances each, stratified split.  A gammatone bank separates them by
 * construction (the classes differ only in frequency), so its accuracy must be near 100 %; the
 * table's statistics, sizes and cache are checked against their definitions. */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <math.h>

#include "materia/audio.h"
#include "materia/rng.h"

static char g_dir[256], g_data[300];

static int setup(void **state)
{
    (void)state;
    tu_tmpdir(g_dir, sizeof g_dir);
    snprintf(g_data, sizeof g_data, "%s/data", g_dir);
    static const char *const cls[2] = {"low", "high"};
    static const double hz[2] = {150.0, 500.0};
    mt_rng rng;
    mt_rng_init(&rng, 42, 0);
    const int rate = 12500, n = 5000;
    float *x = malloc(n * sizeof *x);
    for (int c = 0; c < 2; c++) {
        char d[400];
        snprintf(d, sizeof d, "%s/%s", g_data, cls[c]);
        mkdir(g_data, 0755);
        mkdir(d, 0755);
        for (int k = 0; k < 24; k++) {
            double ph = 2 * M_PI * mt_rng_uniform(&rng), a = 0.3 + 0.6 * mt_rng_uniform(&rng);
            for (int i = 0; i < n; i++)
                x[i] = (float)(a * sin(2 * M_PI * hz[c] * i / rate + ph) + 0.02 * mt_rng_normal(&rng));
            char p[512];
            snprintf(p, sizeof p, "%s/s%02d.wav", d, k);
            mt_err e = {0};
            if (mt_audio_write_wav(p, x, n, rate, &e)) fail_msg("%s", e.msg);
        }
    }
    free(x);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmrf(g_dir);
    return 0;
}

static const cJSON *get(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!v) fail_msg("missing key %s", k);
    return v;
}

/* --model for every run: a tiny 1-layer CNN (fast, and still a real classifier). */
#define MODEL "'bn,conv4k8,bn,tanh,maxpool8,gap,fc'"
#define COMMON "--data %s --layout folder --split stratified --test-frac 0.25 --duration 0.4 --channels 8 "

static cJSON *run_json(const char *extra, int *rc)
{
    char args[2048], *out = NULL;
    snprintf(args, sizeof args, "compare " COMMON "--model " MODEL " --epochs 15 --batch 8 --repeats 2 --json --quiet %s", g_data,
             extra);
    *rc = tu_run(args, &out, 0);
    cJSON *j = cJSON_Parse(out);
    if (*rc != 0 || !j) {
        free(out);
        tu_run(args, &out, 1); /* again with stderr, for the message */
        fail_msg("compare exited %d: %s", *rc, out);
    }
    free(out);
    return j;
}

static void test_compare_table(void **state)
{
    (void)state;
    char extra[600], plot[400], cache[400];
    snprintf(plot, sizeof plot, "%s/cmp.png", g_dir);
    snprintf(cache, sizeof cache, "%s/cache", g_dir);
    snprintf(extra, sizeof extra, "--frontends gammatone,raw,lowpass:preset=wide --plot %s --cache %s", plot, cache);
    int rc;
    cJSON *j = run_json(extra, &rc);
    assert_int_equal(rc, 0);
    const cJSON *res = get(j, "results");
    assert_int_equal(cJSON_GetArraySize(res), 3);
    static const char *const labels[3] = {"gammatone", "raw", "lowpass:preset=wide"};
    double acc_first[3];
    for (int i = 0; i < 3; i++) {
        const cJSON *r = cJSON_GetArrayItem(res, i);
        assert_string_equal(get(r, "label")->valuestring, labels[i]);
        const cJSON *acc = get(r, "accuracy");
        const cJSON *runs = get(acc, "runs");
        assert_int_equal(cJSON_GetArraySize(runs), 2);
        double a0 = cJSON_GetArrayItem(runs, 0)->valuedouble, a1 = cJSON_GetArrayItem(runs, 1)->valuedouble;
        /* mean and sample standard deviation of the runs */
        assert_true(fabs(get(acc, "mean")->valuedouble - (a0 + a1) / 2) < 1e-9);
        assert_true(fabs(get(acc, "std")->valuedouble - fabs(a0 - a1) / sqrt(2.0)) < 1e-9);
        acc_first[i] = get(acc, "mean")->valuedouble;
        /* sizes agree with `model info` for this front-end's shape */
        const cJSON *sh = get(r, "shape");
        long C = (long)cJSON_GetArrayItem(sh, 0)->valuedouble, T = (long)cJSON_GetArrayItem(sh, 1)->valuedouble;
        assert_int_equal(C, i == 1 ? 1 : 8); /* raw is one channel; the others take --channels */
        char args[512], *out = NULL;
        snprintf(args, sizeof args, "model info --model " MODEL " --input %ldx%ld --classes 2 --json", C, T);
        assert_int_equal(tu_run(args, &out, 0), 0);
        cJSON *info = cJSON_Parse(out);
        assert_non_null(info);
        assert_int_equal((long)get(info, "params")->valuedouble, (long)get(r, "params")->valuedouble);
        assert_int_equal((long)get(info, "macs")->valuedouble, (long)get(r, "macs")->valuedouble);
        cJSON_Delete(info);
        free(out);
        assert_true(get(r, "frontend_ms_per_audio_s")->valuedouble > 0);
        assert_false(cJSON_IsTrue(get(r, "features_cached")));
    }
    /* tones 1.7 octaves apart, both inside the 20–625 Hz bank, through a band-pass bank: separable */
    if (acc_first[0] < 90.0) fail_msg("gammatone accuracy %.1f %% (raw %.1f, lowpass %.1f)", acc_first[0], acc_first[1], acc_first[2]);
    /* the plot is a PNG */
    FILE *f = fopen(plot, "rb");
    assert_non_null(f);
    unsigned char sig[8] = {0};
    assert_int_equal(fread(sig, 1, 8, f), 8);
    fclose(f);
    assert_memory_equal(sig, "\x89PNG\r\n\x1a\n", 8);
    cJSON_Delete(j);

    /* Second run: features come from the cache, and training is bit-reproducible. */
    j = run_json(extra, &rc);
    assert_int_equal(rc, 0);
    res = get(j, "results");
    for (int i = 0; i < 3; i++) {
        const cJSON *r = cJSON_GetArrayItem(res, i);
        assert_true(cJSON_IsTrue(get(r, "features_cached")));
        assert_true(get(get(r, "accuracy"), "mean")->valuedouble == acc_first[i]);
    }
    cJSON_Delete(j);
}

static void test_compare_text_table(void **state)
{
    (void)state;
    char args[1024], *out = NULL;
    snprintf(args, sizeof args, "compare " COMMON "--model " MODEL " --epochs 2 --repeats 1 --quiet --frontends raw",
             g_data);
    assert_int_equal(tu_run(args, &out, 0), 0);
    assert_non_null(strstr(out, "| front-end |"));
    assert_non_null(strstr(out, "| raw | 1 × 5000 |"));
    free(out);
}

static void test_compare_bad_input(void **state)
{
    (void)state;
    char args[1024], *out = NULL, plot[400];
    snprintf(plot, sizeof plot, "%s/bad.png", g_dir);
    /* unknown front-end: usage error naming it, before any work, no plot left behind */
    snprintf(args, sizeof args, "compare " COMMON "--model " MODEL " --frontends raw,cochlea9 --plot %s", g_data, plot);
    assert_int_equal(tu_run(args, &out, 1), 2);
    assert_non_null(strstr(out, "cochlea9"));
    free(out);
    struct stat st;
    assert_int_not_equal(stat(plot, &st), 0);
    /* option without a value */
    snprintf(args, sizeof args, "compare " COMMON "--model " MODEL " --frontends lowpass:preset", g_data);
    assert_int_equal(tu_run(args, &out, 1), 2);
    assert_non_null(strstr(out, "KEY=VALUE"));
    free(out);
    /* unknown option of a front-end is rejected by the front-end itself */
    snprintf(args, sizeof args, "compare " COMMON "--model " MODEL " --frontends lowpass:colour=red", g_data);
    assert_int_equal(tu_run(args, &out, 1), 2);
    assert_non_null(strstr(out, "colour"));
    free(out);
    /* a model that does not fit one front-end's shape fails before any extraction */
    snprintf(args, sizeof args, "compare " COMMON "--model 'conv4k200,gap,fc' --frontends raw,logmel", g_data);
    assert_int_equal(tu_run(args, &out, 1), 2);
    assert_non_null(strstr(out, "does not fit front-end 'logmel'"));
    free(out);
    /* missing data folder */
    assert_int_equal(tu_run("compare --data /nonexistent/x --layout folder --model linear --frontends raw", &out, 1), 1);
    assert_non_null(strstr(out, "/nonexistent/x"));
    free(out);
    /* missing --model, nonsense flag */
    snprintf(args, sizeof args, "compare " COMMON "--frontends raw", g_data);
    assert_int_equal(tu_run(args, &out, 1), 2);
    free(out);
    assert_int_equal(tu_run("compare --frobnicate", &out, 1), 2);
    assert_non_null(strstr(out, "frobnicate"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compare_table),
        cmocka_unit_test(test_compare_text_table),
        cmocka_unit_test(test_compare_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
