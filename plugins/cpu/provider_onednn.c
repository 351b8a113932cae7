/* provider_onednn.c: the cpu backend's `kernels=onednn` provider.
 *
 * Convolutions (Conv, mof.FusedConv, with a residual Add and an activation folded in;
 * 3x3 stride-1 ones by Winograd where oneDNN has it, see mofrt_onednn.c), pooling
 * (MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool), Adds of two 4-D
 * activations (with an activation folded in), matrix products with a constant
 * right-hand side (Gemm, MatMul, mof.FusedGemm, mof.FusedMatMul) or of two activations
 * with the same batch dims (attention's MatMuls), Softmax and LayerNormalization
 * along the last axis, and Concats along the channels of multiples of 16 channels run
 * as oneDNN primitives (Debian's oneDNN 2.6, which JITs AVX2/AVX-512 kernels); every
 * other node falls to the next provider (portable). The artifact links -ldnnl and
 * -lgomp and carries runtime/mofrt_onednn.{c,h}.
 *
 * Each node's primitive is created in <prefix>_create(): its constant weights (kept
 * plain in the weight blob) are reordered there, once, into oneDNN's preferred packed
 * layout. run() only executes.
 *
 * Layouts. A 4-D activation with C % 8 == 0 is computed in oneDNN's blocked layout
 * inside an op (nChw16c where oneDNN runs AVX-512 kernels, else nChw8c: the runtime
 * picks; plain NCHW falls to an im2col GEMM at about 60% of their speed). The output
 * of a group of ours is also STORED blocked when every reader of it is ours: the data
 * input of a convolution or pooling, an input of a Concat of ours, or an operand of an
 * Add that is ours whatever the emitter's grouping (use_is_ours). The producer, always
 * emitted before its readers, records the decision; readers look it up, so the blocked
 * chain runs through residual Adds (a binary post-op reads the blocked residual), conv
 * + Add + Relu groups and channel Concats. With C % 8 == 0 the blocked form has
 * exactly the plain form's bytes, so the arena plan is unchanged. Elsewhere (graph
 * inputs and outputs, views, other kernels) tensors are plain, and an op converts
 * through its scratch memory at the boundary.
 * Adds of two 4-D activations that no convolution folds are ours too (a oneDNN
 * binary primitive with the activation after it), so that their operands may stay
 * blocked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mof/fused.h>
#include <mof/mof.h>

#include "provider.h"

#define BLOCK 8
/* The artifact's statuses for a primitive that oneDNN cannot create or run. */
#define ERR_CREATE "INIT"
#define ERR_RUN "INIT"

/* ------------------------------------------------------------------ what we claim */

typedef enum op_kind {
    OP_NONE = 0,
    OP_CONV,
    OP_POOL,
    OP_MATMUL,
    OP_ADD,
    OP_CONCAT,
    OP_SOFTMAX,
    OP_LAYERNORM
} op_kind;

static bool is_op(const mof_node *n, const char *domain, const char *op)
{
    const char *d = mof_node_domain(n);
    if (!d || !*d)
        d = "";
    if (!strcmp(d, "ai.onnx"))
        d = "";
    return !strcmp(d, domain) && !strcmp(mof_node_op_type(n), op);
}

static bool is_float(const mof_value *v)
{
    return v && mof_value_has_type(v) && mof_value_dtype(v) == MOF_DTYPE_FLOAT;
}

/* A float constant that broadcasts to a row of n: n values, or one, with every other
 * dim 1 (a product's bias). */
static bool is_bias_row(const mof_value *v, int64_t n)
{
    int r = v ? mof_value_rank(v) : -1;
    int64_t numel = 1;
    if (r < 0 || !mof_value_is_constant(v) || !is_float(v))
        return false;
    for (int i = 0; i < r; i++) {
        int64_t d = mof_value_dim(v, (size_t)i);
        if (d < 0 || (i + 1 < r && d != 1))
            return false;
        numel *= d;
    }
    return numel == n || numel == 1;
}

static op_kind kind_of(const mof_node *n)
{
    if (is_op(n, "", "Conv") || is_op(n, MOF_FUSED_DOMAIN, MOF_OP_FUSED_CONV))
        return OP_CONV;
    if (is_op(n, "", "MaxPool") || is_op(n, "", "AveragePool")
        || is_op(n, "", "GlobalAveragePool") || is_op(n, "", "GlobalMaxPool"))
        return OP_POOL;
    if (is_op(n, "", "Gemm") || is_op(n, "", "MatMul")
        || is_op(n, MOF_FUSED_DOMAIN, MOF_OP_FUSED_GEMM)
        || is_op(n, MOF_FUSED_DOMAIN, MOF_OP_FUSED_MATMUL))
        return OP_MATMUL;
    if (is_op(n, "", "Add"))
        return OP_ADD;
    if (is_op(n, "", "Concat"))
        return OP_CONCAT;
    if (is_op(n, "", "Softmax"))
        return OP_SOFTMAX;
    if (is_op(n, "", "LayerNormalization")
        || is_op(n, MOF_FUSED_DOMAIN, MOF_OP_LAYER_NORMALIZATION))
        return OP_LAYERNORM;
    return OP_NONE;
}

static bool ints_all(const mof_node *n, const char *name, int64_t lo, size_t want)
{
    size_t cnt = 0;
    const int64_t *v = mof_node_attr_ints(n, name, &cnt);
    if (!v)
        return true;
    if (want && cnt != want)
        return false;
    for (size_t i = 0; i < cnt; i++)
        if (v[i] < lo)
            return false;
    return true;
}

/* A Concat of 4-D activations along the channels, each input's channel count a
 * multiple of 16: each input is then a whole number of channel blocks (of 8 or 16),
 * so in both layouts image b of input i is one contiguous run of the output, at
 * (b * C + c_offset) * H * W floats; the Concat is a copy (or a reorder) per input
 * into that run, and keeps the blocked chain of SqueezeNet's fire modules. */
static bool concat_supported(const mof_node *node, const char **why)
{
    const mof_value *y = mof_node_output(node, 0);
    size_t ni = mof_node_n_inputs(node);
    *why = "oneDNN Concats here join 4-D activations along the channels, each a "
           "multiple of 16 channels";
    if (ni < 1 || mof_value_rank(y) != 4 || mof_node_n_outputs(node) != 1)
        return false;
    int64_t axis = mof_node_attr_int(node, "axis", 0);
    if (axis != 1 && axis != -3)
        return false;
    for (size_t i = 0; i < ni; i++) {
        const mof_value *x = mof_node_input(node, i);
        if (!is_float(x) || mof_value_is_constant(x) || mof_value_rank(x) != 4)
            return false;
        for (size_t d = 0; d < 4; d++) {
            int64_t v = mof_value_dim(x, d);
            if (v <= 0 || (d != 1 && v != mof_value_dim(y, d)))
                return false;
        }
        if (mof_value_dim(x, 1) % 16 != 0)
            return false;
    }
    return true;
}

