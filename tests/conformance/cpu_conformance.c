/* cpu_conformance.c: the cpu backend against the ONNX backend node tests (Debian's
 * libonnx-testdata): every test the backend claims goes through emit -> compile -> run
 * and its outputs are compared with the stored ones.
 *
 *   cpu_conformance [-v] [--data DIR] [--work DIR] [--keep] [--kernels LIST]
 *                   [--sanitize] [FILTER]
 *
 * For each kernel provider (kernels=portable, and kernels=onednn when a C compiler
 * finds oneDNN), each test folder's model is loaded, its shapes inferred, and the
 * backend asked about every node (mof_pipeline_preflight: op table, then supports_node
 * with that provider chain): a test is claimed when every node is supported. Under
 * kernels=onednn only the claimed tests where oneDNN runs at least one node are
 * built (the others would give portable's code again). Each claimed test is emitted
 * with its own prefix (t0001, ...) and one shared runtime prefix, so that hundreds of
 * artifacts compile (make -j2, -O1, or with ASan/UBSan under --sanitize) and link into
 * ONE program per provider, with one copy of the runtime; a generated driver runs the
 * tests it is told on its standard input (create, run, destroy) and writes their
 * outputs as .pb files. A test whose artifact cannot be compiled fails; a crash fails
 * the test that was running and the driver is restarted after it.
 *
 * Outputs are compared as tests/conformance/conformance.c does (testdata.c): floats within
 * |a - b| <= 1e-5 + 1e-3 |b| (NaN matches NaN), everything else exactly, shapes and
 * element types equal. A claimed test that the emitter refuses with an error before
 * writing anything (mof's backend run writes nothing on error) is listed apart with its
 * reason, not counted as claimed, and fails the run: `mof preflight` would have said
 * the model is supported. Tests whose data sets contradict their model are counted
 * as "bad data" (as in conformance.c).
 *
 * Prints a table per provider (op type: claimed, passed, failed; a test of several
 * ops counts under each) and totals. Exit status: 1 when a claimed test fails or is
 * refused, 77 when the test data, the cpu backend or a C compiler is missing, 0
 * otherwise.
 * Environment: CC (default cc), MOF_ONNX_NODE_TESTS (the data folder). */
#define _POSIX_C_SOURCE 200809L /* strdup, mkdtemp, nftw */
#define _XOPEN_SOURCE 700
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include <mof/mof.h>

#include "testdata.h"

#define DEFAULT_DATA "/usr/share/libonnx-testdata/data/node"
#define RT_PREFIX "crt"

const char testdata_program[] = "cpu_conformance";

/* ------------------------------------------------------------------ small helpers */

static char *xasprintf(const char *fmt, ...) MOF_PRINTF(1, 2);

static char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = xcalloc((size_t)n + 1, 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* The whole file (NUL-terminated; *size without it), or NULL. */
static char *read_all(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = xcalloc(cap, 1);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
    }
    fclose(f);
    buf[n] = '\0';
    if (size)
        *size = n;
    return buf;
}

