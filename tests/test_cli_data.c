/* CLI: data info and features on real and broken data — exit codes, messages, outputs. */
#include "testutil.h"

#include <math.h>

#include "materia/audio.h"
#include "materia/features.h"

static char dir[256];
static int setup(void **st) { (void)st; tu_tmpdir(dir, sizeof dir); return 0; }
static int teardown(void **st) { (void)st; tu_rmrf(dir); return 0; }

static void wav(const char *rel, double seconds, int rate, double f)
{
    char p[1024], cmd[1100];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", p);
    assert_int_equal(system(cmd), 0);
    int n = (int)(seconds * rate);
    float *x = malloc((size_t)n * sizeof *x);
    for (int i = 0; i < n; i++) x[i] = (float)(0.4 * sin(2 * M_PI * f * i / rate));
    mt_err e = {0};
    assert_int_equal(mt_audio_write_wav(p, x, n, rate, &e), MT_OK);
    free(x);
}

/* Count lines in s. */
static int lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

static void test_info_real_sets(void **st)
{
    (void)st;
    char p[512], args[1024], *out;
    if (!tu_shared(p, sizeof p, "datasets/fsdd")) skip();
    snprintf(args, sizeof args, "data info --data '%s' --layout fsdd --json --quiet", p);
    assert_int_equal(tu_run(args, &out, 0), 0);
    assert_non_null(strstr(out, "\"files\":\t2500"));
    assert_non_null(strstr(out, "\"speakers\":\t5"));
    assert_non_null(strstr(out, "\"sample_rates_hz\":\t[8000]"));
    free(out);
    if (!tu_shared(p, sizeof p, "datasets/gsc12")) skip();
    snprintf(args, sizeof args, "data info --data '%s' --layout gsc --json --quiet", p);
    assert_int_equal(tu_run(args, &out, 0), 0);
    assert_non_null(strstr(out, "\"files\":\t4890"));
    assert_non_null(strstr(out, "\"_silence_\":\t408"));
    assert_non_null(strstr(out, "\"sample_rates_hz\":\t[16000]"));
    free(out);
}

/* One line on stderr naming `needle`, non-zero exit. */
static void expect_error(const char *args, const char *needle, int code)
{
    char *out;
    int rc = tu_run(args, &out, 1);
    if (rc != code || !strstr(out, needle) || lines(out) != 1)
        fail_msg("`materia %s` → rc %d, output: %s (wanted rc %d and '%s')", args, rc, out, code, needle);
    free(out);
}

static void test_bad_input(void **st)
{
    (void)st;
    char a[2048];
    for (int d = 0; d < 10; d++) {
        char r[64];
        snprintf(r, sizeof r, "ok/%d_sp_0.wav", d);
        wav(r, 0.2, 8000, 200 + 50 * d);
    }
    snprintf(a, sizeof a, "data info --data %s/ok --layout fsdd --quiet", dir);
    assert_int_equal(tu_run(a, NULL, 0), 0);

    expect_error("data info --data /no/such/dir --layout fsdd", "/no/such/dir", 1);
    snprintf(a, sizeof a, "data info --data %s/ok --layout timit", dir);
    expect_error(a, "timit", 1);
    snprintf(a, sizeof a, "data info --data %s/ok --layout fsdd --frobnicate", dir);
    expect_error(a, "--frobnicate", 2);
    expect_error("no-such-command", "no-such-command", 2);
    snprintf(a, sizeof a, "data info --data %s/ok --layout fsdd --test-frac 2", dir);
    expect_error(a, "--test-frac", 2);

    /* zero-length file */
    char p[1024];
    snprintf(p, sizeof p, "%s/ok/3_sp_1.wav", dir);
    FILE *f = fopen(p, "wb");
    fclose(f);
    snprintf(a, sizeof a, "data info --data %s/ok --layout fsdd", dir);
    expect_error(a, "3_sp_1.wav: empty file", 1);
    /* corrupt: text in a .wav */
    f = fopen(p, "wb");
    fputs("RIFF but not really a wave file at all..........", f);
    fclose(f);
    expect_error(a, "3_sp_1.wav", 1);
    /* truncated: half of a valid file */
    wav("tmp.wav", 0.5, 8000, 300);
    char q[1024];
    snprintf(q, sizeof q, "%s/tmp.wav", dir);
    FILE *in = fopen(q, "rb");
    char buf[9000];
    size_t n = fread(buf, 1, sizeof buf, in);
    fclose(in);
    f = fopen(p, "wb");
    fwrite(buf, 1, n / 2, f);
    fclose(f);
    expect_error(a, "3_sp_1.wav: truncated", 1);
    remove(p);
    remove(q);
    /* empty class */
    snprintf(p, sizeof p, "%s/ok/9_sp_0.wav", dir);
    remove(p);
    expect_error(a, "class '9' has no files", 1);
}

static void test_features_outputs(void **st)
{
    (void)st;
    for (int d = 0; d < 10; d++)
        for (int k = 0; k < 3; k++) {
            char r[64];
            snprintf(r, sizeof r, "fs/%d_sp_%d.wav", d, k);
            wav(r, 0.3, 8000, 150 + 60 * d + 5 * k);
        }
    char a[2048], out[1024], side[1024];
    snprintf(out, sizeof out, "%s/f.npy", dir);
    snprintf(a, sizeof a, "features --data %s/fs --layout fsdd --frontend raw --decim 10 --out %s --quiet", dir, out);
    assert_int_equal(tu_run(a, NULL, 0), 0);
    mt_features f;
    mt_err e = {0};
    assert_int_equal(mt_features_load(out, &f, &e), MT_OK);
    assert_int_equal(f.n, 30);
    assert_int_equal(f.c, 1);
    assert_int_equal(f.t, 1250); /* 1 s at 12.5 kHz, averaged by 10 */
    assert_true(fabs(f.rate_hz - 1250) < 1e-9);
    assert_int_equal(f.nclasses, 10);
    int test = 0;
    for (int i = 0; i < 30; i++) test += f.split[i] == 2;
    assert_int_equal(test, 30); /* index 0-2 < 5: all in the official test split */
    assert_non_null(strstr(f.config_json, "\"peak_v\":0.75"));
    mt_features_free(&f);

    /* a failure leaves no output behind */
    snprintf(out, sizeof out, "%s/g.npy", dir);
    mt_features_sidecar_path(out, side, sizeof side);
    char p[1024];
    snprintf(p, sizeof p, "%s/fs/4_sp_1.wav", dir);
    FILE *fp = fopen(p, "wb");
    fputs("garbage", fp);
    fclose(fp);
    snprintf(a, sizeof a, "features --data %s/fs --layout fsdd --frontend raw --out %s --quiet", dir, out);
    expect_error(a, "4_sp_1.wav", 1);
    struct stat sb;
    assert_int_not_equal(stat(out, &sb), 0);
    assert_int_not_equal(stat(side, &sb), 0);
    snprintf(a, sizeof a, "features --data %s/fs --layout fsdd --frontend nosuch --out %s", dir, out);
    expect_error(a, "nosuch", 1);
}

/* docs/cli.md is `materia help --markdown` (regenerate with `make docs`). */
static void test_cli_docs_current(void **st)
{
    (void)st;
    char *out;
    assert_int_equal(tu_run("help --markdown", &out, 0), 0);
    FILE *f = fopen("docs/cli.md", "rb");
    if (!f) skip();
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    if (strcmp(buf, out) != 0) fail_msg("docs/cli.md is out of date: run `make docs`");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_docs_current),
        cmocka_unit_test(test_info_real_sets),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_features_outputs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
