/* test_context.c: the context's diagnostics: recording, subjects, formatting of every
 * shape of location and subject, the handler, and clearing; status and type names. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <mof/mof.h>

#include "testutil.h"

/* Asserts the formatted text of diagnostic i. */
static void assert_diag_text(const mof_context *ctx, size_t i, const char *want)
{
    ck_assert_uint_gt(mof_context_n_diags(ctx), i);
    char *s = mof_diag_format(mof_context_diag(ctx, i));
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, want);
    free(s);
}

/* Formats a diagnostic built by hand and compares it with want. */
static void assert_format(const mof_diag *d, const char *want)
{
    char *s = mof_diag_format(d);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, want);
    free(s);
}

START_TEST(test_create_destroy)
{
    mof_context *ctx = mof_context_create();
    ck_assert_ptr_nonnull(ctx);
    ck_assert_uint_eq(mof_context_n_diags(ctx), 0);
    ck_assert_uint_eq(mof_context_n_errors(ctx), 0);
    ck_assert_ptr_null(mof_context_diag(ctx, 0));
    ck_assert_uint_eq(mof_context_n_plugins(ctx), 0);
    ck_assert_uint_eq(mof_context_n_passes(ctx), 0);
    ck_assert_uint_eq(mof_context_n_backends(ctx), 0);
    mof_context_destroy(ctx);
    mof_context_destroy(NULL);
}
END_TEST

START_TEST(test_report_records)
{
    mof_context *ctx = mof_context_create();
    char file[] = "pipeline.xml";
    mof_location loc = { file, 12, 7 };
    mof_status st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_PARSE, &loc,
                               "bad value %d for '%s'", 12, "bits");
    ck_assert_int_eq(st, MOF_ERR_PARSE);
    /* The context keeps its own copy of every string. */
    file[0] = 'X';
    const mof_diag *d = mof_context_diag(ctx, 0);
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(d->severity, MOF_SEVERITY_ERROR);
    ck_assert_int_eq(d->status, MOF_ERR_PARSE);
    ck_assert_str_eq(d->loc.file, "pipeline.xml");
    ck_assert_ptr_ne(d->loc.file, file);
    ck_assert_uint_eq(d->loc.line, 12);
    ck_assert_uint_eq(d->loc.column, 7);
    ck_assert_str_eq(d->message, "bad value 12 for 'bits'");
    ck_assert_ptr_null(d->plugin);
    ck_assert_ptr_null(d->pass);
    ck_assert_ptr_null(d->backend);
    ck_assert_ptr_null(d->node);
    ck_assert_ptr_null(d->op_type);

    ck_assert_int_eq(mof_report(ctx, MOF_SEVERITY_WARNING, MOF_OK, NULL, "careful"), MOF_OK);
    ck_assert_int_eq(mof_report(ctx, MOF_SEVERITY_NOTE, MOF_OK, NULL, "fyi"), MOF_OK);
    ck_assert_int_eq(mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_IO, NULL, "again"),
                     MOF_ERR_IO);
    ck_assert_uint_eq(mof_context_n_diags(ctx), 4);
    ck_assert_uint_eq(mof_context_n_errors(ctx), 2);
    assert_diag_text(ctx, 0, "pipeline.xml:12:7: error: bad value 12 for 'bits'");
    assert_diag_text(ctx, 1, "warning: careful");
    assert_diag_text(ctx, 2, "note: fyi");
    assert_diag_text(ctx, 3, "error: again");
    ck_assert_ptr_null(mof_context_diag(ctx, 4));
    mof_context_destroy(ctx);
}
END_TEST

START_TEST(test_pointers_survive_more_reports)
{
    mof_context *ctx = mof_context_create();
    mof_report(ctx, MOF_SEVERITY_NOTE, MOF_OK, NULL, "first");
    const mof_diag *first = mof_context_diag(ctx, 0);
    for (int i = 0; i < 1000; i++)
        mof_report(ctx, MOF_SEVERITY_WARNING, MOF_OK, NULL, "more %d", i);
    ck_assert_ptr_eq(mof_context_diag(ctx, 0), first);
    ck_assert_str_eq(first->message, "first");
    ck_assert_uint_eq(mof_context_n_diags(ctx), 1001);
    ck_assert_str_eq(mof_context_diag(ctx, 1000)->message, "more 999");
    mof_context_destroy(ctx);
}
END_TEST

