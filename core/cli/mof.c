/* mof: the command-line client of libmof.
 *
 * Every feature here is a library call; this file only parses the command line, picks
 * the plugin folders, prints what the library returns, and maps failures to exit
 * statuses (see `mof --help` and mof(1)):
 *   0 success, 1 the run failed, 2 usage error, 3 bad input, 4 plugin loading error.
 *
 * Diagnostics are printed as they are recorded, through a handler on the context, so
 * that a long run shows its warnings when they happen. Help and listings go to stdout,
 * everything else (reports, diagnostics, errors) to stderr. */
#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <mof/mof.h>

enum {
    EXIT_OK = 0,
    EXIT_RUN_FAILED = 1,
    EXIT_USAGE = 2,
    EXIT_BAD_INPUT = 3,
    EXIT_PLUGIN = 4,
};

/* ------------------------------------------------------------------ command line */

enum {
    OPT_ERROR = -2,
    OPT_END = -1,
    OPT_POSITIONAL = 0,
    OPT_HELP = 1,
    OPT_VERSION,
    OPT_OUTPUT,
    OPT_PASSES,
    OPT_SET,
    OPT_INPUT_SHAPE,
    OPT_PLUGIN_DIR,
    OPT_TIME_PASSES,
    OPT_PRINT_AFTER,
    OPT_VERIFY_EACH,
    OPT_KEEP_GOING,
    OPT_NO_METADATA,
    OPT_QUIET,
    OPT_CHECK,
    OPT_CHECK_EACH,
    OPT_CHECK_INPUTS,
    OPT_SEED,
    OPT_RTOL,
    OPT_ATOL,
    OPT_INPUTS,
    OPT_RANDOM,
    OPT_TIME,
    OPT_JSON,
    OPT_EXPECT,
    OPT_EXPLAIN,
    OPT_REPORT,
    OPT_MAX_ELEMENTS,
    OPT_AFTER_PASSES,
};

struct option_def {
    const char *name;   /* long name without "--" */
    char short_name;    /* 0 for none */
    bool takes_arg;
    int id;
};

/* A cursor over the arguments of one command. Options and operands may be mixed;
 * "--" ends the options. */
struct args {
    const char *cmd;    /* "mof run", for messages */
    const char *topic;  /* help topic suggested on errors ("run"), may be NULL */
    int argc;
    char **argv;
    int next;
    bool operands_only;
};

static void try_help(const char *topic)
{
    if (topic)
        fprintf(stderr, "Try 'mof help %s' for more information.\n", topic);
    else
        fprintf(stderr, "Try 'mof --help' for more information.\n");
}

static int usage_error(const struct args *a, const char *fmt, ...) MOF_PRINTF(2, 3);

static int usage_error(const struct args *a, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", a->cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    try_help(a->topic);
    return EXIT_USAGE;
}

/* Reports an unknown option, suggesting the closest known one. */
static void unknown_option(const struct args *a, const struct option_def *defs,
                           const char *opt)
{
    const char *names[64];
    char spelled[64][40];
    size_t n = 0;
    for (const struct option_def *d = defs; d->name && n < 64; d++, n++) {
        snprintf(spelled[n], sizeof spelled[n], "--%s", d->name);
        names[n] = spelled[n];
    }
    size_t len = strcspn(opt, "=");
    char *bare = strndup(opt, len);
    const char *near = bare ? mof_nearest_name(bare, n, names) : NULL;
    if (near)
        usage_error(a, "unknown option '%s' (did you mean '%s'?)", bare, near);
    else
        usage_error(a, "unknown option '%s'", bare ? bare : opt);
    free(bare);
}

/* Returns the next option's id (its argument in *arg), OPT_POSITIONAL with the operand
 * in *arg, OPT_END, or OPT_ERROR after printing why. */
static int args_next(struct args *a, const struct option_def *defs, const char **arg)
{
    *arg = NULL;
    if (a->next >= a->argc)
        return OPT_END;
    const char *s = a->argv[a->next++];
    if (a->operands_only || s[0] != '-' || s[1] == '\0') {
        *arg = s;
        return OPT_POSITIONAL;
    }
    if (strcmp(s, "--") == 0) {
        a->operands_only = true;
        return args_next(a, defs, arg);
    }

    const struct option_def *d = NULL;
    const char *inline_arg = NULL;
    if (s[1] == '-') {
        const char *name = s + 2;
        size_t len = strcspn(name, "=");
        for (const struct option_def *it = defs; it->name; it++)
            if (strlen(it->name) == len && strncmp(it->name, name, len) == 0)
                d = it;
        if (name[len] == '=')
            inline_arg = name + len + 1;
    } else {
        for (const struct option_def *it = defs; it->name; it++)
            if (it->short_name && it->short_name == s[1])
                d = it;
        if (d && s[2] != '\0') {
            if (d->takes_arg)
                inline_arg = s + 2;
            else
                d = NULL;
        }
    }
    if (!d) {
        unknown_option(a, defs, s);
        return OPT_ERROR;
    }
    if (!d->takes_arg) {
        if (inline_arg) {
            usage_error(a, "option '--%s' takes no value", d->name);
            return OPT_ERROR;
        }
        return d->id;
    }
    if (inline_arg) {
        *arg = inline_arg;
    } else if (a->next < a->argc) {
        *arg = a->argv[a->next++];
    } else {
        usage_error(a, "option '%s' needs a value", s);
        return OPT_ERROR;
    }
    return d->id;
}

/* A growable list of borrowed strings. */
struct strlist {
    const char **items;
    size_t n, cap;
};

static bool strlist_add(struct strlist *l, const char *s)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        const char **items = realloc(l->items, cap * sizeof *items);
        if (!items)
            return false;
        l->items = items;
        l->cap = cap;
    }
    l->items[l->n++] = s;
    return true;
}

static void strlist_free(struct strlist *l)
{
    free(l->items);
    l->items = NULL;
    l->n = l->cap = 0;
}

static int out_of_memory(void)
{
    fprintf(stderr, "mof: out of memory\n");
    return EXIT_RUN_FAILED;
}

/* ------------------------------------------------------------------ help texts */

static const char exit_status_help[] =
    "Exit status:\n"
    "  0  success\n"
    "  1  the run failed (a pass or backend error, a verification failure)\n"
    "  2  usage error (bad command line)\n"
    "  3  bad input (model or pipeline file unreadable or invalid)\n"
    "  4  plugin loading error\n";

static const char run_help[] =
    "Usage: mof run [OPTION]... PIPELINE MODEL -o OUT\n"
    "       mof run [OPTION]... --passes=LIST MODEL -o OUT\n"
    "\n"
    "Runs the passes of the pipeline file PIPELINE over the ONNX model MODEL, then the\n"
    "pipeline's backends, which write their artifacts into the folder OUT. A pipeline\n"
    "without backends writes the optimized model to the ONNX file OUT. Everything is\n"
    "checked before anything runs; a failed run leaves no half-written output, and\n"
    "the input model is never overwritten. A report of what each pass did goes to\n"
    "standard error.\n"
    "\n"
    "Options:\n"
    "  -o, --output=OUT          where to write (required)\n"
    "      --passes=LIST         run a list of passes instead of a pipeline file:\n"
    "                            'eliminate-identity,dead-code(keep-initializers=true)'\n"
    "      --set=PASS.PARAM=VALUE\n"
    "                            set a parameter of every step of PASS (repeatable)\n"
    "      --input-shape=NAME=DIMS\n"
    "                            pin the shape of a graph input: image=1,3,224,224\n"
    "      --plugin-dir=DIR      search DIR for plugins first (repeatable)\n"
    "      --time-passes         show how long each pass took (even with --quiet)\n"
    "      --print-after=PASS    print the graph after each run of PASS (all: any pass)\n"
    "      --verify-each         check the graph's invariants after each pass\n"
    "      --keep-going          after a pass fails (it is rolled back), go on; the\n"
    "                            exit status is still 1\n"
    "      --no-metadata         record no mof.* provenance in the model's metadata\n"
    "      --explain             set explain=true on every pass of the pipeline that\n"
    "                            has that parameter: patterns that almost matched are\n"
    "                            noted with the check that failed\n"
    "      --report=FILE         also write the run report to FILE as JSON: pipeline,\n"
    "                            model, steps (pass, line, iteration, status, seconds,\n"
    "                            nodes before and after, stats, output), notes and\n"
    "                            diagnostics (near misses with --explain included)\n"
    "  -q, --quiet               print no report and no notes, only problems\n"
    "  -h, --help                show this help\n"
    "\n"
    "Numeric checks (with the reference interpreter, on random inputs):\n"
    "      --check               before writing anything, check that the optimized\n"
    "                            model computes what MODEL computes; if not, the run\n"
    "                            fails and writes nothing\n"
    "      --check-each          check after every pass against the model before it;\n"
    "                            the first pass past tolerance is named with its\n"
    "                            pipeline line, the run stops, and a reproducer is\n"
    "                            written beside OUT: OUT.before-PASS.onnx (the model\n"
    "                            before that pass) and OUT.repro-PASS.xml (a pipeline\n"
    "                            of that pass alone); implies --check\n"
    "      --check-inputs=N      how many random input sets (default 3)\n"
    "      --seed=S              input set k is made from seed S + k (default 0)\n"
    "      --rtol=R, --atol=A    tolerance: |got - ref| <= A + R * |ref| elementwise\n"
    "                            (default R 1e-4, A 1e-5); a pass that declares it\n"
    "                            changes numerics is held to max(R, its tolerance)\n"
    "Dynamic input dims must be pinned for checks (--input-shape or <input>).\n";

static const char exec_help[] =
    "Usage: mof exec [OPTION]... MODEL --inputs=DIR [-o OUTDIR] [--expect=DIR]\n"
    "       mof exec [OPTION]... MODEL --random [--seed=S] [-o OUTDIR]\n"
    "\n"
    "Runs the ONNX model MODEL with mof's reference interpreter. Inputs come from the\n"
    "folder DIR, as ONNX test data (input_0.pb, input_1.pb, ... in graph input order)\n"
    "or one file per input named after it (NAME.npy or NAME.pb), or are made at random\n"
    "from a seed: floats uniform in [-1, 1), integers in [0, 4), the same on every\n"
    "machine. With -o, output i is written to OUTDIR/output_<i>.pb (a TensorProto\n"
    "named after the output; the folder is written under a temporary name and renamed\n"
    "into place); without it, a summary of each output is printed.\n"
    "\n"
    "Options:\n"
    "      --inputs=DIR          read the inputs from the folder DIR\n"
    "      --random              make random inputs\n"
    "      --seed=S              the seed of --random (default 0)\n"
    "  -o, --output=OUTDIR       write the outputs into the folder OUTDIR\n"
    "      --expect=DIR          compare the outputs with the expected ones in DIR\n"
    "                            (output_0.pb, ... as in ONNX test data, or NAME.npy)\n"
    "                            and print a table as mof verify does; the exit\n"
    "                            status is 1 when one is past tolerance\n"
    "      --rtol=R, --atol=A    the tolerance of --expect: |got - expected| <=\n"
    "                            A + R * |expected| (default R 1e-4, A 1e-5)\n"
    "      --time=N              also run N more times and print the median latency\n"
    "                            (the first run is the warm-up)\n"
    "      --input-shape=NAME=DIMS\n"
    "                            pin the shape of a graph input: image=1,3,224,224\n"
    "                            (needed by --random for dynamic dims; repeatable)\n"
    "  -q, --quiet               print no notes\n"
    "  -h, --help                show this help\n";

static const char verify_help[] =
    "Usage: mof verify [OPTION]... REFERENCE MODEL\n"
    "\n"
    "Runs the ONNX models REFERENCE and MODEL with mof's reference interpreter on the\n"
    "same inputs and compares their outputs. Prints a table with one row per output:\n"
    "max absolute error, max relative error (to max(|ref|, 1e-12)), cosine similarity,\n"
    "top-1 agreement for classifier-like outputs (float, [B, C] with C > 1), and the\n"
    "verdict: an element passes when |got - ref| <= ATOL + RTOL * |ref|. The exit\n"
    "status is 0 when every output passes, 1 when one does not.\n"
    "\n"
    "Options:\n"
    "      --inputs=DIR          compare on the inputs in the folder DIR (as for exec)\n"
    "      --random=N            compare on N random input sets (default 3)\n"
    "      --seed=S              input set k is made from seed S + k (default 0)\n"
    "      --rtol=R              relative tolerance (default 1e-4)\n"
    "      --atol=A              absolute tolerance (default 1e-5)\n"
    "      --input-shape=NAME=DIMS\n"
    "                            pin the shape of a graph input of both models\n"
    "                            (needed for random inputs with dynamic dims)\n"
    "      --json                print the comparison as JSON instead of the table\n"
    "  -q, --quiet               print no notes\n"
    "  -h, --help                show this help\n";

