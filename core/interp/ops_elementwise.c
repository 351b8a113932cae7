/* ops_elementwise.c: element-wise operators of the reference interpreter: unary math,
 * activations and Shrink, binary and variadic arithmetic, comparison and logic with
 * numpy broadcasting, Where, Cast / CastLike, Identity, Dropout, and the
 * row-wise Softmax / LogSoftmax / Hardmax.
 *
 * Kernels compute in double for every floating type (float16 and bfloat16 are
 * rounded to nearest even when stored), in int64 for signed integers and bool, and in
 * uint64 for unsigned integers, so that one plain loop serves every type. Integer
 * arithmetic wraps as two's complement; integer division truncates toward zero. A
 * type an op does not define is refused (MOF_ERR_UNSUPPORTED), naming the node.
 *
 * Before opset 7 the binary ops broadcast only when asked (broadcast=1), matching B
 * against a contiguous run of A's dims starting at `axis`; that is implemented by
 * viewing B with A's rank. */
#include "config.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interp/kernel.h"
#include "interp/random.h"

/* ------------------------------------------------------------------ types */

enum {
    CLS_FLOAT = 1u << 0,
    CLS_SIGNED = 1u << 1,
    CLS_UNSIGNED = 1u << 2,
    CLS_BOOL = 1u << 3,
    CLS_INT = CLS_SIGNED | CLS_UNSIGNED,
    CLS_NUM = CLS_FLOAT | CLS_INT,
};

static unsigned dtype_class(mof_dtype t)
{
    switch (t) {
    case MOF_DTYPE_FLOAT: case MOF_DTYPE_DOUBLE: case MOF_DTYPE_FLOAT16:
    case MOF_DTYPE_BFLOAT16:
        return CLS_FLOAT;
    case MOF_DTYPE_INT8: case MOF_DTYPE_INT16: case MOF_DTYPE_INT32: case MOF_DTYPE_INT64:
        return CLS_SIGNED;
    case MOF_DTYPE_UINT8: case MOF_DTYPE_UINT16: case MOF_DTYPE_UINT32:
    case MOF_DTYPE_UINT64:
        return CLS_UNSIGNED;
    case MOF_DTYPE_BOOL:
        return CLS_BOOL;
    default:
        return 0;
    }
}

/* The value of a scalar (or one-element) input as double / int64. */
static mof_status scalar_f64(mof_kernel_ctx *kc, const mof_tensor *t, const char *what,
                             double *v)
{
    if (t->numel != 1)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "%s must be a scalar, it has %"
                                PRId64 " elements", what, t->numel);
    if (!dtype_class(t->dtype))
        return mof_kernel_unsupported_type(kc, t->dtype);
    *v = mof_tensor_get_f64(t, 0);
    return MOF_OK;
}

/* ------------------------------------------------------------------ broadcasting */

/* Walks the elements of a broadcast output, keeping each input's element offset. */
typedef struct bcast {
    size_t rank, n;
    int64_t numel;
    int64_t *dims;       /* output dims */
    int64_t *idx;        /* current output index */
    int64_t *off;        /* current offset of each input */
    int64_t *str;        /* str[k * rank + d]: stride of input k along d (0: broadcast) */
} bcast;

static void bcast_free(bcast *b)
{
    free(b->dims);
    free(b->idx);
    free(b->off);
    free(b->str);
    *b = (bcast){0};
}

static void format_dims(char *buf, size_t size, size_t rank, const int64_t *dims)
{
    size_t len = 0;
    len += (size_t)snprintf(buf, size, "[");
    for (size_t i = 0; i < rank && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%" PRId64, i ? "," : "", dims[i]);
    if (len < size)
        snprintf(buf + len, size - len, "]");
}

static mof_status bcast_init(mof_kernel_ctx *kc, bcast *b, size_t n, const mof_tensor *const *ts)
{
    *b = (bcast){0};
    size_t r = 0;
    for (size_t k = 0; k < n; k++)
        if (ts[k]->rank > r)
            r = ts[k]->rank;
    size_t rr = r ? r : 1;
    b->rank = r;
    b->n = n;
    b->dims = mof_calloc(rr, sizeof(*b->dims));
    b->idx = mof_calloc(rr, sizeof(*b->idx));
    b->off = mof_calloc(n, sizeof(*b->off));
    b->str = mof_calloc(n * rr, sizeof(*b->str));
    if (!b->dims || !b->idx || !b->off || !b->str) {
        bcast_free(b);
        return mof_kernel_error(kc, MOF_ERR_NOMEM, "out of memory");
    }
    for (size_t d = 0; d < r; d++) {
        int64_t out = 1;
        for (size_t k = 0; k < n; k++) {
            const mof_tensor *t = ts[k];
            int64_t dk = d + t->rank >= r ? t->dims[d + t->rank - r] : 1;
            if (dk == 1)
                continue;
            if (out == 1) {
                out = dk;
            } else if (out != dk) {
                char a[128], c[128];
                format_dims(a, sizeof(a), ts[0]->rank, ts[0]->dims);
                format_dims(c, sizeof(c), t->rank, t->dims);
                bcast_free(b);
                return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                        "cannot broadcast input %zu of shape %s with input 0 "
                                        "of shape %s", k, c, a);
            }
        }
        b->dims[d] = out;
    }
    for (size_t k = 0; k < n; k++) {
        const mof_tensor *t = ts[k];
        int64_t s = 1;
        for (size_t d = r; d-- > 0;) {
            if (d + t->rank < r)
                break;
            int64_t dk = t->dims[d + t->rank - r];
            b->str[k * rr + d] = dk == 1 ? 0 : s;
            s *= dk;
        }
    }
    b->numel = mof_dims_numel(r, b->dims);
    return MOF_OK;
}

static void bcast_next(bcast *b)
{
    size_t rr = b->rank ? b->rank : 1;
    for (size_t d = b->rank; d-- > 0;) {
        b->idx[d]++;
        for (size_t k = 0; k < b->n; k++)
            b->off[k] += b->str[k * rr + d];
        if (b->idx[d] < b->dims[d])
            return;
        for (size_t k = 0; k < b->n; k++)
            b->off[k] -= b->str[k * rr + d] * b->dims[d];
        b->idx[d] = 0;
    }
}

/* True when b's dims fit a's from `axis` on (each equal or 1). */
static bool fits_at(const mof_tensor *a, const mof_tensor *b, int64_t axis)
{
    if (axis < 0 || (size_t)axis + b->rank > a->rank)
        return false;
    for (size_t i = 0; i < b->rank; i++)
        if (b->dims[i] != a->dims[(size_t)axis + i] && b->dims[i] != 1)
            return false;
    return true;
}

/* *view receives b with a's rank, its dims placed at `axis` (which fits_at checked) and
 * 1 elsewhere; a one-element b is a scalar. It borrows b's data; its dims are
 * *vdims, owned by the caller. */
static mof_status view_at(mof_kernel_ctx *kc, const mof_tensor *a, const mof_tensor *b,
                          int64_t axis, mof_tensor *view, int64_t **vdims)
{
    int64_t *d = mof_calloc(a->rank ? a->rank : 1, sizeof(*d));
    if (!d)
        return mof_kernel_nomem(kc);
    for (size_t i = 0; i < a->rank; i++)
        d[i] = 1;
    for (size_t i = 0; b->numel != 1 && i < b->rank; i++)
        d[(size_t)axis + i] = b->dims[i];
    *view = *b;
    view->rank = a->rank;
    view->dims = d;
    *vdims = d;
    return MOF_OK;
}

/* Before opset 7, Add & co. take B as is (same shape as A) unless broadcast=1, which
 * aligns B with A's dims from `axis` (default: the trailing dims). *view receives B
 * with A's rank (it borrows B's data; dims points into vdims, owned by the caller). */
static mof_status legacy_broadcast(mof_kernel_ctx *kc, const mof_tensor *a, const mof_tensor *b,
                                   mof_tensor *view, int64_t **vdims)
{
    *vdims = NULL;
    *view = *b;
    if (!mof_node_attr_int(kc->node, "broadcast", 0)) {
        if (a->rank != b->rank || (a->rank && memcmp(a->dims, b->dims, a->rank * sizeof(int64_t))))
            return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                    "inputs have different shapes and broadcast is not set");
        return MOF_OK;
    }
    if (b->rank > a->rank)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "B has a higher rank (%zu) than A (%zu)", b->rank, a->rank);
    int64_t axis = mof_node_attr_int(kc->node, "axis", (int64_t)(a->rank - b->rank));
    if (axis < 0)
        axis += (int64_t)a->rank;
    /* A one-element B is a scalar, whatever its shape. */
    if (b->numel != 1 && (axis < 0 || (size_t)axis + b->rank > a->rank))
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "axis %" PRId64 " is out of range",
                                axis);
    if (b->numel != 1 && !fits_at(a, b, axis))
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "B's dims do not match A's dims from axis %" PRId64, axis);
    return view_at(kc, a, b, b->numel == 1 ? 0 : axis, view, vdims);
}

