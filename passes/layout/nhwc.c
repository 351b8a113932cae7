/* to-nhwc: converts the convolutions, pools and batch normalizations of a model to
 * channels-last (NHWC) operators, for backends whose kernels prefer that layout.
 *
 * ONNX defines these operators channels-first only, so each converted node becomes
 * its mof-domain twin (mof.NhwcConv, mof.NhwcMaxPool, mof.NhwcAveragePool,
 * mof.NhwcGlobalAveragePool, mof.NhwcGlobalMaxPool, mof.NhwcBatchNormalization: same
 * attributes, data input and output channels-last, every other input as in ONNX; see
 * layout.c) between a Transpose to channels-last and one back. The sink-transposes
 * engine then cancels every pair of those that meets, through the layout-agnostic
 * nodes of the region (Relu, Clip, Add of two converted branches, Concat on channels,
 * Resize, and Reshape/Flatten when their dims are known), so Transposes stay only at
 * the region's boundaries: where the model's input enters it and where a
 * layout-sensitive node (a MatMul, a Reshape of unknown dims, a graph output) reads it.
 * The stat transposes-left says how many there are. Run infer-shapes first: with every
 * dim known, a classifier's pool -> Flatten -> Gemm tail and ShuffleNet's channel
 * shuffles stay channels-last too.
 *
 * A node converts when its input rank is known (a declared or inferred shape, what the
 * nodes before it say, a Conv weight's rank, a pool's kernel_shape) and is at least 3,
 * and it computes only its first output: a MaxPool whose Indices are read (they index
 * the NCHW tensor) and a BatchNormalization in training mode stay. Conv weights stay
 * OIHW (M x C/group x kH x kW), so no constant changes.
 *
 * The model's function does not change: a mof.Nhwc* op computes exactly what its ONNX
 * twin computes on the transposed data (the reference interpreter runs it that way), so
 * the pass is exact. It imports the "mof" domain at version 1 when it converted
 * anything, and provides the property "nhwc". */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mof/mof.h>

#include "layout.h"

/* to-nhwc's parameters. */
struct nhwc_pass {
    bool pools;
    bool batch_norm;
    bool sink;
};

static const mof_param_desc nhwc_params[] = {
    { .name = "pools", .help = "also convert MaxPool, AveragePool and the global pools",
      .type = MOF_PARAM_BOOL, .offset = offsetof(struct nhwc_pass, pools), .def = "true" },
    { .name = "batch-norm", .help = "also convert inference-mode BatchNormalization",
      .type = MOF_PARAM_BOOL, .offset = offsetof(struct nhwc_pass, batch_norm),
      .def = "true" },
    { .name = "sink",
      .help = "cancel the Transposes that meet inside the region (false: leave a pair "
              "around every converted node)",
      .type = MOF_PARAM_BOOL, .offset = offsetof(struct nhwc_pass, sink), .def = "true" },
    { 0 }
};

/* ------------------------------------------------------------------ helpers */

enum nhwc_family { F_CONV, F_POOL, F_BATCH_NORM };

/* The ONNX operators with a channels-last twin in the mof domain. */
static const struct {
    const char *op_type;
    const char *nhwc_op;
    enum nhwc_family family;
} nhwc_ops[] = {
    { "Conv", "NhwcConv", F_CONV },
    { "MaxPool", "NhwcMaxPool", F_POOL },
    { "AveragePool", "NhwcAveragePool", F_POOL },
    { "GlobalAveragePool", "NhwcGlobalAveragePool", F_POOL },
    { "GlobalMaxPool", "NhwcGlobalMaxPool", F_POOL },
    { "BatchNormalization", "NhwcBatchNormalization", F_BATCH_NORM },
};

static bool is_onnx_domain(const char *domain)
{
    return domain[0] == '\0' || strcmp(domain, "ai.onnx") == 0;
}

static bool value_is_used(const mof_value *v)
{
    return v && (mof_value_n_uses(v) > 0 || mof_value_is_graph_output(v));
}

/* A malloc'ed copy of s (strdup is not C11). */
static char *copy_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *c = malloc(n);
    return c ? memcpy(c, s, n) : NULL;
}

