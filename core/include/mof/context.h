/* mof/context.h: the context that owns loaded plugins and collects diagnostics.
 *
 * Everything mof does happens inside a context; there is no global state. Errors are
 * recorded as diagnostics with a location (file:line:column) and a subject (pass,
 * backend, plugin, node), then either passed to a handler as they happen or read back
 * with mof_context_diag(). */
#ifndef MOF_CONTEXT_H
#define MOF_CONTEXT_H

#include <stdarg.h>

#include <mof/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mof_severity {
    MOF_SEVERITY_NOTE = 0,
    MOF_SEVERITY_WARNING = 1,
    MOF_SEVERITY_ERROR = 2,
} mof_severity;

/* A position in an input file. file NULL means "no file"; line/column 0 mean unknown. */
typedef struct mof_location {
    const char *file;
    unsigned line;
    unsigned column;
} mof_location;

/* One recorded diagnostic. All strings are owned by the context and may be NULL. */
typedef struct mof_diag {
    mof_severity severity;
    mof_status status;     /* the error it explains, MOF_OK for notes */
    mof_location loc;
    const char *plugin;    /* plugin that reported it */
    const char *pass;      /* pass that was running */
    const char *backend;   /* backend that was running */
    const char *node;      /* node name */
    const char *op_type;   /* node op type */
    const char *message;
} mof_diag;

/* Called for every diagnostic as it is recorded; the pointer is valid during the call. */
typedef void (*mof_diag_handler)(const mof_diag *diag, void *user);

/* Creates a context with no plugins loaded. Returns NULL when out of memory. */
MOF_API mof_context *mof_context_create(void);
/* Destroys the context, unloading its plugins. NULL is a no-op. Every model, pipeline
 * and tensor made with the context must be destroyed first. */
MOF_API void mof_context_destroy(mof_context *ctx);

/* Installs a handler (NULL removes it). Diagnostics are still recorded. */
MOF_API void mof_context_set_diag_handler(mof_context *ctx, mof_diag_handler handler, void *user);
/* Number of diagnostics recorded, and the i-th of them (borrowed, valid until
 * mof_context_clear_diags() or the context's destruction). */
MOF_API size_t mof_context_n_diags(const mof_context *ctx);
MOF_API const mof_diag *mof_context_diag(const mof_context *ctx, size_t i);
/* Number of recorded diagnostics of severity error. */
MOF_API size_t mof_context_n_errors(const mof_context *ctx);
MOF_API void mof_context_clear_diags(mof_context *ctx);

/* Records a diagnostic. loc may be NULL. Returns status (convenient for
 * `return mof_report(...)`). The subject (pass, plugin, backend) is filled in by the
 * host from what is running. */
MOF_API mof_status mof_report(mof_context *ctx, mof_severity severity, mof_status status,
                              const mof_location *loc, const char *fmt, ...) MOF_PRINTF(5, 6);
MOF_API mof_status mof_vreport(mof_context *ctx, mof_severity severity, mof_status status,
                               const mof_location *loc, const char *fmt, va_list ap);
/* Like mof_report, about a node (its name and op type become the subject). */
MOF_API mof_status mof_report_node(mof_context *ctx, mof_severity severity, mof_status status,
                                   const mof_node *node, const char *fmt, ...) MOF_PRINTF(5, 6);

/* Formats a diagnostic the way compilers do:
 *   "pipeline.xml:12:7: error: pass 'dead-code': node 'n3' (Relu): message"
 * Returns a malloc'ed string (owned by the caller), or NULL when out of memory. */
MOF_API char *mof_diag_format(const mof_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
