/* ops_layout.c: the channels-last operators of domain "mof" that the layout plugin's
 * to-nhwc pass writes: mof.NhwcConv, mof.NhwcMaxPool, mof.NhwcAveragePool,
 * mof.NhwcGlobalAveragePool, mof.NhwcGlobalMaxPool and mof.NhwcBatchNormalization
 * (documented in passes/layout/layout.c).
 *
 * Each has the attributes of its ONNX twin (the op type without "Nhwc") and differs
 * only in the layout of input 0 and output 0: [N, D1, ..., Dn, C] instead of
 * [N, C, D1, ..., Dn]. Correctness first: the kernel moves the channel axis of X to
 * position 1, runs the twin's ONNX kernel at the model's ONNX opset on the same node
 * (its attributes are the twin's), and moves the channel axis of Y last again; the
 * shape function does the same with shapes. The numbers are therefore exactly the
 * ONNX kernel's. */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "interp/kernel.h"

/* "NhwcConv" -> "Conv". */
#define NHWC_PREFIX "Nhwc"

/* The model's ONNX opset, which the twin runs at (-1 when unknown). */
static int64_t onnx_opset(const mof_node *n)
{
    mof_model *m = mof_graph_model(mof_node_graph(n));
    return m ? mof_model_opset(m, "") : -1;
}

/* The ONNX twin of n, or NULL. */
static const mof_op_def *twin_of(const mof_node *n, int64_t *opset)
{
    const char *op = mof_node_op_type(n);
    size_t k = strlen(NHWC_PREFIX);
    *opset = onnx_opset(n);
    if (strncmp(op, NHWC_PREFIX, k) != 0)
        return NULL;
    return mof_op_find("", op + k, *opset);
}

/* The permutation moving the channel axis (1) last, or back from last to 1. */
static void channel_perm(size_t r, bool to_last, int64_t *perm)
{
    perm[0] = 0;
    for (size_t i = 1; i < r; i++) {
        if (to_last)
            perm[i] = i + 1 < r ? (int64_t)i + 1 : 1;
        else
            perm[i] = i == 1 ? (int64_t)r - 1 : (int64_t)i - 1;
    }
}

/* Transpose(x, perm) of any fixed-size element type (owned), or NULL after reporting. */
static mof_tensor *permute(mof_kernel_ctx *kc, const mof_tensor *x, const int64_t *perm)
{
    size_t r = mof_tensor_rank(x), esize = mof_dtype_size(mof_tensor_dtype(x));
    const int64_t *xd = mof_tensor_dims(x);
    int64_t *dims = mof_calloc(r, sizeof(*dims)), *xs = mof_calloc(r, sizeof(*xs));
    int64_t *idx = mof_calloc(r, sizeof(*idx));
    mof_tensor *y = NULL;
    if (!dims || !xs || !idx) {
        mof_kernel_nomem(kc);
        goto done;
    }
    for (size_t i = 0; i < r; i++)
        dims[i] = xd[perm[i]];
    mof_strides(r, xd, xs);
    if (!(y = mof_kernel_new_tensor(kc, mof_tensor_dtype(x), r, dims)))
        goto done;
    const char *src = mof_tensor_data(x);
    char *dst = mof_tensor_data_mut(y);
    for (int64_t k = 0; k < mof_tensor_numel(y); k++) {
        int64_t off = 0;
        for (size_t i = 0; i < r; i++)
            off += idx[i] * xs[perm[i]];
        memcpy(dst + (size_t)k * esize, src + (size_t)off * esize, esize);
        for (size_t i = r; i-- > 0;) {
            if (++idx[i] < dims[i])
                break;
            idx[i] = 0;
        }
    }
done:
    free(dims);
    free(xs);
    free(idx);
    return y;
}

static mof_status nhwc_run(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                           size_t n_out, mof_tensor **out)
{
    int64_t opset;
    const mof_op_def *twin = twin_of(kc->node, &opset);
    if (!twin || !twin->run)
        return mof_kernel_error(kc, MOF_ERR_UNSUPPORTED,
                                "no ONNX %s at opset %" PRId64 " to compute it with",
                                mof_node_op_type(kc->node) + strlen(NHWC_PREFIX), opset);
    if (n_out != 1)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "has %zu outputs; expected 1",
                                n_out);
    mof_status st = mof_kernel_need_input(kc, n_in, in, 0);
    if (st != MOF_OK)
        return st;
    const mof_tensor *x = in[0];
    size_t r = mof_tensor_rank(x);
    if (r < 3)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "input X has rank %zu; expected N x spatial axes x C", r);
    if (mof_dtype_size(mof_tensor_dtype(x)) == 0)
        return mof_kernel_unsupported_type(kc, mof_tensor_dtype(x));
    int64_t *to_first = mof_calloc(r, sizeof(*to_first));
    int64_t *to_last = mof_calloc(r, sizeof(*to_last));
    mof_tensor **ins = mof_calloc(n_in, sizeof(*ins));
    mof_tensor *y = NULL;
    if (!to_first || !to_last || !ins) {
        st = mof_kernel_nomem(kc);
        goto done;
    }
    channel_perm(r, false, to_first);
    channel_perm(r, true, to_last);
    memcpy(ins, in, n_in * sizeof(*ins));
    if (!(ins[0] = permute(kc, x, to_first))) {
        st = MOF_ERR_NOMEM;
        goto done;
    }
    mof_kernel_ctx twin_kc = *kc;
    twin_kc.opset = opset;
    if ((st = twin->run(&twin_kc, n_in, ins, 1, &y)) != MOF_OK)
        goto done;
    if (!y || mof_tensor_rank(y) != r) {
        st = mof_kernel_error(kc, MOF_ERR_INTERNAL, "internal error: the %s kernel gave no "
                              "output of rank %zu", mof_node_op_type(kc->node), r);
        goto done;
    }
    if (!(out[0] = permute(kc, y, to_last)))
        st = MOF_ERR_NOMEM;
