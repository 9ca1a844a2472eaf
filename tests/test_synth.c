/* synth: the espeak-ng engine (determinism, errors) and the built-in corpora (layouts, classes,
 * levels, rates, lengths, byte-identical regeneration, safe output handling, the CLI). */
#include "testutil.h"

#include <ctype.h>
#include <dirent.h>
#include <math.h>

#include "materia/audio.h"
#include "materia/dataset.h"
#include "materia/io.h"
#include "materia/synth.h"

static char dir[256];
static int setup(void **st) { (void)st; tu_tmpdir(dir, sizeof dir); return 0; }
static int teardown(void **st) { (void)st; tu_rmrf(dir); return 0; }

static float peak_of(const float *x, int64_t n)
{
    float m = 0;
    for (int64_t i = 0; i < n; i++) m = fmaxf(m, fabsf(x[i]));
    return m;
}

/* ---- speaker table ---- */

static void test_speaker_table(void **st)
{
    (void)st;
    int nf = 0, nm = 0;
    for (int i = 0; i < MT_SYNTH_MAX_SPEAKERS; i++) {
        const mt_synth_speaker *s = mt_synth_speaker_get(i);
        assert_non_null(s);
        assert_true(strlen(s->name) > 0);
        for (const char *c = s->name; *c; c++) assert_true(isalnum((unsigned char)*c)); /* no '_' */
        assert_non_null(strstr(s->voice, "+"));
        assert_true(s->sex == 'f' || s->sex == 'm');
        assert_int_equal(s->sex, i % 2 ? 'm' : 'f'); /* any prefix is balanced */
        nf += s->sex == 'f';
        nm += s->sex == 'm';
        for (int k = 0; k < i; k++) {
            assert_string_not_equal(s->name, mt_synth_speaker_get(k)->name);
            assert_string_not_equal(s->voice, mt_synth_speaker_get(k)->voice);
        }
    }
    assert_int_equal(nf, nm);
    assert_null(mt_synth_speaker_get(-1));
    assert_null(mt_synth_speaker_get(MT_SYNTH_MAX_SPEAKERS));
}

/* ---- engine ---- */

static void say(mt_espeak *e, const char *voice, const char *text, int rate, float **x, int64_t *n)
{
    mt_espeak_utt u = {voice, text, rate, 50, 50, 7};
    mt_err err = {0};
    double hz = 0;
    mt_status s = mt_espeak_say(e, &u, x, n, &hz, &err);
    if (s) fail_msg("%s", err.msg);
    assert_true(hz == 22050.0);
}

static void test_engine_deterministic(void **st)
{
    (void)st;
    mt_espeak *e = NULL;
    mt_err err = {0};
    if (mt_espeak_open(&e, &err)) fail_msg("%s", err.msg);
    float *a, *b, *c, *d, *f;
    int64_t na, nb, nc, nd, nf;
    say(e, "en-us+f3", "seven", 175, &a, &na);
    say(e, "en-gb-scotland+m2", "backward", 175, &c, &nc); /* something else in between */
    say(e, "en-us+f3", "seven", 175, &b, &nb);
    /* Same utterance, same samples, whatever came before (a fresh engine state every time;
     * espeak-ng in one process would differ here). */
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, (size_t)na * sizeof *a);
    /* Real speech: not silent, within full scale, a plausible word length. */
    float pk = peak_of(a, na);
    assert_true(pk > 0.05f && pk <= 1.0f);
    assert_true(na > 0.2 * 22050 && na < 1.5 * 22050);
    /* A different voice changes the samples. */
    say(e, "en-us+m1", "seven", 175, &d, &nd);
    assert_true(nd != na || memcmp(a, d, (size_t)na * sizeof *a) != 0);
    /* Speaking rate (words/min) sets the duration: 3x faster is clearly shorter. */
    say(e, "en-us+f3", "seven", 400, &f, &nf);
    assert_true((double)nf < 0.7 * (double)na);
    free(a), free(b), free(c), free(d), free(f);
    mt_espeak_close(e);
}