START_TEST(test_vreport_and_long_message)
{
    mof_context *ctx = mof_context_create();
    char big[5000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL, "%s!", big);
    ck_assert_uint_eq(strlen(mof_context_diag(ctx, 0)->message), sizeof(big));
    mof_context_destroy(ctx);
}
END_TEST

START_TEST(test_format_locations)
{
    mof_diag d = { .severity = MOF_SEVERITY_ERROR, .status = MOF_ERR_PARSE, .message = "m" };
    d.loc = (mof_location){ "p.xml", 3, 9 };
    assert_format(&d, "p.xml:3:9: error: m");
    d.loc = (mof_location){ "p.xml", 3, 0 };
    assert_format(&d, "p.xml:3: error: m");
    d.loc = (mof_location){ "p.xml", 0, 0 };
    assert_format(&d, "p.xml: error: m");
    /* A column without a line means nothing. */
    d.loc = (mof_location){ "p.xml", 0, 4 };
    assert_format(&d, "p.xml: error: m");
    /* Without a file there is no location at all. */
    d.loc = (mof_location){ NULL, 3, 9 };
    assert_format(&d, "error: m");
    d.loc = (mof_location){ NULL, 0, 0 };
    assert_format(&d, "error: m");
    d.message = NULL;
    assert_format(&d, "error: ");
}
END_TEST

START_TEST(test_format_severities)
{
    mof_diag d = { .message = "text" };
    d.severity = MOF_SEVERITY_NOTE;
    assert_format(&d, "note: text");
    d.severity = MOF_SEVERITY_WARNING;
    assert_format(&d, "warning: text");
    d.severity = MOF_SEVERITY_ERROR;
    assert_format(&d, "error: text");
    ck_assert_ptr_null(mof_diag_format(NULL));
}
END_TEST

START_TEST(test_format_subjects)
{
    mof_diag d = { .severity = MOF_SEVERITY_ERROR, .message = "m" };
    d.loc = (mof_location){ "pipeline.xml", 12, 7 };
    d.pass = "dead-code";
    d.node = "n3";
    d.op_type = "Relu";
    assert_format(&d, "pipeline.xml:12:7: error: pass 'dead-code': node 'n3' (Relu): m");
    /* The plugin is recorded, not printed. */
    d.plugin = "cleanup";
    assert_format(&d, "pipeline.xml:12:7: error: pass 'dead-code': node 'n3' (Relu): m");
    d.pass = NULL;
    d.backend = "cpu";
    assert_format(&d, "pipeline.xml:12:7: error: backend 'cpu': node 'n3' (Relu): m");
    d.pass = "fuse";
    assert_format(&d, "pipeline.xml:12:7: error: pass 'fuse': backend 'cpu': node 'n3' (Relu): m");
    d.pass = d.backend = NULL;
    d.loc = (mof_location){ NULL, 0, 0 };
    assert_format(&d, "error: node 'n3' (Relu): m");
    d.op_type = NULL;
    assert_format(&d, "error: node 'n3': m");
    d.node = NULL;
    d.op_type = "Conv";
    assert_format(&d, "error: unnamed node (Conv): m");
    d.op_type = NULL;
    d.pass = "p";
    d.severity = MOF_SEVERITY_WARNING;
    assert_format(&d, "warning: pass 'p': m");
}
END_TEST

START_TEST(test_report_node)
{
    mof_context *ctx = mof_context_create();
    mof_model *m = mof_model_create(ctx);
    ck_assert_ptr_nonnull(m);
    mof_graph *g = mof_model_graph(m);
    mof_node *named = mof_graph_add_node(g, MOF_INSERT_AFTER, NULL, "Relu", NULL, "n3", 0,
                                         NULL, 1);
    ck_assert_ptr_nonnull(named);
    mof_node *unnamed = mof_graph_add_node(g, MOF_INSERT_AFTER, NULL, "Conv", NULL, NULL, 0,
                                           NULL, 1);
    ck_assert_ptr_nonnull(unnamed);
    ck_assert_status(ctx, mof_node_set_name(unnamed, ""), MOF_OK);
    mof_context_clear_diags(ctx);

    ck_assert_int_eq(mof_report_node(ctx, MOF_SEVERITY_ERROR, MOF_ERR_UNSUPPORTED, named,
                                     "cannot handle %s", "this"),
                     MOF_ERR_UNSUPPORTED);
    mof_report_node(ctx, MOF_SEVERITY_WARNING, MOF_OK, unnamed, "odd");
    mof_report_node(ctx, MOF_SEVERITY_NOTE, MOF_OK, NULL, "no node");
    const mof_diag *d = mof_context_diag(ctx, 0);
    ck_assert_str_eq(d->node, "n3");
    ck_assert_str_eq(d->op_type, "Relu");
    ck_assert_ptr_null(mof_context_diag(ctx, 1)->node);
    ck_assert_str_eq(mof_context_diag(ctx, 1)->op_type, "Conv");
    assert_diag_text(ctx, 0, "error: node 'n3' (Relu): cannot handle this");
    assert_diag_text(ctx, 1, "warning: unnamed node (Conv): odd");
    assert_diag_text(ctx, 2, "note: no node");

    /* The diagnostic outlives the node it names. */
    ck_assert_status(ctx, mof_node_set_name(named, "renamed"), MOF_OK);
    mof_model_destroy(m);
    assert_diag_text(ctx, 0, "error: node 'n3' (Relu): cannot handle this");
    mof_context_destroy(ctx);
}
END_TEST

