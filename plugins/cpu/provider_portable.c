/* provider_portable.c: the portable kernel provider: plain C99 (vectorised by the
 * compiler), no dependency beyond libm (and pthreads with threads > 1). The fallback of
 * every kernels= choice.
 *
 * Convolutions and GEMMs with constant weights pack the weights at emit time into the
 * panels of mofrt_gemm.h; element-wise and data-movement ops are generated as loops
 * specialised to the static shapes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "provider.h"

#define PRUN(...) cpu_emit_printf(e, CPU_SEC_RUN, __VA_ARGS__)
#define PDECL(...) cpu_emit_printf(e, CPU_SEC_DECLS, __VA_ARGS__)

static const mof_op_support portable_ops[] = {
    { "", "Conv", 1, 0 }, { "mof", "FusedConv", 1, 0 }, { "", "Gemm", 1, 0 },
    { "mof", "FusedGemm", 1, 0 }, { "", "MatMul", 1, 0 }, { "mof", "FusedMatMul", 1, 0 },
    { "", "Add", 1, 0 }, { "", "Sub", 1, 0 }, { "", "Mul", 1, 0 }, { "", "Div", 1, 0 },
    { "", "Pow", 1, 0 }, { "", "Max", 1, 0 }, { "", "Min", 1, 0 },
    { "", "Relu", 1, 0 }, { "", "LeakyRelu", 1, 0 }, { "", "Clip", 1, 0 },
    { "", "Sigmoid", 1, 0 }, { "", "HardSigmoid", 1, 0 }, { "", "HardSwish", 1, 0 },
    { "", "Tanh", 1, 0 }, { "", "Erf", 1, 0 }, { "", "Gelu", 20, 0 }, { "mof", "Gelu", 1, 0 },
    { "", "Exp", 1, 0 }, { "", "Log", 1, 0 }, { "", "Sqrt", 1, 0 }, { "", "Abs", 1, 0 },
    { "", "Neg", 1, 0 }, { "", "Reciprocal", 1, 0 }, { "", "Floor", 1, 0 },
    { "", "Ceil", 1, 0 }, { "", "Softplus", 1, 0 }, { "", "Elu", 1, 0 },
    { "", "MaxPool", 1, 0 }, { "", "AveragePool", 1, 0 }, { "", "GlobalAveragePool", 1, 0 },
    { "", "GlobalMaxPool", 1, 0 }, { "", "Concat", 1, 0 }, { "", "Reshape", 1, 0 },
    { "", "Flatten", 1, 0 }, { "", "Squeeze", 1, 0 }, { "", "Unsqueeze", 1, 0 },
    { "", "Identity", 1, 0 }, { "", "Transpose", 1, 0 }, { "", "Softmax", 1, 0 },
    { "", "LogSoftmax", 1, 0 }, { "", "LayerNormalization", 17, 0 },
    { "mof", "LayerNormalization", 1, 0 }, { "", "ReduceMean", 1, 0 },
    { "", "ReduceSum", 1, 0 }, { "", "ReduceMax", 1, 0 }, { "", "ReduceMin", 1, 0 },
    { "", "Gather", 1, 0 }, { "", "Slice", 10, 0 }, { "", "Split", 1, 0 },
    { "", "BatchNormalization", 1, 0 },
    { NULL, NULL, 0, 0 }
};

/* ------------------------------------------------------------------ helpers */

static bool is_op(const mof_node *n, const char *domain, const char *op)
{
    return !strcmp(mof_node_domain(n), domain) && !strcmp(mof_node_op_type(n), op);
}

static bool in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(s, *list))
            return true;
    return false;
}

static const char *const unary_ops[] = { "Relu", "LeakyRelu", "Clip", "Sigmoid", "HardSigmoid",
                                         "HardSwish", "Tanh", "Erf", "Gelu", "Exp", "Log",
                                         "Sqrt", "Abs", "Neg", "Reciprocal", "Floor", "Ceil",
                                         "Softplus", "Elu", NULL };
static const char *const binary_ops[] = { "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min",
                                          NULL };
static const char *const move_ops[] = { "Concat", "Reshape", "Flatten", "Squeeze", "Unsqueeze",
                                        "Identity", "Transpose", "Gather", "Slice", "Split",
                                        NULL };

static bool float_io(const mof_node *n)
{
    for (size_t i = 0; i < mof_node_n_inputs(n); i++) {
        const mof_value *v = mof_node_input(n, i);
        if (v && mof_value_has_type(v) && mof_value_dtype(v) != MOF_DTYPE_FLOAT)
            return false;
    }
    return true;
}

static bool is_const(const mof_value *v)
{
    return v && mof_value_is_constant(v);
}

/* Reads a constant integer tensor (int64 or int32) into out (at most max). -1 if not. */
static int64_t const_ints(const mof_value *v, int64_t *out, int64_t max)
{
    if (!is_const(v))
        return -1;
    const mof_tensor *t = mof_value_tensor(v);
    int64_t n = mof_tensor_numel(t);
    if (n > max)
        return -1;
    for (int64_t i = 0; i < n; i++) {
        if (mof_tensor_dtype(t) == MOF_DTYPE_INT64)
            out[i] = ((const int64_t *)mof_tensor_data(t))[i];
        else if (mof_tensor_dtype(t) == MOF_DTYPE_INT32)
            out[i] = ((const int32_t *)mof_tensor_data(t))[i];
        else
            return -1;
    }
    return n;
}

static int64_t opset(const mof_node *n)
{
    const mof_model *m = mof_graph_model(mof_node_graph(n));
    return m ? mof_model_opset(m, mof_node_domain(n)) : -1;
}

/* ------------------------------------------------------------------ supports */

