/* test_pruning: the pruning plugin's passes (prune-magnitude, prune-nm, prune-channels).
 *
 * Pruning changes a model's function, so the numeric check states what each pass is
 * claimed to compute and proves it with the reference interpreter:
 *   - prune-magnitude and prune-nm: the pruned model equals the input model with the
 *     weights the rule selects set to zero. The test computes that selection itself
 *     (sorting magnitudes; ranking inside each group of m), compares the tensors bit
 *     for bit and runs both models on the same random inputs;
 *   - prune-channels with compensate=false: the physically smaller model computes
 *     what the input model computes with the weights that READ each removed channel
 *     set to zero (the next Conv's input-channel slice, the Gemm/MatMul rows, ...).
 *     The test ranks the filters itself (per channel group: convs tied by an Add rank
 *     by their summed norms), builds that zeroed model and compares outputs;
 *   - with compensation: the input model in which every reader sees each removed
 *     channel replaced by its constant (Mul by a mask, Pad, Add the constants: the
 *     constant fills a Conv reader's padding too), the constants computed by the test
 *     (data-free: the model run with every Conv weight zeroed; calibrated: channel
 *     means of the interpreter's values on the calibration samples);
 *   - criterion=activation: the test ranks by variance times squared reader weights;
 *   - reconstruct: a removed channel that copies a kept one is absorbed exactly.
 * Sparsity 0 and ratio 0 must leave the model exactly as it was. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mof/mof.h>

#include "testutil.h"

#define PASSTEST_FIXTURE_EXTRA uint64_t rng;
#include "passtest.h"

const mof_plugin_desc *mof_plugin_entry_pruning(void);

/* ------------------------------------------------------------------ building models */

static void fixture_init(struct fixture *f)
{
    passtest_fixture_init(f, mof_plugin_entry_pruning);
    f->rng = 777;
}

static mof_value *input(struct fixture *f, const char *name, int rank, const int64_t *dims)
{
    mof_value *v = mof_graph_add_input(f->g, name, MOF_DTYPE_FLOAT, rank, dims, NULL);
    ck_assert_ptr_nonnull(v);
    return v;
}

static mof_value *init_random(struct fixture *f, const char *name, size_t rank,
                              const int64_t *dims, float lo, float hi)
{
    mof_tensor *t = mof_tensor_create(MOF_DTYPE_FLOAT, rank, dims);
    ck_assert_ptr_nonnull(t);
    float *d = mof_tensor_data_mut(t);
    for (int64_t i = 0; i < mof_tensor_numel(t); i++)
        d[i] = passtest_rng_float(&f->rng, lo, hi);
    mof_value *v = mof_graph_add_initializer(f->g, name, t);
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(mof_value_name(v), name);
    return v;
}

static mof_node *node(struct fixture *f, const char *op, const char *name, size_t n_in, ...)
{
    mof_value *in[8] = { 0 };
    ck_assert_uint_le(n_in, 8);
    va_list ap;
    va_start(ap, n_in);
    for (size_t i = 0; i < n_in; i++)
        in[i] = va_arg(ap, mof_value *);
    va_end(ap);
    mof_node *n = mof_graph_add_node(f->g, MOF_INSERT_AFTER, NULL, op, NULL, name, n_in, in, 1);
    ck_assert_ptr_nonnull(n);
    return n;
}

static mof_value *out(const mof_node *n)
{
    return mof_node_output(n, 0);
}

static void output(struct fixture *f, mof_value *v, int rank, const int64_t *dims)
{
    ck_assert_int_eq(mof_value_set_type(v, MOF_DTYPE_FLOAT, rank, dims, NULL), MOF_OK);
    ck_assert_int_eq(mof_graph_add_output(f->g, v), MOF_OK);
}

static void pads1(mof_node *n)
{
    ck_assert_int_eq(mof_node_set_attr_ints(n, "pads", 4, (const int64_t[]){ 1, 1, 1, 1 }),
                     MOF_OK);
}

/* A Conv named name with a random weight [k, c, ks, ks] (and bias) on x. */
static mof_node *conv(struct fixture *f, const char *name, mof_value *x, int64_t k, int64_t c,
                      int64_t ks, bool bias)
{
    char wn[64], bn[64];
    snprintf(wn, sizeof wn, "%s.w", name);
    snprintf(bn, sizeof bn, "%s.b", name);
    mof_value *w = init_random(f, wn, 4, (const int64_t[]){ k, c, ks, ks }, -1.0f, 1.0f);
    mof_value *b = bias ? init_random(f, bn, 1, &k, -0.5f, 0.5f) : NULL;
    mof_node *n = node(f, "Conv", name, bias ? 3 : 2, x, w, b);
    if (ks == 3)
        pads1(n);
    return n;
}

/* BatchNormalization over c channels with random parameters. */
static mof_node *bn(struct fixture *f, const char *name, mof_value *x, int64_t c)
{
    char n1[64], n2[64], n3[64], n4[64];
    snprintf(n1, sizeof n1, "%s.scale", name);
    snprintf(n2, sizeof n2, "%s.B", name);
    snprintf(n3, sizeof n3, "%s.mean", name);
    snprintf(n4, sizeof n4, "%s.var", name);
    return node(f, "BatchNormalization", name, 5, x,
                init_random(f, n1, 1, &c, 0.5f, 1.5f), init_random(f, n2, 1, &c, -0.5f, 0.5f),
                init_random(f, n3, 1, &c, -0.2f, 0.2f), init_random(f, n4, 1, &c, 0.5f, 1.5f));
}

/* ------------------------------------------------------------------ running */

static mof_status run(struct fixture *f, const char *passes)
{
    return passtest_run(f, passes);
}

static void compare_output(size_t i, const char *name, const mof_tensor *a_t,
                           const mof_tensor *b_t, const void *arg)
{
    double rtol = ((const double *)arg)[0], atol = ((const double *)arg)[1];
    ck_assert_uint_eq(mof_tensor_rank(a_t), mof_tensor_rank(b_t));
    for (size_t d = 0; d < mof_tensor_rank(a_t); d++)
        ck_assert_int_eq(mof_tensor_dims(a_t)[d], mof_tensor_dims(b_t)[d]);
    const float *a = mof_tensor_data(a_t), *b = mof_tensor_data(b_t);
    for (int64_t k = 0; k < mof_tensor_numel(a_t); k++)
        ck_assert_msg(fabs((double)a[k] - b[k]) <= atol + rtol * fabs((double)a[k]),
                      "output %zu '%s' element %lld: expected %.9g, pruned model %.9g", i, name,
                      (long long)k, (double)a[k], (double)b[k]);
}

/* f->before (turned into the expected model by the caller) against f->model, within
 * atol + rtol * |expected|. */
static void check_equivalent_tol(struct fixture *f, double rtol, double atol)
{
    const double tol[2] = { rtol, atol };
    for (uint64_t seed = 1; seed <= 3; seed++)
        passtest_check_equivalent(f, seed, NULL, passtest_uniform_input, compare_output, tol);
}

static void check_equivalent(struct fixture *f, double rtol)
{
    check_equivalent_tol(f, rtol, 1e-6);
}

/* The tensor of initializer `name` of model m. */
static const mof_tensor *tensor_of(const mof_model *m, const char *name)
{
    const mof_value *v = mof_graph_find_value(mof_model_graph(m), name);
    ck_assert_msg(v != NULL, "no value '%s'", name);
    const mof_tensor *t = mof_value_tensor(v);
    ck_assert_msg(t != NULL, "'%s' is not an initializer", name);
    return t;
}

/* The weight that node `node_name` of m reads as input `index`. */
static const mof_tensor *input_tensor(const mof_model *m, const char *node_name, size_t index)
{
    const mof_node *n = find_node(mof_model_graph(m), node_name);
    ck_assert_msg(n != NULL, "no node '%s'", node_name);
    const mof_value *v = mof_node_input(n, index);
    ck_assert_ptr_nonnull(v);
    ck_assert_ptr_nonnull(mof_value_tensor(v));
    return mof_value_tensor(v);
}

static void assert_dims(const mof_tensor *t, size_t rank, const int64_t *dims)
{
    ck_assert_uint_eq(mof_tensor_rank(t), rank);
    for (size_t i = 0; i < rank; i++)
        ck_assert_msg(mof_tensor_dims(t)[i] == dims[i], "dim %zu is %lld, expected %lld", i,
                      (long long)mof_tensor_dims(t)[i], (long long)dims[i]);
}

static void assert_diag(const struct fixture *f, const char *text)
{
    if (!mof_test_diag_contains(f->ctx, text))
        mof_test_print_diags(f->ctx);
    ck_assert_msg(mof_test_diag_contains(f->ctx, text), "no diagnostic says \"%s\"", text);
}

/* Replaces initializer `name` of the expected model f->before with t (taken over). */
static void set_expected(struct fixture *f, const char *name, mof_tensor *t)
{
    mof_value *v = mof_graph_find_value(mof_model_graph(f->before), name);
    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(mof_value_set_tensor(v, t), MOF_OK);
}