static const char info_help[] =
    "Usage: mof info MODEL...\n"
    "\n"
    "Describes ONNX models: IR version, opsets, producer, graph inputs and outputs with\n"
    "their element types and shapes (symbolic dims by name, ? when unknown), metadata,\n"
    "the number of nodes (subgraphs included), initializers with their parameter count\n"
    "and size, and how often each operator occurs.\n"
    "\n"
    "Options:\n"
    "  -h, --help                show this help\n";

static const char print_help[] =
    "Usage: mof print [OPTION]... MODEL\n"
    "\n"
    "Prints the model MODEL (ONNX, or ONNX text) in the ONNX textual syntax, the one\n"
    "that onnx.parser reads and onnx.printer writes, on standard output. Constants\n"
    "(initializers and tensor attributes) with more than N elements are shown without\n"
    "their data, as 'float[64,3,7,7] w = ...'; such text cannot be read back. Saved as\n"
    "a .onnxtxt file, text with every constant in full is a model mof reads wherever\n"
    "it reads an ONNX file.\n"
    "\n"
    "Options:\n"
    "      --max-elements=N      write constants of up to N elements in full (default\n"
    "                            16; 'all' for every constant)\n"
    "  -h, --help                show this help\n";

static const char validate_help[] =
    "Usage: mof validate [OPTION]... PIPELINE...\n"
    "\n"
    "Checks pipeline files without running them: the schema, every pass and backend\n"
    "name, every parameter (type, range, choices) and the passes' contracts. Every\n"
    "error is reported with FILE:LINE. Prints 'PIPELINE: ok (N passes, M backends)'\n"
    "for each valid file.\n"
    "\n"
    "Options:\n"
    "      --set=PASS.PARAM=VALUE\n"
    "                            check the file with this parameter set (repeatable)\n"
    "      --plugin-dir=DIR      search DIR for plugins first (repeatable)\n"
    "  -q, --quiet               print no notes\n"
    "  -h, --help                show this help\n";

static const char plugins_help[] =
    "Usage: mof plugins [OPTION]...\n"
    "\n"
    "Lists the plugin search path and every plugin found on it: name, version, file,\n"
    "how many passes and backends it offers, license and description.\n"
    "\n"
    "Options:\n"
    "      --plugin-dir=DIR      search DIR for plugins first (repeatable)\n"
    "  -q, --quiet               print no notes\n"
    "  -h, --help                show this help\n";

static const char passes_help[] =
    "Usage: mof passes [OPTION]... [NAME]...\n"
    "\n"
    "Lists the passes of every plugin found, with a one-line summary; with NAMEs,\n"
    "describes those passes: what they do, their parameters (type, default, range or\n"
    "choices) and their contracts.\n"
    "\n"
    "Options:\n"
    "      --plugin-dir=DIR      search DIR for plugins first (repeatable)\n"
    "  -q, --quiet               print no notes\n"
    "  -h, --help                show this help\n";

static const char backends_help[] =
    "Usage: mof backends [OPTION]... [NAME]...\n"
    "\n"
    "Lists the backends of every plugin found, with a one-line summary; with NAMEs,\n"
    "describes those backends: what they write, their default output name, their\n"
    "parameters and the operators they support.\n"
    "\n"
    "Options:\n"
    "      --plugin-dir=DIR      search DIR for plugins first (repeatable)\n"
    "  -q, --quiet               print no notes\n"
    "  -h, --help                show this help\n";

static const char help_help[] =
    "Usage: mof help [COMMAND]\n"
    "\n"
    "Shows the help of mof, or of one of its commands.\n";

/* ------------------------------------------------------------------ context and plugins */

struct cli {
    mof_context *ctx;
    bool quiet;
};

static void print_diag(const mof_diag *d, void *user)
{
    const struct cli *c = user;
    if (c->quiet && d->severity == MOF_SEVERITY_NOTE)
        return;
    char *line = mof_diag_format(d);
    fprintf(stderr, "%s%s\n", d->loc.file ? "" : "mof: ",
            line ? line : (d->message ? d->message : "(out of memory)"));
    free(line);
}

static int cli_init(struct cli *c, bool quiet)
{
    c->quiet = quiet;
    c->ctx = mof_context_create();
    if (!c->ctx)
        return out_of_memory();
    mof_context_set_diag_handler(c->ctx, print_diag, c);
    return EXIT_OK;
}

static void cli_fini(struct cli *c)
{
    mof_context_destroy(c->ctx);
    c->ctx = NULL;
}

/* Whether this executable runs from the build tree (MOF_ABS_BUILDDIR itself, or its
 * .libs where libtool keeps the real program behind its wrapper script). */
static bool running_uninstalled(void)
{
    bool result = false;
    char *exe = realpath("/proc/self/exe", NULL);
    char *build = realpath(MOF_ABS_BUILDDIR, NULL);
    if (exe && build) {
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            size_t n = strlen(build);
            result = strcmp(exe, build) == 0 ||
                     (strncmp(exe, build, n) == 0 && strcmp(exe + n, "/.libs") == 0);
        }
    }
    free(exe);
    free(build);
    return result;
}

/* The plugin folders, in search order (after a pipeline's own <plugin> paths). */
struct search_path {
    struct strlist dirs;  /* borrowed from argv, env, or `owned` */
    char *owned;          /* copies of split environment and compile-time strings */
    char *owned2;
    bool uninstalled;     /* the build tree's plugin folders replace the installed one */
};

static bool split_into(struct strlist *l, char *s, const char *seps)
{
    for (char *tok = strtok(s, seps); tok; tok = strtok(NULL, seps))
        if (!strlist_add(l, tok))
            return false;
    return true;
}

static bool search_path_init(struct search_path *sp, const struct strlist *plugin_dirs)
{
    memset(sp, 0, sizeof *sp);
    for (size_t i = 0; i < plugin_dirs->n; i++)
        if (!strlist_add(&sp->dirs, plugin_dirs->items[i]))
            return false;
    const char *env = getenv("MOF_PLUGIN_PATH");
    if (env && *env) {
        sp->owned = strdup(env);
        if (!sp->owned || !split_into(&sp->dirs, sp->owned, ":"))
            return false;
    }
    sp->uninstalled = running_uninstalled();
#ifdef MOF_UNINSTALLED_PLUGIN_PATH
    if (sp->uninstalled) {
        sp->owned2 = strdup(MOF_UNINSTALLED_PLUGIN_PATH);
        if (!sp->owned2 || !split_into(&sp->dirs, sp->owned2, " "))
            return false;
    }
#else
    sp->uninstalled = false;
#endif
    if (!sp->uninstalled && !strlist_add(&sp->dirs, mof_installed_plugin_dir()))
        return false;
    return true;
}

static void search_path_fini(struct search_path *sp)
{
    strlist_free(&sp->dirs);
    free(sp->owned);
    free(sp->owned2);
}

/* Whether folder i of the search path names the same folder as an earlier one (as
 * when MOF_PLUGIN_PATH lists the build tree's folders): it is searched once. */
static bool search_path_repeats(const struct search_path *sp, size_t i)
{
    struct stat a, b;
    for (size_t j = 0; j < i; j++) {
        if (strcmp(sp->dirs.items[j], sp->dirs.items[i]) == 0)
            return true;
        if (stat(sp->dirs.items[j], &a) == 0 && stat(sp->dirs.items[i], &b) == 0 &&
            a.st_dev == b.st_dev && a.st_ino == b.st_ino)
            return true;
    }
    return false;
}

/* Loads the plugins of the search path. Returns EXIT_OK or EXIT_PLUGIN. */
static int load_plugins(struct cli *c, const struct strlist *plugin_dirs)
{
    /* A folder the user named explicitly must exist: a typo would otherwise show up
     * only later, as an unknown pass. */
    for (size_t i = 0; i < plugin_dirs->n; i++) {
        struct stat st;
        const char *dir = plugin_dirs->items[i];
        if (stat(dir, &st) != 0) {
            fprintf(stderr, "mof: --plugin-dir '%s': %s\n", dir, strerror(errno));
            return EXIT_PLUGIN;
        }
        if (!S_ISDIR(st.st_mode)) {
            fprintf(stderr, "mof: --plugin-dir '%s': not a folder\n", dir);
            return EXIT_PLUGIN;
        }
    }

    size_t errors_before = mof_context_n_errors(c->ctx);
    mof_status st = MOF_OK;
    struct search_path sp;
    if (!search_path_init(&sp, plugin_dirs)) {
        search_path_fini(&sp);
        return out_of_memory();
    }
    if (sp.uninstalled) {
        /* Same order as mof_context_load_default_plugins, with the build tree's
         * plugin folders in place of the installed one. */
        for (size_t i = 0; i < sp.dirs.n; i++) {
            if (search_path_repeats(&sp, i))
                continue;
            mof_status s = mof_context_load_plugin_dir(c->ctx, sp.dirs.items[i]);
            if (s < 0 && st >= 0)
                st = s;
        }
    } else {
        st = mof_context_load_default_plugins(c->ctx, plugin_dirs->n, plugin_dirs->items);
    }
    search_path_fini(&sp);
    if (st < 0 || mof_context_n_errors(c->ctx) > errors_before)
        return EXIT_PLUGIN;
    return EXIT_OK;
}

/* The exit status for a pipeline that did not load: a plugin of its own that failed
 * to load is a plugin error, anything else is a bad pipeline file. The host words
 * every load failure "PATH: cannot load plugin: REASON". */
static int pipeline_failure_status(const mof_context *ctx, size_t first_diag)
{
    for (size_t i = first_diag; i < mof_context_n_diags(ctx); i++) {
        const mof_diag *d = mof_context_diag(ctx, i);
        if (d->severity == MOF_SEVERITY_ERROR &&
            (d->status == MOF_ERR_ABI ||
             (d->message && strstr(d->message, ": cannot load plugin: "))))
            return EXIT_PLUGIN;
    }
    return EXIT_BAD_INPUT;
}

/* Reports a name that is neither a pass nor a backend (kind "pass" or "backend"). */
static int unknown_name(const struct args *a, const mof_context *ctx, const char *kind,
                        const char *name)
{
    bool passes = strcmp(kind, "pass") == 0;
    if (passes ? mof_context_find_backend(ctx, name) != NULL
               : mof_context_find_pass(ctx, name) != NULL)
        return usage_error(a, "'%s' is a %s, not a %s", name, passes ? "backend" : "pass",
                           kind);
    size_t n = passes ? mof_context_n_passes(ctx) : mof_context_n_backends(ctx);
    const char **names = calloc(n ? n : 1, sizeof *names);
    if (!names)
        return out_of_memory();
    for (size_t i = 0; i < n; i++)
        names[i] = passes ? mof_context_pass(ctx, i, NULL)->name
                          : mof_context_backend(ctx, i, NULL)->name;
    const char *near = mof_nearest_name(name, n, names);
    if (near)
        usage_error(a, "unknown %s '%s' (did you mean '%s'?)", kind, name, near);
    else
        usage_error(a, "unknown %s '%s'", kind, name);
    free(names);
    return EXIT_USAGE;
}

/* ------------------------------------------------------------------ mof run */

/* The options mof run and mof preflight share: --set, --input-shape, --plugin-dir
 * and -q. */
struct pipeline_opts {
    struct strlist sets, input_shapes, plugin_dirs;
    bool quiet;
};

/* Takes option `id` (argument `arg`) of mof run or mof preflight when it is one they
 * share: a bad option (*status = EXIT_USAGE), --help (prints `help`, *status = -1), an
 * operand (added to `operands`), --set, --input-shape, --plugin-dir, -q; *status is
 * out_of_memory() when a list cannot grow. Returns false for any other option, which
 * is the caller's to take. */
static bool take_pipeline_opt(struct pipeline_opts *o, struct strlist *operands,
                              const char *help, int id, const char *arg, int *status)
{
    bool ok = true;
    switch (id) {
    case OPT_ERROR:
        *status = EXIT_USAGE;
        break;
    case OPT_HELP:
        fputs(help, stdout);
        *status = -1;
        break;
    case OPT_POSITIONAL:
        ok = strlist_add(operands, arg);
        break;
    case OPT_SET:
        ok = strlist_add(&o->sets, arg);
        break;
    case OPT_INPUT_SHAPE:
        ok = strlist_add(&o->input_shapes, arg);
        break;
    case OPT_PLUGIN_DIR:
        ok = strlist_add(&o->plugin_dirs, arg);
        break;
    case OPT_QUIET:
        o->quiet = true;
        break;
    default:
        return false;
    }
    if (!ok)
        *status = out_of_memory();
    return true;
}

/* Applies the --set and --input-shape options to p: EXIT_USAGE when p refuses one
 * (it says why), else `status`. */
static int apply_pipeline_opts(const struct pipeline_opts *o, mof_pipeline *p, int status)
{
    for (size_t i = 0; i < o->sets.n; i++)
        if (mof_pipeline_set(p, o->sets.items[i]) < 0)
            status = EXIT_USAGE;
    for (size_t i = 0; i < o->input_shapes.n; i++)
        if (mof_pipeline_set_input_shape(p, o->input_shapes.items[i]) < 0)
            status = EXIT_USAGE;
    return status;
}

