/* ops_control.c: control flow of the reference interpreter: If, Loop and Scan (Scan-8,
 * with its batch axis and sequence_lens, and Scan-9 and later).
 *
 * Subgraphs run through mof_interp_run_subgraph(_values), in a frame whose parent is
 * the running frame, so that values captured from enclosing graphs are read where they
 * live. If and Loop are value kernels: their branches' outputs and loop-carried values
 * may be sequences or optionals (Loop's scan outputs are tensors). Per-iteration
 * outputs that are concatenated (Loop and Scan outputs) are kept as references and
 * stacked once the loop ends. */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "interp/kernel.h"

/* ------------------------------------------------------------------ helpers */

static void unref_all(mof_tensor **ts, size_t n)
{
    if (!ts)
        return;
    for (size_t i = 0; i < n; i++) {
        mof_tensor_unref(ts[i]);
        ts[i] = NULL;
    }
}

/* dst[i] takes over src[i] (dst's old reference dropped, src[i] cleared). */
static void move_refs(mof_tensor **dst, mof_tensor **src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        mof_tensor_unref(dst[i]);
        dst[i] = src[i];
        src[i] = NULL;
    }
}

static bool same_shape(const mof_tensor *a, const mof_tensor *b)
{
    return a->dtype == b->dtype && a->rank == b->rank &&
           (!a->rank || !memcmp(a->dims, b->dims, a->rank * sizeof(int64_t)));
}

/* Stacks n tensors of one shape S along a new axis `axis` of the result (rank(S)+1
 * dims), in reverse order when `reverse`. With n == 0 the result is `empty_dtype`
 * with shape [0] inserted into `empty_dims` (rank empty_rank, -1: unknown -> [0]). */
static mof_status stack(mof_kernel_ctx *kc, mof_tensor *const *ts, size_t n, int64_t axis,
                        bool reverse, mof_dtype empty_dtype, int empty_rank,
                        const int64_t *empty_dims, mof_tensor **out)
{
    *out = NULL;
    if (n == 0) {
        int64_t zero = 0;
        bool known = empty_rank >= 0;
        for (int i = 0; i < empty_rank; i++)
            known = known && empty_dims[i] >= 0;
        if (!known || axis < 0 || axis > empty_rank) {
            *out = mof_tensor_create(empty_dtype, 1, &zero);
        } else {
            int64_t *d = mof_calloc((size_t)empty_rank + 1, sizeof(*d));
            if (d) {
                for (int i = 0, j = 0; i <= empty_rank; i++)
                    d[i] = i == axis ? 0 : empty_dims[j++];
                *out = mof_tensor_create(empty_dtype, (size_t)empty_rank + 1, d);
                free(d);
            }
        }
        return *out ? MOF_OK : mof_kernel_nomem(kc);
    }
    const mof_tensor *t0 = ts[0];
    for (size_t i = 1; i < n; i++) {
        if (!same_shape(ts[i], t0))
            return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                    "scan output element %zu has another type or shape than "
                                    "element 0", i);
    }
    size_t r = t0->rank;
    if (axis < 0 || (size_t)axis > r)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "output axis %" PRId64 " is out of range", axis);
    int64_t *d = mof_calloc(r + 1, sizeof(*d));
    if (!d)
        return mof_kernel_nomem(kc);
    for (size_t i = 0, j = 0; i <= r; i++)
        d[i] = i == (size_t)axis ? (int64_t)n : t0->dims[j++];
    mof_tensor *y = mof_tensor_create(t0->dtype, r + 1, d);
    free(d);
    if (!y)
        return mof_kernel_nomem(kc);
    int64_t outer = mof_dims_numel((size_t)axis, t0->dims);
    int64_t inner = mof_dims_numel(r - (size_t)axis, t0->dims + axis);
    for (size_t i = 0; i < n; i++) {
        int64_t p = (int64_t)(reverse ? n - 1 - i : i);
        for (int64_t o = 0; o < outer; o++) {
            if (!mof_tensor_copy_elems(y, (o * (int64_t)n + p) * inner, ts[i], o * inner,
                                       inner)) {
                mof_tensor_unref(y);
                return mof_kernel_nomem(kc);
            }
        }
    }
    *out = y;
    return MOF_OK;
}

/* Stacks the n per-iteration values ts of output `index` of a loop body along axis (a
 * negative one counts from the end of the result); without iterations the result
 * takes the element type and shape the body declares. */
