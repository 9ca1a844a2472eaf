/* esn: a bank of echo-state reservoirs (paper Methods, "Reservoir computing": 64 ReservoirPy
 * reservoirs with random leak rate, spectral radius, recurrent connectivity and noise), each
 * giving one output channel.
 *
 * Reservoir j (N = `units` leaky-tanh units), stepped once per input sample u[i] (V):
 *   x[i+1] = (1 - lr_j)·x[i] + lr_j·tanh(W_j·x[i] + w_in,j·u[i] + b_j) + noise_j·ξ[i],  ξ unit-variance noise
 *   channel_j[i] = w_out,j · x[i+1]
 * then the mean of every `decim` samples (out [C, n / decim] at rate_hz / decim).  With
 * drive = "decimated" the reservoir is instead stepped once per output sample on the
 * decimated input (mean of `decim` samples), 10× cheaper.
 *
 * Drawn at create from mt_rng(seed, stream j), in this order: lr_j, sr_j, connectivity_j,
 * noise_j, input_scaling_j uniform in the option ranges; W_j: each entry non-zero with
 * probability connectivity_j, value N(0,1), then rescaled so that its spectral radius (largest
 * |eigenvalue|, LAPACK dgeev in double) is exactly sr_j (redrawn if it is nilpotent);
 * w_in,j: each unit connected with probability input_connectivity (at least one), ±1 ×
 * input_scaling_j; b_j: ±bias_scaling per unit; w_out,j: N(0,1) normalised to unit length.
 * The noise ξ (i.i.d. per unit and step, zero mean, unit variance: a centred Irwin-Hall sum of
 * four uniforms, not an exact Gaussian, for speed) of utterance `utt` comes from
 * mt_rng(seed, 2^63 | utt·2^16 | j): the same
 * utterance gives the same features on any thread count.
 *
 * The state is reset to zero at the start of every utterance.  carry_over = true reproduces
 * the public code's flaw instead (ReservoirPy's `run` is stateful, so each clip starts from
 * the state the previous clip left): the front-end then keeps a mutable state behind a mutex,
 * calls are serialised, and results depend on the processing order.
 *
 * Difference from the public code (TI46/ti_spoken_digits_reservoirpy.py): there `run` gets a
 * 1-D clip of 9710 samples, which ReservoirPy treats as ONE time step with 9710 input features;
 * each "channel" is then a single update of a 971-unit reservoir (unit index = output time),
 * with memory only across clips.  Here the reservoir is a genuine time-domain system.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsp.h"
#include "frontend_impl.h"
#include "materia/rng.h"

/* LAPACK (from OpenBLAS): eigenvalues of a general matrix; trailing hidden string lengths. */
void dgeev_(const char *jobvl, const char *jobvr, const int *n, double *a, const int *lda,
            double *wr, double *wi, double *vl, const int *ldvl, double *vr, const int *ldvr,
            double *work, const int *lwork, int *info, size_t ljobvl, size_t ljobvr);

typedef struct esn_carry {
    pthread_mutex_t lock;
    float *x; /* [C][N] state left by the last utterance */
} esn_carry;

typedef struct esn_state {
    double rate_hz;
    uint64_t seed;
    int decim, channels, units, drive, carry_over;
    double r_lr[2], r_sr[2], r_conn[2], r_noise[2], r_in[2]; /* option ranges */
    double in_conn, bias_scaling;
    /* per reservoir j: */
    double *lr, *sr, *conn, *noise, *in_scale; /* [C] drawn hyper-parameters */
    float *w;                                  /* [C][N][N] recurrent weights, row-major (dense:
                                                * at N = 32 a dense SIMD mat-vec beats CSR) */
    float *win, *bias, *wout;                  /* [C][N] */
    esn_carry *carry;                          /* NULL unless carry_over */
} esn_state;

static const char *const esn_keys[] = {"units", "lr", "sr", "connectivity", "noise",
                                       "input_scaling", "input_connectivity", "bias_scaling",
                                       "drive", "carry_over", NULL};
static const char *const esn_drives[] = {"input", "decimated", NULL};

