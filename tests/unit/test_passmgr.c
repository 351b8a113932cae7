/* test_passmgr.c: the pass manager: a failing pass leaves the model byte for byte as it
 * was and stops the run (or not, with keep_going); <repeat> stops when nothing changes
 * and notes when it hits its bound; verify_each; print_after; the mof.* metadata;
 * outputs (never over the input); backends (every unsupported node listed, nothing
 * emitted); the instance life cycle; the report.
 *
 * Most passes come from a plugin linked into this test (MOF_PLUGIN_STATIC); test-fail
 * comes from the host's purpose-built good_plugin.so. */
#define _POSIX_C_SOURCE 200809L /* open_memstream, mkdtemp */
#define MOF_PLUGIN_STATIC pm
#include "config.h"

#include <stddef.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#define TEST_PLUGINS MOF_TEST_BUILDDIR "/tests/plugins/.libs"
#define TINY_CNN MOF_TEST_SRCDIR "/examples/models/tiny-cnn.onnx"

/* ------------------------------------------------------------------ the test plugin */

static int init_calls, fini_calls;
static char provenance[256];

struct append {
    int64_t limit;
};

static const mof_param_desc append_params[] = {
    { .name = "limit", .help = "stop adding at this many nodes (0: never)",
      .type = MOF_PARAM_INT, .offset = offsetof(struct append, limit), .def = "0", .min = 0,
      .max = 1000, .flags = MOF_PARAM_RANGE },
    { 0 }
};

/* Appends a Relu reading the last node's output, until the graph has `limit` nodes. */
static mof_status append_run(mof_pass_ctx *pc, mof_model *m, void *priv)
{
    const struct append *a = priv;
    mof_graph *g = mof_model_graph(m);
    if (a->limit && mof_graph_n_nodes(g) >= (size_t)a->limit)
        return MOF_UNCHANGED;
    mof_node *last = mof_graph_last_node(g);
    mof_value *in = last ? mof_node_output(last, 0) : NULL;
    if (!mof_graph_add_node(g, MOF_INSERT_AFTER, NULL, "Relu", NULL, NULL, in ? 1 : 0, &in, 1))
        return MOF_ERR_NOMEM;
    mof_pass_stat(pc, "nodes-added", 1);
    return MOF_OK;
}

static mof_status fail_run(mof_pass_ctx *pc, mof_model *m, void *priv)
{
    mof_graph *g = mof_model_graph(m);
    mof_node_set_name(mof_graph_first_node(g), "renamed");
    mof_graph_add_node(g, MOF_INSERT_BEFORE, NULL, "Junk", "x", "junk", 0, NULL, 1);
    mof_pass_stat(pc, "junk-added", 1);
    return mof_report(mof_pass_ctx_context(pc), MOF_SEVERITY_ERROR, MOF_ERR_INVALID_MODEL,
                      NULL, "failing on purpose");
}

static mof_status silent_fail_run(mof_pass_ctx *pc, mof_model *m, void *priv)
{
    mof_graph_add_node(mof_model_graph(m), MOF_INSERT_AFTER, NULL, "Junk", NULL, "junk", 0,
                       NULL, 1);
    return MOF_ERR_INTERNAL;
}

static mof_status bad_status_run(mof_pass_ctx *pc, mof_model *m, void *priv)
{
    mof_graph_add_node(mof_model_graph(m), MOF_INSERT_AFTER, NULL, "Junk", NULL, "junk", 0,
                       NULL, 1);
    return (mof_status)7;
}

/* Puts the last node first: its input is then used before it is defined. */
static mof_status break_run(mof_pass_ctx *pc, mof_model *m, void *priv)
{
    mof_graph *g = mof_model_graph(m);
    return mof_graph_move_node(g, mof_graph_last_node(g), MOF_INSERT_BEFORE,
                               mof_graph_first_node(g));
}

struct life {
    bool fail_init;
    char *note;
};

static const mof_param_desc life_params[] = {
    { .name = "fail-init", .help = "make init fail", .type = MOF_PARAM_BOOL,
      .offset = offsetof(struct life, fail_init), .def = "false" },
    { .name = "note", .help = "a string the host must free", .type = MOF_PARAM_STRING,
      .offset = offsetof(struct life, note), .def = "default note" },
    { 0 }
};

static mof_status life_init(mof_pass_ctx *pc, void *priv)
{
    const struct life *l = priv;
    init_calls++;
    if (l->fail_init)
        return mof_report(mof_pass_ctx_context(pc), MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG,
                          NULL, "init refuses (note '%s')", l->note);
    return MOF_OK;
}

static mof_status life_run(mof_pass_ctx *pc, mof_model *m, void *priv)
{
    ck_assert_str_eq(mof_pass_ctx_name(pc), "pm-lifecycle");
    return MOF_UNCHANGED;
}

static void life_fini(void *priv)
{
    fini_calls++;
}

struct bits {
    int64_t bits;
};

static const mof_param_desc bits_params[] = {
    { .name = "bits", .help = "a number to report", .type = MOF_PARAM_INT,
      .offset = offsetof(struct bits, bits), .def = "1" },
    { 0 }
};

static mof_status bits_run(mof_pass_ctx *pc, mof_model *m, void *priv)
{
    mof_pass_stat(pc, "bits", ((const struct bits *)priv)->bits);
    mof_pass_stat(pc, "runs", 1);
    mof_pass_stat(pc, "runs", 1);
    return MOF_UNCHANGED;
}

