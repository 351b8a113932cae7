/* passmgr.c: the pass manager: runs a loaded pipeline over a model, then its backends.
 *
 * Each pass runs on a model it may wreck: before the pass, the manager takes a
 * snapshot (mof_model_dup shares tensors, so it costs the structure, not the
 * weights); if the pass fails, or breaks the graph's invariants under verify_each,
 * the snapshot is swapped back in, so the model is exactly as it was before the pass.
 * Instances follow one life cycle: zeroed private struct, defaults and parameters,
 * init, run, fini exactly once (even when init failed), then the strings the
 * parameters stored are freed.
 *
 * Backends are all instantiated and checked (every node of the main graph against
 * the op table and supports_node) before any of them emits, so that an unsupported
 * node means no artifact at all. Nothing here prints except to the FILE the caller
 * gave in the options.
 *
 * Decisions where the API leaves room:
 * - keep_going rolls a failed pass back and goes on to the end (metadata, outputs), but
 *   the run still returns the first error, so that callers exit non-zero;
 * - with no backend and no opts->output, nothing is written (in-memory use);
 * - time_passes prints the report, with times, to opts->log at the end of the run;
 * - an artifact's folders are created, and only once every backend passed its checks,
 *   so that a refused run leaves nothing behind;
 * - the input shape pins are applied to the graph inputs before the first pass;
 * - numeric checks (check, check_each) make their random inputs once, after the pins,
 *   and run the input model once per input set; with check_each the outputs of the
 *   model before each pass are kept, so each pass costs one run of the model after it
 *   per input set. Every pass is checked, also one that says it changed nothing (a
 *   pass that lies about that is a bug the check should catch, not skip). A model the
 *   interpreter cannot run is a failed check: nothing unverified is written. */
#define _XOPEN_SOURCE 700 /* realpath */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <mof/host.h>
#include <mof/io.h>
#include <mof/ir.h>
#include <mof/pipeline.h>
#include <mof/plugin.h>
#include <mof/verify.h>

#include "context_private.h"
#include "ir_private.h"
#include "params.h"
#include "pipeline_private.h"
#include "print.h"

/* ------------------------------------------------------------------ contexts */

struct mof_pass_ctx {
    mof_context *ctx;
    const mof_pass_desc *desc;
    const char *name;
    char **stat_names;
    int64_t *stat_values;
    size_t n_stats, cap_stats;
    char **data_keys, **data_json;   /* mof_pass_report_json */
    size_t n_data, cap_data;
};

struct mof_backend_ctx {
    mof_context *ctx;
    const mof_backend_desc *desc;
    const char *name;
    const char *provenance;
};

mof_context *mof_pass_ctx_context(mof_pass_ctx *pc)
{
    return pc ? pc->ctx : NULL;
}

const char *mof_pass_ctx_name(const mof_pass_ctx *pc)
{
    return pc ? pc->name : NULL;
}

void mof_pass_stat(mof_pass_ctx *pc, const char *name, int64_t delta)
{
    if (!pc || !name)
        return;
    for (size_t i = 0; i < pc->n_stats; i++) {
        if (strcmp(pc->stat_names[i], name) == 0) {
            pc->stat_values[i] += delta;
            return;
        }
    }
    /* Statistics are best effort: out of memory loses the count, not the run. */
    size_t cap_names = pc->cap_stats, cap_values = pc->cap_stats;
    if (!MOF_GROW(pc->stat_names, cap_names, pc->n_stats + 1) ||
        !MOF_GROW(pc->stat_values, cap_values, pc->n_stats + 1))
        return;
    pc->cap_stats = cap_names < cap_values ? cap_names : cap_values;
    char *copy = mof_strdup(name);
    if (!copy)
        return;
    pc->stat_names[pc->n_stats] = copy;
    pc->stat_values[pc->n_stats] = delta;
    pc->n_stats++;
}

mof_status mof_pass_report_json(mof_pass_ctx *pc, const char *key, const char *json)
{
    if (!pc || !key || !*key || !json || !*json)
        return MOF_ERR_INVALID_ARG;
    char *copy = mof_strdup(json);
    if (!copy)
        return MOF_ERR_NOMEM;
    for (size_t i = 0; i < pc->n_data; i++) {
        if (strcmp(pc->data_keys[i], key) == 0) {
            free(pc->data_json[i]);
            pc->data_json[i] = copy;
            return MOF_OK;
        }
    }
    size_t cap_keys = pc->cap_data, cap_json = pc->cap_data;
    char *key_copy = mof_strdup(key);
    if (!key_copy || !MOF_GROW(pc->data_keys, cap_keys, pc->n_data + 1) ||
        !MOF_GROW(pc->data_json, cap_json, pc->n_data + 1)) {
        free(key_copy);
        free(copy);
        return MOF_ERR_NOMEM;
    }
    pc->cap_data = cap_keys < cap_json ? cap_keys : cap_json;
    pc->data_keys[pc->n_data] = key_copy;
    pc->data_json[pc->n_data] = copy;
    pc->n_data++;
    return MOF_OK;
}

static void pass_ctx_clear(mof_pass_ctx *pc)
{
    for (size_t i = 0; i < pc->n_data; i++) {
        free(pc->data_keys[i]);
        free(pc->data_json[i]);
    }
    free(pc->data_keys);
    free(pc->data_json);
    pc->data_keys = pc->data_json = NULL;
    pc->n_data = pc->cap_data = 0;
    for (size_t i = 0; i < pc->n_stats; i++)
        free(pc->stat_names[i]);
    free(pc->stat_names);
    free(pc->stat_values);
    pc->stat_names = NULL;
    pc->stat_values = NULL;
    pc->n_stats = pc->cap_stats = 0;
}

mof_context *mof_backend_ctx_context(mof_backend_ctx *bc)
{
    return bc ? bc->ctx : NULL;
}

const char *mof_backend_ctx_name(const mof_backend_ctx *bc)
{
    return bc ? bc->name : NULL;
}

const char *mof_backend_ctx_provenance(const mof_backend_ctx *bc)
{
    return bc && bc->provenance ? bc->provenance : "";
}

/* ------------------------------------------------------------------ options */

void mof_run_options_init(mof_run_options *opts)
{
    if (!opts)
        return;
    memset(opts, 0, sizeof(*opts));
    opts->size = sizeof(*opts);
    opts->record_metadata = true;
    opts->log = stderr;
    opts->check_inputs = MOF_VERIFY_DEFAULT_SETS;
    opts->rtol = MOF_VERIFY_DEFAULT_RTOL;
    opts->atol = MOF_VERIFY_DEFAULT_ATOL;
}

/* ------------------------------------------------------------------ reports */

struct mof_run_report {
    mof_step_report *steps;
    size_t n_steps, cap_steps;
    char **notes;
    size_t n_notes, cap_notes;
};

size_t mof_run_report_n_steps(const mof_run_report *r)
{
    return r ? r->n_steps : 0;
}

const mof_step_report *mof_run_report_step(const mof_run_report *r, size_t i)
{
    return r && i < r->n_steps ? &r->steps[i] : NULL;
}

size_t mof_run_report_n_notes(const mof_run_report *r)
{
    return r ? r->n_notes : 0;
}

const char *mof_run_report_note(const mof_run_report *r, size_t i)
{
    return r && i < r->n_notes ? r->notes[i] : NULL;
}

static void step_report_clear(mof_step_report *s)
{
    free((char *)s->pass);
    free((char *)s->output);
    for (size_t i = 0; i < s->n_stats; i++)
        free((char *)s->stat_names[i]);
    free((char **)s->stat_names);
    free((int64_t *)s->stat_values);
    for (size_t i = 0; i < s->n_data; i++) {
        free((char *)s->data_keys[i]);
        free((char *)s->data_json[i]);
    }
    free((char **)s->data_keys);
    free((char **)s->data_json);
}