static bool write_all(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    bool ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_tree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Runs a shell command; returns its exit status, 128 + N when killed by signal N. */
static int shell(const char *cmd)
{
    fflush(stdout);
    int st = system(cmd);
    if (st == -1)
        return 127;
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return WEXITSTATUS(st);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------------ tests and results */

typedef enum {
    R_PASS,
    R_FAIL,
    R_NOT_CLAIMED,   /* a node the backend does not support */
    R_REFUSED,       /* claimed, but the emitter refused it before writing */
    R_LOAD_FAILED,
    R_BAD_DATA,      /* a data set contradicts the model */
    R_NO_PROVIDER,   /* claimed, but the selected provider runs none of its nodes */
} result;

typedef struct test {
    char *name;           /* test_relu */
    char *dir;            /* its folder */
    char *prefix;         /* t0001 */
    char *art;            /* the artifact folder */
    char **ops;           /* op types of the main graph, distinct */
    size_t n_ops;
    char **sets;          /* data set folders (full paths) */
    size_t n_sets;
    size_t n_out;         /* graph outputs */
    char **out_names;
    mof_dtype *out_dtypes; /* declared element types of the outputs (UNDEFINED: any) */
    result r;
    char *why;
    bool built;           /* its objects compiled */
    bool const_inputs;    /* claimed only with its later inputs made constants */
    size_t job;           /* first job index (one job per data set) */
} test;

static void set_result(test *t, result r, const char *why)
{
    t->r = r;
    free(t->why);
    t->why = xstrdup(why ? why : "");
}

/* ------------------------------------------------------------------ phase 1: claim, emit */

typedef struct claim_state {
    bool all_ok;
    bool uses_provider;   /* some node's note names the selected provider */
    const char *provider;
    char why[600];
} claim_state;

static void on_node(const mof_preflight_result *res, void *user)
{
    claim_state *cs = user;
    if (res->supported) {
        if (res->note && !strcmp(res->note, cs->provider))
            cs->uses_provider = true;
        return;
    }
    if (cs->all_ok) {
        const char *name = mof_node_name(res->node);
        snprintf(cs->why, sizeof(cs->why), "node '%s' (%s): %s", name[0] ? name : "?",
                 mof_node_op_type(res->node), res->reason ? res->reason : "");
    }
    cs->all_ok = false;
}

/* Checks the test's data sets against its model: the inputs each set feeds must fit
 * the declared types. Fills t->sets; returns false (t->r set) when they do not. */
static bool check_data(mof_context *ctx, test *t, const mof_model *model)
{
    const mof_graph *g = mof_model_graph(model);
    size_t n_sets;
    char **sets = list_dir(t->dir, "test_data_set_", &n_sets);
    if (!n_sets) {
        free_names(sets, n_sets);
        set_result(t, R_BAD_DATA, "no test_data_set_* folder");
        return false;
    }
    size_t n_gin = mof_graph_n_inputs(g), k = 0;
    const mof_value **feeds = xcalloc(n_gin, sizeof(*feeds));
    for (size_t i = 0; i < n_gin; i++)
        if (!mof_value_is_initializer(mof_graph_input(g, i)))
            feeds[k++] = mof_graph_input(g, i);
    t->sets = xcalloc(n_sets, sizeof(*t->sets));
    bool ok = true;
    for (size_t s = 0; s < n_sets && ok; s++) {
        t->sets[t->n_sets++] = xasprintf("%s/%s", t->dir, sets[s]);
        for (size_t i = 0; i < k && ok; i++) {
            char *p = xasprintf("%s/input_%zu.pb", t->sets[s], i);
            mof_tensor *x = is_file(p) ? mof_tensor_load(ctx, p, NULL) : NULL;
            if (!x || !fits_type(x, feeds[i])) {
                char shape[160] = "?";
                if (x)
                    format_shape(shape, sizeof(shape), x);
                char *why = x ? xasprintf("%s: the data for input '%s' (%s) contradicts its "
                                          "declared type", sets[s], mof_value_name(feeds[i]),
                                          shape)
                              : xasprintf("%s: input_%zu.pb is missing or unreadable",
                                          sets[s], i);
                set_result(t, R_BAD_DATA, why);
                free(why);
                ok = false;
            }
            mof_tensor_unref(x);
            free(p);
        }
        char *extra = xasprintf("%s/input_%zu.pb", t->sets[s], k);
        char *last = xasprintf("%s/output_%zu.pb", t->sets[s], mof_graph_n_outputs(g));
        if (ok && (is_file(extra) || is_file(last))) {
            set_result(t, R_BAD_DATA, "the data set has more inputs or outputs than the model");
            ok = false;
        }
        free(extra);
        free(last);
    }
    mof_context_clear_diags(ctx);
    free(feeds);
    free_names(sets, n_sets);
    return ok;
}

static void record_ops(test *t, const mof_model *model)
{
    const mof_graph *g = mof_model_graph(model);
    t->ops = xcalloc(mof_graph_n_nodes(g), sizeof(*t->ops));
    for (const mof_node *n = mof_graph_first_node(g); n; n = mof_node_next(n)) {
        const char *op = mof_node_op_type(n);
        bool seen = false;
        for (size_t i = 0; i < t->n_ops && !seen; i++)
            seen = !strcmp(t->ops[i], op);
        if (!seen)
            t->ops[t->n_ops++] = xstrdup(op);
    }
    t->n_out = mof_graph_n_outputs(g);
    t->out_names = xcalloc(t->n_out, sizeof(*t->out_names));
    t->out_dtypes = xcalloc(t->n_out, sizeof(*t->out_dtypes));
    for (size_t i = 0; i < t->n_out; i++) {
        t->out_names[i] = xstrdup(mof_value_name(mof_graph_output(g, i)));
        t->out_dtypes[i] = mof_value_dtype(mof_graph_output(g, i));
    }
}

/* The model with every graph input fed by the data sets except the first made an
 * initializer holding the data sets' value (its uses rewired; the graph input stays,
 * unused, so that the artifact still takes every input of the data set). Kernels that
 * want constant weights (Conv, Gemm, BatchNormalization, ...) get them so; the
 * computed function is the same on these data sets. NULL when there is nothing to
 * make constant or the data sets disagree on a value. */
static mof_model *const_variant(mof_context *ctx, const test *t, const mof_model *model)
{
    const mof_graph *g0 = mof_model_graph(model);
    size_t n_feed = 0;
    for (size_t i = 0; i < mof_graph_n_inputs(g0); i++)
        n_feed += !mof_value_is_initializer(mof_graph_input(g0, i));
    size_t n_sets;
    char **sets = list_dir(t->dir, "test_data_set_", &n_sets);
    mof_model *m = n_feed >= 2 && n_sets ? mof_model_dup(model) : NULL;
    mof_graph *g = m ? mof_model_graph(m) : NULL;
    bool ok = m != NULL;
    size_t k = 0;
    for (size_t i = 0; ok && i < mof_graph_n_inputs(g); i++) {
        mof_value *v = mof_graph_input(g, i);
        if (mof_value_is_initializer(v) || k++ == 0)
            continue;
        if (mof_value_is_graph_output(v)) {
            ok = false;
            break;
        }
        mof_tensor *first = NULL;
        for (size_t s = 0; ok && s < n_sets; s++) {
            char *p = xasprintf("%s/%s/input_%zu.pb", t->dir, sets[s], k - 1);
            mof_tensor *x = is_file(p) ? mof_tensor_load(ctx, p, NULL) : NULL;
            free(p);
            ok = x && fits_type(x, v) &&
                 (!first || (mof_tensor_nbytes(x) == mof_tensor_nbytes(first) &&
                             !memcmp(mof_tensor_data(x), mof_tensor_data(first),
                                     mof_tensor_nbytes(x))));
            if (!first) {
                first = x;
                x = NULL;
            }
            mof_tensor_unref(x);
        }
        mof_value *c = ok ? mof_graph_add_initializer(g, mof_value_name(v), first) : NULL;
        if (!c) {
            if (ok)
                testdata_oom();
            mof_tensor_unref(first);
            break;
        }
        ok = mof_value_replace_uses(v, c) == MOF_OK;
    }
    free_names(sets, n_sets);
    mof_context_clear_diags(ctx);
    if (!ok) {
        mof_model_destroy(m);
        return NULL;
    }
    return m;
}

/* Loads, claims and emits one test for provider `kernels` into work/<prefix>. */
static void claim_and_emit(mof_context *ctx, test *t, const char *kernels, const char *work)
{
    mof_context_clear_diags(ctx);
    char *mpath = xasprintf("%s/model.onnx", t->dir);
    mof_model *model = mof_model_load(ctx, mpath);
    free(mpath);
    mof_pipeline *p = NULL;
    if (!model) {
        char *e = first_error(ctx);
        set_result(t, R_LOAD_FAILED, e);
        free(e);
        goto out;
    }
    record_ops(t, model);
    /* weights=embed: no blob file for create() to find at run time. */
    char *xml = xasprintf("<pipeline name=\"cpu-conformance\">\n"
                          "  <backend name=\"cpu\" output=\"art\" prefix=\"%s\" "
                          "runtime-prefix=\"" RT_PREFIX "\" kernels=\"%s\" weights=\"embed\"/>\n"
                          "</pipeline>\n", t->prefix, kernels);
    p = mof_pipeline_load_buffer(ctx, xml, strlen(xml), "cpu-conformance.xml", NULL);
    free(xml);
    if (!p) {
        char *e = first_error(ctx);
        fprintf(stderr, "cpu_conformance: cannot make the pipeline: %s\n", e);
        free(e);
        exit(2);
    }
    claim_state cs = { .all_ok = true, .provider = kernels };
    mof_status st = mof_pipeline_preflight(p, model, MOF_PREFLIGHT_INFER_SHAPES, on_node, &cs);
    bool other = strcmp(kernels, "portable") != 0;
    if (st == MOF_ERR_UNSUPPORTED || (st == MOF_OK && other && !cs.uses_provider)) {
        /* Not as it is (or, for kernels=K, not with K's kernels): with its weights
         * constant? */
        mof_model *v = const_variant(ctx, t, model);
        claim_state vs = { .all_ok = true, .provider = kernels };
        if (v && mof_pipeline_preflight(p, v, MOF_PREFLIGHT_INFER_SHAPES, on_node, &vs) ==
                     MOF_OK && (st != MOF_OK || vs.uses_provider)) {
            mof_model_destroy(model);
            model = v;
            cs = vs;
            st = MOF_OK;
            t->const_inputs = true;
        } else {
            mof_model_destroy(v);
        }
        mof_context_clear_diags(ctx);
    }
    if (st != MOF_OK) {
        if (st == MOF_ERR_UNSUPPORTED) {
            set_result(t, R_NOT_CLAIMED, cs.why);
        } else {
            char *e = first_error(ctx);
            char *why = xasprintf("preflight: %s", e);
            set_result(t, R_NOT_CLAIMED, why);
            free(why);
            free(e);
        }
        goto out;
    }
    if (other && !cs.uses_provider) {
        set_result(t, R_NO_PROVIDER, "");
        goto out;
    }
    if (!check_data(ctx, t, model))
        goto out;
    mof_context_clear_diags(ctx);
    char *outdir = xasprintf("%s/%s", work, t->prefix);
    mof_run_options opts;
    mof_run_options_init(&opts);
    opts.record_metadata = false;
    opts.output = outdir;
    opts.log = NULL;
    st = mof_pipeline_run(p, model, &opts, NULL);
    t->art = xasprintf("%s/art", outdir);
    if (st != MOF_OK) {
        char *e = first_error(ctx);
        /* The backend writes nothing when it refuses: a refusal with a message and no
         * artifact is the emitter saying "not this one"; anything else is a bug. */
        if (!exists(t->art) && mof_context_n_errors(ctx) > 0) {
            set_result(t, R_REFUSED, e);
        } else {
            char *why = xasprintf("emit: %s (and it wrote %s)", e, t->art);
            set_result(t, R_FAIL, why);
            free(why);
        }
        free(e);
    } else if (!is_file(t->art) && !exists(t->art)) {
        set_result(t, R_FAIL, "the emitter reported success but wrote no artifact");
    } else {
        set_result(t, R_PASS, NULL);   /* so far */
    }
    free(outdir);
out:
    mof_pipeline_destroy(p);
    mof_model_destroy(model);
    mof_context_clear_diags(ctx);
}

/* ------------------------------------------------------------------ phase 2: build */

/* The words of the artifact Makefile's ALL_CFLAGS (or LDLIBS) line that are not make
 * references: the flags its providers asked for. Owned. */
static char *makefile_words(const char *makefile_text, const char *var)
{
    char *key = xasprintf("\n%s = ", var);
    const char *at = strstr(makefile_text, key);
    char *res = xstrdup("");
    if (at) {
        at += strlen(key);
        const char *end = strchr(at, '\n');
        size_t len = end ? (size_t)(end - at) : strlen(at);
        char *line = xcalloc(len + 1, 1);
        memcpy(line, at, len);
        for (char *save = NULL, *w = strtok_r(line, " \t", &save); w;
             w = strtok_r(NULL, " \t", &save)) {
            if (strstr(w, "$(") || strstr(w, "_THREADS="))
                continue;
            char *grown = xasprintf("%s%s%s", res, *res ? " " : "", w);
            free(res);
            res = grown;
        }
        free(line);
    }
    free(key);
    return res;
}

static bool word_in(const char *list, const char *w)
{
    size_t n = strlen(w);
    for (const char *p = list; (p = strstr(p, w)); p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return true;
    return false;
}

/* Adds the words of `more` that `list` lacks. */
static void add_words(char **list, const char *more)
{
    char *copy = xstrdup(more);
    for (char *save = NULL, *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save))
        if (!word_in(*list, w)) {
            char *grown = xasprintf("%s%s%s", *list, **list ? " " : "", w);
            free(*list);
            *list = grown;
        }
    free(copy);
}

/* Copies the artifact's runtime files into rt/ (the first artifact's copy wins) and
 * checks that every artifact's copy is the same: artifacts that share a runtime prefix
 * share one compiled runtime. Returns false (t failed) on a difference. */
static bool collect_runtime(test *t, const char *rt, char ***names, size_t *n_names)
{
    size_t n;
    char **files = list_dir(t->art, RT_PREFIX, &n);
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        const char *f = files[i];
        size_t len = strlen(f);
        if (len < 3 || (strcmp(f + len - 2, ".c") && strcmp(f + len - 2, ".h")))
            continue;
        char *src = xasprintf("%s/%s", t->art, f), *dst = xasprintf("%s/%s", rt, f);
        size_t na, nb;
        char *a = read_all(src, &na);
        char *b = read_all(dst, &nb);
        if (!a) {
            ok = false;
            set_result(t, R_FAIL, "cannot read a runtime file of the artifact");
        } else if (!b) {
            if (!write_all(dst, a)) {
                fprintf(stderr, "cpu_conformance: cannot write %s\n", dst);
                exit(2);
            }
            *names = xrealloc(*names, (*n_names + 1) * sizeof(**names));
            (*names)[(*n_names)++] = xstrdup(f);
        } else if (na != nb || memcmp(a, b, na)) {
            char *why = xasprintf("its runtime file %s differs from another artifact's with "
                                  "the same runtime prefix", f);
            set_result(t, R_FAIL, why);
            free(why);
            ok = false;
        }
        free(a);
        free(b);
        free(src);
        free(dst);
    }
    free_names(files, n);
    return ok;
}

/* The driver's wrapper for one test: reads the inputs of a data set, runs, writes the
 * outputs (pre-filled with a pattern, so that an output never written cannot match). */
static void driver_test(FILE *f, const test *t)
{
    const char *P = t->prefix;
    char PU[64];
    size_t i;
    for (i = 0; P[i] && i + 1 < sizeof PU; i++)
        PU[i] = (char)(P[i] >= 'a' && P[i] <= 'z' ? P[i] - 'a' + 'A' : P[i]);
    PU[i] = '\0';
    fprintf(f,
            "/* %s */\n"
            "static int run_%s(const char *in, const char *out)\n{\n"
            "    void *x[%s_N_INPUTS + 1] = { 0 }, *y[%s_N_OUTPUTS + 1] = { 0 };\n"
            "    %s_model *m = NULL;\n    char path[4096];\n    int i, st, rc = 1;\n"
            "    for (i = 0; i < %s_N_INPUTS; i++) {\n"
            "        const %s_tensor_info *t = &%s_inputs[i];\n"
            "        if (!(x[i] = malloc(t->nbytes ? t->nbytes : 1))) goto out;\n"
            "        snprintf(path, sizeof path, \"%%s/input_%%d.pb\", in, i);\n"
            "        if (" RT_PREFIX "_tensor_read(path, t->dtype, t->rank, t->dims, x[i],\n"
            "                t->nbytes)) goto out;\n"
            "    }\n"
            "    for (i = 0; i < %s_N_OUTPUTS; i++) {\n"
            "        if (!(y[i] = malloc(%s_outputs[i].nbytes ? %s_outputs[i].nbytes : 1)))\n"
            "            goto out;\n"
            "        memset(y[i], 0x5a, %s_outputs[i].nbytes);\n"
            "    }\n"
            "    if ((st = %s_create(&m, NULL)) != %s_OK) {\n"
            "        fprintf(stderr, \"%s: create: %%s\\n\", %s_strerror(st)); goto out;\n    }\n"
            "    if ((st = %s_run(m, (const void *const *)x, y)) != %s_OK) {\n"
            "        fprintf(stderr, \"%s: run: %%s\\n\", %s_strerror(st)); goto out;\n    }\n"
            "    for (i = 0; i < %s_N_OUTPUTS; i++) {\n"
            "        const %s_tensor_info *t = &%s_outputs[i];\n"
            "        snprintf(path, sizeof path, \"%%s/output_%%d.pb\", out, i);\n"
            "        if (" RT_PREFIX "_tensor_write(path, t->name, t->dtype, t->rank, t->dims,\n"
            "                y[i], t->nbytes)) goto out;\n"
            "    }\n"
            "    rc = 0;\nout:\n    %s_destroy(m);\n"
            "    for (i = 0; i < %s_N_INPUTS; i++) free(x[i]);\n"
            "    for (i = 0; i < %s_N_OUTPUTS; i++) free(y[i]);\n"
            "    return rc;\n}\n\n",
            t->name, P, PU, PU, P, PU, P, P, PU, P, P, P, P, PU, P, P, P, PU, P, P, PU, P, P,
            P, PU, PU);
}

static void write_driver(const char *path, test **built, size_t n)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "cpu_conformance: cannot write %s\n", path);
        exit(2);
    }
    fprintf(f, "/* driver.c: runs the conformance artifacts (generated by cpu_conformance).\n"
               " * Reads lines \"TEST<TAB>INDIR<TAB>OUTDIR\" and answers \"done N\" or \"error\n"
               " * N\" for the N-th line. */\n"
               "#define _POSIX_C_SOURCE 200809L\n#include <stdio.h>\n#include <stdlib.h>\n"
               "#include <string.h>\n#include \"" RT_PREFIX "_tensorio.h\"\n");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "#include \"%s/art/%s.h\"\n", built[i]->prefix, built[i]->prefix);
    fputc('\n', f);
    for (size_t i = 0; i < n; i++)
        driver_test(f, built[i]);
    fprintf(f, "static int (*const tests[])(const char *, const char *) = {\n");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "    run_%s,\n", built[i]->prefix);
    fprintf(f, "    NULL\n};\n\n"
               "int main(void)\n{\n"
               "    static char line[16384];\n    long n = 0;\n"
               "    while (fgets(line, sizeof line, stdin)) {\n"
               "        char *in = strchr(line, '\\t'), *out, *nl;\n"
               "        long k = strtol(line, NULL, 10);\n"
               "        if (!in || !(out = strchr(in + 1, '\\t'))) return 2;\n"
               "        *in++ = '\\0';\n        *out++ = '\\0';\n"
               "        if ((nl = strchr(out, '\\n'))) *nl = '\\0';\n"
               "        if (k < 0 || k >= %zu) return 2;\n"
               "        printf(\"%%s %%ld\\n\", tests[k](in, out) ? \"error\" : \"done\", n++);\n"
               "        fflush(stdout);\n    }\n    return 0;\n}\n", n);
    if (fclose(f) != 0) {
        fprintf(stderr, "cpu_conformance: cannot write %s\n", path);
        exit(2);
    }
}

