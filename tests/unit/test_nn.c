/* test_nn.c: unit tests of the interpreter's neural-network operators (ops_nn.c).
 *
 * Kernels run through mof_interp_eval_node on nodes built with the public IR API; the
 * node inputs are outputs of a "source" node of a domain the interpreter does not know,
 * which also lets the shape tests give them symbolic types (mof_infer_shapes skips the
 * unknown op and infers the op under test from the types of its inputs).
 *
 * Expected values are worked out by hand in the comments. Beyond those, the float paths
 * of Conv (im2col + sgemm, the depthwise direct path) and ConvTranspose (sgemm +
 * col2im) are checked against the plain double paths on random data over many
 * geometries. */
#include "config.h"

#include <math.h>

#include "testutil.h"

#include <mof/interp.h>

MOF_TEST_MODEL_FIXTURE

/* ------------------------------------------------------------------ helpers */

/* A node `op` whose n_in inputs are fresh values (outputs of a source node) and which
 * has n_out outputs. */
static mof_node *make_node(const char *op, size_t n_in, size_t n_out)
{
    mof_node *src = mof_graph_add_node(g, MOF_INSERT_AFTER, NULL, "Source", "test.nn", NULL, 0,
                                       NULL, n_in);
    ck_assert_ptr_nonnull(src);
    mof_value *ins[8] = {0};
    ck_assert_uint_le(n_in, 8);
    for (size_t i = 0; i < n_in; i++)
        ins[i] = mof_node_output(src, i);
    mof_node *n = mof_graph_add_node(g, MOF_INSERT_AFTER, NULL, op, NULL, op, n_in, ins, n_out);
    ck_assert_ptr_nonnull(n);
    return n;
}

static void set_ints(mof_node *n, const char *name, size_t count, const int64_t *v)
{
    ck_assert_int_eq(mof_node_set_attr_ints(n, name, count, v), MOF_OK);
}

#define INTS(...) (sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), ((int64_t[]){__VA_ARGS__})
#define FLOATS(...) (sizeof((float[]){__VA_ARGS__}) / sizeof(float)), ((float[]){__VA_ARGS__})

/* A float tensor of the given dims and values (NULL values: zeros). */
static mof_tensor *tensor_f32(size_t rank, const int64_t *dims, size_t count, const float *v)
{
    mof_tensor *t = mof_tensor_create(MOF_DTYPE_FLOAT, rank, dims);
    ck_assert_ptr_nonnull(t);
    if (v) {
        ck_assert_int_eq(mof_tensor_numel(t), (int64_t)count);
        memcpy(mof_tensor_data_mut(t), v, count * sizeof(float));
    }
    return t;
}

/* Evaluates node n at opset on inputs (taken: unref'd here); outputs receive n_out new
 * references. */
static void eval(mof_node *n, int64_t opset, size_t n_in, mof_tensor **in, size_t n_out,
                 mof_tensor **out)
{
    ck_assert_status(ctx, mof_interp_eval_node(ctx, n, opset, n_in, in, n_out, out), MOF_OK);
    for (size_t i = 0; i < n_in; i++)
        mof_tensor_unref(in[i]);
}

/* Checks a float tensor's dims and values (to tol) and drops it. */
static void expect_f32(mof_tensor *t, size_t rank, const int64_t *dims, size_t count,
                       const float *want, double tol)
{
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(mof_tensor_dtype(t), MOF_DTYPE_FLOAT);
    ck_assert_uint_eq(mof_tensor_rank(t), rank);
    for (size_t i = 0; i < rank; i++)
        ck_assert_msg(mof_tensor_dims(t)[i] == dims[i], "dim %zu is %lld, expected %lld", i,
                      (long long)mof_tensor_dims(t)[i], (long long)dims[i]);
    ck_assert_int_eq(mof_tensor_numel(t), (int64_t)count);
    const float *d = mof_tensor_data(t);
    for (size_t i = 0; i < count; i++)
        ck_assert_msg(fabs(d[i] - want[i]) <= tol, "element %zu is %.7g, expected %.7g", i,
                      d[i], want[i]);
    mof_tensor_unref(t);
}

