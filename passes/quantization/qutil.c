/* Helpers shared by the files of the quantization plugin (see qutil.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qutil.h"

bool qu_grow(void *items, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return true;
    size_t c = *cap ? 2 * *cap : 8;
    void *old, *q;
    /* items points at a T *; copied through memcpy, not read as a void *. */
    memcpy(&old, items, sizeof(old));
    if (c > SIZE_MAX / size || !(q = realloc(old, c * size)))
        return false;
    memcpy(items, &q, sizeof(q));
    *cap = c;
    return true;
}

bool qu_list_has(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if ((size_t)(t - p) == n && n && memcmp(p, name, n) == 0)
            return true;
        p = e;
    }
    return false;
}

bool qu_is_op(const mof_node *n, const char *op)
{
    return n && strcmp(mof_node_op_type(n), op) == 0 && !*mof_node_domain(n);
}

const mof_tensor *qu_const_tensor(const mof_value *v)
{
    if (!v)
        return NULL;
    if (mof_value_is_constant(v))
        return mof_value_tensor(v);
    const mof_node *c = qu_producer_op(v, "Constant");
    return c ? mof_node_attr_tensor(c, "value") : NULL;
}

mof_node *qu_producer_op(const mof_value *v, const char *op)
{
    mof_node *p = v ? mof_value_producer(v, NULL) : NULL;
    return qu_is_op(p, op) ? p : NULL;
}

/* base + suffix made unique in g (owned), or NULL. */
static char *unique_name(mof_graph *g, const char *base, const char *suffix)
{
    size_t len = strlen(base) + strlen(suffix) + 1;
    char *hint = malloc(len);
    if (!hint)
        return NULL;
    snprintf(hint, len, "%s%s", base, suffix);
    char *name = mof_graph_unique_name(g, hint);
    free(hint);
    return name;
}

mof_value *qu_add_init(mof_graph *g, const char *base, const char *suffix, mof_tensor *t)
{
    if (!t)
        return NULL;
    size_t len = strlen(base) + strlen(suffix) + 1;
    char *hint = malloc(len);
    if (!hint) {
        mof_tensor_unref(t);
        return NULL;
    }
    snprintf(hint, len, "%s%s", base, suffix);
    /* It takes over t, on failure too. */
    mof_value *v = mof_graph_add_initializer(g, hint, t);
    free(hint);
    return v;
}

mof_node *qu_add_node(mof_graph *g, mof_insert where, mof_node *anchor, const char *op,
                      const char *base, const char *suffix, size_t n_in,
                      mof_value *const *ins, size_t n_out)
{
    char *name = unique_name(g, base, suffix);
    mof_node *n = name ? mof_graph_add_node(g, where, anchor, op, NULL, name, n_in, ins, n_out)
                       : NULL;
    free(name);
    return n;
}

mof_status qu_name_value(mof_graph *g, mof_value *v, const char *base, const char *suffix)
{
    char *name = unique_name(g, base, suffix);
    mof_status st = name ? mof_value_set_name(v, name) : MOF_ERR_NOMEM;
    free(name);
    return st;
}
