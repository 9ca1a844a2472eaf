/* Optimisers (AdamW, SGD with momentum), gradient clipping and learning-rate schedules, written
 * to follow torch.optim (1.13) step by step.  Flat loops over the parameter arena. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_impl.h"

mt_status mt_optim_init(mt_optim *o, mt_opt_type type, int64_t nparams, mt_err *err)
{
    memset(o, 0, sizeof *o);
    o->type = type;
    o->lr = 1e-3;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    o->wd = 1e-2;
    o->momentum = 0.9;
    o->n = nparams;
    o->m = calloc((size_t)nparams + 1, sizeof(float));
    o->v = calloc((size_t)nparams + 1, sizeof(float));
    if (!o->m || !o->v) {
        mt_optim_free(o);
        return mt_err_set(err, MT_ERR_NOMEM, "out of memory for optimiser state");
    }
    return MT_OK;
}

void mt_optim_free(mt_optim *o)
{
    if (!o) return;
    free(o->m);
    free(o->v);
    o->m = o->v = NULL;
}

void mt_optim_step(mt_optim *o, float *p, const float *g)
{
    const int64_t n = o->n;
    o->t++;
    const float decay = (float)(1.0 - o->lr * o->wd); /* decoupled weight decay */
    if (o->type == MT_OPT_ADAMW) {
        /* torch.optim.AdamW (single-tensor path):
         *   p ← p·(1 − lr·wd);  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
         *   p ← p − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + eps)                        */
        const float b1 = (float)o->beta1, b2 = (float)o->beta2;
        const float c1 = (float)(1.0 - o->beta1), c2 = (float)(1.0 - o->beta2);
        const double bc1 = 1.0 - pow(o->beta1, (double)o->t);
        const double bc2 = 1.0 - pow(o->beta2, (double)o->t);
        const float step = (float)(o->lr / bc1), bc2s = (float)sqrt(bc2), eps = (float)o->eps;
        float *m = o->m, *v = o->v;
#pragma omp parallel for simd schedule(static) if (n >= 32768)
        for (int64_t i = 0; i < n; i++) {
            float gi = g[i];
            float pi = p[i] * decay;
            float mi = m[i] * b1 + gi * c1;
            float vi = v[i] * b2 + gi * gi * c2;
            m[i] = mi;
            v[i] = vi;
            p[i] = pi - step * (mi / (sqrtf(vi) / bc2s + eps));
        }
    } else {
        /* torch.optim.SGD with momentum μ and dampening d, weight decay decoupled as above:
         *   buf ← g (first step) or μ·buf + (1−d)·g;  p ← p − lr·(nesterov ? g + μ·buf : buf) */
        const float mu = (float)o->momentum, damp = (float)(1.0 - o->dampening),
                    lr = (float)o->lr;
        const int first = o->t == 1, nest = o->nesterov;
        float *buf = o->m;
#pragma omp parallel for schedule(static) if (n >= 32768)
        for (int64_t i = 0; i < n; i++) {
            float gi = g[i];
            float d = gi;
            if (mu != 0.0f) {
                float bi = first ? gi : buf[i] * mu + gi * damp;
                buf[i] = bi;
                d = nest ? gi + mu * bi : bi;
            }
            p[i] = p[i] * decay - lr * d;
        }
    }
}

double mt_grad_clip(float *g, int64_t n, double max_norm)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)g[i] * g[i];
    double norm = sqrt(s);
    if (max_norm > 0) {
        double coef = max_norm / (norm + 1e-6); /* torch.nn.utils.clip_grad_norm_ */
        if (coef < 1.0) {
            float c = (float)coef;
            for (int64_t i = 0; i < n; i++) g[i] *= c;
        }
    }
    return norm;
}

/* ---- schedules ---- */

mt_status mt_sched_parse(const char *name, mt_sched_type *out, mt_err *err)
{
    if (strcmp(name, "onecycle") == 0) *out = MT_SCHED_ONECYCLE;
    else if (strcmp(name, "cosine") == 0) *out = MT_SCHED_COSINE;
    else if (strcmp(name, "constant") == 0 || strcmp(name, "none") == 0) *out = MT_SCHED_CONSTANT;
    else return mt_err_set(err, MT_ERR_ARG, "unknown schedule '%s' (onecycle, cosine, constant)", name);
    return MT_OK;
}

const char *mt_sched_name(mt_sched_type t)
{
    switch (t) {
    case MT_SCHED_ONECYCLE: return "onecycle";
    case MT_SCHED_COSINE: return "cosine";
    default: return "constant";
    }
}

void mt_sched_init(mt_sched *s, mt_sched_type type, double max_lr, int64_t total_steps)
{
    memset(s, 0, sizeof *s);
    s->type = type;
    s->max_lr = max_lr;
    s->total_steps = total_steps;
    s->pct_start = 0.3;
    s->div_factor = 25.0;
    s->final_div_factor = 1e4;
    s->cycle_momentum = type == MT_SCHED_ONECYCLE;
    s->base_momentum = 0.85;
    s->max_momentum = 0.95;
    s->eta_min = 0.0;
}

/* torch.optim.lr_scheduler.OneCycleLR._annealing_cos */
static double anneal_cos(double start, double end, double pct)
{
    return end + (start - end) / 2.0 * (cos(M_PI * pct) + 1.0);
}

void mt_sched_at(const mt_sched *s, int64_t step, double *lr, double *momentum)
{
    if (s->type == MT_SCHED_CONSTANT) {
        *lr = s->max_lr;
        return;
    }
    if (s->type == MT_SCHED_COSINE) {
        /* CosineAnnealingLR closed form, T_max = total_steps, stepped per batch */
        double T = s->total_steps > 0 ? (double)s->total_steps : 1.0;
        double t = (double)step > T ? T : (double)step;
        *lr = s->eta_min + (s->max_lr - s->eta_min) * (1.0 + cos(M_PI * t / T)) / 2.0;
        return;
    }
    /* OneCycleLR (two phases, cos annealing), PyTorch 1.13 get_lr(): phase 1 ends at step
     * pct_start·total − 1 (initial → max lr, max → base momentum), phase 2 at total − 1
     * (max → min lr, base → max momentum); phase 2 starts at phase 1's end step. */
    double initial = s->max_lr / s->div_factor, min_lr = initial / s->final_div_factor;
    double end1 = s->pct_start * (double)s->total_steps - 1.0;
    double end2 = (double)s->total_steps - 1.0;
    double st = (double)step;
    double l, mo;
    if (st <= end1) {
        double pct = end1 > 0 ? st / end1 : 1.0;
        l = anneal_cos(initial, s->max_lr, pct);
        mo = anneal_cos(s->max_momentum, s->base_momentum, pct);
    } else {
        double pct = (end2 - end1) > 0 ? (st - end1) / (end2 - end1) : 1.0;
        l = anneal_cos(s->max_lr, min_lr, pct);
        mo = anneal_cos(s->base_momentum, s->max_momentum, pct);
    }
    *lr = l;
    if (s->cycle_momentum && momentum) *momentum = mo;
}
