/* mofrt_onednn.h: the oneDNN runtime of mof's cpu backend (kernels=onednn).
 *
 * Copied into an artifact next to the generated source, compiled with it and linked
 * with -ldnnl. Plain C11 over oneDNN's C API (oneDNN 2.x, dnnl.h).
 *
 * Each claimed node becomes one mofrt_onednn_op, created once by the artifact's
 * create(): the primitive is built for the node's exact shapes, and constant weights
 * are reordered there, once, into the layout the primitive prefers (format "any"), so
 * run() only executes. Ops read and write caller memory (the artifact's arena, its
 * inputs and outputs); the pointers are given at every run and rebound only when they
 * change.
 *
 * Activation layouts. A 4-D activation tensor [N, C, H, W] is either PLAIN (NCHW,
 * ONNX's layout) or BLOCKED: oneDNN's nChw16c or nChw8c, channels in blocks of 16 or
 * 8 floats innermost. The emitter makes a tensor BLOCKED only when C is a multiple of
 * 8, so it takes exactly the bytes of its plain form (no padded channels; the arena
 * plan is unchanged). The block is the runtime's: 16 where oneDNN runs AVX-512 kernels
 * (they want nChw16c), else 8 (AVX2); a tensor whose C is no multiple of 16 uses 8.
 * MOFRT_ONEDNN_BLOCK=8 or 16 in the environment, or mofrt_onednn_set_block before the
 * ops are created, overrides the choice. Consecutive oneDNN ops keep tensors blocked
 * (the fast JIT kernels, the direct and depthwise convolutions, want it); reorder ops
 * convert at the boundaries with other kernels.
 *
 * Environment (names as in the artifact, where "MOFRT" is the runtime prefix in upper
 * case, e.g. M_RT_ONEDNN_BLOCK): MOFRT_ONEDNN_BLOCK (above), MOFRT_ONEDNN_WINOGRAD=0
 * (3x3 convolutions by the direct kernels only; see mofrt_onednn_conv_create).
 *
 * Errors: a create function returns NULL and writes a one-line reason (oneDNN's status
 * and what was being built) into the handle's error buffer, mofrt_onednn_error(). */
#ifndef MOFRT_ONEDNN_H
#define MOFRT_ONEDNN_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mofrt_onednn_layout {
    MOFRT_ONEDNN_PLAIN = 0,   /* NCHW (row-major for matrices) */
    MOFRT_ONEDNN_BLOCKED = 1, /* nChw8c (nChw16c: mofrt_onednn_set_block) */
} mofrt_onednn_layout;

/* The activations of mof's fused operators (the values of <mof/fused.h>'s
 * mof_activation, repeated here because the artifact does not see mof's headers). */
typedef enum mofrt_onednn_act {
    MOFRT_ONEDNN_ACT_NONE = 0,
    MOFRT_ONEDNN_ACT_RELU,
    MOFRT_ONEDNN_ACT_LEAKY_RELU,   /* p[0] = alpha */
    MOFRT_ONEDNN_ACT_CLIP,         /* p[0] = min, p[1] = max */
    MOFRT_ONEDNN_ACT_SIGMOID,
    MOFRT_ONEDNN_ACT_HARD_SIGMOID, /* p[0] = alpha, p[1] = beta */
    MOFRT_ONEDNN_ACT_HARD_SWISH,
    MOFRT_ONEDNN_ACT_SILU,
} mofrt_onednn_act;

/* The engine, stream and thread count shared by an artifact's ops. */
typedef struct mofrt_onednn mofrt_onednn;
typedef struct mofrt_onednn_op mofrt_onednn_op;

/* Creates the runtime; n_threads <= 0: oneDNN's default (all cores). NULL when out of
 * memory or when oneDNN has no CPU engine. */
mofrt_onednn *mofrt_onednn_create(int n_threads);
/* Asks for channel blocks of 8 instead of 16 on AVX-512 (a model whose activations have
 * channel counts that are multiples of 8 but not of 16 then needs no 16c/8c copies);
 * MOFRT_ONEDNN_BLOCK in the environment still wins. Call before creating ops. */
void mofrt_onednn_prefer_block8(mofrt_onednn *rt);
void mofrt_onednn_destroy(mofrt_onednn *rt);
/* The last error (static buffer of rt; "" when none). */
const char *mofrt_onednn_error(const mofrt_onednn *rt);
/* The channel block of BLOCKED tensors: 16 (AVX-512) or 8 (see above). Set it before
 * creating ops. */
int mofrt_onednn_block(const mofrt_onednn *rt);
void mofrt_onednn_set_block(mofrt_onednn *rt, int block);
/* Floats a tensor [n, c, h, w] occupies in a layout (BLOCKED pads c). */
size_t mofrt_onednn_nchw_floats(const mofrt_onednn *rt, mofrt_onednn_layout layout,
                              int n, int c, int h, int w);

/* Convolution (ONNX Conv, 2-D): Y = act(conv(X, W) + B [+ S]). Dilations are ONNX's
 * (1 = dense). With has_sum, a tensor S of Y's shape (the residual of an Add), in
 * sum_layout, is added before the activation. */
