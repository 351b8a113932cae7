/* infer.c: shape and type inference over a model's graphs.
 *
 * Graphs are walked in node order, each node's subgraphs before the node itself (so
 * that If and Loop see the types of their branches' outputs). For each node the types
 * of its inputs are read from the values (a captured value reads through to the value
 * it captures), the op's shape function computes its outputs, and the result is
 * merged into each output value: it only ever adds information (a dtype, a rank, a
 * number for a symbolic or unknown dim), and a contradiction with what the model
 * declares is an error naming the node.
 *
 * Shape computations in exported models (Shape -> Gather -> Concat -> Reshape) need
 * values, not only shapes: the walk keeps the value of each tensor it can know (an
 * initializer, a Constant, the Shape of a static shape, or a small node whose inputs
 * are all known, evaluated with the interpreter) and hands it to the shape functions
 * in mof_shape.value. */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "context_private.h"
#include "interp/kernel.h"

/* Inputs of a node evaluated during inference hold at most this many elements in all:
 * enough for every shape computation, small enough to cost nothing. */
#define FOLD_MAX_ELEMENTS 4096

/* ------------------------------------------------------------------ shapes */

void mof_shape_clear(mof_shape *s)
{
    if (s->syms) {
        for (int i = 0; i < s->rank; i++)
            free(s->syms[i]);
    }
    free(s->syms);
    free(s->dims);
    *s = (mof_shape){0};
}

mof_status mof_shape_set(mof_shape *s, mof_dtype dtype, int rank, const int64_t *dims,
                         char *const *syms)
{
    mof_shape n = {.present = true, .dtype = dtype, .rank = rank < 0 ? -1 : rank};
    if (rank >= 0) {
        size_t r = (size_t)rank;
        n.dims = mof_calloc(r ? r : 1, sizeof(*n.dims));
        n.syms = mof_calloc(r ? r : 1, sizeof(*n.syms));
        if (!n.dims || !n.syms) {
            mof_shape_clear(&n);
            return MOF_ERR_NOMEM;
        }
        for (size_t i = 0; i < r; i++) {
            n.dims[i] = dims && dims[i] >= 0 ? dims[i] : -1;
            if (n.dims[i] < 0 && syms && syms[i] && !(n.syms[i] = mof_strdup(syms[i]))) {
                mof_shape_clear(&n);
                return MOF_ERR_NOMEM;
            }
        }
    }
    mof_shape_clear(s);
    *s = n;
    return MOF_OK;
}

mof_status mof_shape_copy(mof_shape *dst, const mof_shape *src)
{
    if (dst == src)
        return MOF_OK;
    mof_status st = mof_shape_set(dst, src->dtype, src->rank, src->dims, src->syms);
    if (st != MOF_OK)
        return st;
    dst->present = src->present;
    dst->value = src->value;
    return MOF_OK;
}

/* Appends "[N,3,?]" (or "[...]" for an unknown rank) to sb. */
static void shape_format(mof_strbuf *sb, int rank, const int64_t *dims,
                         const char *const *syms)
{
    if (rank < 0) {
        mof_strbuf_puts(sb, "[...]");
        return;
    }
    mof_strbuf_puts(sb, "[");
    for (int i = 0; i < rank; i++) {
        if (i)
            mof_strbuf_puts(sb, ",");
        if (dims[i] >= 0)
            mof_strbuf_printf(sb, "%" PRId64, dims[i]);
        else
            mof_strbuf_puts(sb, syms && syms[i] ? syms[i] : "?");
    }
    mof_strbuf_puts(sb, "]");
}

mof_status mof_infer_error(mof_infer_ctx *ic, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mof_status st = mof_node_verror(ic->ctx, MOF_ERR_INVALID_MODEL, ic->node, fmt, ap);
    va_end(ap);
    return st;
}

