/* sink-transposes: moves Transpose nodes through operators that do not care about the
 * order of axes, and cancels them where they meet.
 *
 * Models exported from frameworks that work channels-last (TensorFlow, or PyTorch code
 * that permutes around attention and normalization), and models that to-nhwc just
 * wrapped, carry Transposes whose only job is to undo one another a few nodes later.
 * Every rewrite here is one of three kinds:
 *
 *   - merge: Transpose(Transpose(x, p), q) becomes one Transpose of x by p then q, or
 *     nothing when that is the identity; a Transpose by the identity goes too, and so
 *     does one that repeats an earlier Transpose of the same value by the same perm,
 *     and one that only Shape nodes read (Shape(Transpose(x, p)) = Gather(Shape(x), p)).
 *   - move: a layout-agnostic node n "changes layout" by a permutation p: it reads its
 *     inputs transposed by p's inverse and its outputs are Transposed back afterwards.
 *     An input that was a Transpose by p is read untransposed, a constant is permuted
 *     (a lower-rank one of a broadcasting op first gets leading 1s), anything else
 *     gets a Transpose by p's inverse in front; an output whose readers are Transposes
 *     by the inverse feeds them directly. The node's axis attributes and inputs
 *     follow: Concat/Split/Softmax/ArgMax axis, Reduce* axes (and the output
 *     permutation when keepdims=0 drops axes), Pad pads or axes, Slice axes, Resize
 *     scales/sizes/roi or axes, a per-axis QuantizeLinear/DequantizeLinear axis; a
 *     Reshape or Flatten (all dims known) becomes a Reshape to the permuted dims when p
 *     keeps each run of axes it merges or splits together. Candidate permutations come
 *     from the Transposes feeding the node (moving them down) and from those reading
 *     its outputs (moving them up).
 *   - region move: a connected set of such nodes, each into its own layout (they agree
 *     on every edge between them), moved together when no single node pays for it:
 *     Transpose -> Split -> (Relu, Neg) -> Concat -> Transpose(inverse), or the NCHW
 *     island around a channel shuffle between two NHWC regions.
 *
 * A rewrite is made only when it does not add Transposes: the engine counts those it
 * removes and those it adds at the boundary of what moves (a Transpose reading a moved
 * output merges with the new one and is not counted), and moves when the count falls,
 * or stays the same while an existing Transpose moves down with nothing inserted (so
 * that a chain Transpose -> Relu -> Add -> Transpose(inverse) cancels one step at a
 * time). Moves go down only unless they remove a Transpose, so the rewriting ends;
 * max-rewrites bounds it anyway. Ranks and dims come from Transpose perms, constants'
 * tensors, the declared or inferred shapes of values and what producers say (run
 * infer-shapes first to give the pass more to work with); an operand of unknown rank
 * stops a move that needs it.
 *
 * The pass is exact: every rewrite computes the same elements with the same
 * arithmetic. Where a permutation would change the order in which the reference
 * interpreter accumulates (a ReduceSum over several axes, a linear or cubic Resize
 * over several axes), the move is made only when the permutation keeps those axes in
 * their order. Softmax, LogSoftmax and Hardmax move from opset 13 on (before, their
 * axis flattens the tensor). Subgraphs of control-flow nodes are processed too. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mof/mof.h>

#include "layout.h"

/* sink-transposes' parameters. */
struct sink_pass {
    int64_t max_rewrites;
};

static const mof_param_desc sink_params[] = {
    { .name = "max-rewrites", .help = "stop after this many rewrites in one graph",
      .type = MOF_PARAM_INT, .offset = offsetof(struct sink_pass, max_rewrites),
      .def = "10000", .min = 1, .max = 1e9, .flags = MOF_PARAM_RANGE },
    { 0 }
};

/* ------------------------------------------------------------------ the operators */

/* How a layout-agnostic operator relates to the order of axes. */
enum op_kind {
    K_UNARY,      /* input 0 elementwise; other inputs (Clip's bounds) are not data */
    K_BROADCAST,  /* every input, multidirectional broadcasting */
    K_CONCAT,     /* every input, along "axis" */
    K_SPLIT,      /* input 0 along "axis", every output */
    K_SOFTMAX,    /* input 0 along "axis" (opset >= 13) */
    K_REDUCE,     /* input 0 over "axes" (attribute, or input 1 from axes_input_since) */
    K_ARG,        /* ArgMax/ArgMin: input 0 along "axis" */
    K_PAD,        /* input 0, pads per axis */
    K_SLICE,      /* input 0, starts/ends per listed axis */
    K_RESIZE,     /* input 0, scales/sizes/roi per axis */
    K_QDQ,        /* input 0 elementwise, a 1-D scale along "axis" */
    K_RESHAPE,    /* Reshape (constant shape) and Flatten: runs of axes split, merge */
};

struct op_rule {
    const char *op_type;
    enum op_kind kind;
    int64_t since;              /* first opset where the rule holds */
    int64_t axes_input_since;   /* K_REDUCE: axes become an input at this opset */
    bool order_free;            /* K_REDUCE: the result does not depend on the order */
};

static const struct op_rule op_rules[] = {
    { "Abs", K_UNARY, 1, 0, false },          { "Acos", K_UNARY, 1, 0, false },
    { "Acosh", K_UNARY, 1, 0, false },        { "Asin", K_UNARY, 1, 0, false },
    { "Asinh", K_UNARY, 1, 0, false },        { "Atan", K_UNARY, 1, 0, false },
    { "Atanh", K_UNARY, 1, 0, false },        { "BitwiseNot", K_UNARY, 1, 0, false },
    { "Cast", K_UNARY, 1, 0, false },         { "CastLike", K_UNARY, 1, 0, false },
    { "Ceil", K_UNARY, 1, 0, false },         { "Celu", K_UNARY, 1, 0, false },
    { "Clip", K_UNARY, 1, 0, false },         { "Cos", K_UNARY, 1, 0, false },
    { "Cosh", K_UNARY, 1, 0, false },         { "Elu", K_UNARY, 1, 0, false },
    { "Erf", K_UNARY, 1, 0, false },          { "Exp", K_UNARY, 1, 0, false },
    { "Floor", K_UNARY, 1, 0, false },        { "Gelu", K_UNARY, 1, 0, false },
    { "HardSigmoid", K_UNARY, 1, 0, false },  { "HardSwish", K_UNARY, 1, 0, false },
    { "Identity", K_UNARY, 1, 0, false },     { "IsInf", K_UNARY, 1, 0, false },
    { "IsNaN", K_UNARY, 1, 0, false },        { "LeakyRelu", K_UNARY, 1, 0, false },
    { "Log", K_UNARY, 1, 0, false },          { "Mish", K_UNARY, 1, 0, false },
    { "Neg", K_UNARY, 1, 0, false },          { "Not", K_UNARY, 1, 0, false },
    { "Reciprocal", K_UNARY, 1, 0, false },   { "Relu", K_UNARY, 1, 0, false },
    { "Round", K_UNARY, 1, 0, false },        { "Selu", K_UNARY, 1, 0, false },
    { "Sigmoid", K_UNARY, 1, 0, false },      { "Sign", K_UNARY, 1, 0, false },
    { "Sin", K_UNARY, 1, 0, false },          { "Sinh", K_UNARY, 1, 0, false },
    { "Softplus", K_UNARY, 1, 0, false },     { "Softsign", K_UNARY, 1, 0, false },
    { "Sqrt", K_UNARY, 1, 0, false },         { "Tan", K_UNARY, 1, 0, false },
    { "Tanh", K_UNARY, 1, 0, false },         { "ThresholdedRelu", K_UNARY, 1, 0, false },

    { "Add", K_BROADCAST, 7, 0, false },      { "And", K_BROADCAST, 7, 0, false },
    { "BitShift", K_BROADCAST, 1, 0, false }, { "BitwiseAnd", K_BROADCAST, 1, 0, false },
    { "BitwiseOr", K_BROADCAST, 1, 0, false }, { "BitwiseXor", K_BROADCAST, 1, 0, false },
    { "Div", K_BROADCAST, 7, 0, false },      { "Equal", K_BROADCAST, 7, 0, false },
    { "Greater", K_BROADCAST, 7, 0, false },  { "GreaterOrEqual", K_BROADCAST, 1, 0, false },
    { "Less", K_BROADCAST, 7, 0, false },     { "LessOrEqual", K_BROADCAST, 1, 0, false },
    { "Max", K_BROADCAST, 8, 0, false },      { "Mean", K_BROADCAST, 8, 0, false },
    { "Min", K_BROADCAST, 8, 0, false },      { "Mod", K_BROADCAST, 1, 0, false },
    { "Mul", K_BROADCAST, 7, 0, false },      { "Or", K_BROADCAST, 7, 0, false },
    { "Pow", K_BROADCAST, 7, 0, false },      { "PRelu", K_BROADCAST, 7, 0, false },
    { "Sub", K_BROADCAST, 7, 0, false },      { "Sum", K_BROADCAST, 8, 0, false },
    { "Where", K_BROADCAST, 1, 0, false },    { "Xor", K_BROADCAST, 7, 0, false },

    { "Concat", K_CONCAT, 4, 0, false },
    { "Split", K_SPLIT, 2, 0, false },
    { "Softmax", K_SOFTMAX, 13, 0, false },   { "LogSoftmax", K_SOFTMAX, 13, 0, false },
    { "Hardmax", K_SOFTMAX, 13, 0, false },

    { "ReduceSum", K_REDUCE, 1, 13, false },  { "ReduceMean", K_REDUCE, 1, 18, false },
    { "ReduceMax", K_REDUCE, 1, 18, true },   { "ReduceMin", K_REDUCE, 1, 18, true },
    { "ReduceProd", K_REDUCE, 1, 18, false }, { "ReduceL1", K_REDUCE, 1, 18, false },
    { "ReduceL2", K_REDUCE, 1, 18, false },   { "ReduceLogSum", K_REDUCE, 1, 18, false },
    { "ReduceLogSumExp", K_REDUCE, 1, 18, false },
    { "ReduceSumSquare", K_REDUCE, 1, 18, false },
    { "ArgMax", K_ARG, 1, 0, true },          { "ArgMin", K_ARG, 1, 0, true },

    { "Pad", K_PAD, 2, 0, false },
    { "Slice", K_SLICE, 1, 0, false },
    { "Resize", K_RESIZE, 11, 0, false },
    { "QuantizeLinear", K_QDQ, 10, 0, false }, { "DequantizeLinear", K_QDQ, 10, 0, false },
    { "Reshape", K_RESHAPE, 5, 0, false },    { "Flatten", K_RESHAPE, 1, 0, false },
};

/* ------------------------------------------------------------------ helpers */

static bool is_onnx_domain(const char *domain)
{
    return domain[0] == '\0' || strcmp(domain, "ai.onnx") == 0;
}

static bool is_onnx_op(const mof_node *n, const char *op_type)
{
    return strcmp(mof_node_op_type(n), op_type) == 0 && is_onnx_domain(mof_node_domain(n));
}

/* A Transpose with its input and output present. */
static bool is_transpose(const mof_node *n)
{
    return n && is_onnx_op(n, "Transpose") && mof_node_n_inputs(n) >= 1 &&
           mof_node_input(n, 0) && mof_node_n_outputs(n) >= 1 && mof_node_output(n, 0);
}

static const struct op_rule *find_rule(const mof_node *n, int64_t opset)
{
    if (!is_onnx_domain(mof_node_domain(n)) || mof_node_n_subgraphs(n) > 0)
        return NULL;
    for (size_t i = 0; i < sizeof op_rules / sizeof op_rules[0]; i++)
        if (strcmp(op_rules[i].op_type, mof_node_op_type(n)) == 0)
            return opset >= op_rules[i].since ? &op_rules[i] : NULL;
    return NULL;
}

/* Whether input i of a node of this kind carries the layout. */
static bool is_carried(const struct op_rule *rule, size_t i)
{
    return rule->kind == K_BROADCAST || rule->kind == K_CONCAT || i == 0;
}

