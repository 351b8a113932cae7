/* fuse-softmax: softmax as exporters sometimes write it becomes one ONNX Softmax.
 *
 *   decomposed   Exp(x - ReduceMax(x, [a])) / ReduceSum(that Exp, [a]), and the
 *                form without the max subtraction, Exp(x) / ReduceSum(Exp(x), [a]),
 *                become Softmax(x, axis=a). The reductions keep their dims
 *                (keepdims=1) and reduce the one axis a, given as the `axes` attribute
 *                or (ReduceSum from opset 13, ReduceMax from opset 18) as a constant
 *                input. From opset 13 Softmax takes any axis; before, Softmax
 *                flattens the input to 2-D at its axis, so a must be the last axis and
 *                the rank of x known. The max subtraction only makes Exp stable (it
 *                cancels in the quotient): it is absorbed when it matches and stays
 *                inside the pattern, else the Softmax reads its result.
 *   transposed   Transpose(perm) -> Softmax(last axis) -> Transpose(inverse of perm),
 *                as PyTorch exports a softmax over another dim, becomes
 *                Softmax(x, axis=perm[rank-1]) (opset 13 and later only).
 *
 * Every value computed inside the pattern must be used inside it only. The match
 * starts at the Div (a near miss once its numerator is an Exp) or at the second
 * Transpose (once its input is a Softmax). Subgraphs are processed too. */
#include <string.h>

#include "fusion.h"

#define SOFTMAX_MAX_NODES 5
#define SOFTMAX_MAX_RANK 16

typedef struct softmax_match {
    mof_node *nodes[SOFTMAX_MAX_NODES];
    size_t n;
    mof_value *x;
    int64_t axis;
    bool transposed;
    bool started;
} softmax_match;

/* ------------------------------------------------------------------ the decomposed form */

/* The one axis a reduction reduces (attribute, or constant input), with keepdims=1. */
static bool reduce_axis(const mof_node *rn, int64_t *axis, size_t matched,
                        mof_match_failure *why)
{
    const char *op = mof_node_op_type(rn);
    size_t count = 0;
    const int64_t *list = mof_node_attr_ints(rn, "axes", &count);
    if (mof_node_n_inputs(rn) > 1 && mof_node_input(rn, 1)) {
        const mof_tensor *t = fusion_constant(mof_node_input(rn, 1));
        if (!t || mof_tensor_dtype(t) != MOF_DTYPE_INT64)
            return fusion_fail(why, matched, rn, "%s axes are not a constant", op);
        list = mof_tensor_data(t);
        count = (size_t)mof_tensor_numel(t);
    }
    if (count == 0)
        return fusion_fail(why, matched, rn, "%s reduces over every axis", op);
    if (count != 1)
        return fusion_fail(why, matched, rn, "%s reduces %zu axes, not one", op, count);
    if (mof_node_attr_int(rn, "keepdims", 1) != 1)
        return fusion_fail(why, matched, rn, "%s has keepdims=0", op);
    *axis = list[0];
    return true;
}

/* a and b name the same axis of a value of rank `rank` (-1: unknown). */
static bool same_axis(int64_t a, int64_t b, int rank)
{
    if (a == b)
        return true;
    if (rank < 0)
        return false;
    return (a < 0 ? a + rank : a) == (b < 0 ? b + rank : b);
}

/* x - ReduceMax(x, [axis]) as the Exp's input, used only inside the pattern: absorbs
 * the Sub and ReduceMax into m (x becomes the Sub's first input). */
static void absorb_max(softmax_match *m, mof_node *exp)
{
    mof_node *sub = fusion_producer(mof_node_input(exp, 0));
    if (!fusion_is_op(sub, "Sub") || mof_node_n_inputs(sub) != 2)
        return;
    mof_value *x = mof_node_input(sub, 0);
    mof_node *rm = fusion_producer(mof_node_input(sub, 1));
    int64_t a;
    if (!fusion_is_op(rm, "ReduceMax") || mof_node_input(rm, 0) != x ||
        !reduce_axis(rm, &a, 0, NULL) || !same_axis(a, m->axis, mof_value_rank(x)))
        return;
    m->nodes[m->n] = sub;
    m->nodes[m->n + 1] = rm;
    if (!fusion_check_uses(m->nodes, m->n + 2, mof_node_output(m->nodes[0], 0), 0, NULL))
        return;
    m->n += 2;
    m->x = x;
}

