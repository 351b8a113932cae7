/* quantize-dynamic: int8 weights, activations quantized at run time.
 *
 * Needs no calibration data: each activation that feeds a quantized op is quantized
 * by DynamicQuantizeLinear (uint8, its scale and zero point from its own min and max,
 * on every run), and the op's constant weight is quantized once, here.
 *
 * format=integer (default), the graph ONNX Runtime's quantize_dynamic writes, which
 * ORT runs on integer kernels (and fuses into DynamicQuantizeMatMul /
 * MatMulIntegerToFloat):
 *   MatMul(A, W[K,N]):  DynamicQuantizeLinear(A) -> MatMulInteger(a_q, W_q, a_zp, W_zp)
 *                       -> Cast(float) -> Mul(a_scale * W_scale)
 *   Gemm(A, B, C):      the same with B transposed here when transB, alpha folded into
 *                       W_scale, then Add(beta * C) (a non-constant C only with beta 1;
 *                       transA is left float)
 *   Conv(X, W, B):      DynamicQuantizeLinear(X) -> ConvInteger(x_q, W_q, x_zp, W_zp)
 *                       -> Cast -> Mul(x_scale * W_scale) -> Add(B as [M,1,..,1])
 * format=qdq: the ops stay float and read DequantizeLinear(DynamicQuantizeLinear(A))
 * and DequantizeLinear(W_q): the same numbers (up to float summation order), in the
 * form that QDQ-aware backends and ORT's QDQ transformers recognize; it works for any
 * Gemm and Conv, per channel included.
 *
 * Weights: weight-type=int8 (default) is symmetric, zero point 0; uint8 is asymmetric
 * (min..max), as ORT does. per-channel=true gives one scale per output channel (the
 * columns of MatMul / Gemm, axis 0 of Conv). ORT's ConvInteger takes only one weight
 * zero point, so a per-channel uint8 Conv weight in integer form is quantized
 * symmetrically (zero point 128 in every channel).
 *
 * When Conv pays: a Conv is quantized only when its weight has at least
 * conv-min-elements elements (default 4096, e.g. 3x3 kernels with 32 input and 16
 * output channels). Below that the integer conv saves little time or memory, while the
 * first convolutions of a network, with few input channels, are where activation
 * quantization hurts accuracy most; depthwise convolutions fall under it too.
 *
 * Every node of op-types in the main graph with a constant float weight is rewritten,
 * except those named in exclude-nodes; each one left float is reported in a note with
 * its reason. Activations read by several quantized ops are quantized once. Statistics:
 * nodes-quantized, activations-quantized, bytes-before / bytes-after (weights). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mof/mof.h>

#include "qutil.h"
#include "qmath.h"
#include "quant.h"

struct qdynamic {
    const char *op_types;
    const char *exclude;
    bool per_channel;
    int weight_type;         /* 0 int8, 1 uint8 */
    int format;              /* 0 integer, 1 qdq */
    int64_t conv_min;
    int64_t min_elements;
};

static const char *const wtype_choices[] = { "int8", "uint8", NULL };
static const char *const format_choices[] = { "integer", "qdq", NULL };

static const mof_param_desc qd_params[] = {
    { .name = "op-types", .help = "comma-separated ops to quantize (MatMul, Gemm, Conv)",
      .type = MOF_PARAM_STRING, .offset = offsetof(struct qdynamic, op_types),
      .def = "MatMul,Gemm,Conv" },
    { .name = "exclude-nodes", .help = "comma-separated names of nodes to leave float",
      .type = MOF_PARAM_STRING, .offset = offsetof(struct qdynamic, exclude), .def = "" },
    { .name = "per-channel", .help = "one weight scale per output channel",
      .type = MOF_PARAM_BOOL, .offset = offsetof(struct qdynamic, per_channel),
      .def = "false" },
    { .name = "weight-type", .help = "int8 (symmetric) or uint8 (asymmetric) weights",
      .type = MOF_PARAM_CHOICE, .offset = offsetof(struct qdynamic, weight_type),
      .def = "int8", .choices = wtype_choices },
    { .name = "format", .help = "integer: MatMulInteger / ConvInteger; qdq: "
      "DequantizeLinear in front of the float ops", .type = MOF_PARAM_CHOICE,
      .offset = offsetof(struct qdynamic, format), .def = "integer",
      .choices = format_choices },
    { .name = "conv-min-elements", .help = "quantize a Conv only when its weight has at "
      "least this many elements", .type = MOF_PARAM_INT,
      .offset = offsetof(struct qdynamic, conv_min), .def = "4096", .min = 0, .max = 1e15,
      .flags = MOF_PARAM_RANGE },
    { .name = "min-elements", .help = "leave MatMul / Gemm weights with fewer elements "
      "float", .type = MOF_PARAM_INT, .offset = offsetof(struct qdynamic, min_elements),
      .def = "0", .min = 0, .max = 1e15, .flags = MOF_PARAM_RANGE },
    { 0 },
};

