/* materia compare — the same classifier, the same hyper-parameters, every front-end: the
 * paper's Extended Data Table 1 / Fig. 3d / Fig. 3e experiments as one command.
 *
 * For each front-end: extract features over the whole dataset (timed: the front-end's cost per
 * second of audio), optionally cached by a hash of the data and the config; then train the
 * model K times (training seeds seed..seed+K-1; the front-end instance stays fixed) and report
 * the test accuracy of the validation-chosen checkpoint as mean ± std over the K runs, with the
 * classifier's parameters and MACs for that front-end's input shape. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "cli_data.h"
#include "materia/features.h"
#include "materia/frontend.h"
#include "materia/nn.h"
#include "materia/plot.h"
#include "materia/version.h"

static const char help[] =
    "usage: materia compare --data DIR --layout L --frontends LIST --model NAME [options]\n"
    "\n"
    "Train the same classifier with the same hyper-parameters on features from every front-end\n"
    "in LIST and print one table: test accuracy (mean ± std over --repeats training seeds; the\n"
    "checkpoint is chosen on validation data, never on the test split), the classifier's\n"
    "parameters and MACs for that front-end's feature shape, and the front-end's simulation\n"
    "cost (wall milliseconds of the front-end alone, one thread, per second of audio).  Every\n"
    "front-end sees the same prepared audio (--rate, --peak, --trim, --duration).\n"
    "\n"
    "LIST is comma-separated; an entry is a front-end name with optional options after colons,\n"
    "NAME[:KEY=VALUE...], values being numbers, true/false or words, e.g.\n"
    "  rnpu,lowpass,lowpass:preset=wide,gammatone-tanh,esn,logmel,raw\n"
    "\n"
    "options:\n" CLI_DATA_HELP
    "  --frontends LIST       front-ends to compare (see above; `materia features --help`)\n"
    "  --model M              zoo name, architecture string or .json (`materia model list`)\n"
    "  --channels C           channels of every front-end except raw (default: each one's own,\n"
    "                         64 for the paper's front-ends)\n"
    "  --decim N              output averaging of the front-ends other than raw, logmel, mfcc\n"
    "                         (default: each one's own, 10; the paper's GSC pipeline:\n"
    "                         --rate 8000 --decim 4 --duration 0.992 --peak 0 → 64 × 1984)\n"
    "  --fe-seed S            front-end seed: RNPU instance and controls, reservoirs (0)\n"
    "  --repeats K            training seeds per front-end (default 3)\n"
    "  --seed S               first training seed (0)\n"
    "  --epochs N --batch N --lr X --wd X --schedule S\n"
    "                         training hyper-parameters, the same for every front-end\n"
    "                         (defaults as `materia train`: 30, 32, 0.01, 1e-4, onecycle)\n" CLI_PREP_HELP
    "  --cache DIR            keep feature sets in DIR (keyed by a hash of data + config), so a\n"
    "                         second comparison on the same front-ends skips extraction\n"
    "  --threads N            worker threads (default: all cores)\n"
    "  --plot FILE            accuracy per front-end with ±1 std bars (.png or .svg)\n"
    "  --json                 one JSON object: {\"model\", \"dataset\", \"training\", \"results\": [{\n"
    "                         \"frontend\", \"label\", \"channels\", \"shape\", \"accuracy\": {\"mean\",\n"
    "                         \"std\", \"runs\"}, \"weighted_f1\", \"params\", \"macs\",\n"
    "                         \"frontend_ms_per_audio_s\" (front-end alone, 1 thread),\n"
    "                         \"extract_ms_per_audio_s\" (load + prepare + front-end, all\n"
    "                         threads), ...}]}\n"
    "  --quiet                no progress\n"
    "\n"
    "example (the paper's Extended Data Table 1 on FSDD, 16 channels, 1-layer CNN):\n"
    "  materia compare --data ../shared/datasets/fsdd --layout fsdd --channels 16 \\\n"
    "      --frontends rnpu,lowpass,nlowpass,gammatone,gammatone-tanh,esn,logmel,raw \\\n"
    "      --model cnn1-k8 --epochs 60 --repeats 3 --cache fe-cache --plot table1.png\n";

static int run(int argc, char **argv);
const mt_cli_command mt_cmd_compare = {"compare", "train one classifier on many front-ends; comparison table", help,
                                       run};

enum { O_FRONTENDS = 1, O_MODEL, O_CHANNELS, O_DECIM, O_FESEED, O_REPEATS, O_SEED, O_EPOCHS, O_BATCH, O_LR, O_WD,
       O_SCHED, O_CACHE, O_THREADS, O_PLOT, O_JSON, O_QUIET };

/* One entry of --frontends. */
typedef struct fe_entry {
    char label[256];  /* as written */
    char name[64];
    char *params;     /* JSON object text or NULL */
} fe_entry;

