/* dataset: layouts, labels, speakers, splits; the real sets' counts; bad input. */
#include "testutil.h"

#include <math.h>

#include "materia/audio.h"
#include "materia/dataset.h"

static char dir[256];
static int setup(void **st) { (void)st; tu_tmpdir(dir, sizeof dir); return 0; }
static int teardown(void **st) { (void)st; tu_rmrf(dir); return 0; }

/* A short non-silent WAV at rel (folders created). */
static void touch_wav(const char *root, const char *rel, double seconds, int rate)
{
    char p[1024], cmd[1100];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", p);
    assert_int_equal(system(cmd), 0);
    int n = (int)(seconds * rate);
    float *x = malloc((size_t)n * sizeof *x);
    for (int i = 0; i < n; i++) x[i] = (float)(0.3 * sin(0.05 * i));
    mt_err e = {0};
    assert_int_equal(mt_audio_write_wav(p, x, n, rate, &e), MT_OK);
    free(x);
}

static void test_fsdd_real(void **st)
{
    (void)st;
    char p[512];
    if (!tu_shared(p, sizeof p, "datasets/fsdd")) skip();
    mt_dataset ds;
    mt_err e = {0};
    assert_int_equal(mt_dataset_open(p, MT_LAYOUT_FSDD, NULL, &ds, &e), MT_OK);
    assert_int_equal(ds.n, 2500);
    assert_int_equal(ds.nclasses, 10);
    assert_int_equal(ds.nspeakers, 5);
    assert_int_equal(ds.split_method, MT_SPLIT_OFFICIAL);
    assert_int_equal(mt_dataset_count(&ds, MT_SPLIT_TEST, -1), 250); /* index 0-4 */
    for (int c = 0; c < 10; c++) assert_int_equal(mt_dataset_count(&ds, MT_SPLIT_TEST, c), 25);
    /* stratified 90/10, reproducible from the seed, different for another seed */
    assert_int_equal(mt_dataset_split(&ds, MT_SPLIT_STRATIFIED, 0.1, 7, &e), MT_OK);
    int *a = malloc(2500 * sizeof *a);
    for (int i = 0; i < 2500; i++) a[i] = ds.items[i].split;
    for (int c = 0; c < 10; c++) assert_int_equal(mt_dataset_count(&ds, MT_SPLIT_TEST, c), 25);
    assert_int_equal(mt_dataset_split(&ds, MT_SPLIT_STRATIFIED, 0.1, 7, &e), MT_OK);
    for (int i = 0; i < 2500; i++) assert_int_equal(a[i], ds.items[i].split);
    assert_int_equal(mt_dataset_split(&ds, MT_SPLIT_STRATIFIED, 0.1, 8, &e), MT_OK);
    int diff = 0;
    for (int i = 0; i < 2500; i++) diff += a[i] != ds.items[i].split;
    assert_true(diff > 100);
    /* speaker-disjoint: no speaker on both sides */
    assert_int_equal(mt_dataset_split(&ds, MT_SPLIT_SPEAKER, 0.2, 1, &e), MT_OK);
    for (int s = 0; s < ds.nspeakers; s++) {
        int tr = 0, te = 0;
        for (int i = 0; i < ds.n; i++)
            if (ds.items[i].speaker == s) *(ds.items[i].split == MT_SPLIT_TEST ? &te : &tr) += 1;
        assert_true(tr == 0 || te == 0);
    }
    assert_int_equal(mt_dataset_count(&ds, MT_SPLIT_TEST, -1), 500); /* exactly one of 5 speakers */
    /* back to official */
    assert_int_equal(mt_dataset_split(&ds, MT_SPLIT_OFFICIAL, 0, 0, &e), MT_OK);
    assert_int_equal(mt_dataset_count(&ds, MT_SPLIT_TEST, -1), 250);
    free(a);
    mt_dataset_free(&ds);
}

