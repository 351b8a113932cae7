/* test_quant_static: quantize-static, its calibration statistics and its report.
 *
 * The statistics are checked on known data (min/max, percentile, entropy), and their
 * split + merge against one run, bit for bit, in memory and through stats files. The
 * pass runs (plugin compiled in, MOF_PLUGIN_STATIC=quantization) on a small
 * Conv-Relu-Conv-Add-Relu-Pool-Gemm model with calibration data written as .npy:
 * the QDQ and QOperator structures, the numbers (the quantized model against the float
 * one in the reference interpreter), op-type and node selection, keep-float, and
 * stats-out / stats-in giving the same model as one calibration run. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mof/mof.h>

#include "testutil.h"
#include "passtest.h"

#include "../../passes/quantization/calib.h"
#include "../../passes/quantization/qutil.h"

const mof_plugin_desc *mof_plugin_entry_quantization(void);

/* ------------------------------------------------------------------ statistics */

START_TEST(test_minmax)
{
    qc_stats s;
    qc_stats_init(&s);
    qc_stat *st = qc_stats_get(&s, "t");
    float x[] = { -1.5f, 0.25f, 3.0f, 2.0f, NAN };
    ck_assert_int_eq(qc_stat_add(st, x, 5), MOF_OK);
    ck_assert_int_eq(st->count, 4);
    ck_assert_int_eq(st->nonfinite, 1);
    float lo, hi;
    qc_range(st, QC_MINMAX, 0, 128, &lo, &hi);
    ck_assert_float_eq(lo, -1.5f);
    ck_assert_float_eq(hi, 3.0f);
    qc_stats_clear(&s);
}
END_TEST

START_TEST(test_percentile)
{
    qc_stats s;
    qc_stats_init(&s);
    qc_stat *st = qc_stats_get(&s, "t");
    /* 10000 values uniform on [0, 1) and one outlier at 1000. */
    float *x = malloc(10001 * sizeof(*x));
    for (int i = 0; i < 10000; i++)
        x[i] = (float)i / 10000.0f;
    x[10000] = 1000.0f;
    ck_assert_int_eq(qc_stat_add(st, x, 10001), MOF_OK);
    float lo, hi;
    qc_range(st, QC_PERCENTILE, 99.9, 128, &lo, &hi);
    /* The 99.9th percentile is 0.999; the bins are 2^11 / 4096 = 0.5 wide at R = 1024,
     * so the edge above it is 1.0. */
    ck_assert_float_eq(lo, 0.0f);
    ck_assert_float_eq(hi, 1.0f);
    qc_range(st, QC_MINMAX, 0, 128, &lo, &hi);
    ck_assert_float_eq(hi, 1000.0f);
    free(x);
    qc_stats_clear(&s);
}
END_TEST

START_TEST(test_entropy)
{
    qc_stats s;
    qc_stats_init(&s);
    qc_stat *st = qc_stats_get(&s, "t");
    /* A Gaussian-like bulk in [-4, 4] and a few far outliers at +-64: KL clips them. */
    size_t n = 200000;
    float *x = malloc((n + 4) * sizeof(*x));
    uint64_t rng = 7;
    for (size_t i = 0; i < n; i++) {
        double u = 0;
        for (int k = 0; k < 4; k++)
            u += (double)(rng_next(&rng) % 100000) / 100000.0 - 0.5;
        x[i] = (float)(u * 2.0);
    }
    x[n] = 64, x[n + 1] = -64, x[n + 2] = 63, x[n + 3] = -63;
    ck_assert_int_eq(qc_stat_add(st, x, n + 4), MOF_OK);
    float lo, hi;
    qc_range(st, QC_ENTROPY, 0, 128, &lo, &hi);
    ck_assert_float_gt(hi, 1.5f);
    ck_assert_float_lt(hi, 10.0f);
    ck_assert_float_eq(lo, -hi);
    /* A distribution with no tail keeps (about) its whole range. */
    qc_stat *u = qc_stats_get(&s, "u");
    for (size_t i = 0; i < n; i++)
        x[i] = (float)i / (float)n;
    ck_assert_int_eq(qc_stat_add(u, x, n), MOF_OK);
    qc_range(u, QC_ENTROPY, 0, 256, &lo, &hi);
    ck_assert_float_eq(lo, 0.0f);
    ck_assert_float_gt(hi, 0.9f);
    free(x);
    qc_stats_clear(&s);
}
END_TEST

