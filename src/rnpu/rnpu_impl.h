/* Private: the RNPU device instance and helpers shared by the src/rnpu sources. */
#ifndef MATERIA_RNPU_IMPL_H
#define MATERIA_RNPU_IMPL_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "materia/rnpu.h"

/* A loaded MLP (brains-py surrogate layout: Linear → ReLU → … → Linear). */
typedef struct rnpu_mlp {
    int nl;        /* number of linear layers */
    int dim[9];    /* dim[0] = 7 inputs, dim[nl] = 1 output */
    float *w[8];   /* w[l]: [dim[l+1], dim[l]] row-major */
    float *b[8];   /* b[l]: [dim[l+1]] */
    int maxdim;
} rnpu_mlp;

struct mt_rnpu {
    mt_rnpu_params p;
    uint64_t seed;
    /* branch k = electrode k → output (k = 0 input, 1..6 controls) */
    double G[MT_RNPU_NB];       /* prefactor, S (calibrated, temperature applied) */
    double lnG[MT_RNPU_NB];
    double ivx[MT_RNPU_NB];     /* 1 / Vx_k, 1/V */
    double b[MT_RNPU_NB][MT_RNPU_NB]; /* gating b[k][j], j = 0 input, 1..6 controls, 1/V */
    double B[MT_RNPU_NB];       /* Σ_j b[k][j]: the state (Vo) dependence, 1/V */
    double theta[MT_RNPU_NB];   /* softplus gate thresholds (e units) */
    double Gl[MT_RNPU_NB][MT_RNPU_NB];  /* leak prefactors k<l, S */
    double ivxl[MT_RNPU_NB][MT_RNPU_NB];
    double C;      /* node capacitance C_ext + C_io, F */
    double kio;    /* feedthrough fraction C_io / (C_ext + C_io) */
    double Gbuf;   /* 1 / R_buf, S */
    double trap_q; /* trap charge, C */
    double trap_rate; /* 1 / τ_emission, 1/s */
    double noise_sd; /* current-noise rms per unit sqrt(h): sqrt(S/2) / C, V/√s */
    /* fast trap populations */
    int ntr;
    double tr_c[MT_RNPU_MAXTRAPS][MT_RNPU_NB]; /* lever arms c_ji (i = 0 input, 1..6 controls), 1/V */
    double tr_C[MT_RNPU_MAXTRAPS];             /* Σ_i c_ji (Vo dependence) */
    double tr_th[MT_RNPU_MAXTRAPS];            /* Fermi offsets */
    double tr_tau[MT_RNPU_MAXTRAPS];           /* SRH time constants, s */
    double tr_g[MT_RNPU_NB][MT_RNPU_MAXTRAPS]; /* coupling into branch k's gating */
    double g_scale, leak_scale, cal_tau_ms;
    rnpu_mlp *mlp;
};

/* device.c */
double rnpu_sclc_F(double x, double ivx, double *dF);
void rnpu_mlp_free(rnpu_mlp *m);
mt_status rnpu_mlp_load(const char *path, rnpu_mlp **out, mt_err *err);
/* MLP current (nA units × amp) and its derivative along the all-ones direction. */
double rnpu_mlp_eval(const rnpu_mlp *m, const double x[7], double *dsum);
/* Median τ (s) of 1-V steps over n control sets (25 kS/s). Uses the fast kernel. */
double rnpu_median_tau(const mt_rnpu *d, int n, const double *vc);

/* Counter-based noise: a standard-normal-like deviate from a 64-bit key (Irwin–Hall sum of four
 * 16-bit uniforms, unit variance, |z| ≤ 3.46).  Pure function of the key. */
static inline uint64_t rnpu_mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static inline double rnpu_noise(uint64_t key)
{
    uint64_t h = rnpu_mix64(key);
    int32_t s = (int32_t)(h & 0xffff) + (int32_t)((h >> 16) & 0xffff) + (int32_t)((h >> 32) & 0xffff) +
                (int32_t)(h >> 48);
    /* mean 4·32767.5, variance 4·(65536² − 1)/12 */
    return ((double)s - 131070.0) * (1.0 / 37837.2259);
}

#endif