static bool portable_supports(const mof_node *n, const char **why)
{
    const char *op = mof_node_op_type(n), *dom = mof_node_domain(n);
    if (!strcmp(dom, "mof")) {
        if (!strcmp(op, "FusedConv") || !strcmp(op, "FusedGemm") || !strcmp(op, "FusedMatMul")) {
            float p[2];
            mof_activation a = cpu_node_activation(n, p);
            if (a == MOF_ACTIVATION_UNKNOWN) {
                *why = "unknown activation";
                return false;
            }
        } else if (strcmp(op, "Gelu") && strcmp(op, "LayerNormalization")) {
            *why = "not implemented by the portable provider";
            return false;
        }
    } else if (dom[0]) {
        *why = "domain not implemented by the portable provider";
        return false;
    } else if (!in_list(op, unary_ops) && !in_list(op, binary_ops) && !in_list(op, move_ops) &&
               strcmp(op, "Conv") && strcmp(op, "Gemm") && strcmp(op, "MatMul") &&
               strcmp(op, "MaxPool") && strcmp(op, "AveragePool") &&
               strcmp(op, "GlobalAveragePool") && strcmp(op, "GlobalMaxPool") &&
               strcmp(op, "Softmax") && strcmp(op, "LogSoftmax") &&
               strcmp(op, "LayerNormalization") && strcmp(op, "ReduceMean") &&
               strcmp(op, "ReduceSum") && strcmp(op, "ReduceMax") && strcmp(op, "ReduceMin") &&
               strcmp(op, "BatchNormalization")) {
        *why = "not implemented by the portable provider";
        return false;
    }
    if (!in_list(op, move_ops) && !float_io(n)) {
        *why = "only float32 is implemented for this op";
        return false;
    }
    if (!dom[0] && in_list(op, binary_ops) && mof_node_n_inputs(n) != 2) {
        /* Max/Min take 1..N inputs; the emitter writes the two-input form only. */
        *why = "only the two-input form is implemented";
        return false;
    }
    /* Data movement: any fixed-size element type. */
    for (size_t i = 0; i < mof_node_n_outputs(n); i++) {
        const mof_value *v = mof_node_output(n, i);
        if (v && mof_value_has_type(v) && !cpu_ctype(mof_value_dtype(v))) {
            *why = "element type not supported";
            return false;
        }
    }
    if (!strcmp(op, "Conv") || !strcmp(op, "FusedConv")) {
        const mof_value *w = mof_node_input(n, 1);
        if (!is_const(w) || mof_tensor_rank(mof_value_tensor(w)) != 4) {
            *why = "only 2-D convolutions with constant weights are implemented";
            return false;
        }
        if (mof_node_n_inputs(n) > 2 && mof_node_input(n, 2) && !is_const(mof_node_input(n, 2))) {
            *why = "the bias must be constant";
            return false;
        }
    }
    if ((!strcmp(op, "MaxPool") || !strcmp(op, "AveragePool"))) {
        size_t nk = 0;
        mof_node_attr_ints(n, "kernel_shape", &nk);
        if (nk != 2) {
            *why = "only 2-D pooling is implemented";
            return false;
        }
        if (mof_node_n_outputs(n) > 1 && mof_node_output(n, 1)) {
            *why = "MaxPool's Indices output is not implemented";
            return false;
        }
    }
    if (!strcmp(op, "Gather") && !is_const(mof_node_input(n, 1))) {
        *why = "Gather needs constant indices";
        return false;
    }
    if (!strcmp(op, "Slice")) {
        for (size_t i = 1; i < mof_node_n_inputs(n); i++)
            if (mof_node_input(n, i) && !is_const(mof_node_input(n, i))) {
                *why = "Slice needs constant starts, ends, axes and steps";
                return false;
            }
    }
    if (!strcmp(op, "Split") && mof_node_n_inputs(n) > 1 && mof_node_input(n, 1) &&
        !is_const(mof_node_input(n, 1))) {
        *why = "Split needs constant split sizes";
        return false;
    }
    if ((!strcmp(op, "Reshape") || !strcmp(op, "Squeeze") || !strcmp(op, "Unsqueeze")) &&
        mof_node_n_inputs(n) > 1 && mof_node_input(n, 1) && !is_const(mof_node_input(n, 1)) &&
        !cpu_value_static(mof_node_output(n, 0))) {
        *why = "the target shape must be constant or inferred";
        return false;
    }
    if (!strcmp(op, "Clip"))
        for (size_t i = 1; i < mof_node_n_inputs(n); i++)
            if (mof_node_input(n, i) && !is_const(mof_node_input(n, i))) {
                *why = "Clip needs constant min and max";
                return false;
            }
    if (strstr(op, "LayerNormalization") && mof_node_n_outputs(n) > 1) {
        for (size_t i = 1; i < mof_node_n_outputs(n); i++)
            if (mof_node_output(n, i)) {
                *why = "only the first output (Y) of LayerNormalization is implemented";
                return false;
            }
    }
    if (!strcmp(op, "BatchNormalization")) {
        for (size_t i = 1; i < 5; i++)
            if (i >= mof_node_n_inputs(n) || !is_const(mof_node_input(n, i))) {
                *why = "BatchNormalization needs constant scale, bias, mean and variance";
                return false;
            }
        if (mof_node_n_outputs(n) > 1 && mof_node_output(n, 1)) {
            *why = "training-mode BatchNormalization is not implemented";
            return false;
        }
    }
    if (!strcmp(op, "Pow") && mof_node_n_inputs(n) == 2) {
        const mof_value *b = mof_node_input(n, 1);
        if (b && mof_value_has_type(b) && mof_value_dtype(b) != MOF_DTYPE_FLOAT) {
            *why = "only a float exponent is implemented";
            return false;
        }
    }
    return true;
}

static bool portable_accepts_post(const mof_node *n, size_t n_prev, const cpu_post *post)
{
    (void)n_prev;
    if (is_op(n, "", "Conv") || is_op(n, "mof", "FusedConv"))
        return true;
    if ((is_op(n, "", "Gemm") || is_op(n, "mof", "FusedGemm") || is_op(n, "", "MatMul") ||
         is_op(n, "mof", "FusedMatMul")) && is_const(mof_node_input(n, 1)))
        return post->kind == CPU_POST_ACTIVATION || post->kind == CPU_POST_ADD;
    return false;
}

/* ------------------------------------------------------------------ packing */

/* Adds A (M x K, element (i, k) at a[i * rs + k * cs], scaled) packed for mofrt_sgemm to
 * the blob; returns the offset. */
static mof_status pack_a(cpu_emit *e, const float *a, int64_t M, int64_t K, int64_t rs,
                         int64_t cs, float scale, size_t *offset, size_t *count)
{
    const int64_t MR = 4; /* MOFRT_MR */
    int64_t panels = (M + MR - 1) / MR;
    size_t n = (size_t)(panels * MR * K);
    float *buf = malloc((n ? n : 1) * sizeof *buf);
    if (!buf)
        return cpu_emit_error(e, NULL, MOF_ERR_NOMEM, "out of memory");
    float *o = buf;
    for (int64_t p = 0; p < M; p += MR)
        for (int64_t k = 0; k < K; k++)
            for (int64_t i = 0; i < MR; i++)
                *o++ = p + i < M ? a[(p + i) * rs + k * cs] * scale : 0.0f;
    mof_status st = cpu_emit_add_blob(e, buf, n * sizeof *buf, offset);
    if (count)
        *count = n;
    free(buf);
    return st;
}

/* Scratch bytes of one mofrt_sgemm of depth K (mofrt_sgemm_scratch: per thread
 * min(K, MOFRT_KC) * MOFRT_NC + MOFRT_NC + 16 floats), for the emit's threads. */
static size_t gemm_scratch(cpu_emit *e, int64_t K)
{
    size_t kc = K < 1 ? 1 : (K < 256 ? (size_t)K : 256);
    return (size_t)cpu_emit_threads(e) * (kc * 384 + 384 + 16) * sizeof(float);
}

static mof_status add_floats(cpu_emit *e, const float *v, size_t n, size_t *offset)
{
    return cpu_emit_add_blob(e, v, n * sizeof *v, offset);
}

/* Prints the epilogue steps of a group's post-ops into the run section as a local
 * `mofrt_epi post;` (name given); res row stride for CPU_POST_ADD: rs, cs. */
static void emit_post(cpu_emit *e, const cpu_group *g, const char *var, const char *rt,
                      int64_t rs, int64_t cs, mof_activation own, const float *own_p)
{
    PRUN("%s_epi %s;\nmemset(&%s, 0, sizeof %s);\n", rt, var, var, var);
    int k = 0;
    if (own != MOF_ACTIVATION_NONE) {
        PRUN("%s.step[%d].act = (%s_act)%d; %s.step[%d].p[0] = (float)%.9g; %s.step[%d].p[1] = (float)%.9g;\n",
             var, k, rt, (int)own, var, k, (double)own_p[0], var, k, (double)own_p[1]);
        k++;
    }
    for (size_t i = 0; i < g->n_post; i++, k++) {
        const cpu_post *p = &g->post[i];
        if (p->kind == CPU_POST_ADD) {
            PRUN("%s.step[%d].add = 1; %s.step[%d].res = %s; %s.step[%d].rs = %lld; "
                 "%s.step[%d].cs = %lld;\n",
                 var, k, var, k, p->other->storage == CPU_STORAGE_WEIGHT
                                     ? cpu_emit_weight_expr(e, p->other) : p->other->expr,
                 var, k, (long long)rs, var, k, (long long)cs);
        } else {
            PRUN("%s.step[%d].act = (%s_act)%d;", var, k, rt, (int)p->activation);
            PRUN(" %s.step[%d].p[0] = (float)%.9g; %s.step[%d].p[1] = (float)%.9g;\n", var, k,
                 isinf(p->params[0]) ? (p->params[0] < 0 ? -3.4e38 : 3.4e38) : (double)p->params[0],
                 var, k,
                 isinf(p->params[1]) ? (p->params[1] < 0 ? -3.4e38 : 3.4e38) : (double)p->params[1]);
        }
    }
    PRUN("%s.n = %d;\n", var, k);
}

/* Input i of n, or NULL when n has fewer inputs (an optional one left out). */
static const cpu_tensor *opt_input(cpu_emit *e, const mof_node *n, size_t i)
{
    return mof_node_n_inputs(n) > i ? cpu_emit_tensor(e, mof_node_input(n, i)) : NULL;
}

/* The expression of an input tensor (weights made available plain). */
static const char *in_expr(cpu_emit *e, const cpu_tensor *t)
{
    if (t->storage == CPU_STORAGE_WEIGHT ||
        (t->alias_of && t->alias_of->storage == CPU_STORAGE_WEIGHT))
        return cpu_emit_weight_expr(e, t);
    return t->expr;
}

/* ------------------------------------------------------------------ conv */

