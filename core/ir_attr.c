/* ir_attr.c: typed node attributes, and the subgraphs that GRAPH attributes own. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "ir_private.h"

void mof_attr_clear(mof_attr *a)
{
    free(a->name);
    free(a->s);
    mof_tensor_unref(a->t);
    mof_graph_free(a->g);
    free(a->floats);
    free(a->ints);
    if (a->strings) {
        for (size_t i = 0; i < a->n; i++)
            free(a->strings[i].data);
        free(a->strings);
    }
    if (a->tensors) {
        for (size_t i = 0; i < a->n; i++)
            mof_tensor_unref(a->tensors[i]);
        free(a->tensors);
    }
    if (a->graphs) {
        for (size_t i = 0; i < a->n; i++)
            mof_graph_free(a->graphs[i]);
        free(a->graphs);
    }
    free(a->ref_attr_name);
    free(a->doc_string);
    mof_blob_free(&a->extra);
    memset(a, 0, sizeof(*a));
}

static mof_attr *find_attr(const mof_node *n, const char *name)
{
    for (size_t i = 0; i < n->n_attrs; i++) {
        if (mof_str_eq(n->attrs[i].name, name))
            return &n->attrs[i];
    }
    return NULL;
}

static const mof_attr *find_typed(const mof_node *n, const char *name, mof_attr_type type)
{
    const mof_attr *a = find_attr(n, name);
    return a && a->type == type ? a : NULL;
}

size_t mof_node_n_attrs(const mof_node *n) { return n->n_attrs; }

const char *mof_node_attr_name(const mof_node *n, size_t i)
{
    return i < n->n_attrs && n->attrs[i].name ? n->attrs[i].name : "";
}

mof_attr_type mof_node_attr_type(const mof_node *n, const char *name)
{
    const mof_attr *a = find_attr(n, name);
    return a ? a->type : MOF_ATTR_UNDEFINED;
}

bool mof_node_has_attr(const mof_node *n, const char *name)
{
    return find_attr(n, name) != NULL;
}

int64_t mof_node_attr_int(const mof_node *n, const char *name, int64_t def)
{
    const mof_attr *a = find_typed(n, name, MOF_ATTR_INT);
    return a ? a->i : def;
}

float mof_node_attr_float(const mof_node *n, const char *name, float def)
{
    const mof_attr *a = find_typed(n, name, MOF_ATTR_FLOAT);
    return a ? a->f : def;
}

const char *mof_node_attr_string(const mof_node *n, const char *name, const char *def,
                                 size_t *size)
{
    const mof_attr *a = find_typed(n, name, MOF_ATTR_STRING);
    const char *s = a ? (a->s ? a->s : "") : def;
    if (size)
        *size = a ? a->s_size : (def ? strlen(def) : 0);
    return s;
}

const int64_t *mof_node_attr_ints(const mof_node *n, const char *name, size_t *count)
{
    const mof_attr *a = find_typed(n, name, MOF_ATTR_INTS);
    *count = a ? a->n : 0;
    return a ? a->ints : NULL;
}

const float *mof_node_attr_floats(const mof_node *n, const char *name, size_t *count)
{
    const mof_attr *a = find_typed(n, name, MOF_ATTR_FLOATS);
    *count = a ? a->n : 0;
    return a ? a->floats : NULL;
}

mof_tensor *mof_node_attr_tensor(const mof_node *n, const char *name)
{
    const mof_attr *a = find_typed(n, name, MOF_ATTR_TENSOR);
    return a ? a->t : NULL;
}

mof_graph *mof_node_attr_graph(const mof_node *n, const char *name)
{
    const mof_attr *a = find_typed(n, name, MOF_ATTR_GRAPH);
    return a ? a->g : NULL;
}

/* The attribute to overwrite: the existing one cleared, or a new one, named. */
static mof_attr *attr_for_set(mof_node *n, const char *name, mof_attr_type type)
{
    mof_attr *a = find_attr(n, name);
    char *copy = mof_strdup(name);
    if (!copy)
        return NULL;
    if (a) {
        /* An overwritten subgraph stops reading the enclosing graphs. */
        if (a->g)
            mof_graph_release_captures(a->g);
        for (size_t i = 0; a->graphs && i < a->n; i++)
            mof_graph_release_captures(a->graphs[i]);
        mof_attr_clear(a);
    } else if (!(a = mof_node_append_attr(n))) {
        free(copy);
        return NULL;
    }
    a->name = copy;
    a->type = type;
    a->has_type = true;
    a->has_value = true;
    return a;
}