void mof_run_report_destroy(mof_run_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_steps; i++)
        step_report_clear(&r->steps[i]);
    free(r->steps);
    for (size_t i = 0; i < r->n_notes; i++)
        free(r->notes[i]);
    free(r->notes);
    free(r);
}

static void format_time(char *buf, size_t size, double seconds)
{
    if (seconds < 0.01)
        snprintf(buf, size, "%.2f ms", seconds * 1e3);
    else if (seconds < 1.0)
        snprintf(buf, size, "%.1f ms", seconds * 1e3);
    else
        snprintf(buf, size, "%.2f s", seconds);
}

static const char *status_word(const mof_step_report *s)
{
    if (s->status == MOF_OK)
        return s->is_backend ? "written" : "changed";
    if (s->status == MOF_UNCHANGED)
        return "unchanged";
    if (s->status == MOF_ERR_VERIFY)
        return "broke";
    return "failed";
}

void mof_run_report_print(const mof_run_report *r, FILE *out, bool with_times)
{
    if (!r || !out)
        return;
    int wname = 4;
    for (size_t i = 0; i < r->n_steps; i++) {
        int l = (int)strlen(r->steps[i].pass);
        wname = l > wname ? l : wname;
    }
    fprintf(out, "%-*s  %4s  %4s  %-9s  %-14s", wname, "pass", "line", "iter", "status",
            "nodes");
    if (with_times)
        fprintf(out, "  %10s", "time");
    fputs("  changes\n", out);
    double total = 0;
    for (size_t i = 0; i < r->n_steps; i++) {
        const mof_step_report *s = &r->steps[i];
        char line[16] = "-", iter[16] = "-", nodes[48] = "-", time[32];
        if (s->line)
            snprintf(line, sizeof(line), "%u", s->line);
        if (s->iteration)
            snprintf(iter, sizeof(iter), "%u", s->iteration);
        if (!s->is_backend)
            snprintf(nodes, sizeof(nodes), "%zu -> %zu", s->nodes_before, s->nodes_after);
        fprintf(out, "%-*s  %4s  %4s  %-9s  %-14s", wname, s->pass, line, iter,
                status_word(s), nodes);
        if (with_times) {
            format_time(time, sizeof(time), s->seconds);
            fprintf(out, "  %10s", time);
            total += s->seconds;
        }
        fputs("  ", out);
        if (s->is_backend) {
            fputs(s->output ? s->output : "-", out);
        } else if (s->n_stats == 0) {
            fputc('-', out);
        } else {
            for (size_t k = 0; k < s->n_stats; k++)
                fprintf(out, "%s%s=%" PRId64, k ? " " : "", s->stat_names[k],
                        s->stat_values[k]);
        }
        fputc('\n', out);
    }
    if (with_times) {
        char time[32];
        format_time(time, sizeof(time), total);
        fprintf(out, "%-*s  %4s  %4s  %-9s  %-14s  %10s\n", wname, "total", "", "", "", "",
                time);
    }
    for (size_t i = 0; i < r->n_notes; i++)
        fprintf(out, "note: %s\n", r->notes[i]);
}

/* ------------------------------------------------------------------ the run */

typedef struct runner {
    mof_pipeline *p;
    mof_context *ctx;
    mof_model *model;
    mof_run_options opts;
    mof_run_report *report;
    mof_status first_error;
    bool stop;
    /* Numeric checks: n_sets input sets of n_in tensors, and n_sets sets of n_out
     * outputs of the input model (ref) and of the model before the running pass
     * (prev, check_each only). */
    bool checking;
    size_t n_sets, n_in, n_out;
    mof_tensor **check_in;
    mof_tensor **ref_out;
    mof_tensor **prev_out;
    double declared_tol;      /* largest tolerance of the numerics-changing passes run */
    size_t n_checked;         /* pass runs checked */
} runner;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void fail(runner *r, mof_status st)
{
    if (r->first_error == MOF_OK)
        r->first_error = st;
    if (!r->opts.keep_going || st == MOF_ERR_NOMEM)
        r->stop = true;
}

