/* fuse-bias and fuse-matmul-add: an Add after a product becomes the product's bias.
 *
 * fuse-bias: Conv (or Gemm) -> Add of a constant D. When D broadcast against the
 * product's output only varies along the channel axis (Conv: axis 1 of [N, C, ...];
 * Gemm: the columns of [M, N], or also the rows when D is [M, N]), adding D is adding
 * a bias: D is added into Conv's bias input B (created when absent), or into Gemm's C
 * (as beta * C + D, with beta set to 1). D must not make the output bigger (a rank
 * above the output's, or a dim the output broadcasts along). The Add's operands may be
 * in either order. The product node stays, its bias a new initializer (computed in
 * double, rounded once), its output renamed to the Add's output.
 *
 * fuse-matmul-add: MatMul(A, B) -> Add(D) becomes Gemm(A, B, D) when Gemm computes
 * the same thing: A is 2-D (its rank known from its type: run infer-shapes first on a
 * model without value_info), B is a constant 2-D matrix [K, N], and D broadcasts to the
 * [M, N] result without widening it (its rank at most 2, its last dim 1 or N, its first
 * dim, when it has two, 1 or M). D need not be constant. Before opset 7 the Gemm gets
 * broadcast=1. An A of rank r > 2 ([..., M, K], a transformer's [batch, tokens,
 * features]) is reshaped to [-1, K] before the Gemm and the result back to
 * [..., M, N] (its leading dims, one unknown one as -1; opset 5 or later), when D is
 * a bias row (its first dim, if any, 1).
 *
 * Both need the product's output to be read by the Add alone, and work in every
 * graph, subgraphs included. A near miss is reported only for an Add of a constant
 * (an Add of two computed values, a residual connection, starts no match). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fusion.h"

/* The product feeding one operand of an Add, and the other operand. */
typedef struct add_match {
    mof_node *nodes[2];      /* the product, the Add */
    mof_value *operand;      /* the Add's other operand */
} add_match;

/* Finds an operand of the Add computed by one of ops (n_ops of them); false when
 * neither operand is. */
static bool find_product(mof_node *add, size_t n_ops, const char *const *ops, add_match *m)
{
    if (mof_node_n_inputs(add) != 2)
        return false;
    for (size_t k = 0; k < 2; k++) {
        mof_node *p = fusion_producer(mof_node_input(add, k));
        for (size_t i = 0; p && i < n_ops; i++) {
            if (fusion_is_op(p, ops[i])) {
                m->nodes[0] = p;
                m->nodes[1] = add;
                m->operand = mof_node_input(add, 1 - k);
                return true;
            }
        }
    }
    return false;
}

/* Dim i of v's shape as far as it is known: its type, or its constant tensor. */
static int64_t known_dim(const mof_value *v, int i)
{
    return v ? mof_value_dim(v, (size_t)i) : MOF_DIM_UNKNOWN;
}

/* ------------------------------------------------------------------ fuse-bias */

/* A per-channel bias d[c] read out of D, and, for Gemm, D's rows (1 or M). */
typedef struct bias_plan {
    const mof_tensor *d;
    int64_t channels;        /* Conv: output channels; Gemm: N */
    int64_t rows;            /* Gemm: rows of the new C (1 or M) */
    mof_dtype dtype;
} bias_plan;

/* D broadcast to Conv's output [N, C, spatial...] (rank out_rank) varies only along
 * axis 1. */
static bool conv_bias_shape(const mof_node *add, const mof_tensor *d, int out_rank,
                            int64_t channels, mof_match_failure *why)
{
    size_t rd = mof_tensor_rank(d);
    const int64_t *dd = mof_tensor_dims(d);
    if ((int)rd > out_rank)
        return fusion_fail(why, 2, add, "the added constant has rank %zu, Conv's output %d",
                           rd, out_rank);
    for (size_t i = 0; i < rd; i++) {
        int axis = out_rank - (int)rd + (int)i;
        if (dd[i] == 1 || (axis == 1 && dd[i] == channels))
            continue;
        return fusion_fail(why, 2, add, "the added constant's dim %zu is %lld: not a "
                           "per-channel bias of %lld channels", i, (long long)dd[i],
                           (long long)channels);
    }
    return true;
}

