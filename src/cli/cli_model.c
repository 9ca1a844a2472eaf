/* Front-end and audio recipe of a trained model (see cli_model.h). */
#include "cli_model.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli_data.h"

mt_status cli_frontend_from_meta(const char *model_path, const char *meta, mt_frontend **fe,
                                 mt_audio_prep *prep, char ***names, int *nnames, mt_err *err)
{
    *fe = NULL;
    *names = NULL;
    *nnames = 0;
    cJSON *j = meta ? cJSON_Parse(meta) : NULL;
    const cJSON *fc = j ? cJSON_GetObjectItemCaseSensitive(j, "features_config") : NULL;
    const cJSON *fa = fc ? cJSON_GetObjectItemCaseSensitive(fc, "frontend_args") : NULL;
    const cJSON *cn = j ? cJSON_GetObjectItemCaseSensitive(j, "class_names") : NULL;
    mt_status s = MT_OK;
    if (!cJSON_IsObject(fa) || cli_prep_from_provenance(fc, prep) || !cJSON_IsArray(cn))
        s = mt_err_set(err, MT_ERR_FORMAT,
                       "%s: the model does not record its front-end and classes (train it on features made by "
                       "this version of `materia features` or `materia run`)", model_path);
    if (!s) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(fa, "name");
        const cJSON *params = cJSON_GetObjectItemCaseSensitive(fa, "params");
        char *ptext = cJSON_IsObject(params) ? cJSON_PrintUnformatted(params) : NULL;
        mt_frontend_cfg cfg = {
            .name = cJSON_IsString(name) ? name->valuestring : "",
            .channels = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(fa, "channels")),
            .seed = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(fa, "seed")),
            .decim = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(fa, "decim")),
            .rate_hz = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(fa, "rate_hz")),
            .params_json = ptext,
        };
        s = mt_frontend_create(&cfg, fe, err);
        free(ptext);
    }
    if (!s) {
        *nnames = cJSON_GetArraySize(cn);
        *names = calloc((size_t)(*nnames > 0 ? *nnames : 1), sizeof **names);
        for (int i = 0; i < *nnames; i++) {
            const cJSON *it = cJSON_GetArrayItem(cn, i);
            (*names)[i] = strdup(cJSON_IsString(it) ? it->valuestring : "?");
        }
    }
    cJSON_Delete(j);
    return s;
}

mt_status cli_model_check_shape(const char *model_path, const mt_model *m, const mt_frontend *fe,
                                const mt_audio_prep *prep, int nnames, mt_err *err)
{
    if (nnames != m->nclasses || mt_frontend_channels(fe) != m->in_c || mt_frontend_out_len(fe, prep->length) != m->in_t)
        return mt_err_set(err, MT_ERR_FORMAT,
                          "%s: recorded front-end gives [%d, %lld] features, the model expects [%lld, %lld]",
                          model_path, mt_frontend_channels(fe), (long long)mt_frontend_out_len(fe, prep->length),
                          (long long)m->in_c, (long long)m->in_t);
    return MT_OK;
}

void cli_names_free(char **names, int n)
{
    for (int k = 0; k < n; k++) free(names[k]);
    free(names);
}