#define PASS(n, fn, ...)                                                                   \
    { .size = sizeof(mof_pass_desc), .name = (n), .summary = "test pass", .run = (fn),     \
      __VA_ARGS__ }

static const mof_pass_desc passes[] = {
    PASS("pm-append", append_run, .params = append_params, .priv_size = sizeof(struct append)),
    PASS("pm-fail", fail_run),
    PASS("pm-silent-fail", silent_fail_run),
    PASS("pm-bad-status", bad_status_run),
    PASS("pm-break", break_run),
    PASS("pm-lifecycle", life_run, .params = life_params, .priv_size = sizeof(struct life),
         .init = life_init, .fini = life_fini),
    PASS("pm-bits", bits_run, .params = bits_params, .priv_size = sizeof(struct bits)),
};

static const mof_op_support sink_ops[] = {
    { .domain = "", .op_type = "Constant" },
    { .domain = "", .op_type = "Relu", .since_opset = 6 },
    { .domain = "x", .op_type = "Foo", .since_opset = 20 },
    { .domain = "", .op_type = "Old", .since_opset = 1, .until_opset = 5 },
    { 0 }
};

static bool sink_supports(const mof_node *n, const char **why, void *priv)
{
    if (strncmp(mof_node_name(n), "bad", 3) == 0) {
        *why = "its name starts with 'bad'";
        return false;
    }
    return true;
}

static mof_status sink_emit(mof_backend_ctx *bc, const mof_model *m, const char *path,
                            void *priv)
{
    snprintf(provenance, sizeof(provenance), "%s", mof_backend_ctx_provenance(bc));
    ck_assert_str_eq(mof_backend_ctx_name(bc), "pm-sink");
    mof_output *out = mof_output_open_file(mof_backend_ctx_context(bc), path);
    if (!out)
        return MOF_ERR_IO;
    fprintf(mof_output_file(out), "nodes=%zu\n", mof_graph_n_nodes(mof_model_graph(m)));
    return mof_output_commit(out);
}

static const mof_backend_desc sink = {
    .size = sizeof(mof_backend_desc), .name = "pm-sink", .summary = "test backend",
    .default_output = "sink.txt", .ops = sink_ops, .supports_node = sink_supports,
    .emit = sink_emit,
};

static mof_status register_pm(mof_registrar *r)
{
    for (size_t i = 0; i < sizeof(passes) / sizeof(passes[0]); i++) {
        mof_status st = mof_register_pass(r, &passes[i]);
        if (st != MOF_OK)
            return st;
    }
    return mof_register_backend(r, &sink);
}

MOF_PLUGIN_DEFINE("pm-test", "1.2.3", "passes for test_passmgr", "MIT", register_pm)

/* ------------------------------------------------------------------ helpers */

static mof_context *ctx;
static mof_run_options opts;
static char tmpdir[64];

