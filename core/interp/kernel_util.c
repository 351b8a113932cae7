/* kernel_util.c: helpers shared by the interpreter's kernels: strides and
 * broadcasting of shapes, element access of any numeric type through double or
 * int64, and the IEEE half and bfloat16 conversions (round to nearest even). */
#include "config.h"

#include <math.h>
#include <string.h>

#include "interp/op.h"

void mof_strides(size_t rank, const int64_t *dims, int64_t *strides)
{
    int64_t s = 1;
    for (size_t i = rank; i-- > 0;) {
        strides[i] = s;
        s *= dims[i];
    }
}

bool mof_broadcast_dims(size_t ra, const int64_t *a, size_t rb, const int64_t *b,
                        size_t *rout, int64_t *out)
{
    size_t r = ra > rb ? ra : rb;
    for (size_t i = 0; i < r; i++) {
        /* Align from the right: a missing leading dim acts as 1. */
        int64_t da = i + ra >= r ? a[i + ra - r] : 1;
        int64_t db = i + rb >= r ? b[i + rb - r] : 1;
        if (da == db || db == 1)
            out[i] = da;
        else if (da == 1)
            out[i] = db;
        else
            return false;
    }
    *rout = r;
    return true;
}

/* ------------------------------------------------------------------ half floats */

float mof_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13);       /* inf, NaN (payload kept) */
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (mant << 13); /* rebias 15 -> 127 */
    } else if (mant == 0) {
        bits = sign;                                      /* +-0 */
    } else {
        /* A subnormal half is a normal float: shift the mantissa up to its leading 1. */
        int e = -1;
        do {
            e++;
            mant <<= 1;
        } while (!(mant & 0x400u));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((mant & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof(f));
    return f;
}

/* Rounds a double to a 16-bit float with `mbits` mantissa bits and exponent bias
 * `bias` (all-ones exponent `emax`): IEEE half (10, 15, 31) or bfloat16 (7, 127, 255).
 * Round to nearest even, straight from the double, so that there is one rounding;
 * overflow gives inf, NaN stays a quiet NaN. */
static uint16_t double_to_16(double d, unsigned mbits, int bias, int emax)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof(bits));
    uint16_t sign = (uint16_t)((bits >> 48) & 0x8000u);
    int exp = (int)((bits >> 52) & 0x7ffu);
    uint64_t mant = bits & ((UINT64_C(1) << 52) - 1);
    uint16_t inf = (uint16_t)((unsigned)emax << mbits);
    if (exp == 0x7ff) {
        if (!mant)
            return sign | inf;
        return sign | inf | (uint16_t)(1u << (mbits - 1)) |
               (uint16_t)((mant >> (52 - mbits)) & ((1u << mbits) - 1));
    }
    int e = exp - 1023 + bias;
    if (e >= emax)
        return sign | inf;
    uint64_t m;
    unsigned shift;
    uint32_t base;
    if (e <= 0) {
        /* A subnormal result (or zero): the implicit 1 joins the shifted mantissa. */
        if (e < -(int)mbits)
            return sign;
        m = mant | (UINT64_C(1) << 52);
        shift = 52 - mbits + (unsigned)(1 - e);
        base = 0;
    } else {
        m = mant;
        shift = 52 - mbits;
        base = (uint32_t)e << mbits;
    }
    uint64_t q = m >> shift;
    uint64_t rem = m & ((UINT64_C(1) << shift) - 1);
    uint64_t mid = UINT64_C(1) << (shift - 1);
    if (rem > mid || (rem == mid && (q & 1u)))
        q++;
    /* A carry out of the mantissa correctly bumps the exponent (up to inf). */
    return sign | (uint16_t)(base + (uint32_t)q);
}

uint16_t mof_float_to_half(float f)
{
    return double_to_16(f, 10, 15, 31);
}

float mof_bfloat16_to_float(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof(f));
    return f;
}

uint16_t mof_float_to_bfloat16(float f)
{
    return double_to_16(f, 7, 127, 255);
}

/* ------------------------------------------------------------------ element access */

double mof_tensor_get_f64(const mof_tensor *t, int64_t i)
{
    const void *d = t->data;
    switch (t->dtype) {
    case MOF_DTYPE_FLOAT: return ((const float *)d)[i];
    case MOF_DTYPE_DOUBLE: return ((const double *)d)[i];
    case MOF_DTYPE_FLOAT16: return mof_half_to_float(((const uint16_t *)d)[i]);
    case MOF_DTYPE_BFLOAT16: return mof_bfloat16_to_float(((const uint16_t *)d)[i]);
    case MOF_DTYPE_INT8: return ((const int8_t *)d)[i];
    case MOF_DTYPE_INT16: return ((const int16_t *)d)[i];
    case MOF_DTYPE_INT32: return ((const int32_t *)d)[i];
    case MOF_DTYPE_INT64: return (double)((const int64_t *)d)[i];
    case MOF_DTYPE_UINT8: return ((const uint8_t *)d)[i];
    case MOF_DTYPE_UINT16: return ((const uint16_t *)d)[i];
    case MOF_DTYPE_UINT32: return ((const uint32_t *)d)[i];
    case MOF_DTYPE_UINT64: return (double)((const uint64_t *)d)[i];
    case MOF_DTYPE_BOOL: return ((const uint8_t *)d)[i] ? 1.0 : 0.0;
    default: return 0.0;
    }
}

