/* Optimised layer kernels: forward/backward pairs over a batch [B, C, T].
 *
 * Convolutions: per sample, im2col into a per-thread buffer (row c·K + j, one column per output
 * position) and one OpenBLAS sgemm; samples are spread over OpenMP threads.  Weight gradients are
 * summed per fixed chunk of samples into chunk partials that are reduced in chunk order, so the
 * result is independent of the thread count (see NN_CHUNKS in nn_impl.h).  BatchNorm reduces per
 * channel (one thread owns a channel), element-wise layers are trivially deterministic.
 * Reductions use 8 float lanes then double, in a fixed order.
 */
/* Floating-point exceptions are never unmasked in materia, so telling GCC that float operations
 * do not trap changes no result; it only lets it turn selects such as the clamp in nn_tanhf or
 * x > 0 ? x : 0 into blend instructions so that those loops vectorise.  (This is not
 * -ffast-math: IEEE semantics, NaN/Inf and the order of operations are kept.) */
#pragma GCC optimize("no-trapping-math")

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "materia/rng.h"
#include "nn/nn_impl.h"

#define NT(c) num_threads((c)->w->nthreads)
/* Run a region in parallel only when it has enough work (element or multiply count): tiny
 * layers do not pay thread wake-ups and barriers.  Results never depend on it. */
#define PAR_IF(work) if ((int64_t)(work) >= 32768)

static inline float *thread_scratch(nn_ctx *c)
{
    return c->w->scratch + (int64_t)omp_get_thread_num() * c->w->scratch_floats;
}

/* Σ x over n floats: 8 float lanes, combined in double (fixed order). */
static inline double lanes_sum(const float *x, int64_t n)
{
    float a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) a[l] += x[i + l];
    double s = 0;
    for (int l = 0; l < 8; l++) s += a[l];
    for (; i < n; i++) s += x[i];
    return s;
}

/* Σ (x−K) and Σ (x−K)² (shifted moments for BatchNorm). */
static inline void lanes_moments(const float *x, int64_t n, float K, double *s1, double *s2)
{
    float a[8] = {0, 0, 0, 0, 0, 0, 0, 0}, b[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) {
            float d = x[i + l] - K;
            a[l] += d;
            b[l] += d * d;
        }
    double S = 0, Q = 0;
    for (int l = 0; l < 8; l++) {
        S += a[l];
        Q += b[l];
    }
    for (; i < n; i++) {
        double d = (double)x[i] - K;
        S += d;
        Q += d * d;
    }
    *s1 += S;
    *s2 += Q;
}

/* Σ dy and Σ dy·x̂ with x̂ = (x − mean)·invstd. */
static inline void lanes_bn_grad(const float *x, const float *dy, int64_t n, float mean,
                                 float invstd, double *sdy, double *sdyx)
{
    float a[8] = {0, 0, 0, 0, 0, 0, 0, 0}, b[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) {
            float g = dy[i + l];
            a[l] += g;
            b[l] += g * ((x[i + l] - mean) * invstd);
        }
    double S = 0, Q = 0;
    for (int l = 0; l < 8; l++) {
        S += a[l];
        Q += b[l];
    }
    for (; i < n; i++) {
        S += dy[i];
        Q += (double)dy[i] * ((x[i] - mean) * invstd);
    }
    *sdy += S;
    *sdyx += Q;
}

/* ---------------------------------------------------------------------------------------- */
/* Conv1d                                                                                    */
/* ---------------------------------------------------------------------------------------- */

/* A conv whose im2col is the input itself: k = 1, stride 1, no padding. */
static inline int conv_direct(const mt_layer *L) { return L->k == 1 && L->stride == 1 && L->pad == 0; }

void nn_im2col(const mt_layer *L, const float *x, float *col)
{
    const int64_t Cin = L->in_c, Tin = L->in_t, To = L->out_t;
    const int K = L->k, S = L->stride, P = L->pad, D = L->dilation;
    for (int64_t ci = 0; ci < Cin; ci++) {
        const float *xr = x + ci * Tin;
        for (int j = 0; j < K; j++) {
            float *cr = col + (ci * K + j) * To;
            int64_t off = (int64_t)j * D - P; /* input index of output 0 */
            if (S == 1) {
                /* valid t: 0 <= t + off < Tin */
                int64_t lo = off < 0 ? -off : 0, hi = Tin - off;
                if (lo > To) lo = To;
                if (hi > To) hi = To;
                if (hi < lo) hi = lo;
                memset(cr, 0, (size_t)lo * sizeof(float));
                if (hi > lo) memcpy(cr + lo, xr + lo + off, (size_t)(hi - lo) * sizeof(float));
                memset(cr + hi, 0, (size_t)(To - hi) * sizeof(float));
            } else {
                for (int64_t t = 0; t < To; t++) {
                    int64_t s = t * S + off;
                    cr[t] = (s >= 0 && s < Tin) ? xr[s] : 0.0f;
                }
            }
        }
    }
}

void nn_col2im(const mt_layer *L, const float *dcol, float *dx)
{
    const int64_t Cin = L->in_c, Tin = L->in_t, To = L->out_t;
    const int K = L->k, S = L->stride, P = L->pad, D = L->dilation;
    for (int64_t ci = 0; ci < Cin; ci++) {
        float *dr = dx + ci * Tin;
        for (int j = 0; j < K; j++) {
            const float *cr = dcol + (ci * K + j) * To;
            int64_t off = (int64_t)j * D - P;
            for (int64_t t = 0; t < To; t++) {
                int64_t s = t * S + off;
                if (s >= 0 && s < Tin) dr[s] += cr[t];
            }
        }
    }
}

