/* materia listen — streaming keyword recognition: audio block by block through the model's
 * front-end (a stream carrying its state, or each window recomputed), a ring of the last window
 * of feature frames, a decision every hop; real-time factor and decision latency at the end. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_model.h"
#include "materia/audio.h"
#include "materia/frontend.h"
#include "materia/nn.h"

static const char help[] =
    "usage: materia listen --model M.safetensors [--input FILE|-] [options]\n"
    "\n"
    "Run a trained model on a long recording as a real-time system would: the audio is read\n"
    "--block samples at a time and pushed through the model's front-end (rebuilt from the\n"
    "model's metadata, as `materia classify` does); the last window of feature frames (the\n"
    "model's input length, 1 s for the paper's models) is kept in a ring buffer and every --hop\n"
    "seconds the window is classified (software model) and a decision line is printed:\n"
    "time at the window's end (s), label, probability.\n"
    "\n"
    "Front-end modes (--mode auto picks stream when the front-end can stream):\n"
    "  stream  rnpu, raw, lowpass, gammatone, gammatone-tanh: one continuous stream whose state\n"
    "          (for rnpu: each channel's device state after the pre-roll, the ADC averaging\n"
    "          remainder, the sample index that keys the ADC noise) is carried from block to\n"
    "          block; frames equal the batch front-end on the whole recording.  Where the model\n"
    "          was trained with per-utterance mean removal (rnpu default), each channel's mean\n"
    "          over the window is removed before classifying.\n"
    "  window  every front-end (logmel, mfcc, nlowpass, esn need it): each window's audio, kept\n"
    "          in a ring buffer, is run through the batch front-end as one utterance (for rnpu:\n"
    "          from the pre-roll state every time, so roughly window/hop times the work).\n"
    "\n"
    "Input gain: training scaled every utterance to its own peak (0.75 V), which is impossible\n"
    "online; here samples (full scale = 1.0) are multiplied by a fixed --gain volts, by default\n"
    "the model's recorded peak voltage, so speech near full scale matches training.\n"
    "\n"
    "At the end: the real-time factor (processing wall time / audio duration; the processing\n"
    "time sums, per block, the front-end push plus every decision it triggers, not the reading\n"
    "or decoding of input) and the decision latency (wall time from the start of the push of\n"
    "the block holding a window's last sample to that window's decision; the wait for the\n"
    "rest of the block, at most --block samples of audio, comes on top).\n"
    "\n"
    "options:\n"
    "  --model M       a model written by `materia train` or `materia run`\n"
    "  --input FILE    audio file (WAV/FLAC/... via libsndfile; mixed to mono, resampled to the\n"
    "                  model's rate), or - for raw little-endian samples on stdin (default -)\n"
    "  --rate HZ       stdin: sample rate (default: the model's, 12500); another rate is read\n"
    "                  whole and resampled before streaming\n"
    "  --format F      stdin: f32 (float, full scale 1.0) or s16 (16-bit PCM) (default f32)\n"
    "  --hop S         seconds between decisions (default 0.25; rounded to whole samples)\n"
    "  --block N       samples per read at the model's rate (default rate/10: 1250 = 0.1 s)\n"
    "  --gain V        volts per full scale (default: the model's recorded peak, 0.75)\n"
    "  --threshold P   print only detections: decisions with probability >= P whose label is\n"
    "                  not _silence_ or _unknown_ (JSON: \"detections\"; default 0)\n"
    "  --mode M        auto | stream | window (default auto)\n"
    "  --json          one JSON object at the end: {\"mode\": \"stream\"|\"window\", \"rate_hz\",\n"
    "                  \"window_s\", \"hop_s\", \"block\", \"gain_v\", \"audio_s\", \"processing_s\",\n"
    "                  \"rtf\", \"latency_ms\": {\"mean\", \"max\"}, \"decisions\": [{\"t_s\", \"label\",\n"
    "                  \"p\"}], \"detections\": [...], ...}\n"
    "  --quiet         no progress bar\n"
    "\n"
    "Decisions: one per hop once a full window has arrived, i.e. floor((audio - window) / hop)\n"
    "+ 1 for audio at least one window long; they do not depend on --block.\n"
    "\n"
    "examples:\n"
    "  materia listen --model report-demo/model.safetensors --input long.wav --threshold 0.8\n"
    "  sox long.wav -t raw -e float -b 32 -r 12500 -c 1 - | \\\n"
    "      materia listen --model report-demo/model.safetensors --input - --format f32 --json\n";

static int run(int argc, char **argv);
const mt_cli_command mt_cmd_listen = {"listen", "streaming keyword recognition on a long recording", help, run};

/* ---- input: decoded audio in memory (files, resampled stdin) or raw stdin read per block ---- */

