/* RNPU measurement chain and feature extraction (the paper's protocol, shared/spec/rnpu.md §c.5):
 * per channel one control set (U(±0.4 V), output neighbours U(±0.2 V)), controls ramped 0 → V over
 * 100 samples, 400 samples of rest at Vin = 0, then the audio (ZOH DAC at 12.5 kS/s); the ADC reads
 * Vo every DAC sample with Gaussian-like read noise, quantises (16 bit over ±10 V), averages every
 * 10 samples (1,250 S/s) and the channel mean is removed.  The batch path (mt_rnpu_fx_process) and
 * the stream (mt_rnpu_fx_stream_*, no mean removal) share fx_block_init / fx_block_run. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "rnpu_kernel.h"

enum { STREAM_FX_CTRL = 201 };

struct mt_rnpu_fx {
    mt_rnpu_params p;
    mt_rnpu_chain c;
    uint64_t seed;
    int ndev;
    mt_rnpu **dev;        /* [ndev]: 1, or one per channel */
    double *vc;           /* [C, 6] */
    mt_rnpu_state *st0;   /* [C] state at audio onset */
};

void mt_rnpu_chain_default(mt_rnpu_chain *c)
{
    c->channels = 64;
    c->rate_hz = 12500.0;
    c->decim = 10;
    c->ctrl_range_v = 0.4;
    c->neighbour_div = 2.0;
    c->ramp_samples = 100;
    c->rest_samples = 400;
    c->adc_noise_v = 0.3e-3;
    c->adc_bits = 16;
    c->adc_range_v = 10.0;
    c->mean_removal = 1;
    c->device_per_channel = 0;
}

void mt_rnpu_fx_free(mt_rnpu_fx *fx)
{
    if (!fx) return;
    for (int i = 0; i < fx->ndev; i++) mt_rnpu_free(fx->dev[i]);
    free(fx->dev);
    free(fx->vc);
    free(fx->st0);
    free(fx);
}

static const mt_rnpu *fx_dev(const mt_rnpu_fx *fx, int ch) { return fx->dev[fx->ndev > 1 ? ch : 0]; }
const mt_rnpu *mt_rnpu_fx_device(const mt_rnpu_fx *fx, int ch) { return fx_dev(fx, ch); }
const double *mt_rnpu_fx_controls(const mt_rnpu_fx *fx) { return fx->vc; }
const mt_rnpu_chain *mt_rnpu_fx_chain(const mt_rnpu_fx *fx) { return &fx->c; }

int64_t mt_rnpu_fx_out_len(const mt_rnpu_fx *fx, int64_t n) { return n / fx->c.decim; }

