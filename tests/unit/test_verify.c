/* test_verify.c: numeric verification (mof/verify.h) and the pass manager's checks.
 *
 * Random inputs: the same values for the same seed (and the values a reference
 * implementation of xoshiro256** gives), different ones for another seed, the ranges
 * of each type, errors that name an unpinned dim, the pins. Input folders: ONNX test
 * data and NAME.npy files, a missing and a doubled input. Comparisons on hand-made
 * tensors: max abs and rel errors, cosine, top-1, NaN, type mismatches, several input
 * sets, the summary and the JSON. Models: tiny-cnn against itself and against a
 * perturbed copy. The pass manager: check and check_each (the failing pass is named
 * with its location, the model is restored, the reproducer is written and
 * reproduces), a pass that declares its tolerance, keep_going, an old-sized options
 * struct.
 *
 * The passes that change a model come from tests/plugins/perturb.c, linked in as a
 * static plugin (MOF_PLUGIN_STATIC=perturb). */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include "config.h"

#include <math.h>
#include <stddef.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#define TINY_CNN MOF_TEST_SRCDIR "/examples/models/tiny-cnn.onnx"
#define TINY_CNN_DATA MOF_TEST_SRCDIR "/examples/models/tiny-cnn-inputs"

const mof_plugin_desc *mof_plugin_entry_perturb(void);

static mof_context *ctx;

static void setup(void)
{
    ctx = mof_context_create();
    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_eq(mof_context_add_static_plugin(ctx, mof_plugin_entry_perturb), MOF_OK);
}

static void teardown(void)
{
    mof_context_destroy(ctx);
    ctx = NULL;
}

static char *make_tmpdir(void)
{
    char *dir = strdup("/tmp/mof-test-verify.XXXXXX");
    ck_assert_ptr_nonnull(dir);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    return dir;
}

static char *path_in(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    ck_assert_ptr_nonnull(p);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static mof_model *load(const char *path)
{
    mof_model *m = mof_model_load(ctx, path);
    if (!m)
        mof_test_print_diags(ctx);
    ck_assert_ptr_nonnull(m);
    return m;
}

/* A model with one input per entry of types (shape [2, 3], or [N, 3] with symbolic),
 * each fed through Identity to an output. */
static mof_model *make_model(size_t n, const mof_dtype *types, bool symbolic)
{
    mof_model *m = mof_model_create(ctx);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(mof_model_set_opset(m, "", 13), MOF_OK);
    mof_graph *g = mof_model_graph(m);
    for (size_t i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof(name), "in%zu", i);
        int64_t dims[2] = { symbolic ? -1 : 2, 3 };
        const char *syms[2] = { symbolic ? "N" : NULL, NULL };
        mof_value *v = mof_graph_add_input(g, name, types[i], 2, dims, syms);
        ck_assert_ptr_nonnull(v);
        mof_node *id = mof_graph_add_node(g, MOF_INSERT_AFTER, NULL, "Identity", NULL, NULL, 1,
                                          &v, 1);
        ck_assert_ptr_nonnull(id);
        ck_assert_int_eq(mof_graph_add_output(g, mof_node_output(id, 0)), MOF_OK);
    }
    return m;
}

static mof_tensor *floats(size_t rank, const int64_t *dims, const float *data)
{
    mof_tensor *t = mof_tensor_create_from(MOF_DTYPE_FLOAT, rank, dims, data);
    ck_assert_ptr_nonnull(t);
    return t;
}

/* ------------------------------------------------------------------ random inputs */

START_TEST(test_random_reference_values)
{
    /* xoshiro256** seeded by splitmix64(0) starts 0x99ec5f36cb75f2b4, 0xbf6e1f784956452a,
     * ...; each float takes the top 24 bits: k * 2^-23 - 1. */
    mof_model *m = mof_model_create(ctx);
    mof_model_set_opset(m, "", 13);
    int64_t four = 4;
    mof_value *x = mof_graph_add_input(mof_model_graph(m), "x", MOF_DTYPE_FLOAT, 1, &four, NULL);
    ck_assert_ptr_nonnull(x);
    mof_tensor *t = NULL;
    ck_assert_status(ctx, mof_random_inputs(ctx, m, 0, 1, &t), MOF_OK);
    const float *v = mof_tensor_data(t);
    ck_assert(v[0] == 0.20252597332000732f);
    ck_assert(v[1] == 0.4955481290817261f);
    ck_assert(v[2] == -0.7939600944519043f);
    ck_assert(v[3] == -0.16682195663452148f);
    mof_tensor_unref(t);
    mof_model_destroy(m);
}
END_TEST