static mof_status nomem(runner *r)
{
    mof_context_set_subject(r->ctx, NULL, NULL, NULL);
    mof_report(r->ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
    fail(r, MOF_ERR_NOMEM);
    return MOF_ERR_NOMEM;
}

static const char *plugin_name(runner *r, const mof_step *s)
{
    const mof_plugin_info *info = mof_context_plugin(r->ctx, s->plugin_index);
    return info ? info->name : NULL;
}

static size_t count_nodes(const mof_model *m)
{
    mof_model_stats st;
    mof_model_get_stats(m, &st);
    return st.n_nodes;
}

/* Appends a report row; takes the stats of pc (may be NULL). */
static mof_step_report *add_row(runner *r, const mof_step *s, unsigned iteration,
                                mof_pass_ctx *pc)
{
    mof_run_report *rep = r->report;
    if (!MOF_GROW(rep->steps, rep->cap_steps, rep->n_steps + 1))
        return NULL;
    mof_step_report *row = &rep->steps[rep->n_steps];
    memset(row, 0, sizeof(*row));
    row->pass = mof_strdup(s->name);
    if (!row->pass)
        return NULL;
    row->is_backend = s->kind == MOF_STEP_BACKEND;
    row->line = s->line;
    row->iteration = iteration;
    if (pc) {
        row->n_stats = pc->n_stats;
        row->stat_names = (const char *const *)pc->stat_names;
        row->stat_values = pc->stat_values;
        pc->stat_names = NULL;
        pc->stat_values = NULL;
        pc->n_stats = pc->cap_stats = 0;
        row->n_data = pc->n_data;
        row->data_keys = (const char *const *)pc->data_keys;
        row->data_json = (const char *const *)pc->data_json;
        pc->data_keys = pc->data_json = NULL;
        pc->n_data = pc->cap_data = 0;
    }
    rep->n_steps++;
    return row;
}

static mof_status add_note(runner *r, const char *fmt, ...) MOF_PRINTF(2, 3);

static mof_status add_note(runner *r, const char *fmt, ...)
{
    mof_run_report *rep = r->report;
    if (!MOF_GROW(rep->notes, rep->cap_notes, rep->n_notes + 1))
        return MOF_ERR_NOMEM;
    va_list ap;
    va_start(ap, fmt);
    char *note = mof_vasprintf(fmt, ap);
    va_end(ap);
    if (!note)
        return MOF_ERR_NOMEM;
    rep->notes[rep->n_notes++] = note;
    return MOF_OK;
}

static bool wants_print(const runner *r, const char *pass)
{
    const char *pa = r->opts.print_after;
    return pa && r->opts.log && (strcmp(pa, "all") == 0 || strcmp(pa, pass) == 0);
}

/* The message of the first error recorded since diag number `from`, or NULL. */
static const char *first_error_since(mof_context *ctx, size_t from)
{
    for (size_t i = from; i < mof_context_n_diags(ctx); i++) {
        const mof_diag *d = mof_context_diag(ctx, i);
        if (d && d->severity == MOF_SEVERITY_ERROR)
            return d->message ? d->message : "";
    }
    return NULL;
}

/* ------------------------------------------------------------------ numeric checks */

static bool same_file(const char *a, const char *b);

/* Runs model m on every input set into outs (n_sets * n_out entries); on error outs are
 * all NULL and the interpreter's diagnostics say why. */
static mof_status check_run(runner *r, const mof_model *m, mof_tensor **outs)
{
    mof_interp *it = mof_interp_create(r->ctx, m);
    if (!it)
        return MOF_ERR_UNSUPPORTED;
    mof_status st = MOF_OK;
    for (size_t k = 0; k < r->n_sets && st == MOF_OK; k++)
        st = mof_interp_run(it, r->n_in, r->check_in + k * r->n_in, r->n_out,
                            outs + k * r->n_out);
    mof_interp_destroy(it);
    if (st != MOF_OK)
        mof_tensors_release(r->n_sets * r->n_out, outs);
    return st;
}

/* Compares two runs over every input set; outputs are named as in the current model.
 * NULL when out of memory. */
static mof_verify_report *check_compare(runner *r, mof_tensor **ref, mof_tensor **got,
                                        double rtol)
{
    mof_verify_report *rep = mof_verify_report_create(rtol, r->opts.atol);
    const char **names = mof_calloc(r->n_out ? r->n_out : 1, sizeof(*names));
    const mof_graph *g = mof_model_graph(r->model);
    bool ok = rep && names;
    for (size_t i = 0; ok && i < r->n_out; i++)
        names[i] = mof_value_name(mof_graph_output(g, i));
    for (size_t k = 0; ok && k < r->n_sets; k++)
        ok = mof_verify_report_add(rep, r->n_out, names, ref + k * r->n_out,
                                   got + k * r->n_out) == MOF_OK;
    free(names);
    if (!ok) {
        mof_verify_report_destroy(rep);
        return NULL;
    }
    return rep;
}

static void check_free(runner *r)
{
    size_t n_outs = r->n_sets * r->n_out;
    if (r->check_in)
        mof_tensors_release(r->n_sets * r->n_in, r->check_in);
    if (r->ref_out)
        mof_tensors_release(n_outs, r->ref_out);
    if (r->prev_out)
        mof_tensors_release(n_outs, r->prev_out);
    free(r->check_in);
    free(r->ref_out);
    free(r->prev_out);
    r->check_in = r->ref_out = r->prev_out = NULL;
    r->checking = false;
}

/* Makes the random inputs and runs the input model on them. */
static mof_status check_setup(runner *r)
{
    mof_context *ctx = r->ctx;
    const mof_run_options *o = &r->opts;
    if (o->check_inputs == 0 || !(o->rtol >= 0) || !(o->atol >= 0) || isinf(o->rtol) ||
        isinf(o->atol))
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL,
                          "numeric checks need at least one input set and finite, "
                          "non-negative tolerances (got %zu input sets, rtol %g, atol %g)",
                          o->check_inputs, o->rtol, o->atol);
    const mof_graph *g = mof_model_graph(r->model);
    r->n_sets = o->check_inputs;
    r->n_in = mof_graph_n_inputs(g);
    r->n_out = mof_graph_n_outputs(g);
    size_t w_in = r->n_in ? r->n_in : 1, w_out = r->n_out ? r->n_out : 1;
    if (r->n_sets > SIZE_MAX / w_in / 2 || r->n_sets > SIZE_MAX / w_out / 2)
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL,
                          "too many input sets for numeric checks (%zu)", r->n_sets);
    r->checking = true;
    r->check_in = mof_calloc(r->n_sets * w_in, sizeof(*r->check_in));
    r->ref_out = mof_calloc(r->n_sets * w_out, sizeof(*r->ref_out));
    if (o->check_each)
        r->prev_out = mof_calloc(r->n_sets * w_out, sizeof(*r->prev_out));
    if (!r->check_in || !r->ref_out || (o->check_each && !r->prev_out))
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
    for (size_t k = 0; k < r->n_sets; k++) {
        mof_status st = mof_random_inputs(ctx, r->model, o->check_seed + k, r->n_in,
                                          r->check_in + k * r->n_in);
        if (st != MOF_OK)
            return mof_report(ctx, MOF_SEVERITY_ERROR, st, NULL,
                              "numeric checks need random inputs for the model, and these "
                              "cannot be made (see above)");
    }
    mof_status st = check_run(r, r->model, r->ref_out);
    if (st != MOF_OK)
        return mof_report(ctx, MOF_SEVERITY_ERROR, st, NULL,
                          "numeric checks cannot run the input model with the reference "
                          "interpreter (see above)");
    for (size_t i = 0; o->check_each && i < r->n_sets * r->n_out; i++)
        r->prev_out[i] = mof_tensor_ref(r->ref_out[i]);
    return MOF_OK;
}

/* Appends text as XML: escaped for an attribute value, or, for a comment, with no
 * "--" (which comments cannot hold). */
static void xml_put(mof_strbuf *sb, const char *text, bool attr)
{
    char last = 0;
    for (const char *p = text; *p; p++) {
        char c = *p;
        if (attr && c == '&')
            mof_strbuf_puts(sb, "&amp;");
        else if (attr && c == '<')
            mof_strbuf_puts(sb, "&lt;");
        else if (attr && c == '>')
            mof_strbuf_puts(sb, "&gt;");
        else if (attr && c == '"')
            mof_strbuf_puts(sb, "&quot;");
        else if (attr && (c == '\n' || c == '\r' || c == '\t'))
            mof_strbuf_printf(sb, "&#%d;", c);
        else if (!attr && c == '-' && last == '-')
            mof_strbuf_puts(sb, " -");
        else
            mof_strbuf_append(sb, &c, 1);
        last = c;
    }
}

/* The pass name as it goes into a file name. */
static char *file_part(const char *name)
{
    char *s = mof_strdup(name);
    for (char *p = s; p && *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
            *p = '_';
    return s;
}

/* The shortest text of v that reads back as v (buf of 32 bytes). */
static const char *exact_num(char *buf, double v)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, 32, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return buf;
}

/* The check options of mof run that differ from the defaults (owned). */
static char *check_options(const runner *r)
{
    const mof_run_options *o = &r->opts;
    char num[32];
    mof_strbuf sb;
    mof_strbuf_init(&sb);
    mof_strbuf_puts(&sb, "--check");
    if (o->check_inputs != MOF_VERIFY_DEFAULT_SETS)
        mof_strbuf_printf(&sb, " --check-inputs %zu", o->check_inputs);
    if (o->check_seed != 0)
        mof_strbuf_printf(&sb, " --seed %" PRIu64, o->check_seed);
    if (o->rtol != MOF_VERIFY_DEFAULT_RTOL)
        mof_strbuf_printf(&sb, " --rtol %s", exact_num(num, o->rtol));
    if (o->atol != MOF_VERIFY_DEFAULT_ATOL)
        mof_strbuf_printf(&sb, " --atol %s", exact_num(num, o->atol));
    return mof_strbuf_take(&sb);
}

