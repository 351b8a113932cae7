/* fusion: passes that merge small groups of operators into one, so that backends run
 * them as one kernel and memory traffic between them disappears.
 *
 *   fuse-conv-bn      Conv / ConvTranspose / Gemm + BatchNormalization -> new weights
 *   fuse-bias         Conv / Gemm + Add of a per-channel constant -> the bias input
 *   fuse-matmul-add   MatMul + Add -> Gemm
 *   fuse-activation   Conv / Gemm / MatMul + activation -> mof.FusedConv/Gemm/MatMul
 *   fuse-gelu         the erf and tanh GELU subgraphs -> mof.Gelu (ONNX Gelu, opset 20+)
 *   fuse-layernorm    the decomposed layer norm -> LayerNormalization (opset 17+) or
 *                     mof.LayerNormalization
 *   fuse-attention    MatMul -> scale -> mask -> Softmax -> MatMul -> mof.Attention
 *   fold-pad          Pad + Conv / AveragePool / MaxPool -> the pads attribute
 *   fuse-softmax      Exp / ReduceSum (with or without the max subtraction), or
 *                     Transpose + Softmax + inverse Transpose -> Softmax
 *
 * The fused operators of the "mof" domain are defined in mof/fused.h, and the
 * reference interpreter runs them, so a model after these passes is still checked
 * numerically (`mof run --check`). Every pass descends into subgraphs, keeps the
 * names, types and shapes of graph outputs, gives each new or changed node the origins
 * of the nodes it replaces, counts what it did per pattern, and returns MOF_UNCHANGED
 * when it found nothing to do.
 *
 * Near misses: a pattern that started to match but failed a check (a Conv whose
 * output has a second use, a BatchNormalization whose mean is not a constant, a Cast
 * between Softmax and MatMul) is counted in the statistic "near-misses" and, with the
 * parameter explain=true that every fusion pass takes, reported as a note on the node
 * where the match started: how far it got and the first check that failed.
 *
 * This file holds what the passes share (see fusion.h) and the plugin's registration;
 * each pass has a file of its own. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fusion.h"

const mof_param_desc fusion_params_table[] = {
    { .name = "explain",
      .help = "report each pattern that almost matched, and the check that failed, as a note",
      .type = MOF_PARAM_BOOL, .offset = offsetof(struct fusion_params, explain),
      .def = "false" },
    { 0 }
};

/* ------------------------------------------------------------------ passes */

static mof_status walk_graph(fusion_run *r, mof_graph *g, fusion_visit_fn visit)
{
    mof_node *next;
    for (mof_node *n = mof_graph_first_node(g); n; n = next) {
        /* A visit removes only n and nodes before it: the next node stays. */
        next = mof_node_next(n);
        for (size_t i = 0; i < mof_node_n_subgraphs(n); i++) {
            mof_status st = walk_graph(r, mof_node_subgraph(n, i), visit);
            if (st < 0)
                return st;
        }
        mof_status st = visit(r, n);
        if (st < 0)
            return st;
    }
    return MOF_OK;
}

mof_status fusion_run_pass(mof_pass_ctx *pc, mof_model *model, const void *priv,
                           fusion_visit_fn visit)
{
    const struct fusion_params *p = priv;
    fusion_run r = {
        .pc = pc,
        .ctx = mof_pass_ctx_context(pc),
        .model = model,
        .explain = p && p->explain,
        .opset = mof_model_opset(model, ""),
    };
    mof_status st = walk_graph(&r, mof_model_graph(model), visit);
    if (r.near_misses)
        mof_pass_stat(pc, "near-misses", r.near_misses);
    if (st < 0)
        return st;
    return r.rewrites ? MOF_OK : MOF_UNCHANGED;
}

void fusion_count(fusion_run *r, const char *stat)
{
    r->rewrites++;
    mof_pass_stat(r->pc, stat, 1);
}

/* ------------------------------------------------------------------ matching */

