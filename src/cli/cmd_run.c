/* materia run — the main job: audio → features → full-precision training → HWA retraining →
 * PCM inference (repeats, drift) → chip mapping and system energy → report folder.
 *
 * Every stage writes its result atomically into the output folder and is skipped when that
 * result already exists for the same configuration, so an interrupted run resumes from the last
 * finished stage (and training from its last epoch through the nn engine's state file).
 * Features are cached under OUT/cache/ by a hash of the data listing and the front-end and audio
 * configuration, so a second run with the same data skips extraction.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "cli_data.h"
#include "materia/aimc.h"
#include "materia/embed.h"
#include "materia/features.h"
#include "materia/frontend.h"
#include "materia/hwa.h"
#include "materia/io.h"
#include "materia/nn.h"
#include "materia/plot.h"
#include "materia/rnpu.h"
#include "materia/synth.h"
#include "materia/version.h"

static const char help[] =
    "usage: materia run [CONFIG.json] [--preset P] [--data DIR --layout L] [--out DIR] [options]\n"
    "\n"
    "The main job, from raw audio to an accuracy, energy and latency report:\n"
    "  1 features   the front-end over every utterance (cached by a hash of data + config)\n"
    "  2 train      full-precision training, checkpoint chosen on a validation split\n"
    "  3 hwa        hardware-aware retraining (weight/output noise, 8-bit inputs, clipping)\n"
    "  4 pcm        PCM-chip inference: --repeats programmings read at --drift-s, plus a drift\n"
    "               sweep for the figure\n"
    "  5 energy     chip mapping (cores, MVMs, energy, latency) and whole-system energy\n"
    "  6 report     OUT/report.json (every number, config, seeds, versions, timings),\n"
    "               OUT/report.md and OUT/figures/*.png|svg\n"
    "With no data it runs on the built-in synthetic corpus (`materia synth digits`, made in\n"
    "OUT/corpus): that is the demo (`make demo`).  Rerunning after an interruption resumes from\n"
    "the last finished stage.\n"
    "\n"
    "Settings come from the preset, then CONFIG.json (same keys as the long options, with _ for\n"
    "-: {\"preset\": \"fsdd\", \"epochs\": 40, \"fe_params\": {...}}), then the command line.\n"
    "\n"
    "presets (the paper's pipeline for each task):\n"
    "  demo   synthetic digits, 64 RNPU channels, cnn2, short training (the default; < 5 min)\n"
    "  fsdd   FSDD official split, 12.5 kHz, 0.75 V, 50 mV trim, 64 RNPU channels, cnn3-bn,\n"
    "         80 epochs + 30 HWA epochs\n"
    "  ti46   TI-46-Word female digits, stratified 90/10 (seed 7), otherwise as fsdd\n"
    "  gsc12  Speech Commands 12-class, stratified 90/10 (seed 0); the paper's GSC chain: 8 kHz,\n"
    "         no scaling or trim, averaging to 2 kS/s (64 × 1,984), hwa6\n"
    "  gsc    full Speech Commands download with its official lists, otherwise as gsc12\n"
    "\n"
    "options:\n" CLI_DATA_HELP
    "  --preset P             demo | fsdd | ti46 | gsc12 | gsc\n"
    "  --out DIR              report folder (default: report-<preset>)\n"
    "  --frontend NAME        front-end (rnpu)             --channels C     channels\n"
    "  --fe-seed S            front-end seed (0)           --fe-params JSON front-end options\n"
    "  --model NAME           classifier (zoo name, architecture string or .json)\n"
    "  --epochs N             full-precision epochs        --batch N        batch size\n"
    "  --lr X                 peak learning rate           --wd X           weight decay\n"
    "  --seed S               training seed (0)\n"
    "  --hwa-epochs N         HWA retraining epochs (0 skips HWA)  --hwa-lr X\n"
    "  --repeats K            PCM programmings (10)        --drift-s T      read time (3600 s)\n"
    "  --cores-per-layer L    chip mapping override (one number per analog layer)\n"
    "  --no-figures           skip the figures\n"
    "  --json                 print report.json to stdout at the end\n"
    "  --quiet                no progress output\n"
    "\n"
    "examples:\n"
    "  materia run                                     # the demo, report in report-demo/\n"
    "  materia run --preset fsdd --data ../shared/datasets/fsdd --out report-fsdd\n"
    "  materia run --preset gsc12 --data ../shared/datasets/gsc12 --out report-gsc12\n";

static int run(int argc, char **argv);
const mt_cli_command mt_cmd_run = {"run", "the main job: audio to accuracy, energy and latency report", help, run};

/* ------------------------------------------------------------------------------------------ */
/* Configuration                                                                               */
/* ------------------------------------------------------------------------------------------ */

typedef struct run_cfg {
    char preset[16];
    char data[1024], layout[16], split[16], gsc_classes[8];
    double test_frac;
    long split_seed;
    int female_only;
    /* audio */
    double rate_hz, peak_v, trim_v, duration_s;
    char trim[8];
    /* front-end */
    char frontend[32];
    int channels;
    int decim;       /* front-end output averaging; 0 = the front-end's default (10) */
    long fe_seed;
    char *fe_params; /* JSON object text or NULL */
    /* classifier */
    char model[256];
    int epochs, batch;
    double lr, wd;
    long seed;
    int hwa_epochs;
    double hwa_lr;
    /* chip */
    int repeats;
    double drift_s;
    char cores[128];
    int figures;
    /* synthetic corpus (demo) */
    int synth_speakers, synth_reps;
} run_cfg;

static void set_str(char *dst, size_t n, const char *v) { snprintf(dst, n, "%s", v ? v : ""); }
#define SET(field, v) set_str((field), sizeof(field), (v))

static int preset_apply(run_cfg *c, const char *p)
{
    /* common: the paper's TI-46 recipe */
    SET(c->preset, p);
    SET(c->split, "auto");
    SET(c->gsc_classes, "12");
    c->test_frac = 0.1;
    c->split_seed = 0;
    c->rate_hz = 12500;
    c->peak_v = 0.75;
    SET(c->trim, "abs");
    c->trim_v = 0.05;
    c->duration_s = 1.0;
    SET(c->frontend, "rnpu");
    c->channels = 64;
    c->decim = 0;
    c->fe_seed = 0;
    c->batch = 32;
    c->lr = 0.01;
    c->wd = 1e-4;
    c->seed = 0;
    c->hwa_lr = 1e-3;
    c->repeats = 10;
    c->drift_s = 3600;
    c->figures = 1;
    c->synth_speakers = 8;
    c->synth_reps = 12;
    if (strcmp(p, "demo") == 0) {
        SET(c->layout, "fsdd");
        SET(c->model, "cnn2");
        c->epochs = 20;
        c->hwa_epochs = 6;
        c->repeats = 5;
    } else if (strcmp(p, "fsdd") == 0) {
        SET(c->layout, "fsdd");
        SET(c->model, "cnn3-bn"); /* the input BN fits the 8-bit DAC to every channel (docs/aimc.md §11) */
        c->epochs = 80;
        c->hwa_epochs = 30;
    } else if (strcmp(p, "ti46") == 0) {
        SET(c->layout, "ti46");
        c->female_only = 1;
        SET(c->split, "stratified");
        c->split_seed = 7;
        SET(c->model, "cnn3-bn");
        c->epochs = 80;
        c->hwa_epochs = 30;
    } else if (strcmp(p, "gsc12") == 0 || strcmp(p, "gsc") == 0) {
        /* The paper's GSC chain (paper-code.md §1.3, §2): 8 kS/s DAC, no amplitude scaling or
         * trimming, ADC averaging then ×4 decimation → 2 kS/s, 7,936 samples → 64 × 1,984. */
        SET(c->layout, "gsc");
        SET(c->trim, "none");
        c->rate_hz = 8000;
        c->peak_v = 0;
        c->decim = 4;
        c->duration_s = 0.992;
        SET(c->model, "hwa6");
        c->epochs = 40;
        c->hwa_epochs = 10;
        if (strcmp(p, "gsc12") == 0) SET(c->split, "stratified");
        else SET(c->split, "official");
    } else {
        return -1;
    }
    return 0;
}

/* Apply one setting by name (config file key or long option without "--", '-' or '_').
 * Returns 0, or -1 with a message printed. */