static bool match_bias(const fusion_run *r, mof_node *add, add_match *m, bias_plan *b,
                       mof_match_failure *why)
{
    static const char *const ops[2] = { "Conv", "Gemm" };
    if (!find_product(add, 2, ops, m))
        return false;
    mof_node *p = m->nodes[0];
    bool gemm = fusion_is_op(p, "Gemm");
    if (!fusion_check_uses(m->nodes, 2, mof_node_output(add, 0), 1, why))
        return false;
    b->d = fusion_constant(m->operand);
    if (!b->d)
        return fusion_fail(why, 2, add, "Add operand '%s' is not a constant",
                           mof_value_name(m->operand));
    b->dtype = mof_tensor_dtype(b->d);
    if (b->dtype != MOF_DTYPE_FLOAT && b->dtype != MOF_DTYPE_DOUBLE)
        return fusion_fail(why, 2, add, "the added constant is %s, not float",
                           mof_dtype_name(b->dtype));
    const mof_value *bias = mof_node_n_inputs(p) > 2 ? mof_node_input(p, 2) : NULL;
    const mof_tensor *bt = bias ? fusion_constant(bias) : NULL;
    if (bias && !bt)
        return fusion_fail(why, 2, p, "%s bias '%s' is not a constant", mof_node_op_type(p),
                           mof_value_name(bias));
    if (bt && mof_tensor_dtype(bt) != b->dtype)
        return fusion_fail(why, 2, p, "%s bias is %s, the added constant %s",
                           mof_node_op_type(p), mof_dtype_name(mof_tensor_dtype(bt)),
                           mof_dtype_name(b->dtype));
    const mof_value *w = mof_node_input(p, 1);
    if (!gemm) {
        int rank = w ? mof_value_rank(w) : -1;
        b->channels = known_dim(w, 0);
        if (rank < 3 || b->channels < 0)
            return fusion_fail(why, 2, p, "Conv weight's shape is unknown");
        return conv_bias_shape(add, b->d, rank, b->channels, why);
    }
    /* Gemm: [M, N] = op(A) op(B); D may be [N], [1, N], [M, N], [M, 1] or a scalar. */
    bool ta = mof_node_attr_int(p, "transA", 0) != 0, tb = mof_node_attr_int(p, "transB", 0) != 0;
    int64_t rows = known_dim(mof_node_input(p, 0), ta ? 1 : 0);
    int64_t cols = known_dim(w, tb ? 0 : 1);
    size_t rc = bt ? mof_tensor_rank(bt) : 0;
    if (cols < 0 && rc && mof_tensor_dims(bt)[rc - 1] > 1)
        cols = mof_tensor_dims(bt)[rc - 1];
    size_t rd = mof_tensor_rank(b->d);
    const int64_t *dd = mof_tensor_dims(b->d);
    int64_t dcols = rd ? dd[rd - 1] : 1, drows = rd == 2 ? dd[0] : 1;
    if (rd > 2)
        return fusion_fail(why, 2, add, "the added constant has rank %zu, Gemm's output 2", rd);
    if (dcols != 1 && cols < 0)
        return fusion_fail(why, 2, add, "Gemm's column count is unknown");
    if (dcols != 1 && dcols != cols)
        return fusion_fail(why, 2, add, "the added constant has %lld columns, Gemm's output "
                           "%lld", (long long)dcols, (long long)cols);
    if (drows != 1 && rows < 0)
        return fusion_fail(why, 2, add, "Gemm's row count is unknown");
    if (drows != 1 && drows != rows)
        return fusion_fail(why, 2, add, "the added constant has %lld rows, Gemm's output %lld",
                           (long long)drows, (long long)rows);
    /* The new C: as many rows and columns as D and C have between them (1 or M, 1 or
     * N), so that it broadcasts exactly as they did. */
    b->channels = dcols > 1 || (rc && mof_tensor_dims(bt)[rc - 1] > 1) ? cols : 1;
    b->rows = drows;
    if (rc == 2 && mof_tensor_dims(bt)[0] > b->rows)
        b->rows = mof_tensor_dims(bt)[0];
    return true;
}