/* double -> int64 without undefined behaviour: truncates, saturates, NaN gives 0. */
static int64_t f64_to_i64(double v)
{
    if (isnan(v))
        return 0;
    if (v >= 9223372036854775807.0)
        return INT64_MAX;
    if (v <= -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)v;
}

static uint64_t f64_to_u64(double v)
{
    if (isnan(v) || v <= 0.0)
        return v <= -1.0 ? (uint64_t)f64_to_i64(v) : 0; /* wraps like two's complement */
    if (v >= 18446744073709551615.0)
        return UINT64_MAX;
    return (uint64_t)v;
}

int64_t mof_tensor_get_i64(const mof_tensor *t, int64_t i)
{
    const void *d = t->data;
    switch (t->dtype) {
    case MOF_DTYPE_FLOAT: return f64_to_i64(((const float *)d)[i]);
    case MOF_DTYPE_DOUBLE: return f64_to_i64(((const double *)d)[i]);
    case MOF_DTYPE_FLOAT16: return f64_to_i64(mof_half_to_float(((const uint16_t *)d)[i]));
    case MOF_DTYPE_BFLOAT16:
        return f64_to_i64(mof_bfloat16_to_float(((const uint16_t *)d)[i]));
    case MOF_DTYPE_INT8: return ((const int8_t *)d)[i];
    case MOF_DTYPE_INT16: return ((const int16_t *)d)[i];
    case MOF_DTYPE_INT32: return ((const int32_t *)d)[i];
    case MOF_DTYPE_INT64: return ((const int64_t *)d)[i];
    case MOF_DTYPE_UINT8: return ((const uint8_t *)d)[i];
    case MOF_DTYPE_UINT16: return ((const uint16_t *)d)[i];
    case MOF_DTYPE_UINT32: return ((const uint32_t *)d)[i];
    /* The bit pattern: a uint64 above INT64_MAX reads as negative. */
    case MOF_DTYPE_UINT64: return (int64_t)((const uint64_t *)d)[i];
    case MOF_DTYPE_BOOL: return ((const uint8_t *)d)[i] ? 1 : 0;
    default: return 0;
    }
}

void mof_tensor_set_f64(mof_tensor *t, int64_t i, double v)
{
    void *d = t->data;
    switch (t->dtype) {
    case MOF_DTYPE_FLOAT: ((float *)d)[i] = (float)v; break;
    case MOF_DTYPE_DOUBLE: ((double *)d)[i] = v; break;
    case MOF_DTYPE_FLOAT16: ((uint16_t *)d)[i] = double_to_16(v, 10, 15, 31); break;
    case MOF_DTYPE_BFLOAT16: ((uint16_t *)d)[i] = double_to_16(v, 7, 127, 255); break;
    case MOF_DTYPE_INT8: ((int8_t *)d)[i] = (int8_t)f64_to_i64(v); break;
    case MOF_DTYPE_INT16: ((int16_t *)d)[i] = (int16_t)f64_to_i64(v); break;
    case MOF_DTYPE_INT32: ((int32_t *)d)[i] = (int32_t)f64_to_i64(v); break;
    case MOF_DTYPE_INT64: ((int64_t *)d)[i] = f64_to_i64(v); break;
    case MOF_DTYPE_UINT8: ((uint8_t *)d)[i] = (uint8_t)f64_to_u64(v); break;
    case MOF_DTYPE_UINT16: ((uint16_t *)d)[i] = (uint16_t)f64_to_u64(v); break;
    case MOF_DTYPE_UINT32: ((uint32_t *)d)[i] = (uint32_t)f64_to_u64(v); break;
    case MOF_DTYPE_UINT64: ((uint64_t *)d)[i] = f64_to_u64(v); break;
    case MOF_DTYPE_BOOL: ((uint8_t *)d)[i] = v != 0.0; break;
    default: break;
    }
}

void mof_tensor_set_i64(mof_tensor *t, int64_t i, int64_t v)
{
    void *d = t->data;
    switch (t->dtype) {
    case MOF_DTYPE_FLOAT: ((float *)d)[i] = (float)v; break;
    case MOF_DTYPE_DOUBLE: ((double *)d)[i] = (double)v; break;
    case MOF_DTYPE_FLOAT16: ((uint16_t *)d)[i] = double_to_16((double)v, 10, 15, 31); break;
    case MOF_DTYPE_BFLOAT16: ((uint16_t *)d)[i] = double_to_16((double)v, 7, 127, 255); break;
    /* Narrowing keeps the low bits (two's complement), as C's conversions do on every
     * platform mof supports. */
    case MOF_DTYPE_INT8: ((int8_t *)d)[i] = (int8_t)(uint8_t)v; break;
    case MOF_DTYPE_INT16: ((int16_t *)d)[i] = (int16_t)(uint16_t)v; break;
    case MOF_DTYPE_INT32: ((int32_t *)d)[i] = (int32_t)(uint32_t)v; break;
    case MOF_DTYPE_INT64: ((int64_t *)d)[i] = v; break;
    case MOF_DTYPE_UINT8: ((uint8_t *)d)[i] = (uint8_t)v; break;
    case MOF_DTYPE_UINT16: ((uint16_t *)d)[i] = (uint16_t)v; break;
    case MOF_DTYPE_UINT32: ((uint32_t *)d)[i] = (uint32_t)v; break;
    case MOF_DTYPE_UINT64: ((uint64_t *)d)[i] = (uint64_t)v; break;
    case MOF_DTYPE_BOOL: ((uint8_t *)d)[i] = v != 0; break;
    default: break;
    }
}
