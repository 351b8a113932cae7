/* quantize-weights: weight-only quantization of MatMul and Gemm, for transformer-style
 * models whose size and memory traffic are their weights.
 *
 * Each constant float 2-D weight B of a MatMul (A x B, B [K, N]) or Gemm (B [K, N], or
 * [N, K] with transB) becomes a quantized initializer, its scales (and zero points),
 * and a DequantizeLinear that feeds the unchanged MatMul / Gemm: activations stay
 * float, only the stored weights shrink. Granularity:
 *   bits=8, block-size=0: int8, one scale per output column (the N axis).
 *   bits=8, block-size=B: int8, one scale per block of B rows along K for each column.
 *   bits=4: int4 (packed two per byte in the file), blocked along K, block-size 32 by
 *           default (block-size=0: one scale per column).
 * symmetric=true (default) gives signed types with no zero point (int8 / int4, the
 * range [-max|w|, max|w|]); symmetric=false gives unsigned types with a zero point per
 * scale (uint8 / uint4), the min..max range. Blocks run along K, the reduced axis, as
 * ONNX Runtime's MatMulNBits expects: ORT fuses DequantizeLinear(int4, axis 0,
 * block_size a power of two >= 16) -> MatMul into MatMulNBits (note that its default
 * accuracy level then quantizes the activations to int8 on the fly, which adds error
 * on top of the weights' own).
 *
 * Blocked scales and int4 need DequantizeLinear-21: the pass raises the model's opset
 * to 21 when it is lower. That is refused below opset 13 (too much changed) and for
 * the ops whose meaning changes between the model's opset and 21 (RoiAlign before 16,
 * DFT and GridSample before 20, GroupNormalization 18-20); the reductions whose axes
 * became an input at opset 18 and Split without `split` (num_outputs at 18) are
 * rewritten. Per-column int8 needs opset 13; below it the pass quantizes per tensor.
 *
 * A weight read by several nodes gets one DequantizeLinear; the float initializer is
 * removed once nothing reads it. Only the main graph is rewritten. Statistics:
 * nodes-quantized, weights-quantized, bytes-before / bytes-after (the weights' bytes
 * in the file, int4 packed), opset-raised; a note gives the weights' SQNR. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mof/mof.h>

#include "qutil.h"
#include "qmath.h"
#include "quant.h"

struct qweights {
    int bits;                /* choice index: 0 -> 8, 1 -> 4 */
    int64_t block;           /* -1: default (32 for int4, 0 for int8) */
    bool symmetric;
    const char *op_types;
    const char *exclude;
    int64_t min_elements;
};

static const char *const bits_choices[] = { "8", "4", NULL };

static const mof_param_desc qw_params[] = {
    { .name = "bits", .help = "weight bits: 8 (int8) or 4 (int4, packed)",
      .type = MOF_PARAM_CHOICE, .offset = offsetof(struct qweights, bits), .def = "8",
      .choices = bits_choices },
    { .name = "block-size", .help = "rows of K per scale (0: one scale per column; "
      "-1: 32 for int4, 0 for int8)", .type = MOF_PARAM_INT,
      .offset = offsetof(struct qweights, block), .def = "-1", .min = -1, .max = 1 << 20,
      .flags = MOF_PARAM_RANGE },
    { .name = "symmetric", .help = "signed weights with zero point 0 (else unsigned with a "
      "zero point)", .type = MOF_PARAM_BOOL, .offset = offsetof(struct qweights, symmetric),
      .def = "true" },
    { .name = "op-types", .help = "comma-separated ops whose weights are quantized "
      "(MatMul, Gemm)", .type = MOF_PARAM_STRING,
      .offset = offsetof(struct qweights, op_types), .def = "MatMul,Gemm" },
    { .name = "exclude-nodes", .help = "comma-separated names of nodes to leave float",
      .type = MOF_PARAM_STRING, .offset = offsetof(struct qweights, exclude), .def = "" },
    { .name = "min-elements", .help = "leave weights with fewer elements float",
      .type = MOF_PARAM_INT, .offset = offsetof(struct qweights, min_elements), .def = "0",
      .min = 0, .max = 1e15, .flags = MOF_PARAM_RANGE },
    { 0 },
};