/* Element (i, j) of a tensor read as broadcast to [rows, cols] (rank 0, 1 or 2). */
static double at2(const double *v, const mof_tensor *t, int64_t i, int64_t j)
{
    size_t r = mof_tensor_rank(t);
    const int64_t *d = mof_tensor_dims(t);
    int64_t cols = r ? d[r - 1] : 1, rows = r == 2 ? d[0] : 1;
    return v[(rows == 1 ? 0 : i) * cols + (cols == 1 ? 0 : j)];
}

static mof_status fold_bias(fusion_run *r, add_match *m, const bias_plan *b)
{
    mof_node *p = m->nodes[0], *add = m->nodes[1];
    bool gemm = fusion_is_op(p, "Gemm");
    mof_value *bias = mof_node_n_inputs(p) > 2 ? mof_node_input(p, 2) : NULL;
    const mof_tensor *bt = bias ? fusion_constant(bias) : NULL;
    double beta = gemm ? mof_node_attr_float(p, "beta", 1.0f) : 1.0;
    int64_t rows = gemm ? b->rows : 1, cols = b->channels;
    double *dv = fusion_read_f64(b->d), *bv = bt ? fusion_read_f64(bt) : NULL;
    double *out = malloc((size_t)(rows * cols) * sizeof(double));
    mof_status st = MOF_ERR_NOMEM;
    if (!dv || (bt && !bv) || !out) {
        st = fusion_nomem(r);
        goto done;
    }
    for (int64_t i = 0; i < rows; i++) {
        for (int64_t j = 0; j < cols; j++) {
            double v = gemm ? at2(dv, b->d, i, j) : dv[mof_tensor_numel(b->d) == 1 ? 0 : j];
            if (bt)
                v += beta * (gemm ? at2(bv, bt, i, j) : bv[j]);
            out[i * cols + j] = v;
        }
    }
    int64_t dims[2] = { rows, cols };
    mof_tensor *t = rows > 1 ? fusion_tensor_f64(b->dtype, 2, dims, out)
                             : fusion_tensor_f64(b->dtype, 1, &cols, out);
    const char *base = bias ? mof_value_name(bias) : mof_value_name(mof_node_output(p, 0));
    size_t len = strlen(base) + 8;
    char *hint = malloc(len);
    if (!hint) {
        mof_tensor_unref(t);
        st = fusion_nomem(r);
        goto done;
    }
    snprintf(hint, len, "%s_%s", base, bias ? "add" : "bias");
    mof_value *nb = fusion_add_constant(r, mof_node_graph(p), hint, t);
    free(hint);
    if (!nb)
        goto done;
    if ((st = mof_node_set_input(p, 2, nb)) < 0)
        goto done;
    if (gemm && beta != 1.0 && (st = mof_node_set_attr_float(p, "beta", 1.0f)) < 0)
        goto done;
    if ((st = fusion_add_origins(r, p, 1, &add)) < 0)
        goto done;
    mof_node *remove[1] = { add };
    st = fusion_replace(r, mof_node_output(add, 0), mof_node_output(p, 0), 1, remove);
done:
    free(dv);
    free(bv);
    free(out);
    return st;
}