static void pipeline_opts_free(struct pipeline_opts *o)
{
    strlist_free(&o->sets);
    strlist_free(&o->input_shapes);
    strlist_free(&o->plugin_dirs);
}

static const struct option_def run_options[] = {
    { "output", 'o', true, OPT_OUTPUT },
    { "passes", 0, true, OPT_PASSES },
    { "set", 0, true, OPT_SET },
    { "input-shape", 0, true, OPT_INPUT_SHAPE },
    { "plugin-dir", 0, true, OPT_PLUGIN_DIR },
    { "time-passes", 0, false, OPT_TIME_PASSES },
    { "print-after", 0, true, OPT_PRINT_AFTER },
    { "verify-each", 0, false, OPT_VERIFY_EACH },
    { "keep-going", 0, false, OPT_KEEP_GOING },
    { "no-metadata", 0, false, OPT_NO_METADATA },
    { "explain", 0, false, OPT_EXPLAIN },
    { "report", 0, true, OPT_REPORT },
    { "quiet", 'q', false, OPT_QUIET },
    { "check", 0, false, OPT_CHECK },
    { "check-each", 0, false, OPT_CHECK_EACH },
    { "check-inputs", 0, true, OPT_CHECK_INPUTS },
    { "seed", 0, true, OPT_SEED },
    { "rtol", 0, true, OPT_RTOL },
    { "atol", 0, true, OPT_ATOL },
    { "help", 'h', false, OPT_HELP },
    { 0 }
};

/* Parses a count in [1, 1000000] for option `opt`; a usage error otherwise. */
static int parse_count(const struct args *a, const char *opt, const char *text, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || *end || errno || v < 1 || v > 1000000)
        return usage_error(a, "option '--%s' needs a whole number from 1 to 1000000, not "
                           "'%s'", opt, text);
    *out = (size_t)v;
    return EXIT_OK;
}

/* Parses a seed: a whole number from 0 to 2^64 - 1. */
static int parse_seed(const struct args *a, const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 0);
    if (text[0] < '0' || text[0] > '9' || *end || errno)
        return usage_error(a, "option '--seed' needs a whole number from 0 to %" PRIu64
                           ", not '%s'", UINT64_MAX, text);
    *out = (uint64_t)v;
    return EXIT_OK;
}

/* Parses a tolerance: a finite number >= 0. */
static int parse_tolerance(const struct args *a, const char *opt, const char *text,
                           double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (!text[0] || *end || errno || !isfinite(v) || v < 0)
        return usage_error(a, "option '--%s' needs a number >= 0 such as 1e-4, not '%s'", opt,
                           text);
    *out = v;
    return EXIT_OK;
}

struct run_args {
    const char *pipeline_file;
    const char *pass_list;
    const char *model_file;
    const char *output;
    const char *print_after;
    const char *report_file;  /* --report: the run report as JSON */
    struct pipeline_opts po;  /* --set, --input-shape, --plugin-dir, -q */
    bool time_passes, verify_each, keep_going, no_metadata, explain;
    bool check, check_each;
    const char *check_only;   /* a check option given without --check or --check-each */
    size_t check_inputs;
    uint64_t seed;
    double rtol, atol;
};

static int parse_run_args(struct args *a, struct run_args *r)
{
    struct strlist operands = { 0 };
    int status = EXIT_OK;
    const char *arg;
    int id;
    while (status == EXIT_OK && (id = args_next(a, run_options, &arg)) != OPT_END) {
        if (take_pipeline_opt(&r->po, &operands, run_help, id, arg, &status))
            continue;
        switch (id) {
        case OPT_OUTPUT:
            r->output = arg;
            break;
        case OPT_PASSES:
            r->pass_list = arg;
            break;
        case OPT_TIME_PASSES:
            r->time_passes = true;
            break;
        case OPT_PRINT_AFTER:
            r->print_after = arg;
            break;
        case OPT_VERIFY_EACH:
            r->verify_each = true;
            break;
        case OPT_KEEP_GOING:
            r->keep_going = true;
            break;
        case OPT_NO_METADATA:
            r->no_metadata = true;
            break;
        case OPT_EXPLAIN:
            r->explain = true;
            break;
        case OPT_REPORT:
            r->report_file = arg;
            break;
        case OPT_CHECK:
            r->check = true;
            break;
        case OPT_CHECK_EACH:
            r->check_each = true;
            break;
        case OPT_CHECK_INPUTS:
            r->check_only = "--check-inputs";
            status = parse_count(a, "check-inputs", arg, &r->check_inputs);
            break;
        case OPT_SEED:
            r->check_only = "--seed";
            status = parse_seed(a, arg, &r->seed);
            break;
        case OPT_RTOL:
            r->check_only = "--rtol";
            status = parse_tolerance(a, "rtol", arg, &r->rtol);
            break;
        case OPT_ATOL:
            r->check_only = "--atol";
            status = parse_tolerance(a, "atol", arg, &r->atol);
            break;
        default:
            break;
        }
    }
    if (status == EXIT_OK && r->check_only && !r->check && !r->check_each)
        status = usage_error(a, "option '%s' needs --check or --check-each", r->check_only);
    if (status == EXIT_OK) {
        size_t want = r->pass_list ? 1 : 2;
        if (operands.n < want)
            status = usage_error(a, "missing %s", operands.n == 0 && !r->pass_list
                                                       ? "the PIPELINE and MODEL arguments"
                                                       : "the MODEL argument");
        else if (operands.n > want)
            status = usage_error(a, "unexpected argument '%s'", operands.items[want]);
        else if (!r->output)
            status = usage_error(a, "missing the output: -o OUT");
        else if (!*r->output)
            status = usage_error(a, "the output name is empty");
        else if (r->report_file && !*r->report_file)
            status = usage_error(a, "the report file name is empty");
    }
    if (status == EXIT_OK) {
        if (r->pass_list) {
            r->model_file = operands.items[0];
        } else {
            r->pipeline_file = operands.items[0];
            r->model_file = operands.items[1];
        }
    }
    strlist_free(&operands);
    return status;
}

/* Refuses an output that is the input model itself, before anything is loaded. */
static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

static int check_print_after(const struct args *a, const mof_context *ctx, const char *pass)
{
    if (strcmp(pass, "all") == 0 || mof_context_find_pass(ctx, pass))
        return EXIT_OK;
    return unknown_name(a, ctx, "pass", pass);
}

/* --explain: sets PASS.explain=true for every pass that declares a bool `explain`
 * parameter and that the pipeline runs. The library lists no pipeline's steps, so each
 * such pass is tried with the diagnostics silenced: a pass the pipeline does not run
 * is refused ("no step of the pipeline runs it"), and those refusals are then dropped.
 * Only diagnostics already printed are cleared. */
static int set_explain(struct cli *c, mof_pipeline *p)
{
    int status = EXIT_OK;
    mof_context_set_diag_handler(c->ctx, NULL, NULL);
    size_t n = mof_context_n_passes(c->ctx);
    for (size_t i = 0; i < n && status == EXIT_OK; i++) {
        const mof_pass_desc *pd = mof_context_pass(c->ctx, i, NULL);
        if (!pd || !pd->params || mof_context_find_pass(c->ctx, pd->name) != pd)
            continue;   /* shadowed by a plugin of the same name found first */
        for (const mof_param_desc *pp = pd->params; pp->name; pp++) {
            if (strcmp(pp->name, "explain") != 0 || pp->type != MOF_PARAM_BOOL)
                continue;
            size_t len = strlen(pd->name) + sizeof ".explain=true";
            char *assignment = malloc(len);
            if (!assignment) {
                status = out_of_memory();
                break;
            }
            snprintf(assignment, len, "%s.explain=true", pd->name);
            if (mof_pipeline_set(p, assignment) == MOF_ERR_NOMEM)
                status = out_of_memory();
            free(assignment);
            break;
        }
    }
    mof_context_clear_diags(c->ctx);
    mof_context_set_diag_handler(c->ctx, print_diag, c);
    return status;
}

/* Writes s as a JSON string. */
static void json_string(FILE *out, const char *s)
{
    if (!s) {
        fputs("null", out);
        return;
    }
    fputc('"', out);
    for (const unsigned char *u = (const unsigned char *)s; *u; u++) {
        switch (*u) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (*u < 0x20)
                fprintf(out, "\\u%04x", *u);
            else
                fputc(*u, out);
        }
    }
    fputc('"', out);
}

/* A JSON number for a time: finite, never negative. */
static void json_seconds(FILE *out, double s)
{
    fprintf(out, "%.9f", isfinite(s) && s > 0 ? s : 0.0);
}

static const char *step_status_name(const mof_step_report *st)
{
    if (st->status == MOF_OK)
        return st->is_backend ? "written" : "changed";
    if (st->status == MOF_UNCHANGED)
        return "unchanged";
    return "failed";
}

static const char *severity_name(mof_severity s)
{
    switch (s) {
    case MOF_SEVERITY_NOTE: return "note";
    case MOF_SEVERITY_WARNING: return "warning";
    case MOF_SEVERITY_ERROR: return "error";
    }
    return "unknown";
}

/* The "diagnostics" array: every diagnostic recorded in ctx from index first on. */
static void write_report_diags(FILE *out, const mof_context *ctx, size_t first)
{
    size_t n = mof_context_n_diags(ctx);
    if (first > n)
        first = n;
    fputs(",\n  \"diagnostics\": [", out);
    for (size_t i = first; i < n; i++) {
        const mof_diag *d = mof_context_diag(ctx, i);
        fputs(i > first ? ",\n    " : "\n    ", out);
        fputs("{\"severity\": ", out);
        json_string(out, severity_name(d->severity));
        fputs(", \"file\": ", out);
        json_string(out, d->loc.file);
        fprintf(out, ", \"line\": %u, \"pass\": ", d->loc.line);
        json_string(out, d->pass);
        fputs(", \"node\": ", out);
        json_string(out, d->node);
        fputs(", \"op_type\": ", out);
        json_string(out, d->op_type);
        fputs(", \"message\": ", out);
        json_string(out, d->message);
        fputc('}', out);
    }
    fputs(n > first ? "\n  ]" : "]", out);
}

static void write_report_body(FILE *out, const struct run_args *r, const mof_pipeline *p,
                              const mof_run_report *report, const mof_context *ctx,
                              size_t first_diag)
{
    fputs("{\n  \"pipeline\": {\"name\": ", out);
    json_string(out, mof_pipeline_name(p));
    fputs(", \"file\": ", out);
    json_string(out, r->pipeline_file);
    fputs(", \"passes\": ", out);
    json_string(out, r->pass_list);
    fputs(", \"sha256\": ", out);
    json_string(out, mof_pipeline_hash(p));
    fputs("},\n  \"model\": ", out);
    json_string(out, r->model_file);
    fputs(",\n  \"output\": ", out);
    json_string(out, r->output);
    fputs(",\n  \"steps\": [", out);
    size_t n = mof_run_report_n_steps(report);
    for (size_t i = 0; i < n; i++) {
        const mof_step_report *st = mof_run_report_step(report, i);
        fputs(i ? ",\n    " : "\n    ", out);
        fputs("{\"pass\": ", out);
        json_string(out, st->pass);
        fprintf(out, ", \"backend\": %s, \"line\": %u, \"iteration\": %u, \"status\": ",
                st->is_backend ? "true" : "false", st->line, st->iteration);
        json_string(out, step_status_name(st));
        if (st->status < 0) {
            fputs(", \"error\": ", out);
            json_string(out, mof_status_str(st->status));
        }
        fputs(", \"seconds\": ", out);
        json_seconds(out, st->seconds);
        fprintf(out, ", \"nodes_before\": %zu, \"nodes_after\": %zu, \"stats\": {",
                st->nodes_before, st->nodes_after);
        for (size_t k = 0; k < st->n_stats; k++) {
            if (k)
                fputs(", ", out);
            json_string(out, st->stat_names[k]);
            fprintf(out, ": %" PRId64, st->stat_values[k]);
        }
        fputs("}, \"output\": ", out);
        json_string(out, st->output);
        if (st->n_data) {
            /* Structured results of the pass (mof_pass_report_json), as it wrote them. */
            fputs(", \"data\": {", out);
            for (size_t k = 0; k < st->n_data; k++) {
                if (k)
                    fputs(", ", out);
                json_string(out, st->data_keys[k]);
                fprintf(out, ": %s", st->data_json[k]);
            }
            fputc('}', out);
        }
        fputc('}', out);
    }
    fputs(n ? "\n  ],\n  \"notes\": [" : "],\n  \"notes\": [", out);
    size_t n_notes = mof_run_report_n_notes(report);
    for (size_t i = 0; i < n_notes; i++) {
        fputs(i ? ",\n    " : "\n    ", out);
        json_string(out, mof_run_report_note(report, i));
    }
    fputs(n_notes ? "\n  ]" : "]", out);
    write_report_diags(out, ctx, first_diag);
    fputs("\n}\n", out);
}

