/* mofrt_conv.h: 2-D convolution (packed GEMM over an implicit im2col; 1x1 convolutions
 * are plain GEMMs), depthwise convolution (direct), and 2-D pooling, NCHW float. */
#ifndef MOFRT_CONV_H
#define MOFRT_CONV_H

#include "mofrt_gemm.h"

typedef struct mofrt_conv2d {
    int64_t N, C, H, W;        /* input */
    int64_t M, OH, OW;         /* output channels and size */
    int64_t G;                 /* groups */
    int64_t KH, KW, SH, SW, PH, PW, DH, DW; /* PH/PW: leading pads */
    mofrt_act act;             /* the conv's own activation */
    float act_p[2];
} mofrt_conv2d;

/* y = conv(x, w) (+ bias) -> act -> epilogue steps (residuals with res(i, j) =
 * res[i * OH * OW + j] per image: pass rs = OH * OW, cs = 1 and the image's base
 * pointer is advanced by the function). packed_w: for each group, the (M/G) x
 * (C/G*KH*KW) weights packed with mofrt_pack_a, groups one after the other
 * (MOFRT_PACKED_A_FLOATS(M/G, K) floats each). scratch: mofrt_sgemm_scratch(K, sthreads)
 * (see mofrt_sgemm). */
void mofrt_conv2d_gemm(mofrt_pool *pool, const mofrt_conv2d *p, const float *x,
                       const float *packed_w, const float *bias, const mofrt_epi *post,
                       float *y, void *scratch, int sthreads);

/* Depthwise: G == C == M. w: [C, KH, KW]. */
void mofrt_conv2d_depthwise(mofrt_pool *pool, const mofrt_conv2d *p, const float *x,
                            const float *w, const float *bias, const mofrt_epi *post, float *y);

typedef struct mofrt_pool2d {
    int64_t N, C, H, W, OH, OW, KH, KW, SH, SW, PH, PW, DH, DW;
    int max;                   /* 1: max; 0: average */
    int count_include_pad;     /* average: divide by the whole window */
} mofrt_pool2d;
void mofrt_pool2d_run(mofrt_pool *pool, const mofrt_pool2d *p, const float *x, float *y);

#endif
