/* conformance.c: runs the ONNX backend node tests (Debian's libonnx-testdata) through
 * the reference interpreter and compares with the stored outputs.
 *
 *   conformance [-v] [--data DIR] [FILTER]
 *
 * Each test folder holds model.onnx and data sets test_data_set_K holding input_N.pb
 * and output_N.pb: a TensorProto, or a SequenceProto / OptionalProto where the model
 * declares a sequence or optional (mof_ivalue_load), run through
 * mof_interp_run_values; sequences compare item by item, optionals by emptiness and
 * content. Training-mode Dropout matches the reference because the interpreter draws
 * numpy's MT19937 stream from the node's seed. A test is claimed when
 * mof_interp_create accepts its model; a
 * claimed test passes when every data set gives outputs of the stored type and shape and equal values: floats within
 * |a - b| <= 1e-5 + 1e-3 |b| (NaN matches NaN; bfloat16, whose unit of rounding is
 * 2^-8, within one unit of it: the test data of ONNX 1.12 truncates where mof rounds),
 * everything else exactly, and shape inference (mof_infer_shapes) must accept the
 * model and give its outputs types that the computed outputs fit (ONNX 1.12 stores bfloat16 test tensors as uint16; they are
 * read as bfloat16 where the model says so). A kernel that refuses an input type or mode it does not
 * implement (MOF_ERR_UNSUPPORTED at run time) makes its test "refused", counted with
 * the tests not claimed, never as a pass; so are the few data sets that contradict
 * their own model's declared input types.
 *
 * The table lists, for each op type, the claimed tests whose main graph uses it (a
 * test of several ops counts under each), and the totals count each test once. The
 * exit status is 1 when a claimed test fails, 77 (skipped) when no test data is
 * found, 0 otherwise. FILTER keeps the tests whose folder name contains it. */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include "config.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <mof/mof.h>

#include "testdata.h"

#define DEFAULT_DATA "/usr/share/libonnx-testdata/data/node"

const char testdata_program[] = "conformance";

/* ------------------------------------------------------------------ small helpers */

static char *path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = xcalloc(n, 1);
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

/* ------------------------------------------------------------------ results */

typedef enum { R_PASS, R_FAIL, R_NOT_CLAIMED, R_REFUSED, R_LOAD_FAILED, R_BAD_DATA } result;

typedef struct tally {
    op_table ops;
    int tests, passed, failed, not_claimed, refused, load_failed, bad_data;
} tally;

/* ------------------------------------------------------------------ one test */

/* The number of files prefix_0.pb, prefix_1.pb, ... of a data set folder. */
static size_t count_files(const char *dir, const char *prefix)
{
    size_t n = 0;
    for (;; n++) {
        char name[64];
        snprintf(name, sizeof(name), "%s_%zu.pb", prefix, n);
        char *p = path_join(dir, name);
        bool there = is_file(p);
        free(p);
        if (!there)
            return n;
    }
}

/* The kind of value v: what its type declares (a tensor when it declares none). */
static mof_ivalue_kind kind_of(const mof_value *v)
{
    mof_ivalue_kind kind;
    return mof_interp_value_kind(v, &kind) >= 0 ? kind : MOF_IVALUE_TENSOR;
}

/* Loads the values prefix_0.pb ... prefix_{n-1}.pb, file i of kind kinds[i] (a
 * TensorProto, SequenceProto or OptionalProto). */
static mof_ivalue **load_values(mof_context *ctx, const char *dir, const char *prefix, size_t n,
                                const mof_ivalue_kind *kinds, char *why, size_t size)
{
    mof_ivalue **vs = xcalloc(n, sizeof(*vs));
    for (size_t i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof(name), "%s_%zu.pb", prefix, i);
        char *p = path_join(dir, name);
        vs[i] = mof_ivalue_load(ctx, p, kinds[i]);
        free(p);
        if (!vs[i]) {
            char *e = first_error(ctx);
            snprintf(why, size, "cannot load %s: %s", name, e);
            free(e);
            for (size_t j = 0; j < i; j++)
                mof_ivalue_unref(vs[j]);
            free(vs);
            return NULL;
        }
    }
    return vs;
}

/* ONNX 1.12 writes bfloat16 test tensors with data type uint16 (the same bits): such
 * a tensor standing for a bfloat16 value of the model is read as bfloat16. */
static void fix_bfloat16(mof_ivalue **iv, const mof_value *v)
{
    const mof_tensor *t = mof_ivalue_get_tensor(*iv);
    if (!t || mof_tensor_dtype(t) != MOF_DTYPE_UINT16 ||
        mof_value_dtype(v) != MOF_DTYPE_BFLOAT16)
        return;
    mof_tensor *b = mof_tensor_create_from(MOF_DTYPE_BFLOAT16, mof_tensor_rank(t),
                                           mof_tensor_dims(t), mof_tensor_data(t));
    mof_ivalue *bv = b ? mof_ivalue_tensor(b) : NULL;
    mof_tensor_unref(b);
    if (!bv)
        testdata_oom();
    mof_ivalue_unref(*iv);
    *iv = bv;
}

