/* mofrt_int8.h: integer kernels of mof's cpu artifacts: QLinearConv and QLinearMatMul
 * on uint8 / int8 activations with int8 / uint8 weights (per tensor or per output
 * channel), QuantizeLinear, DequantizeLinear and the clamp of a fused Relu.
 *
 * The arithmetic is the reference interpreter's (core/interp/ops_quant.c), bit for
 * bit: (x - x_zero_point) * (w - w_zero_point) summed in an int32 accumulator that
 * wraps, plus the int32 bias; then, per output channel, the accumulator converted to
 * float and multiplied in float by the multiplier x_scale * w_scale / y_scale (computed
 * in float, in that order, by whoever fills `mult`), rounded half to even, the zero
 * point added, saturated. Saturating before rounding is the same thing (rounding is
 * monotone and the bounds are integers), and keeps the rounded value within +-255,
 * where the rounding below is exact.
 *
 * Products are formed as int16 x int16 -> int32 (a value minus its zero point fits in
 * int16), two at a time (pmaddwd on AVX2), so no intermediate ever saturates. The
 * compute is a GEMM: rows = output channels (weights, packed once at emit time by
 * mofrt_i8_pack_weights), columns = output pixels (im2col of the activation into
 * int16 pairs, packed per block of columns in scratch memory).
 *
 * Copied into each artifact with "mofrt" replaced by the artifact's runtime prefix. */
#ifndef MOFRT_INT8_H
#define MOFRT_INT8_H

#include <stddef.h>
#include <stdint.h>

#include "mofrt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The GEMM's register tile: MR output channels x NR columns. */
#define MOFRT_I8_MR 4
#define MOFRT_I8_NR 16

/* ------------------------------------------------------------------ weights */

/* int16 elements of the packed weights of `groups` groups of m rows (output channels)
 * by k (input channels x kernel positions). */
static inline size_t mofrt_i8_packed_size(int64_t groups, int64_t m, int64_t k)
{
    return (size_t)(groups * ((m + MOFRT_I8_MR - 1) / MOFRT_I8_MR) * MOFRT_I8_MR *
                    ((k + 1) / 2) * 2);
}

/* Packs w (groups * m rows of k int8 or uint8 values, row-major, as ONNX stores conv
 * weights [M, C/G, kh, kw]) minus its zero point (wzp: one value, or one per row
 * when wzp_per_row) into `packed` (mofrt_i8_packed_size elements). w_signed: int8
 * (else uint8). When transposed, w is [k, groups * m] instead (MatMul's B).
 *
 * Layout, per group: panels of MR rows; in a panel, for each pair of k (kk), MR pairs
 * (w[r][2kk], w[r][2kk+1]); rows past m and the k past an odd k are zeros. Inline so
 * that the emitter packs with this very code at emit time. */
static inline void mofrt_i8_pack_weights(int64_t groups, int64_t m, int64_t k, const void *w,
                                         int w_signed, const int32_t *wzp, int wzp_per_row,
                                         int transposed, int16_t *packed)
{
    int64_t k2 = (k + 1) / 2, panels = (m + MOFRT_I8_MR - 1) / MOFRT_I8_MR, rows = groups * m;
    const uint8_t *wu = (const uint8_t *)w;
    const int8_t *ws = (const int8_t *)w;
    int16_t *d = packed;
    for (int64_t g = 0; g < groups; g++)
        for (int64_t pn = 0; pn < panels; pn++)
            for (int64_t kk = 0; kk < k2; kk++)
                for (int64_t r = 0; r < MOFRT_I8_MR; r++)
                    for (int64_t t = 0; t < 2; t++) {
                        int64_t row = pn * MOFRT_I8_MR + r, kx = 2 * kk + t, v = 0;
                        if (row < m && kx < k) {
                            int64_t gr = g * m + row;
                            int64_t i = transposed ? kx * rows + gr : gr * k + kx;
                            v = (w_signed ? ws[i] : wu[i]) - wzp[wzp_per_row ? gr : 0];
                        }
                        *d++ = (int16_t)v;
                    }
}

/* The requantization multiplier, computed as the interpreter computes it: in float,
 * x_scale * w_scale first, then divided by y_scale. */
static inline float mofrt_i8_multiplier(float x_scale, float w_scale, float y_scale)
{
    return x_scale * w_scale / y_scale;
}

/* ------------------------------------------------------------------ requantization */

/* The output stage shared by the kernels: y = clamp(round(acc * mult[m]) + zp, lo, hi)
 * with mult per output channel (row). lo/hi are the output type's range, or narrower
 * for a fused Relu (lo = max(lo, zp)). */
typedef struct mofrt_i8_out {
    const float *mult;        /* one per output channel */
    const int32_t *bias;      /* one per output channel, or NULL */
    int32_t zp, lo, hi;
    int32_t y_signed;         /* int8 (else uint8) */
} mofrt_i8_out;

