/* nn training: a 3-class synthetic task trains to > 95 % test accuracy, bit-identical weights
 * at 1 and 2 threads, resume after an interruption gives the same weights as an uninterrupted
 * run, the stratified validation carve, metrics, input validation, and `materia train/eval`. */
#include "testutil_train.h"

#include <math.h>
#include <omp.h>

#include "materia/features.h"
#include "materia/io.h"
#include "materia/nn.h"
#include "materia/rng.h"

#define ARCH "bn,conv8k5,bn,relu,maxpool4,conv8k3,bn,tanh,gap,dropout0.1,fc"

/* Three classes of noisy tones (0.02, 0.05, 0.08 cycles/sample) with random phase, amplitude
 * and per-channel detuning; every 5th item is test (and every 7th validation when with_val). */
static void make_features(mt_features *f, int64_t n, int64_t C, int64_t T, uint64_t seed, int with_val)
{
    mt_err e = {0};
    assert_int_equal(mt_features_alloc(f, n, C, T, &e), MT_OK);
    char *names[3] = {"low", "mid", "high"};
    assert_int_equal(mt_features_set_classes(f, 3, names, &e), MT_OK);
    mt_rng r;
    mt_rng_init(&r, seed, 0);
    for (int64_t i = 0; i < n; i++) {
        int c = (int)(i % 3);
        f->labels[i] = c;
        f->split[i] = i % 5 == 4 ? MT_SPLIT_TEST : (with_val && i % 7 == 3) ? MT_SPLIT_VAL : MT_SPLIT_TRAIN;
        double fr = 0.02 + 0.03 * c, ph = mt_rng_uniform(&r) * 6.283, amp = mt_rng_range(&r, 0.5, 1.5);
        for (int64_t ch = 0; ch < C; ch++)
            for (int64_t t = 0; t < T; t++)
                f->x[(i * C + ch) * T + t] =
                    (float)(amp * sin(2 * M_PI * fr * (1 + 0.05 * (double)ch) * (double)t + ph) + 0.7 * mt_rng_normal(&r));
    }
    f->rate_hz = 1250;
    f->config_json = strdup("{\"frontend\": \"synthetic-tones\"}");
}

static void opts_for_test(mt_train_opts *o, int epochs)
{
    mt_train_opts_default(o);
    o->epochs = epochs;
    o->batch = 16;
    o->lr = 0.01;
    o->seed = 42;
}

static void test_synthetic_task(void **state)
{
    (void)state;
    mt_features f;
    make_features(&f, 300, 4, 96, 1, 0);
    mt_model m;
    mt_err e = {0};
    assert_int_equal(mt_model_build(&m, ARCH, 4, 96, 3, 42, &e), MT_OK);
    mt_train_opts o;
    opts_for_test(&o, 12);
    mt_train_result r;
    if (mt_train(&m, &f, &o, &r, &e)) fail_msg("%s", e.msg);
    assert_int_equal(r.n_test, 60);
    assert_int_equal(r.n_train + r.n_val, 240);
    assert_int_equal(r.n_val, 24); /* 10 % of each class's 80 training items, rounded */
    assert_int_equal(r.nhist, 12);
    assert_true(r.best_epoch >= 1 && r.best_epoch <= 12);
    if (r.test.accuracy <= 0.95) fail_msg("test accuracy %.3f <= 0.95", r.test.accuracy);
    assert_true(r.test.weighted_f1 > 0.9);
    int64_t tot = 0;
    for (int k = 0; k < 9; k++) tot += r.test.confusion[k];
    assert_int_equal(tot, 60);
    /* the best weights are the model's: evaluating again reproduces the test accuracy */
    mt_eval_result ev;
    assert_int_equal(mt_model_evaluate(&m, &f, MT_SPLIT_TEST, 7, &ev, &e), MT_OK);
    assert_true(fabs(ev.accuracy - r.test.accuracy) < 1e-12);
    mt_eval_result_free(&ev);
    mt_train_result_free(&r);
    mt_model_free(&m);
    mt_features_free(&f);
}