static mof_status stack_output(mof_kernel_ctx *kc, const mof_graph *body, size_t index,
                               mof_tensor *const *ts, size_t n, int64_t axis, bool reverse,
                               mof_tensor **out)
{
    const mof_value *bv = mof_graph_output(body, index);
    int rank = mof_value_rank(bv);
    if (axis < 0)
        axis += (n > 0 ? (int64_t)ts[0]->rank : rank) + 1;
    int64_t *dims = mof_calloc(rank > 0 ? (size_t)rank : 1, sizeof(*dims));
    if (!dims)
        return mof_kernel_nomem(kc);
    for (int i = 0; i < rank; i++)
        dims[i] = mof_value_dim(bv, (size_t)i);
    mof_dtype dt = mof_value_dtype(bv);
    mof_status st = stack(kc, ts, n, axis, reverse, dt ? dt : MOF_DTYPE_FLOAT, rank, dims, out);
    free(dims);
    return st;
}

/* The slice t[..., j, ...] along axis (that dim removed). */
static mof_status slice_at(mof_kernel_ctx *kc, const mof_tensor *t, size_t axis, int64_t j,
                           mof_tensor **out)
{
    size_t r = t->rank;
    int64_t *d = mof_calloc(r ? r : 1, sizeof(*d));
    if (!d)
        return mof_kernel_nomem(kc);
    for (size_t i = 0, k = 0; i < r; i++)
        if (i != axis)
            d[k++] = t->dims[i];
    mof_tensor *y = mof_tensor_create(t->dtype, r - 1, d);
    free(d);
    if (!y)
        return mof_kernel_nomem(kc);
    int64_t outer = mof_dims_numel(axis, t->dims);
    int64_t len = t->dims[axis];
    int64_t inner = mof_dims_numel(r - axis - 1, t->dims + axis + 1);
    for (int64_t o = 0; o < outer; o++) {
        if (!mof_tensor_copy_elems(y, o * inner, t, (o * len + j) * inner, inner)) {
            mof_tensor_unref(y);
            return mof_kernel_nomem(kc);
        }
    }
    *out = y;
    return MOF_OK;
}

static mof_status bool_scalar(mof_kernel_ctx *kc, const mof_tensor *t, const char *what,
                              bool *v)
{
    if (t->numel != 1 || (t->dtype != MOF_DTYPE_BOOL && !mof_dtype_size(t->dtype)))
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "%s must be a one-element bool tensor", what);
    *v = mof_tensor_get_i64(t, 0) != 0;
    return MOF_OK;
}

/* ------------------------------------------------------------------ If */

/* The tensor of value v (NULL: omitted), or NULL after reporting that `what` is not a
 * tensor. */
static mof_status tensor_of(mof_kernel_ctx *kc, const mof_ivalue *v, const char *what,
                            const mof_tensor **t)
{
    *t = NULL;
    if (!v)
        return MOF_OK;
    if (v->kind != MOF_IVALUE_TENSOR)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "%s must be a tensor, not a %s",
                                what, mof_ivalue_kind_name(v->kind));
    *t = v->tensor;
    return MOF_OK;
}

static void unref_values(mof_ivalue **vs, size_t n)
{
    if (!vs)
        return;
    for (size_t i = 0; i < n; i++) {
        mof_ivalue_unref(vs[i]);
        vs[i] = NULL;
    }
}

/* Drops the values of the outputs the node omits. */
static void drop_unused_values(mof_kernel_ctx *kc, size_t n_out, mof_ivalue **out)
{
    for (size_t i = 0; i < n_out; i++) {
        if (!mof_node_output(kc->node, i)) {
            mof_ivalue_unref(out[i]);
            out[i] = NULL;
        }
    }
}

static mof_status k_if(mof_kernel_ctx *kc, size_t n_in, mof_ivalue *const *in, size_t n_out,
                       mof_ivalue **out)
{
    const mof_tensor *c;
    mof_status st = tensor_of(kc, n_in ? in[0] : NULL, "the condition", &c);
    if (st != MOF_OK)
        return st;
    if (!c)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "the condition is missing");
    bool cond;
    st = bool_scalar(kc, c, "the condition", &cond);
    if (st != MOF_OK)
        return st;
    const char *name = cond ? "then_branch" : "else_branch";
    const mof_graph *g = mof_node_attr_graph(kc->node, name);
    if (!g)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "attribute '%s' is missing", name);
    size_t ng = mof_graph_n_outputs(g);
    if (ng != n_out)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "%s has %zu outputs, the node %zu", name, ng, n_out);
    st = mof_interp_run_subgraph_values(kc, g, 0, NULL, n_out, out);
    if (st != MOF_OK)
        return st;
    drop_unused_values(kc, n_out, out);
    return MOF_OK;
}

/* ------------------------------------------------------------------ Loop */

