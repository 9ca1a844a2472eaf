/* nn models: the paper's parameter/MAC counts, architecture parsing and errors, .json models,
 * checkpoint save/load round trip and rejection of truncated or mismatched files, the AIMC
 * hooks, and `materia model info` on the command line. */
#include "testutil.h"

#include <math.h>

#include "materia/io.h"
#include "materia/nn.h"
#include "materia/rng.h"

static void build_zoo(mt_model *m, const char *name, int64_t c, int64_t t)
{
    char *arch;
    int classes;
    mt_err e = {0};
    assert_int_equal(mt_arch_resolve(name, &arch, &classes, NULL, &e), MT_OK);
    if (mt_model_build(m, arch, c, t, classes, 0, &e) != MT_OK) fail_msg("%s: %s", name, e.msg);
    free(arch);
}

/* shared/spec/paper-code.md §3: the numbers the issue names, and the others of the zoo. */
static void test_paper_counts(void **state)
{
    (void)state;
    const struct { const char *name; int64_t c, t, params, macs, macs_bn; } want[] = {
        {"hwa6", 64, 1984, 494988, 118276864, -1},
        {"m3", 64, 1984, 39116, -1, -1},
        {"m5raw", 1, 8000, 93836, -1, -1},
        {"m4", 64, 1984, 138188, -1, -1},
        {"linear", 64, 1250, 97130, 97100, -1},
        {"cnn1-k3-c16", 64, 1250, 1994, -1, -1},
        {"cnn1-k8-c16", 64, 1250, 4554, -1, -1},
        {"cnn1-k8-c32", 64, 1250, 8682, -1, -1},
        {"cnn1-k8", 64, 1250, 16938, -1, -1},
        {"convnet", 64, 971, 6698, -1, -1},
        {"cnn2", 64, 1250, 9866, -1, -1},
        {"cnn3", 64, 1250, 106282, -1, -1},
        {"cnn3-bn", 64, 1250, 106410, -1, -1}, /* cnn3 + BN(64): 128 more */
        {"m5raw-12k5", 1, 9710, 96458, -1, -1},
    };
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        mt_model m;
        build_zoo(&m, want[k].name, want[k].c, want[k].t);
        if (m.nparams != want[k].params)
            fail_msg("%s: %lld params, expected %lld", want[k].name, (long long)m.nparams, (long long)want[k].params);
        if (want[k].macs >= 0 && m.macs != want[k].macs)
            fail_msg("%s: %lld MACs, expected %lld", want[k].name, (long long)m.macs, (long long)want[k].macs);
        mt_model_free(&m);
    }
    /* hwa6: per-layer MACs 64.78 M / 24.18 M / 23.79 M / 5.51 M / 16.4 k / 768, output positions
     * 1977/492/121/28 (the paper's MVM counts), 17,152 FC weights, 119.1 M MACs with 2·BN */
    mt_model m;
    build_zoo(&m, "hwa6", 64, 1984);
    const int64_t conv_macs[4] = {64782336, 24182784, 23789568, 5505024}, pos[4] = {1977, 492, 121, 28};
    int ci = 0;
    int64_t fcw = 0;
    for (int i = 0; i < m.nlayers; i++) {
        const mt_layer *L = &m.layers[i];
        if (L->type == MT_LAYER_CONV) {
            assert_int_equal(L->macs, conv_macs[ci]);
            assert_int_equal(L->out_t, pos[ci]);
            assert_true(L->analog);
            ci++;
        }
        if (L->type == MT_LAYER_LINEAR) fcw += L->nw;
    }
    assert_int_equal(ci, 4);
    assert_int_equal(fcw, 17152);
    assert_true(fabs((double)(m.macs + m.bn_ops) / 1e6 - 119.1) < 0.05);
    mt_model_free(&m);
    /* m3: 2.275 M MACs counting 2 per BN element (the paper's 2.28 M) */
    build_zoo(&m, "m3", 64, 1984);
    assert_true(fabs((double)(m.macs + m.bn_ops) / 1e6 - 2.275) < 0.001);
    mt_model_free(&m);
}

