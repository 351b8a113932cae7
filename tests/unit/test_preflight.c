/* test_preflight.c: mof_pipeline_preflight and the backend step accessors: every node
 * gets a verdict (op table, then supports_node with the step's parameters, and the
 * backend's note on true), nothing is reported for unsupported nodes, the passes run
 * only with MOF_PREFLIGHT_RUN_PASSES, shapes are inferred only with
 * MOF_PREFLIGHT_INFER_SHAPES, a pipeline without a backend is refused, init failures
 * stop it (fini still runs once), and nothing is emitted. The backend and the pass
 * come from a plugin linked into the test (MOF_PLUGIN_STATIC). */
#define MOF_PLUGIN_STATIC pf
#include "config.h"

#include <stddef.h>

#include "testutil.h"

/* ------------------------------------------------------------------ the test plugin */

static int init_calls, fini_calls, emit_calls;

/* Renames nodes "bad..." to "fixed...". */
static mof_status rename_run(mof_pass_ctx *pc, mof_model *m, void *priv)
{
    (void)pc;
    (void)priv;
    mof_status st = MOF_UNCHANGED;
    for (mof_node *n = mof_graph_first_node(mof_model_graph(m)); n; n = mof_node_next(n)) {
        const char *name = mof_node_name(n);
        if (strncmp(name, "bad", 3) != 0)
            continue;
        char fixed[64];
        snprintf(fixed, sizeof(fixed), "fixed%s", name + 3);
        if (mof_node_set_name(n, fixed) != MOF_OK)
            return MOF_ERR_NOMEM;
        st = MOF_OK;
    }
    return st;
}

static const mof_pass_desc rename_pass = {
    .size = sizeof(mof_pass_desc), .name = "pf-rename", .summary = "rename bad nodes",
    .run = rename_run,
};

struct be {
    const char *mode;
    bool fail_init;
};

static const mof_param_desc be_params[] = {
    { .name = "mode", .help = "the note on supported nodes", .type = MOF_PARAM_STRING,
      .offset = offsetof(struct be, mode), .def = "plain" },
    { .name = "fail-init", .help = "init fails", .type = MOF_PARAM_BOOL,
      .offset = offsetof(struct be, fail_init), .def = "false" },
    { 0 }
};

static const mof_op_support be_ops[] = {
    { .domain = "", .op_type = "Constant" },
    { .domain = "", .op_type = "Relu", .since_opset = 6 },
    { 0 }
};

static bool be_supports(const mof_node *n, const char **why, void *priv)
{
    const struct be *b = priv;
    if (strncmp(mof_node_name(n), "bad", 3) == 0) {
        *why = "its name starts with 'bad'";
        return false;
    }
    *why = b->mode;
    return true;
}

static mof_status be_init(mof_backend_ctx *bc, void *priv)
{
    const struct be *b = priv;
    init_calls++;
    if (b->fail_init)
        return mof_report(mof_backend_ctx_context(bc), MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG,
                          NULL, "init fails on purpose");
    return MOF_OK;
}

static void be_fini(void *priv)
{
    (void)priv;
    fini_calls++;
}

static mof_status be_emit(mof_backend_ctx *bc, const mof_model *m, const char *path,
                          void *priv)
{
    (void)bc;
    (void)m;
    (void)path;
    (void)priv;
    emit_calls++;
    return MOF_OK;
}

static const mof_backend_desc be = {
    .size = sizeof(mof_backend_desc), .name = "pf-be", .summary = "test backend",
    .params = be_params, .priv_size = sizeof(struct be), .default_output = "out.txt",
    .ops = be_ops, .supports_node = be_supports, .init = be_init, .emit = be_emit,
    .fini = be_fini,
};

static mof_status register_pf(mof_registrar *r)
{
    mof_status st = mof_register_pass(r, &rename_pass);
    return st != MOF_OK ? st : mof_register_backend(r, &be);
}

MOF_PLUGIN_DEFINE("pf-test", "1.0.0", "a backend for test_preflight", "MIT", register_pf)

