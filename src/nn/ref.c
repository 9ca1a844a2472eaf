/* Naive reference kernels: the definitions, written as directly as possible (double
 * accumulators, no BLAS, no threads).  The optimised kernels (kernels.c) are tested against
 * these, and mt_model.reference = 1 runs a whole model on them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_impl.h"

/* Conv1d: y[b,o,t] = bias[o] + Σ_c Σ_j w[o,c,j] · x[b, c, t·S + j·D − P] (zero outside). */
void ref_conv_forward(const mt_layer *L, const float *x, float *y, int64_t B)
{
    const int64_t Ci = L->in_c, Ti = L->in_t, Co = L->out_c, To = L->out_t;
    const int K = L->k;
    for (int64_t b = 0; b < B; b++)
        for (int64_t o = 0; o < Co; o++)
            for (int64_t t = 0; t < To; t++) {
                double s = L->b[o];
                for (int64_t c = 0; c < Ci; c++)
                    for (int j = 0; j < K; j++) {
                        int64_t i = t * L->stride + (int64_t)j * L->dilation - L->pad;
                        if (i >= 0 && i < Ti)
                            s += (double)L->w[(o * Ci + c) * K + j] * x[(b * Ci + c) * Ti + i];
                    }
                y[(b * Co + o) * To + t] = (float)s;
            }
}

void ref_conv_backward(mt_layer *L, const float *x, const float *dy, float *dx, int64_t B)
{
    const int64_t Ci = L->in_c, Ti = L->in_t, Co = L->out_c, To = L->out_t;
    const int K = L->k;
    for (int64_t o = 0; o < Co; o++) {
        double sb = 0;
        for (int64_t b = 0; b < B; b++)
            for (int64_t t = 0; t < To; t++) sb += dy[(b * Co + o) * To + t];
        L->db[o] += (float)sb;
        for (int64_t c = 0; c < Ci; c++)
            for (int j = 0; j < K; j++) {
                double s = 0;
                for (int64_t b = 0; b < B; b++)
                    for (int64_t t = 0; t < To; t++) {
                        int64_t i = t * L->stride + (int64_t)j * L->dilation - L->pad;
                        if (i >= 0 && i < Ti)
                            s += (double)dy[(b * Co + o) * To + t] * x[(b * Ci + c) * Ti + i];
                    }
                L->dw[(o * Ci + c) * K + j] += (float)s;
            }
    }
    if (!dx) return;
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < Ci; c++)
            for (int64_t i = 0; i < Ti; i++) {
                double s = 0;
                for (int64_t o = 0; o < Co; o++)
                    for (int j = 0; j < K; j++) {
                        /* t·S = i + P − j·D */
                        int64_t u = i + L->pad - (int64_t)j * L->dilation;
                        if (u < 0 || u % L->stride) continue;
                        int64_t t = u / L->stride;
                        if (t < To) s += (double)L->w[(o * Ci + c) * K + j] * dy[(b * Co + o) * To + t];
                    }
                dx[(b * Ci + c) * Ti + i] = (float)s;
            }
}

void ref_linear_forward(const mt_layer *L, const float *x, float *y, int64_t B)
{
    const int64_t Nin = L->in_c * L->in_t, N = L->out_c;
    for (int64_t b = 0; b < B; b++)
        for (int64_t n = 0; n < N; n++) {
            double s = L->b[n];
            for (int64_t i = 0; i < Nin; i++) s += (double)L->w[n * Nin + i] * x[b * Nin + i];
            y[b * N + n] = (float)s;
        }
}

void ref_linear_backward(mt_layer *L, const float *x, const float *dy, float *dx, int64_t B)
{
    const int64_t Nin = L->in_c * L->in_t, N = L->out_c;
    for (int64_t n = 0; n < N; n++) {
        double sb = 0;
        for (int64_t b = 0; b < B; b++) sb += dy[b * N + n];
        L->db[n] += (float)sb;
        for (int64_t i = 0; i < Nin; i++) {
            double s = 0;
            for (int64_t b = 0; b < B; b++) s += (double)dy[b * N + n] * x[b * Nin + i];
            L->dw[n * Nin + i] += (float)s;
        }
    }
    if (!dx) return;
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < Nin; i++) {
            double s = 0;
            for (int64_t n = 0; n < N; n++) s += (double)dy[b * N + n] * L->w[n * Nin + i];
            dx[b * Nin + i] = (float)s;
        }
}

/* BatchNorm1d, two-pass statistics in double. */
void ref_bn_forward(mt_layer *L, const float *x, float *y, float *save, int64_t B, int train)
{
    const int64_t C = L->in_c, T = L->in_t, n = B * T;
    for (int64_t c = 0; c < C; c++) {
        double mean, var;
        if (train) {
            double s = 0;
            for (int64_t b = 0; b < B; b++)
                for (int64_t t = 0; t < T; t++) s += x[(b * C + c) * T + t];
            mean = s / (double)n;
            double q = 0;
            for (int64_t b = 0; b < B; b++)
                for (int64_t t = 0; t < T; t++) {
                    double d = x[(b * C + c) * T + t] - mean;
                    q += d * d;
                }
            var = q / (double)n;
            double unb = n > 1 ? q / (double)(n - 1) : var;
            double m = L->bn_momentum;
            L->running_mean[c] = (float)((1 - m) * L->running_mean[c] + m * mean);
            L->running_var[c] = (float)((1 - m) * L->running_var[c] + m * unb);
            save[c] = (float)mean;
            save[C + c] = (float)(1.0 / sqrt(var + L->bn_eps));
        } else {
            mean = L->running_mean[c];
            var = L->running_var[c];
        }
        double inv = 1.0 / sqrt(var + L->bn_eps);
        for (int64_t b = 0; b < B; b++)
            for (int64_t t = 0; t < T; t++) {
                int64_t i = (b * C + c) * T + t;
                y[i] = (float)((x[i] - mean) * inv * L->w[c] + L->b[c]);
            }
    }
    if (train) L->num_batches_tracked++;
}

