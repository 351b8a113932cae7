/* test_params.c: typed parameters (core/params.c), compiled into this test so that
 * its internal functions can be called directly: parsing by type, ranges, choices,
 * the spellings of booleans, unknown names with suggestions, duplicates, missing
 * required parameters, table validation and help text, with exact messages. */
#define _POSIX_C_SOURCE 200809L /* open_memstream */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "testutil.h"

#include "params.h"

struct quant {
    bool keep;
    int64_t bits;
    double scale;
    char *label;
    int mode;
    int64_t level;
};

static const char *const modes[] = { "fast", "exact", "balanced", NULL };

static const mof_param_desc table[] = {
    { .name = "keep-initializers", .help = "keep initializers", .type = MOF_PARAM_BOOL,
      .offset = offsetof(struct quant, keep), .def = "false" },
    { .name = "bits", .help = "number of bits", .type = MOF_PARAM_INT,
      .offset = offsetof(struct quant, bits), .def = "8", .min = 2, .max = 8,
      .flags = MOF_PARAM_RANGE },
    { .name = "scale", .help = "a scale", .type = MOF_PARAM_FLOAT,
      .offset = offsetof(struct quant, scale), .def = "0.5", .min = 0, .max = 1,
      .flags = MOF_PARAM_RANGE },
    { .name = "label", .help = "a label", .type = MOF_PARAM_STRING,
      .offset = offsetof(struct quant, label), .def = "none" },
    { .name = "mode", .help = "how", .type = MOF_PARAM_CHOICE,
      .offset = offsetof(struct quant, mode), .def = "exact", .choices = modes },
    { .name = "level", .help = "the level", .type = MOF_PARAM_INT,
      .offset = offsetof(struct quant, level), .flags = MOF_PARAM_REQUIRED },
    { 0 }
};

static const mof_param_owner owner = { "pass", "quantize-static", { "p.xml", 3, 0 } };

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

/* The formatted text of diagnostic i. */
static char *diag_text(size_t i)
{
    ck_assert_uint_gt(mof_context_n_diags(ctx), i);
    char *s = mof_diag_format(mof_context_diag(ctx, i));
    ck_assert_ptr_nonnull(s);
    return s;
}

static void assert_diag(size_t i, const char *want)
{
    char *s = diag_text(i);
    ck_assert_str_eq(s, want);
    free(s);
}

/* Applies one argument "name=value" (plus level=1 so that the required one is
 * there) at line 4. */
static mof_status apply1(struct quant *q, const char *name, const char *value)
{
    mof_param_arg args[2] = {
        { "level", "1", { "p.xml", 3, 0 } },
        { name, value, { "p.xml", 4, 0 } },
    };
    memset(q, 0, sizeof(*q));
    return mof_params_apply(ctx, &owner, table, name ? 2 : 1, args, q);
}

START_TEST(test_defaults)
{
    struct quant q;
    ck_assert_status(ctx, apply1(&q, NULL, NULL), MOF_OK);
    ck_assert(!q.keep);
    ck_assert_int_eq(q.bits, 8);
    ck_assert(q.scale == 0.5);
    ck_assert_str_eq(q.label, "none");
    ck_assert_int_eq(q.mode, 1);
    ck_assert_int_eq(q.level, 1);
    ck_assert_uint_eq(mof_context_n_diags(ctx), 0);
    mof_params_free(table, &q);
    ck_assert_ptr_null(q.label);
}
END_TEST

START_TEST(test_each_type)
{
    struct quant q;
    ck_assert_status(ctx, apply1(&q, "bits", "4"), MOF_OK);
    ck_assert_int_eq(q.bits, 4);
    mof_params_free(table, &q);
    ck_assert_status(ctx, apply1(&q, "scale", "0.25"), MOF_OK);
    ck_assert(q.scale == 0.25);
    mof_params_free(table, &q);
    ck_assert_status(ctx, apply1(&q, "scale", "1e-3"), MOF_OK);
    ck_assert(q.scale == 1e-3);
    mof_params_free(table, &q);
    /* The given string replaces the default one (the default is freed). */
    ck_assert_status(ctx, apply1(&q, "label", "calibration set, v2"), MOF_OK);
    ck_assert_str_eq(q.label, "calibration set, v2");
    mof_params_free(table, &q);
    ck_assert_status(ctx, apply1(&q, "label", ""), MOF_OK);
    ck_assert_str_eq(q.label, "");
    mof_params_free(table, &q);
    ck_assert_status(ctx, apply1(&q, "mode", "balanced"), MOF_OK);
    ck_assert_int_eq(q.mode, 2);
    mof_params_free(table, &q);
    ck_assert_status(ctx, apply1(&q, "level", "9223372036854775807"), MOF_ERR_INVALID_ARG);
    mof_params_free(table, &q);
    ck_assert_uint_eq(mof_context_n_errors(ctx), 1);   /* given twice */
}
END_TEST

