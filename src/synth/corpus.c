/* The built-in spoken corpus: plan the clips, synthesise, vary, add noise, write WAV files.
 *
 * Per clip (see include/materia/synth.h for the layouts):
 *   espeak-ng (22,050 Hz) → trim the engine's silent lead-in/tail → resample to 8 kHz (digits)
 *   or 16 kHz (keywords) → scale to a random peak → place (digits: short random pads; keywords:
 *   centred in 1 s with a random offset, zero-padded) → add coloured Gaussian noise over the
 *   whole clip at a random SNR → 16-bit WAV.
 * All draws for a clip come from its own mt_rng stream keyed by (kind, speaker, class, rep), so
 * a clip does not depend on how many others are made, nor on generation order.
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "materia/audio.h"
#include "materia/io.h"
#include "materia/rng.h"
#include "materia/synth.h"
#include "materia/version.h"

/* ---------------- tables ---------------- */

/* Alternating female/male over US, British (RP, Scottish, Lancastrian, West Midlands), New York
 * and Caribbean English; espeak-ng variants f1-f5 are female, m1-m7 male. */
static const mt_synth_speaker speakers[MT_SYNTH_MAX_SPEAKERS] = {
    {"enusf1", "en-us+f1", 'f'},          {"enusm1", "en-us+m1", 'm'},
    {"engbf2", "en+f2", 'f'},             {"engbm3", "en+m3", 'm'},
    {"enscf3", "en-gb-scotland+f3", 'f'}, {"enscm2", "en-gb-scotland+m2", 'm'},
    {"encbf4", "en-029+f4", 'f'},         {"enrpm4", "en-gb-x-rp+m4", 'm'},
    {"enrpf5", "en-gb-x-rp+f5", 'f'},     {"enusm6", "en-us+m6", 'm'},
    {"enlnf1", "en-gb-x-gbclan+f1", 'f'}, {"enlnm5", "en-gb-x-gbclan+m5", 'm'},
    {"enwmf2", "en-gb-x-gbcwmd+f2", 'f'}, {"enwmm7", "en-gb-x-gbcwmd+m7", 'm'},
    {"ennyf3", "en-us-nyc+f3", 'f'},      {"encbm1", "en-029+m1", 'm'},
};

static const char *const digit_words[10] = {"zero", "one", "two",   "three", "four",
                                            "five", "six", "seven", "eight", "nine"};
static const char *const digit_classes[10] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
/* Speech Commands 12-class order: the 10 keywords, then _unknown_ and _silence_. */
static const char *const kw_classes[12] = {"yes", "no",  "up",   "down", "left",      "right",
                                           "on",  "off", "stop", "go",   "_unknown_", "_silence_"};
#define KW_UNKNOWN 10
#define KW_SILENCE 11
/* Speech Commands v2's 25 auxiliary words (the real _unknown_ words). */
#define N_AUX 25
static const char *const aux_words[N_AUX] = {
    "backward", "bed",   "bird",  "cat",   "dog",    "eight", "five", "follow", "forward",
    "four",     "happy", "house", "learn", "marvin", "nine",  "one",  "seven",  "sheila",
    "six",      "three", "tree",  "two",   "visual", "wow",   "zero"};

const mt_synth_speaker *mt_synth_speaker_get(int i)
{
    return (i >= 0 && i < MT_SYNTH_MAX_SPEAKERS) ? &speakers[i] : NULL;
}

mt_status mt_synth_kind_parse(const char *name, mt_synth_kind *out, mt_err *err)
{
    if (name && strcmp(name, "digits") == 0) *out = MT_SYNTH_DIGITS;
    else if (name && strcmp(name, "keywords") == 0) *out = MT_SYNTH_KEYWORDS;
    else return mt_err_set(err, MT_ERR_ARG, "unknown corpus kind '%s' (expected digits or keywords)", name ? name : "");
    return MT_OK;
}

const char *mt_synth_kind_name(mt_synth_kind k) { return k == MT_SYNTH_KEYWORDS ? "keywords" : "digits"; }

int mt_synth_nclasses(mt_synth_kind k) { return k == MT_SYNTH_KEYWORDS ? 12 : 10; }

const char *mt_synth_class_name(mt_synth_kind k, int i)
{
    if (i < 0 || i >= mt_synth_nclasses(k)) return NULL;
    return k == MT_SYNTH_KEYWORDS ? kw_classes[i] : digit_classes[i];
}

