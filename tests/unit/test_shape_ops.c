/* test_shape_ops.c: unit tests of the interpreter's shape, data-movement and
 * quantization operators (core/interp/ops_shape.c, ops_quant.c).
 *
 * Kernels are checked on hand-computed cases through mof_interp_eval_node on nodes built
 * with the IR API; shape functions through mof_infer_shapes, with symbolic inputs made
 * by a producer node of an op the interpreter does not know (its output keeps the type
 * the test declares). The ONNX conformance tests cover the ops more broadly. */
#include "config.h"

#include <math.h>
#include <stdint.h>

#include "testutil.h"

MOF_TEST_MODEL_FIXTURE

/* ------------------------------------------------------------------ helpers */

/* An initializer of any numeric type holding data (numel * element size bytes). */
static mof_value *init(mof_dtype dt, size_t rank, const int64_t *dims, const void *data)
{
    mof_tensor *t = mof_tensor_create_from(dt, rank, dims, data);
    ck_assert_ptr_nonnull(t);
    mof_value *v = mof_graph_add_initializer(g, "c", t);
    ck_assert_ptr_nonnull(v);
    return v;
}

static mof_value *init_i64(size_t n, const int64_t *data)
{
    int64_t d = (int64_t)n;
    return init(MOF_DTYPE_INT64, 1, &d, data);
}

static mof_value *scalar_f32(float v) { return init(MOF_DTYPE_FLOAT, 0, NULL, &v); }

static mof_node *node(const char *op, size_t n_in, mof_value *const *in, size_t n_out)
{
    mof_node *n = mof_graph_add_node(g, MOF_INSERT_AFTER, NULL, op, NULL, NULL, n_in, in, n_out);
    if (!n)
        mof_test_print_diags(ctx);
    ck_assert_ptr_nonnull(n);
    return n;
}

/* Evaluates n on its inputs' initializer tensors; outs receives n_out references. */
static void eval(mof_node *n, int64_t opset, size_t n_out, mof_tensor **outs)
{
    size_t n_in = mof_node_n_inputs(n);
    mof_tensor *ins[8] = {0};
    ck_assert_uint_le(n_in, 8);
    for (size_t i = 0; i < n_in; i++)
        ins[i] = mof_node_input(n, i) ? mof_value_tensor(mof_node_input(n, i)) : NULL;
    ck_assert_status(ctx, mof_interp_eval_node(ctx, n, opset, n_in, ins, n_out, outs), MOF_OK);
}

static void expect_dims(const mof_tensor *t, size_t rank, const int64_t *dims)
{
    ck_assert_uint_eq(mof_tensor_rank(t), rank);
    for (size_t i = 0; i < rank; i++)
        ck_assert_int_eq(mof_tensor_dims(t)[i], dims[i]);
}

static void expect_f32(const mof_tensor *t, size_t n, const float *want)
{
    ck_assert_int_eq(mof_tensor_dtype(t), MOF_DTYPE_FLOAT);
    ck_assert_int_eq(mof_tensor_numel(t), (int64_t)n);
    const float *d = mof_tensor_data(t);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(d[i] == want[i], "element %zu is %g, expected %g", i, d[i], want[i]);
}

static void expect_i64(const mof_tensor *t, size_t n, const int64_t *want)
{
    ck_assert_int_eq(mof_tensor_dtype(t), MOF_DTYPE_INT64);
    ck_assert_int_eq(mof_tensor_numel(t), (int64_t)n);
    const int64_t *d = mof_tensor_data(t);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(d[i], want[i]);
}

static void expect_i8(const mof_tensor *t, size_t n, const int8_t *want)
{
    ck_assert_int_eq(mof_tensor_dtype(t), MOF_DTYPE_INT8);
    ck_assert_int_eq(mof_tensor_numel(t), (int64_t)n);
    const int8_t *d = mof_tensor_data(t);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(d[i] == want[i], "element %zu is %d, expected %d", i, d[i], want[i]);
}

static void expect_u8(const mof_tensor *t, size_t n, const uint8_t *want)
{
    ck_assert_int_eq(mof_tensor_dtype(t), MOF_DTYPE_UINT8);
    ck_assert_int_eq(mof_tensor_numel(t), (int64_t)n);
    const uint8_t *d = mof_tensor_data(t);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(d[i] == want[i], "element %zu is %u, expected %u", i, d[i], want[i]);
}

/* A float value of the given shape whose dims are numbers (>= 0) or the symbols in
 * syms: the output of a node the interpreter does not know. */
static mof_value *symbolic(mof_dtype dt, int rank, const int64_t *dims, const char *const *syms)
{
    mof_node *src = mof_graph_add_node(g, MOF_INSERT_AFTER, NULL, "Source", "test.mof", NULL,
                                       0, NULL, 1);
    ck_assert_ptr_nonnull(src);
    mof_value *v = mof_node_output(src, 0);
    ck_assert_int_eq(mof_value_set_type(v, dt, rank, dims, syms), MOF_OK);
    return v;
}

/* Runs shape inference on the model at opset 13 (or as set) and expects success. */
static void infer(void)
{
    mof_status st = mof_infer_shapes(ctx, model);
    if (st < 0)
        mof_test_print_diags(ctx);
    ck_assert_int_ge(st, 0);
}

