/* materia train — train a classifier on a feature set; model selection on a validation split. */
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "materia/hwa.h"
#include "materia/nn.h"

static const char help[] =
    "usage: materia train --features F.npy --model NAME --out M.safetensors [options]\n"
    "\n"
    "Train a CNN on a feature set ([N, C, T] .npy + sidecar .json from `materia features`).\n"
    "Items of the set's train split are used for training; when the set has no validation\n"
    "items a stratified validation fraction is carved from train (seeded).  The checkpoint with\n"
    "the best validation accuracy is kept (never chosen on the test split) and written to --out;\n"
    "its test accuracy, weighted F1 and confusion matrix are reported.  Training state is saved\n"
    "every epoch to M.state.safetensors (for --out M.safetensors): rerunning the same command after an interruption\n"
    "continues from there and gives bit-identical weights.  The state file is removed when the\n"
    "run completes (unless --keep-state).\n"
    "\n"
    "options:\n"
    "  --features F     feature set (.npy with its .json sidecar)\n"
    "  --model M        zoo name ('materia model list'), architecture string or .json file\n"
    "  --out M          output model (.safetensors)\n"
    "  --epochs N       epochs (30)\n"
    "  --batch N        batch size (32)\n"
    "  --lr X           learning rate; the peak for onecycle (0.01)\n"
    "  --wd X           decoupled weight decay (1e-4)\n"
    "  --schedule S     onecycle (per batch, cos, pct 0.3, div 25, final div 1e4, beta1 cycled\n"
    "                   0.95->0.85->0.95), cosine (per batch) or constant (onecycle)\n"
    "  --optimizer O    adamw or sgd (adamw; sgd uses --momentum, weight decay decoupled)\n"
    "  --momentum X     SGD momentum (0.9)\n"
    "  --clip X         clip the global gradient L2 norm to X (0 = off)\n"
    "  --val-frac X     validation fraction carved from train when the set has none (0.1)\n"
    "  --seed N         seed of initialisation, validation carve, shuffling, dropout (0)\n"
    "  --threads N      OpenMP threads (default: all cores; results do not depend on it)\n"
    "  --state PATH     training-state file (default: --out with .state.safetensors)\n"
    "  --resume         require a matching state file and continue it\n"
    "  --no-resume      ignore any state file and start afresh\n"
    "  --keep-state     keep the state file after a completed run\n"
    "  --from M         start from the weights of a saved model (--model may then be omitted)\n"
    "  --hwa            hardware-aware retraining for the PCM chip (the paper's second phase):\n"
    "                   8-bit inputs over a learned range, per-row weight noise, output noise,\n"
    "                   row clipping after every step (docs/aimc.md); usually with --from;\n"
    "                   its state is saved and resumed like that of any run (see above)\n"
    "  --weight-noise X HWA weight noise, relative to the row's max |w| (0.12)\n"
    "  --out-noise X    HWA output noise, relative to max|w|·input range (0.1)\n"
    "  --clip-sigma X   HWA row clipping at ±X·std after every step (1.5; 0 = off)\n"
    "  --json           print one JSON object at the end: accuracy, weighted_f1, confusion,\n"
    "                   per_class_recall, classes, evaluated_on, best_epoch, val, test,\n"
    "                   timings, history, params, macs\n"
    "  --quiet          no per-epoch lines\n"
    "\n"
    "example:\n"
    "  materia train --features feats/ti46-rnpu.npy --model cnn3 --epochs 60 --out cnn3.safetensors\n"
    "  materia train --features feats/ti46-rnpu.npy --hwa --from cnn3.safetensors --epochs 20 \\\n"
    "      --lr 1e-3 --schedule cosine --out cnn3-hwa.safetensors\n";

static int run(int argc, char **argv);
const mt_cli_command mt_cmd_train = {"train", "train a classifier on a feature set", help, run};

typedef struct epoch_ctx {
    int quiet;
    cli_progress *pb;
    int seen;
    const char *state;
} epoch_ctx;