bool fusion_fail(mof_match_failure *why, size_t matched, const mof_node *at, const char *fmt,
                 ...)
{
    if (!why)
        return false;
    why->matched = matched;
    why->at = at;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why->reason, sizeof why->reason, fmt, ap);
    va_end(ap);
    return false;
}

void fusion_near_miss(fusion_run *r, const mof_node *anchor, const char *pattern,
                      size_t total, const mof_match_failure *why)
{
    r->near_misses++;
    if (!r->explain)
        return;
    if (why->at && why->at != anchor)
        mof_report_node(r->ctx, MOF_SEVERITY_NOTE, MOF_OK, anchor,
                        "%s not fused, %zu of %zu nodes matched: at '%s' (%s): %s", pattern,
                        why->matched, total, fusion_label(why->at),
                        mof_node_op_type(why->at), why->reason);
    else
        mof_report_node(r->ctx, MOF_SEVERITY_NOTE, MOF_OK, anchor,
                        "%s not fused, %zu of %zu nodes matched: %s", pattern, why->matched,
                        total, why->reason);
}

const char *fusion_label(const mof_node *n)
{
    const char *name = mof_node_name(n);
    if (*name)
        return name;
    return mof_node_n_origins(n) ? mof_node_origin(n, 0) : mof_node_op_type(n);
}

static bool is_onnx_domain(const char *domain)
{
    return domain[0] == '\0' || strcmp(domain, "ai.onnx") == 0;
}

bool fusion_is_op(const mof_node *n, const char *op_type)
{
    return n && strcmp(mof_node_op_type(n), op_type) == 0 && is_onnx_domain(mof_node_domain(n));
}

mof_node *fusion_producer(const mof_value *v)
{
    if (!v)
        return NULL;
    mof_node *p = mof_value_producer(v, NULL);
    return p && mof_node_graph(p) == mof_value_graph(v) ? p : NULL;
}

const mof_tensor *fusion_constant(const mof_value *v)
{
    if (!v)
        return NULL;
    if (mof_value_is_constant(v))
        return mof_value_tensor(v);
    mof_node *p = fusion_producer(v);
    if (p && fusion_is_op(p, "Constant"))
        return mof_node_attr_tensor(p, "value");
    return NULL;
}

bool fusion_scalar(const mof_value *v, double *out)
{
    const mof_tensor *t = fusion_constant(v);
    if (!t || mof_tensor_numel(t) != 1)
        return false;
    const void *d = mof_tensor_data(t);
    switch (mof_tensor_dtype(t)) {
    case MOF_DTYPE_FLOAT: *out = *(const float *)d; return true;
    case MOF_DTYPE_DOUBLE: *out = *(const double *)d; return true;
    case MOF_DTYPE_INT32: *out = *(const int32_t *)d; return true;
    case MOF_DTYPE_INT64: *out = (double)*(const int64_t *)d; return true;
    default: return false;
    }
}

bool fusion_close(double a, double b)
{
    return fabs(a - b) <= 1e-4 * fmax(fabs(a), fabs(b));
}

mof_value *fusion_other_input(const mof_node *n, const mof_value *v)
{
    if (mof_node_n_inputs(n) != 2)
        return NULL;
    if (mof_node_input(n, 0) == v)
        return mof_node_input(n, 1);
    if (mof_node_input(n, 1) == v)
        return mof_node_input(n, 0);
    return NULL;
}

static bool in_set(mof_node *const *nodes, size_t n, const mof_node *x)
{
    for (size_t i = 0; i < n; i++)
        if (nodes[i] == x)
            return true;
    return false;
}

