#include "cli_data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "materia/frontend.h"
#include "materia/version.h"

void cli_data_defaults(cli_data_opts *o)
{
    memset(o, 0, sizeof *o);
    o->split = "auto";
    o->test_frac = 0.1;
}

int cli_data_option(cli_data_opts *o, int opt, const char *arg, const char *cmd)
{
    switch (opt) {
    case CLI_OPT_DATA: o->data = arg; return 1;
    case CLI_OPT_LAYOUT: o->layout = arg; return 1;
    case CLI_OPT_SPLIT: o->split = arg; return 1;
    case CLI_OPT_TEST_FRAC:
        if (cli_parse_double(arg, &o->test_frac) || !(o->test_frac > 0 && o->test_frac < 1)) {
            cli_usage_error(cmd, "--test-frac must be a number in (0, 1), got '%s'", arg);
            return -1;
        }
        return 1;
    case CLI_OPT_SPLIT_SEED:
        if (cli_parse_int(arg, &o->split_seed) || o->split_seed < 0) {
            cli_usage_error(cmd, "--split-seed must be a non-negative integer, got '%s'", arg);
            return -1;
        }
        return 1;
    case CLI_OPT_GSC_CLASSES:
        if (strcmp(arg, "12") == 0) o->ds.gsc_classes = MT_GSC_12;
        else if (strcmp(arg, "paper") == 0) o->ds.gsc_classes = MT_GSC_PAPER;
        else {
            cli_usage_error(cmd, "--gsc-classes must be 12 or paper, got '%s'", arg);
            return -1;
        }
        return 1;
    case CLI_OPT_FEMALE_ONLY: o->ds.ti46_female_only = 1; return 1;
    case CLI_OPT_ALL_WORDS: o->ds.ti46_all_words = 1; return 1;
    }
    return 0;
}

mt_status cli_data_open(const cli_data_opts *o, mt_dataset *ds, mt_err *err)
{
    if (!o->data) return mt_err_set(err, MT_ERR_ARG, "--data DIR is required");
    if (!o->layout) return mt_err_set(err, MT_ERR_ARG, "--layout is required (fsdd, gsc, ti46 or folder)");
    mt_layout l;
    mt_split_method m;
    mt_status s = mt_layout_parse(o->layout, &l, err);
    if (!s) s = mt_split_method_parse(o->split, &m, err);
    if (s) return s;
    s = mt_dataset_open(o->data, l, &o->ds, ds, err);
    if (s) return s;
    s = mt_dataset_split(ds, m, o->test_frac, (uint64_t)o->split_seed, err);
    if (s) mt_dataset_free(ds);
    return s;
}

void cli_data_print_split(const mt_dataset *ds, FILE *f)
{
    fprintf(f, "split: %s\n  %-14s %7s %7s %7s\n", mt_split_method_name(ds->split_method), "class", "train", "val", "test");
    for (int c = 0; c < ds->nclasses; c++)
        fprintf(f, "  %-14s %7d %7d %7d\n", ds->classes[c], mt_dataset_count(ds, MT_SPLIT_TRAIN, c),
                mt_dataset_count(ds, MT_SPLIT_VAL, c), mt_dataset_count(ds, MT_SPLIT_TEST, c));
    fprintf(f, "  %-14s %7d %7d %7d\n", "total", mt_dataset_count(ds, MT_SPLIT_TRAIN, -1),
            mt_dataset_count(ds, MT_SPLIT_VAL, -1), mt_dataset_count(ds, MT_SPLIT_TEST, -1));
}

cJSON *cli_features_provenance(const mt_frontend *fe, const mt_frontend_cfg *fc, const mt_audio_prep *prep,
                               const mt_dataset *ds, const cli_data_opts *d)
{
    cJSON *cfg = cJSON_CreateObject();
    char *fj = mt_frontend_config_json(fe);
    cJSON_AddItemToObject(cfg, "frontend", fj ? cJSON_Parse(fj) : cJSON_CreateNull());
    free(fj);
    cJSON *fa = cJSON_AddObjectToObject(cfg, "frontend_args");
    cJSON_AddStringToObject(fa, "name", fc->name);
    cJSON_AddNumberToObject(fa, "channels", fc->channels);
    cJSON_AddNumberToObject(fa, "seed", (double)fc->seed);
    cJSON_AddNumberToObject(fa, "decim", fc->decim);
    cJSON_AddNumberToObject(fa, "rate_hz", fc->rate_hz);
    cJSON *pj = fc->params_json ? cJSON_Parse(fc->params_json) : NULL;
    cJSON_AddItemToObject(fa, "params", pj ? pj : cJSON_CreateNull());
    cJSON_AddNumberToObject(cfg, "seed", (double)fc->seed);
    cJSON *a = cJSON_AddObjectToObject(cfg, "audio");
    cJSON_AddNumberToObject(a, "rate_hz", prep->rate_hz);
    cJSON_AddNumberToObject(a, "peak_v", prep->peak_v);
    cJSON_AddStringToObject(a, "trim", prep->trim == MT_TRIM_ABS ? "abs" : prep->trim == MT_TRIM_DB ? "db" : "none");
    cJSON_AddNumberToObject(a, "trim_v", prep->trim_abs_v);
    cJSON_AddNumberToObject(a, "trim_db", prep->trim_db);
    cJSON_AddNumberToObject(a, "length", (double)prep->length);
    cJSON *dj = cJSON_AddObjectToObject(cfg, "dataset");
    cJSON_AddStringToObject(dj, "root", ds->root);
    cJSON_AddStringToObject(dj, "layout", mt_layout_name(ds->layout));
    cJSON_AddStringToObject(dj, "split", mt_split_method_name(ds->split_method));
    cJSON_AddNumberToObject(dj, "test_frac", d->test_frac);
    cJSON_AddNumberToObject(dj, "split_seed", (double)d->split_seed);
    cJSON_AddStringToObject(dj, "gsc_classes", d->ds.gsc_classes == MT_GSC_PAPER ? "paper" : "12");
    cJSON_AddBoolToObject(dj, "female_only", d->ds.ti46_female_only);
    cJSON_AddNumberToObject(dj, "files", ds->n);
    cJSON_AddStringToObject(cfg, "materia_version", mt_version());
    return cfg;
}