/* ------------------------------------------------------------------ helpers */

static mof_context *ctx;

static void setup(void)
{
    ctx = mof_context_create();
    ck_assert_ptr_nonnull(ctx);
    ck_assert_status(ctx, mof_context_add_static_plugin(ctx, mof_plugin_entry_pf), MOF_OK);
    init_calls = fini_calls = emit_calls = 0;
}

static void teardown(void)
{
    mof_context_destroy(ctx);
}

static mof_pipeline *xml(const char *text)
{
    mof_pipeline *p = mof_pipeline_load_buffer(ctx, text, strlen(text), "mem.xml", NULL);
    if (!p)
        mof_test_print_diags(ctx);
    ck_assert_ptr_nonnull(p);
    return p;
}

/* Constant c0 -> Relu r1 -> Relu bad2 (-> Bar b3 when with_bar). */
static mof_model *make_model(bool with_bar)
{
    mof_model *m = mof_model_create(ctx);
    ck_assert_ptr_nonnull(m);
    mof_graph *g = mof_model_graph(m);
    mof_node *n = mof_graph_add_node(g, MOF_INSERT_AFTER, NULL, "Constant", NULL, "c0", 0,
                                     NULL, 1);
    ck_assert_ptr_nonnull(n);
    const char *names[] = { "r1", "bad2", "b3" };
    for (size_t i = 0; i < (with_bar ? 3u : 2u); i++) {
        mof_value *in = mof_node_output(n, 0);
        n = mof_graph_add_node(g, MOF_INSERT_AFTER, NULL, i == 2 ? "Bar" : "Relu", NULL,
                               names[i], 1, &in, 1);
        ck_assert_ptr_nonnull(n);
    }
    return m;
}

/* What the callback saw. */
struct seen {
    size_t n;
    char names[8][32];
    bool supported[8];
    char reason[8][96];
    char note[8][32];
    size_t backend[8];
};

static void collect(const mof_preflight_result *r, void *user)
{
    struct seen *s = user;
    ck_assert_uint_lt(s->n, 8);
    ck_assert_str_eq(r->backend_name, "pf-be");
    snprintf(s->names[s->n], sizeof(s->names[0]), "%s", mof_node_name(r->node));
    s->supported[s->n] = r->supported;
    snprintf(s->reason[s->n], sizeof(s->reason[0]), "%s", r->reason ? r->reason : "(null)");
    snprintf(s->note[s->n], sizeof(s->note[0]), "%s", r->note ? r->note : "(null)");
    s->backend[s->n] = r->backend;
    s->n++;
}

/* ------------------------------------------------------------------ tests */

START_TEST(test_verdicts)
{
    mof_model *m = make_model(true);
    mof_pipeline *p = xml("<pipeline>\n  <pass name=\"pf-rename\"/>\n"
                          "  <backend name=\"pf-be\" mode=\"quick\"/>\n</pipeline>");
    struct seen s = { 0 };
    ck_assert_status(ctx, mof_pipeline_preflight(p, m, 0, collect, &s), MOF_ERR_UNSUPPORTED);
    ck_assert_uint_eq(s.n, 4);
    ck_assert_str_eq(s.names[0], "c0");
    ck_assert(s.supported[0]);
    ck_assert_str_eq(s.note[0], "quick");       /* the step's parameter reached priv */
    ck_assert_str_eq(s.reason[0], "(null)");
    ck_assert(s.supported[1]);
    ck_assert_str_eq(s.names[2], "bad2");       /* the pass did not run */
    ck_assert(!s.supported[2]);
    ck_assert_str_eq(s.reason[2], "its name starts with 'bad'");
    ck_assert_str_eq(s.note[2], "(null)");
    ck_assert_str_eq(s.names[3], "b3");
    ck_assert(!s.supported[3]);
    ck_assert_str_eq(s.reason[3], "the op is not in its op table");
    ck_assert_uint_eq(s.backend[3], 0);
    /* Verdicts are not errors: nothing is reported, nothing emitted. */
    ck_assert_uint_eq(mof_context_n_errors(ctx), 0);
    ck_assert_int_eq(init_calls, 1);
    ck_assert_int_eq(fini_calls, 1);
    ck_assert_int_eq(emit_calls, 0);
    /* The model is unchanged without RUN_PASSES. */
    ck_assert_str_eq(mof_node_name(mof_node_next(mof_node_next(mof_graph_first_node(
                         mof_model_graph(m))))), "bad2");
    mof_pipeline_destroy(p);
    mof_model_destroy(m);
}
END_TEST

