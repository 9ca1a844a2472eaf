/* RNPU characterisation lab: the measurements of Fig. 2, ED Figs. 1–3 and 7 on a simulated
 * device (protocols: shared/spec/rnpu.md §b.2 / §e; all at 25 kS/s unless stated). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rnpu_impl.h"

#define FS_LAB 25000.0

enum { STREAM_LAB_STEP = 101, STREAM_LAB_POWER = 102, STREAM_LAB_IV = 103, STREAM_LAB_RANGE = 110 };

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct_sorted(const double *s, int n, double p)
{
    if (n <= 0) return NAN;
    double r = p * (n - 1);
    int i = (int)floor(r);
    if (i >= n - 1) return s[n - 1];
    return s[i] + (r - i) * (s[i + 1] - s[i]);
}

void mt_rnpu_stats_of(const double *v, int n, mt_rnpu_stats *s)
{
    double *t = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    int m = 0;
    double sum = 0, sq = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) {
            t[m++] = v[i];
            sum += v[i];
        }
    qsort(t, (size_t)m, sizeof(double), cmp_d);
    s->mean = m ? sum / m : NAN;
    for (int i = 0; i < m; i++) sq += (t[i] - s->mean) * (t[i] - s->mean);
    s->std = m > 1 ? sqrt(sq / (m - 1)) : 0.0;
    s->p5 = pct_sorted(t, m, 0.05);
    s->median = pct_sorted(t, m, 0.5);
    s->p95 = pct_sorted(t, m, 0.95);
    s->min = m ? t[0] : NAN;
    s->max = m ? t[m - 1] : NAN;
    free(t);
}

double mt_rnpu_tau_crossing(const double *y, int64_t n, int64_t i0, double rate_hz)
{
    if (i0 < 1 || i0 >= n - 1) return -1;
    double v0 = y[i0 - 1], ve = y[n - 1], dv = ve - v0;
    if (fabs(dv) < 1e-6) return -1; /* flat */
    double lvl = v0 + 0.632 * dv;
    for (int64_t i = i0; i < n; i++)
        if ((dv > 0 && y[i] >= lvl) || (dv < 0 && y[i] <= lvl)) {
            /* linear interpolation between samples */
            double a = y[i - 1], b = y[i], f = (b != a) ? (lvl - a) / (b - a) : 0.0;
            if (i == i0) f = 1.0;
            return ((double)(i - i0) + f) / rate_hz;
        }
    return -1;
}

/* SSE of the best a + b·exp(−t/τ) for fixed τ (linear least squares). */
static double fit_sse(const double *y, int64_t n, double rate, double tau, double *a, double *b)
{
    double s1 = 0, se = 0, see = 0, sy = 0, sey = 0, syy = 0;
    double q = exp(-1.0 / (rate * tau)), e = 1.0;
    for (int64_t i = 0; i < n; i++) {
        s1 += 1;
        se += e;
        see += e * e;
        sy += y[i];
        sey += e * y[i];
        syy += y[i] * y[i];
        e *= q;
    }
    double det = s1 * see - se * se;
    if (fabs(det) < 1e-300) {
        *a = sy / s1;
        *b = 0;
        return syy - sy * sy / s1;
    }
    *a = (see * sy - se * sey) / det;
    *b = (s1 * sey - se * sy) / det;
    /* SSE = Σ(y − a − b e)² expanded */
    double sse = syy - 2 * (*a) * sy - 2 * (*b) * sey + (*a) * (*a) * s1 + 2 * (*a) * (*b) * se +
                 (*b) * (*b) * see;
    return sse < 0 ? 0 : sse;
}

