/* ops_quant.c: quantization operators of the reference interpreter: QuantizeLinear,
 * DequantizeLinear, DynamicQuantizeLinear, and the integer kernels MatMulInteger,
 * ConvInteger, QLinearMatMul and QLinearConv.
 *
 * These results are the oracle that mof's int8 code generation is checked against, so
 * every step is exact and written out: products and sums are integers accumulated
 * modulo 2^32 (an int32 accumulator that wraps), and requantization follows ONNX
 * Runtime's reference path: the real multiplier is computed in float
 * (a_scale * b_scale / y_scale), the accumulator is converted to float and multiplied
 * by it in float, the product is rounded half to even, the zero point added, and the
 * result saturated to the output type. Division by a scale (QuantizeLinear) is done in
 * the precision of the scale's type. A NaN quantizes to 0 (ONNX Runtime's result on
 * x86: the integer conversion of NaN keeps no bits in 8 or 16 bits).
 *
 * From opset 21, QuantizeLinear and DequantizeLinear also take int4 / uint4 (held one
 * value per byte in memory, see mof/common.h) and blocked scales (block_size). */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interp/kernel.h"

/* ------------------------------------------------------------------ helpers */

/* Scales and quantized inputs: float, float16 or bfloat16 (not double). */
static bool is_scale_dtype(mof_dtype t)
{
    return t == MOF_DTYPE_FLOAT || t == MOF_DTYPE_FLOAT16 || t == MOF_DTYPE_BFLOAT16;
}

/* The range of a quantized type; false for a type that is not one. int32 is allowed
 * only where the caller says so. */
static bool quant_range(mof_dtype t, bool allow_int32, int64_t *lo, int64_t *hi)
{
    *lo = *hi = 0;
    switch (t) {
    case MOF_DTYPE_UINT8: *lo = 0, *hi = 255; return true;
    case MOF_DTYPE_INT8: *lo = -128, *hi = 127; return true;
    case MOF_DTYPE_UINT16: *lo = 0, *hi = 65535; return true;
    case MOF_DTYPE_INT16: *lo = -32768, *hi = 32767; return true;
    case MOF_DTYPE_UINT4: *lo = 0, *hi = 15; return true;
    case MOF_DTYPE_INT4: *lo = -8, *hi = 7; return true;
    case MOF_DTYPE_INT32:
        *lo = INT32_MIN, *hi = INT32_MAX;
        return allow_int32;
    default: return false;
    }
}

static bool is_8bit(mof_dtype t)
{
    return t == MOF_DTYPE_UINT8 || t == MOF_DTYPE_INT8;
}

/* Rounds half to even, independent of the floating-point environment. */
static double round_half_even(double v)
{
    double f = floor(v), d = v - f;
    if (d > 0.5)
        return f + 1;
    if (d < 0.5)
        return f;
    return fmod(f, 2.0) == 0 ? f : f + 1;
}

/* round(v) + zp saturated to [lo, hi]; NaN gives 0. */
static int64_t saturate_round(double v, int64_t zp, int64_t lo, int64_t hi)
{
    if (isnan(v))
        return 0;
    double r = round_half_even(v) + (double)zp;
    if (r <= (double)lo)
        return lo;
    if (r >= (double)hi)
        return hi;
    return (int64_t)r;
}

/* A float rounded to the precision of a scale's type. */
static float to_precision(float v, mof_dtype t)
{
    if (t == MOF_DTYPE_FLOAT16)
        return mof_half_to_float(mof_float_to_half(v));
    if (t == MOF_DTYPE_BFLOAT16)
        return mof_bfloat16_to_float(mof_float_to_bfloat16(v));
    return v;
}

/* ------------------------------------------------------------------ granularity */

/* Which scale / zero point an element of x uses: one for all (per tensor), one per
 * index along axis (per axis), or one per block of block_size along axis (blocked,
 * opset 21). */
typedef struct qmap {
    int kind;                /* 0 per tensor, 1 per axis, 2 blocked */
    int64_t dim, inner;      /* x's dim along axis, product of the dims after it */
    int64_t sdim, block;     /* scale's dim along axis, block size */
} qmap;

static int64_t qmap_index(const qmap *m, int64_t i)
{
    if (m->kind == 0)
        return 0;
    int64_t a = (i / m->inner) % m->dim;
    if (m->kind == 1)
        return a;
    int64_t outer = i / (m->inner * m->dim), in = i % m->inner;
    return (outer * m->sdim + a / m->block) * m->inner + in;
}

/* Works out the granularity from the scale's shape; the zero point (may be NULL) must
 * have the same shape. */
static mof_status qmap_make(mof_kernel_ctx *kc, const mof_tensor *x, const mof_tensor *s,
                            const mof_tensor *zp, qmap *m)
{
    *m = (qmap){0};
    if (zp) {
        bool same = zp->rank == s->rank;
        for (size_t i = 0; same && i < s->rank; i++)
            same = zp->dims[i] == s->dims[i];
        if (!same && !(zp->numel == 1 && s->numel == 1))
            return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                    "the scale and the zero point differ in shape");
    }
    int64_t block = kc->opset >= 21 ? mof_node_attr_int(kc->node, "block_size", 0) : 0;
    if (s->numel == 1 && block == 0 && s->rank <= 1)
        return MOF_OK;
    if (kc->opset < 13)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "the scale must be a scalar before opset 13");
    int64_t r = (int64_t)x->rank;
    int64_t axis = mof_node_attr_int(kc->node, "axis", 1);
    if (axis < -r || axis >= r)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "axis %" PRId64 " is out of range for rank %" PRId64, axis, r);
    if (axis < 0)
        axis += r;
    m->dim = x->dims[axis];
    m->inner = 1;
    for (int64_t i = axis + 1; i < r; i++)
        m->inner *= x->dims[i];
    if (block == 0) {
        if (s->rank != 1 || s->numel != m->dim)
            return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                    "a per-axis scale must be 1-D of %" PRId64 " elements",
                                    m->dim);
        m->kind = 1;
        return MOF_OK;
    }
    if (block < 0 || (int64_t)s->rank != r)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "a blocked scale must have the rank of the input");
    for (int64_t i = 0; i < r; i++) {
        int64_t want = i == axis ? (x->dims[i] + block - 1) / block : x->dims[i];
        if (s->dims[i] != want)
            return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                    "the blocked scale has dim %" PRId64 " of %" PRId64
                                    ", expected %" PRId64, i, s->dims[i], want);
    }
    m->kind = 2;
    m->sdim = s->dims[axis];
    m->block = block;
    if (m->dim == 0)
        m->kind = 0;
    return MOF_OK;
}

