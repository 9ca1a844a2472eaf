/* materia — analogue in-memory computing (AIMC): a PCM crossbar simulator, chip mapping, energy.
 *
 * Three parts (docs/aimc.md has every formula and the source of every coefficient):
 *
 *  1. PCM device model (mt_pcm_*): programming noise σ_prog(g), drift exponent ν ~ |N(μ_ν, σ_ν)|
 *     with G(t) = G_prog·(t/t0)^−ν, accumulated 1/f read noise σ_rd = Q_s·√ln((t+t_r)/2t_r).
 *     Two statistical fits: aihwkit's PCMLikeNoiseModel (default, g_max 25 µS) and its
 *     HermesNoiseModel (the HERMES chip, 1 or 2 devices per polarity).
 *
 *  2. Crossbar "analog matrix" (mt_aimc_matrix): a weight matrix W [outs, ins] is split over
 *     tiles of ≤ tile_rows × tile_cols (rows = inputs, columns = outputs, as on the chip), each
 *     weight stored as differential conductances G+ − G− (1 or 2 devices per polarity, as in the
 *     HERMES 8T4R unit cell).  Life cycle, all seeded:
 *        program (programming noise, ν drawn once)  →  set_time(t) (drift, read noise, GDC)
 *        →  mvm(x) (8-bit DAC, analog MAC, per-MVM read + output noise, ADC) any number of times.
 *     Partial sums of tiles that share outputs are added digitally (exactly).
 *
 *  3. Chip mapping, energy and latency (mt_aimc_map_*, mt_system_energy): pure arithmetic over a
 *     generic layer list, with the chip's figures in a struct (default HERMES one-phase read).
 *
 * Units inside a tile follow aihwkit's "normalized tile units" (aimc.md §0): inputs in [−1, 1]
 * after the input range, weights in [−1, 1] after the digital weight scale, so one output unit
 * is one fully-on input times one full-scale weight (= n_dev·g_max of conductance).  out_noise,
 * out_bound are in these units.  Conductances are in µS, times in seconds.
 */
#ifndef MATERIA_AIMC_H
#define MATERIA_AIMC_H

#include <stdint.h>

#include "materia/error.h"
#include "materia/nn.h"
#include "materia/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* 1. PCM device model                                                                         */
/* ------------------------------------------------------------------------------------------ */

typedef enum mt_pcm_model {
    MT_PCM_PCMLIKE = 0, /* aihwkit PCMLikeNoiseModel (Nandakumar 2019 / Joshi 2020 fit) */
    MT_PCM_HERMES       /* aihwkit HermesNoiseModel (fit on the HERMES chip, Le Gallo 2023) */
} mt_pcm_model;

typedef struct mt_pcm_params {
    mt_pcm_model model;
    int devices;             /* PCM devices per polarity: 1 or 2 (HERMES 8T4R: up to 2) */
    double g_max;            /* µS, maximum conductance of ONE device (PCMLike 25, HERMES 10.35) */
    double t0;               /* s, first read after programming (PCMLike 20; HERMES 200 / 300) */
    double t_read;           /* s, read pulse width of the 1/f fit (PCMLike 250 ns; HERMES 512 ns) */
    double prog_coeff[4];    /* σ_prog(x) = Σ c_k x^k in µS, x = g_T/g_unit (PCMLike: c3 = 0) */
    double prog_coeff_gmax_ref; /* µS, g_unit at which prog_coeff was fitted (25 / 10.35 / 20.7) */
    double prog_noise_scale; /* multiplies σ_prog (1) */
    double read_noise_scale; /* multiplies σ_rd (1) */
    double drift_scale;      /* multiplies ν (1); 0 = no drift */
} mt_pcm_params;

/* Defaults of a model (aimc.md §2.1–2.4).  devices: 1 or 2.  For PCMLike every device of a
 * polarity is simulated on its own (g_max 25 µS each); for HERMES the fit describes the whole
 * polarity (1 device: 10.35 µS, t0 200 s; 2 devices: 20.7 µS, t0 300 s, aihwkit's values). */
void mt_pcm_params_default(mt_pcm_params *p, mt_pcm_model model, int devices);
/* "pcmlike" | "hermes" */
mt_status mt_pcm_model_parse(const char *s, mt_pcm_model *out, mt_err *err);
const char *mt_pcm_model_name(mt_pcm_model m);

