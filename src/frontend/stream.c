/* Streaming front-ends: the common layer over the per-front-end hooks (frontend_impl.h), and the
 * biquad-bank helper used by lowpass and gammatone[-tanh].
 *
 * The common layer checks the samples, keeps the audio of an incomplete output frame (fewer than
 * D = stream_group samples) and hands the hook whole frames only:
 *
 *   pending p [np < D] ++ x [n]  →  G = (np + n) / D frames from the first G·D samples,
 *                                    the last (np + n) − G·D samples become the new pending.
 *
 * Since every front-end here works sample by sample (causal filters, the RNPU's device steps)
 * and averages whole groups of D samples, running whole frames through the hook in any number of
 * calls reproduces mt_frontend_process on the whole signal exactly.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dsp.h"
#include "frontend_impl.h"

struct mt_frontend_stream {
    const mt_frontend_ops *ops;
    void *hook;       /* the front-end's stream state */
    int channels;     /* C */
    int group;        /* D: input samples per output frame */
    int mean_removal; /* the batch path removes the per-utterance channel mean */
    float *pend;      /* [D] samples of the incomplete frame */
    int npend;
    float *xin;       /* [chunk] assembled whole-frame input */
    int64_t chunk;    /* samples per hook call (a multiple of D) */
    int64_t samples;  /* pushed so far */
};

int mt_frontend_can_stream(const mt_frontend *fe)
{
    const mt_frontend_ops *o = mt_fe_ops_of(fe);
    return o->stream_create && o->stream_run && o->stream_group && o->stream_destroy;
}

void mt_frontend_stream_free(mt_frontend_stream *s)
{
    if (!s) return;
    if (s->hook) s->ops->stream_destroy(s->hook);
    free(s->pend);
    free(s->xin);
    free(s);
}

mt_status mt_frontend_stream_create(const mt_frontend *fe, uint64_t utt, mt_frontend_stream **out,
                                    mt_err *err)
{
    *out = NULL;
    if (!mt_frontend_can_stream(fe))
        return mt_err_set(err, MT_ERR_ARG,
                          "front-end '%s' cannot stream (it needs the whole utterance or overlapping "
                          "windows): recompute each window with mt_frontend_process",
                          mt_frontend_name(fe));
    const mt_frontend_ops *o = mt_fe_ops_of(fe);
    const void *st = mt_fe_state_of(fe);
    mt_frontend_stream *s = calloc(1, sizeof *s);
    if (!s) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    s->ops = o;
    s->channels = o->channels(st);
    s->group = o->stream_group(st);
    s->mean_removal = o->stream_mean_removal ? o->stream_mean_removal(st) : 0;
    if (s->group < 1) {
        int g = s->group;
        free(s);
        return mt_err_set(err, MT_ERR_INTERNAL, "front-end '%s': stream group %d < 1", o->name, g);
    }
    /* about 4,096 samples of whole frames per hook call */
    s->chunk = (int64_t)s->group * (4096 / s->group > 0 ? 4096 / s->group : 1);
    s->pend = malloc(sizeof(float) * (size_t)s->group);
    s->xin = malloc(sizeof(float) * (size_t)s->chunk);
    if (!s->pend || !s->xin) {
        mt_frontend_stream_free(s);
        return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    }
    mt_status r = o->stream_create(st, utt, &s->hook, err);
    if (r) {
        s->hook = NULL;
        mt_frontend_stream_free(s);
        return mt_err_prefix(err, r, "front-end '%s' stream", o->name);
    }
    *out = s;
    return MT_OK;
}

int64_t mt_frontend_stream_out_len(const mt_frontend_stream *s, int64_t n)
{
    return n > 0 ? (s->npend + n) / s->group : 0;
}

int64_t mt_frontend_stream_samples(const mt_frontend_stream *s) { return s->samples; }
int mt_frontend_stream_group(const mt_frontend_stream *s) { return s->group; }
int mt_frontend_stream_mean_removal(const mt_frontend_stream *s) { return s->mean_removal; }

