/* emit_int8.c: the cpu backend's int8 provider (auxiliary: consulted whatever
 * kernels= says, before portable). It computes QLinearConv, QLinearMatMul,
 * QuantizeLinear, DequantizeLinear and Max of an 8-bit tensor with a constant scalar
 * (the Relu that qdq.c leaves after an integer op), with the kernels of
 * runtime/mofrt_int8.c, whose arithmetic is the reference interpreter's bit for bit.
 *
 * Weights are packed at emit time (mofrt_i8_pack_weights, the runtime's own inline
 * code) into the weight blob as int16 minus their zero point; the requantization
 * multipliers are computed here as the interpreter computes them (float, x_scale *
 * w_scale / y_scale) and written as hexadecimal float literals, so the artifact reads
 * exactly those floats. QDQ models reach this provider through qdq.c, which the
 * backend runs first on its copy of the model. */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "provider.h"
#include "qdq.h"
#include "runtime/mofrt_int8.h"

/* ------------------------------------------------------------------ constants */

static const mof_tensor *cst(const mof_node *n, size_t i)
{
    const mof_value *v = i < mof_node_n_inputs(n) ? mof_node_input(n, i) : NULL;
    return v && mof_value_is_constant(v) ? mof_value_tensor(v) : NULL;
}

static bool present(const mof_node *n, size_t i)
{
    return i < mof_node_n_inputs(n) && mof_node_input(n, i);
}

static bool is_8bit(mof_dtype t)
{
    return t == MOF_DTYPE_UINT8 || t == MOF_DTYPE_INT8;
}

static bool is_f32(const mof_tensor *t)
{
    return t && mof_tensor_dtype(t) == MOF_DTYPE_FLOAT;
}

static float f32_at(const mof_tensor *t, int64_t i)
{
    return ((const float *)mof_tensor_data(t))[mof_tensor_numel(t) == 1 ? 0 : i];
}

/* Element i of an integer tensor (8-bit or int32), broadcasting a single value. */
static int32_t int_at(const mof_tensor *t, int64_t i)
{
    if (mof_tensor_numel(t) == 1)
        i = 0;
    switch (mof_tensor_dtype(t)) {
    case MOF_DTYPE_UINT8: return ((const uint8_t *)mof_tensor_data(t))[i];
    case MOF_DTYPE_INT8: return ((const int8_t *)mof_tensor_data(t))[i];
    case MOF_DTYPE_INT32: return ((const int32_t *)mof_tensor_data(t))[i];
    default: return 0;
    }
}

/* A value's dtype, from its type or its constant. */
static mof_dtype dtype_of(const mof_node *n, size_t i)
{
    const mof_value *v = i < mof_node_n_inputs(n) ? mof_node_input(n, i) : NULL;
    return v && mof_value_has_type(v) ? mof_value_dtype(v) : MOF_DTYPE_UNDEFINED;
}

/* Checks the scales and zero points of a QLinear op: x (1, 2) and y (6, 7) per tensor,
 * w (4, 5) per tensor or `channels` values (channels < 0: not known yet), every
 * multiplier finite. */
static bool check_qlinear(const mof_node *n, int64_t channels, const char **why)
{
    const mof_tensor *xs = cst(n, 1), *xz = cst(n, 2), *w = cst(n, 3), *ws = cst(n, 4);
    const mof_tensor *wz = cst(n, 5), *ys = cst(n, 6), *yz = cst(n, 7);
    if (!xs || !xz || !w || !ws || !wz || !ys || !yz) {
        *why = "the weights, scales and zero points must be constants";
        return false;
    }
    if (!is_f32(xs) || !is_f32(ws) || !is_f32(ys)) {
        *why = "scales must be float";
        return false;
    }
    if (!is_8bit(mof_tensor_dtype(xz)) || !is_8bit(mof_tensor_dtype(w)) ||
        mof_tensor_dtype(wz) != mof_tensor_dtype(w) || !is_8bit(mof_tensor_dtype(yz))) {
        *why = "operands must be int8 or uint8";
        return false;
    }
    if (mof_tensor_numel(xs) != 1 || mof_tensor_numel(xz) != 1 || mof_tensor_numel(ys) != 1 ||
        mof_tensor_numel(yz) != 1) {
        *why = "only a per-tensor input and output quantization is implemented";
        return false;
    }
    if (channels < 0)
        channels = mof_tensor_numel(ws);
    if ((mof_tensor_numel(ws) != 1 && mof_tensor_numel(ws) != channels) ||
        (mof_tensor_numel(wz) != 1 && mof_tensor_numel(wz) != channels)) {
        *why = "the weights' scale and zero point must hold one value or one per channel";
        return false;
    }
    for (int64_t m = 0; m < mof_tensor_numel(ws); m++)
        if (!isfinite(mofrt_i8_multiplier(f32_at(xs, 0), f32_at(ws, m), f32_at(ys, 0)))) {
            *why = "a requantization multiplier is not finite";
            return false;
        }
    return true;
}

