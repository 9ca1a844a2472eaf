/* Private state of the crossbar simulator (src/aimc/matrix.c, chip.c). */
#ifndef MATERIA_AIMC_IMPL_H
#define MATERIA_AIMC_IMPL_H

#include <stdint.h>

#include "materia/aimc.h"

/* One crossbar tile: inputs row0 … row0+rows−1 of the matrix, outputs col0 … col0+cols−1.
 * Cell (i, j) = output i, input j is stored at i·rows + j (the [outs, ins] layout of W, so the
 * tile is the A operand of a row-major GEMM).  Conductance arrays hold 2·U planes of n cells:
 * planes 0 … U−1 are the G+ noise units, U … 2U−1 the G− units. */
typedef struct aimc_tile {
    int64_t row0, rows, col0, cols, n;
    float *scale;   /* [cols] digital weight scale: W = scale · w_tile (W units per tile unit) */
    float *g_t;     /* [2U·n] target conductance, µS */
    float *g_p;     /* [2U·n] programmed conductance, µS */
    float *g_now;   /* [2U·n] conductance at the current time (drift + frozen read noise), µS */
    float *nu;      /* [2U·n] drift exponents */
    float *w;       /* [n] (ΣG+ − ΣG−)/g_full at the current time, tile units */
    float *var;     /* [n] per-MVM read-noise variance of each cell, tile units² (READ_PER_MVM) */
    double *ref;    /* [cols] drift-compensation baseline (GLOBAL*: ref[0] used) */
    double *alpha;  /* [cols] drift-compensation factor */
} aimc_tile;

struct mt_aimc_matrix {
    mt_aimc_params p;
    int64_t outs, ins;
    int nrb, ncb, ntiles;   /* row blocks (inputs) × column blocks (outputs); tile = rb·ncb + cb */
    aimc_tile *tiles;
    int units;              /* noise units per polarity */
    double g_unit, g_full;  /* µS: one unit's maximum, a polarity's full scale (units·g_unit) */
    float ir;               /* DAC input range; ≤ 0 = per-vector abs max */
    double t_inf;
    int mvm_noise;          /* 1 when an MVM draws one normal per output element */
};

/* Distinct random streams per (domain, a, b). */
static inline uint64_t aimc_stream(uint64_t domain, uint64_t a, uint64_t b)
{
    uint64_t z = domain * 0x9E3779B97F4A7C15ULL ^ (a + 0x632BE59BD9B4E019ULL) * 0xBF58476D1CE4E5B9ULL;
    z ^= z >> 29;
    z = (z ^ (b + 0x85EBCA77C2B2AE63ULL)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

enum { AIMC_STREAM_PROGRAM = 1, AIMC_STREAM_GDC_REF, AIMC_STREAM_READ, AIMC_STREAM_GDC_NOW,
       AIMC_STREAM_MVM };

#endif