static void esn_destroy(void *st)
{
    esn_state *s = st;
    if (!s) return;
    free(s->lr);
    free(s->sr);
    free(s->conn);
    free(s->noise);
    free(s->in_scale);
    free(s->w);
    free(s->win);
    free(s->bias);
    free(s->wout);
    if (s->carry) {
        pthread_mutex_destroy(&s->carry->lock);
        free(s->carry->x);
        free(s->carry);
    }
    free(s);
}

/* Largest |eigenvalue| of the dense row-major n×n matrix a (destroyed).  -1 on failure. */
static double spectral_radius(double *a, int n)
{
    double *wr = malloc(sizeof *wr * n), *wi = malloc(sizeof *wi * n);
    int lwork = -1, info = 0;
    double wq = 0, dummy = 0;
    double rho = -1;
    if (!wr || !wi) goto done;
    /* Eigenvalues of a^T (column-major view) equal those of a. */
    dgeev_("N", "N", &n, a, &n, wr, wi, &dummy, &n, &dummy, &n, &wq, &lwork, &info, 1, 1);
    if (info != 0) goto done;
    lwork = (int)wq;
    double *work = malloc(sizeof *work * (size_t)(lwork > 1 ? lwork : 1));
    if (!work) goto done;
    dgeev_("N", "N", &n, a, &n, wr, wi, &dummy, &n, &dummy, &n, work, &lwork, &info, 1, 1);
    free(work);
    if (info != 0) goto done;
    rho = 0;
    for (int i = 0; i < n; i++) rho = fmax(rho, hypot(wr[i], wi[i]));
done:
    free(wr);
    free(wi);
    return rho;
}