static mof_status k_loop(mof_kernel_ctx *kc, size_t n_in, mof_ivalue *const *vin, size_t n_out,
                         mof_ivalue **out)
{
    const mof_graph *body = mof_node_attr_graph(kc->node, "body");
    if (!body)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "attribute 'body' is missing");
    if (n_in < 2)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "Loop needs inputs M and cond (each may be empty)");
    size_t n_carried = n_in - 2;
    size_t n_bin = mof_graph_n_inputs(body), n_bout = mof_graph_n_outputs(body);
    if (n_bin != n_carried + 2 || n_bout < n_carried + 1 || n_out != n_bout - 1)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "the body has %zu inputs and %zu outputs; with %zu loop-carried "
                                "values and %zu node outputs, %zu and %zu are expected",
                                n_bin, n_bout, n_carried, n_out, n_carried + 2, n_out + 1);
    size_t n_scan = n_bout - 1 - n_carried;
    for (size_t i = 0; i < n_carried; i++) {
        if (!vin[2 + i])
            return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                    "loop-carried input %zu is missing", i);
    }
    int64_t max_trip = INT64_MAX;
    const mof_tensor *m, *cond;
    mof_status st;
    if ((st = tensor_of(kc, vin[0], "M", &m)) != MOF_OK ||
        (st = tensor_of(kc, vin[1], "cond", &cond)) != MOF_OK)
        return st;
    bool keep_going = true, has_cond = cond != NULL;
    if (m) {
        if (m->numel != 1 || (m->dtype != MOF_DTYPE_INT64 && m->dtype != MOF_DTYPE_INT32))
            return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                    "M must be a one-element int64 tensor");
        max_trip = mof_tensor_get_i64(m, 0);
    }
    if (has_cond && (st = bool_scalar(kc, cond, "cond", &keep_going)) != MOF_OK)
        return st;

    mof_ivalue **bin = mof_calloc(n_bin, sizeof(*bin));
    mof_ivalue **bout = mof_calloc(n_bout, sizeof(*bout));
    mof_tensor ***scans = mof_calloc(n_scan ? n_scan : 1, sizeof(*scans));
    size_t n_iter = 0, cap_iter = 0;
    st = MOF_ERR_NOMEM;
    if (!bin || !bout || !scans) {
        st = mof_kernel_nomem(kc);
        goto done;
    }
    for (size_t i = 0; i < n_carried; i++)
        bin[2 + i] = mof_ivalue_ref(vin[2 + i]);
    for (int64_t it = 0; it < max_trip && keep_going; it++) {
        mof_ivalue_unref(bin[0]);
        mof_ivalue_unref(bin[1]);
        uint8_t c = 1;
        mof_tensor *ti = mof_tensor_create_from(MOF_DTYPE_INT64, 0, NULL, &it);
        mof_tensor *tc = mof_tensor_create_from(MOF_DTYPE_BOOL, 0, NULL, &c);
        bin[0] = mof_ivalue_tensor(ti);
        bin[1] = mof_ivalue_tensor(tc);
        mof_tensor_unref(ti);
        mof_tensor_unref(tc);
        if (!bin[0] || !bin[1]) {
            st = mof_kernel_nomem(kc);
            goto done;
        }
        st = mof_interp_run_subgraph_values(kc, body, n_bin, bin, n_bout, bout);
        if (st != MOF_OK)
            goto done;
        /* Without a cond input, the body's condition output is ignored. */
        if (has_cond) {
            const mof_tensor *bc;
            if ((st = tensor_of(kc, bout[0], "the body's condition output", &bc)) != MOF_OK ||
                (st = bool_scalar(kc, bc, "the body's condition output", &keep_going)) !=
                    MOF_OK)
                goto done;
        }
        for (size_t k = 0; k < n_scan; k++) {
            const mof_tensor *t;
            if ((st = tensor_of(kc, bout[1 + n_carried + k], "a scan output", &t)) != MOF_OK)
                goto done;
        }
        for (size_t i = 0; i < n_carried; i++) {
            mof_ivalue_unref(bin[2 + i]);
            bin[2 + i] = bout[1 + i];
            bout[1 + i] = NULL;
        }
        if (n_scan) {
            if (n_iter == cap_iter) {
                size_t ncap = cap_iter ? 2 * cap_iter : 16;
                for (size_t k = 0; k < n_scan; k++) {
                    mof_tensor **g = mof_reallocarray(scans[k], ncap, sizeof(*g));
                    if (!g) {
                        st = mof_kernel_nomem(kc);
                        goto done;
                    }
                    scans[k] = g;
                }
                cap_iter = ncap;
            }
            /* The new slots are uninitialized: assigned, not moved into. */
            for (size_t k = 0; k < n_scan; k++)
                scans[k][n_iter] = mof_tensor_ref(bout[1 + n_carried + k]->tensor);
        }
        n_iter++;
        unref_values(bout, n_bout);
    }
    for (size_t i = 0; i < n_carried; i++) {
        out[i] = bin[2 + i];
        bin[2 + i] = NULL;
    }
    for (size_t k = 0; k < n_scan; k++) {
        mof_tensor *y = NULL;
        st = stack_output(kc, body, 1 + n_carried + k, scans[k], n_iter, 0, false, &y);
        if (st == MOF_OK && !(out[n_carried + k] = mof_ivalue_tensor(y)))
            st = mof_kernel_nomem(kc);
        mof_tensor_unref(y);
        if (st != MOF_OK)
            goto done;
    }
    st = MOF_OK;
