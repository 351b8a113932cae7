/* test_pipeline.c: loading pipelines: valid files, XML syntax errors with
 * file:line:col, structure and schema errors, unknown names with suggestions,
 * parameters, several errors in one run, contracts, entities that must never be
 * expanded, <plugin> paths, --set and --input-shape, the one-line form, and the hash.
 *
 * The passes come from a plugin linked into this test (MOF_PLUGIN_STATIC), so that
 * messages do not depend on the real pass plugins. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, mkfifo, dup */
#define MOF_PLUGIN_STATIC pt
#include "config.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/xmlerror.h>

#include "testutil.h"

#include "sha256.h"

#define DATA MOF_TEST_SRCDIR "/tests/data/pipelines/"
#define TEST_PLUGINS MOF_TEST_BUILDDIR "/tests/plugins/.libs"

/* ------------------------------------------------------------------ the test plugin */

struct quant {
    int64_t bits;
    int mode;
    double scale;
    char *calibration;
};

static const char *const quant_modes[] = { "minmax", "entropy", "percentile", NULL };

static const mof_param_desc quant_params[] = {
    { .name = "bits", .help = "bits per weight", .type = MOF_PARAM_INT,
      .offset = offsetof(struct quant, bits), .def = "8", .min = 2, .max = 8,
      .flags = MOF_PARAM_RANGE },
    { .name = "mode", .help = "calibration method", .type = MOF_PARAM_CHOICE,
      .offset = offsetof(struct quant, mode), .def = "minmax", .choices = quant_modes },
    { .name = "scale", .help = "a scale", .type = MOF_PARAM_FLOAT,
      .offset = offsetof(struct quant, scale), .def = "1", .min = 0, .max = 1,
      .flags = MOF_PARAM_RANGE },
    { .name = "calibration", .help = "calibration data", .type = MOF_PARAM_STRING,
      .offset = offsetof(struct quant, calibration) },
    { 0 }
};

struct dead {
    bool keep;
};

static const mof_param_desc dead_params[] = {
    { .name = "keep-initializers", .help = "keep unused initializers", .type = MOF_PARAM_BOOL,
      .offset = offsetof(struct dead, keep), .def = "false" },
    { 0 }
};

struct level {
    int64_t level;
};

static const mof_param_desc level_params[] = {
    { .name = "level", .help = "how hard to try", .type = MOF_PARAM_INT,
      .offset = offsetof(struct level, level), .min = 1, .max = 3,
      .flags = MOF_PARAM_RANGE | MOF_PARAM_REQUIRED },
    { 0 }
};

struct sink {
    bool compress;
};

static const mof_param_desc sink_params[] = {
    { .name = "compress", .help = "compress the output", .type = MOF_PARAM_BOOL,
      .offset = offsetof(struct sink, compress), .def = "false" },
    { 0 }
};

static mof_status unchanged(mof_pass_ctx *pc, mof_model *m, void *priv)
{
    return MOF_UNCHANGED;
}

static const char *const shapes[] = { "shapes", NULL };
static const char *const nhwc[] = { "nhwc", NULL };

#define PASS(n, ...)                                                                       \
    { .size = sizeof(mof_pass_desc), .name = (n), .summary = "test pass",                  \
      .run = unchanged, __VA_ARGS__ }

static const mof_pass_desc passes[] = {
    PASS("eliminate-identity", .flags = MOF_PASS_EXACT),
    PASS("dead-code", .params = dead_params, .priv_size = sizeof(struct dead)),
    PASS("quantize-static", .params = quant_params, .priv_size = sizeof(struct quant)),
    PASS("needs-param", .params = level_params, .priv_size = sizeof(struct level)),
    PASS("infer-shapes", .provides = shapes),
    PASS("needs-shapes", .requires = shapes),
    PASS("to-nhwc", .invalidates = shapes, .provides = nhwc),
};

static mof_status sink_emit(mof_backend_ctx *bc, const mof_model *m, const char *path,
                            void *priv)
{
    return MOF_OK;
}

static const mof_backend_desc sink = {
    .size = sizeof(mof_backend_desc), .name = "sink", .summary = "test backend",
    .params = sink_params, .priv_size = sizeof(struct sink), .default_output = "model.out",
    .emit = sink_emit,
};

static const mof_backend_desc bare = {
    .size = sizeof(mof_backend_desc), .name = "bare", .summary = "no default output",
    .emit = sink_emit,
};

static mof_status register_pt(mof_registrar *r)
{
    for (size_t i = 0; i < sizeof(passes) / sizeof(passes[0]); i++) {
        mof_status st = mof_register_pass(r, &passes[i]);
        if (st != MOF_OK)
            return st;
    }
    mof_status st = mof_register_backend(r, &sink);
    return st == MOF_OK ? mof_register_backend(r, &bare) : st;
}