int cli_prep_from_provenance(const cJSON *prov, mt_audio_prep *prep)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(prov, "audio");
    if (!cJSON_IsObject(a)) return -1;
    *prep = mt_audio_prep_default();
    const cJSON *v;
    if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(a, "rate_hz"))) prep->rate_hz = v->valuedouble;
    if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(a, "peak_v"))) prep->peak_v = (float)v->valuedouble;
    if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(a, "trim_v"))) prep->trim_abs_v = (float)v->valuedouble;
    if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(a, "trim_db"))) prep->trim_db = v->valuedouble;
    if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(a, "length"))) prep->length = (int64_t)v->valuedouble;
    if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(a, "trim")))
        prep->trim = strcmp(v->valuestring, "abs") == 0 ? MT_TRIM_ABS : strcmp(v->valuestring, "db") == 0 ? MT_TRIM_DB : MT_TRIM_NONE;
    return 0;
}

void cli_prep_defaults(cli_prep_opts *o)
{
    memset(o, 0, sizeof *o);
    o->prep = mt_audio_prep_default();
    o->duration = 1.0;
}

int cli_prep_option(cli_prep_opts *o, int opt, const char *arg, const char *cmd)
{
    double v;
    switch (opt) {
    case CLI_OPT_RATE:
        if (cli_parse_double(arg, &o->prep.rate_hz) || o->prep.rate_hz < 100 || o->prep.rate_hz > 1e6) {
            cli_usage_error(cmd, "--rate must be in [100, 1e6] Hz, got '%s'", arg);
            return -1;
        }
        return 1;
    case CLI_OPT_PEAK:
        if (cli_parse_double(arg, &v) || v < 0 || v > 10) {
            cli_usage_error(cmd, "--peak must be in [0, 10] V, got '%s'", arg);
            return -1;
        }
        o->prep.peak_v = (float)v;
        return 1;
    case CLI_OPT_TRIM: o->trim = arg; return 1;
    case CLI_OPT_TRIMV:
        if (cli_parse_double(arg, &v) || v < 0) {
            cli_usage_error(cmd, "--trim-v must be >= 0 V, got '%s'", arg);
            return -1;
        }
        o->prep.trim_abs_v = (float)v;
        return 1;
    case CLI_OPT_TRIMDB:
        if (cli_parse_double(arg, &o->prep.trim_db) || o->prep.trim_db <= 0) {
            cli_usage_error(cmd, "--trim-db must be > 0, got '%s'", arg);
            return -1;
        }
        return 1;
    case CLI_OPT_DUR:
        if (cli_parse_double(arg, &o->duration) || o->duration <= 0 || o->duration > 60) {
            cli_usage_error(cmd, "--duration must be in (0, 60] s, got '%s'", arg);
            return -1;
        }
        return 1;
    }
    return 0;
}

int cli_prep_finish(const cli_prep_opts *o, const char *layout, const char *cmd, mt_audio_prep *prep)
{
    *prep = o->prep;
    if (o->trim) {
        if (strcmp(o->trim, "abs") == 0) prep->trim = MT_TRIM_ABS;
        else if (strcmp(o->trim, "db") == 0) prep->trim = MT_TRIM_DB;
        else if (strcmp(o->trim, "none") == 0) prep->trim = MT_TRIM_NONE;
        else {
            cli_usage_error(cmd, "--trim must be abs, db or none, got '%s'", o->trim);
            return -1;
        }
    } else if (layout && strcmp(layout, "gsc") == 0) {
        prep->trim = MT_TRIM_NONE;
    }
    prep->length = (int64_t)llround(o->duration * prep->rate_hz);
    return 0;
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

uint64_t cli_features_key(const char *provenance_text, const mt_dataset *ds)
{
    uint64_t h = fnv1a(0xcbf29ce484222325ULL, provenance_text, strlen(provenance_text));
    for (int i = 0; i < ds->n; i++) {
        struct stat st;
        const mt_item *it = &ds->items[i];
        h = fnv1a(h, it->rel, strlen(it->rel) + 1);
        h = fnv1a(h, &it->offset, sizeof it->offset);
        h = fnv1a(h, &it->label, sizeof it->label);
        h = fnv1a(h, &it->split, sizeof it->split);
        if (stat(it->path, &st) == 0) {
            int64_t sz = st.st_size, mt = st.st_mtime;
            h = fnv1a(h, &sz, sizeof sz);
            h = fnv1a(h, &mt, sizeof mt);
        }
    }
    return h;
}
