/* materia eval — software accuracy of a trained model on a feature set. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "materia/nn.h"

static const char help[] =
    "usage: materia eval --model M.safetensors --features F.npy [--split S] [--json]\n"
    "\n"
    "Evaluate a trained model (eval mode: BatchNorm running statistics, no dropout) on the items\n"
    "of one split of a feature set: accuracy, weighted F1, per-class recall/precision/F1 and the\n"
    "confusion matrix.  The feature shape and the class names must match the model's.\n"
    "\n"
    "options:\n"
    "  --model M      trained model (.safetensors from `materia train`)\n"
    "  --features F   feature set (.npy with its .json sidecar)\n"
    "  --split S      test, val, train or all (default: test when the set has test items, else all)\n"
    "  --batch N      batch size (64; results do not depend on it)\n"
    "  --json         one JSON object: accuracy, weighted_f1, macro_f1, loss, n, split, classes,\n"
    "                 per_class_recall, per_class_precision, per_class_f1, support, confusion\n"
    "\n"
    "example:\n"
    "  materia eval --model cnn3.safetensors --features feats/ti46-rnpu.npy --json\n";

static int run(int argc, char **argv);
const mt_cli_command mt_cmd_eval = {"eval", "software accuracy of a trained model on a feature set",
                                    help, run};

static cJSON *num_array_d(const double *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

static int run(int argc, char **argv)
{
    if (cli_wants_help(&mt_cmd_eval, argc, argv)) return 0;
    const char *model = NULL, *feat = NULL, *split = NULL;
    int json = 0;
    long batch = 64;
    static const struct option lo[] = {{"model", required_argument, 0, 'm'},
                                       {"features", required_argument, 0, 'f'},
                                       {"split", required_argument, 0, 's'},
                                       {"batch", required_argument, 0, 'b'},
                                       {"json", no_argument, 0, 'j'},
                                       {"quiet", no_argument, 0, 'q'},
                                       {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (c == 'm') model = optarg;
        else if (c == 'f') feat = optarg;
        else if (c == 's') split = optarg;
        else if (c == 'b') {
            if (cli_parse_int(optarg, &batch) || batch < 1 || batch > 65536)
                return cli_usage_error("eval", "--batch must be 1..65536 (got '%s')", optarg);
        } else if (c == 'j') json = 1;
        else if (c == 'q') continue;
        else if (c == '?' && optopt)
            return cli_usage_error("eval", "option '%s' needs a value", argv[optind - 1]);
        else return cli_usage_error("eval", "unknown option '%s'", argv[optind - 1]);
    }
    if (optind < argc) return cli_usage_error("eval", "unexpected argument '%s'", argv[optind]);
    if (!model) return cli_usage_error("eval", "--model is required");
    if (!feat) return cli_usage_error("eval", "--features is required");
    int sp = -2;
    if (split) {
        if (strcmp(split, "test") == 0) sp = MT_SPLIT_TEST;
        else if (strcmp(split, "val") == 0) sp = MT_SPLIT_VAL;
        else if (strcmp(split, "train") == 0) sp = MT_SPLIT_TRAIN;
        else if (strcmp(split, "all") == 0) sp = -1;
        else return cli_usage_error("eval", "--split must be test, val, train or all (got '%s')", split);
    }
    mt_err e = {0};
    mt_model m;
    char *meta = NULL;
    if (mt_model_load(model, &m, &meta, &e)) return cli_fail(&e);
    mt_features f;
    if (mt_features_load(feat, &f, &e)) {
        mt_model_free(&m);
        free(meta);
        return cli_fail(&e);
    }
    int rc = 0;
    mt_eval_result r;
    memset(&r, 0, sizeof r);
    /* class names must agree when both sides have them */
    cJSON *mj = cJSON_Parse(meta);
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(mj, "class_names");
    if (cJSON_IsArray(names) && f.classes && cJSON_GetArraySize(names) == f.nclasses) {
        for (int k = 0; k < f.nclasses; k++) {
            const cJSON *n = cJSON_GetArrayItem(names, k);
            if (cJSON_IsString(n) && f.classes[k] && strcmp(n->valuestring, f.classes[k]) != 0) {
                mt_err_set(&e, MT_ERR_DATA, "%s: class %d is '%s' but the model %s was trained with '%s'",
                           feat, k, f.classes[k], model, n->valuestring);
                rc = cli_fail(&e);
                goto done;
            }
        }
    }
    if (sp == -2) {
        sp = -1;
        for (int64_t i = 0; i < f.n; i++)
            if (f.split && f.split[i] == MT_SPLIT_TEST) sp = MT_SPLIT_TEST;
    }
    if (mt_model_evaluate(&m, &f, sp, (int)batch, &r, &e)) {
        mt_err_prefix(&e, e.code, "eval %s on %s", model, feat);
        rc = cli_fail(&e);
        goto done;
    }
    const char *spname = sp == MT_SPLIT_TEST ? "test" : sp == MT_SPLIT_VAL ? "val" : sp == MT_SPLIT_TRAIN ? "train" : "all";
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "model", model);
        cJSON_AddStringToObject(j, "features", feat);
        cJSON_AddStringToObject(j, "split", spname);
        cJSON_AddNumberToObject(j, "n", (double)r.n);
        cJSON_AddNumberToObject(j, "accuracy", r.accuracy);
        cJSON_AddNumberToObject(j, "weighted_f1", r.weighted_f1);
        cJSON_AddNumberToObject(j, "macro_f1", r.macro_f1);
        cJSON_AddNumberToObject(j, "loss", r.loss);
        cJSON *cl = cJSON_AddArrayToObject(j, "classes");
        for (int k = 0; k < r.nclasses; k++)
            cJSON_AddItemToArray(cl, cJSON_CreateString(f.classes && k < f.nclasses && f.classes[k] ? f.classes[k] : ""));
        cJSON_AddItemToObject(j, "per_class_recall", num_array_d(r.recall, r.nclasses));
        cJSON_AddItemToObject(j, "per_class_precision", num_array_d(r.precision, r.nclasses));
        cJSON_AddItemToObject(j, "per_class_f1", num_array_d(r.f1, r.nclasses));
        cJSON *sup = cJSON_AddArrayToObject(j, "support");
        cJSON *conf = cJSON_AddArrayToObject(j, "confusion");
        for (int i = 0; i < r.nclasses; i++) {
            cJSON_AddItemToArray(sup, cJSON_CreateNumber((double)r.support[i]));
            cJSON *row = cJSON_CreateArray();
            for (int k = 0; k < r.nclasses; k++)
                cJSON_AddItemToArray(row, cJSON_CreateNumber((double)r.confusion[i * r.nclasses + k]));
            cJSON_AddItemToArray(conf, row);
        }
        cli_print_json(j);
    } else {
        printf("%s on %s [%s]: accuracy %.2f%%  weighted F1 %.4f  loss %.4f  (%lld items)\n", model, feat,
               spname, 100 * r.accuracy, r.weighted_f1, r.loss, (long long)r.n);
        printf("  %-14s %8s %8s %8s %8s\n", "class", "support", "recall", "precis.", "F1");
        for (int k = 0; k < r.nclasses; k++)
            printf("  %-14.14s %8lld %8.3f %8.3f %8.3f\n", f.classes && f.classes[k] ? f.classes[k] : "",
                   (long long)r.support[k], r.recall[k], r.precision[k], r.f1[k]);
        printf("  confusion (rows: true, columns: predicted)\n");
        for (int i = 0; i < r.nclasses; i++) {
            printf("  %3d |", i);
            for (int k = 0; k < r.nclasses; k++) printf(" %4lld", (long long)r.confusion[i * r.nclasses + k]);
            printf("\n");
        }
    }
done:
    cJSON_Delete(mj);
    mt_eval_result_free(&r);
    mt_features_free(&f);
    mt_model_free(&m);
    free(meta);
    return rc;
}
