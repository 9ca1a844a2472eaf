/* materia — RNPU device simulator, characterisation lab and feature extractor.
 *
 * The circuit of Zolfagharinejad et al. (Nature 2025), Fig. 2a: an 8-electrode boron-doped
 * silicon RNPU (electrode 0 = input, 1..6 = controls, 7 = output; controls 1 and 6 sit next to
 * the output) whose output node charges an external capacitor C_ext (default 30 pF) and is read
 * by a buffer of input resistance R_buf (default 10 GΩ):
 *
 *     C_node · dVo/dt = Σ_{k=0..6} I_k(V, Vo, q) − Vo/R_buf + C_io·dVin/dt
 *
 * Branch law (shared/spec/rnpu.md §c.2, "gated SCLC branches"):
 *     I_k = G_k · n(e_k) · F_k(V_k − Vo),   e_k = Σ_j b_kj (V_j − Vo) − γ q
 *     F_k(x) = x·(1 + (|x|/Vx_k)^1.5)       (ohmic → trap-limited SCLC, m = 2.5)
 *     n(e)   = exp(e)                                    (spec: pure exponential gating), or
 *            = e^θ·ln(1 + e^(e−θ))                       (gate saturation, EKV-like charge)
 * b_k0 (the input's lever arm) is drawn around mu_a, the controls' b_kj around mu_b.  q is the
 * slow output-contact trap occupancy (second state; on in the default model v2); f_j are optional
 * fast interface-trap occupancies (traps = M populations) with SRH kinetics on 0.05–5 ms time
 * scales.  Every mechanism beyond the spec model is switchable (see mt_rnpu_params) so that its
 * effect can be measured; docs/rnpu-model.md has the physics and the ablation.
 *
 * Integration: exponential (linearised) Euler, one step per DAC sample (ZOH input), with the
 * analytic output conductance Gd = −∂I/∂Vo; unconditionally stable for Gd > 0.
 *
 * Units: volts, amperes, seconds, farads in the API unless a field name says otherwise
 * (…_pf, …_ns, …_nw, …_ms).  All random draws are seeded: (seed) fixes the device instance,
 * (seed, utterance, channel, sample) the measurement noise, so results never depend on the
 * thread count.
 */
#ifndef MATERIA_RNPU_H
#define MATERIA_RNPU_H

#include <stdint.h>

#include "materia/error.h"
#include "materia/progress.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MT_RNPU_NE 8  /* electrodes: 0 input, 1..6 controls, 7 output */
#define MT_RNPU_NB 7  /* branches into the output (from electrodes 0..6) */
#define MT_RNPU_NC 6  /* controls */

typedef enum mt_rnpu_law {
    MT_RNPU_LAW_SCLC = 0, /* compact model (spec §c), optionally with the extra mechanisms */
    MT_RNPU_LAW_MLP = 1   /* static current map from a user MLP (brains-py surrogate layout) */
} mt_rnpu_law;

typedef enum mt_rnpu_gate {
    MT_RNPU_GATE_EXP = 0,     /* n(e) = exp(e) (spec) */
    MT_RNPU_GATE_SOFTPLUS = 1 /* n(e) = e^θ ln(1+e^(e−θ)): subthreshold → linear (EKV-like) */
} mt_rnpu_gate;