static mof_status emit_conv(cpu_emit *e, const cpu_group *g)
{
    const mof_node *n = g->node;
    const char *rt = cpu_emit_rt_prefix(e);
    const cpu_tensor *x = cpu_emit_tensor(e, mof_node_input(n, 0));
    const cpu_tensor *w = cpu_emit_tensor(e, mof_node_input(n, 1));
    const cpu_tensor *b = opt_input(e, n, 2);
    const cpu_tensor *y = cpu_emit_tensor(e, mof_node_output(n, 0));
    if (x->rank != 4 || w->rank != 4 || y->rank != 4)
        return cpu_emit_error(e, n, MOF_ERR_UNSUPPORTED, "only 2-D convolutions are implemented");
    int64_t G = mof_node_attr_int(n, "group", 1);
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    int64_t M = w->dims[0], KH = w->dims[2], KW = w->dims[3];
    int64_t OH = y->dims[2], OW = y->dims[3];
    size_t cnt = 0;
    const int64_t *s = mof_node_attr_ints(n, "strides", &cnt);
    int64_t SH = cnt == 2 ? s[0] : 1, SW = cnt == 2 ? s[1] : 1;
    const int64_t *d = mof_node_attr_ints(n, "dilations", &cnt);
    int64_t DH = cnt == 2 ? d[0] : 1, DW = cnt == 2 ? d[1] : 1;
    const int64_t *pads = mof_node_attr_ints(n, "pads", &cnt);
    int64_t PH = cnt == 4 ? pads[0] : 0, PW = cnt == 4 ? pads[1] : 0;
    const char *autopad = mof_node_attr_string(n, "auto_pad", "NOTSET", NULL);
    if (!strcmp(autopad, "SAME_UPPER") || !strcmp(autopad, "SAME_LOWER")) {
        int64_t th = (OH - 1) * SH + (KH - 1) * DH + 1 - H, tw = (OW - 1) * SW + (KW - 1) * DW + 1 - W;
        th = th < 0 ? 0 : th;
        tw = tw < 0 ? 0 : tw;
        PH = !strcmp(autopad, "SAME_UPPER") ? th / 2 : th - th / 2;
        PW = !strcmp(autopad, "SAME_UPPER") ? tw / 2 : tw - tw / 2;
    } else if (!strcmp(autopad, "VALID")) {
        PH = PW = 0;
    }
    if (G <= 0 || C % G || M % G || w->dims[1] != C / G)
        return cpu_emit_error(e, n, MOF_ERR_INVALID_ARG, "inconsistent group/channel counts");
    float ap[2] = { 0, 0 };
    mof_activation act = is_op(n, "mof", "FusedConv") ? cpu_node_activation(n, ap)
                                                      : MOF_ACTIVATION_NONE;
    const float *wd = mof_tensor_data(w->data);
    const char *id = cpu_emit_node_id(e, n);
    char idc[32];
    snprintf(idc, sizeof idc, "%s", id);
    const char *bexpr = "NULL";
    if (b)
        bexpr = cpu_emit_weight_expr(e, b);
    mof_status st = MOF_OK;
    bool depthwise = G == C && G == M && G > 1;
    PDECL("static const %s_conv2d %s_p = { %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, "
          "%lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, (%s_act)%d, { (float)%.9g, (float)%.9g } };\n",
          rt, idc, (long long)N, (long long)C, (long long)H, (long long)W, (long long)M,
          (long long)OH, (long long)OW, (long long)G, (long long)KH, (long long)KW,
          (long long)SH, (long long)SW, (long long)PH, (long long)PW, (long long)DH,
          (long long)DW, rt, (int)act,
          isinf(ap[0]) ? -3.4e38 : (double)ap[0], isinf(ap[1]) ? 3.4e38 : (double)ap[1]);
    emit_post(e, g, "post", rt, OH * OW, 1, MOF_ACTIVATION_NONE, NULL);
    if (depthwise) {
        const char *wexpr = cpu_emit_weight_expr(e, w);
        PRUN("%s_conv2d_depthwise(P, &%s_p, %s, %s, %s, &post, %s);\n", rt, idc,
             in_expr(e, x), wexpr, bexpr, g->out->expr);
        return MOF_OK;
    }
    /* Pack each group's weights: (M/G) x (C/G*KH*KW). */
    int64_t mg = M / G, K = (C / G) * KH * KW;
    size_t first = 0;
    for (int64_t gi = 0; gi < G && st == MOF_OK; gi++) {
        size_t off, count;
        st = pack_a(e, wd + gi * mg * K, mg, K, K, 1, 1.0f, &off, &count);
        if (gi == 0)
            first = off;
        else if (off != first + (size_t)gi * count * sizeof(float)) {
            /* Panels are multiples of 64 bytes only when MR*K*4 is; re-pack contiguously. */
            st = MOF_ERR_INTERNAL;
        }
    }
    if (st == MOF_ERR_INTERNAL) {
        /* One contiguous pack of all the groups. */
        size_t per = (size_t)(((mg + 3) / 4) * 4 * K);
        float *all = malloc(per * (size_t)G * sizeof *all + 1);
        if (!all)
            return cpu_emit_error(e, n, MOF_ERR_NOMEM, "out of memory");
        for (int64_t gi = 0; gi < G; gi++) {
            float *o = all + (size_t)gi * per;
            const float *a = wd + gi * mg * K;
            for (int64_t p = 0; p < mg; p += 4)
                for (int64_t k = 0; k < K; k++)
                    for (int64_t i = 0; i < 4; i++)
                        *o++ = p + i < mg ? a[(p + i) * K + k] : 0.0f;
        }
        st = add_floats(e, all, per * (size_t)G, &first);
        free(all);
    }
    if (st != MOF_OK)
        return st;
    cpu_emit_scratch(e, gemm_scratch(e, K));
    PRUN("%s_conv2d_gemm(P, &%s_p, %s, (const float *)(W + %zu), %s, &post, %s, S, %d);\n", rt,
         idc, in_expr(e, x), first, bexpr, g->out->expr, cpu_emit_threads(e));
    return MOF_OK;
}

/* ------------------------------------------------------------------ gemm / matmul */

/* Y[rows, N] = X[rows, K] * B + bias, with B constant given as Bt (N x K, element (n, k)
 * at bt[n * rs + k * cs]), scaled by alpha. Computes Y^T = Bt * X^T with packed Bt. */
static mof_status emit_const_b(cpu_emit *e, const cpu_group *g, const char *x_expr,
                               int64_t rows, int64_t K, int64_t N, const float *bt, int64_t rs,
                               int64_t cs, float alpha, const float *bias, int64_t xrs,
                               int64_t xcs, mof_activation act, const float *ap)
{
    const char *rt = cpu_emit_rt_prefix(e);
    size_t off, boff = 0;
    mof_status st = pack_a(e, bt, N, K, rs, cs, alpha, &off, NULL);
    if (st == MOF_OK && bias)
        st = add_floats(e, bias, (size_t)N, &boff);
    if (st != MOF_OK)
        return st;
    cpu_emit_scratch(e, gemm_scratch(e, K));
    /* Residuals are Y-shaped: in transposed coordinates (n, r) at r * N + n. */
    emit_post(e, g, "post", rt, 1, N, act, ap);
    if (bias)
        PRUN("post.bias = (const float *)(W + %zu);\n", boff);
    PRUN("{\n%s_bsrc b;\nmemset(&b, 0, sizeof b);\nb.b = %s; b.rs = %lld; b.cs = %lld;\n", rt,
         x_expr, (long long)xcs, (long long)xrs);
    PRUN("%s_sgemm(P, %lld, %lld, %lld, (const float *)(W + %zu), &b, %s, 1, %lld, &post, S, %d);\n}\n",
         rt, (long long)N, (long long)rows, (long long)K, off, g->out->expr, (long long)N,
         cpu_emit_threads(e));
    return MOF_OK;
}