START_TEST(test_full_int64)
{
    const mof_param_desc *d = mof_params_find(table, "level");
    ck_assert_ptr_nonnull(d);
    int64_t v = 0;
    ck_assert_status(ctx, mof_param_parse(ctx, &owner, d, "9223372036854775807", NULL, &v),
                     MOF_OK);
    ck_assert(v == INT64_MAX);
    ck_assert_status(ctx, mof_param_parse(ctx, &owner, d, "-9223372036854775808", NULL, &v),
                     MOF_OK);
    ck_assert(v == INT64_MIN);
    ck_assert_status(ctx, mof_param_parse(ctx, &owner, d, "+12", NULL, &v), MOF_OK);
    ck_assert(v == 12);
    mof_location loc = { "p.xml", 7, 0 };
    ck_assert_status(ctx, mof_param_parse(ctx, &owner, d, "9223372036854775808", &loc, &v),
                     MOF_ERR_INVALID_ARG);
    assert_diag(0, "p.xml:7: error: pass 'quantize-static': parameter 'level' = "
                   "9223372036854775808 is outside the range of a 64-bit integer");
    ck_assert(v == 12);   /* untouched on error */
}
END_TEST

START_TEST(test_bool_spellings)
{
    static const char *const yes[] = { "true", "yes", "on", "1", "TRUE", "Yes", "On" };
    static const char *const no[] = { "false", "no", "off", "0", "False", "NO", "oFF" };
    struct quant q;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        ck_assert_status(ctx, apply1(&q, "keep-initializers", yes[i]), MOF_OK);
        ck_assert_msg(q.keep, "%s", yes[i]);
        mof_params_free(table, &q);
        ck_assert_status(ctx, apply1(&q, "keep-initializers", no[i]), MOF_OK);
        ck_assert_msg(!q.keep, "%s", no[i]);
        mof_params_free(table, &q);
    }
    static const char *const bad[] = { "maybe", "", "2", "y", " true", "truee" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        mof_context_clear_diags(ctx);
        ck_assert_status(ctx, apply1(&q, "keep-initializers", bad[i]), MOF_ERR_INVALID_ARG);
        mof_params_free(table, &q);
        ck_assert_uint_eq(mof_context_n_errors(ctx), 1);
    }
    mof_context_clear_diags(ctx);
    apply1(&q, "keep-initializers", "maybe");
    mof_params_free(table, &q);
    assert_diag(0, "p.xml:4: error: pass 'quantize-static': parameter 'keep-initializers' = "
                   "'maybe' is not a boolean (use true/false, yes/no, on/off or 1/0)");
}
END_TEST

START_TEST(test_int_errors)
{
    struct quant q;
    ck_assert_status(ctx, apply1(&q, "bits", "12"), MOF_ERR_INVALID_ARG);
    mof_params_free(table, &q);
    assert_diag(0, "p.xml:4: error: pass 'quantize-static': parameter 'bits' = 12 is "
                   "outside [2, 8]");
    ck_assert_status(ctx, apply1(&q, "bits", "1"), MOF_ERR_INVALID_ARG);
    mof_params_free(table, &q);
    assert_diag(1, "p.xml:4: error: pass 'quantize-static': parameter 'bits' = 1 is outside "
                   "[2, 8]");
    ck_assert_status(ctx, apply1(&q, "bits", "four"), MOF_ERR_INVALID_ARG);
    mof_params_free(table, &q);
    assert_diag(2, "p.xml:4: error: pass 'quantize-static': parameter 'bits' = 'four' is "
                   "not an integer");
    static const char *const bad[] = { "", "4.5", "0x4", " 4", "4 ", "4k" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        mof_context_clear_diags(ctx);
        ck_assert_status(ctx, apply1(&q, "bits", bad[i]), MOF_ERR_INVALID_ARG);
        mof_params_free(table, &q);
        ck_assert_msg(mof_test_diag_contains(ctx, "is not an integer"), "'%s'", bad[i]);
    }
    ck_assert_status(ctx, apply1(&q, "bits", "2"), MOF_OK);
    mof_params_free(table, &q);
    ck_assert_status(ctx, apply1(&q, "bits", "8"), MOF_OK);
    mof_params_free(table, &q);
}
END_TEST

