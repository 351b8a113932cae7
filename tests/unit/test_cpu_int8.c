/* test_cpu_int8: the cpu backend's integer kernels (plugins/cpu/runtime/mofrt_int8.c)
 * against the reference interpreter, bit for bit.
 *
 * Each case builds one QLinearConv / QLinearMatMul / QuantizeLinear / DequantizeLinear /
 * MaxPool node on seeded random data, evaluates it with mof_interp_eval_node, runs the
 * runtime kernel on the same data (weights packed as the emitter packs them, the
 * multiplier computed as the emitter computes it) and requires identical bytes.
 * The cases cover uint8 and int8 activations and weights, per-tensor and per-channel
 * weights, groups (depthwise included), pads, strides, dilations, odd K, bias or none,
 * saturation (tiny output scales) and int32 wrap-around of the accumulator.
 *
 * This file is compiled twice: test_cpu_int8 (the build's flags: the plain C
 * micro-kernel unless the compiler targets AVX2) and test_cpu_int8_avx2 (-mavx2: the
 * AVX2 micro-kernel; skipped, exit 77, on a CPU without AVX2). */
#include "config.h"

#include <math.h>

#include "testutil.h"

#include <mof/interp.h>

#include "mofrt.h"
#include "mofrt_int8.h"

MOF_TEST_MODEL_FIXTURE

static uint64_t rng_state;

static uint32_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33);
}

/* A uniform integer in [lo, hi]. */
static int32_t rnd_int(int32_t lo, int32_t hi)
{
    return lo + (int32_t)(rnd() % (uint32_t)(hi - lo + 1));
}

static float rnd_float(float lo, float hi)
{
    return lo + (hi - lo) * (float)(rnd() & 0xffffff) / (float)0x1000000;
}

static mof_node *make_node(const char *op, size_t n_in)
{
    mof_node *src = mof_graph_add_node(g, MOF_INSERT_AFTER, NULL, "Source", "test.int8", NULL,
                                       0, NULL, n_in);
    ck_assert_ptr_nonnull(src);
    mof_value *ins[9] = {0};
    ck_assert_uint_le(n_in, 9);
    for (size_t i = 0; i < n_in; i++)
        ins[i] = mof_node_output(src, i);
    mof_node *n = mof_graph_add_node(g, MOF_INSERT_AFTER, NULL, op, NULL, op, n_in, ins, 1);
    ck_assert_ptr_nonnull(n);
    return n;
}

/* A random 8-bit tensor (int8 when sgn) over its whole range. */
static mof_tensor *rand_q(int sgn, size_t rank, const int64_t *dims)
{
    mof_tensor *t = mof_tensor_create(sgn ? MOF_DTYPE_INT8 : MOF_DTYPE_UINT8, rank, dims);
    ck_assert_ptr_nonnull(t);
    uint8_t *d = mof_tensor_data_mut(t);
    for (int64_t i = 0; i < mof_tensor_numel(t); i++)
        d[i] = (uint8_t)rnd();
    return t;
}

/* An 8-bit zero point tensor: scalar, or 1-D of n values when n > 0. */
static mof_tensor *zp_tensor(int sgn, int64_t n, const int32_t *v)
{
    mof_tensor *t = mof_tensor_create(sgn ? MOF_DTYPE_INT8 : MOF_DTYPE_UINT8, n > 0 ? 1 : 0, &n);
    ck_assert_ptr_nonnull(t);
    for (int64_t i = 0; i < (n > 0 ? n : 1); i++) {
        if (sgn)
            ((int8_t *)mof_tensor_data_mut(t))[i] = (int8_t)v[i];
        else
            ((uint8_t *)mof_tensor_data_mut(t))[i] = (uint8_t)v[i];
    }
    return t;
}

static mof_tensor *f32_tensor(int64_t n, const float *v)
{
    mof_tensor *t = mof_tensor_create(MOF_DTYPE_FLOAT, n > 0 ? 1 : 0, &n);
    ck_assert_ptr_nonnull(t);
    memcpy(mof_tensor_data_mut(t), v, (size_t)(n > 0 ? n : 1) * sizeof(float));
    return t;
}