/* ------------------------------------------------------------------ unary ops */

typedef struct uparams {
    double alpha, beta, gamma;
    double lambd, bias;         /* Shrink */
    bool detect_neg, detect_pos;
    bool gelu_tanh;
} uparams;

typedef struct unop {
    const char *op;
    double (*f)(double x, const uparams *p);
    int64_t (*s)(int64_t x, const uparams *p);
    uint64_t (*u)(uint64_t x, const uparams *p);
    bool to_bool;              /* the output is bool (IsNaN, IsInf) */
    float alpha, beta, gamma;  /* attribute defaults */
} unop;

static double f_abs(double x, const uparams *p) { return fabs(x); }
static double f_neg(double x, const uparams *p) { return -x; }
static double f_reciprocal(double x, const uparams *p) { return 1.0 / x; }
static double f_floor(double x, const uparams *p) { return floor(x); }
static double f_ceil(double x, const uparams *p) { return ceil(x); }
/* Round half to even: the default rounding mode of nearbyint. */
static double f_round(double x, const uparams *p) { return nearbyint(x); }
static double f_sqrt(double x, const uparams *p) { return sqrt(x); }
static double f_exp(double x, const uparams *p) { return exp(x); }
static double f_log(double x, const uparams *p) { return log(x); }
static double f_erf(double x, const uparams *p) { return erf(x); }
static double f_sin(double x, const uparams *p) { return sin(x); }
static double f_cos(double x, const uparams *p) { return cos(x); }
static double f_tan(double x, const uparams *p) { return tan(x); }
static double f_asin(double x, const uparams *p) { return asin(x); }
static double f_acos(double x, const uparams *p) { return acos(x); }
static double f_atan(double x, const uparams *p) { return atan(x); }
static double f_sinh(double x, const uparams *p) { return sinh(x); }
static double f_cosh(double x, const uparams *p) { return cosh(x); }
static double f_asinh(double x, const uparams *p) { return asinh(x); }
static double f_acosh(double x, const uparams *p) { return acosh(x); }
static double f_atanh(double x, const uparams *p) { return atanh(x); }
static double f_tanh(double x, const uparams *p) { return tanh(x); }
static double f_sign(double x, const uparams *p) { return x > 0 ? 1.0 : x < 0 ? -1.0 : x; }
static double f_isnan(double x, const uparams *p) { return isnan(x) ? 1.0 : 0.0; }
static double f_isinf(double x, const uparams *p)
{
    return isinf(x) && ((x > 0 && p->detect_pos) || (x < 0 && p->detect_neg)) ? 1.0 : 0.0;
}
static double f_relu(double x, const uparams *p) { return x < 0 ? 0.0 : x; }
static double f_leaky_relu(double x, const uparams *p) { return x < 0 ? p->alpha * x : x; }
static double f_elu(double x, const uparams *p) { return x < 0 ? p->alpha * expm1(x) : x; }
static double f_selu(double x, const uparams *p)
{
    return x <= 0 ? p->gamma * (p->alpha * exp(x) - p->alpha) : p->gamma * x;
}
static double f_celu(double x, const uparams *p)
{
    return fmax(0.0, x) + fmin(0.0, p->alpha * expm1(x / p->alpha));
}
static double f_sigmoid(double x, const uparams *p)
{
    /* Written so that exp never overflows. */
    if (x >= 0)
        return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}
static double f_hard_sigmoid(double x, const uparams *p)
{
    return fmax(0.0, fmin(1.0, p->alpha * x + p->beta));
}
static double f_hard_swish(double x, const uparams *p)
{
    return x * fmax(0.0, fmin(1.0, x / 6.0 + 0.5));
}
static double softplus(double x)
{
    return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}
static double f_softplus(double x, const uparams *p) { return softplus(x); }
static double f_softsign(double x, const uparams *p) { return x / (1.0 + fabs(x)); }
static double f_thresholded_relu(double x, const uparams *p) { return x > p->alpha ? x : 0.0; }
static double f_mish(double x, const uparams *p) { return x * tanh(softplus(x)); }
static double f_gelu(double x, const uparams *p)
{
    if (p->gelu_tanh) {
        const double k = 0.7978845608028654; /* sqrt(2 / pi) */
        return 0.5 * x * (1.0 + tanh(k * (x + 0.044715 * x * x * x)));
    }
    return 0.5 * x * (1.0 + erf(x * 0.7071067811865476));
}

static double f_shrink(double x, const uparams *p)
{
    return x < -p->lambd ? x + p->bias : x > p->lambd ? x - p->bias : 0.0;
}

/* Integer versions wrap (no undefined behaviour on INT64_MIN). */
static int64_t s_abs(int64_t x, const uparams *p) { return x < 0 ? (int64_t)(0 - (uint64_t)x) : x; }
static int64_t s_neg(int64_t x, const uparams *p) { return (int64_t)(0 - (uint64_t)x); }
static int64_t s_sign(int64_t x, const uparams *p) { return (x > 0) - (x < 0); }
static int64_t s_relu(int64_t x, const uparams *p) { return x < 0 ? 0 : x; }
static uint64_t u_self(uint64_t x, const uparams *p) { return x; }
static uint64_t u_sign(uint64_t x, const uparams *p) { return x != 0; }
static int64_t b_not(int64_t x, const uparams *p) { return !x; }
/* Shrink on integers: the bounds and bias are floats, the result is truncated. */
static int64_t s_shrink(int64_t x, const uparams *p)
{
    double v = f_shrink((double)x, p);
    return v >= 9.2e18 ? INT64_MAX : v <= -9.2e18 ? INT64_MIN : (int64_t)v;
}
static uint64_t u_shrink(uint64_t x, const uparams *p)
{
    double v = f_shrink((double)x, p);
    return v <= 0 ? 0 : v >= 1.8e19 ? UINT64_MAX : (uint64_t)v;
}

static const unop unops[] = {
    {.op = "Abs", .f = f_abs, .s = s_abs, .u = u_self},
    {.op = "Neg", .f = f_neg, .s = s_neg, .u = NULL},
    {.op = "Reciprocal", .f = f_reciprocal},
    {.op = "Floor", .f = f_floor},
    {.op = "Ceil", .f = f_ceil},
    {.op = "Round", .f = f_round},
    {.op = "Sqrt", .f = f_sqrt},
    {.op = "Exp", .f = f_exp},
    {.op = "Log", .f = f_log},
    {.op = "Erf", .f = f_erf},
    {.op = "Sin", .f = f_sin},
    {.op = "Cos", .f = f_cos},
    {.op = "Tan", .f = f_tan},
    {.op = "Asin", .f = f_asin},
    {.op = "Acos", .f = f_acos},
    {.op = "Atan", .f = f_atan},
    {.op = "Sinh", .f = f_sinh},
    {.op = "Cosh", .f = f_cosh},
    {.op = "Asinh", .f = f_asinh},
    {.op = "Acosh", .f = f_acosh},
    {.op = "Atanh", .f = f_atanh},
    {.op = "Tanh", .f = f_tanh},
    {.op = "Sign", .f = f_sign, .s = s_sign, .u = u_sign},
    {.op = "IsNaN", .f = f_isnan, .to_bool = true},
    {.op = "IsInf", .f = f_isinf, .to_bool = true},
    {.op = "Relu", .f = f_relu, .s = s_relu, .u = NULL},
    {.op = "LeakyRelu", .f = f_leaky_relu, .alpha = 0.01f},
    {.op = "Elu", .f = f_elu, .alpha = 1.0f},
    {.op = "Selu", .f = f_selu, .alpha = 1.67326319217681884765625f, .gamma = 1.05070102214813232421875f},
    {.op = "Celu", .f = f_celu, .alpha = 1.0f},
    {.op = "Sigmoid", .f = f_sigmoid},
    {.op = "HardSigmoid", .f = f_hard_sigmoid, .alpha = 0.2f, .beta = 0.5f},
    {.op = "HardSwish", .f = f_hard_swish},
    {.op = "Softplus", .f = f_softplus},
    {.op = "Softsign", .f = f_softsign},
    {.op = "ThresholdedRelu", .f = f_thresholded_relu, .alpha = 1.0f},
    {.op = "Mish", .f = f_mish},
    {.op = "Gelu", .f = f_gelu},
    {.op = "Shrink", .f = f_shrink, .s = s_shrink, .u = u_shrink},
};