mt_status mt_rnpu_fx_create(const mt_rnpu_params *p, const mt_rnpu_chain *c, uint64_t seed,
                            mt_rnpu_fx **out, mt_err *err)
{
    *out = NULL;
    if (c->channels < 1 || c->channels > 4096)
        return mt_err_set(err, MT_ERR_ARG, "channels must be in [1, 4096] (got %d)", c->channels);
    if (!(c->rate_hz >= 1000 && c->rate_hz <= 1e6))
        return mt_err_set(err, MT_ERR_ARG, "rate must be in [1 kHz, 1 MHz] (got %g)", c->rate_hz);
    if (c->decim < 1 || c->decim > 10000) return mt_err_set(err, MT_ERR_ARG, "decim must be in [1, 10000]");
    if (!(c->ctrl_range_v > 0 && c->ctrl_range_v <= 2.0))
        return mt_err_set(err, MT_ERR_ARG, "ctrl_range_v must be in (0, 2] V (got %g)", c->ctrl_range_v);
    if (!(c->neighbour_div >= 1 && c->neighbour_div <= 100))
        return mt_err_set(err, MT_ERR_ARG, "neighbour_div must be in [1, 100] (got %g)", c->neighbour_div);
    if (c->ramp_samples < 1 || c->ramp_samples > 10000000 || c->rest_samples < 0 || c->rest_samples > 10000000)
        return mt_err_set(err, MT_ERR_ARG, "ramp_samples must be >= 1 and rest_samples >= 0");
    if (!(c->adc_noise_v >= 0 && c->adc_noise_v < 1)) return mt_err_set(err, MT_ERR_ARG, "adc_noise_v must be in [0, 1) V");
    if (c->adc_bits < 0 || c->adc_bits > 32) return mt_err_set(err, MT_ERR_ARG, "adc_bits must be in [0, 32]");
    if (!(c->adc_range_v > 0 && c->adc_range_v <= 100)) return mt_err_set(err, MT_ERR_ARG, "adc_range_v must be in (0, 100]");
    mt_rnpu_fx *fx = calloc(1, sizeof *fx);
    if (!fx) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    fx->p = *p;
    fx->c = *c;
    fx->seed = seed;
    int C = c->channels;
    fx->ndev = c->device_per_channel ? C : 1;
    fx->dev = calloc((size_t)fx->ndev, sizeof *fx->dev);
    fx->vc = malloc(sizeof(double) * (size_t)C * MT_RNPU_NC);
    fx->st0 = calloc((size_t)C, sizeof *fx->st0);
    if (!fx->dev || !fx->vc || !fx->st0) {
        mt_rnpu_fx_free(fx);
        return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < fx->ndev; i++) {
        /* device i of a per-channel bank: seed derived from (seed, i); device 0 = seed itself */
        uint64_t ds = i == 0 ? seed : rnpu_mix64(seed ^ rnpu_mix64(0x5eedULL + (uint64_t)i));
        mt_status s = mt_rnpu_create(p, ds, &fx->dev[i], err);
        if (s) {
            mt_rnpu_fx_free(fx);
            return mt_err_prefix(err, s, "RNPU device %d", i);
        }
    }
    mt_rnpu_random_controls(seed, STREAM_FX_CTRL, C, c->ctrl_range_v, c->neighbour_div, fx->vc);
    /* pre-roll: ramp the controls 0 → V, rest at Vin = 0 (identical for every utterance) */
    const double h = 1.0 / c->rate_hz;
    for (int ch = 0; ch < C; ch++) {
        const mt_rnpu *d = fx_dev(fx, ch);
        mt_rnpu_state st = {0};
        double v[MT_RNPU_NB] = {0};
        for (int i = 0; i < c->ramp_samples; i++) {
            double f = (i + 1.0) / c->ramp_samples;
            for (int k = 0; k < MT_RNPU_NC; k++) v[k + 1] = f * fx->vc[ch * MT_RNPU_NC + k];
            mt_rnpu_step(d, v, h, 0.0, &st);
        }
        for (int i = 0; i < c->rest_samples; i++) mt_rnpu_step(d, v, h, 0.0, &st);
        fx->st0[ch] = st;
    }
    *out = fx;
    return MT_OK;
}

/* ADC read noise: a counter-based, approximately Gaussian deviate (Irwin–Hall sum of four 16-bit
 * uniforms from two rounds of the murmur3 finaliser; unit variance, |z| ≤ 3.46) — a pure function
 * of (key, sample), so it is independent of threads and chunking and vectorises. */
static inline uint32_t fmix32(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}
static inline float adc_noise(uint32_t key, uint32_t i)
{
    uint32_t a = fmix32(key + i * 0x9e3779b9u), b = fmix32(a + 0x632be5abu);
    int32_t s = (int32_t)(a & 0xffff) + (int32_t)(a >> 16) + (int32_t)(b & 0xffff) + (int32_t)(b >> 16);
    return ((float)s - 131070.0f) * (1.0f / 37837.2259f);
}

/* ADC model on an interleaved block buf[i*RNPU_W + l] of m samples (m a multiple of D) starting
 * at absolute sample i0: read noise, clipping to ±range, rounding to the LSB grid (nearest, by the
 * 1.5·2^23 trick), and the mean of every D samples into grp[g*RNPU_W + l]. */
__attribute__((target_clones("avx512f", "avx2", "default")))
static void adc_block(const float *buf, int64_t m, int D, int64_t i0, const uint32_t *key, float noise_v,
                      float lsb, float range, float *grp)
{
    const float ilsb = lsb > 0 ? 1.0f / lsb : 0.0f;
    for (int64_t g = 0; g < m / D; g++) {
        float acc[RNPU_W] = {0};
        for (int r = 0; r < D; r++) {
            int64_t i = g * D + r;
#pragma omp simd
            for (int l = 0; l < RNPU_W; l++) {
                float v = buf[i * RNPU_W + l];
                v += noise_v * adc_noise(key[l], (uint32_t)(i0 + i));
                v = v > range ? range : (v < -range ? -range : v);
                float qv = ((v * ilsb + 12582912.0f) - 12582912.0f) * lsb;
                v = lsb > 0 ? qv : v;
                acc[l] += v;
            }
        }
        for (int l = 0; l < RNPU_W; l++) grp[g * RNPU_W + l] = acc[l] / (float)D;
    }
}