/* ------------------------------------------------------------------ phase 3: run, compare */

typedef struct job {
    test *t;
    size_t set;
    char *out;
    int status;   /* -1 not run, 0 done, 1 error, 2 crashed */
} job;

/* Runs the driver over jobs[from..n); restarts after a crash, which fails that job. */
static void run_jobs(const char *work, job *jobs, size_t n, size_t *built_index,
                     bool verbose)
{
    size_t from = 0;
    while (from < n) {
        char *list = xasprintf("%s/jobs.txt", work);
        FILE *f = fopen(list, "w");
        if (!f) {
            fprintf(stderr, "cpu_conformance: cannot write %s\n", list);
            exit(2);
        }
        for (size_t j = from; j < n; j++)
            fprintf(f, "%zu\t%s\t%s\n", built_index[j], jobs[j].t->sets[jobs[j].set],
                    jobs[j].out);
        fclose(f);
        char *cmd = xasprintf("cd '%s' && ./driver < jobs.txt > answers.txt 2>> driver.err",
                              work);
        int rc = shell(cmd);
        free(cmd);
        char *ans_path = xasprintf("%s/answers.txt", work);
        char *ans = read_all(ans_path, NULL);
        free(ans_path);
        size_t answered = 0;
        for (char *save = NULL, *l = ans ? strtok_r(ans, "\n", &save) : NULL; l;
             l = strtok_r(NULL, "\n", &save)) {
            size_t j = from + answered;
            if (j >= n)
                break;
            jobs[j].status = strncmp(l, "done ", 5) == 0 ? 0 : 1;
            answered++;
        }
        free(ans);
        free(list);
        from += answered;
        if (from < n && rc != 0) {
            /* The job being run when the driver died. */
            jobs[from].status = 2;
            if (verbose)
                printf("  driver: %s crashed (status %d); restarting after it\n",
                       jobs[from].t->name, rc);
            from++;
        } else if (from < n) {
            fprintf(stderr, "cpu_conformance: the driver stopped early without a crash\n");
            for (; from < n; from++)
                jobs[from].status = 2;
        }
    }
}

