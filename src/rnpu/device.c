/* RNPU device: parameters, seeded random instance, static currents, naive integrator,
 * calibration.  Physics and equations: include/materia/rnpu.h, shared/spec/rnpu.md §c,
 * docs/rnpu-model.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "materia/rng.h"
#include "rnpu_impl.h"

#define KB_EV 8.617333262e-5 /* Boltzmann constant, eV/K */

/* Random streams of one device seed (fixed order: a seed means the same device everywhere). */
enum { STREAM_DEVICE = 1, STREAM_CAL = 2, STREAM_POWER = 3 };

void mt_rnpu_params_spec(mt_rnpu_params *p)
{
    memset(p, 0, sizeof *p);
    p->c_ext_pf = 100.0;
    p->r_buf_gohm = 10.0;
    p->temp_k = 300.0;
    p->ea_ev = 0.4;
    p->noise_a2hz = 0.0;
    p->law = MT_RNPU_LAW_SCLC;
    p->mlp_amp = 1.0;
    p->g_med_ns = 0.1;
    p->g_sigma = 0.5;
    p->neighbour_gain = 2.0;
    p->input_gain = 1.0;
    p->vx_lo = 0.25;
    p->vx_hi = 0.5;
    p->mu_b = 0.75;
    p->sigma_b = 0.5;
    p->mu_a = 0.75;
    p->sigma_a = 0.7;
    p->g_leak_ns = 0.75;
    p->calibrate = 1;
    p->tau_target_ms = 20.0;
    p->power_target_nw = 1.9;
    p->cal_sets = 32;
    p->c_io_pf = 0.0;
    p->gate = MT_RNPU_GATE_EXP;
    p->theta_lo = 0.0;
    p->theta_hi = 1.0;
    p->trap = 0;
    p->trap_gamma = 1.0;
    p->trap_q_pc = 1.0;
    p->trap_tau_ms = 200.0;
    p->traps = 0;
    p->traps_e_lo_ev = 0.40;
    p->traps_e_hi_ev = 0.52;
    p->traps_tau0_s = 1e-11;
    p->traps_gamma = 1.0;
    p->traps_sigma_c = 1.0;
    p->traps_theta_lo = -1.0;
    p->traps_theta_hi = 1.0;
    p->traps_srh = 0;
}

void mt_rnpu_params_v1(mt_rnpu_params *p)
{
    /* Model v1 (the default until 2026-12-04) = the spec model plus a 0.2-pF input→output
     * coupling capacitance (docs/rnpu-model.md §5).  Estimate: each bond pad (~100 µm × 100 µm on
     * 280 nm SiO2) has C_pad ≈ 1.2 pF to the conductive 5 Ω·cm wafer; with the substrate floating,
     * the input pad drives it against the 8 pads (÷8) and the output pad couples it onto C_ext:
     * C_io ≈ C_pad/8 ≈ 0.15 pF, plus ~0.05 pF of lead/probe fringe. */
    mt_rnpu_params_spec(p);
    p->c_io_pf = 0.2;
}

void mt_rnpu_params_default(mt_rnpu_params *p)
{
    /* Model v2, the default (docs/rnpu-model.md §4e): v1 plus
     *  - C_ext = 30 pF, the middle (log scale) of the paper's "roughly 10–100 pF";
     *  - a depleting input: the input's mean lever arm on every branch exponent is −3 V⁻¹
     *    (a positive input pushes holes out of the output's conduction paths; the output current's
     *    NDR against the input, ED Fig. 1c, and the staircase of the public room-temperature
     *    surrogate, whose τ rises with the step height, spec rnpu.md §a.3).  Large inputs then
     *    slow the device, the τ calibration raises G, and small signals around rest are fast;
     *  - controls' mean lever 1.0 V⁻¹ (keeps the paired-pulse ratio, T2, in range);
     *  - the slow output-contact trap (Pb centres) filled by the through-current: 9 pC at γ = 1,
     *    emission 200 ms, which carries the paired-pulse memory of ED Fig. 2 once the output node
     *    itself discharges fast.
     * Static power (T7) bounds how far this can go: the rest conductance is what burns it. */
    mt_rnpu_params_v1(p);
    p->c_ext_pf = 30.0;
    p->mu_a = -3.0;
    p->mu_b = 1.0;
    p->trap = 1;
    p->trap_q_pc = 9.0;
}

