/* test_seq.c: sequences and optionals in the reference interpreter (the sequence and
 * optional ops, Identity / If / Loop carrying them, mof_interp_run_values, value
 * files), training-mode Dropout, and the MT19937 stream behind it.
 *
 * random.c is compiled into this program (its functions are internal to libmof). */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include "config.h"

#include <math.h>
#include <unistd.h>

#include "testutil.h"

#include "interp/random.h"

/* ------------------------------------------------------------------ helpers */

static mof_context *ctx;

static void setup(void)
{
    ctx = mof_context_create();
    ck_assert_ptr_nonnull(ctx);
}

static void teardown(void)
{
    mof_context_destroy(ctx);
}

static mof_model *parse(const char *text)
{
    mof_model *m = mof_model_parse_text(ctx, text, strlen(text), "test.onnxtxt");
    if (!m)
        mof_test_print_diags(ctx);
    ck_assert_ptr_nonnull(m);
    return m;
}

static mof_tensor *floats(size_t rank, const int64_t *dims, const float *data)
{
    mof_tensor *t = mof_tensor_create_from(MOF_DTYPE_FLOAT, rank, dims, data);
    ck_assert_ptr_nonnull(t);
    return t;
}

static mof_ivalue *wrap(mof_tensor *t)
{
    mof_ivalue *v = mof_ivalue_tensor(t);
    ck_assert_ptr_nonnull(v);
    mof_tensor_unref(t);
    return v;
}

/* Asserts that t is a float tensor of the given shape and values. */
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
        ck_assert_msg(d[i] == want[i], "element %lld is %g, expected %g", (long long)i,
                      (double)d[i], (double)want[i]);
}

static int64_t int_scalar(const mof_tensor *t)
{
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(mof_tensor_numel(t), 1);
    if (mof_tensor_dtype(t) == MOF_DTYPE_BOOL)
        return *(const uint8_t *)mof_tensor_data(t);
    ck_assert_int_eq(mof_tensor_dtype(t), MOF_DTYPE_INT64);
    return *(const int64_t *)mof_tensor_data(t);
}

/* Runs model m on inputs (values) into outs, expecting `want`. */
static mof_status run_values(mof_model *m, size_t n_in, mof_ivalue *const *in, size_t n_out,
                             mof_ivalue **out)
{
    mof_interp *it = mof_interp_create(ctx, m);
    if (!it)
        mof_test_print_diags(ctx);
    ck_assert_ptr_nonnull(it);
    mof_status st = mof_interp_run_values(it, n_in, in, n_out, out);
    mof_interp_destroy(it);
    return st;
}

static void unref_all(size_t n, mof_ivalue **vs)
{
    for (size_t i = 0; i < n; i++)
        mof_ivalue_unref(vs[i]);
}

/* ------------------------------------------------------------------ MT19937 */

START_TEST(mt19937_matches_numpy)
{
    /* The values below came from numpy 1.24 (legacy RandomState):
     *   np.random.seed(0); np.random.uniform(size=5)
     *   np.random.RandomState(0).randint(0, 2**32, size=4, dtype=np.uint32)
     *   np.random.seed(0); np.random.uniform(size=700)[[312, 313, 699]]
     *   np.random.seed(4294967295); np.random.uniform(size=2)
     * Draw 312 is the first to use the second block of 624 words. */
    static const double seed0[5] = {0.5488135039273248, 0.7151893663724195,
                                    0.6027633760716439, 0.5448831829968969,
                                    0.4236547993389047};
    static const uint32_t raw0[4] = {0x8c7f0aacu, 0x97c4aa2fu, 0xb716a675u, 0xd821ccc0u};
    mof_mt19937 r;
    mof_mt_seed(&r, 0);
    for (int i = 0; i < 5; i++)
        ck_assert_msg(mof_mt_next_double(&r) == seed0[i], "draw %d differs", i);
    mof_mt_seed(&r, 0);
    for (int i = 0; i < 4; i++)
        ck_assert_uint_eq(mof_mt_next_u32(&r), raw0[i]);
    mof_mt_seed(&r, 0);
    for (int i = 0; i < 700; i++) {
        double u = mof_mt_next_double(&r);
        ck_assert(u >= 0.0 && u < 1.0);
        if (i == 312)
            ck_assert(u == 0.07952208258675575);
        if (i == 313)
            ck_assert(u == 0.08960303423860538);
        if (i == 699)
            ck_assert(u == 0.8427768626848423);
    }
    mof_mt_seed(&r, 4294967295u);
    ck_assert(mof_mt_next_double(&r) == 0.0976320289940138);
    ck_assert(mof_mt_next_double(&r) == 0.9123828453026218);
}
END_TEST