static void compare_job(mof_context *ctx, job *jb)
{
    test *t = jb->t;
    if (t->r != R_PASS)
        return;   /* an earlier data set failed */
    char *set = strrchr(t->sets[jb->set], '/') + 1;
    if (jb->status != 0) {
        char *why = xasprintf("%s: %s", set, jb->status == 2
                                                 ? "the program crashed running it"
                                                 : "create or run failed (see driver.err)");
        set_result(t, R_FAIL, why);
        free(why);
        return;
    }
    for (size_t i = 0; i < t->n_out; i++) {
        char *gp = xasprintf("%s/output_%zu.pb", jb->out, i);
        char *wp = xasprintf("%s/output_%zu.pb", t->sets[jb->set], i);
        mof_tensor *got = mof_tensor_load(ctx, gp, NULL);
        mof_tensor *want = mof_tensor_load(ctx, wp, NULL);
        char reason[600] = "";
        bool ok = got && want && tensors_match(got, want, reason, sizeof(reason));
        if (!got || !want) {
            char *e = first_error(ctx);
            snprintf(reason, sizeof(reason), "%s", e);
            free(e);
        }
        mof_context_clear_diags(ctx);
        mof_tensor_unref(got);
        mof_tensor_unref(want);
        free(gp);
        free(wp);
        if (!ok) {
            char *why = xasprintf("%s: output %zu ('%s'): %s", set, i, t->out_names[i], reason);
            set_result(t, R_FAIL, why);
            free(why);
            return;
        }
    }
}

