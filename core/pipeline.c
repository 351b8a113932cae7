/* pipeline.c: reading pipeline files (XML) and one-line pass lists into the
 * description the pass manager runs (pipeline_private.h).
 *
 * Loading checks everything before anything runs, and reports every error it finds in
 * one go, each at FILE:LINE:
 *   1. XML syntax (libxml2, through a structured error handler so that libxml2 never
 *      prints; no entity substitution, no DTD loading, no network; a DOCTYPE is
 *      refused outright, which rules out entity tricks of every kind);
 *   2. structure: mof's own walk of the elements, which gives precise messages with
 *      suggestions, then the RELAX NG schema (pipeline.rng, compiled in) as the
 *      authority on anything the walk let through;
 *   3. meaning: <plugin> paths are loaded first, then pass and backend names,
 *      parameters (params.c) and contracts (requires/provides/invalidates).
 * The one-line form ("a,b(x=1)") builds the same steps and shares step 3. */
#define _POSIX_C_SOURCE 200809L
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/relaxng.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include <mof/host.h>
#include <mof/ir.h>
#include <mof/pipeline.h>

#include "host_private.h"
#include "ir_private.h"
#include "params.h"
#include "pipeline_private.h"
#include "sha256.h"

/* The schema text, generated from pipeline.rng by the build (core/local.mk). */
MOF_INTERNAL extern const char mof_pipeline_rng[];

/* File name of messages about a one-line list. */
#define LIST_FILE "<passes>"

typedef struct loader {
    mof_context *ctx;
    mof_pipeline *p;
    const char *base_dir;   /* for relative <plugin> paths; NULL: the working folder */
    bool is_list;           /* locations are columns of the one-line form */
    bool failed;            /* an error was reported */
    bool nomem;
    bool syntax_error;      /* the first XML syntax error was reported */
    bool plugin_failed;     /* a <plugin> did not load: unknown names may come from it */
} loader;

/* ------------------------------------------------------------------ helpers */

static void lreport(loader *ld, mof_severity sev, mof_status st, unsigned line,
                    unsigned column, const char *fmt, ...) MOF_PRINTF(6, 7);

static void lreport(loader *ld, mof_severity sev, mof_status st, unsigned line,
                    unsigned column, const char *fmt, ...)
{
    mof_location loc = { ld->p->file, line, column };
    va_list ap;
    va_start(ap, fmt);
    mof_vreport(ld->ctx, sev, st, &loc, fmt, ap);
    va_end(ap);
    if (sev == MOF_SEVERITY_ERROR)
        ld->failed = true;
    if (st == MOF_ERR_NOMEM)
        ld->nomem = true;
}

#define LERROR(ld, line, col, ...)                                                        \
    lreport((ld), MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, (line), (col), __VA_ARGS__)

static void oom(loader *ld)
{
    if (!ld->nomem)
        lreport(ld, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, 0, 0, "out of memory");
    ld->nomem = true;
}

/* Where a step is, in the words of a message: "line 7" or "column 12". */
static void where(const loader *ld, unsigned line, unsigned column, char *buf, size_t size)
{
    if (ld->is_list)
        snprintf(buf, size, "column %u", column);
    else
        snprintf(buf, size, "line %u", line);
}

static unsigned node_line(const xmlNode *n)
{
    long l = xmlGetLineNo(n);
    return l > 0 && l <= (long)UINT_MAX ? (unsigned)l : 0;
}

static void step_clear(mof_step *s)
{
    free(s->name);
    free(s->output);
    for (size_t i = 0; i < s->n_params; i++) {
        free(s->params[i].name);
        free(s->params[i].value);
    }
    free(s->params);
    for (size_t i = 0; i < s->n_body; i++)
        step_clear(&s->body[i]);
    free(s->body);
    memset(s, 0, sizeof(*s));
}

/* Appends a zeroed step to an array; NULL when out of memory. */
static mof_step *add_step(mof_step **steps, size_t *n, size_t *cap)
{
    if (!mof_grow((void **)steps, cap, *n + 1, sizeof(**steps)))
        return NULL;
    mof_step *s = &(*steps)[(*n)++];
    memset(s, 0, sizeof(*s));
    return s;
}

static bool add_param(mof_step *s, const char *name, size_t name_len, const char *value,
                      size_t value_len, unsigned line, unsigned column)
{
    if (!MOF_GROW(s->params, s->cap_params, s->n_params + 1))
        return false;
    mof_step_param *sp = &s->params[s->n_params];
    sp->name = mof_strndup(name, name_len);
    sp->value = mof_strndup(value, value_len);
    sp->line = line;
    sp->column = column;
    if (!sp->name || !sp->value) {
        free(sp->name);
        free(sp->value);
        return false;
    }
    s->n_params++;
    return true;
}

static mof_pipeline *pipeline_new(mof_context *ctx, const char *file, const void *bytes,
                                  size_t size)
{
    mof_pipeline *p = mof_calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->ctx = ctx;
    p->record_metadata = true;
    p->file = mof_strdup(file);
    if (!p->file) {
        free(p);
        return NULL;
    }
    mof_sha256_hex(bytes, size, p->hash);
    return p;
}

void mof_pipeline_destroy(mof_pipeline *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_steps; i++)
        step_clear(&p->steps[i]);
    free(p->steps);
    for (size_t i = 0; i < p->n_backends; i++)
        step_clear(&p->backends[i]);
    free(p->backends);
    for (size_t i = 0; i < p->n_inputs; i++) {
        free(p->inputs[i].name);
        free(p->inputs[i].dims);
    }
    free(p->inputs);
    free(p->name);
    free(p->file);
    free(p);
}

/* ------------------------------------------------------------------ accessors */

const char *mof_pipeline_name(const mof_pipeline *p)
{
    return p ? p->name : NULL;
}

const char *mof_pipeline_hash(const mof_pipeline *p)
{
    return p ? p->hash : NULL;
}

size_t mof_pipeline_n_backends(const mof_pipeline *p)
{
    return p ? p->n_backends : 0;
}

static size_t count_passes(const mof_step *steps, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += steps[i].kind == MOF_STEP_REPEAT ? count_passes(steps[i].body, steps[i].n_body)
                                                  : 1;
    return count;
}

size_t mof_pipeline_n_passes(const mof_pipeline *p)
{
    return p ? count_passes(p->steps, p->n_steps) : 0;
}

const char *mof_pipeline_file(const mof_pipeline *p)
{
    return p->file;
}

size_t mof_pipeline_n_input_shapes(const mof_pipeline *p)
{
    return p->n_inputs;
}

const mof_input_pin *mof_pipeline_input_shape(const mof_pipeline *p, size_t i)
{
    return i < p->n_inputs ? &p->inputs[i] : NULL;
}

mof_param_owner mof_step_owner(const mof_pipeline *p, const mof_step *s)
{
    mof_param_owner o = {
        .kind = s->kind == MOF_STEP_BACKEND ? "backend" : "pass",
        .name = s->name,
        .loc = { p->file, s->line, s->column },
    };
    return o;
}

