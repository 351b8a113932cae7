/* pruning: passes that remove weights of a trained model, without retraining.
 *
 *   prune-magnitude   unstructured: zero the weights of smallest magnitude, to a target
 *                     sparsity per layer or over all selected layers together
 *   prune-nm          semi-structured N:M (2:4 by default): in every M consecutive
 *                     weights along the reduction axis keep the N largest, the pattern
 *                     sparse tensor cores run at twice the dense rate
 *   prune-channels    structured: remove whole Conv output channels (filters) that
 *                     matter least (filter norm, reader weights, or variance on
 *                     calibration data), shrinking the weights of every node that
 *                     reads them and folding the removed channels' means into the
 *                     readers' biases (or refitting the readers by least squares),
 *                     so the model is physically smaller and faster
 *
 * Pruning changes the model's function by design: the passes are flagged
 * MOF_PASS_CHANGES_NUMERICS with tolerance 0, so `mof run --check` compares the pruned
 * model with the input model at the --rtol the user gives. What each pass computes
 * exactly is stated in its file and proven by tests/unit/test_pruning.c: for
 * prune-magnitude and prune-nm, the input model with the chosen weights set to zero;
 * for prune-channels, the input model with the removed channels replaced by
 * constants where they are read.
 *
 * This file holds the layer selection, the report and the plugin's registration;
 * calib.c runs the model on calibration data. */
#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prune.h"

static const char *const kind_names[PRUNE_N_KINDS] = { "Conv", "ConvTranspose", "Gemm",
                                                       "MatMul" };

/* ------------------------------------------------------------------ nodes */

bool prune_is_op(const mof_node *n, const char *op_type)
{
    const char *d = mof_node_domain(n);
    return strcmp(mof_node_op_type(n), op_type) == 0 && (!*d || strcmp(d, "ai.onnx") == 0);
}

bool prune_node_kind(const mof_node *n, prune_kind *kind)
{
    static const char *const fused[PRUNE_N_KINDS] = { "FusedConv", NULL, "FusedGemm",
                                                      "FusedMatMul" };
    bool mof_domain = strcmp(mof_node_domain(n), MOF_FUSED_DOMAIN) == 0;
    for (int k = 0; k < PRUNE_N_KINDS; k++) {
        if (prune_is_op(n, kind_names[k]) ||
            (mof_domain && fused[k] && strcmp(mof_node_op_type(n), fused[k]) == 0)) {
            *kind = (prune_kind)k;
            return true;
        }
    }
    return false;
}

const char *prune_label(const mof_node *n)
{
    const char *name = mof_node_name(n);
    if (*name)
        return name;
    return mof_node_n_origins(n) ? mof_node_origin(n, 0) : mof_node_op_type(n);
}

static bool matches(char *const *patterns, const mof_node *n, bool *used)
{
    bool any = false;
    for (size_t i = 0; patterns && patterns[i]; i++) {
        if (fnmatch(patterns[i], prune_label(n), 0) == 0) {
            any = true;
            if (used)
                used[i] = true;
        }
    }
    return any;
}

bool prune_node_selected(prune_run *r, const mof_node *n)
{
    prune_kind k;
    if (!prune_node_kind(n, &k) || !(r->kinds & (1u << k)))
        return false;
    if (r->include && r->include[0] && !matches(r->include, n, NULL))
        return false;
    return !matches(r->exclude, n, NULL);
}

const mof_tensor *prune_constant(const mof_value *v)
{
    if (!v)
        return NULL;
    if (mof_value_is_constant(v))
        return mof_value_tensor(v);
    mof_node *p = mof_value_producer(v, NULL);
    if (p && prune_is_op(p, "Constant"))
        return mof_node_attr_tensor(p, "value");
    return NULL;
}

bool prune_is_weight(const mof_value *v)
{
    return v && mof_value_is_constant(v) && !mof_value_is_graph_output(v) &&
           mof_tensor_dtype(mof_value_tensor(v)) == MOF_DTYPE_FLOAT;
}