START_TEST(test_random_deterministic)
{
    const mof_dtype types[] = { MOF_DTYPE_FLOAT, MOF_DTYPE_INT64, MOF_DTYPE_BOOL,
                                MOF_DTYPE_FLOAT16, MOF_DTYPE_DOUBLE, MOF_DTYPE_UINT8,
                                MOF_DTYPE_BFLOAT16, MOF_DTYPE_INT8 };
    size_t n = sizeof(types) / sizeof(types[0]);
    mof_model *m = make_model(n, types, false);
    mof_tensor *a[8], *b[8], *c[8];
    ck_assert_status(ctx, mof_random_inputs(ctx, m, 7, n, a), MOF_OK);
    ck_assert_status(ctx, mof_random_inputs(ctx, m, 7, n, b), MOF_OK);
    ck_assert_status(ctx, mof_random_inputs(ctx, m, 8, n, c), MOF_OK);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(mof_tensor_dtype(a[i]), types[i]);
        ck_assert_int_eq(mof_tensor_rank(a[i]), 2);
        ck_assert_int_eq(mof_tensor_dims(a[i])[0], 2);
        ck_assert_int_eq(mof_tensor_dims(a[i])[1], 3);
        ck_assert_msg(mof_tensor_equal(a[i], b[i]), "input %zu differs for the same seed", i);
    }
    ck_assert_msg(!mof_tensor_equal(a[0], c[0]), "another seed gives the same floats");
    const float *f = mof_tensor_data(a[0]);
    const int64_t *i64 = mof_tensor_data(a[1]);
    const uint8_t *bo = mof_tensor_data(a[2]);
    const double *d = mof_tensor_data(a[4]);
    const uint8_t *u8 = mof_tensor_data(a[5]);
    const int8_t *i8 = mof_tensor_data(a[7]);
    for (int k = 0; k < 6; k++) {
        ck_assert(f[k] >= -1.0f && f[k] < 1.0f);
        ck_assert(d[k] >= -1.0 && d[k] < 1.0);
        ck_assert(i64[k] >= 0 && i64[k] < 4);
        ck_assert(u8[k] < 4);
        ck_assert(i8[k] >= 0 && i8[k] < 4);
        ck_assert(bo[k] == 0 || bo[k] == 1);
    }
    /* The model runs on them, and each output is its input. */
    mof_tensor *out[8];
    ck_assert_status(ctx, mof_run_model(ctx, m, n, a, n, out), MOF_OK);
    for (size_t k = 0; k < n; k++)
        ck_assert(mof_tensor_equal(out[k], a[k]));
    mof_tensors_release(n, out);
    mof_tensors_release(n, a);
    mof_tensors_release(n, b);
    mof_tensors_release(n, c);
    for (size_t k = 0; k < n; k++)
        ck_assert_ptr_null(a[k]);
    mof_model_destroy(m);
}
END_TEST

START_TEST(test_random_needs_pins)
{
    const mof_dtype types[] = { MOF_DTYPE_FLOAT, MOF_DTYPE_FLOAT };
    mof_model *m = make_model(2, types, true);
    mof_tensor *in[2] = { (mof_tensor *)1, (mof_tensor *)1 };
    ck_assert_int_eq(mof_random_inputs(ctx, m, 0, 2, in), MOF_ERR_INVALID_ARG);
    ck_assert_ptr_null(in[0]);
    ck_assert_ptr_null(in[1]);
    /* Both inputs are named, with the dim, its symbol and an example pin. */
    ck_assert(mof_test_diag_contains(ctx, "input 'in0': dim 0 ('N') is not fixed"));
    ck_assert(mof_test_diag_contains(ctx, "input 'in1': dim 0 ('N') is not fixed"));
    ck_assert(mof_test_diag_contains(ctx, "--input-shape in0=1,3"));

    /* Pins: unknown input, wrong rank, a dim the model fixes, bad text. */
    mof_context_clear_diags(ctx);
    ck_assert_int_eq(mof_model_set_input_shape(m, "nope=1,3"), MOF_ERR_INVALID_ARG);
    ck_assert(mof_test_diag_contains(ctx, "no graph input of that name (its inputs: 'in0', 'in1')"));
    ck_assert_int_eq(mof_model_set_input_shape(m, "in0=5"), MOF_ERR_INVALID_ARG);
    ck_assert(mof_test_diag_contains(ctx, "pinned to rank 1, but the model gives it rank 2"));
    ck_assert_int_eq(mof_model_set_input_shape(m, "in0=5,4"), MOF_ERR_INVALID_ARG);
    ck_assert(mof_test_diag_contains(ctx, "dim 1 = 4, but the model fixes it to 3"));
    ck_assert_int_eq(mof_model_set_input_shape(m, "in0=5,x"), MOF_ERR_INVALID_ARG);
    ck_assert_int_eq(mof_model_set_input_shape(m, "=5"), MOF_ERR_INVALID_ARG);

    ck_assert_status(ctx, mof_model_set_input_shape(m, "in0=5,3"), MOF_OK);
    ck_assert_status(ctx, mof_model_set_input_shape(m, "in1=2, 3"), MOF_OK);
    ck_assert_status(ctx, mof_random_inputs(ctx, m, 0, 2, in), MOF_OK);
    ck_assert_int_eq(mof_tensor_dims(in[0])[0], 5);
    ck_assert_int_eq(mof_tensor_dims(in[1])[0], 2);
    mof_tensors_release(2, in);
    mof_model_destroy(m);
}
END_TEST

