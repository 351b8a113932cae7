/* qdq.c: lowers QDQ patterns to integer operators before the cpu backend emits code
 * (see qdq.h for the contract).
 *
 * A QDQ model says "quantized" with DequantizeLinear / QuantizeLinear pairs around
 * float ops; run as written, every Conv dequantizes its input and weights, sums float
 * products and quantizes the result. The integer form QLinearConv(x_q, w_q, b_q) sums
 * (x - zx) * (w - zw) + b in int32 and requantizes once with x_scale * w_scale /
 * y_scale. The two agree exactly on everything but the rounding of the float sums, so
 * the backend runs the integer form, and the artifact is bit-exact with the
 * interpreter on the lowered model (which is what tests and `mof verify` compare).
 *
 * A pattern is lowered only when the integer op can express it exactly:
 *   - x and y per tensor (constant scalar scale and zero point);
 *   - w constant, per tensor or per output channel (axis 0 for Conv / Gemm with
 *     transB, 1 for MatMul), with its zero point given;
 *   - the bias (if any) int32 with a zero zero point and a scale equal, as float,
 *     to x_scale * w_scale[m] (the integer bias is then exactly the float one);
 *   - every intermediate value read once and not a graph output;
 *   - a Relu between the op and its QuantizeLinear: dropped when y's zero point is the
 *     type's minimum (saturation already clamps there), else Max(q, y_zero_point).
 * Everything else stays as it was, with a note saying why. */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qdq.h"

typedef struct lower_run {
    mof_context *ctx;
    mof_model *model;
    mof_graph *g;
    cpu_qdq_stats *stats;
} lower_run;

/* ------------------------------------------------------------------ helpers */

static bool is_op(const mof_node *n, const char *op)
{
    const char *d = n ? mof_node_domain(n) : NULL;
    return n && !strcmp(mof_node_op_type(n), op) && (!d || !*d || !strcmp(d, "ai.onnx"));
}

/* The producer of v when it is an `op` node. */
static mof_node *producer_op(const mof_value *v, const char *op)
{
    mof_node *p = v ? mof_value_producer(v, NULL) : NULL;
    return is_op(p, op) ? p : NULL;
}

/* Read once, by a node, and not a graph output: can vanish into a fused op. */
static bool single_use(const mof_value *v)
{
    return v && mof_value_n_uses(v) == 1 && !mof_value_is_graph_output(v);
}

static mof_value *input(const mof_node *n, size_t i)
{
    return i < mof_node_n_inputs(n) ? mof_node_input(n, i) : NULL;
}

static const mof_tensor *const_tensor(const mof_value *v)
{
    return v && mof_value_is_constant(v) ? mof_value_tensor(v) : NULL;
}

static bool is_8bit(mof_dtype t)
{
    return t == MOF_DTYPE_UINT8 || t == MOF_DTYPE_INT8;
}

/* A constant float scalar (rank 0 or one element). */
static bool scalar_scale(const mof_value *v, float *s)
{
    const mof_tensor *t = const_tensor(v);
    if (!t || mof_tensor_dtype(t) != MOF_DTYPE_FLOAT || mof_tensor_numel(t) != 1)
        return false;
    *s = *(const float *)mof_tensor_data(t);
    return isfinite(*s) && *s > 0;
}

/* A constant 8-bit scalar zero point. */
static bool scalar_zp(const mof_value *v, mof_dtype *dt, int32_t *z)
{
    const mof_tensor *t = const_tensor(v);
    if (!t || !is_8bit(mof_tensor_dtype(t)) || mof_tensor_numel(t) != 1)
        return false;
    *dt = mof_tensor_dtype(t);
    *z = *dt == MOF_DTYPE_INT8 ? *(const int8_t *)mof_tensor_data(t)
                               : *(const uint8_t *)mof_tensor_data(t);
    return true;
}

/* The per-tensor (x_scale, x_zero_point) of a DequantizeLinear / QuantizeLinear. */
static bool per_tensor(const mof_node *q, float *s, mof_dtype *dt, int32_t *z)
{
    return scalar_scale(input(q, 1), s) && scalar_zp(input(q, 2), dt, z);
}

/* Checks the weights' DequantizeLinear: constant 8-bit data of rank `rank`, scale and
 * zero point per tensor or per channel along `axis` (channels entries). */
