/* interp.c: the reference interpreter's executor.
 *
 * mof_interp_create checks every node of every graph against the operator tables
 * (registry.c) and builds, for each graph, a plan: the nodes in order with their op
 * rows, and for each node the values whose last use it is. Running a graph makes a
 * frame: one tensor slot per value, indexed by the value's id. Initializers are bound
 * when the frame starts, node outputs as nodes run, and each intermediate tensor is
 * released right after its last use, so that memory stays bounded by the live values,
 * not by the graph. A subgraph (If branch, Loop body) runs in a frame whose parent is
 * the frame of the node that runs it; a value captured from an enclosing graph is read
 * through the parent frames.
 *
 * Most values are tensors, held in the frame's tensor slots and given to tensor
 * kernels as they are. Sequences and optionals (mof_ivalue) live in a second array of
 * slots; only value kernels (mof_vop_def rows: the sequence and optional ops,
 * Identity, If, Loop) take or give them, and a tensor kernel that meets one refuses it
 * by name. */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "context_private.h"
#include "interp/op.h"

typedef struct graph_plan {
    const mof_graph *g;
    size_t n_nodes;
    const mof_node **nodes;
    mof_kernel_fn *runs;     /* each node's tensor kernel, or NULL ... */
    mof_vkernel_fn *vruns;   /* ... its value kernel */
    int64_t *opsets;
    size_t *release_start;   /* n_nodes + 1 offsets into release */
    uint32_t *release;       /* ids of values to release after each node */
} graph_plan;

struct mof_interp {
    mof_context *ctx;
    const mof_model *model;
    graph_plan **plans;
    size_t n_plans, cap_plans;
    mof_interp_observer observer;
    void *observer_user;
    uint64_t seeds;          /* seeds handed out by mof_interp_next_seed */
};

typedef struct frame {
    const graph_plan *plan;
    struct frame *parent;
    mof_tensor **slots;      /* graph->next_value_id entries: tensors */
    mof_ivalue **vals;       /* the same: sequences and optionals */
} frame;

/* ------------------------------------------------------------------ diagnostics */

/* How a node is named in messages: its name, else the name it was loaded under
 * ("Relu#3"), else nothing (the op type still says what it is). */
static const char *node_label(const mof_node *n)
{
    const char *name = mof_node_name(n);
    if (*name)
        return name;
    return mof_node_n_origins(n) ? mof_node_origin(n, 0) : NULL;
}

mof_status mof_node_verror(mof_context *ctx, mof_status status, const mof_node *n,
                           const char *fmt, va_list ap)
{
    mof_diag tmpl = {.severity = MOF_SEVERITY_ERROR, .status = status};
    if (n) {
        tmpl.node = node_label(n);
        tmpl.op_type = mof_node_op_type(n);
    }
    return mof_vreport_diag(ctx, &tmpl, fmt, ap);
}

mof_status mof_node_error(mof_context *ctx, mof_status status, const mof_node *n,
                          const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mof_status st = mof_node_verror(ctx, status, n, fmt, ap);
    va_end(ap);
    return st;
}

mof_status mof_kernel_error(mof_kernel_ctx *kc, mof_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mof_status st = mof_node_verror(kc->ctx, status, kc->node, fmt, ap);
    va_end(ap);
    return st;
}

static void report_unsupported(mof_context *ctx, const mof_node *n)
{
    const char *label = node_label(n);
    const char *domain = mof_node_domain(n);
    mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_UNSUPPORTED, NULL,
               "node '%s' (%s, domain '%s'): not implemented by the interpreter",
               label ? label : "", mof_node_op_type(n), *domain ? domain : "ai.onnx");
}

/* ------------------------------------------------------------------ plans */

static int64_t node_opset(const mof_node *n)
{
    const mof_model *m = n->graph->model;
    return m ? mof_model_opset(m, mof_node_domain(n)) : -1;
}

static void plan_free(graph_plan *p)
{
    if (!p)
        return;
    free(p->nodes);
    free(p->runs);
    free(p->vruns);
    free(p->opsets);
    free(p->release_start);
    free(p->release);
    free(p);
}

