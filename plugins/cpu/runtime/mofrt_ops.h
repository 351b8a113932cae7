/* mofrt_ops.h: row-wise kernels of mof's cpu artifacts (float): softmax, layer
 * normalization, reductions over a contiguous block of axes. */
#ifndef MOFRT_OPS_H
#define MOFRT_OPS_H

#include "mofrt.h"

/* x, y: [outer, len, inner]; softmax (log: log-softmax) over len. */
void mofrt_softmax(const float *x, float *y, int64_t outer, int64_t len, int64_t inner, int log);
/* x, y: [outer, len]; scale, bias: [len] (bias may be NULL). */
void mofrt_layernorm(const float *x, const float *scale, const float *bias, float *y,
                     int64_t outer, int64_t len, float epsilon);
/* x: [outer, len, inner] -> y: [outer, inner]. kind: 0 sum, 1 mean, 2 max, 3 min,
 * 4 sum of squares, 5 L2 norm. */
void mofrt_reduce(const float *x, float *y, int64_t outer, int64_t len, int64_t inner, int kind);

#endif