/* ------------------------------------------------------------------ supports */

static bool supports_conv(const mof_node *n, const char **why)
{
    const mof_tensor *w = cst(n, 3), *b = present(n, 8) ? cst(n, 8) : NULL;
    if (!w || (mof_tensor_rank(w) != 4 && mof_tensor_rank(w) != 3)) {
        *why = "only a 1-D or 2-D QLinearConv with constant weights is implemented";
        return false;
    }
    if (present(n, 8) && (!b || mof_tensor_dtype(b) != MOF_DTYPE_INT32)) {
        *why = "the bias must be a constant int32 vector";
        return false;
    }
    return check_qlinear(n, mof_tensor_dims(w)[0], why);
}

static bool supports_matmul(const mof_node *n, const char **why)
{
    const mof_tensor *b = cst(n, 3), *bs = cst(n, 4), *bz = cst(n, 5);
    if (!b || mof_tensor_rank(b) != 2) {
        *why = "only a QLinearMatMul by constant 2-D weights is implemented";
        return false;
    }
    if ((bs && mof_tensor_numel(bs) > 1 && mof_tensor_rank(bs) != 1) ||
        (bz && mof_tensor_numel(bz) > 1 && mof_tensor_rank(bz) != 1)) {
        *why = "the weights' scale must be one value or one per column";
        return false;
    }
    return check_qlinear(n, mof_tensor_dims(b)[1], why);
}

/* Scale and zero point of QuantizeLinear / DequantizeLinear: constants, per tensor or
 * 1-D per axis, the zero point's type `zt` (or absent). */
static bool check_qdq_params(const mof_node *n, const char **why)
{
    const mof_tensor *s = cst(n, 1), *z = present(n, 2) ? cst(n, 2) : NULL;
    if (!is_f32(s) || (present(n, 2) && !z)) {
        *why = "the scale (float) and zero point must be constants";
        return false;
    }
    if (mof_node_attr_int(n, "block_size", 0) != 0) {
        *why = "blocked quantization is not implemented";
        return false;
    }
    if (mof_tensor_numel(s) != 1 && mof_tensor_rank(s) != 1) {
        *why = "the scale must be a scalar or 1-D";
        return false;
    }
    if (z && mof_tensor_numel(z) != mof_tensor_numel(s)) {
        *why = "the zero point and the scale differ in shape";
        return false;
    }
    return true;
}

static bool supports_quantize(const mof_node *n, const char **why)
{
    const mof_tensor *z = present(n, 2) ? cst(n, 2) : NULL;
    if (dtype_of(n, 0) != MOF_DTYPE_FLOAT) {
        *why = "only float inputs are quantized";
        return false;
    }
    if (!check_qdq_params(n, why))
        return false;
    if (z ? !is_8bit(mof_tensor_dtype(z))
          : mof_node_attr_int(n, "output_dtype", 0) > 0 &&
                mof_node_attr_int(n, "output_dtype", 0) != MOF_DTYPE_UINT8) {
        *why = "only int8 and uint8 outputs are implemented";
        return false;
    }
    return true;
}

static bool supports_dequantize(const mof_node *n, const char **why)
{
    mof_dtype t = dtype_of(n, 0);
    if (!is_8bit(t) && t != MOF_DTYPE_INT32) {
        *why = "only int8, uint8 and int32 inputs are dequantized";
        return false;
    }
    return check_qdq_params(n, why);
}

/* Max(x, c) of an 8-bit x and a constant scalar c (either order). */
static bool supports_max(const mof_node *n, const char **why)
{
    if (mof_node_n_inputs(n) != 2 || !is_8bit(dtype_of(n, 0)) ||
        dtype_of(n, 0) != dtype_of(n, 1)) {
        *why = "only Max of two 8-bit operands is implemented";
        return false;
    }
    const mof_tensor *c0 = cst(n, 0), *c1 = cst(n, 1);
    if (!((c1 && mof_tensor_numel(c1) == 1) || (c0 && mof_tensor_numel(c0) == 1))) {
        *why = "only Max of an 8-bit tensor with a constant scalar is implemented";
        return false;
    }
    return true;
}

