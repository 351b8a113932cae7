/* fold-constants: computes, at optimization time, every node whose inputs are all
 * known, and replaces its outputs by constants.
 *
 * A value is known when it is an initializer that is not also a graph input (an
 * overridable default is not known), the output of a Constant node, or, seen from a
 * subgraph, such a value of an enclosing graph. Nodes are visited in graph order, each
 * node's subgraphs when the node is reached, so a chain of foldable nodes folds in one
 * run: each folded output is a new initializer that the next node reads. The node is
 * evaluated with the reference interpreter (mof_interp_eval_node) at the model's opset,
 * which computes what a runtime computes, within float rounding (the same kernels run
 * `mof verify`). An output that is a graph output keeps its name: it becomes the output
 * of a new Constant node, since an ONNX graph output cannot be renamed and mof does not
 * list an initializer as a graph output. Inputs that the folding left unused (Constant
 * nodes, initializers of the same graph) are removed here; what was already unused is
 * left to dead-code. A Constant node is itself a node with all inputs known: a used one
 * becomes an initializer of the same name (constants-as-initializers=false keeps it),
 * so that later passes see every constant in one form, the one mof_value_is_constant
 * recognizes.
 *
 * Shape arithmetic: Shape and Size of a value whose shape is fully known (declared by
 * the model, or found by infer-shapes) fold even though the value itself is not known.
 * That is what collapses the Shape -> Gather -> Unsqueeze -> Concat -> Reshape chains of
 * exported transformers, so the pass is most useful after infer-shapes (see
 * examples/pipelines/simplify.xml). It requires nothing, though: without types it
 * folds what the constants alone determine.
 *
 * Never folded: operators with randomness (RandomNormal, RandomUniform, their -Like
 * forms, Multinomial, Bernoulli) and Dropout (eliminate-identity removes it when it is
 * a no-op); nodes of non-ONNX domains, whose semantics mof cannot know; control flow
 * (If, Loop, Scan: their subgraphs are folded inside instead); by default
 * DequantizeLinear, whose int8 weights quantized backends need to see (QDQ format).
 * Nodes the interpreter does not implement are skipped and counted. A node whose
 * evaluation fails (its constants are invalid, say an index out of range in a branch
 * that never runs) is kept with a warning: the model may still be fine.
 *
 * Size: an output that would take more than max-bytes AND more than the node's inputs
 * is not folded (ConstantOfShape or Expand would otherwise write a huge tensor into the
 * model). Where the size can be told without computing it (a fully known type, or the
 * constant shape of ConstantOfShape, Expand, Tile, Range) it is checked first, so a
 * huge tensor is never even allocated. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mof/mof.h>

struct fold_pass {
    int64_t max_bytes;
    bool keep_dequantize;
    bool constants_as_initializers;
};

static const mof_param_desc fold_params[] = {
    { .name = "max-bytes",
      .help = "largest output (bytes) that may be bigger than the node's inputs",
      .type = MOF_PARAM_INT, .offset = offsetof(struct fold_pass, max_bytes),
      .def = "1048576", .min = 0, .max = 4503599627370496.0, .flags = MOF_PARAM_RANGE },
    { .name = "keep-dequantize",
      .help = "never fold DequantizeLinear (keeps QDQ models quantized)",
      .type = MOF_PARAM_BOOL, .offset = offsetof(struct fold_pass, keep_dequantize),
      .def = "true" },
    { .name = "constants-as-initializers",
      .help = "turn used Constant nodes into initializers (one form for every constant)",
      .type = MOF_PARAM_BOOL,
      .offset = offsetof(struct fold_pass, constants_as_initializers), .def = "true" },
    { 0 }
};

/* ------------------------------------------------------------------ state */

struct fold_counts {
    int64_t folded, converted, skipped_size, skipped_unsupported, skipped_error;
    int64_t bytes_added, constants_removed, bytes_removed;
};

