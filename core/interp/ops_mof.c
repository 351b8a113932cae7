/* ops_mof.c: the interpreter's kernels and shape functions for the operators of the
 * "mof" domain, which the fusion passes write (see mof/fused.h for their definitions):
 * FusedConv, FusedGemm, FusedMatMul, Gelu, LayerNormalization and Attention.
 *
 * Each fused operator is defined as the ONNX computation it replaces, so its kernel is
 * that computation: the ONNX kernel of the product (Conv at opset 11, Gemm and MatMul
 * at 13, Gelu at 20, LayerNormalization at 17) is found with mof_op_find and run with a
 * copy of the kernel context that names that opset, on the fused node itself (those
 * kernels read only the attributes the fused node shares with the ONNX op); the
 * activation is then applied in place to the product's fresh output. Shape functions
 * delegate the same way.
 *
 * Attention runs its two products through the MatMul kernel and computes the scaling,
 * the mask and the softmax itself, in double: the Add and Softmax kernels choose what
 * to compute from the node's op type, which is "Attention" here. */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <mof/fused.h>

#include "interp/kernel.h"

/* ------------------------------------------------------------------ delegation */

/* Runs the ONNX kernel of op_type at opset on the running node with the given inputs;
 * *y receives its first output. */
static mof_status run_onnx(mof_kernel_ctx *kc, const char *op_type, int64_t opset,
                           size_t n_in, mof_tensor *const *in, mof_tensor **y)
{
    *y = NULL;
    const mof_op_def *d = mof_op_find("", op_type, opset);
    if (!d || !d->run)
        return mof_kernel_error(kc, MOF_ERR_INTERNAL,
                                "internal error: no %s kernel at opset %" PRId64, op_type,
                                opset);
    mof_kernel_ctx sub = *kc;
    sub.opset = opset;
    mof_tensor *out[1] = {NULL};
    mof_status st = d->run(&sub, n_in, in, 1, out);
    if (st < 0) {
        mof_tensor_unref(out[0]);
        return st;
    }
    if (!out[0])
        return mof_kernel_error(kc, MOF_ERR_INTERNAL,
                                "internal error: the %s kernel computed no output", op_type);
    *y = out[0];
    return MOF_OK;
}

/* Runs the ONNX shape function of op_type at opset for the running node. */
static mof_status infer_onnx(mof_infer_ctx *ic, const char *op_type, int64_t opset)
{
    const mof_op_def *d = mof_op_find("", op_type, opset);
    if (!d || !d->infer)
        return MOF_OK;
    mof_infer_ctx sub = *ic;
    sub.opset = opset;
    return d->infer(&sub);
}

/* ------------------------------------------------------------------ activations */

typedef struct activation {
    mof_activation kind;
    float params[2];
} activation;

/* Reads and checks the node's `activation` and `activation_params`. err receives the
 * problem (static text) when it returns false. */
static bool activation_parse(const mof_node *n, activation *act, const char **err)
{
    const char *name = mof_node_attr_string(n, "activation", "", NULL);
    act->kind = mof_activation_from_name(name);
    int want = mof_activation_n_params(act->kind, act->params);
    if (want < 0) {
        *err = "unknown activation";
        return false;
    }
    size_t count = 0;
    const float *given = mof_node_attr_floats(n, "activation_params", &count);
    if (count > (size_t)want) {
        *err = "too many activation_params for the activation";
        return false;
    }
    for (size_t i = 0; i < count; i++)
        act->params[i] = given[i];
    return true;
}

