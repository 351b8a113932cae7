/* fuse-attention: scaled dot-product attention written out in elementary operators
 * becomes one mof.Attention node (mof/fused.h):
 *
 *   S = MatMul(Q, K_T)
 *   S = Mul(S, c) or Div(S, c)     optional; c a constant scalar: scale c or 1 / c
 *   S = Add(S, Mask)               optional; Mask any value, either operand order
 *   P = Softmax(S)                 over the last axis
 *   Y = MatMul(P, V)
 *
 * into mof.Attention(Q, K_T, V[, Mask]) with attribute scale. K_T is taken as it is
 * (usually a Transpose of K, which stays). Softmax must normalize the last axis: axis
 * -1, or rank - 1 with the rank known (before opset 13, Softmax flattens from its axis,
 * which is the same thing for the last axis). Every value computed inside must be
 * read inside only. Heads are batch dims, so [B, H, L, D] and [B*H, L, D] layouts both
 * fuse.
 *
 * The match starts at the last MatMul. A near miss is reported once a Softmax was
 * reached, or when MatMul's first input is computed by a node (a Cast, a Dropout)
 * whose own input comes from a Softmax: the usual reason attention does not fuse.
 * Subgraphs are processed too. */
#include <string.h>

#include "fusion.h"

typedef struct attn_match {
    mof_node *nodes[5];      /* the last MatMul, Softmax, [Add], [Mul/Div], MatMul */
    size_t n;
    mof_value *mask;
    double scale;
    bool started;
} attn_match;

/* Softmax normalizes its input's last axis. */
static bool softmax_last_axis(const fusion_run *r, const mof_node *sm, mof_match_failure *why,
                              size_t matched)
{
    int64_t axis = mof_node_attr_int(sm, "axis", r->opset >= 13 ? -1 : 1);
    if (axis == -1)
        return true;
    int rank = mof_value_rank(mof_node_input(sm, 0));
    if (rank >= 0 && axis == rank - 1)
        return true;
    if (rank < 0 && axis >= 0)
        return fusion_fail(why, matched, sm, "Softmax has axis %lld and the rank of its input "
                           "is unknown (run infer-shapes first)", (long long)axis);
    return fusion_fail(why, matched, sm, "Softmax normalizes axis %lld, not the last",
                       (long long)axis);
}

/* A node (Cast, Dropout, ...) between a Softmax and last: for the near miss. */
static bool softmax_behind(const mof_node *p)
{
    for (size_t i = 0; p && i < mof_node_n_inputs(p); i++)
        if (fusion_is_op(fusion_producer(mof_node_input(p, i)), "Softmax"))
            return true;
    return false;
}

/* v is computed by a MatMul, or by a Mul or Div of a MatMul's output. */
static bool leads_to_scores(const mof_value *v)
{
    mof_node *p = fusion_producer(v);
    if (fusion_is_op(p, "MatMul"))
        return true;
    if (!fusion_is_op(p, "Mul") && !fusion_is_op(p, "Div"))
        return false;
    for (size_t i = 0; i < mof_node_n_inputs(p); i++)
        if (fusion_is_op(fusion_producer(mof_node_input(p, i)), "MatMul"))
            return true;
    return false;
}

