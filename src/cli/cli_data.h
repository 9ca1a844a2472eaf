/* Options shared by every command that reads a dataset (data info, features, compare, run). */
#ifndef MATERIA_CLI_DATA_H
#define MATERIA_CLI_DATA_H

#include <getopt.h>
#include <stdio.h>

#include "materia/audio.h"
#include "materia/dataset.h"

typedef struct cli_data_opts {
    const char *data;      /* --data DIR */
    const char *layout;    /* --layout fsdd|gsc|ti46|folder */
    const char *split;     /* --split official|stratified|speaker|auto (default auto) */
    double test_frac;      /* --test-frac (default 0.1) */
    long split_seed;       /* --split-seed (default 0) */
    mt_dataset_opts ds;    /* --gsc-classes 12|paper, --female-only, --all-words */
} cli_data_opts;

/* getopt_long ids for the shared options (values above any short option). */
enum {
    CLI_OPT_DATA = 1000, CLI_OPT_LAYOUT, CLI_OPT_SPLIT, CLI_OPT_TEST_FRAC, CLI_OPT_SPLIT_SEED,
    CLI_OPT_GSC_CLASSES, CLI_OPT_FEMALE_ONLY, CLI_OPT_ALL_WORDS
};
#define CLI_DATA_LONGOPTS                                                     \
    {"data", required_argument, 0, CLI_OPT_DATA},                             \
    {"layout", required_argument, 0, CLI_OPT_LAYOUT},                         \
    {"split", required_argument, 0, CLI_OPT_SPLIT},                           \
    {"test-frac", required_argument, 0, CLI_OPT_TEST_FRAC},                   \
    {"split-seed", required_argument, 0, CLI_OPT_SPLIT_SEED},                 \
    {"gsc-classes", required_argument, 0, CLI_OPT_GSC_CLASSES},               \
    {"female-only", no_argument, 0, CLI_OPT_FEMALE_ONLY},                     \
    {"all-words", no_argument, 0, CLI_OPT_ALL_WORDS}

#define CLI_DATA_HELP                                                                          \
    "  --data DIR             dataset root folder\n"                                           \
    "  --layout L             fsdd | gsc | ti46 | folder\n"                                    \
    "  --split M              official | stratified | speaker | auto (default: auto = official\n" \
    "                         when the data has one, else stratified)\n"                       \
    "  --test-frac F          test fraction for stratified/speaker splits (default 0.1)\n"     \
    "  --split-seed S         seed of the random split (default 0)\n"                          \
    "  --gsc-classes K        gsc: 12 (10 keywords + _unknown_ + _silence_, default) or paper\n" \
    "                         (the paper's 11 keywords incl. house + unknown)\n"               \
    "  --female-only          ti46: female speakers only (the paper's subset)\n"               \
    "  --all-words            ti46: all 20 TI-20 words, not only the digits\n"

void cli_data_defaults(cli_data_opts *o);
/* Handle one shared option; returns 1 if handled, 0 if not ours, -1 on a bad value (printed). */
int cli_data_option(cli_data_opts *o, int opt, const char *arg, const char *cmd);
/* Open and split the dataset as the options say. */
mt_status cli_data_open(const cli_data_opts *o, mt_dataset *ds, mt_err *err);
/* Provenance of a feature set (the sidecar's "config"): {"frontend": resolved config,
 * "frontend_args": {"name", "channels", "seed", "decim", "rate_hz", "params"} (what re-creates the
 * front-end: `materia classify` uses it), "seed", "audio": {...}, "dataset": {...},
 * "materia_version"}.  Caller deletes. */
struct cJSON;
struct mt_frontend;
struct mt_frontend_cfg;
struct cJSON *cli_features_provenance(const struct mt_frontend *fe, const struct mt_frontend_cfg *fc,
                                      const mt_audio_prep *prep, const mt_dataset *ds,
                                      const cli_data_opts *d);
/* Inverse of the "audio" entry: the recipe recorded in a provenance object. */
int cli_prep_from_provenance(const struct cJSON *prov, mt_audio_prep *prep);

/* Audio-recipe options shared by `features` and `compare` (rate, peak, trim, duration). */
typedef struct cli_prep_opts {
    mt_audio_prep prep;    /* rate/peak/trim values as parsed (length set by cli_prep_finish) */
    const char *trim;      /* --trim abs|db|none, NULL = layout default */
    double duration;       /* --duration S (1) */
} cli_prep_opts;
enum { CLI_OPT_RATE = 1100, CLI_OPT_PEAK, CLI_OPT_TRIM, CLI_OPT_TRIMV, CLI_OPT_TRIMDB, CLI_OPT_DUR };
#define CLI_PREP_LONGOPTS                                                     \
    {"rate", required_argument, 0, CLI_OPT_RATE},                             \
    {"peak", required_argument, 0, CLI_OPT_PEAK},                             \
    {"trim", required_argument, 0, CLI_OPT_TRIM},                             \
    {"trim-v", required_argument, 0, CLI_OPT_TRIMV},                          \
    {"trim-db", required_argument, 0, CLI_OPT_TRIMDB},                        \
    {"duration", required_argument, 0, CLI_OPT_DUR}
#define CLI_PREP_HELP                                                                          \
    "  --rate HZ              audio rate fed to the front-end (default 12500, the paper's DAC rate)\n" \
    "  --peak V               scale each utterance to this peak voltage; 0 = keep (default 0.75)\n" \
    "  --trim M               abs (paper: drop edge samples below --trim-v) | db (public code:\n"   \
    "                         12 dB below the loudest 128-sample frame) | none\n"               \
    "                         (default abs; none for the gsc layout, as in the paper)\n"        \
    "  --trim-v V             abs threshold in volts after scaling (default 0.05)\n"            \
    "  --trim-db DB           db threshold (default 12)\n"                                      \
    "  --duration S           pad/crop every utterance to S seconds (default 1)\n"

void cli_prep_defaults(cli_prep_opts *o);
/* Handle one prep option; returns 1 if handled, 0 if not ours, -1 on a bad value (printed). */
int cli_prep_option(cli_prep_opts *o, int opt, const char *arg, const char *cmd);
/* The final recipe for a dataset layout (trim default: none for gsc, else abs; length from
 * duration × rate); returns -1 (printed) on a bad --trim. */
int cli_prep_finish(const cli_prep_opts *o, const char *layout, const char *cmd, mt_audio_prep *prep);

/* Cache key of a feature set: FNV-1a over the provenance text and the data listing (relative
 * paths, offsets, labels, split, file sizes and mtimes), so a changed file or config misses. */
uint64_t cli_features_key(const char *provenance_text, const mt_dataset *ds);

/* Print per-class split counts (text) to f. */
void cli_data_print_split(const mt_dataset *ds, FILE *f);

#endif