/* --report: writes the run report as one JSON object, through a temporary file renamed
 * into place. */
static int write_report_json(struct cli *c, const struct run_args *r, const mof_pipeline *p,
                             const mof_run_report *report, size_t first_diag)
{
    mof_output *o = mof_output_open_file(c->ctx, r->report_file);
    if (!o)
        return EXIT_RUN_FAILED;
    write_report_body(mof_output_file(o), r, p, report, c->ctx, first_diag);
    if (mof_output_commit(o) != MOF_OK)
        return EXIT_RUN_FAILED;
    return EXIT_OK;
}

static int run_pipeline(struct cli *c, const struct args *a, const struct run_args *r)
{
    int status = load_plugins(c, &r->po.plugin_dirs);
    if (status != EXIT_OK)
        return status;

    mof_pipeline *p = NULL;
    mof_model *model = NULL;
    mof_run_report *report = NULL;
    size_t first_diag = mof_context_n_diags(c->ctx), report_diags = first_diag;
    p = r->pass_list ? mof_pipeline_parse_list(c->ctx, r->pass_list)
                     : mof_pipeline_load(c->ctx, r->pipeline_file);
    if (!p) {
        /* A bad --passes list is a bad command line; a bad file is bad input. */
        status = r->pass_list ? EXIT_USAGE : pipeline_failure_status(c->ctx, first_diag);
        goto out;
    }
    /* --explain goes first, so that --set PASS.explain=false still wins. */
    if (r->explain)
        status = set_explain(c, p);
    status = apply_pipeline_opts(&r->po, p, status);
    if (status == EXIT_OK && r->print_after)
        status = check_print_after(a, c->ctx, r->print_after);
    if (status != EXIT_OK)
        goto out;

    /* The report's diagnostics start here: --explain cleared the earlier ones. */
    report_diags = mof_context_n_diags(c->ctx);
    model = mof_model_load(c->ctx, r->model_file);
    if (!model) {
        status = EXIT_BAD_INPUT;
        goto out;
    }

    mof_run_options opts;
    mof_run_options_init(&opts);
    opts.verify_each = r->verify_each;
    opts.time_passes = r->time_passes;
    opts.print_after = r->print_after;
    opts.keep_going = r->keep_going;
    opts.record_metadata = !r->no_metadata;
    opts.log = stderr;
    opts.input_path = r->model_file;
    opts.output = r->output;
    opts.check = r->check;
    opts.check_each = r->check_each;
    opts.check_inputs = r->check_inputs;
    opts.check_seed = r->seed;
    opts.rtol = r->rtol;
    opts.atol = r->atol;
    size_t errors_before = mof_context_n_errors(c->ctx);
    mof_status st = mof_pipeline_run(p, model, &opts, &report);
    /* With time_passes the pass manager prints the report (with times) to opts.log. */
    if (report && !r->po.quiet && !r->time_passes)
        mof_run_report_print(report, stderr, false);
    if (st < 0 || mof_context_n_errors(c->ctx) > errors_before)
        status = EXIT_RUN_FAILED;
    /* The report is written also for a failed run: it says which step failed. */
    if (report && r->report_file) {
        int s = write_report_json(c, r, p, report, report_diags);
        if (status == EXIT_OK)
            status = s;
    }

out:
    mof_run_report_destroy(report);
    mof_model_destroy(model);
    mof_pipeline_destroy(p);
    return status;
}

static int cmd_run(struct args *a)
{
    struct run_args r;
    memset(&r, 0, sizeof r);
    r.check_inputs = MOF_VERIFY_DEFAULT_SETS;
    r.rtol = MOF_VERIFY_DEFAULT_RTOL;
    r.atol = MOF_VERIFY_DEFAULT_ATOL;
    int status = parse_run_args(a, &r);
    if (status == EXIT_OK && same_file(r.output, r.model_file)) {
        fprintf(stderr, "mof run: the output '%s' is the input model; refusing to "
                        "overwrite it\n", r.output);
        status = EXIT_USAGE;
    }
    if (status == EXIT_OK && r.report_file && same_file(r.report_file, r.model_file)) {
        fprintf(stderr, "mof run: the report '%s' is the input model; refusing to "
                        "overwrite it\n", r.report_file);
        status = EXIT_USAGE;
    }
    if (status == EXIT_OK) {
        struct cli c;
        status = cli_init(&c, r.po.quiet);
        if (status == EXIT_OK)
            status = run_pipeline(&c, a, &r);
        cli_fini(&c);
    }
    pipeline_opts_free(&r.po);
    return status < 0 ? EXIT_OK : status;
}

/* ------------------------------------------------------------------ mof preflight */

static const char preflight_help[] =
    "Usage: mof preflight [OPTION]... PIPELINE MODEL\n"
    "\n"
    "Asks the backends of the pipeline file PIPELINE, without optimizing or emitting\n"
    "anything, whether they support each node of the ONNX model MODEL: its op (domain,\n"
    "op type, opset range of the backend's op table), then the backend's own check of\n"
    "the node's types, attributes and shapes, with the parameters the pipeline gives\n"
    "the backend (kernels=onednn, ...). The model is checked as it is, its shapes\n"
    "inferred (in memory; the pipeline's input shape pins and --input-shape applied);\n"
    "with --after-passes, the pipeline's passes run first (in memory, nothing\n"
    "written) and the model they make is checked, as the backend would get it.\n"
    "\n"
    "Prints one line per node and backend (name, op, domain, the part of the backend\n"
    "that would run it, ok or unsupported with the reason), then a summary per op\n"
    "type. The exit status is 0 when every node is supported, 1 when one is not.\n"
    "\n"
    "Options:\n"
    "      --after-passes        run the pipeline's passes first and check their result\n"
    "      --set=STEP.PARAM=VALUE\n"
    "                            set a parameter of a pass or backend (repeatable):\n"
    "                            --set cpu.kernels=onednn\n"
    "      --input-shape=NAME=DIMS\n"
    "                            pin the shape of a graph input: image=1,3,224,224\n"
    "      --plugin-dir=DIR      search DIR for plugins first (repeatable)\n"
    "  -q, --quiet               print only the unsupported nodes and the totals\n"
    "  -h, --help                show this help\n";

static const struct option_def preflight_options[] = {
    { "after-passes", 0, false, OPT_AFTER_PASSES },
    { "set", 0, true, OPT_SET },
    { "input-shape", 0, true, OPT_INPUT_SHAPE },
    { "plugin-dir", 0, true, OPT_PLUGIN_DIR },
    { "quiet", 'q', false, OPT_QUIET },
    { "help", 'h', false, OPT_HELP },
    { 0 }
};

struct preflight_args {
    const char *pipeline_file, *model_file;
    struct pipeline_opts po;  /* --set, --input-shape, --plugin-dir, -q */
    bool after_passes;
};

/* One node's verdict, copied out of the callback. */
struct preflight_row {
    size_t backend;
    char *name;        /* the node's name, or "#id" */
    const char *op;    /* borrowed from the node (the model outlives the rows) */
    const char *domain;
    char *provider;    /* the backend's note, or NULL */
    char *reason;      /* NULL when supported */
};

struct preflight_rows {
    struct preflight_row *items;
    size_t n, cap;
    bool nomem;
};

static void preflight_collect(const mof_preflight_result *res, void *user)
{
    struct preflight_rows *rows = user;
    if (rows->nomem)
        return;
    if (rows->n == rows->cap) {
        size_t cap = rows->cap ? 2 * rows->cap : 64;
        struct preflight_row *items = realloc(rows->items, cap * sizeof *items);
        if (!items) {
            rows->nomem = true;
            return;
        }
        rows->items = items;
        rows->cap = cap;
    }
    struct preflight_row *r = &rows->items[rows->n];
    memset(r, 0, sizeof *r);
    const char *name = mof_node_name(res->node);
    char id[32];
    snprintf(id, sizeof id, "#%" PRIu32, mof_node_id(res->node));
    const char *domain = mof_node_domain(res->node);
    r->backend = res->backend;
    r->name = strdup(name && name[0] ? name : id);
    r->op = mof_node_op_type(res->node);
    r->domain = domain[0] && strcmp(domain, "ai.onnx") != 0 ? domain : "ai.onnx";
    r->provider = res->supported && res->note ? strdup(res->note) : NULL;
    r->reason = res->supported ? NULL : strdup(res->reason ? res->reason : "no reason given");
    rows->n++;
    if (!r->name || (res->supported && res->note && !r->provider) ||
        (!res->supported && !r->reason))
        rows->nomem = true;
}

static void preflight_rows_free(struct preflight_rows *rows)
{
    for (size_t i = 0; i < rows->n; i++) {
        free(rows->items[i].name);
        free(rows->items[i].provider);
        free(rows->items[i].reason);
    }
    free(rows->items);
}

static int field_width(int w, const char *s)
{
    int n = (int)strlen(s);
    return n > w ? n : w;
}

/* Prints backend b's rows: the per-node table, the per-op summary, the totals.
 * Returns the number of unsupported nodes, or -1 when out of memory. */
static long print_preflight_backend(FILE *out, const char *file, const mof_pipeline *p,
                                    size_t b, const struct preflight_rows *rows, bool quiet)
{
    const char *bname = mof_pipeline_backend_name(p, b);
    fprintf(out, "backend '%s'", bname);
    unsigned line = mof_pipeline_backend_line(p, b);
    if (line)
        fprintf(out, " (%s:%u)", file, line);
    size_t np = mof_pipeline_backend_n_params(p, b);
    for (size_t j = 0; j < np; j++) {
        const char *value = NULL;
        const char *name = mof_pipeline_backend_param(p, b, j, &value);
        fprintf(out, "%s%s=%s", j ? " " : ": ", name, value ? value : "");
    }
    fputc('\n', out);

    int wn = 4, wo = 2, wd = 6, wp = 8;
    size_t total = 0, bad = 0;
    for (size_t i = 0; i < rows->n; i++) {
        const struct preflight_row *r = &rows->items[i];
        if (r->backend != b)
            continue;
        total++;
        bad += r->reason != NULL;
        if (quiet && !r->reason)
            continue;
        wn = field_width(wn, r->name);
        wo = field_width(wo, r->op);
        wd = field_width(wd, r->domain);
        wp = field_width(wp, r->provider ? r->provider : "-");
    }
    if (!quiet || bad) {
        fprintf(out, "  %-*s  %-*s  %-*s  %-*s  %s\n", wn, "node", wo, "op", wd, "domain", wp,
                "provider", "result");
        for (size_t i = 0; i < rows->n; i++) {
            const struct preflight_row *r = &rows->items[i];
            if (r->backend != b || (quiet && !r->reason))
                continue;
            fprintf(out, "  %-*s  %-*s  %-*s  %-*s  ", wn, r->name, wo, r->op, wd, r->domain,
                    wp, r->provider ? r->provider : "-");
            if (r->reason)
                fprintf(out, "unsupported: %s\n", r->reason);
            else
                fputs("ok\n", out);
        }
    }

    /* Per op type, in order of first appearance. */
    struct op_sum {
        const char *domain, *op;
        size_t nodes, ok;
    } *sums = calloc(total ? total : 1, sizeof *sums);
    if (!sums)
        return -1;
    size_t n_sums = 0;
    int ws = 7;
    for (size_t i = 0; i < rows->n; i++) {
        const struct preflight_row *r = &rows->items[i];
        if (r->backend != b)
            continue;
        size_t k = 0;
        while (k < n_sums && (strcmp(sums[k].op, r->op) || strcmp(sums[k].domain, r->domain)))
            k++;
        if (k == n_sums) {
            sums[n_sums++] = (struct op_sum){ r->domain, r->op, 0, 0 };
            int w = (int)strlen(r->op) +
                    (strcmp(r->domain, "ai.onnx") ? (int)strlen(r->domain) + 1 : 0);
            ws = w > ws ? w : ws;
        }
        sums[k].nodes++;
        sums[k].ok += r->reason == NULL;
    }
    if (!quiet) {
        fprintf(out, "  per op type:\n    %-*s  %5s  %9s  %11s\n", ws, "op type", "nodes",
                "supported", "unsupported");
        for (size_t k = 0; k < n_sums; k++) {
            char label[256];
            if (strcmp(sums[k].domain, "ai.onnx"))
                snprintf(label, sizeof label, "%s:%s", sums[k].domain, sums[k].op);
            else
                snprintf(label, sizeof label, "%s", sums[k].op);
            fprintf(out, "    %-*s  %5zu  %9zu  %11zu\n", ws, label, sums[k].nodes, sums[k].ok,
                    sums[k].nodes - sums[k].ok);
        }
    }
    free(sums);
    fprintf(out, "preflight: %zu of %zu node%s supported by backend '%s'%s\n", total - bad,
            total, total == 1 ? "" : "s", bname,
            bad ? "" : total ? ": every node" : " (the graph has no nodes)");
    return (long)bad;
}