/* Asserts v's type: dims[i] >= 0 is a number, -1 with syms[i] a symbol (NULL unknown). */
static void expect_type_(int line, const mof_value *v, mof_dtype dt, int rank,
                         const int64_t *dims, const char *const *syms)
{
    ck_assert_msg(mof_value_dtype(v) == dt, "line %d: dtype %s, expected %s", line,
                  mof_dtype_name(mof_value_dtype(v)), mof_dtype_name(dt));
    ck_assert_msg(mof_value_rank(v) == rank, "line %d: rank %d, expected %d", line,
                  mof_value_rank(v), rank);
    for (int i = 0; i < rank; i++) {
        int64_t d = mof_value_dim(v, (size_t)i);
        const char *s = mof_value_dim_symbol(v, (size_t)i);
        ck_assert_msg(d == dims[i], "line %d: dim %d is %lld, expected %lld", line, i,
                      (long long)d, (long long)dims[i]);
        const char *want = syms ? syms[i] : NULL;
        ck_assert_msg((!s && !want) || (s && want && !strcmp(s, want)),
                      "line %d: dim %d has symbol %s, expected %s", line, i, s ? s : "none",
                      want ? want : "none");
    }
}
#define expect_type(...) expect_type_(__LINE__, __VA_ARGS__)

/* ------------------------------------------------------------------ kernels */

START_TEST(test_reshape_zero_and_minus_one)
{
    float x[24];
    for (int i = 0; i < 24; i++)
        x[i] = (float)i;
    const int64_t xd[3] = {2, 3, 4}, shape[2] = {0, -1};
    mof_value *in[2] = {init(MOF_DTYPE_FLOAT, 3, xd, x), init_i64(2, shape)};
    mof_node *n = node("Reshape", 2, in, 1);
    mof_tensor *y;
    eval(n, 13, 1, &y);
    const int64_t want[2] = {2, 12};
    expect_dims(y, 2, want);
    expect_f32(y, 24, x);
    mof_tensor_unref(y);

    /* allowzero (opset 14): a 0 is a real zero-size dim. */
    const int64_t ed[2] = {0, 3}, shape2[2] = {3, 0};
    mof_value *in2[2] = {init(MOF_DTYPE_FLOAT, 2, ed, x), init_i64(2, shape2)};
    n = node("Reshape", 2, in2, 1);
    ck_assert_int_eq(mof_node_set_attr_int(n, "allowzero", 1), MOF_OK);
    eval(n, 14, 1, &y);
    expect_dims(y, 2, shape2);
    mof_tensor_unref(y);

    /* Two -1 are an error naming the node. */
    const int64_t bad[2] = {-1, -1};
    mof_value *in3[2] = {init(MOF_DTYPE_FLOAT, 3, xd, x), init_i64(2, bad)};
    n = node("Reshape", 2, in3, 1);
    mof_tensor *ins[2] = {mof_value_tensor(in3[0]), mof_value_tensor(in3[1])};
    y = NULL;
    ck_assert_int_eq(mof_interp_eval_node(ctx, n, 13, 2, ins, 1, &y), MOF_ERR_INVALID_MODEL);
    ck_assert_ptr_null(y);
    ck_assert(mof_test_diag_contains(ctx, "more than one -1"));
}
END_TEST

START_TEST(test_slice_negative_step)
{
    float x[10];
    for (int i = 0; i < 10; i++)
        x[i] = (float)i;
    const int64_t xd = 10, starts = -1, ends = INT64_MIN, axes = 0, steps = -3;
    mof_value *in[5] = {init(MOF_DTYPE_FLOAT, 1, &xd, x), init_i64(1, &starts),
                        init_i64(1, &ends), init_i64(1, &axes), init_i64(1, &steps)};
    mof_node *n = node("Slice", 5, in, 1);
    mof_tensor *y;
    eval(n, 13, 1, &y);
    const float want[4] = {9, 6, 3, 0};
    expect_f32(y, 4, want);
    mof_tensor_unref(y);

    /* Out-of-range starts and ends clamp: [20:-20:-1] is the whole reversed axis of a
     * 2-D tensor's axis 1. */
    const int64_t xd2[2] = {2, 3}, s2 = 20, e2 = -20, a2 = 1, st2 = -1;
    const float x2[6] = {1, 2, 3, 4, 5, 6};
    mof_value *in2[5] = {init(MOF_DTYPE_FLOAT, 2, xd2, x2), init_i64(1, &s2), init_i64(1, &e2),
                         init_i64(1, &a2), init_i64(1, &st2)};
    n = node("Slice", 5, in2, 1);
    eval(n, 13, 1, &y);
    const float want2[6] = {3, 2, 1, 6, 5, 4};
    expect_dims(y, 2, xd2);
    expect_f32(y, 6, want2);
    mof_tensor_unref(y);
}
END_TEST