struct fold_state {
    const struct fold_pass *p;
    mof_context *ctx;       /* the run's context: warnings go there */
    mof_context *scratch;   /* evaluation errors are collected here, then reported as
                               warnings: a node that cannot be folded is no error */
    mof_model *model;
    struct fold_counts n;
};

/* ------------------------------------------------------------------ helpers */

static bool is_onnx_domain(const char *domain)
{
    return domain[0] == '\0' || strcmp(domain, "ai.onnx") == 0;
}

static bool is_op(const mof_node *n, const char *op_type)
{
    return strcmp(mof_node_op_type(n), op_type) == 0;
}

/* Operators whose result differs from run to run, and Dropout, which does when it
 * runs in training mode (eliminate-identity removes it when it does not). */
static bool is_random(const mof_node *n)
{
    static const char *const ops[] = {
        "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
        "Multinomial", "Bernoulli", "Dropout",
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (is_op(n, ops[i]))
            return true;
    return false;
}

static bool any_output_used(const mof_node *n)
{
    for (size_t i = 0; i < mof_node_n_outputs(n); i++) {
        const mof_value *v = mof_node_output(n, i);
        if (v && (mof_value_n_uses(v) > 0 || mof_value_is_graph_output(v)))
            return true;
    }
    return false;
}

/* A malloc'ed copy of s (strdup is not C11). */
static char *copy_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *c = malloc(n);
    return c ? memcpy(c, s, n) : NULL;
}

/* The graph enclosing g, or NULL for the main graph. */
static mof_graph *outer_graph(const mof_graph *g)
{
    mof_node *owner = mof_graph_parent(g);
    return owner ? mof_node_graph(owner) : NULL;
}

/* The tensor v is known to hold (a new reference), or NULL when v is not known. A
 * Constant with another attribute than `value` (value_ints, ...) is evaluated. */
static mof_tensor *known_tensor(struct fold_state *s, const mof_value *v)
{
    if (mof_value_is_constant(v))
        return mof_tensor_ref(mof_value_tensor(v));
    mof_node *producer = mof_value_producer(v, NULL);
    if (producer) {
        if (!is_op(producer, "Constant") || !is_onnx_domain(mof_node_domain(producer)))
            return NULL;
        mof_tensor *t = mof_node_attr_tensor(producer, "value");
        if (t)
            return mof_tensor_ref(t);
        mof_tensor *out = NULL;
        if (mof_node_n_outputs(producer) != 1 ||
            mof_interp_eval_node(s->scratch, producer, mof_model_opset(s->model, ""), 0, NULL,
                                 1, &out) != MOF_OK) {
            mof_context_clear_diags(s->scratch);
            return NULL;
        }
        return out;
    }
    /* A value read from an enclosing graph is seen there under the same name. */
    mof_graph *g = mof_value_graph(v);
    mof_graph *outer = outer_graph(g);
    if (!outer || mof_value_is_graph_input(v))
        return NULL;
    const mof_value *ov = mof_graph_find_value(outer, mof_value_name(v));
    return ov ? known_tensor(s, ov) : NULL;
}

/* True when v's shape is known to the last dim. */
static bool shape_is_static(const mof_value *v)
{
    int rank = mof_value_rank(v);
    if (rank < 0)
        return false;
    for (int i = 0; i < rank; i++)
        if (mof_value_dim(v, (size_t)i) < 0)
            return false;
    return true;
}

/* Element `i` of a numeric tensor as a double; 0 for types that are not numbers. */
static double element_as_double(const mof_tensor *t, int64_t i)
{
    const void *d = mof_tensor_data(t);
    switch (mof_tensor_dtype(t)) {
    case MOF_DTYPE_FLOAT: return ((const float *)d)[i];
    case MOF_DTYPE_DOUBLE: return ((const double *)d)[i];
    case MOF_DTYPE_INT8: return ((const int8_t *)d)[i];
    case MOF_DTYPE_UINT8: return ((const uint8_t *)d)[i];
    case MOF_DTYPE_INT16: return ((const int16_t *)d)[i];
    case MOF_DTYPE_UINT16: return ((const uint16_t *)d)[i];
    case MOF_DTYPE_INT32: return ((const int32_t *)d)[i];
    case MOF_DTYPE_UINT32: return ((const uint32_t *)d)[i];
    case MOF_DTYPE_INT64: return (double)((const int64_t *)d)[i];
    case MOF_DTYPE_UINT64: return (double)((const uint64_t *)d)[i];
    default: return 0;
    }
}