START_TEST(test_float_errors)
{
    struct quant q;
    ck_assert_status(ctx, apply1(&q, "scale", "2"), MOF_ERR_INVALID_ARG);
    mof_params_free(table, &q);
    assert_diag(0, "p.xml:4: error: pass 'quantize-static': parameter 'scale' = 2 is outside "
                   "[0, 1]");
    ck_assert_status(ctx, apply1(&q, "scale", "half"), MOF_ERR_INVALID_ARG);
    mof_params_free(table, &q);
    assert_diag(1, "p.xml:4: error: pass 'quantize-static': parameter 'scale' = 'half' is "
                   "not a number");
    ck_assert_status(ctx, apply1(&q, "scale", "nan"), MOF_ERR_INVALID_ARG);
    mof_params_free(table, &q);
    assert_diag(2, "p.xml:4: error: pass 'quantize-static': parameter 'scale' = nan is not "
                   "a finite number");
    ck_assert_status(ctx, apply1(&q, "scale", "1e999"), MOF_ERR_INVALID_ARG);
    mof_params_free(table, &q);
    assert_diag(3, "p.xml:4: error: pass 'quantize-static': parameter 'scale' = 1e999 is not "
                   "a finite number");
    ck_assert_status(ctx, apply1(&q, "scale", "-0.1"), MOF_ERR_INVALID_ARG);
    mof_params_free(table, &q);
    ck_assert_status(ctx, apply1(&q, "scale", ""), MOF_ERR_INVALID_ARG);
    mof_params_free(table, &q);
    ck_assert_status(ctx, apply1(&q, "scale", "0.5x"), MOF_ERR_INVALID_ARG);
    mof_params_free(table, &q);
    ck_assert_uint_eq(mof_context_n_errors(ctx), 7);
}
END_TEST

START_TEST(test_choices)
{
    struct quant q;
    ck_assert_status(ctx, apply1(&q, "mode", "fast"), MOF_OK);
    ck_assert_int_eq(q.mode, 0);
    mof_params_free(table, &q);
    ck_assert_status(ctx, apply1(&q, "mode", "fsat"), MOF_ERR_INVALID_ARG);
    mof_params_free(table, &q);
    assert_diag(0, "p.xml:4: error: pass 'quantize-static': parameter 'mode' = 'fsat' is not "
                   "one of: fast, exact, balanced; did you mean 'fast'?");
    ck_assert_status(ctx, apply1(&q, "mode", "quick"), MOF_ERR_INVALID_ARG);
    mof_params_free(table, &q);
    assert_diag(1, "p.xml:4: error: pass 'quantize-static': parameter 'mode' = 'quick' is "
                   "not one of: fast, exact, balanced");
    /* Choices are exact: no case folding. */
    ck_assert_status(ctx, apply1(&q, "mode", "Fast"), MOF_ERR_INVALID_ARG);
    mof_params_free(table, &q);
}
END_TEST

START_TEST(test_unknown)
{
    struct quant q;
    ck_assert_status(ctx, apply1(&q, "keep-initialisers", "true"), MOF_ERR_INVALID_ARG);
    mof_params_free(table, &q);
    assert_diag(0, "p.xml:4: error: pass 'quantize-static': unknown parameter "
                   "'keep-initialisers'; did you mean 'keep-initializers'?");
    ck_assert_status(ctx, apply1(&q, "zzz", "1"), MOF_ERR_INVALID_ARG);
    mof_params_free(table, &q);
    assert_diag(1, "p.xml:4: error: pass 'quantize-static': unknown parameter 'zzz' (its "
                   "parameters are: keep-initializers, bits, scale, label, mode, level)");
    /* A pass without parameters. */
    mof_param_arg arg = { "x", "1", { "p.xml", 9, 0 } };
    mof_param_owner o = { "backend", "onnx", { "p.xml", 9, 0 } };
    ck_assert_status(ctx, mof_params_check(ctx, &o, NULL, 1, &arg), MOF_ERR_INVALID_ARG);
    assert_diag(2, "p.xml:9: error: backend 'onnx': unknown parameter 'x' (it has no "
                   "parameters)");
}
END_TEST