/* Device and circuit parameters.  mt_rnpu_params_default() gives the project's default model. */
typedef struct mt_rnpu_params {
    /* circuit */
    double c_ext_pf;       /* external/parasitic output capacitance, pF (paper 10–100) */
    double r_buf_gohm;     /* buffer input resistance, GΩ (paper > 1) */
    double temp_k;         /* device temperature, K (conductances ∝ exp(−Ea/kT), ref 300 K) */
    double ea_ev;          /* activation energy, eV (paper ≈ 0.4) */
    double noise_a2hz;     /* white current-noise PSD at the output node, A²/Hz (0 = off) */
    /* law */
    mt_rnpu_law law;
    char mlp_path[1024];   /* MLP weights (.safetensors or flat float32 .npy) for LAW_MLP */
    double mlp_amp;        /* MLP output × mlp_amp = current in nA (brains-py amplification) */
    /* random instance (pre-calibration draws, spec §c.3) */
    double g_med_ns;       /* median branch prefactor, nS */
    double g_sigma;        /* log-normal spread of G_k */
    double neighbour_gain; /* G multiplier for the output neighbours (electrodes 1, 6) */
    double input_gain;     /* G multiplier for the input branch (electrode 0) */
    double vx_lo, vx_hi;   /* SCLC onset Vx_k ~ U(lo, hi), V */
    double mu_b;           /* mean gating coefficient b_kj, 1/V */
    double sigma_b;        /* spread of b_kj (controls), 1/V */
    double mu_a;           /* mean of b_k0, the input's lever on every branch, 1/V (spec: = mu_b) */
    double sigma_a;        /* spread of b_k0 (input gating), 1/V */
    double g_leak_ns;      /* inter-electrode leak prefactor, nS (power only) */
    /* calibration (per instance) */
    int calibrate;         /* 1: scale G to the median τ and the leaks to the static power */
    double tau_target_ms;  /* 20 */
    double power_target_nw;/* 1.9 */
    int cal_sets;          /* 32 calibration control sets */
    /* mechanisms beyond the spec model (all off = spec §c model) */
    double c_io_pf;        /* input→output coupling capacitance, pF (feedthrough) */
    mt_rnpu_gate gate;     /* gating law */
    double theta_lo, theta_hi; /* SOFTPLUS: per-branch threshold θ_k ~ U(lo, hi) (in e units) */
    int trap;              /* 1: second state q (trap occupancy at the output contact) */
    double trap_gamma;     /* gating loss per unit occupancy, γ */
    double trap_q_pc;      /* trap charge that fills the traps from empty, pC */
    double trap_tau_ms;    /* emission (empty) time constant, ms */
    /* fast interface-trap populations (Pb centres): occupancy f_j relaxes to a Fermi function of
     * the local potential u_j = Σ_i c_ji (V_i − Vo) with SRH time τ_j = τ0·exp(E_j/kT), and the
     * trapped charge shifts the branch gating, e_k += Σ_j γ_kj f_j */
    int traps;             /* number of populations (0 = off, at most MT_RNPU_MAXTRAPS) */
    double traps_e_lo_ev, traps_e_hi_ev; /* trap depth E_j ~ U(lo, hi), eV (0.40–0.52) */
    double traps_tau0_s;   /* attempt time 1/(σ v_th N_v), s (1e-11) */
    double traps_gamma;    /* rms of the coupling γ_kj into the gating exponent */
    double traps_sigma_c;  /* spread of the lever arms c_ji (mean mu_b), 1/V */
    double traps_theta_lo, traps_theta_hi; /* Fermi-level offsets of the populations (e units) */
    /* SRH kinetics of the fast traps: 0 = fixed relaxation time τ_j (emission-limited, the first
     * study's simplification); 1 = full SRH, df/dt = c·n(u)(1 − f) − e·f with the local carrier
     * density n ∝ exp(u): the relaxation rate (1/τ_j)(1 + e^(u−θ_j)) then follows the local
     * potential (set by the controls, the input and Vo), while f∞ = sigmoid(u − θ_j) is unchanged
     * (detailed balance).  Each control set thus gets its own trap filter corner. */
    int traps_srh;
} mt_rnpu_params;

#define MT_RNPU_MAXTRAPS 4

/* The default device model, v2 (docs/rnpu-model.md §4e): v1 with C_ext = 30 pF, a depleting
 * input (mu_a = −3 V⁻¹, mu_b = 1 V⁻¹) and the slow output-contact trap. */