/* The dims of x that Shape node n returns: [*start, *end) (Shape-15 takes a slice,
 * clamped like Slice). False when x's rank is not known. */
static bool shape_range(const mof_node *n, int64_t opset, const mof_value *x, int64_t *start,
                        int64_t *end)
{
    int64_t rank = mof_value_rank(x);
    if (rank < 0)
        return false;
    *start = 0;
    *end = rank;
    if (opset >= 15) {
        int64_t b = mof_node_attr_int(n, "start", 0), e = mof_node_attr_int(n, "end", rank);
        b = b < 0 ? b + rank : b;
        e = e < 0 ? e + rank : e;
        *start = b < 0 ? 0 : b > rank ? rank : b;
        *end = e < *start ? *start : e > rank ? rank : e;
    }
    return true;
}

/* Shape or Size of x when the dims they read are all known numbers (a new tensor), or
 * NULL. */
static mof_tensor *shape_of(const mof_node *n, int64_t opset, const mof_value *x)
{
    int64_t start, end;
    if (!shape_range(n, opset, x, &start, &end))
        return NULL;
    if (is_op(n, "Size")) {
        start = 0;
        end = mof_value_rank(x);
    }
    int64_t len = end - start, numel = 1;
    int64_t *dims = calloc(len > 0 ? (size_t)len : 1, sizeof *dims);
    if (!dims)
        return NULL;
    for (int64_t i = 0; i < len; i++) {
        dims[i] = mof_value_dim(x, (size_t)(start + i));
        if (dims[i] < 0) {
            free(dims);
            return NULL;
        }
        numel *= dims[i];
    }
    mof_tensor *t = is_op(n, "Size") ? mof_tensor_create_from(MOF_DTYPE_INT64, 0, NULL, &numel)
                                     : mof_tensor_create_from(MOF_DTYPE_INT64, 1, &len, dims);
    free(dims);
    return t;
}

/* Gather(Shape(x), indices) picks some dims of x: known when those are, even when
 * others (a batch N) are not. A new tensor, or NULL. */
static mof_tensor *gather_of_shape(struct fold_state *s, const mof_node *n, int64_t opset)
{
    if (mof_node_n_inputs(n) != 2 || mof_node_attr_int(n, "axis", 0) != 0 ||
        !mof_node_input(n, 0) || !mof_node_input(n, 1))
        return NULL;
    mof_node *shape = mof_value_producer(mof_node_input(n, 0), NULL);
    if (!shape || !is_op(shape, "Shape") || !is_onnx_domain(mof_node_domain(shape)) ||
        mof_node_n_inputs(shape) != 1 || !mof_node_input(shape, 0))
        return NULL;
    const mof_value *x = mof_node_input(shape, 0);
    int64_t start, end;
    if (!shape_range(shape, opset, x, &start, &end))
        return NULL;
    mof_tensor *idx = known_tensor(s, mof_node_input(n, 1));
    mof_dtype dt = idx ? mof_tensor_dtype(idx) : MOF_DTYPE_UNDEFINED;
    mof_tensor *t = NULL;
    if (dt != MOF_DTYPE_INT64 && dt != MOF_DTYPE_INT32)
        goto done;
    int64_t count = mof_tensor_numel(idx), len = end - start;
    if (!(t = mof_tensor_create(MOF_DTYPE_INT64, mof_tensor_rank(idx), mof_tensor_dims(idx))))
        goto done;
    int64_t *out = mof_tensor_data_mut(t);
    for (int64_t i = 0; i < count; i++) {
        int64_t k = (int64_t)element_as_double(idx, i);
        k = k < 0 ? k + len : k;
        int64_t d = k >= 0 && k < len ? mof_value_dim(x, (size_t)(start + k)) : -1;
        if (d < 0) {
            mof_tensor_unref(t);
            t = NULL;
            goto done;
        }
        out[i] = d;
    }
done:
    mof_tensor_unref(idx);
    return t;
}