const mt_rnpu_params *mt_rnpu_get_params(const mt_rnpu *d) { return &d->p; }

void mt_rnpu_calibration(const mt_rnpu *d, double *g_scale, double *leak_scale, double *tau_ms)
{
    if (g_scale) *g_scale = d->g_scale;
    if (leak_scale) *leak_scale = d->leak_scale;
    if (tau_ms) *tau_ms = d->cal_tau_ms;
}

/* F(x) = x·(1 + (|x|/Vx)^1.5) and dF/dx = 1 + 2.5·(|x|/Vx)^1.5 (spec §c.2, m = 2.5). */
double rnpu_sclc_F(double x, double ivx, double *dF)
{
    double a = fabs(x) * ivx;
    double as = a * sqrt(a);
    if (dF) *dF = 1.0 + 2.5 * as;
    return x * (1.0 + as);
}

/* Gate n(e) and dn/de. */
static inline double gate_n(const mt_rnpu *d, int k, double e, double *dn)
{
    if (d->p.gate == MT_RNPU_GATE_SOFTPLUS) {
        double z = e - d->theta[k];
        double ez = exp(-fabs(z));
        double sp = (z > 0 ? z : 0.0) + log1p(ez);
        double sig = z > 0 ? 1.0 / (1.0 + ez) : ez / (1.0 + ez);
        double s = exp(d->theta[k]);
        *dn = s * sig;
        return s * sp;
    }
    double g = exp(e);
    *dn = g;
    return g;
}

/* Output-node current from the compact law, its conductance Gd = −∂I/∂Vo (buffer excluded) and
 * the through-current J = Σ|I_k| (trap filling).  v[0..6] electrodes, vo output, q trap. */
static double sclc_current(const mt_rnpu *d, const double *v, double vo, double q, const double *f,
                           double *gd, double *jsum, double *ibr)
{
    double I = 0, G = 0, J = 0;
    for (int k = 0; k < MT_RNPU_NB; k++) {
        double e = -d->B[k] * vo - d->p.trap_gamma * q * (d->p.trap ? 1.0 : 0.0);
        if (f)
            for (int j = 0; j < d->ntr; j++) e += d->tr_g[k][j] * f[j];
        for (int j = 0; j < MT_RNPU_NB; j++) e += d->b[k][j] * v[j];
        double dn, n = gate_n(d, k, e, &dn);
        double dF, F = rnpu_sclc_F(v[k] - vo, d->ivx[k], &dF);
        double Ik = d->G[k] * n * F;
        I += Ik;
        J += fabs(Ik);
        G += d->G[k] * (dn * d->B[k] * F + n * dF);
        if (ibr) ibr[k] = Ik;
    }
    if (gd) *gd = G;
    if (jsum) *jsum = J;
    return I;
}

/* Equilibrium occupancy of the fast traps at static potentials v (output v[7]). */
static const double *traps_eq(const mt_rnpu *d, const double *v, double *f)
{
    if (!d->ntr) return NULL;
    for (int j = 0; j < d->ntr; j++) {
        double u = -d->tr_C[j] * v[7];
        for (int i = 0; i < MT_RNPU_NB; i++) u += d->tr_c[j][i] * v[i];
        f[j] = 1.0 / (1.0 + exp(-(u - d->tr_th[j])));
    }
    return f;
}

double mt_rnpu_output_current(const mt_rnpu *d, const double v[MT_RNPU_NE])
{
    if (d->p.law == MT_RNPU_LAW_MLP) {
        double x[7];
        for (int k = 0; k < 7; k++) x[k] = v[k] - v[7];
        return 1e-9 * d->p.mlp_amp * rnpu_mlp_eval(d->mlp, x, NULL);
    }
    double f[MT_RNPU_MAXTRAPS];
    return sclc_current(d, v, v[7], 0.0, traps_eq(d, v, f), NULL, NULL, NULL);
}