/* ------------------------------------------------------------------ QuantizeLinear */

static mof_status k_quantize(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                             size_t n_out, mof_tensor **out)
{
    mof_status st;
    if ((st = mof_kernel_need_inputs(kc, n_in, in, 2)) != MOF_OK)
        return st;
    const mof_tensor *x = in[0], *s = in[1], *zp = mof_kernel_input(n_in, in, 2);
    if (!is_scale_dtype(x->dtype) && x->dtype != MOF_DTYPE_INT32)
        return mof_kernel_error(kc, MOF_ERR_UNSUPPORTED, "cannot quantize a %s tensor",
                                mof_dtype_name(x->dtype));
    if (!is_scale_dtype(s->dtype))
        return mof_kernel_error(kc, MOF_ERR_UNSUPPORTED, "the scale is %s, not floating-point",
                                mof_dtype_name(s->dtype));
    mof_dtype yt = MOF_DTYPE_UINT8;
    int64_t odt = kc->opset >= 21 ? mof_node_attr_int(kc->node, "output_dtype", 0) : 0;
    if (zp) {
        yt = zp->dtype;
        if (odt && odt != (int64_t)yt)
            return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                    "output_dtype %" PRId64 " differs from the zero point's %s",
                                    odt, mof_dtype_name(yt));
    } else if (odt) {
        yt = (mof_dtype)odt;
    }
    int64_t lo, hi;
    if (!quant_range(yt, false, &lo, &hi) ||
        (kc->opset < 21 && !is_8bit(yt)))
        return mof_kernel_error(kc, MOF_ERR_UNSUPPORTED, "cannot quantize to %s",
                                odt && !zp ? "that output_dtype" : mof_dtype_name(yt));
    qmap m;
    if ((st = qmap_make(kc, x, s, zp, &m)) != MOF_OK)
        return st;
    mof_tensor *y = mof_kernel_new_tensor(kc, yt, x->rank, x->dims);
    if (!y)
        return MOF_ERR_NOMEM;
    for (int64_t i = 0; i < x->numel; i++) {
        int64_t k = qmap_index(&m, i);
        float q = (float)mof_tensor_get_f64(x, i) / (float)mof_tensor_get_f64(s, k);
        q = to_precision(q, s->dtype);
        int64_t z = zp ? mof_tensor_get_i64(zp, k) : 0;
        mof_tensor_set_i64(y, i, saturate_round(q, z, lo, hi));
    }
    out[0] = y;
    return MOF_OK;
}

static mof_status infer_quantize(mof_infer_ctx *ic)
{
    mof_dtype yt = MOF_DTYPE_UINT8;
    if (ic->n_in > 2 && ic->in[2].present)
        yt = ic->in[2].dtype;
    else if (ic->opset >= 21 && mof_node_attr_int(ic->node, "output_dtype", 0))
        yt = (mof_dtype)mof_node_attr_int(ic->node, "output_dtype", 0);
    return mof_infer_like(ic, 0, mof_infer_input(ic, 0), yt);
}

/* ------------------------------------------------------------------ DequantizeLinear */

static mof_status k_dequantize(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                               size_t n_out, mof_tensor **out)
{
    mof_status st;
    if ((st = mof_kernel_need_inputs(kc, n_in, in, 2)) != MOF_OK)
        return st;
    const mof_tensor *x = in[0], *s = in[1], *zp = mof_kernel_input(n_in, in, 2);
    int64_t lo, hi;
    if (!quant_range(x->dtype, true, &lo, &hi) ||
        (kc->opset < 21 && !is_8bit(x->dtype) && x->dtype != MOF_DTYPE_INT32))
        return mof_kernel_error(kc, MOF_ERR_UNSUPPORTED, "cannot dequantize a %s tensor",
                                mof_dtype_name(x->dtype));
    if (!is_scale_dtype(s->dtype) || (kc->opset < 19 && s->dtype != MOF_DTYPE_FLOAT))
        return mof_kernel_error(kc, MOF_ERR_UNSUPPORTED, "the scale is %s",
                                mof_dtype_name(s->dtype));
    if (zp && zp->dtype != x->dtype)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "the zero point is %s, the input %s", mof_dtype_name(zp->dtype),
                                mof_dtype_name(x->dtype));
    qmap m;
    if ((st = qmap_make(kc, x, s, zp, &m)) != MOF_OK)
        return st;
    if (x->dtype == MOF_DTYPE_INT32 && zp) {
        for (int64_t i = 0; i < zp->numel; i++)
            if (mof_tensor_get_i64(zp, i) != 0)
                return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                        "an int32 input must have a zero point of 0");
    }
    mof_tensor *y = mof_kernel_new_tensor(kc, s->dtype, x->rank, x->dims);
    if (!y)
        return MOF_ERR_NOMEM;
    for (int64_t i = 0; i < x->numel; i++) {
        int64_t k = qmap_index(&m, i);
        int64_t d = mof_tensor_get_i64(x, i) - (zp ? mof_tensor_get_i64(zp, k) : 0);
        float v = (float)d * (float)mof_tensor_get_f64(s, k);
        mof_tensor_set_f64(y, i, v);
    }
    out[0] = y;
    return MOF_OK;
}

static mof_status infer_dequantize(mof_infer_ctx *ic)
{
    mof_dtype yt = MOF_DTYPE_FLOAT;
    if (ic->opset >= 19 && ic->n_in > 1 && ic->in[1].present)
        yt = ic->in[1].dtype;
    return mof_infer_like(ic, 0, mof_infer_input(ic, 0), yt);
}

/* ------------------------------------------------------------------ DynamicQuantizeLinear */