static const unop unop_not = {.op = "Not", .s = b_not};

static const unop *find_unop(const char *op)
{
    if (!strcmp(op, "Not"))
        return &unop_not;
    for (size_t i = 0; i < sizeof(unops) / sizeof(unops[0]); i++)
        if (!strcmp(unops[i].op, op))
            return &unops[i];
    return NULL;
}

static mof_status k_unary(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in, size_t n_out,
                          mof_tensor **out)
{
    const mof_node *n = kc->node;
    const unop *u = find_unop(mof_node_op_type(n));
    mof_status st = mof_kernel_need_input(kc, n_in, in, 0);
    if (st != MOF_OK)
        return st;
    if (!u)
        return mof_kernel_error(kc, MOF_ERR_INTERNAL, "internal error: no unary kernel");
    const mof_tensor *x = in[0];
    unsigned cls = dtype_class(x->dtype);
    bool is_not = u == &unop_not;
    if ((is_not && cls != CLS_BOOL) || (!is_not && cls == CLS_BOOL) ||
        (cls == CLS_FLOAT && !u->f) || (cls == CLS_SIGNED && !u->s) ||
        (cls == CLS_UNSIGNED && !u->u) || !cls)
        return mof_kernel_unsupported_type(kc, x->dtype);
    uparams p = {
        .alpha = mof_node_attr_float(n, "alpha", u->alpha),
        .beta = mof_node_attr_float(n, "beta", u->beta),
        .gamma = mof_node_attr_float(n, "gamma", u->gamma),
        .detect_neg = mof_node_attr_int(n, "detect_negative", 1) != 0,
        .detect_pos = mof_node_attr_int(n, "detect_positive", 1) != 0,
        .lambd = mof_node_attr_float(n, "lambd", 0.5f),
        .bias = mof_node_attr_float(n, "bias", 0.0f),
    };
    if (!strcmp(u->op, "Gelu")) {
        const char *a = mof_node_attr_string(n, "approximate", "none", NULL);
        if (strcmp(a, "none") && strcmp(a, "tanh"))
            return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                    "approximate must be 'none' or 'tanh', not '%s'", a);
        p.gelu_tanh = !strcmp(a, "tanh");
    }
    mof_dtype yt = u->to_bool ? MOF_DTYPE_BOOL : x->dtype;
    mof_tensor *y = mof_kernel_new_tensor(kc, yt, x->rank, x->dims);
    if (!y)
        return MOF_ERR_NOMEM;
    int64_t count = x->numel;
    if (cls == CLS_FLOAT && x->dtype == MOF_DTYPE_FLOAT && !u->to_bool) {
        const float *a = x->data;
        float *b = y->data;
        for (int64_t i = 0; i < count; i++)
            b[i] = (float)u->f(a[i], &p);
    } else if (cls == CLS_FLOAT) {
        for (int64_t i = 0; i < count; i++)
            mof_tensor_set_f64(y, i, u->f(mof_tensor_get_f64(x, i), &p));
    } else if (cls == CLS_UNSIGNED) {
        for (int64_t i = 0; i < count; i++)
            mof_tensor_set_i64(y, i, (int64_t)u->u((uint64_t)mof_tensor_get_i64(x, i), &p));
    } else {
        for (int64_t i = 0; i < count; i++)
            mof_tensor_set_i64(y, i, u->s(mof_tensor_get_i64(x, i), &p));
    }
    out[0] = y;
    return MOF_OK;
}

/* ------------------------------------------------------------------ Clip, PRelu */

static mof_status k_clip(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in, size_t n_out,
                         mof_tensor **out)
{
    mof_status st = mof_kernel_need_input(kc, n_in, in, 0);
    if (st != MOF_OK)
        return st;
    const mof_tensor *x = in[0];
    unsigned cls = dtype_class(x->dtype);
    if (!(cls & CLS_NUM))
        return mof_kernel_unsupported_type(kc, x->dtype);
    mof_tensor *y = mof_kernel_new_tensor(kc, x->dtype, x->rank, x->dims);
    if (!y)
        return MOF_ERR_NOMEM;
    if (cls == CLS_FLOAT) {
        double lo = -INFINITY, hi = INFINITY;
        if (kc->opset < 11) {
            lo = mof_node_attr_float(kc->node, "min", -FLT_MAX);
            hi = mof_node_attr_float(kc->node, "max", FLT_MAX);
        } else {
            if (n_in > 1 && in[1] && (st = scalar_f64(kc, in[1], "min", &lo)) != MOF_OK)
                goto fail;
            if (n_in > 2 && in[2] && (st = scalar_f64(kc, in[2], "max", &hi)) != MOF_OK)
                goto fail;
        }
        for (int64_t i = 0; i < x->numel; i++) {
            double v = mof_tensor_get_f64(x, i);
            v = v < lo ? lo : v;
            v = v > hi ? hi : v;
            mof_tensor_set_f64(y, i, v);
        }
    } else {
        /* Integer bounds (opset 12+) are compared in the type's own signedness. */
        bool uns = cls == CLS_UNSIGNED;
        int64_t lo = uns ? 0 : INT64_MIN, hi = uns ? -1 : INT64_MAX;
        for (size_t k = 1; k < 3 && k < n_in; k++) {
            if (!in[k])
                continue;
            if (in[k]->numel != 1 || in[k]->dtype != x->dtype) {
                st = mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                      "%s must be a %s scalar", k == 1 ? "min" : "max",
                                      mof_dtype_name(x->dtype));
                goto fail;
            }
            *(k == 1 ? &lo : &hi) = mof_tensor_get_i64(in[k], 0);
        }
        for (int64_t i = 0; i < x->numel; i++) {
            int64_t v = mof_tensor_get_i64(x, i);
            if (uns) {
                v = (uint64_t)v < (uint64_t)lo ? lo : v;
                v = (uint64_t)v > (uint64_t)hi ? hi : v;
            } else {
                v = v < lo ? lo : v;
                v = v > hi ? hi : v;
            }
            mof_tensor_set_i64(y, i, v);
        }
    }
    out[0] = y;
    return MOF_OK;
fail:
    mof_tensor_unref(y);
    return st;
}

/* PRelu: the slope broadcasts to X (unidirectionally). Before opset 7 a slope that
 * fits X's dims from axis 1 on is per channel (Caffe2's rule, which PyTorch's exports
 * of that time rely on: a slope of [C] for [N, C, ...]). */
static mof_status k_prelu(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in, size_t n_out,
                          mof_tensor **out)
{
    mof_status st;
    if ((st = mof_kernel_need_inputs(kc, n_in, in, 2)) != MOF_OK)
        return st;
    const mof_tensor *x = in[0], *slope = in[1];
    unsigned cls = dtype_class(x->dtype);
    if (!(cls & (CLS_FLOAT | CLS_SIGNED)) || slope->dtype != x->dtype)
        return mof_kernel_unsupported_type(kc, cls ? slope->dtype : x->dtype);
    mof_tensor view;
    int64_t *vdims = NULL;
    if (kc->opset < 7 && slope->numel != 1 && slope->rank < x->rank && fits_at(x, slope, 1)) {
        if ((st = view_at(kc, x, slope, 1, &view, &vdims)) != MOF_OK)
            return st;
        slope = &view;
    }
    bcast b;
    const mof_tensor *ts[2] = {x, slope};
    mof_tensor *y = NULL;
    if ((st = bcast_init(kc, &b, 2, ts)) != MOF_OK)
        goto done;
    if (b.rank != x->rank || (x->rank && memcmp(b.dims, x->dims, x->rank * sizeof(int64_t)))) {
        st = mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                              "the slope does not broadcast to the shape of X");
        goto done;
    }
    if (!(y = mof_kernel_new_tensor(kc, x->dtype, x->rank, x->dims))) {
        st = MOF_ERR_NOMEM;
        goto done;
    }
    for (int64_t i = 0; i < b.numel; i++, bcast_next(&b)) {
        if (cls == CLS_FLOAT) {
            double v = mof_tensor_get_f64(x, b.off[0]);
            mof_tensor_set_f64(y, i, v < 0 ? v * mof_tensor_get_f64(slope, b.off[1]) : v);
        } else {
            int64_t v = mof_tensor_get_i64(x, b.off[0]);
            int64_t s = mof_tensor_get_i64(slope, b.off[1]);
            mof_tensor_set_i64(y, i, v < 0 ? (int64_t)((uint64_t)v * (uint64_t)s) : v);
        }
    }