static void test_arch_parsing(void **state)
{
    (void)state;
    mt_model m;
    mt_err e = {0};
    /* shapes: stride/padding/dilation, pools, slices */
    assert_int_equal(mt_model_build(&m, " conv8k5s2p2d2 , maxpool3s2,avgpool2, gap, fc7", 3, 100, 0, 1, &e), MT_OK);
    assert_int_equal(m.layers[0].out_t, (100 + 4 - 2 * 4 - 1) / 2 + 1);
    assert_int_equal(m.layers[1].out_t, (48 - 3) / 2 + 1);
    assert_int_equal(m.layers[2].out_t, 11);
    assert_int_equal(m.nclasses, 7);
    assert_string_equal(m.arch, "conv8k5s2p2d2,maxpool3s2,avgpool2,gap,fc7");
    assert_string_equal(m.layers[0].name, "conv0");
    assert_string_equal(m.layers[4].name, "fc0");
    mt_model_free(&m);
    assert_int_equal(mt_model_build(&m, "decimate4,time2:100:3,chans1:5,fc", 8, 1984, 3, 0, &e), MT_OK);
    assert_int_equal(m.layers[0].out_t, 496);
    assert_int_equal(m.layers[1].out_t, 33);
    assert_int_equal(m.layers[2].out_c, 4);
    assert_string_equal(m.arch, "decimate4,time2:100:3,chans1:5,fc3");
    mt_model_free(&m);
    /* Python clamping of slices */
    assert_int_equal(mt_model_build(&m, "time0:972,chans0:16,gap,fc", 8, 500, 2, 0, &e), MT_OK);
    assert_int_equal(m.layers[0].out_t, 500);
    assert_int_equal(m.layers[1].out_c, 8);
    mt_model_free(&m);
    /* errors name the token */
    const struct { const char *arch; const char *needle; } bad[] = {
        {"conv64", "conv64"},        {"fc,bn", "last layer"},  {"maxpool99,fc", "shorter"},
        {"foo,fc", "unknown layer"}, {"conv8k3x1,fc", "conv8k3x1"}, {"dropout1.5,fc", "dropout"},
        {"time5:5,fc", "empty"},     {"", "empty"},            {"conv8k3s0,fc", "stride"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        memset(&e, 0, sizeof e);
        mt_status s = mt_model_build(&m, bad[k].arch, 4, 50, 3, 0, &e);
        assert_int_not_equal(s, MT_OK);
        if (!strstr(e.msg, bad[k].needle)) fail_msg("'%s': message '%s' lacks '%s'", bad[k].arch, e.msg, bad[k].needle);
    }
    /* bare fc without a class count */
    assert_int_not_equal(mt_model_build(&m, "gap,fc", 4, 50, 0, 0, &e), MT_OK);
}

static void test_resolve(void **state)
{
    (void)state;
    char *arch, *name;
    int classes;
    mt_err e = {0};
    assert_int_equal(mt_arch_resolve("m3", &arch, &classes, &name, &e), MT_OK);
    assert_int_equal(classes, 12);
    assert_string_equal(name, "m3");
    assert_non_null(strstr(arch, "decimate4"));
    free(arch);
    free(name);
    assert_int_equal(mt_arch_resolve("bn,conv4k3,gap,fc", &arch, &classes, &name, &e), MT_OK);
    assert_string_equal(name, "custom");
    free(arch);
    free(name);
    assert_int_equal(mt_arch_resolve("hwa7", &arch, &classes, &name, &e), MT_ERR_ARG);
    assert_non_null(strstr(e.msg, "unknown model 'hwa7'"));
    /* .json: arch string, and a layer list with objects */
    char dir[64], path[128];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/a.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"arch\": \"bn,conv4k3,gap,fc\", \"classes\": 5}", f);
    fclose(f);
    assert_int_equal(mt_arch_resolve(path, &arch, &classes, &name, &e), MT_OK);
    assert_string_equal(arch, "bn,conv4k3,gap,fc");
    assert_int_equal(classes, 5);
    assert_string_equal(name, "a.json");
    free(arch);
    free(name);
    snprintf(path, sizeof path, "%s/b.json", dir);
    f = fopen(path, "w");
    fputs("{\"layers\": [\"bn\", {\"type\": \"conv\", \"out\": 6, \"kernel\": 3, \"stride\": 2},"
          " {\"type\": \"maxpool\", \"kernel\": 2}, {\"type\": \"slice\", \"time\": [0, 10]}, \"gap\","
          " {\"type\": \"fc\"}], \"classes\": 3}", f);
    fclose(f);
    assert_int_equal(mt_arch_resolve(path, &arch, &classes, &name, &e), MT_OK);
    mt_model m;
    assert_int_equal(mt_model_build(&m, arch, 2, 60, classes, 0, &e), MT_OK);
    assert_string_equal(m.arch, "bn,conv6k3s2,maxpool2,time0:10:1,gap,fc3");
    mt_model_free(&m);
    free(arch);
    free(name);
    snprintf(path, sizeof path, "%s/c.json", dir);
    f = fopen(path, "w");
    fputs("{\"layers\": [{\"kind\": \"conv\"}]}", f);
    fclose(f);
    assert_int_equal(mt_arch_resolve(path, &arch, &classes, &name, &e), MT_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "type"));
    tu_rmrf(dir);
}