/* Forward.  Stride 1 (any padding/dilation): y = Σ_j W_j · x[:, j·D − P + t] as K GEMMs on
 * shifted views of the input (no im2col copy), with W_j = w[:, :, j] permuted to [out_c, in_c].
 * Otherwise, and whenever a matmul hook replaces the product, one GEMM on the im2col matrix. */
/* Bias and (optionally) the channel moments of one sample's output: y[o,:] += b[o] and
 * mom[o] = (Σ raw, Σ raw²) where raw = y − b (the GEMM result), while y is still in cache. */
static void conv_epilogue(const mt_layer *L, float *yb, double *mom)
{
    const int64_t Co = L->out_c, To = L->out_t;
    for (int64_t o = 0; o < Co; o++) {
        float *yr = yb + o * To;
        const float bo = L->b[o];
        if (mom) {
            double s1 = 0, s2 = 0;
            lanes_moments(yr, To, 0.0f, &s1, &s2);
            mom[2 * o] = s1;
            mom[2 * o + 1] = s2;
        }
#pragma omp simd
        for (int64_t t = 0; t < To; t++) yr[t] += bo;
    }
}

/* Conv forward runs on shifted views (K GEMMs, no im2col) when the stride is 1, there is no
 * matmul hook, and the permuted weights are available. */
static int conv_shifted(const nn_ctx *c, const mt_layer *L, const nn_act *a)
{
    return !(L->analog && c->m->hooks.matmul) && L->stride == 1 && a->wperm && !conv_direct(L);
}

/* W_j = w[:, :, j] as [k][out_c][in_c] for the shifted forward. */
static void conv_permute(const mt_layer *L, float *wperm)
{
    const int64_t Co = L->out_c, Cin = L->in_c;
    const int K = L->k;
    for (int j = 0; j < K; j++)
        for (int64_t o = 0; o < Co; o++)
            for (int64_t ci = 0; ci < Cin; ci++)
                wperm[((int64_t)j * Co + o) * Cin + ci] = L->w[(o * Cin + ci) * K + j];
}

/* One sample: yb [Co, To] = conv(xb [Cin, Tin]) WITHOUT bias (the epilogue adds it).
 * Stride 1: y = Σ_j W_j · x[:, j·D − P + t] as K GEMMs on shifted views of the input;
 * otherwise (or with a matmul hook) one GEMM / hook call on the im2col matrix. */
static mt_status conv_sample_forward(nn_ctx *c, const mt_layer *L, const nn_act *a, int shifted,
                                     int64_t b, const float *xb, float *yb)
{
    const int64_t Cin = L->in_c, Tin = L->in_t, Co = L->out_c, To = L->out_t, R = Cin * L->k;
    const int K = L->k, D = L->dilation, P = L->pad;
    if (shifted) {
        /* tap 0 covers every output position when there is no padding */
        int first_full = P == 0;
        if (!first_full) memset(yb, 0, (size_t)(Co * To) * sizeof(float));
        for (int j = 0; j < K; j++) {
            int64_t off = (int64_t)j * D - P; /* input index of output 0 for tap j */
            int64_t lo = off < 0 ? -off : 0, hi = Tin - off;
            if (hi > To) hi = To;
            if (hi <= lo) continue;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Co, (int)(hi - lo), (int)Cin,
                        1.0f, a->wperm + (int64_t)j * Co * Cin, (int)Cin, xb + lo + off, (int)Tin,
                        (j == 0 && first_full) ? 0.0f : 1.0f, yb + lo, (int)To);
        }
        return MT_OK;
    }
    const float *col = xb;
    if (!conv_direct(L)) {
        float *s = thread_scratch(c);
        nn_im2col(L, xb, s);
        col = s;
    }
    if (L->analog && c->m->hooks.matmul) {
        mt_matmul_call call = {c->m, c->li, b, c->B, c->train, c->m->forward_id};
        return c->m->hooks.matmul(c->m->hooks.ctx, &call, L->w, col, R, To, Co, yb);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Co, (int)To, (int)R, 1.0f, L->w,
                (int)R, col, (int)To, 0.0f, yb, (int)To);
    return MT_OK;
}

/* Forward of a batch; mom (may be NULL): per-sample channel moments for a following BatchNorm
 * [B, out_c, 2]. */
mt_status nn_conv_forward(nn_ctx *c, const mt_layer *L, const float *x, float *y, nn_act *a,
                          double *mom, mt_err *err)
{
    const int64_t B = c->B, Cin = L->in_c, Tin = L->in_t, Co = L->out_c, To = L->out_t;
    const int shifted = conv_shifted(c, L, a);
    if (shifted) conv_permute(L, a->wperm);
    a->wperm_ok = shifted;
    mt_status status = MT_OK;
#pragma omp parallel for schedule(static) NT(c) PAR_IF(B > 1 ? B * Co * To * (Cin + 1) : 0)
    for (int64_t b = 0; b < B; b++) {
        float *yb = y + b * Co * To;
        mt_status st = conv_sample_forward(c, L, a, shifted, b, x + b * Cin * Tin, yb);
        if (st) {
#pragma omp critical(nn_hook_err)
            if (!status) status = mt_err_set(err, st, "%s: matmul hook failed", L->name);
        }
        conv_epilogue(L, yb, mom ? mom + b * Co * 2 : NULL);
    }
    return status;
}

/* One sample of the backward: dW partial pw (+)= dy_b · col_bᵀ, pb (+)= Σ_t dy_b ("first":
 * overwrite), and dx_b when dxb != NULL: with stride 1 and the permuted weights of the forward
 * (wperm, may be NULL) as K GEMMs dx[:, j·D − P + t] += W_jᵀ · dy_b written into shifted views,
 * else col2im(Wᵀ · dy_b).  scratch: 2·R·To floats. */
