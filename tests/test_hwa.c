/* Hardware-aware training (materia/hwa.h): finite-difference checks of every gradient of the HWA
 * network (weights, biases, BatchNorm before and between analog layers, the exact input-range
 * derivative), closed-form checks of the aihwkit-lightning input-range rule, of the straight-
 * through quantiser and of the clip mask, weight- and output-noise statistics per row, weight
 * clipping (the function and inside the trainer), data initialisation of the ranges, eval mode =
 * the quantised digital model (= the mt_hwa_matmul hook), reference = optimised kernels,
 * determinism across thread counts, metadata round trip, a small end-to-end run, and resume:
 * an interrupted run continues bit-identically, a state of another run is ignored or refused,
 * and `materia train --hwa` keeps, removes and resumes its state file. */
#include "testutil_train.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <omp.h>

#include "aimc/hwa_impl.h"
#include "materia/hwa.h"
#include "materia/io.h"
#include "materia/nn.h"
#include "materia/rng.h"

static void build(mt_model *m, const char *arch, int64_t c, int64_t t, int nc, uint64_t seed)
{
    mt_err e = {0};
    memset(m, 0, sizeof *m);
    if (mt_model_build(m, arch, c, t, nc, seed, &e)) fail_msg("build %s: %s", arch, e.msg);
}

static float *randn(int64_t n, uint64_t seed, double sd)
{
    float *x = malloc((size_t)n * sizeof *x);
    mt_rng r;
    mt_rng_init(&r, seed, 7);
    for (int64_t i = 0; i < n; i++) x[i] = (float)(sd * mt_rng_normal(&r));
    return x;
}

/* Options without noise and quantisation: a function of the parameters that is smooth apart
 * from the clamp kinks (for finite differences). */
static void smooth_opts(mt_hwa_opts *o)
{
    mt_hwa_opts_default(o);
    o->weight_noise = 0;
    o->out_noise = 0;
    o->inp_bits = 0;
    o->ir_init_batches = 0;
    o->ir_decay = 0;
}

static mt_hwa_net *net_new(mt_model *m, const mt_hwa_opts *o, uint64_t seed)
{
    mt_err e = {0};
    mt_hwa_net *h = NULL;
    if (mt_hwa_net_new(&h, m, o, seed, &e)) fail_msg("net: %s", e.msg);
    return h;
}

static double net_loss(mt_hwa_net *h, const float *x, int64_t B, int train, const int32_t *lab, float *dlog)
{
    mt_err e = {0};
    if (mt_hwa_net_forward(h, x, B, train, &e)) fail_msg("forward: %s", e.msg);
    return mt_nll_loss(mt_hwa_net_output(h), lab, B, h->m->nclasses, NULL, dlog);
}

/* Central difference in *v with step h/4.  Returns 1 (a clamp/activation kink nearby: skipped)
 * when the one-sided slopes on either side, or the central estimates at h, h/2, h/4, disagree;
 * one-sided slopes catch a kink however close it lies to the evaluation point. */
static int central(mt_hwa_net *n, const float *x, int64_t B, int train, const int32_t *lab, float *v,
                   double h, double *fd)
{
    float keep = *v;
    double f0 = net_loss(n, x, B, train, lab, NULL);
    double d[3];
    int kink = 0;
    for (int k = 0; k < 3; k++) {
        double hk = h / (double)(1 << k);
        float vp = keep + (float)hk, vm = keep - (float)hk;
        *v = vp;
        double lp = net_loss(n, x, B, train, lab, NULL);
        *v = vm;
        double lm = net_loss(n, x, B, train, lab, NULL);
        d[k] = (lp - lm) / ((double)vp - (double)vm);
        double right = (lp - f0) / ((double)vp - (double)keep), left = (f0 - lm) / ((double)keep - (double)vm);
        /* at the largest step (float noise of the slopes ~ 1e-6/h): a jump of the slope */
        if (k == 0) kink |= fabs(right - left) > 1.5e-3 + 2e-2 * fabs(d[k]);
    }
    *v = keep;
    *fd = d[2];
    return kink || fabs(d[0] - d[2]) > 3e-3 + 2e-2 * fabs(d[2]) || fabs(d[1] - d[2]) > 3e-3 + 2e-2 * fabs(d[2]);
}

/* Every analytic gradient of the net (parameters, exact range derivative) against finite
 * differences; ranges are set to 0.4 of their data initialisation so that inputs clip. */
static void fd_check(const char *arch, int64_t C, int64_t T, int nc, int train, double out_bound)
{
    mt_model m;
    build(&m, arch, C, T, nc, 11);
    const int64_t B = 4;
    float *x = randn(B * C * T, 3, 1.0);
    int32_t lab[4] = {0, 1, 2, 1};
    mt_hwa_opts o;
    smooth_opts(&o);
    o.ir_init_batches = 1;
    o.out_bound = out_bound; /* ADC clamp (no rounding): no gradient where it cuts */
    mt_hwa_net *h = net_new(&m, &o, 5);
    net_loss(h, x, B, 1, lab, NULL); /* data init of every range */
    float *ir = mt_hwa_net_ranges(h);
    int nr = 0;
    for (int l = 0; l < m.nlayers; l++)
        if (ir[l] > 0) {
            assert_int_equal(mt_hwa_net_range_updates(h, l), 1);
            ir[l] *= 0.4f;
            nr++;
        }
    assert_true(nr >= 2);
    h->o.ir_init_batches = 0; /* ranges fixed from now on */
    float *dlog = malloc((size_t)(B * nc) * sizeof *dlog);
    net_loss(h, x, B, train, lab, dlog);
    mt_hwa_net_zero_grad(h);
    mt_err e = {0};
    assert_int_equal(mt_hwa_net_backward(h, dlog, &e), MT_OK);
    if (out_bound > 0) { /* the bound really cut some outputs */
        int64_t cut = 0;
        for (int i = 0; i < h->nstages; i++) {
            const hwa_stage *s = &h->stages[i];
            if (s->analog)
                for (int64_t k = 0; k < B * s->outs * s->To; k++) cut += s->oclip[k] != 0;
        }
        assert_true(cut > 0);
    }
    float *g = malloc((size_t)m.nparams * sizeof *g);
    memcpy(g, m.grads, (size_t)m.nparams * sizeof *g);
    double *gir = malloc((size_t)m.nlayers * sizeof *gir);
    memcpy(gir, mt_hwa_net_range_grads_exact(h), (size_t)m.nlayers * sizeof *gir);
    double worst = 0;
    int checked = 0, skipped = 0, nonzero_ir = 0;
    int64_t stride = m.nparams > 300 ? m.nparams / 300 : 1;
    for (int64_t i = 0; i < m.nparams; i += stride) {
        double fd;
        if (central(h, x, B, train, lab, &m.params[i], 2e-3, &fd)) {
            skipped++;
            continue;
        }
        checked++;
        double err = fabs(fd - g[i]) / (2e-3 + 2e-2 * fabs(fd));
        if (err > 1) fprintf(stderr, "%s: param %lld analytic %.6g fd %.6g\n", arch, (long long)i, g[i], fd);
        if (err > worst) worst = err;
    }
    for (int l = 0; l < m.nlayers; l++) {
        if (!(ir[l] > 0)) continue;
        double fd;
        if (central(h, x, B, train, lab, &ir[l], 1e-3 * ir[l], &fd)) {
            skipped++;
            continue;
        }
        checked++;
        nonzero_ir += fabs(gir[l]) > 1e-4;
        double err = fabs(fd - gir[l]) / (2e-3 + 2e-2 * fabs(fd));
        if (err > 1) fprintf(stderr, "%s: range of layer %d analytic %.6g fd %.6g\n", arch, l, gir[l], fd);
        if (err > worst) worst = err;
    }
    assert_true(skipped * 5 <= checked + skipped);
    assert_true(nonzero_ir >= 1); /* clipping really happened and mattered */
    assert_true(worst <= 1.0);
    free(g), free(gir), free(dlog), free(x);
    mt_hwa_net_free(h);
    mt_model_free(&m);
}