/* In the expected model, zeroes the slices of initializer `name` along `axis` for the
 * channels c with drop[c] (channel c covering `unit` positions from offset + c*unit). */
static void zero_slices(struct fixture *f, const char *name, int axis, int64_t offset,
                        int64_t unit, int64_t n, const bool *drop)
{
    mof_tensor *t = mof_tensor_dup(tensor_of(f->before, name));
    ck_assert_ptr_nonnull(t);
    const int64_t *dims = mof_tensor_dims(t);
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < axis; i++)
        outer *= dims[i];
    for (size_t i = (size_t)axis + 1; i < mof_tensor_rank(t); i++)
        inner *= dims[i];
    float *d = mof_tensor_data_mut(t);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t c = 0; c < n; c++)
            if (drop[c])
                for (int64_t u = 0; u < unit; u++)
                    for (int64_t i = 0; i < inner; i++)
                        d[(o * dims[axis] + offset + c * unit + u) * inner + i] = 0.0f;
    set_expected(f, name, t);
}

/* ------------------------------------------------------------------ prune-magnitude */

/* X [2, 8] -> MatMul W1 [8, 6] -> Relu -> Gemm(transB) W2 [4, 6], C -> Y, and a Conv
 * branch X4 [1, 2, 5, 5] -> Conv W3 [4, 2, 3, 3] -> Z. */
static void mixed_model(struct fixture *f)
{
    mof_value *x = input(f, "X", 2, (const int64_t[]){ 2, 8 });
    mof_value *w1 = init_random(f, "W1", 2, (const int64_t[]){ 8, 6 }, -1, 1);
    mof_node *mm = node(f, "MatMul", "mm", 2, x, w1);
    mof_node *r = node(f, "Relu", "r", 1, out(mm));
    mof_value *w2 = init_random(f, "W2", 2, (const int64_t[]){ 4, 6 }, -0.1f, 0.1f);
    mof_value *c = init_random(f, "C", 1, (const int64_t[]){ 4 }, -1, 1);
    mof_node *gemm = node(f, "Gemm", "gemm", 3, out(r), w2, c);
    ck_assert_int_eq(mof_node_set_attr_int(gemm, "transB", 1), MOF_OK);
    output(f, out(gemm), 2, (const int64_t[]){ 2, 4 });
    mof_value *x4 = input(f, "X4", 4, (const int64_t[]){ 1, 2, 5, 5 });
    mof_node *cv = conv(f, "conv", x4, 4, 2, 3, false);
    output(f, out(cv), 4, (const int64_t[]){ 1, 4, 5, 5 });
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The expected result of zeroing the k smallest |w| over the named initializers of
 * f->before taken as one sequence (ties by position), written into f->before. */
static void expect_smallest_zeroed(struct fixture *f, size_t n, const char *const *names,
                                   double sparsity)
{
    int64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += mof_tensor_numel(tensor_of(f->before, names[i]));
    float *mags = malloc((size_t)total * sizeof *mags);
    ck_assert_ptr_nonnull(mags);
    int64_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const mof_tensor *t = tensor_of(f->before, names[i]);
        for (int64_t j = 0; j < mof_tensor_numel(t); j++)
            mags[at++] = fabsf(((const float *)mof_tensor_data(t))[j]);
    }
    qsort(mags, (size_t)total, sizeof *mags, cmp_float);
    int64_t k = (int64_t)floor(sparsity * (double)total + 0.5);
    float th = k ? mags[k - 1] : -1.0f;
    int64_t below = 0;
    while (below < total && mags[below] < th)
        below++;
    int64_t ties = k - below;
    free(mags);
    for (size_t i = 0; i < n; i++) {
        mof_tensor *t = mof_tensor_dup(tensor_of(f->before, names[i]));
        float *d = mof_tensor_data_mut(t);
        for (int64_t j = 0; j < mof_tensor_numel(t); j++) {
            float m = fabsf(d[j]);
            if (m < th || (m == th && ties-- > 0))
                d[j] = 0.0f;
        }
        set_expected(f, names[i], t);
    }
}

static int64_t count_zeros(const mof_tensor *t)
{
    int64_t z = 0;
    for (int64_t i = 0; i < mof_tensor_numel(t); i++)
        z += ((const float *)mof_tensor_data(t))[i] == 0.0f;
    return z;
}

START_TEST(magnitude_layer_scope_is_the_exact_mask)
{
    struct fixture f;
    fixture_init(&f);
    mixed_model(&f);
    snapshot(&f);
    ck_assert_int_eq(run(&f, "prune-magnitude(sparsity=0.5)"), MOF_OK);
    static const char *const names[] = { "W1", "W2", "conv.w" };
    for (size_t i = 0; i < 3; i++) {
        expect_smallest_zeroed(&f, 1, &names[i], 0.5);
        const mof_tensor *t = tensor_of(f.model, names[i]);
        ck_assert_int_eq(count_zeros(t), mof_tensor_numel(t) / 2);
        ck_assert_msg(mof_tensor_equal(t, tensor_of(f.before, names[i])),
                      "%s is not the expected mask", names[i]);
    }
    check_equivalent(&f, 1e-6);
    ck_assert_int_eq(stat_of(&f, "weights"), 48 + 24 + 72);
    ck_assert_int_eq(stat_of(&f, "weights-zeroed"), 24 + 12 + 36);
    ck_assert_int_eq(stat_of(&f, "nonzero-params-before") - stat_of(&f, "nonzero-params-after"),
                     72);
    ck_assert_int_eq(stat_of(&f, "params-before"), stat_of(&f, "params-after"));
    /* FLOPs: MatMul 2*2*8*6, Gemm 2*2*6*4, Conv 2*(4*5*5)*(2*3*3); nonzero: half. */
    int64_t flops = 2 * 2 * 8 * 6 + 2 * 2 * 6 * 4 + 2 * 100 * 18;
    ck_assert_int_eq(stat_of(&f, "flops-before"), flops);
    ck_assert_int_eq(stat_of(&f, "flops-after"), flops);
    ck_assert_int_eq(stat_of(&f, "nonzero-flops-after"), flops / 2);
    assert_diag(&f, "zeroed 72 of 144 weights in 3 layers (layer scope), sparsity 0.0% -> 50.0%");
    fixture_free(&f);
}
END_TEST

START_TEST(magnitude_global_scope_shares_one_threshold)
{
    struct fixture f;
    fixture_init(&f);
    mixed_model(&f);
    snapshot(&f);
    ck_assert_int_eq(run(&f, "prune-magnitude(sparsity=0.3,scope=global)"), MOF_OK);
    static const char *const names[] = { "W1", "W2", "conv.w" };
    expect_smallest_zeroed(&f, 3, names, 0.3);
    int64_t zeros = 0;
    for (size_t i = 0; i < 3; i++) {
        zeros += count_zeros(tensor_of(f.model, names[i]));
        ck_assert(mof_tensor_equal(tensor_of(f.model, names[i]), tensor_of(f.before, names[i])));
    }
    ck_assert_int_eq(zeros, 43); /* round(0.3 * 144) */
    /* W2's weights are ten times smaller: global scope takes all of them first. */
    ck_assert_int_eq(count_zeros(tensor_of(f.model, "W2")), 24);
    check_equivalent(&f, 1e-6);
    fixture_free(&f);
}
END_TEST

START_TEST(magnitude_zero_sparsity_is_a_no_op)
{
    struct fixture f;
    fixture_init(&f);
    mixed_model(&f);
    const mof_tensor *w1 = tensor_of(f.model, "W1");
    ck_assert_int_eq(run(&f, "prune-magnitude(sparsity=0,scope=global),prune-magnitude(sparsity=0),"
                             "prune-nm(n=4,m=4),prune-channels(ratio=0)"),
                     MOF_UNCHANGED);
    for (size_t i = 0; i < mof_run_report_n_steps(f.report); i++)
        ck_assert_int_eq(mof_run_report_step(f.report, i)->status, MOF_UNCHANGED);
    ck_assert_ptr_eq(tensor_of(f.model, "W1"), w1);
    fixture_free(&f);
}
END_TEST

