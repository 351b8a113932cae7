/* test_ir_subgraph.c: unit tests of subgraphs and the values they capture from
 * enclosing graphs (implicit uses, renaming, retargeting, removal), and of model
 * copies (mof_model_dup) and content swaps, whose hard part is re-resolving captures.
 *
 * The fixture is the main graph
 *     pre = Relu(x);  if = If(cond)
 *       then_branch "then": t_add = Add(x, w)     (captures x and the initializer w)
 *       else_branch "else": e_neg = Neg(pre)      (captures pre)
 * with graph inputs x, z, cond and the initializer w. Subgraphs are built with the
 * internal constructors of ir_private.h, as the ONNX reader builds them. */
#include "config.h"

#include <stdarg.h>

#include "ir_private.h"

#include "testutil.h"

static mof_context *ctx;
static mof_model *model;
static mof_graph *g, *then_g, *else_g;
static mof_value *x, *z, *cond, *w, *cx, *cw;
static mof_node *pre, *ifn, *t_add, *e_neg;

/* ------------------------------------------------------------------ helpers */

/* A graph input of type dtype[1, 4]. */
static mof_value *add_input(mof_graph *gr, const char *name, mof_dtype dtype)
{
    const int64_t dims[2] = {1, 4};
    return mof_test_add_input(gr, name, dtype, 2, dims, NULL);
}

static mof_node *add_node(mof_graph *gr, const char *op, const char *name, size_t n_in,
                          mof_value *a, mof_value *b)
{
    return mof_test_add_node(gr, op, NULL, name, n_in, a, b, NULL);
}

static mof_value *out0(const mof_node *n) { return mof_node_output(n, 0); }

#define expect_uses(...) mof_test_expect_uses_(__LINE__, __VA_ARGS__)

static void expect_verify_ok(const mof_graph *gr)
{
    mof_test_expect_verify_ok(ctx, gr);
}

static void expect_verify_fails(const mof_graph *gr, const char *needle1, const char *needle2)
{
    mof_test_expect_verify_fails(ctx, gr, needle1, needle2);
}

static void setup(void)
{
    mof_test_model_setup(&ctx, &model, &g);
    x = add_input(g, "x", MOF_DTYPE_FLOAT);
    z = add_input(g, "z", MOF_DTYPE_FLOAT);
    cond = add_input(g, "cond", MOF_DTYPE_BOOL);
    w = mof_test_add_weight(g, "w", 4);
    pre = add_node(g, "Relu", "pre", 1, x, NULL);
    ifn = add_node(g, "If", "if", 1, cond, NULL);

    then_g = mof_test_add_subgraph(ifn, "then_branch", "then");
    cx = mof_graph_resolve(then_g, "x");
    cw = mof_graph_resolve(then_g, "w");
    ck_assert_ptr_nonnull(cx);
    ck_assert_ptr_nonnull(cw);
    t_add = add_node(then_g, "Add", "t_add", 2, cx, cw);
    mof_test_add_output(then_g, out0(t_add));

    /* The else branch names the outer value directly: add_node captures it. */
    else_g = mof_test_add_subgraph(ifn, "else_branch", "else");
    e_neg = add_node(else_g, "Neg", "e_neg", 1, out0(pre), NULL);
    mof_test_add_output(else_g, out0(e_neg));
}

static void teardown(void)
{
    mof_test_model_teardown(ctx, model);
}

/* ------------------------------------------------------------------ captures */

START_TEST(test_captures_recorded)
{
    ck_assert_uint_eq(mof_node_n_subgraphs(ifn), 2);
    ck_assert_ptr_eq(mof_node_subgraph(ifn, 0), then_g);
    ck_assert_ptr_eq(mof_node_subgraph(ifn, 1), else_g);
    ck_assert_ptr_eq(mof_node_attr_graph(ifn, "then_branch"), then_g);
    ck_assert_ptr_eq(mof_node_attr_graph(ifn, "else_branch"), else_g);
    ck_assert_int_eq(mof_node_attr_type(ifn, "else_branch"), MOF_ATTR_GRAPH);
    ck_assert_ptr_eq(mof_graph_parent(then_g), ifn);
    ck_assert_ptr_eq(mof_graph_model(then_g), model);
    ck_assert_str_eq(mof_graph_name(then_g), "then");

    /* Each outer value records one implicit use per subgraph that reads it. */
    expect_uses(x, 2, pre, 0, ifn, -1);
    expect_uses(w, 1, ifn, -1);
    expect_uses(out0(pre), 1, ifn, -1);
    expect_uses(cond, 1, ifn, 0);
    expect_uses(z, 0);

    /* The captures live in the subgraph, under the outer name. */
    ck_assert_ptr_eq(mof_value_graph(cx), then_g);
    ck_assert_str_eq(mof_value_name(cx), "x");
    ck_assert_ptr_eq(cx->outer, x);
    ck_assert(cx->flags & MOF_VF_CAPTURE);
    ck_assert_ptr_eq(mof_graph_find_value(then_g, "x"), cx);
    ck_assert_ptr_null(mof_graph_find_value(then_g, "pre"));
    mof_value *cpre = mof_graph_find_value(else_g, "pre");
    ck_assert_ptr_nonnull(cpre);
    ck_assert_ptr_eq(cpre->outer, out0(pre));
    ck_assert_ptr_eq(mof_node_input(e_neg, 0), cpre);
    ck_assert_ptr_eq(mof_node_input(t_add, 0), cx);
    expect_uses(cx, 1, t_add, 0);
    expect_uses(cw, 1, t_add, 1);
    ck_assert_ptr_null(mof_value_producer(cx, NULL));
    ck_assert(!mof_value_is_graph_input(cx));

    /* Resolving again finds the same capture and records nothing new. */
    ck_assert_ptr_eq(mof_graph_resolve(then_g, "x"), cx);
    expect_uses(x, 2, pre, 0, ifn, -1);
    /* A subgraph's own values; names nobody defines; a sibling's values. */
    ck_assert_ptr_eq(mof_graph_resolve(then_g, "t_add"), out0(t_add));
    ck_assert_ptr_null(mof_graph_resolve(then_g, "nothing"));
    ck_assert_ptr_null(mof_graph_resolve(else_g, "t_add"));
    ck_assert_ptr_null(mof_graph_find_value(g, "t_add"));
    expect_verify_ok(g);
}
END_TEST

