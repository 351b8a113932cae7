/* random.c: MT19937 (Matsumoto and Nishimura, 1998) as numpy's legacy RandomState
 * uses it; see random.h. */
#include "config.h"

#include "interp/random.h"

#define MT_M 397
#define MT_MATRIX_A 0x9908b0dfu
#define MT_UPPER 0x80000000u
#define MT_LOWER 0x7fffffffu

void mof_mt_seed(mof_mt19937 *r, uint32_t seed)
{
    r->mt[0] = seed;
    for (int i = 1; i < MOF_MT_N; i++)
        r->mt[i] = 1812433253u * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + (uint32_t)i;
    r->pos = MOF_MT_N;
}

/* Generates the next MOF_MT_N words. */
static void mt_generate(mof_mt19937 *r)
{
    uint32_t *mt = r->mt;
    int k;
    for (k = 0; k < MOF_MT_N - MT_M; k++) {
        uint32_t y = (mt[k] & MT_UPPER) | (mt[k + 1] & MT_LOWER);
        mt[k] = mt[k + MT_M] ^ (y >> 1) ^ (y & 1u ? MT_MATRIX_A : 0u);
    }
    for (; k < MOF_MT_N - 1; k++) {
        uint32_t y = (mt[k] & MT_UPPER) | (mt[k + 1] & MT_LOWER);
        mt[k] = mt[k + (MT_M - MOF_MT_N)] ^ (y >> 1) ^ (y & 1u ? MT_MATRIX_A : 0u);
    }
    uint32_t y = (mt[MOF_MT_N - 1] & MT_UPPER) | (mt[0] & MT_LOWER);
    mt[MOF_MT_N - 1] = mt[MT_M - 1] ^ (y >> 1) ^ (y & 1u ? MT_MATRIX_A : 0u);
    r->pos = 0;
}

uint32_t mof_mt_next_u32(mof_mt19937 *r)
{
    if (r->pos >= MOF_MT_N)
        mt_generate(r);
    uint32_t y = r->mt[r->pos++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

double mof_mt_next_double(mof_mt19937 *r)
{
    uint32_t a = mof_mt_next_u32(r) >> 5, b = mof_mt_next_u32(r) >> 6;
    return ((double)a * 67108864.0 + (double)b) / 9007199254740992.0;
}
