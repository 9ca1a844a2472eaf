/* Models: build from an architecture string, parameter arenas, lazily allocated activations,
 * forward/backward orchestration, the NLL loss and the info table.
 *
 * Execution plan (plan_steps): layers run one by one, except for these fused steps —
 *   conv → bn → [tanh|relu|logsigmoid] → maxpool   nn_convblock_* (the conv epilogue computes
 *                                                   bias, BN moments and window extremes)
 *   [bn →] tanh|relu|logsigmoid → maxpool           nn_fused_pool_*
 *   bn → maxpool                                    nn_fused_pool_* (identity activation)
 * Max-pooling commutes with the per-channel affine map of BN (taking the min where γ < 0) and
 * with non-decreasing activations, so the fused steps evaluate the activation on pooled values
 * only and never write the full-resolution intermediates.  A conv followed by a BN (not in a
 * conv block) still hands the BN its moments from the conv epilogue (nn_act.mom).
 * m->reference = 1 runs every layer separately on the naive kernels.
 */
#include <cblas.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "materia/rng.h"
#include "nn/nn_impl.h"

/* ---------------------------------------------------------------------------------------- */
/* Build / free                                                                              */
/* ---------------------------------------------------------------------------------------- */

static void work_free(struct mt_nn_work *w, int nlayers)
{
    if (!w) return;
    if (w->act)
        for (int i = 0; i < nlayers; i++) {
            free(w->act[i].y);
            free(w->act[i].save);
            free(w->act[i].idx);
            free(w->act[i].wperm);
            free(w->act[i].mom);
            free(w->act[i].pext);
            free(w->act[i].gz);
        }
    free(w->act);
    free(w->g0);
    free(w->g1);
    free(w->dx);
    free(w->scratch);
    free(w->partial);
    free(w->xt);
    free(w->sfirst);
    free(w->slen);
    free(w);
}

void mt_model_free(mt_model *m)
{
    if (!m) return;
    work_free(m->work, m->nlayers);
    free(m->layers);
    free(m->params);
    free(m->grads);
    free(m->buffers);
    free(m->arch);
    memset(m, 0, sizeof *m);
}

void mt_model_init_params(mt_model *m, uint64_t seed)
{
    for (int i = 0; i < m->nlayers; i++) {
        mt_layer *L = &m->layers[i];
        mt_rng r;
        mt_rng_init(&r, seed, 0x1000 + (uint64_t)i);
        if (L->type == MT_LAYER_CONV || L->type == MT_LAYER_LINEAR) {
            /* PyTorch: kaiming_uniform_(a=√5) -> U(±1/√fan_in); bias U(±1/√fan_in) */
            int64_t fan_in = L->type == MT_LAYER_CONV ? L->in_c * L->k : L->in_c * L->in_t;
            double bound = 1.0 / sqrt((double)fan_in);
            for (int64_t j = 0; j < L->nw; j++) L->w[j] = (float)mt_rng_range(&r, -bound, bound);
            for (int64_t j = 0; j < L->nb; j++) L->b[j] = (float)mt_rng_range(&r, -bound, bound);
        } else if (L->type == MT_LAYER_BN) {
            for (int64_t j = 0; j < L->nw; j++) {
                L->w[j] = 1.0f;
                L->b[j] = 0.0f;
                L->running_mean[j] = 0.0f;
                L->running_var[j] = 1.0f;
            }
            L->num_batches_tracked = 0;
        }
    }
}

