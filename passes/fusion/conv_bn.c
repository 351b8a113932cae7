/* fuse-conv-bn: folds an inference-time BatchNormalization into the Conv,
 * ConvTranspose or Gemm that computes its input.
 *
 * At inference BatchNormalization is an affine map per channel c:
 *   y = (x - mean[c]) / sqrt(var[c] + epsilon) * scale[c] + B[c] = x * s[c] + t[c]
 * with s = scale / sqrt(var + epsilon) and t = B - mean * s. Conv's output channel o is
 * a sum over W[o, ...], so scaling W[o, ...] and the bias by s[o] and adding t[o] gives
 * the same function with no BatchNormalization. ConvTranspose keeps output channels in
 * W's second axis, group by group: W[ci, j, ...] feeds output channel
 * (ci / (C_in / group)) * (C_out / group) + j. Gemm's output is [M, N] and
 * BatchNormalization's channel axis 1 is then Gemm's column n: op(B)'s column n and
 * C's column n are scaled, and C becomes beta * C * s + t (beta set to 1).
 *
 * It applies when BatchNormalization runs in inference mode (training_mode=0; before
 * opset 7 is_test=1; before opset 9 spatial=1) with only its first output used, its
 * scale, B, mean and var are constants of one channel count C, its input comes from
 * the Conv (ConvTranspose, Gemm) and is used nowhere else, and the weights (and bias
 * or C, when present) are constants of the same float or double type. The new weights
 * and bias are new initializers (computed in double and rounded once); the old ones
 * stay for dead-code to remove when nothing else reads them. The product node stays,
 * with BatchNormalization's origins added and its output renamed to
 * BatchNormalization's output. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fusion.h"

/* What the product computes per output channel. */
typedef enum producer_kind { PROD_CONV, PROD_CONV_TRANSPOSE, PROD_GEMM } producer_kind;

static const char *const producer_ops[] = { "Conv", "ConvTranspose", "Gemm" };
static const char *const patterns[] = {
    "Conv -> BatchNormalization", "ConvTranspose -> BatchNormalization",
    "Gemm -> BatchNormalization",
};
static const char *const stats[] = { "conv-bn", "convtranspose-bn", "gemm-bn" };

/* A match: the nodes and what the checks found out. */
typedef struct bn_match {
    producer_kind kind;
    mof_node *nodes[2];          /* the product, the BatchNormalization */
    const mof_tensor *w, *bias;  /* the product's weights and bias (NULL: none) */
    const mof_tensor *params[4]; /* scale, B, mean, var */
    int64_t channels;
    mof_dtype dtype;
} bn_match;

/* ------------------------------------------------------------------ matching */

/* BatchNormalization computes the affine map above (not batch statistics). */
static bool bn_is_inference(const fusion_run *r, const mof_node *bn, mof_match_failure *why)
{
    if (r->opset >= 14 && mof_node_attr_int(bn, "training_mode", 0) != 0)
        return fusion_fail(why, 2, bn, "BatchNormalization has training_mode=1");
    if (r->opset < 7 && mof_node_attr_int(bn, "is_test", 0) == 0)
        return fusion_fail(why, 2, bn, "BatchNormalization has is_test=0 (training mode)");
    if (r->opset < 9 && mof_node_attr_int(bn, "spatial", 1) != 1)
        return fusion_fail(why, 2, bn, "BatchNormalization has spatial=0");
    for (size_t i = 1; i < mof_node_n_outputs(bn); i++) {
        const mof_value *v = mof_node_output(bn, i);
        if (v && (mof_value_n_uses(v) > 0 || mof_value_is_graph_output(v)))
            return fusion_fail(why, 2, bn, "BatchNormalization output %zu ('%s') is used", i,
                               mof_value_name(v));
    }
    return true;
}

