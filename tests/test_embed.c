/* embed: t-SNE keeps separated clusters separated; determinism; k-NN score. */
#include "testutil.h"

#include <math.h>

#include "materia/embed.h"
#include "materia/rng.h"

static void test_knn_closed_form(void **st)
{
    (void)st;
    /* two classes on a line: 0 at x < 0, 1 at x > 0, far apart → LOO 1-NN is perfect */
    float y[8] = {-3, 0, -2, 0, -1, 0, 5, 0};
    int32_t lab[4] = {0, 0, 0, 1};
    /* the lone class-1 point's nearest neighbour is class 0: 3 of 4 correct */
    assert_true(fabs(mt_knn_accuracy(y, 4, 2, lab, 2, 1) - 0.75) < 1e-12);
}

static void test_tsne_clusters(void **st)
{
    (void)st;
    /* 3 Gaussian clusters in 20 dimensions, 30 points each, centres 8σ apart */
    int n = 90, d = 20;
    float *x = malloc((size_t)n * d * sizeof *x), *y = malloc((size_t)n * 2 * sizeof *y), *y2 = malloc((size_t)n * 2 * sizeof *y2);
    int32_t lab[90];
    mt_rng r;
    mt_rng_init(&r, 1, 0);
    for (int i = 0; i < n; i++) {
        lab[i] = i % 3;
        for (int k = 0; k < d; k++) x[i * d + k] = (float)(mt_rng_normal(&r) + (k == lab[i] ? 8.0 : 0.0));
    }
    mt_tsne_opts o;
    mt_tsne_opts_default(&o);
    mt_err e = {0};
    assert_int_equal(mt_tsne(x, n, d, &o, y, &e), MT_OK);
    assert_true(mt_knn_accuracy(y, n, 2, lab, 3, 5) > 0.95);
    /* same seed: identical; the embedding is spread out, not collapsed */
    assert_int_equal(mt_tsne(x, n, d, &o, y2, &e), MT_OK);
    assert_memory_equal(y, y2, (size_t)n * 2 * sizeof *y);
    double var = 0;
    for (int i = 0; i < 2 * n; i++) var += (double)y[i] * y[i];
    assert_true(var / (2 * n) > 1.0);
    assert_int_equal(mt_tsne(x, 3, d, &o, y, &e), MT_ERR_ARG);
    free(x);
    free(y);
    free(y2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_knn_closed_form), cmocka_unit_test(test_tsne_clusters)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
