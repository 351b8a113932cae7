/* gemm.c: single-precision matrix multiplication for the reference interpreter.
 *
 * C = alpha * op(A) op(B) + beta * C, row-major. The interpreter is the oracle, so
 * this stays plain C11 with no intrinsics; it is written so that gcc -O2 vectorises
 * the micro-kernel for whatever vector width the target has (SSE2 on baseline
 * x86-64, NEON on AArch64), following the GotoBLAS/BLIS structure:
 *
 *   for each NC-wide column block of B        (B block stays in L3)
 *     for each KC-deep slice of K             pack B[KC x NC] into NR-wide panels
 *       for each MC-tall row block of A       pack alpha*A[MC x KC] into MR-tall panels
 *         for each MR x NR tile of C          micro-kernel: K loop outermost, the
 *                                             MR x NR accumulators stay in registers
 *
 * Packing makes the micro-kernel read both operands with unit stride and no bounds
 * checks (edge panels are zero-padded), whatever the transposition flags are. The
 * summation order over K is fixed by the blocking, so results are deterministic. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "interp/op.h"

/* Micro-tile: MR rows of A times NR columns of B. The tile's loops are unrolled in full
 * (the pragmas below) so that gcc keeps the MR x NR accumulators in vector registers:
 * 4 x 8 floats are 8 SSE registers, leaving room for the B row and the broadcast A
 * value, so nothing spills. Measured alone (kc = 256, L1-resident, -O2, baseline
 * x86-64, AMD EPYC): 4x8 35, 8x8 36 (spilling), 4x12 29.5, 6x8 14.5 GFLOP/s; without
 * full unrolling the accumulators live in memory and 8x8 gives 23. 4 x 8 also keeps
 * the edge waste small for the narrow M of convolutions. */
#define MR 4
#define NR 8
/* Cache blocking: a KC x NR panel of B (8 KiB) stays in L1 while a MC x KC block of A
 * (96 KiB) stays in L2; the KC x NC block of B (2 MiB at most) streams from L3.
 * MC is a multiple of MR and NC of NR. */
#define KC 256
#define MC 96
#define NC 2048

/* C[0:mr, 0:nr] += Ap (MR x kc, packed by column) * Bp (kc x NR, packed by row). */
static void micro_kernel(int64_t kc, const float *restrict ap, const float *restrict bp,
                         float *restrict c, int64_t ldc, int64_t mr, int64_t nr)
{
    float t[MR][NR];
    memset(t, 0, sizeof(t));
    for (int64_t p = 0; p < kc; p++) {
        const float *restrict brow = bp + p * NR;
        const float *restrict acol = ap + p * MR;
#pragma GCC unroll 16
        for (int i = 0; i < MR; i++) {
            float av = acol[i];
#pragma GCC unroll 16
            for (int j = 0; j < NR; j++)
                t[i][j] += av * brow[j];
        }
    }
    if (mr == MR && nr == NR) {
#pragma GCC unroll 16
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++)
                c[i * ldc + j] += t[i][j];
    } else {
        for (int64_t i = 0; i < mr; i++)
            for (int64_t j = 0; j < nr; j++)
                c[i * ldc + j] += t[i][j];
    }
}

/* Element (r, c) of op(X), X row-major with leading dimension ld. */
static inline float elem(const float *x, int64_t ld, bool trans, int64_t r, int64_t c)
{
    return trans ? x[c * ld + r] : x[r * ld + c];
}

/* Packs op(A)[i0:i0+mc, p0:p0+kc] scaled by alpha into MR-row panels: panel q holds
 * rows q*MR.., stored column by column (kc columns of MR values), zero-padded. */
static void pack_a(bool trans, const float *a, int64_t lda, int64_t i0, int64_t mc, int64_t p0,
                   int64_t kc, float alpha, float *restrict dst)
{
    for (int64_t q = 0; q < mc; q += MR) {
        int64_t rows = mc - q < MR ? mc - q : MR;
        if (rows == MR && !trans) {
            const float *r0 = a + (i0 + q) * lda + p0;
            for (int64_t p = 0; p < kc; p++)
                for (int i = 0; i < MR; i++)
                    dst[p * MR + i] = alpha * r0[i * lda + p];
        } else if (rows == MR) {
            /* op(A) = A^T: a column of op(A) is a contiguous run of a row of A. */
            const float *c0 = a + p0 * lda + i0 + q;
            for (int64_t p = 0; p < kc; p++)
                for (int i = 0; i < MR; i++)
                    dst[p * MR + i] = alpha * c0[p * lda + i];
        } else {
            for (int64_t p = 0; p < kc; p++)
                for (int i = 0; i < MR; i++)
                    dst[p * MR + i] =
                        i < rows ? alpha * elem(a, lda, trans, i0 + q + i, p0 + p) : 0.0f;
        }
        dst += kc * MR;
    }
}

