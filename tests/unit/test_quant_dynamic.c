/* test_quant_dynamic: quantize-dynamic and quantize-weights (passes/quantization/), and
 * the int4 / uint4 element types they write.
 *
 * Each test builds a small model with the SDK, runs a one-line pipeline over it (the
 * plugin is compiled in, MOF_PLUGIN_STATIC=quantization), checks the structure, then
 * runs the models before and after with the reference interpreter on the same random
 * inputs, uniform in [-1, 1). The numeric tolerance is derived from the quantization
 * steps, not picked: for y = sum_k x_k w_k over K terms, with an activation step sx
 * (DynamicQuantizeLinear: (max(x,0) - min(x,0)) / 255 <= 2/255 here) and a weight step
 * sw, rounding moves each term by at most |x| sw/2 + |w| sx/2 + sx sw/4, so
 * |y' - y| <= K (sw/2 + max|w| sx/2 + sx sw/4) with |x| <= 1 (weight-only: sx = 0),
 * plus a float rounding slack of 1e-5 relative. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mof/mof.h>

#include "testutil.h"

#define PASSTEST_FIXTURE_EXTRA uint64_t rng;
#include "passtest.h"

const mof_plugin_desc *mof_plugin_entry_quantization(void);

static void fixture_init(struct fixture *f, int64_t opset)
{
    passtest_fixture_init(f, mof_plugin_entry_quantization);
    ck_assert_status(f->ctx, mof_model_set_opset(f->model, "", opset), MOF_OK);
    f->rng = 777;
}

/* A random float initializer of the given shape, uniform in [-amp, amp). */
static mof_value *weight(struct fixture *f, const char *name, size_t rank,
                         const int64_t *dims, float amp)
{
    mof_tensor *t = mof_tensor_create(MOF_DTYPE_FLOAT, rank, dims);
    ck_assert_ptr_nonnull(t);
    float *d = mof_tensor_data_mut(t);
    for (int64_t i = 0; i < mof_tensor_numel(t); i++)
        d[i] = passtest_rng_float(&f->rng, -amp, amp);
    mof_value *v = mof_graph_add_initializer(f->g, name, t);
    ck_assert_ptr_nonnull(v);
    return v;
}

static mof_value *input(struct fixture *f, const char *name, int rank, const int64_t *dims)
{
    mof_value *v = mof_graph_add_input(f->g, name, MOF_DTYPE_FLOAT, rank, dims, NULL);
    ck_assert_ptr_nonnull(v);
    return v;
}

static mof_node *node(struct fixture *f, const char *op, const char *name, size_t n_in,
                      mof_value *a, mof_value *b, mof_value *c)
{
    return mof_test_add_node(f->g, op, NULL, name, n_in, a, b, c);
}

static void output(struct fixture *f, mof_node *n)
{
    ck_assert_status(f->ctx, mof_graph_add_output(f->g, mof_node_output(n, 0)), MOF_OK);
}

/* The bound of the file comment for K terms, weights of largest magnitude wmax, a
 * weight step sw, activations quantized (dynamic) or not. */
static double bound(int64_t K, double wmax, double sw, bool dynamic)
{
    double sx = dynamic ? 2.0 / 255.0 : 0.0;
    return (double)K * (sw / 2 + wmax * sx / 2 + sx * sw / 4);
}

static double max_abs(const mof_value *w)
{
    const mof_tensor *t = mof_value_tensor(w);
    const float *d = mof_tensor_data(t);
    double m = 0;
    for (int64_t i = 0; i < mof_tensor_numel(t); i++)
        m = fmax(m, fabs(d[i]));
    return m;
}

struct tol {
    double abs;              /* the derived bound */
    double seen;             /* the largest error found (for the log) */
    double sum_sq, sum_err;  /* for a loose SQNR floor */
};

static void compare_within(size_t i, const char *name, const mof_tensor *before,
                           const mof_tensor *after, const void *arg)
{
    struct tol *t = (struct tol *)arg;
    (void)i;
    ck_assert_int_eq(mof_tensor_numel(before), mof_tensor_numel(after));
    const float *a = mof_tensor_data(before), *b = mof_tensor_data(after);
    for (int64_t k = 0; k < mof_tensor_numel(before); k++) {
        double e = fabs((double)a[k] - b[k]);
        t->seen = fmax(t->seen, e);
        t->sum_sq += (double)a[k] * a[k];
        t->sum_err += e * e;
        ck_assert_msg(e <= t->abs + 1e-5 * fabs(a[k]) + 1e-6,
                      "output %s[%lld]: %g vs %g, error %g past the bound %g", name,
                      (long long)k, (double)a[k], (double)b[k], e, t->abs);
    }
}

