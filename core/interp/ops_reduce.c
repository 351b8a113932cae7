/* ops_reduce.c: reductions of the reference interpreter: ReduceSum, ReduceMean,
 * ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceLogSum,
 * ReduceLogSumExp, ReduceSumSquare; ArgMax and ArgMin; CumSum.
 *
 * The axes of a reduction are an attribute until ReduceSum-13 and the others' version
 * 18, an optional input from then on (with noop_with_empty_axes). Floating types
 * accumulate in double; integer types in 64-bit integers (wrapping), except where the
 * result is not an integer function of the inputs (Mean, L2, LogSum, LogSumExp), which
 * is computed in double and truncated to the type, as the ONNX reference does. */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interp/kernel.h"

typedef enum {
    R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD, R_L1, R_L2, R_LOGSUM, R_LOGSUMEXP, R_SUMSQUARE,
} reduce_kind;

static const struct {
    const char *op;
    reduce_kind kind;
    int64_t axes_input_since;  /* first opset taking axes as an input */
} reductions[] = {
    {"ReduceSum", R_SUM, 13},       {"ReduceMean", R_MEAN, 18},
    {"ReduceMax", R_MAX, 18},       {"ReduceMin", R_MIN, 18},
    {"ReduceProd", R_PROD, 18},     {"ReduceL1", R_L1, 18},
    {"ReduceL2", R_L2, 18},         {"ReduceLogSum", R_LOGSUM, 18},
    {"ReduceLogSumExp", R_LOGSUMEXP, 18}, {"ReduceSumSquare", R_SUMSQUARE, 18},
};

static bool find_reduction(const char *op, reduce_kind *kind, int64_t *axes_since)
{
    for (size_t i = 0; i < sizeof(reductions) / sizeof(reductions[0]); i++) {
        if (!strcmp(reductions[i].op, op)) {
            *kind = reductions[i].kind;
            *axes_since = reductions[i].axes_input_since;
            return true;
        }
    }
    return false;
}

typedef enum { C_NONE, C_FLOAT, C_SIGNED, C_UNSIGNED } num_class;

static num_class class_of(mof_dtype t)
{
    switch (t) {
    case MOF_DTYPE_FLOAT: case MOF_DTYPE_DOUBLE: case MOF_DTYPE_FLOAT16:
    case MOF_DTYPE_BFLOAT16:
        return C_FLOAT;
    case MOF_DTYPE_INT8: case MOF_DTYPE_INT16: case MOF_DTYPE_INT32: case MOF_DTYPE_INT64:
    case MOF_DTYPE_BOOL:
        return C_SIGNED;
    case MOF_DTYPE_UINT8: case MOF_DTYPE_UINT16: case MOF_DTYPE_UINT32:
    case MOF_DTYPE_UINT64:
        return C_UNSIGNED;
    default:
        return C_NONE;
    }
}

/* ------------------------------------------------------------------ axes */

/* Fills flags[rank] from the axes (none: every axis). Returns NULL, or why the axes
 * are wrong (in why, of `size` bytes). */
static const char *axes_flags(const int64_t *axes, size_t n, size_t rank, bool *flags,
                              char *why, size_t size)
{
    for (size_t i = 0; i < rank; i++)
        flags[i] = n == 0;
    for (size_t i = 0; i < n; i++) {
        int64_t a = axes[i];
        if (a < 0)
            a += (int64_t)rank;
        if (a < 0 || a >= (int64_t)rank) {
            snprintf(why, size, "axis %" PRId64 " is out of range for rank %zu", axes[i],
                     rank);
            return why;
        }
        if (flags[a])
            return "an axis is repeated";
        flags[a] = true;
    }
    return NULL;
}

/* ------------------------------------------------------------------ reduce kernel */

