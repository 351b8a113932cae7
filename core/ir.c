/* ir.c: models, graphs, values and nodes, and the mutation API passes use.
 *
 * Use lists are maintained here and nowhere else. A value read by a subgraph from an
 * enclosing graph is represented in the subgraph by a capture value (MOF_VF_CAPTURE)
 * whose `outer` points one scope up; the outer value records an implicit use (input
 * index -1) by the node owning the subgraph. Replacing or renaming a value follows
 * those links so that captures keep naming what they read. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "ir_private.h"

/* ------------------------------------------------------------------ types */

void mof_type_clear(mof_type *t)
{
    for (size_t i = 0; i < t->rank; i++) {
        free(t->dims[i].param);
        free(t->dims[i].denotation);
    }
    free(t->dims);
    free(t->denotation);
    mof_blob_free(&t->extra);
    memset(t, 0, sizeof(*t));
}

bool mof_type_copy(mof_type *dst, const mof_type *src)
{
    mof_type t = *src;
    t.dims = NULL;
    t.denotation = NULL;
    t.extra = (mof_blob){0};
    t.rank = 0;
    if (src->rank) {
        t.dims = calloc(src->rank, sizeof(*t.dims));
        if (!t.dims)
            return false;
        t.rank = src->rank;
        for (size_t i = 0; i < src->rank; i++) {
            t.dims[i] = src->dims[i];
            t.dims[i].param = NULL;
            t.dims[i].denotation = NULL;
            if ((src->dims[i].param && !(t.dims[i].param = mof_strdup(src->dims[i].param))) ||
                (src->dims[i].denotation &&
                 !(t.dims[i].denotation = mof_strdup(src->dims[i].denotation))))
                goto fail;
        }
    }
    if ((src->denotation && !(t.denotation = mof_strdup(src->denotation))) ||
        !mof_blob_copy(&t.extra, &src->extra))
        goto fail;
    mof_type_clear(dst);
    *dst = t;
    return true;
fail:
    mof_type_clear(&t);
    return false;
}

/* ------------------------------------------------------------------ use lists */

static bool add_use(mof_value *v, mof_node *n, int index)
{
    if (!MOF_GROW(v->uses, v->cap_uses, v->n_uses + 1))
        return false;
    v->uses[v->n_uses++] = (mof_use){n, index};
    return true;
}

static void remove_use(mof_value *v, const mof_node *n, int index)
{
    for (size_t i = 0; i < v->n_uses; i++) {
        if (v->uses[i].node == n && v->uses[i].index == index) {
            memmove(&v->uses[i], &v->uses[i + 1], (v->n_uses - i - 1) * sizeof(*v->uses));
            v->n_uses--;
            return;
        }
    }
    MOF_ASSERT(!"use list out of sync");
}

/* ------------------------------------------------------------------ values */

mof_value *mof_graph_new_value(mof_graph *g, const char *name)
{
    if (!name || mof_map_get(&g->by_name, name))
        return NULL;
    mof_value *v = calloc(1, sizeof(*v));
    if (!v)
        return NULL;
    v->name = mof_strdup(name);
    if (!v->name || !MOF_GROW(g->values, g->cap_values, g->n_values + 1) ||
        !mof_map_put(&g->by_name, v->name, v)) {
        free(v->name);
        free(v);
        return NULL;
    }
    v->graph = g;
    v->id = g->next_value_id++;
    v->slot = g->n_values;
    g->values[g->n_values++] = v;
    return v;
}

static void value_free(mof_value *v)
{
    mof_type_clear(&v->type);
    mof_tensor_unref(v->tensor);
    free(v->uses);
    free(v->name);
    free(v);
}

static void remove_listings(mof_listing *list, size_t *n, const mof_value *v)
{
    size_t k = 0;
    for (size_t i = 0; i < *n; i++) {
        if (list[i].value == v) {
            free(list[i].doc_string);
            mof_blob_free(&list[i].extra);
        } else {
            list[k++] = list[i];
        }
    }
    *n = k;
}

/* Removes a value nobody uses from its graph and frees it. */
static void value_destroy(mof_value *v)
{
    mof_graph *g = v->graph;
    MOF_ASSERT(v->n_uses == 0 && v->n_output_refs == 0 && v->n_input_refs == 0);
    if (v->flags & MOF_VF_CAPTURE && v->outer)
        remove_use(v->outer, g->parent, -1);
    remove_listings(g->value_infos, &g->n_value_infos, v);
    mof_map_remove(&g->by_name, v->name);
    g->values[v->slot] = g->values[g->n_values - 1];
    g->values[v->slot]->slot = v->slot;
    g->n_values--;
    value_free(v);
}

/* A capture nothing reads any more is dropped, with the implicit use it holds on the
 * enclosing value (which may in turn be an unused capture): otherwise a subgraph that
 * stopped reading a value would keep it alive for dead-code elimination. */
static void drop_unused_capture(mof_value *v)
{
    while (v && v->flags & MOF_VF_CAPTURE && !v->n_uses && !v->n_output_refs &&
           !v->n_input_refs) {
        mof_value *outer = v->outer;
        value_destroy(v);
        v = outer;
    }
}

mof_value *mof_graph_resolve(mof_graph *g, const char *name)
{
    mof_value *v = mof_map_get(&g->by_name, name);
    if (v || !g->parent)
        return v;
    mof_value *outer = mof_graph_resolve(g->parent->graph, name);
    if (!outer)
        return NULL;
    mof_value *c = mof_graph_new_value(g, name);
    if (!c)
        return NULL;
    if (!add_use(outer, g->parent, -1)) {
        value_destroy(c);
        return NULL;
    }
    c->flags |= MOF_VF_CAPTURE;
    c->outer = outer;
    return c;
}

/* The value whose type and data a value stands for: captures read through. */
static const mof_value *value_root(const mof_value *v)
{
    while (v->flags & MOF_VF_CAPTURE && v->outer)
        v = v->outer;
    return v;
}

