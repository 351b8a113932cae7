/* test_fusion: the fusion plugin's passes and the interpreter's "mof" operators.
 *
 * Each test builds a small model with the SDK, runs a one-line pipeline over it as
 * `mof run --passes` does (the plugin is compiled in, MOF_PLUGIN_STATIC=fusion), and
 * checks the result three ways: its structure (which nodes remain, their inputs,
 * attributes, names and origins), its numbers (the models before and after run by the
 * reference interpreter on the same seeded random inputs agree within 1e-4 relative),
 * and, for near misses, the text of the note the pass wrote with explain=true. */
#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mof/mof.h>

#include "testutil.h"

#define PASSTEST_FIXTURE_EXTRA uint64_t rng; /* for random constants */
#include "passtest.h"

const mof_plugin_desc *mof_plugin_entry_fusion(void);

/* ------------------------------------------------------------------ building models */

static void fixture_init(struct fixture *f, int64_t opset)
{
    passtest_fixture_init(f, mof_plugin_entry_fusion);
    ck_assert_status(f->ctx, mof_model_set_opset(f->model, "", opset), MOF_OK);
    f->rng = 12345;
}

/* Uniform in [lo, hi). */
static float rng_float(uint64_t *state, float lo, float hi)
{
    return lo + (hi - lo) * (float)(rng_next(state) % 1000003) / 1000003.0f;
}

static mof_value *input(mof_graph *g, const char *name, mof_dtype dtype, int rank,
                        const int64_t *dims)
{
    mof_value *v = mof_graph_add_input(g, name, dtype, rank, dims, NULL);
    ck_assert_ptr_nonnull(v);
    return v;
}

static mof_value *init_floats(mof_graph *g, const char *name, size_t rank, const int64_t *dims,
                              const float *data)
{
    mof_tensor *t = mof_tensor_create_from(MOF_DTYPE_FLOAT, rank, dims, data);
    ck_assert_ptr_nonnull(t);
    mof_value *v = mof_graph_add_initializer(g, name, t);
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(mof_value_name(v), name);
    return v;
}

static mof_value *init_scalar(mof_graph *g, const char *name, float value)
{
    return init_floats(g, name, 0, NULL, &value);
}

/* A float initializer of random values in [lo, hi). */
static mof_value *init_random(struct fixture *f, mof_graph *g, const char *name, size_t rank,
                              const int64_t *dims, float lo, float hi)
{
    mof_tensor *t = mof_tensor_create(MOF_DTYPE_FLOAT, rank, dims);
    ck_assert_ptr_nonnull(t);
    float *d = mof_tensor_data_mut(t);
    for (int64_t i = 0; i < mof_tensor_numel(t); i++)
        d[i] = rng_float(&f->rng, lo, hi);
    mof_value *v = mof_graph_add_initializer(g, name, t);
    ck_assert_ptr_nonnull(v);
    return v;
}

static mof_value *init_ints(mof_graph *g, const char *name, size_t n, const int64_t *data)
{
    int64_t dim = (int64_t)n;
    mof_tensor *t = mof_tensor_create_from(MOF_DTYPE_INT64, 1, &dim, data);
    ck_assert_ptr_nonnull(t);
    mof_value *v = mof_graph_add_initializer(g, name, t);
    ck_assert_ptr_nonnull(v);
    return v;
}

/* Adds a node of the default domain with n_in inputs (mof_value *, may be NULL) and
 * one output named like the node. */
static mof_node *node(mof_graph *g, const char *op, const char *name, size_t n_in, ...)
{
    mof_value *in[8] = { 0 };
    ck_assert_uint_le(n_in, 8);
    va_list ap;
    va_start(ap, n_in);
    for (size_t i = 0; i < n_in; i++)
        in[i] = va_arg(ap, mof_value *);
    va_end(ap);
    mof_node *n = mof_graph_add_node(g, MOF_INSERT_AFTER, NULL, op, NULL, name, n_in, in, 1);
    ck_assert_ptr_nonnull(n);
    ck_assert_str_eq(mof_value_name(mof_node_output(n, 0)), name);
    return n;
}

static mof_value *out(const mof_node *n)
{
    return mof_node_output(n, 0);
}

static void output(mof_graph *g, mof_value *v)
{
    ck_assert_int_eq(mof_graph_add_output(g, v), MOF_OK);
}

/* A graph output with a declared type: the passes must keep it. */
static void typed_output(mof_graph *g, mof_value *v, int rank, const int64_t *dims)
{
    ck_assert_int_eq(mof_value_set_type(v, MOF_DTYPE_FLOAT, rank, dims, NULL), MOF_OK);
    output(g, v);
}

static void set_ints(mof_node *n, const char *name, size_t count, const int64_t *v)
{
    ck_assert_int_eq(mof_node_set_attr_ints(n, name, count, v), MOF_OK);
}

/* ------------------------------------------------------------------ running passes */

/* Runs a one-line pass list; returns the status of its last pass (the run must
 * succeed) and leaves the report in f->report. */
static mof_status run(struct fixture *f, const char *passes)
{
    mof_pipeline *p = mof_pipeline_parse_list(f->ctx, passes);
    if (!p)
        mof_test_print_diags(f->ctx);
    ck_assert_ptr_nonnull(p);
    mof_run_options opts;
    mof_run_options_init(&opts);
    opts.verify_each = true;
    opts.record_metadata = false;
    mof_run_report_destroy(f->report);
    f->report = NULL;
    mof_status st = mof_pipeline_run(p, f->model, &opts, &f->report);
    mof_pipeline_destroy(p);
    if (st < 0)
        mof_test_print_diags(f->ctx);
    ck_assert_int_ge(st, 0);
    ck_assert_ptr_nonnull(f->report);
    f->g = mof_model_graph(f->model);
    ck_assert_status(f->ctx, mof_graph_verify(f->ctx, f->g), MOF_OK);
    size_t n = mof_run_report_n_steps(f->report);
    ck_assert_uint_gt(n, 0);
    return mof_run_report_step(f->report, n - 1)->status;
}

/* The only node of that op type. */
static mof_node *the_op(const mof_graph *g, const char *op_type)
{
    ck_assert_uint_eq(count_op(g, op_type), 1);
    for (mof_node *it = mof_graph_first_node(g); it; it = mof_node_next(it))
        if (strcmp(mof_node_op_type(it), op_type) == 0)
            return it;
    return NULL;
}

static bool has_origin(const mof_node *n, const char *name)
{
    for (size_t i = 0; i < mof_node_n_origins(n); i++)
        if (strcmp(mof_node_origin(n, i), name) == 0)
            return true;
    return false;
}

static void assert_note(const struct fixture *f, const char *text)
{
    if (!mof_test_diag_contains(f->ctx, text))
        mof_test_print_diags(f->ctx);
    ck_assert_msg(mof_test_diag_contains(f->ctx, text), "no diagnostic says \"%s\"", text);
}

/* ------------------------------------------------------------------ numeric equivalence */

/* A random tensor for graph input v (every dim known). */
static mof_tensor *random_input(const mof_value *v, uint64_t *state)
{
    int rank = mof_value_rank(v);
    ck_assert_int_ge(rank, 0);
    int64_t dims[8];
    ck_assert_int_le(rank, 8);
    for (int i = 0; i < rank; i++) {
        dims[i] = mof_value_dim(v, (size_t)i);
        ck_assert_int_ge(dims[i], 0);
    }
    mof_tensor *t = mof_tensor_create(mof_value_dtype(v), (size_t)rank, dims);
    ck_assert_ptr_nonnull(t);
    void *data = mof_tensor_data_mut(t);
    for (int64_t i = 0; i < mof_tensor_numel(t); i++) {
        switch (mof_tensor_dtype(t)) {
        case MOF_DTYPE_FLOAT: ((float *)data)[i] = rng_float(state, -2.0f, 2.0f); break;
        case MOF_DTYPE_DOUBLE: ((double *)data)[i] = rng_float(state, -2.0f, 2.0f); break;
        case MOF_DTYPE_BOOL: ((uint8_t *)data)[i] = rng_next(state) & 1; break;
        default: ck_abort_msg("no random data for this input type");
        }
    }
    return t;
}

static double elem(const mof_tensor *t, int64_t i)
{
    if (mof_tensor_dtype(t) == MOF_DTYPE_DOUBLE)
        return ((const double *)mof_tensor_data(t))[i];
    return ((const float *)mof_tensor_data(t))[i];
}

/* Asserts that an output has the same type and shape before and after, and
 * |after - before| <= 1e-5 + rtol * |before| (*arg is rtol). */
static void compare_output(size_t i, const char *name, const mof_tensor *a_t,
                           const mof_tensor *b_t, const void *arg)
{
    (void)name;
    double rtol = *(const double *)arg;
    ck_assert_int_eq(mof_tensor_dtype(a_t), mof_tensor_dtype(b_t));
    ck_assert_uint_eq(mof_tensor_rank(a_t), mof_tensor_rank(b_t));
    for (size_t d = 0; d < mof_tensor_rank(a_t); d++)
        ck_assert_int_eq(mof_tensor_dims(a_t)[d], mof_tensor_dims(b_t)[d]);
    for (int64_t k = 0; k < mof_tensor_numel(a_t); k++) {
        double a = elem(a_t, k), b = elem(b_t, k);
        ck_assert_msg(fabs(a - b) <= 1e-5 + rtol * fabs(a),
                      "output %zu element %lld: %.9g before, %.9g after", i, (long long)k, a, b);
    }
}

/* Runs both models on the same inputs (overrides[i], when non-NULL, replaces the random
 * tensor of input i) and asserts |after - before| <= 1e-5 + rtol * |before|. */
static void check_equivalent_with(struct fixture *f, uint64_t seed, double rtol,
                                  mof_tensor *const *overrides)
{
    passtest_check_equivalent(f, seed, overrides, random_input, compare_output, &rtol);
}

static void check_equivalent(struct fixture *f)
{
    for (uint64_t seed = 1; seed <= 3; seed++)
        check_equivalent_with(f, seed, 1e-4, NULL);
}