static void test_fd_gradients(void **st)
{
    (void)st;
    /* a digital BatchNorm before the first analog conv, BN/tanh/pool runs between analog layers */
    fd_check("bn,conv4k3,bn,tanh,maxpool2,conv5k3,tanh,gap,fc3", 3, 20, 3, 1, 0);
    /* analog layer first, eval-mode BatchNorm, strided/padded/dilated conv, two linears in a row */
    fd_check("conv6k3s2p1,bn,tanh,conv4k2d2,tanh,fc5,fc3", 2, 17, 3, 0, 0);
    /* with the ADC bound cutting some outputs (bound = 0.6·wmax·IR) */
    fd_check("bn,conv4k3,bn,tanh,maxpool2,conv5k3,tanh,gap,fc3", 3, 20, 3, 1, 0.6);
}

/* With weight noise (per sample) and output noise on, the network is a deterministic function
 * of the parameters once the forward counter is fixed: finite differences then check that the
 * backward uses each sample's own draw.  Skipped: each row's max |w| (the noise scales with it;
 * like aihwkit-lightning the noise passes no gradient to it). */
static uint64_t fixed_fid;
static double loss_fixed(mt_hwa_net *h, const float *x, int64_t B, const int32_t *lab, float *dlog)
{
    h->forward_id = fixed_fid - 1;
    return net_loss(h, x, B, 1, lab, dlog);
}

static void test_fd_with_noise(void **st)
{
    (void)st;
    mt_model m;
    build(&m, "bn,conv4k3,bn,tanh,maxpool2,conv5k3,tanh,gap,fc3", 3, 20, 3, 21);
    const int64_t B = 4;
    float *x = randn(B * 60, 31, 1.0);
    int32_t lab[4] = {2, 0, 1, 1};
    mt_hwa_opts o;
    mt_hwa_opts_default(&o);
    o.inp_bits = 0;
    o.ir_init_batches = 0;
    o.ir_decay = 0;
    mt_hwa_net *h = net_new(&m, &o, 5);
    fixed_fid = 40;
    float dlog[12];
    loss_fixed(h, x, B, lab, dlog);
    mt_hwa_net_zero_grad(h);
    mt_err e = {0};
    assert_int_equal(mt_hwa_net_backward(h, dlog, &e), MT_OK);
    float *g = malloc((size_t)m.nparams * sizeof *g);
    memcpy(g, m.grads, (size_t)m.nparams * sizeof *g);
    /* the noise matters: a second draw changes the loss */
    double l0 = loss_fixed(h, x, B, lab, NULL);
    fixed_fid = 41;
    assert_true(fabs(loss_fixed(h, x, B, lab, NULL) - l0) > 1e-4);
    fixed_fid = 40;
    double worst = 0;
    int checked = 0, skipped = 0;
    for (int64_t i = 0; i < m.nparams; i++) {
        int is_max = 0;
        for (int l = 0; l < m.nlayers; l++) {
            mt_layer *L = &m.layers[l];
            if (!hwa_is_analog(L) || i < L->w - m.params || i >= L->w - m.params + L->nw) continue;
            int64_t R, To, outs, k = i - (L->w - m.params);
            hwa_layer_shape(L, &R, &To, &outs);
            const float *row = L->w + (k / R) * R;
            for (int64_t j = 0; j < R; j++) is_max |= j != k % R && fabsf(row[j]) >= fabsf(row[k % R]);
            is_max = !is_max;
        }
        if (is_max) continue;
        float keep = m.params[i];
        double d[2];
        for (int q = 0; q < 2; q++) {
            double hk = q ? 1e-3 : 2e-3;
            m.params[i] = keep + (float)hk;
            double lp = loss_fixed(h, x, B, lab, NULL);
            m.params[i] = keep - (float)hk;
            double lm = loss_fixed(h, x, B, lab, NULL);
            d[q] = (lp - lm) / ((double)(keep + (float)hk) - (double)(keep - (float)hk));
        }
        m.params[i] = keep;
        if (fabs(d[0] - d[1]) > 3e-3 + 2e-2 * fabs(d[1])) {
            skipped++;
            continue;
        }
        checked++;
        double err = fabs(d[1] - g[i]) / (2e-3 + 2e-2 * fabs(d[1]));
        if (err > 1) fprintf(stderr, "noisy: param %lld analytic %.6g fd %.6g\n", (long long)i, g[i], d[1]);
        worst = fmax(worst, err);
    }
    assert_true(checked > 100 && skipped * 5 <= checked + skipped);
    assert_true(worst <= 1.0);
    free(g), free(x);
    mt_hwa_net_free(h);
    mt_model_free(&m);
}

/* One linear layer "fc3" on 6 inputs, no noise: the lightning range rule, the STE weight gradient
 * (dW = dy·Q(x)ᵀ) and db in closed form, for both branches of the decay term. */
static void test_range_rule_closed_form(void **st)
{
    (void)st;
    for (int branch = 0; branch < 2; branch++) {
        mt_model m;
        build(&m, "fc3", 1, 6, 3, 2);
        const int64_t B = 5, N = 6;
        float *x = randn(B * N, 9 + (uint64_t)branch, 1.0);
        float *c = randn(B * 3, 13, 1.0);
        mt_hwa_opts o;
        mt_hwa_opts_default(&o);
        o.weight_noise = o.out_noise = 0;
        o.ir_init_batches = 0;
        o.ir_decay = 0.15;
        o.ir_min_pct = 0.95;
        mt_hwa_net *h = net_new(&m, &o, 1);
        /* branch 0: a wide range, nothing clips -> decay term; branch 1: ~1/3 clip -> none */
        float IR = branch ? 0.9f : 10.0f;
        mt_hwa_net_ranges(h)[0] = IR;
        mt_err e = {0};
        assert_int_equal(mt_hwa_net_forward(h, x, B, 1, &e), MT_OK);
        mt_hwa_net_zero_grad(h);
        assert_int_equal(mt_hwa_net_backward(h, c, &e), MT_OK);
        const mt_layer *L = &m.layers[0];
        double up = 0, dn = 0, ex = 0, clipped = 0, L127 = 127.0;
        for (int64_t b = 0; b < B; b++)
            for (int64_t j = 0; j < N; j++) {
                double g = 0;
                for (int k = 0; k < 3; k++) g += (double)c[b * 3 + k] * L->w[k * N + j];
                double v = x[b * N + j];
                if (v >= IR) up += fmin(g, 0), ex += g, clipped++;
                if (v <= -IR) dn += fmax(g, 0), ex -= g, clipped++;
            }
        double want = IR * (up - dn);
        if (1.0 - clipped / (double)(B * N) > 0.95) want += 0.15 * IR;
        if (branch) assert_true(clipped >= 3);
        else assert_true(clipped == 0);
        assert_true(fabs(mt_hwa_net_range_grads(h)[0] - want) < 1e-5 * (1 + fabs(want)));
        assert_true(fabs(mt_hwa_net_range_grads_exact(h)[0] - ex) < 1e-5 * (1 + fabs(ex)));
        /* dW[k, j] = Σ_b c[b,k]·Q(x[b,j]) with Q = clip + 8-bit rounding (straight-through) */
        for (int k = 0; k < 3; k++) {
            double db = 0;
            for (int64_t b = 0; b < B; b++) db += c[b * 3 + k];
            assert_true(fabs(L->db[k] - db) < 1e-5);
            for (int64_t j = 0; j < N; j++) {
                double dw = 0;
                for (int64_t b = 0; b < B; b++) {
                    double v = fmax(-IR, fmin(IR, (double)x[b * N + j]));
                    double d = IR / L127;
                    dw += c[b * 3 + k] * rint(v / d) * d;
                }
                assert_true(fabs(L->dw[k * N + j] - dw) < 1e-5);
            }
        }
        free(x), free(c);
        mt_hwa_net_free(h);
        mt_model_free(&m);
    }
}