/* Compares the kernel's bytes with the interpreter's output, naming the first
 * difference. */
static void expect_same(const char *what, const mof_tensor *want, const void *got)
{
    const uint8_t *a = mof_tensor_data(want), *b = got;
    size_t n = mof_tensor_nbytes(want);
    int esize = (int)mof_dtype_size(mof_tensor_dtype(want));
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(a[i] == b[i], "%s: element %zu differs: interpreter %d, kernel %d", what,
                      i / (size_t)esize, a[i], b[i]);
}

/* ------------------------------------------------------------------ QLinearConv */

typedef struct conv_case {
    const char *name;
    int64_t n, c, h, w, m, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, groups;
    int x_signed, w_signed, y_signed, per_channel, bias;
    float y_scale_mul;    /* scales the output scale: small -> saturation */
} conv_case;

static const conv_case conv_cases[] = {
    {"3x3 pad 1", 1, 8, 9, 9, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 1, 1.0f},
    {"s8 x, per tensor", 1, 5, 7, 6, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1.0f},
    {"u8 weights", 2, 4, 6, 7, 5, 2, 3, 1, 1, 1, 1, 0, 1, 1, 0, 1, 0, 0, 0, 1, 0, 1.0f},
    {"stride 2, asym pads", 1, 6, 11, 10, 9, 3, 3, 2, 2, 1, 1, 1, 0, 2, 1, 1, 0, 1, 1, 1, 1, 1.0f},
    {"dilation 2", 1, 3, 12, 12, 4, 3, 3, 1, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 0, 1, 1, 1.0f},
    {"groups 2", 1, 8, 8, 8, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 0, 1, 0, 1, 1, 1.0f},
    {"depthwise", 1, 12, 9, 9, 12, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 12, 0, 1, 0, 1, 1, 1.0f},
    {"depthwise x2 s2", 1, 4, 10, 10, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 4, 1, 1, 1, 1, 1, 1.0f},
    {"1x1", 1, 33, 5, 5, 20, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 0, 1, 0, 1, 1, 1.0f},
    {"7x7 s2 pad 3 (stem)", 1, 3, 20, 20, 8, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3, 1, 0, 1, 0, 1, 1, 1.0f},
    {"saturating", 1, 6, 6, 6, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 1, 0.05f},
    {"saturating s8", 1, 6, 6, 6, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0.05f},
    {"1-wide", 3, 2, 1, 13, 3, 1, 3, 1, 1, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 0, 1, 1.0f},
    {"odd k, wide rows", 1, 3, 4, 37, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1.0f},
    {"3x3, rows of 40", 1, 5, 6, 40, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 1, 1.0f},
};