static void test_engine_errors(void **st)
{
    (void)st;
    mt_espeak *e = NULL;
    mt_err err = {0};
    if (mt_espeak_open(&e, &err)) fail_msg("%s", err.msg);
    float *x = NULL;
    int64_t n = 0;
    mt_espeak_utt u = {"xx-nosuchvoice", "yes", 175, 50, 50, 0};
    assert_int_equal(mt_espeak_say(e, &u, &x, &n, NULL, &err), MT_ERR_ARG);
    assert_non_null(strstr(err.msg, "xx-nosuchvoice"));
    assert_null(x);
    u.voice = "en";
    u.rate_wpm = 20;
    assert_int_equal(mt_espeak_say(e, &u, &x, &n, NULL, &err), MT_ERR_ARG);
    u.rate_wpm = 175;
    u.pitch = 101;
    assert_int_equal(mt_espeak_say(e, &u, &x, &n, NULL, &err), MT_ERR_ARG);
    u.pitch = 50;
    u.text = "";
    assert_int_equal(mt_espeak_say(e, &u, &x, &n, NULL, &err), MT_ERR_ARG);
    /* The worker survives bad requests. */
    u.text = "yes";
    assert_int_equal(mt_espeak_say(e, &u, &x, &n, NULL, &err), MT_OK);
    assert_true(n > 1000);
    free(x);
    mt_espeak_close(e);
    mt_espeak_close(NULL);
}

/* ---- corpora ---- */

/* Compare two files byte for byte. */
static int same_bytes(const char *p, const char *q)
{
    void *a, *b;
    size_t la, lb;
    mt_err err = {0};
    if (mt_file_read_all(p, &a, &la, 0, &err)) fail_msg("%s", err.msg);
    if (mt_file_read_all(q, &b, &lb, 0, &err)) fail_msg("%s", err.msg);
    int same = la == lb && memcmp(a, b, la) == 0;
    free(a);
    free(b);
    return same;
}

static void make(const char *out, const mt_synth_opts *o, int force, mt_synth_summary *sum)
{
    mt_err err = {0};
    if (mt_synth_corpus(out, o, force, NULL, sum, &err)) fail_msg("%s", err.msg);
}