/* Every graph output keeps its name and declared type. */
static void check_outputs_kept(const struct fixture *f)
{
    const mof_graph *ga = mof_model_graph(f->before), *gb = mof_model_graph(f->model);
    for (size_t i = 0; i < mof_graph_n_outputs(ga); i++) {
        const mof_value *a = mof_graph_output(ga, i), *b = mof_graph_output(gb, i);
        ck_assert_str_eq(mof_value_name(a), mof_value_name(b));
        ck_assert_int_eq(mof_value_has_type(a), mof_value_has_type(b));
        if (!mof_value_has_type(a))
            continue;
        ck_assert_int_eq(mof_value_dtype(a), mof_value_dtype(b));
        ck_assert_int_eq(mof_value_rank(a), mof_value_rank(b));
        for (int d = 0; d < mof_value_rank(a); d++)
            ck_assert_int_eq(mof_value_dim(a, (size_t)d), mof_value_dim(b, (size_t)d));
    }
}

/* ------------------------------------------------------------------ fuse-conv-bn */

/* X -> Conv(W[, B]) -> BatchNormalization -> Y, with random constants. */
static mof_node *conv_bn_model(struct fixture *f, const char *conv_op, bool bias, int64_t group)
{
    int64_t xd[4] = { 1, 4, 5, 5 };
    mof_value *x = input(f->g, "X", MOF_DTYPE_FLOAT, 4, xd);
    bool t = strcmp(conv_op, "ConvTranspose") == 0;
    /* Conv: W [6, 4/group, 3, 3]; ConvTranspose: W [4, 6/group, 3, 3]. */
    int64_t wd[4] = { t ? 4 : 6, t ? 6 / group : 4 / group, 3, 3 }, c = 6;
    mof_value *w = init_random(f, f->g, "W", 4, wd, -1.0f, 1.0f);
    mof_value *b = bias ? init_random(f, f->g, "B", 1, &c, -1.0f, 1.0f) : NULL;
    mof_node *conv = node(f->g, conv_op, "conv", bias ? 3 : 2, x, w, b);
    set_ints(conv, "pads", 4, (const int64_t[]){ 1, 1, 1, 1 });
    if (group != 1)
        ck_assert_int_eq(mof_node_set_attr_int(conv, "group", group), MOF_OK);
    mof_value *scale = init_random(f, f->g, "scale", 1, &c, 0.5f, 1.5f);
    mof_value *beta = init_random(f, f->g, "beta", 1, &c, -1.0f, 1.0f);
    mof_value *mean = init_random(f, f->g, "mean", 1, &c, -1.0f, 1.0f);
    mof_value *var = init_random(f, f->g, "var", 1, &c, 0.5f, 2.0f);
    mof_node *bn = node(f->g, "BatchNormalization", "bn", 5, out(conv), scale, beta, mean, var);
    ck_assert_int_eq(mof_node_set_attr_float(bn, "epsilon", 1e-3f), MOF_OK);
    int64_t yd[4] = { 1, 6, 5, 5 };
    if (t)
        yd[2] = yd[3] = 5;
    mof_node *y = node(f->g, "Relu", "Y", 1, out(bn));
    typed_output(f->g, out(y), 4, yd);
    return conv;
}

