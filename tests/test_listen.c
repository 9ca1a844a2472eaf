/* Streaming front-ends (mt_frontend_stream_*, mt_rnpu_fx_stream_*) and `materia listen`.
 *
 * Library: a signal pushed in seeded random block sizes (0, 1, below and above the decimation,
 * thousands) gives bit for bit the frames of mt_frontend_process on the whole signal without
 * mean removal, for every front-end with a streaming hook and the RNPU's kernel paths (SIMD,
 * scalar with device noise, traps, per-channel devices, padding lanes, odd decimation).
 * CLI: a tiny model (linear on pooled features, whose outputs follow its input closely) trained on
 * a synthetic corpus (`materia synth digits`), a WAV of utterances
 * separated by silence, `listen --json` decision counts / rtf / labels, stdin == WAV, block-size
 * independence, window mode, and clear errors. */
#include "testutil.h"

#include <math.h>

#include <cjson/cJSON.h>
#include <sndfile.h>

#include "materia/audio.h"
#include "materia/features.h"
#include "materia/frontend.h"
#include "materia/nn.h"
#include "materia/rng.h"
#include "materia/rnpu.h"

/* A speech-like test signal: two tones with a slow envelope plus seeded noise, ±0.75 V. */
static void make_signal(float *x, int64_t n, uint64_t seed)
{
    mt_rng r;
    mt_rng_init(&r, seed, 1);
    for (int64_t i = 0; i < n; i++) {
        double t = (double)i / 12500.0;
        double env = 0.5 + 0.5 * sin(2 * M_PI * 3.0 * t);
        x[i] = (float)(0.75 * env * (0.6 * sin(2 * M_PI * 180 * t) + 0.3 * sin(2 * M_PI * 1130 * t)) +
                       0.05 * mt_rng_normal(&r));
    }
}

/* Push x[n] through a new stream in random blocks (sizes from seed); frames into out [C, T]. */
static void stream_all(const mt_frontend *fe, const float *x, int64_t n, uint64_t utt, uint64_t seed,
                       float *out, int64_t T)
{
    const int C = mt_frontend_channels(fe);
    mt_err e = {0};
    mt_frontend_stream *s;
    assert_int_equal(mt_frontend_stream_create(fe, utt, &s, &e), MT_OK);
    mt_rng r;
    mt_rng_init(&r, seed, 2);
    const int64_t cap = 4000;
    float *blk = malloc(sizeof(float) * (size_t)C * (size_t)cap);
    int64_t pos = 0, t = 0;
    while (pos < n) {
        /* mostly small and odd sizes, sometimes 0, sometimes large */
        int64_t b;
        switch (mt_rng_below(&r, 6)) {
        case 0: b = 0; break;
        case 1: b = 1 + (int64_t)mt_rng_below(&r, 9); break;
        case 2: b = 2500 + (int64_t)mt_rng_below(&r, 1500); break;
        default: b = 1 + (int64_t)mt_rng_below(&r, 1300); break;
        }
        if (b > n - pos) b = n - pos;
        int64_t want = mt_frontend_stream_out_len(s, b), nout = -1;
        if (mt_frontend_stream_push(s, x + pos, b, blk, cap, &nout, &e)) fail_msg("push: %s", e.msg);
        assert_int_equal(nout, want);
        assert_true(t + nout <= T);
        for (int c = 0; c < C; c++) memcpy(out + (size_t)c * T + t, blk + (size_t)c * nout, sizeof(float) * (size_t)nout);
        t += nout;
        pos += b;
        assert_int_equal(mt_frontend_stream_samples(s), pos);
    }
    assert_int_equal(t, T);
    free(blk);
    mt_frontend_stream_free(s);
}

typedef struct fe_case {
    const char *name;
    int channels, decim;
    const char *params;
} fe_case;

