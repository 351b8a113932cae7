/* fuse-layernorm: layer normalization written out in elementary operators, as PyTorch
 * exports nn.LayerNorm at opset 13 and below, becomes one node:
 *
 *   mean = ReduceMean(x, axes)              d = Sub(x, mean)
 *   var  = ReduceMean(Pow(d, 2), axes)      (or Mul(d, d))
 *   y    = Div(d, Sqrt(Add(var, epsilon)))
 *   y    = Mul(y, gamma)                    optional, gamma constant
 *   y    = Add(y, beta)                     optional, beta constant
 *
 * into LayerNormalization(x, gamma, beta) with axis = the first reduced axis and
 * epsilon: the ONNX operator when the model's opset is 17 or more, else
 * mof.LayerNormalization, its exact copy (mof/fused.h). Both ReduceMeans must reduce
 * the same trailing axes (axes attribute, or from opset 18 a constant input) with
 * keepdims=1; positive axes need the rank of x to be known. gamma and beta may only
 * broadcast over the normalized axes; when those dims are known, gamma and beta are
 * given exactly that shape (new initializers when they had another), and a missing
 * gamma becomes ones of that shape ([1] when it is unknown). A double x gets
 * stash_type=11 so that the statistics are computed in double, as the original did.
 *
 * The longest chain wins: the match starts at the last Add (or Mul, or Div) and a
 * Div or Mul whose only reader would extend the chain is left to that reader. Every
 * value computed inside must be read inside only. A near miss is reported only once
 * Div(Sub, Sqrt) was found. Subgraphs are processed too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fusion.h"

/* Add, Mul, Div, Sqrt, Add, ReduceMean, Pow, Sub, ReduceMean. */
#define LN_MAX_NODES 9

typedef struct ln_match {
    mof_node *nodes[LN_MAX_NODES];
    size_t n;
    mof_value *x;
    mof_value *gamma, *beta;     /* NULL when absent */
    double eps;
    int64_t axis;                /* negative: counted from the end */
    int64_t n_axes;
    bool started;                /* Div(Sub(...), Sqrt(...)) was found */
} ln_match;

static void add_node(ln_match *m, mof_node *n)
{
    if (m->n < LN_MAX_NODES)
        m->nodes[m->n++] = n;
}

/* ------------------------------------------------------------------ matching */

/* The reduced axes of a ReduceMean (attribute, or constant input from opset 18),
 * written as negative axes (the rank of x known when one is positive); sorted. */
static bool reduce_axes(const mof_node *rm, int rank, int64_t *axes, size_t max, size_t *n,
                        size_t matched, mof_match_failure *why)
{
    size_t count = 0;
    const int64_t *list = mof_node_attr_ints(rm, "axes", &count);
    if (mof_node_n_inputs(rm) > 1 && mof_node_input(rm, 1)) {
        const mof_tensor *t = fusion_constant(mof_node_input(rm, 1));
        if (!t || mof_tensor_dtype(t) != MOF_DTYPE_INT64)
            return fusion_fail(why, matched, rm, "ReduceMean axes are not a constant");
        list = mof_tensor_data(t);
        count = (size_t)mof_tensor_numel(t);
    }
    if (count == 0)
        return fusion_fail(why, matched, rm, "ReduceMean reduces over every axis");
    if (count > max)
        return fusion_fail(why, matched, rm, "ReduceMean reduces %zu axes", count);
    if (mof_node_attr_int(rm, "keepdims", 1) != 1)
        return fusion_fail(why, matched, rm, "ReduceMean has keepdims=0");
    for (size_t i = 0; i < count; i++) {
        int64_t a = list[i];
        if (a >= 0 && rank < 0)
            return fusion_fail(why, matched, rm, "ReduceMean axis %lld is positive and the "
                               "rank of its input is unknown (run infer-shapes first)",
                               (long long)a);
        axes[i] = a >= 0 ? a - rank : a;
    }
    /* Insertion sort: a handful of axes. */
    for (size_t i = 1; i < count; i++)
        for (size_t j = i; j > 0 && axes[j - 1] > axes[j]; j--) {
            int64_t t = axes[j];
            axes[j] = axes[j - 1];
            axes[j - 1] = t;
        }
    *n = count;
    return true;
}