static int64_t opset_of(const mof_node *n)
{
    const mof_model *m = mof_graph_model(mof_node_graph(n));
    return m ? mof_model_opset(m, mof_node_domain(n)) : -1;
}

/* Whether every dim of v is known. */
static bool all_static(const mof_value *v)
{
    if (!v || !mof_value_has_type(v) || mof_value_rank(v) < 0)
        return false;
    for (size_t d = 0; d < (size_t)mof_value_rank(v); d++)
        if (mof_value_dim(v, d) < 0)
            return false;
    return true;
}

/* Softmax and LayerNormalization along the last axis only (rows of a matrix). */
static bool rows_supported(const mof_node *node, op_kind k, const char **why)
{
    const mof_value *x = mof_node_input(node, 0);
    int64_t r = mof_value_rank(x);
    *why = "oneDNN normalizes along the last axis of a static tensor here";
    if (r < 1 || !all_static(x))
        return false;
    if (k == OP_SOFTMAX) {
        int64_t axis = mof_node_attr_int(node, "axis", opset_of(node) >= 13 ? -1 : 1);
        /* (before opset 13 the axis flattens the tail: the same for the last axis) */
        return (axis < 0 ? axis + r : axis) == r - 1;
    }
    int64_t axis = mof_node_attr_int(node, "axis", -1);
    if ((axis < 0 ? axis + r : axis) != r - 1)
        return false;
    int64_t len = mof_value_dim(x, (size_t)(r - 1));
    *why = "oneDNN layer normalization here has constant Scale and B of the last axis "
           "and only its Y output";
    for (size_t i = 1; i < mof_node_n_outputs(node); i++)
        if (mof_node_output(node, i))
            return false;
    for (size_t i = 1; i < 3 && i < mof_node_n_inputs(node); i++) {
        const mof_value *c = mof_node_input(node, i);
        if (!c && i == 2)
            continue;
        if (!c || !is_float(c) || !mof_value_is_constant(c) || !all_static(c))
            return false;
        int64_t n = 1;
        for (size_t d = 0; d < (size_t)mof_value_rank(c); d++)
            n *= mof_value_dim(c, d);
        if (n != len)
            return false;
    }
    return mof_node_n_inputs(node) >= 2;
}

/* A MatMul of two activations: same batch dims (no broadcasting), static. */
static bool bmm_supported(const mof_node *node, const char **why)
{
    const mof_value *a = mof_node_input(node, 0), *b = mof_node_input(node, 1);
    *why = "oneDNN products of two activations here have equal batch dims";
    if (!is_float(b) || !all_static(a) || !all_static(b))
        return false;
    int64_t r = mof_value_rank(a);
    if (r < 2 || mof_value_rank(b) != r)
        return false;
    for (size_t d = 0; d + 2 < (size_t)r; d++)
        if (mof_value_dim(a, d) != mof_value_dim(b, d))
            return false;
    if (mof_value_dim(a, (size_t)r - 1) != mof_value_dim(b, (size_t)r - 2))
        return false;
    *why = "unknown activation";
    float p[2];
    return cpu_node_activation(node, p) != MOF_ACTIVATION_UNKNOWN;
}

static bool onednn_supports(const mof_node *node, const char **why)
{
    op_kind k = kind_of(node);
    *why = "not an operator oneDNN computes here";
    if (k == OP_NONE)
        return false;
    const mof_value *x = mof_node_input(node, 0);
    *why = "oneDNN kernels take float tensors";
    if (!is_float(x) || !is_float(mof_node_output(node, 0)))
        return false;
    if (k == OP_CONCAT)
        return concat_supported(node, why);
    if (k == OP_SOFTMAX || k == OP_LAYERNORM)
        return rows_supported(node, k, why);
    if (k == OP_ADD) {
        /* two activations of one static 4-D shape (the residual Adds that no
         * convolution folds, so that their operands may stay blocked) */
        const mof_value *b = mof_node_n_inputs(node) == 2 ? mof_node_input(node, 1) : NULL;
        *why = "oneDNN Adds here take two 4-D activations of the same static shape";
        if (!is_float(b) || mof_value_is_constant(x) || mof_value_is_constant(b)
            || mof_value_rank(x) != 4 || mof_value_rank(b) != 4
            || mof_value_rank(mof_node_output(node, 0)) != 4)
            return false;
        for (size_t i = 0; i < 4; i++)
            if (mof_value_dim(x, i) < 0 || mof_value_dim(x, i) != mof_value_dim(b, i)
                || mof_value_dim(x, i) != mof_value_dim(mof_node_output(node, 0), i))
                return false;
        return true;
    }
    if (k == OP_CONV) {
        const mof_value *w = mof_node_n_inputs(node) > 1 ? mof_node_input(node, 1) : NULL;
        const mof_value *b = mof_node_n_inputs(node) > 2 ? mof_node_input(node, 2) : NULL;
        *why = "oneDNN convolutions here are 2-D with constant weights and bias";
        if (mof_value_rank(x) != 4 || !w || !mof_value_is_constant(w)
            || mof_value_rank(w) != 4 || (b && !mof_value_is_constant(b)))
            return false;
        *why = "pads, strides and dilations must be given and positive";
        if (!ints_all(node, "pads", 0, 4) || !ints_all(node, "strides", 1, 2)
            || !ints_all(node, "dilations", 1, 2))
            return false;
        *why = "unknown activation";
        float p[2];
        if (cpu_node_activation(node, p) == MOF_ACTIVATION_UNKNOWN)
            return false;
        return true;
    }
    if (k == OP_POOL) {
        *why = "oneDNN pooling here is 2-D with one output";
        if (mof_value_rank(x) != 4 || mof_node_n_outputs(node) != 1)
            return false;
        if (is_op(node, "", "MaxPool") && mof_node_attr_int(node, "storage_order", 0) != 0)
            return false;
        *why = "pads, strides and dilations must be given and positive";
        if (!ints_all(node, "pads", 0, 4) || !ints_all(node, "strides", 1, 2)
            || !ints_all(node, "dilations", 1, 2))
            return false;
        return true;
    }
    /* matrix products */
    const mof_value *b = mof_node_input(node, 1);
    bool gemm = is_op(node, "", "Gemm") || is_op(node, MOF_FUSED_DOMAIN, MOF_OP_FUSED_GEMM);
    if (!gemm && b && !mof_value_is_constant(b))
        return bmm_supported(node, why);
    *why = "oneDNN matrix products here have a constant 2-D right-hand side";
    if (!b || !mof_value_is_constant(b) || mof_value_rank(b) != 2 || mof_value_rank(x) < 1)
        return false;
    if (gemm) {
        const mof_value *c = mof_node_n_inputs(node) > 2 ? mof_node_input(node, 2) : NULL;
        *why = "Gemm with transA or a non-constant C";
        if (mof_node_attr_int(node, "transA", 0) != 0 || mof_value_rank(x) != 2
            || (c && !mof_value_is_constant(c)))
            return false;
        /* beta * C becomes the bias: a row of n or one value (emit_matmul) */
        *why = "Gemm's C is neither a row nor a scalar";
        int64_t n = mof_value_dim(b, mof_node_attr_int(node, "transB", 0) ? 0 : 1);
        if (c && mof_node_attr_float(node, "beta", 1.f) != 0.f && !is_bias_row(c, n))
            return false;
    } else if (mof_value_rank(x) < 2) {
        *why = "MatMul of a vector";
        return false;
    }
    *why = "unknown activation";
    float p[2];
    if (cpu_node_activation(node, p) == MOF_ACTIVATION_UNKNOWN)
        return false;
    return true;
}