/* What a node whose inputs are not all known computes when shapes tell it: Shape and
 * Size of a value whose dims they read are known, Gather of such a Shape. */
static mof_tensor *shape_arithmetic(struct fold_state *s, const mof_node *n, int64_t opset)
{
    if (mof_node_n_outputs(n) != 1)
        return NULL;
    if ((is_op(n, "Shape") || is_op(n, "Size")) && mof_node_n_inputs(n) == 1 &&
        mof_node_input(n, 0))
        return shape_of(n, opset, mof_node_input(n, 0));
    if (is_op(n, "Gather"))
        return gather_of_shape(s, n, opset);
    return NULL;
}

/* ------------------------------------------------------------------ sizes */

/* Bytes of a value whose type is fully known, or -1. */
static double typed_bytes(const mof_value *v)
{
    size_t size = mof_dtype_size(mof_value_dtype(v));
    if (size == 0 || !shape_is_static(v))
        return -1;
    double bytes = (double)size;
    for (int i = 0; i < mof_value_rank(v); i++)
        bytes *= (double)mof_value_dim(v, (size_t)i);
    return bytes;
}

/* The elements a shape tensor (ConstantOfShape, Expand) describes, broadcast against
 * `base` dims when given, or -1 when the tensor is not a shape. */
static double shape_numel(const mof_tensor *shape, const mof_tensor *base)
{
    if (mof_tensor_rank(shape) != 1)
        return -1;
    int64_t n = mof_tensor_numel(shape);
    int64_t base_rank = base ? (int64_t)mof_tensor_rank(base) : 0;
    int64_t rank = n > base_rank ? n : base_rank;
    double numel = 1;
    for (int64_t i = 0; i < rank; i++) {
        double d = i < rank - n ? 1 : element_as_double(shape, i - (rank - n));
        double b = i < rank - base_rank ? 1 : (double)mof_tensor_dims(base)[i - (rank - base_rank)];
        numel *= d > b ? d : b;
    }
    return numel;
}

/* The bytes the node's outputs will take, told without running it, or -1 when that
 * cannot be told. ins are the node's input tensors (entries may be NULL). */
static double predicted_bytes(const mof_node *n, mof_tensor *const *ins)
{
    double total = 0;
    bool typed = true;
    for (size_t i = 0; i < mof_node_n_outputs(n) && typed; i++) {
        const mof_value *v = mof_node_output(n, i);
        double b = v ? typed_bytes(v) : 0;
        typed = b >= 0;
        total += b;
    }
    if (typed)
        return total;
    size_t n_in = mof_node_n_inputs(n);
    const mof_tensor *a = n_in > 0 ? ins[0] : NULL, *b = n_in > 1 ? ins[1] : NULL;
    if (is_op(n, "ConstantOfShape") && a) {
        const mof_tensor *value = mof_node_attr_tensor(n, "value");
        size_t size = value ? mof_dtype_size(mof_tensor_dtype(value)) : sizeof(float);
        double numel = shape_numel(a, NULL);
        return numel < 0 ? -1 : numel * (double)size;
    }
    if (is_op(n, "Expand") && a && b) {
        double numel = shape_numel(b, a);
        return numel < 0 ? -1 : numel * (double)mof_dtype_size(mof_tensor_dtype(a));
    }
    if (is_op(n, "Tile") && a && b && mof_tensor_numel(b) == (int64_t)mof_tensor_rank(a)) {
        double numel = 1;
        for (size_t i = 0; i < mof_tensor_rank(a); i++)
            numel *= (double)mof_tensor_dims(a)[i] * element_as_double(b, (int64_t)i);
        return numel * (double)mof_dtype_size(mof_tensor_dtype(a));
    }
    if (is_op(n, "Range") && n_in == 3 && a && b && ins[2] && mof_tensor_numel(a) == 1 &&
        mof_tensor_numel(b) == 1 && mof_tensor_numel(ins[2]) == 1) {
        double delta = element_as_double(ins[2], 0);
        if (delta == 0)
            return -1;
        double q = (element_as_double(b, 0) - element_as_double(a, 0)) / delta;
        if (!(q > 0))
            return 0;
        /* ceil(q), without libm; beyond 2^62 the rounding does not matter. */
        double count = q < 4611686018427387904.0 ? (double)(int64_t)q : q;
        count += count < q;
        return count * (double)mof_dtype_size(mof_tensor_dtype(a));
    }
    return -1;
}

