/* Private: the vectorised multi-channel kernel (kernel.c). */
#ifndef MATERIA_RNPU_KERNEL_H
#define MATERIA_RNPU_KERNEL_H

#include "rnpu_impl.h"

#define RNPU_W 16 /* lanes (channels) per block: one AVX-512 register of floats */

/* Per-lane constants of (device, control set) in float, currents in nA and conductances in nS;
 * 64-byte aligned rows. */
typedef struct rnpu_lanes {
    float eK[MT_RNPU_NB][RNPU_W];  /* Σ_{j≥1} b_kj V_j (controls part of the gate exponent) */
    float lnG[MT_RNPU_NB][RNPU_W]; /* ln G_k (exp gate) */
    float b0[MT_RNPU_NB][RNPU_W];  /* b_k0 (input gating) */
    float B[MT_RNPU_NB][RNPU_W];   /* Σ_j b_kj (Vo dependence) */
    float ivx[MT_RNPU_NB][RNPU_W];
    float Vk[MT_RNPU_NB][RNPU_W];  /* electrode voltage (controls; k = 0 unused) */
    float th[MT_RNPU_NB][RNPU_W];  /* softplus thresholds */
    float Gth[MT_RNPU_NB][RNPU_W]; /* G_k e^θ_k (softplus gate) */
    float kio[RNPU_W], gbuf[RNPU_W], hC[RNPU_W], gamma[RNPU_W], iQ[RNPU_W], rate[RNPU_W];
    /* fast traps (4 populations; unused ones have zero coupling) */
    float fuK[4][RNPU_W], fc0[4][RNPU_W], fC[4][RNPU_W], fth[4][RNPU_W];
    float fre[4][RNPU_W];  /* h/τ_j: emission rate × step */
    float fsrh[4][RNPU_W]; /* 1: capture rate ∝ e^(u−θ) adds to it (SRH), 0: fixed τ */
    float fg[MT_RNPU_NB][4][RNPU_W];
    float h;
    int softplus, trap, ftraps;
} __attribute__((aligned(64))) rnpu_lanes;

typedef struct rnpu_lstate {
    float vo[RNPU_W], q[RNPU_W], vp[RNPU_W];
    float f[4][RNPU_W];
} rnpu_lstate;

void rnpu_kernel_block(const rnpu_lanes *L, const float *x, int64_t n, rnpu_lstate *s, float *y);
void rnpu_lanes_set(rnpu_lanes *L, int l, const mt_rnpu *d, const double *vc, double h);
void rnpu_lanes_pad(rnpu_lanes *L, int used);

#endif