done:
    if (st != MOF_OK)
        unref_values(out, n_out);
    unref_values(bin, n_bin);
    unref_values(bout, n_bout);
    for (size_t k = 0; scans && k < n_scan; k++) {
        unref_all(scans[k], n_iter);
        free(scans[k]);
    }
    free(scans);
    free(bin);
    free(bout);
    drop_unused_values(kc, n_out, out);
    return st;
}

/* ------------------------------------------------------------------ Scan */

/* Reads an INTS attribute of n entries (default 0 each); a present attribute must have
 * exactly n. */
static mof_status scan_ints(mof_kernel_ctx *kc, const char *name, size_t n, int64_t *v)
{
    size_t count;
    const int64_t *a = mof_node_attr_ints(kc->node, name, &count);
    if (a && count != n)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "attribute '%s' has %zu entries, %zu expected", name, count, n);
    for (size_t i = 0; i < n; i++)
        v[i] = a ? a[i] : 0;
    return MOF_OK;
}

static mof_status k_scan(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in, size_t n_out,
                         mof_tensor **out)
{
    const mof_graph *body = mof_node_attr_graph(kc->node, "body");
    if (!body)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "attribute 'body' is missing");
    int64_t m = mof_node_attr_int(kc->node, "num_scan_inputs", -1);
    if (m < 1 || (size_t)m > n_in)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "num_scan_inputs must be between 1 and the number of inputs");
    size_t n_scan_in = (size_t)m, n_state = n_in - n_scan_in;
    size_t n_bin = mof_graph_n_inputs(body), n_bout = mof_graph_n_outputs(body);
    if (n_bin != n_in || n_bout != n_out || n_out < n_state)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "the body has %zu inputs and %zu outputs, the node %zu and %zu",
                                n_bin, n_bout, n_in, n_out);
    size_t n_scan_out = n_out - n_state;
    for (size_t i = 0; i < n_in; i++)
        if (!in[i])
            return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "input %zu is missing", i);

    mof_status st = MOF_ERR_NOMEM;
    int64_t *in_dirs = mof_calloc(n_scan_in, sizeof(int64_t));
    int64_t *in_axes = mof_calloc(n_scan_in, sizeof(int64_t));
    int64_t *out_dirs = mof_calloc(n_scan_out ? n_scan_out : 1, sizeof(int64_t));
    int64_t *out_axes = mof_calloc(n_scan_out ? n_scan_out : 1, sizeof(int64_t));
    mof_tensor **bin = mof_calloc(n_bin, sizeof(*bin));
    mof_tensor **bout = mof_calloc(n_bout, sizeof(*bout));
    mof_tensor ***scans = mof_calloc(n_scan_out ? n_scan_out : 1, sizeof(*scans));
    int64_t len = -1, done_iters = 0;
    if (!in_dirs || !in_axes || !out_dirs || !out_axes || !bin || !bout || !scans) {
        st = mof_kernel_nomem(kc);
        goto done;
    }
    if ((st = scan_ints(kc, "scan_input_directions", n_scan_in, in_dirs)) != MOF_OK ||
        (st = scan_ints(kc, "scan_input_axes", n_scan_in, in_axes)) != MOF_OK ||
        (st = scan_ints(kc, "scan_output_directions", n_scan_out, out_dirs)) != MOF_OK ||
        (st = scan_ints(kc, "scan_output_axes", n_scan_out, out_axes)) != MOF_OK)
        goto done;
    for (size_t k = 0; k < n_scan_in; k++) {
        const mof_tensor *t = in[n_state + k];
        int64_t a = in_axes[k] < 0 ? in_axes[k] + (int64_t)t->rank : in_axes[k];
        if (a < 0 || a >= (int64_t)t->rank) {
            st = mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                  "scan input %zu: axis %" PRId64 " is out of range", k,
                                  in_axes[k]);
            goto done;
        }
        in_axes[k] = a;
        if (len >= 0 && t->dims[a] != len) {
            st = mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                  "scan input %zu has %" PRId64 " elements along its axis, "
                                  "input 0 has %" PRId64, k, t->dims[a], len);
            goto done;
        }
        len = t->dims[a];
    }
    for (size_t k = 0; k < n_scan_out; k++) {
        scans[k] = mof_calloc(len ? (size_t)len : 1, sizeof(**scans));
        if (!scans[k]) {
            st = mof_kernel_nomem(kc);
            goto done;
        }
    }
    for (size_t i = 0; i < n_state; i++)
        bin[i] = mof_tensor_ref(in[i]);
    for (int64_t it = 0; it < len; it++) {
        for (size_t k = 0; k < n_scan_in; k++) {
            int64_t j = in_dirs[k] ? len - 1 - it : it;
            mof_tensor_unref(bin[n_state + k]);
            bin[n_state + k] = NULL;
            st = slice_at(kc, in[n_state + k], (size_t)in_axes[k], j, &bin[n_state + k]);
            if (st != MOF_OK)
                goto done;
        }
        st = mof_interp_run_subgraph(kc, body, n_bin, bin, n_bout, bout);
        if (st != MOF_OK)
            goto done;
        move_refs(bin, bout, n_state);
        for (size_t k = 0; k < n_scan_out; k++)
            move_refs(&scans[k][it], &bout[n_state + k], 1);
        done_iters++;
    }
    move_refs(out, bin, n_state);
    for (size_t k = 0; k < n_scan_out; k++) {
        st = stack_output(kc, body, n_state + k, scans[k], (size_t)done_iters, out_axes[k],
                          out_dirs[k] != 0, &out[n_state + k]);
        if (st != MOF_OK)
            goto done;
    }
    st = MOF_OK;
