/* materia energy — whole-system energy, latency and energy-delay product of one inference:
 * RNPU front-end + ADC interface + AIMC classifier, beside published reference systems. */
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_aimc.h"
#include "materia/io.h"

static const char help[] =
    "usage: materia energy --model M [--input CxT] [--channels C] [options]\n"
    "       materia energy --layers LIST [options]\n"
    "\n"
    "Energy of one 1-s inference of the whole system (docs/aimc.md, 'System energy'):\n"
    "  RNPU front-end   channels x static power x duration      (paper: 5 nW per RNPU, 64 -> 320 nJ)\n"
    "  ADC interface    channels x rate x duration x FoM x 2^bits  (Walden figure of merit; the paper\n"
    "                   gives no number, so the default 5 fJ/step is an assumption - set your own)\n"
    "  AIMC classifier  the chip mapping of `materia aimc map` (0.86 uJ per 64 core-MVMs)\n"
    "with the latency (the classifier's; the RNPU works in real time) and the energy-delay\n"
    "product, beside the reference systems of the paper's Extended Data Table 2 as far as their\n"
    "figures are published (data/edt2_reference_systems.json, each figure with its source).\n"
    "\n"
    "options:\n"
    "  --model M              zoo name (e.g. hwa6), architecture string, .json or .safetensors\n"
    "  --input CxT            model input shape (default: the zoo entry's / the checkpoint's)\n"
    "  --classes N            classes of a bare final \"fc\" (default: the model's)\n"
    "  --layers LIST          explicit analog layers instead of --model (see `materia aimc --help`)\n"
    "  --channels C           RNPU channels (default 64)\n"
    "  --duration S           seconds of audio per inference (default 1)\n"
    "  --rnpu-power-nw P      static power per RNPU in nW (default 5; measured 1.9)\n"
    "  --adc-rate HZ          interface conversions per second per channel (default 12500: the ADC\n"
    "                         samples at 12.5 kS/s and averages 10 -> 1250 features/s)\n"
    "  --adc-bits B           interface ADC resolution (default 8)\n"
    "  --adc-fom-fj F         Walden FoM in fJ per conversion step (default 5, an assumption)\n"
    "  --chip NAME            hermes (default) | hermes-4phase\n"
    "  --core-size RxC        crossbar size of a core (default 256x256); the chip's energy per\n"
    "                         full-chip MVM and its core count stay as they are\n"
    "  --phases 1|4           read mode of the chip\n"
    "  --cores-per-layer LIST core count per analog layer (e.g. 2,2,6,7,1,1, the paper's)\n"
    "  --reference FILE       reference-systems JSON (default: data/edt2_reference_systems.json\n"
    "                         next to the program, then in the current directory; $MATERIA_DATA)\n"
    "  --no-reference         do not print the reference systems\n"
    "  --json                 print one JSON object\n"
    "\n"
    "example:\n"
    "  materia energy --model hwa6 --channels 64 --cores-per-layer 2,2,6,7,1,1\n";

static int run(int argc, char **argv);
const mt_cli_command mt_cmd_energy = {"energy", "system energy, latency and EDP per inference vs published systems", help, run};

enum { O_MODEL = 1, O_INPUT, O_CLASSES, O_LAYERS, O_CHANNELS, O_DURATION, O_RNPU, O_ADCRATE, O_ADCBITS,
       O_FOM, O_CHIP, O_PHASES, O_CORES, O_CORESIZE, O_REF, O_NOREF, O_JSON, O_QUIET };

static int file_exists(const char *p) { return access(p, R_OK) == 0; }

/* Default reference file: $MATERIA_DATA/, <program dir>/../data/, <program dir>/data/, ./data/. */
static char *find_reference(void)
{
    static const char *fn = "edt2_reference_systems.json";
    char buf[PATH_MAX + 64];
    const char *d = getenv("MATERIA_DATA");
    if (d && *d) {
        snprintf(buf, sizeof buf, "%s/%s", d, fn);
        if (file_exists(buf)) return strdup(buf);
    }
    char exe[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k > 0) {
        exe[k] = 0;
        char *s = strrchr(exe, '/');
        if (s) {
            *s = 0;
            snprintf(buf, sizeof buf, "%s/../data/%s", exe, fn);
            if (file_exists(buf)) return strdup(buf);
            snprintf(buf, sizeof buf, "%s/data/%s", exe, fn);
            if (file_exists(buf)) return strdup(buf);
        }
    }
    snprintf(buf, sizeof buf, "data/%s", fn);
    return file_exists(buf) ? strdup(buf) : NULL;
}

