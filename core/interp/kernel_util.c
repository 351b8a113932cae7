/* kernel_util.c: helpers shared by the interpreter's kernels and shape functions:
 * checked inputs and outputs (kernel.h), strides and broadcasting of shapes, element
 * access of any numeric type through double or int64, element copies, the IEEE half
 * and bfloat16 conversions (round to nearest even), and output shapes under
 * construction. */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "interp/kernel.h"

/* ------------------------------------------------------------------ kernels */

mof_status mof_kernel_nomem(mof_kernel_ctx *kc)
{
    return mof_kernel_error(kc, MOF_ERR_NOMEM, "out of memory");
}

mof_tensor *mof_kernel_new_tensor(mof_kernel_ctx *kc, mof_dtype dtype, size_t rank,
                                  const int64_t *dims)
{
    mof_tensor *t = mof_tensor_create(dtype, rank, dims);
    if (!t)
        mof_kernel_error(kc, MOF_ERR_NOMEM,
                         "out of memory for a %s tensor of %" PRId64 " elements",
                         mof_dtype_name(dtype), mof_dims_numel(rank, dims));
    return t;
}

mof_status mof_kernel_need_input(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                                 size_t i)
{
    if (i < n_in && in[i])
        return MOF_OK;
    return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "input %zu is missing", i);
}

mof_status mof_kernel_need_inputs(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                                  size_t n)
{
    for (size_t i = 0; i < n; i++) {
        mof_status st = mof_kernel_need_input(kc, n_in, in, i);
        if (st != MOF_OK)
            return st;
    }
    return MOF_OK;
}

mof_status mof_kernel_norm_axis(mof_kernel_ctx *kc, int64_t axis, int64_t rank, int64_t *out)
{
    *out = 0;
    if (axis < -rank || axis >= rank)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "axis %" PRId64 " is out of range for rank %" PRId64, axis,
                                rank);
    *out = axis < 0 ? axis + rank : axis;
    return MOF_OK;
}

mof_status mof_kernel_axis(mof_kernel_ctx *kc, int64_t def, int64_t rank, int64_t *out)
{
    return mof_kernel_norm_axis(kc, mof_node_attr_int(kc->node, "axis", def), rank, out);
}

mof_status mof_kernel_unsupported_type(mof_kernel_ctx *kc, mof_dtype t)
{
    return mof_kernel_error(kc, MOF_ERR_UNSUPPORTED, "%s tensors are not supported by %s",
                            mof_dtype_name(t), mof_node_op_type(kc->node));
}

void mof_kernel_drop_unused(mof_kernel_ctx *kc, size_t n_out, mof_tensor **out)
{
    for (size_t i = 0; i < n_out; i++) {
        if (out[i] && !mof_node_output(kc->node, i)) {
            mof_tensor_unref(out[i]);
            out[i] = NULL;
        }
    }
}

bool mof_string_assign(mof_string *d, const mof_string *s)
{
    char *data = mof_malloc(s->size);
    if (!data)
        return false;
    if (s->size)
        memcpy(data, s->data, s->size);
    free(d->data);
    d->data = data;
    d->size = s->size;
    return true;
}

bool mof_tensor_copy_elems(mof_tensor *dst, int64_t di, const mof_tensor *src, int64_t si,
                           int64_t n)
{
    if (n <= 0)
        return true;
    if (dst->dtype != MOF_DTYPE_STRING) {
        size_t es = mof_dtype_size(dst->dtype);
        memcpy((char *)dst->data + (size_t)di * es, (const char *)src->data + (size_t)si * es,
               (size_t)n * es);
        return true;
    }
    mof_string *d = (mof_string *)dst->data + di;
    const mof_string *s = (const mof_string *)src->data + si;
    for (int64_t i = 0; i < n; i++)
        if (!mof_string_assign(&d[i], &s[i]))
            return false;
    return true;
}