START_TEST(test_gather_negative_index)
{
    const float x[6] = {1, 2, 3, 4, 5, 6};
    const int64_t xd[2] = {3, 2}, idx[2] = {-1, 0};
    mof_value *in[2] = {init(MOF_DTYPE_FLOAT, 2, xd, x), init_i64(2, idx)};
    mof_node *n = node("Gather", 2, in, 1);
    mof_tensor *y;
    eval(n, 13, 1, &y);
    const float want[4] = {5, 6, 1, 2};
    const int64_t wd[2] = {2, 2};
    expect_dims(y, 2, wd);
    expect_f32(y, 4, want);
    mof_tensor_unref(y);

    /* axis 1 with int32 indices. */
    const int32_t idx32[1] = {-2};
    const int64_t one = 1;
    mof_value *in2[2] = {init(MOF_DTYPE_FLOAT, 2, xd, x), init(MOF_DTYPE_INT32, 1, &one, idx32)};
    n = node("Gather", 2, in2, 1);
    ck_assert_int_eq(mof_node_set_attr_int(n, "axis", 1), MOF_OK);
    eval(n, 13, 1, &y);
    const float want2[3] = {1, 3, 5};
    const int64_t wd2[2] = {3, 1};
    expect_dims(y, 2, wd2);
    expect_f32(y, 3, want2);
    mof_tensor_unref(y);

    /* Index 3 of a dim of 3 is out of range. */
    const int64_t bad = 3;
    mof_value *in3[2] = {init(MOF_DTYPE_FLOAT, 2, xd, x), init_i64(1, &bad)};
    n = node("Gather", 2, in3, 1);
    mof_tensor *ins[2] = {mof_value_tensor(in3[0]), mof_value_tensor(in3[1])};
    ck_assert_int_eq(mof_interp_eval_node(ctx, n, 13, 2, ins, 1, &y), MOF_ERR_INVALID_MODEL);
}
END_TEST

START_TEST(test_pad_reflect)
{
    /* The ONNX Pad example: reflect pads of 2 at the start of axis 1. */
    const float x[6] = {1.0f, 1.2f, 2.3f, 3.4f, 4.5f, 5.7f};
    const int64_t xd[2] = {3, 2}, pads[4] = {0, 2, 0, 0};
    mof_value *in[2] = {init(MOF_DTYPE_FLOAT, 2, xd, x), init_i64(4, pads)};
    mof_node *n = node("Pad", 2, in, 1);
    ck_assert_int_eq(mof_node_set_attr_string(n, "mode", "reflect"), MOF_OK);
    mof_tensor *y;
    eval(n, 13, 1, &y);
    const float want[12] = {1.0f, 1.2f, 1.0f, 1.2f, 2.3f, 3.4f, 2.3f, 3.4f,
                            4.5f, 5.7f, 4.5f, 5.7f};
    const int64_t wd[2] = {3, 4};
    expect_dims(y, 2, wd);
    expect_f32(y, 12, want);
    mof_tensor_unref(y);

    /* 1-D reflect on both sides and a negative (cropping) pad in edge mode. */
    const float v[3] = {1, 2, 3};
    const int64_t vd = 3, p2[2] = {2, 2}, p3[2] = {-1, 2};
    mof_value *in2[2] = {init(MOF_DTYPE_FLOAT, 1, &vd, v), init_i64(2, p2)};
    n = node("Pad", 2, in2, 1);
    ck_assert_int_eq(mof_node_set_attr_string(n, "mode", "reflect"), MOF_OK);
    eval(n, 13, 1, &y);
    const float want2[7] = {3, 2, 1, 2, 3, 2, 1};
    expect_f32(y, 7, want2);
    mof_tensor_unref(y);
    mof_value *in3[2] = {init(MOF_DTYPE_FLOAT, 1, &vd, v), init_i64(2, p3)};
    n = node("Pad", 2, in3, 1);
    ck_assert_int_eq(mof_node_set_attr_string(n, "mode", "edge"), MOF_OK);
    eval(n, 13, 1, &y);
    const float want3[4] = {2, 3, 3, 3};
    expect_f32(y, 4, want3);
    mof_tensor_unref(y);
}
END_TEST

START_TEST(test_quantize_half_to_even)
{
    const float x[9] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 300.0f, -300.0f, 5.0f};
    const int64_t xd = 9;
    const int8_t zp = 0;
    mof_value *in[3] = {init(MOF_DTYPE_FLOAT, 1, &xd, x), scalar_f32(1.0f),
                        init(MOF_DTYPE_INT8, 0, NULL, &zp)};
    mof_node *n = node("QuantizeLinear", 3, in, 1);
    mof_tensor *y;
    eval(n, 13, 1, &y);
    const int8_t want[9] = {0, 2, 2, 0, -2, -2, 127, -128, 5};
    expect_i8(y, 9, want);
    mof_tensor_unref(y);

    /* uint8 with zero point 128 and scale 2: x / 2 = 0.25, 0.75, 1.25, ... */
    const float x2[5] = {1.0f, 3.0f, 5.0f, -3.0f, 1000.0f};
    const int64_t xd2 = 5;
    const uint8_t zp2 = 128;
    mof_value *in2[3] = {init(MOF_DTYPE_FLOAT, 1, &xd2, x2), scalar_f32(2.0f),
                         init(MOF_DTYPE_UINT8, 0, NULL, &zp2)};
    n = node("QuantizeLinear", 3, in2, 1);
    eval(n, 10, 1, &y);
    const uint8_t want2[5] = {128, 130, 130, 126, 255};
    expect_u8(y, 5, want2);
    mof_tensor_unref(y);

    /* Per axis (opset 13): axis 1 of [2, 2] with scales {1, 0.5}. */
    const float x3[4] = {1.5f, 1.5f, -2.5f, 0.25f};
    const int64_t xd3[2] = {2, 2}, two = 2;
    const float sc[2] = {1.0f, 0.5f};
    const int8_t zps[2] = {0, 10};
    mof_value *in3[3] = {init(MOF_DTYPE_FLOAT, 2, xd3, x3), init(MOF_DTYPE_FLOAT, 1, &two, sc),
                         init(MOF_DTYPE_INT8, 1, &two, zps)};
    n = node("QuantizeLinear", 3, in3, 1);
    eval(n, 13, 1, &y);
    const int8_t want3[4] = {2, 13, -2, 10};
    expect_i8(y, 4, want3);
    mof_tensor_unref(y);
}
END_TEST