START_TEST(conv_bn_folds_into_weights_and_bias)
{
    struct fixture f;
    fixture_init(&f, 13);
    conv_bn_model(&f, "Conv", true, 1);
    reload(&f);
    snapshot(&f);
    ck_assert_int_eq(run(&f, "fuse-conv-bn"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "conv-bn"), 1);
    ck_assert_uint_eq(count_op(f.g, "BatchNormalization"), 0);
    mof_node *conv = the_op(f.g, "Conv");
    /* New initializers; the old ones are left to dead-code. */
    ck_assert_str_eq(mof_value_name(mof_node_input(conv, 1)), "W_bn");
    ck_assert_str_eq(mof_value_name(mof_node_input(conv, 2)), "B_bn");
    ck_assert_ptr_nonnull(mof_graph_find_value(f.g, "W"));
    /* The Conv's output takes the BatchNormalization's name; provenance is kept. */
    ck_assert_str_eq(mof_value_name(out(conv)), "bn");
    ck_assert(has_origin(conv, "conv"));
    ck_assert(has_origin(conv, "bn"));
    check_outputs_kept(&f);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(conv_bn_without_bias_grouped)
{
    struct fixture f;
    fixture_init(&f, 13);
    conv_bn_model(&f, "Conv", false, 2);
    snapshot(&f);
    ck_assert_int_eq(run(&f, "fuse-conv-bn"), MOF_OK);
    mof_node *conv = the_op(f.g, "Conv");
    ck_assert_uint_eq(mof_node_n_inputs(conv), 3);
    ck_assert(mof_value_is_constant(mof_node_input(conv, 2)));
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(convtranspose_bn_folds_per_group)
{
    struct fixture f;
    fixture_init(&f, 13);
    conv_bn_model(&f, "ConvTranspose", true, 2);
    snapshot(&f);
    ck_assert_int_eq(run(&f, "fuse-conv-bn"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "convtranspose-bn"), 1);
    ck_assert_uint_eq(count_op(f.g, "BatchNormalization"), 0);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(gemm_bn_folds_columns)
{
    /* Y = BN(Gemm(A, B^T, C; beta=0.5)) with C one row per batch row ([2, 1]). */
    struct fixture f;
    fixture_init(&f, 13);
    int64_t ad[2] = { 2, 5 }, bd[2] = { 3, 5 }, cd[2] = { 2, 1 }, c = 3;
    mof_value *a = input(f.g, "A", MOF_DTYPE_FLOAT, 2, ad);
    mof_value *b = init_random(&f, f.g, "Bw", 2, bd, -1.0f, 1.0f);
    mof_value *cv = init_random(&f, f.g, "C", 2, cd, -1.0f, 1.0f);
    mof_node *gemm = node(f.g, "Gemm", "gemm", 3, a, b, cv);
    ck_assert_int_eq(mof_node_set_attr_int(gemm, "transB", 1), MOF_OK);
    ck_assert_int_eq(mof_node_set_attr_float(gemm, "beta", 0.5f), MOF_OK);
    mof_node *bn = node(f.g, "BatchNormalization", "Y", 5, out(gemm),
                        init_random(&f, f.g, "scale", 1, &c, 0.5f, 1.5f),
                        init_random(&f, f.g, "beta", 1, &c, -1.0f, 1.0f),
                        init_random(&f, f.g, "mean", 1, &c, -1.0f, 1.0f),
                        init_random(&f, f.g, "var", 1, &c, 0.5f, 2.0f));
    output(f.g, out(bn));
    snapshot(&f);
    ck_assert_int_eq(run(&f, "fuse-conv-bn"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "gemm-bn"), 1);
    gemm = the_op(f.g, "Gemm");
    ck_assert(mof_node_attr_float(gemm, "beta", 0.0f) == 1.0f);
    /* C became [2, 3]: one bias per row and column. */
    const mof_tensor *nc = mof_value_tensor(mof_node_input(gemm, 2));
    ck_assert_uint_eq(mof_tensor_rank(nc), 2);
    ck_assert_int_eq(mof_tensor_dims(nc)[1], 3);
    ck_assert_str_eq(mof_value_name(out(gemm)), "Y");
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(conv_bn_near_misses)
{
    /* The Conv's output is read twice; a second BN's mean is a graph input. */
    struct fixture f;
    fixture_init(&f, 13);
    mof_node *conv = conv_bn_model(&f, "Conv", true, 1);
    node(f.g, "Relu", "other", 1, out(conv));
    output(f.g, mof_graph_find_value(f.g, "other"));
    int64_t c = 6;
    mof_value *m = input(f.g, "M", MOF_DTYPE_FLOAT, 1, &c);
    mof_value *x = mof_graph_find_value(f.g, "X");
    int64_t wd[4] = { 6, 4, 1, 1 };
    mof_node *conv2 = node(f.g, "Conv", "conv2", 2, x, init_random(&f, f.g, "W2", 4, wd, -1, 1));
    mof_node *bn2 = node(f.g, "BatchNormalization", "bn2", 5, out(conv2),
                         mof_graph_find_value(f.g, "scale"), mof_graph_find_value(f.g, "beta"),
                         m, mof_graph_find_value(f.g, "var"));
    output(f.g, out(bn2));
    ck_assert_int_eq(run(&f, "fuse-conv-bn(explain=true)"), MOF_UNCHANGED);
    ck_assert_int_eq(stat_of(&f, "near-misses"), 2);
    assert_note(&f, "node 'bn' (BatchNormalization): Conv -> BatchNormalization not fused, "
                    "1 of 2 nodes matched: at 'conv' (Conv): Conv output 'conv' has 2 uses");
    assert_note(&f, "BatchNormalization input mean ('M') is not a constant");
    fixture_free(&f);
}
END_TEST

START_TEST(near_misses_are_silent_without_explain)
{
    struct fixture f;
    fixture_init(&f, 13);
    mof_node *conv = conv_bn_model(&f, "Conv", true, 1);
    node(f.g, "Relu", "other", 1, out(conv));
    output(f.g, mof_graph_find_value(f.g, "other"));
    ck_assert_int_eq(run(&f, "fuse-conv-bn"), MOF_UNCHANGED);
    ck_assert_int_eq(stat_of(&f, "near-misses"), 1);
    ck_assert(!mof_test_diag_contains(f.ctx, "not fused"));
    fixture_free(&f);
}
END_TEST

START_TEST(conv_bn_in_subgraph)
{
    /* If(cond) then Conv -> BN (reading the main graph's constants) else Relu(X). */
    struct fixture f;
    fixture_init(&f, 13);
    mof_value *cond = input(f.g, "cond", MOF_DTYPE_BOOL, 0, NULL);
    int64_t xd[4] = { 1, 2, 4, 4 }, wd[4] = { 3, 2, 1, 1 }, c = 3;
    mof_value *x = input(f.g, "X", MOF_DTYPE_FLOAT, 4, xd);
    mof_value *w = init_random(&f, f.g, "W", 4, wd, -1, 1);
    mof_value *s = init_random(&f, f.g, "s", 1, &c, 0.5f, 1.5f);
    mof_value *b = init_random(&f, f.g, "b", 1, &c, -1, 1);
    mof_value *mu = init_random(&f, f.g, "mu", 1, &c, -1, 1);
    mof_value *var = init_random(&f, f.g, "var", 1, &c, 0.5f, 2);
    mof_node *iff = node(f.g, "If", "Y", 1, cond);
    output(f.g, out(iff));
    mof_graph *then_g = mof_node_add_subgraph(iff, "then_branch", "then");
    ck_assert_ptr_nonnull(then_g);
    mof_node *conv = node(then_g, "Conv", "conv", 2, x, w);
    mof_node *bn = node(then_g, "BatchNormalization", "bn", 5, out(conv), s, b, mu, var);
    output(then_g, out(bn));
    mof_graph *else_g = mof_node_add_subgraph(iff, "else_branch", "else");
    ck_assert_ptr_nonnull(else_g);
    mof_node *conv2 = node(else_g, "Conv", "conv2", 2, x, w);
    output(else_g, out(conv2));
    snapshot(&f);
    ck_assert_int_eq(run(&f, "fuse-conv-bn"), MOF_OK);
    then_g = mof_node_subgraph(mof_graph_first_node(f.g), 0);
    ck_assert_uint_eq(count_op(then_g, "BatchNormalization"), 0);
    ck_assert_uint_eq(mof_graph_n_outputs(then_g), 1);
    ck_assert_str_eq(mof_value_name(mof_graph_output(then_g, 0)), "bn");
    mof_tensor *yes = mof_tensor_create(MOF_DTYPE_BOOL, 0, NULL);
    *(uint8_t *)mof_tensor_data_mut(yes) = 1;
    mof_tensor *over[2] = { yes, NULL };
    check_equivalent_with(&f, 7, 1e-4, over);
    mof_tensor_unref(yes);
    fixture_free(&f);
}
END_TEST

/* ------------------------------------------------------------------ fuse-bias, fuse-matmul-add */

START_TEST(conv_add_becomes_bias)
{
    /* Conv without bias, then Add of a [6,1,1] constant, given first. */
    struct fixture f;
    fixture_init(&f, 13);
    int64_t xd[4] = { 1, 3, 4, 4 }, wd[4] = { 6, 3, 3, 3 }, dd[3] = { 6, 1, 1 };
    mof_value *x = input(f.g, "X", MOF_DTYPE_FLOAT, 4, xd);
    mof_node *conv = node(f.g, "Conv", "conv", 2, x, init_random(&f, f.g, "W", 4, wd, -1, 1));
    mof_node *add = node(f.g, "Add", "Y", 2, init_random(&f, f.g, "D", 3, dd, -1, 1), out(conv));
    output(f.g, out(add));
    reload(&f);
    snapshot(&f);
    ck_assert_int_eq(run(&f, "fuse-bias"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "conv-bias"), 1);
    ck_assert_uint_eq(count_op(f.g, "Add"), 0);
    conv = the_op(f.g, "Conv");
    ck_assert_uint_eq(mof_node_n_inputs(conv), 3);
    ck_assert_int_eq(mof_tensor_numel(mof_value_tensor(mof_node_input(conv, 2))), 6);
    ck_assert_str_eq(mof_value_name(out(conv)), "Y");
    ck_assert(has_origin(conv, "Y"));
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(conv_add_of_existing_bias_and_scalar)
{
    struct fixture f;
    fixture_init(&f, 13);
    int64_t xd[4] = { 1, 3, 4, 4 }, wd[4] = { 6, 3, 1, 1 }, c = 6;
    mof_value *x = input(f.g, "X", MOF_DTYPE_FLOAT, 4, xd);
    mof_node *conv = node(f.g, "Conv", "conv", 3, x, init_random(&f, f.g, "W", 4, wd, -1, 1),
                          init_random(&f, f.g, "B", 1, &c, -1, 1));
    mof_node *add = node(f.g, "Add", "Y", 2, out(conv), init_scalar(f.g, "k", 0.25f));
    output(f.g, out(add));
    snapshot(&f);
    ck_assert_int_eq(run(&f, "fuse-bias"), MOF_OK);
    ck_assert_uint_eq(count_op(f.g, "Add"), 0);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(gemm_add_into_c)
{
    /* Gemm(A, B, C[4]; beta=2) + D[2,4]: C' = 2 C + D, [2, 4]. */
    struct fixture f;
    fixture_init(&f, 13);
    int64_t ad[2] = { 2, 3 }, bd[2] = { 3, 4 }, c = 4, dd[2] = { 2, 4 };
    mof_value *a = input(f.g, "A", MOF_DTYPE_FLOAT, 2, ad);
    mof_node *gemm = node(f.g, "Gemm", "gemm", 3, a, init_random(&f, f.g, "B", 2, bd, -1, 1),
                          init_random(&f, f.g, "C", 1, &c, -1, 1));
    ck_assert_int_eq(mof_node_set_attr_float(gemm, "beta", 2.0f), MOF_OK);
    mof_node *add = node(f.g, "Add", "Y", 2, out(gemm), init_random(&f, f.g, "D", 2, dd, -1, 1));
    output(f.g, out(add));
    snapshot(&f);
    ck_assert_int_eq(run(&f, "fuse-bias"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "gemm-bias"), 1);
    gemm = the_op(f.g, "Gemm");
    ck_assert(mof_node_attr_float(gemm, "beta", 0.0f) == 1.0f);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(bias_near_miss_spatial_constant)
{
    /* A [1,1,4,4] constant varies over space: not a bias. A residual Add is silent. */
    struct fixture f;
    fixture_init(&f, 13);
    int64_t xd[4] = { 1, 3, 4, 4 }, wd[4] = { 3, 3, 1, 1 }, dd[4] = { 1, 1, 4, 4 };
    mof_value *x = input(f.g, "X", MOF_DTYPE_FLOAT, 4, xd);
    mof_node *conv = node(f.g, "Conv", "conv", 2, x, init_random(&f, f.g, "W", 4, wd, -1, 1));
    mof_node *add = node(f.g, "Add", "sum", 2, out(conv), init_random(&f, f.g, "D", 4, dd, -1, 1));
    mof_node *res = node(f.g, "Add", "Y", 2, out(add), x);
    output(f.g, out(res));
    ck_assert_int_eq(run(&f, "fuse-bias(explain=true)"), MOF_UNCHANGED);
    ck_assert_int_eq(stat_of(&f, "near-misses"), 1);
    assert_note(&f, "Conv -> Add not fused, 2 of 2 nodes matched: the added constant's dim 2 "
                    "is 4: not a per-channel bias of 3 channels");
    fixture_free(&f);
}
END_TEST

START_TEST(matmul_add_becomes_gemm)
{
    /* Y = MatMul(A, B) + D[4]; Z = MatMul(A, B2) + E, E a [2,4] graph input. */
    struct fixture f;
    fixture_init(&f, 13);
    int64_t ad[2] = { 2, 3 }, bd[2] = { 3, 4 }, c = 4, ed[2] = { 2, 4 };
    mof_value *a = input(f.g, "A", MOF_DTYPE_FLOAT, 2, ad);
    mof_value *e = input(f.g, "E", MOF_DTYPE_FLOAT, 2, ed);
    mof_node *mm = node(f.g, "MatMul", "mm", 2, a, init_random(&f, f.g, "B", 2, bd, -1, 1));
    mof_node *add = node(f.g, "Add", "Y", 2, out(mm), init_random(&f, f.g, "D", 1, &c, -1, 1));
    typed_output(f.g, out(add), 2, ed);
    mof_node *mm2 = node(f.g, "MatMul", "mm2", 2, a, init_random(&f, f.g, "B2", 2, bd, -1, 1));
    mof_node *add2 = node(f.g, "Add", "Z", 2, e, out(mm2));
    output(f.g, out(add2));
    reload(&f);
    snapshot(&f);
    ck_assert_int_eq(run(&f, "fuse-matmul-add"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "matmul-add"), 2);
    ck_assert_uint_eq(count_op(f.g, "MatMul"), 0);
    ck_assert_uint_eq(count_op(f.g, "Add"), 0);
    ck_assert_uint_eq(count_op(f.g, "Gemm"), 2);
    mof_node *gemm = mof_value_producer(mof_graph_output(f.g, 1), NULL);
    ck_assert_str_eq(mof_node_op_type(gemm), "Gemm");
    ck_assert_str_eq(mof_value_name(mof_node_input(gemm, 2)), "E");
    ck_assert(has_origin(gemm, "mm2") && has_origin(gemm, "Z"));
    check_outputs_kept(&f);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

/* A 3-D A and a bias row: Reshape -> Gemm -> Reshape, node names kept unique. */
START_TEST(matmul_add_rank_3)
{
    struct fixture f;
    fixture_init(&f, 13);
    int64_t ad[3] = { 2, 2, 3 }, bd[2] = { 3, 4 }, c = 4;
    mof_value *a = input(f.g, "A", MOF_DTYPE_FLOAT, 3, ad);
    mof_node *mm = node(f.g, "MatMul", "mm", 2, a, init_random(&f, f.g, "B", 2, bd, -1, 1));
    mof_node *add = node(f.g, "Add", "Y", 2, out(mm), init_random(&f, f.g, "D", 1, &c, -1, 1));
    int64_t yd[3] = { 2, 2, 4 };
    typed_output(f.g, out(add), 3, yd);
    reload(&f);
    snapshot(&f);
    ck_assert_int_eq(run(&f, "fuse-matmul-add"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "matmul-add"), 1);
    ck_assert_uint_eq(count_op(f.g, "MatMul"), 0);
    ck_assert_uint_eq(count_op(f.g, "Add"), 0);
    ck_assert_uint_eq(count_op(f.g, "Gemm"), 1);
    ck_assert_uint_eq(count_op(f.g, "Reshape"), 2);
    mof_node *back = mof_value_producer(mof_graph_output(f.g, 0), NULL);
    ck_assert_str_eq(mof_node_op_type(back), "Reshape");
    ck_assert_str_eq(mof_node_name(back), "mm/reshape_out");
    mof_node *gemm = mof_value_producer(mof_node_input(back, 0), NULL);
    ck_assert_str_eq(mof_node_op_type(gemm), "Gemm");
    ck_assert_str_eq(mof_node_name(gemm), "mm");
    mof_node *in = mof_value_producer(mof_node_input(gemm, 0), NULL);
    ck_assert_str_eq(mof_node_name(in), "mm/reshape_in");
    check_outputs_kept(&f);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

/* A 3-D A and an Add that varies along the rows: no Gemm bias can say it. */
START_TEST(matmul_add_near_miss_rank_3)
{
    struct fixture f;
    fixture_init(&f, 13);
    int64_t ad[3] = { 2, 2, 3 }, bd[2] = { 3, 4 }, dd[2] = { 2, 4 };
    mof_value *a = input(f.g, "A", MOF_DTYPE_FLOAT, 3, ad);
    mof_node *mm = node(f.g, "MatMul", "mm", 2, a, init_random(&f, f.g, "B", 2, bd, -1, 1));
    mof_node *add = node(f.g, "Add", "Y", 2, out(mm), init_random(&f, f.g, "D", 2, dd, -1, 1));
    output(f.g, out(add));
    ck_assert_int_eq(run(&f, "fuse-matmul-add(explain=true)"), MOF_UNCHANGED);
    assert_note(&f, "MatMul -> Add not fused, 2 of 2 nodes matched: Add operand 'D' varies "
                    "along the rows of a rank-3 product (a bias row only)");
    fixture_free(&f);
}
END_TEST

/* ------------------------------------------------------------------ fuse-activation */

/* X -> Conv -> [activation built by the caller] */
static mof_node *conv_for_act(struct fixture *f)
{
    int64_t xd[4] = { 1, 2, 5, 5 }, wd[4] = { 3, 2, 3, 3 }, c = 3;
    mof_value *x = input(f->g, "X", MOF_DTYPE_FLOAT, 4, xd);
    mof_node *conv = node(f->g, "Conv", "conv", 3, x, init_random(f, f->g, "W", 4, wd, -1, 1),
                          init_random(f, f->g, "B", 1, &c, -1, 1));
    set_ints(conv, "strides", 2, (const int64_t[]){ 2, 2 });
    return conv;
}

/* Checks the fused node left by fuse-activation. */
static mof_node *check_fused(const struct fixture *f, const char *op, const char *activation,
                             size_t n_params, const float *params)
{
    mof_node *fused = the_op(f->g, op);
    ck_assert_str_eq(mof_node_domain(fused), "mof");
    ck_assert_int_eq(mof_model_opset(f->model, "mof"), 1);
    ck_assert_str_eq(mof_node_attr_string(fused, "activation", "", NULL), activation);
    size_t n = 0;
    const float *p = mof_node_attr_floats(fused, "activation_params", &n);
    ck_assert_uint_eq(n, n_params);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(p[i] == params[i], "param %zu is %g, expected %g", i, (double)p[i],
                      (double)params[i]);
    ck_assert_uint_eq(mof_graph_n_nodes(f->g), 1);
    return fused;
}

START_TEST(conv_relu_becomes_fused_conv)
{
    struct fixture f;
    fixture_init(&f, 13);
    mof_node *conv = conv_for_act(&f);
    int64_t yd[4] = { 1, 3, 2, 2 };
    typed_output(f.g, out(node(f.g, "Relu", "Y", 1, out(conv))), 4, yd);
    reload(&f);
    snapshot(&f);
    ck_assert_int_eq(run(&f, "fuse-activation"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "conv-activation"), 1);
    mof_node *fused = check_fused(&f, "FusedConv", "Relu", 0, NULL);
    /* Conv's inputs and attributes carry over. */
    ck_assert_uint_eq(mof_node_n_inputs(fused), 3);
    ck_assert_str_eq(mof_value_name(mof_node_input(fused, 1)), "W");
    size_t ns = 0;
    ck_assert_ptr_nonnull(mof_node_attr_ints(fused, "strides", &ns));
    ck_assert_uint_eq(ns, 2);
    ck_assert_str_eq(mof_value_name(out(fused)), "Y");
    ck_assert(has_origin(fused, "conv") && has_origin(fused, "Y"));
    check_outputs_kept(&f);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(conv_clip_relu6_and_others)
{
    /* One model per activation, each checked for its parameters and its numbers. */
    static const struct {
        const char *op, *name;
        size_t n;
        float params[2];
    } cases[] = {
        { "Clip", "Clip", 2, { 0.0f, 6.0f } },
        { "LeakyRelu", "LeakyRelu", 1, { 0.2f } },
        { "Sigmoid", "Sigmoid", 0, { 0 } },
        { "HardSigmoid", "HardSigmoid", 2, { 0.25f, 0.5f } },
        { "HardSwish", "HardSwish", 0, { 0 } },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct fixture f;
        fixture_init(&f, 14);
        mof_node *conv = conv_for_act(&f);
        mof_node *act;
        if (!strcmp(cases[k].op, "Clip"))
            act = node(f.g, "Clip", "Y", 3, out(conv), init_scalar(f.g, "lo", 0.0f),
                       init_scalar(f.g, "hi", 6.0f));
        else
            act = node(f.g, cases[k].op, "Y", 1, out(conv));
        if (!strcmp(cases[k].op, "LeakyRelu"))
            ck_assert_int_eq(mof_node_set_attr_float(act, "alpha", 0.2f), MOF_OK);
        if (!strcmp(cases[k].op, "HardSigmoid"))
            ck_assert_int_eq(mof_node_set_attr_float(act, "alpha", 0.25f), MOF_OK);
        output(f.g, out(act));
        snapshot(&f);
        ck_assert_int_eq(run(&f, "fuse-activation"), MOF_OK);
        check_fused(&f, "FusedConv", cases[k].name, cases[k].n, cases[k].params);
        check_equivalent(&f);
        fixture_free(&f);
    }
}
END_TEST

START_TEST(clip_before_opset_11_uses_attributes)
{
    struct fixture f;
    fixture_init(&f, 10);
    mof_node *conv = conv_for_act(&f);
    mof_node *clip = node(f.g, "Clip", "Y", 1, out(conv));
    ck_assert_int_eq(mof_node_set_attr_float(clip, "min", -1.0f), MOF_OK);
    ck_assert_int_eq(mof_node_set_attr_float(clip, "max", 1.0f), MOF_OK);
    output(f.g, out(clip));
    snapshot(&f);
    ck_assert_int_eq(run(&f, "fuse-activation"), MOF_OK);
    check_fused(&f, "FusedConv", "Clip", 2, (const float[]){ -1.0f, 1.0f });
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(gemm_and_matmul_activations)
{
    struct fixture f;
    fixture_init(&f, 13);
    int64_t ad[2] = { 2, 3 }, bd[2] = { 3, 4 }, c = 4, xd[3] = { 2, 3, 3 };
    mof_value *a = input(f.g, "A", MOF_DTYPE_FLOAT, 2, ad);
    mof_node *gemm = node(f.g, "Gemm", "gemm", 3, a, init_random(&f, f.g, "B", 2, bd, -1, 1),
                          init_random(&f, f.g, "C", 1, &c, -1, 1));
    ck_assert_int_eq(mof_node_set_attr_float(gemm, "alpha", 0.5f), MOF_OK);
    mof_node *lr = node(f.g, "LeakyRelu", "Y", 1, out(gemm));
    output(f.g, out(lr));
    /* A batched MatMul ([2,3,3] x [3,4]), then Sigmoid. */
    mof_value *x = input(f.g, "X", MOF_DTYPE_FLOAT, 3, xd);
    mof_node *mm = node(f.g, "MatMul", "mm", 2, x, init_random(&f, f.g, "B2", 2, bd, -1, 1));
    output(f.g, out(node(f.g, "Sigmoid", "Z", 1, out(mm))));
    snapshot(&f);
    ck_assert_int_eq(run(&f, "fuse-activation"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "gemm-activation"), 1);
    ck_assert_int_eq(stat_of(&f, "matmul-activation"), 1);
    mof_node *fg = the_op(f.g, "FusedGemm");
    ck_assert(mof_node_attr_float(fg, "alpha", 0.0f) == 0.5f);
    ck_assert_str_eq(mof_node_attr_string(fg, "activation", "", NULL), "LeakyRelu");
    mof_node *fm = the_op(f.g, "FusedMatMul");
    ck_assert_str_eq(mof_node_attr_string(fm, "activation", "", NULL), "Sigmoid");
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(conv_silu_becomes_fused_conv)
{
    struct fixture f;
    fixture_init(&f, 13);
    mof_node *conv = conv_for_act(&f);
    mof_node *sig = node(f.g, "Sigmoid", "sig", 1, out(conv));
    mof_node *mul = node(f.g, "Mul", "Y", 2, out(conv), out(sig));
    output(f.g, out(mul));
    reload(&f);
    snapshot(&f);
    ck_assert_int_eq(run(&f, "fuse-activation(explain=true)"), MOF_OK);
    mof_node *fused = check_fused(&f, "FusedConv", "SiLU", 0, NULL);
    ck_assert(has_origin(fused, "sig"));
    /* The Sigmoid half of a SiLU is no near miss. */
    ck_assert_int_eq(stat_of(&f, "near-misses"), 0);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(hardswish_as_exported_before_opset_14)
{
    /* x * HardSigmoid(x) with alpha 1/6 is HardSwish; with alpha 0.2 it is not. */
    struct fixture f;
    fixture_init(&f, 13);
    mof_node *conv = conv_for_act(&f);
    mof_node *hs = node(f.g, "HardSigmoid", "hs", 1, out(conv));
    ck_assert_int_eq(mof_node_set_attr_float(hs, "alpha", 1.0f / 6.0f), MOF_OK);
    output(f.g, out(node(f.g, "Mul", "Y", 2, out(hs), out(conv))));
    snapshot(&f);
    ck_assert_int_eq(run(&f, "fuse-activation"), MOF_OK);
    check_fused(&f, "FusedConv", "HardSwish", 0, NULL);
    check_equivalent(&f);
    fixture_free(&f);

    fixture_init(&f, 13);
    conv = conv_for_act(&f);
    hs = node(f.g, "HardSigmoid", "hs", 1, out(conv));
    output(f.g, out(node(f.g, "Mul", "Y", 2, out(hs), out(conv))));
    ck_assert_int_eq(run(&f, "fuse-activation(explain=true)"), MOF_UNCHANGED);
    assert_note(&f, "node 'hs' (HardSigmoid): Conv -> activation not fused, 1 of 2 nodes "
                    "matched: at 'conv' (Conv): Conv output 'conv' has 2 uses");
    fixture_free(&f);
}
END_TEST

START_TEST(activation_near_misses)
{
    /* conv's output read twice; a Relu after an Add. */
    struct fixture f;
    fixture_init(&f, 13);
    mof_node *conv = conv_for_act(&f);
    mof_node *relu = node(f.g, "Relu", "r", 1, out(conv));
    mof_node *add = node(f.g, "Add", "sum", 2, out(conv), out(relu));
    output(f.g, out(node(f.g, "Relu", "Y", 1, out(add))));
    ck_assert_int_eq(run(&f, "fuse-activation(explain=true)"), MOF_UNCHANGED);
    ck_assert_int_eq(stat_of(&f, "near-misses"), 2);
    assert_note(&f, "node 'r' (Relu): Conv -> activation not fused, 1 of 2 nodes matched: at "
                    "'conv' (Conv): Conv output 'conv' has 2 uses");
    assert_note(&f, "node 'Y' (Relu): product -> activation not fused, 1 of 2 nodes matched: "
                    "at 'sum' (Add): expected Conv, Gemm or MatMul, found Add");
    fixture_free(&f);
}
END_TEST

START_TEST(activation_in_if_branches)
{
    struct fixture f;
    fixture_init(&f, 13);
    mof_value *cond = input(f.g, "cond", MOF_DTYPE_BOOL, 0, NULL);
    int64_t xd[4] = { 1, 2, 3, 3 }, wd[4] = { 2, 2, 1, 1 };
    mof_value *x = input(f.g, "X", MOF_DTYPE_FLOAT, 4, xd);
    mof_value *w = init_random(&f, f.g, "W", 4, wd, -1, 1);
    mof_node *iff = node(f.g, "If", "Y", 1, cond);
    output(f.g, out(iff));
    const char *const branch[2] = { "then_branch", "else_branch" };
    const char *const act[2] = { "Relu", "HardSigmoid" };
    for (int i = 0; i < 2; i++) {
        mof_graph *sub = mof_node_add_subgraph(iff, branch[i], branch[i]);
        ck_assert_ptr_nonnull(sub);
        mof_node *conv = node(sub, "Conv", i ? "c1" : "c0", 2, x, w);
        output(sub, out(node(sub, act[i], i ? "a1" : "a0", 1, out(conv))));
    }
    snapshot(&f);
    ck_assert_int_eq(run(&f, "fuse-activation"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "conv-activation"), 2);
    iff = mof_graph_first_node(f.g);
    for (size_t i = 0; i < 2; i++) {
        mof_graph *sub = mof_node_subgraph(iff, i);
        ck_assert_uint_eq(mof_graph_n_nodes(sub), 1);
        ck_assert_str_eq(mof_node_op_type(mof_graph_first_node(sub)), "FusedConv");
    }
    for (int v = 0; v < 2; v++) {
        mof_tensor *c = mof_tensor_create(MOF_DTYPE_BOOL, 0, NULL);
        *(uint8_t *)mof_tensor_data_mut(c) = (uint8_t)v;
        mof_tensor *over[2] = { c, NULL };
        check_equivalent_with(&f, 3, 1e-4, over);
        mof_tensor_unref(c);
    }
    fixture_free(&f);
}
END_TEST

/* ------------------------------------------------------------------ fuse-gelu */

START_TEST(gelu_erf_form_as_pytorch_exports_it)
{
    struct fixture f;
    fixture_init(&f, 13);
    int64_t xd[2] = { 3, 5 };
    mof_value *x = input(f.g, "X", MOF_DTYPE_FLOAT, 2, xd);
    mof_node *d = node(f.g, "Div", "div", 2, x, init_scalar(f.g, "sqrt2", 1.4142135f));
    mof_node *e = node(f.g, "Erf", "erf", 1, out(d));
    mof_node *a = node(f.g, "Add", "add", 2, out(e), init_scalar(f.g, "one", 1.0f));
    mof_node *m = node(f.g, "Mul", "mul", 2, x, out(a));
    mof_node *y = node(f.g, "Mul", "Y", 2, out(m), init_scalar(f.g, "half", 0.5f));
    typed_output(f.g, out(y), 2, xd);
    reload(&f);
    snapshot(&f);
    ck_assert_int_eq(run(&f, "fuse-gelu"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "gelu-erf"), 1);
    mof_node *g = the_op(f.g, "Gelu");
    ck_assert_str_eq(mof_node_domain(g), "mof");
    ck_assert_int_eq(mof_model_opset(f.model, "mof"), 1);
    ck_assert(!mof_node_has_attr(g, "approximate"));
    ck_assert_str_eq(mof_value_name(mof_node_input(g, 0)), "X");
    ck_assert_uint_eq(mof_graph_n_nodes(f.g), 1);
    ck_assert(has_origin(g, "erf") && has_origin(g, "div") && has_origin(g, "Y"));
    check_outputs_kept(&f);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(gelu_erf_other_grouping_at_opset_20)
{
    /* (x * 0.5) * (1 + erf(x * 0.70710678)): ONNX Gelu at opset 20. */
    struct fixture f;
    fixture_init(&f, 20);
    int64_t xd[2] = { 2, 4 };
    mof_value *x = input(f.g, "X", MOF_DTYPE_FLOAT, 2, xd);
    mof_node *h = node(f.g, "Mul", "h", 2, x, init_scalar(f.g, "half", 0.5f));
    mof_node *d = node(f.g, "Mul", "d", 2, init_scalar(f.g, "rs2", 0.70710678f), x);
    mof_node *e = node(f.g, "Erf", "erf", 1, out(d));
    mof_node *a = node(f.g, "Add", "add", 2, init_scalar(f.g, "one", 1.0f), out(e));
    output(f.g, out(node(f.g, "Mul", "Y", 2, out(h), out(a))));
    snapshot(&f);
    ck_assert_int_eq(run(&f, "fuse-gelu"), MOF_OK);
    mof_node *g = the_op(f.g, "Gelu");
    ck_assert_str_eq(mof_node_domain(g), "");
    ck_assert_int_eq(mof_model_opset(f.model, "mof"), -1);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(gelu_tanh_forms)
{
    /* PyTorch: 0.5 * (x * (1 + tanh(beta * (x + kappa * (x * (x * x)))))); and with
     * Pow(x, 3). */
    for (int pow_form = 0; pow_form < 2; pow_form++) {
        struct fixture f;
        fixture_init(&f, 13);
        int64_t xd[2] = { 3, 4 };
        mof_value *x = input(f.g, "X", MOF_DTYPE_FLOAT, 2, xd);
        mof_value *cube;
        if (pow_form) {
            cube = out(node(f.g, "Pow", "cube", 2, x, init_scalar(f.g, "three", 3.0f)));
        } else {
            mof_node *sq = node(f.g, "Mul", "sq", 2, x, x);
            cube = out(node(f.g, "Mul", "cube", 2, x, out(sq)));
        }
        mof_node *k = node(f.g, "Mul", "k", 2, init_scalar(f.g, "kappa", 0.044715f), cube);
        mof_node *s = node(f.g, "Add", "s", 2, x, out(k));
        mof_node *b = node(f.g, "Mul", "b", 2, init_scalar(f.g, "beta", 0.7978846f), out(s));
        mof_node *t = node(f.g, "Tanh", "t", 1, out(b));
        mof_node *a = node(f.g, "Add", "a", 2, init_scalar(f.g, "one", 1.0f), out(t));
        mof_node *m = node(f.g, "Mul", "m", 2, x, out(a));
        output(f.g, out(node(f.g, "Mul", "Y", 2, init_scalar(f.g, "half", 0.5f), out(m))));
        snapshot(&f);
        ck_assert_int_eq(run(&f, "fuse-gelu"), MOF_OK);
        ck_assert_int_eq(stat_of(&f, "gelu-tanh"), 1);
        mof_node *g = the_op(f.g, "Gelu");
        ck_assert_str_eq(mof_node_attr_string(g, "approximate", "", NULL), "tanh");
        ck_assert_uint_eq(mof_graph_n_nodes(f.g), 1);
        check_equivalent(&f);
        fixture_free(&f);
    }
}
END_TEST

START_TEST(gelu_near_miss_wrong_constant_and_extra_use)
{
    struct fixture f;
    fixture_init(&f, 13);
    int64_t xd[2] = { 2, 2 };
    mof_value *x = input(f.g, "X", MOF_DTYPE_FLOAT, 2, xd);
    /* 1 + erf(x / sqrt 2) is also a graph output. */
    mof_node *d = node(f.g, "Div", "div", 2, x, init_scalar(f.g, "sqrt2", 1.4142135f));
    mof_node *e = node(f.g, "Erf", "erf", 1, out(d));
    mof_node *a = node(f.g, "Add", "add", 2, out(e), init_scalar(f.g, "one", 1.0f));
    mof_node *m = node(f.g, "Mul", "mul", 2, x, out(a));
    output(f.g, out(node(f.g, "Mul", "Y", 2, out(m), init_scalar(f.g, "half", 0.5f))));
    output(f.g, out(a));
    /* Adds 2, not 1. */
    mof_node *e2 = node(f.g, "Erf", "erf2", 1, out(node(f.g, "Div", "div2", 2, x,
                                                         init_scalar(f.g, "s2", 1.4142135f))));
    mof_node *a2 = node(f.g, "Add", "add2", 2, out(e2), init_scalar(f.g, "two", 2.0f));
    mof_node *m2 = node(f.g, "Mul", "mul2", 2, x, out(a2));
    output(f.g, out(node(f.g, "Mul", "Z", 2, out(m2), init_scalar(f.g, "h2", 0.5f))));
    ck_assert_int_eq(run(&f, "fuse-gelu(explain=true)"), MOF_UNCHANGED);
    ck_assert_int_eq(stat_of(&f, "near-misses"), 2);
    assert_note(&f, "Add output 'add' is a graph output");
    assert_note(&f, "node 'Z' (Mul): GELU (erf form) not fused, 2 of 5 nodes matched: at "
                    "'add2' (Add): the Add after Erf does not add 1");
    fixture_free(&f);
}
END_TEST

/* ------------------------------------------------------------------ fuse-layernorm */

/* PyTorch's nn.LayerNorm at opset 13 over the last axis of X [2, 3, 8]; gamma and
 * beta when affine. Returns X. */
static mof_value *layernorm_model(struct fixture *f, bool affine, int64_t axis)
{
    int64_t xd[3] = { 2, 3, 8 }, c = 8;
    mof_value *x = input(f->g, "X", MOF_DTYPE_FLOAT, 3, xd);
    mof_node *r1 = node(f->g, "ReduceMean", "mean", 1, x);
    set_ints(r1, "axes", 1, &axis);
    mof_node *d = node(f->g, "Sub", "d", 2, x, out(r1));
    mof_node *p = node(f->g, "Pow", "p", 2, out(d), init_scalar(f->g, "two", 2.0f));
    mof_node *r2 = node(f->g, "ReduceMean", "var", 1, out(p));
    set_ints(r2, "axes", 1, &axis);
    mof_node *a = node(f->g, "Add", "a", 2, out(r2), init_scalar(f->g, "eps", 1e-5f));
    mof_node *s = node(f->g, "Sqrt", "s", 1, out(a));
    mof_node *n = node(f->g, "Div", affine ? "n" : "Y", 2, out(d), out(s));
    if (affine) {
        mof_node *m = node(f->g, "Mul", "m", 2, out(n), init_random(f, f->g, "gamma", 1, &c, 0.5f, 1.5f));
        n = node(f->g, "Add", "Y", 2, out(m), init_random(f, f->g, "beta", 1, &c, -1, 1));
    }
    typed_output(f->g, out(n), 3, xd);
    return x;
}

START_TEST(layernorm_opset_13_becomes_mof_op)
{
    struct fixture f;
    fixture_init(&f, 13);
    layernorm_model(&f, true, -1);
    reload(&f);
    snapshot(&f);
    ck_assert_int_eq(run(&f, "fuse-layernorm"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "layernorm"), 1);
    ck_assert_uint_eq(mof_graph_n_nodes(f.g), 1);
    mof_node *ln = the_op(f.g, "LayerNormalization");
    ck_assert_str_eq(mof_node_domain(ln), "mof");
    ck_assert_int_eq(mof_model_opset(f.model, "mof"), 1);
    ck_assert_str_eq(mof_value_name(mof_node_input(ln, 0)), "X");
    ck_assert_str_eq(mof_value_name(mof_node_input(ln, 1)), "gamma");
    ck_assert_str_eq(mof_value_name(mof_node_input(ln, 2)), "beta");
    ck_assert_int_eq(mof_node_attr_int(ln, "axis", 0), -1);
    ck_assert(fabsf(mof_node_attr_float(ln, "epsilon", 0) - 1e-5f) < 1e-12f);
    ck_assert(has_origin(ln, "mean") && has_origin(ln, "Y"));
    check_outputs_kept(&f);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(layernorm_opset_17_without_affine)
{
    /* Positive axes (the rank is known); no gamma: Scale is ones of [8]. */
    struct fixture f;
    fixture_init(&f, 17);
    layernorm_model(&f, false, 2);
    snapshot(&f);
    ck_assert_int_eq(run(&f, "fuse-layernorm"), MOF_OK);
    mof_node *ln = the_op(f.g, "LayerNormalization");
    ck_assert_str_eq(mof_node_domain(ln), "");
    ck_assert_int_eq(mof_model_opset(f.model, "mof"), -1);
    ck_assert_uint_eq(mof_node_n_inputs(ln), 2);
    const mof_tensor *scale = mof_value_tensor(mof_node_input(ln, 1));
    ck_assert_uint_eq(mof_tensor_rank(scale), 1);
    ck_assert_int_eq(mof_tensor_dims(scale)[0], 8);
    ck_assert_str_eq(mof_value_name(out(ln)), "Y");
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(layernorm_near_miss_axes_differ)
{
    struct fixture f;
    fixture_init(&f, 13);
    layernorm_model(&f, true, -1);
    for (mof_node *n = mof_graph_first_node(f.g); n; n = mof_node_next(n))
        if (!strcmp(mof_node_name(n), "var"))
            set_ints(n, "axes", 2, (const int64_t[]){ -2, -1 });
    ck_assert_int_eq(run(&f, "fuse-layernorm(explain=true)"), MOF_UNCHANGED);
    ck_assert_int_eq(stat_of(&f, "near-misses"), 1);
    assert_note(&f, "node 'Y' (Add): layer normalization not fused");
    assert_note(&f, "the two ReduceMeans reduce different axes");
    fixture_free(&f);
}
END_TEST

/* ------------------------------------------------------------------ fuse-attention */

/* Y = Softmax(Q K^T / sqrt(8) + mask) V over [1, 2, 4, 8]; cast puts a Cast between the
 * Softmax and the last MatMul. */
static void attention_model(struct fixture *f, bool mask, bool cast)
{
    int64_t d[4] = { 1, 2, 4, 8 }, md[4] = { 1, 1, 4, 4 };
    mof_value *q = input(f->g, "Q", MOF_DTYPE_FLOAT, 4, d);
    mof_value *k = input(f->g, "K", MOF_DTYPE_FLOAT, 4, d);
    mof_value *v = input(f->g, "V", MOF_DTYPE_FLOAT, 4, d);
    mof_value *m = mask ? input(f->g, "M", MOF_DTYPE_FLOAT, 4, md) : NULL;
    mof_node *kt = node(f->g, "Transpose", "kt", 1, k);
    set_ints(kt, "perm", 4, (const int64_t[]){ 0, 1, 3, 2 });
    mof_node *s = node(f->g, "MatMul", "scores", 2, q, out(kt));
    mof_node *sc = node(f->g, "Div", "scaled", 2, out(s), init_scalar(f->g, "c", sqrtf(8.0f)));
    mof_value *logits = out(sc);
    if (m)
        logits = out(node(f->g, "Add", "masked", 2, logits, m));
    mof_value *p = out(node(f->g, "Softmax", "p", 1, logits));
    if (cast) {
        mof_node *c = node(f->g, "Cast", "cast", 1, p);
        ck_assert_int_eq(mof_node_set_attr_int(c, "to", MOF_DTYPE_FLOAT), MOF_OK);
        p = out(c);
    }
    typed_output(f->g, out(node(f->g, "MatMul", "Y", 2, p, v)), 4, d);
}

START_TEST(attention_with_mask)
{
    struct fixture f;
    fixture_init(&f, 13);
    attention_model(&f, true, false);
    reload(&f);
    snapshot(&f);
    ck_assert_int_eq(run(&f, "fuse-attention"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "attention-masked"), 1);
    mof_node *a = the_op(f.g, "Attention");
    ck_assert_str_eq(mof_node_domain(a), "mof");
    ck_assert_uint_eq(mof_node_n_inputs(a), 4);
    ck_assert_str_eq(mof_value_name(mof_node_input(a, 0)), "Q");
    ck_assert_str_eq(mof_value_name(mof_node_input(a, 1)), "kt");
    ck_assert_str_eq(mof_value_name(mof_node_input(a, 2)), "V");
    ck_assert_str_eq(mof_value_name(mof_node_input(a, 3)), "M");
    ck_assert(fabsf(mof_node_attr_float(a, "scale", 0) - 1.0f / sqrtf(8.0f)) < 1e-6f);
    ck_assert_uint_eq(mof_graph_n_nodes(f.g), 2); /* the Transpose stays */
    ck_assert(has_origin(a, "scores") && has_origin(a, "p") && has_origin(a, "Y"));
    check_outputs_kept(&f);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(attention_without_mask)
{
    struct fixture f;
    fixture_init(&f, 13);
    attention_model(&f, false, false);
    snapshot(&f);
    ck_assert_int_eq(run(&f, "fuse-attention"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "attention"), 1);
    ck_assert_uint_eq(mof_node_n_inputs(the_op(f.g, "Attention")), 3);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(attention_near_miss_cast)
{
    struct fixture f;
    fixture_init(&f, 13);
    attention_model(&f, true, true);
    ck_assert_int_eq(run(&f, "fuse-attention(explain=true)"), MOF_UNCHANGED);
    ck_assert_int_eq(stat_of(&f, "near-misses"), 1);
    assert_note(&f, "node 'Y' (MatMul): attention (MatMul -> scale -> mask -> Softmax -> "
                    "MatMul) not fused, 1 of 5 nodes matched: at 'cast' (Cast): expected "
                    "Softmax, found Cast");
    fixture_free(&f);
}
END_TEST

/* ------------------------------------------------------------------ fold-pad */

START_TEST(pad_folds_into_conv_and_pools)
{
    struct fixture f;
    fixture_init(&f, 13);
    int64_t xd[4] = { 1, 2, 5, 5 }, wd[4] = { 3, 2, 3, 3 };
    mof_value *x = input(f.g, "X", MOF_DTYPE_FLOAT, 4, xd);
    /* Pad H by (1, 2) and W by (2, 1) into a Conv that pads (1, 0, 0, 1) itself. */
    mof_node *pad = node(f.g, "Pad", "pad", 2, x,
                         init_ints(f.g, "pads", 8, (const int64_t[]){ 0, 0, 1, 2, 0, 0, 2, 1 }));
    mof_node *conv = node(f.g, "Conv", "Y", 2, out(pad), init_random(&f, f.g, "W", 4, wd, -1, 1));
    set_ints(conv, "pads", 4, (const int64_t[]){ 1, 0, 0, 1 });
    output(f.g, out(conv));
    /* -inf padding into MaxPool; zero padding into AveragePool (count_include_pad=0). */
    mof_value *pads1 = init_ints(f.g, "pads1", 8, (const int64_t[]){ 0, 0, 1, 1, 0, 0, 1, 1 });
    float ninf = -INFINITY;
    mof_node *pad2 = node(f.g, "Pad", "pad2", 3, x, pads1, init_floats(f.g, "ninf", 0, NULL, &ninf));
    mof_node *mp = node(f.g, "MaxPool", "Z", 1, out(pad2));
    set_ints(mp, "kernel_shape", 2, (const int64_t[]){ 3, 3 });
    output(f.g, out(mp));
    mof_node *pad3 = node(f.g, "Pad", "pad3", 2, x, pads1);
    mof_node *ap = node(f.g, "AveragePool", "A", 1, out(pad3));
    set_ints(ap, "kernel_shape", 2, (const int64_t[]){ 3, 3 });
    output(f.g, out(ap));
    reload(&f);
    snapshot(&f);
    ck_assert_int_eq(run(&f, "fold-pad"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "pad-conv"), 1);
    ck_assert_int_eq(stat_of(&f, "pad-maxpool"), 1);
    ck_assert_int_eq(stat_of(&f, "pad-averagepool"), 1);
    ck_assert_uint_eq(count_op(f.g, "Pad"), 0);
    conv = the_op(f.g, "Conv");
    ck_assert_str_eq(mof_value_name(mof_node_input(conv, 0)), "X");
    size_t n = 0;
    const int64_t *p = mof_node_attr_ints(conv, "pads", &n);
    ck_assert_uint_eq(n, 4);
    ck_assert(p[0] == 2 && p[1] == 2 && p[2] == 2 && p[3] == 2);
    ck_assert(has_origin(conv, "pad"));
    ck_assert_int_eq(mof_node_attr_int(the_op(f.g, "AveragePool"), "count_include_pad", 0), 1);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(pad_near_miss_channel_axis)
{
    struct fixture f;
    fixture_init(&f, 13);
    int64_t xd[4] = { 1, 2, 5, 5 }, wd[4] = { 3, 3, 3, 3 };
    mof_value *x = input(f.g, "X", MOF_DTYPE_FLOAT, 4, xd);
    mof_node *pad = node(f.g, "Pad", "pad", 2, x,
                         init_ints(f.g, "pads", 8, (const int64_t[]){ 0, 1, 0, 0, 0, 0, 0, 0 }));
    output(f.g, out(node(f.g, "Conv", "Y", 2, out(pad), init_random(&f, f.g, "W", 4, wd, -1, 1))));
    ck_assert_int_eq(run(&f, "fold-pad(explain=true)"), MOF_UNCHANGED);
    assert_note(&f, "node 'Y' (Conv): Pad -> Conv not fused, 2 of 2 nodes matched: at 'pad' "
                    "(Pad): Pad pads the channel axis");
    fixture_free(&f);
}
END_TEST

/* ------------------------------------------------------------------ fuse-softmax */

/* Y = Exp(X - ReduceMax(X, [axis])) / ReduceSum(that Exp, [axis]) over X [2, 3, 4]
 * (without the max when !with_max). The axes are attributes, or inputs where the
 * opset says so (ReduceSum from 13, ReduceMax from 18). */
static void softmax_model(struct fixture *f, int64_t opset, int64_t axis, bool with_max)
{
    int64_t xd[3] = { 2, 3, 4 };
    mof_value *x = input(f->g, "X", MOF_DTYPE_FLOAT, 3, xd), *e_in = x;
    if (with_max) {
        mof_node *rm = opset >= 18 ? node(f->g, "ReduceMax", "max", 2, x,
                                          init_ints(f->g, "max_axes", 1, &axis))
                                   : node(f->g, "ReduceMax", "max", 1, x);
        if (opset < 18)
            set_ints(rm, "axes", 1, &axis);
        e_in = out(node(f->g, "Sub", "shifted", 2, x, out(rm)));
    }
    mof_node *e = node(f->g, "Exp", "e", 1, e_in);
    mof_node *rs = opset >= 13 ? node(f->g, "ReduceSum", "sum", 2, out(e),
                                      init_ints(f->g, "sum_axes", 1, &axis))
                               : node(f->g, "ReduceSum", "sum", 1, out(e));
    if (opset < 13)
        set_ints(rs, "axes", 1, &axis);
    typed_output(f->g, out(node(f->g, "Div", "Y", 2, out(e), out(rs))), 3, xd);
}

START_TEST(softmax_decomposed_any_axis_at_opset_13)
{
    static const int64_t opsets[] = { 13, 18 };
    for (size_t i = 0; i < 2; i++) {
        struct fixture f;
        fixture_init(&f, opsets[i]);
        softmax_model(&f, opsets[i], 1, true);
        reload(&f);
        snapshot(&f);
        ck_assert_int_eq(run(&f, "fuse-softmax"), MOF_OK);
        ck_assert_int_eq(stat_of(&f, "softmax-decomposed"), 1);
        ck_assert_uint_eq(mof_graph_n_nodes(f.g), 1);
        mof_node *s = the_op(f.g, "Softmax");
        ck_assert_str_eq(mof_node_domain(s), "");
        ck_assert_int_eq(mof_node_attr_int(s, "axis", 99), 1);
        ck_assert_str_eq(mof_value_name(mof_node_input(s, 0)), "X");
        ck_assert_str_eq(mof_value_name(out(s)), "Y");
        ck_assert(has_origin(s, "max") && has_origin(s, "shifted") && has_origin(s, "e") &&
                  has_origin(s, "sum") && has_origin(s, "Y"));
        check_outputs_kept(&f);
        check_equivalent(&f);
        fixture_free(&f);
    }
}
END_TEST

START_TEST(softmax_without_max_last_axis_before_opset_13)
{
    struct fixture f;
    fixture_init(&f, 11);
    softmax_model(&f, 11, -1, false);
    snapshot(&f);
    ck_assert_int_eq(run(&f, "fuse-softmax"), MOF_OK);
    ck_assert_uint_eq(mof_graph_n_nodes(f.g), 1);
    mof_node *s = the_op(f.g, "Softmax");
    ck_assert_int_eq(mof_node_attr_int(s, "axis", 99), 2);
    ck_assert_str_eq(mof_value_name(mof_node_input(s, 0)), "X");
    check_outputs_kept(&f);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(softmax_max_with_other_use_stays)
{
    /* The max is also a graph output: the Softmax reads the Sub's result. */
    struct fixture f;
    fixture_init(&f, 13);
    softmax_model(&f, 13, 2, true);
    for (mof_node *n = mof_graph_first_node(f.g); n; n = mof_node_next(n))
        if (!strcmp(mof_node_name(n), "max"))
            output(f.g, out(n));
    snapshot(&f);
    ck_assert_int_eq(run(&f, "fuse-softmax"), MOF_OK);
    ck_assert_uint_eq(mof_graph_n_nodes(f.g), 3);
    mof_node *s = the_op(f.g, "Softmax");
    ck_assert_str_eq(mof_value_name(mof_node_input(s, 0)), "shifted");
    ck_assert_int_eq(mof_node_attr_int(s, "axis", 99), 2);
    check_outputs_kept(&f);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(softmax_transposed_as_pytorch_exports_it)
{
    struct fixture f;
    fixture_init(&f, 13);
    int64_t xd[3] = { 2, 3, 4 }, yd[3] = { 2, 3, 4 };
    mof_value *x = input(f.g, "X", MOF_DTYPE_FLOAT, 3, xd);
    mof_node *t1 = node(f.g, "Transpose", "t1", 1, x);
    set_ints(t1, "perm", 3, (const int64_t[]){ 1, 2, 0 });
    mof_node *sm = node(f.g, "Softmax", "sm", 1, out(t1));
    ck_assert_int_eq(mof_node_set_attr_int(sm, "axis", 2), MOF_OK);
    mof_node *t2 = node(f.g, "Transpose", "Y", 1, out(sm));
    set_ints(t2, "perm", 3, (const int64_t[]){ 2, 0, 1 });
    typed_output(f.g, out(t2), 3, yd);
    reload(&f);
    snapshot(&f);
    ck_assert_int_eq(run(&f, "fuse-softmax"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "softmax-transposed"), 1);
    ck_assert_uint_eq(mof_graph_n_nodes(f.g), 1);
    mof_node *s = the_op(f.g, "Softmax");
    ck_assert_int_eq(mof_node_attr_int(s, "axis", 99), 0);
    ck_assert_str_eq(mof_value_name(mof_node_input(s, 0)), "X");
    ck_assert_str_eq(mof_value_name(out(s)), "Y");
    ck_assert(has_origin(s, "t1") && has_origin(s, "sm") && has_origin(s, "Y"));
    check_outputs_kept(&f);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(softmax_near_misses)
{
    /* Before opset 13 a reduction over a middle axis is not a Softmax. */
    struct fixture f;
    fixture_init(&f, 11);
    softmax_model(&f, 11, 1, true);
    ck_assert_int_eq(run(&f, "fuse-softmax(explain=true)"), MOF_UNCHANGED);
    ck_assert_int_eq(stat_of(&f, "near-misses"), 1);
    assert_note(&f, "node 'Y' (Div): Exp / ReduceSum (softmax) not fused");
    assert_note(&f, "the reduced axis 1 is not the last one");
    fixture_free(&f);

    /* The Exp's output is read outside the pattern. */
    fixture_init(&f, 13);
    softmax_model(&f, 13, 1, false);
    for (mof_node *n = mof_graph_first_node(f.g); n; n = mof_node_next(n))
        if (!strcmp(mof_node_name(n), "e"))
            output(f.g, out(n));
    ck_assert_int_eq(run(&f, "fuse-softmax(explain=true)"), MOF_UNCHANGED);
    assert_note(&f, "Exp output 'e' is a graph output");
    fixture_free(&f);

    /* The second Transpose does not undo the first. */
    fixture_init(&f, 13);
    int64_t xd[3] = { 2, 3, 4 };
    mof_value *x = input(f.g, "X", MOF_DTYPE_FLOAT, 3, xd);
    mof_node *t1 = node(f.g, "Transpose", "t1", 1, x);
    set_ints(t1, "perm", 3, (const int64_t[]){ 1, 2, 0 });
    mof_node *sm = node(f.g, "Softmax", "sm", 1, out(t1));
    mof_node *t2 = node(f.g, "Transpose", "Y", 1, out(sm));
    set_ints(t2, "perm", 3, (const int64_t[]){ 1, 2, 0 });
    output(f.g, out(t2));
    ck_assert_int_eq(run(&f, "fuse-softmax(explain=true)"), MOF_UNCHANGED);
    assert_note(&f, "node 'Y' (Transpose): Transpose -> Softmax -> Transpose not fused, 3 of "
                    "3 nodes matched: the second Transpose does not undo the first");
    fixture_free(&f);
}
END_TEST

/* ------------------------------------------------------------------ every pass */

START_TEST(nothing_to_do_is_unchanged)
{
    static const char *const passes[] = {
        "fuse-conv-bn", "fuse-bias", "fuse-matmul-add", "fuse-activation",
        "fuse-gelu", "fuse-layernorm", "fuse-attention", "fold-pad", "fuse-softmax",
    };
    struct fixture f;
    fixture_init(&f, 13);
    int64_t xd[2] = { 2, 3 };
    mof_value *x = input(f.g, "X", MOF_DTYPE_FLOAT, 2, xd);
    mof_node *t = node(f.g, "Tanh", "t", 1, x);
    output(f.g, out(node(f.g, "Mul", "Y", 2, out(t), x)));
    for (size_t i = 0; i < sizeof passes / sizeof passes[0]; i++) {
        ck_assert_int_eq(run(&f, passes[i]), MOF_UNCHANGED);
        ck_assert_int_eq(stat_of(&f, "near-misses"), 0);
    }
    ck_assert_int_eq(mof_model_opset(f.model, "mof"), -1);
    fixture_free(&f);
}
END_TEST

START_TEST(whole_pipeline_saves_and_reloads)
{
    /* Conv -> BN -> Add(bias) -> Relu through every pass, written to ONNX and read
     * back: the "mof" import and the fused op survive the round trip. */
    struct fixture f;
    fixture_init(&f, 13);
    conv_bn_model(&f, "Conv", true, 1);
    snapshot(&f);
    ck_assert_int_eq(run(&f, "fold-pad,fuse-conv-bn,fuse-bias,fuse-activation"), MOF_OK);
    ck_assert_uint_eq(mof_graph_n_nodes(f.g), 1);
    void *buf = NULL;
    size_t size = 0;
    ck_assert_status(f.ctx, mof_model_save_buffer(f.model, &buf, &size), MOF_OK);
    mof_model *back = mof_model_load_buffer(f.ctx, buf, size, "fused.onnx", NULL);
    free(buf);
    ck_assert_ptr_nonnull(back);
    mof_model_destroy(f.model);
    f.model = back;
    f.g = mof_model_graph(back);
    ck_assert_int_eq(mof_model_opset(back, "mof"), 1);
    ck_assert_str_eq(mof_node_domain(the_op(f.g, "FusedConv")), "mof");
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

/* ------------------------------------------------------------------ the mof operators */

START_TEST(mof_ops_shape_inference)
{
    struct fixture f;
    fixture_init(&f, 13);
    ck_assert_int_eq(mof_model_set_opset(f.model, "mof", 1), MOF_OK);
    int64_t xd[4] = { 1, 2, 6, 6 }, wd[4] = { 4, 2, 3, 3 }, qd[3] = { 2, 5, 8 }, kd[3] = { 2, 8, 7 };
    int64_t vd[3] = { 2, 7, 3 };
    mof_value *x = input(f.g, "X", MOF_DTYPE_FLOAT, 4, xd);
    mof_value *q = input(f.g, "Q", MOF_DTYPE_FLOAT, 3, qd);
    mof_value *kt = input(f.g, "KT", MOF_DTYPE_FLOAT, 3, kd);
    mof_value *v = input(f.g, "V", MOF_DTYPE_FLOAT, 3, vd);
    mof_value *w = init_random(&f, f.g, "W", 4, wd, -1, 1);
    mof_value *in_conv[2] = { x, w }, *in_attn[3] = { q, kt, v }, *in_gelu[1] = { q };
    mof_node *conv = mof_graph_add_node(f.g, MOF_INSERT_AFTER, NULL, "FusedConv", "mof", "fc",
                                        2, in_conv, 1);
    ck_assert_ptr_nonnull(conv);
    set_ints(conv, "strides", 2, (const int64_t[]){ 2, 2 });
    ck_assert_int_eq(mof_node_set_attr_string(conv, "activation", "Relu"), MOF_OK);
    mof_node *attn = mof_graph_add_node(f.g, MOF_INSERT_AFTER, NULL, "Attention", "mof", "att",
                                        3, in_attn, 1);
    mof_node *gelu = mof_graph_add_node(f.g, MOF_INSERT_AFTER, NULL, "Gelu", "mof", "gelu",
                                        1, in_gelu, 1);
    ck_assert_ptr_nonnull(attn);
    ck_assert_ptr_nonnull(gelu);
    output(f.g, out(conv));
    output(f.g, out(attn));
    output(f.g, out(gelu));
    ck_assert_status(f.ctx, mof_infer_shapes(f.ctx, f.model), MOF_OK);
    ck_assert_int_eq(mof_value_rank(out(conv)), 4);
    ck_assert_int_eq(mof_value_dim(out(conv), 1), 4);
    ck_assert_int_eq(mof_value_dim(out(conv), 2), 2);
    ck_assert_int_eq(mof_value_rank(out(attn)), 3);
    ck_assert_int_eq(mof_value_dim(out(attn), 1), 5);
    ck_assert_int_eq(mof_value_dim(out(attn), 2), 3);
    ck_assert_int_eq(mof_value_dim(out(gelu), 2), 8);
    ck_assert(mof_interp_supports("mof", "FusedMatMul", 1));
    ck_assert(mof_interp_supports("mof", "LayerNormalization", 1));
    ck_assert(!mof_interp_supports("mof", "FusedConv", 0));
    fixture_free(&f);
}
END_TEST

START_TEST(mof_op_unknown_activation_is_an_error)
{
    struct fixture f;
    fixture_init(&f, 13);
    ck_assert_int_eq(mof_model_set_opset(f.model, "mof", 1), MOF_OK);
    int64_t ad[2] = { 2, 3 }, bd[2] = { 3, 2 };
    mof_value *in[2] = { input(f.g, "A", MOF_DTYPE_FLOAT, 2, ad),
                         init_random(&f, f.g, "B", 2, bd, -1, 1) };
    mof_node *n = mof_graph_add_node(f.g, MOF_INSERT_AFTER, NULL, "FusedMatMul", "mof", "fm", 2,
                                     in, 1);
    ck_assert_ptr_nonnull(n);
    ck_assert_int_eq(mof_node_set_attr_string(n, "activation", "Swish2"), MOF_OK);
    output(f.g, out(n));
    mof_interp *it = mof_interp_create(f.ctx, f.model);
    ck_assert_ptr_nonnull(it);
    uint64_t state = 1;
    mof_tensor *a = random_input(in[0], &state), *y = NULL;
    ck_assert_int_eq(mof_interp_run(it, 1, &a, 1, &y), MOF_ERR_INVALID_MODEL);
    assert_note(&f, "unknown activation 'Swish2'");
    mof_tensor_unref(a);
    mof_interp_destroy(it);
    fixture_free(&f);
}
END_TEST

static Suite *fusion_suite(void)
{
    Suite *s = suite_create("fusion");
    TCase *tc = tcase_create("conv-bn");
    tcase_add_test(tc, conv_bn_folds_into_weights_and_bias);
    tcase_add_test(tc, conv_bn_without_bias_grouped);
    tcase_add_test(tc, convtranspose_bn_folds_per_group);
    tcase_add_test(tc, gemm_bn_folds_columns);
    tcase_add_test(tc, conv_bn_near_misses);
    tcase_add_test(tc, near_misses_are_silent_without_explain);
    tcase_add_test(tc, conv_bn_in_subgraph);
    suite_add_tcase(s, tc);
    tc = tcase_create("bias");
    tcase_add_test(tc, conv_add_becomes_bias);
    tcase_add_test(tc, conv_add_of_existing_bias_and_scalar);
    tcase_add_test(tc, gemm_add_into_c);
    tcase_add_test(tc, bias_near_miss_spatial_constant);
    tcase_add_test(tc, matmul_add_becomes_gemm);
    tcase_add_test(tc, matmul_add_rank_3);
    tcase_add_test(tc, matmul_add_near_miss_rank_3);
    suite_add_tcase(s, tc);
    tc = tcase_create("activation");
    tcase_add_test(tc, conv_relu_becomes_fused_conv);
    tcase_add_test(tc, conv_clip_relu6_and_others);
    tcase_add_test(tc, clip_before_opset_11_uses_attributes);
    tcase_add_test(tc, gemm_and_matmul_activations);
    tcase_add_test(tc, conv_silu_becomes_fused_conv);
    tcase_add_test(tc, hardswish_as_exported_before_opset_14);
    tcase_add_test(tc, activation_near_misses);
    tcase_add_test(tc, activation_in_if_branches);
    suite_add_tcase(s, tc);
    tc = tcase_create("gelu");
    tcase_add_test(tc, gelu_erf_form_as_pytorch_exports_it);
    tcase_add_test(tc, gelu_erf_other_grouping_at_opset_20);
    tcase_add_test(tc, gelu_tanh_forms);
    tcase_add_test(tc, gelu_near_miss_wrong_constant_and_extra_use);
    suite_add_tcase(s, tc);
    tc = tcase_create("layernorm");
    tcase_add_test(tc, layernorm_opset_13_becomes_mof_op);
    tcase_add_test(tc, layernorm_opset_17_without_affine);
    tcase_add_test(tc, layernorm_near_miss_axes_differ);
    suite_add_tcase(s, tc);
    tc = tcase_create("attention");
    tcase_add_test(tc, attention_with_mask);
    tcase_add_test(tc, attention_without_mask);
    tcase_add_test(tc, attention_near_miss_cast);
    suite_add_tcase(s, tc);
    tc = tcase_create("pad");
    tcase_add_test(tc, pad_folds_into_conv_and_pools);
    tcase_add_test(tc, pad_near_miss_channel_axis);
    suite_add_tcase(s, tc);
    tc = tcase_create("softmax");
    tcase_add_test(tc, softmax_decomposed_any_axis_at_opset_13);
    tcase_add_test(tc, softmax_without_max_last_axis_before_opset_13);
    tcase_add_test(tc, softmax_max_with_other_use_stays);
    tcase_add_test(tc, softmax_transposed_as_pytorch_exports_it);
    tcase_add_test(tc, softmax_near_misses);
    suite_add_tcase(s, tc);
    tc = tcase_create("all");
    tcase_add_test(tc, nothing_to_do_is_unchanged);
    tcase_add_test(tc, whole_pipeline_saves_and_reloads);
    tcase_add_test(tc, mof_ops_shape_inference);
    tcase_add_test(tc, mof_op_unknown_activation_is_an_error);
    suite_add_tcase(s, tc);
    return s;
}

MOF_TEST_MAIN(fusion_suite)