static mof_status emit_gemm(cpu_emit *e, const cpu_group *g)
{
    const mof_node *n = g->node;
    const char *rt = cpu_emit_rt_prefix(e);
    const cpu_tensor *a = cpu_emit_tensor(e, mof_node_input(n, 0));
    const cpu_tensor *b = cpu_emit_tensor(e, mof_node_input(n, 1));
    const cpu_tensor *c = opt_input(e, n, 2);
    const cpu_tensor *y = cpu_emit_tensor(e, mof_node_output(n, 0));
    int64_t ta = mof_node_attr_int(n, "transA", 0), tb = mof_node_attr_int(n, "transB", 0);
    float alpha = mof_node_attr_float(n, "alpha", 1.0f), beta = mof_node_attr_float(n, "beta", 1.0f);
    if (a->rank != 2 || b->rank != 2 || y->rank != 2)
        return cpu_emit_error(e, n, MOF_ERR_INVALID_ARG, "Gemm needs 2-D A and B");
    int64_t M = y->dims[0], N = y->dims[1], K = ta ? a->dims[0] : a->dims[1];
    float ap[2] = { 0, 0 };
    mof_activation act = is_op(n, "mof", "FusedGemm") ? cpu_node_activation(n, ap)
                                                      : MOF_ACTIVATION_NONE;
    /* A(i, k) strides. */
    int64_t ars = ta ? 1 : K, acs = ta ? M : 1;
    float *bias = NULL;
    bool c_general = false;
    if (c && beta != 0.0f) {
        if (c->storage == CPU_STORAGE_WEIGHT && (c->numel == N || c->numel == 1) &&
            !(c->rank == 2 && c->dims[0] == M && M > 1 && c->dims[1] == 1)) {
            bias = malloc((size_t)N * sizeof *bias);
            if (!bias)
                return cpu_emit_error(e, n, MOF_ERR_NOMEM, "out of memory");
            const float *cd = mof_tensor_data(c->data);
            for (int64_t j = 0; j < N; j++)
                bias[j] = beta * cd[c->numel == 1 ? 0 : j];
        } else {
            c_general = true;
        }
    }
    mof_status st;
    if (b->storage == CPU_STORAGE_WEIGHT && !c_general) {
        const float *bd = mof_tensor_data(b->data);
        /* Bt(n, k) = B'(k, n): tb ? B[n][k] : B[k][n]. */
        st = emit_const_b(e, g, in_expr(e, a), M, K, N, bd, tb ? K : 1, tb ? 1 : N, alpha, bias,
                          ars, acs, act, ap);
        free(bias);
        return st;
    }
    free(bias);
    /* General: pack A at run time (scaled by alpha via a copy is avoided: alpha applied by
     * packing B... keep it simple: C = alpha*A*B computed, then beta*C added). */
    cpu_emit_scratch(e, gemm_scratch(e, K) +
                            (size_t)(((M + 3) / 4) * 4 * K) * 4 + 64);
    PRUN("{\nfloat *pa = (float *)(S + %zu);\n",
         gemm_scratch(e, K));
    PRUN("%s_pack_a(%s, %lld, %lld, %lld, %lld, pa);\n", rt, in_expr(e, a), (long long)M,
         (long long)K, (long long)ars, (long long)acs);
    if (alpha != 1.0f)
        PRUN("{ int64_t i; for (i = 0; i < %lld; i++) pa[i] *= (float)%.9g; }\n",
             (long long)(((M + 3) / 4) * 4 * K), (double)alpha);
    PRUN("%s_bsrc b;\nmemset(&b, 0, sizeof b);\nb.b = %s; b.rs = %lld; b.cs = %lld;\n", rt,
         in_expr(e, b), (long long)(tb ? 1 : N), (long long)(tb ? K : 1));
    mof_activation none = MOF_ACTIVATION_NONE;
    float np[2] = { 0, 0 };
    if (c && beta != 0.0f) {
        /* y = A*B, then y += beta*C (broadcast), then activation and post-ops. */
        cpu_group g0 = *g;
        g0.n_post = 0;
        emit_post(e, &g0, "post", rt, N, 1, none, np);
        PRUN("%s_sgemm(P, %lld, %lld, %lld, pa, &b, %s, %lld, 1, &post, S, %d);\n", rt,
             (long long)M, (long long)N, (long long)K, g->out->expr, (long long)N,
             cpu_emit_threads(e));
        int64_t crs = c->rank == 2 ? (c->dims[0] == 1 ? 0 : c->dims[1]) : 0;
        int64_t ccs = c->rank >= 1 && c->dims[c->rank - 1] != 1 ? 1 : 0;
        PRUN("{ int64_t i, j; const float *cc = %s; float *yy = %s;\n"
             "  for (i = 0; i < %lld; i++) for (j = 0; j < %lld; j++)\n"
             "    yy[i * %lld + j] += (float)%.9g * cc[i * %lld + j * %lld]; }\n",
             in_expr(e, c), g->out->expr, (long long)M, (long long)N, (long long)N,
             (double)beta, (long long)crs, (long long)ccs);
        emit_post(e, g, "post2", rt, N, 1, act, ap);
        PRUN("{ int64_t i, j; float *yy = %s; int s;\n"
             "  for (i = 0; i < %lld; i++) for (j = 0; j < %lld; j++) {\n"
             "    float v = yy[i * %lld + j];\n"
             "    for (s = 0; s < post2.n; s++)\n"
             "      v = post2.step[s].add ? v + post2.step[s].res[i * %lld + j] : %s_act1(v, post2.step[s].act, post2.step[s].p);\n"
             "    yy[i * %lld + j] = v; } }\n",
             g->out->expr, (long long)M, (long long)N, (long long)N, (long long)N, rt,
             (long long)N);
    } else {
        emit_post(e, g, "post", rt, N, 1, act, ap);
        PRUN("%s_sgemm(P, %lld, %lld, %lld, pa, &b, %s, %lld, 1, &post, S, %d);\n", rt,
             (long long)M, (long long)N, (long long)K, g->out->expr, (long long)N,
             cpu_emit_threads(e));
    }
    PRUN("}\n");
    return MOF_OK;
}

static mof_status emit_matmul(cpu_emit *e, const cpu_group *g)
{
    const mof_node *n = g->node;
    const char *rt = cpu_emit_rt_prefix(e);
    const cpu_tensor *a = cpu_emit_tensor(e, mof_node_input(n, 0));
    const cpu_tensor *b = cpu_emit_tensor(e, mof_node_input(n, 1));
    const cpu_tensor *y = cpu_emit_tensor(e, mof_node_output(n, 0));
    float ap[2] = { 0, 0 };
    mof_activation act = is_op(n, "mof", "FusedMatMul") ? cpu_node_activation(n, ap)
                                                        : MOF_ACTIVATION_NONE;
    if (a->rank < 1 || b->rank < 1)
        return cpu_emit_error(e, n, MOF_ERR_INVALID_ARG, "MatMul of scalars");
    int64_t K = a->dims[a->rank - 1];
    int64_t M = a->rank >= 2 ? a->dims[a->rank - 2] : 1;
    int64_t N = b->rank >= 2 ? b->dims[b->rank - 1] : 1;
    if (b->storage == CPU_STORAGE_WEIGHT && b->rank <= 2) {
        /* Every row of A (batch dims flattened) times a constant [K, N]. */
        const float *bd = mof_tensor_data(b->data);
        int64_t rows = a->numel / K;
        return emit_const_b(e, g, in_expr(e, a), rows, K, N, bd, 1, b->rank == 2 ? N : 1, 1.0f,
                            NULL, K, 1, act, ap);
    }
    if (g->n_post)
        return cpu_emit_error(e, n, MOF_ERR_INTERNAL, "post-ops on a dynamic MatMul");
    /* Batched: broadcast batch dims. */
    int yr = y->rank, nb = yr - 2 > 0 ? yr - 2 : 0;
    int64_t batches = 1;
    for (int i = 0; i < nb; i++)
        batches *= y->dims[i];
    int64_t *aoff = malloc((size_t)(batches + 1) * sizeof *aoff);
    int64_t *boff = malloc((size_t)(batches + 1) * sizeof *boff);
    if (!aoff || !boff) {
        free(aoff);
        free(boff);
        return cpu_emit_error(e, n, MOF_ERR_NOMEM, "out of memory");
    }
    for (int64_t bi = 0; bi < batches; bi++) {
        int64_t rem = bi, ao = 0, bo = 0, astr = M * K, bstr = K * N;
        for (int i = nb - 1; i >= 0; i--) {
            int64_t idx = rem % y->dims[i];
            rem /= y->dims[i];
            int ai = a->rank - (yr - i), bj = b->rank - (yr - i);
            if (ai >= 0 && a->rank > 2) {
                if (a->dims[ai] != 1)
                    ao += idx * astr;
                astr *= a->dims[ai];
            }
            if (bj >= 0 && b->rank > 2) {
                if (b->dims[bj] != 1)
                    bo += idx * bstr;
                bstr *= b->dims[bj];
            }
        }
        aoff[bi] = ao;
        boff[bi] = bo;
    }
    const char *id = cpu_emit_node_id(e, n);
    PDECL("static const int64_t %s_aoff[%lld] = {", id, (long long)batches);
    for (int64_t i = 0; i < batches; i++)
        PDECL("%s%lld", i ? "," : "", (long long)aoff[i]);
    PDECL("};\nstatic const int64_t %s_boff[%lld] = {", id, (long long)batches);
    for (int64_t i = 0; i < batches; i++)
        PDECL("%s%lld", i ? "," : "", (long long)boff[i]);
    PDECL("};\n");
    free(aoff);
    free(boff);
    size_t gscr = gemm_scratch(e, K);
    cpu_emit_scratch(e, gscr + (size_t)(((M + 3) / 4) * 4 * K) * 4 + 64);
    emit_post(e, g, "post", rt, N, 1, act, ap);
    PRUN("{\nint64_t bi;\nfloat *pa = (float *)(S + %zu);\n%s_bsrc b;\nmemset(&b, 0, sizeof b);\n"
         "for (bi = 0; bi < %lld; bi++) {\n", gscr, rt, (long long)batches);
    PRUN("%s_pack_a(%s + %s_aoff[bi], %lld, %lld, %lld, 1, pa);\n", rt, in_expr(e, a), id,
         (long long)M, (long long)K, (long long)K);
    PRUN("b.b = %s + %s_boff[bi]; b.rs = %lld; b.cs = 1;\n", in_expr(e, b), id, (long long)N);
    PRUN("%s_sgemm(P, %lld, %lld, %lld, pa, &b, %s + bi * %lld, %lld, 1, &post, S, %d);\n}\n}\n", rt,
         (long long)M, (long long)N, (long long)K, g->out->expr, (long long)(M * N),
         (long long)N, cpu_emit_threads(e));
    return MOF_OK;
}