static mof_status k_dynamic_quantize(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                                     size_t n_out, mof_tensor **out)
{
    mof_status st = mof_kernel_need_input(kc, n_in, in, 0);
    if (st != MOF_OK)
        return st;
    const mof_tensor *x = in[0];
    if (x->dtype != MOF_DTYPE_FLOAT)
        return mof_kernel_error(kc, MOF_ERR_UNSUPPORTED, "cannot quantize a %s tensor",
                                mof_dtype_name(x->dtype));
    const float *xd = x->data;
    /* The range always includes 0, so that 0 is exactly representable. */
    float mn = 0, mx = 0;
    for (int64_t i = 0; i < x->numel; i++) {
        if (xd[i] < mn)
            mn = xd[i];
        if (xd[i] > mx)
            mx = xd[i];
    }
    float scale = (mx - mn) / 255.0f;
    uint8_t zp = 0;
    if (scale != 0) {
        float izp = 0.0f - mn / scale;
        izp = izp < 0 ? 0 : izp > 255 ? 255 : izp;
        zp = (uint8_t)round_half_even(izp);
    }
    mof_tensor *y = mof_kernel_new_tensor(kc, MOF_DTYPE_UINT8, x->rank, x->dims);
    mof_tensor *ys = mof_tensor_create_from(MOF_DTYPE_FLOAT, 0, NULL, &scale);
    mof_tensor *yz = mof_tensor_create_from(MOF_DTYPE_UINT8, 0, NULL, &zp);
    if (!y || !ys || !yz) {
        mof_tensor_unref(y);
        mof_tensor_unref(ys);
        mof_tensor_unref(yz);
        return y ? mof_kernel_nomem(kc) : MOF_ERR_NOMEM;
    }
    uint8_t *yd = y->data;
    for (int64_t i = 0; i < x->numel; i++) {
        /* An all-zero input has scale 0: everything quantizes to the zero point 0. */
        float q = scale != 0 ? xd[i] / scale : 0.0f;
        yd[i] = (uint8_t)saturate_round(q, zp, 0, 255);
    }
    out[0] = y;
    if (n_out > 1 && mof_node_output(kc->node, 1))
        out[1] = ys;
    else
        mof_tensor_unref(ys);
    if (n_out > 2 && mof_node_output(kc->node, 2))
        out[2] = yz;
    else
        mof_tensor_unref(yz);
    return MOF_OK;
}

static mof_status infer_dynamic_quantize(mof_infer_ctx *ic)
{
    mof_status st = mof_infer_like(ic, 0, mof_infer_input(ic, 0), MOF_DTYPE_UINT8);
    if (st == MOF_OK)
        st = mof_infer_set_rank(ic, 1, MOF_DTYPE_FLOAT, 0);
    if (st == MOF_OK)
        st = mof_infer_set_rank(ic, 2, MOF_DTYPE_UINT8, 0);
    return st;
}

/* ------------------------------------------------------------------ integer MatMul */

/* A scale or zero point of a matmul operand: one value, one per row (of a) or column
 * (of b) given as a 1-D tensor, or one per batch and row / column given with the
 * operand's rank as [..., M, 1] or [..., 1, N]. */
typedef struct mm_param {
    const mof_tensor *t;
    int kind;                /* 0 one value, 1 per row / column, 2 per batch too */
    int64_t len;             /* rows or columns */
} mm_param;

/* The matmul's geometry with numpy broadcasting of the batch dims. */
typedef struct mm_geom {
    size_t rank;             /* output rank */
    int64_t *dims;           /* output dims (owned) */
    size_t nb;               /* batch rank */
    int64_t *bdims;          /* broadcast batch dims (owned) */
    int64_t batch, M, K, N;
    int64_t *aoff, *boff;    /* per output batch: the batch index of a and of b (owned) */
} mm_geom;

static void mm_geom_free(mm_geom *g)
{
    free(g->dims);
    free(g->bdims);
    free(g->aoff);
    free(g->boff);
    *g = (mm_geom){0};
}

/* The batch index of an operand (batch dims ob of rank on, right-aligned) for each
 * output batch index. */
static void mm_batch_map(const mm_geom *g, size_t on, const int64_t *ob, int64_t *map)
{
    for (int64_t b = 0; b < g->batch; b++) {
        int64_t rem = b, idx = 0, stride = 1;
        for (size_t i = g->nb; i-- > 0;) {
            int64_t c = rem % g->bdims[i];
            rem /= g->bdims[i];
            if (i + on >= g->nb) {
                int64_t od = ob[i + on - g->nb];
                idx += (od == 1 ? 0 : c) * stride;
                stride *= od;
            }
        }
        map[b] = idx;
    }
}

static mof_status mm_geometry(mof_kernel_ctx *kc, const mof_tensor *a, const mof_tensor *b,
                              mm_geom *g)
{
    *g = (mm_geom){0};
    if (a->rank == 0 || b->rank == 0)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "matmul of a scalar");
    size_t ra = a->rank, rb = b->rank;
    g->M = ra >= 2 ? a->dims[ra - 2] : 1;
    g->K = a->dims[ra - 1];
    int64_t kb = rb >= 2 ? b->dims[rb - 2] : b->dims[0];
    g->N = rb >= 2 ? b->dims[rb - 1] : 1;
    if (kb != g->K)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "inner dims differ: %" PRId64 " and %" PRId64, g->K, kb);
    size_t na = ra >= 2 ? ra - 2 : 0, nb = rb >= 2 ? rb - 2 : 0;
    g->nb = na > nb ? na : nb;
    g->rank = g->nb + (ra >= 2) + (rb >= 2);
    g->bdims = mof_calloc(g->nb ? g->nb : 1, sizeof(*g->bdims));
    g->dims = mof_calloc(g->rank ? g->rank : 1, sizeof(*g->dims));
    if (!g->bdims || !g->dims) {
        mm_geom_free(g);
        return mof_kernel_nomem(kc);
    }
    size_t r;
    if (!mof_broadcast_dims(na, a->dims, nb, b->dims, &r, g->bdims)) {
        mm_geom_free(g);
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "the batch dims do not broadcast");
    }
    g->batch = 1;
    for (size_t i = 0; i < g->nb; i++) {
        g->dims[i] = g->bdims[i];
        g->batch *= g->bdims[i];
    }
    size_t k = g->nb;
    if (ra >= 2)
        g->dims[k++] = g->M;
    if (rb >= 2)
        g->dims[k++] = g->N;
    g->aoff = mof_calloc((size_t)g->batch, sizeof(*g->aoff));
    g->boff = mof_calloc((size_t)g->batch, sizeof(*g->boff));
    if (!g->aoff || !g->boff) {
        mm_geom_free(g);
        return mof_kernel_nomem(kc);
    }
    mm_batch_map(g, na, a->dims, g->aoff);
    mm_batch_map(g, nb, b->dims, g->boff);
    return MOF_OK;
}

