/* materia aimc — the analogue in-memory computing chip: map a model onto cores (energy,
 * latency); accuracy of a trained model on the simulated PCM chip (eval) and its dependence on
 * drift time and noise (sweep). */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_aimc.h"
#include "materia/hwa.h"
#include "materia/nn.h"
#include "materia/plot.h"

static const char help[] =
    "usage: materia aimc map   --model M [--input CxT] [options]\n"
    "       materia aimc map   --layers LIST [options]\n"
    "       materia aimc eval  --model M.safetensors --features F.npy [options]\n"
    "       materia aimc sweep --model M.safetensors --features F.npy [--drift LIST]\n"
    "                          [--noise-scales LIST] [--plot FILE.png|svg] [options]\n"
    "\n"
    "map: place every analog layer (conv, linear) of a model on 256x256 crossbar cores and count\n"
    "MVMs, energy and latency from the chip's figures (docs/aimc.md).  Rules: a conv is a matrix of\n"
    "rows = C_in x kernel and columns = C_out, a linear layer in_features x out_features; each is\n"
    "split over ceil(rows/256) x ceil(cols/256) cores; a conv needs one MVM per output position on\n"
    "every core it occupies (core_mvms = positions x cores), the cores of a layer work in parallel\n"
    "(mvms = positions).  energy = core_mvms / 64 x 0.86 uJ and latency = mvms x 133 ns (HERMES,\n"
    "one-phase read, the paper's Methods).  BatchNorm, activations and pooling are digital.\n"
    "\n"
    "options:\n"
    "  --model M              zoo name (e.g. hwa6), architecture string, .json, or a .safetensors\n"
    "                         checkpoint\n"
    "  --input CxT            input shape (default: the zoo entry's or the checkpoint's)\n"
    "  --classes N            classes of a bare final \"fc\" (default: the model's)\n"
    "  --layers LIST          explicit analog layers instead of --model:\n"
    "                         conv|linear:ROWSxCOLS[@POSITIONS],... e.g.\n"
    "                         conv:512x64@1977,conv:192x256@492,linear:256x64\n"
    "  --chip NAME            hermes (one-phase read, default) | hermes-4phase\n"
    "  --core-size RxC        crossbar size of a core (default 256x256); the chip's energy per\n"
    "                         full-chip MVM and its core count stay as they are\n"
    "  --phases 1|4           read mode of the chip (4: x3.94 energy, x3.92 latency)\n"
    "  --cores-per-layer LIST override the core count of each analog layer, e.g. 2,2,6,7,1,1\n"
    "  --json                 print one JSON object\n"
    "\n"
    "eval: accuracy of a trained model on the simulated PCM chip (docs/aimc.md).  Each repeat\n"
    "programs every analog layer afresh (new programming noise and drift exponents, its own random\n"
    "stream), moves the chip to --drift-s seconds after programming (conductance drift, 1/f read\n"
    "noise, global drift compensation) and evaluates the split with per-MVM read and output noise,\n"
    "8-bit DAC and ADC; BatchNorm, activations, pooling and biases stay digital.  Printed beside it:\n"
    "the software accuracy (eval mode, exact) and, for a hardware-aware model, the noise-free\n"
    "quantised accuracy.  The DAC input ranges are those learned by hardware-aware training (the\n"
    "checkpoint's \"hwa\" metadata), else per-vector abs-max.\n"
    "sweep: eval over drift times x noise scales (each point with --repeats programmings; the\n"
    "same programming draws at every drift time), with a plot of accuracy versus drift time.\n"
    "\n"
    "eval/sweep options:\n"
    "  --model M              trained model (.safetensors)\n"
    "  --features F           feature set (.npy + .json sidecar) of the model's input shape\n"
    "  --split S              test (default), val, train or all\n"
    "  --repeats N            programmings per point (eval 10, sweep 5)\n"
    "  --drift-s T            eval: seconds after programming (3600); suffixes s m h d y allowed\n"
    "                         (1h, 30d, 1y = 365 d)\n"
    "  --drift LIST           sweep: times, e.g. 1,60,1h,1d,30d,1y (default 1,60,3600,86400,\n"
    "                         2592000,31536000)\n"
    "  --noise-scales LIST    sweep: multipliers of programming, read and output noise (default 1)\n"
    "  --seed S               random seed (0); a seed reproduces every number at any thread count\n"
    "  --pcm MODEL            pcmlike (aihwkit PCMLikeNoiseModel, default) | hermes\n"
    "  --devices 1|2          PCM devices per polarity (2, the HERMES 8T4R cell)\n"
    "  --noise-scale X        eval: multiplier of programming, read and output noise (1)\n"
    "  --drift-scale X        multiplier of the drift exponents (1; 0 = no drift)\n"
    "  --gdc MODE             drift compensation: global (default) | exact | column | none\n"
    "  --read MODE            1/f read noise: per-mvm (default) | frozen | off\n"
    "  --weight-scale MODE    digital weight scale: column (default) | tile | layer\n"
    "  --tile RxC             crossbar tile (256x256)\n"
    "  --dac-bits B           input DAC bits (8; 0 = none)\n"
    "  --adc-bits B           output ADC bits (8; 0 = none)\n"
    "  --out-bound X          ADC range in tile units (20; 0 = none, with --adc-bits 0)\n"
    "  --out-noise X          output noise per MVM in tile units (0.04)\n"
    "  --no-ranges            ignore learned input ranges: per-vector abs-max DAC scaling\n"
    "  --batch N              evaluation batch (32; results do not depend on it)\n"
    "  --plot FILE            sweep: write the figure (.png or .svg)\n"
    "  --json                 print one JSON object (eval: accuracy {mean, std, runs},\n"
    "                         software_accuracy, quantised_accuracy, config, ...)\n"
    "\n"
    "examples:\n"
    "  materia aimc map --model hwa6 --input 64x1984\n"
    "  materia aimc map --model hwa6 --input 64x1984 --cores-per-layer 2,2,6,7,1,1 --json\n"
    "  materia aimc map --layers conv:512x64@1977,linear:256x64\n"
    "  materia aimc eval --model cnn3-hwa.safetensors --features fsdd.npy --repeats 10 --drift-s 1h\n"
    "  materia aimc sweep --model cnn3-hwa.safetensors --features fsdd.npy --drift 1,1h,1d,1y \\\n"
    "      --noise-scales 0.5,1,2 --repeats 3 --plot sweep.png\n";