done:
    if (st != MOF_OK)
        unref_all(out, n_out);
    unref_all(bin, n_bin);
    unref_all(bout, n_bout);
    for (size_t k = 0; scans && k < n_scan_out; k++) {
        unref_all(scans[k], (size_t)done_iters);
        free(scans[k]);
    }
    free(scans);
    free(bin);
    free(bout);
    free(in_dirs);
    free(in_axes);
    free(out_dirs);
    free(out_axes);
    mof_kernel_drop_unused(kc, n_out, out);
    return st;
}

/* Scan-8: every input has a leading batch axis (scan inputs then the sequence axis),
 * and the optional first input sequence_lens gives each batch entry's length; the
 * scan outputs [batch, max length, ...] are zero past an entry's length. */
static mof_status k_scan8(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                          size_t n_out, mof_tensor **out)
{
    const mof_graph *body = mof_node_attr_graph(kc->node, "body");
    if (!body)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "attribute 'body' is missing");
    int64_t m = mof_node_attr_int(kc->node, "num_scan_inputs", -1);
    if (n_in < 1 || m < 1 || (size_t)m > n_in - 1)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "num_scan_inputs must be between 1 and the number of inputs");
    size_t n_vars = n_in - 1, n_scan_in = (size_t)m, n_state = n_vars - n_scan_in;
    size_t n_bin = mof_graph_n_inputs(body), n_bout = mof_graph_n_outputs(body);
    if (n_bin != n_vars || n_bout != n_out || n_out < n_state)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "the body has %zu inputs and %zu outputs, the node %zu and %zu",
                                n_bin, n_bout, n_vars, n_out);
    size_t n_scan_out = n_out - n_state;
    mof_tensor *const *vars = in + 1;
    int64_t batch = -1, max_len = -1;
    for (size_t i = 0; i < n_vars; i++) {
        const mof_tensor *t = vars[i];
        bool scan = i >= n_state;
        if (!t)
            return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "input %zu is missing", i + 1);
        if (t->rank < (scan ? 2u : 1u) || (batch >= 0 && t->dims[0] != batch) ||
            (scan && max_len >= 0 && t->dims[1] != max_len))
            return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                    "input %zu does not have the batch (and sequence) axes of "
                                    "the others", i + 1);
        batch = t->dims[0];
        if (scan)
            max_len = t->dims[1];
    }
    size_t count;
    const int64_t *dirs = mof_node_attr_ints(kc->node, "directions", &count);
    if (dirs && count != n_scan_in)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "attribute 'directions' has %zu entries, %zu expected", count,
                                n_scan_in);
    const mof_tensor *lens = in[0];
    if (lens && (lens->dtype != MOF_DTYPE_INT64 || lens->numel != batch))
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "sequence_lens must be an int64 tensor of %" PRId64 " entries",
                                batch);
    for (int64_t b = 0; lens && b < batch; b++) {
        int64_t l = mof_tensor_get_i64(lens, b);
        if (l < 1 || l > max_len)
            return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                    "sequence_lens[%" PRId64 "] = %" PRId64 " is not in [1, %"
                                    PRId64 "]", b, l, max_len);
    }

    mof_status st = MOF_OK;
    mof_tensor **bin = mof_calloc(n_bin, sizeof(*bin));
    mof_tensor **bout = mof_calloc(n_bout, sizeof(*bout));
    mof_tensor **finals = mof_calloc(n_state * (size_t)batch + 1, sizeof(*finals));
    if (!bin || !bout || !finals) {
        st = mof_kernel_nomem(kc);
        goto done;
    }
    for (int64_t b = 0; b < batch; b++) {
        int64_t len = lens ? mof_tensor_get_i64(lens, b) : max_len;
        for (size_t i = 0; i < n_state; i++) {
            if ((st = slice_at(kc, vars[i], 0, b, &bin[i])) != MOF_OK)
                goto done;
        }
        for (int64_t it = 0; it < len; it++) {
            for (size_t k = 0; k < n_scan_in; k++) {
                mof_tensor *row = NULL;
                int64_t j = dirs && dirs[k] ? len - 1 - it : it;
                mof_tensor_unref(bin[n_state + k]);
                bin[n_state + k] = NULL;
                if ((st = slice_at(kc, vars[n_state + k], 0, b, &row)) != MOF_OK)
                    goto done;
                st = slice_at(kc, row, 0, j, &bin[n_state + k]);
                mof_tensor_unref(row);
                if (st != MOF_OK)
                    goto done;
            }
            if ((st = mof_interp_run_subgraph(kc, body, n_bin, bin, n_bout, bout)) != MOF_OK)
                goto done;
            move_refs(bin, bout, n_state);
            for (size_t k = 0; k < n_scan_out; k++) {
                mof_tensor *e = bout[n_state + k];
                mof_tensor **o = &out[n_state + k];
                if (!*o) {
                    /* [batch, max_len, element dims...], zero-filled. */
                    int64_t *d = mof_calloc(e->rank + 2, sizeof(*d));
                    if (!d) {
                        st = mof_kernel_nomem(kc);
                        goto done;
                    }
                    d[0] = batch;
                    d[1] = max_len;
                    for (size_t q = 0; q < e->rank; q++)
                        d[2 + q] = e->dims[q];
                    *o = mof_tensor_create(e->dtype, e->rank + 2, d);
                    free(d);
                    if (!*o) {
                        st = mof_kernel_nomem(kc);
                        goto done;
                    }
                }
                int64_t en = mof_dims_numel((*o)->rank - 2, (*o)->dims + 2);
                if (e->dtype != (*o)->dtype || e->numel != en) {
                    st = mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                          "scan output %zu changes type or shape between "
                                          "iterations", k);
                    goto done;
                }
                if (!mof_tensor_copy_elems(*o, (b * max_len + it) * en, e, 0, en)) {
                    st = mof_kernel_nomem(kc);
                    goto done;
                }
            }
            unref_all(bout, n_bout);
        }
        for (size_t i = 0; i < n_state; i++)
            move_refs(&finals[i * (size_t)batch + (size_t)b], &bin[i], 1);
        unref_all(bin, n_bin);
    }
    for (size_t i = 0; i < n_state; i++) {
        const mof_tensor *t = vars[i];
        st = stack(kc, finals + i * (size_t)batch, (size_t)batch, 0, false, t->dtype,
                   (int)t->rank - 1, t->dims + 1, &out[i]);
        if (st != MOF_OK)
            goto done;
    }
    /* No iteration at all: the scan outputs take the body's declared element shape. */
    for (size_t k = 0; k < n_scan_out; k++) {
        if (out[n_state + k])
            continue;
        const mof_value *bv = mof_graph_output(body, n_state + k);
        int rank = mof_value_rank(bv);
        int64_t *d = mof_calloc((size_t)(rank > 0 ? rank : 0) + 2, sizeof(*d));
        if (!d) {
            st = mof_kernel_nomem(kc);
            goto done;
        }
        d[0] = batch;
        d[1] = max_len;
        for (int q = 0; q < rank; q++)
            d[2 + q] = mof_value_dim(bv, (size_t)q) < 0 ? 0 : mof_value_dim(bv, (size_t)q);
        mof_dtype dt = mof_value_dtype(bv);
        out[n_state + k] = mof_tensor_create(dt ? dt : MOF_DTYPE_FLOAT,
                                             (size_t)(rank > 0 ? rank : 0) + 2, d);
        free(d);
        if (!out[n_state + k]) {
            st = mof_kernel_nomem(kc);
            goto done;
        }
    }