START_TEST(magnitude_selects_layers)
{
    struct fixture f;
    fixture_init(&f);
    mixed_model(&f);
    /* A second MatMul shares W1 (pruned once); a third weight is also read by an Add. */
    mof_value *x = mof_graph_find_value(f.g, "X");
    mof_node *mm2 = node(&f, "MatMul", "mm2", 2, x, mof_graph_find_value(f.g, "W1"));
    output(&f, out(mm2), 2, (const int64_t[]){ 2, 6 });
    mof_value *w5 = init_random(&f, "W5", 2, (const int64_t[]){ 8, 8 }, -1, 1);
    mof_node *mm5 = node(&f, "MatMul", "mm5", 2, x, w5);
    mof_node *add = node(&f, "Add", "add5", 2, out(mm5), w5);
    output(&f, out(add), 2, (const int64_t[]){ 8, 8 });
    snapshot(&f);
    ck_assert_int_eq(run(&f, "prune-magnitude(sparsity=0.5,op-types=MatMul,"
                             "exclude-nodes='gemm conv')"),
                     MOF_OK);
    ck_assert(mof_tensor_equal(tensor_of(f.model, "W2"), tensor_of(f.before, "W2")));
    ck_assert(mof_tensor_equal(tensor_of(f.model, "conv.w"), tensor_of(f.before, "conv.w")));
    ck_assert(mof_tensor_equal(tensor_of(f.model, "W5"), tensor_of(f.before, "W5")));
    ck_assert_int_eq(count_zeros(tensor_of(f.model, "W1")), 24);
    ck_assert_int_eq(stat_of(&f, "layers-pruned"), 1);
    ck_assert_int_eq(stat_of(&f, "layers-skipped"), 1);
    assert_diag(&f, "its weight 'W5' is also read by node 'add5' (Add)");

    /* nodes= patterns and min-params. */
    mof_context_clear_diags(f.ctx);
    ck_assert_int_eq(run(&f, "prune-magnitude(sparsity=0.75,nodes='g*',min-params=25)"),
                     MOF_UNCHANGED);
    ck_assert_int_eq(stat_of(&f, "layers-skipped"), 1);
    ck_assert_int_eq(run(&f, "prune-magnitude(sparsity=0.75,nodes='g*')"), MOF_OK);
    ck_assert_int_eq(count_zeros(tensor_of(f.model, "W2")), 18);
    ck_assert_int_eq(count_zeros(tensor_of(f.model, "W1")), 24);
    fixture_free(&f);
}
END_TEST

/* Runs a pass list that must fail; returns whether a diagnostic contains text. */
static void expect_failure(struct fixture *f, const char *passes, const char *text)
{
    mof_pipeline *p = mof_pipeline_parse_list(f->ctx, passes);
    ck_assert_ptr_nonnull(p);
    mof_run_options opts;
    mof_run_options_init(&opts);
    opts.record_metadata = false;
    mof_run_report *rep = NULL;
    mof_context_clear_diags(f->ctx);
    mof_status st = mof_pipeline_run(p, f->model, &opts, &rep);
    mof_pipeline_destroy(p);
    mof_run_report_destroy(rep);
    ck_assert_int_lt(st, 0);
    assert_diag(f, text);
}

START_TEST(selection_errors_name_the_parameter)
{
    struct fixture f;
    fixture_init(&f);
    mixed_model(&f);
    snapshot(&f);
    expect_failure(&f, "prune-magnitude(op-types='Conv Relu')",
                   "parameter 'op-types': 'Relu' is not one of Conv, ConvTranspose, Gemm, MatMul");
    expect_failure(&f, "prune-channels(op-types=Gemm)", "'Gemm' is not one of Conv");
    expect_failure(&f, "prune-nm(nodes='mm nothing*')",
                   "parameter 'nodes': 'nothing*' matches no node of the model");
    expect_failure(&f, "prune-nm(n=3,m=2)", "parameter 'n' = 3 is larger than 'm' = 2");
    /* Nothing changed. */
    ck_assert(mof_tensor_equal(tensor_of(f.model, "W1"), tensor_of(f.before, "W1")));
    fixture_free(&f);
}
END_TEST

/* ------------------------------------------------------------------ prune-nm */

/* Checks that w (from the model after) is before's w with exactly the m - n smallest
 * of every group of m along axis zeroed (ties keep the earlier). */
static void check_nm(const mof_tensor *before, const mof_tensor *after, int axis, int n, int m)
{
    ck_assert_uint_eq(mof_tensor_rank(before), mof_tensor_rank(after));
    const int64_t *d = mof_tensor_dims(before);
    int64_t outer = 1, inner = 1, len = d[axis];
    for (int i = 0; i < axis; i++)
        outer *= d[i];
    for (size_t i = (size_t)axis + 1; i < mof_tensor_rank(before); i++)
        inner *= d[i];
    const float *b = mof_tensor_data(before), *a = mof_tensor_data(after);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t in = 0; in < inner; in++)
            for (int64_t g = 0; g < len; g += m)
                for (int64_t x = g; x < g + m; x++) {
                    int64_t ix = (o * len + x) * inner + in, larger = 0;
                    for (int64_t y = g; y < g + m; y++) {
                        float my = fabsf(b[(o * len + y) * inner + in]), mx = fabsf(b[ix]);
                        larger += my > mx || (my == mx && y < x);
                    }
                    float want = larger < n ? b[ix] : 0.0f;
                    ck_assert_msg(a[ix] == want, "element %lld: %g, expected %g",
                                  (long long)ix, (double)a[ix], (double)want);
                }
}

START_TEST(nm_groups_along_the_reduction_axis)
{
    struct fixture f;
    fixture_init(&f);
    /* Conv W [8, 8, 3, 3]: groups along axis 1; its first Conv has 3 input channels. */
    mof_value *x = input(&f, "X", 4, (const int64_t[]){ 1, 3, 5, 5 });
    mof_node *c1 = conv(&f, "c1", x, 8, 3, 3, true);
    mof_node *c2 = conv(&f, "c2", out(c1), 8, 8, 3, true);
    mof_node *gap = node(&f, "GlobalAveragePool", "gap", 1, out(c2));
    mof_node *fl = node(&f, "Flatten", "fl", 1, out(gap));
    mof_value *wg = init_random(&f, "Wg", 2, (const int64_t[]){ 5, 8 }, -1, 1); /* transB */
    mof_value *pad = init_random(&f, "Wpad", 2, (const int64_t[]){ 8, 2 }, -1, 1);
    mof_node *mm = node(&f, "MatMul", "mm", 2, out(fl), pad); /* K = 8 */
    mof_value *wm = init_random(&f, "Wm", 2, (const int64_t[]){ 2, 8 }, -1, 1);
    mof_node *mm2 = node(&f, "MatMul", "mm2", 2, out(mm), wm);
    mof_node *gemm = node(&f, "Gemm", "gemm", 2, out(mm2), wg);
    ck_assert_int_eq(mof_node_set_attr_int(gemm, "transB", 1), MOF_OK);
    output(&f, out(gemm), 2, (const int64_t[]){ 1, 5 });
    snapshot(&f);
    ck_assert_int_eq(run(&f, "prune-nm"), MOF_OK);
    check_nm(tensor_of(f.before, "c2.w"), tensor_of(f.model, "c2.w"), 1, 2, 4);
    check_nm(tensor_of(f.before, "Wg"), tensor_of(f.model, "Wg"), 1, 2, 4);
    check_nm(tensor_of(f.before, "Wpad"), tensor_of(f.model, "Wpad"), 0, 2, 4);
    /* c1 (3 input channels) and mm2 (K = 2) cannot be grouped by 4. */
    ck_assert(mof_tensor_equal(tensor_of(f.model, "c1.w"), tensor_of(f.before, "c1.w")));
    ck_assert(mof_tensor_equal(tensor_of(f.model, "Wm"), tensor_of(f.before, "Wm")));
    assert_diag(&f, "not pruned: weight 'c1.w' has 3 elements along its reduction axis 1, not "
                    "a multiple of m=4");
    ck_assert_int_eq(stat_of(&f, "layers-skipped"), 2);
    ck_assert_int_eq(stat_of(&f, "weights-zeroed"), (8 * 8 * 9 + 40 + 16) / 2);
    /* The expected model: before with the pruned tensors. */
    set_expected(&f, "c2.w", mof_tensor_dup(tensor_of(f.model, "c2.w")));
    set_expected(&f, "Wg", mof_tensor_dup(tensor_of(f.model, "Wg")));
    set_expected(&f, "Wpad", mof_tensor_dup(tensor_of(f.model, "Wpad")));
    check_equivalent(&f, 1e-6);

    /* 1:8 on what is left: c2 only has groups of 8 along C. */
    ck_assert_int_eq(run(&f, "prune-nm(n=1,m=8,op-types=Conv)"), MOF_OK);
    const mof_tensor *w = tensor_of(f.model, "c2.w");
    for (int64_t k = 0; k < 8 * 9; k++) {
        int64_t kk = k / 9, rs = k % 9, nz = 0;
        for (int64_t c = 0; c < 8; c++)
            nz += ((const float *)mof_tensor_data(w))[(kk * 8 + c) * 9 + rs] != 0.0f;
        ck_assert_int_le(nz, 1);
    }
    fixture_free(&f);
}
END_TEST

/* ------------------------------------------------------------------ prune-channels */

/* Which of the s channels a group drops: floor(ratio * s) of smallest summed score
 * (ties: the later channel first), the kept count rounded up to round_to. */