static bool is_add(const mof_node *n)
{
    return is_op(n, "", "Add");
}

static bool onednn_accepts_post(const mof_node *node, size_t n_prev, const cpu_post *post)
{
    float p[2];
    mof_activation own = cpu_node_activation(node, p);
    if (own != MOF_ACTIVATION_NONE)
        return false; /* the node's own activation ends the epilogue */
    op_kind k = kind_of(node);
    const mof_value *y = mof_node_output(node, 0);
    if (post->kind == CPU_POST_ACTIVATION) {
        /* one activation: alone, or after the residual / bias Add */
        if (!(k == OP_CONV || k == OP_MATMUL || k == OP_ADD)
            || post->activation == MOF_ACTIVATION_UNKNOWN)
            return false;
        if (n_prev == 0)
            return true;
        size_t oi = 0;
        const mof_node *prev = mof_value_producer(mof_node_input(post->node, 0), &oi);
        return n_prev == 1 && (k == OP_CONV || k == OP_MATMUL) && prev && is_add(prev);
    }
    if (post->kind == CPU_POST_ADD && k == OP_MATMUL) {
        /* a constant row: the product's bias */
        size_t r = mof_value_rank(y);
        return n_prev == 0 && r >= 1 && post->other
               && is_bias_row(post->other->value, mof_value_dim(y, r - 1));
    }
    if (post->kind == CPU_POST_ADD) {
        /* a residual of the convolution's own shape, first */
        if (k != OP_CONV || n_prev != 0 || !post->other || post->other->rank != 4
            || !is_float(post->other->value))
            return false;
        for (int i = 0; i < 4; i++)
            if (post->other->dims[i] != mof_value_dim(y, (size_t)i))
                return false;
        return true;
    }
    return false;
}

/* ------------------------------------------------------------------ layouts */

/* Whether an op computes on t blocked (4-D float, whole blocks of 8 channels). */
static bool blockable(const cpu_tensor *t)
{
    return t && t->rank == 4 && t->dtype == MOF_DTYPE_FLOAT && t->dims[1] % BLOCK == 0;
}

/* Whether the use of v as input `idx` of u reads it through this provider whatever
 * the emitter's grouping: the data input of one of our convolutions or poolings, or an
 * operand of an Add we claim. Such an Add is either its own group (ours) or folded
 * into the group of the node producing its other operand; when that node is a
 * convolution of ours, the group is ours too. Any other producer might be another
 * provider's group taking the Add as a post-op, which would read v plain. */
static bool use_is_ours(const mof_value *v, const mof_node *u, int idx)
{
    const char *why;
    op_kind k = u ? kind_of(u) : OP_NONE;
    if (k == OP_CONV || k == OP_POOL)
        return idx == 0 && onednn_supports(u, &why);
    if (k == OP_CONCAT)
        return idx >= 0 && onednn_supports(u, &why);
    if (!u || !is_add(u) || !onednn_supports(u, &why) || idx < 0 || idx > 1)
        return false;
    const mof_value *other = mof_node_input(u, (size_t)(1 - idx));
    if (other == v)
        return true;
    size_t oi = 0;
    const mof_node *p = mof_value_producer(other, &oi);
    if (!p)
        return true; /* a graph input or a constant: the Add is a group of its own */
    return oi == 0 && kind_of(p) == OP_CONV && onednn_supports(p, &why);
}

/* Whether the group output t, written by one of our ops, is STORED blocked: every
 * reader of it is ours (use_is_ours), so each reads it in the layout recorded here. */
static bool can_store_blocked(const cpu_tensor *t)
{
    if (!blockable(t) || t->storage != CPU_STORAGE_ARENA)
        return false;
    size_t n = mof_value_n_uses(t->value);
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        int idx = -1;
        const mof_node *u = mof_value_use(t->value, i, &idx);
        if (!use_is_ours(t->value, u, idx))
            return false;
    }
    return true;
}

/* The tensors of the current emit that are stored blocked, recorded by their
 * producer (always emitted before its readers) and looked up by the readers. The
 * cpu backend runs one emit at a time; begin() starts a new record. A fixed table (the
 * plugin may be unloaded at any time, so it holds no heap memory): past its size,
 * further tensors stay plain, which is correct, only slower. */
#define MAX_BLOCKED 4096
static struct {
    const cpu_emit *e;
    const cpu_tensor *t[MAX_BLOCKED];
    size_t n;
} blocked_set;

static void blocked_reset(const cpu_emit *e)
{
    blocked_set.e = e;
    blocked_set.n = 0;
}

static bool blocked_add(const cpu_tensor *t)
{
    if (blocked_set.n == MAX_BLOCKED)
        return false;
    blocked_set.t[blocked_set.n++] = t;
    return true;
}

static bool stored_blocked(const cpu_emit *e, const cpu_tensor *t)
{
    if (!t || blocked_set.e != e)
        return false;
    if (t->alias_of)
        t = t->alias_of;
    for (size_t i = 0; i < blocked_set.n; i++)
        if (blocked_set.t[i] == t)
            return true;
    return false;
}

/* ------------------------------------------------------------------ emitting */

static const char *act_name(mof_activation a)
{
    switch (a) {
    case MOF_ACTIVATION_RELU: return "RELU";
    case MOF_ACTIVATION_LEAKY_RELU: return "LEAKY_RELU";
    case MOF_ACTIVATION_CLIP: return "CLIP";
    case MOF_ACTIVATION_SIGMOID: return "SIGMOID";
    case MOF_ACTIVATION_HARD_SIGMOID: return "HARD_SIGMOID";
    case MOF_ACTIVATION_HARD_SWISH: return "HARD_SWISH";
    case MOF_ACTIVATION_SILU: return "SILU";
    default: return "NONE";
    }
}

/* The emit's names: rt = runtime prefix ("tiny_rt"), RT its upper case, PU the API's
 * upper-case prefix. */
typedef struct names {
    const char *rt;
    char RT[64], PU[64];
} names;

