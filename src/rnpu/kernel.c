/* Vectorised multi-channel RNPU integrator: RNPU_W channels per block in struct-of-arrays form,
 * one exponential-Euler step per DAC sample, the lane loop vectorised (omp simd) with our own
 * exp/log1p/expm1/sqrt kernels in single precision (no libm calls inside the loop).  Same equations as mt_rnpu_step
 * (device.c), which is the scalar reference; tests/test_rnpu_kernel.c checks fast == naive.
 * Compiled for AVX-512 / AVX2 / baseline with GCC target_clones (runtime dispatch); on this
 * project's machines the AVX-512 clone is the one that vectorises (16 lanes). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rnpu_kernel.h"



/* ---- branch-free elementary functions in float (relative error ~1e-7) ----
 * The state and arithmetic of the fast kernel are single precision: 16 lanes per AVX-512
 * register.  Vo moves by ≤ mV per step and the circuit forgets in ~τ, so rounding stays at
 * ~0.1 µV (tests/test_rnpu_kernel.c bounds fast − naive), far below the ADC LSB (305 µV). */

/* exp(x), x clamped to [−87, 88]: 2^n · P(r), |r| ≤ ln2/2, degree-7 Taylor (< 3e-8 rel.). */
static inline float k_exp(float x)
{
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    const float magic = 12582912.0f; /* 1.5·2^23: adding it rounds to an integer */
    float t = x * 1.44269504f + magic;
    float nn = t - magic;
    float r = x - nn * 0.693145752f - nn * 1.42860677e-06f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t ti;
    memcpy(&ti, &t, sizeof ti);
    int32_t sb = (ti - 0x4B400000 + 127) << 23;
    float sc;
    memcpy(&sc, &sb, sizeof sc);
    return p * sc;
}

/* log1p(u) for u in [0, 1]: 2·atanh(s), s = u/(2+u) ∈ [0, 1/3]. */
static inline float k_log1p01(float u)
{
    float s = u / (2.0f + u), s2 = s * s;
    float p = 1.0f / 13.0f;
    p = p * s2 + 1.0f / 11.0f;
    p = p * s2 + 1.0f / 9.0f;
    p = p * s2 + 1.0f / 7.0f;
    p = p * s2 + 1.0f / 5.0f;
    p = p * s2 + 1.0f / 3.0f;
    p = p * s2 + 1.0f;
    return 2.0f * s * p;
}

/* 1 − exp(−x) for x ≥ 0 without cancellation: −x = n·ln2 + r, 1 − e^(−x) =
 * −(2^n·expm1(r) + (2^n − 1)), with the expm1 polynomial exact to float for |r| ≤ ln2/2. */
static inline float k_one_minus_exp_neg(float x)
{
    float y = -x;
    y = y < -87.0f ? -87.0f : y;
    const float magic = 12582912.0f;
    float t = y * 1.44269504f + magic;
    float nn = t - magic;
    float r = y - nn * 0.693145752f - nn * 1.42860677e-06f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r * r + r; /* expm1(r) */
    int32_t ti;
    memcpy(&ti, &t, sizeof ti);
    int32_t sb = (ti - 0x4B400000 + 127) << 23;
    float sc;
    memcpy(&sc, &sb, sizeof sc);
    return -(sc * p + (sc - 1.0f));
}

/* sqrt(a) for a ≥ 0 by Newton's iteration on 1/√a from the bit-level initial guess (3 steps:
 * 3.4e-2 → 1.8e-3 → 5e-6 → 4e-11).  Pure arithmetic: libm's sqrt may set errno, which stops GCC
 * from vectorising the lane loop under our IEEE flags. */
static inline float k_sqrt(float a)
{
    a += 1e-30f;
    int32_t i;
    memcpy(&i, &a, sizeof i);
    i = 0x5f3759df - (i >> 1);
    float y;
    memcpy(&y, &i, sizeof y);
    float h = 0.5f * a;
    y = y * (1.5f - h * y * y);
    y = y * (1.5f - h * y * y);
    y = y * (1.5f - h * y * y);
    return a * y;
}