START_TEST(test_dequantize)
{
    const uint8_t x[4] = {0, 3, 128, 255};
    const int64_t xd = 4;
    const uint8_t zp = 128;
    mof_value *in[3] = {init(MOF_DTYPE_UINT8, 1, &xd, x), scalar_f32(2.0f),
                        init(MOF_DTYPE_UINT8, 0, NULL, &zp)};
    mof_node *n = node("DequantizeLinear", 3, in, 1);
    mof_tensor *y;
    eval(n, 13, 1, &y);
    const float want[4] = {-256, -250, 0, 254};
    expect_f32(y, 4, want);
    mof_tensor_unref(y);
}
END_TEST

START_TEST(test_qlinear_matmul)
{
    /* a = [[2, 4], [6, 8]] (uint8, zp 2, scale 0.5): real [[0, 1], [2, 3]];
     * b = [[1, 3], [5, 7]] (int8, zp 1, scale 0.25): real [[0, 0.5], [1, 1.5]].
     * Integer: (a - 2) = [[0, 2], [4, 6]], (b - 1) = [[0, 2], [4, 6]]:
     * acc = [[8, 12], [24, 44]]; multiplier 0.5 * 0.25 / 0.25 = 0.5:
     * [[4, 6], [12, 22]] + y_zp 100 = [[104, 106], [112, 122]]. */
    const uint8_t a[4] = {2, 4, 6, 8};
    const int8_t b[4] = {1, 3, 5, 7};
    const int64_t d[2] = {2, 2};
    const uint8_t azp = 2, yzp = 100;
    const int8_t bzp = 1;
    mof_value *in[8] = {
        init(MOF_DTYPE_UINT8, 2, d, a), scalar_f32(0.5f), init(MOF_DTYPE_UINT8, 0, NULL, &azp),
        init(MOF_DTYPE_INT8, 2, d, b), scalar_f32(0.25f), init(MOF_DTYPE_INT8, 0, NULL, &bzp),
        scalar_f32(0.25f), init(MOF_DTYPE_UINT8, 0, NULL, &yzp),
    };
    mof_node *n = node("QLinearMatMul", 8, in, 1);
    mof_tensor *y;
    eval(n, 13, 1, &y);
    const uint8_t want[4] = {104, 106, 112, 122};
    expect_dims(y, 2, d);
    expect_u8(y, 4, want);
    mof_tensor_unref(y);

    /* Ties round to even and results saturate: the multiplier 0.5 * 0.625 / 1 = 0.3125
     * is exact, and with y_zp 250 the larger results saturate at 255. */
    const uint8_t yzp2 = 250;
    mof_value *in2[8] = {
        init(MOF_DTYPE_UINT8, 2, d, a), scalar_f32(0.5f), init(MOF_DTYPE_UINT8, 0, NULL, &azp),
        init(MOF_DTYPE_INT8, 2, d, b), scalar_f32(0.625f), init(MOF_DTYPE_INT8, 0, NULL, &bzp),
        scalar_f32(1.0f), init(MOF_DTYPE_UINT8, 0, NULL, &yzp2),
    };
    n = node("QLinearMatMul", 8, in2, 1);
    eval(n, 13, 1, &y);
    /* acc * 0.3125 = 2.5, 3.75, 7.5, 13.75 -> 2, 4, 8, 14; + 250 saturates from 8 on. */
    const uint8_t want2[4] = {252, 254, 255, 255};
    expect_u8(y, 4, want2);
    mof_tensor_unref(y);
}
END_TEST

START_TEST(test_dynamic_quantize)
{
    /* The ONNX example: scale (2 - -3) / 255, zero point round(3 / scale) = 153. */
    const float x[6] = {0, 2, -3, -2.5f, 1.34f, 0.5f};
    const int64_t xd = 6;
    mof_value *in[1] = {init(MOF_DTYPE_FLOAT, 1, &xd, x)};
    mof_node *n = node("DynamicQuantizeLinear", 1, in, 3);
    mof_tensor *y[3];
    eval(n, 13, 3, y);
    const uint8_t want[6] = {153, 255, 0, 26, 221, 179};
    expect_u8(y[0], 6, want);
    ck_assert_int_eq(mof_tensor_rank(y[1]), 0);
    ck_assert_float_eq(*(const float *)mof_tensor_data(y[1]), 5.0f / 255.0f);
    const uint8_t zp = 153;
    expect_u8(y[2], 1, &zp);
    for (int i = 0; i < 3; i++)
        mof_tensor_unref(y[i]);
}
END_TEST