/* ------------------------------------------------------------------ helpers */

/* Why node n's weight cannot be quantized (NULL: it can); *w gets the weight. */
static const char *weight_of(const mof_node *n, const struct qweights *p, mof_value **w)
{
    *w = mof_node_n_inputs(n) > 1 ? mof_node_input(n, 1) : NULL;
    if (!*w || !mof_value_is_constant(*w))
        return "its weight is not a constant";
    const mof_tensor *t = mof_value_tensor(*w);
    if (mof_tensor_dtype(t) != MOF_DTYPE_FLOAT)
        return "its weight is not float";
    if (mof_tensor_rank(t) != 2)
        return "its weight is not 2-D";
    if (mof_tensor_numel(t) < p->min_elements || mof_tensor_numel(t) == 0)
        return "its weight has fewer elements than min-elements";
    return NULL;
}

/* Element i of a quantized weight dequantized (granularity of qm_quantize_weight). */
static float dequant_at(const mof_tensor *q, const mof_tensor *s, const mof_tensor *z,
                        int axis, int64_t block, int64_t i)
{
    const int64_t *d = mof_tensor_dims(q);
    int64_t inner = axis == 0 ? d[1] : 1, dim = axis >= 0 ? d[axis] : 1;
    int64_t a = (i / inner) % dim, gi = 0;
    if (axis < 0) {
        gi = 0;
    } else if (block > 0) {
        int64_t outer = i / (inner * dim), in = i % inner;
        gi = (outer * mof_tensor_dims(s)[axis] + a / block) * inner + in;
    } else if (axis >= 0) {
        gi = a;
    }
    bool sg = mof_tensor_dtype(q) == MOF_DTYPE_INT8 || mof_tensor_dtype(q) == MOF_DTYPE_INT4;
    int32_t qv = sg ? ((const int8_t *)mof_tensor_data(q))[i]
                    : ((const uint8_t *)mof_tensor_data(q))[i];
    int32_t zv = sg ? ((const int8_t *)mof_tensor_data(z))[gi]
                    : ((const uint8_t *)mof_tensor_data(z))[gi];
    return qm_dequantize(qv, ((const float *)mof_tensor_data(s))[gi], zv);
}

/* ------------------------------------------------------------------ raising the opset */

/* The reductions whose `axes` attribute became an input at opset 18. */
static bool axes_moved_at_18(const mof_node *n)
{
    static const char *const ops[] = { "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
        "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare", NULL };
    for (size_t i = 0; ops[i]; i++)
        if (qu_is_op(n, ops[i]))
            return true;
    return false;
}

/* Checks (fix false) or rewrites (fix true) the default-domain nodes of g and its
 * subgraphs for a move from opset `from` to 21. Returns an error naming the first
 * node that cannot move. */