done:
    if (st != MOF_OK)
        unref_all(out, n_out);
    unref_all(bin, n_bin);
    unref_all(bout, n_bout);
    if (finals)
        unref_all(finals, n_state * (size_t)(batch > 0 ? batch : 0));
    free(bin);
    free(bout);
    free(finals);
    mof_kernel_drop_unused(kc, n_out, out);
    return st;
}

/* ------------------------------------------------------------------ shape functions */

/* What two possible types of one value have in common. */
static mof_status shape_merge(mof_shape *out, const mof_shape *a, const mof_shape *b)
{
    mof_dtype dt = a->dtype == b->dtype ? a->dtype : MOF_DTYPE_UNDEFINED;
    if (a->rank < 0 || a->rank != b->rank)
        return mof_shape_set(out, dt, -1, NULL, NULL);
    mof_status st = mof_shape_set(out, dt, a->rank, a->dims, a->syms);
    for (int i = 0; st == MOF_OK && i < a->rank; i++) {
        bool same = a->dims[i] >= 0 ? a->dims[i] == b->dims[i]
                                    : a->syms && b->syms && a->syms[i] && b->syms[i] &&
                                          !strcmp(a->syms[i], b->syms[i]);
        if (!same) {
            out->dims[i] = -1;
            free(out->syms[i]);
            out->syms[i] = NULL;
        }
    }
    return st;
}

