/* test_layout: the layout plugin's passes, sink-transposes and to-nhwc.
 *
 * Each test builds a small model with the SDK, runs a one-line pipeline over it as
 * `mof run --passes` does (the plugin is compiled in, MOF_PLUGIN_STATIC=layout), and
 * checks the result twice: its structure (which Transposes remain, which axes and
 * constants the moved nodes got), and its numbers: the reference interpreter runs the
 * model before and after on the same seeded random inputs, and since both passes are
 * exact the outputs must be equal bit for bit. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mof/mof.h>

#include "testutil.h"
#include "passtest.h"

const mof_plugin_desc *mof_plugin_entry_layout(void);

/* NCHW -> NHWC and back. */
static const int64_t to_nhwc[4] = { 0, 2, 3, 1 };
static const int64_t to_nchw[4] = { 0, 3, 1, 2 };

/* ------------------------------------------------------------------ building models */

static void fixture_init(struct fixture *f)
{
    passtest_fixture_init(f, mof_plugin_entry_layout);
}

static mof_value *input(mof_graph *g, const char *name, int rank, const int64_t *dims)
{
    mof_value *v = mof_graph_add_input(g, name, MOF_DTYPE_FLOAT, rank, dims, NULL);
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
    return v;
}

/* A float initializer of the given shape holding 0.5, 1.5, 2.5, ... (minus an offset, so
 * that some are negative). */
static mof_value *init_ramp(mof_graph *g, const char *name, size_t rank, const int64_t *dims)
{
    int64_t n = 1;
    for (size_t i = 0; i < rank; i++)
        n *= dims[i];
    float *data = malloc((size_t)n * sizeof *data);
    ck_assert_ptr_nonnull(data);
    for (int64_t i = 0; i < n; i++)
        data[i] = 0.5f + (float)i - (float)n / 3.0f;
    mof_value *v = init_floats(g, name, rank, dims, data);
    free(data);
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

/* Adds a node with up to three inputs and n_out outputs. */
static mof_node *node_n(mof_graph *g, const char *op, const char *domain, const char *name,
                        size_t n_in, mof_value *a, mof_value *b, mof_value *c, size_t n_out)
{
    mof_value *in[3] = { a, b, c };
    mof_node *n = mof_graph_add_node(g, MOF_INSERT_AFTER, NULL, op, domain, name, n_in, in,
                                     n_out);
    ck_assert_ptr_nonnull(n);
    return n;
}

static mof_node *node(mof_graph *g, const char *op, const char *name, size_t n_in,
                      mof_value *a, mof_value *b, mof_value *c)
{
    return node_n(g, op, NULL, name, n_in, a, b, c, 1);
}

static mof_value *out(const mof_node *n)
{
    return mof_node_output(n, 0);
}

static mof_value *transpose(mof_graph *g, const char *name, mof_value *x, const int64_t *perm)
{
    mof_node *t = node(g, "Transpose", name, 1, x, NULL, NULL);
    ck_assert_int_eq(mof_node_set_attr_ints(t, "perm", 4, perm), MOF_OK);
    return out(t);
}

static void output(mof_graph *g, mof_value *v)
{
    ck_assert_int_eq(mof_graph_add_output(g, v), MOF_OK);
}

/* Types every value, as infer-shapes would (the cleanup plugin is not linked here). */
static void infer(struct fixture *f)
{
    mof_status st = mof_infer_shapes(f->ctx, f->model);
    if (st < 0)
        mof_test_print_diags(f->ctx);
    ck_assert_int_ge(st, 0);
}

/* ------------------------------------------------------------------ running passes */

/* Runs a one-line pass list that must succeed; returns the status of its last pass. */
static mof_status run(struct fixture *f, const char *passes)
{
    return passtest_run(f, passes);
}

/* The only node of that op type. */
static mof_node *only_node(const mof_graph *g, const char *op_type)
{
    mof_node *found = NULL;
    for (mof_node *it = mof_graph_first_node(g); it; it = mof_node_next(it)) {
        if (strcmp(mof_node_op_type(it), op_type) == 0) {
            ck_assert_msg(!found, "more than one %s node", op_type);
            found = it;
        }
    }
    ck_assert_msg(found != NULL, "no %s node", op_type);
    return found;
}

static void assert_ints(const int64_t *got, size_t n_got, const int64_t *want, size_t n_want)
{
    ck_assert_uint_eq(n_got, n_want);
    for (size_t i = 0; i < n_want; i++)
        ck_assert_int_eq(got[i], want[i]);
}

static void assert_attr_ints(const mof_node *n, const char *name, const int64_t *want,
                             size_t n_want)
{
    size_t count;
    const int64_t *got = mof_node_attr_ints(n, name, &count);
    assert_ints(got, count, want, n_want);
}

/* The constant tensor a node input reads. */
static const mof_tensor *input_tensor(const mof_node *n, size_t i)
{
    const mof_value *v = mof_node_input(n, i);
    ck_assert_ptr_nonnull(v);
    ck_assert(mof_value_is_constant(v));
    return mof_value_tensor(v);
}

/* ------------------------------------------------------------------ numeric equivalence */

/* A random tensor for graph input v (all its dims known). */
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
    mof_tensor *t = mof_tensor_create(MOF_DTYPE_FLOAT, (size_t)rank, dims);
    ck_assert_ptr_nonnull(t);
    float *data = mof_tensor_data_mut(t);
    for (int64_t i = 0; i < mof_tensor_numel(t); i++)
        data[i] = (float)(rng_next(state) % 20001) / 5000.0f - 2.0f;
    return t;
}