/* The rank of n's data input: its shape, else what the weights or the kernel say;
 * -1 when unknown. */
static int data_rank(const mof_node *n, int64_t opset)
{
    int r = layout_value_rank(mof_node_input(n, 0), opset);
    if (r >= 0)
        return r;
    if (strcmp(mof_node_op_type(n), "Conv") == 0 && mof_node_n_inputs(n) > 1 &&
        mof_node_input(n, 1)) {
        const mof_value *w = mof_node_input(n, 1);
        const mof_tensor *t = mof_value_is_constant(w) ? mof_value_tensor(w) : NULL;
        return t ? (int)mof_tensor_rank(t) : mof_value_rank(w);
    }
    size_t count;
    if (mof_node_attr_ints(n, "kernel_shape", &count) && count > 0)
        return (int)count + 2;
    return -1;
}

/* The twin of n when n can convert (see the top comment), else NULL. */
static const char *nhwc_twin(const mof_node *n, const struct nhwc_pass *p, int64_t opset)
{
    if (!is_onnx_domain(mof_node_domain(n)) || mof_node_n_inputs(n) < 1 ||
        !mof_node_input(n, 0) || mof_node_n_outputs(n) < 1 || !mof_node_output(n, 0))
        return NULL;
    for (size_t j = 1; j < mof_node_n_outputs(n); j++)
        if (value_is_used(mof_node_output(n, j)))
            return NULL;
    for (size_t i = 0; i < sizeof nhwc_ops / sizeof nhwc_ops[0]; i++) {
        if (strcmp(nhwc_ops[i].op_type, mof_node_op_type(n)) != 0)
            continue;
        if (nhwc_ops[i].family == F_POOL && !p->pools)
            return NULL;
        if (nhwc_ops[i].family == F_BATCH_NORM) {
            /* Inference mode only, per-channel statistics only. */
            if (!p->batch_norm || opset < 7 || mof_node_attr_int(n, "training_mode", 0) != 0 ||
                mof_node_attr_int(n, "spatial", 1) != 1)
                return NULL;
        }
        return data_rank(n, opset) >= 3 ? nhwc_ops[i].nhwc_op : NULL;
    }
    return NULL;
}

/* ------------------------------------------------------------------ converting */

/* Replaces n by Transpose(to last) -> mof.<twin> -> Transpose(back). */
static mof_status convert_node(mof_graph *g, mof_node *n, const char *twin, int64_t opset)
{
    size_t r = (size_t)data_rank(n, opset), n_in = mof_node_n_inputs(n);
    int64_t *to_last = malloc(r * sizeof *to_last), *to_first = malloc(r * sizeof *to_first);
    mof_value **ins = calloc(n_in, sizeof *ins);
    char *name = NULL;
    mof_status st = MOF_ERR_NOMEM;
    if (!to_last || !to_first || !ins)
        goto done;
    layout_channels_perm(r, true, to_last);
    layout_channels_perm(r, false, to_first);
    mof_value *y = mof_node_output(n, 0);
    if (!(name = copy_string(mof_value_name(y))))
        goto done;
    mof_node *in_t = layout_add_transpose(g, MOF_INSERT_BEFORE, n, mof_node_input(n, 0),
                                          to_last, r, n);
    if (!in_t)
        goto done;
    ins[0] = mof_node_output(in_t, 0);
    for (size_t i = 1; i < n_in; i++)
        ins[i] = mof_node_input(n, i);
    const char *node_name = mof_node_name(n);
    mof_node *m = mof_graph_add_node(g, MOF_INSERT_AFTER, n, twin, "mof",
                                     node_name[0] ? node_name : NULL, n_in, ins, 1);
    if (!m || mof_node_copy_attrs(m, n) != MOF_OK || mof_node_add_origins(m, n) != MOF_OK ||
        (!node_name[0] && mof_node_set_name(m, "") != MOF_OK) ||
        layout_copy_permuted_type(mof_node_output(m, 0), y, to_last, r) != MOF_OK)
        goto done;
    mof_node *out_t = layout_add_transpose(g, MOF_INSERT_AFTER, m, mof_node_output(m, 0),
                                           to_first, r, n);
    if (!out_t || mof_value_copy_type(mof_node_output(out_t, 0), y) != MOF_OK)
        goto done;
    if ((st = mof_value_replace_uses(y, mof_node_output(out_t, 0))) != MOF_OK ||
        (st = mof_graph_remove_node(g, n)) != MOF_OK)
        goto done;
    /* Later nodes keep reading the name they read before. */
    mof_value *back = mof_node_output(out_t, 0);
    if (strcmp(mof_value_name(back), name) != 0 && !mof_value_is_graph_output(back))
        (void)mof_value_set_name(back, name);
done:
    free(name);
    free(ins);
    free(to_last);
    free(to_first);
    return st;
}

