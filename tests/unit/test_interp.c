/* test_interp.c: unit tests of the reference interpreter and shape inference, on
 * small graphs built with the IR API: broadcasting, If reading a value of the
 * enclosing graph, Loop with loop-carried and scan outputs, refusal of unsupported
 * ops with the exact message, runtime errors naming the node, single-node
 * evaluation, and shape inference with a symbolic batch dim and a contradiction.
 *
 * Graph inputs, outputs and subgraphs are made with the internal constructors of
 * ir_private.h (linked from the check-only copy of the IR, see tests/ir.mk). */
#include "config.h"

#include <math.h>

#include "ir_private.h"

#include "testutil.h"

MOF_TEST_MODEL_FIXTURE

/* ------------------------------------------------------------------ helpers */

static mof_value *add_floats(mof_graph *gr, const char *name, size_t rank, const int64_t *dims,
                             const float *data)
{
    mof_tensor *t = mof_tensor_create_from(MOF_DTYPE_FLOAT, rank, dims, data);
    ck_assert_ptr_nonnull(t);
    mof_value *v = mof_graph_add_initializer(gr, name, t);
    ck_assert_ptr_nonnull(v);
    return v;
}

static mof_value *out0(const mof_node *n) { return mof_node_output(n, 0); }

static mof_tensor *floats(size_t rank, const int64_t *dims, const float *data)
{
    mof_tensor *t = mof_tensor_create_from(MOF_DTYPE_FLOAT, rank, dims, data);
    ck_assert_ptr_nonnull(t);
    return t;
}

static void expect_floats(const mof_tensor *t, size_t rank, const int64_t *dims,
                          const float *want)
{
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(mof_tensor_dtype(t), MOF_DTYPE_FLOAT);
    ck_assert_uint_eq(mof_tensor_rank(t), rank);
    for (size_t i = 0; i < rank; i++)
        ck_assert_int_eq(mof_tensor_dims(t)[i], dims[i]);
    const float *d = mof_tensor_data(t);
    for (int64_t i = 0; i < mof_tensor_numel(t); i++)
        ck_assert_msg(fabsf(d[i] - want[i]) <= 1e-6f * (1 + fabsf(want[i])),
                      "element %lld is %g, expected %g", (long long)i, d[i], want[i]);
}

static mof_interp *create_ok(void)
{
    mof_interp *it = mof_interp_create(ctx, model);
    if (!it)
        mof_test_print_diags(ctx);
    ck_assert_ptr_nonnull(it);
    return it;
}

/* ------------------------------------------------------------------ running */

START_TEST(test_add_broadcast)
{
    const int64_t xd[2] = {2, 3}, bd[1] = {3};
    mof_value *x = mof_test_add_input(g, "x", MOF_DTYPE_FLOAT, 2, xd, NULL);
    mof_value *b = add_floats(g, "b", 1, bd, (const float[]){10, 20, 30});
    mof_node *add = mof_test_add_node(g, "Add", NULL, "add", 2, x, b, NULL);
    mof_test_add_output(g, out0(add));

    mof_interp *it = create_ok();
    mof_tensor *in = floats(2, xd, (const float[]){0, 1, 2, 3, 4, 5});
    mof_tensor *out = NULL;
    ck_assert_status(ctx, mof_interp_run(it, 1, &in, 1, &out), MOF_OK);
    expect_floats(out, 2, xd, (const float[]){10, 21, 32, 13, 24, 35});
    mof_tensor_unref(out);

    /* A tensor that contradicts the input's declared shape is refused. */
    const int64_t wrong[2] = {3, 2};
    mof_tensor *bad = floats(2, wrong, (const float[]){0, 1, 2, 3, 4, 5});
    ck_assert_status(ctx, mof_interp_run(it, 1, &bad, 1, &out), MOF_ERR_INVALID_ARG);
    ck_assert_ptr_null(out);
    ck_assert(mof_test_diag_contains(ctx, "input 'x': dim 0 is 3, expected 2"));
    mof_tensor_unref(bad);
    mof_tensor_unref(in);
    mof_interp_destroy(it);
}
END_TEST

/* A chain whose intermediates are released as soon as they are used, and a value
 * used twice (by Mul and by the output) that must survive its first use. */