static int parse_preflight_args(struct args *a, struct preflight_args *f)
{
    struct strlist operands = { 0 };
    int status = EXIT_OK;
    const char *arg;
    int id;
    while (status == EXIT_OK && (id = args_next(a, preflight_options, &arg)) != OPT_END) {
        if (!take_pipeline_opt(&f->po, &operands, preflight_help, id, arg, &status) &&
            id == OPT_AFTER_PASSES)
            f->after_passes = true;
    }
    if (status == EXIT_OK) {
        if (operands.n < 2)
            status = usage_error(a, "missing %s", operands.n == 0
                                                      ? "the PIPELINE and MODEL arguments"
                                                      : "the MODEL argument");
        else if (operands.n > 2)
            status = usage_error(a, "unexpected argument '%s'", operands.items[2]);
    }
    if (status == EXIT_OK) {
        f->pipeline_file = operands.items[0];
        f->model_file = operands.items[1];
    }
    strlist_free(&operands);
    return status;
}

static int preflight(struct cli *c, const struct args *a, const struct preflight_args *f)
{
    int status = load_plugins(c, &f->po.plugin_dirs);
    if (status != EXIT_OK)
        return status;
    mof_model *model = NULL;
    struct preflight_rows rows = { 0 };
    size_t first_diag = mof_context_n_diags(c->ctx);
    mof_pipeline *p = mof_pipeline_load(c->ctx, f->pipeline_file);
    if (!p) {
        status = pipeline_failure_status(c->ctx, first_diag);
        goto out;
    }
    if (mof_pipeline_n_backends(p) == 0) {
        status = usage_error(a, "the pipeline %s has no <backend>: preflight asks a "
                             "backend whether it supports the model's nodes",
                             f->pipeline_file);
        goto out;
    }
    status = apply_pipeline_opts(&f->po, p, status);
    if (status != EXIT_OK)
        goto out;
    model = mof_model_load(c->ctx, f->model_file);
    if (!model) {
        status = EXIT_BAD_INPUT;
        goto out;
    }
    size_t errors_before = mof_context_n_errors(c->ctx);
    size_t nodes_before = mof_graph_n_nodes(mof_model_graph(model));
    /* Without --after-passes, the shapes the model implies, as infer-shapes would give
     * them to the backend: that is no optimization. */
    mof_status st = mof_pipeline_preflight(p, model,
                                           f->after_passes ? MOF_PREFLIGHT_RUN_PASSES
                                                           : MOF_PREFLIGHT_INFER_SHAPES,
                                           preflight_collect, &rows);
    if (rows.nomem) {
        status = out_of_memory();
        goto out;
    }
    if (st < 0 && st != MOF_ERR_UNSUPPORTED) {
        status = st == MOF_ERR_NOMEM || f->after_passes ? EXIT_RUN_FAILED : EXIT_BAD_INPUT;
        goto out;
    }
    if (f->after_passes)
        printf("after the pipeline's %zu pass step%s: %zu node%s (the model has %zu)\n",
               mof_pipeline_n_passes(p), mof_pipeline_n_passes(p) == 1 ? "" : "s",
               mof_graph_n_nodes(mof_model_graph(model)),
               mof_graph_n_nodes(mof_model_graph(model)) == 1 ? "" : "s", nodes_before);
    long bad = 0;
    for (size_t b = 0; b < mof_pipeline_n_backends(p); b++) {
        if (b)
            fputc('\n', stdout);
        long nb = print_preflight_backend(stdout, f->pipeline_file, p, b, &rows,
                                          f->po.quiet);
        if (nb < 0) {
            status = out_of_memory();
            goto out;
        }
        bad += nb;
    }
    if (bad || st == MOF_ERR_UNSUPPORTED || mof_context_n_errors(c->ctx) > errors_before)
        status = EXIT_RUN_FAILED;

out:
    preflight_rows_free(&rows);
    mof_model_destroy(model);
    mof_pipeline_destroy(p);
    return status;
}

static int cmd_preflight(struct args *a)
{
    struct preflight_args f;
    memset(&f, 0, sizeof f);
    int status = parse_preflight_args(a, &f);
    if (status == EXIT_OK) {
        struct cli c;
        status = cli_init(&c, f.po.quiet);
        if (status == EXIT_OK)
            status = preflight(&c, a, &f);
        cli_fini(&c);
    }
    pipeline_opts_free(&f.po);
    return status < 0 ? EXIT_OK : status;
}

/* ------------------------------------------------------------------ exec and verify */

/* Pins input shapes of a model ("NAME=DIMS" each). Returns EXIT_OK or EXIT_USAGE. */
static int apply_input_shapes(mof_model *m, const struct strlist *shapes)
{
    int status = EXIT_OK;
    for (size_t i = 0; i < shapes->n; i++)
        if (mof_model_set_input_shape(m, shapes->items[i]) != MOF_OK)
            status = EXIT_USAGE;
    return status;
}

/* The exit status for inputs that could not be made: a bad folder or file is bad
 * input; random inputs fail for lack of a pin (a usage matter) or of memory. */
static int inputs_failure_status(mof_status st, bool from_files)
{
    if (st == MOF_ERR_NOMEM)
        return EXIT_RUN_FAILED;
    if (from_files)
        return EXIT_BAD_INPUT;
    return st == MOF_ERR_INVALID_ARG ? EXIT_USAGE : EXIT_BAD_INPUT;
}

/* Whether the existing path `inner` lies inside the existing folder `dir`, or is it. */
static bool is_inside(const char *inner, const char *dir)
{
    char *ri = realpath(inner, NULL), *rd = realpath(dir, NULL);
    bool inside = false;
    if (ri && rd) {
        size_t n = strlen(rd);
        inside = strncmp(ri, rd, n) == 0 &&
                 (ri[n] == '/' || ri[n] == '\0' || (n == 1 && rd[0] == '/'));
    }
    free(ri);
    free(rd);
    return inside;
}

static void print_seconds(FILE *out, double s)
{
    if (s < 1.0)
        fprintf(out, "%.3f ms", s * 1e3);
    else
        fprintf(out, "%.3f s", s);
}

static const struct option_def exec_options[] = {
    { "inputs", 0, true, OPT_INPUTS },
    { "random", 0, false, OPT_RANDOM },
    { "seed", 0, true, OPT_SEED },
    { "output", 'o', true, OPT_OUTPUT },
    { "expect", 0, true, OPT_EXPECT },
    { "rtol", 0, true, OPT_RTOL },
    { "atol", 0, true, OPT_ATOL },
    { "time", 0, true, OPT_TIME },
    { "input-shape", 0, true, OPT_INPUT_SHAPE },
    { "quiet", 'q', false, OPT_QUIET },
    { "help", 'h', false, OPT_HELP },
    { 0 }
};

struct exec_args {
    const char *model_file;
    const char *inputs_dir;
    const char *output;
    const char *expect_dir;
    const char *tol_given;   /* --rtol or --atol, which need --expect */
    double rtol, atol;
    bool random, seed_given, quiet;
    uint64_t seed;
    size_t time_runs;     /* 0: no timing */
    struct strlist input_shapes;
};

static int parse_exec_args(struct args *a, struct exec_args *e)
{
    struct strlist operands = { 0 };
    int status = EXIT_OK;
    const char *arg;
    int id;
    while (status == EXIT_OK && (id = args_next(a, exec_options, &arg)) != OPT_END) {
        bool ok = true;
        switch (id) {
        case OPT_ERROR:
            status = EXIT_USAGE;
            break;
        case OPT_HELP:
            fputs(exec_help, stdout);
            status = -1;
            break;
        case OPT_POSITIONAL:
            ok = strlist_add(&operands, arg);
            break;
        case OPT_INPUTS:
            e->inputs_dir = arg;
            break;
        case OPT_RANDOM:
            e->random = true;
            break;
        case OPT_SEED:
            e->seed_given = true;
            status = parse_seed(a, arg, &e->seed);
            break;
        case OPT_OUTPUT:
            e->output = arg;
            break;
        case OPT_EXPECT:
            e->expect_dir = arg;
            break;
        case OPT_RTOL:
            e->tol_given = "--rtol";
            status = parse_tolerance(a, "rtol", arg, &e->rtol);
            break;
        case OPT_ATOL:
            e->tol_given = "--atol";
            status = parse_tolerance(a, "atol", arg, &e->atol);
            break;
        case OPT_TIME:
            status = parse_count(a, "time", arg, &e->time_runs);
            break;
        case OPT_INPUT_SHAPE:
            ok = strlist_add(&e->input_shapes, arg);
            break;
        case OPT_QUIET:
            e->quiet = true;
            break;
        default:
            break;
        }
        if (!ok)
            status = out_of_memory();
    }
    if (status == EXIT_OK) {
        if (operands.n == 0)
            status = usage_error(a, "missing the MODEL argument");
        else if (operands.n > 1)
            status = usage_error(a, "unexpected argument '%s'", operands.items[1]);
        else if (e->inputs_dir && e->random)
            status = usage_error(a, "give the inputs either with --inputs or with --random, "
                                    "not both");
        else if (!e->inputs_dir && !e->random)
            status = usage_error(a, "missing the inputs: --inputs=DIR or --random");
        else if (e->seed_given && !e->random)
            status = usage_error(a, "option '--seed' needs --random");
        else if (e->tol_given && !e->expect_dir)
            status = usage_error(a, "option '%s' needs --expect", e->tol_given);
        else if (e->output && !*e->output)
            status = usage_error(a, "the output name is empty");
    }
    if (status == EXIT_OK)
        e->model_file = operands.items[0];
    strlist_free(&operands);
    return status;
}

/* Writes outputs[i] to DIR/output_<i>.pb, the folder as a whole or not at all. */
static int write_exec_outputs(struct cli *c, const char *dir, const mof_graph *g,
                              size_t n_out, mof_tensor **outputs)
{
    mof_output *o = mof_output_open_dir(c->ctx, dir);
    if (!o)
        return EXIT_RUN_FAILED;
    for (size_t i = 0; i < n_out; i++) {
        size_t size = strlen(mof_output_path(o)) + 64;
        char *path = malloc(size);
        if (!path) {
            mof_output_abort(o);
            return out_of_memory();
        }
        snprintf(path, size, "%s/output_%zu.pb", mof_output_path(o), i);
        mof_status st = mof_tensor_save(c->ctx, outputs[i],
                                        mof_value_name(mof_graph_output(g, i)), path);
        free(path);
        if (st != MOF_OK) {
            mof_output_abort(o);
            return EXIT_RUN_FAILED;
        }
    }
    return mof_output_commit(o) == MOF_OK ? EXIT_OK : EXIT_RUN_FAILED;
}

/* --expect: compares the outputs with those stored in e->expect_dir. */
static int compare_expected(struct cli *c, const struct exec_args *e, const mof_model *m,
                            size_t n_out, mof_tensor **outputs)
{
    const mof_graph *g = mof_model_graph(m);
    mof_tensor **expected = calloc(n_out ? n_out : 1, sizeof *expected);
    const char **names = calloc(n_out ? n_out : 1, sizeof *names);
    mof_verify_report *rep = mof_verify_report_create(e->rtol, e->atol);
    char *summary = NULL;
    int status = EXIT_OK;
    if (!expected || !names || !rep) {
        status = out_of_memory();
        goto out;
    }
    if (mof_load_outputs(c->ctx, m, e->expect_dir, n_out, expected) != MOF_OK) {
        status = EXIT_BAD_INPUT;
        goto out;
    }
    for (size_t i = 0; i < n_out; i++)
        names[i] = mof_value_name(mof_graph_output(g, i));
    if (mof_verify_report_add(rep, n_out, names, expected, outputs) != MOF_OK ||
        !(summary = mof_verify_report_summary(rep))) {
        status = out_of_memory();
        goto out;
    }
    mof_verify_report_print(rep, stdout);
    if (mof_verify_report_passed(rep)) {
        printf("ok: the outputs match %s: %s\n", e->expect_dir, summary);
    } else {
        printf("FAIL: the outputs do not match %s: %s\n", e->expect_dir, summary);
        status = EXIT_RUN_FAILED;
    }
out:
    if (expected)
        mof_tensors_release(n_out, expected);
    free(expected);
    free(names);
    free(summary);
    mof_verify_report_destroy(rep);
    return status;
}