/* One block: RNPU_W lanes for n samples.  y[i*RNPU_W + l] = Vo after step i (may be NULL).
 * SOFTPLUS and TRAP are compile-time constants in each instantiation so the lane loop has no
 * control flow and vectorises.  Currents are in nA and conductances in nS (float range). */
static inline __attribute__((always_inline)) void
kernel_body(const rnpu_lanes *L, const float *x, int64_t n, rnpu_lstate *s, float *y,
            const int SOFTPLUS, const int TRAP, const int FT)
{
    float vo[RNPU_W], q[RNPU_W], vp[RNPU_W], f[4][RNPU_W];
    for (int l = 0; l < RNPU_W; l++) {
        vo[l] = s->vo[l];
        q[l] = s->q[l];
        vp[l] = s->vp[l];
        for (int j = 0; j < 4; j++) f[j][l] = s->f[j][l];
    }
    for (int64_t i = 0; i < n; i++) {
        const float vin = x[i];
#pragma omp simd
        for (int l = 0; l < RNPU_W; l++) {
            float v = vo[l] + L->kio[l] * (vin - vp[l]);
            vp[l] = vin;
            float I = -v * L->gbuf[l], G = L->gbuf[l], J = 0.0f;
            float gq = TRAP ? L->gamma[l] * q[l] : 0.0f;
#pragma GCC unroll 7
            for (int k = 0; k < 7; k++) {
                float e = L->eK[k][l] + L->b0[k][l] * vin - L->B[k][l] * v - gq;
                if (FT)
                    e += L->fg[k][0][l] * f[0][l] + L->fg[k][1][l] * f[1][l] + L->fg[k][2][l] * f[2][l] +
                         L->fg[k][3][l] * f[3][l];
                float nk, dn;
                if (SOFTPLUS) {
                    float z = e - L->th[k][l];
                    float az = z < 0 ? -z : z;
                    float ez = k_exp(-az);
                    float sp = (z > 0 ? z : 0.0f) + k_log1p01(ez);
                    float sig = (z > 0 ? 1.0f : ez) / (1.0f + ez);
                    nk = L->Gth[k][l] * sp;
                    dn = L->Gth[k][l] * sig;
                } else {
                    nk = k_exp(L->lnG[k][l] + e);
                    dn = nk;
                }
                float xk = (k == 0 ? vin : L->Vk[k][l]) - v;
                float ax = (xk < 0 ? -xk : xk) * L->ivx[k][l];
                float as = ax * k_sqrt(ax);
                float F = xk * (1.0f + as), dF = 1.0f + 2.5f * as;
                float Ik = nk * F;
                I += Ik;
                if (TRAP) J += Ik < 0 ? -Ik : Ik;
                G += dn * L->B[k][l] * F + nk * dF;
            }
            if (FT)
#pragma GCC unroll 4
                for (int j = 0; j < 4; j++) {
                    float u = L->fuK[j][l] + L->fc0[j][l] * vin - L->fC[j][l] * v - L->fth[j][l];
                    float ez = k_exp(-u);
                    float finf = 1.0f / (1.0f + ez);
                    /* SRH: (emission + capture)·h = (h/τ)(1 + e^u); fixed τ when fsrh = 0 */
                    float dec = k_exp(-L->fre[j][l] * (1.0f + L->fsrh[j][l] / ez));
                    f[j][l] = finf + (f[j][l] - finf) * dec;
                }
            G = G < 1e-6f ? 1e-6f : G; /* nS */
            v += (I / G) * k_one_minus_exp_neg(G * L->hC[l]);
            vo[l] = v;
            if (TRAP) {
                float a = J * L->iQ[l], r = a + L->rate[l];
                float qinf = a / r;
                q[l] = qinf + (q[l] - qinf) * k_exp(-r * L->h);
            }
        }
        if (y)
            for (int l = 0; l < RNPU_W; l++) y[i * RNPU_W + l] = vo[l];
    }
    for (int l = 0; l < RNPU_W; l++) {
        s->vo[l] = vo[l];
        s->q[l] = q[l];
        s->vp[l] = vp[l];
        for (int j = 0; j < 4; j++) s->f[j][l] = f[j][l];
    }
}

