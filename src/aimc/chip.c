/* A whole model on the simulated chip: one analog matrix per analog conv/linear layer, used
 * through the nn engine's matmul hook (materia/nn.h).  BatchNorm, activations, pooling and the
 * bias stay digital (the engine computes them), as on the HERMES chip. */
#include <stdlib.h>

#include "aimc_impl.h"

struct mt_aimc_chip {
    int nlayers;
    mt_aimc_matrix **mats; /* [nlayers], NULL for digital layers */
    uint64_t mvm_seed;
};

void mt_aimc_chip_free(mt_aimc_chip *c)
{
    if (!c) return;
    for (int l = 0; l < c->nlayers; l++) mt_aimc_matrix_free(c->mats[l]);
    free(c->mats);
    free(c);
}

static int is_analog(const mt_layer *L)
{
    return (L->type == MT_LAYER_CONV || L->type == MT_LAYER_LINEAR) && L->analog && L->w;
}

/* Matrix shape of an analog layer: conv w [out_c, in_c, k] is [out_c, in_c·k] (im2col row
 * c·k + j); linear w [out, in_c·in_t]. */
static void layer_shape(const mt_layer *L, int64_t *outs, int64_t *ins)
{
    if (L->type == MT_LAYER_CONV) {
        *outs = L->out_c;
        *ins = L->in_c * L->k;
    } else {
        *outs = L->out_c * L->out_t;
        *ins = L->in_c * L->in_t;
    }
}

mt_status mt_aimc_chip_program(mt_aimc_chip **out, const mt_model *m, const mt_aimc_params *p,
                               const float *input_ranges, uint64_t seed, mt_err *err)
{
    *out = NULL;
    if (!m || m->nlayers < 1) return mt_err_set(err, MT_ERR_ARG, "aimc: no model");
    mt_aimc_chip *c = calloc(1, sizeof *c);
    if (!c || !(c->mats = calloc((size_t)m->nlayers, sizeof *c->mats))) {
        free(c);
        return mt_err_set(err, MT_ERR_NOMEM, "aimc: out of memory");
    }
    c->nlayers = m->nlayers;
    c->mvm_seed = seed ^ 0x5DEECE66DULL;
    int nan = 0;
    for (int l = 0; l < m->nlayers; l++) {
        const mt_layer *L = &m->layers[l];
        if (!is_analog(L)) continue;
        nan++;
        int64_t outs, ins;
        layer_shape(L, &outs, &ins);
        if (outs * ins != L->nw) {
            mt_aimc_chip_free(c);
            return mt_err_set(err, MT_ERR_INTERNAL, "aimc: layer %d (%s) has %lld weights, expected %lldx%lld",
                              l, L->name, (long long)L->nw, (long long)outs, (long long)ins);
        }
        /* Matrix l gets its own seed so that adding a layer does not reshuffle the others. */
        mt_rng r;
        mt_rng_init(&r, seed, aimc_stream(AIMC_STREAM_PROGRAM, 0xC41Bu, (uint64_t)l));
        mt_status st = mt_aimc_matrix_program(&c->mats[l], L->w, outs, ins, p, mt_rng_u64(&r), err);
        if (st) {
            mt_aimc_chip_free(c);
            return mt_err_prefix(err, st, "layer %d (%s)", l, L->name);
        }
        if (input_ranges) mt_aimc_matrix_set_input_range(c->mats[l], input_ranges[l]);
    }
    if (!nan) {
        mt_aimc_chip_free(c);
        return mt_err_set(err, MT_ERR_ARG, "aimc: the model has no analog layer");
    }
    *out = c;
    return MT_OK;
}

mt_status mt_aimc_chip_set_time(mt_aimc_chip *c, double t_inf, uint64_t seed, mt_err *err)
{
    for (int l = 0; l < c->nlayers; l++) {
        if (!c->mats[l]) continue;
        mt_rng r;
        mt_rng_init(&r, seed, aimc_stream(AIMC_STREAM_READ, 0xC41Bu, (uint64_t)l));
        mt_status st = mt_aimc_matrix_set_time(c->mats[l], t_inf, mt_rng_u64(&r), err);
        if (st) return mt_err_prefix(err, st, "layer %d", l);
    }
    return MT_OK;
}

void mt_aimc_chip_set_mvm_seed(mt_aimc_chip *c, uint64_t seed) { c->mvm_seed = seed; }

const mt_aimc_matrix *mt_aimc_chip_matrix(const mt_aimc_chip *c, int layer)
{
    return (layer >= 0 && layer < c->nlayers) ? c->mats[layer] : NULL;
}

/* mt_matmul_fn: y[outs, cols] = chip layer · x[rows, cols].  The weights passed by the engine
 * are ignored: the programmed conductances are what the chip computes with. */
mt_status mt_aimc_chip_matmul(void *ctx, const mt_matmul_call *call, const float *w,
                              const float *x, int64_t rows, int64_t cols, int64_t outs, float *y)
{
    (void)w;
    const mt_aimc_chip *c = ctx;
    if (!c || !call || call->layer < 0 || call->layer >= c->nlayers || !c->mats[call->layer])
        return MT_ERR_STATE;
    const mt_aimc_matrix *m = c->mats[call->layer];
    if (m->ins != rows || m->outs != outs) return MT_ERR_STATE;
    mt_rng r;
    mt_rng_init(&r, c->mvm_seed,
                aimc_stream(AIMC_STREAM_MVM, ((uint64_t)call->layer << 40) ^ (uint64_t)(call->sample + 1),
                            call->forward_id));
    return mt_aimc_matrix_mvm(m, x, cols, y, &r, NULL);
}
