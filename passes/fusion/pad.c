/* fold-pad: a Pad in front of a Conv or a pool becomes part of that node's own pads.
 *
 *   Pad(constant 0)    -> Conv                           pads added to Conv's pads
 *   Pad(constant 0)    -> AveragePool                    with count_include_pad=1, the
 *                                                        padded zeros count as they did
 *   Pad(constant -inf) -> MaxPool                        implicit pads are never the max
 *
 * It applies when the Pad is in constant mode with constant pads (attributes before
 * opset 11, constant inputs from 11 on, axes from 18 on) that are non-negative and
 * leave the batch and channel axes alone, its value is 0 (-inf for MaxPool), and its
 * output is read by the Conv or pool alone. The Conv or pool must have auto_pad NOTSET
 * or VALID (which becomes NOTSET). AveragePool additionally needs ceil_mode=0 and
 * either count_include_pad=1 or no pads of its own (it then gets
 * count_include_pad=1); MaxPool must not output Indices. For the pools each resulting
 * pad must stay below the kernel's extent, as ONNX requires. The Conv or pool stays,
 * reading the Pad's input, with the Pad's origins added. Subgraphs are processed
 * too. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fusion.h"

typedef enum consumer_kind { CONS_CONV, CONS_AVGPOOL, CONS_MAXPOOL } consumer_kind;

static const char *const consumers[] = { "Conv", "AveragePool", "MaxPool" };
static const char *const patterns[] = { "Pad -> Conv", "Pad -> AveragePool", "Pad -> MaxPool" };
static const char *const stats[] = { "pad-conv", "pad-averagepool", "pad-maxpool" };

typedef struct pad_match {
    consumer_kind kind;
    mof_node *nodes[2];      /* the Pad, the consumer */
    size_t rank;             /* of the padded tensor */
    int64_t *pads;           /* the consumer's new pads: 2 * (rank - 2), malloc'ed */
    bool set_count_include_pad;
} pad_match;

/* ------------------------------------------------------------------ reading the Pad */

/* The rank of the consumer's input, from its weights or kernel_shape; 0 if unknown. */
static size_t consumer_rank(const pad_match *m)
{
    const mof_node *c = m->nodes[1];
    if (m->kind == CONS_CONV) {
        int r = mof_value_rank(mof_node_input(c, 1));
        if (r < 0)
            r = mof_value_rank(mof_node_input(c, 0));
        return r > 0 ? (size_t)r : 0;
    }
    size_t k = 0;
    mof_node_attr_ints(c, "kernel_shape", &k);
    return k ? k + 2 : 0;
}

/* A constant integer list (int32 or int64): malloc'ed copy in *out. */
static bool constant_ints(const mof_value *v, int64_t **out, size_t *n)
{
    const mof_tensor *t = fusion_constant(v);
    if (!t || mof_tensor_rank(t) > 1)
        return false;
    mof_dtype dt = mof_tensor_dtype(t);
    if (dt != MOF_DTYPE_INT64 && dt != MOF_DTYPE_INT32)
        return false;
    *n = (size_t)mof_tensor_numel(t);
    *out = malloc((*n ? *n : 1) * sizeof(int64_t));
    if (!*out)
        return false;
    for (size_t i = 0; i < *n; i++)
        (*out)[i] = dt == MOF_DTYPE_INT64 ? ((const int64_t *)mof_tensor_data(t))[i]
                                          : ((const int32_t *)mof_tensor_data(t))[i];
    return true;
}