START_TEST(test_chain_and_reuse)
{
    const int64_t d[1] = {4};
    mof_value *x = mof_test_add_input(g, "x", MOF_DTYPE_FLOAT, 1, d, NULL);
    mof_node *r = mof_test_add_node(g, "Relu", NULL, "r", 1, x, NULL, NULL);
    mof_node *n = mof_test_add_node(g, "Neg", NULL, "n", 1, out0(r), NULL, NULL);
    mof_node *m = mof_test_add_node(g, "Mul", NULL, "m", 2, out0(n), out0(r), NULL);
    mof_node *s = mof_test_add_node(g, "Sqrt", NULL, "s", 1, out0(r), NULL, NULL);
    mof_test_add_output(g, out0(m));
    mof_test_add_output(g, out0(s));
    mof_test_add_output(g, out0(r));

    mof_interp *it = create_ok();
    mof_tensor *in = floats(1, d, (const float[]){-1, 4, 9, -16});
    mof_tensor *out[3] = {0};
    ck_assert_status(ctx, mof_interp_run(it, 1, &in, 3, out), MOF_OK);
    expect_floats(out[0], 1, d, (const float[]){0, -16, -81, 0});
    expect_floats(out[1], 1, d, (const float[]){0, 2, 3, 0});
    expect_floats(out[2], 1, d, (const float[]){0, 4, 9, 0});
    for (int i = 0; i < 3; i++)
        mof_tensor_unref(out[i]);
    mof_tensor_unref(in);
    mof_interp_destroy(it);
}
END_TEST

/* The observer sees each main-graph node once, in order, with its outputs; a
 * negative status from it stops the run with that status. */
typedef struct seen {
    int calls;
    char ops[4][8];
    float first[4];
    int fail_at;
} seen;

static mof_status observe(void *user, const mof_node *node, size_t n_outputs,
                          mof_tensor *const *outputs)
{
    seen *s = user;
    ck_assert_uint_eq(n_outputs, 1);
    if (s->calls == s->fail_at)
        return MOF_ERR_VERIFY;
    snprintf(s->ops[s->calls], sizeof(s->ops[0]), "%s", mof_node_op_type(node));
    s->first[s->calls] = ((const float *)mof_tensor_data(outputs[0]))[0];
    s->calls++;
    return MOF_OK;
}

START_TEST(test_observer)
{
    const int64_t d[1] = {2};
    mof_value *x = mof_test_add_input(g, "x", MOF_DTYPE_FLOAT, 1, d, NULL);
    mof_node *n = mof_test_add_node(g, "Neg", NULL, "n", 1, x, NULL, NULL);
    mof_node *r = mof_test_add_node(g, "Relu", NULL, "r", 1, out0(n), NULL, NULL);
    mof_test_add_output(g, out0(r));

    mof_interp *it = create_ok();
    mof_tensor *in = floats(1, d, (const float[]){-3, 5});
    mof_tensor *out = NULL;
    seen s = {.fail_at = -1};
    mof_interp_set_observer(it, observe, &s);
    ck_assert_status(ctx, mof_interp_run(it, 1, &in, 1, &out), MOF_OK);
    ck_assert_int_eq(s.calls, 2);
    ck_assert_str_eq(s.ops[0], "Neg");
    ck_assert_str_eq(s.ops[1], "Relu");
    ck_assert(s.first[0] == 3.0f && s.first[1] == 3.0f);
    mof_tensor_unref(out);

    seen stop = {.fail_at = 1};
    mof_interp_set_observer(it, observe, &stop);
    ck_assert_int_eq(mof_interp_run(it, 1, &in, 1, &out), MOF_ERR_VERIFY);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(stop.calls, 1);

    /* Cleared: runs without calling anything. */
    mof_interp_set_observer(it, NULL, NULL);
    ck_assert_status(ctx, mof_interp_run(it, 1, &in, 1, &out), MOF_OK);
    mof_tensor_unref(out);
    mof_tensor_unref(in);
    mof_interp_destroy(it);
}
END_TEST

