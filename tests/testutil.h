/* Shared test helpers (cmocka).  Tests run from the repository root.
 * MATERIA = path of the program under test; MT_SHARED = shared data folder (tests needing real
 * data call skip() when it is absent). */
#ifndef MATERIA_TESTUTIL_H
#define MATERIA_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka must come after the standard headers above. */
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Path under the shared folder into buf; returns 1 if it exists. */
static inline int tu_shared(char *buf, size_t n, const char *rel)
{
    const char *root = getenv("MT_SHARED");
    snprintf(buf, n, "%s/%s", root ? root : "../shared", rel);
    struct stat st;
    return stat(buf, &st) == 0;
}

/* A fresh temporary directory (mkdtemp) into buf. */
static inline void tu_tmpdir(char *buf, size_t n)
{
    snprintf(buf, n, "/tmp/materia-test-XXXXXX");
    if (!mkdtemp(buf)) fail_msg("mkdtemp failed");
}

/* Remove a directory tree. */
static inline void tu_rmrf(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", dir);
}

/* Run `$MATERIA args` through the shell; captures stdout (+stderr if merge) into a malloc'd
 * string *out (may be NULL) and returns the exit status. */
static inline int tu_run(const char *args, char **out, int merge)
{
    const char *prog = getenv("MATERIA");
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' %s%s", prog ? prog : "build/materia", args, merge ? " 2>&1" : " 2>/dev/null");
    FILE *p = popen(cmd, "r");
    if (!p) fail_msg("popen failed");
    size_t cap = 4096, len = 0;
    char *b = malloc(cap);
    size_t r;
    while ((r = fread(b + len, 1, cap - len - 1, p)) > 0) {
        len += r;
        if (cap - len < 1024) b = realloc(b, cap *= 2);
    }
    b[len] = 0;
    int st = pclose(p);
    if (out) *out = b;
    else free(b);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

#endif