mof_status mof_shape_broadcast(mof_infer_ctx *ic, size_t n, const mof_shape *const *shapes,
                               mof_dtype dtype, mof_shape *out)
{
    int r = 0;
    for (size_t k = 0; k < n; k++) {
        const mof_shape *s = shapes[k];
        if (!s || !s->present)
            continue;
        if (s->rank < 0)
            return mof_shape_set(out, dtype, -1, NULL, NULL);
        if (s->rank > r)
            r = s->rank;
    }
    int64_t *dims = mof_calloc(r ? (size_t)r : 1, sizeof(*dims));
    const char **syms = mof_calloc(r ? (size_t)r : 1, sizeof(*syms));
    mof_status st = MOF_ERR_NOMEM;
    if (!dims || !syms)
        goto done;
    for (int i = 0; i < r; i++) {
        int64_t known = 1;
        bool big = false, unknown = false, conflict = false;
        const char *sym = NULL;
        for (size_t k = 0; k < n; k++) {
            const mof_shape *s = shapes[k];
            if (!s || !s->present || i < r - s->rank)
                continue; /* a missing leading dim broadcasts as 1 */
            int j = i - (r - s->rank);
            int64_t d = s->dims[j];
            if (d == 1)
                continue;
            if (d >= 0) {
                if (big && d != known) {
                    mof_strbuf sb;
                    mof_strbuf_init(&sb);
                    for (size_t q = 0; q < n; q++) {
                        if (!shapes[q] || !shapes[q]->present)
                            continue;
                        if (sb.len)
                            mof_strbuf_puts(&sb, " and ");
                        shape_format(&sb, shapes[q]->rank, shapes[q]->dims,
                                     (const char *const *)shapes[q]->syms);
                    }
                    st = mof_infer_error(ic, "cannot broadcast shapes %s",
                                         sb.data ? sb.data : "");
                    mof_strbuf_free(&sb);
                    goto done;
                }
                known = d;
                big = true;
            } else if (s->syms && s->syms[j]) {
                if (!sym)
                    sym = s->syms[j];
                else if (strcmp(sym, s->syms[j]))
                    conflict = true;
            } else {
                unknown = true;
            }
        }
        /* A number wins (the symbols must be it or 1); a symbol survives only when no
         * other operand could make the dim something else. */
        if (big)
            dims[i] = known;
        else if (unknown || conflict)
            dims[i] = -1;
        else if (sym)
            dims[i] = -1, syms[i] = sym;
        else
            dims[i] = 1;
    }
    st = mof_shape_set(out, dtype, r, dims, (char *const *)syms);
done:
    free(dims);
    free(syms);
    return st;
}

/* ------------------------------------------------------------------ the walk */

/* Known values of one graph, indexed by value id (owned references). */
typedef struct known_table {
    const mof_graph *g;
    mof_tensor **values;
} known_table;

typedef struct infer_state {
    mof_context *ctx;
    mof_model *model;
    bool changed;
    mof_status error;        /* the first error, MOF_OK when none */
    known_table *tables;
    size_t n_tables, cap_tables;
} infer_state;

static const mof_value *value_root(const mof_value *v)
{
    while (v->flags & MOF_VF_CAPTURE && v->outer)
        v = v->outer;
    return v;
}

static mof_tensor **known_slot(infer_state *s, const mof_value *v, bool create)
{
    const mof_graph *g = v->graph;
    for (size_t i = 0; i < s->n_tables; i++)
        if (s->tables[i].g == g)
            return v->id < g->next_value_id ? &s->tables[i].values[v->id] : NULL;
    if (!create || !MOF_GROW(s->tables, s->cap_tables, s->n_tables + 1))
        return NULL;
    mof_tensor **vals = mof_calloc(g->next_value_id ? g->next_value_id : 1, sizeof(*vals));
    if (!vals)
        return NULL;
    s->tables[s->n_tables++] = (known_table){g, vals};
    return &vals[v->id];
}

