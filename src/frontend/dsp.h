/* Private DSP and option helpers shared by the baseline front-ends (lowpass, nlowpass,
 * gammatone[-tanh], esn, logmel/mfcc).  Nothing here is public API; tests include it through
 * -Isrc to reach the debug hooks at the bottom.
 *
 * Units: frequencies in Hz, sample rates in S/s, time in s, signals in V (the audio is the
 * RNPU input voltage, 0.75 V peak after the dataset's normalisation).
 */
#ifndef MATERIA_FE_DSP_H
#define MATERIA_FE_DSP_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "materia/error.h"

/* ---- options (params_json) ------------------------------------------------------------- */

/* Reject every key of `params` not in the NULL-terminated list `known`: the message names the
 * key and lists the known ones.  params may be NULL (no options). */
mt_status mt_fe_check_keys(const cJSON *params, const char *const *known, mt_err *err);
/* Number option: missing → def; must be finite and within [lo, hi]. */
mt_status mt_fe_opt_num(const cJSON *params, const char *key, double def, double lo, double hi,
                        double *out, mt_err *err);
/* Integer option: missing → def; must be an integral number within [lo, hi]. */
mt_status mt_fe_opt_int(const cJSON *params, const char *key, int def, int lo, int hi, int *out,
                        mt_err *err);
/* Boolean option: missing → def. */
mt_status mt_fe_opt_bool(const cJSON *params, const char *key, int def, int *out, mt_err *err);
/* String option restricted to the NULL-terminated `choices`: *out = index in choices. */
mt_status mt_fe_opt_choice(const cJSON *params, const char *key, int def,
                           const char *const *choices, int *out, mt_err *err);
/* Range option: a number v (→ [v, v]) or a pair [lo, hi] with lo <= hi, both within
 * [min, max].  Missing → [def_lo, def_hi]. */
mt_status mt_fe_opt_range(const cJSON *params, const char *key, double def_lo, double def_hi,
                          double min, double max, double out[2], mt_err *err);

/* JSON array of n doubles (for config()). */
cJSON *mt_fe_json_array(const double *v, int n);

/* ---- scales ----------------------------------------------------------------------------- */

/* Glasberg & Moore (1990) equivalent rectangular bandwidth, Hz: ERB(f) = f/9.26449 + 24.7. */
double mt_fe_erb(double f_hz);
/* n centre frequencies equally spaced on the ERB-number scale (Slaney's EarQ/minBW form),
 * both ends included, low → high: f[0] = lo, f[n-1] = hi.  n = 1 gives lo. */
void mt_fe_erb_space(double lo, double hi, int n, double *f);
/* n values lo..hi, linear (log_spacing = 0) or geometric (1); n = 1 gives lo. */
void mt_fe_spread(double lo, double hi, int n, int log_spacing, double *f);

/* ---- filters (double precision) --------------------------------------------------------- */

/* Biquad y = (b0 + b1 z^-1 + b2 z^-2) / (1 + a1 z^-1 + a2 z^-2), run in transposed direct
 * form II.  A first-order section has b2 = a2 = 0. */
typedef struct mt_fe_biquad {
    double b0, b1, b2, a1, a2;
} mt_fe_biquad;

/* First-order Butterworth low-pass (bilinear transform with pre-warping, = scipy
 * butter(1, fc, fs=fs)): |H| = 1 at DC, exactly 1/sqrt(2) at fc, 0 at Nyquist. */
mt_fe_biquad mt_fe_lp1(double fc_hz, double fs_hz);
/* |H(e^{j 2π f/fs})| of a biquad. */
double mt_fe_biquad_mag(const mt_fe_biquad *q, double f_hz, double fs_hz);
/* Run `nsec` cascaded sections over x[n] (float) into y[n] (double), zero initial state. */
void mt_fe_biquad_run(const mt_fe_biquad *q, int nsec, const float *x, int64_t n, double *y);
/* The same cascade in place on y[n], continuing from (and updating) the transposed-direct-form-II
 * state z[2·nsec] = {z1, z2} per section: calls over consecutive pieces of a signal give exactly
 * the output of one call over the whole (streaming front-ends). */
void mt_fe_biquad_run_state(const mt_fe_biquad *q, int nsec, double *y, int64_t n, double *z);

/* Slaney's 4th-order gammatone as 4 cascaded biquads (Auditory Toolbox MakeERBFilters,
 * b = 1.019, Glasberg-Moore ERB), designed in double.  Each stage is scaled to unit gain at fc,
 * so the cascade has |H(fc)| = 1 and every stage has O(1) gain (no 1e-12 overall constant). */
void mt_fe_gammatone_design(double fc_hz, double fs_hz, mt_fe_biquad q[4]);

/* Mean of each block of `decim` doubles: x [n] → y [n / decim] (float). */
void mt_fe_decimate_mean_d(const double *x, int64_t n, int decim, float *y);

/* ---- test hooks (private) ----------------------------------------------------------------
 * The ESN's recurrent matrix of reservoir j as a dense row-major [units × units] double array
 * (caller-allocated), with the spectral radius it was scaled to.  `state` is the opaque
 * pointer returned by mt_fe_esn.create.  Returns the number of units, or -1 if j is out of
 * range. */
int mt_fe_esn_debug_matrix(const void *state, int j, double *w, double *sr_requested);
/* The other parameters of reservoir j: input weights, biases and readout [units] each, and its
 * leak rate and noise level.  Returns the number of units, or -1 if j is out of range. */
int mt_fe_esn_debug_vectors(const void *state, int j, double *win, double *bias, double *wout,
                            double *lr, double *noise);

#endif
