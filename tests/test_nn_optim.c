/* nn optimisers and schedules: AdamW and SGD against hand-computed updates and against values
 * printed by torch.optim 1.13 for the same inputs; OneCycleLR lr/β1 at known steps (torch values
 * and the closed form); cosine schedule; gradient-norm clipping. */
#include "testutil.h"

#include <math.h>

#include "materia/nn.h"

static const float grads[4][3] = {{0.1f, -0.2f, 0.3f}, {0.05f, 0.1f, -0.3f}, {-0.2f, 0.0f, 0.1f}, {1.0f, -1.0f, 0.5f}};

/* First AdamW step in closed form: m̂ = g, v̂ = g², so p1 = p0(1 − lr·wd) − lr·g/(|g| + eps). */
static void test_adamw_first_step(void **state)
{
    (void)state;
    mt_optim o;
    mt_err e = {0};
    assert_int_equal(mt_optim_init(&o, MT_OPT_ADAMW, 3, &e), MT_OK);
    o.lr = 0.01;
    o.wd = 0.1;
    float p[3] = {0.5f, -1.0f, 2.0f};
    mt_optim_step(&o, p, grads[0]);
    const double p0[3] = {0.5, -1.0, 2.0};
    for (int i = 0; i < 3; i++) {
        double g = grads[0][i];
        double want = p0[i] * (1 - 0.01 * 0.1) - 0.01 * g / (fabs(g) + 1e-8);
        assert_true(fabs(p[i] - want) < 1e-6);
    }
    assert_int_equal(o.t, 1);
    mt_optim_free(&o);
}

/* Four AdamW steps: torch.optim.AdamW([p], lr=0.01, betas=(0.9, 0.999), eps=1e-8,
 * weight_decay=0.1) in float64 gives p = [0.4755038889, -0.9752820562, 1.9765390950]. */
static void test_adamw_vs_torch(void **state)
{
    (void)state;
    mt_optim o;
    mt_err e = {0};
    assert_int_equal(mt_optim_init(&o, MT_OPT_ADAMW, 3, &e), MT_OK);
    o.lr = 0.01;
    o.wd = 0.1;
    float p[3] = {0.5f, -1.0f, 2.0f};
    for (int k = 0; k < 4; k++) mt_optim_step(&o, p, grads[k]);
    const double want[3] = {0.4755038889, -0.9752820562, 1.9765390950};
    for (int i = 0; i < 3; i++) assert_true(fabs(p[i] - want[i]) < 2e-6);
    mt_optim_free(&o);
}

/* SGD momentum 0.9, lr 0.1, no decay: torch gives [0.39006, -0.85832, 1.90913]; also the
 * decoupled weight decay against the hand-computed first two steps. */
static void test_sgd(void **state)
{
    (void)state;
    mt_optim o;
    mt_err e = {0};
    assert_int_equal(mt_optim_init(&o, MT_OPT_SGD, 3, &e), MT_OK);
    o.lr = 0.1;
    o.wd = 0.0;
    o.momentum = 0.9;
    float p[3] = {0.5f, -1.0f, 2.0f};
    for (int k = 0; k < 4; k++) mt_optim_step(&o, p, grads[k]);
    const double want[3] = {0.39006, -0.85832, 1.90913};
    for (int i = 0; i < 3; i++) assert_true(fabs(p[i] - want[i]) < 2e-6);
    mt_optim_free(&o);

    assert_int_equal(mt_optim_init(&o, MT_OPT_SGD, 3, &e), MT_OK);
    o.lr = 0.1;
    o.wd = 0.5;
    o.momentum = 0.9;
    float q[3] = {0.5f, -1.0f, 2.0f};
    mt_optim_step(&o, q, grads[0]);
    mt_optim_step(&o, q, grads[1]);
    const double q0[3] = {0.5, -1.0, 2.0};
    for (int i = 0; i < 3; i++) {
        double q1 = q0[i] * (1 - 0.05) - 0.1 * grads[0][i];
        double buf = 0.9 * grads[0][i] + grads[1][i];
        double q2 = q1 * (1 - 0.05) - 0.1 * buf;
        assert_true(fabs(q[i] - q2) < 1e-6);
    }
    mt_optim_free(&o);
}

/* OneCycleLR(max_lr=0.01, total_steps=100) lr and β1 printed by torch 1.13 before each step. */
static void test_onecycle_vs_torch(void **state)
{
    (void)state;
    mt_sched s;
    mt_sched_init(&s, MT_SCHED_ONECYCLE, 0.01, 100);
    const struct { int step; double lr, mom; } ref[] = {
        {0, 4.000000000000e-04, 9.500000000000e-01},  {10, 2.951639484641e-03, 9.234204220350e-01},
        {28, 9.971862194341e-03, 8.502931021423e-01}, {29, 1.000000000000e-02, 8.500000000000e-01},
        {30, 9.994965352845e-03, 8.500503466729e-01}, {50, 7.938934505757e-03, 8.706107373854e-01},
        {99, 4.000000000000e-08, 9.500000000000e-01},
    };
    for (size_t k = 0; k < sizeof ref / sizeof ref[0]; k++) {
        double lr = -1, mom = -1;
        mt_sched_at(&s, ref[k].step, &lr, &mom);
        assert_true(fabs(lr - ref[k].lr) < 1e-14);
        assert_true(fabs(mom - ref[k].mom) < 1e-10);
    }
}