double mt_rnpu_fit_exp(const double *y, int64_t n, double rate_hz, double *a, double *b)
{
    double lo = log(1e-4), hi = log(2.0), best = lo, bs = INFINITY, ta, tb;
    for (int g = 0; g <= 60; g++) {
        double lt = lo + (hi - lo) * g / 60.0;
        double s = fit_sse(y, n, rate_hz, exp(lt), &ta, &tb);
        if (s < bs) bs = s, best = lt;
    }
    double step = (hi - lo) / 60.0, x0 = best - step, x1 = best + step;
    const double gr = 0.6180339887498949;
    double c = x1 - gr * (x1 - x0), dd = x0 + gr * (x1 - x0);
    double fc = fit_sse(y, n, rate_hz, exp(c), &ta, &tb), fd = fit_sse(y, n, rate_hz, exp(dd), &ta, &tb);
    for (int it = 0; it < 60; it++) {
        if (fc < fd) {
            x1 = dd, dd = c, fd = fc;
            c = x1 - gr * (x1 - x0);
            fc = fit_sse(y, n, rate_hz, exp(c), &ta, &tb);
        } else {
            x0 = c, c = dd, fc = fd;
            dd = x0 + gr * (x1 - x0);
            fd = fit_sse(y, n, rate_hz, exp(dd), &ta, &tb);
        }
    }
    double tau = exp(0.5 * (x0 + x1));
    double aa, bb;
    fit_sse(y, n, rate_hz, tau, &aa, &bb);
    if (a) *a = aa;
    if (b) *b = bb;
    return tau;
}

/* Settled state at Vin = 0 with controls vc: run 0.5 s from Vo = 0. */
static void settle(const mt_rnpu *d, const double *vc, mt_rnpu_state *st)
{
    memset(st, 0, sizeof *st);
    double *z = calloc(12500, sizeof(double));
    if (!z) return;
    mt_rnpu_run(d, vc, z, 12500, FS_LAB, st, NULL);
    free(z);
}

/* ------------------------------------------------------------------------------ step ----- */

mt_status mt_rnpu_lab_step(const mt_rnpu *d, int n, uint64_t seed, double range, double ndiv,
                           mt_rnpu_step_res *r, mt_err *err)
{
    memset(r, 0, sizeof *r);
    if (n < 1 || n > 100000) return mt_err_set(err, MT_ERR_ARG, "configs must be in [1, 100000]");
    const int64_t ns = 12500, nr = 25000, N = ns + nr;
    double *vc = malloc(sizeof(double) * (size_t)n * MT_RNPU_NC);
    float *x = malloc(sizeof(float) * (size_t)N);
    r->tau_ms = malloc(sizeof(double) * (size_t)n);
    int ntr = n < 8 ? n : 8;
    r->trace_len = (int)nr;
    r->trace = malloc(sizeof(double) * (size_t)ntr * (size_t)nr);
    const int B = 64;
    double *y = malloc(sizeof(double) * (size_t)B * (size_t)N);
    mt_rnpu_state *st = calloc(B, sizeof *st);
    if (!vc || !x || !r->tau_ms || !r->trace || !y || !st) {
        free(vc), free(x), free(y), free(st);
        mt_rnpu_step_res_free(r);
        return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    }
    r->n = n;
    mt_rnpu_random_controls(seed, STREAM_LAB_STEP, n, range, ndiv, vc);
    for (int64_t i = 0; i < N; i++) x[i] = i < ns ? 0.0f : 1.0f;
    for (int c0 = 0; c0 < n; c0 += B) {
        int m = n - c0 < B ? n - c0 : B;
        memset(st, 0, sizeof(*st) * B);
        mt_rnpu_run_multi(d, NULL, m, vc + (size_t)c0 * MT_RNPU_NC, x, N, FS_LAB, st, y);
        for (int c = 0; c < m; c++) {
            const double *yc = y + (size_t)c * (size_t)N;
            double t = mt_rnpu_tau_crossing(yc, N, ns, FS_LAB);
            r->tau_ms[c0 + c] = t > 0 ? t * 1e3 : NAN;
            if (!(t > 0)) r->n_degenerate++;
            if (c0 + c < ntr) memcpy(r->trace + (size_t)(c0 + c) * (size_t)nr, yc + ns, sizeof(double) * (size_t)nr);
        }
    }
    free(vc), free(x), free(y), free(st);
    return MT_OK;
}

void mt_rnpu_step_res_free(mt_rnpu_step_res *r)
{
    free(r->tau_ms);
    free(r->trace);
    memset(r, 0, sizeof *r);
}

/* ---------------------------------------------------------------------------- pulses ----- */

