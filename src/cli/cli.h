/* materia CLI — the thin layer: parse flags, call the library, print text or JSON, exit code.
 *
 * Each sub-command lives in src/cli/cmd_<name>.c and defines one
 *     const mt_cli_command mt_cmd_<name> = { "name", "one-line summary", help_text, run };
 * main.c lists them all as weak references, so a command is simply absent until its file exists.
 * help_text is the full --help text (usage, options, an example); `materia help --markdown`
 * prints every command's help as docs/cli.md, so the docs come from the same source.
 */
#ifndef MATERIA_CLI_H
#define MATERIA_CLI_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>

#include "materia/error.h"

typedef struct mt_cli_command {
    const char *name;
    const char *summary;
    const char *help;
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
} mt_cli_command;

/* Print "materia: <msg>" on stderr; returns exit status 1. */
int cli_fail(const mt_err *e);
/* printf-style failure; returns exit status 2 for usage errors. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True if argv holds -h or --help; prints help to stdout. */
int cli_wants_help(const mt_cli_command *c, int argc, char **argv);

/* Strict number parsing; return 0 on success. */
int cli_parse_int(const char *s, long *out);
int cli_parse_double(const char *s, double *out);
/* "64x1250" -> C=64, T=1250. */
int cli_parse_shape(const char *s, long *c, long *t);

/* Print a cJSON tree (pretty) to stdout and free it. */
void cli_print_json(cJSON *j);

/* Global CLI options (parsed by main before the command): quiet, forced progress. */
typedef struct cli_opts {
    int quiet;
} cli_opts;
int cli_quiet(void);

/* Progress bar on stderr with rate and ETA; silent when stderr is not a terminal or --quiet.
 * Usable as an mt_progress_fn callback (see materia/progress.h). */
typedef struct cli_progress {
    const char *label;
    double t0, last_draw;
    int enabled;
    int drawn;
} cli_progress;
void cli_progress_init(cli_progress *p, const char *label);
void cli_progress_cb(void *ctx, const char *stage, int64_t done, int64_t total);
void cli_progress_done(cli_progress *p);

double cli_now(void); /* monotonic seconds */
/* mkdir -p: create dir and its parents (0755); 0 or -1 with errno set. */
int cli_mkdir_p(const char *dir);

#endif