static void upper(char *dst, size_t cap, const char *s)
{
    size_t i = 0;
    for (; s[i] && i + 1 < cap; i++)
        dst[i] = (s[i] >= 'a' && s[i] <= 'z') ? (char)(s[i] - 'a' + 'A') : s[i];
    dst[i] = 0;
}

static void get_names(cpu_emit *e, names *nm)
{
    nm->rt = cpu_emit_rt_prefix(e);
    upper(nm->RT, sizeof nm->RT, nm->rt);
    upper(nm->PU, sizeof nm->PU, cpu_emit_prefix(e));
}

/* Prints the create-time check of an op pointer. */
static void emit_check_create(cpu_emit *e, const names *nm, const char *id, const char *op)
{
    cpu_emit_printf(e, CPU_SEC_CREATE, "if (!m->%s_%s) {\n", id, op);
    cpu_emit_printf(e, CPU_SEC_CREATE, "    st = %s_ERR_%s; /* %s */\n    goto fail;\n}\n",
                    nm->PU, ERR_CREATE, id);
    cpu_emit_printf(e, CPU_SEC_DESTROY, "%s_onednn_op_destroy(m->%s_%s);\n", nm->rt, id, op);
    cpu_emit_printf(e, CPU_SEC_STATE, "%s_onednn_op *%s_%s;\n", nm->rt, id, op);
}

static void emit_run(cpu_emit *e, const names *nm, const char *id, const char *op,
                     const char *src, const char *dst, const char *sum)
{
    cpu_emit_printf(e, CPU_SEC_RUN,
                    "if (%s_onednn_op_run(m->%s_%s, %s, %s, %s) != 0)\n"
                    "    return %s_ERR_%s;\n",
                    nm->rt, id, op, src, dst, sum, nm->PU, ERR_RUN);
}

/* Layout bookkeeping of one 4-D operand of a conv/pool: where the op reads or writes
 * it (expr), in which layout, and the boundary reorder through scratch if needed. */
typedef struct operand {
    const cpu_tensor *t;
    bool inner_blocked;  /* the op computes on it blocked */
    bool stored_blocked; /* it lives blocked */
    size_t scratch_off;  /* the staged copy in scratch when they differ */
    char expr[160];
} operand;

static size_t align64(size_t n)
{
    return (n + 63) / 64 * 64;
}

static const char *layout_c(const names *nm, bool blocked, char *buf, size_t cap)
{
    /* the prefixes are at most 40 characters (cpu_backend.c), RT at most 63 */
    int n = snprintf(buf, cap, "%.63s_ONEDNN_%s", nm->RT, blocked ? "BLOCKED" : "PLAIN");
    if (n < 0 || (size_t)n >= cap)
        buf[0] = 0;
    return buf;
}

/* Sets up an input (is_src) or the output of an op; *scratch grows by the staged copy.
 * inner: whether the op computes on it blocked. An output's stored layout is decided
 * (and recorded) here. */
static mof_status operand_setup(cpu_emit *e, operand *o, const cpu_tensor *t, bool inner,
                                bool is_src, size_t *scratch)
{
    o->t = t;
    o->inner_blocked = inner;
    if (is_src) {
        o->stored_blocked = stored_blocked(e, t);
    } else {
        o->stored_blocked = can_store_blocked(t) && blocked_add(t);
    }
    if (o->stored_blocked != o->inner_blocked) {
        o->scratch_off = *scratch;
        *scratch += align64(t->nbytes);
        snprintf(o->expr, sizeof o->expr, "((float *)(S + %zu))", o->scratch_off);
    } else {
        snprintf(o->expr, sizeof o->expr, "%s", t->expr);
    }
    return MOF_OK;
}

/* A constant operand's plain data in the blob, as a C expression (NULL if absent). */
static const char *weight(cpu_emit *e, const mof_node *n, size_t i)
{
    if (mof_node_n_inputs(n) <= i || !mof_node_input(n, i))
        return NULL;
    const cpu_tensor *t = cpu_emit_tensor(e, mof_node_input(n, i));
    return t ? cpu_emit_weight_expr(e, t) : NULL;
}

static int64_t attr_at(const mof_node *n, const char *name, size_t i, int64_t def)
{
    size_t cnt = 0;
    const int64_t *v = mof_node_attr_ints(n, name, &cnt);
    return v && i < cnt ? v[i] : def;
}