/* ------------------------------------------------------------------ Dropout */

static const char dropout_model[] =
    "<ir_version: 8, opset_import: [\"\" : 13]>\n"
    "main (float[5] x) => (float[5] y, bool[5] m)\n"
    "  <float r = {0.5}, bool t = {1}>\n"
    "{\n"
    "  y, m = Dropout %s (x, r, t)\n"
    "}\n";

/* Runs the Dropout model (attrs: its attribute list or "") twice on ones. */
static void run_dropout(const char *attrs, float y[2][5], uint8_t m[2][5])
{
    char text[512];
    snprintf(text, sizeof(text), dropout_model, attrs);
    mof_model *model = parse(text);
    mof_interp *it = mof_interp_create(ctx, model);
    ck_assert_ptr_nonnull(it);
    int64_t five = 5;
    const float ones[5] = {1, 1, 1, 1, 1};
    mof_tensor *x = floats(1, &five, ones);
    for (int k = 0; k < 2; k++) {
        mof_tensor *out[2];
        ck_assert_status(ctx, mof_interp_run(it, 1, &x, 2, out), MOF_OK);
        memcpy(y[k], mof_tensor_data(out[0]), sizeof(y[k]));
        ck_assert_int_eq(mof_tensor_dtype(out[1]), MOF_DTYPE_BOOL);
        memcpy(m[k], mof_tensor_data(out[1]), sizeof(m[k]));
        mof_tensor_unref(out[0]);
        mof_tensor_unref(out[1]);
    }
    mof_tensor_unref(x);
    mof_interp_destroy(it);
    mof_model_destroy(model);
}

START_TEST(dropout_training_seeded)
{
    /* seed 0: the draws above; kept where u >= 0.5, scaled by 1 / (1 - 0.5). The same
     * mask on every run. */
    float y[2][5];
    uint8_t m[2][5];
    run_dropout("<seed = 0>", y, m);
    static const uint8_t want_m[5] = {1, 1, 1, 1, 0};
    static const float want_y[5] = {2, 2, 2, 2, 0};
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < 5; i++) {
            ck_assert_uint_eq(m[k][i], want_m[i]);
            ck_assert(y[k][i] == want_y[i]);
        }
    }
}
END_TEST

START_TEST(dropout_training_unseeded)
{
    /* Without a seed, the interpreter's draws are seeded 0, then 1: numpy 1.24's
     * np.random.seed(1); np.random.uniform(size=5) gives 0.417, 0.720, 0.000114,
     * 0.302, 0.147. */
    float y[2][5];
    uint8_t m[2][5];
    run_dropout("", y, m);
    static const uint8_t want_m[2][5] = {{1, 1, 1, 1, 0}, {0, 1, 0, 0, 0}};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 5; i++) {
            ck_assert_uint_eq(m[k][i], want_m[k][i]);
            ck_assert(y[k][i] == (want_m[k][i] ? 2.0f : 0.0f));
        }
}
END_TEST

/* ------------------------------------------------------------------ sequence ops */