static void randomise(mt_model *m, uint64_t seed)
{
    mt_rng r;
    mt_rng_init(&r, seed, 0);
    for (int64_t i = 0; i < m->nparams; i++) m->params[i] = (float)mt_rng_range(&r, -1, 1);
    for (int64_t i = 0; i < m->nbuffers; i++) m->buffers[i] = (float)mt_rng_range(&r, 0.1, 2);
    for (int i = 0; i < m->nlayers; i++) m->layers[i].num_batches_tracked = 7 + i;
}

static void test_checkpoint_roundtrip(void **state)
{
    (void)state;
    char dir[64], path[128];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    mt_model a, b;
    mt_err e = {0};
    assert_int_equal(mt_model_build(&a, "bn,conv6k3,bn,tanh,maxpool2,fc8,relu,fc", 3, 40, 4, 0, &e), MT_OK);
    randomise(&a, 3);
    assert_int_equal(mt_model_save(&a, path, "{\"model\": \"toy\", \"class_names\": [\"a\",\"b\",\"c\",\"d\"]}", &e), MT_OK);
    char *meta = NULL;
    assert_int_equal(mt_model_load(path, &b, &meta, &e), MT_OK);
    assert_string_equal(a.arch, b.arch);
    assert_int_equal(b.in_c, 3);
    assert_int_equal(b.in_t, 40);
    assert_int_equal(b.nclasses, 4);
    assert_memory_equal(a.params, b.params, (size_t)a.nparams * sizeof(float));
    assert_memory_equal(a.buffers, b.buffers, (size_t)a.nbuffers * sizeof(float));
    for (int i = 0; i < a.nlayers; i++)
        if (a.layers[i].type == MT_LAYER_BN)
            assert_int_equal(a.layers[i].num_batches_tracked, b.layers[i].num_batches_tracked);
    assert_non_null(strstr(meta, "\"model\":\"toy\""));
    assert_non_null(strstr(meta, "materia-model"));
    free(meta);
    /* same outputs in eval mode */
    float x[2 * 3 * 40];
    for (int i = 0; i < 240; i++) x[i] = sinf(0.1f * i);
    assert_int_equal(mt_model_forward(&a, x, 2, 0, &e), MT_OK);
    assert_int_equal(mt_model_forward(&b, x, 2, 0, &e), MT_OK);
    assert_memory_equal(mt_model_output(&a), mt_model_output(&b), 8 * sizeof(float));
    mt_model_free(&b);
    /* PyTorch-style names and shapes */
    mt_safetensors st;
    assert_int_equal(mt_st_read(path, &st, &e), MT_OK);
    const mt_array *w = mt_st_get(&st, "conv0.weight");
    assert_non_null(w);
    assert_int_equal(w->ndim, 3);
    assert_int_equal(w->shape[0], 6);
    assert_int_equal(w->shape[1], 3);
    assert_int_equal(w->shape[2], 3);
    assert_non_null(mt_st_get(&st, "bn1.running_var"));
    const mt_array *nbt = mt_st_get(&st, "bn0.num_batches_tracked");
    assert_non_null(nbt);
    assert_int_equal(nbt->dtype, MT_I64);
    assert_int_equal(nbt->ndim, 0);
    w = mt_st_get(&st, "fc0.weight");
    assert_int_equal(w->shape[0], 8);
    assert_int_equal(w->shape[1], 6 * 19);
    /* a tensor with the wrong shape is rejected, naming it: fc1.weight [4, 8] -> [8, 4] */
    char bad[160];
    snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);
    for (int i = 0; i < st.n; i++)
        if (strcmp(st.t[i].name, "fc1.weight") == 0) {
            st.t[i].a.shape[0] = 8;
            st.t[i].a.shape[1] = 4;
        }
    assert_int_equal(mt_st_write(bad, st.t, st.n, st.metadata, &e), MT_OK);
    mt_err e2 = {0};
    assert_int_equal(mt_model_load(bad, &b, NULL, &e2), MT_ERR_FORMAT);
    assert_non_null(strstr(e2.msg, "fc1.weight"));
    assert_non_null(strstr(e2.msg, "[8,4]"));
    /* an extra tensor is rejected */
    for (int i = 0; i < st.n; i++)
        if (strcmp(st.t[i].name, "fc1.weight") == 0) {
            st.t[i].a.shape[0] = 4;
            st.t[i].a.shape[1] = 8;
        }
    mt_st_tensor *more = calloc((size_t)st.n + 1, sizeof *more);
    memcpy(more, st.t, (size_t)st.n * sizeof *more);
    float z = 0;
    more[st.n].name = "conv9.weight";
    more[st.n].a.dtype = MT_F32;
    more[st.n].a.ndim = 1;
    more[st.n].a.shape[0] = 1;
    more[st.n].a.data = &z;
    assert_int_equal(mt_st_write(bad, more, st.n + 1, st.metadata, &e), MT_OK);
    free(more);
    mt_err e6 = {0};
    assert_int_equal(mt_model_load(bad, &b, NULL, &e6), MT_ERR_FORMAT);
    assert_non_null(strstr(e6.msg, "conv9.weight"));
    mt_st_free(&st);
    /* truncated file */
    void *buf;
    size_t len;
    assert_int_equal(mt_file_read_all(path, &buf, &len, 0, &e), MT_OK);
    snprintf(bad, sizeof bad, "%s/trunc.safetensors", dir);
    assert_int_equal(mt_file_write_all(bad, buf, len - 100, &e), MT_OK);
    mt_err e3 = {0};
    assert_int_not_equal(mt_model_load(bad, &b, NULL, &e3), MT_OK);
    assert_non_null(strstr(e3.msg, "trunc.safetensors"));
    free(buf);
    /* a safetensors file without materia metadata */
    mt_st_tensor t1;
    memset(&t1, 0, sizeof t1);
    float one = 1.0f;
    t1.name = "x";
    t1.a.dtype = MT_F32;
    t1.a.ndim = 1;
    t1.a.shape[0] = 1;
    t1.a.data = &one;
    snprintf(bad, sizeof bad, "%s/plain.safetensors", dir);
    assert_int_equal(mt_st_write(bad, &t1, 1, NULL, &e), MT_OK);
    mt_err e4 = {0};
    assert_int_equal(mt_model_load(bad, &b, NULL, &e4), MT_ERR_FORMAT);
    assert_non_null(strstr(e4.msg, "not a materia model"));
    /* missing file */
    mt_err e5 = {0};
    assert_int_not_equal(mt_model_load("/nonexistent/m.safetensors", &b, NULL, &e5), MT_OK);
    assert_non_null(strstr(e5.msg, "/nonexistent/m.safetensors"));
    mt_model_free(&a);
    tu_rmrf(dir);
}