static bool value_is_used(const mof_value *v)
{
    return v && (mof_value_n_uses(v) > 0 || mof_value_is_graph_output(v));
}

/* The tensor a value is known to hold: an initializer that is not a graph input, or
 * the output of a Constant node with a `value` attribute. NULL when not constant. */
static const mof_tensor *const_tensor(const mof_value *v)
{
    if (!v)
        return NULL;
    if (mof_value_is_constant(v))
        return mof_value_tensor(v);
    mof_node *producer = mof_value_producer(v, NULL);
    if (producer && is_onnx_op(producer, "Constant"))
        return mof_node_attr_tensor(producer, "value");
    return NULL;
}

/* The elements of an int32/int64 constant of rank <= 1 (malloc'ed). MOF_UNCHANGED when
 * v is not one. */
static mof_status const_ints(const mof_value *v, int64_t **vals, size_t *n)
{
    const mof_tensor *t = const_tensor(v);
    *vals = NULL;
    *n = 0;
    if (!t || mof_tensor_rank(t) > 1)
        return MOF_UNCHANGED;
    mof_dtype dt = mof_tensor_dtype(t);
    if (dt != MOF_DTYPE_INT64 && dt != MOF_DTYPE_INT32)
        return MOF_UNCHANGED;
    size_t count = (size_t)mof_tensor_numel(t);
    int64_t *out = malloc((count ? count : 1) * sizeof *out);
    if (!out)
        return MOF_ERR_NOMEM;
    const void *data = mof_tensor_data(t);
    for (size_t i = 0; i < count; i++)
        out[i] = dt == MOF_DTYPE_INT64 ? ((const int64_t *)data)[i]
                                       : ((const int32_t *)data)[i];
    *vals = out;
    *n = count;
    return MOF_OK;
}

/* A 1-D int32 or int64 tensor of the given elements (owned), NULL when out of memory. */
static mof_tensor *ints_tensor(mof_dtype dtype, size_t n, const int64_t *vals)
{
    int64_t dim = (int64_t)n;
    mof_tensor *t = mof_tensor_create(dtype, 1, &dim);
    if (!t)
        return NULL;
    void *data = mof_tensor_data_mut(t);
    for (size_t i = 0; i < n; i++) {
        if (dtype == MOF_DTYPE_INT64)
            ((int64_t *)data)[i] = vals[i];
        else
            ((int32_t *)data)[i] = (int32_t)vals[i];
    }
    return t;
}

/* ONNX operators outside the table whose outputs have the rank of input 0. */
static const char *const rank_keeping_ops[] = {
    "AveragePool", "BatchNormalization", "Conv", "ConvTranspose", "Dropout",
    "GlobalAveragePool", "GlobalLpPool", "GlobalMaxPool", "InstanceNormalization",
    "LayerNormalization", "LpNormalization", "LpPool", "LRN", "MaxPool", NULL,
};

/* How far rank_at looks back through producers. */
#define RANK_DEPTH 32

static int rank_at(const mof_value *v, int64_t opset, int depth)
{
    if (!v)
        return -1;
    int r = mof_value_rank(v);
    if (r >= 0)
        return r;
    const mof_tensor *t = const_tensor(v);
    if (t)
        return (int)mof_tensor_rank(t);
    mof_node *n = mof_value_producer(v, NULL);
    if (!n || depth >= RANK_DEPTH || mof_node_n_inputs(n) < 1)
        return -1;
    const mof_value *x = mof_node_input(n, 0);
    if (is_transpose(n) && mof_node_has_attr(n, "perm")) {
        size_t count;
        mof_node_attr_ints(n, "perm", &count);
        return (int)count;
    }
    if (is_onnx_op(n, "Transpose") ||
        (strcmp(mof_node_domain(n), "mof") == 0 && strncmp(mof_node_op_type(n), "Nhwc", 4) == 0))
        return rank_at(x, opset, depth + 1);
    const struct op_rule *rule = find_rule(n, opset);
    if (!rule) {
        for (size_t i = 0; is_onnx_domain(mof_node_domain(n)) && rank_keeping_ops[i]; i++)
            if (strcmp(rank_keeping_ops[i], mof_node_op_type(n)) == 0)
                return rank_at(x, opset, depth + 1);
        return -1;
    }
    switch (rule->kind) {
    case K_BROADCAST: {
        int max = -1;
        for (size_t i = 0; i < mof_node_n_inputs(n); i++) {
            int ri = rank_at(mof_node_input(n, i), opset, depth + 1);
            if (ri < 0)
                return -1;
            max = ri > max ? ri : max;
        }
        return max;
    }
    case K_REDUCE:
    case K_ARG:
        return mof_node_attr_int(n, "keepdims", 1) ? rank_at(x, opset, depth + 1) : -1;
    case K_RESHAPE: {
        const mof_tensor *shape = mof_node_n_inputs(n) > 1 ? const_tensor(mof_node_input(n, 1))
                                                           : NULL;
        if (is_onnx_op(n, "Flatten"))
            return 2;
        return shape && mof_tensor_rank(shape) == 1 ? (int)mof_tensor_numel(shape) : -1;
    }
    default:
        return rank_at(x, opset, depth + 1);
    }
}

int layout_value_rank(const mof_value *v, int64_t opset)
{
    return rank_at(v, opset, 0);
}

/* A malloc'ed copy of s (strdup is not C11). */
static char *copy_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *c = malloc(n);
    return c ? memcpy(c, s, n) : NULL;
}

static bool norm_axis(int64_t axis, size_t rank, size_t *out)
{
    int64_t r = (int64_t)rank;
    if (axis < -r || axis >= r)
        return false;
    *out = (size_t)(axis < 0 ? axis + r : axis);
    return true;
}

/* ------------------------------------------------------------------ permutations */

/* A permutation p of rank axes: Transpose(x, p) has dim i = dim p[i] of x. */

static bool perm_is_identity(const int64_t *p, size_t r)
{
    for (size_t i = 0; i < r; i++)
        if (p[i] != (int64_t)i)
            return false;
    return true;
}

static bool perm_equal(const int64_t *a, size_t ra, const int64_t *b, size_t rb)
{
    return ra == rb && (ra == 0 || memcmp(a, b, ra * sizeof *a) == 0);
}

static void perm_invert(const int64_t *p, size_t r, int64_t *inv)
{
    for (size_t i = 0; i < r; i++)
        inv[p[i]] = (int64_t)i;
}

/* Transpose(Transpose(x, first), then) = Transpose(x, out). */
static void perm_compose(const int64_t *first, const int64_t *then, size_t r, int64_t *out)
{
    for (size_t i = 0; i < r; i++)
        out[i] = first[then[i]];
}

static int64_t *perm_alloc(size_t r)
{
    return malloc((r ? r : 1) * sizeof(int64_t));
}

/* The perm of a Transpose node (malloc'ed, *rank entries): its attribute, or the
 * reversal of a known rank. MOF_UNCHANGED when unknown or not a permutation. */
static mof_status transpose_perm(const mof_node *n, int64_t **perm, size_t *rank)
{
    *perm = NULL;
    *rank = 0;
    size_t r;
    const int64_t *attr = NULL;
    if (mof_node_has_attr(n, "perm")) {
        attr = mof_node_attr_ints(n, "perm", &r);
    } else {
        int vr = mof_value_rank(mof_node_input(n, 0));
        if (vr < 0)
            return MOF_UNCHANGED;
        r = (size_t)vr;
    }
    if (r == 0)
        return MOF_UNCHANGED;
    int64_t *p = perm_alloc(r);
    bool *seen = calloc(r, sizeof *seen);
    if (!p || !seen) {
        free(p);
        free(seen);
        return MOF_ERR_NOMEM;
    }
    bool ok = true;
    for (size_t i = 0; i < r && ok; i++) {
        p[i] = attr ? attr[i] : (int64_t)(r - 1 - i);
        ok = p[i] >= 0 && p[i] < (int64_t)r && !seen[p[i]];
        if (ok)
            seen[p[i]] = true;
    }
    free(seen);
    if (!ok) {
        free(p);
        return MOF_UNCHANGED;
    }
    *perm = p;
    *rank = r;
    return MOF_OK;
}

mof_status layout_copy_permuted_type(mof_value *dst, const mof_value *src,
                                     const int64_t *perm, size_t rank)
{
    if (!mof_value_has_type(src))
        return MOF_OK;
    int r = mof_value_rank(src);
    if (r < 0 || (size_t)r != rank)
        return mof_value_set_type(dst, mof_value_dtype(src), -1, NULL, NULL);
    int64_t *dims = malloc((rank ? rank : 1) * sizeof *dims);
    const char **syms = malloc((rank ? rank : 1) * sizeof *syms);
    mof_status st = MOF_ERR_NOMEM;
    if (dims && syms) {
        for (size_t i = 0; i < rank; i++) {
            dims[i] = mof_value_dim(src, (size_t)perm[i]);
            syms[i] = mof_value_dim_symbol(src, (size_t)perm[i]);
        }
        st = mof_value_set_type(dst, mof_value_dtype(src), r, dims, syms);
    }
    free(dims);
    free(syms);
    return st;
}

/* Transpose(t, pinv) of a constant, first given leading 1s up to rank r (owned; NULL
 * when out of memory). */
static mof_tensor *permute_tensor(const mof_tensor *t, size_t r, const int64_t *pinv)
{
    size_t rt = mof_tensor_rank(t), esize = mof_dtype_size(mof_tensor_dtype(t));
    int64_t *src_dims = calloc(r ? r : 1, sizeof(int64_t));
    int64_t *src_strides = calloc(r ? r : 1, sizeof(int64_t));
    int64_t *dims = calloc(r ? r : 1, sizeof(int64_t));
    int64_t *idx = calloc(r ? r : 1, sizeof(int64_t));
    mof_tensor *out = NULL;
    if (!src_dims || !src_strides || !dims || !idx)
        goto done;
    for (size_t i = 0; i < r; i++)
        src_dims[i] = i < r - rt ? 1 : mof_tensor_dims(t)[i - (r - rt)];
    int64_t stride = 1;
    for (size_t i = r; i-- > 0;) {
        src_strides[i] = stride;
        stride *= src_dims[i];
    }
    for (size_t i = 0; i < r; i++)
        dims[i] = src_dims[pinv[i]];
    out = mof_tensor_create(mof_tensor_dtype(t), r, dims);
    if (!out)
        goto done;
    const char *src = mof_tensor_data(t);
    char *dst = mof_tensor_data_mut(out);
    int64_t numel = mof_tensor_numel(out);
    for (int64_t k = 0; k < numel; k++) {
        int64_t off = 0;
        for (size_t i = 0; i < r; i++)
            off += idx[i] * src_strides[pinv[i]];
        memcpy(dst + (size_t)k * esize, src + (size_t)off * esize, esize);
        for (size_t i = r; i-- > 0;) {
            if (++idx[i] < dims[i])
                break;
            idx[i] = 0;
        }
    }
done:
    free(src_dims);
    free(src_strides);
    free(dims);
    free(idx);
    return out;
}

/* A per-axis list (Resize's scales or sizes: n == r; its roi: n == 2r, starts then
 * ends) moved into the layout: entry p[a] of each half takes entry a. */
static mof_tensor *permute_axis_list(const mof_tensor *t, size_t r, const int64_t *p)
{
    size_t esize = mof_dtype_size(mof_tensor_dtype(t));
    int64_t n = mof_tensor_numel(t);
    mof_tensor *out = mof_tensor_create(mof_tensor_dtype(t), 1, &n);
    if (!out)
        return NULL;
    const char *src = mof_tensor_data(t);
    char *dst = mof_tensor_data_mut(out);
    for (size_t half = 0; half < (size_t)n / r; half++)
        for (size_t a = 0; a < r; a++)
            memcpy(dst + (half * r + (size_t)p[a]) * esize, src + (half * r + a) * esize,
                   esize);
    return out;
}