/* Both ReduceMeans reduce the same trailing axes: sets m->axis and m->n_axes. */
static bool match_axes(ln_match *m, const mof_node *r1, const mof_node *r2,
                       mof_match_failure *why)
{
    int64_t a1[8], a2[8];
    size_t n1 = 0, n2 = 0;
    int rank = mof_value_rank(m->x);
    if (!reduce_axes(r1, rank, a1, 8, &n1, m->n, why) ||
        !reduce_axes(r2, rank, a2, 8, &n2, m->n, why))
        return false;
    if (n1 != n2 || memcmp(a1, a2, n1 * sizeof(int64_t)))
        return fusion_fail(why, m->n, r2, "the two ReduceMeans reduce different axes");
    for (size_t i = 0; i < n1; i++)
        if (a1[i] != (int64_t)i - (int64_t)n1)
            return fusion_fail(why, m->n, r1, "ReduceMean does not reduce the last %zu axes",
                               n1);
    m->axis = -(int64_t)n1;
    m->n_axes = (int64_t)n1;
    return true;
}

/* The core, ending at div: Div(Sub(x, ReduceMean(x)), Sqrt(Add(ReduceMean(Pow(d, 2)),
 * epsilon))). */
static bool match_core(ln_match *m, mof_node *div, mof_match_failure *why)
{
    if (!fusion_is_op(div, "Div") || mof_node_n_inputs(div) != 2)
        return false;
    mof_value *d = mof_node_input(div, 0);
    mof_node *sub = fusion_producer(d), *sq = fusion_producer(mof_node_input(div, 1));
    if (!fusion_is_op(sub, "Sub") || !fusion_is_op(sq, "Sqrt"))
        return false;
    m->started = true;
    add_node(m, div);
    add_node(m, sq);
    mof_node *add = fusion_producer(mof_node_input(sq, 0));
    if (!fusion_is_op(add, "Add") || mof_node_n_inputs(add) != 2)
        return fusion_fail(why, m->n, sq, "expected Add(variance, epsilon) under Sqrt");
    add_node(m, add);
    mof_node *r2 = NULL;
    for (size_t k = 0; k < 2 && !r2; k++) {
        mof_node *p = fusion_producer(mof_node_input(add, k));
        if (fusion_is_op(p, "ReduceMean") && fusion_scalar(mof_node_input(add, 1 - k), &m->eps))
            r2 = p;
    }
    if (!r2)
        return fusion_fail(why, m->n, add, "expected Add(ReduceMean, constant epsilon)");
    add_node(m, r2);
    mof_node *pw = fusion_producer(mof_node_input(r2, 0));
    double two = 0.0;
    bool square = fusion_is_op(pw, "Pow") && mof_node_input(pw, 0) == d &&
                  fusion_scalar(mof_node_input(pw, 1), &two) && two == 2.0;
    square = square || (fusion_is_op(pw, "Mul") && mof_node_input(pw, 0) == d &&
                        mof_node_input(pw, 1) == d);
    if (!square)
        return fusion_fail(why, m->n, r2, "the variance is not the mean of Pow(d, 2) with d "
                           "the Div's numerator");
    add_node(m, pw);
    add_node(m, sub);
    mof_node *r1 = fusion_producer(mof_node_input(sub, 1));
    m->x = mof_node_input(sub, 0);
    if (!fusion_is_op(r1, "ReduceMean") || mof_node_input(r1, 0) != m->x)
        return fusion_fail(why, m->n, sub, "expected Sub(x, ReduceMean(x))");
    add_node(m, r1);
    return match_axes(m, r1, r2, why);
}

/* y's only reader is a Mul or Add by a constant, which would extend the chain. */
static bool extends(const mof_value *y, const char *op)
{
    if (!y || mof_value_n_uses(y) != 1 || mof_value_is_graph_output(y))
        return false;
    mof_node *u = mof_value_use(y, 0, NULL);
    if (!fusion_is_op(u, op))
        return false;
    const mof_value *other = fusion_other_input(u, y);
    return other && fusion_constant(other);
}

/* A constant operand of n (Mul or Add) and the node computing the other; false when
 * there is none such. */
static bool split_affine(const mof_node *n, const char *producer_op, mof_value **c,
                         mof_node **p)
{
    if (mof_node_n_inputs(n) != 2)
        return false;
    for (size_t k = 0; k < 2; k++) {
        mof_node *q = fusion_producer(mof_node_input(n, k));
        if (fusion_is_op(q, producer_op) && fusion_constant(mof_node_input(n, 1 - k))) {
            *c = mof_node_input(n, 1 - k);
            *p = q;
            return true;
        }
    }
    return false;
}

static bool match(mof_node *last, ln_match *m, mof_match_failure *why)
{
    mof_node *div = NULL, *p = NULL;
    mof_value *y = mof_node_output(last, 0);
    if (fusion_is_op(last, "Div")) {
        if (extends(y, "Mul") || extends(y, "Add"))
            return false;
        div = last;
    } else if (fusion_is_op(last, "Mul")) {
        if (extends(y, "Add") || !split_affine(last, "Div", &m->gamma, &div))
            return false;
        add_node(m, last);
    } else if (fusion_is_op(last, "Add")) {
        if (split_affine(last, "Mul", &m->beta, &p)) {
            add_node(m, last);
            if (!split_affine(p, "Div", &m->gamma, &div))
                return false;
            add_node(m, p);
        } else if (split_affine(last, "Div", &m->beta, &div)) {
            add_node(m, last);
        } else {
            return false;
        }
    } else {
        return false;
    }
    return match_core(m, div, why) && fusion_check_uses(m->nodes, m->n, y, m->n, why);
}

