/* test_simplify: the cleanup plugin's cse, merge-initializers, eliminate-noops and
 * merge-consecutive passes.
 *
 * Each test builds a small model with the SDK, runs a one-line pipeline over it as
 * `mof run --passes` does (the plugin is compiled in, MOF_PLUGIN_STATIC=cleanup), and
 * checks the result twice: its structure (which nodes and constants remain, what they
 * read, the graph's interface), and its numbers: the model before and after is run by
 * the reference interpreter on the same seeded random inputs and every output must be
 * bit for bit the same, since all four passes are exact. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mof/mof.h>

#include "testutil.h"
#include "passtest.h"

const mof_plugin_desc *mof_plugin_entry_cleanup(void);

/* ------------------------------------------------------------------ building models */

static void fixture_init_opset(struct fixture *f, int64_t opset)
{
    passtest_fixture_init(f, mof_plugin_entry_cleanup);
    ck_assert_int_eq(mof_model_set_opset(f->model, "", opset), MOF_OK);
}

static void fixture_init(struct fixture *f)
{
    fixture_init_opset(f, 13);
}

/* A float graph input of the given dims (-1: the symbol "N"). */
static mof_value *input_f(mof_graph *g, const char *name, int rank, const int64_t *dims)
{
    const char *syms[8] = { 0 };
    ck_assert_int_le(rank, 8);
    for (int i = 0; i < rank; i++)
        syms[i] = dims[i] < 0 ? "N" : NULL;
    mof_value *v = mof_graph_add_input(g, name, MOF_DTYPE_FLOAT, rank, dims, syms);
    ck_assert_ptr_nonnull(v);
    return v;
}

static mof_value *init_tensor(mof_graph *g, const char *name, mof_dtype dtype, size_t rank,
                              const int64_t *dims, const void *data)
{
    mof_tensor *t = mof_tensor_create_from(dtype, rank, dims, data);
    ck_assert_ptr_nonnull(t);
    mof_value *v = mof_graph_add_initializer(g, name, t);
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(mof_value_name(v), name);
    return v;
}

static mof_value *init_floats(mof_graph *g, const char *name, size_t rank, const int64_t *dims,
                              const float *data)
{
    return init_tensor(g, name, MOF_DTYPE_FLOAT, rank, dims, data);
}

/* A 1-D int64 initializer. */
static mof_value *init_vec(mof_graph *g, const char *name, size_t n, const int64_t *data)
{
    int64_t dim = (int64_t)n;
    return init_tensor(g, name, MOF_DTYPE_INT64, 1, &dim, data);
}

/* Adds a node with up to three inputs and n_out outputs named after the node (the
 * only output: exactly its name). */
static mof_node *node_n(mof_graph *g, const char *op, const char *name, size_t n_in,
                        mof_value *a, mof_value *b, mof_value *c, size_t n_out)
{
    mof_value *in[3] = { a, b, c };
    mof_node *n = mof_graph_add_node(g, MOF_INSERT_AFTER, NULL, op, NULL, name, n_in, in, n_out);
    ck_assert_ptr_nonnull(n);
    if (n_out == 1)
        ck_assert_str_eq(mof_value_name(mof_node_output(n, 0)), name);
    return n;
}

static mof_node *node(mof_graph *g, const char *op, const char *name, size_t n_in,
                      mof_value *a, mof_value *b, mof_value *c)
{
    return node_n(g, op, name, n_in, a, b, c, 1);
}

static mof_value *out(const mof_node *n)
{
    return mof_node_output(n, 0);
}

static void output(mof_graph *g, mof_value *v)
{
    ck_assert_int_eq(mof_graph_add_output(g, v), MOF_OK);
}

static void set_ints(mof_node *n, const char *name, size_t count, const int64_t *v)
{
    ck_assert_int_eq(mof_node_set_attr_ints(n, name, count, v), MOF_OK);
}

/* ------------------------------------------------------------------ running passes */

/* Runs a one-line pass list that must succeed; returns the status of its last pass
 * and leaves the report in f->report. Every graph invariant is checked after each
 * pass (verify_each) and again at the end. */
static mof_status run(struct fixture *f, const char *passes)
{
    return passtest_run(f, passes);
}

/* The only node of op_type in g. */
static mof_node *only_op(const mof_graph *g, const char *op_type)
{
    ck_assert_uint_eq(count_op(g, op_type), 1);
    for (mof_node *it = mof_graph_first_node(g); it; it = mof_node_next(it))
        if (strcmp(mof_node_op_type(it), op_type) == 0)
            return it;
    return NULL;
}

/* The int64 values of a constant value (initializer). */
static const int64_t *const_ints(const mof_value *v, int64_t numel)
{
    ck_assert(mof_value_is_constant(v));
    const mof_tensor *t = mof_value_tensor(v);
    ck_assert_int_eq(mof_tensor_dtype(t), MOF_DTYPE_INT64);
    ck_assert_int_eq(mof_tensor_numel(t), numel);
    return mof_tensor_data(t);
}

static void assert_ints(const int64_t *got, size_t n, const int64_t *want)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(got[i], want[i]);
}

/* Asserts a node's INTS attribute. */
static void assert_attr_ints(const mof_node *n, const char *name, size_t count,
                             const int64_t *want)
{
    size_t got_n;
    const int64_t *got = mof_node_attr_ints(n, name, &got_n);
    ck_assert_uint_eq(got_n, count);
    assert_ints(got, count, want);
}

/* Whether node n holds the provenance entry `origin`. */
static bool has_origin(const mof_node *n, const char *origin)
{
    for (size_t i = 0; i < mof_node_n_origins(n); i++)
        if (strcmp(mof_node_origin(n, i), origin) == 0)
            return true;
    return false;
}

/* ------------------------------------------------------------------ numeric equivalence */

/* A random tensor for graph input v; symbolic dims are 3. Floats include -0.0, so that
 * a pass that loses a zero's sign is caught. */
static mof_tensor *random_input(const mof_value *v, uint64_t *state)
{
    int rank = mof_value_rank(v);
    ck_assert_int_ge(rank, 0);
    ck_assert_int_le(rank, 8);
    int64_t dims[8];
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
        case MOF_DTYPE_FLOAT:
            ((float *)data)[i] = r % 11 == 0 ? -0.0f : (float)(r % 20001) / 5000.0f - 2.0f;
            break;
        case MOF_DTYPE_INT64: ((int64_t *)data)[i] = (int64_t)(r % 7) - 3; break;
        case MOF_DTYPE_BOOL: ((uint8_t *)data)[i] = r & 1; break;
        default: ck_abort_msg("no random data for this input type");
        }
    }
    return t;
}

/* Asserts that an output is the same tensor before and after: type, shape and bytes. */
static void compare_output(size_t i, const char *name, const mof_tensor *a,
                           const mof_tensor *b, const void *arg)
{
    (void)i;
    (void)arg;
    ck_assert_msg(mof_tensor_equal(a, b), "output %s differs after the pass", name);
}

/* Runs both models on the same inputs (overrides[i], when non-NULL, replaces the
 * random tensor of input i) and asserts that every output is the same tensor: same
 * name, type, shape and bytes. */
static void check_equivalent_with(struct fixture *f, uint64_t seed, mof_tensor *const *overrides)
{
    passtest_check_equivalent(f, seed, overrides, random_input, compare_output, NULL);
}

static void check_equivalent(struct fixture *f)
{
    for (uint64_t seed = 1; seed <= 3; seed++)
        check_equivalent_with(f, seed, NULL);
}

/* Asserts that graph output i still has its name and its declared type. */
static void assert_output_type(const mof_graph *g, size_t i, const char *name, int rank,
                               const int64_t *dims)
{
    mof_value *v = mof_graph_output(g, i);
    ck_assert_str_eq(mof_value_name(v), name);
    ck_assert_int_eq(mof_value_dtype(v), MOF_DTYPE_FLOAT);
    ck_assert_int_eq(mof_value_rank(v), rank);
    for (int d = 0; d < rank; d++) {
        ck_assert_int_eq(mof_value_dim(v, (size_t)d), dims[d]);
        if (dims[d] < 0)
            ck_assert_str_eq(mof_value_dim_symbol(v, (size_t)d), "N");
    }
}

/* ------------------------------------------------------------------ cse */

START_TEST(cse_merges_duplicates)
{
    /* A = Relu(X), B = Relu(X), Y = A + B: B goes, Y = A + A; B's provenance moves. */
    struct fixture f;
    fixture_init(&f);
    int64_t d[2] = { 2, 3 };
    mof_value *x = input_f(f.g, "X", 2, d);
    mof_node *a = node(f.g, "Relu", "A", 1, x, NULL, NULL);
    mof_node *b = node(f.g, "Relu", "B", 1, x, NULL, NULL);
    output(f.g, out(node(f.g, "Add", "Y", 2, out(a), out(b), NULL)));
    reload(&f);
    snapshot(&f);

    ck_assert_int_eq(run(&f, "cse"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "nodes-merged"), 1);
    ck_assert_uint_eq(count_op(f.g, "Relu"), 1);
    mof_node *relu = find_node(f.g, "A");
    ck_assert_ptr_nonnull(relu);
    ck_assert(has_origin(relu, "A"));
    ck_assert(has_origin(relu, "B"));
    mof_node *y = find_node(f.g, "Y");
    ck_assert_ptr_eq(mof_node_input(y, 0), out(relu));
    ck_assert_ptr_eq(mof_node_input(y, 1), out(relu));
    check_equivalent(&f);

    ck_assert_int_eq(run(&f, "cse"), MOF_UNCHANGED);
    fixture_free(&f);
}
END_TEST