mt_status mt_frontend_stream_push(mt_frontend_stream *s, const float *x, int64_t n, float *out,
                                  int64_t cap, int64_t *nout, mt_err *err)
{
    *nout = 0;
    if (n < 0) return mt_err_set(err, MT_ERR_ARG, "negative sample count %lld", (long long)n);
    if (n == 0) return MT_OK;
    for (int64_t i = 0; i < n; i++)
        if (!(x[i] == x[i]) || x[i] > 1e30f || x[i] < -1e30f)
            return mt_err_set(err, MT_ERR_DATA, "audio sample %lld is not finite",
                              (long long)(s->samples + i));
    const int D = s->group;
    const int64_t np = s->npend, avail = np + n, G = avail / D;
    if (G > cap)
        return mt_err_set(err, MT_ERR_ARG, "output capacity %lld frames is below the %lld frames of this push",
                          (long long)cap, (long long)G);
    if (G == 0) { /* still inside one frame */
        memcpy(s->pend + np, x, sizeof(float) * (size_t)n);
        s->npend += (int)n;
        s->samples += n;
        return MT_OK;
    }
    for (int64_t done = 0; done < G * D; done += s->chunk) { /* done: index into pend ++ x */
        const int64_t m = G * D - done < s->chunk ? G * D - done : s->chunk;
        const float *src;
        if (done >= np) {
            src = x + (done - np); /* wholly inside x: no copy */
        } else {
            for (int64_t i = 0; i < m; i++) {
                int64_t v = done + i;
                s->xin[i] = v < np ? s->pend[v] : x[v - np];
            }
            src = s->xin;
        }
        mt_status r = s->ops->stream_run(s->hook, src, m / D, out + done / D, G, err);
        if (r) return mt_err_prefix(err, r, "front-end '%s' stream", s->ops->name);
    }
    /* G ≥ 1, so G·D ≥ D > np: the new incomplete frame lies wholly in x */
    s->npend = (int)(avail - G * D);
    memcpy(s->pend, x + (G * D - np), sizeof(float) * (size_t)s->npend);
    s->samples += n;
    *nout = G;
    return MT_OK;
}

/* ---- biquad-bank helper ------------------------------------------------------------------ */

typedef struct sos_stream {
    int nsec, channels, decim, tanh_mode;
    double gain, offset, scale;
    mt_fe_biquad *q; /* [C][nsec] */
    double *z;       /* [C][nsec][2] transposed-direct-form-II state (z1, z2) */
    double *y;       /* scratch [4096] */
} sos_stream;

#define SOS_SCRATCH 4096

void mt_fe_sos_stream_free(void *stream)
{
    sos_stream *s = stream;
    if (!s) return;
    free(s->q);
    free(s->z);
    free(s->y);
    free(s);
}

mt_status mt_fe_sos_stream_create(const struct mt_fe_biquad *q, int nsec, int channels, int decim,
                                  int tanh_mode, double gain, double offset, double scale,
                                  void **stream, mt_err *err)
{
    *stream = NULL;
    if (nsec < 1 || channels < 1 || decim < 1 || decim > SOS_SCRATCH)
        return mt_err_set(err, MT_ERR_ARG, "biquad stream: bad shape (%d sections, %d channels, decim %d)",
                          nsec, channels, decim);
    sos_stream *s = calloc(1, sizeof *s);
    if (!s) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    s->nsec = nsec;
    s->channels = channels;
    s->decim = decim;
    s->tanh_mode = tanh_mode;
    s->gain = gain;
    s->offset = offset;
    s->scale = scale;
    const size_t ns = (size_t)channels * (size_t)nsec;
    s->q = malloc(sizeof *s->q * ns);
    s->z = calloc(2 * ns, sizeof *s->z); /* zero initial state, as mt_fe_biquad_run */
    s->y = malloc(sizeof *s->y * SOS_SCRATCH);
    if (!s->q || !s->z || !s->y) {
        mt_fe_sos_stream_free(s);
        return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    }
    memcpy(s->q, q, sizeof *s->q * ns);
    *stream = s;
    return MT_OK;
}

mt_status mt_fe_sos_stream_run(void *stream, const float *x, int64_t ngroups, float *out,
                               int64_t ostride, mt_err *err)
{
    (void)err;
    sos_stream *s = stream;
    const int D = s->decim;
    const int64_t per = SOS_SCRATCH / D; /* frames per scratch fill */
    for (int c = 0; c < s->channels; c++) {
        for (int64_t g0 = 0; g0 < ngroups; g0 += per) {
            const int64_t gn = ngroups - g0 < per ? ngroups - g0 : per, m = gn * D;
            const float *xc = x + g0 * D;
            double *y = s->y;
            for (int64_t i = 0; i < m; i++) y[i] = xc[i];
            mt_fe_biquad_run_state(&s->q[(size_t)c * s->nsec], s->nsec, y, m, &s->z[2 * (size_t)c * s->nsec]);
            if (s->tanh_mode)
                for (int64_t i = 0; i < m; i++) y[i] = s->scale * tanh(s->gain * y[i] + s->offset);
            mt_fe_decimate_mean_d(y, m, D, out + (int64_t)c * ostride + g0);
        }
    }
    return MT_OK;
}