/* Renames v and the captures that read it in subgraphs. */
static mof_status value_rename(mof_value *v, const char *name)
{
    mof_graph *g = v->graph;
    mof_value *other = mof_map_get(&g->by_name, name);
    if (other && other != v)
        return MOF_ERR_INVALID_ARG;
    char *copy = mof_strdup(name);
    if (!copy)
        return MOF_ERR_NOMEM;
    mof_map_remove(&g->by_name, v->name);
    if (!mof_map_put(&g->by_name, copy, v)) {
        mof_map_put(&g->by_name, v->name, v); /* cannot fail: the slot was just freed */
        free(copy);
        return MOF_ERR_NOMEM;
    }
    free(v->name);
    /* name may have been v's old name (a rename in place): use the copy from here on. */
    v->name = copy;
    name = copy;
    for (size_t i = 0; i < v->n_uses; i++) {
        if (v->uses[i].index >= 0)
            continue;
        mof_node *n = v->uses[i].node;
        for (size_t s = 0; s < mof_node_n_subgraphs(n); s++) {
            mof_graph *sub = mof_node_subgraph(n, s);
            for (size_t k = 0; k < sub->n_values; k++) {
                mof_value *c = sub->values[k];
                if (c->flags & MOF_VF_CAPTURE && c->outer == v && strcmp(c->name, name)) {
                    mof_status st = value_rename(c, name);
                    if (st < 0)
                        return st;
                }
            }
        }
    }
    return MOF_OK;
}

static bool name_taken_below(const mof_graph *g, const char *name)
{
    if (mof_map_get(&g->by_name, name))
        return true;
    for (mof_node *n = g->first; n; n = n->next) {
        for (size_t s = 0; s < mof_node_n_subgraphs(n); s++) {
            if (name_taken_below(mof_node_subgraph(n, s), name))
                return true;
        }
    }
    return false;
}

static bool name_taken(const mof_graph *g, const char *name)
{
    while (g->parent)
        g = g->parent->graph;
    return name_taken_below(g, name);
}

char *mof_graph_unique_name(const mof_graph *g, const char *hint)
{
    if (!hint || !*hint)
        hint = "v";
    if (!name_taken(g, hint))
        return mof_strdup(hint);
    for (;;) {
        char *s = mof_asprintf("%s_%u", hint, (unsigned)g->model->next_name_id++);
        if (!s || !name_taken(g, s))
            return s;
        free(s);
    }
}

const char *mof_value_name(const mof_value *v) { return v->name; }
mof_graph *mof_value_graph(const mof_value *v) { return v->graph; }

mof_status mof_value_set_name(mof_value *v, const char *name)
{
    if (!name || !*name || name_taken(v->graph, name) || v->flags & MOF_VF_CAPTURE)
        return MOF_ERR_INVALID_ARG;
    return value_rename(v, name);
}

bool mof_value_has_type(const mof_value *v)
{
    const mof_value *r = value_root(v);
    return (r->type.kind == MOF_TYPE_TENSOR && r->type.has_elem_type) || r->tensor;
}

mof_dtype mof_value_dtype(const mof_value *v)
{
    const mof_value *r = value_root(v);
    if (r->type.kind == MOF_TYPE_TENSOR && r->type.has_elem_type)
        return r->type.elem_type;
    return r->tensor ? r->tensor->dtype : MOF_DTYPE_UNDEFINED;
}

int mof_value_rank(const mof_value *v)
{
    const mof_value *r = value_root(v);
    if (r->type.kind == MOF_TYPE_TENSOR && r->type.has_shape)
        return (int)r->type.rank;
    return r->tensor ? (int)r->tensor->rank : -1;
}

int64_t mof_value_dim(const mof_value *v, size_t i)
{
    const mof_value *r = value_root(v);
    if (r->type.kind == MOF_TYPE_TENSOR && r->type.has_shape) {
        if (i >= r->type.rank || r->type.dims[i].kind != MOF_DIM_VALUE)
            return MOF_DIM_UNKNOWN;
        return r->type.dims[i].value;
    }
    if (r->tensor && i < r->tensor->rank)
        return r->tensor->dims[i];
    return MOF_DIM_UNKNOWN;
}

const char *mof_value_dim_symbol(const mof_value *v, size_t i)
{
    const mof_value *r = value_root(v);
    if (r->type.kind == MOF_TYPE_TENSOR && r->type.has_shape && i < r->type.rank &&
        r->type.dims[i].kind == MOF_DIM_PARAM)
        return r->type.dims[i].param;
    return NULL;
}

mof_status mof_value_set_type(mof_value *v, mof_dtype dtype, int rank, const int64_t *dims,
                              const char *const *syms)
{
    if (v->flags & MOF_VF_CAPTURE)
        return MOF_ERR_INVALID_ARG;
    mof_type t = {.kind = MOF_TYPE_TENSOR, .has_elem_type = true, .elem_type = dtype};
    if (rank >= 0) {
        t.has_shape = true;
        t.rank = (size_t)rank;
        t.dims = calloc(t.rank ? t.rank : 1, sizeof(*t.dims));
        if (!t.dims)
            return MOF_ERR_NOMEM;
        for (size_t i = 0; i < t.rank; i++) {
            if (dims[i] >= 0) {
                t.dims[i].kind = MOF_DIM_VALUE;
                t.dims[i].value = dims[i];
            } else if (syms && syms[i]) {
                t.dims[i].kind = MOF_DIM_PARAM;
                if (!(t.dims[i].param = mof_strdup(syms[i]))) {
                    mof_type_clear(&t);
                    return MOF_ERR_NOMEM;
                }
            }
        }
    }
    /* Keep what the model said about the type beyond shape and element type. */
    if (v->type.kind == MOF_TYPE_TENSOR) {
        t.denotation = v->type.denotation;
        t.extra = v->type.extra;
        v->type.denotation = NULL;
        v->type.extra = (mof_blob){0};
    }
    mof_type_clear(&v->type);
    v->type = t;
    return MOF_OK;
}

mof_status mof_value_copy_type(mof_value *dst, const mof_value *src)
{
    if (dst->flags & MOF_VF_CAPTURE)
        return MOF_ERR_INVALID_ARG;
    const mof_value *r = value_root(src);
    if (r->type.kind == MOF_TYPE_NONE && r->tensor)
        return mof_value_set_type(dst, r->tensor->dtype, (int)r->tensor->rank,
                                  r->tensor->dims, NULL);
    return mof_type_copy(&dst->type, &r->type) ? MOF_OK : MOF_ERR_NOMEM;
}