/* The one-pass pipeline that reproduces a failed check of step s (owned). */
static char *repro_pipeline(runner *r, const mof_step *s, const char *summary,
                            const char *before_path, const char *xml_path)
{
    const mof_run_options *o = &r->opts;
    const mof_plugin_info *info = mof_context_plugin(r->ctx, s->plugin_index);
    mof_strbuf sb;
    mof_strbuf_init(&sb);
    mof_strbuf_puts(&sb, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- ");
    char *head = mof_asprintf("Written by mof %s: pass '%s' at %s:%u changed what the "
                              "model computes:", MOF_VERSION_STRING, s->name,
                              mof_pipeline_file(r->p), s->line);
    xml_put(&sb, head ? head : "", false);
    free(head);
    mof_strbuf_puts(&sb, "\n       ");
    xml_put(&sb, summary ? summary : "", false);
    mof_strbuf_puts(&sb, "\n     ");
    xml_put(&sb, before_path, false);
    mof_strbuf_puts(&sb, " is the model as it was before that pass. To reproduce,\n"
                         "     run this pipeline over it with the mof run options check, "
                         "check-inputs ");
    char rtol[32], atol[32];
    mof_strbuf_printf(&sb, "%zu,\n     seed %" PRIu64 ", rtol %s and atol %s (each name "
                      "after two dashes):\n       mof run [options] ", o->check_inputs,
                      o->check_seed, exact_num(rtol, o->rtol), exact_num(atol, o->atol));
    xml_put(&sb, xml_path, false);
    mof_strbuf_puts(&sb, " ");
    xml_put(&sb, before_path, false);
    mof_strbuf_puts(&sb, " -o OUT.onnx -->\n<pipeline name=\"repro-");
    xml_put(&sb, s->name, true);
    mof_strbuf_puts(&sb, "\">\n");
    if (info && info->path && strcmp(info->path, "(static)") != 0) {
        char *abs = realpath(info->path, NULL);
        mof_strbuf_puts(&sb, "  <plugin path=\"");
        xml_put(&sb, abs ? abs : info->path, true);
        mof_strbuf_puts(&sb, "\"/>\n");
        free(abs);
    }
    mof_strbuf_puts(&sb, "  <pass name=\"");
    xml_put(&sb, s->name, true);
    mof_strbuf_puts(&sb, "\"");
    for (size_t i = 0; i < s->n_params; i++) {
        mof_strbuf_printf(&sb, " %s=\"", s->params[i].name);
        xml_put(&sb, s->params[i].value ? s->params[i].value : "", true);
        mof_strbuf_puts(&sb, "\"");
    }
    mof_strbuf_puts(&sb, "/>\n</pipeline>\n");
    return mof_strbuf_take(&sb);
}

/* Writes the reproducer of a failed check of step s beside the output: the model
 * before the pass and a one-pass pipeline. Returns what to add to the error message
 * ("; reproducer: ...", owned) and in *command the command line that reproduces the
 * failure (owned), or NULL for both when nothing was written. Problems are warnings:
 * the check already failed, and says why. */
static char *write_reproducer(runner *r, const mof_step *s, const mof_model *before,
                              const char *summary, char **command)
{
    mof_context *ctx = r->ctx;
    const char *out = r->opts.output;
    char *written = NULL;
    *command = NULL;
    size_t len = out ? strlen(out) : 0;
    while (len > 1 && out[len - 1] == '/')
        len--;
    if (len == 0)
        return mof_strdup("; no reproducer was written (the run has no output path)");
    char *name = file_part(s->name);
    char *base = mof_strndup(out, len);
    char *before_path = name && base ? mof_asprintf("%s.before-%s.onnx", base, name) : NULL;
    char *xml_path = name && base ? mof_asprintf("%s.repro-%s.xml", base, name) : NULL;
    char *xml = before_path && xml_path ? repro_pipeline(r, s, summary, before_path, xml_path)
                                        : NULL;
    char *opts = check_options(r);
    if (!xml || !opts) {
        mof_report(ctx, MOF_SEVERITY_WARNING, MOF_ERR_NOMEM, NULL,
                   "out of memory: no reproducer was written");
        goto out;
    }
    const char *in = r->opts.input_path;
    if (same_file(before_path, in) || same_file(xml_path, in)) {
        mof_report(ctx, MOF_SEVERITY_WARNING, MOF_ERR_INVALID_ARG, NULL,
                   "no reproducer was written: %s or %s is the input model", before_path,
                   xml_path);
        goto out;
    }
    mof_status st = mof_model_save(before, before_path, NULL);
    if (st == MOF_OK) {
        mof_output *o = mof_output_open_file(ctx, xml_path);
        if (!o)
            st = MOF_ERR_IO;
        else if (fputs(xml, mof_output_file(o)) < 0)
            st = MOF_ERR_IO;
        if (o && st == MOF_OK)
            st = mof_output_commit(o);
        else
            mof_output_abort(o);
        if (st != MOF_OK)
            remove(before_path);
    }
    if (st != MOF_OK) {
        /* The reasons were reported above; the run already failed on the check. */
        mof_report(ctx, MOF_SEVERITY_WARNING, st, NULL,
                   "the reproducer of pass '%s' could not be written", s->name);
        goto out;
    }
    written = mof_asprintf("; reproducer: %s (the model before the pass) and %s (the pass "
                           "alone)", before_path, xml_path);
    *command = mof_asprintf("mof run %s %s %s -o %s.repro-%s.onnx", opts, xml_path,
                            before_path, base, name);
out:
    free(opts);
    free(xml);
    free(xml_path);
    free(before_path);
    free(base);
    free(name);
    return written;
}

/* Reports a failed check of step s, with its reproducer. */
static void report_check_failure(runner *r, const mof_step *s, const mof_location *loc,
                                 const mof_model *before, const char *what,
                                 const char *where, const char *summary)
{
    char *command = NULL;
    char *files = write_reproducer(r, s, before, summary, &command);
    mof_report(r->ctx, MOF_SEVERITY_ERROR, MOF_ERR_VERIFY, loc, "pass '%s'%s %s: %s%s",
               s->name, where, what, summary ? summary : "out of memory", files ? files : "");
    if (command)
        mof_report(r->ctx, MOF_SEVERITY_NOTE, MOF_OK, NULL, "to reproduce: %s", command);
    free(files);
    free(command);
}

/* After step s ran (successfully) on r->model: compares the model's outputs with the
 * outputs of the model before it (before, the snapshot). On a failure reports it,
 * writes the reproducer and returns the error; the caller restores the model. */
static mof_status check_pass(runner *r, const mof_step *s, unsigned iteration,
                             const mof_model *before, const mof_location *loc)
{
    mof_context *ctx = r->ctx;
    const mof_pass_desc *d = s->pass;
    double rtol = r->opts.rtol;
    if ((d->flags & MOF_PASS_CHANGES_NUMERICS) && d->tolerance > rtol)
        rtol = d->tolerance;
    char where[64] = "";
    if (iteration)
        snprintf(where, sizeof(where), " (iteration %u of its repeat)", iteration);
    mof_context_set_subject(ctx, NULL, NULL, NULL);

    const mof_graph *g = mof_model_graph(r->model);
    if (mof_graph_n_inputs(g) != r->n_in || mof_graph_n_outputs(g) != r->n_out) {
        char *summary = mof_asprintf("the model had %zu inputs and %zu outputs before it, "
                                     "%zu and %zu after", r->n_in, r->n_out,
                                     mof_graph_n_inputs(g), mof_graph_n_outputs(g));
        report_check_failure(r, s, loc, before, "changed the model's interface", where,
                             summary);
        free(summary);
        return MOF_ERR_VERIFY;
    }
    mof_tensor **outs = mof_calloc(r->n_sets * (r->n_out ? r->n_out : 1), sizeof(*outs));
    if (!outs)
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
    mof_status st = check_run(r, r->model, outs);
    if (st != MOF_OK) {
        mof_report(ctx, MOF_SEVERITY_ERROR, st, loc,
                   "pass '%s'%s cannot be checked: the reference interpreter cannot run the "
                   "model after it (see above)", s->name, where);
        free(outs);
        return st;
    }
    mof_verify_report *rep = check_compare(r, r->prev_out, outs, rtol);
    if (!rep) {
        st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
    } else if (!mof_verify_report_passed(rep)) {
        char *summary = mof_verify_report_summary(rep);
        report_check_failure(r, s, loc, before, "changed what the model computes", where,
                             summary);
        free(summary);
        st = MOF_ERR_VERIFY;
    }
    if (st == MOF_OK) {
        /* The model after this pass is the model before the next. */
        mof_tensors_release(r->n_sets * r->n_out, r->prev_out);
        memcpy(r->prev_out, outs, r->n_sets * r->n_out * sizeof(*outs));
        r->n_checked++;
    } else {
        mof_tensors_release(r->n_sets * r->n_out, outs);
    }
    mof_verify_report_destroy(rep);
    free(outs);
    return st;
}

/* At the end of the passes: the final model against the input model. */
static mof_status check_final(runner *r)
{
    mof_context *ctx = r->ctx;
    const mof_run_options *o = &r->opts;
    double rtol = r->declared_tol > o->rtol ? r->declared_tol : o->rtol;
    const mof_graph *g = mof_model_graph(r->model);
    mof_context_set_subject(ctx, NULL, NULL, NULL);
    if (mof_graph_n_inputs(g) != r->n_in || mof_graph_n_outputs(g) != r->n_out)
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_VERIFY, NULL,
                          "check: the optimized model does not have the input model's "
                          "interface: %zu inputs and %zu outputs, against %zu and %zu",
                          mof_graph_n_inputs(g), mof_graph_n_outputs(g), r->n_in, r->n_out);
    mof_tensor **outs = r->prev_out;
    mof_status st = MOF_OK;
    if (!o->check_each) {
        outs = mof_calloc(r->n_sets * (r->n_out ? r->n_out : 1), sizeof(*outs));
        if (!outs)
            return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
        st = check_run(r, r->model, outs);
        if (st != MOF_OK) {
            free(outs);
            return mof_report(ctx, MOF_SEVERITY_ERROR, st, NULL,
                              "check: the reference interpreter cannot run the optimized "
                              "model (see above), so it cannot be checked");
        }
    }
    mof_verify_report *rep = check_compare(r, r->ref_out, outs, rtol);
    char *summary = rep ? mof_verify_report_summary(rep) : NULL;
    if (!rep || !summary) {
        st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
    } else if (!mof_verify_report_passed(rep)) {
        st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_VERIFY, NULL,
                        "check: the optimized model does not compute what the input model "
                        "computes: %s", summary);
        if (o->check_each)
            mof_report(ctx, MOF_SEVERITY_NOTE, MOF_OK, NULL, "each pass was within the "
                       "tolerance on its own; their errors add up past it");
        else
            mof_report(ctx, MOF_SEVERITY_NOTE, MOF_OK, NULL, "run again with --check-each "
                       "to find the pass that changed it");
    } else {
        if (o->check_each && add_note(r, "check-each: %zu pass run%s checked, each within "
                                      "tolerance", r->n_checked,
                                      r->n_checked == 1 ? "" : "s") != MOF_OK)
            st = MOF_ERR_NOMEM;
        if (st == MOF_OK && add_note(r, "check: the optimized model computes what the input "
                                     "model computes (%zu random input set%s, seed %" PRIu64
                                     "): %s", r->n_sets, r->n_sets == 1 ? "" : "s",
                                     o->check_seed, summary) != MOF_OK)
            st = MOF_ERR_NOMEM;
        if (st != MOF_OK)
            mof_report(ctx, MOF_SEVERITY_ERROR, st, NULL, "out of memory");
    }
    free(summary);
    mof_verify_report_destroy(rep);
    if (outs != r->prev_out) {
        mof_tensors_release(r->n_sets * r->n_out, outs);
        free(outs);
    }
    return st;
}