static mof_status upgrade_graph(mof_pass_ctx *pc, mof_graph *g, int64_t from, bool fix)
{
    mof_context *ctx = mof_pass_ctx_context(pc);
    for (mof_node *n = mof_graph_first_node(g); n; n = mof_node_next(n)) {
        for (size_t i = 0; i < mof_node_n_subgraphs(n); i++) {
            mof_status st = upgrade_graph(pc, mof_node_subgraph(n, i), from, fix);
            if (st != MOF_OK)
                return st;
        }
        if (*mof_node_domain(n))
            continue;
        const char *why = NULL;
        if (qu_is_op(n, "RoiAlign") && from < 16)
            why = "its default coordinate_transformation_mode changed at opset 16";
        else if ((qu_is_op(n, "GridSample") || qu_is_op(n, "DFT")) && from < 20)
            why = "its attributes changed at opset 20";
        else if (qu_is_op(n, "GroupNormalization") && from < 21)
            why = "its scale and bias changed shape at opset 21";
        if (why)
            return mof_report_node(ctx, MOF_SEVERITY_ERROR, MOF_ERR_UNSUPPORTED, n,
                                   "cannot raise the model's opset from %lld to 21 for int4 "
                                   "or blocked weights: %s", (long long)from, why);
        if (!fix)
            continue;
        if (from < 18 && axes_moved_at_18(n) && mof_node_has_attr(n, "axes")) {
            size_t k = 0;
            const int64_t *axes = mof_node_attr_ints(n, "axes", &k);
            int64_t dim = (int64_t)k;
            mof_tensor *t = mof_tensor_create_from(MOF_DTYPE_INT64, 1, &dim, axes);
            char hint[64];
            snprintf(hint, sizeof hint, "%s_axes", mof_node_op_type(n));
            mof_value *v = t ? mof_graph_add_initializer(g, hint, t) : NULL;
            if (!v) {
                mof_tensor_unref(t);
                return MOF_ERR_NOMEM;
            }
            mof_status st = mof_node_set_input(n, 1, v);
            if (st == MOF_OK)
                st = mof_node_remove_attr(n, "axes");
            if (st != MOF_OK)
                return st;
        } else if (from < 18 && qu_is_op(n, "Split") &&
                   (mof_node_n_inputs(n) < 2 || !mof_node_input(n, 1))) {
            mof_status st = mof_node_set_attr_int(n, "num_outputs",
                                                  (int64_t)mof_node_n_outputs(n));
            if (st != MOF_OK)
                return st;
        }
    }
    return MOF_OK;
}

/* Raises the default domain to opset 21 (see the top of the file). */
static mof_status raise_opset(mof_pass_ctx *pc, mof_model *m, int64_t from)
{
    mof_context *ctx = mof_pass_ctx_context(pc);
    if (from < 13)
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_UNSUPPORTED, NULL,
                          "int4 and blocked weights need opset 21, and the model's opset %lld "
                          "is below 13: convert it first (onnx.version_converter), or use "
                          "bits=8 block-size=0", (long long)from);
    mof_status st = upgrade_graph(pc, mof_model_graph(m), from, false);
    if (st == MOF_OK)
        st = upgrade_graph(pc, mof_model_graph(m), from, true);
    if (st == MOF_OK)
        st = mof_model_set_opset(m, "", 21);
    if (st == MOF_OK)
        mof_report(ctx, MOF_SEVERITY_NOTE, MOF_OK, NULL,
                   "raised the model's opset from %lld to 21 (DequantizeLinear with int4 or "
                   "block_size)", (long long)from);
    return st;
}

/* ------------------------------------------------------------------ the pass */

/* One quantized weight: the float value and the DequantizeLinear output that replaces
 * it for the nodes that were quantized. */
typedef struct qw_done {
    mof_value *w, *dq;
} qw_done;

typedef struct qw_run_state {
    mof_pass_ctx *pc;
    const struct qweights *p;
    mof_dtype qt;
    int64_t block;
    bool per_tensor;
    qw_done *done;
    size_t n_done;
    int64_t bytes_before, bytes_after;
    double sqnr_min, sqnr_sum;
} qw_run_state;

/* Quantizes w (used by node n, of the weight's K axis kaxis) and inserts its
 * DequantizeLinear before n; *dq gets the float value to read instead of w. */