/* Pads [top, left, bottom, right] from ONNX's pads or auto_pad, for output oh x ow. */
static void spatial_pads(const mof_node *n, int64_t h, int64_t w, int64_t oh, int64_t ow,
                         int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t dh,
                         int64_t dw, int64_t pads[4])
{
    const char *ap = mof_node_attr_string(n, "auto_pad", "NOTSET", NULL);
    if (ap && (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER"))) {
        int64_t th = (oh - 1) * sh + (kh - 1) * dh + 1 - h;
        int64_t tw = (ow - 1) * sw + (kw - 1) * dw + 1 - w;
        th = th < 0 ? 0 : th;
        tw = tw < 0 ? 0 : tw;
        bool lower = !strcmp(ap, "SAME_LOWER");
        pads[0] = lower ? (th + 1) / 2 : th / 2;
        pads[1] = lower ? (tw + 1) / 2 : tw / 2;
        pads[2] = th - pads[0];
        pads[3] = tw - pads[1];
        return;
    }
    bool valid = ap && !strcmp(ap, "VALID");
    pads[0] = valid ? 0 : attr_at(n, "pads", 0, 0);
    pads[1] = valid ? 0 : attr_at(n, "pads", 1, 0);
    /* the far pads that give the output its size (ceil_mode may add some) */
    pads[2] = (oh - 1) * sh + (kh - 1) * dh + 1 - h - pads[0];
    pads[3] = (ow - 1) * sw + (kw - 1) * dw + 1 - w - pads[1];
    if (pads[2] < 0)
        pads[2] = 0; /* trailing rows the windows never reach */
    if (pads[3] < 0)
        pads[3] = 0;
}

/* Reorders of the staged operands (see operand_setup) around the op's run. */
static void emit_stage(cpu_emit *e, const names *nm, const char *id, const char *which,
                       const operand *o, bool before)
{
    char l1[96], l2[96];
    const cpu_tensor *t = o->t;
    cpu_emit_printf(e, CPU_SEC_CREATE,
                    "m->%s_%s = %s_onednn_reorder_create(m->onednn, %lld, %lld, %lld, "
                    "%lld, %s, %s);\n",
                    id, which, nm->rt, (long long)t->dims[0], (long long)t->dims[1],
                    (long long)t->dims[2], (long long)t->dims[3],
                    layout_c(nm, before ? o->stored_blocked : o->inner_blocked, l1, sizeof l1),
                    layout_c(nm, before ? o->inner_blocked : o->stored_blocked, l2, sizeof l2));
    emit_check_create(e, nm, id, which);
    if (before)
        emit_run(e, nm, id, which, t->expr, o->expr, "NULL");
    else
        emit_run(e, nm, id, which, o->expr, t->expr, "NULL");
}

static mof_status emit_conv(cpu_emit *e, const cpu_group *g, const names *nm,
                            const char *id)
{
    const mof_node *n = g->node;
    const cpu_tensor *x = cpu_emit_tensor(e, mof_node_input(n, 0));
    const cpu_tensor *w = cpu_emit_tensor(e, mof_node_input(n, 1));
    const cpu_tensor *y0 = cpu_emit_tensor(e, mof_node_output(n, 0));
    const cpu_tensor *y = g->out;
    if (!x || !w || !y0 || !y || x->rank != 4 || w->rank != 4)
        return cpu_emit_error(e, n, MOF_ERR_UNSUPPORTED, "convolution of unknown shapes");
    int64_t group = mof_node_attr_int(n, "group", 1);
    int64_t kh = w->dims[2], kw = w->dims[3];
    int64_t sh = attr_at(n, "strides", 0, 1), sw = attr_at(n, "strides", 1, 1);
    int64_t dh = attr_at(n, "dilations", 0, 1), dw = attr_at(n, "dilations", 1, 1);
    int64_t pads[4];
    spatial_pads(n, x->dims[2], x->dims[3], y0->dims[2], y0->dims[3], kh, kw, sh, sw, dh,
                 dw, pads);
    float ap[2] = {0, 0};
    mof_activation act = cpu_node_activation(n, ap);
    const cpu_tensor *sum = NULL;
    for (size_t i = 0; i < g->n_post; i++) {
        if (g->post[i].kind == CPU_POST_ADD)
            sum = g->post[i].other;
        else {
            act = g->post[i].activation;
            ap[0] = g->post[i].params[0];
            ap[1] = g->post[i].params[1];
        }
    }
    size_t scratch = 0;
    operand ox, oy;
    mof_status st;
    if ((st = operand_setup(e, &ox, x, blockable(x), true, &scratch)) != MOF_OK
        || (st = operand_setup(e, &oy, y, blockable(y), false, &scratch)) != MOF_OK)
        return st;
    /* the residual is read where it is, in its stored layout */
    bool sum_blocked = sum && stored_blocked(e, sum);
    const char *wx = weight(e, n, 1), *bx = weight(e, n, 2);
    char l1[96], l2[96], l3[96];
    cpu_emit_printf(e, CPU_SEC_CREATE, "{\n%s_onednn_conv_params p = {\n", nm->rt);
    cpu_emit_printf(e, CPU_SEC_CREATE,
                    "    .n = %lld, .c = %lld, .h = %lld, .w = %lld, .k = %lld, .oh = %lld, "
                    ".ow = %lld,\n",
                    (long long)x->dims[0], (long long)x->dims[1], (long long)x->dims[2],
                    (long long)x->dims[3], (long long)y->dims[1], (long long)y->dims[2],
                    (long long)y->dims[3]);
    cpu_emit_printf(e, CPU_SEC_CREATE,
                    "    .kh = %lld, .kw = %lld, .group = %lld, .stride_h = %lld, "
                    ".stride_w = %lld, .dil_h = %lld, .dil_w = %lld,\n"
                    "    .pad_t = %lld, .pad_l = %lld, .pad_b = %lld, .pad_r = %lld,\n",
                    (long long)kh, (long long)kw, (long long)group, (long long)sh,
                    (long long)sw, (long long)dh, (long long)dw, (long long)pads[0],
                    (long long)pads[1], (long long)pads[2], (long long)pads[3]);
    cpu_emit_printf(e, CPU_SEC_CREATE,
                    "    .src_layout = %s, .dst_layout = %s, .has_sum = %d, .sum_layout = %s,\n"
                    "    .act = %s_ONEDNN_ACT_%s, .act_params = {%.9g, %.9g},\n};\n",
                    layout_c(nm, ox.inner_blocked, l1, sizeof l1),
                    layout_c(nm, oy.inner_blocked, l2, sizeof l2), sum ? 1 : 0,
                    layout_c(nm, sum_blocked, l3, sizeof l3), nm->RT, act_name(act),
                    (double)ap[0], (double)ap[1]);
    cpu_emit_printf(e, CPU_SEC_CREATE,
                    "m->%s_op = %s_onednn_conv_create(m->onednn, &p, %s, %s);\n}\n", id,
                    nm->rt, wx ? wx : "NULL", bx ? bx : "NULL");
    if (!wx)
        return cpu_emit_error(e, n, MOF_ERR_INTERNAL, "weights not in the blob");
    emit_check_create(e, nm, id, "op");
    if (ox.stored_blocked != ox.inner_blocked)
        emit_stage(e, nm, id, "in", &ox, true);
    emit_run(e, nm, id, "op", ox.expr, oy.expr, sum ? sum->expr : "NULL");
    if (oy.stored_blocked != oy.inner_blocked)
        emit_stage(e, nm, id, "out", &oy, false);
    if (scratch)
        cpu_emit_scratch(e, scratch);
    return MOF_OK;
}

static mof_status emit_pool(cpu_emit *e, const cpu_group *g, const names *nm,
                            const char *id)
{
    const mof_node *n = g->node;
    const cpu_tensor *x = cpu_emit_tensor(e, mof_node_input(n, 0));
    const cpu_tensor *y = g->out;
    if (!x || !y || x->rank != 4 || y->rank != 4)
        return cpu_emit_error(e, n, MOF_ERR_UNSUPPORTED, "pooling of unknown shapes");
    bool global = is_op(n, "", "GlobalAveragePool") || is_op(n, "", "GlobalMaxPool");
    bool max = is_op(n, "", "MaxPool") || is_op(n, "", "GlobalMaxPool");
    int64_t kh = global ? x->dims[2] : attr_at(n, "kernel_shape", 0, 1);
    int64_t kw = global ? x->dims[3] : attr_at(n, "kernel_shape", 1, 1);
    int64_t sh = global ? 1 : attr_at(n, "strides", 0, 1);
    int64_t sw = global ? 1 : attr_at(n, "strides", 1, 1);
    int64_t dh = global ? 1 : attr_at(n, "dilations", 0, 1);
    int64_t dw = global ? 1 : attr_at(n, "dilations", 1, 1);
    int64_t pads[4] = {0, 0, 0, 0};
    if (!global)
        spatial_pads(n, x->dims[2], x->dims[3], y->dims[2], y->dims[3], kh, kw, sh, sw, dh,
                     dw, pads);
    const char *kind = "MAX";
    if (!max) {
        bool include = mof_node_attr_int(n, "count_include_pad", 0) != 0;
        kind = include ? "AVG_INCLUDE_PAD" : "AVG_EXCLUDE_PAD";
        /* ONNX counts only the declared pads: windows that ceil_mode lets run past
         * them must not count the extra cells */
        if (include && (pads[2] > attr_at(n, "pads", 2, 0) || pads[3] > attr_at(n, "pads", 3, 0)))
            return cpu_emit_error(e, n, MOF_ERR_UNSUPPORTED,
                                  "AveragePool with count_include_pad and ceil_mode "
                                  "windows past the pads");
    }
    size_t scratch = 0;
    operand ox, oy;
    mof_status st;
    if ((st = operand_setup(e, &ox, x, blockable(x), true, &scratch)) != MOF_OK
        || (st = operand_setup(e, &oy, y, blockable(y), false, &scratch)) != MOF_OK)
        return st;
    char l1[96], l2[96];
    cpu_emit_printf(e, CPU_SEC_CREATE,
                    "{\n%s_onednn_pool_params p = {\n"
                    "    .n = %lld, .c = %lld, .h = %lld, .w = %lld, .oh = %lld, .ow = %lld,\n"
                    "    .kh = %lld, .kw = %lld, .stride_h = %lld, .stride_w = %lld, "
                    ".dil_h = %lld, .dil_w = %lld,\n"
                    "    .pad_t = %lld, .pad_l = %lld, .pad_b = %lld, .pad_r = %lld,\n"
                    "    .kind = %s_ONEDNN_POOL_%s, .src_layout = %s, .dst_layout = %s,\n};\n"
                    "m->%s_op = %s_onednn_pool_create(m->onednn, &p);\n}\n",
                    nm->rt, (long long)x->dims[0], (long long)x->dims[1],
                    (long long)x->dims[2], (long long)x->dims[3], (long long)y->dims[2],
                    (long long)y->dims[3], (long long)kh, (long long)kw, (long long)sh,
                    (long long)sw, (long long)dh, (long long)dw, (long long)pads[0],
                    (long long)pads[1], (long long)pads[2], (long long)pads[3], nm->RT, kind,
                    layout_c(nm, ox.inner_blocked, l1, sizeof l1),
                    layout_c(nm, oy.inner_blocked, l2, sizeof l2), id, nm->rt);
    emit_check_create(e, nm, id, "op");
    if (ox.stored_blocked != ox.inner_blocked)
        emit_stage(e, nm, id, "in", &ox, true);
    emit_run(e, nm, id, "op", ox.expr, oy.expr, "NULL");
    if (oy.stored_blocked != oy.inner_blocked)
        emit_stage(e, nm, id, "out", &oy, false);
    if (scratch)
        cpu_emit_scratch(e, scratch);
    return MOF_OK;
}

static mof_status emit_matmul(cpu_emit *e, const cpu_group *g, const names *nm,
                              const char *id)
{
    const mof_node *n = g->node;
    const cpu_tensor *a = cpu_emit_tensor(e, mof_node_input(n, 0));
    const cpu_tensor *b = cpu_emit_tensor(e, mof_node_input(n, 1));
    const cpu_tensor *y = g->out;
    if (!a || !b || !y || b->rank != 2 || a->rank < 2)
        return cpu_emit_error(e, n, MOF_ERR_UNSUPPORTED, "matrix product of unknown shapes");
    bool gemm = is_op(n, "", "Gemm") || is_op(n, MOF_FUSED_DOMAIN, MOF_OP_FUSED_GEMM);
    int trans_b = gemm ? (int)mof_node_attr_int(n, "transB", 0) : 0;
    int64_t k = a->dims[a->rank - 1];
    int64_t nn = trans_b ? b->dims[0] : b->dims[1];
    int64_t mm = k > 0 ? a->numel / k : 0;
    float alpha = gemm ? mof_node_attr_float(n, "alpha", 1.f) : 1.f;
    float beta = gemm ? mof_node_attr_float(n, "beta", 1.f) : 1.f;
    float ap[2] = {0, 0};
    mof_activation act = cpu_node_activation(n, ap);
    const cpu_tensor *add = NULL; /* a bias Add folded in (onednn_accepts_post) */
    for (size_t i = 0; i < g->n_post; i++) {
        if (g->post[i].kind == CPU_POST_ADD) {
            add = g->post[i].other;
            continue;
        }
        act = g->post[i].activation;
        ap[0] = g->post[i].params[0];
        ap[1] = g->post[i].params[1];
    }
    /* The bias row: Gemm's beta * C (C of [n], [1, n], [1] or a scalar; others stay
     * with portable) plus a constant row added after the product, in the blob. */
    const char *bias = "NULL";
    char biasbuf[96];
    const cpu_tensor *c = gemm && mof_node_n_inputs(n) > 2 && mof_node_input(n, 2)
                              ? cpu_emit_tensor(e, mof_node_input(n, 2))
                              : NULL;
    if (c && beta == 0.f)
        c = NULL;
    if (c && !is_bias_row(c->value, nn))
        return cpu_emit_error(e, n, MOF_ERR_UNSUPPORTED,
                              "Gemm's C is neither a row nor a scalar");
    if (add && !is_bias_row(add->value, nn))
        return cpu_emit_error(e, n, MOF_ERR_INTERNAL, "the Add folded in is not a row");
    if (c || add) {
        float *row = malloc((size_t)nn * sizeof *row);
        if (!row)
            return cpu_emit_error(e, n, MOF_ERR_NOMEM, "out of memory");
        const float *cd = c ? mof_tensor_data(c->data) : NULL;
        const float *ad = add ? mof_tensor_data(add->data) : NULL;
        for (int64_t j = 0; j < nn; j++)
            row[j] = (cd ? beta * cd[c->numel == 1 ? 0 : j] : 0.f)
                     + (ad ? ad[add->numel == 1 ? 0 : j] : 0.f);
        size_t off = 0;
        mof_status st = cpu_emit_add_blob(e, row, (size_t)nn * sizeof *row, &off);
        free(row);
        if (st != MOF_OK)
            return st;
        snprintf(biasbuf, sizeof biasbuf, "((const float *)(W + %zu))", off);
        bias = biasbuf;
    }
    const char *bx = weight(e, n, 1);
    if (!bx)
        return cpu_emit_error(e, n, MOF_ERR_INTERNAL, "weights not in the blob");
    cpu_emit_printf(e, CPU_SEC_CREATE,
                    "{\n%s_onednn_matmul_params p = {\n"
                    "    .m = %lld, .k = %lld, .n = %lld, .trans_b = %d, .alpha = %.9g,\n"
                    "    .act = %s_ONEDNN_ACT_%s, .act_params = {%.9g, %.9g},\n};\n"
                    "m->%s_op = %s_onednn_matmul_create(m->onednn, &p, %s, %s);\n}\n",
                    nm->rt, (long long)mm, (long long)k, (long long)nn, trans_b,
                    (double)alpha, nm->RT, act_name(act), (double)ap[0], (double)ap[1], id,
                    nm->rt, bx, bias);
    emit_check_create(e, nm, id, "op");
    emit_run(e, nm, id, "op", a->expr, y->expr, "NULL");
    return MOF_OK;
}

/* An Add of two 4-D activations (with an activation folded in), each operand in its
 * stored layout. */
static mof_status emit_add(cpu_emit *e, const cpu_group *g, const names *nm, const char *id)
{
    const mof_node *n = g->node;
    const cpu_tensor *a = cpu_emit_tensor(e, mof_node_input(n, 0));
    const cpu_tensor *b = cpu_emit_tensor(e, mof_node_input(n, 1));
    const cpu_tensor *y = g->out;
    if (!a || !b || !y || a->rank != 4 || y->rank != 4)
        return cpu_emit_error(e, n, MOF_ERR_UNSUPPORTED, "Add of unknown shapes");
    float ap[2] = {0, 0};
    mof_activation act = MOF_ACTIVATION_NONE;
    for (size_t i = 0; i < g->n_post; i++) {
        act = g->post[i].activation;
        ap[0] = g->post[i].params[0];
        ap[1] = g->post[i].params[1];
    }
    size_t scratch = 0;
    operand oy;
    mof_status st = operand_setup(e, &oy, y, can_store_blocked(y), false, &scratch);
    if (st != MOF_OK)
        return st;
    char l1[96], l2[96], l3[96];
    cpu_emit_printf(e, CPU_SEC_CREATE,
                    "{\n%s_onednn_binary_params p = {\n"
                    "    .n = %lld, .c = %lld, .h = %lld, .w = %lld,\n"
                    "    .src0_layout = %s, .src1_layout = %s, .dst_layout = %s,\n"
                    "    .act = %s_ONEDNN_ACT_%s, .act_params = {%.9g, %.9g},\n};\n"
                    "m->%s_op = %s_onednn_binary_create(m->onednn, &p);\n}\n",
                    nm->rt, (long long)y->dims[0], (long long)y->dims[1],
                    (long long)y->dims[2], (long long)y->dims[3],
                    layout_c(nm, stored_blocked(e, a), l1, sizeof l1),
                    layout_c(nm, stored_blocked(e, b), l2, sizeof l2),
                    layout_c(nm, oy.stored_blocked, l3, sizeof l3), nm->RT, act_name(act),
                    (double)ap[0], (double)ap[1], id, nm->rt);
    emit_check_create(e, nm, id, "op");
    emit_run(e, nm, id, "op", a->expr, y->expr, b->expr);
    return MOF_OK;
}

/* A Concat along the channels (concat_supported): per input a copy, or a reorder where
 * the input's stored layout is not the output's, into its run of each image. */
static mof_status emit_concat(cpu_emit *e, const cpu_group *g, const names *nm,
                              const char *id)
{
    const mof_node *n = g->node;
    const cpu_tensor *y = g->out;
    if (!y || y->rank != 4)
        return cpu_emit_error(e, n, MOF_ERR_UNSUPPORTED, "Concat of unknown shapes");
    size_t scratch = 0;
    operand oy;
    mof_status st = operand_setup(e, &oy, y, can_store_blocked(y), false, &scratch);
    if (st != MOF_OK)
        return st;
    int64_t hw = y->dims[2] * y->dims[3], c_off = 0;
    char l1[96], l2[96], which[32];
    for (size_t i = 0; i < mof_node_n_inputs(n); i++) {
        const cpu_tensor *x = cpu_emit_tensor(e, mof_node_input(n, i));
        if (!x || x->rank != 4)
            return cpu_emit_error(e, n, MOF_ERR_UNSUPPORTED, "Concat of unknown shapes");
        int64_t ci = x->dims[1];
        snprintf(which, sizeof which, "c%zu", i);
        cpu_emit_printf(e, CPU_SEC_CREATE,
                        "m->%s_%s = %s_onednn_reorder_create(m->onednn, 1, %lld, %lld, "
                        "%lld, %s, %s);\n",
                        id, which, nm->rt, (long long)ci, (long long)y->dims[2],
                        (long long)y->dims[3],
                        layout_c(nm, stored_blocked(e, x), l1, sizeof l1),
                        layout_c(nm, oy.stored_blocked, l2, sizeof l2));
        emit_check_create(e, nm, id, which);
        cpu_emit_printf(e, CPU_SEC_RUN,
                        "{\n    long b;\n    for (b = 0; b < %lldL; b++)\n"
                        "        if (%s_onednn_op_run(m->%s_%s, %s + b * %lldL, "
                        "%s + b * %lldL + %lldL, NULL) != 0)\n"
                        "            return %s_ERR_%s;\n}\n",
                        (long long)y->dims[0], nm->rt, id, which, x->expr,
                        (long long)(ci * hw), oy.expr, (long long)(y->dims[1] * hw),
                        (long long)(c_off * hw), nm->PU, ERR_RUN);
        c_off += ci;
    }
    if (c_off != y->dims[1])
        return cpu_emit_error(e, n, MOF_ERR_INVALID_ARG,
                              "Concat's inputs have %lld channels, its output %lld",
                              (long long)c_off, (long long)y->dims[1]);
    return MOF_OK;
}

/* Softmax / LayerNormalization along the last axis: rows of a matrix. */
static mof_status emit_rows(cpu_emit *e, const cpu_group *g, const names *nm, const char *id,
                            op_kind k)
{
    const mof_node *n = g->node;
    const cpu_tensor *x = cpu_emit_tensor(e, mof_node_input(n, 0));
    const cpu_tensor *y = g->out;
    if (!x || !y || x->rank < 1 || x->numel != y->numel)
        return cpu_emit_error(e, n, MOF_ERR_UNSUPPORTED, "normalization of unknown shapes");
    int64_t len = x->dims[x->rank - 1], rows = len > 0 ? x->numel / len : 0;
    if (k == OP_SOFTMAX) {
        cpu_emit_printf(e, CPU_SEC_CREATE,
                        "m->%s_op = %s_onednn_softmax_create(m->onednn, %lld, %lld);\n", id,
                        nm->rt, (long long)rows, (long long)len);
    } else {
        const char *sc = weight(e, n, 1), *bi = weight(e, n, 2);
        if (!sc)
            return cpu_emit_error(e, n, MOF_ERR_INTERNAL, "scale not in the blob");
        cpu_emit_printf(e, CPU_SEC_CREATE,
                        "m->%s_op = %s_onednn_layernorm_create(m->onednn, %lld, %lld, "
                        "(float)%.9g, %s, %s);\n",
                        id, nm->rt, (long long)rows, (long long)len,
                        (double)mof_node_attr_float(n, "epsilon", 1e-5f), sc, bi ? bi : "NULL");
    }
    emit_check_create(e, nm, id, "op");
    emit_run(e, nm, id, "op", x->expr, y->expr, "NULL");
    return MOF_OK;
}

/* A product of two activations, batched over the leading dims. */
static mof_status emit_bmm(cpu_emit *e, const cpu_group *g, const names *nm, const char *id)
{
    const mof_node *n = g->node;
    const cpu_tensor *a = cpu_emit_tensor(e, mof_node_input(n, 0));
    const cpu_tensor *b = cpu_emit_tensor(e, mof_node_input(n, 1));
    const cpu_tensor *y = g->out;
    if (!a || !b || !y || a->rank < 2 || b->rank != a->rank)
        return cpu_emit_error(e, n, MOF_ERR_UNSUPPORTED, "matrix product of unknown shapes");
    int64_t mm = a->dims[a->rank - 2], k = a->dims[a->rank - 1], nn = b->dims[b->rank - 1];
    int64_t batch = mm * k > 0 ? a->numel / (mm * k) : 0;
    float ap[2] = {0, 0};
    mof_activation act = cpu_node_activation(n, ap);
    for (size_t i = 0; i < g->n_post; i++) {
        act = g->post[i].activation;
        ap[0] = g->post[i].params[0];
        ap[1] = g->post[i].params[1];
    }
    cpu_emit_printf(e, CPU_SEC_CREATE,
                    "{\n%s_onednn_bmm_params p = {\n"
                    "    .batch = %lld, .m = %lld, .k = %lld, .n = %lld,\n"
                    "    .act = %s_ONEDNN_ACT_%s, .act_params = {%.9g, %.9g},\n};\n"
                    "m->%s_op = %s_onednn_bmm_create(m->onednn, &p);\n}\n",
                    nm->rt, (long long)batch, (long long)mm, (long long)k, (long long)nn,
                    nm->RT, act_name(act), (double)ap[0], (double)ap[1], id, nm->rt);
    emit_check_create(e, nm, id, "op");
    emit_run(e, nm, id, "op", a->expr, y->expr, b->expr);
    return MOF_OK;
}

/* A dense 3x3 stride-1 convolution: oneDNN's AVX-512 Winograd kernels want blocks of 16. */
static bool is_winograd_conv(const mof_node *n)
{
    const char *op = mof_node_op_type(n);
    if (strcmp(op, "Conv") && strcmp(op, "FusedConv"))
        return false;
    const mof_value *w = mof_node_n_inputs(n) > 1 ? mof_node_input(n, 1) : NULL;
    if (!w || mof_value_rank(w) != 4 || mof_value_dim(w, 2) != 3 || mof_value_dim(w, 3) != 3 ||
        mof_node_attr_int(n, "group", 1) != 1)
        return false;
    size_t ns = 0;
    const int64_t *st = mof_node_attr_ints(n, "strides", &ns);
    for (size_t i = 0; i < ns; i++)
        if (st[i] != 1)
            return false;
    return true;
}

/* Whether to ask for blocks of 8: a 4-D float activation of the main graph has a
 * channel count that is a multiple of 8 but not of 16 (with 16-channel blocks its ops
 * compute on nChw8c copies: MobileNetV2's 24-channel layers) and no dense 3x3 stride-1
 * convolution would lose the Winograd kernels (ResNet, SqueezeNet keep 16). Measured:
 * MobileNetV2 3-5% faster at 1 and 2 threads; SqueezeNet, whose 1000-class conv alone
 * is not a multiple of 16, 25% slower on blocks of 8. */
static bool wants_block8(const cpu_emit *e)
{
    const mof_model *m = cpu_emit_model(e);
    const mof_graph *g = m ? mof_model_graph(m) : NULL;
    bool eight = false;
    for (const mof_node *n = g ? mof_graph_first_node(g) : NULL; n; n = mof_node_next(n)) {
        if (is_winograd_conv(n))
            return false;
        for (size_t i = 0; i < mof_node_n_outputs(n); i++) {
            const mof_value *v = mof_node_output(n, i);
            if (!v || mof_value_dtype(v) != MOF_DTYPE_FLOAT || mof_value_rank(v) != 4)
                continue;
            int64_t c = mof_value_dim(v, 1);
            if (c > 0 && c % 8 == 0 && c % 16 != 0)
                eight = true;
        }
    }
    return eight;
}

static mof_status onednn_begin(cpu_emit *e)
{
    names nm;
    get_names(e, &nm);
    blocked_reset(e);
    mof_status st = cpu_emit_runtime(e, "mofrt_onednn.h");
    if (st == MOF_OK)
        st = cpu_emit_runtime(e, "mofrt_onednn.c");
    if (st != MOF_OK)
        return st;
    cpu_emit_ldlibs(e, "-ldnnl -lgomp");
    cpu_emit_printf(e, CPU_SEC_STATE, "%s_onednn *onednn;\n", nm.rt);
    cpu_emit_printf(e, CPU_SEC_CREATE,
                    "m->onednn = %s_onednn_create(m->threads);\n"
                    "if (!m->onednn) {\n    st = %s_ERR_%s;\n    goto fail;\n}\n",
                    nm.rt, nm.PU, ERR_CREATE);
    if (wants_block8(e))
        cpu_emit_printf(e, CPU_SEC_CREATE, "%s_onednn_prefer_block8(m->onednn);\n", nm.rt);
    cpu_emit_printf(e, CPU_SEC_DESTROY, "%s_onednn_destroy(m->onednn);\n", nm.rt);
    return MOF_OK;
}

static mof_status onednn_emit(cpu_emit *e, const cpu_group *g)
{
    names nm;
    get_names(e, &nm);
    const char *id = cpu_emit_node_id(e, g->node);
    switch (kind_of(g->node)) {
    case OP_CONV: return emit_conv(e, g, &nm, id);
    case OP_POOL: return emit_pool(e, g, &nm, id);
    case OP_MATMUL: {
        const mof_value *b = mof_node_input(g->node, 1);
        bool gemm = is_op(g->node, "", "Gemm")
                    || is_op(g->node, MOF_FUSED_DOMAIN, MOF_OP_FUSED_GEMM);
        if (!gemm && b && !mof_value_is_constant(b))
            return emit_bmm(e, g, &nm, id);
        return emit_matmul(e, g, &nm, id);
    }
    case OP_SOFTMAX:
    case OP_LAYERNORM: return emit_rows(e, g, &nm, id, kind_of(g->node));
    case OP_ADD: return emit_add(e, g, &nm, id);
    case OP_CONCAT: return emit_concat(e, g, &nm, id);
    default: break;
    }
    return cpu_emit_error(e, g->node, MOF_ERR_INTERNAL, "not a oneDNN operator");
}

const cpu_provider cpu_provider_onednn = {
    .name = "onednn",
    .summary = "oneDNN 2.x primitives (JIT AVX2/AVX-512) for convolutions, pooling, "
               "matrix products, softmax, layer norm and channel concats; the rest "
               "portable",
    .flags = CPU_PROVIDER_SELECTABLE,
    .supports = onednn_supports,
    .accepts_post = onednn_accepts_post,
    .emit = onednn_emit,
    .begin = onednn_begin,
};