/* If picks a branch; each branch reads x from the main graph. */
START_TEST(test_if_reads_outer_value)
{
    const int64_t d[1] = {3};
    mof_value *cond = mof_test_add_input(g, "cond", MOF_DTYPE_BOOL, 0, NULL, NULL);
    mof_test_add_input(g, "x", MOF_DTYPE_FLOAT, 1, d, NULL);
    mof_node *ifn = mof_test_add_node(g, "If", NULL, "if", 1, cond, NULL, NULL);
    mof_graph *then_g = mof_test_add_subgraph(ifn, "then_branch", "then_branch");
    mof_graph *else_g = mof_test_add_subgraph(ifn, "else_branch", "else_branch");
    mof_value *tx = mof_graph_resolve(then_g, "x");
    mof_value *ex = mof_graph_resolve(else_g, "x");
    ck_assert_ptr_nonnull(tx);
    ck_assert_ptr_nonnull(ex);
    mof_node *twice = mof_test_add_node(then_g, "Add", NULL, "twice", 2, tx, tx, NULL);
    mof_test_add_output(then_g, out0(twice));
    mof_test_add_output(else_g, out0(mof_test_add_node(else_g, "Neg", NULL, "neg", 1, ex, NULL,
                                                       NULL)));
    mof_test_add_output(g, out0(ifn));
    ck_assert_status(ctx, mof_graph_verify(ctx, g), MOF_OK);

    mof_interp *it = create_ok();
    uint8_t yes = 1, no = 0;
    mof_tensor *in[2] = {mof_tensor_create_from(MOF_DTYPE_BOOL, 0, NULL, &yes),
                         floats(1, d, (const float[]){1, -2, 3})};
    mof_tensor *out = NULL;
    ck_assert_status(ctx, mof_interp_run(it, 2, in, 1, &out), MOF_OK);
    expect_floats(out, 1, d, (const float[]){2, -4, 6});
    mof_tensor_unref(out);
    mof_tensor_unref(in[0]);
    in[0] = mof_tensor_create_from(MOF_DTYPE_BOOL, 0, NULL, &no);
    ck_assert_status(ctx, mof_interp_run(it, 2, in, 1, &out), MOF_OK);
    expect_floats(out, 1, d, (const float[]){-1, 2, -3});
    mof_tensor_unref(out);
    mof_tensor_unref(in[0]);
    mof_tensor_unref(in[1]);
    mof_interp_destroy(it);
}
END_TEST

/* Loop(M, "", acc): acc += float(i) + w (w read from the main graph), with the running
 * value as a scan output. */
START_TEST(test_loop_accumulates)
{
    const int64_t one[1] = {1};
    mof_value *m = mof_test_add_input(g, "M", MOF_DTYPE_INT64, 0, NULL, NULL);
    mof_value *acc0 = mof_test_add_input(g, "acc0", MOF_DTYPE_FLOAT, 1, one, NULL);
    add_floats(g, "w", 1, one, (const float[]){0.5f});
    mof_value *in[3] = {m, NULL, acc0};
    mof_node *loop = mof_graph_add_node(g, MOF_INSERT_AFTER, NULL, "Loop", NULL, "loop", 3,
                                        in, 2);
    ck_assert_ptr_nonnull(loop);
    mof_graph *body = mof_test_add_subgraph(loop, "body", "body");
    mof_value *i = mof_test_add_input(body, "i", MOF_DTYPE_INT64, 0, NULL, NULL);
    mof_value *c = mof_test_add_input(body, "c", MOF_DTYPE_BOOL, 0, NULL, NULL);
    mof_value *acc = mof_test_add_input(body, "acc", MOF_DTYPE_FLOAT, 1, one, NULL);
    mof_value *w = mof_graph_resolve(body, "w");
    ck_assert_ptr_nonnull(w);
    mof_node *cast = mof_test_add_node(body, "Cast", NULL, "cast", 1, i, NULL, NULL);
    ck_assert_int_eq(mof_node_set_attr_int(cast, "to", MOF_DTYPE_FLOAT), MOF_OK);
    mof_node *inc = mof_test_add_node(body, "Add", NULL, "inc", 2, out0(cast), w, NULL);
    mof_node *sum = mof_test_add_node(body, "Add", NULL, "sum", 2, acc, out0(inc), NULL);
    mof_node *keep = mof_test_add_node(body, "Identity", NULL, "keep", 1, c, NULL, NULL);
    mof_node *scan = mof_test_add_node(body, "Identity", NULL, "scan", 1, out0(sum), NULL, NULL);
    mof_test_add_output(body, out0(keep));
    mof_test_add_output(body, out0(sum));
    mof_test_add_output(body, out0(scan));
    mof_test_add_output(g, mof_node_output(loop, 0));
    mof_test_add_output(g, mof_node_output(loop, 1));
    ck_assert_status(ctx, mof_graph_verify(ctx, g), MOF_OK);

    mof_interp *it = create_ok();
    int64_t trips = 4;
    mof_tensor *ins[2] = {mof_tensor_create_from(MOF_DTYPE_INT64, 0, NULL, &trips),
                          floats(1, one, (const float[]){100})};
    mof_tensor *outs[2] = {0};
    ck_assert_status(ctx, mof_interp_run(it, 2, ins, 2, outs), MOF_OK);
    /* 100 + 0.5 + 1.5 + 2.5 + 3.5 */
    expect_floats(outs[0], 1, one, (const float[]){108});
    const int64_t sd[2] = {4, 1};
    expect_floats(outs[1], 2, sd, (const float[]){100.5f, 102, 104.5f, 108});
    mof_tensor_unref(outs[0]);
    mof_tensor_unref(outs[1]);

    /* Zero trips: the initial value comes back, the scan output is empty. */
    mof_tensor_unref(ins[0]);
    trips = 0;
    ins[0] = mof_tensor_create_from(MOF_DTYPE_INT64, 0, NULL, &trips);
    ck_assert_status(ctx, mof_interp_run(it, 2, ins, 2, outs), MOF_OK);
    expect_floats(outs[0], 1, one, (const float[]){100});
    ck_assert_int_eq(mof_tensor_numel(outs[1]), 0);
    mof_tensor_unref(outs[0]);
    mof_tensor_unref(outs[1]);
    mof_tensor_unref(ins[0]);
    mof_tensor_unref(ins[1]);
    mof_interp_destroy(it);
}
END_TEST