static mof_status quantize_one(qw_run_state *S, mof_graph *g, mof_node *n, mof_value *w,
                               int kaxis, mof_value **dq)
{
    const mof_tensor *t = mof_value_tensor(w);
    int axis = S->per_tensor ? -1 : S->block > 0 ? kaxis : 1 - kaxis;
    mof_tensor *q = NULL, *s = NULL, *z = NULL;
    mof_status st = qm_quantize_weight(t, axis, S->block, S->qt, S->p->symmetric, false, &q,
                                       &s, &z);
    if (st != MOF_OK)
        return st;
    /* The error this weight alone brings, for the summary note. */
    int64_t numel = mof_tensor_numel(t);
    float *back = malloc((size_t)numel * sizeof(*back));
    if (!back) {
        st = MOF_ERR_NOMEM;
        goto fail;
    }
    for (int64_t i = 0; i < numel; i++)
        back[i] = dequant_at(q, s, z, axis, S->block, i);
    double db = qm_sqnr_db(mof_tensor_data(t), back, (size_t)numel);
    free(back);
    if (!isfinite(db))
        db = 200; /* exact: counted as 200 dB in the summary */
    S->sqnr_min = S->n_done == 0 || db < S->sqnr_min ? db : S->sqnr_min;
    S->sqnr_sum += db;

    bool with_zp = !S->p->symmetric;
    S->bytes_before += (int64_t)mof_dtype_storage_bytes(MOF_DTYPE_FLOAT, numel);
    S->bytes_after += (int64_t)(mof_dtype_storage_bytes(S->qt, numel) +
                                mof_dtype_storage_bytes(MOF_DTYPE_FLOAT, mof_tensor_numel(s)) +
                                (with_zp ? mof_dtype_storage_bytes(S->qt, mof_tensor_numel(z))
                                         : 0));
    const char *base = mof_value_name(w);
    mof_value *in[3];
    in[0] = qu_add_init(g, base, "_quantized", q);
    q = NULL;
    in[1] = qu_add_init(g, base, "_scale", s);
    s = NULL;
    in[2] = NULL;
    if (in[1] && with_zp) {
        in[2] = qu_add_init(g, base, "_zero_point", z);
        z = NULL;
    }
    if (!in[0] || !in[1] || (with_zp && !in[2])) {
        st = MOF_ERR_NOMEM;
        goto fail;
    }
    mof_node *d = qu_add_node(g, MOF_INSERT_BEFORE, n, "DequantizeLinear", base,
                              "_DequantizeLinear", with_zp ? 3 : 2, in, 1);
    if (!d) {
        st = MOF_ERR_NOMEM;
        goto fail;
    }
    if (axis >= 0)
        st = mof_node_set_attr_int(d, "axis", axis);
    if (st == MOF_OK && S->block > 0)
        st = mof_node_set_attr_int(d, "block_size", S->block);
    if (st == MOF_OK)
        st = mof_value_copy_type(mof_node_output(d, 0), w);
    *dq = mof_node_output(d, 0);
fail:
    mof_tensor_unref(q);
    mof_tensor_unref(s);
    mof_tensor_unref(z);
    return st;
}