mof_param_arg *mof_step_param_args(const mof_pipeline *p, const mof_step *s)
{
    if (s->n_params == 0)
        return NULL;
    mof_param_arg *args = mof_calloc(s->n_params, sizeof(*args));
    if (!args)
        return NULL;
    for (size_t i = 0; i < s->n_params; i++) {
        args[i].name = s->params[i].name;
        args[i].value = s->params[i].value;
        /* A value from --set has no place in the file. */
        args[i].loc.file = s->params[i].line || s->params[i].column ? p->file : "--set";
        args[i].loc.line = s->params[i].line;
        args[i].loc.column = s->params[i].column;
    }
    return args;
}

/* ------------------------------------------------------------------ input shapes */

/* Parses "1,3,224,224" (spaces around dims allowed; "" is a scalar). Returns false
 * with *bad pointing at the offending dim text (its length in *bad_len). */
static bool parse_shape(const char *text, size_t *rank, int64_t **dims, const char **bad,
                        size_t *bad_len, bool *nomem)
{
    *rank = 0;
    *dims = NULL;
    *nomem = false;
    const char *p = text;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0')
        return true;
    size_t cap = 0;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *start = p;
        int64_t v = 0;
        bool ok = *p >= '0' && *p <= '9';
        while (*p >= '0' && *p <= '9') {
            int d = *p - '0';
            if (v > (INT64_MAX - d) / 10)
                ok = false;
            else
                v = v * 10 + d;
            p++;
        }
        const char *end = p;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!ok || (*p != ',' && *p != '\0')) {
            const char *stop = strchr(start, ',');
            *bad = start;
            *bad_len = stop ? (size_t)(stop - start) : strlen(start);
            free(*dims);
            *dims = NULL;
            *rank = 0;
            return false;
        }
        (void)end;
        if (!MOF_GROW(*dims, cap, *rank + 1)) {
            free(*dims);
            *dims = NULL;
            *rank = 0;
            *nomem = true;
            return false;
        }
        (*dims)[(*rank)++] = v;
        if (*p == '\0')
            return true;
        p++;
    }
}

/* Adds or replaces the pin of that name. Reports problems at line (0: from the API). */
static bool set_input_pin(loader *ld, const char *name, const char *shape, unsigned line,
                          bool replace)
{
    mof_pipeline *p = ld->p;
    size_t rank;
    int64_t *dims;
    const char *bad = NULL;
    size_t bad_len = 0;
    bool nomem;
    if (!parse_shape(shape, &rank, &dims, &bad, &bad_len, &nomem)) {
        if (nomem)
            oom(ld);
        else
            LERROR(ld, line, 0,
                   "input '%s': shape '%s' is not a list of dims such as '1,3,224,224' "
                   "('%.*s' is not a non-negative integer)",
                   name, shape, (int)bad_len, bad);
        return false;
    }
    for (size_t i = 0; i < p->n_inputs; i++) {
        if (strcmp(p->inputs[i].name, name) != 0)
            continue;
        if (!replace) {
            LERROR(ld, line, 0, "input '%s' is pinned twice (first at line %u)", name,
                   p->inputs[i].line);
            free(dims);
            return false;
        }
        free(p->inputs[i].dims);
        p->inputs[i].dims = dims;
        p->inputs[i].rank = rank;
        p->inputs[i].line = line;
        return true;
    }
    if (!MOF_GROW(p->inputs, p->cap_inputs, p->n_inputs + 1)) {
        free(dims);
        oom(ld);
        return false;
    }
    mof_input_pin *pin = &p->inputs[p->n_inputs];
    pin->name = mof_strdup(name);
    if (!pin->name) {
        free(dims);
        oom(ld);
        return false;
    }
    pin->rank = rank;
    pin->dims = dims;
    pin->line = line;
    p->n_inputs++;
    return true;
}

mof_status mof_pipeline_apply_input_shapes(const mof_pipeline *p, mof_model *model)
{
    mof_graph *g = mof_model_graph(model);
    mof_status st = MOF_OK;
    for (size_t i = 0; i < p->n_inputs; i++) {
        const mof_input_pin *pin = &p->inputs[i];
        mof_location loc = { pin->line ? p->file : "--input-shape", pin->line, 0 };
        mof_value *v = NULL;
        for (size_t j = 0; j < mof_graph_n_inputs(g) && !v; j++)
            if (strcmp(mof_value_name(mof_graph_input(g, j)), pin->name) == 0)
                v = mof_graph_input(g, j);
        if (!v) {
            mof_strbuf sb;
            mof_strbuf_init(&sb);
            for (size_t j = 0; j < mof_graph_n_inputs(g); j++)
                mof_strbuf_printf(&sb, "%s'%s'", j ? ", " : "",
                                  mof_value_name(mof_graph_input(g, j)));
            char *names = mof_strbuf_take(&sb);
            mof_report(p->ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, &loc,
                       "input '%s' is pinned, but the model has no graph input of that "
                       "name (its inputs: %s)",
                       pin->name, names && names[0] ? names : "none");
            free(names);
            st = MOF_ERR_INVALID_ARG;
            continue;
        }
        int rank = mof_value_rank(v);
        if (rank >= 0 && (size_t)rank != pin->rank) {
            mof_report(p->ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, &loc,
                       "input '%s' is pinned to rank %zu, but the model gives it rank %d",
                       pin->name, pin->rank, rank);
            st = MOF_ERR_INVALID_ARG;
            continue;
        }
        bool ok = true;
        for (size_t d = 0; rank >= 0 && d < pin->rank; d++) {
            int64_t have = mof_value_dim(v, d);
            if (have != MOF_DIM_UNKNOWN && have != pin->dims[d]) {
                mof_report(p->ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, &loc,
                           "input '%s' is pinned with dim %zu = %" PRId64 ", but the "
                           "model fixes it to %" PRId64,
                           pin->name, d, pin->dims[d], have);
                ok = false;
            }
        }
        if (!ok) {
            st = MOF_ERR_INVALID_ARG;
            continue;
        }
        mof_dtype dt = mof_value_has_type(v) ? mof_value_dtype(v) : MOF_DTYPE_UNDEFINED;
        mof_status sst = mof_value_set_type(v, dt, (int)pin->rank, pin->dims, NULL);
        if (sst != MOF_OK)
            st = sst;
    }
    return st;
}

/* ------------------------------------------------------------------ libxml2 errors */

/* libxml2 reports through thread-local handlers; these are set around each call
 * into it and restored after, so that the caller's own handlers are left alone. */
typedef struct xml_scope {
    xmlStructuredErrorFunc serror;
    void *serror_ctx;
    xmlGenericErrorFunc gerror;
    void *gerror_ctx;
} xml_scope;