START_TEST(test_duplicate)
{
    mof_param_arg args[] = {
        { "level", "1", { "p.xml", 3, 0 } },
        { "bits", "4", { "p.xml", 3, 0 } },
        { "bits", "5", { "p.xml", 4, 0 } },
    };
    ck_assert_status(ctx, mof_params_check(ctx, &owner, table, 3, args), MOF_ERR_INVALID_ARG);
    ck_assert_uint_eq(mof_context_n_errors(ctx), 1);
    assert_diag(0, "p.xml:4: error: pass 'quantize-static': parameter 'bits' is given more "
                   "than once (first at line 3)");
    /* In the one-line form, columns tell them apart. */
    mof_param_arg cols[] = {
        { "level", "1", { "<passes>", 1, 17 } },
        { "level", "2", { "<passes>", 1, 26 } },
    };
    ck_assert_status(ctx, mof_params_check(ctx, &owner, table, 2, cols), MOF_ERR_INVALID_ARG);
    assert_diag(1, "<passes>:1:26: error: pass 'quantize-static': parameter 'level' is given "
                   "more than once (first at column 17)");
}
END_TEST

START_TEST(test_missing_required)
{
    ck_assert_status(ctx, mof_params_check(ctx, &owner, table, 0, NULL), MOF_ERR_INVALID_ARG);
    ck_assert_uint_eq(mof_context_n_errors(ctx), 1);
    assert_diag(0, "p.xml:3: error: pass 'quantize-static': missing required parameter "
                   "'level' (int: the level)");
}
END_TEST

/* Every problem of a list is reported, not only the first. */
START_TEST(test_all_errors)
{
    mof_param_arg args[] = {
        { "bits", "12", { "p.xml", 3, 0 } },
        { "mode", "x", { "p.xml", 3, 0 } },
        { "colour", "red", { "p.xml", 3, 0 } },
        { "scale", "0.5", { "p.xml", 3, 0 } },
    };
    struct quant q = { 0 };
    ck_assert_status(ctx, mof_params_apply(ctx, &owner, table, 4, args, &q),
                     MOF_ERR_INVALID_ARG);
    mof_params_free(table, &q);
    ck_assert_uint_eq(mof_context_n_errors(ctx), 4);
    ck_assert(mof_test_diag_contains(ctx, "'bits' = 12 is outside [2, 8]"));
    ck_assert(mof_test_diag_contains(ctx, "'mode' = 'x' is not one of"));
    ck_assert(mof_test_diag_contains(ctx, "unknown parameter 'colour'"));
    ck_assert(mof_test_diag_contains(ctx, "missing required parameter 'level'"));
}
END_TEST

START_TEST(test_check_table_good)
{
    mof_param_owner o = { "pass", "quantize-static", { NULL, 0, 0 } };
    ck_assert_status(ctx, mof_params_check_table(ctx, &o, table, sizeof(struct quant)),
                     MOF_OK);
    ck_assert_status(ctx, mof_params_check_table(ctx, &o, NULL, 0), MOF_OK);
    ck_assert_uint_eq(mof_context_n_diags(ctx), 0);
}
END_TEST

struct bad_priv {
    int64_t a;
    int64_t b;
    int c;
};