/* Checks the models agree within abs on two input sets; returns the SQNR in dB. */
static double check_within(struct fixture *f, double abs)
{
    struct tol t = { .abs = abs };
    passtest_check_equivalent(f, 1, NULL, passtest_uniform_input, compare_within, &t);
    passtest_check_equivalent(f, 2, NULL, passtest_uniform_input, compare_within, &t);
    ck_assert_msg(t.seen > 0, "the quantized model computes exactly the float one");
    return 10 * log10(t.sum_sq / t.sum_err);
}

static const mof_tensor *init_of(const mof_graph *g, const char *name)
{
    mof_value *v = mof_graph_find_value(g, name);
    ck_assert_msg(v && mof_value_is_constant(v), "no initializer '%s'", name);
    return mof_value_tensor(v);
}

static mof_node *only_node(const mof_graph *g, const char *op)
{
    ck_assert_uint_eq(count_op(g, op), 1);
    for (mof_node *n = mof_graph_first_node(g); n; n = mof_node_next(n))
        if (!strcmp(mof_node_op_type(n), op))
            return n;
    return NULL;
}

/* ------------------------------------------------------------------ quantize-dynamic */

START_TEST(dynamic_matmul_integer_form)
{
    struct fixture f;
    fixture_init(&f, 13);
    int64_t xd[2] = { 3, 16 }, wd[2] = { 16, 8 }, bd[1] = { 8 };
    mof_value *x = input(&f, "x", 2, xd), *w = weight(&f, "W", 2, wd, 0.5f);
    mof_value *b = weight(&f, "B", 1, bd, 0.5f);
    double wmax = max_abs(w);
    mof_node *mm = node(&f, "MatMul", "mm", 2, x, w, NULL);
    output(&f, node(&f, "Add", "add", 2, mof_node_output(mm, 0), b, NULL));
    snapshot(&f);
    ck_assert_int_eq(passtest_run(&f, "quantize-dynamic"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "nodes-quantized"), 1);
    ck_assert_int_eq(stat_of(&f, "bytes-before"), 16 * 8 * 4);
    ck_assert_int_eq(stat_of(&f, "bytes-after"), 16 * 8 + 4 + 1);
    ck_assert_uint_eq(count_op(f.g, "MatMul"), 0);
    mof_node *dq = only_node(f.g, "DynamicQuantizeLinear");
    mof_node *mi = only_node(f.g, "MatMulInteger");
    ck_assert_ptr_eq(mof_node_input(dq, 0), mof_graph_input(f.g, 0));
    ck_assert_ptr_eq(mof_node_input(mi, 0), mof_node_output(dq, 0));
    ck_assert_ptr_eq(mof_node_input(mi, 2), mof_node_output(dq, 2));
    ck_assert_str_eq(mof_value_name(mof_node_input(mi, 1)), "W_quantized");
    const mof_tensor *wq = init_of(f.g, "W_quantized");
    ck_assert_int_eq(mof_tensor_dtype(wq), MOF_DTYPE_INT8);
    ck_assert_uint_eq(mof_tensor_rank(init_of(f.g, "W_scale")), 0);
    ck_assert_ptr_null(mof_graph_find_value(f.g, "W")); /* the float weight is gone */
    ck_assert_uint_eq(count_op(f.g, "Cast"), 1);
    ck_assert_uint_eq(count_op(f.g, "Mul"), 2);
    /* Symmetric int8: the largest weight maps to +-127. */
    const int8_t *q = mof_tensor_data(wq);
    int qmax = 0;
    for (int i = 0; i < 16 * 8; i++)
        qmax = abs(q[i]) > qmax ? abs(q[i]) : qmax;
    ck_assert_int_eq(qmax, 127);
    double db = check_within(&f, bound(16, wmax, wmax / 127, true));
    ck_assert_msg(db > 25, "SQNR %.1f dB", db);
    fixture_free(&f);
}
END_TEST