START_TEST(test_capture_reads_through)
{
    /* Type, initializer status and data come from the captured value. */
    ck_assert(mof_value_has_type(cx));
    ck_assert_int_eq(mof_value_dtype(cx), MOF_DTYPE_FLOAT);
    ck_assert_int_eq(mof_value_rank(cx), 2);
    ck_assert_int_eq(mof_value_dim(cx, 1), 4);
    ck_assert(mof_value_is_initializer(cw));
    ck_assert(mof_value_is_constant(cw));
    ck_assert_ptr_eq(mof_value_tensor(cw), mof_value_tensor(w));
    ck_assert(!mof_value_is_initializer(cx));

    /* A capture has no type, name or data of its own to change. */
    ck_assert_int_eq(mof_value_set_type(cx, MOF_DTYPE_INT8, -1, NULL, NULL), MOF_ERR_INVALID_ARG);
    ck_assert_int_eq(mof_value_copy_type(cx, z), MOF_ERR_INVALID_ARG);
    ck_assert_int_eq(mof_value_set_name(cx, "other"), MOF_ERR_INVALID_ARG);
    ck_assert_str_eq(mof_value_name(cx), "x");
    mof_tensor *t = mof_tensor_create(MOF_DTYPE_FLOAT, 0, NULL);
    ck_assert_int_eq(mof_value_set_tensor(cw, t), MOF_ERR_INVALID_ARG);
    mof_tensor_unref(t);

    /* Outputs of subgraph nodes can copy a captured type. */
    ck_assert_int_eq(mof_value_copy_type(out0(t_add), cx), MOF_OK);
    ck_assert_int_eq(mof_value_dtype(out0(t_add)), MOF_DTYPE_FLOAT);
    ck_assert_int_eq(mof_value_rank(out0(t_add)), 2);
    expect_verify_ok(g);
}
END_TEST

START_TEST(test_add_node_captures_outer)
{
    /* Handing an outer value to a subgraph node captures it once. */
    mof_node *a = add_node(then_g, "Mul", "t_mul", 2, z, out0(t_add));
    mof_value *cz = mof_node_input(a, 0);
    ck_assert_ptr_ne(cz, z);
    ck_assert_ptr_eq(mof_value_graph(cz), then_g);
    ck_assert_str_eq(mof_value_name(cz), "z");
    ck_assert_ptr_eq(cz->outer, z);
    expect_uses(z, 1, ifn, -1);
    mof_node *b = add_node(then_g, "Sub", "t_sub", 2, z, x);
    ck_assert_ptr_eq(mof_node_input(b, 0), cz);
    ck_assert_ptr_eq(mof_node_input(b, 1), cx);
    expect_uses(z, 1, ifn, -1);
    expect_uses(x, 2, pre, 0, ifn, -1);
    expect_uses(cz, 2, a, 0, b, 0);
    expect_uses(cx, 2, t_add, 0, b, 1);
    /* set_input captures too. */
    ck_assert_int_eq(mof_node_set_input(e_neg, 0, z), MOF_OK);
    expect_uses(z, 2, ifn, -1, ifn, -1);
    ck_assert_str_eq(mof_value_name(mof_node_input(e_neg, 0)), "z");
    ck_assert_ptr_eq(mof_value_graph(mof_node_input(e_neg, 0)), else_g);
    expect_verify_ok(g);

    /* A value of a subgraph is not visible outside it. */
    ck_assert_int_eq(mof_node_set_input(pre, 0, out0(t_add)), MOF_ERR_INVALID_ARG);
    ck_assert_int_eq(mof_node_set_input(e_neg, 0, out0(t_add)), MOF_ERR_INVALID_ARG);
    ck_assert_ptr_eq(mof_node_input(pre, 0), x);
    ck_assert(!mof_value_can_replace(x, out0(t_add)));
    ck_assert_int_eq(mof_value_replace_uses(x, out0(t_add)), MOF_ERR_INVALID_ARG);
    ck_assert_ptr_null(mof_graph_add_node(g, MOF_INSERT_AFTER, NULL, "Neg", NULL, "bad", 1,
                                          (mof_value *const[]){out0(e_neg)}, 1));
    expect_uses(out0(t_add), 1, a, 1);
    expect_uses(x, 2, pre, 0, ifn, -1);
    mof_context_clear_diags(ctx);
    expect_verify_ok(g);
}
END_TEST