static double sigmoid(double x)
{
    /* Written so that exp never overflows, as the Sigmoid kernel does. */
    if (x >= 0)
        return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

/* One element, computed as the ONNX operator's kernel computes it. */
static double activation_eval(const activation *a, double x)
{
    const float *p = a->params;
    switch (a->kind) {
    case MOF_ACTIVATION_RELU:
        return x < 0 ? 0.0 : x;
    case MOF_ACTIVATION_LEAKY_RELU:
        return x < 0 ? p[0] * x : x;
    case MOF_ACTIVATION_CLIP: {
        double v = x < p[0] ? p[0] : x;
        return v > p[1] ? p[1] : v;
    }
    case MOF_ACTIVATION_SIGMOID:
        return sigmoid(x);
    case MOF_ACTIVATION_HARD_SIGMOID:
        return fmax(0.0, fmin(1.0, p[0] * x + p[1]));
    case MOF_ACTIVATION_HARD_SWISH:
        return x * fmax(0.0, fmin(1.0, x / 6.0 + 0.5));
    case MOF_ACTIVATION_SILU:
        return x * sigmoid(x);
    default:
        return x;
    }
}

/* Applies the activation to every element of y, which the caller owns alone. */
static mof_status activation_apply(mof_kernel_ctx *kc, const activation *a, mof_tensor *y)
{
    if (a->kind == MOF_ACTIVATION_NONE)
        return MOF_OK;
    mof_dtype t = mof_tensor_dtype(y);
    if (!mof_dtype_is_float(t))
        return mof_kernel_unsupported_type(kc, t);
    void *data = mof_tensor_data_mut(y);
    if (!data)
        return mof_kernel_error(kc, MOF_ERR_INTERNAL,
                                "internal error: the product's output is shared");
    int64_t count = mof_tensor_numel(y);
    if (t == MOF_DTYPE_FLOAT) {
        float *v = data;
        for (int64_t i = 0; i < count; i++)
            v[i] = (float)activation_eval(a, v[i]);
    } else {
        for (int64_t i = 0; i < count; i++)
            mof_tensor_set_f64(y, i, activation_eval(a, mof_tensor_get_f64(y, i)));
    }
    return MOF_OK;
}

/* The kernel of FusedConv, FusedGemm and FusedMatMul: the product, then the
 * activation. */
static mof_status fused_run(mof_kernel_ctx *kc, const char *op_type, int64_t opset,
                            size_t n_required, size_t n_in, mof_tensor *const *in,
                            mof_tensor **out)
{
    activation act;
    const char *err = NULL;
    if (!activation_parse(kc->node, &act, &err))
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "%s '%s'", err,
                                mof_node_attr_string(kc->node, "activation", "", NULL));
    mof_status st = mof_kernel_need_inputs(kc, n_in, in, n_required);
    if (st != MOF_OK)
        return st;
    mof_tensor *y = NULL;
    if ((st = run_onnx(kc, op_type, opset, n_in, in, &y)) != MOF_OK)
        return st;
    st = activation_apply(kc, &act, y);
    mof_kernel_set_output(st, y, &out[0]);
    return st;
}

static mof_status fused_infer(mof_infer_ctx *ic, const char *op_type, int64_t opset)
{
    activation act;
    const char *err = NULL;
    if (!activation_parse(ic->node, &act, &err))
        return mof_infer_error(ic, "%s '%s'", err,
                               mof_node_attr_string(ic->node, "activation", "", NULL));
    return infer_onnx(ic, op_type, opset);
}

static mof_status fused_conv_run(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                                 size_t n_out, mof_tensor **out)
{
    return fused_run(kc, "Conv", 11, 2, n_in, in, out);
}

static mof_status fused_conv_infer(mof_infer_ctx *ic)
{
    return fused_infer(ic, "Conv", 11);
}

static mof_status fused_gemm_run(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                                 size_t n_out, mof_tensor **out)
{
    return fused_run(kc, "Gemm", 13, 2, n_in, in, out);
}

static mof_status fused_gemm_infer(mof_infer_ctx *ic)
{
    return fused_infer(ic, "Gemm", 13);
}

static mof_status fused_matmul_run(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                                   size_t n_out, mof_tensor **out)
{
    return fused_run(kc, "MatMul", 13, 2, n_in, in, out);
}

static mof_status fused_matmul_infer(mof_infer_ctx *ic)
{
    return fused_infer(ic, "MatMul", 13);
}

/* ------------------------------------------------------------------ Gelu, LayerNormalization */

static mof_status gelu_run(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in, size_t n_out,
                           mof_tensor **out)
{
    mof_status st = mof_kernel_need_input(kc, n_in, in, 0);
    if (st != MOF_OK)
        return st;
    return run_onnx(kc, "Gelu", 20, 1, in, &out[0]);
}

static mof_status gelu_infer(mof_infer_ctx *ic)
{
    return infer_onnx(ic, "Gelu", 20);
}