START_TEST(dynamic_gemm_transb_alpha_beta)
{
    struct fixture f;
    fixture_init(&f, 13);
    int64_t ad[2] = { 4, 12 }, bd[2] = { 6, 12 }, cd[1] = { 6 };
    mof_value *a = input(&f, "a", 2, ad), *b = weight(&f, "B", 2, bd, 1.0f);
    mof_value *c = weight(&f, "C", 1, cd, 1.0f);
    double wmax = max_abs(b);
    mof_node *g = node(&f, "Gemm", "gemm", 3, a, b, c);
    ck_assert_int_eq(mof_node_set_attr_int(g, "transB", 1), MOF_OK);
    ck_assert_int_eq(mof_node_set_attr_float(g, "alpha", 0.5f), MOF_OK);
    ck_assert_int_eq(mof_node_set_attr_float(g, "beta", 2.0f), MOF_OK);
    output(&f, g);
    snapshot(&f);
    ck_assert_int_eq(passtest_run(&f, "quantize-dynamic(per-channel=true)"), MOF_OK);
    ck_assert_uint_eq(count_op(f.g, "Gemm"), 0);
    /* B transposed to [12, 6], one scale per column, alpha folded into them. */
    const mof_tensor *wq = init_of(f.g, "B_quantized");
    ck_assert_int_eq(mof_tensor_dims(wq)[0], 12);
    ck_assert_int_eq(mof_tensor_dims(wq)[1], 6);
    ck_assert_int_eq(mof_tensor_numel(init_of(f.g, "B_scale")), 6);
    const float *cb = mof_tensor_data(init_of(f.g, "C_beta"));
    ck_assert_ptr_null(mof_graph_find_value(f.g, "C"));
    (void)cb;
    mof_node *add = only_node(f.g, "Add");
    ck_assert_str_eq(mof_value_name(mof_node_output(add, 0)), mof_value_name(mof_graph_output(f.g, 0)));
    check_within(&f, 0.5 * bound(12, wmax, wmax / 127, true));
    fixture_free(&f);
}
END_TEST

START_TEST(dynamic_conv_only_where_it_pays)
{
    struct fixture f;
    fixture_init(&f, 13);
    int64_t xd[4] = { 1, 3, 6, 6 }, wd[4] = { 4, 3, 3, 3 }, bd[1] = { 4 };
    mof_value *x = input(&f, "x", 4, xd), *w = weight(&f, "W", 4, wd, 0.5f);
    mof_value *b = weight(&f, "B", 1, bd, 0.5f);
    double wmax = max_abs(w);
    mof_node *c = node(&f, "Conv", "conv", 3, x, w, b);
    int64_t pads[4] = { 1, 1, 1, 1 };
    ck_assert_int_eq(mof_node_set_attr_ints(c, "pads", 4, pads), MOF_OK);
    output(&f, c);
    snapshot(&f);
    /* 108 weights: below the default conv-min-elements, left float with a note. */
    ck_assert_int_eq(passtest_run(&f, "quantize-dynamic"), MOF_UNCHANGED);
    ck_assert(mof_test_diag_contains(f.ctx, "does not pay"));
    ck_assert_int_eq(passtest_run(&f, "quantize-dynamic(conv-min-elements=100,per-channel=true)"),
                     MOF_OK);
    mof_node *ci = only_node(f.g, "ConvInteger");
    ck_assert_uint_eq(count_op(f.g, "Conv"), 0);
    size_t n = 0;
    const int64_t *p = mof_node_attr_ints(ci, "pads", &n);
    ck_assert_uint_eq(n, 4);
    ck_assert_int_eq(p[0], 1);
    /* One zero point (ORT's ConvInteger), per-channel scales as [4, 1, 1]. */
    ck_assert_uint_eq(mof_tensor_rank(mof_value_tensor(mof_node_input(ci, 3))), 0);
    const mof_tensor *s = init_of(f.g, "W_scale");
    ck_assert_uint_eq(mof_tensor_rank(s), 3);
    ck_assert_int_eq(mof_tensor_dims(s)[0], 4);
    ck_assert_uint_eq(mof_tensor_rank(init_of(f.g, "B_reshaped")), 3);
    check_within(&f, bound(27, wmax, wmax / 127, true));
    fixture_free(&f);
}
END_TEST