START_TEST(test_unsupported_refused)
{
    const int64_t d[1] = {2};
    mof_value *x = mof_test_add_input(g, "x", MOF_DTYPE_FLOAT, 1, d, NULL);
    mof_node *a = mof_test_add_node(g, "Foo", "x", "n", 1, x, NULL, NULL);
    mof_node *b = mof_test_add_node(g, "Relu", NULL, "ok", 1, out0(a), NULL, NULL);
    mof_node *c = mof_test_add_node(g, "NoSuchOp", NULL, "m", 1, out0(b), NULL, NULL);
    mof_test_add_output(g, out0(c));
    ck_assert_int_eq(mof_model_set_opset(model, "x", 1), MOF_OK);

    ck_assert_ptr_null(mof_interp_create(ctx, model));
    /* Every unsupported node is reported, and nothing else. */
    ck_assert_uint_eq(mof_context_n_errors(ctx), 2);
    char *s0 = mof_diag_format(mof_context_diag(ctx, 0));
    char *s1 = mof_diag_format(mof_context_diag(ctx, 1));
    ck_assert_str_eq(s0, "error: node 'n' (Foo, domain 'x'): not implemented by the interpreter");
    ck_assert_str_eq(s1, "error: node 'm' (NoSuchOp, domain 'ai.onnx'): not implemented by the "
                         "interpreter");
    free(s0);
    free(s1);
    ck_assert(!mof_interp_supports("x", "Foo", 1));
    ck_assert(mof_interp_supports("", "Relu", 13));
    ck_assert(mof_interp_supports("ai.onnx", "Relu", 13));
    ck_assert(!mof_interp_supports("", "Gelu", 13)); /* Gelu exists from opset 20 */
}
END_TEST

START_TEST(test_runtime_error_names_node)
{
    const int64_t d[1] = {2};
    mof_value *x = mof_test_add_input(g, "x", MOF_DTYPE_INT32, 1, d, NULL);
    mof_value *y = mof_test_add_input(g, "y", MOF_DTYPE_INT32, 1, d, NULL);
    mof_node *div = mof_test_add_node(g, "Div", NULL, "div", 2, x, y, NULL);
    mof_test_add_output(g, out0(div));
    mof_interp *it = create_ok();
    int32_t a[2] = {7, -7}, b[2] = {2, 0};
    mof_tensor *in[2] = {mof_tensor_create_from(MOF_DTYPE_INT32, 1, d, a),
                         mof_tensor_create_from(MOF_DTYPE_INT32, 1, d, b)};
    mof_tensor *out = NULL;
    ck_assert_status(ctx, mof_interp_run(it, 2, in, 1, &out), MOF_ERR_INVALID_MODEL);
    ck_assert_ptr_null(out);
    ck_assert(mof_test_diag_contains(ctx, "node 'div' (Div): integer division by zero"));
    /* Integer division truncates toward zero. */
    mof_context_clear_diags(ctx);
    b[1] = 2;
    mof_tensor_unref(in[1]);
    in[1] = mof_tensor_create_from(MOF_DTYPE_INT32, 1, d, b);
    ck_assert_status(ctx, mof_interp_run(it, 2, in, 1, &out), MOF_OK);
    const int32_t *r = mof_tensor_data(out);
    ck_assert_int_eq(r[0], 3);
    ck_assert_int_eq(r[1], -3);
    mof_tensor_unref(out);
    mof_tensor_unref(in[0]);
    mof_tensor_unref(in[1]);
    mof_interp_destroy(it);
}
END_TEST