/* Runs one pass step. *changed is set when it returned MOF_OK. */
static void run_pass(runner *r, const mof_step *s, unsigned iteration, bool *changed)
{
    const mof_pass_desc *d = s->pass;
    mof_context *ctx = r->ctx;
    mof_location loc = { mof_pipeline_file(r->p), s->line, s->column };
    mof_pass_ctx pc = { .ctx = ctx, .desc = d, .name = s->name };
    mof_model *snapshot = NULL;
    double seconds = 0;
    size_t nodes_before = count_nodes(r->model);
    mof_param_owner owner = mof_step_owner(r->p, s);
    mof_param_arg *args = mof_step_param_args(r->p, s);
    void *priv = mof_calloc(1, d->priv_size);
    mof_status st;
    *changed = false;
    if (!priv || (s->n_params && !args)) {
        free(args);
        free(priv);
        nomem(r);
        return;
    }

    /* Parameters were checked when the pipeline loaded; errors here are unlikely and
     * carry their own "pass 'x':" prefix, so no subject is set yet. */
    st = mof_params_apply(ctx, &owner, d->params, s->n_params, args, priv);
    free(args);
    mof_context_set_subject(ctx, plugin_name(r, s), s->name, NULL);
    if (st == MOF_OK && d->init) {
        size_t before = mof_context_n_diags(ctx);
        st = d->init(&pc, priv);
        if (st == MOF_UNCHANGED)
            st = MOF_OK;
        if (st != MOF_OK && !first_error_since(ctx, before))
            mof_report(ctx, MOF_SEVERITY_ERROR, st < 0 ? st : MOF_ERR_INTERNAL, &loc,
                       "init failed (%s)", mof_status_str(st));
        if (st > 0)
            st = MOF_ERR_INTERNAL;
    }
    if (st == MOF_OK) {
        snapshot = mof_model_dup(r->model);
        if (!snapshot)
            st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL,
                            "out of memory while taking a snapshot of the model");
    }
    if (st == MOF_OK) {
        size_t before = mof_context_n_diags(ctx);
        double t0 = now();
        st = d->run(&pc, r->model, priv);
        seconds = now() - t0;
        if (st != MOF_OK && st != MOF_UNCHANGED) {
            if (st > 0) {
                mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INTERNAL, &loc,
                           "returned the unknown status %d", (int)st);
                st = MOF_ERR_INTERNAL;
            } else if (!first_error_since(ctx, before)) {
                mof_report(ctx, MOF_SEVERITY_ERROR, st, &loc, "failed (%s) without saying "
                           "why", mof_status_str(st));
            }
            /* The snapshot now holds what the pass made; it is destroyed below. */
            mof_model_swap_contents(r->model, snapshot);
            mof_context_set_subject(ctx, NULL, NULL, NULL);
            mof_report(ctx, MOF_SEVERITY_NOTE, MOF_OK, &loc, "pass '%s' failed; the model is "
                       "as it was before it%s", s->name,
                       r->opts.keep_going ? ", and the run goes on" : "");
        } else if (r->opts.verify_each) {
            /* Violations are reported with the pass as subject, then summed up. */
            before = mof_context_n_diags(ctx);
            mof_status vst = mof_graph_verify(ctx, mof_model_graph(r->model));
            if (vst != MOF_OK) {
                size_t n_problems = 0;
                for (size_t i = before; i < mof_context_n_diags(ctx); i++)
                    n_problems += mof_context_diag(ctx, i)->severity == MOF_SEVERITY_ERROR;
                const char *first = first_error_since(ctx, before);
                char *msg = mof_strdup(first ? first : mof_status_str(vst));
                mof_model_swap_contents(r->model, snapshot);
                mof_context_set_subject(ctx, NULL, NULL, NULL);
                mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_VERIFY, &loc,
                           "pass '%s' broke the graph: %s%s; the model is as it was before "
                           "the pass", s->name, msg ? msg : "out of memory",
                           n_problems > 1 ? " (and more, listed above)" : "");
                free(msg);
                st = MOF_ERR_VERIFY;
            }
        }
        if ((st == MOF_OK || st == MOF_UNCHANGED) && r->checking && r->opts.check_each) {
            mof_status cst = check_pass(r, s, iteration, snapshot, &loc);
            if (cst != MOF_OK) {
                mof_model_swap_contents(r->model, snapshot);
                if (r->opts.keep_going)
                    mof_report(ctx, MOF_SEVERITY_NOTE, MOF_OK, &loc, "pass '%s' is undone, "
                               "and the run goes on", s->name);
                st = cst;
            }
        }
    }
    mof_context_set_subject(ctx, plugin_name(r, s), s->name, NULL);
    if (d->fini)
        d->fini(priv);
    mof_context_set_subject(ctx, NULL, NULL, NULL);
    mof_params_free(d->params, priv);
    free(priv);
    mof_model_destroy(snapshot);

    if (st < 0)
        pass_ctx_clear(&pc);   /* what a rolled-back run counted did not happen */
    mof_step_report *row = add_row(r, s, iteration, &pc);
    pass_ctx_clear(&pc);
    if (!row) {
        nomem(r);
        return;
    }
    row->status = st;
    row->seconds = seconds;
    row->nodes_before = nodes_before;
    row->nodes_after = count_nodes(r->model);
    if (st < 0) {
        fail(r, st);
        return;
    }
    if ((d->flags & MOF_PASS_CHANGES_NUMERICS) && d->tolerance > r->declared_tol)
        r->declared_tol = d->tolerance;
    *changed = st == MOF_OK;
    if (wants_print(r, s->name)) {
        FILE *log = r->opts.log;
        fprintf(log, "# after pass '%s' (%s:%u", s->name, mof_pipeline_file(r->p), s->line);
        if (iteration)
            fprintf(log, ", iteration %u", iteration);
        fputs(")\n", log);
        mof_print_model(log, r->model);
        fflush(log);
    }
}