/* ------------------------------------------------------------------ one provider */

typedef struct options {
    const char *data, *filter, *cc;
    bool verbose, sanitize;
} options;

typedef struct totals {
    int claimed, passed, failed, refused, not_claimed, bad_data, load_failed, no_provider;
    int constant;   /* claimed with constant later inputs */
} totals;

/* Builds work/Makefile and runs it: every test's objects (make -k: a test that does
 * not compile fails alone), the runtime once, then the driver. */
static bool build(const options *o, const char *work, test **tests, size_t n,
                  size_t *n_built)
{
    char *rt = xasprintf("%s/rt", work);
    if (mkdir(rt, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "cpu_conformance: cannot create %s: %s\n", rt, strerror(errno));
        exit(2);
    }
    char **rt_names = NULL;
    size_t n_rt = 0;
    char *ldlibs = xstrdup("");
    char *mk_path = xasprintf("%s/Makefile", work);
    FILE *mk = fopen(mk_path, "w");
    if (!mk) {
        fprintf(stderr, "cpu_conformance: cannot write %s\n", mk_path);
        exit(2);
    }
    const char *opt = o->sanitize ? "-O1 -g -fsanitize=address,undefined "
                                    "-fno-sanitize-recover=undefined -fno-omit-frame-pointer"
                                  : "-O1";
    fprintf(mk, "# Generated by cpu_conformance.\nCC = %s\n"
                "CFLAGS = %s -std=c99 -Wall -Wextra -D" "CRT" "_THREADS=0\n\n", o->cc, opt);
    char *objs = xstrdup("");
    for (size_t i = 0; i < n; i++) {
        test *t = tests[i];
        char *mf = xasprintf("%s/Makefile", t->art);
        char *text = read_all(mf, NULL);
        free(mf);
        if (!text) {
            set_result(t, R_FAIL, "the artifact has no Makefile");
            continue;
        }
        char *cflags = makefile_words(text, "ALL_CFLAGS");
        char *libs = makefile_words(text, "LDLIBS");
        add_words(&ldlibs, libs);
        free(text);
        free(libs);
        if (!collect_runtime(t, rt, &rt_names, &n_rt)) {
            free(cflags);
            continue;
        }
        char *wsrc = xasprintf("%s/%s_weights.c", t->art, t->prefix);
        bool weights = exists(wsrc);
        free(wsrc);
        fprintf(mk, "%s.ok:\n\t@cd %s/art && $(CC) $(CFLAGS) %s -I../../rt -c %s.c -o %s.o "
                    "> %s.log 2>&1", t->prefix, t->prefix, cflags, t->prefix, t->prefix,
                t->prefix);
        if (weights)
            fprintf(mk, " && $(CC) $(CFLAGS) -c %s_weights.c -o %s_weights.o >> %s.log 2>&1",
                    t->prefix, t->prefix, t->prefix);
        fprintf(mk, " && touch ../../%s.ok\n", t->prefix);
        char *grown = xasprintf("%s %s.ok", objs, t->prefix);
        free(objs);
        objs = grown;
        free(cflags);
    }
    fprintf(mk, "objects:%s\n\n", objs);
    free(objs);
    char *rtobjs = xstrdup("");
    for (size_t i = 0; i < n_rt; i++) {
        size_t len = strlen(rt_names[i]);
        if (strcmp(rt_names[i] + len - 2, ".c"))
            continue;
        char *grown = xasprintf("%s rt/%.*s.o", rtobjs, (int)(len - 2), rt_names[i]);
        free(rtobjs);
        rtobjs = grown;
    }
    fprintf(mk, "rt/%%.o: rt/%%.c\n\t@$(CC) $(CFLAGS) -c $< -o $@\n\nruntime:%s\n\n", rtobjs);
    fclose(mk);

    /* Objects first (make -k: one bad test does not stop the others). */
    char *cmd = xasprintf("cd '%s' && make -k -s -j2 objects runtime > make.log 2>&1", work);
    shell(cmd);
    free(cmd);
    test **built = xcalloc(n, sizeof(*built));
    size_t nb = 0;
    char *objlist = xstrdup("");
    for (size_t i = 0; i < n; i++) {
        test *t = tests[i];
        if (t->r != R_PASS)
            continue;
        char *okf = xasprintf("%s/%s.ok", work, t->prefix);
        char *logf = xasprintf("%s/%s.log", t->art, t->prefix);
        char *log = read_all(logf, NULL);
        if (!is_file(okf)) {
            char *why = xasprintf("the artifact does not compile: %.300s",
                                  log && *log ? log : "(no compiler output)");
            set_result(t, R_FAIL, why);
            free(why);
        } else {
            if (log && *log)
                printf("  note: %s (%s) compiles with warnings: %.200s\n", t->name, t->prefix,
                       log);
            t->built = true;
            built[nb++] = t;
            char *wobj = xasprintf("%s/%s_weights.o", t->art, t->prefix);
            char *grown = exists(wobj)
                              ? xasprintf("%s %s/art/%s.o %s/art/%s_weights.o", objlist,
                                          t->prefix, t->prefix, t->prefix, t->prefix)
                              : xasprintf("%s %s/art/%s.o", objlist, t->prefix, t->prefix);
            free(wobj);
            free(objlist);
            objlist = grown;
        }
        free(log);
        free(logf);
        free(okf);
    }
    *n_built = nb;
    bool ok = nb > 0;
    if (ok) {
        char *drv = xasprintf("%s/driver.c", work);
        write_driver(drv, built, nb);
        free(drv);
        /* Many objects: the link line goes through a response file. */
        char *rsp = xasprintf("%s/objects.rsp", work);
        char *rsp_text = xasprintf("%s%s\n", objlist, rtobjs);
        if (!write_all(rsp, rsp_text)) {
            fprintf(stderr, "cpu_conformance: cannot write %s\n", rsp);
            exit(2);
        }
        free(rsp_text);
        free(rsp);
        cmd = xasprintf("cd '%s' && %s %s -std=c99 -Irt -I. -c driver.c -o driver.o "
                        ">> make.log 2>&1 && %s %s -o driver driver.o @objects.rsp %s -lm "
                        ">> make.log 2>&1", work, o->cc, opt, o->cc, opt, ldlibs);
        if (shell(cmd) != 0) {
            char *lp = xasprintf("%s/make.log", work);
            char *log = read_all(lp, NULL);
            fprintf(stderr, "cpu_conformance: the driver does not build:\n%s\n",
                    log ? log : "");
            free(log);
            free(lp);
            ok = false;
        }
        free(cmd);
    }
    /* Remember each test's index in the driver's table. */
    for (size_t i = 0; i < nb; i++)
        built[i]->job = i;
    free(built);
    free(objlist);
    free(rtobjs);
    free(ldlibs);
    free(mk_path);
    free_names(rt_names, n_rt);
    free(rt);
    return ok;
}