mt_status mt_rnpu_lab_pulses(const mt_rnpu *d, const double vc[MT_RNPU_NC], mt_rnpu_pulses_res *r,
                             mt_err *err)
{
    memset(r, 0, sizeof *r);
    const int pre = 1250, on = 3750, off = 750, post = 2500; /* 50, 150, 30, 150, 100 ms */
    int n = pre + on + off + on + post;
    r->n = n;
    r->t_s = malloc(sizeof(double) * (size_t)n);
    r->vin = malloc(sizeof(double) * (size_t)n);
    r->vo = malloc(sizeof(double) * (size_t)n);
    if (!r->t_s || !r->vin || !r->vo) {
        mt_rnpu_pulses_res_free(r);
        return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        r->t_s[i] = i / FS_LAB;
        int on1 = i >= pre && i < pre + on, on2 = i >= pre + on + off && i < pre + 2 * on + off;
        r->vin[i] = (on1 || on2) ? 1.0 : 0.0;
    }
    mt_rnpu_state st;
    settle(d, vc, &st);
    mt_rnpu_run(d, vc, r->vin, n, FS_LAB, &st, r->vo);
    double a, b;
    r->tau1_ms = 1e3 * mt_rnpu_fit_exp(r->vo + pre, on, FS_LAB, &a, &b);
    r->tau2_ms = 1e3 * mt_rnpu_fit_exp(r->vo + pre + on + off, on, FS_LAB, &a, &b);
    double t1 = mt_rnpu_tau_crossing(r->vo + pre - 1, on + 1, 1, FS_LAB);
    double t2 = mt_rnpu_tau_crossing(r->vo + pre + on + off - 1, on + 1, 1, FS_LAB);
    r->tau1_x_ms = t1 > 0 ? t1 * 1e3 : NAN;
    r->tau2_x_ms = t2 > 0 ? t2 * 1e3 : NAN;
    return MT_OK;
}

void mt_rnpu_pulses_res_free(mt_rnpu_pulses_res *r)
{
    free(r->t_s), free(r->vin), free(r->vo);
    memset(r, 0, sizeof *r);
}

/* ------------------------------------------------------------------------- staircase ----- */

mt_status mt_rnpu_lab_staircase(const mt_rnpu *d, const double vc[MT_RNPU_NC],
                                mt_rnpu_stair_res *r, mt_err *err)
{
    memset(r, 0, sizeof *r);
    const int pre = 1250, lev = 5000; /* 50 ms, then 5 levels of 200 ms */
    int n = pre + 5 * lev;
    r->steps = 5;
    r->n = n;
    r->t_s = malloc(sizeof(double) * (size_t)n);
    r->vin = malloc(sizeof(double) * (size_t)n);
    r->vo = malloc(sizeof(double) * (size_t)n);
    if (!r->t_s || !r->vin || !r->vo) {
        mt_rnpu_stair_res_free(r);
        return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        r->t_s[i] = i / FS_LAB;
        r->vin[i] = i < pre ? 0.0 : 0.2 * (1 + (i - pre) / lev);
    }
    mt_rnpu_state st;
    settle(d, vc, &st);
    mt_rnpu_run(d, vc, r->vin, n, FS_LAB, &st, r->vo);
    for (int s = 0; s < 5; s++) {
        double a, b;
        const double *seg = r->vo + pre + s * lev;
        r->tau_ms[s] = 1e3 * mt_rnpu_fit_exp(seg, lev, FS_LAB, &a, &b);
        r->vss_v[s] = seg[lev - 1];
        r->vin_v[s] = 0.2 * (s + 1);
    }
    return MT_OK;
}

void mt_rnpu_stair_res_free(mt_rnpu_stair_res *r)
{
    free(r->t_s), free(r->vin), free(r->vo);
    memset(r, 0, sizeof *r);
}

/* ----------------------------------------------------------------------------- chirp ----- */

/* Fig. 2c(i): Vin = A sin[2π f0 (k^t − 1)/ln k + φ0], k = (f1/f0)^(1/T). */
static double chirp_phase(double t) { return 2 * M_PI * 100.0 * (pow(20.0, t) - 1.0) / log(20.0) - M_PI / 2; }
static double chirp_freq(double t) { return 100.0 * pow(20.0, t); }

/* |Σ w(t)·(y − ȳ)·e^{−j m φ(t)}| over one window. */
static double demod(const double *y, const double *ph, int n, double m)
{
    double mean = 0;
    for (int i = 0; i < n; i++) mean += y[i];
    mean /= n;
    double re = 0, im = 0;
    for (int i = 0; i < n; i++) {
        double w = 0.5 - 0.5 * cos(2 * M_PI * (i + 0.5) / n);
        re += w * (y[i] - mean) * cos(m * ph[i]);
        im -= w * (y[i] - mean) * sin(m * ph[i]);
    }
    return sqrt(re * re + im * im) / n;
}