static mof_status visit_bias(fusion_run *r, mof_node *n)
{
    if (!fusion_is_op(n, "Add"))
        return MOF_UNCHANGED;
    add_match m;
    bias_plan b;
    memset(&m, 0, sizeof m);
    memset(&b, 0, sizeof b);
    mof_match_failure why = { 0 };
    if (!match_bias(r, n, &m, &b, &why)) {
        /* Only an Add of a constant to a Conv or Gemm output started a match (not
         * residual connections). */
        if (m.nodes[0] && fusion_constant(m.operand))
            fusion_near_miss(r, n, fusion_is_op(m.nodes[0], "Conv") ? "Conv -> Add"
                                                                     : "Gemm -> Add",
                             2, &why);
        return MOF_UNCHANGED;
    }
    mof_status st = fold_bias(r, &m, &b);
    if (st < 0)
        return st;
    fusion_count(r, fusion_is_op(m.nodes[0], "Conv") ? "conv-bias" : "gemm-bias");
    return MOF_OK;
}

static mof_status run_bias(mof_pass_ctx *pc, mof_model *model, void *priv)
{
    return fusion_run_pass(pc, model, priv, visit_bias);
}

const mof_pass_desc fusion_bias_pass = {
    .size = sizeof(mof_pass_desc),
    .name = "fuse-bias",
    .summary = "fold an Add of a per-channel constant into the bias of the Conv or Gemm before it",
    .help = "Conv -> Add(D) becomes one Conv when the constant D adds the same value to\n"
            "every element of a channel (shape [C,1,1], [1,C,1,1], [1] ...); D goes into\n"
            "Conv's bias. Gemm -> Add(D) folds D into C (beta * C + D). The product's\n"
            "output must be read by the Add alone. Subgraphs are processed too.",
    .params = fusion_params_table,
    .priv_size = sizeof(struct fusion_params),
    .run = run_bias,
};

/* ------------------------------------------------------------------ fuse-matmul-add */

static bool gemm_type(mof_dtype t)
{
    return t == MOF_DTYPE_FLOAT || t == MOF_DTYPE_DOUBLE || t == MOF_DTYPE_FLOAT16 ||
           t == MOF_DTYPE_BFLOAT16 || t == MOF_DTYPE_INT32 || t == MOF_DTYPE_INT64 ||
           t == MOF_DTYPE_UINT32 || t == MOF_DTYPE_UINT64;
}

#define MATMUL_ADD_MAX_RANK 16

