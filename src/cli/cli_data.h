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

/* Print per-class split counts (text) to f. */
void cli_data_print_split(const mt_dataset *ds, FILE *f);

#endif