static void test_gsc12_real(void **st)
{
    (void)st;
    char p[512];
    if (!tu_shared(p, sizeof p, "datasets/gsc12")) skip();
    mt_dataset ds;
    mt_err e = {0};
    assert_int_equal(mt_dataset_open(p, MT_LAYOUT_GSC, NULL, &ds, &e), MT_OK);
    assert_int_equal(ds.n, 4890);
    assert_int_equal(ds.nclasses, 12);
    assert_int_equal(ds.nspeakers, 239);
    assert_string_equal(ds.classes[10], "_unknown_");
    assert_string_equal(ds.classes[11], "_silence_");
    assert_int_equal(mt_dataset_count(&ds, -1, 0), 419); /* yes */
    assert_int_equal(ds.has_official, 0);                /* no lists in this copy */
    assert_int_equal(ds.split_method, MT_SPLIT_STRATIFIED);
    int te = mt_dataset_count(&ds, MT_SPLIT_TEST, -1);
    assert_true(te >= 480 && te <= 500);
    assert_int_equal(mt_dataset_split(&ds, MT_SPLIT_OFFICIAL, 0, 0, &e), MT_ERR_ARG);
    mt_dataset_free(&ds);
}

static void test_gsc_layout_lists_and_mapping(void **st)
{
    (void)st;
    char root[512];
    snprintf(root, sizeof root, "%s/gsc", dir);
    static const char *const files[] = {
        "yes/aaa_nohash_0.wav", "yes/bbb_nohash_0.wav", "no/aaa_nohash_0.wav", "no/ccc_nohash_1.wav",
        "up/aaa_nohash_0.wav", "down/aaa_nohash_0.wav", "left/aaa_nohash_0.wav", "right/aaa_nohash_0.wav",
        "on/aaa_nohash_0.wav", "off/aaa_nohash_0.wav", "stop/aaa_nohash_0.wav", "go/aaa_nohash_0.wav",
        "house/ddd_nohash_0.wav", "bed/eee_nohash_0.wav",
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) touch_wav(root, files[i], 0.1, 16000);
    touch_wav(root, "_background_noise_/white.wav", 3.5, 16000);
    char p[600];
    snprintf(p, sizeof p, "%s/testing_list.txt", root);
    FILE *f = fopen(p, "w");
    fputs("yes/bbb_nohash_0.wav\nno/ccc_nohash_1.wav\n", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/validation_list.txt", root);
    f = fopen(p, "w");
    fputs("bed/eee_nohash_0.wav\n", f);
    fclose(f);
    mt_dataset ds;
    mt_err e = {0};
    assert_int_equal(mt_dataset_open(root, MT_LAYOUT_GSC, NULL, &ds, &e), MT_OK);
    assert_int_equal(ds.split_method, MT_SPLIT_OFFICIAL);
    assert_int_equal(mt_dataset_count(&ds, MT_SPLIT_TEST, -1), 2);
    assert_int_equal(mt_dataset_count(&ds, MT_SPLIT_VAL, -1), 1);
    assert_int_equal(mt_dataset_count(&ds, -1, 10), 2); /* house + bed → _unknown_ */
    assert_int_equal(mt_dataset_count(&ds, -1, 11), 3); /* 3 one-second windows of noise */
    int windows = 0;
    for (int i = 0; i < ds.n; i++)
        if (ds.items[i].label == 11) {
            assert_int_equal(ds.items[i].length, 16000);
            assert_int_equal(ds.items[i].offset, 16000 * windows++);
        }
    mt_dataset_free(&ds);
    /* the paper's mapping: house is a keyword, silence is dropped */
    mt_dataset_opts o = {.gsc_classes = MT_GSC_PAPER};
    assert_int_equal(mt_dataset_open(root, MT_LAYOUT_GSC, &o, &ds, &e), MT_OK);
    assert_int_equal(ds.nclasses, 12);
    assert_string_equal(ds.classes[11], "house");
    assert_int_equal(mt_dataset_count(&ds, -1, 11), 1);
    assert_int_equal(mt_dataset_count(&ds, -1, 0), 1); /* bed */
    assert_int_equal(ds.n, 14);
    mt_dataset_free(&ds);
}

static void test_ti46_layout(void **st)
{
    (void)st;
    char root[512];
    snprintf(root, sizeof root, "%s/ti46", dir);
    static const char *const files[] = {
        "TI20/TRAIN/F1/00F1SET0.WAV", "TI20/TRAIN/F1/01F1SET0.WAV", "TI20/TRAIN/M1/00M1SET0.WAV",
        "TI20/TEST/F1/00F1SET1.WAV",  "TI20/TEST/M2/01M2SET1.WAV",  "TI20/TRAIN/F1/12F1SET0.WAV",
        "TI20/TRAIN/F2/01F2SET3.WAV",
    };
    /* (real TI-46 files are NIST SPHERE; libsndfile reads both — see test_audio) */
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) touch_wav(root, files[i], 0.05, 12500);
    mt_dataset ds;
    mt_err e = {0};
    /* digits 2-9 have no files yet: an empty class is an error naming it */
    assert_int_equal(mt_dataset_open(root, MT_LAYOUT_TI46, NULL, &ds, &e), MT_ERR_DATA);
    assert_non_null(strstr(e.msg, "'2'"));
    for (int d = 2; d < 10; d++) {
        char r[64];
        snprintf(r, sizeof r, "TI20/TRAIN/F3/%02dF3SET0.WAV", d);
        touch_wav(root, r, 0.05, 12500);
    }
    assert_int_equal(mt_dataset_open(root, MT_LAYOUT_TI46, NULL, &ds, &e), MT_OK);
    assert_int_equal(ds.nclasses, 10);
    assert_int_equal(ds.n, 14); /* word 12 ("go") excluded in digits mode */
    assert_int_equal(ds.split_method, MT_SPLIT_OFFICIAL);
    assert_int_equal(mt_dataset_count(&ds, MT_SPLIT_TEST, -1), 2);
    assert_int_equal(ds.nspeakers, 5);
    mt_dataset_free(&ds);
    mt_dataset_opts o = {.ti46_female_only = 1};
    assert_int_equal(mt_dataset_open(root, MT_LAYOUT_TI46, &o, &ds, &e), MT_OK);
    assert_int_equal(ds.n, 12);
    mt_dataset_free(&ds);
}

