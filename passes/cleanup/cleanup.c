/* cleanup: passes that remove what a model does not need to compute its outputs.
 *
 * eliminate-identity removes Identity nodes, and Dropout nodes that are no-ops at
 * inference: their uses read the node's input instead. A Dropout is removed only when
 * its mask output is unused and, from opset 12 on, its training_mode input is absent
 * or a constant false (its ratio does not matter then); before opset 7 it must carry
 * is_test=1. A node is kept when removing it would change the graph's interface: an
 * Identity that copies a graph input (or an initializer) straight to a graph output
 * must stay, since an ONNX graph output is a value of its own with its own name.
 *
 * dead-code removes nodes none of whose outputs is used by another node or is a graph
 * output, transitively (walking the graph backwards removes a whole dead branch in one
 * run), then initializers that nothing uses. ONNX operators have no side effects: a
 * node's only effect is its outputs, so an unused node is dead whatever its domain.
 * Custom domains may break that rule (a runtime op that logs or writes a file), so
 * keep-unknown-domains=true keeps every node outside the ONNX domains. Graph inputs and
 * outputs are the model's interface and always stay, as do initializers that are also
 * graph inputs (overridable defaults).
 *
 * Both passes descend into the subgraphs of control-flow nodes (If, Loop, Scan), keep
 * the model's function bit for bit, and return MOF_UNCHANGED when they found nothing
 * to do. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <mof/mof.h>

/* eliminate-identity's parameters. */
struct identity_pass {
    bool dropout;      /* also remove inference-time Dropout */
};

/* dead-code's parameters. */
struct dead_code_pass {
    bool keep_initializers;
    bool keep_unknown_domains;
};

static const mof_param_desc identity_params[] = {
    { .name = "dropout", .help = "also remove Dropout nodes that are no-ops at inference",
      .type = MOF_PARAM_BOOL, .offset = offsetof(struct identity_pass, dropout),
      .def = "true" },
    { 0 }
};

static const mof_param_desc dead_code_params[] = {
    { .name = "keep-initializers", .help = "keep initializers that nothing uses",
      .type = MOF_PARAM_BOOL, .offset = offsetof(struct dead_code_pass, keep_initializers),
      .def = "false" },
    { .name = "keep-unknown-domains",
      .help = "keep unused nodes of non-ONNX domains (custom ops with side effects)",
      .type = MOF_PARAM_BOOL,
      .offset = offsetof(struct dead_code_pass, keep_unknown_domains), .def = "false" },
    { 0 }
};

/* ------------------------------------------------------------------ helpers */

static bool is_onnx_domain(const char *domain)
{
    return domain[0] == '\0' || strcmp(domain, "ai.onnx") == 0;
}

/* Domains whose operators the ONNX standard defines, all free of side effects. */
static bool is_known_domain(const char *domain)
{
    return is_onnx_domain(domain) || strcmp(domain, "ai.onnx.ml") == 0 ||
           strcmp(domain, "ai.onnx.training") == 0 ||
           strcmp(domain, "ai.onnx.preview.training") == 0;
}

static bool is_onnx_op(const mof_node *n, const char *op_type)
{
    return strcmp(mof_node_op_type(n), op_type) == 0 && is_onnx_domain(mof_node_domain(n));
}

/* Records a statistic of the running pass; zero counts are left out of the report. */
static void add_stat(mof_pass_ctx *pc, const char *name, int64_t count)
{
    if (count != 0)
        mof_pass_stat(pc, name, count);
}

static bool value_is_used(const mof_value *v)
{
    return v && (mof_value_n_uses(v) > 0 || mof_value_is_graph_output(v));
}

/* The tensor a value is known to hold: an initializer that is not a graph input, or
 * the output of a Constant node with a `value` attribute. NULL when not constant. */
static const mof_tensor *constant_tensor(const mof_value *v)
{
    if (mof_value_is_constant(v))
        return mof_value_tensor(v);
    mof_node *producer = mof_value_producer(v, NULL);
    if (producer && is_onnx_op(producer, "Constant"))
        return mof_node_attr_tensor(producer, "value");
    return NULL;
}

/* True when v is absent or a constant, single-element false. */
static bool is_absent_or_false(const mof_value *v)
{
    if (!v)
        return true;
    const mof_tensor *t = constant_tensor(v);
    if (!t || mof_tensor_dtype(t) != MOF_DTYPE_BOOL || mof_tensor_numel(t) != 1)
        return false;
    return *(const uint8_t *)mof_tensor_data(t) == 0;
}

