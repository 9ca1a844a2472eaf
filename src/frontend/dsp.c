/* Private DSP and option helpers for the baseline front-ends (see dsp.h). */
#include "dsp.h"

#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- options ---------------------------------------------------------------------------- */

mt_status mt_fe_check_keys(const cJSON *params, const char *const *known, mt_err *err)
{
    if (!params) return MT_OK;
    for (const cJSON *it = params->child; it; it = it->next) {
        int ok = 0;
        for (int i = 0; known[i]; i++)
            if (strcmp(it->string, known[i]) == 0) ok = 1;
        if (!ok) {
            char list[768] = "";
            for (int i = 0; known[i]; i++) {
                strncat(list, known[i], sizeof list - strlen(list) - 1);
                if (known[i + 1]) strncat(list, ", ", sizeof list - strlen(list) - 1);
            }
            return mt_err_set(err, MT_ERR_ARG, "unknown option '%s' (known: %s)", it->string,
                              known[0] ? list : "none");
        }
    }
    return MT_OK;
}

static const cJSON *get(const cJSON *params, const char *key)
{
    return params ? cJSON_GetObjectItemCaseSensitive(params, key) : NULL;
}

mt_status mt_fe_opt_num(const cJSON *params, const char *key, double def, double lo, double hi,
                        double *out, mt_err *err)
{
    const cJSON *v = get(params, key);
    if (!v) {
        *out = def;
        return MT_OK;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return mt_err_set(err, MT_ERR_ARG, "option '%s' must be a number", key);
    if (v->valuedouble < lo || v->valuedouble > hi)
        return mt_err_set(err, MT_ERR_ARG, "option '%s' = %g is out of range [%g, %g]", key,
                          v->valuedouble, lo, hi);
    *out = v->valuedouble;
    return MT_OK;
}

mt_status mt_fe_opt_int(const cJSON *params, const char *key, int def, int lo, int hi, int *out,
                        mt_err *err)
{
    double d;
    mt_status s = mt_fe_opt_num(params, key, def, lo, hi, &d, err);
    if (s) return s;
    if (d != floor(d)) return mt_err_set(err, MT_ERR_ARG, "option '%s' must be an integer", key);
    *out = (int)d;
    return MT_OK;
}

mt_status mt_fe_opt_bool(const cJSON *params, const char *key, int def, int *out, mt_err *err)
{
    const cJSON *v = get(params, key);
    if (!v) {
        *out = def;
        return MT_OK;
    }
    if (!cJSON_IsBool(v)) return mt_err_set(err, MT_ERR_ARG, "option '%s' must be true or false", key);
    *out = cJSON_IsTrue(v) ? 1 : 0;
    return MT_OK;
}

mt_status mt_fe_opt_choice(const cJSON *params, const char *key, int def,
                           const char *const *choices, int *out, mt_err *err)
{
    const cJSON *v = get(params, key);
    if (!v) {
        *out = def;
        return MT_OK;
    }
    char list[256] = "";
    for (int i = 0; choices[i]; i++) {
        if (cJSON_IsString(v) && strcmp(v->valuestring, choices[i]) == 0) {
            *out = i;
            return MT_OK;
        }
        strncat(list, choices[i], sizeof list - strlen(list) - 1);
        if (choices[i + 1]) strncat(list, ", ", sizeof list - strlen(list) - 1);
    }
    return mt_err_set(err, MT_ERR_ARG, "option '%s' must be one of: %s", key, list);
}

mt_status mt_fe_opt_range(const cJSON *params, const char *key, double def_lo, double def_hi,
                          double min, double max, double out[2], mt_err *err)
{
    const cJSON *v = get(params, key);
    if (!v) {
        out[0] = def_lo;
        out[1] = def_hi;
        return MT_OK;
    }
    double a, b;
    if (cJSON_IsNumber(v)) {
        a = b = v->valuedouble;
    } else if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 2 &&
               cJSON_IsNumber(cJSON_GetArrayItem(v, 0)) && cJSON_IsNumber(cJSON_GetArrayItem(v, 1))) {
        a = cJSON_GetArrayItem(v, 0)->valuedouble;
        b = cJSON_GetArrayItem(v, 1)->valuedouble;
    } else {
        return mt_err_set(err, MT_ERR_ARG, "option '%s' must be a number or a pair [lo, hi]", key);
    }
    if (!isfinite(a) || !isfinite(b) || a > b)
        return mt_err_set(err, MT_ERR_ARG, "option '%s' must have finite lo <= hi (got [%g, %g])",
                          key, a, b);
    if (a < min || b > max)
        return mt_err_set(err, MT_ERR_ARG, "option '%s' = [%g, %g] is out of range [%g, %g]", key,
                          a, b, min, max);
    out[0] = a;
    out[1] = b;
    return MT_OK;
}