/* The input gradient through the quantiser is straight-through and zero beyond ±IR: "bn,fc3"
 * in eval mode (BN = x/√(1+eps) at init), so dβ and dγ are closed-form sums of that gradient. */
static void test_ste_and_clip_mask(void **st)
{
    (void)st;
    mt_model m;
    build(&m, "bn,fc3", 2, 3, 3, 4);
    const int64_t B = 6, C = 2, T = 3, N = C * T;
    float *x = randn(B * N, 21, 1.0);
    float *c = randn(B * 3, 22, 1.0);
    mt_hwa_opts o;
    mt_hwa_opts_default(&o);
    o.weight_noise = o.out_noise = 0;
    o.ir_init_batches = 0;
    mt_hwa_net *h = net_new(&m, &o, 1);
    const int fc = 1;
    const float IR = 0.8f;
    mt_hwa_net_ranges(h)[fc] = IR;
    mt_err e = {0};
    assert_int_equal(mt_hwa_net_forward(h, x, B, 0, &e), MT_OK);
    mt_hwa_net_zero_grad(h);
    assert_int_equal(mt_hwa_net_backward(h, c, &e), MT_OK);
    const mt_layer *bn = &m.layers[0], *L = &m.layers[fc];
    double s = 1.0 / sqrt(1.0 + (double)bn->bn_eps);
    int masked = 0;
    for (int64_t ch = 0; ch < C; ch++) {
        double dbeta = 0, dgamma = 0;
        for (int64_t b = 0; b < B; b++)
            for (int64_t t = 0; t < T; t++) {
                int64_t j = ch * T + t;
                double xh = x[b * N + j] * s;
                double g = 0;
                for (int k = 0; k < 3; k++) g += (double)c[b * 3 + k] * L->w[k * N + j];
                if (fabs(xh) > IR) {
                    g = 0;
                    masked++;
                }
                dbeta += g;
                dgamma += g * xh;
            }
        assert_true(fabs(bn->db[ch] - dbeta) < 1e-5);
        assert_true(fabs(bn->dw[ch] - dgamma) < 1e-5);
    }
    assert_true(masked >= 3);
    free(x), free(c);
    mt_hwa_net_free(h);
    mt_model_free(&m);
}

/* Weight noise: per row σ = 0.12·max|w_row|, mean 0, fresh every forward, reproducible by seed
 * (shared by the batch: the draw itself; per sample: through the outputs of one-hot inputs).
 * Output noise: σ = out_noise·wmax·IR per output. */
static void test_noise_statistics(void **st)
{
    (void)st;
    mt_model m;
    build(&m, "fc4", 1, 3000, 4, 8);
    mt_layer *L = &m.layers[0];
    for (int64_t j = 0; j < 3000; j++) L->w[1 * 3000 + j] *= 4.0f; /* rows with different max |w| */
    for (int64_t j = 0; j < 3000; j++) L->w[3 * 3000 + j] *= 0.25f;
    mt_hwa_opts o;
    mt_hwa_opts_default(&o);
    o.noise_per_sample = 0;
    o.out_noise = 0;
    o.ir_init_batches = 0;
    mt_hwa_net *h = net_new(&m, &o, 77);
    float *x = randn(2 * 3000, 1, 1.0);
    mt_err e = {0};
    assert_int_equal(mt_hwa_net_forward(h, x, 2, 1, &e), MT_OK);
    hwa_stage *s = &h->stages[0];
    assert_true(s->analog);
    float *first = malloc(4 * 3000 * sizeof *first);
    memcpy(first, s->wn, 4 * 3000 * sizeof *first);
    for (int o2 = 0; o2 < 4; o2++) {
        double wm = 0, s1 = 0, s2 = 0;
        for (int64_t j = 0; j < 3000; j++) wm = fmax(wm, fabs(L->w[o2 * 3000 + j]));
        for (int64_t j = 0; j < 3000; j++) {
            double d = (double)s->wn[o2 * 3000 + j] - L->w[o2 * 3000 + j];
            s1 += d;
            s2 += d * d;
        }
        double mean = s1 / 3000, sd = sqrt(s2 / 3000 - mean * mean);
        assert_true(fabs(sd / (0.12 * wm) - 1) < 0.06);
        assert_true(fabs(mean) < 4 * 0.12 * wm / sqrt(3000.0));
    }
    /* fresh per forward */
    assert_int_equal(mt_hwa_net_forward(h, x, 2, 1, &e), MT_OK);
    int diff = 0;
    for (int64_t k = 0; k < 4 * 3000; k++) diff += s->wn[k] != first[k];
    assert_true(diff > 4 * 3000 * 9 / 10);
    /* eval: clean weights */
    assert_int_equal(mt_hwa_net_forward(h, x, 2, 0, &e), MT_OK);
    assert_memory_equal(s->wn, L->w, 4 * 3000 * sizeof(float));
    /* same seed, same forward count: same draws */
    mt_hwa_net *h2 = net_new(&m, &o, 77);
    assert_int_equal(mt_hwa_net_forward(h2, x, 2, 1, &e), MT_OK);
    assert_memory_equal(h2->stages[0].wn, first, 4 * 3000 * sizeof(float));
    mt_hwa_net_free(h2);
    mt_hwa_net_free(h);
    free(first);
    free(x);
    mt_model_free(&m);

    /* per sample: B one-hot inputs x_j = 1 (IR 2): y_b,o − b_o = W'_b[o, j]·Q(1), independent
     * draws per sample with σ = 0.12·wmax_o·Q(1) */
    build(&m, "fc3", 1, 40, 3, 10);
    for (int64_t j = 0; j < 40; j++) m.layers[0].w[2 * 40 + j] *= 3.0f;
    mt_hwa_opts_default(&o);
    o.out_noise = 0;
    o.ir_init_batches = 0;
    h = net_new(&m, &o, 5);
    mt_hwa_net_ranges(h)[0] = 2.0f;
    const int64_t Bs = 3000, jj = 7;
    float *oh = calloc((size_t)(Bs * 40), sizeof *oh);
    for (int64_t b = 0; b < Bs; b++) oh[b * 40 + jj] = 1.0f;
    assert_int_equal(mt_hwa_net_forward(h, oh, Bs, 1, &e), MT_OK);
    double q1 = rint(1.0 / (2.0 / 127)) * (2.0 / 127);
    for (int k = 0; k < 3; k++) {
        const float *w = m.layers[0].w + k * 40;
        double wm = 0, s1 = 0, s2 = 0;
        for (int j = 0; j < 40; j++) wm = fmax(wm, fabs(w[j]));
        for (int64_t b = 0; b < Bs; b++) {
            double d = (mt_hwa_net_output(h)[b * 3 + k] - m.layers[0].b[k]) / q1 - w[jj];
            s1 += d;
            s2 += d * d;
        }
        double mean = s1 / Bs, sd = sqrt(s2 / Bs - mean * mean);
        assert_true(fabs(sd / (0.12 * wm) - 1) < 0.06);
        assert_true(fabs(mean) < 4 * 0.12 * wm / sqrt((double)Bs));
    }
    free(oh);
    mt_hwa_net_free(h);
    mt_model_free(&m);

    /* output noise on zero inputs: y = bias + out_noise·wmax_i·IR·N */
    build(&m, "fc3", 1, 5, 3, 9);
    mt_hwa_opts_default(&o);
    o.weight_noise = 0;
    o.ir_init_batches = 0;
    h = net_new(&m, &o, 3);
    mt_hwa_net_ranges(h)[0] = 2.0f;
    const int64_t B = 4000;
    float *z = calloc((size_t)(B * 5), sizeof *z);
    assert_int_equal(mt_hwa_net_forward(h, z, B, 1, &e), MT_OK);
    const float *y = mt_hwa_net_output(h);
    for (int k = 0; k < 3; k++) {
        double wm = 0, s1 = 0, s2 = 0;
        for (int j = 0; j < 5; j++) wm = fmax(wm, fabs(m.layers[0].w[k * 5 + j]));
        for (int64_t b = 0; b < B; b++) {
            double d = y[b * 3 + k] - m.layers[0].b[k];
            s1 += d;
            s2 += d * d;
        }
        double sd = sqrt(s2 / B - (s1 / B) * (s1 / B));
        assert_true(fabs(sd / (0.1 * wm * 2.0) - 1) < 0.06);
    }
    free(z);
    mt_hwa_net_free(h);
    mt_model_free(&m);
}

