/* Measures of a model for the pruning reports: parameters, nonzero parameters, bytes
 * and FLOPs.
 *
 * Parameters are the elements of every initializer (mof_model_get_stats), nonzero
 * ones counted by value (a float -0.0 is zero; NaN is nonzero). FLOPs count two per
 * multiply-add of the products (Conv, ConvTranspose, Gemm, MatMul and mof.FusedConv,
 * mof.FusedGemm, mof.FusedMatMul), the work that dominates a CNN or a transformer;
 * bias adds, activations and pools are not counted. They come from the shapes that
 * mof's shape inference finds on a copy of the model (with its own context, so that
 * neither the model nor the diagnostics change); a dim that stays unknown or symbolic
 * (the batch, unpinned) counts as 1, so the count is then per sample:
 *
 *   Conv           2 * numel(Y) * (C / group) * prod(kernel)      Y = [N, K, ...]
 *   ConvTranspose  2 * numel(X) * (K / group) * prod(kernel)      X = [N, C, ...]
 *   Gemm           2 * M * N * K
 *   MatMul         2 * numel(Y) * K
 *
 * The nonzero FLOPs scale a product's count by the density of its weight input when
 * that is a constant: the work of a kernel that skips zero weights. This is exact per
 * output element for every product above, since each output element reads every
 * weight of its filter (Conv), row (ConvTranspose) or column (Gemm, MatMul) once. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "prune.h"

static int64_t count_nonzero(const mof_tensor *t)
{
    int64_t n = mof_tensor_numel(t), nz = 0;
    const void *d = mof_tensor_data(t);
    switch (mof_tensor_dtype(t)) {
    case MOF_DTYPE_FLOAT:
        for (int64_t i = 0; i < n; i++)
            nz += ((const float *)d)[i] != 0.0f;
        return nz;
    case MOF_DTYPE_DOUBLE:
        for (int64_t i = 0; i < n; i++)
            nz += ((const double *)d)[i] != 0.0;
        return nz;
    case MOF_DTYPE_FLOAT16:
    case MOF_DTYPE_BFLOAT16:
        for (int64_t i = 0; i < n; i++)
            nz += (((const uint16_t *)d)[i] & 0x7fffu) != 0;
        return nz;
    case MOF_DTYPE_STRING:
    case MOF_DTYPE_UNDEFINED:
        return n;
    default: {
        /* Integers, bool, complex: nonzero when any byte of the element is. */
        size_t es = mof_dtype_size(mof_tensor_dtype(t));
        const unsigned char *b = d;
        for (int64_t i = 0; i < n; i++) {
            bool any = false;
            for (size_t k = 0; k < es && !any; k++)
                any = b[(size_t)i * es + k] != 0;
            nz += any;
        }
        return nz;
    }
    }
}

static void count_graph_nonzero(const mof_graph *g, int64_t *nz)
{
    for (size_t i = 0; i < mof_graph_n_initializers(g); i++) {
        const mof_tensor *t = mof_value_tensor(mof_graph_initializer(g, i));
        if (t)
            *nz += count_nonzero(t);
    }
    for (mof_node *n = mof_graph_first_node(g); n; n = mof_node_next(n))
        for (size_t i = 0; i < mof_node_n_subgraphs(n); i++)
            count_graph_nonzero(mof_node_subgraph(n, i), nz);
}

/* Product of v's dims from `from` on (unknown dims count 1); -1 when the rank is. */
static double dims_product(const mof_value *v, int from)
{
    if (!v || !mof_value_has_type(v) || mof_value_rank(v) < 0)
        return -1;
    double p = 1;
    for (int i = from; i < mof_value_rank(v); i++) {
        int64_t d = mof_value_dim(v, (size_t)i);
        p *= d >= 0 ? (double)d : 1.0;
    }
    return p;
}

static int64_t dim_or(const mof_value *v, int i, int64_t def)
{
    int rank = mof_value_has_type(v) ? mof_value_rank(v) : -1;
    if (i < 0)
        i += rank;
    if (rank < 0 || i < 0 || i >= rank)
        return def;
    int64_t d = mof_value_dim(v, (size_t)i);
    return d >= 0 ? d : def;
}

/* Multiply-adds of one product node, and the density of its constant weight. */
static double node_macs(const mof_node *n, double *density)
{
    prune_kind kind;
    *density = 1.0;
    if (!prune_node_kind(n, &kind) || mof_node_n_inputs(n) < 2)
        return 0;
    const mof_value *x = mof_node_input(n, 0), *w = mof_node_input(n, 1);
    const mof_value *y = mof_node_output(n, 0);
    if (!x || !w || !y)
        return 0;
    const mof_tensor *wt = prune_constant(w);
    if (wt && mof_tensor_numel(wt) > 0)
        *density = (double)count_nonzero(wt) / (double)mof_tensor_numel(wt);
    double macs = 0;
    switch (kind) {
    case PRUNE_CONV: {
        double out = dims_product(y, 0), per = dims_product(w, 1);
        macs = out < 0 || per < 0 ? 0 : out * per;
        break;
    }
    case PRUNE_CONV_TRANSPOSE: {
        double in = dims_product(x, 0), per = dims_product(w, 1);
        macs = in < 0 || per < 0 ? 0 : in * per;
        break;
    }
    case PRUNE_GEMM: {
        bool ta = mof_node_attr_int(n, "transA", 0) != 0;
        int64_t m = dim_or(x, ta ? 1 : 0, 1), k = dim_or(x, ta ? 0 : 1, 1);
        int64_t cols = dim_or(y, 1, 1);
        macs = (double)m * (double)k * (double)cols;
        break;
    }
    case PRUNE_MATMUL: {
        double out = dims_product(y, 0);
        int64_t k = dim_or(x, -1, 1);
        macs = out < 0 ? 0 : out * (double)k;
        break;
    }
    default:
        break;
    }
    return macs;
}

static void count_graph_flops(const mof_graph *g, double *flops, double *nz_flops)
{
    for (mof_node *n = mof_graph_first_node(g); n; n = mof_node_next(n)) {
        for (size_t i = 0; i < mof_node_n_subgraphs(n); i++)
            count_graph_flops(mof_node_subgraph(n, i), flops, nz_flops);
        double density, macs = node_macs(n, &density);
        *flops += 2 * macs;
        *nz_flops += 2 * macs * density;
    }
}

mof_status prune_measure_model(const mof_model *model, prune_measure *m)
{
    memset(m, 0, sizeof *m);
    mof_model_stats stats;
    mof_model_get_stats(model, &stats);
    m->params = stats.n_parameters;
    m->bytes = stats.parameter_bytes;
    count_graph_nonzero(mof_model_graph(model), &m->nonzero);
    mof_context *quiet = mof_context_create();
    mof_model *copy = quiet ? mof_model_dup(model) : NULL;
    if (!copy) {
        mof_context_destroy(quiet);
        return MOF_ERR_NOMEM;
    }
    mof_status st = mof_infer_shapes(quiet, copy);
    if (st == MOF_ERR_NOMEM) {
        mof_model_destroy(copy);
        mof_context_destroy(quiet);
        return st;
    }
    if (st >= 0) {
        double flops = 0, nz = 0;
        count_graph_flops(mof_model_graph(copy), &flops, &nz);
        m->flops = (int64_t)llround(flops);
        m->nonzero_flops = (int64_t)llround(nz);
        m->flops_known = true;
    }
    mof_model_destroy(copy);
    mof_context_destroy(quiet);
    return MOF_OK;
}
