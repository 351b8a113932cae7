/* prune-magnitude: unstructured pruning: the weights of smallest magnitude become zero.
 *
 * With scope=layer each selected weight gets the target sparsity on its own: of its
 * numel elements, the round(sparsity * numel) of smallest |w| are zero afterwards.
 * With scope=global one threshold is shared by all selected weights: of their total
 * count T, the round(sparsity * T) smallest over all of them are zero, so layers with
 * many small weights lose more. Elements that are zero already count toward the
 * target (they are the smallest). Ties at the threshold are broken by position: the
 * weights earlier in graph order, and earlier elements within a weight, go first. A
 * NaN is never the smallest. sparsity=0 changes nothing.
 *
 * The weights keep their shapes (the model's size and dense FLOPs do not change; the
 * report counts the nonzero parameters and the FLOPs of a kernel that skips zeros),
 * and a weight read by several selected nodes is pruned once. What the pass computes
 * exactly: the model with those elements of its weight initializers set to +0.0, and
 * nothing else changed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prune.h"

struct magnitude_pass {
    struct prune_select sel;
    double sparsity;
    int scope;
};

enum { SCOPE_LAYER, SCOPE_GLOBAL };
static const char *const scope_choices[] = { "layer", "global", NULL };

static const mof_param_desc magnitude_params[] = {
    { .name = "sparsity", .help = "fraction of the selected weights that end up zero",
      .type = MOF_PARAM_FLOAT, .offset = offsetof(struct magnitude_pass, sparsity),
      .def = "0.5", .min = 0, .max = 1, .flags = MOF_PARAM_RANGE },
    { .name = "scope",
      .help = "layer: each weight gets the sparsity; global: one threshold for all of them",
      .type = MOF_PARAM_CHOICE, .offset = offsetof(struct magnitude_pass, scope),
      .def = "layer", .choices = scope_choices },
    PRUNE_SELECT_PARAMS(struct magnitude_pass, "Conv,MatMul,Gemm",
                        "products whose weights are pruned: Conv, ConvTranspose, Gemm, MatMul"),
    { 0 }
};

/* |x|, with NaN above everything. */
static float magnitude(float x)
{
    return isnan(x) ? INFINITY : fabsf(x);
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Zeroes, across weights[0..n-1] taken as one sequence, the k elements of smallest
 * magnitude (ties by position). Replaces each weight that got a new zero; *zeroed
 * counts elements that were nonzero. */
static mof_status prune_smallest(prune_run *r, prune_weight *weights, size_t n, int64_t k,
                                 int64_t *zeroed)
{
    int64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += mof_tensor_numel(mof_value_tensor(weights[i].value));
    if (k <= 0 || total == 0)
        return MOF_OK;
    float *mags = malloc((size_t)total * sizeof *mags);
    if (!mags)
        return prune_nomem(r);
    int64_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const mof_tensor *t = mof_value_tensor(weights[i].value);
        const float *d = mof_tensor_data(t);
        for (int64_t j = 0; j < mof_tensor_numel(t); j++)
            mags[at++] = magnitude(d[j]);
    }
    qsort(mags, (size_t)total, sizeof *mags, cmp_float);
    float threshold = mags[(k > total ? total : k) - 1];
    int64_t below = 0;
    while (below < total && mags[below] < threshold)
        below++;
    free(mags);
    int64_t ties = (k > total ? total : k) - below; /* elements equal to it to zero */
    for (size_t i = 0; i < n; i++) {
        mof_value *v = weights[i].value;
        const mof_tensor *t = mof_value_tensor(v);
        const float *d = mof_tensor_data(t);
        int64_t numel = mof_tensor_numel(t), fresh = 0;
        mof_tensor *nt = NULL;
        float *nd = NULL;
        for (int64_t j = 0; j < numel; j++) {
            float m = magnitude(d[j]);
            bool zero = m < threshold || (m == threshold && ties > 0);
            if (!zero)
                continue;
            if (m == threshold)
                ties--;
            if (d[j] == 0.0f)
                continue; /* zero already (-0.0 included): nothing to write */
            if (!nt) {
                if (!(nt = mof_tensor_dup(t)) || !(nd = mof_tensor_data_mut(nt))) {
                    mof_tensor_unref(nt);
                    return prune_nomem(r);
                }
            }
            fresh++;
            nd[j] = 0.0f;
        }
        if (nt) {
            mof_status st = mof_value_set_tensor(v, nt);
            if (st < 0)
                return st;
            *zeroed += fresh;
        }
    }
    return MOF_OK;
}

