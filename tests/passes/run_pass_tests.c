/* run_pass_tests: mof's pass tests, written as text (the MLIR/LLVM lit + FileCheck
 * habit). Usage:
 *
 *   run_pass_tests [-v] PATH...
 *
 * PATH is a .test file or a folder whose *.test files all run (in name order). `make
 * check` runs it on tests/passes/ with MOF_PLUGIN_PATH naming the plugins of the build
 * tree. It prints each failure, then "pass tests: P passed, F failed", and exits 1 when
 * a case failed (or no case was found), 0 otherwise. -v also prints each case's output.
 *
 * A .test file holds cases separated by a line `// -----`. A case is:
 *
 *   // RUN: eliminate-identity,dead-code(keep-initializers=true)
 *   // TOLERANCE: 1e-4              (optional: rtol [atol]; default 1e-5 1e-6)
 *   // INPUT-SHAPE: x=1,3,8,8       (optional, repeatable: pins a graph input's shape)
 *   <ir_version: 8, opset_import: ["" : 13]>
 *   main (float[1,4] x) => (float[1,4] y) {
 *      t = Identity (x)
 *      y = Relu (t)
 *   }
 *   // CHECK: y = Relu (x)
 *   // CHECK-NOT: Identity
 *
 * RUN is a one-line pass list, as `mof run --passes` and mof_pipeline_parse_list take
 * it. The lines that do not start with `//` are the input model in the ONNX text syntax
 * (<mof/text.h>). Every other `//` line is a directive or, when it is not of the form
 * `// WORD:`, a comment. The harness parses the model, runs the passes on it (with
 * graph verification after each pass), prints the result with mof_model_print_text
 * (constants up to 256 elements in full; the types of every typed value, listed or
 * not, in the `<...>` block: see mof_text_options.value_types) and matches the CHECK
 * directives against that text:
 *
 *   CHECK: text        the next match, at or after the end of the previous one
 *   CHECK-NEXT: text   a match on the line right after the previous match
 *   CHECK-SAME: text   a match on the same line as the previous match, after it
 *   CHECK-EMPTY:       the next line is empty
 *   CHECK-NOT: text    no match between the previous match and the next one (or the
 *                      end of the output)
 *
 * A pattern is literal text (a run of spaces matches any run of spaces), with
 * {{regex}}, captures [[NAME:regex]] ([[NAME:]] captures a word) and uses [[NAME]];
 * see filecheck.h.
 *
 * Then the numeric check: the model before and the model after the passes run on the
 * same two sets of seeded random inputs (mof_random_inputs: floats in [-1, 1), small
 * non-negative integers, random bools) with the reference interpreter, and every
 * output element must satisfy |after - before| <= atol + rtol * |before|. Inputs need
 * known shapes: declare them, or pin them with INPUT-SHAPE.
 *
 * Two more directives, for the cases that need them:
 *   // EXPECT-ERROR: text   the passes must fail, with a diagnostic containing text
 *                           (the CHECKs then match the model as the pass manager left
 *                           it, and no numeric check is made)
 *   // NO-NUMERIC: reason   skip the numeric check (say why: an op the interpreter
 *                           does not implement, a custom domain)
 *
 * A failure names the case (file:line of its RUN), the directive that failed
 * (file:line), why, and prints the model after the passes with line numbers, and the
 * diagnostics of the run. Errors in the model text point into the .test file itself
 * (file:line:col). */
#define _XOPEN_SOURCE 700 /* strdup */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <mof/mof.h>

#include "filecheck.h"

/* Constants up to this many elements print in full in the output the CHECKs read. */
#define MAX_PRINTED_ELEMENTS 256
#define DEFAULT_RTOL 1e-5
#define DEFAULT_ATOL 1e-6
#define N_INPUT_SETS 2

static bool verbose;

/* ------------------------------------------------------------------ helpers */

static void *xrealloc(void *p, size_t size)
{
    p = realloc(p, size ? size : 1);
    if (!p) {
        fprintf(stderr, "run_pass_tests: out of memory\n");
        exit(2);
    }
    return p;
}