static void trim_message(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

static void on_xml_error(void *user, xmlErrorPtr e)
{
    loader *ld = user;
    if (!e || e->level == XML_ERR_NONE)
        return;
    char *msg = mof_strdup(e->message ? e->message : "unknown XML error");
    if (!msg) {
        oom(ld);
        return;
    }
    trim_message(msg);
    unsigned line = e->line > 0 ? (unsigned)e->line : 0;
    unsigned column = 0;
    if (e->domain == XML_FROM_RELAXNGV) {
        if (e->node)
            line = node_line(e->node);
        lreport(ld, MOF_SEVERITY_ERROR, MOF_ERR_PARSE, line, 0,
                "does not match the pipeline schema: %s", msg);
    } else {
        if (e->int2 > 0)
            column = (unsigned)e->int2;
        if (e->level == XML_ERR_WARNING) {
            lreport(ld, MOF_SEVERITY_WARNING, MOF_OK, line, column, "%s", msg);
        } else if (!ld->syntax_error) {
            /* Only the first: after it, libxml2's recovery mostly reports echoes of it
             * ("Premature end of data" after a tag mismatch). */
            lreport(ld, MOF_SEVERITY_ERROR, MOF_ERR_PARSE, line, column, "%s", msg);
            ld->syntax_error = true;
        }
    }
    free(msg);
}

/* Errors of the built-in schema itself: a bug in mof, never the user's. */
static void on_schema_error(void *user, xmlErrorPtr e)
{
    loader *ld = user;
    if (!e || e->level == XML_ERR_NONE || e->level == XML_ERR_WARNING)
        return;
    char *msg = mof_strdup(e->message ? e->message : "?");
    if (msg)
        trim_message(msg);
    mof_report(ld->ctx, MOF_SEVERITY_ERROR, MOF_ERR_INTERNAL, NULL,
               "internal error: the built-in pipeline schema is invalid: %s",
               msg ? msg : "?");
    ld->failed = true;
    free(msg);
}

/* Everything libxml2 reports also goes through the structured handler; what comes
 * here is dropped so that it never reaches stderr. */
static void on_generic_error(void *user, const char *fmt, ...)
{
    (void)user;
    (void)fmt;
}

static void xml_scope_enter(xml_scope *s, loader *ld)
{
    s->serror = xmlStructuredError;
    s->serror_ctx = xmlStructuredErrorContext;
    s->gerror = xmlGenericError;
    s->gerror_ctx = xmlGenericErrorContext;
    xmlSetStructuredErrorFunc(ld, on_xml_error);
    xmlSetGenericErrorFunc(ld, on_generic_error);
}

static void xml_scope_leave(const xml_scope *s)
{
    xmlSetStructuredErrorFunc(s->serror_ctx, s->serror);
    xmlSetGenericErrorFunc(s->gerror_ctx, s->gerror);
}

/* ------------------------------------------------------------------ XML structure */

static bool is_el(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && !n->ns && xmlStrcmp(n->name, BAD_CAST name) == 0;
}

static char *get_attr(const xmlNode *n, const char *name)
{
    xmlChar *v = xmlGetNoNsProp(n, BAD_CAST name);
    if (!v)
        return NULL;
    char *r = mof_strdup((const char *)v);
    xmlFree(v);
    return r;
}

static bool is_blank_char(xmlChar c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_blank(const xmlChar *s)
{
    for (; s && *s; s++)
        if (!is_blank_char(*s))
            return false;
    return true;
}

/* The line of a text node's first non-blank character. libxml2 gives a text node the
 * line where the parser was when it emitted the text, its end, so count back. */
static unsigned text_line(const xmlNode *text, unsigned floor)
{
    unsigned end = node_line(text);
    unsigned total = 0, leading = 0;
    bool seen = false;
    for (const xmlChar *t = text->content; t && *t; t++) {
        if (!seen && !is_blank_char(*t))
            seen = true;
        if (*t == '\n') {
            total++;
            leading += !seen;
        }
    }
    unsigned line = end >= total ? end - total + leading : 0;
    return line > floor ? line : floor;
}

/* What an element of the pipeline language may hold. */
typedef struct elem_spec {
    const char *name;
    const char *const *required;   /* attributes */
    const char *const *optional;
    bool params;                   /* any other attribute without namespace */
    const char *const *children;   /* NULL: must be empty */
    bool need_child;
} elem_spec;

static const char *const no_names[] = { NULL };
static const char *const pipeline_opt[] = { "name", "record-metadata", NULL };
static const char *const pipeline_children[] = { "plugin", "input", "pass", "repeat",
                                                  "backend", NULL };
static const char *const plugin_req[] = { "path", NULL };
static const char *const input_req[] = { "name", "shape", NULL };
static const char *const name_req[] = { "name", NULL };
static const char *const repeat_opt[] = { "max", NULL };
static const char *const repeat_children[] = { "pass", "repeat", NULL };
static const char *const backend_opt[] = { "output", NULL };

static const elem_spec specs[] = {
    { "pipeline", no_names, pipeline_opt, false, pipeline_children, false },
    { "plugin", plugin_req, no_names, false, NULL, false },
    { "input", input_req, no_names, false, NULL, false },
    { "pass", name_req, no_names, true, NULL, false },
    { "repeat", no_names, repeat_opt, false, repeat_children, true },
    { "backend", name_req, backend_opt, true, NULL, false },
};

static const elem_spec *find_spec(const char *name)
{
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++)
        if (strcmp(specs[i].name, name) == 0)
            return &specs[i];
    return NULL;
}

static bool in_list(const char *const *list, const char *s)
{
    for (size_t i = 0; list && list[i]; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

static size_t list_len(const char *const *list)
{
    size_t n = 0;
    while (list && list[n])
        n++;
    return n;
}

/* "'a', 'b' or 'c'" (or "<a>, <b> or <c>" with open "<" and close ">") */
static char *join_or(const char *const *list, const char *open, const char *close)
{
    mof_strbuf sb;
    mof_strbuf_init(&sb);
    size_t n = list_len(list);
    for (size_t i = 0; i < n; i++)
        mof_strbuf_printf(&sb, "%s%s%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ", open,
                          list[i], close);
    return mof_strbuf_take(&sb);
}

/* A positive integer that fits unsigned; false otherwise. */
static bool parse_positive(const char *s, unsigned *out)
{
    unsigned long long v = 0;
    if (!s[0])
        return false;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (unsigned)(*p - '0');
        if (v > UINT_MAX)
            return false;
    }
    if (v == 0)
        return false;
    *out = (unsigned)v;
    return true;
}

static void check_attrs(loader *ld, const xmlNode *el, const elem_spec *spec)
{
    unsigned line = node_line(el);
    for (const xmlAttr *a = el->properties; a; a = a->next) {
        const char *an = (const char *)a->name;
        if (a->ns) {
            LERROR(ld, line, 0,
                   "<%s> has the attribute '%s:%s'; attributes of pipeline elements have "
                   "no namespace",
                   spec->name, a->ns->prefix ? (const char *)a->ns->prefix : "", an);
            continue;
        }
        if (in_list(spec->required, an) || in_list(spec->optional, an) || spec->params)
            continue;
        const char *names[8];
        size_t n = 0;
        for (size_t i = 0; spec->required[i] && n < 8; i++)
            names[n++] = spec->required[i];
        for (size_t i = 0; spec->optional[i] && n < 8; i++)
            names[n++] = spec->optional[i];
        const char *near = n ? mof_nearest_name(an, n, names) : NULL;
        if (near) {
            LERROR(ld, line, 0, "<%s> has no attribute '%s'; did you mean '%s'?", spec->name,
                   an, near);
        } else {
            names[n] = NULL;
            char *list = join_or(names, "'", "'");
            if (n)
                LERROR(ld, line, 0, "<%s> has no attribute '%s' (it takes %s)", spec->name,
                       an, list ? list : "...");
            else
                LERROR(ld, line, 0, "<%s> has no attribute '%s'", spec->name, an);
            free(list);
        }
    }
    for (size_t i = 0; spec->required[i]; i++) {
        xmlChar *v = xmlGetNoNsProp(el, BAD_CAST spec->required[i]);
        if (!v)
            LERROR(ld, line, 0, "<%s> needs a '%s' attribute", spec->name, spec->required[i]);
        else if (!v[0] && strcmp(spec->required[i], "shape") != 0)
            LERROR(ld, line, 0, "<%s> has an empty '%s' attribute", spec->name,
                   spec->required[i]);
        xmlFree(v);
    }
    if (strcmp(spec->name, "pipeline") == 0) {
        char *rm = get_attr(el, "record-metadata");
        if (rm && strcmp(rm, "true") != 0 && strcmp(rm, "false") != 0)
            LERROR(ld, line, 0, "<pipeline> record-metadata is '%s'; use true or false", rm);
        free(rm);
    } else if (strcmp(spec->name, "repeat") == 0) {
        char *max = get_attr(el, "max");
        unsigned v;
        if (max && !parse_positive(max, &v))
            LERROR(ld, line, 0, "<repeat> max is '%s'; it must be a positive integer below "
                   "%u", max, UINT_MAX);
        free(max);
    } else if (strcmp(spec->name, "backend") == 0) {
        char *out = get_attr(el, "output");
        if (out && !out[0])
            LERROR(ld, line, 0, "<backend> has an empty 'output' attribute");
        free(out);
    }
}

/* Walks the document with mof's own rules; reports every problem. */
static void check_element(loader *ld, const xmlNode *el, const elem_spec *spec)
{
    check_attrs(ld, el, spec);
    size_t n_children = 0;
    for (const xmlNode *c = el->children; c; c = c->next) {
        unsigned line = node_line(c) ? node_line(c) : node_line(el);
        switch (c->type) {
        case XML_ELEMENT_NODE: {
            const char *cn = (const char *)c->name;
            n_children++;   /* a wrong child is reported as such, not as a missing one */
            if (c->ns) {
                LERROR(ld, line, 0, "element <%s:%s> has a namespace; pipeline elements "
                       "have none", c->ns->prefix ? (const char *)c->ns->prefix : "", cn);
                break;
            }
            if (!spec->children) {
                LERROR(ld, line, 0, "<%s> may not contain elements (found <%s>)",
                       spec->name, cn);
                break;
            }
            if (!in_list(spec->children, cn)) {
                const char *near = mof_nearest_name(cn, list_len(spec->children),
                                                    spec->children);
                char *list = join_or(spec->children, "<", ">");
                if (near)
                    LERROR(ld, line, 0, "unknown element <%s> in <%s>; did you mean <%s>?",
                           cn, spec->name, near);
                else if (find_spec(cn))
                    LERROR(ld, line, 0, "<%s> may not appear inside <%s>", cn, spec->name);
                else
                    LERROR(ld, line, 0, "unknown element <%s> in <%s> (expected one of: "
                           "%s)", cn, spec->name, list ? list : "...");
                free(list);
                break;
            }
            check_element(ld, c, find_spec(cn));
            break;
        }
        case XML_TEXT_NODE:
        case XML_CDATA_SECTION_NODE:
            if (!is_blank(c->content)) {
                /* A text node starts after the previous tag: point at its first
                 * non-blank character. */
                line = text_line(c, node_line(el));
                LERROR(ld, line, 0, "<%s> may not contain text", spec->name);
            }
            break;
        case XML_ENTITY_REF_NODE:
            LERROR(ld, line, 0, "entity references such as '&%s;' are not allowed in "
                   "pipeline files", (const char *)c->name);
            break;
        case XML_COMMENT_NODE:
        case XML_PI_NODE:
            break;
        default:
            LERROR(ld, line, 0, "<%s> holds an unexpected node", spec->name);
            break;
        }
    }
    if (spec->need_child && n_children == 0)
        LERROR(ld, node_line(el), 0, "<%s> contains no pass", spec->name);
}

static void validate_schema(loader *ld, xmlDocPtr doc)
{
    xmlRelaxNGParserCtxtPtr pc =
        xmlRelaxNGNewMemParserCtxt(mof_pipeline_rng, (int)strlen(mof_pipeline_rng));
    xmlRelaxNGPtr schema = NULL;
    xmlRelaxNGValidCtxtPtr vc = NULL;
    if (!pc) {
        oom(ld);
        goto out;
    }
    xmlRelaxNGSetParserStructuredErrors(pc, on_schema_error, ld);
    schema = xmlRelaxNGParse(pc);
    if (!schema) {
        if (!ld->failed)
            on_schema_error(ld, NULL);
        ld->failed = true;
        goto out;
    }
    vc = xmlRelaxNGNewValidCtxt(schema);
    if (!vc) {
        oom(ld);
        goto out;
    }
    xmlRelaxNGSetValidStructuredErrors(vc, on_xml_error, ld);
    int r = xmlRelaxNGValidateDoc(vc, doc);
    if (r != 0 && !ld->failed)
        LERROR(ld, 0, 0, "does not match the pipeline schema");
out:
    xmlRelaxNGFreeValidCtxt(vc);
    xmlRelaxNGFree(schema);
    xmlRelaxNGFreeParserCtxt(pc);
}

/* ------------------------------------------------------------------ XML to steps */

static bool is_absolute(const char *path)
{
    return path[0] == '/';
}

static void load_plugin_el(loader *ld, const xmlNode *el)
{
    char *path = get_attr(el, "path");
    char *full = NULL;
    if (!path) {
        oom(ld);
        return;
    }
    if (is_absolute(path) || !ld->base_dir)
        full = mof_strdup(path);
    else
        full = mof_asprintf("%s/%s", ld->base_dir, path);
    if (!full) {
        oom(ld);
        free(path);
        return;
    }
    mof_location loc = { ld->p->file, node_line(el), 0 };
    mof_status st = mof_host_load_plugin_at(ld->ctx, full, &loc);
    if (st < 0) {
        ld->failed = true;
        ld->plugin_failed = true;
        ld->nomem |= st == MOF_ERR_NOMEM;
    }
    free(full);
    free(path);
}

/* Copies the element's parameter attributes (all but `name`, and `output` for
 * backends) into the step. */
static bool collect_params(mof_step *s, const xmlNode *el, bool is_backend)
{
    for (const xmlAttr *a = el->properties; a; a = a->next) {
        const char *an = (const char *)a->name;
        if (strcmp(an, "name") == 0 || (is_backend && strcmp(an, "output") == 0))
            continue;
        xmlChar *v = xmlNodeListGetString(el->doc, a->children, 1);
        const char *value = v ? (const char *)v : "";
        bool ok = add_param(s, an, strlen(an), value, strlen(value), s->line, 0);
        xmlFree(v);
        if (!ok)
            return false;
    }
    return true;
}

/* Builds the steps of <pipeline> or <repeat> children (passes and repeats only). */
static void build_steps(loader *ld, const xmlNode *parent, mof_step **steps, size_t *n,
                        size_t *cap, const mof_step **first_backend)
{
    for (const xmlNode *c = parent->children; c; c = c->next) {
        bool is_pass = is_el(c, "pass"), is_repeat = is_el(c, "repeat");
        bool is_backend = is_el(c, "backend");
        if (!is_pass && !is_repeat && !is_backend)
            continue;
        unsigned line = node_line(c);
        mof_step *s;
        if (is_backend)
            s = add_step(&ld->p->backends, &ld->p->n_backends, &ld->p->cap_backends);
        else
            s = add_step(steps, n, cap);
        if (!s) {
            oom(ld);
            return;
        }
        s->line = line;
        if (is_repeat) {
            s->kind = MOF_STEP_REPEAT;
            s->max_iterations = MOF_REPEAT_DEFAULT_MAX;
            char *max = get_attr(c, "max");
            if (max)
                parse_positive(max, &s->max_iterations);
            free(max);
            build_steps(ld, c, &s->body, &s->n_body, &s->cap_body, NULL);
        } else {
            s->kind = is_pass ? MOF_STEP_PASS : MOF_STEP_BACKEND;
            s->name = get_attr(c, "name");
            if (is_backend)
                s->output = get_attr(c, "output");
            if (!s->name || !collect_params(s, c, is_backend)) {
                oom(ld);
                return;
            }
        }
        if (first_backend) {
            if (is_backend && !*first_backend) {
                *first_backend = s;
            } else if (!is_backend && *first_backend) {
                /* The backends array may move; its first element is what we saw. */
                const mof_step *b = &ld->p->backends[0];
                if (is_pass)
                    LERROR(ld, line, 0, "pass '%s' comes after the backend '%s' at line %u; "
                           "backends run after every pass, so list them last",
                           s->name, b->name, b->line);
                else
                    LERROR(ld, line, 0, "<repeat> comes after the backend '%s' at line %u; "
                           "backends run after every pass, so list them last",
                           b->name, b->line);
            }
        }
    }
}

/* ------------------------------------------------------------------ meaning */

static const mof_pass_desc *find_pass(mof_context *ctx, const char *name, size_t *plugin)
{
    return mof_host_find_pass(ctx, name, plugin);
}

static const mof_backend_desc *find_backend(mof_context *ctx, const char *name,
                                            size_t *plugin)
{
    return mof_host_find_backend(ctx, name, plugin);
}

static void report_unknown_name(loader *ld, const mof_step *s, bool want_backend)
{
    mof_context *ctx = ld->ctx;
    size_t n = want_backend ? mof_context_n_backends(ctx) : mof_context_n_passes(ctx);
    const char *kind = want_backend ? "backend" : "pass";
    const char *near = want_backend ? mof_host_suggest_backend(ctx, s->name)
                                    : mof_host_suggest_pass(ctx, s->name);
    size_t dummy;
    if (ld->plugin_failed)
        LERROR(ld, s->line, s->column, "unknown %s '%s' (a <plugin> of this pipeline failed "
               "to load; it may be the one that provides it)", kind, s->name);
    else if (!want_backend && find_backend(ctx, s->name, &dummy))
        LERROR(ld, s->line, s->column, "'%s' is a backend, not a pass; write <backend "
               "name=\"%s\"/> after the passes", s->name, s->name);
    else if (want_backend && find_pass(ctx, s->name, &dummy))
        LERROR(ld, s->line, s->column, "'%s' is a pass, not a backend; write <pass "
               "name=\"%s\"/>", s->name, s->name);
    else if (near)
        LERROR(ld, s->line, s->column, "unknown %s '%s'; did you mean '%s'?", kind, s->name,
               near);
    else if (n == 0)
        LERROR(ld, s->line, s->column, "unknown %s '%s' (no %s is loaded: check the plugin "
               "search path)", kind, s->name, kind);
    else
        LERROR(ld, s->line, s->column, "unknown %s '%s' (no loaded plugin provides a %s of "
               "that name)", kind, s->name, kind);
}

static void check_params(loader *ld, const mof_step *s, const mof_param_desc *table)
{
    mof_param_arg *args = mof_step_param_args(ld->p, s);
    if (s->n_params && !args) {
        oom(ld);
        return;
    }
    mof_param_owner owner = mof_step_owner(ld->p, s);
    mof_status st = mof_params_check(ld->ctx, &owner, table, s->n_params, args);
    if (st != MOF_OK)
        ld->failed = true;
    if (st == MOF_ERR_NOMEM)
        ld->nomem = true;
    free(args);
}

static void resolve_steps(loader *ld, mof_step *steps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        mof_step *s = &steps[i];
        if (s->kind == MOF_STEP_REPEAT) {
            resolve_steps(ld, s->body, s->n_body);
            continue;
        }
        if (s->kind == MOF_STEP_PASS) {
            s->pass = find_pass(ld->ctx, s->name, &s->plugin_index);
            if (!s->pass)
                report_unknown_name(ld, s, false);
            else
                check_params(ld, s, s->pass->params);
        } else {
            s->backend = find_backend(ld->ctx, s->name, &s->plugin_index);
            if (!s->backend)
                report_unknown_name(ld, s, true);
            else
                check_params(ld, s, s->backend->params);
        }
    }
}

/* ---- contracts: which properties hold at each step */

typedef struct prop {
    const char *name;
    bool held;
    const mof_step *invalidated_by;   /* the last pass that broke it, or NULL */
} prop;

typedef struct contract_walk {
    prop *props;
    size_t n_props, cap_props;
    /* (step, property) pairs already reported, so that a <repeat> walked twice says
     * each thing once. */
    const void **seen;
    size_t n_seen, cap_seen;
} contract_walk;

static prop *get_prop(loader *ld, contract_walk *w, const char *name)
{
    for (size_t i = 0; i < w->n_props; i++)
        if (strcmp(w->props[i].name, name) == 0)
            return &w->props[i];
    if (!MOF_GROW(w->props, w->cap_props, w->n_props + 1)) {
        oom(ld);
        return NULL;
    }
    prop *p = &w->props[w->n_props++];
    p->name = name;
    p->held = false;
    p->invalidated_by = NULL;
    return p;
}

static bool seen_before(loader *ld, contract_walk *w, const mof_step *s, const char *req)
{
    for (size_t i = 0; i + 1 < w->n_seen; i += 2)
        if (w->seen[i] == s && strcmp(w->seen[i + 1], req) == 0)
            return true;
    if (!MOF_GROW(w->seen, w->cap_seen, w->n_seen + 2)) {
        oom(ld);
        return true;
    }
    w->seen[w->n_seen++] = s;
    w->seen[w->n_seen++] = req;
    return false;
}

/* A loaded pass providing the property (the first by name), or NULL. */
static const char *provider_of(mof_context *ctx, const char *property)
{
    for (size_t i = 0; i < mof_context_n_passes(ctx); i++) {
        const mof_pass_desc *d = mof_context_pass(ctx, i, NULL);
        if (d && in_list(d->provides, property))
            return d->name;
    }
    return NULL;
}

static void walk_contracts(loader *ld, contract_walk *w, const mof_step *steps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const mof_step *s = &steps[i];
        if (s->kind == MOF_STEP_REPEAT) {
            /* The body runs at least once and maybe again after itself. */
            walk_contracts(ld, w, s->body, s->n_body);
            walk_contracts(ld, w, s->body, s->n_body);
            continue;
        }
        if (s->kind != MOF_STEP_PASS || !s->pass)
            continue;
        const mof_pass_desc *d = s->pass;
        for (size_t r = 0; d->requires && d->requires[r]; r++) {
            prop *pr = get_prop(ld, w, d->requires[r]);
            if (!pr || pr->held || seen_before(ld, w, s, d->requires[r]))
                continue;
            const char *example = provider_of(ld->ctx, pr->name);
            char here[32], eg[256];
            if (example)
                snprintf(eg, sizeof(eg), ", e.g. '%s'", example);
            else
                snprintf(eg, sizeof(eg), "; no loaded pass provides it");
            if (pr->invalidated_by) {
                const mof_step *b = pr->invalidated_by;
                where(ld, b->line, b->column, here, sizeof(here));
                LERROR(ld, s->line, s->column, "pass '%s' requires '%s', which pass '%s' at "
                       "%s invalidates (add a pass that provides it after %s%s)", s->name,
                       pr->name, b->name, here, here, eg);
            } else {
                where(ld, s->line, s->column, here, sizeof(here));
                LERROR(ld, s->line, s->column, "pass '%s' requires '%s', which no earlier "
                       "pass provides (add a pass that provides it before %s%s)", s->name,
                       pr->name, here, eg);
            }
        }
        for (size_t k = 0; d->invalidates && d->invalidates[k]; k++) {
            prop *pr = get_prop(ld, w, d->invalidates[k]);
            if (pr) {
                pr->held = false;
                pr->invalidated_by = s;
            }
        }
        for (size_t k = 0; d->provides && d->provides[k]; k++) {
            prop *pr = get_prop(ld, w, d->provides[k]);
            if (pr)
                pr->held = true;
        }
    }
}

