/* Private state of the HWA network (src/aimc/hwa.c, hwa_train.c). */
#ifndef MATERIA_HWA_IMPL_H
#define MATERIA_HWA_IMPL_H

#include <stdint.h>

#include "materia/hwa.h"
#include "materia/rng.h"

/* Weight gradients are summed per chunk of consecutive samples (chunk j of B covers samples
 * [j·B/n, (j+1)·B/n), n = min(B, HWA_CHUNKS)) and the chunks reduced in order. */
#define HWA_CHUNKS 8

enum { HWA_STREAM_WNOISE = 0x4857A1, HWA_STREAM_ONOISE, HWA_STREAM_DROPOUT, HWA_STREAM_WSAMPLE };

/* One stage of the network: an analog layer (run here) or a run of digital layers (an nn
 * sub-model built from the same tokens). */
typedef struct hwa_stage {
    int analog;
    int first, n;             /* layers [first, first+n) of the model */
    int need_dx;              /* a layer with parameters comes before: propagate the gradient */
    const float *x;           /* input of the last forward [B, in] */
    /* digital run */
    int has_sub;
    mt_model sub;
    /* analog layer */
    mt_layer *L;              /* the model's layer (weights, gradients) */
    int64_t R, To, outs;      /* matrix rows (C_in·k / in features), positions, outputs */
    int64_t bcap;
    float *y;                 /* [bcap, outs·To] output */
    float *dx;                /* [bcap, in_c·in_t] input gradient (need_dx) */
    float *wn;                /* [outs·R] weights of the last forward (clean, or with the noise
                                 shared by the batch) */
    int per_sample;           /* 1: the last forward drew weight noise per sample (regenerated
                                 from its stream in the backward) */
    uint64_t fid;             /* forward id of the last forward */
    float *wmax;              /* [outs] row max |W| of the clean weights */
    int8_t *oclip;            /* [bcap, outs·To] +1 / −1 where the ADC bound clipped the output
                                 from above / below (its gradient then goes to the bound) */
} hwa_stage;

struct mt_hwa_net {
    mt_model *m;
    mt_hwa_opts o;
    uint64_t seed;
    int nstages;
    hwa_stage *stages;
    float *ir;                /* [nlayers] input ranges */
    double *irg, *irg_exact;  /* [nlayers] range gradients */
    int64_t *ir_n;            /* [nlayers] data-initialisation updates so far */
    int64_t max_rt;
    int reference;
    uint64_t forward_id;
    int64_t B;
    int train;
    const float *out;
};

double hwa_levels(int bits);
float hwa_quant(float v, float ir, double levels);
float hwa_adc(float v, double bound, int bits);
/* +1 / −1 when the ADC clamp cuts v from above / below (after its rounding), else 0. */
int hwa_adc_clips(float v, double bound, int bits);
uint64_t hwa_stream(uint64_t domain, uint64_t layer, uint64_t a, uint64_t b);
int hwa_is_analog(const mt_layer *L);
void hwa_layer_shape(const mt_layer *L, int64_t *R, int64_t *To, int64_t *outs);
void hwa_im2col(const mt_layer *L, const float *x, float *col);

#endif