static void expected_drop(const double *score, int64_t s, double ratio, int64_t round_to,
                          bool *drop)
{
    int64_t keep = s - (int64_t)floor(ratio * (double)s + 1e-9);
    keep = (keep + round_to - 1) / round_to * round_to;
    if (keep > s)
        keep = s;
    for (int64_t c = 0; c < s; c++)
        drop[c] = false;
    for (int64_t r = 0; r < s - keep; r++) {
        int64_t best = -1;
        for (int64_t c = 0; c < s; c++)
            if (!drop[c] && (best < 0 || score[c] < score[best] ||
                             (score[c] == score[best] && c > best)))
                best = c;
        drop[best] = true;
    }
}

/* Adds the l1 (or l2) norms of the filters of initializer `name` (of f->before) to
 * score. */
static void add_norms(const struct fixture *f, const char *name, bool l2, double *score)
{
    const mof_tensor *t = tensor_of(f->before, name);
    int64_t k = mof_tensor_dims(t)[0], per = mof_tensor_numel(t) / k;
    const float *d = mof_tensor_data(t);
    for (int64_t c = 0; c < k; c++) {
        double s = 0;
        for (int64_t j = 0; j < per; j++)
            s += l2 ? (double)d[c * per + j] * d[c * per + j] : fabs((double)d[c * per + j]);
        score[c] += l2 ? sqrt(s) : s;
    }
}

static int64_t count_true(const bool *b, int64_t n)
{
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++)
        k += b[i];
    return k;
}

/* The digits CNN's shape: conv-bn-relu, conv-bn-relu, maxpool, a residual block
 * (conv-bn-relu-conv-bn + the block input), relu, conv-relu, gap, flatten, gemm. */
static void residual_cnn(struct fixture *f)
{
    mof_value *x = input(f, "X", 4, (const int64_t[]){ 1, 3, 8, 8 });
    mof_node *c1 = conv(f, "c1", x, 8, 3, 3, true);
    mof_node *r1 = node(f, "Relu", "r1", 1, out(bn(f, "bn1", out(c1), 8)));
    mof_node *c2 = conv(f, "c2", out(r1), 8, 8, 3, true);
    mof_node *r2 = node(f, "Relu", "r2", 1, out(bn(f, "bn2", out(c2), 8)));
    mof_node *mp = node(f, "MaxPool", "mp", 1, out(r2));
    ck_assert_int_eq(mof_node_set_attr_ints(mp, "kernel_shape", 2, (const int64_t[]){ 2, 2 }),
                     MOF_OK);
    ck_assert_int_eq(mof_node_set_attr_ints(mp, "strides", 2, (const int64_t[]){ 2, 2 }),
                     MOF_OK);
    mof_node *ca = conv(f, "ca", out(mp), 8, 8, 3, false);
    mof_node *ra = node(f, "Relu", "ra", 1, out(bn(f, "bna", out(ca), 8)));
    mof_node *cb = conv(f, "cb", out(ra), 8, 8, 3, false);
    mof_node *add = node(f, "Add", "add", 2, out(mp), out(bn(f, "bnb", out(cb), 8)));
    mof_node *rr = node(f, "Relu", "rr", 1, out(add));
    mof_node *c3 = conv(f, "c3", out(rr), 12, 8, 3, true);
    mof_node *r3 = node(f, "Relu", "r3", 1, out(c3));
    mof_node *gap = node(f, "GlobalAveragePool", "gap", 1, out(r3));
    mof_node *fl = node(f, "Flatten", "fl", 1, out(gap));
    mof_value *fc = init_random(f, "fc", 2, (const int64_t[]){ 5, 12 }, -1, 1);
    mof_value *fcb = init_random(f, "fcb", 1, (const int64_t[]){ 5 }, -1, 1);
    mof_node *gemm = node(f, "Gemm", "gemm", 3, out(fl), fc, fcb);
    ck_assert_int_eq(mof_node_set_attr_int(gemm, "transB", 1), MOF_OK);
    output(f, out(gemm), 2, (const int64_t[]){ 1, 5 });
}

static void check_residual_cnn(double ratio, int64_t round_to, bool l2)
{
    struct fixture f;
    fixture_init(&f);
    residual_cnn(&f);
    snapshot(&f);
    char passes[128];
    snprintf(passes, sizeof passes,
             "prune-channels(ratio=%g,round-to=%lld,criterion=%s,compensate=false)", ratio,
             (long long)round_to, l2 ? "l2" : "l1");
    ck_assert_int_eq(run(&f, passes), MOF_OK);

    /* The groups: {c1}, {c2, cb} (tied by the Add), {ca}, {c3}. */
    double s1[8] = { 0 }, s2[8] = { 0 }, sa[8] = { 0 }, s3[12] = { 0 };
    bool d1[8], d2[8], da[8], d3[12];
    add_norms(&f, "c1.w", l2, s1);
    add_norms(&f, "c2.w", l2, s2);
    add_norms(&f, "cb.w", l2, s2);
    add_norms(&f, "ca.w", l2, sa);
    add_norms(&f, "c3.w", l2, s3);
    expected_drop(s1, 8, ratio, round_to, d1);
    expected_drop(s2, 8, ratio, round_to, d2);
    expected_drop(sa, 8, ratio, round_to, da);
    expected_drop(s3, 12, ratio, round_to, d3);
    int64_t k1 = 8 - count_true(d1, 8), k2 = 8 - count_true(d2, 8);
    int64_t ka = 8 - count_true(da, 8), k3 = 12 - count_true(d3, 12);

    /* The physical shapes. */
    assert_dims(input_tensor(f.model, "c1", 1), 4, (const int64_t[]){ k1, 3, 3, 3 });
    assert_dims(input_tensor(f.model, "c1", 2), 1, (const int64_t[]){ k1 });
    assert_dims(input_tensor(f.model, "bn1", 4), 1, (const int64_t[]){ k1 });
    assert_dims(input_tensor(f.model, "c2", 1), 4, (const int64_t[]){ k2, k1, 3, 3 });
    assert_dims(input_tensor(f.model, "bn2", 1), 1, (const int64_t[]){ k2 });
    assert_dims(input_tensor(f.model, "ca", 1), 4, (const int64_t[]){ ka, k2, 3, 3 });
    assert_dims(input_tensor(f.model, "cb", 1), 4, (const int64_t[]){ k2, ka, 3, 3 });
    assert_dims(input_tensor(f.model, "bnb", 2), 1, (const int64_t[]){ k2 });
    assert_dims(input_tensor(f.model, "c3", 1), 4, (const int64_t[]){ k3, k2, 3, 3 });
    assert_dims(input_tensor(f.model, "gemm", 1), 2, (const int64_t[]){ 5, k3 });
    ck_assert_int_eq(stat_of(&f, "channels-removed"),
                     (8 - k1) + 2 * (8 - k2) + (8 - ka) + (12 - k3));

    /* The kept filters are the input's, unchanged. */
    const float *w1a = mof_tensor_data(tensor_of(f.before, "c1.w"));
    const float *w1b = mof_tensor_data(input_tensor(f.model, "c1", 1));
    for (int64_t c = 0, kept = 0; c < 8; c++)
        if (!d1[c]) {
            ck_assert(memcmp(w1a + c * 27, w1b + kept * 27, 27 * sizeof(float)) == 0);
            kept++;
        }

    /* The function: the input model with every weight that reads a removed channel
     * zeroed. */
    zero_slices(&f, "c2.w", 1, 0, 1, 8, d1);
    zero_slices(&f, "ca.w", 1, 0, 1, 8, d2);
    zero_slices(&f, "c3.w", 1, 0, 1, 8, d2);
    zero_slices(&f, "cb.w", 1, 0, 1, 8, da);
    zero_slices(&f, "fc", 1, 0, 1, 12, d3);
    check_equivalent(&f, 1e-5);
    fixture_free(&f);
}

START_TEST(channels_residual_cnn_equals_zeroed_readers)
{
    check_residual_cnn(0.5, 1, false);
}
END_TEST

START_TEST(channels_l2_and_round_to)
{
    check_residual_cnn(0.3, 1, true);
    check_residual_cnn(0.7, 4, false); /* keep 3 of 8 -> 4; 4 of 12 -> 4 */
}
END_TEST

START_TEST(channels_reports_params_and_flops)
{
    struct fixture f;
    fixture_init(&f);
    residual_cnn(&f);
    ck_assert_int_eq(run(&f, "prune-channels(ratio=0.5)"), MOF_OK);
    /* FLOPs of the Convs and the Gemm: 2 * numel(Y) * C * 9, 2 * 12 * 5. */
    int64_t before = 2 * (8 * 64 * 3 * 9 + 8 * 64 * 8 * 9 + 2 * (8 * 16 * 8 * 9) +
                          12 * 16 * 8 * 9 + 12 * 5);
    int64_t after = 2 * (4 * 64 * 3 * 9 + 4 * 64 * 4 * 9 + 2 * (4 * 16 * 4 * 9) +
                         6 * 16 * 4 * 9 + 6 * 5);
    ck_assert_int_eq(stat_of(&f, "flops-before"), before);
    ck_assert_int_eq(stat_of(&f, "flops-after"), after);
    mof_model_stats st;
    mof_model_get_stats(f.model, &st);
    ck_assert_int_eq(stat_of(&f, "params-after"), st.n_parameters);
    ck_assert_int_lt(stat_of(&f, "params-after"), stat_of(&f, "params-before"));
    ck_assert_int_eq(stat_of(&f, "bytes-after"), st.parameter_bytes);
    assert_diag(&f, "removed 22 of 44 output channels of 5 Convs (ratio 0.50, criterion l1, "
                    "compensated with data-free values; 4 channel groups pruned, 0 kept whole)");
    /* The saved model reloads and still verifies. */
    reload(&f);
    ck_assert_status(f.ctx, mof_graph_verify(f.ctx, f.g), MOF_OK);
    fixture_free(&f);
}
END_TEST