/* The value of v when the walk knows it (borrowed), else NULL. */
static const mof_tensor *known_get(infer_state *s, const mof_value *v)
{
    v = value_root(v);
    if (mof_value_is_constant(v))
        return mof_value_tensor(v);
    mof_tensor **slot = known_slot(s, v, false);
    return slot ? *slot : NULL;
}

/* Records that v's value is t (a reference is taken). */
static void known_put(infer_state *s, const mof_value *v, mof_tensor *t)
{
    mof_tensor **slot = known_slot(s, v, true);
    if (!slot)
        return; /* out of memory: the value stays unknown, which is only less precise */
    mof_tensor_unref(*slot);
    *slot = mof_tensor_ref(t);
}

static void set_error(infer_state *s, mof_status st)
{
    if (st < 0 && s->error == MOF_OK)
        s->error = st;
}

mof_status mof_shape_of_value(const mof_value *v, mof_shape *s)
{
    int rank = mof_value_rank(v);
    size_t n = rank > 0 ? (size_t)rank : 1;
    int64_t *dims = mof_calloc(n, sizeof(*dims));
    const char **syms = mof_calloc(n, sizeof(*syms));
    mof_status st = MOF_ERR_NOMEM;
    if (dims && syms) {
        for (int i = 0; i < rank; i++) {
            dims[i] = mof_value_dim(v, (size_t)i);
            syms[i] = mof_value_dim_symbol(v, (size_t)i);
        }
        st = mof_shape_set(s, mof_value_dtype(v), rank, dims, (char *const *)syms);
    }
    free(dims);
    free(syms);
    return st;
}

/* The type of value v (NULL: an omitted input) as a mof_shape, with its value when
 * the walk knows it. */
static mof_status shape_of_value(infer_state *s, const mof_value *v, mof_shape *out)
{
    *out = (mof_shape){0};
    if (!v) {
        out->rank = -1;
        return MOF_OK;
    }
    mof_status st;
    if (value_root(v)->type.kind == MOF_TYPE_OPAQUE)
        st = mof_shape_set(out, mof_value_dtype(v), -1, NULL, NULL);
    else
        st = mof_shape_of_value(v, out);
    if (st == MOF_OK)
        out->value = known_get(s, v);
    return st;
}

/* Merges an inferred type into output value v of node n: adds what v does not say
 * yet, reports a contradiction with what it says. */