/* Whether outputs of `out_bytes` may replace a node reading `in_bytes` of constants. */
static bool size_allowed(const struct fold_state *s, double out_bytes, double in_bytes)
{
    return out_bytes <= (double)s->p->max_bytes || out_bytes <= in_bytes;
}

/* ------------------------------------------------------------------ replacing */

static bool is_initializer_of(const mof_graph *g, const mof_value *v)
{
    for (size_t i = 0; i < mof_graph_n_initializers(g); i++)
        if (mof_graph_initializer(g, i) == v)
            return true;
    return false;
}

/* True when v is the output of a Constant node of g, or an initializer of g (not a
 * value that g captures from an enclosing graph). */
static bool is_local_constant(const mof_graph *g, const mof_value *v)
{
    if (!v || mof_value_graph(v) != g)
        return false;
    mof_node *producer = mof_value_producer(v, NULL);
    if (producer)
        return is_op(producer, "Constant") && is_onnx_domain(mof_node_domain(producer));
    /* Only a subgraph captures values; there the initializer list tells them apart. */
    if (!mof_graph_parent(g))
        return mof_value_is_initializer(v);
    return is_initializer_of(g, v);
}

/* Removes v, a local constant of g (see is_local_constant), when folding left it
 * unused. Values captured from an enclosing graph are left to dead-code. */
static mof_status drop_if_unused(struct fold_state *s, mof_graph *g, mof_value *v)
{
    if (!v || mof_value_n_uses(v) > 0 || mof_value_is_graph_output(v) ||
        mof_value_is_graph_input(v))
        return MOF_OK;
    mof_node *producer = mof_value_producer(v, NULL);
    if (producer) {
        if (any_output_used(producer))
            return MOF_OK;
        mof_tensor *t = mof_node_attr_tensor(producer, "value");
        int64_t bytes = t ? (int64_t)mof_tensor_nbytes(t) : 0;
        mof_status st = mof_graph_remove_node(g, producer);
        if (st < 0)
            return st;
        s->n.constants_removed++;
        s->n.bytes_removed += bytes;
        return MOF_OK;
    }
    int64_t bytes = (int64_t)mof_tensor_nbytes(mof_value_tensor(v));
    mof_status st = mof_graph_remove_initializer(g, v);
    if (st < 0)
        return st;
    s->n.constants_removed++;
    s->n.bytes_removed += bytes;
    return MOF_OK;
}

/* A new value holding t (the reference is taken) to stand for output v of n: an
 * initializer, or for a graph output the output of a new Constant node before n (see
 * the top comment). NULL when out of memory. */
static mof_value *make_constant(mof_graph *g, mof_node *n, const mof_value *v, mof_tensor *t)
{
    if (!mof_value_is_graph_output(v))
        return mof_graph_add_initializer(g, mof_value_name(v), t);
    const char *name = mof_node_name(n);
    mof_node *c = mof_graph_add_node(g, MOF_INSERT_BEFORE, n, "Constant", "",
                                     *name ? name : NULL, 0, NULL, 1);
    if (!c) {
        mof_tensor_unref(t);
        return NULL;
    }
    if (mof_node_set_attr_tensor(c, "value", t) != MOF_OK ||
        mof_node_add_origins(c, n) != MOF_OK) {
        mof_graph_remove_node(g, c);
        return NULL;
    }
    return mof_node_output(c, 0);
}

