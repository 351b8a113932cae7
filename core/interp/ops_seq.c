/* ops_seq.c: sequence and optional operators of the reference interpreter:
 * SequenceEmpty, SequenceConstruct, SequenceAt, SequenceInsert, SequenceErase,
 * SequenceLength, ConcatFromSequence, SplitToSequence, SequenceMap, Optional,
 * OptionalHasElement and OptionalGetElement.
 *
 * They are value kernels (mof_vkernel_fn): inputs and outputs are mof_ivalue, tensors
 * wrapped. Sequences hold tensors of one element type and are never changed in place:
 * an op that "changes" one makes a new sequence sharing the tensors. Positions follow
 * ONNX: an int32/int64 scalar, negative counting from the end. Shape inference knows
 * the outputs that are tensors of a known type (SequenceLength, OptionalHasElement)
 * and leaves the others unknown. */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "interp/kernel.h"

/* ------------------------------------------------------------------ helpers */

/* Input i as a `kind` value (NULL when omitted and `optional`); else reported. */
static mof_status value_in(mof_kernel_ctx *kc, size_t n_in, mof_ivalue *const *in, size_t i,
                           mof_ivalue_kind kind, bool optional, const mof_ivalue **out)
{
    *out = i < n_in ? in[i] : NULL;
    if (!*out) {
        if (optional)
            return MOF_OK;
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "input %zu is missing", i);
    }
    if ((*out)->kind != kind)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "input %zu must be a %s, not a %s",
                                i, mof_ivalue_kind_name(kind), mof_ivalue_kind_name((*out)->kind));
    return MOF_OK;
}

static mof_status seq_in(mof_kernel_ctx *kc, size_t n_in, mof_ivalue *const *in, size_t i,
                         const mof_ivalue **s)
{
    return value_in(kc, n_in, in, i, MOF_IVALUE_SEQUENCE, false, s);
}

/* Input i as a tensor (NULL when omitted and `optional`). */
static mof_status tensor_in(mof_kernel_ctx *kc, size_t n_in, mof_ivalue *const *in, size_t i,
                            bool optional, const mof_tensor **t)
{
    const mof_ivalue *v;
    mof_status st = value_in(kc, n_in, in, i, MOF_IVALUE_TENSOR, optional, &v);
    *t = v ? v->tensor : NULL;
    return st;
}

/* A position (int32/int64 scalar) into a sequence of n items, normalized into
 * [0, n) (or [0, n] when `end_ok`: an insertion point). */
static mof_status position_of(mof_kernel_ctx *kc, const mof_tensor *p, size_t n, bool end_ok,
                              size_t *out)
{
    if (p->numel != 1 || (p->dtype != MOF_DTYPE_INT64 && p->dtype != MOF_DTYPE_INT32))
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "the position must be an int32 or int64 scalar");
    int64_t pos = mof_tensor_get_i64(p, 0), len = (int64_t)n;
    int64_t hi = end_ok ? len : len - 1;
    if (pos < -len || pos > hi)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "position %" PRId64 " is out of range for a sequence of %zu "
                                "tensors",
                                pos, n);
    *out = (size_t)(pos < 0 ? pos + len : pos);
    return MOF_OK;
}

/* *out becomes a new sequence of n items (references taken). */
static mof_status make_seq(mof_kernel_ctx *kc, mof_dtype dtype, size_t n,
                           mof_tensor *const *items, mof_ivalue **out)
{
    for (size_t i = 0; i < n; i++) {
        if (items[i]->dtype != dtype)
            return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                    "a sequence holds tensors of one type: %s and %s are mixed",
                                    mof_dtype_name(dtype), mof_dtype_name(items[i]->dtype));
    }
    *out = mof_ivalue_sequence(dtype, n, items);
    return *out ? MOF_OK : mof_kernel_nomem(kc);
}

static mof_status tensor_out(mof_kernel_ctx *kc, mof_tensor *t, mof_ivalue **out)
{
    if (!t)
        return MOF_ERR_NOMEM; /* reported by mof_kernel_new_tensor */
    *out = mof_ivalue_tensor(t);
    mof_tensor_unref(t);
    return *out ? MOF_OK : mof_kernel_nomem(kc);
}

/* ------------------------------------------------------------------ sequence ops */