START_TEST(test_eval_node)
{
    const int64_t d[1] = {3};
    mof_value *x = mof_test_add_input(g, "x", MOF_DTYPE_FLOAT, 1, d, NULL);
    mof_node *sm = mof_test_add_node(g, "Softmax", NULL, "sm", 1, x, NULL, NULL);
    mof_tensor *in = floats(1, d, (const float[]){1, 1, 1});
    mof_tensor *out = NULL;
    ck_assert_status(ctx, mof_interp_eval_node(ctx, sm, 13, 1, &in, 1, &out), MOF_OK);
    expect_floats(out, 1, d, (const float[]){1.0f / 3, 1.0f / 3, 1.0f / 3});
    mof_tensor_unref(out);
    mof_tensor_unref(in);
}
END_TEST

/* Half-precision conversions round to nearest even, straight from the source value. */
START_TEST(test_cast_float16)
{
    const int64_t d[1] = {6};
    mof_value *x = mof_test_add_input(g, "x", MOF_DTYPE_FLOAT, 1, d, NULL);
    mof_node *c = mof_test_add_node(g, "Cast", NULL, "c", 1, x, NULL, NULL);
    ck_assert_int_eq(mof_node_set_attr_int(c, "to", MOF_DTYPE_FLOAT16), MOF_OK);
    /* 1 + 2^-11 is halfway between 1 and 1 + 2^-10: even wins (1). 65520 rounds to
     * inf; 2^-25 (halfway to the smallest subnormal) to 0; 3 * 2^-25 to 2^-23. */
    mof_tensor *in = floats(1, d, (const float[]){1.00048828125f, 1.00146484375f, 65520.0f,
                                                  2.98023223876953125e-8f,
                                                  8.94069671630859375e-8f, -0.0f});
    mof_tensor *out = NULL;
    ck_assert_status(ctx, mof_interp_eval_node(ctx, c, 13, 1, &in, 1, &out), MOF_OK);
    const uint16_t *h = mof_tensor_data(out);
    ck_assert_uint_eq(h[0], 0x3c00);
    ck_assert_uint_eq(h[1], 0x3c02);
    ck_assert_uint_eq(h[2], 0x7c00);
    ck_assert_uint_eq(h[3], 0x0000);
    ck_assert_uint_eq(h[4], 0x0002);
    ck_assert_uint_eq(h[5], 0x8000);
    mof_tensor_unref(out);
    mof_tensor_unref(in);
}
END_TEST

/* ------------------------------------------------------------------ kernels by opset
 * The ONNX 1.12 test data stops at opset 17: what changed later is tested here. */

/* Evaluates a one-output node of the given inputs at an opset. */
static mof_tensor *eval1(mof_node *n, int64_t opset, size_t n_in, mof_tensor **in)
{
    mof_tensor *out = NULL;
    ck_assert_status(ctx, mof_interp_eval_node(ctx, n, opset, n_in, in, 1, &out), MOF_OK);
    return out;
}

START_TEST(test_reduce_axes_input)
{
    const int64_t xd[2] = {2, 3}, ad[1] = {1};
    mof_value *x = mof_test_add_input(g, "x", MOF_DTYPE_FLOAT, 2, xd, NULL);
    mof_value *a = mof_test_add_input(g, "axes", MOF_DTYPE_INT64, 1, ad, NULL);
    mof_node *mean = mof_test_add_node(g, "ReduceMean", NULL, "mean", 2, x, a, NULL);
    ck_assert_int_eq(mof_node_set_attr_int(mean, "keepdims", 0), MOF_OK);
    int64_t axis = 1;
    mof_tensor *in[2] = {floats(2, xd, (const float[]){0, 1, 2, 3, 4, 5}),
                         mof_tensor_create_from(MOF_DTYPE_INT64, 1, ad, &axis)};
    mof_tensor *out = eval1(mean, 18, 2, in);
    const int64_t od[1] = {2};
    expect_floats(out, 1, od, (const float[]){1, 4});
    mof_tensor_unref(out);
    /* No axes: everything, unless noop_with_empty_axes. */
    mof_tensor *no_axes[2] = {in[0], NULL};
    ck_assert_int_eq(mof_node_truncate_inputs(mean, 1), MOF_OK);
    out = eval1(mean, 18, 1, no_axes);
    expect_floats(out, 0, NULL, (const float[]){2.5f});
    mof_tensor_unref(out);
    ck_assert_int_eq(mof_node_set_attr_int(mean, "noop_with_empty_axes", 1), MOF_OK);
    out = eval1(mean, 18, 1, no_axes);
    expect_floats(out, 2, xd, (const float[]){0, 1, 2, 3, 4, 5});
    mof_tensor_unref(out);
    /* Before opset 18 the axes are an attribute. */
    ck_assert_int_eq(mof_node_set_attr_ints(mean, "axes", 1, &axis), MOF_OK);
    out = eval1(mean, 13, 1, no_axes);
    expect_floats(out, 1, od, (const float[]){1, 4});
    mof_tensor_unref(out);
    mof_tensor_unref(in[0]);
    mof_tensor_unref(in[1]);
}
END_TEST

