/* Shared CLI helpers: errors, number parsing, JSON printing, progress bars. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

int cli_fail(const mt_err *e)
{
    fprintf(stderr, "materia: %s\n", (e && e->msg[0]) ? e->msg : "unknown error");
    return 1;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "materia %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'materia %s --help')\n", cmd);
    va_end(ap);
    return 2;
}

int cli_wants_help(const mt_cli_command *c, int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(c->help, stdout);
            return 1;
        }
    return 0;
}

int cli_parse_int(const char *s, long *out)
{
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

int cli_parse_double(const char *s, double *out)
{
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

int cli_parse_shape(const char *s, long *c, long *t)
{
    if (!s) return -1;
    char *end;
    errno = 0;
    long a = strtol(s, &end, 10);
    if (errno || (*end != 'x' && *end != 'X') || a <= 0) return -1;
    const char *q = end + 1;
    long b = strtol(q, &end, 10);
    if (errno || *end || b <= 0 || end == q) return -1;
    *c = a;
    *t = b;
    return 0;
}

void cli_print_json(cJSON *j)
{
    char *s = cJSON_Print(j);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
    cJSON_Delete(j);
}

int cli_quiet(void)
{
    const char *q = getenv("MATERIA_QUIET");
    return q && *q && strcmp(q, "0") != 0;
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_progress_init(cli_progress *p, const char *label)
{
    memset(p, 0, sizeof *p);
    p->label = label;
    p->t0 = cli_now();
    p->enabled = !cli_quiet() && isatty(STDERR_FILENO);
}

static void fmt_secs(char *b, size_t n, double s)
{
    if (!isfinite(s) || s < 0) snprintf(b, n, "--:--");
    else if (s < 3600) snprintf(b, n, "%02d:%02d", (int)s / 60, (int)s % 60);
    else snprintf(b, n, "%dh%02d", (int)s / 3600, ((int)s % 3600) / 60);
}

void cli_progress_cb(void *ctx, const char *stage, int64_t done, int64_t total)
{
    cli_progress *p = ctx;
    if (!p->enabled) return;
    double now = cli_now();
    if (done < total && now - p->last_draw < 0.1) return;
    p->last_draw = now;
    double el = now - p->t0, rate = el > 0 ? (double)done / el : 0;
    double eta = (rate > 0 && total > 0) ? (double)(total - done) / rate : NAN;
    int w = 28, fill = total > 0 ? (int)((double)w * (double)done / (double)total) : 0;
    char bar[64], e1[16], e2[16];
    for (int i = 0; i < w; i++) bar[i] = i < fill ? '#' : '.';
    bar[w] = 0;
    fmt_secs(e1, sizeof e1, el);
    fmt_secs(e2, sizeof e2, eta);
    fprintf(stderr, "\r%-12s [%s] %lld/%lld %.1f/s %s ETA %s   ", stage ? stage : p->label, bar,
            (long long)done, (long long)total, rate, e1, e2);
    fflush(stderr);
    p->drawn = 1;
}

void cli_progress_done(cli_progress *p)
{
    if (p->enabled && p->drawn) fputc('\n', stderr);
    p->drawn = 0;
}

int cli_mkdir_p(const char *dir)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0755) && errno != EEXIST) return -1;
            *p = '/';
        }
    return (mkdir(tmp, 0755) && errno != EEXIST) ? -1 : 0;
}