/* Classifies a parameter of operand x (rows: is it a's rows or b's columns). */
static mof_status mm_param_make(mof_kernel_ctx *kc, const char *what, const mof_tensor *t,
                                const mof_tensor *x, bool rows, int64_t len, mm_param *p)
{
    *p = (mm_param){t, 0, len};
    if (!t || t->numel == 1)
        return MOF_OK;
    if (t->rank == 1 && t->numel == len) {
        p->kind = 1;
        return MOF_OK;
    }
    /* [..., M, 1] or [..., 1, N] with x's batch dims. */
    bool ok = x->rank >= 2 && t->rank == x->rank;
    for (size_t i = 0; ok && i + 2 < x->rank; i++)
        ok = t->dims[i] == x->dims[i];
    if (ok)
        ok = rows ? t->dims[t->rank - 2] == len && t->dims[t->rank - 1] == 1
                  : t->dims[t->rank - 2] == 1 && t->dims[t->rank - 1] == len;
    if (!ok)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "%s must be a scalar or hold one value per %s", what,
                                rows ? "row" : "column");
    p->kind = 2;
    return MOF_OK;
}

/* The parameter's element for operand batch index ob and row / column i. */
static int64_t mm_param_index(const mm_param *p, int64_t ob, int64_t i)
{
    return p->kind == 0 ? 0 : p->kind == 1 ? i : ob * p->len + i;
}

static int64_t mm_param_i64(const mm_param *p, int64_t ob, int64_t i)
{
    return p->t ? mof_tensor_get_i64(p->t, mm_param_index(p, ob, i)) : 0;
}

/* acc[batch, m, n] = sum_k (a - azp) * (b - bzp) with an int32 accumulator. */
static mof_status mm_accumulate(mof_kernel_ctx *kc, const mof_tensor *a, const mof_tensor *b,
                                const mm_param *azp, const mm_param *bzp, const mm_geom *g,
                                int32_t **acc)
{
    int64_t M = g->M, K = g->K, N = g->N;
    int32_t *out = mof_calloc((size_t)(g->batch * M * N), sizeof(*out));
    int32_t *bt = mof_calloc((size_t)(K * N), sizeof(*bt));
    if (!out || !bt) {
        free(out);
        free(bt);
        return mof_kernel_nomem(kc);
    }
    for (int64_t bi = 0; bi < g->batch; bi++) {
        int64_t ab = g->aoff[bi], bb = g->boff[bi];
        /* b's batch minus its zero points, once per output batch. */
        for (int64_t k = 0; k < K; k++)
            for (int64_t n = 0; n < N; n++)
                bt[k * N + n] = (int32_t)(mof_tensor_get_i64(b, (bb * K + k) * N + n) -
                                          mm_param_i64(bzp, bb, n));
        for (int64_t m = 0; m < M; m++) {
            int64_t z = mm_param_i64(azp, ab, m);
            int32_t *row = out + (bi * M + m) * N;
            for (int64_t k = 0; k < K; k++) {
                int64_t av = mof_tensor_get_i64(a, (ab * M + m) * K + k) - z;
                const int32_t *brow = bt + k * N;
                for (int64_t n = 0; n < N; n++)
                    row[n] = (int32_t)((uint32_t)row[n] + (uint32_t)(av * brow[n]));
            }
        }
    }
    free(bt);
    *acc = out;
    return MOF_OK;
}

static mof_status check_int8(mof_kernel_ctx *kc, const char *what, const mof_tensor *t)
{
    if (!is_8bit(t->dtype))
        return mof_kernel_error(kc, MOF_ERR_UNSUPPORTED, "%s is %s, not int8 or uint8", what,
                                mof_dtype_name(t->dtype));
    return MOF_OK;
}

/* A zero point must have its operand's type. */
static mof_status check_zp(mof_kernel_ctx *kc, const char *what, const mof_tensor *zp,
                           const mof_tensor *x)
{
    if (zp && zp->dtype != x->dtype)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "%s is %s, its input is %s", what,
                                mof_dtype_name(zp->dtype), mof_dtype_name(x->dtype));
    return MOF_OK;
}

/* Scales are float (float16 and bfloat16 too from opset 21, read as float). */
static mof_status check_scale(mof_kernel_ctx *kc, const char *what, const mof_tensor *t)
{
    if (t->dtype != MOF_DTYPE_FLOAT && !(kc->opset >= 21 && is_scale_dtype(t->dtype)))
        return mof_kernel_error(kc, MOF_ERR_UNSUPPORTED, "%s is %s, not float", what,
                                mof_dtype_name(t->dtype));
    return MOF_OK;
}

/* Checks the operands of MatMulInteger / ConvInteger (inputs x, w and their optional
 * zero points) or of QLinearMatMul / QLinearConv (x, x_scale, x_zero_point, w, w_scale,
 * w_zero_point, y_scale, y_zero_point); x and w name the op's two operands. */
static mof_status check_operands(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                                 bool qlinear, const char *x, const char *w)
{
    mof_status st = mof_kernel_need_inputs(kc, n_in, in, qlinear ? 8 : 2);
    if (st != MOF_OK)
        return st;
    const mof_tensor *xt = in[0], *wt = in[qlinear ? 3 : 1];
    const mof_tensor *xz = mof_kernel_input(n_in, in, 2);
    const mof_tensor *wz = mof_kernel_input(n_in, in, qlinear ? 5 : 3);
    char xzn[32], wzn[32], xsn[32], wsn[32];
    snprintf(xzn, sizeof(xzn), "%s_zero_point", x);
    snprintf(wzn, sizeof(wzn), "%s_zero_point", w);
    snprintf(xsn, sizeof(xsn), "%s_scale", x);
    snprintf(wsn, sizeof(wsn), "%s_scale", w);
    if ((st = check_int8(kc, x, xt)) != MOF_OK || (st = check_int8(kc, w, wt)) != MOF_OK ||
        (st = check_zp(kc, xzn, xz, xt)) != MOF_OK || (st = check_zp(kc, wzn, wz, wt)) != MOF_OK)
        return st;
    if (!qlinear)
        return MOF_OK;
    if ((st = check_int8(kc, "y_zero_point", in[7])) != MOF_OK ||
        (st = check_scale(kc, xsn, in[1])) != MOF_OK ||
        (st = check_scale(kc, wsn, in[4])) != MOF_OK)
        return st;
    return check_scale(kc, "y_scale", in[6]);
}