static mof_status k_sequence_empty(mof_kernel_ctx *kc, size_t n_in, mof_ivalue *const *in,
                                   size_t n_out, mof_ivalue **out)
{
    (void)n_in;
    (void)in;
    (void)n_out;
    int64_t dt = mof_node_attr_int(kc->node, "dtype", MOF_DTYPE_FLOAT);
    if (dt <= 0 || !mof_dtype_size((mof_dtype)dt))
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "dtype %" PRId64 " is not a tensor "
                                "element type", dt);
    return make_seq(kc, (mof_dtype)dt, 0, NULL, &out[0]);
}

static mof_status k_sequence_construct(mof_kernel_ctx *kc, size_t n_in, mof_ivalue *const *in,
                                       size_t n_out, mof_ivalue **out)
{
    (void)n_out;
    if (n_in < 1)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "SequenceConstruct needs inputs");
    mof_tensor **items = mof_calloc(n_in, sizeof(*items));
    if (!items)
        return mof_kernel_nomem(kc);
    mof_status st = MOF_OK;
    for (size_t i = 0; i < n_in && st == MOF_OK; i++) {
        const mof_tensor *t;
        st = tensor_in(kc, n_in, in, i, false, &t);
        items[i] = (mof_tensor *)t;
    }
    if (st == MOF_OK)
        st = make_seq(kc, items[0]->dtype, n_in, items, &out[0]);
    free(items);
    return st;
}

static mof_status k_sequence_at(mof_kernel_ctx *kc, size_t n_in, mof_ivalue *const *in,
                                size_t n_out, mof_ivalue **out)
{
    (void)n_out;
    const mof_ivalue *s;
    const mof_tensor *p;
    size_t i;
    mof_status st;
    if ((st = seq_in(kc, n_in, in, 0, &s)) != MOF_OK ||
        (st = tensor_in(kc, n_in, in, 1, false, &p)) != MOF_OK ||
        (st = position_of(kc, p, s->n_items, false, &i)) != MOF_OK)
        return st;
    out[0] = mof_ivalue_tensor(s->items[i]);
    return out[0] ? MOF_OK : mof_kernel_nomem(kc);
}

static mof_status k_sequence_insert(mof_kernel_ctx *kc, size_t n_in, mof_ivalue *const *in,
                                    size_t n_out, mof_ivalue **out)
{
    (void)n_out;
    const mof_ivalue *s;
    const mof_tensor *t, *p;
    mof_status st;
    if ((st = seq_in(kc, n_in, in, 0, &s)) != MOF_OK ||
        (st = tensor_in(kc, n_in, in, 1, false, &t)) != MOF_OK ||
        (st = tensor_in(kc, n_in, in, 2, true, &p)) != MOF_OK)
        return st;
    size_t at = s->n_items;
    if (p && (st = position_of(kc, p, s->n_items, true, &at)) != MOF_OK)
        return st;
    mof_dtype dt = s->elem_type != MOF_DTYPE_UNDEFINED ? s->elem_type : t->dtype;
    if (t->dtype != dt)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "cannot insert a %s tensor into a sequence of %s tensors",
                                mof_dtype_name(t->dtype), mof_dtype_name(dt));
    mof_tensor **items = mof_calloc(s->n_items + 1, sizeof(*items));
    if (!items)
        return mof_kernel_nomem(kc);
    for (size_t i = 0, k = 0; i <= s->n_items; i++)
        items[i] = i == at ? (mof_tensor *)t : s->items[k++];
    st = make_seq(kc, dt, s->n_items + 1, items, &out[0]);
    free(items);
    return st;
}

static mof_status k_sequence_erase(mof_kernel_ctx *kc, size_t n_in, mof_ivalue *const *in,
                                   size_t n_out, mof_ivalue **out)
{
    (void)n_out;
    const mof_ivalue *s;
    const mof_tensor *p;
    mof_status st;
    if ((st = seq_in(kc, n_in, in, 0, &s)) != MOF_OK ||
        (st = tensor_in(kc, n_in, in, 1, true, &p)) != MOF_OK)
        return st;
    if (!s->n_items)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "cannot erase from an empty sequence");
    size_t at = s->n_items - 1;
    if (p && (st = position_of(kc, p, s->n_items, false, &at)) != MOF_OK)
        return st;
    mof_tensor **items = mof_calloc(s->n_items, sizeof(*items));
    if (!items)
        return mof_kernel_nomem(kc);
    for (size_t i = 0, k = 0; i < s->n_items; i++)
        if (i != at)
            items[k++] = s->items[i];
    st = make_seq(kc, s->elem_type, s->n_items - 1, items, &out[0]);
    free(items);
    return st;
}