/* A relative output path that stays inside the output folder. */
static bool output_path_ok(const char *path)
{
    if (!path[0] || path[0] == '/')
        return false;
    const char *p = path;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return false;
        if (!slash)
            break;
        p = slash + 1;
    }
    return true;
}

/* The output name with "./" and doubled slashes removed, for comparisons. */
static char *normalize_output(const char *path)
{
    mof_strbuf sb;
    mof_strbuf_init(&sb);
    const char *p = path;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len && !(len == 1 && p[0] == '.')) {
            if (sb.len)
                mof_strbuf_puts(&sb, "/");
            mof_strbuf_append(&sb, p, len);
        }
        if (!slash)
            break;
        p = slash + 1;
    }
    return mof_strbuf_take(&sb);
}

static void check_backends(loader *ld)
{
    mof_pipeline *p = ld->p;
    char **outs = mof_calloc(p->n_backends ? p->n_backends : 1, sizeof(*outs));
    if (!outs) {
        oom(ld);
        return;
    }
    for (size_t i = 0; i < p->n_backends; i++) {
        const mof_step *b = &p->backends[i];
        const char *out = b->output;
        if (!out && b->backend)
            out = b->backend->default_output;
        if (!out) {
            if (b->backend)
                LERROR(ld, b->line, b->column, "backend '%s' needs an 'output' attribute "
                       "(it has no default output name)", b->name);
            continue;
        }
        if (!output_path_ok(out)) {
            LERROR(ld, b->line, b->column, "backend '%s': output '%s' must be a relative "
                   "path inside the output folder", b->name, out);
            continue;
        }
        outs[i] = normalize_output(out);
        if (!outs[i]) {
            oom(ld);
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            if (outs[j] && strcmp(outs[j], outs[i]) == 0) {
                LERROR(ld, b->line, b->column, "backend '%s' writes '%s', as does backend "
                       "'%s' at line %u", b->name, out, p->backends[j].name,
                       p->backends[j].line);
                break;
            }
        }
    }
    for (size_t i = 0; i < p->n_backends; i++)
        free(outs[i]);
    free(outs);
}