static double row_std(const float *w, int64_t n)
{
    double s = 0, q = 0;
    for (int64_t j = 0; j < n; j++) s += w[j];
    double mean = s / n;
    for (int64_t j = 0; j < n; j++) q += (w[j] - mean) * (w[j] - mean);
    return sqrt(q / (n - 1));
}

/* clamp(W_i, ±1.5·std(W_i)) row by row, only analog layers; applied by the trainer after every
 * step (with lr ≈ 0 the weights after k steps are k clips of the initial ones). */
static void test_weight_clipping(void **st)
{
    (void)st;
    mt_model m;
    build(&m, "bn,conv5k3,bn,tanh,gap,fc3", 2, 12, 3, 12);
    float *w0 = malloc((size_t)m.nparams * sizeof *w0);
    memcpy(w0, m.params, (size_t)m.nparams * sizeof *w0);
    mt_hwa_clip_weights(&m, 1.5);
    int clipped = 0;
    for (int l = 0; l < m.nlayers; l++) {
        mt_layer *L = &m.layers[l];
        int64_t off = L->w ? L->w - m.params : 0;
        if (!hwa_is_analog(L)) { /* digital layers untouched */
            if (L->nw) assert_memory_equal(L->w, w0 + off, (size_t)L->nw * sizeof(float));
            continue;
        }
        int64_t R, To, outs;
        hwa_layer_shape(L, &R, &To, &outs);
        for (int64_t o = 0; o < outs; o++) {
            double b = 1.5 * row_std(w0 + off + o * R, R);
            for (int64_t j = 0; j < R; j++) {
                float before = w0[off + o * R + j], after = L->w[o * R + j];
                float want = (float)fmax(-b, fmin(b, before));
                assert_true(fabsf(after - want) <= 1e-7f);
                clipped += after != before;
            }
        }
        assert_memory_equal(L->b, w0 + (L->b - m.params), (size_t)L->nb * sizeof(float));
    }
    assert_true(clipped > 0);
    mt_hwa_clip_weights(&m, 0); /* off */
    free(w0);
    mt_model_free(&m);
}

/* A synthetic 3-class set [N, 3, 24]: class k has a tone in channel k plus noise. */
static void synth_features(mt_features *f, int64_t n, uint64_t seed)
{
    mt_err e = {0};
    if (mt_features_alloc(f, n, 3, 24, &e)) fail_msg("%s", e.msg);
    f->nclasses = 3;
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

static void test_trainer_clips_and_saves(void **st)
{
    (void)st;
    mt_features f;
    synth_features(&f, 60, 5);
    mt_model m;
    build(&m, "conv4k3,bn,tanh,gap,fc3", 3, 24, 3, 31);
    float *w0 = malloc((size_t)m.nparams * sizeof *w0);
    memcpy(w0, m.params, (size_t)m.nparams * sizeof *w0);
    mt_hwa_opts o;
    mt_hwa_opts_default(&o);
    o.learn_ir = 0;
    mt_train_opts to;
    mt_train_opts_default(&to);
    to.epochs = 1;
    to.batch = 16;
    to.lr = 1e-12; /* weights move only by clipping */
    to.wd = 0;
    to.schedule = MT_SCHED_CONSTANT;
    char dir[64], path[128];
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/h.safetensors", dir);
    to.out_path = path;
    mt_train_result r;
    mt_err e = {0};
    float ranges[5];
    if (mt_hwa_train(&m, &f, &o, &to, ranges, &r, &e)) fail_msg("%s", e.msg);
    /* steps: 48 training items - 5 carved for validation = 43 -> 3 batches of 16 */
    int64_t steps = r.n_train / 16 + ((r.n_train % 16) >= 2);
    assert_int_equal(steps, 3);
    for (int l = 0; l < m.nlayers; l++) {
        mt_layer *L = &m.layers[l];
        if (!hwa_is_analog(L)) continue;
        int64_t R, To, outs;
        hwa_layer_shape(L, &R, &To, &outs);
        float *w = malloc((size_t)L->nw * sizeof *w);
        memcpy(w, w0 + (L->w - m.params), (size_t)L->nw * sizeof *w);
        for (int k = 0; k < steps; k++)
            for (int64_t o2 = 0; o2 < outs; o2++) {
                double b = 1.5 * row_std(w + o2 * R, R);
                for (int64_t j = 0; j < R; j++) w[o2 * R + j] = (float)fmax(-b, fmin(b, w[o2 * R + j]));
            }
        for (int64_t q = 0; q < L->nw; q++) assert_true(fabsf(w[q] - L->w[q]) < 1e-6f);
        free(w);
        assert_true(ranges[l] > 0);
    }
    /* the checkpoint carries the ranges */
    mt_model m2;
    char *meta = NULL;
    if (mt_model_load(path, &m2, &meta, &e)) fail_msg("%s", e.msg);
    float rr[5];
    mt_hwa_infer inf;
    int found = 0;
    assert_int_equal(mt_hwa_ranges_from_meta(meta, &m2, rr, &inf, &found, &e), MT_OK);
    assert_int_equal(found, 2);
    for (int l = 0; l < 5; l++) assert_true(fabsf(rr[l] - ranges[l]) <= 1e-6f * (1 + ranges[l]));
    assert_int_equal(inf.inp_bits, 8);
    cJSON *j = cJSON_Parse(meta);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "training");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(t, "phase")->valuestring, "hwa");
    cJSON_Delete(j);
    free(meta);
    mt_model_free(&m2);
    mt_train_result_free(&r);
    tu_rmrf(dir);
    free(w0);
    mt_model_free(&m);
    mt_features_free(&f);
}

/* Range initialisation: first training batch IR = 3·std (unbiased, over the im2col entries),
 * then the running mean; eval forwards do not touch it; a constant batch is skipped. */