/* Undoes make_constant for a value nothing uses yet. */
static void unmake_constant(mof_graph *g, mof_value *c)
{
    mof_node *producer = mof_value_producer(c, NULL);
    if (producer)
        mof_graph_remove_node(g, producer);
    else
        mof_graph_remove_initializer(g, c);
}

/* Replaces node n of g by the tensors outs (one per output, references taken over,
 * entries may be NULL): each used output's uses read a constant instead, and n goes.
 * The replacement is counted in *count, and its bytes as added when they are new (not
 * those of a Constant node). MOF_UNCHANGED when an output cannot be replaced (n then
 * stays). */
static mof_status replace_node(struct fold_state *s, mof_graph *g, mof_node *n,
                               mof_tensor **outs, int64_t *count, bool new_bytes)
{
    size_t n_out = mof_node_n_outputs(n), n_in = mof_node_n_inputs(n);
    mof_value **consts = calloc(n_out ? n_out : 1, sizeof *consts);
    char **names = calloc(n_out ? n_out : 1, sizeof *names);
    mof_value **ins = calloc(n_in ? n_in : 1, sizeof *ins);
    mof_status st = MOF_ERR_NOMEM;
    if (!consts || !names || !ins)
        goto fail;
    /* First make every constant and check it can take its output's place, so that a
     * refusal leaves the graph as it was. */
    int64_t added = 0;
    for (size_t i = 0; i < n_out; i++) {
        mof_value *v = mof_node_output(n, i);
        mof_tensor *t = outs[i];
        outs[i] = NULL;
        if (!v || !t || (mof_value_n_uses(v) == 0 && !mof_value_is_graph_output(v))) {
            mof_tensor_unref(t);
            continue;
        }
        added += (int64_t)mof_tensor_nbytes(t);
        if (!(consts[i] = make_constant(g, n, v, t)))
            goto fail;
        if (!(names[i] = copy_string(mof_value_name(v))))
            goto fail;
        if (!mof_value_can_replace(v, consts[i])) {
            st = MOF_UNCHANGED;
            goto fail;
        }
    }
    for (size_t i = 0; i < n_out; i++) {
        if (consts[i] && (st = mof_value_replace_uses(mof_node_output(n, i), consts[i])) < 0)
            goto done;
    }
    /* Removing n destroys the captures only n read: remember just the constants that
     * outlive it. */
    for (size_t i = 0; i < n_in; i++)
        ins[i] = is_local_constant(g, mof_node_input(n, i)) ? mof_node_input(n, i) : NULL;
    if ((st = mof_graph_remove_node(g, n)) < 0)
        goto done;
    (*count)++;
    if (new_bytes)
        s->n.bytes_added += added;
    /* The initializers take the names of the outputs they replace (freed just now), so
     * that the folded model reads like the original. A graph output already has its
     * name; a clash elsewhere only leaves the generated name. */
    for (size_t i = 0; i < n_out; i++) {
        if (consts[i] && !mof_value_producer(consts[i], NULL) &&
            strcmp(mof_value_name(consts[i]), names[i]) != 0 &&
            mof_value_set_name(consts[i], names[i]) == MOF_ERR_NOMEM) {
            st = MOF_ERR_NOMEM;
            goto done;
        }
    }
    /* A value read twice by n is looked at once: the first look may remove it. */
    for (size_t i = 0; i < n_in; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = ins[j] == ins[i];
        if (!seen && (st = drop_if_unused(s, g, ins[i])) < 0)
            goto done;
    }
    st = MOF_OK;
    goto done;
fail:
    for (size_t i = 0; consts && i < n_out; i++) {
        if (consts[i])
            unmake_constant(g, consts[i]);
    }
done:
    if (names) {
        for (size_t i = 0; i < n_out; i++)
            free(names[i]);
    }
    free(names);
    free(consts);
    free(ins);
    return st;
}