/* ------------------------------------------------------------------ helpers */

/* An activation quantized once for all its quantized readers. */
typedef struct qd_act {
    mof_value *src;
    mof_value *q, *scale, *zp;   /* DynamicQuantizeLinear's outputs */
    mof_value *deq;              /* qdq: its DequantizeLinear, made on first need */
} qd_act;

typedef struct qd_state {
    mof_pass_ctx *pc;
    mof_context *ctx;
    const struct qdynamic *p;
    mof_graph *g;
    bool per_channel;
    mof_dtype wt;
    qd_act *acts;
    size_t n_acts, cap_acts;
    mof_value **olds;        /* float weights and biases of rewritten nodes */
    size_t n_olds, cap_olds;
    int64_t nodes, bytes_before, bytes_after;
} qd_state;

/* The activation record of v, quantized before anchor the first time it is asked for. */
static qd_act *quantize_activation(qd_state *S, mof_value *v, mof_node *anchor)
{
    for (size_t i = 0; i < S->n_acts; i++)
        if (S->acts[i].src == v)
            return &S->acts[i];
    if (!qu_grow(&S->acts, S->n_acts, &S->cap_acts, sizeof(*S->acts)))
        return NULL;
    mof_node *d = qu_add_node(S->g, MOF_INSERT_BEFORE, anchor, "DynamicQuantizeLinear",
                              mof_value_name(v), "_quantize", 1, &v, 3);
    if (!d)
        return NULL;
    qd_act *a = &S->acts[S->n_acts++];
    *a = (qd_act){ v, mof_node_output(d, 0), mof_node_output(d, 1), mof_node_output(d, 2),
                   NULL };
    mof_pass_stat(S->pc, "activations-quantized", 1);
    return a;
}

/* A float tensor [count] followed by `ones` dims of 1, from data. */
static mof_tensor *float_column(const float *data, int64_t count, size_t ones)
{
    int64_t dims[16];
    if (ones + 1 > sizeof dims / sizeof dims[0])
        return NULL;
    dims[0] = count;
    for (size_t i = 0; i < ones; i++)
        dims[1 + i] = 1;
    return mof_tensor_create_from(MOF_DTYPE_FLOAT, ones + 1, dims, data);
}

/* w transposed (2-D). */
static mof_tensor *transpose2(const mof_tensor *w)
{
    const int64_t *d = mof_tensor_dims(w);
    int64_t dims[2] = { d[1], d[0] };
    mof_tensor *t = mof_tensor_create(MOF_DTYPE_FLOAT, 2, dims);
    if (!t)
        return NULL;
    const float *s = mof_tensor_data(w);
    float *o = mof_tensor_data_mut(t);
    for (int64_t i = 0; i < d[0]; i++)
        for (int64_t j = 0; j < d[1]; j++)
            o[j * d[0] + i] = s[i * d[1] + j];
    return t;
}

/* ------------------------------------------------------------------ which nodes */