mt_status mt_model_build(mt_model *m, const char *arch, int64_t in_c, int64_t in_t, int nclasses,
                         uint64_t seed, mt_err *err)
{
    memset(m, 0, sizeof *m);
    if (in_c < 1 || in_t < 1 || in_c > (1 << 20) || in_t > (1 << 26))
        return mt_err_set(err, MT_ERR_ARG, "input shape %lldx%lld out of range", (long long)in_c,
                          (long long)in_t);
    if (!arch) return mt_err_set(err, MT_ERR_ARG, "no architecture string");
    char *dup = strdup(arch);
    if (!dup) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    /* tokens */
    int ntok = 0, cap = 16;
    char **tok = malloc((size_t)cap * sizeof *tok);
    mt_status s = MT_OK;
    for (char *sv, *t = strtok_r(dup, ", \t\n", &sv); t && tok; t = strtok_r(NULL, ", \t\n", &sv)) {
        if (ntok == cap) {
            char **nt = realloc(tok, (size_t)(cap *= 2) * sizeof *tok);
            if (!nt) {
                free(tok);
                tok = NULL;
                break;
            }
            tok = nt;
        }
        tok[ntok++] = t;
    }
    if (!tok) {
        free(dup);
        return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    }
    if (ntok == 0) s = mt_err_set(err, MT_ERR_ARG, "empty architecture string");
    if (!s && ntok > 1000) s = mt_err_set(err, MT_ERR_ARG, "architecture has too many layers (%d)", ntok);
    if (!s) {
        m->layers = calloc((size_t)ntok, sizeof *m->layers);
        if (!m->layers) s = mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    }
    int64_t c = in_c, t = in_t;
    int ncv = 0, nfc = 0, nbn = 0;
    for (int i = 0; !s && i < ntok; i++) {
        mt_layer *L = &m->layers[i];
        /* a bare "fc" (the classifier) may only be followed by element-wise layers */
        int last = 1;
        for (int k = i + 1; k < ntok; k++)
            if (strcmp(tok[k], "tanh") && strcmp(tok[k], "relu") && strcmp(tok[k], "swish") &&
                strcmp(tok[k], "silu") && strcmp(tok[k], "logsigmoid") && strncmp(tok[k], "dropout", 7))
                last = 0;
        s = nn_parse_token(tok[i], L, c, t, nclasses, last, err);
        if (s) {
            mt_err_prefix(err, s, "layer %d (input %lldx%lld)", i, (long long)c, (long long)t);
            break;
        }
        if (L->type == MT_LAYER_CONV) snprintf(L->name, sizeof L->name, "conv%d", ncv++);
        if (L->type == MT_LAYER_LINEAR) snprintf(L->name, sizeof L->name, "fc%d", nfc++);
        if (L->type == MT_LAYER_BN) snprintf(L->name, sizeof L->name, "bn%d", nbn++);
        c = L->out_c;
        t = L->out_t;
        m->nlayers = i + 1;
    }
    free(tok);
    free(dup);
    if (s) {
        mt_model_free(m);
        return s;
    }
    m->in_c = in_c;
    m->in_t = in_t;
    m->nclasses = (int)(c * t);
    /* arenas */
    size_t alen = 1;
    for (int i = 0; i < m->nlayers; i++) {
        const mt_layer *L = &m->layers[i];
        m->nparams += L->nw + L->nb;
        if (L->type == MT_LAYER_BN) m->nbuffers += 2 * L->in_c;
        m->macs += L->macs;
        m->bn_ops += L->bn_ops;
        alen += strlen(L->spec) + 1;
    }
    m->params = calloc((size_t)m->nparams + 1, sizeof(float));
    m->grads = calloc((size_t)m->nparams + 1, sizeof(float));
    m->buffers = calloc((size_t)m->nbuffers + 1, sizeof(float));
    m->arch = malloc(alen);
    if (!m->params || !m->grads || !m->buffers || !m->arch) {
        mt_model_free(m);
        return mt_err_set(err, MT_ERR_NOMEM, "out of memory for %lld parameters",
                          (long long)m->nparams);
    }
    int64_t po = 0, bo = 0;
    size_t ao = 0;
    for (int i = 0; i < m->nlayers; i++) {
        mt_layer *L = &m->layers[i];
        if (L->nw) {
            L->w = m->params + po;
            L->dw = m->grads + po;
            po += L->nw;
            L->b = m->params + po;
            L->db = m->grads + po;
            po += L->nb;
        }
        if (L->type == MT_LAYER_BN) {
            L->running_mean = m->buffers + bo;
            L->running_var = m->buffers + bo + L->in_c;
            bo += 2 * L->in_c;
        }
        ao += (size_t)snprintf(m->arch + ao, alen - ao, "%s%s", i ? "," : "", L->spec);
    }
    m->seed = seed;
    mt_model_init_params(m, seed);
    /* GEMMs are called from inside our own OpenMP regions: keep OpenBLAS single-threaded. */
    openblas_set_num_threads(1);
    return MT_OK;
}