/* ------------------------------------------------------------------ merging */

/* Makes the uses of o's output read v, then removes o. When v cannot take o's output's
 * place (both graph outputs, or v comes from an enclosing graph) an Identity does. */
static mof_status bypass(mof_graph *g, mof_node *o, mof_value *v)
{
    mof_value *out = mof_node_output(o, 0);
    bool direct = mof_value_can_replace(out, v) &&
                  !(mof_value_is_graph_output(out) && mof_value_graph(v) != g);
    if (!direct) {
        mof_node *id = mof_graph_add_node(g, MOF_INSERT_AFTER, o, "Identity", NULL, NULL, 1,
                                          &v, 1);
        if (!id)
            return MOF_ERR_NOMEM;
        mof_status st = mof_node_add_origins(id, o);
        if (st == MOF_OK)
            st = mof_node_set_name(id, "");
        if (st == MOF_OK)
            st = mof_value_copy_type(mof_node_output(id, 0), out);
        if (st < 0)
            return st;
        v = mof_node_output(id, 0);
    }
    mof_status st = mof_value_replace_uses(out, v);
    if (st < 0)
        return st;
    return mof_graph_remove_node(g, o);
}

/* Removes n when it is a node none of whose outputs is used any more. */
static mof_status remove_if_dead(mof_graph *g, mof_node *n)
{
    for (size_t i = 0; i < mof_node_n_outputs(n); i++)
        if (value_is_used(mof_node_output(n, i)))
            return MOF_UNCHANGED;
    return mof_graph_remove_node(g, n);
}

/* Folds the Transposes that read t's output into t's input: each becomes one
 * Transpose by the composed perm, or goes when that is the identity. Removes t when
 * nothing reads it any more. *merged counts the Transposes folded. */
static mof_status merge_consumers(mof_graph *g, mof_node *t, int64_t *merged)
{
    int64_t *p = NULL, *q = NULL, *c = NULL;
    size_t r, rq;
    mof_node **users = NULL;
    mof_status st = transpose_perm(t, &p, &r);
    if (st != MOF_OK)
        return st;
    mof_value *in = mof_node_input(t, 0), *out = mof_node_output(t, 0);
    size_t n_users = mof_value_n_uses(out);
    users = malloc((n_users ? n_users : 1) * sizeof *users);
    c = perm_alloc(r);
    if (!users || !c) {
        st = MOF_ERR_NOMEM;
        goto done;
    }
    /* The use list changes below: take the users first. */
    for (size_t i = 0; i < n_users; i++)
        users[i] = mof_value_use(out, i, NULL);
    for (size_t i = 0; i < n_users; i++) {
        mof_node *o = users[i];
        bool dup = false;
        for (size_t k = 0; k < i && !dup; k++)
            dup = users[k] == o;
        if (dup || o == t || !is_transpose(o) || mof_node_input(o, 0) != out)
            continue;
        free(q);
        q = NULL;
        st = transpose_perm(o, &q, &rq);
        if (st < 0)
            goto done;
        if (st != MOF_OK || rq != r)
            continue;
        perm_compose(p, q, r, c);
        if (perm_is_identity(c, r)) {
            st = bypass(g, o, in);
        } else {
            st = mof_node_set_input(o, 0, in);
            if (st == MOF_OK)
                st = mof_node_set_attr_ints(o, "perm", r, c);
        }
        if (st < 0)
            goto done;
        (*merged)++;
    }
    st = remove_if_dead(g, t);
    if (st == MOF_UNCHANGED)
        st = MOF_OK;
done:
    free(p);
    free(q);
    free(c);
    free(users);
    return st;
}

/* ------------------------------------------------------------------ moving a node */

enum in_action {
    IN_KEEP,     /* not carried, or broadcast the same way in every layout */
    IN_UNDO,     /* a Transpose by p: the node reads that Transpose's input */
    IN_CONST,    /* a constant: the node reads a permuted copy */
    IN_INSERT,   /* anything else: a Transpose by p's inverse goes in front */
};

/* Node n moving into the layout p: the new node n' computes y'_j for each output
 * y_j = Transpose(y'_j, out_perm[j]) (out_perm[j] NULL: y'_j = y_j). */
struct plan {
    mof_node *node;
    const struct op_rule *rule;
    int64_t opset;
    size_t rank;
    int64_t *p, *pinv;
    size_t n_in, n_out;
    enum in_action *act;
    int64_t **out_perm;
    size_t *out_rank;
    /* The rule's changes to the node: its op type (NULL: the same; keep_attrs says
     * whether the attributes still apply), an int attribute, an ints attribute, and up
     * to three constant inputs (owned until applied). */
    const char *op_type;
    bool keep_attrs;
    const char *int_attr;
    int64_t int_value;
    const char *ints_attr;
    int64_t *ints;
    size_t n_ints;
    size_t n_aux;
    size_t aux_index[3];
    mof_tensor *aux[3];
    const char *aux_hint[3];
    int64_t cost;        /* change in the number of Transposes */
    bool undoes;         /* some input Transpose is read through */
    bool inserts;        /* some input gets a new Transpose */
};

static void plan_free(struct plan *pl)
{
    free(pl->p);
    free(pl->pinv);
    free(pl->act);
    if (pl->out_perm)
        for (size_t j = 0; j < pl->n_out; j++)
            free(pl->out_perm[j]);
    free(pl->out_perm);
    free(pl->out_rank);
    free(pl->ints);
    for (size_t k = 0; k < pl->n_aux; k++)
        mof_tensor_unref(pl->aux[k]);
    memset(pl, 0, sizeof *pl);
}

static mof_status plan_init(struct plan *pl, mof_node *n, const struct op_rule *rule,
                            int64_t opset, const int64_t *p, size_t r)
{
    memset(pl, 0, sizeof *pl);
    pl->node = n;
    pl->rule = rule;
    pl->opset = opset;
    pl->rank = r;
    pl->n_in = mof_node_n_inputs(n);
    pl->n_out = mof_node_n_outputs(n);
    pl->keep_attrs = true;
    pl->p = perm_alloc(r);
    pl->pinv = perm_alloc(r);
    pl->act = calloc(pl->n_in ? pl->n_in : 1, sizeof *pl->act);
    pl->out_perm = calloc(pl->n_out ? pl->n_out : 1, sizeof *pl->out_perm);
    pl->out_rank = calloc(pl->n_out ? pl->n_out : 1, sizeof *pl->out_rank);
    if (!pl->p || !pl->pinv || !pl->act || !pl->out_perm || !pl->out_rank)
        return MOF_ERR_NOMEM;
    memcpy(pl->p, p, r * sizeof *p);
    perm_invert(p, r, pl->pinv);
    /* Most operators keep every axis: each output comes back by p. */
    for (size_t j = 0; j < pl->n_out; j++) {
        if (!(pl->out_perm[j] = perm_alloc(r)))
            return MOF_ERR_NOMEM;
        memcpy(pl->out_perm[j], p, r * sizeof *p);
        pl->out_rank[j] = r;
    }
    return MOF_OK;
}

/* Output j keeps the axes that are not reduced (keepdims=0): its perm, or none when
 * the kept axes stay in order (or none is kept). */
static mof_status plan_drop_axes(struct plan *pl, size_t j, const bool *reduced)
{
    size_t r = pl->rank, k = 0;
    bool *reduced_new = calloc(r ? r : 1, sizeof *reduced_new);
    int64_t *q = perm_alloc(r);
    if (!reduced_new || !q) {
        free(reduced_new);
        free(q);
        return MOF_ERR_NOMEM;
    }
    for (size_t a = 0; a < r; a++)
        reduced_new[pl->p[a]] = reduced[a];
    for (size_t a = 0; a < r; a++) {
        if (reduced[a])
            continue;
        int64_t pos = 0;
        for (int64_t b = 0; b < pl->p[a]; b++)
            pos += !reduced_new[b];
        q[k++] = pos;
    }
    free(reduced_new);
    free(pl->out_perm[j]);
    pl->out_perm[j] = NULL;
    pl->out_rank[j] = k;
    if (k == 0 || perm_is_identity(q, k))
        free(q);
    else
        pl->out_perm[j] = q;
    return MOF_OK;
}

/* Whether p keeps the marked axes in their order (the order the interpreter
 * accumulates them in). */
static bool keeps_order(const int64_t *p, size_t r, const bool *marked)
{
    int64_t last = -1;
    for (size_t a = 0; a < r; a++) {
        if (!marked[a])
            continue;
        if (p[a] < last)
            return false;
        last = p[a];
    }
    return true;
}

/* Input index of the node becomes constant t (taken over); hint names it when the node
 * had no such input. */
static mof_status plan_add_aux(struct plan *pl, size_t index, mof_tensor *t, const char *hint)
{
    if (!t)
        return MOF_ERR_NOMEM;
    pl->aux_hint[pl->n_aux] = hint;
    pl->aux_index[pl->n_aux] = index;
    pl->aux[pl->n_aux++] = t;
    return MOF_OK;
}

/* The ints attribute becomes the axes list mapped through p. */
static mof_status plan_map_axes_attr(struct plan *pl, const char *name, const int64_t *axes,
                                     size_t n)
{
    pl->ints_attr = name;
    pl->n_ints = n;
    if (!(pl->ints = perm_alloc(n)))
        return MOF_ERR_NOMEM;
    for (size_t k = 0; k < n; k++) {
        size_t a;
        if (!norm_axis(axes[k], pl->rank, &a))
            return MOF_UNCHANGED;
        pl->ints[k] = pl->p[a];
    }
    return MOF_OK;
}

/* A constant input of axes becomes the axes mapped through p, of the same type. */
static mof_status plan_map_axes_input(struct plan *pl, size_t index)
{
    mof_value *v = mof_node_input(pl->node, index);
    int64_t *axes;
    size_t n;
    mof_status st = const_ints(v, &axes, &n);
    if (st != MOF_OK)
        return st;
    for (size_t k = 0; k < n && st == MOF_OK; k++) {
        size_t a;
        if (norm_axis(axes[k], pl->rank, &a))
            axes[k] = pl->p[a];
        else
            st = MOF_UNCHANGED;
    }
    if (st == MOF_OK)
        st = plan_add_aux(pl, index, ints_tensor(mof_tensor_dtype(const_tensor(v)), n, axes),
                          "axes");
    free(axes);
    return st;
}

/* The int attribute `name` (default def; no default when has_def is false) is an axis
 * that becomes p's image. */
static mof_status plan_map_axis(struct plan *pl, const char *name, bool has_def, int64_t def,
                                size_t *axis)
{
    if (!has_def && !mof_node_has_attr(pl->node, name))
        return MOF_UNCHANGED;
    if (!norm_axis(mof_node_attr_int(pl->node, name, def), pl->rank, axis))
        return MOF_UNCHANGED;
    pl->int_attr = name;
    pl->int_value = pl->p[*axis];
    return MOF_OK;
}

/* The reduced axes of a Reduce* node, in *reduced (r flags); *all when it reduces
 * every axis, *noop when it reduces none (noop_with_empty_axes). */
static mof_status reduce_axes(struct plan *pl, bool *reduced, bool *all, bool *noop)
{
    mof_node *n = pl->node;
    int64_t *axes = NULL;
    size_t count = 0;
    bool from_input = pl->opset >= pl->rule->axes_input_since;
    mof_status st = MOF_OK;
    *all = *noop = false;
    if (from_input) {
        mof_value *v = mof_node_n_inputs(n) > 1 ? mof_node_input(n, 1) : NULL;
        if (v && (st = const_ints(v, &axes, &count)) != MOF_OK)
            return st;
    } else {
        const int64_t *attr = mof_node_attr_ints(n, "axes", &count);
        if (count && !(axes = perm_alloc(count)))
            return MOF_ERR_NOMEM;
        if (count)
            memcpy(axes, attr, count * sizeof *attr);
    }
    if (count == 0) {
        if (from_input && mof_node_attr_int(n, "noop_with_empty_axes", 0))
            *noop = true;
        else
            *all = true;
    }
    for (size_t k = 0; k < count && st == MOF_OK; k++) {
        size_t a;
        if (norm_axis(axes[k], pl->rank, &a))
            reduced[a] = true;
        else
            st = MOF_UNCHANGED;
    }
    for (size_t a = 0; a < pl->rank && *all; a++)
        reduced[a] = true;
    if (st == MOF_OK && count) {
        if (from_input)
            st = plan_map_axes_input(pl, 1);
        else
            st = plan_map_axes_attr(pl, "axes", axes, count);
    }
    free(axes);
    return st;
}

