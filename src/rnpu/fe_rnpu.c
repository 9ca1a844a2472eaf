/* The "rnpu" front-end: audio in volts at 12.5 kS/s → [C, n/10] features at 1,250 S/s through the
 * simulated RNPU circuit and the paper's measurement chain (src/rnpu/chain.c).  Options come as
 * JSON (see mt_rnpu_options_parse / docs/rnpu-model.md); unknown keys are rejected. */
#include <stdlib.h>

#include "frontend/frontend_impl.h"
#include "materia/rnpu.h"

typedef struct fe_state {
    mt_rnpu_fx *fx;
    mt_rnpu_params p;
    mt_rnpu_chain c;
    uint64_t seed;
} fe_state;

static mt_status fe_create(const mt_frontend_cfg *cfg, const cJSON *params, void **state, mt_err *err)
{
    fe_state *s = calloc(1, sizeof *s);
    if (!s) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    mt_rnpu_params_default(&s->p);
    mt_rnpu_chain_default(&s->c);
    if (cfg->channels > 0) s->c.channels = cfg->channels;
    if (cfg->rate_hz > 0) s->c.rate_hz = cfg->rate_hz;
    if (cfg->decim > 0) s->c.decim = cfg->decim;
    s->seed = cfg->seed;
    if (params) {
        char *txt = cJSON_PrintUnformatted(params);
        if (!txt) {
            free(s);
            return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
        }
        mt_status st = mt_rnpu_options_parse(txt, &s->p, &s->c, err);
        free(txt);
        if (st) {
            free(s);
            return st;
        }
    }
    mt_status st = mt_rnpu_fx_create(&s->p, &s->c, s->seed, &s->fx, err);
    if (st) {
        free(s);
        return st;
    }
    *state = s;
    return MT_OK;
}

static int fe_channels(const void *st) { return ((const fe_state *)st)->c.channels; }
static int64_t fe_out_len(const void *st, int64_t n) { return mt_rnpu_fx_out_len(((const fe_state *)st)->fx, n); }
static double fe_out_rate(const void *st)
{
    const fe_state *s = st;
    return s->c.rate_hz / s->c.decim;
}

static mt_status fe_process(const void *st, const float *x, int64_t n, uint64_t utt, float *out, mt_err *err)
{
    return mt_rnpu_fx_process(((const fe_state *)st)->fx, x, n, utt, out, 0, err);
}

static cJSON *fe_config(const void *st)
{
    const fe_state *s = st;
    char *t = mt_rnpu_options_json(&s->p, &s->c);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "frontend", "rnpu");
    cJSON_AddNumberToObject(j, "channels", s->c.channels);
    cJSON_AddNumberToObject(j, "seed", (double)s->seed);
    cJSON_AddNumberToObject(j, "rate_hz", s->c.rate_hz);
    cJSON_AddNumberToObject(j, "decim", s->c.decim);
    if (t) {
        cJSON *o = cJSON_Parse(t);
        if (o) cJSON_AddItemToObject(j, "params", o);
        free(t);
    }
    char *dj = mt_rnpu_describe_json(mt_rnpu_fx_device(s->fx, 0));
    if (dj) {
        cJSON *o = cJSON_Parse(dj);
        if (o) cJSON_AddItemToObject(j, "device", o);
        free(dj);
    }
    const double *vc = mt_rnpu_fx_controls(s->fx);
    cJSON_AddItemToObject(j, "controls_v", cJSON_CreateDoubleArray(vc, s->c.channels * MT_RNPU_NC));
    return j;
}

/* Streaming: the chain's stream (src/rnpu/chain.c), which never removes the mean; the common
 * layer (src/frontend/stream.c) hands it whole ADC groups. */
typedef struct fe_stream {
    mt_rnpu_fx_stream *s;
    int decim;
} fe_stream;

static int fe_stream_group(const void *st) { return ((const fe_state *)st)->c.decim; }
static int fe_stream_mean_removal(const void *st) { return ((const fe_state *)st)->c.mean_removal; }
static mt_status fe_stream_create(const void *st, uint64_t utt, void **stream, mt_err *err)
{
    const fe_state *s = st;
    fe_stream *f = calloc(1, sizeof *f);
    if (!f) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    f->decim = s->c.decim;
    mt_status r = mt_rnpu_fx_stream_create(s->fx, utt, 0, &f->s, err);
    if (r) {
        free(f);
        return r;
    }
    *stream = f;
    return MT_OK;
}
static mt_status fe_stream_run(void *stream, const float *x, int64_t ngroups, float *out, int64_t ostride,
                               mt_err *err)
{
    fe_stream *f = stream;
    int64_t nout = 0;
    mt_status r = mt_rnpu_fx_stream_push(f->s, x, ngroups * f->decim, out, ostride, &nout, err);
    if (!r && nout != ngroups)
        return mt_err_set(err, MT_ERR_INTERNAL, "RNPU stream gave %lld frames for %lld groups",
                          (long long)nout, (long long)ngroups);
    return r;
}
static void fe_stream_destroy(void *stream)
{
    fe_stream *f = stream;
    if (!f) return;
    mt_rnpu_fx_stream_free(f->s);
    free(f);
}

static void fe_destroy(void *st)
{
    fe_state *s = st;
    if (!s) return;
    mt_rnpu_fx_free(s->fx);
    free(s);
}

const mt_frontend_ops mt_fe_rnpu = {
    .name = "rnpu",
    .create = fe_create,
    .channels = fe_channels,
    .out_len = fe_out_len,
    .out_rate = fe_out_rate,
    .process = fe_process,
    .config = fe_config,
    .destroy = fe_destroy,
    .stream_group = fe_stream_group,
    .stream_mean_removal = fe_stream_mean_removal,
    .stream_create = fe_stream_create,
    .stream_run = fe_stream_run,
    .stream_destroy = fe_stream_destroy,
};