/* Hands out y (NULL: creating it failed, reported) holding the int32 accumulators. */
static mof_status acc_output(mof_tensor *y, const int32_t *acc, mof_tensor **out)
{
    if (!y)
        return MOF_ERR_NOMEM;
    if (y->nbytes)
        memcpy(y->data, acc, y->nbytes);
    *out = y;
    return MOF_OK;
}

static mof_status k_matmul_integer(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                                   size_t n_out, mof_tensor **out)
{
    mof_status st = check_operands(kc, n_in, in, false, "a", "b");
    if (st != MOF_OK)
        return st;
    const mof_tensor *a = in[0], *b = in[1];
    const mof_tensor *azt = mof_kernel_input(n_in, in, 2), *bzt = mof_kernel_input(n_in, in, 3);
    mm_geom g;
    if ((st = mm_geometry(kc, a, b, &g)) != MOF_OK)
        return st;
    mm_param azp, bzp;
    int32_t *acc = NULL;
    if ((st = mm_param_make(kc, "a_zero_point", azt, a, true, g.M, &azp)) != MOF_OK ||
        (st = mm_param_make(kc, "b_zero_point", bzt, b, false, g.N, &bzp)) != MOF_OK ||
        (st = mm_accumulate(kc, a, b, &azp, &bzp, &g, &acc)) != MOF_OK)
        goto done;
    st = acc_output(mof_kernel_new_tensor(kc, MOF_DTYPE_INT32, g.rank, g.dims), acc, &out[0]);
done:
    free(acc);
    mm_geom_free(&g);
    return st;
}

/* The real multiplier of a requantization, in float as ONNX Runtime computes it. */
static float requant_multiplier(float in_scale, float w_scale, float out_scale)
{
    return in_scale * w_scale / out_scale;
}

static int64_t requantize(int32_t acc, float mult, int64_t zp, int64_t lo, int64_t hi)
{
    float v = (float)acc * mult;
    return saturate_round(v, zp, lo, hi);
}

static mof_status k_qlinear_matmul(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                                   size_t n_out, mof_tensor **out)
{
    mof_status st = check_operands(kc, n_in, in, true, "a", "b");
    if (st != MOF_OK)
        return st;
    const mof_tensor *a = in[0], *as = in[1], *az = in[2], *b = in[3], *bs = in[4], *bz = in[5];
    const mof_tensor *ys = in[6], *yz = in[7];
    int64_t lo, hi;
    quant_range(yz->dtype, false, &lo, &hi);
    mm_geom g;
    if ((st = mm_geometry(kc, a, b, &g)) != MOF_OK)
        return st;
    mm_param pas, paz, pbs, pbz, pys, pyz;
    int32_t *acc = NULL;
    mof_tensor *y = NULL;
    if ((st = mm_param_make(kc, "a_scale", as, a, true, g.M, &pas)) != MOF_OK ||
        (st = mm_param_make(kc, "a_zero_point", az, a, true, g.M, &paz)) != MOF_OK ||
        (st = mm_param_make(kc, "b_scale", bs, b, false, g.N, &pbs)) != MOF_OK ||
        (st = mm_param_make(kc, "b_zero_point", bz, b, false, g.N, &pbz)) != MOF_OK ||
        (st = mm_param_make(kc, "y_scale", ys, a, true, g.M, &pys)) != MOF_OK ||
        (st = mm_param_make(kc, "y_zero_point", yz, a, true, g.M, &pyz)) != MOF_OK ||
        (st = mm_accumulate(kc, a, b, &paz, &pbz, &g, &acc)) != MOF_OK)
        goto done;
    if (!(y = mof_kernel_new_tensor(kc, yz->dtype, g.rank, g.dims))) {
        st = MOF_ERR_NOMEM;
        goto done;
    }
    for (int64_t bi = 0; bi < g.batch; bi++) {
        int64_t ab = g.aoff[bi], bb = g.boff[bi];
        for (int64_t m = 0; m < g.M; m++) {
            float sa = (float)mof_tensor_get_f64(as, mm_param_index(&pas, ab, m));
            float sy = (float)mof_tensor_get_f64(ys, mm_param_index(&pys, ab, m));
            int64_t zy = mof_tensor_get_i64(yz, mm_param_index(&pyz, ab, m));
            for (int64_t n = 0; n < g.N; n++) {
                float sb = (float)mof_tensor_get_f64(bs, mm_param_index(&pbs, bb, n));
                int64_t i = (bi * g.M + m) * g.N + n;
                mof_tensor_set_i64(y, i, requantize(acc[i], requant_multiplier(sa, sb, sy), zy,
                                                    lo, hi));
            }
        }
    }
    out[0] = y;
    y = NULL;
done:
    mof_tensor_unref(y);
    free(acc);
    mm_geom_free(&g);
    return st;
}

/* Output type and shape of a matmul of a and b (numpy rules, symbolic batch dims). */
static mof_status infer_matmul_shape(mof_infer_ctx *ic, const mof_shape *a, const mof_shape *b,
                                     mof_dtype dt)
{
    if (!a || !b || a->rank < 1 || b->rank < 1)
        return mof_shape_set(&ic->out[0], dt, -1, NULL, NULL);
    int ra = a->rank, rb = b->rank;
    int na = ra >= 2 ? ra - 2 : 0, nb = rb >= 2 ? rb - 2 : 0, n = na > nb ? na : nb;
    int r = n + (ra >= 2) + (rb >= 2);
    int64_t *dims = mof_calloc((size_t)r + 1, sizeof(*dims));
    const char **syms = mof_calloc((size_t)r + 1, sizeof(*syms));
    mof_status st = MOF_ERR_NOMEM;
    if (!dims || !syms)
        goto done;
    for (int i = 0; i < n; i++) {
        int ia = i + na - n, ib = i + nb - n;
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        const char *sa = ia >= 0 && a->syms ? a->syms[ia] : NULL;
        const char *sb = ib >= 0 && b->syms ? b->syms[ib] : NULL;
        dims[i] = -1;
        if (da == 1) {
            dims[i] = db, syms[i] = sb;
        } else if (db == 1) {
            dims[i] = da, syms[i] = sa;
        } else if (da >= 0 && db >= 0) {
            if (da != db) {
                st = mof_infer_error(ic, "the batch dims %" PRId64 " and %" PRId64
                                     " do not broadcast", da, db);
                goto done;
            }
            dims[i] = da;
        } else if (da >= 0 || db >= 0) {
            dims[i] = da >= 0 ? da : db;
        } else if (sa && sb && !strcmp(sa, sb)) {
            syms[i] = sa;
        }
    }
    int k = n;
    if (ra >= 2) {
        dims[k] = a->dims[ra - 2];
        syms[k++] = a->syms ? a->syms[ra - 2] : NULL;
    }
    if (rb >= 2) {
        dims[k] = b->dims[rb - 1];
        syms[k++] = b->syms ? b->syms[rb - 1] : NULL;
    }
    st = mof_shape_set(&ic->out[0], dt, r, dims, (char *const *)syms);
done:
    free(dims);
    free(syms);
    return st;
}