/* Number of separately simulated noise units per polarity (PCMLike: devices; HERMES: 1) and
 * the maximum conductance of one unit in µS (PCMLike: g_max; HERMES: devices·g_max). */
int mt_pcm_units(const mt_pcm_params *p);
double mt_pcm_unit_gmax(const mt_pcm_params *p);

/* Statistical model of one noise unit with target conductance g_t (µS, 0 ≤ g_t ≤ unit g_max):
 *   σ_prog (µS), before prog_noise_scale:   Σ c_k (g_t/g_unit)^k · g_unit/prog_coeff_gmax_ref
 *   drift exponent mean and std of N(μ_ν, σ_ν), before drift_scale and |·|
 *   Q_s of the 1/f read noise as a function of the programmed conductance g_p (µS)
 *   read factor √ln((t + t_read)/(2 t_read)) with t = t_inf + t0.  */
double mt_pcm_prog_sigma(const mt_pcm_params *p, double g_t);
void mt_pcm_drift_stats(const mt_pcm_params *p, double g_t, double *mu_nu, double *sigma_nu);
double mt_pcm_read_qs(const mt_pcm_params *p, double g_p);
double mt_pcm_read_factor(const mt_pcm_params *p, double t_inf);

/* One device draw each (noise_scale multiplies every stochastic term):
 *   programmed conductance  max(0, g_t + prog_noise_scale·noise_scale·σ_prog·N)
 *   drift exponent          drift_scale·|μ_ν + σ_ν·N|
 *   drifted conductance     g_p·(t/t0)^−ν, t = t_inf + t0 (no randomness)
 *   read-noise std (µS)     |g_d|·read_noise_scale·Q_s(g_p)·read_factor(t_inf) (before noise_scale) */
double mt_pcm_program(const mt_pcm_params *p, double g_t, double noise_scale, mt_rng *r);
double mt_pcm_draw_nu(const mt_pcm_params *p, double g_t, mt_rng *r);
double mt_pcm_drift(const mt_pcm_params *p, double g_p, double nu, double t_inf);
double mt_pcm_read_sigma(const mt_pcm_params *p, double g_p, double g_d, double t_inf);

/* ------------------------------------------------------------------------------------------ */
/* 2. Crossbar analog matrix                                                                   */
/* ------------------------------------------------------------------------------------------ */

/* Digital weight scale: which weights share the factor that maps max|W| to full conductance. */
typedef enum mt_aimc_scale {
    MT_AIMC_SCALE_COLUMN = 0, /* per output column of each tile (the core's per-column affine
                                 correction in its local digital unit); default */
    MT_AIMC_SCALE_TILE,       /* one factor per tile (aihwkit SinglePairConductanceConverter) */
    MT_AIMC_SCALE_LAYER       /* one factor for the whole matrix */
} mt_aimc_scale;

/* How the 1/f read noise enters. */
typedef enum mt_aimc_read {
    MT_AIMC_READ_PER_MVM = 0, /* drawn afresh for every MVM, as its exact Gaussian equivalent at
                                 the output: y_i += √(Σ_j x_j² Σ_dev σ_rd,ij²)·N (one extra GEMM);
                                 default */
    MT_AIMC_READ_FROZEN,      /* aihwkit drift_weights(): one draw per set_time, frozen into G */
    MT_AIMC_READ_OFF
} mt_aimc_read;

/* Global drift compensation (aimc.md §3): α = ref / cur from a known read-out (one-hot inputs). */
typedef enum mt_aimc_gdc {
    MT_AIMC_GDC_GLOBAL = 0,   /* one α per tile; baseline = noisy read-out right after
                                 programming (aihwkit GlobalDriftCompensation); default */
    MT_AIMC_GDC_GLOBAL_EXACT, /* one α per tile; baseline = ideal target weights */
    MT_AIMC_GDC_COLUMN,       /* one α per tile column (PerColumnDriftCompensation) */
    MT_AIMC_GDC_NONE
} mt_aimc_gdc;

typedef struct mt_aimc_params {
    mt_pcm_params pcm;
    int tile_rows, tile_cols; /* core size (256 × 256, HERMES) */
    mt_aimc_scale scale;
    double noise_scale;       /* multiplies programming, read and output noise (1); for sweeps */
    int dac_bits;             /* signed input DAC: levels ±(2^(b−1)−1), 8 → ±127; 0 = none */
    double out_noise;         /* σ of additive output noise per MVM, tile units (0.04) */
    double out_bound;         /* ADC clips at ±out_bound tile units (20); ≤ 0 = no bound */
    int adc_bits;             /* ADC steps 2^b − 2 across ±out_bound (8 → 254); 0 = none.
                                 Needs out_bound > 0. */
    mt_aimc_read read;
    mt_aimc_gdc gdc;
} mt_aimc_params;