static bool match_matmul_add(mof_node *add, add_match *m, int64_t opset,
                             mof_match_failure *why)
{
    static const char *const ops[1] = { "MatMul" };
    if (!find_product(add, 1, ops, m))
        return false;
    mof_node *mm = m->nodes[0];
    if (!fusion_check_uses(m->nodes, 2, mof_node_output(add, 0), 1, why))
        return false;
    const mof_value *a = mof_node_input(mm, 0), *bv = mof_node_input(mm, 1);
    int ra = a ? mof_value_rank(a) : -1;
    if (ra < 0)
        return fusion_fail(why, 2, mm, "the rank of MatMul input '%s' is unknown (run "
                           "infer-shapes first)", a ? mof_value_name(a) : "");
    if (ra < 2)
        return fusion_fail(why, 2, mm, "MatMul input '%s' has rank %d; Gemm needs 2",
                           mof_value_name(a), ra);
    if (ra > 2) {
        /* [..., M, K] is reshaped to [-1, K] and the product back: one unknown dim at
         * most (the -1 of the second Reshape) */
        if (opset < 5)
            return fusion_fail(why, 2, mm, "MatMul input '%s' has rank %d and opset %lld "
                               "has no Reshape with a shape input", mof_value_name(a), ra,
                               (long long)opset);
        int unknown = 0;
        if (ra > MATMUL_ADD_MAX_RANK)
            return fusion_fail(why, 2, mm, "MatMul input '%s' has rank %d (at most %d)",
                               mof_value_name(a), ra, MATMUL_ADD_MAX_RANK);
        for (int i = 0; i + 1 < ra; i++)
            unknown += known_dim(a, i) < 0;
        if (unknown > 1)
            return fusion_fail(why, 2, mm, "MatMul input '%s' has %d unknown leading dims; "
                               "reshaping it to 2-D and back allows one",
                               mof_value_name(a), unknown);
    }
    const mof_tensor *b = fusion_constant(bv);
    if (!b)
        return fusion_fail(why, 2, mm, "MatMul input B '%s' is not a constant",
                           bv ? mof_value_name(bv) : "");
    if (mof_tensor_rank(b) != 2)
        return fusion_fail(why, 2, mm, "MatMul input B has rank %zu; Gemm needs 2",
                           mof_tensor_rank(b));
    mof_dtype dt = mof_tensor_dtype(b);
    if (!gemm_type(dt))
        return fusion_fail(why, 2, mm, "Gemm does not take %s", mof_dtype_name(dt));
    const mof_value *d = m->operand;
    int rd = mof_value_rank(d);
    if (rd < 0)
        return fusion_fail(why, 2, add, "the shape of Add operand '%s' is unknown (run "
                           "infer-shapes first)", mof_value_name(d));
    if (rd > 2)
        return fusion_fail(why, 2, add, "Add operand '%s' has rank %d: it widens the "
                           "product", mof_value_name(d), rd);
    int64_t n = mof_tensor_dims(b)[1], rows = mof_value_dim(a, 0);
    int64_t dcols = rd ? known_dim(d, rd - 1) : 1, drows = rd == 2 ? known_dim(d, 0) : 1;
    if (dcols != 1 && dcols != n)
        return fusion_fail(why, 2, add, "Add operand '%s' has %lld columns, the product %lld",
                           mof_value_name(d), (long long)dcols, (long long)n);
    if (ra > 2 && drows != 1)
        return fusion_fail(why, 2, add, "Add operand '%s' varies along the rows of a "
                           "rank-%d product (a bias row only)", mof_value_name(d), ra);
    if (drows != 1 && (drows < 0 || drows != rows))
        return fusion_fail(why, 2, add, "Add operand '%s' has %s rows, the product %lld",
                           mof_value_name(d), drows < 0 ? "an unknown number of" : "other",
                           (long long)rows);
    if (fusion_dtype(d) != MOF_DTYPE_UNDEFINED && fusion_dtype(d) != dt)
        return fusion_fail(why, 2, add, "Add operand '%s' is %s, the product %s",
                           mof_value_name(d), mof_dtype_name(fusion_dtype(d)),
                           mof_dtype_name(dt));
    return true;
}

/* Reshape(x, shape) before `before`, the shape an int64 initializer; its output, or
 * NULL after reporting. */
static mof_value *add_reshape(fusion_run *r, mof_node *before, mof_node *name_from,
                              const char *suffix, mof_value *x, size_t rank,
                              const int64_t *shape)
{
    int64_t n = (int64_t)rank;
    mof_tensor *t = mof_tensor_create(MOF_DTYPE_INT64, 1, &n);
    if (t)
        memcpy(mof_tensor_data_mut(t), shape, rank * sizeof *shape);
    mof_value *sv = fusion_add_constant(r, mof_node_graph(before), "shape", t);
    if (!sv)
        return NULL;
    mof_value *in[2] = { x, sv };
    mof_node *rs = fusion_add_node(r, before, "Reshape", "", name_from, 2, in);
    if (!rs || fusion_add_origins(r, rs, 1, &name_from) < 0)
        return NULL;
    /* node names stay unique: the product's name plus a suffix */
    const char *base = mof_node_name(name_from);
    if (*base) {
        size_t len = strlen(base) + strlen(suffix) + 1;
        char *name = malloc(len);
        mof_status st = MOF_ERR_NOMEM;
        if (name) {
            snprintf(name, len, "%s%s", base, suffix);
            st = mof_node_set_name(rs, name);
        }
        free(name);
        if (st < 0) {
            fusion_nomem(r);
            return NULL;
        }
    }
    return mof_node_output(rs, 0);
}