/* ------------------------------------------------------------------ input folders */

START_TEST(test_load_test_data)
{
    mof_model *m = load(TINY_CNN);
    mof_tensor *in = NULL, *out = NULL, *want = NULL;
    ck_assert_status(ctx, mof_load_inputs(ctx, m, TINY_CNN_DATA, 1, &in), MOF_OK);
    ck_assert_int_eq(mof_tensor_dims(in)[1], 3);
    ck_assert_status(ctx, mof_load_outputs(ctx, m, TINY_CNN_DATA, 1, &want), MOF_OK);
    ck_assert_status(ctx, mof_run_model(ctx, m, 1, &in, 1, &out), MOF_OK);
    /* output_0.pb was written by ONNX Runtime. */
    mof_verify_report *r = mof_verify_report_create(1e-4, 1e-5);
    const char *name = "logits";
    ck_assert_int_eq(mof_verify_report_add(r, 1, &name, &want, &out), MOF_OK);
    ck_assert_msg(mof_verify_report_passed(r), "the interpreter disagrees with ONNX Runtime");
    ck_assert(mof_verify_report_output(r, 0)->max_abs < 1e-5);
    ck_assert_int_eq(mof_verify_report_output(r, 0)->top1_rows, 1);
    ck_assert_int_eq(mof_verify_report_output(r, 0)->top1_agree, 1);
    mof_verify_report_destroy(r);

    /* The same input as image.npy in another folder; then given twice. */
    char *dir = make_tmpdir();
    char *npy = path_in(dir, "image.npy");
    ck_assert_status(ctx, mof_tensor_save(ctx, in, NULL, npy), MOF_OK);
    mof_tensor *again = NULL;
    ck_assert_status(ctx, mof_load_inputs(ctx, m, dir, 1, &again), MOF_OK);
    ck_assert(mof_tensor_equal(again, in));
    mof_tensor_unref(again);
    char *pb = path_in(dir, "input_0.pb");
    ck_assert_status(ctx, mof_tensor_save(ctx, in, "image", pb), MOF_OK);
    ck_assert_int_eq(mof_load_inputs(ctx, m, dir, 1, &again), MOF_ERR_INVALID_ARG);
    ck_assert_ptr_null(again);
    ck_assert(mof_test_diag_contains(ctx, "input 'image' is given twice"));

    /* A folder with nothing for the input, and one that does not exist. */
    unlink(npy);
    unlink(pb);
    mof_context_clear_diags(ctx);
    ck_assert_int_eq(mof_load_inputs(ctx, m, dir, 1, &again), MOF_ERR_INVALID_ARG);
    ck_assert(mof_test_diag_contains(ctx, "no tensor for input 'image' (expected input_0.pb, "
                                          "or image.npy)"));
    ck_assert_int_eq(mof_load_inputs(ctx, m, "/nonexistent/folder", 1, &again), MOF_ERR_IO);
    rmdir(dir);
    free(pb);
    free(npy);
    free(dir);
    mof_tensor_unref(in);
    mof_tensor_unref(out);
    mof_tensor_unref(want);
    mof_model_destroy(m);
}
END_TEST