/* Name resolution, parameters, contracts and outputs: shared by both forms. */
static void check_meaning(loader *ld)
{
    resolve_steps(ld, ld->p->steps, ld->p->n_steps);
    resolve_steps(ld, ld->p->backends, ld->p->n_backends);
    contract_walk w = { 0 };
    walk_contracts(ld, &w, ld->p->steps, ld->p->n_steps);
    free(w.props);
    free(w.seen);
    check_backends(ld);
}

/* The name a pipeline without a name attribute gets: the file's base name without
 * its extension. */
static char *default_name(const char *file)
{
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    const char *dot = strrchr(base, '.');
    size_t len = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    return len ? mof_strndup(base, len) : mof_strdup("pipeline");
}

/* ------------------------------------------------------------------ loading */

static mof_pipeline *finish(loader *ld)
{
    if (ld->failed || ld->nomem) {
        mof_pipeline_destroy(ld->p);
        return NULL;
    }
    return ld->p;
}

mof_pipeline *mof_pipeline_load_buffer(mof_context *ctx, const char *xml, size_t size,
                                       const char *name, const char *base_dir)
{
    if (!ctx || (!xml && size))
        return NULL;
    if (!name)
        name = "<pipeline>";
    if (!xml)
        xml = "";
    loader ld = { .ctx = ctx, .base_dir = base_dir };
    ld.p = pipeline_new(ctx, name, xml, size);
    if (!ld.p) {
        mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    if (size > INT_MAX) {
        LERROR(&ld, 0, 0, "the pipeline file is too large (%zu bytes)", size);
        return finish(&ld);
    }

    xml_scope scope;
    xml_scope_enter(&scope, &ld);
    /* No XML_PARSE_NOENT (entities stay unexpanded), no DTD loading or validation, no
     * network; big lines so that xmlGetLineNo is right past 65535. */
    xmlDocPtr doc = xmlReadMemory(xml, (int)size, name, NULL,
                                  XML_PARSE_NONET | XML_PARSE_BIG_LINES);
    if (!doc) {
        if (!ld.failed)
            lreport(&ld, MOF_SEVERITY_ERROR, MOF_ERR_PARSE, 0, 0, "cannot parse the "
                    "pipeline file");
        goto out;
    }
    if (doc->intSubset || doc->extSubset) {
        /* libxml2 keeps no line for the DTD: find it in the text. */
        unsigned line = 1;
        const char *at = NULL;
        for (const char *q = xml; q + 9 <= xml + size && !at; q++)
            if (memcmp(q, "<!DOCTYPE", 9) == 0)
                at = q;
        for (const char *q = xml; at && q < at; q++)
            line += *q == '\n';
        lreport(&ld, MOF_SEVERITY_ERROR, MOF_ERR_PARSE, line, 0,
                "a pipeline file may not have a DOCTYPE declaration (DTDs and entities "
                "are not supported)");
        goto out;
    }
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (root && root->ns && xmlStrcmp(root->name, BAD_CAST "pipeline") == 0) {
        lreport(&ld, MOF_SEVERITY_ERROR, MOF_ERR_PARSE, node_line(root), 0,
                "<pipeline> is in the namespace '%s'; pipeline elements have none",
                root->ns->href ? (const char *)root->ns->href : "");
        goto out;
    }
    if (!root || !is_el(root, "pipeline")) {
        lreport(&ld, MOF_SEVERITY_ERROR, MOF_ERR_PARSE, root ? node_line(root) : 1, 0,
                "the root element is <%s>; a pipeline file starts with <pipeline>",
                root ? (const char *)root->name : "");
        goto out;
    }
    check_element(&ld, root, find_spec("pipeline"));
    if (ld.failed)
        goto out;
    validate_schema(&ld, doc);
    if (ld.failed)
        goto out;
    xml_scope_leave(&scope);

    char *rm = get_attr(root, "record-metadata");
    ld.p->record_metadata = !rm || strcmp(rm, "false") != 0;
    free(rm);
    ld.p->name = get_attr(root, "name");
    if (!ld.p->name || !ld.p->name[0]) {
        free(ld.p->name);
        ld.p->name = default_name(name);
    }
    if (!ld.p->name)
        oom(&ld);

    /* Plugins first, so that the names they bring are known below. */
    for (const xmlNode *c = root->children; c; c = c->next)
        if (is_el(c, "plugin"))
            load_plugin_el(&ld, c);
    for (const xmlNode *c = root->children; c; c = c->next) {
        if (!is_el(c, "input"))
            continue;
        char *in_name = get_attr(c, "name"), *shape = get_attr(c, "shape");
        if (in_name && shape)
            set_input_pin(&ld, in_name, shape, node_line(c), false);
        else
            oom(&ld);
        free(in_name);
        free(shape);
    }
    const mof_step *first_backend = NULL;
    build_steps(&ld, root, &ld.p->steps, &ld.p->n_steps, &ld.p->cap_steps, &first_backend);
    if (!ld.nomem)
        check_meaning(&ld);
    xmlFreeDoc(doc);
    return finish(&ld);

out:
    xml_scope_leave(&scope);
    xmlFreeDoc(doc);
    return finish(&ld);
}

mof_pipeline *mof_pipeline_load(mof_context *ctx, const char *path)
{
    if (!ctx || !path)
        return NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_IO, NULL, "cannot open the pipeline "
                   "file '%s': %s", path, strerror(errno));
        return NULL;
    }
    mof_strbuf sb;
    mof_strbuf_init(&sb);
    char chunk[8192];
    size_t got;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
        mof_strbuf_append(&sb, chunk, got);
    bool read_error = ferror(f) != 0;
    int saved_errno = errno;
    fclose(f);
    if (read_error) {
        mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_IO, NULL, "cannot read the pipeline "
                   "file '%s': %s", path, strerror(saved_errno));
        mof_strbuf_free(&sb);
        return NULL;
    }
    if (sb.failed) {
        mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
        mof_strbuf_free(&sb);
        return NULL;
    }
    /* Relative plugin paths start from the pipeline file's folder. */
    const char *slash = strrchr(path, '/');
    char *dir = slash ? mof_strndup(path, slash == path ? 1 : (size_t)(slash - path))
                      : mof_strdup(".");
    if (!dir) {
        mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
        mof_strbuf_free(&sb);
        return NULL;
    }
    mof_pipeline *p = mof_pipeline_load_buffer(ctx, sb.data ? sb.data : "", sb.len, path, dir);
    free(dir);
    mof_strbuf_free(&sb);
    return p;
}