/* ------------------------------------------------------------------ folding */

/* Tells why an evaluation failed, as a warning about n, and counts it. */
static void report_eval_failure(struct fold_state *s, const mof_node *n, mof_status st)
{
    size_t k = mof_context_n_diags(s->scratch);
    const char *why = k ? mof_context_diag(s->scratch, k - 1)->message : NULL;
    if (st == MOF_ERR_UNSUPPORTED) {
        s->n.skipped_unsupported++;
    } else {
        s->n.skipped_error++;
        mof_report_node(s->ctx, MOF_SEVERITY_WARNING, st, n, "not folded: %s",
                        why ? why : mof_status_str(st));
    }
    mof_context_clear_diags(s->scratch);
}

/* A used Constant node becomes an initializer of the same name, unless its output is
 * a graph output (which mof does not let an initializer be). */
static mof_status convert_constant(struct fold_state *s, mof_graph *g, mof_node *n)
{
    mof_value *v = mof_node_n_outputs(n) == 1 ? mof_node_output(n, 0) : NULL;
    if (!s->p->constants_as_initializers || !v || mof_value_is_graph_output(v) ||
        mof_value_n_uses(v) == 0)
        return MOF_UNCHANGED;
    mof_tensor *t = known_tensor(s, v);
    if (!t)
        return MOF_UNCHANGED;
    return replace_node(s, g, n, &t, &s->n.converted, false);
}

/* Folds node n of g when it can: MOF_OK when it did, MOF_UNCHANGED when not. */
static mof_status fold_node(struct fold_state *s, mof_graph *g, mof_node *n)
{
    const char *domain = mof_node_domain(n);
    if (is_onnx_domain(domain) && is_op(n, "Constant"))
        return convert_constant(s, g, n);
    if (!is_onnx_domain(domain) || is_random(n) ||
        mof_node_n_subgraphs(n) > 0 || !any_output_used(n) ||
        (s->p->keep_dequantize && is_op(n, "DequantizeLinear")))
        return MOF_UNCHANGED;
    int64_t opset = mof_model_opset(s->model, domain);
    size_t n_in = mof_node_n_inputs(n), n_out = mof_node_n_outputs(n);
    mof_tensor **ins = calloc(n_in ? n_in : 1, sizeof *ins);
    mof_tensor **outs = calloc(n_out ? n_out : 1, sizeof *outs);
    mof_status st = MOF_ERR_NOMEM;
    if (!ins || !outs)
        goto done;
    st = MOF_UNCHANGED;
    double in_bytes = 0;
    for (size_t i = 0; i < n_in; i++) {
        const mof_value *v = mof_node_input(n, i);
        if (v && !(ins[i] = known_tensor(s, v))) {
            /* Not every value is known, but the shapes may tell the result. */
            if ((outs[0] = shape_arithmetic(s, n, opset)))
                st = replace_node(s, g, n, outs, &s->n.folded, true);
            goto done;
        }
    }
    for (size_t i = 0; i < n_in; i++)
        in_bytes += ins[i] ? (double)mof_tensor_nbytes(ins[i]) : 0;
    if (!mof_interp_supports(domain, mof_node_op_type(n), opset)) {
        s->n.skipped_unsupported++;
        goto done;
    }
    double predicted = predicted_bytes(n, ins);
    if (predicted >= 0 && !size_allowed(s, predicted, in_bytes)) {
        s->n.skipped_size++;
        goto done;
    }
    mof_status est = mof_interp_eval_node(s->scratch, n, opset, n_in, ins, n_out, outs);
    if (est != MOF_OK) {
        report_eval_failure(s, n, est);
        goto done;
    }
    double out_bytes = 0;
    for (size_t i = 0; i < n_out; i++)
        out_bytes += outs[i] ? (double)mof_tensor_nbytes(outs[i]) : 0;
    if (!size_allowed(s, out_bytes, in_bytes)) {
        s->n.skipped_size++;
        goto done;
    }
    st = replace_node(s, g, n, outs, &s->n.folded, true);
done:
    if (ins) {
        for (size_t i = 0; i < n_in; i++)
            mof_tensor_unref(ins[i]);
    }
    if (outs) {
        for (size_t i = 0; i < n_out; i++)
            mof_tensor_unref(outs[i]);
    }
    free(ins);
    free(outs);
    return st;
}