void mt_rnpu_params_default(mt_rnpu_params *p);
/* Model v1, the default before v2: the spec model plus C_io = 0.2 pF (docs/rnpu-model.md §5). */
void mt_rnpu_params_v1(mt_rnpu_params *p);
/* The spec §c model exactly (no extra mechanisms): the reference for the ablation. */
void mt_rnpu_params_spec(mt_rnpu_params *p);

typedef struct mt_rnpu mt_rnpu;

/* Draw the device instance for `seed`, load the MLP if asked, and calibrate (if enabled). */
mt_status mt_rnpu_create(const mt_rnpu_params *p, uint64_t seed, mt_rnpu **out, mt_err *err);
void mt_rnpu_free(mt_rnpu *d);
const mt_rnpu_params *mt_rnpu_get_params(const mt_rnpu *d);
/* Calibration results: the G scale and leak scale applied, and the median τ reached (ms). */
void mt_rnpu_calibration(const mt_rnpu *d, double *g_scale, double *leak_scale, double *tau_ms);
/* Device parameters as a JSON object text (malloc'd; free()). */
char *mt_rnpu_describe_json(const mt_rnpu *d);

/* ---- static physics ---- */
/* Current (A) flowing from the device into the output node with electrode voltages v[8]
 * (v[7] = Vo); buffer not included. */
double mt_rnpu_output_current(const mt_rnpu *d, const double v[MT_RNPU_NE]);
/* Current (A) each electrode sources into the device (v[8] given, output included; Σ = 0 for
 * the compact law).  For LAW_MLP only i[7] is known; the others are NaN. */
void mt_rnpu_electrode_currents(const mt_rnpu *d, const double v[MT_RNPU_NE], double i[MT_RNPU_NE]);
/* Static power Σ_k V_k I_k (W) with the output held at 0 V (ED Fig. 7). */
double mt_rnpu_static_power(const mt_rnpu *d, const double v[MT_RNPU_NE]);

/* ---- time integration (naive scalar reference) ---- */
typedef struct mt_rnpu_state {
    double vo;       /* output node voltage, V */
    double q;        /* trap occupancy (0..1) */
    double vin_prev; /* last input value (for the feedthrough) */
    double f[4];     /* fast trap occupancies (0..1) */
} mt_rnpu_state;

/* One DAC period h (s) with electrode voltages v[0..6] held (ZOH).  Updates st.  noise: one
 * standard normal deviate for the optional current noise (ignored when noise is off). */
void mt_rnpu_step(const mt_rnpu *d, const double v[MT_RNPU_NB], double h, double noise,
                  mt_rnpu_state *st);
/* Run n samples of input vin (V) at rate_hz with constant controls vc[6]; vo[n] receives Vo
 * after each step (may be NULL).  Noise-free. */
void mt_rnpu_run(const mt_rnpu *d, const double vc[MT_RNPU_NC], const double *vin, int64_t n,
                 double rate_hz, mt_rnpu_state *st, double *vo);

/* ---- vectorised multi-channel kernel ---- */
/* nch channels, each with its own controls vc[ch*6..] and (optionally) its own device devs[ch]
 * (devs == NULL: all channels use d), the same input x[n] (V).  st[nch] in/out; y[ch*n + i]
 * receives Vo.  Noise-free.  Single-precision SIMD: fast == naive to ~1e-6 V
 * (tests/test_rnpu_kernel.c). */
void mt_rnpu_run_multi(const mt_rnpu *d, const mt_rnpu *const *devs, int nch, const double *vc,
                       const float *x, int64_t n, double rate_hz, mt_rnpu_state *st, double *y);
/* The same with the naive scalar kernel (reference for tests and the benchmark). */
void mt_rnpu_run_multi_naive(const mt_rnpu *d, const mt_rnpu *const *devs, int nch,
                             const double *vc, const float *x, int64_t n, double rate_hz,
                             mt_rnpu_state *st, double *y);