struct seen {
    int calls;
    char last[256];
    const mof_diag *last_ptr;
};

static void record_handler(const mof_diag *d, void *user)
{
    struct seen *s = user;
    s->calls++;
    s->last_ptr = d;
    char *text = mof_diag_format(d);
    ck_assert_ptr_nonnull(text);
    snprintf(s->last, sizeof(s->last), "%s", text);
    free(text);
}

START_TEST(test_handler)
{
    mof_context *ctx = mof_context_create();
    struct seen s = { 0 };
    mof_context_set_diag_handler(ctx, record_handler, &s);
    mof_location loc = { "a.xml", 1, 2 };
    mof_report(ctx, MOF_SEVERITY_WARNING, MOF_OK, &loc, "w %d", 1);
    ck_assert_int_eq(s.calls, 1);
    ck_assert_str_eq(s.last, "a.xml:1:2: warning: w 1");
    /* The handler sees the recorded diagnostic itself. */
    ck_assert_ptr_eq(s.last_ptr, mof_context_diag(ctx, 0));
    mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_IO, NULL, "e");
    ck_assert_int_eq(s.calls, 2);
    ck_assert_str_eq(s.last, "error: e");

    /* Removing the handler stops the calls, not the recording. */
    mof_context_set_diag_handler(ctx, NULL, NULL);
    mof_report(ctx, MOF_SEVERITY_NOTE, MOF_OK, NULL, "n");
    ck_assert_int_eq(s.calls, 2);
    ck_assert_uint_eq(mof_context_n_diags(ctx), 3);
    mof_context_destroy(ctx);
}
END_TEST

START_TEST(test_clear)
{
    mof_context *ctx = mof_context_create();
    mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_IO, NULL, "one");
    mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_IO, NULL, "two");
    mof_report(ctx, MOF_SEVERITY_NOTE, MOF_OK, NULL, "three");
    ck_assert_uint_eq(mof_context_n_diags(ctx), 3);
    ck_assert_uint_eq(mof_context_n_errors(ctx), 2);
    mof_context_clear_diags(ctx);
    ck_assert_uint_eq(mof_context_n_diags(ctx), 0);
    ck_assert_uint_eq(mof_context_n_errors(ctx), 0);
    ck_assert_ptr_null(mof_context_diag(ctx, 0));
    mof_context_clear_diags(ctx);
    mof_report(ctx, MOF_SEVERITY_WARNING, MOF_OK, NULL, "after");
    ck_assert_uint_eq(mof_context_n_diags(ctx), 1);
    ck_assert_uint_eq(mof_context_n_errors(ctx), 0);
    assert_diag_text(ctx, 0, "warning: after");
    mof_context_destroy(ctx);
}
END_TEST

START_TEST(test_contexts_are_independent)
{
    mof_context *a = mof_context_create();
    mof_context *b = mof_context_create();
    mof_report(a, MOF_SEVERITY_ERROR, MOF_ERR_IO, NULL, "in a");
    ck_assert_uint_eq(mof_context_n_diags(a), 1);
    ck_assert_uint_eq(mof_context_n_diags(b), 0);
    mof_context_destroy(a);
    mof_context_destroy(b);
}
END_TEST