START_TEST(test_replace_uses_retargets_capture)
{
    ck_assert(mof_value_can_replace(x, z));
    ck_assert_int_eq(mof_value_replace_uses(x, z), MOF_OK);
    expect_uses(x, 0);
    expect_uses(z, 2, pre, 0, ifn, -1);
    ck_assert_ptr_eq(mof_node_input(pre, 0), z);
    /* The capture now reads z, and is named after it. */
    ck_assert_ptr_eq(cx->outer, z);
    ck_assert_str_eq(mof_value_name(cx), "z");
    ck_assert_ptr_eq(mof_graph_find_value(then_g, "z"), cx);
    ck_assert_ptr_null(mof_graph_find_value(then_g, "x"));
    ck_assert_ptr_eq(mof_node_input(t_add, 0), cx);
    expect_uses(cx, 1, t_add, 0);
    ck_assert_str_eq(mof_value_name(x), "x");
    expect_verify_ok(g);
    /* The then-branch now reads z twice (for x and w): its two captures become one. */
    ck_assert_int_eq(mof_value_replace_uses(w, z), MOF_OK);
    expect_uses(w, 0);
    expect_uses(z, 2, pre, 0, ifn, -1);
    mof_value *c = mof_node_input(t_add, 0);
    ck_assert_ptr_eq(mof_node_input(t_add, 1), c);
    ck_assert_str_eq(mof_value_name(c), "z");
    ck_assert_ptr_eq(c->outer, z);
    ck_assert_ptr_eq(mof_graph_find_value(then_g, "z"), c);
    ck_assert_ptr_null(mof_graph_find_value(then_g, "w"));
    ck_assert_uint_eq(then_g->n_values, 2); /* the capture and t_add's output */
    expect_uses(c, 2, t_add, 0, t_add, 1);
    expect_verify_ok(g);
    ck_assert_int_eq(mof_graph_remove_initializer(g, w), MOF_OK);
    ck_assert_ptr_null(mof_graph_find_value(g, "w"));
    expect_verify_ok(g);
}
END_TEST

/* A Loop in the then-branch whose body reads x (two levels up) and its own input. */
static mof_node *add_nested(mof_graph **body_out, mof_node **inner_out);

START_TEST(test_replace_uses_merges_nested_captures)
{
    mof_graph *body;
    mof_node *inner;
    mof_node *loop = add_nested(&body, &inner);
    mof_node *inner2 = add_node(body, "Add", "inner2", 2, w, mof_graph_input(body, 0));
    mof_value *bx = mof_node_input(inner, 0), *bw = mof_node_input(inner2, 0);
    ck_assert_ptr_eq(bw->outer, cw);
    expect_uses(cw, 2, t_add, 1, loop, -1);
    expect_verify_ok(g);

    /* w -> x: in both the then-branch and the body, the captures of w fold into those
     * of x, and each level keeps one implicit use. */
    ck_assert_int_eq(mof_value_replace_uses(w, x), MOF_OK);
    expect_uses(w, 0);
    expect_uses(x, 2, pre, 0, ifn, -1);
    ck_assert_ptr_null(mof_graph_find_value(then_g, "w"));
    ck_assert_ptr_null(mof_graph_find_value(body, "w"));
    ck_assert_ptr_eq(mof_node_input(t_add, 1), cx);
    ck_assert_ptr_eq(mof_node_input(inner2, 0), bx);
    expect_uses(cx, 3, t_add, 0, t_add, 1, loop, -1);
    expect_uses(bx, 2, inner, 0, inner2, 0);
    expect_verify_ok(g);
    ck_assert_int_eq(mof_graph_remove_initializer(g, w), MOF_OK);
    expect_verify_ok(g);
}
END_TEST

START_TEST(test_replace_uses_inside_subgraph)
{
    /* Within the then-branch: the capture's uses go to a capture of z. */
    ck_assert(mof_value_can_replace(cx, z));
    ck_assert_int_eq(mof_value_replace_uses(cx, z), MOF_OK);
    mof_value *cz = mof_node_input(t_add, 0);
    ck_assert_ptr_ne(cz, z);
    ck_assert_ptr_eq(mof_value_graph(cz), then_g);
    ck_assert_ptr_eq(cz->outer, z);
    expect_uses(cz, 1, t_add, 0);
    expect_uses(cx, 0);
    expect_uses(z, 1, ifn, -1);
    expect_verify_ok(g);

    /* A subgraph output may take a value computed in the subgraph, never a capture. */
    mof_node *r = add_node(then_g, "Relu", "t_relu", 1, cz, NULL);
    ck_assert(!mof_value_can_replace(out0(t_add), cw));
    ck_assert(!mof_value_can_replace(out0(t_add), w));
    ck_assert_int_eq(mof_value_replace_uses(out0(t_add), cw), MOF_ERR_INVALID_ARG);
    ck_assert_int_eq(mof_value_replace_uses(out0(t_add), out0(r)), MOF_OK);
    ck_assert_ptr_eq(mof_graph_output(then_g, 0), out0(r));
    ck_assert_str_eq(mof_value_name(out0(r)), "t_add");
    ck_assert_str_eq(mof_value_name(cw), "w");
    size_t w_uses = mof_value_n_uses(w);
    ck_assert_int_eq(mof_graph_remove_node(then_g, t_add), MOF_OK);
    /* The capture nothing reads any more is dropped, with its implicit use of w. */
    ck_assert_ptr_null(mof_graph_find_value(then_g, "w"));
    ck_assert_uint_eq(mof_value_n_uses(w), w_uses - 1);
    expect_verify_ok(g);
}
END_TEST

START_TEST(test_replace_captured_subgraph_output)
{
    /* The else-branch returns the outer value pre as it is. */
    mof_value *cpre = mof_node_input(e_neg, 0);
    mof_test_add_output(else_g, cpre);
    mof_node *k = mof_graph_add_node(else_g, MOF_INSERT_BEFORE, NULL, "Constant", NULL, "k", 0,
                                     NULL, 1);
    ck_assert(mof_value_can_replace(cpre, out0(k)));
    ck_assert(!mof_value_can_replace(cpre, out0(pre))); /* not of this graph */
    ck_assert_int_eq(mof_value_replace_uses(cpre, out0(k)), MOF_OK);
    /* The output is k's, which keeps its name: the capture keeps the outer name. */
    ck_assert_ptr_eq(mof_graph_output(else_g, 1), out0(k));
    ck_assert_str_eq(mof_value_name(out0(k)), "k");
    ck_assert_str_eq(mof_value_name(cpre), "pre");
    ck_assert(!mof_value_is_graph_output(cpre));
    ck_assert_ptr_eq(mof_node_input(e_neg, 0), out0(k));
    expect_uses(cpre, 0);
    expect_uses(out0(k), 1, e_neg, 0);
    expect_verify_ok(g);
}
END_TEST