void mt_rnpu_electrode_currents(const mt_rnpu *d, const double v[MT_RNPU_NE], double i[MT_RNPU_NE])
{
    if (d->p.law == MT_RNPU_LAW_MLP) {
        for (int k = 0; k < 7; k++) i[k] = NAN;
        i[7] = -mt_rnpu_output_current(d, v);
        return;
    }
    double ibr[MT_RNPU_NB];
    double f[MT_RNPU_MAXTRAPS];
    double I = sclc_current(d, v, v[7], 0.0, traps_eq(d, v, f), NULL, NULL, ibr);
    for (int k = 0; k < MT_RNPU_NB; k++) i[k] = ibr[k];
    i[7] = -I;
    for (int k = 0; k < MT_RNPU_NB; k++)
        for (int l = k + 1; l < MT_RNPU_NB; l++) {
            double il = d->Gl[k][l] * rnpu_sclc_F(v[k] - v[l], d->ivxl[k][l], NULL);
            i[k] += il;
            i[l] -= il;
        }
}

double mt_rnpu_static_power(const mt_rnpu *d, const double v[MT_RNPU_NE])
{
    double w[MT_RNPU_NE], i[MT_RNPU_NE];
    memcpy(w, v, sizeof w);
    w[7] = 0.0; /* output held at 0 V (ED Fig. 7) */
    mt_rnpu_electrode_currents(d, w, i);
    double P = 0;
    for (int k = 0; k < MT_RNPU_NE; k++) P += w[k] * i[k];
    return P;
}

/* ---------------------------------------------------------------- naive integrator --------- */

void mt_rnpu_step(const mt_rnpu *d, const double v[MT_RNPU_NB], double h, double noise,
                  mt_rnpu_state *st)
{
    /* Input feedthrough: the charge C_io·ΔVin is shared onto the node at the DAC edge. */
    double vo = st->vo + d->kio * (v[0] - st->vin_prev);
    st->vin_prev = v[0];
    double I, Gd, J = 0;
    if (d->p.law == MT_RNPU_LAW_MLP) {
        double x[7], ds;
        for (int k = 0; k < 7; k++) x[k] = v[k] - vo;
        double s = 1e-9 * d->p.mlp_amp;
        I = s * rnpu_mlp_eval(d->mlp, x, &ds);
        Gd = s * ds; /* ∂f/∂Vo = −Σ ∂f/∂x_k, so −∂I/∂Vo = s·Σ ∂f/∂x_k */
    } else {
        I = sclc_current(d, v, vo, st->q, d->ntr ? st->f : NULL, &Gd, &J, NULL);
    }
    /* fast traps: f_j → f∞(u_j) with SRH time τ_j, exact for u_j held over the step (uses the
     * potentials at the start of the step, like the currents) */
    for (int j = 0; j < d->ntr; j++) {
        double u = -d->tr_C[j] * vo;
        for (int i = 0; i < MT_RNPU_NB; i++) u += d->tr_c[j][i] * v[i];
        double ez = exp(-(u - d->tr_th[j]));
        double finf = 1.0 / (1.0 + ez);
        /* SRH: rate = emission + capture = (1/τ_j)(1 + e^(u−θ_j)) (traps_srh), else 1/τ_j */
        double rate = (1.0 + (d->p.traps_srh ? 1.0 / ez : 0.0)) / d->tr_tau[j];
        st->f[j] = finf + (st->f[j] - finf) * exp(-h * rate);
    }
    I -= vo * d->Gbuf;
    Gd += d->Gbuf;
    if (Gd < 1e-15) Gd = 1e-15; /* a locally negative node conductance: fall back to Euler-like */
    /* exponential Euler: exact for the linearised node, L-stable (spec §c.4) */
    vo += (I / Gd) * (-expm1(-Gd * h / d->C));
    if (d->noise_sd > 0) vo += d->noise_sd * sqrt(h) * noise;
    st->vo = vo;
    if (d->p.trap) {
        /* dq/dt = (J/Q_t)(1 − q) − q/τ_e: traps at the output contact fill with the through-
         * current and empty thermally.  Exact for J held over the step. */
        double a = J / d->trap_q, r = a + d->trap_rate;
        double qinf = a / r;
        st->q = qinf + (st->q - qinf) * exp(-r * h);
    }
}

void mt_rnpu_run(const mt_rnpu *d, const double vc[MT_RNPU_NC], const double *vin, int64_t n,
                 double rate_hz, mt_rnpu_state *st, double *vo)
{
    double v[MT_RNPU_NB];
    for (int k = 0; k < MT_RNPU_NC; k++) v[k + 1] = vc[k];
    double h = 1.0 / rate_hz;
    for (int64_t i = 0; i < n; i++) {
        v[0] = vin[i];
        mt_rnpu_step(d, v, h, 0.0, st);
        if (vo) vo[i] = st->vo;
    }
}