MOF_PLUGIN_DEFINE("pipeline-test", "0.0.1", "passes for test_pipeline", "MIT", register_pt)

/* ------------------------------------------------------------------ helpers */

static mof_context *ctx;

static void setup(void)
{
    ctx = mof_context_create();
    ck_assert_ptr_nonnull(ctx);
    ck_assert_status(ctx, mof_context_add_static_plugin(ctx, mof_plugin_entry_pt), MOF_OK);
}

static void teardown(void)
{
    mof_context_destroy(ctx);
}

/* Whether some diagnostic formats exactly as want. */
static bool has_diag(const char *want)
{
    bool found = false;
    for (size_t i = 0; i < mof_context_n_diags(ctx) && !found; i++) {
        char *s = mof_diag_format(mof_context_diag(ctx, i));
        found = s && strcmp(s, want) == 0;
        free(s);
    }
    return found;
}

#define ck_assert_diag(...)                                                                \
    do {                                                                                   \
        char *want_;                                                                       \
        ck_assert_int_ge(asprintf_(&want_, __VA_ARGS__), 0);                               \
        if (!has_diag(want_))                                                              \
            mof_test_print_diags(ctx);                                                     \
        ck_assert_msg(has_diag(want_), "no diagnostic: %s", want_);                        \
        free(want_);                                                                       \
    } while (0)

static int asprintf_(char **out, const char *fmt, ...) MOF_PRINTF(2, 3);