static mof_status infer_matmul_integer(mof_infer_ctx *ic)
{
    return infer_matmul_shape(ic, mof_infer_input(ic, 0), mof_infer_input(ic, 1), MOF_DTYPE_INT32);
}

static mof_status infer_qlinear_matmul(mof_infer_ctx *ic)
{
    const mof_shape *yz = mof_infer_input(ic, 7);
    return infer_matmul_shape(ic, mof_infer_input(ic, 0), mof_infer_input(ic, 3),
                              yz ? yz->dtype : MOF_DTYPE_UNDEFINED);
}

/* ------------------------------------------------------------------ integer Conv */

/* A convolution's geometry: S spatial dims; pads resolved from auto_pad. */
typedef struct conv_geom {
    size_t S;
    int64_t N, C, M, G, cg, mg;   /* batch, channels in/out, groups, per group in/out */
    int64_t *in, *k, *out, *stride, *dil, *pad;   /* S entries each (owned, one block) */
    int64_t in_size, k_size, out_size;            /* spatial products */
} conv_geom;

static void conv_geom_free(conv_geom *g)
{
    free(g->in);
    *g = (conv_geom){0};
}

/* Reads an INTS attribute of S entries (2S for pads), or fills def. */
static mof_status conv_attr(mof_kernel_ctx *kc, const char *name, size_t want, int64_t def,
                            int64_t *v)
{
    size_t n = 0;
    const int64_t *a = mof_node_attr_ints(kc->node, name, &n);
    if (!mof_node_has_attr(kc->node, name)) {
        for (size_t i = 0; i < want; i++)
            v[i] = def;
        return MOF_OK;
    }
    if (n != want)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "%s has %zu entries, expected %zu",
                                name, n, want);
    memcpy(v, a, want * sizeof(*v));
    return MOF_OK;
}

static mof_status conv_geometry(mof_kernel_ctx *kc, const mof_tensor *x, const mof_tensor *w,
                                conv_geom *g)
{
    *g = (conv_geom){0};
    if (x->rank < 3 || w->rank != x->rank)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "the input (rank %zu) and the weights (rank %zu) must have the "
                                "same rank, at least 3", x->rank, w->rank);
    size_t S = x->rank - 2;
    g->S = S;
    g->N = x->dims[0];
    g->C = x->dims[1];
    g->M = w->dims[0];
    g->G = mof_node_attr_int(kc->node, "group", 1);
    if (g->G < 1 || g->C % g->G || g->M % g->G || w->dims[1] != g->C / g->G)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "group %" PRId64 " does not fit %" PRId64
                                " input channels, %" PRId64 " output channels and weights of %"
                                PRId64 " channels", g->G, g->C, g->M, w->dims[1]);
    g->cg = g->C / g->G;
    g->mg = g->M / g->G;
    int64_t *block = mof_calloc(7 * S, sizeof(*block));
    if (!block)
        return mof_kernel_nomem(kc);
    g->in = block;
    g->k = block + S;
    g->out = block + 2 * S;
    g->stride = block + 3 * S;
    g->dil = block + 4 * S;
    g->pad = block + 5 * S;   /* 2S: begins, then ends */
    mof_status st;
    int64_t *ks = g->out;     /* kernel_shape is read into out[] and checked */
    if ((st = conv_attr(kc, "strides", S, 1, g->stride)) != MOF_OK ||
        (st = conv_attr(kc, "dilations", S, 1, g->dil)) != MOF_OK ||
        (st = conv_attr(kc, "pads", 2 * S, 0, g->pad)) != MOF_OK ||
        (st = conv_attr(kc, "kernel_shape", S, -1, ks)) != MOF_OK)
        goto fail;
    const char *ap = mof_node_attr_string(kc->node, "auto_pad", "NOTSET", NULL);
    bool same_upper = !strcmp(ap, "SAME_UPPER"), same_lower = !strcmp(ap, "SAME_LOWER");
    bool valid = !strcmp(ap, "VALID");
    if (!same_upper && !same_lower && !valid && strcmp(ap, "NOTSET")) {
        st = mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "unknown auto_pad '%s'", ap);
        goto fail;
    }
    g->in_size = g->k_size = g->out_size = 1;
    for (size_t i = 0; i < S; i++) {
        int64_t in = x->dims[2 + i], k = w->dims[2 + i], s = g->stride[i], d = g->dil[i];
        if (ks[i] != -1 && ks[i] != k) {
            st = mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                  "kernel_shape[%zu] is %" PRId64 ", the weights have %" PRId64,
                                  i, ks[i], k);
            goto fail;
        }
        if (s < 1 || d < 1 || k < 1) {
            st = mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                  "stride, dilation and kernel size must be positive");
            goto fail;
        }
        int64_t span = (k - 1) * d + 1, out;
        if (same_upper || same_lower) {
            out = (in + s - 1) / s;
            int64_t total = (out - 1) * s + span - in;
            total = total > 0 ? total : 0;
            g->pad[i] = same_upper ? total / 2 : total - total / 2;
            g->pad[S + i] = total - g->pad[i];
        } else {
            if (valid)
                g->pad[i] = g->pad[S + i] = 0;
            int64_t avail = in + g->pad[i] + g->pad[S + i] - span;
            if (avail < 0) {
                st = mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                      "the kernel (span %" PRId64 ") is larger than the padded "
                                      "input (%" PRId64 ") along dim %zu",
                                      span, in + g->pad[i] + g->pad[S + i], i);
                goto fail;
            }
            out = avail / s + 1;
        }
        g->in[i] = in;
        g->k[i] = k;
        g->out[i] = out;
        g->in_size *= in;
        g->k_size *= k;
        g->out_size *= out;
    }
    return MOF_OK;
fail:
    conv_geom_free(g);
    return st;
}

/* acc[n, m, o] = sum over the group's channels c and kernel positions of
 * (x - x_zp) * (w[m] - w_zp[m]), plus bias[m]: a direct convolution, int32 wrapping.
 * Positions in the padding contribute nothing (they hold the zero point). */