static int exec_model(struct cli *c, const struct exec_args *e)
{
    int status = EXIT_OK;
    mof_tensor **inputs = NULL, **outputs = NULL;
    mof_interp *it = NULL;
    size_t n_in = 0, n_out = 0;
    mof_model *m = mof_model_load(c->ctx, e->model_file);
    if (!m)
        return EXIT_BAD_INPUT;
    const mof_graph *g = mof_model_graph(m);
    n_in = mof_graph_n_inputs(g);
    n_out = mof_graph_n_outputs(g);
    inputs = calloc(n_in ? n_in : 1, sizeof *inputs);
    outputs = calloc(n_out ? n_out : 1, sizeof *outputs);
    if (!inputs || !outputs) {
        status = out_of_memory();
        goto out;
    }
    status = apply_input_shapes(m, &e->input_shapes);
    if (status != EXIT_OK)
        goto out;
    mof_status st = e->inputs_dir ? mof_load_inputs(c->ctx, m, e->inputs_dir, n_in, inputs)
                                  : mof_random_inputs(c->ctx, m, e->seed, n_in, inputs);
    if (st != MOF_OK) {
        status = inputs_failure_status(st, e->inputs_dir != NULL);
        goto out;
    }
    it = mof_interp_create(c->ctx, m);
    if (!it || mof_interp_run(it, n_in, inputs, n_out, outputs) != MOF_OK) {
        status = EXIT_RUN_FAILED;
        goto out;
    }
    if (e->output) {
        status = write_exec_outputs(c, e->output, g, n_out, outputs);
    } else if (!e->expect_dir) {
        for (size_t i = 0; i < n_out; i++) {
            printf("output %zu: %s ", i, mof_value_name(mof_graph_output(g, i)));
            mof_tensor_print_summary(stdout, outputs[i], 8);
        }
    }
    if (status == EXIT_OK && e->expect_dir)
        status = compare_expected(c, e, m, n_out, outputs);
    if (status == EXIT_OK && e->time_runs) {
        mof_latency lat;
        if (mof_measure_latency(it, n_in, inputs, n_out, 0, e->time_runs, &lat) != MOF_OK) {
            status = EXIT_RUN_FAILED;
            goto out;
        }
        fputs("latency: median ", stdout);
        print_seconds(stdout, lat.median);
        printf(" over %zu run%s (min ", lat.n_runs, lat.n_runs == 1 ? "" : "s");
        print_seconds(stdout, lat.min);
        fputs(", max ", stdout);
        print_seconds(stdout, lat.max);
        fputs("; after 1 warm-up run)\n", stdout);
    }

out:
    mof_interp_destroy(it);
    if (inputs)
        mof_tensors_release(n_in, inputs);
    if (outputs)
        mof_tensors_release(n_out, outputs);
    free(inputs);
    free(outputs);
    mof_model_destroy(m);
    return status;
}

static int cmd_exec(struct args *a)
{
    struct exec_args e;
    memset(&e, 0, sizeof e);
    e.rtol = MOF_VERIFY_DEFAULT_RTOL;
    e.atol = MOF_VERIFY_DEFAULT_ATOL;
    int status = parse_exec_args(a, &e);
    if (status == EXIT_OK && e.output) {
        /* Committing the folder replaces what is there: never the model or the inputs. */
        if (is_inside(e.model_file, e.output))
            status = usage_error(a, "the output folder '%s' holds the model; refusing to "
                                    "replace it", e.output);
        else if (e.inputs_dir && is_inside(e.inputs_dir, e.output))
            status = usage_error(a, "the output folder '%s' holds the inputs; refusing to "
                                    "replace it", e.output);
    }
    if (status == EXIT_OK) {
        struct cli c;
        status = cli_init(&c, e.quiet);
        if (status == EXIT_OK)
            status = exec_model(&c, &e);
        cli_fini(&c);
    }
    strlist_free(&e.input_shapes);
    return status < 0 ? EXIT_OK : status;
}

static const struct option_def verify_options[] = {
    { "inputs", 0, true, OPT_INPUTS },
    { "random", 0, true, OPT_RANDOM },
    { "seed", 0, true, OPT_SEED },
    { "rtol", 0, true, OPT_RTOL },
    { "atol", 0, true, OPT_ATOL },
    { "input-shape", 0, true, OPT_INPUT_SHAPE },
    { "json", 0, false, OPT_JSON },
    { "quiet", 'q', false, OPT_QUIET },
    { "help", 'h', false, OPT_HELP },
    { 0 }
};

struct verify_args {
    const char *ref_file, *model_file;
    bool random_given, json, quiet;
    mof_verify_options opts;
    struct strlist input_shapes;
};

static int parse_verify_args(struct args *a, struct verify_args *v)
{
    struct strlist operands = { 0 };
    int status = EXIT_OK;
    const char *arg;
    int id;
    bool seed_given = false;
    while (status == EXIT_OK && (id = args_next(a, verify_options, &arg)) != OPT_END) {
        bool ok = true;
        switch (id) {
        case OPT_ERROR:
            status = EXIT_USAGE;
            break;
        case OPT_HELP:
            fputs(verify_help, stdout);
            status = -1;
            break;
        case OPT_POSITIONAL:
            ok = strlist_add(&operands, arg);
            break;
        case OPT_INPUTS:
            v->opts.inputs_dir = arg;
            break;
        case OPT_RANDOM:
            v->random_given = true;
            status = parse_count(a, "random", arg, &v->opts.n_random);
            break;
        case OPT_SEED:
            seed_given = true;
            status = parse_seed(a, arg, &v->opts.seed);
            break;
        case OPT_RTOL:
            status = parse_tolerance(a, "rtol", arg, &v->opts.rtol);
            break;
        case OPT_ATOL:
            status = parse_tolerance(a, "atol", arg, &v->opts.atol);
            break;
        case OPT_INPUT_SHAPE:
            ok = strlist_add(&v->input_shapes, arg);
            break;
        case OPT_JSON:
            v->json = true;
            break;
        case OPT_QUIET:
            v->quiet = true;
            break;
        default:
            break;
        }
        if (!ok)
            status = out_of_memory();
    }
    if (status == EXIT_OK) {
        if (operands.n < 2)
            status = usage_error(a, "missing %s", operands.n == 0
                                                      ? "the REFERENCE and MODEL arguments"
                                                      : "the MODEL argument");
        else if (operands.n > 2)
            status = usage_error(a, "unexpected argument '%s'", operands.items[2]);
        else if (v->opts.inputs_dir && (v->random_given || seed_given))
            status = usage_error(a, "give the inputs either with --inputs or with --random "
                                    "and --seed, not both");
    }
    if (status == EXIT_OK) {
        v->ref_file = operands.items[0];
        v->model_file = operands.items[1];
    }
    strlist_free(&operands);
    return status;
}

static int verify_models(struct cli *c, const struct verify_args *v)
{
    int status = EXIT_OK;
    mof_verify_report *rep = NULL;
    mof_tensor **inputs = NULL;
    size_t n_in = 0;
    mof_model *ref = mof_model_load(c->ctx, v->ref_file);
    mof_model *got = mof_model_load(c->ctx, v->model_file);
    if (!ref || !got) {
        status = EXIT_BAD_INPUT;
        goto out;
    }
    int s1 = apply_input_shapes(ref, &v->input_shapes);
    int s2 = apply_input_shapes(got, &v->input_shapes);
    if (s1 != EXIT_OK || s2 != EXIT_OK) {
        status = EXIT_USAGE;
        goto out;
    }
    /* Make the first input set once here, so that a bad folder or a missing pin gets
     * its own exit status; mof_verify_models makes the same inputs again. */
    n_in = mof_graph_n_inputs(mof_model_graph(ref));
    inputs = calloc(n_in ? n_in : 1, sizeof *inputs);
    if (!inputs) {
        status = out_of_memory();
        goto out;
    }
    mof_status st = v->opts.inputs_dir
                        ? mof_load_inputs(c->ctx, ref, v->opts.inputs_dir, n_in, inputs)
                        : mof_random_inputs(c->ctx, ref, v->opts.seed, n_in, inputs);
    mof_tensors_release(n_in, inputs);
    if (st != MOF_OK) {
        status = inputs_failure_status(st, v->opts.inputs_dir != NULL);
        goto out;
    }
    st = mof_verify_models(c->ctx, ref, got, &v->opts, &rep);
    if (!rep) {
        status = EXIT_RUN_FAILED;
        goto out;
    }
    if (v->json) {
        char *json = mof_verify_report_json(rep);
        if (!json) {
            status = out_of_memory();
            goto out;
        }
        printf("%s\n", json);
        free(json);
    } else {
        char *summary = mof_verify_report_summary(rep);
        char how[256];
        if (v->opts.inputs_dir)
            snprintf(how, sizeof how, "the inputs in %s", v->opts.inputs_dir);
        else
            snprintf(how, sizeof how, "%zu random input set%s, seed %" PRIu64,
                     v->opts.n_random, v->opts.n_random == 1 ? "" : "s", v->opts.seed);
        mof_verify_report_print(rep, stdout);
        if (st == MOF_OK)
            printf("ok: %s computes what %s computes (%s): %s\n", v->model_file, v->ref_file,
                   how, summary ? summary : "");
        else
            printf("FAIL: %s does not compute what %s computes (%s): %s\n", v->model_file,
                   v->ref_file, how, summary ? summary : "");
        free(summary);
    }
    status = st == MOF_OK ? EXIT_OK : EXIT_RUN_FAILED;

out:
    free(inputs);
    mof_verify_report_destroy(rep);
    mof_model_destroy(ref);
    mof_model_destroy(got);
    return status;
}

static int cmd_verify(struct args *a)
{
    struct verify_args v;
    memset(&v, 0, sizeof v);
    mof_verify_options_init(&v.opts);
    int status = parse_verify_args(a, &v);
    if (status == EXIT_OK) {
        struct cli c;
        status = cli_init(&c, v.quiet);
        if (status == EXIT_OK)
            status = verify_models(&c, &v);
        cli_fini(&c);
    }
    strlist_free(&v.input_shapes);
    return status < 0 ? EXIT_OK : status;
}

/* ------------------------------------------------------------------ mof info */

static const struct option_def help_only_options[] = {
    { "help", 'h', false, OPT_HELP },
    { 0 }
};

/* Writes a value's type: "float[1,3,N,?]", "float[]" for a scalar, "float[...]" when
 * the rank is unknown, "?" when the value has no tensor type. */
static void print_type(FILE *out, const mof_value *v)
{
    if (!mof_value_has_type(v)) {
        fputs("?", out);
        return;
    }
    fputs(mof_dtype_name(mof_value_dtype(v)), out);
    int rank = mof_value_rank(v);
    if (rank < 0) {
        fputs("[...]", out);
        return;
    }
    fputc('[', out);
    for (int i = 0; i < rank; i++) {
        const char *sym = mof_value_dim_symbol(v, (size_t)i);
        int64_t dim = mof_value_dim(v, (size_t)i);
        if (i > 0)
            fputc(',', out);
        if (sym)
            fputs(sym, out);
        else if (dim >= 0)
            fprintf(out, "%lld", (long long)dim);
        else
            fputc('?', out);
    }
    fputc(']', out);
}

struct op_count {
    const char *domain;   /* borrowed from a node */
    const char *op_type;
    size_t count;
};

struct op_histogram {
    struct op_count *items;
    size_t n, cap;
};

static bool histogram_add(struct op_histogram *h, const mof_node *node)
{
    const char *domain = mof_node_domain(node);
    const char *op_type = mof_node_op_type(node);
    if (strcmp(domain, "ai.onnx") == 0)
        domain = "";
    for (size_t i = 0; i < h->n; i++) {
        if (strcmp(h->items[i].op_type, op_type) == 0 &&
            strcmp(h->items[i].domain, domain) == 0) {
            h->items[i].count++;
            return true;
        }
    }
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 16;
        struct op_count *items = realloc(h->items, cap * sizeof *items);
        if (!items)
            return false;
        h->items = items;
        h->cap = cap;
    }
    h->items[h->n++] = (struct op_count){ domain, op_type, 1 };
    return true;
}

static bool histogram_fill(struct op_histogram *h, const mof_graph *g)
{
    for (mof_node *n = mof_graph_first_node(g); n; n = mof_node_next(n)) {
        if (!histogram_add(h, n))
            return false;
        for (size_t i = 0; i < mof_node_n_subgraphs(n); i++)
            if (!histogram_fill(h, mof_node_subgraph(n, i)))
                return false;
    }
    return true;
}

/* Most frequent first, then by domain and name. */
static int compare_op_counts(const void *pa, const void *pb)
{
    const struct op_count *a = pa, *b = pb;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    int c = strcmp(a->domain, b->domain);
    return c ? c : strcmp(a->op_type, b->op_type);
}

static int op_label_width(const struct op_count *o)
{
    return (int)(strlen(o->op_type) + (o->domain[0] ? strlen(o->domain) + 1 : 0));
}

static void print_size(FILE *out, int64_t bytes)
{
    static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
    if (bytes < 1024) {
        fprintf(out, "%lld bytes", (long long)bytes);
        return;
    }
    double v = (double)bytes;
    size_t u = 0;
    for (v /= 1024; v >= 1024 && u + 1 < sizeof units / sizeof *units; v /= 1024)
        u++;
    fprintf(out, "%.1f %s (%lld bytes)", v, units[u], (long long)bytes);
}