cJSON *mt_fe_json_array(const double *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

/* ---- scales ----------------------------------------------------------------------------- */

#define EAR_Q 9.26449 /* Glasberg & Moore high-frequency Q */
#define MIN_BW 24.7   /* Hz, minimum bandwidth */

double mt_fe_erb(double f_hz) { return f_hz / EAR_Q + MIN_BW; }

void mt_fe_erb_space(double lo, double hi, int n, double *f)
{
    if (n == 1) {
        f[0] = lo;
        return;
    }
    /* ERB-number is proportional to ln(f + EarQ·minBW); equal steps on it. */
    const double c = EAR_Q * MIN_BW;
    const double step = (log(hi + c) - log(lo + c)) / (n - 1);
    for (int i = 0; i < n; i++) f[i] = -c + exp(i * step) * (lo + c);
    f[0] = lo;
    f[n - 1] = hi;
}

void mt_fe_spread(double lo, double hi, int n, int log_spacing, double *f)
{
    if (n == 1) {
        f[0] = lo;
        return;
    }
    for (int i = 0; i < n; i++) {
        double t = (double)i / (n - 1);
        f[i] = log_spacing ? lo * pow(hi / lo, t) : lo + (hi - lo) * t;
    }
    f[n - 1] = hi;
}

/* ---- filters ---------------------------------------------------------------------------- */

mt_fe_biquad mt_fe_lp1(double fc_hz, double fs_hz)
{
    /* Analog prototype 1/(1 + s/ωc) with ωc pre-warped: K = tan(π fc / fs);
     * H(z) = K (1 + z^-1) / ((1 + K) + (K - 1) z^-1). */
    const double k = tan(M_PI * fc_hz / fs_hz);
    mt_fe_biquad q = {k / (1 + k), k / (1 + k), 0, (k - 1) / (k + 1), 0};
    return q;
}

double mt_fe_biquad_mag(const mt_fe_biquad *q, double f_hz, double fs_hz)
{
    const double complex z1 = cexp(-I * 2 * M_PI * f_hz / fs_hz); /* z^-1 */
    const double complex num = q->b0 + q->b1 * z1 + q->b2 * z1 * z1;
    const double complex den = 1 + q->a1 * z1 + q->a2 * z1 * z1;
    return cabs(num / den);
}

void mt_fe_biquad_run_state(const mt_fe_biquad *q, int nsec, double *y, int64_t n, double *z)
{
    for (int s = 0; s < nsec; s++) {
        const double b0 = q[s].b0, b1 = q[s].b1, b2 = q[s].b2, a1 = q[s].a1, a2 = q[s].a2;
        double z1 = z[2 * s], z2 = z[2 * s + 1]; /* transposed direct form II state */
        for (int64_t i = 0; i < n; i++) {
            const double in = y[i];
            const double out = b0 * in + z1;
            z1 = b1 * in - a1 * out + z2;
            z2 = b2 * in - a2 * out;
            y[i] = out;
        }
        z[2 * s] = z1;
        z[2 * s + 1] = z2;
    }
}

void mt_fe_biquad_run(const mt_fe_biquad *q, int nsec, const float *x, int64_t n, double *y)
{
    for (int64_t i = 0; i < n; i++) y[i] = x[i];
    for (int s = 0; s < nsec; s++) {
        double z[2] = {0, 0}; /* zero initial state */
        mt_fe_biquad_run_state(&q[s], 1, y, n, z);
    }
}

void mt_fe_gammatone_design(double fc_hz, double fs_hz, mt_fe_biquad q[4])
{
    /* Slaney (1993) "An efficient implementation of the Patterson-Holdsworth auditory filter
     * bank", Apple TR #35: the 8-pole/4-zero impulse-invariant gammatone
     *   g(t) = t^3 exp(-2π·1.019·ERB(fc)·t) cos(2π fc t)
     * split into four 2nd-order sections sharing the pole pair and differing in one zero. */
    const double t = 1.0 / fs_hz;
    const double b = 1.019 * 2 * M_PI * mt_fe_erb(fc_hz); /* rad/s */
    const double arg = 2 * M_PI * fc_hz * t;
    const double e = exp(-b * t);
    const double rp = sqrt(3 + pow(2, 1.5)), rn = sqrt(3 - pow(2, 1.5));
    const double zk[4] = {cos(arg) + rp * sin(arg), cos(arg) - rp * sin(arg),
                          cos(arg) + rn * sin(arg), cos(arg) - rn * sin(arg)};
    for (int k = 0; k < 4; k++) {
        q[k].b0 = t;
        q[k].b1 = -t * e * zk[k];
        q[k].b2 = 0;
        q[k].a1 = -2 * cos(arg) * e;
        q[k].a2 = e * e;
        /* Normalise this stage to unit gain at fc (replaces Slaney's overall 1/gain, ~1e-12,
         * which does not survive float32). */
        const double g = mt_fe_biquad_mag(&q[k], fc_hz, fs_hz);
        q[k].b0 /= g;
        q[k].b1 /= g;
    }
}

void mt_fe_decimate_mean_d(const double *x, int64_t n, int decim, float *y)
{
    const int64_t m = n / decim;
    for (int64_t i = 0; i < m; i++) {
        double acc = 0;
        for (int k = 0; k < decim; k++) acc += x[i * decim + k];
        y[i] = (float)(acc / decim);
    }
}