/* Random control sets: n sets of 6 controls, U(±range) with the output neighbours (1, 6) at
 * U(±range/neighbour_div), from (seed, stream). */
void mt_rnpu_random_controls(uint64_t seed, uint64_t stream, int n, double range,
                             double neighbour_div, double *vc);

/* ---- measurement chain / feature extraction (the paper's protocol) ---- */
typedef struct mt_rnpu_chain {
    int channels;          /* C */
    double rate_hz;        /* DAC rate (12,500) */
    int decim;             /* ADC averaging (10 → 1,250 S/s) */
    double ctrl_range_v;   /* 0.4 (paper) or 0.6 (public code) */
    double neighbour_div;  /* 2 (paper) or 4 (public code) */
    int ramp_samples;      /* control ramp 0 → V (100) */
    int rest_samples;      /* rest at Vin = 0 before the audio (400) */
    double adc_noise_v;    /* ADC read noise rms per sample, V (0.3 mV; 0 = off) */
    int adc_bits;          /* quantisation bits (16; 0 = off) */
    double adc_range_v;    /* ADC full scale ±range, V (10) */
    int mean_removal;      /* subtract each channel's mean over the utterance (1) */
    int device_per_channel;/* 0: one device, time-multiplexed (paper); 1: one device each */
} mt_rnpu_chain;

void mt_rnpu_chain_default(mt_rnpu_chain *c);

typedef struct mt_rnpu_fx mt_rnpu_fx;
/* Build the extractor: device(s) from (p, seed), control sets from seed, pre-roll (ramp + rest)
 * state per channel. */
mt_status mt_rnpu_fx_create(const mt_rnpu_params *p, const mt_rnpu_chain *c, uint64_t seed,
                            mt_rnpu_fx **out, mt_err *err);
void mt_rnpu_fx_free(mt_rnpu_fx *fx);
int64_t mt_rnpu_fx_out_len(const mt_rnpu_fx *fx, int64_t n);
/* x[n] volts at chain.rate_hz → out[C, n/decim]; utt seeds the ADC / device noise.
 * Thread-safe; naive = 1 uses the scalar reference kernel. */
mt_status mt_rnpu_fx_process(const mt_rnpu_fx *fx, const float *x, int64_t n, uint64_t utt,
                             float *out, int naive, mt_err *err);
const mt_rnpu *mt_rnpu_fx_device(const mt_rnpu_fx *fx, int ch);
const double *mt_rnpu_fx_controls(const mt_rnpu_fx *fx); /* [C, 6] */
const mt_rnpu_chain *mt_rnpu_fx_chain(const mt_rnpu_fx *fx);

/* Streaming extraction (`materia listen`): the chain run on audio that arrives in pieces.  A stream
 * starts from the same pre-roll state as mt_rnpu_fx_process and carries, from push to push, each
 * channel's device state, the samples of an incomplete ADC group (fewer than decim) and the
 * absolute sample index that keys the ADC / device noise.  Feeding x in pieces of ANY sizes
 * therefore gives exactly (bit for bit) the frames mt_rnpu_fx_process gives for the whole x
 * with chain.mean_removal = 0.  The stream never removes the mean: mean removal is a
 * whole-utterance operation, left to the caller (over its classification window).
 * The stream refers to fx, which must outlive it; one stream per thread. */
typedef struct mt_rnpu_fx_stream mt_rnpu_fx_stream;
/* utt: noise key as in mt_rnpu_fx_process; naive = 1: scalar reference kernel. */
mt_status mt_rnpu_fx_stream_create(const mt_rnpu_fx *fx, uint64_t utt, int naive,
                                   mt_rnpu_fx_stream **out, mt_err *err);