static void run_steps(runner *r, const mof_step *steps, size_t n, unsigned iteration,
                      bool *changed);

static void run_repeat(runner *r, const mof_step *s, bool *changed)
{
    bool last_changed = false;
    for (unsigned it = 1; it <= s->max_iterations && !r->stop; it++) {
        bool c = false;
        run_steps(r, s->body, s->n_body, it, &c);
        last_changed = c;
        if (c)
            *changed = true;
        else
            break;
    }
    if (last_changed && !r->stop &&
        add_note(r, "repeat at %s:%u stopped at its bound of %u iterations while still "
                 "changing the graph", mof_pipeline_file(r->p), s->line,
                 s->max_iterations) != MOF_OK)
        nomem(r);
}

static void run_steps(runner *r, const mof_step *steps, size_t n, unsigned iteration,
                      bool *changed)
{
    for (size_t i = 0; i < n && !r->stop; i++) {
        bool c = false;
        if (steps[i].kind == MOF_STEP_REPEAT)
            run_repeat(r, &steps[i], &c);
        else if (steps[i].kind == MOF_STEP_PASS)
            run_pass(r, &steps[i], iteration, &c);
        if (c)
            *changed = true;
    }
}

/* ------------------------------------------------------------------ metadata */

static bool collect_plugins(const mof_step *steps, size_t n, bool *used, size_t n_plugins)
{
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        if (steps[i].kind == MOF_STEP_REPEAT) {
            any |= collect_plugins(steps[i].body, steps[i].n_body, used, n_plugins);
        } else if (steps[i].plugin_index < n_plugins) {
            used[steps[i].plugin_index] = true;
            any = true;
        }
    }
    return any;
}

/* "cleanup 0.1.0, onnx 0.1.0": the plugins whose passes or backends the pipeline
 * uses, in load order. */
static char *used_plugins(runner *r)
{
    size_t n = mof_context_n_plugins(r->ctx);
    bool *used = mof_calloc(n ? n : 1, sizeof(*used));
    if (!used)
        return NULL;
    collect_plugins(r->p->steps, r->p->n_steps, used, n);
    collect_plugins(r->p->backends, r->p->n_backends, used, n);
    mof_strbuf sb;
    mof_strbuf_init(&sb);
    mof_strbuf_puts(&sb, "");
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        if (!used[i])
            continue;
        const mof_plugin_info *info = mof_context_plugin(r->ctx, i);
        mof_strbuf_printf(&sb, "%s%s %s", first ? "" : ", ", info->name,
                          info->version ? info->version : "?");
        first = false;
    }
    free(used);
    return mof_strbuf_take(&sb);
}

static mof_status record_metadata(runner *r)
{
    char *pipeline = mof_asprintf("%s sha256:%s", mof_pipeline_name(r->p),
                                  mof_pipeline_hash(r->p));
    char *plugins = used_plugins(r);
    mof_status st = MOF_ERR_NOMEM;
    if (pipeline && plugins) {
        st = mof_model_metadata_set(r->model, "mof.version", MOF_VERSION_STRING);
        if (st == MOF_OK)
            st = mof_model_metadata_set(r->model, "mof.pipeline", pipeline);
        if (st == MOF_OK)
            st = mof_model_metadata_set(r->model, "mof.plugins", plugins);
    }
    free(pipeline);
    free(plugins);
    if (st != MOF_OK)
        mof_report(r->ctx, MOF_SEVERITY_ERROR, st, NULL,
                   "cannot record the mof.* metadata: %s", mof_status_str(st));
    return st;
}

/* ------------------------------------------------------------------ outputs */

static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (!a || !b || stat(a, &sa) != 0 || stat(b, &sb) != 0)
        return false;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Whether `inner` lies inside the existing folder `dir`. */
static bool is_inside(const char *inner, const char *dir)
{
    char *ri = realpath(inner, NULL), *rd = realpath(dir, NULL);
    bool inside = false;
    if (ri && rd) {
        size_t n = strlen(rd);
        inside = strncmp(ri, rd, n) == 0 && (ri[n] == '/' || (n == 1 && rd[0] == '/'));
    }
    free(ri);
    free(rd);
    return inside;
}

/* mkdir -p */
static mof_status make_dirs(mof_context *ctx, const char *path)
{
    char *copy = mof_strdup(path);
    if (!copy)
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
    mof_status st = MOF_OK;
    size_t len = strlen(copy);
    for (size_t i = 1; i <= len; i++) {
        if (copy[i] != '/' && copy[i] != '\0')
            continue;
        char c = copy[i];
        copy[i] = '\0';
        struct stat sb;
        if (stat(copy, &sb) == 0) {
            if (!S_ISDIR(sb.st_mode)) {
                st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_IO, NULL,
                                "cannot use '%s' as the output folder: '%s' is not a folder",
                                path, copy);
                break;
            }
        } else if (mkdir(copy, 0777) != 0 && errno != EEXIST) {
            st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_IO, NULL,
                            "cannot create the output folder '%s': %s", copy, strerror(errno));
            break;
        }
        copy[i] = c;
    }
    free(copy);
    return st;
}

static mof_status write_model(runner *r)
{
    const char *out = r->opts.output, *in = r->opts.input_path;
    if (!out)
        return MOF_OK;
    if (same_file(out, in))
        return mof_report(r->ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL,
                          "refusing to write over the input model %s", in);
    return mof_model_save(r->model, out, NULL);
}

typedef struct backend_run {
    const mof_step *step;
    void *priv;
    char *path;
    bool params_ok;
    mof_backend_ctx bc;
} backend_run;

/* The default domain is written "" or "ai.onnx". */
static const char *norm_domain(const char *d)
{
    return !d || strcmp(d, "ai.onnx") == 0 ? "" : d;
}