/* Defaults: PCMLike, 2 devices per polarity (g_max 25 µS each), 256×256 tiles, per-column
 * scale, 8-bit DAC, out_noise 0.04, ADC ±20 with 8 bits (aihwkit StandardHWATrainingPreset I/O but a wider ADC range,
 * docs/aimc.md), per-MVM read noise, global GDC. */
void mt_aimc_params_default(mt_aimc_params *p);
/* The exact reference configuration: defaults with every noise source and drift off
 * (prog/read/out noise 0, drift_scale 0); DAC/ADC quantisation is kept (set the bits to 0 to
 * drop it).  An MVM then equals W·x up to quantisation and float rounding. */
void mt_aimc_params_ideal(mt_aimc_params *p);
/* Check ranges; one line naming the bad field. */
mt_status mt_aimc_params_check(const mt_aimc_params *p, mt_err *err);

typedef struct mt_aimc_matrix mt_aimc_matrix;

/* Program W [outs, ins] (row-major, float, finite) onto tiles: weights → conductance targets
 * (differential, split equally over the devices of a polarity) → programming noise and ν, each
 * tile from its own stream of `seed`.  The matrix is then at t_inf = 0 (set_time(0, seed)).
 * Returns MT_ERR_ARG on bad sizes/parameters, MT_ERR_DATA on non-finite weights. */
mt_status mt_aimc_matrix_program(mt_aimc_matrix **out, const float *W, int64_t outs, int64_t ins,
                                 const mt_aimc_params *p, uint64_t seed, mt_err *err);
void mt_aimc_matrix_free(mt_aimc_matrix *m);

/* Move to t_inf seconds after programming (t_inf ≥ 0): drift every device with its own ν, draw
 * frozen read noise (READ_FROZEN) from streams of `seed`, compute the per-MVM read-noise
 * variances (READ_PER_MVM) and the drift-compensation factors (read-out noise from `seed`). */
mt_status mt_aimc_matrix_set_time(mt_aimc_matrix *m, double t_inf, uint64_t seed, mt_err *err);

/* Input range of the DAC: x is clipped to ±ir and mapped to [−1, 1] (per layer, as the
 * learned input range of HWA training).  ir ≤ 0 (the default after programming): per-vector
 * abs-max scaling, each tile's input slice of each column divided by its own max|x|. */
void mt_aimc_matrix_set_input_range(mt_aimc_matrix *m, float ir);

/* y[outs, cols] = W_analog · x[ins, cols] (row-major; a conv's im2col matrix: rows = C_in·K,
 * one column per output position; or a transposed batch).  Thread-safe for concurrent calls on
 * the same matrix; every random draw comes from *rng, in a fixed order (per tile, per output,
 * per column), so equal rng states give bit-identical y.  Allocates its own scratch. */
mt_status mt_aimc_matrix_mvm(const mt_aimc_matrix *m, const float *x, int64_t cols, float *y,
                             mt_rng *rng, mt_err *err);
/* The naive reference of mt_aimc_matrix_mvm (plain loops, no BLAS), same draws in the same
 * order: equal up to float summation order. */
mt_status mt_aimc_matrix_mvm_ref(const mt_aimc_matrix *m, const float *x, int64_t cols, float *y,
                                 mt_rng *rng, mt_err *err);

/* Geometry and state, for reports and tests. */
typedef struct mt_aimc_tile_info {
    int64_t row0, rows;      /* input slice */
    int64_t col0, cols;      /* output slice */
    double alpha;            /* drift-compensation factor (mean over columns for GDC_COLUMN) */
} mt_aimc_tile_info;
int64_t mt_aimc_matrix_outs(const mt_aimc_matrix *m);
int64_t mt_aimc_matrix_ins(const mt_aimc_matrix *m);
int mt_aimc_matrix_ntiles(const mt_aimc_matrix *m);
double mt_aimc_matrix_time(const mt_aimc_matrix *m);
void mt_aimc_matrix_tile(const mt_aimc_matrix *m, int t, mt_aimc_tile_info *info);
/* Effective weights in W units at the current time, without DAC/ADC and per-MVM noise:
 * W_eff[o, i] = digital scale · α · (G+ − G−)/g_full.  W_eff [outs, ins]. */