/* After a Relu half the values are exact zeros: that spike takes no part in the search,
 * which would otherwise clip a tail-less distribution to a small part of its range
 * (the digits CNN: 6.7 dB output SQNR instead of 39). */
START_TEST(test_entropy_relu)
{
    qc_stats s;
    qc_stats_init(&s);
    qc_stat *st = qc_stats_get(&s, "r");
    size_t n = 100000;
    float *x = malloc(2 * n * sizeof(*x));
    uint64_t rng = 11;
    float amax = 0;
    for (size_t i = 0; i < n; i++) {
        double u = 0;
        for (int k = 0; k < 4; k++)
            u += (double)(rng_next(&rng) % 100000) / 100000.0 - 0.5;
        x[2 * i] = 0;
        x[2 * i + 1] = (float)fabs(u);
        amax = fmaxf(amax, x[2 * i + 1]);
    }
    ck_assert_int_eq(qc_stat_add(st, x, 2 * n), MOF_OK);
    float lo, hi;
    qc_range(st, QC_ENTROPY, 0, 256, &lo, &hi);
    ck_assert_float_eq(lo, 0.0f);
    ck_assert_msg(hi > 0.6f * amax, "threshold %g of max %g", (double)hi, (double)amax);
    free(x);
    qc_stats_clear(&s);
}
END_TEST

/* The KL search and the coarsening on histograms whose answer follows from the
 * method. */
START_TEST(test_kl_search)
{
    int64_t h[QC_BINS / 2];
    /* No more bins in use than levels: nothing to search, the whole range. */
    memset(h, 0, sizeof(h));
    for (size_t j = 0; j < 100; j++)
        h[j] = 10;
    ck_assert_uint_eq(qc_kl_search(h, 100, 128), 100);
    /* Flat over 1024 bins: at 1024 every level is 8 equal bins, Q = P and KL is 0; a
     * narrower range folds a heavy tail into P's last bin. */
    for (size_t j = 0; j < 1024; j++)
        h[j] = 50;
    ck_assert_uint_eq(qc_kl_search(h, 1024, 128), 1024);
    /* Bins alternating 100 and 300 over 128 bins and one value far out at bin 1000: at
     * 128 every level is one bin and Q misses only that value (KL about 3e-5); any wider
     * range merges a 100-bin with a 300-bin somewhere (KL about 0.13 times that level's
     * share, 2e-3 and up). */
    memset(h, 0, sizeof(h));
    for (size_t j = 0; j < 128; j++)
        h[j] = j % 2 ? 300 : 100;
    h[1000] = 1;
    ck_assert_uint_eq(qc_kl_search(h, 1001, 128), 128);
    /* Coarsening: one value per bin over 2048 bins is cut to max(2048 / 64, 128) = 128
     * bins of 16 (four merges of pairs); 64 values per bin are left alone. */
    size_t used = QC_BINS / 2;
    for (size_t j = 0; j < used; j++)
        h[j] = 1;
    ck_assert_int_eq(qc_kl_coarsen(h, &used, 128, QC_BINS / 2), 4);
    ck_assert_uint_eq(used, 128);
    for (size_t j = 0; j < QC_BINS / 2; j++)
        ck_assert_int_eq(h[j], j < 128 ? 16 : 0);
    used = QC_BINS / 2;
    for (size_t j = 0; j < used; j++)
        h[j] = 64;
    ck_assert_int_eq(qc_kl_coarsen(h, &used, 128, 64 * (QC_BINS / 2)), 0);
    ck_assert_uint_eq(used, QC_BINS / 2);
}
END_TEST

/* Adding data in pieces, in another order, and merging statistics all give the
 * statistics of one pass over the data, bit for bit; so do files. */
