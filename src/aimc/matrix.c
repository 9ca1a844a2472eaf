/* Crossbar analog matrix: weights → differential PCM conductances on 256×256 tiles, drift and
 * compensation, and the noisy quantised MVM (optimised BLAS path + naive reference).
 *
 * Per tile and MVM (aimc.md §4.2 in the ONE_PASS form; docs/aimc.md "MVM"):
 *   x_t  = DAC(x / ir)                       8-bit signed, levels ±127, after clipping to ±1
 *   y_t  = W_t · x_t                         W_t = (ΣG+ − ΣG−)/g_full ∈ [−1, 1] (tile units)
 *   y_t += √(σ_out² + Σ_j var_ij x_j²) · N   output noise + per-MVM 1/f read noise
 *   y_t  = clip(round(y_t/Δ)·Δ, ±bound)      ADC, Δ = 2·bound/(2^b − 2)
 *   y   += y_t · scale · α · ir              digital: weight scale, drift compensation, input
 *                                            range; row blocks summed exactly in float
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aimc_impl.h"

/* ------------------------------------------------------------------------------------------ */
/* Parameters                                                                                  */
/* ------------------------------------------------------------------------------------------ */

void mt_aimc_params_default(mt_aimc_params *p)
{
    memset(p, 0, sizeof *p);
    mt_pcm_params_default(&p->pcm, MT_PCM_PCMLIKE, 2);
    p->tile_rows = 256;
    p->tile_cols = 256;
    p->scale = MT_AIMC_SCALE_COLUMN;
    p->noise_scale = 1.0;
    p->dac_bits = 8;
    p->out_noise = 0.04;
    /* ±20 tile units, not aihwkit's ±10: the layers of the paper's CNNs that follow tanh and
     * max-pooling see mostly positive inputs, and at ±10 a quarter of their outputs saturate
     * (docs/aimc.md §11: HWA cnn on FSDD, 50 % at ±10 vs 90 % at ±20 against 91 % software). */
    p->out_bound = 20.0;
    p->adc_bits = 8;
    p->read = MT_AIMC_READ_PER_MVM;
    p->gdc = MT_AIMC_GDC_GLOBAL;
}

void mt_aimc_params_ideal(mt_aimc_params *p)
{
    mt_aimc_params_default(p);
    p->pcm.prog_noise_scale = 0.0;
    p->pcm.read_noise_scale = 0.0;
    p->pcm.drift_scale = 0.0;
    p->out_noise = 0.0;
    p->read = MT_AIMC_READ_OFF;
}

static int fin_nonneg(double v) { return isfinite(v) && v >= 0; }