static mof_status convert_graph(mof_graph *g, const struct nhwc_pass *p, int64_t opset,
                                int64_t *converted)
{
    mof_node *next;
    for (mof_node *n = mof_graph_first_node(g); n; n = next) {
        next = mof_node_next(n);
        for (size_t i = 0; i < mof_node_n_subgraphs(n); i++) {
            mof_status st = convert_graph(mof_node_subgraph(n, i), p, opset, converted);
            if (st < 0)
                return st;
        }
        const char *twin = nhwc_twin(n, p, opset);
        if (!twin)
            continue;
        mof_status st = convert_node(g, n, twin, opset);
        if (st < 0)
            return st;
        (*converted)++;
    }
    return MOF_OK;
}

/* ------------------------------------------------------------------ the pass */

static mof_status nhwc_run(mof_pass_ctx *pc, mof_model *model, void *priv)
{
    const struct nhwc_pass *p = priv;
    mof_context *ctx = mof_pass_ctx_context(pc);
    mof_graph *g = mof_model_graph(model);
    int64_t opset = mof_model_opset(model, "");
    int64_t converted = 0;
    mof_status st = convert_graph(g, p, opset, &converted);
    if (st < 0)
        return mof_report(ctx, MOF_SEVERITY_ERROR, st, NULL, "converting to NHWC: %s",
                          mof_status_str(st));
    if (converted == 0)
        return MOF_UNCHANGED;
    if (mof_model_opset(model, "mof") < 1 &&
        (st = mof_model_set_opset(model, "mof", 1)) != MOF_OK)
        return mof_report(ctx, MOF_SEVERITY_ERROR, st, NULL, "importing domain 'mof': %s",
                          mof_status_str(st));
    int64_t wrapped = layout_count_transposes(g);
    struct layout_sink_stats stats = { 0, 0, 0 };
    if (p->sink && (st = layout_sink_graph(g, opset, LAYOUT_MAX_REWRITES, &stats)) < 0)
        return mof_report(ctx, MOF_SEVERITY_ERROR, st, NULL, "cancelling Transposes: %s",
                          mof_status_str(st));
    int64_t left = layout_count_transposes(g);
    mof_pass_stat(pc, "ops-converted", converted);
    if (wrapped != left)
        mof_pass_stat(pc, "transposes-cancelled", wrapped - left);
    mof_pass_stat(pc, "transposes-left", left);
    return MOF_OK;
}

static const char *const nhwc_provides[] = { "nhwc", NULL };

const mof_pass_desc layout_to_nhwc_pass = {
    .size = sizeof(mof_pass_desc),
    .name = "to-nhwc",
    .summary = "convert convolutions, pools and batch norms to channels-last mof.Nhwc* ops",
    .help = "Replaces Conv, MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool and\n"
            "inference BatchNormalization of known rank >= 3 by their channels-last\n"
            "twins in domain \"mof\" (mof.NhwcConv, ...: same attributes, data NHWC,\n"
            "Conv weights kept OIHW) between Transposes, then cancels the Transposes\n"
            "that meet through layout-agnostic ops, so that they stay only at the\n"
            "region's boundaries (stat transposes-left). Exact.",
    .params = nhwc_params,
    .priv_size = sizeof(struct nhwc_pass),
    .flags = MOF_PASS_EXACT,
    .provides = nhwc_provides,
    .run = nhwc_run,
};