/* MaxPool of an 8-bit tensor: 2-D, floor mode, no Indices output. */
static bool supports_maxpool(const mof_node *n, const char **why)
{
    size_t cnt = 0;
    mof_node_attr_ints(n, "kernel_shape", &cnt);
    if (cnt != 2 || mof_node_attr_int(n, "ceil_mode", 0) != 0 ||
        (mof_node_n_outputs(n) > 1 && mof_node_output(n, 1))) {
        *why = "only a 2-D MaxPool in floor mode without indices is implemented for int8";
        return false;
    }
    const char *ap = mof_node_attr_string(n, "auto_pad", "NOTSET", NULL);
    if (strcmp(ap, "NOTSET") && strcmp(ap, "VALID")) {
        *why = "auto_pad SAME is not implemented for an int8 MaxPool";
        return false;
    }
    return true;
}

static bool int8_supports(const mof_node *n, const char **why)
{
    const char *op = mof_node_op_type(n), *d = mof_node_domain(n);
    *why = NULL;
    if (d && *d && strcmp(d, "ai.onnx"))
        return false;
    if (!strcmp(op, "QLinearConv"))
        return supports_conv(n, why);
    if (!strcmp(op, "QLinearMatMul"))
        return supports_matmul(n, why);
    if (!strcmp(op, "QuantizeLinear"))
        return supports_quantize(n, why);
    if (!strcmp(op, "DequantizeLinear"))
        return supports_dequantize(n, why);
    if (!strcmp(op, "Max") && is_8bit(dtype_of(n, 0)))
        return supports_max(n, why);
    if (!strcmp(op, "MaxPool")) {
        if (is_8bit(dtype_of(n, 0)))
            return supports_maxpool(n, why);
        return cpu_qdq_pool_lowerable(n);
    }
    /* The float op of a QDQ pattern: the backend lowers it (qdq.c) before emitting. */
    if (!strcmp(op, "Conv") || !strcmp(op, "Gemm") || !strcmp(op, "MatMul")) {
        const char *w = NULL;
        if (cpu_qdq_lowerable(n, &w))
            return true;
        return false;
    }
    return false;
}

/* ------------------------------------------------------------------ emit helpers */

/* The expression of a tensor read by the node (constants made available plain). */
static const char *expr(cpu_emit *e, const cpu_tensor *t)
{
    if (t->storage == CPU_STORAGE_WEIGHT)
        return cpu_emit_weight_expr(e, t);
    return t->expr;
}

/* Writes `static const float <id>_<name>[] = {...};` with exact hex literals. */
static void emit_floats(cpu_emit *e, const char *id, const char *name, int64_t n,
                        const float *v)
{
    cpu_emit_printf(e, CPU_SEC_DECLS, "static const float %s_%s[%lld] = {", id, name,
                    (long long)n);
    for (int64_t i = 0; i < n; i++)
        cpu_emit_printf(e, CPU_SEC_DECLS, "%s%s%a", i ? "," : "", i % 6 ? " " : "\n    ",
                        (double)v[i]);
    cpu_emit_printf(e, CPU_SEC_DECLS, "\n};\n");
}

static void emit_ints(cpu_emit *e, const char *id, const char *name, int64_t n,
                      const int32_t *v)
{
    cpu_emit_printf(e, CPU_SEC_DECLS, "static const int32_t %s_%s[%lld] = {", id, name,
                    (long long)n);
    for (int64_t i = 0; i < n; i++) {
        /* INT32_MIN has no literal of type int. */
        const char *sep = i % 10 ? " " : "\n    ";
        if (v[i] == INT32_MIN)
            cpu_emit_printf(e, CPU_SEC_DECLS, "%s%s(-2147483647 - 1)", i ? "," : "", sep);
        else
            cpu_emit_printf(e, CPU_SEC_DECLS, "%s%s%ld", i ? "," : "", sep, (long)v[i]);
    }
    cpu_emit_printf(e, CPU_SEC_DECLS, "\n};\n");
}