/* ---- hooks ---- */

typedef struct hook_log {
    int matmuls, pre, post_bwd;
    float scale;
    int64_t rows_seen[8];
} hook_log;

/* exact product times `scale` */
static mt_status mm_hook(void *ctx, const mt_matmul_call *call, const float *w, const float *x,
                         int64_t rows, int64_t cols, int64_t outs, float *y)
{
    hook_log *h = ctx;
#pragma omp atomic
    h->matmuls++;
    if (call->layer < 8) h->rows_seen[call->layer] = rows;
    for (int64_t o = 0; o < outs; o++)
        for (int64_t c = 0; c < cols; c++) {
            double s = 0;
            for (int64_t r = 0; r < rows; r++) s += (double)w[o * rows + r] * x[r * cols + c];
            y[o * cols + c] = (float)(s * h->scale);
        }
    return MT_OK;
}

static mt_status pre_hook(void *ctx, mt_model *m, int train)
{
    (void)m;
    (void)train;
    ((hook_log *)ctx)->pre++;
    return MT_OK;
}

static mt_status post_hook(void *ctx, mt_model *m)
{
    (void)m;
    ((hook_log *)ctx)->post_bwd++;
    return MT_OK;
}

static void test_hooks(void **state)
{
    (void)state;
    mt_model m;
    mt_err e = {0};
    /* conv (im2col rows = C_in·k = 12), linear (rows = 5·14 = 70) */
    assert_int_equal(mt_model_build(&m, "conv5k4,tanh,fc3", 3, 17, 0, 2, &e), MT_OK);
    float x[2 * 3 * 17];
    for (int i = 0; i < 102; i++) x[i] = cosf(0.3f * i);
    assert_int_equal(mt_model_forward(&m, x, 2, 0, &e), MT_OK);
    float ref[6];
    memcpy(ref, mt_model_output(&m), sizeof ref);
    hook_log h;
    memset(&h, 0, sizeof h);
    h.scale = 1.0f;
    m.hooks.ctx = &h;
    m.hooks.matmul = mm_hook;
    m.hooks.pre_forward = pre_hook;
    m.hooks.post_backward = post_hook;
    assert_int_equal(mt_model_forward(&m, x, 2, 0, &e), MT_OK);
    for (int i = 0; i < 6; i++) assert_true(fabsf(mt_model_output(&m)[i] - ref[i]) < 1e-5f);
    assert_int_equal(h.matmuls, 2 + 1); /* conv once per sample, linear once per batch */
    assert_int_equal(h.rows_seen[0], 12);
    assert_int_equal(h.rows_seen[2], 70);
    assert_int_equal(h.pre, 1);
    /* a hook that changes the product changes the output; a layer marked digital is skipped */
    h.scale = 0.0f;
    assert_int_equal(mt_model_forward(&m, x, 2, 0, &e), MT_OK);
    for (int b = 0; b < 2; b++)
        for (int k = 0; k < 3; k++) assert_true(fabsf(mt_model_output(&m)[b * 3 + k] - m.layers[2].b[k]) < 1e-6f);
    m.layers[0].analog = 0;
    m.layers[2].analog = 0;
    h.matmuls = 0;
    assert_int_equal(mt_model_forward(&m, x, 2, 0, &e), MT_OK);
    assert_int_equal(h.matmuls, 0);
    for (int i = 0; i < 6; i++) assert_true(fabsf(mt_model_output(&m)[i] - ref[i]) < 1e-5f);
    float d[6] = {1, 0, 0, 0, 1, 0};
    assert_int_equal(mt_model_backward(&m, d, &e), MT_OK);
    assert_int_equal(h.post_bwd, 1);
    mt_model_free(&m);

    /* an exact hook gives the same training gradients as the BLAS path (straight-through) */
    mt_model a;
    assert_int_equal(mt_model_build(&a, "conv6k3,bn,tanh,maxpool2,conv4k3p1,bn,relu,gap,fc", 3, 30, 3, 4, &e), MT_OK);
    float xa[4 * 3 * 30], dz[12];
    for (int i = 0; i < 360; i++) xa[i] = sinf(0.7f * i) + 0.1f * (float)(i % 7);
    for (int i = 0; i < 12; i++) dz[i] = (float)((i * 5) % 7) - 3.0f;
    float *g0 = malloc((size_t)a.nparams * sizeof(float));
    for (int pass = 0; pass < 2; pass++) {
        memset(&h, 0, sizeof h);
        h.scale = 1.0f;
        a.hooks.ctx = &h;
        a.hooks.matmul = pass ? mm_hook : NULL;
        assert_int_equal(mt_model_forward(&a, xa, 4, 1, &e), MT_OK);
        a.hooks.matmul = NULL; /* removing the hook before the backward must not matter */
        mt_model_zero_grad(&a);
        assert_int_equal(mt_model_backward(&a, dz, &e), MT_OK);
        if (!pass) memcpy(g0, a.grads, (size_t)a.nparams * sizeof(float));
    }
    assert_int_equal(h.matmuls, 4 + 4 + 1);
    for (int64_t i = 0; i < a.nparams; i++)
        if (fabsf(a.grads[i] - g0[i]) > 1e-4f * (1.0f + fabsf(g0[i])))
            fail_msg("grad %lld with hook %g, without %g", (long long)i, a.grads[i], g0[i]);
    free(g0);
    mt_model_free(&a);
}