#define KCLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#define KB(name, A, B, C)                                                                          \
    KCLONES static void name(const rnpu_lanes *L, const float *x, int64_t n, rnpu_lstate *s, float *y) \
    {                                                                                              \
        kernel_body(L, x, n, s, y, A, B, C);                                                       \
    }
KB(kb_000, 0, 0, 0)
KB(kb_100, 1, 0, 0)
KB(kb_010, 0, 1, 0)
KB(kb_110, 1, 1, 0)
KB(kb_001, 0, 0, 1)
KB(kb_101, 1, 0, 1)
KB(kb_011, 0, 1, 1)
KB(kb_111, 1, 1, 1)

void rnpu_kernel_block(const rnpu_lanes *L, const float *x, int64_t n, rnpu_lstate *s, float *y)
{
    typedef void (*kfn)(const rnpu_lanes *, const float *, int64_t, rnpu_lstate *, float *);
    static const kfn tab[8] = {kb_000, kb_100, kb_010, kb_110, kb_001, kb_101, kb_011, kb_111};
    tab[(L->softplus ? 1 : 0) | (L->trap ? 2 : 0) | (L->ftraps ? 4 : 0)](L, x, n, s, y);
}

/* Lane parameters for lane l: device d with controls vc[6], sample period h. */
void rnpu_lanes_set(rnpu_lanes *L, int l, const mt_rnpu *d, const double *vc, double h)
{
    double V[MT_RNPU_NB] = {0};
    for (int k = 0; k < MT_RNPU_NC; k++) V[k + 1] = vc[k];
    L->softplus = d->p.gate == MT_RNPU_GATE_SOFTPLUS;
    L->trap = d->p.trap;
    L->ftraps = d->ntr > 0;
    for (int j = 0; j < 4; j++) {
        int on = j < d->ntr;
        double u = 0;
        for (int i = 1; i < MT_RNPU_NB; i++) u += d->tr_c[j][i] * V[i];
        L->fuK[j][l] = (float)u;
        L->fc0[j][l] = (float)d->tr_c[j][0];
        L->fC[j][l] = (float)d->tr_C[j];
        L->fth[j][l] = (float)d->tr_th[j];
        L->fre[j][l] = (float)(h / d->tr_tau[j]);
        L->fsrh[j][l] = d->p.traps_srh ? 1.0f : 0.0f;
        for (int k = 0; k < MT_RNPU_NB; k++) L->fg[k][j][l] = on ? (float)d->tr_g[k][j] : 0.0f;
    }
    L->h = (float)h;
    for (int k = 0; k < MT_RNPU_NB; k++) {
        double e = 0;
        for (int j = 1; j < MT_RNPU_NB; j++) e += d->b[k][j] * V[j];
        L->eK[k][l] = (float)e;
        L->lnG[k][l] = (float)log(d->G[k] * 1e9); /* nS */
        L->b0[k][l] = (float)d->b[k][0];
        L->B[k][l] = (float)d->B[k];
        L->ivx[k][l] = (float)d->ivx[k];
        L->Vk[k][l] = (float)V[k];
        L->th[k][l] = (float)d->theta[k];
        L->Gth[k][l] = (float)(d->G[k] * 1e9 * exp(d->theta[k]));
    }
    L->kio[l] = (float)d->kio;
    L->gbuf[l] = (float)(d->Gbuf * 1e9);
    L->hC[l] = (float)(h * 1e-9 / d->C); /* G[nS] · hC = G·h/C */
    L->gamma[l] = (float)(d->p.trap ? d->p.trap_gamma : 0.0);
    L->iQ[l] = (float)(1e-9 / d->trap_q); /* J[nA] · iQ = J/Q_t [1/s] */
    L->rate[l] = (float)d->trap_rate;
}

/* Fill unused lanes with a copy of lane 0 (their results are discarded). */
void rnpu_lanes_pad(rnpu_lanes *L, int used)
{
    for (int l = used; l < RNPU_W; l++) {
        for (int k = 0; k < MT_RNPU_NB; k++) {
            L->eK[k][l] = L->eK[k][0];
            L->lnG[k][l] = L->lnG[k][0];
            L->b0[k][l] = L->b0[k][0];
            L->B[k][l] = L->B[k][0];
            L->ivx[k][l] = L->ivx[k][0];
            L->Vk[k][l] = L->Vk[k][0];
            L->th[k][l] = L->th[k][0];
            L->Gth[k][l] = L->Gth[k][0];
        }
        L->kio[l] = L->kio[0];
        L->gbuf[l] = L->gbuf[0];
        L->hC[l] = L->hC[0];
        L->gamma[l] = L->gamma[0];
        L->iQ[l] = L->iQ[0];
        L->rate[l] = L->rate[0];
    }
}