/* The output stage: multipliers, bias, zero point and clamp (lo, hi). */
static mof_status emit_out(cpu_emit *e, const char *id, const mof_node *n, int64_t channels,
                           char *decl, size_t declsize)
{
    const mof_tensor *xs = cst(n, 1), *ws = cst(n, 4), *ys = cst(n, 6), *yz = cst(n, 7);
    const mof_tensor *b = present(n, 8) && !strcmp(mof_node_op_type(n), "QLinearConv")
                              ? cst(n, 8) : NULL;
    float *mult = calloc((size_t)channels + 1, sizeof(float));
    int32_t *bias = b ? calloc((size_t)channels + 1, sizeof(int32_t)) : NULL;
    if (!mult || (b && !bias)) {
        free(mult);
        free(bias);
        return cpu_emit_error(e, n, MOF_ERR_NOMEM, "out of memory");
    }
    for (int64_t m = 0; m < channels; m++) {
        mult[m] = mofrt_i8_multiplier(f32_at(xs, 0), f32_at(ws, m), f32_at(ys, 0));
        if (bias)
            bias[m] = int_at(b, m);
    }
    emit_floats(e, id, "mult", channels, mult);
    if (bias)
        emit_ints(e, id, "bias", channels, bias);
    bool sgn = mof_tensor_dtype(yz) == MOF_DTYPE_INT8;
    snprintf(decl, declsize, "{%s_mult, %s%s, %ld, %d, %d, %d}", id, bias ? id : "NULL",
             bias ? "_bias" : "", (long)int_at(yz, 0), sgn ? -128 : 0, sgn ? 127 : 255, sgn);
    free(mult);
    free(bias);
    return MOF_OK;
}

/* Packs the weights into the blob; *off receives their offset. */
static mof_status pack_weights(cpu_emit *e, const mof_node *n, int64_t groups, int64_t m,
                               int64_t k, int transposed, size_t *off)
{
    const mof_tensor *w = cst(n, 3), *wz = cst(n, 5);
    size_t count = mofrt_i8_packed_size(groups, m, k);
    int16_t *packed = malloc(count * sizeof(int16_t));
    int32_t *zp = malloc((size_t)(groups * m) * sizeof(int32_t));
    mof_status st = MOF_ERR_NOMEM;
    if (packed && zp) {
        for (int64_t i = 0; i < groups * m; i++)
            zp[i] = int_at(wz, i);
        mofrt_i8_pack_weights(groups, m, k, mof_tensor_data(w),
                              mof_tensor_dtype(w) == MOF_DTYPE_INT8, zp, 1, transposed, packed);
        st = cpu_emit_add_blob(e, packed, count * sizeof(int16_t), off);
    }
    free(packed);
    free(zp);
    if (st == MOF_ERR_NOMEM)
        return cpu_emit_error(e, n, st, "out of memory");
    return st;
}

/* ------------------------------------------------------------------ QLinearConv */