START_TEST(channels_depthwise_concat_and_flatten_rows)
{
    struct fixture f;
    fixture_init(&f);
    mof_value *x = input(&f, "X", 4, (const int64_t[]){ 1, 4, 6, 6 });
    mof_node *ca = conv(&f, "ca", x, 6, 4, 1, false);
    mof_node *r = node(&f, "Relu", "r", 1, out(ca));
    mof_node *dw = conv(&f, "dw", out(r), 6, 1, 3, true);
    ck_assert_int_eq(mof_node_set_attr_int(dw, "group", 6), MOF_OK);
    mof_node *cb = conv(&f, "cb", x, 4, 4, 1, true);
    mof_node *cat = node(&f, "Concat", "cat", 2, out(dw), out(cb));
    ck_assert_int_eq(mof_node_set_attr_int(cat, "axis", 1), MOF_OK);
    mof_value *sc = init_random(&f, "scale", 4, (const int64_t[]){ 1, 10, 1, 1 }, 0.5f, 2);
    mof_node *mul = node(&f, "Mul", "mul", 2, sc, out(cat));
    mof_node *cc = conv(&f, "cc", out(mul), 3, 10, 1, false);
    output(&f, out(cc), 4, (const int64_t[]){ 1, 3, 6, 6 });
    mof_node *fl = node(&f, "Flatten", "fl", 1, out(cb));
    mof_value *wm = init_random(&f, "wm", 2, (const int64_t[]){ 144, 5 }, -1, 1);
    mof_node *mm = node(&f, "MatMul", "mm", 2, out(fl), wm);
    output(&f, out(mm), 2, (const int64_t[]){ 1, 5 });
    /* Declared types inside the model change with the channels. */
    ck_assert_int_eq(mof_value_set_type(out(cat), MOF_DTYPE_FLOAT, 4,
                                        (const int64_t[]){ 1, 10, 6, 6 }, NULL), MOF_OK);
    ck_assert_int_eq(mof_value_set_type(out(fl), MOF_DTYPE_FLOAT, 2,
                                        (const int64_t[]){ 1, 144 }, NULL), MOF_OK);
    snapshot(&f);
    ck_assert_int_eq(run(&f, "prune-channels(ratio=0.5,compensate=false)"), MOF_OK);
    assert_diag(&f, "output channels not pruned: its channels reach the graph output");

    double sa[6] = { 0 }, sb[4] = { 0 };
    bool da[6], db[4];
    add_norms(&f, "ca.w", false, sa);
    add_norms(&f, "cb.w", false, sb);
    expected_drop(sa, 6, 0.5, 1, da);
    expected_drop(sb, 4, 0.5, 1, db);
    const mof_node *dwn = find_node(f.g, "dw");
    ck_assert_int_eq(mof_node_attr_int(dwn, "group", 0), 3);
    assert_dims(input_tensor(f.model, "dw", 1), 4, (const int64_t[]){ 3, 1, 3, 3 });
    assert_dims(input_tensor(f.model, "dw", 2), 1, (const int64_t[]){ 3 });
    assert_dims(input_tensor(f.model, "mul", 0), 4, (const int64_t[]){ 1, 5, 1, 1 });
    assert_dims(input_tensor(f.model, "cc", 1), 4, (const int64_t[]){ 3, 5, 1, 1 });
    assert_dims(input_tensor(f.model, "mm", 1), 2, (const int64_t[]){ 72, 5 });
    ck_assert_int_eq(mof_value_dim(mof_graph_find_value(f.g, "cat"), 1), 5);
    ck_assert_int_eq(mof_value_dim(mof_graph_find_value(f.g, "fl"), 1), 72);

    zero_slices(&f, "cc.w", 1, 0, 1, 6, da);
    zero_slices(&f, "cc.w", 1, 6, 1, 4, db);
    zero_slices(&f, "wm", 0, 0, 36, 4, db);
    check_equivalent(&f, 1e-5);
    fixture_free(&f);
}
END_TEST

START_TEST(channels_blocked_by_unknown_readers)
{
    struct fixture f;
    fixture_init(&f);
    mof_value *x = input(&f, "X", 4, (const int64_t[]){ 1, 4, 4, 4 });
    /* c1 -> Reshape to 3D; c2 -> grouped Conv (group 2); c3 -> Add with a graph input. */
    mof_node *c1 = conv(&f, "c1", x, 4, 4, 1, false);
    int64_t sd = 3;
    mof_tensor *shape = mof_tensor_create_from(MOF_DTYPE_INT64, 1, &sd,
                                               (const int64_t[]){ 1, 4, 16 });
    mof_value *sv = mof_graph_add_initializer(f.g, "shape", shape);
    mof_node *rs = node(&f, "Reshape", "rs", 2, out(c1), sv);
    output(&f, out(rs), 3, (const int64_t[]){ 1, 4, 16 });
    mof_node *c2 = conv(&f, "c2", x, 4, 4, 1, false);
    mof_node *g2 = conv(&f, "g2", out(c2), 4, 2, 1, false);
    ck_assert_int_eq(mof_node_set_attr_int(g2, "group", 2), MOF_OK);
    mof_node *c4 = conv(&f, "c4", out(g2), 2, 4, 1, false);
    output(&f, out(c4), 4, (const int64_t[]){ 1, 2, 4, 4 });
    mof_node *c3 = conv(&f, "c3", x, 4, 4, 1, false);
    mof_node *add = node(&f, "Add", "add", 2, out(c3), x);
    mof_node *c5 = conv(&f, "c5", out(add), 2, 4, 1, false);
    output(&f, out(c5), 4, (const int64_t[]){ 1, 2, 4, 4 });
    snapshot(&f);
    ck_assert_int_eq(run(&f, "prune-channels(ratio=0.5,nodes='c1 c2 c3')"), MOF_UNCHANGED);
    assert_diag(&f, "node 'c1' (Conv): output channels not pruned: node 'rs' (Reshape) reads "
                    "its channels: not a flatten to [N, C*H*W]");
    assert_diag(&f, "node 'c2' (Conv): output channels not pruned: node 'g2' (Conv) reads its "
                    "channels: a grouped Conv (group 2) that is not depthwise");
    assert_diag(&f, "node 'c3' (Conv): output channels not pruned: node 'add' (Add) reads its "
                    "channels: its operand 'X' is not a constant that broadcasts per channel");
    ck_assert_int_eq(stat_of(&f, "groups-kept"), 3);
    ck_assert(mof_tensor_equal(tensor_of(f.model, "c1.w"), tensor_of(f.before, "c1.w")));
    fixture_free(&f);
}
END_TEST

START_TEST(channels_fused_conv_and_shared_weight)
{
    struct fixture f;
    fixture_init(&f);
    ck_assert_int_eq(mof_model_set_opset(f.model, MOF_FUSED_DOMAIN, MOF_FUSED_OPSET), MOF_OK);
    mof_value *x = input(&f, "X", 4, (const int64_t[]){ 1, 2, 4, 4 });
    mof_value *w = init_random(&f, "w", 4, (const int64_t[]){ 4, 2, 1, 1 }, -1, 1);
    mof_value *in[2] = { x, w };
    mof_node *fc = mof_graph_add_node(f.g, MOF_INSERT_AFTER, NULL, "FusedConv", MOF_FUSED_DOMAIN,
                                      "fc", 2, in, 1);
    ck_assert_ptr_nonnull(fc);
    ck_assert_int_eq(mof_node_set_attr_string(fc, "activation", "Relu"), MOF_OK);
    /* A second Conv reads the same consumer weight: it gets its own sliced copy. */
    mof_value *w2 = init_random(&f, "w2", 4, (const int64_t[]){ 3, 4, 1, 1 }, -1, 1);
    mof_node *n1 = node(&f, "Conv", "n1", 2, out(fc), w2);
    mof_node *m = node(&f, "Conv", "m", 2, x, init_random(&f, "wx", 4,
                                                           (const int64_t[]){ 4, 2, 1, 1 }, -1, 1));
    mof_node *n2 = node(&f, "Conv", "n2", 2, out(m), w2);
    output(&f, out(n1), 4, (const int64_t[]){ 1, 3, 4, 4 });
    output(&f, out(n2), 4, (const int64_t[]){ 1, 3, 4, 4 });
    snapshot(&f);
    ck_assert_int_eq(run(&f, "prune-channels(ratio=0.5,exclude-nodes=m,compensate=false)"),
                     MOF_OK);
    double s[4] = { 0 };
    bool d[4];
    add_norms(&f, "w", false, s);
    expected_drop(s, 4, 0.5, 1, d);
    assert_dims(input_tensor(f.model, "fc", 1), 4, (const int64_t[]){ 2, 2, 1, 1 });
    assert_dims(input_tensor(f.model, "n1", 1), 4, (const int64_t[]){ 3, 2, 1, 1 });
    assert_dims(input_tensor(f.model, "n2", 1), 4, (const int64_t[]){ 3, 4, 1, 1 });
    ck_assert(mof_tensor_equal(input_tensor(f.model, "n2", 1), tensor_of(f.before, "w2")));
    /* Expected: n1 reads a zeroed copy of w2; n2 the original. */
    mof_tensor *t = mof_tensor_dup(tensor_of(f.before, "w2"));
    mof_value *copy = mof_graph_add_initializer(mof_model_graph(f.before), "w2_z", t);
    ck_assert_ptr_nonnull(copy);
    ck_assert_int_eq(mof_node_set_input(find_node(mof_model_graph(f.before), "n1"), 1, copy),
                     MOF_OK);
    zero_slices(&f, "w2_z", 1, 0, 1, 4, d);
    check_equivalent(&f, 1e-5);
    fixture_free(&f);
}
END_TEST

