/* test_cpu_int8_qdq: the cpu backend's QDQ lowering (plugins/cpu/qdq.c).
 *
 * QDQ models are written in ONNX text with seeded pseudo-random weights: a Conv with a
 * per-channel int8 weight and an int32 bias followed by a Relu, a MaxPool between a
 * Dequantize and a Quantize of one scale, a strided Conv per tensor, a Gemm, a MatMul. After cpu_qdq_lower:
 *   - the patterns are integer ops (QLinearConv, QLinearMatMul), the float Conv /
 *     Gemm / MatMul and their Quantize/Dequantize pairs are gone, the graph verifies;
 *   - the reference interpreter runs the lowered model, and its outputs are within one
 *     quantization step of the QDQ model's (the float sums round differently from the
 *     int32 ones only near ties); the share of differing elements is printed;
 *   - a pattern the integer ops cannot express exactly (a bias scale that is not
 *     x_scale * w_scale, a per-channel input scale) is left as it was, with a note. */
#include "config.h"

#include <math.h>
#include <stdarg.h>

#include "testutil.h"

#include <mof/interp.h>
#include <mof/text.h>

#include "qdq.h"

static uint64_t rng_state;

static uint32_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33);
}

typedef struct sbuf {
    char *s;
    size_t len, cap;
} sbuf;