static void test_digits_corpus(void **st)
{
    (void)st;
    mt_synth_opts o = mt_synth_defaults(MT_SYNTH_DIGITS);
    assert_int_equal(o.speakers, 8);
    assert_true(o.reps >= 10); /* FSDD's split puts index 0-4 in test */
    o.speakers = 2;
    o.reps = 2;
    o.seed = 42;
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/d1", dir);
    snprintf(b, sizeof b, "%s/sub/d2", dir); /* parents are created */
    mt_synth_summary s1, s2;
    make(a, &o, 0, &s1);
    make(b, &o, 0, &s2);
    assert_int_equal(s1.files, 2 * 10 * 2);
    assert_int_equal(s1.classes, 10);
    assert_int_equal(s1.speakers, 2);
    assert_true(s1.rate_hz == 8000.0);
    for (int c = 0; c < 10; c++) assert_int_equal(s1.per_class[c], 4);
    assert_true(s1.audio_s == s2.audio_s);

    mt_dataset ds;
    mt_err err = {0};
    if (mt_dataset_open(a, MT_LAYOUT_FSDD, NULL, &ds, &err)) fail_msg("%s", err.msg);
    assert_int_equal(ds.n, 40);
    assert_int_equal(ds.nclasses, 10);
    assert_int_equal(ds.nspeakers, 2);
    for (int c = 0; c < 10; c++) assert_int_equal(mt_dataset_count(&ds, -1, c), 4);
    for (int i = 0; i < ds.n; i++) {
        /* Regeneration is byte-identical. */
        char q[1024];
        snprintf(q, sizeof q, "%s/%s", b, ds.items[i].rel);
        assert_true(same_bytes(ds.items[i].path, q));
        float *x;
        int64_t n;
        double hz;
        if (mt_audio_load(ds.items[i].path, 0, -1, &x, &n, &hz, &err)) fail_msg("%s", err.msg);
        assert_true(hz == 8000.0);
        assert_true(n > 0.2 * 8000 && n < 1.6 * 8000); /* a trimmed word with short pads */
        float pk = peak_of(x, n);
        assert_true(pk > 0.25f && pk < 1.0f); /* drawn peak 0.3-0.9, plus a little noise */
        /* Speech sits between pads of at least 30 ms that hold only the noise floor (25-40 dB
         * below the speech): the first and last 25 ms carry under 5 % of the mean power. */
        double e_all = 0, e_head = 0, e_tail = 0;
        int64_t w = (int64_t)(0.025 * 8000);
        for (int64_t k = 0; k < n; k++) {
            double v = (double)x[k] * x[k];
            e_all += v;
            if (k < w) e_head += v;
            if (k >= n - w) e_tail += v;
        }
        assert_true(e_head / (double)w < 0.05 * e_all / (double)n);
        assert_true(e_tail / (double)w < 0.05 * e_all / (double)n);
        free(x);
    }
    mt_dataset_free(&ds);
    /* synth.json describes the corpus. */
    char man[1024];
    snprintf(man, sizeof man, "%s/synth.json", a);
    void *txt;
    size_t len;
    if (mt_file_read_all(man, &txt, &len, 0, &err)) fail_msg("%s", err.msg);
    assert_non_null(strstr((char *)txt, "\"fsdd\""));
    assert_non_null(strstr((char *)txt, "en-us+f1"));
    free(txt);
    /* A different seed changes the audio. */
    o.seed = 43;
    char c3[512];
    snprintf(c3, sizeof c3, "%s/d3", dir);
    make(c3, &o, 0, NULL);
    char p1[1024], p3[1024];
    snprintf(p1, sizeof p1, "%s/3_enusf1_0.wav", a);
    snprintf(p3, sizeof p3, "%s/3_enusf1_0.wav", c3);
    assert_false(same_bytes(p1, p3));
    /* More reps only add files: the common ones stay identical. */
    o.seed = 42;
    o.reps = 3;
    char c4[512];
    snprintf(c4, sizeof c4, "%s/d4", dir);
    make(c4, &o, 0, NULL);
    snprintf(p3, sizeof p3, "%s/3_enusf1_0.wav", c4);
    assert_true(same_bytes(p1, p3));
}