/* Load and validate the reference file: {"systems": [{"name": str, "energy_uj": num|null,
 * "latency_ms": num|null, "source": str, ...}]}.  Returns NULL and fills e on error. */
static cJSON *load_reference(const char *path, mt_err *e)
{
    void *buf;
    size_t len;
    if (mt_file_read_all(path, &buf, &len, 1 << 22, e)) return NULL;
    cJSON *j = cJSON_ParseWithLength(buf, len);
    free(buf);
    if (!j) {
        mt_err_set(e, MT_ERR_FORMAT, "%s: not valid JSON", path);
        return NULL;
    }
    cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "systems");
    if (!cJSON_IsArray(s)) {
        mt_err_set(e, MT_ERR_FORMAT, "%s: needs a \"systems\" array", path);
        cJSON_Delete(j);
        return NULL;
    }
    int i = 0;
    cJSON *it;
    cJSON_ArrayForEach(it, s) {
        cJSON *n = cJSON_GetObjectItemCaseSensitive(it, "name");
        cJSON *src = cJSON_GetObjectItemCaseSensitive(it, "source");
        cJSON *en = cJSON_GetObjectItemCaseSensitive(it, "energy_uj");
        cJSON *la = cJSON_GetObjectItemCaseSensitive(it, "latency_ms");
        if (!cJSON_IsString(n) || !cJSON_IsString(src) || !(cJSON_IsNumber(en) || cJSON_IsNull(en)) ||
            !(cJSON_IsNumber(la) || cJSON_IsNull(la))) {
            mt_err_set(e, MT_ERR_FORMAT,
                       "%s: systems[%d] needs \"name\", \"source\" (strings) and \"energy_uj\", "
                       "\"latency_ms\" (numbers or null)", path, i);
            cJSON_Delete(j);
            return NULL;
        }
        i++;
    }
    return j;
}