/* Packs op(B)[p0:p0+kc, j0:j0+nc] into NR-column panels: panel q holds columns q*NR..,
 * stored row by row (kc rows of NR values), zero-padded. */
static void pack_b(bool trans, const float *b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0,
                   int64_t nc, float *restrict dst)
{
    for (int64_t q = 0; q < nc; q += NR) {
        int64_t cols = nc - q < NR ? nc - q : NR;
        if (cols == NR && !trans) {
            for (int64_t p = 0; p < kc; p++)
                memcpy(dst + p * NR, b + (p0 + p) * ldb + j0 + q, NR * sizeof(float));
        } else if (cols == NR) {
            /* op(B) = B^T: column j of the panel is a contiguous run of row j of B. */
            for (int j = 0; j < NR; j++) {
                const float *src = b + (j0 + q + j) * ldb + p0;
                for (int64_t p = 0; p < kc; p++)
                    dst[p * NR + j] = src[p];
            }
        } else {
            for (int64_t p = 0; p < kc; p++)
                for (int j = 0; j < NR; j++)
                    dst[p * NR + j] =
                        j < cols ? elem(b, ldb, trans, p0 + p, j0 + q + j) : 0.0f;
        }
        dst += kc * NR;
    }
}

/* The unblocked product, used when packing buffers cannot be allocated: same
 * results up to summation order. */
static void gemm_naive(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                       float alpha, const float *a, int64_t lda, const float *b,
                       int64_t ldb, float *c, int64_t ldc)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            float s = 0.0f;
            for (int64_t p = 0; p < k; p++)
                s += elem(a, lda, trans_a, i, p) * elem(b, ldb, trans_b, p, j);
            c[i * ldc + j] += alpha * s;
        }
}

void mof_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
               const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
               int64_t ldc)
{
    if (m <= 0 || n <= 0)
        return;
    /* beta == 0 overwrites C (NaN in C must not survive, as in BLAS). */
    for (int64_t i = 0; i < m; i++) {
        float *row = c + i * ldc;
        if (beta == 0.0f)
            memset(row, 0, (size_t)n * sizeof(float));
        else if (beta != 1.0f)
            for (int64_t j = 0; j < n; j++)
                row[j] *= beta;
    }
    if (k <= 0 || alpha == 0.0f)
        return;

    int64_t nc_max = n < NC ? n : NC, kc_max = k < KC ? k : KC, mc_max = m < MC ? m : MC;
    float *bpack = malloc((size_t)((nc_max + NR - 1) / NR * NR * kc_max) * sizeof(float));
    float *apack = malloc((size_t)((mc_max + MR - 1) / MR * MR * kc_max) * sizeof(float));
    if (!bpack || !apack) {
        free(bpack);
        free(apack);
        gemm_naive(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, c, ldc);
        return;
    }

    for (int64_t jc = 0; jc < n; jc += NC) {
        int64_t nc = n - jc < NC ? n - jc : NC;
        for (int64_t pc = 0; pc < k; pc += KC) {
            int64_t kc = k - pc < KC ? k - pc : KC;
            pack_b(trans_b, b, ldb, pc, kc, jc, nc, bpack);
            for (int64_t ic = 0; ic < m; ic += MC) {
                int64_t mc = m - ic < MC ? m - ic : MC;
                pack_a(trans_a, a, lda, ic, mc, pc, kc, alpha, apack);
                for (int64_t jr = 0; jr < nc; jr += NR) {
                    int64_t nr = nc - jr < NR ? nc - jr : NR;
                    const float *bp = bpack + jr * kc;
                    for (int64_t ir = 0; ir < mc; ir += MR) {
                        int64_t mr = mc - ir < MR ? mc - ir : MR;
                        micro_kernel(kc, apack + ir * kc, bp, c + (ic + ir) * ldc + jc + jr,
                                     ldc, mr, nr);
                    }
                }
            }
        }
    }
    free(apack);
    free(bpack);
}