void mt_aimc_matrix_effective(const mt_aimc_matrix *m, float *W_eff);
/* Conductances of tile t (µS), each [tile outs, tile rows] per noise unit u (0 … 2·units−1:
 * the G+ units first): target, programmed, drifted (current time, incl. frozen read noise) and
 * ν.  Any pointer may be NULL.  Returns the number of units per polarity. */
int mt_aimc_matrix_devices(const mt_aimc_matrix *m, int t, int u, const float **g_target,
                           const float **g_prog, const float **g_now, const float **nu);

/* ------------------------------------------------------------------------------------------ */
/* A whole model on the chip: one analog matrix per analog layer, as an nn matmul hook         */
/* ------------------------------------------------------------------------------------------ */

typedef struct mt_aimc_chip mt_aimc_chip;

/* Program every conv/linear layer of m with layer.analog != 0 (weights as [out, in·k]).
 * input_ranges: per model layer (index = layer index) the DAC input range, or NULL / ≤ 0 for
 * per-vector abs-max.  Matrix l is programmed from stream l of `seed`. */
mt_status mt_aimc_chip_program(mt_aimc_chip **out, const mt_model *m, const mt_aimc_params *p,
                               const float *input_ranges, uint64_t seed, mt_err *err);
void mt_aimc_chip_free(mt_aimc_chip *c);
mt_status mt_aimc_chip_set_time(mt_aimc_chip *c, double t_inf, uint64_t seed, mt_err *err);
/* The mt_matmul_fn to install as m->hooks.matmul with ctx = the chip.  MVM noise comes from the
 * stream (mvm_seed, layer, sample, forward_id), so results do not depend on the thread count. */
mt_status mt_aimc_chip_matmul(void *ctx, const mt_matmul_call *call, const float *w,
                              const float *x, int64_t rows, int64_t cols, int64_t outs, float *y);
void mt_aimc_chip_set_mvm_seed(mt_aimc_chip *c, uint64_t seed);
const mt_aimc_matrix *mt_aimc_chip_matrix(const mt_aimc_chip *c, int layer); /* NULL if digital */

/* Accuracy of a model on the chip, over repeats (src/aimc/eval.c).  Repeat r programs a fresh
 * chip (new programming noise and drift exponents) from stream r of `seed`, moves it to t_inf
 * seconds after programming (drift, read noise, compensation), and evaluates the items of f whose
 * split is `split` (-1: all) with the MVM noise of that repeat.  input_ranges: per model layer the
 * DAC range (HWA-learned), or NULL / <= 0 for per-vector abs-max.  The model's hooks and
 * forward counter are restored afterwards.  Deterministic for a seed at any thread count. */
typedef struct mt_aimc_eval_opts {
    mt_aimc_params params;
    double t_inf;           /* s after programming (3600) */
    int repeats;            /* 10 */
    uint64_t seed;
    int split;              /* MT_SPLIT_TEST */
    int batch;              /* 32 */
    const float *input_ranges;
    mt_progress progress;   /* ("repeat", done, repeats) */
    mt_eval_result *last;   /* may be NULL: receives the last repeat's full metrics (confusion
                               matrix, per-class figures); zero-initialise it, free it after */
} mt_aimc_eval_opts;

void mt_aimc_eval_opts_default(mt_aimc_eval_opts *o);
/* acc[repeats] and f1[repeats] (weighted F1; may be NULL) receive each repeat's figures. */
mt_status mt_aimc_evaluate(mt_model *m, const mt_features *f, const mt_aimc_eval_opts *o,
                           double *acc, double *f1, mt_err *err);

/* ------------------------------------------------------------------------------------------ */
/* 3. Chip mapping, energy and latency                                                         */
/* ------------------------------------------------------------------------------------------ */

typedef enum mt_aimc_kind { MT_AIMC_CONV = 0, MT_AIMC_LINEAR } mt_aimc_kind;

/* One analogue layer: its crossbar matrix is rows × cols (rows = C_in·K or in_features, cols =
 * C_out or out_features), used `positions` times per inference (conv: output positions;
 * linear: 1). */
typedef struct mt_aimc_layer {
    mt_aimc_kind kind;
    char name[24];
    int64_t rows, cols, positions;
} mt_aimc_layer;