static void merge_output(infer_state *s, const mof_node *n, mof_value *v, const mof_shape *inf)
{
    if (!v || !inf->present || v->type.kind == MOF_TYPE_OPAQUE || v->flags & MOF_VF_CAPTURE)
        return;
    mof_dtype decl_dtype = mof_value_dtype(v);
    int decl_rank = mof_value_rank(v);
    mof_dtype dtype = decl_dtype;
    bool changed = false;
    if (inf->dtype != MOF_DTYPE_UNDEFINED) {
        if (decl_dtype == MOF_DTYPE_UNDEFINED) {
            dtype = inf->dtype;
            changed = true;
        } else if (decl_dtype != inf->dtype) {
            mof_node_error(s->ctx, MOF_ERR_INVALID_MODEL, n,
                           "output '%s' is inferred to be %s, but the model declares %s",
                           v->name, mof_dtype_name(inf->dtype), mof_dtype_name(decl_dtype));
            set_error(s, MOF_ERR_INVALID_MODEL);
            return;
        }
    }
    if (dtype == MOF_DTYPE_UNDEFINED)
        return; /* a shape without an element type cannot be written */
    int rank = decl_rank >= 0 ? decl_rank : inf->rank;
    size_t nr = rank > 0 ? (size_t)rank : 1;
    int64_t *dims = mof_calloc(nr, sizeof(*dims));
    const char **syms = mof_calloc(nr, sizeof(*syms));
    int64_t *ddims = mof_calloc(nr, sizeof(*ddims));
    const char **dsyms = mof_calloc(nr, sizeof(*dsyms));
    if (!dims || !syms || !ddims || !dsyms) {
        set_error(s, mof_node_error(s->ctx, MOF_ERR_NOMEM, n, "out of memory"));
        goto done;
    }
    for (int i = 0; i < decl_rank; i++) {
        ddims[i] = mof_value_dim(v, (size_t)i);
        dsyms[i] = mof_value_dim_symbol(v, (size_t)i);
    }
    if (decl_rank >= 0 && inf->rank >= 0 && decl_rank != inf->rank)
        goto contradiction;
    if (decl_rank < 0 && inf->rank >= 0)
        changed = true;
    for (int i = 0; i < rank; i++) {
        int64_t di = decl_rank >= 0 ? ddims[i] : -1;
        const char *ds = decl_rank >= 0 ? dsyms[i] : NULL;
        int64_t ii = inf->rank >= 0 ? inf->dims[i] : -1;
        const char *is = inf->rank >= 0 && inf->syms ? inf->syms[i] : NULL;
        if (di >= 0 && ii >= 0 && di != ii)
            goto contradiction;
        if (di >= 0) {
            dims[i] = di;
        } else if (ii >= 0) {
            dims[i] = ii;
            changed = true;
        } else if (ds) {
            dims[i] = -1;
            syms[i] = ds; /* the model's own name for the dim is kept */
        } else {
            dims[i] = -1;
            syms[i] = is;
            if (is)
                changed = true;
        }
    }
    if (changed) {
        mof_status st = mof_value_set_type(v, dtype, rank, dims, syms);
        if (st != MOF_OK)
            set_error(s, mof_node_error(s->ctx, st, n, "cannot set the type of '%s': %s",
                                        v->name, mof_status_str(st)));
        else
            s->changed = true;
    }
    goto done;
contradiction: {
    mof_strbuf a, b;
    mof_strbuf_init(&a);
    mof_strbuf_init(&b);
    shape_format(&a, inf->rank, inf->dims, (const char *const *)inf->syms);
    shape_format(&b, decl_rank, ddims, dsyms);
    mof_node_error(s->ctx, MOF_ERR_INVALID_MODEL, n,
                   "output '%s' is inferred to have shape %s, but the model declares %s",
                   v->name, a.data ? a.data : "", b.data ? b.data : "");
    mof_strbuf_free(&a);
    mof_strbuf_free(&b);
    set_error(s, MOF_ERR_INVALID_MODEL);
}
done:
    free(dims);
    free(syms);
    free(ddims);
    free(dsyms);
}

static bool is_nondeterministic(const char *op)
{
    static const char *const ops[] = {
        "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
        "Multinomial", "Bernoulli", "Dropout",
    };
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        if (!strcmp(op, ops[i]))
            return true;
    return false;
}

/* The value of Shape / Size of a fully static shape, or NULL. */
static mof_tensor *shape_value(const mof_node *n, int64_t opset, const mof_shape *in)
{
    const char *op = mof_node_op_type(n);
    if (*mof_node_domain(n) || in->rank < 0)
        return NULL;
    for (int i = 0; i < in->rank; i++)
        if (in->dims[i] < 0)
            return NULL;
    if (!strcmp(op, "Size")) {
        int64_t numel = mof_dims_numel((size_t)in->rank, in->dims);
        return numel < 0 ? NULL : mof_tensor_create_from(MOF_DTYPE_INT64, 0, NULL, &numel);
    }
    if (strcmp(op, "Shape"))
        return NULL;
    int64_t r = in->rank, start = 0, end = r;
    if (opset >= 15) {
        start = mof_node_attr_int(n, "start", 0);
        end = mof_node_attr_int(n, "end", r);
        start = start < 0 ? start + r : start;
        end = end < 0 ? end + r : end;
        start = start < 0 ? 0 : start > r ? r : start;
        end = end < 0 ? 0 : end > r ? r : end;
    }
    int64_t len = end > start ? end - start : 0;
    return mof_tensor_create_from(MOF_DTYPE_INT64, 1, &len, in->dims + start);
}