static mof_status conv_accumulate(mof_kernel_ctx *kc, const conv_geom *g, const mof_tensor *x,
                                  int64_t xzp, const mof_tensor *w, const mof_tensor *wzp,
                                  const mof_tensor *bias, int32_t **acc)
{
    size_t S = g->S;
    int64_t nout = g->N * g->M * g->out_size;
    int32_t *out = mof_calloc((size_t)nout, sizeof(*out));
    int32_t *xv = mof_calloc((size_t)x->numel, sizeof(*xv));
    int32_t *wv = mof_calloc((size_t)w->numel, sizeof(*wv));
    int64_t *koff = mof_calloc((size_t)g->k_size * S, sizeof(*koff));
    int64_t *pairs = mof_calloc((size_t)g->k_size * 2, sizeof(*pairs));
    int64_t *oc = mof_calloc(S, sizeof(*oc));
    mof_status st = MOF_OK;
    if (!out || !xv || !wv || !koff || !pairs || !oc) {
        st = mof_kernel_nomem(kc);
        goto done;
    }
    for (int64_t i = 0; i < x->numel; i++)
        xv[i] = (int32_t)(mof_tensor_get_i64(x, i) - xzp);
    int64_t wper = w->numel / (g->M ? g->M : 1);
    for (int64_t i = 0; i < w->numel; i++)
        wv[i] = (int32_t)(mof_tensor_get_i64(w, i) -
                          (wzp ? mof_tensor_get_i64(wzp, wzp->numel == 1 ? 0 : i / wper) : 0));
    /* Kernel coordinates of each kernel position, dilated. */
    for (int64_t kk = 0; kk < g->k_size; kk++) {
        int64_t rem = kk;
        for (size_t s = S; s-- > 0;) {
            koff[kk * (int64_t)S + (int64_t)s] = (rem % g->k[s]) * g->dil[s];
            rem /= g->k[s];
        }
    }
    for (int64_t o = 0; o < g->out_size; o++) {
        int64_t rem = o;
        for (size_t s = S; s-- > 0;) {
            oc[s] = rem % g->out[s];
            rem /= g->out[s];
        }
        /* The kernel positions that land inside the input: (input offset, kernel index). */
        int64_t np = 0;
        for (int64_t kk = 0; kk < g->k_size; kk++) {
            int64_t off = 0;
            bool inside = true;
            for (size_t s = 0; s < S && inside; s++) {
                int64_t c = oc[s] * g->stride[s] - g->pad[s] + koff[kk * (int64_t)S + (int64_t)s];
                inside = c >= 0 && c < g->in[s];
                off = off * g->in[s] + c;
            }
            if (inside) {
                pairs[2 * np] = off;
                pairs[2 * np + 1] = kk;
                np++;
            }
        }
        for (int64_t n = 0; n < g->N; n++) {
            for (int64_t m = 0; m < g->M; m++) {
                int64_t grp = m / g->mg;
                uint32_t sum = bias ? (uint32_t)mof_tensor_get_i64(bias, m) : 0;
                for (int64_t c = 0; c < g->cg; c++) {
                    const int32_t *xp = xv + (n * g->C + grp * g->cg + c) * g->in_size;
                    const int32_t *wp = wv + (m * g->cg + c) * g->k_size;
                    for (int64_t p = 0; p < np; p++)
                        sum += (uint32_t)((int64_t)xp[pairs[2 * p]] * wp[pairs[2 * p + 1]]);
                }
                out[(n * g->M + m) * g->out_size + o] = (int32_t)sum;
            }
        }
    }
done:
    free(xv);
    free(wv);
    free(koff);
    free(pairs);
    free(oc);
    if (st != MOF_OK) {
        free(out);
        out = NULL;
    }
    *acc = out;
    return st;
}

/* The output dims [N, M, out...] of a convolution. */
static mof_tensor *conv_output(mof_kernel_ctx *kc, const conv_geom *g, mof_dtype dt)
{
    int64_t *dims = mof_calloc(g->S + 2, sizeof(*dims));
    if (!dims) {
        mof_kernel_nomem(kc);
        return NULL;
    }
    dims[0] = g->N;
    dims[1] = g->M;
    memcpy(dims + 2, g->out, g->S * sizeof(*dims));
    mof_tensor *y = mof_kernel_new_tensor(kc, dt, g->S + 2, dims);
    free(dims);
    return y;
}

/* A per-tensor zero point or scale holds one value; a per-channel one M. */
static mof_status check_per_channel(mof_kernel_ctx *kc, const char *what, const mof_tensor *t,
                                    int64_t M, bool channels_allowed)
{
    if (!t || t->numel == 1)
        return MOF_OK;
    if (channels_allowed && t->rank == 1 && t->numel == M)
        return MOF_OK;
    return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "%s must hold one value%s", what,
                            channels_allowed ? " or one per output channel" : "");
}

static mof_status k_conv_integer(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                                 size_t n_out, mof_tensor **out)
{
    mof_status st = check_operands(kc, n_in, in, false, "x", "w");
    if (st != MOF_OK)
        return st;
    const mof_tensor *x = in[0], *w = in[1];
    const mof_tensor *xz = mof_kernel_input(n_in, in, 2), *wz = mof_kernel_input(n_in, in, 3);
    conv_geom g;
    if ((st = conv_geometry(kc, x, w, &g)) != MOF_OK)
        return st;
    int32_t *acc = NULL;
    if ((st = check_per_channel(kc, "x_zero_point", xz, g.M, false)) != MOF_OK ||
        (st = check_per_channel(kc, "w_zero_point", wz, g.M, true)) != MOF_OK ||
        (st = conv_accumulate(kc, &g, x, xz ? mof_tensor_get_i64(xz, 0) : 0, w, wz, NULL,
                              &acc)) != MOF_OK)
        goto done;
    st = acc_output(conv_output(kc, &g, MOF_DTYPE_INT32), acc, &out[0]);
done:
    free(acc);
    conv_geom_free(&g);
    return st;
}