mof_node *mof_value_producer(const mof_value *v, size_t *out_index)
{
    if (out_index)
        *out_index = v->producer_index;
    return v->producer;
}

size_t mof_value_n_uses(const mof_value *v) { return v->n_uses; }

mof_node *mof_value_use(const mof_value *v, size_t i, int *input_index)
{
    if (i >= v->n_uses)
        return NULL;
    if (input_index)
        *input_index = v->uses[i].index;
    return v->uses[i].node;
}

bool mof_value_is_graph_input(const mof_value *v) { return v->n_input_refs > 0; }
bool mof_value_is_graph_output(const mof_value *v) { return v->n_output_refs > 0; }

bool mof_value_is_initializer(const mof_value *v)
{
    return value_root(v)->flags & MOF_VF_INITIALIZER;
}

bool mof_value_is_constant(const mof_value *v)
{
    const mof_value *r = value_root(v);
    return (r->flags & MOF_VF_INITIALIZER) && r->n_input_refs == 0 && r->tensor;
}

mof_tensor *mof_value_tensor(const mof_value *v)
{
    return value_root(v)->tensor;
}

mof_status mof_value_set_tensor(mof_value *v, mof_tensor *take)
{
    if (!(v->flags & MOF_VF_INITIALIZER) || !take)
        return MOF_ERR_INVALID_ARG;
    mof_tensor_unref(v->tensor);
    v->tensor = take;
    if (v->type.kind == MOF_TYPE_TENSOR)
        return mof_value_set_type(v, take->dtype, (int)take->rank, take->dims, NULL);
    return MOF_OK;
}

bool mof_value_can_replace(const mof_value *old_v, const mof_value *new_v)
{
    if (old_v == new_v)
        return false;
    /* A graph output keeps its name: the value taking its place must be free to be
     * renamed, i.e. be none of the graph's interface and live in the same graph. */
    if (old_v->n_output_refs) {
        if (new_v->graph != old_v->graph || new_v->n_input_refs || new_v->n_output_refs ||
            new_v->flags & (MOF_VF_INITIALIZER | MOF_VF_CAPTURE | MOF_VF_UNDEFINED))
            return false;
    }
    /* new_v must be visible where old_v is used: same graph or an enclosing one. */
    for (const mof_graph *g = old_v->graph; g; g = g->parent ? g->parent->graph : NULL) {
        if (g == new_v->graph)
            return true;
    }
    return false;
}

/* The value standing for v in graph g: v itself, or a capture of it. */
static mof_value *value_in_graph(mof_graph *g, mof_value *v)
{
    if (v->graph == g)
        return v;
    mof_value *c = mof_graph_resolve(g, v->name);
    if (!c || value_root(c) != value_root(v))
        return NULL;
    return c;
}

/* After implicit uses moved onto nv, a subgraph that read both the old value and nv
 * holds two captures of nv (which cannot both take nv's name): fold each extra one into
 * the other, preferring to keep one listed as a subgraph output. */
static mof_status merge_captures(mof_value *nv)
{
restart:
    for (size_t i = 0; i < nv->n_uses; i++) {
        if (nv->uses[i].index >= 0)
            continue;
        mof_node *n = nv->uses[i].node;
        for (size_t s = 0; s < mof_node_n_subgraphs(n); s++) {
            mof_graph *sub = mof_node_subgraph(n, s);
            mof_value *keep = NULL, *extra = NULL;
            for (size_t k = 0; k < sub->n_values && !extra; k++) {
                mof_value *c = sub->values[k];
                if (!(c->flags & MOF_VF_CAPTURE) || c->outer != nv)
                    continue;
                if (!keep)
                    keep = c;
                else
                    extra = c;
            }
            if (!extra)
                continue;
            if (extra->n_output_refs) {
                mof_value *t = keep;
                keep = extra;
                extra = t;
            }
            if (extra->n_output_refs)
                return MOF_ERR_UNSUPPORTED; /* both are listed as subgraph outputs */
            mof_status st = mof_value_replace_uses(extra, keep);
            if (st < 0)
                return st;
            value_destroy(extra); /* drops one of n's implicit uses of nv */
            goto restart;
        }
    }
    return MOF_OK;
}

mof_status mof_value_replace_uses(mof_value *old_v, mof_value *new_v)
{
    if (!mof_value_can_replace(old_v, new_v))
        return MOF_ERR_INVALID_ARG;
    mof_graph *g = old_v->graph;
    mof_value *nv = value_in_graph(g, new_v);
    if (!nv)
        return MOF_ERR_NOMEM;
    if (!mof_grow((void **)&nv->uses, &nv->cap_uses, nv->n_uses + old_v->n_uses,
                  sizeof(*nv->uses)))
        return MOF_ERR_NOMEM;
    bool implicit = false;
    for (size_t i = 0; i < old_v->n_uses; i++) {
        mof_use u = old_v->uses[i];
        nv->uses[nv->n_uses++] = u;
        if (u.index >= 0) {
            u.node->inputs[u.index] = nv;
            continue;
        }
        /* Each implicit use stands for one capture of old_v in a subgraph of u.node:
         * it now reads nv (and is renamed below). */
        implicit = true;
        mof_value *c = NULL;
        for (size_t s = 0; s < mof_node_n_subgraphs(u.node) && !c; s++) {
            mof_graph *sub = mof_node_subgraph(u.node, s);
            for (size_t k = 0; k < sub->n_values && !c; k++) {
                if (sub->values[k]->flags & MOF_VF_CAPTURE && sub->values[k]->outer == old_v)
                    c = sub->values[k];
            }
        }
        MOF_ASSERT(c != NULL);
        c->outer = nv;
    }
    old_v->n_uses = 0;
    mof_status st = implicit ? merge_captures(nv) : MOF_OK;
    if (st == MOF_OK && implicit)
        st = value_rename(nv, nv->name);
    if (st < 0 || !old_v->n_output_refs)
        return st;
    /* nv takes over old_v's place in the output list, and its name. */
    for (size_t i = 0; i < g->n_outputs; i++) {
        if (g->outputs[i].value == old_v) {
            g->outputs[i].value = nv;
            nv->n_output_refs++;
        }
    }
    old_v->n_output_refs = 0;
    if (nv->type.kind == MOF_TYPE_NONE && old_v->type.kind != MOF_TYPE_NONE &&
        !mof_type_copy(&nv->type, &old_v->type))
        return MOF_ERR_NOMEM;
    /* A capture must keep the name of the value it reads, and nv may not take that
     * name (it would shadow the outer value): the subgraph output, matched by
     * position, takes nv's name instead. */
    if (old_v->flags & MOF_VF_CAPTURE)
        return MOF_OK;
    char *name = mof_strdup(old_v->name);
    char *fresh = mof_graph_unique_name(g, old_v->name);
    if (!name || !fresh) {
        free(name);
        free(fresh);
        return MOF_ERR_NOMEM;
    }
    st = value_rename(old_v, fresh);
    if (st == MOF_OK)
        st = value_rename(nv, name);
    free(name);
    free(fresh);
    return st;
}

