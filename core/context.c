/* context.c: the context, and the diagnostics it records.
 *
 * A diagnostic is kept with copies of all its strings, so that a report may describe
 * a node that the next pass deletes, or a plugin's subject that is unloaded later. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <mof/context.h>
#include <mof/ir.h>

#include "context_private.h"
#include "host_private.h"
#include "util.h"

mof_context *mof_context_create(void)
{
    return mof_calloc(1, sizeof(mof_context));
}

static void diag_free(mof_diag *d)
{
    if (!d)
        return;
    free((char *)d->loc.file);
    free((char *)d->plugin);
    free((char *)d->pass);
    free((char *)d->backend);
    free((char *)d->node);
    free((char *)d->op_type);
    free((char *)d->message);
    free(d);
}

void mof_context_destroy(mof_context *ctx)
{
    if (!ctx)
        return;
    mof_context_clear_diags(ctx);
    free(ctx->diags);
    /* Last: the registry points into the plugins' memory, which this unmaps. */
    mof_host_fini(ctx);
    free(ctx);
}

void mof_context_set_diag_handler(mof_context *ctx, mof_diag_handler handler, void *user)
{
    if (!ctx)
        return;
    ctx->handler = handler;
    ctx->handler_user = handler ? user : NULL;
}

size_t mof_context_n_diags(const mof_context *ctx)
{
    return ctx ? ctx->n_diags : 0;
}

const mof_diag *mof_context_diag(const mof_context *ctx, size_t i)
{
    return ctx && i < ctx->n_diags ? ctx->diags[i] : NULL;
}

size_t mof_context_n_errors(const mof_context *ctx)
{
    return ctx ? ctx->n_errors : 0;
}

void mof_context_clear_diags(mof_context *ctx)
{
    if (!ctx)
        return;
    for (size_t i = 0; i < ctx->n_diags; i++)
        diag_free(ctx->diags[i]);
    ctx->n_diags = 0;
    ctx->n_errors = 0;
}

void mof_context_set_subject(mof_context *ctx, const char *plugin, const char *pass,
                             const char *backend)
{
    ctx->subject.plugin = plugin;
    ctx->subject.pass = pass;
    ctx->subject.backend = backend;
}

mof_subject mof_context_get_subject(const mof_context *ctx)
{
    return ctx->subject;
}

void mof_context_restore_subject(mof_context *ctx, mof_subject subject)
{
    ctx->subject = subject;
}

/* Copies s into *dst; false when out of memory. NULL stays NULL. */
static bool dup_into(const char **dst, const char *s)
{
    *dst = NULL;
    if (!s)
        return true;
    char *c = mof_strdup(s);
    *dst = c;
    return c != NULL;
}

mof_status mof_vreport_diag(mof_context *ctx, const mof_diag *tmpl, const char *fmt,
                            va_list ap)
{
    if (!ctx || !tmpl)
        return tmpl ? tmpl->status : MOF_ERR_INVALID_ARG;
    if (tmpl->severity == MOF_SEVERITY_ERROR)
        ctx->n_errors++;

    /* The borrowed view: what the handler sees if the copy cannot be made. */
    mof_diag view = *tmpl;
    if (!view.plugin)
        view.plugin = ctx->subject.plugin;
    if (!view.pass)
        view.pass = ctx->subject.pass;
    if (!view.backend)
        view.backend = ctx->subject.backend;
    char *message = fmt ? mof_vasprintf(fmt, ap) : mof_strdup("");
    /* Out of memory: still deliver the report, with its unformatted text. */
    view.message = message ? message : (fmt ? fmt : "");

    mof_diag *d = mof_calloc(1, sizeof(*d));
    bool ok = d && MOF_GROW(ctx->diags, ctx->cap_diags, ctx->n_diags + 1);
    if (ok) {
        d->severity = view.severity;
        d->status = view.status;
        d->loc.line = view.loc.line;
        d->loc.column = view.loc.column;
        ok = dup_into(&d->loc.file, view.loc.file) && dup_into(&d->plugin, view.plugin)
             && dup_into(&d->pass, view.pass) && dup_into(&d->backend, view.backend)
             && dup_into(&d->node, view.node) && dup_into(&d->op_type, view.op_type)
             && message;
    }
    if (ok) {
        d->message = message;
        ctx->diags[ctx->n_diags++] = d;
        if (ctx->handler)
            ctx->handler(d, ctx->handler_user);
    } else {
        if (ctx->handler)
            ctx->handler(&view, ctx->handler_user);
        diag_free(d);
        free(message);
    }
    return tmpl->status;
}