static void print_values(FILE *out, const char *title, const mof_graph *g, size_t n,
                         mof_value *(*get)(const mof_graph *, size_t))
{
    int width = 0;
    for (size_t i = 0; i < n; i++) {
        int w = (int)strlen(mof_value_name(get(g, i)));
        width = w > width ? w : width;
    }
    fprintf(out, "%s:%s\n", title, n ? "" : " none");
    for (size_t i = 0; i < n; i++) {
        const mof_value *v = get(g, i);
        fprintf(out, "  %-*s  ", width, mof_value_name(v));
        print_type(out, v);
        if (mof_value_is_initializer(v))
            fputs("  (initializer)", out);
        fputc('\n', out);
    }
}

static int print_info(FILE *out, const char *path, const mof_model *m)
{
    const mof_graph *g = mof_model_graph(m);
    fprintf(out, "model:         %s\n", path);
    fprintf(out, "ir version:    %lld\n", (long long)mof_model_ir_version(m));
    fputs("opsets:       ", out);
    for (size_t i = 0; i < mof_model_n_opsets(m); i++) {
        const char *domain = mof_model_opset_domain(m, i);
        fprintf(out, "%s %s %lld", i ? "," : "", domain[0] ? domain : "ai.onnx",
                (long long)mof_model_opset_version(m, i));
    }
    fputs(mof_model_n_opsets(m) ? "\n" : " none\n", out);
    const char *producer = mof_model_producer_name(m);
    const char *producer_version = mof_model_producer_version(m);
    fprintf(out, "producer:      %s%s%s\n", producer[0] ? producer : "(none)",
            producer_version[0] ? " " : "", producer_version);
    fprintf(out, "graph:         %s\n", mof_graph_name(g));
    print_values(out, "inputs", g, mof_graph_n_inputs(g), mof_graph_input);
    print_values(out, "outputs", g, mof_graph_n_outputs(g), mof_graph_output);
    if (mof_model_n_metadata(m) > 0) {
        fputs("metadata:\n", out);
        for (size_t i = 0; i < mof_model_n_metadata(m); i++)
            fprintf(out, "  %s = %s\n", mof_model_metadata_key(m, i),
                    mof_model_metadata_value(m, i));
    }

    mof_model_stats stats;
    mof_model_get_stats(m, &stats);
    fprintf(out, "nodes:         %zu (%zu in the main graph)\n", stats.n_nodes,
            mof_graph_n_nodes(g));
    fprintf(out, "initializers:  %zu, %lld parameters, ", stats.n_initializers,
            (long long)stats.n_parameters);
    print_size(out, stats.parameter_bytes);
    fputc('\n', out);

    struct op_histogram h = { 0 };
    if (!histogram_fill(&h, g)) {
        free(h.items);
        return out_of_memory();
    }
    qsort(h.items, h.n, sizeof *h.items, compare_op_counts);
    int width = 0;
    for (size_t i = 0; i < h.n; i++)
        width = op_label_width(&h.items[i]) > width ? op_label_width(&h.items[i]) : width;
    fprintf(out, "operators:%s\n", h.n ? "" : "     none");
    for (size_t i = 0; i < h.n; i++) {
        const struct op_count *o = &h.items[i];
        int w = op_label_width(o);
        fprintf(out, "  %s%s%s%*s  %zu\n", o->domain, o->domain[0] ? ":" : "", o->op_type,
                width - w, "", o->count);
    }
    free(h.items);
    return EXIT_OK;
}

static int cmd_info(struct args *a)
{
    struct strlist models = { 0 };
    const char *arg;
    int id, status = EXIT_OK;
    while (status == EXIT_OK && (id = args_next(a, help_only_options, &arg)) != OPT_END) {
        if (id == OPT_ERROR) {
            status = EXIT_USAGE;
        } else if (id == OPT_HELP) {
            fputs(info_help, stdout);
            status = -1;
        } else if (id == OPT_POSITIONAL && !strlist_add(&models, arg)) {
            status = out_of_memory();
        }
    }
    if (status == EXIT_OK && models.n == 0)
        status = usage_error(a, "missing the MODEL argument");
    if (status == EXIT_OK) {
        struct cli c;
        status = cli_init(&c, false);
        for (size_t i = 0; status != EXIT_RUN_FAILED && c.ctx && i < models.n; i++) {
            if (i > 0)
                putchar('\n');
            mof_model *m = mof_model_load(c.ctx, models.items[i]);
            if (!m) {
                status = EXIT_BAD_INPUT;
                continue;
            }
            int s = print_info(stdout, models.items[i], m);
            if (s != EXIT_OK)
                status = s;
            mof_model_destroy(m);
        }
        cli_fini(&c);
    }
    strlist_free(&models);
    return status < 0 ? EXIT_OK : status;
}

/* ------------------------------------------------------------------ mof print */

static const struct option_def print_options[] = {
    { "max-elements", 0, true, OPT_MAX_ELEMENTS },
    { "help", 'h', false, OPT_HELP },
    { 0 }
};

/* Parses --max-elements: a whole number >= 0, or "all". */
static int parse_max_elements(const struct args *a, const char *text, size_t *out)
{
    if (strcmp(text, "all") == 0) {
        *out = SIZE_MAX;
        return EXIT_OK;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || *end || errno || v > SIZE_MAX)
        return usage_error(a, "option '--max-elements' needs a whole number >= 0 or "
                           "'all', not '%s'", text);
    *out = (size_t)v;
    return EXIT_OK;
}

static int cmd_print(struct args *a)
{
    const char *model_file = NULL;
    mof_text_options topts;
    mof_text_options_init(&topts);
    topts.max_elements = 16;
    const char *arg;
    int id, status = EXIT_OK;
    while (status == EXIT_OK && (id = args_next(a, print_options, &arg)) != OPT_END) {
        if (id == OPT_ERROR) {
            status = EXIT_USAGE;
        } else if (id == OPT_HELP) {
            fputs(print_help, stdout);
            status = -1;
        } else if (id == OPT_MAX_ELEMENTS) {
            status = parse_max_elements(a, arg, &topts.max_elements);
        } else if (id == OPT_POSITIONAL) {
            if (model_file)
                status = usage_error(a, "unexpected argument '%s'", arg);
            model_file = arg;
        }
    }
    if (status == EXIT_OK && !model_file)
        status = usage_error(a, "missing the MODEL argument");
    if (status != EXIT_OK)
        return status < 0 ? EXIT_OK : status;

    struct cli c;
    status = cli_init(&c, false);
    if (status == EXIT_OK) {
        mof_model *m = mof_model_load(c.ctx, model_file);
        if (!m) {
            status = EXIT_BAD_INPUT;
        } else {
            char *text = mof_model_print_text(m, &topts);
            if (!text)
                status = out_of_memory();
            else
                fputs(text, stdout);
            free(text);
            mof_model_destroy(m);
        }
    }
    cli_fini(&c);
    return status;
}

/* ------------------------------------------------------------------ mof validate */

static const struct option_def validate_options[] = {
    { "set", 0, true, OPT_SET },
    { "plugin-dir", 0, true, OPT_PLUGIN_DIR },
    { "quiet", 'q', false, OPT_QUIET },
    { "help", 'h', false, OPT_HELP },
    { 0 }
};

static int validate_one(struct cli *c, const char *path, const struct strlist *sets)
{
    size_t first_diag = mof_context_n_diags(c->ctx);
    mof_pipeline *p = mof_pipeline_load(c->ctx, path);
    if (!p)
        return pipeline_failure_status(c->ctx, first_diag);
    int status = EXIT_OK;
    for (size_t i = 0; i < sets->n; i++)
        if (mof_pipeline_set(p, sets->items[i]) < 0)
            status = EXIT_USAGE;
    size_t n_passes = mof_pipeline_n_passes(p), n_backends = mof_pipeline_n_backends(p);
    if (status == EXIT_OK)
        printf("%s: ok (%zu pass%s, %zu backend%s)\n", path, n_passes,
               n_passes == 1 ? "" : "es", n_backends, n_backends == 1 ? "" : "s");
    mof_pipeline_destroy(p);
    return status;
}

static int cmd_validate(struct args *a)
{
    struct strlist files = { 0 }, sets = { 0 }, plugin_dirs = { 0 };
    bool quiet = false;
    const char *arg;
    int id, status = EXIT_OK;
    while (status == EXIT_OK && (id = args_next(a, validate_options, &arg)) != OPT_END) {
        bool ok = true;
        if (id == OPT_ERROR) {
            status = EXIT_USAGE;
        } else if (id == OPT_HELP) {
            fputs(validate_help, stdout);
            status = -1;
        } else if (id == OPT_POSITIONAL) {
            ok = strlist_add(&files, arg);
        } else if (id == OPT_SET) {
            ok = strlist_add(&sets, arg);
        } else if (id == OPT_PLUGIN_DIR) {
            ok = strlist_add(&plugin_dirs, arg);
        } else if (id == OPT_QUIET) {
            quiet = true;
        }
        if (!ok)
            status = out_of_memory();
    }
    if (status == EXIT_OK && files.n == 0)
        status = usage_error(a, "missing the PIPELINE argument");
    if (status == EXIT_OK) {
        struct cli c;
        status = cli_init(&c, quiet);
        if (status == EXIT_OK)
            status = load_plugins(&c, &plugin_dirs);
        /* Check every file, and exit with the first failure's status. */
        int first_failure = EXIT_OK;
        for (size_t i = 0; status == EXIT_OK && i < files.n; i++) {
            int s = validate_one(&c, files.items[i], &sets);
            if (first_failure == EXIT_OK)
                first_failure = s;
        }
        if (status == EXIT_OK)
            status = first_failure;
        cli_fini(&c);
    }
    strlist_free(&files);
    strlist_free(&sets);
    strlist_free(&plugin_dirs);
    return status < 0 ? EXIT_OK : status;
}

/* ------------------------------------------------------------------ listings */

static const struct option_def list_options[] = {
    { "plugin-dir", 0, true, OPT_PLUGIN_DIR },
    { "quiet", 'q', false, OPT_QUIET },
    { "help", 'h', false, OPT_HELP },
    { 0 }
};

struct list_args {
    struct strlist names, plugin_dirs;
    bool quiet;
};

static int parse_list_args(struct args *a, const char *help, struct list_args *l)
{
    const char *arg;
    int id, status = EXIT_OK;
    while (status == EXIT_OK && (id = args_next(a, list_options, &arg)) != OPT_END) {
        bool ok = true;
        if (id == OPT_ERROR) {
            status = EXIT_USAGE;
        } else if (id == OPT_HELP) {
            fputs(help, stdout);
            status = -1;
        } else if (id == OPT_POSITIONAL) {
            ok = strlist_add(&l->names, arg);
        } else if (id == OPT_PLUGIN_DIR) {
            ok = strlist_add(&l->plugin_dirs, arg);
        } else if (id == OPT_QUIET) {
            l->quiet = true;
        }
        if (!ok)
            status = out_of_memory();
    }
    return status;
}

static void list_args_free(struct list_args *l)
{
    strlist_free(&l->names);
    strlist_free(&l->plugin_dirs);
}

static void print_plugin_search_path(FILE *out, const struct strlist *plugin_dirs)
{
    struct search_path sp;
    if (!search_path_init(&sp, plugin_dirs)) {
        search_path_fini(&sp);
        return;
    }
    fputs("plugin search path:\n", out);
    for (size_t i = 0; i < sp.dirs.n; i++) {
        if (search_path_repeats(&sp, i))
            continue;
        fprintf(out, "  %s\n", sp.dirs.items[i]);
    }
    if (sp.uninstalled)
        fprintf(out, "  (running from the build tree: its plugins replace %s)\n",
                mof_installed_plugin_dir());
    search_path_fini(&sp);
}

static int cmd_plugins(struct args *a)
{
    struct list_args l;
    memset(&l, 0, sizeof l);
    int status = parse_list_args(a, plugins_help, &l);
    if (status == EXIT_OK && l.names.n > 0)
        status = usage_error(a, "unexpected argument '%s'", l.names.items[0]);
    if (status == EXIT_OK) {
        struct cli c;
        status = cli_init(&c, l.quiet);
        if (status == EXIT_OK) {
            /* List what loaded even when some plugin failed; the status says so. */
            status = load_plugins(&c, &l.plugin_dirs);
            print_plugin_search_path(stdout, &l.plugin_dirs);
            size_t n = mof_context_n_plugins(c.ctx);
            printf("\n%zu plugin%s%s\n", n, n == 1 ? "" : "s", n ? ":" : "");
            for (size_t i = 0; i < n; i++) {
                const mof_plugin_info *pi = mof_context_plugin(c.ctx, i);
                printf("  %s %s: %zu pass%s, %zu backend%s%s%s\n", pi->name,
                       pi->version ? pi->version : "", pi->n_passes,
                       pi->n_passes == 1 ? "" : "es", pi->n_backends,
                       pi->n_backends == 1 ? "" : "s", pi->license ? ", license " : "",
                       pi->license ? pi->license : "");
                printf("    %s\n", pi->path ? pi->path : "");
                if (pi->description && *pi->description)
                    printf("    %s\n", pi->description);
            }
        }
        cli_fini(&c);
    }
    list_args_free(&l);
    return status < 0 ? EXIT_OK : status;
}

