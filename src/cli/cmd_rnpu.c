/* materia rnpu — the RNPU characterisation lab (Fig. 2, ED Figs. 1–3 and 7 on a simulated device). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "materia/plot.h"
#include "materia/rnpu.h"

static const char help[] =
    "usage: materia rnpu <experiment> [options]\n"
    "\n"
    "Characterise a simulated RNPU circuit (8-electrode device, output on C_ext read by a buffer)\n"
    "with the paper's protocols.  Experiments (25 kS/s unless stated):\n"
    "  step       1-V step over random control sets -> tau_ms {p5, median, p95, min, max}, histogram\n"
    "             (Fig. 2b inset)\n"
    "  pulses     two 1-V pulses (150 ms on, 30 ms off), 0-V controls -> tau1_ms, tau2_ms (ED Fig. 2)\n"
    "  staircase  0.2-V steps to 1 V, 200 ms each -> tau_ms[], vss_v[] (ED Fig. 3)\n"
    "  chirp      0.75-V exponential chirp 100 Hz -> 2 kHz, 1 s -> harmonics_visible (Fig. 2c)\n"
    "  tone       0.75-V tone over random sets -> H1..H5, h2_h1_db spread (Fig. 2c iii, iv)\n"
    "  twotone    f1 + f2 at 0.375 V each -> products [{hz, v}] at |(n+1)f1 - n f2| (Fig. 2b)\n"
    "  power      static power over random sets -> static_nw {mean, std} (ED Fig. 7)\n"
    "  iv         static sweeps, output at virtual ground -> ndr_fraction (ED Fig. 1)\n"
    "  range      median tau versus control range 0.2 ... 1.0 V -> median_tau_ms[]\n"
    "  info       the device instance (calibrated parameters) as JSON\n"
    "\n"
    "options:\n"
    "  --seed S          device instance seed (default 1); control sets derive from it\n"
    "  --configs N       control sets (step 500, tone 100, power 10, iv 100, range 40 per range)\n"
    "  --controls zero|random  controls for pulses/staircase/chirp/twotone (default zero)\n"
    "  --ctrl-seed S     seed of the random control set for --controls random (default = --seed)\n"
    "  --f1 HZ --f2 HZ   two-tone frequencies (integers, default 74 and 174)\n"
    "  --amp V           two-tone amplitude per tone (default 0.375)\n"
    "  --range V         control range for step/power (default 0.4; neighbours / --ndiv)\n"
    "  --ndiv D          output-neighbour range divisor (default 2; the public code uses 4)\n"
    "  --params JSON     device options as for the rnpu front-end, e.g. '{\"c_ext_pf\":47}',\n"
    "                    '{\"calibrate\":false}', '{\"temp_k\":310}'; device models: '{\"model\":\"v2\"}'\n"
    "                    (the default), '{\"model\":\"v1\"}' (the default before 2026-12-04),\n"
    "                    '{\"model\":\"spec\"}' (docs/rnpu-model.md)\n"
    "  --json            print one JSON object\n"
    "  --plot FILE       write a figure (.png or .svg)\n"
    "\n"
    "examples:\n"
    "  materia rnpu step --configs 500 --seed 1 --json\n"
    "  materia rnpu chirp --plot chirp.png\n"
    "  materia rnpu twotone --f1 74 --f2 174 --json\n";

static int run(int argc, char **argv);
const mt_cli_command mt_cmd_rnpu = {"rnpu", "RNPU device lab: step, pulses, staircase, chirp, twotone, power, iv, range", help, run};

typedef struct opts {
    const char *exp;
    uint64_t seed, ctrl_seed;
    int have_ctrl_seed;
    int configs;
    int random_ctrl;
    double f1, f2, amp, range, ndiv;
    const char *params;
    int json;
    const char *plot;
} opts;

static int save_plot(mt_plot *p, const char *path)
{
    mt_err e = {0};
    if (!p) {
        fprintf(stderr, "materia rnpu: cannot create the figure (out of memory)\n");
        return 1;
    }
    mt_status s = mt_plot_save(p, path, &e);
    mt_plot_free(p);
    if (s) return cli_fail(&e);
    return 0;
}

static cJSON *stats_json(const mt_rnpu_stats *s)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "p5", s->p5);
    cJSON_AddNumberToObject(j, "median", s->median);
    cJSON_AddNumberToObject(j, "p95", s->p95);
    cJSON_AddNumberToObject(j, "min", s->min);
    cJSON_AddNumberToObject(j, "max", s->max);
    cJSON_AddNumberToObject(j, "mean", s->mean);
    cJSON_AddNumberToObject(j, "std", s->std);
    return j;
}

static int parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s || *s == '-') return -1;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end) return -1;
    *out = v;
    return 0;
}

/* Text output: one "key: value" line per top-level field (numbers rounded, arrays inline). */
static void print_value(const cJSON *v)
{
    if (cJSON_IsNumber(v)) printf("%.6g", v->valuedouble);
    else if (cJSON_IsString(v)) printf("%s", v->valuestring);
    else if (cJSON_IsBool(v)) printf("%s", cJSON_IsTrue(v) ? "true" : "false");
    else if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
        int obj = cJSON_IsObject(v), first = 1;
        printf(obj ? "{" : "[");
        for (const cJSON *c = v->child; c; c = c->next) {
            printf(first ? "" : ", ");
            first = 0;
            if (obj) printf("%s ", c->string);
            print_value(c);
        }
        printf(obj ? "}" : "]");
    }
}

