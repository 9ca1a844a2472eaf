/* Benchmark of the PCM crossbar simulator on the hwa6 model's analog layers (paper-code.md
 * §3.3): programming + drift of all six matrices, and the MVMs of one utterance (conv0 alone is
 * 1977 MVMs of 512×64), optimised vs naive reference.  Prints ms per utterance; exits 1 when
 * the optimised path is not faster than the reference or one utterance takes over 1 s. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "materia/aimc.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(void)
{
    static const int64_t rows[6] = {512, 192, 768, 768, 256, 64};
    static const int64_t outs[6] = {64, 256, 256, 256, 64, 12};
    static const int64_t pos[6] = {1977, 492, 121, 28, 1, 1};
    mt_aimc_params p;
    mt_aimc_params_default(&p);
    mt_err e = {0};
    mt_aimc_matrix *m[6];
    float *x[6], *y[6];
    mt_rng r;
    mt_rng_init(&r, 1, 1);
    double t0 = now();
    for (int l = 0; l < 6; l++) {
        float *W = malloc(sizeof(float) * outs[l] * rows[l]);
        for (int64_t k = 0; k < outs[l] * rows[l]; k++) W[k] = (float)(0.1 * mt_rng_normal(&r));
        if (mt_aimc_matrix_program(&m[l], W, outs[l], rows[l], &p, 7 + l, &e)) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
        free(W);
        if (mt_aimc_matrix_set_time(m[l], 86400, 3, &e)) return 1;
        mt_aimc_matrix_set_input_range(m[l], 3.0f);
        x[l] = malloc(sizeof(float) * rows[l] * pos[l]);
        y[l] = malloc(sizeof(float) * outs[l] * pos[l]);
        for (int64_t k = 0; k < rows[l] * pos[l]; k++) x[l][k] = (float)mt_rng_normal(&r);
    }
    double t_prog = now() - t0;
    double best = 1e9, best_ref = 1e9, best_c0 = 1e9;
    for (int rep = 0; rep < 5; rep++) {
        t0 = now();
        for (int l = 0; l < 6; l++)
            if (mt_aimc_matrix_mvm(m[l], x[l], pos[l], y[l], &r, &e)) return 1;
        double t = now() - t0;
        if (t < best) best = t;
        t0 = now();
        if (mt_aimc_matrix_mvm(m[0], x[0], pos[0], y[0], &r, &e)) return 1;
        t = now() - t0;
        if (t < best_c0) best_c0 = t;
    }
    for (int rep = 0; rep < 2; rep++) {
        t0 = now();
        for (int l = 0; l < 6; l++)
            if (mt_aimc_matrix_mvm_ref(m[l], x[l], pos[l], y[l], &r, &e)) return 1;
        double t = now() - t0;
        if (t < best_ref) best_ref = t;
    }
    double macs = 0;
    for (int l = 0; l < 6; l++) macs += (double)rows[l] * outs[l] * pos[l];
    printf("aimc hwa6: program+drift of 6 layers %.1f ms\n", t_prog * 1e3);
    printf("aimc hwa6: one utterance (2,620 MVMs, %.1f M MAC, noisy, per-MVM read noise): "
           "%.2f ms optimised, %.2f ms reference (%.1fx); conv0 alone (1977 MVMs 512x64) %.2f ms\n",
           macs * 1e-6, best * 1e3, best_ref * 1e3, best_ref / best, best_c0 * 1e3);
    /* MVM fidelity of the conv0 shape (512×64, Gaussian weights, N(0,1) inputs, input range 3):
     * relative error ‖y − W·x‖/‖W·x‖ versus time, with and without global drift compensation. */
    {
        enum { R = 512, O = 64, C = 256 };
        float *W = malloc(sizeof(float) * O * R), *xx = malloc(sizeof(float) * R * C);
        float *yy = malloc(sizeof(float) * O * C);
        double *yi = malloc(sizeof(double) * O * C);
        for (int k = 0; k < O * R; k++) W[k] = (float)(0.1 * mt_rng_normal(&r));
        for (int k = 0; k < R * C; k++) xx[k] = (float)mt_rng_normal(&r);
        double ni = 0;
        for (int o = 0; o < O; o++)
            for (int c = 0; c < C; c++) {
                double a = 0;
                for (int i = 0; i < R; i++) a += (double)W[o * R + i] * xx[i * C + c];
                yi[o * C + c] = a;
                ni += a * a;
            }
        static const double ts[5] = {0, 3600, 86400, 30 * 86400.0, 365 * 86400.0};
        printf("aimc conv0-shaped MVM, relative error vs time (mean of 5 programmings):\n");
        printf("  %-10s %10s %10s %10s\n", "t", "no GDC", "GDC", "GDC, 1 dev");
        for (int ti = 0; ti < 5; ti++) {
            double err[3] = {0, 0, 0};
            for (int g = 0; g < 3; g++)
                for (int rep = 0; rep < 5; rep++) {
                    mt_aimc_params q;
                    mt_aimc_params_default(&q);
                    q.gdc = g == 0 ? MT_AIMC_GDC_NONE : MT_AIMC_GDC_GLOBAL;
                    if (g == 2) mt_pcm_params_default(&q.pcm, MT_PCM_PCMLIKE, 1);
                    mt_aimc_matrix *mm;
                    if (mt_aimc_matrix_program(&mm, W, O, R, &q, 100 + rep, &e)) return 1;
                    if (mt_aimc_matrix_set_time(mm, ts[ti], 200 + rep, &e)) return 1;
                    mt_aimc_matrix_set_input_range(mm, 3.0f);
                    if (mt_aimc_matrix_mvm(mm, xx, C, yy, &r, &e)) return 1;
                    double d = 0;
                    for (int k = 0; k < O * C; k++) d += (yy[k] - yi[k]) * (yy[k] - yi[k]);
                    err[g] += sqrt(d / ni) / 5;
                    mt_aimc_matrix_free(mm);
                }
            static const char *tn[5] = {"0 s", "1 hour", "1 day", "30 days", "1 year"};
            printf("  %-10s %10.4f %10.4f %10.4f\n", tn[ti], err[0], err[1], err[2]);
        }
        free(W), free(xx), free(yy), free(yi);
    }
    for (int l = 0; l < 6; l++) {
        mt_aimc_matrix_free(m[l]);
        free(x[l]);
        free(y[l]);
    }
    return (best < best_ref && best < 1.0) ? 0 : 1;
}