mof_status mof_node_set_attr_int(mof_node *n, const char *name, int64_t v)
{
    mof_attr *a = attr_for_set(n, name, MOF_ATTR_INT);
    if (!a)
        return MOF_ERR_NOMEM;
    a->i = v;
    return MOF_OK;
}

mof_status mof_node_set_attr_float(mof_node *n, const char *name, float v)
{
    mof_attr *a = attr_for_set(n, name, MOF_ATTR_FLOAT);
    if (!a)
        return MOF_ERR_NOMEM;
    a->f = v;
    return MOF_OK;
}

mof_status mof_node_set_attr_string(mof_node *n, const char *name, const char *v)
{
    char *copy = mof_strdup(v ? v : "");
    mof_attr *a = copy ? attr_for_set(n, name, MOF_ATTR_STRING) : NULL;
    if (!a) {
        free(copy);
        return MOF_ERR_NOMEM;
    }
    a->s = copy;
    a->s_size = strlen(copy);
    return MOF_OK;
}

mof_status mof_node_set_attr_ints(mof_node *n, const char *name, size_t count,
                                  const int64_t *v)
{
    int64_t *copy = mof_malloc(count * sizeof(*copy));
    mof_attr *a = copy ? attr_for_set(n, name, MOF_ATTR_INTS) : NULL;
    if (!a) {
        free(copy);
        return MOF_ERR_NOMEM;
    }
    if (count)
        memcpy(copy, v, count * sizeof(*copy));
    a->ints = copy;
    a->n = count;
    return MOF_OK;
}

mof_status mof_node_set_attr_floats(mof_node *n, const char *name, size_t count,
                                    const float *v)
{
    float *copy = mof_malloc(count * sizeof(*copy));
    mof_attr *a = copy ? attr_for_set(n, name, MOF_ATTR_FLOATS) : NULL;
    if (!a) {
        free(copy);
        return MOF_ERR_NOMEM;
    }
    if (count)
        memcpy(copy, v, count * sizeof(*copy));
    a->floats = copy;
    a->n = count;
    return MOF_OK;
}

mof_status mof_node_set_attr_tensor(mof_node *n, const char *name, mof_tensor *t)
{
    mof_attr *a = t ? attr_for_set(n, name, MOF_ATTR_TENSOR) : NULL;
    if (!a) {
        mof_tensor_unref(t);
        return t ? MOF_ERR_NOMEM : MOF_ERR_INVALID_ARG;
    }
    a->t = t;
    return MOF_OK;
}

mof_status mof_node_remove_attr(mof_node *n, const char *name)
{
    mof_attr *a = find_attr(n, name);
    if (!a)
        return MOF_UNCHANGED;
    if (a->g)
        mof_graph_release_captures(a->g);
    for (size_t i = 0; a->graphs && i < a->n; i++)
        mof_graph_release_captures(a->graphs[i]);
    mof_attr_clear(a);
    size_t idx = (size_t)(a - n->attrs);
    memmove(a, a + 1, (n->n_attrs - idx - 1) * sizeof(*a));
    n->n_attrs--;
    return MOF_OK;
}

