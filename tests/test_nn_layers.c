/* nn layers: finite-difference gradient checks of every layer's backward (optimised and
 * reference kernels, fused and unfused), naive vs optimised kernels, BatchNorm semantics,
 * the tanh approximation and the im2col/col2im adjoint identity. */
#include "testutil.h"

#include <math.h>
#include <omp.h>

#include "materia/nn.h"
#include "materia/rng.h"
#include "nn/nn_impl.h"

/* ---- helpers ---- */

static void fill_uniform(float *x, int64_t n, double lo, double hi, uint64_t seed)
{
    mt_rng r;
    mt_rng_init(&r, seed, 7);
    for (int64_t i = 0; i < n; i++) x[i] = (float)mt_rng_range(&r, lo, hi);
}

/* Values spaced by `gap` in random order, away from 0: no ties for max-pooling, no relu kinks
 * within a finite-difference step. */
static void fill_spaced(float *x, int64_t n, double gap, uint64_t seed)
{
    int *perm = malloc((size_t)n * sizeof *perm);
    for (int64_t i = 0; i < n; i++) perm[i] = (int)i;
    mt_rng r;
    mt_rng_init(&r, seed, 9);
    mt_rng_shuffle_int(&r, perm, (int)n);
    for (int64_t i = 0; i < n; i++) {
        double v = (perm[i] - n / 2.0 + 0.5) * gap;
        x[i] = (float)v;
    }
    free(perm);
}

/* Perturb every parameter a little so that γ ≠ 1, β ≠ 0 and weights are generic. */
static void jitter_params(mt_model *m, uint64_t seed)
{
    mt_rng r;
    mt_rng_init(&r, seed, 3);
    for (int64_t i = 0; i < m->nparams; i++) m->params[i] += (float)mt_rng_range(&r, -0.3, 0.3);
}

/* Losses used by the checks: L = Σ r·y (r = ctx) or the mean NLL (labels = ctx). */
typedef double (*loss_fn)(mt_model *m, const float *x, int64_t B, int train, const void *ctx);

static double proj_loss(mt_model *m, const float *x, int64_t B, int train, const void *ctx)
{
    const float *r = ctx;
    mt_err e = {0};
    assert_int_equal(mt_model_forward(m, x, B, train, &e), MT_OK);
    const float *y = mt_model_output(m);
    int64_t n = B * m->nclasses;
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)r[i] * y[i];
    return s;
}

static double nll_loss(mt_model *m, const float *x, int64_t B, int train, const void *ctx)
{
    mt_err e = {0};
    assert_int_equal(mt_model_forward(m, x, B, train, &e), MT_OK);
    return mt_nll_loss(mt_model_output(m), ctx, B, m->nclasses, NULL, NULL);
}

/* Central difference of the loss in coordinate *v, with step h and h/2.  Returns 0 and sets
 * *fd, or returns 1 when the two disagree (a kink of relu/max-pool within the step: skipped). */
static int central_diff(mt_model *m, float *x, int64_t B, int train, loss_fn f, const void *ctx,
                        float *v, double h, double *fd)
{
    float keep = *v;
    double d[2];
    for (int k = 0; k < 2; k++) {
        double hk = k ? h / 2 : h;
        *v = keep + (float)hk;
        double lp = f(m, x, B, train, ctx);
        *v = keep - (float)hk;
        double lm = f(m, x, B, train, ctx);
        /* the step actually taken in float */
        double step = (double)(keep + (float)hk) - (double)(keep - (float)hk);
        d[k] = (lp - lm) / step;
    }
    *v = keep;
    *fd = d[1];
    return fabs(d[0] - d[1]) > 1e-3 + 5e-3 * fabs(d[1]);
}

/* Compare analytic gradients with finite differences of the loss: parameters (up to maxp,
 * sampled) and input elements (up to maxx).  Returns the worst scaled error (> 1 = failure). */