START_TEST(test_split_merge)
{
    size_t n = 5000;
    float *x = malloc(n * sizeof(*x));
    uint64_t rng = 99;
    for (size_t i = 0; i < n; i++) {
        /* Ranges growing by powers of two, so that the histograms are rebinned. */
        double scale = ldexp(1.0, (int)(i / 700));
        x[i] = (float)(((double)(rng_next(&rng) % 200001) / 100000.0 - 1.0) * scale);
    }
    qc_stats one, a, b, merged, back;
    qc_stats_init(&one);
    qc_stats_init(&a);
    qc_stats_init(&b);
    qc_stats_init(&merged);
    qc_stats_init(&back);
    ck_assert_int_eq(qc_stat_add(qc_stats_get(&one, "t"), x, n), MOF_OK);
    one.samples = 2;
    /* a: the second half first, in small pieces; b: the first half. */
    for (size_t i = n / 2; i < n; i += 37)
        ck_assert_int_eq(qc_stat_add(qc_stats_get(&a, "t"), x + i, i + 37 < n ? 37 : n - i),
                         MOF_OK);
    ck_assert_int_eq(qc_stat_add(qc_stats_get(&b, "t"), x, n / 2), MOF_OK);
    a.samples = b.samples = 1;
    ck_assert(!qc_stats_equal(&one, &a));
    ck_assert_int_eq(qc_stats_merge(&merged, &a), MOF_OK);
    ck_assert_int_eq(qc_stats_merge(&merged, &b), MOF_OK);
    ck_assert(qc_stats_equal(&one, &merged));

    char dir[] = "/tmp/mof-qstats-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char pa[64], pb[64];
    snprintf(pa, sizeof pa, "%s/a.stats", dir);
    snprintf(pb, sizeof pb, "%s/b.stats", dir);
    mof_context *ctx = mof_context_create();
    ck_assert_status(ctx, qc_stats_write(ctx, &a, pa), MOF_OK);
    ck_assert_status(ctx, qc_stats_write(ctx, &b, pb), MOF_OK);
    ck_assert_status(ctx, qc_stats_read(ctx, &back, pb), MOF_OK);
    ck_assert_status(ctx, qc_stats_read(ctx, &back, pa), MOF_OK);
    ck_assert(qc_stats_equal(&one, &back));
    /* A damaged file is refused with its name and line. */
    FILE *f = fopen(pa, "w");
    fputs("mof-quant-stats 1\nbins 4096\nsamples 1\ntensor t 1 0x0p+0 0x1p+0 3 0 1 1\n7:2\n", f);
    fclose(f);
    qc_stats bad;
    qc_stats_init(&bad);
    ck_assert_int_eq(qc_stats_read(ctx, &bad, pa), MOF_ERR_PARSE);
    ck_assert(mof_test_diag_contains(ctx, "counts 2 values, not 3"));
    unlink(pa);
    unlink(pb);
    rmdir(dir);
    mof_context_destroy(ctx);
    qc_stats_clear(&bad);
    qc_stats_clear(&one);
    qc_stats_clear(&a);
    qc_stats_clear(&b);
    qc_stats_clear(&merged);
    qc_stats_clear(&back);
    free(x);
}
END_TEST

/* ------------------------------------------------------------------ the pass */

static struct fixture fx;
static char data_dir[64];

/* Appends n random floats in [-a, a) as "v, v, ..." to buf. */
static void floats_text(char *buf, size_t size, size_t n, float a, uint64_t *rng)
{
    size_t len = strlen(buf);
    for (size_t i = 0; i < n; i++) {
        float v = a * ((float)(rng_next(rng) % 20001) / 10000.0f - 1.0f);
        len += (size_t)snprintf(buf + len, size - len, "%s%.4f", i ? ", " : "", (double)v);
    }
}

/* x[1,2,6,6] -> Conv(4) -> Relu -> Conv(4) -> Add(relu1) -> Relu -> GlobalAveragePool ->
 * Flatten -> Gemm(3) -> y. */
