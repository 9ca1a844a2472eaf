/* materia synth — the built-in espeak-ng spoken corpus (digits: FSDD layout; keywords: GSC). */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "materia/synth.h"

static const char help[] =
    "usage: materia synth digits|keywords --out DIR [options]\n"
    "\n"
    "Synthesise a deterministic spoken corpus with espeak-ng: several English voices (accents,\n"
    "female and male variants), varied rate, pitch and pitch range, a random level and time\n"
    "offset, and a little coloured noise (SNR 25-40 dB).  Same options -> byte-identical files.\n"
    "It is the data `make demo` uses when no data path is given; synthetic speech is for the demo\n"
    "and tests, reported accuracies use the real sets.\n"
    "\n"
    "  digits    FSDD layout, 8 kHz: {digit}_{speaker}_{index}.wav, 'zero'..'nine'\n"
    "            (FSDD's official split puts index 0-4 in test).\n"
    "  keywords  Speech Commands 12-class layout, 16 kHz, 1-s clips: yes no up down left right on\n"
    "            off stop go as {word}/{speaker}_nohash_{n}.wav, _unknown_/{word}_{speaker}_nohash_{n}.wav\n"
    "            (GSC's 25 auxiliary words), _silence_/{n}.wav (noise only), testing_list.txt and\n"
    "            validation_list.txt (n % 10 == 0 test, == 1 validation).\n"
    "  Both also write synth.json (options, speakers, counts, version).\n"
    "\n"
    "options:\n"
    "  --out DIR        output folder (required); written to DIR.tmp.PID and renamed when done\n"
    "  --speakers N     voices, 1..16 (default 8; alternately female and male)\n"
    "  --reps N         clips per speaker per word, 1..1000 (default: digits 12, keywords 8)\n"
    "  --unknown N      keywords: _unknown_ clips per speaker, 0..1000 (default = reps)\n"
    "  --silence N      keywords: _silence_ clips, 0..100000 (default = speakers x reps)\n"
    "  --seed S         seed of every random draw (default 1)\n"
    "  --force          replace DIR if it is a corpus made by this command (has synth.json)\n"
    "  --json           print the summary as JSON (keys: out, kind, layout, files, classes,\n"
    "                   speakers, sample_rate_hz, duration_s, per_class, seconds)\n"
    "  --quiet          no progress bar\n"
    "\n"
    "examples:\n"
    "  materia synth digits --out corpus/digits\n"
    "  materia synth keywords --out corpus/kw --speakers 12 --reps 10 --seed 7 --json\n";

static int run(int argc, char **argv);
const mt_cli_command mt_cmd_synth = {"synth", "built-in espeak-ng corpus (digits: fsdd layout, keywords: gsc)",
                                     help, run};

static int parse_count(const char *opt, const char *v, long lo, long hi, int *out)
{
    long x;
    if (cli_parse_int(v, &x) || x < lo || x > hi) {
        cli_usage_error("synth", "%s expects an integer in %ld..%ld, got '%s'", opt, lo, hi, v);
        return -1;
    }
    *out = (int)x;
    return 0;
}