static mt_status esn_create(const mt_frontend_cfg *cfg, const cJSON *params, void **state, mt_err *err)
{
    mt_status r = mt_fe_check_keys(params, esn_keys, err);
    if (r) return r;
    esn_state *s = calloc(1, sizeof *s);
    if (!s) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    s->rate_hz = cfg->rate_hz;
    s->seed = cfg->seed;
    s->decim = cfg->decim > 0 ? cfg->decim : 10;
    s->channels = cfg->channels > 0 ? cfg->channels : 64;
    if ((r = mt_fe_opt_int(params, "units", 32, 1, 512, &s->units, err)) ||
        (r = mt_fe_opt_range(params, "lr", 0.0, 1.0, 0, 1, s->r_lr, err)) ||
        (r = mt_fe_opt_range(params, "sr", 0.0, 1.0, 0, 100, s->r_sr, err)) ||
        (r = mt_fe_opt_range(params, "connectivity", 0.05, 1.0, 1e-6, 1, s->r_conn, err)) ||
        (r = mt_fe_opt_range(params, "noise", 0.01, 0.01, 0, 100, s->r_noise, err)) ||
        (r = mt_fe_opt_range(params, "input_scaling", 1.0, 1.0, 0, 1e6, s->r_in, err)) ||
        (r = mt_fe_opt_num(params, "input_connectivity", 0.5, 1e-6, 1, &s->in_conn, err)) ||
        (r = mt_fe_opt_num(params, "bias_scaling", 0.0, 0, 1e6, &s->bias_scaling, err)) ||
        (r = mt_fe_opt_choice(params, "drive", 0, esn_drives, &s->drive, err)) ||
        (r = mt_fe_opt_bool(params, "carry_over", 0, &s->carry_over, err))) {
        esn_destroy(s);
        return r;
    }
    if (s->channels > 65536) { /* the noise stream packs j into 16 bits */
        esn_destroy(s);
        return mt_err_set(err, MT_ERR_ARG, "at most 65536 reservoirs (asked for %d)", s->channels);
    }
    const int c_n = s->channels, n = s->units;
    s->lr = malloc(sizeof(double) * c_n);
    s->sr = malloc(sizeof(double) * c_n);
    s->conn = malloc(sizeof(double) * c_n);
    s->noise = malloc(sizeof(double) * c_n);
    s->in_scale = malloc(sizeof(double) * c_n);
    s->w = malloc(sizeof(float) * (size_t)c_n * n * n);
    s->win = malloc(sizeof(float) * (size_t)c_n * n);
    s->bias = malloc(sizeof(float) * (size_t)c_n * n);
    s->wout = malloc(sizeof(float) * (size_t)c_n * n);
    double *dense = malloc(sizeof(double) * (size_t)n * n);
    double *work = malloc(sizeof(double) * (size_t)n * n);
    if (!s->lr || !s->sr || !s->conn || !s->noise || !s->in_scale || !s->w || !s->win ||
        !s->bias || !s->wout || !dense || !work) {
        r = mt_err_set(err, MT_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (int j = 0; j < c_n; j++) {
        mt_rng g;
        mt_rng_init(&g, s->seed, (uint64_t)j);
        s->lr[j] = mt_rng_range(&g, s->r_lr[0], s->r_lr[1]);
        s->sr[j] = mt_rng_range(&g, s->r_sr[0], s->r_sr[1]);
        s->conn[j] = mt_rng_range(&g, s->r_conn[0], s->r_conn[1]);
        s->noise[j] = mt_rng_range(&g, s->r_noise[0], s->r_noise[1]);
        s->in_scale[j] = mt_rng_range(&g, s->r_in[0], s->r_in[1]);
        double rho = 0;
        for (int tries = 0; tries < 1000 && !(rho > 1e-9); tries++) {
            for (size_t k = 0; k < (size_t)n * n; k++)
                dense[k] = mt_rng_uniform(&g) < s->conn[j] ? mt_rng_normal(&g) : 0.0;
            memcpy(work, dense, sizeof(double) * (size_t)n * n);
            rho = spectral_radius(work, n);
            if (rho < 0) {
                r = mt_err_set(err, MT_ERR_INTERNAL, "reservoir %d: LAPACK dgeev failed", j);
                goto fail;
            }
        }
        if (!(rho > 1e-9)) {
            r = mt_err_set(err, MT_ERR_ARG, "reservoir %d: connectivity %g with %d units keeps "
                           "giving a nilpotent matrix; raise 'connectivity' or 'units'", j,
                           s->conn[j], n);
            goto fail;
        }
        const double scale = s->sr[j] / rho;
        float *wj = s->w + (size_t)j * n * n; /* stored transposed (column-major) */
        for (int i = 0; i < n; i++)
            for (int k = 0; k < n; k++) wj[(size_t)k * n + i] = (float)(dense[(size_t)i * n + k] * scale);
        float *win = s->win + (size_t)j * n, *bias = s->bias + (size_t)j * n,
              *wout = s->wout + (size_t)j * n;
        int connected = 0;
        for (int i = 0; i < n; i++) {
            const int on = mt_rng_uniform(&g) < s->in_conn;
            const double sign = mt_rng_uniform(&g) < 0.5 ? -1.0 : 1.0;
            win[i] = on ? (float)(sign * s->in_scale[j]) : 0.0f;
            connected += on;
        }
        if (!connected) {
            const int i = (int)mt_rng_below(&g, (uint64_t)n);
            win[i] = (float)((mt_rng_uniform(&g) < 0.5 ? -1.0 : 1.0) * s->in_scale[j]);
        }
        for (int i = 0; i < n; i++)
            bias[i] = (float)((mt_rng_uniform(&g) < 0.5 ? -1.0 : 1.0) * s->bias_scaling);
        double norm = 0;
        for (int i = 0; i < n; i++) {
            const double v = mt_rng_normal(&g);
            wout[i] = (float)v;
            norm += v * v;
        }
        norm = sqrt(norm);
        for (int i = 0; i < n; i++) wout[i] = (float)(wout[i] / norm);
    }
    if (s->carry_over) {
        s->carry = calloc(1, sizeof *s->carry);
        if (!s->carry || !(s->carry->x = calloc((size_t)c_n * n, sizeof(float)))) {
            free(s->carry);
            s->carry = NULL;
            r = mt_err_set(err, MT_ERR_NOMEM, "out of memory");
            goto fail;
        }
        pthread_mutex_init(&s->carry->lock, NULL);
    }
    free(dense);
    free(work);
    *state = s;
    return MT_OK;
fail:
    free(dense);
    free(work);
    esn_destroy(s);
    return r;
}

static int esn_channels(const void *st) { return ((const esn_state *)st)->channels; }
static int64_t esn_out_len(const void *st, int64_t n) { return n / ((const esn_state *)st)->decim; }
static double esn_out_rate(const void *st)
{
    const esn_state *s = st;
    return s->rate_hz / s->decim;
}

/* Unit-variance noise from one 64-bit draw: the centred sum of four 16-bit uniforms
 * (Irwin-Hall, |ξ| <= 2·sqrt(3), excess kurtosis -0.3).  An exact Gaussian (polar method) costs
 * more than the whole reservoir update at 12.5 kS/s. */
static inline float esn_noise(mt_rng *g)
{
    const uint64_t v = mt_rng_u64(g);
    const uint32_t sum = (uint32_t)(v & 0xffff) + (uint32_t)((v >> 16) & 0xffff) +
                         (uint32_t)((v >> 32) & 0xffff) + (uint32_t)(v >> 48);
    /* each term (u + 0.5)/65536 is uniform on (0, 1) with mean 1/2, variance ~1/12 */
    return (((float)sum + 2.0f) * (1.0f / 65536.0f) - 2.0f) * 1.7320508f;
}

/* Run reservoir j over u [m] from state x [N] (updated in place); readout into y [m].
 * scratch: [2N].  The recurrent product is accumulated column by column (axpy form) so it
 * vectorises without reassociating any sum: the result is the same on every build. */
static void esn_run(const esn_state *s, int j, const float *u, int64_t m, float *x,
                    float *scratch, mt_rng *g, float *y)
{
    const int n = s->units;
    const float *wt = s->w + (size_t)j * n * n; /* column-major: wt[k·N + i] = W[i][k] */
    const float *win = s->win + (size_t)j * n, *bias = s->bias + (size_t)j * n,
                *wout = s->wout + (size_t)j * n;
    const float lr = (float)s->lr[j], keep = (float)(1 - s->lr[j]), noise = (float)s->noise[j];
    float *restrict pre = scratch, *restrict xn = scratch + n;
    for (int64_t t = 0; t < m; t++) {
        const float ut = u[t];
        for (int i = 0; i < n; i++) pre[i] = win[i] * ut + bias[i];
        for (int k = 0; k < n; k++) {
            const float xk = x[k];
            const float *restrict col = wt + (size_t)k * n;
#pragma omp simd
            for (int i = 0; i < n; i++) pre[i] += col[i] * xk; /* element-wise: no reassociation */
        }
        float acc_out = 0;
        for (int i = 0; i < n; i++) {
            float v = keep * x[i] + lr * tanhf(pre[i]);
            if (noise != 0) v += noise * esn_noise(g);
            xn[i] = v;
            acc_out += wout[i] * v;
        }
        memcpy(x, xn, sizeof(float) * n);
        y[t] = acc_out;
    }
}

static mt_status esn_process(const void *st, const float *x, int64_t n, uint64_t utt, float *out,
                             mt_err *err)
{
    const esn_state *s = st;
    const int64_t t_out = n / s->decim;
    const int nu = s->units;
    const int64_t m = s->drive == 0 ? n : t_out; /* reservoir steps */
    float *u = s->drive == 0 ? NULL : malloc(sizeof(float) * (size_t)(t_out > 0 ? t_out : 1));
    float *y = malloc(sizeof(float) * (size_t)(m > 0 ? m : 1));
    float *xs = malloc(sizeof(float) * nu * 3); /* state [N] + scratch [2N] */
    if (!y || !xs || (s->drive != 0 && !u)) {
        free(u);
        free(y);
        free(xs);
        return mt_err_set(err, MT_ERR_NOMEM, "out of memory (%lld samples)", (long long)n);
    }
    const float *drive = x;
    if (s->drive != 0) {
        mt_fe_decimate_mean(x, n, s->decim, u);
        drive = u;
    }
    if (s->carry) pthread_mutex_lock(&s->carry->lock);
    for (int j = 0; j < s->channels; j++) {
        mt_rng g;
        mt_rng_init(&g, s->seed, (1ULL << 63) | (utt << 16) | (uint64_t)j);
        if (s->carry) memcpy(xs, s->carry->x + (size_t)j * nu, sizeof(float) * nu);
        else memset(xs, 0, sizeof(float) * nu);
        esn_run(s, j, drive, m, xs, xs + nu, &g, y);
        if (s->carry) memcpy(s->carry->x + (size_t)j * nu, xs, sizeof(float) * nu);
        if (s->drive == 0) mt_fe_decimate_mean(y, n, s->decim, out + (int64_t)j * t_out);
        else memcpy(out + (int64_t)j * t_out, y, sizeof(float) * (size_t)t_out);
    }
    if (s->carry) pthread_mutex_unlock(&s->carry->lock);
    free(u);
    free(y);
    free(xs);
    return MT_OK;
}

static cJSON *esn_config(const void *st)
{
    const esn_state *s = st;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "frontend", "esn");
    cJSON_AddNumberToObject(j, "channels", s->channels);
    cJSON_AddNumberToObject(j, "rate_hz", s->rate_hz);
    cJSON_AddNumberToObject(j, "decim", s->decim);
    cJSON_AddNumberToObject(j, "out_rate_hz", s->rate_hz / s->decim);
    if (s->seed < (1ULL << 53)) {
        cJSON_AddNumberToObject(j, "seed", (double)s->seed);
    } else {
        char b[32];
        snprintf(b, sizeof b, "%llu", (unsigned long long)s->seed);
        cJSON_AddStringToObject(j, "seed", b);
    }
    cJSON_AddNumberToObject(j, "units", s->units);
    cJSON_AddItemToObject(j, "lr", mt_fe_json_array(s->r_lr, 2));
    cJSON_AddItemToObject(j, "sr", mt_fe_json_array(s->r_sr, 2));
    cJSON_AddItemToObject(j, "connectivity", mt_fe_json_array(s->r_conn, 2));
    cJSON_AddItemToObject(j, "noise", mt_fe_json_array(s->r_noise, 2));
    cJSON_AddItemToObject(j, "input_scaling", mt_fe_json_array(s->r_in, 2));
    cJSON_AddNumberToObject(j, "input_connectivity", s->in_conn);
    cJSON_AddNumberToObject(j, "bias_scaling", s->bias_scaling);
    cJSON_AddStringToObject(j, "drive", esn_drives[s->drive]);
    cJSON_AddBoolToObject(j, "carry_over", s->carry_over);
    cJSON *d = cJSON_AddObjectToObject(j, "drawn");
    cJSON_AddItemToObject(d, "lr", mt_fe_json_array(s->lr, s->channels));
    cJSON_AddItemToObject(d, "sr", mt_fe_json_array(s->sr, s->channels));
    cJSON_AddItemToObject(d, "connectivity", mt_fe_json_array(s->conn, s->channels));
    cJSON_AddItemToObject(d, "noise", mt_fe_json_array(s->noise, s->channels));
    cJSON_AddItemToObject(d, "input_scaling", mt_fe_json_array(s->in_scale, s->channels));
    return j;
}

int mt_fe_esn_debug_matrix(const void *state, int j, double *w, double *sr_requested)
{
    const esn_state *s = state;
    if (j < 0 || j >= s->channels) return -1;
    const int n = s->units;
    const float *wt = s->w + (size_t)j * n * n;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < n; k++) w[(size_t)i * n + k] = wt[(size_t)k * n + i];
    if (sr_requested) *sr_requested = s->sr[j];
    return n;
}

int mt_fe_esn_debug_vectors(const void *state, int j, double *win, double *bias, double *wout,
                            double *lr, double *noise)
{
    const esn_state *s = state;
    if (j < 0 || j >= s->channels) return -1;
    const int n = s->units;
    for (int i = 0; i < n; i++) {
        win[i] = s->win[(size_t)j * n + i];
        bias[i] = s->bias[(size_t)j * n + i];
        wout[i] = s->wout[(size_t)j * n + i];
    }
    *lr = s->lr[j];
    *noise = s->noise[j];
    return n;
}

const mt_frontend_ops mt_fe_esn = {
    .name = "esn",
    .create = esn_create,
    .channels = esn_channels,
    .out_len = esn_out_len,
    .out_rate = esn_out_rate,
    .process = esn_process,
    .config = esn_config,
    .destroy = esn_destroy,
};