/* The analog layers of a model (conv/linear with analog != 0), in order.  *out is malloc'd. */
mt_status mt_aimc_layers_from_model(const mt_model *m, mt_aimc_layer **out, int *n, mt_err *err);
/* Parse "conv:512x64@1977,conv:192x256@492,linear:256x64" (kind:ROWSxCOLS[@POSITIONS]; kinds
 * conv|linear|fc; positions default 1).  *out is malloc'd. */
mt_status mt_aimc_layers_parse(const char *s, mt_aimc_layer **out, int *n, mt_err *err);

typedef struct mt_chip {
    char name[32];
    int cores;                /* 64 */
    int core_rows, core_cols; /* 256, 256 */
    int phases;               /* read mode: 1 or 4 */
    double chip_mvm_energy_uj; /* energy of one MVM on every core of the chip (µJ) */
    double mvm_latency_ns;    /* one MVM of one core (all cores in parallel) */
} mt_chip;

/* HERMES (Le Gallo et al. 2023) as used by the paper's Methods: one-phase read 0.86 µJ per
 * full-chip MVM and 133 ns per MVM; four-phase read scales both by the chip's published
 * one-/four-phase ratios (9.76/2.48 TOPS/W and 63.1/16.1 TOPS).  phases: 1 or 4. */
mt_status mt_chip_hermes(mt_chip *c, int phases, mt_err *err);
/* "hermes" (one-phase) | "hermes-4phase". */
mt_status mt_chip_by_name(mt_chip *c, const char *name, mt_err *err);

typedef struct mt_aimc_layer_map {
    mt_aimc_layer layer;
    int row_blocks, col_blocks; /* ceil(rows/core_rows), ceil(cols/core_cols) */
    int cores;                /* row_blocks·col_blocks, or the override */
    int overridden;           /* 1 when cores came from the override list */
    int64_t mvms;             /* = positions (the cores of a layer work in parallel) */
    int64_t core_mvms;        /* = positions · cores */
    double utilisation;       /* rows·cols / (cores·core_rows·core_cols) */
    double energy_uj;         /* core_mvms / chip cores · chip_mvm_energy */
    double latency_us;        /* mvms · mvm latency */
} mt_aimc_layer_map;

typedef struct mt_aimc_map {
    mt_chip chip;
    int nlayers;
    mt_aimc_layer_map *layers;
    int cores;                /* sum over layers */
    int fits;                 /* cores ≤ chip cores */
    int64_t mvms, core_mvms;
    double energy_uj, latency_us;
} mt_aimc_map;

/* Map n layers onto the chip: natural rule above, or cores_override[i] (≥ 1) per layer when
 * cores_override != NULL.  Energy = core_mvms / cores_chip × E_chip; latency = mvms × t_mvm. */
mt_status mt_aimc_map_layers(const mt_aimc_layer *layers, int n, const mt_chip *chip,
                             const int *cores_override, mt_aimc_map *out, mt_err *err);
void mt_aimc_map_free(mt_aimc_map *m);

/* Whole-system energy of one inference (docs/aimc.md "System energy"):
 *   RNPU front-end  = channels × rnpu_power_w × duration_s          (paper: 5 nW per RNPU)
 *   ADC interface   = channels × adc_rate_hz × duration_s × adc_fom_j × 2^adc_bits
 *                     (Walden figure of merit; the paper gives no number — an assumption)
 *   AIMC classifier = the map's energy; latency = the map's latency (the RNPU works in real
 *                     time and adds none); EDP = total energy × latency. */
typedef struct mt_system_params {
    int channels;             /* 64 */
    double duration_s;        /* 1 s per inference */
    double rnpu_power_w;      /* 5e-9 W per RNPU (conservative; measured 1.9 ± 0.5 nW) */
    double adc_rate_hz;       /* conversions per second per channel (12,500: the ADC samples
                                 at the audio rate and averages 10 → 1,250 features/s) */
    int adc_bits;             /* 8 */
    double adc_fom_j;         /* J per conversion step (5e-15, assumption; docs/aimc.md) */
} mt_system_params;

typedef struct mt_system_energy {
    double rnpu_uj, adc_uj, aimc_uj, total_uj;
    double latency_us;
    double edp_uj_us;         /* total energy × latency, µJ·µs (= 1e-12 J·s) */
} mt_system_energy;

void mt_system_params_default(mt_system_params *p);
mt_status mt_system_energy_compute(const mt_system_params *p, const mt_aimc_map *map,
                                   mt_system_energy *out, mt_err *err);

#ifdef __cplusplus
}
#endif
#endif