/* ------------------------------------------------------------------ element-wise */

/* Nested loops over y's shape; a_expr/b_expr index their tensors with broadcasting. */
static void print_binary(cpu_emit *e, const char *op, const char *a, const char *b)
{
    if (!strcmp(op, "Add"))
        PRUN("y[o] = %s + %s;", a, b);
    else if (!strcmp(op, "Sub"))
        PRUN("y[o] = %s - %s;", a, b);
    else if (!strcmp(op, "Mul"))
        PRUN("y[o] = %s * %s;", a, b);
    else if (!strcmp(op, "Div"))
        PRUN("y[o] = %s / %s;", a, b);
    else if (!strcmp(op, "Pow"))
        PRUN("y[o] = (float)pow((double)%s, (double)%s);", a, b);
    else
        PRUN("{ float a_ = %s, b_ = %s; y[o] = (a_ != a_ || b_ != b_) ? a_ + b_ : "
             "(a_ %s b_ ? a_ : b_); }", a, b, !strcmp(op, "Max") ? ">" : "<");
}

static void emit_broadcast_loops(cpu_emit *e, const cpu_tensor *y, const cpu_tensor *const *ins,
                                 const char *const *names, int n_in, const char *op)
{
    int r = y->rank;
    bool same = true;
    for (int k = 0; k < n_in; k++)
        if (ins[k]->numel != y->numel && ins[k]->numel != 1)
            same = false;
    char idx[4][300];
    if (same) {
        PRUN("{ int64_t o;\nfor (o = 0; o < %lld; o++) {\n", (long long)y->numel);
        for (int k = 0; k < n_in; k++)
            snprintf(idx[k], sizeof idx[k], "%s[%s]", names[k],
                     ins[k]->numel == 1 ? "0" : "o");
        print_binary(e, op, idx[0], idx[1]);
        PRUN("\n} }\n");
        return;
    }
    PRUN("{ int64_t o = 0");
    for (int d = 0; d < r; d++)
        PRUN(", i%d", d);
    PRUN(";\n");
    for (int d = 0; d < r; d++)
        PRUN("for (i%d = 0; i%d < %lld; i%d++)\n", d, d, (long long)y->dims[d], d);
    PRUN("{\n");
    for (int k = 0; k < n_in; k++) {
        const cpu_tensor *t = ins[k];
        char ex[256] = "0";
        size_t len = 1;
        int64_t stride = 1;
        ex[0] = '0';
        ex[1] = '\0';
        len = 1;
        for (int d = t->rank - 1; d >= 0; d--) {
            int yd = r - (t->rank - d);
            if (t->dims[d] != 1) {
                len += (size_t)snprintf(ex + len, sizeof ex - len, " + i%d * %lld", yd,
                                        (long long)stride);
            }
            stride *= t->dims[d];
        }
        snprintf(idx[k], sizeof idx[k], "%s[%s]", names[k], ex);
    }
    print_binary(e, op, idx[0], idx[1]);
    PRUN("\no++;\n}\n(void)o; }\n");
}

/* The elementwise unary ops without attributes: the C expression of y for v = x. */
static const struct unary_expr {
    const char *op, *expr;
} unary_exprs[] = {
    { "Relu", "v > 0 ? v : 0" },
    { "Sigmoid", "(float)(1.0 / (1.0 + exp(-(double)v)))" },
    { "HardSwish", "(float)(v * ((t_ = (double)v / 6.0 + 0.5) < 0 ? 0 : (t_ > 1 ? 1 : t_)))" },
    { "Tanh", "(float)tanh((double)v)" },
    { "Erf", "(float)erf((double)v)" },
    { "Exp", "(float)exp((double)v)" },
    { "Log", "(float)log((double)v)" },
    { "Sqrt", "(float)sqrt((double)v)" },
    { "Abs", "(float)fabs((double)v)" },
    { "Neg", "-v" },
    { "Reciprocal", "1.0f / v" },
    { "Floor", "(float)floor((double)v)" },
    { "Ceil", "(float)ceil((double)v)" },
    { "Softplus", "(float)log1p(exp((double)v))" },
};

/* The expression of unary_exprs for op, or NULL. */
static const char *fixed_unary_expr(const char *op)
{
    for (size_t i = 0; i < sizeof unary_exprs / sizeof *unary_exprs; i++)
        if (!strcmp(unary_exprs[i].op, op))
            return unary_exprs[i].expr;
    return NULL;
}