static bool match_decomposed(fusion_run *r, mof_node *div, softmax_match *m,
                             mof_match_failure *why)
{
    if (!fusion_is_op(div, "Div") || mof_node_n_inputs(div) != 2)
        return false;
    mof_node *exp = fusion_producer(mof_node_input(div, 0));
    if (!fusion_is_op(exp, "Exp"))
        return false;
    m->started = true;
    m->nodes[m->n++] = div;
    m->nodes[m->n++] = exp;
    mof_node *rs = fusion_producer(mof_node_input(div, 1));
    if (!fusion_is_op(rs, "ReduceSum"))
        return fusion_fail(why, m->n, div, "the divisor is not a ReduceSum");
    if (mof_node_input(rs, 0) != mof_node_output(exp, 0))
        return fusion_fail(why, m->n, rs, "ReduceSum does not sum the Exp's output");
    m->nodes[m->n++] = rs;
    if (!reduce_axis(rs, &m->axis, m->n, why))
        return false;
    if (!fusion_check_uses(m->nodes, m->n, mof_node_output(div, 0), m->n, why))
        return false;
    m->x = mof_node_input(exp, 0);
    absorb_max(m, exp);
    if (r->opset < 13) {
        int rank = mof_value_rank(m->x);
        if (rank < 0)
            return fusion_fail(why, m->n, rs, "the rank of '%s' is unknown and Softmax "
                               "before opset 13 flattens its input (run infer-shapes first)",
                               mof_value_name(m->x));
        int64_t a = m->axis < 0 ? m->axis + rank : m->axis;
        if (a != rank - 1)
            return fusion_fail(why, m->n, rs, "the reduced axis %lld is not the last one and "
                               "Softmax before opset 13 flattens its input",
                               (long long)m->axis);
        m->axis = rank - 1;
    }
    return true;
}

/* ------------------------------------------------------------------ the transposed form */

/* The perm of a Transpose (reversed dims when absent, the rank then known). */
static bool transpose_perm(const mof_node *t, int64_t *perm, size_t *rank, size_t matched,
                           mof_match_failure *why)
{
    size_t count = 0;
    const int64_t *list = mof_node_attr_ints(t, "perm", &count);
    if (!list) {
        int r = mof_value_rank(mof_node_input(t, 0));
        if (r < 0)
            return fusion_fail(why, matched, t, "Transpose has no perm and the rank of its "
                               "input is unknown");
        count = (size_t)r;
        for (size_t i = 0; i < count && i < SOFTMAX_MAX_RANK; i++)
            perm[i] = (int64_t)(count - 1 - i);
    } else {
        for (size_t i = 0; i < count && i < SOFTMAX_MAX_RANK; i++)
            perm[i] = list[i];
    }
    if (count == 0 || count > SOFTMAX_MAX_RANK)
        return fusion_fail(why, matched, t, "Transpose of rank %zu", count);
    *rank = count;
    return true;
}