static void run_conv_case(const conv_case *cc, mofrt_pool *pool, int threads)
{
    int64_t cg = cc->c / cc->groups, K = cg * cc->kh * cc->kw;
    int64_t xd[4] = {cc->n, cc->c, cc->h, cc->w}, wd[4] = {cc->m, cg, cc->kh, cc->kw};
    mof_tensor *x = rand_q(cc->x_signed, 4, xd), *w = rand_q(cc->w_signed, 4, wd);
    int64_t nch = cc->per_channel ? cc->m : 0;
    int32_t xzp = rnd_int(cc->x_signed ? -20 : 100, cc->x_signed ? 20 : 140);
    int32_t yzp = rnd_int(cc->y_signed ? -10 : 110, cc->y_signed ? 10 : 140);
    int32_t *wzp = calloc((size_t)cc->m, sizeof(*wzp));
    float *ws = calloc((size_t)cc->m, sizeof(*ws));
    int32_t *bias = calloc((size_t)cc->m, sizeof(*bias));
    float *mult = calloc((size_t)cc->m, sizeof(*mult));
    ck_assert(wzp && ws && bias && mult);
    float xs = rnd_float(0.01f, 0.05f);
    for (int64_t i = 0; i < cc->m; i++) {
        /* int8 weights: zero point 0 (the quantizers' choice; the u8 x s8 path) with a
         * bias, else a few steps off (the int16 path only). */
        wzp[i] = cc->w_signed ? (cc->bias ? 0 : rnd_int(-3, 3)) : rnd_int(120, 135);
        ws[i] = rnd_float(0.002f, 0.02f);
        bias[i] = rnd_int(-20000, 20000);
    }
    if (!cc->per_channel)
        for (int64_t i = 1; i < cc->m; i++)
            wzp[i] = wzp[0], ws[i] = ws[0];
    /* An output scale that maps the typical accumulator to a few dozen steps. */
    float ys = xs * ws[0] * 128.0f * (float)sqrt((double)K) / 40.0f * cc->y_scale_mul;
    float ysv = ys;
    mof_node *node = make_node("QLinearConv", cc->bias ? 9 : 8);
    ck_assert_int_eq(mof_node_set_attr_ints(node, "pads", 4,
                                            (int64_t[]){cc->pt, cc->pl, cc->pb, cc->pr}),
                     MOF_OK);
    ck_assert_int_eq(mof_node_set_attr_ints(node, "strides", 2, (int64_t[]){cc->sh, cc->sw}),
                     MOF_OK);
    ck_assert_int_eq(mof_node_set_attr_ints(node, "dilations", 2, (int64_t[]){cc->dh, cc->dw}),
                     MOF_OK);
    ck_assert_int_eq(mof_node_set_attr_int(node, "group", cc->groups), MOF_OK);
    mof_tensor *bt = NULL;
    if (cc->bias) {
        int64_t m = cc->m;
        bt = mof_tensor_create(MOF_DTYPE_INT32, 1, &m);
        ck_assert_ptr_nonnull(bt);
        memcpy(mof_tensor_data_mut(bt), bias, (size_t)m * sizeof(int32_t));
    }
    mof_tensor *in[9] = {
        x, f32_tensor(0, &xs), zp_tensor(cc->x_signed, 0, &xzp),
        w, f32_tensor(nch, ws), zp_tensor(cc->w_signed, nch, wzp),
        f32_tensor(0, &ysv), zp_tensor(cc->y_signed, 0, &yzp), bt,
    };
    mof_tensor *y = NULL;
    ck_assert_status(ctx, mof_interp_eval_node(ctx, node, 13, cc->bias ? 9 : 8, in, 1, &y),
                     MOF_OK);

    /* The kernel. */
    mofrt_i8_conv p = {
        .n = cc->n, .c = cc->c, .h = cc->h, .w = cc->w, .m = cc->m,
        .kh = cc->kh, .kw = cc->kw, .sh = cc->sh, .sw = cc->sw, .dh = cc->dh, .dw = cc->dw,
        .pt = cc->pt, .pl = cc->pl, .pb = cc->pb, .pr = cc->pr, .groups = cc->groups,
        .x_signed = cc->x_signed, .x_zp = xzp,
    };
    const int64_t *yd = mof_tensor_dims(y);
    p.oh = yd[2];
    p.ow = yd[3];
    for (int64_t i = 0; i < cc->m; i++)
        mult[i] = xs * ws[i] / ys;
    p.out = (mofrt_i8_out){mult, cc->bias ? bias : NULL, yzp, cc->y_signed ? -128 : 0,
                           cc->y_signed ? 127 : 255, cc->y_signed};
    int16_t *packed = calloc(mofrt_i8_packed_size(cc->groups, cc->m / cc->groups, K),
                             sizeof(int16_t));
    ck_assert_ptr_nonnull(packed);
    mofrt_i8_pack_weights(cc->groups, cc->m / cc->groups, K, mof_tensor_data(w), cc->w_signed,
                          wzp, 1, 0, packed);
    void *scratch = mofrt_alloc(mofrt_i8_conv_scratch(&p, threads), 64);
    uint8_t *got = calloc(mof_tensor_nbytes(y) + 1, 1);
    ck_assert(scratch && got);
    mofrt_i8_conv_run(&p, packed, NULL, mof_tensor_data(x), got, scratch, pool);
    expect_same(cc->name, y, got);

    /* The u8 x s8 path where the weights allow it (int8, zero point 0), as the emitter
     * prepares it; taken where the CPU has AVX512-VNNI, else the int16 path again. */
    bool zero_zp = cc->w_signed;
    for (int64_t i = 0; i < cc->m; i++)
        zero_zp = zero_zp && wzp[i] == 0;
    if (zero_zp) {
        int8_t *w8 = calloc(mofrt_i8_packed8_size(cc->groups, cc->m / cc->groups, K), 1);
        int32_t *bias_u8 = calloc((size_t)cc->m, sizeof(int32_t));
        ck_assert(w8 && bias_u8);
        mofrt_i8_pack_weights8(cc->groups, cc->m / cc->groups, K, mof_tensor_data(w), w8);
        mofrt_i8_bias_u8(cc->m, K, mof_tensor_data(w), cc->bias ? bias : NULL,
                         xzp + (cc->x_signed ? 128 : 0), bias_u8);
        p.bias_u8 = bias_u8;
        memset(got, 0, mof_tensor_nbytes(y));
        mofrt_i8_conv_run(&p, packed, w8, mof_tensor_data(x), got, scratch, pool);
        expect_same(cc->name, y, got);
        free(w8);
        free(bias_u8);
    }

    for (int i = 0; i < 9; i++)
        mof_tensor_unref(in[i]);
    mof_tensor_unref(y);
    mofrt_free(scratch);
    free(got);
    free(packed);
    free(wzp);
    free(ws);
    free(bias);
    free(mult);
}