static void on_epoch(void *ctx, const mt_epoch_stats *s)
{
    epoch_ctx *c = ctx;
    cli_progress_done(c->pb);
    if (c->quiet) return;
    if (!c->seen++ && s->epoch > 1)
        fprintf(stderr, "resuming after epoch %d from %s\n", s->epoch - 1, c->state);
    char val[64];
    if (isnan(s->val_acc)) snprintf(val, sizeof val, "val -");
    else snprintf(val, sizeof val, "val %5.1f%% (loss %.4f)", 100 * s->val_acc, s->val_loss);
    fprintf(stderr, "epoch %3d/%d  loss %.4f  acc %5.1f%%  %s  lr %.2e  %.1fs%s\n", s->epoch, s->epochs,
            s->train_loss, 100 * s->train_acc, val, s->lr, s->seconds, s->improved ? "  *" : "");
}

static cJSON *num_array_d(const double *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

static cJSON *confusion_json(const mt_eval_result *r)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < r->nclasses; i++) {
        cJSON *row = cJSON_CreateArray();
        for (int k = 0; k < r->nclasses; k++)
            cJSON_AddItemToArray(row, cJSON_CreateNumber((double)r->confusion[i * r->nclasses + k]));
        cJSON_AddItemToArray(a, row);
    }
    return a;
}

static cJSON *eval_obj(const mt_eval_result *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "n", (double)r->n);
    cJSON_AddNumberToObject(o, "accuracy", r->accuracy);
    cJSON_AddNumberToObject(o, "weighted_f1", r->weighted_f1);
    cJSON_AddNumberToObject(o, "macro_f1", r->macro_f1);
    cJSON_AddNumberToObject(o, "loss", r->loss);
    cJSON_AddItemToObject(o, "per_class_recall", num_array_d(r->recall, r->nclasses));
    cJSON_AddItemToObject(o, "confusion", confusion_json(r));
    return o;
}

/* Shared with eval: print a per-class table and the confusion matrix. */
static void print_eval(const char *title, const mt_eval_result *r, char *const *names)
{
    printf("%s: accuracy %.2f%%  weighted F1 %.4f  (%lld items)\n", title, 100 * r->accuracy,
           r->weighted_f1, (long long)r->n);
    printf("  %-14s %8s %8s %8s %8s\n", "class", "support", "recall", "precis.", "F1");
    for (int c = 0; c < r->nclasses; c++)
        printf("  %-14.14s %8lld %8.3f %8.3f %8.3f\n", names && names[c] ? names[c] : "", (long long)r->support[c],
               r->recall[c], r->precision[c], r->f1[c]);
    printf("  confusion (rows: true, columns: predicted)\n");
    for (int i = 0; i < r->nclasses; i++) {
        printf("  %3d |", i);
        for (int k = 0; k < r->nclasses; k++) printf(" %4lld", (long long)r->confusion[i * r->nclasses + k]);
        printf("\n");
    }
}