static int run(int argc, char **argv);
const mt_cli_command mt_cmd_aimc = {"aimc", "PCM in-memory chip: map a model onto cores; accuracy on the chip (eval, sweep)", help, run};

/* ------------------------------------------------------------------------------------------ */
/* shared helpers (cli_aimc.h)                                                                 */
/* ------------------------------------------------------------------------------------------ */

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

int cli_aimc_layers(const char *cmd, const char *model, const char *input, long classes,
                    const char *layers, mt_aimc_layer **out, int *n, char **name)
{
    mt_err e = {0};
    *out = NULL;
    *n = 0;
    *name = NULL;
    if (layers && model) return cli_usage_error(cmd, "give either --model or --layers, not both");
    if (layers) {
        if (mt_aimc_layers_parse(layers, out, n, &e)) return cli_usage_error(cmd, "%s", e.msg);
        *name = strdup("layers");
        return 0;
    }
    if (!model) return cli_usage_error(cmd, "--model (or --layers) is required");
    long c = 0, t = 0;
    if (input && cli_parse_shape(input, &c, &t))
        return cli_usage_error(cmd, "--input must be CxT with positive integers, e.g. 64x1984, got '%s'", input);
    mt_model m;
    memset(&m, 0, sizeof m);
    if (ends_with(model, ".safetensors")) {
        if (mt_model_load(model, &m, NULL, &e)) return cli_fail(&e);
        if (input && (c != m.in_c || t != m.in_t)) {
            char *arch = strdup(m.arch);
            int nc = m.nclasses;
            mt_model_free(&m);
            memset(&m, 0, sizeof m);
            mt_status s = arch ? mt_model_build(&m, arch, c, t, nc, 0, &e) : MT_ERR_NOMEM;
            free(arch);
            if (s) return cli_fail(&e);
        }
        const char *b = strrchr(model, '/');
        *name = strdup(b ? b + 1 : model);
    } else {
        char *arch = NULL;
        int nc = 0;
        if (mt_arch_resolve(model, &arch, &nc, name, &e)) return cli_fail(&e);
        if (classes > 0) nc = (int)classes;
        if (!input) {
            const mt_zoo_entry *z = mt_zoo_find(model);
            if (!z) {
                free(arch);
                free(*name);
                *name = NULL;
                return cli_usage_error(cmd, "--input CxT is required for model '%s'", model);
            }
            c = z->in_c;
            t = z->in_t;
        }
        mt_status s = mt_model_build(&m, arch, c, t, nc, 0, &e);
        free(arch);
        if (s) {
            free(*name);
            *name = NULL;
            return cli_fail(&e);
        }
    }
    mt_status s = mt_aimc_layers_from_model(&m, out, n, &e);
    mt_model_free(&m);
    if (s) {
        free(*name);
        *name = NULL;
        return cli_fail(&e);
    }
    return 0;
}

int cli_aimc_parse_cores(const char *cmd, const char *s, int n, int *cores)
{
    const char *p = s;
    for (int i = 0; i < n; i++) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 1000000 || (*end != ',' && *end != 0))
            return cli_usage_error(cmd, "--cores-per-layer: entry %d of '%s' is not a positive integer", i + 1, s);
        cores[i] = (int)v;
        if (*end == 0) {
            if (i != n - 1)
                return cli_usage_error(cmd, "--cores-per-layer has %d entries but the model has %d analog layers",
                                       i + 1, n);
            return 0;
        }
        p = end + 1;
    }
    return cli_usage_error(cmd, "--cores-per-layer has more entries than the model's %d analog layers", n);
}

int cli_aimc_map(const char *cmd, const mt_aimc_layer *L, int n, const mt_chip *chip,
                 const int *override, mt_aimc_map *map, int *natural)
{
    mt_err e = {0};
    mt_aimc_map nat;
    if (mt_aimc_map_layers(L, n, chip, NULL, &nat, &e)) return cli_fail(&e);
    for (int i = 0; i < n; i++) natural[i] = nat.layers[i].cores;
    if (!override) {
        *map = nat;
        return 0;
    }
    mt_aimc_map_free(&nat);
    if (mt_aimc_map_layers(L, n, chip, override, map, &e)) return cli_usage_error(cmd, "%s", e.msg);
    return 0;
}

static cJSON *chip_json(const mt_chip *c)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "name", c->name);
    cJSON_AddNumberToObject(j, "cores", c->cores);
    cJSON_AddNumberToObject(j, "core_rows", c->core_rows);
    cJSON_AddNumberToObject(j, "core_cols", c->core_cols);
    cJSON_AddNumberToObject(j, "read_phases", c->phases);
    cJSON_AddNumberToObject(j, "chip_mvm_energy_uj", c->chip_mvm_energy_uj);
    cJSON_AddNumberToObject(j, "mvm_latency_ns", c->mvm_latency_ns);
    return j;
}

cJSON *cli_aimc_map_json(const mt_aimc_map *m, const int *natural)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "chip", chip_json(&m->chip));
    cJSON *a = cJSON_AddArrayToObject(j, "layers");
    int over = 0, natsum = 0;
    for (int i = 0; i < m->nlayers; i++) {
        const mt_aimc_layer_map *l = &m->layers[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", l->layer.name);
        cJSON_AddStringToObject(o, "kind", l->layer.kind == MT_AIMC_CONV ? "conv" : "linear");
        cJSON_AddNumberToObject(o, "rows", (double)l->layer.rows);
        cJSON_AddNumberToObject(o, "cols", (double)l->layer.cols);
        cJSON_AddNumberToObject(o, "positions", (double)l->layer.positions);
        cJSON_AddNumberToObject(o, "row_blocks", l->row_blocks);
        cJSON_AddNumberToObject(o, "col_blocks", l->col_blocks);
        cJSON_AddNumberToObject(o, "cores", l->cores);
        cJSON_AddNumberToObject(o, "natural_cores", natural[i]);
        cJSON_AddNumberToObject(o, "core_mvms", (double)l->core_mvms);
        cJSON_AddNumberToObject(o, "mvms", (double)l->mvms);
        cJSON_AddNumberToObject(o, "utilisation", l->utilisation);
        cJSON_AddNumberToObject(o, "energy_uj", l->energy_uj);
        cJSON_AddNumberToObject(o, "latency_us", l->latency_us);
        cJSON_AddItemToArray(a, o);
        over |= l->overridden;
        natsum += natural[i];
    }
    cJSON *t = cJSON_AddObjectToObject(j, "total");
    cJSON_AddNumberToObject(t, "cores", m->cores);
    cJSON_AddNumberToObject(t, "natural_cores", natsum);
    cJSON_AddNumberToObject(t, "core_mvms", (double)m->core_mvms);
    cJSON_AddNumberToObject(t, "mvms", (double)m->mvms);
    cJSON_AddNumberToObject(t, "energy_uj", m->energy_uj);
    cJSON_AddNumberToObject(t, "latency_us", m->latency_us);
    cJSON_AddBoolToObject(t, "fits", m->fits);
    cJSON_AddBoolToObject(j, "cores_overridden", over);
    return j;
}