START_TEST(test_conv_integer)
{
    /* 1x1x3x3 input 1..9 (zp 1), 1x1x2x2 kernel of ones, no zero point for w: each
     * output is the sum of a 2x2 window of (x - 1). */
    const uint8_t x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    const uint8_t w[4] = {1, 1, 1, 1};
    const int64_t xd[4] = {1, 1, 3, 3}, wd[4] = {1, 1, 2, 2};
    const uint8_t xzp = 1;
    mof_value *in[3] = {init(MOF_DTYPE_UINT8, 4, xd, x), init(MOF_DTYPE_UINT8, 4, wd, w),
                        init(MOF_DTYPE_UINT8, 0, NULL, &xzp)};
    mof_node *n = node("ConvInteger", 3, in, 1);
    mof_tensor *y;
    eval(n, 13, 1, &y);
    const int64_t yd[4] = {1, 1, 2, 2};
    expect_dims(y, 4, yd);
    const int32_t want[4] = {8, 12, 20, 24};
    const int32_t *d = mof_tensor_data(y);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(d[i], want[i]);
    mof_tensor_unref(y);
}
END_TEST

START_TEST(test_resize_nearest)
{
    const float x[4] = {1, 2, 3, 4};
    const int64_t xd[4] = {1, 1, 2, 2}, four = 4;
    const float scales[4] = {1, 1, 2, 3};
    mof_value *in[3] = {init(MOF_DTYPE_FLOAT, 4, xd, x), NULL,
                        init(MOF_DTYPE_FLOAT, 1, &four, scales)};
    /* half_pixel and round_prefer_floor, the defaults. */
    mof_node *n = node("Resize", 3, in, 1);
    mof_tensor *y;
    eval(n, 13, 1, &y);
    const int64_t yd[4] = {1, 1, 4, 6};
    expect_dims(y, 4, yd);
    const float want[24] = {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2,
                            3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4};
    expect_f32(y, 24, want);
    mof_tensor_unref(y);
}
END_TEST

START_TEST(test_shape_and_nonzero)
{
    const float x[6] = {0, 1, 0, 2, 3, 0};
    const int64_t xd[3] = {1, 2, 3};
    mof_value *xv = init(MOF_DTYPE_FLOAT, 3, xd, x);
    /* Shape with start 1 and end -1 (opset 15) keeps dim 1. */
    mof_node *n = node("Shape", 1, &xv, 1);
    ck_assert_int_eq(mof_node_set_attr_int(n, "start", 1), MOF_OK);
    ck_assert_int_eq(mof_node_set_attr_int(n, "end", -1), MOF_OK);
    mof_tensor *y;
    eval(n, 15, 1, &y);
    const int64_t want[1] = {2};
    expect_i64(y, 1, want);
    mof_tensor_unref(y);
    /* The same node at opset 13 ignores start and end. */
    eval(n, 13, 1, &y);
    expect_i64(y, 3, xd);
    mof_tensor_unref(y);

    /* NonZero: one column of coordinates per non-zero element, row-major order. */
    n = node("NonZero", 1, &xv, 1);
    eval(n, 13, 1, &y);
    const int64_t nd[2] = {3, 3};
    expect_dims(y, 2, nd);
    const int64_t nz[9] = {0, 0, 0, 0, 1, 1, 1, 0, 1};
    expect_i64(y, 9, nz);
    mof_tensor_unref(y);
}
END_TEST

START_TEST(test_transpose_strings)
{
    /* Strings move with their own bytes. */
    static const char *const words[6] = {"a", "bb", "", "dddd", "e", "ff"};
    const int64_t xd[2] = {2, 3};
    mof_tensor *t = mof_tensor_create(MOF_DTYPE_STRING, 2, xd);
    ck_assert_ptr_nonnull(t);
    mof_string *s = mof_tensor_data_mut(t);
    for (int i = 0; i < 6; i++) {
        s[i].size = strlen(words[i]);
        s[i].data = malloc(s[i].size + 1);
        ck_assert_ptr_nonnull(s[i].data);
        memcpy(s[i].data, words[i], s[i].size);
    }
    mof_value *x = mof_graph_add_initializer(g, "words", t);
    ck_assert_ptr_nonnull(x);
    mof_node *n = node("Transpose", 1, &x, 1);
    mof_tensor *y;
    eval(n, 13, 1, &y);
    const int64_t yd[2] = {3, 2};
    expect_dims(y, 2, yd);
    static const int order[6] = {0, 3, 1, 4, 2, 5};
    const mof_string *ys = mof_tensor_data(y);
    for (int i = 0; i < 6; i++) {
        const char *w = words[order[i]];
        ck_assert_uint_eq(ys[i].size, strlen(w));
        ck_assert(ys[i].size == 0 || !memcmp(ys[i].data, w, ys[i].size));
        ck_assert(ys[i].size == 0 || ys[i].data != s[order[i]].data);
    }
    mof_tensor_unref(y);
}
END_TEST