done:
    bcast_free(&b);
    mof_kernel_set_output(st, y, &out[0]);
    free(vdims);
    return st;
}

/* ------------------------------------------------------------------ binary and variadic */

enum { E_OK = 0, E_DIV_ZERO = 1 };

typedef struct binop {
    const char *op;
    unsigned classes;          /* input classes accepted */
    bool to_bool;              /* comparison: the output is bool */
    double (*f)(double a, double b);
    int64_t (*s)(int64_t a, int64_t b, int *err);    /* signed and bool */
    uint64_t (*u)(uint64_t a, uint64_t b, int *err);
} binop;

static double f_add(double a, double b) { return a + b; }
static double f_sub(double a, double b) { return a - b; }
static double f_mul(double a, double b) { return a * b; }
static double f_div(double a, double b) { return a / b; }
static double f_max(double a, double b) { return isnan(a) || isnan(b) ? NAN : a > b ? a : b; }
static double f_min(double a, double b) { return isnan(a) || isnan(b) ? NAN : a < b ? a : b; }
static double f_fmod(double a, double b) { return fmod(a, b); }
/* numpy's mod: the result takes the divisor's sign. */
static double f_pymod(double a, double b)
{
    double r = fmod(a, b);
    if (r != 0 && (r < 0) != (b < 0))
        r += b;
    return r;
}
static double f_eq(double a, double b) { return a == b; }
static double f_lt(double a, double b) { return a < b; }
static double f_le(double a, double b) { return a <= b; }
static double f_gt(double a, double b) { return a > b; }
static double f_ge(double a, double b) { return a >= b; }

static int64_t s_add(int64_t a, int64_t b, int *e) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static int64_t s_sub(int64_t a, int64_t b, int *e) { return (int64_t)((uint64_t)a - (uint64_t)b); }
static int64_t s_mul(int64_t a, int64_t b, int *e) { return (int64_t)((uint64_t)a * (uint64_t)b); }
static int64_t s_div(int64_t a, int64_t b, int *e)
{
    if (b == 0) {
        *e = E_DIV_ZERO;
        return 0;
    }
    return b == -1 ? s_mul(a, -1, e) : a / b; /* C division truncates toward zero */
}
static int64_t s_fmod(int64_t a, int64_t b, int *e)
{
    if (b == 0) {
        *e = E_DIV_ZERO;
        return 0;
    }
    return b == -1 ? 0 : a % b;
}
static int64_t s_pymod(int64_t a, int64_t b, int *e)
{
    int64_t r = s_fmod(a, b, e);
    if (r != 0 && (r < 0) != (b < 0))
        r += b;
    return r;
}
static int64_t s_max(int64_t a, int64_t b, int *e) { return a > b ? a : b; }
static int64_t s_min(int64_t a, int64_t b, int *e) { return a < b ? a : b; }
static int64_t s_eq(int64_t a, int64_t b, int *e) { return a == b; }
static int64_t s_lt(int64_t a, int64_t b, int *e) { return a < b; }
static int64_t s_le(int64_t a, int64_t b, int *e) { return a <= b; }
static int64_t s_gt(int64_t a, int64_t b, int *e) { return a > b; }
static int64_t s_ge(int64_t a, int64_t b, int *e) { return a >= b; }
static int64_t s_and(int64_t a, int64_t b, int *e) { return a && b; }
static int64_t s_or(int64_t a, int64_t b, int *e) { return a || b; }
static int64_t s_xor(int64_t a, int64_t b, int *e) { return !a != !b; }

static uint64_t u_add(uint64_t a, uint64_t b, int *e) { return a + b; }
static uint64_t u_sub(uint64_t a, uint64_t b, int *e) { return a - b; }
static uint64_t u_mul(uint64_t a, uint64_t b, int *e) { return a * b; }
static uint64_t u_div(uint64_t a, uint64_t b, int *e)
{
    if (b == 0) {
        *e = E_DIV_ZERO;
        return 0;
    }
    return a / b;
}
static uint64_t u_mod(uint64_t a, uint64_t b, int *e)
{
    if (b == 0) {
        *e = E_DIV_ZERO;
        return 0;
    }
    return a % b;
}
static uint64_t u_max(uint64_t a, uint64_t b, int *e) { return a > b ? a : b; }
static uint64_t u_min(uint64_t a, uint64_t b, int *e) { return a < b ? a : b; }
static uint64_t u_eq(uint64_t a, uint64_t b, int *e) { return a == b; }
static uint64_t u_lt(uint64_t a, uint64_t b, int *e) { return a < b; }
static uint64_t u_le(uint64_t a, uint64_t b, int *e) { return a <= b; }
static uint64_t u_gt(uint64_t a, uint64_t b, int *e) { return a > b; }
static uint64_t u_ge(uint64_t a, uint64_t b, int *e) { return a >= b; }
static uint64_t u_shl(uint64_t a, uint64_t b, int *e) { return b >= 64 ? 0 : a << b; }
static uint64_t u_shr(uint64_t a, uint64_t b, int *e) { return b >= 64 ? 0 : a >> b; }

static const binop binops[] = {
    {"Add", CLS_NUM, false, f_add, s_add, u_add},
    {"Sub", CLS_NUM, false, f_sub, s_sub, u_sub},
    {"Mul", CLS_NUM, false, f_mul, s_mul, u_mul},
    {"Div", CLS_NUM, false, f_div, s_div, u_div},
    {"Max", CLS_NUM, false, f_max, s_max, u_max},
    {"Min", CLS_NUM, false, f_min, s_min, u_min},
    {"Sum", CLS_NUM, false, f_add, s_add, u_add},
    {"Mean", CLS_FLOAT, false, f_add, NULL, NULL},
    {"Equal", CLS_NUM | CLS_BOOL, true, f_eq, s_eq, u_eq},
    {"Less", CLS_NUM, true, f_lt, s_lt, u_lt},
    {"LessOrEqual", CLS_NUM, true, f_le, s_le, u_le},
    {"Greater", CLS_NUM, true, f_gt, s_gt, u_gt},
    {"GreaterOrEqual", CLS_NUM, true, f_ge, s_ge, u_ge},
    {"And", CLS_BOOL, true, NULL, s_and, NULL},
    {"Or", CLS_BOOL, true, NULL, s_or, NULL},
    {"Xor", CLS_BOOL, true, NULL, s_xor, NULL},
};
static const binop binop_fmod = {"Mod", CLS_NUM, false, f_fmod, s_fmod, u_mod};
static const binop binop_pymod = {"Mod", CLS_NUM, false, f_pymod, s_pymod, u_mod};
static const binop binop_shl = {"BitShift", CLS_UNSIGNED, false, NULL, NULL, u_shl};
static const binop binop_shr = {"BitShift", CLS_UNSIGNED, false, NULL, NULL, u_shr};

/* The binary op of the node, chosen by op type and, for Mod and BitShift, attribute. */
static mof_status find_binop(mof_kernel_ctx *kc, const binop **out)
{
    const char *op = mof_node_op_type(kc->node);
    if (!strcmp(op, "Mod")) {
        *out = mof_node_attr_int(kc->node, "fmod", 0) ? &binop_fmod : &binop_pymod;
        return MOF_OK;
    }
    if (!strcmp(op, "BitShift")) {
        const char *dir = mof_node_attr_string(kc->node, "direction", "", NULL);
        if (!strcmp(dir, "LEFT") || !strcmp(dir, "RIGHT")) {
            *out = !strcmp(dir, "LEFT") ? &binop_shl : &binop_shr;
            return MOF_OK;
        }
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "direction must be 'LEFT' or 'RIGHT', not '%s'", dir);
    }
    for (size_t i = 0; i < sizeof(binops) / sizeof(binops[0]); i++) {
        if (!strcmp(binops[i].op, op)) {
            *out = &binops[i];
            return MOF_OK;
        }
    }
    return mof_kernel_error(kc, MOF_ERR_INTERNAL, "internal error: no binary kernel");
}

static bool is_variadic(const char *op)
{
    return !strcmp(op, "Sum") || !strcmp(op, "Mean") || !strcmp(op, "Max") ||
           !strcmp(op, "Min");
}

