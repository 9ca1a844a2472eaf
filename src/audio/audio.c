/* Audio loading (libsndfile), resampling (libsamplerate) and the preprocessing steps of the
 * paper's Methods ("TI-46-Word spoken digit dataset"): amplitude scaled to ±0.75 V, silence
 * trimmed, then fixed to 1 s at 12.5 kS/s. */
#include "materia/audio.h"

#include <math.h>
#include <samplerate.h>
#include <sndfile.h>
#include <stdlib.h>
#include <string.h>

#include "materia/io.h"

static void format_name(int fmt, char *buf, size_t n)
{
    SF_FORMAT_INFO fi;
    const char *major = "?", *sub = "?";
    memset(&fi, 0, sizeof fi);
    fi.format = fmt & SF_FORMAT_TYPEMASK;
    if (sf_command(NULL, SFC_GET_FORMAT_INFO, &fi, sizeof fi) == 0 && fi.name) major = fi.name;
    SF_FORMAT_INFO si;
    memset(&si, 0, sizeof si);
    si.format = fmt & SF_FORMAT_SUBMASK;
    if (sf_command(NULL, SFC_GET_FORMAT_INFO, &si, sizeof si) == 0 && si.name) sub = si.name;
    snprintf(buf, n, "%s / %s", major, sub);
}

static SNDFILE *open_checked(const char *path, SF_INFO *info, mt_err *err)
{
    memset(info, 0, sizeof *info);
    SNDFILE *sf = sf_open(path, SFM_READ, info);
    if (!sf) {
        const char *why = sf_strerror(NULL);
        FILE *fp = fopen(path, "rb");
        long size = -1;
        if (fp) {
            fseek(fp, 0, SEEK_END);
            size = ftell(fp);
            fclose(fp);
        }
        if (size < 0)
            mt_err_set(err, MT_ERR_IO, "%s: cannot open audio file: no such file or not readable", path);
        else if (size == 0)
            mt_err_set(err, MT_ERR_FORMAT, "%s: empty file (0 bytes)", path);
        else
            mt_err_set(err, MT_ERR_FORMAT, "%s: not a readable audio file (%s)", path, why);
        return NULL;
    }
    if (info->frames <= 0) {
        sf_close(sf);
        mt_err_set(err, MT_ERR_FORMAT, "%s: audio file has no samples", path);
        return NULL;
    }
    if (info->samplerate <= 0 || info->channels <= 0) {
        sf_close(sf);
        mt_err_set(err, MT_ERR_FORMAT, "%s: invalid sample rate or channel count in header", path);
        return NULL;
    }
    return sf;
}

mt_status mt_audio_info_read(const char *path, mt_audio_info *ai, mt_err *err)
{
    SF_INFO info;
    SNDFILE *sf = open_checked(path, &info, err);
    if (!sf) return err ? err->code : MT_ERR_FORMAT;
    /* libsndfile tolerates a data chunk that claims more bytes than the file holds (it trims
     * frames); detect it through the log so truncated files are reported. */
    char log[2048];
    sf_command(sf, SFC_GET_LOG_INFO, log, sizeof log);
    sf_close(sf);
    if (strstr(log, "should be") && (strstr(log, "data") || strstr(log, "Length"))) {
        /* e.g. "*** data : 32000 (should be 16000)" */
        return mt_err_set(err, MT_ERR_FORMAT, "%s: truncated or corrupt audio (data chunk size does not match the file)", path);
    }
    ai->rate_hz = info.samplerate;
    ai->frames = info.frames;
    ai->channels = info.channels;
    ai->duration_s = (double)info.frames / info.samplerate;
    format_name(info.format, ai->format, sizeof ai->format);
    return MT_OK;
}