static mof_status emit_conv(cpu_emit *e, const cpu_group *g)
{
    const mof_node *n = g->node;
    const char *id = cpu_emit_node_id(e, n), *rt = cpu_emit_rt_prefix(e);
    const cpu_tensor *x = cpu_emit_tensor(e, mof_node_input(n, 0));
    const mof_tensor *w = cst(n, 3), *xz = cst(n, 2);
    const cpu_tensor *y = g->out;
    const char *why = NULL;
    if (!x || !y || !supports_conv(n, &why))
        return cpu_emit_error(e, n, MOF_ERR_UNSUPPORTED, "%s", why ? why : "missing operand");
    int rank = x->rank;
    if (rank != (int)mof_tensor_rank(w) || (rank != 3 && rank != 4) || y->rank != rank)
        return cpu_emit_error(e, n, MOF_ERR_UNSUPPORTED, "input of rank %d", rank);
    bool one_d = rank == 3;
    int64_t S = one_d ? 1 : 2;
    int64_t in_h = one_d ? 1 : x->dims[2], in_w = x->dims[rank - 1];
    int64_t M = mof_tensor_dims(w)[0], kh = one_d ? 1 : mof_tensor_dims(w)[2];
    int64_t kw = mof_tensor_dims(w)[rank - 1];
    int64_t groups = mof_node_attr_int(n, "group", 1);
    if (groups < 1 || x->dims[1] % groups || M % groups ||
        mof_tensor_dims(w)[1] != x->dims[1] / groups)
        return cpu_emit_error(e, n, MOF_ERR_INVALID_MODEL, "group %lld does not fit the shapes",
                              (long long)groups);
    size_t cnt;
    const int64_t *st = mof_node_attr_ints(n, "strides", &cnt);
    int64_t sh = 1, sw = 1, dh = 1, dw = 1, pt = 0, pl = 0, pb = 0, pr = 0;
    if (st && (int64_t)cnt == S)
        sh = one_d ? 1 : st[0], sw = st[S - 1];
    const int64_t *di = mof_node_attr_ints(n, "dilations", &cnt);
    if (di && (int64_t)cnt == S)
        dh = one_d ? 1 : di[0], dw = di[S - 1];
    const int64_t *pa = mof_node_attr_ints(n, "pads", &cnt);
    if (pa && (int64_t)cnt == 2 * S) {
        if (one_d)
            pl = pa[0], pr = pa[1];
        else
            pt = pa[0], pl = pa[1], pb = pa[2], pr = pa[3];
    }
    const char *ap = mof_node_attr_string(n, "auto_pad", "NOTSET", NULL);
    int64_t oh = one_d ? 1 : y->dims[2], ow = y->dims[rank - 1];
    if (!strcmp(ap, "VALID")) {
        pt = pl = pb = pr = 0;
    } else if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
        bool upper = !strcmp(ap, "SAME_UPPER");
        int64_t th = (oh - 1) * sh + (kh - 1) * dh + 1 - in_h;
        int64_t tw = (ow - 1) * sw + (kw - 1) * dw + 1 - in_w;
        th = th > 0 ? th : 0;
        tw = tw > 0 ? tw : 0;
        pt = upper ? th / 2 : th - th / 2;
        pb = th - pt;
        pl = upper ? tw / 2 : tw - tw / 2;
        pr = tw - pl;
    } else if (strcmp(ap, "NOTSET")) {
        return cpu_emit_error(e, n, MOF_ERR_INVALID_MODEL, "unknown auto_pad '%s'", ap);
    }
    /* The output size the runtime computes must be the planned tensor's. */
    if ((in_h + pt + pb - (kh - 1) * dh - 1) / sh + 1 != oh ||
        (in_w + pl + pr - (kw - 1) * dw - 1) / sw + 1 != ow)
        return cpu_emit_error(e, n, MOF_ERR_INVALID_MODEL,
                              "the output shape does not match the convolution's geometry");
    char out[256];
    mof_status s;
    size_t woff;
    int64_t K = x->dims[1] / groups * kh * kw;
    if ((s = emit_out(e, id, n, M, out, sizeof out)) != MOF_OK ||
        (s = pack_weights(e, n, groups, M / groups, K, 0, &woff)) != MOF_OK)
        return s;
    mofrt_i8_conv p = {
        .n = x->dims[0], .c = x->dims[1], .h = in_h, .w = in_w, .m = M, .oh = oh, .ow = ow,
        .kh = kh, .kw = kw, .sh = sh, .sw = sw, .dh = dh, .dw = dw,
        .pt = pt, .pl = pl, .pb = pb, .pr = pr, .groups = groups,
        .x_signed = mof_tensor_dtype(xz) == MOF_DTYPE_INT8, .x_zp = int_at(xz, 0),
    };
    /* The u8 x s8 path: int8 weights with zero point 0, packed in quads, and the
     * bias corrected for the activation's zero point (mofrt_int8.h). */
    bool u8_path = mof_tensor_dtype(w) == MOF_DTYPE_INT8;
    for (int64_t m = 0; u8_path && m < M; m++)
        u8_path = int_at(cst(n, 5), m) == 0;
    size_t w8off = 0;
    if (u8_path) {
        const mof_tensor *b = present(n, 8) ? cst(n, 8) : NULL;
        size_t n8 = mofrt_i8_packed8_size(groups, M / groups, K);
        int8_t *w8 = malloc(n8);
        int32_t *bu8 = calloc((size_t)M + 1, sizeof(int32_t));
        if (!w8 || !bu8) {
            free(w8);
            free(bu8);
            return cpu_emit_error(e, n, MOF_ERR_NOMEM, "out of memory");
        }
        mofrt_i8_pack_weights8(groups, M / groups, K, mof_tensor_data(w), w8);
        mofrt_i8_bias_u8(M, K, mof_tensor_data(w), b ? mof_tensor_data(b) : NULL,
                         p.x_zp + (p.x_signed ? 128 : 0), bu8);
        s = cpu_emit_add_blob(e, w8, n8, &w8off);
        if (s == MOF_OK)
            emit_ints(e, id, "bias_u8", M, bu8);
        free(w8);
        free(bu8);
        if (s != MOF_OK)
            return s;
    }
    cpu_emit_printf(e, CPU_SEC_DECLS,
                    "static const %s_i8_conv %s_conv = {\n"
                    "    %lld, %lld, %lld, %lld, %lld, %lld, %lld,\n"
                    "    %lld, %lld, %lld, %lld, %lld, %lld,\n"
                    "    %lld, %lld, %lld, %lld, %lld,\n"
                    "    %d, %d, %s, %s%s\n};\n",
                    rt, id, (long long)p.n, (long long)p.c, (long long)p.h, (long long)p.w,
                    (long long)p.m, (long long)p.oh, (long long)p.ow, (long long)p.kh,
                    (long long)p.kw, (long long)p.sh, (long long)p.sw, (long long)p.dh,
                    (long long)p.dw, (long long)p.pt, (long long)p.pl, (long long)p.pb,
                    (long long)p.pr, (long long)p.groups, p.x_signed, p.x_zp, out,
                    u8_path ? id : "NULL", u8_path ? "_bias_u8" : "");
    /* The scratch size is the runtime's, computed here with the same inline code. */
    cpu_emit_scratch(e, mofrt_i8_conv_scratch(&p, cpu_emit_threads(e)));
    char w8expr[48] = "NULL";
    if (u8_path)
        snprintf(w8expr, sizeof w8expr, "(const int8_t *)(W + %zu)", w8off);
    cpu_emit_printf(e, CPU_SEC_RUN,
                    "%s_i8_conv_run(&%s_conv, (const int16_t *)(W + %zu), %s, %s, %s, S, P);\n",
                    rt, id, woff, w8expr, expr(e, x), y->expr);
    return MOF_OK;
}