START_TEST(cse_chain_in_one_run)
{
    /* Two copies of Relu -> Exp -> Mul(., W): all three pairs merge in one run. */
    struct fixture f;
    fixture_init(&f);
    int64_t d[2] = { 2, 3 };
    mof_value *x = input_f(f.g, "X", 2, d);
    mof_value *w = init_floats(f.g, "W", 2, d, (const float[]){ 1, 2, 3, 4, 5, 6 });
    mof_node *r1 = node(f.g, "Relu", "r1", 1, x, NULL, NULL);
    mof_node *r2 = node(f.g, "Relu", "r2", 1, x, NULL, NULL);
    mof_node *e1 = node(f.g, "Exp", "e1", 1, out(r1), NULL, NULL);
    mof_node *e2 = node(f.g, "Exp", "e2", 1, out(r2), NULL, NULL);
    mof_node *m1 = node(f.g, "Mul", "m1", 2, out(e1), w, NULL);
    mof_node *m2 = node(f.g, "Mul", "m2", 2, out(e2), w, NULL);
    output(f.g, out(node(f.g, "Sub", "Y", 2, out(m1), out(m2), NULL)));
    snapshot(&f);

    ck_assert_int_eq(run(&f, "cse"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "nodes-merged"), 3);
    ck_assert_uint_eq(mof_graph_n_nodes(f.g), 4);
    ck_assert_ptr_nonnull(find_node(f.g, "m1"));
    ck_assert_ptr_null(find_node(f.g, "m2"));
    check_equivalent(&f);
    ck_assert_int_eq(run(&f, "cse"), MOF_UNCHANGED);
    fixture_free(&f);
}
END_TEST

