/* `materia aimc map` and `materia energy`: the paper's hwa6 figures through the CLI (with the
 * per-layer core override), the natural mapping of the model built by the nn engine, a
 * checkpoint as --model, JSON output and clean failures. */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <math.h>

#include "materia/nn.h"

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

static double num(const cJSON *o, const char *path)
{
    /* "a.b.c" */
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    const cJSON *cur = o;
    for (char *sv, *t = strtok_r(buf, ".", &sv); t; t = strtok_r(NULL, ".", &sv)) {
        cur = cJSON_GetObjectItemCaseSensitive(cur, t);
        if (!cur) fail_msg("missing %s", path);
    }
    if (!cJSON_IsNumber(cur)) fail_msg("%s is not a number", path);
    return cur->valuedouble;
}

/* The check: the paper's per-layer cores land on 78.7 µJ and 348.3 µs (± 0.2). */
static void test_map_paper_override(void **st)
{
    (void)st;
    cJSON *j = run_json("aimc map --model hwa6 --input 64x1984 --cores-per-layer 2,2,6,7,1,1 --json");
    assert_true(fabs(num(j, "total.energy_uj") - 78.7) <= 0.2);
    assert_true(fabs(num(j, "total.latency_us") - 348.3) <= 0.2);
    assert_int_equal((int)num(j, "total.core_mvms"), 5862);
    assert_int_equal((int)num(j, "total.mvms"), 2620);
    assert_int_equal((int)num(j, "total.cores"), 19);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "cores_overridden")));
    /* output positions of the four convolutions come from the model, not from a table */
    const cJSON *L = cJSON_GetObjectItemCaseSensitive(j, "layers");
    assert_int_equal(cJSON_GetArraySize(L), 6);
    static const int pos[6] = {1977, 492, 121, 28, 1, 1};
    static const int rows[6] = {512, 192, 768, 768, 256, 64};
    static const int nat[6] = {2, 1, 3, 3, 1, 1};
    for (int i = 0; i < 6; i++) {
        const cJSON *l = cJSON_GetArrayItem(L, i);
        assert_int_equal((int)num(l, "positions"), pos[i]);
        assert_int_equal((int)num(l, "rows"), rows[i]);
        assert_int_equal((int)num(l, "natural_cores"), nat[i]);
    }
    cJSON_Delete(j);
}

/* Without the override: the tool's own mapping (11 cores, 4,895 core-MVMs). */
static void test_map_natural(void **st)
{
    (void)st;
    cJSON *j = run_json("aimc map --model hwa6 --json");
    assert_int_equal((int)num(j, "total.cores"), 11);
    assert_int_equal((int)num(j, "total.core_mvms"), 4895);
    assert_true(fabs(num(j, "total.energy_uj") - 4895 / 64.0 * 0.86) < 1e-6);
    assert_true(fabs(num(j, "total.latency_us") - 2620 * 0.133) < 1e-6);
    cJSON_Delete(j);
    /* an explicit layer list gives the same numbers as the model */
    j = run_json("aimc map --json --layers conv:512x64@1977,conv:192x256@492,conv:768x256@121,"
                 "conv:768x256@28,linear:256x64,linear:64x12");
    assert_int_equal((int)num(j, "total.core_mvms"), 4895);
    cJSON_Delete(j);
    /* 128-column cores (a hypothesis for the paper's counts, docs/aimc.md): convs 2, 2, 6, 6 */
    j = run_json("aimc map --model hwa6 --core-size 256x128 --json");
    static const int c128[6] = {2, 2, 6, 6, 1, 1};
    for (int i = 0; i < 6; i++)
        assert_int_equal((int)num(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "layers"), i), "cores"), c128[i]);
    assert_int_equal((int)num(j, "chip.core_cols"), 128);
    cJSON_Delete(j);
    /* four-phase read */
    j = run_json("aimc map --model hwa6 --phases 4 --json");
    assert_true(fabs(num(j, "total.energy_uj") - 4895 / 64.0 * 0.86 * 9.76 / 2.48) < 1e-6);
    cJSON_Delete(j);
}

/* A trained checkpoint works as --model (its input shape is in the file). */
static void test_map_checkpoint(void **st)
{
    (void)st;
    char dir[256], path[512], args[1024];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    mt_model m;
    mt_err e = {0};
    assert_int_equal(mt_model_build(&m, "bn,conv16k5,tanh,maxpool4,conv32k3,gap,fc20,tanh,fc", 8, 300, 5, 1, &e), MT_OK);
    assert_int_equal(mt_model_save(&m, path, NULL, &e), MT_OK);
    mt_model_free(&m);
    snprintf(args, sizeof args, "aimc map --model %s --json", path);
    cJSON *j = run_json(args);
    const cJSON *L = cJSON_GetObjectItemCaseSensitive(j, "layers");
    assert_int_equal(cJSON_GetArraySize(L), 4);
    assert_int_equal((int)num(cJSON_GetArrayItem(L, 0), "rows"), 8 * 5);
    assert_int_equal((int)num(cJSON_GetArrayItem(L, 0), "positions"), 296);
    assert_int_equal((int)num(cJSON_GetArrayItem(L, 1), "positions"), 72);
    assert_int_equal((int)num(cJSON_GetArrayItem(L, 3), "cols"), 5);
    cJSON_Delete(j);
    tu_rmrf(dir);
}