static void check_case(const fe_case *k)
{
    mt_err e = {0};
    mt_frontend *fe;
    mt_frontend_cfg cfg = {.name = k->name, .channels = k->channels, .seed = 11, .decim = k->decim, .params_json = k->params};
    if (mt_frontend_create(&cfg, &fe, &e)) fail_msg("%s: %s", k->name, e.msg);
    assert_true(mt_frontend_can_stream(fe));
    const int64_t n = 9013; /* not a multiple of any decimation */
    float *x = malloc(sizeof(float) * n);
    make_signal(x, n, 5);
    const int C = mt_frontend_channels(fe);
    const int64_t T = mt_frontend_out_len(fe, n);
    float *ref = malloc(sizeof(float) * (size_t)C * (size_t)T), *got = malloc(sizeof(float) * (size_t)C * (size_t)T);
    assert_int_equal(mt_frontend_process(fe, x, n, 3, ref, &e), MT_OK);
    for (uint64_t seed = 1; seed <= 3; seed++) {
        memset(got, 0xff, sizeof(float) * (size_t)C * (size_t)T); /* NaN: every frame must be written */
        stream_all(fe, x, n, 3, seed, got, T);
        for (int64_t i = 0; i < C * T; i++)
            if (memcmp(&ref[i], &got[i], sizeof(float)) != 0)
                fail_msg("%s %s: frame [%lld, %lld] batch %.9g stream %.9g (block seed %llu)", k->name,
                         k->params ? k->params : "", (long long)(i / T), (long long)(i % T), ref[i], got[i],
                         (unsigned long long)seed);
    }
    free(x);
    free(ref);
    free(got);
    mt_frontend_free(fe);
}

/* rnpu without mean removal: SIMD kernel, scalar kernel (device noise), traps with an odd
 * decimation and a partial lane block, per-channel softplus devices. */