typedef struct mofrt_onednn_conv_params {
    int n, c, h, w;          /* X */
    int k, oh, ow;           /* Y: [n, k, oh, ow] */
    int kh, kw, group;       /* W: [k, c / group, kh, kw], OIHW floats */
    int stride_h, stride_w, dil_h, dil_w;
    int pad_t, pad_l, pad_b, pad_r;
    mofrt_onednn_layout src_layout, dst_layout;
    int has_sum;
    mofrt_onednn_layout sum_layout; /* S's layout (has_sum) */
    mofrt_onednn_act act;
    float act_params[2];
} mofrt_onednn_conv_params;

/* weights: OIHW floats (copied); bias: k floats or NULL. */
mofrt_onednn_op *mofrt_onednn_conv_create(mofrt_onednn *rt, const mofrt_onednn_conv_params *p,
                                      const float *weights, const float *bias);

/* Pooling (MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool as a window of the
 * whole plane). */
typedef enum mofrt_onednn_pool_kind {
    MOFRT_ONEDNN_POOL_MAX = 0,
    MOFRT_ONEDNN_POOL_AVG_EXCLUDE_PAD,
    MOFRT_ONEDNN_POOL_AVG_INCLUDE_PAD,
} mofrt_onednn_pool_kind;

typedef struct mofrt_onednn_pool_params {
    int n, c, h, w, oh, ow;
    int kh, kw, stride_h, stride_w, dil_h, dil_w;
    int pad_t, pad_l, pad_b, pad_r;
    mofrt_onednn_pool_kind kind;
    mofrt_onednn_layout src_layout, dst_layout;
} mofrt_onednn_pool_params;

mofrt_onednn_op *mofrt_onednn_pool_create(mofrt_onednn *rt, const mofrt_onednn_pool_params *p);

/* Matrix product with a constant right-hand side: Y[m, n] = act(A[m, k] B[k, n] +
 * bias[n]), A and Y row-major (A's rows may be a flattened batch). B is given as
 * floats [k, n], or [n, k] with trans_b; it is scaled by alpha and packed once. */
typedef struct mofrt_onednn_matmul_params {
    int m, k, n;
    int trans_b;
    float alpha;
    mofrt_onednn_act act;
    float act_params[2];
} mofrt_onednn_matmul_params;

mofrt_onednn_op *mofrt_onednn_matmul_create(mofrt_onednn *rt,
                                        const mofrt_onednn_matmul_params *p,
                                        const float *b, const float *bias);

/* Y = act(A + B), three tensors [n, c, h, w], each in its own layout (run: src = A,
 * sum = B). */
typedef struct mofrt_onednn_binary_params {
    int n, c, h, w;
    mofrt_onednn_layout src0_layout, src1_layout, dst_layout;
    mofrt_onednn_act act;
    float act_params[2];
} mofrt_onednn_binary_params;

mofrt_onednn_op *mofrt_onednn_binary_create(mofrt_onednn *rt,
                                          const mofrt_onednn_binary_params *p);

/* Softmax over the rows of a row-major [outer, len] matrix (ONNX Softmax along the last
 * axis). */
mofrt_onednn_op *mofrt_onednn_softmax_create(mofrt_onednn *rt, int outer, int len);

/* Layer normalization of the rows of a row-major [rows, len] matrix (ONNX
 * LayerNormalization along the last axis): y = (x - mean) / sqrt(var + eps) * scale
 * + bias; scale: len floats, bias: len floats or NULL (both copied). */
mofrt_onednn_op *mofrt_onednn_layernorm_create(mofrt_onednn *rt, int rows, int len, float eps,
                                             const float *scale, const float *bias);

/* Batched product of two activations: Y[b] = act(A[b] B[b]), A [batch, m, k], B
 * [batch, k, n], Y [batch, m, n], all row-major (run: src = A, sum = B). */
typedef struct mofrt_onednn_bmm_params {
    int batch, m, k, n;
    mofrt_onednn_act act;
    float act_params[2];
} mofrt_onednn_bmm_params;

mofrt_onednn_op *mofrt_onednn_bmm_create(mofrt_onednn *rt, const mofrt_onednn_bmm_params *p);

/* A layout conversion of a tensor [n, c, h, w]. */
mofrt_onednn_op *mofrt_onednn_reorder_create(mofrt_onednn *rt, int n, int c, int h, int w,
                                         mofrt_onednn_layout from, mofrt_onednn_layout to);

/* Runs an op: src is X (A for matmul), dst is Y, sum is S (conv with has_sum only;
 * else NULL). Returns 0, or -1 with mofrt_onednn_error() set. */
int mofrt_onednn_op_run(mofrt_onednn_op *op, const float *src, float *dst, const float *sum);

/* oneDNN's name of the implementation chosen (e.g. "jit:avx512_core"); static. */
const char *mofrt_onednn_op_impl(const mofrt_onednn_op *op);
void mofrt_onednn_op_destroy(mofrt_onednn_op *op);

#ifdef __cplusplus
}
#endif
#endif
