/* Hardware-aware training: the HWA network (analog layers here, digital runs as nn sub-models),
 * its forward/backward kernels (BLAS path + naive reference), weight clipping, the noise-free
 * inference hook and the checkpoint metadata.  Semantics and formulas: materia/hwa.h and
 * docs/aimc.md "Hardware-aware training" (aihwkit-lightning TorchLinear, paper-code.md §5.2). */
#include <cblas.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "aimc/hwa_impl.h"

/* ------------------------------------------------------------------------------------------ */
/* Options                                                                                     */
/* ------------------------------------------------------------------------------------------ */

void mt_hwa_opts_default(mt_hwa_opts *o)
{
    memset(o, 0, sizeof *o);
    o->weight_noise = 0.12;
    o->noise_per_sample = 1;
    o->out_noise = 0.1;
    o->clip_sigma = 1.5;
    o->inp_bits = 8;
    o->out_bound = 0;
    o->out_bits = 0;
    o->learn_ir = 1;
    o->ir_init_batches = 100;
    o->ir_init_alpha = 3.0;
    o->ir_init_value = 3.0;
    o->ir_decay = 0.15;
    o->ir_min_pct = 0.95;
    o->bn_recal = 1;
}

static int fin_nonneg(double v) { return isfinite(v) && v >= 0; }

mt_status mt_hwa_opts_check(const mt_hwa_opts *o, mt_err *err)
{
    if (!fin_nonneg(o->weight_noise) || o->weight_noise > 10)
        return mt_err_set(err, MT_ERR_ARG, "hwa: weight noise must be in [0, 10], got %g", o->weight_noise);
    if (!fin_nonneg(o->out_noise) || o->out_noise > 10)
        return mt_err_set(err, MT_ERR_ARG, "hwa: output noise must be in [0, 10], got %g", o->out_noise);
    if (!fin_nonneg(o->clip_sigma))
        return mt_err_set(err, MT_ERR_ARG, "hwa: clip sigma must be finite and >= 0, got %g", o->clip_sigma);
    if (o->inp_bits < 0 || o->inp_bits == 1 || o->inp_bits > 24)
        return mt_err_set(err, MT_ERR_ARG, "hwa: input bits must be 0 (off) or in [2, 24], got %d", o->inp_bits);
    if (o->out_bits < 0 || o->out_bits == 1 || o->out_bits > 24)
        return mt_err_set(err, MT_ERR_ARG, "hwa: output bits must be 0 (off) or in [2, 24], got %d", o->out_bits);
    if (!fin_nonneg(o->out_bound))
        return mt_err_set(err, MT_ERR_ARG, "hwa: output bound must be finite and >= 0, got %g", o->out_bound);
    if (o->out_bits > 0 && !(o->out_bound > 0))
        return mt_err_set(err, MT_ERR_ARG, "hwa: output quantisation needs an output bound > 0");
    if (o->ir_init_batches < 0)
        return mt_err_set(err, MT_ERR_ARG, "hwa: input-range init batches must be >= 0, got %d", o->ir_init_batches);
    if (!(isfinite(o->ir_init_alpha) && o->ir_init_alpha > 0))
        return mt_err_set(err, MT_ERR_ARG, "hwa: input-range init alpha must be > 0, got %g", o->ir_init_alpha);
    if (!(isfinite(o->ir_init_value) && o->ir_init_value > 0))
        return mt_err_set(err, MT_ERR_ARG, "hwa: initial input range must be > 0, got %g", o->ir_init_value);
    if (!fin_nonneg(o->ir_decay))
        return mt_err_set(err, MT_ERR_ARG, "hwa: input-range decay must be finite and >= 0, got %g", o->ir_decay);
    if (!(isfinite(o->ir_min_pct) && o->ir_min_pct >= 0 && o->ir_min_pct <= 1))
        return mt_err_set(err, MT_ERR_ARG, "hwa: input-range min percentage must be in [0, 1], got %g", o->ir_min_pct);
    return MT_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Elementwise pieces                                                                          */
/* ------------------------------------------------------------------------------------------ */

double hwa_levels(int bits) { return bits > 0 ? (double)((1LL << (bits - 1)) - 1) : 0.0; }

/* Clip to ±ir and quantise to the DAC grid Δ = ir/L (L = 2^(b−1) − 1, so Δ = 2·ir/(2^b − 2)),
 * round half to even as torch.round.  ir ≤ 0: identity. */
float hwa_quant(float v, float ir, double L)
{
    if (!(ir > 0)) return v;
    double c = v > ir ? ir : (v < -ir ? -ir : v);
    if (L > 0) {
        double d = (double)ir / L;
        c = rint(c / d) * d;
    }
    return (float)c;
}

/* Optional ADC on one output: bound B = out_bound·wmax·ir (0: none), steps 2^b − 2 across ±B. */
float hwa_adc(float v, double bound, int bits)
{
    if (!(bound > 0)) return v;
    double c = v;
    if (bits > 0) {
        double d = 2.0 * bound / (double)((1LL << bits) - 2);
        c = rint(c / d) * d;
    }
    if (c > bound) c = bound;
    if (c < -bound) c = -bound;
    return (float)c;
}

int hwa_adc_clips(float v, double bound, int bits)
{
    if (!(bound > 0)) return 0;
    double c = v;
    if (bits > 0) {
        double d = 2.0 * bound / (double)((1LL << bits) - 2);
        c = rint(c / d) * d;
    }
    return c > bound ? 1 : (c < -bound ? -1 : 0);
}

/* Distinct random streams per (domain, layer, a, b). */
uint64_t hwa_stream(uint64_t domain, uint64_t layer, uint64_t a, uint64_t b)
{
    uint64_t z = (domain + 0x9E3779B97F4A7C15ULL) * 0xBF58476D1CE4E5B9ULL;
    z ^= (layer + 0x632BE59BD9B4E019ULL) * 0x94D049BB133111EBULL;
    z = (z ^ (z >> 31)) * 0xBF58476D1CE4E5B9ULL;
    z ^= (a + 0x85EBCA77C2B2AE63ULL) * 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 29)) * 0x94D049BB133111EBULL;
    z ^= (b + 0xC2B2AE3D27D4EB4FULL) * 0xBF58476D1CE4E5B9ULL;
    return z ^ (z >> 32);
}