bool fusion_check_uses(mof_node *const *nodes, size_t n, const mof_value *result,
                       size_t matched, mof_match_failure *why)
{
    for (size_t i = 0; i < n; i++) {
        const mof_node *node = nodes[i];
        for (size_t o = 0; o < mof_node_n_outputs(node); o++) {
            const mof_value *v = mof_node_output(node, o);
            if (!v || v == result)
                continue;
            if (mof_value_is_graph_output(v))
                return fusion_fail(why, matched, node, "%s output '%s' is a graph output",
                                   mof_node_op_type(node), mof_value_name(v));
            size_t inside = 0, total = mof_value_n_uses(v);
            for (size_t u = 0; u < total; u++) {
                int index = 0;
                mof_node *user = mof_value_use(v, u, &index);
                inside += index >= 0 && in_set(nodes, n, user);
            }
            if (inside == total)
                continue;
            if (inside > 1)
                return fusion_fail(why, matched, node,
                                   "%s output '%s' has %zu uses (%zu inside the pattern)",
                                   mof_node_op_type(node), mof_value_name(v), total, inside);
            return fusion_fail(why, matched, node, "%s output '%s' has %zu uses",
                               mof_node_op_type(node), mof_value_name(v), total);
        }
    }
    return true;
}

mof_dtype fusion_dtype(const mof_value *v)
{
    if (!v)
        return MOF_DTYPE_UNDEFINED;
    const mof_tensor *t = fusion_constant(v);
    if (t)
        return mof_tensor_dtype(t);
    return mof_value_has_type(v) ? mof_value_dtype(v) : MOF_DTYPE_UNDEFINED;
}

bool fusion_is_float(mof_dtype t)
{
    return t == MOF_DTYPE_FLOAT || t == MOF_DTYPE_DOUBLE || t == MOF_DTYPE_FLOAT16 ||
           t == MOF_DTYPE_BFLOAT16;
}

/* ------------------------------------------------------------------ numbers */

double *fusion_read_f64(const mof_tensor *t)
{
    mof_dtype dt = mof_tensor_dtype(t);
    if (dt != MOF_DTYPE_FLOAT && dt != MOF_DTYPE_DOUBLE)
        return NULL;
    int64_t n = mof_tensor_numel(t);
    double *out = malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
    if (!out)
        return NULL;
    const void *d = mof_tensor_data(t);
    for (int64_t i = 0; i < n; i++)
        out[i] = dt == MOF_DTYPE_FLOAT ? ((const float *)d)[i] : ((const double *)d)[i];
    return out;
}

mof_tensor *fusion_tensor_f64(mof_dtype dtype, size_t rank, const int64_t *dims,
                              const double *data)
{
    mof_tensor *t = mof_tensor_create(dtype, rank, dims);
    if (!t)
        return NULL;
    void *d = mof_tensor_data_mut(t);
    int64_t n = mof_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) {
        if (dtype == MOF_DTYPE_FLOAT)
            ((float *)d)[i] = (float)data[i];
        else
            ((double *)d)[i] = data[i];
    }
    return t;
}

/* ------------------------------------------------------------------ rewriting */

