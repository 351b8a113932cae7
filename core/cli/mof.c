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
#include <limits.h>
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
    "  -q, --quiet               print no report and no notes, only problems\n"
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
    { "quiet", 'q', false, OPT_QUIET },
    { "help", 'h', false, OPT_HELP },
    { 0 }
};

struct run_args {
    const char *pipeline_file;
    const char *pass_list;
    const char *model_file;
    const char *output;
    const char *print_after;
    struct strlist sets, input_shapes, plugin_dirs;
    bool time_passes, verify_each, keep_going, no_metadata, quiet;
};

static int parse_run_args(struct args *a, struct run_args *r)
{
    struct strlist operands = { 0 };
    int status = EXIT_OK;
    const char *arg;
    int id;
    while (status == EXIT_OK && (id = args_next(a, run_options, &arg)) != OPT_END) {
        bool ok = true;
        switch (id) {
        case OPT_ERROR:
            status = EXIT_USAGE;
            break;
        case OPT_HELP:
            fputs(run_help, stdout);
            status = -1;
            break;
        case OPT_POSITIONAL:
            ok = strlist_add(&operands, arg);
            break;
        case OPT_OUTPUT:
            r->output = arg;
            break;
        case OPT_PASSES:
            r->pass_list = arg;
            break;
        case OPT_SET:
            ok = strlist_add(&r->sets, arg);
            break;
        case OPT_INPUT_SHAPE:
            ok = strlist_add(&r->input_shapes, arg);
            break;
        case OPT_PLUGIN_DIR:
            ok = strlist_add(&r->plugin_dirs, arg);
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
        case OPT_QUIET:
            r->quiet = true;
            break;
        default:
            break;
        }
        if (!ok)
            status = out_of_memory();
    }
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

static int run_pipeline(struct cli *c, const struct args *a, const struct run_args *r)
{
    int status = load_plugins(c, &r->plugin_dirs);
    if (status != EXIT_OK)
        return status;

    mof_pipeline *p = NULL;
    mof_model *model = NULL;
    mof_run_report *report = NULL;
    size_t first_diag = mof_context_n_diags(c->ctx);
    p = r->pass_list ? mof_pipeline_parse_list(c->ctx, r->pass_list)
                     : mof_pipeline_load(c->ctx, r->pipeline_file);
    if (!p) {
        /* A bad --passes list is a bad command line; a bad file is bad input. */
        status = r->pass_list ? EXIT_USAGE : pipeline_failure_status(c->ctx, first_diag);
        goto out;
    }
    for (size_t i = 0; i < r->sets.n; i++)
        if (mof_pipeline_set(p, r->sets.items[i]) < 0)
            status = EXIT_USAGE;
    for (size_t i = 0; i < r->input_shapes.n; i++)
        if (mof_pipeline_set_input_shape(p, r->input_shapes.items[i]) < 0)
            status = EXIT_USAGE;
    if (status == EXIT_OK && r->print_after)
        status = check_print_after(a, c->ctx, r->print_after);
    if (status != EXIT_OK)
        goto out;

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
    size_t errors_before = mof_context_n_errors(c->ctx);
    mof_status st = mof_pipeline_run(p, model, &opts, &report);
    /* With time_passes the pass manager prints the report (with times) to opts.log. */
    if (report && !r->quiet && !r->time_passes)
        mof_run_report_print(report, stderr, false);
    if (st < 0 || mof_context_n_errors(c->ctx) > errors_before)
        status = EXIT_RUN_FAILED;

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
    int status = parse_run_args(a, &r);
    if (status == EXIT_OK && same_file(r.output, r.model_file)) {
        fprintf(stderr, "mof run: the output '%s' is the input model; refusing to "
                        "overwrite it\n", r.output);
        status = EXIT_USAGE;
    }
    if (status == EXIT_OK) {
        struct cli c;
        status = cli_init(&c, r.quiet);
        if (status == EXIT_OK)
            status = run_pipeline(&c, a, &r);
        cli_fini(&c);
    }
    strlist_free(&r.sets);
    strlist_free(&r.input_shapes);
    strlist_free(&r.plugin_dirs);
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
    { "info", "MODEL...", "describe a model", info_help, cmd_info },
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