static mof_status k_reduce(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                           size_t n_out, mof_tensor **out)
{
    const mof_node *node = kc->node;
    reduce_kind kind;
    int64_t since;
    if (!find_reduction(mof_node_op_type(node), &kind, &since))
        return mof_kernel_error(kc, MOF_ERR_INTERNAL, "internal error: no reduction");
    if (n_in < 1 || !in[0])
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "input 0 is missing");
    const mof_tensor *x = in[0];
    num_class cls = class_of(x->dtype);
    if (cls == C_NONE || (x->dtype == MOF_DTYPE_BOOL && kind != R_MAX && kind != R_MIN))
        return mof_kernel_unsupported_type(kc, x->dtype);
    size_t rank = x->rank;
    bool keepdims = mof_node_attr_int(node, "keepdims", 1) != 0;
    /* The axes, as an attribute or (newer opsets) an input. */
    const int64_t *axes = NULL;
    size_t n_axes = 0;
    if (kc->opset >= since) {
        if (n_in > 1 && in[1]) {
            const mof_tensor *a = in[1];
            if (a->dtype != MOF_DTYPE_INT64 || a->rank > 1)
                return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                        "axes must be a 1-D int64 tensor");
            axes = a->data;
            n_axes = (size_t)a->numel;
        }
        if (n_axes == 0 && mof_node_attr_int(node, "noop_with_empty_axes", 0)) {
            out[0] = mof_tensor_ref(in[0]);
            return MOF_OK;
        }
    } else {
        axes = mof_node_attr_ints(node, "axes", &n_axes);
    }
    mof_status st = MOF_ERR_NOMEM;
    bool *flags = mof_calloc(rank ? rank : 1, sizeof(*flags));
    int64_t *odims = mof_calloc(rank ? rank : 1, sizeof(*odims));
    int64_t *ostr = mof_calloc(rank ? rank : 1, sizeof(*ostr));
    int64_t *idx = mof_calloc(rank ? rank : 1, sizeof(*idx));
    double *accf = NULL, *mx = NULL;
    uint64_t *acci = NULL;
    mof_tensor *y = NULL;
    if (!flags || !odims || !ostr || !idx) {
        st = mof_kernel_nomem(kc);
        goto done;
    }
    char buf[80];
    const char *why = axes_flags(axes, n_axes, rank, flags, buf, sizeof(buf));
    if (why) {
        st = mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "%s", why);
        goto done;
    }
    /* Output dims (with reduced dims of size 1, whether kept or not) and the stride
     * of the output along each input dim (0 along reduced dims). */
    size_t orank = 0;
    int64_t count = 1;
    for (size_t i = 0; i < rank; i++) {
        if (flags[i])
            count *= x->dims[i];
        if (!flags[i] || keepdims)
            odims[orank++] = flags[i] ? 1 : x->dims[i];
    }
    {
        int64_t s = 1;
        for (size_t i = rank; i-- > 0;) {
            ostr[i] = flags[i] ? 0 : s;
            if (!flags[i])
                s *= x->dims[i];
        }
    }
    y = mof_kernel_new_tensor(kc, x->dtype, orank, odims);
    if (!y)
        goto done;
    int64_t on = y->numel;
    bool use_float = cls == C_FLOAT || kind == R_MEAN || kind == R_L2 || kind == R_LOGSUM ||
                     kind == R_LOGSUMEXP;
    if (use_float) {
        accf = mof_calloc(on ? (size_t)on : 1, sizeof(*accf));
        mx = kind == R_LOGSUMEXP ? mof_calloc(on ? (size_t)on : 1, sizeof(*mx)) : NULL;
        if (!accf || (kind == R_LOGSUMEXP && !mx)) {
            st = mof_kernel_nomem(kc);
            goto done;
        }
    } else {
        acci = mof_calloc(on ? (size_t)on : 1, sizeof(*acci));
        if (!acci) {
            st = mof_kernel_nomem(kc);
            goto done;
        }
    }
    /* Initial values: the identity of each reduction. */
    for (int64_t o = 0; o < on; o++) {
        if (use_float) {
            accf[o] = kind == R_PROD ? 1.0 : kind == R_MAX ? -INFINITY
                      : kind == R_MIN ? INFINITY : 0.0;
            if (mx)
                mx[o] = -INFINITY;
        } else if (kind == R_PROD) {
            acci[o] = 1;
        } else if (kind == R_MAX) {
            acci[o] = cls == C_UNSIGNED ? 0 : (uint64_t)INT64_MIN;
        } else if (kind == R_MIN) {
            acci[o] = cls == C_UNSIGNED ? UINT64_MAX : (uint64_t)INT64_MAX;
        }
    }
    /* LogSumExp subtracts each output's max before exp, so needs a first pass. */
    for (int pass = kind == R_LOGSUMEXP ? 0 : 1; pass < 2; pass++) {
        int64_t off = 0;
        for (size_t d = 0; d < rank; d++)
            idx[d] = 0;
        for (int64_t i = 0; i < x->numel; i++) {
            if (use_float) {
                double v = mof_tensor_get_f64(x, i);
                double *a = &accf[off];
                if (pass == 0) {
                    if (v > mx[off] || isnan(v))
                        mx[off] = isnan(mx[off]) ? mx[off] : v;
                } else {
                    switch (kind) {
                    case R_SUM: case R_MEAN: case R_LOGSUM: *a += v; break;
                    case R_SUMSQUARE: case R_L2: *a += v * v; break;
                    case R_L1: *a += fabs(v); break;
                    case R_PROD: *a *= v; break;
                    case R_MAX: if (!isnan(*a) && (isnan(v) || v > *a)) *a = v; break;
                    case R_MIN: if (!isnan(*a) && (isnan(v) || v < *a)) *a = v; break;
                    case R_LOGSUMEXP:
                        *a += isinf(mx[off]) ? exp(v) : exp(v - mx[off]);
                        break;
                    }
                }
            } else {
                uint64_t v = (uint64_t)mof_tensor_get_i64(x, i);
                uint64_t *a = &acci[off];
                switch (kind) {
                case R_SUM: *a += v; break;
                case R_SUMSQUARE: *a += v * v; break;
                case R_L1: *a += cls == C_SIGNED && (int64_t)v < 0 ? 0 - v : v; break;
                case R_PROD: *a *= v; break;
                case R_MAX:
                    if (cls == C_UNSIGNED ? v > *a : (int64_t)v > (int64_t)*a)
                        *a = v;
                    break;
                case R_MIN:
                    if (cls == C_UNSIGNED ? v < *a : (int64_t)v < (int64_t)*a)
                        *a = v;
                    break;
                default: break;
                }
            }
            for (size_t d = rank; d-- > 0;) {
                off += ostr[d];
                if (++idx[d] < x->dims[d])
                    break;
                off -= ostr[d] * x->dims[d];
                idx[d] = 0;
            }
        }
    }
    for (int64_t o = 0; o < on; o++) {
        if (!use_float) {
            mof_tensor_set_i64(y, o, (int64_t)acci[o]);
            continue;
        }
        double v = accf[o];
        switch (kind) {
        case R_MEAN: v = v / (double)count; break;
        case R_L2: v = sqrt(v); break;
        case R_LOGSUM: v = log(v); break;
        case R_LOGSUMEXP: v = log(v) + (isinf(mx[o]) ? 0.0 : mx[o]); break;
        default: break;
        }
        mof_tensor_set_f64(y, o, v);
    }
    out[0] = y;
    y = NULL;
    st = MOF_OK;