static void test_keywords_corpus(void **st)
{
    (void)st;
    mt_synth_opts o = mt_synth_defaults(MT_SYNTH_KEYWORDS);
    o.speakers = 2;
    o.reps = 1;
    o.unknown = 2;
    o.silence = 3;
    char a[512];
    snprintf(a, sizeof a, "%s/kw", dir);
    mt_synth_summary sum;
    make(a, &o, 0, &sum);
    assert_int_equal(sum.files, 2 * (10 + 2) + 3);
    assert_int_equal(sum.classes, 12);
    assert_true(sum.rate_hz == 16000.0);
    assert_true(fabs(sum.audio_s - sum.files) < 1e-9);

    mt_dataset ds;
    mt_err err = {0};
    if (mt_dataset_open(a, MT_LAYOUT_GSC, NULL, &ds, &err)) fail_msg("%s", err.msg);
    assert_int_equal(ds.n, sum.files);
    assert_int_equal(ds.nclasses, 12);
    assert_int_equal(ds.nspeakers, 2);
    assert_true(ds.has_official); /* testing_list.txt / validation_list.txt */
    int sil = -1, unk = -1;
    for (int c = 0; c < ds.nclasses; c++) {
        assert_true(mt_dataset_count(&ds, -1, c) > 0); /* every class present */
        if (strcmp(ds.classes[c], "_silence_") == 0) sil = c;
        if (strcmp(ds.classes[c], "_unknown_") == 0) unk = c;
    }
    assert_true(sil >= 0 && unk >= 0);
    assert_int_equal(mt_dataset_count(&ds, -1, sil), 3);
    assert_int_equal(mt_dataset_count(&ds, -1, unk), 4);
    assert_true(mt_dataset_count(&ds, MT_SPLIT_TEST, -1) > 0);
    for (int i = 0; i < ds.n; i++) {
        float *x;
        int64_t n;
        double hz;
        if (mt_audio_load(ds.items[i].path, 0, -1, &x, &n, &hz, &err)) fail_msg("%s", err.msg);
        assert_true(hz == 16000.0);
        assert_int_equal(n, 16000); /* exactly 1 s */
        float pk = peak_of(x, n);
        assert_true(pk > 0.0f && pk < 1.0f);
        double e = 0, t = 0;
        for (int64_t k = 0; k < n; k++) {
            e += (double)x[k] * x[k];
            t += (double)k / 16000.0 * x[k] * x[k];
        }
        if (ds.items[i].label == sil) {
            assert_true(pk < 0.2f); /* noise only, RMS 0.002-0.03 */
        } else {
            assert_true(pk > 0.25f);
            double centre = t / e; /* energy centroid, s: speech roughly centred */
            assert_true(centre > 0.25 && centre < 0.75);
            /* Zero-padded speech plus a noise floor 25-40 dB down: some 10-ms window (in the
             * padding) holds under 5 % of the clip's mean power. */
            double qmin = INFINITY;
            for (int64_t k0 = 0; k0 + 160 <= n; k0 += 80) {
                double q = 0;
                for (int64_t k = k0; k < k0 + 160; k++) q += (double)x[k] * x[k];
                qmin = fmin(qmin, q / 160.0);
            }
            assert_true(qmin < 0.05 * e / (double)n);
        }
        free(x);
    }
    mt_dataset_free(&ds);
}

static int count_entries(const char *d, const char *prefix)
{
    DIR *dd = opendir(d);
    if (!dd) return -1;
    struct dirent *de;
    int n = 0;
    while ((de = readdir(dd)))
        if (strncmp(de->d_name, prefix, strlen(prefix)) == 0) n++;
    closedir(dd);
    return n;
}

