/* raw: the waveform itself, one channel (for m5raw and the linear floor).
 * Optional decimation by averaging (decim, default 1: no decimation). */
#include <stdlib.h>

#include "frontend_impl.h"

typedef struct raw_state {
    double rate_hz;
    int decim;
} raw_state;

static mt_status raw_create(const mt_frontend_cfg *cfg, const cJSON *params, void **state, mt_err *err)
{
    if (cfg->channels > 1)
        return mt_err_set(err, MT_ERR_ARG, "raw has exactly 1 channel (asked for %d)", cfg->channels);
    if (params && cJSON_GetArraySize(params) > 0)
        return mt_err_set(err, MT_ERR_ARG, "raw takes no parameters (got '%s')", params->child->string);
    raw_state *s = malloc(sizeof *s);
    if (!s) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    s->rate_hz = cfg->rate_hz;
    s->decim = cfg->decim > 0 ? cfg->decim : 1;
    *state = s;
    return MT_OK;
}

static int raw_channels(const void *st) { (void)st; return 1; }
static int64_t raw_out_len(const void *st, int64_t n) { return n / ((const raw_state *)st)->decim; }
static double raw_out_rate(const void *st)
{
    const raw_state *s = st;
    return s->rate_hz / s->decim;
}

static mt_status raw_process(const void *st, const float *x, int64_t n, uint64_t utt, float *out,
                             mt_err *err)
{
    (void)utt;
    (void)err;
    mt_fe_decimate_mean(x, n, ((const raw_state *)st)->decim, out);
    return MT_OK;
}

static cJSON *raw_config(const void *st)
{
    const raw_state *s = st;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "frontend", "raw");
    cJSON_AddNumberToObject(j, "channels", 1);
    cJSON_AddNumberToObject(j, "rate_hz", s->rate_hz);
    cJSON_AddNumberToObject(j, "decim", s->decim);
    return j;
}

/* Streaming: stateless over whole frames (the common layer keeps the remainder). */
static int raw_stream_group(const void *st) { return ((const raw_state *)st)->decim; }
static mt_status raw_stream_create(const void *st, uint64_t utt, void **stream, mt_err *err)
{
    (void)utt;
    raw_state *s = malloc(sizeof *s);
    if (!s) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    *s = *(const raw_state *)st;
    *stream = s;
    return MT_OK;
}
static mt_status raw_stream_run(void *stream, const float *x, int64_t ngroups, float *out, int64_t ostride,
                                mt_err *err)
{
    (void)ostride; /* one channel */
    (void)err;
    const raw_state *s = stream;
    mt_fe_decimate_mean(x, ngroups * s->decim, s->decim, out);
    return MT_OK;
}

const mt_frontend_ops mt_fe_raw = {
    .name = "raw",
    .create = raw_create,
    .channels = raw_channels,
    .out_len = raw_out_len,
    .out_rate = raw_out_rate,
    .process = raw_process,
    .config = raw_config,
    .destroy = free,
    .stream_group = raw_stream_group,
    .stream_create = raw_stream_create,
    .stream_run = raw_stream_run,
    .stream_destroy = free,
};
