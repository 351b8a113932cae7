/* test_fold: the cleanup plugin's fold-constants and infer-shapes passes.
 *
 * Each test builds a small model with the SDK (mof_model_create, mof_graph_add_input,
 * mof_graph_add_node, ...), runs a one-line pipeline over it as `mof run --passes` does
 * (the plugin is compiled in, MOF_PLUGIN_STATIC=cleanup), and checks the result twice:
 * its structure (which nodes and constants remain, under which names), and its
 * numbers: the model before and after is run by the reference interpreter on the same
 * random inputs and the outputs must agree. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mof/mof.h>

#include "testutil.h"
#include "passtest.h"

const mof_plugin_desc *mof_plugin_entry_cleanup(void);

/* ------------------------------------------------------------------ building models */

static void fixture_init(struct fixture *f)
{
    passtest_fixture_init(f, mof_plugin_entry_cleanup);
}

/* A graph input; dims < 0 take the symbol of the same index in syms (may be NULL). */
static mof_value *input(mof_graph *g, const char *name, mof_dtype dtype, int rank,
                        const int64_t *dims, const char *const *syms)
{
    mof_value *v = mof_graph_add_input(g, name, dtype, rank, dims, syms);
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

static mof_value *init_ints(mof_graph *g, const char *name, size_t rank, const int64_t *dims,
                            const int64_t *data)
{
    mof_tensor *t = mof_tensor_create_from(MOF_DTYPE_INT64, rank, dims, data);
    ck_assert_ptr_nonnull(t);
    mof_value *v = mof_graph_add_initializer(g, name, t);
    ck_assert_ptr_nonnull(v);
    return v;
}

/* A 1-D int64 initializer. */
static mof_value *init_vec(mof_graph *g, const char *name, size_t n, const int64_t *data)
{
    int64_t dim = (int64_t)n;
    return init_ints(g, name, 1, &dim, data);
}

/* Adds a node with up to three inputs and one output named like the node. */
static mof_node *node(mof_graph *g, const char *op, const char *name, size_t n_in,
                      mof_value *a, mof_value *b, mof_value *c)
{
    mof_value *in[3] = { a, b, c };
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

/* ------------------------------------------------------------------ running passes */

/* Runs a one-line pass list (with an optional input-shape pin); returns the status of
 * the run, and leaves the report in f->report. */
static mof_status try_run(struct fixture *f, const char *passes, const char *pin)
{
    mof_pipeline *p = mof_pipeline_parse_list(f->ctx, passes);
    if (!p)
        mof_test_print_diags(f->ctx);
    ck_assert_ptr_nonnull(p);
    if (pin)
        ck_assert_status(f->ctx, mof_pipeline_set_input_shape(p, pin), MOF_OK);
    mof_run_options opts;
    mof_run_options_init(&opts);
    opts.verify_each = true;
    opts.record_metadata = false;
    mof_run_report_destroy(f->report);
    f->report = NULL;
    mof_status st = mof_pipeline_run(p, f->model, &opts, &f->report);
    mof_pipeline_destroy(p);
    ck_assert_ptr_nonnull(f->report);
    f->g = mof_model_graph(f->model);
    ck_assert_status(f->ctx, mof_graph_verify(f->ctx, f->g), MOF_OK);
    return st;
}

/* Runs passes that must succeed; returns the status of the last pass. */
static mof_status run_pin(struct fixture *f, const char *passes, const char *pin)
{
    mof_status st = try_run(f, passes, pin);
    if (st < 0)
        mof_test_print_diags(f->ctx);
    ck_assert_int_ge(st, 0);
    for (size_t i = mof_run_report_n_steps(f->report); i-- > 0;) {
        const mof_step_report *s = mof_run_report_step(f->report, i);
        if (!s->is_backend)
            return s->status;
    }
    return MOF_ERR_INTERNAL;
}

static mof_status run(struct fixture *f, const char *passes)
{
    return run_pin(f, passes, NULL);
}

/* The float data of a constant value (initializer), asserting its element count. */
static const float *const_floats(const mof_value *v, int64_t numel)
{
    ck_assert(mof_value_is_constant(v));
    const mof_tensor *t = mof_value_tensor(v);
    ck_assert_int_eq(mof_tensor_dtype(t), MOF_DTYPE_FLOAT);
    ck_assert_int_eq(mof_tensor_numel(t), numel);
    return mof_tensor_data(t);
}

/* ------------------------------------------------------------------ numeric equivalence */

/* A random tensor for graph input v; unknown dims are 3. */
static mof_tensor *random_input(const mof_value *v, uint64_t *state)
{
    int rank = mof_value_rank(v);
    ck_assert_int_ge(rank, 0);
    int64_t dims[8];
    ck_assert_int_le(rank, 8);
    for (int i = 0; i < rank; i++) {
        int64_t d = mof_value_dim(v, (size_t)i);
        dims[i] = d >= 0 ? d : 3;
    }
    mof_tensor *t = mof_tensor_create(mof_value_dtype(v), (size_t)rank, dims);
    ck_assert_ptr_nonnull(t);
    void *data = mof_tensor_data_mut(t);
    for (int64_t i = 0; i < mof_tensor_numel(t); i++) {
        uint64_t r = rng_next(state);
        switch (mof_tensor_dtype(t)) {
        case MOF_DTYPE_FLOAT: ((float *)data)[i] = (float)(r % 20001) / 5000.0f - 2.0f; break;
        case MOF_DTYPE_INT64: ((int64_t *)data)[i] = (int64_t)(r % 7) - 3; break;
        case MOF_DTYPE_BOOL: ((uint8_t *)data)[i] = r & 1; break;
        default: ck_abort_msg("no random data for this input type");
        }
    }
    return t;
}

/* Asserts that an output has the same type and shape before and after, and floats
 * within 1e-6 relative (other types: equal). */
static void compare_output(size_t i, const char *name, const mof_tensor *a_t,
                           const mof_tensor *b_t, const void *arg)
{
    (void)name;
    (void)arg;
    ck_assert_int_eq(mof_tensor_dtype(a_t), mof_tensor_dtype(b_t));
    ck_assert_uint_eq(mof_tensor_rank(a_t), mof_tensor_rank(b_t));
    for (size_t d = 0; d < mof_tensor_rank(a_t); d++)
        ck_assert_int_eq(mof_tensor_dims(a_t)[d], mof_tensor_dims(b_t)[d]);
    if (mof_tensor_dtype(a_t) == MOF_DTYPE_FLOAT) {
        const float *a = mof_tensor_data(a_t), *b = mof_tensor_data(b_t);
        for (int64_t k = 0; k < mof_tensor_numel(a_t); k++)
            ck_assert_msg(fabsf(a[k] - b[k]) <= 1e-6f * (1.0f + fabsf(a[k])),
                          "output %zu element %lld: %g before, %g after", i, (long long)k,
                          (double)a[k], (double)b[k]);
    } else {
        ck_assert(mof_tensor_equal(a_t, b_t));
    }
}

/* Runs both models on the same inputs (overrides[i], when non-NULL, replaces the
 * random tensor of input i) and asserts that every output agrees. */
static void check_equivalent_with(struct fixture *f, uint64_t seed, mof_tensor *const *overrides)
{
    passtest_check_equivalent(f, seed, overrides, random_input, compare_output, NULL);
}

static void check_equivalent(struct fixture *f)
{
    for (uint64_t seed = 1; seed <= 3; seed++)
        check_equivalent_with(f, seed, NULL);
}

/* ------------------------------------------------------------------ fold-constants */

START_TEST(fold_add_of_initializers)
{
    /* Y = X * (A + B): A + B becomes one initializer named C; A and B go. */
    struct fixture f;
    fixture_init(&f);
    int64_t d3 = 3;
    mof_value *x = input(f.g, "X", MOF_DTYPE_FLOAT, 1, &d3, NULL);
    mof_value *a = init_floats(f.g, "A", 1, &d3, (const float[]){ 1, 2, 3 });
    mof_value *b = init_floats(f.g, "B", 1, &d3, (const float[]){ 10, 20, 30 });
    mof_node *add = node(f.g, "Add", "C", 2, a, b, NULL);
    mof_node *mul = node(f.g, "Mul", "Y", 2, x, out(add), NULL);
    output(f.g, out(mul));
    snapshot(&f);

    ck_assert_int_eq(run(&f, "fold-constants"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "nodes-folded"), 1);
    ck_assert_int_eq(stat_of(&f, "bytes-added"), 12);
    ck_assert_int_eq(stat_of(&f, "constants-removed"), 2);
    ck_assert_uint_eq(mof_graph_n_nodes(f.g), 1);
    ck_assert_uint_eq(count_op(f.g, "Add"), 0);
    ck_assert_uint_eq(mof_graph_n_initializers(f.g), 1);
    mof_value *c = mof_node_input(find_node(f.g, "Y"), 1);
    ck_assert_str_eq(mof_value_name(c), "C");
    const float *cv = const_floats(c, 3);
    ck_assert(cv[0] == 11 && cv[1] == 22 && cv[2] == 33);
    check_equivalent(&f);

    ck_assert_int_eq(run(&f, "fold-constants"), MOF_UNCHANGED);
    fixture_free(&f);
}
END_TEST

START_TEST(fold_constant_chain)
{
    /* K = Constant(value), S = Constant(value_ints): M = K * W, N = Neg(M),
     * R = Reshape(N, S), Y = X + R. Everything but the final Add folds in one run. */
    struct fixture f;
    fixture_init(&f);
    int64_t d22[2] = { 2, 2 }, d4 = 4;
    mof_value *x = input(f.g, "X", MOF_DTYPE_FLOAT, 1, &d4, NULL);
    mof_value *w = init_floats(f.g, "W", 2, d22, (const float[]){ 0.5f, 1, 2, 4 });
    mof_node *k = node(f.g, "Constant", "K", 0, NULL, NULL, NULL);
    mof_tensor *kt = mof_tensor_create_from(MOF_DTYPE_FLOAT, 2, d22, (const float[]){ 1, 2, 3, 4 });
    ck_assert_ptr_nonnull(kt);
    ck_assert_int_eq(mof_node_set_attr_tensor(k, "value", kt), MOF_OK);
    mof_node *s = node(f.g, "Constant", "S", 0, NULL, NULL, NULL);
    ck_assert_int_eq(mof_node_set_attr_ints(s, "value_ints", 1, &d4), MOF_OK);
    mof_node *m = node(f.g, "Mul", "M", 2, out(k), w, NULL);
    mof_node *neg = node(f.g, "Neg", "N", 1, out(m), NULL, NULL);
    mof_node *r = node(f.g, "Reshape", "R", 2, out(neg), out(s), NULL);
    mof_node *y = node(f.g, "Add", "Y", 2, x, out(r), NULL);
    output(f.g, out(y));
    snapshot(&f);

    ck_assert_int_eq(run(&f, "fold-constants"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "nodes-folded"), 3);
    ck_assert_int_eq(stat_of(&f, "constants-converted"), 2);
    /* K, S (as initializers by then) and W, then the intermediate M and N. */
    ck_assert_int_eq(stat_of(&f, "constants-removed"), 5);
    ck_assert_uint_eq(mof_graph_n_nodes(f.g), 1);
    ck_assert_uint_eq(mof_graph_n_initializers(f.g), 1);
    mof_value *rv = mof_node_input(find_node(f.g, "Y"), 1);
    ck_assert_str_eq(mof_value_name(rv), "R");
    ck_assert_int_eq(mof_value_rank(rv), 1);
    const float *v = const_floats(rv, 4);
    ck_assert(v[0] == -0.5f && v[1] == -2 && v[2] == -6 && v[3] == -16);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(fold_constant_nodes_become_initializers)
{
    /* Y = X * K with K a Constant: K becomes an initializer named K; a Constant that
     * is itself a graph output stays a node. With constants-as-initializers=false
     * both stay. */
    struct fixture f;
    fixture_init(&f);
    int64_t d2 = 2;
    mof_value *x = input(f.g, "X", MOF_DTYPE_FLOAT, 1, &d2, NULL);
    mof_node *k = node(f.g, "Constant", "K", 0, NULL, NULL, NULL);
    ck_assert_int_eq(mof_node_set_attr_floats(k, "value_floats", 2, (const float[]){ 3, 4 }),
                     MOF_OK);
    output(f.g, out(node(f.g, "Mul", "Y", 2, x, out(k), NULL)));
    mof_node *c = node(f.g, "Constant", "C", 0, NULL, NULL, NULL);
    ck_assert_int_eq(mof_node_set_attr_float(c, "value_float", 5), MOF_OK);
    output(f.g, out(c));
    snapshot(&f);

    ck_assert_int_eq(run(&f, "fold-constants(constants-as-initializers=false)"), MOF_UNCHANGED);
    ck_assert_uint_eq(count_op(f.g, "Constant"), 2);

    ck_assert_int_eq(run(&f, "fold-constants"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "constants-converted"), 1);
    ck_assert_int_eq(stat_of(&f, "nodes-folded"), 0);
    ck_assert_int_eq(stat_of(&f, "bytes-added"), 0);
    ck_assert_uint_eq(count_op(f.g, "Constant"), 1);
    ck_assert_ptr_nonnull(find_node(f.g, "C"));
    mof_value *kv = mof_node_input(find_node(f.g, "Y"), 1);
    ck_assert_str_eq(mof_value_name(kv), "K");
    const float *v = const_floats(kv, 2);
    ck_assert(v[0] == 3 && v[1] == 4);
    check_equivalent(&f);

    ck_assert_int_eq(run(&f, "fold-constants"), MOF_UNCHANGED);
    fixture_free(&f);
}
END_TEST

/* X[2,3,4] -> Relu -> R; Shape(R) -> Gather(0) -> Unsqueeze -> Concat(.., [-1]) ->
 * Reshape(R, ..) -> Y: the shape computation of an exported transformer. */
static void shape_chain(struct fixture *f)
{
    int64_t dims[3] = { 2, 3, 4 }, axes0 = 0, minus1 = -1;
    mof_value *x = input(f->g, "X", MOF_DTYPE_FLOAT, 3, dims, NULL);
    mof_value *idx = init_ints(f->g, "idx", 0, NULL, &axes0);
    mof_value *axes = init_vec(f->g, "axes", 1, &axes0);
    mof_value *rest = init_vec(f->g, "rest", 1, &minus1);
    mof_node *relu = node(f->g, "Relu", "R", 1, x, NULL, NULL);
    mof_node *shape = node(f->g, "Shape", "shape", 1, out(relu), NULL, NULL);
    mof_node *gather = node(f->g, "Gather", "gather", 2, out(shape), idx, NULL);
    mof_node *unsq = node(f->g, "Unsqueeze", "unsqueeze", 2, out(gather), axes, NULL);
    mof_node *concat = node(f->g, "Concat", "concat", 2, out(unsq), rest, NULL);
    ck_assert_int_eq(mof_node_set_attr_int(concat, "axis", 0), MOF_OK);
    mof_node *reshape = node(f->g, "Reshape", "Y", 2, out(relu), out(concat), NULL);
    output(f->g, out(reshape));
}

START_TEST(fold_shape_chain)
{
    struct fixture f;
    fixture_init(&f);
    shape_chain(&f);
    snapshot(&f);

    /* R has no type yet: without infer-shapes its Shape is not known. */
    ck_assert_int_eq(run(&f, "fold-constants"), MOF_UNCHANGED);
    ck_assert_uint_eq(count_op(f.g, "Shape"), 1);

    ck_assert_int_eq(run(&f, "infer-shapes,fold-constants,dead-code"), MOF_UNCHANGED);
    ck_assert_int_eq(stat_of(&f, "nodes-folded"), 4);
    ck_assert_uint_eq(mof_graph_n_nodes(f.g), 2);
    ck_assert_ptr_nonnull(find_node(f.g, "R"));
    mof_node *reshape = find_node(f.g, "Y");
    ck_assert_ptr_nonnull(reshape);
    mof_value *shape = mof_node_input(reshape, 1);
    ck_assert(mof_value_is_constant(shape));
    const mof_tensor *t = mof_value_tensor(shape);
    ck_assert_int_eq(mof_tensor_dtype(t), MOF_DTYPE_INT64);
    ck_assert_int_eq(mof_tensor_numel(t), 2);
    const int64_t *sv = mof_tensor_data(t);
    ck_assert_int_eq(sv[0], 2);
    ck_assert_int_eq(sv[1], -1);
    /* Only the new shape is left of the chain's constants. */
    ck_assert_uint_eq(mof_graph_n_initializers(f.g), 1);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(fold_shape_of_symbolic_dim_kept)
{
    /* Shape of [N,4] is not known; Size neither. Shape of [2,4] and its Size are, and
     * so is the last dim of [N,4]. */
    struct fixture f;
    fixture_init(&f);
    int64_t dyn[2] = { -1, 4 }, fixed[2] = { 2, 4 };
    const char *syms[2] = { "N", NULL };
    mof_value *x = input(f.g, "X", MOF_DTYPE_FLOAT, 2, dyn, syms);
    mof_value *z = input(f.g, "Z", MOF_DTYPE_FLOAT, 2, fixed, NULL);
    output(f.g, out(node(f.g, "Shape", "SX", 1, x, NULL, NULL)));
    output(f.g, out(node(f.g, "Size", "NX", 1, x, NULL, NULL)));
    mof_node *sz = node(f.g, "Size", "NZ", 1, z, NULL, NULL);
    mof_node *shz = node(f.g, "Shape", "SZ", 1, z, NULL, NULL);
    output(f.g, out(node(f.g, "Mul", "P", 2, out(sz), out(shz), NULL)));
    /* Gather(Shape(X), -1) is the known dim 4; Gather(Shape(X), 0) is N. */
    int64_t last = -1, first = 0;
    mof_node *sx2 = node(f.g, "Shape", "SX2", 1, x, NULL, NULL);
    mof_node *g_last = node(f.g, "Gather", "G_last", 2, out(sx2),
                            init_ints(f.g, "last", 0, NULL, &last), NULL);
    mof_node *g_first = node(f.g, "Gather", "G_first", 2, out(sx2),
                             init_vec(f.g, "first", 1, &first), NULL);
    output(f.g, out(node(f.g, "Mul", "Q", 2, out(g_last), out(g_first), NULL)));
    snapshot(&f);

    ck_assert_int_eq(run(&f, "fold-constants"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "nodes-folded"), 4);
    ck_assert_uint_eq(count_op(f.g, "Shape"), 2);
    ck_assert_uint_eq(count_op(f.g, "Size"), 1);
    ck_assert_ptr_null(find_node(f.g, "G_last"));
    ck_assert_ptr_nonnull(find_node(f.g, "G_first"));
    const mof_value *four = mof_node_input(find_node(f.g, "Q"), 0);
    ck_assert(mof_value_is_constant(four));
    ck_assert_int_eq(*(const int64_t *)mof_tensor_data(mof_value_tensor(four)), 4);
    /* P = 8 * [2,4] is a graph output: a Constant node now computes it, under its name. */
    mof_value *p = mof_graph_output(f.g, 2);
    ck_assert_str_eq(mof_value_name(p), "P");
    mof_node *c = mof_value_producer(p, NULL);
    ck_assert_str_eq(mof_node_op_type(c), "Constant");
    const int64_t *pv = mof_tensor_data(mof_node_attr_tensor(c, "value"));
    ck_assert_int_eq(pv[0], 16);
    ck_assert_int_eq(pv[1], 32);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(fold_size_cap)
{
    /* A ConstantOfShape of 256 MiB and an Expand to 64 MiB stay; a small
     * ConstantOfShape folds; a Transpose of a 1.4 MB weight folds (the output is no
     * larger than its input). */
    struct fixture f;
    fixture_init(&f);
    int64_t one = 1, big_shape[3] = { 1024, 1024, 64 }, wide[2] = { 4096, 4096 };
    int64_t small_shape[2] = { 2, 3 }, wdims[2] = { 600, 600 }, three = 3;
    mof_value *x = input(f.g, "X", MOF_DTYPE_FLOAT, 1, &one, NULL);
    mof_value *x3 = input(f.g, "X3", MOF_DTYPE_FLOAT, 1, &three, NULL);
    mof_node *cos_big = node(f.g, "ConstantOfShape", "big", 1,
                             init_vec(f.g, "big_shape", 3, big_shape), NULL, NULL);
    output(f.g, out(node(f.g, "Add", "Y1", 2, x, out(cos_big), NULL)));
    mof_node *expand = node(f.g, "Expand", "wide", 2,
                            init_floats(f.g, "one", 1, &one, (const float[]){ 1 }),
                            init_vec(f.g, "wide_shape", 2, wide), NULL);
    output(f.g, out(node(f.g, "Add", "Y2", 2, x, out(expand), NULL)));
    mof_node *cos_small = node(f.g, "ConstantOfShape", "small", 1,
                               init_vec(f.g, "small_shape", 2, small_shape), NULL, NULL);
    output(f.g, out(node(f.g, "Add", "Y3", 2, x3, out(cos_small), NULL)));
    float *wdata = calloc(600 * 600, sizeof *wdata);
    ck_assert_ptr_nonnull(wdata);
    for (int i = 0; i < 600 * 600; i++)
        wdata[i] = (float)(i % 97);
    mof_value *w = init_floats(f.g, "W", 2, wdims, wdata);
    free(wdata);
    mof_node *tr = node(f.g, "Transpose", "WT", 1, w, NULL, NULL);
    mof_node *sum = node(f.g, "ReduceMax", "S", 1, out(tr), NULL, NULL);
    ck_assert_int_eq(mof_node_set_attr_ints(sum, "axes", 1, &one), MOF_OK);
    output(f.g, out(node(f.g, "Mul", "Y4", 2, x, out(sum), NULL)));

    ck_assert_int_eq(run(&f, "fold-constants"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "nodes-skipped-size"), 2);
    ck_assert_ptr_nonnull(find_node(f.g, "big"));
    ck_assert_ptr_nonnull(find_node(f.g, "wide"));
    ck_assert_ptr_null(find_node(f.g, "small"));
    ck_assert_ptr_null(find_node(f.g, "WT"));
    ck_assert_ptr_null(find_node(f.g, "S"));
    ck_assert_int_eq(stat_of(&f, "nodes-folded"), 3);
    ck_assert_int_le(stat_of(&f, "bytes-added"), 600 * 600 * 4 + 600 * 4 + 24);
    fixture_free(&f);
}
END_TEST

START_TEST(fold_max_bytes_param)
{
    /* ConstantOfShape [2,3] writes 24 bytes from a 16-byte shape: over max-bytes=16. */
    struct fixture f;
    fixture_init(&f);
    int64_t three = 3, shape[2] = { 2, 3 };
    mof_value *x = input(f.g, "X", MOF_DTYPE_FLOAT, 1, &three, NULL);
    mof_node *c = node(f.g, "ConstantOfShape", "C", 1, init_vec(f.g, "shape", 2, shape), NULL,
                       NULL);
    output(f.g, out(node(f.g, "Add", "Y", 2, x, out(c), NULL)));
    ck_assert_int_eq(run(&f, "fold-constants(max-bytes=16)"), MOF_UNCHANGED);
    ck_assert_int_eq(stat_of(&f, "nodes-skipped-size"), 1);
    ck_assert_int_eq(run(&f, "fold-constants(max-bytes=24)"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "nodes-folded"), 1);
    fixture_free(&f);
}
END_TEST

START_TEST(fold_random_never)
{
    struct fixture f;
    fixture_init(&f);
    int64_t d22[2] = { 2, 2 };
    mof_value *b = init_floats(f.g, "B", 2, d22, (const float[]){ 1, 2, 3, 4 });
    mof_node *rn = node(f.g, "RandomNormal", "rn", 0, NULL, NULL, NULL);
    ck_assert_int_eq(mof_node_set_attr_ints(rn, "shape", 2, d22), MOF_OK);
    output(f.g, out(node(f.g, "Add", "Y", 2, out(rn), b, NULL)));
    mof_node *ru = node(f.g, "RandomUniformLike", "ru", 1, b, NULL, NULL);
    output(f.g, out(node(f.g, "Mul", "Z", 2, out(ru), b, NULL)));

    ck_assert_int_eq(run(&f, "fold-constants"), MOF_UNCHANGED);
    ck_assert_uint_eq(mof_graph_n_nodes(f.g), 4);
    ck_assert_ptr_nonnull(find_node(f.g, "rn"));
    ck_assert_ptr_nonnull(find_node(f.g, "ru"));
    ck_assert_ptr_nonnull(find_node(f.g, "Y"));
    fixture_free(&f);
}
END_TEST

START_TEST(fold_skips_unsupported_and_custom)
{
    /* An ONNX op the interpreter lacks is counted; a custom-domain op is not folded
     * (mof cannot know what it computes) and not counted. */
    static const char *const candidates[] = { "Det", "Softsign", "Softplus", "Shrink" };
    const char *op = NULL;
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0] && !op; i++)
        if (!mof_interp_supports("", candidates[i], 13))
            op = candidates[i];
    if (!op)
        return; /* the interpreter implements them all: nothing to test */
    struct fixture f;
    fixture_init(&f);
    int64_t d22[2] = { 2, 2 };
    mof_value *b = init_floats(f.g, "B", 2, d22, (const float[]){ 1, 2, 3, 4 });
    output(f.g, out(node(f.g, op, "U", 1, b, NULL, NULL)));
    mof_value *in[1] = { b };
    mof_node *custom = mof_graph_add_node(f.g, MOF_INSERT_AFTER, NULL, "Relu", "com.example",
                                          "custom", 1, in, 1);
    ck_assert_ptr_nonnull(custom);
    output(f.g, out(custom));

    ck_assert_int_eq(run(&f, "fold-constants"), MOF_UNCHANGED);
    ck_assert_int_eq(stat_of(&f, "nodes-skipped-unsupported"), 1);
    ck_assert_uint_eq(mof_graph_n_nodes(f.g), 2);
    fixture_free(&f);
}
END_TEST

START_TEST(fold_eval_failure_warns)
{
    /* Gather with an index out of range fails at run time; folding keeps the node
     * and says why, as a warning: the run is not an error. */
    struct fixture f;
    fixture_init(&f);
    int64_t d3 = 3, five = 5;
    mof_value *a = init_floats(f.g, "A", 1, &d3, (const float[]){ 1, 2, 3 });
    mof_node *gather = node(f.g, "Gather", "bad_gather", 2, a,
                            init_ints(f.g, "idx", 0, NULL, &five), NULL);
    output(f.g, out(gather));

    ck_assert_int_eq(run(&f, "fold-constants"), MOF_UNCHANGED);
    ck_assert_int_eq(stat_of(&f, "nodes-skipped-error"), 1);
    ck_assert_ptr_nonnull(find_node(f.g, "bad_gather"));
    ck_assert_uint_eq(mof_context_n_errors(f.ctx), 0);
    ck_assert_msg(mof_test_diag_contains(f.ctx, "warning"), "no warning");
    ck_assert_msg(mof_test_diag_contains(f.ctx, "bad_gather"), "the warning names no node");
    ck_assert_msg(mof_test_diag_contains(f.ctx, "not folded"), "the warning says no why");
    fixture_free(&f);
}
END_TEST

START_TEST(fold_graph_output_keeps_name)
{
    /* C = A + B is a graph output and also feeds Y = X * C. */
    struct fixture f;
    fixture_init(&f);
    int64_t d3 = 3;
    mof_value *x = input(f.g, "X", MOF_DTYPE_FLOAT, 1, &d3, NULL);
    mof_value *a = init_floats(f.g, "A", 1, &d3, (const float[]){ 1, 2, 3 });
    mof_value *b = init_floats(f.g, "B", 1, &d3, (const float[]){ 4, 5, 6 });
    mof_node *add = node(f.g, "Add", "C", 2, a, b, NULL);
    output(f.g, out(add));
    output(f.g, out(node(f.g, "Mul", "Y", 2, x, out(add), NULL)));
    reload(&f); /* loaded nodes remember their names as their origins */
    snapshot(&f);

    ck_assert_int_eq(run(&f, "fold-constants,dead-code"), MOF_UNCHANGED);
    ck_assert_int_eq(stat_of(&f, "nodes-folded"), 1);
    ck_assert_uint_eq(count_op(f.g, "Add"), 0);
    ck_assert_uint_eq(mof_graph_n_initializers(f.g), 0);
    mof_value *c = mof_graph_output(f.g, 0);
    ck_assert_str_eq(mof_value_name(c), "C");
    mof_node *producer = mof_value_producer(c, NULL);
    ck_assert_ptr_nonnull(producer);
    ck_assert_str_eq(mof_node_op_type(producer), "Constant");
    ck_assert_ptr_eq(mof_node_input(find_node(f.g, "Y"), 1), c);
    /* The new node remembers where it came from. */
    ck_assert_uint_eq(mof_node_n_origins(producer), 1);
    ck_assert_str_eq(mof_node_origin(producer, 0), "C");
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(fold_in_subgraphs)
{
    /* If(cond): then = A + B (outer initializers), else = K * A (K an outer Constant).
     * Both branches' nodes fold inside their subgraphs; the If stays. */
    struct fixture f;
    fixture_init(&f);
    int64_t d2 = 2;
    mof_value *cond = input(f.g, "cond", MOF_DTYPE_BOOL, 0, NULL, NULL);
    mof_value *x = input(f.g, "X", MOF_DTYPE_FLOAT, 1, &d2, NULL);
    mof_value *a = init_floats(f.g, "A", 1, &d2, (const float[]){ 1, 2 });
    mof_value *b = init_floats(f.g, "B", 1, &d2, (const float[]){ 3, 5 });
    mof_node *k = node(f.g, "Constant", "K", 0, NULL, NULL, NULL);
    mof_tensor *kt = mof_tensor_create_from(MOF_DTYPE_FLOAT, 1, &d2, (const float[]){ 7, 11 });
    ck_assert_ptr_nonnull(kt);
    ck_assert_int_eq(mof_node_set_attr_tensor(k, "value", kt), MOF_OK);
    mof_value *in[1] = { cond };
    mof_node *iff = mof_graph_add_node(f.g, MOF_INSERT_AFTER, NULL, "If", NULL, "if", 1, in, 1);
    ck_assert_ptr_nonnull(iff);
    mof_graph *then_g = mof_node_add_subgraph(iff, "then_branch", "then");
    mof_graph *else_g = mof_node_add_subgraph(iff, "else_branch", "else");
    ck_assert_ptr_nonnull(then_g);
    ck_assert_ptr_nonnull(else_g);
    /* Nodes of a subgraph read the enclosing graph's values by name (captures). */
    mof_node *tadd = node(then_g, "Add", "then_sum", 2, a, b, NULL);
    mof_node *tmul = node(then_g, "Mul", "then_out", 2, out(tadd), a, NULL);
    output(then_g, out(tmul));
    mof_node *emul = node(else_g, "Mul", "else_out", 2, out(k), a, NULL);
    output(else_g, out(emul));
    output(f.g, out(node(f.g, "Add", "Y", 2, x, out(iff), NULL)));
    snapshot(&f);

    ck_assert_int_eq(run(&f, "fold-constants"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "nodes-folded"), 3);
    mof_node *if2 = find_node(f.g, "if");
    ck_assert_ptr_nonnull(if2);
    then_g = mof_node_attr_graph(if2, "then_branch");
    else_g = mof_node_attr_graph(if2, "else_branch");
    ck_assert_uint_eq(count_op(then_g, "Add"), 0);
    ck_assert_uint_eq(count_op(then_g, "Mul"), 0);
    ck_assert_uint_eq(count_op(then_g, "Constant"), 1);
    ck_assert_str_eq(mof_value_name(mof_graph_output(then_g, 0)), "then_out");
    ck_assert_uint_eq(count_op(else_g, "Mul"), 0);
    ck_assert_str_eq(mof_value_name(mof_graph_output(else_g, 0)), "else_out");

    for (int c = 0; c <= 1; c++) {
        uint8_t v = (uint8_t)c;
        mof_tensor *ct = mof_tensor_create_from(MOF_DTYPE_BOOL, 0, NULL, &v);
        ck_assert_ptr_nonnull(ct);
        mof_tensor *overrides[2] = { ct, NULL };
        check_equivalent_with(&f, 7, overrides);
        mof_tensor_unref(ct);
    }

    /* Then the now unused outer constants go with dead-code. */
    ck_assert_int_eq(run(&f, "dead-code"), MOF_OK);
    ck_assert_ptr_null(find_node(f.g, "K"));
    ck_assert_uint_eq(mof_graph_n_initializers(f.g), 0);
    fixture_free(&f);
}
END_TEST

START_TEST(fold_then_save_and_reload)
{
    /* The folded model is still a valid ONNX model: saved and read back, it has the
     * same structure and computes the same. */
    struct fixture f;
    fixture_init(&f);
    shape_chain(&f);
    snapshot(&f);
    run(&f, "infer-shapes,fold-constants,dead-code");
    reload(&f);
    ck_assert_uint_eq(mof_graph_n_nodes(f.g), 2);
    ck_assert_uint_eq(count_op(f.g, "Shape"), 0);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

/* ------------------------------------------------------------------ infer-shapes */

/* X[N,3] -> MatMul(W[3,4]) -> M -> Relu -> Y (an output declared without a type). */
static void matmul_model(struct fixture *f)
{
    int64_t xd[2] = { -1, 3 }, wd[2] = { 3, 4 };
    const char *syms[2] = { "N", NULL };
    mof_value *x = input(f->g, "X", MOF_DTYPE_FLOAT, 2, xd, syms);
    float w[12];
    for (int i = 0; i < 12; i++)
        w[i] = (float)i / 4.0f - 1.0f;
    mof_value *wv = init_floats(f->g, "W", 2, wd, w);
    mof_node *mm = node(f->g, "MatMul", "M", 2, x, wv, NULL);
    mof_node *relu = node(f->g, "Relu", "Y", 1, out(mm), NULL, NULL);
    output(f->g, out(relu));
}

static void assert_type(const mof_value *v, mof_dtype dtype, int rank, const int64_t *dims,
                        const char *const *syms)
{
    ck_assert_msg(mof_value_has_type(v), "value '%s' has no type", mof_value_name(v));
    ck_assert_int_eq(mof_value_dtype(v), dtype);
    ck_assert_int_eq(mof_value_rank(v), rank);
    for (int i = 0; i < rank; i++) {
        ck_assert_int_eq(mof_value_dim(v, (size_t)i), dims[i]);
        const char *sym = mof_value_dim_symbol(v, (size_t)i);
        if (syms && syms[i])
            ck_assert_str_eq(sym ? sym : "(none)", syms[i]);
        else
            ck_assert_ptr_null(sym);
    }
}

START_TEST(infer_symbolic_batch)
{
    struct fixture f;
    fixture_init(&f);
    matmul_model(&f);
    ck_assert(!mof_value_has_type(mof_graph_find_value(f.g, "M")));

    ck_assert_int_eq(run(&f, "infer-shapes"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "values-typed"), 2);
    const int64_t dims[2] = { -1, 4 };
    const char *const syms[2] = { "N", NULL };
    assert_type(mof_graph_find_value(f.g, "M"), MOF_DTYPE_FLOAT, 2, dims, syms);
    assert_type(mof_graph_output(f.g, 0), MOF_DTYPE_FLOAT, 2, dims, syms);
    ck_assert_int_eq(run(&f, "infer-shapes"), MOF_UNCHANGED);
    fixture_free(&f);
}
END_TEST

START_TEST(infer_with_pinned_input)
{
    struct fixture f;
    fixture_init(&f);
    matmul_model(&f);
    ck_assert_int_eq(run_pin(&f, "infer-shapes", "X=5,3"), MOF_OK);
    const int64_t dims[2] = { 5, 4 };
    assert_type(mof_graph_find_value(f.g, "M"), MOF_DTYPE_FLOAT, 2, dims, NULL);
    assert_type(mof_graph_output(f.g, 0), MOF_DTYPE_FLOAT, 2, dims, NULL);
    fixture_free(&f);
}
END_TEST

START_TEST(infer_saved_as_value_info)
{
    /* What `mof run` writes: the intermediate M must be listed in graph.value_info with
     * its type, so that reading the saved model back knows it. */
    struct fixture f;
    fixture_init(&f);
    matmul_model(&f);
    run(&f, "infer-shapes");
    reload(&f);
    const int64_t dims[2] = { -1, 4 };
    const char *const syms[2] = { "N", NULL };
    assert_type(mof_graph_output(f.g, 0), MOF_DTYPE_FLOAT, 2, dims, syms);
    assert_type(mof_graph_find_value(f.g, "M"), MOF_DTYPE_FLOAT, 2, dims, syms);
    fixture_free(&f);
}
END_TEST

START_TEST(infer_contradiction_fails)
{
    /* Add of [2,3] and [4] cannot broadcast: the pass fails, naming the node, and the
     * model is left as it was. */
    struct fixture f;
    fixture_init(&f);
    int64_t xd[2] = { 2, 3 }, d4 = 4;
    mof_value *x = input(f.g, "X", MOF_DTYPE_FLOAT, 2, xd, NULL);
    mof_value *b = init_floats(f.g, "B", 1, &d4, (const float[]){ 1, 2, 3, 4 });
    mof_node *relu = node(f.g, "Relu", "R", 1, x, NULL, NULL);
    output(f.g, out(node(f.g, "Add", "bad_add", 2, out(relu), b, NULL)));

    ck_assert_int_lt(try_run(&f, "infer-shapes", NULL), 0);
    ck_assert_msg(mof_test_diag_contains(f.ctx, "bad_add"), "no diagnostic names the node");
    ck_assert_msg(mof_test_diag_contains(f.ctx, "infer-shapes"), "no diagnostic names the pass");
    ck_assert(!mof_value_has_type(mof_graph_find_value(f.g, "R")));
    fixture_free(&f);
}
END_TEST

static Suite *fold_suite(void)
{
    Suite *s = suite_create("fold");
    TCase *fold = tcase_create("fold-constants");
    tcase_set_timeout(fold, 60);
    tcase_add_test(fold, fold_add_of_initializers);
    tcase_add_test(fold, fold_constant_chain);
    tcase_add_test(fold, fold_constant_nodes_become_initializers);
    tcase_add_test(fold, fold_shape_chain);
    tcase_add_test(fold, fold_shape_of_symbolic_dim_kept);
    tcase_add_test(fold, fold_size_cap);
    tcase_add_test(fold, fold_max_bytes_param);
    tcase_add_test(fold, fold_random_never);
    tcase_add_test(fold, fold_skips_unsupported_and_custom);
    tcase_add_test(fold, fold_eval_failure_warns);
    tcase_add_test(fold, fold_graph_output_keeps_name);
    tcase_add_test(fold, fold_in_subgraphs);
    tcase_add_test(fold, fold_then_save_and_reload);
    suite_add_tcase(s, fold);

    TCase *infer = tcase_create("infer-shapes");
    tcase_add_test(infer, infer_symbolic_batch);
    tcase_add_test(infer, infer_with_pinned_input);
    tcase_add_test(infer, infer_saved_as_value_info);
    tcase_add_test(infer, infer_contradiction_fails);
    suite_add_tcase(s, infer);
    return s;
}

MOF_TEST_MAIN(fold_suite)
