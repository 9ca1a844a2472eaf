/* Exact t-SNE and a k-NN cluster score (see include/materia/embed.h). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "materia/embed.h"
#include "materia/rng.h"

void mt_tsne_opts_default(mt_tsne_opts *o)
{
    o->perplexity = 30.0;
    o->iters = 1000;
    o->lr = 0.0;
    o->seed = 0;
}

/* Row i of P (conditional p_{j|i}) from squared distances d2[i, :], bisection on β = 1/2σ² so
 * that the entropy H = log(perplexity). */
static void row_affinities(const double *d2, int n, int i, double perp, double *p)
{
    double lo = 0, hi = INFINITY, beta = 1.0, target = log(perp);
    for (int it = 0; it < 200; it++) {
        double sum = 0, sdp = 0;
        for (int j = 0; j < n; j++) {
            p[j] = (j == i) ? 0.0 : exp(-d2[j] * beta);
            sum += p[j];
            sdp += d2[j] * p[j];
        }
        if (sum <= DBL_MIN) sum = DBL_MIN;
        double h = log(sum) + beta * sdp / sum; /* entropy in nats */
        for (int j = 0; j < n; j++) p[j] /= sum;
        double diff = h - target;
        if (fabs(diff) < 1e-5) break;
        if (diff > 0) { /* too flat: increase β */
            lo = beta;
            beta = isinf(hi) ? beta * 2 : 0.5 * (beta + hi);
        } else {
            hi = beta;
            beta = 0.5 * (beta + lo);
        }
    }
}

mt_status mt_tsne(const float *x, int n, int d, const mt_tsne_opts *o, float *y, mt_err *err)
{
    if (n < 4 || d < 1) return mt_err_set(err, MT_ERR_ARG, "t-SNE needs at least 4 points (got %d)", n);
    mt_tsne_opts def;
    if (!o) {
        mt_tsne_opts_default(&def);
        o = &def;
    }
    double lr = o->lr > 0 ? o->lr : fmax(n / 48.0, 50.0);
    double perp = o->perplexity;
    if (perp > (n - 1) / 3.0) perp = (n - 1) / 3.0;
    if (perp < 1.0) perp = 1.0;
    size_t nn = (size_t)n * (size_t)n;
    double *xs = malloc((size_t)n * (size_t)d * sizeof *xs);
    double *P = malloc(nn * sizeof *P), *D = malloc(nn * sizeof *D);
    double *Y = malloc((size_t)n * 2 * sizeof *Y), *G = malloc((size_t)n * 2 * sizeof *G);
    double *U = calloc((size_t)n * 2, sizeof *U), *gain = malloc((size_t)n * 2 * sizeof *gain);
    double *num = malloc(nn * sizeof *num);
    if (!xs || !P || !D || !Y || !G || !U || !gain || !num) {
        free(xs); free(P); free(D); free(Y); free(G); free(U); free(gain); free(num);
        return mt_err_set(err, MT_ERR_NOMEM, "t-SNE: cannot allocate for %d points", n);
    }
    /* standardise columns */
    for (int k = 0; k < d; k++) {
        double m = 0, v = 0;
        for (int i = 0; i < n; i++) m += x[(size_t)i * d + k];
        m /= n;
        for (int i = 0; i < n; i++) {
            double t = x[(size_t)i * d + k] - m;
            v += t * t;
        }
        double s = v > 0 ? sqrt(v / n) : 1.0;
        for (int i = 0; i < n; i++) xs[(size_t)i * d + k] = (x[(size_t)i * d + k] - m) / s;
    }
    for (int i = 0; i < n; i++)
        for (int j = i; j < n; j++) {
            double s = 0;
            for (int k = 0; k < d; k++) {
                double t = xs[(size_t)i * d + k] - xs[(size_t)j * d + k];
                s += t * t;
            }
            D[(size_t)i * n + j] = D[(size_t)j * n + i] = s;
        }
    /* scale distances for numerical range of the bisection */
    double mean = 0;
    for (size_t k = 0; k < nn; k++) mean += D[k];
    mean /= (double)nn;
    if (mean > 0)
        for (size_t k = 0; k < nn; k++) D[k] /= mean;
    for (int i = 0; i < n; i++) row_affinities(D + (size_t)i * n, n, i, perp, P + (size_t)i * n);
    for (int i = 0; i < n; i++) /* symmetrise: p_ij = (p_j|i + p_i|j) / 2n */
        for (int j = i + 1; j < n; j++) {
            double v = (P[(size_t)i * n + j] + P[(size_t)j * n + i]) / (2.0 * n);
            if (v < 1e-12) v = 1e-12;
            P[(size_t)i * n + j] = P[(size_t)j * n + i] = v;
        }
    for (int i = 0; i < n; i++) P[(size_t)i * n + i] = 0;

    mt_rng r;
    mt_rng_init(&r, o->seed, 0x75AE);
    for (int i = 0; i < 2 * n; i++) {
        Y[i] = 1e-2 * mt_rng_normal(&r);
        gain[i] = 1.0;
    }
    for (int it = 0; it < o->iters; it++) {
        double exag = it < 250 ? 12.0 : 1.0, mom = it < 250 ? 0.5 : 0.8, qsum = 0;
        for (int i = 0; i < n; i++) {
            num[(size_t)i * n + i] = 0;
            for (int j = i + 1; j < n; j++) {
                double dx = Y[2 * i] - Y[2 * j], dy = Y[2 * i + 1] - Y[2 * j + 1];
                double q = 1.0 / (1.0 + dx * dx + dy * dy);
                num[(size_t)i * n + j] = num[(size_t)j * n + i] = q;
                qsum += 2 * q;
            }
        }
        for (int i = 0; i < n; i++) {
            double gx = 0, gy = 0;
            for (int j = 0; j < n; j++) {
                double q = num[(size_t)i * n + j];
                double m = (exag * P[(size_t)i * n + j] - q / qsum) * q;
                gx += m * (Y[2 * i] - Y[2 * j]);
                gy += m * (Y[2 * i + 1] - Y[2 * j + 1]);
            }
            G[2 * i] = 4 * gx;
            G[2 * i + 1] = 4 * gy;
        }
        for (int k = 0; k < 2 * n; k++) {
            gain[k] = ((G[k] > 0) != (U[k] > 0)) ? gain[k] + 0.2 : fmax(gain[k] * 0.8, 0.01);
            U[k] = mom * U[k] - lr * gain[k] * G[k];
            Y[k] += U[k];
        }
        double mx = 0, my = 0;
        for (int i = 0; i < n; i++) {
            mx += Y[2 * i];
            my += Y[2 * i + 1];
        }
        for (int i = 0; i < n; i++) {
            Y[2 * i] -= mx / n;
            Y[2 * i + 1] -= my / n;
        }
    }
    for (int i = 0; i < 2 * n; i++) y[i] = (float)Y[i];
    free(xs); free(P); free(D); free(Y); free(G); free(U); free(gain); free(num);
    return MT_OK;
}