static const char *check_weights(const mof_node *dq, size_t rank, int64_t axis,
                                 int64_t channels)
{
    const mof_tensor *w = const_tensor(input(dq, 0)), *s = const_tensor(input(dq, 1));
    const mof_tensor *z = const_tensor(input(dq, 2));
    if (!w || !is_8bit(mof_tensor_dtype(w)))
        return "the weights are not a constant int8 / uint8 tensor";
    if (mof_tensor_rank(w) != rank)
        return "the weights have an unexpected rank";
    if (!s || mof_tensor_dtype(s) != MOF_DTYPE_FLOAT || !z || mof_tensor_dtype(z) !=
        mof_tensor_dtype(w) || mof_tensor_numel(z) != mof_tensor_numel(s))
        return "the weights' scale or zero point is not a constant of the right type";
    const float *sv = mof_tensor_data(s);
    for (int64_t i = 0; i < mof_tensor_numel(s); i++)
        if (!isfinite(sv[i]) || !(sv[i] > 0))
            return "a weight scale is not a positive finite number";
    if (mof_tensor_numel(s) == 1)
        return NULL;
    int64_t a = mof_node_attr_int(dq, "axis", 1);
    if (a < 0)
        a += (int64_t)rank;
    if (mof_tensor_rank(s) != 1 || mof_tensor_numel(s) != channels || a != axis)
        return "the weights are quantized along an axis other than the output channels";
    return NULL;
}

/* Checks the bias' DequantizeLinear: int32 [channels], zero point 0 (or none), scale
 * exactly x_scale * w_scale per channel, as float. */
static const char *check_bias(const mof_node *dq, float sx, const mof_node *wdq,
                              int64_t channels)
{
    const mof_tensor *b = const_tensor(input(dq, 0)), *s = const_tensor(input(dq, 1));
    const mof_tensor *z = const_tensor(input(dq, 2)), *ws = const_tensor(input(wdq, 1));
    if (!b || mof_tensor_dtype(b) != MOF_DTYPE_INT32 || mof_tensor_rank(b) != 1 ||
        mof_tensor_numel(b) != channels)
        return "the bias is not a constant int32 vector of one value per output channel";
    if (!s || mof_tensor_dtype(s) != MOF_DTYPE_FLOAT ||
        (mof_tensor_numel(s) != 1 && mof_tensor_numel(s) != channels))
        return "the bias scale is not a constant";
    if (input(dq, 2) && !z)
        return "the bias zero point is not a constant";
    if (z) {
        const int32_t *zv = mof_tensor_data(z);
        if (mof_tensor_dtype(z) != MOF_DTYPE_INT32)
            return "the bias zero point is not int32";
        for (int64_t i = 0; i < mof_tensor_numel(z); i++)
            if (zv[i] != 0)
                return "the bias zero point is not 0";
    }
    const float *sv = mof_tensor_data(s), *wv = mof_tensor_data(ws);
    for (int64_t m = 0; m < channels; m++) {
        float want = sx * wv[mof_tensor_numel(ws) == 1 ? 0 : m];
        float got = sv[mof_tensor_numel(s) == 1 ? 0 : m];
        if (memcmp(&want, &got, sizeof(float)) != 0)
            return "the bias scale is not x_scale * w_scale (the integer bias would differ)";
    }
    return NULL;
}