static void test_range_init(void **st)
{
    (void)st;
    mt_model m;
    build(&m, "conv2k3s2,tanh,gap,fc2", 1, 9, 2, 1);
    mt_hwa_opts o;
    mt_hwa_opts_default(&o);
    o.weight_noise = o.out_noise = 0;
    o.ir_init_batches = 2;
    mt_hwa_net *h = net_new(&m, &o, 1);
    const int64_t B = 3;
    float *x = randn(B * 9, 4, 2.0);
    mt_err e = {0};
    /* im2col entries of conv k3 s2 on 9 samples: positions 0..3, taps 0..2 -> x[2t + j] */
    double s1 = 0, s2 = 0, n = 0;
    for (int64_t b = 0; b < B; b++)
        for (int t = 0; t < 4; t++)
            for (int j = 0; j < 3; j++) {
                double v = x[b * 9 + 2 * t + j];
                s1 += v, s2 += v * v, n++;
            }
    double sd1 = sqrt((s2 - s1 * s1 / n) / (n - 1));
    assert_int_equal(mt_hwa_net_forward(h, x, B, 0, &e), MT_OK);
    assert_true(fabsf(mt_hwa_net_ranges(h)[0] - 3.0f) < 1e-6f); /* eval: untouched */
    assert_int_equal(mt_hwa_net_forward(h, x, B, 1, &e), MT_OK);
    assert_true(fabs(mt_hwa_net_ranges(h)[0] - 3 * sd1) < 1e-5 * 3 * sd1);
    float *c = calloc(B * 9, sizeof *c); /* std 0: skipped, not counted */
    assert_int_equal(mt_hwa_net_forward(h, c, B, 1, &e), MT_OK);
    assert_int_equal(mt_hwa_net_range_updates(h, 0), 1);
    for (int64_t k = 0; k < B * 9; k++) x[k] *= 0.5f;
    assert_int_equal(mt_hwa_net_forward(h, x, B, 1, &e), MT_OK);
    assert_true(fabs(mt_hwa_net_ranges(h)[0] - (3 * sd1 + 1.5 * sd1) / 2) < 1e-5 * 3 * sd1);
    assert_int_equal(mt_hwa_net_forward(h, x, B, 1, &e), MT_OK); /* after 2 updates: frozen */
    assert_true(fabs(mt_hwa_net_ranges(h)[0] - (3 * sd1 + 1.5 * sd1) / 2) < 1e-5 * 3 * sd1);
    free(c), free(x);
    mt_hwa_net_free(h);
    mt_model_free(&m);
}

/* Eval mode = the digital model with clipped 8-bit inputs = the mt_hwa_matmul hook on the
 * plain model, and a direct quantise-then-multiply for the first layer. */
static void test_eval_equals_quantised_digital(void **st)
{
    (void)st;
    mt_model m;
    build(&m, "bn,conv6k4,bn,tanh,maxpool2,conv5k3,tanh,gap,fc8,tanh,fc3", 3, 30, 3, 17);
    for (int64_t i = 0; i < m.nbuffers; i++) m.buffers[i] = (i % 3 == 0) ? 0.1f * (float)(i % 5) : m.buffers[i];
    mt_hwa_opts o;
    mt_hwa_opts_default(&o);
    o.ir_init_batches = 0;
    o.out_bound = 3;
    o.out_bits = 6;
    mt_hwa_net *h = net_new(&m, &o, 2);
    float *ir = mt_hwa_net_ranges(h);
    for (int l = 0; l < m.nlayers; l++)
        if (ir[l] > 0) ir[l] = 0.7f + 0.1f * l;
    const int64_t B = 5;
    float *x = randn(B * 3 * 30, 6, 1.5);
    mt_err e = {0};
    assert_int_equal(mt_hwa_net_forward(h, x, B, 0, &e), MT_OK);
    float *y1 = malloc(B * 3 * sizeof *y1);
    memcpy(y1, mt_hwa_net_output(h), B * 3 * sizeof *y1);
    mt_hwa_infer inf = {ir, 8, 3, 6};
    m.hooks.ctx = &inf;
    m.hooks.matmul = mt_hwa_matmul;
    assert_int_equal(mt_model_forward(&m, x, B, 0, &e), MT_OK);
    const float *y2 = mt_model_output(&m);
    for (int k = 0; k < B * 3; k++) assert_true(fabsf(y1[k] - y2[k]) < 1e-4f * (1 + fabsf(y2[k])));
    /* the noise-free eval is deterministic */
    assert_int_equal(mt_hwa_net_forward(h, x, B, 0, &e), MT_OK);
    assert_memory_equal(mt_hwa_net_output(h), y1, B * 3 * sizeof(float));
    /* without clipping/quantisation (huge ranges, no bits, no ADC) it is the digital model */
    mt_hwa_infer id = {ir, 0, 0, 0};
    for (int l = 0; l < m.nlayers; l++)
        if (ir[l] > 0) ir[l] = 1e6f;
    m.hooks.ctx = &id;
    assert_int_equal(mt_model_forward(&m, x, B, 0, &e), MT_OK);
    memcpy(y1, mt_model_output(&m), B * 3 * sizeof *y1);
    memset(&m.hooks, 0, sizeof m.hooks);
    assert_int_equal(mt_model_forward(&m, x, B, 0, &e), MT_OK);
    for (int k = 0; k < B * 3; k++) assert_true(fabsf(y1[k] - mt_model_output(&m)[k]) < 1e-4f);
    free(x), free(y1);
    mt_hwa_net_free(h);
    mt_model_free(&m);
}

/* The naive reference kernels give the optimised results (noise on: same draws), and the
 * optimised path is bit-identical at 1 and 2 threads. */
static void run_step(const char *arch, int reference, int threads, float **out, float **grads,
                     double **irg, int64_t *np)
{
    mt_model m;
    build(&m, arch, 3, 26, 4, 41);
    mt_hwa_opts o;
    mt_hwa_opts_default(&o);
    o.ir_init_batches = 3;
    o.out_bound = 4;
    o.out_bits = 8;
    mt_hwa_net *h = net_new(&m, &o, 99);
    mt_hwa_net_set_reference(h, reference);
    omp_set_num_threads(threads);
    const int64_t B = 11;
    float *x = randn(B * 3 * 26, 8, 1.0);
    int32_t lab[11];
    for (int b = 0; b < 11; b++) lab[b] = b % 4;
    float *dlog = malloc(B * 4 * sizeof *dlog);
    mt_err e = {0};
    for (int it = 0; it < 2; it++) net_loss(h, x, B, 1, lab, dlog);
    mt_hwa_net_zero_grad(h);
    assert_int_equal(mt_hwa_net_backward(h, dlog, &e), MT_OK);
    *out = malloc(B * 4 * sizeof(float));
    memcpy(*out, mt_hwa_net_output(h), B * 4 * sizeof(float));
    *grads = malloc((size_t)m.nparams * sizeof(float));
    memcpy(*grads, m.grads, (size_t)m.nparams * sizeof(float));
    *irg = malloc((size_t)m.nlayers * sizeof(double));
    memcpy(*irg, mt_hwa_net_range_grads(h), (size_t)m.nlayers * sizeof(double));
    *np = m.nparams;
    free(x), free(dlog);
    mt_hwa_net_free(h);
    mt_model_free(&m);
}

static void test_reference_and_threads(void **st)
{
    (void)st;
    const char *arch = "bn,conv7k5,bn,tanh,maxpool2,conv6k3p1,bn,relu,gap,fc4";
    float *o1, *g1, *o2, *g2, *o3, *g3;
    double *r1, *r2, *r3;
    int64_t np;
    int nt = omp_get_max_threads();
    run_step(arch, 0, 1, &o1, &g1, &r1, &np);
    run_step(arch, 0, 2, &o2, &g2, &r2, &np);
    run_step(arch, 1, 1, &o3, &g3, &r3, &np);
    omp_set_num_threads(nt);
    assert_memory_equal(o1, o2, 11 * 4 * sizeof(float));
    assert_memory_equal(g1, g2, (size_t)np * sizeof(float));
    assert_memory_equal(r1, r2, 10 * sizeof(double));
    double worst = 0;
    for (int k = 0; k < 44; k++) worst = fmax(worst, fabs(o1[k] - o3[k]) / (1e-3 + fabs(o3[k])));
    for (int64_t k = 0; k < np; k++) worst = fmax(worst, fabs(g1[k] - g3[k]) / (1e-3 + fabs(g3[k])));
    for (int k = 0; k < 10; k++) worst = fmax(worst, fabs(r1[k] - r3[k]) / (1e-3 + fabs(r3[k])));
    assert_true(worst < 2e-3);
    free(o1), free(g1), free(o2), free(g2), free(o3), free(g3), free(r1), free(r2), free(r3);
}