static mof_status emit_elementwise(cpu_emit *e, const cpu_group *g)
{
    const mof_node *n = g->node;
    const char *op = mof_node_op_type(n);
    const cpu_tensor *y = cpu_emit_tensor(e, mof_node_output(n, 0));
    const cpu_tensor *ins[2];
    const char *names[2] = { "x0", "x1" };
    int n_in = in_list(op, binary_ops) ? 2 : 1;
    if (n_in == 2 && mof_node_n_inputs(n) != 2)
        return cpu_emit_error(e, n, MOF_ERR_UNSUPPORTED, "%s with %zu inputs", op,
                              mof_node_n_inputs(n));
    for (int k = 0; k < n_in; k++) {
        ins[k] = cpu_emit_tensor(e, mof_node_input(n, (size_t)k));
        PRUN("const float *x%d = %s;\n", k, in_expr(e, ins[k]));
    }
    PRUN("float *y = %s;\n", y->expr);
    if (n_in == 2 && !strcmp(op, "Pow") && ins[1]->numel == 1 && ins[1]->data &&
        ins[0]->numel == y->numel && mof_tensor_dtype(ins[1]->data) == MOF_DTYPE_FLOAT &&
        *(const float *)mof_tensor_data(ins[1]->data) == 2.0f) {
        /* x^2 (LayerNorm's variance): pow(x, 2.0) of a float is the exact double
         * product, so the float product rounds to the same value. */
        PRUN("{ int64_t i;\n(void)x1;\nfor (i = 0; i < %lld; i++)\n  y[i] = x0[i] * x0[i]; }\n",
             (long long)y->numel);
        return MOF_OK;
    }
    if (n_in == 2) {
        emit_broadcast_loops(e, y, ins, names, 2, op);
        return MOF_OK;
    }
    /* Unary. */
    float alpha = mof_node_attr_float(n, "alpha", 0), beta = mof_node_attr_float(n, "beta", 0);
    char expr[400];
    const char *fixed = fixed_unary_expr(op);
    if (fixed)
        snprintf(expr, sizeof expr, "%s", fixed);
    else if (!strcmp(op, "LeakyRelu"))
        snprintf(expr, sizeof expr, "v < 0 ? (float)%.9g * v : v",
                 (double)mof_node_attr_float(n, "alpha", 0.01f));
    else if (!strcmp(op, "Clip")) {
        float lo = -INFINITY, hi = INFINITY;
        if (mof_node_has_attr(n, "min"))
            lo = mof_node_attr_float(n, "min", lo);
        if (mof_node_has_attr(n, "max"))
            hi = mof_node_attr_float(n, "max", hi);
        const cpu_tensor *tmin = opt_input(e, n, 1);
        const cpu_tensor *tmax = opt_input(e, n, 2);
        if (tmin && tmin->data)
            lo = *(const float *)mof_tensor_data(tmin->data);
        if (tmax && tmax->data)
            hi = *(const float *)mof_tensor_data(tmax->data);
        snprintf(expr, sizeof expr, "v < (float)%.9g ? (float)%.9g : (v > (float)%.9g ? (float)%.9g : v)",
                 isinf(lo) ? -3.4e38 : (double)lo, isinf(lo) ? -3.4e38 : (double)lo,
                 isinf(hi) ? 3.4e38 : (double)hi, isinf(hi) ? 3.4e38 : (double)hi);
    } else if (!strcmp(op, "HardSigmoid"))
        snprintf(expr, sizeof expr, "(float)((t_ = %.9g * v + %.9g) < 0 ? 0 : (t_ > 1 ? 1 : t_))",
                 (double)mof_node_attr_float(n, "alpha", 0.2f),
                 (double)mof_node_attr_float(n, "beta", 0.5f));
    else if (!strcmp(op, "Gelu")) {
        const char *approx = mof_node_attr_string(n, "approximate", "none", NULL);
        if (!strcmp(approx, "tanh"))
            snprintf(expr, sizeof expr, "(float)(0.5 * v * (1.0 + tanh(0.7978845608028654 * "
                     "((double)v + 0.044715 * (double)v * v * v))))");
        else
            snprintf(expr, sizeof expr, "(float)(0.5 * v * (1.0 + erf((double)v * "
                     "0.7071067811865476)))");
    } else if (!strcmp(op, "Elu"))
        snprintf(expr, sizeof expr, "v < 0 ? (float)(%.9g * expm1((double)v)) : v",
                 (double)mof_node_attr_float(n, "alpha", 1.0f));
    else
        return cpu_emit_error(e, n, MOF_ERR_UNSUPPORTED, "unary op %s", op);
    (void)alpha;
    (void)beta;
    PRUN("{ int64_t i;%s\nfor (i = 0; i < %lld; i++) { float v = x0[i]; y[i] = %s; } }\n",
         strstr(expr, "t_") ? " double t_;" : "", (long long)y->numel, expr);
    return MOF_OK;
}

/* ------------------------------------------------------------------ pooling */

static mof_status emit_pool(cpu_emit *e, const cpu_group *g)
{
    const mof_node *n = g->node;
    const char *op = mof_node_op_type(n), *rt = cpu_emit_rt_prefix(e);
    const cpu_tensor *x = cpu_emit_tensor(e, mof_node_input(n, 0));
    const cpu_tensor *y = cpu_emit_tensor(e, mof_node_output(n, 0));
    if (x->rank != 4)
        return cpu_emit_error(e, n, MOF_ERR_UNSUPPORTED, "only 2-D pooling (NCHW) is implemented");
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    if (!strncmp(op, "Global", 6)) {
        bool mx = !strcmp(op, "GlobalMaxPool");
        PRUN("{ int64_t c, i; const float *x = %s; float *y = %s; const int64_t hw_ = %lld;\n"
             "for (c = 0; c < %lld; c++) { double s = %s; const float *xc = x + c * %lld;\n"
             "  for (i = 0; i < %lld; i++) %s;\n  y[c] = (float)%s; } }\n",
             in_expr(e, x), y->expr, (long long)(H * W), (long long)(N * C), mx ? "-INFINITY" : "0",
             (long long)(H * W), (long long)(H * W),
             mx ? "s = xc[i] > s || xc[i] != xc[i] ? xc[i] : s" : "s += xc[i]",
             mx ? "s" : "(s / (double)hw_)");
        return MOF_OK;
    }
    size_t cnt;
    const int64_t *k = mof_node_attr_ints(n, "kernel_shape", &cnt);
    int64_t KH = k[0], KW = k[1];
    const int64_t *s = mof_node_attr_ints(n, "strides", &cnt);
    int64_t SH = cnt == 2 ? s[0] : 1, SW = cnt == 2 ? s[1] : 1;
    const int64_t *d = mof_node_attr_ints(n, "dilations", &cnt);
    int64_t DH = cnt == 2 ? d[0] : 1, DW = cnt == 2 ? d[1] : 1;
    const int64_t *pads = mof_node_attr_ints(n, "pads", &cnt);
    int64_t PH = cnt == 4 ? pads[0] : 0, PW = cnt == 4 ? pads[1] : 0;
    int64_t OH = y->dims[2], OW = y->dims[3];
    const char *autopad = mof_node_attr_string(n, "auto_pad", "NOTSET", NULL);
    if (!strcmp(autopad, "SAME_UPPER") || !strcmp(autopad, "SAME_LOWER")) {
        int64_t th = (OH - 1) * SH + (KH - 1) * DH + 1 - H, tw = (OW - 1) * SW + (KW - 1) * DW + 1 - W;
        th = th < 0 ? 0 : th;
        tw = tw < 0 ? 0 : tw;
        PH = !strcmp(autopad, "SAME_UPPER") ? th / 2 : th - th / 2;
        PW = !strcmp(autopad, "SAME_UPPER") ? tw / 2 : tw - tw / 2;
    }
    const char *id = cpu_emit_node_id(e, n);
    PDECL("static const %s_pool2d %s_p = { %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, "
          "%lld, %lld, %lld, %lld, %lld, %d, %d };\n",
          rt, id, (long long)N, (long long)C, (long long)H, (long long)W, (long long)OH,
          (long long)OW, (long long)KH, (long long)KW, (long long)SH, (long long)SW,
          (long long)PH, (long long)PW, (long long)DH, (long long)DW,
          !strcmp(op, "MaxPool"), (int)mof_node_attr_int(n, "count_include_pad", 0));
    PRUN("%s_pool2d_run(P, &%s_p, %s, %s);\n", rt, id, in_expr(e, x), y->expr);
    return MOF_OK;
}

/* ------------------------------------------------------------------ data movement */

/* Copies with nested loops: y[dst_off + sum i_d * ds_d] = x[src_off + sum i_d * ss_d]. */
static void emit_copy(cpu_emit *e, const char *ctype, int rank, const int64_t *dims,
                      const char *src, int64_t src_off, const int64_t *ss, const char *dst,
                      int64_t dst_off, const int64_t *ds)
{
    /* Inner contiguous run: memcpy. */
    int r = rank;
    int64_t run = 1;
    while (r > 0 && ss[r - 1] == run && ds[r - 1] == run) {
        run *= dims[r - 1];
        r--;
    }
    PRUN("{ const %s *src = (const %s *)(%s) + %lld; %s *dst = (%s *)(%s) + %lld;\n", ctype,
         ctype, src, (long long)src_off, ctype, ctype, dst, (long long)dst_off);
    if (r == 0) {
        PRUN("memcpy(dst, src, %lld * sizeof *dst); }\n", (long long)run);
        return;
    }
    PRUN("int64_t i0");
    for (int d = 1; d < r; d++)
        PRUN(", i%d", d);
    PRUN(";\n");
    for (int d = 0; d < r; d++)
        PRUN("for (i%d = 0; i%d < %lld; i%d++)\n", d, d, (long long)dims[d], d);
    char si[256] = "0", di[256] = "0";
    size_t sl = 1, dl = 1;
    for (int d = 0; d < r; d++) {
        sl += (size_t)snprintf(si + sl, sizeof si - sl, " + i%d * %lld", d, (long long)ss[d]);
        dl += (size_t)snprintf(di + dl, sizeof di - dl, " + i%d * %lld", d, (long long)ds[d]);
    }
    if (run > 1)
        PRUN("memcpy(dst + %s, src + %s, %lld * sizeof *dst); }\n", di, si, (long long)run);
    else
        PRUN("dst[%s] = src[%s]; }\n", di, si);
}