START_TEST(dynamic_qdq_form_shares_activation)
{
    struct fixture f;
    fixture_init(&f, 13);
    int64_t xd[2] = { 2, 10 }, wd[2] = { 10, 5 };
    mof_value *x = input(&f, "x", 2, xd);
    mof_value *w1 = weight(&f, "W1", 2, wd, 1.0f), *w2 = weight(&f, "W2", 2, wd, 1.0f);
    double wmax = fmax(max_abs(w1), max_abs(w2));
    output(&f, node(&f, "MatMul", "m1", 2, x, w1, NULL));
    output(&f, node(&f, "MatMul", "m2", 2, x, w2, NULL));
    snapshot(&f);
    ck_assert_int_eq(passtest_run(&f, "quantize-dynamic(format=qdq,per-channel=true,"
                                      "weight-type=uint8)"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "activations-quantized"), 1);
    ck_assert_uint_eq(count_op(f.g, "DynamicQuantizeLinear"), 1);
    ck_assert_uint_eq(count_op(f.g, "MatMul"), 2);
    ck_assert_uint_eq(count_op(f.g, "DequantizeLinear"), 3); /* x once, W1, W2 */
    const mof_tensor *z = init_of(f.g, "W1_zero_point");
    ck_assert_int_eq(mof_tensor_dtype(z), MOF_DTYPE_UINT8);
    ck_assert_int_eq(mof_tensor_numel(z), 5);
    /* uint8 asymmetric: step (max - min) / 255 <= 2 wmax / 255. */
    check_within(&f, bound(10, wmax, 2 * wmax / 255, true));
    fixture_free(&f);
}
END_TEST

START_TEST(dynamic_exclude_and_non_constant)
{
    struct fixture f;
    fixture_init(&f, 13);
    int64_t xd[2] = { 2, 4 }, wd[2] = { 4, 4 };
    mof_value *x = input(&f, "x", 2, xd), *w = weight(&f, "W", 2, wd, 1.0f);
    mof_node *a = node(&f, "MatMul", "keep", 2, x, w, NULL);
    output(&f, node(&f, "MatMul", "xx", 2, mof_node_output(a, 0), x, NULL));
    ck_assert_int_eq(passtest_run(&f, "quantize-dynamic(exclude-nodes=keep)"), MOF_UNCHANGED);
    ck_assert(mof_test_diag_contains(f.ctx, "exclude-nodes"));
    ck_assert(mof_test_diag_contains(f.ctx, "not a constant"));
    ck_assert_uint_eq(count_op(f.g, "MatMul"), 2);
    fixture_free(&f);
}
END_TEST

START_TEST(dynamic_needs_opset_11)
{
    struct fixture f;
    fixture_init(&f, 10);
    int64_t xd[2] = { 2, 4 }, wd[2] = { 4, 4 };
    mof_value *x = input(&f, "x", 2, xd), *w = weight(&f, "W", 2, wd, 1.0f);
    output(&f, node(&f, "MatMul", "mm", 2, x, w, NULL));
    passtest_run_fails(&f, "quantize-dynamic");
    ck_assert(mof_test_diag_contains(f.ctx, "needs opset 11"));
    fixture_free(&f);
}
END_TEST

/* ------------------------------------------------------------------ quantize-weights */

START_TEST(weights_int8_per_column)
{
    struct fixture f;
    fixture_init(&f, 13);
    int64_t xd[2] = { 3, 20 }, wd[2] = { 20, 7 };
    mof_value *x = input(&f, "x", 2, xd), *w = weight(&f, "W", 2, wd, 1.0f);
    double wmax = max_abs(w);
    mof_node *mm = node(&f, "MatMul", "mm", 2, x, w, NULL);
    output(&f, mm);
    snapshot(&f);
    ck_assert_int_eq(passtest_run(&f, "quantize-weights"), MOF_OK);
    ck_assert_int_eq(mof_model_opset(f.model, ""), 13);
    mof_node *dq = only_node(f.g, "DequantizeLinear");
    ck_assert_int_eq(mof_node_attr_int(dq, "axis", -5), 1);
    ck_assert(!mof_node_has_attr(dq, "block_size"));
    ck_assert_uint_eq(mof_node_n_inputs(dq), 2); /* symmetric: no zero point */
    ck_assert_ptr_eq(mof_node_input(mm, 1), mof_node_output(dq, 0));
    ck_assert_int_eq(mof_tensor_dtype(init_of(f.g, "W_quantized")), MOF_DTYPE_INT8);
    ck_assert_int_eq(mof_tensor_numel(init_of(f.g, "W_scale")), 7);
    ck_assert_int_eq(stat_of(&f, "bytes-before"), 20 * 7 * 4);
    ck_assert_int_eq(stat_of(&f, "bytes-after"), 20 * 7 + 7 * 4);
    check_within(&f, bound(20, wmax, wmax / 127, false));
    fixture_free(&f);
}
END_TEST