/* Whether a Dropout node computes the identity at inference (see the top comment). */
static bool dropout_is_noop(const mof_node *n, int64_t opset)
{
    if (mof_node_n_outputs(n) > 1 && value_is_used(mof_node_output(n, 1)))
        return false;
    if (opset >= 12)
        return mof_node_n_inputs(n) < 3 || is_absent_or_false(mof_node_input(n, 2));
    if (opset >= 7)
        return true;
    /* Dropout-1 and -6 run in training mode unless is_test is set. */
    return mof_node_attr_int(n, "is_test", 0) != 0;
}

/* ------------------------------------------------------------------ eliminate-identity */

struct identity_counts {
    int64_t identity, dropout;
};

/* Makes the uses of the node's output read its input instead, then removes it.
 * Returns MOF_UNCHANGED when the node must stay. */
static mof_status bypass_node(mof_graph *g, mof_node *n)
{
    mof_value *in = mof_node_n_inputs(n) > 0 ? mof_node_input(n, 0) : NULL;
    mof_value *out = mof_node_n_outputs(n) > 0 ? mof_node_output(n, 0) : NULL;
    if (!in || !out)
        return MOF_UNCHANGED;
    /* An output of a subgraph cannot be renamed to a value of the enclosing scope. */
    if (mof_value_is_graph_output(out) && mof_value_graph(in) != g)
        return MOF_UNCHANGED;
    if (!mof_value_can_replace(out, in))
        return MOF_UNCHANGED;
    mof_status st = mof_value_replace_uses(out, in);
    if (st != MOF_OK)
        return st;
    return mof_graph_remove_node(g, n);
}

static mof_status eliminate_in_graph(mof_graph *g, const struct identity_pass *p,
                                     int64_t opset, struct identity_counts *counts)
{
    mof_node *next;
    for (mof_node *n = mof_graph_first_node(g); n; n = next) {
        next = mof_node_next(n);
        for (size_t i = 0; i < mof_node_n_subgraphs(n); i++) {
            mof_status st = eliminate_in_graph(mof_node_subgraph(n, i), p, opset, counts);
            if (st < 0)
                return st;
        }
        int64_t *counter = NULL;
        if (is_onnx_op(n, "Identity"))
            counter = &counts->identity;
        else if (p->dropout && is_onnx_op(n, "Dropout") && dropout_is_noop(n, opset))
            counter = &counts->dropout;
        if (!counter)
            continue;
        mof_status st = bypass_node(g, n);
        if (st < 0)
            return st;
        if (st == MOF_OK)
            (*counter)++;
    }
    return MOF_OK;
}

static mof_status identity_run(mof_pass_ctx *pc, mof_model *model, void *priv)
{
    const struct identity_pass *p = priv;
    struct identity_counts counts = { 0, 0 };
    mof_status st = eliminate_in_graph(mof_model_graph(model), p, mof_model_opset(model, ""),
                                       &counts);
    add_stat(pc, "identity-removed", counts.identity);
    add_stat(pc, "dropout-removed", counts.dropout);
    if (st < 0)
        return st;
    return counts.identity + counts.dropout > 0 ? MOF_OK : MOF_UNCHANGED;
}

/* ------------------------------------------------------------------ dead-code */

struct dead_counts {
    int64_t nodes, initializers;
};

static bool node_is_dead(const mof_node *n, const struct dead_code_pass *p)
{
    if (p->keep_unknown_domains && !is_known_domain(mof_node_domain(n)))
        return false;
    for (size_t i = 0; i < mof_node_n_outputs(n); i++)
        if (value_is_used(mof_node_output(n, i)))
            return false;
    return true;
}