START_TEST(test_conv)
{
    rng_state = 1000 + (uint64_t)_i;
    const conv_case *cc = &conv_cases[_i];
    mofrt_pool *pool = mofrt_pool_create(1);
    ck_assert_ptr_nonnull(pool);
    run_conv_case(cc, pool, 1);
    mofrt_pool_destroy(pool);
}
END_TEST

/* The same cases with a pool of 2 threads (the same bytes: blocks are independent). */
START_TEST(test_conv_threads)
{
    rng_state = 2000 + (uint64_t)_i;
    mofrt_pool *pool = mofrt_pool_create(2);
    ck_assert_ptr_nonnull(pool);
    run_conv_case(&conv_cases[_i], pool, mofrt_pool_size(pool));
    mofrt_pool_destroy(pool);
}
END_TEST

/* A 1x1 convolution large enough for several column blocks and row panels, with
 * 3x3 geometry: ResNet's layer shapes, scaled down. */
START_TEST(test_conv_blocks)
{
    rng_state = 77;
    conv_case cc = {"blocks", 1, 64, 30, 30, 70, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                    0, 1, 0, 1, 1, 1.0f};
    mofrt_pool *pool = mofrt_pool_create(1);
    ck_assert_ptr_nonnull(pool);
    run_conv_case(&cc, pool, 1);
    mofrt_pool_destroy(pool);
}
END_TEST

/* The output stage alone, where it is delicate: a 1x1 convolution of one channel with
 * weight 1, so the accumulator is x - x_zp + bias. Multipliers of 0.5 and 1.5 put
 * half the outputs on exact ties (rounded to even); biases of +-(2^27 + 2^20) with a
 * multiplier of 2^-21 put the accumulators around +-64.5 where the int32 -> float
 * conversion rounds (steps of 16) onto the tie, so that a product taken in double
 * would round the other way; the rest saturate at either end. */