void cli_aimc_map_print(const mt_aimc_map *m, const int *natural)
{
    const mt_chip *c = &m->chip;
    printf("chip: %s (%s read), %d cores of %dx%d, %.4g uJ per full-chip MVM, %.4g ns per MVM\n", c->name,
           c->phases == 4 ? "four-phase" : "one-phase", c->cores, c->core_rows, c->core_cols,
           c->chip_mvm_energy_uj, c->mvm_latency_ns);
    printf("%-8s %-6s %11s %9s %6s %9s %7s %6s %10s %11s\n", "layer", "kind", "matrix", "positions",
           "cores", "core_mvms", "mvms", "util", "energy_uj", "latency_us");
    int over = 0, natsum = 0;
    for (int i = 0; i < m->nlayers; i++) {
        const mt_aimc_layer_map *l = &m->layers[i];
        char mat[32];
        snprintf(mat, sizeof mat, "%lldx%lld", (long long)l->layer.rows, (long long)l->layer.cols);
        printf("%-8s %-6s %11s %9lld %5d%s %9lld %7lld %5.1f%% %10.3f %11.3f\n", l->layer.name,
               l->layer.kind == MT_AIMC_CONV ? "conv" : "linear", mat, (long long)l->layer.positions, l->cores,
               l->overridden ? "*" : " ", (long long)l->core_mvms, (long long)l->mvms, 100 * l->utilisation,
               l->energy_uj, l->latency_us);
        over |= l->overridden;
        natsum += natural[i];
    }
    printf("%-8s %-6s %11s %9s %5d  %9lld %7lld %6s %10.3f %11.3f\n", "total", "", "", "", m->cores,
           (long long)m->core_mvms, (long long)m->mvms, "", m->energy_uj, m->latency_us);
    printf("cores: %d of %d%s\n", m->cores, c->cores, m->fits ? "" : " (does NOT fit on one chip)");
    if (over) {
        printf("* from --cores-per-layer; the natural mapping would use ");
        for (int i = 0; i < m->nlayers; i++) printf("%s%d", i ? "," : "", natural[i]);
        printf(" = %d cores\n", natsum);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* aimc map                                                                                    */
/* ------------------------------------------------------------------------------------------ */

enum { O_MODEL = 1, O_INPUT, O_CLASSES, O_LAYERS, O_CHIP, O_PHASES, O_CORES, O_CORESIZE, O_JSON, O_QUIET };

static int cmd_map(int argc, char **argv)
{
    const char *cmd = "aimc map";
    static const struct option lo[] = {
        {"model", required_argument, 0, O_MODEL},   {"input", required_argument, 0, O_INPUT},
        {"classes", required_argument, 0, O_CLASSES}, {"layers", required_argument, 0, O_LAYERS},
        {"chip", required_argument, 0, O_CHIP},     {"phases", required_argument, 0, O_PHASES},
        {"cores-per-layer", required_argument, 0, O_CORES}, {"core-size", required_argument, 0, O_CORESIZE}, {"json", no_argument, 0, O_JSON},
        {"quiet", no_argument, 0, O_QUIET},         {0, 0, 0, 0}};
    const char *model = NULL, *input = NULL, *layers = NULL, *chipname = "hermes", *cores = NULL, *coresize = NULL;
    long classes = 0, phases = 0;
    int json = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case O_MODEL: model = optarg; break;
        case O_INPUT: input = optarg; break;
        case O_CLASSES:
            if (cli_parse_int(optarg, &classes) || classes < 1 || classes > 100000)
                return cli_usage_error(cmd, "--classes must be a positive integer, got '%s'", optarg);
            break;
        case O_LAYERS: layers = optarg; break;
        case O_CHIP: chipname = optarg; break;
        case O_PHASES:
            if (cli_parse_int(optarg, &phases) || (phases != 1 && phases != 4))
                return cli_usage_error(cmd, "--phases must be 1 or 4, got '%s'", optarg);
            break;
        case O_CORES: cores = optarg; break;
        case O_CORESIZE: coresize = optarg; break;
        case O_JSON: json = 1; break;
        case O_QUIET: break;
        default:
            return cli_usage_error(cmd, "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    mt_err e = {0};
    mt_chip chip;
    if (mt_chip_by_name(&chip, chipname, &e)) return cli_usage_error(cmd, "--chip: %s", e.msg);
    if (phases && mt_chip_hermes(&chip, (int)phases, &e)) return cli_usage_error(cmd, "%s", e.msg);
    if (coresize) {
        long cr, cc;
        if (cli_parse_shape(coresize, &cr, &cc) || cr > 65536 || cc > 65536)
            return cli_usage_error(cmd, "--core-size must be RxC with integers in [1, 65536], got '%s'", coresize);
        chip.core_rows = (int)cr;
        chip.core_cols = (int)cc;
    }
    mt_aimc_layer *L;
    int n;
    char *name;
    int rc = cli_aimc_layers(cmd, model, input, classes, layers, &L, &n, &name);
    if (rc) return rc;
    int *ov = NULL, *nat = calloc((size_t)n, sizeof(int));
    if (cores) {
        ov = calloc((size_t)n, sizeof(int));
        if (!ov || (rc = cli_aimc_parse_cores(cmd, cores, n, ov))) goto done;
    }
    mt_aimc_map map;
    if ((rc = cli_aimc_map(cmd, L, n, &chip, ov, &map, nat))) goto done;
    if (json) {
        cJSON *j = cli_aimc_map_json(&map, nat);
        cJSON_AddStringToObject(j, "model", name);
        cli_print_json(j);
    } else {
        printf("model: %s, %d analog layers\n", name, n);
        cli_aimc_map_print(&map, nat);
    }
    mt_aimc_map_free(&map);
done:
    free(ov);
    free(nat);
    free(L);
    free(name);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* aimc eval / aimc sweep                                                                      */
/* ------------------------------------------------------------------------------------------ */

/* "3600", "1h", "30d", "1y" → seconds (s, m = minute, h, d, w, y = 365 d); finite, >= 0. */
static int parse_seconds(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s) return 1;
    double mul = 1;
    if (*end) {
        if (!strcmp(end, "s")) mul = 1;
        else if (!strcmp(end, "m") || !strcmp(end, "min")) mul = 60;
        else if (!strcmp(end, "h")) mul = 3600;
        else if (!strcmp(end, "d")) mul = 86400;
        else if (!strcmp(end, "w")) mul = 7 * 86400.0;
        else if (!strcmp(end, "y")) mul = 365 * 86400.0;
        else return 1;
    }
    v *= mul;
    if (!isfinite(v) || v < 0 || v > 1e12) return 1;
    *out = v;
    return 0;
}

/* Comma list of seconds or of plain numbers (noise scales); *n entries, malloc'd. */
static int parse_list(const char *s, int seconds, double **out, int *n)
{
    *out = NULL;
    *n = 0;
    char *buf = strdup(s);
    if (!buf) return 1;
    int cap = 1;
    for (const char *p = s; *p; p++) cap += *p == ',';
    double *v = malloc((size_t)cap * sizeof *v);
    int k = 0, bad = !v;
    for (char *sv, *t = strtok_r(buf, ",", &sv); t && !bad; t = strtok_r(NULL, ",", &sv)) {
        double x;
        if (seconds) bad = parse_seconds(t, &x);
        else bad = cli_parse_double(t, &x) || !isfinite(x) || x < 0 || x > 100;
        if (!bad) v[k++] = x;
    }
    free(buf);
    if (bad || k == 0 || k != cap) {
        free(v);
        return 1;
    }
    *out = v;
    *n = k;
    return 0;
}

static void fmt_time(char *b, size_t n, double t)
{
    if (t >= 365 * 86400.0) snprintf(b, n, "%.3g y", t / (365 * 86400.0));
    else if (t >= 86400) snprintf(b, n, "%.3g d", t / 86400);
    else if (t >= 3600) snprintf(b, n, "%.3g h", t / 3600);
    else if (t >= 60) snprintf(b, n, "%.3g min", t / 60);
    else snprintf(b, n, "%.3g s", t);
}

static void mean_std(const double *v, int n, double *mean, double *sd)
{
    double s = 0, q = 0;
    for (int i = 0; i < n; i++) s += v[i];
    *mean = s / n;
    for (int i = 0; i < n; i++) q += (v[i] - *mean) * (v[i] - *mean);
    *sd = n > 1 ? sqrt(q / (n - 1)) : 0.0; /* sample standard deviation */
}

static cJSON *stats_json(const double *v, int n)
{
    double m, sd;
    mean_std(v, n, &m, &sd);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "mean", m);
    cJSON_AddNumberToObject(j, "std", sd);
    cJSON *a = cJSON_AddArrayToObject(j, "runs");
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return j;
}

static const char *gdc_name(mt_aimc_gdc g)
{
    return g == MT_AIMC_GDC_GLOBAL ? "global" : g == MT_AIMC_GDC_GLOBAL_EXACT ? "exact"
                                           : g == MT_AIMC_GDC_COLUMN ? "column" : "none";
}
static const char *read_name(mt_aimc_read r)
{
    return r == MT_AIMC_READ_PER_MVM ? "per-mvm" : r == MT_AIMC_READ_FROZEN ? "frozen" : "off";
}
static const char *scale_name(mt_aimc_scale s)
{
    return s == MT_AIMC_SCALE_COLUMN ? "column" : s == MT_AIMC_SCALE_TILE ? "tile" : "layer";
}

static cJSON *config_json(const mt_aimc_eval_opts *o, const mt_model *m, const float *ranges, int nranges)
{
    const mt_aimc_params *p = &o->params;
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "pcm", mt_pcm_model_name(p->pcm.model));
    cJSON_AddNumberToObject(c, "devices", p->pcm.devices);
    cJSON_AddNumberToObject(c, "g_max_us", p->pcm.g_max);
    cJSON_AddNumberToObject(c, "t0_s", p->pcm.t0);
    cJSON_AddNumberToObject(c, "drift_scale", p->pcm.drift_scale);
    cJSON_AddNumberToObject(c, "noise_scale", p->noise_scale);
    cJSON_AddNumberToObject(c, "repeats", o->repeats);
    cJSON_AddNumberToObject(c, "seed", (double)o->seed);
    cJSON_AddStringToObject(c, "gdc", gdc_name(p->gdc));
    cJSON_AddStringToObject(c, "read_noise", read_name(p->read));
    cJSON_AddStringToObject(c, "weight_scale", scale_name(p->scale));
    cJSON *t = cJSON_AddArrayToObject(c, "tile");
    cJSON_AddItemToArray(t, cJSON_CreateNumber(p->tile_rows));
    cJSON_AddItemToArray(t, cJSON_CreateNumber(p->tile_cols));
    cJSON_AddNumberToObject(c, "dac_bits", p->dac_bits);
    cJSON_AddNumberToObject(c, "adc_bits", p->adc_bits);
    cJSON_AddNumberToObject(c, "out_bound", p->out_bound);
    cJSON_AddNumberToObject(c, "out_noise", p->out_noise);
    cJSON_AddStringToObject(c, "input_ranges", nranges ? "learned (hwa)" : "per-vector abs-max");
    if (nranges) {
        cJSON *r = cJSON_AddObjectToObject(c, "ranges");
        for (int l = 0; l < m->nlayers; l++)
            if (ranges[l] > 0) cJSON_AddNumberToObject(r, m->layers[l].name, ranges[l]);
    }
    return c;
}

/* progress of a sweep: repeats of one point mapped onto the whole sweep */
typedef struct sweep_progress {
    cli_progress *bar;
    int64_t done_before, total;
} sweep_progress;

static void sweep_progress_cb(void *ctx, const char *stage, int64_t done, int64_t total)
{
    (void)stage;
    (void)total;
    sweep_progress *s = ctx;
    cli_progress_cb(s->bar, NULL, s->done_before + done, s->total);
}

enum { E_MODEL = 1, E_FEAT, E_SPLIT, E_REPEATS, E_DRIFT_S, E_DRIFT, E_NOISES, E_SEED, E_PCM, E_DEVICES,
       E_NOISE, E_DRIFTSCALE, E_GDC, E_READ, E_WSCALE, E_TILE, E_DAC, E_ADC, E_OBOUND, E_ONOISE, E_NORANGES,
       E_BATCH, E_PLOT, E_JSON, E_QUIET };

static int cmd_eval_sweep(int argc, char **argv, int sweep)
{
    const char *cmd = sweep ? "aimc sweep" : "aimc eval";
    static const struct option lo[] = {
        {"model", required_argument, 0, E_MODEL},       {"features", required_argument, 0, E_FEAT},
        {"split", required_argument, 0, E_SPLIT},       {"repeats", required_argument, 0, E_REPEATS},
        {"drift-s", required_argument, 0, E_DRIFT_S},   {"drift", required_argument, 0, E_DRIFT},
        {"noise-scales", required_argument, 0, E_NOISES}, {"seed", required_argument, 0, E_SEED},
        {"pcm", required_argument, 0, E_PCM},           {"devices", required_argument, 0, E_DEVICES},
        {"noise-scale", required_argument, 0, E_NOISE}, {"drift-scale", required_argument, 0, E_DRIFTSCALE},
        {"gdc", required_argument, 0, E_GDC},           {"read", required_argument, 0, E_READ},
        {"weight-scale", required_argument, 0, E_WSCALE}, {"tile", required_argument, 0, E_TILE},
        {"dac-bits", required_argument, 0, E_DAC},      {"adc-bits", required_argument, 0, E_ADC},
        {"out-bound", required_argument, 0, E_OBOUND},  {"out-noise", required_argument, 0, E_ONOISE},
        {"no-ranges", no_argument, 0, E_NORANGES},      {"batch", required_argument, 0, E_BATCH},
        {"plot", required_argument, 0, E_PLOT},         {"json", no_argument, 0, E_JSON},
        {"quiet", no_argument, 0, E_QUIET},             {0, 0, 0, 0}};
    const char *model = NULL, *feat = NULL, *plot = NULL, *drift_list = NULL, *noise_list = NULL;
    mt_aimc_eval_opts eo;
    mt_aimc_eval_opts_default(&eo);
    eo.repeats = sweep ? 5 : 10;
    /* Every option starts from the library's defaults (mt_aimc_eval_opts_default, and through it
     * mt_aimc_params_default): one source of truth for the chip `materia run` also uses. */
    const mt_aimc_params *dp = &eo.params;
    mt_pcm_model pcm = dp->pcm.model;
    long devices = dp->pcm.devices, repeats = eo.repeats, batch = eo.batch, dac = dp->dac_bits, adc = dp->adc_bits;
    double noise = dp->noise_scale, drift_scale = dp->pcm.drift_scale, obound = dp->out_bound,
           onoise = dp->out_noise, t_inf = eo.t_inf;
    int json = 0, noranges = 0, c, split = eo.split;
    mt_aimc_gdc gdc = dp->gdc;
    mt_aimc_read rd = dp->read;
    mt_aimc_scale ws = dp->scale;
    long tr = dp->tile_rows, tc = dp->tile_cols;
    mt_err e = {0};
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case E_MODEL: model = optarg; break;
        case E_FEAT: feat = optarg; break;
        case E_SPLIT:
            if (!strcmp(optarg, "test")) split = MT_SPLIT_TEST;
            else if (!strcmp(optarg, "val")) split = MT_SPLIT_VAL;
            else if (!strcmp(optarg, "train")) split = MT_SPLIT_TRAIN;
            else if (!strcmp(optarg, "all")) split = -1;
            else return cli_usage_error(cmd, "--split must be test, val, train or all, got '%s'", optarg);
            break;
        case E_REPEATS:
            if (cli_parse_int(optarg, &repeats) || repeats < 1 || repeats > 100000)
                return cli_usage_error(cmd, "--repeats must be an integer in [1, 100000], got '%s'", optarg);
            break;
        case E_DRIFT_S:
            if (sweep) return cli_usage_error(cmd, "--drift-s is for eval; a sweep takes --drift LIST");
            if (parse_seconds(optarg, &t_inf))
                return cli_usage_error(cmd, "--drift-s must be a time >= 0 (e.g. 3600, 1h, 30d), got '%s'", optarg);
            break;
        case E_DRIFT:
            if (!sweep) return cli_usage_error(cmd, "--drift LIST is for sweep; eval takes --drift-s T");
            drift_list = optarg;
            break;
        case E_NOISES:
            if (!sweep) return cli_usage_error(cmd, "--noise-scales is for sweep; eval takes --noise-scale X");
            noise_list = optarg;
            break;
        case E_SEED: {
            long v;
            if (cli_parse_int(optarg, &v) || v < 0)
                return cli_usage_error(cmd, "--seed must be a non-negative integer, got '%s'", optarg);
            eo.seed = (uint64_t)v;
            break;
        }
        case E_PCM:
            if (mt_pcm_model_parse(optarg, &pcm, &e)) return cli_usage_error(cmd, "--pcm: %s", e.msg);
            break;
        case E_DEVICES:
            if (cli_parse_int(optarg, &devices) || (devices != 1 && devices != 2))
                return cli_usage_error(cmd, "--devices must be 1 or 2, got '%s'", optarg);
            break;
        case E_NOISE:
            if (sweep) return cli_usage_error(cmd, "--noise-scale is for eval; a sweep takes --noise-scales LIST");
            if (cli_parse_double(optarg, &noise) || !isfinite(noise) || noise < 0 || noise > 100)
                return cli_usage_error(cmd, "--noise-scale must be a number in [0, 100], got '%s'", optarg);
            break;
        case E_DRIFTSCALE:
            if (cli_parse_double(optarg, &drift_scale) || !isfinite(drift_scale) || drift_scale < 0 || drift_scale > 100)
                return cli_usage_error(cmd, "--drift-scale must be a number in [0, 100], got '%s'", optarg);
            break;
        case E_GDC:
            if (!strcmp(optarg, "global")) gdc = MT_AIMC_GDC_GLOBAL;
            else if (!strcmp(optarg, "exact")) gdc = MT_AIMC_GDC_GLOBAL_EXACT;
            else if (!strcmp(optarg, "column")) gdc = MT_AIMC_GDC_COLUMN;
            else if (!strcmp(optarg, "none")) gdc = MT_AIMC_GDC_NONE;
            else return cli_usage_error(cmd, "--gdc must be global, exact, column or none, got '%s'", optarg);
            break;
        case E_READ:
            if (!strcmp(optarg, "per-mvm")) rd = MT_AIMC_READ_PER_MVM;
            else if (!strcmp(optarg, "frozen")) rd = MT_AIMC_READ_FROZEN;
            else if (!strcmp(optarg, "off")) rd = MT_AIMC_READ_OFF;
            else return cli_usage_error(cmd, "--read must be per-mvm, frozen or off, got '%s'", optarg);
            break;
        case E_WSCALE:
            if (!strcmp(optarg, "column")) ws = MT_AIMC_SCALE_COLUMN;
            else if (!strcmp(optarg, "tile")) ws = MT_AIMC_SCALE_TILE;
            else if (!strcmp(optarg, "layer")) ws = MT_AIMC_SCALE_LAYER;
            else return cli_usage_error(cmd, "--weight-scale must be column, tile or layer, got '%s'", optarg);
            break;
        case E_TILE:
            if (cli_parse_shape(optarg, &tr, &tc) || tr > 65536 || tc > 65536)
                return cli_usage_error(cmd, "--tile must be RxC with integers in [1, 65536], got '%s'", optarg);
            break;
        case E_DAC:
            if (cli_parse_int(optarg, &dac) || dac < 0 || dac == 1 || dac > 24)
                return cli_usage_error(cmd, "--dac-bits must be 0 or in [2, 24], got '%s'", optarg);
            break;
        case E_ADC:
            if (cli_parse_int(optarg, &adc) || adc < 0 || adc == 1 || adc > 24)
                return cli_usage_error(cmd, "--adc-bits must be 0 or in [2, 24], got '%s'", optarg);
            break;
        case E_OBOUND:
            if (cli_parse_double(optarg, &obound) || !isfinite(obound) || obound < 0)
                return cli_usage_error(cmd, "--out-bound must be a number >= 0, got '%s'", optarg);
            break;
        case E_ONOISE:
            if (cli_parse_double(optarg, &onoise) || !isfinite(onoise) || onoise < 0 || onoise > 100)
                return cli_usage_error(cmd, "--out-noise must be a number in [0, 100], got '%s'", optarg);
            break;
        case E_NORANGES: noranges = 1; break;
        case E_BATCH:
            if (cli_parse_int(optarg, &batch) || batch < 1 || batch > 65536)
                return cli_usage_error(cmd, "--batch must be in [1, 65536], got '%s'", optarg);
            break;
        case E_PLOT:
            if (!sweep) return cli_usage_error(cmd, "--plot is for sweep");
            plot = optarg;
            break;
        case E_JSON: json = 1; break;
        case E_QUIET: break;
        default:
            if (c == '?' && optopt) return cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
            return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!model) return cli_usage_error(cmd, "--model is required");
    if (!feat) return cli_usage_error(cmd, "--features is required");
    if (adc > 0 && !(obound > 0)) return cli_usage_error(cmd, "--adc-bits needs --out-bound > 0");
    if (plot) {
        const char *dot = strrchr(plot, '.');
        if (!dot || (strcmp(dot, ".png") && strcmp(dot, ".svg")))
            return cli_usage_error(cmd, "--plot must end in .png or .svg, got '%s'", plot);
    }
    double *drifts = NULL, *noises = NULL;
    int ndrift = 1, nnoise = 1;
    if (sweep) {
        if (parse_list(drift_list ? drift_list : "1,60,3600,86400,2592000,31536000", 1, &drifts, &ndrift))
            return cli_usage_error(cmd, "--drift must be a comma list of times >= 0 (e.g. 1,60,1h,1d,1y), got '%s'",
                                   drift_list);
        if (parse_list(noise_list ? noise_list : "1", 0, &noises, &nnoise)) {
            free(drifts);
            return cli_usage_error(cmd, "--noise-scales must be a comma list of numbers in [0, 100], got '%s'",
                                   noise_list);
        }
    }

    /* chip parameters */
    mt_aimc_params *p = &eo.params;
    mt_aimc_params_default(p);
    mt_pcm_params_default(&p->pcm, pcm, (int)devices);
    p->pcm.drift_scale = drift_scale;
    p->noise_scale = noise;
    p->gdc = gdc;
    p->read = rd;
    p->scale = ws;
    p->tile_rows = (int)tr;
    p->tile_cols = (int)tc;
    p->dac_bits = (int)dac;
    p->adc_bits = (int)adc;
    p->out_bound = obound;
    p->out_noise = onoise;
    eo.repeats = (int)repeats;
    eo.split = split;
    eo.batch = (int)batch;
    eo.t_inf = t_inf;

    int rc = 1;
    mt_model m;
    memset(&m, 0, sizeof m);
    mt_features f;
    memset(&f, 0, sizeof f);
    char *meta = NULL;
    float *ranges = NULL;
    double *acc = NULL, *f1 = NULL, *pts = NULL;
    cJSON *out = NULL;
    mt_plot *fig = NULL;
    if (mt_aimc_params_check(p, &e)) {
        rc = cli_usage_error(cmd, "%s", e.msg);
        goto done;
    }
    if (mt_model_load(model, &m, &meta, &e) || mt_features_load(feat, &f, &e)) {
        rc = cli_fail(&e);
        goto done;
    }
    if (f.c != m.in_c || f.t != m.in_t) {
        fprintf(stderr, "materia %s: %s has items of %lldx%lld but %s expects %lldx%lld\n", cmd, feat,
                (long long)f.c, (long long)f.t, model, (long long)m.in_c, (long long)m.in_t);
        goto done;
    }
    ranges = calloc((size_t)m.nlayers, sizeof *ranges);
    acc = malloc((size_t)repeats * sizeof *acc);
    f1 = malloc((size_t)repeats * sizeof *f1);
    pts = malloc((size_t)(3 * ndrift * nnoise) * sizeof *pts);
    if (!ranges || !acc || !f1 || !pts) {
        mt_err_set(&e, MT_ERR_NOMEM, "out of memory");
        rc = cli_fail(&e);
        goto done;
    }
    int nranges = 0;
    mt_hwa_infer inf;
    if (mt_hwa_ranges_from_meta(meta, &m, ranges, &inf, &nranges, &e)) {
        mt_err_prefix(&e, e.code, "%s", model);
        rc = cli_fail(&e);
        goto done;
    }
    if (noranges) {
        nranges = 0;
        memset(ranges, 0, (size_t)m.nlayers * sizeof *ranges);
    }
    eo.input_ranges = nranges ? ranges : NULL;

    /* software (exact) and, for an HWA model, the noise-free quantised accuracy */
    double t0 = cli_now();
    mt_eval_result ev;
    if (mt_model_evaluate(&m, &f, split, (int)batch, &ev, &e)) {
        mt_err_prefix(&e, e.code, "%s", feat);
        rc = cli_fail(&e);
        goto done;
    }
    double sw = ev.accuracy, swf1 = ev.weighted_f1;
    int64_t nitems = ev.n;
    mt_eval_result_free(&ev);
    double qacc = NAN;
    if (nranges) {
        m.hooks.ctx = &inf;
        m.hooks.matmul = mt_hwa_matmul;
        mt_status s = mt_model_evaluate(&m, &f, split, (int)batch, &ev, &e);
        memset(&m.hooks, 0, sizeof m.hooks);
        if (s) {
            rc = cli_fail(&e);
            goto done;
        }
        qacc = ev.accuracy;
        mt_eval_result_free(&ev);
    }

    cli_progress bar;
    cli_progress_init(&bar, sweep ? "sweep" : "repeats");
    sweep_progress sp = {&bar, 0, (int64_t)repeats * ndrift * nnoise};
    eo.progress.fn = sweep_progress_cb;
    eo.progress.ctx = &sp;
    char tb[32];
    if (!sweep) {
        mt_status s = mt_aimc_evaluate(&m, &f, &eo, acc, f1, &e);
        cli_progress_done(&bar);
        if (s) {
            rc = cli_fail(&e);
            goto done;
        }
        double mean, sd, fm, fs;
        mean_std(acc, (int)repeats, &mean, &sd);
        mean_std(f1, (int)repeats, &fm, &fs);
        double secs = cli_now() - t0;
        if (json) {
            out = cJSON_CreateObject();
            cJSON_AddStringToObject(out, "model", model);
            cJSON_AddStringToObject(out, "features", feat);
            cJSON_AddStringToObject(out, "split", split < 0 ? "all" : split == MT_SPLIT_TEST ? "test"
                                                  : split == MT_SPLIT_VAL ? "val" : "train");
            cJSON_AddNumberToObject(out, "n", (double)nitems);
            cJSON_AddNumberToObject(out, "drift_s", t_inf);
            cJSON_AddItemToObject(out, "accuracy", stats_json(acc, (int)repeats));
            cJSON_AddItemToObject(out, "weighted_f1", stats_json(f1, (int)repeats));
            cJSON_AddNumberToObject(out, "software_accuracy", sw);
            cJSON_AddNumberToObject(out, "software_weighted_f1", swf1);
            if (nranges) cJSON_AddNumberToObject(out, "quantised_accuracy", qacc);
            else cJSON_AddNullToObject(out, "quantised_accuracy");
            cJSON_AddItemToObject(out, "config", config_json(&eo, &m, ranges, nranges));
            cJSON_AddNumberToObject(out, "seconds", secs);
            cli_print_json(out);
            out = NULL;
        } else {
            fmt_time(tb, sizeof tb, t_inf);
            printf("model: %s (%s), %lld %s items of %s\n", model, m.arch, (long long)nitems,
                   split < 0 ? "(all)" : split == MT_SPLIT_TEST ? "test" : split == MT_SPLIT_VAL ? "val" : "train",
                   feat);
            printf("chip: %s, %d device%s per polarity, GDC %s, read noise %s, DAC %d bit, ADC %d bit (+-%g), "
                   "noise x%g\n",
                   mt_pcm_model_name(pcm), (int)devices, devices > 1 ? "s" : "", gdc_name(gdc), read_name(rd), (int)dac,
                   (int)adc, obound, noise);
            printf("DAC input ranges: %s\n", nranges ? "learned by hardware-aware training" : "per-vector abs-max");
            printf("software accuracy:        %.4f  (eval mode, exact)\n", sw);
            if (nranges) printf("quantised (noise-free):   %.4f  (%d-bit inputs at the learned ranges)\n", qacc, inf.inp_bits);
            printf("PCM accuracy at %-8s  %.4f +- %.4f  (mean +- std over %ld programmings)\n", tb, mean, sd, repeats);
            printf("runs:");
            for (int r = 0; r < repeats; r++) printf(" %.4f", acc[r]);
            printf("\n(%.1f s)\n", secs);
        }
        rc = 0;
        goto done;
    }

    /* sweep */
    for (int a = 0; a < nnoise; a++)
        for (int b = 0; b < ndrift; b++) {
            eo.params.noise_scale = noises[a];
            eo.t_inf = drifts[b];
            sp.done_before = (int64_t)(a * ndrift + b) * repeats;
            mt_status s = mt_aimc_evaluate(&m, &f, &eo, acc, NULL, &e);
            if (s) {
                cli_progress_done(&bar);
                rc = cli_fail(&e);
                goto done;
            }
            double *q = pts + 3 * (a * ndrift + b);
            mean_std(acc, (int)repeats, &q[0], &q[1]);
            q[2] = 0;
        }
    cli_progress_done(&bar);
    double secs = cli_now() - t0;
    if (plot) {
        fig = mt_plot_new("Accuracy on the PCM chip versus drift time", "time after programming (s)",
                          "accuracy (%)");
        if (!fig) {
            mt_err_set(&e, MT_ERR_NOMEM, "out of memory");
            rc = cli_fail(&e);
            goto done;
        }
        mt_plot_logx(fig, 1);
        double *xs = malloc((size_t)ndrift * sizeof *xs), *ys = malloc((size_t)ndrift * sizeof *ys),
               *es = malloc((size_t)ndrift * sizeof *es);
        if (!xs || !ys || !es) {
            free(xs), free(ys), free(es);
            mt_err_set(&e, MT_ERR_NOMEM, "out of memory");
            rc = cli_fail(&e);
            goto done;
        }
        for (int b = 0; b < ndrift; b++) xs[b] = drifts[b] > 0 ? drifts[b] : 0.1; /* log axis: t = 0 at 0.1 s */
        for (int a = 0; a < nnoise; a++) {
            char lab[64];
            snprintf(lab, sizeof lab, "PCM, noise x%g (mean +- std, %ld runs)", noises[a], repeats);
            for (int b = 0; b < ndrift; b++) {
                ys[b] = 100 * pts[3 * (a * ndrift + b)];
                es[b] = 100 * pts[3 * (a * ndrift + b) + 1];
            }
            mt_plot_points(fig, xs, ys, es, ndrift, lab); /* one colour per series: no joining line */
        }
        double sx[2] = {xs[0], xs[ndrift - 1]}, sy[2] = {100 * sw, 100 * sw};
        if (ndrift > 1) mt_plot_line(fig, sx, sy, 2, "software (exact)");
        if (nranges) {
            double qy[2] = {100 * qacc, 100 * qacc};
            if (ndrift > 1) mt_plot_line(fig, sx, qy, 2, "quantised, noise-free");
        }
        free(xs), free(ys), free(es);
        if (mt_plot_save(fig, plot, &e)) {
            rc = cli_fail(&e);
            goto done;
        }
    }
    if (json) {
        out = cJSON_CreateObject();
        cJSON_AddStringToObject(out, "model", model);
        cJSON_AddStringToObject(out, "features", feat);
        cJSON_AddNumberToObject(out, "n", (double)nitems);
        cJSON_AddNumberToObject(out, "software_accuracy", sw);
        if (nranges) cJSON_AddNumberToObject(out, "quantised_accuracy", qacc);
        else cJSON_AddNullToObject(out, "quantised_accuracy");
        cJSON *dj = cJSON_AddArrayToObject(out, "drift_s");
        for (int b = 0; b < ndrift; b++) cJSON_AddItemToArray(dj, cJSON_CreateNumber(drifts[b]));
        cJSON *nj = cJSON_AddArrayToObject(out, "noise_scales");
        for (int a = 0; a < nnoise; a++) cJSON_AddItemToArray(nj, cJSON_CreateNumber(noises[a]));
        cJSON *pj = cJSON_AddArrayToObject(out, "points");
        for (int a = 0; a < nnoise; a++)
            for (int b = 0; b < ndrift; b++) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddNumberToObject(o, "noise_scale", noises[a]);
                cJSON_AddNumberToObject(o, "drift_s", drifts[b]);
                cJSON_AddNumberToObject(o, "mean", pts[3 * (a * ndrift + b)]);
                cJSON_AddNumberToObject(o, "std", pts[3 * (a * ndrift + b) + 1]);
                cJSON_AddItemToArray(pj, o);
            }
        eo.params.noise_scale = 1;
        cJSON *cfg = config_json(&eo, &m, ranges, nranges);
        cJSON_DeleteItemFromObjectCaseSensitive(cfg, "noise_scale");
        cJSON_AddItemToObject(out, "config", cfg);
        if (plot) cJSON_AddStringToObject(out, "plot", plot);
        else cJSON_AddNullToObject(out, "plot");
        cJSON_AddNumberToObject(out, "seconds", secs);
        cli_print_json(out);
        out = NULL;
    } else {
        printf("model: %s (%s), %lld items; software accuracy %.4f", model, m.arch, (long long)nitems, sw);
        if (nranges) printf(", quantised (noise-free) %.4f", qacc);
        printf("\nPCM accuracy, mean +- std over %ld programmings:\n%-10s", repeats, "noise \\ t");
        for (int b = 0; b < ndrift; b++) {
            fmt_time(tb, sizeof tb, drifts[b]);
            printf(" %15s", tb);
        }
        printf("\n");
        for (int a = 0; a < nnoise; a++) {
            printf("x%-9g", noises[a]);
            for (int b = 0; b < ndrift; b++)
                printf("  %6.4f+-%6.4f", pts[3 * (a * ndrift + b)], pts[3 * (a * ndrift + b) + 1]);
            printf("\n");
        }
        if (plot) printf("plot: %s\n", plot);
        printf("(%.1f s)\n", secs);
    }
    rc = 0;
done:
    cJSON_Delete(out);
    mt_plot_free(fig);
    free(drifts), free(noises), free(ranges), free(acc), free(f1), free(pts), free(meta);
    mt_features_free(&f);
    mt_model_free(&m);
    return rc;
}
static int run(int argc, char **argv)
{
    if (argc < 2 || (argv[1][0] == '-' && strcmp(argv[1], "--help") && strcmp(argv[1], "-h")))
        return cli_usage_error("aimc", "missing sub-command (map | eval | sweep)");
    if (cli_wants_help(&mt_cmd_aimc, argc, argv)) return 0;
    const char *sub = argv[1];
    if (strcmp(sub, "map") == 0) return cmd_map(argc - 1, argv + 1);
    if (strcmp(sub, "eval") == 0) return cmd_eval_sweep(argc - 1, argv + 1, 0);
    if (strcmp(sub, "sweep") == 0) return cmd_eval_sweep(argc - 1, argv + 1, 1);
    return cli_usage_error("aimc", "unknown sub-command '%s' (map | eval | sweep)", sub);
}