static uint64_t noise_key(uint64_t seed, uint64_t utt, int ch, uint64_t salt)
{
    return rnpu_mix64(rnpu_mix64(rnpu_mix64(seed ^ salt) ^ utt) ^ (uint64_t)ch);
}

/* One block of up to RNPU_W channels [c0, c0 + used) of an extractor in flight: the device state
 * (float lanes for the SIMD kernel, double for the scalar path) and the noise keys of (seed, utt,
 * ch).  Shared by the batch path and the stream, so both run exactly the same arithmetic. */
typedef struct fx_block {
    int c0, used;
    rnpu_lstate ls;            /* SIMD kernel state, lane l = channel c0 + l */
    mt_rnpu_state nst[RNPU_W]; /* scalar-path state */
    uint32_t key[RNPU_W];      /* ADC read-noise keys */
    uint64_t dkey[RNPU_W];     /* device current-noise keys */
} fx_block;

/* The scalar reference is used when asked, with device current noise, or for the MLP law. */
static int fx_naive(const mt_rnpu_fx *fx, int naive)
{
    return naive || fx_dev(fx, 0)->noise_sd > 0 || fx_dev(fx, 0)->p.law != MT_RNPU_LAW_SCLC;
}

/* Samples per chunk of work: whole ADC groups, about 1,000 samples. */
static int64_t fx_chunk(const mt_rnpu_fx *fx)
{
    const int D = fx->c.decim;
    return (int64_t)D * (1000 / D > 0 ? 1000 / D : 1);
}

/* Start block b at the audio onset (state after the pre-roll) for utterance utt.  Unused lanes
 * run a copy of channel c0 (their results are discarded). */
static void fx_block_init(const mt_rnpu_fx *fx, int c0, uint64_t utt, int use_naive, rnpu_lanes *L,
                          fx_block *b)
{
    const int C = fx->c.channels;
    const double h = 1.0 / fx->c.rate_hz;
    b->c0 = c0;
    b->used = C - c0 < RNPU_W ? C - c0 : RNPU_W;
    for (int l = 0; l < RNPU_W; l++) {
        int ch = c0 + (l < b->used ? l : 0);
        if (!use_naive) rnpu_lanes_set(L, l, fx_dev(fx, ch), fx->vc + (size_t)ch * MT_RNPU_NC, h);
        b->ls.vo[l] = (float)fx->st0[ch].vo;
        b->ls.q[l] = (float)fx->st0[ch].q;
        b->ls.vp[l] = (float)fx->st0[ch].vin_prev;
        for (int j = 0; j < 4; j++) b->ls.f[j][l] = (float)fx->st0[ch].f[j];
        b->nst[l] = fx->st0[ch];
        b->key[l] = (uint32_t)noise_key(fx->seed, utt, ch, 0xadcULL);
        b->dkey[l] = noise_key(fx->seed, utt, ch, 0xde71ceULL);
    }
}

/* Run block b over x[m] (m a multiple of decim, at most fx_chunk) whose first sample has the
 * absolute index i0 in the utterance (it keys the noise), advancing its state; the m/decim ADC
 * outputs of channel c0 + l go to out[(c0 + l)·ostride + g].  buf [RNPU_W·chunk] and
 * grp [RNPU_W·chunk/decim] are scratch. */