/* Builds the plan of g; a node that has no op row is reported. */
static mof_status plan_build(mof_context *ctx, const mof_graph *g, graph_plan **out)
{
    mof_status st = MOF_ERR_NOMEM;
    size_t *pos = NULL, *count = NULL;
    graph_plan *p = mof_calloc(1, sizeof(*p));
    if (!p)
        goto done;
    p->g = g;
    p->n_nodes = g->n_nodes;
    size_t nn = g->n_nodes ? g->n_nodes : 1;
    p->nodes = mof_calloc(nn, sizeof(*p->nodes));
    p->runs = mof_calloc(nn, sizeof(*p->runs));
    p->vruns = mof_calloc(nn, sizeof(*p->vruns));
    p->opsets = mof_calloc(nn, sizeof(*p->opsets));
    p->release_start = mof_calloc(g->n_nodes + 1, sizeof(*p->release_start));
    pos = mof_calloc(g->next_node_id ? g->next_node_id : 1, sizeof(*pos));
    count = mof_calloc(nn, sizeof(*count));
    if (!p->nodes || !p->runs || !p->vruns || !p->opsets || !p->release_start || !pos || !count)
        goto done;
    size_t k = 0;
    for (const mof_node *n = g->first; n; n = n->next, k++) {
        p->nodes[k] = n;
        pos[n->id] = k;
        p->opsets[k] = node_opset(n);
        p->vruns[k] = mof_vop_find(mof_node_domain(n), mof_node_op_type(n), p->opsets[k]);
        if (!p->vruns[k]) {
            const mof_op_def *d = mof_op_find(mof_node_domain(n), mof_node_op_type(n),
                                              p->opsets[k]);
            p->runs[k] = d ? d->run : NULL;
        }
        if (!p->runs[k] && !p->vruns[k]) {
            report_unsupported(ctx, n);
            st = MOF_ERR_UNSUPPORTED;
            goto done;
        }
    }
    /* The last node that reads each value: its producer (for unused outputs) or its
     * last use (subgraph captures count as uses of the node owning the subgraph).
     * Graph outputs and values read through from enclosing graphs are never released
     * early. */
    size_t *last = mof_calloc(g->n_values ? g->n_values : 1, sizeof(*last));
    if (!last)
        goto done;
    size_t n_release = 0;
    for (size_t i = 0; i < g->n_values; i++) {
        const mof_value *v = g->values[i];
        last[i] = SIZE_MAX;
        if (v->flags & MOF_VF_CAPTURE || v->n_output_refs)
            continue;
        size_t l = SIZE_MAX;
        if (v->producer && v->producer->graph == g)
            l = pos[v->producer->id];
        for (size_t u = 0; u < v->n_uses; u++) {
            if (v->uses[u].node->graph != g)
                continue; /* not expected: uses live in the value's graph */
            size_t q = pos[v->uses[u].node->id];
            if (l == SIZE_MAX || q > l)
                l = q;
        }
        if (l == SIZE_MAX)
            continue;
        last[i] = l;
        count[l]++;
        n_release++;
    }
    p->release = mof_calloc(n_release ? n_release : 1, sizeof(*p->release));
    if (!p->release) {
        free(last);
        goto done;
    }
    for (size_t i = 0; i < p->n_nodes; i++)
        p->release_start[i + 1] = p->release_start[i] + count[i];
    memset(count, 0, nn * sizeof(*count));
    for (size_t i = 0; i < g->n_values; i++) {
        if (last[i] == SIZE_MAX)
            continue;
        size_t l = last[i];
        p->release[p->release_start[l] + count[l]++] = g->values[i]->id;
    }
    free(last);
    st = MOF_OK;
done:
    free(pos);
    free(count);
    if (st != MOF_OK) {
        if (st == MOF_ERR_NOMEM)
            mof_report(ctx, MOF_SEVERITY_ERROR, st, NULL, "out of memory planning graph '%s'",
                       mof_graph_name(g));
        plan_free(p);
        p = NULL;
    }
    *out = p;
    return st;
}