/* ------------------------------------------------------------------ nodes */

mof_node *mof_node_new(mof_graph *g, const char *op_type, const char *domain,
                       const char *name)
{
    mof_node *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    if ((op_type && !(n->op_type = mof_strdup(op_type))) ||
        (domain && !(n->domain = mof_strdup(domain))) ||
        (name && !(n->name = mof_strdup(name)))) {
        free(n->op_type);
        free(n->domain);
        free(n->name);
        free(n);
        return NULL;
    }
    n->graph = g;
    n->id = g->next_node_id++;
    n->prev = g->last;
    if (g->last)
        g->last->next = n;
    else
        g->first = n;
    g->last = n;
    g->n_nodes++;
    return n;
}

mof_status mof_node_append_output(mof_node *n, mof_value *v)
{
    if (!MOF_GROW(n->outputs, n->cap_outputs, n->n_outputs + 1))
        return MOF_ERR_NOMEM;
    if (v) {
        v->producer = n;
        v->producer_index = n->n_outputs;
    }
    n->outputs[n->n_outputs++] = v;
    return MOF_OK;
}

mof_attr *mof_node_append_attr(mof_node *n)
{
    if (!MOF_GROW(n->attrs, n->cap_attrs, n->n_attrs + 1))
        return NULL;
    mof_attr *a = &n->attrs[n->n_attrs++];
    memset(a, 0, sizeof(*a));
    return a;
}

mof_status mof_node_add_origin(mof_node *n, const char *origin)
{
    for (size_t i = 0; i < n->n_origins; i++) {
        if (strcmp(n->origins[i], origin) == 0)
            return MOF_OK;
    }
    if (!MOF_GROW(n->origins, n->cap_origins, n->n_origins + 1))
        return MOF_ERR_NOMEM;
    if (!(n->origins[n->n_origins] = mof_strdup(origin)))
        return MOF_ERR_NOMEM;
    n->n_origins++;
    return MOF_OK;
}

/* Frees a node's own memory; its values and use lists are the caller's business. */
static void node_free(mof_node *n)
{
    for (size_t i = 0; i < n->n_attrs; i++)
        mof_attr_clear(&n->attrs[i]);
    free(n->attrs);
    for (size_t i = 0; i < n->n_origins; i++)
        free(n->origins[i]);
    free(n->origins);
    free(n->inputs);
    free(n->outputs);
    free(n->op_type);
    free(n->domain);
    free(n->name);
    free(n->doc_string);
    mof_blob_free(&n->extra);
    free(n);
}

static void node_unlink(mof_graph *g, mof_node *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        g->first = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        g->last = n->prev;
    n->prev = n->next = NULL;
    g->n_nodes--;
}

static void node_link(mof_graph *g, mof_node *n, mof_insert where, mof_node *anchor)
{
    if (!anchor)
        anchor = where == MOF_INSERT_AFTER ? g->last : g->first;
    if (!anchor) {
        g->first = g->last = n;
    } else if (where == MOF_INSERT_BEFORE) {
        n->prev = anchor->prev;
        n->next = anchor;
        if (anchor->prev)
            anchor->prev->next = n;
        else
            g->first = n;
        anchor->prev = n;
    } else {
        n->next = anchor->next;
        n->prev = anchor;
        if (anchor->next)
            anchor->next->prev = n;
        else
            g->last = n;
        anchor->next = n;
    }
    g->n_nodes++;
}

const char *mof_node_op_type(const mof_node *n) { return n->op_type ? n->op_type : ""; }
const char *mof_node_domain(const mof_node *n) { return n->domain ? n->domain : ""; }
const char *mof_node_name(const mof_node *n) { return n->name ? n->name : ""; }
uint32_t mof_node_id(const mof_node *n) { return n->id; }
mof_graph *mof_node_graph(const mof_node *n) { return n->graph; }
size_t mof_node_n_inputs(const mof_node *n) { return n->n_inputs; }
size_t mof_node_n_outputs(const mof_node *n) { return n->n_outputs; }
mof_node *mof_node_next(const mof_node *n) { return n->next; }
mof_node *mof_node_prev(const mof_node *n) { return n->prev; }
size_t mof_node_n_origins(const mof_node *n) { return n->n_origins; }

mof_value *mof_node_input(const mof_node *n, size_t i)
{
    return i < n->n_inputs ? n->inputs[i] : NULL;
}

mof_value *mof_node_output(const mof_node *n, size_t i)
{
    return i < n->n_outputs ? n->outputs[i] : NULL;
}

const char *mof_node_origin(const mof_node *n, size_t i)
{
    return i < n->n_origins ? n->origins[i] : NULL;
}

mof_status mof_node_set_name(mof_node *n, const char *name)
{
    char *copy = mof_strdup(name);
    if (name && !copy)
        return MOF_ERR_NOMEM;
    free(n->name);
    n->name = copy;
    return MOF_OK;
}

mof_status mof_node_set_input(mof_node *n, size_t i, mof_value *v)
{
    if (i > n->n_inputs)
        return MOF_ERR_INVALID_ARG;
    mof_value *local = NULL;
    if (v && !(local = value_in_graph(n->graph, v)))
        return MOF_ERR_INVALID_ARG;
    if (i == n->n_inputs) {
        if (!MOF_GROW(n->inputs, n->cap_inputs, n->n_inputs + 1))
            return MOF_ERR_NOMEM;
        n->inputs[n->n_inputs++] = NULL;
    }
    if (local && !add_use(local, n, (int)i))
        return MOF_ERR_NOMEM;
    if (n->inputs[i])
        remove_use(n->inputs[i], n, (int)i);
    n->inputs[i] = local;
    return MOF_OK;
}