/* Applies op to n broadcast inputs, folding left to right. */
static mof_status apply_binop(mof_kernel_ctx *kc, const binop *op, size_t n,
                              const mof_tensor *const *ts, bool mean, mof_tensor **out)
{
    mof_dtype dt = ts[0]->dtype;
    for (size_t k = 1; k < n; k++) {
        if (ts[k]->dtype != dt)
            return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                    "input %zu is %s, input 0 is %s", k,
                                    mof_dtype_name(ts[k]->dtype), mof_dtype_name(dt));
    }
    unsigned cls = dtype_class(dt);
    if (!(cls & op->classes) || (cls == CLS_FLOAT && !op->f) ||
        ((cls == CLS_SIGNED || cls == CLS_BOOL) && !op->s) || (cls == CLS_UNSIGNED && !op->u))
        return mof_kernel_unsupported_type(kc, dt);
    bcast b;
    mof_status st = bcast_init(kc, &b, n, ts);
    if (st != MOF_OK)
        return st;
    mof_tensor *y = mof_kernel_new_tensor(kc, op->to_bool ? MOF_DTYPE_BOOL : dt, b.rank, b.dims);
    if (!y) {
        bcast_free(&b);
        return MOF_ERR_NOMEM;
    }
    int err = E_OK;
    if (dt == MOF_DTYPE_FLOAT && !op->to_bool && n == 2 && !mean) {
        /* The common case, without the per-element type dispatch. */
        const float *a = ts[0]->data, *c = ts[1]->data;
        float *r = y->data;
        for (int64_t i = 0; i < b.numel; i++, bcast_next(&b))
            r[i] = (float)op->f(a[b.off[0]], c[b.off[1]]);
    } else if (cls == CLS_FLOAT) {
        for (int64_t i = 0; i < b.numel; i++, bcast_next(&b)) {
            double acc = mof_tensor_get_f64(ts[0], b.off[0]);
            for (size_t k = 1; k < n; k++)
                acc = op->f(acc, mof_tensor_get_f64(ts[k], b.off[k]));
            mof_tensor_set_f64(y, i, mean ? acc / (double)n : acc);
        }
    } else if (cls == CLS_UNSIGNED) {
        for (int64_t i = 0; i < b.numel && !err; i++, bcast_next(&b)) {
            uint64_t acc = (uint64_t)mof_tensor_get_i64(ts[0], b.off[0]);
            for (size_t k = 1; k < n; k++)
                acc = op->u(acc, (uint64_t)mof_tensor_get_i64(ts[k], b.off[k]), &err);
            mof_tensor_set_i64(y, i, (int64_t)acc);
        }
    } else {
        for (int64_t i = 0; i < b.numel && !err; i++, bcast_next(&b)) {
            int64_t acc = mof_tensor_get_i64(ts[0], b.off[0]);
            for (size_t k = 1; k < n; k++)
                acc = op->s(acc, mof_tensor_get_i64(ts[k], b.off[k]), &err);
            mof_tensor_set_i64(y, i, acc);
        }
    }
    bcast_free(&b);
    if (err) {
        mof_tensor_unref(y);
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "integer division by zero");
    }
    *out = y;
    return MOF_OK;
}

static mof_status k_binary(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in, size_t n_out,
                           mof_tensor **out)
{
    const binop *op;
    mof_status st = find_binop(kc, &op);
    if (st != MOF_OK)
        return st;
    const char *name = mof_node_op_type(kc->node);
    if (is_variadic(name)) {
        if (n_in == 0)
            return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "at least one input is needed");
        if ((st = mof_kernel_need_inputs(kc, n_in, in, n_in)) != MOF_OK)
            return st;
        return apply_binop(kc, op, n_in, (const mof_tensor *const *)in,
                           !strcmp(name, "Mean"), out);
    }
    if ((st = mof_kernel_need_inputs(kc, n_in, in, 2)) != MOF_OK)
        return st;
    if (n_in != 2)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "expected 2 inputs, got %zu", n_in);
    if (kc->opset >= 7) {
        const mof_tensor *ts[2] = {in[0], in[1]};
        return apply_binop(kc, op, 2, ts, false, out);
    }
    mof_tensor view;
    int64_t *vdims;
    if ((st = legacy_broadcast(kc, in[0], in[1], &view, &vdims)) != MOF_OK)
        return st;
    const mof_tensor *ts[2] = {in[0], &view};
    st = apply_binop(kc, op, 2, ts, false, out);
    free(vdims);
    return st;
}

/* Pow: the exponent may be of another type than the base; the result has the base's. */
static uint64_t ipow(uint64_t base, uint64_t e)
{
    uint64_t r = 1;
    while (e) {
        if (e & 1)
            r *= base;
        base *= base;
        e >>= 1;
    }
    return r;
}

static mof_status k_pow(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in, size_t n_out,
                        mof_tensor **out)
{
    mof_status st;
    if ((st = mof_kernel_need_inputs(kc, n_in, in, 2)) != MOF_OK)
        return st;
    const mof_tensor *x = in[0];
    mof_tensor view;
    int64_t *vdims = NULL;
    const mof_tensor *e = in[1];
    if (kc->opset < 7) {
        if ((st = legacy_broadcast(kc, x, e, &view, &vdims)) != MOF_OK)
            return st;
        e = &view;
    }
    unsigned xc = dtype_class(x->dtype), ec = dtype_class(e->dtype);
    if (!(xc & (CLS_FLOAT | CLS_SIGNED | CLS_UNSIGNED)) || !(ec & CLS_NUM)) {
        free(vdims);
        return mof_kernel_unsupported_type(kc, (xc & CLS_NUM) ? e->dtype : x->dtype);
    }
    bcast b;
    const mof_tensor *ts[2] = {x, e};
    if ((st = bcast_init(kc, &b, 2, ts)) != MOF_OK) {
        free(vdims);
        return st;
    }
    mof_tensor *y = mof_kernel_new_tensor(kc, x->dtype, b.rank, b.dims);
    if (!y) {
        bcast_free(&b);
        free(vdims);
        return MOF_ERR_NOMEM;
    }
    for (int64_t i = 0; i < b.numel; i++, bcast_next(&b)) {
        if (xc == CLS_FLOAT) {
            mof_tensor_set_f64(y, i, pow(mof_tensor_get_f64(x, b.off[0]),
                                         mof_tensor_get_f64(e, b.off[1])));
        } else if (ec != CLS_FLOAT && (ec == CLS_UNSIGNED || mof_tensor_get_i64(e, b.off[1]) >= 0)) {
            /* Integer power: exact, wrapping like integer multiplication. */
            uint64_t base = (uint64_t)mof_tensor_get_i64(x, b.off[0]);
            mof_tensor_set_i64(y, i,
                               (int64_t)ipow(base, (uint64_t)mof_tensor_get_i64(e, b.off[1])));
        } else {
            /* A float or negative exponent: the real power, truncated to the type. */
            double base = xc == CLS_UNSIGNED ? (double)(uint64_t)mof_tensor_get_i64(x, b.off[0])
                                             : (double)mof_tensor_get_i64(x, b.off[0]);
            double p = trunc(pow(base, mof_tensor_get_f64(e, b.off[1])));
            mof_tensor_set_f64(y, i, p);
        }
    }
    bcast_free(&b);
    free(vdims);
    out[0] = y;
    return MOF_OK;
}

/* ------------------------------------------------------------------ Where */

static mof_status k_where(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in, size_t n_out,
                          mof_tensor **out)
{
    mof_status st;
    if ((st = mof_kernel_need_inputs(kc, n_in, in, 3)) != MOF_OK)
        return st;
    const mof_tensor *c = in[0], *x = in[1], *yv = in[2];
    if (c->dtype != MOF_DTYPE_BOOL)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "the condition is %s, not bool",
                                mof_dtype_name(c->dtype));
    if (x->dtype != yv->dtype)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "X is %s and Y is %s",
                                mof_dtype_name(x->dtype), mof_dtype_name(yv->dtype));
    bcast b;
    const mof_tensor *ts[3] = {c, x, yv};
    if ((st = bcast_init(kc, &b, 3, ts)) != MOF_OK)
        return st;
    mof_tensor *r = mof_kernel_new_tensor(kc, x->dtype, b.rank, b.dims);
    if (!r) {
        bcast_free(&b);
        return MOF_ERR_NOMEM;
    }
    const uint8_t *cond = c->data;
    if (x->dtype == MOF_DTYPE_STRING) {
        const mof_string *xs = x->data, *ys = yv->data;
        mof_string *rs = r->data;
        for (int64_t i = 0; i < b.numel; i++, bcast_next(&b)) {
            const mof_string *s = cond[b.off[0]] ? &xs[b.off[1]] : &ys[b.off[2]];
            rs[i].data = mof_malloc(s->size ? s->size : 1);
            if (!rs[i].data) {
                mof_tensor_unref(r);
                bcast_free(&b);
                return mof_kernel_error(kc, MOF_ERR_NOMEM, "out of memory");
            }
            if (s->size)
                memcpy(rs[i].data, s->data, s->size);
            rs[i].size = s->size;
        }
    } else {
        size_t es = mof_dtype_size(x->dtype);
        const char *xd = x->data, *yd = yv->data;
        char *rd = r->data;
        for (int64_t i = 0; i < b.numel; i++, bcast_next(&b)) {
            const char *src = cond[b.off[0]] ? xd + (size_t)b.off[1] * es
                                             : yd + (size_t)b.off[2] * es;
            memcpy(rd + (size_t)i * es, src, es);
        }
    }
    bcast_free(&b);
    out[0] = r;
    return MOF_OK;
}

