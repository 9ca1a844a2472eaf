/* materia data info — counts, classes, speakers, durations, sample rates and the split. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_data.h"

static const char help[] =
    "usage: materia data info --data DIR --layout L [options] [--json]\n"
    "\n"
    "Scan a dataset, read every file's header (so a corrupt or truncated file is found),\n"
    "and print classes, file counts, speakers, durations, sample rates and the split.\n"
    "\n"
    "options:\n" CLI_DATA_HELP
    "  --json                 print one JSON object (keys: files, classes, per_class, speakers,\n"
    "                         sample_rates_hz, duration_s, split)\n"
    "  --quiet                no progress bar\n"
    "\n"
    "example:\n"
    "  materia data info --data ../shared/datasets/fsdd --layout fsdd --json\n";

static int run(int argc, char **argv);
const mt_cli_command mt_cmd_data = {"data", "dataset summary: classes, counts, speakers, rates, split", help, run};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int run(int argc, char **argv)
{
    if (cli_wants_help(&mt_cmd_data, argc, argv)) return 0;
    if (argc < 2 || strcmp(argv[1], "info") != 0)
        return cli_usage_error("data", "expected the sub-command 'info'");
    cli_data_opts o;
    cli_data_defaults(&o);
    int json = 0;
    static const struct option lo[] = {CLI_DATA_LONGOPTS, {"json", no_argument, 0, 'j'},
                                       {"quiet", no_argument, 0, 'q'}, {0, 0, 0, 0}};
    optind = 2;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        int h = cli_data_option(&o, c, optarg, "data info");
        if (h < 0) return 2;
        if (h) continue;
        if (c == 'j') json = 1;
        else if (c == 'q') continue;
        else return cli_usage_error("data info", "unknown option '%s'", argv[optind - 1]);
    }
    if (optind < argc) return cli_usage_error("data info", "unexpected argument '%s'", argv[optind]);
    mt_err err = {0};
    mt_dataset ds;
    if (cli_data_open(&o, &ds, &err)) return cli_fail(&err);

    /* Read every header. */
    double *dur = malloc((size_t)ds.n * sizeof *dur);
    double rates[32];
    int nrates = 0;
    char formats[8][64];
    int nformats = 0;
    cli_progress pb;
    cli_progress_init(&pb, "headers");
    for (int i = 0; i < ds.n; i++) {
        mt_audio_info ai;
        if (mt_audio_info_read(ds.items[i].path, &ai, &err)) {
            cli_progress_done(&pb);
            free(dur);
            mt_dataset_free(&ds);
            return cli_fail(&err);
        }
        dur[i] = ds.items[i].length > 0 ? (double)ds.items[i].length / ai.rate_hz : ai.duration_s;
        int k;
        for (k = 0; k < nrates && rates[k] != ai.rate_hz; k++) {}
        if (k == nrates && nrates < 32) rates[nrates++] = ai.rate_hz;
        for (k = 0; k < nformats && strcmp(formats[k], ai.format) != 0; k++) {}
        if (k == nformats && nformats < 8) snprintf(formats[nformats++], 64, "%s", ai.format);
        cli_progress_cb(&pb, "headers", i + 1, ds.n);
    }
    cli_progress_done(&pb);
    qsort(rates, (size_t)nrates, sizeof *rates, cmp_double);
    double total = 0, mn = INFINITY, mx = 0;
    for (int i = 0; i < ds.n; i++) {
        total += dur[i];
        mn = fmin(mn, dur[i]);
        mx = fmax(mx, dur[i]);
    }
    free(dur);

    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "data", ds.root);
        cJSON_AddStringToObject(j, "layout", mt_layout_name(ds.layout));
        cJSON_AddNumberToObject(j, "files", ds.n);
        cJSON *cl = cJSON_AddArrayToObject(j, "classes");
        cJSON *pc = cJSON_AddObjectToObject(j, "per_class");
        for (int k = 0; k < ds.nclasses; k++) {
            cJSON_AddItemToArray(cl, cJSON_CreateString(ds.classes[k]));
            cJSON_AddNumberToObject(pc, ds.classes[k], mt_dataset_count(&ds, -1, k));
        }
        cJSON_AddNumberToObject(j, "speakers", ds.nspeakers);
        cJSON *sr = cJSON_AddArrayToObject(j, "sample_rates_hz");
        for (int k = 0; k < nrates; k++) cJSON_AddItemToArray(sr, cJSON_CreateNumber(rates[k]));
        cJSON *fm = cJSON_AddArrayToObject(j, "formats");
        for (int k = 0; k < nformats; k++) cJSON_AddItemToArray(fm, cJSON_CreateString(formats[k]));
        cJSON *d = cJSON_AddObjectToObject(j, "duration_s");
        cJSON_AddNumberToObject(d, "total", total);
        cJSON_AddNumberToObject(d, "min", mn);
        cJSON_AddNumberToObject(d, "mean", total / ds.n);
        cJSON_AddNumberToObject(d, "max", mx);
        cJSON *sp = cJSON_AddObjectToObject(j, "split");
        cJSON_AddStringToObject(sp, "method", mt_split_method_name(ds.split_method));
        if (ds.split_method != MT_SPLIT_OFFICIAL) {
            cJSON_AddNumberToObject(sp, "test_frac", o.test_frac);
            cJSON_AddNumberToObject(sp, "seed", (double)o.split_seed);
        }
        static const char *const sn[3] = {"train", "val", "test"};
        for (int s = 0; s < 3; s++) cJSON_AddNumberToObject(sp, sn[s], mt_dataset_count(&ds, s, -1));
        cJSON *spc = cJSON_AddObjectToObject(sp, "per_class");
        for (int k = 0; k < ds.nclasses; k++) {
            cJSON *e = cJSON_AddObjectToObject(spc, ds.classes[k]);
            for (int s = 0; s < 3; s++) cJSON_AddNumberToObject(e, sn[s], mt_dataset_count(&ds, s, k));
        }
        cli_print_json(j);
    } else {
        printf("data:      %s (layout %s)\n", ds.root, mt_layout_name(ds.layout));
        printf("files:     %d\nclasses:   %d\nspeakers:  %d\n", ds.n, ds.nclasses, ds.nspeakers);
        printf("rates:    ");
        for (int k = 0; k < nrates; k++) printf(" %g Hz", rates[k]);
        printf("\nformats:  ");
        for (int k = 0; k < nformats; k++) printf(" [%s]", formats[k]);
        printf("\nduration:  %.1f s total, %.3f / %.3f / %.3f s min / mean / max\n", total, mn, total / ds.n, mx);
        cli_data_print_split(&ds, stdout);
    }
    mt_dataset_free(&ds);
    return 0;
}