/* mof_list_data_sets: the test_data_set_<k> sub-folders, in numeric order of k. */
START_TEST(test_list_data_sets)
{
    char *dir = make_tmpdir();
    const char *names[] = { "test_data_set_10", "test_data_set_2", "other", "test_data_set_0" };
    char *paths[4];
    for (size_t i = 0; i < 4; i++) {
        paths[i] = path_in(dir, names[i]);
        ck_assert_int_eq(mkdir(paths[i], 0700), 0);
    }
    char **sets = NULL;
    size_t n = 99;
    ck_assert_int_eq(mof_list_data_sets(dir, &sets, &n), MOF_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(sets[0], paths[3]);
    ck_assert_str_eq(sets[1], paths[1]);
    ck_assert_str_eq(sets[2], paths[0]);
    mof_data_sets_free(sets, n);
    /* None there, or no folder: nothing, and no error. */
    ck_assert_int_eq(mof_list_data_sets(paths[2], &sets, &n), MOF_OK);
    ck_assert_ptr_null(sets);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(mof_list_data_sets("/nonexistent/folder", &sets, &n), MOF_OK);
    ck_assert_ptr_null(sets);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(mof_list_data_sets(NULL, &sets, &n), MOF_ERR_INVALID_ARG);
    for (size_t i = 0; i < 4; i++) {
        rmdir(paths[i]);
        free(paths[i]);
    }
    rmdir(dir);
    free(dir);
}
END_TEST

/* ------------------------------------------------------------------ comparisons */

START_TEST(test_compare_numbers)
{
    int64_t four = 4;
    mof_tensor *ref = floats(1, &four, (const float[]){ 1, 2, -3, 4 });
    mof_tensor *same = floats(1, &four, (const float[]){ 1, 2, -3, 4 });
    mof_tensor *close = floats(1, &four, (const float[]){ 1, 2.0001f, -3, 4 });
    mof_tensor *off = floats(1, &four, (const float[]){ 1, 2, -3, 4.5f });
    const char *name = "y";

    mof_verify_report *r = mof_verify_report_create(1e-4, 1e-5);
    ck_assert_int_eq(mof_verify_report_add(r, 1, &name, &ref, &same), MOF_OK);
    const mof_output_diff *d = mof_verify_report_output(r, 0);
    ck_assert(mof_verify_report_passed(r));
    ck_assert(d->max_abs == 0 && d->max_rel == 0 && d->cosine == 1);
    ck_assert_int_eq(d->n_elements, 4);
    ck_assert_int_eq(d->top1_rows, 0);
    ck_assert_str_eq(d->name, "y");
    mof_verify_report_destroy(r);

    /* 2.0001 against 2: 1e-4 off, within 1e-5 + 1e-4 * 2. */
    r = mof_verify_report_create(1e-4, 1e-5);
    ck_assert_int_eq(mof_verify_report_add(r, 1, &name, &ref, &close), MOF_OK);
    ck_assert(mof_verify_report_passed(r));
    d = mof_verify_report_output(r, 0);
    ck_assert_double_eq_tol(d->max_abs, 1e-4, 1e-6);
    ck_assert_double_eq_tol(d->max_rel, 5e-5, 1e-6);
    ck_assert_int_eq(d->worst_index, 1);
    mof_verify_report_destroy(r);

    /* 4.5 against 4: past tolerance; the cosine of (1,2,-3,4) and (1,2,-3,4.5). */
    r = mof_verify_report_create(1e-4, 1e-5);
    ck_assert_int_eq(mof_verify_report_add(r, 1, &name, &ref, &off), MOF_OK);
    ck_assert(!mof_verify_report_passed(r));
    d = mof_verify_report_output(r, 0);
    ck_assert(!d->passed);
    ck_assert_double_eq_tol(d->max_abs, 0.5, 1e-12);
    ck_assert_double_eq_tol(d->max_rel, 0.125, 1e-12);
    double cosine = (1 + 4 + 9 + 18) / (sqrt(30.0) * sqrt(1 + 4 + 9 + 20.25));
    ck_assert_double_eq_tol(d->cosine, cosine, 1e-12);
    ck_assert_int_eq(d->n_mismatches, 1);
    ck_assert_int_eq(d->worst_set, 0);
    ck_assert_int_eq(d->worst_index, 3);
    ck_assert(d->worst_ref == 4 && d->worst_got == 4.5);
    char *summary = mof_verify_report_summary(r);
    ck_assert_ptr_nonnull(summary);
    ck_assert_msg(strstr(summary, "output 'y': max abs error 0.5 at [3] (ref 4, got 4.5)"),
                  "summary: %s", summary);
    ck_assert_msg(strstr(summary, "in 1 of 4 elements"), "summary: %s", summary);
    free(summary);
    /* A second input set where all agree: the worst stays, counts add up. */
    ck_assert_int_eq(mof_verify_report_add(r, 1, &name, &ref, &same), MOF_OK);
    ck_assert_int_eq(mof_verify_report_n_sets(r), 2);
    ck_assert_int_eq(d->n_elements, 8);
    ck_assert_int_eq(d->n_mismatches, 1);
    ck_assert_int_eq(d->worst_set, 0);
    ck_assert_double_eq_tol(d->cosine, cosine, 1e-12);
    char *json = mof_verify_report_json(r);
    ck_assert_ptr_nonnull(json);
    ck_assert_msg(strstr(json, "\"input_sets\": 2, \"passed\": false"), "%s", json);
    ck_assert_msg(strstr(json, "\"name\": \"y\", \"dtype\": \"float\", \"shape\": [4]"), "%s",
                  json);
    ck_assert_msg(strstr(json, "\"max_abs\": 0.5,"), "%s", json);
    ck_assert_msg(strstr(json, "\"worst\": {\"set\": 0, \"index\": 3, \"ref\": 4, \"got\": 4.5}"),
                  "%s", json);
    free(json);
    /* Another number of outputs is refused. */
    ck_assert_int_eq(mof_verify_report_add(r, 0, NULL, NULL, NULL), MOF_ERR_INVALID_ARG);
    mof_verify_report_destroy(r);

    /* Tolerances are honoured exactly: 0.5 passes with atol 0.5. */
    r = mof_verify_report_create(0, 0.5);
    ck_assert_int_eq(mof_verify_report_add(r, 1, &name, &ref, &off), MOF_OK);
    ck_assert(mof_verify_report_passed(r));
    mof_verify_report_destroy(r);
    ck_assert_ptr_null(mof_verify_report_create(-1, 0));
    ck_assert_ptr_null(mof_verify_report_create(0, NAN));

    mof_tensor_unref(ref);
    mof_tensor_unref(same);
    mof_tensor_unref(close);
    mof_tensor_unref(off);
}
END_TEST

START_TEST(test_compare_special)
{
    const char *names[3] = { "logits", "zero", NULL };
    int64_t two_by_three[2] = { 2, 3 }, two = 2, three = 3;
    /* Top-1: row 0 agrees (class 1), row 1 does not (0 against 2). */
    mof_tensor *ra = floats(2, two_by_three, (const float[]){ 0.1f, 0.9f, 0.0f,
                                                             0.8f, 0.1f, 0.1f });
    mof_tensor *ga = floats(2, two_by_three, (const float[]){ 0.2f, 0.7f, 0.1f,
                                                             0.1f, 0.1f, 0.8f });
    /* A reference of 0: a large relative error, within atol. */
    mof_tensor *rb = floats(1, &two, (const float[]){ 0, 0 });
    mof_tensor *gb = floats(1, &two, (const float[]){ 0, 1e-6f });
    /* NaN against NaN agrees; 1 against NaN does not. */
    mof_tensor *rc = floats(1, &three, (const float[]){ NAN, 1, INFINITY });
    mof_tensor *gc = floats(1, &three, (const float[]){ NAN, NAN, INFINITY });
    mof_tensor *ref[3] = { ra, rb, rc }, *got[3] = { ga, gb, gc };
    mof_verify_report *r = mof_verify_report_create(1e-4, 1e-5);
    ck_assert_int_eq(mof_verify_report_add(r, 3, names, ref, got), MOF_OK);
    const mof_output_diff *a = mof_verify_report_output(r, 0);
    const mof_output_diff *b = mof_verify_report_output(r, 1);
    const mof_output_diff *c = mof_verify_report_output(r, 2);
    ck_assert_int_eq(a->top1_rows, 2);
    ck_assert_int_eq(a->top1_agree, 1);
    ck_assert(!a->passed);
    ck_assert(b->passed);
    ck_assert_double_eq_tol(b->max_rel, 1e-6 / MOF_VERIFY_TINY, 1e3);
    ck_assert(b->cosine == 0);
    ck_assert_str_eq(c->name, "output_2");
    ck_assert(!c->passed);
    ck_assert_int_eq(c->n_mismatches, 1);
    ck_assert(isinf(c->max_abs));
    ck_assert_int_eq(c->worst_index, 1);
    char *json = mof_verify_report_json(r);
    ck_assert_msg(strstr(json, "\"max_abs\": null"), "%s", json);
    free(json);
    mof_verify_report_destroy(r);

    /* Different shapes are a type mismatch, not an error. */
    r = mof_verify_report_create(1e-4, 1e-5);
    ck_assert_int_eq(mof_verify_report_add(r, 1, names, &rb, &rc), MOF_OK);
    ck_assert(mof_verify_report_output(r, 0)->type_mismatch);
    ck_assert(!mof_verify_report_passed(r));
    char *summary = mof_verify_report_summary(r);
    ck_assert_msg(strstr(summary, "float[2] in the reference, float[3] in the model under test"),
                  "%s", summary);
    free(summary);
    mof_verify_report_destroy(r);

    mof_tensor_unref(ra);
    mof_tensor_unref(ga);
    mof_tensor_unref(rb);
    mof_tensor_unref(gb);
    mof_tensor_unref(rc);
    mof_tensor_unref(gc);
}
END_TEST

/* ------------------------------------------------------------------ models */

/* Runs a one-line pipeline over a copy of m, in memory (no output). */
static mof_model *transformed(const mof_model *m, const char *list)
{
    mof_model *copy = mof_model_dup(m);
    mof_pipeline *p = mof_pipeline_parse_list(ctx, list);
    ck_assert_ptr_nonnull(p);
    ck_assert_status(ctx, mof_pipeline_run(p, copy, NULL, NULL), MOF_OK);
    mof_pipeline_destroy(p);
    return copy;
}

START_TEST(test_verify_models)
{
    mof_model *m = load(TINY_CNN);
    mof_model *same = load(TINY_CNN);
    mof_model *perturbed = transformed(m, "test-perturb(amount=0.5)");
    mof_model *slightly = transformed(m, "test-perturb(amount=1e-9)");
    mof_verify_options o;
    mof_verify_options_init(&o);
    ck_assert_int_eq(o.n_random, 3);
    ck_assert(o.rtol == 1e-4 && o.atol == 1e-5);

    mof_verify_report *r = NULL;
    ck_assert_status(ctx, mof_verify_models(ctx, m, same, &o, &r), MOF_OK);
    ck_assert_int_eq(mof_verify_report_n_sets(r), 3);
    ck_assert(mof_verify_report_output(r, 0)->max_abs == 0);
    ck_assert_int_eq(mof_verify_report_output(r, 0)->top1_agree, 3);
    mof_verify_report_destroy(r);

    ck_assert_status(ctx, mof_verify_models(ctx, m, slightly, NULL, &r), MOF_OK);
    mof_verify_report_destroy(r);

    ck_assert_status(ctx, mof_verify_models(ctx, m, perturbed, &o, &r), MOF_ERR_VERIFY);
    ck_assert_ptr_nonnull(r);
    ck_assert(!mof_verify_report_passed(r));
    ck_assert(mof_verify_report_output(r, 0)->max_abs > 0.01);
    mof_verify_report_destroy(r);

    /* On the stored inputs, and with a loose enough tolerance. */
    o.inputs_dir = TINY_CNN_DATA;
    o.atol = 100;
    ck_assert_status(ctx, mof_verify_models(ctx, m, perturbed, &o, &r), MOF_OK);
    ck_assert_int_eq(mof_verify_report_n_sets(r), 1);
    mof_verify_report_destroy(r);

    /* Timing. */
    mof_interp *it = mof_interp_create(ctx, m);
    mof_tensor *in = NULL;
    ck_assert_status(ctx, mof_random_inputs(ctx, m, 1, 1, &in), MOF_OK);
    mof_latency lat;
    ck_assert_status(ctx, mof_measure_latency(it, 1, &in, 1, 1, 5, &lat), MOF_OK);
    ck_assert_int_eq(lat.n_runs, 5);
    ck_assert(lat.min > 0 && lat.min <= lat.median && lat.median <= lat.max);
    ck_assert_int_eq(mof_measure_latency(it, 1, &in, 1, 0, 0, &lat), MOF_ERR_INVALID_ARG);
    mof_tensor_unref(in);
    mof_interp_destroy(it);

    mof_model_destroy(m);
    mof_model_destroy(same);
    mof_model_destroy(perturbed);
    mof_model_destroy(slightly);
}
END_TEST

/* ------------------------------------------------------------------ the pass manager */

static mof_status run_list(const char *list, mof_model *m, const mof_run_options *o,
                           mof_run_report **report)
{
    mof_pipeline *p = mof_pipeline_parse_list(ctx, list);
    ck_assert_ptr_nonnull(p);
    mof_status st = mof_pipeline_run(p, m, o, report);
    mof_pipeline_destroy(p);
    return st;
}

static bool has_note(const mof_run_report *r, const char *needle)
{
    for (size_t i = 0; i < mof_run_report_n_notes(r); i++)
        if (strstr(mof_run_report_note(r, i), needle))
            return true;
    return false;
}

START_TEST(test_check_defaults)
{
    mof_run_options o;
    mof_run_options_init(&o);
    ck_assert(!o.check && !o.check_each);
    ck_assert_int_eq(o.check_inputs, 3);
    ck_assert(o.check_seed == 0);
    ck_assert(o.rtol == 1e-4 && o.atol == 1e-5);
}
END_TEST

START_TEST(test_check_each_names_the_pass)
{
    char *dir = make_tmpdir();
    char *out = path_in(dir, "out.onnx");
    mof_model *m = load(TINY_CNN);
    mof_model *original = mof_model_dup(m);
    mof_model *after_lossy = transformed(m, "test-perturb-lossy(amount=0.25)");
    mof_run_options o;
    mof_run_options_init(&o);
    o.check_each = true;
    o.output = out;
    o.input_path = TINY_CNN;
    mof_run_report *rep = NULL;
    /* The lossy pass declares a tolerance of 1e6 and passes; test-perturb does not. */
    ck_assert_int_eq(run_list("test-perturb-lossy(amount=0.25),test-perturb(amount=0.5)", m,
                              &o, &rep), MOF_ERR_VERIFY);
    ck_assert_msg(mof_test_diag_contains(ctx, "<passes>:1:33: error: pass 'test-perturb' "
                                              "changed what the model computes: output "
                                              "'logits': max abs error"),
                  "the failing pass is not named with its place");
    ck_assert(!mof_test_diag_contains(ctx, "pass 'test-perturb-lossy' changed"));
    ck_assert_int_eq(mof_run_report_n_steps(rep), 2);
    ck_assert_int_eq(mof_run_report_step(rep, 0)->status, MOF_OK);
    ck_assert_int_eq(mof_run_report_step(rep, 1)->status, MOF_ERR_VERIFY);
    mof_run_report_destroy(rep);
    /* The model is as the lossy pass left it; nothing was written but the reproducer. */
    mof_verify_options vo;
    mof_verify_options_init(&vo);
    vo.rtol = vo.atol = 0;
    ck_assert_status(ctx, mof_verify_models(ctx, after_lossy, m, &vo, NULL), MOF_OK);
    ck_assert(!exists(out));
    char *before = path_in(dir, "out.onnx.before-test-perturb.onnx");
    char *xml = path_in(dir, "out.onnx.repro-test-perturb.xml");
    ck_assert_msg(exists(before) && exists(xml), "no reproducer");
    ck_assert(mof_test_diag_contains(ctx, "; reproducer: "));
    ck_assert(mof_test_diag_contains(ctx, "to reproduce: mof run --check "));

    /* The reproducer: the model before the pass, and a pipeline that fails --check. */
    mof_model *b = load(before);
    ck_assert_status(ctx, mof_verify_models(ctx, after_lossy, b, &vo, NULL), MOF_OK);
    mof_pipeline *p = mof_pipeline_load(ctx, xml);
    if (!p)
        mof_test_print_diags(ctx);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(mof_pipeline_n_passes(p), 1);
    mof_context_clear_diags(ctx);
    mof_run_options co;
    mof_run_options_init(&co);
    co.check = true;
    ck_assert_int_eq(mof_pipeline_run(p, b, &co, NULL), MOF_ERR_VERIFY);
    ck_assert(mof_test_diag_contains(ctx, "check: the optimized model does not compute what "
                                          "the input model computes: output 'logits'"));
    mof_pipeline_destroy(p);
    mof_model_destroy(b);

    /* With keep_going the pass is undone and the run goes on to write the output. */
    mof_model *again = mof_model_dup(original);
    o.keep_going = true;
    ck_assert_int_eq(run_list("test-perturb(amount=0.5),test-perturb-lossy(amount=0.25)", again,
                              &o, &rep), MOF_ERR_VERIFY);
    ck_assert(mof_test_diag_contains(ctx, "pass 'test-perturb' is undone"));
    ck_assert_msg(exists(out), "keep_going wrote no output");
    ck_assert_status(ctx, mof_verify_models(ctx, after_lossy, again, &vo, NULL), MOF_OK);
    mof_run_report_destroy(rep);
    mof_model_destroy(again);

    unlink(out);
    unlink(before);
    unlink(xml);
    rmdir(dir);
    free(before);
    free(xml);
    free(out);
    free(dir);
    mof_model_destroy(m);
    mof_model_destroy(original);
    mof_model_destroy(after_lossy);
}
END_TEST

START_TEST(test_check_final)
{
    mof_model *m = load(TINY_CNN);
    mof_run_options o;
    mof_run_options_init(&o);
    o.check = true;
    o.check_inputs = 2;
    o.check_seed = 11;
    mof_run_report *rep = NULL;

    /* A pass that declares its tolerance passes the final check. */
    mof_model *a = mof_model_dup(m);
    ck_assert_status(ctx, run_list("test-perturb-lossy(amount=0.25)", a, &o, &rep), MOF_OK);
    ck_assert(has_note(rep, "check: the optimized model computes what the input model "
                            "computes (2 random input sets, seed 11)"));
    mof_run_report_destroy(rep);
    mof_model_destroy(a);

    /* One that does not fails it; with a loose atol it passes. */
    a = mof_model_dup(m);
    ck_assert_int_eq(run_list("test-perturb(amount=0.5)", a, &o, &rep), MOF_ERR_VERIFY);
    ck_assert(mof_test_diag_contains(ctx, "run again with --check-each"));
    mof_run_report_destroy(rep);
    mof_model_destroy(a);
    a = mof_model_dup(m);
    o.atol = 1000;
    ck_assert_status(ctx, run_list("test-perturb(amount=0.5)", a, &o, NULL), MOF_OK);
    mof_model_destroy(a);

    /* An options struct from before the checks existed: no check. */
    a = mof_model_dup(m);
    o.atol = 1e-5;
    o.size = offsetof(mof_run_options, check);
    ck_assert_status(ctx, run_list("test-perturb(amount=0.5)", a, &o, NULL), MOF_OK);
    mof_model_destroy(a);

    /* Bad settings are refused before anything runs. */
    mof_run_options_init(&o);
    o.check = true;
    o.check_inputs = 0;
    a = mof_model_dup(m);
    ck_assert_int_eq(run_list("test-perturb", a, &o, NULL), MOF_ERR_INVALID_ARG);
    ck_assert(mof_test_diag_contains(ctx, "need at least one input set"));
    mof_model_destroy(a);
    mof_model_destroy(m);
}
END_TEST

START_TEST(test_check_needs_pins)
{
    const mof_dtype types[] = { MOF_DTYPE_FLOAT };
    mof_model *m = make_model(1, types, true);
    mof_run_options o;
    mof_run_options_init(&o);
    o.check_each = true;
    mof_pipeline *p = mof_pipeline_parse_list(ctx, "test-perturb");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(mof_pipeline_run(p, m, &o, NULL), MOF_ERR_INVALID_ARG);
    ck_assert(mof_test_diag_contains(ctx, "input 'in0': dim 0 ('N') is not fixed"));
    ck_assert(mof_test_diag_contains(ctx, "numeric checks need random inputs"));
    /* Pinned in the pipeline, it runs (the model has no float initializer to perturb). */
    ck_assert_status(ctx, mof_pipeline_set_input_shape(p, "in0=4,3"), MOF_OK);
    ck_assert_status(ctx, mof_pipeline_run(p, m, &o, NULL), MOF_OK);
    mof_pipeline_destroy(p);
    mof_model_destroy(m);
}
END_TEST

static Suite *verify_suite(void)
{
    Suite *s = suite_create("verify");
    TCase *tc = tcase_create("verify");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_random_reference_values);
    tcase_add_test(tc, test_random_deterministic);
    tcase_add_test(tc, test_random_needs_pins);
    tcase_add_test(tc, test_load_test_data);
    tcase_add_test(tc, test_list_data_sets);
    tcase_add_test(tc, test_compare_numbers);
    tcase_add_test(tc, test_compare_special);
    tcase_add_test(tc, test_verify_models);
    tcase_add_test(tc, test_check_defaults);
    tcase_add_test(tc, test_check_each_names_the_pass);
    tcase_add_test(tc, test_check_final);
    tcase_add_test(tc, test_check_needs_pins);
    suite_add_tcase(s, tc);
    return s;
}

MOF_TEST_MAIN(verify_suite)