static bool match(const fusion_run *r, mof_node *last, attn_match *m, mof_match_failure *why)
{
    if (!fusion_is_op(last, "MatMul") || mof_node_n_inputs(last) != 2)
        return false;
    m->nodes[m->n++] = last;
    mof_node *sm = fusion_producer(mof_node_input(last, 0));
    if (!fusion_is_op(sm, "Softmax")) {
        m->started = softmax_behind(sm);
        return fusion_fail(why, 1, sm ? sm : last, "expected Softmax, found %s",
                           sm ? mof_node_op_type(sm) : "no node");
    }
    m->started = true;
    m->nodes[m->n++] = sm;
    if (!softmax_last_axis(r, sm, why, m->n))
        return false;
    mof_node *p = fusion_producer(mof_node_input(sm, 0));
    if (fusion_is_op(p, "Add") && mof_node_n_inputs(p) == 2) {
        /* The scores are the operand computed by a scale or by the first MatMul. */
        size_t k = 0;
        while (k < 2 && !leads_to_scores(mof_node_input(p, k)))
            k++;
        if (k == 2)
            return fusion_fail(why, m->n, p, "neither operand of the mask Add is Q @ K_T");
        m->mask = mof_node_input(p, 1 - k);
        m->nodes[m->n++] = p;
        p = fusion_producer(mof_node_input(p, k));
    }
    m->scale = 1.0;
    if ((fusion_is_op(p, "Mul") || fusion_is_op(p, "Div")) && mof_node_n_inputs(p) == 2) {
        bool div = fusion_is_op(p, "Div");
        size_t k = 0;
        double c = 0.0;
        for (; k < 2; k++) {
            if (div && k == 0)
                continue; /* Div(c, S) is not a scaling */
            if (fusion_scalar(mof_node_input(p, k), &c))
                break;
        }
        if (k == 2)
            return fusion_fail(why, m->n, p, "the scores are %s by '%s', not a constant scalar",
                               div ? "divided" : "multiplied",
                               mof_value_name(mof_node_input(p, div ? 1 : 0)));
        if (div && c == 0.0)
            return fusion_fail(why, m->n, p, "the scores are divided by 0");
        m->scale = div ? 1.0 / c : c;
        m->nodes[m->n++] = p;
        p = fusion_producer(mof_node_input(p, 1 - k));
    }
    if (!fusion_is_op(p, "MatMul") || mof_node_n_inputs(p) != 2)
        return fusion_fail(why, m->n, p ? p : m->nodes[m->n - 1], "expected MatMul(Q, K_T), "
                           "found %s", p ? mof_node_op_type(p) : "no node");
    m->nodes[m->n++] = p;
    if (m->mask) {
        mof_dtype mt = fusion_dtype(m->mask), qt = fusion_dtype(mof_node_input(p, 0));
        if (mt != MOF_DTYPE_UNDEFINED && qt != MOF_DTYPE_UNDEFINED && mt != qt)
            return fusion_fail(why, m->n, m->nodes[2], "the mask is %s, Q is %s",
                               mof_dtype_name(mt), mof_dtype_name(qt));
    }
    return fusion_check_uses(m->nodes, m->n, mof_node_output(last, 0), m->n, why);
}

static mof_status fuse(fusion_run *r, attn_match *m)
{
    mof_node *last = m->nodes[0], *qk = m->nodes[m->n - 1];
    mof_value *in[4] = { mof_node_input(qk, 0), mof_node_input(qk, 1), mof_node_input(last, 1),
                         m->mask };
    mof_node *a = fusion_add_node(r, last, MOF_OP_ATTENTION, MOF_FUSED_DOMAIN, qk,
                                  m->mask ? 4 : 3, in);
    if (!a)
        return MOF_ERR_NOMEM;
    mof_status st;
    if ((st = mof_node_set_attr_float(a, "scale", (float)m->scale)) < 0)
        return fusion_nomem(r);
    if ((st = fusion_add_origins(r, a, m->n, m->nodes)) < 0 || (st = fusion_import_mof(r)) < 0)
        return st;
    return fusion_replace(r, mof_node_output(last, 0), mof_node_output(a, 0), m->n, m->nodes);
}

static mof_status visit(fusion_run *r, mof_node *n)
{
    attn_match m;
    memset(&m, 0, sizeof m);
    mof_match_failure why = { 0 };
    if (!match(r, n, &m, &why)) {
        if (m.started)
            fusion_near_miss(r, n, "attention (MatMul -> scale -> mask -> Softmax -> MatMul)", 5,
                             &why);
        return MOF_UNCHANGED;
    }
    mof_status st = fuse(r, &m);
    if (st < 0)
        return st;
    fusion_count(r, m.mask ? "attention-masked" : "attention");
    return MOF_OK;
}

static mof_status run(mof_pass_ctx *pc, mof_model *model, void *priv)
{
    return fusion_run_pass(pc, model, priv, visit);
}

const mof_pass_desc fusion_attention_pass = {
    .size = sizeof(mof_pass_desc),
    .name = "fuse-attention",
    .summary = "fuse scaled dot-product attention into mof.Attention",
    .help = "MatMul(Q, K_T) -> Mul or Div by a constant -> Add(mask) -> Softmax (last\n"
            "axis) -> MatMul(., V), the scale and the mask optional, becomes\n"
            "mof.Attention(Q, K_T, V, mask) with attribute scale (see mof/fused.h); the\n"
            "model then imports domain \"mof\". Subgraphs are processed too.",
    .params = fusion_params_table,
    .priv_size = sizeof(struct fusion_params),
    .run = run,
};
