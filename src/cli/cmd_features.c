/* materia features — run a front-end over a dataset and write [N, C, T] features + sidecar. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "cli_data.h"
#include "materia/features.h"
#include "materia/frontend.h"
#include "materia/version.h"

static const char help[] =
    "usage: materia features --data DIR --layout L --frontend NAME --out F.npy [options]\n"
    "\n"
    "Turn every utterance of a dataset into front-end features [N, C, T] (float32 .npy) with a\n"
    "sidecar F.json holding labels, split, class names, source files and the full configuration.\n"
    "Audio is prepared as in the paper's Methods: resampled to --rate, scaled to --peak volts,\n"
    "silence trimmed, fixed to --duration seconds.\n"
    "\n"
    "options:\n" CLI_DATA_HELP
    "  --frontend NAME        rnpu | raw | lowpass | nlowpass | gammatone | gammatone-tanh | esn |\n"
    "                         logmel | mfcc (see `materia help features` / docs/frontends.md)\n"
    "  --channels C           feature channels (default: the front-end's, 64 for the paper's)\n"
    "  --seed S               front-end seed: device instance, control voltages, reservoirs (0)\n"
    "  --params JSON          front-end options as a JSON object, e.g. '{\"cext_pf\": 50}'\n"
    "  --decim N              average every N output samples (default: front-end's, 10)\n"
    "" CLI_PREP_HELP
    "  --threads N            worker threads (default: all cores; results do not depend on it)\n"
    "  --out F.npy            output features (F.json is written beside it)\n"
    "  --json                 print a JSON summary\n"
    "  --quiet                no progress bar\n"
    "\n"
    "example:\n"
    "  materia features --data ../shared/datasets/fsdd --layout fsdd --frontend rnpu \\\n"
    "      --channels 64 --seed 0 --out fsdd-rnpu64.npy\n";

static int run(int argc, char **argv);
const mt_cli_command mt_cmd_features = {"features", "extract [N, C, T] features with any front-end", help, run};

enum { O_FRONTEND = 1, O_CHANNELS, O_SEED, O_PARAMS, O_DECIM, O_THREADS, O_OUT, O_JSON, O_QUIET };

static int run(int argc, char **argv)
{
    if (cli_wants_help(&mt_cmd_features, argc, argv)) return 0;
    static const struct option lo[] = {
        CLI_DATA_LONGOPTS,
        {"frontend", required_argument, 0, O_FRONTEND}, {"channels", required_argument, 0, O_CHANNELS},
        {"seed", required_argument, 0, O_SEED},         {"params", required_argument, 0, O_PARAMS},
        CLI_PREP_LONGOPTS,
        {"decim", required_argument, 0, O_DECIM},       {"threads", required_argument, 0, O_THREADS},
        {"out", required_argument, 0, O_OUT},           {"json", no_argument, 0, O_JSON},
        {"quiet", no_argument, 0, O_QUIET},             {0, 0, 0, 0}};
    cli_data_opts d;
    cli_data_defaults(&d);
    mt_frontend_cfg fc = {0};
    cli_prep_opts po;
    cli_prep_defaults(&po);
    mt_audio_prep prep;
    const char *out = NULL;
    long lv, threads = 0;
    int json = 0;
    optind = 1;
    opterr = 0;
    int c;
    const char *cmd = "features";
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        int h = cli_data_option(&d, c, optarg, cmd);
        if (h < 0) return 2;
        if (h) continue;
        if ((h = cli_prep_option(&po, c, optarg, cmd)) < 0) return 2;
        if (h) continue;
        switch (c) {
        case O_FRONTEND: fc.name = optarg; break;
        case O_CHANNELS:
            if (cli_parse_int(optarg, &lv) || lv < 1 || lv > 4096)
                return cli_usage_error(cmd, "--channels must be an integer in [1, 4096], got '%s'", optarg);
            fc.channels = (int)lv;
            break;
        case O_SEED:
            if (cli_parse_int(optarg, &lv) || lv < 0) return cli_usage_error(cmd, "--seed must be a non-negative integer, got '%s'", optarg);
            fc.seed = (uint64_t)lv;
            break;
        case O_PARAMS: fc.params_json = optarg; break;
        case O_DECIM:
            if (cli_parse_int(optarg, &lv) || lv < 1 || lv > 10000) return cli_usage_error(cmd, "--decim must be a positive integer, got '%s'", optarg);
            fc.decim = (int)lv;
            break;
        case O_THREADS:
            if (cli_parse_int(optarg, &threads) || threads < 1 || threads > 256) return cli_usage_error(cmd, "--threads must be in [1, 256], got '%s'", optarg);
            break;
        case O_OUT: out = optarg; break;
        case O_JSON: json = 1; break;
        case O_QUIET: break;
        default: return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!fc.name) return cli_usage_error(cmd, "--frontend is required");
    if (!out) return cli_usage_error(cmd, "--out F.npy is required");
    if (cli_prep_finish(&po, d.layout, cmd, &prep)) return 2;
    double duration = po.duration;
    fc.rate_hz = prep.rate_hz;

    mt_err err = {0};
    mt_frontend *fe;
    if (mt_frontend_create(&fc, &fe, &err)) return cli_fail(&err);
    mt_dataset ds;
    if (cli_data_open(&d, &ds, &err)) {
        mt_frontend_free(fe);
        return cli_fail(&err);
    }
    cli_progress pb;
    cli_progress_init(&pb, "features");
    mt_progress prog = {cli_progress_cb, &pb};
    mt_features f;
    double t0 = cli_now();
    mt_status st = mt_features_extract(&ds, &prep, fe, (int)threads, &prog, &f, &err);
    cli_progress_done(&pb);
    double secs = cli_now() - t0;
    if (st) {
        mt_dataset_free(&ds);
        mt_frontend_free(fe);
        return cli_fail(&err);
    }
    int64_t C = f.c, n = f.n;

    /* Provenance: front-end, audio recipe, dataset and split. */
    cJSON *cfg = cli_features_provenance(fe, &fc, &prep, &ds, &d);
    f.config_json = cJSON_PrintUnformatted(cfg);
    cJSON_Delete(cfg);

    int rc = 0;
    if (mt_features_save(&f, out, &err)) rc = cli_fail(&err);
    else if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "out", out);
        cJSON *sh = cJSON_AddArrayToObject(j, "shape");
        cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)f.n));
        cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)f.c));
        cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)f.t));
        cJSON_AddNumberToObject(j, "rate_hz", f.rate_hz);
        cJSON_AddNumberToObject(j, "seconds", secs);
        cJSON_AddNumberToObject(j, "utterances_per_s", n / secs);
        cJSON_AddNumberToObject(j, "channel_seconds_per_s", (double)n * (double)C * duration / secs);
        cli_print_json(j);
    } else if (!cli_quiet()) {
        fprintf(stderr, "wrote %s [%lld, %lld, %lld] at %g S/s in %.1f s (%.0f channel-s of audio per s)\n", out,
                (long long)f.n, (long long)f.c, (long long)f.t, f.rate_hz, secs, (double)n * (double)C * duration / secs);
    }
    mt_features_free(&f);
    mt_dataset_free(&ds);
    mt_frontend_free(fe);
    return rc;
}