int hwa_is_analog(const mt_layer *L)
{
    return (L->type == MT_LAYER_CONV || L->type == MT_LAYER_LINEAR) && L->analog && L->w;
}

/* Matrix view of an analog layer: R rows (C_in·k or in features), To positions, outs. */
void hwa_layer_shape(const mt_layer *L, int64_t *R, int64_t *To, int64_t *outs)
{
    if (L->type == MT_LAYER_CONV) {
        *R = L->in_c * L->k;
        *To = L->out_t;
        *outs = L->out_c;
    } else {
        *R = L->in_c * L->in_t;
        *To = 1;
        *outs = L->out_c * L->out_t;
    }
}

/* im2col of one sample (row c·k + j, column t: x[c, t·S + j·D − P], 0 outside); a linear
 * layer's "col" is the sample itself as one column. */
void hwa_im2col(const mt_layer *L, const float *x, float *col)
{
    if (L->type != MT_LAYER_CONV) {
        memcpy(col, x, (size_t)(L->in_c * L->in_t) * sizeof(float));
        return;
    }
    const int64_t Cin = L->in_c, Tin = L->in_t, To = L->out_t;
    const int K = L->k, S = L->stride, P = L->pad, D = L->dilation;
    for (int64_t ci = 0; ci < Cin; ci++)
        for (int j = 0; j < K; j++) {
            float *cr = col + (ci * K + j) * To;
            const float *xr = x + ci * Tin;
            int64_t off = (int64_t)j * D - P;
            for (int64_t t = 0; t < To; t++) {
                int64_t s = t * S + off;
                cr[t] = (s >= 0 && s < Tin) ? xr[s] : 0.0f;
            }
        }
}

/* dx [in_c, in_t] = col2im(dcol) (overwrites dx). */
static void hwa_col2im(const mt_layer *L, const float *dcol, float *dx)
{
    if (L->type != MT_LAYER_CONV) {
        memcpy(dx, dcol, (size_t)(L->in_c * L->in_t) * sizeof(float));
        return;
    }
    const int64_t Cin = L->in_c, Tin = L->in_t, To = L->out_t;
    const int K = L->k, S = L->stride, P = L->pad, D = L->dilation;
    memset(dx, 0, (size_t)(Cin * Tin) * sizeof(float));
    for (int64_t ci = 0; ci < Cin; ci++)
        for (int j = 0; j < K; j++) {
            const float *cr = dcol + (ci * K + j) * To;
            float *dr = dx + ci * Tin;
            int64_t off = (int64_t)j * D - P;
            for (int64_t t = 0; t < To; t++) {
                int64_t s = t * S + off;
                if (s >= 0 && s < Tin) dr[s] += cr[t];
            }
        }
}