/* Why node n is left float (NULL: it is quantized). */
static const char *skip_reason(const qd_state *S, const mof_node *n)
{
    const struct qdynamic *p = S->p;
    if (qu_list_has(p->exclude, mof_node_name(n)))
        return "it is in exclude-nodes";
    mof_value *w = mof_node_n_inputs(n) > 1 ? mof_node_input(n, 1) : NULL;
    if (!mof_node_input(n, 0))
        return "it has no input";
    if (!w || !mof_value_is_constant(w))
        return "its weight is not a constant";
    const mof_tensor *t = mof_value_tensor(w);
    if (mof_tensor_dtype(t) != MOF_DTYPE_FLOAT)
        return "its weight is not float";
    if (mof_value_has_type(mof_node_input(n, 0)) &&
        mof_value_dtype(mof_node_input(n, 0)) != MOF_DTYPE_FLOAT)
        return "its input is not float";
    size_t r = mof_tensor_rank(t);
    if (qu_is_op(n, "Conv")) {
        if (r < 3)
            return "its weight has rank below 3";
        if (mof_tensor_numel(t) < p->conv_min)
            return "its weight has fewer elements than conv-min-elements (it does not pay)";
        mof_value *b = mof_node_n_inputs(n) > 2 ? mof_node_input(n, 2) : NULL;
        if (b && !mof_value_is_constant(b) && p->format == 0)
            return "its bias is not a constant";
        return NULL;
    }
    if (r != 2)
        return "its weight is not 2-D";
    if (mof_tensor_numel(t) < p->min_elements || mof_tensor_numel(t) == 0)
        return "its weight has fewer elements than min-elements";
    if (qu_is_op(n, "Gemm") && p->format == 0) {
        if (mof_node_attr_int(n, "transA", 0))
            return "Gemm with transA (integer form)";
        mof_value *c = mof_node_n_inputs(n) > 2 ? mof_node_input(n, 2) : NULL;
        if (c && !mof_value_is_constant(c) && mof_node_attr_float(n, "beta", 1.0f) != 1.0f)
            return "Gemm with a computed C and beta other than 1 (integer form)";
    }
    return NULL;
}

/* ------------------------------------------------------------------ rewriting */

/* The quantized weight, its scale and zero point (axis: the output-channel axis of w,
 * -1 per tensor), added as initializers. alpha scales the scale; scale_ones > 0 gives
 * a per-channel scale scale_ones trailing dims of 1 (to broadcast over a Conv's
 * output); scalar_zp keeps one zero point (they must all be equal). */
static mof_status weight_inits(qd_state *S, const mof_tensor *w, const char *base, int axis,
                               bool symmetric, float alpha, size_t scale_ones, bool scalar_zp,
                               mof_value **wq, mof_value **ws, mof_value **wz)
{
    mof_tensor *q = NULL, *s = NULL, *z = NULL;
    mof_status st = qm_quantize_weight(w, axis, 0, S->wt, symmetric, false, &q, &s, &z);
    if (st != MOF_OK)
        return st;
    float *sd = mof_tensor_data_mut(s);
    for (int64_t i = 0; i < mof_tensor_numel(s); i++)
        sd[i] *= alpha;
    if (scale_ones && axis >= 0) {
        mof_tensor *col = float_column(sd, mof_tensor_numel(s), scale_ones);
        mof_tensor_unref(s);
        s = col;
    }
    if (scalar_zp && z && mof_tensor_numel(z) > 1) {
        mof_tensor *z1 = mof_tensor_create_from(S->wt, 0, NULL, mof_tensor_data(z));
        mof_tensor_unref(z);
        z = z1;
    }
    if (!s || !z) {
        mof_tensor_unref(q);
        mof_tensor_unref(s);
        mof_tensor_unref(z);
        return MOF_ERR_NOMEM;
    }
    S->bytes_before += (int64_t)mof_tensor_nbytes(w);
    S->bytes_after += (int64_t)(mof_tensor_nbytes(q) + mof_tensor_nbytes(s) +
                                mof_tensor_nbytes(z));
    *wq = qu_add_init(S->g, base, "_quantized", q);
    *ws = qu_add_init(S->g, base, "_scale", s);
    *wz = qu_add_init(S->g, base, "_zero_point", z);
    return *wq && *ws && *wz ? MOF_OK : MOF_ERR_NOMEM;
}