START_TEST(weights_int4_blocked_raises_opset_and_round_trips)
{
    struct fixture f;
    fixture_init(&f, 17);
    int64_t xd[2] = { 2, 40 }, wd[2] = { 40, 6 }, gd[2] = { 5, 40 };
    mof_value *x = input(&f, "x", 2, xd), *w = weight(&f, "W", 2, wd, 1.0f);
    mof_value *gw = weight(&f, "G", 2, gd, 1.0f);
    double wmax = fmax(max_abs(w), max_abs(gw));
    output(&f, node(&f, "MatMul", "mm", 2, x, w, NULL));
    mof_node *g = node(&f, "Gemm", "gemm", 2, x, gw, NULL);
    ck_assert_int_eq(mof_node_set_attr_int(g, "transB", 1), MOF_OK);
    output(&f, g);
    snapshot(&f);
    ck_assert_int_eq(passtest_run(&f, "quantize-weights(bits=4,block-size=16,symmetric=false)"),
                     MOF_OK);
    ck_assert_int_eq(mof_model_opset(f.model, ""), 21);
    ck_assert_int_eq(stat_of(&f, "opset-raised"), 1);
    const mof_tensor *q = init_of(f.g, "W_quantized");
    ck_assert_int_eq(mof_tensor_dtype(q), MOF_DTYPE_UINT4);
    const mof_tensor *s = init_of(f.g, "W_scale");
    ck_assert_int_eq(mof_tensor_dims(s)[0], 3); /* ceil(40 / 16) blocks along K */
    ck_assert_int_eq(mof_tensor_dims(s)[1], 6);
    /* Gemm's B is [N, K] with transB: the blocks run along its axis 1. */
    const mof_tensor *gs = init_of(f.g, "G_scale");
    ck_assert_int_eq(mof_tensor_dims(gs)[0], 5);
    ck_assert_int_eq(mof_tensor_dims(gs)[1], 3);
    /* Packed bytes: 240 + 200 weights at half a byte; scales and zero points. */
    ck_assert_int_eq(stat_of(&f, "bytes-after"), 120 + 18 * 4 + 9 + 100 + 15 * 4 + 8);
    for (mof_node *n = mof_graph_first_node(f.g); n; n = mof_node_next(n))
        if (!strcmp(mof_node_op_type(n), "DequantizeLinear"))
            ck_assert_int_eq(mof_node_attr_int(n, "block_size", 0), 16);
    /* uint4 asymmetric: step (max - min) / 15 <= 2 wmax / 15. */
    check_within(&f, bound(40, wmax, 2 * wmax / 15, false));

    /* Saved and loaded back: the same uint4 values, and the same outputs. */
    mof_tensor *keep = mof_tensor_dup(q);
    reload(&f);
    ck_assert(mof_tensor_equal(keep, init_of(f.g, "W_quantized")));
    mof_tensor_unref(keep);
    check_within(&f, bound(40, wmax, 2 * wmax / 15, false));
    fixture_free(&f);
}
END_TEST

