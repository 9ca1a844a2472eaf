/* Shared by the commands that run a trained model on audio (classify, listen): rebuild the
 * front-end and the audio recipe recorded in a model's metadata. */
#ifndef MATERIA_CLI_MODEL_H
#define MATERIA_CLI_MODEL_H

#include "materia/audio.h"
#include "materia/error.h"
#include "materia/frontend.h"
#include "materia/nn.h"

/* From the metadata text `meta` of the model at model_path (mt_model_load's *meta): the front-end
 * (features_config.frontend_args: name, channels, seed, decim, rate_hz, params — the RNPU
 * device instance and control voltages follow from the seed), the audio recipe
 * (features_config.audio) and the class names (*names[*nnames], free with cli_names_free).
 * MT_ERR_FORMAT naming the file when the model does not record them. */
mt_status cli_frontend_from_meta(const char *model_path, const char *meta, mt_frontend **fe,
                                 mt_audio_prep *prep, char ***names, int *nnames, mt_err *err);
/* The rebuilt front-end must produce the model's input [in_c, in_t] from prep->length samples
 * and the model must have nnames outputs; MT_ERR_FORMAT naming the file otherwise. */
mt_status cli_model_check_shape(const char *model_path, const mt_model *m, const mt_frontend *fe,
                                const mt_audio_prep *prep, int nnames, mt_err *err);
void cli_names_free(char **names, int n);

#endif