mt_synth_opts mt_synth_defaults(mt_synth_kind kind)
{
    mt_synth_opts o;
    memset(&o, 0, sizeof o);
    o.kind = kind;
    o.speakers = 8;
    o.reps = kind == MT_SYNTH_KEYWORDS ? 8 : 12;
    o.unknown = -1; /* = reps */
    o.silence = -1; /* = speakers · reps */
    o.seed = 1;
    return o;
}

mt_status mt_synth_opts_check(const mt_synth_opts *o, mt_err *err)
{
    if (o->kind != MT_SYNTH_DIGITS && o->kind != MT_SYNTH_KEYWORDS)
        return mt_err_set(err, MT_ERR_ARG, "synth: unknown corpus kind %d", (int)o->kind);
    if (o->speakers < 1 || o->speakers > MT_SYNTH_MAX_SPEAKERS)
        return mt_err_set(err, MT_ERR_ARG, "synth: speakers %d not in 1..%d", o->speakers, MT_SYNTH_MAX_SPEAKERS);
    if (o->reps < 1 || o->reps > 1000)
        return mt_err_set(err, MT_ERR_ARG, "synth: reps %d not in 1..1000", o->reps);
    if (o->unknown < -1 || o->unknown > 1000)
        return mt_err_set(err, MT_ERR_ARG, "synth: unknown %d not in 0..1000", o->unknown);
    if (o->silence < -1 || o->silence > 100000)
        return mt_err_set(err, MT_ERR_ARG, "synth: silence %d not in 0..100000", o->silence);
    return MT_OK;
}

/* ---------------- the plan ---------------- */

typedef struct clip_job {
    int cls;         /* class index (mt_synth_class_name order) */
    int speaker;     /* index into speakers[], or -1 (silence) */
    const char *text; /* spoken word, NULL for a noise-only clip */
    int rep;         /* repetition (seeds the stream; decides the keyword split) */
    char rel[128];   /* path relative to the corpus root */
} clip_job;

typedef struct plan {
    mt_synth_opts o;
    double rate_hz;
    int n;
    clip_job *jobs;
} plan;

/* Stream id of (kind, speaker, class, rep): distinct for every clip and every speaker base. */
static uint64_t stream_id(mt_synth_kind k, int speaker, int cls, int rep)
{
    return ((uint64_t)(k + 1) << 56) | ((uint64_t)(speaker + 1) << 40) | ((uint64_t)(cls & 0xff) << 32) |
           (uint64_t)(uint32_t)rep;
}

static mt_status plan_build(plan *p, const mt_synth_opts *o, mt_err *err)
{
    memset(p, 0, sizeof *p);
    p->o = *o;
    if (p->o.unknown < 0) p->o.unknown = p->o.reps;
    if (p->o.silence < 0) p->o.silence = p->o.speakers * p->o.reps;
    const mt_synth_opts *q = &p->o;
    int64_t total;
    if (q->kind == MT_SYNTH_DIGITS) {
        p->rate_hz = 8000.0;
        total = (int64_t)q->speakers * 10 * q->reps;
    } else {
        p->rate_hz = 16000.0;
        total = (int64_t)q->speakers * (10 * q->reps + q->unknown) + q->silence;
    }
    p->jobs = calloc((size_t)(total > 0 ? total : 1), sizeof *p->jobs);
    if (!p->jobs) return mt_err_set(err, MT_ERR_NOMEM, "out of memory for %lld clips", (long long)total);
    for (int s = 0; s < q->speakers; s++) {
        const char *sn = speakers[s].name;
        if (q->kind == MT_SYNTH_DIGITS) {
            for (int d = 0; d < 10; d++)
                for (int r = 0; r < q->reps; r++) {
                    clip_job *j = &p->jobs[p->n++];
                    *j = (clip_job){d, s, digit_words[d], r, ""};
                    snprintf(j->rel, sizeof j->rel, "%d_%s_%d.wav", d, sn, r);
                }
            continue;
        }
        for (int k = 0; k < 10; k++)
            for (int r = 0; r < q->reps; r++) {
                clip_job *j = &p->jobs[p->n++];
                *j = (clip_job){k, s, kw_classes[k], r, ""};
                snprintf(j->rel, sizeof j->rel, "%s/%s_nohash_%d.wav", kw_classes[k], sn, r);
            }
        /* _unknown_: word u of speaker s is aux word (7s + u) mod 25, a cycle that does not
         * depend on the counts; the n-th time a speaker says a word it is nohash_n. */
        for (int u = 0; u < q->unknown; u++) {
            int w = (7 * s + u) % N_AUX;
            clip_job *j = &p->jobs[p->n++];
            *j = (clip_job){KW_UNKNOWN, s, aux_words[w], u, ""};
            snprintf(j->rel, sizeof j->rel, "_unknown_/%s_%s_nohash_%d.wav", aux_words[w], sn, u / N_AUX);
        }
    }
    for (int i = 0; q->kind == MT_SYNTH_KEYWORDS && i < q->silence; i++) {
        clip_job *j = &p->jobs[p->n++];
        *j = (clip_job){KW_SILENCE, -1, NULL, i, ""};
        snprintf(j->rel, sizeof j->rel, "_silence_/%d.wav", i);
    }
    return MT_OK;
}