static int cfg_set(run_cfg *c, const char *key, const char *val, const char *src)
{
    char k[64];
    snprintf(k, sizeof k, "%s", key);
    for (char *p = k; *p; p++)
        if (*p == '-') *p = '_';
    double d;
    long l;
#define NUM(name, lo, hi, field)                                                                   \
    if (strcmp(k, name) == 0) {                                                                    \
        if (cli_parse_double(val, &d) || d < (lo) || d > (hi)) {                                   \
            fprintf(stderr, "materia run: %s: '%s' must be a number in [%g, %g], got '%s'\n", src, \
                    key, (double)(lo), (double)(hi), val);                                         \
            return -1;                                                                             \
        }                                                                                          \
        field = d;                                                                                 \
        return 0;                                                                                  \
    }
#define INT(name, lo, hi, field)                                                                   \
    if (strcmp(k, name) == 0) {                                                                    \
        if (cli_parse_int(val, &l) || l < (lo) || l > (hi)) {                                      \
            fprintf(stderr, "materia run: %s: '%s' must be an integer in [%ld, %ld], got '%s'\n",  \
                    src, key, (long)(lo), (long)(hi), val);                                        \
            return -1;                                                                             \
        }                                                                                          \
        field = l;                                                                                 \
        return 0;                                                                                  \
    }
#define STR(name, field)             \
    if (strcmp(k, name) == 0) {      \
        SET(field, val);             \
        return 0;                    \
    }
    STR("data", c->data) STR("layout", c->layout) STR("split", c->split)
    STR("gsc_classes", c->gsc_classes) STR("trim", c->trim) STR("frontend", c->frontend)
    STR("model", c->model) STR("cores_per_layer", c->cores)
    NUM("test_frac", 0.001, 0.999, c->test_frac) INT("split_seed", 0, 1L << 40, c->split_seed)
    NUM("rate_hz", 100, 1e6, c->rate_hz) NUM("peak_v", 0, 10, c->peak_v) NUM("trim_v", 0, 10, c->trim_v)
    NUM("duration_s", 0.01, 60, c->duration_s) INT("channels", 1, 4096, c->channels)
    INT("decim", 0, 10000, c->decim)
    INT("fe_seed", 0, 1L << 40, c->fe_seed) INT("epochs", 1, 100000, c->epochs)
    INT("batch", 1, 100000, c->batch) NUM("lr", 1e-9, 10, c->lr) NUM("wd", 0, 10, c->wd)
    INT("seed", 0, 1L << 40, c->seed) INT("hwa_epochs", 0, 100000, c->hwa_epochs)
    NUM("hwa_lr", 1e-9, 10, c->hwa_lr) INT("repeats", 1, 10000, c->repeats)
    NUM("drift_s", 0, 1e10, c->drift_s) INT("female_only", 0, 1, c->female_only)
    INT("figures", 0, 1, c->figures) INT("synth_speakers", 1, 16, c->synth_speakers)
    INT("synth_reps", 5, 1000, c->synth_reps)
    if (strcmp(k, "fe_params") == 0) {
        free(c->fe_params);
        c->fe_params = strdup(val);
        return 0;
    }
#undef NUM
#undef INT
#undef STR
    fprintf(stderr, "materia run: %s: unknown setting '%s' (see 'materia run --help')\n", src, key);
    return -1;
}

static int cfg_load_file(run_cfg *c, const char *path)
{
    void *buf;
    size_t len;
    mt_err e = {0};
    if (mt_file_read_all(path, &buf, &len, 1 << 20, &e)) return cli_fail(&e), -1;
    cJSON *j = cJSON_ParseWithLength(buf, len);
    free(buf);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        fprintf(stderr, "materia run: %s: not a JSON object\n", path);
        return -1;
    }
    /* the preset first, so the file's other keys override it */
    cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "preset");
    if (p) {
        if (!cJSON_IsString(p) || preset_apply(c, p->valuestring)) {
            fprintf(stderr, "materia run: %s: unknown preset\n", path);
            cJSON_Delete(j);
            return -1;
        }
    }
    cJSON *it;
    int rc = 0;
    cJSON_ArrayForEach(it, j)
    {
        if (strcmp(it->string, "preset") == 0) continue;
        char val[1024];
        if (cJSON_IsString(it)) snprintf(val, sizeof val, "%s", it->valuestring);
        else if (cJSON_IsBool(it)) snprintf(val, sizeof val, "%d", cJSON_IsTrue(it) ? 1 : 0);
        else if (cJSON_IsNumber(it)) snprintf(val, sizeof val, "%.17g", it->valuedouble);
        else if (cJSON_IsObject(it) && strcmp(it->string, "fe_params") == 0) {
            char *s = cJSON_PrintUnformatted(it);
            snprintf(val, sizeof val, "%s", s);
            free(s);
        } else {
            fprintf(stderr, "materia run: %s: '%s' has an unsupported value type\n", path, it->string);
            rc = -1;
            break;
        }
        if (cfg_set(c, it->string, val, path)) {
            rc = -1;
            break;
        }
    }
    cJSON_Delete(j);
    return rc;
}

static cJSON *cfg_json(const run_cfg *c)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "preset", c->preset);
    cJSON_AddStringToObject(j, "data", c->data);
    cJSON_AddStringToObject(j, "layout", c->layout);
    cJSON_AddStringToObject(j, "split", c->split);
    cJSON_AddNumberToObject(j, "test_frac", c->test_frac);
    cJSON_AddNumberToObject(j, "split_seed", (double)c->split_seed);
    cJSON_AddStringToObject(j, "gsc_classes", c->gsc_classes);
    cJSON_AddNumberToObject(j, "female_only", c->female_only);
    cJSON_AddNumberToObject(j, "rate_hz", c->rate_hz);
    cJSON_AddNumberToObject(j, "peak_v", c->peak_v);
    cJSON_AddStringToObject(j, "trim", c->trim);
    cJSON_AddNumberToObject(j, "trim_v", c->trim_v);
    cJSON_AddNumberToObject(j, "duration_s", c->duration_s);
    cJSON_AddStringToObject(j, "frontend", c->frontend);
    cJSON_AddNumberToObject(j, "channels", c->channels);
    cJSON_AddNumberToObject(j, "decim", c->decim);
    cJSON_AddNumberToObject(j, "fe_seed", (double)c->fe_seed);
    cJSON_AddItemToObject(j, "fe_params", c->fe_params ? cJSON_Parse(c->fe_params) : cJSON_CreateNull());
    cJSON_AddStringToObject(j, "model", c->model);
    cJSON_AddNumberToObject(j, "epochs", c->epochs);
    cJSON_AddNumberToObject(j, "batch", c->batch);
    cJSON_AddNumberToObject(j, "lr", c->lr);
    cJSON_AddNumberToObject(j, "wd", c->wd);
    cJSON_AddNumberToObject(j, "seed", (double)c->seed);
    cJSON_AddNumberToObject(j, "hwa_epochs", c->hwa_epochs);
    cJSON_AddNumberToObject(j, "hwa_lr", c->hwa_lr);
    cJSON_AddNumberToObject(j, "repeats", c->repeats);
    cJSON_AddNumberToObject(j, "drift_s", c->drift_s);
    cJSON_AddStringToObject(j, "cores_per_layer", c->cores);
    return j;
}

/* ------------------------------------------------------------------------------------------ */
/* Small helpers                                                                               */
/* ------------------------------------------------------------------------------------------ */

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    if (cli_quiet()) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static cJSON *read_json(const char *path)
{
    void *buf;
    size_t len;
    if (mt_file_read_all(path, &buf, &len, 0, NULL)) return NULL;
    cJSON *j = cJSON_ParseWithLength(buf, len);
    free(buf);
    return j;
}

static int write_json(const char *path, const cJSON *j, mt_err *err)
{
    char *s = cJSON_Print(j);
    if (!s) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    mt_status st = mt_file_write_all(path, s, strlen(s), err);
    free(s);
    return st;
}

static cJSON *eval_json(const mt_eval_result *r, char *const *names)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "n", (double)r->n);
    cJSON_AddNumberToObject(j, "accuracy", r->accuracy);
    cJSON_AddNumberToObject(j, "weighted_f1", r->weighted_f1);
    cJSON_AddNumberToObject(j, "loss", r->loss);
    cJSON *cm = cJSON_AddArrayToObject(j, "confusion");
    for (int a = 0; a < r->nclasses; a++) {
        cJSON *row = cJSON_CreateArray();
        for (int b = 0; b < r->nclasses; b++)
            cJSON_AddItemToArray(row, cJSON_CreateNumber((double)r->confusion[a * r->nclasses + b]));
        cJSON_AddItemToArray(cm, row);
    }
    cJSON *rec = cJSON_AddObjectToObject(j, "per_class_recall");
    for (int a = 0; a < r->nclasses; a++) cJSON_AddNumberToObject(rec, names[a], r->recall[a]);
    return j;
}