mt_status mt_model_copy_weights(mt_model *dst, const mt_model *src, mt_err *err)
{
    if (strcmp(dst->arch, src->arch) != 0 || dst->in_c != src->in_c || dst->in_t != src->in_t)
        return mt_err_set(err, MT_ERR_ARG, "cannot copy weights between different architectures");
    memcpy(dst->params, src->params, (size_t)src->nparams * sizeof(float));
    memcpy(dst->buffers, src->buffers, (size_t)src->nbuffers * sizeof(float));
    for (int i = 0; i < src->nlayers; i++)
        dst->layers[i].num_batches_tracked = src->layers[i].num_batches_tracked;
    return MT_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Work buffers                                                                              */
/* ---------------------------------------------------------------------------------------- */

static int monotone(mt_layer_type t)
{
    return t == MT_LAYER_TANH || t == MT_LAYER_RELU || t == MT_LAYER_LOGSIGMOID;
}

/* Layer i is a conv whose output goes straight into a BatchNorm (moments fused, see nn_act.mom). */
static int conv_feeds_bn(const mt_model *m, int i)
{
    return !m->reference && m->layers[i].type == MT_LAYER_CONV && i + 1 < m->nlayers &&
           m->layers[i + 1].type == MT_LAYER_BN;
}

static void plan_steps(mt_model *m)
{
    struct mt_nn_work *w = m->work;
    const mt_layer *L = m->layers;
    int n = m->nlayers;
    w->nsteps = 0;
    for (int i = 0; i < n;) {
        int len = 1;
        if (!m->reference) {
            if (L[i].type == MT_LAYER_CONV && i + 2 < n && L[i + 1].type == MT_LAYER_BN &&
                L[i + 2].type == MT_LAYER_MAXPOOL)
                len = 3; /* conv block without activation */
            else if (L[i].type == MT_LAYER_CONV && i + 3 < n && L[i + 1].type == MT_LAYER_BN &&
                     monotone(L[i + 2].type) && L[i + 3].type == MT_LAYER_MAXPOOL)
                len = 4; /* conv block */
            else if (L[i].type == MT_LAYER_BN && i + 2 < n && monotone(L[i + 1].type) &&
                L[i + 2].type == MT_LAYER_MAXPOOL)
                len = 3;
            else if (L[i].type == MT_LAYER_BN && i + 1 < n && L[i + 1].type == MT_LAYER_MAXPOOL)
                len = 2;
            else if (monotone(L[i].type) && i + 1 < n && L[i + 1].type == MT_LAYER_MAXPOOL)
                len = 2;
        }
        w->sfirst[w->nsteps] = i;
        w->slen[w->nsteps] = len;
        w->nsteps++;
        i += len;
    }
}

#define ALLOC_OR_FAIL(p, count)                                                                 \
    do {                                                                                        \
        if (!(p)) {                                                                             \
            (p) = calloc((size_t)(count) + 1, sizeof *(p));                                     \
            if (!(p)) return mt_err_set(err, MT_ERR_NOMEM, "out of memory for activations");    \
        }                                                                                       \
    } while (0)

mt_status nn_work_ensure(mt_model *m, int64_t B, mt_err *err)
{
    struct mt_nn_work *w = m->work;
    int nt = omp_get_max_threads();
    if (nt < 1) nt = 1;
    if (w && (B > w->bcap || nt > w->nthreads)) {
        int64_t keep = w->bcap > B ? w->bcap : B;
        work_free(w, m->nlayers);
        m->work = w = NULL;
        B = keep;
    }
    if (!w) {
        w = m->work = calloc(1, sizeof *w);
        if (!w) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
        w->bcap = B;
        w->nthreads = nt;
        w->act = calloc((size_t)m->nlayers, sizeof *w->act);
        w->sfirst = calloc((size_t)m->nlayers, sizeof(int));
        w->slen = calloc((size_t)m->nlayers, sizeof(int));
        if (!w->act || !w->sfirst || !w->slen) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
        int64_t maxsz = m->in_c * m->in_t, scr = 0, part = 0, xt = 0;
        for (int i = 0; i < m->nlayers; i++) {
            const mt_layer *L = &m->layers[i];
            int64_t o = L->out_c * L->out_t;
            if (o > maxsz) maxsz = o;
            if (L->type == MT_LAYER_CONV) {
                /* im2col + its gradient (unless k = 1, stride 1, no padding), plus the
                 * output gradient of one sample (conv block backward) */
                int64_t need = L->out_c * L->out_t;
                if (!(L->k == 1 && L->stride == 1 && L->pad == 0)) need += 2 * L->in_c * L->k * L->out_t;
                if (need > scr) scr = need;
                if (L->nw + L->nb > part) part = L->nw + L->nb;
            }
            if (L->type == MT_LAYER_LINEAR && (L->in_c * L->in_t + L->out_c) > xt)
                xt = L->in_c * L->in_t + L->out_c;
        }
        w->scratch_floats = scr;
        w->partial_floats = part;
        w->xt_floats = xt * w->bcap;
        ALLOC_OR_FAIL(w->g0, maxsz * w->bcap);
        ALLOC_OR_FAIL(w->g1, maxsz * w->bcap);
        ALLOC_OR_FAIL(w->scratch, scr * nt);
        ALLOC_OR_FAIL(w->partial, part * NN_CHUNKS);
    }
    /* Per-layer buffers, allocated the first time they are needed. */
    plan_steps(m);
    const int64_t bc = w->bcap;
    for (int s = 0; s < w->nsteps; s++) {
        int first = w->sfirst[s], last = first + w->slen[s] - 1;
        for (int i = first; i <= last; i++) {
            mt_layer *L = &m->layers[i];
            nn_act *a = &w->act[i];
            int64_t o = L->out_c * L->out_t;
            if (i == last || L->type == MT_LAYER_CONV) ALLOC_OR_FAIL(a->y, o * bc);
            if (L->type == MT_LAYER_BN) ALLOC_OR_FAIL(a->save, 5 * L->in_c);
            if (L->type == MT_LAYER_MAXPOOL) ALLOC_OR_FAIL(a->idx, o * bc);
            if (L->type == MT_LAYER_DROPOUT) ALLOC_OR_FAIL(a->save, o * bc);
            if (L->type == MT_LAYER_CONV && L->stride == 1) ALLOC_OR_FAIL(a->wperm, L->nw);
            if (L->type == MT_LAYER_CONV && conv_feeds_bn(m, i)) ALLOC_OR_FAIL(a->mom, 2 * o / L->out_t * bc);
            if (L->type == MT_LAYER_MAXPOOL && w->slen[s] > 1) ALLOC_OR_FAIL(a->pext, o * bc);
            if (L->type == MT_LAYER_MAXPOOL && w->slen[s] > 2 && m->layers[w->sfirst[s]].type == MT_LAYER_CONV)
                ALLOC_OR_FAIL(a->gz, o * bc);
        }
    }
    if (m->input_grad) ALLOC_OR_FAIL(w->dx, m->in_c * m->in_t * bc);
    if (m->hooks.matmul && w->xt_floats) ALLOC_OR_FAIL(w->xt, w->xt_floats);
    return MT_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Forward / backward                                                                        */
/* ---------------------------------------------------------------------------------------- */

static const float *step_input(const mt_model *m, int s)
{
    const struct mt_nn_work *w = m->work;
    if (s == 0) return w->x;
    int prev = w->sfirst[s - 1] + w->slen[s - 1] - 1;
    return w->act[prev].y;
}

static mt_status step_forward(mt_model *m, int s, mt_err *err)
{
    struct mt_nn_work *w = m->work;
    int i = w->sfirst[s], len = w->slen[s], last = i + len - 1;
    mt_layer *L = &m->layers[i];
    nn_act *a = &w->act[i];
    const float *x = step_input(m, s);
    float *y = w->act[last].y;
    nn_ctx c = {m, i, w->B, w->train, w, NULL, NULL};
    const int64_t B = w->B, n = B * L->out_c * L->out_t;
    /* a BatchNorm right after a conv reuses the moments computed in the conv's epilogue */
    if (L->type == MT_LAYER_BN && w->train && s > 0 && w->slen[s - 1] == 1 &&
        conv_feeds_bn(m, i - 1) && w->act[i - 1].mom) {
        c.mom = w->act[i - 1].mom;
        c.mom_shift = m->layers[i - 1].b;
    }
    if (len > 1 && L->type == MT_LAYER_CONV) {
        mt_layer_type act = len == 4 ? m->layers[i + 2].type : MT_LAYER_NTYPES;
        return nn_convblock_forward(&c, L, &m->layers[i + 1], act, &m->layers[last], x, a->y, y, a,
                                    &w->act[i + 1], &w->act[last], err);
    }
    if (len > 1) {
        mt_layer *bn = L->type == MT_LAYER_BN ? L : NULL;
        mt_layer_type act = MT_LAYER_NTYPES; /* identity */
        if (bn && len == 3) act = m->layers[i + 1].type;
        if (!bn) act = L->type;
        nn_fused_pool_forward(&c, bn, act, &m->layers[last], x, y, &w->act[last], a);
        return MT_OK;
    }
    const int ref = m->reference;
    switch (L->type) {
    case MT_LAYER_CONV:
        if (ref) ref_conv_forward(L, x, y, B);
        else return nn_conv_forward(&c, L, x, y, a, w->train && conv_feeds_bn(m, i) ? a->mom : NULL, err);
        break;
    case MT_LAYER_LINEAR:
        if (ref) ref_linear_forward(L, x, y, B);
        else return nn_linear_forward(&c, L, x, y, err);
        break;
    case MT_LAYER_BN:
        if (ref) ref_bn_forward(L, x, y, a->save, B, w->train);
        else nn_bn_forward(&c, L, x, y, a);
        break;
    case MT_LAYER_MAXPOOL:
        if (ref) ref_maxpool_forward(L, x, y, a->idx, B);
        else nn_maxpool_forward(L, x, y, a->idx, B);
        break;
    case MT_LAYER_AVGPOOL:
        if (ref) ref_avgpool_forward(L, x, y, B);
        else nn_avgpool_forward(L, x, y, B);
        break;
    case MT_LAYER_GAP: nn_gap_forward(L, x, y, B); break;
    case MT_LAYER_TANH:
    case MT_LAYER_RELU:
    case MT_LAYER_SWISH:
    case MT_LAYER_LOGSIGMOID:
        if (ref) ref_act_forward(L->type, x, y, n);
        else nn_act_forward(L->type, x, y, n);
        break;
    case MT_LAYER_DROPOUT:
        nn_dropout_forward(L, x, y, a->save, B, w->train, m->seed, m->step, i);
        break;
    case MT_LAYER_SLICE: nn_slice_forward(L, x, y, B); break;
    default: return mt_err_set(err, MT_ERR_INTERNAL, "unknown layer type %d", (int)L->type);
    }
    return MT_OK;
}

mt_status mt_model_forward(mt_model *m, const float *x, int64_t B, int train, mt_err *err)
{
    if (B < 1 || !x) return mt_err_set(err, MT_ERR_ARG, "forward: empty batch");
    mt_status s = nn_work_ensure(m, B, err);
    if (s) return s;
    if (m->hooks.pre_forward) {
        s = m->hooks.pre_forward(m->hooks.ctx, m, train);
        if (s) return mt_err_prefix(err, s, "pre-forward hook");
    }
    struct mt_nn_work *w = m->work;
    m->forward_id++;
    w->B = B;
    w->train = train ? 1 : 0;
    w->x = x;
    for (int st = 0; st < w->nsteps; st++) {
        s = step_forward(m, st, err);
        if (s) {
            w->B = 0;
            return s;
        }
    }
    return MT_OK;
}

const float *mt_model_output(const mt_model *m)
{
    if (!m->work || !m->work->nsteps) return NULL;
    const struct mt_nn_work *w = m->work;
    return w->act[w->sfirst[w->nsteps - 1] + w->slen[w->nsteps - 1] - 1].y;
}

static void step_backward(mt_model *m, int s, const float *dy, float *dx)
{
    struct mt_nn_work *w = m->work;
    int i = w->sfirst[s], len = w->slen[s], last = i + len - 1;
    mt_layer *L = &m->layers[i];
    nn_act *a = &w->act[i];
    const float *x = step_input(m, s);
    const float *y = w->act[last].y;
    nn_ctx c = {m, i, w->B, w->train, w, NULL, NULL};
    const int64_t B = w->B, n = B * L->out_c * L->out_t;
    if (len > 1 && L->type == MT_LAYER_CONV) {
        mt_layer_type act = len == 4 ? m->layers[i + 2].type : MT_LAYER_NTYPES;
        nn_convblock_backward(&c, L, &m->layers[i + 1], act, &m->layers[last], x, a->y, y, dy, dx, a,
                              &w->act[i + 1], &w->act[last]);
        return;
    }
    if (len > 1) {
        mt_layer *bn = L->type == MT_LAYER_BN ? L : NULL;
        mt_layer_type act = MT_LAYER_NTYPES;
        if (bn && len == 3) act = m->layers[i + 1].type;
        if (!bn) act = L->type;
        nn_fused_pool_backward(&c, bn, act, &m->layers[last], x, y, &w->act[last], dy, dx, a);
        return;
    }
    const int ref = m->reference;
    switch (L->type) {
    case MT_LAYER_CONV:
        if (ref) ref_conv_backward(L, x, dy, dx, B);
        else nn_conv_backward(&c, L, a, x, dy, dx);
        break;
    case MT_LAYER_LINEAR:
        if (ref) ref_linear_backward(L, x, dy, dx, B);
        else nn_linear_backward(&c, L, x, dy, dx);
        break;
    case MT_LAYER_BN:
        if (ref) ref_bn_backward(L, x, dy, dx, a->save, B, w->train);
        else nn_bn_backward(&c, L, x, dy, dx, a);
        break;
    default:
        if (!dx) break;
        switch (L->type) {
        case MT_LAYER_MAXPOOL:
            if (ref) ref_maxpool_backward(L, x, dy, dx, B);
            else nn_maxpool_backward(L, dy, a->idx, dx, B);
            break;
        case MT_LAYER_AVGPOOL:
            if (ref) ref_avgpool_backward(L, dy, dx, B);
            else nn_avgpool_backward(L, dy, dx, B);
            break;
        case MT_LAYER_GAP: nn_gap_backward(L, dy, dx, B); break;
        case MT_LAYER_TANH:
        case MT_LAYER_RELU:
        case MT_LAYER_SWISH:
        case MT_LAYER_LOGSIGMOID:
            if (ref) ref_act_backward(L->type, x, dy, dx, n);
            else nn_act_backward(L->type, x, y, dy, dx, n);
            break;
        case MT_LAYER_DROPOUT: nn_dropout_backward(L, dy, a->save, dx, B, w->train); break;
        case MT_LAYER_SLICE: nn_slice_backward(L, dy, dx, B); break;
        default: break;
        }
    }
}

static int step_has_params(const mt_model *m, int s)
{
    const struct mt_nn_work *w = m->work;
    for (int i = w->sfirst[s]; i < w->sfirst[s] + w->slen[s]; i++)
        if (m->layers[i].params > 0) return 1;
    return 0;
}

mt_status mt_model_backward(mt_model *m, const float *dout, mt_err *err)
{
    struct mt_nn_work *w = m->work;
    if (!w || w->B < 1) return mt_err_set(err, MT_ERR_STATE, "backward without a forward");
    if (m->input_grad && !w->dx)
        return mt_err_set(err, MT_ERR_STATE, "input_grad was set after the forward");
    int first_param = w->nsteps;
    for (int s = 0; s < w->nsteps; s++)
        if (step_has_params(m, s)) {
            first_param = s;
            break;
        }
    const float *g = dout;
    for (int s = w->nsteps - 1; s >= 0; s--) {
        int need_dx = m->input_grad || s > first_param;
        if (!need_dx && !step_has_params(m, s)) break;
        float *dx = NULL;
        if (need_dx) dx = s == 0 ? w->dx : (g == w->g0 ? w->g1 : w->g0);
        step_backward(m, s, g, dx);
        g = dx;
    }
    if (m->hooks.post_backward) {
        mt_status s = m->hooks.post_backward(m->hooks.ctx, m);
        if (s) return mt_err_prefix(err, s, "post-backward hook");
    }
    return MT_OK;
}

void mt_model_zero_grad(mt_model *m) { memset(m->grads, 0, (size_t)m->nparams * sizeof(float)); }

const float *mt_model_input_grad(const mt_model *m)
{
    return (m->input_grad && m->work) ? m->work->dx : NULL;
}

double mt_nll_loss(const float *logits, const int32_t *labels, int64_t B, int64_t n, float *logp,
                   float *dlogits)
{
    double total = 0;
    for (int64_t b = 0; b < B; b++) {
        const float *z = logits + b * n;
        double mx = z[0];
        for (int64_t k = 1; k < n; k++)
            if (z[k] > mx) mx = z[k];
        double se = 0;
        for (int64_t k = 0; k < n; k++) se += exp((double)z[k] - mx);
        double lse = mx + log(se);
        total -= (double)z[labels[b]] - lse;
        for (int64_t k = 0; k < n; k++) {
            double lp = (double)z[k] - lse;
            if (logp) logp[b * n + k] = (float)lp;
            if (dlogits) dlogits[b * n + k] = (float)((exp(lp) - (k == labels[b])) / (double)B);
        }
    }
    return total / (double)B;
}

/* ---------------------------------------------------------------------------------------- */
/* Info                                                                                      */
/* ---------------------------------------------------------------------------------------- */

char *mt_model_info_json(const mt_model *m)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "arch", m->arch);
    cJSON *in = cJSON_AddArrayToObject(j, "input");
    cJSON_AddItemToArray(in, cJSON_CreateNumber((double)m->in_c));
    cJSON_AddItemToArray(in, cJSON_CreateNumber((double)m->in_t));
    cJSON_AddNumberToObject(j, "classes", m->nclasses);
    cJSON_AddNumberToObject(j, "params", (double)m->nparams);
    cJSON_AddNumberToObject(j, "macs", (double)m->macs);
    cJSON_AddNumberToObject(j, "macs_with_bn", (double)(m->macs + m->bn_ops));
    int64_t wonly = 0, analog_w = 0;
    for (int i = 0; i < m->nlayers; i++)
        if (m->layers[i].type == MT_LAYER_CONV || m->layers[i].type == MT_LAYER_LINEAR) {
            wonly += m->layers[i].nw;
            if (m->layers[i].analog) analog_w += m->layers[i].nw;
        }
    cJSON_AddNumberToObject(j, "weights", (double)wonly);
    cJSON_AddNumberToObject(j, "analog_weights", (double)analog_w);
    cJSON *ls = cJSON_AddArrayToObject(j, "layers");
    for (int i = 0; i < m->nlayers; i++) {
        const mt_layer *L = &m->layers[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "index", i);
        cJSON_AddStringToObject(o, "name", L->name);
        cJSON_AddStringToObject(o, "type", mt_layer_type_name(L->type));
        cJSON_AddStringToObject(o, "spec", L->spec);
        cJSON *a = cJSON_AddArrayToObject(o, "in");
        cJSON_AddItemToArray(a, cJSON_CreateNumber((double)L->in_c));
        cJSON_AddItemToArray(a, cJSON_CreateNumber((double)L->in_t));
        a = cJSON_AddArrayToObject(o, "out");
        cJSON_AddItemToArray(a, cJSON_CreateNumber((double)L->out_c));
        cJSON_AddItemToArray(a, cJSON_CreateNumber((double)L->out_t));
        cJSON_AddNumberToObject(o, "params", (double)L->params);
        cJSON_AddNumberToObject(o, "macs", (double)L->macs);
        if (L->bn_ops) cJSON_AddNumberToObject(o, "bn_ops", (double)L->bn_ops);
        cJSON_AddBoolToObject(o, "analog", L->analog != 0);
        if (L->type == MT_LAYER_CONV) {
            cJSON_AddNumberToObject(o, "rows", (double)(L->in_c * L->k)); /* crossbar rows */
            cJSON_AddNumberToObject(o, "mvms", (double)L->out_t);         /* MVMs per sample */
        } else if (L->type == MT_LAYER_LINEAR) {
            cJSON_AddNumberToObject(o, "rows", (double)(L->in_c * L->in_t));
            cJSON_AddNumberToObject(o, "mvms", 1);
        }
        cJSON_AddItemToArray(ls, o);
    }
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}