mt_status mt_rnpu_lab_chirp(const mt_rnpu *d, const double vc[MT_RNPU_NC], mt_rnpu_chirp_res *r,
                            mt_err *err)
{
    memset(r, 0, sizeof *r);
    const int n = 25000;
    double *vin = malloc(sizeof(double) * n), *ph = malloc(sizeof(double) * n);
    r->vo = malloc(sizeof(double) * n);
    r->n = n;
    if (!vin || !ph || !r->vo) {
        free(vin), free(ph);
        mt_rnpu_chirp_res_free(r);
        return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        ph[i] = chirp_phase(i / FS_LAB);
        vin[i] = 0.75 * sin(ph[i]);
    }
    mt_rnpu_state st;
    settle(d, vc, &st);
    double v0 = st.vo;
    mt_rnpu_run(d, vc, vin, n, FS_LAB, &st, r->vo);
    double mean = 0;
    for (int i = 0; i < n; i++) mean += r->vo[i];
    r->dc_shift_v = mean / n - v0;
    const int W = 500; /* 20-ms windows */
    int nw = n / W;
    for (int h = 1; h <= MT_RNPU_MAXH; h++) {
        int valid = 0, vis = 0;
        double *db = malloc(sizeof(double) * (size_t)nw);
        int ndb = 0;
        for (int w = 0; w < nw; w++) {
            double fmax = chirp_freq((w + 1) * W / FS_LAB);
            if ((h + 0.5) * fmax >= FS_LAB / 2) continue;
            valid++;
            double s = demod(r->vo + w * W, ph + w * W, W, h);
            double b1 = demod(r->vo + w * W, ph + w * W, W, h + 0.5);
            double b0 = demod(r->vo + w * W, ph + w * W, W, h - 0.5);
            double bg = sqrt(0.5 * (b0 * b0 + b1 * b1)) + 1e-30;
            double ratio = 20 * log10((s + 1e-30) / bg);
            if (db) db[ndb++] = ratio;
            if (ratio >= 10.0) vis++;
        }
        r->visible_frac[h] = valid ? (double)vis / valid : 0.0;
        if (db && ndb) {
            qsort(db, (size_t)ndb, sizeof(double), cmp_d);
            r->ridge_db[h] = pct_sorted(db, ndb, 0.5);
        }
        free(db);
    }
    r->harmonics_visible = 0;
    for (int h = 1; h <= MT_RNPU_MAXH; h++) {
        if (r->visible_frac[h] >= 0.5) r->harmonics_visible = h;
        else break;
    }
    free(vin), free(ph);
    return MT_OK;
}

void mt_rnpu_chirp_res_free(mt_rnpu_chirp_res *r)
{
    free(r->vo);
    memset(r, 0, sizeof *r);
}

/* ------------------------------------------------------------------------- tone / DFT ----- */

/* Amplitude (V) of the f-Hz component of y[N] (N samples = 1 s at 25 kS/s, f integer). */
static double dft_amp(const double *y, int N, double f)
{
    double re = 0, im = 0;
    for (int i = 0; i < N; i++) {
        double a = 2 * M_PI * f * i / FS_LAB;
        re += y[i] * cos(a);
        im -= y[i] * sin(a);
    }
    return 2.0 * sqrt(re * re + im * im) / N;
}

mt_status mt_rnpu_lab_tone(const mt_rnpu *d, const double vc[MT_RNPU_NC], double f, double a,
                           int nh, double *h, double *dc_shift, mt_err *err)
{
    if (!(f > 0 && f * nh < FS_LAB / 2)) return mt_err_set(err, MT_ERR_ARG, "tone frequency out of range");
    const int N = 25000;
    double *vin = malloc(sizeof(double) * 2 * N), *vo = malloc(sizeof(double) * 2 * N);
    if (!vin || !vo) {
        free(vin), free(vo);
        return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < 2 * N; i++) vin[i] = a * sin(2 * M_PI * f * i / FS_LAB);
    mt_rnpu_state st;
    settle(d, vc, &st);
    double v0 = st.vo;
    mt_rnpu_run(d, vc, vin, 2 * N, FS_LAB, &st, vo);
    double mean = 0;
    for (int i = N; i < 2 * N; i++) mean += vo[i];
    if (dc_shift) *dc_shift = mean / N - v0;
    for (int k = 1; k <= nh; k++) h[k - 1] = dft_amp(vo + N, N, k * f);
    free(vin), free(vo);
    return MT_OK;
}