static mof_model *make_model(mof_context *ctx)
{
    size_t size = 64 * 1024;
    char *t = malloc(size);
    uint64_t rng = 4242;
    snprintf(t, size, "<ir_version: 8, opset_import: [\"\" : 13]>\n"
             "main (float[1,2,6,6] x) => (float[1,3] y)\n<float[4,2,3,3] w1 = {");
    floats_text(t, size, 72, 0.5f, &rng);
    strcat(t, "}, float[4] b1 = {");
    floats_text(t, size, 4, 0.2f, &rng);
    strcat(t, "}, float[4,4,3,3] w2 = {");
    floats_text(t, size, 144, 0.3f, &rng);
    strcat(t, "}, float[4] b2 = {");
    floats_text(t, size, 4, 0.2f, &rng);
    strcat(t, "}, float[3,4] w3 = {");
    floats_text(t, size, 12, 1.0f, &rng);
    strcat(t, "}, float[3] b3 = {");
    floats_text(t, size, 3, 0.2f, &rng);
    strcat(t, "}>\n{\n"
              "   [conv1] c1 = Conv <pads: ints = [1, 1, 1, 1]> (x, w1, b1)\n"
              "   [relu1] r1 = Relu (c1)\n"
              "   [conv2] c2 = Conv <pads: ints = [1, 1, 1, 1]> (r1, w2, b2)\n"
              "   [add] s = Add (c2, r1)\n"
              "   [relu2] r2 = Relu (s)\n"
              "   [pool] p = GlobalAveragePool (r2)\n"
              "   [flat] f = Flatten (p)\n"
              "   [fc] y = Gemm <transB: int = 1> (f, w3, b3)\n"
              "}\n");
    mof_model *m = mof_model_parse_text(ctx, t, strlen(t), "model.onnxtxt");
    if (!m)
        mof_test_print_diags(ctx);
    ck_assert_ptr_nonnull(m);
    free(t);
    return m;
}

/* n samples of x, stacked: [n,2,6,6], normal-ish values; into dir/x.npy. */
static void write_samples(mof_context *ctx, const char *dir, size_t n, uint64_t seed)
{
    int64_t dims[4] = { (int64_t)n, 2, 6, 6 };
    mof_tensor *t = mof_tensor_create(MOF_DTYPE_FLOAT, 4, dims);
    float *d = mof_tensor_data_mut(t);
    uint64_t rng = seed;
    for (int64_t i = 0; i < mof_tensor_numel(t); i++) {
        double u = 0;
        for (int k = 0; k < 3; k++)
            u += (double)(rng_next(&rng) % 100000) / 100000.0 - 0.5;
        d[i] = (float)(u * 2.0);
    }
    char path[128];
    snprintf(path, sizeof path, "%s/x.npy", dir);
    ck_assert_status(ctx, mof_tensor_save(ctx, t, NULL, path), MOF_OK);
    mof_tensor_unref(t);
}