START_TEST(test_requant)
{
    enum { M = 6 };
    const float ws[M] = {0.5f, 1.5f, 0x1p-21f, 0x1p-21f, 3.0f, 0.5f};
    const int32_t bias[M] = {1, -255, 135266304, -135266301, 0, 2147483000};
    for (int sgn = 0; sgn < 2; sgn++) {
        int64_t xd[4] = {1, 1, 1, 256}, wd[4] = {M, 1, 1, 1}, m = M;
        mof_tensor *x = mof_tensor_create(sgn ? MOF_DTYPE_INT8 : MOF_DTYPE_UINT8, 4, xd);
        mof_tensor *w = mof_tensor_create(MOF_DTYPE_INT8, 4, wd);
        mof_tensor *bt = mof_tensor_create(MOF_DTYPE_INT32, 1, &m);
        ck_assert(x && w && bt);
        for (int i = 0; i < 256; i++)
            ((uint8_t *)mof_tensor_data_mut(x))[i] = (uint8_t)i;
        memset(mof_tensor_data_mut(w), 1, M);
        memcpy(mof_tensor_data_mut(bt), bias, sizeof(bias));
        float xs = 1.0f, ys = 1.0f;
        int32_t xzp = sgn ? 5 : 128, yzp = sgn ? -1 : 127, wzp[M] = {0};
        mof_node *node = make_node("QLinearConv", 9);
        mof_tensor *in[9] = {
            x, f32_tensor(0, &xs), zp_tensor(sgn, 0, &xzp), w, f32_tensor(M, ws),
            zp_tensor(1, M, wzp), f32_tensor(0, &ys), zp_tensor(sgn, 0, &yzp), bt,
        };
        mof_tensor *y = NULL;
        ck_assert_status(ctx, mof_interp_eval_node(ctx, node, 13, 9, in, 1, &y), MOF_OK);
        float mult[M];
        for (int i = 0; i < M; i++)
            mult[i] = xs * ws[i] / ys;
        mofrt_i8_conv p = {
            .n = 1, .c = 1, .h = 1, .w = 256, .m = M, .oh = 1, .ow = 256, .kh = 1, .kw = 1,
            .sh = 1, .sw = 1, .dh = 1, .dw = 1, .groups = 1, .x_signed = sgn, .x_zp = xzp,
            .out = {mult, bias, yzp, sgn ? -128 : 0, sgn ? 127 : 255, sgn},
        };
        int16_t packed[2 * MOFRT_I8_MR * 2];
        ck_assert_uint_le(mofrt_i8_packed_size(1, M, 1), sizeof(packed) / sizeof(packed[0]));
        mofrt_i8_pack_weights(1, M, 1, mof_tensor_data(w), 1, wzp, 1, 0, packed);
        mofrt_pool *pool = mofrt_pool_create(1);
        void *scratch = mofrt_alloc(mofrt_i8_conv_scratch(&p, 1), 64);
        uint8_t got[M * 256];
        ck_assert(pool && scratch);
        mofrt_i8_conv_run(&p, packed, NULL, mof_tensor_data(x), got, scratch, pool);
        expect_same(sgn ? "requant s8" : "requant u8", y, got);
        mofrt_free(scratch);
        mofrt_pool_destroy(pool);
        for (int i = 0; i < 9; i++)
            mof_tensor_unref(in[i]);
        mof_tensor_unref(y);
    }
}
END_TEST

/* ------------------------------------------------------------------ QLinearMatMul */

typedef struct mm_case {
    const char *name;
    int64_t batch, rows, k, n;
    int a_signed, b_signed, y_signed, per_column;
    int wrap;        /* extreme values and a huge k: the int32 accumulator wraps */
} mm_case;

static const mm_case mm_cases[] = {
    {"u8 x s8", 1, 5, 17, 11, 0, 1, 0, 0, 0},
    {"s8 x s8 per column", 1, 20, 64, 33, 1, 1, 1, 1, 0},
    {"u8 x u8 batched", 3, 7, 9, 4, 0, 0, 0, 1, 0},
    {"s8 x u8 to u8", 2, 1, 100, 40, 1, 0, 0, 0, 0},
    {"wrap-around", 1, 2, 40000, 3, 0, 0, 1, 0, 1},
};