mof_status mof_node_truncate_inputs(mof_node *n, size_t count)
{
    while (n->n_inputs > count) {
        mof_value *v = n->inputs[--n->n_inputs];
        if (v)
            remove_use(v, n, (int)n->n_inputs);
    }
    return MOF_OK;
}

mof_status mof_node_add_origins(mof_node *dst, const mof_node *src)
{
    for (size_t i = 0; i < src->n_origins; i++) {
        mof_status st = mof_node_add_origin(dst, src->origins[i]);
        if (st < 0)
            return st;
    }
    return MOF_OK;
}

/* ------------------------------------------------------------------ graphs */

mof_graph *mof_graph_new(mof_model *m, mof_node *parent)
{
    mof_graph *g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    g->model = m;
    g->parent = parent;
    mof_map_init(&g->by_name);
    return g;
}

static void listings_free(mof_listing *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(list[i].doc_string);
        mof_blob_free(&list[i].extra);
    }
    free(list);
}

void mof_graph_free(mof_graph *g)
{
    if (!g)
        return;
    for (mof_node *n = g->first, *next; n; n = next) {
        next = n->next;
        node_free(n);
    }
    for (size_t i = 0; i < g->n_values; i++)
        value_free(g->values[i]);
    free(g->values);
    mof_map_free(&g->by_name);
    listings_free(g->inputs, g->n_inputs);
    listings_free(g->outputs, g->n_outputs);
    listings_free(g->value_infos, g->n_value_infos);
    free(g->initializers);
    free(g->name);
    free(g->doc_string);
    mof_blob_free(&g->extra);
    free(g);
}

static mof_status list_value(mof_listing **list, size_t *n, size_t *cap, mof_value *v,
                             const char *doc, mof_blob *extra)
{
    if (!mof_grow((void **)list, cap, *n + 1, sizeof(**list)))
        return MOF_ERR_NOMEM;
    mof_listing *l = &(*list)[*n];
    memset(l, 0, sizeof(*l));
    if (doc && !(l->doc_string = mof_strdup(doc)))
        return MOF_ERR_NOMEM;
    l->value = v;
    if (extra) {
        l->extra = *extra;
        *extra = (mof_blob){0};
    }
    (*n)++;
    return MOF_OK;
}

mof_status mof_graph_list_input(mof_graph *g, mof_value *v, const char *doc, mof_blob *extra)
{
    mof_status st = list_value(&g->inputs, &g->n_inputs, &g->cap_inputs, v, doc, extra);
    if (st == MOF_OK)
        v->n_input_refs++;
    return st;
}

mof_status mof_graph_list_output(mof_graph *g, mof_value *v, const char *doc, mof_blob *extra)
{
    mof_status st = list_value(&g->outputs, &g->n_outputs, &g->cap_outputs, v, doc, extra);
    if (st == MOF_OK)
        v->n_output_refs++;
    return st;
}

mof_status mof_graph_list_value_info(mof_graph *g, mof_value *v, const char *doc,
                                     mof_blob *extra)
{
    return list_value(&g->value_infos, &g->n_value_infos, &g->cap_value_infos, v, doc, extra);
}

mof_status mof_graph_list_initializer(mof_graph *g, mof_value *v, mof_tensor *t)
{
    if (!MOF_GROW(g->initializers, g->cap_initializers, g->n_initializers + 1)) {
        mof_tensor_unref(t);
        return MOF_ERR_NOMEM;
    }
    g->initializers[g->n_initializers++] = v;
    v->flags |= MOF_VF_INITIALIZER;
    mof_tensor_unref(v->tensor);
    v->tensor = t;
    return MOF_OK;
}

const char *mof_graph_name(const mof_graph *g) { return g->name ? g->name : ""; }
mof_node *mof_graph_parent(const mof_graph *g) { return g->parent; }
mof_model *mof_graph_model(const mof_graph *g) { return g->model; }
size_t mof_graph_n_nodes(const mof_graph *g) { return g->n_nodes; }
mof_node *mof_graph_first_node(const mof_graph *g) { return g->first; }
mof_node *mof_graph_last_node(const mof_graph *g) { return g->last; }
size_t mof_graph_n_inputs(const mof_graph *g) { return g->n_inputs; }
size_t mof_graph_n_outputs(const mof_graph *g) { return g->n_outputs; }
size_t mof_graph_n_initializers(const mof_graph *g) { return g->n_initializers; }

mof_value *mof_graph_input(const mof_graph *g, size_t i)
{
    return i < g->n_inputs ? g->inputs[i].value : NULL;
}

mof_value *mof_graph_output(const mof_graph *g, size_t i)
{
    return i < g->n_outputs ? g->outputs[i].value : NULL;
}

mof_value *mof_graph_initializer(const mof_graph *g, size_t i)
{
    return i < g->n_initializers ? g->initializers[i] : NULL;
}

mof_value *mof_graph_find_value(const mof_graph *g, const char *name)
{
    return mof_map_get(&g->by_name, name);
}

/* Creates a value named after hint, made unique. */
static mof_value *new_unique_value(mof_graph *g, const char *hint)
{
    char *name = mof_graph_unique_name(g, hint);
    mof_value *v = name ? mof_graph_new_value(g, name) : NULL;
    free(name);
    return v;
}