static void fx_block_run(const mt_rnpu_fx *fx, const rnpu_lanes *L, fx_block *b, int use_naive,
                         const float *x, int64_t m, int64_t i0, float *buf, float *grp, float *out,
                         int64_t ostride)
{
    const mt_rnpu_chain *c = &fx->c;
    const int D = c->decim;
    const double lsb = c->adc_bits > 0 ? 2.0 * c->adc_range_v / pow(2.0, c->adc_bits) : 0.0;
    const double h = 1.0 / c->rate_hz;
    const int dev_noise = fx_dev(fx, 0)->noise_sd > 0;
    if (!use_naive) {
        rnpu_kernel_block(L, x, m, &b->ls, buf);
    } else {
        for (int l = 0; l < b->used; l++) {
            int ch = b->c0 + l;
            const mt_rnpu *d = fx_dev(fx, ch);
            double v[MT_RNPU_NB];
            for (int k = 0; k < MT_RNPU_NC; k++) v[k + 1] = fx->vc[ch * MT_RNPU_NC + k];
            for (int64_t i = 0; i < m; i++) {
                v[0] = x[i];
                double z = dev_noise ? rnpu_noise(b->dkey[l] + (uint64_t)(i0 + i)) : 0.0;
                mt_rnpu_step(d, v, h, z, &b->nst[l]);
                buf[i * RNPU_W + l] = (float)b->nst[l].vo;
            }
        }
    }
    adc_block(buf, m, D, i0, b->key, (float)c->adc_noise_v, (float)lsb, (float)c->adc_range_v, grp);
    for (int l = 0; l < b->used; l++) {
        float *o = out + (size_t)(b->c0 + l) * (size_t)ostride;
        for (int64_t g = 0; g < m / D; g++) o[g] = grp[g * RNPU_W + l];
    }
}

/* Each channel's mean over its T outputs removed (double accumulation). */
static void fx_remove_mean(float *out, int C, int64_t T)
{
    for (int ch = 0; ch < C; ch++) {
        float *o = out + (size_t)ch * (size_t)T;
        double mean = 0;
        for (int64_t t = 0; t < T; t++) mean += o[t];
        mean /= (double)T;
        for (int64_t t = 0; t < T; t++) o[t] = (float)(o[t] - mean);
    }
}

mt_status mt_rnpu_fx_process(const mt_rnpu_fx *fx, const float *x, int64_t n, uint64_t utt,
                             float *out, int naive, mt_err *err)
{
    const mt_rnpu_chain *c = &fx->c;
    const int C = c->channels, D = c->decim;
    const int64_t T = n / D;
    if (T < 1) return mt_err_set(err, MT_ERR_DATA, "audio too short: %lld samples < decimation %d", (long long)n, D);
    const int use_naive = fx_naive(fx, naive);
    const int64_t CH = fx_chunk(fx);
    float *buf = malloc(sizeof(float) * RNPU_W * (size_t)CH);
    float *grp = malloc(sizeof(float) * RNPU_W * (size_t)(CH / D));
    rnpu_lanes *L = aligned_alloc(64, sizeof *L);
    fx_block *b = malloc(sizeof *b);
    if (!buf || !L || !grp || !b) {
        free(buf), free(L), free(grp), free(b);
        return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    }
    for (int c0 = 0; c0 < C; c0 += RNPU_W) {
        fx_block_init(fx, c0, utt, use_naive, L, b);
        for (int64_t i0 = 0; i0 < T * D; i0 += CH) {
            int64_t m = T * D - i0 < CH ? T * D - i0 : CH;
            fx_block_run(fx, L, b, use_naive, x + i0, m, i0, buf, grp, out + i0 / D, T);
        }
    }
    free(buf);
    free(grp);
    free(L);
    free(b);
    if (c->mean_removal) fx_remove_mean(out, C, T);
    return MT_OK;
}

/* ------------------------------------------------------------------------------ stream ---- */

/* A running extractor: every lane block's state carried from push to push, the audio samples of
 * an incomplete ADC group (fewer than decim) and the absolute sample index of the next group.
 * Feeding x in pieces of any sizes gives the frames mt_rnpu_fx_process gives for the whole x
 * (before mean removal), bit for bit: same kernels, same per-sample order, noise keyed by the
 * absolute sample index. */
struct mt_rnpu_fx_stream {
    const mt_rnpu_fx *fx;
    int use_naive, nblk;
    rnpu_lanes *L;     /* [nblk] lane constants (64-byte aligned) */
    fx_block *blk;     /* [nblk] */
    float *buf, *grp;  /* scratch [RNPU_W·chunk], [RNPU_W·chunk/decim] */
    float *xin;        /* [chunk] assembled input */
    float *pend;       /* [decim] samples of the incomplete group */
    int npend;
    int64_t pos;       /* absolute index of the next group's first sample */
};

void mt_rnpu_fx_stream_free(mt_rnpu_fx_stream *s)
{
    if (!s) return;
    free(s->L);
    free(s->blk);
    free(s->buf);
    free(s->grp);
    free(s->xin);
    free(s->pend);
    free(s);
}