START_TEST(test_matmul)
{
    const mm_case *mc = &mm_cases[_i];
    rng_state = 3000 + (uint64_t)_i;
    int64_t ad[3] = {mc->batch, mc->rows, mc->k}, bd[2] = {mc->k, mc->n};
    mof_tensor *a = rand_q(mc->a_signed, 3, ad), *b = rand_q(mc->b_signed, 2, bd);
    int32_t azp = mc->a_signed ? rnd_int(-10, 10) : rnd_int(100, 150);
    int32_t yzp = mc->y_signed ? rnd_int(-10, 10) : rnd_int(100, 150);
    if (mc->wrap) {
        /* (255 - 0) * (255 - 0) * 40000 > 2^31: the sum wraps in the interpreter too. */
        memset(mof_tensor_data_mut(a), 255, mof_tensor_nbytes(a));
        memset(mof_tensor_data_mut(b), 255, mof_tensor_nbytes(b));
        azp = 0;
    }
    int32_t *bzp = calloc((size_t)mc->n, sizeof(*bzp));
    float *bs = calloc((size_t)mc->n, sizeof(*bs)), *mult = calloc((size_t)mc->n, sizeof(*mult));
    ck_assert(bzp && bs && mult);
    for (int64_t i = 0; i < mc->n; i++) {
        bzp[i] = mc->wrap ? 0 : mc->b_signed ? rnd_int(-5, 5) : rnd_int(120, 135);
        bs[i] = rnd_float(0.001f, 0.01f);
    }
    if (!mc->per_column)
        for (int64_t i = 1; i < mc->n; i++)
            bzp[i] = bzp[0], bs[i] = bs[0];
    float as = rnd_float(0.01f, 0.03f);
    float ys = as * bs[0] * 128.0f * (float)sqrt((double)mc->k) / 40.0f;
    if (mc->wrap)
        ys = as * bs[0] * 1e6f;
    int64_t nch = mc->per_column ? mc->n : 0;
    mof_node *node = make_node("QLinearMatMul", 8);
    mof_tensor *in[8] = {
        a, f32_tensor(0, &as), zp_tensor(mc->a_signed, 0, &azp),
        b, f32_tensor(nch, bs), zp_tensor(mc->b_signed, nch, bzp),
        f32_tensor(0, &ys), zp_tensor(mc->y_signed, 0, &yzp),
    };
    mof_tensor *y = NULL;
    ck_assert_status(ctx, mof_interp_eval_node(ctx, node, 13, 8, in, 1, &y), MOF_OK);

    for (int64_t i = 0; i < mc->n; i++)
        mult[i] = as * bs[i] / ys;
    mofrt_i8_matmul p = {
        .rows = mc->batch * mc->rows, .k = mc->k, .n = mc->n,
        .a_signed = mc->a_signed, .a_zp = azp,
        .out = {mult, NULL, yzp, mc->y_signed ? -128 : 0, mc->y_signed ? 127 : 255, mc->y_signed},
    };
    int16_t *packed = calloc(mofrt_i8_packed_size(1, mc->n, mc->k), sizeof(int16_t));
    ck_assert_ptr_nonnull(packed);
    mofrt_i8_pack_weights(1, mc->n, mc->k, mof_tensor_data(b), mc->b_signed, bzp, 1, 1, packed);
    mofrt_pool *pool = mofrt_pool_create(1);
    void *scratch = mofrt_alloc(mofrt_i8_matmul_scratch(&p, 1), 64);
    uint8_t *got = calloc(mof_tensor_nbytes(y) + 1, 1);
    ck_assert(pool && scratch && got);
    mofrt_i8_matmul_run(&p, packed, mof_tensor_data(a), got, scratch, pool);
    expect_same(mc->name, y, got);
    if (mc->wrap) {
        /* The wrapped sum is negative: the result is not the saturated top. */
        ck_assert_int_ne(((uint8_t *)got)[0], 127);
    }
    for (int i = 0; i < 8; i++)
        mof_tensor_unref(in[i]);
    mof_tensor_unref(y);
    mofrt_free(scratch);
    mofrt_pool_destroy(pool);
    free(got);
    free(packed);
    free(bzp);
    free(bs);
    free(mult);
}
END_TEST