/* Writes a NULL-terminated list of contract properties, or "-". */
static void print_props(FILE *out, const char *title, const char *const *props)
{
    fprintf(out, "  %-13s", title);
    if (!props || !props[0])
        fputs("-", out);
    for (size_t i = 0; props && props[i]; i++)
        fprintf(out, "%s%s", i ? ", " : "", props[i]);
    fputc('\n', out);
}

/* Writes a help text indented by two spaces. */
static void print_indented(FILE *out, const char *text)
{
    while (*text) {
        size_t n = strcspn(text, "\n");
        fprintf(out, "%s%.*s\n", n ? "  " : "", (int)n, text);
        text += n;
        if (*text == '\n')
            text++;
    }
}

static const char *plugin_label(const mof_context *ctx, size_t plugin_index)
{
    const mof_plugin_info *pi = mof_context_plugin(ctx, plugin_index);
    return pi ? pi->name : "?";
}

static void describe_params(FILE *out, const mof_param_desc *params)
{
    fputs("parameters:\n", out);
    if (!params || !params[0].name)
        fputs("  none\n", out);
    else
        mof_params_describe(out, params, "  ");
}

static void describe_pass(FILE *out, const mof_context *ctx, const mof_pass_desc *pd,
                          size_t plugin_index)
{
    fprintf(out, "%s - %s\n", pd->name, pd->summary ? pd->summary : "");
    fprintf(out, "  plugin:     %s\n", plugin_label(ctx, plugin_index));
    if (pd->flags & MOF_PASS_CHANGES_NUMERICS)
        fprintf(out, "  numerics:   changed (checked with relative tolerance %g)\n",
                pd->tolerance);
    else if (pd->flags & MOF_PASS_EXACT)
        fputs("  numerics:   exact (the model computes the same, bit for bit)\n", out);
    if (pd->help && *pd->help) {
        fputc('\n', out);
        print_indented(out, pd->help);
    }
    fputc('\n', out);
    describe_params(out, pd->params);
    fputs("contracts:\n", out);
    print_props(out, "requires:", pd->requires);
    print_props(out, "provides:", pd->provides);
    print_props(out, "invalidates:", pd->invalidates);
}

static void describe_backend(FILE *out, const mof_context *ctx, const mof_backend_desc *bd,
                             size_t plugin_index)
{
    fprintf(out, "%s - %s\n", bd->name, bd->summary ? bd->summary : "");
    fprintf(out, "  plugin:     %s\n", plugin_label(ctx, plugin_index));
    fprintf(out, "  output:     %s (default name)\n",
            bd->default_output ? bd->default_output : "-");
    if (bd->help && *bd->help) {
        fputc('\n', out);
        print_indented(out, bd->help);
    }
    fputc('\n', out);
    describe_params(out, bd->params);
    fputs("operators:\n", out);
    if (!bd->ops || !bd->ops[0].op_type)
        fputs("  none\n", out);
    for (const mof_op_support *op = bd->ops; op && op->op_type; op++) {
        const char *domain = op->domain ? op->domain : "";
        fputs("  ", out);
        if (strcmp(domain, "*") == 0 && strcmp(op->op_type, "*") == 0)
            fputs("every operator of every domain", out);
        else if (strcmp(op->op_type, "*") == 0)
            fprintf(out, "every operator of %s", domain[0] ? domain : "ai.onnx");
        else
            fprintf(out, "%s%s%s", domain, domain[0] ? ":" : "", op->op_type);
        if (op->since_opset > 0 && op->until_opset > 0)
            fprintf(out, " (opsets %lld to %lld)", (long long)op->since_opset,
                    (long long)op->until_opset);
        else if (op->since_opset > 0)
            fprintf(out, " (opset %lld and later)", (long long)op->since_opset);
        else if (op->until_opset > 0)
            fprintf(out, " (opsets up to %lld)", (long long)op->until_opset);
        if (bd->supports_node)
            fputs(", checked per node", out);
        fputc('\n', out);
    }
}

/* mof passes and mof backends: kind is "pass" or "backend". */
static int list_or_describe(struct args *a, const char *help, bool passes)
{
    struct list_args l;
    memset(&l, 0, sizeof l);
    int status = parse_list_args(a, help, &l);
    if (status != EXIT_OK)
        goto out;
    struct cli c;
    status = cli_init(&c, l.quiet);
    if (status == EXIT_OK)
        status = load_plugins(&c, &l.plugin_dirs);
    if (status != EXIT_OK && status != EXIT_PLUGIN)
        goto fini;

    const mof_context *ctx = c.ctx;
    if (l.names.n == 0) {
        size_t n = passes ? mof_context_n_passes(ctx) : mof_context_n_backends(ctx);
        int width = 0;
        for (size_t i = 0; i < n; i++) {
            const char *name = passes ? mof_context_pass(ctx, i, NULL)->name
                                      : mof_context_backend(ctx, i, NULL)->name;
            width = (int)strlen(name) > width ? (int)strlen(name) : width;
        }
        if (n == 0)
            printf("no %s found (see 'mof plugins')\n", passes ? "passes" : "backends");
        for (size_t i = 0; i < n; i++) {
            size_t pi = 0;
            const char *name, *summary;
            if (passes) {
                const mof_pass_desc *pd = mof_context_pass(ctx, i, &pi);
                name = pd->name;
                summary = pd->summary;
            } else {
                const mof_backend_desc *bd = mof_context_backend(ctx, i, &pi);
                name = bd->name;
                summary = bd->summary;
            }
            printf("%-*s  %s (%s)\n", width, name, summary ? summary : "",
                   plugin_label(ctx, pi));
        }
        goto fini;
    }
    for (size_t i = 0; i < l.names.n; i++) {
        const char *name = l.names.items[i];
        if (i > 0)
            putchar('\n');
        bool found = false;
        size_t n = passes ? mof_context_n_passes(ctx) : mof_context_n_backends(ctx);
        for (size_t j = 0; j < n && !found; j++) {
            size_t pi = 0;
            if (passes) {
                const mof_pass_desc *pd = mof_context_pass(ctx, j, &pi);
                if ((found = strcmp(pd->name, name) == 0))
                    describe_pass(stdout, ctx, pd, pi);
            } else {
                const mof_backend_desc *bd = mof_context_backend(ctx, j, &pi);
                if ((found = strcmp(bd->name, name) == 0))
                    describe_backend(stdout, ctx, bd, pi);
            }
        }
        if (!found) {
            fflush(stdout);
            int s = unknown_name(a, ctx, passes ? "pass" : "backend", name);
            if (status == EXIT_OK)
                status = s;
        }
    }

fini:
    cli_fini(&c);
out:
    list_args_free(&l);
    return status < 0 ? EXIT_OK : status;
}

static int cmd_passes(struct args *a)
{
    return list_or_describe(a, passes_help, true);
}

static int cmd_backends(struct args *a)
{
    return list_or_describe(a, backends_help, false);
}

/* ------------------------------------------------------------------ commands */

static int cmd_help(struct args *a);

struct command {
    const char *name;
    const char *synopsis;
    const char *summary;
    const char *help;
    int (*fn)(struct args *a);
};

static const struct command commands[] = {
    { "run", "PIPELINE MODEL -o OUT", "optimize a model with a pipeline", run_help, cmd_run },
    { "preflight", "PIPELINE MODEL", "check that the pipeline's backends support each node",
      preflight_help, cmd_preflight },
    { "exec", "MODEL", "run a model with the reference interpreter", exec_help, cmd_exec },
    { "verify", "REFERENCE MODEL", "compare two models on the same inputs", verify_help,
      cmd_verify },
    { "info", "MODEL...", "describe a model", info_help, cmd_info },
    { "print", "MODEL", "print a model in the ONNX text syntax", print_help, cmd_print },
    { "validate", "PIPELINE...", "check pipeline files without running them", validate_help,
      cmd_validate },
    { "plugins", "", "list the plugins found and where they were searched", plugins_help,
      cmd_plugins },
    { "passes", "[NAME]...", "list the passes, or describe some", passes_help, cmd_passes },
    { "backends", "[NAME]...", "list the backends, or describe some", backends_help,
      cmd_backends },
    { "help", "[COMMAND]", "show the help of mof or of a command", help_help, cmd_help },
    { 0 }
};

static const struct command *find_command(const char *name)
{
    for (const struct command *c = commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

static void print_main_help(FILE *out)
{
    fputs("Usage: mof COMMAND [OPTION]... [ARGUMENT]...\n"
          "       mof --help | --version\n"
          "\n"
          "mof optimizes ONNX models: it runs the passes of a pipeline file over a model,\n"
          "then the pipeline's backends, which write the result (an ONNX file, or source\n"
          "code for a target).\n"
          "\n"
          "Commands:\n",
          out);
    for (const struct command *c = commands; c->name; c++) {
        char left[64];
        snprintf(left, sizeof left, "%s %s", c->name, c->synopsis);
        fprintf(out, "  %-28s %s\n", left, c->summary);
    }
    fprintf(out,
            "\n"
            "Options:\n"
            "  -h, --help                   show this help\n"
            "  -V, --version                show the version of mof and of its plugin ABI\n"
            "\n"
            "Run 'mof help COMMAND' or 'mof COMMAND --help' for the options of a command.\n"
            "\n"
            "Plugins are searched, the first of a name winning, in: the pipeline's <plugin>\n"
            "paths, the --plugin-dir folders, the folders of MOF_PLUGIN_PATH (separated by\n"
            "colons), then %s.\n"
            "\n"
            "%s"
            "\n"
            "See mof(1) for more.\n",
            mof_installed_plugin_dir(), exit_status_help);
}

static int cmd_help(struct args *a)
{
    const char *arg;
    const char *topic = NULL;
    int id;
    while ((id = args_next(a, help_only_options, &arg)) != OPT_END) {
        if (id == OPT_ERROR)
            return EXIT_USAGE;
        if (id == OPT_HELP) {
            fputs(help_help, stdout);
            return EXIT_OK;
        }
        if (topic)
            return usage_error(a, "unexpected argument '%s'", arg);
        topic = arg;
    }
    if (!topic) {
        print_main_help(stdout);
        return EXIT_OK;
    }
    const struct command *c = find_command(topic);
    if (!c) {
        const char *names[16];
        size_t n = 0;
        for (const struct command *it = commands; it->name; it++)
            names[n++] = it->name;
        const char *near = mof_nearest_name(topic, n, names);
        if (near)
            return usage_error(a, "unknown command '%s' (did you mean '%s'?)", topic, near);
        return usage_error(a, "unknown command '%s'", topic);
    }
    fputs(c->help, stdout);
    return EXIT_OK;
}

static const struct option_def main_options[] = {
    { "help", 'h', false, OPT_HELP },
    { "version", 'V', false, OPT_VERSION },
    { 0 }
};

/* Flushes stdout and reports a failed write (a full disk, a closed pipe). */
static int finish_output(int status)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "mof: cannot write the output: %s\n", strerror(errno));
        return status == EXIT_OK ? EXIT_RUN_FAILED : status;
    }
    return status;
}

int main(int argc, char **argv)
{
    struct args a = { .cmd = "mof", .topic = NULL, .argc = argc, .argv = argv, .next = 1 };
    const char *arg;
    int id = args_next(&a, main_options, &arg);
    switch (id) {
    case OPT_ERROR:
        return EXIT_USAGE;
    case OPT_END:
        fputs("mof: missing a command\n", stderr);
        try_help(NULL);
        return EXIT_USAGE;
    case OPT_HELP:
        print_main_help(stdout);
        return finish_output(EXIT_OK);
    case OPT_VERSION:
        printf("mof %s (plugin ABI %d)\n", MOF_VERSION_STRING, MOF_ABI_VERSION);
        return finish_output(EXIT_OK);
    default:
        break;
    }

    const struct command *c = find_command(arg);
    if (!c) {
        const char *names[16];
        size_t n = 0;
        for (const struct command *it = commands; it->name; it++)
            names[n++] = it->name;
        const char *near = mof_nearest_name(arg, n, names);
        if (near)
            fprintf(stderr, "mof: unknown command '%s' (did you mean '%s'?)\n", arg, near);
        else
            fprintf(stderr, "mof: unknown command '%s'\n", arg);
        try_help(NULL);
        return EXIT_USAGE;
    }
    char cmd[64];
    snprintf(cmd, sizeof cmd, "mof %s", c->name);
    struct args sub = { .cmd = cmd, .topic = c->name, .argc = argc, .argv = argv,
                        .next = a.next };
    return finish_output(c->fn(&sub));
}