/* Einsum "...ij,jk->...ik": a batch of two 1x2 rows times a 2x2 matrix, and the trace
 * "ii" of the same matrix. */
START_TEST(test_einsum)
{
    const int64_t ad[3] = {2, 1, 2}, bd[2] = {2, 2};
    const float a[4] = {1, 2, 3, 4}, b[4] = {1, 0, 1, 1};
    mof_value *in[2] = {init(MOF_DTYPE_FLOAT, 3, ad, a), init(MOF_DTYPE_FLOAT, 2, bd, b)};
    mof_node *n = node("Einsum", 2, in, 1);
    ck_assert_int_eq(mof_node_set_attr_string(n, "equation", "...ij,jk->...ik"), MOF_OK);
    mof_tensor *y;
    eval(n, 12, 1, &y);
    expect_dims(y, 3, ad);
    expect_f32(y, 4, (const float[]){3, 2, 7, 4});
    mof_tensor_unref(y);

    n = node("Einsum", 1, &in[1], 1);
    ck_assert_int_eq(mof_node_set_attr_string(n, "equation", "ii"), MOF_OK);
    eval(n, 12, 1, &y);
    expect_dims(y, 0, NULL);
    expect_f32(y, 1, (const float[]){2});
    mof_tensor_unref(y);
}
END_TEST

/* Unique of [3, 1, 3, 2, 1] unsorted: [3, 1, 2], first at [0, 1, 3], inverse
 * [0, 1, 0, 2, 1], counts [2, 2, 1]; sorted: [1, 2, 3] and inverse [2, 0, 2, 1, 0]. */
START_TEST(test_unique)
{
    const int64_t d = 5, x[5] = {3, 1, 3, 2, 1};
    for (int sorted = 0; sorted < 2; sorted++) {
        mof_value *in[1] = {init(MOF_DTYPE_INT64, 1, &d, x)};
        mof_node *n = node("Unique", 1, in, 4);
        ck_assert_int_eq(mof_node_set_attr_int(n, "sorted", sorted), MOF_OK);
        mof_tensor *y[4];
        eval(n, 11, 4, y);
        expect_i64(y[0], 3, sorted ? (const int64_t[]){1, 2, 3} : (const int64_t[]){3, 1, 2});
        expect_i64(y[1], 3, sorted ? (const int64_t[]){1, 3, 0} : (const int64_t[]){0, 1, 3});
        expect_i64(y[2], 5, sorted ? (const int64_t[]){2, 0, 2, 1, 0}
                                   : (const int64_t[]){0, 1, 0, 2, 1});
        expect_i64(y[3], 3, sorted ? (const int64_t[]){2, 1, 2} : (const int64_t[]){2, 2, 1});
        for (int k = 0; k < 4; k++)
            mof_tensor_unref(y[k]);
    }
}
END_TEST

/* Upsample-7 (scales as an attribute), nearest x2 along the last dim: [1, 1, 2, 2]. */
START_TEST(test_upsample_attr)
{
    const int64_t xd[2] = {1, 2};
    mof_value *in[1] = {init(MOF_DTYPE_FLOAT, 2, xd, (const float[]){1, 2})};
    mof_node *n = node("Upsample", 1, in, 1);
    ck_assert_int_eq(mof_node_set_attr_floats(n, "scales", 2, (const float[]){1, 2}), MOF_OK);
    mof_tensor *y;
    eval(n, 7, 1, &y);
    const int64_t want[2] = {1, 4};
    expect_dims(y, 2, want);
    expect_f32(y, 4, (const float[]){1, 1, 2, 2});
    mof_tensor_unref(y);
}
END_TEST

/* NonMaxSuppression of three boxes of one class: box 1 (score 0.9) first; box 0 (0.8)
 * overlaps it by 81 / 119 > 0.5 and goes; box 2 (0.7) is apart and stays. */
START_TEST(test_nonmaxsuppression)
{
    const int64_t bd[3] = {1, 3, 4}, sd[3] = {1, 1, 3}, one = 1;
    const float boxes[12] = {0, 0, 10, 10, 1, 1, 11, 11, 20, 20, 30, 30};
    const float scores[3] = {0.8f, 0.9f, 0.7f};
    const int64_t max_out = 5;
    const float iou = 0.5f;
    mof_value *in[4] = {init(MOF_DTYPE_FLOAT, 3, bd, boxes), init(MOF_DTYPE_FLOAT, 3, sd, scores),
                        init(MOF_DTYPE_INT64, 1, &one, &max_out),
                        init(MOF_DTYPE_FLOAT, 1, &one, &iou)};
    mof_node *n = node("NonMaxSuppression", 4, in, 1);
    mof_tensor *y;
    eval(n, 11, 1, &y);
    const int64_t want[2] = {2, 3};
    expect_dims(y, 2, want);
    expect_i64(y, 6, (const int64_t[]){0, 0, 1, 0, 0, 2});
    mof_tensor_unref(y);
}
END_TEST

/* ------------------------------------------------------------------ shape functions */