static char *xstrndup(const char *s, size_t n)
{
    char *d = xrealloc(NULL, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *s = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? 2 * cap : 65536;
            s = xrealloc(s, cap);
        }
        size_t got = fread(s + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    bool err = ferror(f);
    fclose(f);
    if (err) {
        free(s);
        return NULL;
    }
    s[n] = '\0';
    *len = n;
    return s;
}

static const char *skip_space(const char *s, const char *end)
{
    while (s < end && (*s == ' ' || *s == '\t' || *s == '\r'))
        s++;
    return s;
}

/* ------------------------------------------------------------------ cases */

typedef struct line {
    const char *s;
    size_t n;
} line;

typedef struct tcase {
    const char *file;
    unsigned first, last;        /* the case's lines, 1-based, inclusive */
    unsigned run_line;
    char *run;
    double rtol, atol;
    char **shapes;
    size_t n_shapes;
    fc_directive *checks;
    char **patterns;             /* owned text of the checks' patterns */
    size_t n_checks;
    char *expect_error;
    unsigned expect_error_line;
    char *no_numeric;
    char *error;                 /* a mistake in the case itself, with its file:line */
} tcase;

static void tcase_free(tcase *c)
{
    free(c->run);
    for (size_t i = 0; i < c->n_shapes; i++)
        free(c->shapes[i]);
    free(c->shapes);
    for (size_t i = 0; i < c->n_checks; i++)
        free(c->patterns[i]);
    free(c->patterns);
    free(c->checks);
    free(c->expect_error);
    free(c->no_numeric);
    free(c->error);
}

static void case_error(tcase *c, unsigned line_no, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void case_error(tcase *c, unsigned line_no, const char *fmt, ...)
{
    if (c->error)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    size_t n = strlen(c->file) + strlen(msg) + 32;
    c->error = xrealloc(NULL, n);
    snprintf(c->error, n, "%s:%u: error: %s", c->file, line_no, msg);
}

static bool is_separator(const line *l)
{
    const char *p = skip_space(l->s, l->s + l->n), *end = l->s + l->n;
    if (end - p < 7 || p[0] != '/' || p[1] != '/')
        return false;
    p = skip_space(p + 2, end);
    size_t dashes = 0;
    while (p < end && *p == '-') {
        p++;
        dashes++;
    }
    return dashes >= 5 && skip_space(p, end) == end;
}

static bool is_directive_line(const line *l)
{
    const char *p = skip_space(l->s, l->s + l->n);
    return l->s + l->n - p >= 2 && p[0] == '/' && p[1] == '/';
}

/* Reads the directives of lines [first, last] (1-based) into c. */
static void parse_case(tcase *c, const line *lines, unsigned first, unsigned last)
{
    c->first = first;
    c->last = last;
    c->rtol = DEFAULT_RTOL;
    c->atol = DEFAULT_ATOL;
    bool have_tolerance = false, have_model = false;
    for (unsigned ln = first; ln <= last; ln++) {
        const line *l = &lines[ln - 1];
        const char *end = l->s + l->n;
        if (!is_directive_line(l)) {
            have_model |= skip_space(l->s, end) != end;
            continue;
        }
        const char *p = skip_space(skip_space(l->s, end) + 2, end);
        const char *w = p;
        while (p < end && ((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-'))
            p++;
        if (p == w || p >= end || *p != ':')
            continue; /* a comment */
        size_t wn = (size_t)(p - w);
        const char *arg = skip_space(p + 1, end);
        size_t an = (size_t)(end - arg);
        while (an && (arg[an - 1] == ' ' || arg[an - 1] == '\t' || arg[an - 1] == '\r'))
            an--;
#define IS(word) (wn == strlen(word) && memcmp(w, word, wn) == 0)
        fc_kind kind;
        if (IS("RUN")) {
            if (c->run)
                case_error(c, ln, "a second RUN in one case (separate cases with // -----)");
            else if (!an)
                case_error(c, ln, "RUN needs a pass list");
            c->run = c->run ? c->run : xstrndup(arg, an);
            c->run_line = ln;
            continue;
        } else if (IS("TOLERANCE")) {
            char *text = xstrndup(arg, an), *rest;
            c->rtol = strtod(text, &rest);
            if (*skip_space(rest, rest + strlen(rest)))
                c->atol = strtod(rest, &rest);
            if (rest == text || *skip_space(rest, rest + strlen(rest)) || c->rtol < 0 ||
                c->atol < 0 || have_tolerance)
                case_error(c, ln, "TOLERANCE takes one rtol and an optional atol, once: "
                                  "`// TOLERANCE: 1e-4 1e-6`");
            have_tolerance = true;
            free(text);
            continue;
        } else if (IS("INPUT-SHAPE")) {
            c->shapes = xrealloc(c->shapes, (c->n_shapes + 1) * sizeof(*c->shapes));
            c->shapes[c->n_shapes++] = xstrndup(arg, an);
            continue;
        } else if (IS("EXPECT-ERROR")) {
            free(c->expect_error);
            c->expect_error = xstrndup(arg, an);
            c->expect_error_line = ln;
            continue;
        } else if (IS("NO-NUMERIC")) {
            if (!an)
                case_error(c, ln, "NO-NUMERIC needs a reason");
            free(c->no_numeric);
            c->no_numeric = xstrndup(arg, an);
            continue;
        } else if (IS("CHECK")) {
            kind = FC_CHECK;
        } else if (IS("CHECK-NEXT")) {
            kind = FC_NEXT;
        } else if (IS("CHECK-SAME")) {
            kind = FC_SAME;
        } else if (IS("CHECK-EMPTY")) {
            kind = FC_EMPTY;
        } else if (IS("CHECK-NOT")) {
            kind = FC_NOT;
        } else {
            case_error(c, ln, "unknown directive '%.*s' (RUN, TOLERANCE, INPUT-SHAPE, CHECK, "
                              "CHECK-NEXT, CHECK-SAME, CHECK-EMPTY, CHECK-NOT, EXPECT-ERROR, "
                              "NO-NUMERIC)", (int)wn, w);
            continue;
        }
#undef IS
        if (kind != FC_EMPTY && !an) {
            case_error(c, ln, "%s needs a pattern", fc_kind_name(kind));
            continue;
        }
        c->checks = xrealloc(c->checks, (c->n_checks + 1) * sizeof(*c->checks));
        c->patterns = xrealloc(c->patterns, (c->n_checks + 1) * sizeof(*c->patterns));
        c->patterns[c->n_checks] = xstrndup(arg, an);
        c->checks[c->n_checks] =
            (fc_directive){.kind = kind, .pattern = c->patterns[c->n_checks], .line = ln};
        c->n_checks++;
    }
    if (!c->run)
        case_error(c, first, "the case has no `// RUN: passes` line");
    if (!have_model)
        case_error(c, first, "the case has no model");
}

/* The file's text with every line but the case's model lines emptied, so that parse
 * errors carry the .test file's own line and column numbers. */
static char *model_text(const tcase *c, const line *lines, unsigned n_lines, size_t *len)
{
    size_t cap = n_lines + 1;
    for (unsigned ln = c->first; ln <= c->last; ln++)
        cap += lines[ln - 1].n;
    char *s = xrealloc(NULL, cap);
    size_t n = 0;
    for (unsigned ln = 1; ln <= n_lines; ln++) {
        const line *l = &lines[ln - 1];
        if (ln >= c->first && ln <= c->last && !is_directive_line(l)) {
            memcpy(s + n, l->s, l->n);
            n += l->n;
        }
        s[n++] = '\n';
    }
    s[n] = '\0';
    *len = n;
    return s;
}

/* ------------------------------------------------------------------ running */

static void print_numbered(const char *text)
{
    unsigned ln = 1;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        fprintf(stderr, "  %4u | %.*s\n", ln++, (int)n, p);
        p += n + (nl ? 1 : 0);
    }
}

static void print_diags(mof_context *ctx)
{
    size_t n = mof_context_n_diags(ctx);
    if (!n)
        return;
    fprintf(stderr, "  diagnostics:\n");
    for (size_t i = 0; i < n; i++) {
        char *s = mof_diag_format(mof_context_diag(ctx, i));
        fprintf(stderr, "    %s\n", s ? s : "(out of memory)");
        free(s);
    }
}

static bool diag_contains(mof_context *ctx, const char *needle)
{
    bool found = false;
    for (size_t i = 0; i < mof_context_n_diags(ctx) && !found; i++) {
        char *s = mof_diag_format(mof_context_diag(ctx, i));
        found = s && strstr(s, needle);
        free(s);
    }
    return found;
}

/* Runs one case; prints its failure. Returns whether it passed. */
static bool run_case(mof_context *ctx, tcase *c, const line *lines, unsigned n_lines)
{
    mof_context_clear_diags(ctx);
    unsigned at = c->run_line ? c->run_line : c->first;
    if (c->error) {
        fprintf(stderr, "%s\n", c->error);
        return false;
    }
    size_t len;
    char *text = model_text(c, lines, n_lines, &len);
    mof_model *model = mof_model_parse_text(ctx, text, len, c->file);
    free(text);
    mof_model *before = NULL;
    mof_pipeline *p = NULL;
    mof_run_report *report = NULL;
    char *out = NULL, *why = NULL;
    bool ok = false;
    const char *stage = NULL;
    if (!model) {
        stage = "the input model does not parse";
        goto out;
    }
    if (!(before = mof_model_dup(model))) {
        stage = "out of memory";
        goto out;
    }
    if (!(p = mof_pipeline_parse_list(ctx, c->run))) {
        stage = "the RUN line is not a valid pass list";
        goto out;
    }
    for (size_t i = 0; i < c->n_shapes; i++) {
        if (mof_pipeline_set_input_shape(p, c->shapes[i]) != MOF_OK ||
            mof_model_set_input_shape(before, c->shapes[i]) != MOF_OK) {
            stage = "an INPUT-SHAPE does not apply";
            goto out;
        }
    }

    mof_run_options opts;
    mof_run_options_init(&opts);
    opts.verify_each = true;
    opts.record_metadata = false;
    mof_status st = mof_pipeline_run(p, model, &opts, &report);
    if (c->expect_error) {
        if (st >= 0) {
            fprintf(stderr, "%s:%u: FAIL: RUN: %s\n%s:%u: EXPECT-ERROR: %s\n  the passes "
                            "succeeded\n",
                    c->file, at, c->run, c->file, c->expect_error_line, c->expect_error);
            goto fail;
        }
        if (!diag_contains(ctx, c->expect_error)) {
            fprintf(stderr, "%s:%u: FAIL: RUN: %s\n%s:%u: EXPECT-ERROR: %s\n  the passes "
                            "failed, but no diagnostic contains that text\n",
                    c->file, at, c->run, c->file, c->expect_error_line, c->expect_error);
            goto fail;
        }
    } else if (st < 0) {
        stage = "the passes failed";
        goto out;
    }

    mof_text_options topts;
    mof_text_options_init(&topts);
    topts.max_elements = MAX_PRINTED_ELEMENTS;
    topts.value_types = true;
    if (!(out = mof_model_print_text(model, &topts))) {
        stage = "out of memory";
        goto out;
    }
    if (verbose) {
        fprintf(stderr, "%s:%u: RUN: %s\n", c->file, at, c->run);
        print_numbered(out);
    }
    size_t failed;
    if (!fc_match(c->checks, c->n_checks, out, &failed, &why)) {
        const fc_directive *d = &c->checks[failed];
        fprintf(stderr, "%s:%u: FAIL: RUN: %s\n%s:%u: %s: %s\n  %s\n", c->file, at, c->run,
                c->file, d->line, fc_kind_name(d->kind), d->pattern, why);
        goto fail;
    }

    if (!c->expect_error && !c->no_numeric) {
        mof_verify_options vo;
        mof_verify_options_init(&vo);
        vo.rtol = c->rtol;
        vo.atol = c->atol;
        vo.n_random = N_INPUT_SETS;
        vo.seed = 0;
        mof_verify_report *rep = NULL;
        st = mof_verify_models(ctx, before, model, &vo, &rep);
        if (st == MOF_ERR_VERIFY) {
            char *summary = rep ? mof_verify_report_summary(rep) : NULL;
            fprintf(stderr, "%s:%u: FAIL: RUN: %s\n  the passes changed the model's outputs "
                            "past rtol %g, atol %g: %s\n",
                    c->file, at, c->run, c->rtol, c->atol, summary ? summary : "?");
            free(summary);
            mof_verify_report_destroy(rep);
            goto fail;
        }
        mof_verify_report_destroy(rep);
        if (st != MOF_OK) {
            stage = "the numeric check could not run the models (pin dynamic dims with "
                    "INPUT-SHAPE, or say NO-NUMERIC: why)";
            goto out;
        }
    }
    ok = true;
    goto done;
out:
    fprintf(stderr, "%s:%u: FAIL: RUN: %s\n  %s\n", c->file, at, c->run ? c->run : "",
            stage ? stage : "?");
fail:
    if (out) {
        fprintf(stderr, "  the model after the passes:\n");
        print_numbered(out);
    }
    print_diags(ctx);
done:
    free(why);
    free(out);
    mof_run_report_destroy(report);
    mof_pipeline_destroy(p);
    mof_model_destroy(before);
    mof_model_destroy(model);
    return ok;
}

/* Runs every case of one file; adds to the counts. */
static void run_file(mof_context *ctx, const char *path, unsigned *passed, unsigned *failed)
{
    size_t len;
    char *text = read_file(path, &len);
    if (!text) {
        fprintf(stderr, "%s: cannot read: %s\n", path, strerror(errno));
        (*failed)++;
        return;
    }
    line *lines = NULL;
    unsigned n_lines = 0;
    for (const char *p = text; p < text + len;) {
        const char *nl = memchr(p, '\n', (size_t)(text + len - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(text + len - p);
        lines = xrealloc(lines, (n_lines + 1) * sizeof(*lines));
        lines[n_lines++] = (line){p, n};
        p += n + 1;
    }
    unsigned before_pass = *passed, before_fail = *failed;
    for (unsigned first = 1; first <= n_lines;) {
        unsigned last = first;
        while (last <= n_lines && !is_separator(&lines[last - 1]))
            last++;
        /* [first, last - 1] is a case, unless it holds nothing but blank lines. */
        bool blank = true;
        for (unsigned ln = first; ln < last && blank; ln++)
            blank = skip_space(lines[ln - 1].s, lines[ln - 1].s + lines[ln - 1].n) ==
                    lines[ln - 1].s + lines[ln - 1].n;
        if (!blank) {
            tcase c = {.file = path};
            parse_case(&c, lines, first, last - 1);
            if (run_case(ctx, &c, lines, n_lines))
                (*passed)++;
            else
                (*failed)++;
            tcase_free(&c);
        }
        first = last + 1;
    }
    if (verbose)
        fprintf(stderr, "%s: %u passed, %u failed\n", path, *passed - before_pass,
                *failed - before_fail);
    free(lines);
    free(text);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs a .test file, or every *.test file of a folder. */
static unsigned run_path(mof_context *ctx, const char *path, unsigned *passed, unsigned *failed)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        (*failed)++;
        return 0;
    }
    if (!S_ISDIR(st.st_mode)) {
        run_file(ctx, path, passed, failed);
        return 1;
    }
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        (*failed)++;
        return 0;
    }
    char **names = NULL;
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] != '.' && len > 5 && strcmp(e->d_name + len - 5, ".test") == 0) {
            names = xrealloc(names, (n + 1) * sizeof(*names));
            names[n++] = strdup(e->d_name);
        }
    }
    closedir(d);
    qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(path) + strlen(names[i]) + 2;
        char *file = xrealloc(NULL, len);
        snprintf(file, len, "%s/%s", path, names[i]);
        run_file(ctx, file, passed, failed);
        free(file);
        free(names[i]);
    }
    free(names);
    return (unsigned)n;
}