done:
    mof_tensor_unref(y);
    free(flags);
    free(odims);
    free(ostr);
    free(idx);
    free(accf);
    free(mx);
    free(acci);
    return st;
}

/* ------------------------------------------------------------------ ArgMax, ArgMin */

static mof_status k_argmax(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                           size_t n_out, mof_tensor **out)
{
    const mof_node *node = kc->node;
    if (n_in < 1 || !in[0])
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "input 0 is missing");
    const mof_tensor *x = in[0];
    num_class cls = class_of(x->dtype);
    if (cls == C_NONE || x->dtype == MOF_DTYPE_BOOL)
        return mof_kernel_unsupported_type(kc, x->dtype);
    bool is_max = !strcmp(mof_node_op_type(node), "ArgMax");
    int64_t r = (int64_t)x->rank, axis;
    mof_status st = mof_kernel_axis(kc, 0, r, &axis);
    if (st != MOF_OK)
        return st;
    bool keepdims = mof_node_attr_int(node, "keepdims", 1) != 0;
    bool last = kc->opset >= 12 && mof_node_attr_int(node, "select_last_index", 0) != 0;
    int64_t len = x->dims[axis];
    if (len == 0)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "the reduced axis is empty");
    int64_t *odims = mof_calloc(x->rank ? x->rank : 1, sizeof(*odims));
    if (!odims)
        return mof_kernel_nomem(kc);
    size_t orank = 0;
    for (int64_t i = 0; i < r; i++) {
        if (i != axis)
            odims[orank++] = x->dims[i];
        else if (keepdims)
            odims[orank++] = 1;
    }
    mof_tensor *y = mof_kernel_new_tensor(kc, MOF_DTYPE_INT64, orank, odims);
    free(odims);
    if (!y)
        return MOF_ERR_NOMEM;
    int64_t outer = mof_dims_numel((size_t)axis, x->dims);
    int64_t inner = mof_dims_numel((size_t)(r - axis - 1), x->dims + axis + 1);
    int64_t *res = y->data;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t q = 0; q < inner; q++) {
            int64_t base = o * len * inner + q, best = 0;
            for (int64_t j = 1; j < len; j++) {
                int64_t a = base + j * inner, b = base + best * inner;
                int c; /* sign of x[a] - x[best] */
                if (cls == C_FLOAT) {
                    double va = mof_tensor_get_f64(x, a), vb = mof_tensor_get_f64(x, b);
                    c = va > vb ? 1 : va < vb ? -1 : 0;
                } else if (cls == C_UNSIGNED) {
                    uint64_t va = (uint64_t)mof_tensor_get_i64(x, a);
                    uint64_t vb = (uint64_t)mof_tensor_get_i64(x, b);
                    c = va > vb ? 1 : va < vb ? -1 : 0;
                } else {
                    int64_t va = mof_tensor_get_i64(x, a), vb = mof_tensor_get_i64(x, b);
                    c = va > vb ? 1 : va < vb ? -1 : 0;
                }
                if (!is_max)
                    c = -c;
                if (c > 0 || (c == 0 && last))
                    best = j;
            }
            res[o * inner + q] = best;
        }
    }
    out[0] = y;
    return MOF_OK;
}