void ref_bn_backward(mt_layer *L, const float *x, const float *dy, float *dx, const float *save,
                     int64_t B, int train)
{
    const int64_t C = L->in_c, T = L->in_t, n = B * T;
    for (int64_t c = 0; c < C; c++) {
        double mean = train ? save[c] : L->running_mean[c];
        double inv = train ? save[C + c] : 1.0 / sqrt((double)L->running_var[c] + L->bn_eps);
        double sdy = 0, sdyx = 0;
        for (int64_t b = 0; b < B; b++)
            for (int64_t t = 0; t < T; t++) {
                int64_t i = (b * C + c) * T + t;
                sdy += dy[i];
                sdyx += dy[i] * (x[i] - mean) * inv;
            }
        L->dw[c] += (float)sdyx;
        L->db[c] += (float)sdy;
        if (!dx) continue;
        for (int64_t b = 0; b < B; b++)
            for (int64_t t = 0; t < T; t++) {
                int64_t i = (b * C + c) * T + t;
                double xh = (x[i] - mean) * inv;
                double g = train ? dy[i] - sdy / (double)n - xh * sdyx / (double)n : dy[i];
                dx[i] = (float)(L->w[c] * inv * g);
            }
    }
}

void ref_maxpool_forward(const mt_layer *L, const float *x, float *y, int32_t *idx, int64_t B)
{
    const int64_t rows = B * L->in_c, Ti = L->in_t, To = L->out_t;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < To; i++) {
            int64_t best = i * L->stride;
            for (int j = 1; j < L->k; j++)
                if (x[r * Ti + i * L->stride + j] > x[r * Ti + best]) best = i * L->stride + j;
            y[r * To + i] = x[r * Ti + best];
            if (idx) idx[r * To + i] = (int32_t)best;
        }
}

void ref_maxpool_backward(const mt_layer *L, const float *x, const float *dy, float *dx, int64_t B)
{
    const int64_t rows = B * L->in_c, Ti = L->in_t, To = L->out_t;
    memset(dx, 0, (size_t)(rows * Ti) * sizeof(float));
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < To; i++) {
            int64_t best = i * L->stride;
            for (int j = 1; j < L->k; j++)
                if (x[r * Ti + i * L->stride + j] > x[r * Ti + best]) best = i * L->stride + j;
            dx[r * Ti + best] += dy[r * To + i];
        }
}

void ref_avgpool_forward(const mt_layer *L, const float *x, float *y, int64_t B)
{
    const int64_t rows = B * L->in_c, Ti = L->in_t, To = L->out_t;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < To; i++) {
            double s = 0;
            for (int j = 0; j < L->k; j++) s += x[r * Ti + i * L->stride + j];
            y[r * To + i] = (float)(s / L->k);
        }
}

void ref_avgpool_backward(const mt_layer *L, const float *dy, float *dx, int64_t B)
{
    const int64_t rows = B * L->in_c, Ti = L->in_t, To = L->out_t;
    memset(dx, 0, (size_t)(rows * Ti) * sizeof(float));
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < To; i++)
            for (int j = 0; j < L->k; j++) dx[r * Ti + i * L->stride + j] += dy[r * To + i] / (float)L->k;
}

void ref_act_forward(mt_layer_type t, const float *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        double v = x[i];
        switch (t) {
        case MT_LAYER_TANH: y[i] = (float)tanh(v); break;
        case MT_LAYER_RELU: y[i] = v > 0 ? (float)v : 0.0f; break;
        case MT_LAYER_SWISH: y[i] = (float)(v / (1.0 + exp(-v))); break;
        case MT_LAYER_LOGSIGMOID: y[i] = (float)(v < 0 ? v - log1p(exp(v)) : -log1p(exp(-v))); break;
        default: y[i] = x[i]; break;
        }
    }
}

void ref_act_backward(mt_layer_type t, const float *x, const float *dy, float *dx, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        double v = x[i], g;
        switch (t) {
        case MT_LAYER_TANH: g = 1.0 - tanh(v) * tanh(v); break;
        case MT_LAYER_RELU: g = v > 0 ? 1.0 : 0.0; break;
        case MT_LAYER_SWISH: {
            double s = 1.0 / (1.0 + exp(-v));
            g = s + v * s * (1.0 - s);
            break;
        }
        case MT_LAYER_LOGSIGMOID: g = 1.0 / (1.0 + exp(v)); break;
        default: g = 1.0; break;
        }
        dx[i] = (float)(dy[i] * g);
    }
}