static mof_status plan_reduce(struct plan *pl)
{
    size_t r = pl->rank;
    if (layout_value_rank(mof_node_input(pl->node, 0), pl->opset) != (int)r)
        return MOF_UNCHANGED;   /* the output rank may differ: know the input's */
    bool *reduced = calloc(r, sizeof *reduced);
    if (!reduced)
        return MOF_ERR_NOMEM;
    bool all, noop;
    mof_status st;
    if (pl->rule->kind == K_ARG) {
        size_t axis;
        st = plan_map_axis(pl, "axis", true, 0, &axis);
        if (st == MOF_OK)
            reduced[axis] = true;
        all = noop = false;
    } else {
        st = reduce_axes(pl, reduced, &all, &noop);
    }
    if (st == MOF_OK && !noop && !pl->rule->order_free && !keeps_order(pl->p, r, reduced))
        st = MOF_UNCHANGED;
    if (st == MOF_OK && !noop && mof_node_attr_int(pl->node, "keepdims", 1) == 0)
        st = plan_drop_axes(pl, 0, reduced);
    free(reduced);
    return st;
}

static mof_status plan_pad(struct plan *pl)
{
    mof_node *n = pl->node;
    size_t r = pl->rank;
    int64_t *pads = NULL;
    size_t count;
    mof_status st;
    if (pl->opset < 11) {
        const int64_t *attr = mof_node_attr_ints(n, "pads", &count);
        if (count != 2 * r)
            return MOF_UNCHANGED;
        pl->ints_attr = "pads";
        pl->n_ints = count;
        if (!(pl->ints = perm_alloc(count)))
            return MOF_ERR_NOMEM;
        for (size_t a = 0; a < r; a++) {
            pl->ints[pl->p[a]] = attr[a];
            pl->ints[r + (size_t)pl->p[a]] = attr[r + a];
        }
        return MOF_OK;
    }
    /* From opset 18 an axes input says which axes the pads are for: only they move. */
    if (mof_node_n_inputs(n) > 3 && mof_node_input(n, 3))
        return plan_map_axes_input(pl, 3);
    if (mof_node_n_inputs(n) < 2)
        return MOF_UNCHANGED;
    if ((st = const_ints(mof_node_input(n, 1), &pads, &count)) != MOF_OK)
        return st;
    if (count != 2 * r) {
        free(pads);
        return MOF_UNCHANGED;
    }
    mof_tensor *t = permute_axis_list(const_tensor(mof_node_input(n, 1)), r, pl->p);
    free(pads);
    return plan_add_aux(pl, 1, t, "pads");
}

static mof_status plan_slice(struct plan *pl)
{
    mof_node *n = pl->node;
    size_t count;
    if (pl->opset < 10) {
        const int64_t *axes = mof_node_attr_ints(n, "axes", &count);
        if (count)
            return plan_map_axes_attr(pl, "axes", axes, count);
        mof_node_attr_ints(n, "starts", &count);
        int64_t *seq = perm_alloc(count);
        if (!seq)
            return MOF_ERR_NOMEM;
        for (size_t k = 0; k < count; k++)
            seq[k] = (int64_t)k;
        mof_status st = plan_map_axes_attr(pl, "axes", seq, count);
        free(seq);
        return st;
    }
    if (mof_node_n_inputs(n) > 3 && mof_node_input(n, 3))
        return plan_map_axes_input(pl, 3);
    /* No axes: starts covers axes 0, 1, ...; say which they are now. */
    mof_value *starts = mof_node_n_inputs(n) > 1 ? mof_node_input(n, 1) : NULL;
    if (!starts)
        return MOF_UNCHANGED;
    const mof_tensor *st_t = const_tensor(starts);
    int64_t k;
    mof_dtype dtype;
    if (st_t) {
        k = mof_tensor_numel(st_t);
        dtype = mof_tensor_dtype(st_t);
    } else {
        if (mof_value_rank(starts) != 1 || !mof_value_has_type(starts))
            return MOF_UNCHANGED;
        k = mof_value_dim(starts, 0);
        dtype = mof_value_dtype(starts);
    }
    if (k < 0 || k > (int64_t)pl->rank ||
        (dtype != MOF_DTYPE_INT64 && dtype != MOF_DTYPE_INT32))
        return MOF_UNCHANGED;
    return plan_add_aux(pl, 3, ints_tensor(dtype, (size_t)k, pl->p), "axes");
}

/* Resize: scales, sizes and roi are per axis; with the axes attribute (opset 18) they
 * follow the listed axes and only those move. */
static mof_status plan_resize(struct plan *pl)
{
    mof_node *n = pl->node;
    size_t r = pl->rank, count;
    const char *mode = mof_node_attr_string(n, "mode", "nearest", NULL);
    bool *resized = calloc(r, sizeof *resized);
    if (!resized)
        return MOF_ERR_NOMEM;
    mof_status st = MOF_OK;
    const int64_t *axes = mof_node_attr_ints(n, "axes", &count);
    if (count) {
        for (size_t k = 0; k < count; k++) {
            size_t a;
            if (norm_axis(axes[k], r, &a))
                resized[a] = true;
        }
        st = plan_map_axes_attr(pl, "axes", axes, count);
    } else {
        for (size_t i = 1; i <= 3 && st == MOF_OK; i++) {
            mof_value *v = i < mof_node_n_inputs(n) ? mof_node_input(n, i) : NULL;
            const mof_tensor *t = const_tensor(v);
            if (!v || (t && mof_tensor_numel(t) == 0))
                continue;
            size_t want = i == 1 ? 2 * r : r;
            if (!t || mof_tensor_rank(t) != 1 || (size_t)mof_tensor_numel(t) != want) {
                st = MOF_UNCHANGED;
                break;
            }
            /* Which axes change size, for the order of linear and cubic passes. */
            for (size_t a = 0; a < r && i > 1; a++) {
                if (i == 2)
                    resized[a] |= ((const float *)mof_tensor_data(t))[a] != 1.0f;
                else
                    resized[a] |= mof_value_dim(mof_node_input(n, 0), a) !=
                                  ((const int64_t *)mof_tensor_data(t))[a];
            }
            st = plan_add_aux(pl, i, permute_axis_list(t, r, pl->p), "scales");
        }
    }
    /* Linear and cubic interpolate one axis after the other: keep that order. */
    if (st == MOF_OK && strcmp(mode, "nearest") != 0 && !keeps_order(pl->p, r, resized))
        st = MOF_UNCHANGED;
    free(resized);
    return st;
}

/* QuantizeLinear / DequantizeLinear: a 1-D scale runs along "axis". */
static mof_status plan_qdq(struct plan *pl)
{
    mof_node *n = pl->node;
    if (mof_node_attr_int(n, "block_size", 0) != 0 || mof_node_n_inputs(n) < 2)
        return MOF_UNCHANGED;
    mof_value *scale = mof_node_input(n, 1);
    const mof_tensor *t = const_tensor(scale);
    if (t ? mof_tensor_numel(t) == 1 : mof_value_rank(scale) == 0)
        return MOF_OK;
    if (layout_value_rank(scale, pl->opset) != 1)
        return MOF_UNCHANGED;
    size_t axis;
    return plan_map_axis(pl, "axis", true, 1, &axis);
}

/* Reshape and Flatten: a reshape splits and merges runs of axes. It moves into layout p
 * when p keeps every run of input axes that merges into one (or splits) together and
 * in order; the runs then come out in p's order, and the output's perm says where each
 * output axis went. All dims must be known. The node becomes a Reshape to the new
 * dims. */

/* A run of input axes [i0, i1) that holds exactly the elements of the output axes
 * [j0, j1); one side may be empty (a dim of 1 dropped or added). key orders the runs
 * in the new layout. */
struct rs_group {
    size_t i0, i1, j0, j1;
    int64_t key;
};

/* The input and output dims of a Reshape or Flatten (malloc'ed), when all are known. */
static mof_status reshape_dims(const mof_node *n, int64_t opset, int64_t **din, size_t *rin,
                               int64_t **dout, size_t *rout)
{
    *din = *dout = NULL;
    const mof_value *x = mof_node_input(n, 0);
    int r = layout_value_rank(x, opset);
    if (r < 0)
        return MOF_UNCHANGED;
    *rin = (size_t)r;
    /* The dims of x, or of the value a Transpose permuted into x. */
    mof_node *prod = mof_value_producer(x, NULL);
    const mof_value *src = x;
    int64_t *perm = NULL;
    size_t pr = 0;
    mof_status st;
    if (mof_value_rank(x) != r && prod && is_transpose(prod)) {
        if ((st = transpose_perm(prod, &perm, &pr)) != MOF_OK)
            return st;
        src = mof_node_input(prod, 0);
    }
    int64_t *in = perm_alloc(*rin), *shape = NULL;
    size_t n_shape = 0;
    if (!in) {
        free(perm);
        return MOF_ERR_NOMEM;
    }
    st = MOF_OK;
    for (size_t i = 0; i < *rin && st == MOF_OK; i++) {
        size_t a = perm ? (size_t)perm[i] : i;
        in[i] = mof_value_rank(src) == r ? mof_value_dim(src, a) : -1;
        if (in[i] <= 0)
            st = MOF_UNCHANGED;   /* unknown, or empty: nothing to gain */
    }
    free(perm);
    if (st == MOF_OK && is_onnx_op(n, "Flatten")) {
        size_t axis;
        int64_t a = mof_node_attr_int(n, "axis", 1);
        if (a == r)
            axis = *rin;
        else if (!norm_axis(a, *rin, &axis))
            st = MOF_UNCHANGED;
        if (st == MOF_OK && !(shape = perm_alloc(2)))
            st = MOF_ERR_NOMEM;
        if (st == MOF_OK) {
            shape[0] = shape[1] = 1;
            for (size_t i = 0; i < *rin; i++)
                shape[i < axis ? 0 : 1] *= in[i];
            n_shape = 2;
        }
    } else if (st == MOF_OK) {
        /* Reshape: 0 copies the input dim (unless allowzero), -1 takes what is left. */
        if (mof_node_n_inputs(n) < 2 ||
            (st = const_ints(mof_node_input(n, 1), &shape, &n_shape)) != MOF_OK) {
            st = st < 0 ? st : MOF_UNCHANGED;
        } else {
            int64_t total = 1, known = 1;
            size_t minus = SIZE_MAX;
            bool allowzero = mof_node_attr_int(n, "allowzero", 0) != 0;
            for (size_t i = 0; i < *rin; i++)
                total *= in[i];
            for (size_t j = 0; j < n_shape && st == MOF_OK; j++) {
                if (shape[j] == 0 && !allowzero && j < *rin)
                    shape[j] = in[j];
                if (shape[j] == -1 && minus == SIZE_MAX)
                    minus = j;
                else if (shape[j] <= 0)
                    st = MOF_UNCHANGED;
                else
                    known *= shape[j];
            }
            if (st == MOF_OK && minus != SIZE_MAX)
                shape[minus] = known > 0 && total % known == 0 ? total / known : -1;
            if (st == MOF_OK && (minus != SIZE_MAX && shape[minus] <= 0))
                st = MOF_UNCHANGED;
        }
    }
    if (st != MOF_OK) {
        free(in);
        free(shape);
        return st;
    }
    *din = in;
    *dout = shape;
    *rout = n_shape;
    return MOF_OK;
}