/* ------------------------------------------------------------------ CumSum */

static mof_status k_cumsum(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                           size_t n_out, mof_tensor **out)
{
    if (n_in < 2 || !in[0] || !in[1])
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "CumSum needs x and axis");
    const mof_tensor *x = in[0], *at = in[1];
    num_class cls = class_of(x->dtype);
    if (cls == C_NONE || x->dtype == MOF_DTYPE_BOOL)
        return mof_kernel_unsupported_type(kc, x->dtype);
    if ((at->dtype != MOF_DTYPE_INT32 && at->dtype != MOF_DTYPE_INT64) || at->numel != 1)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "axis must be an int32 or int64 scalar");
    int64_t r = (int64_t)x->rank, axis;
    mof_status st = mof_kernel_norm_axis(kc, mof_tensor_get_i64(at, 0), r, &axis);
    if (st != MOF_OK)
        return st;
    bool exclusive = mof_node_attr_int(kc->node, "exclusive", 0) != 0;
    bool reverse = mof_node_attr_int(kc->node, "reverse", 0) != 0;
    mof_tensor *y = mof_kernel_new_tensor(kc, x->dtype, x->rank, x->dims);
    if (!y)
        return MOF_ERR_NOMEM;
    int64_t len = x->dims[axis];
    int64_t outer = mof_dims_numel((size_t)axis, x->dims);
    int64_t inner = mof_dims_numel((size_t)(r - axis - 1), x->dims + axis + 1);
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t q = 0; q < inner; q++) {
            double sf = 0;
            uint64_t si = 0;
            for (int64_t k = 0; k < len; k++) {
                int64_t j = reverse ? len - 1 - k : k;
                int64_t i = (o * len + j) * inner + q;
                if (cls == C_FLOAT) {
                    double v = mof_tensor_get_f64(x, i);
                    if (!exclusive)
                        sf += v;
                    mof_tensor_set_f64(y, i, sf);
                    if (exclusive)
                        sf += v;
                } else {
                    uint64_t v = (uint64_t)mof_tensor_get_i64(x, i);
                    if (!exclusive)
                        si += v;
                    mof_tensor_set_i64(y, i, (int64_t)si);
                    if (exclusive)
                        si += v;
                }
            }
        }
    }
    out[0] = y;
    return MOF_OK;
}

/* ------------------------------------------------------------------ shape functions */