static void emit(cJSON *j, int json)
{
    if (json) {
        cli_print_json(j);
        return;
    }
    for (const cJSON *c = j->child; c; c = c->next) {
        printf("%-22s ", c->string);
        print_value(c);
        printf("\n");
    }
    cJSON_Delete(j);
}

static int run(int argc, char **argv)
{
    if (cli_wants_help(&mt_cmd_rnpu, argc, argv)) return 0;
    if (argc < 2 || argv[1][0] == '-') return cli_usage_error("rnpu", "expected an experiment (step, pulses, staircase, chirp, tone, twotone, power, iv, range, info)");
    opts o = {.exp = argv[1], .seed = 1, .configs = -1, .f1 = 74, .f2 = 174, .amp = 0.375, .range = 0.4, .ndiv = 2.0};
    static const char *const exps[] = {"step", "pulses", "staircase", "chirp", "tone", "twotone", "power", "iv", "range", "info"};
    int known = 0;
    for (size_t i = 0; i < sizeof exps / sizeof exps[0]; i++)
        if (!strcmp(o.exp, exps[i])) known = 1;
    if (!known) return cli_usage_error("rnpu", "unknown experiment '%s'", o.exp);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long lv;
        if (!strcmp(a, "--json")) o.json = 1;
        else if (!strcmp(a, "--quiet")) continue;
        else if (!strcmp(a, "--seed")) {
            if (parse_u64(v, &o.seed)) return cli_usage_error("rnpu", "--seed needs a non-negative integer");
            i++;
        } else if (!strcmp(a, "--ctrl-seed")) {
            if (parse_u64(v, &o.ctrl_seed)) return cli_usage_error("rnpu", "--ctrl-seed needs a non-negative integer");
            o.have_ctrl_seed = 1;
            i++;
        } else if (!strcmp(a, "--configs")) {
            if (cli_parse_int(v, &lv) || lv < 1 || lv > 100000) return cli_usage_error("rnpu", "--configs must be an integer in [1, 100000]");
            o.configs = (int)lv;
            i++;
        } else if (!strcmp(a, "--controls")) {
            if (!v || (strcmp(v, "zero") && strcmp(v, "random"))) return cli_usage_error("rnpu", "--controls must be 'zero' or 'random'");
            o.random_ctrl = !strcmp(v, "random");
            i++;
        } else if (!strcmp(a, "--f1") || !strcmp(a, "--f2") || !strcmp(a, "--amp") || !strcmp(a, "--range") || !strcmp(a, "--ndiv")) {
            double d;
            if (cli_parse_double(v, &d)) return cli_usage_error("rnpu", "%s needs a number", a);
            if (!strcmp(a, "--f1")) o.f1 = d;
            else if (!strcmp(a, "--f2")) o.f2 = d;
            else if (!strcmp(a, "--amp")) o.amp = d;
            else if (!strcmp(a, "--range")) o.range = d;
            else o.ndiv = d;
            i++;
        } else if (!strcmp(a, "--params")) {
            if (!v) return cli_usage_error("rnpu", "--params needs a JSON object");
            o.params = v;
            i++;
        } else if (!strcmp(a, "--plot")) {
            if (!v || !*v) return cli_usage_error("rnpu", "--plot needs a file name");
            o.plot = v;
            i++;
        } else return cli_usage_error("rnpu", "unknown option '%s'", a);
    }
    if (!(o.f1 > 0 && o.f2 > o.f1 && o.f2 < 2000 && o.f1 == floor(o.f1) && o.f2 == floor(o.f2)))
        return cli_usage_error("rnpu", "--f1/--f2 must be integers with 0 < f1 < f2 < 2000 Hz");
    if (!(o.amp > 0 && o.amp <= 2)) return cli_usage_error("rnpu", "--amp must be in (0, 2] V");
    if (!(o.range > 0 && o.range <= 2)) return cli_usage_error("rnpu", "--range must be in (0, 2] V");
    if (!(o.ndiv >= 1 && o.ndiv <= 100)) return cli_usage_error("rnpu", "--ndiv must be in [1, 100]");
    if (o.plot) {
        if (!strcmp(o.exp, "info") || !strcmp(o.exp, "tone"))
            return cli_usage_error("rnpu", "--plot: experiment '%s' has no figure", o.exp);
        size_t n = strlen(o.plot);
        if (!(n > 4 && (!strcmp(o.plot + n - 4, ".png") || !strcmp(o.plot + n - 4, ".svg"))))
            return cli_usage_error("rnpu", "--plot file must end in .png or .svg");
    }

    mt_err err = {0};
    mt_rnpu_params p;
    mt_rnpu_chain ch;
    mt_rnpu_params_default(&p);
    mt_rnpu_chain_default(&ch);
    if (o.params && mt_rnpu_options_parse(o.params, &p, &ch, &err)) {
        fprintf(stderr, "materia rnpu: --params: %s\n", err.msg);
        return 2;
    }
    mt_rnpu *d;
    if (mt_rnpu_create(&p, o.seed, &d, &err)) return cli_fail(&err);
    double vc[MT_RNPU_NC] = {0};
    if (o.random_ctrl)
        mt_rnpu_random_controls(o.have_ctrl_seed ? o.ctrl_seed : o.seed, 7, 1, 0.4, 2.0, vc);

    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "experiment", o.exp);
    cJSON_AddNumberToObject(j, "seed", (double)o.seed);
    int rc = 0;
    mt_plot *pl = NULL;
    const char *e = o.exp;
    if (!strcmp(e, "info")) {
        char *s = mt_rnpu_describe_json(d);
        cJSON *dj = cJSON_Parse(s);
        free(s);
        cJSON_AddItemToObject(j, "device", dj);
    } else if (!strcmp(e, "step")) {
        int n = o.configs > 0 ? o.configs : 500;
        mt_rnpu_step_res r;
        if (mt_rnpu_lab_step(d, n, o.seed, o.range, o.ndiv, &r, &err)) rc = cli_fail(&err);
        else {
            mt_rnpu_stats s;
            mt_rnpu_stats_of(r.tau_ms, n, &s);
            cJSON_AddNumberToObject(j, "configs", n);
            cJSON_AddItemToObject(j, "tau_ms", stats_json(&s));
            cJSON_AddNumberToObject(j, "degenerate", r.n_degenerate);
            /* histogram, 2-ms bins 0..60 ms */
            int hist[30] = {0};
            for (int i = 0; i < n; i++)
                if (isfinite(r.tau_ms[i])) {
                    int b = (int)(r.tau_ms[i] / 2.0);
                    if (b >= 0 && b < 30) hist[b]++;
                }
            cJSON_AddItemToObject(j, "hist_counts", cJSON_CreateIntArray(hist, 30));
            cJSON_AddNumberToObject(j, "hist_bin_ms", 2.0);
            int in = 0;
            for (int i = 0; i < n; i++) in += r.tau_ms[i] >= 10 && r.tau_ms[i] <= 40;
            cJSON_AddNumberToObject(j, "fraction_10_40ms", (double)in / n);
            if (o.plot) {
                pl = mt_plot_new("Step-response time constants (1-V step, 25 kS/s)", "tau (ms)", "count");
                if (pl) mt_plot_hist(pl, r.tau_ms, n, 30, "random control sets");
            }
            mt_rnpu_step_res_free(&r);
        }
    } else if (!strcmp(e, "pulses")) {
        mt_rnpu_pulses_res r;
        if (mt_rnpu_lab_pulses(d, vc, &r, &err)) rc = cli_fail(&err);
        else {
            cJSON_AddNumberToObject(j, "tau1_ms", r.tau1_ms);
            cJSON_AddNumberToObject(j, "tau2_ms", r.tau2_ms);
            cJSON_AddNumberToObject(j, "ratio", r.tau2_ms / r.tau1_ms);
            cJSON_AddNumberToObject(j, "tau1_crossing_ms", r.tau1_x_ms);
            cJSON_AddNumberToObject(j, "tau2_crossing_ms", r.tau2_x_ms);
            if (o.plot && (pl = mt_plot_new("Paired 1-V pulses (ED Fig. 2)", "time (s)", "V"))) {
                double *vo10 = malloc(sizeof(double) * (size_t)r.n);
                for (int i = 0; i < r.n; i++) vo10[i] = 10 * r.vo[i];
                mt_plot_line(pl, r.t_s, r.vin, r.n, "V_in");
                mt_plot_line(pl, r.t_s, vo10, r.n, "10 x V_out");
                free(vo10);
            }
            mt_rnpu_pulses_res_free(&r);
        }
    } else if (!strcmp(e, "staircase")) {
        mt_rnpu_stair_res r;
        if (mt_rnpu_lab_staircase(d, vc, &r, &err)) rc = cli_fail(&err);
        else {
            cJSON_AddItemToObject(j, "vin_v", cJSON_CreateDoubleArray(r.vin_v, 5));
            cJSON_AddItemToObject(j, "tau_ms", cJSON_CreateDoubleArray(r.tau_ms, 5));
            cJSON_AddItemToObject(j, "vss_v", cJSON_CreateDoubleArray(r.vss_v, 5));
            double g[5];
            for (int i = 0; i < 5; i++) g[i] = r.vss_v[i] / r.vin_v[i];
            cJSON_AddItemToObject(j, "vss_over_vin", cJSON_CreateDoubleArray(g, 5));
            if (o.plot && (pl = mt_plot_new("Staircase (ED Fig. 3), output normalised to 1", "time (s)", "V"))) {
                double mx = 1e-30;
                for (int i = 0; i < r.n; i++) mx = fmax(mx, fabs(r.vo[i]));
                double *vn = malloc(sizeof(double) * (size_t)r.n);
                for (int i = 0; i < r.n; i++) vn[i] = r.vo[i] / mx;
                mt_plot_line(pl, r.t_s, r.vin, r.n, "V_in");
                mt_plot_line(pl, r.t_s, vn, r.n, "V_out / max");
                free(vn);
            }
            mt_rnpu_stair_res_free(&r);
        }
    } else if (!strcmp(e, "chirp")) {
        mt_rnpu_chirp_res r;
        if (mt_rnpu_lab_chirp(d, vc, &r, &err)) rc = cli_fail(&err);
        else {
            cJSON_AddNumberToObject(j, "harmonics_visible", r.harmonics_visible);
            cJSON_AddItemToObject(j, "visible_fraction", cJSON_CreateDoubleArray(r.visible_frac + 1, MT_RNPU_MAXH));
            cJSON_AddItemToObject(j, "ridge_db", cJSON_CreateDoubleArray(r.ridge_db + 1, MT_RNPU_MAXH));
            cJSON_AddNumberToObject(j, "dc_shift_v", r.dc_shift_v);
            if (o.plot && (pl = mt_plot_new("Output spectrogram, 0.75-V chirp 100 Hz - 2 kHz (Fig. 2c)", "time (s)", "frequency (Hz)"))) {
                /* STFT: 40-ms Hann windows every 10 ms, 0..5 kHz, dB */
                const int W = 1000, hop = 250, nf = 200; /* 25-Hz bins to 5 kHz */
                int nt = (r.n - W) / hop + 1;
                float *z = malloc(sizeof(float) * (size_t)nt * nf);
                for (int t = 0; t < nt; t++) {
                    const double *y = r.vo + t * hop;
                    double m = 0;
                    for (int i = 0; i < W; i++) m += y[i];
                    m /= W;
                    for (int f = 0; f < nf; f++) {
                        double re = 0, im = 0;
                        for (int i = 0; i < W; i++) {
                            double w = 0.5 - 0.5 * cos(2 * M_PI * i / W), a = 2 * M_PI * f * i / W;
                            re += w * (y[i] - m) * cos(a);
                            im -= w * (y[i] - m) * sin(a);
                        }
                        z[f * nt + t] = (float)(10 * log10(re * re + im * im + 1e-30));
                    }
                }
                mt_plot_image(pl, z, nf, nt, 0, 1.0, 0, 5000, "power (dB)", 0);
                free(z);
            }
            mt_rnpu_chirp_res_free(&r);
        }
    } else if (!strcmp(e, "tone")) {
        int n = o.configs > 0 ? o.configs : 100;
        double *vcs = malloc(sizeof(double) * (size_t)n * MT_RNPU_NC), *r21 = malloc(sizeof(double) * (size_t)n);
        mt_rnpu_random_controls(o.seed, 8, n, 0.4, 2.0, vcs);
        int suppressed = 0;
        cJSON *hs = cJSON_CreateArray();
        for (int i = 0; i < n && !rc; i++) {
            double h[5], dc;
            if (mt_rnpu_lab_tone(d, vcs + i * MT_RNPU_NC, 200, 0.75, 5, h, &dc, &err)) {
                rc = cli_fail(&err);
                break;
            }
            r21[i] = 20 * log10((h[1] + 1e-30) / (h[0] + 1e-30));
            if (h[0] < fmax(h[1], h[2])) suppressed++;
            if (i < 10) cJSON_AddItemToArray(hs, cJSON_CreateDoubleArray(h, 5));
        }
        if (!rc) {
            mt_rnpu_stats s;
            mt_rnpu_stats_of(r21, n, &s);
            cJSON_AddNumberToObject(j, "configs", n);
            cJSON_AddItemToObject(j, "h2_h1_db", stats_json(&s));
            cJSON_AddNumberToObject(j, "h2_h1_spread_db", s.max - s.min);
            cJSON_AddNumberToObject(j, "fundamental_suppressed", suppressed);
            cJSON_AddItemToObject(j, "harmonics_v_first10", hs);
        } else cJSON_Delete(hs);
        free(vcs), free(r21);
    } else if (!strcmp(e, "twotone")) {
        mt_rnpu_twotone_res r;
        if (mt_rnpu_lab_twotone(d, vc, o.f1, o.f2, o.amp, &r, &err)) rc = cli_fail(&err);
        else {
            cJSON *pa = cJSON_CreateArray();
            for (int k = 0; k < 4; k++) {
                cJSON *q = cJSON_CreateObject();
                cJSON_AddNumberToObject(q, "n", k + 1);
                cJSON_AddNumberToObject(q, "hz", r.hz[k]);
                cJSON_AddNumberToObject(q, "v", r.v[k]);
                cJSON_AddNumberToObject(q, "peak_to_neighbours", r.ratio[k]);
                cJSON_AddItemToArray(pa, q);
            }
            cJSON_AddItemToObject(j, "products", pa);
            cJSON_AddNumberToObject(j, "v_f1", r.v_f1);
            cJSON_AddNumberToObject(j, "v_f2", r.v_f2);
            cJSON_AddNumberToObject(j, "v_f2_minus_f1", r.v_diff);
            if (o.plot && (pl = mt_plot_new("Two-tone response spectrum (Fig. 2b)", "frequency (Hz)", "amplitude (V)"))) {
                double *f = malloc(sizeof(double) * (size_t)r.nspec), *a = malloc(sizeof(double) * (size_t)r.nspec);
                for (int i = 1; i < r.nspec; i++) f[i - 1] = i, a[i - 1] = r.spec_v[i] + 1e-12;
                mt_plot_logy(pl, 1);
                mt_plot_line(pl, f, a, r.nspec - 1, "V_out");
                free(f), free(a);
            }
            mt_rnpu_twotone_res_free(&r);
        }
    } else if (!strcmp(e, "power")) {
        int n = o.configs > 0 ? o.configs : 10;
        double *pw = malloc(sizeof(double) * (size_t)n);
        if (mt_rnpu_lab_power(d, n, o.seed, o.range, o.ndiv, pw, &err)) rc = cli_fail(&err);
        else {
            for (int i = 0; i < n; i++) pw[i] *= 1e9;
            mt_rnpu_stats s;
            mt_rnpu_stats_of(pw, n, &s);
            cJSON_AddNumberToObject(j, "configs", n);
            cJSON *sj = cJSON_CreateObject();
            cJSON_AddNumberToObject(sj, "mean", s.mean);
            cJSON_AddNumberToObject(sj, "std", s.std);
            cJSON_AddItemToObject(j, "static_nw", sj);
            cJSON_AddItemToObject(j, "per_config_nw", cJSON_CreateDoubleArray(pw, n));
            if (o.plot && (pl = mt_plot_new("Static power per control set (ED Fig. 7)", "control set", "P (nW)"))) {
                double *x = malloc(sizeof(double) * (size_t)n);
                for (int i = 0; i < n; i++) x[i] = i;
                mt_plot_points(pl, x, pw, NULL, n, "P_static");
                free(x);
            }
        }
        free(pw);
    } else if (!strcmp(e, "iv")) {
        int n = o.configs > 0 ? o.configs : 100;
        mt_rnpu_iv_res r;
        if (mt_rnpu_lab_iv(d, n, o.seed, &r, &err)) rc = cli_fail(&err);
        else {
            cJSON_AddNumberToObject(j, "configs", n);
            cJSON_AddNumberToObject(j, "ndr_fraction", r.ndr_fraction);
            double na[7];
            for (int k = 0; k < 7; k++) na[k] = r.imax_a[k] * 1e9;
            cJSON_AddItemToObject(j, "imax_na", cJSON_CreateDoubleArray(na, 7));
            if (o.plot && (pl = mt_plot_new("Output current, one electrode swept (ED Fig. 1b)", "V (V)", "I_out (nA)"))) {
                double *y = malloc(sizeof(double) * (size_t)r.npts);
                for (int k = 0; k < 7; k++) {
                    char lab[32];
                    snprintf(lab, sizeof lab, k == 0 ? "input (e%d)" : "control e%d", k);
                    for (int i = 0; i < r.npts; i++) y[i] = r.isweep[k * r.npts + i] * 1e9;
                    mt_plot_line(pl, r.v, y, r.npts, lab);
                }
                free(y);
            }
            mt_rnpu_iv_res_free(&r);
        }
    } else if (!strcmp(e, "range")) {
        int n = o.configs > 0 ? o.configs : 40;
        double rg[5] = {0.2, 0.4, 0.6, 0.8, 1.0}, mt[5];
        if (mt_rnpu_lab_range(d, rg, 5, n, o.seed, o.ndiv, mt, &err)) rc = cli_fail(&err);
        else {
            cJSON_AddNumberToObject(j, "configs", n);
            cJSON_AddItemToObject(j, "range_v", cJSON_CreateDoubleArray(rg, 5));
            cJSON_AddItemToObject(j, "median_tau_ms", cJSON_CreateDoubleArray(mt, 5));
            if (o.plot && (pl = mt_plot_new("Median tau versus control range", "control range (V)", "median tau (ms)")))
                mt_plot_line(pl, rg, mt, 5, "median tau");
        }
    }
    mt_rnpu_free(d);
    if (rc) {
        cJSON_Delete(j);
        if (pl) mt_plot_free(pl);
        return rc;
    }
    if (o.plot) {
        if (!pl) {
            cJSON_Delete(j);
            fprintf(stderr, "materia rnpu: --plot: could not build the figure\n");
            return 1;
        }
        if (pl && save_plot(pl, o.plot)) {
            cJSON_Delete(j);
            return 1;
        }
    }
    emit(j, o.json);
    return 0;
}