/* scale, B, mean and var: constants, 1-D, one length and one float type. */
static bool bn_params(const mof_node *bn, bn_match *m, mof_match_failure *why)
{
    static const char *const names[4] = { "scale", "B", "mean", "var" };
    if (mof_node_n_inputs(bn) < 5)
        return fusion_fail(why, 2, bn, "BatchNormalization has %zu inputs",
                           mof_node_n_inputs(bn));
    for (size_t i = 0; i < 4; i++) {
        const mof_value *v = mof_node_input(bn, i + 1);
        const mof_tensor *t = fusion_constant(v);
        if (!t)
            return fusion_fail(why, 2, bn, "BatchNormalization input %s ('%s') is not a constant",
                               names[i], v ? mof_value_name(v) : "");
        mof_dtype dt = mof_tensor_dtype(t);
        if (dt != MOF_DTYPE_FLOAT && dt != MOF_DTYPE_DOUBLE)
            return fusion_fail(why, 2, bn, "BatchNormalization input %s is %s, not float",
                               names[i], mof_dtype_name(dt));
        if (mof_tensor_rank(t) != 1)
            return fusion_fail(why, 2, bn, "BatchNormalization input %s has rank %zu, not 1",
                               names[i], mof_tensor_rank(t));
        if (i == 0) {
            m->channels = mof_tensor_dims(t)[0];
            m->dtype = dt;
        } else if (mof_tensor_dims(t)[0] != m->channels || dt != m->dtype) {
            return fusion_fail(why, 2, bn, "BatchNormalization inputs scale and %s differ in "
                               "type or length", names[i]);
        }
        m->params[i] = t;
    }
    return true;
}

/* The product's weights (and bias) are constants of BatchNormalization's channels. */
static bool producer_params(const mof_node *p, bn_match *m, mof_match_failure *why)
{
    const char *op = producer_ops[m->kind];
    const mof_value *wv = mof_node_input(p, 1);
    const mof_value *bv = mof_node_n_inputs(p) > 2 ? mof_node_input(p, 2) : NULL;
    m->w = fusion_constant(wv);
    if (!m->w)
        return fusion_fail(why, 2, p, "%s weight '%s' is not a constant", op,
                           wv ? mof_value_name(wv) : "");
    m->bias = bv ? fusion_constant(bv) : NULL;
    if (bv && !m->bias)
        return fusion_fail(why, 2, p, "%s input '%s' (bias) is not a constant", op,
                           mof_value_name(bv));
    if (mof_tensor_dtype(m->w) != m->dtype || (m->bias && mof_tensor_dtype(m->bias) != m->dtype))
        return fusion_fail(why, 2, p, "%s weights are %s, BatchNormalization's parameters %s",
                           op, mof_dtype_name(mof_tensor_dtype(m->w)), mof_dtype_name(m->dtype));
    size_t rank = mof_tensor_rank(m->w);
    const int64_t *wd = mof_tensor_dims(m->w);
    int64_t out_channels = -1;
    if (m->kind == PROD_GEMM) {
        if (rank != 2)
            return fusion_fail(why, 2, p, "Gemm input B has rank %zu", rank);
        out_channels = mof_node_attr_int(p, "transB", 0) ? wd[0] : wd[1];
        if (m->bias) {
            size_t cr = mof_tensor_rank(m->bias);
            int64_t last = cr ? mof_tensor_dims(m->bias)[cr - 1] : 1;
            if (cr > 2 || (last != 1 && last != out_channels))
                return fusion_fail(why, 2, p, "Gemm input C does not broadcast to columns");
        }
    } else {
        if (rank < 3)
            return fusion_fail(why, 2, p, "%s weight has rank %zu", op, rank);
        int64_t group = mof_node_attr_int(p, "group", 1);
        if (group < 1 || (m->kind == PROD_CONV_TRANSPOSE && wd[0] % group))
            return fusion_fail(why, 2, p, "%s has group %lld", op, (long long)group);
        out_channels = m->kind == PROD_CONV ? wd[0] : wd[1] * group;
        if (m->bias && (mof_tensor_rank(m->bias) != 1 || mof_tensor_dims(m->bias)[0] != out_channels))
            return fusion_fail(why, 2, p, "%s bias is not 1-D of %lld values", op,
                               (long long)out_channels);
    }
    if (out_channels != m->channels)
        return fusion_fail(why, 2, p, "%s has %lld output channels, BatchNormalization %lld", op,
                           (long long)out_channels, (long long)m->channels);
    return true;
}

