/* testutil.h: helpers for mof's Check unit tests. */
#ifndef MOF_TESTUTIL_H
#define MOF_TESTUTIL_H

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mof/mof.h>

/* Prints every diagnostic of ctx to stderr (to explain a failure). */
static inline void mof_test_print_diags(const mof_context *ctx)
{
    for (size_t i = 0; i < mof_context_n_diags(ctx); i++) {
        char *s = mof_diag_format(mof_context_diag(ctx, i));
        fprintf(stderr, "  diag: %s\n", s ? s : "(out of memory)");
        free(s);
    }
}

/* Asserts that an expression returns `want`, printing the context's diagnostics. */
#define ck_assert_status(ctx, expr, want)                                                  \
    do {                                                                                   \
        mof_status st_ = (expr);                                                           \
        if (st_ != (want))                                                                 \
            mof_test_print_diags(ctx);                                                     \
        ck_assert_msg(st_ == (want), "%s returned %d (%s), expected %d (%s)", #expr,      \
                      (int)st_, mof_status_str(st_), (int)(want), mof_status_str(want));   \
    } while (0)

/* True when some diagnostic's formatted text contains `needle`. */
static inline int mof_test_diag_contains(const mof_context *ctx, const char *needle)
{
    int found = 0;
    for (size_t i = 0; i < mof_context_n_diags(ctx) && !found; i++) {
        char *s = mof_diag_format(mof_context_diag(ctx, i));
        found = s && strstr(s, needle) != NULL;
        free(s);
    }
    return found;
}

/* A test case of suite s running each test between setup and teardown; tests are
 * added to the returned case. */
static inline TCase *mof_test_tcase(Suite *s, const char *name, void (*setup)(void),
                                    void (*teardown)(void))
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, setup, teardown);
    suite_add_tcase(s, tc);
    return tc;
}

/* A fixture's setup: a new context and an empty model (*g is its main graph). */
static inline void mof_test_model_setup(mof_context **ctx, mof_model **model, mof_graph **g)
{
    *ctx = mof_context_create();
    ck_assert_ptr_nonnull(*ctx);
    *model = mof_model_create(*ctx);
    ck_assert_ptr_nonnull(*model);
    *g = mof_model_graph(*model);
}

static inline void mof_test_model_teardown(mof_context *ctx, mof_model *model)
{
    mof_model_destroy(model);
    mof_context_destroy(ctx);
}

/* Declares a test file's statics ctx, model and g (its main graph) and the fixture
 * functions setup() (a new context and empty model) and teardown(). */
#define MOF_TEST_MODEL_FIXTURE                                                             \
    static mof_context *ctx;                                                               \
    static mof_model *model;                                                               \
    static mof_graph *g;                                                                   \
    static void setup(void)                                                                \
    {                                                                                      \
        mof_test_model_setup(&ctx, &model, &g);                                            \
    }                                                                                      \
    static void teardown(void)                                                             \
    {                                                                                      \
        mof_test_model_teardown(ctx, model);                                               \
    }

/* A node at the end of gr with one output and n_in (at most 3) of the inputs a, b, c
 * (each may be NULL); a failure prints the diagnostics. */
static inline mof_node *mof_test_add_node(mof_graph *gr, const char *op, const char *domain,
                                          const char *name, size_t n_in, mof_value *a,
                                          mof_value *b, mof_value *c)
{
    mof_value *in[3] = {a, b, c};
    ck_assert_uint_le(n_in, 3);
    mof_node *n = mof_graph_add_node(gr, MOF_INSERT_AFTER, NULL, op, domain, name, n_in, in, 1);
    if (!n)
        mof_test_print_diags(mof_model_context(mof_graph_model(gr)));
    ck_assert_ptr_nonnull(n);
    return n;
}

/* A float initializer of shape [n] holding 0, 1, ..., n-1. */
static inline mof_value *mof_test_add_weight(mof_graph *gr, const char *name, int64_t n)
{
    mof_tensor *t = mof_tensor_create(MOF_DTYPE_FLOAT, 1, &n);
    ck_assert_ptr_nonnull(t);
    float *d = mof_tensor_data_mut(t);
    for (int64_t i = 0; i < n; i++)
        d[i] = (float)i;
    mof_value *v = mof_graph_add_initializer(gr, name, t);
    ck_assert_ptr_nonnull(v);
    return v;
}