/* LayerNormalization has up to three outputs: run the ONNX row with all of them. */
static mof_status layernorm_run(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                                size_t n_out, mof_tensor **out)
{
    mof_status st = mof_kernel_need_inputs(kc, n_in, in, 2);
    if (st != MOF_OK)
        return st;
    const mof_op_def *d = mof_op_find("", "LayerNormalization", 17);
    if (!d || !d->run)
        return mof_kernel_error(kc, MOF_ERR_INTERNAL,
                                "internal error: no LayerNormalization kernel");
    mof_kernel_ctx sub = *kc;
    sub.opset = 17;
    return d->run(&sub, n_in, in, n_out, out);
}

static mof_status layernorm_infer(mof_infer_ctx *ic)
{
    return infer_onnx(ic, "LayerNormalization", 17);
}

/* ------------------------------------------------------------------ Attention */

/* Strides of a tensor of rank r read as if broadcast to rank rout (0 along the dims
 * it broadcasts over). */
static void broadcast_strides(size_t r, const int64_t *dims, size_t rout, int64_t *out)
{
    int64_t s = 1;
    for (size_t i = rout; i-- > 0;) {
        size_t k = i + r >= rout ? i + r - rout : SIZE_MAX;
        if (k == SIZE_MAX || dims[k] == 1) {
            out[i] = 0;
            if (k != SIZE_MAX)
                s *= dims[k];
            continue;
        }
        out[i] = s;
        s *= dims[k];
    }
}

/* P = softmax(S * scale + mask) over the last axis, computed in double, with S and
 * mask broadcast against each other (mask may be NULL). */
static mof_status attention_softmax(mof_kernel_ctx *kc, const mof_tensor *s,
                                    const mof_tensor *mask, float scale, mof_tensor **p)
{
    *p = NULL;
    size_t rs = mof_tensor_rank(s), rm = mask ? mof_tensor_rank(mask) : 0;
    size_t rmax = rs > rm ? rs : rm;
    mof_status st = MOF_ERR_NOMEM;
    int64_t *dims = calloc(rmax ? rmax : 1, sizeof(int64_t));
    int64_t *ss = calloc(rmax ? rmax : 1, sizeof(int64_t));
    int64_t *ms = calloc(rmax ? rmax : 1, sizeof(int64_t));
    int64_t *idx = calloc(rmax ? rmax : 1, sizeof(int64_t));
    double *row = NULL;
    if (!dims || !ss || !ms || !idx) {
        st = mof_kernel_nomem(kc);
        goto done;
    }
    size_t r = rs;
    if (mask) {
        if (!mof_broadcast_dims(rs, mof_tensor_dims(s), rm, mof_tensor_dims(mask), &r, dims)) {
            st = mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                  "the mask (rank %zu) does not broadcast to the scores "
                                  "(rank %zu)", rm, rs);
            goto done;
        }
        broadcast_strides(rm, mof_tensor_dims(mask), r, ms);
    } else {
        memcpy(dims, mof_tensor_dims(s), rs * sizeof(int64_t));
    }
    broadcast_strides(rs, mof_tensor_dims(s), r, ss);
    if (r < 1) {
        st = mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "the scores are a scalar");
        goto done;
    }
    mof_tensor *y = mof_kernel_new_tensor(kc, mof_tensor_dtype(s), r, dims);
    if (!y) {
        st = MOF_ERR_NOMEM;
        goto done;
    }
    int64_t len = dims[r - 1], rows = len ? mof_tensor_numel(y) / len : 0;
    if (!(row = malloc((size_t)(len ? len : 1) * sizeof(double)))) {
        mof_tensor_unref(y);
        st = mof_kernel_nomem(kc);
        goto done;
    }
    int64_t out_i = 0;
    for (int64_t q = 0; q < rows; q++) {
        /* idx walks the leading dims (the last one stays 0). */
        int64_t so = 0, mo = 0;
        for (size_t i = 0; i + 1 < r; i++) {
            so += idx[i] * ss[i];
            mo += idx[i] * ms[i];
        }
        double mx = -INFINITY;
        for (int64_t j = 0; j < len; j++) {
            double v = mof_tensor_get_f64(s, so + j * ss[r - 1]) * scale;
            if (mask)
                v += mof_tensor_get_f64(mask, mo + j * ms[r - 1]);
            row[j] = v;
            mx = v > mx ? v : mx;
        }
        /* Subtracting the row's max keeps exp from overflowing; a row that is all -inf
         * gives NaN, as Softmax does. */
        double sum = 0.0;
        for (int64_t j = 0; j < len; j++) {
            row[j] = exp(row[j] - mx);
            sum += row[j];
        }
        for (int64_t j = 0; j < len; j++)
            mof_tensor_set_f64(y, out_i++, row[j] / sum);
        for (size_t i = r - 1; i-- > 0;) {
            if (++idx[i] < dims[i])
                break;
            idx[i] = 0;
        }
    }
    *p = y;
    st = MOF_OK;