/* BN calibration: running statistics = the exact average of the calibration batches' statistics
 * (mean, unbiased variance) of the noise-free analog outputs; the momentum is restored. */
static void test_bn_calibration(void **st)
{
    (void)st;
    mt_model m;
    build(&m, "conv3k2,bn,tanh,gap,fc2", 2, 9, 2, 3);
    mt_hwa_opts o;
    mt_hwa_opts_default(&o);
    o.ir_init_batches = 0;
    mt_hwa_net *h = net_new(&m, &o, 1);
    const int64_t B = 5, T = 8;
    double mean[2][3], var[2][3];
    mt_err e = {0};
    for (int k = 0; k < 2; k++) {
        float *x = randn(B * 18, 50 + (uint64_t)k, 1.0 + k);
        assert_int_equal(mt_hwa_net_calibrate(h, x, B, k, &e), MT_OK);
        const hwa_stage *s = &h->stages[0];
        for (int c = 0; c < 3; c++) {
            double s1 = 0, s2 = 0;
            for (int64_t b = 0; b < B; b++)
                for (int64_t t = 0; t < T; t++) s1 += s->y[(b * 3 + c) * T + t];
            double mu = s1 / (B * T);
            for (int64_t b = 0; b < B; b++)
                for (int64_t t = 0; t < T; t++) s2 += pow(s->y[(b * 3 + c) * T + t] - mu, 2);
            mean[k][c] = mu;
            var[k][c] = s2 / (B * T - 1);
        }
        free(x);
    }
    assert_null(mt_hwa_net_output(h)); /* nothing to back-propagate */
    mt_hwa_net_store(h);
    const mt_layer *bn = &m.layers[1];
    for (int c = 0; c < 3; c++) {
        assert_true(fabs(bn->running_mean[c] - (mean[0][c] + mean[1][c]) / 2) < 1e-5);
        assert_true(fabs(bn->running_var[c] - (var[0][c] + var[1][c]) / 2) < 1e-4 * (1 + var[1][c]));
    }
    assert_true(h->stages[1].sub.layers[0].bn_momentum == bn->bn_momentum);
    mt_hwa_net_free(h);
    mt_model_free(&m);
}

static void test_meta_round_trip(void **st)
{
    (void)st;
    mt_model m;
    build(&m, "bn,conv4k3,tanh,gap,fc3", 2, 10, 3, 1);
    float ranges[5] = {0, 1.25f, 0, 0, 0.5f};
    mt_hwa_opts o;
    mt_hwa_opts_default(&o);
    o.out_bound = 12;
    o.out_bits = 8;
    o.from = "fp.safetensors";
    char *s = mt_hwa_meta_add("{\"model\":\"x\",\"hwa\":{\"old\":1}}", &m, &o, ranges);
    assert_non_null(s);
    float got[5];
    mt_hwa_infer inf;
    int found;
    mt_err e = {0};
    assert_int_equal(mt_hwa_ranges_from_meta(s, &m, got, &inf, &found, &e), MT_OK);
    assert_int_equal(found, 2);
    assert_memory_equal(got, ranges, sizeof ranges);
    assert_int_equal(inf.out_bits, 8);
    assert_true(inf.out_bound == 12);
    assert_ptr_equal(inf.ranges, got);
    cJSON *j = cJSON_Parse(s);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "model")->valuestring, "x");
    assert_null(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "hwa"), "old"));
    cJSON_Delete(j);
    free(s);
    /* not an HWA checkpoint: nothing found, fine */
    assert_int_equal(mt_hwa_ranges_from_meta("{\"model\":\"x\"}", &m, got, NULL, &found, &e), MT_OK);
    assert_int_equal(found, 0);
    /* malformed */
    assert_int_equal(mt_hwa_ranges_from_meta("{\"hwa\":{\"input_ranges\":{\"bn0\":1}}}", &m, got, NULL, &found, &e),
                     MT_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "bn0"));
    assert_int_equal(mt_hwa_ranges_from_meta("{\"hwa\":{\"input_ranges\":{\"conv0\":-1}}}", &m, got, NULL, &found, &e),
                     MT_ERR_FORMAT);
    assert_int_equal(mt_hwa_ranges_from_meta("{\"hwa\":3}", &m, got, NULL, &found, &e), MT_ERR_FORMAT);
    assert_int_equal(mt_hwa_ranges_from_meta("{", &m, got, NULL, &found, &e), MT_ERR_FORMAT);
    assert_null(mt_hwa_meta_add("[1]", &m, &o, ranges));
    mt_model_free(&m);
}

static void test_opts_check(void **st)
{
    (void)st;
    mt_hwa_opts o;
    mt_err e = {0};
    mt_hwa_opts_default(&o);
    assert_int_equal(mt_hwa_opts_check(&o, &e), MT_OK);
    assert_true(o.weight_noise == 0.12 && o.out_noise == 0.1 && o.clip_sigma == 1.5 && o.inp_bits == 8);
    o.weight_noise = NAN;
    assert_int_equal(mt_hwa_opts_check(&o, &e), MT_ERR_ARG);
    assert_non_null(strstr(e.msg, "weight noise"));
    mt_hwa_opts_default(&o);
    o.out_bits = 8; /* without a bound */
    assert_int_equal(mt_hwa_opts_check(&o, &e), MT_ERR_ARG);
    mt_hwa_opts_default(&o);
    o.inp_bits = 1;
    assert_int_equal(mt_hwa_opts_check(&o, &e), MT_ERR_ARG);
    mt_hwa_opts_default(&o);
    o.ir_min_pct = 1.5;
    assert_int_equal(mt_hwa_opts_check(&o, &e), MT_ERR_ARG);
    /* a model without analog layers */
    mt_model m;
    build(&m, "bn,tanh,gap", 2, 5, 0, 1);
    mt_hwa_opts_default(&o);
    mt_hwa_net *h = NULL;
    assert_int_equal(mt_hwa_net_new(&h, &m, &o, 1, &e), MT_ERR_ARG);
    assert_null(h);
    mt_model_free(&m);
}

/* Quantiser levels: ±IR in 2^b − 2 steps, round half to even; b = 0 clips only. */
static void test_quantiser(void **st)
{
    (void)st;
    double L = hwa_levels(8);
    assert_true(L == 127);
    assert_true(hwa_quant(5.0f, 2.0f, L) == 2.0f);
    assert_true(hwa_quant(-5.0f, 2.0f, L) == -2.0f);
    float d = 2.0f / 127;
    assert_true(fabsf(hwa_quant(0.51f * d, 2.0f, L) - d) < 1e-7f);
    assert_true(hwa_quant(0.49f * d, 2.0f, L) == 0.0f);
    assert_true(fabsf(hwa_quant(2.5f * d, 2.0f, L) - 2 * d) < 1e-7f); /* half to even */
    assert_true(hwa_quant(0.3f, 2.0f, 0) == 0.3f);
    assert_true(hwa_quant(7.0f, 0.0f, L) == 7.0f); /* no range: identity */
    /* ADC: bound 2, 4 bits -> 14 steps of 2/7 */
    assert_true(fabsf(hwa_adc(0.3f, 2.0, 4) - 2.0f / 7) < 1e-6f);
    assert_true(hwa_adc(9.0f, 2.0, 4) == 2.0f);
    assert_true(hwa_adc(9.0f, 0.0, 4) == 9.0f);
}

/* End to end: a full-precision model, then the HWA phase; the HWA model's noise-free quantised
 * accuracy stays at the software level on an easy task, and the run is reproducible. */