/* Tries to learn the values of n's outputs. */
static void learn_values(infer_state *s, const mof_node *n, const mof_op_def *op,
                         int64_t opset, const mof_shape *in, const mof_shape *out)
{
    if (n->n_outputs == 0)
        return;
    /* A shape function may already know. */
    for (size_t i = 0; i < n->n_outputs; i++)
        if (n->outputs[i] && out[i].value)
            known_put(s, n->outputs[i], (mof_tensor *)out[i].value);
    if (n->outputs[0] && known_get(s, n->outputs[0]))
        return;
    const char *op_type = mof_node_op_type(n);
    if (!*mof_node_domain(n) && !strcmp(op_type, "Constant")) {
        mof_tensor *t = mof_node_attr_tensor(n, "value");
        if (t && n->outputs[0]) {
            known_put(s, n->outputs[0], t);
            return;
        }
    }
    if (n->n_inputs == 1 && (!strcmp(op_type, "Shape") || !strcmp(op_type, "Size"))) {
        mof_tensor *t = shape_value(n, opset, &in[0]);
        if (t) {
            if (n->outputs[0])
                known_put(s, n->outputs[0], t);
            mof_tensor_unref(t);
            return;
        }
    }
    if (!mof_op_can_run(mof_node_domain(n), op_type, opset) || mof_node_n_subgraphs(n) ||
        is_nondeterministic(op_type))
        return;
    if (n->n_inputs == 0 && strcmp(op_type, "Constant"))
        return;
    int64_t total = 0;
    mof_tensor **ins = mof_calloc(n->n_inputs ? n->n_inputs : 1, sizeof(*ins));
    mof_tensor **outs = mof_calloc(n->n_outputs, sizeof(*outs));
    if (!ins || !outs)
        goto done;
    for (size_t i = 0; i < n->n_inputs; i++) {
        if (!n->inputs[i])
            continue;
        const mof_tensor *t = known_get(s, n->inputs[i]);
        if (!t || t->dtype == MOF_DTYPE_STRING)
            goto done;
        total += t->numel;
        if (total > FOLD_MAX_ELEMENTS)
            goto done;
        ins[i] = (mof_tensor *)t;
    }
    /* A kernel that refuses is no error of the model here: its messages are dropped
     * and the values stay unknown. */
    mof_diag_capture cap;
    mof_context_capture_begin(s->ctx, &cap);
    mof_status st = mof_interp_eval_node(s->ctx, n, opset, n->n_inputs, ins, n->n_outputs, outs);
    char *msgs = NULL;
    mof_context_capture_end(s->ctx, &cap, "\n", &msgs);
    free(msgs);
    if (st != MOF_OK)
        goto done;
    for (size_t i = 0; i < n->n_outputs; i++) {
        if (!n->outputs[i] || !outs[i])
            continue;
        known_put(s, n->outputs[i], outs[i]);
        /* The computed value also tells the type, when the shape function did not. */
        mof_shape sh = {0};
        if (mof_shape_set(&sh, outs[i]->dtype, (int)outs[i]->rank, outs[i]->dims, NULL) ==
            MOF_OK)
            merge_output(s, n, n->outputs[i], &sh);
        mof_shape_clear(&sh);
    }
done:
    if (outs) {
        for (size_t i = 0; i < n->n_outputs; i++)
            mof_tensor_unref(outs[i]);
    }
    free(ins);
    free(outs);
}

/* A Loop body's inputs that the model leaves untyped get the types the op gives them:
 * the iteration number, the condition, and the carried values' element types. */
