/* Front-end registry and the common wrapper. */
#include <stdlib.h>
#include <string.h>

#include "frontend_impl.h"

/* One line per front-end. */
extern const mt_frontend_ops mt_fe_raw;
extern const mt_frontend_ops mt_fe_rnpu;
extern const mt_frontend_ops mt_fe_lowpass;
extern const mt_frontend_ops mt_fe_nlowpass;
extern const mt_frontend_ops mt_fe_gammatone;
extern const mt_frontend_ops mt_fe_gammatone_tanh;
extern const mt_frontend_ops mt_fe_esn;
extern const mt_frontend_ops mt_fe_logmel;
extern const mt_frontend_ops mt_fe_mfcc;

static const mt_frontend_ops *const registry[] = {
    &mt_fe_raw,
    &mt_fe_rnpu,
    &mt_fe_lowpass,
    &mt_fe_nlowpass,
    &mt_fe_gammatone,
    &mt_fe_gammatone_tanh,
    &mt_fe_esn,
    &mt_fe_logmel,
    &mt_fe_mfcc,
};
#define NREG ((int)(sizeof registry / sizeof registry[0]))

struct mt_frontend {
    const mt_frontend_ops *ops;
    void *state;
    mt_frontend_cfg cfg;
};

int mt_frontend_count(void) { return NREG; }

const char *mt_frontend_name_at(int i) { return (i >= 0 && i < NREG) ? registry[i]->name : NULL; }

mt_status mt_frontend_create(const mt_frontend_cfg *cfg, mt_frontend **out, mt_err *err)
{
    *out = NULL;
    if (!cfg || !cfg->name) return mt_err_set(err, MT_ERR_ARG, "front-end name missing");
    const mt_frontend_ops *ops = NULL;
    for (int i = 0; i < NREG; i++)
        if (strcmp(registry[i]->name, cfg->name) == 0) ops = registry[i];
    if (!ops) {
        char list[512] = "";
        for (int i = 0; i < NREG; i++) {
            strncat(list, registry[i]->name, sizeof list - strlen(list) - 1);
            if (i + 1 < NREG) strncat(list, ", ", sizeof list - strlen(list) - 1);
        }
        return mt_err_set(err, MT_ERR_ARG, "unknown front-end '%s' (known: %s)", cfg->name, list);
    }
    mt_frontend_cfg c = *cfg;
    if (c.rate_hz <= 0) c.rate_hz = 12500.0;
    if (c.decim < 0) return mt_err_set(err, MT_ERR_ARG, "decimation must be positive");
    if (c.channels < 0) return mt_err_set(err, MT_ERR_ARG, "channels must be positive");
    cJSON *params = NULL;
    if (cfg->params_json && *cfg->params_json) {
        params = cJSON_Parse(cfg->params_json);
        if (!params || !cJSON_IsObject(params)) {
            cJSON_Delete(params);
            return mt_err_set(err, MT_ERR_ARG, "front-end '%s': parameters are not a JSON object",
                              cfg->name);
        }
    }
    mt_frontend *fe = calloc(1, sizeof *fe);
    if (!fe) {
        cJSON_Delete(params);
        return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    }
    fe->ops = ops;
    fe->cfg = c;
    fe->cfg.params_json = NULL; /* not kept: resolved config is rebuilt by ops->config */
    mt_status s = ops->create(&c, params, &fe->state, err);
    cJSON_Delete(params);
    if (s) {
        free(fe);
        return mt_err_prefix(err, s, "front-end '%s'", cfg->name);
    }
    *out = fe;
    return MT_OK;
}

void mt_frontend_free(mt_frontend *fe)
{
    if (!fe) return;
    if (fe->ops->destroy) fe->ops->destroy(fe->state);
    free(fe);
}

const mt_frontend_ops *mt_fe_ops_of(const mt_frontend *fe) { return fe->ops; }
const void *mt_fe_state_of(const mt_frontend *fe) { return fe->state; }

const char *mt_frontend_name(const mt_frontend *fe) { return fe->ops->name; }
int mt_frontend_channels(const mt_frontend *fe) { return fe->ops->channels(fe->state); }
int64_t mt_frontend_out_len(const mt_frontend *fe, int64_t n) { return fe->ops->out_len(fe->state, n); }
double mt_frontend_out_rate(const mt_frontend *fe) { return fe->ops->out_rate(fe->state); }

mt_status mt_frontend_process(const mt_frontend *fe, const float *x, int64_t n, uint64_t utt,
                              float *out, mt_err *err)
{
    if (n <= 0) return mt_err_set(err, MT_ERR_DATA, "empty audio");
    for (int64_t i = 0; i < n; i++)
        if (!(x[i] == x[i]) || x[i] > 1e30f || x[i] < -1e30f)
            return mt_err_set(err, MT_ERR_DATA, "audio sample %lld is not finite", (long long)i);
    return fe->ops->process(fe->state, x, n, utt, out, err);
}

char *mt_frontend_config_json(const mt_frontend *fe)
{
    cJSON *j = fe->ops->config(fe->state);
    if (!j) return NULL;
    cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "frontend");
    if (!name) cJSON_AddStringToObject(j, "frontend", fe->ops->name);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

void mt_fe_decimate_mean(const float *x, int64_t n, int decim, float *y)
{
    int64_t m = n / decim;
    for (int64_t i = 0; i < m; i++) {
        double acc = 0;
        for (int k = 0; k < decim; k++) acc += x[i * decim + k];
        y[i] = (float)(acc / decim);
    }
}