/* Asserts that v's uses are exactly the (node, input index) pairs given, in order
 * (line: the caller's, for the message). */
static inline void mof_test_expect_uses_(int line, const mof_value *v, size_t count, ...)
{
    ck_assert_msg(mof_value_n_uses(v) == count, "line %d: '%s' has %zu uses, expected %zu",
                  line, mof_value_name(v), mof_value_n_uses(v), count);
    va_list ap;
    va_start(ap, count);
    for (size_t i = 0; i < count; i++) {
        const mof_node *want = va_arg(ap, const mof_node *);
        int want_index = va_arg(ap, int);
        int index = -100;
        const mof_node *got = mof_value_use(v, i, &index);
        ck_assert_msg(got == want && index == want_index,
                      "line %d: use %zu of '%s' is (%s, %d), expected (%s, %d)", line, i,
                      mof_value_name(v), got ? mof_node_name(got) : "NULL", index,
                      want ? mof_node_name(want) : "NULL", want_index);
    }
    va_end(ap);
    ck_assert_ptr_null(mof_value_use(v, count, NULL));
}

static inline void mof_test_expect_verify_ok(mof_context *ctx, const mof_graph *gr)
{
    ck_assert_status(ctx, mof_graph_verify(ctx, gr), MOF_OK);
    ck_assert_uint_eq(mof_context_n_errors(ctx), 0);
}

/* Asserts that verifying gr fails with a diagnostic containing needle1, and one
 * containing needle2 unless it is NULL. */
static inline void mof_test_expect_verify_fails(mof_context *ctx, const mof_graph *gr,
                                                const char *needle1, const char *needle2)
{
    mof_context_clear_diags(ctx);
    ck_assert_status(ctx, mof_graph_verify(ctx, gr), MOF_ERR_VERIFY);
    if (!mof_test_diag_contains(ctx, needle1) || (needle2 && !mof_test_diag_contains(ctx, needle2)))
        mof_test_print_diags(ctx);
    ck_assert_msg(mof_test_diag_contains(ctx, needle1), "no diagnostic contains \"%s\"", needle1);
    if (needle2)
        ck_assert_msg(mof_test_diag_contains(ctx, needle2), "no diagnostic contains \"%s\"",
                      needle2);
}

#ifdef MOF_IR_PRIVATE_H
/* Helpers for tests that build graph inputs, outputs and subgraphs with the internal
 * constructors of ir_private.h (included before this header). */

/* A graph input; syms may be NULL. */
static inline mof_value *mof_test_add_input(mof_graph *gr, const char *name, mof_dtype dtype,
                                            int rank, const int64_t *dims,
                                            const char *const *syms)
{
    mof_value *v = mof_graph_new_value(gr, name);
    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(mof_value_set_type(v, dtype, rank, dims, syms), MOF_OK);
    ck_assert_int_eq(mof_graph_list_input(gr, v, NULL, NULL), MOF_OK);
    return v;
}

static inline void mof_test_add_output(mof_graph *gr, mof_value *v)
{
    ck_assert_int_eq(mof_graph_list_output(gr, v, NULL, NULL), MOF_OK);
}

/* Gives node n a GRAPH attribute `attr` holding a new, empty subgraph called name. */
static inline mof_graph *mof_test_add_subgraph(mof_node *n, const char *attr, const char *name)
{
    mof_attr *a = mof_node_append_attr(n);
    ck_assert_ptr_nonnull(a);
    a->name = mof_strdup(attr);
    a->type = MOF_ATTR_GRAPH;
    a->has_type = true;
    a->has_value = true;
    a->g = mof_graph_new(mof_graph_model(mof_node_graph(n)), n);
    ck_assert_ptr_nonnull(a->g);
    a->g->name = mof_strdup(name);
    return a->g;
}
#endif

/* A main() running one suite in fork mode; exit status 0 when every test passed. */
#define MOF_TEST_MAIN(suite_fn)                                                            \
    int main(void)                                                                         \
    {                                                                                      \
        SRunner *sr = srunner_create(suite_fn());                                          \
        srunner_set_fork_status(sr, CK_FORK);                                              \
        srunner_run_all(sr, CK_NORMAL);                                                    \
        int failed = srunner_ntests_failed(sr);                                            \
        srunner_free(sr);                                                                  \
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;                                       \
    }

#endif