/* Closed form: phase 1 ends at pct·T − 1 with max lr and base momentum; the final lr is
 * max/div/final_div; lr and β1 move in opposite directions. */
static void test_onecycle_closed_form(void **state)
{
    (void)state;
    mt_sched s;
    const int64_t T = 1000;
    mt_sched_init(&s, MT_SCHED_ONECYCLE, 0.1, T);
    double lr, mom;
    mt_sched_at(&s, 299, &lr, &mom);
    assert_true(fabs(lr - 0.1) < 1e-15 && fabs(mom - 0.85) < 1e-15);
    mt_sched_at(&s, T - 1, &lr, &mom);
    assert_true(fabs(lr - 0.1 / 25 / 1e4) < 1e-18 && fabs(mom - 0.95) < 1e-15);
    /* phase 1 follows the cos annealing from max/25 to max */
    for (int64_t k = 1; k < 299; k += 37) {
        double l, m2;
        mt_sched_at(&s, k, &l, &m2);
        double p = (double)k / 299.0;
        double want = 0.1 + (0.004 - 0.1) / 2 * (cos(M_PI * p) + 1);
        double wantm = 0.85 + (0.95 - 0.85) / 2 * (cos(M_PI * p) + 1);
        assert_true(fabs(l - want) < 1e-15);
        assert_true(fabs(m2 - wantm) < 1e-15);
    }
    /* a constant schedule leaves the momentum alone */
    mt_sched_init(&s, MT_SCHED_CONSTANT, 0.003, T);
    mom = 0.9;
    mt_sched_at(&s, 500, &lr, &mom);
    assert_true(lr == 0.003 && mom == 0.9);
}

/* 100 AdamW steps under OneCycle with cycled β1 (wd 1e-4): torch gives
 * [0.2730629886, -0.7370368719, 1.7809276158] (float64). */
static void test_onecycle_training_vs_torch(void **state)
{
    (void)state;
    mt_optim o;
    mt_err e = {0};
    assert_int_equal(mt_optim_init(&o, MT_OPT_ADAMW, 3, &e), MT_OK);
    o.wd = 1e-4;
    mt_sched s;
    mt_sched_init(&s, MT_SCHED_ONECYCLE, 0.01, 100);
    float p[3] = {0.5f, -1.0f, 2.0f};
    for (int k = 0; k < 100; k++) {
        double lr, mom = o.beta1;
        mt_sched_at(&s, k, &lr, &mom);
        o.lr = lr;
        o.beta1 = mom;
        mt_optim_step(&o, p, grads[k % 4]);
    }
    const double want[3] = {0.2730629886, -0.7370368719, 1.7809276158};
    for (int i = 0; i < 3; i++) assert_true(fabs(p[i] - want[i]) < 2e-5);
    mt_optim_free(&o);
}

static void test_cosine_and_parse(void **state)
{
    (void)state;
    mt_sched s;
    mt_sched_init(&s, MT_SCHED_COSINE, 0.02, 200);
    double lr, mom = 0.5;
    mt_sched_at(&s, 0, &lr, &mom);
    assert_true(fabs(lr - 0.02) < 1e-15);
    mt_sched_at(&s, 100, &lr, &mom);
    assert_true(fabs(lr - 0.01) < 1e-15);
    mt_sched_at(&s, 200, &lr, &mom);
    assert_true(fabs(lr) < 1e-15);
    mt_sched_at(&s, 50, &lr, &mom);
    assert_true(fabs(lr - 0.02 * (1 + cos(M_PI / 4)) / 2) < 1e-15);
    assert_true(mom == 0.5);
    mt_sched_type t;
    mt_err e = {0};
    assert_int_equal(mt_sched_parse("cosine", &t, &e), MT_OK);
    assert_int_equal(t, MT_SCHED_COSINE);
    assert_int_equal(mt_sched_parse("warmup", &t, &e), MT_ERR_ARG);
    assert_non_null(strstr(e.msg, "warmup"));
}

static void test_grad_clip(void **state)
{
    (void)state;
    float g[4] = {3.0f, 0.0f, -4.0f, 0.0f};
    double n = mt_grad_clip(g, 4, 1.0);
    assert_true(fabs(n - 5.0) < 1e-12);
    assert_true(fabs(g[0] - 0.6f) < 1e-6 && fabs(g[2] + 0.8f) < 1e-6);
    float h[2] = {0.3f, 0.4f};
    n = mt_grad_clip(h, 2, 1.0); /* norm 0.5 < 1: unchanged */
    assert_true(fabs(n - 0.5) < 1e-7 && h[0] == 0.3f && h[1] == 0.4f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adamw_first_step),
        cmocka_unit_test(test_adamw_vs_torch),
        cmocka_unit_test(test_sgd),
        cmocka_unit_test(test_onecycle_vs_torch),
        cmocka_unit_test(test_onecycle_closed_form),
        cmocka_unit_test(test_onecycle_training_vs_torch),
        cmocka_unit_test(test_cosine_and_parse),
        cmocka_unit_test(test_grad_clip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