/* Splits a reshape into its smallest runs of equal size (groups holds rin + rout
 * entries). False when the sizes do not match. */
static bool reshape_groups(const int64_t *din, size_t rin, const int64_t *dout, size_t rout,
                           struct rs_group *groups, size_t *n_groups)
{
    size_t i = 0, j = 0, n = 0;
    while (i < rin || j < rout) {
        struct rs_group *gr = &groups[n++];
        gr->i0 = i;
        gr->j0 = j;
        bool one_in = i < rin && din[i] == 1, one_out = j < rout && dout[j] == 1;
        if (one_in || one_out) {
            /* Dims of 1 pair up where both sides have one, else stand alone. */
            i += one_in;
            j += one_out;
        } else {
            if (i == rin || j == rout)
                return false;
            int64_t pi = din[i++], po = dout[j++];
            while (pi != po) {
                if (pi < po) {
                    if (i == rin)
                        return false;
                    pi *= din[i++];
                } else {
                    if (j == rout)
                        return false;
                    po *= dout[j++];
                }
            }
        }
        gr->i1 = i;
        gr->j1 = j;
    }
    *n_groups = n;
    return true;
}

/* Keys each group by where order[] (indexed by input axes when by_input, else output
 * axes) puts its first axis; a group empty on that side follows the group before it.
 * False when order splits a group or reverses it. */
static bool reshape_keys(struct rs_group *groups, size_t n, const int64_t *order, bool by_input)
{
    int64_t prev = -1;
    for (size_t g = 0; g < n; g++) {
        size_t a0 = by_input ? groups[g].i0 : groups[g].j0;
        size_t a1 = by_input ? groups[g].i1 : groups[g].j1;
        for (size_t a = a0; a + 1 < a1; a++)
            if (order[a + 1] != order[a] + 1)
                return false;
        groups[g].key = a1 > a0 ? order[a0] : prev;
        prev = groups[g].key;
    }
    return true;
}

/* Where each input axis (in_pos) and output axis (out_pos) lands when the groups are
 * laid out by key (ties: in their order). */
static mof_status reshape_layout(const struct rs_group *groups, size_t n, int64_t *in_pos,
                                 int64_t *out_pos)
{
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    if (!order)
        return MOF_ERR_NOMEM;
    for (size_t g = 0; g < n; g++) {
        size_t k = g;
        while (k > 0 && groups[order[k - 1]].key > groups[g].key) {
            order[k] = order[k - 1];
            k--;
        }
        order[k] = g;
    }
    int64_t pi = 0, po = 0;
    for (size_t k = 0; k < n; k++) {
        const struct rs_group *gr = &groups[order[k]];
        for (size_t a = gr->i0; a < gr->i1; a++)
            in_pos[a] = pi++;
        for (size_t a = gr->j0; a < gr->j1; a++)
            out_pos[a] = po++;
    }
    free(order);
    return MOF_OK;
}

/* The layout of a reshape: from the input perm p (by_input) or the output perm (else),
 * the other perm. MOF_UNCHANGED when the reshape cannot move that way. */
static mof_status reshape_perms(const mof_node *n, int64_t opset, const int64_t *given,
                                bool by_input, int64_t **in_perm, int64_t **out_perm,
                                int64_t **dout, size_t *rin, size_t *rout)
{
    int64_t *din = NULL;
    struct rs_group *groups = NULL;
    size_t n_groups;
    *in_perm = *out_perm = *dout = NULL;
    mof_status st = reshape_dims(n, opset, &din, rin, dout, rout);
    if (st != MOF_OK)
        return st;
    groups = malloc((*rin + *rout + 1) * sizeof *groups);
    *in_perm = perm_alloc(*rin);
    *out_perm = perm_alloc(*rout);
    if (!groups || !*in_perm || !*out_perm)
        st = MOF_ERR_NOMEM;
    else if (!reshape_groups(din, *rin, *dout, *rout, groups, &n_groups) ||
             !reshape_keys(groups, n_groups, given, by_input))
        st = MOF_UNCHANGED;
    else
        st = reshape_layout(groups, n_groups, *in_perm, *out_perm);
    free(din);
    free(groups);
    if (st != MOF_OK) {
        free(*in_perm);
        free(*out_perm);
        free(*dout);
        *in_perm = *out_perm = *dout = NULL;
    }
    return st;
}

static mof_status plan_reshape(struct plan *pl)
{
    int64_t *in_perm, *out_perm, *dout;
    size_t rin, rout;
    mof_status st = reshape_perms(pl->node, pl->opset, pl->p, true, &in_perm, &out_perm,
                                  &dout, &rin, &rout);
    if (st != MOF_OK)
        return st;
    if (rin != pl->rank || !perm_equal(in_perm, rin, pl->p, pl->rank)) {
        st = MOF_UNCHANGED;
        goto done;
    }
    /* The new shape lists the output dims in their new order. */
    int64_t *shape = perm_alloc(rout);
    if (!shape) {
        st = MOF_ERR_NOMEM;
        goto done;
    }
    for (size_t j = 0; j < rout; j++)
        shape[out_perm[j]] = dout[j];
    st = plan_add_aux(pl, 1, ints_tensor(MOF_DTYPE_INT64, rout, shape), "shape");
    free(shape);
    if (st != MOF_OK)
        goto done;
    pl->op_type = "Reshape";
    pl->keep_attrs = is_onnx_op(pl->node, "Reshape");
    free(pl->out_perm[0]);
    pl->out_perm[0] = NULL;
    pl->out_rank[0] = rout;
    if (!perm_is_identity(out_perm, rout)) {
        pl->out_perm[0] = out_perm;
        out_perm = NULL;
    }
done:
    free(in_perm);
    free(out_perm);
    free(dout);
    return st;
}

/* The rule's changes to the node for layout p; MOF_UNCHANGED when it cannot move. */
static mof_status plan_rule(struct plan *pl)
{
    size_t axis;
    switch (pl->rule->kind) {
    case K_UNARY:
    case K_BROADCAST:
        return MOF_OK;
    case K_CONCAT:
        return plan_map_axis(pl, "axis", false, 0, &axis);
    case K_SPLIT:
        return plan_map_axis(pl, "axis", true, 0, &axis);
    case K_SOFTMAX:
        return plan_map_axis(pl, "axis", true, -1, &axis);
    case K_REDUCE:
    case K_ARG:
        return plan_reduce(pl);
    case K_PAD:
        return plan_pad(pl);
    case K_SLICE:
        return plan_slice(pl);
    case K_RESIZE:
        return plan_resize(pl);
    case K_QDQ:
        return plan_qdq(pl);
    case K_RESHAPE:
        return plan_reshape(pl);
    }
    return MOF_UNCHANGED;
}

/* Whether v (not a graph output) is read only by n, at carried inputs. */
static bool only_read_by(const mof_value *v, const mof_node *n, const struct op_rule *rule)
{
    if (mof_value_is_graph_output(v))
        return false;
    for (size_t k = 0; k < mof_value_n_uses(v); k++) {
        int idx;
        if (mof_value_use(v, k, &idx) != n || idx < 0 || !is_carried(rule, (size_t)idx))
            return false;
    }
    return true;
}

/* Whether input i repeats an earlier input of the node. */
static bool repeats_earlier(const mof_node *n, size_t i)
{
    for (size_t k = 0; k < i; k++)
        if (mof_node_input(n, k) == mof_node_input(n, i))
            return true;
    return false;
}

/* What happens to each input, and what it costs. */
static mof_status plan_inputs(struct plan *pl)
{
    mof_node *n = pl->node;
    size_t r = pl->rank;
    bool broadcast = pl->rule->kind == K_BROADCAST;
    for (size_t i = 0; i < pl->n_in; i++) {
        mof_value *u = mof_node_input(n, i);
        pl->act[i] = IN_KEEP;
        if (!is_carried(pl->rule, i))
            continue;
        if (!u)
            return MOF_UNCHANGED;
        mof_node *prod = mof_value_producer(u, NULL);
        if (prod && is_transpose(prod)) {
            int64_t *q;
            size_t rq;
            mof_status st = transpose_perm(prod, &q, &rq);
            if (st < 0)
                return st;
            bool same = st == MOF_OK && perm_equal(q, rq, pl->p, r);
            free(q);
            if (same) {
                pl->act[i] = IN_UNDO;
                pl->undoes = true;
                if (!repeats_earlier(n, i) && only_read_by(u, n, pl->rule))
                    pl->cost--;
                continue;
            }
        }
        const mof_tensor *c = const_tensor(u);
        if (c) {
            size_t rc = mof_tensor_rank(c);
            if (mof_tensor_dtype(c) == MOF_DTYPE_STRING || rc > r || (!broadcast && rc != r))
                return MOF_UNCHANGED;
            pl->act[i] = broadcast && mof_tensor_numel(c) == 1 ? IN_KEEP : IN_CONST;
            continue;
        }
        int ru = layout_value_rank(u, pl->opset);
        if (broadcast && ru == 0)
            continue;
        if (ru >= 0 ? ru != (int)r : broadcast)
            return MOF_UNCHANGED;
        pl->act[i] = IN_INSERT;
        pl->inserts = true;
        /* A new Transpose after a Transpose that only n reads merges with it. */
        if (!repeats_earlier(n, i) && !(prod && is_transpose(prod) && only_read_by(u, n, pl->rule)))
            pl->cost++;
    }
    return MOF_OK;
}

/* What the outputs cost: a Transpose after each used output, unless all that reads
 * it are Transposes by the inverse, which then go. */
static mof_status plan_outputs(struct plan *pl)
{
    for (size_t j = 0; j < pl->n_out; j++) {
        mof_value *y = mof_node_output(pl->node, j);
        if (!y)
            return MOF_UNCHANGED;
        if (!pl->out_perm[j] || !value_is_used(y))
            continue;
        size_t rq = pl->out_rank[j];
        int64_t *inv = perm_alloc(rq);
        if (!inv)
            return MOF_ERR_NOMEM;
        perm_invert(pl->out_perm[j], rq, inv);
        bool needs_new = mof_value_is_graph_output(y);
        for (size_t k = 0; k < mof_value_n_uses(y); k++) {
            int idx;
            mof_node *c = mof_value_use(y, k, &idx);
            int64_t *q;
            size_t rc;
            if (idx < 0 || !is_transpose(c)) {
                needs_new = true;
                continue;
            }
            mof_status st = transpose_perm(c, &q, &rc);
            if (st < 0) {
                free(inv);
                return st;
            }
            if (st == MOF_OK && perm_equal(q, rc, inv, rq))
                pl->cost--;
            free(q);
        }
        free(inv);
        if (needs_new)
            pl->cost++;
    }
    return MOF_OK;
}

/* Plans moving n into layout p; MOF_UNCHANGED when it cannot. */
static mof_status plan_make(struct plan *pl, mof_node *n, const struct op_rule *rule,
                            int64_t opset, const int64_t *p, size_t r)
{
    mof_status st = plan_init(pl, n, rule, opset, p, r);
    if (st == MOF_OK)
        st = plan_rule(pl);
    if (st == MOF_OK)
        st = plan_inputs(pl);
    if (st == MOF_OK)
        st = plan_outputs(pl);
    return st;
}

mof_node *layout_add_transpose(mof_graph *g, mof_insert where, mof_node *anchor, mof_value *v,
                               const int64_t *perm, size_t r, const mof_node *origin)
{
    mof_node *t = mof_graph_add_node(g, where, anchor, "Transpose", NULL, NULL, 1, &v, 1);
    if (!t)
        return NULL;
    /* Named after nothing, like most nodes of exported models (its output has a name). */
    if (mof_node_set_name(t, "") != MOF_OK ||
        mof_node_set_attr_ints(t, "perm", r, perm) != MOF_OK ||
        mof_node_add_origins(t, origin) != MOF_OK ||
        layout_copy_permuted_type(mof_node_output(t, 0), v, perm, r) != MOF_OK)
        return NULL;
    return t;
}