mt_status mt_audio_load(const char *path, int64_t offset, int64_t length, float **x, int64_t *n,
                        double *rate_hz, mt_err *err)
{
    *x = NULL;
    *n = 0;
    SF_INFO info;
    SNDFILE *sf = open_checked(path, &info, err);
    if (!sf) return err ? err->code : MT_ERR_FORMAT;
    if (offset < 0 || offset >= info.frames) {
        sf_close(sf);
        return mt_err_set(err, MT_ERR_ARG, "%s: clip offset %lld outside the file (%lld frames)", path,
                          (long long)offset, (long long)info.frames);
    }
    int64_t len = length < 0 ? info.frames - offset : length;
    if (offset + len > info.frames) len = info.frames - offset;
    if (offset && sf_seek(sf, offset, SEEK_SET) < 0) {
        sf_close(sf);
        return mt_err_set(err, MT_ERR_FORMAT, "%s: cannot seek to frame %lld", path, (long long)offset);
    }
    int ch = info.channels;
    float *buf = malloc((size_t)len * (size_t)ch * sizeof *buf);
    float *mono = malloc((size_t)len * sizeof *mono);
    if (!buf || !mono) {
        free(buf);
        free(mono);
        sf_close(sf);
        return mt_err_set(err, MT_ERR_NOMEM, "%s: cannot allocate %lld samples", path, (long long)len);
    }
    sf_count_t got = sf_readf_float(sf, buf, len);
    int serr = sf_error(sf);
    sf_close(sf);
    if (got <= 0 || serr) {
        free(buf);
        free(mono);
        return mt_err_set(err, MT_ERR_FORMAT, "%s: cannot decode audio samples (corrupt or truncated)", path);
    }
    for (sf_count_t i = 0; i < got; i++) {
        double acc = 0;
        for (int c = 0; c < ch; c++) acc += buf[i * ch + c];
        float v = (float)(acc / ch);
        if (!isfinite(v)) {
            free(buf);
            free(mono);
            return mt_err_set(err, MT_ERR_DATA, "%s: sample %lld is not finite", path, (long long)(offset + i));
        }
        mono[i] = v;
    }
    free(buf);
    *x = mono;
    *n = got;
    if (rate_hz) *rate_hz = info.samplerate;
    return MT_OK;
}

mt_status mt_audio_resample(const float *x, int64_t n, double in_hz, double out_hz, float **y,
                            int64_t *ny, mt_err *err)
{
    *y = NULL;
    *ny = 0;
    if (in_hz <= 0 || out_hz <= 0) return mt_err_set(err, MT_ERR_ARG, "invalid sample rates %g -> %g", in_hz, out_hz);
    double ratio = out_hz / in_hz;
    if (ratio > 256 || ratio < 1.0 / 256)
        return mt_err_set(err, MT_ERR_ARG, "resampling ratio %g out of range", ratio);
    int64_t cap = (int64_t)ceil((double)n * ratio) + 16;
    float *out = malloc((size_t)(cap > 0 ? cap : 1) * sizeof *out);
    if (!out) return mt_err_set(err, MT_ERR_NOMEM, "cannot allocate %lld samples", (long long)cap);
    if (fabs(ratio - 1.0) < 1e-12) {
        memcpy(out, x, (size_t)n * sizeof *out);
        *y = out;
        *ny = n;
        return MT_OK;
    }
    SRC_DATA d;
    memset(&d, 0, sizeof d);
    d.data_in = x;
    d.input_frames = (long)n;
    d.data_out = out;
    d.output_frames = (long)cap;
    d.src_ratio = ratio;
    d.end_of_input = 1;
    int e = src_simple(&d, SRC_SINC_BEST_QUALITY, 1);
    if (e) {
        free(out);
        return mt_err_set(err, MT_ERR_INTERNAL, "resampling failed: %s", src_strerror(e));
    }
    /* Length: exactly round(n · ratio) samples (libsamplerate may produce a few less at the end;
     * pad those with the last value's decay = zeros). */
    int64_t want = (int64_t)llround((double)n * ratio);
    if (want > cap) want = cap;
    for (int64_t i = d.output_frames_gen; i < want; i++) out[i] = 0.0f;
    *y = out;
    *ny = want;
    return MT_OK;
}

void mt_audio_scale_peak(const float *x, int64_t n, float peak, float *y)
{
    float m = 0;
    for (int64_t i = 0; i < n; i++) m = fmaxf(m, fabsf(x[i]));
    float g = (m > 0) ? peak / m : 0.0f;
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * g;
}

void mt_audio_trim_abs(const float *x, int64_t n, float thresh, int64_t *start, int64_t *end)
{
    int64_t s = 0, e = n;
    while (s < n && fabsf(x[s]) < thresh) s++;
    while (e > s && fabsf(x[e - 1]) < thresh) e--;
    *start = s;
    *end = e;
}

void mt_audio_trim_db(const float *x, int64_t n, double top_db, int frame_len, int hop,
                      int64_t *start, int64_t *end)
{
    /* librosa.effects.trim (≥ 0.10): centre-padded frames (frame_len/2 zeros each side), frame k
     * covers padded samples [k·hop, k·hop + frame_len), k = 0 … floor(n / hop). */
    int64_t nf = n / hop + 1, pad = frame_len / 2;
    double maxr = 0;
    double *rms = malloc((size_t)nf * sizeof *rms);
    if (!rms) {
        *start = 0;
        *end = n;
        return;
    }
    for (int64_t k = 0; k < nf; k++) {
        double acc = 0;
        for (int j = 0; j < frame_len; j++) {
            int64_t i = k * hop + j - pad;
            if (i >= 0 && i < n) acc += (double)x[i] * x[i];
        }
        rms[k] = sqrt(acc / frame_len);
        if (rms[k] > maxr) maxr = rms[k];
    }
    double ref_db = 20.0 * log10(fmax(maxr, 1e-5));
    int64_t first = -1, last = -1;
    for (int64_t k = 0; k < nf; k++) {
        double db = 20.0 * log10(fmax(rms[k], 1e-5)) - ref_db;
        if (db > -top_db) {
            if (first < 0) first = k;
            last = k;
        }
    }
    free(rms);
    if (first < 0) {
        *start = *end = 0;
        return;
    }
    *start = first * hop;
    int64_t e = (last + 1) * hop;
    *end = e < n ? e : n;
    if (*start > *end) *start = *end;
}