/* Copies one attribute into the zeroed *dst; subgraphs become dst_node's. */
static bool attr_copy(mof_attr *dst, const mof_attr *src, mof_node *dst_node)
{
    *dst = *src;
    dst->name = dst->s = dst->ref_attr_name = dst->doc_string = NULL;
    dst->t = NULL;
    dst->g = NULL;
    dst->floats = NULL;
    dst->ints = NULL;
    dst->strings = NULL;
    dst->tensors = NULL;
    dst->graphs = NULL;
    dst->extra = (mof_blob){0};
    size_t n = src->n;
    if ((src->name && !(dst->name = mof_strdup(src->name))) ||
        (src->s && !(dst->s = mof_strndup(src->s, src->s_size))) ||
        (src->ref_attr_name && !(dst->ref_attr_name = mof_strdup(src->ref_attr_name))) ||
        (src->doc_string && !(dst->doc_string = mof_strdup(src->doc_string))) ||
        !mof_blob_copy(&dst->extra, &src->extra))
        return false;
    dst->t = mof_tensor_ref(src->t);
    if (src->g && !(dst->g = mof_graph_dup(src->g, dst_node->graph->model, dst_node)))
        return false;
    if (src->floats) {
        if (!(dst->floats = mof_malloc(n * sizeof(float))))
            return false;
        memcpy(dst->floats, src->floats, n * sizeof(float));
    }
    if (src->ints) {
        if (!(dst->ints = mof_malloc(n * sizeof(int64_t))))
            return false;
        memcpy(dst->ints, src->ints, n * sizeof(int64_t));
    }
    if (src->strings) {
        if (!(dst->strings = mof_calloc(n, sizeof(mof_string))))
            return false;
        for (size_t i = 0; i < n; i++) {
            if (!(dst->strings[i].data = mof_malloc(src->strings[i].size)))
                return false;
            if (src->strings[i].size)
                memcpy(dst->strings[i].data, src->strings[i].data, src->strings[i].size);
            dst->strings[i].size = src->strings[i].size;
        }
    }
    if (src->tensors) {
        if (!(dst->tensors = mof_calloc(n, sizeof(mof_tensor *))))
            return false;
        for (size_t i = 0; i < n; i++)
            dst->tensors[i] = mof_tensor_ref(src->tensors[i]);
    }
    if (src->graphs) {
        if (!(dst->graphs = mof_calloc(n, sizeof(mof_graph *))))
            return false;
        for (size_t i = 0; i < n; i++) {
            dst->graphs[i] = mof_graph_dup(src->graphs[i], dst_node->graph->model, dst_node);
            if (!dst->graphs[i])
                return false;
        }
    }
    return true;
}

mof_status mof_node_copy_attrs(mof_node *dst, const mof_node *src)
{
    if (dst == src)
        return MOF_OK; /* (copying in place would free what it reads) */
    for (size_t i = 0; i < src->n_attrs; i++) {
        const mof_attr *sa = &src->attrs[i];
        if (sa->name)
            mof_node_remove_attr(dst, sa->name);
        mof_attr *da = mof_node_append_attr(dst);
        if (!da)
            return MOF_ERR_NOMEM;
        if (!attr_copy(da, sa, dst)) {
            if (da->g)
                mof_graph_release_captures(da->g);
            for (size_t k = 0; da->graphs && k < da->n; k++) {
                if (da->graphs[k])
                    mof_graph_release_captures(da->graphs[k]);
            }
            mof_attr_clear(da);
            dst->n_attrs--;
            return MOF_ERR_NOMEM;
        }
    }
    return MOF_OK;
}

mof_graph *mof_node_add_subgraph(mof_node *n, const char *attr_name, const char *graph_name)
{
    mof_graph *g = mof_graph_new(n->graph->model, n);
    if (!g || (graph_name && !(g->name = mof_strdup(graph_name)))) {
        mof_graph_free(g);
        return NULL;
    }
    mof_attr *a = attr_for_set(n, attr_name, MOF_ATTR_GRAPH);
    if (!a) {
        mof_graph_free(g);
        return NULL;
    }
    a->g = g;
    return g;
}

size_t mof_node_n_subgraphs(const mof_node *n)
{
    size_t count = 0;
    for (size_t i = 0; i < n->n_attrs; i++) {
        if (n->attrs[i].g)
            count++;
        if (n->attrs[i].graphs)
            count += n->attrs[i].n;
    }
    return count;
}

mof_graph *mof_node_subgraph(const mof_node *n, size_t idx)
{
    for (size_t i = 0; i < n->n_attrs; i++) {
        const mof_attr *a = &n->attrs[i];
        if (a->g) {
            if (idx == 0)
                return a->g;
            idx--;
        }
        if (a->graphs) {
            if (idx < a->n)
                return a->graphs[idx];
            idx -= a->n;
        }
    }
    return NULL;
}