START_TEST(test_check_table_bad)
{
    static const char *const dup_choices[] = { "a", "b", "a", NULL };
    static const mof_param_desc bad[] = {
        { .name = "Bits", .type = MOF_PARAM_INT, .offset = offsetof(struct bad_priv, a) },
        { .name = "twice", .type = MOF_PARAM_INT, .offset = offsetof(struct bad_priv, b) },
        { .name = "twice", .type = MOF_PARAM_INT, .offset = offsetof(struct bad_priv, b) },
        { .name = "no-choices", .type = MOF_PARAM_CHOICE,
          .offset = offsetof(struct bad_priv, c) },
        { .name = "dup-choices", .type = MOF_PARAM_CHOICE, .choices = dup_choices,
          .offset = offsetof(struct bad_priv, c) },
        { .name = "bad-default", .type = MOF_PARAM_INT, .def = "99", .min = 0, .max = 9,
          .flags = MOF_PARAM_RANGE, .offset = offsetof(struct bad_priv, a) },
        { .name = "outside", .type = MOF_PARAM_INT, .offset = 400 },
        { .name = "misaligned", .type = MOF_PARAM_INT, .offset = 3 },
        { .name = "ranged-string", .type = MOF_PARAM_STRING, .flags = MOF_PARAM_RANGE,
          .offset = offsetof(struct bad_priv, a) },
        { .name = "empty-range", .type = MOF_PARAM_FLOAT, .flags = MOF_PARAM_RANGE,
          .min = 2, .max = 1, .offset = offsetof(struct bad_priv, b) },
        { .name = "unknown-type", .type = (mof_param_type)42 },
        { 0 }
    };
    mof_param_owner o = { "pass", "broken", { NULL, 0, 0 } };
    ck_assert_status(ctx, mof_params_check_table(ctx, &o, bad, sizeof(struct bad_priv)),
                     MOF_ERR_INVALID_ARG);
    static const char *const want[] = {
        "error: pass 'broken': parameter name 'Bits' is not kebab-case (lower-case words "
        "joined by '-')",
        "error: pass 'broken': parameter 'twice' is declared twice",
        "error: pass 'broken': parameter 'no-choices' is a choice without choices",
        "error: pass 'broken': parameter 'dup-choices' lists the choice 'a' twice",
        "error: pass 'broken': the default of parameter 'bad-default' = 99 is outside [0, 9]",
        "error: pass 'broken': parameter 'outside' is stored at offset 400, outside its "
        "24-byte private struct",
        "error: pass 'broken': parameter 'misaligned' is stored at offset 3, which is not "
        "aligned for its type (int)",
        "error: pass 'broken': parameter 'ranged-string' has a range but is a string",
        "error: pass 'broken': parameter 'empty-range' has an empty range [2, 1]",
        "error: pass 'broken': parameter 'unknown-type' has an unknown type 42",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        bool found = false;
        for (size_t k = 0; k < mof_context_n_diags(ctx) && !found; k++) {
            char *s = diag_text(k);
            found = strcmp(s, want[i]) == 0;
            free(s);
        }
        if (!found)
            mof_test_print_diags(ctx);
        ck_assert_msg(found, "missing: %s", want[i]);
    }
}
END_TEST

START_TEST(test_kebab)
{
    ck_assert(mof_is_kebab_case("keep-initializers"));
    ck_assert(mof_is_kebab_case("fp16"));
    ck_assert(mof_is_kebab_case("a-1-b"));
    ck_assert(!mof_is_kebab_case(""));
    ck_assert(!mof_is_kebab_case("-a"));
    ck_assert(!mof_is_kebab_case("a-"));
    ck_assert(!mof_is_kebab_case("a--b"));
    ck_assert(!mof_is_kebab_case("a_b"));
    ck_assert(!mof_is_kebab_case("1a"));
    ck_assert(!mof_is_kebab_case("Ab"));
}
END_TEST

START_TEST(test_describe)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    ck_assert_ptr_nonnull(f);
    mof_params_describe(f, table, "  ");
    mof_params_describe(f, NULL, "  ");   /* nothing */
    fclose(f);
    ck_assert_str_eq(text,
                     "  keep-initializers  bool                   default false   keep "
                     "initializers\n"
                     "  bits               int [2, 8]             default 8       number of "
                     "bits\n"
                     "  scale              float [0, 1]           default 0.5     a scale\n"
                     "  label              string                 default 'none'  a label\n"
                     "  mode               {fast|exact|balanced}  default exact   how\n"
                     "  level              int                    required        the "
                     "level\n");
    free(text);
}
END_TEST

static Suite *params_suite(void)
{
    Suite *s = suite_create("params");
    TCase *tc = tcase_create("params");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_each_type);
    tcase_add_test(tc, test_full_int64);
    tcase_add_test(tc, test_bool_spellings);
    tcase_add_test(tc, test_int_errors);
    tcase_add_test(tc, test_float_errors);
    tcase_add_test(tc, test_choices);
    tcase_add_test(tc, test_unknown);
    tcase_add_test(tc, test_duplicate);
    tcase_add_test(tc, test_missing_required);
    tcase_add_test(tc, test_all_errors);
    tcase_add_test(tc, test_check_table_good);
    tcase_add_test(tc, test_check_table_bad);
    tcase_add_test(tc, test_kebab);
    tcase_add_test(tc, test_describe);
    suite_add_tcase(s, tc);
    return s;
}

MOF_TEST_MAIN(params_suite)
