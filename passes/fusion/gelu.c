/* fuse-gelu: the GELU activation, as exporters write it out in elementary operators,
 * becomes one node: ONNX Gelu when the model's opset is 20 or more, else mof.Gelu
 * (mof/fused.h), with approximate="tanh" for the tanh form.
 *
 *   erf form   0.5 * x * (1 + Erf(x / sqrt(2)))
 *              PyTorch: Div(x, 1.4142135) -> Erf -> Add(1) -> Mul(x, .) -> Mul(., 0.5);
 *              the division may be a Mul by 0.70710678.
 *   tanh form  0.5 * x * (1 + Tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))
 *              PyTorch (approximate='tanh'): x^3 as Mul(x, Mul(x, x)); others write
 *              Pow(x, 3).
 *
 * The outer product 0.5 * x * (1 + ...) is recognised in any grouping of its three
 * factors into two Muls, and every Mul and Add in either order of its operands. The
 * constants must be scalars within a relative 1e-4 of the exact values. Every value
 * computed inside the pattern must be used inside it only; x is used outside freely.
 * The match starts at the last Mul; a near miss is reported only once an Erf or Tanh
 * was reached (any Mul could otherwise start one). Subgraphs are processed too. */
#include <math.h>
#include <string.h>

#include "fusion.h"

/* Nodes of the longest form: 2 Muls, Add, Tanh, Mul, Add, Mul and the cube's 2 Muls. */
#define GELU_MAX_NODES 9

typedef struct gelu_match {
    mof_node *nodes[GELU_MAX_NODES];
    size_t n;
    mof_value *x;
    bool tanh_form;
    bool started;            /* an Erf or Tanh was reached: a near miss counts */
} gelu_match;

static void add_node(gelu_match *m, mof_node *n)
{
    if (m->n < GELU_MAX_NODES)
        m->nodes[m->n++] = n;
}

/* n is a two-input op_type with one operand the scalar c (within 1e-4); *other
 * receives the other operand. */
static bool binary_with(const mof_node *n, const char *op_type, double c, mof_value **other)
{
    if (!fusion_is_op(n, op_type) || mof_node_n_inputs(n) != 2)
        return false;
    for (size_t k = 0; k < 2; k++) {
        double v;
        if (fusion_scalar(mof_node_input(n, k), &v) && fusion_close(v, c)) {
            *other = mof_node_input(n, 1 - k);
            return true;
        }
    }
    return false;
}

/* ------------------------------------------------------------------ the inner argument */

/* x^3 as Pow(x, 3), Mul(x, Mul(x, x)) or Mul(Mul(x, x), x). */
static bool match_cube(gelu_match *m, const mof_value *cube, const mof_value *x)
{
    mof_node *c = fusion_producer(cube);
    mof_value *base;
    if (binary_with(c, "Pow", 3.0, &base) && mof_node_input(c, 0) == base && base == x) {
        add_node(m, c);
        return true;
    }
    if (!fusion_is_op(c, "Mul") || mof_node_n_inputs(c) != 2)
        return false;
    for (size_t k = 0; k < 2; k++) {
        mof_node *sq = fusion_producer(mof_node_input(c, k));
        if (mof_node_input(c, 1 - k) == x && fusion_is_op(sq, "Mul") &&
            mof_node_n_inputs(sq) == 2 && mof_node_input(sq, 0) == x &&
            mof_node_input(sq, 1) == x) {
            add_node(m, c);
            add_node(m, sq);
            return true;
        }
    }
    return false;
}

/* Erf's input: x / sqrt(2) as Div(x, sqrt 2) or Mul(x, 1/sqrt 2). */
static bool match_erf_arg(gelu_match *m, const mof_node *erf, mof_match_failure *why)
{
    mof_value *arg = mof_node_input(erf, 0), *x = NULL;
    mof_node *d = fusion_producer(arg);
    if (binary_with(d, "Div", sqrt(2.0), &x) && mof_node_input(d, 0) == x) {
        /* Div(x, c), not Div(c, x). */
    } else if (!binary_with(d, "Mul", 1.0 / sqrt(2.0), &x)) {
        return fusion_fail(why, m->n, erf, "the input of Erf is not x / sqrt(2)");
    }
    if (x != m->x)
        return fusion_fail(why, m->n, erf, "Erf reads '%s' / sqrt(2), the product is of '%s'",
                           mof_value_name(x), mof_value_name(m->x));
    add_node(m, d);
    return true;
}

/* Tanh's input: sqrt(2/pi) * (x + 0.044715 * x^3). */
static bool match_tanh_arg(gelu_match *m, const mof_node *t, mof_match_failure *why)
{
    mof_node *scale = fusion_producer(mof_node_input(t, 0));
    mof_value *sum = NULL, *cubic = NULL;
    if (!binary_with(scale, "Mul", 0.7978845608028654 /* sqrt(2 / pi) */, &sum))
        return fusion_fail(why, m->n, t, "the input of Tanh is not sqrt(2/pi) * (...)");
    add_node(m, scale);
    mof_node *add = fusion_producer(sum);
    if (!fusion_is_op(add, "Add") || !(cubic = fusion_other_input(add, m->x)))
        return fusion_fail(why, m->n, scale, "expected Add(x, 0.044715 * x^3) under Tanh");
    add_node(m, add);
    mof_node *k = fusion_producer(cubic);
    mof_value *cube = NULL;
    if (!binary_with(k, "Mul", 0.044715, &cube))
        return fusion_fail(why, m->n, add, "expected 0.044715 * x^3 under Tanh");
    add_node(m, k);
    if (!match_cube(m, cube, m->x))
        return fusion_fail(why, m->n, k, "expected x^3 under Tanh");
    return true;
}