static double grad_check_loss(mt_model *m, float *x, int64_t B, int train, double h, int maxp,
                              int maxx, loss_fn f, const void *ctx, const float *dout,
                              double abs_tol, const char *what)
{
    mt_err e = {0};
    int64_t nx = B * m->in_c * m->in_t;
    m->input_grad = 1;
    m->step = 5;
    assert_int_equal(mt_model_forward(m, x, B, train, &e), MT_OK);
    mt_model_zero_grad(m);
    assert_int_equal(mt_model_backward(m, dout, &e), MT_OK);
    float *g = malloc((size_t)(m->nparams + 1) * sizeof *g);
    memcpy(g, m->grads, (size_t)m->nparams * sizeof *g);
    float *gx = malloc((size_t)nx * sizeof *gx);
    memcpy(gx, mt_model_input_grad(m), (size_t)nx * sizeof *gx);
    double worst = 0;
    int checked = 0, skipped = 0;
    int64_t stride_p = m->nparams > maxp ? m->nparams / maxp : 1;
    int64_t stride_x = nx > maxx ? nx / maxx : 1;
    for (int pass = 0; pass < 2; pass++) {
        int64_t n = pass ? nx : m->nparams, st = pass ? stride_x : stride_p;
        for (int64_t i = 0; i < n; i += st) {
            double fd;
            float *v = pass ? &x[i] : &m->params[i];
            if (central_diff(m, x, B, train, f, ctx, v, h, &fd)) {
                skipped++;
                continue;
            }
            checked++;
            double a = pass ? gx[i] : g[i];
            double err = fabs(fd - a) / (abs_tol + 2e-2 * fabs(fd));
            if (err > worst) worst = err;
            if (err > 1)
                fprintf(stderr, "%s: %s %lld analytic %.6g fd %.6g\n", what, pass ? "input" : "param",
                        (long long)i, a, fd);
        }
    }
    if (skipped * 5 > checked + skipped) {
        fprintf(stderr, "%s: %d of %d coordinates sit on kinks\n", what, skipped, checked + skipped);
        worst = 1e9;
    }
    m->input_grad = 0;
    free(g);
    free(gx);
    return worst;
}

static double grad_check(mt_model *m, float *x, int64_t B, int train, double h, int maxp, int maxx,
                         const char *what)
{
    int64_t no = B * m->nclasses;
    float *r = malloc((size_t)no * sizeof *r);
    fill_uniform(r, no, -1, 1, 99);
    double w = grad_check_loss(m, x, B, train, h, maxp, maxx, proj_loss, r, r, 2e-3, what);
    free(r);
    return w;
}

/* Build arch on [c, t], batch B; check gradients on both kernel families; spaced input when
 * `spaced` (pooling / relu), else uniform. */
static void check_arch(const char *arch, int64_t c, int64_t t, int64_t B, int spaced, int train)
{
    for (int ref = 0; ref < 2; ref++) {
        mt_model m;
        mt_err e = {0};
        assert_int_equal(mt_model_build(&m, arch, c, t, 3, 11, &e), MT_OK);
        m.reference = ref;
        jitter_params(&m, 5);
        int64_t nx = B * c * t;
        float *x = malloc((size_t)nx * sizeof *x);
        if (spaced) fill_spaced(x, nx, 0.05, 21);
        else fill_uniform(x, nx, -1.5, 1.5, 21);
        if (!train) { /* give BN non-trivial running stats first */
            for (int k = 0; k < 3; k++) assert_int_equal(mt_model_forward(&m, x, B, 1, &e), MT_OK);
        }
        char what[160];
        snprintf(what, sizeof what, "%s (%s, %s)", arch, ref ? "reference" : "optimised", train ? "train" : "eval");
        double worst = grad_check(&m, x, B, train, 5e-3, 60, 60, what);
        if (worst > 1) fail_msg("%s: gradient check failed (worst scaled error %.3g)", what, worst);
        free(x);
        mt_model_free(&m);
    }
}

/* ---- gradient checks, one layer type at a time ---- */