/* Matches a node against a backend's op table. On false, why (size bytes) says why. */
static bool in_op_table(const mof_backend_desc *b, const mof_model *m, const mof_node *n,
                        char *why, size_t size)
{
    if (!b->ops)
        return true;
    const char *domain = norm_domain(mof_node_domain(n));
    const char *op = mof_node_op_type(n) ? mof_node_op_type(n) : "";
    int64_t opset = mof_model_opset(m, domain);
    const mof_op_support *range = NULL;
    for (const mof_op_support *e = b->ops; e->domain || e->op_type; e++) {
        bool dom_ok = !e->domain || strcmp(e->domain, "*") == 0 ||
                      strcmp(norm_domain(e->domain), domain) == 0;
        bool op_ok = !e->op_type || strcmp(e->op_type, "*") == 0 || strcmp(e->op_type, op) == 0;
        if (!dom_ok || !op_ok)
            continue;
        bool lo = e->since_opset == 0 || (opset >= 0 && opset >= e->since_opset);
        bool hi = e->until_opset == 0 || (opset >= 0 && opset <= e->until_opset);
        if (lo && hi)
            return true;
        range = e;
    }
    if (range) {
        char lo[32] = "", hi[32] = "";
        snprintf(lo, sizeof(lo), "%" PRId64, range->since_opset);
        snprintf(hi, sizeof(hi), "%" PRId64, range->until_opset);
        if (opset < 0)
            snprintf(why, size, "the model does not import the domain '%s'", domain);
        else if (range->since_opset && range->until_opset)
            snprintf(why, size, "opset %" PRId64 " is outside the supported range [%s, %s]",
                     opset, lo, hi);
        else if (range->since_opset)
            snprintf(why, size, "opset %" PRId64 " is older than opset %s, the first it "
                     "supports", opset, lo);
        else
            snprintf(why, size, "opset %" PRId64 " is newer than opset %s, the last it "
                     "supports", opset, hi);
    } else {
        snprintf(why, size, "the op is not in its op table");
    }
    return false;
}

/* Asks the backend of step s (instance priv) about node n: the op table, then
 * supports_node. On false *why says why (in why_buf when the op table refused it); on
 * true *note is what supports_node left in its reason (the backend's note on how it
 * runs the node), or NULL. */
static bool backend_supports(runner *r, const mof_step *s, void *priv, const mof_node *n,
                             char *why_buf, size_t size, const char **why, const char **note)
{
    const mof_backend_desc *b = s->backend;
    *why = why_buf;
    *note = NULL;
    bool ok = in_op_table(b, r->model, n, why_buf, size);
    if (ok && b->supports_node) {
        const char *reason = NULL;
        mof_context_set_subject(r->ctx, plugin_name(r, s), NULL, s->name);
        ok = b->supports_node(n, &reason, priv);
        mof_context_set_subject(r->ctx, NULL, NULL, NULL);
        if (ok)
            *note = reason;
        else
            *why = reason ? reason : "no reason given";
    }
    if (ok)
        *why = NULL;
    return ok;
}

/* Checks every node of the main graph; reports each unsupported one. */
static mof_status check_support(runner *r, backend_run *br)
{
    const mof_backend_desc *b = br->step->backend;
    mof_status st = MOF_OK;
    mof_location loc = { mof_pipeline_file(r->p), br->step->line, br->step->column };
    for (const mof_node *n = mof_graph_first_node(mof_model_graph(r->model)); n;
         n = mof_node_next(n)) {
        char why_buf[256];
        const char *why, *note;
        if (backend_supports(r, br->step, br->priv, n, why_buf, sizeof(why_buf), &why, &note))
            continue;
        const char *domain = mof_node_domain(n);
        const char *name = mof_node_name(n);
        char id[32];
        snprintf(id, sizeof(id), "#%" PRIu32, mof_node_id(n));
        char dom[256] = "";
        if (domain[0])
            snprintf(dom, sizeof(dom), ", domain '%s'", domain);
        mof_report(r->ctx, MOF_SEVERITY_ERROR, MOF_ERR_UNSUPPORTED, &loc,
                   "node '%s' (%s%s): not supported by backend '%s': %s",
                   name[0] ? name : id, mof_node_op_type(n) ? mof_node_op_type(n) : "?", dom,
                   b->name, why);
        st = MOF_ERR_UNSUPPORTED;
    }
    return st;
}

/* Makes the instance of backend step s in br: private struct, parameters, init. With
 * an input path `in`, an output (br->path) that would write over it is refused (init is
 * not called then). On failure the error is reported; br->params_ok says whether fini
 * must run. */
static mof_status backend_instantiate(runner *r, const mof_step *s, backend_run *br,
                                      const char *provenance, const char *in)
{
    mof_pipeline *p = r->p;
    mof_context *ctx = r->ctx;
    const mof_backend_desc *b = s->backend;
    mof_location loc = { mof_pipeline_file(p), s->line, s->column };
    br->step = s;
    br->bc = (mof_backend_ctx){ ctx, b, s->name, provenance };
    br->priv = mof_calloc(1, b->priv_size);
    mof_param_arg *args = mof_step_param_args(p, s);
    if (!br->priv || (s->n_params && !args)) {
        free(args);
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
    }
    mof_param_owner owner = mof_step_owner(p, s);
    mof_status bst = mof_params_apply(ctx, &owner, b->params, s->n_params, args, br->priv);
    free(args);
    br->params_ok = true;   /* fini runs for every allocated instance */
    if (in && br->path && (same_file(br->path, in) || is_inside(in, br->path))) {
        mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, &loc,
                   "backend '%s' would write over the input model %s (output '%s')",
                   s->name, in, br->path);
        bst = bst != MOF_OK ? bst : MOF_ERR_INVALID_ARG;
    }
    if (bst == MOF_OK && b->init) {
        size_t before = mof_context_n_diags(ctx);
        mof_context_set_subject(ctx, plugin_name(r, s), NULL, s->name);
        bst = b->init(&br->bc, br->priv);
        if (bst == MOF_UNCHANGED)
            bst = MOF_OK;
        if (bst != MOF_OK && !first_error_since(ctx, before))
            mof_report(ctx, MOF_SEVERITY_ERROR, bst < 0 ? bst : MOF_ERR_INTERNAL, &loc,
                       "init failed (%s)", mof_status_str(bst));
        mof_context_set_subject(ctx, NULL, NULL, NULL);
        if (bst > 0)
            bst = MOF_ERR_INTERNAL;
    }
    return bst;
}

/* Runs fini (when the parameters were applied) and frees the instance. */
static void backend_release(runner *r, backend_run *br)
{
    if (br->params_ok && br->step->backend->fini) {
        mof_context_set_subject(r->ctx, plugin_name(r, br->step), NULL, br->step->name);
        br->step->backend->fini(br->priv);
        mof_context_set_subject(r->ctx, NULL, NULL, NULL);
    }
    if (br->step)
        mof_params_free(br->step->backend->params, br->priv);
    free(br->priv);
    free(br->path);
}