static bool match_transposed(fusion_run *r, mof_node *t2, softmax_match *m,
                             mof_match_failure *why)
{
    if (!fusion_is_op(t2, "Transpose"))
        return false;
    mof_node *sm = fusion_producer(mof_node_input(t2, 0));
    if (!fusion_is_op(sm, "Softmax"))
        return false;
    m->started = true;
    m->transposed = true;
    m->nodes[m->n++] = t2;
    m->nodes[m->n++] = sm;
    mof_node *t1 = fusion_producer(mof_node_input(sm, 0));
    if (!fusion_is_op(t1, "Transpose"))
        return fusion_fail(why, m->n, sm, "the input of Softmax is not a Transpose");
    m->nodes[m->n++] = t1;
    if (r->opset < 13)
        return fusion_fail(why, m->n, sm, "Softmax before opset 13 flattens its input");
    int64_t p1[SOFTMAX_MAX_RANK], p2[SOFTMAX_MAX_RANK];
    size_t r1 = 0, r2 = 0;
    if (!transpose_perm(t1, p1, &r1, m->n, why) || !transpose_perm(t2, p2, &r2, m->n, why))
        return false;
    if (r1 != r2)
        return fusion_fail(why, m->n, t2, "the Transposes have ranks %zu and %zu", r1, r2);
    for (size_t i = 0; i < r1; i++)
        if (p1[i] < 0 || p1[i] >= (int64_t)r1 || p2[p1[i]] != (int64_t)i)
            return fusion_fail(why, m->n, t2, "the second Transpose does not undo the first");
    int64_t axis = mof_node_attr_int(sm, "axis", -1);
    if (axis != -1 && axis != (int64_t)r1 - 1)
        return fusion_fail(why, m->n, sm, "Softmax axis %lld is not the last one",
                           (long long)axis);
    if (!fusion_check_uses(m->nodes, m->n, mof_node_output(t2, 0), m->n, why))
        return false;
    m->x = mof_node_input(t1, 0);
    m->axis = p1[r1 - 1];
    return true;
}

/* ------------------------------------------------------------------ the pass */

static mof_status fuse(fusion_run *r, softmax_match *m)
{
    mof_node *last = m->nodes[0];
    mof_node *s = fusion_add_node(r, last, "Softmax", "", last, 1, &m->x);
    if (!s)
        return MOF_ERR_NOMEM;
    mof_status st;
    if (mof_node_set_attr_int(s, "axis", m->axis) < 0)
        return fusion_nomem(r);
    if ((st = fusion_add_origins(r, s, m->n, m->nodes)) < 0)
        return st;
    return fusion_replace(r, mof_node_output(last, 0), mof_node_output(s, 0), m->n, m->nodes);
}

static mof_status visit(fusion_run *r, mof_node *n)
{
    softmax_match m;
    memset(&m, 0, sizeof m);
    mof_match_failure why = { 0 };
    bool ok = fusion_is_op(n, "Div") ? match_decomposed(r, n, &m, &why)
                                     : match_transposed(r, n, &m, &why);
    if (!ok) {
        if (m.started)
            fusion_near_miss(r, n, m.transposed ? "Transpose -> Softmax -> Transpose"
                                                : "Exp / ReduceSum (softmax)",
                             3, &why);
        return MOF_UNCHANGED;
    }
    mof_status st = fuse(r, &m);
    if (st < 0)
        return st;
    fusion_count(r, m.transposed ? "softmax-transposed" : "softmax-decomposed");
    return MOF_OK;
}

static mof_status run(mof_pass_ctx *pc, mof_model *model, void *priv)
{
    return fusion_run_pass(pc, model, priv, visit);
}

const mof_pass_desc fusion_softmax_pass = {
    .size = sizeof(mof_pass_desc),
    .name = "fuse-softmax",
    .summary = "fuse a decomposed or transposed softmax into one Softmax node",
    .help = "Exp(x - ReduceMax(x, [a])) / ReduceSum(that Exp, [a]) (keepdims=1; also\n"
            "without the max subtraction) becomes Softmax(x, axis=a): any axis from\n"
            "opset 13, before only the last axis of an input of known rank. From opset\n"
            "13, Transpose(perm) -> Softmax(last axis) -> Transpose(inverse of perm), as\n"
            "PyTorch exports a softmax over another dim, becomes Softmax(x,\n"
            "axis=perm[-1]). Writes standard ONNX. Subgraphs are processed too.",
    .params = fusion_params_table,
    .priv_size = sizeof(struct fusion_params),
    .run = run,
};