/* ------------------------------------------------------------------ QLinearConv */

/* A 2-D convolution, NCHW (a 1-D one has h = kh = 1). */
typedef struct mofrt_i8_conv {
    int64_t n, c, h, w;               /* input */
    int64_t m, oh, ow;                /* output channels and size */
    int64_t kh, kw, sh, sw, dh, dw;   /* kernel, strides, dilations */
    int64_t pt, pl, pb, pr;           /* pads: top, left, bottom, right */
    int64_t groups;
    int32_t x_signed, x_zp;
    mofrt_i8_out out;
    /* The u8 x s8 path (AVX512-VNNI's vpdpbusd, taken at run time where the CPU has
     * it): the bias minus x_zp' * sum_k w per output channel (mofrt_i8_bias_u8), or
     * NULL where the weights do not allow it (see mofrt_i8_pack_weights8). */
    const int32_t *bias_u8;
} mofrt_i8_conv;

/* ------------------------------------------------------------------ the u8 x s8 path
 *
 * With int8 weights whose zero point is 0, sum (x - zx) * w = sum x' * w - zx' * sum w
 * exactly in wrapping int32 arithmetic, where x' = x for uint8 activations and
 * x + 128 for int8 ones (zx' likewise): then four u8 x s8 products at a time sum into
 * int32 without any intermediate saturation (vpdpbusd), and the second term is a
 * constant folded into the bias. Padding holds zx', which contributes nothing. */

/* Bytes of the weights packed for it: panels of MR rows, k in quads. */
static inline size_t mofrt_i8_packed8_size(int64_t groups, int64_t m, int64_t k)
{
    return (size_t)(groups * ((m + MOFRT_I8_MR - 1) / MOFRT_I8_MR) * MOFRT_I8_MR *
                    ((k + 3) / 4) * 4);
}

/* Packs int8 weights (groups * m rows of k, zero point 0): per group, per panel of MR
 * rows, for each quad of k, MR quads (zeros past m and k). */
static inline void mofrt_i8_pack_weights8(int64_t groups, int64_t m, int64_t k,
                                          const int8_t *w, int8_t *packed)
{
    int64_t k4 = (k + 3) / 4, panels = (m + MOFRT_I8_MR - 1) / MOFRT_I8_MR;
    int8_t *d = packed;
    for (int64_t g = 0; g < groups; g++)
        for (int64_t pn = 0; pn < panels; pn++)
            for (int64_t kq = 0; kq < k4; kq++)
                for (int64_t r = 0; r < MOFRT_I8_MR; r++)
                    for (int64_t t = 0; t < 4; t++) {
                        int64_t row = pn * MOFRT_I8_MR + r, kx = 4 * kq + t;
                        *d++ = row < m && kx < k ? w[(g * m + row) * k + kx] : 0;
                    }
}

/* bias_u8[r] = bias[r] - x_zp' * sum_k w[r][k] for `rows` rows, wrapping (bias NULL:
 * 0). x_zp' is the activation's zero point, plus 128 for int8 activations. */
static inline void mofrt_i8_bias_u8(int64_t rows, int64_t k, const int8_t *w,
                                    const int32_t *bias, int32_t x_zp_u8, int32_t *out)
{
    for (int64_t r = 0; r < rows; r++) {
        uint32_t sum = 0;
        for (int64_t i = 0; i < k; i++)
            sum += (uint32_t)(int32_t)w[r * k + i];
        out[r] = (int32_t)((bias ? (uint32_t)bias[r] : 0u) - (uint32_t)x_zp_u8 * sum);
    }
}

/* Whether mofrt_i8_conv_run takes the u8 x s8 path where it can (default 1): for
 * tests, which check both paths. */
void mofrt_i8_use_vnni(int on);


/* y = QLinearConv(x) with the weights packed by mofrt_i8_pack_weights(groups,
 * m / groups, c / groups * kh * kw, ...), and w8 NULL or the same weights packed by
 * mofrt_i8_pack_weights8 (with p->bias_u8 set). scratch: 64-byte aligned,
 * mofrt_i8_conv_scratch bytes (below). */
void mofrt_i8_conv_run(const mofrt_i8_conv *p, const int16_t *w, const int8_t *w8,
                       const void *x, void *y, void *scratch, mofrt_pool *pool);

/* ------------------------------------------------------------------ QLinearMatMul */

/* y[b, m, n] = QLinearMatMul(a[b, m, k], w[k, n]): a per-tensor a, a constant 2-D b
 * packed by mofrt_i8_pack_weights(1, n, k, b, ..., transposed = 1); rows = n. */
typedef struct mofrt_i8_matmul {
    int64_t rows, k, n;               /* rows of a (batch dims folded in), k, columns */
    int32_t a_signed, a_zp;
    mofrt_i8_out out;
} mofrt_i8_matmul;