/* ------------------------------------------------------------------------------------------ */
/* Run state                                                                                   */
/* ------------------------------------------------------------------------------------------ */

typedef struct run_ctx {
    run_cfg cfg;
    char out[2048];
    int json;
    cJSON *report;  /* everything that goes into report.json */
    cJSON *timings; /* stage → seconds */
    mt_features feats;
    char feats_path[4200];
    mt_dataset_opts dso;
} run_ctx;

static void timing(run_ctx *r, const char *stage, double t0, int cached)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "seconds", cli_now() - t0);
    cJSON_AddBoolToObject(o, "cached", cached);
    cJSON_AddItemToObject(r->timings, stage, o);
}

static void path_in(const run_ctx *r, char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", r->out, name);
}

/* Stage 0: the built-in corpus when no data was given. */
static int stage_corpus(run_ctx *r)
{
    if (r->cfg.data[0]) return 0;
    char dir[4200];
    path_in(r, dir, sizeof dir, "corpus");
    SET(r->cfg.data, dir);
    SET(r->cfg.layout, "fsdd");
    char marker[4300];
    snprintf(marker, sizeof marker, "%s/synth.json", dir);
    double t0 = cli_now();
    if (exists(marker)) {
        timing(r, "corpus", t0, 1);
        return 0;
    }
    say("[corpus] synthesising spoken digits with espeak-ng into %s", dir);
    mt_synth_opts o = mt_synth_defaults(MT_SYNTH_DIGITS);
    o.speakers = r->cfg.synth_speakers;
    o.reps = r->cfg.synth_reps;
    cli_progress pb;
    cli_progress_init(&pb, "corpus");
    mt_progress prog = {cli_progress_cb, &pb};
    mt_err e = {0};
    mt_status s = mt_synth_corpus(dir, &o, 0, &prog, NULL, &e);
    cli_progress_done(&pb);
    if (s) return cli_fail(&e);
    timing(r, "corpus", t0, 0);
    return 0;
}

/* Stage 1: features, cached by hash. */
static int stage_features(run_ctx *r)
{
    const run_cfg *c = &r->cfg;
    double t0 = cli_now();
    mt_err e = {0};
    cli_data_opts d;
    cli_data_defaults(&d);
    d.data = c->data;
    d.layout = c->layout;
    d.split = c->split;
    d.test_frac = c->test_frac;
    d.split_seed = c->split_seed;
    d.ds.gsc_classes = strcmp(c->gsc_classes, "paper") == 0 ? MT_GSC_PAPER : MT_GSC_12;
    d.ds.ti46_female_only = c->female_only;
    mt_dataset ds;
    if (cli_data_open(&d, &ds, &e)) return cli_fail(&e);
    mt_frontend_cfg fc = {.name = c->frontend, .channels = c->channels, .seed = (uint64_t)c->fe_seed,
                          .rate_hz = c->rate_hz, .decim = c->decim, .params_json = c->fe_params};
    mt_frontend *fe;
    if (mt_frontend_create(&fc, &fe, &e)) {
        mt_dataset_free(&ds);
        return cli_fail(&e);
    }
    mt_audio_prep prep = mt_audio_prep_default();
    prep.rate_hz = c->rate_hz;
    prep.peak_v = (float)c->peak_v;
    prep.trim = strcmp(c->trim, "abs") == 0 ? MT_TRIM_ABS : strcmp(c->trim, "db") == 0 ? MT_TRIM_DB : MT_TRIM_NONE;
    prep.trim_abs_v = (float)c->trim_v;
    prep.length = (int64_t)llround(c->duration_s * c->rate_hz);

    /* provenance and cache key: data listing (paths, sizes, mtimes, labels, split) + configs */
    cJSON *cfg = cli_features_provenance(fe, &fc, &prep, &ds, &d);
    char *cfg_text = cJSON_PrintUnformatted(cfg);
    uint64_t h = cli_features_key(cfg_text, &ds);
    char cache[4200];
    path_in(r, cache, sizeof cache, "cache");
    if (cli_mkdir_p(cache)) {
        fprintf(stderr, "materia: %s: cannot create folder: %s\n", cache, strerror(errno));
        return 1;
    }
    snprintf(r->feats_path, sizeof r->feats_path, "%s/features-%016llx.npy", cache, (unsigned long long)h);
    cJSON *fr = cJSON_CreateObject();
    cJSON_AddStringToObject(fr, "path", r->feats_path);
    cJSON_AddStringToObject(fr, "hash", strrchr(r->feats_path, '-') + 1);
    cJSON_AddItemToObject(fr, "config", cfg);
    cJSON_AddItemToObject(r->report, "features", fr);
    int rc = 0;
    if (exists(r->feats_path) && mt_features_load(r->feats_path, &r->feats, &e) == MT_OK) {
        say("[features] cached: %s", r->feats_path);
        timing(r, "features", t0, 1);
    } else {
        say("[features] %s × %d channels over %d utterances", c->frontend, mt_frontend_channels(fe), ds.n);
        cli_progress pb;
        cli_progress_init(&pb, "features");
        mt_progress prog = {cli_progress_cb, &pb};
        mt_status s = mt_features_extract(&ds, &prep, fe, 0, &prog, &r->feats, &e);
        cli_progress_done(&pb);
        if (!s) {
            r->feats.config_json = strdup(cfg_text);
            s = mt_features_save(&r->feats, r->feats_path, &e);
        }
        if (s) rc = cli_fail(&e);
        timing(r, "features", t0, 0);
    }
    if (!rc) {
        cJSON_AddNumberToObject(fr, "n", (double)r->feats.n);
        cJSON_AddNumberToObject(fr, "channels", (double)r->feats.c);
        cJSON_AddNumberToObject(fr, "frames", (double)r->feats.t);
        cJSON_AddNumberToObject(fr, "rate_hz", r->feats.rate_hz);
        cJSON *ds_j = cJSON_AddObjectToObject(r->report, "dataset");
        cJSON_AddStringToObject(ds_j, "root", ds.root);
        cJSON_AddStringToObject(ds_j, "layout", mt_layout_name(ds.layout));
        cJSON_AddNumberToObject(ds_j, "files", ds.n);
        cJSON_AddNumberToObject(ds_j, "speakers", ds.nspeakers);
        cJSON_AddStringToObject(ds_j, "split", mt_split_method_name(ds.split_method));
        static const char *const sn[3] = {"train", "val", "test"};
        for (int s = 0; s < 3; s++) cJSON_AddNumberToObject(ds_j, sn[s], mt_dataset_count(&ds, s, -1));
        cJSON *cl = cJSON_AddArrayToObject(ds_j, "classes");
        for (int k = 0; k < ds.nclasses; k++) cJSON_AddItemToArray(cl, cJSON_CreateString(ds.classes[k]));
    }
    free(cfg_text);
    mt_frontend_free(fe);
    mt_dataset_free(&ds);
    return rc;
}

typedef struct epoch_printer {
    const char *stage;
    cli_progress *pb;
} epoch_printer;

static void on_epoch(void *ctx, const mt_epoch_stats *s)
{
    epoch_printer *p = ctx;
    cli_progress_done(p->pb);
    if (cli_quiet()) return;
    fprintf(stderr, "[%s] epoch %3d/%d  loss %.4f  acc %5.1f%%  val %5.1f%%  lr %.2e  %.1fs%s\n", p->stage,
            s->epoch, s->epochs, s->train_loss, 100 * s->train_acc, 100 * s->val_acc, s->lr, s->seconds,
            s->improved ? "  *" : "");
}

static cJSON *history_json(const mt_train_result *tr)
{
    cJSON *h = cJSON_CreateArray();
    for (int i = 0; i < tr->nhist; i++) {
        const mt_epoch_stats *s = &tr->hist[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "epoch", s->epoch);
        cJSON_AddNumberToObject(o, "train_loss", s->train_loss);
        cJSON_AddNumberToObject(o, "train_acc", s->train_acc);
        cJSON_AddNumberToObject(o, "val_loss", s->val_loss);
        cJSON_AddNumberToObject(o, "val_acc", s->val_acc);
        cJSON_AddNumberToObject(o, "lr", s->lr);
        cJSON_AddNumberToObject(o, "seconds", s->seconds);
        cJSON_AddItemToArray(h, o);
    }
    return h;
}