/* ------------------------------------------------------------------ Scale and B */

/* Dims of the normalized axes when all are known (dims[0..n_axes-1]). */
static bool normalized_dims(const ln_match *m, int64_t *dims)
{
    int rank = mof_value_rank(m->x);
    if (rank < m->n_axes)
        return false;
    for (int64_t i = 0; i < m->n_axes; i++) {
        dims[i] = mof_value_dim(m->x, (size_t)(rank - m->n_axes + i));
        if (dims[i] < 0)
            return false;
    }
    return true;
}

/* gamma or beta broadcasts over the normalized axes only. */
static bool check_param(const ln_match *m, const mof_value *v, const char *what,
                        const int64_t *dims, bool known, mof_dtype dtype,
                        mof_match_failure *why)
{
    const mof_tensor *t = fusion_constant(v);
    size_t r = mof_tensor_rank(t);
    if ((int64_t)r > m->n_axes)
        return fusion_fail(why, m->n, m->nodes[0], "%s has rank %zu, more than the %lld "
                           "normalized axes", what, r, (long long)m->n_axes);
    for (size_t i = 0; known && i < r; i++) {
        int64_t d = mof_tensor_dims(t)[i], want = dims[m->n_axes - (int64_t)r + (int64_t)i];
        if (d != 1 && d != want)
            return fusion_fail(why, m->n, m->nodes[0], "%s dim %zu is %lld, x has %lld", what,
                               i, (long long)d, (long long)want);
    }
    if (dtype != MOF_DTYPE_UNDEFINED && mof_tensor_dtype(t) != dtype)
        return fusion_fail(why, m->n, m->nodes[0], "%s is %s, x is %s", what,
                           mof_dtype_name(mof_tensor_dtype(t)), mof_dtype_name(dtype));
    return true;
}

/* v expanded to the normalized shape (a new initializer), or v itself when it has that
 * shape already or the shape is unknown. NULL after reporting. */
static mof_value *shaped_param(fusion_run *r, const ln_match *m, mof_value *v, const char *suffix,
                               const int64_t *dims, bool known)
{
    const mof_tensor *t = fusion_constant(v);
    size_t rt = mof_tensor_rank(t);
    bool same = known && (int64_t)rt == m->n_axes &&
                !memcmp(mof_tensor_dims(t), dims, rt * sizeof(int64_t));
    if (!known || same) {
        /* A Constant node's output is fine as an input too. */
        return v;
    }
    int64_t numel = 1;
    for (int64_t i = 0; i < m->n_axes; i++)
        numel *= dims[i];
    double *src = fusion_read_f64(t), *out = malloc((size_t)(numel ? numel : 1) * sizeof(double));
    mof_value *nv = NULL;
    if (!src || !out) {
        fusion_nomem(r);
        goto done;
    }
    for (int64_t e = 0; e < numel; e++) {
        /* Walk e's index from the last axis, reading t broadcast right-aligned. */
        int64_t rem = e, off = 0, stride = 1;
        for (int64_t i = m->n_axes; i-- > 0;) {
            int64_t idx = rem % dims[i];
            rem /= dims[i];
            int64_t k = i - (m->n_axes - (int64_t)rt);
            if (k >= 0) {
                int64_t d = mof_tensor_dims(t)[k];
                off += (d == 1 ? 0 : idx) * stride;
                stride *= d;
            }
        }
        out[e] = src[off];
    }
    size_t len = strlen(mof_value_name(v)) + strlen(suffix) + 2;
    char *hint = malloc(len);
    if (!hint) {
        fusion_nomem(r);
        goto done;
    }
    snprintf(hint, len, "%s_%s", mof_value_name(v), suffix);
    nv = fusion_add_constant(r, mof_node_graph(m->nodes[0]), hint,
                             fusion_tensor_f64(mof_tensor_dtype(t), (size_t)m->n_axes, dims, out));
    free(hint);
done:
    free(src);
    free(out);
    return nv;
}

/* ------------------------------------------------------------------ the pass */

