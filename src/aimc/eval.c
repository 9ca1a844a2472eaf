/* Accuracy of a whole model on the simulated chip over repeats: program → set_time → evaluate,
 * each repeat from its own streams (docs/aimc.md "PCM evaluation"). */
#include <string.h>

#include "aimc_impl.h"

void mt_aimc_eval_opts_default(mt_aimc_eval_opts *o)
{
    memset(o, 0, sizeof *o);
    mt_aimc_params_default(&o->params);
    o->t_inf = 3600.0;
    o->repeats = 10;
    o->seed = 0;
    o->split = MT_SPLIT_TEST;
    o->batch = 32;
}

mt_status mt_aimc_evaluate(mt_model *m, const mt_features *f, const mt_aimc_eval_opts *o,
                           double *acc, double *f1, mt_err *err)
{
    if (o->repeats < 1) return mt_err_set(err, MT_ERR_ARG, "aimc eval: repeats must be >= 1, got %d", o->repeats);
    if (!(o->t_inf >= 0 && o->t_inf < 1e300))
        return mt_err_set(err, MT_ERR_ARG, "aimc eval: inference time must be finite and >= 0 s, got %g", o->t_inf);
    mt_status st = mt_aimc_params_check(&o->params, err);
    if (st) return st;
    const mt_nn_hooks saved = m->hooks;
    const uint64_t fid = m->forward_id;
    for (int r = 0; r < o->repeats; r++) {
        /* three independent streams per repeat: programming, time (drift/read/GDC), MVMs */
        uint64_t sp = aimc_stream(0xE7A1, o->seed, (uint64_t)(3 * r));
        uint64_t stime = aimc_stream(0xE7A1, o->seed, (uint64_t)(3 * r + 1));
        uint64_t smvm = aimc_stream(0xE7A1, o->seed, (uint64_t)(3 * r + 2));
        mt_aimc_chip *chip = NULL;
        st = mt_aimc_chip_program(&chip, m, &o->params, o->input_ranges, sp, err);
        if (!st) st = mt_aimc_chip_set_time(chip, o->t_inf, stime, err);
        if (st) {
            mt_aimc_chip_free(chip);
            return mt_err_prefix(err, st, "repeat %d", r + 1);
        }
        mt_aimc_chip_set_mvm_seed(chip, smvm);
        memset(&m->hooks, 0, sizeof m->hooks);
        m->hooks.ctx = chip;
        m->hooks.matmul = mt_aimc_chip_matmul;
        m->forward_id = 0; /* MVM noise streams depend on (layer, sample, forward): same per repeat */
        mt_eval_result ev;
        st = mt_model_evaluate(m, f, o->split, o->batch, &ev, err);
        m->hooks = saved;
        m->forward_id = fid;
        mt_aimc_chip_free(chip);
        if (st) return mt_err_prefix(err, st, "repeat %d", r + 1);
        acc[r] = ev.accuracy;
        if (f1) f1[r] = ev.weighted_f1;
        if (o->last && r == o->repeats - 1) {
            mt_eval_result_free(o->last);
            *o->last = ev; /* handed over */
        } else {
            mt_eval_result_free(&ev);
        }
        mt_progress_report(&o->progress, "repeat", r + 1, o->repeats);
    }
    return MT_OK;
}