/* Stages 2 and 3: training.  The summary (history, metrics) goes to OUT/<name>.json; the stage
 * is done when both the model and its summary exist. */
static int stage_train(run_ctx *r, int hwa)
{
    const run_cfg *c = &r->cfg;
    const char *stage = hwa ? "hwa" : "train";
    char model_path[4200], sum_path[4200], fp_path[4200];
    path_in(r, model_path, sizeof model_path, hwa ? "model-hwa.safetensors" : "model.safetensors");
    path_in(r, sum_path, sizeof sum_path, hwa ? "train-hwa.json" : "train.json");
    path_in(r, fp_path, sizeof fp_path, "model.safetensors");
    double t0 = cli_now();
    cJSON *prev = exists(model_path) ? read_json(sum_path) : NULL;
    if (prev) {
        say("[%s] done already: %s", stage, model_path);
        cJSON_AddItemToObject(r->report, stage, prev);
        timing(r, stage, t0, 1);
        return 0;
    }
    mt_err e = {0};
    mt_model m;
    char *arch = NULL, *name = NULL;
    int classes = 0;
    mt_status s;
    if (hwa) {
        s = mt_model_load(fp_path, &m, NULL, &e);
    } else {
        s = mt_arch_resolve(c->model, &arch, &classes, &name, &e);
        if (!s) s = mt_model_build(&m, arch, r->feats.c, r->feats.t, r->feats.nclasses, (uint64_t)c->seed, &e);
    }
    if (s) {
        free(arch);
        free(name);
        return cli_fail(&e);
    }
    mt_train_opts o;
    mt_train_opts_default(&o);
    o.epochs = hwa ? c->hwa_epochs : c->epochs;
    o.batch = c->batch;
    o.lr = hwa ? c->hwa_lr : c->lr;
    o.wd = c->wd;
    o.seed = (uint64_t)c->seed;
    o.out_path = model_path;
    char state[4300];
    snprintf(state, sizeof state, "%s.state", model_path);
    o.state_path = state; /* model.safetensors.state or model-hwa.safetensors.state */
    o.resume = 1;
    o.model_name = hwa ? "hwa" : (name ? name : c->model);
    if (hwa) o.schedule = MT_SCHED_COSINE;
    cli_progress pb;
    cli_progress_init(&pb, stage);
    epoch_printer ep = {stage, &pb};
    o.on_epoch = on_epoch;
    o.ctx = &ep;
    o.progress.fn = cli_progress_cb;
    o.progress.ctx = &pb;
    say("[%s] %s on [%lld, %lld] features, %d epochs", stage, m.arch, (long long)r->feats.c, (long long)r->feats.t,
        o.epochs);
    mt_train_result tr;
    memset(&tr, 0, sizeof tr);
    float *ranges = hwa ? calloc((size_t)m.nlayers, sizeof *ranges) : NULL;
    if (hwa) {
        mt_hwa_opts h;
        mt_hwa_opts_default(&h);
        h.from = fp_path;
        s = mt_hwa_train(&m, &r->feats, &h, &o, ranges, &tr, &e);
    } else {
        s = mt_train(&m, &r->feats, &o, &tr, &e);
    }
    cli_progress_done(&pb);
    int rc = 0;
    if (s) {
        rc = cli_fail(&e);
    } else {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "model", model_path);
        cJSON_AddStringToObject(j, "arch", m.arch);
        cJSON_AddNumberToObject(j, "params", (double)m.nparams);
        cJSON_AddNumberToObject(j, "macs", (double)m.macs);
        cJSON_AddNumberToObject(j, "epochs", o.epochs);
        cJSON_AddNumberToObject(j, "best_epoch", tr.best_epoch);
        cJSON_AddNumberToObject(j, "best_val_acc", tr.best_val_acc);
        cJSON_AddNumberToObject(j, "n_train", (double)tr.n_train);
        cJSON_AddNumberToObject(j, "n_val", (double)tr.n_val);
        cJSON_AddNumberToObject(j, "n_test", (double)tr.n_test);
        if (tr.test.n > 0) cJSON_AddItemToObject(j, "test", eval_json(&tr.test, r->feats.classes));
        cJSON_AddNumberToObject(j, "samples_per_s", tr.samples_per_s);
        cJSON_AddItemToObject(j, "history", history_json(&tr));
        if (write_json(sum_path, j, &e)) rc = cli_fail(&e);
        cJSON_AddItemToObject(r->report, stage, j);
        say("[%s] test accuracy %.2f%% (best epoch %d)", stage, 100 * tr.test.accuracy, tr.best_epoch);
    }
    mt_train_result_free(&tr);
    free(ranges);
    mt_model_free(&m);
    free(arch);
    free(name);
    timing(r, stage, t0, 0);
    return rc;
}

/* PCM accuracy of `model_path` on the test split: `repeats` programmings read at drift_s, with
 * the HWA-learned input ranges as DAC ranges when the model has them (mt_aimc_evaluate). */
static int pcm_eval(run_ctx *r, const char *model_path, double drift_s, int repeats, uint64_t seed, double *runs,
                    mt_eval_result *last, mt_err *e)
{
    mt_model m;
    char *meta = NULL;
    if (mt_model_load(model_path, &m, &meta, e)) return -1;
    float *ranges = calloc((size_t)m.nlayers, sizeof *ranges);
    int found = 0, rc = 0;
    if (mt_hwa_ranges_from_meta(meta, &m, ranges, NULL, &found, e)) rc = -1;
    mt_aimc_eval_opts o;
    mt_aimc_eval_opts_default(&o);
    o.t_inf = drift_s;
    o.repeats = repeats;
    o.seed = seed;
    o.input_ranges = found ? ranges : NULL;
    o.last = last;
    if (!rc && mt_aimc_evaluate(&m, &r->feats, &o, runs, NULL, e)) rc = -1;
    free(ranges);
    free(meta);
    mt_model_free(&m);
    return rc;
}

static void mean_std(const double *v, int n, double *mean, double *std)
{
    double s = 0, q = 0;
    for (int i = 0; i < n; i++) s += v[i];
    *mean = s / n;
    for (int i = 0; i < n; i++) q += (v[i] - *mean) * (v[i] - *mean);
    *std = n > 1 ? sqrt(q / (n - 1)) : 0;
}

/* Stage 4: PCM inference at drift_s (repeats) and a drift sweep. */
static int stage_pcm(run_ctx *r)
{
    const run_cfg *c = &r->cfg;
    char path[4200], model_path[4200];
    path_in(r, path, sizeof path, "pcm.json");
    path_in(r, model_path, sizeof model_path, c->hwa_epochs > 0 ? "model-hwa.safetensors" : "model.safetensors");
    double t0 = cli_now();
    cJSON *prev = read_json(path);
    if (prev) {
        say("[pcm] done already: %s", path);
        cJSON_AddItemToObject(r->report, "pcm", prev);
        timing(r, "pcm", t0, 1);
        return 0;
    }
    mt_err e = {0};
    int K = c->repeats;
    double *runs = calloc((size_t)K, sizeof *runs);
    mt_eval_result last;
    memset(&last, 0, sizeof last);
    say("[pcm] %d programmings of %s, read at %g s", K, model_path, c->drift_s);
    if (pcm_eval(r, model_path, c->drift_s, K, (uint64_t)c->seed + 77, runs, &last, &e)) {
        free(runs);
        return cli_fail(&e);
    }
    double mean, std;
    mean_std(runs, K, &mean, &std);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "model", model_path);
    cJSON_AddNumberToObject(j, "drift_s", c->drift_s);
    cJSON *acc = cJSON_AddObjectToObject(j, "accuracy");
    cJSON_AddNumberToObject(acc, "mean", mean);
    cJSON_AddNumberToObject(acc, "std", std);
    cJSON *ra = cJSON_AddArrayToObject(acc, "runs");
    for (int k = 0; k < K; k++) cJSON_AddItemToArray(ra, cJSON_CreateNumber(runs[k]));
    cJSON_AddItemToObject(j, "last_run", eval_json(&last, r->feats.classes));
    mt_eval_result_free(&last);
    say("[pcm] accuracy %.2f ± %.2f%% at %g s", 100 * mean, 100 * std, c->drift_s);
    /* drift sweep: 1 s … 1 year, fewer repeats */
    static const double drifts[] = {1, 60, 3600, 86400, 2592000, 31536000};
    int nd = (int)(sizeof drifts / sizeof drifts[0]), ks = K < 3 ? K : 3;
    cJSON *sw = cJSON_AddArrayToObject(j, "drift_sweep");
    for (int i = 0; i < nd; i++) {
        if (pcm_eval(r, model_path, drifts[i], ks, (uint64_t)c->seed + 1000 + (uint64_t)i, runs, NULL, &e)) {
            cJSON_Delete(j);
            free(runs);
            return cli_fail(&e);
        }
        mean_std(runs, ks, &mean, &std);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "drift_s", drifts[i]);
        cJSON_AddNumberToObject(o, "mean", mean);
        cJSON_AddNumberToObject(o, "std", std);
        cJSON_AddNumberToObject(o, "repeats", ks);
        cJSON_AddItemToArray(sw, o);
        say("[pcm] drift %10.0f s: %.2f ± %.2f%%", drifts[i], 100 * mean, 100 * std);
    }
    free(runs);
    int rc = write_json(path, j, &e) ? cli_fail(&e) : 0;
    cJSON_AddItemToObject(r->report, "pcm", j);
    timing(r, "pcm", t0, 0);
    return rc;
}