typedef struct fe_result {
    int channels;
    int64_t c, t, n, n_test;
    double rate_hz;
    double extract_s, audio_s, ms_per_audio_s; /* whole extraction: load + prepare + front-end */
    double fe_ms_per_s;                        /* the front-end alone, one thread */
    int cached;
    int64_t params, macs;
    double *acc, *f1, *train_s; /* [repeats] */
    double acc_mean, acc_std, f1_mean;
} fe_result;

/* Front-ends whose frame rate is not set by output averaging (--decim does not apply). */
static int frame_based(const char *name)
{
    return strcmp(name, "raw") == 0 || strcmp(name, "logmel") == 0 || strcmp(name, "mfcc") == 0;
}

static void mean_std(const double *v, int n, double *mean, double *std)
{
    double s = 0, ss = 0;
    for (int i = 0; i < n; i++) s += v[i];
    *mean = n ? s / n : NAN;
    for (int i = 0; i < n; i++) ss += (v[i] - *mean) * (v[i] - *mean);
    *std = n > 1 ? sqrt(ss / (n - 1)) : 0.0; /* sample std (n − 1), as numpy's ddof=1 */
}

/* "name:key=value:key=value" → name + params JSON.  Returns 0 or prints a usage error. */
static int parse_entry(const char *text, fe_entry *e)
{
    memset(e, 0, sizeof *e);
    snprintf(e->label, sizeof e->label, "%s", text);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", text);
    char *save = NULL, *tok = strtok_r(buf, ":", &save);
    if (!tok || !*tok) return cli_usage_error("compare", "empty front-end entry in --frontends");
    snprintf(e->name, sizeof e->name, "%s", tok);
    cJSON *obj = NULL;
    while ((tok = strtok_r(NULL, ":", &save))) {
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok || !eq[1]) {
            cJSON_Delete(obj);
            return cli_usage_error("compare", "front-end option '%s' in '%s' is not KEY=VALUE", tok, text);
        }
        *eq = 0;
        const char *val = eq + 1;
        if (!obj) obj = cJSON_CreateObject();
        double d;
        if (cJSON_GetObjectItemCaseSensitive(obj, tok)) {
            cJSON_Delete(obj);
            return cli_usage_error("compare", "front-end option '%s' given twice in '%s'", tok, text);
        }
        if (cli_parse_double(val, &d) == 0) cJSON_AddNumberToObject(obj, tok, d);
        else if (strcmp(val, "true") == 0 || strcmp(val, "false") == 0) cJSON_AddBoolToObject(obj, tok, val[0] == 't');
        else cJSON_AddStringToObject(obj, tok, val);
    }
    if (obj) {
        e->params = cJSON_PrintUnformatted(obj);
        cJSON_Delete(obj);
    }
    return 0;
}

/* Features of one front-end over the dataset: from the cache when present, else extracted
 * (and cached).  Fills the cost fields of res. */