mt_status mt_rnpu_fx_stream_create(const mt_rnpu_fx *fx, uint64_t utt, int naive,
                                   mt_rnpu_fx_stream **out, mt_err *err)
{
    *out = NULL;
    const int C = fx->c.channels, D = fx->c.decim;
    const int64_t CH = fx_chunk(fx);
    mt_rnpu_fx_stream *s = calloc(1, sizeof *s);
    if (!s) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    s->fx = fx;
    s->use_naive = fx_naive(fx, naive);
    s->nblk = (C + RNPU_W - 1) / RNPU_W;
    size_t lbytes = sizeof(rnpu_lanes) * (size_t)s->nblk; /* a multiple of 64 (aligned type) */
    s->L = aligned_alloc(64, lbytes);
    s->blk = calloc((size_t)s->nblk, sizeof *s->blk);
    s->buf = malloc(sizeof(float) * RNPU_W * (size_t)CH);
    s->grp = malloc(sizeof(float) * RNPU_W * (size_t)(CH / D));
    s->xin = malloc(sizeof(float) * (size_t)CH);
    s->pend = malloc(sizeof(float) * (size_t)D);
    if (!s->L || !s->blk || !s->buf || !s->grp || !s->xin || !s->pend) {
        mt_rnpu_fx_stream_free(s);
        return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    }
    for (int b = 0; b < s->nblk; b++) fx_block_init(fx, b * RNPU_W, utt, s->use_naive, &s->L[b], &s->blk[b]);
    *out = s;
    return MT_OK;
}

int64_t mt_rnpu_fx_stream_out_len(const mt_rnpu_fx_stream *s, int64_t n)
{
    return n > 0 ? (s->npend + n) / s->fx->c.decim : 0;
}

int64_t mt_rnpu_fx_stream_samples(const mt_rnpu_fx_stream *s) { return s->pos + s->npend; }

mt_status mt_rnpu_fx_stream_push(mt_rnpu_fx_stream *s, const float *x, int64_t n, float *out,
                                 int64_t ostride, int64_t *nout, mt_err *err)
{
    const int D = s->fx->c.decim;
    *nout = 0;
    if (n < 0) return mt_err_set(err, MT_ERR_ARG, "negative sample count %lld", (long long)n);
    if (n == 0) return MT_OK;
    const int64_t avail = s->npend + n, G = avail / D;
    if (G > ostride)
        return mt_err_set(err, MT_ERR_ARG, "output row stride %lld is below the %lld frames of this push",
                          (long long)ostride, (long long)G);
    if (G == 0) { /* still inside one ADC group */
        memcpy(s->pend + s->npend, x, sizeof(float) * (size_t)n);
        s->npend += (int)n;
        return MT_OK;
    }
    const int64_t CH = fx_chunk(s->fx), np = s->npend;
    for (int64_t done = 0; done < G * D; done += CH) { /* done: index into pend ++ x */
        const int64_t m = G * D - done < CH ? G * D - done : CH;
        for (int64_t i = 0; i < m; i++) {
            int64_t v = done + i;
            s->xin[i] = v < np ? s->pend[v] : x[v - np];
        }
        for (int b = 0; b < s->nblk; b++)
            fx_block_run(s->fx, &s->L[b], &s->blk[b], s->use_naive, s->xin, m, s->pos, s->buf, s->grp,
                         out + done / D, ostride);
        s->pos += m;
    }
    /* G ≥ 1 so G·D ≥ D > npend: the new incomplete group lies wholly in x */
    s->npend = (int)(avail - G * D);
    memcpy(s->pend, x + (G * D - np), sizeof(float) * (size_t)s->npend);
    *nout = G;
    return MT_OK;
}

/* ------------------------------------------------------------------------ options JSON ---- */

typedef enum { OPT_D, OPT_I, OPT_B } opt_type;
typedef struct {
    const char *key;
    opt_type type;
    int chain; /* 0: params, 1: chain */
    size_t off;
    const char *help;
} opt_def;