static void test_grad_conv(void **state)
{
    (void)state;
    check_arch("conv5k3", 3, 17, 2, 0, 1);
    check_arch("conv4k3s2p1d2", 3, 20, 3, 0, 1);
    check_arch("conv3k1", 4, 9, 2, 0, 1);          /* direct (no im2col) path */
    check_arch("conv6k4s3p2", 2, 23, 2, 0, 1);
    check_arch("conv2k5p4d3", 2, 11, 9, 0, 1);      /* more samples than NN_CHUNKS */
}

static void test_grad_linear(void **state)
{
    (void)state;
    check_arch("fc5", 3, 4, 3, 0, 1);
    check_arch("fc", 2, 6, 4, 0, 1);
}

static void test_grad_bn(void **state)
{
    (void)state;
    check_arch("bn", 4, 7, 5, 0, 1);  /* batch statistics */
    check_arch("bn", 4, 7, 5, 0, 0);  /* running statistics (eval) */
    check_arch("bn", 3, 1, 6, 0, 1);  /* T = 1 (after gap/fc) */
}

static void test_grad_pool(void **state)
{
    (void)state;
    check_arch("maxpool3", 2, 13, 2, 1, 1);
    check_arch("maxpool3s2", 2, 13, 2, 1, 1);
    check_arch("avgpool3s2", 2, 13, 2, 0, 1);
    check_arch("avgpool4", 3, 9, 2, 0, 1);
    check_arch("gap", 3, 9, 2, 0, 1);
}

static void test_grad_activations(void **state)
{
    (void)state;
    check_arch("tanh", 2, 9, 2, 0, 1);
    check_arch("relu", 2, 9, 2, 1, 1);
    check_arch("swish", 2, 9, 2, 0, 1);
    check_arch("silu", 2, 5, 2, 0, 1);
    check_arch("logsigmoid", 2, 9, 2, 0, 1);
}

static void test_grad_dropout_slice(void **state)
{
    (void)state;
    check_arch("dropout0.3", 3, 8, 2, 0, 1);
    check_arch("dropout0.3", 3, 8, 2, 0, 0);
    check_arch("time1:9:2", 3, 12, 2, 0, 1);
    check_arch("chans1:3", 4, 5, 2, 0, 1);
    check_arch("decimate3", 2, 10, 2, 0, 1);
}

static void test_grad_fused(void **state)
{
    (void)state;
    /* patterns the optimised path fuses (the reference path runs them separately) */
    check_arch("bn,tanh,maxpool4", 3, 16, 3, 1, 1);
    check_arch("bn,tanh,maxpool4", 3, 16, 3, 1, 0);
    check_arch("bn,relu,maxpool2s1", 2, 9, 3, 1, 1);
    check_arch("bn,maxpool3", 2, 12, 3, 1, 1);
    check_arch("tanh,maxpool2", 2, 10, 2, 1, 1);
    check_arch("logsigmoid,maxpool3", 2, 12, 2, 1, 1);
}

/* The fused conv block (conv → bn → act → maxpool) against finite differences, with some BN γ
 * negative so that both pooling directions (max where γ ≥ 0, min where γ < 0) are exercised. */
static void test_grad_convblock(void **state)
{
    (void)state;
    const char *archs[] = {"conv4k3,bn,tanh,maxpool2", "conv4k3p1,bn,relu,maxpool3s2", "conv3k2,bn,maxpool2",
                           "conv4k3s2,bn,logsigmoid,maxpool2"};
    for (int a = 0; a < 4; a++)
        for (int train = 0; train < 2; train++)
            for (int ref = 0; ref < 2; ref++) {
                mt_model m;
                mt_err e = {0};
                assert_int_equal(mt_model_build(&m, archs[a], 2, 24, 0, 11, &e), MT_OK);
                m.reference = ref;
                jitter_params(&m, 5);
                mt_layer *bn = &m.layers[1];
                for (int64_t c = 0; c < bn->nw; c += 2) bn->w[c] = -bn->w[c];
                float x[3 * 2 * 24];
                fill_uniform(x, 3 * 2 * 24, -1.5, 1.5, 21);
                if (!train)
                    for (int k = 0; k < 3; k++) assert_int_equal(mt_model_forward(&m, x, 3, 1, &e), MT_OK);
                char what[96];
                snprintf(what, sizeof what, "%s (%s, %s)", archs[a], ref ? "reference" : "optimised",
                         train ? "train" : "eval");
                double worst = grad_check(&m, x, 3, train, 2e-3, 80, 80, what);
                if (worst > 1) fail_msg("%s: gradient check failed (worst scaled error %.3g)", what, worst);
                mt_model_free(&m);
            }
}