/* ------------------------------------------------------------------ QLinearMatMul */

static mof_status emit_matmul(cpu_emit *e, const cpu_group *g)
{
    const mof_node *n = g->node;
    const char *id = cpu_emit_node_id(e, n), *rt = cpu_emit_rt_prefix(e);
    const cpu_tensor *a = cpu_emit_tensor(e, mof_node_input(n, 0));
    const mof_tensor *b = cst(n, 3), *az = cst(n, 2);
    const cpu_tensor *y = g->out;
    const char *why = NULL;
    if (!a || !y || !supports_matmul(n, &why))
        return cpu_emit_error(e, n, MOF_ERR_UNSUPPORTED, "%s", why ? why : "missing operand");
    int64_t K = mof_tensor_dims(b)[0], N = mof_tensor_dims(b)[1];
    if (a->rank < 1 || a->dims[a->rank - 1] != K)
        return cpu_emit_error(e, n, MOF_ERR_INVALID_MODEL, "the inner dims differ");
    char out[256];
    mof_status s;
    size_t woff;
    if ((s = emit_out(e, id, n, N, out, sizeof out)) != MOF_OK ||
        (s = pack_weights(e, n, 1, N, K, 1, &woff)) != MOF_OK)
        return s;
    mofrt_i8_matmul p = {
        .rows = a->numel / K, .k = K, .n = N,
        .a_signed = mof_tensor_dtype(az) == MOF_DTYPE_INT8, .a_zp = int_at(az, 0),
    };
    cpu_emit_printf(e, CPU_SEC_DECLS,
                    "static const %s_i8_matmul %s_mm = {%lld, %lld, %lld, %d, %d, %s};\n", rt, id,
                    (long long)p.rows, (long long)p.k, (long long)p.n, p.a_signed, p.a_zp, out);
    cpu_emit_scratch(e, mofrt_i8_matmul_scratch(&p, cpu_emit_threads(e)));
    cpu_emit_printf(e, CPU_SEC_RUN,
                    "%s_i8_matmul_run(&%s_mm, (const int16_t *)(W + %zu), %s, %s, S, P);\n", rt,
                    id, woff, expr(e, a), y->expr);
    return MOF_OK;
}

/* ------------------------------------------------------------------ element-wise */

/* outer / channels / inner of x for a per-axis parameter of `channels` values. */
static mof_status axis_split(cpu_emit *e, const mof_node *n, const cpu_tensor *x,
                             int64_t channels, int64_t *outer, int64_t *inner)
{
    *outer = 1;
    *inner = x->numel;
    if (channels == 1 && x->rank == 0)
        return MOF_OK;
    int64_t axis = mof_node_attr_int(n, "axis", 1);
    if (axis < 0)
        axis += x->rank;
    if (channels == 1 && !(axis >= 0 && axis < x->rank && x->dims[axis] == 1)) {
        *inner = x->numel;
        return MOF_OK;
    }
    if (axis < 0 || axis >= x->rank || x->dims[axis] != channels)
        return cpu_emit_error(e, n, MOF_ERR_INVALID_MODEL,
                              "the scale has %lld values, the axis %lld elements",
                              (long long)channels, (long long)axis);
    *inner = 1;
    for (int i = axis + 1; i < x->rank; i++)
        *inner *= x->dims[i];
    *outer = x->numel / (channels * *inner);
    return MOF_OK;
}