static mof_status qw_run(mof_pass_ctx *pc, mof_model *m, void *priv)
{
    const struct qweights *p = priv;
    mof_context *ctx = mof_pass_ctx_context(pc);
    mof_graph *g = mof_model_graph(m);
    bool four = p->bits == 1;
    qw_run_state S = { .pc = pc, .p = p };
    S.block = p->block >= 0 ? p->block : four ? 32 : 0;
    S.qt = four ? (p->symmetric ? MOF_DTYPE_INT4 : MOF_DTYPE_UINT4)
                : (p->symmetric ? MOF_DTYPE_INT8 : MOF_DTYPE_UINT8);
    mof_status st = MOF_OK;

    /* The nodes to rewrite, in graph order. */
    size_t n_cand = 0;
    for (mof_node *n = mof_graph_first_node(g); n; n = mof_node_next(n)) {
        if (*mof_node_domain(n) || !qu_list_has(p->op_types, mof_node_op_type(n)) ||
            (strcmp(mof_node_op_type(n), "MatMul") && strcmp(mof_node_op_type(n), "Gemm")))
            continue;
        mof_value *w;
        const char *why = qu_list_has(p->exclude, mof_node_name(n)) ? "it is in exclude-nodes"
                                                                 : weight_of(n, p, &w);
        if (why) {
            mof_report_node(ctx, MOF_SEVERITY_NOTE, MOF_OK, n, "left float: %s", why);
            continue;
        }
        n_cand++;
    }
    if (!n_cand)
        return MOF_UNCHANGED;

    int64_t opset = mof_model_opset(m, "");
    if (four || S.block > 0) {
        if (opset < 21) {
            if ((st = raise_opset(pc, m, opset)) != MOF_OK)
                return st;
            mof_pass_stat(pc, "opset-raised", 1);
        }
    } else if (opset < 13) {
        /* DequantizeLinear has no axis before opset 13. */
        S.per_tensor = true;
        mof_report(ctx, MOF_SEVERITY_NOTE, MOF_OK, NULL,
                   "opset %lld has no per-axis DequantizeLinear: one scale per weight",
                   (long long)opset);
    }
    S.done = calloc(n_cand, sizeof(*S.done));
    if (!S.done)
        return MOF_ERR_NOMEM;
    int64_t nodes = 0;
    for (mof_node *n = mof_graph_first_node(g); n; n = mof_node_next(n)) {
        if (*mof_node_domain(n) || !qu_list_has(p->op_types, mof_node_op_type(n)) ||
            (strcmp(mof_node_op_type(n), "MatMul") && strcmp(mof_node_op_type(n), "Gemm")) ||
            qu_list_has(p->exclude, mof_node_name(n)))
            continue;
        mof_value *w;
        if (weight_of(n, p, &w))
            continue;
        int kaxis = !strcmp(mof_node_op_type(n), "Gemm") && mof_node_attr_int(n, "transB", 0);
        mof_value *dq = NULL;
        for (size_t i = 0; i < S.n_done && !dq; i++)
            if (S.done[i].w == w)
                dq = S.done[i].dq;
        if (!dq) {
            if ((st = quantize_one(&S, g, n, w, kaxis, &dq)) != MOF_OK)
                goto done;
            S.done[S.n_done++] = (qw_done){ w, dq };
        }
        if ((st = mof_node_set_input(n, 1, dq)) != MOF_OK)
            goto done;
        nodes++;
    }
    /* Float weights nothing reads any more. */
    for (size_t i = 0; i < S.n_done; i++) {
        if (mof_value_n_uses(S.done[i].w) == 0 && !mof_value_is_graph_output(S.done[i].w)) {
            if ((st = mof_graph_remove_initializer(g, S.done[i].w)) != MOF_OK)
                goto done;
        } else {
            mof_report(ctx, MOF_SEVERITY_WARNING, MOF_OK, NULL,
                       "weight '%s' is also read by nodes left float: it is kept in float "
                       "beside its quantized copy", mof_value_name(S.done[i].w));
            S.bytes_after += (int64_t)mof_dtype_storage_bytes(
                MOF_DTYPE_FLOAT, mof_tensor_numel(mof_value_tensor(S.done[i].w)));
        }
    }
    mof_pass_stat(pc, "nodes-quantized", nodes);
    mof_pass_stat(pc, "weights-quantized", (int64_t)S.n_done);
    mof_pass_stat(pc, "bytes-before", S.bytes_before);
    mof_pass_stat(pc, "bytes-after", S.bytes_after);
    mof_report(ctx, MOF_SEVERITY_NOTE, MOF_OK, NULL,
               "%zu weights to %s%s: %lld -> %lld bytes; weight SQNR min %.1f dB, mean %.1f dB",
               S.n_done, mof_dtype_name(S.qt),
               S.per_tensor ? " per tensor" : S.block > 0 ? " blocked" : " per column",
               (long long)S.bytes_before, (long long)S.bytes_after, S.sqnr_min,
               S.sqnr_sum / (double)S.n_done);
    st = MOF_OK;
done:
    free(S.done);
    return st;
}

static const mof_pass_desc quantize_weights = {
    .size = sizeof(mof_pass_desc),
    .name = "quantize-weights",
    .summary = "weight-only int8 / int4 (blocked) quantization of MatMul and Gemm weights",
    .help = "Each constant 2-D weight of a MatMul or Gemm becomes int8 or int4 (packed) with "
            "float scales, dequantized by a DequantizeLinear in front of the unchanged op. "
            "int4 and blocked scales need opset 21: the model's opset is raised when it can "
            "be (13 or more).",
    .params = qw_params,
    .priv_size = sizeof(struct qweights),
    .flags = MOF_PASS_CHANGES_NUMERICS,
    /* A per-column int8 weight moves an output by about sqrt(K) * step / 2 against a
     * typical |y| of sqrt(K) * |w|: 1/254 of it; int4 blocks a 1/14. */
    .tolerance = 0.1,
    .run = qw_run,
};

mof_status quant_register_weights(mof_registrar *r)
{
    return mof_register_pass(r, &quantize_weights);
}