mof_node *mof_graph_add_node(mof_graph *g, mof_insert where, mof_node *anchor,
                             const char *op_type, const char *domain, const char *name,
                             size_t n_inputs, mof_value *const *inputs, size_t n_outputs)
{
    mof_context *ctx = g->model->ctx;
    if (!op_type || !*op_type || (anchor && anchor->graph != g)) {
        mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL,
                   "mof_graph_add_node: %s", anchor && anchor->graph != g
                                                     ? "the anchor node is in another graph"
                                                     : "no op type given");
        return NULL;
    }
    char *gen = NULL;
    if (!name) {
        gen = mof_asprintf("%s_%u", op_type, (unsigned)g->next_node_id);
        if (!gen)
            goto nomem;
        name = gen;
    }
    mof_node *n = mof_node_new(g, op_type, domain, name);
    if (!n)
        goto nomem;
    node_unlink(g, n);
    node_link(g, n, where, anchor);
    for (size_t i = 0; i < n_inputs; i++) {
        mof_status st = mof_node_set_input(n, i, inputs[i]);
        if (st < 0) {
            mof_report(ctx, MOF_SEVERITY_ERROR, st, NULL,
                       "mof_graph_add_node: input %zu of new %s node '%s' (value '%s') is "
                       "not visible in this graph", i, op_type, name,
                       mof_value_name(inputs[i]));
            mof_graph_remove_node(g, n);
            free(gen);
            return NULL;
        }
    }
    for (size_t i = 0; i < n_outputs; i++) {
        char *hint = n_outputs == 1 ? mof_strdup(name) : mof_asprintf("%s_out%zu", name, i);
        mof_value *v = hint ? new_unique_value(g, hint) : NULL;
        free(hint);
        if (!v || mof_node_append_output(n, v) < 0) {
            if (v)
                value_destroy(v);
            mof_graph_remove_node(g, n);
            goto nomem;
        }
    }
    free(gen);
    return n;
nomem:
    free(gen);
    mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory adding a node");
    return NULL;
}

void mof_graph_release_captures(mof_graph *sub)
{
    for (size_t k = 0; k < sub->n_values; k++) {
        mof_value *c = sub->values[k];
        if (c->flags & MOF_VF_CAPTURE && c->outer) {
            remove_use(c->outer, sub->parent, -1);
            c->outer = NULL;
        }
    }
}

mof_status mof_graph_remove_node(mof_graph *g, mof_node *n)
{
    if (n->graph != g)
        return MOF_ERR_INVALID_ARG;
    for (size_t i = 0; i < n->n_outputs; i++) {
        mof_value *v = n->outputs[i];
        if (v && (v->n_uses || v->n_output_refs))
            return MOF_ERR_INVALID_ARG;
    }
    while (n->n_inputs) {
        mof_value *v = n->inputs[n->n_inputs - 1];
        mof_node_truncate_inputs(n, n->n_inputs - 1);
        drop_unused_capture(v);
    }
    for (size_t s = 0; s < mof_node_n_subgraphs(n); s++)
        mof_graph_release_captures(mof_node_subgraph(n, s));
    for (size_t i = 0; i < n->n_outputs; i++) {
        if (n->outputs[i])
            value_destroy(n->outputs[i]);
    }
    node_unlink(g, n);
    node_free(n);
    return MOF_OK;
}

mof_status mof_graph_move_node(mof_graph *g, mof_node *n, mof_insert where, mof_node *anchor)
{
    if (n->graph != g || (anchor && anchor->graph != g) || anchor == n)
        return MOF_ERR_INVALID_ARG;
    node_unlink(g, n);
    node_link(g, n, where, anchor);
    return MOF_OK;
}

mof_value *mof_graph_add_input(mof_graph *g, const char *name, mof_dtype dtype, int rank,
                               const int64_t *dims, const char *const *syms)
{
    if (!name || !*name || name_taken(g, name))
        return NULL;
    mof_value *v = mof_graph_new_value(g, name);
    if (!v)
        return NULL;
    if (mof_value_set_type(v, dtype, rank, dims, syms) < 0 ||
        mof_graph_list_input(g, v, NULL, NULL) < 0) {
        value_destroy(v); /* not listed: the listing is the last step */
        return NULL;
    }
    return v;
}

mof_status mof_graph_add_output(mof_graph *g, mof_value *v)
{
    if (!v || v->graph != g)
        return MOF_ERR_INVALID_ARG;
    return mof_graph_list_output(g, v, NULL, NULL);
}

mof_value *mof_graph_add_initializer(mof_graph *g, const char *name_hint, mof_tensor *t)
{
    if (!t)
        return NULL;
    mof_value *v = new_unique_value(g, name_hint);
    if (!v) {
        mof_tensor_unref(t);
        return NULL;
    }
    if (mof_graph_list_initializer(g, v, t) < 0) {
        value_destroy(v);
        return NULL;
    }
    return v;
}

mof_status mof_graph_remove_initializer(mof_graph *g, mof_value *v)
{
    if (v->graph != g || !(v->flags & MOF_VF_INITIALIZER) || v->n_uses || v->n_input_refs ||
        v->n_output_refs)
        return MOF_ERR_INVALID_ARG;
    size_t k = 0;
    for (size_t i = 0; i < g->n_initializers; i++) {
        if (g->initializers[i] != v)
            g->initializers[k++] = g->initializers[i];
    }
    g->n_initializers = k;
    value_destroy(v);
    return MOF_OK;
}

static void graph_set_model(mof_graph *g, mof_model *m)
{
    g->model = m;
    for (mof_node *n = g->first; n; n = n->next) {
        for (size_t s = 0; s < mof_node_n_subgraphs(n); s++)
            graph_set_model(mof_node_subgraph(n, s), m);
    }
}

/* Copies a listing array's docs and extras onto the already-made listings of dst. */
static mof_status dup_listing(mof_graph *ng, const mof_listing *l,
                              mof_status (*add)(mof_graph *, mof_value *, const char *,
                                                mof_blob *))
{
    mof_value *v = mof_graph_find_value(ng, l->value->name);
    /* A subgraph input shadows a value of the same name in an enclosing graph: only
     * outputs and value_info listings may name an enclosing graph's value. */
    bool defines = add == mof_graph_list_input;
    if (!v && (defines || !(v = mof_graph_resolve(ng, l->value->name)))) {
        /* A graph input is first seen here and is defined by its listing; only a
         * value that was undefined in the original stays undefined. */
        if (!(v = mof_graph_new_value(ng, l->value->name)))
            return MOF_ERR_NOMEM;
        v->flags |= l->value->flags & MOF_VF_UNDEFINED;
    }
    /* A capture keeps the type its listing gave it, as the loader sets it, so that the
     * copy writes the same listing. */
    if (v->type.kind == MOF_TYPE_NONE && !mof_type_copy(&v->type, &l->value->type))
        return MOF_ERR_NOMEM;
    mof_blob extra;
    if (!mof_blob_copy(&extra, &l->extra))
        return MOF_ERR_NOMEM;
    mof_status st = add(ng, v, l->doc_string, &extra);
    mof_blob_free(&extra);
    return st;
}