static mof_status emit_qdq(cpu_emit *e, const cpu_group *g, bool quantize)
{
    const mof_node *n = g->node;
    const char *id = cpu_emit_node_id(e, n), *rt = cpu_emit_rt_prefix(e);
    const cpu_tensor *x = cpu_emit_tensor(e, mof_node_input(n, 0));
    const mof_tensor *s = cst(n, 1), *z = present(n, 2) ? cst(n, 2) : NULL;
    const cpu_tensor *y = g->out;
    const char *why = NULL;
    if (!x || !y || !(quantize ? supports_quantize(n, &why) : supports_dequantize(n, &why)))
        return cpu_emit_error(e, n, MOF_ERR_UNSUPPORTED, "%s", why ? why : "missing operand");
    int64_t ch = mof_tensor_numel(s), outer, inner;
    mof_status st;
    if ((st = axis_split(e, n, x, ch, &outer, &inner)) != MOF_OK)
        return st;
    if (ch == 1)
        outer = 1, inner = x->numel;
    float *sv = calloc((size_t)ch + 1, sizeof(float));
    int32_t *zv = calloc((size_t)ch + 1, sizeof(int32_t));
    if (!sv || !zv) {
        free(sv);
        free(zv);
        return cpu_emit_error(e, n, MOF_ERR_NOMEM, "out of memory");
    }
    for (int64_t i = 0; i < ch; i++) {
        sv[i] = f32_at(s, i);
        zv[i] = z ? int_at(z, i) : 0;
    }
    if (quantize) {
        int sgn = z && mof_tensor_dtype(z) == MOF_DTYPE_INT8;
        if (ch == 1) {
            cpu_emit_printf(e, CPU_SEC_RUN, "%s_i8_quantize(%s, %lld, %a, %ld, %d, %s);\n", rt,
                            expr(e, x), (long long)x->numel, (double)sv[0], (long)zv[0], sgn,
                            y->expr);
        } else {
            emit_floats(e, id, "scale", ch, sv);
            emit_ints(e, id, "zp", ch, zv);
            cpu_emit_printf(e, CPU_SEC_RUN,
                            "%s_i8_quantize_axis(%s, %lld, %lld, %lld, %s_scale, %s_zp, %d, %s);\n",
                            rt, expr(e, x), (long long)outer, (long long)ch, (long long)inner, id,
                            id, sgn, y->expr);
        }
    } else {
        mof_dtype xt = x->dtype;
        int kind = xt == MOF_DTYPE_UINT8 ? 0 : xt == MOF_DTYPE_INT8 ? 1 : 2;
        emit_floats(e, id, "scale", ch, sv);
        emit_ints(e, id, "zp", ch, zv);
        cpu_emit_printf(e, CPU_SEC_RUN,
                        "%s_i8_dequantize(%s, %d, %lld, %lld, %lld, %s_scale, %s_zp, %s);\n", rt,
                        expr(e, x), kind, (long long)outer, (long long)ch, (long long)inner, id,
                        id, y->expr);
    }
    free(sv);
    free(zv);
    return MOF_OK;
}

static mof_status emit_max(cpu_emit *e, const cpu_group *g)
{
    const mof_node *n = g->node;
    const char *rt = cpu_emit_rt_prefix(e), *why = NULL;
    if (!supports_max(n, &why))
        return cpu_emit_error(e, n, MOF_ERR_UNSUPPORTED, "%s", why);
    const mof_tensor *c1 = cst(n, 1);
    size_t xi = c1 && mof_tensor_numel(c1) == 1 ? 0 : 1;
    const mof_tensor *c = cst(n, 1 - xi);
    const cpu_tensor *x = cpu_emit_tensor(e, mof_node_input(n, xi));
    const cpu_tensor *y = g->out;
    if (!x || !y || x->numel != y->numel)
        return cpu_emit_error(e, n, MOF_ERR_UNSUPPORTED, "Max that broadcasts the tensor");
    cpu_emit_printf(e, CPU_SEC_RUN, "%s_i8_max(%s, %lld, %ld, %d, %s);\n", rt, expr(e, x),
                    (long long)x->numel, (long)int_at(c, 0),
                    x->dtype == MOF_DTYPE_INT8, y->expr);
    return MOF_OK;
}