START_TEST(test_status_str)
{
    ck_assert_str_eq(mof_status_str(MOF_OK), "ok");
    ck_assert_str_eq(mof_status_str(MOF_UNCHANGED), "unchanged");
    ck_assert_str_eq(mof_status_str(MOF_ERR_NOMEM), "out of memory");
    ck_assert_str_eq(mof_status_str(MOF_ERR_INVALID_ARG), "invalid argument");
    ck_assert_str_eq(mof_status_str(MOF_ERR_ABI), "incompatible plugin ABI");
    ck_assert_str_eq(mof_status_str(MOF_ERR_NOT_FOUND), "not found");
    const mof_status all[] = { MOF_OK, MOF_UNCHANGED, MOF_ERR_NOMEM, MOF_ERR_IO,
                               MOF_ERR_PARSE, MOF_ERR_INVALID_MODEL, MOF_ERR_INVALID_ARG,
                               MOF_ERR_UNSUPPORTED, MOF_ERR_ABI, MOF_ERR_VERIFY,
                               MOF_ERR_INTERNAL, MOF_ERR_NOT_FOUND };
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        const char *s = mof_status_str(all[i]);
        ck_assert_ptr_nonnull(s);
        ck_assert_str_ne(s, "unknown status");
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(s, mof_status_str(all[j]));
    }
    ck_assert_str_eq(mof_status_str((mof_status)-99), "unknown status");
    ck_assert_str_eq(mof_status_str((mof_status)42), "unknown status");
}
END_TEST

START_TEST(test_dtypes)
{
    ck_assert_str_eq(mof_dtype_name(MOF_DTYPE_FLOAT), "float");
    ck_assert_str_eq(mof_dtype_name(MOF_DTYPE_INT64), "int64");
    ck_assert_str_eq(mof_dtype_name(MOF_DTYPE_BFLOAT16), "bfloat16");
    ck_assert_str_eq(mof_dtype_name(MOF_DTYPE_COMPLEX128), "complex128");
    ck_assert_str_eq(mof_dtype_name(MOF_DTYPE_UNDEFINED), "undefined");
    ck_assert_str_eq(mof_dtype_name((mof_dtype)99), "undefined");
    ck_assert_uint_eq(mof_dtype_size(MOF_DTYPE_FLOAT), 4);
    ck_assert_uint_eq(mof_dtype_size(MOF_DTYPE_UINT8), 1);
    ck_assert_uint_eq(mof_dtype_size(MOF_DTYPE_INT8), 1);
    ck_assert_uint_eq(mof_dtype_size(MOF_DTYPE_BOOL), 1);
    ck_assert_uint_eq(mof_dtype_size(MOF_DTYPE_INT16), 2);
    ck_assert_uint_eq(mof_dtype_size(MOF_DTYPE_FLOAT16), 2);
    ck_assert_uint_eq(mof_dtype_size(MOF_DTYPE_BFLOAT16), 2);
    ck_assert_uint_eq(mof_dtype_size(MOF_DTYPE_INT32), 4);
    ck_assert_uint_eq(mof_dtype_size(MOF_DTYPE_UINT32), 4);
    ck_assert_uint_eq(mof_dtype_size(MOF_DTYPE_INT64), 8);
    ck_assert_uint_eq(mof_dtype_size(MOF_DTYPE_DOUBLE), 8);
    ck_assert_uint_eq(mof_dtype_size(MOF_DTYPE_COMPLEX64), 8);
    ck_assert_uint_eq(mof_dtype_size(MOF_DTYPE_COMPLEX128), 16);
    ck_assert_uint_eq(mof_dtype_size(MOF_DTYPE_STRING), 0);
    ck_assert_uint_eq(mof_dtype_size(MOF_DTYPE_UNDEFINED), 0);
    ck_assert_uint_eq(mof_dtype_size((mof_dtype)99), 0);
}
END_TEST

static Suite *context_suite(void)
{
    Suite *s = suite_create("context");
    TCase *tc = tcase_create("diagnostics");
    tcase_add_test(tc, test_create_destroy);
    tcase_add_test(tc, test_report_records);
    tcase_add_test(tc, test_pointers_survive_more_reports);
    tcase_add_test(tc, test_vreport_and_long_message);
    tcase_add_test(tc, test_format_locations);
    tcase_add_test(tc, test_format_severities);
    tcase_add_test(tc, test_format_subjects);
    tcase_add_test(tc, test_report_node);
    tcase_add_test(tc, test_handler);
    tcase_add_test(tc, test_clear);
    tcase_add_test(tc, test_contexts_are_independent);
    suite_add_tcase(s, tc);
    TCase *names = tcase_create("names");
    tcase_add_test(names, test_status_str);
    tcase_add_test(names, test_dtypes);
    suite_add_tcase(s, names);
    return s;
}

MOF_TEST_MAIN(context_suite)
