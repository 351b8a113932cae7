/* fuse-activation: Conv, Gemm or MatMul followed by an activation becomes one fused
 * operator of the "mof" domain (mof/fused.h): mof.FusedConv, mof.FusedGemm or
 * mof.FusedMatMul, with the product's inputs and attributes, plus the activation named
 * in `activation` and its parameters in `activation_params`.
 *
 * Activations: Relu; Clip (Relu6 and any constant min / max: attributes before opset
 * 11, constant scalar inputs from 11 on, an omitted bound being infinite); LeakyRelu
 * (alpha); Sigmoid; HardSigmoid (alpha, beta); HardSwish; and the gated forms
 * Mul(x, Sigmoid(x)), SiLU, and Mul(x, HardSigmoid(x)) with alpha 1/6 and beta 1/2,
 * HardSwish as PyTorch exports it before opset 14: there the product's output has
 * exactly two uses, the gate and the Mul, and the gate's output one, the Mul.
 * Elsewhere the product's output must be read by the activation alone.
 *
 * The product must be of a float type (known from its constant weights or from value
 * types). The fused node replaces both nodes (their origins kept), its output taking
 * the activation's output name; the model imports the "mof" domain, version 1. Run
 * fuse-conv-bn and fuse-bias first, so that BatchNormalization and bias Adds no longer
 * sit between a product and its activation. Subgraphs are processed too. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fusion.h"

static const char *const products[] = { "Conv", "Gemm", "MatMul" };
static const char *const fused_ops[] = { MOF_OP_FUSED_CONV, MOF_OP_FUSED_GEMM,
                                         MOF_OP_FUSED_MATMUL };
static const char *const stats[] = { "conv-activation", "gemm-activation",
                                     "matmul-activation" };

typedef struct act_match {
    size_t product;              /* index in products[] */
    mof_node *nodes[3];          /* the product, [the gate of SiLU,] the activation */
    size_t n_nodes;
    mof_activation kind;
    float params[2];
    size_t n_params;
} act_match;

/* ------------------------------------------------------------------ matching */

/* The activation n computes, with its parameters. Clip's bounds must be constants. */
static bool activation_of(const fusion_run *r, const mof_node *n, act_match *m,
                          mof_match_failure *why)
{
    static const struct { const char *op; mof_activation kind; } table[] = {
        { "Relu", MOF_ACTIVATION_RELU },          { "LeakyRelu", MOF_ACTIVATION_LEAKY_RELU },
        { "Clip", MOF_ACTIVATION_CLIP },          { "Sigmoid", MOF_ACTIVATION_SIGMOID },
        { "HardSigmoid", MOF_ACTIVATION_HARD_SIGMOID },
        { "HardSwish", MOF_ACTIVATION_HARD_SWISH },
    };
    m->kind = MOF_ACTIVATION_UNKNOWN;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (fusion_is_op(n, table[i].op))
            m->kind = table[i].kind;
    if (m->kind == MOF_ACTIVATION_UNKNOWN)
        return false;
    m->n_params = (size_t)mof_activation_n_params(m->kind, m->params);
    switch (m->kind) {
    case MOF_ACTIVATION_LEAKY_RELU:
        m->params[0] = mof_node_attr_float(n, "alpha", 0.01f);
        break;
    case MOF_ACTIVATION_HARD_SIGMOID:
        m->params[0] = mof_node_attr_float(n, "alpha", 0.2f);
        m->params[1] = mof_node_attr_float(n, "beta", 0.5f);
        break;
    case MOF_ACTIVATION_CLIP:
        if (r->opset < 11) {
            m->params[0] = mof_node_attr_float(n, "min", -FLT_MAX);
            m->params[1] = mof_node_attr_float(n, "max", FLT_MAX);
            break;
        }
        for (size_t k = 1; k < 3 && k < mof_node_n_inputs(n); k++) {
            const mof_value *b = mof_node_input(n, k);
            double v;
            if (!b)
                continue;
            if (!fusion_scalar(b, &v))
                return fusion_fail(why, 1, n, "Clip %s '%s' is not a constant scalar",
                                   k == 1 ? "min" : "max", mof_value_name(b));
            m->params[k - 1] = (float)v;
        }
        break;
    default:
        break;
    }
    return true;
}

/* The product's element type, from its weights or any typed value around it. */
static mof_dtype product_dtype(const mof_node *p)
{
    mof_dtype t = fusion_dtype(mof_node_output(p, 0));
    for (size_t i = 0; t == MOF_DTYPE_UNDEFINED && i < 2 && i < mof_node_n_inputs(p); i++)
        t = fusion_dtype(mof_node_input(p, i));
    return t;
}