/* A Loop in the then-branch whose body reads x (two levels up) and its own input. */
static mof_node *add_nested(mof_graph **body_out, mof_node **inner_out)
{
    mof_node *loop = add_node(then_g, "Loop", "loop", 0, NULL, NULL);
    mof_graph *body = mof_test_add_subgraph(loop, "body", "body");
    mof_value *it = add_input(body, "it", MOF_DTYPE_INT64);
    *inner_out = add_node(body, "Mul", "inner", 2, x, it);
    mof_test_add_output(body, out0(*inner_out));
    *body_out = body;
    return loop;
}

START_TEST(test_nested_capture)
{
    mof_graph *body;
    mof_node *inner;
    mof_node *loop = add_nested(&body, &inner);
    /* The body captures the then-branch's capture, which already existed. */
    mof_value *bx = mof_node_input(inner, 0);
    ck_assert_ptr_eq(mof_value_graph(bx), body);
    ck_assert_ptr_eq(bx->outer, cx);
    expect_uses(cx, 2, t_add, 0, loop, -1);
    expect_uses(x, 2, pre, 0, ifn, -1);
    ck_assert_int_eq(mof_value_dtype(bx), MOF_DTYPE_FLOAT);

    /* Reading z from the body captures it in the then-branch on the way. */
    mof_value *bz = mof_graph_resolve(body, "z");
    ck_assert_ptr_nonnull(bz);
    mof_value *tz = mof_graph_find_value(then_g, "z");
    ck_assert_ptr_nonnull(tz);
    ck_assert_ptr_eq(bz->outer, tz);
    ck_assert_ptr_eq(tz->outer, z);
    expect_uses(z, 1, ifn, -1);
    expect_uses(tz, 1, loop, -1);
    ck_assert_int_eq(mof_node_set_input(inner, 2, bz), MOF_OK);
    expect_verify_ok(g);

    mof_model_stats st;
    mof_model_get_stats(model, &st);
    ck_assert_uint_eq(st.n_nodes, 2 + 2 + 1 + 1); /* main, then, else, body */

    /* Removing the loop drops the implicit uses it held in the then-branch. */
    ck_assert_int_eq(mof_graph_remove_node(then_g, loop), MOF_OK);
    expect_uses(cx, 1, t_add, 0);
    expect_uses(tz, 0);
    expect_verify_ok(g);
}
END_TEST

START_TEST(test_replace_uses_nested)
{
    mof_graph *body;
    mof_node *inner;
    add_nested(&body, &inner);
    mof_value *bx = mof_node_input(inner, 0);
    ck_assert_int_eq(mof_value_replace_uses(x, z), MOF_OK);
    /* Renamed at every level, each reading the level above. */
    ck_assert_str_eq(mof_value_name(cx), "z");
    ck_assert_str_eq(mof_value_name(bx), "z");
    ck_assert_ptr_eq(cx->outer, z);
    ck_assert_ptr_eq(bx->outer, cx);
    ck_assert_ptr_eq(mof_graph_find_value(body, "z"), bx);
    ck_assert_ptr_null(mof_graph_find_value(body, "x"));
    expect_verify_ok(g);

    /* Renaming the outer value renames every level too. */
    ck_assert_int_eq(mof_value_set_name(z, "zz"), MOF_OK);
    ck_assert_str_eq(mof_value_name(cx), "zz");
    ck_assert_str_eq(mof_value_name(bx), "zz");
    expect_verify_ok(g);
}
END_TEST

START_TEST(test_rename_outer)
{
    ck_assert_int_eq(mof_value_set_name(x, "xx"), MOF_OK);
    ck_assert_str_eq(mof_value_name(x), "xx");
    ck_assert_str_eq(mof_value_name(cx), "xx");
    ck_assert_ptr_eq(mof_graph_find_value(then_g, "xx"), cx);
    ck_assert_ptr_null(mof_graph_find_value(then_g, "x"));
    ck_assert_int_eq(mof_value_set_name(out0(pre), "pre2"), MOF_OK);
    ck_assert_str_eq(mof_value_name(mof_node_input(e_neg, 0)), "pre2");
    /* Names of subgraphs count: a rename may not shadow one. */
    ck_assert_int_eq(mof_value_set_name(x, "t_add"), MOF_ERR_INVALID_ARG);
    ck_assert_int_eq(mof_value_set_name(out0(t_add), "z"), MOF_ERR_INVALID_ARG);
    ck_assert_str_eq(mof_value_name(x), "xx");
    expect_verify_ok(g);
}
END_TEST

START_TEST(test_unique_name_sees_subgraphs)
{
    char *s = mof_graph_unique_name(g, "t_add");
    ck_assert_str_ne(s, "t_add");
    free(s);
    s = mof_graph_unique_name(then_g, "pre");
    ck_assert_str_ne(s, "pre");
    free(s);
    s = mof_graph_unique_name(else_g, "t_add");
    ck_assert_str_ne(s, "t_add");
    free(s);
    s = mof_graph_unique_name(then_g, "fresh");
    ck_assert_str_eq(s, "fresh");
    free(s);
    /* New outputs avoid names used in subgraphs. */
    mof_node *n = add_node(g, "Neg", "e_neg", 1, x, NULL);
    ck_assert_str_ne(mof_value_name(out0(n)), "e_neg");
    mof_value *v = mof_test_add_weight(g, "t_add", 2);
    ck_assert_str_ne(mof_value_name(v), "t_add");
    expect_verify_ok(g);
}
END_TEST

/* ------------------------------------------------------------------ removal */

