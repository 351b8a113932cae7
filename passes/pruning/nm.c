/* prune-nm: semi-structured N:M pruning: in every group of M consecutive weights along
 * the reduction axis, the M - N of smallest magnitude become zero (2:4 by default),
 * the pattern that sparse tensor cores (NVIDIA Ampere and later, cuSPARSELt) run.
 *
 * The groups run along the axis a GEMM reduces over, its K dim, for a fixed output:
 *   Conv W [K, C/g, kH, kW]        along C/g (input channels), for each k, kh, kw,
 *                                  as NVIDIA's ASP masks conv weights (the implicit
 *                                  GEMM's K dim is channels-innermost)
 *   ConvTranspose W [C, K/g, ...]  along C (axis 0)
 *   Gemm B [K, N] / [N, K] transB  along K: axis 0, or axis 1 with transB
 *   MatMul B [..., K, N]           along K (axis rank-2)
 * A weight whose reduction length is not a multiple of M is left alone with a note
 * (a first Conv over 3 colour channels, say): hardware needs whole groups. Within a
 * group the N largest |w| stay; ties keep the earlier element; NaN counts as largest.
 * Zeros already in a group count among the M - N.
 *
 * What the pass computes exactly: the model with those weight elements set to +0.0;
 * shapes do not change. n = m changes nothing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prune.h"

struct nm_pass {
    struct prune_select sel;
    int64_t n, m;
};

static const mof_param_desc nm_params[] = {
    { .name = "n", .help = "weights kept in each group of m (at most m)", .type = MOF_PARAM_INT,
      .offset = offsetof(struct nm_pass, n), .def = "2", .min = 0, .max = 64,
      .flags = MOF_PARAM_RANGE },
    { .name = "m", .help = "group length along the reduction axis", .type = MOF_PARAM_INT,
      .offset = offsetof(struct nm_pass, m), .def = "4", .min = 1, .max = 64,
      .flags = MOF_PARAM_RANGE },
    PRUNE_SELECT_PARAMS(struct nm_pass, "Conv,MatMul,Gemm",
                        "products whose weights are pruned: Conv, ConvTranspose, Gemm, MatMul"),
    { 0 }
};

static float magnitude(float x)
{
    return isnan(x) ? INFINITY : fabsf(x);
}

/* Applies the pattern to one weight; replaces it when an element became zero. */
static mof_status prune_weight_nm(prune_run *r, const struct nm_pass *p, prune_weight *w,
                                  int64_t *zeroed, bool *skipped)
{
    const mof_tensor *t = mof_value_tensor(w->value);
    const int64_t *dims = mof_tensor_dims(t);
    size_t rank = mof_tensor_rank(t);
    int64_t outer = 1, inner = 1, len = rank ? dims[w->axis] : 1;
    for (int i = 0; i < w->axis; i++)
        outer *= dims[i];
    for (size_t i = (size_t)w->axis + 1; i < rank; i++)
        inner *= dims[i];
    *skipped = false;
    if (len % p->m != 0) {
        *skipped = true;
        mof_report_node(r->ctx, MOF_SEVERITY_NOTE, MOF_OK, w->node,
                        "not pruned: weight '%s' has %lld elements along its reduction axis "
                        "%d, not a multiple of m=%lld",
                        mof_value_name(w->value), (long long)len, w->axis, (long long)p->m);
        return MOF_OK;
    }
    const float *d = mof_tensor_data(t);
    mof_tensor *nt = NULL;
    float *nd = NULL;
    int64_t fresh = 0;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t in = 0; in < inner; in++)
            for (int64_t g0 = 0; g0 < len; g0 += p->m)
                for (int64_t a = g0; a < g0 + p->m; a++) {
                    int64_t ia = (o * len + a) * inner + in;
                    float ma = magnitude(d[ia]);
                    int64_t beaten = 0; /* elements of the group that rank before a */
                    for (int64_t b = g0; b < g0 + p->m; b++) {
                        float mb = magnitude(d[(o * len + b) * inner + in]);
                        beaten += mb > ma || (mb == ma && b < a);
                    }
                    if (beaten < p->n || d[ia] == 0.0f)
                        continue;
                    if (!nt && (!(nt = mof_tensor_dup(t)) || !(nd = mof_tensor_data_mut(nt)))) {
                        mof_tensor_unref(nt);
                        return prune_nomem(r);
                    }
                    nd[ia] = 0.0f;
                    fresh++;
                }
    if (!nt)
        return MOF_OK;
    *zeroed += fresh;
    return mof_value_set_tensor(w->value, nt);
}

static mof_status nm_run(mof_pass_ctx *pc, mof_model *model, void *priv)
{
    const struct nm_pass *p = priv;
    prune_run r;
    prune_weight *weights = NULL;
    size_t n = 0, pruned = 0;
    int64_t total = 0, zeroed = 0;
    unsigned kinds = (1u << PRUNE_CONV) | (1u << PRUNE_CONV_TRANSPOSE) | (1u << PRUNE_GEMM) |
                     (1u << PRUNE_MATMUL);
    mof_status st = prune_begin(&r, pc, model, &p->sel, kinds);
    if (st < 0)
        goto done;
    if (p->n > p->m) {
        st = mof_report(r.ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL,
                        "parameter 'n' = %lld is larger than 'm' = %lld", (long long)p->n,
                        (long long)p->m);
        goto done;
    }
    if ((st = prune_collect_weights(&r, &weights, &n)) < 0)
        goto done;
    for (size_t i = 0; i < n && st >= 0; i++) {
        bool skipped;
        st = prune_weight_nm(&r, p, &weights[i], &zeroed, &skipped);
        if (skipped) {
            mof_pass_stat(pc, "layers-skipped", 1);
        } else {
            pruned++;
            total += mof_tensor_numel(mof_value_tensor(weights[i].value));
        }
    }
    if (st < 0)
        goto done;
    st = prune_zeroed_stats(&r, (int64_t)pruned, total, zeroed);
done:;
    char summary[256];
    snprintf(summary, sizeof summary, "%lld:%lld pattern on %zu of %zu layers, zeroed %lld of "
             "%lld weights", (long long)p->n, (long long)p->m, pruned, n, (long long)zeroed,
             (long long)total);
    free(weights);
    return prune_end(&r, st, summary);
}

const mof_pass_desc prune_nm_pass = {
    .size = sizeof(mof_pass_desc),
    .name = "prune-nm",
    .summary = "N:M semi-structured sparsity (2:4) along the reduction axis, for sparse "
               "tensor cores",
    .help = "In every m consecutive weights along the reduction (K) axis of the GEMM a\n"
            "product computes, keeps the n of largest magnitude and zeroes the rest.\n"
            "Conv W [K, C/g, kH, kW]: groups along C/g for each k, kh, kw (as NVIDIA's\n"
            "ASP). Gemm B: along K (axis 0, axis 1 with transB). MatMul B [K, N]: axis\n"
            "0. ConvTranspose W: axis 0. A weight whose K is not a multiple of m is left\n"
            "alone with a note. Shapes do not change; reports as prune-magnitude.",
    .params = nm_params,
    .priv_size = sizeof(struct nm_pass),
    .flags = MOF_PASS_CHANGES_NUMERICS,
    .tolerance = 0,
    .run = nm_run,
};