mt_status mt_aimc_params_check(const mt_aimc_params *p, mt_err *err)
{
    const mt_pcm_params *q = &p->pcm;
    if (q->model != MT_PCM_PCMLIKE && q->model != MT_PCM_HERMES)
        return mt_err_set(err, MT_ERR_ARG, "aimc: unknown PCM model %d", (int)q->model);
    if (q->devices != 1 && q->devices != 2)
        return mt_err_set(err, MT_ERR_ARG, "aimc: devices per polarity must be 1 or 2, got %d", q->devices);
    if (!(isfinite(q->g_max) && q->g_max > 0 && q->g_max < 1e4))
        return mt_err_set(err, MT_ERR_ARG, "aimc: g_max must be in (0, 1e4) µS, got %g", q->g_max);
    if (!(isfinite(q->t0) && q->t0 > 0)) return mt_err_set(err, MT_ERR_ARG, "aimc: t0 must be > 0 s, got %g", q->t0);
    if (!(isfinite(q->t_read) && q->t_read > 0))
        return mt_err_set(err, MT_ERR_ARG, "aimc: t_read must be > 0 s, got %g", q->t_read);
    if (!(isfinite(q->prog_coeff_gmax_ref) && q->prog_coeff_gmax_ref > 0))
        return mt_err_set(err, MT_ERR_ARG, "aimc: prog_coeff_gmax_ref must be > 0 µS");
    for (int i = 0; i < 4; i++)
        if (!isfinite(q->prog_coeff[i])) return mt_err_set(err, MT_ERR_ARG, "aimc: prog_coeff[%d] is not finite", i);
    if (!fin_nonneg(q->prog_noise_scale) || !fin_nonneg(q->read_noise_scale) || !fin_nonneg(q->drift_scale))
        return mt_err_set(err, MT_ERR_ARG, "aimc: noise and drift scales must be finite and >= 0");
    if (!fin_nonneg(p->noise_scale))
        return mt_err_set(err, MT_ERR_ARG, "aimc: noise_scale must be finite and >= 0, got %g", p->noise_scale);
    if (p->tile_rows < 1 || p->tile_rows > 65536 || p->tile_cols < 1 || p->tile_cols > 65536)
        return mt_err_set(err, MT_ERR_ARG, "aimc: tile size must be in [1, 65536], got %dx%d", p->tile_rows, p->tile_cols);
    if ((int)p->scale < 0 || p->scale > MT_AIMC_SCALE_LAYER)
        return mt_err_set(err, MT_ERR_ARG, "aimc: unknown weight-scale mode %d", (int)p->scale);
    if (p->dac_bits < 0 || p->dac_bits == 1 || p->dac_bits > 24)
        return mt_err_set(err, MT_ERR_ARG, "aimc: DAC bits must be 0 (off) or in [2, 24], got %d", p->dac_bits);
    if (p->adc_bits < 0 || p->adc_bits == 1 || p->adc_bits > 24)
        return mt_err_set(err, MT_ERR_ARG, "aimc: ADC bits must be 0 (off) or in [2, 24], got %d", p->adc_bits);
    if (!fin_nonneg(p->out_noise))
        return mt_err_set(err, MT_ERR_ARG, "aimc: out_noise must be finite and >= 0, got %g", p->out_noise);
    if (!isfinite(p->out_bound)) return mt_err_set(err, MT_ERR_ARG, "aimc: out_bound must be finite");
    if (p->adc_bits > 0 && !(p->out_bound > 0))
        return mt_err_set(err, MT_ERR_ARG, "aimc: ADC quantisation needs out_bound > 0");
    if ((int)p->read < 0 || p->read > MT_AIMC_READ_OFF)
        return mt_err_set(err, MT_ERR_ARG, "aimc: unknown read-noise mode %d", (int)p->read);
    if ((int)p->gdc < 0 || p->gdc > MT_AIMC_GDC_NONE)
        return mt_err_set(err, MT_ERR_ARG, "aimc: unknown drift-compensation mode %d", (int)p->gdc);
    return MT_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Geometry                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/* Balanced split of n into k = ceil(n/max) blocks: floor(n/k), +1 for the first n mod k
 * (aihwkit tiles/array.py; 1000 → 334, 333, 333). */
static void split(int64_t n, int64_t max, int64_t b, int64_t *start, int64_t *len)
{
    int64_t k = (n + max - 1) / max;
    int64_t q = n / k, r = n % k;
    *start = b * q + (b < r ? b : r);
    *len = q + (b < r ? 1 : 0);
}

static void tile_free(aimc_tile *t)
{
    free(t->scale);
    free(t->g_t);
    free(t->g_p);
    free(t->g_now);
    free(t->nu);
    free(t->w);
    free(t->var);
    free(t->ref);
    free(t->alpha);
}

void mt_aimc_matrix_free(mt_aimc_matrix *m)
{
    if (!m) return;
    for (int t = 0; t < m->ntiles; t++) tile_free(&m->tiles[t]);
    free(m->tiles);
    free(m);
}

/* ------------------------------------------------------------------------------------------ */
/* Quantisers                                                                                  */
/* ------------------------------------------------------------------------------------------ */

static inline float adc(const mt_aimc_params *p, double v)
{
    if (p->adc_bits > 0) {
        double d = 2.0 * p->out_bound / (double)((1LL << p->adc_bits) - 2);
        v = rint(v / d) * d; /* round half to even, as rintf in aihwkit */
    }
    if (p->out_bound > 0) {
        if (v > p->out_bound) v = p->out_bound;
        if (v < -p->out_bound) v = -p->out_bound;
    }
    return (float)v;
}

static inline double dac_levels(const mt_aimc_params *p)
{
    return p->dac_bits > 0 ? (double)((1LL << (p->dac_bits - 1)) - 1) : 0.0;
}

/* Quantise inputs x[ins, cols] of row block rb into xq (same layout, rows of the block only
 * are written); inscale[c] receives the digital factor that undoes the normalisation. */
static void dac_block(const mt_aimc_matrix *m, const float *x, int64_t cols, int64_t r0,
                      int64_t nr, float *xq, float *inscale)
{
    double L = dac_levels(&m->p);
    for (int64_t c = 0; c < cols; c++) {
        double s = m->ir;
        if (!(s > 0)) { /* per-vector abs max over this tile's input slice */
            s = 0;
            for (int64_t j = 0; j < nr; j++) {
                double a = fabs(x[(r0 + j) * cols + c]);
                if (a > s) s = a;
            }
        }
        inscale[c] = (float)s;
    }
    for (int64_t j = 0; j < nr; j++) {
        const float *xr = x + (r0 + j) * cols;
        float *qr = xq + (r0 + j) * cols;
        for (int64_t c = 0; c < cols; c++) {
            double s = inscale[c];
            double v = s > 0 ? xr[c] / s : 0.0;
            if (v > 1) v = 1;
            if (v < -1) v = -1;
            if (L > 0) v = rint(v * L) / L;
            qr[c] = (float)v;
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Program, time, compensation                                                                 */
/* ------------------------------------------------------------------------------------------ */

/* Read-out of tile t with one-hot inputs (X = I): y_ij = ADC(w_ij + √(σ_out² + var_ij)·N), the
 * tile forward for x = e_j (DAC-exact).  Returns per column i the mean over j of |y_ij| in
 * colmean[i] and the grand mean. */
static double readout(const mt_aimc_matrix *m, const aimc_tile *t, int with_var, mt_rng *r,
                      double *colmean)
{
    double so = m->p.noise_scale * m->p.out_noise;
    double tot = 0;
    for (int64_t i = 0; i < t->cols; i++) {
        double acc = 0;
        for (int64_t j = 0; j < t->rows; j++) {
            int64_t k = i * t->rows + j;
            double v = t->w[k];
            double var = so * so + (with_var && t->var ? t->var[k] : 0.0);
            if (m->mvm_noise) v += sqrt(var) * mt_rng_normal(r);
            acc += fabs(adc(&m->p, v));
        }
        colmean[i] = acc / (double)t->rows;
        tot += acc;
    }
    return tot / (double)t->n;
}

/* Effective tile weights and per-MVM read variance at time t_inf; frozen read noise from r. */
static void tile_at_time(const mt_aimc_matrix *m, aimc_tile *t, double t_inf, int programmed_only,
                         mt_rng *r)
{
    const mt_pcm_params *q = &m->p.pcm;
    int U = m->units;
    double inv = 1.0 / m->g_full, ns = m->p.noise_scale;
    int frozen = !programmed_only && m->p.read == MT_AIMC_READ_FROZEN;
    int permvm = !programmed_only && m->p.read == MT_AIMC_READ_PER_MVM;
    /* Hoisted from mt_pcm_drift / mt_pcm_read_sigma: (t/t0)^−ν = exp(−ν·ln(t/t0)), and the
     * read factor √ln((t+t_r)/2t_r) is the same for every device. */
    double lt = log((t_inf + q->t0) / q->t0);
    double rf = q->read_noise_scale * mt_pcm_read_factor(q, t_inf);
    for (int64_t k = 0; k < t->n; k++) {
        double w = 0, var = 0;
        for (int u = 0; u < 2 * U; u++) {
            int64_t idx = (int64_t)u * t->n + k;
            double gp = t->g_p[idx], g = gp;
            if (!programmed_only && gp > 0) {
                double gd = lt > 0 ? gp * exp(-(double)t->nu[idx] * lt) : gp;
                g = gd;
                if (frozen || permvm) {
                    double sd = ns * gd * rf * mt_pcm_read_qs(q, gp);
                    if (frozen) {
                        g = gd + sd * mt_rng_normal(r);
                        if (g < 0) g = 0;
                    } else {
                        var += sd * sd;
                    }
                }
            }
            t->g_now[idx] = (float)g;
            w += u < U ? g : -g;
        }
        t->w[k] = (float)(w * inv);
        if (t->var) t->var[k] = (float)(var * inv * inv);
    }
}

static void compensate(const mt_aimc_matrix *m, aimc_tile *t, mt_rng *r, double *colmean)
{
    if (m->p.gdc == MT_AIMC_GDC_NONE) {
        for (int64_t i = 0; i < t->cols; i++) t->alpha[i] = 1.0;
        return;
    }
    double cur = readout(m, t, 1, r, colmean);
    for (int64_t i = 0; i < t->cols; i++) {
        if (m->p.gdc == MT_AIMC_GDC_COLUMN) {
            double c = colmean[i] > 1e-6 ? colmean[i] : 1e-6;
            double f = t->ref[i] > 1e-6 ? t->ref[i] : 1e-6;
            t->alpha[i] = f / c;
        } else {
            double c = cur > 1e-6 ? cur : 1e-6;
            double f = t->ref[0] > 1e-6 ? t->ref[0] : 1e-6;
            t->alpha[i] = f / c;
        }
    }
}

static int mvm_noise_on(const mt_aimc_params *p)
{
    return p->noise_scale > 0 &&
           (p->out_noise > 0 || (p->read == MT_AIMC_READ_PER_MVM && p->pcm.read_noise_scale > 0));
}

mt_status mt_aimc_matrix_program(mt_aimc_matrix **out, const float *W, int64_t outs, int64_t ins,
                                 const mt_aimc_params *p, uint64_t seed, mt_err *err)
{
    *out = NULL;
    mt_status st = mt_aimc_params_check(p, err);
    if (st) return st;
    if (outs < 1 || ins < 1 || outs > (1LL << 31) || ins > (1LL << 31))
        return mt_err_set(err, MT_ERR_ARG, "aimc: matrix size %lldx%lld out of range", (long long)outs,
                          (long long)ins);
    if (!W) return mt_err_set(err, MT_ERR_ARG, "aimc: no weights");
    double gmax_all = 0;
    for (int64_t k = 0; k < outs * ins; k++) {
        if (!isfinite(W[k]))
            return mt_err_set(err, MT_ERR_DATA, "aimc: weight [%lld, %lld] is not finite",
                              (long long)(k / ins), (long long)(k % ins));
        double a = fabs(W[k]);
        if (a > gmax_all) gmax_all = a;
    }
    mt_aimc_matrix *m = calloc(1, sizeof *m);
    if (!m) return mt_err_set(err, MT_ERR_NOMEM, "aimc: out of memory");
    m->p = *p;
    m->outs = outs;
    m->ins = ins;
    m->nrb = (int)((ins + p->tile_rows - 1) / p->tile_rows);
    m->ncb = (int)((outs + p->tile_cols - 1) / p->tile_cols);
    m->ntiles = m->nrb * m->ncb;
    m->units = mt_pcm_units(&p->pcm);
    m->g_unit = mt_pcm_unit_gmax(&p->pcm);
    m->g_full = m->units * m->g_unit;
    m->ir = 0;
    m->mvm_noise = mvm_noise_on(p);
    m->tiles = calloc((size_t)m->ntiles, sizeof *m->tiles);
    if (!m->tiles) goto nomem;
    int U2 = 2 * m->units;
    for (int rb = 0; rb < m->nrb; rb++)
        for (int cb = 0; cb < m->ncb; cb++) {
            aimc_tile *t = &m->tiles[rb * m->ncb + cb];
            split(ins, p->tile_rows, rb, &t->row0, &t->rows);
            split(outs, p->tile_cols, cb, &t->col0, &t->cols);
            t->n = t->rows * t->cols;
            size_t n = (size_t)t->n;
            t->scale = malloc((size_t)t->cols * sizeof(float));
            t->g_t = malloc(U2 * n * sizeof(float));
            t->g_p = malloc(U2 * n * sizeof(float));
            t->g_now = malloc(U2 * n * sizeof(float));
            t->nu = malloc(U2 * n * sizeof(float));
            t->w = malloc(n * sizeof(float));
            t->var = p->read == MT_AIMC_READ_PER_MVM ? calloc(n, sizeof(float)) : NULL;
            t->ref = calloc((size_t)t->cols, sizeof(double));
            t->alpha = malloc((size_t)t->cols * sizeof(double));
            if (!t->scale || !t->g_t || !t->g_p || !t->g_now || !t->nu || !t->w || !t->ref || !t->alpha ||
                (p->read == MT_AIMC_READ_PER_MVM && !t->var))
                goto nomem;
        }

    int fail = 0;
#pragma omp parallel for schedule(dynamic) reduction(| : fail)
    for (int ti = 0; ti < m->ntiles; ti++) {
        aimc_tile *t = &m->tiles[ti];
        const mt_pcm_params *q = &m->p.pcm;
        int U = m->units;
        /* Digital weight scale (W units per tile unit): max|W| of the column / tile / matrix. */
        double tmax = 0;
        for (int64_t i = 0; i < t->cols; i++) {
            double cm = 0;
            for (int64_t j = 0; j < t->rows; j++) {
                double a = fabs(W[(t->col0 + i) * ins + t->row0 + j]);
                if (a > cm) cm = a;
            }
            t->scale[i] = (float)cm;
            if (cm > tmax) tmax = cm;
        }
        for (int64_t i = 0; i < t->cols; i++) {
            double s = p->scale == MT_AIMC_SCALE_COLUMN ? t->scale[i]
                       : p->scale == MT_AIMC_SCALE_TILE ? tmax : gmax_all;
            t->scale[i] = (float)(s > 0 ? s : 1.0);
        }
        /* Targets: |w| of full scale on every unit of the weight's polarity, 0 on the other. */
        double exact_ref = 0;
        for (int64_t i = 0; i < t->cols; i++) {
            double col_ref = 0;
            for (int64_t j = 0; j < t->rows; j++) {
                int64_t k = i * t->rows + j;
                double wn = W[(t->col0 + i) * ins + t->row0 + j] / (double)t->scale[i];
                if (wn > 1) wn = 1;
                if (wn < -1) wn = -1;
                double g = fabs(wn) * m->g_unit;
                for (int u = 0; u < 2 * U; u++) {
                    int pos = u < U;
                    t->g_t[(int64_t)u * t->n + k] = (float)(((wn > 0) == pos && wn != 0) ? g : 0.0);
                }
                col_ref += fabs(wn);
            }
            exact_ref += col_ref;
            if (p->gdc == MT_AIMC_GDC_GLOBAL_EXACT) t->ref[i] = col_ref / (double)t->rows;
        }
        if (p->gdc == MT_AIMC_GDC_GLOBAL_EXACT) t->ref[0] = exact_ref / (double)t->n;
        /* Programming noise, then ν (both drawn once per device, from the tile's stream). */
        mt_rng r;
        mt_rng_init(&r, seed, aimc_stream(AIMC_STREAM_PROGRAM, (uint64_t)ti, 0));
        int64_t tot = (int64_t)(2 * U) * t->n;
        for (int64_t k = 0; k < tot; k++) t->g_p[k] = (float)mt_pcm_program(q, t->g_t[k], p->noise_scale, &r);
        for (int64_t k = 0; k < tot; k++) t->nu[k] = (float)mt_pcm_draw_nu(q, t->g_t[k], &r);
        /* GDC baseline: noisy read-out of the programmed state (no drift, no read noise). */
        tile_at_time(m, t, 0.0, 1, NULL);
        double *cm = malloc((size_t)t->cols * sizeof(double));
        if (!cm) {
            fail = 1;
            continue;
        }
        if (p->gdc == MT_AIMC_GDC_GLOBAL || p->gdc == MT_AIMC_GDC_COLUMN) {
            mt_rng rr;
            mt_rng_init(&rr, seed, aimc_stream(AIMC_STREAM_GDC_REF, (uint64_t)ti, 0));
            double g = readout(m, t, 0, &rr, cm);
            for (int64_t i = 0; i < t->cols; i++) t->ref[i] = p->gdc == MT_AIMC_GDC_COLUMN ? cm[i] : 0;
            if (p->gdc == MT_AIMC_GDC_GLOBAL) t->ref[0] = g;
        }
        free(cm);
    }
    if (fail) goto nomem;
    st = mt_aimc_matrix_set_time(m, 0.0, seed, err);
    if (st) {
        mt_aimc_matrix_free(m);
        return st;
    }
    *out = m;
    return MT_OK;
nomem:
    mt_aimc_matrix_free(m);
    return mt_err_set(err, MT_ERR_NOMEM, "aimc: out of memory programming a %lldx%lld matrix",
                      (long long)outs, (long long)ins);
}

mt_status mt_aimc_matrix_set_time(mt_aimc_matrix *m, double t_inf, uint64_t seed, mt_err *err)
{
    if (!m) return mt_err_set(err, MT_ERR_STATE, "aimc: no matrix");
    if (!(isfinite(t_inf) && t_inf >= 0))
        return mt_err_set(err, MT_ERR_ARG, "aimc: inference time must be finite and >= 0 s, got %g", t_inf);
    int fail = 0;
#pragma omp parallel for schedule(dynamic) reduction(| : fail)
    for (int ti = 0; ti < m->ntiles; ti++) {
        aimc_tile *t = &m->tiles[ti];
        mt_rng r;
        mt_rng_init(&r, seed, aimc_stream(AIMC_STREAM_READ, (uint64_t)ti, 0));
        tile_at_time(m, t, t_inf, 0, &r);
        double *cm = malloc((size_t)t->cols * sizeof(double));
        if (!cm) {
            fail = 1;
            continue;
        }
        mt_rng_init(&r, seed, aimc_stream(AIMC_STREAM_GDC_NOW, (uint64_t)ti, 0));
        compensate(m, t, &r, cm);
        free(cm);
    }
    if (fail) return mt_err_set(err, MT_ERR_NOMEM, "aimc: out of memory");
    m->t_inf = t_inf;
    return MT_OK;
}

void mt_aimc_matrix_set_input_range(mt_aimc_matrix *m, float ir) { m->ir = (isfinite(ir) && ir > 0) ? ir : 0; }

/* ------------------------------------------------------------------------------------------ */
/* MVM                                                                                         */
/* ------------------------------------------------------------------------------------------ */

static mt_status mvm_check(const mt_aimc_matrix *m, const float *x, int64_t cols, float *y,
                           mt_rng *rng, mt_err *err)
{
    if (!m || !x || !y || !rng) return mt_err_set(err, MT_ERR_ARG, "aimc mvm: NULL argument");
    if (cols < 1) return mt_err_set(err, MT_ERR_ARG, "aimc mvm: %lld columns", (long long)cols);
    return MT_OK;
}

/* Noise, ADC and digital rescale of one tile's analog result yt[cols_t, cols] (vt: read
 * variance or NULL), accumulated into y. */
static void tile_finish(const mt_aimc_matrix *m, const aimc_tile *t, const float *yt,
                        const float *vt, const float *inscale, int64_t cols, float *y, mt_rng *rng)
{
    double so2 = m->p.noise_scale * m->p.out_noise;
    so2 *= so2;
    for (int64_t i = 0; i < t->cols; i++) {
        double f = (double)t->scale[i] * t->alpha[i];
        float *yr = y + (t->col0 + i) * cols;
        for (int64_t c = 0; c < cols; c++) {
            double v = yt[i * cols + c];
            if (m->mvm_noise) {
                double var = so2 + (vt ? (vt[i * cols + c] > 0 ? vt[i * cols + c] : 0.0) : 0.0);
                v += sqrt(var) * mt_rng_normal(rng);
            }
            yr[c] += (float)(adc(&m->p, v) * f * inscale[c]);
        }
    }
}

mt_status mt_aimc_matrix_mvm(const mt_aimc_matrix *m, const float *x, int64_t cols, float *y,
                             mt_rng *rng, mt_err *err)
{
    mt_status st = mvm_check(m, x, cols, y, rng, err);
    if (st) return st;
    int64_t maxr = 0, maxc = 0;
    for (int t = 0; t < m->ntiles; t++) {
        if (m->tiles[t].rows > maxr) maxr = m->tiles[t].rows;
        if (m->tiles[t].cols > maxc) maxc = m->tiles[t].cols;
    }
    int permvm = m->p.read == MT_AIMC_READ_PER_MVM && m->mvm_noise;
    float *xq = malloc((size_t)(m->ins * cols) * sizeof(float));
    float *inscale = malloc((size_t)(m->nrb * cols) * sizeof(float));
    float *yt = malloc((size_t)(maxc * cols) * sizeof(float));
    float *x2 = permvm ? malloc((size_t)(maxr * cols) * sizeof(float)) : NULL;
    float *vt = permvm ? malloc((size_t)(maxc * cols) * sizeof(float)) : NULL;
    if (!xq || !inscale || !yt || (permvm && (!x2 || !vt))) {
        free(xq), free(inscale), free(yt), free(x2), free(vt);
        return mt_err_set(err, MT_ERR_NOMEM, "aimc mvm: out of memory");
    }
    memset(y, 0, (size_t)(m->outs * cols) * sizeof(float));
    for (int rb = 0; rb < m->nrb; rb++) {
        const aimc_tile *t0 = &m->tiles[rb * m->ncb];
        float *is = inscale + (int64_t)rb * cols;
        dac_block(m, x, cols, t0->row0, t0->rows, xq, is);
        const float *xb = xq + t0->row0 * cols;
        if (permvm)
            for (int64_t k = 0; k < t0->rows * cols; k++) x2[k] = xb[k] * xb[k];
        for (int cb = 0; cb < m->ncb; cb++) {
            const aimc_tile *t = &m->tiles[rb * m->ncb + cb];
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)t->cols, (int)cols, (int)t->rows,
                        1.0f, t->w, (int)t->rows, xb, (int)cols, 0.0f, yt, (int)cols);
            if (permvm)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)t->cols, (int)cols, (int)t->rows,
                            1.0f, t->var, (int)t->rows, x2, (int)cols, 0.0f, vt, (int)cols);
            tile_finish(m, t, yt, permvm ? vt : NULL, is, cols, y, rng);
        }
    }
    free(xq), free(inscale), free(yt), free(x2), free(vt);
    return MT_OK;
}