/* Stage 5: chip mapping and system energy (cheap: always recomputed). */
static int stage_energy(run_ctx *r)
{
    const run_cfg *c = &r->cfg;
    double t0 = cli_now();
    char model_path[4200];
    path_in(r, model_path, sizeof model_path, "model.safetensors");
    mt_err e = {0};
    mt_model m;
    if (mt_model_load(model_path, &m, NULL, &e)) return cli_fail(&e);
    mt_aimc_layer *L = NULL;
    int nl = 0, rc = 0;
    int *cores = NULL;
    mt_chip chip;
    mt_aimc_map map;
    memset(&map, 0, sizeof map);
    mt_status s = mt_aimc_layers_from_model(&m, &L, &nl, &e);
    if (!s) s = mt_chip_hermes(&chip, 1, &e);
    if (!s && c->cores[0]) {
        cores = calloc((size_t)nl, sizeof *cores);
        int k = 0;
        const char *p = c->cores;
        while (*p && k < nl) {
            cores[k++] = atoi(p);
            p = strchr(p, ',');
            if (!p) break;
            p++;
        }
        if (k != nl) s = mt_err_set(&e, MT_ERR_ARG, "cores_per_layer needs %d numbers (one per analog layer)", nl);
    }
    if (!s) s = mt_aimc_map_layers(L, nl, &chip, cores, &map, &e);
    mt_system_params sp;
    mt_system_params_default(&sp);
    sp.channels = (int)r->feats.c;
    sp.duration_s = c->duration_s;
    mt_system_energy se;
    if (!s) s = mt_system_energy_compute(&sp, &map, &se, &e);
    if (s) {
        rc = cli_fail(&e);
    } else {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "chip", chip.name);
        cJSON_AddNumberToObject(j, "cores", map.cores);
        cJSON_AddNumberToObject(j, "mvms", (double)map.mvms);
        cJSON_AddNumberToObject(j, "core_mvms", (double)map.core_mvms);
        cJSON_AddNumberToObject(j, "energy_uj", map.energy_uj);
        cJSON_AddNumberToObject(j, "latency_us", map.latency_us);
        cJSON *ly = cJSON_AddArrayToObject(j, "layers");
        for (int i = 0; i < map.nlayers; i++) {
            const mt_aimc_layer_map *lm = &map.layers[i];
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", lm->layer.name);
            cJSON_AddNumberToObject(o, "rows", (double)lm->layer.rows);
            cJSON_AddNumberToObject(o, "cols", (double)lm->layer.cols);
            cJSON_AddNumberToObject(o, "cores", lm->cores);
            cJSON_AddNumberToObject(o, "mvms", (double)lm->mvms);
            cJSON_AddNumberToObject(o, "core_mvms", (double)lm->core_mvms);
            cJSON_AddNumberToObject(o, "energy_uj", lm->energy_uj);
            cJSON_AddNumberToObject(o, "latency_us", lm->latency_us);
            cJSON_AddItemToArray(ly, o);
        }
        cJSON *sys = cJSON_AddObjectToObject(j, "system");
        cJSON_AddNumberToObject(sys, "rnpu_uj", se.rnpu_uj);
        cJSON_AddNumberToObject(sys, "adc_uj", se.adc_uj);
        cJSON_AddNumberToObject(sys, "aimc_uj", se.aimc_uj);
        cJSON_AddNumberToObject(sys, "total_uj", se.total_uj);
        cJSON_AddNumberToObject(sys, "latency_us", se.latency_us);
        cJSON_AddNumberToObject(sys, "edp_uj_us", se.edp_uj_us);
        cJSON_AddItemToObject(r->report, "energy", j);
    }
    mt_aimc_map_free(&map);
    free(L);
    free(cores);
    mt_model_free(&m);
    timing(r, "energy", t0, 0);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Figures                                                                                     */
/* ------------------------------------------------------------------------------------------ */

static int save_both(mt_plot *p, const char *dir, const char *name, cJSON *list)
{
    mt_err e = {0};
    int rc = 0;
    static const char *const ext[2] = {"png", "svg"};
    for (int k = 0; k < 2; k++) {
        char path[4300];
        snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext[k]);
        if (mt_plot_save(p, path, &e)) {
            rc = cli_fail(&e);
            break;
        }
        if (k == 0) cJSON_AddItemToArray(list, cJSON_CreateString(path));
    }
    mt_plot_free(p);
    return rc;
}

static int fig_confusion(run_ctx *r, const char *dir, cJSON *list, const char *key, const char *title)
{
    cJSON *st = cJSON_GetObjectItemCaseSensitive(r->report, key);
    cJSON *cm = st ? cJSON_GetObjectItemCaseSensitive(st, strcmp(key, "pcm") == 0 ? "last_run" : "test") : NULL;
    cm = cm ? cJSON_GetObjectItemCaseSensitive(cm, "confusion") : NULL;
    if (!cJSON_IsArray(cm)) return 0;
    int n = cJSON_GetArraySize(cm);
    float *z = calloc((size_t)(n * n), sizeof *z);
    for (int a = 0; a < n; a++) {
        cJSON *row = cJSON_GetArrayItem(cm, a);
        double tot = 0;
        for (int b = 0; b < n; b++) tot += cJSON_GetArrayItem(row, b)->valuedouble;
        /* row 0 of the image is at the bottom: put true class 0 at the top */
        for (int b = 0; b < n; b++)
            z[(n - 1 - a) * n + b] = (float)(tot > 0 ? 100.0 * cJSON_GetArrayItem(row, b)->valuedouble / tot : 0);
    }
    const char **yt = malloc((size_t)n * sizeof *yt);
    for (int a = 0; a < n; a++) yt[a] = r->feats.classes[n - 1 - a];
    mt_plot *p = mt_plot_new(title, "predicted class", "true class");
    mt_plot_size(p, 640, 560);
    mt_plot_image(p, z, n, n, -0.5, n - 0.5, -0.5, n - 0.5, "% of true class", 1);
    mt_plot_image_ticks(p, (const char *const *)r->feats.classes, n, yt, n);
    char name[64];
    snprintf(name, sizeof name, "confusion-%s", key);
    int rc = save_both(p, dir, name, list);
    free(z);
    free(yt);
    return rc;
}

static int fig_learning(run_ctx *r, const char *dir, cJSON *list)
{
    mt_plot *p = mt_plot_new("Learning curves", "epoch", "accuracy (%)");
    static const char *const stages[2] = {"train", "hwa"};
    int any = 0, offset = 0;
    for (int s = 0; s < 2; s++) {
        cJSON *st = cJSON_GetObjectItemCaseSensitive(r->report, stages[s]);
        cJSON *h = st ? cJSON_GetObjectItemCaseSensitive(st, "history") : NULL;
        int n = cJSON_GetArraySize(h);
        if (n <= 0) continue;
        double *x = malloc((size_t)n * sizeof *x), *ta = malloc((size_t)n * sizeof *ta), *va = malloc((size_t)n * sizeof *va);
        for (int i = 0; i < n; i++) {
            cJSON *o = cJSON_GetArrayItem(h, i);
            x[i] = offset + cJSON_GetObjectItemCaseSensitive(o, "epoch")->valuedouble;
            ta[i] = 100 * cJSON_GetObjectItemCaseSensitive(o, "train_acc")->valuedouble;
            va[i] = 100 * cJSON_GetObjectItemCaseSensitive(o, "val_acc")->valuedouble;
        }
        mt_plot_line(p, x, ta, n, s ? "HWA train" : "train");
        mt_plot_line(p, x, va, n, s ? "HWA validation" : "validation");
        offset += n;
        any = 1;
        free(x);
        free(ta);
        free(va);
    }
    if (!any) {
        mt_plot_free(p);
        return 0;
    }
    return save_both(p, dir, "learning-curves", list);
}

