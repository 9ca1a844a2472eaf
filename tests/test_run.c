/* materia run: the whole pipeline on a tiny dataset; stage caching; kill and resume. */
#include "testutil.h"

#include <math.h>
#include <signal.h>
#include <sys/wait.h>

#include "materia/audio.h"

static char dir[256], data[512];

/* 10 "digits", 8 files each: tones whose frequency encodes the class. */
static int setup(void **st)
{
    (void)st;
    tu_tmpdir(dir, sizeof dir);
    snprintf(data, sizeof data, "%s/data", dir);
    mkdir(data, 0755);
    for (int d = 0; d < 10; d++)
        for (int k = 0; k < 8; k++) {
            char p[1024];
            snprintf(p, sizeof p, "%s/%d_spk_%d.wav", data, d, k);
            int n = 4000;
            float x[4000];
            for (int i = 0; i < n; i++)
                x[i] = (float)(0.5 * sin(2 * M_PI * (150.0 + 40.0 * d + 3.0 * k) * i / 8000.0) * sin(M_PI * i / n));
            mt_err e = {0};
            if (mt_audio_write_wav(p, x, n, 8000, &e)) return -1;
        }
    return 0;
}
static int teardown(void **st) { (void)st; tu_rmrf(dir); return 0; }

static const char *common =
    "--data %s --layout fsdd --channels 4 --model 'bn,conv8k3,bn,tanh,maxpool8,gap,fc' "
    "--hwa-epochs 1 --repeats 2 --no-figures --quiet --out %s";

static int count_tmp(const char *out)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "find '%s' -name '*.tmp.*' | wc -l", out);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (fscanf(p, "%d", &n) != 1) n = -1;
    pclose(p);
    return n;
}

static void test_run_and_cache(void **st)
{
    (void)st;
    char out[512], args[2048], fmt[1024], *o;
    snprintf(out, sizeof out, "%s/r1", dir);
    snprintf(fmt, sizeof fmt, "run %s --epochs 3 --json", common);
    snprintf(args, sizeof args, fmt, data, out);
    int rc = tu_run(args, &o, 0);
    if (rc != 0) fail_msg("materia run failed (rc %d): %s", rc, o);
    assert_non_null(strstr(o, "\"pcm\""));
    assert_non_null(strstr(o, "\"energy_uj\""));
    assert_non_null(strstr(o, "\"mean\""));
    free(o);
    char p[1024];
    static const char *const files[] = {"report.json", "report.md", "model.safetensors", "model-hwa.safetensors", "pcm.json"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", out, files[i]);
        struct stat sb;
        if (stat(p, &sb) != 0) fail_msg("missing %s", p);
    }
    assert_int_equal(count_tmp(out), 0);
    /* second run: every expensive stage is cached */
    rc = tu_run(args, &o, 0);
    assert_int_equal(rc, 0);
    char *t = strstr(o, "\"timings\"");
    assert_non_null(t);
    /* "cached": true for features, train, hwa, pcm */
    int cached = 0;
    for (char *q = t; (q = strstr(q, "\"cached\":\ttrue")); q++) cached++;
    assert_true(cached >= 4);
    free(o);
    /* the trained model classifies raw files through its recorded front-end */
    snprintf(args, sizeof args, "classify --model %s/model.safetensors --json %s/3_spk_0.wav %s/7_spk_5.wav", out, data, data);
    rc = tu_run(args, &o, 0);
    if (rc != 0) fail_msg("classify failed (rc %d): %s", rc, o);
    assert_non_null(strstr(o, "\"label\""));
    assert_non_null(strstr(o, "7_spk_5.wav"));
    free(o);
    snprintf(args, sizeof args, "classify --model %s/model.safetensors /no/such.wav", out);
    assert_int_equal(tu_run(args, &o, 1), 1);
    assert_non_null(strstr(o, "/no/such.wav"));
    free(o);
}

static void test_kill_and_resume(void **st)
{
    (void)st;
    char out[512], args[2048], fmt[1024];
    snprintf(out, sizeof out, "%s/r2", dir);
    snprintf(fmt, sizeof fmt, "run %s --epochs 150", common);
    snprintf(args, sizeof args, fmt, data, out);
    const char *prog = getenv("MATERIA");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "exec '%s' %s", prog ? prog : "build/materia", args);
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    /* wait until training has written its state (mid-stage), then kill -9 */
    char state[1024];
    snprintf(state, sizeof state, "%s/model.safetensors.state", out);
    struct stat sb;
    int seen = 0;
    for (int i = 0; i < 600 && !seen; i++) {
        usleep(100000);
        seen = stat(state, &sb) == 0;
    }
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    assert_true(seen);
    char rep[1024];
    snprintf(rep, sizeof rep, "%s/report.json", out);
    assert_int_not_equal(stat(rep, &sb), 0); /* not finished */
    /* the same command again resumes from the saved training state and finishes */
    snprintf(fmt, sizeof fmt, "run %s --epochs 150", common);
    snprintf(args, sizeof args, fmt, data, out);
    char *o;
    int rc = tu_run(args, &o, 1);
    if (rc != 0) fail_msg("resumed run failed (rc %d): %s", rc, o);
    free(o);
    assert_int_equal(stat(rep, &sb), 0);
    assert_int_equal(count_tmp(out), 0);
}

static void test_bad_flags(void **st)
{
    (void)st;
    char *o;
    assert_int_equal(tu_run("run --preset nosuch", &o, 1), 2);
    assert_non_null(strstr(o, "nosuch"));
    free(o);
    assert_int_equal(tu_run("run --preset fsdd", &o, 1), 2);
    assert_non_null(strstr(o, "--data"));
    free(o);
    assert_int_equal(tu_run("run --epochs -3", &o, 1), 2);
    assert_non_null(strstr(o, "epochs"));
    free(o);
    char cfg[600];
    snprintf(cfg, sizeof cfg, "%s/bad.json", dir);
    FILE *f = fopen(cfg, "w");
    fputs("{\"epochz\": 3}", f);
    fclose(f);
    char args[1024];
    snprintf(args, sizeof args, "run %s", cfg);
    assert_int_equal(tu_run(args, &o, 1), 2);
    assert_non_null(strstr(o, "epochz"));
    free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_flags),
        cmocka_unit_test(test_run_and_cache),
        cmocka_unit_test(test_kill_and_resume),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