static int get_features(const fe_entry *fe_e, const mt_frontend_cfg *fc_in, const mt_audio_prep *prep,
                        const mt_dataset *ds, const cli_data_opts *d, const char *cache, int threads, int quiet,
                        mt_features *f, fe_result *res)
{
    mt_err e = {0};
    mt_frontend_cfg fc = *fc_in;
    mt_frontend *fe;
    if (mt_frontend_create(&fc, &fe, &e)) return cli_fail(&e);
    res->channels = mt_frontend_channels(fe);
    cJSON *prov = cli_features_provenance(fe, &fc, prep, ds, d);
    char *prov_text = cJSON_PrintUnformatted(prov);
    cJSON_Delete(prov);
    char path[4200] = "";
    if (cache) {
        snprintf(path, sizeof path, "%s/%s-%016llx.npy", cache, fe_e->name,
                 (unsigned long long)cli_features_key(prov_text, ds));
        struct stat st;
        if (stat(path, &st) == 0 && mt_features_load(path, f, &e) == MT_OK) {
            /* The cost was measured when the set was made; it is kept in the sidecar config. */
            cJSON *cfg = f->config_json ? cJSON_Parse(f->config_json) : NULL;
            const cJSON *x = cfg ? cJSON_GetObjectItemCaseSensitive(cfg, "extract_seconds") : NULL;
            res->extract_s = cJSON_IsNumber(x) ? x->valuedouble : NAN;
            cJSON_Delete(cfg);
            res->cached = 1;
            if (!quiet) fprintf(stderr, "  features: cached %s\n", path);
        }
    }
    int rc = 0;
    if (!res->cached) {
        cli_progress pb;
        char label[96];
        snprintf(label, sizeof label, "%s", fe_e->name);
        cli_progress_init(&pb, label);
        mt_progress prog = {cli_progress_cb, &pb};
        double t0 = cli_now();
        mt_status s = mt_features_extract(ds, prep, fe, threads, &prog, f, &e);
        cli_progress_done(&pb);
        res->extract_s = cli_now() - t0;
        if (s) rc = cli_fail(&e);
        if (!rc) {
            cJSON *cfg = cJSON_Parse(prov_text);
            cJSON_AddNumberToObject(cfg, "extract_seconds", res->extract_s);
            f->config_json = cJSON_PrintUnformatted(cfg);
            cJSON_Delete(cfg);
            if (cache && mt_features_save(f, path, &e)) rc = cli_fail(&e);
        }
    }
    free(prov_text);
    mt_frontend_free(fe);
    return rc;
}

/* Wall milliseconds the front-end alone takes per second of audio on one thread: 1 s of a
 * two-tone test signal (0.5 V peak at the front-end's rate), processed repeatedly for at least
 * 0.3 s.  Returns NAN on failure. */
static double frontend_cost(const mt_frontend_cfg *fc)
{
    mt_err e = {0};
    mt_frontend *fe;
    if (mt_frontend_create(fc, &fe, &e)) return NAN;
    double rate = fc->rate_hz > 0 ? fc->rate_hz : 12500.0;
    int64_t n = (int64_t)llround(rate);
    int64_t C = mt_frontend_channels(fe), T = mt_frontend_out_len(fe, n);
    float *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)(C * T) * sizeof *y);
    double ms = NAN;
    if (x && y) {
        for (int64_t i = 0; i < n; i++)
            x[i] = (float)(0.25 * sin(2 * M_PI * 440.0 * i / rate) + 0.25 * sin(2 * M_PI * 1250.0 * i / rate));
        int runs = 0;
        double t0 = cli_now(), t;
        do {
            if (mt_frontend_process(fe, x, n, (uint64_t)runs, y, &e)) break;
            runs++;
        } while ((t = cli_now() - t0) < 0.3);
        if (runs) ms = 1e3 * (cli_now() - t0) / runs;
    }
    free(x);
    free(y);
    mt_frontend_free(fe);
    return ms;
}

static void on_epoch(void *ctx, const mt_epoch_stats *s)
{
    cli_progress_done((cli_progress *)ctx);
    (void)s;
}

/* Train the model `repeats` times on f; fills res. */
static int train_runs(const char *arch, int nclasses, const mt_features *f, const mt_train_opts *base, int repeats,
                      uint64_t seed0, int quiet, const char *label, fe_result *res)
{
    mt_err e = {0};
    for (int k = 0; k < repeats; k++) {
        mt_model m;
        uint64_t seed = seed0 + (uint64_t)k;
        if (mt_model_build(&m, arch, f->c, f->t, nclasses, seed, &e)) return cli_fail(&e);
        res->params = m.nparams;
        res->macs = m.macs;
        mt_train_opts o = *base;
        o.seed = seed;
        cli_progress pb;
        char plabel[96];
        snprintf(plabel, sizeof plabel, "%s seed %llu", label, (unsigned long long)seed);
        cli_progress_init(&pb, plabel);
        o.on_epoch = on_epoch;
        o.ctx = &pb;
        o.progress.fn = cli_progress_cb;
        o.progress.ctx = &pb;
        mt_train_result r;
        mt_status s = mt_train(&m, f, &o, &r, &e);
        cli_progress_done(&pb);
        mt_model_free(&m);
        if (s) return cli_fail(&e);
        if (r.test.n == 0) {
            mt_train_result_free(&r);
            fprintf(stderr, "materia compare: the dataset has no test items (check --split)\n");
            return 1;
        }
        res->n_test = r.test.n;
        res->acc[k] = 100.0 * r.test.accuracy;
        res->f1[k] = 100.0 * r.test.weighted_f1;
        res->train_s[k] = r.train_seconds;
        if (!quiet)
            fprintf(stderr, "  seed %llu: test %.2f %% (best epoch %d, %.0f s)\n", (unsigned long long)seed,
                    res->acc[k], r.best_epoch, r.train_seconds);
        mt_train_result_free(&r);
    }
    double sd;
    mean_std(res->acc, repeats, &res->acc_mean, &res->acc_std);
    mean_std(res->f1, repeats, &res->f1_mean, &sd);
    return 0;
}