static int run(int argc, char **argv)
{
    if (cli_wants_help(&mt_cmd_synth, argc, argv)) return 0;
    if (argc < 2 || argv[1][0] == '-')
        return cli_usage_error("synth", "expected the corpus kind 'digits' or 'keywords'");
    mt_err err = {0};
    mt_synth_kind kind;
    if (mt_synth_kind_parse(argv[1], &kind, &err))
        return cli_usage_error("synth", "unknown corpus kind '%s' (expected digits or keywords)", argv[1]);
    mt_synth_opts o = mt_synth_defaults(kind);
    const char *out = NULL;
    int json = 0, force = 0;
    enum { O_OUT = 1, O_SPK, O_REPS, O_UNK, O_SIL, O_SEED, O_FORCE, O_JSON, O_QUIET };
    static const struct option lo[] = {
        {"out", required_argument, 0, O_OUT},       {"speakers", required_argument, 0, O_SPK},
        {"reps", required_argument, 0, O_REPS},     {"unknown", required_argument, 0, O_UNK},
        {"silence", required_argument, 0, O_SIL},   {"seed", required_argument, 0, O_SEED},
        {"force", no_argument, 0, O_FORCE},         {"json", no_argument, 0, O_JSON},
        {"quiet", no_argument, 0, O_QUIET},         {0, 0, 0, 0}};
    optind = 2;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case O_OUT: out = optarg; break;
        case O_SPK: if (parse_count("--speakers", optarg, 1, MT_SYNTH_MAX_SPEAKERS, &o.speakers)) return 2; break;
        case O_REPS: if (parse_count("--reps", optarg, 1, 1000, &o.reps)) return 2; break;
        case O_UNK: if (parse_count("--unknown", optarg, 0, 1000, &o.unknown)) return 2; break;
        case O_SIL: if (parse_count("--silence", optarg, 0, 100000, &o.silence)) return 2; break;
        case O_SEED: {
            char *end;
            if (!optarg[0] || optarg[0] == '-') return cli_usage_error("synth", "--seed expects a non-negative integer, got '%s'", optarg);
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (errno || *end) return cli_usage_error("synth", "--seed expects a non-negative integer, got '%s'", optarg);
            o.seed = v;
            break;
        }
        case O_FORCE: force = 1; break;
        case O_JSON: json = 1; break;
        case O_QUIET: break;
        case ':': return cli_usage_error("synth", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("synth", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_usage_error("synth", "unexpected argument '%s'", argv[optind]);
    if (!out) return cli_usage_error("synth", "--out DIR is required");
    if (kind == MT_SYNTH_DIGITS && (o.unknown >= 0 || o.silence >= 0))
        return cli_usage_error("synth", "--unknown and --silence apply to keywords only");

    cli_progress pb;
    cli_progress_init(&pb, "synth");
    mt_progress prog = {cli_progress_cb, &pb};
    double t0 = cli_now();
    mt_synth_summary sum;
    mt_status s = mt_synth_corpus(out, &o, force, &prog, &sum, &err);
    cli_progress_done(&pb);
    if (s) return cli_fail(&err);
    double secs = cli_now() - t0;
    int nc = mt_synth_nclasses(kind);
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "out", out);
        cJSON_AddStringToObject(j, "kind", mt_synth_kind_name(kind));
        cJSON_AddStringToObject(j, "layout", kind == MT_SYNTH_DIGITS ? "fsdd" : "gsc");
        cJSON_AddNumberToObject(j, "files", sum.files);
        cJSON_AddNumberToObject(j, "classes", sum.classes);
        cJSON_AddNumberToObject(j, "speakers", sum.speakers);
        cJSON_AddNumberToObject(j, "sample_rate_hz", sum.rate_hz);
        cJSON_AddNumberToObject(j, "duration_s", sum.audio_s);
        cJSON *pc = cJSON_AddObjectToObject(j, "per_class");
        for (int k = 0; k < nc; k++) cJSON_AddNumberToObject(pc, mt_synth_class_name(kind, k), sum.per_class[k]);
        cJSON_AddNumberToObject(j, "seconds", secs);
        cli_print_json(j);
    } else {
        printf("corpus:    %s (%s, layout %s)\n", out, mt_synth_kind_name(kind),
               kind == MT_SYNTH_DIGITS ? "fsdd" : "gsc");
        printf("files:     %d in %d classes, %d speakers, %.0f Hz\n", sum.files, sum.classes, sum.speakers,
               sum.rate_hz);
        printf("audio:     %.1f s\n", sum.audio_s);
        printf("per class:");
        for (int k = 0; k < nc; k++) printf(" %s=%d", mt_synth_class_name(kind, k), sum.per_class[k]);
        printf("\ntime:      %.1f s\n", secs);
    }
    return 0;
}
