/* mofrt_gemm.h: a blocked, packed single-precision GEMM for mof's cpu artifacts.
 *
 * C[M, N] = epilogue(A[M, K] * B[K, N]). A is packed once (at emit time for weights,
 * or at run time with mofrt_pack_a) into panels of MOFRT_MR rows; B is read through a
 * source description (a strided matrix, or a convolution's input seen as its im2col
 * matrix, never materialised whole) and packed block by block (MOFRT_KC x MOFRT_NC,
 * sized for L2) into per-thread scratch, in strips of MOFRT_NR columns that stay in L1
 * while the micro-kernel runs every panel of A over them. The micro-kernel keeps an
 * MR x NR tile in vector registers (GCC/Clang vector extensions; plain C elsewhere);
 * partial sums over K blocks go through C itself, and the epilogue (bias per row,
 * residual adds, activations) is applied when the last K block is stored. */
#ifndef MOFRT_GEMM_H
#define MOFRT_GEMM_H

#include <string.h>

#include "mofrt.h"

/* Rows per packed panel of A (fixed: weights are packed at emit time). */
#define MOFRT_MR 4

/* Blocking of B (floats), independent of the vector width so that the scratch size
 * the emitter reserves holds for every ISA: K block, and columns per packed block
 * (a multiple of every NR: 12 and 24). */
#define MOFRT_KC 256
#define MOFRT_NC 384

/* ------------------------------------------------------------------ vectors
 *
 * MOFRT_VL floats per vector: 8 where the compiler targets AVX (256-bit; AVX-512 on
 * the CPUs this runs on has the same FMA throughput), 4 otherwise (SSE, NEON...).
 * Without GCC/Clang vector extensions (MOFRT_VEC 0) the kernels are plain loops. */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(MOFRT_NO_VEC)
#define MOFRT_VEC 1
#if defined(__AVX__)
#define MOFRT_VL 8
#else
#define MOFRT_VL 4
#endif
typedef float mofrt_vf __attribute__((vector_size(MOFRT_VL * 4)));
typedef int32_t mofrt_vi __attribute__((vector_size(MOFRT_VL * 4)));
MOFRT_INLINE mofrt_vf mofrt_vload(const float *p)
{
    mofrt_vf v;
    memcpy(&v, p, sizeof v);
    return v;
}
MOFRT_INLINE void mofrt_vstore(float *p, mofrt_vf v)
{
    memcpy(p, &v, sizeof v);
}
/* (Not `zero + x`: that adds 0.0f to x first, to keep -0.0 right.) */
MOFRT_INLINE mofrt_vf mofrt_vsplat(float x)
{
#if MOFRT_VL == 8
    mofrt_vf v = { x, x, x, x, x, x, x, x };
#else
    mofrt_vf v = { x, x, x, x };
#endif
    return v;
}
/* max(v, lo) and min(v, hi) as the scalar `v < lo ? lo : v`, `v > hi ? hi : v`. */
MOFRT_INLINE mofrt_vf mofrt_vmaxs(mofrt_vf v, mofrt_vf lo)
{
    mofrt_vi m = (mofrt_vi)(v < lo);
    return (mofrt_vf)(((mofrt_vi)lo & m) | ((mofrt_vi)v & ~m));
}
MOFRT_INLINE mofrt_vf mofrt_vmins(mofrt_vf v, mofrt_vf hi)
{
    mofrt_vi m = (mofrt_vi)(v > hi);
    return (mofrt_vf)(((mofrt_vi)hi & m) | ((mofrt_vi)v & ~m));
}
#else
#define MOFRT_VEC 0
#define MOFRT_VL 4
#endif

/* Vectors per row of the micro-tile; NR columns. */
#define MOFRT_NV 3
#define MOFRT_NR (MOFRT_NV * MOFRT_VL)

/* Floats in packed A: M rounded up to MR, times K. */
#define MOFRT_PACKED_A_FLOATS(M, K) ((((M) + MOFRT_MR - 1) / MOFRT_MR) * MOFRT_MR * (K))
/* Packs A(i, k) = a[i * rs + k * cs] (zero-padding the last panel). */
void mofrt_pack_a(const float *a, int64_t M, int64_t K, int64_t rs, int64_t cs, float *out);

/* The B operand (K x N). */
typedef struct mofrt_bsrc {
    int conv;                  /* 0: strided matrix; 1: im2col of a 2-D convolution */
    const float *b;            /* matrix: B(k, n) = b[k * rs + n * cs]; conv: the input
                                  channels of one image and group, [C, H, W] */
    int64_t rs, cs;
    /* conv: k = (c, kh, kw), n = (oh, ow). */
    int64_t C, H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW;
} mofrt_bsrc;

/* Epilogue steps, applied in order after the bias. */
#define MOFRT_EPI_MAX 5
typedef struct mofrt_epi_step {
    int add;                   /* 1: y += res(i, j); 0: y = act(y) */
    const float *res;          /* res(i, j) = res[i * rs + j * cs] */
    int64_t rs, cs;
    mofrt_act act;
    float p[2];
} mofrt_epi_step;

typedef struct mofrt_epi {
    const float *bias;         /* per row of C (M), or NULL */
    int n;
    mofrt_epi_step step[MOFRT_EPI_MAX];
} mofrt_epi;

/* Bytes of scratch mofrt_sgemm needs for `threads` threads and depth K (the same for
 * every ISA: the emitter computes it as (min(K, KC) * NC + NC + 16) floats a thread). */
size_t mofrt_sgemm_scratch(int64_t K, int threads);

/* C(i, j) = c[i * rs_c + j * cs_c]. scratch: mofrt_sgemm_scratch(K, sthreads) bytes,
 * 64-byte aligned; the work is split over at most sthreads threads of the pool (the
 * count the scratch was sized for). */
void mofrt_sgemm(mofrt_pool *pool, int64_t M, int64_t N, int64_t K, const float *packed_a,
                 const mofrt_bsrc *b, float *c, int64_t rs_c, int64_t cs_c,
                 const mofrt_epi *epi, void *scratch, int sthreads);

/* y[0..n) = epilogue of row i (bias[i], then the steps with residual row i at columns
 * j0..j0+n), in place: for kernels that produce one row of C at a time. */
void mofrt_epi_row(const mofrt_epi *epi, int64_t i, int64_t j0, float *y, int64_t n);

#endif