static const char seq_model[] =
    "<ir_version: 8, opset_import: [\"\" : 18]>\n"
    "main (float[2,3] x, float[3] t) => (seq(float) c, float[3] at, int64 len,\n"
    "      float[2,3] cat, float[3,2] stk, seq(float) sp, seq(float) e)\n"
    "  <int64 first = {0}, int64 last = {-1}, int64[2] split = {1, 2}>\n"
    "{\n"
    "  a = SplitToSequence <axis = 0> (x)\n"
    "  b = SplitToSequence <axis = 0, keepdims = 0> (x)\n"
    "  b2 = SequenceInsert (b, t)\n"
    "  c = SequenceInsert (b2, t, first)\n"
    "  e = SequenceErase (c, first)\n"
    "  len = SequenceLength (c)\n"
    "  at = SequenceAt (c, last)\n"
    "  cat = ConcatFromSequence <axis = 0> (a)\n"
    "  stk = ConcatFromSequence <axis = -1, new_axis = 1> (b)\n"
    "  sp = SplitToSequence <axis = 1> (x, split)\n"
    "}\n";

START_TEST(sequence_ops)
{
    mof_model *m = parse(seq_model);
    int64_t d23[2] = {2, 3}, d3 = 3;
    const float xv[6] = {1, 2, 3, 4, 5, 6}, tv[3] = {7, 8, 9};
    mof_ivalue *in[2] = {wrap(floats(2, d23, xv)), wrap(floats(1, &d3, tv))};
    mof_ivalue *out[7] = {0};
    ck_assert_status(ctx, run_values(m, 2, in, 7, out), MOF_OK);

    /* c = [t, x[0], x[1], t] */
    ck_assert_int_eq(mof_ivalue_get_kind(out[0]), MOF_IVALUE_SEQUENCE);
    ck_assert_uint_eq(mof_ivalue_length(out[0]), 4);
    ck_assert_int_eq(mof_ivalue_elem_type(out[0]), MOF_DTYPE_FLOAT);
    expect_floats(mof_ivalue_item(out[0], 0), 1, &d3, tv);
    expect_floats(mof_ivalue_item(out[0], 1), 1, &d3, xv);
    expect_floats(mof_ivalue_item(out[0], 2), 1, &d3, xv + 3);
    expect_floats(mof_ivalue_item(out[0], 3), 1, &d3, tv);
    expect_floats(mof_ivalue_get_tensor(out[1]), 1, &d3, tv);
    ck_assert_int_eq(int_scalar(mof_ivalue_get_tensor(out[2])), 4);
    expect_floats(mof_ivalue_get_tensor(out[3]), 2, d23, xv);
    int64_t d32[2] = {3, 2};
    const float xt[6] = {1, 4, 2, 5, 3, 6};
    expect_floats(mof_ivalue_get_tensor(out[4]), 2, d32, xt);
    /* sp: x[:, 0:1] and x[:, 1:3] */
    ck_assert_uint_eq(mof_ivalue_length(out[5]), 2);
    int64_t d21[2] = {2, 1}, d22[2] = {2, 2};
    const float s0[2] = {1, 4}, s1[4] = {2, 3, 5, 6};
    expect_floats(mof_ivalue_item(out[5], 0), 2, d21, s0);
    expect_floats(mof_ivalue_item(out[5], 1), 2, d22, s1);
    /* e: c without its first item */
    ck_assert_uint_eq(mof_ivalue_length(out[6]), 3);
    expect_floats(mof_ivalue_item(out[6], 0), 1, &d3, xv);

    /* Shape inference accepts the model and types the tensor outputs it can. */
    mof_status st = mof_infer_shapes(ctx, m);
    if (st < 0)
        mof_test_print_diags(ctx);
    ck_assert(st == MOF_OK || st == MOF_UNCHANGED);
    const mof_value *len = mof_graph_output(mof_model_graph(m), 2);
    ck_assert_int_eq(mof_value_dtype(len), MOF_DTYPE_INT64);
    ck_assert_int_eq(mof_value_rank(len), 0);
    unref_all(2, in);
    unref_all(7, out);
    mof_model_destroy(m);
}
END_TEST