/* Train the same run at 1 and at 2 threads: the weights must be bit-identical. */
static void test_determinism_threads(void **state)
{
    (void)state;
    /* large enough that every kernel runs its parallel branch (see PAR_IF in kernels.c) */
    const char *arch = "bn,conv16k5,bn,relu,maxpool4,conv16k3,bn,tanh,gap,dropout0.1,fc";
    mt_features f;
    make_features(&f, 120, 8, 512, 2, 1);
    float *w[2];
    int64_t np = 0;
    int saved = omp_get_max_threads();
    for (int k = 0; k < 2; k++) {
        omp_set_num_threads(k + 1);
        mt_model m;
        mt_err e = {0};
        assert_int_equal(mt_model_build(&m, arch, 8, 512, 3, 7, &e), MT_OK);
        mt_train_opts o;
        opts_for_test(&o, 2);
        o.batch = 13; /* uneven chunks */
        mt_train_result r;
        if (mt_train(&m, &f, &o, &r, &e)) fail_msg("%s", e.msg);
        np = m.nparams;
        w[k] = malloc((size_t)(np + m.nbuffers) * sizeof(float));
        memcpy(w[k], m.params, (size_t)np * sizeof(float));
        memcpy(w[k] + np, m.buffers, (size_t)m.nbuffers * sizeof(float));
        np += m.nbuffers;
        mt_train_result_free(&r);
        mt_model_free(&m);
    }
    omp_set_num_threads(saved);
    assert_memory_equal(w[0], w[1], (size_t)np * sizeof(float));
    free(w[0]);
    free(w[1]);
    mt_features_free(&f);
}

static void test_resume_identical(void **state)
{
    (void)state;
    char dir[64], st[128], snap[128], out1[128], out2[128];
    tu_tmpdir(dir, sizeof dir);
    snprintf(st, sizeof st, "%s/run.state.safetensors", dir);
    snprintf(snap, sizeof snap, "%s/snap.safetensors", dir);
    snprintf(out1, sizeof out1, "%s/a.safetensors", dir);
    snprintf(out2, sizeof out2, "%s/b.safetensors", dir);
    mt_features f;
    make_features(&f, 150, 4, 96, 3, 0);
    mt_err e = {0};
    /* uninterrupted run of 5 epochs, snapshotting the state after epoch 2 */
    mt_model a;
    assert_int_equal(mt_model_build(&a, ARCH, 4, 96, 3, 9, &e), MT_OK);
    mt_train_opts o;
    opts_for_test(&o, 5);
    o.state_path = st;
    o.out_path = out1;
    tu_snap sc = {st, snap, 3};
    o.on_epoch = tu_snap_on_epoch;
    o.ctx = &sc;
    mt_train_result ra;
    if (mt_train(&a, &f, &o, &ra, &e)) fail_msg("%s", e.msg);
    assert_int_equal(ra.resumed_from, 0);
    /* "interrupted" run: the state after epoch 2, resumed by a fresh process-like model */
    tu_copy_file(snap, st);
    mt_model b;
    assert_int_equal(mt_model_build(&b, ARCH, 4, 96, 3, 9, &e), MT_OK);
    o.on_epoch = NULL;
    o.out_path = out2;
    o.resume = 2;
    mt_train_result rb;
    if (mt_train(&b, &f, &o, &rb, &e)) fail_msg("%s", e.msg);
    assert_int_equal(rb.resumed_from, 2);
    assert_int_equal(rb.epochs_run, 3);
    assert_int_equal(rb.nhist, 5);
    assert_int_equal(rb.best_epoch, ra.best_epoch);
    assert_memory_equal(a.params, b.params, (size_t)a.nparams * sizeof(float));
    assert_memory_equal(a.buffers, b.buffers, (size_t)a.nbuffers * sizeof(float));
    assert_true(rb.test.accuracy == ra.test.accuracy);
    /* the two checkpoints hold the same weights */
    mt_model la, lb;
    assert_int_equal(mt_model_load(out1, &la, NULL, &e), MT_OK);
    assert_int_equal(mt_model_load(out2, &lb, NULL, &e), MT_OK);
    assert_memory_equal(la.params, lb.params, (size_t)la.nparams * sizeof(float));
    mt_model_free(&la);
    mt_model_free(&lb);
    /* a state file of another run: resume=2 refuses, resume=1 starts afresh */
    mt_model c;
    assert_int_equal(mt_model_build(&c, ARCH, 4, 96, 3, 9, &e), MT_OK);
    o.lr = 0.02;
    mt_train_result rc;
    mt_err e2 = {0};
    assert_int_equal(mt_train(&c, &f, &o, &rc, &e2), MT_ERR_STATE);
    assert_non_null(strstr(e2.msg, "different run"));
    o.resume = 1;
    o.epochs = 1;
    assert_int_equal(mt_train(&c, &f, &o, &rc, &e), MT_OK);
    assert_int_equal(rc.state_mismatch, 1);
    assert_int_equal(rc.resumed_from, 0);
    mt_train_result_free(&rc);
    mt_model_free(&c);
    mt_train_result_free(&ra);
    mt_train_result_free(&rb);
    mt_model_free(&a);
    mt_model_free(&b);
    mt_features_free(&f);
    tu_rmrf(dir);
}