static void setup(void)
{
    passtest_fixture_init(&fx, mof_plugin_entry_quantization);
    mof_model_destroy(fx.model);
    fx.model = make_model(fx.ctx);
    fx.g = mof_model_graph(fx.model);
    snprintf(data_dir, sizeof data_dir, "/tmp/mof-qstatic-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(data_dir));
    write_samples(fx.ctx, data_dir, 12, 1);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", data_dir);
    ck_assert_int_eq(system(cmd), 0);
    fixture_free(&fx);
}

static mof_status run_q(const char *params)
{
    char passes[1024];
    snprintf(passes, sizeof passes, "quantize-static(calibration=%s%s%s)", data_dir,
             *params ? "," : "", params);
    return passtest_run(&fx, passes);
}

/* The SQNR in dB of the model's output against f->before on the calibration data. */
static double output_sqnr(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/x.npy", data_dir);
    mof_tensor *all = mof_tensor_load(fx.ctx, path, NULL);
    ck_assert_ptr_nonnull(all);
    double sig = 0, noise = 0;
    int64_t dims[4] = { 1, 2, 6, 6 };
    for (int64_t k = 0; k < mof_tensor_dims(all)[0]; k++) {
        mof_tensor *in = mof_tensor_create_from(MOF_DTYPE_FLOAT, 4, dims,
                                                (const float *)mof_tensor_data(all) + k * 72);
        mof_tensor *a = NULL, *b = NULL;
        ck_assert_status(fx.ctx, mof_run_model(fx.ctx, fx.before, 1, &in, 1, &a), MOF_OK);
        ck_assert_status(fx.ctx, mof_run_model(fx.ctx, fx.model, 1, &in, 1, &b), MOF_OK);
        const float *x = mof_tensor_data(a), *y = mof_tensor_data(b);
        for (int64_t i = 0; i < mof_tensor_numel(a); i++) {
            sig += (double)x[i] * x[i];
            noise += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
        }
        mof_tensor_unref(in);
        mof_tensor_unref(a);
        mof_tensor_unref(b);
    }
    mof_tensor_unref(all);
    return 10 * log10(sig / noise);
}

static const mof_tensor *init_of(const mof_node *n, size_t i)
{
    const mof_value *v = mof_node_input(n, i);
    return v && mof_value_is_constant(v) ? mof_value_tensor(v) : NULL;
}

START_TEST(test_qdq)
{
    snapshot(&fx);
    ck_assert_int_eq(run_q(""), MOF_OK);
    /* Nodes: conv1, conv2, add, pool, flat, fc. Activations: x, r1 (Relu fused), c2,
     * r2 (Relu fused), p, f (with p's parameters: Flatten shares its input's). */
    ck_assert_int_eq(stat_of(&fx, "nodes-quantized"), 6);
    ck_assert_int_eq(stat_of(&fx, "tensors-quantized"), 6);
    ck_assert_int_eq(stat_of(&fx, "weights-quantized"), 3);
    ck_assert_int_eq(stat_of(&fx, "relu-fused"), 2);
    ck_assert_uint_eq(count_op(fx.g, "Relu"), 0);
    ck_assert_uint_eq(count_op(fx.g, "QuantizeLinear"), 6);
    ck_assert_uint_eq(count_op(fx.g, "DequantizeLinear"), 6 + 3 + 3);
    /* DequantizeLinear(p) -> Flatten -> QuantizeLinear(f) with the same scale and zero
     * point initializers: ONNX Runtime runs the Flatten on uint8. */
    mof_node *flat = find_node(fx.g, "flat"), *pool = find_node(fx.g, "pool");
    mof_node *dp = mof_value_producer(mof_node_input(flat, 0), NULL);
    mof_node *qf = mof_value_use(mof_node_output(flat, 0), 0, NULL);
    mof_node *dpool = mof_value_producer(mof_node_input(pool, 0), NULL);
    ck_assert_str_eq(mof_node_op_type(dp), "DequantizeLinear");
    ck_assert_str_eq(mof_node_op_type(qf), "QuantizeLinear");
    ck_assert_ptr_eq(mof_node_input(qf, 1), mof_node_input(dp, 1));
    ck_assert_ptr_eq(mof_node_input(qf, 2), mof_node_input(dp, 2));
    /* GlobalAveragePool has a scale of its own, as in ONNX Runtime. */
    ck_assert_ptr_ne(mof_node_input(dp, 1), mof_node_input(dpool, 1));
    /* conv1 reads an int8 weight per channel and an int32 bias of scale xs * ws. */
    mof_node *c1 = find_node(fx.g, "conv1");
    mof_node *dw = mof_value_producer(mof_node_input(c1, 1), NULL);
    mof_node *db = mof_value_producer(mof_node_input(c1, 2), NULL);
    mof_node *dx = mof_value_producer(mof_node_input(c1, 0), NULL);
    ck_assert_str_eq(mof_node_op_type(dw), "DequantizeLinear");
    ck_assert_int_eq(mof_tensor_dtype(init_of(dw, 0)), MOF_DTYPE_INT8);
    ck_assert_int_eq(mof_tensor_numel(init_of(dw, 1)), 4);
    ck_assert_int_eq(mof_node_attr_int(dw, "axis", -1), 0);
    ck_assert_int_eq(mof_tensor_dtype(init_of(db, 0)), MOF_DTYPE_INT32);
    float xs = *(const float *)mof_tensor_data(init_of(dx, 1));
    const float *ws = mof_tensor_data(init_of(dw, 1)), *bs = mof_tensor_data(init_of(db, 1));
    for (int i = 0; i < 4; i++)
        ck_assert_float_eq(bs[i], xs * ws[i]);
    ck_assert_int_eq(mof_tensor_dtype(init_of(dx, 2)), MOF_DTYPE_UINT8);
    /* The float weights are gone; the model is close to the float one. */
    ck_assert_ptr_null(mof_graph_find_value(fx.g, "w1"));
    double db_out = output_sqnr();
    ck_assert_msg(db_out > 30.0, "output SQNR %.2f dB", db_out);
    /* The report went into the run report as JSON. */
    const mof_step_report *s = mof_run_report_step(fx.report, 0);
    ck_assert_uint_eq(s->n_data, 1);
    ck_assert_str_eq(s->data_keys[0], "quantize-static");
    ck_assert_ptr_nonnull(strstr(s->data_json[0], "\"output_sqnr_db\": "));
    ck_assert_ptr_nonnull(strstr(s->data_json[0], "\"tensor\": \"r1\""));
    ck_assert(mof_test_diag_contains(fx.ctx, "tensor SQNR, worst first"));
}
END_TEST

START_TEST(test_qoperator)
{
    snapshot(&fx);
    ck_assert_int_eq(run_q("format=qoperator,per-channel=false,activation-type=int8"), MOF_OK);
    ck_assert_int_eq(stat_of(&fx, "qlinear-nodes"), 2);
    ck_assert_uint_eq(count_op(fx.g, "QLinearConv"), 2);
    ck_assert_uint_eq(count_op(fx.g, "Conv"), 0);
    mof_node *c1 = find_node(fx.g, "conv1");
    ck_assert_str_eq(mof_node_op_type(c1), "QLinearConv");
    ck_assert_uint_eq(mof_node_n_inputs(c1), 9);
    ck_assert_int_eq(mof_tensor_dtype(init_of(c1, 8)), MOF_DTYPE_INT32);
    ck_assert_int_eq(mof_tensor_dtype(init_of(c1, 2)), MOF_DTYPE_INT8);
    double db_out = output_sqnr();
    ck_assert_msg(db_out > 25.0, "output SQNR %.2f dB", db_out);
}
END_TEST

START_TEST(test_select)
{
    /* flat's input (pool's output) is not quantized: flat stays float too. */
    ck_assert_int_eq(run_q("exclude-op-types='Gemm,Add,GlobalAveragePool',report-samples=0"),
                     MOF_OK);
    ck_assert_int_eq(stat_of(&fx, "nodes-quantized"), 2);
    ck_assert(mof_test_diag_contains(fx.ctx, "its input is not quantized"));
    ck_assert_ptr_null(qu_producer_op(mof_node_input(find_node(fx.g, "flat"), 0),
                                      "DequantizeLinear"));
    mof_node *fc = find_node(fx.g, "fc");
    ck_assert_ptr_null(mof_value_producer(mof_node_input(fc, 1), NULL));
    ck_assert_ptr_nonnull(mof_graph_find_value(fx.g, "w3"));
    mof_model_destroy(fx.model);
    fx.model = make_model(fx.ctx);
    ck_assert_int_eq(run_q("nodes=conv2,exclude-nodes=conv1"), MOF_OK);
    ck_assert_int_eq(stat_of(&fx, "nodes-quantized"), 1);
    ck_assert_ptr_nonnull(mof_graph_find_value(fx.g, "w1"));
    ck_assert_ptr_null(mof_graph_find_value(fx.g, "w2"));
    /* An op type the pass does not know is an error. */
    mof_pipeline *p = mof_pipeline_parse_list(fx.ctx, "quantize-static(calibration=random:2,"
                                              "op-types='Conv,Softmax')");
    ck_assert_ptr_nonnull(p);
    mof_run_options o;
    mof_run_options_init(&o);
    mof_run_report *rep = NULL;
    ck_assert_int_eq(mof_pipeline_run(p, fx.model, &o, &rep), MOF_ERR_INVALID_ARG);
    ck_assert(mof_test_diag_contains(fx.ctx, "'Softmax' is not an op type"));
    mof_run_report_destroy(rep);
    mof_pipeline_destroy(p);
}
END_TEST

START_TEST(test_keep_float)
{
    ck_assert_int_eq(run_q("keep-float=1"), MOF_OK);
    ck_assert_int_eq(stat_of(&fx, "kept-float"), 1);
    ck_assert_int_eq(stat_of(&fx, "nodes-quantized"), 5);
    const mof_step_report *s = mof_run_report_step(fx.report, 0);
    ck_assert_ptr_nonnull(strstr(s->data_json[0], "\"kept_float\": true"));
    ck_assert(mof_test_diag_contains(fx.ctx, "kept float (keep-float)"));
    ck_assert(mof_test_diag_contains(fx.ctx, "node sensitivity, worst first"));
}
END_TEST

/* Calibrating on 12 samples in one run, or on 5 + 7 in two runs whose stats files are
 * merged, gives the same model, byte for byte. */
START_TEST(test_stats_files)
{
    mof_model *orig = mof_model_dup(fx.model);
    ck_assert_int_eq(run_q("method=entropy,report-samples=0"), MOF_OK);
    void *one = NULL, *two = NULL;
    size_t n_one = 0, n_two = 0;
    ck_assert_status(fx.ctx, mof_model_save_buffer(fx.model, &one, &n_one), MOF_OK);

    /* Split the samples into two folders. */
    char path[256], d1[128], d2[128];
    snprintf(path, sizeof path, "%s/x.npy", data_dir);
    mof_tensor *all = mof_tensor_load(fx.ctx, path, NULL);
    ck_assert_ptr_nonnull(all);
    snprintf(d1, sizeof d1, "%s/a", data_dir);
    snprintf(d2, sizeof d2, "%s/b", data_dir);
    ck_assert_int_eq(mkdir(d1, 0700), 0);
    ck_assert_int_eq(mkdir(d2, 0700), 0);
    int64_t dims[4] = { 5, 2, 6, 6 };
    mof_tensor *a = mof_tensor_create_from(MOF_DTYPE_FLOAT, 4, dims, mof_tensor_data(all));
    dims[0] = 7;
    mof_tensor *b = mof_tensor_create_from(MOF_DTYPE_FLOAT, 4, dims,
                                           (const float *)mof_tensor_data(all) + 5 * 72);
    snprintf(path, sizeof path, "%s/x.npy", d1);
    ck_assert_status(fx.ctx, mof_tensor_save(fx.ctx, a, NULL, path), MOF_OK);
    snprintf(path, sizeof path, "%s/x.npy", d2);
    ck_assert_status(fx.ctx, mof_tensor_save(fx.ctx, b, NULL, path), MOF_OK);
    mof_tensor_unref(a);
    mof_tensor_unref(b);
    mof_tensor_unref(all);
    char passes[1024];
    for (int k = 0; k < 2; k++) {
        mof_model_destroy(fx.model);
        fx.model = mof_model_dup(orig);
        snprintf(passes, sizeof passes, "quantize-static(calibration=%s,stats-out=%s/%d.stats,"
                 "method=entropy,report-samples=0)", k ? d2 : d1, data_dir, k);
        ck_assert_int_eq(passtest_run(&fx, passes), MOF_OK);
    }
    mof_model_destroy(fx.model);
    fx.model = mof_model_dup(orig);
    /* The list separator of the one-line form is ',': quote the value. */
    snprintf(passes, sizeof passes, "quantize-static(stats-in=\"%s/1.stats,%s/0.stats\","
             "method=entropy)", data_dir, data_dir);
    ck_assert_int_eq(passtest_run(&fx, passes), MOF_OK);
    ck_assert(mof_test_diag_contains(fx.ctx, "merged calibration statistics of 12 samples"));
    ck_assert_status(fx.ctx, mof_model_save_buffer(fx.model, &two, &n_two), MOF_OK);
    ck_assert_uint_eq(n_one, n_two);
    ck_assert(memcmp(one, two, n_one) == 0);
    free(one);
    free(two);
    mof_model_destroy(orig);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("quant_static");
    TCase *tc = mof_test_tcase(s, "stats", NULL, NULL);
    tcase_add_test(tc, test_minmax);
    tcase_add_test(tc, test_percentile);
    tcase_add_test(tc, test_entropy);
    tcase_add_test(tc, test_entropy_relu);
    tcase_add_test(tc, test_kl_search);
    tcase_add_test(tc, test_split_merge);
    tc = mof_test_tcase(s, "pass", setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_qdq);
    tcase_add_test(tc, test_qoperator);
    tcase_add_test(tc, test_select);
    tcase_add_test(tc, test_keep_float);
    tcase_add_test(tc, test_stats_files);
    return s;
}

MOF_TEST_MAIN(suite)