/* ---------------- one clip ---------------- */

typedef struct voice_base {
    double rate_wpm, pitch, range;
} voice_base;

/* A speaker's own rate, pitch and pitch range (drawn once per speaker). */
static voice_base speaker_base(uint64_t seed, mt_synth_kind k, int s)
{
    mt_rng r;
    mt_rng_init(&r, seed, stream_id(k, s, 0xff, 0));
    voice_base b;
    b.rate_wpm = mt_rng_range(&r, 150.0, 190.0);
    b.pitch = mt_rng_range(&r, 35.0, 65.0);
    b.range = mt_rng_range(&r, 35.0, 70.0);
    return b;
}

static int clampi(double v, int lo, int hi)
{
    long x = lround(v);
    return (int)(x < lo ? lo : x > hi ? hi : x);
}

/* y[i] += sigma · c[i], c a unit-variance AR(1) Gaussian process c[i] = a c[i-1] + √(1−a²) w[i]
 * (a = 0 white; a → 1 ever darker, low-pass noise). */
static void add_noise(mt_rng *r, float *y, int64_t n, double sigma, double a)
{
    double c = mt_rng_normal(r), g = sqrt(1.0 - a * a);
    for (int64_t i = 0; i < n; i++) {
        if (i) c = a * c + g * mt_rng_normal(r);
        y[i] += (float)(sigma * c);
    }
}