static int run(int argc, char **argv)
{
    if (cli_wants_help(&mt_cmd_energy, argc, argv)) return 0;
    const char *cmd = "energy";
    static const struct option lo[] = {
        {"model", required_argument, 0, O_MODEL},         {"input", required_argument, 0, O_INPUT},
        {"classes", required_argument, 0, O_CLASSES},     {"layers", required_argument, 0, O_LAYERS},
        {"channels", required_argument, 0, O_CHANNELS},   {"duration", required_argument, 0, O_DURATION},
        {"rnpu-power-nw", required_argument, 0, O_RNPU},  {"adc-rate", required_argument, 0, O_ADCRATE},
        {"adc-bits", required_argument, 0, O_ADCBITS},    {"adc-fom-fj", required_argument, 0, O_FOM},
        {"chip", required_argument, 0, O_CHIP},           {"phases", required_argument, 0, O_PHASES},
        {"cores-per-layer", required_argument, 0, O_CORES}, {"core-size", required_argument, 0, O_CORESIZE}, {"reference", required_argument, 0, O_REF},
        {"no-reference", no_argument, 0, O_NOREF},        {"json", no_argument, 0, O_JSON},
        {"quiet", no_argument, 0, O_QUIET},               {0, 0, 0, 0}};
    const char *model = NULL, *input = NULL, *layers = NULL, *chipname = "hermes", *cores = NULL, *coresize = NULL, *ref = NULL;
    long classes = 0, phases = 0, lv;
    int json = 0, noref = 0, c;
    mt_system_params sp;
    mt_system_params_default(&sp);
    double v;
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
        case O_CHANNELS:
            if (cli_parse_int(optarg, &lv) || lv < 1 || lv > 1000000)
                return cli_usage_error(cmd, "--channels must be an integer in [1, 1e6], got '%s'", optarg);
            sp.channels = (int)lv;
            break;
        case O_DURATION:
            if (cli_parse_double(optarg, &v) || !(v > 0) || v > 3600)
                return cli_usage_error(cmd, "--duration must be in (0, 3600] s, got '%s'", optarg);
            sp.duration_s = v;
            break;
        case O_RNPU:
            if (cli_parse_double(optarg, &v) || v < 0 || v > 1e9)
                return cli_usage_error(cmd, "--rnpu-power-nw must be >= 0, got '%s'", optarg);
            sp.rnpu_power_w = v * 1e-9;
            break;
        case O_ADCRATE:
            if (cli_parse_double(optarg, &v) || v < 0 || v > 1e10)
                return cli_usage_error(cmd, "--adc-rate must be >= 0 Hz, got '%s'", optarg);
            sp.adc_rate_hz = v;
            break;
        case O_ADCBITS:
            if (cli_parse_int(optarg, &lv) || lv < 0 || lv > 24)
                return cli_usage_error(cmd, "--adc-bits must be an integer in [0, 24], got '%s'", optarg);
            sp.adc_bits = (int)lv;
            break;
        case O_FOM:
            if (cli_parse_double(optarg, &v) || v < 0 || v > 1e9)
                return cli_usage_error(cmd, "--adc-fom-fj must be >= 0, got '%s'", optarg);
            sp.adc_fom_j = v * 1e-15;
            break;
        case O_CHIP: chipname = optarg; break;
        case O_PHASES:
            if (cli_parse_int(optarg, &phases) || (phases != 1 && phases != 4))
                return cli_usage_error(cmd, "--phases must be 1 or 4, got '%s'", optarg);
            break;
        case O_CORES: cores = optarg; break;
        case O_CORESIZE: coresize = optarg; break;
        case O_REF: ref = optarg; break;
        case O_NOREF: noref = 1; break;
        case O_JSON: json = 1; break;
        case O_QUIET: break;
        default: return cli_usage_error(cmd, "unknown or incomplete option '%s'", argv[optind - 1]);
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

    /* Reference systems first, so that a bad file fails before any output. */
    cJSON *refj = NULL;
    char *refpath = NULL;
    if (!noref) {
        refpath = ref ? strdup(ref) : find_reference();
        if (refpath && !(refj = load_reference(refpath, &e))) {
            free(refpath);
            return cli_fail(&e);
        }
    }
    mt_aimc_layer *L = NULL;
    int n = 0, rc;
    char *name = NULL;
    int *ov = NULL, *nat = NULL;
    mt_aimc_map map;
    memset(&map, 0, sizeof map);
    if ((rc = cli_aimc_layers(cmd, model, input, classes, layers, &L, &n, &name))) goto done;
    nat = calloc((size_t)n, sizeof(int));
    if (cores) {
        ov = calloc((size_t)n, sizeof(int));
        if ((rc = cli_aimc_parse_cores(cmd, cores, n, ov))) goto done;
    }
    if ((rc = cli_aimc_map(cmd, L, n, &chip, ov, &map, nat))) goto done;
    mt_system_energy se;
    if (mt_system_energy_compute(&sp, &map, &se, &e)) {
        rc = cli_usage_error(cmd, "%s", e.msg);
        goto done;
    }
    double edp_js = se.edp_uj_us * 1e-12;
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "model", name);
        cJSON *pa = cJSON_AddObjectToObject(j, "params");
        cJSON_AddNumberToObject(pa, "channels", sp.channels);
        cJSON_AddNumberToObject(pa, "duration_s", sp.duration_s);
        cJSON_AddNumberToObject(pa, "rnpu_power_nw", sp.rnpu_power_w * 1e9);
        cJSON_AddNumberToObject(pa, "adc_rate_hz", sp.adc_rate_hz);
        cJSON_AddNumberToObject(pa, "adc_bits", sp.adc_bits);
        cJSON_AddNumberToObject(pa, "adc_fom_fj", sp.adc_fom_j * 1e15);
        cJSON *en = cJSON_AddObjectToObject(j, "energy_uj");
        cJSON_AddNumberToObject(en, "rnpu", se.rnpu_uj);
        cJSON_AddNumberToObject(en, "adc_interface", se.adc_uj);
        cJSON_AddNumberToObject(en, "aimc", se.aimc_uj);
        cJSON_AddNumberToObject(en, "total", se.total_uj);
        cJSON_AddNumberToObject(j, "latency_us", se.latency_us);
        cJSON_AddNumberToObject(j, "edp_j_s", edp_js);
        cJSON_AddItemToObject(j, "aimc", cli_aimc_map_json(&map, nat));
        if (refj) {
            cJSON_AddStringToObject(j, "reference_file", refpath);
            cJSON_AddItemToObject(j, "reference_systems",
                                  cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(refj, "systems"), 1));
        }
        cli_print_json(j);
    } else {
        printf("system energy per %.3g-s inference (model %s, %d RNPU channels, chip %s)\n", sp.duration_s, name,
               sp.channels, chip.name);
        char f[5][96];
        snprintf(f[0], sizeof f[0], "%d x %.3g nW x %.3g s", sp.channels, sp.rnpu_power_w * 1e9, sp.duration_s);
        snprintf(f[1], sizeof f[1], "%d x %.4g S/s x %.3g s x %.3g fJ x 2^%d (assumed FoM)", sp.channels,
                 sp.adc_rate_hz, sp.duration_s, sp.adc_fom_j * 1e15, sp.adc_bits);
        snprintf(f[2], sizeof f[2], "%lld core-MVMs / %d x %.4g uJ", (long long)map.core_mvms, chip.cores,
                 chip.chip_mvm_energy_uj);
        snprintf(f[3], sizeof f[3], "%lld MVMs x %.4g ns (RNPU: real time)", (long long)map.mvms,
                 chip.mvm_latency_ns);
        snprintf(f[4], sizeof f[4], "%.4g uJ x %.4g us", se.total_uj, se.latency_us);
        printf("  %-16s %-50s %11.3f uJ\n", "RNPU front-end", f[0], se.rnpu_uj);
        printf("  %-16s %-50s %11.3f uJ\n", "ADC interface", f[1], se.adc_uj);
        printf("  %-16s %-50s %11.3f uJ\n", "AIMC classifier", f[2], se.aimc_uj);
        printf("  %-16s %-50s %11.3f uJ\n", "total", "", se.total_uj);
        printf("  %-16s %-50s %11.3f us\n", "latency", f[3], se.latency_us);
        printf("  %-16s %-50s %11.3g J s\n", "energy x delay", f[4], edp_js);
        if (refj) {
            printf("\nreference systems (%s):\n", refpath);
            printf("  %-62s %10s %11s %11s\n", "system", "energy_uj", "latency_ms", "EDP_J_s");
            printf("  %-62s %10.3f %11.4f %11.3g\n", "this system (above)", se.total_uj, se.latency_us * 1e-3, edp_js);
            cJSON *it;
            cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(refj, "systems")) {
                const char *nm = cJSON_GetObjectItemCaseSensitive(it, "name")->valuestring;
                cJSON *enj = cJSON_GetObjectItemCaseSensitive(it, "energy_uj");
                cJSON *laj = cJSON_GetObjectItemCaseSensitive(it, "latency_ms");
                char es[32] = "-", ls[32] = "-", ds[32] = "-";
                if (cJSON_IsNumber(enj)) snprintf(es, sizeof es, "%.3f", enj->valuedouble);
                if (cJSON_IsNumber(laj)) snprintf(ls, sizeof ls, "%.4f", laj->valuedouble);
                if (cJSON_IsNumber(enj) && cJSON_IsNumber(laj))
                    snprintf(ds, sizeof ds, "%.3g", enj->valuedouble * laj->valuedouble * 1e-9);
                printf("  %-62.62s %10s %11s %11s\n", nm, es, ls, ds);
            }
            printf("  (figures and their sources: %s; '-' = not published in our sources)\n", refpath);
        } else if (!noref) {
            printf("\n(reference systems not shown: data/edt2_reference_systems.json not found; use --reference FILE)\n");
        }
    }
done:
    mt_aimc_map_free(&map);
    cJSON_Delete(refj);
    free(refpath);
    free(ov);
    free(nat);
    free(L);
    free(name);
    return rc;
}