static mof_status infer_if(mof_infer_ctx *ic)
{
    const mof_graph *t = mof_node_attr_graph(ic->node, "then_branch");
    const mof_graph *e = mof_node_attr_graph(ic->node, "else_branch");
    if (!t || !e)
        return MOF_OK;
    if (mof_graph_n_outputs(t) != ic->n_out || mof_graph_n_outputs(e) != ic->n_out)
        return mof_infer_error(ic, "the branches have %zu and %zu outputs, the node %zu",
                               mof_graph_n_outputs(t), mof_graph_n_outputs(e), ic->n_out);
    mof_status st = MOF_OK;
    for (size_t i = 0; i < ic->n_out && st == MOF_OK; i++) {
        mof_shape a = {0}, b = {0};
        st = mof_shape_of_value(mof_graph_output(t, i), &a);
        if (st == MOF_OK)
            st = mof_shape_of_value(mof_graph_output(e, i), &b);
        if (st == MOF_OK)
            st = shape_merge(&ic->out[i], &a, &b);
        mof_shape_clear(&a);
        mof_shape_clear(&b);
    }
    return st;
}

/* Inserts a leading or axis dim (unknown, or `len` when >= 0) into s. */
static mof_status shape_insert(mof_shape *out, const mof_shape *s, int64_t axis, int64_t len)
{
    if (s->rank < 0)
        return mof_shape_set(out, s->dtype, -1, NULL, NULL);
    int r = s->rank + 1;
    if (axis < 0)
        axis += r;
    if (axis < 0 || axis >= r)
        return mof_shape_set(out, s->dtype, -1, NULL, NULL);
    int64_t *dims = mof_calloc((size_t)r, sizeof(*dims));
    char **syms = mof_calloc((size_t)r, sizeof(*syms));
    mof_status st = MOF_ERR_NOMEM;
    if (dims && syms) {
        for (int i = 0, j = 0; i < r; i++) {
            if (i == axis) {
                dims[i] = len;
            } else {
                dims[i] = s->dims[j];
                syms[i] = s->syms ? s->syms[j] : NULL;
                j++;
            }
        }
        st = mof_shape_set(out, s->dtype, r, dims, syms);
    }
    free(dims);
    free(syms);
    return st;
}

static mof_status infer_loop(mof_infer_ctx *ic)
{
    const mof_graph *body = mof_node_attr_graph(ic->node, "body");
    if (!body || ic->n_in < 2)
        return MOF_OK;
    size_t n_carried = ic->n_in - 2;
    if (mof_graph_n_outputs(body) != ic->n_out + 1 || ic->n_out < n_carried)
        return mof_infer_error(ic, "the body has %zu outputs, the node %zu",
                               mof_graph_n_outputs(body), ic->n_out);
    /* A trip count known without a condition gives the scan outputs' length. */
    int64_t trips = -1;
    if (ic->in[0].present && ic->in[0].value && !ic->in[1].present &&
        mof_tensor_numel(ic->in[0].value) == 1)
        trips = mof_tensor_get_i64(ic->in[0].value, 0);
    mof_status st = MOF_OK;
    for (size_t i = 0; i < ic->n_out && st == MOF_OK; i++) {
        mof_shape b = {0};
        st = mof_shape_of_value(mof_graph_output(body, 1 + i), &b);
        if (st != MOF_OK)
            break;
        if (i < n_carried) {
            /* A carried value's shape may change between iterations: keep only what
             * the initial value and the body agree on. */
            if (ic->in[2 + i].present)
                st = shape_merge(&ic->out[i], &b, &ic->in[2 + i]);
            else
                st = mof_shape_copy(&ic->out[i], &b);
            if (st == MOF_OK && ic->out[i].dtype == MOF_DTYPE_UNDEFINED)
                ic->out[i].dtype = b.dtype ? b.dtype : ic->in[2 + i].dtype;
        } else {
            st = shape_insert(&ic->out[i], &b, 0, trips >= 0 ? trips : -1);
        }
        mof_shape_clear(&b);
    }
    return st;
}