static mof_status fold_graph(struct fold_state *s, mof_graph *g)
{
    /* Folding n removes n and constants before it, never the node after it. */
    mof_node *next;
    for (mof_node *n = mof_graph_first_node(g); n; n = next) {
        next = mof_node_next(n);
        for (size_t i = 0; i < mof_node_n_subgraphs(n); i++) {
            mof_status st = fold_graph(s, mof_node_subgraph(n, i));
            if (st < 0)
                return st;
        }
        mof_status st = fold_node(s, g, n);
        if (st < 0)
            return mof_report_node(s->ctx, MOF_SEVERITY_ERROR, st, n,
                                   "folding failed: %s", mof_status_str(st));
    }
    return MOF_OK;
}

static void add_stat(mof_pass_ctx *pc, const char *name, int64_t count)
{
    if (count != 0)
        mof_pass_stat(pc, name, count);
}

static mof_status fold_run(mof_pass_ctx *pc, mof_model *model, void *priv)
{
    struct fold_state s = {
        .p = priv, .ctx = mof_pass_ctx_context(pc), .model = model,
    };
    if (!(s.scratch = mof_context_create()))
        return mof_report(s.ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
    mof_status st = fold_graph(&s, mof_model_graph(model));
    mof_context_destroy(s.scratch);
    add_stat(pc, "nodes-folded", s.n.folded);
    add_stat(pc, "constants-converted", s.n.converted);
    add_stat(pc, "nodes-skipped-size", s.n.skipped_size);
    add_stat(pc, "nodes-skipped-unsupported", s.n.skipped_unsupported);
    add_stat(pc, "nodes-skipped-error", s.n.skipped_error);
    add_stat(pc, "bytes-added", s.n.bytes_added);
    add_stat(pc, "constants-removed", s.n.constants_removed);
    add_stat(pc, "bytes-removed", s.n.bytes_removed);
    if (st < 0)
        return st;
    return s.n.folded + s.n.converted + s.n.constants_removed > 0 ? MOF_OK : MOF_UNCHANGED;
}

/* ------------------------------------------------------------------ descriptor */

/* Registered by cleanup.c, the plugin's entry point; the only symbol this file shares. */
extern const mof_pass_desc cleanup_fold_constants_pass;
const mof_pass_desc cleanup_fold_constants_pass = {
    .size = sizeof(mof_pass_desc),
    .name = "fold-constants",
    .summary = "compute nodes whose inputs are all constant, and Shape of known shapes",
    .help = "Every node whose inputs are all known (initializers that are not graph\n"
            "inputs, Constant outputs) is evaluated with the reference interpreter at\n"
            "the model's opset and its outputs become initializers; chains fold in one\n"
            "run, subgraphs too. Shape and Size of a value whose shape is fully known\n"
            "fold as well, so run infer-shapes first to collapse the Shape -> Gather ->\n"
            "Concat -> Reshape chains of exported models (see simplify.xml). The values\n"
            "are those a runtime computes, within float rounding. Never folded: random\n"
            "ops, Dropout, control flow, non-ONNX domains, DequantizeLinear unless\n"
            "keep-dequantize=false, and outputs larger than both max-bytes and the\n"
            "node's inputs. Constants left unused by folding are removed; a graph\n"
            "output keeps its name (it becomes a Constant node's output).",
    .params = fold_params,
    .priv_size = sizeof(struct fold_pass),
    .flags = MOF_PASS_EXACT,
    .run = fold_run,
};