/* Asserts that an output is identical before and after: same type, shape and bytes. */
static void compare_output(size_t i, const char *name, const mof_tensor *a_t,
                           const mof_tensor *b_t, const void *arg)
{
    (void)name;
    (void)arg;
    ck_assert_uint_eq(mof_tensor_rank(a_t), mof_tensor_rank(b_t));
    for (size_t d = 0; d < mof_tensor_rank(a_t); d++)
        ck_assert_int_eq(mof_tensor_dims(a_t)[d], mof_tensor_dims(b_t)[d]);
    if (!mof_tensor_equal(a_t, b_t) && mof_tensor_dtype(a_t) == MOF_DTYPE_FLOAT) {
        const float *a = mof_tensor_data(a_t), *b = mof_tensor_data(b_t);
        for (int64_t k = 0; k < mof_tensor_numel(a_t); k++)
            ck_assert_msg(a[k] == b[k], "output %zu element %lld: %.9g before, %.9g after", i,
                          (long long)k, (double)a[k], (double)b[k]);
    }
    ck_assert(mof_tensor_equal(a_t, b_t));
}

/* Runs both models on the same random inputs (seeded) and asserts that every output is
 * identical: same type, shape and bytes. */
static void check_equivalent_seed(struct fixture *f, uint64_t seed)
{
    ck_assert_ptr_nonnull(f->before);
    ck_assert_uint_le(mof_graph_n_inputs(mof_model_graph(f->before)), 4);
    ck_assert_uint_le(mof_graph_n_outputs(mof_model_graph(f->before)), 4);
    passtest_check_equivalent(f, seed, NULL, random_input, compare_output, NULL);
}

static void check_equivalent(struct fixture *f)
{
    for (uint64_t seed = 1; seed <= 3; seed++)
        check_equivalent_seed(f, seed);
}

/* ------------------------------------------------------------------ sink-transposes */

START_TEST(sink_relu_pair_cancels)
{
    /* Y = Transpose(Relu(Transpose(X, to NHWC)), back): both Transposes go and the Relu
     * reads X and writes Y. */
    struct fixture f;
    fixture_init(&f);
    int64_t dx[4] = { 1, 3, 4, 5 };
    mof_value *x = input(f.g, "X", 4, dx);
    mof_value *t = transpose(f.g, "T", x, to_nhwc);
    mof_value *r = out(node(f.g, "Relu", "R", 1, t, NULL, NULL));
    output(f.g, transpose(f.g, "Y", r, to_nchw));
    snapshot(&f);

    ck_assert_int_eq(run(&f, "sink-transposes"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "transposes-removed"), 2);
    ck_assert_uint_eq(count_op(f.g, "Transpose"), 0);
    ck_assert_uint_eq(mof_graph_n_nodes(f.g), 1);
    mof_node *relu = only_node(f.g, "Relu");
    ck_assert_ptr_eq(mof_node_input(relu, 0), x);
    ck_assert_str_eq(mof_value_name(out(relu)), "Y");
    check_equivalent(&f);

    ck_assert_int_eq(run(&f, "sink-transposes"), MOF_UNCHANGED);
    fixture_free(&f);
}
END_TEST