START_TEST(test_new_activations)
{
    const int64_t d[1] = {2};
    mof_value *x = mof_test_add_input(g, "x", MOF_DTYPE_FLOAT, 1, d, NULL);
    mof_node *gelu = mof_test_add_node(g, "Gelu", NULL, "gelu", 1, x, NULL, NULL);
    mof_node *mish = mof_test_add_node(g, "Mish", NULL, "mish", 1, x, NULL, NULL);
    mof_tensor *in = floats(1, d, (const float[]){1, -2});
    mof_tensor *out = eval1(gelu, 20, 1, &in);
    expect_floats(out, 1, d, (const float[]){0.8413447f, -0.0455003f});
    mof_tensor_unref(out);
    ck_assert_int_eq(mof_node_set_attr_string(gelu, "approximate", "tanh"), MOF_OK);
    out = eval1(gelu, 20, 1, &in);
    expect_floats(out, 1, d, (const float[]){0.8411920f, -0.0454023f});
    mof_tensor_unref(out);
    out = eval1(mish, 18, 1, &in);
    expect_floats(out, 1, d, (const float[]){0.8650984f, -0.2525015f});
    mof_tensor_unref(out);
    mof_tensor_unref(in);
}
END_TEST

/* Softmax flattens to 2-D before opset 13, and works along one axis from 13 on. */
START_TEST(test_softmax_opsets)
{
    const int64_t d[2] = {2, 2};
    mof_value *x = mof_test_add_input(g, "x", MOF_DTYPE_FLOAT, 2, d, NULL);
    mof_node *sm = mof_test_add_node(g, "Softmax", NULL, "sm", 1, x, NULL, NULL);
    ck_assert_int_eq(mof_node_set_attr_int(sm, "axis", 0), MOF_OK);
    mof_tensor *in = floats(2, d, (const float[]){0, 0, 0, 0});
    mof_tensor *out = eval1(sm, 11, 1, &in);
    expect_floats(out, 2, d, (const float[]){0.25f, 0.25f, 0.25f, 0.25f});
    mof_tensor_unref(out);
    out = eval1(sm, 13, 1, &in);
    expect_floats(out, 2, d, (const float[]){0.5f, 0.5f, 0.5f, 0.5f});
    mof_tensor_unref(out);
    mof_tensor_unref(in);
}
END_TEST

/* Clip takes its bounds as attributes before opset 11, as inputs from 11 on. */
START_TEST(test_clip_opsets)
{
    const int64_t d[1] = {3};
    mof_value *x = mof_test_add_input(g, "x", MOF_DTYPE_FLOAT, 1, d, NULL);
    mof_value *lo = mof_test_add_input(g, "lo", MOF_DTYPE_FLOAT, 0, NULL, NULL);
    mof_node *clip = mof_test_add_node(g, "Clip", NULL, "clip", 3, x, lo, NULL);
    ck_assert_int_eq(mof_node_set_attr_float(clip, "max", 1.5f), MOF_OK);
    mof_tensor *in[3] = {floats(1, d, (const float[]){-3, 0.5f, 3}),
                         floats(0, NULL, (const float[]){-1}), NULL};
    mof_tensor *out = eval1(clip, 11, 3, in);
    expect_floats(out, 1, d, (const float[]){-1, 0.5f, 3});
    mof_tensor_unref(out);
    out = eval1(clip, 6, 3, in);
    expect_floats(out, 1, d, (const float[]){-3, 0.5f, 1.5f});
    mof_tensor_unref(out);
    mof_tensor_unref(in[0]);
    mof_tensor_unref(in[1]);
}
END_TEST

/* PRelu before opset 7 takes a slope of [C] per channel of [N, C, ...] (Caffe2's rule);
 * from opset 7 it broadcasts like numpy, so the same slope needs [C, 1]. */