START_TEST(test_infer_reshape_symbolic)
{
    const int64_t xd[3] = {-1, 3, 4};
    const char *const xs[3] = {"N", NULL, NULL};
    mof_value *x = symbolic(MOF_DTYPE_FLOAT, 3, xd, xs);
    const int64_t shape[2] = {0, -1};
    mof_value *in[2] = {x, init_i64(2, shape)};
    mof_node *n = node("Reshape", 2, in, 1);
    /* [N, 3, 4] -> [0, -1] is [N, 12]; [-1, 12] of [N, 3, 4] is [N, 12] too only when
     * N cancels: it does not, so that -1 is unknown. */
    const int64_t shape2[2] = {-1, 12};
    mof_value *in2[2] = {x, init_i64(2, shape2)};
    mof_node *n2 = node("Reshape", 2, in2, 1);
    infer();
    const int64_t want[2] = {-1, 12};
    const char *const wsym[2] = {"N", NULL};
    expect_type(mof_node_output(n, 0), MOF_DTYPE_FLOAT, 2, want, wsym);
    expect_type(mof_node_output(n2, 0), MOF_DTYPE_FLOAT, 2, want, NULL);
}
END_TEST

START_TEST(test_infer_symbolic_ops)
{
    const int64_t xd[3] = {-1, 3, -1};
    const char *const xs[3] = {"N", NULL, "T"};
    mof_value *x = symbolic(MOF_DTYPE_FLOAT, 3, xd, xs);

    mof_node *tr = node("Transpose", 1, &x, 1);
    const int64_t perm[3] = {2, 0, 1};
    ck_assert_int_eq(mof_node_set_attr_ints(tr, "perm", 3, perm), MOF_OK);

    const int64_t axes[2] = {0, -1};
    mof_value *uin[2] = {x, init_i64(2, axes)};
    mof_node *un = node("Unsqueeze", 2, uin, 1);

    mof_value *cin[2] = {x, x};
    mof_node *cat = node("Concat", 2, cin, 1);
    ck_assert_int_eq(mof_node_set_attr_int(cat, "axis", 1), MOF_OK);

    mof_node *sh = node("Shape", 1, &x, 1);

    const int64_t starts = 1, ends = INT64_MAX, sax = 2;
    mof_value *sin[4] = {x, init_i64(1, &starts), init_i64(1, &ends), init_i64(1, &sax)};
    mof_node *sl = node("Slice", 4, sin, 1);
    const int64_t s0 = 0;
    mof_value *sin2[4] = {x, init_i64(1, &s0), init_i64(1, &ends), init_i64(1, &sax)};
    mof_node *sl2 = node("Slice", 4, sin2, 1);

    const int64_t idx[2] = {0, 1};
    const int64_t two = 2;
    mof_value *gin[2] = {x, init(MOF_DTYPE_INT64, 1, &two, idx)};
    mof_node *ga = node("Gather", 2, gin, 1);
    ck_assert_int_eq(mof_node_set_attr_int(ga, "axis", 1), MOF_OK);

    const uint8_t zp = 0;
    mof_value *qin[3] = {x, scalar_f32(0.1f), init(MOF_DTYPE_UINT8, 0, NULL, &zp)};
    mof_node *q = node("QuantizeLinear", 3, qin, 1);

    infer();
    const int64_t t_d[3] = {-1, -1, 3};
    const char *const t_s[3] = {"T", "N", NULL};
    expect_type(mof_node_output(tr, 0), MOF_DTYPE_FLOAT, 3, t_d, t_s);
    const int64_t u_d[5] = {1, -1, 3, -1, 1};
    const char *const u_s[5] = {NULL, "N", NULL, "T", NULL};
    expect_type(mof_node_output(un, 0), MOF_DTYPE_FLOAT, 5, u_d, u_s);
    const int64_t c_d[3] = {-1, 6, -1};
    expect_type(mof_node_output(cat, 0), MOF_DTYPE_FLOAT, 3, c_d, xs);
    const int64_t s_d[1] = {3};
    expect_type(mof_node_output(sh, 0), MOF_DTYPE_INT64, 1, s_d, NULL);
    const char *const sl_s[3] = {"N", NULL, NULL};
    expect_type(mof_node_output(sl, 0), MOF_DTYPE_FLOAT, 3, xd, sl_s);
    expect_type(mof_node_output(sl2, 0), MOF_DTYPE_FLOAT, 3, xd, xs);
    const int64_t g_d[3] = {-1, 2, -1};
    expect_type(mof_node_output(ga, 0), MOF_DTYPE_FLOAT, 3, g_d, xs);
    expect_type(mof_node_output(q, 0), MOF_DTYPE_UINT8, 3, xd, xs);
}
END_TEST

