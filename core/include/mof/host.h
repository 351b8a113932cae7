/* mof/host.h: finding and loading plugins, and listing what they offer.
 *
 * Search order for plugins (the first plugin of a name wins; later ones of the same
 * name are skipped with a note): paths named by <plugin> in a pipeline file, the
 * --plugin-dir folders, the folders of MOF_PLUGIN_PATH (colon-separated), then the
 * installed plugin folder (mof_installed_plugin_dir()). */
#ifndef MOF_HOST_H
#define MOF_HOST_H

#include <stdio.h>

#include <mof/common.h>
#include <mof/context.h>
#include <mof/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Loads one plugin file. Failures name the file and one reason: cannot open (the
 * dlerror text), no entry point, ABI mismatch (got N, expected M), descriptor too
 * small or missing a field, duplicate plugin/pass/backend name, registration failed.
 * MOF_UNCHANGED when a plugin of that name was already loaded from the same file. */
MOF_API mof_status mof_context_load_plugin(mof_context *ctx, const char *path);
/* Loads every "*.so" of a folder, in name order. A missing folder is not an error. A
 * plugin whose name is already loaded is skipped (noted). Load failures are reported
 * and counted but do not stop the others; returns the first error. */
MOF_API mof_status mof_context_load_plugin_dir(mof_context *ctx, const char *dir);
/* Loads the folders of the search order after the pipeline's own plugins:
 * extra_dirs (the --plugin-dir list, may be NULL), MOF_PLUGIN_PATH, then the
 * installed folder. */
MOF_API mof_status mof_context_load_default_plugins(mof_context *ctx, size_t n_extra_dirs,
                                                    const char *const *extra_dirs);
/* Registers a plugin linked into the program (see MOF_PLUGIN_STATIC). */
MOF_API mof_status mof_context_add_static_plugin(mof_context *ctx, mof_plugin_entry_fn entry);
/* The folder plugins are installed into (borrowed, compiled in). */
MOF_API const char *mof_installed_plugin_dir(void);
/* The installed RELAX NG schema of pipeline files (borrowed, compiled in). */
MOF_API const char *mof_installed_schema_path(void);

/* What was loaded, in load order. Borrowed; valid until the context is destroyed. */
typedef struct mof_plugin_info {
    const char *name;
    const char *version;
    const char *description;
    const char *license;
    const char *path;        /* "(static)" for static plugins */
    size_t n_passes;
    size_t n_backends;
} mof_plugin_info;

MOF_API size_t mof_context_n_plugins(const mof_context *ctx);
MOF_API const mof_plugin_info *mof_context_plugin(const mof_context *ctx, size_t i);

/* Passes and backends of all loaded plugins, sorted by name. plugin_index (may be
 * NULL) receives the index of the plugin that registered it. */
MOF_API size_t mof_context_n_passes(const mof_context *ctx);
MOF_API const mof_pass_desc *mof_context_pass(const mof_context *ctx, size_t i,
                                              size_t *plugin_index);
MOF_API const mof_pass_desc *mof_context_find_pass(const mof_context *ctx, const char *name);
MOF_API size_t mof_context_n_backends(const mof_context *ctx);
MOF_API const mof_backend_desc *mof_context_backend(const mof_context *ctx, size_t i,
                                                    size_t *plugin_index);
MOF_API const mof_backend_desc *mof_context_find_backend(const mof_context *ctx,
                                                         const char *name);

/* Of a set of names, the closest to `name` by edit distance, if close enough to be a
 * plausible typo; NULL otherwise. */
MOF_API const char *mof_nearest_name(const char *name, size_t n, const char *const *names);

/* Writes a parameter table as help text (one line per parameter: name, type, default,
 * range or choices, help), each line starting with indent. */
MOF_API void mof_params_describe(FILE *out, const mof_param_desc *params, const char *indent);

#ifdef __cplusplus
}
#endif
#endif