static mof_status k_sequence_length(mof_kernel_ctx *kc, size_t n_in, mof_ivalue *const *in,
                                    size_t n_out, mof_ivalue **out)
{
    (void)n_out;
    const mof_ivalue *s;
    mof_status st = seq_in(kc, n_in, in, 0, &s);
    if (st != MOF_OK)
        return st;
    int64_t n = (int64_t)s->n_items;
    mof_tensor *t = mof_tensor_create_from(MOF_DTYPE_INT64, 0, NULL, &n);
    if (!t)
        return mof_kernel_nomem(kc);
    return tensor_out(kc, t, &out[0]);
}

/* Concatenates the items along axis (np.concatenate), or stacks them along a new axis
 * (np.stack) with new_axis = 1. */
static mof_status k_concat_from_sequence(mof_kernel_ctx *kc, size_t n_in,
                                         mof_ivalue *const *in, size_t n_out, mof_ivalue **out)
{
    (void)n_out;
    const mof_ivalue *s;
    mof_status st = seq_in(kc, n_in, in, 0, &s);
    if (st != MOF_OK)
        return st;
    if (!mof_node_has_attr(kc->node, "axis"))
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "attribute 'axis' is missing");
    if (!s->n_items)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "cannot concatenate an empty sequence");
    bool new_axis = mof_node_attr_int(kc->node, "new_axis", 0) != 0;
    const mof_tensor *t0 = s->items[0];
    int64_t r = (int64_t)t0->rank, axis;
    /* With a new axis, each item is seen with a dim 1 inserted at axis. */
    int64_t rr = new_axis ? r + 1 : r;
    if ((st = mof_kernel_norm_axis(kc, mof_node_attr_int(kc->node, "axis", 0), rr, &axis)) !=
        MOF_OK)
        return st;
    int64_t *dims = mof_calloc((size_t)rr + 1, sizeof(*dims));
    if (!dims)
        return mof_kernel_nomem(kc);
    for (int64_t i = 0, j = 0; i < rr; i++)
        dims[i] = new_axis && i == axis ? 1 : t0->dims[j++];
    int64_t total = 0;
    for (size_t k = 0; k < s->n_items; k++) {
        const mof_tensor *t = s->items[k];
        bool ok = (int64_t)t->rank == r;
        for (int64_t i = 0, j = 0; ok && i < rr; i++) {
            int64_t d = new_axis && i == axis ? 1 : t->dims[j++];
            ok = i == axis ? true : d == dims[i];
            if (i == axis)
                total += d;
        }
        if (!ok) {
            free(dims);
            return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                    "sequence item %zu's shape does not match item 0's but "
                                    "along axis %" PRId64, k, axis);
        }
    }
    dims[axis] = total;
    mof_tensor *y = mof_kernel_new_tensor(kc, t0->dtype, (size_t)rr, dims);
    int64_t outer = mof_dims_numel((size_t)axis, dims);
    int64_t inner = mof_dims_numel((size_t)(rr - axis - 1), dims + axis + 1);
    free(dims);
    if (!y)
        return MOF_ERR_NOMEM;
    int64_t off = 0; /* position along axis */
    for (size_t k = 0; k < s->n_items; k++) {
        const mof_tensor *t = s->items[k];
        int64_t len = new_axis ? 1 : t->dims[axis];
        for (int64_t o = 0; o < outer; o++) {
            if (!mof_tensor_copy_elems(y, (o * total + off) * inner, t, o * len * inner,
                                       len * inner)) {
                mof_tensor_unref(y);
                return mof_kernel_nomem(kc);
            }
        }
        off += len;
    }
    return tensor_out(kc, y, &out[0]);
}

/* Splits the input along axis into a sequence: into pieces of length 1 without
 * `split` (squeezed when keepdims = 0), of length split (the last one shorter) for a
 * scalar split, or of the lengths a 1-D split lists. */
