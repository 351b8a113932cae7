/* ir_verify.c: mof_graph_verify, the check of every IR invariant that the pass manager
 * runs after each pass with --verify-each. Every violation is reported, not just the
 * first, each naming the node or value concerned. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "ir_private.h"

typedef struct verifier {
    mof_context *ctx;
    size_t errors;
} verifier;

#define VERR_NODE(vf, node, ...)                                                           \
    do {                                                                                   \
        (vf)->errors++;                                                                    \
        mof_report_node((vf)->ctx, MOF_SEVERITY_ERROR, MOF_ERR_VERIFY, (node), __VA_ARGS__); \
    } while (0)
#define VERR(vf, ...)                                                                      \
    do {                                                                                   \
        (vf)->errors++;                                                                    \
        mof_report((vf)->ctx, MOF_SEVERITY_ERROR, MOF_ERR_VERIFY, NULL, __VA_ARGS__);      \
    } while (0)

static const char *graph_label(const mof_graph *g)
{
    return g->name ? g->name : "(unnamed graph)";
}

static bool is_ancestor(const mof_graph *anc, const mof_graph *g)
{
    for (g = g->parent ? g->parent->graph : NULL; g; g = g->parent ? g->parent->graph : NULL) {
        if (g == anc)
            return true;
    }
    return false;
}

/* Whether value v is defined: produced, an initializer, a graph input or a capture of
 * something defined. */
static bool is_defined(const mof_value *v)
{
    while (v->flags & MOF_VF_CAPTURE) {
        if (!v->outer)
            return false;
        v = v->outer;
    }
    return !(v->flags & MOF_VF_UNDEFINED) &&
           (v->producer || v->flags & MOF_VF_INITIALIZER || v->n_input_refs);
}

/* How many times node n uses v, explicitly or through captures in its subgraphs. */
static size_t count_uses(const mof_node *n, const mof_value *v, int index)
{
    if (index >= 0)
        return (size_t)index < n->n_inputs && n->inputs[index] == v;
    size_t c = 0;
    for (size_t s = 0; s < mof_node_n_subgraphs(n); s++) {
        const mof_graph *sub = mof_node_subgraph(n, s);
        for (size_t k = 0; k < sub->n_values; k++)
            c += (sub->values[k]->flags & MOF_VF_CAPTURE) && sub->values[k]->outer == v;
    }
    return c;
}

static void verify_graph(verifier *vf, const mof_graph *g);

static int cmp_node_name(const void *a, const void *b)
{
    return strcmp((*(const mof_node *const *)a)->name, (*(const mof_node *const *)b)->name);
}

/* Node names, where given, are unique within a graph (ONNX Runtime refuses a model
 * with two nodes of one name; a pass that copies a name must change it). */
static void verify_node_names(verifier *vf, const mof_graph *g)
{
    const mof_node **named = mof_calloc(g->n_nodes + 1, sizeof *named);
    size_t n = 0;
    if (!named) {
        VERR(vf, "out of memory while verifying graph '%s'", graph_label(g));
        return;
    }
    for (const mof_node *nd = g->first; nd && n < g->n_nodes; nd = nd->next)
        if (nd->name && *nd->name)
            named[n++] = nd;
    qsort(named, n, sizeof *named, cmp_node_name);
    for (size_t i = 1; i < n; i++)
        if (!strcmp(named[i]->name, named[i - 1]->name)
            && (i < 2 || strcmp(named[i]->name, named[i - 2]->name)))
            VERR_NODE(vf, named[i], "another node of graph '%s' has the same name",
                      graph_label(g));
    free(named);
}

static void verify_values(verifier *vf, const mof_graph *g)
{
    for (size_t k = 0; k < g->n_values; k++) {
        const mof_value *v = g->values[k];
        if (v->graph != g || v->slot != k)
            VERR(vf, "graph '%s': value '%s' is filed under the wrong graph", graph_label(g),
                 v->name);
        if (mof_map_get(&g->by_name, v->name) != v)
            VERR(vf, "graph '%s': value '%s' is not found under its own name", graph_label(g),
                 v->name);
        if (v->producer && (v->producer->graph != g || v->producer_index >= v->producer->n_outputs ||
                            v->producer->outputs[v->producer_index] != v))
            VERR(vf, "graph '%s': value '%s' names a producer that does not output it",
                 graph_label(g), v->name);
        if (v->flags & MOF_VF_CAPTURE) {
            if (!v->outer)
                VERR(vf, "graph '%s': captured value '%s' reads nothing", graph_label(g), v->name);
            else if (!is_ancestor(v->outer->graph, g) || strcmp(v->outer->name, v->name))
                VERR(vf, "graph '%s': captured value '%s' does not match the value it reads",
                     graph_label(g), v->name);
            /* The read must be recorded as an implicit use by the owning node; a use
             * list that misses it is not seen when the outer graph's lists are checked
             * (those check only the uses they hold). */
            if (v->outer && g->parent) {
                size_t have = 0;
                for (size_t u = 0; u < v->outer->n_uses; u++)
                    have += v->outer->uses[u].node == g->parent && v->outer->uses[u].index == -1;
                if (!have)
                    VERR_NODE(vf, g->parent, "use list of '%s' records input -1 0 times, the "
                              "node has it %zu times", v->outer->name,
                              count_uses(g->parent, v->outer, -1));
            }
        }
        /* Each recorded use must be real, and counted as often as it occurs. */
        for (size_t u = 0; u < v->n_uses; u++) {
            const mof_use *use = &v->uses[u];
            size_t want = count_uses(use->node, v, use->index);
            size_t have = 0;
            for (size_t w = 0; w < v->n_uses; w++)
                have += v->uses[w].node == use->node && v->uses[w].index == use->index;
            if (want != have)
                VERR_NODE(vf, use->node, "use list of '%s' records input %d %zu times, the "
                          "node has it %zu times", v->name, use->index, have, want);
        }
        if (v->flags & MOF_VF_INITIALIZER && v->tensor && v->type.kind == MOF_TYPE_TENSOR &&
            v->type.has_elem_type && v->type.elem_type != v->tensor->dtype)
            VERR(vf, "graph '%s': initializer '%s' holds %s data but is declared %s",
                 graph_label(g), v->name, mof_dtype_name(v->tensor->dtype),
                 mof_dtype_name(v->type.elem_type));
        if (v->flags & MOF_VF_INITIALIZER && v->tensor && v->type.kind == MOF_TYPE_TENSOR &&
            v->type.has_shape) {
            bool same = v->type.rank == v->tensor->rank;
            for (size_t d = 0; same && d < v->type.rank; d++)
                same = v->type.dims[d].kind != MOF_DIM_VALUE ||
                       v->type.dims[d].value == v->tensor->dims[d];
            if (!same)
                VERR(vf, "graph '%s': initializer '%s' has a shape other than its declared one",
                     graph_label(g), v->name);
        }
    }
}