void mt_rnpu_random_controls(uint64_t seed, uint64_t stream, int n, double range,
                             double neighbour_div, double *vc)
{
    mt_rng r;
    mt_rng_init(&r, seed, stream);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < MT_RNPU_NC; k++) {
            int e = k + 1;
            double a = (e == 1 || e == 6) ? range / neighbour_div : range;
            vc[i * MT_RNPU_NC + k] = mt_rng_range(&r, -a, a);
        }
}

/* ---------------------------------------------------------------- instance + calibration --- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void set_lnG(mt_rnpu *d)
{
    for (int k = 0; k < MT_RNPU_NB; k++) d->lnG[k] = log(d->G[k]);
}

static mt_status check_params(const mt_rnpu_params *p, mt_err *err)
{
#define REQ(cond, ...) \
    if (!(cond)) return mt_err_set(err, MT_ERR_ARG, __VA_ARGS__)
    REQ(isfinite(p->c_ext_pf) && p->c_ext_pf > 0 && p->c_ext_pf < 1e6,
        "c_ext_pf must be in (0, 1e6) pF (got %g)", p->c_ext_pf);
    REQ(isfinite(p->r_buf_gohm) && p->r_buf_gohm > 0, "r_buf_gohm must be > 0 (got %g)",
        p->r_buf_gohm);
    REQ(isfinite(p->temp_k) && p->temp_k >= 50 && p->temp_k <= 500,
        "temp_k must be in [50, 500] K (got %g)", p->temp_k);
    REQ(isfinite(p->ea_ev) && p->ea_ev >= 0 && p->ea_ev < 2, "ea_ev must be in [0, 2) (got %g)",
        p->ea_ev);
    REQ(isfinite(p->noise_a2hz) && p->noise_a2hz >= 0, "noise_a2hz must be >= 0");
    REQ(isfinite(p->g_med_ns) && p->g_med_ns > 0, "g_med_ns must be > 0");
    REQ(isfinite(p->g_sigma) && p->g_sigma >= 0 && p->g_sigma < 5, "g_sigma must be in [0, 5)");
    REQ(isfinite(p->neighbour_gain) && p->neighbour_gain > 0, "neighbour_gain must be > 0");
    REQ(isfinite(p->input_gain) && p->input_gain > 0, "input_gain must be > 0");
    REQ(isfinite(p->vx_lo) && isfinite(p->vx_hi) && p->vx_lo > 0 && p->vx_hi >= p->vx_lo,
        "need 0 < vx_lo <= vx_hi");
    REQ(isfinite(p->mu_b) && fabs(p->mu_b) < 20, "mu_b must be in (-20, 20) 1/V");
    REQ(isfinite(p->sigma_b) && p->sigma_b >= 0 && p->sigma_b < 20, "sigma_b must be in [0, 20)");
    REQ(isfinite(p->mu_a) && fabs(p->mu_a) < 20, "mu_a must be in (-20, 20) 1/V");
    REQ(isfinite(p->sigma_a) && p->sigma_a >= 0 && p->sigma_a < 20, "sigma_a must be in [0, 20)");
    REQ(isfinite(p->g_leak_ns) && p->g_leak_ns >= 0, "g_leak_ns must be >= 0");
    REQ(isfinite(p->tau_target_ms) && p->tau_target_ms > 0.1 && p->tau_target_ms < 1000,
        "tau_target_ms must be in (0.1, 1000)");
    REQ(isfinite(p->power_target_nw) && p->power_target_nw > 0, "power_target_nw must be > 0");
    REQ(p->cal_sets >= 4 && p->cal_sets <= 1024, "cal_sets must be in [4, 1024]");
    REQ(isfinite(p->c_io_pf) && p->c_io_pf >= 0 && p->c_io_pf < 1e6, "c_io_pf must be >= 0");
    REQ(p->gate == MT_RNPU_GATE_EXP || p->gate == MT_RNPU_GATE_SOFTPLUS, "unknown gate law");
    REQ(isfinite(p->theta_lo) && isfinite(p->theta_hi) && p->theta_hi >= p->theta_lo &&
            fabs(p->theta_lo) < 50 && fabs(p->theta_hi) < 50,
        "need theta_lo <= theta_hi, both within ±50");
    REQ(isfinite(p->trap_gamma) && p->trap_gamma >= 0 && p->trap_gamma < 50,
        "trap_gamma must be in [0, 50)");
    REQ(isfinite(p->trap_q_pc) && p->trap_q_pc > 0, "trap_q_pc must be > 0");
    REQ(isfinite(p->trap_tau_ms) && p->trap_tau_ms > 0, "trap_tau_ms must be > 0");
    REQ(p->traps >= 0 && p->traps <= MT_RNPU_MAXTRAPS, "traps must be in [0, 4]");
    REQ(isfinite(p->traps_e_lo_ev) && isfinite(p->traps_e_hi_ev) && p->traps_e_lo_ev > 0 &&
            p->traps_e_hi_ev >= p->traps_e_lo_ev && p->traps_e_hi_ev < 1.2,
        "need 0 < traps_e_lo_ev <= traps_e_hi_ev < 1.2 eV");
    REQ(isfinite(p->traps_tau0_s) && p->traps_tau0_s > 0 && p->traps_tau0_s < 1, "traps_tau0_s must be in (0, 1) s");
    REQ(isfinite(p->traps_gamma) && fabs(p->traps_gamma) < 50, "traps_gamma must be within ±50");
    REQ(isfinite(p->traps_sigma_c) && p->traps_sigma_c >= 0 && p->traps_sigma_c < 20, "traps_sigma_c must be in [0, 20)");
    REQ(isfinite(p->traps_theta_lo) && isfinite(p->traps_theta_hi) && p->traps_theta_hi >= p->traps_theta_lo &&
            fabs(p->traps_theta_lo) < 50 && fabs(p->traps_theta_hi) < 50,
        "need traps_theta_lo <= traps_theta_hi, within ±50");
    REQ(p->law == MT_RNPU_LAW_SCLC || p->law == MT_RNPU_LAW_MLP, "unknown device law");
    REQ(isfinite(p->mlp_amp) && p->mlp_amp > 0, "mlp_amp must be > 0");
    if (p->law == MT_RNPU_LAW_MLP && !p->mlp_path[0])
        return mt_err_set(err, MT_ERR_ARG, "law 'mlp' needs mlp_path (a .safetensors or .npy file)");
#undef REQ
    return MT_OK;
}

double rnpu_median_tau(const mt_rnpu *d, int n, const double *vc)
{
    /* settle 0.5 s at Vin = 0, then a 1-V step, record 1 s (25 kS/s), τ by 63 % crossing */
    const double fs = 25000.0;
    const int64_t ns = 12500, nr = 25000;
    float *x = malloc(sizeof(float) * (size_t)(ns + nr));
    double *y = malloc(sizeof(double) * (size_t)n * (size_t)(ns + nr));
    mt_rnpu_state *st = calloc((size_t)n, sizeof *st);
    double *t = malloc(sizeof(double) * (size_t)n);
    if (!x || !y || !st || !t) {
        free(x), free(y), free(st), free(t);
        return NAN;
    }
    for (int64_t i = 0; i < ns + nr; i++) x[i] = i < ns ? 0.0f : 1.0f;
    mt_rnpu_run_multi(d, NULL, n, vc, x, ns + nr, fs, st, y);
    int m = 0;
    for (int c = 0; c < n; c++) {
        double tau = mt_rnpu_tau_crossing(y + (size_t)c * (size_t)(ns + nr), ns + nr, ns, fs);
        if (tau > 0) t[m++] = tau;
    }
    double med = NAN;
    if (m > 0) {
        qsort(t, (size_t)m, sizeof(double), cmp_double);
        med = (m % 2) ? t[m / 2] : 0.5 * (t[m / 2 - 1] + t[m / 2]);
    }
    free(x), free(y), free(st), free(t);
    return med;
}