static const graph_plan *plan_get(mof_interp *it, const mof_graph *g, mof_status *st)
{
    for (size_t i = 0; i < it->n_plans; i++)
        if (it->plans[i]->g == g)
            return it->plans[i];
    graph_plan *p;
    if (!MOF_GROW(it->plans, it->cap_plans, it->n_plans + 1)) {
        *st = mof_report(it->ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    *st = plan_build(it->ctx, g, &p);
    if (*st != MOF_OK)
        return NULL;
    it->plans[it->n_plans++] = p;
    return p;
}

/* ------------------------------------------------------------------ create */

/* Checks every node of g and its subgraphs; reports each one not implemented and
 * each value of a type the interpreter cannot hold. Returns the number of problems. */
static size_t check_graph(mof_context *ctx, const mof_graph *g)
{
    size_t bad = 0;
    for (size_t i = 0; i < g->n_values; i++) {
        const mof_value *v = g->values[i];
        mof_ivalue_kind kind;
        if (v->type.kind == MOF_TYPE_OPAQUE && mof_interp_value_kind(v, &kind) < 0) {
            mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_UNSUPPORTED, NULL,
                       "value '%s' of graph '%s' is not a tensor, a sequence of tensors or an "
                       "optional of those: map, sparse tensor and nested sequence types are "
                       "not implemented by the interpreter",
                       v->name, mof_graph_name(g));
            bad++;
        }
    }
    for (const mof_node *n = g->first; n; n = n->next) {
        if (!mof_op_can_run(mof_node_domain(n), mof_node_op_type(n), node_opset(n))) {
            report_unsupported(ctx, n);
            bad++;
        }
        for (size_t s = 0; s < mof_node_n_subgraphs(n); s++)
            bad += check_graph(ctx, mof_node_subgraph(n, s));
    }
    return bad;
}

static mof_status plan_all(mof_interp *it, const mof_graph *g)
{
    mof_status st;
    if (!plan_get(it, g, &st))
        return st;
    for (const mof_node *n = g->first; n; n = n->next) {
        for (size_t s = 0; s < mof_node_n_subgraphs(n); s++) {
            st = plan_all(it, mof_node_subgraph(n, s));
            if (st != MOF_OK)
                return st;
        }
    }
    return MOF_OK;
}

mof_interp *mof_interp_create(mof_context *ctx, const mof_model *model)
{
    if (check_graph(ctx, model->graph))
        return NULL;
    mof_interp *it = mof_calloc(1, sizeof(*it));
    if (!it) {
        mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    it->ctx = ctx;
    it->model = model;
    if (plan_all(it, model->graph) != MOF_OK) {
        mof_interp_destroy(it);
        return NULL;
    }
    return it;
}

void mof_interp_destroy(mof_interp *it)
{
    if (!it)
        return;
    for (size_t i = 0; i < it->n_plans; i++)
        plan_free(it->plans[i]);
    free(it->plans);
    free(it);
}

/* ------------------------------------------------------------------ frames */

/* The value of v as seen from frame f (borrowed): *t a tensor or *iv a sequence or
 * optional, both NULL when it has none yet. A captured value is read from the
 * enclosing frames; with no enclosing frame (a node evaluated alone), only a constant
 * can be read. */
static void frame_lookup(const frame *f, const mof_value *v, mof_tensor **t, mof_ivalue **iv)
{
    while (v->flags & MOF_VF_CAPTURE && v->outer) {
        v = v->outer;
        f = f ? f->parent : NULL;
    }
    *iv = NULL;
    if (f && f->plan->g == v->graph) {
        *t = f->slots[v->id];
        *iv = f->vals[v->id];
        return;
    }
    *t = v->flags & MOF_VF_INITIALIZER && !v->n_input_refs ? v->tensor : NULL;
}

/* The value of v as a new mof_ivalue reference (tensors wrapped); NULL with *nomem
 * false when it has none. */
static mof_ivalue *frame_get_value(const frame *f, const mof_value *v, bool *nomem)
{
    mof_tensor *t;
    mof_ivalue *iv;
    frame_lookup(f, v, &t, &iv);
    *nomem = false;
    if (iv)
        return mof_ivalue_ref(iv);
    if (!t)
        return NULL;
    iv = mof_ivalue_tensor(t);
    *nomem = !iv;
    return iv;
}

/* Frees slot id of f. */
static void frame_clear(frame *f, uint32_t id)
{
    mof_tensor_unref(f->slots[id]);
    f->slots[id] = NULL;
    mof_ivalue_unref(f->vals[id]);
    f->vals[id] = NULL;
}

/* Stores value iv (a reference taken over) in slot id: tensors as tensors. */
static void frame_put(frame *f, uint32_t id, mof_ivalue *iv)
{
    frame_clear(f, id);
    if (iv && iv->kind == MOF_IVALUE_TENSOR) {
        f->slots[id] = mof_tensor_ref(iv->tensor);
        mof_ivalue_unref(iv);
    } else {
        f->vals[id] = iv;
    }
}

static void frame_fini(frame *f)
{
    if (!f->slots || !f->vals) {
        free(f->slots);
        free(f->vals);
        f->slots = NULL;
        f->vals = NULL;
        return;
    }
    for (uint32_t i = 0; i < f->plan->g->next_value_id; i++)
        frame_clear(f, i);
    free(f->slots);
    free(f->vals);
    f->slots = NULL;
    f->vals = NULL;
}

/* Checks that a value given for graph input v has the kind v's type declares; a
 * tensor or sequence given for an optional is wrapped into a full optional (as ONNX
 * does for a Loop body whose carried optional becomes a sequence). *iv is replaced
 * then. */
static mof_status check_kind(mof_context *ctx, const mof_node *owner, const mof_value *v,
                             mof_ivalue **iv)
{
    mof_ivalue_kind want;
    if (mof_interp_value_kind(v, &want) != MOF_OK || want == (*iv)->kind)
        return MOF_OK;
    if (want == MOF_IVALUE_OPTIONAL) {
        mof_ivalue *o = mof_ivalue_optional(*iv);
        if (!o)
            return mof_node_error(ctx, MOF_ERR_NOMEM, owner, "out of memory");
        mof_ivalue_unref(*iv);
        *iv = o;
        return MOF_OK;
    }
    return mof_node_error(ctx, MOF_ERR_INVALID_ARG, owner,
                          "input '%s': expected a value of kind '%s', got '%s'", v->name,
                          mof_ivalue_kind_name(want), mof_ivalue_kind_name((*iv)->kind));
}

static mof_status check_dtype(mof_context *ctx, const mof_node *owner, const mof_value *v,
                              const mof_tensor *t)
{
    mof_dtype want = mof_value_dtype(v);
    if (want != MOF_DTYPE_UNDEFINED && want != t->dtype)
        return mof_node_error(ctx, MOF_ERR_INVALID_ARG, owner,
                              "input '%s': expected a %s tensor, got %s", v->name,
                              mof_dtype_name(want), mof_dtype_name(t->dtype));
    return MOF_OK;
}

/* Checks a tensor given for graph input v against v's declared type and shape. */
static mof_status check_input(mof_context *ctx, const mof_node *owner, const mof_value *v,
                              const mof_tensor *t)
{
    mof_status st = check_dtype(ctx, owner, v, t);
    if (st != MOF_OK)
        return st;
    int rank = mof_value_rank(v);
    if (rank < 0)
        return MOF_OK;
    if ((size_t)rank != t->rank)
        return mof_node_error(ctx, MOF_ERR_INVALID_ARG, owner,
                              "input '%s': expected rank %d, got a tensor of rank %zu", v->name,
                              rank, t->rank);
    for (size_t i = 0; i < t->rank; i++) {
        int64_t d = mof_value_dim(v, i);
        if (d >= 0 && d != t->dims[i])
            return mof_node_error(ctx, MOF_ERR_INVALID_ARG, owner,
                                  "input '%s': dim %zu is %" PRId64 ", expected %" PRId64,
                                  v->name, i, t->dims[i], d);
    }
    return MOF_OK;
}

/* Starts a frame for plan: binds graph inputs (inputs[i], NULL to use an initializer's
 * default) and initializers. owner is the node running a subgraph (NULL for the main
 * graph), for messages. */
static mof_status frame_init(mof_interp *it, frame *f, const graph_plan *plan, frame *parent,
                             const mof_node *owner, size_t n_inputs, mof_ivalue *const *inputs)
{
    const mof_graph *g = plan->g;
    f->plan = plan;
    f->parent = parent;
    f->slots = mof_calloc(g->next_value_id ? g->next_value_id : 1, sizeof(*f->slots));
    f->vals = mof_calloc(g->next_value_id ? g->next_value_id : 1, sizeof(*f->vals));
    if (!f->slots || !f->vals) {
        frame_fini(f);
        return mof_node_error(it->ctx, MOF_ERR_NOMEM, owner, "out of memory");
    }
    for (size_t i = 0; i < g->n_initializers; i++) {
        const mof_value *v = g->initializers[i];
        if (v->tensor && !f->slots[v->id])
            f->slots[v->id] = mof_tensor_ref(v->tensor);
    }
    for (size_t i = 0; i < n_inputs; i++) {
        const mof_value *v = g->inputs[i].value;
        if (!inputs[i]) {
            if (v->flags & MOF_VF_INITIALIZER && v->tensor)
                continue;
            frame_fini(f);
            return mof_node_error(it->ctx, MOF_ERR_INVALID_ARG, owner,
                                  "no tensor given for input '%s' of graph '%s'", v->name,
                                  mof_graph_name(g));
        }
        /* Subgraph inputs are checked for type only: loop-carried shapes may change
         * from one iteration to the next. */
        mof_ivalue *iv = mof_ivalue_ref(inputs[i]);
        mof_status st = check_kind(it->ctx, owner, v, &iv);
        const mof_tensor *t = iv->kind == MOF_IVALUE_TENSOR ? iv->tensor : NULL;
        if (st == MOF_OK && t)
            st = owner ? check_dtype(it->ctx, owner, v, t) : check_input(it->ctx, owner, v, t);
        if (st != MOF_OK) {
            mof_ivalue_unref(iv);
            frame_fini(f);
            return st;
        }
        frame_put(f, v->id, iv);
    }
    return MOF_OK;
}

/* Hands the outputs the node computed (out[i] and, for value kernels, vout[i]) to the
 * observer: tensors as they are, other values as NULL. */
static mof_status observe(mof_interp *it, const mof_node *n, size_t n_out, mof_tensor **out,
                          mof_ivalue **vout)
{
    if (vout) {
        for (size_t i = 0; i < n_out; i++)
            out[i] = vout[i] && vout[i]->kind == MOF_IVALUE_TENSOR ? vout[i]->tensor : NULL;
    }
    mof_status st = it->observer(it->observer_user, n, n_out, out);
    if (vout) {
        for (size_t i = 0; i < n_out; i++)
            out[i] = NULL;
    }
    return st;
}

/* Runs one node of a frame. */
static mof_status run_node(mof_interp *it, frame *f, const mof_node *n, mof_kernel_fn run,
                           mof_vkernel_fn vrun, int64_t opset)
{
    mof_status st = MOF_OK;
    size_t n_in = n->n_inputs, n_out = n->n_outputs;
    bool values = vrun != NULL;
    mof_tensor **in = mof_calloc(n_in ? n_in : 1, sizeof(*in));
    mof_tensor **out = mof_calloc(n_out ? n_out : 1, sizeof(*out));
    mof_ivalue **vin = values ? mof_calloc(n_in ? n_in : 1, sizeof(*vin)) : NULL;
    mof_ivalue **vout = values ? mof_calloc(n_out ? n_out : 1, sizeof(*vout)) : NULL;
    if (!in || !out || (values && (!vin || !vout))) {
        st = mof_node_error(it->ctx, MOF_ERR_NOMEM, n, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n_in; i++) {
        const mof_value *v = n->inputs[i];
        if (!v)
            continue;
        mof_ivalue *iv;
        frame_lookup(f, v, &in[i], &iv);
        if (!in[i] && !iv) {
            st = mof_node_error(it->ctx, MOF_ERR_INVALID_MODEL, n,
                                "input %zu ('%s') has no value when the node runs", i, v->name);
            goto done;
        }
        if (values) {
            vin[i] = iv ? mof_ivalue_ref(iv) : mof_ivalue_tensor(in[i]);
            if (!vin[i]) {
                st = mof_node_error(it->ctx, MOF_ERR_NOMEM, n, "out of memory");
                goto done;
            }
        } else if (iv) {
            st = mof_node_error(it->ctx, MOF_ERR_INVALID_MODEL, n,
                                "input %zu ('%s') is a %s; the op takes tensors", i, v->name,
                                mof_ivalue_kind_name(iv->kind));
            goto done;
        }
    }
    mof_kernel_ctx kc = {
        .ctx = it->ctx, .node = n, .opset = opset, .interp = it, .frame = f,
    };
    size_t errors = mof_context_n_errors(it->ctx);
    st = values ? vrun(&kc, n_in, vin, n_out, vout) : run(&kc, n_in, in, n_out, out);
    if (st < 0) {
        /* Every failure names the node, also when the kernel said nothing itself. */
        if (mof_context_n_errors(it->ctx) == errors)
            mof_node_error(it->ctx, st, n, "%s", mof_status_str(st));
        goto done;
    }
    st = MOF_OK;
    for (size_t i = 0; i < n_out; i++) {
        if (n->outputs[i] && !(values ? (void *)vout[i] : (void *)out[i])) {
            st = mof_node_error(it->ctx, MOF_ERR_INTERNAL, n,
                                "internal error: the kernel computed no output %zu", i);
            goto done;
        }
    }
    if (it->observer && !f->parent) {
        st = observe(it, n, n_out, out, vout);
        if (st < 0)
            goto done;
        st = MOF_OK;
    }
    for (size_t i = 0; i < n_out; i++) {
        const mof_value *v = n->outputs[i];
        if (!v)
            continue;
        if (values) {
            frame_put(f, v->id, vout[i]);
            vout[i] = NULL;
        } else {
            frame_clear(f, v->id);
            f->slots[v->id] = out[i];
            out[i] = NULL;
        }
    }
done:
    for (size_t i = 0; out && i < n_out; i++)
        mof_tensor_unref(out[i]);
    for (size_t i = 0; vin && i < n_in; i++)
        mof_ivalue_unref(vin[i]);
    for (size_t i = 0; vout && i < n_out; i++)
        mof_ivalue_unref(vout[i]);
    free(in);
    free(out);
    free(vin);
    free(vout);
    return st;
}

/* Runs every node of the frame's graph, then hands out references to its outputs. */
static mof_status frame_run(mof_interp *it, frame *f, const mof_node *owner, size_t n_outputs,
                            mof_ivalue **outputs)
{
    const graph_plan *p = f->plan;
    for (size_t k = 0; k < p->n_nodes; k++) {
        mof_status st = run_node(it, f, p->nodes[k], p->runs[k], p->vruns[k], p->opsets[k]);
        if (st != MOF_OK)
            return st;
        for (size_t r = p->release_start[k]; r < p->release_start[k + 1]; r++)
            frame_clear(f, p->release[r]);
    }
    const mof_graph *g = p->g;
    for (size_t i = 0; i < n_outputs; i++) {
        const mof_value *v = g->outputs[i].value;
        bool nomem;
        outputs[i] = frame_get_value(f, v, &nomem);
        if (!outputs[i]) {
            for (size_t j = 0; j < i; j++) {
                mof_ivalue_unref(outputs[j]);
                outputs[j] = NULL;
            }
            if (nomem)
                return mof_node_error(it->ctx, MOF_ERR_NOMEM, owner, "out of memory");
            return mof_node_error(it->ctx, MOF_ERR_INVALID_MODEL, owner,
                                  "output '%s' of graph '%s' has no value", v->name,
                                  mof_graph_name(g));
        }
    }
    return MOF_OK;
}

void mof_interp_set_observer(mof_interp *it, mof_interp_observer fn, void *user)
{
    it->observer = fn;
    it->observer_user = user;
}

uint64_t mof_interp_next_seed(mof_kernel_ctx *kc)
{
    return kc->interp->seeds++;
}

/* Runs graph g in a new frame (parent: the enclosing frame, NULL for the main graph;
 * owner: the node running it, for messages). */
static mof_status run_graph(mof_interp *it, const mof_graph *g, frame *parent,
                            const mof_node *owner, size_t n_inputs, mof_ivalue *const *inputs,
                            size_t n_outputs, mof_ivalue **outputs)
{
    mof_status st;
    const graph_plan *p = plan_get(it, g, &st);
    if (!p)
        return st;
    frame f = {0};
    st = frame_init(it, &f, p, parent, owner, n_inputs, inputs);
    if (st != MOF_OK)
        return st;
    st = frame_run(it, &f, owner, n_outputs, outputs);
    frame_fini(&f);
    return st;
}

mof_status mof_interp_run_values(mof_interp *it, size_t n_inputs, mof_ivalue *const *inputs,
                                 size_t n_outputs, mof_ivalue **outputs)
{
    const mof_graph *g = it->model->graph;
    for (size_t i = 0; i < n_outputs; i++)
        outputs[i] = NULL;
    if (n_inputs != g->n_inputs || n_outputs != g->n_outputs)
        return mof_report(it->ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL,
                          "graph '%s' has %zu inputs and %zu outputs, %zu and %zu given",
                          mof_graph_name(g), g->n_inputs, g->n_outputs, n_inputs, n_outputs);
    return run_graph(it, g, NULL, NULL, n_inputs, inputs, n_outputs, outputs);
}

/* Wraps n tensors (NULL entries stay NULL); NULL when out of memory. */
static mof_ivalue **wrap_tensors(size_t n, mof_tensor *const *ts)
{
    mof_ivalue **vs = mof_calloc(n ? n : 1, sizeof(*vs));
    for (size_t i = 0; vs && i < n; i++) {
        if (ts[i] && !(vs[i] = mof_ivalue_tensor(ts[i]))) {
            for (size_t j = 0; j < i; j++)
                mof_ivalue_unref(vs[j]);
            free(vs);
            return NULL;
        }
    }
    return vs;
}

static void unref_values(size_t n, mof_ivalue **vs)
{
    for (size_t i = 0; vs && i < n; i++)
        mof_ivalue_unref(vs[i]);
    free(vs);
}

/* Moves the tensors of values vs into ts (vs freed); a value of another kind is
 * reported (the names say what, naming graph g's outputs) and fails the whole. */
static mof_status unwrap_tensors(mof_context *ctx, const mof_node *owner, const mof_graph *g,
                                 size_t n, mof_ivalue **vs, mof_tensor **ts)
{
    mof_status st = MOF_OK;
    for (size_t i = 0; i < n && st == MOF_OK; i++) {
        if (vs[i] && vs[i]->kind != MOF_IVALUE_TENSOR)
            st = mof_node_error(ctx, MOF_ERR_UNSUPPORTED, owner,
                                "output '%s' of graph '%s' is a %s: run the model with "
                                "mof_interp_run_values",
                                g->outputs[i].value->name, mof_graph_name(g),
                                mof_ivalue_kind_name(vs[i]->kind));
    }
    for (size_t i = 0; i < n; i++)
        ts[i] = st == MOF_OK && vs[i] ? mof_tensor_ref(vs[i]->tensor) : NULL;
    unref_values(n, vs);
    return st;
}

mof_status mof_interp_run(mof_interp *it, size_t n_inputs, mof_tensor *const *inputs,
                          size_t n_outputs, mof_tensor **outputs)
{
    for (size_t i = 0; i < n_outputs; i++)
        outputs[i] = NULL;
    mof_ivalue **vin = wrap_tensors(n_inputs, inputs);
    mof_ivalue **vout = mof_calloc(n_outputs ? n_outputs : 1, sizeof(*vout));
    if (!vin || !vout) {
        unref_values(n_inputs, vin);
        free(vout);
        return mof_report(it->ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
    }
    mof_status st = mof_interp_run_values(it, n_inputs, vin, n_outputs, vout);
    unref_values(n_inputs, vin);
    if (st != MOF_OK) {
        unref_values(n_outputs, vout);
        return st;
    }
    return unwrap_tensors(it->ctx, NULL, it->model->graph, n_outputs, vout, outputs);
}

mof_status mof_interp_run_subgraph_values(mof_kernel_ctx *kc, const mof_graph *g,
                                          size_t n_inputs, mof_ivalue *const *inputs,
                                          size_t n_outputs, mof_ivalue **outputs)
{
    for (size_t i = 0; i < n_outputs; i++)
        outputs[i] = NULL;
    if (n_inputs != g->n_inputs || n_outputs != g->n_outputs)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "subgraph '%s' has %zu inputs and %zu outputs, the op gives "
                                "%zu and expects %zu",
                                mof_graph_name(g), g->n_inputs, g->n_outputs, n_inputs,
                                n_outputs);
    return run_graph(kc->interp, g, kc->frame, kc->node, n_inputs, inputs, n_outputs, outputs);
}

mof_status mof_interp_run_subgraph(mof_kernel_ctx *kc, const mof_graph *g, size_t n_inputs,
                                   mof_tensor *const *inputs, size_t n_outputs,
                                   mof_tensor **outputs)
{
    for (size_t i = 0; i < n_outputs; i++)
        outputs[i] = NULL;
    mof_ivalue **vin = wrap_tensors(n_inputs, inputs);
    mof_ivalue **vout = mof_calloc(n_outputs ? n_outputs : 1, sizeof(*vout));
    if (!vin || !vout) {
        unref_values(n_inputs, vin);
        free(vout);
        return mof_kernel_error(kc, MOF_ERR_NOMEM, "out of memory");
    }
    mof_status st = mof_interp_run_subgraph_values(kc, g, n_inputs, vin, n_outputs, vout);
    unref_values(n_inputs, vin);
    if (st != MOF_OK) {
        unref_values(n_outputs, vout);
        return st;
    }
    return unwrap_tensors(kc->ctx, kc->node, g, n_outputs, vout, outputs);
}

/* Runs a value kernel on tensors: inputs wrapped, outputs unwrapped (an output that is
 * not a tensor is refused as MOF_ERR_UNSUPPORTED: a node alone cannot hand it out). */
static mof_status eval_values(mof_kernel_ctx *kc, mof_vkernel_fn vrun, size_t n_inputs,
                              mof_tensor *const *inputs, size_t n_outputs, mof_tensor **outputs)
{
    mof_ivalue **vin = wrap_tensors(n_inputs, inputs);
    mof_ivalue **vout = mof_calloc(n_outputs ? n_outputs : 1, sizeof(*vout));
    mof_status st;
    if (!vin || !vout) {
        st = mof_kernel_error(kc, MOF_ERR_NOMEM, "out of memory");
        goto done;
    }
    st = vrun(kc, n_inputs, vin, n_outputs, vout);
    if (st < 0)
        goto done;
    for (size_t i = 0; i < n_outputs; i++) {
        if (vout[i] && vout[i]->kind != MOF_IVALUE_TENSOR) {
            st = mof_kernel_error(kc, MOF_ERR_UNSUPPORTED,
                                  "output %zu is a %s: a node evaluated alone gives tensors "
                                  "only", i, mof_ivalue_kind_name(vout[i]->kind));
            goto done;
        }
    }
    for (size_t i = 0; i < n_outputs; i++) {
        outputs[i] = vout[i] ? mof_tensor_ref(vout[i]->tensor) : NULL;
    }
done:
    unref_values(n_inputs, vin);
    unref_values(n_outputs, vout);
    return st;
}

mof_status mof_interp_eval_node(mof_context *ctx, const mof_node *node, int64_t opset,
                                size_t n_inputs, mof_tensor *const *inputs, size_t n_outputs,
                                mof_tensor **outputs)
{
    for (size_t i = 0; i < n_outputs; i++)
        outputs[i] = NULL;
    mof_vkernel_fn vrun = mof_vop_find(mof_node_domain(node), mof_node_op_type(node), opset);
    const mof_op_def *op = mof_op_find(mof_node_domain(node), mof_node_op_type(node), opset);
    if (!vrun && (!op || !op->run)) {
        report_unsupported(ctx, node);
        return MOF_ERR_UNSUPPORTED;
    }
    if (n_inputs != node->n_inputs || n_outputs != node->n_outputs)
        return mof_node_error(ctx, MOF_ERR_INVALID_ARG, node,
                              "the node has %zu inputs and %zu outputs, %zu and %zu given",
                              node->n_inputs, node->n_outputs, n_inputs, n_outputs);
    for (size_t i = 0; i < n_inputs; i++) {
        if (node->inputs[i] && !inputs[i])
            return mof_node_error(ctx, MOF_ERR_INVALID_ARG, node, "no tensor given for input %zu",
                                  i);
    }
    /* A node alone has no frame: its subgraphs (if any) get plans in a temporary
     * interpreter, and read only constants from enclosing graphs. */
    mof_interp tmp = {.ctx = ctx, .model = node->graph ? node->graph->model : NULL};
    mof_kernel_ctx kc = {.ctx = ctx, .node = node, .opset = opset, .interp = &tmp};
    size_t errors = mof_context_n_errors(ctx);
    mof_status st = vrun ? eval_values(&kc, vrun, n_inputs, inputs, n_outputs, outputs)
                         : op->run(&kc, n_inputs, inputs, n_outputs, outputs);
    if (st < 0 && mof_context_n_errors(ctx) == errors)
        mof_node_error(ctx, st, node, "%s", mof_status_str(st));
    if (st >= 0) {
        st = MOF_OK;
        for (size_t i = 0; i < n_outputs; i++) {
            if (node->outputs[i] && !outputs[i]) {
                st = mof_node_error(ctx, MOF_ERR_INTERNAL, node,
                                    "internal error: the kernel computed no output %zu", i);
                break;
            }
        }
    }
    if (st != MOF_OK) {
        for (size_t i = 0; i < n_outputs; i++) {
            mof_tensor_unref(outputs[i]);
            outputs[i] = NULL;
        }
    }
    for (size_t i = 0; i < tmp.n_plans; i++)
        plan_free(tmp.plans[i]);
    free(tmp.plans);
    return st;
}