void mofrt_i8_matmul_run(const mofrt_i8_matmul *p, const int16_t *w, const void *a, void *y,
                         void *scratch, mofrt_pool *pool);

/* ------------------------------------------------------------------ scratch
 *
 * Inline, so that the emitter sizes the scratch with the runtime's own arithmetic.
 * A thread packs a block of column panels at a time, kept within MOFRT_I8_BLOCK_BYTES
 * (L2). A convolution also keeps its padded input (int16, one image) and the input
 * offset of each k. */
#define MOFRT_I8_BLOCK_BYTES (192 * 1024)

static inline size_t mofrt_i8_align64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

/* Column panels per block, blocks, and bytes per thread of a GEMM of depth k over
 * `cols` columns. */
static inline void mofrt_i8_blocking(int64_t k, int64_t cols, int64_t *ppb, int64_t *blocks,
                                     size_t *per_thread)
{
    int64_t psize = (k + 1) / 2 * 2 * MOFRT_I8_NR * (int64_t)sizeof(int16_t);
    int64_t n = MOFRT_I8_BLOCK_BYTES / psize;
    int64_t total = (cols + MOFRT_I8_NR - 1) / MOFRT_I8_NR;
    if (n > total)
        n = total;
    if (n < 1)
        n = 1;
    *ppb = n;
    *blocks = (cols + n * MOFRT_I8_NR - 1) / (n * MOFRT_I8_NR);
    *per_thread = mofrt_i8_align64((size_t)(n * psize));
}

/* The padded input of a convolution of n values (int16 on the int16 path, bytes on the
 * u8 path), with MOFRT_I8_XPAD_MARGIN bytes of slack before and after: the im2col
 * loads reach up to 32 values past the values they use. */
#define MOFRT_I8_XPAD_MARGIN 128
static inline size_t mofrt_i8_xpad_bytes(int64_t n)
{
    return mofrt_i8_align64((size_t)n * sizeof(int16_t) + 2 * MOFRT_I8_XPAD_MARGIN);
}

/* Bytes of scratch mofrt_i8_conv_run needs with `threads` threads: the padded input,
 * the k offsets, and a block per thread. */
static inline size_t mofrt_i8_conv_scratch(const mofrt_i8_conv *p, int threads)
{
    int64_t hp = p->h + p->pt + p->pb, wp = p->w + p->pl + p->pr;
    int64_t k = p->c / p->groups * p->kh * p->kw, ppb, blocks;
    size_t per_thread;
    mofrt_i8_blocking(k, p->oh * p->ow, &ppb, &blocks, &per_thread);
    return mofrt_i8_xpad_bytes(p->c * hp * wp) +
           mofrt_i8_align64((size_t)k * sizeof(int32_t)) +
           (size_t)(threads < 1 ? 1 : threads) * per_thread;
}

static inline size_t mofrt_i8_matmul_scratch(const mofrt_i8_matmul *p, int threads)
{
    int64_t ppb, blocks;
    size_t per_thread;
    mofrt_i8_blocking(p->k, p->rows, &ppb, &blocks, &per_thread);
    return (size_t)(threads < 1 ? 1 : threads) * per_thread;
}

/* ------------------------------------------------------------------ element-wise */

/* QuantizeLinear of n floats, per tensor: y = clamp(round(x / scale) + zp), the
 * division in float as the interpreter does it; NaN gives 0. */
void mofrt_i8_quantize(const float *x, int64_t n, float scale, int32_t zp, int y_signed,
                       void *y);

/* QuantizeLinear per channel: x is [outer, channels, inner], one scale and zero point
 * per channel. */
void mofrt_i8_quantize_axis(const float *x, int64_t outer, int64_t channels, int64_t inner,
                            const float *scale, const int32_t *zp, int y_signed, void *y);

/* DequantizeLinear: y = (float)(x - zp) * scale, per tensor (channels = 1) or per
 * channel of [outer, channels, inner]. x_kind: 0 uint8, 1 int8, 2 int32. */
void mofrt_i8_dequantize(const void *x, int x_kind, int64_t outer, int64_t channels,
                         int64_t inner, const float *scale, const int32_t *zp, float *y);

/* MaxPool of 8-bit planes: planes (N * C) of h x w -> oh x ow; positions in the padding
 * are skipped (every window holds at least one input position). scratch: w int16. */
typedef struct mofrt_i8_pool {
    int64_t planes, h, w, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl;
    int32_t x_signed;
} mofrt_i8_pool;
void mofrt_i8_maxpool(const mofrt_i8_pool *p, const void *x, void *y, void *scratch);

/* y = max(x, lo) for n 8-bit values (Max with a constant: a Relu in the quantized
 * domain). */
void mofrt_i8_max(const void *x, int64_t n, int32_t lo, int x_signed, void *y);

#ifdef __cplusplus
}
#endif
#endif