static void test_input_validation(void **state)
{
    (void)state;
    mt_features f;
    make_features(&f, 60, 4, 96, 4, 0);
    mt_model m;
    mt_err e = {0};
    assert_int_equal(mt_model_build(&m, ARCH, 4, 96, 3, 1, &e), MT_OK);
    mt_train_opts o;
    opts_for_test(&o, 1);
    mt_train_result r;
    /* NaN in one utterance */
    f.x[17 * 4 * 96 + 5] = NAN;
    assert_int_equal(mt_train(&m, &f, &o, &r, &e), MT_ERR_DATA);
    assert_non_null(strstr(e.msg, "item 17"));
    assert_non_null(strstr(e.msg, "NaN"));
    f.x[17 * 4 * 96 + 5] = 0;
    /* a class without training items */
    for (int64_t i = 0; i < f.n; i++)
        if (f.labels[i] == 2) f.split[i] = MT_SPLIT_TEST;
    assert_int_equal(mt_train(&m, &f, &o, &r, &e), MT_ERR_DATA);
    assert_non_null(strstr(e.msg, "'high'"));
    for (int64_t i = 0; i < f.n; i++) f.split[i] = i % 5 == 4 ? MT_SPLIT_TEST : MT_SPLIT_TRAIN;
    /* label out of range */
    f.labels[3] = 7;
    assert_int_equal(mt_train(&m, &f, &o, &r, &e), MT_ERR_DATA);
    assert_non_null(strstr(e.msg, "label 7"));
    f.labels[3] = 0;
    mt_model_free(&m);
    /* shape mismatch */
    assert_int_equal(mt_model_build(&m, ARCH, 4, 100, 3, 1, &e), MT_OK);
    assert_int_equal(mt_train(&m, &f, &o, &r, &e), MT_ERR_DATA);
    assert_non_null(strstr(e.msg, "4x96"));
    assert_non_null(strstr(e.msg, "4x100"));
    mt_model_free(&m);
    /* class count mismatch */
    assert_int_equal(mt_model_build(&m, ARCH, 4, 96, 5, 1, &e), MT_OK);
    assert_int_equal(mt_train(&m, &f, &o, &r, &e), MT_ERR_DATA);
    assert_non_null(strstr(e.msg, "classes"));
    mt_model_free(&m);
    mt_features_free(&f);
}

/* Metrics against a hand-worked example (sklearn's weighted F1). */
static void test_metrics(void **state)
{
    (void)state;
    const int32_t y[8] = {0, 0, 0, 1, 1, 2, 2, 2}, p[8] = {0, 0, 1, 1, 1, 2, 0, 2};
    mt_eval_result r;
    mt_err e = {0};
    assert_int_equal(mt_eval_metrics(p, y, 8, 3, &r, &e), MT_OK);
    assert_true(fabs(r.accuracy - 6.0 / 8) < 1e-12);
    /* class 0: P 2/3 R 2/3; class 1: P 2/3 R 1; class 2: P 1 R 2/3 */
    double f0 = 2.0 / 3, f1 = 2 * (2.0 / 3) / (2.0 / 3 + 1), f2 = f1;
    assert_true(fabs(r.f1[0] - f0) < 1e-12 && fabs(r.f1[1] - f1) < 1e-12 && fabs(r.f1[2] - f2) < 1e-12);
    assert_true(fabs(r.weighted_f1 - (3 * f0 + 2 * f1 + 3 * f2) / 8) < 1e-12);
    assert_true(fabs(r.recall[1] - 1.0) < 1e-12);
    assert_int_equal(r.confusion[0 * 3 + 1], 1);
    assert_int_equal(r.confusion[2 * 3 + 0], 1);
    mt_eval_result_free(&r);
}