typedef struct source {
    const char *name;     /* file name or "stdin" */
    float *x;             /* in memory: [n] full scale 1.0 (NULL: read stdin per block) */
    int64_t n, pos;
    int s16;              /* stdin format */
    unsigned char *bytes; /* stdin scratch */
} source;

static float le_f32(const unsigned char *b)
{
    uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
static float le_s16(const unsigned char *b)
{
    int16_t v = (int16_t)((uint16_t)b[0] | (uint16_t)b[1] << 8);
    return (float)v / 32768.0f; /* libsndfile's normalisation of PCM_16 */
}

/* Up to max samples into out; *got = 0 at the end. */
static mt_status source_read(source *s, float *out, int64_t max, int64_t *got, mt_err *err)
{
    if (s->x) {
        int64_t m = s->n - s->pos < max ? s->n - s->pos : max;
        memcpy(out, s->x + s->pos, sizeof(float) * (size_t)m);
        s->pos += m;
        *got = m;
        return MT_OK;
    }
    const size_t bs = s->s16 ? 2 : 4;
    size_t r = fread(s->bytes, 1, bs * (size_t)max, stdin);
    if (ferror(stdin)) return mt_err_set(err, MT_ERR_IO, "stdin: read error");
    if (r % bs)
        return mt_err_set(err, MT_ERR_FORMAT, "stdin: input ends with %zu stray byte(s), not whole %s samples",
                          r % bs, s->s16 ? "s16" : "f32");
    for (size_t i = 0; i < r / bs; i++) out[i] = s->s16 ? le_s16(s->bytes + 2 * i) : le_f32(s->bytes + 4 * i);
    *got = (int64_t)(r / bs);
    s->pos += *got;
    return MT_OK;
}

/* All of stdin (for resampling). */
static mt_status read_all_stdin(source *s, int64_t block, float **x, int64_t *n, mt_err *err)
{
    int64_t cap = block * 16, len = 0, got;
    float *b = malloc(sizeof(float) * (size_t)cap);
    if (!b) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    for (;;) {
        if (cap - len < block) {
            float *nb = realloc(b, sizeof(float) * (size_t)(cap *= 2));
            if (!nb) {
                free(b);
                return mt_err_set(err, MT_ERR_NOMEM, "stdin: out of memory after %lld samples", (long long)len);
            }
            b = nb;
        }
        mt_status r = source_read(s, b + len, block, &got, err);
        if (r) {
            free(b);
            return r;
        }
        if (!got) break;
        len += got;
    }
    *x = b;
    *n = len;
    return MT_OK;
}

/* ---- decisions ---------------------------------------------------------------------------- */

typedef struct listener {
    mt_model *m;
    char **names;
    int nn;
    double thr;
    int json, text_all;
    cJSON *decisions, *detections;
    double *p;               /* [nn] */
    double lat_sum, lat_max;
    int64_t ndec;
} listener;

static int is_filler(const char *label)
{
    return strcmp(label, "_silence_") == 0 || strcmp(label, "_unknown_") == 0;
}

/* Classify feat [C, T]; t_s = time of the window's end; t_in = wall time the block arrived. */
static mt_status decide(listener *L, const float *feat, double t_s, double t_in, mt_err *err)
{
    mt_status r = mt_model_forward(L->m, feat, 1, 0, err);
    if (r) return r;
    const float *z = mt_model_output(L->m);
    double mx = -INFINITY, sum = 0;
    int best = 0;
    for (int k = 0; k < L->nn; k++) mx = fmax(mx, z[k]);
    for (int k = 0; k < L->nn; k++) sum += L->p[k] = exp(z[k] - mx);
    for (int k = 0; k < L->nn; k++)
        if (z[k] > z[best]) best = k;
    const double p = L->p[best] / sum;
    const char *label = L->names[best];
    const double lat = cli_now() - t_in;
    L->lat_sum += lat;
    L->lat_max = fmax(L->lat_max, lat);
    L->ndec++;
    const int det = p >= L->thr && !is_filler(label);
    if (L->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "t_s", t_s);
        cJSON_AddStringToObject(o, "label", label);
        cJSON_AddNumberToObject(o, "p", p);
        if (det) cJSON_AddItemToArray(L->detections, cJSON_Duplicate(o, 1));
        cJSON_AddItemToArray(L->decisions, o);
    } else if (L->text_all || det) {
        printf("%.3f\t%s\t%.4f\n", t_s, label, p);
        fflush(stdout); /* decisions appear as they are made */
    }
    return MT_OK;
}