static int run(int argc, char **argv)
{
    if (cli_wants_help(&mt_cmd_train, argc, argv)) return 0;
    const char *feat = NULL, *model = NULL, *out = NULL, *state = NULL, *from = NULL;
    mt_hwa_opts hw;
    mt_hwa_opts_default(&hw);
    int hwa = 0;
    mt_train_opts o;
    mt_train_opts_default(&o);
    int json = 0, keep_state = 0;
    long threads = 0;
    enum { O_FEAT = 1, O_MODEL, O_OUT, O_EPOCHS, O_BATCH, O_LR, O_WD, O_SCHED, O_OPT, O_MOM, O_CLIP,
           O_VAL, O_SEED, O_THREADS, O_STATE, O_RESUME, O_NORESUME, O_KEEP, O_JSON, O_QUIET,
           O_FROM, O_HWA, O_WNOISE, O_ONOISE, O_CLIPS };
    static const struct option lo[] = {
        {"features", required_argument, 0, O_FEAT}, {"model", required_argument, 0, O_MODEL},
        {"out", required_argument, 0, O_OUT},       {"epochs", required_argument, 0, O_EPOCHS},
        {"batch", required_argument, 0, O_BATCH},   {"lr", required_argument, 0, O_LR},
        {"wd", required_argument, 0, O_WD},         {"schedule", required_argument, 0, O_SCHED},
        {"optimizer", required_argument, 0, O_OPT}, {"momentum", required_argument, 0, O_MOM},
        {"clip", required_argument, 0, O_CLIP},     {"val-frac", required_argument, 0, O_VAL},
        {"seed", required_argument, 0, O_SEED},     {"threads", required_argument, 0, O_THREADS},
        {"state", required_argument, 0, O_STATE},   {"resume", no_argument, 0, O_RESUME},
        {"no-resume", no_argument, 0, O_NORESUME},  {"keep-state", no_argument, 0, O_KEEP},
        {"json", no_argument, 0, O_JSON},           {"quiet", no_argument, 0, O_QUIET},
        {"from", required_argument, 0, O_FROM},     {"hwa", no_argument, 0, O_HWA},
        {"weight-noise", required_argument, 0, O_WNOISE}, {"out-noise", required_argument, 0, O_ONOISE},
        {"clip-sigma", required_argument, 0, O_CLIPS},
        {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    long lv;
    double dv;
    mt_err e = {0};
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case O_FEAT: feat = optarg; break;
        case O_MODEL: model = optarg; break;
        case O_OUT: out = optarg; break;
        case O_STATE: state = optarg; break;
        case O_EPOCHS:
            if (cli_parse_int(optarg, &lv) || lv < 1 || lv > 1000000)
                return cli_usage_error("train", "--epochs must be an integer >= 1 (got '%s')", optarg);
            o.epochs = (int)lv;
            break;
        case O_BATCH:
            if (cli_parse_int(optarg, &lv) || lv < 2 || lv > 65536)
                return cli_usage_error("train", "--batch must be an integer 2..65536 (got '%s')", optarg);
            o.batch = (int)lv;
            break;
        case O_LR:
            if (cli_parse_double(optarg, &dv) || !(dv > 0) || dv > 10)
                return cli_usage_error("train", "--lr must be in (0, 10] (got '%s')", optarg);
            o.lr = dv;
            break;
        case O_WD:
            if (cli_parse_double(optarg, &dv) || dv < 0 || dv > 10)
                return cli_usage_error("train", "--wd must be in [0, 10] (got '%s')", optarg);
            o.wd = dv;
            break;
        case O_MOM:
            if (cli_parse_double(optarg, &dv) || dv < 0 || dv >= 1)
                return cli_usage_error("train", "--momentum must be in [0, 1) (got '%s')", optarg);
            o.momentum = dv;
            break;
        case O_CLIP:
            if (cli_parse_double(optarg, &dv) || dv < 0)
                return cli_usage_error("train", "--clip must be >= 0 (got '%s')", optarg);
            o.clip_norm = dv;
            break;
        case O_VAL:
            if (cli_parse_double(optarg, &dv) || dv < 0 || dv >= 1)
                return cli_usage_error("train", "--val-frac must be in [0, 1) (got '%s')", optarg);
            o.val_frac = dv;
            break;
        case O_SEED:
            if (cli_parse_int(optarg, &lv) || lv < 0)
                return cli_usage_error("train", "--seed must be a non-negative integer (got '%s')", optarg);
            o.seed = (uint64_t)lv;
            break;
        case O_THREADS:
            if (cli_parse_int(optarg, &threads) || threads < 1 || threads > 1024)
                return cli_usage_error("train", "--threads must be 1..1024 (got '%s')", optarg);
            break;
        case O_SCHED:
            if (mt_sched_parse(optarg, &o.schedule, &e)) return cli_usage_error("train", "%s", e.msg);
            break;
        case O_OPT:
            if (strcmp(optarg, "adamw") == 0) o.optimizer = MT_OPT_ADAMW;
            else if (strcmp(optarg, "sgd") == 0) o.optimizer = MT_OPT_SGD;
            else return cli_usage_error("train", "--optimizer must be adamw or sgd (got '%s')", optarg);
            break;
        case O_RESUME: o.resume = 2; break;
        case O_NORESUME: o.resume = 0; break;
        case O_KEEP: keep_state = 1; break;
        case O_JSON: json = 1; break;
        case O_QUIET: break;
        case O_FROM: from = optarg; break;
        case O_HWA: hwa = 1; break;
        case O_WNOISE:
        case O_ONOISE:
        case O_CLIPS:
            if (cli_parse_double(optarg, &dv) || dv < 0 || dv > 100)
                return cli_usage_error("train", "--weight-noise, --out-noise and --clip-sigma take a number in [0, 100] (got '%s')", optarg);
            if (c == O_WNOISE) hw.weight_noise = dv;
            else if (c == O_ONOISE) hw.out_noise = dv;
            else hw.clip_sigma = dv;
            break;
        case '?':
            if (optopt) return cli_usage_error("train", "option '%s' needs a value", argv[optind - 1]);
            return cli_usage_error("train", "unknown option '%s'", argv[optind - 1]);
        default: return cli_usage_error("train", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_usage_error("train", "unexpected argument '%s'", argv[optind]);
    if (!feat) return cli_usage_error("train", "--features is required");
    if (!model && !from) return cli_usage_error("train", "--model (or --from) is required");
    if (!out) return cli_usage_error("train", "--out is required");
    if (threads > 0) omp_set_num_threads((int)threads);
    int quiet = cli_quiet();

    char *arch = NULL, *name = NULL;
    int zoo_classes = 0;
    if (model && mt_arch_resolve(model, &arch, &zoo_classes, &name, &e)) return cli_fail(&e);
    mt_features f;
    if (mt_features_load(feat, &f, &e)) {
        free(arch);
        free(name);
        return cli_fail(&e);
    }
    int rc = 0;
    mt_model m;
    memset(&m, 0, sizeof m);
    mt_train_result r;
    memset(&r, 0, sizeof r);
    char statebuf[4200];
    if (!state) {
        size_t ol = strlen(out), sl = strlen(".safetensors");
        int base = (int)(ol > sl && strcmp(out + ol - sl, ".safetensors") == 0 ? ol - sl : ol);
        snprintf(statebuf, sizeof statebuf, "%.*s.state.safetensors", base, out);
        state = statebuf;
    }
    if (f.nclasses < 2) {
        mt_err_set(&e, MT_ERR_DATA, "%s: feature set has %d classes (need at least 2)", feat, f.nclasses);
        rc = cli_fail(&e);
        goto done;
    }
    if (from) {
        if (mt_model_load(from, &m, NULL, &e)) {
            rc = cli_fail(&e);
            goto done;
        }
        if (m.in_c != f.c || m.in_t != f.t || m.nclasses != f.nclasses) {
            mt_err_set(&e, MT_ERR_ARG, "%s: model takes %lldx%lld inputs and %d classes, %s has %lldx%lld and %d", from,
                       (long long)m.in_c, (long long)m.in_t, m.nclasses, feat, (long long)f.c, (long long)f.t, f.nclasses);
            rc = cli_fail(&e);
            goto done;
        }
        if (!name) name = strdup(hwa ? "hwa" : "fine-tuned");
    } else if (mt_model_build(&m, arch, f.c, f.t, f.nclasses, o.seed, &e)) {
        mt_err_prefix(&e, e.code, "model '%s' on %s (%lldx%lld)", model, feat, (long long)f.c, (long long)f.t);
        rc = cli_fail(&e);
        goto done;
    }
    o.out_path = out;
    o.state_path = state;
    o.model_name = name;
    cli_progress pb;
    cli_progress_init(&pb, "train");
    epoch_ctx ec = {quiet, &pb, 0, state};
    o.on_epoch = on_epoch;
    o.ctx = &ec;
    o.progress.fn = cli_progress_cb;
    o.progress.ctx = &pb;
    if (!quiet)
        fprintf(stderr, "training %s (%lld params, %.2f M MACs) on %lld items of %lldx%lld, %d classes, %d threads\n",
                name, (long long)m.nparams, (double)m.macs / 1e6, (long long)f.n, (long long)f.c,
                (long long)f.t, f.nclasses, omp_get_max_threads());
    double t0 = cli_now();
    if (hwa) hw.from = from;
    if (hwa ? mt_hwa_train(&m, &f, &hw, &o, NULL, &r, &e) : mt_train(&m, &f, &o, &r, &e)) {
        cli_progress_done(&pb);
        mt_err_prefix(&e, e.code, "train %s", feat);
        rc = cli_fail(&e);
        goto done;
    }
    double total = cli_now() - t0;
    if (r.state_mismatch && !quiet)
        fprintf(stderr, "note: %s belonged to a different run and was overwritten\n", state);
    if (!keep_state) unlink(state);

    const mt_eval_result *fin = r.test.n ? &r.test : &r.val;
    const char *on = r.test.n ? "test" : "val";
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "model", name);
        cJSON_AddStringToObject(j, "arch", m.arch);
        cJSON_AddStringToObject(j, "out", out);
        cJSON_AddNumberToObject(j, "params", (double)m.nparams);
        cJSON_AddNumberToObject(j, "macs", (double)m.macs);
        cJSON_AddStringToObject(j, "evaluated_on", fin->n ? on : "none");
        cJSON_AddNumberToObject(j, "accuracy", fin->n ? fin->accuracy : NAN);
        cJSON_AddNumberToObject(j, "weighted_f1", fin->n ? fin->weighted_f1 : NAN);
        if (fin->n) {
            cJSON_AddItemToObject(j, "confusion", confusion_json(fin));
            cJSON_AddItemToObject(j, "per_class_recall", num_array_d(fin->recall, fin->nclasses));
        }
        cJSON *cl = cJSON_AddArrayToObject(j, "classes");
        for (int k = 0; k < f.nclasses; k++)
            cJSON_AddItemToArray(cl, cJSON_CreateString(f.classes && f.classes[k] ? f.classes[k] : ""));
        cJSON_AddNumberToObject(j, "best_epoch", r.best_epoch);
        cJSON_AddNumberToObject(j, "epochs", o.epochs);
        cJSON_AddNumberToObject(j, "epochs_run", r.epochs_run);
        cJSON_AddNumberToObject(j, "resumed_from", r.resumed_from);
        cJSON_AddNumberToObject(j, "seed", (double)o.seed);
        cJSON_AddNumberToObject(j, "n_train", (double)r.n_train);
        cJSON_AddNumberToObject(j, "n_val", (double)r.n_val);
        cJSON_AddNumberToObject(j, "n_test", (double)r.n_test);
        if (r.val.n) cJSON_AddItemToObject(j, "val", eval_obj(&r.val));
        if (r.test.n) cJSON_AddItemToObject(j, "test", eval_obj(&r.test));
        cJSON *t = cJSON_AddObjectToObject(j, "timings");
        cJSON_AddNumberToObject(t, "train_s", r.train_seconds);
        cJSON_AddNumberToObject(t, "total_s", total);
        cJSON_AddNumberToObject(t, "samples_per_s", r.samples_per_s);
        cJSON_AddNumberToObject(t, "threads", omp_get_max_threads());
        cJSON *h = cJSON_AddArrayToObject(j, "history");
        for (int k = 0; k < r.nhist; k++) {
            const mt_epoch_stats *s = &r.hist[k];
            cJSON *x = cJSON_CreateObject();
            cJSON_AddNumberToObject(x, "epoch", s->epoch);
            cJSON_AddNumberToObject(x, "train_loss", s->train_loss);
            cJSON_AddNumberToObject(x, "train_acc", s->train_acc);
            cJSON_AddNumberToObject(x, "val_loss", s->val_loss);
            cJSON_AddNumberToObject(x, "val_acc", s->val_acc);
            cJSON_AddNumberToObject(x, "lr", s->lr);
            cJSON_AddNumberToObject(x, "seconds", s->seconds);
            cJSON_AddBoolToObject(x, "best", s->improved);
            cJSON_AddItemToArray(h, x);
        }
        cli_print_json(j);
    } else {
        printf("model %s -> %s (best epoch %d of %d, %.1f samples/s, %.1f s)\n", name, out, r.best_epoch,
               o.epochs, r.samples_per_s, total);
        if (r.val.n)
            printf("validation: accuracy %.2f%%  weighted F1 %.4f  (%lld items)\n", 100 * r.val.accuracy,
                   r.val.weighted_f1, (long long)r.val.n);
        if (r.test.n) print_eval("test", &r.test, f.classes);
        else printf("no test split in %s: report the validation numbers above\n", feat);
    }
done:
    mt_train_result_free(&r);
    mt_model_free(&m);
    mt_features_free(&f);
    free(arch);
    free(name);
    return rc;
}