static mof_status emit_maxpool(cpu_emit *e, const cpu_group *g)
{
    const mof_node *n = g->node;
    const char *id = cpu_emit_node_id(e, n), *rt = cpu_emit_rt_prefix(e), *why = NULL;
    const cpu_tensor *x = cpu_emit_tensor(e, mof_node_input(n, 0)), *y = g->out;
    if (!x || !y || !is_8bit(x->dtype) || !supports_maxpool(n, &why) || x->rank != 4 ||
        y->rank != 4)
        return cpu_emit_error(e, n, MOF_ERR_UNSUPPORTED, "%s",
                              why ? why : "only an NCHW int8 MaxPool is implemented");
    size_t cnt;
    const int64_t *ks = mof_node_attr_ints(n, "kernel_shape", &cnt);
    int64_t sh = 1, sw = 1, dh = 1, dw = 1, pt = 0, pl = 0;
    const int64_t *v = mof_node_attr_ints(n, "strides", &cnt);
    if (v && cnt == 2)
        sh = v[0], sw = v[1];
    v = mof_node_attr_ints(n, "dilations", &cnt);
    if (v && cnt == 2)
        dh = v[0], dw = v[1];
    v = mof_node_attr_ints(n, "pads", &cnt);
    if (v && cnt == 4 && strcmp(mof_node_attr_string(n, "auto_pad", "NOTSET", NULL), "VALID"))
        pt = v[0], pl = v[1];
    cpu_emit_printf(e, CPU_SEC_DECLS,
                    "static const %s_i8_pool %s_pool = {%lld, %lld, %lld, %lld, %lld, %lld, "
                    "%lld, %lld, %lld, %lld, %lld, %lld, %lld, %d};\n",
                    rt, id, (long long)(x->dims[0] * x->dims[1]), (long long)x->dims[2],
                    (long long)x->dims[3], (long long)y->dims[2], (long long)y->dims[3],
                    (long long)ks[0], (long long)ks[1], (long long)sh, (long long)sw,
                    (long long)dh, (long long)dw, (long long)pt, (long long)pl,
                    x->dtype == MOF_DTYPE_INT8);
    cpu_emit_scratch(e, (size_t)x->dims[3] * sizeof(int16_t));
    cpu_emit_printf(e, CPU_SEC_RUN, "%s_i8_maxpool(&%s_pool, %s, %s, S);\n", rt, id,
                    expr(e, x), y->expr);
    return MOF_OK;
}

static mof_status int8_emit(cpu_emit *e, const cpu_group *g)
{
    const char *op = mof_node_op_type(g->node);
    if (g->n_post)
        return cpu_emit_error(e, g->node, MOF_ERR_INTERNAL,
                              "internal error: the int8 provider takes no post-ops");
    if (!strcmp(op, "QLinearConv"))
        return emit_conv(e, g);
    if (!strcmp(op, "QLinearMatMul"))
        return emit_matmul(e, g);
    if (!strcmp(op, "QuantizeLinear"))
        return emit_qdq(e, g, true);
    if (!strcmp(op, "DequantizeLinear"))
        return emit_qdq(e, g, false);
    if (!strcmp(op, "Max"))
        return emit_max(e, g);
    if (!strcmp(op, "MaxPool") && is_8bit(dtype_of(g->node, 0)))
        return emit_maxpool(e, g);
    return cpu_emit_error(e, g->node, MOF_ERR_INTERNAL,
                          "internal error: a QDQ pattern was not lowered to integer ops");
}

static mof_status int8_begin(cpu_emit *e)
{
    mof_status st = cpu_emit_runtime(e, "mofrt_int8.h");
    if (st == MOF_OK)
        st = cpu_emit_runtime(e, "mofrt_int8.c");
    return st;
}

/* What int8_supports may claim (the backend's op table is the union). */
static const mof_op_support int8_ops[] = {
    {"", "QLinearConv", 10, 0},
    {"", "QLinearMatMul", 10, 0},
    {"", "QuantizeLinear", 10, 0},
    {"", "DequantizeLinear", 10, 0},
    {"", "Max", 12, 0},
    {"", "Conv", 1, 0},
    {"", "Gemm", 1, 0},
    {"", "MatMul", 1, 0},
    {"", "MaxPool", 12, 0},
    {NULL, NULL, 0, 0},
};

const cpu_provider cpu_provider_int8 = {
    .name = "int8",
    .summary = "integer kernels for QLinearConv, QLinearMatMul, QuantizeLinear, "
               "DequantizeLinear (bit-exact with the interpreter; QDQ models are lowered "
               "to them first)",
    .flags = CPU_PROVIDER_AUXILIARY,
    .supports = int8_supports,
    .accepts_post = NULL,
    .emit = int8_emit,
    .begin = int8_begin,
    .ops = int8_ops,
};