/* Row max |W| [outs] of W [outs, R]. */
static void row_absmax(const float *W, int64_t outs, int64_t R, float *wmax)
{
    for (int64_t o = 0; o < outs; o++) {
        float m = 0;
        for (int64_t j = 0; j < R; j++) {
            float a = fabsf(W[o * R + j]);
            if (a > m) m = a;
        }
        wmax[o] = m;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Weight clipping                                                                             */
/* ------------------------------------------------------------------------------------------ */

void mt_hwa_clip_weights(mt_model *m, double sigma)
{
    if (!(sigma > 0)) return;
    for (int l = 0; l < m->nlayers; l++) {
        mt_layer *L = &m->layers[l];
        if (!hwa_is_analog(L)) continue;
        int64_t R, To, outs;
        hwa_layer_shape(L, &R, &To, &outs);
        if (R < 2) continue; /* the unbiased std of one weight is undefined (torch: NaN) */
#pragma omp parallel for schedule(static)
        for (int64_t o = 0; o < outs; o++) {
            float *w = L->w + o * R;
            double s = 0, q = 0;
            for (int64_t j = 0; j < R; j++) s += w[j];
            double mean = s / (double)R;
            for (int64_t j = 0; j < R; j++) q += ((double)w[j] - mean) * ((double)w[j] - mean);
            float b = (float)(sigma * sqrt(q / (double)(R - 1)));
            for (int64_t j = 0; j < R; j++) w[j] = w[j] > b ? b : (w[j] < -b ? -b : w[j]);
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Noise-free inference hook                                                                   */
/* ------------------------------------------------------------------------------------------ */

mt_status mt_hwa_matmul(void *ctx, const mt_matmul_call *call, const float *w, const float *x,
                        int64_t rows, int64_t cols, int64_t outs, float *y)
{
    const mt_hwa_infer *inf = ctx;
    if (!inf || !call || !call->model || call->layer < 0 || call->layer >= call->model->nlayers)
        return MT_ERR_STATE;
    float ir = inf->ranges ? inf->ranges[call->layer] : 0.0f;
    double L = hwa_levels(inf->inp_bits);
    float *xq = malloc((size_t)(rows * cols) * sizeof(float));
    float *wmax = malloc((size_t)outs * sizeof(float));
    if (!xq || !wmax) {
        free(xq);
        free(wmax);
        return MT_ERR_NOMEM;
    }
    for (int64_t k = 0; k < rows * cols; k++) xq[k] = hwa_quant(x[k], ir, L);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)outs, (int)cols, (int)rows, 1.0f, w,
                (int)rows, xq, (int)cols, 0.0f, y, (int)cols);
    if (inf->out_bound > 0 && ir > 0) {
        row_absmax(w, outs, rows, wmax);
        for (int64_t o = 0; o < outs; o++) {
            double B = inf->out_bound * (double)wmax[o] * (double)ir;
            for (int64_t c = 0; c < cols; c++) y[o * cols + c] = hwa_adc(y[o * cols + c], B, inf->out_bits);
        }
    }
    free(xq);
    free(wmax);
    return MT_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* The network                                                                                 */
/* ------------------------------------------------------------------------------------------ */

static void seg_free(hwa_stage *s)
{
    if (s->has_sub) mt_model_free(&s->sub);
    free(s->y);
    free(s->dx);
    free(s->wn);
    free(s->wmax);
    free(s->oclip);
}

void mt_hwa_net_free(mt_hwa_net *h)
{
    if (!h) return;
    for (int i = 0; i < h->nstages; i++) seg_free(&h->stages[i]);
    free(h->stages);
    free(h->ir);
    free(h->irg);
    free(h->irg_exact);
    free(h->ir_n);
    free(h);
}

void mt_hwa_net_set_reference(mt_hwa_net *h, int on)
{
    h->reference = on ? 1 : 0;
    for (int i = 0; i < h->nstages; i++)
        if (h->stages[i].has_sub) h->stages[i].sub.reference = h->reference;
}

float *mt_hwa_net_ranges(mt_hwa_net *h) { return h->ir; }
const double *mt_hwa_net_range_grads(const mt_hwa_net *h) { return h->irg; }
const double *mt_hwa_net_range_grads_exact(const mt_hwa_net *h) { return h->irg_exact; }
int64_t mt_hwa_net_range_updates(const mt_hwa_net *h, int l)
{
    return (l >= 0 && l < h->m->nlayers) ? h->ir_n[l] : 0;
}
void mt_hwa_net_set_range_updates(mt_hwa_net *h, int l, int64_t n)
{
    if (l >= 0 && l < h->m->nlayers) h->ir_n[l] = n;
}
uint64_t mt_hwa_net_forward_id(const mt_hwa_net *h) { return h->forward_id; }

/* Copy parameters (dir 0: m → sub) of a digital stage's layers, or BN state (buffers). */
static void stage_copy_params(mt_hwa_net *h, hwa_stage *s)
{
    for (int i = 0; i < s->n; i++) {
        const mt_layer *F = &h->m->layers[s->first + i];
        mt_layer *S = &s->sub.layers[i];
        if (F->nw) memcpy(S->w, F->w, (size_t)F->nw * sizeof(float));
        if (F->nb) memcpy(S->b, F->b, (size_t)F->nb * sizeof(float));
    }
}

static void stage_copy_buffers(mt_hwa_net *h, hwa_stage *s, int to_sub)
{
    for (int i = 0; i < s->n; i++) {
        mt_layer *F = &h->m->layers[s->first + i];
        mt_layer *S = &s->sub.layers[i];
        if (F->type != MT_LAYER_BN || !F->running_mean || !S->running_mean) continue;
        size_t n = (size_t)F->in_c * sizeof(float);
        if (to_sub) {
            memcpy(S->running_mean, F->running_mean, n);
            memcpy(S->running_var, F->running_var, n);
            S->num_batches_tracked = F->num_batches_tracked;
        } else {
            memcpy(F->running_mean, S->running_mean, n);
            memcpy(F->running_var, S->running_var, n);
            F->num_batches_tracked = S->num_batches_tracked;
        }
    }
}

void mt_hwa_net_load(mt_hwa_net *h)
{
    for (int i = 0; i < h->nstages; i++)
        if (h->stages[i].has_sub) {
            stage_copy_params(h, &h->stages[i]);
            stage_copy_buffers(h, &h->stages[i], 1);
        }
}

void mt_hwa_net_store(mt_hwa_net *h)
{
    for (int i = 0; i < h->nstages; i++)
        if (h->stages[i].has_sub) stage_copy_buffers(h, &h->stages[i], 0);
}

/* Build the sub-model of layers [first, first+n) of m and check it matches layer by layer. */
static mt_status build_sub(mt_hwa_net *h, hwa_stage *s, mt_err *err)
{
    const mt_model *m = h->m;
    size_t len = 1;
    for (int i = 0; i < s->n; i++) len += strlen(m->layers[s->first + i].spec) + 1;
    char *arch = malloc(len);
    if (!arch) return mt_err_set(err, MT_ERR_NOMEM, "hwa: out of memory");
    arch[0] = 0;
    for (int i = 0; i < s->n; i++) {
        if (i) strcat(arch, ",");
        strcat(arch, m->layers[s->first + i].spec);
    }
    const mt_layer *F0 = &m->layers[s->first];
    mt_status st = mt_model_build(&s->sub, arch, F0->in_c, F0->in_t, 0, 0, err);
    if (st) {
        mt_err_prefix(err, st, "hwa: cannot build the digital run '%s'", arch);
        free(arch);
        return st;
    }
    s->has_sub = 1;
    int ok = s->sub.nlayers == s->n;
    for (int i = 0; ok && i < s->n; i++) {
        const mt_layer *F = &m->layers[s->first + i];
        mt_layer *S = &s->sub.layers[i];
        ok = F->type == S->type && F->in_c == S->in_c && F->in_t == S->in_t && F->out_c == S->out_c &&
             F->out_t == S->out_t && F->nw == S->nw && F->nb == S->nb;
        S->bn_eps = F->bn_eps;
        S->bn_momentum = F->bn_momentum;
        S->analog = 0; /* digital layers of a run stay digital */
    }
    if (!ok) st = mt_err_set(err, MT_ERR_INTERNAL, "hwa: the digital run '%s' does not rebuild layer by layer", arch);
    free(arch);
    return st;
}

mt_status mt_hwa_net_new(mt_hwa_net **out, mt_model *m, const mt_hwa_opts *o, uint64_t seed,
                         mt_err *err)
{
    *out = NULL;
    mt_status st = mt_hwa_opts_check(o, err);
    if (st) return st;
    if (!m || m->nlayers < 1) return mt_err_set(err, MT_ERR_ARG, "hwa: no model");
    int nan = 0;
    for (int l = 0; l < m->nlayers; l++) nan += hwa_is_analog(&m->layers[l]);
    if (!nan) return mt_err_set(err, MT_ERR_ARG, "hwa: the model has no analog (conv/linear) layer");
    mt_hwa_net *h = calloc(1, sizeof *h);
    if (!h) return mt_err_set(err, MT_ERR_NOMEM, "hwa: out of memory");
    h->m = m;
    h->o = *o;
    h->o.from = NULL;
    h->seed = seed;
    h->stages = calloc((size_t)(2 * m->nlayers + 1), sizeof *h->stages);
    h->ir = calloc((size_t)m->nlayers, sizeof(float));
    h->irg = calloc((size_t)m->nlayers, sizeof(double));
    h->irg_exact = calloc((size_t)m->nlayers, sizeof(double));
    h->ir_n = calloc((size_t)m->nlayers, sizeof(int64_t));
    if (!h->stages || !h->ir || !h->irg || !h->irg_exact || !h->ir_n) {
        mt_hwa_net_free(h);
        return mt_err_set(err, MT_ERR_NOMEM, "hwa: out of memory");
    }
    /* Stages: maximal runs of digital layers, and each analog layer on its own. */
    int params_before = 0;
    for (int l = 0; l < m->nlayers;) {
        hwa_stage *s = &h->stages[h->nstages++];
        s->first = l;
        s->need_dx = params_before;
        if (hwa_is_analog(&m->layers[l])) {
            s->analog = 1;
            s->n = 1;
            s->L = &m->layers[l];
            hwa_layer_shape(s->L, &s->R, &s->To, &s->outs);
            h->ir[l] = (float)o->ir_init_value;
            if (!(s->wn = malloc((size_t)s->L->nw * sizeof(float))) ||
                !(s->wmax = malloc((size_t)s->outs * sizeof(float)))) {
                mt_hwa_net_free(h);
                return mt_err_set(err, MT_ERR_NOMEM, "hwa: out of memory");
            }
            if (s->R * s->To > h->max_rt) h->max_rt = s->R * s->To;
            l++;
        } else {
            int e = l;
            while (e < m->nlayers && !hwa_is_analog(&m->layers[e])) e++;
            s->n = e - l;
            st = build_sub(h, s, err);
            if (st) {
                mt_hwa_net_free(h);
                return st;
            }
            s->sub.input_grad = s->need_dx;
            l = e;
        }
        for (int i = s->first; i < s->first + s->n; i++) params_before |= m->layers[i].params > 0;
    }
    mt_hwa_net_load(h);
    *out = h;
    return MT_OK;
}

void mt_hwa_net_zero_grad(mt_hwa_net *h)
{
    mt_model_zero_grad(h->m);
    memset(h->irg, 0, (size_t)h->m->nlayers * sizeof(double));
    memset(h->irg_exact, 0, (size_t)h->m->nlayers * sizeof(double));
}

/* Grow an analog stage's batch buffers. */
static mt_status stage_ensure(hwa_stage *s, int64_t B, mt_err *err)
{
    if (B <= s->bcap) return MT_OK;
    free(s->y);
    free(s->dx);
    free(s->oclip);
    s->y = malloc((size_t)(B * s->outs * s->To) * sizeof(float));
    s->dx = s->need_dx ? malloc((size_t)(B * s->L->in_c * s->L->in_t) * sizeof(float)) : NULL;
    s->oclip = malloc((size_t)(B * s->outs * s->To) * sizeof *s->oclip);
    if (!s->y || (s->need_dx && !s->dx) || !s->oclip) {
        s->bcap = 0;
        return mt_err_set(err, MT_ERR_NOMEM, "hwa: out of memory (batch %lld)", (long long)B);
    }
    s->bcap = B;
    return MT_OK;
}

/* Weights of sample b in forward fid with per-sample noise: W + σ_w·wmax_o·N, one stream per
 * (layer, forward, sample), rows in order. */
static void sample_weights(const mt_hwa_net *h, const hwa_stage *s, uint64_t fid, int64_t b, float *out)
{
    const int64_t R = s->R, outs = s->outs;
    mt_rng r;
    mt_rng_init(&r, h->seed, hwa_stream(HWA_STREAM_WSAMPLE, (uint64_t)s->first, fid, (uint64_t)b));
    for (int64_t o = 0; o < outs; o++) {
        double sig = h->o.weight_noise * (double)s->wmax[o];
        const float *w = s->L->w + o * R;
        for (int64_t j = 0; j < R; j++) out[o * R + j] = (float)((double)w[j] + sig * mt_rng_normal(&r));
    }
}

/* Range initialisation from data (training forwards while ir_n < ir_init_batches):
 * IR ← (IR·n + α·std(x))/(n + 1) with std the unbiased standard deviation of every entry of the
 * layer's input matrix (the im2col entries for a conv, as aihwkit-lightning's unfold). */
static void range_init(mt_hwa_net *h, hwa_stage *s, const float *x, int64_t B)
{
    const mt_layer *L = s->L;
    int li = s->first;
    if (h->ir_n[li] >= h->o.ir_init_batches) return;
    double *ps = malloc((size_t)B * 2 * sizeof(double));
    if (!ps) return;
    const int64_t in_n = L->in_c * L->in_t;
    if (L->type == MT_LAYER_CONV) {
        /* each input element counts as often as it appears in the im2col matrix; padding as 0 */
        const int64_t Cin = L->in_c, Tin = L->in_t, To = L->out_t;
        const int K = L->k, S = L->stride, P = L->pad, D = L->dilation;
#pragma omp parallel for schedule(static)
        for (int64_t b = 0; b < B; b++) {
            double s1 = 0, s2 = 0;
            for (int64_t ci = 0; ci < Cin; ci++)
                for (int j = 0; j < K; j++) {
                    const float *xr = x + b * in_n + ci * Tin;
                    int64_t off = (int64_t)j * D - P;
                    for (int64_t t = 0; t < To; t++) {
                        int64_t q = t * S + off;
                        double v = (q >= 0 && q < Tin) ? xr[q] : 0.0;
                        s1 += v;
                        s2 += v * v;
                    }
                }
            ps[2 * b] = s1;
            ps[2 * b + 1] = s2;
        }
    } else {
        for (int64_t b = 0; b < B; b++) {
            double s1 = 0, s2 = 0;
            for (int64_t j = 0; j < in_n; j++) {
                double v = x[b * in_n + j];
                s1 += v;
                s2 += v * v;
            }
            ps[2 * b] = s1;
            ps[2 * b + 1] = s2;
        }
    }
    double s1 = 0, s2 = 0;
    for (int64_t b = 0; b < B; b++) {
        s1 += ps[2 * b];
        s2 += ps[2 * b + 1];
    }
    free(ps);
    double n = (double)(B * s->R * s->To);
    double var = n > 1 ? (s2 - s1 * s1 / n) / (n - 1) : 0.0;
    double sd = var > 0 ? sqrt(var) : 0.0;
    if (sd > 0) { /* aihwkit-lightning skips (and does not count) a batch with std 0 */
        double k = (double)h->ir_n[li];
        h->ir[li] = (float)(((double)h->ir[li] * k + h->o.ir_init_alpha * sd) / (k + 1));
        h->ir_n[li]++;
    }
    h->ir[li] = fabsf(h->ir[li]);
}

/* Forward of an analog stage: y_b = W'·Q(col(x_b)) + noise (+ ADC) + b. */
static mt_status analog_forward(mt_hwa_net *h, hwa_stage *s, const float *x, int64_t B, int train,
                                mt_err *err)
{
    mt_layer *L = s->L;
    const int li = s->first;
    const int64_t R = s->R, To = s->To, outs = s->outs, in_n = L->in_c * L->in_t;
    mt_status st = stage_ensure(s, B, err);
    if (st) return st;
    s->x = x;
    if (train && h->o.ir_init_batches > 0) range_init(h, s, x, B);
    const float ir = h->ir[li];
    const double Lv = hwa_levels(h->o.inp_bits);
    const uint64_t fid = h->forward_id;
    /* The weights of this forward: clean, with fresh per-row noise shared by the batch, or
     * (per_sample) clean here and drawn for every sample below. */
    row_absmax(L->w, outs, R, s->wmax);
    s->per_sample = train && h->o.weight_noise > 0 && h->o.noise_per_sample;
    s->fid = fid;
    const double sw = (train && !s->per_sample) ? h->o.weight_noise : 0.0;
#pragma omp parallel for schedule(static)
    for (int64_t o = 0; o < outs; o++) {
        const float *w = L->w + o * R;
        float *wn = s->wn + o * R;
        if (sw > 0) {
            mt_rng r;
            mt_rng_init(&r, h->seed, hwa_stream(HWA_STREAM_WNOISE, (uint64_t)li, fid, (uint64_t)o));
            double sig = sw * (double)s->wmax[o];
            for (int64_t j = 0; j < R; j++) wn[j] = (float)((double)w[j] + sig * mt_rng_normal(&r));
        } else {
            memcpy(wn, w, (size_t)R * sizeof(float));
        }
    }
    const double so = train ? h->o.out_noise : 0.0;
    const int nt = omp_get_max_threads();
    const int64_t wsz = s->per_sample ? outs * R : 0;
    float *scr = malloc((size_t)nt * (size_t)(R * To + wsz) * sizeof(float));
    if (!scr) return mt_err_set(err, MT_ERR_NOMEM, "hwa: out of memory");
#pragma omp parallel for schedule(static) num_threads(nt) if (!h->reference)
    for (int64_t b = 0; b < B; b++) {
        float *yb = s->y + b * outs * To;
        const float *xb = x + b * in_n;
        float *col = scr + (size_t)omp_get_thread_num() * (size_t)(R * To + wsz);
        const float *W = s->wn;
        if (s->per_sample) {
            sample_weights(h, s, fid, b, col + R * To);
            W = col + R * To;
        }
        hwa_im2col(L, xb, col);
        if (h->reference) {
            /* naive: direct sums in double over the quantised im2col entries */
            for (int64_t o = 0; o < outs; o++)
                for (int64_t t = 0; t < To; t++) {
                    double acc = 0;
                    for (int64_t j = 0; j < R; j++)
                        acc += (double)W[o * R + j] * (double)hwa_quant(col[j * To + t], ir, Lv);
                    yb[o * To + t] = (float)acc;
                }
        } else {
            for (int64_t k = 0; k < R * To; k++) col[k] = hwa_quant(col[k], ir, Lv);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)outs, (int)To, (int)R, 1.0f, W, (int)R,
                        col, (int)To, 0.0f, yb, (int)To);
        }
        /* epilogue (shared by both paths): output noise, ADC, digital bias */
        mt_rng r;
        if (so > 0) mt_rng_init(&r, h->seed, hwa_stream(HWA_STREAM_ONOISE, (uint64_t)li, (uint64_t)b, fid));
        for (int64_t o = 0; o < outs; o++) {
            double sig = so * (double)s->wmax[o] * (double)ir;
            double bound = (h->o.out_bound > 0 && ir > 0) ? h->o.out_bound * (double)s->wmax[o] * ir : 0.0;
            float bias = L->b ? L->b[o] : 0.0f;
            float *yr = yb + o * To;
            int8_t *cr = s->oclip + (b * outs + o) * To;
            for (int64_t t = 0; t < To; t++) {
                float v = yr[t];
                if (so > 0) v = (float)((double)v + sig * mt_rng_normal(&r));
                cr[t] = (int8_t)hwa_adc_clips(v, bound, h->o.out_bits);
                yr[t] = hwa_adc(v, bound, h->o.out_bits) + bias;
            }
        }
    }
    free(scr);
    return MT_OK;
}

/* Backward of an analog stage (exact for the forward above with straight-through quantisers):
 *   dW += Σ_b dy_b · Q(col_b)ᵀ,  db += Σ_b Σ_t dy_b,  g_b = W'ᵀ·dy_b (gradient of Q(col_b)),
 *   dx_b = col2im(g_b with entries |x| > IR zeroed), range gradients from g and the raw entries.
 * Sums over samples: per fixed chunk of samples, chunks reduced in order (thread-count free). */
static mt_status analog_backward(mt_hwa_net *h, hwa_stage *s, const float *dy, mt_err *err)
{
    mt_layer *L = s->L;
    const int li = s->first;
    const int64_t B = h->B, R = s->R, To = s->To, outs = s->outs, in_n = L->in_c * L->in_t;
    const float ir = h->ir[li];
    const double Lv = hwa_levels(h->o.inp_bits);
    const int64_t nw = L->nw, nb = L->nb;
    const int64_t nch = B < HWA_CHUNKS ? B : HWA_CHUNKS;
    const int nt = omp_get_max_threads();
    float *part = calloc((size_t)(nch * (nw + nb)), sizeof(float));
    double *ps = calloc((size_t)(4 * B), sizeof(double)); /* per sample: up, lo, exact, clipped */
    double *pbd = calloc((size_t)(B * outs), sizeof(double)); /* per sample: dL/d(bound_o) */
    /* per thread: raw, q, g [R·To], masked dy [outs·To], per-sample weights [outs·R] */
    const int64_t sstride = 3 * R * To + outs * To + (s->per_sample ? outs * R : 0);
    float *scr = malloc((size_t)nt * (size_t)sstride * sizeof(float));
    if (!part || !ps || !scr || !pbd) {
        free(part), free(ps), free(scr), free(pbd);
        return mt_err_set(err, MT_ERR_NOMEM, "hwa: out of memory");
    }
    const int track = ir > 0;
    const int clipping = h->o.out_bound > 0 && ir > 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (!h->reference)
    for (int64_t j = 0; j < nch; j++) {
        float *pw = part + j * (nw + nb), *pb = pw + nw;
        float *raw = scr + (size_t)omp_get_thread_num() * (size_t)sstride;
        float *q = raw + R * To, *g = q + R * To, *dym = g + R * To, *wsb = dym + outs * To;
        int64_t lo = j * B / nch, hi = (j + 1) * B / nch;
        for (int64_t b = lo; b < hi; b++) {
            const float *W = s->wn;
            if (s->per_sample) { /* the forward's draw for this sample, from the same stream */
                sample_weights(h, s, s->fid, b, wsb);
                W = wsb;
            }
            const float *dyu = dy + b * outs * To, *dyb = dyu;
            if (clipping) { /* outputs the ADC bound cut: the gradient goes to the bound */
                const int8_t *cm = s->oclip + b * outs * To;
                for (int64_t o = 0; o < outs; o++) {
                    double gb = 0;
                    for (int64_t t = 0; t < To; t++) {
                        int64_t k = o * To + t;
                        gb += cm[k] ? (double)cm[k] * dyu[k] : 0.0;
                        dym[k] = cm[k] ? 0.0f : dyu[k];
                    }
                    pbd[b * outs + o] = gb;
                }
                dyb = dym;
            }
            hwa_im2col(L, s->x + b * in_n, raw);
            for (int64_t k = 0; k < R * To; k++) q[k] = hwa_quant(raw[k], ir, Lv);
            if (h->reference) {
                for (int64_t o = 0; o < outs; o++)
                    for (int64_t c = 0; c < R; c++) {
                        double a = 0;
                        for (int64_t t = 0; t < To; t++) a += (double)dyb[o * To + t] * (double)q[c * To + t];
                        pw[o * R + c] += (float)a;
                    }
                for (int64_t c = 0; c < R; c++)
                    for (int64_t t = 0; t < To; t++) {
                        double a = 0;
                        for (int64_t o = 0; o < outs; o++) a += (double)W[o * R + c] * (double)dyb[o * To + t];
                        g[c * To + t] = (float)a;
                    }
            } else {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)outs, (int)R, (int)To, 1.0f, dyb,
                            (int)To, q, (int)To, b == lo ? 0.0f : 1.0f, pw, (int)R);
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)R, (int)To, (int)outs, 1.0f, W,
                            (int)R, dyb, (int)To, 0.0f, g, (int)To);
            }
            for (int64_t o = 0; o < outs; o++) { /* the digital bias comes after the ADC */
                double a = 0;
                for (int64_t t = 0; t < To; t++) a += dyu[o * To + t];
                pb[o] = b == lo ? (float)a : pb[o] + (float)a;
            }
            double up = 0, dn = 0, ex = 0, nclip = 0;
            if (track)
                for (int64_t k = 0; k < R * To; k++) {
                    float v = raw[k], gv = g[k];
                    if (v >= ir) {
                        up += gv < 0 ? gv : 0;
                        ex += gv;
                        nclip++;
                    } else if (v <= -ir) {
                        dn += gv > 0 ? gv : 0;
                        ex -= gv;
                        nclip++;
                    }
                    if (fabsf(v) > ir) g[k] = 0.0f; /* straight-through clamp: no gradient beyond ±IR */
                }
            ps[4 * b] = up;
            ps[4 * b + 1] = dn;
            ps[4 * b + 2] = ex;
            ps[4 * b + 3] = nclip;
            if (s->need_dx) hwa_col2im(L, g, s->dx + b * in_n);
        }
    }
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < nw + nb; i++) {
        float a = 0;
        for (int64_t j = 0; j < nch; j++) a += part[j * (nw + nb) + i];
        if (i < nw) L->dw[i] += a;
        else L->db[i - nw] += a;
    }
    if (clipping) {
        /* bound_o = out_bound·wmax_o·IR (aihwkit-lightning keeps both factors in the graph):
         * dL/dIR += Σ_o g_o·out_bound·wmax_o, dL/dW[o, argmax] += g_o·out_bound·IR·sign(w) */
        double gir = 0;
        for (int64_t o = 0; o < outs; o++) {
            double gb = 0;
            for (int64_t b = 0; b < B; b++) gb += pbd[b * outs + o];
            if (gb == 0) continue;
            gir += gb * h->o.out_bound * (double)s->wmax[o];
            const float *w = L->w + o * R;
            int64_t jm = 0;
            for (int64_t jj = 1; jj < R; jj++)
                if (fabsf(w[jj]) > fabsf(w[jm])) jm = jj;
            L->dw[o * R + jm] += (float)(gb * h->o.out_bound * (double)ir * (w[jm] < 0 ? -1.0 : 1.0));
        }
        h->irg[li] += gir;
        h->irg_exact[li] += gir;
    }
    if (track) {
        double up = 0, dn = 0, ex = 0, nclip = 0;
        for (int64_t b = 0; b < B; b++) {
            up += ps[4 * b];
            dn += ps[4 * b + 1];
            ex += ps[4 * b + 2];
            nclip += ps[4 * b + 3];
        }
        double total = (double)(B * R * To);
        double gr = (double)ir * (up - dn);
        if (h->o.ir_decay > 0 && 1.0 - nclip / total > h->o.ir_min_pct) gr += h->o.ir_decay * (double)ir;
        h->irg[li] += gr;
        h->irg_exact[li] += ex;
    }
    free(part), free(ps), free(scr), free(pbd);
    return MT_OK;
}