static void rnpu_stream_equals_batch(void **st)
{
    (void)st;
    static const fe_case cases[] = {
        {"rnpu", 64, 0, "{\"mean_removal\": false, \"cal_sets\": 8}"},
        {"rnpu", 20, 0, "{\"mean_removal\": false, \"cal_sets\": 8, \"noise_a2hz\": 1e-30}"},
        {"rnpu", 17, 7, "{\"mean_removal\": false, \"cal_sets\": 8, \"trap\": true, \"traps\": 2}"},
        {"rnpu", 5, 0, "{\"mean_removal\": false, \"cal_sets\": 8, \"gate\": \"softplus\", \"device_per_channel\": true}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(&cases[i]);
}

static void other_streams_equal_batch(void **st)
{
    (void)st;
    static const fe_case cases[] = {
        {"raw", 1, 0, NULL},       {"raw", 1, 10, NULL},          {"lowpass", 8, 0, NULL},
        {"lowpass", 6, 13, "{\"preset\": \"wide\"}"}, {"gammatone", 8, 0, NULL}, {"gammatone-tanh", 8, 0, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(&cases[i]);
}

/* The RNPU chain's own stream: any n (not whole groups), the scalar reference path, and the
 * batch mean removal is exactly the per-channel mean of the stream's frames. */
static void rnpu_chain_stream(void **st)
{
    (void)st;
    mt_rnpu_params p;
    mt_rnpu_chain c;
    mt_rnpu_params_default(&p);
    mt_rnpu_chain_default(&c);
    p.cal_sets = 8;
    c.channels = 18;
    mt_err e = {0};
    mt_rnpu_fx *fx;
    assert_int_equal(mt_rnpu_fx_create(&p, &c, 4, &fx, &e), MT_OK);
    enum { N = 5005, T = 500, C = 18 };
    float *x = malloc(sizeof(float) * N), *mr = malloc(sizeof(float) * C * T), *ref = malloc(sizeof(float) * C * T),
          *got = malloc(sizeof(float) * C * T), *blk = malloc(sizeof(float) * C * 400);
    make_signal(x, N, 9);
    assert_int_equal(mt_rnpu_fx_process(fx, x, N, 2, mr, 1, &e), MT_OK); /* with mean removal */
    mt_rnpu_fx *fx0;
    c.mean_removal = 0;
    assert_int_equal(mt_rnpu_fx_create(&p, &c, 4, &fx0, &e), MT_OK);
    assert_int_equal(mt_rnpu_fx_process(fx0, x, N, 2, ref, 1, &e), MT_OK);
    mt_rnpu_fx_stream *s;
    assert_int_equal(mt_rnpu_fx_stream_create(fx, 2, 1, &s, &e), MT_OK); /* fx: the stream ignores mean_removal */
    int64_t pos = 0, t = 0;
    for (int b = 3; pos < N; b = b * 7 % 3001 + 1) {
        int64_t m = b < N - pos ? b : N - pos, nout;
        if (m / 10 > 400) m = 400 * 10 - 3;
        assert_int_equal(mt_rnpu_fx_stream_push(s, x + pos, m, blk, 400, &nout, &e), MT_OK);
        for (int ch = 0; ch < C; ch++) memcpy(got + ch * T + t, blk + ch * 400, sizeof(float) * (size_t)nout);
        t += nout;
        pos += m;
    }
    assert_int_equal(t, T);
    assert_int_equal(mt_rnpu_fx_stream_samples(s), N);
    assert_memory_equal(ref, got, sizeof(float) * C * T);
    for (int ch = 0; ch < C; ch++) {
        double mean = 0;
        for (int i = 0; i < T; i++) mean += got[ch * T + i];
        mean /= T;
        for (int i = 0; i < T; i++) assert_true(mr[ch * T + i] == (float)(got[ch * T + i] - mean));
    }
    /* too small an output stride: refused, nothing consumed */
    int64_t nout;
    assert_int_equal(mt_rnpu_fx_stream_push(s, x, 2000, blk, 10, &nout, &e), MT_ERR_ARG);
    assert_int_equal(mt_rnpu_fx_stream_samples(s), N);
    mt_rnpu_fx_stream_free(s);
    mt_rnpu_fx_free(fx);
    mt_rnpu_fx_free(fx0);
    free(x), free(mr), free(ref), free(got), free(blk);
}

/* Different utterance keys give different ADC noise; the same key the same frames. */
static void stream_utt_and_errors(void **st)
{
    (void)st;
    mt_err e = {0};
    mt_frontend *fe;
    mt_frontend_cfg cfg = {.name = "rnpu", .channels = 4, .seed = 1, .params_json = "{\"cal_sets\": 8}"};
    assert_int_equal(mt_frontend_create(&cfg, &fe, &e), MT_OK);
    mt_frontend_stream *a, *b;
    assert_int_equal(mt_frontend_stream_create(fe, 1, &a, &e), MT_OK);
    assert_int_equal(mt_frontend_stream_create(fe, 2, &b, &e), MT_OK);
    assert_int_equal(mt_frontend_stream_group(a), 10);
    assert_int_equal(mt_frontend_stream_mean_removal(a), 1); /* rnpu default: the caller removes it */
    float x[1000], oa[4 * 100], ob[4 * 100];
    make_signal(x, 1000, 2);
    int64_t na, nb;
    assert_int_equal(mt_frontend_stream_push(a, x, 1000, oa, 100, &na, &e), MT_OK);
    assert_int_equal(mt_frontend_stream_push(b, x, 1000, ob, 100, &nb, &e), MT_OK);
    assert_int_equal(na, 100);
    assert_true(memcmp(oa, ob, sizeof oa) != 0);
    /* capacity too small and a NaN: refused with clear errors, nothing consumed */
    assert_int_equal(mt_frontend_stream_push(a, x, 1000, oa, 99, &na, &e), MT_ERR_ARG);
    assert_non_null(strstr(e.msg, "capacity"));
    x[37] = NAN;
    assert_int_equal(mt_frontend_stream_push(a, x, 1000, oa, 100, &na, &e), MT_ERR_DATA);
    assert_non_null(strstr(e.msg, "1037")); /* absolute sample index */
    assert_int_equal(mt_frontend_stream_samples(a), 1000);
    mt_frontend_stream_free(a);
    mt_frontend_stream_free(b);
    mt_frontend_free(fe);
    /* windowed front-ends cannot stream */
    mt_frontend_cfg lm = {.name = "logmel"};
    assert_int_equal(mt_frontend_create(&lm, &fe, &e), MT_OK);
    assert_false(mt_frontend_can_stream(fe));
    assert_int_equal(mt_frontend_stream_create(fe, 0, &a, &e), MT_ERR_ARG);
    assert_null(a);
    assert_non_null(strstr(e.msg, "logmel"));
    mt_frontend_free(fe);
}

/* ---- CLI ----------------------------------------------------------------------------------- */

typedef struct cli_fixture {
    char dir[64], model[128], wav[128], f32[128], s16[128], nan[128];
    int64_t n;          /* samples of the long recording at 12.5 kHz */
    char **names;       /* the model's class names */
    int nnames;
} cli_fixture;

/* Tiny corpus → 8-channel RNPU features → a 10-epoch linear classifier; a long recording of six utterances with
 * silence between them, written as a 16-bit WAV at 12.5 kHz and the same samples as raw
 * little-endian f32 and s16 (plus an f32 copy with a NaN). */
static int cli_setup(void **state)
{
    cli_fixture *f = calloc(1, sizeof *f);
    tu_tmpdir(f->dir, sizeof f->dir);
    char a[1024];
    snprintf(a, sizeof a, "synth digits --out %s/c --speakers 1 --reps 2 --seed 2 --quiet", f->dir);
    if (tu_run(a, NULL, 0)) fail_msg("synth failed");
    snprintf(a, sizeof a,
             "features --data %s/c --layout fsdd --split stratified --test-frac 0.2 --frontend rnpu --channels 8 "
             "--params '{\"cal_sets\": 8}' --out %s/f.npy --quiet", f->dir, f->dir);
    if (tu_run(a, NULL, 0)) fail_msg("features failed");
    snprintf(f->model, sizeof f->model, "%s/m.safetensors", f->dir);
    snprintf(a, sizeof a, "train --features %s/f.npy --model 'bn,maxpool10,fc' --epochs 10 --out %s --quiet",
             f->dir, f->model);
    if (tu_run(a, NULL, 0)) fail_msg("train failed");
    /* class names from the model's metadata */
    mt_err e = {0};
    mt_model m;
    char *meta = NULL;
    if (mt_model_load(f->model, &m, &meta, &e)) fail_msg("%s", e.msg);
    cJSON *j = cJSON_Parse(meta);
    cJSON *cn = cJSON_GetObjectItem(j, "class_names");
    f->nnames = cJSON_GetArraySize(cn);
    assert_true(f->nnames == 10);
    f->names = calloc((size_t)f->nnames, sizeof *f->names);
    for (int i = 0; i < f->nnames; i++) f->names[i] = strdup(cJSON_GetArrayItem(cn, i)->valuestring);
    cJSON_Delete(j);
    free(meta);
    mt_model_free(&m);
    /* the long recording */
    static const char *const utts[] = {"3_enusf1_0", "7_enusf1_1", "0_enusf1_0", "5_enusf1_1", "9_enusf1_0", "1_enusf1_1"};
    const int64_t sil = 7500, cap = 12500 * 40;
    float *x = calloc((size_t)cap, sizeof *x);
    int64_t n = 10000; /* 0.8 s of silence first */
    for (size_t u = 0; u < sizeof utts / sizeof utts[0]; u++) {
        char path[256];
        snprintf(path, sizeof path, "%s/c/%s.wav", f->dir, utts[u]);
        float *y = NULL, *z = NULL;
        int64_t ny, nz;
        double fr;
        if (mt_audio_load(path, 0, -1, &y, &ny, &fr, &e)) fail_msg("%s", e.msg);
        if (mt_audio_resample(y, ny, fr, 12500, &z, &nz, &e)) fail_msg("%s", e.msg);
        mt_audio_scale_peak(z, nz, 0.9f, z);
        assert_true(n + nz + sil < cap);
        memcpy(x + n, z, sizeof(float) * (size_t)nz);
        n += nz + sil;
        free(y);
        free(z);
    }
    n += 333; /* not a whole number of hops */
    f->n = n;
    short *q = malloc(sizeof(short) * (size_t)n);
    for (int64_t i = 0; i < n; i++) q[i] = (short)lrintf(fmaxf(-1.0f, fminf(1.0f, x[i])) * 32767.0f);
    snprintf(f->wav, sizeof f->wav, "%s/long.wav", f->dir);
    SF_INFO info = {.samplerate = 12500, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *sf = sf_open(f->wav, SFM_WRITE, &info);
    assert_non_null(sf);
    assert_int_equal(sf_write_short(sf, q, n), n);
    sf_close(sf);
    snprintf(f->f32, sizeof f->f32, "%s/long.f32", f->dir);
    snprintf(f->s16, sizeof f->s16, "%s/long.s16", f->dir);
    snprintf(f->nan, sizeof f->nan, "%s/nan.f32", f->dir);
    FILE *o32 = fopen(f->f32, "wb"), *o16 = fopen(f->s16, "wb"), *on = fopen(f->nan, "wb");
    for (int64_t i = 0; i < n; i++) { /* little-endian, as the machine is */
        float v = (float)q[i] / 32768.0f, nv = i == 20000 ? NAN : v;
        fwrite(&v, 4, 1, o32);
        fwrite(&q[i], 2, 1, o16);
        fwrite(&nv, 4, 1, on);
    }
    fclose(o32);
    fclose(o16);
    fclose(on);
    free(q);
    free(x);
    *state = f;
    return 0;
}

static int cli_teardown(void **state)
{
    cli_fixture *f = *state;
    tu_rmrf(f->dir);
    for (int i = 0; i < f->nnames; i++) free(f->names[i]);
    free(f->names);
    free(f);
    return 0;
}

static cJSON *run_json(const char *args)
{
    char *out = NULL;
    int rc = tu_run(args, &out, 0);
    if (rc) fail_msg("listen failed (%d): %s\n%s", rc, args, out);
    cJSON *j = cJSON_Parse(out);
    if (!j) fail_msg("not JSON: %s", out);
    free(out);
    return j;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItem(o, k);
    if (!cJSON_IsNumber(v)) fail_msg("missing number '%s'", k);
    return v->valuedouble;
}

/* The same decisions (times, labels, probabilities exactly). */
static void same_decisions(const cJSON *a, const cJSON *b)
{
    const cJSON *da = cJSON_GetObjectItem(a, "decisions"), *db = cJSON_GetObjectItem(b, "decisions");
    assert_int_equal(cJSON_GetArraySize(da), cJSON_GetArraySize(db));
    for (int i = 0; i < cJSON_GetArraySize(da); i++) {
        const cJSON *x = cJSON_GetArrayItem(da, i), *y = cJSON_GetArrayItem(db, i);
        assert_true(num(x, "t_s") == num(y, "t_s"));
        assert_string_equal(cJSON_GetObjectItem(x, "label")->valuestring, cJSON_GetObjectItem(y, "label")->valuestring);
        if (num(x, "p") != num(y, "p")) fail_msg("decision %d: p %.17g vs %.17g", i, num(x, "p"), num(y, "p"));
    }
}

static void cli_listen_json(void **state)
{
    cli_fixture *f = *state;
    char a[1024];
    snprintf(a, sizeof a, "listen --model %s --input %s --json --quiet", f->model, f->wav);
    cJSON *j = run_json(a);
    assert_string_equal(cJSON_GetObjectItem(j, "mode")->valuestring, "stream");
    const double audio_s = num(j, "audio_s"), window_s = num(j, "window_s"), hop_s = num(j, "hop_s");
    assert_true(fabs(audio_s - (double)f->n / 12500) < 1e-9);
    assert_true(window_s == 1.0 && hop_s == 0.25 && num(j, "rate_hz") == 12500);
    const cJSON *d = cJSON_GetObjectItem(j, "decisions");
    const int nd = cJSON_GetArraySize(d);
    assert_int_equal(nd, (int)floor((audio_s - window_s) / hop_s + 1e-9) + 1);
    assert_int_equal(nd, (int)((f->n - 12500) / 3125 + 1));
    const double rtf = num(j, "rtf");
    assert_true(rtf > 0 && isfinite(rtf));
    const cJSON *lat = cJSON_GetObjectItem(j, "latency_ms");
    assert_true(num(lat, "mean") > 0 && num(lat, "max") >= num(lat, "mean") && isfinite(num(lat, "max")));
    for (int i = 0; i < nd; i++) {
        const cJSON *x = cJSON_GetArrayItem(d, i);
        assert_true(fabs(num(x, "t_s") - (1.0 + 0.25 * i)) < 1e-9);
        const double p = num(x, "p");
        assert_true(p >= 1.0 / f->nnames - 1e-9 && p <= 1.0);
        const char *lab = cJSON_GetObjectItem(x, "label")->valuestring;
        int known = 0;
        for (int k = 0; k < f->nnames; k++) known |= strcmp(lab, f->names[k]) == 0;
        if (!known) fail_msg("decision %d: label '%s' is not a class of the model", i, lab);
    }
    /* no threshold: every decision is a detection (no _silence_/_unknown_ in digits) */
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "detections")), nd);

    /* stdin, raw f32 and s16, and other block sizes: the same decisions */
    snprintf(a, sizeof a, "listen --model %s --input - --format f32 --json < %s", f->model, f->f32);
    cJSON *k = run_json(a);
    same_decisions(j, k);
    cJSON_Delete(k);
    snprintf(a, sizeof a, "listen --model %s --input - --format s16 --block 777 --json < %s", f->model, f->s16);
    k = run_json(a);
    same_decisions(j, k);
    assert_true(num(k, "block") == 777);
    cJSON_Delete(k);
    snprintf(a, sizeof a, "listen --model %s --input %s --block 4099 --json --quiet", f->model, f->wav);
    k = run_json(a);
    same_decisions(j, k);
    cJSON_Delete(k);
    /* a threshold above every probability: no detections; at the lowest one all */
    snprintf(a, sizeof a, "listen --model %s --input %s --threshold 1 --json --quiet", f->model, f->wav);
    k = run_json(a);
    double pmax = 0;
    for (int i = 0; i < nd; i++) pmax = fmax(pmax, num(cJSON_GetArrayItem(d, i), "p"));
    int ndet = cJSON_GetArraySize(cJSON_GetObjectItem(k, "detections"));
    assert_int_equal(ndet, pmax >= 1.0 ? ndet : 0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(k, "decisions")), nd);
    cJSON_Delete(k);
    cJSON_Delete(j);
}

/* Window mode (the batch front-end on each window) and the text output. */
static void cli_listen_window_and_text(void **state)
{
    cli_fixture *f = *state;
    char a[1024];
    snprintf(a, sizeof a, "listen --model %s --input %s --mode window --hop 0.5 --json --quiet", f->model, f->wav);
    cJSON *j = run_json(a);
    assert_string_equal(cJSON_GetObjectItem(j, "mode")->valuestring, "window");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "decisions")), (int)((f->n - 12500) / 6250 + 1));
    cJSON_Delete(j);
    /* text: one "time<TAB>label<TAB>p" line per decision, then two '#' summary lines */
    char *out = NULL;
    snprintf(a, sizeof a, "listen --model %s --input %s --hop 0.5 --quiet", f->model, f->wav);
    assert_int_equal(tu_run(a, &out, 0), 0);
    int lines = 0, hash = 0;
    for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
        if (l[0] == '#') {
            hash++;
            continue;
        }
        double t;
        char lab[64];
        double p;
        if (sscanf(l, "%lf\t%63s\t%lf", &t, lab, &p) != 3) fail_msg("bad decision line '%s'", l);
        assert_true(fabs(t - (1.0 + 0.5 * lines)) < 1e-9);
        lines++;
    }
    assert_int_equal(lines, (int)((f->n - 12500) / 6250 + 1));
    assert_int_equal(hash, 2);
    free(out);
}