START_TEST(weights_opset_raise_rewrites_old_ops)
{
    struct fixture f;
    fixture_init(&f, 13);
    int64_t xd[2] = { 4, 32 }, wd[2] = { 32, 8 };
    mof_value *x = input(&f, "x", 2, xd), *w = weight(&f, "W", 2, wd, 1.0f);
    mof_node *mm = node(&f, "MatMul", "mm", 2, x, w, NULL);
    double wmax = max_abs(w);
    mof_node *r = node(&f, "ReduceMean", "rm", 1, mof_node_output(mm, 0), NULL, NULL);
    int64_t axes[1] = { 1 };
    ck_assert_int_eq(mof_node_set_attr_ints(r, "axes", 1, axes), MOF_OK);
    output(&f, r);
    mof_value *sin[1] = { x };
    mof_node *sp = mof_graph_add_node(f.g, MOF_INSERT_AFTER, NULL, "Split", NULL, "split", 1,
                                      sin, 2);
    ck_assert_ptr_nonnull(sp);
    ck_assert_int_eq(mof_node_set_attr_int(sp, "axis", 1), MOF_OK);
    ck_assert_int_eq(mof_graph_add_output(f.g, mof_node_output(sp, 0)), MOF_OK);
    ck_assert_int_eq(mof_graph_add_output(f.g, mof_node_output(sp, 1)), MOF_OK);
    snapshot(&f);
    ck_assert_int_eq(passtest_run(&f, "quantize-weights(bits=4)"), MOF_OK);
    ck_assert_int_eq(mof_model_opset(f.model, ""), 21);
    ck_assert(!mof_node_has_attr(r, "axes"));
    ck_assert_uint_eq(mof_node_n_inputs(r), 2);
    ck_assert_int_eq(*(const int64_t *)mof_tensor_data(mof_value_tensor(mof_node_input(r, 1))),
                     1);
    ck_assert_int_eq(mof_node_attr_int(sp, "num_outputs", 0), 2);
    ck_assert_int_eq(mof_tensor_dtype(init_of(f.g, "W_quantized")), MOF_DTYPE_INT4);
    /* ReduceMean averages 8 outputs: the MatMul's bound holds for it too; the Split is
     * exact (the bound of 0 plus float slack). */
    check_within(&f, bound(32, wmax, wmax / 7, false));
    fixture_free(&f);
}
END_TEST

START_TEST(weights_refuses_what_cannot_move)
{
    struct fixture f;
    fixture_init(&f, 11);
    int64_t xd[2] = { 2, 8 }, wd[2] = { 8, 8 };
    mof_value *x = input(&f, "x", 2, xd), *w = weight(&f, "W", 2, wd, 1.0f);
    output(&f, node(&f, "MatMul", "mm", 2, x, w, NULL));
    passtest_run_fails(&f, "quantize-weights(bits=4)");
    ck_assert(mof_test_diag_contains(f.ctx, "is below 13"));
    f.g = mof_model_graph(f.model);
    ck_assert_int_eq(mof_model_opset(f.model, ""), 11);
    /* int8 per tensor is possible at opset 11. */
    ck_assert_int_eq(passtest_run(&f, "quantize-weights"), MOF_OK);
    mof_node *dq = only_node(f.g, "DequantizeLinear");
    ck_assert(!mof_node_has_attr(dq, "axis"));
    fixture_free(&f);

    fixture_init(&f, 18);
    x = input(&f, "x", 2, xd);
    w = weight(&f, "W", 2, wd, 1.0f);
    int64_t sd[1] = { 2 };
    mof_value *sc = weight(&f, "gs", 1, sd, 1.0f), *bi = weight(&f, "gb", 1, sd, 1.0f);
    mof_node *mm = node(&f, "MatMul", "mm", 2, x, w, NULL);
    mof_node *gn = node(&f, "GroupNormalization", "gn", 3, mof_node_output(mm, 0), sc, bi);
    ck_assert_int_eq(mof_node_set_attr_int(gn, "num_groups", 2), MOF_OK);
    output(&f, gn);
    passtest_run_fails(&f, "quantize-weights(bits=4)");
    ck_assert(mof_test_diag_contains(f.ctx, "changed shape at opset 21"));
    f.g = mof_model_graph(f.model); /* restored from the pass manager's snapshot */
    ck_assert_int_eq(mof_model_opset(f.model, ""), 18);
    ck_assert_uint_eq(count_op(f.g, "DequantizeLinear"), 0);
    fixture_free(&f);
}
END_TEST

/* ------------------------------------------------------------------ int4 in the core */

