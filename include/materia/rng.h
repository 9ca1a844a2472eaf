/* materia — explicit, seeded random numbers.
 *
 * Every stochastic object takes an mt_rng.  A generator is fully determined by (seed, stream):
 * parallel code gives each independent unit of work (utterance, channel, repeat) its own stream
 * number, so results are bit-identical whatever the thread count.
 * Generator: xoshiro256** seeded through splitmix64 (Blackman & Vigna).
 */
#ifndef MATERIA_RNG_H
#define MATERIA_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_rng {
    uint64_t s[4];
    double spare;      /* cached second normal deviate */
    int has_spare;
} mt_rng;

/* Seed a generator for (seed, stream).  Different streams are statistically independent. */
void mt_rng_init(mt_rng *r, uint64_t seed, uint64_t stream);

uint64_t mt_rng_u64(mt_rng *r);
/* Uniform double in [0, 1) with 53 random bits. */
double mt_rng_uniform(mt_rng *r);
/* Uniform double in [lo, hi). */
double mt_rng_range(mt_rng *r, double lo, double hi);
/* Uniform integer in [0, n), unbiased (n > 0). */
uint64_t mt_rng_below(mt_rng *r, uint64_t n);
/* Standard normal deviate (Marsaglia polar method). */
double mt_rng_normal(mt_rng *r);
/* Fisher-Yates shuffle of an int array. */
void mt_rng_shuffle_int(mt_rng *r, int *a, int n);

#ifdef __cplusplus
}
#endif
#endif