/* ------------------------------------------------------------------ Quantize / Dequantize */

START_TEST(test_quantize)
{
    rng_state = 99;
    enum { N = 4099 };
    int64_t n = N;
    mof_tensor *x = mof_tensor_create(MOF_DTYPE_FLOAT, 1, &n);
    ck_assert_ptr_nonnull(x);
    float *xv = mof_tensor_data_mut(x);
    float scale = 0.0371f;
    for (int i = 0; i < N; i++) {
        /* Many exact halves (ties), values beyond the range, and specials. */
        xv[i] = i % 3 == 0 ? ((float)rnd_int(-600, 600) + 0.5f) * scale
                           : rnd_float(-12.0f, 12.0f);
    }
    xv[0] = NAN;
    xv[1] = INFINITY;
    xv[2] = -INFINITY;
    xv[3] = -0.0f;
    for (int sgn = 0; sgn < 2; sgn++) {
        int32_t zp = sgn ? -3 : 131;
        mof_node *node = make_node("QuantizeLinear", 3);
        mof_tensor *in[3] = {mof_tensor_ref(x), f32_tensor(0, &scale), zp_tensor(sgn, 0, &zp)};
        mof_tensor *y = NULL;
        ck_assert_status(ctx, mof_interp_eval_node(ctx, node, 13, 3, in, 1, &y), MOF_OK);
        uint8_t got[N];
        mofrt_i8_quantize(xv, N, scale, zp, sgn, got);
        expect_same(sgn ? "quantize s8" : "quantize u8", y, got);
        for (int i = 0; i < 3; i++)
            mof_tensor_unref(in[i]);
        mof_tensor_unref(y);
    }
    mof_tensor_unref(x);
}
END_TEST

START_TEST(test_dequantize)
{
    rng_state = 5;
    int64_t dims[3] = {2, 5, 7};
    float scale[5] = {0.1f, 0.0373f, 3.5f, 1e-3f, 0.77f};
    int32_t zp[5] = {3, -7, 0, 100, -128};
    for (int kind = 0; kind < 3; kind++) {
        for (int per_axis = 0; per_axis < 2; per_axis++) {
            mof_dtype dt = kind == 0 ? MOF_DTYPE_UINT8 : kind == 1 ? MOF_DTYPE_INT8
                                                                   : MOF_DTYPE_INT32;
            mof_tensor *x = mof_tensor_create(dt, 3, dims);
            ck_assert_ptr_nonnull(x);
            uint8_t *xb = mof_tensor_data_mut(x);
            for (size_t i = 0; i < mof_tensor_nbytes(x); i++)
                xb[i] = (uint8_t)rnd();
            int32_t zpu[5];
            for (int i = 0; i < 5; i++)
                zpu[i] = kind == 2 ? 0 : kind == 0 ? (zp[i] + 256) % 256 : zp[i];
            mof_node *node = make_node("DequantizeLinear", 3);
            int64_t nch = per_axis ? 5 : 0;
            mof_tensor *zt;
            if (kind == 2) {
                int64_t len = per_axis ? 5 : 1;
                zt = mof_tensor_create(MOF_DTYPE_INT32, per_axis ? 1 : 0, &len);
                ck_assert_ptr_nonnull(zt);
            } else {
                zt = zp_tensor(kind == 1, nch, zpu);
            }
            mof_tensor *in[3] = {x, f32_tensor(nch, scale), zt};
            mof_tensor *y = NULL;
            ck_assert_status(ctx, mof_interp_eval_node(ctx, node, 13, 3, in, 1, &y), MOF_OK);
            float got[70];
            float sc[5];
            int32_t zc[5];
            for (int i = 0; i < 5; i++) {
                sc[i] = per_axis ? scale[i] : scale[0];
                zc[i] = per_axis ? zpu[i] : zpu[0];
            }
            mofrt_i8_dequantize(mof_tensor_data(x), kind, 2, 5, 7, sc, zc, got);
            expect_same("dequantize", y, got);
            for (int i = 0; i < 3; i++)
                mof_tensor_unref(in[i]);
            mof_tensor_unref(y);
        }
    }
}
END_TEST