/* A copy of v in ng with the same name, type and flags. */
static mof_value *dup_value(mof_graph *ng, const mof_value *v)
{
    mof_value *nv = mof_graph_new_value(ng, v->name);
    if (!nv || !mof_type_copy(&nv->type, &v->type))
        return NULL;
    nv->flags = v->flags & MOF_VF_UNDEFINED;
    return nv;
}

mof_graph *mof_graph_dup(const mof_graph *g, mof_model *new_model, mof_node *new_parent)
{
    mof_graph *ng = mof_graph_new(new_model, new_parent);
    if (!ng)
        return NULL;
    if ((g->name && !(ng->name = mof_strdup(g->name))) ||
        (g->doc_string && !(ng->doc_string = mof_strdup(g->doc_string))) ||
        !mof_blob_copy(&ng->extra, &g->extra))
        goto fail;
    ng->next_value_id = 0;
    for (size_t i = 0; i < g->n_initializers; i++) {
        const mof_value *v = g->initializers[i];
        mof_value *nv = dup_value(ng, v);
        if (!nv || mof_graph_list_initializer(ng, nv, mof_tensor_ref(v->tensor)) < 0)
            goto fail;
    }
    for (size_t i = 0; i < g->n_inputs; i++) {
        if (dup_listing(ng, &g->inputs[i], mof_graph_list_input) < 0)
            goto fail;
        ng->inputs[i].untyped = g->inputs[i].untyped;
    }
    /* Outputs of every node first, then inputs and attributes: a file that is not in
     * topological order is copied as it is. */
    for (const mof_node *n = g->first; n; n = n->next) {
        mof_node *nn = mof_node_new(ng, n->op_type, n->domain, n->name);
        if (!nn || (n->doc_string && !(nn->doc_string = mof_strdup(n->doc_string))) ||
            !mof_blob_copy(&nn->extra, &n->extra) || mof_node_add_origins(nn, n) < 0)
            goto fail;
        nn->id = n->id;
        for (size_t i = 0; i < n->n_outputs; i++) {
            mof_value *nv = NULL;
            if (n->outputs[i]) {
                nv = mof_graph_find_value(ng, n->outputs[i]->name);
                if (!nv && !(nv = dup_value(ng, n->outputs[i])))
                    goto fail;
            }
            if (mof_node_append_output(nn, nv) < 0)
                goto fail;
        }
    }
    ng->next_node_id = g->next_node_id;
    mof_node *nn = ng->first;
    for (const mof_node *n = g->first; n; n = n->next, nn = nn->next) {
        for (size_t i = 0; i < n->n_inputs; i++) {
            mof_value *nv = NULL;
            if (n->inputs[i]) {
                const char *name = n->inputs[i]->name;
                nv = mof_graph_resolve(ng, name);
                if (!nv) {
                    if (!(nv = mof_graph_new_value(ng, name)))
                        goto fail;
                    nv->flags |= MOF_VF_UNDEFINED;
                }
            }
            if (mof_node_set_input(nn, i, nv) < 0)
                goto fail;
        }
        if (mof_node_copy_attrs(nn, n) < 0)
            goto fail;
    }
    for (size_t i = 0; i < g->n_outputs; i++) {
        if (dup_listing(ng, &g->outputs[i], mof_graph_list_output) < 0)
            goto fail;
        ng->outputs[i].untyped = g->outputs[i].untyped;
    }
    for (size_t i = 0; i < g->n_value_infos; i++) {
        if (dup_listing(ng, &g->value_infos[i], mof_graph_list_value_info) < 0)
            goto fail;
        ng->value_infos[i].untyped = g->value_infos[i].untyped;
    }
    return ng;
fail:
    if (new_parent)
        mof_graph_release_captures(ng);
    mof_graph_free(ng);
    return NULL;
}

/* ------------------------------------------------------------------ models */

mof_model *mof_model_new(mof_context *ctx)
{
    mof_model *m = calloc(1, sizeof(*m));
    if (m)
        m->ctx = ctx;
    return m;
}

mof_model *mof_model_create(mof_context *ctx)
{
    mof_model *m = mof_model_new(ctx);
    if (!m)
        return NULL;
    m->has_ir_version = true;
    m->ir_version = 8;
    m->has_graph = true;
    m->graph = mof_graph_new(m, NULL);
    if (!m->graph || !(m->graph->name = mof_strdup("main")) ||
        mof_model_set_opset(m, "", 13) < 0) {
        mof_model_destroy(m);
        return NULL;
    }
    return m;
}