/* format=qdq: the op keeps its place and reads dequantized inputs. */
static mof_status rewrite_qdq(qd_state *S, mof_node *n, qd_act *a)
{
    mof_value *w = mof_node_input(n, 1);
    const mof_tensor *wt = mof_value_tensor(w);
    int axis = -1;
    if (S->per_channel)
        axis = qu_is_op(n, "Conv") ? 0 : qu_is_op(n, "Gemm") && mof_node_attr_int(n, "transB", 0)
                                          ? 0 : 1;
    mof_value *wq, *ws, *wz;
    mof_status st = weight_inits(S, wt, mof_value_name(w), axis, S->wt == MOF_DTYPE_INT8, 1.0f,
                                 0, false, &wq, &ws, &wz);
    if (st != MOF_OK)
        return st;
    if (!a->deq) {
        mof_value *in[3] = { a->q, a->scale, a->zp };
        mof_node *d = qu_add_node(S->g, MOF_INSERT_BEFORE, n, "DequantizeLinear",
                                  mof_value_name(a->src), "_dequantize", 3, in, 1);
        if (!d)
            return MOF_ERR_NOMEM;
        a->deq = mof_node_output(d, 0);
        mof_value_copy_type(a->deq, a->src);
    }
    mof_value *in[3] = { wq, ws, wz };
    mof_node *d = qu_add_node(S->g, MOF_INSERT_BEFORE, n, "DequantizeLinear",
                              mof_value_name(w), "_dequantize", 3, in, 1);
    if (!d || (axis >= 0 && mof_node_set_attr_int(d, "axis", axis) != MOF_OK))
        return MOF_ERR_NOMEM;
    mof_value_copy_type(mof_node_output(d, 0), w);
    if ((st = mof_node_set_input(n, 0, a->deq)) != MOF_OK ||
        (st = mof_node_set_input(n, 1, mof_node_output(d, 0))) != MOF_OK)
        return st;
    return MOF_OK;
}