#define PO(f, t, h) {#f, t, 0, offsetof(mt_rnpu_params, f), h}
#define CO(f, t, h) {#f, t, 1, offsetof(mt_rnpu_chain, f), h}
static const opt_def opts[] = {
    PO(c_ext_pf, OPT_D, "pF"), PO(r_buf_gohm, OPT_D, "GΩ"), PO(temp_k, OPT_D, "K"),
    PO(ea_ev, OPT_D, "eV"), PO(noise_a2hz, OPT_D, "A²/Hz"), PO(mlp_amp, OPT_D, ""),
    PO(g_med_ns, OPT_D, "nS"), PO(g_sigma, OPT_D, ""), PO(neighbour_gain, OPT_D, ""),
    PO(input_gain, OPT_D, ""), PO(vx_lo, OPT_D, "V"), PO(vx_hi, OPT_D, "V"), PO(mu_b, OPT_D, "1/V"),
    PO(sigma_b, OPT_D, "1/V"), PO(mu_a, OPT_D, "1/V"), PO(sigma_a, OPT_D, "1/V"), PO(g_leak_ns, OPT_D, "nS"),
    PO(calibrate, OPT_B, ""), PO(tau_target_ms, OPT_D, "ms"), PO(power_target_nw, OPT_D, "nW"),
    PO(cal_sets, OPT_I, ""), PO(c_io_pf, OPT_D, "pF"), PO(theta_lo, OPT_D, ""),
    PO(theta_hi, OPT_D, ""), PO(trap, OPT_B, ""), PO(trap_gamma, OPT_D, ""),
    PO(trap_q_pc, OPT_D, "pC"), PO(trap_tau_ms, OPT_D, "ms"), PO(traps, OPT_I, ""),
    PO(traps_e_lo_ev, OPT_D, "eV"), PO(traps_e_hi_ev, OPT_D, "eV"), PO(traps_tau0_s, OPT_D, "s"),
    PO(traps_gamma, OPT_D, ""), PO(traps_sigma_c, OPT_D, "1/V"), PO(traps_theta_lo, OPT_D, ""),
    PO(traps_theta_hi, OPT_D, ""), PO(traps_srh, OPT_B, ""),
    CO(ctrl_range_v, OPT_D, "V"), CO(neighbour_div, OPT_D, ""), CO(ramp_samples, OPT_I, ""),
    CO(rest_samples, OPT_I, ""), CO(adc_noise_v, OPT_D, "V"), CO(adc_bits, OPT_I, ""),
    CO(adc_range_v, OPT_D, "V"), CO(mean_removal, OPT_B, ""), CO(device_per_channel, OPT_B, ""),
};
#define NOPTS ((int)(sizeof opts / sizeof opts[0]))