static void format_value_type(char *buf, size_t size, const mof_value *v)
{
    int rank = mof_value_rank(v);
    size_t len = (size_t)snprintf(buf, size, "%s", mof_dtype_name(mof_value_dtype(v)));
    if (rank < 0) {
        snprintf(buf + len, size - len, "[...]");
        return;
    }
    for (int i = 0; i <= rank && len < size; i++) {
        const char *sym = i < rank ? mof_value_dim_symbol(v, (size_t)i) : NULL;
        int64_t d = i < rank ? mof_value_dim(v, (size_t)i) : 0;
        const char *sep = i == 0 ? "[" : ",";
        if (i == rank)
            len += (size_t)snprintf(buf + len, size - len, "%s]", rank ? "" : "[");
        else if (d >= 0)
            len += (size_t)snprintf(buf + len, size - len, "%s%lld", sep, (long long)d);
        else
            len += (size_t)snprintf(buf + len, size - len, "%s%s", sep, sym ? sym : "?");
    }
}

/* Whether tensor t fits the declared type of graph input v (else writes why). */
static bool fits_declared(const mof_tensor *t, const mof_value *v, char *why, size_t size)
{
    bool ok = fits_type(t, v);
    if (!ok) {
        char a[160];
        format_shape(a, sizeof(a), t);
        snprintf(why, size, "the data for input '%s' (%s) contradicts its declared type",
                 mof_value_name(v), a);
    }
    return ok;
}

/* Compares value got with want (tensors as tensors_match, sequences item by item,
 * optionals by what they hold); on a mismatch writes the reason into why. */
static bool values_match(const mof_ivalue *got, const mof_ivalue *want, char *why, size_t size)
{
    static const char *const kinds[] = {"tensor", "sequence", "optional"};
    mof_ivalue_kind kg = mof_ivalue_get_kind(got), kw = mof_ivalue_get_kind(want);
    if (kg != kw) {
        snprintf(why, size, "got a %s, expected a %s", kinds[kg], kinds[kw]);
        return false;
    }
    switch (kw) {
    case MOF_IVALUE_TENSOR:
        return tensors_match(mof_ivalue_get_tensor(got), mof_ivalue_get_tensor(want), why, size);
    case MOF_IVALUE_SEQUENCE: {
        size_t n = mof_ivalue_length(want);
        if (mof_ivalue_length(got) != n) {
            snprintf(why, size, "got a sequence of %zu tensors, expected %zu",
                     mof_ivalue_length(got), n);
            return false;
        }
        for (size_t i = 0; i < n; i++) {
            char reason[400];
            if (!tensors_match(mof_ivalue_item(got, i), mof_ivalue_item(want, i), reason,
                               sizeof(reason))) {
                snprintf(why, size, "sequence item %zu: %s", i, reason);
                return false;
            }
        }
        return true;
    }
    case MOF_IVALUE_OPTIONAL: {
        const mof_ivalue *a = mof_ivalue_element(got), *b = mof_ivalue_element(want);
        if (!a || !b) {
            if (a == b)
                return true;
            snprintf(why, size, "got %s optional, expected %s one", a ? "a full" : "an empty",
                     b ? "a full" : "an empty");
            return false;
        }
        return values_match(a, b, why, size);
    }
    }
    return false;
}