/* ------------------------------------------------------------------ compensation */

/* Per-channel statistics of values of model m over the input sets ins[0..n_sets):
 * each value becomes an extra graph output of a copy; mean[v][c] and var[v][c] over
 * every sample and position (a [N, C*unit] value: channel c is unit columns). */
static void channel_stats(struct fixture *f, const mof_model *m, size_t n_vals,
                          const char *const *names, const int64_t *units, size_t n_sets,
                          mof_tensor **ins, double **mean, double **var)
{
    mof_model *copy = mof_model_dup(m);
    ck_assert_ptr_nonnull(copy);
    mof_graph *g = mof_model_graph(copy);
    size_t base = mof_graph_n_outputs(g);
    for (size_t v = 0; v < n_vals; v++) {
        mof_value *val = mof_graph_find_value(g, names[v]);
        ck_assert_msg(val != NULL, "no value '%s'", names[v]);
        ck_assert_int_eq(mof_graph_add_output(g, val), MOF_OK);
    }
    size_t n_out = mof_graph_n_outputs(g);
    mof_interp *it = mof_interp_create(f->ctx, copy);
    ck_assert_ptr_nonnull(it);
    double *sum[8] = { 0 }, *sq[8] = { 0 }, count[8] = { 0 };
    int64_t chans[8] = { 0 };
    ck_assert_uint_le(n_vals, 8);
    for (size_t k = 0; k < n_sets; k++) {
        mof_tensor *outs[16] = { 0 };
        ck_assert_uint_le(n_out, 16);
        ck_assert_status(f->ctx, mof_interp_run(it, 1, &ins[k], n_out, outs), MOF_OK);
        for (size_t v = 0; v < n_vals; v++) {
            const mof_tensor *t = outs[base + v];
            int64_t n = mof_tensor_dims(t)[0], c = mof_tensor_dims(t)[1] / units[v];
            int64_t inner = mof_tensor_numel(t) / (n * c);
            if (!sum[v]) {
                chans[v] = c;
                sum[v] = calloc((size_t)c, sizeof(double));
                sq[v] = calloc((size_t)c, sizeof(double));
            }
            const float *d = mof_tensor_data(t);
            for (int64_t o = 0; o < n; o++)
                for (int64_t ch = 0; ch < c; ch++)
                    for (int64_t i = 0; i < inner; i++) {
                        double x = d[(o * c + ch) * inner + i];
                        sum[v][ch] += x;
                        sq[v][ch] += x * x;
                    }
            count[v] += (double)(n * inner);
        }
        for (size_t i = 0; i < n_out; i++)
            mof_tensor_unref(outs[i]);
    }
    for (size_t v = 0; v < n_vals; v++) {
        mean[v] = malloc((size_t)chans[v] * sizeof(double));
        var[v] = malloc((size_t)chans[v] * sizeof(double));
        for (int64_t ch = 0; ch < chans[v]; ch++) {
            mean[v][ch] = sum[v][ch] / count[v];
            var[v][ch] = sq[v][ch] / count[v] - mean[v][ch] * mean[v][ch];
        }
        free(sum[v]);
        free(sq[v]);
    }
    mof_interp_destroy(it);
    mof_model_destroy(copy);
}

/* In the expected model f->before, replaces what node `reader` reads as input 0 (C
 * channels of `unit` columns; rank 4, or 2 when flattened) by: the kept channels as
 * they are, each dropped channel c by the constant m[c]. A Conv reader with pads 1
 * gets that constant in its padding too: Mul(mask) -> Pad(0) -> Add(M) -> Conv(pads 0),
 * which is what a bias carrying all kernel taps computes. */
static void replace_read(struct fixture *f, const char *reader, int rank, int64_t c,
                         int64_t unit, const bool *drop, const double *m, bool padded)
{
    mof_graph *g = mof_model_graph(f->before);
    mof_node *r = find_node(g, reader);
    ck_assert_ptr_nonnull(r);
    int64_t dims[4] = { 1, c * unit, 1, 1 };
    mof_tensor *mask = mof_tensor_create(MOF_DTYPE_FLOAT, (size_t)rank, dims);
    mof_tensor *konst = mof_tensor_create(MOF_DTYPE_FLOAT, (size_t)rank, dims);
    float *dm = mof_tensor_data_mut(mask), *dk = mof_tensor_data_mut(konst);
    for (int64_t ch = 0; ch < c; ch++)
        for (int64_t u = 0; u < unit; u++) {
            dm[ch * unit + u] = drop[ch] ? 0.0f : 1.0f;
            dk[ch * unit + u] = drop[ch] ? (float)m[ch] : 0.0f;
        }
    char name[64];
    snprintf(name, sizeof name, "%s.mask", reader);
    mof_value *ins[2] = { mof_node_input(r, 0), mof_graph_add_initializer(g, name, mask) };
    snprintf(name, sizeof name, "%s.keep", reader);
    mof_node *mul = mof_graph_add_node(g, MOF_INSERT_BEFORE, r, "Mul", NULL, name, 2, ins, 1);
    ck_assert_ptr_nonnull(mul);
    mof_value *x = mof_node_output(mul, 0);
    if (padded) {
        int64_t np = 8;
        mof_tensor *pads = mof_tensor_create_from(MOF_DTYPE_INT64, 1, &np,
                                                  (const int64_t[]){ 0, 0, 1, 1, 0, 0, 1, 1 });
        snprintf(name, sizeof name, "%s.pads", reader);
        mof_value *pin[2] = { x, mof_graph_add_initializer(g, name, pads) };
        snprintf(name, sizeof name, "%s.pad", reader);
        mof_node *pad = mof_graph_add_node(g, MOF_INSERT_BEFORE, r, "Pad", NULL, name, 2, pin, 1);
        ck_assert_ptr_nonnull(pad);
        x = mof_node_output(pad, 0);
        ck_assert_int_eq(mof_node_set_attr_ints(r, "pads", 4, (const int64_t[]){ 0, 0, 0, 0 }),
                         MOF_OK);
    }
    snprintf(name, sizeof name, "%s.const", reader);
    mof_value *ain[2] = { x, mof_graph_add_initializer(g, name, konst) };
    snprintf(name, sizeof name, "%s.fill", reader);
    mof_node *add = mof_graph_add_node(g, MOF_INSERT_BEFORE, r, "Add", NULL, name, 2, ain, 1);
    ck_assert_ptr_nonnull(add);
    ck_assert_int_eq(mof_node_set_input(r, 0, mof_node_output(add, 0)), MOF_OK);
}

/* The values each reader of residual_cnn reads: c2 <- r1, ca <- mp, cb <- ra,
 * c3 <- rr, gemm <- fl. */
static const char *const rc_values[5] = { "r1", "mp", "ra", "rr", "fl" };
static const int64_t rc_units[5] = { 1, 1, 1, 1, 1 };

/* Writes `samples` random inputs X [samples, c, h, w] as dir/X.npy; returns them
 * split into [1, c, h, w] sets (the model's batch) when sets is not NULL. */