static void setup(void)
{
    ctx = mof_context_create();
    ck_assert_ptr_nonnull(ctx);
    ck_assert_status(ctx, mof_context_add_static_plugin(ctx, mof_plugin_entry_pm), MOF_OK);
    mof_run_options_init(&opts);
    opts.log = NULL;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/mof-test-passmgr-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
    mof_context_destroy(ctx);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Constant c0 -> Relu r1 -> ... -> Relu rN. */
static mof_model *make_model(size_t n_relu)
{
    mof_model *m = mof_model_create(ctx);
    ck_assert_ptr_nonnull(m);
    mof_graph *g = mof_model_graph(m);
    mof_node *n = mof_graph_add_node(g, MOF_INSERT_AFTER, NULL, "Constant", NULL, "c0", 0,
                                     NULL, 1);
    ck_assert_ptr_nonnull(n);
    for (size_t i = 1; i <= n_relu; i++) {
        char name[32];
        snprintf(name, sizeof(name), "r%zu", i);
        mof_value *in = mof_node_output(n, 0);
        n = mof_graph_add_node(g, MOF_INSERT_AFTER, NULL, "Relu", NULL, name, 1, &in, 1);
        ck_assert_ptr_nonnull(n);
    }
    return m;
}

static void *save(const mof_model *m, size_t *size)
{
    void *data = NULL;
    ck_assert_status(ctx, mof_model_save_buffer(m, &data, size), MOF_OK);
    return data;
}

static void assert_same_bytes(const void *a, size_t na, const void *b, size_t nb)
{
    ck_assert_uint_eq(na, nb);
    ck_assert_msg(memcmp(a, b, na) == 0, "the model changed");
}

static mof_pipeline *list(const char *passes_list)
{
    mof_pipeline *p = mof_pipeline_parse_list(ctx, passes_list);
    if (!p)
        mof_test_print_diags(ctx);
    ck_assert_ptr_nonnull(p);
    return p;
}

static mof_pipeline *xml(const char *text)
{
    mof_pipeline *p = mof_pipeline_load_buffer(ctx, text, strlen(text), "mem.xml", NULL);
    if (!p)
        mof_test_print_diags(ctx);
    ck_assert_ptr_nonnull(p);
    return p;
}

static bool has_diag(const char *want)
{
    bool found = false;
    for (size_t i = 0; i < mof_context_n_diags(ctx) && !found; i++) {
        char *s = mof_diag_format(mof_context_diag(ctx, i));
        found = s && strcmp(s, want) == 0;
        free(s);
    }
    if (!found)
        mof_test_print_diags(ctx);
    return found;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = calloc(1, 4096);
    size_t n = fread(buf, 1, 4095, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* ------------------------------------------------------------------ tests */

START_TEST(test_fail_restores_and_stops)
{
    mof_model *m = make_model(2);
    size_t n0, n1;
    void *before = save(m, &n0);
    mof_pipeline *p = list("pm-fail,pm-append");
    mof_run_report *r = NULL;
    ck_assert_status(ctx, mof_pipeline_run(p, m, &opts, &r), MOF_ERR_INVALID_MODEL);
    void *after = save(m, &n1);
    assert_same_bytes(before, n0, after, n1);
    ck_assert_str_eq(mof_node_name(mof_graph_first_node(mof_model_graph(m))), "c0");
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(mof_run_report_n_steps(r), 1);   /* pm-append never ran */
    const mof_step_report *s = mof_run_report_step(r, 0);
    ck_assert_str_eq(s->pass, "pm-fail");
    ck_assert_int_eq(s->status, MOF_ERR_INVALID_MODEL);
    ck_assert_uint_eq(s->n_stats, 0);   /* rolled back: nothing happened */
    ck_assert_uint_eq(s->nodes_before, 3);
    ck_assert_uint_eq(s->nodes_after, 3);
    ck_assert(has_diag("error: pass 'pm-fail': failing on purpose"));
    ck_assert(has_diag("<passes>:1:1: note: pass 'pm-fail' failed; the model is as it was "
                       "before it"));
    ck_assert_ptr_null(mof_model_metadata_get(m, "mof.version"));
    free(before);
    free(after);
    mof_run_report_destroy(r);
    mof_pipeline_destroy(p);
    mof_model_destroy(m);
}
END_TEST

START_TEST(test_fail_after_changes)
{
    /* The snapshot is of the model as the previous pass left it. */
    opts.record_metadata = false;
    mof_model *m = make_model(1);
    mof_pipeline *first = list("pm-append");
    ck_assert_status(ctx, mof_pipeline_run(first, m, &opts, NULL), MOF_OK);
    size_t n0, n1;
    void *expected = save(m, &n0);
    mof_model *m2 = make_model(1);
    mof_pipeline *p = list("pm-append,pm-fail,pm-append");
    ck_assert_status(ctx, mof_pipeline_run(p, m2, &opts, NULL), MOF_ERR_INVALID_MODEL);
    void *got = save(m2, &n1);
    assert_same_bytes(expected, n0, got, n1);
    free(expected);
    free(got);
    mof_pipeline_destroy(first);
    mof_pipeline_destroy(p);
    mof_model_destroy(m);
    mof_model_destroy(m2);
}
END_TEST

START_TEST(test_good_plugin_fail)
{
    ck_assert_status(ctx, mof_context_load_plugin(ctx, TEST_PLUGINS "/good_plugin.so"), MOF_OK);
    mof_model *m = make_model(2);
    size_t n0, n1;
    void *before = save(m, &n0);
    mof_pipeline *p = list("test-fail");
    ck_assert_status(ctx, mof_pipeline_run(p, m, &opts, NULL), MOF_ERR_INVALID_ARG);
    void *after = save(m, &n1);
    assert_same_bytes(before, n0, after, n1);
    ck_assert(has_diag("error: pass 'test-fail': failing on purpose after changing the "
                       "graph"));
    ck_assert_ptr_nonnull(mof_context_diag(ctx, 0)->plugin);
    ck_assert_str_eq(mof_context_diag(ctx, 0)->plugin, "test-good");
    free(before);
    free(after);
    mof_pipeline_destroy(p);
    mof_model_destroy(m);
}
END_TEST

START_TEST(test_keep_going)
{
    mof_model *m = make_model(2);
    mof_pipeline *p = list("pm-append,pm-fail,pm-append");
    mof_run_report *r = NULL;
    opts.keep_going = true;
    ck_assert_status(ctx, mof_pipeline_run(p, m, &opts, &r), MOF_ERR_INVALID_MODEL);
    ck_assert_uint_eq(mof_run_report_n_steps(r), 3);
    ck_assert_int_eq(mof_run_report_step(r, 0)->status, MOF_OK);
    ck_assert_int_eq(mof_run_report_step(r, 1)->status, MOF_ERR_INVALID_MODEL);
    ck_assert_int_eq(mof_run_report_step(r, 2)->status, MOF_OK);
    ck_assert_uint_eq(mof_graph_n_nodes(mof_model_graph(m)), 5);
    ck_assert_ptr_null(mof_graph_find_value(mof_model_graph(m), "junk"));
    ck_assert(has_diag("<passes>:1:11: note: pass 'pm-fail' failed; the model is as it was "
                       "before it, and the run goes on"));
    /* The run went on to the end: metadata recorded. */
    ck_assert_ptr_nonnull(mof_model_metadata_get(m, "mof.version"));
    mof_run_report_destroy(r);
    mof_pipeline_destroy(p);
    mof_model_destroy(m);
}
END_TEST

START_TEST(test_silent_and_bad_status)
{
    mof_model *m = make_model(1);
    size_t n0, n1;
    void *before = save(m, &n0);
    mof_pipeline *p = list("pm-silent-fail");
    ck_assert_status(ctx, mof_pipeline_run(p, m, &opts, NULL), MOF_ERR_INTERNAL);
    ck_assert(has_diag("<passes>:1:1: error: pass 'pm-silent-fail': failed (internal error) "
                       "without saying why"));
    mof_pipeline_destroy(p);
    p = list("pm-bad-status");
    ck_assert_status(ctx, mof_pipeline_run(p, m, &opts, NULL), MOF_ERR_INTERNAL);
    ck_assert(has_diag("<passes>:1:1: error: pass 'pm-bad-status': returned the unknown "
                       "status 7"));
    void *after = save(m, &n1);
    assert_same_bytes(before, n0, after, n1);
    free(before);
    free(after);
    mof_pipeline_destroy(p);
    mof_model_destroy(m);
}
END_TEST

START_TEST(test_repeat_until_unchanged)
{
    mof_model *m = make_model(2);   /* 3 nodes */
    mof_pipeline *p = xml("<pipeline>\n  <repeat max=\"10\">\n"
                          "    <pass name=\"pm-append\" limit=\"6\"/>\n  </repeat>\n"
                          "</pipeline>\n");
    mof_run_report *r = NULL;
    ck_assert_status(ctx, mof_pipeline_run(p, m, &opts, &r), MOF_OK);
    ck_assert_uint_eq(mof_graph_n_nodes(mof_model_graph(m)), 6);
    ck_assert_uint_eq(mof_run_report_n_steps(r), 4);
    for (unsigned i = 0; i < 4; i++) {
        const mof_step_report *s = mof_run_report_step(r, i);
        ck_assert_uint_eq(s->iteration, i + 1);
        ck_assert_uint_eq(s->line, 3);
        ck_assert_int_eq(s->status, i < 3 ? MOF_OK : MOF_UNCHANGED);
        ck_assert_uint_eq(s->nodes_after, i < 3 ? 4 + i : 6);
    }
    ck_assert_uint_eq(mof_run_report_n_notes(r), 0);
    mof_run_report_destroy(r);
    mof_pipeline_destroy(p);
    mof_model_destroy(m);
}
END_TEST

START_TEST(test_repeat_bound)
{
    mof_model *m = make_model(0);
    mof_pipeline *p = xml("<pipeline>\n  <repeat max=\"2\">\n"
                          "    <pass name=\"pm-append\"/>\n    <pass name=\"pm-bits\"/>\n"
                          "  </repeat>\n</pipeline>\n");
    mof_run_report *r = NULL;
    ck_assert_status(ctx, mof_pipeline_run(p, m, &opts, &r), MOF_OK);
    ck_assert_uint_eq(mof_run_report_n_steps(r), 4);
    ck_assert_uint_eq(mof_run_report_step(r, 3)->iteration, 2);
    ck_assert_uint_eq(mof_run_report_n_notes(r), 1);
    ck_assert_str_eq(mof_run_report_note(r, 0), "repeat at mem.xml:2 stopped at its bound of "
                                                "2 iterations while still changing the graph");
    ck_assert_ptr_null(mof_run_report_note(r, 1));
    mof_run_report_destroy(r);
    mof_pipeline_destroy(p);

    /* Without max, the bound is 16. */
    p = xml("<pipeline><repeat><pass name=\"pm-append\"/></repeat></pipeline>");
    ck_assert_status(ctx, mof_pipeline_run(p, m, &opts, &r), MOF_OK);
    ck_assert_uint_eq(mof_run_report_n_steps(r), 16);
    ck_assert_str_eq(mof_run_report_note(r, 0), "repeat at mem.xml:1 stopped at its bound of "
                                                "16 iterations while still changing the graph");
    mof_run_report_destroy(r);
    mof_pipeline_destroy(p);
    mof_model_destroy(m);
}
END_TEST

START_TEST(test_verify_each)
{
    mof_model *m = make_model(2);
    size_t n0, n1;
    void *before = save(m, &n0);
    mof_pipeline *p = list("pm-break");
    opts.verify_each = true;
    mof_run_report *r = NULL;
    ck_assert_status(ctx, mof_pipeline_run(p, m, &opts, &r), MOF_ERR_VERIFY);
    ck_assert_int_eq(mof_run_report_step(r, 0)->status, MOF_ERR_VERIFY);
    ck_assert(mof_test_diag_contains(ctx, "<passes>:1:1: error: pass 'pm-break' broke the "
                                          "graph: "));
    ck_assert(mof_test_diag_contains(ctx, "; the model is as it was before the pass"));
    void *after = save(m, &n1);
    assert_same_bytes(before, n0, after, n1);
    ck_assert_status(ctx, mof_graph_verify(ctx, mof_model_graph(m)), MOF_OK);
    mof_run_report_destroy(r);

    /* Unchecked, the broken graph goes through. */
    mof_context_clear_diags(ctx);
    opts.verify_each = false;
    ck_assert_status(ctx, mof_pipeline_run(p, m, &opts, NULL), MOF_OK);
    free(before);
    free(after);
    mof_pipeline_destroy(p);
    mof_model_destroy(m);
}
END_TEST

START_TEST(test_print_after)
{
    mof_model *m = make_model(1);
    char *text = NULL;
    size_t size = 0;
    opts.log = open_memstream(&text, &size);
    opts.print_after = "pm-append";
    mof_pipeline *p = list("pm-bits,pm-append");
    ck_assert_status(ctx, mof_pipeline_run(p, m, &opts, NULL), MOF_OK);
    fclose(opts.log);
    const char *added = mof_node_name(mof_graph_last_node(mof_model_graph(m)));
    ck_assert_ptr_nonnull(strstr(text, "# after pass 'pm-append' (<passes>:1)\n"));
    ck_assert_ptr_nonnull(strstr(text, "graph main () => () {\n"));
    ck_assert_ptr_nonnull(strstr(text, "c0 = Constant ()  # c0\n"));
    ck_assert_ptr_nonnull(strstr(text, " = Relu (r1)"));
    if (added[0])
        ck_assert_ptr_nonnull(strstr(text, added));
    ck_assert_ptr_null(strstr(text, "pm-bits"));
    free(text);

    /* "all" prints after every pass; another name prints nothing. */
    opts.log = open_memstream(&text, &size);
    opts.print_after = "all";
    ck_assert_status(ctx, mof_pipeline_run(p, m, &opts, NULL), MOF_OK);
    fclose(opts.log);
    ck_assert_ptr_nonnull(strstr(text, "# after pass 'pm-bits'"));
    ck_assert_ptr_nonnull(strstr(text, "# after pass 'pm-append'"));
    free(text);
    opts.log = open_memstream(&text, &size);
    opts.print_after = "dead-code";
    ck_assert_status(ctx, mof_pipeline_run(p, m, &opts, NULL), MOF_OK);
    fclose(opts.log);
    ck_assert_uint_eq(size, 0);
    free(text);
    mof_pipeline_destroy(p);
    mof_model_destroy(m);
}
END_TEST

START_TEST(test_metadata)
{
    ck_assert_status(ctx, mof_context_load_plugin(ctx, TEST_PLUGINS "/good_plugin.so"), MOF_OK);
    mof_model *m = make_model(1);
    mof_pipeline *p = list("test-noop,pm-append");
    ck_assert_status(ctx, mof_pipeline_run(p, m, &opts, NULL), MOF_OK);
    ck_assert_str_eq(mof_model_metadata_get(m, "mof.version"), MOF_VERSION_STRING);
    char want[128];
    snprintf(want, sizeof(want), "passes sha256:%s", mof_pipeline_hash(p));
    ck_assert_str_eq(mof_model_metadata_get(m, "mof.pipeline"), want);
    ck_assert_str_eq(mof_model_metadata_get(m, "mof.plugins"), "pm-test 1.2.3, test-good 1.2.3");
    mof_pipeline_destroy(p);
    mof_model_destroy(m);

    /* Turned off by the caller... */
    m = make_model(1);
    p = list("pm-append");
    opts.record_metadata = false;
    ck_assert_status(ctx, mof_pipeline_run(p, m, &opts, NULL), MOF_OK);
    ck_assert_ptr_null(mof_model_metadata_get(m, "mof.version"));
    ck_assert_ptr_null(mof_model_metadata_get(m, "mof.pipeline"));
    ck_assert_ptr_null(mof_model_metadata_get(m, "mof.plugins"));
    mof_pipeline_destroy(p);
    /* ...or by the pipeline. */
    opts.record_metadata = true;
    p = xml("<pipeline name=\"quiet\" record-metadata=\"false\"><pass name=\"pm-append\"/>"
            "</pipeline>");
    ck_assert_status(ctx, mof_pipeline_run(p, m, &opts, NULL), MOF_OK);
    ck_assert_uint_eq(mof_model_n_metadata(m), 0);
    mof_pipeline_destroy(p);
    p = xml("<pipeline name=\"loud\"><pass name=\"pm-append\"/></pipeline>");
    ck_assert_status(ctx, mof_pipeline_run(p, m, &opts, NULL), MOF_OK);
    snprintf(want, sizeof(want), "loud sha256:%s", mof_pipeline_hash(p));
    ck_assert_str_eq(mof_model_metadata_get(m, "mof.pipeline"), want);
    ck_assert_str_eq(mof_model_metadata_get(m, "mof.plugins"), "pm-test 1.2.3");
    mof_pipeline_destroy(p);
    mof_model_destroy(m);
}
END_TEST

START_TEST(test_output_not_input)
{
    char in[128], spelled[160];
    snprintf(in, sizeof(in), "%s/in.onnx", tmpdir);
    snprintf(spelled, sizeof(spelled), "%s/./in.onnx", tmpdir);
    FILE *f = fopen(in, "wb");
    ck_assert_ptr_nonnull(f);
    fputs("not really a model", f);
    fclose(f);
    mof_model *m = make_model(1);
    mof_pipeline *p = list("pm-append");
    opts.input_path = in;
    opts.output = spelled;
    char want[512];
    ck_assert_status(ctx, mof_pipeline_run(p, m, &opts, NULL), MOF_ERR_INVALID_ARG);
    snprintf(want, sizeof(want), "error: refusing to write over the input model %s", in);
    ck_assert(has_diag(want));
    char *content = slurp(in);
    ck_assert_str_eq(content, "not really a model");
    free(content);
    mof_pipeline_destroy(p);

    /* A backend's artifact may not be the input either, nor a folder holding it. */
    mof_context_clear_diags(ctx);
    p = xml("<pipeline>\n<backend name=\"pm-sink\" output=\"in.onnx\"/>\n</pipeline>");
    opts.output = tmpdir;
    ck_assert_status(ctx, mof_pipeline_run(p, m, &opts, NULL), MOF_ERR_INVALID_ARG);
    snprintf(want, sizeof(want), "mem.xml:2: error: backend 'pm-sink' would write over the "
             "input model %s (output '%s/in.onnx')", in, tmpdir);
    ck_assert(has_diag(want));
    content = slurp(in);
    ck_assert_str_eq(content, "not really a model");
    free(content);
    mof_pipeline_destroy(p);
    mof_context_clear_diags(ctx);
    p = xml("<pipeline>\n<backend name=\"pm-sink\" output=\"sub\"/>\n</pipeline>");
    char sub[160];
    snprintf(sub, sizeof(sub), "%s/sub", tmpdir);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    snprintf(in, sizeof(in), "%s/sub/model.onnx", tmpdir);
    f = fopen(in, "wb");
    fclose(f);
    opts.input_path = in;
    ck_assert_status(ctx, mof_pipeline_run(p, m, &opts, NULL), MOF_ERR_INVALID_ARG);
    ck_assert(mof_test_diag_contains(ctx, "would write over the input model"));
    ck_assert(exists(in));
    mof_pipeline_destroy(p);
    mof_model_destroy(m);
}
END_TEST

START_TEST(test_write_model)
{
    char out[160];
    snprintf(out, sizeof(out), "%s/out.onnx", tmpdir);
    mof_model *m = make_model(1);
    mof_pipeline *p = list("pm-append");
    opts.output = out;
    ck_assert_status(ctx, mof_pipeline_run(p, m, &opts, NULL), MOF_OK);
    mof_model *back = mof_model_load(ctx, out);
    if (!back)
        mof_test_print_diags(ctx);
    ck_assert_ptr_nonnull(back);
    ck_assert_uint_eq(mof_graph_n_nodes(mof_model_graph(back)), 3);
    ck_assert_str_eq(mof_model_metadata_get(back, "mof.version"), MOF_VERSION_STRING);
    mof_model_destroy(back);
    mof_pipeline_destroy(p);
    mof_model_destroy(m);
}
END_TEST

START_TEST(test_backend_unsupported)
{
    mof_model *m = make_model(1);
    mof_graph *g = mof_model_graph(m);
    mof_value *in = mof_node_output(mof_graph_last_node(g), 0);
    ck_assert_ptr_nonnull(mof_graph_add_node(g, MOF_INSERT_AFTER, NULL, "Relu", NULL,
                                             "bad1", 1, &in, 1));
    ck_assert_ptr_nonnull(mof_graph_add_node(g, MOF_INSERT_AFTER, NULL, "Foo", "x", "f", 1,
                                             &in, 1));
    ck_assert_ptr_nonnull(mof_graph_add_node(g, MOF_INSERT_AFTER, NULL, "Bar", NULL, "b", 1,
                                             &in, 1));
    ck_assert_ptr_nonnull(mof_graph_add_node(g, MOF_INSERT_AFTER, NULL, "Old", NULL, "o", 1,
                                             &in, 1));
    mof_pipeline *p = xml("<pipeline>\n  <pass name=\"pm-bits\"/>\n"
                          "  <backend name=\"pm-sink\"/>\n</pipeline>");
    char out[160];
    snprintf(out, sizeof(out), "%s/out", tmpdir);
    opts.output = out;
    mof_run_report *r = NULL;
    ck_assert_status(ctx, mof_pipeline_run(p, m, &opts, &r), MOF_ERR_UNSUPPORTED);
    ck_assert(has_diag("mem.xml:3: error: node 'bad1' (Relu): not supported by backend "
                       "'pm-sink': its name starts with 'bad'"));
    ck_assert(has_diag("mem.xml:3: error: node 'f' (Foo, domain 'x'): not supported by "
                       "backend 'pm-sink': the model does not import the domain 'x'"));
    ck_assert(has_diag("mem.xml:3: error: node 'b' (Bar): not supported by backend "
                       "'pm-sink': the op is not in its op table"));
    ck_assert(has_diag("mem.xml:3: error: node 'o' (Old): not supported by backend "
                       "'pm-sink': opset 13 is outside the supported range [1, 5]"));
    ck_assert_uint_eq(mof_context_n_errors(ctx), 4);
    char path[200];
    snprintf(path, sizeof(path), "%s/sink.txt", out);
    ck_assert(!exists(path));
    ck_assert_uint_eq(mof_run_report_n_steps(r), 1);   /* the pass; no backend ran */
    mof_run_report_destroy(r);
    mof_pipeline_destroy(p);
    mof_model_destroy(m);
}
END_TEST

START_TEST(test_backend_emit)
{
    mof_model *m = make_model(2);
    mof_pipeline *p = xml("<pipeline name=\"emit\">\n  <backend name=\"pm-sink\"/>\n"
                          "  <backend name=\"pm-sink\" output=\"deeper/second.txt\"/>\n"
                          "</pipeline>");
    char out[160], path[220];
    snprintf(out, sizeof(out), "%s/a/b", tmpdir);
    opts.output = out;
    mof_run_report *r = NULL;
    ck_assert_status(ctx, mof_pipeline_run(p, m, &opts, &r), MOF_OK);
    /* The output folder and the artifact's own folders are created. */
    snprintf(path, sizeof(path), "%s/sink.txt", out);
    char *content = slurp(path);
    ck_assert_ptr_nonnull(content);
    ck_assert_str_eq(content, "nodes=3\n");
    free(content);
    snprintf(path, sizeof(path), "%s/deeper/second.txt", out);
    content = slurp(path);
    ck_assert_ptr_nonnull(content);
    ck_assert_str_eq(content, "nodes=3\n");
    free(content);
    ck_assert_uint_eq(mof_run_report_n_steps(r), 2);
    const mof_step_report *s = mof_run_report_step(r, 0);
    ck_assert(s->is_backend);
    ck_assert_int_eq(s->status, MOF_OK);
    snprintf(path, sizeof(path), "%s/sink.txt", out);
    ck_assert_str_eq(s->output, path);
    ck_assert_uint_eq(s->line, 2);
    ck_assert_uint_eq(mof_run_report_step(r, 1)->line, 3);
    /* The model was written by the backends only, with its metadata. */
    ck_assert_ptr_nonnull(mof_model_metadata_get(m, "mof.pipeline"));
    char want[256];
    snprintf(want, sizeof(want), "mof %s; pipeline emit sha256:%s", MOF_VERSION_STRING,
             mof_pipeline_hash(p));
    ck_assert_str_eq(provenance, want);
    mof_run_report_destroy(r);
    mof_pipeline_destroy(p);
    mof_model_destroy(m);
}
END_TEST

START_TEST(test_backend_needs_output)
{
    mof_model *m = make_model(1);
    mof_pipeline *p = xml("<pipeline><backend name=\"pm-sink\"/></pipeline>");
    ck_assert_status(ctx, mof_pipeline_run(p, m, &opts, NULL), MOF_ERR_INVALID_ARG);
    ck_assert(has_diag("error: the pipeline has backends, so it needs an output folder (-o)"));
    mof_pipeline_destroy(p);
    mof_model_destroy(m);
}
END_TEST

START_TEST(test_lifecycle)
{
    mof_model *m = make_model(1);
    mof_pipeline *p = list("pm-lifecycle(fail-init=yes, note='a, b')");
    ck_assert_status(ctx, mof_pipeline_run(p, m, &opts, NULL), MOF_ERR_INVALID_ARG);
    ck_assert_int_eq(init_calls, 1);
    ck_assert_int_eq(fini_calls, 1);
    ck_assert(has_diag("error: pass 'pm-lifecycle': init refuses (note 'a, b')"));
    mof_pipeline_destroy(p);
    p = xml("<pipeline><repeat max=\"3\"><pass name=\"pm-lifecycle\"/>"
            "<pass name=\"pm-append\" limit=\"4\"/></repeat></pipeline>");
    init_calls = fini_calls = 0;
    ck_assert_status(ctx, mof_pipeline_run(p, m, &opts, NULL), MOF_OK);
    ck_assert_int_eq(init_calls, 3);   /* 2 -> 3 -> 4 nodes, then an unchanged round */
    ck_assert_int_eq(fini_calls, 3);
    mof_pipeline_destroy(p);
    mof_model_destroy(m);
}
END_TEST

START_TEST(test_stats_and_set)
{
    mof_model *m = make_model(1);
    mof_pipeline *p = list("pm-bits(bits=3),pm-append");
    ck_assert_status(ctx, mof_pipeline_set(p, "pm-bits.bits=9"), MOF_OK);
    mof_run_report *r = NULL;
    ck_assert_status(ctx, mof_pipeline_run(p, m, &opts, &r), MOF_OK);
    const mof_step_report *s = mof_run_report_step(r, 0);
    ck_assert_uint_eq(s->n_stats, 2);
    ck_assert_str_eq(s->stat_names[0], "bits");
    ck_assert_int_eq(s->stat_values[0], 9);
    ck_assert_str_eq(s->stat_names[1], "runs");
    ck_assert_int_eq(s->stat_values[1], 2);
    ck_assert_int_eq(s->status, MOF_UNCHANGED);
    s = mof_run_report_step(r, 1);
    ck_assert_str_eq(s->stat_names[0], "nodes-added");
    ck_assert_int_eq(s->stat_values[0], 1);
    ck_assert_uint_eq(s->nodes_before, 2);
    ck_assert_uint_eq(s->nodes_after, 3);
    ck_assert(s->seconds >= 0);
    ck_assert_ptr_null(mof_run_report_step(r, 2));

    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    mof_run_report_print(r, f, false);
    fclose(f);
    ck_assert_str_eq(text,
                     "pass       line  iter  status     nodes           changes\n"
                     "pm-bits       1     -  unchanged  2 -> 2          bits=9 runs=2\n"
                     "pm-append     1     -  changed    2 -> 3          nodes-added=1\n");
    free(text);
    f = open_memstream(&text, &size);
    mof_run_report_print(r, f, true);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(text, "        time  changes\n"));
    ck_assert_ptr_nonnull(strstr(text, " ms  bits=9 runs=2\n"));
    ck_assert_ptr_nonnull(strstr(text, "\ntotal  "));
    free(text);
    mof_run_report_destroy(r);
    mof_run_report_destroy(NULL);
    mof_pipeline_destroy(p);
    mof_model_destroy(m);
}
END_TEST

START_TEST(test_time_passes)
{
    mof_model *m = make_model(1);
    mof_pipeline *p = list("pm-append");
    char *text = NULL;
    size_t size = 0;
    opts.log = open_memstream(&text, &size);
    opts.time_passes = true;
    ck_assert_status(ctx, mof_pipeline_run(p, m, &opts, NULL), MOF_OK);
    fclose(opts.log);
    ck_assert_ptr_nonnull(strstr(text, "pass       line  iter  status"));
    ck_assert_ptr_nonnull(strstr(text, "pm-append"));
    ck_assert_ptr_nonnull(strstr(text, " ms  nodes-added=1\n"));
    free(text);
    mof_pipeline_destroy(p);
    mof_model_destroy(m);
}
END_TEST

START_TEST(test_input_pins)
{
    mof_model *m = mof_model_load(ctx, TINY_CNN);
    if (!m)
        mof_test_print_diags(ctx);
    ck_assert_ptr_nonnull(m);
    mof_pipeline *p = xml("<pipeline>\n<input name=\"image\" shape=\"1,3,16,16\"/>\n"
                          "</pipeline>");
    ck_assert_status(ctx, mof_pipeline_run(p, m, &opts, NULL), MOF_OK);
    ck_assert_status(ctx, mof_pipeline_set_input_shape(p, "image=2,3,16,16"), MOF_OK);
    ck_assert_status(ctx, mof_pipeline_run(p, m, &opts, NULL), MOF_ERR_INVALID_ARG);
    ck_assert(has_diag("--input-shape: error: input 'image' is pinned with dim 0 = 2, but the "
                       "model fixes it to 1"));
    mof_pipeline_destroy(p);
    p = xml("<pipeline>\n<input name=\"imgae\" shape=\"1\"/>\n</pipeline>");
    ck_assert_status(ctx, mof_pipeline_run(p, m, &opts, NULL), MOF_ERR_INVALID_ARG);
    ck_assert(has_diag("mem.xml:2: error: input 'imgae' is pinned, but the model has no graph "
                       "input of that name (its inputs: 'image')"));
    mof_pipeline_destroy(p);
    p = xml("<pipeline>\n<input name=\"image\" shape=\"1,3\"/>\n</pipeline>");
    ck_assert_status(ctx, mof_pipeline_run(p, m, &opts, NULL), MOF_ERR_INVALID_ARG);
    ck_assert(has_diag("mem.xml:2: error: input 'image' is pinned to rank 2, but the model "
                       "gives it rank 4"));
    mof_pipeline_destroy(p);
    mof_model_destroy(m);
}
END_TEST

START_TEST(test_bad_calls)
{
    mof_model *m = make_model(1);
    mof_pipeline *p = list("pm-append");
    mof_run_report *r = (mof_run_report *)&opts;   /* must be reset */
    ck_assert_int_eq(mof_pipeline_run(NULL, m, &opts, &r), MOF_ERR_INVALID_ARG);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(mof_pipeline_run(p, NULL, NULL, NULL), MOF_ERR_INVALID_ARG);
    /* NULL options: the defaults (no log, so nothing printed). */
    ck_assert_status(ctx, mof_pipeline_run(p, m, NULL, NULL), MOF_OK);
    mof_context *other = mof_context_create();
    mof_model *foreign = mof_model_create(other);
    ck_assert_status(ctx, mof_pipeline_run(p, foreign, &opts, NULL), MOF_ERR_INVALID_ARG);
    mof_model_destroy(foreign);
    mof_context_destroy(other);
    ck_assert_ptr_null(mof_pass_ctx_context(NULL));
    ck_assert_ptr_null(mof_backend_ctx_name(NULL));
    mof_pipeline_destroy(p);
    mof_model_destroy(m);
}
END_TEST

static Suite *passmgr_suite(void)
{
    Suite *s = suite_create("passmgr");
    TCase *tc = tcase_create("passmgr");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_fail_restores_and_stops);
    tcase_add_test(tc, test_fail_after_changes);
    tcase_add_test(tc, test_good_plugin_fail);
    tcase_add_test(tc, test_keep_going);
    tcase_add_test(tc, test_silent_and_bad_status);
    tcase_add_test(tc, test_repeat_until_unchanged);
    tcase_add_test(tc, test_repeat_bound);
    tcase_add_test(tc, test_verify_each);
    tcase_add_test(tc, test_print_after);
    tcase_add_test(tc, test_metadata);
    tcase_add_test(tc, test_output_not_input);
    tcase_add_test(tc, test_write_model);
    tcase_add_test(tc, test_backend_unsupported);
    tcase_add_test(tc, test_backend_emit);
    tcase_add_test(tc, test_backend_needs_output);
    tcase_add_test(tc, test_lifecycle);
    tcase_add_test(tc, test_stats_and_set);
    tcase_add_test(tc, test_time_passes);
    tcase_add_test(tc, test_input_pins);
    tcase_add_test(tc, test_bad_calls);
    suite_add_tcase(s, tc);
    return s;
}

MOF_TEST_MAIN(passmgr_suite)