static void strides_of(const cpu_tensor *t, int64_t *s)
{
    int64_t st = 1;
    for (int d = t->rank - 1; d >= 0; d--) {
        s[d] = st;
        st *= t->dims[d];
    }
}

static mof_status emit_move(cpu_emit *e, const cpu_group *g)
{
    const mof_node *n = g->node;
    const char *op = mof_node_op_type(n);
    const cpu_tensor *x = cpu_emit_tensor(e, mof_node_input(n, 0));
    const cpu_tensor *y = cpu_emit_tensor(e, mof_node_output(n, 0));
    int64_t xs[CPU_MAX_RANK], ys[CPU_MAX_RANK];
    strides_of(x, xs);
    if (!strcmp(op, "Reshape") || !strcmp(op, "Flatten") || !strcmp(op, "Squeeze") ||
        !strcmp(op, "Unsqueeze") || !strcmp(op, "Identity")) {
        PRUN("memcpy(%s, %s, %zu);\n", y->expr, in_expr(e, x), y->nbytes);
        return MOF_OK;
    }
    if (!strcmp(op, "Transpose")) {
        size_t cnt = 0;
        const int64_t *perm = mof_node_attr_ints(n, "perm", &cnt);
        int64_t ss[CPU_MAX_RANK];
        strides_of(y, ys);
        for (int d = 0; d < y->rank; d++)
            ss[d] = xs[cnt ? perm[d] : y->rank - 1 - d];
        emit_copy(e, y->ctype, y->rank, y->dims, in_expr(e, x), 0, ss, y->expr, 0, ys);
        return MOF_OK;
    }
    if (!strcmp(op, "Concat")) {
        int64_t axis = mof_node_attr_int(n, "axis", 0);
        if (axis < 0)
            axis += y->rank;
        strides_of(y, ys);
        int64_t off = 0;
        for (size_t i = 0; i < mof_node_n_inputs(n); i++) {
            const cpu_tensor *t = cpu_emit_tensor(e, mof_node_input(n, i));
            int64_t ts[CPU_MAX_RANK];
            strides_of(t, ts);
            if (t->numel)
                emit_copy(e, y->ctype, t->rank, t->dims, in_expr(e, t), 0, ts, y->expr,
                          off * ys[axis], ys);
            off += t->dims[axis];
        }
        return MOF_OK;
    }
    if (!strcmp(op, "Split")) {
        int64_t axis = mof_node_attr_int(n, "axis", 0);
        if (axis < 0)
            axis += x->rank;
        int64_t off = 0;
        for (size_t i = 0; i < mof_node_n_outputs(n); i++) {
            const cpu_tensor *t = cpu_emit_tensor(e, mof_node_output(n, i));
            if (!t)
                continue;
            int64_t ts[CPU_MAX_RANK];
            strides_of(t, ts);
            if (t->numel)
                emit_copy(e, t->ctype, t->rank, t->dims, in_expr(e, x), off * xs[axis], xs,
                          t->expr, 0, ts);
            off += t->dims[axis];
        }
        return MOF_OK;
    }
    if (!strcmp(op, "Slice")) {
        int64_t starts[CPU_MAX_RANK], ends[CPU_MAX_RANK], axes[CPU_MAX_RANK], steps[CPU_MAX_RANK];
        int64_t ns = const_ints(mof_node_input(n, 1), starts, CPU_MAX_RANK);
        int64_t ne = const_ints(mof_node_input(n, 2), ends, CPU_MAX_RANK);
        int64_t na = mof_node_n_inputs(n) > 3 && mof_node_input(n, 3)
                         ? const_ints(mof_node_input(n, 3), axes, CPU_MAX_RANK) : ns;
        if (!(mof_node_n_inputs(n) > 3 && mof_node_input(n, 3)))
            for (int64_t i = 0; i < ns; i++)
                axes[i] = i;
        int64_t nst = mof_node_n_inputs(n) > 4 && mof_node_input(n, 4)
                          ? const_ints(mof_node_input(n, 4), steps, CPU_MAX_RANK) : ns;
        if (!(mof_node_n_inputs(n) > 4 && mof_node_input(n, 4)))
            for (int64_t i = 0; i < ns; i++)
                steps[i] = 1;
        if (ns < 0 || ne != ns || na != ns || nst != ns)
            return cpu_emit_error(e, n, MOF_ERR_UNSUPPORTED, "Slice with bad constant inputs");
        int64_t st[CPU_MAX_RANK], step[CPU_MAX_RANK];
        for (int d = 0; d < x->rank; d++) {
            st[d] = 0;
            step[d] = 1;
        }
        for (int64_t i = 0; i < ns; i++) {
            int64_t a = axes[i] < 0 ? axes[i] + x->rank : axes[i];
            int64_t dim = x->dims[a], s0 = starts[i];
            step[a] = steps[i];
            if (s0 < 0)
                s0 += dim;
            if (steps[i] > 0)
                s0 = s0 < 0 ? 0 : (s0 > dim ? dim : s0);
            else
                s0 = s0 < 0 ? -1 : (s0 > dim - 1 ? dim - 1 : s0);
            st[a] = s0;
        }
        int64_t off = 0, ss[CPU_MAX_RANK];
        for (int d = 0; d < x->rank; d++) {
            off += st[d] * xs[d];
            ss[d] = step[d] * xs[d];
        }
        strides_of(y, ys);
        if (y->numel)
            emit_copy(e, y->ctype, y->rank, y->dims, in_expr(e, x), off, ss, y->expr, 0, ys);
        return MOF_OK;
    }
    if (!strcmp(op, "Gather")) {
        const cpu_tensor *it = cpu_emit_tensor(e, mof_node_input(n, 1));
        int64_t axis = mof_node_attr_int(n, "axis", 0);
        if (axis < 0)
            axis += x->rank;
        int64_t outer = 1, inner = 1, ni = it->numel;
        for (int d = 0; d < axis; d++)
            outer *= x->dims[d];
        for (int d = (int)axis + 1; d < x->rank; d++)
            inner *= x->dims[d];
        const char *id = cpu_emit_node_id(e, n);
        PDECL("static const int64_t %s_idx[%lld] = {", id, (long long)(ni ? ni : 1));
        for (int64_t i = 0; i < ni; i++) {
            int64_t v = it->dtype == MOF_DTYPE_INT64
                            ? ((const int64_t *)mof_tensor_data(it->data))[i]
                            : ((const int32_t *)mof_tensor_data(it->data))[i];
            if (v < 0)
                v += x->dims[axis];
            if (v < 0 || v >= x->dims[axis])
                return cpu_emit_error(e, n, MOF_ERR_INVALID_ARG, "Gather index %lld out of range",
                                      (long long)v);
            PDECL("%s%lld", i ? "," : "", (long long)v);
        }
        if (!ni)
            PDECL("0");
        PDECL("};\n");
        PRUN("{ int64_t o, j; const %s *src = %s; %s *dst = %s;\n"
             "for (o = 0; o < %lld; o++) for (j = 0; j < %lld; j++)\n"
             "  memcpy(dst + (o * %lld + j) * %lld, src + (o * %lld + %s_idx[j]) * %lld, %lld * sizeof *dst); }\n",
             x->ctype, in_expr(e, x), y->ctype, y->expr, (long long)outer, (long long)ni,
             (long long)ni, (long long)inner, (long long)x->dims[axis], id, (long long)inner,
             (long long)inner);
        return MOF_OK;
    }
    return cpu_emit_error(e, n, MOF_ERR_UNSUPPORTED, "op %s", op);
}

/* ------------------------------------------------------------------ rows */