static mof_status k_split_to_sequence(mof_kernel_ctx *kc, size_t n_in, mof_ivalue *const *in,
                                      size_t n_out, mof_ivalue **out)
{
    (void)n_out;
    const mof_tensor *x, *split;
    mof_status st;
    if ((st = tensor_in(kc, n_in, in, 0, false, &x)) != MOF_OK ||
        (st = tensor_in(kc, n_in, in, 1, true, &split)) != MOF_OK)
        return st;
    int64_t axis;
    if (x->rank == 0)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "cannot split a scalar");
    if ((st = mof_kernel_axis(kc, 0, (int64_t)x->rank, &axis)) != MOF_OK)
        return st;
    int64_t dim = x->dims[axis];
    bool keepdims = mof_node_attr_int(kc->node, "keepdims", 1) != 0;
    int64_t *lens = NULL;
    size_t n = 0;
    if (split) {
        if (split->dtype != MOF_DTYPE_INT64 && split->dtype != MOF_DTYPE_INT32)
            return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                    "split must be an int32 or int64 tensor");
        keepdims = true;
        if (split->rank == 0) {
            int64_t chunk = mof_tensor_get_i64(split, 0);
            if (chunk <= 0)
                return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                        "split must be positive, it is %" PRId64, chunk);
            n = (size_t)((dim + chunk - 1) / chunk);
            lens = mof_calloc(n ? n : 1, sizeof(*lens));
            for (size_t i = 0; lens && i < n; i++)
                lens[i] = (int64_t)i + 1 < (int64_t)n ? chunk : dim - chunk * (int64_t)i;
        } else if (split->rank == 1) {
            n = (size_t)split->numel;
            lens = mof_calloc(n ? n : 1, sizeof(*lens));
            int64_t sum = 0;
            for (size_t i = 0; lens && i < n; i++) {
                lens[i] = mof_tensor_get_i64(split, (int64_t)i);
                if (lens[i] < 0) {
                    free(lens);
                    return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                            "split lengths must not be negative");
                }
                sum += lens[i];
            }
            if (lens && sum != dim) {
                free(lens);
                return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                        "the split lengths add up to %" PRId64 ", the axis has "
                                        "%" PRId64, sum, dim);
            }
        } else {
            return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                    "split must be a scalar or a 1-D tensor");
        }
    } else {
        n = (size_t)dim;
        lens = mof_calloc(n ? n : 1, sizeof(*lens));
        for (size_t i = 0; lens && i < n; i++)
            lens[i] = 1;
    }
    mof_tensor **items = mof_calloc(n ? n : 1, sizeof(*items));
    int64_t *dims = mof_calloc(x->rank, sizeof(*dims));
    if (!lens || !items || !dims) {
        st = mof_kernel_nomem(kc);
        goto done;
    }
    int64_t outer = mof_dims_numel((size_t)axis, x->dims);
    int64_t inner = mof_dims_numel(x->rank - (size_t)axis - 1, x->dims + axis + 1);
    int64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        /* Without split and keepdims = 0, the axis is squeezed away. */
        size_t r = 0;
        for (size_t d = 0; d < x->rank; d++) {
            if ((int64_t)d != axis)
                dims[r++] = x->dims[d];
            else if (keepdims)
                dims[r++] = lens[i];
        }
        items[i] = mof_kernel_new_tensor(kc, x->dtype, r, dims);
        if (!items[i]) {
            st = MOF_ERR_NOMEM;
            goto done;
        }
        for (int64_t o = 0; o < outer; o++) {
            if (!mof_tensor_copy_elems(items[i], o * lens[i] * inner, x,
                                       (o * dim + off) * inner, lens[i] * inner)) {
                st = mof_kernel_nomem(kc);
                goto done;
            }
        }
        off += lens[i];
    }
    st = make_seq(kc, x->dtype, n, items, &out[0]);
done:
    for (size_t i = 0; items && i < n; i++)
        mof_tensor_unref(items[i]);
    free(items);
    free(lens);
    free(dims);
    return st;
}

/* SequenceMap: runs the body once per position of the input sequences; tensor inputs
 * are given to every run. Output j collects the body's output j of each run. */
