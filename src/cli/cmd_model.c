/* materia model info|list — per-layer shapes, parameters and MACs; the model zoo. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "materia/nn.h"

static const char help[] =
    "usage: materia model info --model NAME|ARCH|FILE.json|M.safetensors [--input CxT]\n"
    "                          [--classes N] [--json]\n"
    "       materia model list [--json]\n"
    "\n"
    "info: build the model for inputs of C channels x T samples and print every layer's output\n"
    "shape, learnable parameters and multiply-accumulates per utterance (MACs count conv and\n"
    "linear layers; 'with BN' adds 2 per BatchNorm element, the convention of the paper's\n"
    "profiler).  list: the zoo of the paper's models with their paper input shapes.\n"
    "\n"
    "options:\n"
    "  --model M     a zoo name (see 'materia model list'), an architecture string such as\n"
    "                'bn,conv32k8,bn,relu,maxpool8,gap,fc' (grammar: docs/models.md), a .json\n"
    "                file ({\"arch\": \"...\", \"classes\": N}) or a trained .safetensors model\n"
    "  --input CxT   input shape (default: the zoo model's paper input; required otherwise)\n"
    "  --classes N   outputs of a bare final 'fc' (default: the zoo model's, else 10)\n"
    "  --json        one JSON object: arch, input, classes, params, macs, macs_with_bn,\n"
    "                weights, layers[{index, name, type, spec, in, out, params, macs, analog}]\n"
    "\n"
    "examples:\n"
    "  materia model info --model hwa6\n"
    "  materia model info --model m3 --input 64x1984 --json\n"
    "  materia model info --model 'bn,conv32k8,bn,relu,maxpool8,gap,fc' --input 16x1250\n"
    "  materia model list\n";

static int run(int argc, char **argv);
const mt_cli_command mt_cmd_model = {"model", "model zoo and per-layer shapes, parameters and MACs",
                                     help, run};

static void fmt_count(char *b, size_t n, double v)
{
    if (v >= 1e6) snprintf(b, n, "%.2f M", v / 1e6);
    else if (v >= 1e4) snprintf(b, n, "%.1f k", v / 1e3);
    else snprintf(b, n, "%.0f", v);
}

static void fmt_int(char *b, size_t n, long long v)
{
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%lld", v);
    size_t len = strlen(tmp), o = 0;
    for (size_t i = 0; i < len && o + 2 < n; i++) {
        b[o++] = tmp[i];
        if ((len - i - 1) % 3 == 0 && i + 1 < len) b[o++] = ',';
    }
    b[o] = 0;
}

static int run_list(int json)
{
    const mt_zoo_entry *z = mt_zoo();
    cJSON *arr = json ? cJSON_CreateArray() : NULL;
    if (!json) printf("%-12s %-9s %7s %10s %10s  %s\n", "name", "input", "classes", "params", "MACs", "about");
    for (; z->name; z++) {
        mt_model m;
        mt_err e = {0};
        if (mt_model_build(&m, z->arch, z->in_c, z->in_t, z->classes, 0, &e)) {
            cJSON_Delete(arr);
            return cli_fail(&e);
        }
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", z->name);
            cJSON_AddStringToObject(o, "arch", z->arch);
            cJSON *in = cJSON_AddArrayToObject(o, "input");
            cJSON_AddItemToArray(in, cJSON_CreateNumber((double)z->in_c));
            cJSON_AddItemToArray(in, cJSON_CreateNumber((double)z->in_t));
            cJSON_AddNumberToObject(o, "classes", z->classes);
            cJSON_AddNumberToObject(o, "params", (double)m.nparams);
            cJSON_AddNumberToObject(o, "macs", (double)m.macs);
            cJSON_AddNumberToObject(o, "macs_with_bn", (double)(m.macs + m.bn_ops));
            cJSON_AddStringToObject(o, "about", z->about);
            cJSON_AddItemToArray(arr, o);
        } else {
            char in[32], p[32], mc[32];
            snprintf(in, sizeof in, "%lldx%lld", (long long)z->in_c, (long long)z->in_t);
            fmt_int(p, sizeof p, (long long)m.nparams);
            fmt_count(mc, sizeof mc, (double)m.macs);
            printf("%-12s %-9s %7d %10s %10s  %s\n", z->name, in, z->classes, p, mc, z->about);
        }
        mt_model_free(&m);
    }
    if (json) cli_print_json(arr);
    return 0;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static int run(int argc, char **argv)
{
    if (cli_wants_help(&mt_cmd_model, argc, argv)) return 0;
    if (argc < 2 || (strcmp(argv[1], "info") != 0 && strcmp(argv[1], "list") != 0))
        return cli_usage_error("model", "expected the sub-command 'info' or 'list'");
    int is_list = strcmp(argv[1], "list") == 0;
    const char *model = NULL, *input = NULL;
    long classes = -1;
    int json = 0;
    static const struct option lo[] = {{"model", required_argument, 0, 'm'},
                                       {"input", required_argument, 0, 'i'},
                                       {"classes", required_argument, 0, 'c'},
                                       {"json", no_argument, 0, 'j'},
                                       {"quiet", no_argument, 0, 'q'},
                                       {0, 0, 0, 0}};
    optind = 2;
    opterr = 0;
    int c;
    const char *cmd = is_list ? "model list" : "model info";
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (c == 'm' && !is_list) model = optarg;
        else if (c == 'i' && !is_list) input = optarg;
        else if (c == 'c' && !is_list) {
            if (cli_parse_int(optarg, &classes) || classes < 1 || classes > 100000)
                return cli_usage_error(cmd, "--classes must be an integer 1..100000 (got '%s')", optarg);
        } else if (c == 'j') json = 1;
        else if (c == 'q') continue;
        else if (c == '?' && optopt)
            return cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
        else return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
    }
    if (optind < argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (is_list) return run_list(json);
    if (!model) return cli_usage_error(cmd, "--model is required");

    mt_err e = {0};
    mt_model m;
    char *name = NULL;
    if (ends_with(model, ".safetensors")) {
        if (input || classes > 0)
            return cli_usage_error(cmd, "--input/--classes come from the model file '%s'", model);
        if (mt_model_load(model, &m, NULL, &e)) return cli_fail(&e);
        name = strdup(model);
    } else {
        char *arch;
        int zoo_classes;
        if (mt_arch_resolve(model, &arch, &zoo_classes, &name, &e)) return cli_fail(&e);
        long ic = 0, it = 0;
        const mt_zoo_entry *z = mt_zoo_find(model);
        if (input) {
            if (cli_parse_shape(input, &ic, &it)) {
                free(arch);
                free(name);
                return cli_usage_error(cmd, "--input must look like 64x1984 (got '%s')", input);
            }
        } else if (z) {
            ic = (long)z->in_c;
            it = (long)z->in_t;
        } else {
            free(arch);
            free(name);
            return cli_usage_error(cmd, "--input CxT is required for '%s'", model);
        }
        int nc = classes > 0 ? (int)classes : zoo_classes > 0 ? zoo_classes : 10;
        mt_status s = mt_model_build(&m, arch, ic, it, nc, 0, &e);
        free(arch);
        if (s) {
            free(name);
            return cli_fail(&e);
        }
    }
    char *info = mt_model_info_json(&m);
    cJSON *j = info ? cJSON_Parse(info) : NULL;
    free(info);
    if (!j) {
        mt_model_free(&m);
        free(name);
        mt_err_set(&e, MT_ERR_NOMEM, "out of memory");
        return cli_fail(&e);
    }
    if (json) {
        cJSON_AddStringToObject(j, "model", name ? name : "custom");
        cli_print_json(j);
    } else {
        printf("model %s: input %lldx%lld, %d outputs\n", name ? name : "custom", (long long)m.in_c,
               (long long)m.in_t, m.nclasses);
        printf("arch  %s\n\n", m.arch);
        printf("%3s  %-6s %-14s %12s %12s %12s  %s\n", "#", "name", "layer", "output", "params", "MACs", "");
        for (int i = 0; i < m.nlayers; i++) {
            const mt_layer *L = &m.layers[i];
            char out[40], p[32], mc[32];
            snprintf(out, sizeof out, "%lldx%lld", (long long)L->out_c, (long long)L->out_t);
            fmt_int(p, sizeof p, (long long)L->params);
            fmt_count(mc, sizeof mc, (double)L->macs);
            printf("%3d  %-6s %-14s %12s %12s %12s  %s\n", i, L->name, L->spec, out, L->params ? p : "",
                   L->macs ? mc : "", L->analog ? "analog-capable" : "");
        }
        char p[32], mc[32], mb[32];
        fmt_int(p, sizeof p, (long long)m.nparams);
        fmt_count(mc, sizeof mc, (double)m.macs);
        fmt_count(mb, sizeof mb, (double)(m.macs + m.bn_ops));
        printf("\ntotal: %s params, %s MACs (%s with 2 per BatchNorm element)\n", p, mc, mb);
        cJSON_Delete(j);
    }
    mt_model_free(&m);
    free(name);
    return 0;
}