static mof_status infer_reduce(mof_infer_ctx *ic)
{
    if (ic->n_in < 1 || !ic->in[0].present || ic->n_out < 1)
        return MOF_OK;
    const mof_shape *x = &ic->in[0];
    reduce_kind kind;
    int64_t since;
    if (!find_reduction(mof_node_op_type(ic->node), &kind, &since))
        return MOF_OK;
    bool keepdims = mof_node_attr_int(ic->node, "keepdims", 1) != 0;
    const int64_t *axes = NULL;
    size_t n_axes = 0;
    bool axes_known = true;
    if (ic->opset >= since) {
        if (ic->n_in > 1 && ic->in[1].present) {
            const mof_tensor *a = ic->in[1].value;
            if (a && a->dtype == MOF_DTYPE_INT64) {
                axes = a->data;
                n_axes = (size_t)a->numel;
            } else if (ic->in[1].rank == 1 && ic->in[1].dims[0] == 0) {
                n_axes = 0;
            } else {
                axes_known = false;
            }
        }
        if (axes_known && n_axes == 0 &&
            mof_node_attr_int(ic->node, "noop_with_empty_axes", 0))
            return mof_shape_set(&ic->out[0], x->dtype, x->rank, x->dims, x->syms);
    } else {
        axes = mof_node_attr_ints(ic->node, "axes", &n_axes);
    }
    if (x->rank < 0)
        return mof_shape_set(&ic->out[0], x->dtype, -1, NULL, NULL);
    if (!axes_known) {
        /* Which dims go is unknown; with keepdims at least the rank is. */
        return mof_shape_set(&ic->out[0], x->dtype, keepdims ? x->rank : -1, NULL, NULL);
    }
    size_t rank = (size_t)x->rank;
    bool *flags = mof_calloc(rank ? rank : 1, sizeof(*flags));
    int64_t *dims = mof_calloc(rank ? rank : 1, sizeof(*dims));
    char **syms = mof_calloc(rank ? rank : 1, sizeof(*syms));
    mof_status st = MOF_ERR_NOMEM;
    if (!flags || !dims || !syms)
        goto done;
    char buf[80];
    const char *why = axes_flags(axes, n_axes, rank, flags, buf, sizeof(buf));
    if (why) {
        st = mof_infer_error(ic, "%s", why);
        goto done;
    }
    size_t orank = 0;
    for (size_t i = 0; i < rank; i++) {
        if (!flags[i]) {
            dims[orank] = x->dims[i];
            syms[orank++] = x->syms ? x->syms[i] : NULL;
        } else if (keepdims) {
            dims[orank] = 1;
            syms[orank++] = NULL;
        }
    }
    st = mof_shape_set(&ic->out[0], x->dtype, (int)orank, dims, syms);
done:
    free(flags);
    free(dims);
    free(syms);
    return st;
}

static mof_status infer_argmax(mof_infer_ctx *ic)
{
    if (ic->n_in < 1 || !ic->in[0].present || ic->n_out < 1)
        return MOF_OK;
    const mof_shape *x = &ic->in[0];
    bool keepdims = mof_node_attr_int(ic->node, "keepdims", 1) != 0;
    if (x->rank < 0)
        return mof_shape_set(&ic->out[0], MOF_DTYPE_INT64, -1, NULL, NULL);
    int64_t r = x->rank, axis;
    mof_status st = mof_infer_axis(ic, 0, r, &axis);
    if (st != MOF_OK)
        return st;
    int64_t *dims = mof_calloc((size_t)r, sizeof(*dims));
    char **syms = mof_calloc((size_t)r, sizeof(*syms));
    st = MOF_ERR_NOMEM;
    if (dims && syms) {
        int orank = 0;
        for (int64_t i = 0; i < r; i++) {
            if (i != axis) {
                dims[orank] = x->dims[i];
                syms[orank++] = x->syms ? x->syms[i] : NULL;
            } else if (keepdims) {
                dims[orank++] = 1;
            }
        }
        st = mof_shape_set(&ic->out[0], MOF_DTYPE_INT64, orank, dims, syms);
    }
    free(dims);
    free(syms);
    return st;
}

static mof_status infer_cumsum(mof_infer_ctx *ic)
{
    if (ic->n_in < 1 || !ic->in[0].present || ic->n_out < 1)
        return MOF_OK;
    const mof_shape *x = &ic->in[0];
    return mof_shape_set(&ic->out[0], x->dtype, x->rank, x->dims, x->syms);
}

/* ------------------------------------------------------------------ the table */

#define REDUCE(name) {"", name, 1, 0, k_reduce, infer_reduce}

const mof_op_def mof_ops_reduce[] = {
    REDUCE("ReduceSum"), REDUCE("ReduceMean"), REDUCE("ReduceMax"), REDUCE("ReduceMin"),
    REDUCE("ReduceProd"), REDUCE("ReduceL1"), REDUCE("ReduceL2"), REDUCE("ReduceLogSum"),
    REDUCE("ReduceLogSumExp"), REDUCE("ReduceSumSquare"),
    {"", "ArgMax", 1, 0, k_argmax, infer_argmax},
    {"", "ArgMin", 1, 0, k_argmax, infer_argmax},
    {"", "CumSum", 11, 0, k_cumsum, infer_cumsum},
    {0},
};