static int fig_drift(run_ctx *r, const char *dir, cJSON *list)
{
    cJSON *pcm = cJSON_GetObjectItemCaseSensitive(r->report, "pcm");
    cJSON *sw = pcm ? cJSON_GetObjectItemCaseSensitive(pcm, "drift_sweep") : NULL;
    int n = cJSON_GetArraySize(sw);
    if (n <= 0) return 0;
    double x[16], y[16], e[16], sx[2], sy[2];
    for (int i = 0; i < n && i < 16; i++) {
        cJSON *o = cJSON_GetArrayItem(sw, i);
        x[i] = cJSON_GetObjectItemCaseSensitive(o, "drift_s")->valuedouble;
        y[i] = 100 * cJSON_GetObjectItemCaseSensitive(o, "mean")->valuedouble;
        e[i] = 100 * cJSON_GetObjectItemCaseSensitive(o, "std")->valuedouble;
    }
    mt_plot *p = mt_plot_new("PCM accuracy versus drift time", "time after programming (s)", "test accuracy (%)");
    mt_plot_logx(p, 1);
    mt_plot_points(p, x, y, e, n, "PCM chip (compensated)");
    mt_plot_line(p, x, y, n, NULL);
    cJSON *tr = cJSON_GetObjectItemCaseSensitive(r->report, "train");
    cJSON *te = tr ? cJSON_GetObjectItemCaseSensitive(tr, "test") : NULL;
    if (te) {
        sx[0] = x[0];
        sx[1] = x[n - 1];
        sy[0] = sy[1] = 100 * cJSON_GetObjectItemCaseSensitive(te, "accuracy")->valuedouble;
        mt_plot_line(p, sx, sy, 2, "software");
    }
    return save_both(p, dir, "accuracy-vs-drift", list);
}

/* RNPU figures: τ histogram over random control sets (Fig. 2b inset) and the chirp response
 * spectrogram (Fig. 2c) of the device the features came from. */
static int fig_rnpu(run_ctx *r, const char *dir, cJSON *list)
{
    if (strcmp(r->cfg.frontend, "rnpu") != 0) return 0;
    mt_err e = {0};
    mt_rnpu_params prm;
    mt_rnpu_chain ch;
    mt_rnpu_params_default(&prm);
    mt_rnpu_chain_default(&ch);
    if (r->cfg.fe_params && mt_rnpu_options_parse(r->cfg.fe_params, &prm, &ch, &e)) return cli_fail(&e);
    mt_rnpu *d;
    if (mt_rnpu_create(&prm, (uint64_t)r->cfg.fe_seed, &d, &e)) return cli_fail(&e);
    int rc = 0;
    mt_rnpu_step_res sr;
    memset(&sr, 0, sizeof sr);
    if (mt_rnpu_lab_step(d, 200, (uint64_t)r->cfg.fe_seed, 0.4, 2.0, &sr, &e)) {
        rc = cli_fail(&e);
    } else {
        mt_plot *p = mt_plot_new("RNPU time constants (1-V step, 200 control sets)", "tau (ms)", "count");
        mt_plot_hist(p, sr.tau_ms, sr.n, 25, NULL);
        rc = save_both(p, dir, "rnpu-tau-histogram", list);
    }
    mt_rnpu_step_res_free(&sr);
    double vc[MT_RNPU_NC];
    memset(vc, 0, sizeof vc);
    mt_rnpu_chirp_res cr;
    memset(&cr, 0, sizeof cr);
    if (!rc && mt_rnpu_lab_chirp(d, vc, &cr, &e) == MT_OK && cr.n > 0) {
        /* spectrogram: 1,024-sample Hann windows, hop 256, magnitude in dB (direct DFT up to
         * 6 kHz in 25-Hz bins; small enough for a figure) */
        const double rate = 25000.0;
        int win = 1024, hop = 256, nf = (cr.n - win) / hop + 1, nb = 240;
        if (nf > 0) {
            float *z = malloc((size_t)nb * (size_t)nf * sizeof *z);
            for (int f = 0; f < nf; f++) {
                const double *x = cr.vo + (size_t)f * hop;
                double mean = 0;
                for (int i = 0; i < win; i++) mean += x[i];
                mean /= win;
                for (int b = 0; b < nb; b++) {
                    double fr = 25.0 * (b + 1), re = 0, im = 0;
                    for (int i = 0; i < win; i++) {
                        double w = 0.5 - 0.5 * cos(2 * M_PI * i / (win - 1));
                        re += w * (x[i] - mean) * cos(2 * M_PI * fr * i / rate);
                        im -= w * (x[i] - mean) * sin(2 * M_PI * fr * i / rate);
                    }
                    z[(size_t)b * nf + f] = (float)(10 * log10(re * re + im * im + 1e-30));
                }
            }
            mt_plot *p = mt_plot_new("RNPU response to a 100 Hz - 2 kHz chirp (controls 0 V)", "time (s)", "frequency (Hz)");
            mt_plot_image(p, z, nb, nf, 0, (double)cr.n / rate, 25, 25.0 * nb, "power (dB)", 0);
            rc = save_both(p, dir, "rnpu-chirp-spectrogram", list);
            free(z);
        }
    }
    mt_rnpu_chirp_res_free(&cr);
    mt_rnpu_free(d);
    return rc;
}

/* t-SNE of raw audio versus front-end features for up to 300 utterances (Fig. 3a/c). */
static int fig_tsne(run_ctx *r, const char *dir, cJSON *list)
{
    const mt_features *f = &r->feats;
    int n = f->n < 300 ? (int)f->n : 300;
    int stride = (int)(f->n / n);
    /* front-end features pooled ×10 in time: [C, T/10] per utterance */
    int tp = (int)(f->t / 10);
    if (tp < 1) tp = 1;
    int pool = (int)(f->t / tp), dfe = (int)f->c * tp;
    float *xf = malloc((size_t)n * dfe * sizeof *xf);
    int32_t *lab = malloc((size_t)n * sizeof *lab);
    for (int i = 0; i < n; i++) {
        const float *s = mt_features_sample(f, (int64_t)i * stride);
        lab[i] = f->labels[(int64_t)i * stride];
        for (int c = 0; c < f->c; c++)
            for (int t = 0; t < tp; t++) {
                double a = 0;
                for (int k = 0; k < pool; k++) a += s[c * f->t + t * pool + k];
                xf[(size_t)i * dfe + c * tp + t] = (float)(a / pool);
            }
    }
    /* raw audio of the same utterances through the raw front-end (×10 mean → 1,250 S/s) */
    mt_err e = {0};
    cli_data_opts d;
    cli_data_defaults(&d);
    d.data = r->cfg.data;
    d.layout = r->cfg.layout;
    d.split = r->cfg.split;
    d.test_frac = r->cfg.test_frac;
    d.split_seed = r->cfg.split_seed;
    d.ds.gsc_classes = strcmp(r->cfg.gsc_classes, "paper") == 0 ? MT_GSC_PAPER : MT_GSC_12;
    d.ds.ti46_female_only = r->cfg.female_only;
    mt_dataset ds;
    int rc = 0;
    float *xr = NULL;
    int draw = 0;
    if (cli_data_open(&d, &ds, &e) == MT_OK) {
        mt_audio_prep prep = mt_audio_prep_default();
        prep.rate_hz = r->cfg.rate_hz;
        prep.peak_v = (float)r->cfg.peak_v;
        prep.trim = strcmp(r->cfg.trim, "abs") == 0 ? MT_TRIM_ABS : strcmp(r->cfg.trim, "db") == 0 ? MT_TRIM_DB : MT_TRIM_NONE;
        prep.trim_abs_v = (float)r->cfg.trim_v;
        prep.length = (int64_t)llround(r->cfg.duration_s * r->cfg.rate_hz);
        draw = (int)(prep.length / 10);
        xr = malloc((size_t)n * draw * sizeof *xr);
        for (int i = 0; i < n && xr; i++) {
            const mt_item *it = &ds.items[(int64_t)i * stride];
            float *a = NULL;
            int64_t na = 0;
            if (mt_audio_prepare(it->path, it->offset, it->length, &prep, &a, &na, &e)) {
                free(xr);
                xr = NULL;
                break;
            }
            for (int t = 0; t < draw; t++) {
                double s = 0;
                for (int k = 0; k < 10; k++) s += a[t * 10 + k];
                xr[(size_t)i * draw + t] = (float)(s / 10);
            }
            free(a);
        }
        mt_dataset_free(&ds);
    }
    mt_tsne_opts o;
    mt_tsne_opts_default(&o);
    float *y = malloc((size_t)n * 2 * sizeof *y);
    double *px = malloc((size_t)n * sizeof *px), *py = malloc((size_t)n * sizeof *py);
    int *g = malloc((size_t)n * sizeof *g);
    for (int i = 0; i < n; i++) g[i] = lab[i];
    cJSON *knn = cJSON_CreateObject();
    for (int which = 0; which < 2 && !rc; which++) {
        const float *x = which ? xf : xr;
        int dims = which ? dfe : draw;
        if (!x) continue;
        if (mt_tsne(x, n, dims, &o, y, &e)) {
            rc = cli_fail(&e);
            break;
        }
        double acc = mt_knn_accuracy(y, n, 2, lab, f->nclasses, 5);
        cJSON_AddNumberToObject(knn, which ? "features" : "raw", acc);
        for (int i = 0; i < n; i++) {
            px[i] = y[2 * i];
            py[i] = y[2 * i + 1];
        }
        char title[160];
        snprintf(title, sizeof title, "t-SNE of %s (%d utterances; 5-NN accuracy %.0f%%)",
                 which ? r->cfg.frontend : "raw audio", n, 100 * acc);
        mt_plot *p = mt_plot_new(title, "t-SNE 1", "t-SNE 2");
        mt_plot_scatter(p, px, py, g, n, (const char *const *)f->classes, f->nclasses);
        rc = save_both(p, dir, which ? "tsne-features" : "tsne-raw", list);
    }
    cJSON_AddItemToObject(r->report, "tsne_knn_accuracy", knn);
    free(xf);
    free(xr);
    free(lab);
    free(y);
    free(px);
    free(py);
    free(g);
    return rc;
}

