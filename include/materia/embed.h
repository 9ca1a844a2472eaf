/* materia — 2-D embeddings of feature sets for figures (the paper's Fig. 3a/c t-SNE).
 *
 * Exact t-SNE (van der Maaten & Hinton 2008): Gaussian input affinities with a per-point
 * bandwidth found by bisection to the given perplexity, symmetrised P, Student-t output
 * affinities Q, gradient descent with momentum (0.5 → 0.8), gains, and early exaggeration (×12
 * for the first 250 iterations).  O(n²) per iteration: meant for the few hundred to two thousand
 * utterances a figure shows.  Seeded, single-threaded, so a seed reproduces the picture.
 */
#ifndef MATERIA_EMBED_H
#define MATERIA_EMBED_H

#include <stdint.h>

#include "materia/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_tsne_opts {
    double perplexity; /* 30 (clamped to (n − 1)/3 for small n) */
    int iters;         /* 1000 */
    double lr;         /* learning rate; 0 = auto, max(n / 48, 50) (scikit-learn's rule) */
    uint64_t seed;     /* initial positions N(0, 1e-4) */
} mt_tsne_opts;

void mt_tsne_opts_default(mt_tsne_opts *o);

/* x [n, d] (row-major) → y [n, 2].  Rows are standardised per column first.  n ≥ 4. */
mt_status mt_tsne(const float *x, int n, int d, const mt_tsne_opts *o, float *y, mt_err *err);

/* Leave-one-out k-nearest-neighbour accuracy of labels in y [n, dims] (k odd): how well classes
 * cluster in an embedding (or in the raw features).  Euclidean; ties to the lower class index. */
double mt_knn_accuracy(const float *y, int n, int dims, const int32_t *labels, int nclasses, int k);

#ifdef __cplusplus
}
#endif
#endif