/* ------------------------------------------------------------------ one-line lists */

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.';
}

static const char *skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    return s;
}

/* Parses the arguments of "name(k=v, k2='a,b')" from just after '('. Returns the
 * position after ')' or NULL after reporting a syntax error. */
static const char *parse_list_args(loader *ld, const char *list, const char *p, mof_step *s)
{
    p = skip_ws(p);
    if (*p == ')')
        return p + 1;
    for (;;) {
        p = skip_ws(p);
        const char *key = p;
        while (is_name_char(*p))
            p++;
        size_t key_len = (size_t)(p - key);
        unsigned key_col = (unsigned)(key - list) + 1;
        if (key_len == 0) {
            lreport(ld, MOF_SEVERITY_ERROR, MOF_ERR_PARSE, 1, key_col,
                    "expected a parameter name in the arguments of '%s'", s->name);
            return NULL;
        }
        p = skip_ws(p);
        if (*p != '=') {
            lreport(ld, MOF_SEVERITY_ERROR, MOF_ERR_PARSE, 1, (unsigned)(p - list) + 1,
                    "expected '=' after the parameter '%.*s'", (int)key_len, key);
            return NULL;
        }
        p = skip_ws(p + 1);
        const char *val;
        size_t val_len;
        if (*p == '\'' || *p == '"') {
            char q = *p;
            val = p + 1;
            const char *end = strchr(val, q);
            if (!end) {
                lreport(ld, MOF_SEVERITY_ERROR, MOF_ERR_PARSE, 1, (unsigned)(p - list) + 1,
                        "the quoted value of '%.*s' has no closing %c", (int)key_len, key, q);
                return NULL;
            }
            val_len = (size_t)(end - val);
            p = end + 1;
        } else {
            val = p;
            while (*p && *p != ',' && *p != ')')
                p++;
            const char *end = p;
            while (end > val && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
            val_len = (size_t)(end - val);
        }
        if (!add_param(s, key, key_len, val, val_len, 1, key_col)) {
            oom(ld);
            return NULL;
        }
        p = skip_ws(p);
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p == ')')
            return p + 1;
        lreport(ld, MOF_SEVERITY_ERROR, MOF_ERR_PARSE, 1, (unsigned)(p - list) + 1,
                *p ? "expected ',' or ')' in the arguments of '%s'"
                   : "the arguments of '%s' have no closing ')'", s->name);
        return NULL;
    }
}