mof_status prune_nomem(prune_run *r)
{
    return mof_report(r->ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
}

mof_status prune_set_input_tensor(prune_run *r, mof_node *n, size_t index, mof_tensor *t)
{
    if (!t)
        return prune_nomem(r);
    mof_value *v = mof_node_input(n, index);
    if (v && mof_value_is_constant(v) && mof_value_n_uses(v) == 1 &&
        !mof_value_is_graph_output(v))
        return mof_value_set_tensor(v, t);
    mof_graph *g = mof_node_graph(n);
    mof_value *nv = mof_graph_add_initializer(g, v ? mof_value_name(v) : "pruned", t);
    if (!nv)
        return prune_nomem(r);
    return mof_node_set_input(n, index, nv);
}

/* ------------------------------------------------------------------ weights */

int prune_reduction_axis(prune_kind kind, const mof_node *n, size_t rank)
{
    switch (kind) {
    case PRUNE_CONV: return 1;
    case PRUNE_CONV_TRANSPOSE: return 0;
    case PRUNE_GEMM: return mof_node_attr_int(n, "transB", 0) ? 1 : 0;
    default: return rank >= 2 ? (int)rank - 2 : 0;
    }
}

/* Why weight input 1 of n cannot be pruned, or NULL; *note says whether to tell. */
static const char *weight_problem(prune_run *r, const mof_node *n, prune_kind kind, int *axis,
                                  bool *note, char *why, size_t why_size)
{
    const mof_value *w = mof_node_input(n, 1);
    *note = true;
    if (!prune_is_weight(w))
        return "its weight is not a float initializer";
    const mof_tensor *t = mof_value_tensor(w);
    size_t rank = mof_tensor_rank(t);
    if ((kind == PRUNE_CONV || kind == PRUNE_CONV_TRANSPOSE) ? rank < 3
        : kind == PRUNE_GEMM ? rank != 2 : rank < 1)
        return "its weight has an unexpected rank";
    *axis = prune_reduction_axis(kind, n, rank);
    for (size_t i = 0; i < mof_value_n_uses(w); i++) {
        int index;
        mof_node *u = mof_value_use(w, i, &index);
        prune_kind uk;
        if (index != 1 || !prune_node_selected(r, u) || !prune_node_kind(u, &uk) ||
            prune_reduction_axis(uk, u, rank) != *axis) {
            snprintf(why, why_size, "its weight '%s' is also read by node '%s' (%s)",
                     mof_value_name(w), prune_label(u), mof_node_op_type(u));
            return why;
        }
    }
    if (mof_tensor_numel(t) < r->sel->min_params) {
        *note = false;
        return "small";
    }
    return NULL;
}

static mof_status collect_graph(prune_run *r, const mof_graph *g, prune_weight **list,
                                size_t *n, size_t *cap)
{
    for (mof_node *node = mof_graph_first_node(g); node; node = mof_node_next(node)) {
        for (size_t i = 0; i < mof_node_n_subgraphs(node); i++) {
            mof_status st = collect_graph(r, mof_node_subgraph(node, i), list, n, cap);
            if (st < 0)
                return st;
        }
        prune_kind kind;
        if (!prune_node_selected(r, node) || !prune_node_kind(node, &kind) ||
            mof_node_n_inputs(node) < 2)
            continue;
        mof_value *w = mof_node_input(node, 1);
        bool seen = false;
        for (size_t i = 0; i < *n && !seen; i++)
            seen = (*list)[i].value == w;
        if (seen)
            continue;
        int axis = 0;
        bool note;
        char buf[256];
        const char *why = weight_problem(r, node, kind, &axis, &note, buf, sizeof buf);
        if (why) {
            mof_pass_stat(r->pc, "layers-skipped", 1);
            if (note)
                mof_report_node(r->ctx, MOF_SEVERITY_NOTE, MOF_OK, node, "not pruned: %s",
                                why);
            continue;
        }
        if (*n == *cap) {
            size_t nc = *cap ? 2 * *cap : 16;
            prune_weight *nl = realloc(*list, nc * sizeof *nl);
            if (!nl)
                return prune_nomem(r);
            *list = nl;
            *cap = nc;
        }
        (*list)[(*n)++] = (prune_weight){ .value = w, .node = node, .kind = kind, .axis = axis };
    }
    return MOF_OK;
}

mof_status prune_collect_weights(prune_run *r, prune_weight **out, size_t *n)
{
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    mof_status st = collect_graph(r, mof_model_graph(r->model), out, n, &cap);
    if (st < 0) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return st;
}

/* ------------------------------------------------------------------ selection */

static void free_list(char **list)
{
    for (size_t i = 0; list && list[i]; i++)
        free(list[i]);
    free(list);
}

/* Splits text at commas, spaces, ';' and '|' into a NULL-terminated list (*out, NULL
 * for an empty text). false when out of memory. */
static bool split_list(const char *text, char ***out)
{
    static const char seps[] = ", ;|\t";
    *out = NULL;
    size_t n = 0;
    char **list = calloc(strlen(text ? text : "") / 2 + 2, sizeof *list);
    if (!list)
        return false;
    for (const char *p = text ? text : ""; *p;) {
        p += strspn(p, seps);
        size_t len = strcspn(p, seps);
        if (!len)
            break;
        if (!(list[n] = malloc(len + 1))) {
            free_list(list);
            return false;
        }
        memcpy(list[n], p, len);
        list[n][len] = '\0';
        n++;
        p += len;
    }
    if (n == 0) {
        free(list);
        return true;
    }
    *out = list;
    return true;
}

static void mark_used(prune_run *r, const mof_graph *g, bool *ex_used)
{
    for (mof_node *n = mof_graph_first_node(g); n; n = mof_node_next(n)) {
        for (size_t i = 0; i < mof_node_n_subgraphs(n); i++)
            mark_used(r, mof_node_subgraph(n, i), ex_used);
        matches(r->include, n, r->include_used);
        matches(r->exclude, n, ex_used);
    }
}

mof_status prune_begin(prune_run *r, mof_pass_ctx *pc, mof_model *model,
                       const struct prune_select *sel, unsigned allowed)
{
    memset(r, 0, sizeof *r);
    r->pc = pc;
    r->ctx = mof_pass_ctx_context(pc);
    r->model = model;
    r->sel = sel;
    char **types = NULL;
    bool *ex_used = NULL;
    mof_status st = MOF_OK;
    if (!split_list(sel->op_types, &types) || !split_list(sel->nodes, &r->include) ||
        !split_list(sel->exclude_nodes, &r->exclude))
        goto nomem;
    for (size_t i = 0; types && types[i]; i++) {
        int k = 0;
        while (k < PRUNE_N_KINDS && strcmp(types[i], kind_names[k]) != 0)
            k++;
        if (k == PRUNE_N_KINDS || !(allowed & (1u << k))) {
            char choices[64] = "";
            for (int j = 0; j < PRUNE_N_KINDS; j++)
                if (allowed & (1u << j))
                    snprintf(choices + strlen(choices), sizeof choices - strlen(choices),
                             "%s%s", *choices ? ", " : "", kind_names[j]);
            st = mof_report(r->ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL,
                            "parameter 'op-types': '%s' is not one of %s", types[i], choices);
            goto done;
        }
        r->kinds |= 1u << k;
    }
    if (!r->kinds) {
        st = mof_report(r->ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL,
                        "parameter 'op-types' names no op type");
        goto done;
    }
    size_t n_inc = 0, n_ex = 0;
    while (r->include && r->include[n_inc])
        n_inc++;
    while (r->exclude && r->exclude[n_ex])
        n_ex++;
    r->include_used = calloc(n_inc + 1, sizeof *r->include_used);
    ex_used = calloc(n_ex + 1, sizeof *ex_used);
    if (!r->include_used || !ex_used)
        goto nomem;
    mark_used(r, mof_model_graph(model), ex_used);
    for (size_t i = 0; i < n_inc; i++)
        if (!r->include_used[i])
            st = mof_report(r->ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL,
                            "parameter 'nodes': '%s' matches no node of the model",
                            r->include[i]);
    for (size_t i = 0; i < n_ex; i++)
        if (!ex_used[i])
            mof_report(r->ctx, MOF_SEVERITY_WARNING, MOF_OK, NULL,
                       "parameter 'exclude-nodes': '%s' matches no node of the model",
                       r->exclude[i]);
    if (st == MOF_OK)
        st = prune_measure_model(model, &r->before);
    if (st == MOF_ERR_NOMEM)
        goto nomem;
    goto done;
nomem:
    st = prune_nomem(r);
done:
    free_list(types);
    free(ex_used);
    return st;
}

/* ------------------------------------------------------------------ the report */

static void stat2(prune_run *r, const char *name, int64_t before, int64_t after)
{
    char key[64];
    snprintf(key, sizeof key, "%s-before", name);
    mof_pass_stat(r->pc, key, before);
    snprintf(key, sizeof key, "%s-after", name);
    mof_pass_stat(r->pc, key, after);
}

mof_status prune_zeroed_stats(prune_run *r, int64_t layers, int64_t weights, int64_t zeroed)
{
    mof_pass_stat(r->pc, "layers-pruned", layers);
    mof_pass_stat(r->pc, "weights", weights);
    mof_pass_stat(r->pc, "weights-zeroed", zeroed);
    return zeroed ? MOF_OK : MOF_UNCHANGED;
}

mof_status prune_end(prune_run *r, mof_status st, const char *summary)
{
    prune_measure after;
    if (st >= 0 && prune_measure_model(r->model, &after) != MOF_OK)
        st = prune_nomem(r);
    if (st >= 0) {
        const prune_measure *b = &r->before;
        stat2(r, "params", b->params, after.params);
        stat2(r, "nonzero-params", b->nonzero, after.nonzero);
        stat2(r, "bytes", b->bytes, after.bytes);
        char flops[160] = "FLOPs unknown (shape inference failed)";
        if (b->flops_known && after.flops_known) {
            stat2(r, "flops", b->flops, after.flops);
            stat2(r, "nonzero-flops", b->nonzero_flops, after.nonzero_flops);
            snprintf(flops, sizeof flops,
                     "FLOPs %" PRId64 " -> %" PRId64 " (nonzero %" PRId64 " -> %" PRId64 ")",
                     b->flops, after.flops, b->nonzero_flops, after.nonzero_flops);
        }
        mof_report(r->ctx, MOF_SEVERITY_NOTE, MOF_OK, NULL,
                   "%s; params %" PRId64 " -> %" PRId64 " (nonzero %" PRId64 " -> %" PRId64
                   "), bytes %" PRId64 " -> %" PRId64 ", %s",
                   summary, b->params, after.params, b->nonzero, after.nonzero, b->bytes,
                   after.bytes, flops);
    }
    free_list(r->include);
    free_list(r->exclude);
    free(r->include_used);
    r->include = r->exclude = NULL;
    r->include_used = NULL;
    return st;
}

/* ------------------------------------------------------------------ the plugin */

static mof_status register_pruning(mof_registrar *reg)
{
    mof_status st = mof_register_pass(reg, &prune_magnitude_pass);
    if (st == MOF_OK)
        st = mof_register_pass(reg, &prune_nm_pass);
    if (st == MOF_OK)
        st = mof_register_pass(reg, &prune_channels_pass);
    return st;
}

MOF_PLUGIN_DEFINE("pruning", MOF_VERSION_STRING,
                  "weight pruning: unstructured magnitude, N:M semi-structured, Conv channels",
                  "MIT", register_pruning)