static void free_test(test *t)
{
    free(t->name);
    free(t->dir);
    free(t->prefix);
    free(t->art);
    free(t->why);
    free_names(t->ops, t->n_ops);
    free_names(t->sets, t->n_sets);
    free_names(t->out_names, t->n_out);
    free(t->out_dtypes);
    memset(t, 0, sizeof(*t));
}

/* Everything for one kernels= choice; returns the number of failed claimed tests. */
static int run_provider(mof_context *ctx, const options *o, const char *kernels,
                        const char *work_root, char **names, size_t n_names, totals *tot)
{
    double t0 = now();
    char *work = xasprintf("%s/%s", work_root, kernels);
    rm_tree(work);   /* a --work folder of an earlier run: nothing stale is reused */
    if (mkdir(work, 0777) != 0) {
        fprintf(stderr, "cpu_conformance: cannot create %s: %s\n", work, strerror(errno));
        exit(2);
    }
    test *tests = xcalloc(n_names, sizeof(*tests));
    size_t n = 0;
    for (size_t i = 0; i < n_names; i++) {
        test *t = &tests[n++];
        t->name = xstrdup(names[i]);
        t->dir = xasprintf("%s/%s", o->data, names[i]);
        t->prefix = xasprintf("t%04zu", i);
        claim_and_emit(ctx, t, kernels, work);
    }
    double t_emit = now();
    test **claimed = xcalloc(n, sizeof(*claimed));
    size_t nc = 0;
    for (size_t i = 0; i < n; i++)
        if (tests[i].r == R_PASS)
            claimed[nc++] = &tests[i];
    size_t nb = 0;
    bool built = nc ? build(o, work, claimed, nc, &nb) : true;
    if (!built)
        for (size_t i = 0; i < nc; i++)
            if (claimed[i]->r == R_PASS)
                set_result(claimed[i], R_FAIL, "the conformance program did not build");
    double t_build = now();

    /* One job per data set of every built test. */
    size_t n_jobs = 0;
    for (size_t i = 0; built && i < nc; i++)
        if (claimed[i]->built && claimed[i]->r == R_PASS)
            n_jobs += claimed[i]->n_sets;
    job *jobs = xcalloc(n_jobs, sizeof(*jobs));
    size_t *index = xcalloc(n_jobs, sizeof(*index));
    size_t k = 0;
    for (size_t i = 0; built && i < nc; i++) {
        test *t = claimed[i];
        if (!t->built || t->r != R_PASS)
            continue;
        for (size_t s = 0; s < t->n_sets; s++) {
            jobs[k] = (job){ .t = t, .set = s, .status = -1,
                             .out = xasprintf("%s/%s/out%zu", work, t->prefix, s) };
            index[k] = t->job;
            if (mkdir(jobs[k].out, 0777) != 0 && errno != EEXIST) {
                fprintf(stderr, "cpu_conformance: cannot create %s\n", jobs[k].out);
                exit(2);
            }
            k++;
        }
    }
    if (n_jobs)
        run_jobs(work, jobs, n_jobs, index, o->verbose);
    for (size_t j = 0; j < n_jobs; j++)
        compare_job(ctx, &jobs[j]);
    double t_run = now();

    /* Results. */
    op_table tl = { 0 };
    totals pt = { 0 };
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        test *t = &tests[i];
        switch (t->r) {
        case R_PASS: pt.passed++; pt.claimed++; break;
        case R_FAIL: pt.failed++; pt.claimed++; failed++; break;
        case R_NOT_CLAIMED: pt.not_claimed++; break;
        case R_REFUSED: pt.refused++; failed++; break;
        case R_LOAD_FAILED: pt.load_failed++; break;
        case R_BAD_DATA: pt.bad_data++; break;
        case R_NO_PROVIDER: pt.no_provider++; break;
        }
        if (t->r == R_PASS || t->r == R_FAIL)
            for (size_t j = 0; j < t->n_ops; j++) {
                op_row *row = op_table_row(&tl, t->ops[j]);
                row->claimed++;
                row->constant += t->const_inputs;
                if (t->r == R_PASS)
                    row->passed++;
                else
                    row->failed++;
            }
        if ((t->r == R_PASS || t->r == R_FAIL) && t->const_inputs)
            pt.constant++;
        if (t->r == R_FAIL)
            printf("FAIL [%s] %s (%s%s): %s\n", kernels, t->name, t->prefix,
                   t->const_inputs ? ", later inputs constant" : "", t->why);
        else if (t->r == R_REFUSED)
            printf("REFUSED [%s] %s: pre-flight said supported, the emitter refused: %s\n",
                   kernels, t->name, t->why);
        else if (t->r == R_BAD_DATA || t->r == R_LOAD_FAILED)
            printf("%s [%s] %s: %s\n", t->r == R_BAD_DATA ? "BAD DATA" : "LOAD", kernels,
                   t->name, t->why);
        else if (o->verbose && t->r == R_PASS)
            printf("pass [%s] %s%s\n", kernels, t->name,
                   t->const_inputs ? " (later inputs constant)" : "");
        else if (o->verbose && t->r == R_NOT_CLAIMED)
            printf("not claimed [%s] %s: %s\n", kernels, t->name, t->why);
    }
    op_table_sort(&tl);
    printf("\nkernels=%s\n%-28s %8s %8s %8s %16s\n", kernels, "op", "claimed", "passed",
           "failed", "const. inputs");
    for (size_t i = 0; i < tl.n_rows; i++) {
        printf("%-28s %8d %8d %8d %16d\n", tl.rows[i].op, tl.rows[i].claimed,
               tl.rows[i].passed, tl.rows[i].failed, tl.rows[i].constant);
        free(tl.rows[i].op);
    }
    free(tl.rows);
    printf("kernels=%s: %d passed, %d failed of %d claimed (%zu tests: %d not claimed, %d "
           "refused by the emitter before writing, %d with bad data, %d not loadable",
           kernels, pt.passed, pt.failed, pt.claimed, n, pt.not_claimed, pt.refused,
           pt.bad_data, pt.load_failed);
    if (strcmp(kernels, "portable"))
        printf(", %d claimed but run without any %s kernel (not rebuilt)", pt.no_provider,
               kernels);
    printf(")\n  %d of the claimed tests only with their later inputs made constants "
           "(\"const. inputs\")\n", pt.constant);
    printf("  times: claim and emit %.1f s, build %.1f s (%zu artifacts, one program), run "
           "and compare %.1f s\n", t_emit - t0, t_build - t_emit, nb, t_run - t_build);
    tot->claimed += pt.claimed;
    tot->passed += pt.passed;
    tot->failed += pt.failed;
    for (size_t j = 0; j < n_jobs; j++)
        free(jobs[j].out);
    free(jobs);
    free(index);
    free(claimed);
    for (size_t i = 0; i < n; i++)
        free_test(&tests[i]);
    free(tests);
    free(work);
    return failed;
}