static const mt_rnpu *dev_of(const mt_rnpu *d, const mt_rnpu *const *devs, int c)
{
    return devs ? devs[c] : d;
}

void mt_rnpu_run_multi_naive(const mt_rnpu *d, const mt_rnpu *const *devs, int nch,
                             const double *vc, const float *x, int64_t n, double rate_hz,
                             mt_rnpu_state *st, double *y)
{
    const double h = 1.0 / rate_hz;
    for (int c = 0; c < nch; c++) {
        const mt_rnpu *dc = dev_of(d, devs, c);
        double v[MT_RNPU_NB];
        for (int k = 0; k < MT_RNPU_NC; k++) v[k + 1] = vc[c * MT_RNPU_NC + k];
        for (int64_t i = 0; i < n; i++) {
            v[0] = x[i];
            mt_rnpu_step(dc, v, h, 0.0, &st[c]);
            if (y) y[(size_t)c * (size_t)n + (size_t)i] = st[c].vo;
        }
    }
}

void mt_rnpu_run_multi(const mt_rnpu *d, const mt_rnpu *const *devs, int nch, const double *vc,
                       const float *x, int64_t n, double rate_hz, mt_rnpu_state *st, double *y)
{
    /* The MLP law has no vector kernel: use the reference. */
    for (int c = 0; c < nch; c++)
        if (dev_of(d, devs, c)->p.law != MT_RNPU_LAW_SCLC) {
            mt_rnpu_run_multi_naive(d, devs, nch, vc, x, n, rate_hz, st, y);
            return;
        }
    const double h = 1.0 / rate_hz;
    const int64_t CH = 1024; /* samples per chunk (interleaved buffer) */
    float *buf = y ? malloc(sizeof(float) * RNPU_W * (size_t)(n < CH ? n : CH)) : NULL;
    rnpu_lanes *L = aligned_alloc(64, sizeof *L);
    if ((y && !buf) || !L) { /* out of memory: fall back to the allocation-free reference */
        free(buf), free(L);
        mt_rnpu_run_multi_naive(d, devs, nch, vc, x, n, rate_hz, st, y);
        return;
    }
    for (int c0 = 0; c0 < nch; c0 += RNPU_W) {
        int used = nch - c0 < RNPU_W ? nch - c0 : RNPU_W;
        rnpu_lstate ls;
        for (int l = 0; l < RNPU_W; l++) {
            int c = c0 + (l < used ? l : 0);
            rnpu_lanes_set(L, l, dev_of(d, devs, c), vc + (size_t)c * MT_RNPU_NC, h);
            ls.vo[l] = (float)st[c].vo;
            ls.q[l] = (float)st[c].q;
            ls.vp[l] = (float)st[c].vin_prev;
            for (int j = 0; j < 4; j++) ls.f[j][l] = (float)st[c].f[j];
        }
        for (int64_t i0 = 0; i0 < n; i0 += CH) {
            int64_t m = n - i0 < CH ? n - i0 : CH;
            rnpu_kernel_block(L, x + i0, m, &ls, buf);
            if (y)
                for (int l = 0; l < used; l++) {
                    double *yc = y + (size_t)(c0 + l) * (size_t)n + (size_t)i0;
                    for (int64_t i = 0; i < m; i++) yc[i] = buf[i * RNPU_W + l];
                }
        }
        for (int l = 0; l < used; l++) {
            st[c0 + l].vo = ls.vo[l];
            st[c0 + l].q = ls.q[l];
            st[c0 + l].vin_prev = ls.vp[l];
            for (int j = 0; j < 4; j++) st[c0 + l].f[j] = ls.f[j][l];
        }
    }
    free(buf);
    free(L);
}
