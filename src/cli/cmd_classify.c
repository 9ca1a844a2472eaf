/* materia classify — label audio files with a trained model (front-end rebuilt from the model's
 * recorded feature configuration). */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_model.h"
#include "materia/features.h"
#include "materia/frontend.h"
#include "materia/nn.h"

static const char help[] =
    "usage: materia classify --model M.safetensors [--top K] [--json] FILE...\n"
    "\n"
    "Print the predicted label and class probabilities of each audio file.  The front-end\n"
    "(including the RNPU device instance and its control voltages, from the recorded seed and\n"
    "options) and the audio recipe (rate, peak, trim, length) are rebuilt from the configuration\n"
    "that `materia train` stored in the model, so files go through exactly the pipeline the\n"
    "model was trained on.  The software model is used (for the simulated PCM chip see\n"
    "`materia aimc eval`).\n"
    "\n"
    "options:\n"
    "  --model M     a model written by `materia train` or `materia run`\n"
    "  --top K       print the K most probable classes (default 3)\n"
    "  --json        one JSON object: {\"results\": [{\"file\", \"label\", \"probabilities\": {...}}]}\n"
    "\n"
    "example:\n"
    "  materia classify --model report-demo/model.safetensors report-demo/corpus/7_enusf1_3.wav\n";

static int run(int argc, char **argv);
const mt_cli_command mt_cmd_classify = {"classify", "label audio files with a trained model", help, run};

static int run(int argc, char **argv)
{
    if (cli_wants_help(&mt_cmd_classify, argc, argv)) return 0;
    static const struct option lo[] = {{"model", required_argument, 0, 'm'}, {"top", required_argument, 0, 'k'},
                                       {"json", no_argument, 0, 'j'},         {"quiet", no_argument, 0, 'q'},
                                       {0, 0, 0, 0}};
    const char *model_path = NULL;
    long top = 3;
    int json = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'm': model_path = optarg; break;
        case 'k':
            if (cli_parse_int(optarg, &top) || top < 1) return cli_usage_error("classify", "--top must be a positive integer");
            break;
        case 'j': json = 1; break;
        case 'q': break;
        default: return cli_usage_error("classify", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (!model_path) return cli_usage_error("classify", "--model is required");
    if (optind >= argc) return cli_usage_error("classify", "no audio files given");
    mt_err e = {0};
    mt_model m;
    char *meta = NULL;
    if (mt_model_load(model_path, &m, &meta, &e)) return cli_fail(&e);
    mt_frontend *fe = NULL;
    mt_audio_prep prep;
    char **names = NULL;
    int nn = 0, rc = 0;
    if (cli_frontend_from_meta(model_path, meta, &fe, &prep, &names, &nn, &e) ||
        cli_model_check_shape(model_path, &m, fe, &prep, nn, &e))
        rc = cli_fail(&e);
    cJSON *res = json ? cJSON_CreateArray() : NULL;
    float *feat = rc ? NULL : malloc((size_t)(m.in_c * m.in_t) * sizeof *feat);
    double *p = calloc((size_t)(nn > 0 ? nn : 1), sizeof *p);
    int *order = calloc((size_t)(nn > 0 ? nn : 1), sizeof *order);
    for (int i = optind; !rc && i < argc; i++) {
        float *x = NULL;
        int64_t nx = 0;
        if (mt_audio_prepare(argv[i], 0, -1, &prep, &x, &nx, &e) ||
            mt_frontend_process(fe, x, nx, 0, feat, &e) || mt_model_forward(&m, feat, 1, 0, &e)) {
            if (!e.msg[0] || !strstr(e.msg, argv[i])) mt_err_prefix(&e, e.code ? e.code : MT_ERR_DATA, "%s", argv[i]);
            rc = cli_fail(&e);
            free(x);
            break;
        }
        free(x);
        const float *z = mt_model_output(&m);
        double mx = -INFINITY, sum = 0;
        for (int k = 0; k < nn; k++) mx = fmax(mx, z[k]);
        for (int k = 0; k < nn; k++) sum += p[k] = exp(z[k] - mx);
        for (int k = 0; k < nn; k++) {
            p[k] /= sum;
            order[k] = k;
        }
        for (int a = 0; a < nn; a++) /* selection sort by probability, small nn */
            for (int b = a + 1; b < nn; b++)
                if (p[order[b]] > p[order[a]]) {
                    int t = order[a];
                    order[a] = order[b];
                    order[b] = t;
                }
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "file", argv[i]);
            cJSON_AddStringToObject(o, "label", names[order[0]]);
            cJSON *pr = cJSON_AddObjectToObject(o, "probabilities");
            for (int k = 0; k < nn; k++) cJSON_AddNumberToObject(pr, names[k], p[k]);
            cJSON_AddItemToArray(res, o);
        } else {
            printf("%s\t%s", argv[i], names[order[0]]);
            for (int k = 0; k < top && k < nn; k++) printf("\t%s=%.3f", names[order[k]], p[order[k]]);
            printf("\n");
        }
    }
    if (json && !rc) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "model", model_path);
        cJSON_AddItemToObject(o, "results", res);
        res = NULL;
        cli_print_json(o);
    }
    cJSON_Delete(res);
    free(feat);
    free(p);
    free(order);
    cli_names_free(names, nn);
    mt_frontend_free(fe);
    free(meta);
    mt_model_free(&m);
    return rc;
}