static void type_loop_body(infer_state *s, const mof_node *n)
{
    if (*mof_node_domain(n) || strcmp(mof_node_op_type(n), "Loop"))
        return;
    mof_graph *body = mof_node_attr_graph(n, "body");
    if (!body)
        return;
    for (size_t i = 0; i < body->n_inputs; i++) {
        mof_value *v = body->inputs[i].value;
        if (v->type.kind != MOF_TYPE_NONE)
            continue;
        mof_status st = MOF_OK;
        if (i == 0) {
            st = mof_value_set_type(v, MOF_DTYPE_INT64, 0, NULL, NULL);
        } else if (i == 1) {
            st = mof_value_set_type(v, MOF_DTYPE_BOOL, 0, NULL, NULL);
        } else if (i < n->n_inputs && n->inputs[i] &&
                   mof_value_dtype(n->inputs[i]) != MOF_DTYPE_UNDEFINED) {
            st = mof_value_set_type(v, mof_value_dtype(n->inputs[i]), -1, NULL, NULL);
        } else {
            continue;
        }
        if (st == MOF_OK)
            s->changed = true;
    }
}

static void infer_graph(infer_state *s, mof_graph *g);

static void infer_node(infer_state *s, mof_node *n)
{
    type_loop_body(s, n);
    for (size_t i = 0; i < mof_node_n_subgraphs(n); i++)
        infer_graph(s, mof_node_subgraph(n, i));
    int64_t opset = mof_model_opset(s->model, mof_node_domain(n));
    const mof_op_def *op = mof_op_find(mof_node_domain(n), mof_node_op_type(n), opset);
    mof_shape *in = mof_calloc(n->n_inputs ? n->n_inputs : 1, sizeof(*in));
    mof_shape *out = mof_calloc(n->n_outputs ? n->n_outputs : 1, sizeof(*out));
    if (!in || !out) {
        set_error(s, mof_node_error(s->ctx, MOF_ERR_NOMEM, n, "out of memory"));
        goto done;
    }
    for (size_t i = 0; i < n->n_inputs; i++) {
        mof_status st = shape_of_value(s, n->inputs[i], &in[i]);
        if (st != MOF_OK) {
            set_error(s, mof_node_error(s->ctx, st, n, "out of memory"));
            goto done;
        }
    }
    if (op && op->infer) {
        mof_infer_ctx ic = {
            .ctx = s->ctx, .node = n, .opset = opset, .n_in = n->n_inputs, .in = in,
            .n_out = n->n_outputs, .out = out,
        };
        size_t errors = mof_context_n_errors(s->ctx);
        mof_status st = op->infer(&ic);
        if (st < 0) {
            if (mof_context_n_errors(s->ctx) == errors)
                mof_node_error(s->ctx, st, n, "shape inference failed: %s", mof_status_str(st));
            set_error(s, st);
            goto done;
        }
        for (size_t i = 0; i < n->n_outputs; i++)
            merge_output(s, n, n->outputs[i], &out[i]);
    }
    learn_values(s, n, op, opset, in, out);
done:
    if (in) {
        for (size_t i = 0; i < n->n_inputs; i++)
            mof_shape_clear(&in[i]);
    }
    if (out) {
        for (size_t i = 0; i < n->n_outputs; i++)
            mof_shape_clear(&out[i]);
    }
    free(in);
    free(out);
}

static void infer_graph(infer_state *s, mof_graph *g)
{
    for (mof_node *n = g->first; n; n = n->next)
        infer_node(s, n);
}

mof_status mof_infer_shapes(mof_context *ctx, mof_model *model)
{
    infer_state s = {.ctx = ctx, .model = model};
    infer_graph(&s, model->graph);
    for (size_t i = 0; i < s.n_tables; i++) {
        const mof_graph *g = s.tables[i].g;
        for (uint32_t k = 0; k < g->next_value_id; k++)
            mof_tensor_unref(s.tables[i].values[k]);
        free(s.tables[i].values);
    }
    free(s.tables);
    if (s.error != MOF_OK)
        return s.error;
    return s.changed ? MOF_OK : MOF_UNCHANGED;
}