static void test_energy(void **st)
{
    (void)st;
    cJSON *j = run_json("energy --model hwa6 --channels 64 --cores-per-layer 2,2,6,7,1,1 "
                        "--reference data/edt2_reference_systems.json --json");
    double rn = num(j, "energy_uj.rnpu"), adc = num(j, "energy_uj.adc_interface");
    double ai = num(j, "energy_uj.aimc"), tot = num(j, "energy_uj.total");
    assert_true(fabs(rn - 0.32) < 1e-9); /* 64 × 5 nW × 1 s */
    assert_true(fabs(adc - 64 * 12500 * 5e-15 * 256 * 1e6) < 1e-9);
    assert_true(fabs(ai - 78.7) <= 0.2);
    assert_true(fabs(tot - (rn + adc + ai)) < 1e-9);
    assert_true(fabs(num(j, "edp_j_s") - tot * num(j, "latency_us") * 1e-12) < 1e-15);
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "reference_systems");
    assert_true(cJSON_IsArray(r) && cJSON_GetArraySize(r) >= 3);
    cJSON *it;
    cJSON_ArrayForEach(it, r) assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(it, "source")));
    cJSON_Delete(j);
    /* the parameters are honoured: 128 channels at 1.9 nW over 2 s */
    j = run_json("energy --model hwa6 --channels 128 --rnpu-power-nw 1.9 --duration 2 --adc-fom-fj 0 --no-reference --json");
    assert_true(fabs(num(j, "energy_uj.rnpu") - 128 * 1.9e-9 * 2 * 1e6) < 1e-9);
    assert_true(num(j, "energy_uj.adc_interface") == 0);
    cJSON_Delete(j);
}

static void expect_fail(const char *args, const char *needle)
{
    char *out = NULL;
    char full[1024];
    /* stderr only (tu_run's own 2>/dev/null then applies to cat); the status is checked below */
    snprintf(full, sizeof full, "%s 2>&1 >/dev/null | cat", args);
    int rc = tu_run(full, &out, 0);
    if (!strstr(out, needle)) fail_msg("materia %s: expected '%s' in:\n%s", args, needle, out);
    /* one line */
    char *nl = strchr(out, '\n');
    assert_true(nl && nl[1] == 0);
    free(out);
    /* nothing on stdout */
    rc = tu_run(args, &out, 0);
    assert_true(rc != 0 && out[0] == 0);
    free(out);
}

static void test_errors(void **st)
{
    (void)st;
    char dir[256], path[512], args[1024];
    expect_fail("aimc map", "--model");
    expect_fail("aimc map --model hwa6 --cores-per-layer 2,2,6", "6 analog layers");
    expect_fail("aimc map --model hwa6 --cores-per-layer 2,0,6,7,1,1", "entry 2");
    expect_fail("aimc map --model hwa6 --input 64y1984", "--input");
    expect_fail("aimc map --model not-a-model", "not-a-model");
    expect_fail("aimc map --model /nonexistent/m.safetensors", "/nonexistent/m.safetensors");
    expect_fail("aimc map --layers conv:512x64@ ", "--layers");
    expect_fail("aimc map --model hwa6 --chip tpu", "tpu");
    expect_fail("aimc map --model hwa6 --phases 2", "--phases");
    expect_fail("aimc map --model hwa6 --core-size 256", "--core-size");
    expect_fail("aimc eval --model hwa6", "--features");
    expect_fail("aimc sweep", "--model");
    expect_fail("aimc frobnicate", "frobnicate");
    expect_fail("energy --model hwa6 --duration nan", "--duration");
    expect_fail("energy --model hwa6 --reference /nonexistent/ref.json", "/nonexistent/ref.json");
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/bad.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"systems\": [{\"name\": \"x\"}]}", f);
    fclose(f);
    snprintf(args, sizeof args, "energy --model hwa6 --reference %s", path);
    expect_fail(args, "systems[0]");
    /* a corrupt checkpoint */
    snprintf(path, sizeof path, "%s/bad.safetensors", dir);
    f = fopen(path, "w");
    fputs("garbage", f);
    fclose(f);
    snprintf(args, sizeof args, "aimc map --model %s", path);
    expect_fail(args, "bad.safetensors");
    tu_rmrf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_paper_override), cmocka_unit_test(test_map_natural),
        cmocka_unit_test(test_map_checkpoint),     cmocka_unit_test(test_energy),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