mt_status mt_aimc_matrix_mvm_ref(const mt_aimc_matrix *m, const float *x, int64_t cols, float *y,
                                 mt_rng *rng, mt_err *err)
{
    mt_status st = mvm_check(m, x, cols, y, rng, err);
    if (st) return st;
    int permvm = m->p.read == MT_AIMC_READ_PER_MVM && m->mvm_noise;
    float *xq = malloc((size_t)(m->ins * cols) * sizeof(float));
    float *is = malloc((size_t)cols * sizeof(float));
    if (!xq || !is) {
        free(xq), free(is);
        return mt_err_set(err, MT_ERR_NOMEM, "aimc mvm: out of memory");
    }
    double L = dac_levels(&m->p);
    double so = m->p.noise_scale * m->p.out_noise;
    memset(y, 0, (size_t)(m->outs * cols) * sizeof(float));
    for (int rb = 0; rb < m->nrb; rb++) {
        const aimc_tile *t0 = &m->tiles[rb * m->ncb];
        /* DAC, written out independently of dac_block. */
        for (int64_t c = 0; c < cols; c++) {
            double s = m->ir;
            if (!(s > 0)) {
                s = 0;
                for (int64_t j = 0; j < t0->rows; j++) s = fmax(s, fabs(x[(t0->row0 + j) * cols + c]));
            }
            is[c] = (float)s;
            for (int64_t j = 0; j < t0->rows; j++) {
                int64_t k = (t0->row0 + j) * cols + c;
                double v = s > 0 ? fmin(1.0, fmax(-1.0, x[k] / s)) : 0.0;
                xq[k] = (float)(L > 0 ? rint(v * L) / L : v);
            }
        }
        for (int cb = 0; cb < m->ncb; cb++) {
            const aimc_tile *t = &m->tiles[rb * m->ncb + cb];
            for (int64_t i = 0; i < t->cols; i++)
                for (int64_t c = 0; c < cols; c++) {
                    double acc = 0, var = so * so;
                    for (int64_t j = 0; j < t->rows; j++) {
                        double xv = xq[(t->row0 + j) * cols + c];
                        acc += (double)t->w[i * t->rows + j] * xv;
                        if (permvm) var += (double)t->var[i * t->rows + j] * xv * xv;
                    }
                    if (m->mvm_noise) acc += sqrt(var) * mt_rng_normal(rng);
                    y[(t->col0 + i) * cols + c] +=
                        (float)(adc(&m->p, acc) * (double)t->scale[i] * t->alpha[i] * is[c]);
                }
        }
    }
    free(xq), free(is);
    return MT_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Introspection                                                                               */
/* ------------------------------------------------------------------------------------------ */

int64_t mt_aimc_matrix_outs(const mt_aimc_matrix *m) { return m->outs; }
int64_t mt_aimc_matrix_ins(const mt_aimc_matrix *m) { return m->ins; }
int mt_aimc_matrix_ntiles(const mt_aimc_matrix *m) { return m->ntiles; }
double mt_aimc_matrix_time(const mt_aimc_matrix *m) { return m->t_inf; }

void mt_aimc_matrix_tile(const mt_aimc_matrix *m, int ti, mt_aimc_tile_info *info)
{
    const aimc_tile *t = &m->tiles[ti];
    info->row0 = t->row0;
    info->rows = t->rows;
    info->col0 = t->col0;
    info->cols = t->cols;
    double a = 0;
    for (int64_t i = 0; i < t->cols; i++) a += t->alpha[i];
    info->alpha = a / (double)t->cols;
}

void mt_aimc_matrix_effective(const mt_aimc_matrix *m, float *W)
{
    for (int ti = 0; ti < m->ntiles; ti++) {
        const aimc_tile *t = &m->tiles[ti];
        for (int64_t i = 0; i < t->cols; i++)
            for (int64_t j = 0; j < t->rows; j++)
                W[(t->col0 + i) * m->ins + t->row0 + j] =
                    (float)((double)t->w[i * t->rows + j] * t->scale[i] * t->alpha[i]);
    }
}

int mt_aimc_matrix_devices(const mt_aimc_matrix *m, int ti, int u, const float **g_target,
                           const float **g_prog, const float **g_now, const float **nu)
{
    const aimc_tile *t = &m->tiles[ti];
    int64_t off = (int64_t)u * t->n;
    if (g_target) *g_target = t->g_t + off;
    if (g_prog) *g_prog = t->g_p + off;
    if (g_now) *g_now = t->g_now + off;
    if (nu) *nu = t->nu + off;
    return m->units;
}
