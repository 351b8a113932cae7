/* random.h: the interpreter's random numbers: MT19937 as numpy's legacy RandomState
 * draws them (np.random.seed(s); np.random.uniform()), so that random ops with a seed
 * reproduce the ONNX reference implementation bit for bit. Self-contained (no libmof
 * dependency), so the unit tests compile it in. */
#ifndef MOF_INTERP_RANDOM_H
#define MOF_INTERP_RANDOM_H

#include <stdint.h>

#include "util.h"

#define MOF_MT_N 624

typedef struct mof_mt19937 {
    uint32_t mt[MOF_MT_N];
    int pos;
} mof_mt19937;

/* Seeds the generator as numpy's RandomState(seed) does for an integer seed in
 * [0, 2^32): MT19937's init_genrand (Knuth's multiplier 1812433253). */
MOF_INTERNAL void mof_mt_seed(mof_mt19937 *r, uint32_t seed);
/* The next 32-bit output (genrand_int32). */
MOF_INTERNAL uint32_t mof_mt_next_u32(mof_mt19937 *r);
/* A double in [0, 1) with 53 random bits from two outputs, as numpy's
 * random_sample: ((a >> 5) * 2^26 + (b >> 6)) / 2^53. */
MOF_INTERNAL double mof_mt_next_double(mof_mt19937 *r);

#endif