/* Render clip j into *y (*ny samples at p->rate_hz). */
static mt_status make_clip(mt_espeak *e, const plan *p, const clip_job *j, float **y, int64_t *ny,
                           mt_err *err)
{
    *y = NULL;
    *ny = 0;
    const mt_synth_opts *o = &p->o;
    const double fs = p->rate_hz;
    mt_rng r;
    mt_rng_init(&r, o->seed, stream_id(o->kind, j->speaker, j->cls, j->rep));

    if (!j->text) { /* _silence_: 1 s of coloured noise, level log-uniform 0.002..0.03 RMS */
        int64_t n = (int64_t)fs;
        float *out = calloc((size_t)n, sizeof *out);
        if (!out) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
        double sigma = pow(10.0, mt_rng_range(&r, log10(0.002), log10(0.03)));
        double a = mt_rng_range(&r, 0.0, 0.95);
        add_noise(&r, out, n, sigma, a);
        *y = out;
        *ny = n;
        return MT_OK;
    }

    /* Draw every parameter first, in a fixed order. */
    voice_base b = speaker_base(o->seed, o->kind, j->speaker);
    mt_espeak_utt u;
    u.voice = speakers[j->speaker].voice;
    u.text = j->text;
    u.rate_wpm = clampi(b.rate_wpm * mt_rng_range(&r, 0.85, 1.15), 80, 450);
    u.pitch = clampi(b.pitch + mt_rng_range(&r, -8.0, 8.0), 0, 100);
    u.range = clampi(b.range + mt_rng_range(&r, -15.0, 15.0), 0, 100);
    u.seed = (uint32_t)mt_rng_u64(&r);
    double peak = mt_rng_range(&r, 0.3, 0.9);
    double snr_db = mt_rng_range(&r, 25.0, 40.0);
    double colour = mt_rng_range(&r, 0.0, 0.9);
    double shift = mt_rng_range(&r, -1.0, 1.0);
    double pad0 = mt_rng_range(&r, 0.03, 0.15), pad1 = mt_rng_range(&r, 0.03, 0.15);

    float *x = NULL;
    int64_t nx = 0;
    double in_hz = 0;
    mt_status s = mt_espeak_say(e, &u, &x, &nx, &in_hz, err);
    if (s) return s;
    /* Trim the engine's silent lead-in and tail: keep from 10 ms before the first to 10 ms after
     * the last sample above 0.5 % of the peak (−46 dB; keeps weak fricative onsets). */
    float mx = 0;
    for (int64_t i = 0; i < nx; i++) mx = fmaxf(mx, fabsf(x[i]));
    if (mx <= 0) {
        free(x);
        return mt_err_set(err, MT_ERR_DATA, "espeak-ng produced silence for '%s' (voice %s)", u.text, u.voice);
    }
    int64_t a0 = 0, a1 = nx, margin = (int64_t)(0.010 * in_hz);
    while (a0 < nx && fabsf(x[a0]) < 0.005f * mx) a0++;
    while (a1 > a0 && fabsf(x[a1 - 1]) < 0.005f * mx) a1--;
    a0 = a0 > margin ? a0 - margin : 0;
    a1 = a1 + margin < nx ? a1 + margin : nx;

    float *sp = NULL;
    int64_t ns = 0;
    s = mt_audio_resample(x + a0, a1 - a0, in_hz, fs, &sp, &ns, err);
    free(x);
    if (s) return mt_err_prefix(err, s, "synth '%s'", u.text);
    mt_audio_scale_peak(sp, ns, (float)peak, sp);

    int64_t n, start;
    if (o->kind == MT_SYNTH_DIGITS) {
        start = (int64_t)lround(pad0 * fs);
        n = start + ns + (int64_t)lround(pad1 * fs);
    } else {
        n = (int64_t)fs; /* exactly 1 s */
        int64_t room = n - (int64_t)(0.02 * fs);
        if (ns > room) ns = room; /* a very slow long word: keep its first 0.98 s */
        double slack = (double)(n - ns) / 2.0;
        double jitter = fmin(0.12 * fs, slack);
        start = (int64_t)lround(slack + shift * jitter);
        if (start < 0) start = 0;
        if (start + ns > n) start = n - ns;
    }
    float *out = calloc((size_t)n, sizeof *out);
    if (!out) {
        free(sp);
        return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    }
    double ss = 0;
    for (int64_t i = 0; i < ns; i++) {
        out[start + i] = sp[i];
        ss += (double)sp[i] * sp[i];
    }
    free(sp);
    double rms = sqrt(ss / (double)(ns > 0 ? ns : 1));
    add_noise(&r, out, n, rms * pow(10.0, -snr_db / 20.0), colour);
    /* Keep the peak below full scale (0.99) so the 16-bit file never clips. */
    float pk = 0;
    for (int64_t i = 0; i < n; i++) pk = fmaxf(pk, fabsf(out[i]));
    if (pk > 0.99f)
        for (int64_t i = 0; i < n; i++) out[i] *= 0.99f / pk;
    *y = out;
    *ny = n;
    return MT_OK;
}

/* ---------------- directories ---------------- */

/* Remove a file or a directory tree (symbolic links are removed, never followed). */
static int rm_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode)) return unlink(path);
    DIR *d = opendir(path);
    if (!d) return -1;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        char child[4096];
        if (snprintf(child, sizeof child, "%s/%s", path, de->d_name) >= (int)sizeof child) {
            rc = -1;
            continue;
        }
        if (rm_tree(child)) rc = -1;
    }
    closedir(d);
    return rmdir(path) || rc ? -1 : 0;
}

/* 1 if dir exists and has entries other than . and .. ; 0 if empty; -1 if it cannot be read. */
static int dir_nonempty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    struct dirent *de;
    int any = 0;
    while (!any && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) any = 1;
    closedir(d);
    return any;
}

/* mkdir -p of the parent directories of path. */
static mt_status mkdir_parents(const char *path, mt_err *err)
{
    char b[4096];
    snprintf(b, sizeof b, "%s", path);
    for (char *c = b + 1; *c; c++) {
        if (*c != '/') continue;
        *c = 0;
        if (mkdir(b, 0777) != 0 && errno != EEXIST)
            return mt_err_set(err, MT_ERR_IO, "%s: cannot create directory: %s", b, strerror(errno));
        *c = '/';
    }
    return MT_OK;
}

