/* PCM device statistics: programming noise, drift exponent, 1/f read noise.
 *
 * Formulas from shared/spec/aimc.md §2 (aihwkit PCMLikeNoiseModel, pcm.py; HermesNoiseModel,
 * hermes.py), written out in docs/aimc.md with every coefficient.  All conductances in µS, all
 * times in seconds.  A "noise unit" is what one statistical draw describes: one device for the
 * PCMLike fit, the whole polarity (1 or 2 devices programmed alike) for the HERMES fit. */
#include <math.h>
#include <string.h>

#include "materia/aimc.h"

#define ZERO_CLIP 1e-7

static double clampd(double v, double lo, double hi) { return v < lo ? lo : (v > hi ? hi : v); }

void mt_pcm_params_default(mt_pcm_params *p, mt_pcm_model model, int devices)
{
    memset(p, 0, sizeof *p);
    p->model = model;
    p->devices = (devices == 2) ? 2 : 1;
    p->prog_noise_scale = 1.0;
    p->read_noise_scale = 1.0;
    p->drift_scale = 1.0;
    if (model == MT_PCM_HERMES) {
        /* hermes.py: g_max 10.35 µS per device (20.7 for the 2-device polarity), t_read 512 ns,
         * t0 200 s (1 device) / 300 s (2 devices); cubic programming-noise fits in µS at the
         * characterised maximum. */
        p->g_max = 10.35;
        p->t_read = 512e-9;
        if (p->devices == 2) {
            static const double c2[4] = {0.16603222, 4.71806468, -8.48101252, 4.68961419};
            memcpy(p->prog_coeff, c2, sizeof c2);
            p->t0 = 300.0;
            p->prog_coeff_gmax_ref = 20.7;
        } else {
            static const double c1[4] = {0.15781817, 2.32443916, -2.16310839, 0.68841818};
            memcpy(p->prog_coeff, c1, sizeof c1);
            p->t0 = 200.0;
            p->prog_coeff_gmax_ref = 10.35;
        }
    } else {
        /* pcm.py: g_max 25 µS, t_read 250 ns, t0 20 s, quadratic fit at 25 µS. */
        static const double c[4] = {0.26348, 1.9650, -1.1731, 0.0};
        memcpy(p->prog_coeff, c, sizeof c);
        p->g_max = 25.0;
        p->t_read = 250e-9;
        p->t0 = 20.0;
        p->prog_coeff_gmax_ref = 25.0;
    }
}

mt_status mt_pcm_model_parse(const char *s, mt_pcm_model *out, mt_err *err)
{
    if (s && strcmp(s, "pcmlike") == 0) *out = MT_PCM_PCMLIKE;
    else if (s && strcmp(s, "hermes") == 0) *out = MT_PCM_HERMES;
    else return mt_err_set(err, MT_ERR_ARG, "unknown PCM model '%s' (pcmlike | hermes)", s ? s : "");
    return MT_OK;
}

const char *mt_pcm_model_name(mt_pcm_model m) { return m == MT_PCM_HERMES ? "hermes" : "pcmlike"; }

int mt_pcm_units(const mt_pcm_params *p) { return p->model == MT_PCM_HERMES ? 1 : p->devices; }

double mt_pcm_unit_gmax(const mt_pcm_params *p)
{
    return p->model == MT_PCM_HERMES ? p->devices * p->g_max : p->g_max;
}

/* σ_prog(g_t) in µS (aimc.md §2.1): polynomial in x = g_t/g_unit, rescaled to the unit's g_max
 * from the fit's reference g_max.  Positive on [0, 1] for both fits. */
double mt_pcm_prog_sigma(const mt_pcm_params *p, double g_t)
{
    double gu = mt_pcm_unit_gmax(p);
    double x = g_t / gu;
    double s = p->prog_coeff[0] + x * (p->prog_coeff[1] + x * (p->prog_coeff[2] + x * p->prog_coeff[3]));
    return s * gu / p->prog_coeff_gmax_ref;
}