static void write_calibration(struct fixture *f, const char *dir, int64_t samples, int64_t c,
                              int64_t h, int64_t w, mof_tensor **sets)
{
    int64_t dims[4] = { samples, c, h, w }, per = c * h * w;
    mof_tensor *all = mof_tensor_create(MOF_DTYPE_FLOAT, 4, dims);
    float *d = mof_tensor_data_mut(all);
    for (int64_t i = 0; i < mof_tensor_numel(all); i++)
        d[i] = passtest_rng_float(&f->rng, -1.0f, 1.0f);
    char path[512];
    snprintf(path, sizeof path, "%s/X.npy", dir);
    ck_assert_status(f->ctx, mof_tensor_save(f->ctx, all, NULL, path), MOF_OK);
    for (int64_t k = 0; sets && k < samples; k++) {
        sets[k] = mof_tensor_create(MOF_DTYPE_FLOAT, 4, (const int64_t[]){ 1, c, h, w });
        memcpy(mof_tensor_data_mut(sets[k]), d + k * per, (size_t)per * sizeof(float));
    }
    mof_tensor_unref(all);
}

static void remove_calibration(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/X.npy", dir);
    ck_assert_int_eq(remove(path), 0);
    ck_assert_int_eq(remove(dir), 0);
}

/* prune-channels with compensation on residual_cnn: the pruned model equals the input
 * model with, at every reader, each removed channel replaced by its constant: the
 * data-free one (the value when every Conv's input is zero: computed here by running
 * the input model with all Conv weights zeroed) or the calibration mean (computed here
 * from the interpreter's values over the same samples). With criterion=activation the
 * channels dropped are those of least summed variance times squared reader weights. */
static void check_compensation(bool calibrated, bool activation)
{
    struct fixture f;
    fixture_init(&f);
    residual_cnn(&f);
    snapshot(&f);
    char dir[] = "/tmp/test_pruning_XXXXXX", passes[256];
    mof_tensor *sets[5] = { 0 };
    size_t n_sets = 1;
    if (calibrated) {
        ck_assert_ptr_nonnull(mkdtemp(dir));
        write_calibration(&f, dir, 5, 3, 8, 8, sets);
        n_sets = 5;
    } else {
        sets[0] = passtest_uniform_input(mof_graph_input(f.g, 0), &f.rng);
    }
    snprintf(passes, sizeof passes, "prune-channels(ratio=0.5%s%s%s%s)",
             calibrated ? ",calibration='" : "", calibrated ? dir : "", calibrated ? "'" : "",
             activation ? ",criterion=activation" : "");
    ck_assert_int_eq(run(&f, passes), MOF_OK);

    /* The constants, and the spreads for the activation criterion. */
    double *mean[5], *var[5];
    mof_model *ref = mof_model_dup(f.before);
    ck_assert_ptr_nonnull(ref);
    if (!calibrated) {
        static const char *const convs[] = { "c1.w", "c2.w", "ca.w", "cb.w", "c3.w" };
        for (size_t i = 0; i < 5; i++) {
            mof_value *w = mof_graph_find_value(mof_model_graph(ref), convs[i]);
            mof_tensor *z = mof_tensor_dup(mof_value_tensor(w));
            memset(mof_tensor_data_mut(z), 0, mof_tensor_nbytes(z));
            ck_assert_int_eq(mof_value_set_tensor(w, z), MOF_OK);
        }
    }
    channel_stats(&f, ref, 5, rc_values, rc_units, n_sets, sets, mean, var);
    mof_model_destroy(ref);
    if (calibrated) {
        ck_assert_int_eq(stat_of(&f, "calibration-samples"), 5);
        assert_diag(&f, "compensated with means over 5 calibration samples");
        remove_calibration(dir);
    } else {
        assert_diag(&f, "compensated with data-free values");
    }

    double s1[8] = { 0 }, s2[8] = { 0 }, sa[8] = { 0 }, s3[12] = { 0 };
    bool d1[8], d2[8], da[8], d3[12];
    if (activation) {
        /* Readers: c2 reads c1's channels; ca and c3 the group {c2, cb}; cb ca's; the
         * Gemm (transB, [5, 12]) c3's. */
        const struct { const char *w; int v; double *score; int64_t k, c; } terms[] = {
            { "c2.w", 0, s1, 8, 8 }, { "ca.w", 1, s2, 8, 8 }, { "c3.w", 3, s2, 12, 8 },
            { "cb.w", 2, sa, 8, 8 }, { "fc", 4, s3, 5, 12 },
        };
        for (size_t t = 0; t < 5; t++) {
            const float *w = mof_tensor_data(tensor_of(f.before, terms[t].w));
            int64_t per = mof_tensor_numel(tensor_of(f.before, terms[t].w)) /
                          (terms[t].k * terms[t].c);
            for (int64_t ch = 0; ch < terms[t].c; ch++) {
                double w2 = 0;
                for (int64_t o = 0; o < terms[t].k; o++)
                    for (int64_t i = 0; i < per; i++) {
                        double x = w[(o * terms[t].c + ch) * per + i];
                        w2 += x * x;
                    }
                terms[t].score[ch] += var[terms[t].v][ch] * w2;
            }
        }
    } else {
        add_norms(&f, "c1.w", false, s1);
        add_norms(&f, "c2.w", false, s2);
        add_norms(&f, "cb.w", false, s2);
        add_norms(&f, "ca.w", false, sa);
        add_norms(&f, "c3.w", false, s3);
    }
    expected_drop(s1, 8, 0.5, 1, d1);
    expected_drop(s2, 8, 0.5, 1, d2);
    expected_drop(sa, 8, 0.5, 1, da);
    expected_drop(s3, 12, 0.5, 1, d3);
    assert_dims(input_tensor(f.model, "c2", 1), 4, (const int64_t[]){ 4, 4, 3, 3 });
    assert_dims(input_tensor(f.model, "gemm", 1), 2, (const int64_t[]){ 5, 6 });
    /* ca and cb had no bias: compensation gave them one. */
    assert_dims(input_tensor(f.model, "ca", 2), 1, (const int64_t[]){ 4 });
    assert_dims(input_tensor(f.model, "cb", 2), 1, (const int64_t[]){ 4 });
    ck_assert_int_eq(stat_of(&f, "reads-compensated"), 4 + 4 + 4 + 4 + 6);
    ck_assert_int_eq(stat_of(&f, "reads-not-compensated"), 0);
    /* The kept filters of c1 are the input's. */
    const float *w1a = mof_tensor_data(tensor_of(f.before, "c1.w"));
    const float *w1b = mof_tensor_data(input_tensor(f.model, "c1", 1));
    for (int64_t c = 0, kept = 0; c < 8; c++)
        if (!d1[c]) {
            ck_assert(memcmp(w1a + c * 27, w1b + kept * 27, 27 * sizeof(float)) == 0);
            kept++;
        }

    replace_read(&f, "c2", 4, 8, 1, d1, mean[0], true);
    replace_read(&f, "ca", 4, 8, 1, d2, mean[1], true);
    replace_read(&f, "cb", 4, 8, 1, da, mean[2], true);
    replace_read(&f, "c3", 4, 8, 1, d2, mean[3], true);
    replace_read(&f, "gemm", 2, 12, 1, d3, mean[4], false);
    check_equivalent_tol(&f, 1e-4, 1e-4);
    for (size_t v = 0; v < 5; v++) {
        free(mean[v]);
        free(var[v]);
    }
    for (size_t k = 0; k < n_sets; k++)
        mof_tensor_unref(sets[k]);
    fixture_free(&f);
}

START_TEST(channels_data_free_compensation)
{
    check_compensation(false, false);
}
END_TEST

START_TEST(channels_calibrated_compensation)
{
    check_compensation(true, false);
}
END_TEST

START_TEST(channels_activation_criterion)
{
    check_compensation(true, true);
}
END_TEST

/* A Reshape to [N, C*H*W] is a Flatten: [0, -1] before a Gemm, [-1, 64] (rewritten to
 * the kept count) before a MatMul, which gets an Add for its compensation. */
