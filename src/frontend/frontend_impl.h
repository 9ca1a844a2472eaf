/* Private: the table each front-end implements.  One file per front-end (src/frontend/fe_*.c
 * or its own module), each defining `const mt_frontend_ops mt_fe_<name>`; registry.c lists them. */
#ifndef MATERIA_FRONTEND_IMPL_H
#define MATERIA_FRONTEND_IMPL_H

#include <cjson/cJSON.h>

#include "materia/frontend.h"

typedef struct mt_frontend_ops {
    const char *name;
    /* Build immutable state from the common config and the parsed params (may be NULL).
     * Unknown keys in params must be rejected with a clear message. */
    mt_status (*create)(const mt_frontend_cfg *cfg, const cJSON *params, void **state, mt_err *err);
    int (*channels)(const void *state);
    int64_t (*out_len)(const void *state, int64_t n);
    double (*out_rate)(const void *state);
    mt_status (*process)(const void *state, const float *x, int64_t n, uint64_t utt, float *out,
                         mt_err *err);
    /* Resolved config as a JSON object (caller deletes). */
    cJSON *(*config)(const void *state);
    void (*destroy)(void *state);
} mt_frontend_ops;

/* Helper for front-ends: average every `decim` samples of x [n] into y [n / decim]. */
void mt_fe_decimate_mean(const float *x, int64_t n, int decim, float *y);

#endif