/* ------------------------------------------------------------------ Cast */

/* The type names of Cast-1's string `to` attribute. */
static mof_dtype dtype_from_name(const char *s)
{
    static const struct { const char *name; mof_dtype t; } names[] = {
        {"FLOAT", MOF_DTYPE_FLOAT}, {"UINT8", MOF_DTYPE_UINT8}, {"INT8", MOF_DTYPE_INT8},
        {"UINT16", MOF_DTYPE_UINT16}, {"INT16", MOF_DTYPE_INT16},
        {"INT32", MOF_DTYPE_INT32}, {"INT64", MOF_DTYPE_INT64}, {"BOOL", MOF_DTYPE_BOOL},
        {"FLOAT16", MOF_DTYPE_FLOAT16}, {"DOUBLE", MOF_DTYPE_DOUBLE},
        {"UINT32", MOF_DTYPE_UINT32}, {"UINT64", MOF_DTYPE_UINT64},
        {"STRING", MOF_DTYPE_STRING}, {"BFLOAT16", MOF_DTYPE_BFLOAT16},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strcmp(names[i].name, s))
            return names[i].t;
    return MOF_DTYPE_UNDEFINED;
}

/* The target type of a Cast node: a type mof knows, UNDEFINED when the attribute is
 * missing or malformed; *raw receives the number given (for a type mof does not have,
 * such as the float8 types). */
static mof_dtype cast_target(const mof_node *n, int64_t *raw)
{
    mof_attr_type at = mof_node_attr_type(n, "to");
    *raw = 0;
    if (at == MOF_ATTR_STRING)
        return dtype_from_name(mof_node_attr_string(n, "to", "", NULL));
    if (at == MOF_ATTR_INT) {
        *raw = mof_node_attr_int(n, "to", 0);
        return *raw > 0 && *raw <= MOF_DTYPE_BFLOAT16 && *raw != MOF_DTYPE_COMPLEX64 &&
                       *raw != MOF_DTYPE_COMPLEX128
                   ? (mof_dtype)*raw
                   : MOF_DTYPE_UNDEFINED;
    }
    return MOF_DTYPE_UNDEFINED;
}

/* Formats a float the way numpy prints it: the shortest digits that read back the
 * same value. */
static int format_float(char *buf, size_t size, double v, bool single)
{
    if (isnan(v))
        return snprintf(buf, size, "NaN");
    if (isinf(v))
        return snprintf(buf, size, v < 0 ? "-INF" : "INF");
    int len = 0;
    for (int prec = 1; prec <= 17; prec++) {
        len = snprintf(buf, size, "%.*g", prec, v);
        double back = strtod(buf, NULL);
        if (single ? (float)back == (float)v : back == v)
            break;
    }
    return len;
}

static mof_status cast_to_string(mof_kernel_ctx *kc, const mof_tensor *x, mof_tensor *y)
{
    unsigned cls = dtype_class(x->dtype);
    if (!(cls & CLS_NUM))
        return mof_kernel_unsupported_type(kc, x->dtype);
    mof_string *s = y->data;
    for (int64_t i = 0; i < x->numel; i++) {
        char buf[64];
        int len;
        if (cls == CLS_FLOAT)
            len = format_float(buf, sizeof(buf), mof_tensor_get_f64(x, i),
                               x->dtype != MOF_DTYPE_DOUBLE);
        else if (cls == CLS_UNSIGNED)
            len = snprintf(buf, sizeof(buf), "%" PRIu64, (uint64_t)mof_tensor_get_i64(x, i));
        else
            len = snprintf(buf, sizeof(buf), "%" PRId64, mof_tensor_get_i64(x, i));
        s[i].data = mof_strndup(buf, (size_t)len);
        if (!s[i].data)
            return mof_kernel_error(kc, MOF_ERR_NOMEM, "out of memory");
        s[i].size = (size_t)len;
    }
    return MOF_OK;
}

static mof_status cast_from_string(mof_kernel_ctx *kc, const mof_tensor *x, mof_tensor *y)
{
    unsigned cls = dtype_class(y->dtype);
    if (!(cls & CLS_NUM))
        return mof_kernel_unsupported_type(kc, y->dtype);
    const mof_string *s = x->data;
    for (int64_t i = 0; i < x->numel; i++) {
        char *str = mof_strndup(s[i].data ? s[i].data : "", s[i].size);
        if (!str)
            return mof_kernel_error(kc, MOF_ERR_NOMEM, "out of memory");
        char *end;
        errno = 0;
        if (cls == CLS_FLOAT) {
            double v = strtod(str, &end);
            if (end != str)
                mof_tensor_set_f64(y, i, v);
        } else if (cls == CLS_UNSIGNED) {
            uint64_t v = strtoull(str, &end, 10);
            if (end != str)
                mof_tensor_set_i64(y, i, (int64_t)v);
        } else {
            int64_t v = strtoll(str, &end, 10);
            if (end != str)
                mof_tensor_set_i64(y, i, v);
        }
        bool bad = end == str || *end;
        free(str);
        if (bad)
            return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                    "element %" PRId64 " (\"%.*s\") is not a number", i,
                                    (int)(s[i].size > 32 ? 32 : s[i].size),
                                    s[i].data ? s[i].data : "");
    }
    return MOF_OK;
}

static mof_status cast_tensor(mof_kernel_ctx *kc, const mof_tensor *x, mof_dtype to,
                              mof_tensor **out)
{
    if (to == x->dtype) {
        *out = mof_tensor_ref((mof_tensor *)x);
        return MOF_OK;
    }
    unsigned from = dtype_class(x->dtype), tc = dtype_class(to);
    if ((!from && x->dtype != MOF_DTYPE_STRING) || (!tc && to != MOF_DTYPE_STRING))
        return mof_kernel_unsupported_type(kc, from ? to : x->dtype);
    mof_tensor *y = mof_kernel_new_tensor(kc, to, x->rank, x->dims);
    if (!y)
        return MOF_ERR_NOMEM;
    mof_status st = MOF_OK;
    if (to == MOF_DTYPE_STRING) {
        st = cast_to_string(kc, x, y);
    } else if (x->dtype == MOF_DTYPE_STRING) {
        st = cast_from_string(kc, x, y);
    } else if (tc == CLS_FLOAT) {
        for (int64_t i = 0; i < x->numel; i++) {
            double v;
            if (from == CLS_UNSIGNED)
                v = (double)(uint64_t)mof_tensor_get_i64(x, i);
            else if (from == CLS_FLOAT)
                v = mof_tensor_get_f64(x, i);
            else
                v = (double)mof_tensor_get_i64(x, i);
            mof_tensor_set_f64(y, i, v);
        }
    } else if (tc == CLS_BOOL) {
        for (int64_t i = 0; i < x->numel; i++)
            mof_tensor_set_i64(y, i, from == CLS_FLOAT ? mof_tensor_get_f64(x, i) != 0.0
                                                       : mof_tensor_get_i64(x, i) != 0);
    } else if (from == CLS_FLOAT) {
        /* To an integer: truncation toward zero (out-of-range values saturate to
         * int64 first, then keep their low bits, as numpy does on x86). */
        for (int64_t i = 0; i < x->numel; i++)
            mof_tensor_set_f64(y, i, mof_tensor_get_f64(x, i));
    } else {
        for (int64_t i = 0; i < x->numel; i++)
            mof_tensor_set_i64(y, i, mof_tensor_get_i64(x, i));
    }
    if (st != MOF_OK) {
        mof_tensor_unref(y);
        return st;
    }
    *out = y;
    return MOF_OK;
}