START_TEST(sink_through_chain_with_constants)
{
    /* Transpose -> Add(B, a [3] vector along NHWC's channels) -> Mul(S, full NHWC rank)
     * -> Sigmoid -> Transpose back: the constants are permuted to NCHW ([1,3,1,1] and
     * [1,3,4,5]) and no Transpose remains. */
    struct fixture f;
    fixture_init(&f);
    int64_t dx[4] = { 1, 3, 4, 5 }, d3 = 3, ds[4] = { 1, 4, 5, 3 };
    mof_value *x = input(f.g, "X", 4, dx);
    mof_value *b = init_floats(f.g, "B", 1, &d3, (const float[]){ 0.25f, -1.0f, 3.0f });
    mof_value *s = init_ramp(f.g, "S", 4, ds);
    mof_value *t = transpose(f.g, "T", x, to_nhwc);
    mof_value *a = out(node(f.g, "Add", "A", 2, t, b, NULL));
    mof_value *m = out(node(f.g, "Mul", "M", 2, s, a, NULL));
    mof_value *sg = out(node(f.g, "Sigmoid", "G", 1, m, NULL, NULL));
    output(f.g, transpose(f.g, "Y", sg, to_nchw));
    snapshot(&f);

    ck_assert_int_eq(run(&f, "sink-transposes"), MOF_OK);
    ck_assert_uint_eq(count_op(f.g, "Transpose"), 0);
    ck_assert_int_eq(stat_of(&f, "transposes-removed"), 2);
    ck_assert_int_ge(stat_of(&f, "transposes-moved"), 1);
    mof_node *add = only_node(f.g, "Add");
    ck_assert_ptr_eq(mof_node_input(add, 0), x);
    const mof_tensor *bt = input_tensor(add, 1);
    assert_ints(mof_tensor_dims(bt), mof_tensor_rank(bt), (const int64_t[]){ 1, 3, 1, 1 }, 4);
    const float *bv = mof_tensor_data(bt);
    ck_assert(bv[0] == 0.25f && bv[1] == -1.0f && bv[2] == 3.0f);
    /* S[0, h, w, c] lands at [0, c, h, w]. */
    mof_node *mul = only_node(f.g, "Mul");
    const mof_tensor *st = input_tensor(mul, 0);
    assert_ints(mof_tensor_dims(st), mof_tensor_rank(st), dx, 4);
    const mof_value *s_before = mof_graph_find_value(mof_model_graph(f.before), "S");
    const float *sv = mof_tensor_data(st), *orig = mof_tensor_data(mof_value_tensor(s_before));
    for (int64_t c = 0; c < 3; c++)
        for (int64_t h = 0; h < 4; h++)
            for (int64_t w = 0; w < 5; w++)
                ck_assert(sv[(c * 4 + h) * 5 + w] == orig[(h * 5 + w) * 3 + c]);
    /* The constants the model no longer reads are gone. */
    ck_assert_uint_eq(mof_graph_n_initializers(f.g), 2);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(sink_add_of_two_transposed)
{
    /* Add(Transpose(X1), Transpose(X2)) -> Transpose back: all three go. */
    struct fixture f;
    fixture_init(&f);
    int64_t dx[4] = { 2, 3, 4, 5 };
    mof_value *x1 = input(f.g, "X1", 4, dx), *x2 = input(f.g, "X2", 4, dx);
    mof_value *a = out(node(f.g, "Add", "A", 2, transpose(f.g, "T1", x1, to_nhwc),
                            transpose(f.g, "T2", x2, to_nhwc), NULL));
    output(f.g, transpose(f.g, "Y", a, to_nchw));
    snapshot(&f);

    ck_assert_int_eq(run(&f, "sink-transposes"), MOF_OK);
    ck_assert_uint_eq(count_op(f.g, "Transpose"), 0);
    ck_assert_int_eq(stat_of(&f, "transposes-removed"), 3);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(sink_concat_axis_rewritten)
{
    /* Concat(Transpose(X1), Transpose(X2), axis=-1: NHWC channels) -> Transpose back
     * becomes Concat(X1, X2, axis=1). */
    struct fixture f;
    fixture_init(&f);
    int64_t d1[4] = { 1, 2, 4, 5 }, d2[4] = { 1, 3, 4, 5 };
    mof_value *x1 = input(f.g, "X1", 4, d1), *x2 = input(f.g, "X2", 4, d2);
    mof_node *cat = node(f.g, "Concat", "C", 2, transpose(f.g, "T1", x1, to_nhwc),
                         transpose(f.g, "T2", x2, to_nhwc), NULL);
    ck_assert_int_eq(mof_node_set_attr_int(cat, "axis", -1), MOF_OK);
    output(f.g, transpose(f.g, "Y", out(cat), to_nchw));
    snapshot(&f);

    ck_assert_int_eq(run(&f, "sink-transposes"), MOF_OK);
    ck_assert_uint_eq(count_op(f.g, "Transpose"), 0);
    cat = only_node(f.g, "Concat");
    ck_assert_int_eq(mof_node_attr_int(cat, "axis", 99), 1);
    ck_assert_ptr_eq(mof_node_input(cat, 0), x1);
    ck_assert_ptr_eq(mof_node_input(cat, 1), x2);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(sink_split_and_concat)
{
    /* Split(Transpose(X), axis=3) -> Relu, Neg -> Concat(axis=3) -> Transpose back: no
     * single node pays for a move (Split has two outputs, Concat two inputs), but the
     * four together remove both Transposes: a region move. */
    struct fixture f;
    fixture_init(&f);
    int64_t dx[4] = { 1, 4, 3, 2 };
    mof_value *x = input(f.g, "X", 4, dx);
    mof_node *split = node_n(f.g, "Split", NULL, "S", 1, transpose(f.g, "T", x, to_nhwc),
                             NULL, NULL, 2);
    ck_assert_int_eq(mof_node_set_attr_int(split, "axis", 3), MOF_OK);
    mof_value *r1 = out(node(f.g, "Relu", "R1", 1, mof_node_output(split, 0), NULL, NULL));
    mof_value *r2 = out(node(f.g, "Neg", "R2", 1, mof_node_output(split, 1), NULL, NULL));
    mof_node *cat = node(f.g, "Concat", "C", 2, r2, r1, NULL);
    ck_assert_int_eq(mof_node_set_attr_int(cat, "axis", 3), MOF_OK);
    output(f.g, transpose(f.g, "Y", out(cat), to_nchw));
    snapshot(&f);

    ck_assert_int_eq(run(&f, "sink-transposes"), MOF_OK);
    ck_assert_uint_eq(count_op(f.g, "Transpose"), 0);
    ck_assert_int_eq(mof_node_attr_int(only_node(f.g, "Split"), "axis", 99), 1);
    ck_assert_int_eq(mof_node_attr_int(only_node(f.g, "Concat"), "axis", 99), 1);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(sink_reduce_mean_axes)
{
    /* ReduceMean over NHWC's H and W (axes [1, 2]), keepdims=1, then back: the axes
     * become [2, 3]. Opset 13: axes is an attribute. */
    struct fixture f;
    fixture_init(&f);
    int64_t dx[4] = { 2, 3, 4, 5 };
    mof_value *x = input(f.g, "X", 4, dx);
    mof_node *rm = node(f.g, "ReduceMean", "M", 1, transpose(f.g, "T", x, to_nhwc), NULL,
                        NULL);
    ck_assert_int_eq(mof_node_set_attr_ints(rm, "axes", 2, (const int64_t[]){ 1, 2 }), MOF_OK);
    output(f.g, transpose(f.g, "Y", out(rm), to_nchw));
    snapshot(&f);

    ck_assert_int_eq(run(&f, "sink-transposes"), MOF_OK);
    ck_assert_uint_eq(count_op(f.g, "Transpose"), 0);
    rm = only_node(f.g, "ReduceMean");
    ck_assert_ptr_eq(mof_node_input(rm, 0), x);
    assert_attr_ints(rm, "axes", (const int64_t[]){ 2, 3 }, 2);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(sink_reduce_keepdims0_axes_input)
{
    /* Opset 18, axes as an input: ReduceMean(Transpose(X), [1, 2], keepdims=0) gives
     * [N, C] in either layout, so the Transpose simply goes and the axes input becomes
     * [2, 3]. */
    struct fixture f;
    fixture_init(&f);
    ck_assert_int_eq(mof_model_set_opset(f.model, "", 18), MOF_OK);
    int64_t dx[4] = { 2, 3, 4, 5 };
    mof_value *x = input(f.g, "X", 4, dx);
    mof_value *axes = init_ints(f.g, "axes", 2, (const int64_t[]){ 1, -2 });
    mof_node *rm = node(f.g, "ReduceMean", "Y", 2, transpose(f.g, "T", x, to_nhwc), axes,
                        NULL);
    ck_assert_int_eq(mof_node_set_attr_int(rm, "keepdims", 0), MOF_OK);
    output(f.g, out(rm));
    snapshot(&f);

    ck_assert_int_eq(run(&f, "sink-transposes"), MOF_OK);
    ck_assert_uint_eq(count_op(f.g, "Transpose"), 0);
    ck_assert_int_eq(stat_of(&f, "transposes-removed"), 1);
    rm = only_node(f.g, "ReduceMean");
    ck_assert_ptr_eq(mof_node_input(rm, 0), x);
    const mof_tensor *at = input_tensor(rm, 1);
    assert_ints(mof_tensor_data(at), (size_t)mof_tensor_numel(at), (const int64_t[]){ 2, 3 }, 2);
    ck_assert_str_eq(mof_value_name(out(rm)), "Y");
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(sink_pad_slice_softmax)
{
    /* Transpose -> Pad (pads per NHWC axis) -> Slice (no axes input) -> Softmax(axis=-1)
     * -> Transpose back: pads are permuted, Slice gets axes [0, 2, 3, 1], Softmax axis 1. */
    struct fixture f;
    fixture_init(&f);
    int64_t dx[4] = { 1, 3, 4, 5 };
    mof_value *x = input(f.g, "X", 4, dx);
    /* NHWC pads: H by 1 before, W by 2 after, C by 1 after. */
    mof_value *pads = init_ints(f.g, "pads", 8, (const int64_t[]){ 0, 1, 0, 0, 0, 0, 2, 1 });
    mof_value *starts = init_ints(f.g, "starts", 4, (const int64_t[]){ 0, 1, 0, 1 });
    mof_value *ends = init_ints(f.g, "ends", 4, (const int64_t[]){ 1, 5, 6, 4 });
    mof_value *t = transpose(f.g, "T", x, to_nhwc);
    mof_value *p = out(node(f.g, "Pad", "P", 2, t, pads, NULL));
    mof_value *s = out(node(f.g, "Slice", "S", 3, p, starts, ends));
    mof_node *sm = node(f.g, "Softmax", "M", 1, s, NULL, NULL);
    output(f.g, transpose(f.g, "Y", out(sm), to_nchw));
    snapshot(&f);

    ck_assert_int_eq(run(&f, "sink-transposes"), MOF_OK);
    ck_assert_uint_eq(count_op(f.g, "Transpose"), 0);
    mof_node *pad = only_node(f.g, "Pad");
    const mof_tensor *pt = input_tensor(pad, 1);
    assert_ints(mof_tensor_data(pt), (size_t)mof_tensor_numel(pt),
                (const int64_t[]){ 0, 0, 1, 0, 0, 1, 0, 2 }, 8);
    mof_node *slice = only_node(f.g, "Slice");
    ck_assert_uint_eq(mof_node_n_inputs(slice), 4);
    const mof_tensor *sa = input_tensor(slice, 3);
    assert_ints(mof_tensor_data(sa), (size_t)mof_tensor_numel(sa), to_nhwc, 4);
    ck_assert_int_eq(mof_node_attr_int(only_node(f.g, "Softmax"), "axis", 99), 1);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(sink_merges_consecutive)
{
    /* Transpose(Transpose(X, [0, 2, 3, 1]), [0, 2, 3, 1]) is one Transpose of X by the
     * composition, [0, 3, 1, 2]. */
    struct fixture f;
    fixture_init(&f);
    int64_t dx[4] = { 1, 3, 4, 5 };
    mof_value *x = input(f.g, "X", 4, dx);
    output(f.g, transpose(f.g, "Y", transpose(f.g, "T", x, to_nhwc), to_nhwc));
    snapshot(&f);

    ck_assert_int_eq(run(&f, "sink-transposes"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "transposes-removed"), 1);
    mof_node *t = only_node(f.g, "Transpose");
    ck_assert_ptr_eq(mof_node_input(t, 0), x);
    assert_attr_ints(t, "perm", to_nchw, 4);
    ck_assert_str_eq(mof_value_name(out(t)), "Y");
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(sink_never_adds_transposes)
{
    /* The Transpose also feeds a graph output: moving it below the Relu would need a
     * second one, so nothing changes. An Add of a transposed and a plain input would
     * need a Transpose on the plain one: nothing changes either. */
    struct fixture f;
    fixture_init(&f);
    int64_t dx[4] = { 1, 3, 4, 5 }, dz[4] = { 1, 4, 5, 3 };
    mof_value *x = input(f.g, "X", 4, dx), *z = input(f.g, "Z", 4, dz);
    mof_value *t = transpose(f.g, "T", x, to_nhwc);
    output(f.g, out(node(f.g, "Relu", "R", 1, t, NULL, NULL)));
    output(f.g, out(node(f.g, "Add", "A", 2, t, z, NULL)));
    output(f.g, t);
    snapshot(&f);

    ck_assert_int_eq(run(&f, "sink-transposes"), MOF_UNCHANGED);
    ck_assert_uint_eq(count_op(f.g, "Transpose"), 1);
    fixture_free(&f);
}
END_TEST

START_TEST(sink_unknown_rank_operand_stays)
{
    /* Add(Transpose(X), Z) with Z of unknown rank (it may broadcast from a lower rank):
     * the Transpose does not move even though its output Transpose would cancel. */
    struct fixture f;
    fixture_init(&f);
    int64_t dx[4] = { 1, 3, 4, 5 };
    mof_value *x = input(f.g, "X", 4, dx);
    mof_value *z = input(f.g, "Z", -1, NULL);
    mof_value *a = out(node(f.g, "Add", "A", 2, transpose(f.g, "T", x, to_nhwc), z, NULL));
    output(f.g, transpose(f.g, "Y", a, to_nchw));

    ck_assert_int_eq(run(&f, "sink-transposes"), MOF_UNCHANGED);
    ck_assert_uint_eq(count_op(f.g, "Transpose"), 2);
    fixture_free(&f);
}
END_TEST

START_TEST(sink_resize_scales)
{
    /* Resize (linear, NHWC scales [1, 2, 2, 1]) between a Transpose and its inverse:
     * the scales become [1, 1, 2, 2]; H and W keep their order, so the interpolation
     * computes exactly as before. */
    struct fixture f;
    fixture_init(&f);
    int64_t dx[4] = { 1, 2, 3, 4 }, d4 = 4;
    mof_value *x = input(f.g, "X", 4, dx);
    mof_value *scales = init_floats(f.g, "scales", 1, &d4, (const float[]){ 1, 2, 2, 1 });
    mof_node *rs = node(f.g, "Resize", "R", 3, transpose(f.g, "T", x, to_nhwc), NULL, scales);
    ck_assert_int_eq(mof_node_set_attr_string(rs, "mode", "linear"), MOF_OK);
    output(f.g, transpose(f.g, "Y", out(rs), to_nchw));
    snapshot(&f);

    ck_assert_int_eq(run(&f, "sink-transposes"), MOF_OK);
    ck_assert_uint_eq(count_op(f.g, "Transpose"), 0);
    rs = only_node(f.g, "Resize");
    ck_assert_ptr_eq(mof_node_input(rs, 0), x);
    ck_assert_ptr_null(mof_node_input(rs, 1));
    const mof_tensor *st = input_tensor(rs, 2);
    const float *sv = mof_tensor_data(st);
    ck_assert(sv[0] == 1 && sv[1] == 1 && sv[2] == 2 && sv[3] == 2);
    ck_assert_str_eq(mof_value_name(mof_node_input(rs, 2)), "scales");
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(sink_shape_of_transpose)
{
    /* A Transpose read only by Shape moves no data anyone needs: Shape(Transpose(X, p))
     * becomes Gather(Shape(X), p). */
    struct fixture f;
    fixture_init(&f);
    int64_t dx[4] = { 1, 3, 4, 5 };
    mof_value *x = input(f.g, "X", 4, dx);
    output(f.g, out(node(f.g, "Shape", "Y", 1, transpose(f.g, "T", x, to_nhwc), NULL, NULL)));
    snapshot(&f);

    ck_assert_int_eq(run(&f, "sink-transposes"), MOF_OK);
    ck_assert_uint_eq(count_op(f.g, "Transpose"), 0);
    ck_assert_ptr_eq(mof_node_input(only_node(f.g, "Shape"), 0), x);
    mof_node *gather = only_node(f.g, "Gather");
    ck_assert_str_eq(mof_value_name(out(gather)), "Y");
    const mof_tensor *pt = input_tensor(gather, 1);
    assert_ints(mof_tensor_data(pt), (size_t)mof_tensor_numel(pt), to_nhwc, 4);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(sink_twin_transposes_merge)
{
    /* Two Transposes of X by the same perm: the second reads as the first. */
    struct fixture f;
    fixture_init(&f);
    int64_t dx[4] = { 1, 3, 4, 5 };
    mof_value *x = input(f.g, "X", 4, dx);
    mof_value *t1 = transpose(f.g, "T1", x, to_nhwc), *t2 = transpose(f.g, "T2", x, to_nhwc);
    output(f.g, out(node(f.g, "Relu", "Y1", 1, t1, NULL, NULL)));
    output(f.g, out(node(f.g, "Sigmoid", "Y2", 1, t2, NULL, NULL)));
    snapshot(&f);

    ck_assert_int_eq(run(&f, "sink-transposes"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "transposes-removed"), 1);
    ck_assert_uint_eq(count_op(f.g, "Transpose"), 1);
    ck_assert_ptr_eq(mof_node_input(only_node(f.g, "Sigmoid"), 0), t1);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

/* ------------------------------------------------------------------ to-nhwc */

/* X [1,3,8,8] -> Conv(4, 3x3, pad 1) -> Relu -> MaxPool(2x2, stride 2) -> Conv(2, 1x1)
 * -> Y. */
static void build_conv_chain(struct fixture *f)
{
    int64_t dx[4] = { 1, 3, 8, 8 }, dw1[4] = { 4, 3, 3, 3 }, db1 = 4, dw2[4] = { 2, 4, 1, 1 },
            db2 = 2;
    mof_value *x = input(f->g, "X", 4, dx);
    mof_value *w1 = init_ramp(f->g, "W1", 4, dw1), *b1 = init_ramp(f->g, "B1", 1, &db1);
    mof_value *w2 = init_ramp(f->g, "W2", 4, dw2), *b2 = init_ramp(f->g, "B2", 1, &db2);
    mof_node *c1 = node(f->g, "Conv", "C1", 3, x, w1, b1);
    ck_assert_int_eq(mof_node_set_attr_ints(c1, "pads", 4, (const int64_t[]){ 1, 1, 1, 1 }),
                     MOF_OK);
    mof_value *r = out(node(f->g, "Relu", "R", 1, out(c1), NULL, NULL));
    mof_node *mp = node(f->g, "MaxPool", "P", 1, r, NULL, NULL);
    ck_assert_int_eq(mof_node_set_attr_ints(mp, "kernel_shape", 2, (const int64_t[]){ 2, 2 }),
                     MOF_OK);
    ck_assert_int_eq(mof_node_set_attr_ints(mp, "strides", 2, (const int64_t[]){ 2, 2 }),
                     MOF_OK);
    mof_node *c2 = node(f->g, "Conv", "Y", 3, out(mp), w2, b2);
    output(f->g, out(c2));
}

START_TEST(nhwc_conv_chain_two_transposes)
{
    struct fixture f;
    fixture_init(&f);
    build_conv_chain(&f);
    snapshot(&f);

    ck_assert_int_eq(run(&f, "to-nhwc"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "ops-converted"), 3);
    ck_assert_int_eq(stat_of(&f, "transposes-left"), 2);
    ck_assert_uint_eq(count_op(f.g, "Transpose"), 2);
    ck_assert_uint_eq(count_op(f.g, "NhwcConv"), 2);
    ck_assert_uint_eq(count_op(f.g, "NhwcMaxPool"), 1);
    ck_assert_uint_eq(count_op(f.g, "Conv") + count_op(f.g, "MaxPool"), 0);
    ck_assert_int_eq(mof_model_opset(f.model, "mof"), 1);
    /* The boundary: X enters through a Transpose to NHWC, Y leaves through one back. */
    mof_node *first = mof_graph_first_node(f.g);
    ck_assert_str_eq(mof_node_op_type(first), "Transpose");
    ck_assert_ptr_eq(mof_node_input(first, 0), mof_graph_input(f.g, 0));
    assert_attr_ints(first, "perm", to_nhwc, 4);
    mof_node *last = mof_value_producer(mof_graph_output(f.g, 0), NULL);
    ck_assert_str_eq(mof_node_op_type(last), "Transpose");
    assert_attr_ints(last, "perm", to_nchw, 4);
    for (mof_node *n = mof_graph_first_node(f.g); n; n = mof_node_next(n)) {
        if (strncmp(mof_node_op_type(n), "Nhwc", 4) == 0)
            ck_assert_str_eq(mof_node_domain(n), "mof");
    }
    /* Weights stay OIHW. */
    mof_node *conv = mof_value_producer(mof_node_input(last, 0), NULL);
    ck_assert_str_eq(mof_node_op_type(conv), "NhwcConv");
    const mof_tensor *w = input_tensor(conv, 1);
    assert_ints(mof_tensor_dims(w), mof_tensor_rank(w), (const int64_t[]){ 2, 4, 1, 1 }, 4);
    check_equivalent(&f);

    /* Shape inference knows the mof ops: the last NhwcConv gives [1, 4, 4, 2]. */
    ck_assert_int_ge(mof_infer_shapes(f.ctx, f.model), 0);
    const mof_value *cy = out(conv);
    ck_assert_int_eq(mof_value_rank(cy), 4);
    assert_ints((const int64_t[]){ mof_value_dim(cy, 0), mof_value_dim(cy, 1),
                                   mof_value_dim(cy, 2), mof_value_dim(cy, 3) }, 4,
                (const int64_t[]){ 1, 4, 4, 2 }, 4);
    fixture_free(&f);
}
END_TEST

START_TEST(nhwc_without_sinking_wraps_each_op)
{
    /* sink=false leaves a pair of Transposes around each converted node; a following
     * sink-transposes then finds the same result as to-nhwc alone. */
    struct fixture f;
    fixture_init(&f);
    build_conv_chain(&f);
    snapshot(&f);

    ck_assert_int_eq(run(&f, "to-nhwc(sink=false)"), MOF_OK);
    ck_assert_uint_eq(count_op(f.g, "Transpose"), 6);
    check_equivalent(&f);
    ck_assert_int_eq(run(&f, "sink-transposes"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "transposes-removed"), 4);
    ck_assert_uint_eq(count_op(f.g, "Transpose"), 2);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(nhwc_residual_block)
{
    /* X -> Conv -> BatchNormalization -> Relu -> Conv -> Add(, X via a 1x1 Conv) -> Relu
     * -> GlobalAveragePool -> Flatten -> Y, untyped: everything up to the pool runs NHWC;
     * one Transpose enters (shared by both Convs reading X), one leaves before Flatten,
     * whose dims are unknown (see nhwc_flatten_after_pool for the typed case). */
    struct fixture f;
    fixture_init(&f);
    int64_t dx[4] = { 2, 3, 6, 6 }, dw[4] = { 4, 3, 3, 3 }, dw2[4] = { 4, 4, 3, 3 },
            dws[4] = { 4, 3, 1, 1 }, d4 = 4;
    mof_value *x = input(f.g, "X", 4, dx);
    mof_value *w1 = init_ramp(f.g, "W1", 4, dw), *w2 = init_ramp(f.g, "W2", 4, dw2);
    mof_value *ws = init_ramp(f.g, "WS", 4, dws);
    mof_value *scale = init_floats(f.g, "scale", 1, &d4, (const float[]){ 1, 0.5f, 2, -1 });
    mof_value *bias = init_floats(f.g, "bias", 1, &d4, (const float[]){ 0, 1, -1, 0.25f });
    mof_value *mean = init_floats(f.g, "mean", 1, &d4, (const float[]){ 0.1f, 0, -2, 3 });
    mof_value *var = init_floats(f.g, "var", 1, &d4, (const float[]){ 1, 2, 0.5f, 4 });
    const int64_t pads[4] = { 1, 1, 1, 1 };
    mof_node *c1 = node(f.g, "Conv", "C1", 2, x, w1, NULL);
    ck_assert_int_eq(mof_node_set_attr_ints(c1, "pads", 4, pads), MOF_OK);
    mof_value *bn_in[5] = { out(c1), scale, bias, mean, var };
    mof_node *bn = mof_graph_add_node(f.g, MOF_INSERT_AFTER, NULL, "BatchNormalization", NULL,
                                      "BN", 5, bn_in, 1);
    ck_assert_ptr_nonnull(bn);
    mof_value *r1 = out(node(f.g, "Relu", "R1", 1, out(bn), NULL, NULL));
    mof_node *c2 = node(f.g, "Conv", "C2", 2, r1, w2, NULL);
    ck_assert_int_eq(mof_node_set_attr_ints(c2, "pads", 4, pads), MOF_OK);
    mof_value *sc = out(node(f.g, "Conv", "CS", 2, x, ws, NULL));
    mof_value *a = out(node(f.g, "Add", "A", 2, out(c2), sc, NULL));
    mof_value *r2 = out(node(f.g, "Relu", "R2", 1, a, NULL, NULL));
    mof_value *gp = out(node(f.g, "GlobalAveragePool", "GP", 1, r2, NULL, NULL));
    output(f.g, out(node(f.g, "Flatten", "Y", 1, gp, NULL, NULL)));
    snapshot(&f);

    ck_assert_int_eq(run(&f, "to-nhwc"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "ops-converted"), 5);
    ck_assert_uint_eq(count_op(f.g, "Transpose"), 2);
    ck_assert_int_eq(stat_of(&f, "transposes-left"), 2);
    ck_assert_uint_eq(count_op(f.g, "NhwcBatchNormalization"), 1);
    ck_assert_uint_eq(count_op(f.g, "NhwcGlobalAveragePool"), 1);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(nhwc_keeps_maxpool_with_indices)
{
    /* A MaxPool whose Indices are read stays NCHW (they index the NCHW tensor). */
    struct fixture f;
    fixture_init(&f);
    int64_t dx[4] = { 1, 2, 4, 4 };
    mof_value *x = input(f.g, "X", 4, dx);
    mof_node *mp = node_n(f.g, "MaxPool", NULL, "P", 1, x, NULL, NULL, 2);
    ck_assert_int_eq(mof_node_set_attr_ints(mp, "kernel_shape", 2, (const int64_t[]){ 2, 2 }),
                     MOF_OK);
    output(f.g, mof_node_output(mp, 0));
    output(f.g, mof_node_output(mp, 1));

    ck_assert_int_eq(run(&f, "to-nhwc"), MOF_UNCHANGED);
    ck_assert_uint_eq(count_op(f.g, "MaxPool"), 1);
    ck_assert_int_eq(mof_model_opset(f.model, "mof"), -1);
    fixture_free(&f);
}
END_TEST

START_TEST(nhwc_flatten_after_pool)
{
    /* Conv -> GlobalAveragePool -> Flatten, typed: in NHWC the pooled [N, 1, 1, C]
     * flattens to the same [N, C], so the Flatten becomes a Reshape of the NHWC pool and
     * the only Transpose left is the one at the input. */
    struct fixture f;
    fixture_init(&f);
    int64_t dx[4] = { 2, 3, 4, 4 }, dw[4] = { 2, 3, 1, 1 };
    mof_value *x = input(f.g, "X", 4, dx);
    mof_value *c = out(node(f.g, "Conv", "C", 2, x, init_ramp(f.g, "W", 4, dw), NULL));
    mof_value *gp = out(node(f.g, "GlobalAveragePool", "G", 1, c, NULL, NULL));
    output(f.g, out(node(f.g, "Flatten", "Y", 1, gp, NULL, NULL)));
    infer(&f);
    snapshot(&f);

    ck_assert_int_eq(run(&f, "to-nhwc"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "transposes-left"), 1);
    ck_assert_uint_eq(count_op(f.g, "Flatten"), 0);
    mof_node *rs = only_node(f.g, "Reshape");
    ck_assert_str_eq(mof_node_op_type(mof_value_producer(mof_node_input(rs, 0), NULL)),
                     "NhwcGlobalAveragePool");
    const mof_tensor *shape = input_tensor(rs, 1);
    assert_ints(mof_tensor_data(shape), (size_t)mof_tensor_numel(shape),
                (const int64_t[]){ 2, 2 }, 2);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(nhwc_channel_shuffle)
{
    /* Conv -> Reshape [N, g, C/g, H, W] -> Transpose [0, 2, 1, 3, 4] -> Reshape back ->
     * Conv (ShuffleNet's channel shuffle), typed: the shuffle itself runs channels-last
     * (Reshape [N, H, W, g, C/g] -> Transpose [0, 1, 2, 4, 3] -> Reshape), so three
     * Transposes remain: in, the shuffle, out. */
    struct fixture f;
    fixture_init(&f);
    int64_t dx[4] = { 1, 4, 3, 3 }, dw[4] = { 4, 4, 1, 1 };
    mof_value *x = input(f.g, "X", 4, dx);
    mof_value *c1 = out(node(f.g, "Conv", "C1", 2, x, init_ramp(f.g, "W1", 4, dw), NULL));
    mof_value *split = init_ints(f.g, "split", 5, (const int64_t[]){ 1, 2, 2, 3, 3 });
    mof_value *merge = init_ints(f.g, "merge", 4, (const int64_t[]){ 1, 4, 3, 3 });
    mof_value *r1 = out(node(f.g, "Reshape", "R1", 2, c1, split, NULL));
    mof_node *sh = node(f.g, "Transpose", "S", 1, r1, NULL, NULL);
    ck_assert_int_eq(mof_node_set_attr_ints(sh, "perm", 5, (const int64_t[]){ 0, 2, 1, 3, 4 }),
                     MOF_OK);
    mof_value *r2 = out(node(f.g, "Reshape", "R2", 2, out(sh), merge, NULL));
    output(f.g, out(node(f.g, "Conv", "Y", 2, r2, init_ramp(f.g, "W2", 4, dw), NULL)));
    infer(&f);
    snapshot(&f);

    ck_assert_int_eq(run(&f, "to-nhwc"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "transposes-left"), 3);
    ck_assert_uint_eq(count_op(f.g, "NhwcConv"), 2);
    mof_node *first = mof_graph_first_node(f.g);
    ck_assert_ptr_eq(mof_node_input(first, 0), x);
    assert_attr_ints(first, "perm", to_nhwc, 4);
    bool shuffle_seen = false;
    for (mof_node *n = mof_node_next(first); n; n = mof_node_next(n)) {
        if (strcmp(mof_node_op_type(n), "Transpose") != 0 || mof_node_n_inputs(n) != 1 ||
            mof_value_rank(mof_node_input(n, 0)) != 5)
            continue;
        assert_attr_ints(n, "perm", (const int64_t[]){ 0, 1, 2, 4, 3 }, 5);
        shuffle_seen = true;
    }
    ck_assert(shuffle_seen);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

static Suite *layout_suite(void)
{
    Suite *s = suite_create("layout");
    TCase *sink = tcase_create("sink-transposes");
    tcase_add_test(sink, sink_relu_pair_cancels);
    tcase_add_test(sink, sink_through_chain_with_constants);
    tcase_add_test(sink, sink_add_of_two_transposed);
    tcase_add_test(sink, sink_concat_axis_rewritten);
    tcase_add_test(sink, sink_split_and_concat);
    tcase_add_test(sink, sink_reduce_mean_axes);
    tcase_add_test(sink, sink_reduce_keepdims0_axes_input);
    tcase_add_test(sink, sink_pad_slice_softmax);
    tcase_add_test(sink, sink_merges_consecutive);
    tcase_add_test(sink, sink_never_adds_transposes);
    tcase_add_test(sink, sink_unknown_rank_operand_stays);
    tcase_add_test(sink, sink_resize_scales);
    tcase_add_test(sink, sink_shape_of_transpose);
    tcase_add_test(sink, sink_twin_transposes_merge);
    suite_add_tcase(s, sink);
    TCase *nhwc = tcase_create("to-nhwc");
    tcase_add_test(nhwc, nhwc_conv_chain_two_transposes);
    tcase_add_test(nhwc, nhwc_without_sinking_wraps_each_op);
    tcase_add_test(nhwc, nhwc_residual_block);
    tcase_add_test(nhwc, nhwc_keeps_maxpool_with_indices);
    tcase_add_test(nhwc, nhwc_flatten_after_pool);
    tcase_add_test(nhwc, nhwc_channel_shuffle);
    suite_add_tcase(s, nhwc);
    return s;
}

MOF_TEST_MAIN(layout_suite)