/* A whole network with the NLL loss: analytic gradients of the loss vs finite differences. */
static void test_grad_network_nll(void **state)
{
    (void)state;
    for (int ref = 1; ref >= 0; ref--) {
        mt_model m;
        mt_err e = {0};
        /* smooth layers only: max-pool/relu kinks lie within a finite-difference step of a network
         * this deep (the kinked layers are checked one by one on spaced inputs above) */
        assert_int_equal(mt_model_build(&m, "bn,conv4k3,bn,tanh,avgpool2,conv3k3s2,bn,swish,gap,fc8,tanh,fc",
                                        3, 24, 4, 3, &e), MT_OK);
        m.reference = ref;
        jitter_params(&m, 8);
        const int64_t B = 4;
        float x[4 * 3 * 24];
        fill_uniform(x, B * 3 * 24, -1, 1, 4);
        int32_t lab[4] = {0, 3, 1, 2};
        float dl[16];
        assert_int_equal(mt_model_forward(&m, x, B, 1, &e), MT_OK);
        mt_nll_loss(mt_model_output(&m), lab, B, 4, NULL, dl);
        double worst = grad_check_loss(&m, x, B, 1, 3e-3, 400, 100, nll_loss, lab, dl, 1e-4, "network");
        if (worst > 1) fail_msg("network NLL gradient check failed: worst scaled error %.3g", worst);
        mt_model_free(&m);
    }
}

/* NLL: log-softmax values and gradient against closed form. */
static void test_nll_closed_form(void **state)
{
    (void)state;
    float z[6] = {1.0f, 2.0f, 3.0f, 0.0f, 0.0f, 0.0f};
    int32_t lab[2] = {2, 0};
    float lp[6], d[6];
    double loss = mt_nll_loss(z, lab, 2, 3, lp, d);
    double lse = log(exp(1.0) + exp(2.0) + exp(3.0));
    double want = ((lse - 3.0) + log(3.0)) / 2.0;
    assert_true(fabs(loss - want) < 1e-12);
    assert_true(fabs(lp[0] - (1.0 - lse)) < 1e-6);
    assert_true(fabs(d[2] - (exp(3.0 - lse) - 1.0) / 2.0) < 1e-7);
    assert_true(fabs(d[3] - (1.0 / 3.0 - 1.0) / 2.0) < 1e-7);
}

/* ---- naive vs optimised ---- */