static void test_train_end_to_end(void **st)
{
    (void)st;
    mt_features f;
    synth_features(&f, 150, 9);
    mt_model m;
    build(&m, "conv6k5,bn,tanh,maxpool2,conv6k3,bn,tanh,gap,fc3", 3, 24, 3, 2);
    mt_train_opts to;
    mt_train_opts_default(&to);
    to.epochs = 12;
    to.batch = 16;
    to.lr = 0.02;
    mt_train_result r;
    mt_err e = {0};
    if (mt_train(&m, &f, &to, &r, &e)) fail_msg("%s", e.msg);
    double sw = r.test.accuracy;
    mt_train_result_free(&r);
    assert_true(sw > 0.85);
    mt_model m2;
    build(&m2, "conv6k5,bn,tanh,maxpool2,conv6k3,bn,tanh,gap,fc3", 3, 24, 3, 2);
    assert_int_equal(mt_model_copy_weights(&m2, &m, &e), MT_OK);
    mt_hwa_opts o;
    mt_hwa_opts_default(&o);
    o.ir_init_batches = 5;
    to.epochs = 4;
    to.lr = 0.002;
    if (mt_hwa_train(&m, &f, &o, &to, NULL, &r, &e)) fail_msg("%s", e.msg);
    assert_true(r.test.n == 30);
    assert_true(r.test.accuracy >= sw - 0.1);
    assert_int_equal(r.nhist, 4);
    double a1 = r.test.accuracy;
    mt_train_result_free(&r);
    float r2[9];
    if (mt_hwa_train(&m2, &f, &o, &to, r2, &r, &e)) fail_msg("%s", e.msg);
    assert_true(r.test.accuracy == a1);
    assert_memory_equal(m.params, m2.params, (size_t)m.nparams * sizeof(float));
    mt_train_result_free(&r);
    mt_model_free(&m2);
    mt_model_free(&m);
    mt_features_free(&f);
}

/* ---- resume ---------------------------------------------------------------------------------- */

#define RESUME_ARCH "conv6k5,bn,tanh,maxpool2,conv6k3,bn,tanh,gap,dropout0.1,fc3"

/* Options under which every piece of HWA state carried between steps matters: per-sample weight
 * noise and output noise (the forward counter), range initialisation still running after the
 * interruption (its counts), learned ranges (their AdamW moments), BN recalibration, one-cycle. */
static void resume_opts(mt_hwa_opts *ho, mt_train_opts *to, int epochs)
{
    mt_hwa_opts_default(ho);
    ho->ir_init_batches = 9; /* 6 batches per epoch: initialisation runs into epoch 2 */
    mt_train_opts_default(to);
    to->epochs = epochs;
    to->batch = 8;
    to->lr = 0.005;
    to->seed = 4;
}

/* Killed after epoch 2 of 4 and resumed: the same weights, buffers, ranges, history and metrics
 * as the uninterrupted run. */
static void test_resume_identical(void **st)
{
    (void)st;
    char dir[64], state[128], snap[128], out1[128], out2[128];
    tu_tmpdir(dir, sizeof dir);
    snprintf(state, sizeof state, "%s/h.state.safetensors", dir);
    snprintf(snap, sizeof snap, "%s/snap.safetensors", dir);
    snprintf(out1, sizeof out1, "%s/a.safetensors", dir);
    snprintf(out2, sizeof out2, "%s/b.safetensors", dir);
    mt_features f;
    synth_features(&f, 60, 11);
    mt_hwa_opts ho;
    mt_train_opts to;
    resume_opts(&ho, &to, 4);
    mt_err e = {0};
    /* uninterrupted, keeping the state written after epoch 2 */
    mt_model a;
    build(&a, RESUME_ARCH, 3, 24, 3, 5);
    to.state_path = state;
    to.out_path = out1;
    tu_snap sc = {state, snap, 3};
    to.on_epoch = tu_snap_on_epoch;
    to.ctx = &sc;
    float ra_ir[16], rb_ir[16]; /* ranges_out holds nlayers floats */
    assert_true(a.nlayers <= 16);
    mt_train_result ra, rb;
    if (mt_hwa_train(&a, &f, &ho, &to, ra_ir, &ra, &e)) fail_msg("%s", e.msg);
    assert_int_equal(ra.resumed_from, 0);
    assert_int_equal(ra.epochs_run, 4);
    /* the same run again from its state after epoch 2, with a fresh model from the same start */
    tu_copy_file(snap, state);
    mt_model b;
    build(&b, RESUME_ARCH, 3, 24, 3, 5);
    to.on_epoch = NULL;
    to.out_path = out2;
    to.resume = 2;
    if (mt_hwa_train(&b, &f, &ho, &to, rb_ir, &rb, &e)) fail_msg("%s", e.msg);
    assert_int_equal(rb.resumed_from, 2);
    assert_int_equal(rb.epochs_run, 2);
    assert_int_equal(rb.nhist, 4);
    assert_int_equal(rb.best_epoch, ra.best_epoch);
    for (int k = 0; k < 4; k++) {
        assert_int_equal(rb.hist[k].epoch, k + 1);
        /* epochs 1-2 come back from the state's JSON text (15 significant digits), 3-4 are
         * recomputed */
        double d = fabs(rb.hist[k].train_loss - ra.hist[k].train_loss);
        assert_true(k < 2 ? d <= 1e-13 * fabs(ra.hist[k].train_loss) : d == 0);
        assert_true(rb.hist[k].val_acc == ra.hist[k].val_acc);
        assert_int_equal(rb.hist[k].improved, ra.hist[k].improved);
    }
    assert_memory_equal(a.params, b.params, (size_t)a.nparams * sizeof(float));
    assert_memory_equal(a.buffers, b.buffers, (size_t)a.nbuffers * sizeof(float));
    for (int l = 0; l < a.nlayers; l++) assert_true(a.layers[l].num_batches_tracked == b.layers[l].num_batches_tracked);
    assert_memory_equal(ra_ir, rb_ir, (size_t)a.nlayers * sizeof(float));
    assert_true(rb.test.accuracy == ra.test.accuracy && rb.test.loss == ra.test.loss);
    assert_true(rb.val.loss == ra.val.loss);
    /* the two checkpoints hold the same weights and ranges */
    mt_model la, lb;
    char *ma = NULL, *mb = NULL;
    assert_int_equal(mt_model_load(out1, &la, &ma, &e), MT_OK);
    assert_int_equal(mt_model_load(out2, &lb, &mb, &e), MT_OK);
    assert_memory_equal(la.params, lb.params, (size_t)la.nparams * sizeof(float));
    float ia[16], ib[16];
    int fa = 0, fb = 0;
    assert_int_equal(mt_hwa_ranges_from_meta(ma, &la, ia, NULL, &fa, &e), MT_OK);
    assert_int_equal(mt_hwa_ranges_from_meta(mb, &lb, ib, NULL, &fb, &e), MT_OK);
    assert_int_equal(fa, 3);
    assert_int_equal(fb, 3);
    assert_memory_equal(ia, ib, (size_t)la.nlayers * sizeof(float));
    free(ma);
    free(mb);
    mt_model_free(&la);
    mt_model_free(&lb);
    /* a completed state resumes to the same end without training */
    mt_model c;
    build(&c, RESUME_ARCH, 3, 24, 3, 5);
    mt_train_result rc;
    if (mt_hwa_train(&c, &f, &ho, &to, NULL, &rc, &e)) fail_msg("%s", e.msg);
    assert_int_equal(rc.resumed_from, 4);
    assert_int_equal(rc.epochs_run, 0);
    assert_memory_equal(a.params, c.params, (size_t)a.nparams * sizeof(float));
    mt_train_result_free(&rc);
    mt_model_free(&c);
    mt_train_result_free(&ra);
    mt_train_result_free(&rb);
    mt_model_free(&a);
    mt_model_free(&b);
    mt_features_free(&f);
    tu_rmrf(dir);
}

/* A state of another run is ignored (resume = 1: a fresh run, the state overwritten) or refused
 * (resume = 2): other HWA options, other starting weights, a full-precision state. */
