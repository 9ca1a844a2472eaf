/* Benchmark: training steps and single-utterance inference of one model in materia.
 *
 *   build/bench/train_step [--model cnn3] [--input 64x1250] [--batch 32] [--steps 20]
 *                          [--warmup 3] [--latency-reps 50] [--classes 10] [--json]
 *
 * Random N(0,1) inputs and labels; a step is forward + NLL + backward + AdamW (the same work as
 * one batch of `materia train`).  Prints training samples/s, single-utterance eval-mode
 * latency (median of reps) and peak RSS.  bench/train_vs_torch.sh runs the same in PyTorch.
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "materia/nn.h"
#include "materia/rng.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
           1e-6 * (double)ru.ru_stime.tv_usec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    const char *model = "cnn3";
    long C = 64, T = 1250, B = 32, steps = 20, warm = 3, reps = 50, classes = 10;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json")) json = 1;
        else if (!v) {
            fprintf(stderr, "train_step: option %s needs a value\n", a);
            return 2;
        } else if (!strcmp(a, "--model")) model = v, i++;
        else if (!strcmp(a, "--input")) {
            if (sscanf(v, "%ldx%ld", &C, &T) != 2 || C < 1 || T < 1) {
                fprintf(stderr, "train_step: --input must look like 64x1250\n");
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--batch")) B = atol(v), i++;
        else if (!strcmp(a, "--steps")) steps = atol(v), i++;
        else if (!strcmp(a, "--warmup")) warm = atol(v), i++;
        else if (!strcmp(a, "--latency-reps")) reps = atol(v), i++;
        else if (!strcmp(a, "--classes")) classes = atol(v), i++;
        else {
            fprintf(stderr, "train_step: unknown option %s\n", a);
            return 2;
        }
    }
    if (B < 2 || steps < 1 || warm < 0 || reps < 1 || classes < 2) {
        fprintf(stderr, "train_step: bad numeric option\n");
        return 2;
    }
    mt_err e = {0};
    char *arch;
    int zc;
    if (mt_arch_resolve(model, &arch, &zc, NULL, &e)) {
        fprintf(stderr, "train_step: %s\n", e.msg);
        return 1;
    }
    mt_model m;
    if (mt_model_build(&m, arch, C, T, (int)classes, 0, &e)) {
        fprintf(stderr, "train_step: %s\n", e.msg);
        free(arch);
        return 1;
    }
    free(arch);
    mt_optim opt;
    if (mt_optim_init(&opt, MT_OPT_ADAMW, m.nparams, &e)) {
        fprintf(stderr, "train_step: %s\n", e.msg);
        return 1;
    }
    opt.lr = 1e-3;
    const int64_t per = C * T, nc = m.nclasses;
    float *x = malloc((size_t)(B * per) * sizeof(float));
    int32_t *y = malloc((size_t)B * sizeof(int32_t));
    float *dl = malloc((size_t)(B * nc) * sizeof(float));
    mt_rng r;
    mt_rng_init(&r, 1, 0);
    for (int64_t i = 0; i < B * per; i++) x[i] = (float)mt_rng_normal(&r);
    for (int64_t b = 0; b < B; b++) y[b] = (int32_t)mt_rng_below(&r, (uint64_t)nc);

    double t0 = 0, c0 = 0;
    for (long s = 0; s < warm + steps; s++) {
        if (s == warm) {
            t0 = now_s();
            c0 = cpu_s();
        }
        if (mt_model_forward(&m, x, B, 1, &e)) {
            fprintf(stderr, "train_step: %s\n", e.msg);
            return 1;
        }
        mt_nll_loss(mt_model_output(&m), y, B, nc, NULL, dl);
        mt_model_zero_grad(&m);
        mt_model_backward(&m, dl, &e);
        mt_optim_step(&opt, m.params, m.grads);
    }
    double train_s = now_s() - t0, cpu_ms = 1e3 * (cpu_s() - c0) / (double)steps;
    double sps = (double)(steps * B) / train_s;

    /* single-utterance inference (eval mode), median over reps */
    double *lat = malloc((size_t)reps * sizeof(double));
    for (long k = 0; k < reps + 3; k++) {
        double a = now_s();
        mt_model_forward(&m, x, 1, 0, &e);
        if (k >= 3) lat[k - 3] = now_s() - a;
    }
    qsort(lat, (size_t)reps, sizeof(double), cmp_d);
    double lat_ms = 1e3 * lat[reps / 2];
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss_mb = (double)ru.ru_maxrss / 1024.0;
    if (json)
        printf("{\"impl\": \"materia\", \"model\": \"%s\", \"input\": [%ld, %ld], \"batch\": %ld, "
               "\"steps\": %ld, \"threads\": %d, \"params\": %lld, \"samples_per_s\": %.2f, "
               "\"step_ms\": %.3f, \"cpu_ms_per_step\": %.3f, \"latency_ms\": %.3f, \"peak_rss_mb\": %.1f}\n",
               model, C, T, B, steps, omp_get_max_threads(), (long long)m.nparams, sps,
               1e3 * train_s / (double)steps, cpu_ms, lat_ms, rss_mb);
    else
        printf("materia %s %ldx%ld batch %ld, %d threads: %.1f samples/s (%.2f ms/step, CPU %.1f ms/step), "
               "latency %.3f ms, peak RSS %.1f MB\n",
               model, C, T, B, omp_get_max_threads(), sps, 1e3 * train_s / (double)steps, cpu_ms, lat_ms,
               rss_mb);
    free(lat);
    free(x);
    free(y);
    free(dl);
    mt_optim_free(&opt);
    mt_model_free(&m);
    return 0;
}
