/* params.h: the one routine that turns parameter values written as text (pipeline
 * attributes, the one-line pass list, --set) into the typed fields of a pass's or
 * backend's private struct, driven by its mof_param_desc table (plugin.h).
 *
 * Messages name the owner ("pass 'quantize-static'"), the parameter, the value and what
 * is allowed: "pass 'quantize-static': parameter 'bits' = 12 is outside [2, 8]". Every
 * function reports every problem it finds, not only the first. Internal to libmof. */
#ifndef MOF_PARAMS_H
#define MOF_PARAMS_H

#include <mof/context.h>
#include <mof/plugin.h>

#include "util.h"

/* One parameter as written: name, value and where (loc.file is borrowed). */
typedef struct mof_param_arg {
    const char *name;
    const char *value;
    mof_location loc;
} mof_param_arg;

/* Who the parameters belong to, for messages: kind is "pass" or "backend". */
typedef struct mof_param_owner {
    const char *kind;
    const char *name;
    mof_location loc;          /* the step itself (for missing-required errors) */
} mof_param_owner;

/* The entry of `table` (may be NULL) named name, or NULL. */
MOF_INTERNAL const mof_param_desc *mof_params_find(const mof_param_desc *table,
                                                   const char *name);

/* Parses one value of parameter d into *out (which must point to storage of d's type:
 * bool, int64_t, double, char * (malloc'ed, owned by the caller) or int). Checks the
 * range and the choices. Reports the error at loc (may be NULL) and returns
 * MOF_ERR_INVALID_ARG, or MOF_ERR_NOMEM. */
MOF_INTERNAL mof_status mof_param_parse(mof_context *ctx, const mof_param_owner *owner,
                                        const mof_param_desc *d, const char *value,
                                        const mof_location *loc, void *out);

/* Checks a list of arguments against the table without storing anything: unknown
 * names (with the nearest valid name as a suggestion), duplicates, bad values and
 * missing required parameters. Every error is reported; returns MOF_OK,
 * MOF_ERR_INVALID_ARG or MOF_ERR_NOMEM. */
MOF_INTERNAL mof_status mof_params_check(mof_context *ctx, const mof_param_owner *owner,
                                         const mof_param_desc *table, size_t n_args,
                                         const mof_param_arg *args);

/* Fills a zeroed private struct: every default first, then the arguments (checked as
 * by mof_params_check). STRING fields receive malloc'ed copies; release them with
 * mof_params_free (after fini), also when this fails. */
MOF_INTERNAL mof_status mof_params_apply(mof_context *ctx, const mof_param_owner *owner,
                                         const mof_param_desc *table, size_t n_args,
                                         const mof_param_arg *args, void *priv);
/* Frees the STRING fields stored by mof_params_apply and sets them to NULL. */
MOF_INTERNAL void mof_params_free(const mof_param_desc *table, void *priv);

/* Validates a descriptor's table when its plugin registers it: names are kebab-case
 * and unique, types are known, CHOICE entries have choices, ranges are ordered and
 * only on INT/FLOAT, defaults parse and lie in range, and each field fits in
 * priv_size at an offset aligned for its type. Reports every problem (naming
 * owner->kind and owner->name); returns MOF_OK or MOF_ERR_INVALID_ARG. */
MOF_INTERNAL mof_status mof_params_check_table(mof_context *ctx, const mof_param_owner *owner,
                                               const mof_param_desc *table, size_t priv_size);

/* True for a kebab-case name: lower-case letters and digits in words joined by
 * single '-', starting with a letter. */
MOF_INTERNAL bool mof_is_kebab_case(const char *name);

/* "bool", "int", "float", "string", "choice" (or "?"). */
MOF_INTERNAL const char *mof_param_type_name(mof_param_type type);

#endif