static mof_status nomem(lower_run *r)
{
    return mof_report(r->ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
}

static void skip(lower_run *r, const mof_node *n, const char *why)
{
    r->stats->skipped++;
    mof_report_node(r->ctx, MOF_SEVERITY_NOTE, MOF_OK, n,
                    "QDQ pattern left in float (not lowered to an integer op): %s", why);
}

static bool node_unused(const mof_node *n)
{
    for (size_t i = 0; i < mof_node_n_outputs(n); i++) {
        const mof_value *v = mof_node_output(n, i);
        if (v && (mof_value_n_uses(v) > 0 || mof_value_is_graph_output(v)))
            return false;
    }
    return true;
}

/* Makes new_out stand for old_out (type, uses, and the name unless old_out is a graph
 * output, which gives its name itself), then removes the nodes of `dead` that nothing
 * reads any more, readers first. */
static mof_status replace(lower_run *r, mof_value *old_out, mof_value *new_out, size_t n_dead,
                          mof_node **dead)
{
    char *name = NULL;
    mof_status st;
    if (!mof_value_is_graph_output(old_out)) {
        const char *on = mof_value_name(old_out);
        if (!(name = malloc(strlen(on) + 1)))
            return nomem(r);
        strcpy(name, on);
    }
    if ((st = mof_value_copy_type(new_out, old_out)) < 0 ||
        (st = mof_value_replace_uses(old_out, new_out)) < 0)
        goto done;
    bool progress = true;
    while (progress) {
        progress = false;
        for (size_t i = 0; i < n_dead; i++) {
            if (!dead[i] || !node_unused(dead[i]))
                continue;
            if ((st = mof_graph_remove_node(r->g, dead[i])) < 0)
                goto done;
            dead[i] = NULL;
            progress = true;
        }
    }
    st = MOF_OK;
    if (name && mof_value_set_name(new_out, name) == MOF_ERR_NOMEM)
        st = nomem(r);
done:
    free(name);
    if (st < 0 && st != MOF_ERR_NOMEM)
        mof_report(r->ctx, MOF_SEVERITY_ERROR, MOF_ERR_INTERNAL, NULL,
                   "internal error: the QDQ lowering could not replace '%s'",
                   mof_value_name(old_out));
    return st;
}

static mof_node *add_node(lower_run *r, mof_node *before, const char *op, const char *name,
                          size_t n_in, mof_value *const *in)
{
    char *nm = mof_graph_unique_name(r->g, name && *name ? name : op);
    if (!nm) {
        nomem(r);
        return NULL;
    }
    mof_node *n = mof_graph_add_node(r->g, MOF_INSERT_BEFORE, before, op, NULL, nm, n_in, in, 1);
    free(nm);
    /* The name also named the output; an unnamed node stays unnamed (node names are
     * unique where given, and op types repeat). */
    if (n && !(name && *name) && mof_node_set_name(n, "") == MOF_ERR_NOMEM) {
        nomem(r);
        return NULL;
    }
    return n;
}

/* An int64 shape constant. */
static mof_value *shape_const(lower_run *r, const char *hint, size_t n, const int64_t *v)
{
    int64_t len = (int64_t)n;
    mof_tensor *t = mof_tensor_create(MOF_DTYPE_INT64, 1, &len);
    if (!t)
        return NULL;
    memcpy(mof_tensor_data_mut(t), v, n * sizeof(int64_t));
    mof_value *c = mof_graph_add_initializer(r->g, hint, t);
    if (!c)
        mof_tensor_unref(t);
    return c;
}

/* ------------------------------------------------------------------ the patterns */

/* What a matched Q <- [Relu] <- op pattern holds. */
typedef struct match {
    mof_node *q, *relu, *op, *dqx, *dqw, *dqb;
    float sx, sy;
    mof_dtype xt, yt;
    int32_t zx, zy;
} match;

/* The y side: Q(v) with per-tensor parameters, v = [Relu](op output), read once. */
static const char *match_output(mof_node *q, match *m)
{
    memset(m, 0, sizeof(*m));
    m->q = q;
    if (!per_tensor(q, &m->sy, &m->yt, &m->zy))
        return "the output's scale or zero point is not a constant scalar";
    mof_value *v = input(q, 0);
    mof_node *p = v ? mof_value_producer(v, NULL) : NULL;
    if (is_op(p, "Relu")) {
        if (!single_use(v))
            return "the Relu's output is read elsewhere";
        m->relu = p;
        v = input(p, 0);
        p = v ? mof_value_producer(v, NULL) : NULL;
    }
    if (!(is_op(p, "Conv") || is_op(p, "Gemm") || is_op(p, "MatMul")))
        return "";
    m->op = p;
    if (!single_use(v))
        return "the float result is read elsewhere";
    m->dqx = producer_op(input(p, 0), "DequantizeLinear");
    m->dqw = producer_op(input(p, 1), "DequantizeLinear");
    if (!m->dqx || !m->dqw)
        return "an operand is not dequantized";
    if (!per_tensor(m->dqx, &m->sx, &m->xt, &m->zx))
        return "the input's scale or zero point is not a constant scalar";
    if (input(p, 2)) {
        m->dqb = producer_op(input(p, 2), "DequantizeLinear");
        if (!m->dqb)
            return "the bias is not dequantized";
    }
    return NULL;
}

/* The integer op's output: the op itself, or Max(op, zy) for a Relu that saturation
 * does not already give. Replaces q's output and removes the pattern. */
static mof_status finish(lower_run *r, match *m, mof_node *iop, mof_node *last_before)
{
    mof_value *out = mof_node_output(iop, 0);
    mof_status st;
    if ((st = mof_value_copy_type(out, mof_node_output(m->q, 0))) < 0)
        return st;
    if (m->relu) {
        int32_t tmin = m->yt == MOF_DTYPE_INT8 ? -128 : 0;
        r->stats->relu++;
        if (m->zy != tmin) {
            mof_value *in[2] = {out, input(m->q, 2)};
            mof_node *mx = add_node(r, last_before, "Max", mof_node_name(m->relu), 2, in);
            if (!mx)
                return nomem(r);
            if ((st = mof_node_add_origins(mx, m->relu)) < 0)
                return st;
            out = mof_node_output(mx, 0);
        }
    }
    mof_node *dead[6] = {m->q, m->relu, m->op, m->dqx, m->dqw, m->dqb};
    for (size_t i = 0; i < 6; i++)
        if (dead[i] && dead[i] != m->relu && (st = mof_node_add_origins(iop, dead[i])) < 0)
            return st;
    return replace(r, mof_node_output(m->q, 0), out, 6, dead);
}

/* The QLinear op's inputs: x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp. */
static void qlinear_inputs(const match *m, mof_value *x, mof_value *w, mof_value **in)
{
    in[0] = x;
    in[1] = input(m->dqx, 1);
    in[2] = input(m->dqx, 2);
    in[3] = w;
    in[4] = input(m->dqw, 1);
    in[5] = input(m->dqw, 2);
    in[6] = input(m->q, 1);
    in[7] = input(m->q, 2);
}

/* Why the matched pattern cannot be lowered exactly (NULL: it can). */
static const char *check_conv(const match *m)
{
    const mof_tensor *w = const_tensor(input(m->dqw, 0));
    const char *why;
    if (!w)
        return "the weights are not constant";
    int64_t M = mof_tensor_dims(w)[0];
    if ((why = check_weights(m->dqw, mof_tensor_rank(w), 0, M)) ||
        (m->dqb && (why = check_bias(m->dqb, m->sx, m->dqw, M))))
        return why;
    return NULL;
}

static mof_status lower_conv(lower_run *r, match *m)
{
    mof_value *in[9];
    qlinear_inputs(m, input(m->dqx, 0), input(m->dqw, 0), in);
    in[8] = m->dqb ? input(m->dqb, 0) : NULL;
    mof_node *c = add_node(r, m->q, "QLinearConv", mof_node_name(m->op), m->dqb ? 9 : 8, in);
    mof_status st;
    if (!c)
        return nomem(r);
    if ((st = mof_node_copy_attrs(c, m->op)) < 0)
        return st;
    r->stats->conv++;
    return finish(r, m, c, m->q);
}

/* Gemm(x [N, K], w) + b: Reshape x to [N, K, 1, 1], a 1x1 QLinearConv with weights
 * [M, K, 1, 1] (transposed from [K, M] when transB = 0), Reshape back to [N, M]. */
static const char *check_gemm(const match *m)
{
    const mof_node *op = m->op;
    const mof_tensor *w = const_tensor(input(m->dqw, 0));
    const mof_value *x = input(m->dqx, 0);
    const char *why;
    if (mof_node_attr_float(op, "alpha", 1.0f) != 1.0f ||
        mof_node_attr_float(op, "beta", 1.0f) != 1.0f || mof_node_attr_int(op, "transA", 0))
        return "alpha, beta or transA is not the default";
    if (!w || mof_tensor_rank(w) != 2 || !mof_value_has_type(x) || mof_value_rank(x) != 2 ||
        mof_value_dim(x, 0) < 0)
        return "the Gemm's operands are not a 2-D input of known shape and constant weights";
    bool tb = mof_node_attr_int(op, "transB", 0) != 0;
    int64_t M = mof_tensor_dims(w)[tb ? 0 : 1];
    if ((why = check_weights(m->dqw, 2, tb ? 0 : 1, M)) ||
        (m->dqb && (why = check_bias(m->dqb, m->sx, m->dqw, M))))
        return why;
    return NULL;
}

static mof_status lower_gemm(lower_run *r, match *m)
{
    const mof_node *op = m->op;
    const mof_tensor *w = const_tensor(input(m->dqw, 0));
    mof_value *x = input(m->dqx, 0);
    bool tb = mof_node_attr_int(op, "transB", 0) != 0;
    int64_t M = mof_tensor_dims(w)[tb ? 0 : 1], K = mof_tensor_dims(w)[tb ? 1 : 0];
    int64_t N = mof_value_dim(x, 0);
    int64_t wd[4] = {M, K, 1, 1};
    mof_tensor *w4 = mof_tensor_create(mof_tensor_dtype(w), 4, wd);
    if (!w4)
        return nomem(r);
    const uint8_t *src = mof_tensor_data(w);
    uint8_t *dst = mof_tensor_data_mut(w4);
    for (int64_t i = 0; i < M; i++)
        for (int64_t k = 0; k < K; k++)
            dst[i * K + k] = src[tb ? i * K + k : k * M + i];
    mof_value *wv = mof_graph_add_initializer(r->g, "qdq_gemm_w", w4);
    if (!wv) {
        mof_tensor_unref(w4);
        return nomem(r);
    }
    mof_value *s4 = shape_const(r, "qdq_gemm_shape4", 4, (int64_t[]){N, K, 1, 1});
    mof_value *s2 = shape_const(r, "qdq_gemm_shape2", 2, (int64_t[]){N, M});
    if (!s4 || !s2)
        return nomem(r);
    mof_value *rin[2] = {x, s4};
    mof_node *r1 = add_node(r, m->q, "Reshape", "qdq_gemm_in", 2, rin);
    if (!r1)
        return nomem(r);
    mof_status st;
    mof_value *x4 = mof_node_output(r1, 0);
    if ((st = mof_value_set_type(x4, mof_value_dtype(x), 4, (int64_t[]){N, K, 1, 1}, NULL)) < 0)
        return st;
    mof_value *in[9];
    qlinear_inputs(m, x4, wv, in);
    in[8] = m->dqb ? input(m->dqb, 0) : NULL;
    mof_node *c = add_node(r, m->q, "QLinearConv", mof_node_name(op), m->dqb ? 9 : 8, in);
    if (!c)
        return nomem(r);
    mof_value *y4 = mof_node_output(c, 0);
    if ((st = mof_value_set_type(y4, m->yt, 4, (int64_t[]){N, M, 1, 1}, NULL)) < 0)
        return st;
    mof_value *oin[2] = {y4, s2};
    mof_node *r2 = add_node(r, m->q, "Reshape", "qdq_gemm_out", 2, oin);
    if (!r2)
        return nomem(r);
    r->stats->gemm++;
    /* finish() copies q's type onto r2's output and puts the Relu's Max after it. */
    return finish(r, m, r2, m->q);
}

/* MatMul(a, b const 2-D): QLinearMatMul; b per tensor or per column (axis 1). */
static const char *check_matmul(const match *m)
{
    const mof_tensor *b = const_tensor(input(m->dqw, 0));
    if (!b || mof_tensor_rank(b) != 2)
        return "the second operand is not constant 2-D weights";
    return check_weights(m->dqw, 2, 1, mof_tensor_dims(b)[1]);
}

static mof_status lower_matmul(lower_run *r, match *m)
{
    mof_value *in[8];
    qlinear_inputs(m, input(m->dqx, 0), input(m->dqw, 0), in);
    mof_node *c = add_node(r, m->q, "QLinearMatMul", mof_node_name(m->op), 8, in);
    if (!c)
        return nomem(r);
    r->stats->matmul++;
    return finish(r, m, c, m->q);
}

static const char *check_match(const match *m)
{
    if (!is_8bit(m->xt) || !is_8bit(m->yt))
        return "the input or output is not 8-bit";
    if (is_op(m->op, "Conv"))
        return check_conv(m);
    if (is_op(m->op, "Gemm"))
        return check_gemm(m);
    return check_matmul(m);
}

bool cpu_qdq_lowerable(const mof_node *op, const char **why)
{
    *why = "not part of a QDQ pattern the integer ops express";
    if (!(is_op(op, "Conv") || is_op(op, "Gemm") || is_op(op, "MatMul")) ||
        mof_node_n_outputs(op) < 1)
        return false;
    const mof_value *v = mof_node_output(op, 0);
    if (!single_use(v))
        return false;
    mof_node *q = mof_value_use(v, 0, NULL);
    if (is_op(q, "Relu")) {
        v = mof_node_output(q, 0);
        if (!single_use(v))
            return false;
        q = mof_value_use(v, 0, NULL);
    }
    if (!is_op(q, "QuantizeLinear") || mof_model_opset(mof_graph_model(mof_node_graph(q)), "") < 13)
        return false;
    match m;
    const char *w = match_output(q, &m);
    if (!w && m.op == op)
        w = check_match(&m);
    if (w && *w)
        *why = w;
    return !w && m.op == op;
}

/* Q(MaxPool(DQ(x))) with the same scale and zero point on both sides is MaxPool(x):
 * dequantizing is monotone, and quantizing a dequantized value gives it back exactly
 * (|x - zp| <= 255: the float error of (a * s) / s is far below half a step). */
static bool pool_match(const mof_node *q, mof_node **pool, mof_node **dq)
{
    const mof_value *v = input(q, 0);
    mof_node *p = producer_op(v, "MaxPool");
    float s1, s2;
    mof_dtype t1, t2;
    int32_t z1, z2;
    if (!p || !single_use(v) || mof_node_n_outputs(p) != 1 ||
        mof_node_attr_int(p, "ceil_mode", 0) != 0 || mof_node_attr_int(p, "storage_order", 0))
        return false;
    mof_node *d = producer_op(input(p, 0), "DequantizeLinear");
    if (!d || !per_tensor(q, &s1, &t1, &z1) || !per_tensor(d, &s2, &t2, &z2))
        return false;
    if (memcmp(&s1, &s2, sizeof(float)) || t1 != t2 || z1 != z2 || !is_8bit(t1))
        return false;
    *pool = p;
    *dq = d;
    return true;
}

bool cpu_qdq_pool_lowerable(const mof_node *pool)
{
    if (!is_op(pool, "MaxPool") || mof_node_n_outputs(pool) != 1)
        return false;
    const mof_value *v = mof_node_output(pool, 0);
    if (!single_use(v))
        return false;
    mof_node *q = mof_value_use(v, 0, NULL), *p, *d;
    return is_op(q, "QuantizeLinear") && pool_match(q, &p, &d) && p == pool;
}

static mof_status lower_pool(lower_run *r, mof_node *q, mof_node *pool, mof_node *dq)
{
    mof_value *in[1] = {input(dq, 0)};
    mof_node *n = add_node(r, q, "MaxPool", mof_node_name(pool), 1, in);
    mof_status st;
    if (!n)
        return nomem(r);
    if ((st = mof_node_copy_attrs(n, pool)) < 0 || (st = mof_node_add_origins(n, pool)) < 0 ||
        (st = mof_node_add_origins(n, q)) < 0)
        return st;
    r->stats->pool++;
    mof_node *dead[3] = {q, pool, dq};
    return replace(r, mof_node_output(q, 0), mof_node_output(n, 0), 3, dead);
}

mof_status cpu_qdq_lower(mof_context *ctx, mof_model *model, cpu_qdq_stats *stats)
{
    cpu_qdq_stats local;
    lower_run r = {ctx, model, mof_model_graph(model), stats ? stats : &local};
    memset(r.stats, 0, sizeof(*r.stats));
    if (mof_model_opset(model, "") < 13)
        return MOF_UNCHANGED;
    /* Collect the QuantizeLinear nodes first: the walk rewrites the graph. */
    size_t n = 0, cap = mof_graph_n_nodes(r.g);
    uint32_t *ids = calloc(cap ? cap : 1, sizeof(*ids));
    if (!ids)
        return nomem(&r);
    for (mof_node *nd = mof_graph_first_node(r.g); nd; nd = mof_node_next(nd))
        if (is_op(nd, "QuantizeLinear") && n < cap)
            ids[n++] = mof_node_id(nd);
    mof_status st = MOF_OK;
    for (size_t i = 0; i < n && st >= 0; i++) {
        mof_node *q = NULL;
        for (mof_node *nd = mof_graph_first_node(r.g); nd && !q; nd = mof_node_next(nd))
            if (mof_node_id(nd) == ids[i])
                q = nd;
        if (!q)
            continue;
        mof_node *pool, *pdq;
        if (pool_match(q, &pool, &pdq)) {
            st = lower_pool(&r, q, pool, pdq);
            continue;
        }
        match m;
        const char *why = match_output(q, &m);
        if (why) {
            if (*why && m.op)
                skip(&r, m.op, why);
            continue;
        }
        if ((why = check_match(&m))) {
            skip(&r, m.op, why);
            continue;
        }
        if (is_op(m.op, "Conv"))
            st = lower_conv(&r, &m);
        else if (is_op(m.op, "Gemm"))
            st = lower_gemm(&r, &m);
        else
            st = lower_matmul(&r, &m);
    }
    free(ids);
    if (st < 0)
        return st;
    return r.stats->conv + r.stats->gemm + r.stats->matmul + r.stats->pool ? MOF_OK
                                                                           : MOF_UNCHANGED;
}
