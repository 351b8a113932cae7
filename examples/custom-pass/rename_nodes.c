/* rename-nodes: an example of a pass plugin built outside mof's tree, against the
 * installed SDK only (`pkg-config --cflags --libs mof`).
 *
 * The pass names nodes "<prefix><op_type>_<n>", n counting the nodes of the model in
 * order from 0 (subgraphs included, in the order they are met), the way exporters such
 * as PyTorch name them. By default it names only the nodes that have no name, keeping
 * clear of the names already taken; with all=true it renames every node, which gives
 * a model stable, readable node names after other passes have rewritten it. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mof/mof.h>

struct rename_nodes {
    const char *prefix;   /* owned by the host */
    bool all;
};

static const mof_param_desc rename_params[] = {
    { .name = "prefix", .help = "put before every new name", .type = MOF_PARAM_STRING,
      .offset = offsetof(struct rename_nodes, prefix), .def = "" },
    { .name = "all", .help = "rename every node, not only the unnamed ones",
      .type = MOF_PARAM_BOOL, .offset = offsetof(struct rename_nodes, all),
      .def = "false" },
    { 0 }
};

/* The node names in use, sorted for bsearch: a new name must not take one of them. */
struct name_set {
    const char **names;
    size_t n, cap;
};

static bool collect_names(struct name_set *s, const mof_graph *g)
{
    for (mof_node *n = mof_graph_first_node(g); n; n = mof_node_next(n)) {
        if (mof_node_name(n)[0] != '\0') {
            if (s->n == s->cap) {
                size_t cap = s->cap ? 2 * s->cap : 64;
                const char **names = realloc(s->names, cap * sizeof *names);
                if (!names)
                    return false;
                s->names = names;
                s->cap = cap;
            }
            s->names[s->n++] = mof_node_name(n);
        }
        for (size_t i = 0; i < mof_node_n_subgraphs(n); i++)
            if (!collect_names(s, mof_node_subgraph(n, i)))
                return false;
    }
    return true;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool name_taken(const struct name_set *s, const char *name)
{
    return s->n > 0 && bsearch(&name, s->names, s->n, sizeof *s->names, compare_names);
}

struct renamer {
    const struct rename_nodes *p;
    struct name_set taken;   /* empty with all=true: every old name goes */
    uint64_t counter;
    int64_t renamed;
    char *buf;
    size_t buf_size;
};

/* Formats the next free name into r->buf. */
static mof_status next_name(struct renamer *r, const char *op_type)
{
    const char *prefix = r->p->prefix ? r->p->prefix : "";
    for (;;) {
        int len = snprintf(r->buf, r->buf_size, "%s%s_%llu", prefix, op_type,
                           (unsigned long long)r->counter);
        if (len < 0)
            return MOF_ERR_INTERNAL;
        if ((size_t)len >= r->buf_size) {
            char *buf = realloc(r->buf, (size_t)len + 1);
            if (!buf)
                return MOF_ERR_NOMEM;
            r->buf = buf;
            r->buf_size = (size_t)len + 1;
            continue;   /* format again into the larger buffer */
        }
        r->counter++;
        if (!name_taken(&r->taken, r->buf))
            return MOF_OK;
    }
}

static mof_status rename_in_graph(struct renamer *r, mof_graph *g)
{
    for (mof_node *n = mof_graph_first_node(g); n; n = mof_node_next(n)) {
        if (r->p->all || mof_node_name(n)[0] == '\0') {
            mof_status st = next_name(r, mof_node_op_type(n));
            if (st == MOF_OK)
                st = mof_node_set_name(n, r->buf);
            if (st != MOF_OK)
                return st;
            r->renamed++;
        }
        for (size_t i = 0; i < mof_node_n_subgraphs(n); i++) {
            mof_status st = rename_in_graph(r, mof_node_subgraph(n, i));
            if (st != MOF_OK)
                return st;
        }
    }
    return MOF_OK;
}

static mof_status rename_run(mof_pass_ctx *pc, mof_model *model, void *priv)
{
    struct renamer r = { .p = priv };
    mof_status st = MOF_OK;
    mof_graph *g = mof_model_graph(model);
    if (!r.p->all) {
        if (!collect_names(&r.taken, g)) {
            st = MOF_ERR_NOMEM;
            goto out;
        }
        qsort(r.taken.names, r.taken.n, sizeof *r.taken.names, compare_names);
    }
    r.buf_size = 64;
    r.buf = malloc(r.buf_size);
    if (!r.buf) {
        st = MOF_ERR_NOMEM;
        goto out;
    }
    st = rename_in_graph(&r, g);

out:
    if (st == MOF_ERR_NOMEM)
        mof_report(mof_pass_ctx_context(pc), MOF_SEVERITY_ERROR, st, NULL, "out of memory");
    else if (st < 0)
        mof_report(mof_pass_ctx_context(pc), MOF_SEVERITY_ERROR, st, NULL,
                   "cannot rename a node: %s", mof_status_str(st));
    mof_pass_stat(pc, "nodes-renamed", r.renamed);
    free(r.taken.names);
    free(r.buf);
    if (st < 0)
        return st;
    return r.renamed > 0 ? MOF_OK : MOF_UNCHANGED;
}

static const mof_pass_desc rename_nodes_pass = {
    .size = sizeof(mof_pass_desc),
    .name = "rename-nodes",
    .summary = "name nodes <prefix><op_type>_<n>",
    .help = "Gives every unnamed node (every node with all=true) the name\n"
            "<prefix><op_type>_<n>, n counting the model's nodes in order from 0.\n"
            "New names never take a name already in use.",
    .params = rename_params,
    .priv_size = sizeof(struct rename_nodes),
    .flags = MOF_PASS_EXACT,
    .run = rename_run,
};

static mof_status register_rename_nodes(mof_registrar *reg)
{
    return mof_register_pass(reg, &rename_nodes_pass);
}

MOF_PLUGIN_DEFINE("rename-nodes", "1.0.0", "example out-of-tree pass: names nodes",
                  "MIT", register_rename_nodes)