double mt_knn_accuracy(const float *y, int n, int dims, const int32_t *labels, int nclasses, int k)
{
    if (n < 2 || k < 1) return 0;
    if (k > n - 1) k = n - 1;
    int *best = malloc((size_t)k * sizeof *best);
    double *bd = malloc((size_t)k * sizeof *bd);
    int *votes = calloc((size_t)nclasses, sizeof *votes);
    int correct = 0;
    for (int i = 0; i < n; i++) {
        for (int m = 0; m < k; m++) {
            bd[m] = INFINITY;
            best[m] = -1;
        }
        for (int j = 0; j < n; j++) {
            if (j == i) continue;
            double s = 0;
            for (int c = 0; c < dims; c++) {
                double t = (double)y[(size_t)i * dims + c] - y[(size_t)j * dims + c];
                s += t * t;
            }
            if (s < bd[k - 1]) { /* insert */
                int m = k - 1;
                while (m > 0 && bd[m - 1] > s) {
                    bd[m] = bd[m - 1];
                    best[m] = best[m - 1];
                    m--;
                }
                bd[m] = s;
                best[m] = j;
            }
        }
        memset(votes, 0, (size_t)nclasses * sizeof *votes);
        for (int m = 0; m < k; m++)
            if (best[m] >= 0) votes[labels[best[m]]]++;
        int arg = 0;
        for (int c = 1; c < nclasses; c++)
            if (votes[c] > votes[arg]) arg = c;
        correct += arg == labels[i];
    }
    free(best);
    free(bd);
    free(votes);
    return (double)correct / n;
}