static int stage_figures(run_ctx *r)
{
    if (!r->cfg.figures) return 0;
    double t0 = cli_now();
    char dir[4200];
    path_in(r, dir, sizeof dir, "figures");
    if (cli_mkdir_p(dir)) {
        fprintf(stderr, "materia: %s: cannot create folder: %s\n", dir, strerror(errno));
        return 1;
    }
    say("[figures] %s", dir);
    cJSON *list = cJSON_AddArrayToObject(r->report, "figures");
    int rc = fig_confusion(r, dir, list, "train", "Confusion matrix, software model (test split)");
    if (!rc) rc = fig_confusion(r, dir, list, "pcm", "Confusion matrix, PCM chip (test split)");
    if (!rc) rc = fig_learning(r, dir, list);
    if (!rc) rc = fig_drift(r, dir, list);
    if (!rc) rc = fig_rnpu(r, dir, list);
    if (!rc) rc = fig_tsne(r, dir, list);
    timing(r, "figures", t0, 0);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* report.md                                                                                   */
/* ------------------------------------------------------------------------------------------ */

static double jnum(const cJSON *o, const char *path)
{
    /* "a.b.c" */
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    const cJSON *cur = o;
    for (char *tok = strtok(buf, "."); tok && cur; tok = strtok(NULL, "."))
        cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
    return cJSON_IsNumber(cur) ? cur->valuedouble : NAN;
}

static int write_markdown(run_ctx *r, mt_err *e)
{
    const cJSON *j = r->report;
    size_t cap = 1 << 16, len = 0;
    char *md = malloc(cap);
#define P(...)                                                                   \
    do {                                                                         \
        int k_ = snprintf(md + len, cap - len, __VA_ARGS__);                     \
        if (k_ > 0) len += (size_t)k_ < cap - len ? (size_t)k_ : cap - len - 1; \
    } while (0)
    P("# materia report\n\n");
    P("Preset `%s`, data `%s` (layout %s), front-end `%s` × %d channels, classifier `%s`.\n"
      "materia %s; every number below comes from this run (report.json has them all).\n\n",
      r->cfg.preset, r->cfg.data, r->cfg.layout, r->cfg.frontend, (int)r->feats.c, r->cfg.model, mt_version());
    P("## Data\n\n| files | classes | train | val | test | split |\n|---|---|---|---|---|---|\n");
    P("| %.0f | %d | %.0f | %.0f | %.0f | %s |\n\n", jnum(j, "dataset.files"), r->feats.nclasses, jnum(j, "dataset.train"),
      jnum(j, "dataset.val"), jnum(j, "dataset.test"),
      cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "dataset"), "split")->valuestring);
    P("## Accuracy (test split)\n\n| model | accuracy | weighted F1 |\n|---|---|---|\n");
    P("| software, full precision | %.2f%% | %.3f |\n", 100 * jnum(j, "train.test.accuracy"), jnum(j, "train.test.weighted_f1"));
    if (cJSON_GetObjectItemCaseSensitive(j, "hwa"))
        P("| hardware-aware, digital (8-bit inputs, no noise) | %.2f%% | %.3f |\n", 100 * jnum(j, "hwa.test.accuracy"),
          jnum(j, "hwa.test.weighted_f1"));
    if (cJSON_GetObjectItemCaseSensitive(j, "pcm"))
        P("| PCM chip, %d programmings, read at %g s (mean ± std) | %.2f ± %.2f%% | |\n", r->cfg.repeats, r->cfg.drift_s,
          100 * jnum(j, "pcm.accuracy.mean"), 100 * jnum(j, "pcm.accuracy.std"));
    P("\nClassifier: %.0f parameters, %.2f M MACs per inference.\n\n", jnum(j, "train.params"), jnum(j, "train.macs") / 1e6);
    if (cJSON_GetObjectItemCaseSensitive(j, "energy")) {
        P("## Energy and latency per 1-s inference\n\n| part | energy (µJ) |\n|---|---|\n");
        P("| RNPU front-end (%d × static power × 1 s) | %.3f |\n", (int)r->feats.c, jnum(j, "energy.system.rnpu_uj"));
        P("| ADC interface (assumed figure of merit) | %.3f |\n", jnum(j, "energy.system.adc_uj"));
        P("| AIMC classifier (%.0f cores, %.0f core-MVMs) | %.3f |\n", jnum(j, "energy.cores"), jnum(j, "energy.core_mvms"),
          jnum(j, "energy.system.aimc_uj"));
        P("| **total** | **%.3f** |\n\n", jnum(j, "energy.system.total_uj"));
        P("Latency %.1f µs (%.0f MVMs × 133 ns); energy-delay product %.3g µJ·µs.\n\n", jnum(j, "energy.latency_us"),
          jnum(j, "energy.mvms"), jnum(j, "energy.system.edp_uj_us"));
    }
    cJSON *figs = cJSON_GetObjectItemCaseSensitive(j, "figures");
    if (cJSON_GetArraySize(figs) > 0) {
        P("## Figures\n\n");
        cJSON *it;
        cJSON_ArrayForEach(it, figs)
        {
            const char *p = strstr(it->valuestring, "figures/");
            P("![%s](%s)\n\n", p ? p + 8 : it->valuestring, p ? p : it->valuestring);
        }
    }
    P("## Timings\n\n| stage | seconds | cached |\n|---|---|---|\n");
    cJSON *it;
    cJSON_ArrayForEach(it, r->timings)
    P("| %s | %.1f | %s |\n", it->string, jnum(it, "seconds"), cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "cached")) ? "yes" : "no");
#undef P
    char path[4200];
    path_in(r, path, sizeof path, "report.md");
    mt_status s = mt_file_write_all(path, md, len, e);
    free(md);
    return s;
}

/* ------------------------------------------------------------------------------------------ */

enum { O_PRESET = 1, O_OUT, O_FRONTEND, O_CHANNELS, O_FESEED, O_FEPARAMS, O_MODEL, O_EPOCHS, O_BATCH, O_LR, O_WD,
       O_SEED, O_HWAEP, O_HWALR, O_REPEATS, O_DRIFT, O_CORES, O_NOFIG, O_JSON, O_QUIET };

static int run_main(run_ctx *r, int argc, char **argv);