START_TEST(test_after_passes)
{
    mof_model *m = make_model(false);
    mof_pipeline *p = xml("<pipeline>\n  <pass name=\"pf-rename\"/>\n"
                          "  <backend name=\"pf-be\"/>\n"
                          "  <backend name=\"pf-be\" mode=\"x\" output=\"two.txt\"/>\n"
                          "</pipeline>");
    struct seen s = { 0 };
    ck_assert_status(ctx, mof_pipeline_preflight(p, m, 0, collect, &s), MOF_ERR_UNSUPPORTED);
    memset(&s, 0, sizeof(s));
    ck_assert_status(ctx, mof_pipeline_preflight(p, m, MOF_PREFLIGHT_RUN_PASSES, collect, &s),
                     MOF_OK);
    /* Two backends, three nodes each, backend by backend. */
    ck_assert_uint_eq(s.n, 6);
    ck_assert_str_eq(s.names[2], "fixed2");
    for (size_t i = 0; i < 6; i++) {
        ck_assert(s.supported[i]);
        ck_assert_uint_eq(s.backend[i], i / 3);
        ck_assert_str_eq(s.note[i], i < 3 ? "plain" : "x");   /* the default, then "x" */
    }
    ck_assert_int_eq(init_calls, 4);
    ck_assert_int_eq(fini_calls, 4);
    ck_assert_int_eq(emit_calls, 0);
    /* fn may be NULL. */
    ck_assert_status(ctx, mof_pipeline_preflight(p, m, 0, NULL, NULL), MOF_OK);
    mof_pipeline_destroy(p);
    mof_model_destroy(m);
}
END_TEST

START_TEST(test_infer_shapes)
{
    mof_model *m = mof_model_create(ctx);
    mof_graph *g = mof_model_graph(m);
    int64_t dims[2] = { 2, 3 };
    mof_value *x = mof_graph_add_input(g, "x", MOF_DTYPE_FLOAT, 2, dims, NULL);
    ck_assert_ptr_nonnull(x);
    mof_node *n = mof_graph_add_node(g, MOF_INSERT_AFTER, NULL, "Relu", NULL, "r", 1, &x, 1);
    ck_assert_ptr_nonnull(n);
    mof_value *y = mof_node_output(n, 0);
    ck_assert_status(ctx, mof_graph_add_output(g, y), MOF_OK);
    mof_pipeline *p = xml("<pipeline><backend name=\"pf-be\"/></pipeline>");
    ck_assert_status(ctx, mof_pipeline_preflight(p, m, 0, NULL, NULL), MOF_OK);
    ck_assert_int_eq(mof_value_rank(y), -1);
    ck_assert_status(ctx, mof_pipeline_preflight(p, m, MOF_PREFLIGHT_INFER_SHAPES, NULL, NULL),
                     MOF_OK);
    ck_assert_int_eq(mof_value_rank(y), 2);
    ck_assert_int_eq(mof_value_dim(y, 1), 3);
    mof_pipeline_destroy(p);
    mof_model_destroy(m);
}
END_TEST