static void test_resume_other_run(void **st)
{
    (void)st;
    char dir[64], state[128];
    tu_tmpdir(dir, sizeof dir);
    snprintf(state, sizeof state, "%s/h.state.safetensors", dir);
    mt_features f;
    synth_features(&f, 60, 12);
    mt_hwa_opts ho;
    mt_train_opts to;
    resume_opts(&ho, &to, 2);
    mt_err e = {0};
    mt_model m;
    build(&m, RESUME_ARCH, 3, 24, 3, 6);
    mt_model m0;
    build(&m0, RESUME_ARCH, 3, 24, 3, 6); /* the same start, kept */
    to.state_path = state;
    mt_train_result r;
    if (mt_hwa_train(&m, &f, &ho, &to, NULL, &r, &e)) fail_msg("%s", e.msg);
    mt_train_result_free(&r);
    mt_model_free(&m);
    /* other weight noise: resume = 2 refuses and leaves the state alone */
    ho.weight_noise = 0.2;
    to.resume = 2;
    mt_err e2 = {0};
    build(&m, RESUME_ARCH, 3, 24, 3, 6);
    assert_int_equal(mt_hwa_train(&m, &f, &ho, &to, NULL, &r, &e2), MT_ERR_STATE);
    assert_non_null(strstr(e2.msg, "different run"));
    assert_memory_equal(m.params, m0.params, (size_t)m.nparams * sizeof(float));
    /* resume = 1 trains afresh: the weights of a run without any state file */
    to.resume = 1;
    if (mt_hwa_train(&m, &f, &ho, &to, NULL, &r, &e)) fail_msg("%s", e.msg);
    assert_int_equal(r.state_mismatch, 1);
    assert_int_equal(r.resumed_from, 0);
    assert_int_equal(r.epochs_run, 2);
    mt_train_result_free(&r);
    mt_model fresh;
    build(&fresh, RESUME_ARCH, 3, 24, 3, 6);
    mt_train_opts tn = to;
    tn.state_path = NULL;
    if (mt_hwa_train(&fresh, &f, &ho, &tn, NULL, &r, &e)) fail_msg("%s", e.msg);
    mt_train_result_free(&r);
    assert_memory_equal(m.params, fresh.params, (size_t)m.nparams * sizeof(float));
    mt_model_free(&fresh);
    mt_model_free(&m);
    /* ... and its state replaced the old one: it now continues this run (nothing left to do) */
    to.resume = 2;
    build(&m, RESUME_ARCH, 3, 24, 3, 6);
    if (mt_hwa_train(&m, &f, &ho, &to, NULL, &r, &e)) fail_msg("%s", e.msg);
    assert_int_equal(r.resumed_from, 2);
    assert_int_equal(r.epochs_run, 0);
    mt_train_result_free(&r);
    mt_model_free(&m);
    /* other starting weights (another full-precision model) */
    build(&m, RESUME_ARCH, 3, 24, 3, 7);
    e2.msg[0] = 0;
    assert_int_equal(mt_hwa_train(&m, &f, &ho, &to, NULL, &r, &e2), MT_ERR_STATE);
    assert_non_null(strstr(e2.msg, "different run"));
    mt_model_free(&m);
    /* a full-precision state with the same training options */
    build(&m, RESUME_ARCH, 3, 24, 3, 6);
    to.resume = 1;
    if (mt_train(&m, &f, &to, &r, &e)) fail_msg("%s", e.msg);
    mt_train_result_free(&r);
    mt_model_free(&m);
    build(&m, RESUME_ARCH, 3, 24, 3, 6);
    to.resume = 2;
    assert_int_equal(mt_hwa_train(&m, &f, &ho, &to, NULL, &r, &e2), MT_ERR_STATE);
    mt_model_free(&m);
    /* resume = 2 without a state file */
    unlink(state);
    build(&m, RESUME_ARCH, 3, 24, 3, 6);
    assert_int_equal(mt_hwa_train(&m, &f, &ho, &to, NULL, &r, &e2), MT_ERR_IO);
    assert_non_null(strstr(e2.msg, "no training state"));
    mt_model_free(&m);
    mt_model_free(&m0);
    mt_features_free(&f);
    tu_rmrf(dir);
}

/* `materia train --hwa` saves its state, removes it after a completed run unless --keep-state,
 * and --resume continues it (here: a completed one) or fails without one. */
static void test_cli_hwa_state(void **st)
{
    (void)st;
    char dir[64], feat[128], fp[128], out[128], state[160], args[1200];
    tu_tmpdir(dir, sizeof dir);
    snprintf(feat, sizeof feat, "%s/f.npy", dir);
    snprintf(fp, sizeof fp, "%s/fp.safetensors", dir);
    snprintf(out, sizeof out, "%s/h.safetensors", dir);
    snprintf(state, sizeof state, "%s/h.state.safetensors", dir);
    mt_features f;
    synth_features(&f, 60, 13);
    char *names[3] = {"a", "b", "c"};
    mt_err e = {0};
    assert_int_equal(mt_features_set_classes(&f, 3, names, &e), MT_OK);
    assert_int_equal(mt_features_save(&f, feat, &e), MT_OK);
    mt_model m;
    build(&m, RESUME_ARCH, 3, 24, 3, 8);
    assert_int_equal(mt_model_save(&m, fp, NULL, &e), MT_OK);
    mt_model_free(&m);
    char *o;
    const char *base = "train --features %s --hwa --from %s --out %s --epochs 2 --batch 8 --json --quiet";
    char fmt[300];
    snprintf(fmt, sizeof fmt, "%s --resume", base);
    snprintf(args, sizeof args, fmt, feat, fp, out);
    assert_int_not_equal(tu_run(args, &o, 1), 0);
    assert_non_null(strstr(o, "no training state"));
    free(o);
    snprintf(args, sizeof args, base, feat, fp, out);
    int rc = tu_run(args, &o, 0);
    if (rc) fail_msg("train --hwa failed (%d): %s", rc, o);
    free(o);
    assert_int_not_equal(access(state, F_OK), 0); /* removed after a completed run */
    snprintf(fmt, sizeof fmt, "%s --keep-state", base);
    snprintf(args, sizeof args, fmt, feat, fp, out);
    rc = tu_run(args, &o, 0);
    if (rc) fail_msg("train --hwa failed (%d): %s", rc, o);
    free(o);
    assert_int_equal(access(state, F_OK), 0);
    snprintf(fmt, sizeof fmt, "%s --resume", base);
    snprintf(args, sizeof args, fmt, feat, fp, out);
    rc = tu_run(args, &o, 0);
    if (rc) fail_msg("train --hwa --resume failed (%d): %s", rc, o);
    assert_non_null(strstr(o, "\"resumed_from\":\t2"));
    assert_non_null(strstr(o, "\"epochs_run\":\t0"));
    free(o);
    mt_features_free(&f);
    tu_rmrf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opts_check),
        cmocka_unit_test(test_quantiser),
        cmocka_unit_test(test_fd_gradients),
        cmocka_unit_test(test_fd_with_noise),
        cmocka_unit_test(test_range_rule_closed_form),
        cmocka_unit_test(test_ste_and_clip_mask),
        cmocka_unit_test(test_noise_statistics),
        cmocka_unit_test(test_weight_clipping),
        cmocka_unit_test(test_range_init),
        cmocka_unit_test(test_eval_equals_quantised_digital),
        cmocka_unit_test(test_reference_and_threads),
        cmocka_unit_test(test_bn_calibration),
        cmocka_unit_test(test_meta_round_trip),
        cmocka_unit_test(test_trainer_clips_and_saves),
        cmocka_unit_test(test_train_end_to_end),
        cmocka_unit_test(test_resume_identical),
        cmocka_unit_test(test_resume_other_run),
        cmocka_unit_test(test_cli_hwa_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