static void kv_free(mof_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

void mof_model_destroy(mof_model *m)
{
    if (!m)
        return;
    mof_graph_free(m->graph);
    for (size_t i = 0; i < m->n_opsets; i++) {
        free(m->opsets[i].domain);
        mof_blob_free(&m->opsets[i].extra);
    }
    free(m->opsets);
    kv_free(m->metadata, m->n_metadata);
    free(m->producer_name);
    free(m->producer_version);
    free(m->domain);
    free(m->doc_string);
    mof_blob_free(&m->extra);
    free(m);
}

mof_model *mof_model_dup(const mof_model *m)
{
    mof_model *c = mof_model_new(m->ctx);
    if (!c)
        return NULL;
    c->has_ir_version = m->has_ir_version;
    c->ir_version = m->ir_version;
    c->has_model_version = m->has_model_version;
    c->model_version = m->model_version;
    c->has_graph = m->has_graph;
    c->next_name_id = m->next_name_id;
    if ((m->producer_name && !(c->producer_name = mof_strdup(m->producer_name))) ||
        (m->producer_version && !(c->producer_version = mof_strdup(m->producer_version))) ||
        (m->domain && !(c->domain = mof_strdup(m->domain))) ||
        (m->doc_string && !(c->doc_string = mof_strdup(m->doc_string))) ||
        !mof_blob_copy(&c->extra, &m->extra))
        goto fail;
    if (m->n_opsets) {
        if (!(c->opsets = calloc(m->n_opsets, sizeof(*c->opsets))))
            goto fail;
        c->cap_opsets = m->n_opsets;
        for (size_t i = 0; i < m->n_opsets; i++, c->n_opsets++) {
            c->opsets[i] = m->opsets[i];
            c->opsets[i].domain = NULL;
            c->opsets[i].extra = (mof_blob){0};
            if ((m->opsets[i].domain && !(c->opsets[i].domain = mof_strdup(m->opsets[i].domain))) ||
                !mof_blob_copy(&c->opsets[i].extra, &m->opsets[i].extra)) {
                c->n_opsets++;
                goto fail;
            }
        }
    }
    if (m->n_metadata) {
        if (!(c->metadata = calloc(m->n_metadata, sizeof(*c->metadata))))
            goto fail;
        c->cap_metadata = c->n_metadata = m->n_metadata;
        for (size_t i = 0; i < m->n_metadata; i++) {
            const mof_kv *kv = &m->metadata[i];
            if ((kv->key && !(c->metadata[i].key = mof_strdup(kv->key))) ||
                (kv->value && !(c->metadata[i].value = mof_strdup(kv->value))))
                goto fail;
        }
    }
    if (m->graph && !(c->graph = mof_graph_dup(m->graph, c, NULL)))
        goto fail;
    return c;
fail:
    mof_model_destroy(c);
    return NULL;
}

void mof_model_swap_contents(mof_model *dst, mof_model *src)
{
    mof_model tmp = *dst;
    *dst = *src;
    *src = tmp;
    /* Each model stays in its own context. */
    src->ctx = dst->ctx;
    dst->ctx = tmp.ctx;
    if (dst->graph)
        graph_set_model(dst->graph, dst);
    if (src->graph)
        graph_set_model(src->graph, src);
}

mof_context *mof_model_context(const mof_model *m) { return m->ctx; }
mof_graph *mof_model_graph(const mof_model *m) { return m->graph; }
int64_t mof_model_ir_version(const mof_model *m) { return m->has_ir_version ? m->ir_version : 0; }
size_t mof_model_n_opsets(const mof_model *m) { return m->n_opsets; }
const char *mof_model_producer_name(const mof_model *m) { return m->producer_name ? m->producer_name : ""; }
const char *mof_model_producer_version(const mof_model *m) { return m->producer_version ? m->producer_version : ""; }
size_t mof_model_n_metadata(const mof_model *m) { return m->n_metadata; }

static bool is_default_domain(const char *d)
{
    return !d || !*d || strcmp(d, "ai.onnx") == 0;
}

static mof_opset *find_opset(const mof_model *m, const char *domain)
{
    for (size_t i = 0; i < m->n_opsets; i++) {
        const char *d = m->opsets[i].domain;
        if (is_default_domain(domain) ? is_default_domain(d) : mof_str_eq(d, domain))
            return &m->opsets[i];
    }
    return NULL;
}

int64_t mof_model_opset(const mof_model *m, const char *domain)
{
    const mof_opset *o = find_opset(m, domain);
    return o && o->has_version ? o->version : -1;
}

mof_status mof_model_set_opset(mof_model *m, const char *domain, int64_t version)
{
    mof_opset *o = find_opset(m, domain);
    if (!o) {
        if (!MOF_GROW(m->opsets, m->cap_opsets, m->n_opsets + 1))
            return MOF_ERR_NOMEM;
        o = &m->opsets[m->n_opsets];
        memset(o, 0, sizeof(*o));
        if (!(o->domain = mof_strdup(domain ? domain : "")))
            return MOF_ERR_NOMEM;
        m->n_opsets++;
    }
    o->has_version = true;
    o->version = version;
    return MOF_OK;
}

const char *mof_model_opset_domain(const mof_model *m, size_t i)
{
    return i < m->n_opsets && m->opsets[i].domain ? m->opsets[i].domain : "";
}

int64_t mof_model_opset_version(const mof_model *m, size_t i)
{
    return i < m->n_opsets && m->opsets[i].has_version ? m->opsets[i].version : -1;
}

const char *mof_model_metadata_key(const mof_model *m, size_t i)
{
    return i < m->n_metadata && m->metadata[i].key ? m->metadata[i].key : "";
}

const char *mof_model_metadata_value(const mof_model *m, size_t i)
{
    return i < m->n_metadata && m->metadata[i].value ? m->metadata[i].value : "";
}

const char *mof_model_metadata_get(const mof_model *m, const char *key)
{
    for (size_t i = 0; i < m->n_metadata; i++) {
        if (mof_str_eq(m->metadata[i].key, key))
            return m->metadata[i].value ? m->metadata[i].value : "";
    }
    return NULL;
}

mof_status mof_model_metadata_set(mof_model *m, const char *key, const char *value)
{
    char *v = mof_strdup(value ? value : "");
    if (!v)
        return MOF_ERR_NOMEM;
    for (size_t i = 0; i < m->n_metadata; i++) {
        if (mof_str_eq(m->metadata[i].key, key)) {
            free(m->metadata[i].value);
            m->metadata[i].value = v;
            return MOF_OK;
        }
    }
    char *k = mof_strdup(key);
    if (!k || !MOF_GROW(m->metadata, m->cap_metadata, m->n_metadata + 1)) {
        free(k);
        free(v);
        return MOF_ERR_NOMEM;
    }
    m->metadata[m->n_metadata++] = (mof_kv){k, v};
    return MOF_OK;
}

static void graph_stats(const mof_graph *g, mof_model_stats *s)
{
    s->n_nodes += g->n_nodes;
    s->n_initializers += g->n_initializers;
    for (size_t i = 0; i < g->n_initializers; i++) {
        const mof_tensor *t = g->initializers[i]->tensor;
        if (t) {
            s->n_parameters += t->numel;
            s->parameter_bytes += (int64_t)t->nbytes;
        }
    }
    for (const mof_node *n = g->first; n; n = n->next) {
        for (size_t k = 0; k < mof_node_n_subgraphs(n); k++)
            graph_stats(mof_node_subgraph(n, k), s);
    }
}

void mof_model_get_stats(const mof_model *m, mof_model_stats *stats)
{
    memset(stats, 0, sizeof(*stats));
    if (m->graph)
        graph_stats(m->graph, stats);
}