static mof_status k_cast(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in, size_t n_out,
                         mof_tensor **out)
{
    mof_status st = mof_kernel_need_input(kc, n_in, in, 0);
    if (st != MOF_OK)
        return st;
    int64_t raw;
    mof_dtype to = cast_target(kc->node, &raw);
    if (to == MOF_DTYPE_UNDEFINED && raw > 0)
        return mof_kernel_error(kc, MOF_ERR_UNSUPPORTED, "casts to element type %" PRId64
                                " are not implemented by the interpreter", raw);
    if (to == MOF_DTYPE_UNDEFINED)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "attribute 'to' is missing or "
                                "names no type");
    return cast_tensor(kc, in[0], to, &out[0]);
}

static mof_status k_castlike(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                             size_t n_out, mof_tensor **out)
{
    mof_status st;
    if ((st = mof_kernel_need_inputs(kc, n_in, in, 2)) != MOF_OK)
        return st;
    return cast_tensor(kc, in[0], in[1]->dtype, &out[0]);
}

/* ------------------------------------------------------------------ Identity, Dropout */

/* Identity passes any value on: tensors, sequences and optionals alike. */
static mof_status k_identity(mof_kernel_ctx *kc, size_t n_in, mof_ivalue *const *in,
                             size_t n_out, mof_ivalue **out)
{
    if (n_in < 1 || !in[0])
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "input 0 is missing");
    if (n_out >= 1)
        out[0] = mof_ivalue_ref(in[0]);
    return MOF_OK;
}

/* Training-mode dropout. ONNX leaves the random numbers to the implementation; mof
 * draws them as the ONNX reference does (onnx/backend/test/case/node/dropout.py:
 * np.random.seed(seed); mask = np.random.uniform(0, 1, x.shape) >= ratio), with
 * numpy's legacy MT19937 stream (random.c), so that its outputs match the reference
 * bit for bit: y = mask * x * (1 / (1 - ratio)), computed in x's type for float and
 * double. The seed is the `seed` attribute (its low 32 bits, as numpy takes seeds in
 * [0, 2^32)); without one, the interpreter's count of seedless draws so far
 * (mof_interp_next_seed: 0 for the first, then 1, 2, ...), so that a run is
 * reproducible. */
static mof_status dropout_train(mof_kernel_ctx *kc, const mof_tensor *x, double ratio,
                                size_t n_out, mof_tensor **out)
{
    if (!(ratio > 0.0 && ratio < 1.0))
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "ratio must be in [0, 1) in training mode, it is %g", ratio);
    if (!mof_dtype_is_float(x->dtype))
        return mof_kernel_unsupported_type(kc, x->dtype);
    uint64_t seed = mof_node_has_attr(kc->node, "seed")
                        ? (uint64_t)mof_node_attr_int(kc->node, "seed", 0)
                        : mof_interp_next_seed(kc);
    bool want_mask = n_out > 1 && mof_node_output(kc->node, 1);
    mof_tensor *y = mof_kernel_new_tensor(kc, x->dtype, x->rank, x->dims);
    mof_dtype mt = kc->opset >= 10 ? MOF_DTYPE_BOOL : x->dtype;
    mof_tensor *m = want_mask ? mof_kernel_new_tensor(kc, mt, x->rank, x->dims) : NULL;
    if (!y || (want_mask && !m)) {
        mof_tensor_unref(y);
        mof_tensor_unref(m);
        return MOF_ERR_NOMEM;
    }
    mof_mt19937 rng;
    mof_mt_seed(&rng, (uint32_t)seed);
    float fscale = 1.0f / (1.0f - (float)ratio);
    double dscale = 1.0 / (1.0 - ratio);
    for (int64_t i = 0; i < x->numel; i++) {
        bool keep = mof_mt_next_double(&rng) >= ratio;
        if (m)
            mof_tensor_set_i64(m, i, keep);
        if (x->dtype == MOF_DTYPE_FLOAT)
            ((float *)y->data)[i] = keep ? ((const float *)x->data)[i] * fscale : 0.0f;
        else if (x->dtype == MOF_DTYPE_DOUBLE)
            ((double *)y->data)[i] = keep ? ((const double *)x->data)[i] * dscale : 0.0;
        else
            mof_tensor_set_f64(y, i, keep ? (double)((float)mof_tensor_get_f64(x, i) * fscale)
                                          : 0.0);
    }
    out[0] = y;
    if (m)
        out[1] = m;
    return MOF_OK;
}

static mof_status k_dropout(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                            size_t n_out, mof_tensor **out)
{
    mof_status st = mof_kernel_need_input(kc, n_in, in, 0);
    if (st != MOF_OK)
        return st;
    const mof_tensor *x = in[0];
    bool training = false;
    double ratio;
    if (kc->opset >= 12) {
        ratio = 0.5;
        if (n_in > 1 && in[1] && (st = scalar_f64(kc, in[1], "ratio", &ratio)) != MOF_OK)
            return st;
        if (n_in > 2 && in[2]) {
            double t;
            if ((st = scalar_f64(kc, in[2], "training_mode", &t)) != MOF_OK)
                return st;
            training = t != 0.0;
        }
    } else {
        ratio = mof_node_attr_float(kc->node, "ratio", 0.5f);
        if (kc->opset < 7)
            training = mof_node_attr_int(kc->node, "is_test", 0) == 0;
    }
    if (training && ratio != 0.0)
        return dropout_train(kc, x, ratio, n_out, out);
    if (n_out > 1 && mof_node_output(kc->node, 1)) {
        mof_dtype mt = kc->opset >= 10 ? MOF_DTYPE_BOOL : x->dtype;
        mof_tensor *m = mof_kernel_new_tensor(kc, mt, x->rank, x->dims);
        if (!m)
            return MOF_ERR_NOMEM;
        for (int64_t i = 0; i < m->numel; i++)
            mof_tensor_set_i64(m, i, 1);
        out[1] = m;
    }
    out[0] = mof_tensor_ref(in[0]);
    return MOF_OK;
}

/* ------------------------------------------------------------------ Softmax family */

typedef enum { SM_SOFTMAX, SM_LOGSOFTMAX, SM_HARDMAX } sm_kind;

/* The rows the op normalizes: outer x len x inner, len along the axis. Before opset
 * 13 the input is seen as 2-D [prod(dims[:axis]), prod(dims[axis:])]. */
static mof_status softmax_layout(mof_kernel_ctx *kc, const mof_tensor *x, int64_t *outer,
                                 int64_t *len, int64_t *inner)
{
    int64_t r = (int64_t)x->rank;
    bool old = kc->opset < 13;
    int64_t axis = mof_node_attr_int(kc->node, "axis", old ? 1 : -1);
    if (axis < 0)
        axis += r;
    if (axis < 0 || axis > r || (!old && axis == r))
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "axis %" PRId64 " is out of range for rank %" PRId64,
                                mof_node_attr_int(kc->node, "axis", old ? 1 : -1), r);
    *outer = mof_dims_numel((size_t)axis, x->dims);
    if (old) {
        *len = mof_dims_numel((size_t)(r - axis), x->dims + axis);
        *inner = 1;
    } else {
        *len = x->dims[axis];
        *inner = mof_dims_numel((size_t)(r - axis - 1), x->dims + axis + 1);
    }
    return MOF_OK;
}

static mof_status k_softmax(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                            size_t n_out, mof_tensor **out)
{
    mof_status st = mof_kernel_need_input(kc, n_in, in, 0);
    if (st != MOF_OK)
        return st;
    const char *op = mof_node_op_type(kc->node);
    sm_kind kind = !strcmp(op, "Softmax") ? SM_SOFTMAX
                   : !strcmp(op, "LogSoftmax") ? SM_LOGSOFTMAX : SM_HARDMAX;
    const mof_tensor *x = in[0];
    if (dtype_class(x->dtype) != CLS_FLOAT)
        return mof_kernel_unsupported_type(kc, x->dtype);
    int64_t outer = 0, len = 0, inner = 0;
    if ((st = softmax_layout(kc, x, &outer, &len, &inner)) != MOF_OK)
        return st;
    mof_tensor *y = mof_kernel_new_tensor(kc, x->dtype, x->rank, x->dims);
    if (!y)
        return MOF_ERR_NOMEM;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t q = 0; q < inner; q++) {
            int64_t base = o * len * inner + q;
            /* Subtracting the row's max keeps exp from overflowing; Hardmax marks the
             * first maximum. */
            double mx = len ? mof_tensor_get_f64(x, base) : 0.0;
            int64_t arg = 0;
            for (int64_t j = 1; j < len; j++) {
                double v = mof_tensor_get_f64(x, base + j * inner);
                if (v > mx) {
                    mx = v;
                    arg = j;
                }
            }
            if (kind == SM_HARDMAX) {
                for (int64_t j = 0; j < len; j++)
                    mof_tensor_set_f64(y, base + j * inner, j == arg ? 1.0 : 0.0);
                continue;
            }
            double sum = 0;
            for (int64_t j = 0; j < len; j++)
                sum += exp(mof_tensor_get_f64(x, base + j * inner) - mx);
            double lsum = log(sum);
            for (int64_t j = 0; j < len; j++) {
                double v = mof_tensor_get_f64(x, base + j * inner) - mx;
                mof_tensor_set_f64(y, base + j * inner,
                                   kind == SM_SOFTMAX ? exp(v) / sum : v - lsum);
            }
        }
    }
    out[0] = y;
    return MOF_OK;
}