/* calib: BN calibration forward (digital runs in training mode, analog layers as in eval). */
static mt_status net_forward(mt_hwa_net *h, const float *x, int64_t B, int train, int calib, mt_err *err)
{
    if (!h || !x || B < 1) return mt_err_set(err, MT_ERR_ARG, "hwa forward: empty batch");
    mt_model *m = h->m;
    h->forward_id++;
    h->B = B;
    h->train = train ? 1 : 0;
    h->out = NULL;
    const float *cur = x;
    for (int i = 0; i < h->nstages; i++) {
        hwa_stage *s = &h->stages[i];
        mt_status st;
        if (s->analog) {
            st = analog_forward(h, s, cur, B, h->train && !calib, err);
            if (st) return mt_err_prefix(err, st, "%s", s->L->name);
            cur = s->y;
        } else {
            stage_copy_params(h, s);
            s->sub.seed = m->seed ^ hwa_stream(HWA_STREAM_DROPOUT, (uint64_t)i, 0, 0);
            s->sub.step = m->step;
            s->x = cur;
            st = mt_model_forward(&s->sub, cur, B, h->train, err);
            if (st) return st;
            cur = mt_model_output(&s->sub);
        }
    }
    h->out = cur;
    return MT_OK;
}

mt_status mt_hwa_net_forward(mt_hwa_net *h, const float *x, int64_t B, int train, mt_err *err)
{
    return net_forward(h, x, B, train, 0, err);
}

