/* infer-shapes: writes the element type and shape of every value the model computes,
 * as mof's shape inference finds them (mof_infer_shapes), so that later passes can
 * read them (fold-constants folds Shape of a known shape) and the saved model carries
 * them in graph.value_info for runtimes and tools.
 *
 * Types flow from the graph inputs and initializers, after the pass manager applied
 * the input-shape pins (`--input-shape`, `<input name= shape=>`): a symbolic batch dim
 * ("N") stays a symbol through the graph, a pinned one becomes a number. Inference only
 * ever adds to what the model says; a contradiction with a declared type (or between
 * operands, such as Add of [2,3] and [4]) fails the pass with an error naming the node,
 * and the pass manager then restores the model.
 *
 * The pass changes no value, only what is known about values: it is exact. It
 * provides the property "shapes" for passes that require it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <mof/mof.h>

/* ------------------------------------------------------------------ knowledge */

/* How much is known about a value's type: one point for the element type, one for
 * the rank, one per symbolic dim, two per numeric dim. Inference only adds, so a value
 * whose score grew is one the pass typed. */
static int64_t type_score(const mof_value *v)
{
    if (!v || !mof_value_has_type(v))
        return 0;
    int64_t score = mof_value_dtype(v) != MOF_DTYPE_UNDEFINED;
    int rank = mof_value_rank(v);
    if (rank < 0)
        return score;
    score++;
    for (int i = 0; i < rank; i++) {
        if (mof_value_dim(v, (size_t)i) >= 0)
            score += 2;
        else if (mof_value_dim_symbol(v, (size_t)i))
            score++;
    }
    return score;
}

/* The scores of the values a graph defines (subgraph inputs, node outputs), in a
 * fixed walk order that the pass does not change. */
struct scores {
    int64_t *v;
    size_t n, cap;
};

static bool scores_push(struct scores *s, int64_t score)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 256;
        int64_t *v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return false;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = score;
    return true;
}

static bool collect_scores(const mof_graph *g, struct scores *s)
{
    /* The main graph's inputs are not inferred; a Loop body's may be. */
    if (mof_graph_parent(g)) {
        for (size_t i = 0; i < mof_graph_n_inputs(g); i++)
            if (!scores_push(s, type_score(mof_graph_input(g, i))))
                return false;
    }
    for (mof_node *n = mof_graph_first_node(g); n; n = mof_node_next(n)) {
        for (size_t i = 0; i < mof_node_n_subgraphs(n); i++)
            if (!collect_scores(mof_node_subgraph(n, i), s))
                return false;
        for (size_t i = 0; i < mof_node_n_outputs(n); i++)
            if (!scores_push(s, type_score(mof_node_output(n, i))))
                return false;
    }
    return true;
}

/* ------------------------------------------------------------------ the pass */

static mof_status infer_shapes_run(mof_pass_ctx *pc, mof_model *model, void *priv)
{
    mof_context *ctx = mof_pass_ctx_context(pc);
    struct scores before = { 0 }, after = { 0 };
    mof_status st = MOF_ERR_NOMEM;
    if (!collect_scores(mof_model_graph(model), &before))
        goto nomem;
    st = mof_infer_shapes(ctx, model);
    if (st < 0)
        goto done; /* reported by inference, naming the node */
    if (!collect_scores(mof_model_graph(model), &after))
        goto nomem;
    int64_t typed = 0;
    for (size_t i = 0; i < after.n && i < before.n; i++)
        typed += after.v[i] > before.v[i];
    if (typed)
        mof_pass_stat(pc, "values-typed", typed);
    st = typed ? MOF_OK : MOF_UNCHANGED;
    goto done;
nomem:
    st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
done:
    free(before.v);
    free(after.v);
    return st;
}

static const char *const infer_shapes_provides[] = { "shapes", NULL };

/* Registered by cleanup.c, the plugin's entry point; the only symbol this file shares. */
extern const mof_pass_desc cleanup_infer_shapes_pass;
const mof_pass_desc cleanup_infer_shapes_pass = {
    .size = sizeof(mof_pass_desc),
    .name = "infer-shapes",
    .summary = "write the type and shape of every value into the model",
    .help = "Runs mof's shape and type inference from the graph inputs (after the\n"
            "--input-shape and <input shape=> pins) and initializers, and records what\n"
            "it finds on every value, so that later passes can use it and the saved\n"
            "model lists it in value_info. Symbolic dims (a batch N) are carried\n"
            "through. A contradiction with what the model declares fails the pass,\n"
            "naming the node. Values are not changed. Provides \"shapes\".",
    .priv_size = 0,
    .flags = MOF_PASS_EXACT,
    .provides = infer_shapes_provides,
    .run = infer_shapes_run,
};