static mof_status remove_dead_in_graph(mof_graph *g, const struct dead_code_pass *p,
                                       struct dead_counts *counts)
{
    /* Backwards: in topological order every user comes after its producer, so by the
     * time a node is looked at, all its dead users are gone already. */
    mof_node *prev;
    for (mof_node *n = mof_graph_last_node(g); n; n = prev) {
        prev = mof_node_prev(n);
        if (node_is_dead(n, p)) {
            mof_status st = mof_graph_remove_node(g, n);
            if (st < 0)
                return st;
            counts->nodes++;
            continue;
        }
        /* Cleaning a live node's subgraphs may free values of this graph that they read
         * from the enclosing scope; their producers are visited after this node. */
        for (size_t i = 0; i < mof_node_n_subgraphs(n); i++) {
            mof_status st = remove_dead_in_graph(mof_node_subgraph(n, i), p, counts);
            if (st < 0)
                return st;
        }
    }
    if (p->keep_initializers)
        return MOF_OK;
    /* Backwards, so that removing one leaves the indices still to visit in place. */
    for (size_t i = mof_graph_n_initializers(g); i-- > 0;) {
        mof_value *v = mof_graph_initializer(g, i);
        if (value_is_used(v) || mof_value_is_graph_input(v))
            continue;
        mof_status st = mof_graph_remove_initializer(g, v);
        if (st < 0)
            return st;
        counts->initializers++;
    }
    return MOF_OK;
}

static mof_status dead_code_run(mof_pass_ctx *pc, mof_model *model, void *priv)
{
    const struct dead_code_pass *p = priv;
    struct dead_counts counts = { 0, 0 };
    mof_status st = remove_dead_in_graph(mof_model_graph(model), p, &counts);
    add_stat(pc, "nodes-removed", counts.nodes);
    add_stat(pc, "initializers-removed", counts.initializers);
    if (st < 0)
        return st;
    return counts.nodes + counts.initializers > 0 ? MOF_OK : MOF_UNCHANGED;
}

/* ------------------------------------------------------------------ descriptors */

static const mof_pass_desc eliminate_identity_pass = {
    .size = sizeof(mof_pass_desc),
    .name = "eliminate-identity",
    .summary = "remove Identity nodes and inference-time Dropout",
    .help = "Every use of an Identity's output reads its input instead, and the node goes.\n"
            "Dropout goes the same way when it is a no-op at inference: its mask output\n"
            "is unused and its training_mode input is absent or constant false (opset\n"
            ">= 12), or is_test=1 (opset < 7). A node copying a graph input or an\n"
            "initializer straight to a graph output is kept: the graph's interface does\n"
            "not change. Subgraphs are processed too.",
    .params = identity_params,
    .priv_size = sizeof(struct identity_pass),
    .flags = MOF_PASS_EXACT,
    .run = identity_run,
};

static const mof_pass_desc dead_code_pass = {
    .size = sizeof(mof_pass_desc),
    .name = "dead-code",
    .summary = "remove nodes and initializers that no graph output depends on",
    .help = "Removes, transitively, every node none of whose outputs is used by another\n"
            "node or is a graph output, then every initializer that nothing uses and\n"
            "that is not a graph input or output. Graph inputs and outputs always stay.\n"
            "ONNX operators have no side effects, so an unused node is dead whatever\n"
            "its domain; keep-unknown-domains=true keeps nodes of non-ONNX domains, for\n"
            "custom operators that act outside the graph. Subgraphs are processed too.",
    .params = dead_code_params,
    .priv_size = sizeof(struct dead_code_pass),
    .flags = MOF_PASS_EXACT,
    .run = dead_code_run,
};

/* Defined in fold.c and shapes.c. */
extern const mof_pass_desc cleanup_fold_constants_pass;
extern const mof_pass_desc cleanup_infer_shapes_pass;
/* Defined in simplify.c. */
extern const mof_pass_desc cleanup_cse_pass;
extern const mof_pass_desc cleanup_merge_initializers_pass;
extern const mof_pass_desc cleanup_eliminate_noops_pass;
extern const mof_pass_desc cleanup_merge_consecutive_pass;

static mof_status register_cleanup(mof_registrar *r)
{
    const mof_pass_desc *const passes[] = {
        &eliminate_identity_pass, &dead_code_pass, &cleanup_fold_constants_pass,
        &cleanup_infer_shapes_pass, &cleanup_cse_pass, &cleanup_merge_initializers_pass,
        &cleanup_eliminate_noops_pass, &cleanup_merge_consecutive_pass,
    };
    for (size_t i = 0; i < sizeof passes / sizeof passes[0]; i++) {
        mof_status st = mof_register_pass(r, passes[i]);
        if (st != MOF_OK)
            return st;
    }
    return MOF_OK;
}

MOF_PLUGIN_DEFINE("cleanup", MOF_VERSION_STRING,
                  "graph cleanup: identity and dropout elimination, dead code removal, "
                  "constant folding, shape inference",
                  "MIT", register_cleanup)