static void compare_paths(const char *arch, int64_t c, int64_t t, int64_t B, int train)
{
    mt_model a, b;
    mt_err e = {0};
    assert_int_equal(mt_model_build(&a, arch, c, t, 5, 3, &e), MT_OK);
    assert_int_equal(mt_model_build(&b, arch, c, t, 5, 3, &e), MT_OK);
    jitter_params(&a, 2);
    assert_int_equal(mt_model_copy_weights(&b, &a, &e), MT_OK);
    b.reference = 1;
    int64_t nx = B * c * t, no = B * a.nclasses;
    float *x = malloc((size_t)nx * sizeof *x), *r = malloc((size_t)no * sizeof *r);
    fill_uniform(x, nx, -2, 2, 17);
    fill_uniform(r, no, -1, 1, 18);
    a.input_grad = b.input_grad = 1;
    assert_int_equal(mt_model_forward(&a, x, B, train, &e), MT_OK);
    assert_int_equal(mt_model_forward(&b, x, B, train, &e), MT_OK);
    const float *ya = mt_model_output(&a), *yb = mt_model_output(&b);
    for (int64_t i = 0; i < no; i++)
        if (fabsf(ya[i] - yb[i]) > 1e-4f * (1.0f + fabsf(yb[i])))
            fail_msg("%s: output %lld optimised %.7g reference %.7g", arch, (long long)i, ya[i], yb[i]);
    mt_model_zero_grad(&a);
    mt_model_zero_grad(&b);
    assert_int_equal(mt_model_backward(&a, r, &e), MT_OK);
    assert_int_equal(mt_model_backward(&b, r, &e), MT_OK);
    double gmax = 0;
    for (int64_t i = 0; i < a.nparams; i++) gmax = fmax(gmax, fabs(b.grads[i]));
    for (int64_t i = 0; i < a.nparams; i++)
        if (fabs(a.grads[i] - b.grads[i]) > 2e-4 * (gmax + 1e-3) + 1e-4 * fabs(b.grads[i]))
            fail_msg("%s: grad %lld optimised %.7g reference %.7g", arch, (long long)i, a.grads[i], b.grads[i]);
    const float *ga = mt_model_input_grad(&a), *gb = mt_model_input_grad(&b);
    double xmax = 0;
    for (int64_t i = 0; i < nx; i++) xmax = fmax(xmax, fabs(gb[i]));
    for (int64_t i = 0; i < nx; i++)
        if (fabs(ga[i] - gb[i]) > 2e-4 * (xmax + 1e-3))
            fail_msg("%s: input grad %lld optimised %.7g reference %.7g", arch, (long long)i, ga[i], gb[i]);
    for (int64_t i = 0; i < a.nbuffers; i++)
        assert_true(fabsf(a.buffers[i] - b.buffers[i]) <= 1e-5f * (1.0f + fabsf(b.buffers[i])));
    free(x);
    free(r);
    mt_model_free(&a);
    mt_model_free(&b);
}

static void test_naive_vs_optimised(void **state)
{
    (void)state;
    compare_paths("conv7k5s2p3d2", 3, 40, 11, 1);
    compare_paths("conv8k8,bn,tanh,maxpool8,conv8k3,bn,tanh,maxpool4,conv8k3,bn,tanh,gap,fc", 6, 180, 10, 1);
    compare_paths("conv8k8,bn,tanh,maxpool8,conv8k3,bn,tanh,maxpool4,conv8k3,bn,tanh,gap,fc", 6, 180, 10, 0);
    compare_paths("decimate2,bn,maxpool2,conv6k3,bn,relu,maxpool2,conv6k1,bn,swish,avgpool2,fc7,logsigmoid,fc",
                  4, 97, 9, 1);
    compare_paths("chans1:4,time3::2,bn,conv5k4p2,tanh,maxpool3s2,dropout0.2,fc", 5, 50, 4, 1);
}

/* ---- BatchNorm semantics (PyTorch): batch stats in train, running stats in eval ---- */

static void test_bn_semantics(void **state)
{
    (void)state;
    for (int ref = 0; ref < 2; ref++) {
        mt_model m;
        mt_err e = {0};
        assert_int_equal(mt_model_build(&m, "bn", 2, 5, 0, 0, &e), MT_OK);
        m.reference = ref;
        mt_layer *L = &m.layers[0];
        L->w[0] = 2.0f;
        L->b[0] = 0.5f;
        L->w[1] = -1.0f;
        L->b[1] = 0.0f;
        const int64_t B = 3;
        float x[3 * 2 * 5];
        for (int i = 0; i < 30; i++) x[i] = (float)((i * 7919) % 23) / 5.0f - 2.0f;
        double mean[2] = {0, 0}, var[2] = {0, 0};
        for (int c = 0; c < 2; c++) {
            for (int b = 0; b < 3; b++)
                for (int t = 0; t < 5; t++) mean[c] += x[(b * 2 + c) * 5 + t];
            mean[c] /= 15;
            for (int b = 0; b < 3; b++)
                for (int t = 0; t < 5; t++) var[c] += pow(x[(b * 2 + c) * 5 + t] - mean[c], 2);
            var[c] /= 15; /* biased */
        }
        assert_int_equal(mt_model_forward(&m, x, B, 1, &e), MT_OK);
        const float *y = mt_model_output(&m);
        for (int c = 0; c < 2; c++)
            for (int b = 0; b < 3; b++)
                for (int t = 0; t < 5; t++) {
                    int i = (b * 2 + c) * 5 + t;
                    double want = (x[i] - mean[c]) / sqrt(var[c] + 1e-5) * L->w[c] + L->b[c];
                    assert_true(fabs(y[i] - want) < 1e-5);
                }
        /* running stats: momentum 0.1, unbiased variance */
        for (int c = 0; c < 2; c++) {
            assert_true(fabs(L->running_mean[c] - 0.1 * mean[c]) < 1e-6);
            assert_true(fabs(L->running_var[c] - (0.9 + 0.1 * var[c] * 15.0 / 14.0)) < 1e-6);
        }
        assert_int_equal(L->num_batches_tracked, 1);
        /* eval: running statistics, batch composition irrelevant */
        assert_int_equal(mt_model_forward(&m, x, 1, 0, &e), MT_OK);
        y = mt_model_output(&m);
        for (int c = 0; c < 2; c++)
            for (int t = 0; t < 5; t++) {
                int i = c * 5 + t;
                double want = (x[i] - L->running_mean[c]) / sqrt(L->running_var[c] + 1e-5) * L->w[c] + L->b[c];
                assert_true(fabs(y[i] - want) < 1e-5);
            }
        assert_int_equal(L->num_batches_tracked, 1);
        mt_model_free(&m);
    }
}