static int run(int argc, char **argv)
{
    if (cli_wants_help(&mt_cmd_run, argc, argv)) return 0;
    run_ctx *r = calloc(1, sizeof *r);
    if (!r) return fprintf(stderr, "materia: out of memory\n"), 1;
    int rc = run_main(r, argc, argv);
    cJSON_Delete(r->timings);
    cJSON_Delete(r->report);
    mt_features_free(&r->feats);
    free(r->cfg.fe_params);
    free(r);
    return rc;
}

static int run_main(run_ctx *r, int argc, char **argv)
{
    static const struct option lo[] = {
        CLI_DATA_LONGOPTS,
        {"preset", required_argument, 0, O_PRESET},     {"out", required_argument, 0, O_OUT},
        {"frontend", required_argument, 0, O_FRONTEND}, {"channels", required_argument, 0, O_CHANNELS},
        {"fe-seed", required_argument, 0, O_FESEED},    {"fe-params", required_argument, 0, O_FEPARAMS},
        {"model", required_argument, 0, O_MODEL},       {"epochs", required_argument, 0, O_EPOCHS},
        {"batch", required_argument, 0, O_BATCH},       {"lr", required_argument, 0, O_LR},
        {"wd", required_argument, 0, O_WD},             {"seed", required_argument, 0, O_SEED},
        {"hwa-epochs", required_argument, 0, O_HWAEP},  {"hwa-lr", required_argument, 0, O_HWALR},
        {"repeats", required_argument, 0, O_REPEATS},   {"drift-s", required_argument, 0, O_DRIFT},
        {"cores-per-layer", required_argument, 0, O_CORES}, {"no-figures", no_argument, 0, O_NOFIG},
        {"json", no_argument, 0, O_JSON},               {"quiet", no_argument, 0, O_QUIET},
        {0, 0, 0, 0}};
    preset_apply(&r->cfg, "demo");
    /* pass 1: --preset and the config file, so that flags override both */
    const char *preset = NULL, *out = NULL;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--preset") == 0 && i + 1 < argc) preset = argv[i + 1];
        else if (strncmp(argv[i], "--preset=", 9) == 0) preset = argv[i] + 9;
    if (preset && preset_apply(&r->cfg, preset))
        return cli_usage_error("run", "unknown preset '%s' (demo, fsdd, ti46, gsc12, gsc)", preset);
    optind = 1;
    opterr = 0;
    int c;
    /* collect flags first; positional CONFIG is applied before them */
    char **flag_opt = calloc((size_t)argc, sizeof *flag_opt);
    int *flag_id = calloc((size_t)argc, sizeof *flag_id), nflags = 0;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (c == '?' || c == ':') {
            free(flag_opt);
            free(flag_id);
            return cli_usage_error("run", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
        flag_id[nflags] = c;
        flag_opt[nflags++] = optarg;
    }
    if (optind < argc - 1) {
        free(flag_opt);
        free(flag_id);
        return cli_usage_error("run", "expected at most one CONFIG.json, got '%s' and '%s'", argv[optind], argv[optind + 1]);
    }
    if (optind == argc - 1 && cfg_load_file(&r->cfg, argv[optind])) {
        free(flag_opt);
        free(flag_id);
        return 2;
    }
    for (int k = 0; k < nflags; k++) {
        int id = flag_id[k];
        const char *v = flag_opt[k];
        int bad = 0;
        cli_data_opts dd;
        cli_data_defaults(&dd);
        switch (id) {
        case CLI_OPT_DATA: bad = cfg_set(&r->cfg, "data", v, "--data"); break;
        case CLI_OPT_LAYOUT: bad = cfg_set(&r->cfg, "layout", v, "--layout"); break;
        case CLI_OPT_SPLIT: bad = cfg_set(&r->cfg, "split", v, "--split"); break;
        case CLI_OPT_TEST_FRAC: bad = cfg_set(&r->cfg, "test_frac", v, "--test-frac"); break;
        case CLI_OPT_SPLIT_SEED: bad = cfg_set(&r->cfg, "split_seed", v, "--split-seed"); break;
        case CLI_OPT_GSC_CLASSES: bad = cfg_set(&r->cfg, "gsc_classes", v, "--gsc-classes"); break;
        case CLI_OPT_FEMALE_ONLY: r->cfg.female_only = 1; break;
        case CLI_OPT_ALL_WORDS: bad = -1, fprintf(stderr, "materia run: --all-words is not supported by run\n"); break;
        case O_PRESET: break;
        case O_OUT: out = v; break;
        case O_FRONTEND: bad = cfg_set(&r->cfg, "frontend", v, "--frontend"); break;
        case O_CHANNELS: bad = cfg_set(&r->cfg, "channels", v, "--channels"); break;
        case O_FESEED: bad = cfg_set(&r->cfg, "fe_seed", v, "--fe-seed"); break;
        case O_FEPARAMS: bad = cfg_set(&r->cfg, "fe_params", v, "--fe-params"); break;
        case O_MODEL: bad = cfg_set(&r->cfg, "model", v, "--model"); break;
        case O_EPOCHS: bad = cfg_set(&r->cfg, "epochs", v, "--epochs"); break;
        case O_BATCH: bad = cfg_set(&r->cfg, "batch", v, "--batch"); break;
        case O_LR: bad = cfg_set(&r->cfg, "lr", v, "--lr"); break;
        case O_WD: bad = cfg_set(&r->cfg, "wd", v, "--wd"); break;
        case O_SEED: bad = cfg_set(&r->cfg, "seed", v, "--seed"); break;
        case O_HWAEP: bad = cfg_set(&r->cfg, "hwa_epochs", v, "--hwa-epochs"); break;
        case O_HWALR: bad = cfg_set(&r->cfg, "hwa_lr", v, "--hwa-lr"); break;
        case O_REPEATS: bad = cfg_set(&r->cfg, "repeats", v, "--repeats"); break;
        case O_DRIFT: bad = cfg_set(&r->cfg, "drift_s", v, "--drift-s"); break;
        case O_CORES: bad = cfg_set(&r->cfg, "cores_per_layer", v, "--cores-per-layer"); break;
        case O_NOFIG: r->cfg.figures = 0; break;
        case O_JSON: r->json = 1; break;
        case O_QUIET: break;
        }
        if (bad) {
            free(flag_opt);
            free(flag_id);
            return 2;
        }
    }
    free(flag_opt);
    free(flag_id);
    if (strcmp(r->cfg.preset, "demo") != 0 && !r->cfg.data[0])
        return cli_usage_error("run", "preset '%s' needs --data DIR", r->cfg.preset);
    if (out) SET(r->out, out);
    else snprintf(r->out, sizeof r->out, "report-%s", r->cfg.preset);
    if (cli_mkdir_p(r->out)) {
        fprintf(stderr, "materia: %s: cannot create the report folder: %s\n", r->out, strerror(errno));
        return 1;
    }
    r->report = cJSON_CreateObject();
    r->timings = cJSON_CreateObject();
    double t_start = cli_now();
    say("materia run: preset %s, report in %s", r->cfg.preset, r->out);
    int rc = stage_corpus(r);
    if (!rc) rc = stage_features(r);
    if (!rc) rc = stage_train(r, 0);
    if (!rc && r->cfg.hwa_epochs > 0) rc = stage_train(r, 1);
    if (!rc) rc = stage_pcm(r);
    if (!rc) rc = stage_energy(r);
    if (!rc) rc = stage_figures(r);
    if (!rc) {
        cJSON_AddItemToObjectCS(r->report, "config", cfg_json(&r->cfg));
        cJSON *v = cJSON_AddObjectToObject(r->report, "versions");
        cJSON_AddStringToObject(v, "materia", mt_version());
        cJSON_AddNumberToObject(v, "omp_threads", omp_get_max_threads());
        cJSON_AddItemToObject(r->report, "timings", r->timings);
        r->timings = NULL;
        cJSON_AddNumberToObject(r->report, "total_seconds", cli_now() - t_start);
        time_t now = time(NULL);
        char ts[64];
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
        cJSON_AddStringToObject(r->report, "finished_utc", ts);
        mt_err e = {0};
        char path[4200];
        path_in(r, path, sizeof path, "report.json");
        /* report.md reads the timings from the report object */
        r->timings = cJSON_GetObjectItemCaseSensitive(r->report, "timings");
        if (write_json(path, r->report, &e) || write_markdown(r, &e)) rc = cli_fail(&e);
        r->timings = NULL;
        if (!rc) {
            say("materia run: done in %.0f s — %s/report.md", cli_now() - t_start, r->out);
            if (r->json) {
                char *s = cJSON_Print(r->report);
                puts(s);
                free(s);
            }
        }
    }
    return rc;
}