mt_status mt_rnpu_create(const mt_rnpu_params *p, uint64_t seed, mt_rnpu **out, mt_err *err)
{
    *out = NULL;
    mt_status s = check_params(p, err);
    if (s) return s;
    mt_rnpu *d = calloc(1, sizeof *d);
    if (!d) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    d->p = *p;
    d->seed = seed;
    d->C = (p->c_ext_pf + p->c_io_pf) * 1e-12;
    d->kio = p->c_io_pf / (p->c_ext_pf + p->c_io_pf);
    d->Gbuf = 1.0 / (p->r_buf_gohm * 1e9);
    d->trap_q = p->trap_q_pc * 1e-12;
    d->trap_rate = 1000.0 / p->trap_tau_ms;
    d->noise_sd = sqrt(p->noise_a2hz / 2.0) / d->C;
    d->g_scale = 1.0;
    d->leak_scale = 1.0;
    d->cal_tau_ms = NAN;

    if (p->law == MT_RNPU_LAW_MLP) {
        s = rnpu_mlp_load(p->mlp_path, &d->mlp, err);
        if (s) {
            free(d);
            return s;
        }
        *out = d;
        return MT_OK;
    }

    /* Seeded draws in a fixed order (spec §c.3). */
    mt_rng r;
    mt_rng_init(&r, seed, STREAM_DEVICE);
    for (int k = 0; k < MT_RNPU_NB; k++) {
        double g = p->g_med_ns * 1e-9 * exp(p->g_sigma * mt_rng_normal(&r));
        if (k == 1 || k == 6) g *= p->neighbour_gain;
        if (k == 0) g *= p->input_gain;
        d->G[k] = g;
        d->ivx[k] = 1.0 / mt_rng_range(&r, p->vx_lo, p->vx_hi + 1e-300);
        for (int j = 0; j < MT_RNPU_NB; j++)
            d->b[k][j] = (j == 0 ? p->mu_a + p->sigma_a * mt_rng_normal(&r)
                                  : p->mu_b + p->sigma_b * mt_rng_normal(&r));
    }
    for (int k = 0; k < MT_RNPU_NB; k++)
        for (int l = k + 1; l < MT_RNPU_NB; l++) {
            d->Gl[k][l] = p->g_leak_ns * 1e-9 * exp(p->g_sigma * mt_rng_normal(&r));
            d->ivxl[k][l] = 1.0 / mt_rng_range(&r, p->vx_lo, p->vx_hi + 1e-300);
        }
    /* Mechanism draws come from their own stream so the spec device is unchanged by them. */
    mt_rng r2;
    mt_rng_init(&r2, seed, 16);
    for (int k = 0; k < MT_RNPU_NB; k++) d->theta[k] = mt_rng_range(&r2, p->theta_lo, p->theta_hi + 1e-300);
    /* fast trap populations, own stream: depth → SRH time (temperature enters here too) */
    mt_rng r3;
    mt_rng_init(&r3, seed, 17);
    d->ntr = p->traps;
    for (int j = 0; j < MT_RNPU_MAXTRAPS; j++) {
        double E = mt_rng_range(&r3, p->traps_e_lo_ev, p->traps_e_hi_ev + 1e-300);
        d->tr_th[j] = mt_rng_range(&r3, p->traps_theta_lo, p->traps_theta_hi + 1e-300);
        d->tr_C[j] = 0;
        for (int i = 0; i < MT_RNPU_NB; i++) {
            d->tr_c[j][i] = p->mu_b + p->traps_sigma_c * mt_rng_normal(&r3);
            d->tr_C[j] += d->tr_c[j][i];
        }
        for (int k = 0; k < MT_RNPU_NB; k++) d->tr_g[k][j] = p->traps_gamma * mt_rng_normal(&r3);
        d->tr_tau[j] = p->traps_tau0_s * exp(E / (KB_EV * p->temp_k));
    }
    for (int k = 0; k < MT_RNPU_NB; k++) {
        d->B[k] = 0;
        for (int j = 0; j < MT_RNPU_NB; j++) d->B[k] += d->b[k][j];
    }
    set_lnG(d);

    if (p->calibrate) {
        int n = p->cal_sets;
        double *vc = malloc(sizeof(double) * (size_t)n * MT_RNPU_NC);
        if (!vc) {
            free(d);
            return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
        }
        mt_rnpu_random_controls(seed, STREAM_CAL, n, 0.4, 2.0, vc);
        const double target = p->tau_target_ms * 1e-3;
        double med = NAN;
        for (int it = 0; it < 8; it++) {
            med = rnpu_median_tau(d, n, vc);
            if (!(med > 0)) break;
            double sc = med / target; /* τ ∝ C/G: scale G by measured/target */
            if (fabs(sc - 1.0) < 0.002) break;
            for (int k = 0; k < MT_RNPU_NB; k++) d->G[k] *= sc;
            d->g_scale *= sc;
            set_lnG(d);
        }
        d->cal_tau_ms = med * 1e3;
        free(vc);
        if (!(med > 0)) {
            free(d);
            return mt_err_set(err, MT_ERR_DATA,
                              "calibration failed: no measurable step response (seed %llu)",
                              (unsigned long long)seed);
        }
        /* Static power: branch part + leak part, averaged over NP sets (the expected value of the
         * paper's 10-set mean); scale the leaks so the total hits the target (linear, exact). */
        enum { NP = 200 };
        double vp[NP * MT_RNPU_NC];
        mt_rnpu_random_controls(seed, STREAM_POWER, NP, 0.4, 2.0, vp);
        double pb = 0, pl = 0;
        for (int i = 0; i < NP; i++) {
            double v[MT_RNPU_NE] = {0};
            for (int k = 0; k < MT_RNPU_NC; k++) v[k + 1] = vp[i * MT_RNPU_NC + k];
            double ptot = mt_rnpu_static_power(d, v);
            double ibr[MT_RNPU_NB];
            double f[MT_RNPU_MAXTRAPS];
            sclc_current(d, v, 0.0, 0.0, traps_eq(d, v, f), NULL, NULL, ibr);
            double pbr = 0;
            for (int k = 0; k < MT_RNPU_NB; k++) pbr += v[k] * ibr[k];
            pb += pbr / NP;
            pl += (ptot - pbr) / NP;
        }
        double want = p->power_target_nw * 1e-9 - pb;
        double ls = (pl > 0 && want > 0) ? want / pl : 0.0;
        for (int k = 0; k < MT_RNPU_NB; k++)
            for (int l = k + 1; l < MT_RNPU_NB; l++) d->Gl[k][l] *= ls;
        d->leak_scale = ls;
    }
    /* Temperature: thermally activated conduction, G ∝ exp(−Ea/kT), referred to 300 K. */
    if (p->temp_k != 300.0) {
        double f = exp(-p->ea_ev / KB_EV * (1.0 / p->temp_k - 1.0 / 300.0));
        for (int k = 0; k < MT_RNPU_NB; k++) {
            d->G[k] *= f;
            for (int l = k + 1; l < MT_RNPU_NB; l++) d->Gl[k][l] *= f;
        }
        set_lnG(d);
    }
    *out = d;
    return MT_OK;
}