/* ------------------------------------------------------------------ main */

/* Whether the C compiler finds oneDNN (headers and library). */
static bool have_onednn(const char *cc, const char *work)
{
    char *src = xasprintf("%s/dnnl-probe.c", work);
    if (!write_all(src, "#include <oneapi/dnnl/dnnl.h>\n"
                        "int main(void) { return dnnl_version() == 0; }\n")) {
        free(src);
        return false;
    }
    char *cmd = xasprintf("cd '%s' && %s dnnl-probe.c -o dnnl-probe -ldnnl > /dev/null 2>&1",
                          work, cc);
    bool ok = shell(cmd) == 0;
    free(cmd);
    free(src);
    return ok;
}

/* Whether the cpu backend offers kernels=name. */
static bool has_kernels(const mof_backend_desc *b, const char *name)
{
    for (const mof_param_desc *p = b->params; p && p->name; p++)
        if (!strcmp(p->name, "kernels"))
            for (const char *const *c = p->choices; c && *c; c++)
                if (!strcmp(*c, name))
                    return true;
    return false;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: cpu_conformance [-v] [--data DIR] [--work DIR] [--keep] "
               "[--kernels LIST] [--sanitize] [FILTER]\n"
               "Runs the ONNX node tests of DIR (default %s) whose name contains FILTER\n"
               "through the cpu backend: emit, compile into one program per kernel\n"
               "provider, run, compare. LIST: comma-separated kernels= choices (default:\n"
               "portable, and onednn when oneDNN is found). --work keeps the artifacts in\n"
               "DIR (else a temporary folder, removed unless --keep). --sanitize compiles\n"
               "the artifacts with ASan and UBSan.\n", DEFAULT_DATA);
}