/* The product feeding x, as an index in products[]; 3 when none. */
static size_t product_index(const mof_node *p)
{
    size_t k = 0;
    while (p && k < 3 && !fusion_is_op(p, products[k]))
        k++;
    return p ? k : 3;
}

static bool check_product(const act_match *m, mof_match_failure *why)
{
    const mof_node *p = m->nodes[0];
    mof_dtype t = product_dtype(p);
    if (t == MOF_DTYPE_UNDEFINED)
        return fusion_fail(why, m->n_nodes, p, "the element type of %s is unknown (run "
                           "infer-shapes first)", mof_node_op_type(p));
    if (!fusion_is_float(t))
        return fusion_fail(why, m->n_nodes, p, "%s computes %s, not a float type",
                           mof_node_op_type(p), mof_dtype_name(t));
    return true;
}

/* Product -> activation, ending at the activation act. */
static bool match_plain(const fusion_run *r, mof_node *act, act_match *m,
                        mof_match_failure *why)
{
    if (!activation_of(r, act, m, why))
        return false;
    mof_node *p = fusion_producer(mof_node_input(act, 0));
    m->product = product_index(p);
    if (m->product == 3) {
        if (!p)
            return mof_match_chain(act, 2, (const char *const[]){ "Conv", mof_node_op_type(act) },
                                   m->nodes, why);
        return fusion_fail(why, 1, p, "expected Conv, Gemm or MatMul, found %s",
                           mof_node_op_type(p));
    }
    const char *const chain[2] = { products[m->product], mof_node_op_type(act) };
    m->n_nodes = 2;
    return mof_match_chain(act, 2, chain, m->nodes, why) && check_product(m, why);
}

/* The gate of Mul(x, gate(x)) when mul is one: a Sigmoid (SiLU), or a HardSigmoid
 * with alpha 1/6 and beta 1/2 (HardSwish, as exported before opset 14); NULL
 * otherwise. *kind receives the activation. */
static mof_node *gate_of(const mof_node *mul, mof_activation *kind)
{
    if (!fusion_is_op(mul, "Mul") || mof_node_n_inputs(mul) != 2)
        return NULL;
    for (size_t k = 0; k < 2; k++) {
        mof_node *s = fusion_producer(mof_node_input(mul, k));
        if (!s || !mof_node_input(s, 0) || mof_node_input(s, 0) != mof_node_input(mul, 1 - k))
            continue;
        if (fusion_is_op(s, "Sigmoid")) {
            *kind = MOF_ACTIVATION_SILU;
            return s;
        }
        if (fusion_is_op(s, "HardSigmoid") &&
            fusion_close(mof_node_attr_float(s, "alpha", 0.2f), 1.0 / 6.0) &&
            mof_node_attr_float(s, "beta", 0.5f) == 0.5f) {
            *kind = MOF_ACTIVATION_HARD_SWISH;
            return s;
        }
    }
    return NULL;
}

/* Product -> gate -> Mul(product, gate), ending at mul. */
static bool match_gated(mof_node *mul, mof_node *gate, act_match *m, mof_match_failure *why)
{
    m->n_params = 0;
    mof_value *x = mof_node_input(gate, 0);
    mof_node *p = fusion_producer(x);
    m->product = product_index(p);
    if (m->product == 3)
        return p ? fusion_fail(why, 2, p, "expected Conv, Gemm or MatMul, found %s",
                               mof_node_op_type(p))
                 : fusion_fail(why, 2, gate, "input '%s' of %s is not produced by a node",
                               mof_value_name(x), mof_node_op_type(gate));
    m->nodes[0] = p;
    m->nodes[1] = gate;
    m->nodes[2] = mul;
    m->n_nodes = 3;
    return fusion_check_uses(m->nodes, 3, mof_node_output(mul, 0), 2, why) &&
           check_product(m, why);
}

/* ------------------------------------------------------------------ rewriting */