/* Runs one data set; returns R_PASS, R_FAIL, R_REFUSED or R_BAD_DATA. */
static result run_data_set(mof_context *ctx, const mof_model *model, mof_interp *it,
                           const char *dir, char *why, size_t size)
{
    const mof_graph *g = mof_model_graph(model);
    size_t n_gin = mof_graph_n_inputs(g), n_gout = mof_graph_n_outputs(g);
    size_t n_in = count_files(dir, "input"), n_want = count_files(dir, "output");
    result r = R_FAIL;
    mof_ivalue **ins = NULL, **wants = NULL;
    mof_ivalue **feed = xcalloc(n_gin, sizeof(*feed));
    mof_ivalue **outs = xcalloc(n_gout, sizeof(*outs));
    /* The data set feeds the graph inputs that are not initializers, in order. */
    size_t *which = xcalloc(n_gin, sizeof(*which));
    size_t k = 0;
    for (size_t i = 0; i < n_gin; i++)
        if (!mof_value_is_initializer(mof_graph_input(g, i)))
            which[k++] = i;
    if (k != n_in || n_want != n_gout) {
        snprintf(why, size, "the data set has %zu inputs and %zu outputs, the model %zu and %zu",
                 n_in, n_want, k, n_gout);
        goto done;
    }
    mof_ivalue_kind *kinds = xcalloc(n_in + n_want, sizeof(*kinds));
    for (size_t i = 0; i < n_in; i++)
        kinds[i] = kind_of(mof_graph_input(g, which[i]));
    for (size_t i = 0; i < n_want; i++)
        kinds[n_in + i] = kind_of(mof_graph_output(g, i));
    ins = load_values(ctx, dir, "input", n_in, kinds, why, size);
    wants = ins ? load_values(ctx, dir, "output", n_want, kinds + n_in, why, size) : NULL;
    free(kinds);
    if (!ins || !wants)
        goto done;
    for (size_t j = 0; j < n_in; j++) {
        const mof_value *v = mof_graph_input(g, which[j]);
        fix_bfloat16(&ins[j], v);
        /* A few data sets of ONNX 1.12 contradict their own model (the CastLike
         * bfloat16 tests feed [1] to a [3,4] input): not the interpreter's test. */
        const mof_tensor *t = mof_ivalue_get_tensor(ins[j]);
        if (t && !fits_declared(t, v, why, size)) {
            r = R_BAD_DATA;
            goto done;
        }
        feed[which[j]] = ins[j];
    }
    for (size_t i = 0; i < n_gout; i++)
        fix_bfloat16(&wants[i], mof_graph_output(g, i));
    mof_status st = mof_interp_run_values(it, n_gin, feed, n_gout, outs);
    if (st != MOF_OK) {
        char *e = first_error(ctx);
        snprintf(why, size, "%s", e);
        free(e);
        r = st == MOF_ERR_UNSUPPORTED ? R_REFUSED : R_FAIL;
        goto done;
    }
    for (size_t i = 0; i < n_gout; i++) {
        char reason[600];
        const mof_value *ov = mof_graph_output(g, i);
        const mof_tensor *t = mof_ivalue_get_tensor(outs[i]);
        if (t && !fits_type(t, ov)) {
            char a[160], b[160];
            format_shape(a, sizeof(a), t);
            format_value_type(b, sizeof(b), ov);
            snprintf(why, size, "output %zu ('%s') is %s, but shape inference says %s", i,
                     mof_value_name(ov), a, b);
            goto done;
        }
        if (!values_match(outs[i], wants[i], reason, sizeof(reason))) {
            snprintf(why, size, "output %zu ('%s'): %s", i, mof_value_name(ov), reason);
            goto done;
        }
    }
    r = R_PASS;
done:
    for (size_t i = 0; ins && i < n_in; i++)
        mof_ivalue_unref(ins[i]);
    for (size_t i = 0; wants && i < n_want; i++)
        mof_ivalue_unref(wants[i]);
    for (size_t i = 0; i < n_gout; i++)
        mof_ivalue_unref(outs[i]);
    free(ins);
    free(wants);
    free(feed);
    free(outs);
    free(which);
    return r;
}

static result run_test(mof_context *ctx, const char *dir, mof_model **model_out, char *why,
                       size_t size)
{
    *model_out = NULL;
    mof_context_clear_diags(ctx);
    char *mpath = path_join(dir, "model.onnx");
    mof_model *model = mof_model_load(ctx, mpath);
    free(mpath);
    if (!model) {
        char *e = first_error(ctx);
        snprintf(why, size, "%s", e);
        free(e);
        return R_LOAD_FAILED;
    }
    *model_out = model;
    mof_interp *it = mof_interp_create(ctx, model);
    if (!it) {
        char *e = first_error(ctx);
        snprintf(why, size, "%s", e);
        free(e);
        mof_context_clear_diags(ctx);
        return R_NOT_CLAIMED;
    }
    /* Shape inference is checked too: it must accept the model, and the types it
     * gives the graph outputs must fit what the run computes. The interpreter only
     * reads the model, so inferring after creating it changes nothing it uses. */
    mof_status st = mof_infer_shapes(ctx, model);
    if (st != MOF_OK && st != MOF_UNCHANGED) {
        char *e = first_error(ctx);
        snprintf(why, size, "shape inference: %s", e);
        free(e);
        mof_interp_destroy(it);
        mof_context_clear_diags(ctx);
        return R_FAIL;
    }
    size_t n_sets;
    char **sets = list_dir(dir, "test_data_set_", &n_sets);
    result r = n_sets ? R_PASS : R_FAIL;
    if (!n_sets)
        snprintf(why, size, "no test_data_set_* folder");
    for (size_t i = 0; i < n_sets && r == R_PASS; i++) {
        char *sdir = path_join(dir, sets[i]);
        mof_context_clear_diags(ctx);
        r = run_data_set(ctx, model, it, sdir, why, size);
        free(sdir);
    }
    free_names(sets, n_sets);
    mof_interp_destroy(it);
    mof_context_clear_diags(ctx);
    return r;
}