/* Mean and std of the drift exponent's normal (aimc.md §2.2 PCMLike; §2.4 HERMES piecewise). */
void mt_pcm_drift_stats(const mt_pcm_params *p, double g_t, double *mu_nu, double *sigma_nu)
{
    double gr = fabs(g_t / mt_pcm_unit_gmax(p));
    if (gr < ZERO_CLIP) gr = ZERO_CLIP;
    double lg = log(gr);
    double mu, sd;
    if (p->model == MT_PCM_HERMES) {
        mu = gr < 0.0945 ? clampd(-0.0387 * lg - 0.0182, 0.072, 0.13)
                         : -0.0436 * gr * gr - 0.0126 * gr + 0.0736;
        if (p->devices == 2)
            sd = gr < 0.3055 ? clampd(-0.0117 * lg - 0.0057, 0.0091, 0.04)
                             : -0.0118 * gr * gr + 0.0093 * gr + 0.0073;
        else
            sd = gr < 0.3039 ? clampd(-0.0120 * lg - 0.0023, 0.0124, 0.04)
                             : -0.0165 * gr * gr + 0.0116 * gr + 0.0104;
    } else {
        mu = clampd(-0.0155 * lg + 0.0244, 0.049, 0.1);
        sd = clampd(-0.0125 * lg - 0.0059, 0.008, 0.045);
    }
    if (mu_nu) *mu_nu = mu;
    if (sigma_nu) *sigma_nu = sd;
}

/* Q_s of the accumulated 1/f noise as a function of the PROGRAMMED conductance (the code uses
 * g_prog; aihwkit's docs say g_T — aimc.md §2.3). */
double mt_pcm_read_qs(const mt_pcm_params *p, double g_p)
{
    double gr = fabs(g_p) / mt_pcm_unit_gmax(p);
    if (p->model == MT_PCM_HERMES) {
        double lg = log(gr > ZERO_CLIP ? gr : ZERO_CLIP);
        if (p->devices == 2)
            return gr < 0.16 ? clampd(-0.0117 * lg - 0.0069, 0.015, 0.04)
                             : ((0.0069 * gr - 0.0280) * gr + 0.0211) * gr + 0.0123;
        return gr < 0.1591 ? clampd(-0.0078 * lg + 0.0038, 0.0179, 0.04)
                           : ((0.0664 * gr - 0.1352) * gr + 0.0768) * gr + 0.0088;
    }
    double d = pow(gr, 0.65);
    if (d < 1e-3) d = 1e-3;
    double q = 0.0088 / d;
    return q < 0.2 ? q : 0.2;
}

/* √ln((t + t_read)/(2 t_read)), t = t_inf + t0 (aimc.md §2.3; 4.1838 at t_inf = 0 for PCMLike). */
double mt_pcm_read_factor(const mt_pcm_params *p, double t_inf)
{
    double t = t_inf + p->t0;
    double v = log((t + p->t_read) / (2.0 * p->t_read));
    return v > 0 ? sqrt(v) : 0.0;
}

double mt_pcm_program(const mt_pcm_params *p, double g_t, double noise_scale, mt_rng *r)
{
    double s = p->prog_noise_scale * noise_scale * mt_pcm_prog_sigma(p, g_t);
    double g = g_t + s * mt_rng_normal(r);
    return g > 0 ? g : 0.0; /* no negative conductances */
}

double mt_pcm_draw_nu(const mt_pcm_params *p, double g_t, mt_rng *r)
{
    double mu, sd;
    mt_pcm_drift_stats(p, g_t, &mu, &sd);
    return p->drift_scale * fabs(mu + sd * mt_rng_normal(r)); /* |·|, not a truncation */
}

/* G(t) = G_prog·(t/t0)^−ν with t = t_inf + t0: the power law counts from the first read t0. */
double mt_pcm_drift(const mt_pcm_params *p, double g_p, double nu, double t_inf)
{
    double t = t_inf + p->t0;
    if (!(t > p->t0) || nu == 0.0) return g_p;
    return g_p * pow(t / p->t0, -nu);
}

double mt_pcm_read_sigma(const mt_pcm_params *p, double g_p, double g_d, double t_inf)
{
    return fabs(g_d) * p->read_noise_scale * mt_pcm_read_qs(p, g_p) * mt_pcm_read_factor(p, t_inf);
}