static void human(char *buf, size_t n, double v)
{
    if (v >= 1e9) snprintf(buf, n, "%.2f G", v / 1e9);
    else if (v >= 1e6) snprintf(buf, n, "%.2f M", v / 1e6);
    else if (v >= 1e3) snprintf(buf, n, "%.1f k", v / 1e3);
    else snprintf(buf, n, "%.0f", v);
}

static int save_plot(const char *path, const fe_entry *fes, const fe_result *res, int nfe, const char *model)
{
    char title[256];
    snprintf(title, sizeof title, "Test accuracy by front-end (%s)", model);
    mt_plot *p = mt_plot_new(title, "front-end", "test accuracy (%)");
    if (!p) return 1;
    double lo = 100;
    for (int i = 0; i < nfe; i++) {
        double x = i + 1, y = res[i].acc_mean, s = res[i].acc_std;
        mt_plot_points(p, &x, &y, &s, 1, fes[i].label);
        if (y - s < lo) lo = y - s;
    }
    mt_plot_xrange(p, 0, nfe + 1);
    mt_plot_yrange(p, fmax(0, fmin(90, floor((lo - 1) / 10) * 10)), 100);
    mt_err e = {0};
    int rc = mt_plot_save(p, path, &e) ? cli_fail(&e) : 0;
    mt_plot_free(p);
    return rc;
}

