#include "materia/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void mt_rng_init(mt_rng *r, uint64_t seed, uint64_t stream)
{
    /* Mix seed and stream through two splitmix rounds so that nearby (seed, stream) pairs
     * give unrelated states. */
    uint64_t x = seed;
    uint64_t a = splitmix64(&x);
    uint64_t y = stream ^ 0xD1B54A32D192ED03ULL;
    uint64_t b = splitmix64(&y);
    uint64_t z = a ^ rotl(b, 17) ^ (b * 0x9E3779B97F4A7C15ULL);
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&z);
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0) r->s[0] = 1;
    r->has_spare = 0;
    r->spare = 0.0;
}

uint64_t mt_rng_u64(mt_rng *r)
{
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double mt_rng_uniform(mt_rng *r) { return (double)(mt_rng_u64(r) >> 11) * 0x1.0p-53; }

double mt_rng_range(mt_rng *r, double lo, double hi) { return lo + (hi - lo) * mt_rng_uniform(r); }

uint64_t mt_rng_below(mt_rng *r, uint64_t n)
{
    /* Lemire-style rejection on the top bits. */
    uint64_t lim = (uint64_t)(-n) % n; /* 2^64 mod n */
    for (;;) {
        uint64_t v = mt_rng_u64(r);
        if (v >= lim) return v % n;
    }
}

double mt_rng_normal(mt_rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u, v, s;
    do {
        u = 2.0 * mt_rng_uniform(r) - 1.0;
        v = 2.0 * mt_rng_uniform(r) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    double m = sqrt(-2.0 * log(s) / s);
    r->spare = v * m;
    r->has_spare = 1;
    return u * m;
}

void mt_rng_shuffle_int(mt_rng *r, int *a, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)mt_rng_below(r, (uint64_t)i + 1);
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}