mt_status mt_rnpu_lab_twotone(const mt_rnpu *d, const double vc[MT_RNPU_NC], double f1, double f2,
                              double amp, mt_rnpu_twotone_res *r, mt_err *err)
{
    memset(r, 0, sizeof *r);
    if (!(f1 > 0 && f2 > f1 && f2 < 2000 && f1 == floor(f1) && f2 == floor(f2)))
        return mt_err_set(err, MT_ERR_ARG, "need integer 0 < f1 < f2 < 2000 Hz");
    const int N = 25000;
    double *vin = malloc(sizeof(double) * 2 * N), *vo = malloc(sizeof(double) * 2 * N);
    int nspec = 600;
    r->spec_v = malloc(sizeof(double) * (size_t)nspec);
    if (!vin || !vo || !r->spec_v) {
        free(vin), free(vo);
        mt_rnpu_twotone_res_free(r);
        return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    }
    r->nspec = nspec;
    for (int i = 0; i < 2 * N; i++)
        vin[i] = amp * (sin(2 * M_PI * f1 * i / FS_LAB) + sin(2 * M_PI * f2 * i / FS_LAB));
    mt_rnpu_state st;
    settle(d, vc, &st);
    mt_rnpu_run(d, vc, vin, 2 * N, FS_LAB, &st, vo);
    const double *y = vo + N; /* the last second: integer periods of both tones */
    /* spectrum by a table-driven DFT over 0..nspec-1 Hz (1-Hz bins) */
    double *cs = malloc(sizeof(double) * N), *sn = malloc(sizeof(double) * N);
    if (!cs || !sn) {
        free(cs), free(sn), free(vin), free(vo);
        mt_rnpu_twotone_res_free(r);
        return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < N; i++) {
        cs[i] = cos(2 * M_PI * i / N);
        sn[i] = sin(2 * M_PI * i / N);
    }
    double mean = 0;
    for (int i = 0; i < N; i++) mean += y[i];
    mean /= N;
    for (int f = 0; f < nspec; f++) {
        double re = 0, im = 0;
        long idx = 0;
        for (int i = 0; i < N; i++) {
            re += (y[i] - mean) * cs[idx];
            im -= (y[i] - mean) * sn[idx];
            idx += f;
            if (idx >= N) idx -= N;
        }
        r->spec_v[f] = 2.0 * sqrt(re * re + im * im) / N;
    }
    for (int k = 0; k < 4; k++) {
        int n = k + 1;
        int hz = (int)fabs((n + 1) * f1 - n * f2);
        r->hz[k] = hz;
        r->v[k] = hz < nspec ? r->spec_v[hz] : dft_amp(y, N, hz);
        /* neighbourhood: bins hz±2..hz±12, excluding other product/tone lines */
        double nb[24];
        int m = 0;
        for (int o = 2; o <= 12; o++)
            for (int sgn = -1; sgn <= 1; sgn += 2) {
                int b = hz + sgn * o;
                if (b > 0 && b < nspec) nb[m++] = r->spec_v[b];
            }
        qsort(nb, (size_t)m, sizeof(double), cmp_d);
        double med = m ? pct_sorted(nb, m, 0.5) : 0;
        r->ratio[k] = r->v[k] / (med + 1e-30);
    }
    r->v_f1 = r->spec_v[(int)f1];
    r->v_f2 = r->spec_v[(int)f2];
    r->v_diff = r->spec_v[(int)(f2 - f1)];
    free(cs), free(sn), free(vin), free(vo);
    return MT_OK;
}

void mt_rnpu_twotone_res_free(mt_rnpu_twotone_res *r)
{
    free(r->spec_v);
    memset(r, 0, sizeof *r);
}

/* ----------------------------------------------------------------------------- power ----- */