static const char int4_text[] =
    "<ir_version: 10, opset_import: [\"\" : 21]>\n"
    "g (float[2,5] x) => (float[2,3] y, float[3] z)\n"
    "   <int4[5,3] W = {-8, 7, 0, 1, -1, 3, -4, 5, 6, -7, 2, -2, 4, -3, 7},\n"
    "    float[3,3] S = {0.5, 0.25, 1, 2, 0.125, 1.5, 0.75, 1, 0.5},\n"
    "    uint4[3] U = {0, 15, 9}, uint4 Uz = {8}, float us = {0.5}>\n"
    "{\n"
    "   w = DequantizeLinear <axis = 0, block_size = 2> (W, S)\n"
    "   y = MatMul (x, w)\n"
    "   z = DequantizeLinear (U, us, Uz)\n"
    "}\n";

START_TEST(int4_round_trips_text_onnx_and_external_data)
{
    mof_context *ctx = mof_context_create();
    mof_model *m = mof_model_parse_text(ctx, int4_text, strlen(int4_text), "int4.onnxtxt");
    if (!m)
        mof_test_print_diags(ctx);
    ck_assert_ptr_nonnull(m);
    const mof_tensor *w = init_of(mof_model_graph(m), "W");
    ck_assert_int_eq(mof_tensor_dtype(w), MOF_DTYPE_INT4);
    ck_assert_str_eq(mof_dtype_name(MOF_DTYPE_INT4), "int4");
    ck_assert_uint_eq(mof_dtype_storage_bytes(MOF_DTYPE_INT4, 15), 8);
    ck_assert_uint_eq(mof_dtype_storage_bytes(MOF_DTYPE_UINT4, 3), 2);
    ck_assert_uint_eq(mof_dtype_storage_bytes(MOF_DTYPE_FLOAT, 3), 12);
    ck_assert_int_eq(((const int8_t *)mof_tensor_data(w))[0], -8);

    /* Printed back: the same text values. */
    char *txt = mof_model_print_text(m, NULL);
    ck_assert_ptr_nonnull(txt);
    ck_assert_ptr_nonnull(strstr(txt, "int4[5,3] W = {-8, 7, 0, 1, -1, 3, -4, 5, 6, -7, 2, -2, "
                                      "4, -3, 7}"));
    ck_assert_ptr_nonnull(strstr(txt, "uint4[3] U = {0, 15, 9}"));
    free(txt);

    /* Inline: 15 int4 take 8 bytes of raw_data, low nibble first (-8 = 0x8, 7 = 0x7). */
    void *buf = NULL;
    size_t size = 0;
    ck_assert_int_eq(mof_model_save_buffer(m, &buf, &size), MOF_OK);
    const uint8_t want[8] = { 0x78, 0x10, 0x3F, 0x5C, 0x96, 0xE2, 0xD4, 0x07 };
    bool found = false;
    for (size_t i = 0; i + 8 <= size && !found; i++)
        found = memcmp((const uint8_t *)buf + i, want, 8) == 0;
    ck_assert_msg(found, "the packed int4 bytes are not in the saved model");
    mof_model *back = mof_model_load_buffer(ctx, buf, size, "int4.onnx", NULL);
    free(buf);
    ck_assert_ptr_nonnull(back);
    ck_assert(mof_tensor_equal(w, init_of(mof_model_graph(back), "W")));
    ck_assert(mof_tensor_equal(init_of(mof_model_graph(m), "U"),
                               init_of(mof_model_graph(back), "U")));
    mof_model_destroy(back);

    /* External data: the data file holds the packed bytes and the right length. */
    char dir[] = "/tmp/mof-int4-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[64], data[80];
    snprintf(path, sizeof path, "%s/m.onnx", dir);
    snprintf(data, sizeof data, "%s/m.onnx.data", dir);
    mof_save_options so;
    mof_save_options_init(&so);
    so.external = MOF_EXTERNAL_ABOVE;
    so.threshold = 1;
    ck_assert_int_eq(mof_model_save(m, path, &so), MOF_OK);
    back = mof_model_load(ctx, path);
    if (!back)
        mof_test_print_diags(ctx);
    ck_assert_ptr_nonnull(back);
    ck_assert(mof_tensor_equal(w, init_of(mof_model_graph(back), "W")));
    ck_assert(mof_tensor_equal(init_of(mof_model_graph(m), "U"),
                               init_of(mof_model_graph(back), "U")));

    /* The interpreter dequantizes blocked int4 and zero-pointed uint4. */
    mof_interp *it = mof_interp_create(ctx, back);
    ck_assert_ptr_nonnull(it);
    int64_t xd[2] = { 2, 5 };
    float xv[10] = { 1, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
    mof_tensor *xt = mof_tensor_create_from(MOF_DTYPE_FLOAT, 2, xd, xv), *out[2] = { 0 };
    ck_assert_status(ctx, mof_interp_run(it, 1, &xt, 2, out), MOF_OK);
    const float *y = mof_tensor_data(out[0]), *z = mof_tensor_data(out[1]);
    /* Row 0 of w: W[0,:] = {-8, 7, 0} times S[0,:] = {0.5, 0.25, 1}; row 4 uses S[2,:]. */
    ck_assert_float_eq(y[0], -4.0f);
    ck_assert_float_eq(y[1], 1.75f);
    ck_assert_float_eq(y[2], 0.0f);
    ck_assert_float_eq(y[3], 4 * 0.75f);
    ck_assert_float_eq(y[4], -3 * 1.0f);
    ck_assert_float_eq(y[5], 7 * 0.5f);
    ck_assert_float_eq(z[0], -4.0f);
    ck_assert_float_eq(z[1], 3.5f);
    ck_assert_float_eq(z[2], 0.5f);
    mof_tensor_unref(out[0]);
    mof_tensor_unref(out[1]);
    mof_tensor_unref(xt);
    mof_interp_destroy(it);
    mof_model_destroy(back);
    unlink(data);
    unlink(path);
    rmdir(dir);
    mof_model_destroy(m);
    mof_context_destroy(ctx);
}
END_TEST

START_TEST(int4_bad_packed_data_is_refused)
{
    /* A uint4[3] initializer needs 2 bytes of raw_data; give it 3. The ModelProto is
     * written by hand: graph (7) { initializer (5) { dims (1) 3, data_type (2) 21,
     * raw_data (9) 3 bytes, name (8) "U" } }, ir_version (1) 10. */
    const uint8_t model[] = {
        0x08, 0x0A,                                   /* ir_version 10 */
        0x3A, 0x0E,                                   /* graph, 14 bytes */
        0x2A, 0x0C,                                   /* initializer, 12 bytes */
        0x08, 0x03,                                   /* dims 3 */
        0x10, 0x15,                                   /* data_type 21 */
        0x4A, 0x03, 0x01, 0x02, 0x03,                 /* raw_data, 3 bytes */
        0x42, 0x01, 'U',                              /* name "U" */
        0x00, 0x00,                                   /* (padding, not parsed) */
    };
    mof_context *ctx = mof_context_create();
    mof_model *m = mof_model_load_buffer(ctx, model, 18, "bad.onnx", NULL);
    ck_assert_ptr_null(m);
    ck_assert(mof_test_diag_contains(ctx, "has 3 bytes of raw_data, expected 2"));
    mof_context_destroy(ctx);
}
END_TEST

static Suite *quant_dynamic_suite(void)
{
    Suite *s = suite_create("quant_dynamic");
    TCase *tc = tcase_create("dynamic");
    tcase_add_test(tc, dynamic_matmul_integer_form);
    tcase_add_test(tc, dynamic_gemm_transb_alpha_beta);
    tcase_add_test(tc, dynamic_conv_only_where_it_pays);
    tcase_add_test(tc, dynamic_qdq_form_shares_activation);
    tcase_add_test(tc, dynamic_exclude_and_non_constant);
    tcase_add_test(tc, dynamic_needs_opset_11);
    suite_add_tcase(s, tc);
    tc = tcase_create("weights");
    tcase_add_test(tc, weights_int8_per_column);
    tcase_add_test(tc, weights_int4_blocked_raises_opset_and_round_trips);
    tcase_add_test(tc, weights_opset_raise_rewrites_old_ops);
    tcase_add_test(tc, weights_refuses_what_cannot_move);
    suite_add_tcase(s, tc);
    tc = tcase_create("int4");
    tcase_add_test(tc, int4_round_trips_text_onnx_and_external_data);
    tcase_add_test(tc, int4_bad_packed_data_is_refused);
    suite_add_tcase(s, tc);
    return s;
}

MOF_TEST_MAIN(quant_dynamic_suite)