static void conv_sample_backward(const mt_layer *L, const float *wperm, const float *xb,
                                 const float *dyb, float *dxb, float *pw, float *pb, int first,
                                 float *scratch)
{
    const int64_t Cin = L->in_c, Tin = L->in_t, Co = L->out_c, To = L->out_t, R = Cin * L->k;
    const int direct = conv_direct(L);
    float *dcol = scratch + R * To;
    const float *col = xb;
    if (!direct) {
        nn_im2col(L, xb, scratch);
        col = scratch;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)Co, (int)R, (int)To, 1.0f, dyb,
                (int)To, col, (int)To, first ? 0.0f : 1.0f, pw, (int)R);
    for (int64_t o = 0; o < Co; o++) {
        float sb = (float)lanes_sum(dyb + o * To, To);
        pb[o] = first ? sb : pb[o] + sb;
    }
    if (!dxb) return;
    if (wperm && L->stride == 1 && !direct) {
        const int K = L->k, D = L->dilation, P = L->pad;
        memset(dxb, 0, (size_t)(Cin * Tin) * sizeof(float));
        for (int j = 0; j < K; j++) {
            int64_t off = (int64_t)j * D - P;
            int64_t lo = off < 0 ? -off : 0, hi = Tin - off;
            if (hi > To) hi = To;
            if (hi <= lo) continue;
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)Cin, (int)(hi - lo), (int)Co, 1.0f,
                        wperm + (int64_t)j * Co * Cin, (int)Cin, dyb + lo, (int)To, 1.0f, dxb + lo + off,
                        (int)Tin);
        }
    } else if (direct) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)R, (int)To, (int)Co, 1.0f, L->w,
                    (int)R, dyb, (int)To, 0.0f, dxb, (int)To);
    } else {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)R, (int)To, (int)Co, 1.0f, L->w,
                    (int)R, dyb, (int)To, 0.0f, dcol, (int)To);
        memset(dxb, 0, (size_t)(Cin * Tin) * sizeof(float));
        nn_col2im(L, dcol, dxb);
    }
}

/* dW += Σ_j partial_j in chunk order (see NN_CHUNKS). */
static void conv_reduce_partials(nn_ctx *c, mt_layer *L, int64_t nch)
{
    const int64_t P = c->w->partial_floats, nwb = L->nw + L->nb;
    const float *partial = c->w->partial;
#pragma omp parallel for schedule(static) NT(c) PAR_IF(nwb)
    for (int64_t i = 0; i < nwb; i++) {
        float s = 0.0f;
        for (int64_t j = 0; j < nch; j++) s += partial[j * P + i];
        if (i < L->nw) L->dw[i] += s;
        else L->db[i - L->nw] += s;
    }
}

/* dW = Σ_b dy_b · col_bᵀ, db = Σ_b Σ_t dy_b, dx_b = col2im(Wᵀ · dy_b). */
void nn_conv_backward(nn_ctx *c, mt_layer *L, const nn_act *a, const float *x, const float *dy,
                      float *dx)
{
    const int64_t B = c->B, Cin = L->in_c, Tin = L->in_t, Co = L->out_c, To = L->out_t;
    /* the permuted weights of the forward, when it ran the shifted path */
    const float *wperm = a->wperm_ok ? a->wperm : NULL;
    const int64_t nch = nn_nchunks(B), P = c->w->partial_floats;
#pragma omp parallel for schedule(dynamic, 1) NT(c) PAR_IF(B > 1 ? B * Co * To * (Cin + 1) : 0)
    for (int64_t j = 0; j < nch; j++) {
        float *pw = c->w->partial + j * P;
        float *s = thread_scratch(c);
        int64_t lo = nn_chunk_lo(B, j), hi = nn_chunk_lo(B, j + 1);
        for (int64_t b = lo; b < hi; b++)
            conv_sample_backward(L, wperm, x + b * Cin * Tin, dy + b * Co * To,
                                 dx ? dx + b * Cin * Tin : NULL, pw, pw + L->nw, b == lo, s);
    }
    conv_reduce_partials(c, L, nch);
}

/* ---------------------------------------------------------------------------------------- */
/* Linear: x [B, N_in] (flattened C·T), w [N, N_in], y [B, N]                                 */
/* ---------------------------------------------------------------------------------------- */

mt_status nn_linear_forward(nn_ctx *c, const mt_layer *L, const float *x, float *y, mt_err *err)
{
    const int64_t B = c->B, Nin = L->in_c * L->in_t, N = L->out_c;
    if (L->analog && c->m->hooks.matmul) {
        /* The hook sees x transposed: rows = input features, cols = batch. */
        float *xt = c->w->xt, *yt = xt + Nin * B;
        for (int64_t b = 0; b < B; b++)
            for (int64_t i = 0; i < Nin; i++) xt[i * B + b] = x[b * Nin + i];
        mt_matmul_call call = {c->m, c->li, -1, B, c->train, c->m->forward_id};
        mt_status st = c->m->hooks.matmul(c->m->hooks.ctx, &call, L->w, xt, Nin, B, N, yt);
        if (st) return mt_err_set(err, st, "%s: matmul hook failed", L->name);
        for (int64_t b = 0; b < B; b++)
            for (int64_t n = 0; n < N; n++) y[b * N + n] = yt[n * B + b] + L->b[n];
        return MT_OK;
    }
    for (int64_t b = 0; b < B; b++) memcpy(y + b * N, L->b, (size_t)N * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)N, (int)Nin, 1.0f, x,
                (int)Nin, L->w, (int)Nin, 1.0f, y, (int)N);
    return MT_OK;
}

