/* Tests of the ONNX text syntax (formats/text, <mof/text.h>):
 *   - round trips: every node test model of libonnx-testdata whose constants print in
 *     full parses back, from its text, to the same graph (compared structure by
 *     structure), and prints to the same text again; the count is printed;
 *   - the syntax the onnx parser accepts (header fields, types, constants, attributes
 *     of every type, node names, domains, subgraphs, forward references);
 *   - every error names file:line:col and what was expected;
 *   - elided constants, value types, .onnxtxt files.
 *
 * The structural comparison reads the IR's own structures (ir_private.h: attribute
 * lists, packed types), which the public API does not expose; it calls no internal
 * function, so the test links against libmof alone. */
#define _XOPEN_SOURCE 700 /* mkdtemp, strdup */
#include "config.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "ir_private.h"

#define TESTDATA_DIR "/usr/share/libonnx-testdata/data"

/* Constants up to this many elements make a model "small enough to print inline". */
#define ROUND_TRIP_MAX_ELEMENTS 100000

/* ------------------------------------------------------------------ comparing */

/* Where two models first differ, as a path ("graph 'g' node 3 attr 'axes'"). */
typedef struct diff {
    char what[512];
} diff;

static bool differ(diff *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool differ(diff *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->what, sizeof(d->what), fmt, ap);
    va_end(ap);
    return false;
}

static const char *nz(const char *s)
{
    return s ? s : "";
}

static bool same_str(const char *a, const char *b)
{
    return strcmp(nz(a), nz(b)) == 0;
}

static bool same_type(const mof_type *a, const mof_type *b)
{
    if (a->kind != b->kind)
        return false;
    if (a->kind == MOF_TYPE_OPAQUE)
        return a->extra.size == b->extra.size &&
               (!a->extra.size || memcmp(a->extra.data, b->extra.data, a->extra.size) == 0);
    if (a->kind != MOF_TYPE_TENSOR)
        return true;
    if (a->has_elem_type != b->has_elem_type || a->elem_type != b->elem_type ||
        a->has_shape != b->has_shape || a->rank != b->rank)
        return false;
    for (size_t i = 0; i < a->rank; i++) {
        const mof_dim *x = &a->dims[i], *y = &b->dims[i];
        if (x->kind != y->kind || (x->kind == MOF_DIM_VALUE && x->value != y->value) ||
            (x->kind == MOF_DIM_PARAM && !same_str(x->param, y->param)))
            return false;
    }
    return true;
}

static bool same_float(float a, float b)
{
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof(a)) == 0;
}

static bool same_tensor(const mof_tensor *a, const mof_tensor *b)
{
    if (!a || !b)
        return a == b;
    return mof_tensor_equal(a, b) &&
           same_str(a->proto ? a->proto->name : NULL, b->proto ? b->proto->name : NULL);
}

static bool same_graph(const mof_graph *a, const mof_graph *b, diff *d);

static bool same_listings(const mof_listing *a, size_t na, const mof_listing *b, size_t nb,
                          const char *what, const mof_graph *g, diff *d)
{
    if (na != nb)
        return differ(d, "graph '%s': %zu %s, then %zu", nz(g->name), na, what, nb);
    for (size_t i = 0; i < na; i++) {
        if (strcmp(a[i].value->name, b[i].value->name) != 0)
            return differ(d, "graph '%s': %s %zu is '%s', then '%s'", nz(g->name), what, i,
                          a[i].value->name, b[i].value->name);
        if (!same_type(&a[i].value->type, &b[i].value->type))
            return differ(d, "graph '%s': %s '%s' changed type", nz(g->name), what,
                          a[i].value->name);
    }
    return true;
}

static bool same_attr(const mof_attr *a, const mof_attr *b, diff *d, const char *where)
{
    if (!same_str(a->name, b->name) || a->type != b->type ||
        !same_str(a->ref_attr_name, b->ref_attr_name))
        return differ(d, "%s: attribute '%s' (type %d) became '%s' (type %d)", where,
                      nz(a->name), a->type, nz(b->name), b->type);
    if (a->ref_attr_name)
        return true;
    if (a->type == MOF_ATTR_TYPE_PROTO || a->type == MOF_ATTR_TYPE_PROTOS)
        return (a->extra.size == b->extra.size &&
                memcmp(a->extra.data, b->extra.data, a->extra.size) == 0) ||
               differ(d, "%s: attribute '%s' changed type proto", where, nz(a->name));
    bool same = true;
    switch (a->type) {
    case MOF_ATTR_FLOAT: same = same_float(a->f, b->f); break;
    case MOF_ATTR_INT: same = a->i == b->i; break;
    case MOF_ATTR_STRING:
        same = a->s_size == b->s_size && memcmp(nz(a->s), nz(b->s), a->s_size) == 0;
        break;
    case MOF_ATTR_TENSOR: same = same_tensor(a->t, b->t); break;
    case MOF_ATTR_GRAPH:
        if (!a->g || !b->g)
            same = a->g == b->g;
        else if (!same_graph(a->g, b->g, d))
            return false;
        break;
    default:
        if (a->n != b->n) {
            same = false;
            break;
        }
        for (size_t i = 0; i < a->n && same; i++) {
            switch (a->type) {
            case MOF_ATTR_FLOATS: same = same_float(a->floats[i], b->floats[i]); break;
            case MOF_ATTR_INTS: same = a->ints[i] == b->ints[i]; break;
            case MOF_ATTR_STRINGS:
                same = a->strings[i].size == b->strings[i].size &&
                       memcmp(nz(a->strings[i].data), nz(b->strings[i].data),
                              a->strings[i].size) == 0;
                break;
            case MOF_ATTR_TENSORS: same = same_tensor(a->tensors[i], b->tensors[i]); break;
            case MOF_ATTR_GRAPHS:
                if (!same_graph(a->graphs[i], b->graphs[i], d))
                    return false;
                break;
            default: break;
            }
        }
        break;
    }
    return same || differ(d, "%s: attribute '%s' changed value", where, nz(a->name));
}