/* format=integer: MatMul / Gemm / Conv becomes the integer op, Cast, Mul (and Add). */
static mof_status rewrite_integer(qd_state *S, mof_node *n, qd_act *a)
{
    bool conv = qu_is_op(n, "Conv"), gemm = qu_is_op(n, "Gemm");
    const char *base = *mof_node_name(n) ? mof_node_name(n) : mof_value_name(mof_node_output(n, 0));
    mof_value *w = mof_node_input(n, 1);
    const mof_tensor *wt = mof_value_tensor(w);
    mof_tensor *wtrans = NULL, *bias = NULL;
    mof_value *wq, *ws, *wz, *addend = NULL;
    mof_status st = MOF_ERR_NOMEM;
    float alpha = gemm ? mof_node_attr_float(n, "alpha", 1.0f) : 1.0f;
    bool symmetric = S->wt == MOF_DTYPE_INT8 || (conv && S->per_channel);
    if (gemm && mof_node_attr_int(n, "transB", 0)) {
        if (!(wtrans = transpose2(wt)))
            goto done;
        wt = wtrans;
    }
    int axis = S->per_channel ? (conv ? 0 : 1) : -1;
    size_t spatial = conv ? mof_tensor_rank(wt) - 2 : 0;
    /* Conv per channel: one zero point for ORT's ConvInteger (all equal, see the top),
     * the scales as [M, 1, ..., 1] to broadcast over [N, M, spatial...]. */
    if ((st = weight_inits(S, wt, mof_value_name(w), axis, symmetric, alpha, spatial, conv,
                           &wq, &ws, &wz)) != MOF_OK)
        goto done;
    st = MOF_ERR_NOMEM;
    /* The integer product. */
    mof_value *in[4] = { a->q, wq, a->zp, wz };
    mof_node *prod = qu_add_node(S->g, MOF_INSERT_BEFORE, n,
                                 conv ? "ConvInteger" : "MatMulInteger", base, "_quant", 4,
                                 in, 1);
    if (!prod)
        goto done;
    /* Conv's attributes are all ConvInteger's. */
    if (conv && mof_node_copy_attrs(prod, n) != MOF_OK)
        goto done;
    mof_value *pv = mof_node_output(prod, 0);
    mof_node *cast = qu_add_node(S->g, MOF_INSERT_BEFORE, n, "Cast", base, "_cast", 1, &pv, 1);
    if (!cast || mof_node_set_attr_int(cast, "to", MOF_DTYPE_FLOAT) != MOF_OK)
        goto done;
    mof_value *sin[2] = { a->scale, ws };
    mof_node *smul = qu_add_node(S->g, MOF_INSERT_BEFORE, n, "Mul", base, "_scales", 2, sin, 1);
    if (!smul)
        goto done;
    mof_value *min[2] = { mof_node_output(cast, 0), mof_node_output(smul, 0) };
    mof_node *mul = qu_add_node(S->g, MOF_INSERT_BEFORE, n, "Mul", base, "_scale_output", 2,
                                min, 1);
    if (!mul)
        goto done;
    mof_value *out = mof_node_output(mul, 0);

    /* The addend: Conv's bias as [M, 1, ...], Gemm's beta * C. */
    mof_value *c = mof_node_n_inputs(n) > 2 ? mof_node_input(n, 2) : NULL;
    if (c && conv) {
        const mof_tensor *b = mof_value_tensor(c);
        if (!(bias = float_column(mof_tensor_data(b), mof_tensor_numel(b), spatial)) ||
            !(addend = qu_add_init(S->g, mof_value_name(c), "_reshaped", mof_tensor_ref(bias))))
            goto done;
    } else if (c && gemm) {
        float beta = mof_node_attr_float(n, "beta", 1.0f);
        addend = c;
        if (beta != 1.0f) {
            const mof_tensor *ct = mof_value_tensor(c);
            if (mof_tensor_dtype(ct) != MOF_DTYPE_FLOAT) {
                st = mof_report_node(S->ctx, MOF_SEVERITY_ERROR, MOF_ERR_UNSUPPORTED, n,
                                     "Gemm's C is %s, not float",
                                     mof_dtype_name(mof_tensor_dtype(ct)));
                goto done;
            }
            if (!(bias = mof_tensor_dup(ct)))
                goto done;
            float *bd = mof_tensor_data_mut(bias);
            for (int64_t i = 0; i < mof_tensor_numel(bias); i++)
                bd[i] *= beta;
            if (!(addend = qu_add_init(S->g, mof_value_name(c), "_beta", mof_tensor_ref(bias))))
                goto done;
        }
    }
    if (addend) {
        mof_value *ain[2] = { out, addend };
        mof_node *add = qu_add_node(S->g, MOF_INSERT_BEFORE, n, "Add", base, "_bias", 2, ain, 1);
        if (!add)
            goto done;
        out = mof_node_output(add, 0);
    }
    mof_value *old = mof_node_output(n, 0);
    mof_value_copy_type(out, old);
    if ((st = mof_value_replace_uses(old, out)) != MOF_OK ||
        (st = mof_graph_remove_node(S->g, n)) != MOF_OK)
        goto done;
    st = MOF_OK;
done:
    mof_tensor_unref(wtrans);
    mof_tensor_unref(bias);
    return st;
}