/* Matches Conv (ConvTranspose, Gemm) -> BatchNormalization ending at bn. */
static bool match(const fusion_run *r, mof_node *bn, bn_match *m, mof_match_failure *why)
{
    mof_value *x = mof_node_input(bn, 0);
    mof_node *p = fusion_producer(x);
    size_t k = 0;
    while (p && k < 3 && !fusion_is_op(p, producer_ops[k]))
        k++;
    if (k == 3) {
        /* Let mof_match_chain word the failure when there is no producer. */
        if (!p)
            return mof_match_chain(bn, 2, (const char *const[]){ "Conv", "BatchNormalization" },
                                   m->nodes, why);
        return fusion_fail(why, 1, p, "expected Conv, ConvTranspose or Gemm, found %s",
                           mof_node_op_type(p));
    }
    m->kind = (producer_kind)k;
    const char *const chain[2] = { producer_ops[k], "BatchNormalization" };
    return mof_match_chain(bn, 2, chain, m->nodes, why) && bn_is_inference(r, bn, why) &&
           bn_params(bn, m, why) && producer_params(p, m, why);
}

/* ------------------------------------------------------------------ folding */

/* The output channel that weight element i feeds. */
static int64_t weight_channel(const bn_match *m, const mof_node *p, int64_t i)
{
    const int64_t *wd = mof_tensor_dims(m->w);
    int64_t numel = mof_tensor_numel(m->w);
    switch (m->kind) {
    case PROD_CONV:
        return i / (numel / wd[0]);
    case PROD_CONV_TRANSPOSE: {
        int64_t group = mof_node_attr_int(p, "group", 1);
        int64_t per_in = numel / wd[0], spatial = per_in / wd[1];
        int64_t ci = i / per_in, j = (i % per_in) / spatial;
        return (ci / (wd[0] / group)) * wd[1] + j;
    }
    default: /* Gemm: op(B)'s column */
        return mof_node_attr_int(p, "transB", 0) ? i / wd[1] : i % wd[1];
    }
}

/* The new bias: for Conv [C]; for Gemm C' = beta * C * s + t as [C] or [R, C]. */
static mof_tensor *new_bias(const bn_match *m, const mof_node *p, const double *s,
                            const double *t)
{
    int64_t c = m->channels, rows = 1;
    double beta = 1.0;
    double *b = m->bias ? fusion_read_f64(m->bias) : NULL;
    size_t br = m->bias ? mof_tensor_rank(m->bias) : 0;
    int64_t bcols = br ? mof_tensor_dims(m->bias)[br - 1] : 1;
    if (m->bias && !b)
        return NULL;
    if (m->kind == PROD_GEMM) {
        beta = mof_node_attr_float(p, "beta", 1.0f);
        if (br == 2)
            rows = mof_tensor_dims(m->bias)[0];
    }
    double *out = malloc((size_t)(rows * c) * sizeof(double));
    mof_tensor *result = NULL;
    if (out) {
        for (int64_t i = 0; i < rows; i++)
            for (int64_t o = 0; o < c; o++) {
                double v = b ? beta * b[i * bcols + (bcols == 1 ? 0 : o)] : 0.0;
                out[i * c + o] = v * s[o] + t[o];
            }
        int64_t dims[2] = { rows, c };
        result = rows > 1 ? fusion_tensor_f64(m->dtype, 2, dims, out)
                          : fusion_tensor_f64(m->dtype, 1, &c, out);
    }
    free(out);
    free(b);
    return result;
}

/* A new initializer named "<base>_<suffix>" holding t (taken over). */
static mof_value *add_folded(fusion_run *r, mof_graph *g, const char *base, const char *suffix,
                             mof_tensor *t)
{
    size_t len = strlen(base) + strlen(suffix) + 2;
    char *hint = malloc(len);
    if (!hint) {
        mof_tensor_unref(t);
        fusion_nomem(r);
        return NULL;
    }
    snprintf(hint, len, "%s_%s", base, suffix);
    mof_value *v = fusion_add_constant(r, g, hint, t);
    free(hint);
    return v;
}