static void test_cli_train_eval(void **state)
{
    (void)state;
    char dir[64], feat[128], model[160], args[1024];
    tu_tmpdir(dir, sizeof dir);
    snprintf(feat, sizeof feat, "%s/f.npy", dir);
    snprintf(model, sizeof model, "%s/m.safetensors", dir);
    mt_features f;
    make_features(&f, 240, 4, 96, 5, 0);
    mt_err e = {0};
    assert_int_equal(mt_features_save(&f, feat, &e), MT_OK);
    char *out;
    snprintf(args, sizeof args, "train --features %s --model '%s' --epochs 12 --batch 16 --out %s --json --quiet",
             feat, ARCH, model);
    int rc = tu_run(args, &out, 0);
    if (rc != 0) fail_msg("train failed (%d): %s", rc, out);
    char *acc = strstr(out, "\"accuracy\":");
    assert_non_null(acc);
    double a = atof(acc + strlen("\"accuracy\":"));
    assert_true(a > 0.9);
    assert_non_null(strstr(out, "\"weighted_f1\""));
    assert_non_null(strstr(out, "\"confusion\""));
    assert_non_null(strstr(out, "\"per_class_recall\""));
    assert_non_null(strstr(out, "\"best_epoch\""));
    assert_non_null(strstr(out, "\"timings\""));
    assert_non_null(strstr(out, "\"evaluated_on\":\t\"test\""));
    free(out);
    /* the state file is removed after a completed run */
    char st[200];
    snprintf(st, sizeof st, "%s/m.state.safetensors", dir);
    assert_int_not_equal(access(st, F_OK), 0);
    /* eval reproduces the test accuracy */
    snprintf(args, sizeof args, "eval --model %s --features %s --json", model, feat);
    rc = tu_run(args, &out, 0);
    assert_int_equal(rc, 0);
    char *acc2 = strstr(out, "\"accuracy\":");
    assert_non_null(acc2);
    assert_true(fabs(atof(acc2 + strlen("\"accuracy\":")) - a) < 1e-9);
    assert_non_null(strstr(out, "\"split\":\t\"test\""));
    free(out);
    /* the model's metadata carries arch, classes and the feature config */
    mt_safetensors sf;
    assert_int_equal(mt_st_read(model, &sf, &e), MT_OK);
    char *meta = mt_st_meta_get(&sf, "materia");
    assert_non_null(meta);
    assert_non_null(strstr(meta, "synthetic-tones"));
    assert_non_null(strstr(meta, "\"class_names\":[\"low\",\"mid\",\"high\"]"));
    assert_non_null(strstr(meta, "\"val_accuracy\""));
    free(meta);
    mt_st_free(&sf);
    /* errors: bad flag values, missing files, wrong model for the features */
    snprintf(args, sizeof args, "train --features %s --model m3 --out %s/x.safetensors --epochs 0", feat, dir);
    rc = tu_run(args, &out, 1);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(out, "--epochs"));
    free(out);
    snprintf(args, sizeof args, "train --features %s/none.npy --model m3 --out %s/x.safetensors", dir, dir);
    rc = tu_run(args, &out, 1);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(out, "none.npy"));
    free(out);
    snprintf(args, sizeof args, "train --features %s --model m3 --out %s/x.safetensors --quiet", feat, dir);
    rc = tu_run(args, &out, 1);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(out, "m3"));
    free(out);
    snprintf(st, sizeof st, "%s/x.safetensors", dir);
    assert_int_not_equal(access(st, F_OK), 0); /* no partial output */
    snprintf(args, sizeof args, "eval --model %s/none.safetensors --features %s", dir, feat);
    rc = tu_run(args, &out, 1);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(out, "none.safetensors"));
    free(out);
    snprintf(args, sizeof args, "eval --model %s --features %s --split dev", model, feat);
    rc = tu_run(args, &out, 1);
    assert_int_equal(rc, 2);
    free(out);
    /* class names that differ from the model's are refused */
    free(f.classes[1]);
    f.classes[1] = strdup("middle");
    assert_int_equal(mt_features_save(&f, feat, &e), MT_OK);
    snprintf(args, sizeof args, "eval --model %s --features %s", model, feat);
    rc = tu_run(args, &out, 1);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(out, "middle"));
    free(out);
    mt_features_free(&f);
    tu_rmrf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_synthetic_task),
        cmocka_unit_test(test_determinism_threads),
        cmocka_unit_test(test_resume_identical),
        cmocka_unit_test(test_input_validation),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_cli_train_eval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