static int run(int argc, char **argv)
{
    if (cli_wants_help(&mt_cmd_listen, argc, argv)) return 0;
    enum { O_MODEL = 1, O_INPUT, O_RATE, O_FORMAT, O_HOP, O_BLOCK, O_GAIN, O_THR, O_MODE, O_JSON, O_QUIET };
    static const struct option lo[] = {
        {"model", required_argument, 0, O_MODEL}, {"input", required_argument, 0, O_INPUT},
        {"rate", required_argument, 0, O_RATE},   {"format", required_argument, 0, O_FORMAT},
        {"hop", required_argument, 0, O_HOP},     {"block", required_argument, 0, O_BLOCK},
        {"gain", required_argument, 0, O_GAIN},   {"threshold", required_argument, 0, O_THR},
        {"mode", required_argument, 0, O_MODE},   {"json", no_argument, 0, O_JSON},
        {"quiet", no_argument, 0, O_QUIET},       {0, 0, 0, 0}};
    const char *model_path = NULL, *input = "-", *format = NULL, *mode_s = "auto";
    double rate = 0, hop = 0.25, gain = 0, thr = -1;
    long block = 0;
    int json = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case O_MODEL: model_path = optarg; break;
        case O_INPUT: input = optarg; break;
        case O_RATE:
            if (cli_parse_double(optarg, &rate) || !(rate >= 100 && rate <= 1e6))
                return cli_usage_error("listen", "--rate must be in [100, 1e6] Hz, got '%s'", optarg);
            break;
        case O_FORMAT:
            if (strcmp(optarg, "f32") && strcmp(optarg, "s16"))
                return cli_usage_error("listen", "--format must be f32 or s16, got '%s'", optarg);
            format = optarg;
            break;
        case O_HOP:
            if (cli_parse_double(optarg, &hop) || !(hop > 0 && hop <= 3600))
                return cli_usage_error("listen", "--hop must be in (0, 3600] s, got '%s'", optarg);
            break;
        case O_BLOCK:
            if (cli_parse_int(optarg, &block) || block < 1 || block > 10000000)
                return cli_usage_error("listen", "--block must be in [1, 1e7] samples, got '%s'", optarg);
            break;
        case O_GAIN:
            if (cli_parse_double(optarg, &gain) || !(gain > 0 && gain <= 100))
                return cli_usage_error("listen", "--gain must be in (0, 100] V, got '%s'", optarg);
            break;
        case O_THR:
            if (cli_parse_double(optarg, &thr) || !(thr >= 0 && thr <= 1))
                return cli_usage_error("listen", "--threshold must be in [0, 1], got '%s'", optarg);
            break;
        case O_MODE:
            if (strcmp(optarg, "auto") && strcmp(optarg, "stream") && strcmp(optarg, "window"))
                return cli_usage_error("listen", "--mode must be auto, stream or window, got '%s'", optarg);
            mode_s = optarg;
            break;
        case O_JSON: json = 1; break;
        case O_QUIET: break;
        default: return cli_usage_error("listen", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_usage_error("listen", "unexpected argument '%s' (the input is --input FILE)", argv[optind]);
    if (!model_path) return cli_usage_error("listen", "--model is required");
    const int is_stdin = strcmp(input, "-") == 0;
    if (!is_stdin && (rate > 0 || format))
        return cli_usage_error("listen", "--rate and --format describe raw stdin input; a file states its own");

    mt_err e = {0};
    mt_model m;
    char *meta = NULL;
    if (mt_model_load(model_path, &m, &meta, &e)) return cli_fail(&e);
    mt_frontend *fe = NULL;
    mt_frontend_stream *st = NULL;
    mt_audio_prep prep;
    char **names = NULL;
    int nn = 0, rc = 0;
    source src = {.name = is_stdin ? "stdin" : input, .s16 = format && !strcmp(format, "s16")};
    float *xb = NULL, *fout = NULL, *ring = NULL, *feat = NULL, *aring = NULL, *win = NULL;
    listener L = {.m = &m, .json = json, .text_all = thr < 0, .thr = thr < 0 ? 0 : thr};
    cli_progress pb;
    int progress = 0;
    if (cli_frontend_from_meta(model_path, meta, &fe, &prep, &names, &nn, &e) ||
        cli_model_check_shape(model_path, &m, fe, &prep, nn, &e)) {
        rc = cli_fail(&e);
        goto done;
    }
    L.names = names;
    L.nn = nn;
    const double R = prep.rate_hz;
    if (!(R > 0)) {
        mt_err_set(&e, MT_ERR_FORMAT, "%s: the model records no audio rate", model_path);
        rc = cli_fail(&e);
        goto done;
    }
    int stream_mode = strcmp(mode_s, "window") != 0 && mt_frontend_can_stream(fe);
    if (!strcmp(mode_s, "stream") && !stream_mode) {
        rc = cli_usage_error("listen", "front-end '%s' cannot stream; use --mode window (or auto)", mt_frontend_name(fe));
        goto done;
    }
    const int C = (int)m.in_c;
    const int64_t T = m.in_t;
    if (gain <= 0) gain = prep.peak_v > 0 ? prep.peak_v : 1.0;
    if (block <= 0) block = (long)llround(R / 10) > 0 ? (long)llround(R / 10) : 1;
    const int64_t H = llround(hop * R);
    if (H < 1) {
        rc = cli_usage_error("listen", "--hop %g s is below one sample at %g Hz", hop, R);
        goto done;
    }
    int D = 1, mean_rem = 0;
    int64_t W;
    if (stream_mode) {
        if (mt_frontend_stream_create(fe, 0, &st, &e)) {
            rc = cli_fail(&e);
            goto done;
        }
        D = mt_frontend_stream_group(st);
        mean_rem = mt_frontend_stream_mean_removal(st);
        W = T * D;
    } else {
        W = prep.length; /* out_len(prep.length) == T (checked) */
    }

    /* input */
    if (!is_stdin) {
        double fr = 0;
        if (mt_audio_load(input, 0, -1, &src.x, &src.n, &fr, &e)) {
            rc = cli_fail(&e);
            goto done;
        }
        if (fr != R) {
            float *y = NULL;
            int64_t ny = 0;
            if (mt_audio_resample(src.x, src.n, fr, R, &y, &ny, &e)) {
                mt_err_prefix(&e, e.code, "%s", input);
                rc = cli_fail(&e);
                goto done;
            }
            free(src.x);
            src.x = y;
            src.n = ny;
        }
    } else {
        src.bytes = malloc((size_t)block * 4);
        if (!src.bytes) {
            mt_err_set(&e, MT_ERR_NOMEM, "out of memory");
            rc = cli_fail(&e);
            goto done;
        }
        if (rate > 0 && rate != R) { /* read whole, resample, then stream from memory */
            float *x = NULL, *y = NULL;
            int64_t n = 0, ny = 0;
            if (read_all_stdin(&src, block, &x, &n, &e) || (n > 0 && mt_audio_resample(x, n, rate, R, &y, &ny, &e))) {
                free(x);
                rc = cli_fail(&e);
                goto done;
            }
            free(x);
            src.x = y;
            src.n = ny;
            src.pos = 0;
            if (!y) { /* empty stdin */
                src.x = malloc(sizeof(float));
                src.n = 0;
            }
        }
    }
    if (src.x && src.n == 0) {
        mt_err_set(&e, MT_ERR_DATA, "%s: no audio samples", src.name);
        rc = cli_fail(&e);
        goto done;
    }

    /* buffers: read block xb [block]; stream: push output fout [C, cap], frame ring [C, RC];
     * window: audio ring [RA], window [W]; the model input feat [C, T] */
    const int64_t cap = block / D + 2, RC = T + block / D + 2, RA = W + block;
    xb = malloc(sizeof(float) * (size_t)block);
    feat = malloc(sizeof(float) * (size_t)C * (size_t)T);
    if (stream_mode) {
        fout = malloc(sizeof(float) * (size_t)C * (size_t)cap);
        ring = malloc(sizeof(float) * (size_t)C * (size_t)RC);
    } else {
        aring = malloc(sizeof(float) * (size_t)RA);
        win = malloc(sizeof(float) * (size_t)W);
    }
    L.p = calloc((size_t)nn, sizeof *L.p);
    L.decisions = cJSON_CreateArray();
    L.detections = cJSON_CreateArray();
    if (!xb || !feat || (stream_mode ? !fout || !ring : !aring || !win) || !L.p) {
        mt_err_set(&e, MT_ERR_NOMEM, "out of memory");
        rc = cli_fail(&e);
        goto done;
    }
    if (src.x) {
        cli_progress_init(&pb, "listen");
        progress = 1;
    }

    int64_t pushed = 0, S_next = W, frames = 0, nblocks = src.x ? (src.n + block - 1) / block : 0, b = 0;
    double proc = 0;
    for (;;) {
        int64_t got = 0;
        if (source_read(&src, xb, block, &got, &e)) {
            rc = cli_fail(&e);
            goto done;
        }
        if (!got) break;
        const double t_in = cli_now(); /* the block is here */
        for (int64_t i = 0; i < got; i++) {
            if (!isfinite(xb[i])) {
                mt_err_set(&e, MT_ERR_DATA, "%s: sample %lld (t = %.4f s) is not finite", src.name,
                           (long long)(pushed + i), (double)(pushed + i) / R);
                rc = cli_fail(&e);
                goto done;
            }
            xb[i] = (float)(xb[i] * gain); /* full scale → volts */
        }
        if (stream_mode) {
            int64_t nout = 0;
            if (mt_frontend_stream_push(st, xb, got, fout, cap, &nout, &e)) {
                mt_err_prefix(&e, e.code, "%s", src.name);
                rc = cli_fail(&e);
                goto done;
            }
            for (int ch = 0; ch < C; ch++)
                for (int64_t t = 0; t < nout; t++) ring[(size_t)ch * RC + (size_t)((frames + t) % RC)] = fout[ch * nout + t];
            frames += nout;
        } else {
            for (int64_t i = 0; i < got; i++) aring[(pushed + i) % RA] = xb[i];
        }
        pushed += got;
        while (pushed >= S_next) { /* decision for the window ending at sample S_next */
            if (stream_mode) {
                const int64_t F = S_next / D; /* frames [F − T, F) */
                for (int ch = 0; ch < C; ch++) {
                    float *o = feat + (size_t)ch * T;
                    double mean = 0;
                    for (int64_t t = 0; t < T; t++) mean += o[t] = ring[(size_t)ch * RC + (size_t)((F - T + t) % RC)];
                    if (mean_rem) { /* as the batch chain does per utterance */
                        mean /= (double)T;
                        for (int64_t t = 0; t < T; t++) o[t] = (float)(o[t] - mean);
                    }
                }
            } else {
                for (int64_t i = 0; i < W; i++) win[i] = aring[(S_next - W + i) % RA];
                if (mt_frontend_process(fe, win, W, 0, feat, &e)) {
                    mt_err_prefix(&e, e.code, "%s", src.name);
                    rc = cli_fail(&e);
                    goto done;
                }
            }
            if (decide(&L, feat, (double)S_next / R, t_in, &e)) {
                rc = cli_fail(&e);
                goto done;
            }
            S_next += H;
        }
        proc += cli_now() - t_in;
        if (progress) cli_progress_cb(&pb, "listen", ++b, nblocks);
    }
    if (progress) cli_progress_done(&pb);
    progress = 0;
    if (pushed == 0) {
        mt_err_set(&e, MT_ERR_DATA, "%s: no audio samples", src.name);
        rc = cli_fail(&e);
        goto done;
    }
    const double audio_s = (double)pushed / R, rtf = proc / audio_s;
    const double lat_mean = L.ndec ? 1e3 * L.lat_sum / (double)L.ndec : 0, lat_max = 1e3 * L.lat_max;
    if (pushed < W && !cli_quiet())
        fprintf(stderr, "materia listen: %s: %.3f s of audio is shorter than one window (%.3f s): no decisions\n",
                src.name, audio_s, (double)W / R);
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "model", model_path);
        cJSON_AddStringToObject(o, "input", is_stdin ? "-" : input);
        cJSON_AddStringToObject(o, "mode", stream_mode ? "stream" : "window");
        cJSON_AddStringToObject(o, "frontend", mt_frontend_name(fe));
        cJSON_AddNumberToObject(o, "rate_hz", R);
        cJSON_AddNumberToObject(o, "window_s", (double)W / R);
        cJSON_AddNumberToObject(o, "hop_s", (double)H / R);
        cJSON_AddNumberToObject(o, "block", (double)block);
        cJSON_AddNumberToObject(o, "gain_v", gain);
        cJSON_AddBoolToObject(o, "window_mean_removal", stream_mode && mean_rem);
        cJSON_AddNumberToObject(o, "threshold", L.thr);
        cJSON_AddNumberToObject(o, "audio_s", audio_s);
        cJSON_AddNumberToObject(o, "processing_s", proc);
        cJSON_AddNumberToObject(o, "rtf", rtf);
        cJSON *lj = cJSON_AddObjectToObject(o, "latency_ms");
        cJSON_AddNumberToObject(lj, "mean", lat_mean);
        cJSON_AddNumberToObject(lj, "max", lat_max);
        cJSON_AddItemToObject(o, "decisions", L.decisions);
        cJSON_AddItemToObject(o, "detections", L.detections);
        L.decisions = L.detections = NULL;
        cli_print_json(o);
    } else {
        printf("# %s, %s mode: %.2f s of audio, window %.3f s, hop %.3f s, %lld decisions\n", mt_frontend_name(fe),
               stream_mode ? "stream" : "window", audio_s, (double)W / R, (double)H / R, (long long)L.ndec);
        printf("# real-time factor %.4f (%.3f s processing), decision latency mean %.2f ms, max %.2f ms\n", rtf, proc,
               lat_mean, lat_max);
    }

done:
    if (progress) cli_progress_done(&pb);
    cJSON_Delete(L.decisions);
    cJSON_Delete(L.detections);
    free(L.p);
    free(xb);
    free(fout);
    free(ring);
    free(feat);
    free(aring);
    free(win);
    free(src.x);
    free(src.bytes);
    mt_frontend_stream_free(st);
    cli_names_free(names, nn);
    mt_frontend_free(fe);
    free(meta);
    mt_model_free(&m);
    return rc;
}