static int asprintf_(char **out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    *out = malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(*out, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return n;
}

static mof_pipeline *load_data(const char *name)
{
    char path[1024];
    snprintf(path, sizeof(path), DATA "%s", name);
    return mof_pipeline_load(ctx, path);
}

static mof_pipeline *load_string(const char *xml)
{
    return mof_pipeline_load_buffer(ctx, xml, strlen(xml), "mem.xml", NULL);
}

static char *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    char *buf = malloc(1 << 16);
    *size = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

/* ------------------------------------------------------------------ tests */

START_TEST(test_valid)
{
    mof_pipeline *p = load_data("valid.xml");
    if (!p)
        mof_test_print_diags(ctx);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(mof_context_n_errors(ctx), 0);
    ck_assert_str_eq(mof_pipeline_name(p), "everything");
    ck_assert_uint_eq(mof_pipeline_n_backends(p), 2);
    ck_assert_uint_eq(mof_pipeline_n_passes(p), 6);
    size_t size;
    char *bytes = read_file(DATA "valid.xml", &size);
    char hex[MOF_SHA256_HEX_SIZE];
    mof_sha256_hex(bytes, size, hex);
    ck_assert_str_eq(mof_pipeline_hash(p), hex);
    free(bytes);
    mof_pipeline_destroy(p);
    mof_pipeline_destroy(NULL);
}
END_TEST

START_TEST(test_default_name)
{
    mof_pipeline *p = load_data("contracts.xml");
    ck_assert_ptr_null(p);   /* has contract errors; the name is checked elsewhere */
    const char *xml = "<pipeline><pass name=\"dead-code\"/></pipeline>";
    p = mof_pipeline_load_buffer(ctx, xml, strlen(xml), "dir/fast.xml", NULL);
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(mof_pipeline_name(p), "fast");
    ck_assert_uint_eq(mof_pipeline_n_backends(p), 0);
    mof_pipeline_destroy(p);
}
END_TEST

START_TEST(test_syntax_error)
{
    ck_assert_ptr_null(load_data("syntax.xml"));
    /* Only the first: what libxml2 says after it echoes it. */
    ck_assert_uint_eq(mof_context_n_errors(ctx), 1);
    ck_assert_diag("%ssyntax.xml:3:12: error: Opening and ending tag mismatch: pass line 2 "
                   "and pipeline", DATA);
}
END_TEST

START_TEST(test_empty_file)
{
    ck_assert_ptr_null(mof_pipeline_load_buffer(ctx, "", 0, "empty.xml", NULL));
    ck_assert_uint_ge(mof_context_n_errors(ctx), 1);
    ck_assert(mof_test_diag_contains(ctx, "empty.xml"));
}
END_TEST

START_TEST(test_missing_file)
{
    ck_assert_ptr_null(mof_pipeline_load(ctx, DATA "no-such-file.xml"));
    ck_assert_diag("error: cannot open the pipeline file '%sno-such-file.xml': No such file "
                   "or directory", DATA);
}
END_TEST

START_TEST(test_schema_errors)
{
    ck_assert_ptr_null(load_data("schema.xml"));
    ck_assert_diag("%sschema.xml:1: error: <pipeline> has no attribute 'colour' (it takes "
                   "'name' or 'record-metadata')", DATA);
    ck_assert_diag("%sschema.xml:3: error: unknown element <pas> in <pipeline>; did you mean "
                   "<pass>?", DATA);
    ck_assert_diag("%sschema.xml:4: error: <repeat> has no attribute 'mx'; did you mean "
                   "'max'?", DATA);
    ck_assert_diag("%sschema.xml:5: error: <plugin> needs a 'path' attribute", DATA);
    ck_assert_diag("%sschema.xml:6: error: <backend> may not contain elements (found <pass>)",
                   DATA);
    ck_assert_diag("%sschema.xml:7: error: <repeat> contains no pass", DATA);
    ck_assert_diag("%sschema.xml:9: error: <pipeline> may not contain text", DATA);
    ck_assert_uint_eq(mof_context_n_errors(ctx), 7);
}
END_TEST

START_TEST(test_schema_more)
{
    static const struct {
        const char *xml, *want;
    } cases[] = {
        { "<pipe/>", "mem.xml:1: error: the root element is <pipe>; a pipeline file starts "
                     "with <pipeline>" },
        { "<pipeline xmlns=\"urn:x\"/>", "mem.xml:1: error: <pipeline> is in the namespace "
                                        "'urn:x'; pipeline elements have none" },
        { "<pipeline><repeat max=\"0\"><pass name=\"dead-code\"/></repeat></pipeline>",
          "mem.xml:1: error: <repeat> max is '0'; it must be a positive integer below "
          "4294967295" },
        { "<pipeline record-metadata=\"maybe\"/>",
          "mem.xml:1: error: <pipeline> record-metadata is 'maybe'; use true or false" },
        { "<pipeline><pass/></pipeline>", "mem.xml:1: error: <pass> needs a 'name' attribute" },
        { "<pipeline><pass name=\"\"/></pipeline>",
          "mem.xml:1: error: <pass> has an empty 'name' attribute" },
        { "<pipeline><input name=\"x\"/></pipeline>",
          "mem.xml:1: error: <input> needs a 'shape' attribute" },
        { "<pipeline><repeat><backend name=\"sink\"/></repeat></pipeline>",
          "mem.xml:1: error: <backend> may not appear inside <repeat>" },
        { "<pipeline><pass name=\"dead-code\" q:x=\"1\" xmlns:q=\"urn:q\"/></pipeline>",
          "mem.xml:1: error: <pass> has the attribute 'q:x'; attributes of pipeline elements "
          "have no namespace" },
        { "<pipeline>\n<q:pass xmlns:q=\"urn:q\" name=\"a\"/></pipeline>",
          "mem.xml:2: error: element <q:pass> has a namespace; pipeline elements have none" },
        { "<pipeline><frobnicate/></pipeline>",
          "mem.xml:1: error: unknown element <frobnicate> in <pipeline> (expected one of: "
          "<plugin>, <input>, <pass>, <repeat> or <backend>)" },
        { "<pipeline><plugin path=\"x.so\" where=\"here\"/></pipeline>",
          "mem.xml:1: error: <plugin> has no attribute 'where' (it takes 'path')" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mof_context_clear_diags(ctx);
        ck_assert_ptr_null(load_string(cases[i].xml));
        if (!has_diag(cases[i].want))
            mof_test_print_diags(ctx);
        ck_assert_msg(has_diag(cases[i].want), "case %zu: %s", i, cases[i].want);
        if (mof_context_n_errors(ctx) != 1)
            mof_test_print_diags(ctx);
        ck_assert_msg(mof_context_n_errors(ctx) == 1, "case %zu: %zu errors", i,
                      mof_context_n_errors(ctx));
    }
}
END_TEST

START_TEST(test_unknown_pass)
{
    ck_assert_ptr_null(load_data("unknown-pass.xml"));
    ck_assert_uint_eq(mof_context_n_errors(ctx), 1);
    ck_assert_diag("%sunknown-pass.xml:2: error: unknown pass 'eliminate-identty'; did you "
                   "mean 'eliminate-identity'?", DATA);
}
END_TEST

START_TEST(test_unknown_no_suggestion)
{
    ck_assert_ptr_null(load_string("<pipeline><pass name=\"zzzzzzzz\"/></pipeline>"));
    ck_assert_diag("mem.xml:1: error: unknown pass 'zzzzzzzz' (no loaded plugin provides a "
                   "pass of that name)");
    mof_context_clear_diags(ctx);
    ck_assert_ptr_null(load_string("<pipeline><pass name=\"sink\"/></pipeline>"));
    ck_assert_diag("mem.xml:1: error: 'sink' is a backend, not a pass; write <backend "
                   "name=\"sink\"/> after the passes");
    mof_context_clear_diags(ctx);
    ck_assert_ptr_null(load_string("<pipeline><backend name=\"dead-code\"/></pipeline>"));
    ck_assert_diag("mem.xml:1: error: 'dead-code' is a pass, not a backend; write <pass "
                   "name=\"dead-code\"/>");
}
END_TEST

START_TEST(test_wrong_type)
{
    ck_assert_ptr_null(load_data("wrong-type.xml"));
    ck_assert_uint_eq(mof_context_n_errors(ctx), 1);
    ck_assert_diag("%swrong-type.xml:2: error: pass 'quantize-static': parameter 'bits' = "
                   "'four' is not an integer", DATA);
}
END_TEST

START_TEST(test_out_of_range)
{
    ck_assert_ptr_null(load_data("range.xml"));
    ck_assert_uint_eq(mof_context_n_errors(ctx), 1);
    ck_assert_diag("%srange.xml:2: error: pass 'quantize-static': parameter 'bits' = 12 is "
                   "outside [2, 8]", DATA);
}
END_TEST

START_TEST(test_many_errors)
{
    ck_assert_ptr_null(load_data("many-errors.xml"));
    ck_assert_diag("%smany-errors.xml:2: error: unknown pass 'eliminate-identty'; did you "
                   "mean 'eliminate-identity'?", DATA);
    ck_assert_diag("%smany-errors.xml:3: error: pass 'dead-code': unknown parameter "
                   "'keep-initialisers'; did you mean 'keep-initializers'?", DATA);
    ck_assert_diag("%smany-errors.xml:4: error: pass 'quantize-static': parameter 'bits' = 12 "
                   "is outside [2, 8]", DATA);
    ck_assert_diag("%smany-errors.xml:4: error: pass 'quantize-static': parameter 'mode' = "
                   "'fast' is not one of: minmax, entropy, percentile", DATA);
    ck_assert_diag("%smany-errors.xml:5: error: pass 'needs-param': missing required "
                   "parameter 'level' (int in [1, 3]: how hard to try)", DATA);
    ck_assert_diag("%smany-errors.xml:6: error: pass 'needs-shapes' requires 'shapes', which "
                   "no earlier pass provides (add a pass that provides it before line 6, e.g. "
                   "'infer-shapes')", DATA);
    ck_assert_diag("%smany-errors.xml:7: error: unknown backend 'sinc'; did you mean 'sink'?",
                   DATA);
    ck_assert_diag("%smany-errors.xml:8: error: input 'image': shape '1,x,3' is not a list of "
                   "dims such as '1,3,224,224' ('x' is not a non-negative integer)", DATA);
    ck_assert_diag("%smany-errors.xml:9: error: backend 'bare' needs an 'output' attribute "
                   "(it has no default output name)", DATA);
    ck_assert_uint_eq(mof_context_n_errors(ctx), 9);
}
END_TEST

START_TEST(test_contracts)
{
    ck_assert_ptr_null(load_data("contracts.xml"));
    /* The repeat's second iteration sees what to-nhwc broke in the first. */
    ck_assert_diag("%scontracts.xml:4: error: pass 'needs-shapes' requires 'shapes', which "
                   "pass 'to-nhwc' at line 5 invalidates (add a pass that provides it after "
                   "line 5, e.g. 'infer-shapes')", DATA);
    ck_assert_diag("%scontracts.xml:7: error: pass 'needs-shapes' requires 'shapes', which "
                   "pass 'to-nhwc' at line 5 invalidates (add a pass that provides it after "
                   "line 5, e.g. 'infer-shapes')", DATA);
    ck_assert_uint_eq(mof_context_n_errors(ctx), 2);
}
END_TEST

START_TEST(test_contracts_ok)
{
    static const char *const ok[] = {
        "<pipeline><pass name=\"infer-shapes\"/><pass name=\"needs-shapes\"/></pipeline>",
        "<pipeline><repeat><pass name=\"to-nhwc\"/><pass name=\"infer-shapes\"/>"
        "<pass name=\"needs-shapes\"/></repeat><pass name=\"needs-shapes\"/></pipeline>",
        "<pipeline><pass name=\"infer-shapes\"/><repeat max=\"2\"><repeat>"
        "<pass name=\"needs-shapes\"/></repeat></repeat></pipeline>",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        mof_pipeline *p = load_string(ok[i]);
        if (!p)
            mof_test_print_diags(ctx);
        ck_assert_msg(p != NULL, "case %zu", i);
        mof_pipeline_destroy(p);
    }
    /* Nothing provides it in the first iteration: reported once, not twice. */
    ck_assert_ptr_null(load_string("<pipeline>\n<repeat>\n<pass name=\"needs-shapes\"/>\n"
                                   "<pass name=\"infer-shapes\"/>\n</repeat>\n</pipeline>"));
    ck_assert_uint_eq(mof_context_n_errors(ctx), 1);
    ck_assert_diag("mem.xml:3: error: pass 'needs-shapes' requires 'shapes', which no earlier "
                   "pass provides (add a pass that provides it before line 3, e.g. "
                   "'infer-shapes')");
}
END_TEST

START_TEST(test_contracts_good_plugin)
{
    /* The purpose-built plugin of the host's tests, loaded by path. */
    ck_assert_status(ctx, mof_context_load_plugin(ctx, TEST_PLUGINS "/good_plugin.so"), MOF_OK);
    ck_assert_ptr_null(load_string("<pipeline>\n  <pass name=\"test-contract-needs-x\"/>\n"
                                   "  <pass name=\"test-provides-x\"/>\n</pipeline>"));
    ck_assert_diag("mem.xml:2: error: pass 'test-contract-needs-x' requires 'x', which no "
                   "earlier pass provides (add a pass that provides it before line 2, e.g. "
                   "'test-provides-x')");
    mof_context_clear_diags(ctx);
    mof_pipeline *p = load_string("<pipeline><pass name=\"test-provides-x\"/>"
                                  "<pass name=\"test-contract-needs-x\"/></pipeline>");
    ck_assert_ptr_nonnull(p);
    mof_pipeline_destroy(p);
}
END_TEST

/* Backends run after every pass; outputs stay in the output folder and differ. */
START_TEST(test_backends)
{
    ck_assert_ptr_null(load_string("<pipeline>\n<backend name=\"sink\"/>\n<pass "
                                   "name=\"dead-code\"/>\n</pipeline>"));
    ck_assert_diag("mem.xml:3: error: pass 'dead-code' comes after the backend 'sink' at line "
                   "2; backends run after every pass, so list them last");
    mof_context_clear_diags(ctx);
    ck_assert_ptr_null(load_string("<pipeline>\n<backend name=\"sink\"/>\n<backend "
                                   "name=\"sink\" output=\"./model.out\"/>\n</pipeline>"));
    ck_assert_diag("mem.xml:3: error: backend 'sink' writes './model.out', as does backend "
                   "'sink' at line 2");
    mof_context_clear_diags(ctx);
    ck_assert_ptr_null(load_string("<pipeline>\n<backend name=\"sink\" output=\"../x\"/>\n"
                                   "<backend name=\"sink\" output=\"/tmp/x\"/>\n</pipeline>"));
    ck_assert_diag("mem.xml:2: error: backend 'sink': output '../x' must be a relative path "
                   "inside the output folder");
    ck_assert_diag("mem.xml:3: error: backend 'sink': output '/tmp/x' must be a relative path "
                   "inside the output folder");
    mof_context_clear_diags(ctx);
    ck_assert_ptr_null(load_string("<pipeline><backend name=\"sink\" compres=\"1\"/>"
                                   "</pipeline>"));
    ck_assert_diag("mem.xml:1: error: backend 'sink': unknown parameter 'compres'; did you "
                   "mean 'compress'?");
}
END_TEST

/* An external entity must never be expanded, nor its file read. */
START_TEST(test_external_entity)
{
    ck_assert_ptr_null(load_data("xxe.xml"));
    ck_assert_diag("%sxxe.xml:2: error: a pipeline file may not have a DOCTYPE declaration "
                   "(DTDs and entities are not supported)", DATA);
    /* Nothing of /etc/passwd shows up anywhere. */
    ck_assert(!mof_test_diag_contains(ctx, "root:"));
    ck_assert(!mof_test_diag_contains(ctx, "/bin/"));
}
END_TEST

/* A FIFO with no writer blocks whoever opens it: if any entity below were loaded, this
 * test would hang until Check's timeout kills it. */
START_TEST(test_entity_not_read)
{
    char dir[] = "/tmp/mof-test-fifo-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char fifo[256];
    snprintf(fifo, sizeof(fifo), "%s/entity", dir);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    /* @ stands for the FIFO's path. */
    static const char *const forms[] = {
        "<!DOCTYPE pipeline [<!ENTITY e SYSTEM \"file://@\">]>\n<pipeline>&e;</pipeline>",
        "<!DOCTYPE pipeline [<!ENTITY e SYSTEM \"file://@\">]>\n<pipeline name=\"&e;\"/>",
        "<!DOCTYPE pipeline [<!ENTITY % p SYSTEM \"file://@\"> %p;]>\n<pipeline/>",
        "<!DOCTYPE pipeline SYSTEM \"file://@\">\n<pipeline/>",
        "<?xml version=\"1.0\"?>\n<!DOCTYPE pipeline [<!ENTITY e SYSTEM \"@\">]>\n"
        "<pipeline><pass name=\"dead-code\"/>&e;</pipeline>",
    };
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        char xml[1024];
        const char *at = strchr(forms[i], '@');
        snprintf(xml, sizeof(xml), "%.*s%s%s", (int)(at - forms[i]), forms[i], fifo, at + 1);
        mof_context_clear_diags(ctx);
        ck_assert_ptr_null(mof_pipeline_load_buffer(ctx, xml, strlen(xml), "fifo.xml", dir));
        ck_assert_uint_ge(mof_context_n_errors(ctx), 1);
    }
    unlink(fifo);
    rmdir(dir);
}
END_TEST

/* libxml2 never writes to stderr, and the caller's handlers are left as they were. */
static int foreign_calls;

static void foreign_handler(void *user, xmlErrorPtr e)
{
    foreign_calls++;
}

START_TEST(test_libxml_quiet)
{
    xmlSetStructuredErrorFunc(&foreign_calls, foreign_handler);
    char path[] = "/tmp/mof-test-stderr-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    ck_assert_ptr_null(load_data("syntax.xml"));
    ck_assert_ptr_null(load_data("schema.xml"));
    ck_assert_ptr_null(load_string("<pipeline><pass name=\"dead-code\"></pipline>"));
    ck_assert_ptr_null(load_string("\xff\xfe<pipeline/>"));
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    struct stat sb;
    ck_assert_int_eq(fstat(fd, &sb), 0);
    close(fd);
    unlink(path);
    ck_assert_int_eq((int)sb.st_size, 0);
    ck_assert_int_eq(foreign_calls, 0);
    ck_assert_ptr_eq(xmlStructuredErrorContext, &foreign_calls);
    ck_assert(xmlStructuredError == foreign_handler);
    xmlSetStructuredErrorFunc(NULL, NULL);
}
END_TEST

START_TEST(test_plugin_path)
{
    /* Relative to the pipeline file's folder. */
    ck_assert_ptr_null(load_data("plugin.xml"));
    ck_assert(mof_test_diag_contains(ctx, DATA "plugin.xml:2: error:"));
    ck_assert(mof_test_diag_contains(ctx, DATA "no-such-plugin.so"));
    mof_context_clear_diags(ctx);
    const char *lost = "<pipeline>\n  <plugin path=\"/nonexistent/libmy.so\"/>\n"
                       "  <pass name=\"my-pass\"/>\n</pipeline>";
    ck_assert_ptr_null(mof_pipeline_load_buffer(ctx, lost, strlen(lost), "mem.xml", NULL));
    ck_assert(mof_test_diag_contains(ctx, "mem.xml:2: error:"));
    ck_assert_diag("mem.xml:3: error: unknown pass 'my-pass' (a <plugin> of this pipeline "
                   "failed to load; it may be the one that provides it)");
    ck_assert_uint_eq(mof_context_n_errors(ctx), 2);
    /* Loaded before names are checked, so its passes are known. */
    mof_context_clear_diags(ctx);
    const char *xml = "<pipeline>\n  <pass name=\"test-noop\" iterations=\"5\"/>\n"
                      "  <plugin path=\"good_plugin.so\"/>\n</pipeline>";
    mof_pipeline *p = mof_pipeline_load_buffer(ctx, xml, strlen(xml), "mem.xml", TEST_PLUGINS);
    if (!p)
        mof_test_print_diags(ctx);
    ck_assert_ptr_nonnull(p);
    mof_pipeline_destroy(p);
    /* Parameters of plugin passes are checked like the others. */
    xml = "<pipeline>\n  <plugin path=\"good_plugin.so\"/>\n"
          "  <pass name=\"test-noop\" iterations=\"11\" mode=\"lazzy\"/>\n</pipeline>";
    ck_assert_ptr_null(mof_pipeline_load_buffer(ctx, xml, strlen(xml), "mem.xml",
                                                TEST_PLUGINS));
    ck_assert_diag("mem.xml:3: error: pass 'test-noop': parameter 'iterations' = 11 is outside "
                   "[1, 10]");
    ck_assert_diag("mem.xml:3: error: pass 'test-noop': parameter 'mode' = 'lazzy' is not one "
                   "of: fast, exact, lazy; did you mean 'lazy'?");
}
END_TEST

START_TEST(test_set)
{
    mof_pipeline *p = mof_pipeline_parse_list(ctx, "quantize-static(bits=4),dead-code,"
                                                   "quantize-static");
    ck_assert_ptr_nonnull(p);
    ck_assert_status(ctx, mof_pipeline_set(p, "quantize-static.bits=6"), MOF_OK);
    ck_assert_status(ctx, mof_pipeline_set(p, "quantize-static.mode=entropy"), MOF_OK);
    ck_assert_status(ctx, mof_pipeline_set(p, "dead-code.keep-initializers=on"), MOF_OK);
    ck_assert_status(ctx, mof_pipeline_set(p, "quantize-static.calibration=a=b.c"), MOF_OK);
    ck_assert_uint_eq(mof_context_n_diags(ctx), 0);

    ck_assert_status(ctx, mof_pipeline_set(p, "quantize-static.bits=12"), MOF_ERR_INVALID_ARG);
    ck_assert_diag("--set: error: pass 'quantize-static': parameter 'bits' = 12 is outside "
                   "[2, 8]");
    ck_assert_status(ctx, mof_pipeline_set(p, "dead-code.keep-initialisers=1"),
                     MOF_ERR_INVALID_ARG);
    ck_assert_diag("--set: error: pass 'dead-code': unknown parameter 'keep-initialisers'; "
                   "did you mean 'keep-initializers'?");
    ck_assert_status(ctx, mof_pipeline_set(p, "infer-shapes.x=1"), MOF_ERR_INVALID_ARG);
    ck_assert_diag("--set: error: 'infer-shapes.x=1': no step of the pipeline runs "
                   "'infer-shapes'");
    ck_assert_status(ctx, mof_pipeline_set(p, "quantize-statc.bits=4"), MOF_ERR_INVALID_ARG);
    ck_assert_diag("--set: error: 'quantize-statc.bits=4': no step of the pipeline runs "
                   "'quantize-statc'; did you mean 'quantize-static'?");
    ck_assert_status(ctx, mof_pipeline_set(p, "bits=4"), MOF_ERR_INVALID_ARG);
    ck_assert_diag("--set: error: 'bits=4' is not of the form PASS.PARAMETER=VALUE");
    ck_assert_status(ctx, mof_pipeline_set(p, "quantize-static.bits"), MOF_ERR_INVALID_ARG);
    ck_assert_status(ctx, mof_pipeline_set(p, ".bits=4"), MOF_ERR_INVALID_ARG);
    mof_pipeline_destroy(p);

    /* Backends take overrides too. */
    p = load_string("<pipeline><backend name=\"sink\"/></pipeline>");
    ck_assert_ptr_nonnull(p);
    ck_assert_status(ctx, mof_pipeline_set(p, "sink.compress=yes"), MOF_OK);
    ck_assert_status(ctx, mof_pipeline_set(p, "sink.compress=perhaps"), MOF_ERR_INVALID_ARG);
    ck_assert(mof_test_diag_contains(ctx, "backend 'sink': parameter 'compress' = 'perhaps' "
                                          "is not a boolean"));
    mof_pipeline_destroy(p);
}
END_TEST

START_TEST(test_input_shape)
{
    mof_pipeline *p = load_string("<pipeline><input name=\"image\" shape=\" 1, 3,8,8\"/>"
                                  "<input name=\"s\" shape=\"\"/></pipeline>");
    ck_assert_ptr_nonnull(p);
    ck_assert_status(ctx, mof_pipeline_set_input_shape(p, "image=1,3,16,16"), MOF_OK);
    ck_assert_status(ctx, mof_pipeline_set_input_shape(p, "other=2"), MOF_OK);
    ck_assert_status(ctx, mof_pipeline_set_input_shape(p, "image=1,x"), MOF_ERR_INVALID_ARG);
    ck_assert_diag("--input-shape: error: input 'image': shape '1,x' is not a list of dims "
                   "such as '1,3,224,224' ('x' is not a non-negative integer)");
    ck_assert_status(ctx, mof_pipeline_set_input_shape(p, "image=1,-3"), MOF_ERR_INVALID_ARG);
    ck_assert_status(ctx, mof_pipeline_set_input_shape(p, "image=1,,3"), MOF_ERR_INVALID_ARG);
    ck_assert_status(ctx, mof_pipeline_set_input_shape(p, "image=99999999999999999999"),
                     MOF_ERR_INVALID_ARG);
    ck_assert_status(ctx, mof_pipeline_set_input_shape(p, "1,3"), MOF_ERR_INVALID_ARG);
    ck_assert_diag("--input-shape: error: '1,3' is not of the form NAME=DIM,DIM,...");
    mof_pipeline_destroy(p);
    ck_assert_ptr_null(load_string("<pipeline>\n<input name=\"a\" shape=\"1\"/>\n"
                                   "<input name=\"a\" shape=\"2\"/>\n</pipeline>"));
    ck_assert_diag("mem.xml:3: error: input 'a' is pinned twice (first at line 2)");
}
END_TEST

START_TEST(test_parse_list)
{
    const char *list = "eliminate-identity, quantize-static(bits=4, mode='entropy', "
                       "calibration=\"a,b)c\"), dead-code()";
    mof_pipeline *p = mof_pipeline_parse_list(ctx, list);
    if (!p)
        mof_test_print_diags(ctx);
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(mof_pipeline_name(p), "passes");
    char hex[MOF_SHA256_HEX_SIZE];
    mof_sha256_hex(list, strlen(list), hex);
    ck_assert_str_eq(mof_pipeline_hash(p), hex);
    mof_pipeline_destroy(p);

    p = mof_pipeline_parse_list(ctx, "  ");
    ck_assert_ptr_nonnull(p);
    mof_pipeline_destroy(p);

    static const struct {
        const char *list, *want;
    } bad[] = {
        { "eliminate-identty", "<passes>:1:1: error: unknown pass 'eliminate-identty'; did "
                               "you mean 'eliminate-identity'?" },
        { "dead-code,quantize-static(bits=12)", "<passes>:1:27: error: pass "
                                                "'quantize-static': parameter 'bits' = 12 is "
                                                "outside [2, 8]" },
        { "quantize-static(bits=4,bits=5)", "<passes>:1:24: error: pass 'quantize-static': "
                                            "parameter 'bits' is given more than once (first "
                                            "at column 17)" },
        { "dead-code(keep-initializers", "<passes>:1:28: error: expected '=' after the "
                                         "parameter 'keep-initializers'" },
        { "dead-code(x=1", "<passes>:1:14: error: the arguments of 'dead-code' have no "
                           "closing ')'" },
        { "dead-code(x='1)", "<passes>:1:13: error: the quoted value of 'x' has no "
                             "closing '" },
        { "dead-code,,x", "<passes>:1:11: error: expected a pass name before ','" },
        { "dead-code,", "<passes>:1:11: error: expected a pass name after ','" },
        { "dead-code x", "<passes>:1:11: error: expected ',' or '(' after the pass "
                         "'dead-code', found 'x'" },
        { "needs-shapes", "<passes>:1:1: error: pass 'needs-shapes' requires 'shapes', which "
                          "no earlier pass provides (add a pass that provides it before "
                          "column 1, e.g. 'infer-shapes')" },
        { "(x=1)", "<passes>:1:1: error: expected a pass name, found '('" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        mof_context_clear_diags(ctx);
        ck_assert_ptr_null(mof_pipeline_parse_list(ctx, bad[i].list));
        if (!has_diag(bad[i].want))
            mof_test_print_diags(ctx);
        ck_assert_msg(has_diag(bad[i].want), "case %zu: %s", i, bad[i].want);
    }
}
END_TEST

START_TEST(test_hash)
{
    /* FIPS 180-4 test vectors, through the incremental interface too. */
    char hex[MOF_SHA256_HEX_SIZE];
    mof_sha256_hex("abc", 3, hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    mof_sha256_hex("", 0, hex);
    ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    mof_sha256_hex(two, strlen(two), hex);
    ck_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    mof_sha256 h;
    uint8_t digest[MOF_SHA256_DIGEST_SIZE];
    mof_sha256_init(&h);
    char a[1000];
    memset(a, 'a', sizeof(a));
    for (int i = 0; i < 1000; i++)
        mof_sha256_update(&h, a, sizeof(a));
    mof_sha256_final(&h, digest);
    ck_assert_int_eq(digest[0], 0xcd);
    ck_assert_int_eq(digest[1], 0xc7);
    ck_assert_int_eq(digest[31], 0xd0);

    /* The pipeline's hash is that of its bytes, whatever the file is called. */
    const char *xml = "<pipeline/>";
    mof_pipeline *p = mof_pipeline_load_buffer(ctx, xml, strlen(xml), "x.xml", NULL);
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(mof_pipeline_hash(p),
                     "a0d79b0d34bbf821f7c05789dea1e3a3d045c1b0204b07da80dab38314dde576");
    ck_assert_str_eq(mof_pipeline_name(p), "x");
    mof_pipeline_destroy(p);
}
END_TEST

static Suite *pipeline_suite(void)
{
    Suite *s = suite_create("pipeline");
    TCase *tc = tcase_create("pipeline");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_valid);
    tcase_add_test(tc, test_default_name);
    tcase_add_test(tc, test_syntax_error);
    tcase_add_test(tc, test_empty_file);
    tcase_add_test(tc, test_missing_file);
    tcase_add_test(tc, test_schema_errors);
    tcase_add_test(tc, test_schema_more);
    tcase_add_test(tc, test_unknown_pass);
    tcase_add_test(tc, test_unknown_no_suggestion);
    tcase_add_test(tc, test_wrong_type);
    tcase_add_test(tc, test_out_of_range);
    tcase_add_test(tc, test_many_errors);
    tcase_add_test(tc, test_contracts);
    tcase_add_test(tc, test_contracts_ok);
    tcase_add_test(tc, test_contracts_good_plugin);
    tcase_add_test(tc, test_backends);
    tcase_add_test(tc, test_external_entity);
    tcase_add_test(tc, test_entity_not_read);
    tcase_add_test(tc, test_libxml_quiet);
    tcase_add_test(tc, test_plugin_path);
    tcase_add_test(tc, test_set);
    tcase_add_test(tc, test_input_shape);
    tcase_add_test(tc, test_parse_list);
    tcase_add_test(tc, test_hash);
    suite_add_tcase(s, tc);
    return s;
}

MOF_TEST_MAIN(pipeline_suite)