START_TEST(test_infer_resize_axes)
{
    /* Opset 18: sizes for axes 2 and 3 with keep_aspect_ratio_policy not_larger pick
     * one scale, min(8 / 4, 8 / 2) = 2; the symbolic batch dim is untouched. */
    ck_assert_int_eq(mof_model_set_opset(model, "", 18), MOF_OK);
    const int64_t xd[4] = {-1, 3, 4, 2};
    const char *const xs[4] = {"N", NULL, NULL, NULL};
    mof_value *x = symbolic(MOF_DTYPE_FLOAT, 4, xd, xs);
    const int64_t sizes[2] = {8, 8}, axes[2] = {2, -1};
    mof_value *in[4] = {x, NULL, NULL, init_i64(2, sizes)};
    mof_node *n = node("Resize", 4, in, 1);
    ck_assert_int_eq(mof_node_set_attr_ints(n, "axes", 2, axes), MOF_OK);
    ck_assert_int_eq(mof_node_set_attr_string(n, "keep_aspect_ratio_policy", "not_larger"),
                     MOF_OK);
    infer();
    const int64_t want[4] = {-1, 3, 8, 4};
    expect_type(mof_node_output(n, 0), MOF_DTYPE_FLOAT, 4, want, xs);
}
END_TEST

/* Einsum with a symbolic batch: "...ij,jk->...ik" on [N, 3, 4] and [4, 5] gives
 * [N, 3, 5]; Compress of a known condition along the last axis; Unique's outputs. */
START_TEST(test_infer_new_ops)
{
    const int64_t ad[3] = {-1, 3, 4}, bd[2] = {4, 5};
    const char *const as[3] = {"N", NULL, NULL};
    mof_value *in[2] = {symbolic(MOF_DTYPE_FLOAT, 3, ad, as),
                        symbolic(MOF_DTYPE_FLOAT, 2, bd, NULL)};
    mof_node *e = node("Einsum", 2, in, 1);
    ck_assert_int_eq(mof_node_set_attr_string(e, "equation", "...ij,jk->...ik"), MOF_OK);
    const int64_t cd = 4;
    const uint8_t cond[4] = {1, 0, 1, 1};
    mof_value *cin[2] = {in[0], init(MOF_DTYPE_BOOL, 1, &cd, cond)};
    mof_node *c = node("Compress", 2, cin, 1);
    ck_assert_int_eq(mof_node_set_attr_int(c, "axis", -1), MOF_OK);
    mof_node *u = node("Unique", 1, in, 4);
    ck_assert_int_eq(mof_node_set_attr_int(u, "axis", 1), MOF_OK);
    infer();
    const int64_t ed[3] = {-1, 3, 5}, c_d[3] = {-1, 3, 3}, ud[3] = {-1, -1, 4};
    const int64_t n3 = 3, un = -1;
    expect_type(mof_node_output(e, 0), MOF_DTYPE_FLOAT, 3, ed, as);
    expect_type(mof_node_output(c, 0), MOF_DTYPE_FLOAT, 3, c_d, as);
    expect_type(mof_node_output(u, 0), MOF_DTYPE_FLOAT, 3, ud, as);
    expect_type(mof_node_output(u, 1), MOF_DTYPE_INT64, 1, &un, NULL);
    expect_type(mof_node_output(u, 2), MOF_DTYPE_INT64, 1, &n3, NULL);
}
END_TEST

START_TEST(test_infer_contradiction)
{
    /* Concat of [2, 3] and [4, 5] along axis 0 cannot be: an error naming the node. */
    const int64_t ad[2] = {2, 3}, bd[2] = {4, 5};
    mof_value *in[2] = {symbolic(MOF_DTYPE_FLOAT, 2, ad, NULL),
                        symbolic(MOF_DTYPE_FLOAT, 2, bd, NULL)};
    mof_node *n = node("Concat", 2, in, 1);
    ck_assert_int_eq(mof_node_set_attr_int(n, "axis", 0), MOF_OK);
    ck_assert_int_eq(mof_infer_shapes(ctx, model), MOF_ERR_INVALID_MODEL);
    ck_assert(mof_test_diag_contains(ctx, "Concat"));
}
END_TEST

static Suite *shape_ops_suite(void)
{
    Suite *s = suite_create("shape_ops");
    TCase *tc = mof_test_tcase(s, "kernels", setup, teardown);
    tcase_add_test(tc, test_reshape_zero_and_minus_one);
    tcase_add_test(tc, test_slice_negative_step);
    tcase_add_test(tc, test_gather_negative_index);
    tcase_add_test(tc, test_pad_reflect);
    tcase_add_test(tc, test_quantize_half_to_even);
    tcase_add_test(tc, test_dequantize);
    tcase_add_test(tc, test_qlinear_matmul);
    tcase_add_test(tc, test_dynamic_quantize);
    tcase_add_test(tc, test_conv_integer);
    tcase_add_test(tc, test_resize_nearest);
    tcase_add_test(tc, test_transpose_strings);
    tcase_add_test(tc, test_shape_and_nonzero);
    tcase_add_test(tc, test_einsum);
    tcase_add_test(tc, test_unique);
    tcase_add_test(tc, test_upsample_attr);
    tcase_add_test(tc, test_nonmaxsuppression);

    tc = mof_test_tcase(s, "infer", setup, teardown);
    tcase_add_test(tc, test_infer_reshape_symbolic);
    tcase_add_test(tc, test_infer_symbolic_ops);
    tcase_add_test(tc, test_infer_resize_axes);
    tcase_add_test(tc, test_infer_new_ops);
    tcase_add_test(tc, test_infer_contradiction);
    return s;
}

MOF_TEST_MAIN(shape_ops_suite)