static mof_status fuse(fusion_run *r, act_match *m)
{
    mof_node *p = m->nodes[0], *last = m->nodes[m->n_nodes - 1];
    size_t n_in = mof_node_n_inputs(p);
    mof_value **in = malloc((n_in ? n_in : 1) * sizeof(*in));
    if (!in)
        return fusion_nomem(r);
    for (size_t i = 0; i < n_in; i++)
        in[i] = mof_node_input(p, i);
    mof_node *f = fusion_add_node(r, last, fused_ops[m->product], MOF_FUSED_DOMAIN, p, n_in, in);
    free(in);
    if (!f)
        return MOF_ERR_NOMEM;
    mof_status st;
    if ((st = mof_node_copy_attrs(f, p)) < 0 ||
        (st = mof_node_set_attr_string(f, "activation", mof_activation_name(m->kind))) < 0 ||
        (m->n_params &&
         (st = mof_node_set_attr_floats(f, "activation_params", m->n_params, m->params)) < 0))
        return st == MOF_ERR_NOMEM ? fusion_nomem(r) : st;
    /* Gemm's broadcast (opset < 7) has no meaning for FusedGemm, which broadcasts C. */
    mof_node_remove_attr(f, "broadcast");
    if ((st = fusion_add_origins(r, f, m->n_nodes, m->nodes)) < 0 ||
        (st = fusion_import_mof(r)) < 0)
        return st;
    return fusion_replace(r, mof_node_output(last, 0), mof_node_output(f, 0), m->n_nodes,
                          m->nodes);
}

/* ------------------------------------------------------------------ the pass */

static const char *pattern_name(const act_match *m, const mof_node *n)
{
    static const char *const names[4][3] = {
        { "Conv -> activation", "Conv -> SiLU", "Conv -> HardSwish (x * HardSigmoid(x))" },
        { "Gemm -> activation", "Gemm -> SiLU", "Gemm -> HardSwish (x * HardSigmoid(x))" },
        { "MatMul -> activation", "MatMul -> SiLU", "MatMul -> HardSwish (x * HardSigmoid(x))" },
        { "product -> activation", "product -> SiLU",
          "product -> HardSwish (x * HardSigmoid(x))" },
    };
    size_t form = !fusion_is_op(n, "Mul") ? 0 : m->kind == MOF_ACTIVATION_SILU ? 1 : 2;
    return names[m->product < 3 ? m->product : 3][form];
}

/* n is the gate of a Mul(x, gate(x)): the match starts at the Mul instead. */
static bool is_gate(const mof_node *n)
{
    const mof_value *y = mof_node_n_outputs(n) ? mof_node_output(n, 0) : NULL;
    mof_activation kind;
    return y && mof_value_n_uses(y) == 1 && !mof_value_is_graph_output(y) &&
           gate_of(mof_value_use(y, 0, NULL), &kind) == n;
}

static mof_status visit(fusion_run *r, mof_node *n)
{
    act_match m;
    memset(&m, 0, sizeof m);
    m.product = 3;
    mof_match_failure why = { 0 };
    bool ok;
    mof_node *gate = gate_of(n, &m.kind);
    if (gate) {
        ok = match_gated(n, gate, &m, &why);
    } else {
        if (is_gate(n))
            return MOF_UNCHANGED;
        ok = match_plain(r, n, &m, &why);
        if (!ok && m.kind == MOF_ACTIVATION_UNKNOWN)
            return MOF_UNCHANGED; /* not an activation: no match started */
    }
    if (!ok) {
        fusion_near_miss(r, n, pattern_name(&m, n), gate ? 3 : 2, &why);
        return MOF_UNCHANGED;
    }
    mof_status st = fuse(r, &m);
    if (st < 0)
        return st;
    fusion_count(r, stats[m.product]);
    return MOF_OK;
}

static mof_status run(mof_pass_ctx *pc, mof_model *model, void *priv)
{
    return fusion_run_pass(pc, model, priv, visit);
}

const mof_pass_desc fusion_activation_pass = {
    .size = sizeof(mof_pass_desc),
    .name = "fuse-activation",
    .summary = "fuse Conv, Gemm or MatMul with the activation after it (mof.Fused* ops)",
    .help = "Conv, Gemm or MatMul followed by Relu, Clip (Relu6 or constant bounds),\n"
            "LeakyRelu, Sigmoid, HardSigmoid, HardSwish (also x * HardSigmoid(x)) or\n"
            "SiLU (x * Sigmoid(x)) becomes mof.FusedConv, mof.FusedGemm or\n"
            "mof.FusedMatMul with attributes activation and activation_params (see\n"
            "mof/fused.h); the model then imports domain \"mof\" version 1. The\n"
            "product's output must feed only the activation. Subgraphs are processed too.",
    .params = fusion_params_table,
    .priv_size = sizeof(struct fusion_params),
    .run = run,
};