static void expect_fail(const char *args, int code, const char *needle)
{
    char *out = NULL;
    int rc = tu_run(args, &out, 1);
    if (code ? rc != code : rc == 0) fail_msg("'%s' exited %d: %s", args, rc, out);
    if (!strstr(out, needle)) fail_msg("'%s': message lacks '%s': %s", args, needle, out);
    /* one clear line, no crash dump */
    assert_non_null(strstr(out, "materia"));
    free(out);
}

static void cli_listen_errors(void **state)
{
    cli_fixture *f = *state;
    char a[1024], p[160];
    snprintf(a, sizeof a, "listen --model %s --input %s/none.wav", f->model, f->dir);
    expect_fail(a, 0, "none.wav");
    snprintf(a, sizeof a, "listen --model %s --bogus", f->model);
    expect_fail(a, 2, "--bogus");
    snprintf(a, sizeof a, "listen --model %s --hop -1", f->model);
    expect_fail(a, 2, "--hop");
    snprintf(a, sizeof a, "listen --model %s --format f64 < /dev/null", f->model);
    expect_fail(a, 2, "--format");
    snprintf(a, sizeof a, "listen --model %s --input %s --rate 8000", f->model, f->wav);
    expect_fail(a, 2, "stdin");
    expect_fail("listen --input - < /dev/null", 2, "--model");
    /* corrupt audio, empty stdin, a NaN, a truncated sample, a model that is not one */
    snprintf(p, sizeof p, "%s/bad.wav", f->dir);
    FILE *b = fopen(p, "wb");
    fputs("RIFF....WAVEjunkjunkjunk", b);
    fclose(b);
    snprintf(a, sizeof a, "listen --model %s --input %s", f->model, p);
    expect_fail(a, 0, "bad.wav");
    snprintf(a, sizeof a, "listen --model %s --input - < /dev/null", f->model);
    expect_fail(a, 0, "no audio");
    snprintf(a, sizeof a, "listen --model %s --input - --format f32 < %s", f->model, f->nan);
    expect_fail(a, 0, "sample 20000");
    snprintf(p, sizeof p, "%s/odd.f32", f->dir);
    b = fopen(p, "wb");
    fputs("abcdefg", b);
    fclose(b);
    snprintf(a, sizeof a, "listen --model %s --input - < %s", f->model, p);
    expect_fail(a, 0, "stray byte");
    snprintf(a, sizeof a, "listen --model %s --input %s", f->wav, f->wav);
    expect_fail(a, 0, "long.wav");
    /* a model trained on features that do not record their front-end */
    mt_features ft;
    mt_err e = {0};
    assert_int_equal(mt_features_alloc(&ft, 12, 2, 50, &e), MT_OK);
    char *cn[2] = {"a", "b"};
    assert_int_equal(mt_features_set_classes(&ft, 2, cn, &e), MT_OK);
    for (int64_t i = 0; i < 12; i++) {
        ft.labels[i] = (int)(i % 2);
        ft.split[i] = i < 8 ? MT_SPLIT_TRAIN : MT_SPLIT_TEST;
        for (int64_t t = 0; t < 100; t++) ft.x[i * 100 + t] = (float)((i % 2) + 0.01 * (double)t);
    }
    ft.rate_hz = 1250;
    ft.config_json = strdup("{\"frontend\": \"synthetic\"}");
    snprintf(p, sizeof p, "%s/nometa.npy", f->dir);
    assert_int_equal(mt_features_save(&ft, p, &e), MT_OK);
    mt_features_free(&ft);
    snprintf(a, sizeof a, "train --features %s --model fc --epochs 1 --out %s/nometa.safetensors --quiet", p, f->dir);
    assert_int_equal(tu_run(a, NULL, 0), 0);
    snprintf(a, sizeof a, "listen --model %s/nometa.safetensors --input %s", f->dir, f->wav);
    expect_fail(a, 0, "does not record its front-end");
}

int main(void)
{
    const struct CMUnitTest lib[] = {
        cmocka_unit_test(rnpu_stream_equals_batch),
        cmocka_unit_test(other_streams_equal_batch),
        cmocka_unit_test(rnpu_chain_stream),
        cmocka_unit_test(stream_utt_and_errors),
    };
    const struct CMUnitTest cli[] = {
        cmocka_unit_test(cli_listen_json),
        cmocka_unit_test(cli_listen_window_and_text),
        cmocka_unit_test(cli_listen_errors),
    };
    int r = cmocka_run_group_tests_name("stream", lib, NULL, NULL);
    return r + cmocka_run_group_tests_name("listen CLI", cli, cli_setup, cli_teardown);
}