START_TEST(test_prelu_legacy_channels)
{
    const int64_t xd[3] = {1, 2, 2}, sd[1] = {2}, sd2[2] = {2, 1};
    mof_value *x = mof_test_add_input(g, "x", MOF_DTYPE_FLOAT, 3, xd, NULL);
    mof_value *s = mof_test_add_input(g, "s", MOF_DTYPE_FLOAT, 1, sd, NULL);
    mof_node *prelu = mof_test_add_node(g, "PRelu", NULL, "prelu", 2, x, s, NULL);
    mof_tensor *in[2] = {floats(3, xd, (const float[]){-1, -2, -3, 4}),
                         floats(1, sd, (const float[]){10, 100})};
    mof_tensor *out = eval1(prelu, 6, 2, in);
    expect_floats(out, 3, xd, (const float[]){-10, -20, -300, 4});
    mof_tensor_unref(out);
    mof_tensor_unref(in[1]);
    in[1] = floats(2, sd2, (const float[]){10, 100});
    out = eval1(prelu, 7, 2, in);
    expect_floats(out, 3, xd, (const float[]){-10, -20, -300, 4});
    mof_tensor_unref(out);
    mof_tensor_unref(in[0]);
    mof_tensor_unref(in[1]);
}
END_TEST

/* ------------------------------------------------------------------ inference */

static void expect_type(const mof_value *v, mof_dtype dtype, int rank, const int64_t *dims,
                        const char *const *syms)
{
    ck_assert_int_eq(mof_value_dtype(v), dtype);
    ck_assert_int_eq(mof_value_rank(v), rank);
    for (int i = 0; i < rank; i++) {
        ck_assert_int_eq(mof_value_dim(v, (size_t)i), dims[i]);
        const char *s = mof_value_dim_symbol(v, (size_t)i);
        if (syms && syms[i])
            ck_assert_msg(s && !strcmp(s, syms[i]), "dim %d of '%s' is '%s', expected '%s'",
                          i, mof_value_name(v), s ? s : "(none)", syms[i]);
        else
            ck_assert_ptr_null(s);
    }
}

START_TEST(test_infer_symbolic_batch)
{
    const int64_t xd[2] = {-1, 3}, bd[2] = {1, 3};
    const char *const xs[2] = {"N", NULL};
    mof_value *x = mof_test_add_input(g, "x", MOF_DTYPE_FLOAT, 2, xd, xs);
    mof_value *b = add_floats(g, "b", 2, bd, (const float[]){1, 2, 3});
    mof_node *relu = mof_test_add_node(g, "Relu", NULL, "relu", 1, x, NULL, NULL);
    mof_node *add = mof_test_add_node(g, "Add", NULL, "add", 2, out0(relu), b, NULL);
    mof_node *sm = mof_test_add_node(g, "Softmax", NULL, "sm", 1, out0(add), NULL, NULL);
    mof_node *red = mof_test_add_node(g, "ReduceSum", NULL, "red", 1, out0(sm), NULL, NULL);
    ck_assert_int_eq(mof_node_set_attr_int(red, "keepdims", 0), MOF_OK);
    mof_node *eq = mof_test_add_node(g, "Equal", NULL, "eq", 2, out0(red), out0(red), NULL);
    mof_test_add_output(g, out0(eq));

    ck_assert_status(ctx, mof_infer_shapes(ctx, model), MOF_OK);
    expect_type(out0(relu), MOF_DTYPE_FLOAT, 2, xd, xs);
    expect_type(out0(add), MOF_DTYPE_FLOAT, 2, xd, xs);
    expect_type(out0(sm), MOF_DTYPE_FLOAT, 2, xd, xs);
    expect_type(out0(red), MOF_DTYPE_FLOAT, 0, NULL, NULL);
    expect_type(out0(eq), MOF_DTYPE_BOOL, 0, NULL, NULL);
    /* Nothing more to learn the second time. */
    ck_assert_status(ctx, mof_infer_shapes(ctx, model), MOF_UNCHANGED);
}
END_TEST

/* Broadcasting two different symbols gives an unknown dim; N with 1 stays N. */
START_TEST(test_infer_symbol_broadcast)
{
    const int64_t ad[2] = {-1, 1}, bd[2] = {-1, -1};
    const char *const as[2] = {"N", NULL};
    const char *const bs[2] = {"M", "K"};
    mof_value *a = mof_test_add_input(g, "a", MOF_DTYPE_FLOAT, 2, ad, as);
    mof_value *b = mof_test_add_input(g, "b", MOF_DTYPE_FLOAT, 2, bd, bs);
    mof_node *mul = mof_test_add_node(g, "Mul", NULL, "mul", 2, a, b, NULL);
    mof_test_add_output(g, out0(mul));
    ck_assert_status(ctx, mof_infer_shapes(ctx, model), MOF_OK);
    const char *const want[2] = {NULL, "K"};
    expect_type(out0(mul), MOF_DTYPE_FLOAT, 2, bd, want);
}
END_TEST