START_TEST(cse_needs_equal_attributes_and_inputs)
{
    /* LeakyRelu alpha 0.1 twice merges; alpha 0.2 does not; Sub(X, W) and Sub(W, X)
     * read the same values in another order; Transpose perm [1,0] vs no perm on a
     * matrix compute the same but their attributes differ, so they stay. */
    struct fixture f;
    fixture_init(&f);
    int64_t d[2] = { 3, 3 };
    mof_value *x = input_f(f.g, "X", 2, d);
    mof_value *w = init_floats(f.g, "W", 2, d, (const float[]){ 1, 2, 3, 4, 5, 6, 7, 8, 9 });
    mof_node *l1 = node(f.g, "LeakyRelu", "l1", 1, x, NULL, NULL);
    mof_node *l2 = node(f.g, "LeakyRelu", "l2", 1, x, NULL, NULL);
    mof_node *l3 = node(f.g, "LeakyRelu", "l3", 1, x, NULL, NULL);
    ck_assert_int_eq(mof_node_set_attr_float(l1, "alpha", 0.1f), MOF_OK);
    ck_assert_int_eq(mof_node_set_attr_float(l2, "alpha", 0.1f), MOF_OK);
    ck_assert_int_eq(mof_node_set_attr_float(l3, "alpha", 0.2f), MOF_OK);
    mof_node *s1 = node(f.g, "Sub", "s1", 2, x, w, NULL);
    mof_node *s2 = node(f.g, "Sub", "s2", 2, w, x, NULL);
    mof_node *t1 = node(f.g, "Transpose", "t1", 1, x, NULL, NULL);
    mof_node *t2 = node(f.g, "Transpose", "t2", 1, x, NULL, NULL);
    set_ints(t1, "perm", 2, (const int64_t[]){ 1, 0 });
    mof_node *c1 = node(f.g, "Concat", "c1", 3, out(l1), out(l2), out(l3));
    ck_assert_int_eq(mof_node_set_attr_int(c1, "axis", 0), MOF_OK);
    mof_node *c2 = node(f.g, "Concat", "c2", 3, out(s1), out(s2), out(t1));
    ck_assert_int_eq(mof_node_set_attr_int(c2, "axis", 0), MOF_OK);
    output(f.g, out(c1));
    output(f.g, out(c2));
    output(f.g, out(t2));
    snapshot(&f);

    ck_assert_int_eq(run(&f, "cse"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "nodes-merged"), 1);
    ck_assert_uint_eq(count_op(f.g, "LeakyRelu"), 2);
    ck_assert_ptr_null(find_node(f.g, "l2"));
    ck_assert_uint_eq(count_op(f.g, "Sub"), 2);
    ck_assert_uint_eq(count_op(f.g, "Transpose"), 2);
    /* Both Concats read three values but not the same ones: they stay. */
    ck_assert_uint_eq(count_op(f.g, "Concat"), 2);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(cse_graph_outputs)
{
    /* A = Neg(X) is used by Z; B = Neg(X) is graph output Y: A takes Y's name and
     * declared type. C = Abs(X) and D = Abs(X) are both graph outputs: no merge. */
    struct fixture f;
    fixture_init(&f);
    int64_t d[2] = { -1, 3 };
    mof_value *x = input_f(f.g, "X", 2, d);
    mof_node *a = node(f.g, "Neg", "A", 1, x, NULL, NULL);
    mof_node *z = node(f.g, "Exp", "Z", 1, out(a), NULL, NULL);
    mof_node *b = node(f.g, "Neg", "Y", 1, x, NULL, NULL);
    mof_node *c = node(f.g, "Abs", "C", 1, x, NULL, NULL);
    mof_node *dd = node(f.g, "Abs", "D", 1, x, NULL, NULL);
    ck_assert_int_eq(mof_value_set_type(out(b), MOF_DTYPE_FLOAT, 2, d,
                                        (const char *const[]){ "N", NULL }),
                     MOF_OK);
    output(f.g, out(z));
    output(f.g, out(b));
    output(f.g, out(c));
    output(f.g, out(dd));
    reload(&f);
    snapshot(&f);

    ck_assert_int_eq(run(&f, "cse"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "nodes-merged"), 1);
    ck_assert_uint_eq(count_op(f.g, "Neg"), 1);
    ck_assert_uint_eq(count_op(f.g, "Abs"), 2);
    mof_node *neg = only_op(f.g, "Neg");
    ck_assert_str_eq(mof_node_name(neg), "A");
    ck_assert_ptr_eq(out(neg), mof_graph_output(f.g, 1));
    assert_output_type(f.g, 1, "Y", 2, d);
    ck_assert_ptr_eq(mof_node_input(find_node(f.g, "Z"), 0), out(neg));
    ck_assert(has_origin(neg, "Y"));
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(cse_never_random_or_subgraph_or_custom)
{
    /* Two RandomUniformLike(X) differ by nature; two identical If nodes hold
     * subgraphs; two custom-domain nodes may have side effects (unknown-domains=true
     * merges them). Meanwhile two identical Constant nodes do merge. */
    struct fixture f;
    fixture_init(&f);
    int64_t d2 = 2;
    mof_value *x = input_f(f.g, "X", 1, &d2);
    mof_value *cond = mof_graph_add_input(f.g, "cond", MOF_DTYPE_BOOL, 0, NULL, NULL);
    ck_assert_ptr_nonnull(cond);
    mof_node *r1 = node(f.g, "RandomUniformLike", "r1", 1, x, NULL, NULL);
    mof_node *r2 = node(f.g, "RandomUniformLike", "r2", 1, x, NULL, NULL);
    output(f.g, out(node(f.g, "Add", "R", 2, out(r1), out(r2), NULL)));
    mof_node *iffs[2];
    for (int i = 0; i < 2; i++) {
        iffs[i] = node(f.g, "If", i ? "if2" : "if1", 1, cond, NULL, NULL);
        mof_graph *t = mof_node_add_subgraph(iffs[i], "then_branch", "then");
        mof_graph *e = mof_node_add_subgraph(iffs[i], "else_branch", "else");
        ck_assert_ptr_nonnull(t);
        ck_assert_ptr_nonnull(e);
        output(t, out(node(t, "Neg", i ? "t2" : "t1", 1, x, NULL, NULL)));
        output(e, out(node(e, "Abs", i ? "e2" : "e1", 1, x, NULL, NULL)));
    }
    output(f.g, out(node(f.g, "Add", "I", 2, out(iffs[0]), out(iffs[1]), NULL)));
    mof_value *in[1] = { x };
    mof_node *u[2];
    for (int i = 0; i < 2; i++) {
        u[i] = mof_graph_add_node(f.g, MOF_INSERT_AFTER, NULL, "Log", "com.example",
                                  i ? "u2" : "u1", 1, in, 1);
        ck_assert_ptr_nonnull(u[i]);
    }
    output(f.g, out(node(f.g, "Add", "U", 2, out(u[0]), out(u[1]), NULL)));
    mof_tensor *kt = mof_tensor_create_from(MOF_DTYPE_FLOAT, 1, &d2, (const float[]){ 1, 2 });
    ck_assert_ptr_nonnull(kt);
    mof_node *k1 = node(f.g, "Constant", "k1", 0, NULL, NULL, NULL);
    mof_node *k2 = node(f.g, "Constant", "k2", 0, NULL, NULL, NULL);
    ck_assert_int_eq(mof_node_set_attr_tensor(k1, "value", mof_tensor_ref(kt)), MOF_OK);
    ck_assert_int_eq(mof_node_set_attr_tensor(k2, "value", kt), MOF_OK);
    output(f.g, out(node(f.g, "Add", "K", 2, out(k1), out(k2), NULL)));

    ck_assert_int_eq(run(&f, "cse"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "nodes-merged"), 1);
    ck_assert_uint_eq(count_op(f.g, "RandomUniformLike"), 2);
    ck_assert_uint_eq(count_op(f.g, "If"), 2);
    ck_assert_uint_eq(count_op(f.g, "Log"), 2);
    mof_node *k = only_op(f.g, "Constant");
    mof_node *sum = find_node(f.g, "K");
    ck_assert_ptr_eq(mof_node_input(sum, 0), out(k));
    ck_assert_ptr_eq(mof_node_input(sum, 1), out(k));

    ck_assert_int_eq(run(&f, "cse(unknown-domains=true)"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "nodes-merged"), 1);
    ck_assert_uint_eq(count_op(f.g, "Log"), 1);
    ck_assert_uint_eq(count_op(f.g, "RandomUniformLike"), 2);
    fixture_free(&f);
}
END_TEST

START_TEST(cse_multiple_outputs)
{
    /* Two Split(X) into halves: both outputs of the second read the first's. */
    struct fixture f;
    fixture_init(&f);
    int64_t d[2] = { 4, 3 };
    mof_value *x = input_f(f.g, "X", 2, d);
    mof_node *s1 = node_n(f.g, "Split", "s1", 1, x, NULL, NULL, 2);
    mof_node *s2 = node_n(f.g, "Split", "s2", 1, x, NULL, NULL, 2);
    output(f.g, out(node(f.g, "Add", "Y", 2, mof_node_output(s1, 0), mof_node_output(s2, 1),
                         NULL)));
    output(f.g, out(node(f.g, "Sub", "Z", 2, mof_node_output(s2, 0), mof_node_output(s1, 1),
                         NULL)));
    snapshot(&f);

    ck_assert_int_eq(run(&f, "cse"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "nodes-merged"), 1);
    mof_node *s = only_op(f.g, "Split");
    ck_assert_ptr_eq(mof_node_input(find_node(f.g, "Y"), 1), mof_node_output(s, 1));
    ck_assert_ptr_eq(mof_node_input(find_node(f.g, "Z"), 0), mof_node_output(s, 0));
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(cse_in_subgraphs)
{
    /* Inside an If branch, two Sigmoid(X) of the outer X merge; so do two Neg of the
     * outer graph, whose merge the branch (capturing both) sees. */
    struct fixture f;
    fixture_init(&f);
    int64_t d2 = 2;
    mof_value *x = input_f(f.g, "X", 1, &d2);
    mof_value *cond = mof_graph_add_input(f.g, "cond", MOF_DTYPE_BOOL, 0, NULL, NULL);
    mof_node *n1 = node(f.g, "Neg", "n1", 1, x, NULL, NULL);
    mof_node *n2 = node(f.g, "Neg", "n2", 1, x, NULL, NULL);
    mof_node *iff = node(f.g, "If", "if", 1, cond, NULL, NULL);
    mof_graph *t = mof_node_add_subgraph(iff, "then_branch", "then");
    mof_graph *e = mof_node_add_subgraph(iff, "else_branch", "else");
    mof_node *g1 = node(t, "Sigmoid", "g1", 1, x, NULL, NULL);
    mof_node *g2 = node(t, "Sigmoid", "g2", 1, x, NULL, NULL);
    output(t, out(node(t, "Add", "t_out", 2, out(g1), out(g2), NULL)));
    mof_node *m1 = node(e, "Exp", "m1", 1, out(n1), NULL, NULL);
    mof_node *m2 = node(e, "Exp", "m2", 1, out(n2), NULL, NULL);
    output(e, out(node(e, "Sub", "e_out", 2, out(m1), out(m2), NULL)));
    output(f.g, out(iff));
    snapshot(&f);

    ck_assert_int_eq(run(&f, "cse"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "nodes-merged"), 3);
    ck_assert_uint_eq(count_op(f.g, "Neg"), 1);
    mof_node *if2 = find_node(f.g, "if");
    ck_assert_uint_eq(count_op(mof_node_attr_graph(if2, "then_branch"), "Sigmoid"), 1);
    ck_assert_uint_eq(count_op(mof_node_attr_graph(if2, "else_branch"), "Exp"), 1);
    for (int c = 0; c <= 1; c++) {
        uint8_t v = (uint8_t)c;
        mof_tensor *ct = mof_tensor_create_from(MOF_DTYPE_BOOL, 0, NULL, &v);
        ck_assert_ptr_nonnull(ct);
        mof_tensor *overrides[2] = { NULL, ct };
        check_equivalent_with(&f, 5, overrides);
        mof_tensor_unref(ct);
    }
    fixture_free(&f);
}
END_TEST

/* ------------------------------------------------------------------ merge-initializers */

START_TEST(merge_initializers_equal_bytes)
{
    /* A and B hold the same floats: B's users read A. C has A's bytes but another
     * shape, D another type (int32 zeros vs float zeros E): they stay. Then cse merges
     * the two Adds that now read the same values. */
    struct fixture f;
    fixture_init(&f);
    int64_t d3 = 3, d13[2] = { 1, 3 };
    mof_value *x = input_f(f.g, "X", 1, &d3);
    const float v[3] = { 0.5f, -1, 2 };
    mof_value *a = init_floats(f.g, "A", 1, &d3, v);
    mof_value *b = init_floats(f.g, "B", 1, &d3, v);
    mof_value *c = init_floats(f.g, "C", 2, d13, v);
    mof_value *e = init_floats(f.g, "E", 1, &d3, (const float[]){ 0, 0, 0 });
    mof_value *dz = init_tensor(f.g, "D", MOF_DTYPE_INT32, 1, &d3, (const int32_t[]){ 0, 0, 0 });
    mof_node *s1 = node(f.g, "Add", "s1", 2, x, a, NULL);
    mof_node *s2 = node(f.g, "Add", "s2", 2, x, b, NULL);
    mof_node *m = node(f.g, "Mul", "m", 2, out(s1), out(s2), NULL);
    mof_node *mc = node(f.g, "Mul", "mc", 2, out(m), c, NULL);
    mof_node *me = node(f.g, "Mul", "Y", 2, out(mc), e, NULL);
    output(f.g, out(me));
    mof_node *cast = node(f.g, "Cast", "Z", 1, dz, NULL, NULL);
    ck_assert_int_eq(mof_node_set_attr_int(cast, "to", MOF_DTYPE_FLOAT), MOF_OK);
    output(f.g, out(cast));
    snapshot(&f);

    ck_assert_int_eq(run(&f, "merge-initializers"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "initializers-merged"), 1);
    ck_assert_int_eq(stat_of(&f, "bytes-saved"), 12);
    ck_assert_uint_eq(mof_graph_n_initializers(f.g), 4);
    ck_assert_ptr_null(mof_graph_find_value(f.g, "B"));
    ck_assert_ptr_eq(mof_node_input(find_node(f.g, "s2"), 1), a);
    check_equivalent(&f);
    ck_assert_int_eq(run(&f, "merge-initializers"), MOF_UNCHANGED);

    ck_assert_int_eq(run(&f, "cse"), MOF_OK);
    ck_assert_uint_eq(count_op(f.g, "Add"), 1);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

/* Replaces the fixture's model by one parsed from the ONNX textual syntax. */
static void parse_model(struct fixture *f, const char *text)
{
    mof_model *m = mof_model_parse_text(f->ctx, text, strlen(text), "test.onnxtxt");
    if (!m)
        mof_test_print_diags(f->ctx);
    ck_assert_ptr_nonnull(m);
    mof_model_destroy(f->model);
    f->model = m;
    f->g = mof_model_graph(m);
}

START_TEST(merge_initializers_not_graph_inputs)
{
    /* D has A's bytes but is also a graph input (an overridable default): it must
     * stay, and A must not be merged into it either. B goes into A. */
    struct fixture f;
    fixture_init(&f);
    parse_model(&f, "<ir_version: 8, opset_import: [\"\" : 13]>\n"
                    "main (float[3] X, float[3] D) => (float[3] Y)\n"
                    "  <float[3] D = {0.5, -1, 2}, float[3] A = {0.5, -1, 2},\n"
                    "   float[3] B = {0.5, -1, 2}>\n"
                    "{\n"
                    "  s = Add (X, D)\n"
                    "  t = Mul (s, A)\n"
                    "  Y = Sub (t, B)\n"
                    "}\n");
    snapshot(&f);
    ck_assert_int_eq(run(&f, "merge-initializers"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "initializers-merged"), 1);
    ck_assert_ptr_null(mof_graph_find_value(f.g, "B"));
    mof_value *d = mof_graph_find_value(f.g, "D"), *a = mof_graph_find_value(f.g, "A");
    ck_assert(mof_value_is_graph_input(d) && mof_value_is_initializer(d));
    /* Nodes parsed from text have no names: find them by what they compute. */
    mof_node *s = mof_value_producer(mof_graph_find_value(f.g, "s"), NULL);
    mof_node *y = mof_value_producer(mof_graph_find_value(f.g, "Y"), NULL);
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_nonnull(y);
    ck_assert_ptr_eq(mof_node_input(s, 1), d);
    ck_assert_ptr_eq(mof_node_input(y, 1), a);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(merge_initializers_in_subgraph)
{
    /* Two equal initializers of a Loop-less If branch merge within the branch. */
    struct fixture f;
    fixture_init(&f);
    int64_t d2 = 2;
    mof_value *x = input_f(f.g, "X", 1, &d2);
    mof_value *cond = mof_graph_add_input(f.g, "cond", MOF_DTYPE_BOOL, 0, NULL, NULL);
    mof_node *iff = node(f.g, "If", "if", 1, cond, NULL, NULL);
    mof_graph *t = mof_node_add_subgraph(iff, "then_branch", "then");
    mof_graph *e = mof_node_add_subgraph(iff, "else_branch", "else");
    mof_value *p = init_floats(t, "P", 1, &d2, (const float[]){ 3, 4 });
    mof_value *q = init_floats(t, "Q", 1, &d2, (const float[]){ 3, 4 });
    mof_node *m = node(t, "Mul", "tm", 2, x, p, NULL);
    output(t, out(node(t, "Add", "t_out", 2, out(m), q, NULL)));
    output(e, out(node(e, "Neg", "e_out", 1, x, NULL, NULL)));
    output(f.g, out(iff));
    snapshot(&f);

    ck_assert_int_eq(run(&f, "merge-initializers"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "initializers-merged"), 1);
    t = mof_node_attr_graph(find_node(f.g, "if"), "then_branch");
    ck_assert_uint_eq(mof_graph_n_initializers(t), 1);
    ck_assert_str_eq(mof_value_name(mof_node_input(find_node(t, "t_out"), 1)), "P");
    for (int c = 0; c <= 1; c++) {
        uint8_t v = (uint8_t)c;
        mof_tensor *ct = mof_tensor_create_from(MOF_DTYPE_BOOL, 0, NULL, &v);
        mof_tensor *overrides[2] = { NULL, ct };
        check_equivalent_with(&f, 3, overrides);
        mof_tensor_unref(ct);
    }
    fixture_free(&f);
}
END_TEST

/* ------------------------------------------------------------------ eliminate-noops */

/* A model X -> Relu -> [the node under test, made by the caller] -> Y, where Y is a
 * graph output, so that bypassing the node moves the name Y onto Relu's output. */
struct noop_case {
    struct fixture f;
    mof_value *x;      /* Relu's output: the no-op's input */
};

static void noop_begin(struct noop_case *c, int64_t opset, int rank, const int64_t *dims)
{
    fixture_init_opset(&c->f, opset);
    mof_value *in = input_f(c->f.g, "X", rank, dims);
    c->x = out(node(c->f.g, "Relu", "relu", 1, in, NULL, NULL));
    ck_assert_int_eq(mof_value_copy_type(c->x, in), MOF_OK);
}

/* Makes n's output the graph output Y with the given declared shape, runs
 * eliminate-noops (params may be NULL), and checks the node is gone (or stays). */
static void noop_expect(struct noop_case *c, mof_node *n, int rank, const int64_t *dims,
                        const char *params, const char *stat, bool removed)
{
    const char *syms[8] = { 0 };
    for (int i = 0; i < rank; i++)
        syms[i] = dims[i] < 0 ? "N" : NULL;
    ck_assert_int_eq(mof_value_set_type(out(n), MOF_DTYPE_FLOAT, rank, dims, syms), MOF_OK);
    output(c->f.g, out(n));
    snapshot(&c->f);
    char passes[128];
    snprintf(passes, sizeof passes, "eliminate-noops%s", params ? params : "");
    const char *op = mof_node_op_type(n);
    char op_copy[32];
    snprintf(op_copy, sizeof op_copy, "%s", op);
    size_t before = count_op(c->f.g, op_copy);
    ck_assert_int_eq(run(&c->f, passes), removed ? MOF_OK : MOF_UNCHANGED);
    ck_assert_int_eq(stat_of(&c->f, stat), removed ? 1 : 0);
    ck_assert_uint_eq(count_op(c->f.g, op_copy), before - (removed ? 1 : 0));
    if (removed) {
        /* Relu writes Y itself now, under Y's declared type. */
        ck_assert_ptr_eq(mof_value_producer(mof_graph_output(c->f.g, 0), NULL),
                         find_node(c->f.g, "relu"));
        assert_output_type(c->f.g, 0, "Y", rank, dims);
        ck_assert_int_eq(stat_of(&c->f, "nodes-removed"), 1);
    }
    check_equivalent(&c->f);
    fixture_free(&c->f);
}

START_TEST(noop_transpose)
{
    int64_t d[3] = { 2, 3, 4 }, t[3] = { 3, 2, 4 };
    struct noop_case c;
    noop_begin(&c, 13, 3, d);
    mof_node *n = node(c.f.g, "Transpose", "Y", 1, c.x, NULL, NULL);
    set_ints(n, "perm", 3, (const int64_t[]){ 0, 1, 2 });
    noop_expect(&c, n, 3, d, NULL, "transpose-removed", true);

    noop_begin(&c, 13, 3, d);
    n = node(c.f.g, "Transpose", "Y", 1, c.x, NULL, NULL);
    set_ints(n, "perm", 3, (const int64_t[]){ 1, 0, 2 });
    noop_expect(&c, n, 3, t, NULL, "transpose-removed", false);

    /* No perm reverses the dims: the identity on a vector. */
    int64_t d5 = 5;
    noop_begin(&c, 13, 1, &d5);
    n = node(c.f.g, "Transpose", "Y", 1, c.x, NULL, NULL);
    noop_expect(&c, n, 1, &d5, NULL, "transpose-removed", true);
}
END_TEST

START_TEST(noop_reshape)
{
    int64_t d[2] = { 2, 3 }, nd[3] = { -1, 3, 4 }, t[2] = { 3, 2 };
    struct noop_case c;
    noop_begin(&c, 13, 2, d);
    mof_value *s = init_vec(c.f.g, "shape", 2, (const int64_t[]){ 2, 3 });
    mof_node *n = node(c.f.g, "Reshape", "Y", 2, c.x, s, NULL);
    noop_expect(&c, n, 2, d, NULL, "reshape-removed", true);

    /* [N,3,4] to [0, 3, -1]: N copied, 4 inferred. The shape initializer goes too. */
    noop_begin(&c, 13, 3, nd);
    s = init_vec(c.f.g, "shape", 3, (const int64_t[]){ 0, 3, -1 });
    n = node(c.f.g, "Reshape", "Y", 2, c.x, s, NULL);
    ck_assert_int_eq(mof_value_set_type(out(n), MOF_DTYPE_FLOAT, 3, nd,
                                        (const char *const[]){ "N", NULL, NULL }),
                     MOF_OK);
    output(c.f.g, out(n));
    snapshot(&c.f);
    ck_assert_int_eq(run(&c.f, "eliminate-noops"), MOF_OK);
    ck_assert_int_eq(stat_of(&c.f, "reshape-removed"), 1);
    ck_assert_uint_eq(mof_graph_n_initializers(c.f.g), 0);
    check_equivalent(&c.f);
    fixture_free(&c.f);

    noop_begin(&c, 13, 2, d);
    s = init_vec(c.f.g, "shape", 2, (const int64_t[]){ 3, 2 });
    n = node(c.f.g, "Reshape", "Y", 2, c.x, s, NULL);
    noop_expect(&c, n, 2, t, NULL, "reshape-removed", false);

    /* [N,3] to [3,-1] is [3,N]: the same only when N is 3. */
    int64_t n3[2] = { -1, 3 }, t3[2] = { 3, -1 };
    noop_begin(&c, 13, 2, n3);
    s = init_vec(c.f.g, "shape", 2, (const int64_t[]){ 3, -1 });
    n = node(c.f.g, "Reshape", "Y", 2, c.x, s, NULL);
    noop_expect(&c, n, 2, t3, NULL, "reshape-removed", false);
}
END_TEST

START_TEST(noop_reshape_of_constant_node)
{
    /* The shape comes from a Constant node, which goes with the Reshape; a Constant
     * that something else still reads stays. */
    int64_t d[2] = { 2, 3 }, d2 = 2;
    struct noop_case c;
    noop_begin(&c, 13, 2, d);
    mof_node *k = node(c.f.g, "Constant", "k", 0, NULL, NULL, NULL);
    mof_tensor *kt = mof_tensor_create_from(MOF_DTYPE_INT64, 1, &d2, (const int64_t[]){ 2, 3 });
    ck_assert_ptr_nonnull(kt);
    ck_assert_int_eq(mof_node_set_attr_tensor(k, "value", kt), MOF_OK);
    mof_node *n = node(c.f.g, "Reshape", "Y", 2, c.x, out(k), NULL);
    output(c.f.g, out(n));
    snapshot(&c.f);
    ck_assert_int_eq(run(&c.f, "eliminate-noops"), MOF_OK);
    ck_assert_int_eq(stat_of(&c.f, "reshape-removed"), 1);
    ck_assert_uint_eq(mof_graph_n_nodes(c.f.g), 1);   /* the Relu, writing Y */
    ck_assert_str_eq(mof_value_name(out(find_node(c.f.g, "relu"))), "Y");
    check_equivalent(&c.f);
    fixture_free(&c.f);

    noop_begin(&c, 13, 2, d);
    k = node(c.f.g, "Constant", "k", 0, NULL, NULL, NULL);
    kt = mof_tensor_create_from(MOF_DTYPE_INT64, 1, &d2, (const int64_t[]){ 2, 3 });
    ck_assert_int_eq(mof_node_set_attr_tensor(k, "value", kt), MOF_OK);
    n = node(c.f.g, "Reshape", "r", 2, c.x, out(k), NULL);
    mof_node *z = node(c.f.g, "Cast", "Z", 1, out(k), NULL, NULL);
    ck_assert_int_eq(mof_node_set_attr_int(z, "to", MOF_DTYPE_FLOAT), MOF_OK);
    output(c.f.g, out(z));
    mof_node *y = node(c.f.g, "Exp", "Y", 1, out(n), NULL, NULL);
    output(c.f.g, out(y));
    snapshot(&c.f);
    ck_assert_int_eq(run(&c.f, "eliminate-noops"), MOF_OK);
    ck_assert_uint_eq(count_op(c.f.g, "Reshape"), 0);
    ck_assert_uint_eq(count_op(c.f.g, "Constant"), 1);
    check_equivalent(&c.f);
    fixture_free(&c.f);
}
END_TEST

START_TEST(noop_cast)
{
    int64_t d[2] = { 2, 3 };
    struct noop_case c;
    noop_begin(&c, 15, 2, d);
    mof_node *n = node(c.f.g, "Cast", "Y", 1, c.x, NULL, NULL);
    ck_assert_int_eq(mof_node_set_attr_int(n, "to", MOF_DTYPE_FLOAT), MOF_OK);
    noop_expect(&c, n, 2, d, NULL, "cast-removed", true);

    noop_begin(&c, 15, 2, d);
    mof_value *like = init_floats(c.f.g, "like", 0, NULL, (const float[]){ 0 });
    n = node(c.f.g, "CastLike", "Y", 2, c.x, like, NULL);
    noop_expect(&c, n, 2, d, NULL, "cast-removed", true);

    /* float -> int32 -> float rounds: neither Cast is a no-op. */
    noop_begin(&c, 15, 2, d);
    mof_node *to_int = node(c.f.g, "Cast", "to_int", 1, c.x, NULL, NULL);
    ck_assert_int_eq(mof_node_set_attr_int(to_int, "to", MOF_DTYPE_INT32), MOF_OK);
    n = node(c.f.g, "Cast", "Y", 1, out(to_int), NULL, NULL);
    ck_assert_int_eq(mof_node_set_attr_int(n, "to", MOF_DTYPE_FLOAT), MOF_OK);
    noop_expect(&c, n, 2, d, NULL, "cast-removed", false);
}
END_TEST

START_TEST(noop_pad)
{
    int64_t d[2] = { 2, 3 }, p[2] = { 2, 5 };
    struct noop_case c;
    noop_begin(&c, 13, 2, d);
    mof_value *pads = init_vec(c.f.g, "pads", 4, (const int64_t[]){ 0, 0, 0, 0 });
    mof_node *n = node(c.f.g, "Pad", "Y", 2, c.x, pads, NULL);
    noop_expect(&c, n, 2, d, NULL, "pad-removed", true);

    noop_begin(&c, 13, 2, d);
    pads = init_vec(c.f.g, "pads", 4, (const int64_t[]){ 0, 1, 0, 1 });
    n = node(c.f.g, "Pad", "Y", 2, c.x, pads, NULL);
    noop_expect(&c, n, 2, p, NULL, "pad-removed", false);

    /* Opset 2: pads is an attribute; reflect mode with zero pads is the identity too. */
    noop_begin(&c, 2, 2, d);
    n = node(c.f.g, "Pad", "Y", 1, c.x, NULL, NULL);
    set_ints(n, "pads", 4, (const int64_t[]){ 0, 0, 0, 0 });
    ck_assert_int_eq(mof_node_set_attr_string(n, "mode", "reflect"), MOF_OK);
    noop_expect(&c, n, 2, d, NULL, "pad-removed", true);
}
END_TEST

START_TEST(noop_slice)
{
    int64_t d[3] = { 2, 3, 4 }, part[3] = { 2, 3, 3 };
    struct noop_case c;
    /* starts [0, -4], ends [INT64_MAX, 4] on axes [1, 2]: everything. */
    noop_begin(&c, 13, 3, d);
    mof_value *starts = init_vec(c.f.g, "starts", 2, (const int64_t[]){ 0, -4 });
    mof_value *ends = init_vec(c.f.g, "ends", 2, (const int64_t[]){ INT64_MAX, 4 });
    mof_value *axes = init_vec(c.f.g, "axes", 2, (const int64_t[]){ 1, -1 });
    mof_value *in[5] = { c.x, starts, ends, axes, NULL };
    mof_node *n = mof_graph_add_node(c.f.g, MOF_INSERT_AFTER, NULL, "Slice", NULL, "Y", 4, in, 1);
    noop_expect(&c, n, 3, d, NULL, "slice-removed", true);

    /* Steps 1 given explicitly, start -100 clamps to 0 on a known dim. */
    noop_begin(&c, 13, 3, d);
    starts = init_vec(c.f.g, "starts", 1, (const int64_t[]){ -100 });
    ends = init_vec(c.f.g, "ends", 1, (const int64_t[]){ 100 });
    axes = init_vec(c.f.g, "axes", 1, (const int64_t[]){ 0 });
    mof_value *steps = init_vec(c.f.g, "steps", 1, (const int64_t[]){ 1 });
    mof_value *in2[5] = { c.x, starts, ends, axes, steps };
    n = mof_graph_add_node(c.f.g, MOF_INSERT_AFTER, NULL, "Slice", NULL, "Y", 5, in2, 1);
    noop_expect(&c, n, 3, d, NULL, "slice-removed", true);

    /* [1:] drops an element. */
    noop_begin(&c, 13, 3, d);
    starts = init_vec(c.f.g, "starts", 1, (const int64_t[]){ 1 });
    ends = init_vec(c.f.g, "ends", 1, (const int64_t[]){ INT64_MAX });
    axes = init_vec(c.f.g, "axes", 1, (const int64_t[]){ 2 });
    mof_value *in3[4] = { c.x, starts, ends, axes };
    n = mof_graph_add_node(c.f.g, MOF_INSERT_AFTER, NULL, "Slice", NULL, "Y", 4, in3, 1);
    noop_expect(&c, n, 3, part, NULL, "slice-removed", false);

    /* Step -1 reverses. */
    noop_begin(&c, 13, 3, d);
    starts = init_vec(c.f.g, "starts", 1, (const int64_t[]){ -1 });
    ends = init_vec(c.f.g, "ends", 1, (const int64_t[]){ INT64_MIN });
    axes = init_vec(c.f.g, "axes", 1, (const int64_t[]){ 0 });
    steps = init_vec(c.f.g, "steps", 1, (const int64_t[]){ -1 });
    mof_value *in4[5] = { c.x, starts, ends, axes, steps };
    n = mof_graph_add_node(c.f.g, MOF_INSERT_AFTER, NULL, "Slice", NULL, "Y", 5, in4, 1);
    noop_expect(&c, n, 3, d, NULL, "slice-removed", false);

    /* Opset 9: attributes. */
    noop_begin(&c, 9, 3, d);
    n = node(c.f.g, "Slice", "Y", 1, c.x, NULL, NULL);
    set_ints(n, "starts", 1, (const int64_t[]){ 0 });
    set_ints(n, "ends", 1, (const int64_t[]){ 3 });
    set_ints(n, "axes", 1, (const int64_t[]){ 1 });
    noop_expect(&c, n, 3, d, NULL, "slice-removed", true);
}
END_TEST

START_TEST(noop_concat_expand_tile)
{
    int64_t d[2] = { 2, 3 }, big[3] = { 2, 2, 3 };
    struct noop_case c;
    noop_begin(&c, 13, 2, d);
    mof_node *n = node(c.f.g, "Concat", "Y", 1, c.x, NULL, NULL);
    ck_assert_int_eq(mof_node_set_attr_int(n, "axis", 1), MOF_OK);
    noop_expect(&c, n, 2, d, NULL, "concat-removed", true);

    noop_begin(&c, 13, 2, d);
    mof_value *s = init_vec(c.f.g, "shape", 2, (const int64_t[]){ 1, 3 });
    n = node(c.f.g, "Expand", "Y", 2, c.x, s, NULL);
    noop_expect(&c, n, 2, d, NULL, "expand-removed", true);

    noop_begin(&c, 13, 2, d);
    s = init_vec(c.f.g, "shape", 3, (const int64_t[]){ 2, 1, 1 });
    n = node(c.f.g, "Expand", "Y", 2, c.x, s, NULL);
    noop_expect(&c, n, 3, big, NULL, "expand-removed", false);

    noop_begin(&c, 13, 2, d);
    s = init_vec(c.f.g, "repeats", 2, (const int64_t[]){ 1, 1 });
    n = node(c.f.g, "Tile", "Y", 2, c.x, s, NULL);
    noop_expect(&c, n, 2, d, NULL, "tile-removed", true);
}
END_TEST

START_TEST(noop_squeeze_flatten)
{
    int64_t d[2] = { 2, 3 }, d1[2] = { 1, 3 }, d3 = 3;
    struct noop_case c;
    noop_begin(&c, 13, 2, d);
    mof_node *n = node(c.f.g, "Squeeze", "Y", 1, c.x, NULL, NULL);
    noop_expect(&c, n, 2, d, NULL, "squeeze-removed", true);

    noop_begin(&c, 13, 2, d1);
    n = node(c.f.g, "Squeeze", "Y", 1, c.x, NULL, NULL);
    noop_expect(&c, n, 1, &d3, NULL, "squeeze-removed", false);

    noop_begin(&c, 13, 2, d);
    n = node(c.f.g, "Flatten", "Y", 1, c.x, NULL, NULL);
    noop_expect(&c, n, 2, d, NULL, "flatten-removed", true);
}
END_TEST

START_TEST(noop_arithmetic)
{
    int64_t d[2] = { 2, 3 }, d3 = 3, d213[3] = { 2, 1, 3 }, d223[3] = { 2, 2, 3 };
    struct noop_case c;
    /* Mul by a scalar 1, on the left. */
    noop_begin(&c, 13, 2, d);
    mof_value *one = init_floats(c.f.g, "one", 0, NULL, (const float[]){ 1 });
    mof_node *n = node(c.f.g, "Mul", "Y", 2, one, c.x, NULL);
    noop_expect(&c, n, 2, d, NULL, "arithmetic-removed", true);

    /* Div by ones of shape [3]. */
    noop_begin(&c, 13, 2, d);
    one = init_floats(c.f.g, "ones", 1, &d3, (const float[]){ 1, 1, 1 });
    n = node(c.f.g, "Div", "Y", 2, c.x, one, NULL);
    noop_expect(&c, n, 2, d, NULL, "arithmetic-removed", true);

    /* Mul by ones of shape [2,1,3] broadcasts [2,3] to [2,2,3]: kept. */
    noop_begin(&c, 13, 2, d);
    one = init_floats(c.f.g, "ones", 3, d213, (const float[]){ 1, 1, 1, 1, 1, 1 });
    n = node(c.f.g, "Mul", "Y", 2, c.x, one, NULL);
    noop_expect(&c, n, 3, d223, NULL, "arithmetic-removed", false);

    /* Div: 1 / x is not x. */
    noop_begin(&c, 13, 2, d);
    one = init_floats(c.f.g, "one", 0, NULL, (const float[]){ 1 });
    n = node(c.f.g, "Div", "Y", 2, one, c.x, NULL);
    noop_expect(&c, n, 2, d, NULL, "arithmetic-removed", false);

    /* Add of -0.0 is exact; Add of +0.0 is not (it makes -0.0 +0.0)... */
    noop_begin(&c, 13, 2, d);
    mof_value *z = init_floats(c.f.g, "z", 0, NULL, (const float[]){ -0.0f });
    n = node(c.f.g, "Add", "Y", 2, c.x, z, NULL);
    noop_expect(&c, n, 2, d, NULL, "arithmetic-removed", true);

    noop_begin(&c, 13, 2, d);
    z = init_floats(c.f.g, "z", 0, NULL, (const float[]){ 0.0f });
    n = node(c.f.g, "Add", "Y", 2, z, c.x, NULL);
    noop_expect(&c, n, 2, d, NULL, "arithmetic-removed", false);

    /* Sub of +0.0 is exact. */
    noop_begin(&c, 13, 2, d);
    z = init_floats(c.f.g, "z", 0, NULL, (const float[]){ 0.0f });
    n = node(c.f.g, "Sub", "Y", 2, c.x, z, NULL);
    noop_expect(&c, n, 2, d, NULL, "arithmetic-removed", true);

    /* Mul by 2 is not the identity. */
    noop_begin(&c, 13, 2, d);
    z = init_floats(c.f.g, "two", 0, NULL, (const float[]){ 2.0f });
    n = node(c.f.g, "Mul", "Y", 2, c.x, z, NULL);
    noop_expect(&c, n, 2, d, NULL, "arithmetic-removed", false);
}
END_TEST

START_TEST(noop_add_positive_zero_when_allowed)
{
    /* keep-signed-zeros=false removes Add of +0.0: the outputs then differ only in
     * the sign of zeros, so this test compares values, not bytes. */
    int64_t d[2] = { 2, 3 };
    struct fixture f;
    fixture_init(&f);
    mof_value *x = input_f(f.g, "X", 2, d);
    mof_value *z = init_floats(f.g, "z", 0, NULL, (const float[]){ 0.0f });
    mof_node *r = node(f.g, "Relu", "relu", 1, x, NULL, NULL);
    ck_assert_int_eq(mof_value_copy_type(out(r), x), MOF_OK);
    output(f.g, out(node(f.g, "Add", "Y", 2, out(r), z, NULL)));
    ck_assert_int_eq(run(&f, "eliminate-noops"), MOF_UNCHANGED);
    ck_assert_int_eq(run(&f, "eliminate-noops(keep-signed-zeros=false)"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "arithmetic-removed"), 1);
    ck_assert_uint_eq(count_op(f.g, "Add"), 0);
    ck_assert_uint_eq(mof_graph_n_initializers(f.g), 0);
    fixture_free(&f);
}
END_TEST

START_TEST(noop_integer_add_zero)
{
    int64_t d3 = 3;
    struct fixture f;
    fixture_init(&f);
    mof_value *x = mof_graph_add_input(f.g, "X", MOF_DTYPE_INT64, 1, &d3, NULL);
    mof_value *z = init_vec(f.g, "z", 1, (const int64_t[]){ 0 });
    mof_node *a = node(f.g, "Abs", "abs", 1, x, NULL, NULL);
    ck_assert_int_eq(mof_value_copy_type(out(a), x), MOF_OK);
    output(f.g, out(node(f.g, "Add", "Y", 2, z, out(a), NULL)));
    snapshot(&f);
    ck_assert_int_eq(run(&f, "eliminate-noops"), MOF_OK);
    ck_assert_uint_eq(count_op(f.g, "Add"), 0);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(noop_interface_kept)
{
    /* A Transpose copying graph input X to graph output Y must stay; after
     * infer-shapes, a Reshape whose shape is computed at run time still goes. */
    int64_t d[2] = { 2, 3 };
    struct fixture f;
    fixture_init(&f);
    mof_value *x = input_f(f.g, "X", 2, d);
    mof_node *t = node(f.g, "Transpose", "Y", 1, x, NULL, NULL);
    set_ints(t, "perm", 2, (const int64_t[]){ 0, 1 });
    output(f.g, out(t));
    mof_node *sh = node(f.g, "Shape", "sh", 1, x, NULL, NULL);
    mof_node *ex = node(f.g, "Exp", "ex", 1, x, NULL, NULL);
    mof_node *rs = node(f.g, "Reshape", "rs", 2, out(ex), out(sh), NULL);
    output(f.g, out(node(f.g, "Neg", "Z", 1, out(rs), NULL, NULL)));
    snapshot(&f);
    ck_assert_int_eq(run(&f, "eliminate-noops"), MOF_UNCHANGED);
    ck_assert_int_eq(run(&f, "infer-shapes,eliminate-noops"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "reshape-removed"), 1);
    ck_assert_int_eq(stat_of(&f, "transpose-removed"), 0);
    ck_assert_uint_eq(count_op(f.g, "Transpose"), 1);
    ck_assert_ptr_eq(mof_node_input(find_node(f.g, "Z"), 0), out(find_node(f.g, "ex")));
    /* Shape is left for dead-code. */
    ck_assert_uint_eq(count_op(f.g, "Shape"), 1);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(noop_in_subgraph)
{
    int64_t d2 = 2;
    struct fixture f;
    fixture_init(&f);
    mof_value *x = input_f(f.g, "X", 1, &d2);
    mof_value *cond = mof_graph_add_input(f.g, "cond", MOF_DTYPE_BOOL, 0, NULL, NULL);
    mof_node *iff = node(f.g, "If", "if", 1, cond, NULL, NULL);
    mof_graph *t = mof_node_add_subgraph(iff, "then_branch", "then");
    mof_graph *e = mof_node_add_subgraph(iff, "else_branch", "else");
    mof_node *neg = node(t, "Neg", "neg", 1, x, NULL, NULL);
    ck_assert_int_eq(mof_value_copy_type(out(neg), x), MOF_OK);
    mof_node *cat = node(t, "Concat", "cat", 1, out(neg), NULL, NULL);
    ck_assert_int_eq(mof_node_set_attr_int(cat, "axis", 0), MOF_OK);
    output(t, out(node(t, "Exp", "t_out", 1, out(cat), NULL, NULL)));
    /* A no-op from an outer value straight to the branch's output must stay. */
    mof_node *ecat = node(e, "Concat", "e_out", 1, x, NULL, NULL);
    ck_assert_int_eq(mof_node_set_attr_int(ecat, "axis", 0), MOF_OK);
    output(e, out(ecat));
    output(f.g, out(iff));
    snapshot(&f);

    ck_assert_int_eq(run(&f, "eliminate-noops"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "concat-removed"), 1);
    mof_node *if2 = find_node(f.g, "if");
    ck_assert_uint_eq(count_op(mof_node_attr_graph(if2, "then_branch"), "Concat"), 0);
    ck_assert_uint_eq(count_op(mof_node_attr_graph(if2, "else_branch"), "Concat"), 1);
    for (int c = 0; c <= 1; c++) {
        uint8_t v = (uint8_t)c;
        mof_tensor *ct = mof_tensor_create_from(MOF_DTYPE_BOOL, 0, NULL, &v);
        mof_tensor *overrides[2] = { NULL, ct };
        check_equivalent_with(&f, 9, overrides);
        mof_tensor_unref(ct);
    }
    fixture_free(&f);
}
END_TEST

/* ------------------------------------------------------------------ merge-consecutive */

START_TEST(pairs_transpose_compose)
{
    /* Transpose [0,2,1] then [1,0,2]: one Transpose with perm [2,0,1]; the second
     * keeps its name and output and takes the first's provenance. */
    int64_t d[3] = { 2, 3, 4 };
    struct fixture f;
    fixture_init(&f);
    mof_value *x = input_f(f.g, "X", 3, d);
    mof_node *t1 = node(f.g, "Transpose", "t1", 1, x, NULL, NULL);
    set_ints(t1, "perm", 3, (const int64_t[]){ 0, 2, 1 });
    mof_node *t2 = node(f.g, "Transpose", "Y", 1, out(t1), NULL, NULL);
    set_ints(t2, "perm", 3, (const int64_t[]){ 1, 0, 2 });
    output(f.g, out(t2));
    reload(&f);
    x = mof_graph_input(f.g, 0);
    snapshot(&f);

    ck_assert_int_eq(run(&f, "merge-consecutive"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "transpose-transpose"), 1);
    ck_assert_int_eq(stat_of(&f, "nodes-removed"), 1);
    mof_node *t = only_op(f.g, "Transpose");
    ck_assert_str_eq(mof_node_name(t), "Y");
    ck_assert_ptr_eq(mof_node_input(t, 0), x);
    assert_attr_ints(t, "perm", 3, (const int64_t[]){ 2, 0, 1 });
    ck_assert(has_origin(t, "t1"));
    ck_assert(has_origin(t, "Y"));
    check_equivalent(&f);
    ck_assert_int_eq(run(&f, "merge-consecutive"), MOF_UNCHANGED);
    fixture_free(&f);
}
END_TEST

START_TEST(pairs_transpose_cancel_chain)
{
    /* Transposes [1,2,0] then [2,0,1] cancel; then a chain of five (the last two
     * without perm) composes into one in a single run; then two without perm, which
     * reverse twice, cancel whatever the rank. */
    int64_t d[3] = { 2, 3, 4 };
    struct fixture f;
    fixture_init(&f);
    mof_value *x = input_f(f.g, "X", 3, d);
    mof_node *a = node(f.g, "Transpose", "a", 1, x, NULL, NULL);
    set_ints(a, "perm", 3, (const int64_t[]){ 1, 2, 0 });
    mof_node *b = node(f.g, "Transpose", "b", 1, out(a), NULL, NULL);
    set_ints(b, "perm", 3, (const int64_t[]){ 2, 0, 1 });
    mof_node *r = node(f.g, "Relu", "r", 1, out(b), NULL, NULL);
    mof_node *c1 = node(f.g, "Transpose", "c1", 1, out(r), NULL, NULL);
    set_ints(c1, "perm", 3, (const int64_t[]){ 1, 0, 2 });
    mof_node *c2 = node(f.g, "Transpose", "c2", 1, out(c1), NULL, NULL);
    set_ints(c2, "perm", 3, (const int64_t[]){ 0, 2, 1 });
    mof_node *c3 = node(f.g, "Transpose", "c3", 1, out(c2), NULL, NULL);
    set_ints(c3, "perm", 3, (const int64_t[]){ 2, 1, 0 });
    mof_node *c4 = node(f.g, "Transpose", "c4", 1, out(c3), NULL, NULL);
    mof_node *c5 = node(f.g, "Transpose", "Y", 1, out(c4), NULL, NULL);
    output(f.g, out(c5));
    mof_node *e = node(f.g, "Exp", "e", 1, out(r), NULL, NULL);
    mof_node *n1 = node(f.g, "Transpose", "n1", 1, out(e), NULL, NULL);
    mof_node *n2 = node(f.g, "Transpose", "n2", 1, out(n1), NULL, NULL);
    output(f.g, out(node(f.g, "Neg", "Z", 1, out(n2), NULL, NULL)));
    snapshot(&f);

    ck_assert_int_eq(run(&f, "merge-consecutive"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "transpose-transpose"), 6);
    ck_assert_int_eq(stat_of(&f, "nodes-removed"), 8);
    ck_assert_ptr_eq(mof_node_input(find_node(f.g, "r"), 0), x);
    ck_assert_ptr_eq(mof_node_input(find_node(f.g, "Z"), 0), out(find_node(f.g, "e")));
    mof_node *c = only_op(f.g, "Transpose");
    ck_assert_str_eq(mof_node_name(c), "Y");
    ck_assert_ptr_eq(mof_node_input(c, 0), out(find_node(f.g, "r")));
    /* c1 . c2 . c3, then two reversals: q = p1[p2[p3[j]]]. */
    const int64_t p1[3] = { 1, 0, 2 }, p2[3] = { 0, 2, 1 }, p3[3] = { 2, 1, 0 };
    int64_t q[3];
    for (int j = 0; j < 3; j++)
        q[j] = p1[p2[p3[j]]];
    assert_attr_ints(c, "perm", 3, q);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(pairs_transpose_first_shared)
{
    /* The first Transpose has another user: it stays, the second reads X directly. */
    int64_t d[2] = { 2, 3 };
    struct fixture f;
    fixture_init(&f);
    mof_value *x = input_f(f.g, "X", 2, d);
    mof_node *t1 = node(f.g, "Transpose", "t1", 1, x, NULL, NULL);
    set_ints(t1, "perm", 2, (const int64_t[]){ 1, 0 });
    mof_node *t2 = node(f.g, "Transpose", "t2", 1, out(t1), NULL, NULL);
    set_ints(t2, "perm", 2, (const int64_t[]){ 1, 0 });
    output(f.g, out(node(f.g, "Exp", "Y", 1, out(t2), NULL, NULL)));
    output(f.g, out(node(f.g, "Neg", "Z", 1, out(t1), NULL, NULL)));
    snapshot(&f);

    ck_assert_int_eq(run(&f, "merge-consecutive"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "transpose-transpose"), 1);
    ck_assert_uint_eq(count_op(f.g, "Transpose"), 1);
    ck_assert_ptr_eq(mof_node_input(find_node(f.g, "Y"), 0), x);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

START_TEST(pairs_reshape)
{
    /* [2,3,4] -Reshape-> [6,4] -Reshape-> [4,6]: one Reshape of X; the first's shape
     * initializer goes with it. Flatten -> Reshape too. A second shape with a 0
     * copies a dim of the first's output: kept. */
    int64_t d[3] = { 2, 3, 4 };
    struct fixture f;
    fixture_init(&f);
    mof_value *x = input_f(f.g, "X", 3, d);
    mof_value *s1 = init_vec(f.g, "s1", 2, (const int64_t[]){ 6, 4 });
    mof_value *s2 = init_vec(f.g, "s2", 2, (const int64_t[]){ 4, -1 });
    mof_value *s3 = init_vec(f.g, "s3", 2, (const int64_t[]){ 0, -1 });
    mof_node *r1 = node(f.g, "Reshape", "r1", 2, x, s1, NULL);
    mof_node *r2 = node(f.g, "Reshape", "Y", 2, out(r1), s2, NULL);
    output(f.g, out(r2));
    mof_node *fl = node(f.g, "Flatten", "fl", 1, x, NULL, NULL);
    ck_assert_int_eq(mof_node_set_attr_int(fl, "axis", 2), MOF_OK);
    output(f.g, out(node(f.g, "Reshape", "Z", 2, out(fl), s2, NULL)));
    mof_node *r3 = node(f.g, "Reshape", "r3", 2, x, s1, NULL);
    output(f.g, out(node(f.g, "Reshape", "W", 2, out(r3), s3, NULL)));
    snapshot(&f);

    ck_assert_int_eq(run(&f, "merge-consecutive"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "reshape-reshape"), 2);
    ck_assert_ptr_eq(mof_node_input(find_node(f.g, "Y"), 0), x);
    ck_assert_ptr_eq(mof_node_input(find_node(f.g, "Z"), 0), x);
    ck_assert_ptr_null(find_node(f.g, "r1"));
    ck_assert_ptr_null(find_node(f.g, "fl"));
    ck_assert_ptr_nonnull(find_node(f.g, "r3"));
    ck_assert_uint_eq(count_op(f.g, "Reshape"), 4);
    /* s1 is still read by r3. */
    ck_assert_ptr_nonnull(mof_graph_find_value(f.g, "s1"));
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

/* Builds X -> Relu -> op1(axes1) -> op2(axes2) -> Y at the given opset (axes as attribute
 * before 13, as initializers from 13 on), runs merge-consecutive and returns the
 * fixture for the caller's checks (freed by the caller). */
static void squeeze_pair(struct fixture *f, int64_t opset, int rank, const int64_t *dims,
                         const char *op1, size_t n1, const int64_t *axes1, const char *op2,
                         size_t n2, const int64_t *axes2)
{
    fixture_init_opset(f, opset);
    mof_value *in = input_f(f->g, "X", rank, dims);
    mof_value *x = out(node(f->g, "Relu", "relu", 1, in, NULL, NULL));
    ck_assert_int_eq(mof_value_copy_type(x, in), MOF_OK);
    mof_node *a, *b;
    if (opset < 13) {
        a = node(f->g, op1, "first", 1, x, NULL, NULL);
        set_ints(a, "axes", n1, axes1);
        b = node(f->g, op2, "Y", 1, out(a), NULL, NULL);
        set_ints(b, "axes", n2, axes2);
    } else {
        mof_value *v1 = init_vec(f->g, "axes1", n1, axes1);
        mof_value *v2 = init_vec(f->g, "axes2", n2, axes2);
        a = node(f->g, op1, "first", 2, x, v1, NULL);
        b = node(f->g, op2, "Y", 2, out(a), v2, NULL);
    }
    output(f->g, out(b));
    snapshot(f);
}

/* The axes of a Squeeze/Unsqueeze after the pass. */
static void assert_axes(const struct fixture *f, const mof_node *n, int64_t opset, size_t count,
                        const int64_t *want)
{
    if (opset < 13) {
        assert_attr_ints(n, "axes", count, want);
    } else {
        assert_ints(const_ints(mof_node_input(n, 1), (int64_t)count), count, want);
        /* The old axes initializers are gone; the new one is the only one. */
        ck_assert_uint_eq(mof_graph_n_initializers(f->g), 1);
    }
}

START_TEST(pairs_squeeze_squeeze)
{
    /* [1,3,1,4,1]: Squeeze [0] -> [3,1,4,1], then Squeeze [1,-1] -> [3,4]: one
     * Squeeze [0,2,4]. At opset 13 (inputs) and 11 (attributes). */
    int64_t d[5] = { 1, 3, 1, 4, 1 };
    const int64_t want[3] = { 0, 2, 4 };
    for (int64_t opset = 11; opset <= 13; opset += 2) {
        struct fixture f;
        squeeze_pair(&f, opset, 5, d, "Squeeze", 1, (const int64_t[]){ 0 }, "Squeeze", 2,
                     (const int64_t[]){ 1, -1 });
        ck_assert_int_eq(run(&f, "merge-consecutive"), MOF_OK);
        ck_assert_int_eq(stat_of(&f, "squeeze-squeeze"), 1);
        mof_node *s = only_op(f.g, "Squeeze");
        ck_assert_str_eq(mof_node_name(s), "Y");
        ck_assert_ptr_eq(mof_node_input(s, 0), out(find_node(f.g, "relu")));
        assert_axes(&f, s, opset, 3, want);
        check_equivalent(&f);
        fixture_free(&f);
    }
}
END_TEST

START_TEST(pairs_unsqueeze_unsqueeze)
{
    /* [3,4]: Unsqueeze [1] -> [3,1,4], then Unsqueeze [0,-1] -> [1,3,1,4,1]: one
     * Unsqueeze [0,2,4]. */
    int64_t d[2] = { 3, 4 };
    const int64_t want[3] = { 0, 2, 4 };
    for (int64_t opset = 11; opset <= 13; opset += 2) {
        struct fixture f;
        squeeze_pair(&f, opset, 2, d, "Unsqueeze", 1, (const int64_t[]){ 1 }, "Unsqueeze", 2,
                     (const int64_t[]){ 0, -1 });
        ck_assert_int_eq(run(&f, "merge-consecutive"), MOF_OK);
        ck_assert_int_eq(stat_of(&f, "unsqueeze-unsqueeze"), 1);
        mof_node *u = only_op(f.g, "Unsqueeze");
        assert_axes(&f, u, opset, 3, want);
        check_equivalent(&f);
        fixture_free(&f);
    }
}
END_TEST

START_TEST(pairs_squeeze_unsqueeze_cancel)
{
    /* Unsqueeze [0,2] then Squeeze [2,-4] on [3,4] (rank 4 in between): cancel.
     * Squeeze [1] then Unsqueeze [-2] on [3,1,4]: cancel. Squeeze [0] then
     * Unsqueeze [1] on [1,3]: [3,1], kept. */
    int64_t d[2] = { 3, 4 }, d3[3] = { 3, 1, 4 }, d13[2] = { 1, 3 };
    for (int64_t opset = 11; opset <= 13; opset += 2) {
        struct fixture f;
        squeeze_pair(&f, opset, 2, d, "Unsqueeze", 2, (const int64_t[]){ 0, 2 }, "Squeeze", 2,
                     (const int64_t[]){ 2, -4 });
        ck_assert_int_eq(run(&f, "merge-consecutive"), MOF_OK);
        ck_assert_int_eq(stat_of(&f, "unsqueeze-squeeze"), 1);
        ck_assert_int_eq(stat_of(&f, "nodes-removed"), 2);
        ck_assert_uint_eq(mof_graph_n_nodes(f.g), 1);   /* the Relu now writes Y */
        ck_assert_uint_eq(mof_graph_n_initializers(f.g), 0);
        ck_assert_str_eq(mof_value_name(out(find_node(f.g, "relu"))), "Y");
        check_equivalent(&f);
        fixture_free(&f);

        squeeze_pair(&f, opset, 3, d3, "Squeeze", 1, (const int64_t[]){ 1 }, "Unsqueeze", 1,
                     (const int64_t[]){ -2 });
        ck_assert_int_eq(run(&f, "merge-consecutive"), MOF_OK);
        ck_assert_int_eq(stat_of(&f, "squeeze-unsqueeze"), 1);
        check_equivalent(&f);
        fixture_free(&f);

        squeeze_pair(&f, opset, 2, d13, "Squeeze", 1, (const int64_t[]){ 0 }, "Unsqueeze", 1,
                     (const int64_t[]){ 1 });
        ck_assert_int_eq(run(&f, "merge-consecutive"), MOF_UNCHANGED);
        ck_assert_uint_eq(mof_graph_n_nodes(f.g), 3);
        fixture_free(&f);
    }
}
END_TEST

START_TEST(pairs_cancel_to_graph_output)
{
    /* Relu -> Unsqueeze [0] -> Squeeze [0] = Y: the Relu writes Y itself, under Y's
     * declared type [N,3]. */
    int64_t d[2] = { -1, 3 };
    struct fixture f;
    fixture_init(&f);
    mof_value *x = input_f(f.g, "X", 2, d);
    mof_node *r = node(f.g, "Relu", "relu", 1, x, NULL, NULL);
    mof_value *ax = init_vec(f.g, "ax", 1, (const int64_t[]){ 0 });
    mof_node *u = node(f.g, "Unsqueeze", "u", 2, out(r), ax, NULL);
    mof_node *s = node(f.g, "Squeeze", "Y", 2, out(u), ax, NULL);
    ck_assert_int_eq(mof_value_set_type(out(s), MOF_DTYPE_FLOAT, 2, d,
                                        (const char *const[]){ "N", NULL }),
                     MOF_OK);
    output(f.g, out(s));
    snapshot(&f);
    ck_assert_int_eq(run(&f, "merge-consecutive"), MOF_OK);
    ck_assert_uint_eq(mof_graph_n_nodes(f.g), 1);
    ck_assert_uint_eq(mof_graph_n_initializers(f.g), 0);
    ck_assert_ptr_eq(mof_value_producer(mof_graph_output(f.g, 0), NULL), find_node(f.g, "relu"));
    assert_output_type(f.g, 0, "Y", 2, d);
    check_equivalent(&f);

    /* X -> Transpose -> Transpose -> Y with X a graph input cannot cancel (Y must keep
     * its name): one Transpose with the identity perm stays. */
    struct fixture g;
    fixture_init(&g);
    mof_value *gx = input_f(g.g, "X", 2, d);
    mof_node *t1 = node(g.g, "Transpose", "t1", 1, gx, NULL, NULL);
    mof_node *t2 = node(g.g, "Transpose", "Y", 1, out(t1), NULL, NULL);
    output(g.g, out(t2));
    snapshot(&g);
    ck_assert_int_eq(run(&g, "merge-consecutive"), MOF_OK);
    mof_node *t = only_op(g.g, "Transpose");
    ck_assert_ptr_eq(mof_node_input(t, 0), gx);
    assert_attr_ints(t, "perm", 2, (const int64_t[]){ 0, 1 });
    check_equivalent(&g);
    fixture_free(&g);
    fixture_free(&f);
}
END_TEST

START_TEST(pairs_in_subgraph)
{
    int64_t d[2] = { 2, 3 };
    struct fixture f;
    fixture_init(&f);
    mof_value *x = input_f(f.g, "X", 2, d);
    mof_value *cond = mof_graph_add_input(f.g, "cond", MOF_DTYPE_BOOL, 0, NULL, NULL);
    mof_node *iff = node(f.g, "If", "if", 1, cond, NULL, NULL);
    mof_graph *t = mof_node_add_subgraph(iff, "then_branch", "then");
    mof_graph *e = mof_node_add_subgraph(iff, "else_branch", "else");
    mof_node *t1 = node(t, "Transpose", "t1", 1, x, NULL, NULL);
    mof_node *t2 = node(t, "Transpose", "t2", 1, out(t1), NULL, NULL);
    output(t, out(node(t, "Exp", "t_out", 1, out(t2), NULL, NULL)));
    output(e, out(node(e, "Neg", "e_out", 1, x, NULL, NULL)));
    output(f.g, out(iff));
    snapshot(&f);
    ck_assert_int_eq(run(&f, "merge-consecutive"), MOF_OK);
    t = mof_node_attr_graph(find_node(f.g, "if"), "then_branch");
    ck_assert_uint_eq(count_op(t, "Transpose"), 0);
    for (int c = 0; c <= 1; c++) {
        uint8_t v = (uint8_t)c;
        mof_tensor *ct = mof_tensor_create_from(MOF_DTYPE_BOOL, 0, NULL, &v);
        mof_tensor *overrides[2] = { NULL, ct };
        check_equivalent_with(&f, 11, overrides);
        mof_tensor_unref(ct);
    }
    fixture_free(&f);
}
END_TEST

/* ------------------------------------------------------------------ together */

START_TEST(all_passes_save_and_reload)
{
    /* A pipeline of all four, then the model saved and read back: still valid ONNX,
     * and the same function. */
    int64_t d[2] = { 2, 3 };
    struct fixture f;
    fixture_init(&f);
    mof_value *x = input_f(f.g, "X", 2, d);
    mof_value *w1 = init_floats(f.g, "w1", 2, d, (const float[]){ 1, 2, 3, 4, 5, 6 });
    mof_value *w2 = init_floats(f.g, "w2", 2, d, (const float[]){ 1, 2, 3, 4, 5, 6 });
    mof_node *a = node(f.g, "Mul", "a", 2, x, w1, NULL);
    mof_node *b = node(f.g, "Mul", "b", 2, x, w2, NULL);
    mof_node *ta = node(f.g, "Transpose", "ta", 1, out(a), NULL, NULL);
    mof_node *tb = node(f.g, "Transpose", "tb", 1, out(ta), NULL, NULL);
    mof_value *one = init_floats(f.g, "one", 0, NULL, (const float[]){ 1 });
    mof_node *m = node(f.g, "Mul", "m", 2, out(tb), one, NULL);
    output(f.g, out(node(f.g, "Add", "Y", 2, out(m), out(b), NULL)));
    snapshot(&f);

    ck_assert_int_eq(run(&f, "merge-initializers,cse,merge-consecutive,infer-shapes,"
                             "eliminate-noops,dead-code"),
                     MOF_UNCHANGED);
    ck_assert_uint_eq(mof_graph_n_nodes(f.g), 2);
    ck_assert_uint_eq(count_op(f.g, "Mul"), 1);
    ck_assert_uint_eq(mof_graph_n_initializers(f.g), 1);
    check_equivalent(&f);

    void *buf = NULL;
    size_t size = 0;
    ck_assert_status(f.ctx, mof_model_save_buffer(f.model, &buf, &size), MOF_OK);
    mof_model *back = mof_model_load_buffer(f.ctx, buf, size, "reloaded.onnx", NULL);
    free(buf);
    if (!back)
        mof_test_print_diags(f.ctx);
    ck_assert_ptr_nonnull(back);
    mof_model_destroy(f.model);
    f.model = back;
    f.g = mof_model_graph(back);
    ck_assert_uint_eq(mof_graph_n_nodes(f.g), 2);
    check_equivalent(&f);
    fixture_free(&f);
}
END_TEST

static Suite *simplify_suite(void)
{
    Suite *s = suite_create("simplify");
    TCase *cse = tcase_create("cse");
    tcase_add_test(cse, cse_merges_duplicates);
    tcase_add_test(cse, cse_chain_in_one_run);
    tcase_add_test(cse, cse_needs_equal_attributes_and_inputs);
    tcase_add_test(cse, cse_graph_outputs);
    tcase_add_test(cse, cse_never_random_or_subgraph_or_custom);
    tcase_add_test(cse, cse_multiple_outputs);
    tcase_add_test(cse, cse_in_subgraphs);
    suite_add_tcase(s, cse);

    TCase *init = tcase_create("merge-initializers");
    tcase_add_test(init, merge_initializers_equal_bytes);
    tcase_add_test(init, merge_initializers_not_graph_inputs);
    tcase_add_test(init, merge_initializers_in_subgraph);
    suite_add_tcase(s, init);

    TCase *noops = tcase_create("eliminate-noops");
    tcase_add_test(noops, noop_transpose);
    tcase_add_test(noops, noop_reshape);
    tcase_add_test(noops, noop_reshape_of_constant_node);
    tcase_add_test(noops, noop_cast);
    tcase_add_test(noops, noop_pad);
    tcase_add_test(noops, noop_slice);
    tcase_add_test(noops, noop_concat_expand_tile);
    tcase_add_test(noops, noop_squeeze_flatten);
    tcase_add_test(noops, noop_arithmetic);
    tcase_add_test(noops, noop_add_positive_zero_when_allowed);
    tcase_add_test(noops, noop_integer_add_zero);
    tcase_add_test(noops, noop_interface_kept);
    tcase_add_test(noops, noop_in_subgraph);
    suite_add_tcase(s, noops);

    TCase *pairs = tcase_create("merge-consecutive");
    tcase_add_test(pairs, pairs_transpose_compose);
    tcase_add_test(pairs, pairs_transpose_cancel_chain);
    tcase_add_test(pairs, pairs_transpose_first_shared);
    tcase_add_test(pairs, pairs_reshape);
    tcase_add_test(pairs, pairs_squeeze_squeeze);
    tcase_add_test(pairs, pairs_unsqueeze_unsqueeze);
    tcase_add_test(pairs, pairs_squeeze_unsqueeze_cancel);
    tcase_add_test(pairs, pairs_cancel_to_graph_output);
    tcase_add_test(pairs, pairs_in_subgraph);
    suite_add_tcase(s, pairs);

    TCase *all = tcase_create("together");
    tcase_add_test(all, all_passes_save_and_reload);
    suite_add_tcase(s, all);
    return s;
}

MOF_TEST_MAIN(simplify_suite)