/* ------------------------------------------------------------------ the outer product */

/* l is 1 + Erf(...) or 1 + Tanh(...): *e receives the Erf or Tanh. */
static bool match_one_plus(gelu_match *m, const mof_value *l, mof_node **e,
                           mof_match_failure *why)
{
    mof_node *add = fusion_producer(l);
    if (!fusion_is_op(add, "Add") || mof_node_n_inputs(add) != 2)
        return false;
    for (size_t k = 0; k < 2; k++) {
        mof_node *p = fusion_producer(mof_node_input(add, k));
        if (!fusion_is_op(p, "Erf") && !fusion_is_op(p, "Tanh"))
            continue;
        m->started = true;
        m->tanh_form = fusion_is_op(p, "Tanh");
        double one;
        if (!fusion_scalar(mof_node_input(add, 1 - k), &one) || !fusion_close(one, 1.0))
            return fusion_fail(why, m->n, add, "the Add after %s does not add 1",
                               mof_node_op_type(p));
        add_node(m, add);
        add_node(m, p);
        *e = p;
        return true;
    }
    return false;
}

/* The three factors 0.5, x and (1 + E) in leaves[0..2]. */
static bool match_factors(gelu_match *m, mof_value *const *leaves, mof_match_failure *why)
{
    size_t base = m->n;
    for (size_t a = 0; a < 3; a++) {
        m->n = base;
        mof_node *e = NULL;
        if (!match_one_plus(m, leaves[a], &e, why)) {
            if (m->started)
                return false;
            continue;
        }
        mof_value *u = leaves[(a + 1) % 3], *v = leaves[(a + 2) % 3];
        double h;
        if (fusion_scalar(v, &h) && fusion_close(h, 0.5)) {
            mof_value *t = u;
            u = v;
            v = t;
        }
        if (!fusion_scalar(u, &h) || !fusion_close(h, 0.5))
            return fusion_fail(why, m->n, m->nodes[0], "no factor 0.5 in the product with "
                               "1 + %s", mof_node_op_type(e));
        m->x = v;
        return m->tanh_form ? match_tanh_arg(m, e, why) : match_erf_arg(m, e, why);
    }
    return false;
}

/* Matches the whole pattern ending at the Mul last. */
static bool match(mof_node *last, gelu_match *m, mof_match_failure *why)
{
    if (!fusion_is_op(last, "Mul") || mof_node_n_inputs(last) != 2)
        return false;
    /* The three factors are the operands of last, one of them a Mul opened up. */
    for (size_t k = 0; k < 2; k++) {
        mof_node *inner = fusion_producer(mof_node_input(last, k));
        if (!fusion_is_op(inner, "Mul") || mof_node_n_inputs(inner) != 2)
            continue;
        mof_value *leaves[3] = { mof_node_input(inner, 0), mof_node_input(inner, 1),
                                 mof_node_input(last, 1 - k) };
        m->n = 0;
        add_node(m, last);
        add_node(m, inner);
        if (match_factors(m, leaves, why))
            return fusion_check_uses(m->nodes, m->n, mof_node_output(last, 0), m->n, why);
        if (m->started)
            return false;
    }
    return false;
}

/* ------------------------------------------------------------------ the pass */

static mof_status fuse(fusion_run *r, gelu_match *m)
{
    mof_node *last = m->nodes[0];
    bool onnx = r->opset >= 20;
    mof_node *g = fusion_add_node(r, last, "Gelu", onnx ? "" : MOF_FUSED_DOMAIN, last, 1, &m->x);
    if (!g)
        return MOF_ERR_NOMEM;
    mof_status st;
    if (m->tanh_form && (st = mof_node_set_attr_string(g, "approximate", "tanh")) < 0)
        return fusion_nomem(r);
    if ((st = fusion_add_origins(r, g, m->n, m->nodes)) < 0 ||
        (!onnx && (st = fusion_import_mof(r)) < 0))
        return st;
    return fusion_replace(r, mof_node_output(last, 0), mof_node_output(g, 0), m->n, m->nodes);
}

static mof_status visit(fusion_run *r, mof_node *n)
{
    gelu_match m;
    memset(&m, 0, sizeof m);
    mof_match_failure why = { 0 };
    if (!match(n, &m, &why)) {
        if (m.started)
            fusion_near_miss(r, n, m.tanh_form ? "GELU (tanh form)" : "GELU (erf form)",
                             m.tanh_form ? 8 : 5, &why);
        return MOF_UNCHANGED;
    }
    mof_status st = fuse(r, &m);
    if (st < 0)
        return st;
    fusion_count(r, m.tanh_form ? "gelu-tanh" : "gelu-erf");
    return MOF_OK;
}

static mof_status run(mof_pass_ctx *pc, mof_model *model, void *priv)
{
    return fusion_run_pass(pc, model, priv, visit);
}

const mof_pass_desc fusion_gelu_pass = {
    .size = sizeof(mof_pass_desc),
    .name = "fuse-gelu",
    .summary = "fuse the erf and tanh forms of GELU into one Gelu node",
    .help = "0.5 * x * (1 + Erf(x / sqrt(2))) and 0.5 * x * (1 + Tanh(sqrt(2/pi) *\n"
            "(x + 0.044715 * x^3))), as PyTorch exports them (any order of operands,\n"
            "any grouping of the three factors), become Gelu: ONNX Gelu at opset 20 and\n"
            "later, else mof.Gelu (see mof/fused.h; the model then imports domain\n"
            "\"mof\"). Subgraphs are processed too.",
    .params = fusion_params_table,
    .priv_size = sizeof(struct fusion_params),
    .run = run,
};