static mof_status run_backends(runner *r)
{
    mof_pipeline *p = r->p;
    mof_context *ctx = r->ctx;
    const char *dir = r->opts.output, *in = r->opts.input_path;
    if (!dir)
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL,
                          "the pipeline has backends, so it needs an output folder (-o)");
    if (same_file(dir, in))
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL,
                          "refusing to write over the input model %s", in);
    backend_run *runs = mof_calloc(p->n_backends, sizeof(*runs));
    char *provenance = mof_asprintf("mof %s; pipeline %s sha256:%s", MOF_VERSION_STRING,
                                    mof_pipeline_name(p), mof_pipeline_hash(p));
    mof_status st = MOF_OK;
    if (!runs || !provenance) {
        st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    /* Instantiate and check every backend before any emits. */
    for (size_t i = 0; i < p->n_backends; i++) {
        backend_run *br = &runs[i];
        const mof_step *s = &p->backends[i];
        const mof_backend_desc *b = s->backend;
        const char *name = s->output ? s->output : b->default_output;
        br->step = s;
        br->path = mof_asprintf("%s/%s", dir, name);
        if (!br->path) {
            st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
            goto out;
        }
        mof_status bst = backend_instantiate(r, s, br, provenance, in);
        if (bst == MOF_ERR_NOMEM && !br->params_ok) {
            st = bst;
            goto out;
        }
        if (bst == MOF_OK)
            bst = check_support(r, br);
        if (bst != MOF_OK && st == MOF_OK)
            st = bst;
    }
    if (st != MOF_OK)
        goto out;
    /* Only now, so that a refused run leaves no trace. */
    st = make_dirs(ctx, dir);
    if (st != MOF_OK)
        goto out;

    for (size_t i = 0; i < p->n_backends; i++) {
        backend_run *br = &runs[i];
        const mof_step *s = br->step;
        mof_location loc = { mof_pipeline_file(p), s->line, s->column };
        /* An output such as "cpu/model" gets its folders. */
        const char *slash = strrchr(br->path, '/');
        if (slash && (size_t)(slash - br->path) > strlen(dir)) {
            char *parent = mof_strndup(br->path, (size_t)(slash - br->path));
            mof_status dst = parent ? make_dirs(ctx, parent)
                                    : mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL,
                                                 "out of memory");
            free(parent);
            if (dst != MOF_OK) {
                st = dst;
                break;
            }
        }
        size_t before = mof_context_n_diags(ctx);
        mof_context_set_subject(ctx, plugin_name(r, s), NULL, s->name);
        double t0 = now();
        mof_status est = s->backend->emit(&br->bc, r->model, br->path, br->priv);
        double seconds = now() - t0;
        if (est == MOF_UNCHANGED)
            est = MOF_OK;
        if (est != MOF_OK && !first_error_since(ctx, before))
            mof_report(ctx, MOF_SEVERITY_ERROR, est < 0 ? est : MOF_ERR_INTERNAL, &loc,
                       "emit failed (%s)", mof_status_str(est));
        mof_context_set_subject(ctx, NULL, NULL, NULL);
        if (est > 0)
            est = MOF_ERR_INTERNAL;
        mof_step_report *row = add_row(r, s, 0, NULL);
        if (!row || (est == MOF_OK && !(row->output = mof_strdup(br->path)))) {
            st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
            break;
        }
        row->status = est;
        row->seconds = seconds;
        if (est != MOF_OK) {
            if (st == MOF_OK)
                st = est;
            if (!r->opts.keep_going)
                break;
        }
    }

out:
    for (size_t i = 0; runs && i < p->n_backends; i++)
        backend_release(r, &runs[i]);
    free(runs);
    free(provenance);
    return st;
}

mof_status mof_pipeline_run(mof_pipeline *p, mof_model *model, const mof_run_options *opts,
                            mof_run_report **report)
{
    if (report)
        *report = NULL;
    if (!p || !model)
        return MOF_ERR_INVALID_ARG;
    runner r = { .p = p, .ctx = p->ctx, .model = model };
    mof_run_options_init(&r.opts);
    if (opts) {
        /* The struct only grows: take what the caller's version has. */
        size_t n = opts->size && opts->size < sizeof(r.opts) ? opts->size : sizeof(r.opts);
        memcpy(&r.opts, opts, n);
        r.opts.size = sizeof(r.opts);
    }
    r.report = mof_calloc(1, sizeof(*r.report));
    if (!r.report)
        return mof_report(r.ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
    if (mof_model_context(model) != p->ctx) {
        mof_report(r.ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL,
                   "the model and the pipeline belong to different contexts");
        fail(&r, MOF_ERR_INVALID_ARG);
        goto done;
    }

    mof_status st = mof_pipeline_apply_input_shapes(p, model);
    if (st != MOF_OK) {
        fail(&r, st);
        goto done;
    }
    if (r.opts.check || r.opts.check_each) {
        st = check_setup(&r);
        if (st != MOF_OK) {
            fail(&r, st);
            r.stop = true;
            goto done;
        }
    }
    bool changed = false;
    run_steps(&r, p->steps, p->n_steps, 0, &changed);
    if (r.stop)
        goto done;
    if (r.checking) {
        /* Nothing unverified is written, whatever keep_going says. */
        st = check_final(&r);
        if (st != MOF_OK) {
            fail(&r, st);
            r.stop = true;
            goto done;
        }
    }
    if (r.opts.record_metadata && p->record_metadata) {
        st = record_metadata(&r);
        if (st != MOF_OK) {
            fail(&r, st);
            goto done;
        }
    }
    st = p->n_backends ? run_backends(&r) : write_model(&r);
    if (st != MOF_OK)
        fail(&r, st);

done:
    check_free(&r);
    mof_context_set_subject(r.ctx, NULL, NULL, NULL);
    if (r.opts.time_passes && r.opts.log) {
        mof_run_report_print(r.report, r.opts.log, true);
        fflush(r.opts.log);
    }
    if (report)
        *report = r.report;
    else
        mof_run_report_destroy(r.report);
    return r.first_error;
}

/* ------------------------------------------------------------------ preflight */

mof_status mof_pipeline_preflight(mof_pipeline *p, mof_model *model, unsigned flags,
                                  mof_preflight_fn fn, void *user)
{
    if (!p || !model)
        return MOF_ERR_INVALID_ARG;
    mof_context *ctx = p->ctx;
    if (mof_model_context(model) != ctx)
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL,
                          "the model and the pipeline belong to different contexts");
    if (p->n_backends == 0) {
        mof_location loc = { mof_pipeline_file(p), 0, 0 };
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, &loc,
                          "pipeline '%s' has no <backend>: there is no backend to ask",
                          mof_pipeline_name(p));
    }
    runner r = { .p = p, .ctx = ctx, .model = model };
    mof_run_options_init(&r.opts);
    r.opts.log = NULL;
    r.report = mof_calloc(1, sizeof(*r.report));
    backend_run *runs = mof_calloc(p->n_backends, sizeof(*runs));
    char *provenance = mof_asprintf("mof %s; pipeline %s sha256:%s (preflight)",
                                    MOF_VERSION_STRING, mof_pipeline_name(p),
                                    mof_pipeline_hash(p));
    mof_status st = MOF_OK;
    if (!r.report || !runs || !provenance) {
        st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    st = mof_pipeline_apply_input_shapes(p, model);
    if (st != MOF_OK)
        goto out;
    if (flags & MOF_PREFLIGHT_RUN_PASSES) {
        bool changed = false;
        run_steps(&r, p->steps, p->n_steps, 0, &changed);
        mof_context_set_subject(ctx, NULL, NULL, NULL);
        if (r.first_error != MOF_OK) {
            st = r.first_error;
            goto out;
        }
    }
    if (flags & MOF_PREFLIGHT_INFER_SHAPES) {
        st = mof_infer_shapes(ctx, model);
        if (st < 0)
            goto out;
        st = MOF_OK;
    }
    /* Every backend is instantiated before any is asked, as a run does. */
    for (size_t i = 0; i < p->n_backends; i++) {
        mof_status bst = backend_instantiate(&r, &p->backends[i], &runs[i], provenance, NULL);
        if (bst != MOF_OK && st == MOF_OK)
            st = bst;
        if (bst == MOF_ERR_NOMEM && !runs[i].params_ok)
            goto out;
    }
    if (st != MOF_OK)
        goto out;
    for (size_t i = 0; i < p->n_backends; i++) {
        const mof_step *s = &p->backends[i];
        for (const mof_node *n = mof_graph_first_node(mof_model_graph(model)); n;
             n = mof_node_next(n)) {
            char why_buf[256];
            mof_preflight_result res = { .backend = i, .backend_name = s->name, .node = n };
            res.supported = backend_supports(&r, s, runs[i].priv, n, why_buf, sizeof(why_buf),
                                             &res.reason, &res.note);
            if (!res.supported)
                st = MOF_ERR_UNSUPPORTED;
            if (fn)
                fn(&res, user);
        }
    }

out:
    for (size_t i = 0; runs && i < p->n_backends; i++)
        if (runs[i].step)
            backend_release(&r, &runs[i]);
    free(runs);
    free(provenance);
    mof_run_report_destroy(r.report);
    return st;
}