static void verify_graph(verifier *vf, const mof_graph *g)
{
    verify_values(vf, g);
    /* Topological order: a producer must come before each of its users. Positions are
     * numbered first (by node id, unique in the graph) so the check is linear. */
    size_t count = 0;
    for (const mof_node *n = g->first; n; n = n->next)
        count++;
    if (count != g->n_nodes)
        VERR(vf, "graph '%s': node list holds %zu nodes, count says %zu", graph_label(g),
             count, g->n_nodes);
    size_t *pos = mof_calloc(g->next_node_id, sizeof(size_t));
    if (!pos) {
        VERR(vf, "out of memory while verifying graph '%s'", graph_label(g));
        return;
    }
    size_t i = 0;
    for (const mof_node *n = g->first; n; n = n->next)
        if (n->id < g->next_node_id)
            pos[n->id] = ++i;
    i = 0;
    for (const mof_node *n = g->first; n; n = n->next, i++) {
        if (n->id >= g->next_node_id)
            VERR_NODE(vf, n, "node id %u is out of range", (unsigned)n->id);
        if (n->graph != g)
            VERR_NODE(vf, n, "node is filed under the wrong graph");
        if (!n->op_type || !*n->op_type)
            VERR_NODE(vf, n, "node has no op type");
        for (size_t k = 0; k < n->n_inputs; k++) {
            const mof_value *v = n->inputs[k];
            if (!v)
                continue;
            if (v->graph != g) {
                VERR_NODE(vf, n, "input %zu ('%s') belongs to another graph", k, v->name);
                continue;
            }
            if (!is_defined(v))
                VERR_NODE(vf, n, "input %zu ('%s') is not defined anywhere", k, v->name);
            size_t have = 0;
            for (size_t u = 0; u < v->n_uses; u++)
                have += v->uses[u].node == n && v->uses[u].index == (int)k;
            if (have != 1)
                VERR_NODE(vf, n, "use list of '%s' records input %zu %zu times", v->name, k, have);
            if (v->producer && v->producer->id < g->next_node_id &&
                pos[v->producer->id] > i)
                VERR_NODE(vf, n, "input '%s' is produced by node '%s', which comes later "
                          "(the graph is not in topological order)", v->name,
                          mof_node_name(v->producer));
        }
        for (size_t k = 0; k < n->n_outputs; k++) {
            const mof_value *v = n->outputs[k];
            if (v && (v->producer != n || v->producer_index != k))
                VERR_NODE(vf, n, "output %zu ('%s') names another producer", k, v->name);
            if (v && v->flags & (MOF_VF_INITIALIZER | MOF_VF_CAPTURE))
                VERR_NODE(vf, n, "output %zu ('%s') is also an initializer or a captured value",
                          k, v->name);
        }
        for (size_t s = 0; s < mof_node_n_subgraphs(n); s++) {
            const mof_graph *sub = mof_node_subgraph(n, s);
            if (sub->parent != n)
                VERR_NODE(vf, n, "subgraph %zu does not name this node as its owner", s);
            verify_graph(vf, sub);
        }
    }
    for (size_t k = 0; k < g->n_outputs; k++) {
        const mof_value *v = g->outputs[k].value;
        if (!is_defined(v))
            VERR(vf, "graph '%s': output '%s' is not defined anywhere", graph_label(g), v->name);
    }
    free(pos);
    verify_node_names(vf, g);
}

mof_status mof_graph_verify(mof_context *ctx, const mof_graph *g)
{
    verifier vf = {.ctx = ctx};
    verify_graph(&vf, g);
    return vf.errors ? MOF_ERR_VERIFY : MOF_OK;
}
