/* materia — progress reporting from long-running library calls.
 * The library never prints; it calls an optional callback with (stage, done, total).
 * Callbacks are invoked from the calling thread only (never from inside an OpenMP region). */
#ifndef MATERIA_PROGRESS_H
#define MATERIA_PROGRESS_H

#include <stdint.h>

typedef void (*mt_progress_fn)(void *ctx, const char *stage, int64_t done, int64_t total);

typedef struct mt_progress {
    mt_progress_fn fn; /* may be NULL */
    void *ctx;
} mt_progress;

static inline void mt_progress_report(const mt_progress *p, const char *stage, int64_t done,
                                      int64_t total)
{
    if (p && p->fn) p->fn(p->ctx, stage, done, total);
}

#endif