/* Can out be (re)placed?  *exists says whether it is there now. */
static mt_status check_out(const char *out, int force, int *exists, mt_err *err)
{
    struct stat st;
    *exists = 0;
    if (stat(out, &st) != 0) {
        if (errno == ENOENT) return MT_OK;
        return mt_err_set(err, MT_ERR_IO, "%s: %s", out, strerror(errno));
    }
    *exists = 1;
    if (!S_ISDIR(st.st_mode)) return mt_err_set(err, MT_ERR_IO, "%s: exists and is not a directory", out);
    int ne = dir_nonempty(out);
    if (ne < 0) return mt_err_set(err, MT_ERR_IO, "%s: cannot read directory: %s", out, strerror(errno));
    if (!ne) return MT_OK;
    if (!force) return mt_err_set(err, MT_ERR_ARG, "%s: exists and is not empty (use --force to replace it)", out);
    char man[4200];
    snprintf(man, sizeof man, "%s/synth.json", out);
    if (access(man, F_OK) != 0)
        return mt_err_set(err, MT_ERR_ARG,
                          "%s: not a corpus made by materia synth (no synth.json); refusing to replace it even with --force",
                          out);
    return MT_OK;
}

/* ---------------- writing ---------------- */

static mt_status write_manifest(const char *dir, const plan *p, const mt_synth_summary *sum, mt_err *err)
{
    const mt_synth_opts *o = &p->o;
    cJSON *j = cJSON_CreateObject();
    if (!j) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    cJSON_AddStringToObject(j, "generator", "materia synth");
    cJSON_AddStringToObject(j, "materia_version", mt_version());
    cJSON_AddStringToObject(j, "kind", mt_synth_kind_name(o->kind));
    cJSON_AddStringToObject(j, "layout", o->kind == MT_SYNTH_DIGITS ? "fsdd" : "gsc");
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
    cJSON_AddStringToObject(j, "seed", seed); /* a string: 64-bit seeds do not fit a double */
    cJSON_AddNumberToObject(j, "reps", o->reps);
    if (o->kind == MT_SYNTH_KEYWORDS) {
        cJSON_AddNumberToObject(j, "unknown_per_speaker", o->unknown);
        cJSON_AddNumberToObject(j, "silence", o->silence);
    }
    cJSON_AddNumberToObject(j, "sample_rate_hz", p->rate_hz);
    cJSON_AddNumberToObject(j, "files", sum->files);
    cJSON_AddNumberToObject(j, "duration_s", sum->audio_s);
    cJSON *sp = cJSON_AddArrayToObject(j, "speakers");
    for (int s = 0; s < o->speakers; s++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", speakers[s].name);
        cJSON_AddStringToObject(e, "espeak_voice", speakers[s].voice);
        cJSON_AddStringToObject(e, "sex", speakers[s].sex == 'f' ? "female" : "male");
        cJSON_AddItemToArray(sp, e);
    }
    cJSON *pc = cJSON_AddObjectToObject(j, "per_class");
    for (int c = 0; c < mt_synth_nclasses(o->kind); c++)
        cJSON_AddNumberToObject(pc, mt_synth_class_name(o->kind, c), sum->per_class[c]);
    cJSON_AddStringToObject(j, "engine", "espeak-ng (libespeak-ng), resampled with libsamplerate");
    char *txt = cJSON_Print(j);
    cJSON_Delete(j);
    if (!txt) return mt_err_set(err, MT_ERR_NOMEM, "out of memory");
    char path[4200];
    snprintf(path, sizeof path, "%s/synth.json", dir);
    size_t len = strlen(txt);
    txt[len] = '\n'; /* replace the terminator: the file ends with a newline */
    mt_status s = mt_file_write_all(path, txt, len + 1, err);
    free(txt);
    return s;
}

/* keywords: testing_list.txt (rep % 10 == 0) and validation_list.txt (rep % 10 == 1). */
static mt_status write_lists(const char *dir, const plan *p, mt_err *err)
{
    static const char *const names[2] = {"testing_list.txt", "validation_list.txt"};
    for (int which = 0; which < 2; which++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, names[which]);
        mt_atomic_file af;
        mt_status s = mt_atomic_open(&af, path, err);
        if (s) return s;
        for (int i = 0; i < p->n; i++)
            if (p->jobs[i].rep % 10 == which) fprintf(af.fp, "%s\n", p->jobs[i].rel);
        s = mt_atomic_commit(&af, err);
        if (s) return s;
    }
    return MT_OK;
}