/* The Pad's begin/end pads for every axis into full[2 * rank] and its value. */
static bool read_pad(const fusion_run *r, const pad_match *m, int64_t *full, double *value,
                     mof_match_failure *why)
{
    const mof_node *pad = m->nodes[0];
    const char *mode = mof_node_attr_string(pad, "mode", "constant", NULL);
    if (strcmp(mode, "constant") != 0)
        return fusion_fail(why, 2, pad, "Pad has mode '%s', not constant", mode);
    int64_t *list = NULL, *axes = NULL;
    size_t n = 0, n_axes = 0;
    bool ok = false;
    *value = 0.0;
    if (r->opset >= 11) {
        if (mof_node_n_inputs(pad) < 2 || !constant_ints(mof_node_input(pad, 1), &list, &n)) {
            fusion_fail(why, 2, pad, "Pad's pads are not a constant");
            goto done;
        }
        const mof_value *cv = mof_node_n_inputs(pad) > 2 ? mof_node_input(pad, 2) : NULL;
        if (cv && !fusion_scalar(cv, value)) {
            fusion_fail(why, 2, pad, "Pad's constant_value is not a constant scalar");
            goto done;
        }
        const mof_value *av = mof_node_n_inputs(pad) > 3 ? mof_node_input(pad, 3) : NULL;
        if (av && !constant_ints(av, &axes, &n_axes)) {
            fusion_fail(why, 2, pad, "Pad's axes are not a constant");
            goto done;
        }
    } else {
        const int64_t *attr = mof_node_attr_ints(pad, r->opset >= 2 ? "pads" : "paddings", &n);
        if (!(list = malloc((n ? n : 1) * sizeof(int64_t)))) {
            fusion_fail(why, 2, pad, "out of memory");
            goto done;
        }
        memcpy(list, attr, n * sizeof(int64_t));
        *value = mof_node_attr_float(pad, "value", 0.0f);
    }
    size_t count = axes ? n_axes : m->rank;
    if (n != 2 * count) {
        fusion_fail(why, 2, pad, "Pad has %zu pads for %zu axes", n, count);
        goto done;
    }
    memset(full, 0, 2 * m->rank * sizeof(int64_t));
    for (size_t i = 0; i < count; i++) {
        int64_t a = axes ? axes[i] : (int64_t)i;
        if (a < 0)
            a += (int64_t)m->rank;
        if (a < 0 || a >= (int64_t)m->rank) {
            fusion_fail(why, 2, pad, "Pad axis %lld is out of range", (long long)axes[i]);
            goto done;
        }
        full[a] = list[i];
        full[m->rank + (size_t)a] = list[count + i];
    }
    ok = true;
done:
    free(list);
    free(axes);
    return ok;
}

/* ------------------------------------------------------------------ matching */

static bool match(const fusion_run *r, pad_match *m, mof_match_failure *why)
{
    mof_node *c = m->nodes[1];
    const char *const chain[2] = { "Pad", consumers[m->kind] };
    if (!mof_match_chain(c, 2, chain, m->nodes, why))
        return false;
    if (!(m->rank = consumer_rank(m)) || m->rank < 3)
        return fusion_fail(why, 2, c, "the rank of %s's input is unknown", consumers[m->kind]);
    size_t s = m->rank - 2;
    int64_t *full = calloc(2 * m->rank, sizeof(int64_t));
    m->pads = calloc(2 * s, sizeof(int64_t));
    if (!full || !m->pads) {
        free(full);
        return fusion_fail(why, 2, c, "out of memory");
    }
    double value = 0.0;
    bool ok = read_pad(r, m, full, &value, why);
    for (size_t i = 0; ok && i < 2 * m->rank; i++) {
        if (full[i] < 0)
            ok = fusion_fail(why, 2, m->nodes[0], "Pad crops (negative pads)");
        else if (full[i] && (i % m->rank) < 2)
            ok = fusion_fail(why, 2, m->nodes[0], "Pad pads the %s axis",
                             i % m->rank ? "channel" : "batch");
    }
    if (ok && m->kind == CONS_MAXPOOL && !(isinf(value) && value < 0))
        ok = fusion_fail(why, 2, m->nodes[0], "Pad value is %g; MaxPool needs -inf", value);
    if (ok && m->kind != CONS_MAXPOOL && value != 0.0)
        ok = fusion_fail(why, 2, m->nodes[0], "Pad value is %g, not 0", value);
    const char *auto_pad = mof_node_attr_string(c, "auto_pad", "NOTSET", NULL);
    if (ok && strcmp(auto_pad, "NOTSET") && strcmp(auto_pad, "VALID"))
        ok = fusion_fail(why, 2, c, "%s has auto_pad %s", consumers[m->kind], auto_pad);
    size_t n_old = 0;
    const int64_t *old = mof_node_attr_ints(c, "pads", &n_old);
    if (ok && n_old && n_old != 2 * s)
        ok = fusion_fail(why, 2, c, "%s has %zu pads for %zu spatial axes", consumers[m->kind],
                         n_old, s);
    bool own_pads = false;
    for (size_t j = 0; ok && j < 2 * s; j++) {
        int64_t o = n_old ? old[j] : 0;
        own_pads = own_pads || o != 0;
        m->pads[j] = o + full[j < s ? 2 + j : m->rank + 2 + (j - s)];
    }
    if (ok && m->kind == CONS_AVGPOOL) {
        if (mof_node_attr_int(c, "ceil_mode", 0) != 0)
            ok = fusion_fail(why, 2, c, "AveragePool has ceil_mode=1");
        else if (mof_node_attr_int(c, "count_include_pad", 0) == 0 && own_pads)
            ok = fusion_fail(why, 2, c, "AveragePool has pads of its own and "
                             "count_include_pad=0");
        m->set_count_include_pad = mof_node_attr_int(c, "count_include_pad", 0) == 0;
    }
    if (ok && m->kind == CONS_MAXPOOL && mof_node_n_outputs(c) > 1 && mof_node_output(c, 1) &&
        (mof_value_n_uses(mof_node_output(c, 1)) || mof_value_is_graph_output(mof_node_output(c, 1))))
        ok = fusion_fail(why, 2, c, "MaxPool's Indices output is used");
    if (ok && m->kind != CONS_CONV) {
        size_t nk = 0, nd = 0;
        const int64_t *k = mof_node_attr_ints(c, "kernel_shape", &nk);
        const int64_t *d = mof_node_attr_ints(c, "dilations", &nd);
        for (size_t j = 0; ok && j < 2 * s && nk == s; j++) {
            int64_t extent = (k[j % s] - 1) * (nd == s ? d[j % s] : 1) + 1;
            if (m->pads[j] >= extent)
                ok = fusion_fail(why, 2, c, "a pad of %lld would not be below the kernel "
                                 "extent %lld", (long long)m->pads[j], (long long)extent);
        }
    }
    free(full);
    return ok;
}