static mof_status fold(fusion_run *r, bn_match *m)
{
    mof_node *p = m->nodes[0], *bn = m->nodes[1];
    mof_graph *g = mof_node_graph(p);
    double *par[4] = { NULL, NULL, NULL, NULL }, *s = NULL, *t = NULL, *w = NULL;
    mof_tensor *bt = NULL;
    mof_status st = MOF_ERR_NOMEM;
    int64_t c = m->channels;
    for (size_t i = 0; i < 4; i++)
        if (!(par[i] = fusion_read_f64(m->params[i])))
            goto oom;
    s = malloc((size_t)(c ? c : 1) * sizeof(double));
    t = malloc((size_t)(c ? c : 1) * sizeof(double));
    w = fusion_read_f64(m->w);
    if (!s || !t || !w)
        goto oom;
    /* Computed as the BatchNormalization kernel does: in double, epsilon as given. */
    double eps = mof_node_attr_float(bn, "epsilon", 1e-5f);
    for (int64_t o = 0; o < c; o++) {
        s[o] = par[0][o] / sqrt(par[3][o] + eps);
        t[o] = par[1][o] - par[2][o] * s[o];
    }
    for (int64_t i = 0; i < mof_tensor_numel(m->w); i++)
        w[i] *= s[weight_channel(m, p, i)];
    if (!(bt = new_bias(m, p, s, t)))
        goto oom;
    const mof_value *wv = mof_node_input(p, 1);
    mof_value *nw = add_folded(r, g, mof_value_name(wv), "bn",
                               fusion_tensor_f64(m->dtype, mof_tensor_rank(m->w),
                                                 mof_tensor_dims(m->w), w));
    if (!nw)
        goto done;
    const mof_value *bv = mof_node_n_inputs(p) > 2 ? mof_node_input(p, 2) : NULL;
    mof_value *nb = bv ? add_folded(r, g, mof_value_name(bv), "bn", bt)
                       : add_folded(r, g, mof_value_name(mof_node_output(p, 0)), "bias_bn", bt);
    bt = NULL;
    if (!nb)
        goto done;
    if ((st = mof_node_set_input(p, 1, nw)) < 0 || (st = mof_node_set_input(p, 2, nb)) < 0)
        goto done;
    if (m->kind == PROD_GEMM && mof_node_attr_float(p, "beta", 1.0f) != 1.0f &&
        (st = mof_node_set_attr_float(p, "beta", 1.0f)) < 0)
        goto done;
    if ((st = fusion_add_origins(r, p, 1, &bn)) < 0)
        goto done;
    mof_node *remove[1] = { bn };
    st = fusion_replace(r, mof_node_output(bn, 0), mof_node_output(p, 0), 1, remove);
    goto done;
oom:
    st = fusion_nomem(r);
done:
    for (size_t i = 0; i < 4; i++)
        free(par[i]);
    free(s);
    free(t);
    free(w);
    mof_tensor_unref(bt);
    return st;
}

/* ------------------------------------------------------------------ the pass */

static mof_status visit(fusion_run *r, mof_node *n)
{
    if (!fusion_is_op(n, "BatchNormalization"))
        return MOF_UNCHANGED;
    bn_match m;
    memset(&m, 0, sizeof m);
    mof_match_failure why;
    if (!match(r, n, &m, &why)) {
        mof_node *p = fusion_producer(mof_node_input(n, 0));
        size_t k = 0;
        while (p && k < 3 && !fusion_is_op(p, producer_ops[k]))
            k++;
        fusion_near_miss(r, n, k < 3 ? patterns[k] : "Conv/ConvTranspose/Gemm -> "
                                                     "BatchNormalization", 2, &why);
        return MOF_UNCHANGED;
    }
    mof_status st = fold(r, &m);
    if (st < 0)
        return st;
    fusion_count(r, stats[m.kind]);
    return MOF_OK;
}

static mof_status run(mof_pass_ctx *pc, mof_model *model, void *priv)
{
    return fusion_run_pass(pc, model, priv, visit);
}

const mof_pass_desc fusion_conv_bn_pass = {
    .size = sizeof(mof_pass_desc),
    .name = "fuse-conv-bn",
    .summary = "fold inference BatchNormalization into the Conv, ConvTranspose or Gemm before it",
    .help = "Conv -> BatchNormalization becomes one Conv whose weights and bias are\n"
            "scaled and shifted per output channel (new initializers; the old ones are\n"
            "left to dead-code). ConvTranspose and Gemm (BatchNormalization over its\n"
            "columns) fold the same way. Needs constant weights and BatchNormalization\n"
            "parameters, inference mode, and the product's output used only by the\n"
            "BatchNormalization. Subgraphs are processed too.",
    .params = fusion_params_table,
    .priv_size = sizeof(struct fusion_params),
    .run = run,
};