done:
    free(dims);
    free(ss);
    free(ms);
    free(idx);
    free(row);
    return st;
}

static mof_status attention_run(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                                size_t n_out, mof_tensor **out)
{
    mof_status st = mof_kernel_need_inputs(kc, n_in, in, 3);
    if (st != MOF_OK)
        return st;
    const mof_tensor *mask = mof_kernel_input(n_in, in, 3);
    if (!mof_dtype_is_float(mof_tensor_dtype(in[0])))
        return mof_kernel_unsupported_type(kc, mof_tensor_dtype(in[0]));
    if (mask && mof_tensor_dtype(mask) != mof_tensor_dtype(in[0]))
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "the mask is %s, Q is %s",
                                mof_dtype_name(mof_tensor_dtype(mask)),
                                mof_dtype_name(mof_tensor_dtype(in[0])));
    float scale = mof_node_attr_float(kc->node, "scale", 1.0f);
    mof_tensor *s = NULL, *p = NULL;
    mof_tensor *qk[2] = {in[0], in[1]};
    if ((st = run_onnx(kc, "MatMul", 13, 2, qk, &s)) != MOF_OK)
        return st;
    st = attention_softmax(kc, s, mask, scale, &p);
    mof_tensor_unref(s);
    if (st != MOF_OK)
        return st;
    mof_tensor *pv[2] = {p, in[2]};
    st = run_onnx(kc, "MatMul", 13, 2, pv, &out[0]);
    mof_tensor_unref(p);
    return st;
}

/* Y: MatMul(Q, K_T) broadcast with the mask, then MatMul with V. */
static mof_status attention_infer(mof_infer_ctx *ic)
{
    const mof_shape *q = mof_infer_input(ic, 0), *kt = mof_infer_input(ic, 1);
    const mof_shape *v = mof_infer_input(ic, 2), *mask = mof_infer_input(ic, 3);
    if (!q || !kt || !v || ic->n_out < 1)
        return MOF_OK;
    const mof_op_def *mm = mof_op_find("", "MatMul", 13);
    if (!mm || !mm->infer)
        return MOF_OK;
    mof_shape scores = {0}, masked = {0};
    mof_shape ins[2] = {*q, *kt};
    ins[0].value = ins[1].value = NULL;
    mof_infer_ctx sub = *ic;
    sub.opset = 13;
    sub.n_in = 2;
    sub.in = ins;
    sub.n_out = 1;
    sub.out = &scores;
    mof_status st = mm->infer(&sub);
    if (st != MOF_OK || !scores.present)
        goto done;
    const mof_shape *s = &scores;
    if (mask) {
        mof_shape m = *mask;
        m.value = NULL;
        const mof_shape *ops[2] = {&scores, &m};
        if ((st = mof_shape_broadcast(ic, 2, ops, scores.dtype, &masked)) != MOF_OK)
            goto done;
        s = &masked;
    }
    ins[0] = *s;
    ins[1] = *v;
    ins[1].value = NULL;
    sub.out = ic->out;
    st = mm->infer(&sub);
done:
    mof_shape_clear(&scores);
    mof_shape_clear(&masked);
    return st;
}

/* ------------------------------------------------------------------ the table */

const mof_op_def mof_ops_mof[] = {
    {MOF_FUSED_DOMAIN, MOF_OP_FUSED_CONV, 1, 0, fused_conv_run, fused_conv_infer},
    {MOF_FUSED_DOMAIN, MOF_OP_FUSED_GEMM, 1, 0, fused_gemm_run, fused_gemm_infer},
    {MOF_FUSED_DOMAIN, MOF_OP_FUSED_MATMUL, 1, 0, fused_matmul_run, fused_matmul_infer},
    {MOF_FUSED_DOMAIN, MOF_OP_GELU, 1, 0, gelu_run, gelu_infer},
    {MOF_FUSED_DOMAIN, MOF_OP_LAYER_NORMALIZATION, 1, 0, layernorm_run, layernorm_infer},
    {MOF_FUSED_DOMAIN, MOF_OP_ATTENTION, 1, 0, attention_run, attention_infer},
    {0},
};