static mof_status k_qlinear_conv(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                                 size_t n_out, mof_tensor **out)
{
    mof_status st = check_operands(kc, n_in, in, true, "x", "w");
    if (st != MOF_OK)
        return st;
    const mof_tensor *x = in[0], *xs = in[1], *xz = in[2], *w = in[3], *ws = in[4], *wz = in[5];
    const mof_tensor *ys = in[6], *yz = in[7], *bias = mof_kernel_input(n_in, in, 8);
    if (bias && bias->dtype != MOF_DTYPE_INT32)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "the bias is %s, not int32",
                                mof_dtype_name(bias->dtype));
    conv_geom g;
    if ((st = conv_geometry(kc, x, w, &g)) != MOF_OK)
        return st;
    int32_t *acc = NULL;
    mof_tensor *y = NULL;
    if ((st = check_per_channel(kc, "x_scale", xs, g.M, false)) != MOF_OK ||
        (st = check_per_channel(kc, "x_zero_point", xz, g.M, false)) != MOF_OK ||
        (st = check_per_channel(kc, "w_scale", ws, g.M, true)) != MOF_OK ||
        (st = check_per_channel(kc, "w_zero_point", wz, g.M, true)) != MOF_OK ||
        (st = check_per_channel(kc, "y_scale", ys, g.M, false)) != MOF_OK ||
        (st = check_per_channel(kc, "y_zero_point", yz, g.M, false)) != MOF_OK)
        goto done;
    if (bias && (bias->rank != 1 || bias->numel != g.M)) {
        st = mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                              "the bias must be 1-D of %" PRId64 " elements", g.M);
        goto done;
    }
    if ((st = conv_accumulate(kc, &g, x, mof_tensor_get_i64(xz, 0), w, wz, bias, &acc)) !=
        MOF_OK)
        goto done;
    if (!(y = conv_output(kc, &g, yz->dtype))) {
        st = MOF_ERR_NOMEM;
        goto done;
    }
    int64_t lo, hi;
    quant_range(yz->dtype, false, &lo, &hi);
    float sx = (float)mof_tensor_get_f64(xs, 0), sy = (float)mof_tensor_get_f64(ys, 0);
    int64_t zy = mof_tensor_get_i64(yz, 0);
    for (int64_t n = 0; n < g.N; n++) {
        for (int64_t m = 0; m < g.M; m++) {
            float sw = (float)mof_tensor_get_f64(ws, ws->numel == 1 ? 0 : m);
            float mult = requant_multiplier(sx, sw, sy);
            int64_t base = (n * g.M + m) * g.out_size;
            for (int64_t o = 0; o < g.out_size; o++)
                mof_tensor_set_i64(y, base + o, requantize(acc[base + o], mult, zy, lo, hi));
        }
    }
    out[0] = y;
done:
    free(acc);
    conv_geom_free(&g);
    return st;
}

/* Output shape of a convolution of x by w from attributes, symbolic batch kept. */
static mof_status infer_conv_shape(mof_infer_ctx *ic, const mof_shape *x, const mof_shape *w,
                                   mof_dtype dt)
{
    if (!x || x->rank < 3)
        return mof_shape_set(&ic->out[0], dt, x && w && w->rank >= 3 ? w->rank : -1, NULL,
                             NULL);
    int r = x->rank;
    size_t S = (size_t)r - 2;
    int64_t *dims = mof_calloc((size_t)r, sizeof(*dims));
    const char **syms = mof_calloc((size_t)r, sizeof(*syms));
    mof_status st = MOF_ERR_NOMEM;
    if (!dims || !syms)
        goto done;
    dims[0] = x->dims[0];
    syms[0] = x->syms ? x->syms[0] : NULL;
    dims[1] = w && w->rank == r ? w->dims[0] : -1;
    size_t n_ks, n_st, n_di, n_pa;
    const int64_t *ks = mof_node_attr_ints(ic->node, "kernel_shape", &n_ks);
    const int64_t *sd = mof_node_attr_ints(ic->node, "strides", &n_st);
    const int64_t *di = mof_node_attr_ints(ic->node, "dilations", &n_di);
    const int64_t *pa = mof_node_attr_ints(ic->node, "pads", &n_pa);
    const char *ap = mof_node_attr_string(ic->node, "auto_pad", "NOTSET", NULL);
    for (size_t i = 0; i < S; i++) {
        int64_t in = x->dims[2 + i];
        int64_t k = n_ks == S ? ks[i] : w && w->rank == r ? w->dims[2 + i] : -1;
        int64_t s = n_st == S ? sd[i] : 1, d = n_di == S ? di[i] : 1;
        int64_t pb = n_pa == 2 * S ? pa[i] : 0, pe = n_pa == 2 * S ? pa[S + i] : 0;
        dims[2 + i] = -1;
        if (in < 0 || s < 1)
            continue;
        if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
            dims[2 + i] = (in + s - 1) / s;
            continue;
        }
        if (k < 1 || d < 1)
            continue;
        if (!strcmp(ap, "VALID"))
            pb = pe = 0;
        int64_t avail = in + pb + pe - ((k - 1) * d + 1);
        if (avail < 0) {
            st = mof_infer_error(ic, "the kernel is larger than the padded input along dim %zu",
                                 i);
            goto done;
        }
        dims[2 + i] = avail / s + 1;
    }
    st = mof_shape_set(&ic->out[0], dt, r, dims, (char *const *)syms);
done:
    free(dims);
    free(syms);
    return st;
}

static mof_status infer_conv_integer(mof_infer_ctx *ic)
{
    return infer_conv_shape(ic, mof_infer_input(ic, 0), mof_infer_input(ic, 1), MOF_DTYPE_INT32);
}

static mof_status infer_qlinear_conv(mof_infer_ctx *ic)
{
    const mof_shape *yz = mof_infer_input(ic, 7);
    return infer_conv_shape(ic, mof_infer_input(ic, 0), mof_infer_input(ic, 3),
                            yz ? yz->dtype : MOF_DTYPE_UNDEFINED);
}

/* ------------------------------------------------------------------ the table */

const mof_op_def mof_ops_quant[] = {
    {"", "QuantizeLinear", 10, 22, k_quantize, infer_quantize},
    {"", "DequantizeLinear", 10, 22, k_dequantize, infer_dequantize},
    {"", "DynamicQuantizeLinear", 11, 0, k_dynamic_quantize, infer_dynamic_quantize},
    {"", "MatMulInteger", 10, 0, k_matmul_integer, infer_matmul_integer},
    {"", "QLinearMatMul", 10, 0, k_qlinear_matmul, infer_qlinear_matmul},
    {"", "ConvInteger", 10, 0, k_conv_integer, infer_conv_integer},
    {"", "QLinearConv", 10, 0, k_qlinear_conv, infer_qlinear_conv},
    {0},
};