mof_status mof_report_diag(mof_context *ctx, const mof_diag *tmpl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mof_status st = mof_vreport_diag(ctx, tmpl, fmt, ap);
    va_end(ap);
    return st;
}

mof_status mof_vreport(mof_context *ctx, mof_severity severity, mof_status status,
                       const mof_location *loc, const char *fmt, va_list ap)
{
    mof_diag tmpl = { .severity = severity, .status = status };
    if (loc)
        tmpl.loc = *loc;
    return mof_vreport_diag(ctx, &tmpl, fmt, ap);
}

mof_status mof_report(mof_context *ctx, mof_severity severity, mof_status status,
                      const mof_location *loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mof_status st = mof_vreport(ctx, severity, status, loc, fmt, ap);
    va_end(ap);
    return st;
}

mof_status mof_report_node(mof_context *ctx, mof_severity severity, mof_status status,
                           const mof_node *node, const char *fmt, ...)
{
    mof_diag tmpl = { .severity = severity, .status = status };
    if (node) {
        const char *name = mof_node_name(node);
        tmpl.node = name && *name ? name : NULL;
        tmpl.op_type = mof_node_op_type(node);
    }
    va_list ap;
    va_start(ap, fmt);
    mof_status st = mof_vreport_diag(ctx, &tmpl, fmt, ap);
    va_end(ap);
    return st;
}

static const char *severity_word(mof_severity s)
{
    switch (s) {
    case MOF_SEVERITY_NOTE: return "note";
    case MOF_SEVERITY_WARNING: return "warning";
    case MOF_SEVERITY_ERROR: return "error";
    }
    return "error";
}

char *mof_diag_format(const mof_diag *diag)
{
    if (!diag)
        return NULL;
    mof_strbuf sb;
    mof_strbuf_init(&sb);
    /* Location: only the parts that are known, and nothing without a file. */
    if (diag->loc.file) {
        mof_strbuf_puts(&sb, diag->loc.file);
        if (diag->loc.line) {
            mof_strbuf_printf(&sb, ":%u", diag->loc.line);
            if (diag->loc.column)
                mof_strbuf_printf(&sb, ":%u", diag->loc.column);
        }
        mof_strbuf_puts(&sb, ": ");
    }
    mof_strbuf_printf(&sb, "%s: ", severity_word(diag->severity));
    if (diag->pass)
        mof_strbuf_printf(&sb, "pass '%s': ", diag->pass);
    if (diag->backend)
        mof_strbuf_printf(&sb, "backend '%s': ", diag->backend);
    if (diag->node) {
        mof_strbuf_printf(&sb, "node '%s'", diag->node);
        if (diag->op_type)
            mof_strbuf_printf(&sb, " (%s)", diag->op_type);
        mof_strbuf_puts(&sb, ": ");
    } else if (diag->op_type) {
        mof_strbuf_printf(&sb, "unnamed node (%s): ", diag->op_type);
    }
    mof_strbuf_puts(&sb, diag->message ? diag->message : "");
    return mof_strbuf_take(&sb);
}

void mof_context_capture_begin(mof_context *ctx, mof_diag_capture *cap)
{
    cap->mark = ctx->n_diags;
    cap->n_errors = ctx->n_errors;
    cap->handler = ctx->handler;
    cap->handler_user = ctx->handler_user;
    ctx->handler = NULL;
    ctx->handler_user = NULL;
}

mof_status mof_context_capture_end(mof_context *ctx, mof_diag_capture *cap, const char *sep,
                                   char **messages)
{
    mof_strbuf sb;
    mof_strbuf_init(&sb);
    for (size_t i = cap->mark; i < ctx->n_diags; i++) {
        if (i > cap->mark)
            mof_strbuf_puts(&sb, sep);
        mof_strbuf_puts(&sb, ctx->diags[i]->message);
        diag_free(ctx->diags[i]);
    }
    bool any = ctx->n_diags > cap->mark;
    /* Errors that could not even be recorded (out of memory) are dropped too. */
    ctx->n_diags = cap->mark;
    ctx->n_errors = cap->n_errors;
    ctx->handler = cap->handler;
    ctx->handler_user = cap->handler_user;
    *messages = any ? mof_strbuf_take(&sb) : NULL;
    if (!any)
        mof_strbuf_free(&sb);
    return any && !*messages ? MOF_ERR_NOMEM : MOF_OK;
}