START_TEST(test_infer_contradiction)
{
    const int64_t ad[2] = {2, 3}, bd[1] = {4};
    mof_value *a = mof_test_add_input(g, "a", MOF_DTYPE_FLOAT, 2, ad, NULL);
    mof_value *b = mof_test_add_input(g, "b", MOF_DTYPE_FLOAT, 1, bd, NULL);
    mof_node *bad = mof_test_add_node(g, "Add", NULL, "bad", 2, a, b, NULL);
    mof_test_add_output(g, out0(bad));
    ck_assert_status(ctx, mof_infer_shapes(ctx, model), MOF_ERR_INVALID_MODEL);
    if (!mof_test_diag_contains(ctx, "node 'bad' (Add): cannot broadcast shapes [2,3] and [4]"))
        mof_test_print_diags(ctx);
    ck_assert(mof_test_diag_contains(ctx, "node 'bad' (Add): cannot broadcast shapes [2,3] and [4]"));
}
END_TEST

START_TEST(test_infer_declared_contradiction)
{
    const int64_t ad[2] = {2, 3}, decl[2] = {5, 5};
    mof_value *a = mof_test_add_input(g, "a", MOF_DTYPE_FLOAT, 2, ad, NULL);
    mof_node *relu = mof_test_add_node(g, "Relu", NULL, "relu", 1, a, NULL, NULL);
    ck_assert_int_eq(mof_value_set_type(out0(relu), MOF_DTYPE_FLOAT, 2, decl, NULL), MOF_OK);
    mof_test_add_output(g, out0(relu));
    ck_assert_status(ctx, mof_infer_shapes(ctx, model), MOF_ERR_INVALID_MODEL);
    ck_assert(mof_test_diag_contains(ctx, "node 'relu' (Relu): output 'relu' is inferred to "
                                          "have shape [2,3], but the model declares [5,5]"));
    /* The declared type is left alone. */
    expect_type(out0(relu), MOF_DTYPE_FLOAT, 2, decl, NULL);
}
END_TEST

/* A declared symbolic dim is kept, a declared unknown dim learns its value. */
START_TEST(test_infer_keeps_and_adds)
{
    const int64_t ad[2] = {-1, 3}, decl[2] = {-1, -1};
    const char *const as[2] = {"N", NULL};
    const char *const ds[2] = {"batch", NULL};
    mof_value *a = mof_test_add_input(g, "a", MOF_DTYPE_FLOAT, 2, ad, as);
    mof_node *relu = mof_test_add_node(g, "Relu", NULL, "relu", 1, a, NULL, NULL);
    ck_assert_int_eq(mof_value_set_type(out0(relu), MOF_DTYPE_FLOAT, 2, decl, ds), MOF_OK);
    mof_test_add_output(g, out0(relu));
    ck_assert_status(ctx, mof_infer_shapes(ctx, model), MOF_OK);
    const int64_t want[2] = {-1, 3};
    expect_type(out0(relu), MOF_DTYPE_FLOAT, 2, want, ds);
}
END_TEST

static Suite *interp_suite(void)
{
    Suite *s = suite_create("interp");
    TCase *tc = mof_test_tcase(s, "run", setup, teardown);
    tcase_add_test(tc, test_add_broadcast);
    tcase_add_test(tc, test_chain_and_reuse);
    tcase_add_test(tc, test_observer);
    tcase_add_test(tc, test_if_reads_outer_value);
    tcase_add_test(tc, test_loop_accumulates);
    tcase_add_test(tc, test_unsupported_refused);
    tcase_add_test(tc, test_runtime_error_names_node);
    tcase_add_test(tc, test_eval_node);
    tcase_add_test(tc, test_cast_float16);
    TCase *tk = mof_test_tcase(s, "kernels", setup, teardown);
    tcase_add_test(tk, test_reduce_axes_input);
    tcase_add_test(tk, test_new_activations);
    tcase_add_test(tk, test_softmax_opsets);
    tcase_add_test(tk, test_clip_opsets);
    tcase_add_test(tk, test_prelu_legacy_channels);
    TCase *ti = mof_test_tcase(s, "infer", setup, teardown);
    tcase_add_test(ti, test_infer_symbolic_batch);
    tcase_add_test(ti, test_infer_symbol_broadcast);
    tcase_add_test(ti, test_infer_contradiction);
    tcase_add_test(ti, test_infer_declared_contradiction);
    tcase_add_test(ti, test_infer_keeps_and_adds);
    return s;
}

MOF_TEST_MAIN(interp_suite)