static mof_status emit_rows(cpu_emit *e, const cpu_group *g)
{
    const mof_node *n = g->node;
    const char *op = mof_node_op_type(n), *rt = cpu_emit_rt_prefix(e);
    const cpu_tensor *x = cpu_emit_tensor(e, mof_node_input(n, 0));
    const cpu_tensor *y = cpu_emit_tensor(e, mof_node_output(n, 0));
    int r = x->rank;
    if (!strcmp(op, "Softmax") || !strcmp(op, "LogSoftmax")) {
        int64_t axis = mof_node_attr_int(n, "axis", opset(n) >= 13 ? -1 : 1);
        if (axis < 0)
            axis += r;
        int64_t outer = 1, len = 1, inner = 1;
        if (opset(n) >= 13) {
            for (int d = 0; d < axis; d++)
                outer *= x->dims[d];
            len = x->dims[axis];
            for (int d = (int)axis + 1; d < r; d++)
                inner *= x->dims[d];
        } else {
            for (int d = 0; d < axis; d++)
                outer *= x->dims[d];
            for (int d = (int)axis; d < r; d++)
                len *= x->dims[d];
        }
        PRUN("%s_softmax(%s, %s, %lld, %lld, %lld, %d);\n", rt, in_expr(e, x), y->expr,
             (long long)outer, (long long)len, (long long)inner, !strcmp(op, "LogSoftmax"));
        return MOF_OK;
    }
    if (strstr(op, "LayerNormalization")) {
        int64_t axis = mof_node_attr_int(n, "axis", -1);
        if (axis < 0)
            axis += r;
        int64_t outer = 1, len = 1;
        for (int d = 0; d < axis; d++)
            outer *= x->dims[d];
        for (int d = (int)axis; d < r; d++)
            len *= x->dims[d];
        const cpu_tensor *sc = cpu_emit_tensor(e, mof_node_input(n, 1));
        const cpu_tensor *bi = opt_input(e, n, 2);
        if (sc->numel != len || (bi && bi->numel != len))
            return cpu_emit_error(e, n, MOF_ERR_UNSUPPORTED,
                                  "LayerNormalization with broadcast scale or bias");
        PRUN("%s_layernorm(%s, %s, %s, %s, %lld, %lld, (float)%.9g);\n", rt, in_expr(e, x),
             in_expr(e, sc), bi ? in_expr(e, bi) : "NULL", y->expr, (long long)outer,
             (long long)len, (double)mof_node_attr_float(n, "epsilon", 1e-5f));
        return MOF_OK;
    }
    if (!strncmp(op, "Reduce", 6)) {
        bool red[CPU_MAX_RANK] = { false };
        int64_t axes[CPU_MAX_RANK];
        int64_t na = -1;
        size_t cnt = 0;
        const int64_t *aa = mof_node_attr_ints(n, "axes", &cnt);
        if (cnt) {
            na = (int64_t)cnt;
            for (size_t i = 0; i < cnt && i < CPU_MAX_RANK; i++)
                axes[i] = aa[i];
        } else if (mof_node_n_inputs(n) > 1 && mof_node_input(n, 1)) {
            na = const_ints(mof_node_input(n, 1), axes, CPU_MAX_RANK);
            if (na < 0)
                return cpu_emit_error(e, n, MOF_ERR_UNSUPPORTED, "%s needs constant axes", op);
        }
        if (na <= 0) {
            if (mof_node_attr_int(n, "noop_with_empty_axes", 0)) {
                PRUN("memcpy(%s, %s, %zu);\n", y->expr, in_expr(e, x), y->nbytes);
                return MOF_OK;
            }
            for (int d = 0; d < r; d++)
                red[d] = true;
        }
        for (int64_t i = 0; i < na; i++)
            red[axes[i] < 0 ? axes[i] + r : axes[i]] = true;
        int first = -1, last = -1;
        for (int d = 0; d < r; d++)
            if (red[d] && x->dims[d] != 1) {
                if (first < 0)
                    first = d;
                last = d;
            }
        int64_t outer = 1, len = 1, inner = 1;
        for (int d = 0; d < r; d++) {
            if (first < 0 || d < first)
                outer *= x->dims[d];
            else if (d <= last) {
                if (!red[d] && x->dims[d] != 1)
                    return cpu_emit_error(e, n, MOF_ERR_UNSUPPORTED,
                                          "%s over non-adjacent axes is not implemented", op);
                len *= x->dims[d];
            } else
                inner *= x->dims[d];
        }
        int kind = !strcmp(op, "ReduceSum") ? 0 : !strcmp(op, "ReduceMean") ? 1
                 : !strcmp(op, "ReduceMax") ? 2 : 3;
        if (first < 0 && kind == 1)
            kind = 1; /* mean over size-1 axes: a copy through the kernel */
        PRUN("%s_reduce(%s, %s, %lld, %lld, %lld, %d);\n", rt, in_expr(e, x), y->expr,
             (long long)outer, (long long)len, (long long)inner, kind);
        return MOF_OK;
    }
    if (!strcmp(op, "BatchNormalization")) {
        const float *sc = mof_tensor_data(cpu_emit_tensor(e, mof_node_input(n, 1))->data);
        const float *bb = mof_tensor_data(cpu_emit_tensor(e, mof_node_input(n, 2))->data);
        const float *mu = mof_tensor_data(cpu_emit_tensor(e, mof_node_input(n, 3))->data);
        const float *va = mof_tensor_data(cpu_emit_tensor(e, mof_node_input(n, 4))->data);
        double eps = mof_node_attr_float(n, "epsilon", 1e-5f);
        int64_t C = r > 1 ? x->dims[1] : 1, inner = 1;
        for (int d = 2; d < r; d++)
            inner *= x->dims[d];
        float *ab = malloc((size_t)(2 * C) * sizeof *ab);
        if (!ab)
            return cpu_emit_error(e, n, MOF_ERR_NOMEM, "out of memory");
        for (int64_t c = 0; c < C; c++) {
            double s = sc[c] / sqrt((double)va[c] + eps);
            ab[c] = (float)s;
            ab[C + c] = (float)(bb[c] - mu[c] * s);
        }
        size_t off;
        mof_status st = add_floats(e, ab, (size_t)(2 * C), &off);
        free(ab);
        if (st != MOF_OK)
            return st;
        PRUN("{ int64_t o, c, i; const float *x = %s; float *y = %s; const float *ab = (const float *)(W + %zu);\n"
             "for (o = 0; o < %lld; o++) for (c = 0; c < %lld; c++) for (i = 0; i < %lld; i++) {\n"
             "  int64_t k = (o * %lld + c) * %lld + i; y[k] = x[k] * ab[c] + ab[%lld + c]; } }\n",
             in_expr(e, x), y->expr, off, (long long)(x->dims[0]), (long long)C, (long long)inner,
             (long long)C, (long long)inner, (long long)C);
        return MOF_OK;
    }
    return cpu_emit_error(e, n, MOF_ERR_UNSUPPORTED, "op %s", op);
}

/* ------------------------------------------------------------------ entry points */

static mof_status portable_begin(cpu_emit *e)
{
    const char *files[] = { "mofrt_gemm.h", "mofrt_gemm.c", "mofrt_conv.h", "mofrt_conv.c",
                            "mofrt_ops.h", "mofrt_ops.c" };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        mof_status st = cpu_emit_runtime(e, files[i]);
        if (st != MOF_OK)
            return st;
    }
    return MOF_OK;
}

static mof_status portable_emit(cpu_emit *e, const cpu_group *g)
{
    const mof_node *n = g->node;
    const char *op = mof_node_op_type(n);
    if (is_op(n, "", "Conv") || is_op(n, "mof", "FusedConv"))
        return emit_conv(e, g);
    if (is_op(n, "", "Gemm") || is_op(n, "mof", "FusedGemm"))
        return emit_gemm(e, g);
    if (is_op(n, "", "MatMul") || is_op(n, "mof", "FusedMatMul"))
        return emit_matmul(e, g);
    if (in_list(op, unary_ops) || in_list(op, binary_ops))
        return emit_elementwise(e, g);
    if (strstr(op, "Pool"))
        return emit_pool(e, g);
    if (in_list(op, move_ops))
        return emit_move(e, g);
    return emit_rows(e, g);
}

const cpu_provider cpu_provider_portable = {
    .name = "portable",
    .summary = "self-contained C99 kernels (packed SGEMM, direct depthwise), libm only",
    .flags = CPU_PROVIDER_SELECTABLE,
    .supports = portable_supports,
    .accepts_post = portable_accepts_post,
    .emit = portable_emit,
    .begin = portable_begin,
    .ops = portable_ops,
};