int main(int argc, char **argv)
{
    options o = { .data = getenv("MOF_ONNX_NODE_TESTS"), .cc = getenv("CC") };
    const char *work_arg = NULL, *kernels_arg = NULL;
    bool keep = false;
    if (!o.data || !*o.data)
        o.data = DEFAULT_DATA;
    if (!o.cc || !*o.cc)
        o.cc = "cc";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-v")) {
            o.verbose = true;
        } else if (!strcmp(argv[i], "--data") && i + 1 < argc) {
            o.data = argv[++i];
        } else if (!strcmp(argv[i], "--work") && i + 1 < argc) {
            work_arg = argv[++i];
        } else if (!strcmp(argv[i], "--kernels") && i + 1 < argc) {
            kernels_arg = argv[++i];
        } else if (!strcmp(argv[i], "--keep")) {
            keep = true;
        } else if (!strcmp(argv[i], "--sanitize")) {
            o.sanitize = true;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-' || o.filter) {
            usage(stderr);
            return 2;
        } else {
            o.filter = argv[i];
        }
    }
    size_t n_all;
    char **all = list_dir(o.data, "test_", &n_all);
    if (!all || !n_all) {
        printf("cpu_conformance: no ONNX node tests in %s (install libonnx-testdata): "
               "skipped\n", o.data);
        free_names(all, n_all);
        return 77;
    }
    char **names = xcalloc(n_all, sizeof(*names));
    size_t n_names = 0;
    for (size_t i = 0; i < n_all; i++) {
        char *m = xasprintf("%s/%s/model.onnx", o.data, all[i]);
        if ((!o.filter || strstr(all[i], o.filter)) && is_file(m))
            names[n_names++] = all[i];
        free(m);
    }
    mof_context *ctx = mof_context_create();
    if (!ctx)
        testdata_oom();
    mof_context_load_default_plugins(ctx, 0, NULL);
    mof_context_clear_diags(ctx);
    const mof_backend_desc *cpu = mof_context_find_backend(ctx, "cpu");
    char *cc_probe = xasprintf("%s --version > /dev/null 2>&1 && make --version > /dev/null "
                               "2>&1", o.cc);
    bool have_cc = shell(cc_probe) == 0;
    free(cc_probe);
    if (!cpu || !have_cc) {
        printf("cpu_conformance: %s: skipped\n",
               !cpu ? "no cpu backend among the plugins (MOF_PLUGIN_PATH)"
                    : "no C compiler or make to build the artifacts");
        free(names);
        free_names(all, n_all);
        mof_context_destroy(ctx);
        return 77;
    }
    char *work_root = NULL;
    if (work_arg) {
        work_root = xstrdup(work_arg);
        if (mkdir(work_root, 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, "cpu_conformance: cannot create %s: %s\n", work_root,
                    strerror(errno));
            return 2;
        }
        keep = true;
    } else {
        const char *tmp = getenv("TMPDIR");
        work_root = xasprintf("%s/mof-cpuconf.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(work_root)) {
            fprintf(stderr, "cpu_conformance: cannot create a temporary folder: %s\n",
                    strerror(errno));
            return 2;
        }
    }
    /* The providers to run. */
    char *list = kernels_arg ? xstrdup(kernels_arg) : NULL;
    if (!list) {
        bool dnnl = has_kernels(cpu, "onednn") && have_onednn(o.cc, work_root);
        list = xstrdup(dnnl ? "portable,onednn" : "portable");
        if (!dnnl)
            printf("note: kernels=onednn not run (%s)\n",
                   has_kernels(cpu, "onednn") ? "the C compiler does not find oneDNN"
                                              : "the cpu backend has no onednn provider");
    }
    double t0 = now();
    totals tot = { 0 };
    int failed = 0;
    for (char *save = NULL, *k = strtok_r(list, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
        if (!has_kernels(cpu, k)) {
            fprintf(stderr, "cpu_conformance: the cpu backend has no kernels=%s\n", k);
            failed++;
            continue;
        }
        failed += run_provider(ctx, &o, k, work_root, names, n_names, &tot);
    }
    printf("\ncpu conformance: %d passed, %d failed of %d claimed (all providers), %.1f s\n",
           tot.passed, tot.failed, tot.claimed, now() - t0);
    if (keep)
        printf("artifacts kept in %s\n", work_root);
    else
        rm_tree(work_root);
    free(list);
    free(work_root);
    free(names);
    free_names(all, n_all);
    mof_context_destroy(ctx);
    return failed ? 1 : 0;
}