START_TEST(test_no_backend)
{
    mof_model *m = make_model(false);
    mof_pipeline *p = xml("<pipeline name=\"only-passes\"><pass name=\"pf-rename\"/></pipeline>");
    ck_assert_status(ctx, mof_pipeline_preflight(p, m, MOF_PREFLIGHT_RUN_PASSES, NULL, NULL),
                     MOF_ERR_INVALID_ARG);
    ck_assert(mof_test_diag_contains(ctx, "pipeline 'only-passes' has no <backend>"));
    /* Nothing ran. */
    ck_assert_str_eq(mof_node_name(mof_graph_last_node(mof_model_graph(m))), "bad2");
    ck_assert_status(ctx, mof_pipeline_preflight(NULL, m, 0, NULL, NULL), MOF_ERR_INVALID_ARG);
    ck_assert_status(ctx, mof_pipeline_preflight(p, NULL, 0, NULL, NULL), MOF_ERR_INVALID_ARG);
    mof_pipeline_destroy(p);
    mof_model_destroy(m);
}
END_TEST

START_TEST(test_init_fails)
{
    mof_model *m = make_model(false);
    mof_pipeline *p = xml("<pipeline><backend name=\"pf-be\" fail-init=\"true\"/></pipeline>");
    struct seen s = { 0 };
    ck_assert_status(ctx, mof_pipeline_preflight(p, m, 0, collect, &s), MOF_ERR_INVALID_ARG);
    ck_assert_uint_eq(s.n, 0);
    ck_assert(mof_test_diag_contains(ctx, "init fails on purpose"));
    ck_assert_int_eq(init_calls, 1);
    ck_assert_int_eq(fini_calls, 1);
    mof_pipeline_destroy(p);
    mof_model_destroy(m);
}
END_TEST

START_TEST(test_backend_accessors)
{
    mof_pipeline *p = xml("<pipeline>\n  <pass name=\"pf-rename\"/>\n"
                          "  <backend name=\"pf-be\" mode=\"quick\"/>\n</pipeline>");
    ck_assert_uint_eq(mof_pipeline_n_backends(p), 1);
    ck_assert_str_eq(mof_pipeline_backend_name(p, 0), "pf-be");
    ck_assert_uint_eq(mof_pipeline_backend_line(p, 0), 3);
    ck_assert_uint_eq(mof_pipeline_backend_n_params(p, 0), 1);
    const char *value = NULL;
    ck_assert_str_eq(mof_pipeline_backend_param(p, 0, 0, &value), "mode");
    ck_assert_str_eq(value, "quick");
    /* --set changes the value in place and adds new ones. */
    ck_assert_status(ctx, mof_pipeline_set(p, "pf-be.mode=slow"), MOF_OK);
    ck_assert_status(ctx, mof_pipeline_set(p, "pf-be.fail-init=false"), MOF_OK);
    ck_assert_uint_eq(mof_pipeline_backend_n_params(p, 0), 2);
    ck_assert_str_eq(mof_pipeline_backend_param(p, 0, 0, &value), "mode");
    ck_assert_str_eq(value, "slow");
    ck_assert_str_eq(mof_pipeline_backend_param(p, 0, 1, &value), "fail-init");
    ck_assert_str_eq(value, "false");
    /* Out of range. */
    ck_assert_ptr_null(mof_pipeline_backend_param(p, 0, 2, &value));
    ck_assert_ptr_null(value);
    ck_assert_ptr_null(mof_pipeline_backend_name(p, 1));
    ck_assert_uint_eq(mof_pipeline_backend_line(p, 1), 0);
    ck_assert_uint_eq(mof_pipeline_backend_n_params(p, 1), 0);
    ck_assert_ptr_null(mof_pipeline_backend_name(NULL, 0));
    ck_assert_ptr_null(mof_pipeline_backend_param(NULL, 0, 0, NULL));
    mof_pipeline_destroy(p);
}
END_TEST

static Suite *preflight_suite(void)
{
    Suite *s = suite_create("preflight");
    TCase *tc = tcase_create("preflight");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_verdicts);
    tcase_add_test(tc, test_after_passes);
    tcase_add_test(tc, test_infer_shapes);
    tcase_add_test(tc, test_no_backend);
    tcase_add_test(tc, test_init_fails);
    tcase_add_test(tc, test_backend_accessors);
    suite_add_tcase(s, tc);
    return s;
}

MOF_TEST_MAIN(preflight_suite)
