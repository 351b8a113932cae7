/* host_private.h: the plugin host's functions for the rest of libmof (not part of the
 * SDK). The registry itself lives in struct mof_context (context_private.h). */
#ifndef MOF_HOST_PRIVATE_H
#define MOF_HOST_PRIVATE_H

#include <mof/context.h>
#include <mof/host.h>
#include <mof/plugin.h>

#include "util.h"

/* Unloads every plugin and frees the registry; called last by mof_context_destroy. */
MOF_INTERNAL void mof_host_fini(mof_context *ctx);

/* mof_context_load_plugin with a location for its diagnostics: the pipeline passes
 * the position of its <plugin> element. loc may be NULL. */
MOF_INTERNAL mof_status mof_host_load_plugin_at(mof_context *ctx, const char *path,
                                                const mof_location *loc);

/* Lookups that also give the registering plugin's index (plugin_index may be NULL). */
MOF_INTERNAL const mof_pass_desc *mof_host_find_pass(const mof_context *ctx, const char *name,
                                                     size_t *plugin_index);
MOF_INTERNAL const mof_backend_desc *mof_host_find_backend(const mof_context *ctx,
                                                           const char *name,
                                                           size_t *plugin_index);
/* Name of the plugin at that index (borrowed), NULL when out of range: with
 * mof_host_find_pass, what the pass manager sets as the subject's plugin. */
MOF_INTERNAL const char *mof_host_plugin_name(const mof_context *ctx, size_t plugin_index);

/* The registered pass (backend) name closest to `name`, for "did you mean" hints;
 * NULL when none is close (see mof_nearest_name). Borrowed from the plugin. */
MOF_INTERNAL const char *mof_host_suggest_pass(const mof_context *ctx, const char *name);
MOF_INTERNAL const char *mof_host_suggest_backend(const mof_context *ctx, const char *name);

#endif