static mt_status generate(const char *tmp, const plan *p, const mt_progress *prog, mt_synth_summary *sum,
                          mt_err *err)
{
    if (p->o.kind == MT_SYNTH_KEYWORDS)
        for (int c = 0; c < 12; c++) {
            char d[4200];
            snprintf(d, sizeof d, "%s/%s", tmp, kw_classes[c]);
            if (mkdir(d, 0777) != 0) return mt_err_set(err, MT_ERR_IO, "%s: cannot create: %s", d, strerror(errno));
        }
    mt_espeak *e = NULL;
    mt_status s = mt_espeak_open(&e, err);
    if (s) return s;
    mt_progress_report(prog, "synth", 0, p->n);
    for (int i = 0; i < p->n && !s; i++) {
        const clip_job *j = &p->jobs[i];
        float *y = NULL;
        int64_t ny = 0;
        s = make_clip(e, p, j, &y, &ny, err);
        if (!s) {
            char path[4200];
            snprintf(path, sizeof path, "%s/%s", tmp, j->rel);
            s = mt_audio_write_wav(path, y, ny, p->rate_hz, err);
            if (!s) {
                sum->files++;
                sum->per_class[j->cls]++;
                sum->audio_s += (double)ny / p->rate_hz;
            }
        }
        free(y);
        mt_progress_report(prog, "synth", i + 1, p->n);
    }
    mt_espeak_close(e);
    if (s) return s;
    if (p->o.kind == MT_SYNTH_KEYWORDS) s = write_lists(tmp, p, err);
    return s;
}

mt_status mt_synth_corpus(const char *out_dir, const mt_synth_opts *o, int force, const mt_progress *prog,
                          mt_synth_summary *sum_out, mt_err *err)
{
    if (!out_dir || !*out_dir) return mt_err_set(err, MT_ERR_ARG, "synth: no output directory given");
    mt_status s = mt_synth_opts_check(o, err);
    if (s) return s;
    char out[4096];
    if (snprintf(out, sizeof out, "%s", out_dir) >= (int)sizeof out - 64)
        return mt_err_set(err, MT_ERR_ARG, "synth: output path too long");
    size_t l = strlen(out);
    while (l > 1 && out[l - 1] == '/') out[--l] = 0;
    int exists;
    s = check_out(out, force, &exists, err);
    if (s) return s;
    s = mkdir_parents(out, err);
    if (s) return s;

    plan p;
    s = plan_build(&p, o, err);
    if (s) {
        free(p.jobs);
        return s;
    }
    mt_synth_summary sum;
    memset(&sum, 0, sizeof sum);
    sum.speakers = p.o.speakers;
    sum.rate_hz = p.rate_hz;

    char tmp[4200], old[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out, (long)getpid());
    snprintf(old, sizeof old, "%s.old.%ld", out, (long)getpid());
    rm_tree(tmp); /* a leftover of an earlier crashed run with our pid */
    if (mkdir(tmp, 0777) != 0) {
        free(p.jobs);
        return mt_err_set(err, MT_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    }
    s = generate(tmp, &p, prog, &sum, err);
    for (int c = 0; c < mt_synth_nclasses(p.o.kind); c++) sum.classes += sum.per_class[c] > 0;
    if (!s) s = write_manifest(tmp, &p, &sum, err);
    free(p.jobs);
    if (s) {
        rm_tree(tmp);
        return s;
    }
    /* Swap into place: check again (the folder may have changed meanwhile), move the old corpus
     * aside, rename, then delete the old one. */
    s = check_out(out, force, &exists, err);
    int moved = 0;
    if (!s && exists) {
        if (dir_nonempty(out) == 0) {
            if (rmdir(out) != 0) s = mt_err_set(err, MT_ERR_IO, "%s: cannot replace: %s", out, strerror(errno));
        } else if (rename(out, old) != 0) {
            s = mt_err_set(err, MT_ERR_IO, "%s: cannot move the old corpus aside: %s", out, strerror(errno));
        } else {
            moved = 1;
        }
    }
    if (!s && rename(tmp, out) != 0) {
        s = mt_err_set(err, MT_ERR_IO, "%s: cannot rename %s into place: %s", out, tmp, strerror(errno));
        if (moved && rename(old, out) == 0) moved = 0;
    }
    if (s) {
        rm_tree(tmp);
        return s;
    }
    if (moved) rm_tree(old);
    if (sum_out) *sum_out = sum;
    return MT_OK;
}