START_TEST(test_remove_if_drops_implicit_uses)
{
    mof_node *user = add_node(g, "Identity", "user", 1, out0(ifn), NULL);
    ck_assert_int_eq(mof_graph_remove_node(g, ifn), MOF_ERR_INVALID_ARG);
    ck_assert_int_eq(mof_graph_remove_node(g, user), MOF_OK);

    ck_assert_int_eq(mof_graph_remove_node(g, ifn), MOF_OK);
    expect_uses(x, 1, pre, 0);
    expect_uses(w, 0);
    expect_uses(out0(pre), 0);
    expect_uses(cond, 0);
    ck_assert_uint_eq(mof_graph_n_nodes(g), 1);
    expect_verify_ok(g);
    /* What the subgraphs read is free to go. */
    ck_assert_int_eq(mof_graph_remove_initializer(g, w), MOF_OK);
    ck_assert_int_eq(mof_graph_remove_node(g, pre), MOF_OK);
    expect_uses(x, 0);
    expect_verify_ok(g);
}
END_TEST

START_TEST(test_remove_attr_releases_captures)
{
    ck_assert_int_eq(mof_node_remove_attr(ifn, "then_branch"), MOF_OK);
    ck_assert_uint_eq(mof_node_n_subgraphs(ifn), 1);
    ck_assert_ptr_eq(mof_node_subgraph(ifn, 0), else_g);
    expect_uses(x, 1, pre, 0);
    expect_uses(w, 0);
    expect_uses(out0(pre), 1, ifn, -1);
    expect_verify_ok(g);
    ck_assert_int_eq(mof_graph_remove_initializer(g, w), MOF_OK);
    ck_assert_int_eq(mof_graph_remove_node(g, ifn), MOF_OK);
    expect_uses(out0(pre), 0);
    expect_verify_ok(g);
}
END_TEST

START_TEST(test_set_attr_over_subgraph)
{
    /* Overwriting a GRAPH attribute by a setter drops the subgraph and what it read. */
    ck_assert_int_eq(mof_node_set_attr_int(ifn, "then_branch", 0), MOF_OK);
    ck_assert_uint_eq(mof_node_n_subgraphs(ifn), 1);
    ck_assert_int_eq(mof_node_attr_type(ifn, "then_branch"), MOF_ATTR_INT);
    expect_uses(x, 1, pre, 0);
    expect_uses(w, 0);
    expect_verify_ok(g);
    ck_assert_int_eq(mof_graph_remove_node(g, ifn), MOF_OK);
    expect_uses(out0(pre), 0);
    expect_verify_ok(g);
}
END_TEST

START_TEST(test_copy_attrs_subgraphs)
{
    mof_node *if2 = add_node(g, "If", "if2", 1, cond, NULL);
    ck_assert_int_eq(mof_node_copy_attrs(if2, ifn), MOF_OK);
    ck_assert_uint_eq(mof_node_n_subgraphs(if2), 2);
    mof_graph *t2 = mof_node_attr_graph(if2, "then_branch");
    ck_assert_ptr_nonnull(t2);
    ck_assert_ptr_ne(t2, then_g);
    ck_assert_ptr_eq(mof_graph_parent(t2), if2);
    mof_value *cx2 = mof_graph_find_value(t2, "x");
    ck_assert_ptr_nonnull(cx2);
    ck_assert_ptr_ne(cx2, cx);
    ck_assert_ptr_eq(cx2->outer, x);
    ck_assert_ptr_eq(mof_node_input(mof_graph_first_node(t2), 0), cx2);
    expect_uses(x, 3, pre, 0, ifn, -1, if2, -1);
    expect_uses(w, 2, ifn, -1, if2, -1);
    expect_uses(out0(pre), 2, ifn, -1, if2, -1);
    expect_verify_ok(g);

    /* Copying again replaces the copies (and their captures). */
    ck_assert_int_eq(mof_node_copy_attrs(if2, ifn), MOF_OK);
    ck_assert_uint_eq(mof_node_n_attrs(if2), 2);
    expect_uses(x, 3, pre, 0, ifn, -1, if2, -1);
    expect_verify_ok(g);

    ck_assert_int_eq(mof_graph_remove_node(g, if2), MOF_OK);
    expect_uses(x, 2, pre, 0, ifn, -1);
    expect_uses(w, 1, ifn, -1);
    expect_uses(out0(pre), 1, ifn, -1);
    expect_verify_ok(g);
}
END_TEST

/* ------------------------------------------------------------------ verification */

START_TEST(test_verify_missing_implicit_use)
{
    /* Forget the If's implicit use of x (the then-branch still reads it). */
    ck_assert_ptr_eq(x->uses[1].node, ifn);
    x->n_uses = 1;
    expect_verify_fails(g, "node 'if' (If)", "'x'");
}
END_TEST

START_TEST(test_verify_extra_implicit_use)
{
    /* An implicit use by a node none of whose subgraphs read z. */
    ck_assert(MOF_GROW(z->uses, z->cap_uses, 1));
    z->uses[z->n_uses++] = (mof_use){pre, -1};
    expect_verify_fails(g, "node 'pre' (Relu): use list of 'z' records input -1 1 times, the "
                           "node has it 0 times", NULL);
}
END_TEST

START_TEST(test_verify_bad_capture)
{
    /* A capture whose name no longer matches what it reads. */
    cx->outer = z;
    expect_verify_fails(g, "graph 'then': captured value 'x' does not match the value it reads",
                        NULL);
    cx->outer = NULL;
    expect_verify_fails(g, "graph 'then': captured value 'x' reads nothing",
                        "node 't_add' (Add): input 0 ('x') is not defined anywhere");
    cx->outer = x;
    /* A subgraph that names another owner. */
    then_g->parent = pre;
    expect_verify_fails(g, "node 'if' (If): subgraph 0 does not name this node as its owner",
                        NULL);
    then_g->parent = ifn;
    mof_context_clear_diags(ctx);
    expect_verify_ok(g);
}
END_TEST

/* ------------------------------------------------------------------ copies */