static void bprintf(sbuf *b, const char *fmt, ...) MOF_PRINTF(2, 3);
static void bprintf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    ck_assert_int_ge(n, 0);
    if (b->len + (size_t)n + 1 > b->cap) {
        b->cap = (b->len + (size_t)n + 1) * 2;
        b->s = realloc(b->s, b->cap);
        ck_assert_ptr_nonnull(b->s);
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* An initializer "<type>[dims] name = {v, ...}" of n random values in [lo, hi]. */
static void rand_init(sbuf *b, const char *type, const char *dims, const char *name, int n,
                      int lo, int hi)
{
    bprintf(b, "%s[%s] %s = {", type, dims, name);
    for (int i = 0; i < n; i++)
        bprintf(b, "%s%d", i ? ", " : "", lo + (int)(rnd() % (uint32_t)(hi - lo + 1)));
    bprintf(b, "}");
}

static void float_init(sbuf *b, const char *dims, const char *name, int n, const float *v)
{
    bprintf(b, "float%s%s%s %s = {", *dims ? "[" : "", dims, *dims ? "]" : "", name);
    for (int i = 0; i < n; i++)
        bprintf(b, "%s%.9g", i ? ", " : "", (double)v[i]);
    bprintf(b, "}");
}

/* The test model. Scales are chosen so that activations use a good part of the 8-bit
 * range. bias_ok: the first Conv's bias scale is x_scale * w_scale (else off by one
 * ulp, which the lowering must refuse). */
static char *qdq_model(bool bias_ok)
{
    sbuf b = {0};
    rng_state = 42;
    float ws1[8], bs1[8], sx = 0.02f;
    for (int i = 0; i < 8; i++) {
        ws1[i] = 0.004f + 0.0005f * (float)i;
        bs1[i] = sx * ws1[i];
    }
    if (!bias_ok)
        bs1[3] = nextafterf(bs1[3], 1.0f);
    bprintf(&b, "<ir_version: 8, opset_import: [\"\" : 13]>\n"
                "main (float[1,3,9,9] x) => (float[1,6] y, float[1,5] z)\n<");
    rand_init(&b, "int8", "8,3,3,3", "w1", 8 * 27, -127, 127);
    bprintf(&b, ", ");
    float_init(&b, "8", "ws1", 8, ws1);
    bprintf(&b, ", int8[8] wz1 = {0, 0, 0, 0, 0, 0, 0, 0}, ");
    rand_init(&b, "int32", "8", "b1", 8, -3000, 3000);
    bprintf(&b, ", ");
    float_init(&b, "8", "bs1", 8, bs1);
    bprintf(&b, ", int32[8] bz1 = {0, 0, 0, 0, 0, 0, 0, 0}, ");
    rand_init(&b, "int8", "4,8,3,3", "w2", 4 * 72, -127, 127);
    bprintf(&b, ", float ws2 = {0.003}, int8 wz2 = {0}, ");
    rand_init(&b, "uint8", "6,64", "w3", 6 * 64, 0, 255);
    bprintf(&b, ", float ws3 = {0.002}, uint8 wz3 = {128}, ");
    rand_init(&b, "int32", "6", "b3", 6, -2000, 2000);
    /* The Gemm's bias scale: fd's scale times the weights', as float. */
    bprintf(&b, ", float bs3 = {%.9g}, ", (double)(0.05f * 0.002f));
    rand_init(&b, "int8", "64,5", "w4", 64 * 5, -100, 100);
    bprintf(&b, ", float[5] ws4 = {0.002, 0.003, 0.004, 0.005, 0.006}, "
                "int8[5] wz4 = {0, 0, 0, 0, 0}, "
                "float sx = {0.02}, uint8 zx = {128}, "
                "float s1 = {0.04}, uint8 z1 = {10}, "
                "float s2 = {0.05}, uint8 z2 = {0}, "
                "float s3 = {0.1}, uint8 z3 = {100}, "
                "float s4 = {0.08}, int8 z4 = {3}, "
                "int64[2] flat = {1, 64}>\n{\n"
                "   xq = QuantizeLinear (x, sx, zx)\n"
                "   xd = DequantizeLinear (xq, sx, zx)\n"
                "   w1d = DequantizeLinear <axis = 0> (w1, ws1, wz1)\n"
                "   b1d = DequantizeLinear <axis = 0> (b1, bs1, bz1)\n"
                "   c1 = Conv <pads = [1, 1, 1, 1]> (xd, w1d, b1d)\n"
                "   r1 = Relu (c1)\n"
                "   q1 = QuantizeLinear (r1, s1, z1)\n"
                "   d1a = DequantizeLinear (q1, s1, z1)\n"
                "   mp = MaxPool <kernel_shape = [2, 2], strides = [1, 1]> (d1a)\n"
                "   mpq = QuantizeLinear (mp, s1, z1)\n"
                "   d1 = DequantizeLinear (mpq, s1, z1)\n"
                "   w2d = DequantizeLinear (w2, ws2, wz2)\n"
                "   c2 = Conv <strides = [2, 2], pads = [1, 1, 1, 1]> (d1, w2d)\n"
                "   r2 = Relu (c2)\n"
                "   q2 = QuantizeLinear (r2, s2, z2)\n"
                "   d2 = DequantizeLinear (q2, s2, z2)\n"
                "   f = Reshape (d2, flat)\n"
                "   fq = QuantizeLinear (f, s2, z2)\n"
                "   fd = DequantizeLinear (fq, s2, z2)\n"
                "   w3d = DequantizeLinear (w3, ws3, wz3)\n"
                "   b3d = DequantizeLinear (b3, bs3)\n"
                "   g = Gemm <transB = 1> (fd, w3d, b3d)\n"
                "   gq = QuantizeLinear (g, s3, z3)\n"
                "   y = DequantizeLinear (gq, s3, z3)\n"
                "   w4d = DequantizeLinear <axis = 1> (w4, ws4, wz4)\n"
                "   mm = MatMul (fd, w4d)\n"
                "   mq = QuantizeLinear (mm, s4, z4)\n"
                "   z = DequantizeLinear (mq, s4, z4)\n"
                "}\n");
    return b.s;
}

static size_t count_op(const mof_model *m, const char *op)
{
    size_t n = 0;
    for (mof_node *nd = mof_graph_first_node(mof_model_graph(m)); nd; nd = mof_node_next(nd))
        n += !strcmp(mof_node_op_type(nd), op);
    return n;
}

/* Runs a model on x and returns its two outputs. */
static void run_model(mof_context *ctx, const mof_model *m, mof_tensor *x, mof_tensor **out)
{
    mof_interp *it = mof_interp_create(ctx, m);
    if (!it)
        mof_test_print_diags(ctx);
    ck_assert_ptr_nonnull(it);
    ck_assert_status(ctx, mof_interp_run(it, 1, &x, 2, out), MOF_OK);
    mof_interp_destroy(it);
}

START_TEST(test_lower_and_compare)
{
    mof_context *ctx = mof_context_create();
    char *text = qdq_model(true);
    mof_model *orig = mof_model_parse_text(ctx, text, strlen(text), "qdq");
    if (!orig)
        mof_test_print_diags(ctx);
    ck_assert_ptr_nonnull(orig);
    ck_assert_int_ge(mof_infer_shapes(ctx, orig), 0);
    mof_model *low = mof_model_dup(orig);
    ck_assert_ptr_nonnull(low);
    cpu_qdq_stats st;
    ck_assert_status(ctx, cpu_qdq_lower(ctx, low, &st), MOF_OK);
    ck_assert_status(ctx, mof_graph_verify(ctx, mof_model_graph(low)), MOF_OK);
    ck_assert_uint_eq(st.conv, 2);
    ck_assert_uint_eq(st.gemm, 1);
    ck_assert_uint_eq(st.matmul, 1);
    ck_assert_uint_eq(st.relu, 2);
    ck_assert_uint_eq(st.pool, 1);
    ck_assert_uint_eq(st.skipped, 0);
    ck_assert_uint_eq(count_op(low, "QLinearConv"), 3);
    ck_assert_uint_eq(count_op(low, "QLinearMatMul"), 1);
    ck_assert_uint_eq(count_op(low, "Conv") + count_op(low, "Gemm") + count_op(low, "MatMul"),
                      0);
    ck_assert_uint_eq(count_op(low, "Relu"), 0);
    /* The first Relu's zero point (10) is not the minimum: a Max stays; the second's
     * (0) is: saturation clamps, the Relu goes. */
    ck_assert_uint_eq(count_op(low, "Max"), 1);
    /* Quantize: only the model input's and the Reshape's; Dequantize: the outputs',
     * d2 (before the Reshape) and fd read by nothing else... */
    ck_assert_uint_eq(count_op(low, "QuantizeLinear"), 2);
    /* The MaxPool between a Dequantize and a Quantize of one scale now pools the
     * uint8 tensor. */
    ck_assert_uint_eq(count_op(low, "MaxPool"), 1);
    for (mof_node *nd = mof_graph_first_node(mof_model_graph(low)); nd; nd = mof_node_next(nd))
        if (!strcmp(mof_node_op_type(nd), "MaxPool"))
            ck_assert_int_eq(mof_value_dtype(mof_node_input(nd, 0)), MOF_DTYPE_UINT8);

    /* Numbers: the lowered model against the QDQ one on random inputs. */
    int64_t dims[4] = {1, 3, 9, 9};
    size_t diff = 0, total = 0;
    for (int trial = 0; trial < 5; trial++) {
        mof_tensor *x = mof_tensor_create(MOF_DTYPE_FLOAT, 4, dims);
        ck_assert_ptr_nonnull(x);
        float *xv = mof_tensor_data_mut(x);
        for (int i = 0; i < 243; i++)
            xv[i] = ((float)(rnd() % 20001) / 10000.0f - 1.0f) * 2.5f;
        mof_tensor *a[2] = {0}, *b[2] = {0};
        run_model(ctx, orig, x, a);
        run_model(ctx, low, x, b);
        const float step[2] = {0.1f, 0.08f};
        for (int o = 0; o < 2; o++) {
            const float *av = mof_tensor_data(a[o]), *bv = mof_tensor_data(b[o]);
            for (int64_t i = 0; i < mof_tensor_numel(a[o]); i++) {
                double d = fabs((double)av[i] - (double)bv[i]);
                /* one step, with room for the float of the dequantized value */
                ck_assert_msg(d <= step[o] * 1.0001,
                              "output %d element %lld: QDQ %g, lowered %g (more than one step)",
                              o, (long long)i, (double)av[i], (double)bv[i]);
                diff += d != 0;
                total++;
            }
            mof_tensor_unref(a[o]);
            mof_tensor_unref(b[o]);
        }
        mof_tensor_unref(x);
    }
    printf("qdq lowering: %zu of %zu output elements differ by one step from the QDQ model\n",
           diff, total);
    mof_model_destroy(low);
    mof_model_destroy(orig);
    free(text);
    mof_context_destroy(ctx);
}
END_TEST

START_TEST(test_refuses_inexact)
{
    mof_context *ctx = mof_context_create();
    char *text = qdq_model(false);
    mof_model *m = mof_model_parse_text(ctx, text, strlen(text), "qdq");
    ck_assert_ptr_nonnull(m);
    ck_assert_int_ge(mof_infer_shapes(ctx, m), 0);
    cpu_qdq_stats st;
    ck_assert_status(ctx, cpu_qdq_lower(ctx, m, &st), MOF_OK);
    /* The first Conv stays in float, the rest is lowered. */
    ck_assert_uint_eq(st.conv, 1);
    if (st.skipped != 1)
        mof_test_print_diags(ctx);
    ck_assert_uint_eq(st.skipped, 1);
    ck_assert_uint_eq(count_op(m, "Conv"), 1);
    ck_assert(mof_test_diag_contains(ctx, "bias scale is not x_scale * w_scale"));
    ck_assert(mof_test_diag_contains(ctx, "Conv"));
    ck_assert_status(ctx, mof_graph_verify(ctx, mof_model_graph(m)), MOF_OK);
    mof_model_destroy(m);
    free(text);
    mof_context_destroy(ctx);
}
END_TEST

/* A model without QDQ patterns is unchanged. */
START_TEST(test_unchanged)
{
    mof_context *ctx = mof_context_create();
    const char *text = "<ir_version: 8, opset_import: [\"\" : 13]>\n"
                       "main (float[1,4] x) => (float[1,4] y) {\n   y = Relu (x)\n}\n";
    mof_model *m = mof_model_parse_text(ctx, text, strlen(text), "plain");
    ck_assert_ptr_nonnull(m);
    ck_assert_status(ctx, cpu_qdq_lower(ctx, m, NULL), MOF_UNCHANGED);
    mof_model_destroy(m);
    mof_context_destroy(ctx);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cpu_int8_qdq");
    TCase *tc = tcase_create("lower");
    tcase_add_test(tc, test_lower_and_compare);
    tcase_add_test(tc, test_refuses_inexact);
    tcase_add_test(tc, test_unchanged);
    suite_add_tcase(s, tc);
    return s;
}

MOF_TEST_MAIN(suite)