mt_status mt_hwa_net_calibrate(mt_hwa_net *h, const float *x, int64_t B, int64_t k, mt_err *err)
{
    if (k < 0) return mt_err_set(err, MT_ERR_ARG, "hwa calibrate: batch index %lld", (long long)k);
    /* momentum 1/(k+1) on every BN of the digital runs, restored afterwards */
    for (int i = 0; i < h->nstages; i++)
        if (h->stages[i].has_sub)
            for (int l = 0; l < h->stages[i].sub.nlayers; l++)
                if (h->stages[i].sub.layers[l].type == MT_LAYER_BN)
                    h->stages[i].sub.layers[l].bn_momentum = (float)(1.0 / (double)(k + 1));
    mt_status st = net_forward(h, x, B, 1, 1, err);
    for (int i = 0; i < h->nstages; i++)
        if (h->stages[i].has_sub)
            for (int l = 0; l < h->stages[i].sub.nlayers; l++)
                if (h->stages[i].sub.layers[l].type == MT_LAYER_BN)
                    h->stages[i].sub.layers[l].bn_momentum = h->m->layers[h->stages[i].first + l].bn_momentum;
    h->out = NULL; /* not a forward to back-propagate */
    return st;
}

const float *mt_hwa_net_output(const mt_hwa_net *h) { return h->out; }