static const char *value_name(const mof_value *v)
{
    return v ? v->name : "";
}

static bool same_node(const mof_node *a, const mof_node *b, size_t index, diff *d)
{
    char where[256];
    snprintf(where, sizeof(where), "graph '%s' node %zu ('%s', %s)", nz(a->graph->name), index,
             nz(a->name), nz(a->op_type));
    if (!same_str(a->op_type, b->op_type) || !same_str(a->domain, b->domain) ||
        !same_str(a->name, b->name))
        return differ(d, "%s: became '%s' (%s.%s)", where, nz(b->name), nz(b->domain),
                      nz(b->op_type));
    if (a->n_inputs != b->n_inputs || a->n_outputs != b->n_outputs || a->n_attrs != b->n_attrs)
        return differ(d, "%s: %zu/%zu/%zu inputs/outputs/attributes, then %zu/%zu/%zu", where,
                      a->n_inputs, a->n_outputs, a->n_attrs, b->n_inputs, b->n_outputs,
                      b->n_attrs);
    for (size_t i = 0; i < a->n_inputs; i++) {
        if (strcmp(value_name(a->inputs[i]), value_name(b->inputs[i])) != 0)
            return differ(d, "%s: input %zu '%s' became '%s'", where, i,
                          value_name(a->inputs[i]), value_name(b->inputs[i]));
        if (a->inputs[i] && (a->inputs[i]->graph == a->graph) != (b->inputs[i]->graph == b->graph))
            return differ(d, "%s: input %zu resolved in another graph", where, i);
    }
    for (size_t i = 0; i < a->n_outputs; i++) {
        if (strcmp(value_name(a->outputs[i]), value_name(b->outputs[i])) != 0)
            return differ(d, "%s: output %zu '%s' became '%s'", where, i,
                          value_name(a->outputs[i]), value_name(b->outputs[i]));
    }
    for (size_t i = 0; i < a->n_attrs; i++) {
        if (!same_attr(&a->attrs[i], &b->attrs[i], d, where))
            return false;
    }
    return true;
}

static bool same_graph(const mof_graph *a, const mof_graph *b, diff *d)
{
    if (!same_str(a->name, b->name))
        return differ(d, "graph '%s' became '%s'", nz(a->name), nz(b->name));
    if (!same_listings(a->inputs, a->n_inputs, b->inputs, b->n_inputs, "inputs", a, d) ||
        !same_listings(a->outputs, a->n_outputs, b->outputs, b->n_outputs, "outputs", a, d) ||
        !same_listings(a->value_infos, a->n_value_infos, b->value_infos, b->n_value_infos,
                       "value infos", a, d))
        return false;
    if (a->n_initializers != b->n_initializers)
        return differ(d, "graph '%s': %zu initializers, then %zu", nz(a->name),
                      a->n_initializers, b->n_initializers);
    for (size_t i = 0; i < a->n_initializers; i++) {
        const mof_value *x = a->initializers[i], *y = b->initializers[i];
        if (strcmp(x->name, y->name) != 0 || !mof_tensor_equal(x->tensor, y->tensor))
            return differ(d, "graph '%s': initializer '%s' differs", nz(a->name), x->name);
    }
    if (a->n_nodes != b->n_nodes)
        return differ(d, "graph '%s': %zu nodes, then %zu", nz(a->name), a->n_nodes, b->n_nodes);
    size_t i = 0;
    for (const mof_node *x = a->first, *y = b->first; x; x = x->next, y = y->next, i++) {
        if (!same_node(x, y, i, d))
            return false;
    }
    /* The same values, with the same flags (undefined, captured) and types. */
    if (a->n_values != b->n_values)
        return differ(d, "graph '%s': %zu values, then %zu", nz(a->name), a->n_values,
                      b->n_values);
    for (size_t k = 0; k < a->n_values; k++) {
        const mof_value *x = a->values[k];
        const mof_value *y = mof_graph_find_value(b, x->name);
        if (!y)
            return differ(d, "graph '%s': value '%s' is gone", nz(a->name), x->name);
        if (x->flags != y->flags || x->n_uses != y->n_uses || !same_type(&x->type, &y->type))
            return differ(d, "graph '%s': value '%s' has flags %u, %zu uses, then %u, %zu",
                          nz(a->name), x->name, x->flags, x->n_uses, y->flags, y->n_uses);
    }
    return true;
}

static bool same_model(const mof_model *a, const mof_model *b, diff *d)
{
    if (a->has_ir_version != b->has_ir_version || a->ir_version != b->ir_version)
        return differ(d, "ir_version differs");
    if (a->n_opsets != b->n_opsets)
        return differ(d, "%zu opset imports, then %zu", a->n_opsets, b->n_opsets);
    for (size_t i = 0; i < a->n_opsets; i++) {
        if (!same_str(a->opsets[i].domain, b->opsets[i].domain) ||
            a->opsets[i].version != b->opsets[i].version)
            return differ(d, "opset import %zu differs", i);
    }
    if (!same_str(a->producer_name, b->producer_name) ||
        !same_str(a->producer_version, b->producer_version) || !same_str(a->domain, b->domain) ||
        !same_str(a->doc_string, b->doc_string) || a->model_version != b->model_version)
        return differ(d, "model fields differ");
    if (a->n_metadata != b->n_metadata)
        return differ(d, "metadata differs");
    for (size_t i = 0; i < a->n_metadata; i++) {
        if (!same_str(a->metadata[i].key, b->metadata[i].key) ||
            !same_str(a->metadata[i].value, b->metadata[i].value))
            return differ(d, "metadata %zu differs", i);
    }
    return same_graph(a->graph, b->graph, d);
}