mt_status mt_rnpu_options_parse(const char *json, mt_rnpu_params *p, mt_rnpu_chain *c, mt_err *err)
{
    if (!json || !*json) return MT_OK;
    cJSON *j = cJSON_Parse(json);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return mt_err_set(err, MT_ERR_ARG, "RNPU options are not a JSON object");
    }
    mt_status s = MT_OK;
    /* base presets first */
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "model");
    if (m) {
        /* device models (docs/rnpu-model.md §1); "default" is v2 */
        static const struct {
            const char *name;
            void (*set)(mt_rnpu_params *);
        } models[] = {{"spec", mt_rnpu_params_spec},
                      {"v1", mt_rnpu_params_v1},
                      {"v2", mt_rnpu_params_default},
                      {"default", mt_rnpu_params_default}};
        int found = -1;
        for (int i = 0; i < (int)(sizeof models / sizeof models[0]); i++)
            if (cJSON_IsString(m) && !strcmp(m->valuestring, models[i].name)) found = i;
        if (found < 0) {
            s = mt_err_set(err, MT_ERR_ARG, "option 'model' must be \"spec\", \"v1\", \"v2\" or \"default\"");
            goto done;
        }
        models[found].set(p);
    }
    const cJSON *pr = cJSON_GetObjectItemCaseSensitive(j, "preset");
    if (pr) {
        if (cJSON_IsString(pr) && strcmp(pr->valuestring, "paper") == 0) {
            c->ctrl_range_v = 0.4, c->neighbour_div = 2.0;
        } else if (cJSON_IsString(pr) && strcmp(pr->valuestring, "code") == 0) {
            c->ctrl_range_v = 0.6, c->neighbour_div = 4.0; /* GSC/measurement.py */
        } else {
            s = mt_err_set(err, MT_ERR_ARG, "option 'preset' must be \"paper\" or \"code\"");
            goto done;
        }
    }
    for (const cJSON *it = j->child; it; it = it->next) {
        const char *k = it->string;
        if (!strcmp(k, "model") || !strcmp(k, "preset")) continue;
        if (!strcmp(k, "law")) {
            if (cJSON_IsString(it) && !strcmp(it->valuestring, "sclc")) p->law = MT_RNPU_LAW_SCLC;
            else if (cJSON_IsString(it) && !strcmp(it->valuestring, "mlp")) p->law = MT_RNPU_LAW_MLP;
            else {
                s = mt_err_set(err, MT_ERR_ARG, "option 'law' must be \"sclc\" or \"mlp\"");
                goto done;
            }
            continue;
        }
        if (!strcmp(k, "gate")) {
            if (cJSON_IsString(it) && !strcmp(it->valuestring, "exp")) p->gate = MT_RNPU_GATE_EXP;
            else if (cJSON_IsString(it) && !strcmp(it->valuestring, "softplus")) p->gate = MT_RNPU_GATE_SOFTPLUS;
            else {
                s = mt_err_set(err, MT_ERR_ARG, "option 'gate' must be \"exp\" or \"softplus\"");
                goto done;
            }
            continue;
        }
        if (!strcmp(k, "mlp_path")) {
            if (!cJSON_IsString(it) || strlen(it->valuestring) >= sizeof p->mlp_path) {
                s = mt_err_set(err, MT_ERR_ARG, "option 'mlp_path' must be a file path string");
                goto done;
            }
            strcpy(p->mlp_path, it->valuestring);
            continue;
        }
        int found = -1;
        for (int i = 0; i < NOPTS; i++)
            if (!strcmp(opts[i].key, k)) found = i;
        if (found < 0) {
            s = mt_err_set(err, MT_ERR_ARG, "unknown RNPU option '%s'", k);
            goto done;
        }
        const opt_def *o = &opts[found];
        char *base = o->chain ? (char *)c : (char *)p;
        if (o->type == OPT_B) {
            if (!cJSON_IsBool(it) && !cJSON_IsNumber(it)) {
                s = mt_err_set(err, MT_ERR_ARG, "option '%s' must be true or false", k);
                goto done;
            }
            *(int *)(base + o->off) = cJSON_IsBool(it) ? cJSON_IsTrue(it) : (it->valuedouble != 0);
        } else {
            if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble)) {
                s = mt_err_set(err, MT_ERR_ARG, "option '%s' must be a finite number", k);
                goto done;
            }
            if (o->type == OPT_I) {
                double v = it->valuedouble;
                if (v != floor(v) || v < -1e9 || v > 1e9) {
                    s = mt_err_set(err, MT_ERR_ARG, "option '%s' must be an integer", k);
                    goto done;
                }
                *(int *)(base + o->off) = (int)v;
            } else {
                *(double *)(base + o->off) = it->valuedouble;
            }
        }
    }
    /* A stored configuration (a features sidecar or a model's front-end record) lists every option
     * (mt_rnpu_options_json).  One written before `mu_a` existed lists all of them but `mu_a`; it
     * meant the input's lever mean to equal mu_b, so read it that way rather than silently taking
     * today's default and building a different device. */
    if (!cJSON_GetObjectItemCaseSensitive(j, "mu_a")) {
        int listed = 0;
        for (int i = 0; i < NOPTS; i++) listed += cJSON_GetObjectItemCaseSensitive(j, opts[i].key) != NULL;
        if (listed == NOPTS - 1) p->mu_a = p->mu_b;
    }
done:
    cJSON_Delete(j);
    return s;
}

char *mt_rnpu_options_json(const mt_rnpu_params *p, const mt_rnpu_chain *c)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "law", p->law == MT_RNPU_LAW_MLP ? "mlp" : "sclc");
    if (p->law == MT_RNPU_LAW_MLP) cJSON_AddStringToObject(j, "mlp_path", p->mlp_path);
    cJSON_AddStringToObject(j, "gate", p->gate == MT_RNPU_GATE_SOFTPLUS ? "softplus" : "exp");
    for (int i = 0; i < NOPTS; i++) {
        const opt_def *o = &opts[i];
        const char *base = o->chain ? (const char *)c : (const char *)p;
        if (o->type == OPT_B) cJSON_AddBoolToObject(j, o->key, *(const int *)(base + o->off));
        else if (o->type == OPT_I) cJSON_AddNumberToObject(j, o->key, *(const int *)(base + o->off));
        else cJSON_AddNumberToObject(j, o->key, *(const double *)(base + o->off));
    }
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}