START_TEST(sequence_position_out_of_range)
{
    mof_model *m = parse("<ir_version: 8, opset_import: [\"\" : 13]>\n"
                         "main (float[3] x) => (float[3] y) <int64 p = {2}> {\n"
                         "  s = SequenceConstruct (x, x)\n"
                         "  [pick] y = SequenceAt (s, p)\n"
                         "}\n");
    int64_t d3 = 3;
    const float xv[3] = {1, 2, 3};
    mof_ivalue *in = wrap(floats(1, &d3, xv)), *out = NULL;
    ck_assert_int_eq(run_values(m, 1, &in, 1, &out), MOF_ERR_INVALID_MODEL);
    ck_assert(mof_test_diag_contains(ctx, "pick"));
    ck_assert(mof_test_diag_contains(ctx, "position 2 is out of range"));
    ck_assert_ptr_null(out);
    mof_ivalue_unref(in);
    mof_model_destroy(m);
}
END_TEST

START_TEST(tensor_api_and_refusals)
{
    /* Sequences inside, tensors at the edges: mof_interp_run works. */
    mof_model *m = parse("<ir_version: 8, opset_import: [\"\" : 13]>\n"
                         "main (float[3] x) => (float[6] y) {\n"
                         "  s = SequenceConstruct (x, x)\n"
                         "  s2 = Identity (s)\n"
                         "  y = ConcatFromSequence <axis = 0> (s2)\n"
                         "}\n");
    mof_interp *it = mof_interp_create(ctx, m);
    ck_assert_ptr_nonnull(it);
    int64_t d3 = 3, d6 = 6;
    const float xv[3] = {1, 2, 3}, yv[6] = {1, 2, 3, 1, 2, 3};
    mof_tensor *x = floats(1, &d3, xv), *y = NULL;
    ck_assert_status(ctx, mof_interp_run(it, 1, &x, 1, &y), MOF_OK);
    expect_floats(y, 1, &d6, yv);
    mof_tensor_unref(y);
    mof_interp_destroy(it);
    mof_model_destroy(m);

    /* A sequence output cannot come out of mof_interp_run. */
    m = parse("<ir_version: 8, opset_import: [\"\" : 13]>\n"
              "main (float[3] x) => (seq(float) s) {\n"
              "  s = SequenceConstruct (x)\n"
              "}\n");
    it = mof_interp_create(ctx, m);
    ck_assert_ptr_nonnull(it);
    mof_tensor *s = NULL;
    ck_assert_int_eq(mof_interp_run(it, 1, &x, 1, &s), MOF_ERR_UNSUPPORTED);
    ck_assert(mof_test_diag_contains(ctx, "mof_interp_run_values"));
    ck_assert_ptr_null(s);
    mof_interp_destroy(it);
    mof_model_destroy(m);
    mof_context_clear_diags(ctx);

    /* A tensor kernel given a sequence refuses it by name. */
    m = parse("<ir_version: 8, opset_import: [\"\" : 13]>\n"
              "main (float[3] x) => (float[3] y) {\n"
              "  s = SequenceConstruct (x)\n"
              "  [act] y = Relu (s)\n"
              "}\n");
    mof_ivalue *xin = wrap(mof_tensor_ref(x)), *yout = NULL;
    ck_assert_int_eq(run_values(m, 1, &xin, 1, &yout), MOF_ERR_INVALID_MODEL);
    ck_assert(mof_test_diag_contains(ctx, "act"));
    ck_assert(mof_test_diag_contains(ctx, "is a sequence; the op takes tensors"));
    mof_ivalue_unref(xin);
    mof_tensor_unref(x);
    mof_model_destroy(m);
}
END_TEST