static mof_status magnitude_run(mof_pass_ctx *pc, mof_model *model, void *priv)
{
    const struct magnitude_pass *p = priv;
    prune_run r;
    prune_weight *weights = NULL;
    size_t n = 0;
    int64_t total = 0, zeroed = 0, zeros_before = 0;
    unsigned kinds = (1u << PRUNE_CONV) | (1u << PRUNE_CONV_TRANSPOSE) | (1u << PRUNE_GEMM) |
                     (1u << PRUNE_MATMUL);
    mof_status st = prune_begin(&r, pc, model, &p->sel, kinds);
    if (st < 0)
        goto done;
    if ((st = prune_collect_weights(&r, &weights, &n)) < 0)
        goto done;
    for (size_t i = 0; i < n; i++) {
        const mof_tensor *t = mof_value_tensor(weights[i].value);
        const float *d = mof_tensor_data(t);
        total += mof_tensor_numel(t);
        for (int64_t j = 0; j < mof_tensor_numel(t); j++)
            zeros_before += d[j] == 0.0f;
    }
    if (p->scope == SCOPE_GLOBAL) {
        st = prune_smallest(&r, weights, n, (int64_t)floor(p->sparsity * (double)total + 0.5),
                            &zeroed);
    } else {
        for (size_t i = 0; i < n && st >= 0; i++) {
            int64_t numel = mof_tensor_numel(mof_value_tensor(weights[i].value));
            st = prune_smallest(&r, &weights[i], 1,
                                (int64_t)floor(p->sparsity * (double)numel + 0.5), &zeroed);
        }
    }
    if (st < 0)
        goto done;
    st = prune_zeroed_stats(&r, (int64_t)n, total, zeroed);
done:;
    char summary[256];
    double s0 = total ? 100.0 * (double)zeros_before / (double)total : 0.0;
    double s1 = total ? 100.0 * (double)(zeros_before + zeroed) / (double)total : 0.0;
    snprintf(summary, sizeof summary,
             "zeroed %lld of %lld weights in %zu layers (%s scope), sparsity %.1f%% -> %.1f%%",
             (long long)zeroed, (long long)total, n,
             p->scope == SCOPE_GLOBAL ? "global" : "layer", s0, s1);
    free(weights);
    return prune_end(&r, st, summary);
}

const mof_pass_desc prune_magnitude_pass = {
    .size = sizeof(mof_pass_desc),
    .name = "prune-magnitude",
    .summary = "zero the weights of smallest magnitude to a target sparsity (unstructured)",
    .help = "Zeroes the round(sparsity * n) elements of smallest |w| of each selected\n"
            "weight (scope=layer), or of all selected weights together (scope=global:\n"
            "one threshold). Weights are the constant float W of Conv/ConvTranspose and\n"
            "B of Gemm/MatMul (and mof.Fused*); shapes do not change. A weight shared by\n"
            "several selected nodes is pruned once; one also read by another node is\n"
            "left alone with a note. Reports parameters, nonzero parameters, bytes and\n"
            "FLOPs (dense and nonzero) before and after. Changes the model's function:\n"
            "the result equals the model with those weights set to zero.",
    .params = magnitude_params,
    .priv_size = sizeof(struct magnitude_pass),
    .flags = MOF_PASS_CHANGES_NUMERICS,
    .tolerance = 0,
    .run = magnitude_run,
};