/* ---- element kernels ---- */

static void test_tanh_approximation(void **state)
{
    (void)state;
    double worst = 0;
    for (double v = -20; v <= 20; v += 1.37e-4) {
        float f = (float)v;
        double err = fabs(nn_tanhf(f) - tanh((double)f));
        if (err > worst) worst = err;
    }
    assert_true(worst < 1e-6);
    assert_true(nn_tanhf(0.0f) == 0.0f);
    assert_true(fabsf(nn_tanhf(1e-5f) - 1e-5f) < 1e-11f);
    assert_true(nn_tanhf(30.0f) == 1.0f && nn_tanhf(-30.0f) == -1.0f);
}

/* <im2col(x), c> = <x, col2im(c)> for random x, c (col2im is im2col's adjoint). */
static void test_im2col_adjoint(void **state)
{
    (void)state;
    const char *specs[] = {"conv3k4s2p3d2", "conv2k3", "conv1k5s3p1"};
    for (int s = 0; s < 3; s++) {
        mt_layer L;
        mt_err e = {0};
        assert_int_equal(nn_parse_token(specs[s], &L, 3, 19, 0, 1, &e), MT_OK);
        int64_t nx = L.in_c * L.in_t, nc = L.in_c * L.k * L.out_t;
        float *x = malloc((size_t)nx * 4), *col = malloc((size_t)nc * 4), *c = malloc((size_t)nc * 4),
              *dx = calloc((size_t)nx, 4);
        fill_uniform(x, nx, -1, 1, 1);
        fill_uniform(c, nc, -1, 1, 2);
        nn_im2col(&L, x, col);
        nn_col2im(&L, c, dx);
        double a = 0, b = 0;
        for (int64_t i = 0; i < nc; i++) a += (double)col[i] * c[i];
        for (int64_t i = 0; i < nx; i++) b += (double)x[i] * dx[i];
        assert_true(fabs(a - b) < 1e-4 * (1 + fabs(a)));
        free(x);
        free(col);
        free(c);
        free(dx);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grad_conv),
        cmocka_unit_test(test_grad_linear),
        cmocka_unit_test(test_grad_bn),
        cmocka_unit_test(test_grad_pool),
        cmocka_unit_test(test_grad_activations),
        cmocka_unit_test(test_grad_dropout_slice),
        cmocka_unit_test(test_grad_fused),
        cmocka_unit_test(test_grad_convblock),
        cmocka_unit_test(test_grad_network_nll),
        cmocka_unit_test(test_nll_closed_form),
        cmocka_unit_test(test_naive_vs_optimised),
        cmocka_unit_test(test_bn_semantics),
        cmocka_unit_test(test_tanh_approximation),
        cmocka_unit_test(test_im2col_adjoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