/* ------------------------------------------------------------------ the pass */

static mof_status fold(fusion_run *r, pad_match *m)
{
    mof_node *pad = m->nodes[0], *c = m->nodes[1];
    size_t s = m->rank - 2;
    mof_status st;
    if ((st = mof_node_set_attr_ints(c, "pads", 2 * s, m->pads)) < 0 ||
        (!strcmp(mof_node_attr_string(c, "auto_pad", "NOTSET", NULL), "VALID") &&
         (st = mof_node_set_attr_string(c, "auto_pad", "NOTSET")) < 0) ||
        (m->set_count_include_pad && (st = mof_node_set_attr_int(c, "count_include_pad", 1)) < 0))
        return st == MOF_ERR_NOMEM ? fusion_nomem(r) : st;
    if ((st = mof_node_set_input(c, 0, mof_node_input(pad, 0))) < 0 ||
        (st = fusion_add_origins(r, c, 1, &pad)) < 0)
        return st;
    return mof_graph_remove_node(mof_node_graph(pad), pad);
}

static mof_status visit(fusion_run *r, mof_node *n)
{
    pad_match m;
    memset(&m, 0, sizeof m);
    size_t k = 0;
    while (k < 3 && !fusion_is_op(n, consumers[k]))
        k++;
    if (k == 3 || !fusion_is_op(fusion_producer(mof_node_input(n, 0)), "Pad"))
        return MOF_UNCHANGED;
    m.kind = (consumer_kind)k;
    m.nodes[1] = n;
    mof_match_failure why = { 0 };
    mof_status st = MOF_UNCHANGED;
    if (!match(r, &m, &why)) {
        fusion_near_miss(r, n, patterns[k], 2, &why);
    } else if ((st = fold(r, &m)) >= 0) {
        fusion_count(r, stats[k]);
        st = MOF_OK;
    }
    free(m.pads);
    return st;
}

static mof_status run(mof_pass_ctx *pc, mof_model *model, void *priv)
{
    return fusion_run_pass(pc, model, priv, visit);
}

const mof_pass_desc fusion_fold_pad_pass = {
    .size = sizeof(mof_pass_desc),
    .name = "fold-pad",
    .summary = "fold a constant Pad into the pads of the Conv or pool after it",
    .help = "Pad with constant value 0 on the spatial axes only, then Conv or\n"
            "AveragePool (which gets count_include_pad=1), becomes the Conv or pool\n"
            "with larger pads; a Pad of -inf folds into MaxPool the same way. The pads\n"
            "must be constants and the Pad's output read by that node alone.\n"
            "Subgraphs are processed too.",
    .params = fusion_params_table,
    .priv_size = sizeof(struct fusion_params),
    .run = run,
};