/* ------------------------------------------------------------------ helpers */

static mof_model *parse(mof_context *ctx, const char *text)
{
    mof_model *m = mof_model_parse_text(ctx, text, strlen(text), "t.onnxtxt");
    if (!m)
        mof_test_print_diags(ctx);
    return m;
}

/* Parses text that must fail and checks the one diagnostic's exact text. */
static void expect_error(const char *text, const char *want)
{
    mof_context *ctx = mof_context_create();
    mof_model *m = mof_model_parse_text(ctx, text, strlen(text), "t.onnxtxt");
    ck_assert_msg(m == NULL, "parsed, but expected: %s", want);
    ck_assert_uint_eq(mof_context_n_diags(ctx), 1);
    char *got = mof_diag_format(mof_context_diag(ctx, 0));
    ck_assert_str_eq(got, want);
    free(got);
    mof_context_destroy(ctx);
}

/* print -> parse -> compare -> print again gives the same text. */
static void check_round_trip(mof_context *ctx, const mof_model *m)
{
    char *text = mof_model_print_text(m, NULL);
    ck_assert_ptr_nonnull(text);
    mof_model *back = mof_model_parse_text(ctx, text, strlen(text), "printed");
    if (!back)
        mof_test_print_diags(ctx);
    ck_assert_msg(back != NULL, "the printed text does not parse:\n%s", text);
    diff d = {{0}};
    ck_assert_msg(same_model(m, back, &d), "%s\n%s", d.what, text);
    char *again = mof_model_print_text(back, NULL);
    ck_assert_str_eq(again, text);
    free(again);
    free(text);
    mof_model_destroy(back);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ------------------------------------------------------------------ round trips */

/* The node test models' folder names, sorted; NULL (and a note) when the test data is
 * not installed. */
static char **list_node_models(char *dir, size_t dir_size, size_t *count)
{
    const char *root = getenv("MOF_ONNX_TESTDATA");
    snprintf(dir, dir_size, "%s/node", root ? root : TESTDATA_DIR);
    *count = 0;
    DIR *dp = opendir(dir);
    if (!dp) {
        fprintf(stderr, "test_text: %s not found (Debian package libonnx-testdata); "
                        "skipping the tests over the ONNX node test models\n", dir);
        return NULL;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *e; (e = readdir(dp));) {
        char path[8192];
        snprintf(path, sizeof(path), "%s/%s/model.onnx", dir, e->d_name);
        if (e->d_name[0] == '.' || access(path, R_OK) != 0)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            names = realloc(names, cap * sizeof(*names));
            ck_assert_ptr_nonnull(names);
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(dp);
    qsort(names, n, sizeof(*names), cmp_str);
    *count = n;
    return names;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

START_TEST(test_round_trip_testdata)
{
    char dir[4096];
    size_t n;
    char **names = list_node_models(dir, sizeof(dir), &n);
    if (!names)
        return;

    mof_context *ctx = mof_context_create();
    mof_text_options opts;
    mof_text_options_init(&opts);
    opts.max_elements = ROUND_TRIP_MAX_ELEMENTS;
    size_t n_models = 0, n_ok = 0, n_large = 0, n_lossy = 0, n_failed = 0;
    for (size_t i = 0; i < n; i++) {
        char path[8192];
        snprintf(path, sizeof(path), "%s/%s/model.onnx", dir, names[i]);
        n_models++;
        mof_model *m = mof_model_load(ctx, path);
        ck_assert_msg(m != NULL, "cannot load %s", path);
        char *text = mof_model_print_text(m, &opts);
        ck_assert_ptr_nonnull(text);
        if (strstr(text, "cannot be parsed back")) {
            n_large++;
        } else if (strncmp(text, "# mof:", 6) == 0) {
            /* Something the syntax cannot write (local functions, sparse attributes). */
            n_lossy++;
        } else {
            mof_model *back = mof_model_parse_text(ctx, text, strlen(text), path);
            diff d = {{0}};
            char *again = back ? mof_model_print_text(back, &opts) : NULL;
            if (!back || !same_model(m, back, &d) || !again || strcmp(again, text) != 0) {
                fprintf(stderr, "test_text: round trip failed: %s: %s\n", names[i],
                        back ? d.what[0] ? d.what : "the text printed again differs"
                             : "the text does not parse");
                mof_test_print_diags(ctx);
                n_failed++;
            } else if (mof_graph_verify(ctx, mof_model_graph(back)) != MOF_OK) {
                fprintf(stderr, "test_text: %s: the parsed graph does not verify\n", names[i]);
                mof_test_print_diags(ctx);
                n_failed++;
            } else {
                n_ok++;
            }
            free(again);
            mof_model_destroy(back);
            mof_context_clear_diags(ctx);
        }
        free(text);
        mof_model_destroy(m);
    }
    fprintf(stderr,
            "test_text: text round trip: %zu of %zu ONNX node test models parse back to the "
            "same graph (%zu with constants over %d elements and %zu with parts the syntax "
            "cannot write were not tried; %zu failed)\n",
            n_ok, n_models, n_large, ROUND_TRIP_MAX_ELEMENTS, n_lossy, n_failed);
    ck_assert_uint_eq(n_failed, 0);
    ck_assert_uint_gt(n_ok, 900);
    free_names(names, n);
    mof_context_destroy(ctx);
}
END_TEST

/* The Python that has the onnx text parser: $MOF_TEST_PYTHON, else the source tree's
 * .venv (tests/python/setup-venv.sh); NULL when there is none. */
static const char *find_python(char *buf, size_t size)
{
    const char *env = getenv("MOF_TEST_PYTHON");
    if (env && *env)
        return env;
    snprintf(buf, size, "%s/.venv/bin/python", MOF_TEST_SRCDIR);
    return access(buf, X_OK) == 0 ? buf : NULL;
}

static void remove_dir(const char *dir)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return;
    for (struct dirent *e; (e = readdir(dp));) {
        char path[8192];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (e->d_name[0] != '.')
            unlink(path);
    }
    closedir(dp);
    rmdir(dir);
}

/* Both ways against the onnx package (tests/python/text_crosscheck.py): onnx.parser
 * reads every text mof prints as the original model, and mof reads every text
 * onnx.printer writes as the original model. */
START_TEST(test_onnx_crosscheck)
{
    char pybuf[4096], dir[4096];
    const char *python = find_python(pybuf, sizeof(pybuf));
    if (!python) {
        fprintf(stderr, "test_text: no Python with the onnx package (set MOF_TEST_PYTHON, or "
                        "run tests/python/setup-venv.sh); skipping the cross-check with "
                        "onnx.parser and onnx.printer\n");
        return;
    }
    size_t n;
    char **names = list_node_models(dir, sizeof(dir), &n);
    if (!names)
        return;
    char base[] = "/tmp/mof-test-text-xcheck-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(base));
    char mof_dir[256], onnx_dir[256];
    snprintf(mof_dir, sizeof(mof_dir), "%s/mof", base);
    snprintf(onnx_dir, sizeof(onnx_dir), "%s/onnx", base);
    ck_assert_int_eq(mkdir(mof_dir, 0700), 0);
    ck_assert_int_eq(mkdir(onnx_dir, 0700), 0);

    mof_context *ctx = mof_context_create();
    mof_text_options opts;
    mof_text_options_init(&opts);
    opts.max_elements = ROUND_TRIP_MAX_ELEMENTS;
    size_t written = 0;
    for (size_t i = 0; i < n; i++) {
        char path[8192];
        snprintf(path, sizeof(path), "%s/%s/model.onnx", dir, names[i]);
        mof_model *m = mof_model_load(ctx, path);
        ck_assert_ptr_nonnull(m);
        char *text = mof_model_print_text(m, &opts);
        if (strncmp(text, "# mof:", 6) != 0) {
            snprintf(path, sizeof(path), "%s/%s.onnxtxt", mof_dir, names[i]);
            FILE *f = fopen(path, "w");
            ck_assert_ptr_nonnull(f);
            fputs(text, f);
            fclose(f);
            written++;
        }
        free(text);
        mof_model_destroy(m);
    }

    char cmd[16384];
    snprintf(cmd, sizeof(cmd), "'%s' '%s/tests/python/text_crosscheck.py' '%s' '%s' '%s' >&2",
             python, MOF_TEST_SRCDIR, dir, mof_dir, onnx_dir);
    int rc = system(cmd);
    rc = WIFEXITED(rc) ? WEXITSTATUS(rc) : 1;
    if (rc == 77) {
        fprintf(stderr, "test_text: %s has no onnx text parser; cross-check skipped\n", python);
    } else {
        ck_assert_msg(rc == 0, "onnx.parser does not read mof's texts as the original models");
        size_t same = 0, tried = 0;
        for (size_t i = 0; i < n; i++) {
            char path[8192];
            snprintf(path, sizeof(path), "%s/%s.onnxtxt", onnx_dir, names[i]);
            if (access(path, R_OK) != 0)
                continue;
            tried++;
            mof_model *back = mof_model_load_text(ctx, path);
            snprintf(path, sizeof(path), "%s/%s/model.onnx", dir, names[i]);
            mof_model *m = mof_model_load(ctx, path);
            diff d = {{0}};
            if (back && same_model(m, back, &d))
                same++;
            else
                fprintf(stderr, "test_text: mof reads onnx.printer's text of %s as another "
                                "model: %s\n", names[i], back ? d.what : "it does not parse");
            mof_test_print_diags(ctx);
            mof_context_clear_diags(ctx);
            mof_model_destroy(back);
            mof_model_destroy(m);
        }
        fprintf(stderr, "test_text: mof reads %zu of %zu onnx.printer texts as the original "
                        "model\n", same, tried);
        ck_assert_uint_eq(same, tried);
        ck_assert_uint_eq(tried, written);
    }
    remove_dir(mof_dir);
    remove_dir(onnx_dir);
    rmdir(base);
    free_names(names, n);
    mof_context_destroy(ctx);
}
END_TEST

/* ------------------------------------------------------------------ the syntax */

static const char FULL[] =
    "<\n"
    "   ir_version: 9,\n"
    "   opset_import: [\"\" : 18, \"com.example\" : 1],\n"
    "   producer_name: \"mof test\",\n"
    "   producer_version: \"1.0\",\n"
    "   domain: \"org.mof\",\n"
    "   model_version: 7,\n"
    "   doc_string: \"a \\\"quoted\\\" doc\",\n"
    "   metadata_props: [\"k\": \"v\", \"a\": \"b\"]\n"
    ">\n"
    "main (float[N,3] x, int64[2] shape, seq(float[]) s, map(string, float) mp,\n"
    "      optional(seq(int32[4])) o, bool flag, float[] anyrank, float[?,3] q)\n"
    "  => (float[N,3] y, float[N,3] \"out.1\", z)\n"
    "   <float[3] w = {1.5, -2, 3e-05},\n"
    "    int64[2] shape = {2, 3},\n"
    "    string[2] names = {\"a\\\"b\", \"c\\\\d\"},\n"
    "    bool[3] bits = {1, 0, true},\n"
    "    double c = {0.1},\n"
    "    float16[2] h = {15360, 16384},\n"
    "    uint64[1] big = {18446744073709551615},\n"
    "    float[0,3] empty = {},\n"
    "    float[N,3] t0>\n"
    "{\n"
    "   [first] t0 = Add (x, w)   # a comment\n"
    "   t1 = com.example.Custom <alpha: float = 0.5, n: int = -3, s: string = \"hi\",\n"
    "        fs: floats = [1, 2.5, inf, -inf], is: ints = [], ss: strings = [\"x\", \"\"],\n"
    "        t: tensor = int64[2] named {4, 5}, ts: tensors = [float {1}, float[1] {2}],\n"
    "        r: int = @outer, g: graph = body () => (float[N,3] bo) {\n"
    "           bo = Neg (t0)\n"
    "        }> (t0, \"\", later)\n"
    "   y = If (flag) <then_branch: graph = then_g () => (float[N,3] a) {\n"
    "           a = Identity (t1)\n"
    "        }, else_branch: graph = else_g () => (float[N,3] b) {\n"
    "           b = Identity (x)\n"
    "        }>\n"
    "   later, \"\" = Split <axis = 0, guessed = 1.5, gl = [1, 2.5], gs = \"str\",\n"
    "        tp: type_proto = seq(float[2]), tg = optional(int64), tps: type_protos = [float, map(int64, "
    "string)]> (x)\n"
    "   \"out.1\" = Relu (later)\n"
    "   = Print (y)\n"
    "}\n";

START_TEST(test_parse_full)
{
    mof_context *ctx = mof_context_create();
    mof_model *m = parse(ctx, FULL);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(mof_model_ir_version(m), 9);
    ck_assert_int_eq(mof_model_opset(m, ""), 18);
    ck_assert_int_eq(mof_model_opset(m, "com.example"), 1);
    ck_assert_str_eq(mof_model_producer_name(m), "mof test");
    ck_assert_str_eq(m->doc_string, "a \"quoted\" doc");
    ck_assert_str_eq(mof_model_metadata_get(m, "a"), "b");

    mof_graph *g = mof_model_graph(m);
    ck_assert_str_eq(mof_graph_name(g), "main");
    ck_assert_uint_eq(mof_graph_n_inputs(g), 8);
    mof_value *x = mof_graph_input(g, 0);
    ck_assert_int_eq(mof_value_rank(x), 2);
    ck_assert_str_eq(mof_value_dim_symbol(x, 0), "N");
    ck_assert_int_eq(mof_value_dim(x, 1), 3);
    ck_assert_int_eq(mof_value_rank(mof_graph_input(g, 5)), 0);  /* bool: a scalar */
    ck_assert_int_eq(mof_value_rank(mof_graph_input(g, 6)), -1); /* float[]: no shape */
    ck_assert_int_eq(mof_value_dim(mof_graph_input(g, 7), 0), MOF_DIM_UNKNOWN);
    ck_assert_ptr_null(mof_value_dim_symbol(mof_graph_input(g, 7), 0));
    ck_assert_int_eq(mof_graph_input(g, 2)->type.kind, MOF_TYPE_OPAQUE);
    /* An initializer that is also an input (IR < 4 style) keeps both roles. */
    mof_value *shape = mof_graph_input(g, 1);
    ck_assert(mof_value_is_initializer(shape) && !mof_value_is_constant(shape));

    ck_assert_uint_eq(mof_graph_n_initializers(g), 8);
    const float *w = mof_tensor_data(mof_value_tensor(mof_graph_initializer(g, 0)));
    ck_assert(w[0] == 1.5f && w[1] == -2.0f && w[2] == 3e-05f);
    const mof_string *names = mof_tensor_data(mof_value_tensor(mof_graph_find_value(g, "names")));
    ck_assert_str_eq(names[0].data, "a\"b");
    ck_assert_str_eq(names[1].data, "c\\d");
    const uint8_t *bits = mof_tensor_data(mof_value_tensor(mof_graph_find_value(g, "bits")));
    ck_assert(bits[0] == 1 && bits[1] == 0 && bits[2] == 1);
    mof_tensor *c = mof_value_tensor(mof_graph_find_value(g, "c"));
    ck_assert_uint_eq(mof_tensor_rank(c), 0);
    ck_assert(*(const double *)mof_tensor_data(c) == 0.1);
    ck_assert(*(const uint64_t *)mof_tensor_data(
                  mof_value_tensor(mof_graph_find_value(g, "big"))) == UINT64_MAX);
    ck_assert_int_eq(mof_tensor_numel(mof_value_tensor(mof_graph_find_value(g, "empty"))), 0);
    ck_assert_uint_eq(g->n_value_infos, 1);

    ck_assert_uint_eq(mof_graph_n_outputs(g), 3);
    ck_assert_str_eq(mof_value_name(mof_graph_output(g, 1)), "out.1");
    mof_value *z = mof_graph_output(g, 2);
    ck_assert(!mof_value_has_type(z) && (z->flags & MOF_VF_UNDEFINED));

    mof_node *n0 = mof_graph_first_node(g);
    ck_assert_str_eq(mof_node_name(n0), "first");
    ck_assert_str_eq(mof_node_origin(n0, 0), "first");
    mof_node *n1 = mof_node_next(n0);
    ck_assert_str_eq(mof_node_domain(n1), "com.example");
    ck_assert_str_eq(mof_node_op_type(n1), "Custom");
    ck_assert_str_eq(mof_node_origin(n1, 0), "Custom#1");
    ck_assert(mof_node_attr_float(n1, "alpha", 0) == 0.5f);
    ck_assert_int_eq(mof_node_attr_int(n1, "n", 0), -3);
    ck_assert_str_eq(mof_node_attr_string(n1, "s", "", NULL), "hi");
    size_t count;
    const float *fs = mof_node_attr_floats(n1, "fs", &count);
    ck_assert_uint_eq(count, 4);
    ck_assert(fs[1] == 2.5f && isinf(fs[2]) && fs[3] < 0);
    ck_assert_int_eq(mof_node_attr_type(n1, "is"), MOF_ATTR_INTS);
    ck_assert_int_eq(mof_node_attr_type(n1, "ss"), MOF_ATTR_STRINGS);
    ck_assert_int_eq(mof_node_attr_type(n1, "ts"), MOF_ATTR_TENSORS);
    mof_tensor *t = mof_node_attr_tensor(n1, "t");
    ck_assert_str_eq(t->proto->name, "named");
    ck_assert_int_eq(mof_node_attr_type(n1, "r"), MOF_ATTR_INT);
    ck_assert_str_eq(n1->attrs[8].ref_attr_name, "outer");
    /* Inputs: an omitted one, and one defined by a later node. */
    ck_assert_ptr_null(mof_node_input(n1, 1));
    ck_assert_str_eq(mof_value_name(mof_node_input(n1, 2)), "later");
    ck_assert_ptr_nonnull(mof_value_producer(mof_node_input(n1, 2), NULL));
    /* The subgraph reads t0 from the main graph: a capture. */
    mof_graph *body = mof_node_attr_graph(n1, "g");
    mof_value *cap_t0 = mof_node_input(mof_graph_first_node(body), 0);
    ck_assert(cap_t0->flags & MOF_VF_CAPTURE);
    ck_assert_ptr_eq(cap_t0->outer, mof_graph_find_value(g, "t0"));

    mof_node *n2 = mof_node_next(n1);
    ck_assert_uint_eq(mof_node_n_subgraphs(n2), 2);
    mof_node *split = mof_node_next(n2);
    ck_assert_uint_eq(mof_node_n_outputs(split), 2);
    ck_assert_ptr_null(mof_node_output(split, 1));
    /* Types guessed from the literals. */
    ck_assert_int_eq(mof_node_attr_type(split, "axis"), MOF_ATTR_INT);
    ck_assert_int_eq(mof_node_attr_type(split, "guessed"), MOF_ATTR_FLOAT);
    ck_assert_int_eq(mof_node_attr_type(split, "gl"), MOF_ATTR_FLOATS);
    ck_assert_int_eq(mof_node_attr_type(split, "gs"), MOF_ATTR_STRING);
    ck_assert_int_eq(mof_node_attr_type(split, "tp"), MOF_ATTR_TYPE_PROTO);
    ck_assert_int_eq(mof_node_attr_type(split, "tg"), MOF_ATTR_TYPE_PROTO);
    ck_assert_int_eq(mof_node_attr_type(split, "tps"), MOF_ATTR_TYPE_PROTOS);
    /* Names left out, as the onnx parser reads them: "(x, , y)" omits the second input,
     * and a name left out after the last comma counts for nothing. */
    mof_model *lo = parse(ctx, "g (float x) => () {\n  a, , b = Foo (, x, , x, )\n  = Bar (x, \"\")\n}");
    ck_assert_ptr_nonnull(lo);
    mof_node *foo = mof_graph_first_node(mof_model_graph(lo));
    ck_assert_uint_eq(mof_node_n_outputs(foo), 3);
    ck_assert_ptr_null(mof_node_output(foo, 1));
    ck_assert_uint_eq(mof_node_n_inputs(foo), 4);
    ck_assert_ptr_null(mof_node_input(foo, 0));
    ck_assert_ptr_null(mof_node_input(foo, 2));
    ck_assert_uint_eq(mof_node_n_inputs(mof_node_next(foo)), 2);
    mof_model_destroy(lo);

    mof_node *print = mof_graph_last_node(g);
    ck_assert_uint_eq(mof_node_n_outputs(print), 0);
    /* Like the binary reader, the parser takes what ONNX files may hold (a later
     * definition, an output defined nowhere); verification names both. */
    ck_assert_int_eq(mof_graph_verify(ctx, g), MOF_ERR_VERIFY);
    ck_assert(mof_test_diag_contains(ctx, "input 'later' is produced by node '', which comes "
                                          "later"));
    ck_assert(mof_test_diag_contains(ctx, "output 'z' is not defined anywhere"));
    mof_context_clear_diags(ctx);

    check_round_trip(ctx, m);
    mof_model_destroy(m);
    mof_context_destroy(ctx);
}
END_TEST

START_TEST(test_print_form)
{
    /* The layout the printer writes, which pass tests match line by line. */
    static const char text[] =
        "<ir_version: 8, opset_import: [\"\" : 13]>\n"
        "g (float[2] x) => (float[2] y) <float[2] b = {1, 2}> {\n"
        "  [n0] t = Add <> (x, b)\n"
        "  y = Gemm <alpha = 1.0, transA = 1> (t, t)\n"
        "}\n";
    static const char want[] =
        "<\n"
        "   ir_version: 8,\n"
        "   opset_import: [\"\" : 13]\n"
        ">\n"
        "g (float[2] x) => (float[2] y)\n"
        "   <float[2] b = {1, 2}>\n"
        "{\n"
        "   [n0] t = Add (x, b)\n"
        "   y = Gemm <alpha: float = 1, transA: int = 1> (t, t)\n"
        "}\n";
    mof_context *ctx = mof_context_create();
    mof_model *m = parse(ctx, text);
    ck_assert_ptr_nonnull(m);
    char *got = mof_model_print_text(m, NULL);
    ck_assert_str_eq(got, want);
    free(got);
    mof_model_destroy(m);

    /* Without a header: the defaults of mof_model_create. */
    m = parse(ctx, "g () => () {}");
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(mof_model_ir_version(m), 8);
    ck_assert_int_eq(mof_model_opset(m, ""), 13);
    mof_model_destroy(m);
    mof_context_destroy(ctx);
}
END_TEST

START_TEST(test_elided_constants)
{
    mof_context *ctx = mof_context_create();
    mof_model *m = parse(ctx, "<ir_version: 8, opset_import: [\"\" : 13]>\n"
                              "g (float[4] x) => (float[4] y) <float[4] w = {1, 2, 3, 4}> {\n"
                              "  y = Add (x, w)\n"
                              "  k = Constant <value = float[2,2] {1, 2, 3, 4}> ()\n"
                              "}\n");
    ck_assert_ptr_nonnull(m);
    mof_text_options opts;
    mof_text_options_init(&opts);
    opts.max_elements = 3;
    char *text = mof_model_print_text(m, &opts);
    ck_assert_ptr_nonnull(strstr(text, "   <float[4] w = ...>\n"));
    ck_assert_ptr_nonnull(strstr(text, "<value: tensor = float[2,2] ...>"));
    ck_assert_ptr_nonnull(strstr(text, "# mof: 2 constants written without their data (\"...\": "
                                       "more than 3 elements, or complex numbers): this text "
                                       "cannot be parsed back\n"));
    ck_assert(strncmp(text, "# mof:", 6) == 0);
    mof_model *back = mof_model_parse_text(ctx, text, strlen(text), "elided");
    ck_assert_ptr_null(back);
    ck_assert(mof_test_diag_contains(ctx, "elided:7:18: error: constant 'w' was written "
                                          "without its data (\"...\")"));
    free(text);
    mof_model_destroy(m);
    mof_context_destroy(ctx);
}
END_TEST

START_TEST(test_value_types)
{
    mof_context *ctx = mof_context_create();
    mof_model *m = parse(ctx, "<ir_version: 8, opset_import: [\"\" : 13]>\n"
                              "g (float[N,4] x) => (float[N,4] y) {\n"
                              "  t = Relu (x)\n"
                              "  y = Neg (t)\n"
                              "}\n");
    ck_assert_ptr_nonnull(m);
    ck_assert_status(ctx, mof_infer_shapes(ctx, m), MOF_OK);
    char *plain = mof_model_print_text(m, NULL);
    ck_assert_ptr_null(strstr(plain, "float[N,4] t"));
    mof_text_options opts;
    mof_text_options_init(&opts);
    opts.value_types = true;
    char *typed = mof_model_print_text(m, &opts);
    ck_assert_ptr_nonnull(strstr(typed, "g (float[N,4] x) => (float[N,4] y)\n"
                                        "   <float[N,4] t>\n{\n"));
    mof_model *back = parse(ctx, typed);
    ck_assert_ptr_nonnull(back);
    ck_assert_uint_eq(mof_model_graph(back)->n_value_infos, 1);
    mof_model_destroy(back);
    free(plain);
    free(typed);
    mof_model_destroy(m);
    mof_context_destroy(ctx);
}
END_TEST

START_TEST(test_text_files)
{
    ck_assert(mof_path_is_text_model("a/model.onnxtxt"));
    ck_assert(!mof_path_is_text_model("model.onnx"));
    ck_assert(!mof_path_is_text_model(".onnxtxt"));
    ck_assert(!mof_path_is_text_model(NULL));

    char dir[] = "/tmp/mof-test-text-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/m.onnxtxt", dir);
    mof_context *ctx = mof_context_create();
    mof_model *m = parse(ctx, FULL);
    ck_assert_ptr_nonnull(m);
    ck_assert_status(ctx, mof_model_save_text(m, path, NULL), MOF_OK);
    mof_model *back = mof_model_load_text(ctx, path);
    ck_assert_ptr_nonnull(back);
    diff d = {{0}};
    ck_assert_msg(same_model(m, back, &d), "%s", d.what);
    mof_model_destroy(back);

    /* Errors in a file name the file. */
    FILE *f = fopen(path, "w");
    fputs("g (float x) => (float y) {\n  y = Relu (x\n}\n", f);
    fclose(f);
    ck_assert_ptr_null(mof_model_load_text(ctx, path));
    char want[512];
    snprintf(want, sizeof(want), "%s:3:1: error: expected ')' or ',' in the node's inputs, "
                                 "found '}'", path);
    ck_assert_msg(mof_test_diag_contains(ctx, want), "no diagnostic '%s'", want);
    mof_context_clear_diags(ctx);
    unlink(path);
    ck_assert_ptr_null(mof_model_load_text(ctx, path));
    ck_assert(mof_test_diag_contains(ctx, "m.onnxtxt: error: cannot open: No such file"));
    rmdir(dir);
    mof_model_destroy(m);
    mof_context_destroy(ctx);
}
END_TEST

/* ------------------------------------------------------------------ errors */

START_TEST(test_errors)
{
    expect_error("", "t.onnxtxt:1:1: error: expected a graph (name (inputs) => (outputs) "
                     "{ nodes }), found end of input");
    expect_error("<ir_version: 8, opset: []> g () => () {}",
                 "t.onnxtxt:1:17: error: unknown model field 'opset' (expected ir_version, "
                 "opset_import, producer_name, producer_version, domain, model_version, "
                 "doc_string or metadata_props)");
    expect_error("<ir_version: 8, ir_version: 9> g () => () {}",
                 "t.onnxtxt:1:17: error: model field 'ir_version' is given twice");
    expect_error("<ir_version: 8\ng () => () {}",
                 "t.onnxtxt:2:1: error: expected '>' or ',' in the model header, found 'g'");
    expect_error("<opset_import: [\"\" : 1, \"\" : 2]> g () => () {}",
                 "t.onnxtxt:1:25: error: opset domain \"\" is imported twice");
    expect_error("g (float x) -> (float y) {}",
                 "t.onnxtxt:1:13: error: unexpected character '-'");
    expect_error("g (float x) => (float y) {\n  y = Relu (x\n}",
                 "t.onnxtxt:3:1: error: expected ')' or ',' in the node's inputs, found '}'");
    expect_error("g (float x) => (float y) {\n  y = Relu (x)\n",
                 "t.onnxtxt:3:1: error: expected a node or '}', found end of input");
    expect_error("g (float x) => (float y) {\n  y = Relu (x)\n  y = Neg (x)\n}",
                 "t.onnxtxt:3:3: error: value 'y' is defined twice (it is also an earlier "
                 "node's output)");
    expect_error("g (float x) => (float y) {\n  x = Relu (x)\n}",
                 "t.onnxtxt:2:3: error: value 'x' is defined twice (it is also a graph input)");
    expect_error("g (float[2,N] x) => () <float[2,N] w = {1, 2}> {}",
                 "t.onnxtxt:1:25: error: constant 'w' needs numeric dims (dim 1 is not a "
                 "number)");
    expect_error("g () => () <float[2,2] w = {1, 2, 3}> {}",
                 "t.onnxtxt:1:36: error: constant 'w' has 3 elements, its shape needs 4");
    expect_error("g () => () <float[2] w = {1, 2, 3}> {}",
                 "t.onnxtxt:1:33: error: constant 'w' has more than the 2 elements of its shape");
    expect_error("g () => () <uint8[1] w = {256}> {}",
                 "t.onnxtxt:1:27: error: a uint8 out of range: 256 is not in [0, 255]");
    expect_error("g () => () <int32[1] w = {1.5}> {}",
                 "t.onnxtxt:1:27: error: expected an int32 (an integer), found number 1.5");
    expect_error("g () => () <float[] w = {1}> {}",
                 "t.onnxtxt:1:13: error: constant 'w' needs a shape (`float[2,3]`, or `float` "
                 "for a scalar)");
    expect_error("g () => () <float[1] w = {1}, float[1] w = {2}> {}",
                 "t.onnxtxt:1:31: error: two constants are named 'w'");
    expect_error("g () => () { y = Foo <n: int = 2.5> () }",
                 "t.onnxtxt:1:32: error: expected an int (an integer), found number 2.5");
    expect_error("g () => () { y = Foo <n = 1, n = 2> () }",
                 "t.onnxtxt:1:30: error: attribute 'n' is given twice");
    expect_error("g () => () { y = Foo <n: list = 1> () }",
                 "t.onnxtxt:1:26: error: expected an attribute type (int, float, string, "
                 "tensor, graph, type_proto, ints, floats, strings, tensors, graphs, "
                 "type_protos), found 'list'");
    expect_error("g () => () { y = Foo <n = []> () }",
                 "t.onnxtxt:1:27: error: an empty list needs its type: `name: ints = []`");
    expect_error("g () => () { y = Foo <s = \"abc> () }",
                 "t.onnxtxt:1:27: error: string not closed (it starts here)");
    expect_error("g () => () { y = com. () }",
                 "t.onnxtxt:1:23: error: expected the rest of the op type after '.', found '('");
    expect_error("g () => () {}\nf (a) => (b) { b = Identity (a) }",
                 "t.onnxtxt:2:1: error: expected the end of the text after the main graph (mof "
                 "does not read model-local functions), found 'f'");
    expect_error("g (seq(float x) => () {}",
                 "t.onnxtxt:1:14: error: expected ')' to close the type, found 'x'");
    expect_error("g (float[2 x) => () {}",
                 "t.onnxtxt:1:12: error: expected ']' to close the dims, found 'x'");
    expect_error("g () => () { y = Foo <a = 1e99999> () }",
                 "t.onnxtxt:1:27: error: a float out of range: 1e99999 is too large for a "
                 "float");
    expect_error("g () => () { y = Foo () \x01 }",
                 "t.onnxtxt:1:25: error: unexpected byte 0x01");

    /* Deeply nested types are refused, not a stack overflow. */
    char deep[2048] = "g (";
    for (int i = 0; i < 100; i++)
        strcat(deep, "seq(");
    strcat(deep, "float");
    mof_context *ctx = mof_context_create();
    ck_assert_ptr_null(mof_model_parse_text(ctx, deep, strlen(deep), "deep"));
    ck_assert(mof_test_diag_contains(ctx, "types nested more than 64 deep"));
    mof_context_destroy(ctx);
}
END_TEST

/* Every prefix of a valid text fails cleanly (no crash, no leak, one error). */
START_TEST(test_truncated)
{
    mof_context *ctx = mof_context_create();
    size_t len = strlen(FULL);
    for (size_t n = 0; n < len; n++) {
        mof_model *m = mof_model_parse_text(ctx, FULL, n, "cut");
        if (m) {
            /* A prefix that ends after a complete graph, or only drops whitespace. */
            mof_model_destroy(m);
        } else {
            ck_assert_uint_eq(mof_context_n_errors(ctx), 1);
        }
        mof_context_clear_diags(ctx);
    }
    mof_context_destroy(ctx);
}
END_TEST

static Suite *text_suite(void)
{
    Suite *s = suite_create("text");
    TCase *tc = tcase_create("text");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_parse_full);
    tcase_add_test(tc, test_print_form);
    tcase_add_test(tc, test_elided_constants);
    tcase_add_test(tc, test_value_types);
    tcase_add_test(tc, test_text_files);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_truncated);
    tcase_add_test(tc, test_round_trip_testdata);
    tcase_add_test(tc, test_onnx_crosscheck);
    suite_add_tcase(s, tc);
    return s;
}

MOF_TEST_MAIN(text_suite)