static mof_status k_sequence_map(mof_kernel_ctx *kc, size_t n_in, mof_ivalue *const *in,
                                 size_t n_out, mof_ivalue **out)
{
    const mof_graph *body = mof_node_attr_graph(kc->node, "body");
    if (!body)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "attribute 'body' is missing");
    const mof_ivalue *s0;
    mof_status st = seq_in(kc, n_in, in, 0, &s0);
    if (st != MOF_OK)
        return st;
    if (mof_graph_n_inputs(body) != n_in || mof_graph_n_outputs(body) != n_out)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "the body has %zu inputs and %zu outputs, the node %zu and %zu",
                                mof_graph_n_inputs(body), mof_graph_n_outputs(body), n_in,
                                n_out);
    size_t len = s0->n_items;
    for (size_t j = 0; j < n_in; j++) {
        if (!in[j])
            return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "input %zu is missing", j);
        if (in[j]->kind == MOF_IVALUE_OPTIONAL)
            return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                    "input %zu must be a sequence or a tensor", j);
        if (in[j]->kind == MOF_IVALUE_SEQUENCE && in[j]->n_items != len)
            return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                    "input %zu has %zu items, input 0 has %zu", j,
                                    in[j]->n_items, len);
    }
    mof_ivalue **bin = mof_calloc(n_in, sizeof(*bin));
    mof_ivalue **bout = mof_calloc(n_out ? n_out : 1, sizeof(*bout));
    mof_tensor **items = mof_calloc(n_out * (len ? len : 1) + 1, sizeof(*items));
    if (!bin || !bout || !items) {
        st = mof_kernel_nomem(kc);
        goto done;
    }
    for (size_t i = 0; i < len; i++) {
        for (size_t j = 0; j < n_in; j++) {
            mof_ivalue_unref(bin[j]);
            bin[j] = in[j]->kind == MOF_IVALUE_SEQUENCE ? mof_ivalue_tensor(in[j]->items[i])
                                                        : mof_ivalue_ref(in[j]);
            if (!bin[j]) {
                st = mof_kernel_nomem(kc);
                goto done;
            }
        }
        st = mof_interp_run_subgraph_values(kc, body, n_in, bin, n_out, bout);
        if (st != MOF_OK)
            goto done;
        for (size_t k = 0; k < n_out; k++) {
            if (bout[k]->kind != MOF_IVALUE_TENSOR) {
                st = mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                      "the body's output %zu is a %s; it must be a tensor", k,
                                      mof_ivalue_kind_name(bout[k]->kind));
                goto done;
            }
            items[k * len + i] = mof_tensor_ref(bout[k]->tensor);
            mof_ivalue_unref(bout[k]);
            bout[k] = NULL;
        }
    }
    for (size_t k = 0; k < n_out; k++) {
        /* Without items, the element type is the one the body declares. */
        mof_dtype dt = len ? items[k * len]->dtype
                           : mof_value_dtype(mof_graph_output(body, k));
        if ((st = make_seq(kc, dt, len, items + k * len, &out[k])) != MOF_OK)
            goto done;
    }
done:
    for (size_t j = 0; bin && j < n_in; j++)
        mof_ivalue_unref(bin[j]);
    for (size_t k = 0; bout && k < n_out; k++)
        mof_ivalue_unref(bout[k]);
    for (size_t i = 0; items && i < n_out * len; i++)
        mof_tensor_unref(items[i]);
    free(bin);
    free(bout);
    free(items);
    if (st != MOF_OK) {
        for (size_t k = 0; k < n_out; k++) {
            mof_ivalue_unref(out[k]);
            out[k] = NULL;
        }
    }
    return st;
}

/* ------------------------------------------------------------------ optional ops */

static mof_status k_optional(mof_kernel_ctx *kc, size_t n_in, mof_ivalue *const *in,
                             size_t n_out, mof_ivalue **out)
{
    (void)n_out;
    const mof_ivalue *x = n_in ? in[0] : NULL;
    if (x && x->kind == MOF_IVALUE_OPTIONAL)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "an optional cannot hold an optional");
    if (!x && !mof_node_has_attr(kc->node, "type"))
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "an empty Optional needs the attribute 'type'");
    out[0] = mof_ivalue_optional((mof_ivalue *)x);
    return out[0] ? MOF_OK : mof_kernel_nomem(kc);
}