/* ------------------------------------------------------------------ shape functions */

static mof_status infer_unary(mof_infer_ctx *ic)
{
    const mof_shape *x = mof_infer_input(ic, 0);
    if (!x || ic->n_out < 1)
        return MOF_OK;
    const unop *u = find_unop(mof_node_op_type(ic->node));
    return mof_infer_like(ic, 0, x, u && u->to_bool ? MOF_DTYPE_BOOL : x->dtype);
}

static mof_status infer_identity(mof_infer_ctx *ic)
{
    mof_status st = mof_infer_same(ic);
    if (st == MOF_OK && ic->n_out >= 1 && ic->n_in >= 1)
        ic->out[0].value = ic->in[0].value;
    return st;
}

static bool op_is_comparison(const char *op)
{
    static const char *const cmp[] = {"Equal", "Less", "LessOrEqual", "Greater",
                                      "GreaterOrEqual", "And", "Or", "Xor"};
    for (size_t i = 0; i < sizeof(cmp) / sizeof(cmp[0]); i++)
        if (!strcmp(op, cmp[i]))
            return true;
    return false;
}

static mof_status infer_broadcast(mof_infer_ctx *ic)
{
    if (ic->n_out < 1 || ic->n_in < 1)
        return MOF_OK;
    const char *op = mof_node_op_type(ic->node);
    mof_dtype dt = ic->in[0].dtype;
    if (strcmp(op, "Pow")) {
        for (size_t i = 1; i < ic->n_in && dt == MOF_DTYPE_UNDEFINED; i++)
            dt = ic->in[i].dtype;
    }
    if (op_is_comparison(op))
        dt = MOF_DTYPE_BOOL;
    bool variadic = is_variadic(op);
    if (!variadic && ic->opset < 7) {
        /* Legacy broadcasting: the output has A's shape. */
        return ic->in[0].present ? mof_infer_like(ic, 0, &ic->in[0], dt) : MOF_OK;
    }
    const mof_shape **ss = mof_calloc(ic->n_in, sizeof(*ss));
    if (!ss)
        return MOF_ERR_NOMEM;
    for (size_t i = 0; i < ic->n_in; i++)
        ss[i] = &ic->in[i];
    mof_status st = mof_shape_broadcast(ic, ic->n_in, ss, dt, &ic->out[0]);
    free(ss);
    return st;
}

static mof_status infer_where(mof_infer_ctx *ic)
{
    if (ic->n_out < 1 || ic->n_in < 3)
        return MOF_OK;
    const mof_shape *ss[3] = {&ic->in[0], &ic->in[1], &ic->in[2]};
    mof_dtype dt = ic->in[1].dtype ? ic->in[1].dtype : ic->in[2].dtype;
    return mof_shape_broadcast(ic, 3, ss, dt, &ic->out[0]);
}

static mof_status infer_prelu(mof_infer_ctx *ic)
{
    return mof_infer_same(ic);
}

static mof_status infer_cast(mof_infer_ctx *ic)
{
    const mof_shape *x = mof_infer_input(ic, 0);
    if (!x || ic->n_out < 1)
        return MOF_OK;
    int64_t raw;
    mof_dtype to = cast_target(ic->node, &raw);
    if (to == MOF_DTYPE_UNDEFINED && raw <= 0)
        return mof_infer_error(ic, "attribute 'to' is missing or names no type");
    /* A type mof has no name for stays unknown; the shape is still the input's. */
    return mof_infer_like(ic, 0, x, to);
}

static mof_status infer_castlike(mof_infer_ctx *ic)
{
    const mof_shape *x = mof_infer_input(ic, 0);
    if (!x || ic->n_out < 1)
        return MOF_OK;
    return mof_infer_like(ic, 0, x, ic->n_in > 1 ? ic->in[1].dtype : MOF_DTYPE_UNDEFINED);
}

static mof_status infer_dropout(mof_infer_ctx *ic)
{
    mof_status st = mof_infer_same(ic);
    const mof_shape *x = mof_infer_input(ic, 0);
    if (st != MOF_OK || !x || ic->n_out < 2 || !mof_node_output(ic->node, 1))
        return st;
    return mof_infer_like(ic, 1, x, ic->opset >= 10 ? MOF_DTYPE_BOOL : x->dtype);
}

/* ------------------------------------------------------------------ the table */

#define UNARY(name, since) {"", name, since, 0, k_unary, infer_unary}
#define BINARY(name, since) {"", name, since, 0, k_binary, infer_broadcast}

const mof_op_def mof_ops_elementwise[] = {
    UNARY("Abs", 1), UNARY("Neg", 1), UNARY("Reciprocal", 1), UNARY("Floor", 1),
    UNARY("Ceil", 1), UNARY("Round", 11), UNARY("Sqrt", 1), UNARY("Exp", 1),
    UNARY("Log", 1), UNARY("Erf", 9), UNARY("Sin", 7), UNARY("Cos", 7), UNARY("Tan", 7),
    UNARY("Asin", 7), UNARY("Acos", 7), UNARY("Atan", 7), UNARY("Sinh", 9),
    UNARY("Cosh", 9), UNARY("Asinh", 9), UNARY("Acosh", 9), UNARY("Atanh", 9),
    UNARY("Tanh", 1), UNARY("Sign", 9), UNARY("Not", 1), UNARY("IsNaN", 9),
    UNARY("IsInf", 10), UNARY("Relu", 1), UNARY("LeakyRelu", 1), UNARY("Elu", 1),
    UNARY("Selu", 1), UNARY("Celu", 12), UNARY("Sigmoid", 1), UNARY("HardSigmoid", 1),
    UNARY("HardSwish", 14), UNARY("Softplus", 1), UNARY("Softsign", 1),
    UNARY("ThresholdedRelu", 10), UNARY("Mish", 18), UNARY("Gelu", 20),
    UNARY("Shrink", 9),
    {"", "Clip", 1, 0, k_clip, mof_infer_same},
    {"", "PRelu", 1, 0, k_prelu, infer_prelu},
    BINARY("Add", 1), BINARY("Sub", 1), BINARY("Mul", 1), BINARY("Div", 1),
    BINARY("Mod", 10), BINARY("Max", 1), BINARY("Min", 1), BINARY("Sum", 1),
    BINARY("Mean", 1), BINARY("Equal", 1), BINARY("Less", 1), BINARY("LessOrEqual", 12),
    BINARY("Greater", 1), BINARY("GreaterOrEqual", 12), BINARY("And", 1), BINARY("Or", 1),
    BINARY("Xor", 1), BINARY("BitShift", 11),
    {"", "Pow", 1, 0, k_pow, infer_broadcast},
    {"", "Where", 9, 0, k_where, infer_where},
    /* Cast 24 adds a rounding mode for new float types: claimed up to 23. */
    {"", "Cast", 1, 23, k_cast, infer_cast},
    {"", "CastLike", 15, 23, k_castlike, infer_castlike},
    {"", "Identity", 1, 0, NULL, infer_identity},
    {"", "Dropout", 1, 0, k_dropout, infer_dropout},
    {"", "Softmax", 1, 0, k_softmax, mof_infer_same},
    {"", "LogSoftmax", 1, 0, k_softmax, mof_infer_same},
    {"", "Hardmax", 1, 0, k_softmax, mof_infer_same},
    {0},
};

const mof_vop_def mof_vops_elementwise[] = {
    {"", "Identity", 1, 0, k_identity},
    {0},
};