int main(int argc, char **argv)
{
    int first = 1;
    if (first < argc && strcmp(argv[first], "-v") == 0) {
        verbose = true;
        first++;
    }
    if (first >= argc) {
        fprintf(stderr, "usage: run_pass_tests [-v] FILE.test|FOLDER...\n");
        return 2;
    }
    mof_context *ctx = mof_context_create();
    if (!ctx) {
        fprintf(stderr, "run_pass_tests: out of memory\n");
        return 2;
    }
    if (mof_context_load_default_plugins(ctx, 0, NULL) < 0) {
        fprintf(stderr, "run_pass_tests: loading the plugins (MOF_PLUGIN_PATH=%s):\n",
                getenv("MOF_PLUGIN_PATH") ? getenv("MOF_PLUGIN_PATH") : "");
        print_diags(ctx);
    }
    unsigned passed = 0, failed = 0, files = 0;
    for (int i = first; i < argc; i++)
        files += run_path(ctx, argv[i], &passed, &failed);
    fflush(stderr);
    printf("pass tests: %u passed, %u failed (%u file%s)\n", passed, failed, files,
           files == 1 ? "" : "s");
    fflush(stdout);
    mof_context_destroy(ctx);
    if (!passed && !failed) {
        fprintf(stderr, "run_pass_tests: no test case found\n");
        return 1;
    }
    return failed ? 1 : 0;
}