static int run(int argc, char **argv)
{
    if (cli_wants_help(&mt_cmd_compare, argc, argv)) return 0;
    static const struct option lo[] = {
        CLI_DATA_LONGOPTS,
        CLI_PREP_LONGOPTS,
        {"frontends", required_argument, 0, O_FRONTENDS}, {"model", required_argument, 0, O_MODEL},
        {"channels", required_argument, 0, O_CHANNELS},   {"decim", required_argument, 0, O_DECIM},
        {"fe-seed", required_argument, 0, O_FESEED},
        {"repeats", required_argument, 0, O_REPEATS},     {"seed", required_argument, 0, O_SEED},
        {"epochs", required_argument, 0, O_EPOCHS},       {"batch", required_argument, 0, O_BATCH},
        {"lr", required_argument, 0, O_LR},               {"wd", required_argument, 0, O_WD},
        {"schedule", required_argument, 0, O_SCHED},      {"cache", required_argument, 0, O_CACHE},
        {"threads", required_argument, 0, O_THREADS},     {"plot", required_argument, 0, O_PLOT},
        {"json", no_argument, 0, O_JSON},                 {"quiet", no_argument, 0, O_QUIET},
        {0, 0, 0, 0}};
    const char *cmd = "compare";
    cli_data_opts d;
    cli_data_defaults(&d);
    cli_prep_opts po;
    cli_prep_defaults(&po);
    mt_train_opts topt;
    mt_train_opts_default(&topt);
    const char *frontends = NULL, *model = NULL, *cache = NULL, *plot = NULL;
    long channels = 0, decim = 0, fe_seed = 0, repeats = 3, seed = 0, threads = 0, lv;
    int json = 0, quiet = cli_quiet();
    double dv;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        int h = cli_data_option(&d, c, optarg, cmd);
        if (h < 0) return 2;
        if (h) continue;
        if ((h = cli_prep_option(&po, c, optarg, cmd)) < 0) return 2;
        if (h) continue;
        switch (c) {
        case O_FRONTENDS: frontends = optarg; break;
        case O_MODEL: model = optarg; break;
        case O_CHANNELS:
            if (cli_parse_int(optarg, &channels) || channels < 1 || channels > 4096)
                return cli_usage_error(cmd, "--channels must be an integer in [1, 4096], got '%s'", optarg);
            break;
        case O_DECIM:
            if (cli_parse_int(optarg, &decim) || decim < 1 || decim > 10000)
                return cli_usage_error(cmd, "--decim must be a positive integer, got '%s'", optarg);
            break;
        case O_FESEED:
            if (cli_parse_int(optarg, &fe_seed) || fe_seed < 0)
                return cli_usage_error(cmd, "--fe-seed must be a non-negative integer, got '%s'", optarg);
            break;
        case O_REPEATS:
            if (cli_parse_int(optarg, &repeats) || repeats < 1 || repeats > 100)
                return cli_usage_error(cmd, "--repeats must be in [1, 100], got '%s'", optarg);
            break;
        case O_SEED:
            if (cli_parse_int(optarg, &seed) || seed < 0)
                return cli_usage_error(cmd, "--seed must be a non-negative integer, got '%s'", optarg);
            break;
        case O_EPOCHS:
            if (cli_parse_int(optarg, &lv) || lv < 1 || lv > 100000)
                return cli_usage_error(cmd, "--epochs must be a positive integer, got '%s'", optarg);
            topt.epochs = (int)lv;
            break;
        case O_BATCH:
            if (cli_parse_int(optarg, &lv) || lv < 1 || lv > 65536)
                return cli_usage_error(cmd, "--batch must be in [1, 65536], got '%s'", optarg);
            topt.batch = (int)lv;
            break;
        case O_LR:
            if (cli_parse_double(optarg, &dv) || !(dv > 0 && dv < 100))
                return cli_usage_error(cmd, "--lr must be a positive number, got '%s'", optarg);
            topt.lr = dv;
            break;
        case O_WD:
            if (cli_parse_double(optarg, &dv) || !(dv >= 0 && dv < 100))
                return cli_usage_error(cmd, "--wd must be a non-negative number, got '%s'", optarg);
            topt.wd = dv;
            break;
        case O_SCHED: {
            mt_err e = {0};
            if (mt_sched_parse(optarg, &topt.schedule, &e)) return cli_usage_error(cmd, "%s", e.msg);
            break;
        }
        case O_CACHE: cache = optarg; break;
        case O_THREADS:
            if (cli_parse_int(optarg, &threads) || threads < 1 || threads > 256)
                return cli_usage_error(cmd, "--threads must be in [1, 256], got '%s'", optarg);
            break;
        case O_PLOT: plot = optarg; break;
        case O_JSON: json = 1; break;
        case O_QUIET: quiet = 1; break;
        default: return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!frontends || !*frontends) return cli_usage_error(cmd, "--frontends LIST is required");
    if (!model) return cli_usage_error(cmd, "--model is required");
    if (plot) {
        const char *ext = strrchr(plot, '.');
        if (!ext || (strcmp(ext, ".png") && strcmp(ext, ".svg")))
            return cli_usage_error(cmd, "--plot must end in .png or .svg, got '%s'", plot);
    }
    mt_audio_prep prep;
    if (cli_prep_finish(&po, d.layout, cmd, &prep)) return 2;

    /* Parse the list and validate every front-end and the model before any long work. */
    int nfe = 1;
    for (const char *p = frontends; *p; p++) nfe += *p == ',';
    fe_entry *fes = calloc((size_t)nfe, sizeof *fes);
    fe_result *res = calloc((size_t)nfe, sizeof *res);
    char *list = strdup(frontends);
    int rc = 0, i = 0;
    mt_err e = {0};
    char *arch = NULL, *mname = NULL;
    int arch_classes = 0;
    mt_dataset ds = {0};
    int ds_open = 0;
    mt_frontend_cfg *fcs = calloc((size_t)nfe, sizeof *fcs);
    if (!fes || !res || !list || !fcs) {
        rc = cli_usage_error(cmd, "out of memory");
        goto done;
    }
    {
        char *save = NULL;
        for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            if ((rc = parse_entry(tok, &fes[i]))) goto done;
            i++;
        }
        nfe = i;
    }
    if (nfe == 0) {
        rc = cli_usage_error(cmd, "--frontends LIST is empty");
        goto done;
    }
    for (i = 0; i < nfe; i++) {
        for (int j = 0; j < i; j++)
            if (strcmp(fes[i].label, fes[j].label) == 0) {
                rc = cli_usage_error(cmd, "front-end '%s' is listed twice", fes[i].label);
                goto done;
            }
        fcs[i] = (mt_frontend_cfg){.name = fes[i].name,
                                   .channels = strcmp(fes[i].name, "raw") == 0 ? 0 : (int)channels,
                                   .decim = frame_based(fes[i].name) ? 0 : (int)decim,
                                   .seed = (uint64_t)fe_seed,
                                   .rate_hz = prep.rate_hz,
                                   .params_json = fes[i].params};
        mt_frontend *fe;
        if (mt_frontend_create(&fcs[i], &fe, &e)) {
            fprintf(stderr, "materia: --frontends entry '%s': %s\n", fes[i].label, e.msg);
            rc = 2;
            goto done;
        }
        res[i].c = mt_frontend_channels(fe);
        res[i].t = mt_frontend_out_len(fe, prep.length);
        mt_frontend_free(fe);
        res[i].acc = calloc((size_t)repeats, sizeof(double));
        res[i].f1 = calloc((size_t)repeats, sizeof(double));
        res[i].train_s = calloc((size_t)repeats, sizeof(double));
        if (!res[i].acc || !res[i].f1 || !res[i].train_s) {
            rc = cli_usage_error(cmd, "out of memory");
            goto done;
        }
    }
    if (mt_arch_resolve(model, &arch, &arch_classes, &mname, &e)) {
        rc = cli_fail(&e);
        goto done;
    }
    /* The model must fit every front-end's feature shape: fail now, not after hours of work. */
    for (i = 0; i < nfe; i++) {
        mt_model m;
        if (mt_model_build(&m, arch, res[i].c, res[i].t, arch_classes ? arch_classes : 2, 0, &e)) {
            fprintf(stderr, "materia: --model %s does not fit front-end '%s' (features %lld x %lld): %s\n", model,
                    fes[i].label, (long long)res[i].c, (long long)res[i].t, e.msg);
            rc = 2;
            goto done;
        }
        mt_model_free(&m);
    }
    if (cli_data_open(&d, &ds, &e)) {
        rc = cli_fail(&e);
        goto done;
    }
    ds_open = 1;
    if (cache && cli_mkdir_p(cache)) {
        fprintf(stderr, "materia: %s: cannot create folder: %s\n", cache, strerror(errno));
        rc = 1;
        goto done;
    }
    if (threads > 0) omp_set_num_threads((int)threads);
    if (!quiet) cli_data_print_split(&ds, stderr);
    topt.model_name = mname;

    for (i = 0; i < nfe; i++) {
        if (!quiet) fprintf(stderr, "[%d/%d] %s\n", i + 1, nfe, fes[i].label);
        mt_features f;
        memset(&f, 0, sizeof f);
        if ((rc = get_features(&fes[i], &fcs[i], &prep, &ds, &d, cache, (int)threads, quiet, &f, &res[i]))) goto done;
        res[i].c = f.c;
        res[i].t = f.t;
        res[i].n = f.n;
        res[i].rate_hz = f.rate_hz;
        res[i].audio_s = (double)f.n * (double)prep.length / prep.rate_hz;
        res[i].ms_per_audio_s = 1e3 * res[i].extract_s / res[i].audio_s;
        res[i].fe_ms_per_s = frontend_cost(&fcs[i]);
        rc = train_runs(arch, ds.nclasses, &f, &topt, (int)repeats, (uint64_t)seed, quiet, fes[i].label, &res[i]);
        mt_features_free(&f);
        if (rc) goto done;
        if (!quiet)
            fprintf(stderr, "  %s: %.2f ± %.2f %%\n", fes[i].label, res[i].acc_mean, res[i].acc_std);
    }

    if (plot && (rc = save_plot(plot, fes, res, nfe, mname ? mname : model))) goto done;

    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "model", mname ? mname : model);
        cJSON_AddStringToObject(j, "arch", arch);
        cJSON *dj = cJSON_AddObjectToObject(j, "dataset");
        cJSON_AddStringToObject(dj, "root", ds.root);
        cJSON_AddStringToObject(dj, "layout", mt_layout_name(ds.layout));
        cJSON_AddStringToObject(dj, "split", mt_split_method_name(ds.split_method));
        cJSON_AddNumberToObject(dj, "files", ds.n);
        cJSON_AddNumberToObject(dj, "classes", ds.nclasses);
        cJSON *tj = cJSON_AddObjectToObject(j, "training");
        cJSON_AddNumberToObject(tj, "repeats", (double)repeats);
        cJSON_AddNumberToObject(tj, "first_seed", (double)seed);
        cJSON_AddNumberToObject(tj, "epochs", topt.epochs);
        cJSON_AddNumberToObject(tj, "batch", topt.batch);
        cJSON_AddNumberToObject(tj, "lr", topt.lr);
        cJSON_AddNumberToObject(tj, "wd", topt.wd);
        cJSON_AddStringToObject(tj, "schedule", mt_sched_name(topt.schedule));
        cJSON_AddNumberToObject(j, "frontend_seed", (double)fe_seed);
        cJSON_AddStringToObject(j, "materia_version", mt_version());
        cJSON *arr = cJSON_AddArrayToObject(j, "results");
        for (i = 0; i < nfe; i++) {
            const fe_result *r = &res[i];
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "frontend", fes[i].name);
            cJSON_AddStringToObject(o, "label", fes[i].label);
            cJSON *pj = fes[i].params ? cJSON_Parse(fes[i].params) : NULL;
            cJSON_AddItemToObject(o, "params_json", pj ? pj : cJSON_CreateNull());
            cJSON_AddNumberToObject(o, "channels", (double)r->c);
            cJSON *sh = cJSON_AddArrayToObject(o, "shape");
            cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)r->c));
            cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)r->t));
            cJSON_AddNumberToObject(o, "rate_hz", r->rate_hz);
            cJSON *a = cJSON_AddObjectToObject(o, "accuracy");
            cJSON_AddNumberToObject(a, "mean", r->acc_mean);
            cJSON_AddNumberToObject(a, "std", r->acc_std);
            cJSON_AddItemToObject(a, "runs", cJSON_CreateDoubleArray(r->acc, (int)repeats));
            cJSON_AddNumberToObject(o, "weighted_f1", r->f1_mean);
            cJSON_AddNumberToObject(o, "n_test", (double)r->n_test);
            cJSON_AddNumberToObject(o, "params", (double)r->params);
            cJSON_AddNumberToObject(o, "macs", (double)r->macs);
            if (isfinite(r->fe_ms_per_s)) cJSON_AddNumberToObject(o, "frontend_ms_per_audio_s", r->fe_ms_per_s);
            else cJSON_AddNullToObject(o, "frontend_ms_per_audio_s");
            if (isfinite(r->ms_per_audio_s)) cJSON_AddNumberToObject(o, "extract_ms_per_audio_s", r->ms_per_audio_s);
            else cJSON_AddNullToObject(o, "extract_ms_per_audio_s");
            cJSON_AddBoolToObject(o, "features_cached", r->cached);
            cJSON_AddItemToObject(o, "train_seconds", cJSON_CreateDoubleArray(r->train_s, (int)repeats));
            cJSON_AddItemToArray(arr, o);
        }
        cli_print_json(j);
    } else {
        printf("| front-end | features | test accuracy (%%, %ld seed%s) | params | MACs | front-end ms per s of audio |\n",
               repeats, repeats > 1 ? "s" : "");
        printf("|---|---|---|---|---|---|\n");
        for (i = 0; i < nfe; i++) {
            const fe_result *r = &res[i];
            char pb[32], mb[32], cost[32];
            human(pb, sizeof pb, (double)r->params);
            human(mb, sizeof mb, (double)r->macs);
            if (isfinite(r->fe_ms_per_s)) snprintf(cost, sizeof cost, "%.2f", r->fe_ms_per_s);
            else snprintf(cost, sizeof cost, "n/a");
            printf("| %s | %lld × %lld | %.1f ± %.1f | %s | %s | %s |\n", fes[i].label, (long long)r->c,
                   (long long)r->t, r->acc_mean, r->acc_std, pb, mb, cost);
        }
        printf("\nmodel %s, %d epochs, batch %d, lr %g, wd %g, %s; %lld test utterances; front-end cost: wall time of\n"
               "the front-end alone on one thread per second of audio (simulation cost, not device energy)\n",
               mname ? mname : model, topt.epochs, topt.batch, topt.lr, topt.wd, mt_sched_name(topt.schedule),
               (long long)res[0].n_test);
    }

done:
    if (ds_open) mt_dataset_free(&ds);
    for (i = 0; res && fes && i < nfe; i++) {
        free(fes[i].params);
        free(res[i].acc);
        free(res[i].f1);
        free(res[i].train_s);
    }
    free(fcs);
    free(fes);
    free(res);
    free(list);
    free(arch);
    free(mname);
    return rc;
}
