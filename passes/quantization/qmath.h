/* qmath.h: the quantization arithmetic that every pass of the quantization plugin
 * shares (internal to the plugin). The rounding and saturation are the interpreter's
 * (QuantizeLinear: round(x / scale) half to even, plus the zero point, saturated), so
 * that what a pass predicts is what the model computes. */
#ifndef MOF_QUANT_QMATH_H
#define MOF_QUANT_QMATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mof/mof.h>

/* The representable range of a quantized type (int8, uint8, and int4/uint4 where the
 * IR knows them). False for any other type. */
bool qm_range(mof_dtype t, int32_t *lo, int32_t *hi);

/* Scale and zero point that map [lo, hi] (widened to contain 0) onto the type's range.
 * symmetric: zero point 0 for signed types, the mid-point (128, 8) for unsigned ones,
 * and the range is [-max|x|, max|x|]. reduce_range: use 7 bits of an 8-bit type (as
 * ONNX Runtime does for weights on CPUs without VNNI). A zero-width range gives scale 1. */
void qm_params(float lo, float hi, mof_dtype t, bool symmetric, bool reduce_range,
               float *scale, int32_t *zero_point);

/* QuantizeLinear of one value: round half to even of x / scale, plus zero_point,
 * saturated to the type's range. */
int32_t qm_quantize(float x, float scale, int32_t zero_point, mof_dtype t);

/* DequantizeLinear of one value. */
static inline float qm_dequantize(int32_t q, float scale, int32_t zero_point)
{
    return (float)(q - zero_point) * scale;
}

/* Quantizes a float weight tensor along `axis` (-1: per tensor) into a new tensor of
 * type t, with new scale (float) and zero-point (type t) tensors: rank 0 per tensor,
 * rank 1 [dims[axis]] per channel. block > 0: blocked along axis instead (ONNX 21
 * block_size), scale and zero point have the weight's shape with dims[axis] divided by
 * block (rounded up). Returns MOF_ERR_NOMEM or MOF_ERR_INVALID_ARG (non-float input,
 * axis out of range) without touching the outputs. */
mof_status qm_quantize_weight(const mof_tensor *w, int axis, int64_t block, mof_dtype t,
                              bool symmetric, bool reduce_range, mof_tensor **q,
                              mof_tensor **scale, mof_tensor **zero_point);

/* Signal-to-quantization-noise ratio in dB of approx against ref (n floats):
 * 10 log10(sum ref^2 / sum (ref - approx)^2); INFINITY when they are equal. */
double qm_sqnr_db(const float *ref, const float *approx, size_t n);

#endif