/* Same weights, same inputs: batches of different composition give the same eval outputs
 * (BatchNorm uses running statistics in eval). */
static void test_eval_batch_independence(void **state)
{
    (void)state;
    mt_model m;
    build_zoo(&m, "m3", 64, 1984);
    randomise(&m, 5);
    for (int64_t i = 0; i < m.nbuffers; i++) m.buffers[i] = i % 2 ? 1.5f : 0.1f;
    const int64_t per = 64 * 1984;
    float *x = malloc((size_t)(3 * per) * sizeof(float));
    mt_rng r;
    mt_rng_init(&r, 1, 1);
    for (int64_t i = 0; i < 3 * per; i++) x[i] = (float)mt_rng_normal(&r);
    mt_err e = {0};
    assert_int_equal(mt_model_forward(&m, x, 3, 0, &e), MT_OK);
    float all[36];
    memcpy(all, mt_model_output(&m), sizeof all);
    assert_int_equal(mt_model_forward(&m, x + per, 1, 0, &e), MT_OK);
    for (int k = 0; k < 12; k++) assert_true(fabsf(mt_model_output(&m)[k] - all[12 + k]) <= 1e-5f * (1 + fabsf(all[12 + k])));
    free(x);
    mt_model_free(&m);
}

static void test_cli_model_info(void **state)
{
    (void)state;
    char *out;
    int rc = tu_run("model info --model hwa6 --input 64x1984 --json", &out, 0);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "\"params\":\t494988"));
    assert_non_null(strstr(out, "\"macs\":\t118276864"));
    free(out);
    rc = tu_run("model info --model m3 --json", &out, 0);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "\"params\":\t39116"));
    free(out);
    rc = tu_run("model info --model m5raw --input 1x8000", &out, 0);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "93,836 params"));
    free(out);
    rc = tu_run("model list --json", &out, 0);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "\"hwa6\""));
    free(out);
    /* errors: one line naming the problem, non-zero exit */
    rc = tu_run("model info --model hwa7", &out, 1);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(out, "hwa7"));
    free(out);
    rc = tu_run("model info --model hwa6 --input 64by1984", &out, 1);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(out, "--input"));
    free(out);
    rc = tu_run("model info --model 'bn,conv8k3,gap,fc'", &out, 1);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(out, "--input"));
    free(out);
    rc = tu_run("model info --model hwa6 --input 64x20", &out, 1);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(out, "shorter"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paper_counts),
        cmocka_unit_test(test_arch_parsing),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_checkpoint_roundtrip),
        cmocka_unit_test(test_hooks),
        cmocka_unit_test(test_eval_batch_independence),
        cmocka_unit_test(test_cli_model_info),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