/* The inputs of the moved node, made in front of it. */
static mof_status build_inputs(mof_graph *g, struct plan *pl, mof_value **ins)
{
    mof_node *n = pl->node;
    for (size_t i = 0; i < pl->n_in; i++) {
        mof_value *u = mof_node_input(n, i);
        size_t prev = i;
        for (size_t k = 0; k < i && prev == i; k++)
            if (mof_node_input(n, k) == u && pl->act[k] == pl->act[i])
                prev = k;
        if (prev != i) {
            ins[i] = ins[prev];
            continue;
        }
        switch (pl->act[i]) {
        case IN_KEEP:
            ins[i] = u;
            break;
        case IN_UNDO:
            ins[i] = mof_node_input(mof_value_producer(u, NULL), 0);
            break;
        case IN_CONST: {
            mof_tensor *t = permute_tensor(const_tensor(u), pl->rank, pl->pinv);
            if (!t || !(ins[i] = mof_graph_add_initializer(g, mof_value_name(u), t)))
                return MOF_ERR_NOMEM;
            break;
        }
        case IN_INSERT: {
            mof_node *t = layout_add_transpose(g, MOF_INSERT_BEFORE, n, u, pl->pinv, pl->rank, n);
            if (!t)
                return MOF_ERR_NOMEM;
            ins[i] = mof_node_output(t, 0);
            break;
        }
        }
    }
    for (size_t k = 0; k < pl->n_aux; k++) {
        mof_value *old = pl->aux_index[k] < pl->n_in ? mof_node_input(n, pl->aux_index[k]) : NULL;
        mof_value *v = mof_graph_add_initializer(g, old ? mof_value_name(old) : pl->aux_hint[k],
                                                 pl->aux[k]);
        pl->aux[k] = NULL;   /* taken over, even on failure */
        if (!v)
            return MOF_ERR_NOMEM;
        ins[pl->aux_index[k]] = v;
    }
    return MOF_OK;
}

/* Removes what the moved node read and nobody reads any more: Transposes it read
 * through, constants it replaced. A replacing constant takes the name of the one it
 * replaced, so that the text of a model reads the same before and after. */
static mof_status drop_unused(mof_graph *g, mof_value **olds, mof_value **news, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        mof_value *v = olds[i];
        bool dup = false;
        for (size_t k = 0; k < i && !dup; k++)
            dup = olds[k] == v;
        if (dup || !v || value_is_used(v))
            continue;
        mof_node *prod = mof_value_producer(v, NULL);
        bool is_const = prod ? is_onnx_op(prod, "Constant")
                             : mof_value_is_constant(v) && !mof_value_is_graph_input(v);
        if (prod && !is_const && !is_transpose(prod))
            continue;
        char *name = NULL;
        if (is_const && news[i] != v && mof_value_is_constant(news[i]) &&
            !(name = copy_string(mof_value_name(v))))
            return MOF_ERR_NOMEM;
        mof_status st = prod ? remove_if_dead(g, prod) : mof_graph_remove_initializer(g, v);
        if (st == MOF_OK && name)
            (void)mof_value_set_name(news[i], name);
        free(name);
        if (st < 0)
            return st;
    }
    return MOF_OK;
}

/* Moves the node as planned. */
static mof_status plan_apply(mof_graph *g, struct plan *pl, int64_t *merged)
{
    mof_node *n = pl->node;
    size_t n_new_in = pl->n_in;
    for (size_t k = 0; k < pl->n_aux; k++)
        if (pl->aux_index[k] + 1 > n_new_in)
            n_new_in = pl->aux_index[k] + 1;
    mof_value **ins = calloc(n_new_in ? n_new_in : 1, sizeof *ins);
    mof_value **olds = calloc(pl->n_in ? pl->n_in : 1, sizeof *olds);
    mof_node **after = calloc(pl->n_out ? pl->n_out : 1, sizeof *after);
    char **names = calloc(pl->n_out ? pl->n_out : 1, sizeof *names);
    mof_status st = MOF_ERR_NOMEM;
    if (!ins || !olds || !after || !names)
        goto done;
    for (size_t i = 0; i < pl->n_in; i++)
        olds[i] = mof_node_input(n, i);
    if ((st = build_inputs(g, pl, ins)) != MOF_OK)
        goto done;
    const char *name = mof_node_name(n);
    mof_node *m = mof_graph_add_node(g, MOF_INSERT_AFTER, n,
                                     pl->op_type ? pl->op_type : mof_node_op_type(n),
                                     mof_node_domain(n), name[0] ? name : NULL, n_new_in, ins,
                                     pl->n_out);
    st = MOF_ERR_NOMEM;
    if (!m || (pl->keep_attrs && mof_node_copy_attrs(m, n) != MOF_OK) ||
        mof_node_add_origins(m, n) != MOF_OK ||
        (!name[0] && mof_node_set_name(m, "") != MOF_OK))
        goto done;
    if ((pl->int_attr && mof_node_set_attr_int(m, pl->int_attr, pl->int_value) != MOF_OK) ||
        (pl->ints_attr && mof_node_set_attr_ints(m, pl->ints_attr, pl->n_ints, pl->ints) !=
                              MOF_OK))
        goto done;
    /* Each output comes back through a Transpose, which the Transposes reading it then
     * fold into. */
    mof_node *last = m;
    for (size_t j = 0; j < pl->n_out; j++) {
        mof_value *y = mof_node_output(n, j), *y2 = mof_node_output(m, j);
        if (!(names[j] = copy_string(mof_value_name(y))))
            goto done;
        if (!pl->out_perm[j]) {
            if (mof_value_copy_type(y2, y) != MOF_OK ||
                (value_is_used(y) && mof_value_replace_uses(y, y2) != MOF_OK))
                goto done;
            continue;
        }
        size_t rq = pl->out_rank[j];
        int64_t *inv = perm_alloc(rq);
        if (!inv)
            goto done;
        perm_invert(pl->out_perm[j], rq, inv);
        st = layout_copy_permuted_type(y2, y, inv, rq);
        free(inv);
        if (st != MOF_OK)
            goto done;
        st = MOF_ERR_NOMEM;
        if (!value_is_used(y))
            continue;
        mof_node *t = layout_add_transpose(g, MOF_INSERT_AFTER, last, y2, pl->out_perm[j], rq, n);
        if (!t || mof_value_copy_type(mof_node_output(t, 0), y) != MOF_OK ||
            mof_value_replace_uses(y, mof_node_output(t, 0)) != MOF_OK)
            goto done;
        last = t;
        after[j] = t;
    }
    if ((st = mof_graph_remove_node(g, n)) != MOF_OK)
        goto done;
    for (size_t j = 0; j < pl->n_out; j++) {
        mof_node *t = after[j];
        if (!t)
            continue;
        /* Keep the old name on the value in the old layout, so later nodes read the
         * same names as before. */
        mof_value *tv = mof_node_output(t, 0);
        if (strcmp(mof_value_name(tv), names[j]) != 0 && !mof_value_is_graph_output(tv))
            (void)mof_value_set_name(tv, names[j]);
        if ((st = merge_consumers(g, t, merged)) != MOF_OK)
            goto done;
    }
    for (size_t j = 0; j < pl->n_out; j++) {
        mof_value *y2 = mof_node_output(m, j);
        if (!after[j] && !pl->out_perm[j] && strcmp(mof_value_name(y2), names[j]) != 0 &&
            !mof_value_is_graph_output(y2))
            (void)mof_value_set_name(y2, names[j]);
    }
    st = drop_unused(g, olds, ins, pl->n_in);
done:
    if (names)
        for (size_t j = 0; j < pl->n_out; j++)
            free(names[j]);
    free(names);
    free(after);
    free(olds);
    free(ins);
    return st;
}

/* ------------------------------------------------------------------ the engine */

struct sink {
    mof_graph *g;
    int64_t opset;
    struct layout_sink_stats *stats;
};

/* A permutation worth trying for n, once. */
struct candidate {
    int64_t *p;
    size_t r;
};

static bool candidate_seen(const struct candidate *c, size_t n, const int64_t *p, size_t r)
{
    for (size_t k = 0; k < n; k++)
        if (perm_equal(c[k].p, c[k].r, p, r))
            return true;
    return false;
}

/* The layouts to try for n: the perms of the Transposes feeding its carried inputs
 * (moving them down), and the inverses of those reading its outputs (moving those up). */
static mof_status candidates_of(const mof_node *n, const struct op_rule *rule, int64_t opset,
                                struct candidate **out, size_t *count)
{
    size_t cap = mof_node_n_inputs(n);
    for (size_t j = 0; j < mof_node_n_outputs(n); j++)
        if (mof_node_output(n, j))
            cap += mof_value_n_uses(mof_node_output(n, j));
    struct candidate *c = calloc(cap ? cap : 1, sizeof *c);
    if (!c)
        return MOF_ERR_NOMEM;
    size_t k = 0;
    mof_status st = MOF_OK;
    for (size_t i = 0; i < mof_node_n_inputs(n) && st >= 0; i++) {
        mof_value *u = mof_node_input(n, i);
        mof_node *prod = u ? mof_value_producer(u, NULL) : NULL;
        if (!is_carried(rule, i) || !prod || !is_transpose(prod))
            continue;
        int64_t *p;
        size_t r;
        if ((st = transpose_perm(prod, &p, &r)) != MOF_OK)
            continue;
        if (candidate_seen(c, k, p, r)) {
            free(p);
            continue;
        }
        c[k].p = p;
        c[k++].r = r;
    }
    for (size_t j = 0; j < mof_node_n_outputs(n) && st >= 0; j++) {
        mof_value *y = mof_node_output(n, j);
        for (size_t u = 0; y && u < mof_value_n_uses(y) && st >= 0; u++) {
            int idx;
            mof_node *t = mof_value_use(y, u, &idx);
            int64_t *q, *p;
            size_t r;
            if (idx < 0 || !is_transpose(t) || (st = transpose_perm(t, &q, &r)) != MOF_OK)
                continue;
            if (!(p = perm_alloc(r))) {
                free(q);
                st = MOF_ERR_NOMEM;
                break;
            }
            perm_invert(q, r, p);
            free(q);
            if (rule->kind == K_RESHAPE) {
                /* The input layout whose output layout cancels the reader. */
                int64_t *out_perm, *dout;
                size_t rin, rout;
                int64_t *in_perm;
                st = reshape_perms(n, opset, p, false, &in_perm, &out_perm, &dout, &rin,
                                   &rout);
                free(p);
                free(out_perm);
                free(dout);
                if (st != MOF_OK)
                    continue;
                p = in_perm;
                r = rin;
            }
            if (candidate_seen(c, k, p, r)) {
                free(p);
                continue;
            }
            c[k].p = p;
            c[k++].r = r;
        }
    }
    *out = c;
    *count = k;
    return st < 0 ? st : MOF_OK;
}

/* Tries to move n into the best of its candidate layouts. MOF_OK when it moved. */
static mof_status try_move(struct sink *s, mof_node *n, const struct op_rule *rule)
{
    struct candidate *cands = NULL;
    size_t n_cands = 0;
    struct plan best = { 0 }, pl;
    bool have = false;
    mof_status st = candidates_of(n, rule, s->opset, &cands, &n_cands);
    for (size_t k = 0; k < n_cands && st >= 0; k++) {
        st = plan_make(&pl, n, rule, s->opset, cands[k].p, cands[k].r);
        if (st != MOF_OK) {
            plan_free(&pl);
            continue;
        }
        /* A move pays when it removes Transposes, or when it moves one down and
         * inserts none; the cheapest (then the first) wins. */
        bool ok = pl.cost < 0 || (pl.cost == 0 && pl.undoes && !pl.inserts);
        if (ok && (!have || pl.cost < best.cost)) {
            plan_free(&best);
            best = pl;
            have = true;
        } else {
            plan_free(&pl);
        }
    }
    for (size_t k = 0; k < n_cands; k++)
        free(cands[k].p);
    free(cands);
    if (st < 0) {
        plan_free(&best);
        return st;
    }
    if (!have)
        return MOF_UNCHANGED;
    int64_t cost = best.cost;
    st = plan_apply(s->g, &best, &s->stats->merged);
    plan_free(&best);
    if (st != MOF_OK)
        return st < 0 ? st : MOF_ERR_INTERNAL;
    s->stats->rewrites++;
    if (cost == 0)
        s->stats->moved++;
    return MOF_OK;
}