START_TEST(channels_reshape_as_flatten)
{
    struct fixture f;
    fixture_init(&f);
    mof_value *x = input(&f, "X", 4, (const int64_t[]){ 1, 2, 4, 4 });
    mof_node *ca = conv(&f, "ca", x, 4, 2, 1, true);
    mof_node *ra = node(&f, "Relu", "ra", 1, out(ca));
    int64_t two = 2;
    mof_value *s0 = mof_graph_add_initializer(
        f.g, "s0", mof_tensor_create_from(MOF_DTYPE_INT64, 1, &two, (const int64_t[]){ 0, -1 }));
    mof_node *rs0 = node(&f, "Reshape", "rs0", 2, out(ra), s0);
    mof_value *wg = init_random(&f, "wg", 2, (const int64_t[]){ 64, 3 }, -1, 1);
    mof_node *gemm = node(&f, "Gemm", "gemm", 2, out(rs0), wg);
    ck_assert_int_eq(mof_node_set_attr_float(gemm, "alpha", 0.5f), MOF_OK);
    output(&f, out(gemm), 2, (const int64_t[]){ 1, 3 });
    mof_node *cb = conv(&f, "cb", x, 4, 2, 1, true);
    mof_node *rb = node(&f, "Relu", "rb", 1, out(cb));
    mof_value *s1 = mof_graph_add_initializer(
        f.g, "s1", mof_tensor_create_from(MOF_DTYPE_INT64, 1, &two, (const int64_t[]){ -1, 64 }));
    mof_node *rs1 = node(&f, "Reshape", "rs1", 2, out(rb), s1);
    mof_value *wm = init_random(&f, "wm", 2, (const int64_t[]){ 64, 3 }, -1, 1);
    mof_node *mm = node(&f, "MatMul", "mm", 2, out(rs1), wm);
    output(&f, out(mm), 2, (const int64_t[]){ 1, 3 });
    snapshot(&f);
    ck_assert_int_eq(run(&f, "prune-channels(ratio=0.5)"), MOF_OK);
    double sa[4] = { 0 }, sb[4] = { 0 };
    bool da[4], db[4];
    add_norms(&f, "ca.w", false, sa);
    add_norms(&f, "cb.w", false, sb);
    expected_drop(sa, 4, 0.5, 1, da);
    expected_drop(sb, 4, 0.5, 1, db);
    assert_dims(input_tensor(f.model, "gemm", 1), 2, (const int64_t[]){ 32, 3 });
    assert_dims(input_tensor(f.model, "gemm", 2), 1, (const int64_t[]){ 3 });
    assert_dims(input_tensor(f.model, "mm", 1), 2, (const int64_t[]){ 32, 3 });
    const int64_t *sh0 = mof_tensor_data(input_tensor(f.model, "rs0", 1));
    const int64_t *sh1 = mof_tensor_data(input_tensor(f.model, "rs1", 1));
    ck_assert(sh0[0] == 0 && sh0[1] == -1);
    ck_assert(sh1[0] == -1 && sh1[1] == 32);
    ck_assert_uint_eq(count_op(f.g, "Add"), 1);
    /* Data-free constants: relu(bias) of each removed channel, in every column. */
    double ma[4], mb[4];
    const float *ba = mof_tensor_data(tensor_of(f.before, "ca.b"));
    const float *bb = mof_tensor_data(tensor_of(f.before, "cb.b"));
    for (int c = 0; c < 4; c++) {
        ma[c] = ba[c] > 0 ? ba[c] : 0;
        mb[c] = bb[c] > 0 ? bb[c] : 0;
    }
    replace_read(&f, "gemm", 2, 4, 16, da, ma, false);
    replace_read(&f, "mm", 2, 4, 16, db, mb, false);
    check_equivalent_tol(&f, 1e-5, 1e-5);
    fixture_free(&f);
}
END_TEST

/* reconstruct=true refits the readers by least squares on the calibration data. When
 * a removed channel is a copy of a kept one (same filter, same bias) the fit is exact:
 * the reader adds the copy's weights to the original's, and the pruned model computes
 * what the input model computes, on any input. Readers: a padded 3x3 Conv, and a
 * MatMul after GlobalAveragePool and Flatten. */
START_TEST(channels_reconstruct_is_exact_for_copies)
{
    struct fixture f;
    fixture_init(&f);
    mof_value *x = input(&f, "X", 4, (const int64_t[]){ 1, 2, 5, 5 });
    mof_node *c1 = conv(&f, "c1", x, 3, 2, 1, true);
    mof_node *r1 = node(&f, "Relu", "r1", 1, out(c1));
    mof_node *c2 = conv(&f, "c2", out(r1), 4, 3, 3, true);
    output(&f, out(c2), 4, (const int64_t[]){ 1, 4, 5, 5 });
    mof_node *c3 = conv(&f, "c3", x, 3, 2, 1, true);
    mof_node *r3 = node(&f, "Relu", "r3", 1, out(c3));
    mof_node *gap = node(&f, "GlobalAveragePool", "gap", 1, out(r3));
    mof_node *fl = node(&f, "Flatten", "fl", 1, out(gap));
    mof_node *mm = node(&f, "MatMul", "mm", 2, out(fl),
                        init_random(&f, "wm", 2, (const int64_t[]){ 3, 2 }, -1, 1));
    output(&f, out(mm), 2, (const int64_t[]){ 1, 2 });
    /* Channel 2 copies channel 0; channel 1's filter is the largest, so l1 ranks
     * channels 0 and 2 lowest, tied, and drops the later one. */
    static const char *const names[2][2] = { { "c1.w", "c1.b" }, { "c3.w", "c3.b" } };
    for (int k = 0; k < 2; k++) {
        mof_tensor *w = mof_tensor_dup(tensor_of(f.model, names[k][0]));
        mof_tensor *b = mof_tensor_dup(tensor_of(f.model, names[k][1]));
        float *dw = mof_tensor_data_mut(w), *db = mof_tensor_data_mut(b);
        dw[2] = 3.0f;
        dw[3] = -3.0f;
        dw[4] = dw[0];
        dw[5] = dw[1];
        db[2] = db[0];
        ck_assert_int_eq(mof_value_set_tensor(mof_graph_find_value(f.g, names[k][0]), w), MOF_OK);
        ck_assert_int_eq(mof_value_set_tensor(mof_graph_find_value(f.g, names[k][1]), b), MOF_OK);
    }
    snapshot(&f);
    char dir[] = "/tmp/test_pruning_XXXXXX", passes[256];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    write_calibration(&f, dir, 8, 2, 5, 5, NULL);
    snprintf(passes, sizeof passes,
             "prune-channels(ratio=0.34,nodes='c1 c3',calibration='%s',reconstruct=true)", dir);
    ck_assert_int_eq(run(&f, passes), MOF_OK);
    remove_calibration(dir);
    ck_assert_int_eq(stat_of(&f, "readers-refitted"), 2);
    assert_diag(&f, "2 readers refitted over 8 calibration samples");
    assert_dims(input_tensor(f.model, "c2", 1), 4, (const int64_t[]){ 4, 2, 3, 3 });
    assert_dims(input_tensor(f.model, "mm", 1), 2, (const int64_t[]){ 2, 2 });
    /* c1 kept its channels 0 and 1. */
    const float *w1 = mof_tensor_data(input_tensor(f.model, "c1", 1));
    ck_assert(w1[2] == 3.0f && w1[3] == -3.0f);
    check_equivalent_tol(&f, 1e-4, 1e-4);
    fixture_free(&f);
}
END_TEST

START_TEST(channels_option_errors)
{
    struct fixture f;
    fixture_init(&f);
    residual_cnn(&f);
    expect_failure(&f, "prune-channels(criterion=activation)",
                   "criterion=activation needs calibration data (calibration=FOLDER)");
    expect_failure(&f, "prune-channels(calibration=/nonexistent/calib)",
                   "parameter 'calibration': '/nonexistent/calib' is not a folder");
    expect_failure(&f, "prune-channels(reconstruct=true)",
                   "reconstruct=true needs calibration data (calibration=FOLDER)");
    expect_failure(&f, "prune-channels(criterion=l2-reader,norm=l2)",
                   "parameter 'norm' is the former spelling of criterion=l1|l2");
    fixture_free(&f);
}
END_TEST

START_TEST(parameters_are_typed)
{
    /* Parameters are checked against the passes' tables before anything runs. */
    struct fixture f;
    fixture_init(&f);
    mof_pipeline *p = mof_pipeline_parse_list(f.ctx, "prune-channels(norm=l3)");
    ck_assert_ptr_null(p);
    assert_diag(&f, "l3");
    fixture_free(&f);
}
END_TEST

static Suite *pruning_suite(void)
{
    Suite *s = suite_create("pruning");
    TCase *tc = tcase_create("magnitude");
    tcase_add_test(tc, magnitude_layer_scope_is_the_exact_mask);
    tcase_add_test(tc, magnitude_global_scope_shares_one_threshold);
    tcase_add_test(tc, magnitude_zero_sparsity_is_a_no_op);
    tcase_add_test(tc, magnitude_selects_layers);
    tcase_add_test(tc, selection_errors_name_the_parameter);
    suite_add_tcase(s, tc);
    tc = tcase_create("nm");
    tcase_add_test(tc, nm_groups_along_the_reduction_axis);
    suite_add_tcase(s, tc);
    tc = tcase_create("channels");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, channels_residual_cnn_equals_zeroed_readers);
    tcase_add_test(tc, channels_l2_and_round_to);
    tcase_add_test(tc, channels_reports_params_and_flops);
    tcase_add_test(tc, channels_depthwise_concat_and_flatten_rows);
    tcase_add_test(tc, channels_blocked_by_unknown_readers);
    tcase_add_test(tc, channels_fused_conv_and_shared_weight);
    tcase_add_test(tc, channels_data_free_compensation);
    tcase_add_test(tc, channels_calibrated_compensation);
    tcase_add_test(tc, channels_activation_criterion);
    tcase_add_test(tc, channels_reshape_as_flatten);
    tcase_add_test(tc, channels_reconstruct_is_exact_for_copies);
    tcase_add_test(tc, channels_option_errors);
    tcase_add_test(tc, parameters_are_typed);
    suite_add_tcase(s, tc);
    return s;
}

MOF_TEST_MAIN(pruning_suite)