mof_pipeline *mof_pipeline_parse_list(mof_context *ctx, const char *list)
{
    if (!ctx || !list)
        return NULL;
    loader ld = { .ctx = ctx, .is_list = true };
    ld.p = pipeline_new(ctx, LIST_FILE, list, strlen(list));
    if (!ld.p || !(ld.p->name = mof_strdup("passes"))) {
        mof_pipeline_destroy(ld.p);
        mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    const char *p = skip_ws(list);
    while (*p) {
        const char *start = p;
        while (is_name_char(*p))
            p++;
        unsigned col = (unsigned)(start - list) + 1;
        if (p == start) {
            lreport(&ld, MOF_SEVERITY_ERROR, MOF_ERR_PARSE, 1, col, *p == ','
                    ? "expected a pass name before ','" : "expected a pass name, found '%c'",
                    *p);
            break;
        }
        mof_step *s = add_step(&ld.p->steps, &ld.p->n_steps, &ld.p->cap_steps);
        if (!s || !(s->name = mof_strndup(start, (size_t)(p - start)))) {
            oom(&ld);
            break;
        }
        s->kind = MOF_STEP_PASS;
        s->line = 1;
        s->column = col;
        p = skip_ws(p);
        if (*p == '(') {
            p = parse_list_args(&ld, list, p + 1, s);
            if (!p)
                break;
            p = skip_ws(p);
        }
        if (*p == ',') {
            p = skip_ws(p + 1);
            if (!*p) {
                lreport(&ld, MOF_SEVERITY_ERROR, MOF_ERR_PARSE, 1, (unsigned)(p - list) + 1,
                        "expected a pass name after ','");
                break;
            }
            continue;
        }
        if (*p) {
            lreport(&ld, MOF_SEVERITY_ERROR, MOF_ERR_PARSE, 1, (unsigned)(p - list) + 1,
                    "expected ',' or '(' after the pass '%s', found '%c'", s->name, *p);
            break;
        }
    }
    if (!ld.failed)
        check_meaning(&ld);
    return finish(&ld);
}

/* ------------------------------------------------------------------ overrides */

typedef struct set_match {
    const mof_param_desc *table;
    bool is_backend;
    size_t count;
} set_match;

static void find_steps_named(mof_step *steps, size_t n, const char *name, set_match *m)
{
    for (size_t i = 0; i < n; i++) {
        mof_step *s = &steps[i];
        if (s->kind == MOF_STEP_REPEAT) {
            find_steps_named(s->body, s->n_body, name, m);
        } else if (strcmp(s->name, name) == 0) {
            m->count++;
            m->is_backend = s->kind == MOF_STEP_BACKEND;
            m->table = m->is_backend ? s->backend->params : s->pass->params;
        }
    }
}

static bool override_param(mof_step *steps, size_t n, const char *pass, const char *param,
                           const char *value)
{
    for (size_t i = 0; i < n; i++) {
        mof_step *s = &steps[i];
        if (s->kind == MOF_STEP_REPEAT) {
            if (!override_param(s->body, s->n_body, pass, param, value))
                return false;
            continue;
        }
        if (strcmp(s->name, pass) != 0)
            continue;
        size_t j = 0;
        while (j < s->n_params && strcmp(s->params[j].name, param) != 0)
            j++;
        if (j < s->n_params) {
            char *v = mof_strdup(value);
            if (!v)
                return false;
            free(s->params[j].value);
            s->params[j].value = v;
            s->params[j].line = 0;
            s->params[j].column = 0;
        } else if (!add_param(s, param, strlen(param), value, strlen(value), 0, 0)) {
            return false;
        }
    }
    return true;
}

/* Names of the passes and backends the pipeline runs, for suggestions. */
static void collect_step_names(const mof_step *steps, size_t n, const char ***names,
                               size_t *count, size_t *cap, bool *nomem)
{
    for (size_t i = 0; i < n; i++) {
        if (steps[i].kind == MOF_STEP_REPEAT) {
            collect_step_names(steps[i].body, steps[i].n_body, names, count, cap, nomem);
            continue;
        }
        if (!mof_grow((void **)names, cap, *count + 1, sizeof(**names))) {
            *nomem = true;
            return;
        }
        (*names)[(*count)++] = steps[i].name;
    }
}

mof_status mof_pipeline_set(mof_pipeline *p, const char *assignment)
{
    if (!p || !assignment)
        return MOF_ERR_INVALID_ARG;
    mof_context *ctx = p->ctx;
    mof_location loc = { "--set", 0, 0 };
    const char *dot = strchr(assignment, '.');
    const char *eq = strchr(assignment, '=');
    if (!dot || !eq || dot > eq || dot == assignment || eq == dot + 1)
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, &loc,
                          "'%s' is not of the form PASS.PARAMETER=VALUE", assignment);
    char *pass = mof_strndup(assignment, (size_t)(dot - assignment));
    char *param = mof_strndup(dot + 1, (size_t)(eq - dot - 1));
    const char *value = eq + 1;
    mof_status st = MOF_OK;
    const char **names = NULL;
    if (!pass || !param) {
        st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    set_match m = { 0 };
    find_steps_named(p->steps, p->n_steps, pass, &m);
    find_steps_named(p->backends, p->n_backends, pass, &m);
    if (m.count == 0) {
        size_t count = 0, cap = 0;
        bool nomem = false;
        collect_step_names(p->steps, p->n_steps, &names, &count, &cap, &nomem);
        collect_step_names(p->backends, p->n_backends, &names, &count, &cap, &nomem);
        const char *near = count && !nomem ? mof_nearest_name(pass, count, names) : NULL;
        if (near)
            st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, &loc,
                            "'%s': no step of the pipeline runs '%s'; did you mean '%s'?",
                            assignment, pass, near);
        else
            st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, &loc,
                            "'%s': no step of the pipeline runs '%s'", assignment, pass);
        goto out;
    }
    mof_param_owner owner = { m.is_backend ? "backend" : "pass", pass, loc };
    mof_param_arg arg = { param, value, loc };
    st = mof_params_check(ctx, &owner, m.table, 1, &arg);
    if (st != MOF_OK)
        goto out;
    if (!override_param(p->steps, p->n_steps, pass, param, value) ||
        !override_param(p->backends, p->n_backends, pass, param, value))
        st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