void mt_rnpu_free(mt_rnpu *d)
{
    if (!d) return;
    rnpu_mlp_free(d->mlp);
    free(d);
}

char *mt_rnpu_describe_json(const mt_rnpu *d)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "seed", (double)d->seed);
    cJSON_AddStringToObject(j, "law", d->p.law == MT_RNPU_LAW_MLP ? "mlp" : "sclc");
    cJSON_AddNumberToObject(j, "c_node_pf", d->C * 1e12);
    cJSON_AddNumberToObject(j, "g_scale", d->g_scale);
    cJSON_AddNumberToObject(j, "leak_scale", d->leak_scale);
    cJSON_AddNumberToObject(j, "cal_tau_ms", isfinite(d->cal_tau_ms) ? d->cal_tau_ms : -1);
    if (d->p.law == MT_RNPU_LAW_SCLC) {
        double g[MT_RNPU_NB], b0[MT_RNPU_NB], vx[MT_RNPU_NB];
        for (int k = 0; k < MT_RNPU_NB; k++) {
            g[k] = d->G[k] * 1e9;
            b0[k] = d->b[k][0];
            vx[k] = 1.0 / d->ivx[k];
        }
        cJSON_AddItemToObject(j, "g_ns", cJSON_CreateDoubleArray(g, MT_RNPU_NB));
        cJSON_AddItemToObject(j, "b_input", cJSON_CreateDoubleArray(b0, MT_RNPU_NB));
        cJSON_AddItemToObject(j, "B", cJSON_CreateDoubleArray(d->B, MT_RNPU_NB));
        cJSON_AddItemToObject(j, "vx_v", cJSON_CreateDoubleArray(vx, MT_RNPU_NB));
        if (d->p.gate == MT_RNPU_GATE_SOFTPLUS)
            cJSON_AddItemToObject(j, "theta", cJSON_CreateDoubleArray(d->theta, MT_RNPU_NB));
    }
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}
