/* context_private.h: the context's layout and the diagnostics helpers that libmof's
 * modules share (not part of the SDK).
 *
 * The context holds three things: the recorded diagnostics, the current subject (what
 * is running, so that plugins' reports are tagged without their help), and the plugin
 * registry that host.c manages. */
#ifndef MOF_CONTEXT_PRIVATE_H
#define MOF_CONTEXT_PRIVATE_H

#include <stdarg.h>

#include <mof/context.h>
#include <mof/host.h>
#include <mof/plugin.h>

#include "util.h"

/* One loaded plugin. Records are allocated one by one so that the mof_plugin_info
 * pointers handed out stay valid while more plugins load. */
typedef struct mof_plugin_rec {
    mof_plugin_info info;            /* strings borrowed from desc, path from `path` */
    char *path;                      /* owned; NULL for static plugins */
    void *handle;                    /* dlopen handle; NULL for static plugins */
    const mof_plugin_desc *desc;     /* borrowed from the plugin */
} mof_plugin_rec;

/* A registered pass or backend and the index of its plugin in ctx->plugins. */
typedef struct mof_pass_entry {
    const mof_pass_desc *desc;
    size_t plugin;
} mof_pass_entry;

typedef struct mof_backend_entry {
    const mof_backend_desc *desc;
    size_t plugin;
} mof_backend_entry;

/* What is running; reports made meanwhile carry it. Strings are borrowed. */
typedef struct mof_subject {
    const char *plugin;
    const char *pass;
    const char *backend;
} mof_subject;

struct mof_context {
    /* Diagnostics: each allocated alone so that mof_context_diag() pointers survive
     * later reports. All their strings are owned. */
    mof_diag **diags;
    size_t n_diags, cap_diags;
    size_t n_errors;                 /* errors reported since the last clear */
    mof_diag_handler handler;
    void *handler_user;
    mof_subject subject;

    /* Plugin registry (host.c). passes and backends are kept sorted by name. */
    mof_plugin_rec **plugins;
    size_t n_plugins, cap_plugins;
    mof_pass_entry *passes;
    size_t n_passes, cap_passes;
    mof_backend_entry *backends;
    size_t n_backends, cap_backends;
};

/* Sets what is running: the plugin, pass and backend names that mof_report() puts on
 * every diagnostic until the next call. Each may be NULL; all NULL clears the subject.
 * The strings are borrowed and must stay valid while they are set. */
MOF_INTERNAL void mof_context_set_subject(mof_context *ctx, const char *plugin,
                                          const char *pass, const char *backend);
/* The current subject, to save and restore around nested work. */
MOF_INTERNAL mof_subject mof_context_get_subject(const mof_context *ctx);
MOF_INTERNAL void mof_context_restore_subject(mof_context *ctx, mof_subject subject);

/* Records a diagnostic whose fields come from tmpl (severity, status, loc, plugin,
 * pass, backend, node, op_type; tmpl->message is ignored). A NULL plugin, pass or
 * backend in tmpl falls back to the current subject. Every string is copied. Returns
 * tmpl->status. */
MOF_INTERNAL mof_status mof_report_diag(mof_context *ctx, const mof_diag *tmpl,
                                        const char *fmt, ...) MOF_PRINTF(3, 4);
MOF_INTERNAL mof_status mof_vreport_diag(mof_context *ctx, const mof_diag *tmpl,
                                         const char *fmt, va_list ap);

/* Diagnostics reported between mof_context_capture_begin and _end are taken back out
 * of the context (and the handler does not see them), for checks whose findings are
 * folded into one message. Captures nest. */
typedef struct mof_diag_capture {
    size_t mark;                     /* n_diags at the start */
    size_t n_errors;
    mof_diag_handler handler;
    void *handler_user;
} mof_diag_capture;
MOF_INTERNAL void mof_context_capture_begin(mof_context *ctx, mof_diag_capture *cap);
/* Ends a capture: *messages receives the captured messages joined by sep (malloc'ed,
 * owned by the caller), or NULL when none was reported. Returns MOF_ERR_NOMEM when the
 * text could not be made (the diagnostics are dropped all the same), else MOF_OK. */
MOF_INTERNAL mof_status mof_context_capture_end(mof_context *ctx, mof_diag_capture *cap,
                                                const char *sep, char **messages);

#endif