START_TEST(loop_carries_sequence)
{
    /* The body inserts the iteration number into the carried sequence; If picks the
     * sequence or an empty one. */
    mof_model *m = parse(
        "<ir_version: 8, opset_import: [\"\" : 13]>\n"
        "main (int64 n, bool flag) => (int64[3] y, int64 len) {\n"
        "  s0 = SequenceEmpty <dtype = 7> ()\n"
        "  s = Loop (n, \"\", s0) <body = body (int64 i, bool c, seq(int64) sin) =>\n"
        "       (bool co, seq(int64) sout) {\n"
        "    co = Identity (c)\n"
        "    sout = SequenceInsert (sin, i)\n"
        "  }>\n"
        "  y = ConcatFromSequence <axis = 0, new_axis = 1> (s)\n"
        "  p = If (flag) <then_branch = t () => (seq(int64) a) { a = Identity (s) },\n"
        "                 else_branch = e () => (seq(int64) b) {\n"
        "                   b = SequenceEmpty <dtype = 7> ()\n"
        "                 }>\n"
        "  len = SequenceLength (p)\n"
        "}\n");
    int64_t three = 3;
    uint8_t yes = 1, no = 0;
    mof_tensor *n = mof_tensor_create_from(MOF_DTYPE_INT64, 0, NULL, &three);
    mof_tensor *f1 = mof_tensor_create_from(MOF_DTYPE_BOOL, 0, NULL, &yes);
    mof_tensor *f0 = mof_tensor_create_from(MOF_DTYPE_BOOL, 0, NULL, &no);
    mof_interp *it = mof_interp_create(ctx, m);
    if (!it)
        mof_test_print_diags(ctx);
    ck_assert_ptr_nonnull(it);
    for (int k = 0; k < 2; k++) {
        mof_tensor *in[2] = {n, k ? f0 : f1}, *out[2];
        ck_assert_status(ctx, mof_interp_run(it, 2, in, 2, out), MOF_OK);
        const int64_t *y = mof_tensor_data(out[0]);
        ck_assert_int_eq(mof_tensor_numel(out[0]), 3);
        ck_assert(y[0] == 0 && y[1] == 1 && y[2] == 2);
        ck_assert_int_eq(int_scalar(out[1]), k ? 0 : 3);
        mof_tensor_unref(out[0]);
        mof_tensor_unref(out[1]);
    }
    mof_interp_destroy(it);
    mof_tensor_unref(n);
    mof_tensor_unref(f1);
    mof_tensor_unref(f0);
    mof_model_destroy(m);
}
END_TEST

/* ------------------------------------------------------------------ optionals */