/* ------------------------------------------------------------------ shapes */

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
    case MOF_DTYPE_INT4: /* unpacked, one per byte (mof/common.h) */
    case MOF_DTYPE_INT8: return ((const int8_t *)d)[i];
    case MOF_DTYPE_INT16: return ((const int16_t *)d)[i];
    case MOF_DTYPE_INT32: return ((const int32_t *)d)[i];
    case MOF_DTYPE_INT64: return (double)((const int64_t *)d)[i];
    case MOF_DTYPE_UINT4:
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
    case MOF_DTYPE_INT4:
    case MOF_DTYPE_INT8: return ((const int8_t *)d)[i];
    case MOF_DTYPE_INT16: return ((const int16_t *)d)[i];
    case MOF_DTYPE_INT32: return ((const int32_t *)d)[i];
    case MOF_DTYPE_INT64: return ((const int64_t *)d)[i];
    case MOF_DTYPE_UINT4:
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
    case MOF_DTYPE_UINT4:
    case MOF_DTYPE_INT4: mof_tensor_set_i64(t, i, f64_to_i64(v)); break;
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
    /* The low four bits, kept unpacked: uint4 as 0..15, int4 sign-extended. */
    case MOF_DTYPE_UINT4: ((uint8_t *)d)[i] = (uint8_t)(v & 0xF); break;
    case MOF_DTYPE_INT4: ((int8_t *)d)[i] = (int8_t)(((v & 0xF) ^ 0x8) - 8); break;
    default: break;
    }
}

/* ------------------------------------------------------------------ shape functions */

mof_status mof_infer_axis(mof_infer_ctx *ic, int64_t def, int64_t rank, int64_t *out)
{
    int64_t axis = mof_node_attr_int(ic->node, "axis", def);
    *out = 0;
    if (axis < -rank || axis >= rank)
        return mof_infer_error(ic, "axis %" PRId64 " is out of range for rank %" PRId64, axis,
                               rank);
    *out = axis < 0 ? axis + rank : axis;
    return MOF_OK;
}

mof_status mof_infer_like(mof_infer_ctx *ic, size_t k, const mof_shape *x, mof_dtype dtype)
{
    if (k >= ic->n_out)
        return MOF_OK;
    if (!x)
        return mof_shape_set(&ic->out[k], dtype, -1, NULL, NULL);
    return mof_shape_set(&ic->out[k], dtype, x->rank, x->dims, x->syms);
}

mof_status mof_infer_same(mof_infer_ctx *ic)
{
    const mof_shape *x = mof_infer_input(ic, 0);
    return x ? mof_infer_like(ic, 0, x, x->dtype) : MOF_OK;
}

mof_status mof_infer_set_rank(mof_infer_ctx *ic, size_t k, mof_dtype dtype, int rank)
{
    if (k >= ic->n_out)
        return MOF_OK;
    return mof_shape_set(&ic->out[k], dtype, rank, NULL, NULL);
}

mof_status mof_dimvec_init(mof_dimvec *v, int rank)
{
    size_t n = rank > 0 ? (size_t)rank : 1;
    v->rank = rank;
    v->dims = mof_malloc(n * sizeof(*v->dims));
    v->syms = mof_calloc(n, sizeof(*v->syms));
    if (!v->dims || !v->syms) {
        mof_dimvec_free(v);
        return MOF_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        v->dims[i] = -1;
    return MOF_OK;
}

void mof_dimvec_free(mof_dimvec *v)
{
    free(v->dims);
    free(v->syms);
    v->dims = NULL;
    v->syms = NULL;
}

void mof_dimvec_take(mof_dimvec *v, int i, const mof_shape *s, int j)
{
    if (s->rank < 0 || j < 0 || j >= s->rank)
        return;
    v->dims[i] = s->dims[j];
    v->syms[i] = s->dims[j] < 0 && s->syms ? s->syms[j] : NULL;
}

void mof_dimvec_set(mof_dimvec *v, int i, int64_t d)
{
    v->dims[i] = d >= 0 ? d : -1;
    v->syms[i] = NULL;
}

mof_status mof_dimvec_emit(mof_infer_ctx *ic, size_t k, mof_dtype dtype, mof_dimvec *v)
{
    mof_status st = MOF_OK;
    if (k < ic->n_out)
        st = mof_shape_set(&ic->out[k], dtype, v->rank, v->dims, (char *const *)v->syms);
    mof_dimvec_free(v);
    return st;
}