/* A deterministic pseudo-random float in [-1, 1). */
static float frand(unsigned *state)
{
    *state = *state * 1103515245u + 12345u;
    return (float)((*state >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static mof_tensor *random_tensor(mof_dtype dtype, size_t rank, const int64_t *dims,
                                 unsigned *state)
{
    mof_tensor *t = mof_tensor_create(dtype, rank, dims);
    ck_assert_ptr_nonnull(t);
    void *d = mof_tensor_data_mut(t);
    for (int64_t i = 0; i < mof_tensor_numel(t); i++) {
        float v = frand(state);
        if (dtype == MOF_DTYPE_FLOAT)
            ((float *)d)[i] = v;
        else
            ((double *)d)[i] = v;
    }
    return t;
}

/* The same tensor as double. */
static mof_tensor *to_f64(const mof_tensor *t)
{
    mof_tensor *d = mof_tensor_create(MOF_DTYPE_DOUBLE, mof_tensor_rank(t), mof_tensor_dims(t));
    ck_assert_ptr_nonnull(d);
    const float *s = mof_tensor_data(t);
    double *o = mof_tensor_data_mut(d);
    for (int64_t i = 0; i < mof_tensor_numel(t); i++)
        o[i] = s[i];
    return d;
}

/* ------------------------------------------------------------------ Conv */

/* x = 0..15 as 4x4; kernel [[1,0,0],[0,0,0],[0,0,2]] (asymmetric, so that a flipped
 * kernel would show), pads 1, strides 2, bias 0.5. Output (i, j) reads the window with
 * top-left (2i-1, 2j-1): x[TL] + 2 x[BR], zero outside:
 *   (0,0): 0 + 2*x(1,1)=10   (0,1): 0 + 2*x(1,3)=14
 *   (1,0): 0 + 2*x(3,1)=26   (1,1): x(1,1) + 2*x(3,3) = 5 + 30 = 35   (+0.5 each) */
START_TEST(test_conv_pad_stride)
{
    mof_node *n = make_node("Conv", 3, 1);
    set_ints(n, "pads", INTS(1, 1, 1, 1));
    set_ints(n, "strides", INTS(2, 2));
    float x[16];
    for (int i = 0; i < 16; i++)
        x[i] = (float)i;
    mof_tensor *in[3] = {
        tensor_f32(4, (int64_t[]){1, 1, 4, 4}, 16, x),
        tensor_f32(4, (int64_t[]){1, 1, 3, 3}, FLOATS(1, 0, 0, 0, 0, 0, 0, 0, 2)),
        tensor_f32(1, (int64_t[]){1}, FLOATS(0.5f)),
    };
    mof_tensor *y;
    eval(n, 13, 3, in, 1, &y);
    expect_f32(y, 4, (int64_t[]){1, 1, 2, 2}, FLOATS(10.5f, 14.5f, 26.5f, 35.5f), 1e-6);
}
END_TEST

/* group 2 on 4 channels, 2x2 kernel on 2x2 planes (one output position, through im2col):
 * out0 = sum(x0) * 1 + sum(x1) * 10 = 10 + 40 = 50
 * out1 = sum(x2) * 100 + sum(x3) * 1000 = 800 + 1000 = 1800 */
START_TEST(test_conv_grouped)
{
    mof_node *n = make_node("Conv", 2, 1);
    ck_assert_int_eq(mof_node_set_attr_int(n, "group", 2), MOF_OK);
    float w[16];
    for (int i = 0; i < 16; i++)
        w[i] = (float[]){1, 10, 100, 1000}[i / 4];
    mof_tensor *in[2] = {
        tensor_f32(4, (int64_t[]){1, 4, 2, 2},
                   FLOATS(1, 2, 3, 4, 1, 1, 1, 1, 2, 2, 2, 2, 0, 0, 0, 1)),
        tensor_f32(4, (int64_t[]){2, 2, 2, 2}, 16, w),
    };
    mof_tensor *y;
    eval(n, 13, 2, in, 1, &y);
    expect_f32(y, 4, (int64_t[]){1, 2, 1, 1}, FLOATS(50, 1800), 1e-4);
}
END_TEST

/* Depthwise 3x3 with pads 1: channel 0 is all ones under an all-ones kernel, giving the
 * number of in-bounds neighbours (4 corners, 6 edges, 9 centre); channel 1 is 0..8
 * under a kernel with only the centre (2), giving 2x. */
START_TEST(test_conv_depthwise)
{
    mof_node *n = make_node("Conv", 2, 1);
    ck_assert_int_eq(mof_node_set_attr_int(n, "group", 2), MOF_OK);
    set_ints(n, "pads", INTS(1, 1, 1, 1));
    set_ints(n, "kernel_shape", INTS(3, 3));
    mof_tensor *in[2] = {
        tensor_f32(4, (int64_t[]){1, 2, 3, 3},
                   FLOATS(1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8)),
        tensor_f32(4, (int64_t[]){2, 1, 3, 3},
                   FLOATS(1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0)),
    };
    mof_tensor *y;
    eval(n, 13, 2, in, 1, &y);
    expect_f32(y, 4, (int64_t[]){1, 2, 3, 3},
               FLOATS(4, 6, 4, 6, 9, 6, 4, 6, 4, 0, 2, 4, 6, 8, 10, 12, 14, 16), 1e-6);
}
END_TEST

/* 1-D, dilation 2, SAME_LOWER: x = 1..5, kernel [1, 1] dilated to extent 3, stride 1:
 * total pad 2, split 1 / 1; y[i] = x[i-1] + x[i+1] = [2, 4, 6, 8, 4]. */
START_TEST(test_conv_1d_dilated_same)
{
    mof_node *n = make_node("Conv", 2, 1);
    set_ints(n, "dilations", INTS(2));
    ck_assert_int_eq(mof_node_set_attr_string(n, "auto_pad", "SAME_LOWER"), MOF_OK);
    mof_tensor *in[2] = {
        tensor_f32(3, (int64_t[]){1, 1, 5}, FLOATS(1, 2, 3, 4, 5)),
        tensor_f32(3, (int64_t[]){1, 1, 2}, FLOATS(1, 1)),
    };
    mof_tensor *y;
    eval(n, 13, 2, in, 1, &y);
    expect_f32(y, 3, (int64_t[]){1, 1, 5}, FLOATS(2, 4, 6, 8, 4), 1e-6);
}
END_TEST

/* Runs the node on a float input set and on the same set as double, and compares. */
static void cross_check(mof_node *n, size_t n_in, mof_tensor **in_f32, const char *what)
{
    mof_tensor *in_f64[3] = {0};
    for (size_t i = 0; i < n_in; i++)
        in_f64[i] = to_f64(in_f32[i]);
    mof_tensor *yf, *yd;
    eval(n, 13, n_in, in_f32, 1, &yf);
    eval(n, 13, n_in, in_f64, 1, &yd);
    ck_assert_uint_eq(mof_tensor_rank(yf), mof_tensor_rank(yd));
    ck_assert_int_eq(mof_tensor_numel(yf), mof_tensor_numel(yd));
    const float *a = mof_tensor_data(yf);
    const double *b = mof_tensor_data(yd);
    for (int64_t i = 0; i < mof_tensor_numel(yf); i++)
        ck_assert_msg(fabs(a[i] - b[i]) <= 1e-4 * (1 + fabs(b[i])),
                      "%s: element %lld is %.7g in float, %.7g in double", what, (long long)i,
                      a[i], b[i]);
    mof_tensor_unref(yf);
    mof_tensor_unref(yd);
}

/* One geometry of the cross-checks: spatial rank, sizes, kernel, stride, dilation, pads
 * and groups; channels per group and output channels per group. */
typedef struct conv_case {
    int n;
    int64_t in[3], k[3], s[3], d[3], pads[6];
    int64_t group, cg, mg;
    const char *auto_pad;
} conv_case;

static const conv_case conv_cases[] = {
    {1, {9}, {3}, {1}, {1}, {0, 0}, 1, 3, 4, NULL},
    {1, {10}, {4}, {3}, {2}, {2, 1}, 2, 2, 3, NULL},
    {2, {7, 6}, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, 1, 3, 5, NULL},
    {2, {8, 9}, {3, 2}, {2, 3}, {1, 2}, {0, 2, 1, 0}, 1, 2, 3, NULL},
    {2, {7, 7}, {3, 3}, {2, 2}, {1, 1}, {0}, 4, 1, 1, "SAME_UPPER"},
    {2, {6, 5}, {3, 3}, {1, 2}, {2, 1}, {0}, 3, 1, 2, "SAME_LOWER"},
    {2, {5, 5}, {1, 1}, {1, 1}, {1, 1}, {0}, 2, 3, 2, NULL},
    {2, {5, 6}, {2, 2}, {2, 2}, {1, 1}, {0}, 1, 2, 2, "VALID"},
    {3, {4, 5, 3}, {2, 3, 2}, {1, 2, 1}, {1, 1, 2}, {1, 0, 0, 0, 1, 1}, 2, 2, 2, NULL},
};

static void set_geometry(mof_node *n, const conv_case *c)
{
    set_ints(n, "strides", (size_t)c->n, c->s);
    set_ints(n, "dilations", (size_t)c->n, c->d);
    if (c->auto_pad)
        ck_assert_int_eq(mof_node_set_attr_string(n, "auto_pad", c->auto_pad), MOF_OK);
    else
        set_ints(n, "pads", 2 * (size_t)c->n, c->pads);
    ck_assert_int_eq(mof_node_set_attr_int(n, "group", c->group), MOF_OK);
}

/* Runs op (Conv or ConvTranspose) over every geometry of conv_cases on random data,
 * checking the float paths against the double ones. */
static void cross_check_cases(const char *op, unsigned state)
{
    bool transpose = !strcmp(op, "ConvTranspose");
    for (size_t q = 0; q < sizeof(conv_cases) / sizeof(conv_cases[0]); q++) {
        const conv_case *c = &conv_cases[q];
        mof_node *n = make_node(op, 3, 1);
        set_geometry(n, c);
        if (transpose && q % 3 == 1) {
            int64_t op_pad[3];
            for (int i = 0; i < c->n; i++)
                op_pad[i] = c->s[i] > 1 ? 1 : 0;
            set_ints(n, "output_padding", (size_t)c->n, op_pad);
        }
        /* W is [M, C/group, k...] for Conv, [C, M/group, k...] for ConvTranspose. */
        int64_t xd[5] = {2, c->group * c->cg};
        int64_t wd[5] = {transpose ? c->group * c->cg : c->group * c->mg,
                         transpose ? c->mg : c->cg};
        for (int i = 0; i < c->n; i++) {
            xd[i + 2] = c->in[i];
            wd[i + 2] = c->k[i];
        }
        int64_t bd = c->group * c->mg;
        mof_tensor *in[3] = {
            random_tensor(MOF_DTYPE_FLOAT, (size_t)c->n + 2, xd, &state),
            random_tensor(MOF_DTYPE_FLOAT, (size_t)c->n + 2, wd, &state),
            random_tensor(MOF_DTYPE_FLOAT, 1, &bd, &state),
        };
        char what[40];
        snprintf(what, sizeof(what), "%s case %zu", op, q);
        cross_check(n, 3, in, what);
    }
}

START_TEST(test_conv_float_vs_double)
{
    cross_check_cases("Conv", 7);
}
END_TEST

/* ------------------------------------------------------------------ ConvTranspose */

/* x = [0, 1, 2], kernel [1, 1, 1] to 2 channels (the ONNX example): each input spreads
 * over 3 outputs: [0, 1, 3, 3, 2] per channel. With strides 2 and output_padding 1:
 * positions 0..2, 2..4, 4..6 plus one: [0, 0, 1, 1, 3, 2, 2, 0]. */
START_TEST(test_convtranspose_1d)
{
    mof_node *n = make_node("ConvTranspose", 2, 1);
    mof_tensor *in[2] = {
        tensor_f32(3, (int64_t[]){1, 1, 3}, FLOATS(0, 1, 2)),
        tensor_f32(3, (int64_t[]){1, 2, 3}, FLOATS(1, 1, 1, 1, 1, 1)),
    };
    mof_tensor *y;
    eval(n, 13, 2, in, 1, &y);
    expect_f32(y, 3, (int64_t[]){1, 2, 5}, FLOATS(0, 1, 3, 3, 2, 0, 1, 3, 3, 2), 1e-6);

    n = make_node("ConvTranspose", 2, 1);
    set_ints(n, "strides", INTS(2));
    set_ints(n, "output_padding", INTS(1));
    in[0] = tensor_f32(3, (int64_t[]){1, 1, 3}, FLOATS(0, 1, 2));
    in[1] = tensor_f32(3, (int64_t[]){1, 1, 3}, FLOATS(1, 1, 1));
    eval(n, 13, 2, in, 1, &y);
    expect_f32(y, 3, (int64_t[]){1, 1, 8}, FLOATS(0, 0, 1, 1, 3, 2, 2, 0), 1e-6);

    /* output_shape 8 with strides 2: the natural size is 7, total padding -1: the
     * extra element goes to the end, as with output_padding. */
    n = make_node("ConvTranspose", 2, 1);
    set_ints(n, "strides", INTS(2));
    set_ints(n, "output_shape", INTS(8));
    in[0] = tensor_f32(3, (int64_t[]){1, 1, 3}, FLOATS(0, 1, 2));
    in[1] = tensor_f32(3, (int64_t[]){1, 1, 3}, FLOATS(1, 1, 1));
    eval(n, 13, 2, in, 1, &y);
    expect_f32(y, 3, (int64_t[]){1, 1, 8}, FLOATS(0, 0, 1, 1, 3, 2, 2, 0), 1e-6);
}
END_TEST

START_TEST(test_convtranspose_float_vs_double)
{
    cross_check_cases("ConvTranspose", 11);
}
END_TEST

/* ------------------------------------------------------------------ Gemm, MatMul */

/* op(A) = [[1,2,3],[4,5,6]], op(B) = [[1,0],[0,1],[1,1]]: op(A) op(B) = [[4,5],[10,11]].
 * Both stored transposed. alpha 2, beta 0.5:
 *   C = [10, 20] (a row, broadcast down):      [[13, 20], [25, 32]]
 *   C = [[10], [20]] (a column, broadcast across): [[13, 15], [30, 32]]
 *   no C:                                       [[8, 10], [20, 22]] */
START_TEST(test_gemm_trans_broadcast)
{
    static const int64_t cdims[2][2] = {{2, 0}, {2, 1}};
    static const float want[3][4] = {{13, 20, 25, 32}, {13, 15, 30, 32}, {8, 10, 20, 22}};
    for (int q = 0; q < 3; q++) {
        size_t n_in = q < 2 ? 3 : 2;
        mof_node *n = make_node("Gemm", n_in, 1);
        ck_assert_int_eq(mof_node_set_attr_int(n, "transA", 1), MOF_OK);
        ck_assert_int_eq(mof_node_set_attr_int(n, "transB", 1), MOF_OK);
        ck_assert_int_eq(mof_node_set_attr_float(n, "alpha", 2.0f), MOF_OK);
        ck_assert_int_eq(mof_node_set_attr_float(n, "beta", 0.5f), MOF_OK);
        mof_tensor *in[3] = {
            tensor_f32(2, (int64_t[]){3, 2}, FLOATS(1, 4, 2, 5, 3, 6)),
            tensor_f32(2, (int64_t[]){2, 3}, FLOATS(1, 0, 1, 0, 1, 1)),
            q < 2 ? tensor_f32(q == 0 ? 1 : 2, cdims[q], FLOATS(10, 20)) : NULL,
        };
        mof_tensor *y;
        eval(n, 13, n_in, in, 1, &y);
        expect_f32(y, 2, (int64_t[]){2, 2}, 4, want[q], 1e-5);
    }
}
END_TEST

/* C [3] against a 2x2 result does not broadcast. */
START_TEST(test_gemm_bad_c)
{
    mof_node *n = make_node("Gemm", 3, 1);
    mof_tensor *in[3] = {
        tensor_f32(2, (int64_t[]){2, 2}, FLOATS(1, 2, 3, 4)),
        tensor_f32(2, (int64_t[]){2, 2}, FLOATS(1, 2, 3, 4)),
        tensor_f32(1, (int64_t[]){3}, FLOATS(1, 2, 3)),
    };
    mof_tensor *y = NULL;
    ck_assert_int_eq(mof_interp_eval_node(ctx, n, 13, 3, in, 1, &y), MOF_ERR_INVALID_MODEL);
    ck_assert(mof_test_diag_contains(ctx, "does not broadcast"));
    ck_assert(mof_test_diag_contains(ctx, "Gemm"));
    for (int i = 0; i < 3; i++)
        mof_tensor_unref(in[i]);
}
END_TEST

/* A [2,1,1,2] x B [3,2,1]: batch dims [2,1] and [3] broadcast to [2,3]; a_i = [1,2] and
 * [3,4], b_j = [1,0], [0,1], [1,1] (columns): out[i][j] = a_i . b_j
 *   = [[1, 2, 3], [3, 4, 7]], shape [2,3,1,1]. */
START_TEST(test_matmul_broadcast)
{
    mof_node *n = make_node("MatMul", 2, 1);
    mof_tensor *in[2] = {
        tensor_f32(4, (int64_t[]){2, 1, 1, 2}, FLOATS(1, 2, 3, 4)),
        tensor_f32(3, (int64_t[]){3, 2, 1}, FLOATS(1, 0, 0, 1, 1, 1)),
    };
    mof_tensor *y;
    eval(n, 13, 2, in, 1, &y);
    expect_f32(y, 4, (int64_t[]){2, 3, 1, 1}, FLOATS(1, 2, 3, 3, 4, 7), 1e-6);
}
END_TEST

/* 1-D operands: [1,2,3] . [4,5,6] = 32 (a scalar); [1,2] x B [2, 2, 3] (a batch of two
 * 2x3 matrices, the vector promoted to a row and the row dropped) = [2, 3]. */
START_TEST(test_matmul_vectors)
{
    mof_node *n = make_node("MatMul", 2, 1);
    mof_tensor *in[2] = {
        tensor_f32(1, (int64_t[]){3}, FLOATS(1, 2, 3)),
        tensor_f32(1, (int64_t[]){3}, FLOATS(4, 5, 6)),
    };
    mof_tensor *y;
    eval(n, 13, 2, in, 1, &y);
    expect_f32(y, 0, NULL, FLOATS(32), 1e-6);

    n = make_node("MatMul", 2, 1);
    in[0] = tensor_f32(1, (int64_t[]){2}, FLOATS(1, 2));
    in[1] = tensor_f32(3, (int64_t[]){2, 2, 3},
                       FLOATS(1, 2, 3, 4, 5, 6, 1, 0, 0, 0, 1, 0));
    eval(n, 13, 2, in, 1, &y);
    /* [1,2] x [[1,2,3],[4,5,6]] = [9,12,15]; x [[1,0,0],[0,1,0]] = [1,2,0] */
    expect_f32(y, 2, (int64_t[]){2, 3}, FLOATS(9, 12, 15, 1, 2, 0), 1e-6);
}
END_TEST

/* Integer MatMul wraps around like int32 hardware: 65536 * 65536 = 2^32 -> 0. */
START_TEST(test_matmul_int32)
{
    mof_node *n = make_node("MatMul", 2, 1);
    int32_t a[2] = {65536, 3}, b[2] = {65536, 5};
    mof_tensor *in[2] = {
        mof_tensor_create_from(MOF_DTYPE_INT32, 2, (int64_t[]){1, 2}, a),
        mof_tensor_create_from(MOF_DTYPE_INT32, 2, (int64_t[]){2, 1}, b),
    };
    mof_tensor *y;
    eval(n, 13, 2, in, 1, &y);
    ck_assert_int_eq(mof_tensor_dtype(y), MOF_DTYPE_INT32);
    ck_assert_int_eq(((const int32_t *)mof_tensor_data(y))[0], 15);
    mof_tensor_unref(y);
}
END_TEST

/* ------------------------------------------------------------------ pools */

/* The ONNX example: 1..16 as 4x4, kernel 3, strides 2, ceil_mode: windows start at 0
 * and 2 (the second one cut off by the edge): [[11, 12], [15, 16]]; indices into the
 * flattened input: 10, 11, 14, 15. */
START_TEST(test_maxpool_ceil_indices)
{
    mof_node *n = make_node("MaxPool", 1, 2);
    set_ints(n, "kernel_shape", INTS(3, 3));
    set_ints(n, "strides", INTS(2, 2));
    ck_assert_int_eq(mof_node_set_attr_int(n, "ceil_mode", 1), MOF_OK);
    float x[16];
    for (int i = 0; i < 16; i++)
        x[i] = (float)(i + 1);
    mof_tensor *in[1] = {tensor_f32(4, (int64_t[]){1, 1, 4, 4}, 16, x)};
    mof_tensor *out[2];
    eval(n, 13, 1, in, 2, out);
    expect_f32(out[0], 4, (int64_t[]){1, 1, 2, 2}, FLOATS(11, 12, 15, 16), 0);
    ck_assert_int_eq(mof_tensor_dtype(out[1]), MOF_DTYPE_INT64);
    const int64_t *idx = mof_tensor_data(out[1]);
    ck_assert_int_eq(idx[0], 10);
    ck_assert_int_eq(idx[1], 11);
    ck_assert_int_eq(idx[2], 14);
    ck_assert_int_eq(idx[3], 15);
    mof_tensor_unref(out[1]);
}
END_TEST

/* 1-D ceil_mode: [1..5], kernel 2, stride 2: windows [1,2] [3,4] [5] -> [2, 4, 5].
 * With 4 inputs and an end pad of 1, a third window would start in the padding: it is
 * dropped, [2, 4]. */
START_TEST(test_maxpool_ceil_1d)
{
    mof_node *n = make_node("MaxPool", 1, 1);
    set_ints(n, "kernel_shape", INTS(2));
    set_ints(n, "strides", INTS(2));
    ck_assert_int_eq(mof_node_set_attr_int(n, "ceil_mode", 1), MOF_OK);
    mof_tensor *in[1] = {tensor_f32(3, (int64_t[]){1, 1, 5}, FLOATS(1, 2, 3, 4, 5))};
    mof_tensor *y;
    eval(n, 13, 1, in, 1, &y);
    expect_f32(y, 3, (int64_t[]){1, 1, 3}, FLOATS(2, 4, 5), 0);

    set_ints(n, "pads", INTS(0, 1));
    in[0] = tensor_f32(3, (int64_t[]){1, 1, 4}, FLOATS(1, 2, 3, 4));
    eval(n, 13, 1, in, 1, &y);
    expect_f32(y, 3, (int64_t[]){1, 1, 2}, FLOATS(2, 4), 0);
}
END_TEST

/* storage_order 1 (the ONNX example): 1..25 as 5x5, kernel 2, strides 2: maxima 7, 9,
 * 17, 19 at (1,1) (1,3) (3,1) (3,3); column-major indices h + 5 w: 6, 16, 8, 18. */
START_TEST(test_maxpool_storage_order)
{
    mof_node *n = make_node("MaxPool", 1, 2);
    set_ints(n, "kernel_shape", INTS(2, 2));
    set_ints(n, "strides", INTS(2, 2));
    ck_assert_int_eq(mof_node_set_attr_int(n, "storage_order", 1), MOF_OK);
    float x[25];
    for (int i = 0; i < 25; i++)
        x[i] = (float)(i + 1);
    mof_tensor *in[1] = {tensor_f32(4, (int64_t[]){1, 1, 5, 5}, 25, x)};
    mof_tensor *out[2];
    eval(n, 13, 1, in, 2, out);
    expect_f32(out[0], 4, (int64_t[]){1, 1, 2, 2}, FLOATS(7, 9, 17, 19), 0);
    const int64_t *idx = mof_tensor_data(out[1]);
    ck_assert_int_eq(idx[0], 6);
    ck_assert_int_eq(idx[1], 16);
    ck_assert_int_eq(idx[2], 8);
    ck_assert_int_eq(idx[3], 18);
    mof_tensor_unref(out[1]);
}
END_TEST

/* 1..9 as 3x3, kernel 3, pads 1, stride 1. Corner (0,0) sums 1+2+4+5 = 12, edge (0,1)
 * sums 1..6 = 21, centre 45:
 *   count_include_pad 0: 12/4 = 3, 21/6 = 3.5, 45/9 = 5
 *   count_include_pad 1: 12/9, 21/9, 45/9 */
START_TEST(test_averagepool_count_include_pad)
{
    float x[9];
    for (int i = 0; i < 9; i++)
        x[i] = (float)(i + 1);
    for (int inc = 0; inc < 2; inc++) {
        mof_node *n = make_node("AveragePool", 1, 1);
        set_ints(n, "kernel_shape", INTS(3, 3));
        set_ints(n, "pads", INTS(1, 1, 1, 1));
        ck_assert_int_eq(mof_node_set_attr_int(n, "count_include_pad", inc), MOF_OK);
        mof_tensor *in[1] = {tensor_f32(4, (int64_t[]){1, 1, 3, 3}, 9, x)};
        mof_tensor *y;
        eval(n, 13, 1, in, 1, &y);
        ck_assert_int_eq(mof_tensor_numel(y), 9);
        const float *d = mof_tensor_data(y);
        ck_assert_float_eq_tol(d[0], inc ? 12.0f / 9 : 3.0f, 1e-6);
        ck_assert_float_eq_tol(d[1], inc ? 21.0f / 9 : 3.5f, 1e-6);
        ck_assert_float_eq_tol(d[4], 5.0f, 1e-6);
        ck_assert_float_eq_tol(d[8], inc ? (5 + 6 + 8 + 9) / 9.0f : 7.0f, 1e-6);
        mof_tensor_unref(y);
    }
}
END_TEST

/* Global pools over 2 channels of 2x2: averages 2.5 and 10, maxima 4 and 40. */
START_TEST(test_global_pools)
{
    static const char *const ops[2] = {"GlobalAveragePool", "GlobalMaxPool"};
    static const float want[2][2] = {{2.5f, 10.0f}, {4.0f, 40.0f}};
    for (int q = 0; q < 2; q++) {
        mof_node *n = make_node(ops[q], 1, 1);
        mof_tensor *in[1] = {
            tensor_f32(4, (int64_t[]){1, 2, 2, 2}, FLOATS(1, 2, 3, 4, 40, 0, -10, 10)),
        };
        mof_tensor *y;
        eval(n, 13, 1, in, 1, &y);
        expect_f32(y, 4, (int64_t[]){1, 2, 1, 1}, 2, want[q], 1e-6);
    }
}
END_TEST

/* GlobalLpPool over [1,2,2,2]: channel 0 [3, 0, 0, 4]: p=2 gives 5, p=1 gives 7;
 * channel 1 [1, -1, 1, -1]: 2 and 4. LpPool 2x1 p=2 on channel 0: [3, 4]. */
START_TEST(test_lp_pools)
{
    static const int64_t ps[2] = {2, 1};
    static const float want[2][2] = {{5, 2}, {7, 4}};
    for (int q = 0; q < 2; q++) {
        mof_node *n = make_node("GlobalLpPool", 1, 1);
        ck_assert_int_eq(mof_node_set_attr_int(n, "p", ps[q]), MOF_OK);
        mof_tensor *in[1] = {
            tensor_f32(4, (int64_t[]){1, 2, 2, 2}, FLOATS(3, 0, 0, 4, 1, -1, 1, -1)),
        };
        mof_tensor *y;
        eval(n, 2, 1, in, 1, &y);
        expect_f32(y, 4, (int64_t[]){1, 2, 1, 1}, 2, want[q], 1e-6);
    }
    mof_node *n = make_node("LpPool", 1, 1);
    set_ints(n, "kernel_shape", INTS(2, 1));
    mof_tensor *in[1] = {tensor_f32(4, (int64_t[]){1, 1, 2, 2}, FLOATS(3, 0, 0, 4))};
    mof_tensor *y;
    eval(n, 11, 1, in, 1, &y);
    expect_f32(y, 4, (int64_t[]){1, 1, 1, 2}, FLOATS(3, 4), 1e-6);
}
END_TEST

/* MaxUnpool of [1,1,1,2] = [7, 9] at indices [1, 2] with kernel 2, stride 2 (natural
 * output [1,1,2,4]); output_shape [1,1,3,5] pads it at the ends. */
START_TEST(test_maxunpool)
{
    mof_node *n = make_node("MaxUnpool", 2, 1);
    set_ints(n, "kernel_shape", INTS(2, 2));
    set_ints(n, "strides", INTS(2, 2));
    mof_tensor *ind = mof_tensor_create_from(MOF_DTYPE_INT64, 4, (int64_t[]){1, 1, 1, 2},
                                             (int64_t[]){1, 6});
    mof_tensor *in[2] = {tensor_f32(4, (int64_t[]){1, 1, 1, 2}, FLOATS(7, 9)), ind};
    mof_tensor *y;
    eval(n, 11, 2, in, 1, &y);
    expect_f32(y, 4, (int64_t[]){1, 1, 2, 4}, FLOATS(0, 7, 0, 0, 0, 0, 9, 0), 0);

    n = make_node("MaxUnpool", 3, 1);
    set_ints(n, "kernel_shape", INTS(2, 2));
    set_ints(n, "strides", INTS(2, 2));
    mof_tensor *in3[3] = {
        tensor_f32(4, (int64_t[]){1, 1, 1, 2}, FLOATS(7, 9)),
        mof_tensor_create_from(MOF_DTYPE_INT64, 4, (int64_t[]){1, 1, 1, 2}, (int64_t[]){1, 6}),
        mof_tensor_create_from(MOF_DTYPE_INT64, 1, (int64_t[]){4}, (int64_t[]){1, 1, 3, 5}),
    };
    eval(n, 11, 3, in3, 1, &y);
    expect_f32(y, 4, (int64_t[]){1, 1, 3, 5},
               FLOATS(0, 7, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0), 0);
}
END_TEST

/* ------------------------------------------------------------------ normalizations */

/* x [1,2,1,2] = [[1,2],[3,4]], scale [1,2], B [0,1], mean [1,3], var [4,1], epsilon 0:
 *   channel 0: (x-1)/2 = [0, 0.5];  channel 1: (x-3)*2 + 1 = [1, 3] */
START_TEST(test_batchnorm_inference)
{
    mof_node *n = make_node("BatchNormalization", 5, 1);
    ck_assert_int_eq(mof_node_set_attr_float(n, "epsilon", 0.0f), MOF_OK);
    mof_tensor *in[5] = {
        tensor_f32(4, (int64_t[]){1, 2, 1, 2}, FLOATS(1, 2, 3, 4)),
        tensor_f32(1, (int64_t[]){2}, FLOATS(1, 2)),
        tensor_f32(1, (int64_t[]){2}, FLOATS(0, 1)),
        tensor_f32(1, (int64_t[]){2}, FLOATS(1, 3)),
        tensor_f32(1, (int64_t[]){2}, FLOATS(4, 1)),
    };
    mof_tensor *y;
    eval(n, 9, 5, in, 1, &y);
    expect_f32(y, 4, (int64_t[]){1, 2, 1, 2}, FLOATS(0, 0.5f, 1, 3), 1e-6);
}
END_TEST

/* Training mode (opset 15): x = [1, 3] over the batch (one channel): batch mean 2,
 * biased variance 1; y = [-1, 1]; running mean 0 * 0.9 + 2 * 0.1 = 0.2, running
 * variance 1 * 0.9 + 1 * 0.1 = 1. */
START_TEST(test_batchnorm_training)
{
    mof_node *n = make_node("BatchNormalization", 5, 3);
    ck_assert_int_eq(mof_node_set_attr_float(n, "epsilon", 0.0f), MOF_OK);
    ck_assert_int_eq(mof_node_set_attr_int(n, "training_mode", 1), MOF_OK);
    mof_tensor *in[5] = {
        tensor_f32(4, (int64_t[]){2, 1, 1, 1}, FLOATS(1, 3)),
        tensor_f32(1, (int64_t[]){1}, FLOATS(1)),
        tensor_f32(1, (int64_t[]){1}, FLOATS(0)),
        tensor_f32(1, (int64_t[]){1}, FLOATS(0)),
        tensor_f32(1, (int64_t[]){1}, FLOATS(1)),
    };
    mof_tensor *out[3];
    eval(n, 15, 5, in, 3, out);
    expect_f32(out[0], 4, (int64_t[]){2, 1, 1, 1}, FLOATS(-1, 1), 1e-6);
    expect_f32(out[1], 1, (int64_t[]){1}, FLOATS(0.2f), 1e-6);
    expect_f32(out[2], 1, (int64_t[]){1}, FLOATS(1), 1e-6);
}
END_TEST

/* Instance norm of a plane [1, 3] (mean 2, variance 1) with scale 2 and B 1, epsilon 0:
 * [-1, 3]. */
START_TEST(test_instancenorm)
{
    mof_node *n = make_node("InstanceNormalization", 3, 1);
    ck_assert_int_eq(mof_node_set_attr_float(n, "epsilon", 0.0f), MOF_OK);
    mof_tensor *in[3] = {
        tensor_f32(3, (int64_t[]){1, 1, 2}, FLOATS(1, 3)),
        tensor_f32(1, (int64_t[]){1}, FLOATS(2)),
        tensor_f32(1, (int64_t[]){1}, FLOATS(1)),
    };
    mof_tensor *y;
    eval(n, 13, 3, in, 1, &y);
    expect_f32(y, 3, (int64_t[]){1, 1, 2}, FLOATS(-1, 3), 1e-6);
}
END_TEST

/* Rows [1, 3] and [2, 6] (means 2 and 4, variances 1 and 4), scale [1, 10], no B,
 * epsilon 0: y = [[-1, 10], [-1, 10]], Mean [[2], [4]], InvStdDev [[1], [0.5]]. */
START_TEST(test_layernorm)
{
    mof_node *n = make_node("LayerNormalization", 2, 3);
    ck_assert_int_eq(mof_node_set_attr_float(n, "epsilon", 0.0f), MOF_OK);
    mof_tensor *in[2] = {
        tensor_f32(2, (int64_t[]){2, 2}, FLOATS(1, 3, 2, 6)),
        tensor_f32(1, (int64_t[]){2}, FLOATS(1, 10)),
    };
    mof_tensor *out[3];
    eval(n, 17, 2, in, 3, out);
    expect_f32(out[0], 2, (int64_t[]){2, 2}, FLOATS(-1, 10, -1, 10), 1e-6);
    expect_f32(out[1], 2, (int64_t[]){2, 1}, FLOATS(2, 4), 1e-6);
    expect_f32(out[2], 2, (int64_t[]){2, 1}, FLOATS(1, 0.5f), 1e-6);
}
END_TEST

/* LRN size 3 over channels [1, 2, 3] (one position), alpha 3, beta 1, bias 1:
 * the sums of squares are 1+4 = 5, 1+4+9 = 14, 4+9 = 13; y = x / (1 + alpha/3 * sum)
 * = 1/6, 2/15, 3/14. */
START_TEST(test_lrn)
{
    mof_node *n = make_node("LRN", 1, 1);
    ck_assert_int_eq(mof_node_set_attr_int(n, "size", 3), MOF_OK);
    ck_assert_int_eq(mof_node_set_attr_float(n, "alpha", 3.0f), MOF_OK);
    ck_assert_int_eq(mof_node_set_attr_float(n, "beta", 1.0f), MOF_OK);
    mof_tensor *in[1] = {tensor_f32(4, (int64_t[]){1, 3, 1, 1}, FLOATS(1, 2, 3))};
    mof_tensor *y;
    eval(n, 13, 1, in, 1, &y);
    expect_f32(y, 4, (int64_t[]){1, 3, 1, 1}, FLOATS(1.0f / 6, 2.0f / 15, 3.0f / 14), 1e-6);
}
END_TEST

START_TEST(test_flatten)
{
    mof_node *n = make_node("Flatten", 1, 1);
    ck_assert_int_eq(mof_node_set_attr_int(n, "axis", -1), MOF_OK);
    mof_tensor *in[1] = {tensor_f32(3, (int64_t[]){2, 1, 3}, FLOATS(1, 2, 3, 4, 5, 6))};
    mof_tensor *y;
    eval(n, 13, 1, in, 1, &y);
    expect_f32(y, 2, (int64_t[]){2, 3}, FLOATS(1, 2, 3, 4, 5, 6), 0);
    /* A negative axis is refused before opset 11. */
    in[0] = tensor_f32(1, (int64_t[]){2}, FLOATS(1, 2));
    ck_assert_int_eq(mof_interp_eval_node(ctx, n, 9, 1, in, 1, &y), MOF_ERR_INVALID_MODEL);
    mof_tensor_unref(in[0]);
}
END_TEST

/* MeanVarianceNormalization over axis 1 of [[1, 3], [2, 2]]: row 0 has mean 2 and std 1,
 * row 1 std 0: [-1, 1] and [0, 0]. LpNormalization p=1 of [[1, -3], [0, 0]] along
 * axis 1: [0.25, -0.75] and, a zero norm, zeros. */
START_TEST(test_mvn_lpnorm)
{
    mof_node *n = make_node("MeanVarianceNormalization", 1, 1);
    set_ints(n, "axes", INTS(1));
    mof_tensor *in[1] = {tensor_f32(2, (int64_t[]){2, 2}, FLOATS(1, 3, 2, 2))};
    mof_tensor *y;
    eval(n, 13, 1, in, 1, &y);
    expect_f32(y, 2, (int64_t[]){2, 2}, FLOATS(-1, 1, 0, 0), 1e-6);

    n = make_node("LpNormalization", 1, 1);
    ck_assert_int_eq(mof_node_set_attr_int(n, "p", 1), MOF_OK);
    in[0] = tensor_f32(2, (int64_t[]){2, 2}, FLOATS(1, -3, 0, 0));
    eval(n, 1, 1, in, 1, &y);
    expect_f32(y, 2, (int64_t[]){2, 2}, FLOATS(0.25f, -0.75f, 0, 0), 1e-6);
}
END_TEST

/* ------------------------------------------------------------------ shapes */

/* Gives value v a float type with dims (negative: the symbol of the same index). */
static void set_type(mof_value *v, int rank, const int64_t *dims, const char *const *syms)
{
    ck_assert_int_eq(mof_value_set_type(v, MOF_DTYPE_FLOAT, rank, dims, syms), MOF_OK);
}

/* Asserts the inferred type of v: float, and each dim a number or the given symbol. */
static void expect_type(const mof_value *v, int rank, const int64_t *dims,
                        const char *const *syms)
{
    ck_assert_int_eq(mof_value_dtype(v), MOF_DTYPE_FLOAT);
    ck_assert_int_eq(mof_value_rank(v), rank);
    for (int i = 0; i < rank; i++) {
        ck_assert_msg(mof_value_dim(v, (size_t)i) == dims[i], "%s: dim %d is %lld, expected %lld",
                      mof_value_name(v), i, (long long)mof_value_dim(v, (size_t)i),
                      (long long)dims[i]);
        const char *s = mof_value_dim_symbol(v, (size_t)i);
        if (syms && syms[i])
            ck_assert_msg(s && !strcmp(s, syms[i]), "%s: dim %d is '%s', expected '%s'",
                          mof_value_name(v), i, s ? s : "(none)", syms[i]);
    }
}

/* A node whose input 0 has a symbolic type and whose other inputs are constants. */
static mof_node *shape_node(const char *op, int rank, const int64_t *dims,
                            const char *const *syms, size_t n_const, mof_tensor **consts,
                            size_t n_out)
{
    mof_node *src = mof_graph_add_node(g, MOF_INSERT_AFTER, NULL, "Source", "test.nn", NULL, 0,
                                       NULL, 1);
    ck_assert_ptr_nonnull(src);
    set_type(mof_node_output(src, 0), rank, dims, syms);
    mof_value *ins[8] = {mof_node_output(src, 0)};
    ck_assert_uint_le(n_const, 7);
    for (size_t i = 0; i < n_const; i++) {
        ins[i + 1] = consts[i] ? mof_graph_add_initializer(g, "w", consts[i]) : NULL;
        ck_assert(!consts[i] || ins[i + 1]);
    }
    mof_node *n = mof_graph_add_node(g, MOF_INSERT_AFTER, NULL, op, NULL, op, 1 + n_const, ins,
                                     n_out);
    ck_assert_ptr_nonnull(n);
    return n;
}

#define SYMS(...) ((const char *const[]){__VA_ARGS__})
#define DIMS(...) ((int64_t[]){__VA_ARGS__})
#define U (-1)

START_TEST(test_shapes_symbolic)
{
    /* Conv 7x7/2 pad 3 on [N,3,224,224]: [N,64,112,112]. */
    mof_tensor *w = mof_tensor_create(MOF_DTYPE_FLOAT, 4, DIMS(64, 3, 7, 7));
    mof_node *conv = shape_node("Conv", 4, DIMS(U, 3, 224, 224), SYMS("N", NULL, NULL, NULL), 1,
                                &w, 1);
    set_ints(conv, "strides", INTS(2, 2));
    set_ints(conv, "pads", INTS(3, 3, 3, 3));
    /* Conv 3x3 SAME_UPPER stride 1 on [N,3,H,W]: [N,8,H,W]. */
    w = mof_tensor_create(MOF_DTYPE_FLOAT, 4, DIMS(8, 3, 3, 3));
    mof_node *same = shape_node("Conv", 4, DIMS(U, 3, U, U), SYMS("N", NULL, "H", "W"), 1, &w, 1);
    ck_assert_int_eq(mof_node_set_attr_string(same, "auto_pad", "SAME_UPPER"), MOF_OK);
    /* Conv 3x3 pads 1 stride 1 keeps H and W too; stride 2 does not. */
    w = mof_tensor_create(MOF_DTYPE_FLOAT, 4, DIMS(8, 3, 3, 3));
    mof_node *keep = shape_node("Conv", 4, DIMS(U, 3, U, U), SYMS("N", NULL, "H", "W"), 1, &w, 1);
    set_ints(keep, "pads", INTS(1, 1, 1, 1));
    set_ints(keep, "strides", INTS(1, 2));
    /* MaxPool 3/2 pad 1 on [N,64,112,112]: [N,64,56,56], Indices alike. */
    mof_node *pool = shape_node("MaxPool", 4, DIMS(U, 64, 112, 112),
                                SYMS("N", NULL, NULL, NULL), 0, NULL, 2);
    set_ints(pool, "kernel_shape", INTS(3, 3));
    set_ints(pool, "strides", INTS(2, 2));
    set_ints(pool, "pads", INTS(1, 1, 1, 1));
    /* AveragePool ceil_mode on [N,C,7,7] with 2/2: [N,C,4,4]. */
    mof_node *avg = shape_node("AveragePool", 4, DIMS(U, U, 7, 7), SYMS("N", "C", NULL, NULL), 0,
                               NULL, 1);
    set_ints(avg, "kernel_shape", INTS(2, 2));
    set_ints(avg, "strides", INTS(2, 2));
    ck_assert_int_eq(mof_node_set_attr_int(avg, "ceil_mode", 1), MOF_OK);
    /* MatMul [B,T,768] x [768,3072]: [B,T,3072]. */
    w = mof_tensor_create(MOF_DTYPE_FLOAT, 2, DIMS(768, 3072));
    mof_node *mm = shape_node("MatMul", 3, DIMS(U, U, 768), SYMS("B", "T", NULL), 1, &w, 1);
    /* Gemm [N,2048] x W[1000,2048]^T + C[1000]: [N,1000]. */
    mof_tensor *gw[2] = {mof_tensor_create(MOF_DTYPE_FLOAT, 2, DIMS(1000, 2048)),
                         mof_tensor_create(MOF_DTYPE_FLOAT, 1, DIMS(1000))};
    mof_node *gemm = shape_node("Gemm", 2, DIMS(U, 2048), SYMS("N", NULL), 2, gw, 1);
    ck_assert_int_eq(mof_node_set_attr_int(gemm, "transB", 1), MOF_OK);
    /* Flatten [N,2048,1,1]: [N,2048]. */
    mof_node *flat = shape_node("Flatten", 4, DIMS(U, 2048, 1, 1), SYMS("N", NULL, NULL, NULL), 0,
                                NULL, 1);
    /* GlobalAveragePool [N,C,H,W]: [N,C,1,1]. */
    mof_node *gap = shape_node("GlobalAveragePool", 4, DIMS(U, U, U, U), SYMS("N", "C", "H", "W"),
                               0, NULL, 1);
    /* LayerNormalization [B,T,768] with Mean and InvStdDev: [B,T,1]. */
    mof_tensor *scale = mof_tensor_create(MOF_DTYPE_FLOAT, 1, DIMS(768));
    mof_node *ln = shape_node("LayerNormalization", 3, DIMS(U, U, 768), SYMS("B", "T", NULL), 1,
                              &scale, 3);
    /* ConvTranspose 3x3/2 on [N,8,5,5] with W [8,4,3,3]: [N,4,11,11]; with output_shape
     * [20, 20] on unknown spatial dims: [N,4,20,20]. */
    w = mof_tensor_create(MOF_DTYPE_FLOAT, 4, DIMS(8, 4, 3, 3));
    mof_node *ct = shape_node("ConvTranspose", 4, DIMS(U, 8, 5, 5), SYMS("N", NULL, NULL, NULL), 1,
                              &w, 1);
    set_ints(ct, "strides", INTS(2, 2));
    w = mof_tensor_create(MOF_DTYPE_FLOAT, 4, DIMS(8, 4, 3, 3));
    mof_node *cto = shape_node("ConvTranspose", 4, DIMS(U, 8, U, U), SYMS("N", NULL, "H", "W"), 1,
                               &w, 1);
    set_ints(cto, "strides", INTS(2, 2));
    set_ints(cto, "output_shape", INTS(20, 20));
    /* BatchNormalization keeps [N,16,H,W]. */
    mof_tensor *bnp[4];
    for (int i = 0; i < 4; i++)
        bnp[i] = mof_tensor_create(MOF_DTYPE_FLOAT, 1, DIMS(16));
    mof_node *bn = shape_node("BatchNormalization", 4, DIMS(U, 16, U, U),
                              SYMS("N", NULL, "H", "W"), 4, bnp, 1);

    ck_assert_int_eq(mof_model_set_opset(model, "", 17), MOF_OK);
    ck_assert_status(ctx, mof_infer_shapes(ctx, model), MOF_OK);

    expect_type(mof_node_output(conv, 0), 4, DIMS(U, 64, 112, 112), SYMS("N", NULL, NULL, NULL));
    expect_type(mof_node_output(same, 0), 4, DIMS(U, 8, U, U), SYMS("N", NULL, "H", "W"));
    expect_type(mof_node_output(keep, 0), 4, DIMS(U, 8, U, U), SYMS("N", NULL, "H", NULL));
    ck_assert_ptr_null(mof_value_dim_symbol(mof_node_output(keep, 0), 3));
    expect_type(mof_node_output(pool, 0), 4, DIMS(U, 64, 56, 56), SYMS("N", NULL, NULL, NULL));
    ck_assert_int_eq(mof_value_dtype(mof_node_output(pool, 1)), MOF_DTYPE_INT64);
    ck_assert_int_eq(mof_value_dim(mof_node_output(pool, 1), 3), 56);
    expect_type(mof_node_output(avg, 0), 4, DIMS(U, U, 4, 4), SYMS("N", "C", NULL, NULL));
    expect_type(mof_node_output(mm, 0), 3, DIMS(U, U, 3072), SYMS("B", "T", NULL));
    expect_type(mof_node_output(gemm, 0), 2, DIMS(U, 1000), SYMS("N", NULL));
    expect_type(mof_node_output(flat, 0), 2, DIMS(U, 2048), SYMS("N", NULL));
    expect_type(mof_node_output(gap, 0), 4, DIMS(U, U, 1, 1), SYMS("N", "C", NULL, NULL));
    expect_type(mof_node_output(ln, 0), 3, DIMS(U, U, 768), SYMS("B", "T", NULL));
    expect_type(mof_node_output(ln, 1), 3, DIMS(U, U, 1), SYMS("B", "T", NULL));
    expect_type(mof_node_output(ln, 2), 3, DIMS(U, U, 1), SYMS("B", "T", NULL));
    expect_type(mof_node_output(ct, 0), 4, DIMS(U, 4, 11, 11), SYMS("N", NULL, NULL, NULL));
    expect_type(mof_node_output(cto, 0), 4, DIMS(U, 4, 20, 20), SYMS("N", NULL, NULL, NULL));
    expect_type(mof_node_output(bn, 0), 4, DIMS(U, 16, U, U), SYMS("N", NULL, "H", "W"));
}
END_TEST

/* A Conv whose X has 4 channels while W expects 3 is a contradiction naming the node. */
/* MaxUnpool 2x2/2 on [N,C,3,4]: [N,C,6,8]; with a known output_shape, that shape.
 * LpPool keeps N like the other pools. */
START_TEST(test_shapes_unpool_lppool)
{
    mof_node *un = shape_node("MaxUnpool", 4, DIMS(U, U, 3, 4), SYMS("N", "C", NULL, NULL), 1,
                              (mof_tensor *[]){mof_tensor_create(MOF_DTYPE_INT64, 4,
                                                                 DIMS(1, 1, 3, 4))},
                              1);
    set_ints(un, "kernel_shape", INTS(2, 2));
    set_ints(un, "strides", INTS(2, 2));
    mof_tensor *os[2] = {mof_tensor_create(MOF_DTYPE_INT64, 4, DIMS(1, 1, 3, 4)),
                         mof_tensor_create_from(MOF_DTYPE_INT64, 1, DIMS(4), DIMS(2, 3, 7, 9))};
    mof_node *un2 = shape_node("MaxUnpool", 4, DIMS(U, U, 3, 4), SYMS("N", "C", NULL, NULL),
                               2, os, 1);
    set_ints(un2, "kernel_shape", INTS(2, 2));
    set_ints(un2, "strides", INTS(2, 2));
    mof_node *lp = shape_node("LpPool", 4, DIMS(U, 3, 8, 8), SYMS("N", NULL, NULL, NULL), 0,
                              NULL, 1);
    set_ints(lp, "kernel_shape", INTS(2, 2));
    set_ints(lp, "strides", INTS(2, 2));
    ck_assert_int_eq(mof_model_set_opset(model, "", 18), MOF_OK);
    ck_assert_status(ctx, mof_infer_shapes(ctx, model), MOF_OK);
    expect_type(mof_node_output(un, 0), 4, DIMS(U, U, 6, 8), SYMS("N", "C", NULL, NULL));
    expect_type(mof_node_output(un2, 0), 4, DIMS(2, 3, 7, 9), NULL);
    expect_type(mof_node_output(lp, 0), 4, DIMS(U, 3, 4, 4), SYMS("N", NULL, NULL, NULL));
}
END_TEST

START_TEST(test_shapes_conv_mismatch)
{
    mof_tensor *w = mof_tensor_create(MOF_DTYPE_FLOAT, 4, DIMS(8, 3, 3, 3));
    shape_node("Conv", 4, DIMS(U, 4, 32, 32), SYMS("N", NULL, NULL, NULL), 1, &w, 1);
    ck_assert_int_eq(mof_infer_shapes(ctx, model), MOF_ERR_INVALID_MODEL);
    ck_assert(mof_test_diag_contains(ctx, "X has 4 channels; W expects 3"));
    ck_assert(mof_test_diag_contains(ctx, "Conv"));
}
END_TEST

/* Invalid attributes are reported with the node: a kernel larger than the padded input,
 * and pads of the wrong length. */
START_TEST(test_conv_bad_attrs)
{
    mof_node *n = make_node("Conv", 2, 1);
    mof_tensor *in[2] = {
        tensor_f32(4, (int64_t[]){1, 1, 2, 2}, FLOATS(1, 2, 3, 4)),
        tensor_f32(4, (int64_t[]){1, 1, 3, 3}, 0, NULL),
    };
    mof_tensor *y = NULL;
    ck_assert_int_eq(mof_interp_eval_node(ctx, n, 13, 2, in, 1, &y), MOF_ERR_INVALID_MODEL);
    ck_assert(mof_test_diag_contains(ctx, "kernel extent 3 exceeds the padded input size 2"));
    set_ints(n, "pads", INTS(1, 1));
    ck_assert_int_eq(mof_interp_eval_node(ctx, n, 13, 2, in, 1, &y), MOF_ERR_INVALID_MODEL);
    ck_assert(mof_test_diag_contains(ctx, "attribute 'pads' has 2 values, expected 4"));
    ck_assert_ptr_null(y);
    mof_tensor_unref(in[0]);
    mof_tensor_unref(in[1]);
}
END_TEST

/* float16 is computed in float and rounded once: a 1x1 conv doubling [1, 2.5]. */
START_TEST(test_conv_float16)
{
    mof_node *n = make_node("Conv", 2, 1);
    /* half: 1.0 = 0x3c00, 2.5 = 0x4100, 2.0 = 0x4000; 5.0 = 0x4500 */
    uint16_t x[2] = {0x3c00, 0x4100}, w[1] = {0x4000};
    mof_tensor *in[2] = {
        mof_tensor_create_from(MOF_DTYPE_FLOAT16, 4, (int64_t[]){1, 1, 1, 2}, x),
        mof_tensor_create_from(MOF_DTYPE_FLOAT16, 4, (int64_t[]){1, 1, 1, 1}, w),
    };
    mof_tensor *y;
    eval(n, 13, 2, in, 1, &y);
    ck_assert_int_eq(mof_tensor_dtype(y), MOF_DTYPE_FLOAT16);
    const uint16_t *d = mof_tensor_data(y);
    ck_assert_uint_eq(d[0], 0x4000);
    ck_assert_uint_eq(d[1], 0x4500);
    mof_tensor_unref(y);
}
END_TEST

static Suite *nn_suite(void)
{
    Suite *s = suite_create("nn");
    TCase *tc = mof_test_tcase(s, "conv", setup, teardown);
    tcase_add_test(tc, test_conv_pad_stride);
    tcase_add_test(tc, test_conv_grouped);
    tcase_add_test(tc, test_conv_depthwise);
    tcase_add_test(tc, test_conv_1d_dilated_same);
    tcase_add_test(tc, test_conv_float_vs_double);
    tcase_add_test(tc, test_conv_bad_attrs);
    tcase_add_test(tc, test_conv_float16);
    tcase_add_test(tc, test_convtranspose_1d);
    tcase_add_test(tc, test_convtranspose_float_vs_double);

    tc = mof_test_tcase(s, "gemm", setup, teardown);
    tcase_add_test(tc, test_gemm_trans_broadcast);
    tcase_add_test(tc, test_gemm_bad_c);
    tcase_add_test(tc, test_matmul_broadcast);
    tcase_add_test(tc, test_matmul_vectors);
    tcase_add_test(tc, test_matmul_int32);

    tc = mof_test_tcase(s, "pool", setup, teardown);
    tcase_add_test(tc, test_maxpool_ceil_indices);
    tcase_add_test(tc, test_maxpool_ceil_1d);
    tcase_add_test(tc, test_maxpool_storage_order);
    tcase_add_test(tc, test_averagepool_count_include_pad);
    tcase_add_test(tc, test_global_pools);
    tcase_add_test(tc, test_lp_pools);
    tcase_add_test(tc, test_maxunpool);

    tc = mof_test_tcase(s, "norm", setup, teardown);
    tcase_add_test(tc, test_batchnorm_inference);
    tcase_add_test(tc, test_batchnorm_training);
    tcase_add_test(tc, test_instancenorm);
    tcase_add_test(tc, test_layernorm);
    tcase_add_test(tc, test_lrn);
    tcase_add_test(tc, test_flatten);
    tcase_add_test(tc, test_mvn_lpnorm);

    tc = mof_test_tcase(s, "shapes", setup, teardown);
    tcase_add_test(tc, test_shapes_symbolic);
    tcase_add_test(tc, test_shapes_conv_mismatch);
    tcase_add_test(tc, test_shapes_unpool_lppool);
    return s;
}

MOF_TEST_MAIN(nn_suite)