START_TEST(optional_ops)
{
    mof_model *m = parse("<ir_version: 8, opset_import: [\"\" : 18]>\n"
                         "main (optional(seq(float)) o, float[3] x) =>\n"
                         "     (bool h, int64 len, bool hx, bool he, optional(float) ox) {\n"
                         "  h = OptionalHasElement (o)\n"
                         "  [get] s = OptionalGetElement (o)\n"
                         "  len = SequenceLength (s)\n"
                         "  ox = Optional (x)\n"
                         "  hx = OptionalHasElement (ox)\n"
                         "  none = Optional <type: type_proto = float[3]> ()\n"
                         "  he = OptionalHasElement (none)\n"
                         "}\n");
    int64_t d3 = 3;
    const float xv[3] = {1, 2, 3};
    mof_tensor *x = floats(1, &d3, xv);
    mof_tensor *items[2] = {x, x};
    mof_ivalue *seq = mof_ivalue_sequence(MOF_DTYPE_FLOAT, 2, items);
    ck_assert_ptr_nonnull(seq);
    mof_ivalue *full = mof_ivalue_optional(seq), *empty = mof_ivalue_optional(NULL);
    ck_assert_ptr_nonnull(full);
    ck_assert_ptr_nonnull(empty);
    mof_ivalue *in[2] = {full, wrap(mof_tensor_ref(x))}, *out[5] = {0};
    ck_assert_status(ctx, run_values(m, 2, in, 5, out), MOF_OK);
    ck_assert_int_eq(int_scalar(mof_ivalue_get_tensor(out[0])), 1);
    ck_assert_int_eq(int_scalar(mof_ivalue_get_tensor(out[1])), 2);
    ck_assert_int_eq(int_scalar(mof_ivalue_get_tensor(out[2])), 1);
    ck_assert_int_eq(int_scalar(mof_ivalue_get_tensor(out[3])), 0);
    ck_assert_int_eq(mof_ivalue_get_kind(out[4]), MOF_IVALUE_OPTIONAL);
    expect_floats(mof_ivalue_get_tensor(mof_ivalue_element(out[4])), 1, &d3, xv);
    unref_all(5, out);

    /* Getting the element of an empty optional fails, naming the node. */
    in[0] = empty;
    ck_assert_int_eq(run_values(m, 2, in, 5, out), MOF_ERR_INVALID_MODEL);
    ck_assert(mof_test_diag_contains(ctx, "get"));
    ck_assert(mof_test_diag_contains(ctx, "the optional is empty"));
    mof_context_clear_diags(ctx);

    /* A sequence given for the optional input is wrapped into a full optional. */
    mof_ivalue *plain[2] = {seq, in[1]};
    ck_assert_status(ctx, run_values(m, 2, plain, 5, out), MOF_OK);
    ck_assert_int_eq(int_scalar(mof_ivalue_get_tensor(out[0])), 1);
    ck_assert_int_eq(int_scalar(mof_ivalue_get_tensor(out[1])), 2);
    unref_all(5, out);

    mof_ivalue_unref(in[1]);
    mof_ivalue_unref(full);
    mof_ivalue_unref(empty);
    mof_ivalue_unref(seq);
    mof_tensor_unref(x);
    mof_model_destroy(m);
}
END_TEST

START_TEST(kind_mismatch_refused)
{
    mof_model *m = parse("<ir_version: 8, opset_import: [\"\" : 13]>\n"
                         "main (seq(float) s) => (int64 n) {\n"
                         "  n = SequenceLength (s)\n"
                         "}\n");
    int64_t d3 = 3;
    const float xv[3] = {1, 2, 3};
    mof_ivalue *in = wrap(floats(1, &d3, xv)), *out = NULL;
    ck_assert_int_eq(run_values(m, 1, &in, 1, &out), MOF_ERR_INVALID_ARG);
    ck_assert(mof_test_diag_contains(ctx, "expected a value of kind 'sequence', got 'tensor'"));
    mof_ivalue_unref(in);
    mof_model_destroy(m);

    /* Maps are refused when the interpreter is created, by value name. */
    m = parse("<ir_version: 8, opset_import: [\"\" : 13]>\n"
              "main (map(int64, float) mp) => (map(int64, float) y) {\n"
              "  y = Identity (mp)\n"
              "}\n");
    ck_assert_ptr_null(mof_interp_create(ctx, m));
    ck_assert(mof_test_diag_contains(ctx, "value 'mp'"));
    mof_model_destroy(m);
}
END_TEST

/* ------------------------------------------------------------------ value files */

static char tmpdir[64];

static char *tmp_path(const char *name)
{
    static char buf[128];
    snprintf(buf, sizeof(buf), "%s/%s", tmpdir, name);
    return buf;
}

/* Appends a protobuf key and a length-delimited payload to buf at *len. */
static void put_bytes(uint8_t *buf, size_t *len, unsigned field, const uint8_t *data, size_t n)
{
    buf[(*len)++] = (uint8_t)(field << 3 | 2);
    ck_assert_uint_lt(n, 128);
    buf[(*len)++] = (uint8_t)n;
    memcpy(buf + *len, data, n);
    *len += n;
}