/* Adds the result to the row of every op type of the model's main graph. */
static void count_ops(tally *t, const mof_model *model, result r)
{
    const mof_graph *g = mof_model_graph(model);
    size_t n = mof_graph_n_nodes(g), k = 0;
    const char **ops = xcalloc(n, sizeof(*ops));
    for (const mof_node *node = mof_graph_first_node(g); node; node = mof_node_next(node)) {
        const char *op = mof_node_op_type(node);
        bool seen = false;
        for (size_t i = 0; i < k && !seen; i++)
            seen = !strcmp(ops[i], op);
        if (seen)
            continue;
        ops[k++] = op;
        op_row *row = op_table_row(&t->ops, op);
        row->claimed++;
        if (r == R_PASS)
            row->passed++;
        else
            row->failed++;
    }
    free(ops);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: conformance [-v] [--data DIR] [FILTER]\n"
               "Runs the ONNX node tests of DIR (default %s) whose name contains FILTER\n"
               "through mof's reference interpreter.\n", DEFAULT_DATA);
}

int main(int argc, char **argv)
{
    const char *data = getenv("MOF_ONNX_NODE_TESTS");
    const char *filter = NULL;
    bool verbose = false;
    if (!data || !*data)
        data = DEFAULT_DATA;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-v")) {
            verbose = true;
        } else if (!strcmp(argv[i], "--data") && i + 1 < argc) {
            data = argv[++i];
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-' || filter) {
            usage(stderr);
            return 2;
        } else {
            filter = argv[i];
        }
    }
    size_t n_tests;
    char **tests = list_dir(data, "test_", &n_tests);
    if (!tests || !n_tests) {
        printf("conformance: no ONNX node tests in %s (install libonnx-testdata): skipped\n",
               data);
        free_names(tests, n_tests);
        return 77;
    }
    mof_context *ctx = mof_context_create();
    if (!ctx) {
        fprintf(stderr, "conformance: out of memory\n");
        return 2;
    }
    tally t = {0};
    for (size_t i = 0; i < n_tests; i++) {
        if (filter && !strstr(tests[i], filter))
            continue;
        char *dir = path_join(data, tests[i]);
        char *mpath = path_join(dir, "model.onnx");
        bool has_model = is_file(mpath);
        free(mpath);
        if (!has_model) {
            free(dir);
            continue;
        }
        char why[1024] = "";
        mof_model *model = NULL;
        result r = run_test(ctx, dir, &model, why, sizeof(why));
        free(dir);
        t.tests++;
        switch (r) {
        case R_PASS: t.passed++; break;
        case R_FAIL: t.failed++; break;
        case R_NOT_CLAIMED: t.not_claimed++; break;
        case R_REFUSED: t.refused++; break;
        case R_LOAD_FAILED: t.load_failed++; break;
        case R_BAD_DATA: t.bad_data++; break;
        }
        if (model && (r == R_PASS || r == R_FAIL))
            count_ops(&t, model, r);
        if (r == R_FAIL)
            printf("FAIL %s: %s\n", tests[i], why);
        else if (r == R_LOAD_FAILED || r == R_BAD_DATA)
            printf("%s %s: %s\n", r == R_BAD_DATA ? "BAD DATA" : "LOAD", tests[i], why);
        else if (verbose && r == R_PASS)
            printf("pass %s\n", tests[i]);
        else if (verbose)
            printf("%s %s: %s\n", r == R_REFUSED ? "refused" : "not claimed", tests[i], why);
        mof_model_destroy(model);
    }
    op_table_sort(&t.ops);
    printf("\n%-28s %8s %8s %8s\n", "op", "claimed", "passed", "failed");
    for (size_t i = 0; i < t.ops.n_rows; i++) {
        const op_row *row = &t.ops.rows[i];
        printf("%-28s %8d %8d %8d\n", row->op, row->claimed, row->passed, row->failed);
        free(row->op);
    }
    free(t.ops.rows);
    int claimed = t.passed + t.failed;
    printf("\nconformance: %d passed, %d failed of %d claimed (%d tests, %d not claimed)\n",
           t.passed, t.failed, claimed, t.tests,
           t.not_claimed + t.refused + t.load_failed + t.bad_data);
    if (t.refused || t.load_failed || t.bad_data)
        printf("  of those not claimed: %d refused at run time (a type or mode the kernel does "
               "not implement), %d whose model could not be loaded, %d whose data contradicts "
               "the model\n", t.refused, t.load_failed, t.bad_data);
    free_names(tests, n_tests);
    mof_context_destroy(ctx);
    return t.failed ? 1 : 0;
}