void nn_linear_backward(nn_ctx *c, mt_layer *L, const float *x, const float *dy, float *dx)
{
    const int64_t B = c->B, Nin = L->in_c * L->in_t, N = L->out_c;
    /* dW[N, Nin] += dyᵀ[N, B] · x[B, Nin] */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)N, (int)Nin, (int)B, 1.0f, dy, (int)N,
                x, (int)Nin, 1.0f, L->dw, (int)Nin);
    for (int64_t n = 0; n < N; n++) {
        double s = 0;
        for (int64_t b = 0; b < B; b++) s += dy[b * N + n];
        L->db[n] += (float)s;
    }
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)Nin, (int)N, 1.0f, dy,
                    (int)N, L->w, (int)Nin, 0.0f, dx, (int)Nin);
}

/* ---------------------------------------------------------------------------------------- */
/* BatchNorm1d (PyTorch semantics: biased variance to normalise, unbiased in running_var)     */
/* ---------------------------------------------------------------------------------------- */

/* Batch statistics of channel ch over [B, T]: mean and invstd; updates the running stats.
 * Uses the moments precomputed by the preceding conv when c->mom is set, else reads x. */
static void bn_channel_stats(const nn_ctx *c, mt_layer *L, const float *x, int64_t ch, float *mean,
                             float *invstd)
{
    const int64_t B = c->B, C = L->in_c, T = L->in_t, n = B * T;
    double K, s1 = 0, s2 = 0;
    if (c->mom) {
        K = c->mom_shift[ch];
        for (int64_t b = 0; b < B; b++) {
            s1 += c->mom[(b * C + ch) * 2];
            s2 += c->mom[(b * C + ch) * 2 + 1];
        }
    } else {
        float Kf = x[ch * T]; /* shift: the first element of the channel */
        K = Kf;
        for (int64_t b = 0; b < B; b++) lanes_moments(x + (b * C + ch) * T, T, Kf, &s1, &s2);
    }
    double m1 = s1 / (double)n;
    double var = s2 / (double)n - m1 * m1;
    if (var < 0) var = 0;
    double mu = K + m1;
    *mean = (float)mu;
    *invstd = (float)(1.0 / sqrt(var + (double)L->bn_eps));
    double unb = n > 1 ? var * (double)n / (double)(n - 1) : var;
    double mom = L->bn_momentum;
    L->running_mean[ch] = (float)((1.0 - mom) * L->running_mean[ch] + mom * mu);
    L->running_var[ch] = (float)((1.0 - mom) * L->running_var[ch] + mom * unb);
}

void nn_bn_forward(nn_ctx *c, mt_layer *L, const float *x, float *y, nn_act *a)
{
    const int64_t B = c->B, C = L->in_c, T = L->in_t;
    float *mean = a->save, *inv = a->save + C;
    const int train = c->train;
#pragma omp parallel for schedule(static) NT(c) PAR_IF(B * C * T)
    for (int64_t ch = 0; ch < C; ch++) {
        float mu, is;
        if (train) {
            bn_channel_stats(c, L, x, ch, &mu, &is);
            mean[ch] = mu;
            inv[ch] = is;
        } else {
            mu = L->running_mean[ch];
            is = (float)(1.0 / sqrt((double)L->running_var[ch] + (double)L->bn_eps));
        }
        const float g = L->w[ch] * is, beta = L->b[ch];
        for (int64_t b = 0; b < B; b++) {
            const float *xr = x + (b * C + ch) * T;
            float *yr = y + (b * C + ch) * T;
#pragma omp simd
            for (int64_t t = 0; t < T; t++) yr[t] = (xr[t] - mu) * g + beta;
        }
    }
    if (train) L->num_batches_tracked++;
}

void nn_bn_backward(nn_ctx *c, mt_layer *L, const float *x, const float *dy, float *dx,
                    const nn_act *a)
{
    const int64_t B = c->B, C = L->in_c, T = L->in_t, n = B * T;
    const int train = c->train;
#pragma omp parallel for schedule(static) NT(c) PAR_IF(B * C * T)
    for (int64_t ch = 0; ch < C; ch++) {
        float mu, is;
        if (train) {
            mu = a->save[ch];
            is = a->save[C + ch];
        } else {
            mu = L->running_mean[ch];
            is = (float)(1.0 / sqrt((double)L->running_var[ch] + (double)L->bn_eps));
        }
        double sdy = 0, sdyx = 0;
        for (int64_t b = 0; b < B; b++) {
            int64_t o = (b * C + ch) * T;
            lanes_bn_grad(x + o, dy + o, T, mu, is, &sdy, &sdyx);
        }
        L->dw[ch] += (float)sdyx;
        L->db[ch] += (float)sdy;
        if (!dx) continue;
        const float k1 = L->w[ch] * is;
        const float m1 = train ? (float)(sdy / (double)n) : 0.0f;
        const float m2 = train ? (float)(sdyx / (double)n) : 0.0f;
        for (int64_t b = 0; b < B; b++) {
            int64_t o = (b * C + ch) * T;
            const float *xr = x + o, *gr = dy + o;
            float *dr = dx + o;
#pragma omp simd
            for (int64_t t = 0; t < T; t++) dr[t] = k1 * (gr[t] - m1 - ((xr[t] - mu) * is) * m2);
        }
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Pooling                                                                                   */
/* ---------------------------------------------------------------------------------------- */

void nn_maxpool_forward(const mt_layer *L, const float *x, float *y, int32_t *idx, int64_t B)
{
    const int64_t rows = B * L->in_c, Ti = L->in_t, To = L->out_t;
    const int K = L->k, S = L->stride;
#pragma omp parallel for schedule(static) PAR_IF(rows * Ti)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * Ti;
        for (int64_t i = 0; i < To; i++) {
            int64_t base = i * S, arg = base;
            float m = xr[base];
            for (int j = 1; j < K; j++)
                if (xr[base + j] > m || isnan(xr[base + j])) {
                    m = xr[base + j];
                    arg = base + j;
                }
            y[r * To + i] = m;
            idx[r * To + i] = (int32_t)arg;
        }
    }
}

void nn_maxpool_backward(const mt_layer *L, const float *dy, const int32_t *idx, float *dx,
                         int64_t B)
{
    const int64_t rows = B * L->in_c, Ti = L->in_t, To = L->out_t;
#pragma omp parallel for schedule(static) PAR_IF(rows * Ti)
    for (int64_t r = 0; r < rows; r++) {
        float *dr = dx + r * Ti;
        memset(dr, 0, (size_t)Ti * sizeof(float));
        for (int64_t i = 0; i < To; i++) dr[idx[r * To + i]] += dy[r * To + i];
    }
}

void nn_avgpool_forward(const mt_layer *L, const float *x, float *y, int64_t B)
{
    const int64_t rows = B * L->in_c, Ti = L->in_t, To = L->out_t;
    const int K = L->k, S = L->stride;
#pragma omp parallel for schedule(static) PAR_IF(rows * Ti)
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < To; i++) {
            const float *w = x + r * Ti + i * S;
            float s = 0.0f;
            for (int j = 0; j < K; j++) s += w[j];
            y[r * To + i] = s / (float)K;
        }
}