/* MaxPool of 8-bit planes, as the lowering of DQ -> MaxPool -> Q leaves it. */
START_TEST(test_maxpool)
{
    static const struct {
        int64_t h, w, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
    } pc[] = {
        {12, 13, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
        {8, 8, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0},
        {9, 11, 3, 2, 1, 2, 2, 1, 2, 0, 1, 1},
    };
    rng_state = 321;
    for (int sgn = 0; sgn < 2; sgn++)
        for (size_t ci = 0; ci < sizeof(pc) / sizeof(pc[0]); ci++) {
            int64_t xd[4] = {2, 3, pc[ci].h, pc[ci].w};
            mof_tensor *x = rand_q(sgn, 4, xd);
            mof_node *node = make_node("MaxPool", 1);
            ck_assert_int_eq(mof_node_set_attr_ints(node, "kernel_shape", 2,
                                                    (int64_t[]){pc[ci].kh, pc[ci].kw}), MOF_OK);
            ck_assert_int_eq(mof_node_set_attr_ints(node, "strides", 2,
                                                    (int64_t[]){pc[ci].sh, pc[ci].sw}), MOF_OK);
            ck_assert_int_eq(mof_node_set_attr_ints(node, "dilations", 2,
                                                    (int64_t[]){pc[ci].dh, pc[ci].dw}), MOF_OK);
            ck_assert_int_eq(mof_node_set_attr_ints(node, "pads", 4,
                                                    (int64_t[]){pc[ci].pt, pc[ci].pl, pc[ci].pb,
                                                                pc[ci].pr}), MOF_OK);
            mof_tensor *y = NULL;
            ck_assert_status(ctx, mof_interp_eval_node(ctx, node, 13, 1, &x, 1, &y), MOF_OK);
            const int64_t *yd = mof_tensor_dims(y);
            mofrt_i8_pool p = {6, pc[ci].h, pc[ci].w, yd[2], yd[3], pc[ci].kh, pc[ci].kw,
                               pc[ci].sh, pc[ci].sw, pc[ci].dh, pc[ci].dw, pc[ci].pt,
                               pc[ci].pl, sgn};
            uint8_t *got = calloc(mof_tensor_nbytes(y) + 1, 1);
            int16_t *scratch = calloc((size_t)pc[ci].w, sizeof(int16_t));
            ck_assert(got && scratch);
            mofrt_i8_maxpool(&p, mof_tensor_data(x), got, scratch);
            expect_same("maxpool", y, got);
            free(got);
            free(scratch);
            mof_tensor_unref(x);
            mof_tensor_unref(y);
        }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cpu_int8");
    TCase *tc = mof_test_tcase(s, "conv", setup, teardown);
    int nconv = (int)(sizeof(conv_cases) / sizeof(conv_cases[0]));
    tcase_add_loop_test(tc, test_conv, 0, nconv);
    tcase_add_loop_test(tc, test_conv_threads, 0, nconv);
    tcase_add_test(tc, test_conv_blocks);
    tcase_add_test(tc, test_requant);
    tcase_set_timeout(tc, 60);
    tc = mof_test_tcase(s, "matmul", setup, teardown);
    tcase_add_loop_test(tc, test_matmul, 0, (int)(sizeof(mm_cases) / sizeof(mm_cases[0])));
    tc = mof_test_tcase(s, "elementwise", setup, teardown);
    tcase_add_test(tc, test_quantize);
    tcase_add_test(tc, test_dequantize);
    tcase_add_test(tc, test_maxpool);
    return s;
}

int main(void)
{
#if defined(MOF_TEST_NEED_AVX2) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2")) {
        printf("SKIP: this CPU has no AVX2\n");
        return 77;
    }
#endif
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