static mof_status fuse(fusion_run *r, ln_match *m, const int64_t *dims, bool known,
                       mof_dtype dtype)
{
    mof_node *last = m->nodes[0];
    mof_graph *g = mof_node_graph(last);
    mof_value *scale, *bias = NULL;
    if (m->gamma) {
        scale = shaped_param(r, m, m->gamma, "ln", dims, known);
    } else {
        int64_t one = 1, numel = 1;
        for (int64_t i = 0; known && i < m->n_axes; i++)
            numel *= dims[i];
        double *ones = malloc((size_t)(numel ? numel : 1) * sizeof(double));
        if (!ones)
            return fusion_nomem(r);
        for (int64_t i = 0; i < numel; i++)
            ones[i] = 1.0;
        char *hint = mof_graph_unique_name(g, "ln_scale");
        scale = hint ? fusion_add_constant(r, g, hint,
                                           known ? fusion_tensor_f64(dtype, (size_t)m->n_axes,
                                                                     dims, ones)
                                                 : fusion_tensor_f64(dtype, 1, &one, ones))
                     : NULL;
        if (!hint)
            fusion_nomem(r);
        free(hint);
        free(ones);
    }
    if (!scale)
        return MOF_ERR_NOMEM;
    if (m->beta && !(bias = shaped_param(r, m, m->beta, "ln", dims, known)))
        return MOF_ERR_NOMEM;
    bool onnx = r->opset >= 17;
    mof_value *in[3] = { m->x, scale, bias };
    mof_node *ln = fusion_add_node(r, last, "LayerNormalization", onnx ? "" : MOF_FUSED_DOMAIN,
                                   m->nodes[m->n - 1], bias ? 3 : 2, in);
    if (!ln)
        return MOF_ERR_NOMEM;
    mof_status st;
    if ((st = mof_node_set_attr_int(ln, "axis", m->axis)) < 0 ||
        (st = mof_node_set_attr_float(ln, "epsilon", (float)m->eps)) < 0 ||
        (dtype == MOF_DTYPE_DOUBLE &&
         (st = mof_node_set_attr_int(ln, "stash_type", MOF_DTYPE_DOUBLE)) < 0))
        return fusion_nomem(r);
    if ((st = fusion_add_origins(r, ln, m->n, m->nodes)) < 0 ||
        (!onnx && (st = fusion_import_mof(r)) < 0))
        return st;
    return fusion_replace(r, mof_node_output(last, 0), mof_node_output(ln, 0), m->n, m->nodes);
}

static mof_status visit(fusion_run *r, mof_node *n)
{
    ln_match m;
    memset(&m, 0, sizeof m);
    mof_match_failure why = { 0 };
    int64_t dims[8];
    bool ok = match(n, &m, &why), known = false;
    mof_dtype dtype = MOF_DTYPE_UNDEFINED;
    if (ok) {
        known = normalized_dims(&m, dims);
        dtype = fusion_dtype(m.x);
        if (dtype == MOF_DTYPE_UNDEFINED)
            dtype = fusion_dtype(m.gamma ? m.gamma : m.beta);
        /* Scale and B are computed here in double: float and double only. */
        if (dtype == MOF_DTYPE_UNDEFINED)
            ok = fusion_fail(&why, m.n, n, "the element type of '%s' is unknown (run "
                             "infer-shapes first)", mof_value_name(m.x));
        else if (dtype != MOF_DTYPE_FLOAT && dtype != MOF_DTYPE_DOUBLE)
            ok = fusion_fail(&why, m.n, n, "'%s' is %s; only float and double are fused",
                             mof_value_name(m.x), mof_dtype_name(dtype));
        ok = ok && (!m.gamma || check_param(&m, m.gamma, "gamma", dims, known, dtype, &why));
        ok = ok && (!m.beta || check_param(&m, m.beta, "beta", dims, known, dtype, &why));
    }
    if (!ok) {
        if (m.started)
            fusion_near_miss(r, n, "layer normalization", LN_MAX_NODES, &why);
        return MOF_UNCHANGED;
    }
    mof_status st = fuse(r, &m, dims, known, dtype);
    if (st < 0)
        return st;
    fusion_count(r, "layernorm");
    return MOF_OK;
}

static mof_status run(mof_pass_ctx *pc, mof_model *model, void *priv)
{
    return fusion_run_pass(pc, model, priv, visit);
}

const mof_pass_desc fusion_layernorm_pass = {
    .size = sizeof(mof_pass_desc),
    .name = "fuse-layernorm",
    .summary = "fuse the decomposed layer norm into LayerNormalization",
    .help = "ReduceMean -> Sub -> Pow -> ReduceMean -> Add(epsilon) -> Sqrt -> Div,\n"
            "optionally -> Mul(gamma) -> Add(beta), as PyTorch exports nn.LayerNorm,\n"
            "becomes LayerNormalization (opset 17 and later) or mof.LayerNormalization\n"
            "(same semantics, see mof/fused.h). The reduced axes must be the last ones.\n"
            "Subgraphs are processed too.",
    .params = fusion_params_table,
    .priv_size = sizeof(struct fusion_params),
    .run = run,
};