static void test_output_safety(void **st)
{
    (void)st;
    mt_synth_opts o = mt_synth_defaults(MT_SYNTH_DIGITS);
    o.speakers = 1;
    o.reps = 1;
    mt_err err = {0};
    /* A non-empty folder that is not ours: refused, with or without force, and left alone. */
    char other[512], keep[600];
    snprintf(other, sizeof other, "%s/other", dir);
    mkdir(other, 0777);
    snprintf(keep, sizeof keep, "%s/precious.txt", other);
    FILE *f = fopen(keep, "w");
    fputs("keep me\n", f);
    fclose(f);
    assert_int_equal(mt_synth_corpus(other, &o, 0, NULL, NULL, &err), MT_ERR_ARG);
    assert_non_null(strstr(err.msg, "not empty"));
    assert_int_equal(mt_synth_corpus(other, &o, 1, NULL, NULL, &err), MT_ERR_ARG);
    assert_non_null(strstr(err.msg, "synth.json"));
    assert_int_equal(access(keep, F_OK), 0);
    /* An empty folder is fine; a corpus of ours needs force to be replaced. */
    char c[512];
    snprintf(c, sizeof c, "%s/corpus", dir);
    mkdir(c, 0777);
    make(c, &o, 0, NULL);
    assert_int_equal(mt_synth_corpus(c, &o, 0, NULL, NULL, &err), MT_ERR_ARG);
    o.reps = 2;
    make(c, &o, 1, NULL);
    char p[600];
    snprintf(p, sizeof p, "%s/0_enusf1_1.wav", c); /* the new corpus is in place */
    assert_int_equal(access(p, F_OK), 0);
    /* A plain file in the way. */
    snprintf(p, sizeof p, "%s/precious.txt", other);
    assert_int_equal(mt_synth_corpus(p, &o, 1, NULL, NULL, &err), MT_ERR_IO);
    /* No temporary or old folders are left behind. */
    assert_int_equal(count_entries(dir, "corpus."), 0);
    assert_int_equal(count_entries(dir, "other."), 0);
    /* Option ranges. */
    o.speakers = 0;
    assert_int_equal(mt_synth_opts_check(&o, &err), MT_ERR_ARG);
    o.speakers = MT_SYNTH_MAX_SPEAKERS + 1;
    assert_int_equal(mt_synth_corpus(c, &o, 1, NULL, NULL, &err), MT_ERR_ARG);
    o.speakers = 1;
    o.reps = 0;
    assert_int_equal(mt_synth_opts_check(&o, &err), MT_ERR_ARG);
    mt_synth_kind k;
    assert_int_equal(mt_synth_kind_parse("keywords", &k, &err), MT_OK);
    assert_int_equal(k, MT_SYNTH_KEYWORDS);
    assert_int_equal(mt_synth_kind_parse("words", &k, &err), MT_ERR_ARG);
    assert_string_equal(mt_synth_class_name(MT_SYNTH_KEYWORDS, 11), "_silence_");
    assert_null(mt_synth_class_name(MT_SYNTH_DIGITS, 10));
}

/* ---- CLI ---- */

static void test_cli(void **st)
{
    (void)st;
    char args[1024], *out = NULL;
    snprintf(args, sizeof args, "synth digits --out %s/cli --speakers 1 --reps 1 --seed 3 --json", dir);
    assert_int_equal(tu_run(args, &out, 0), 0);
    assert_non_null(strstr(out, "\"files\":\t10"));
    assert_non_null(strstr(out, "\"layout\":\t\"fsdd\""));
    free(out);
    /* Existing non-empty output: one line naming it, exit 1. */
    assert_int_equal(tu_run(args, &out, 1), 1);
    assert_non_null(strstr(out, "--force"));
    free(out);
    snprintf(args, sizeof args, "synth digits --out %s/cli --speakers 1 --reps 1 --seed 3 --force --quiet", dir);
    assert_int_equal(tu_run(args, NULL, 0), 0);
    /* Usage errors: exit 2, no output folder. */
    snprintf(args, sizeof args, "synth sentences --out %s/x", dir);
    assert_int_equal(tu_run(args, NULL, 0), 2);
    assert_int_equal(tu_run("synth digits", NULL, 0), 2);
    snprintf(args, sizeof args, "synth digits --out %s/x --reps 0", dir);
    assert_int_equal(tu_run(args, &out, 1), 2);
    assert_non_null(strstr(out, "--reps"));
    free(out);
    snprintf(args, sizeof args, "synth digits --out %s/x --silence 3", dir);
    assert_int_equal(tu_run(args, NULL, 0), 2);
    snprintf(args, sizeof args, "synth keywords --out %s/x --seed -1", dir);
    assert_int_equal(tu_run(args, NULL, 0), 2);
    snprintf(args, sizeof args, "%s/x", dir);
    assert_int_equal(access(args, F_OK), -1);
    assert_int_equal(tu_run("synth --help", &out, 0), 0);
    assert_non_null(strstr(out, "example"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_speaker_table),
        cmocka_unit_test(test_engine_deterministic),
        cmocka_unit_test(test_engine_errors),
        cmocka_unit_test_setup_teardown(test_digits_corpus, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keywords_corpus, setup, teardown),
        cmocka_unit_test_setup_teardown(test_output_safety, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