void mt_audio_fix_length(const float *x, int64_t n, int64_t len, float *y)
{
    int64_t m = n < len ? n : len;
    memmove(y, x, (size_t)m * sizeof *y);
    for (int64_t i = m; i < len; i++) y[i] = 0.0f;
}

mt_audio_prep mt_audio_prep_default(void)
{
    mt_audio_prep p = {
        .rate_hz = 12500.0, .peak_v = 0.75f, .trim = MT_TRIM_ABS, .trim_abs_v = 0.05f,
        .trim_db = 12.0, .length = 12500,
    };
    return p;
}

mt_status mt_audio_prepare_buffer(const float *x, int64_t n, double in_hz,
                                  const mt_audio_prep *prep, float **y, int64_t *ny, mt_err *err)
{
    *y = NULL;
    *ny = 0;
    float *a;
    int64_t na;
    mt_status s;
    if (prep->rate_hz > 0 && fabs(prep->rate_hz - in_hz) > 1e-9) {
        s = mt_audio_resample(x, n, in_hz, prep->rate_hz, &a, &na, err);
        if (s) return s;
    } else {
        a = malloc((size_t)n * sizeof *a);
        if (!a) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
        memcpy(a, x, (size_t)n * sizeof *a);
        na = n;
    }
    if (prep->peak_v > 0) mt_audio_scale_peak(a, na, prep->peak_v, a);
    int64_t s0 = 0, s1 = na;
    if (prep->trim == MT_TRIM_ABS) mt_audio_trim_abs(a, na, prep->trim_abs_v, &s0, &s1);
    else if (prep->trim == MT_TRIM_DB) mt_audio_trim_db(a, na, prep->trim_db, 128, 4, &s0, &s1);
    if (s1 <= s0) { /* all silent: keep the untrimmed signal rather than an empty one */
        s0 = 0;
        s1 = na;
    }
    int64_t len = prep->length > 0 ? prep->length : (s1 - s0);
    float *out = malloc((size_t)(len > 0 ? len : 1) * sizeof *out);
    if (!out) {
        free(a);
        return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    }
    mt_audio_fix_length(a + s0, s1 - s0, len, out);
    free(a);
    *y = out;
    *ny = len;
    return MT_OK;
}

mt_status mt_audio_prepare(const char *path, int64_t offset, int64_t length,
                           const mt_audio_prep *prep, float **y, int64_t *ny, mt_err *err)
{
    float *x;
    int64_t n;
    double rate;
    mt_status s = mt_audio_load(path, offset, length, &x, &n, &rate, err);
    if (s) return s;
    s = mt_audio_prepare_buffer(x, n, rate, prep, y, ny, err);
    free(x);
    if (s) return mt_err_prefix(err, s, "%s", path);
    return MT_OK;
}

mt_status mt_audio_write_wav(const char *path, const float *x, int64_t n, double rate_hz, mt_err *err)
{
    mt_atomic_file af;
    mt_status s = mt_atomic_open(&af, path, err);
    if (s) return s;
    fclose(af.fp); /* libsndfile writes the temp file itself */
    af.fp = NULL;
    SF_INFO info;
    memset(&info, 0, sizeof info);
    info.samplerate = (int)lround(rate_hz);
    info.channels = 1;
    info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    SNDFILE *sf = sf_open(af.tmp, SFM_WRITE, &info);
    if (!sf) {
        mt_atomic_abort(&af);
        return mt_err_set(err, MT_ERR_IO, "%s: cannot write WAV: %s", path, sf_strerror(NULL));
    }
    /* Clip explicitly rather than wrap. */
    sf_command(sf, SFC_SET_CLIPPING, NULL, SF_TRUE);
    sf_count_t w = sf_writef_float(sf, x, n);
    int e = sf_close(sf);
    if (w != n || e) {
        mt_atomic_abort(&af);
        return mt_err_set(err, MT_ERR_IO, "%s: WAV write failed", path);
    }
    if (rename(af.tmp, af.path) != 0) {
        mt_atomic_abort(&af);
        return mt_err_set(err, MT_ERR_IO, "%s: cannot rename into place", path);
    }
    return MT_OK;
}