/* Frames the next push of n samples will produce: (pending + n) / decim. */
int64_t mt_rnpu_fx_stream_out_len(const mt_rnpu_fx_stream *s, int64_t n);
/* Samples pushed so far. */
int64_t mt_rnpu_fx_stream_samples(const mt_rnpu_fx_stream *s);
/* Push x[n] volts; the *nout new frames of channel ch go to out[ch·ostride + 0 .. *nout)
 * (ostride ≥ mt_rnpu_fx_stream_out_len(s, n), else MT_ERR_ARG and nothing is consumed). */
mt_status mt_rnpu_fx_stream_push(mt_rnpu_fx_stream *s, const float *x, int64_t n, float *out,
                                 int64_t ostride, int64_t *nout, mt_err *err);
void mt_rnpu_fx_stream_free(mt_rnpu_fx_stream *s);

/* Parse front-end options (JSON object text, may be NULL) into p and c, rejecting unknown keys;
 * and the reverse (malloc'd JSON text). */
mt_status mt_rnpu_options_parse(const char *json, mt_rnpu_params *p, mt_rnpu_chain *c, mt_err *err);
char *mt_rnpu_options_json(const mt_rnpu_params *p, const mt_rnpu_chain *c);

/* ---- characterisation lab (Fig. 2, ED Figs. 1–3, 7) ---- */
typedef struct mt_rnpu_stats {
    double p5, median, p95, min, max, mean, std;
} mt_rnpu_stats;
void mt_rnpu_stats_of(const double *v, int n, mt_rnpu_stats *s);

/* τ (s) of a 1-V-step response: first crossing of 63.2 % of (v_end − v0) in y[n] at rate_hz,
 * measured from index i0 (the step); negative when the response never crosses or is flat. */
double mt_rnpu_tau_crossing(const double *y, int64_t n, int64_t i0, double rate_hz);
/* Exponential fit y ≈ a + b·exp(−t/τ) on y[0..n) (t = i/rate); returns τ (s), a, b. */
double mt_rnpu_fit_exp(const double *y, int64_t n, double rate_hz, double *a, double *b);

/* step: 1-V step at 25 kS/s over n random control sets (settle 0.5 s, record 1 s).
 * tau_ms[n] per set (NaN for degenerate responses); traces (optional) [n_trace, len]. */
typedef struct mt_rnpu_step_res {
    int n;
    double *tau_ms;       /* [n] */
    int n_degenerate;
    int trace_len;        /* samples of the stored traces (at rate 25 kS/s) */
    double *trace;        /* [min(n, 8), trace_len]: Vo from the step on */
} mt_rnpu_step_res;
mt_status mt_rnpu_lab_step(const mt_rnpu *d, int n, uint64_t seed, double range, double ndiv,
                           mt_rnpu_step_res *r, mt_err *err);
void mt_rnpu_step_res_free(mt_rnpu_step_res *r);

/* pulses: 0-V controls, 1 V for 150 ms, 0 V for 30 ms, 1 V for 150 ms (ED Fig. 2). */
typedef struct mt_rnpu_pulses_res {
    double tau1_ms, tau2_ms;   /* exponential fits per rise */
    double tau1_x_ms, tau2_x_ms; /* 63 % crossings */
    int n;
    double *t_s, *vin, *vo;    /* trace at 25 kS/s */
} mt_rnpu_pulses_res;
mt_status mt_rnpu_lab_pulses(const mt_rnpu *d, const double vc[MT_RNPU_NC], mt_rnpu_pulses_res *r,
                             mt_err *err);
void mt_rnpu_pulses_res_free(mt_rnpu_pulses_res *r);

/* staircase: 0.2, 0.4 … 1.0 V, 200 ms per level (ED Fig. 3). */
typedef struct mt_rnpu_stair_res {
    int steps;
    double tau_ms[5], vss_v[5], vin_v[5];
    int n;
    double *t_s, *vin, *vo;
} mt_rnpu_stair_res;
mt_status mt_rnpu_lab_staircase(const mt_rnpu *d, const double vc[MT_RNPU_NC],
                                mt_rnpu_stair_res *r, mt_err *err);