/* Whether a comes before b in their graph. */
static bool comes_before(const mof_node *a, const mof_node *b)
{
    for (const mof_node *n = mof_node_prev(b); n; n = mof_node_prev(n))
        if (n == a)
            return true;
    return false;
}

/* A Transpose earlier in the graph that computes what t computes (same input, same
 * perm) and whose output can stand for t's, in *twin; NULL when none. */
static mof_status earlier_twin(const mof_node *t, mof_node **twin)
{
    int64_t *p = NULL, *q;
    size_t r, rq;
    mof_value *in = mof_node_input(t, 0), *out = mof_node_output(t, 0);
    *twin = NULL;
    mof_status st = transpose_perm(t, &p, &r);
    if (st != MOF_OK)
        return st < 0 ? st : MOF_OK;
    for (size_t k = 0; k < mof_value_n_uses(in) && !*twin; k++) {
        int idx;
        mof_node *u = mof_value_use(in, k, &idx);
        if (u == t || idx != 0 || !is_transpose(u) ||
            !mof_value_can_replace(out, mof_node_output(u, 0)))
            continue;
        if ((st = transpose_perm(u, &q, &rq)) < 0)
            break;
        if (st == MOF_OK && perm_equal(p, r, q, rq) && comes_before(u, t))
            *twin = u;
        free(q);
        st = MOF_OK;
    }
    free(p);
    return st;
}

/* Whether n is a Shape that reports the whole shape (no start/end, opset 15). */
static bool is_whole_shape(const mof_node *n)
{
    return is_onnx_op(n, "Shape") && mof_node_n_outputs(n) == 1 && mof_node_output(n, 0) &&
           !mof_node_has_attr(n, "start") && !mof_node_has_attr(n, "end");
}

/* A Transpose read only by Shape nodes moves no data anyone needs: each
 * Shape(Transpose(x, p)) becomes Gather(Shape(x), p). MOF_OK when t went. */
static mof_status bypass_shape_readers(mof_graph *g, mof_node *t)
{
    mof_value *out = mof_node_output(t, 0), *in = mof_node_input(t, 0);
    size_t n_users = mof_value_n_uses(out);
    if (n_users == 0 || mof_value_is_graph_output(out))
        return MOF_UNCHANGED;
    for (size_t k = 0; k < n_users; k++) {
        int idx;
        if (!is_whole_shape(mof_value_use(out, k, &idx)) || idx != 0)
            return MOF_UNCHANGED;
    }
    int64_t *p;
    size_t r;
    mof_status st = transpose_perm(t, &p, &r);
    if (st != MOF_OK)
        return st;
    mof_tensor *idx_t = ints_tensor(MOF_DTYPE_INT64, r, p);
    free(p);
    mof_value *perm_v = idx_t ? mof_graph_add_initializer(g, "perm", idx_t) : NULL;
    if (!perm_v)
        return MOF_ERR_NOMEM;
    while (mof_value_n_uses(out) > 0 && st == MOF_OK) {
        mof_node *shape = mof_value_use(out, 0, NULL);
        mof_node *s2 = mof_graph_add_node(g, MOF_INSERT_AFTER, shape, "Shape", NULL, NULL, 1,
                                          &in, 1);
        mof_value *gin[2] = { s2 ? mof_node_output(s2, 0) : NULL, perm_v };
        mof_node *gather = s2 ? mof_graph_add_node(g, MOF_INSERT_AFTER, s2, "Gather", NULL,
                                                   NULL, 2, gin, 1)
                              : NULL;
        if (!gather || mof_node_set_name(s2, "") != MOF_OK ||
            mof_node_set_name(gather, "") != MOF_OK ||
            mof_node_add_origins(s2, shape) != MOF_OK ||
            mof_node_add_origins(gather, shape) != MOF_OK ||
            mof_node_set_attr_int(gather, "axis", 0) != MOF_OK ||
            mof_value_copy_type(mof_node_output(s2, 0), mof_node_output(shape, 0)) != MOF_OK ||
            mof_value_copy_type(mof_node_output(gather, 0), mof_node_output(shape, 0)) != MOF_OK)
            return MOF_ERR_NOMEM;
        if ((st = mof_value_replace_uses(mof_node_output(shape, 0),
                                         mof_node_output(gather, 0))) == MOF_OK)
            st = mof_graph_remove_node(g, shape);
    }
    return st == MOF_OK ? mof_graph_remove_node(g, t) : st;
}

/* Merges Transpose t with the Transposes reading it, or into an earlier twin, or drops
 * it when it is an identity. MOF_OK when something changed. */
static mof_status try_merge(struct sink *s, mof_node *t)
{
    int64_t *p;
    size_t r;
    mof_status st = transpose_perm(t, &p, &r);
    if (st != MOF_OK)
        return st;
    bool identity = perm_is_identity(p, r);
    free(p);
    if (identity) {
        st = bypass(s->g, t, mof_node_input(t, 0));
        if (st == MOF_OK) {
            s->stats->merged++;
            s->stats->rewrites++;
        }
        return st;
    }
    mof_node *twin;
    if ((st = earlier_twin(t, &twin)) < 0)
        return st;
    if (twin) {
        if ((st = mof_value_replace_uses(mof_node_output(t, 0), mof_node_output(twin, 0))) !=
                MOF_OK ||
            (st = mof_graph_remove_node(s->g, t)) != MOF_OK)
            return st;
        s->stats->merged++;
        s->stats->rewrites++;
        return MOF_OK;
    }
    if ((st = bypass_shape_readers(s->g, t)) != MOF_UNCHANGED) {
        if (st == MOF_OK)
            s->stats->rewrites++;
        return st;
    }
    int64_t before = s->stats->merged;
    st = merge_consumers(s->g, t, &s->stats->merged);
    if (st != MOF_OK)
        return st;
    if (s->stats->merged == before)
        return MOF_UNCHANGED;
    s->stats->rewrites++;
    return MOF_OK;
}

/* ------------------------------------------------------------------ moving a region */

/* A node move pays for itself or not by its own inputs and outputs; a diamond such as
 * Transpose -> Split -> (Relu, Neg) -> Concat -> Transpose(inverse) only pays as a
 * whole, and so does an island of NCHW nodes between two NHWC regions. A region is a
 * connected set of layout-agnostic nodes, each moving into its own layout such that
 * every edge inside the region agrees (the producer's output layout is the reader's
 * input layout; a Reshape changes the layout it passes on). Its cost counts only the
 * Transposes at its boundary: inputs it reads through, inputs that need one, outputs
 * read outside it (a Transpose reading one merges with the new one). When that count
 * falls, its nodes move one after the other, in graph order, and the Transposes
 * between them cancel as they go. */

/* Regions stop growing at this many nodes (each node costs a linear membership test). */
#define REGION_MAX_NODES 256

struct region {
    mof_node **nodes;
    struct plan *plans;     /* each node moving into its layout, on the graph as it was */
    size_t n;
};

static void region_clear(struct region *rg)
{
    for (size_t k = 0; k < rg->n; k++)
        plan_free(&rg->plans[k]);
    rg->n = 0;
}

/* The index of n in the region, or SIZE_MAX. */
static size_t region_find(const struct region *rg, const mof_node *n)
{
    for (size_t k = 0; k < rg->n; k++)
        if (rg->nodes[k] == n)
            return k;
    return SIZE_MAX;
}

/* Adds n to the region. Reading an edge of layout `layout` (rank r): when out_index is
 * SIZE_MAX n reads it, so n moves into that layout; otherwise n writes it as output
 * out_index, so n moves into whatever layout gives that output this layout. */
static mof_status region_add(struct sink *s, struct region *rg, mof_node *n, size_t out_index,
                             const int64_t *layout, size_t r)
{
    const struct op_rule *rule = find_rule(n, s->opset);
    if (!rule || rg->n >= REGION_MAX_NODES || region_find(rg, n) != SIZE_MAX ||
        perm_is_identity(layout, r))
        return MOF_UNCHANGED;
    int64_t *p = NULL, *out_perm = NULL, *dout = NULL;
    size_t rp = r, rout;
    mof_status st = MOF_OK;
    if (out_index != SIZE_MAX && rule->kind == K_RESHAPE)
        st = reshape_perms(n, s->opset, layout, false, &p, &out_perm, &dout, &rp, &rout);
    free(out_perm);
    free(dout);
    if (st != MOF_OK)
        return st;
    struct plan *pl = &rg->plans[rg->n];
    st = plan_make(pl, n, rule, s->opset, p ? p : layout, rp);
    free(p);
    if (st == MOF_OK && out_index != SIZE_MAX &&
        !(pl->out_perm[out_index] &&
          perm_equal(pl->out_perm[out_index], pl->out_rank[out_index], layout, r)))
        st = MOF_UNCHANGED;
    if (st == MOF_OK && perm_is_identity(pl->p, pl->rank))
        st = MOF_UNCHANGED;
    if (st != MOF_OK) {
        plan_free(pl);
        return st;
    }
    rg->nodes[rg->n++] = n;
    return MOF_OK;
}

/* Grows the region breadth first from the nodes it holds: to the readers of outputs
 * that change layout (down), and to the producers of carried inputs (up). */
static mof_status region_grow(struct sink *s, struct region *rg, bool down, bool up)
{
    for (size_t k = 0; k < rg->n; k++) {
        mof_node *n = rg->nodes[k];
        mof_status st = MOF_OK;
        for (size_t j = 0; j < rg->plans[k].n_out && st >= 0 && down; j++) {
            mof_value *y = mof_node_output(n, j);
            const int64_t *o = rg->plans[k].out_perm[j];
            size_t ro = rg->plans[k].out_rank[j];
            for (size_t u = 0; y && o && u < mof_value_n_uses(y) && st >= 0; u++) {
                int idx;
                mof_node *c = mof_value_use(y, u, &idx);
                const struct op_rule *cr = find_rule(c, s->opset);
                if (idx >= 0 && cr && is_carried(cr, (size_t)idx))
                    st = region_add(s, rg, c, SIZE_MAX, o, ro);
            }
        }
        for (size_t i = 0; i < rg->plans[k].n_in && st >= 0 && up; i++) {
            mof_value *u = mof_node_input(n, i);
            size_t out_index;
            mof_node *m = u ? mof_value_producer(u, &out_index) : NULL;
            if (is_carried(rg->plans[k].rule, i) && m)
                st = region_add(s, rg, m, out_index, rg->plans[k].p, rg->plans[k].rank);
        }
        if (st < 0)
            return st;
    }
    return MOF_OK;
}

/* Whether v is read only by carried inputs of region nodes (and is no graph output). */
static bool only_read_by_region(const struct region *rg, const mof_value *v)
{
    if (mof_value_is_graph_output(v))
        return false;
    for (size_t k = 0; k < mof_value_n_uses(v); k++) {
        int idx;
        mof_node *c = mof_value_use(v, k, &idx);
        size_t at = region_find(rg, c);
        if (idx < 0 || at == SIZE_MAX || !is_carried(rg->plans[at].rule, (size_t)idx))
            return false;
    }
    return true;
}

/* Whether value v was counted already (records it otherwise). */
static bool seen_value(mof_value **seen, size_t *n_seen, mof_value *v)
{
    for (size_t k = 0; k < *n_seen; k++)
        if (seen[k] == v)
            return true;
    seen[(*n_seen)++] = v;
    return false;
}

/* The change in the number of Transposes when the region moves; MOF_UNCHANGED when
 * two of its nodes disagree on the layout of an edge between them. */