static void test_errors(void **st)
{
    (void)st;
    mt_dataset ds;
    mt_err e = {0};
    assert_int_equal(mt_dataset_open("/no/such/dir", MT_LAYOUT_FSDD, NULL, &ds, &e), MT_ERR_IO);
    assert_non_null(strstr(e.msg, "/no/such/dir"));
    mt_layout l;
    assert_int_equal(mt_layout_parse("timit", &l, &e), MT_ERR_ARG);
    assert_non_null(strstr(e.msg, "timit"));
    /* empty class in the folder layout: a class folder without audio is simply not a class, but
     * fsdd requires all ten digits */
    char root[512];
    snprintf(root, sizeof root, "%s/fs", dir);
    touch_wav(root, "0_a_0.wav", 0.05, 8000);
    touch_wav(root, "1_a_0.wav", 0.05, 8000);
    assert_int_equal(mt_dataset_open(root, MT_LAYOUT_FSDD, NULL, &ds, &e), MT_ERR_DATA);
    assert_non_null(strstr(e.msg, "empty class"));
    /* a name that does not parse */
    touch_wav(root, "hello.wav", 0.05, 8000);
    assert_int_equal(mt_dataset_open(root, MT_LAYOUT_FSDD, NULL, &ds, &e), MT_ERR_DATA);
    assert_non_null(strstr(e.msg, "hello.wav"));
    /* a directory without audio */
    snprintf(root, sizeof root, "%s/empty", dir);
    mkdir(root, 0755);
    assert_int_equal(mt_dataset_open(root, MT_LAYOUT_FOLDER, NULL, &ds, &e), MT_ERR_DATA);
    assert_non_null(strstr(e.msg, "no audio"));
}

static void test_folder_layout(void **st)
{
    (void)st;
    char root[512];
    snprintf(root, sizeof root, "%s/fold", dir);
    for (int i = 0; i < 10; i++) {
        char r[64];
        snprintf(r, sizeof r, "beta/x%d.wav", i);
        touch_wav(root, r, 0.02, 8000);
        snprintf(r, sizeof r, "alpha/sub/y%d.wav", i);
        touch_wav(root, r, 0.02, 8000);
    }
    mt_dataset ds;
    mt_err e = {0};
    assert_int_equal(mt_dataset_open(root, MT_LAYOUT_FOLDER, NULL, &ds, &e), MT_OK);
    assert_int_equal(ds.nclasses, 2);
    assert_string_equal(ds.classes[0], "alpha");
    assert_int_equal(ds.n, 20);
    assert_int_equal(mt_dataset_count(&ds, MT_SPLIT_TEST, 0), 1);
    assert_int_equal(mt_dataset_count(&ds, MT_SPLIT_TEST, 1), 1);
    mt_dataset_free(&ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fsdd_real),  cmocka_unit_test(test_gsc12_real),
        cmocka_unit_test(test_gsc_layout_lists_and_mapping), cmocka_unit_test(test_ti46_layout),
        cmocka_unit_test(test_errors),     cmocka_unit_test(test_folder_layout),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