/* Asserts that value b (of a copy) has the same uses as a: the same nodes, by id, and
 * inputs, each node in b's graph. */
static void expect_same_uses(const mof_value *a, const mof_value *b)
{
    ck_assert_msg(mof_value_n_uses(a) == mof_value_n_uses(b), "'%s' has %zu uses, copy %zu",
                  mof_value_name(a), mof_value_n_uses(a), mof_value_n_uses(b));
    for (size_t i = 0; i < mof_value_n_uses(a); i++) {
        int ia, ib;
        const mof_node *na = mof_value_use(a, i, &ia);
        size_t in_a = 0, in_b = 0;
        for (size_t k = 0; k < mof_value_n_uses(a); k++) {
            int idx;
            const mof_node *n = mof_value_use(a, k, &idx);
            in_a += mof_node_id(n) == mof_node_id(na) && idx == ia;
        }
        for (size_t k = 0; k < mof_value_n_uses(b); k++) {
            const mof_node *n = mof_value_use(b, k, &ib);
            ck_assert_ptr_eq(mof_node_graph(n), mof_value_graph(b));
            if (mof_node_id(n) == mof_node_id(na) && ib == ia) {
                in_b++;
                ck_assert_str_eq(mof_node_name(n), mof_node_name(na));
                ck_assert_ptr_ne(n, na);
            }
        }
        ck_assert_msg(in_a == in_b, "use (%s, %d) of '%s': %zu times, in the copy %zu",
                      mof_node_name(na), ia, mof_value_name(a), in_a, in_b);
    }
}

static void expect_same_value(const mof_value *a, const mof_value *b, const mof_graph *gb)
{
    if (!a) {
        ck_assert_ptr_null(b);
        return;
    }
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_ne(a, b);
    ck_assert_str_eq(mof_value_name(a), mof_value_name(b));
    ck_assert_ptr_eq(mof_value_graph(b), gb);
}

/* Asserts that graph b is a faithful, separate copy of graph a. */
static void expect_same_graph(const mof_graph *a, const mof_graph *b)
{
    ck_assert_ptr_ne(a, b);
    ck_assert_str_eq(mof_graph_name(a), mof_graph_name(b));
    ck_assert_uint_eq(mof_graph_n_nodes(a), mof_graph_n_nodes(b));
    ck_assert_uint_eq(mof_graph_n_inputs(a), mof_graph_n_inputs(b));
    ck_assert_uint_eq(mof_graph_n_outputs(a), mof_graph_n_outputs(b));
    ck_assert_uint_eq(mof_graph_n_initializers(a), mof_graph_n_initializers(b));
    for (size_t i = 0; i < mof_graph_n_inputs(a); i++)
        expect_same_value(mof_graph_input(a, i), mof_graph_input(b, i), b);
    for (size_t i = 0; i < mof_graph_n_outputs(a); i++)
        expect_same_value(mof_graph_output(a, i), mof_graph_output(b, i), b);
    for (size_t i = 0; i < mof_graph_n_initializers(a); i++) {
        const mof_value *va = mof_graph_initializer(a, i), *vb = mof_graph_initializer(b, i);
        expect_same_value(va, vb, b);
        ck_assert(mof_value_is_initializer(vb));
        /* Tensors are shared, not copied. */
        ck_assert_ptr_eq(mof_value_tensor(vb), mof_value_tensor(va));
    }
    const mof_node *na = mof_graph_first_node(a), *nb = mof_graph_first_node(b);
    for (; na && nb; na = mof_node_next(na), nb = mof_node_next(nb)) {
        ck_assert_ptr_ne(na, nb);
        ck_assert_ptr_eq(mof_node_graph(nb), b);
        ck_assert_str_eq(mof_node_op_type(na), mof_node_op_type(nb));
        ck_assert_str_eq(mof_node_domain(na), mof_node_domain(nb));
        ck_assert_str_eq(mof_node_name(na), mof_node_name(nb));
        ck_assert_uint_eq(mof_node_id(na), mof_node_id(nb));
        ck_assert_uint_eq(mof_node_n_inputs(na), mof_node_n_inputs(nb));
        ck_assert_uint_eq(mof_node_n_outputs(na), mof_node_n_outputs(nb));
        for (size_t i = 0; i < mof_node_n_inputs(na); i++)
            expect_same_value(mof_node_input(na, i), mof_node_input(nb, i), b);
        for (size_t i = 0; i < mof_node_n_outputs(na); i++) {
            expect_same_value(mof_node_output(na, i), mof_node_output(nb, i), b);
            if (mof_node_output(nb, i))
                ck_assert_ptr_eq(mof_value_producer(mof_node_output(nb, i), NULL), nb);
        }
        ck_assert_uint_eq(mof_node_n_attrs(na), mof_node_n_attrs(nb));
        for (size_t i = 0; i < mof_node_n_attrs(na); i++) {
            const char *an = mof_node_attr_name(na, i);
            ck_assert_str_eq(an, mof_node_attr_name(nb, i));
            ck_assert_int_eq(mof_node_attr_type(na, an), mof_node_attr_type(nb, an));
        }
        ck_assert_uint_eq(mof_node_n_origins(na), mof_node_n_origins(nb));
        for (size_t i = 0; i < mof_node_n_origins(na); i++)
            ck_assert_str_eq(mof_node_origin(na, i), mof_node_origin(nb, i));
        ck_assert_uint_eq(mof_node_n_subgraphs(na), mof_node_n_subgraphs(nb));
        for (size_t s = 0; s < mof_node_n_subgraphs(na); s++) {
            const mof_graph *sb = mof_node_subgraph(nb, s);
            ck_assert_ptr_eq(mof_graph_parent(sb), nb);
            ck_assert_ptr_eq(mof_graph_model(sb), mof_graph_model(b));
            expect_same_graph(mof_node_subgraph(na, s), sb);
        }
    }
    ck_assert_ptr_null(na);
    ck_assert_ptr_null(nb);
    /* Every value, its uses, and what each capture reads: the copy's own values. */
    ck_assert_uint_eq(a->n_values, b->n_values);
    for (size_t k = 0; k < a->n_values; k++) {
        const mof_value *va = a->values[k];
        const mof_value *vb = mof_graph_find_value(b, mof_value_name(va));
        ck_assert_msg(vb != NULL, "value '%s' is missing from the copy", mof_value_name(va));
        ck_assert_ptr_ne(vb, va);
        ck_assert_uint_eq(va->flags, vb->flags);
        ck_assert_int_eq(mof_value_dtype(va), mof_value_dtype(vb));
        ck_assert_int_eq(mof_value_rank(va), mof_value_rank(vb));
        expect_same_uses(va, vb);
        if (va->flags & MOF_VF_CAPTURE) {
            const mof_graph *outer_b = mof_node_graph(mof_graph_parent(b));
            ck_assert_ptr_nonnull(vb->outer);
            ck_assert_ptr_ne(vb->outer, va->outer);
            ck_assert_str_eq(mof_value_name(vb->outer), mof_value_name(va->outer));
            ck_assert_ptr_eq(vb->outer, mof_graph_find_value(outer_b, mof_value_name(va)));
        }
    }
}