static mof_status fuse_matmul_add(fusion_run *r, add_match *m)
{
    mof_node *mm = m->nodes[0], *add = m->nodes[1];
    mof_value *a = mof_node_input(mm, 0), *bv = mof_node_input(mm, 1);
    int ra = mof_value_rank(a);
    const mof_tensor *b = fusion_constant(bv);
    int64_t k = mof_tensor_dims(b)[0], n = mof_tensor_dims(b)[1];
    if (ra > 2) {
        int64_t flat[2] = { -1, k };
        if (!(a = add_reshape(r, add, mm, "/reshape_in", a, 2, flat)))
            return MOF_ERR_NOMEM;
    }
    mof_value *in[3] = { a, bv, m->operand };
    mof_node *gemm = fusion_add_node(r, add, "Gemm", "", mm, 3, in);
    if (!gemm)
        return MOF_ERR_NOMEM;
    mof_status st;
    if (r->opset < 7 && (st = mof_node_set_attr_int(gemm, "broadcast", 1)) < 0)
        return st;
    if ((st = fusion_add_origins(r, gemm, 2, m->nodes)) < 0)
        return st;
    mof_value *y = mof_node_output(gemm, 0);
    if (ra > 2) {
        /* back to [..., M, N]: the leading dims as they are, the unknown one as -1 */
        int64_t shape[MATMUL_ADD_MAX_RANK];
        const mof_value *a0 = mof_node_input(mm, 0);
        for (int i = 0; i + 1 < ra; i++)
            shape[i] = known_dim(a0, i) < 0 ? -1 : known_dim(a0, i);
        shape[ra - 1] = n;
        if (!(y = add_reshape(r, add, mm, "/reshape_out", y, (size_t)ra, shape)))
            return MOF_ERR_NOMEM;
    }
    return fusion_replace(r, mof_node_output(add, 0), y, 2, m->nodes);
}

static mof_status visit_matmul_add(fusion_run *r, mof_node *n)
{
    if (!fusion_is_op(n, "Add"))
        return MOF_UNCHANGED;
    add_match m;
    memset(&m, 0, sizeof m);
    mof_match_failure why = { 0 };
    if (!match_matmul_add(n, &m, r->opset, &why)) {
        if (m.nodes[0] && fusion_constant(m.operand))
            fusion_near_miss(r, n, "MatMul -> Add", 2, &why);
        return MOF_UNCHANGED;
    }
    mof_status st = fuse_matmul_add(r, &m);
    if (st < 0)
        return st;
    fusion_count(r, "matmul-add");
    return MOF_OK;
}

static mof_status run_matmul_add(mof_pass_ctx *pc, mof_model *model, void *priv)
{
    return fusion_run_pass(pc, model, priv, visit_matmul_add);
}

const mof_pass_desc fusion_matmul_add_pass = {
    .size = sizeof(mof_pass_desc),
    .name = "fuse-matmul-add",
    .summary = "turn MatMul followed by Add into Gemm",
    .help = "MatMul(A, B) -> Add(D) becomes Gemm(A, B, D) when A is 2-D (its shape\n"
            "known: run infer-shapes first), B a constant matrix and D broadcasts to the\n"
            "product without widening it ([N], [1,N], [M,N], a scalar). An A of rank 3\n"
            "or more is reshaped to 2-D around the Gemm (D a row: [N], [1,N], a scalar;\n"
            "at most one unknown leading dim). The MatMul's output must be read by the\n"
            "Add alone. Subgraphs are processed too.",
    .params = fusion_params_table,
    .priv_size = sizeof(struct fusion_params),
    .run = run_matmul_add,
};