static void write_file(const char *path, const uint8_t *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

START_TEST(value_files)
{
    strcpy(tmpdir, "/tmp/mof-test-seq-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    /* A TensorProto written by mof, read back as bytes. */
    int64_t d3 = 3;
    const float xv[3] = {1, 2, 3};
    mof_tensor *x = floats(1, &d3, xv);
    ck_assert_status(ctx, mof_tensor_save(ctx, x, "x", tmp_path("x.pb")), MOF_OK);
    uint8_t tp[128];
    FILE *f = fopen(tmp_path("x.pb"), "rb");
    ck_assert_ptr_nonnull(f);
    size_t tn = fread(tp, 1, sizeof(tp), f);
    fclose(f);
    ck_assert_uint_gt(tn, 0);
    ck_assert_uint_lt(tn, 100);

    /* SequenceProto {elem_type: TENSOR, tensor_values: [x, x]} */
    uint8_t sp[300];
    size_t sn = 0;
    sp[sn++] = 2 << 3;
    sp[sn++] = 1;
    put_bytes(sp, &sn, 3, tp, tn);
    put_bytes(sp, &sn, 3, tp, tn);
    write_file(tmp_path("seq.pb"), sp, sn);
    mof_ivalue *v = mof_ivalue_load(ctx, tmp_path("seq.pb"), MOF_IVALUE_SEQUENCE);
    if (!v)
        mof_test_print_diags(ctx);
    ck_assert_ptr_nonnull(v);
    ck_assert_uint_eq(mof_ivalue_length(v), 2);
    expect_floats(mof_ivalue_item(v, 1), 1, &d3, xv);
    mof_ivalue_unref(v);

    /* OptionalProto {elem_type: TENSOR, tensor_value: x}, and an empty one. */
    uint8_t op[200];
    size_t on = 0;
    op[on++] = 2 << 3;
    op[on++] = 1;
    put_bytes(op, &on, 3, tp, tn);
    write_file(tmp_path("opt.pb"), op, on);
    v = mof_ivalue_load(ctx, tmp_path("opt.pb"), MOF_IVALUE_OPTIONAL);
    ck_assert_ptr_nonnull(v);
    expect_floats(mof_ivalue_get_tensor(mof_ivalue_element(v)), 1, &d3, xv);
    mof_ivalue_unref(v);
    write_file(tmp_path("none.pb"), op, 2);
    v = mof_ivalue_load(ctx, tmp_path("none.pb"), MOF_IVALUE_OPTIONAL);
    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(mof_ivalue_get_kind(v), MOF_IVALUE_OPTIONAL);
    ck_assert_ptr_null(mof_ivalue_element(v));
    mof_ivalue_unref(v);

    /* A truncated SequenceProto is an error naming the file. */
    write_file(tmp_path("bad.pb"), sp, sn - 3);
    ck_assert_ptr_null(mof_ivalue_load(ctx, tmp_path("bad.pb"), MOF_IVALUE_SEQUENCE));
    ck_assert(mof_test_diag_contains(ctx, "bad.pb"));

    const char *names[] = {"x.pb", "seq.pb", "opt.pb", "none.pb", "bad.pb"};
    for (size_t i = 0; i < 5; i++)
        unlink(tmp_path(names[i]));
    rmdir(tmpdir);
    mof_tensor_unref(x);
}
END_TEST

/* ------------------------------------------------------------------ main */

int main(void)
{
    Suite *s = suite_create("seq");
    TCase *tc = mof_test_tcase(s, "random", setup, teardown);
    tcase_add_test(tc, mt19937_matches_numpy);
    tcase_add_test(tc, dropout_training_seeded);
    tcase_add_test(tc, dropout_training_unseeded);
    tc = mof_test_tcase(s, "sequences", setup, teardown);
    tcase_add_test(tc, sequence_ops);
    tcase_add_test(tc, sequence_position_out_of_range);
    tcase_add_test(tc, tensor_api_and_refusals);
    tcase_add_test(tc, loop_carries_sequence);
    tc = mof_test_tcase(s, "optionals", setup, teardown);
    tcase_add_test(tc, optional_ops);
    tcase_add_test(tc, kind_mismatch_refused);
    tcase_add_test(tc, value_files);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