done:
    if (ins && ins[0] != in[0])
        mof_tensor_unref(ins[0]);
    mof_tensor_unref(y);
    free(ins);
    free(to_first);
    free(to_last);
    return st;
}

/* A shape with its dims (and symbols) permuted as Transpose(perm) does. */
static mof_status permute_shape(const mof_shape *s, const int64_t *perm, mof_shape *out)
{
    if (s->rank < 0)
        return mof_shape_set(out, s->dtype, -1, NULL, NULL);
    size_t r = (size_t)s->rank;
    int64_t *dims = mof_calloc(r ? r : 1, sizeof(*dims));
    char **syms = mof_calloc(r ? r : 1, sizeof(*syms));
    mof_status st = MOF_ERR_NOMEM;
    if (dims && syms) {
        for (size_t i = 0; i < r; i++) {
            dims[i] = s->dims[perm[i]];
            syms[i] = s->syms ? s->syms[perm[i]] : NULL;
        }
        st = mof_shape_set(out, s->dtype, s->rank, dims, syms);
    }
    free(dims);
    free(syms);
    return st;
}

static mof_status nhwc_infer(mof_infer_ctx *ic)
{
    int64_t opset;
    const mof_op_def *twin = twin_of(ic->node, &opset);
    const mof_shape *x = mof_infer_input(ic, 0);
    if (!twin || !twin->infer || !x || ic->n_out < 1)
        return MOF_OK;
    if (x->rank < 0)
        return mof_infer_set_rank(ic, 0, x->dtype, -1);
    if (x->rank < 3)
        return mof_infer_error(ic, "input X has rank %d; expected N x spatial axes x C",
                               x->rank);
    size_t r = (size_t)x->rank;
    int64_t *to_first = mof_calloc(r, sizeof(*to_first));
    int64_t *to_last = mof_calloc(r, sizeof(*to_last));
    mof_shape *ins = mof_calloc(ic->n_in, sizeof(*ins));
    mof_shape *outs = mof_calloc(ic->n_out, sizeof(*outs));
    mof_shape x_first = {0};
    mof_status st = MOF_ERR_NOMEM;
    if (!to_first || !to_last || !ins || !outs)
        goto done;
    channel_perm(r, false, to_first);
    channel_perm(r, true, to_last);
    if ((st = permute_shape(x, to_first, &x_first)) != MOF_OK)
        goto done;
    x_first.value = NULL;
    /* The other inputs are the twin's own: shallow copies of the borrowed shapes. */
    memcpy(ins, ic->in, ic->n_in * sizeof(*ins));
    ins[0] = x_first;
    mof_infer_ctx twin_ic = *ic;
    twin_ic.opset = opset;
    twin_ic.in = ins;
    twin_ic.out = outs;
    if ((st = twin->infer(&twin_ic)) != MOF_OK)
        goto done;
    if (outs[0].dtype != MOF_DTYPE_UNDEFINED || outs[0].rank >= 0) {
        if (outs[0].rank >= 0 && (size_t)outs[0].rank != r) {
            st = mof_infer_error(ic, "the %s shape function gave rank %d; expected %zu",
                                 mof_node_op_type(ic->node), outs[0].rank, r);
            goto done;
        }
        st = permute_shape(&outs[0], to_last, &ic->out[0]);
    }
done:
    mof_shape_clear(&x_first);
    if (outs)
        for (size_t i = 0; i < ic->n_out; i++)
            mof_shape_clear(&outs[i]);
    free(outs);
    free(ins);
    free(to_first);
    free(to_last);
    return st;
}

/* ------------------------------------------------------------------ the table */

const mof_op_def mof_ops_layout[] = {
    {"mof", "NhwcConv", 1, 0, nhwc_run, nhwc_infer},
    {"mof", "NhwcMaxPool", 1, 0, nhwc_run, nhwc_infer},
    {"mof", "NhwcAveragePool", 1, 0, nhwc_run, nhwc_infer},
    {"mof", "NhwcGlobalAveragePool", 1, 0, nhwc_run, nhwc_infer},
    {"mof", "NhwcGlobalMaxPool", 1, 0, nhwc_run, nhwc_infer},
    {"mof", "NhwcBatchNormalization", 1, 0, nhwc_run, nhwc_infer},
    {0},
};