static mof_status qd_run(mof_pass_ctx *pc, mof_model *m, void *priv)
{
    const struct qdynamic *p = priv;
    qd_state S = { .pc = pc, .ctx = mof_pass_ctx_context(pc), .p = p, .g = mof_model_graph(m),
                   .per_channel = p->per_channel,
                   .wt = p->weight_type ? MOF_DTYPE_UINT8 : MOF_DTYPE_INT8 };
    int64_t opset = mof_model_opset(m, "");
    mof_status st = MOF_OK;
    if (opset < 11) {
        for (mof_node *n = mof_graph_first_node(S.g); n; n = mof_node_next(n))
            if (!*mof_node_domain(n) && qu_list_has(p->op_types, mof_node_op_type(n)))
                return mof_report(S.ctx, MOF_SEVERITY_ERROR, MOF_ERR_UNSUPPORTED, NULL,
                                  "DynamicQuantizeLinear needs opset 11, the model has %lld",
                                  (long long)opset);
        return MOF_UNCHANGED;
    }
    if (p->per_channel && p->format == 1 && opset < 13) {
        S.per_channel = false;
        mof_report(S.ctx, MOF_SEVERITY_NOTE, MOF_OK, NULL,
                   "opset %lld has no per-axis DequantizeLinear: one scale per weight",
                   (long long)opset);
    }
    mof_node *next = NULL;
    for (mof_node *n = mof_graph_first_node(S.g); n; n = next) {
        next = mof_node_next(n);
        if (*mof_node_domain(n) || !qu_list_has(p->op_types, mof_node_op_type(n)) ||
            (!qu_is_op(n, "MatMul") && !qu_is_op(n, "Gemm") && !qu_is_op(n, "Conv")))
            continue;
        const char *why = skip_reason(&S, n);
        if (why) {
            mof_report_node(S.ctx, MOF_SEVERITY_NOTE, MOF_OK, n, "left float: %s", why);
            continue;
        }
        qd_act *a = quantize_activation(&S, mof_node_input(n, 0), n);
        if (!a || S.n_olds + 2 > S.cap_olds) {
            size_t cap = S.cap_olds ? 2 * S.cap_olds : 16;
            mof_value **o = a ? realloc(S.olds, cap * sizeof(*o)) : NULL;
            if (!o) {
                st = MOF_ERR_NOMEM;
                break;
            }
            S.olds = o;
            S.cap_olds = cap;
        }
        for (size_t k = 1; k < 3 && k < mof_node_n_inputs(n); k++)
            if (mof_node_input(n, k) && mof_value_is_constant(mof_node_input(n, k)))
                S.olds[S.n_olds++] = mof_node_input(n, k);
        st = p->format == 1 ? rewrite_qdq(&S, n, a) : rewrite_integer(&S, n, a);
        if (st != MOF_OK)
            break;
        S.nodes++;
    }
    /* Float weights and biases nothing reads any more (each listed once removed). */
    for (size_t i = 0; st == MOF_OK && i < S.n_olds; i++) {
        mof_value *v = S.olds[i];
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = S.olds[j] == v;
        if (!seen && mof_value_n_uses(v) == 0 && !mof_value_is_graph_output(v))
            st = mof_graph_remove_initializer(S.g, v);
    }
    free(S.olds);
    free(S.acts);
    if (st != MOF_OK) {
        if (st == MOF_ERR_NOMEM)
            mof_report(S.ctx, MOF_SEVERITY_ERROR, st, NULL, "out of memory");
        return st;
    }
    if (!S.nodes)
        return MOF_UNCHANGED;
    mof_pass_stat(pc, "nodes-quantized", S.nodes);
    mof_pass_stat(pc, "bytes-before", S.bytes_before);
    mof_pass_stat(pc, "bytes-after", S.bytes_after);
    mof_report(S.ctx, MOF_SEVERITY_NOTE, MOF_OK, NULL,
               "%lld nodes quantized (%s, %s weights%s): weights %lld -> %lld bytes",
               (long long)S.nodes, p->format ? "qdq" : "integer", mof_dtype_name(S.wt),
               S.per_channel ? " per channel" : "", (long long)S.bytes_before,
               (long long)S.bytes_after);
    return MOF_OK;
}

static const mof_pass_desc quantize_dynamic = {
    .size = sizeof(mof_pass_desc),
    .name = "quantize-dynamic",
    .summary = "int8 weights, activations quantized at run time (DynamicQuantizeLinear)",
    .help = "MatMul, Gemm and (large enough) Conv with constant weights become "
            "DynamicQuantizeLinear + MatMulInteger / ConvInteger + Cast + Mul, as ONNX "
            "Runtime's quantize_dynamic writes them (format=integer), or read "
            "DequantizeLinear'd inputs (format=qdq).",
    .params = qd_params,
    .priv_size = sizeof(struct qdynamic),
    .flags = MOF_PASS_CHANGES_NUMERICS,
    /* An 8-bit activation (step range/255) times an 8-bit weight (step max/127) moves
     * a dot product by about 1% of its scale; outputs near zero need more. */
    .tolerance = 0.1,
    .run = qd_run,
};

mof_status quant_register_dynamic(mof_registrar *r)
{
    return mof_register_pass(r, &quantize_dynamic);
}