/* From opset 18 the input may be omitted (false) or a tensor or sequence (true). */
static mof_status k_optional_has_element(mof_kernel_ctx *kc, size_t n_in,
                                         mof_ivalue *const *in, size_t n_out, mof_ivalue **out)
{
    (void)n_out;
    const mof_ivalue *x = n_in ? in[0] : NULL;
    if (!x && kc->opset < 18)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "input 0 is missing");
    uint8_t has = x && (x->kind != MOF_IVALUE_OPTIONAL || x->elem);
    mof_tensor *t = mof_tensor_create_from(MOF_DTYPE_BOOL, 0, NULL, &has);
    if (!t)
        return mof_kernel_nomem(kc);
    return tensor_out(kc, t, &out[0]);
}

/* From opset 18 a tensor or sequence input is passed on as it is. */
static mof_status k_optional_get_element(mof_kernel_ctx *kc, size_t n_in,
                                         mof_ivalue *const *in, size_t n_out, mof_ivalue **out)
{
    (void)n_out;
    const mof_ivalue *x = n_in ? in[0] : NULL;
    if (!x)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "input 0 is missing");
    if (x->kind != MOF_IVALUE_OPTIONAL) {
        out[0] = mof_ivalue_ref((mof_ivalue *)x);
        return MOF_OK;
    }
    if (!x->elem)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "the optional is empty: it has no element to get");
    out[0] = mof_ivalue_ref(x->elem);
    return MOF_OK;
}

/* ------------------------------------------------------------------ shape functions */

static mof_status infer_int64_scalar(mof_infer_ctx *ic)
{
    return mof_infer_set_rank(ic, 0, MOF_DTYPE_INT64, 0);
}

static mof_status infer_bool_scalar(mof_infer_ctx *ic)
{
    return mof_infer_set_rank(ic, 0, MOF_DTYPE_BOOL, 0);
}

/* Outputs that are sequences or optionals, or tensors whose type the sequence would
 * tell: left unknown (mof_shape carries tensor types only). */
static mof_status infer_unknown(mof_infer_ctx *ic)
{
    (void)ic;
    return MOF_OK;
}

/* ------------------------------------------------------------------ the table */

#define SEQ_OP(name, since, infer) {"", name, since, 0, NULL, infer}
#define SEQ_RUN(name, since, fn) {"", name, since, 0, fn}

const mof_op_def mof_ops_seq[] = {
    SEQ_OP("SequenceEmpty", 11, infer_unknown),
    SEQ_OP("SequenceConstruct", 11, infer_unknown),
    SEQ_OP("SequenceAt", 11, infer_unknown),
    SEQ_OP("SequenceInsert", 11, infer_unknown),
    SEQ_OP("SequenceErase", 11, infer_unknown),
    SEQ_OP("SequenceLength", 11, infer_int64_scalar),
    SEQ_OP("ConcatFromSequence", 11, infer_unknown),
    SEQ_OP("SplitToSequence", 11, infer_unknown),
    SEQ_OP("SequenceMap", 17, infer_unknown),
    SEQ_OP("Optional", 15, infer_unknown),
    SEQ_OP("OptionalHasElement", 15, infer_bool_scalar),
    SEQ_OP("OptionalGetElement", 15, infer_unknown),
    {0},
};

const mof_vop_def mof_vops_seq[] = {
    SEQ_RUN("SequenceEmpty", 11, k_sequence_empty),
    SEQ_RUN("SequenceConstruct", 11, k_sequence_construct),
    SEQ_RUN("SequenceAt", 11, k_sequence_at),
    SEQ_RUN("SequenceInsert", 11, k_sequence_insert),
    SEQ_RUN("SequenceErase", 11, k_sequence_erase),
    SEQ_RUN("SequenceLength", 11, k_sequence_length),
    SEQ_RUN("ConcatFromSequence", 11, k_concat_from_sequence),
    SEQ_RUN("SplitToSequence", 11, k_split_to_sequence),
    SEQ_RUN("SequenceMap", 17, k_sequence_map),
    SEQ_RUN("Optional", 15, k_optional),
    SEQ_RUN("OptionalHasElement", 15, k_optional_has_element),
    SEQ_RUN("OptionalGetElement", 15, k_optional_get_element),
    {0},
};