void mt_rnpu_stair_res_free(mt_rnpu_stair_res *r);

/* chirp: 0.75 V, 100 Hz → 2 kHz exponential, 1 s at 25 kS/s (Fig. 2c).  Harmonic ridges by
 * demodulation in 20-ms windows against the background at (n + ½)·f(t). */
#define MT_RNPU_MAXH 8
typedef struct mt_rnpu_chirp_res {
    int harmonics_visible;                 /* highest n with n = 1..that all visible */
    double visible_frac[MT_RNPU_MAXH + 1]; /* [n]: fraction of valid windows ≥ 10 dB */
    double ridge_db[MT_RNPU_MAXH + 1];     /* [n]: median ridge − background, dB */
    double dc_shift_v;                     /* mean output − pre-chirp level */
    int n;
    double *vo;                            /* output trace */
} mt_rnpu_chirp_res;
mt_status mt_rnpu_lab_chirp(const mt_rnpu *d, const double vc[MT_RNPU_NC], mt_rnpu_chirp_res *r,
                            mt_err *err);
void mt_rnpu_chirp_res_free(mt_rnpu_chirp_res *r);

/* Single tone f (Hz), amplitude a (V), 1 s settle + 1 s analysed, 25 kS/s: harmonic amplitudes
 * h[1..nh] (V) and the DC shift. */
mt_status mt_rnpu_lab_tone(const mt_rnpu *d, const double vc[MT_RNPU_NC], double f, double a,
                           int nh, double *h, double *dc_shift, mt_err *err);

/* two-tone f1, f2 at amp each: amplitudes at |(n+1)f1 − n f2|, n = 1..4, and their peak-to-
 * neighbourhood ratios; plus a 1-s spectrum (optional). */
typedef struct mt_rnpu_twotone_res {
    double hz[4], v[4], ratio[4];
    double v_f1, v_f2, v_diff; /* at f1, f2, f2 − f1 */
    int nspec;
    double *spec_v;            /* [nspec] amplitude per 1-Hz bin (0..nspec-1 Hz) */
} mt_rnpu_twotone_res;
mt_status mt_rnpu_lab_twotone(const mt_rnpu *d, const double vc[MT_RNPU_NC], double f1, double f2,
                              double amp, mt_rnpu_twotone_res *r, mt_err *err);
void mt_rnpu_twotone_res_free(mt_rnpu_twotone_res *r);

/* power: static power over n random sets (ED Fig. 7), W. */
mt_status mt_rnpu_lab_power(const mt_rnpu *d, int n, uint64_t seed, double range, double ndiv,
                            double *p_w, mt_err *err);

/* iv: output at virtual ground.  Per-electrode sweeps ±0.4 V (others 0) → isweep[7][npts] (A);
 * input sweeps ±0.4 V for nsets random control sets → NDR fraction. */
typedef struct mt_rnpu_iv_res {
    int npts;
    double *v;          /* [npts] sweep voltages */
    double *isweep;     /* [7, npts] output current for the sweep of electrode k */
    double imax_a[7];   /* max |I| per electrode sweep */
    int nsets;
    double ndr_fraction;
    double *iin;        /* [min(nsets, 8), npts] input sweeps (for plots) */
} mt_rnpu_iv_res;
mt_status mt_rnpu_lab_iv(const mt_rnpu *d, int nsets, uint64_t seed, mt_rnpu_iv_res *r, mt_err *err);
void mt_rnpu_iv_res_free(mt_rnpu_iv_res *r);

/* range: median τ for control ranges ranges[nr] (n sets each). */
mt_status mt_rnpu_lab_range(const mt_rnpu *d, const double *ranges, int nr, int n, uint64_t seed,
                            double ndiv, double *median_tau_ms, mt_err *err);

#ifdef __cplusplus
}
#endif
#endif