START_TEST(test_model_dup)
{
    ck_assert_int_eq(mof_model_set_opset(model, "com.microsoft", 1), MOF_OK);
    ck_assert_int_eq(mof_model_metadata_set(model, "author", "me"), MOF_OK);
    ck_assert_int_eq(mof_node_set_attr_ints(pre, "axes", 2, (const int64_t[]){0, 1}), MOF_OK);
    ck_assert_int_eq(mof_node_add_origin(pre, "orig_pre"), MOF_OK);
    mof_test_add_output(g, out0(ifn));
    mof_graph *body;
    mof_node *inner;
    add_nested(&body, &inner);
    mof_value *w2 = mof_test_add_weight(then_g, "tw", 3); /* a subgraph initializer */
    ck_assert_ptr_nonnull(w2);
    mof_tensor *wt = mof_value_tensor(w);
    ck_assert_int_eq(wt->refcount, 1);
    expect_verify_ok(g);

    mof_model *c = mof_model_dup(model);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_ne(c, model);
    ck_assert_ptr_eq(mof_model_context(c), ctx);
    mof_graph *cg = mof_model_graph(c);
    ck_assert_ptr_eq(mof_graph_model(cg), c);
    ck_assert_ptr_null(mof_graph_parent(cg));
    ck_assert_int_eq(mof_model_ir_version(c), 8);
    ck_assert_uint_eq(mof_model_n_opsets(c), 2);
    ck_assert_int_eq(mof_model_opset(c, "com.microsoft"), 1);
    ck_assert_int_eq(mof_model_opset(c, ""), 13);
    ck_assert_str_eq(mof_model_metadata_get(c, "author"), "me");
    ck_assert_ptr_ne(mof_model_metadata_get(c, "author"), mof_model_metadata_get(model, "author"));

    expect_same_graph(g, cg);
    ck_assert_int_eq(wt->refcount, 2);
    /* The copy is as valid as the original. */
    expect_verify_ok(cg);
    /* Captures in the copy read the copy's values, at every level. */
    mof_node *cif = mof_node_next(mof_graph_first_node(cg));
    ck_assert_str_eq(mof_node_name(cif), "if");
    mof_graph *ct = mof_node_attr_graph(cif, "then_branch");
    mof_value *ccx = mof_graph_find_value(ct, "x");
    ck_assert_ptr_eq(ccx->outer, mof_graph_find_value(cg, "x"));
    mof_node *cloop = mof_graph_last_node(ct);
    ck_assert_str_eq(mof_node_op_type(cloop), "Loop");
    mof_graph *cbody = mof_node_attr_graph(cloop, "body");
    ck_assert_ptr_eq(mof_graph_find_value(cbody, "x")->outer, ccx);
    ck_assert_ptr_eq(mof_graph_model(cbody), c);
    size_t count;
    const int64_t *axes = mof_node_attr_ints(mof_graph_first_node(cg), "axes", &count);
    ck_assert_uint_eq(count, 2);
    ck_assert_int_eq(axes[1], 1);
    ck_assert_str_eq(mof_node_origin(mof_graph_first_node(cg), 0), "orig_pre");

    mof_model_stats sa, sb;
    mof_model_get_stats(model, &sa);
    mof_model_get_stats(c, &sb);
    ck_assert_mem_eq(&sa, &sb, sizeof(sa));
    ck_assert_uint_eq(sa.n_nodes, 2 + 2 + 1 + 1);
    ck_assert_uint_eq(sa.n_initializers, 2);
    ck_assert_int_eq(sa.n_parameters, 7);
    ck_assert_int_eq(sa.parameter_bytes, 28);

    mof_model_destroy(c);
    ck_assert_int_eq(wt->refcount, 1);
    expect_verify_ok(g);
}
END_TEST