static mof_status region_cost(const struct region *rg, int64_t *cost)
{
    size_t cap = 0;
    for (size_t k = 0; k < rg->n; k++)
        cap += rg->plans[k].n_in;
    mof_value **seen = malloc((cap ? cap : 1) * sizeof *seen);
    if (!seen)
        return MOF_ERR_NOMEM;
    size_t n_seen = 0;
    mof_status st = MOF_OK;
    *cost = 0;
    for (size_t k = 0; k < rg->n && st == MOF_OK; k++) {
        const struct plan *pl = &rg->plans[k];
        for (size_t i = 0; i < pl->n_in && st == MOF_OK; i++) {
            mof_value *u = mof_node_input(pl->node, i);
            size_t out_index;
            mof_node *m = u ? mof_value_producer(u, &out_index) : NULL;
            size_t at = m ? region_find(rg, m) : SIZE_MAX;
            if (!is_carried(pl->rule, i))
                continue;
            if (at != SIZE_MAX) {
                const struct plan *pm = &rg->plans[at];
                if (!pm->out_perm[out_index] ||
                    !perm_equal(pm->out_perm[out_index], pm->out_rank[out_index], pl->p,
                                pl->rank))
                    st = MOF_UNCHANGED;
                continue;
            }
            if (seen_value(seen, &n_seen, u))
                continue;
            bool from_transpose = m && is_transpose(m);
            if (pl->act[i] == IN_UNDO && only_read_by_region(rg, u))
                (*cost)--;
            else if (pl->act[i] == IN_INSERT && !(from_transpose && only_read_by_region(rg, u)))
                (*cost)++;
        }
        for (size_t j = 0; j < pl->n_out && st == MOF_OK; j++) {
            mof_value *y = mof_node_output(pl->node, j);
            if (!y || !pl->out_perm[j] || !value_is_used(y))
                continue;
            bool outside = mof_value_is_graph_output(y);
            for (size_t u = 0; u < mof_value_n_uses(y) && st == MOF_OK; u++) {
                int idx;
                mof_node *c = mof_value_use(y, u, &idx);
                size_t at = region_find(rg, c);
                if (idx >= 0 && at != SIZE_MAX && is_carried(rg->plans[at].rule, (size_t)idx))
                    continue;
                int64_t *q;
                size_t rq;
                if (idx < 0 || !is_transpose(c) || (st = transpose_perm(c, &q, &rq)) != MOF_OK) {
                    outside = true;
                    st = st < 0 ? st : MOF_OK;
                    continue;
                }
                /* A Transpose reading the output merges with the new one, and goes
                 * when it undoes it. */
                int64_t *c_perm = rq == pl->out_rank[j] ? perm_alloc(rq) : NULL;
                if (c_perm) {
                    perm_compose(pl->out_perm[j], q, rq, c_perm);
                    *cost -= perm_is_identity(c_perm, rq);
                } else if (rq == pl->out_rank[j]) {
                    st = MOF_ERR_NOMEM;
                }
                free(c_perm);
                free(q);
            }
            if (outside)
                (*cost)++;
        }
    }
    free(seen);
    return st;
}

/* Moves every node of the region into its layout, in graph order. */
static mof_status region_apply(struct sink *s, struct region *rg)
{
    size_t n = rg->n;
    mof_node **order = malloc((n ? n : 1) * sizeof *order);
    int64_t **perms = calloc(n ? n : 1, sizeof *perms);
    size_t *ranks = calloc(n ? n : 1, sizeof *ranks);
    mof_status st = MOF_ERR_NOMEM;
    if (!order || !perms || !ranks)
        goto done;
    size_t k = 0;
    for (mof_node *it = mof_graph_first_node(s->g); it && k < n; it = mof_node_next(it)) {
        size_t at = region_find(rg, it);
        if (at == SIZE_MAX)
            continue;
        order[k] = it;
        ranks[k] = rg->plans[at].rank;
        if (!(perms[k] = perm_alloc(ranks[k])))
            goto done;
        memcpy(perms[k], rg->plans[at].p, ranks[k] * sizeof(int64_t));
        k++;
    }
    /* The plans were made on the graph before any move: make each again. */
    region_clear(rg);
    st = MOF_OK;
    for (k = 0; k < n && st == MOF_OK; k++) {
        struct plan pl;
        st = plan_make(&pl, order[k], find_rule(order[k], s->opset), s->opset, perms[k],
                       ranks[k]);
        if (st == MOF_OK)
            st = plan_apply(s->g, &pl, &s->stats->merged);
        plan_free(&pl);
        if (st > 0)
            st = MOF_ERR_INTERNAL;
    }
done:
    if (perms)
        for (k = 0; k < n; k++)
            free(perms[k]);
    free(perms);
    free(ranks);
    free(order);
    return st;
}

/* Tries the regions a Transpose t starts: down from its readers into t's perm, and up
 * from its producer into the layout whose output t undoes; each grown in t's direction
 * only, then both ways. MOF_OK when one moved. */
static mof_status try_region(struct sink *s, mof_node *t)
{
    int64_t *perm, *inv = NULL;
    size_t r;
    struct region rg = { NULL, NULL, 0 };
    mof_status st = transpose_perm(t, &perm, &r);
    if (st != MOF_OK)
        return st;
    inv = perm_alloc(r);
    rg.nodes = malloc(REGION_MAX_NODES * sizeof *rg.nodes);
    rg.plans = malloc(REGION_MAX_NODES * sizeof *rg.plans);
    if (!inv || !rg.nodes || !rg.plans) {
        st = MOF_ERR_NOMEM;
        goto done;
    }
    perm_invert(perm, r, inv);
    st = MOF_UNCHANGED;
    for (int attempt = 0; attempt < 4 && st == MOF_UNCHANGED; attempt++) {
        bool down = attempt < 2, both = attempt % 2 == 1;
        region_clear(&rg);
        mof_status add = MOF_OK;
        if (down) {
            mof_value *y = mof_node_output(t, 0);
            for (size_t u = 0; u < mof_value_n_uses(y) && add >= 0; u++) {
                int idx;
                mof_node *c = mof_value_use(y, u, &idx);
                const struct op_rule *cr = find_rule(c, s->opset);
                if (idx >= 0 && cr && is_carried(cr, (size_t)idx))
                    add = region_add(s, &rg, c, SIZE_MAX, perm, r);
            }
        } else {
            size_t out_index;
            mof_node *m = mof_value_producer(mof_node_input(t, 0), &out_index);
            if (m)
                add = region_add(s, &rg, m, out_index, inv, r);
        }
        if (add < 0) {
            st = add;
            break;
        }
        if (rg.n == 0)
            continue;
        int64_t cost = 0;
        if ((st = region_grow(s, &rg, down || both, !down || both)) < 0 ||
            (st = region_cost(&rg, &cost)) < 0)
            break;
        /* A single node is try_move's business. */
        st = st == MOF_OK && rg.n > 1 && cost < 0 ? region_apply(s, &rg) : MOF_UNCHANGED;
        if (st == MOF_OK)
            s->stats->rewrites++;
    }
done:
    region_clear(&rg);
    free(perm);
    free(inv);
    free(rg.nodes);
    free(rg.plans);
    return st;
}

/* One rewrite somewhere in the graph: MOF_OK when one was made, MOF_UNCHANGED when
 * none is left. Merges and single-node moves come first, regions when none is left.
 * The scan restarts from the top after each (graphs are small next to the work a
 * rewrite does, and the order of rewrites stays simple to follow). */
static mof_status sink_step(struct sink *s)
{
    for (mof_node *n = mof_graph_first_node(s->g); n; n = mof_node_next(n)) {
        mof_status st = MOF_UNCHANGED;
        if (is_transpose(n))
            st = try_merge(s, n);
        const struct op_rule *rule;
        if (st == MOF_UNCHANGED && (rule = find_rule(n, s->opset)))
            st = try_move(s, n, rule);
        if (st != MOF_UNCHANGED)
            return st;
    }
    for (mof_node *n = mof_graph_first_node(s->g); n; n = mof_node_next(n)) {
        mof_status st = is_transpose(n) ? try_region(s, n) : MOF_UNCHANGED;
        if (st != MOF_UNCHANGED)
            return st;
    }
    return MOF_UNCHANGED;
}

mof_status layout_sink_graph(mof_graph *g, int64_t opset, int64_t max_rewrites,
                             struct layout_sink_stats *stats)
{
    for (mof_node *n = mof_graph_first_node(g); n; n = mof_node_next(n)) {
        for (size_t i = 0; i < mof_node_n_subgraphs(n); i++) {
            mof_status st = layout_sink_graph(mof_node_subgraph(n, i), opset, max_rewrites,
                                              stats);
            if (st < 0)
                return st;
        }
    }
    struct sink s = { .g = g, .opset = opset, .stats = stats };
    for (int64_t k = 0; k < max_rewrites; k++) {
        mof_status st = sink_step(&s);
        if (st == MOF_UNCHANGED)
            break;
        if (st < 0)
            return st;
    }
    return MOF_OK;
}

int64_t layout_count_transposes(const mof_graph *g)
{
    int64_t count = 0;
    for (mof_node *n = mof_graph_first_node(g); n; n = mof_node_next(n)) {
        count += is_onnx_op(n, "Transpose");
        for (size_t i = 0; i < mof_node_n_subgraphs(n); i++)
            count += layout_count_transposes(mof_node_subgraph(n, i));
    }
    return count;
}

void layout_channels_perm(size_t r, bool to_last, int64_t *perm)
{
    perm[0] = 0;
    for (size_t i = 1; i < r; i++) {
        if (to_last)
            perm[i] = i + 1 < r ? (int64_t)i + 1 : 1;
        else
            perm[i] = i == 1 ? (int64_t)r - 1 : (int64_t)i - 1;
    }
}

/* ------------------------------------------------------------------ the pass */

static mof_status sink_run(mof_pass_ctx *pc, mof_model *model, void *priv)
{
    const struct sink_pass *p = priv;
    mof_graph *g = mof_model_graph(model);
    struct layout_sink_stats stats = { 0, 0, 0 };
    int64_t before = layout_count_transposes(g);
    mof_status st = layout_sink_graph(g, mof_model_opset(model, ""), p->max_rewrites, &stats);
    int64_t after = layout_count_transposes(g);
    if (before != after)
        mof_pass_stat(pc, "transposes-removed", before - after);
    if (stats.moved)
        mof_pass_stat(pc, "transposes-moved", stats.moved);
    if (stats.merged)
        mof_pass_stat(pc, "transposes-merged", stats.merged);
    if (after)
        mof_pass_stat(pc, "transposes-left", after);
    if (st < 0)
        return mof_report(mof_pass_ctx_context(pc), MOF_SEVERITY_ERROR, st, NULL,
                          "rewriting Transposes: %s", mof_status_str(st));
    return stats.rewrites > 0 ? MOF_OK : MOF_UNCHANGED;
}

const mof_pass_desc layout_sink_transposes_pass = {
    .size = sizeof(mof_pass_desc),
    .name = "sink-transposes",
    .summary = "move Transposes through layout-agnostic ops, merge and cancel them",
    .help = "Moves Transpose nodes through elementwise ops (unary, and binary ones whose\n"
            "other operands are constants, which are permuted, or Transposes by the same\n"
            "perm), Concat, Split, Reduce*, ArgMax/ArgMin, Pad, Slice, Resize, Softmax\n"
            "(opset >= 13), Cast, (De)QuantizeLinear, and Reshape/Flatten of known dims,\n"
            "rewriting their axes, one node or a connected region at a time; merges\n"
            "consecutive Transposes and drops those that compose to the identity, repeat\n"
            "another, or only feed Shape. A rewrite is made only when it does not add\n"
            "Transposes. Ranks and dims come from perms, constants and known shapes: run\n"
            "infer-shapes first for more. Exact; subgraphs are processed too.",
    .params = sink_params,
    .priv_size = sizeof(struct sink_pass),
    .flags = MOF_PASS_EXACT,
    .run = sink_run,
};