static mof_status infer_scan8(mof_infer_ctx *ic)
{
    const mof_graph *body = mof_node_attr_graph(ic->node, "body");
    int64_t m = mof_node_attr_int(ic->node, "num_scan_inputs", -1);
    if (!body || ic->n_in < 1 || m < 1 || (size_t)m > ic->n_in - 1)
        return MOF_OK;
    size_t n_state = ic->n_in - 1 - (size_t)m;
    if (mof_graph_n_outputs(body) != ic->n_out || ic->n_out < n_state)
        return mof_infer_error(ic, "the body has %zu outputs, the node %zu",
                               mof_graph_n_outputs(body), ic->n_out);
    /* Batch and sequence length: scan input 0's first two dims. */
    const mof_shape *s0 = &ic->in[1 + n_state];
    int64_t batch = s0->present && s0->rank >= 2 ? s0->dims[0] : -1;
    int64_t len = s0->present && s0->rank >= 2 ? s0->dims[1] : -1;
    mof_status st = MOF_OK;
    for (size_t i = 0; i < ic->n_out && st == MOF_OK; i++) {
        if (i < n_state) {
            if (ic->in[1 + i].present) {
                st = mof_shape_copy(&ic->out[i], &ic->in[1 + i]);
                ic->out[i].value = NULL; /* the final state is not the initial one */
            }
            continue;
        }
        mof_shape b = {0}, tmp = {0};
        st = mof_shape_of_value(mof_graph_output(body, i), &b);
        if (st == MOF_OK)
            st = shape_insert(&tmp, &b, 0, len);
        if (st == MOF_OK)
            st = shape_insert(&ic->out[i], &tmp, 0, batch);
        mof_shape_clear(&b);
        mof_shape_clear(&tmp);
    }
    return st;
}

static mof_status infer_scan(mof_infer_ctx *ic)
{
    const mof_graph *body = mof_node_attr_graph(ic->node, "body");
    int64_t m = mof_node_attr_int(ic->node, "num_scan_inputs", -1);
    if (!body || m < 1 || (size_t)m > ic->n_in)
        return MOF_OK;
    size_t n_state = ic->n_in - (size_t)m;
    if (mof_graph_n_outputs(body) != ic->n_out || ic->n_out < n_state)
        return mof_infer_error(ic, "the body has %zu outputs, the node %zu",
                               mof_graph_n_outputs(body), ic->n_out);
    /* The sequence length: scan input 0's dim along its axis. */
    int64_t len = -1;
    const mof_shape *s0 = &ic->in[n_state];
    size_t count;
    const int64_t *in_axes = mof_node_attr_ints(ic->node, "scan_input_axes", &count);
    const int64_t *out_axes = mof_node_attr_ints(ic->node, "scan_output_axes", &count);
    size_t n_out_axes = count;
    if (s0->present && s0->rank > 0) {
        int64_t a = in_axes ? in_axes[0] : 0;
        if (a < 0)
            a += s0->rank;
        if (a >= 0 && a < s0->rank)
            len = s0->dims[a];
    }
    mof_status st = MOF_OK;
    for (size_t i = 0; i < ic->n_out && st == MOF_OK; i++) {
        mof_shape b = {0};
        st = mof_shape_of_value(mof_graph_output(body, i), &b);
        if (st != MOF_OK)
            break;
        if (i < n_state) {
            st = mof_shape_copy(&ic->out[i], &b);
        } else {
            size_t k = i - n_state;
            int64_t axis = out_axes && k < n_out_axes ? out_axes[k] : 0;
            st = shape_insert(&ic->out[i], &b, axis, len);
        }
        mof_shape_clear(&b);
    }
    return st;
}

/* ------------------------------------------------------------------ the table */

const mof_op_def mof_ops_control[] = {
    {"", "If", 1, 0, NULL, infer_if},
    {"", "Loop", 1, 0, NULL, infer_loop},
    {"", "Scan", 8, 8, k_scan8, infer_scan8},
    {"", "Scan", 9, 0, k_scan, infer_scan},
    {0},
};

const mof_vop_def mof_vops_control[] = {
    {"", "If", 1, 0, k_if},
    {"", "Loop", 1, 0, k_loop},
    {0},
};