START_TEST(test_model_dup_independent)
{
    mof_test_add_output(g, out0(ifn));
    mof_model *c = mof_model_dup(model);
    mof_model *ref = mof_model_dup(model);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(ref);
    mof_graph *cg = mof_model_graph(c);
    mof_value *cx_ = mof_graph_find_value(cg, "x");
    mof_value *cz_ = mof_graph_find_value(cg, "z");
    mof_node *cpre = mof_graph_first_node(cg);
    mof_node *cif = mof_node_next(cpre);

    /* Mutate the copy every which way. */
    ck_assert_int_eq(mof_value_replace_uses(cx_, cz_), MOF_OK);
    ck_assert_int_eq(mof_value_set_name(cz_, "renamed"), MOF_OK);
    ck_assert_int_eq(mof_node_set_attr_int(cpre, "extra", 1), MOF_OK);
    ck_assert_int_eq(mof_node_remove_attr(cif, "else_branch"), MOF_OK);
    mof_graph *ct = mof_node_attr_graph(cif, "then_branch");
    add_node(ct, "Neg", "t_neg", 1, mof_graph_find_value(cg, "w"), NULL);
    mof_node *cn = add_node(cg, "Neg", "new", 1, mof_graph_find_value(cg, "w"), NULL);
    ck_assert_int_eq(mof_graph_move_node(cg, cn, MOF_INSERT_BEFORE, NULL), MOF_OK);
    ck_assert_int_eq(mof_model_set_opset(c, "", 18), MOF_OK);
    ck_assert_int_eq(mof_model_metadata_set(c, "k", "v"), MOF_OK);
    expect_verify_ok(cg);

    /* The original is what it was. */
    expect_same_graph(mof_model_graph(ref), g);
    expect_uses(x, 2, pre, 0, ifn, -1);
    expect_uses(z, 0);
    ck_assert_str_eq(mof_value_name(z), "z");
    ck_assert_str_eq(mof_value_name(cx), "x");
    ck_assert_ptr_eq(cx->outer, x);
    ck_assert_uint_eq(mof_node_n_attrs(pre), 0);
    ck_assert_uint_eq(mof_node_n_subgraphs(ifn), 2);
    ck_assert_uint_eq(mof_graph_n_nodes(then_g), 1);
    ck_assert_uint_eq(mof_graph_n_nodes(g), 2);
    ck_assert_int_eq(mof_model_opset(model, ""), 13);
    ck_assert_ptr_null(mof_model_metadata_get(model, "k"));
    expect_verify_ok(g);

    /* Destroying the copy leaves the original whole (ASan checks the rest). */
    mof_model_destroy(c);
    expect_same_graph(mof_model_graph(ref), g);
    /* And the other way round. */
    mof_model_destroy(model);
    model = ref;
    g = mof_model_graph(model);
    expect_verify_ok(g);
}
END_TEST

START_TEST(test_swap_contents)
{
    mof_model *other = mof_model_create(ctx);
    mof_graph *og = mof_model_graph(other);
    mof_model_swap_contents(model, other);
    ck_assert_ptr_eq(mof_model_graph(model), og);
    ck_assert_ptr_eq(mof_model_graph(other), g);
    /* Every graph, subgraphs included, names its new model. */
    ck_assert_ptr_eq(mof_graph_model(g), other);
    ck_assert_ptr_eq(mof_graph_model(then_g), other);
    ck_assert_ptr_eq(mof_graph_model(else_g), other);
    ck_assert_ptr_eq(mof_graph_model(og), model);
    ck_assert_ptr_eq(mof_model_context(other), ctx);
    expect_verify_ok(g);
    expect_verify_ok(og);
    /* A copy made now belongs where it should. */
    mof_model *c = mof_model_dup(other);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_eq(mof_graph_model(mof_node_subgraph(mof_node_next(
                         mof_graph_first_node(mof_model_graph(c))), 0)), c);
    expect_same_graph(g, mof_model_graph(c));
    mof_model_destroy(c);
    /* Swap back (as a pass manager restores a snapshot). */
    mof_model_swap_contents(model, other);
    ck_assert_ptr_eq(mof_graph_model(then_g), model);
    ck_assert_ptr_eq(mof_model_graph(model), g);
    mof_model_destroy(other);
    expect_verify_ok(g);
}
END_TEST

START_TEST(test_stats_subgraphs)
{
    mof_test_add_weight(else_g, "ew", 5);
    mof_model_stats st;
    mof_model_get_stats(model, &st);
    ck_assert_uint_eq(st.n_nodes, 4);
    ck_assert_uint_eq(st.n_initializers, 2);
    ck_assert_int_eq(st.n_parameters, 9);
    ck_assert_int_eq(st.parameter_bytes, 36);
}
END_TEST

static Suite *ir_subgraph_suite(void)
{
    Suite *s = suite_create("ir_subgraph");
    TCase *tc = mof_test_tcase(s, "capture", setup, teardown);
    tcase_add_test(tc, test_captures_recorded);
    tcase_add_test(tc, test_capture_reads_through);
    tcase_add_test(tc, test_add_node_captures_outer);
    tcase_add_test(tc, test_replace_uses_retargets_capture);
    tcase_add_test(tc, test_replace_uses_merges_nested_captures);
    tcase_add_test(tc, test_replace_uses_inside_subgraph);
    tcase_add_test(tc, test_replace_captured_subgraph_output);
    tcase_add_test(tc, test_nested_capture);
    tcase_add_test(tc, test_replace_uses_nested);
    tcase_add_test(tc, test_rename_outer);
    tcase_add_test(tc, test_unique_name_sees_subgraphs);

    tc = mof_test_tcase(s, "remove", setup, teardown);
    tcase_add_test(tc, test_remove_if_drops_implicit_uses);
    tcase_add_test(tc, test_remove_attr_releases_captures);
    tcase_add_test(tc, test_set_attr_over_subgraph);
    tcase_add_test(tc, test_copy_attrs_subgraphs);

    tc = mof_test_tcase(s, "verify", setup, teardown);
    tcase_add_test(tc, test_verify_missing_implicit_use);
    tcase_add_test(tc, test_verify_extra_implicit_use);
    tcase_add_test(tc, test_verify_bad_capture);

    tc = mof_test_tcase(s, "model", setup, teardown);
    tcase_add_test(tc, test_model_dup);
    tcase_add_test(tc, test_model_dup_independent);
    tcase_add_test(tc, test_swap_contents);
    tcase_add_test(tc, test_stats_subgraphs);
    return s;
}

MOF_TEST_MAIN(ir_subgraph_suite)