mof_status fusion_nomem(fusion_run *r)
{
    return mof_report(r->ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
}

mof_value *fusion_add_constant(fusion_run *r, mof_graph *g, const char *hint, mof_tensor *t)
{
    mof_value *v = t ? mof_graph_add_initializer(g, hint, t) : NULL;
    if (!v) {
        mof_tensor_unref(t);
        fusion_nomem(r);
    }
    return v;
}

mof_node *fusion_add_node(fusion_run *r, mof_node *before, const char *op_type,
                          const char *domain, const mof_node *name_from, size_t n_in,
                          mof_value *const *in)
{
    const char *name = name_from ? mof_node_name(name_from) : "";
    /* Errors are reported by mof_graph_add_node. */
    mof_node *n = mof_graph_add_node(mof_node_graph(before), MOF_INSERT_BEFORE, before,
                                     op_type, domain, *name ? name : NULL, n_in, in, 1);
    /* An unnamed pattern gives an unnamed node (the generated name only served to name
     * the output, which fusion_replace renames). */
    if (n && !*name && mof_node_set_name(n, "") == MOF_ERR_NOMEM) {
        fusion_nomem(r);
        return NULL;
    }
    return n;
}

mof_status fusion_add_origins(fusion_run *r, mof_node *dst, size_t n, mof_node *const *src)
{
    for (size_t i = 0; i < n; i++) {
        if (!src[i] || src[i] == dst)
            continue;
        mof_status st = mof_node_add_origins(dst, src[i]);
        if (st < 0)
            return st == MOF_ERR_NOMEM ? fusion_nomem(r) : st;
    }
    return MOF_OK;
}

static bool node_is_unused(const mof_node *n)
{
    for (size_t i = 0; i < mof_node_n_outputs(n); i++) {
        const mof_value *v = mof_node_output(n, i);
        if (v && (mof_value_n_uses(v) > 0 || mof_value_is_graph_output(v)))
            return false;
    }
    return true;
}

mof_status fusion_replace(fusion_run *r, mof_value *old_out, mof_value *new_out,
                          size_t n_remove, mof_node **remove)
{
    mof_graph *g = mof_value_graph(old_out);
    char *name = NULL;
    if (!mof_value_is_graph_output(old_out)) {
        const char *old_name = mof_value_name(old_out);
        if (!(name = malloc(strlen(old_name) + 1)))
            return fusion_nomem(r);
        strcpy(name, old_name);
    }
    mof_status st = MOF_OK;
    if (mof_value_has_type(old_out) && (st = mof_value_copy_type(new_out, old_out)) < 0)
        goto done;
    if ((st = mof_value_replace_uses(old_out, new_out)) < 0) {
        mof_report(r->ctx, MOF_SEVERITY_ERROR, MOF_ERR_INTERNAL, NULL,
                   "internal error: value '%s' cannot stand for '%s'", mof_value_name(new_out),
                   mof_value_name(old_out));
        st = MOF_ERR_INTERNAL;
        goto done;
    }
    /* In reverse order of dependence: a node goes once its readers have gone. */
    for (size_t left = n_remove; left > 0;) {
        size_t before = left;
        for (size_t i = 0; i < n_remove; i++) {
            if (!remove[i] || !node_is_unused(remove[i]))
                continue;
            if ((st = mof_graph_remove_node(g, remove[i])) < 0)
                goto done;
            remove[i] = NULL;
            left--;
        }
        if (left == before) {
            st = mof_report(r->ctx, MOF_SEVERITY_ERROR, MOF_ERR_INTERNAL, NULL,
                            "internal error: a node of the fused pattern is still used");
            goto done;
        }
    }
    /* The name is free now that old_out is gone; a clash only keeps the new name. */
    if (name && mof_value_set_name(new_out, name) == MOF_ERR_NOMEM)
        st = fusion_nomem(r);
    else
        st = MOF_OK;
done:
    free(name);
    return st;
}

mof_status fusion_import_mof(fusion_run *r)
{
    if (mof_model_opset(r->model, MOF_FUSED_DOMAIN) >= MOF_FUSED_OPSET)
        return MOF_OK;
    mof_status st = mof_model_set_opset(r->model, MOF_FUSED_DOMAIN, MOF_FUSED_OPSET);
    return st == MOF_ERR_NOMEM ? fusion_nomem(r) : st;
}

/* ------------------------------------------------------------------ the plugin */

static mof_status register_fusion(mof_registrar *reg)
{
    const mof_pass_desc *const passes[] = {
        &fusion_conv_bn_pass,   &fusion_bias_pass,      &fusion_matmul_add_pass,
        &fusion_activation_pass, &fusion_gelu_pass,     &fusion_layernorm_pass,
        &fusion_attention_pass, &fusion_fold_pad_pass,  &fusion_softmax_pass,
    };
    for (size_t i = 0; i < sizeof passes / sizeof passes[0]; i++) {
        mof_status st = mof_register_pass(reg, passes[i]);
        if (st != MOF_OK)
            return st;
    }
    return MOF_OK;
}

MOF_PLUGIN_DEFINE("fusion", MOF_VERSION_STRING,
                  "operator fusion: conv+batchnorm folding, bias and activation fusion, "
                  "GELU, layer norm, attention and softmax fusion, pad folding",
                  "MIT", register_fusion)