mt_status mt_hwa_net_backward(mt_hwa_net *h, const float *dout, mt_err *err)
{
    if (!h->out) return mt_err_set(err, MT_ERR_STATE, "hwa backward without a forward");
    const float *g = dout;
    for (int i = h->nstages - 1; i >= 0 && g; i--) {
        hwa_stage *s = &h->stages[i];
        int has_params = 0;
        for (int l = s->first; l < s->first + s->n; l++) has_params |= h->m->layers[l].params > 0;
        if (!has_params && !s->need_dx) break;
        if (s->analog) {
            mt_status st = analog_backward(h, s, g, err);
            if (st) return mt_err_prefix(err, st, "%s", s->L->name);
            g = s->need_dx ? s->dx : NULL;
        } else {
            mt_model_zero_grad(&s->sub);
            mt_status st = mt_model_backward(&s->sub, g, err);
            if (st) return st;
            for (int k = 0; k < s->n; k++) {
                mt_layer *F = &h->m->layers[s->first + k];
                const mt_layer *S = &s->sub.layers[k];
                for (int64_t q = 0; q < F->nw; q++) F->dw[q] += S->dw[q];
                for (int64_t q = 0; q < F->nb; q++) F->db[q] += S->db[q];
            }
            g = s->need_dx ? mt_model_input_grad(&s->sub) : NULL;
        }
    }
    return MT_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Checkpoint metadata                                                                         */
/* ------------------------------------------------------------------------------------------ */

char *mt_hwa_meta_add(const char *meta_json, const mt_model *m, const mt_hwa_opts *o,
                      const float *ranges)
{
    cJSON *j = meta_json ? cJSON_Parse(meta_json) : cJSON_CreateObject();
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return NULL;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(j, "hwa");
    cJSON *h = cJSON_AddObjectToObject(j, "hwa");
    cJSON_AddStringToObject(h, "semantics", "aihwkit-lightning TorchLinear (docs/aimc.md)");
    cJSON_AddNumberToObject(h, "weight_noise", o->weight_noise);
    cJSON_AddBoolToObject(h, "noise_per_sample", o->noise_per_sample);
    cJSON_AddNumberToObject(h, "out_noise", o->out_noise);
    cJSON_AddNumberToObject(h, "clip_sigma", o->clip_sigma);
    cJSON_AddNumberToObject(h, "inp_bits", o->inp_bits);
    cJSON_AddNumberToObject(h, "out_bound", o->out_bound);
    cJSON_AddNumberToObject(h, "out_bits", o->out_bits);
    cJSON_AddBoolToObject(h, "learn_ir", o->learn_ir);
    cJSON_AddNumberToObject(h, "ir_init_batches", o->ir_init_batches);
    cJSON_AddNumberToObject(h, "ir_init_alpha", o->ir_init_alpha);
    cJSON_AddNumberToObject(h, "ir_decay", o->ir_decay);
    cJSON_AddNumberToObject(h, "ir_min_pct", o->ir_min_pct);
    cJSON_AddBoolToObject(h, "bn_recal", o->bn_recal);
    if (o->from) cJSON_AddStringToObject(h, "from", o->from);
    cJSON *r = cJSON_AddObjectToObject(h, "input_ranges");
    for (int l = 0; l < m->nlayers; l++)
        if (hwa_is_analog(&m->layers[l]) && ranges && ranges[l] > 0)
            cJSON_AddNumberToObject(r, m->layers[l].name, (double)ranges[l]);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

mt_status mt_hwa_ranges_from_meta(const char *meta_json, const mt_model *m, float *ranges,
                                  mt_hwa_infer *inf, int *found, mt_err *err)
{
    *found = 0;
    for (int l = 0; l < m->nlayers; l++) ranges[l] = 0;
    if (inf) {
        memset(inf, 0, sizeof *inf);
        inf->ranges = ranges;
        inf->inp_bits = 8;
    }
    if (!meta_json) return MT_OK;
    cJSON *j = cJSON_Parse(meta_json);
    if (!j) return mt_err_set(err, MT_ERR_FORMAT, "model metadata is not JSON");
    mt_status st = MT_OK;
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "hwa");
    if (!h) goto done;
    if (!cJSON_IsObject(h)) {
        st = mt_err_set(err, MT_ERR_FORMAT, "model metadata: \"hwa\" is not an object");
        goto done;
    }
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(h, "input_ranges");
    if (!cJSON_IsObject(r)) {
        st = mt_err_set(err, MT_ERR_FORMAT, "model metadata: hwa.input_ranges is missing or not an object");
        goto done;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, r)
    {
        int l = 0;
        while (l < m->nlayers && !(hwa_is_analog(&m->layers[l]) && strcmp(m->layers[l].name, e->string) == 0)) l++;
        if (l == m->nlayers) {
            st = mt_err_set(err, MT_ERR_FORMAT, "model metadata: hwa.input_ranges names '%s', not an analog layer",
                            e->string);
            goto done;
        }
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble) || !(e->valuedouble > 0)) {
            st = mt_err_set(err, MT_ERR_FORMAT, "model metadata: hwa.input_ranges.%s must be a number > 0", e->string);
            goto done;
        }
        ranges[l] = (float)e->valuedouble;
        (*found)++;
    }
    if (inf) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(h, "inp_bits");
        if (cJSON_IsNumber(v)) inf->inp_bits = v->valueint;
        v = cJSON_GetObjectItemCaseSensitive(h, "out_bound");
        if (cJSON_IsNumber(v)) inf->out_bound = v->valuedouble;
        v = cJSON_GetObjectItemCaseSensitive(h, "out_bits");
        if (cJSON_IsNumber(v)) inf->out_bits = v->valueint;
        if (inf->inp_bits < 0 || inf->inp_bits == 1 || inf->inp_bits > 24 || inf->out_bits < 0 ||
            inf->out_bits == 1 || inf->out_bits > 24 || !isfinite(inf->out_bound) || inf->out_bound < 0 ||
            (inf->out_bits > 0 && !(inf->out_bound > 0)))
            st = mt_err_set(err, MT_ERR_FORMAT, "model metadata: hwa DAC/ADC settings out of range");
    }
done:
    cJSON_Delete(j);
    return st;
}