void nn_avgpool_backward(const mt_layer *L, const float *dy, float *dx, int64_t B)
{
    const int64_t rows = B * L->in_c, Ti = L->in_t, To = L->out_t;
    const int K = L->k, S = L->stride;
#pragma omp parallel for schedule(static) PAR_IF(rows * Ti)
    for (int64_t r = 0; r < rows; r++) {
        float *dr = dx + r * Ti;
        memset(dr, 0, (size_t)Ti * sizeof(float));
        for (int64_t i = 0; i < To; i++) {
            float g = dy[r * To + i] / (float)K;
            for (int j = 0; j < K; j++) dr[i * S + j] += g;
        }
    }
}

void nn_gap_forward(const mt_layer *L, const float *x, float *y, int64_t B)
{
    const int64_t rows = B * L->in_c, T = L->in_t;
#pragma omp parallel for schedule(static) PAR_IF(rows * T)
    for (int64_t r = 0; r < rows; r++) y[r] = (float)(lanes_sum(x + r * T, T) / (double)T);
}

void nn_gap_backward(const mt_layer *L, const float *dy, float *dx, int64_t B)
{
    const int64_t rows = B * L->in_c, T = L->in_t;
#pragma omp parallel for schedule(static) PAR_IF(rows * T)
    for (int64_t r = 0; r < rows; r++) {
        float g = dy[r] / (float)T;
        for (int64_t t = 0; t < T; t++) dx[r * T + t] = g;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Activations (element-wise over n = B·C·T)                                                 */
/* ---------------------------------------------------------------------------------------- */

static inline float sigmoidf_(float x) { return 1.0f / (1.0f + expf(-x)); }

void nn_act_forward(mt_layer_type t, const float *x, float *y, int64_t n)
{
    switch (t) {
    case MT_LAYER_TANH:
#pragma omp parallel for simd schedule(static) PAR_IF(n)
        for (int64_t i = 0; i < n; i++) y[i] = nn_tanhf(x[i]);
        break;
    case MT_LAYER_RELU:
#pragma omp parallel for simd schedule(static) PAR_IF(n)
        for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
    case MT_LAYER_SWISH:
#pragma omp parallel for schedule(static) PAR_IF(n)
        for (int64_t i = 0; i < n; i++) y[i] = x[i] * sigmoidf_(x[i]);
        break;
    case MT_LAYER_LOGSIGMOID:
        /* log σ(x) = min(x, 0) − log1p(exp(−|x|)) */
#pragma omp parallel for schedule(static) PAR_IF(n)
        for (int64_t i = 0; i < n; i++) y[i] = fminf(x[i], 0.0f) - log1pf(expf(-fabsf(x[i])));
        break;
    default:
        break;
    }
}

void nn_act_backward(mt_layer_type t, const float *x, const float *y, const float *dy, float *dx,
                     int64_t n)
{
    switch (t) {
    case MT_LAYER_TANH:
#pragma omp parallel for simd schedule(static) PAR_IF(n)
        for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
        break;
    case MT_LAYER_RELU:
#pragma omp parallel for simd schedule(static) PAR_IF(n)
        for (int64_t i = 0; i < n; i++) dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
        break;
    case MT_LAYER_SWISH:
#pragma omp parallel for schedule(static) PAR_IF(n)
        for (int64_t i = 0; i < n; i++) {
            float s = sigmoidf_(x[i]);
            dx[i] = dy[i] * s * (1.0f + x[i] * (1.0f - s));
        }
        break;
    case MT_LAYER_LOGSIGMOID:
        /* d/dx log σ(x) = σ(−x) */
#pragma omp parallel for schedule(static) PAR_IF(n)
        for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * sigmoidf_(-x[i]);
        break;
    default:
        break;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Dropout and slicing                                                                       */
/* ---------------------------------------------------------------------------------------- */

void nn_dropout_forward(const mt_layer *L, const float *x, float *y, float *mask, int64_t B,
                        int train, uint64_t seed, uint64_t step, int li)
{
    const int64_t n = L->in_c * L->in_t;
    if (!train || L->p <= 0.0f) {
        memcpy(y, x, (size_t)(B * n) * sizeof(float));
        return;
    }
    const float keep = 1.0f / (1.0f - L->p);
#pragma omp parallel for schedule(static) PAR_IF(B * n)
    for (int64_t b = 0; b < B; b++) {
        mt_rng r;
        /* one stream per (step, layer, sample): independent of the thread count */
        mt_rng_init(&r, seed ^ 0xD50D50D50ULL, (step << 32) ^ ((uint64_t)li << 24) ^ (uint64_t)b);
        for (int64_t i = 0; i < n; i++) {
            float mk = mt_rng_uniform(&r) < (double)L->p ? 0.0f : keep;
            mask[b * n + i] = mk;
            y[b * n + i] = x[b * n + i] * mk;
        }
    }
}

void nn_dropout_backward(const mt_layer *L, const float *dy, const float *mask, float *dx,
                         int64_t B, int train)
{
    const int64_t n = B * L->in_c * L->in_t;
    if (!train || L->p <= 0.0f) {
        memcpy(dx, dy, (size_t)n * sizeof(float));
        return;
    }
    for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * mask[i];
}

void nn_slice_forward(const mt_layer *L, const float *x, float *y, int64_t B)
{
    const int64_t Ci = L->in_c, Ti = L->in_t, Co = L->out_c, To = L->out_t;
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < Co; c++) {
            const float *xr = x + (b * Ci + L->c0 + c) * Ti + L->t0;
            float *yr = y + (b * Co + c) * To;
            if (L->tstep == 1) memcpy(yr, xr, (size_t)To * sizeof(float));
            else
                for (int64_t t = 0; t < To; t++) yr[t] = xr[t * L->tstep];
        }
}

void nn_slice_backward(const mt_layer *L, const float *dy, float *dx, int64_t B)
{
    const int64_t Ci = L->in_c, Ti = L->in_t, Co = L->out_c, To = L->out_t;
    memset(dx, 0, (size_t)(B * Ci * Ti) * sizeof(float));
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < Co; c++) {
            float *xr = dx + (b * Ci + L->c0 + c) * Ti + L->t0;
            const float *yr = dy + (b * Co + c) * To;
            for (int64_t t = 0; t < To; t++) xr[t * L->tstep] = yr[t];
        }
}

/* ---------------------------------------------------------------------------------------- */
/* Fused [bn] → monotone activation → maxpool                                                */
/* ---------------------------------------------------------------------------------------- */

static inline float act_scalar(mt_layer_type t, float z)
{
    switch (t) {
    case MT_LAYER_TANH: return nn_tanhf(z);
    case MT_LAYER_RELU: return z > 0.0f ? z : 0.0f;
    case MT_LAYER_LOGSIGMOID: return fminf(z, 0.0f) - log1pf(expf(-fabsf(z)));
    default: return z;
    }
}

/* d act / dz expressed through y = act(z) (and z for relu). */
static inline float act_grad(mt_layer_type t, float y)
{
    switch (t) {
    case MT_LAYER_TANH: return 1.0f - y * y;
    case MT_LAYER_RELU: return y > 0.0f ? 1.0f : 0.0f;
    case MT_LAYER_LOGSIGMOID: return 1.0f - expf(y); /* 1 − σ(z), σ(z) = exp(log σ(z)) */
    default: return 1.0f;
    }
}

/* y ← act(y) in place over a row (vectorised per activation type). */
static void act_row(mt_layer_type t, float *y, int64_t n)
{
    switch (t) {
    case MT_LAYER_TANH:
#pragma omp simd
        for (int64_t i = 0; i < n; i++) y[i] = nn_tanhf(y[i]);
        break;
    case MT_LAYER_RELU:
#pragma omp simd
        for (int64_t i = 0; i < n; i++) y[i] = y[i] > 0.0f ? y[i] : 0.0f;
        break;
    case MT_LAYER_LOGSIGMOID:
        for (int64_t i = 0; i < n; i++) y[i] = act_scalar(t, y[i]);
        break;
    default:
        break;
    }
}

/* g[i] = dy[i] · act'(z_i) with the derivative expressed through y = act(z). */
static void act_grad_row(mt_layer_type t, const float *dy, const float *y, float *g, int64_t n)
{
    switch (t) {
    case MT_LAYER_TANH:
#pragma omp simd
        for (int64_t i = 0; i < n; i++) g[i] = dy[i] * (1.0f - y[i] * y[i]);
        break;
    case MT_LAYER_RELU:
#pragma omp simd
        for (int64_t i = 0; i < n; i++) g[i] = y[i] > 0.0f ? dy[i] : 0.0f;
        break;
    default:
        for (int64_t i = 0; i < n; i++) g[i] = dy[i] * act_grad(t, y[i]);
        break;
    }
}

/* Max (dir = +1) or min (dir = -1) of w[0..K) and the first index attaining it; branch-free
 * (select instructions) so that random data does not cost branch mispredictions. */
static inline float window_extreme(const float *w, int K, int dir, int *arg)
{
    float m = w[0];
    if (dir > 0) {
        for (int j = 1; j < K; j++) m = w[j] > m ? w[j] : m;
    } else {
        for (int j = 1; j < K; j++) m = w[j] < m ? w[j] : m;
    }
    int a = 0;
    for (int j = K - 1; j > 0; j--) a = w[j] == m ? j : a;
    *arg = w[0] == m ? 0 : a;
    return m;
}

void nn_fused_pool_forward(nn_ctx *c, mt_layer *bn, mt_layer_type act, const mt_layer *pool,
                           const float *x, float *y, nn_act *pool_act, nn_act *bn_act)
{
    int32_t *idx = pool_act->idx;
    float *pext = pool_act->pext;
    const int64_t B = c->B, C = pool->in_c, Ti = pool->in_t, To = pool->out_t;
    const int K = pool->k, S = pool->stride;
    const int train = c->train;
#pragma omp parallel for schedule(static) NT(c) PAR_IF(B * C * Ti)
    for (int64_t ch = 0; ch < C; ch++) {
        float mu = 0.0f, g = 1.0f, beta = 0.0f;
        if (bn) {
            float is;
            if (train) {
                bn_channel_stats(c, bn, x, ch, &mu, &is);
                bn_act->save[ch] = mu;
                bn_act->save[C + ch] = is;
            } else {
                mu = bn->running_mean[ch];
                is = (float)(1.0 / sqrt((double)bn->running_var[ch] + (double)bn->bn_eps));
            }
            g = bn->w[ch] * is;
            beta = bn->b[ch];
        }
        /* z = (x − μ)·g + β is monotone in x: its window maximum sits at the maximum of x when
         * g ≥ 0 and at the minimum when g < 0, so the extremum is found on the raw input. */
        const int dir = g >= 0.0f ? 1 : -1;
        for (int64_t b = 0; b < B; b++) {
            const float *xr = x + (b * C + ch) * Ti;
            float *yr = y + (b * C + ch) * To;
            int32_t *ir = idx + (b * C + ch) * To;
            float *er = pext + (b * C + ch) * To;
            for (int64_t i = 0; i < To; i++) {
                int a;
                float m = window_extreme(xr + i * S, K, dir, &a);
                er[i] = m;
                yr[i] = bn ? (m - mu) * g + beta : m;
                ir[i] = (int32_t)(i * S + a);
            }
            act_row(act, yr, To);
        }
    }
    if (bn && train) bn->num_batches_tracked++;
}

void nn_fused_pool_backward(nn_ctx *c, mt_layer *bn, mt_layer_type act, const mt_layer *pool,
                            const float *x, const float *y, const nn_act *pool_act,
                            const float *dy, float *dx, const nn_act *bn_act)
{
    const int32_t *idx = pool_act->idx;
    const float *pext = pool_act->pext;
    const int64_t B = c->B, C = pool->in_c, Ti = pool->in_t, To = pool->out_t, n = B * Ti;
    const int train = c->train;
#pragma omp parallel for schedule(static) NT(c) PAR_IF(B * C * Ti)
    for (int64_t ch = 0; ch < C; ch++) {
        if (!bn) {
            if (!dx) continue;
            for (int64_t b = 0; b < B; b++) {
                int64_t o = (b * C + ch);
                float *dr = dx + o * Ti;
                memset(dr, 0, (size_t)Ti * sizeof(float));
                for (int64_t i = 0; i < To; i++)
                    dr[idx[o * To + i]] += dy[o * To + i] * act_grad(act, y[o * To + i]);
            }
            continue;
        }
        float mu, is;
        if (train) {
            mu = bn_act->save[ch];
            is = bn_act->save[C + ch];
        } else {
            mu = bn->running_mean[ch];
            is = (float)(1.0 / sqrt((double)bn->running_var[ch] + (double)bn->bn_eps));
        }
        /* dz is non-zero only at the argmax positions: Σdz and Σdz·x̂ from the sparse entries */
        double sdz = 0, sdzx = 0;
        for (int64_t b = 0; b < B; b++) {
            int64_t o = (b * C + ch);
            for (int64_t i = 0; i < To; i++) {
                float dz = dy[o * To + i] * act_grad(act, y[o * To + i]);
                sdz += dz;
                sdzx += (double)dz * ((pext[o * To + i] - mu) * is);
            }
        }
        bn->dw[ch] += (float)sdzx;
        bn->db[ch] += (float)sdz;
        if (!dx) continue;
        const float k1 = bn->w[ch] * is;
        const float m1 = train ? (float)(sdz / (double)n) : 0.0f;
        const float m2 = train ? (float)(sdzx / (double)n) : 0.0f;
        /* dense part −k1·(m1 + x̂·m2) as an affine map of x */
        const float A = -k1 * is * m2, Bc = -k1 * (m1 - mu * is * m2);
        for (int64_t b = 0; b < B; b++) {
            int64_t o = (b * C + ch);
            const float *xr = x + o * Ti;
            float *dr = dx + o * Ti;
#pragma omp simd
            for (int64_t t = 0; t < Ti; t++) dr[t] = A * xr[t] + Bc;
            for (int64_t i = 0; i < To; i++)
                dr[idx[o * To + i]] += k1 * dy[o * To + i] * act_grad(act, y[o * To + i]);
        }
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Fused conv block: conv → bn → [monotone act] → maxpool                                    */
/* ---------------------------------------------------------------------------------------- */

mt_status nn_convblock_forward(nn_ctx *c, mt_layer *conv, mt_layer *bn, mt_layer_type act,
                               const mt_layer *pool, const float *x, float *yconv, float *y,
                               nn_act *conv_act, nn_act *bn_act, nn_act *pool_act, mt_err *err)
{
    const int64_t B = c->B, Cin = conv->in_c, Tin = conv->in_t, Co = conv->out_c, To = conv->out_t;
    const int64_t Tp = pool->out_t;
    const int K = pool->k, S = pool->stride, train = c->train;
    int32_t *idx = pool_act->idx;
    float *pext = pool_act->pext;
    double *mom = train ? conv_act->mom : NULL;
    const int shifted = conv_shifted(c, conv, conv_act);
    if (shifted) conv_permute(conv, conv_act->wperm);
    conv_act->wperm_ok = shifted;
    mt_status status = MT_OK;
#pragma omp parallel for schedule(static) NT(c) PAR_IF(B > 1 ? B * Co * To * (Cin + 1) : 0)
    for (int64_t b = 0; b < B; b++) {
        float *yb = yconv + b * Co * To;
        nn_ctx cc = *c;
        cc.li = c->li;
        mt_status st = conv_sample_forward(&cc, conv, conv_act, shifted, b, x + b * Cin * Tin, yb);
        if (st) {
#pragma omp critical(nn_hook_err)
            if (!status) status = mt_err_set(err, st, "%s: matmul hook failed", conv->name);
        }
        /* one pass per output row while it is in L1: moments of the raw GEMM result, bias,
         * window extremes of the biased output */
        double *mb = mom ? mom + b * Co * 2 : NULL;
        for (int64_t o = 0; o < Co; o++) {
            float *row = yb + o * To;
            if (mb) {
                double s1 = 0, s2 = 0;
                lanes_moments(row, To, 0.0f, &s1, &s2);
                mb[2 * o] = s1;
                mb[2 * o + 1] = s2;
            }
            const float bo = conv->b[o];
#pragma omp simd
            for (int64_t t = 0; t < To; t++) row[t] += bo;
            const int dir = bn->w[o] >= 0.0f ? 1 : -1; /* sign of γ/σ */
            float *er = pext + (b * Co + o) * Tp;
            int32_t *ir = idx + (b * Co + o) * Tp;
            for (int64_t i = 0; i < Tp; i++) {
                int a;
                er[i] = window_extreme(row + i * S, K, dir, &a);
                ir[i] = (int32_t)(i * S + a);
            }
        }
    }
    if (status) return status;
    nn_ctx cs = *c;
    cs.mom = mom;
    cs.mom_shift = conv->b;
#pragma omp parallel for schedule(static) NT(c) PAR_IF(B * Co * To)
    for (int64_t ch = 0; ch < Co; ch++) {
        float mu, is;
        if (train) {
            bn_channel_stats(&cs, bn, yconv, ch, &mu, &is);
            bn_act->save[ch] = mu;
            bn_act->save[Co + ch] = is;
        } else {
            mu = bn->running_mean[ch];
            is = (float)(1.0 / sqrt((double)bn->running_var[ch] + (double)bn->bn_eps));
        }
        const float g = bn->w[ch] * is, beta = bn->b[ch];
        for (int64_t b = 0; b < B; b++) {
            const float *er = pext + (b * Co + ch) * Tp;
            float *yr = y + (b * Co + ch) * Tp;
#pragma omp simd
            for (int64_t i = 0; i < Tp; i++) yr[i] = (er[i] - mu) * g + beta;
            act_row(act, yr, Tp);
        }
    }
    if (train) bn->num_batches_tracked++;
    return MT_OK;
}

void nn_convblock_backward(nn_ctx *c, mt_layer *conv, mt_layer *bn, mt_layer_type act,
                           const mt_layer *pool, const float *x, const float *yconv,
                           const float *y, const float *dy, float *dx, const nn_act *conv_act,
                           nn_act *bn_act, const nn_act *pool_act)
{
    const float *wperm = conv_act->wperm_ok ? conv_act->wperm : NULL;
    const int64_t B = c->B, Cin = conv->in_c, Tin = conv->in_t, Co = conv->out_c, To = conv->out_t;
    const int64_t Tp = pool->out_t, R = Cin * conv->k, n = B * To;
    const int train = c->train;
    const int32_t *idx = pool_act->idx;
    const float *pext = pool_act->pext;
    float *A = bn_act->save + 2 * Co, *Bc = A + Co;
    float *gz = pool_act->gz;
    /* 1. per channel: BatchNorm parameter gradients and the coefficients of the dense
     *    gradient dL/dyconv = A·yconv + Bc (+ k1·dz at the argmax positions) */
#pragma omp parallel for schedule(static) NT(c) PAR_IF(B * Co * To)
    for (int64_t ch = 0; ch < Co; ch++) {
        float mu, is;
        if (train) {
            mu = bn_act->save[ch];
            is = bn_act->save[Co + ch];
        } else {
            mu = bn->running_mean[ch];
            is = (float)(1.0 / sqrt((double)bn->running_var[ch] + (double)bn->bn_eps));
        }
        const float k1 = bn->w[ch] * is;
        double sdz = 0, sdzx = 0;
        for (int64_t b = 0; b < B; b++) {
            int64_t o = (b * Co + ch) * Tp;
            float *gr = gz + o;
            act_grad_row(act, dy + o, y + o, gr, Tp); /* gr = dL/dz */
            lanes_bn_grad(pext + o, gr, Tp, mu, is, &sdz, &sdzx);
#pragma omp simd
            for (int64_t i = 0; i < Tp; i++) gr[i] *= k1;
        }
        bn->dw[ch] += (float)sdzx;
        bn->db[ch] += (float)sdz;
        const float m1 = train ? (float)(sdz / (double)n) : 0.0f;
        const float m2 = train ? (float)(sdzx / (double)n) : 0.0f;
        A[ch] = -k1 * is * m2;
        Bc[ch] = -k1 * (m1 - mu * is * m2);
    }
    /* 2. conv backward, generating each sample's output gradient in thread scratch */
    const int64_t nch = nn_nchunks(B), P = c->w->partial_floats;
#pragma omp parallel for schedule(dynamic, 1) NT(c) PAR_IF(B > 1 ? B * Co * To * (Cin + 1) : 0)
    for (int64_t j = 0; j < nch; j++) {
        float *pw = c->w->partial + j * P;
        float *s = thread_scratch(c);
        float *dyc = s + 2 * R * To;
        int64_t lo = nn_chunk_lo(B, j), hi = nn_chunk_lo(B, j + 1);
        for (int64_t b = lo; b < hi; b++) {
            for (int64_t o = 0; o < Co; o++) {
                const float *yr = yconv + (b * Co + o) * To;
                float *dr = dyc + o * To;
                const float a = A[o], bc = Bc[o];
#pragma omp simd
                for (int64_t t = 0; t < To; t++) dr[t] = a * yr[t] + bc;
                int64_t q = (b * Co + o) * Tp;
                for (int64_t i = 0; i < Tp; i++) dr[idx[q + i]] += gz[q + i];
            }
            conv_sample_backward(conv, wperm, x + b * Cin * Tin, dyc, dx ? dx + b * Cin * Tin : NULL,
                                 pw, pw + conv->nw, b == lo, s);
        }
    }
    conv_reduce_partials(c, conv, nch);
}