out:
    free(names);
    free(pass);
    free(param);
    return st;
}

mof_status mof_pipeline_set_input_shape(mof_pipeline *p, const char *assignment)
{
    if (!p || !assignment)
        return MOF_ERR_INVALID_ARG;
    mof_location loc = { "--input-shape", 0, 0 };
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment)
        return mof_report(p->ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, &loc,
                          "'%s' is not of the form NAME=DIM,DIM,...", assignment);
    char *name = mof_strndup(assignment, (size_t)(eq - assignment));
    if (!name)
        return mof_report(p->ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
    /* Messages name "--input-shape" as the file. */
    char *file = p->file;
    p->file = (char *)"--input-shape";
    loader ld = { .ctx = p->ctx, .p = p };
    bool ok = set_input_pin(&ld, name, eq + 1, 0, true);
    p->file = file;
    free(name);
    if (ok)
        return MOF_OK;
    return ld.nomem ? MOF_ERR_NOMEM : MOF_ERR_INVALID_ARG;
}

/* ------------------------------------------------------------------ backend steps */

const char *mof_pipeline_backend_name(const mof_pipeline *p, size_t i)
{
    return p && i < p->n_backends ? p->backends[i].name : NULL;
}

unsigned mof_pipeline_backend_line(const mof_pipeline *p, size_t i)
{
    return p && i < p->n_backends ? p->backends[i].line : 0;
}

size_t mof_pipeline_backend_n_params(const mof_pipeline *p, size_t i)
{
    return p && i < p->n_backends ? p->backends[i].n_params : 0;
}

const char *mof_pipeline_backend_param(const mof_pipeline *p, size_t i, size_t j,
                                       const char **value)
{
    const mof_step *s = p && i < p->n_backends ? &p->backends[i] : NULL;
    if (!s || j >= s->n_params) {
        if (value)
            *value = NULL;
        return NULL;
    }
    if (value)
        *value = s->params[j].value;
    return s->params[j].name;
}