mt_status mt_rnpu_lab_power(const mt_rnpu *d, int n, uint64_t seed, double range, double ndiv,
                            double *p_w, mt_err *err)
{
    if (d->p.law == MT_RNPU_LAW_MLP)
        return mt_err_set(err, MT_ERR_ARG, "power needs every electrode current; the MLP law only models the output");
    if (n < 1 || n > 100000) return mt_err_set(err, MT_ERR_ARG, "configs must be in [1, 100000]");
    double *vc = malloc(sizeof(double) * (size_t)n * MT_RNPU_NC);
    if (!vc) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    mt_rnpu_random_controls(seed, STREAM_LAB_POWER, n, range, ndiv, vc);
    for (int i = 0; i < n; i++) {
        double v[MT_RNPU_NE] = {0};
        for (int k = 0; k < MT_RNPU_NC; k++) v[k + 1] = vc[i * MT_RNPU_NC + k];
        p_w[i] = mt_rnpu_static_power(d, v);
    }
    free(vc);
    return MT_OK;
}

/* -------------------------------------------------------------------------------- iv ----- */

mt_status mt_rnpu_lab_iv(const mt_rnpu *d, int nsets, uint64_t seed, mt_rnpu_iv_res *r, mt_err *err)
{
    memset(r, 0, sizeof *r);
    if (nsets < 1 || nsets > 100000) return mt_err_set(err, MT_ERR_ARG, "sets must be in [1, 100000]");
    const int np = 81;
    int ntr = nsets < 8 ? nsets : 8;
    r->npts = np;
    r->nsets = nsets;
    r->v = malloc(sizeof(double) * np);
    r->isweep = malloc(sizeof(double) * 7 * np);
    r->iin = malloc(sizeof(double) * (size_t)ntr * np);
    double *vc = malloc(sizeof(double) * (size_t)nsets * MT_RNPU_NC);
    if (!r->v || !r->isweep || !r->iin || !vc) {
        free(vc);
        mt_rnpu_iv_res_free(r);
        return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < np; i++) r->v[i] = -0.4 + 0.8 * i / (np - 1);
    for (int k = 0; k < 7; k++) {
        r->imax_a[k] = 0;
        for (int i = 0; i < np; i++) {
            double v[MT_RNPU_NE] = {0};
            v[k] = r->v[i];
            double I = mt_rnpu_output_current(d, v);
            r->isweep[k * np + i] = I;
            if (fabs(I) > r->imax_a[k]) r->imax_a[k] = fabs(I);
        }
    }
    mt_rnpu_random_controls(seed, STREAM_LAB_IV, nsets, 0.4, 2.0, vc);
    int ndr = 0;
    double cur[81];
    for (int s = 0; s < nsets; s++) {
        double lo = INFINITY, hi = -INFINITY;
        for (int i = 0; i < np; i++) {
            double v[MT_RNPU_NE] = {0};
            for (int k = 0; k < MT_RNPU_NC; k++) v[k + 1] = vc[s * MT_RNPU_NC + k];
            v[0] = r->v[i];
            cur[i] = mt_rnpu_output_current(d, v);
            if (cur[i] < lo) lo = cur[i];
            if (cur[i] > hi) hi = cur[i];
            if (s < ntr) r->iin[s * np + i] = cur[i];
        }
        double tol = 1e-6 * (hi - lo);
        for (int i = 0; i + 1 < np; i++)
            if (cur[i + 1] < cur[i] - tol) {
                ndr++;
                break;
            }
    }
    r->ndr_fraction = (double)ndr / nsets;
    free(vc);
    return MT_OK;
}

void mt_rnpu_iv_res_free(mt_rnpu_iv_res *r)
{
    free(r->v), free(r->isweep), free(r->iin);
    memset(r, 0, sizeof *r);
}

/* ----------------------------------------------------------------------------- range ----- */

mt_status mt_rnpu_lab_range(const mt_rnpu *d, const double *ranges, int nr, int n, uint64_t seed,
                            double ndiv, double *median_tau_ms, mt_err *err)
{
    for (int i = 0; i < nr; i++) {
        if (!(ranges[i] > 0 && ranges[i] <= 2.0))
            return mt_err_set(err, MT_ERR_ARG, "control range %g V outside (0, 2]", ranges[i]);
        double *vc = malloc(sizeof(double) * (size_t)n * MT_RNPU_NC);
        if (!vc) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
        /* common random numbers: the same unit draws scaled to each range */
        mt_rnpu_random_controls(seed, STREAM_LAB_RANGE, n, 1.0, ndiv, vc);
        for (int j = 0; j < n * MT_RNPU_NC; j++) vc[j] *= ranges[i];
        median_tau_ms[i] = 1e3 * rnpu_median_tau(d, n, vc);
        free(vc);
    }
    return MT_OK;
}
