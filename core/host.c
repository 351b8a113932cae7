/* host.c: the plugin host: loading plugin modules, checking them, and the registry of
 * the passes and backends they declare.
 *
 * Nothing in a plugin runs before its descriptor has been checked: the entry point is
 * called (it only returns a pointer to static data), then the ABI version is compared,
 * and only when the head of the descriptor is known to be laid out as this mof
 * expects are its other fields read. Registration is all or nothing: the plugin's
 * passes and backends are collected by the registrar, checked one by one, and enter
 * the registry only once the whole plugin has registered without error. Every failure
 * is one diagnostic, "PATH: cannot load plugin: REASON". */
#include "config.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <mof/host.h>
#include <mof/plugin.h>

#include "context_private.h"
#include "host_private.h"
#include "params.h"
#include "util.h"

#ifndef MOF_PLUGINDIR
#error "MOF_PLUGINDIR must be defined by the build"
#endif
#ifndef MOF_SCHEMADIR
#error "MOF_SCHEMADIR must be defined by the build"
#endif

#define STATIC_PATH "(static)"

static const char build_signature[] = MOF_BUILD_SIGNATURE;

const char *mof_installed_plugin_dir(void)
{
    return MOF_PLUGINDIR;
}

const char *mof_installed_schema_path(void)
{
    return MOF_SCHEMADIR "/pipeline.rng";
}

/* ------------------------------------------------------------------ nearest name */

const char *mof_nearest_name(const char *name, size_t n, const char *const *names)
{
    if (!name || !*name || !names)
        return NULL;
    size_t len = strlen(name);
    size_t limit = len / 3 > 2 ? len / 3 : 2;
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        const char *cand = names[i];
        if (!cand || !*cand)
            continue;
        size_t clen = strlen(cand);
        /* "fold" for "fold-constants" is far by edit distance but clearly meant. */
        bool prefix = clen < len ? strncmp(name, cand, clen) == 0
                                 : strncmp(name, cand, len) == 0;
        size_t d = mof_edit_distance(name, cand, SIZE_MAX);
        if ((d <= limit || prefix) && d < best_d) {
            best = cand;
            best_d = d;
        }
    }
    return best;
}

/* ------------------------------------------------------------------ registry lookups */

/* Index of the first entry whose name is >= name (binary search on a sorted table). */
#define LOWER_BOUND(entries, count, key, out)                                              \
    do {                                                                                   \
        size_t lo_ = 0, hi_ = (count);                                                     \
        while (lo_ < hi_) {                                                                \
            size_t mid_ = lo_ + (hi_ - lo_) / 2;                                           \
            if (strcmp((entries)[mid_].desc->name, (key)) < 0)                             \
                lo_ = mid_ + 1;                                                            \
            else                                                                           \
                hi_ = mid_;                                                                \
        }                                                                                  \
        (out) = lo_;                                                                       \
    } while (0)

const mof_pass_desc *mof_host_find_pass(const mof_context *ctx, const char *name,
                                        size_t *plugin_index)
{
    if (!ctx || !name)
        return NULL;
    size_t i;
    LOWER_BOUND(ctx->passes, ctx->n_passes, name, i);
    if (i == ctx->n_passes || strcmp(ctx->passes[i].desc->name, name) != 0)
        return NULL;
    if (plugin_index)
        *plugin_index = ctx->passes[i].plugin;
    return ctx->passes[i].desc;
}

const mof_backend_desc *mof_host_find_backend(const mof_context *ctx, const char *name,
                                              size_t *plugin_index)
{
    if (!ctx || !name)
        return NULL;
    size_t i;
    LOWER_BOUND(ctx->backends, ctx->n_backends, name, i);
    if (i == ctx->n_backends || strcmp(ctx->backends[i].desc->name, name) != 0)
        return NULL;
    if (plugin_index)
        *plugin_index = ctx->backends[i].plugin;
    return ctx->backends[i].desc;
}

const char *mof_host_plugin_name(const mof_context *ctx, size_t plugin_index)
{
    return ctx && plugin_index < ctx->n_plugins ? ctx->plugins[plugin_index]->info.name
                                                : NULL;
}

const char *mof_host_suggest_pass(const mof_context *ctx, const char *name)
{
    /* Sorted order is the "table order" that breaks ties: deterministic. */
    if (!ctx || !name)
        return NULL;
    const char *best = NULL;
    const char **names = mof_calloc(ctx->n_passes, sizeof(*names));
    if (!names)
        return NULL;
    for (size_t i = 0; i < ctx->n_passes; i++)
        names[i] = ctx->passes[i].desc->name;
    best = mof_nearest_name(name, ctx->n_passes, names);
    free(names);
    return best;
}

const char *mof_host_suggest_backend(const mof_context *ctx, const char *name)
{
    if (!ctx || !name)
        return NULL;
    const char *best = NULL;
    const char **names = mof_calloc(ctx->n_backends, sizeof(*names));
    if (!names)
        return NULL;
    for (size_t i = 0; i < ctx->n_backends; i++)
        names[i] = ctx->backends[i].desc->name;
    best = mof_nearest_name(name, ctx->n_backends, names);
    free(names);
    return best;
}

size_t mof_context_n_plugins(const mof_context *ctx)
{
    return ctx ? ctx->n_plugins : 0;
}

const mof_plugin_info *mof_context_plugin(const mof_context *ctx, size_t i)
{
    return ctx && i < ctx->n_plugins ? &ctx->plugins[i]->info : NULL;
}

size_t mof_context_n_passes(const mof_context *ctx)
{
    return ctx ? ctx->n_passes : 0;
}

const mof_pass_desc *mof_context_pass(const mof_context *ctx, size_t i, size_t *plugin_index)
{
    if (!ctx || i >= ctx->n_passes)
        return NULL;
    if (plugin_index)
        *plugin_index = ctx->passes[i].plugin;
    return ctx->passes[i].desc;
}

const mof_pass_desc *mof_context_find_pass(const mof_context *ctx, const char *name)
{
    return mof_host_find_pass(ctx, name, NULL);
}

size_t mof_context_n_backends(const mof_context *ctx)
{
    return ctx ? ctx->n_backends : 0;
}

const mof_backend_desc *mof_context_backend(const mof_context *ctx, size_t i,
                                            size_t *plugin_index)
{
    if (!ctx || i >= ctx->n_backends)
        return NULL;
    if (plugin_index)
        *plugin_index = ctx->backends[i].plugin;
    return ctx->backends[i].desc;
}

const mof_backend_desc *mof_context_find_backend(const mof_context *ctx, const char *name)
{
    return mof_host_find_backend(ctx, name, NULL);
}

/* ------------------------------------------------------------------ pass and backend checks */

/* Checks a parameter table with params.c, folding its findings into the one reason
 * of the load failure instead of separate diagnostics. */
static bool check_params(mof_context *ctx, const char *kind, const char *name,
                         const mof_param_desc *params, size_t priv_size, mof_strbuf *why)
{
    if (!params)
        return true;
    mof_param_owner owner = { .kind = kind, .name = name };
    mof_diag_capture cap;
    mof_context_capture_begin(ctx, &cap);
    mof_status st = mof_params_check_table(ctx, &owner, params, priv_size);
    char *found = NULL;
    mof_status cst = mof_context_capture_end(ctx, &cap, "; ", &found);
    if (st == MOF_OK && cst == MOF_OK) {
        free(found);
        return true;
    }
    if (found)
        mof_strbuf_puts(why, found);
    else if (st == MOF_ERR_NOMEM || cst == MOF_ERR_NOMEM)
        why->failed = true;
    else
        mof_strbuf_printf(why, "%s '%s': invalid parameter table", kind, name);
    free(found);
    return false;
}

static bool check_properties(const char *const *list, const char *field, const char *owner,
                             mof_strbuf *why)
{
    for (size_t i = 0; list && list[i]; i++) {
        if (!*list[i]) {
            mof_strbuf_printf(why, "%s: empty property name in '%s'", owner, field);
            return false;
        }
    }
    return true;
}

static bool check_pass(mof_context *ctx, const mof_pass_desc *p, size_t index,
                       mof_strbuf *why)
{
    if (p->size < sizeof(mof_pass_desc)) {
        mof_strbuf_printf(why,
                          "pass #%zu: descriptor size is %u bytes, this mof needs at least %zu "
                          "(set .size = sizeof(mof_pass_desc))",
                          index, (unsigned)p->size, sizeof(mof_pass_desc));
        return false;
    }
    if (!p->name) {
        mof_strbuf_printf(why, "pass #%zu: descriptor is missing the field 'name'", index);
        return false;
    }
    if (!mof_is_kebab_case(p->name)) {
        mof_strbuf_printf(why, "pass name '%s' is not kebab-case", p->name);
        return false;
    }
    char *owner = mof_asprintf("pass '%s'", p->name);
    if (!owner) {
        why->failed = true;
        return false;
    }
    bool ok = false;
    if (!p->summary || !*p->summary) {
        mof_strbuf_printf(why, "%s: descriptor is missing the field 'summary'", owner);
    } else if (!p->run) {
        mof_strbuf_printf(why, "%s: descriptor is missing the field 'run'", owner);
    } else if (p->flags & ~(unsigned)(MOF_PASS_EXACT | MOF_PASS_CHANGES_NUMERICS)) {
        mof_strbuf_printf(why, "%s: unknown flags 0x%x", owner, p->flags);
    } else if ((p->flags & MOF_PASS_EXACT) && (p->flags & MOF_PASS_CHANGES_NUMERICS)) {
        mof_strbuf_printf(why, "%s: MOF_PASS_EXACT and MOF_PASS_CHANGES_NUMERICS exclude "
                               "each other", owner);
    } else if ((p->flags & MOF_PASS_CHANGES_NUMERICS)
               && !(isfinite(p->tolerance) && p->tolerance >= 0)) {
        mof_strbuf_printf(why, "%s: tolerance %g is not a finite number >= 0", owner,
                          p->tolerance);
    } else {
        ok = check_properties(p->requires, "requires", owner, why)
             && check_properties(p->provides, "provides", owner, why)
             && check_properties(p->invalidates, "invalidates", owner, why)
             && check_params(ctx, "pass", p->name, p->params, p->priv_size, why);
    }
    free(owner);
    return ok;
}

static bool check_backend(mof_context *ctx, const mof_backend_desc *b, size_t index,
                          mof_strbuf *why)
{
    if (b->size < sizeof(mof_backend_desc)) {
        mof_strbuf_printf(why,
                          "backend #%zu: descriptor size is %u bytes, this mof needs at least "
                          "%zu (set .size = sizeof(mof_backend_desc))",
                          index, (unsigned)b->size, sizeof(mof_backend_desc));
        return false;
    }
    if (!b->name) {
        mof_strbuf_printf(why, "backend #%zu: descriptor is missing the field 'name'", index);
        return false;
    }
    if (!mof_is_kebab_case(b->name)) {
        mof_strbuf_printf(why, "backend name '%s' is not kebab-case", b->name);
        return false;
    }
    char *owner = mof_asprintf("backend '%s'", b->name);
    if (!owner) {
        why->failed = true;
        return false;
    }
    bool ok = false;
    if (!b->summary || !*b->summary) {
        mof_strbuf_printf(why, "%s: descriptor is missing the field 'summary'", owner);
    } else if (!b->emit) {
        mof_strbuf_printf(why, "%s: descriptor is missing the field 'emit'", owner);
    } else {
        ok = true;
        for (size_t i = 0; ok && b->ops && (b->ops[i].domain || b->ops[i].op_type); i++) {
            const mof_op_support *o = &b->ops[i];
            if (!o->domain || !o->op_type) {
                mof_strbuf_printf(why, "%s: supported op #%zu lacks its %s", owner, i + 1,
                                  o->domain ? "op type" : "domain");
                ok = false;
            } else if (o->since_opset < 0 || o->until_opset < 0
                       || (o->until_opset && o->since_opset > o->until_opset)) {
                mof_strbuf_printf(why, "%s: supported op '%s' has an empty opset range "
                                       "[%lld, %lld]", owner, o->op_type,
                                  (long long)o->since_opset, (long long)o->until_opset);
                ok = false;
            }
        }
        ok = ok && check_params(ctx, "backend", b->name, b->params, b->priv_size, why);
    }
    free(owner);
    return ok;
}

/* ------------------------------------------------------------------ registrar */

struct mof_registrar {
    mof_context *ctx;
    const char *plugin;              /* name of the plugin registering */
    const mof_pass_desc **passes;    /* checked, not yet in the registry */
    size_t n_passes, cap_passes;
    const mof_backend_desc **backends;
    size_t n_backends, cap_backends;
    size_t n_pass_calls, n_backend_calls;
    mof_status status;               /* first failure, MOF_OK while none */
    char *error;                     /* its reason (owned); NULL with status NOMEM */
};

/* Records the registrar's first failure; later ones are consequences of it. */
static mof_status registrar_fail(mof_registrar *r, mof_status st, mof_strbuf *why)
{
    if (r->status == MOF_OK) {
        r->status = why->failed ? MOF_ERR_NOMEM : st;
        r->error = mof_strbuf_take(why);
    }
    mof_strbuf_free(why);
    return r->status;
}

/* Plugin that registered a pass (or backend) named `name`, or NULL. */
static const char *registered_pass_owner(const mof_registrar *r, const char *name)
{
    size_t pi;
    if (mof_host_find_pass(r->ctx, name, &pi))
        return mof_host_plugin_name(r->ctx, pi);
    for (size_t i = 0; i < r->n_passes; i++)
        if (strcmp(r->passes[i]->name, name) == 0)
            return r->plugin;
    return NULL;
}

static const char *registered_backend_owner(const mof_registrar *r, const char *name)
{
    size_t pi;
    if (mof_host_find_backend(r->ctx, name, &pi))
        return mof_host_plugin_name(r->ctx, pi);
    for (size_t i = 0; i < r->n_backends; i++)
        if (strcmp(r->backends[i]->name, name) == 0)
            return r->plugin;
    return NULL;
}

mof_status mof_register_pass(mof_registrar *r, const mof_pass_desc *pass)
{
    if (!r)
        return MOF_ERR_INVALID_ARG;
    if (r->status != MOF_OK)
        return r->status;
    size_t index = ++r->n_pass_calls;
    mof_strbuf why;
    mof_strbuf_init(&why);
    if (!pass) {
        mof_strbuf_printf(&why, "pass #%zu: mof_register_pass() was given no descriptor",
                          index);
        return registrar_fail(r, MOF_ERR_INVALID_ARG, &why);
    }
    if (!check_pass(r->ctx, pass, index, &why))
        return registrar_fail(r, MOF_ERR_INVALID_ARG, &why);
    const char *owner = registered_pass_owner(r, pass->name);
    if (owner) {
        mof_strbuf_printf(&why, "pass '%s' is already registered by plugin '%s'", pass->name,
                          owner);
        return registrar_fail(r, MOF_ERR_INVALID_ARG, &why);
    }
    if (!MOF_GROW(r->passes, r->cap_passes, r->n_passes + 1)) {
        why.failed = true;
        return registrar_fail(r, MOF_ERR_NOMEM, &why);
    }
    r->passes[r->n_passes++] = pass;
    return MOF_OK;
}

mof_status mof_register_backend(mof_registrar *r, const mof_backend_desc *backend)
{
    if (!r)
        return MOF_ERR_INVALID_ARG;
    if (r->status != MOF_OK)
        return r->status;
    size_t index = ++r->n_backend_calls;
    mof_strbuf why;
    mof_strbuf_init(&why);
    if (!backend) {
        mof_strbuf_printf(&why,
                          "backend #%zu: mof_register_backend() was given no descriptor",
                          index);
        return registrar_fail(r, MOF_ERR_INVALID_ARG, &why);
    }
    if (!check_backend(r->ctx, backend, index, &why))
        return registrar_fail(r, MOF_ERR_INVALID_ARG, &why);
    const char *owner = registered_backend_owner(r, backend->name);
    if (owner) {
        mof_strbuf_printf(&why, "backend '%s' is already registered by plugin '%s'",
                          backend->name, owner);
        return registrar_fail(r, MOF_ERR_INVALID_ARG, &why);
    }
    if (!MOF_GROW(r->backends, r->cap_backends, r->n_backends + 1)) {
        why.failed = true;
        return registrar_fail(r, MOF_ERR_NOMEM, &why);
    }
    r->backends[r->n_backends++] = backend;
    return MOF_OK;
}

/* ------------------------------------------------------------------ loading */

/* One load in progress: where the plugin comes from, for messages. */
typedef struct load_req {
    const char *path;          /* as given; STATIC_PATH for static plugins */
    const mof_location *loc;   /* where the load was asked for; may be NULL */
    bool skip_duplicates;      /* folder scans: a name already loaded is noted, skipped */
} load_req;

static mof_status load_fail(mof_context *ctx, const load_req *req, mof_status st,
                            const char *fmt, ...) MOF_PRINTF(4, 5);

static mof_status load_fail(mof_context *ctx, const load_req *req, mof_status st,
                            const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *reason = mof_vasprintf(fmt, ap);
    va_end(ap);
    mof_diag tmpl = { .severity = MOF_SEVERITY_ERROR, .status = st };
    if (req->loc)
        tmpl.loc = *req->loc;
    mof_report_diag(ctx, &tmpl, "%s: cannot load plugin: %s", req->path,
                    reason ? reason : "out of memory");
    free(reason);
    return st;
}

/* Inserts an entry into a table sorted by name; capacity was reserved before. */
#define SORTED_INSERT(entries, count, entry)                                               \
    do {                                                                                   \
        size_t at_;                                                                        \
        LOWER_BOUND(entries, count, (entry).desc->name, at_);                              \
        memmove(&(entries)[at_ + 1], &(entries)[at_], ((count) - at_) * sizeof(*(entries))); \
        (entries)[at_] = (entry);                                                          \
        (count)++;                                                                         \
    } while (0)

/* Checks a descriptor and registers its plugin. On success the record (with handle,
 * which it then owns) is in the registry; otherwise the caller closes the handle.
 * MOF_UNCHANGED: already loaded, or skipped as a duplicate. */
static mof_status add_plugin(mof_context *ctx, const load_req *req, void *handle,
                             const mof_plugin_desc *desc)
{
    if (!desc)
        return load_fail(ctx, req, MOF_ERR_ABI, "the entry point returned no descriptor");
    if (desc->abi_version != MOF_ABI_VERSION)
        return load_fail(ctx, req, MOF_ERR_ABI,
                         "ABI mismatch: plugin built for ABI %u, this mof has ABI %u",
                         (unsigned)desc->abi_version, (unsigned)MOF_ABI_VERSION);
    if (desc->size < sizeof(mof_plugin_desc))
        return load_fail(ctx, req, MOF_ERR_ABI,
                         "descriptor too small: %u bytes, this mof needs at least %zu",
                         (unsigned)desc->size, sizeof(mof_plugin_desc));
    if (!desc->build_signature)
        return load_fail(ctx, req, MOF_ERR_ABI,
                         "descriptor is missing the field 'build_signature'");
    if (strcmp(desc->build_signature, build_signature) != 0)
        return load_fail(ctx, req, MOF_ERR_ABI,
                         "build signature mismatch: plugin built with '%s', this mof has '%s'",
                         desc->build_signature, build_signature);
    const char *missing = !desc->name || !*desc->name ? "name"
                          : !desc->version            ? "version"
                          : !desc->register_plugin    ? "register_plugin"
                                                      : NULL;
    if (missing)
        return load_fail(ctx, req, MOF_ERR_ABI, "descriptor is missing the field '%s'",
                         missing);

    for (size_t i = 0; i < ctx->n_plugins; i++) {
        const mof_plugin_rec *other = ctx->plugins[i];
        if (other->desc == desc)
            return MOF_UNCHANGED;
        if (strcmp(other->info.name, desc->name) != 0)
            continue;
        if (req->skip_duplicates) {
            mof_diag tmpl = { .severity = MOF_SEVERITY_NOTE, .status = MOF_OK };
            if (req->loc)
                tmpl.loc = *req->loc;
            mof_report_diag(ctx, &tmpl, "%s: skipping plugin '%s': shadowed by %s",
                            req->path, desc->name, other->info.path);
            return MOF_UNCHANGED;
        }
        return load_fail(ctx, req, MOF_ERR_INVALID_ARG,
                         "duplicate plugin name: '%s' is already loaded from %s", desc->name,
                         other->info.path);
    }

    mof_registrar r = { .ctx = ctx, .plugin = desc->name };
    mof_status st = desc->register_plugin(&r);
    mof_plugin_rec *rec = NULL;
    if (r.status != MOF_OK) {
        st = r.error ? load_fail(ctx, req, r.status, "%s", r.error)
                     : load_fail(ctx, req, r.status, "out of memory");
        goto out;
    }
    if (st < 0) {
        st = load_fail(ctx, req, st, "registration failed: register_plugin returned an error "
                                     "(%s)", mof_status_str(st));
        goto out;
    }

    /* Reserve everything first, so that a failure leaves the registry untouched. */
    rec = mof_calloc(1, sizeof(*rec));
    char *path = handle ? mof_strdup(req->path) : NULL;
    if (!rec || (handle && !path) || !MOF_GROW(ctx->plugins, ctx->cap_plugins, ctx->n_plugins + 1)
        || !MOF_GROW(ctx->passes, ctx->cap_passes, ctx->n_passes + r.n_passes)
        || !MOF_GROW(ctx->backends, ctx->cap_backends, ctx->n_backends + r.n_backends)) {
        free(path);
        free(rec);
        rec = NULL;
        st = load_fail(ctx, req, MOF_ERR_NOMEM, "out of memory");
        goto out;
    }
    rec->path = path;
    rec->handle = handle;
    rec->desc = desc;
    rec->info = (mof_plugin_info){
        .name = desc->name,
        .version = desc->version,
        .description = desc->description ? desc->description : "",
        .license = desc->license ? desc->license : "",
        .path = path ? path : STATIC_PATH,
        .n_passes = r.n_passes,
        .n_backends = r.n_backends,
    };
    size_t index = ctx->n_plugins;
    ctx->plugins[ctx->n_plugins++] = rec;
    for (size_t i = 0; i < r.n_passes; i++) {
        mof_pass_entry e = { .desc = r.passes[i], .plugin = index };
        SORTED_INSERT(ctx->passes, ctx->n_passes, e);
    }
    for (size_t i = 0; i < r.n_backends; i++) {
        mof_backend_entry e = { .desc = r.backends[i], .plugin = index };
        SORTED_INSERT(ctx->backends, ctx->n_backends, e);
    }
    st = MOF_OK;
out:
    free(r.passes);
    free(r.backends);
    free(r.error);
    return st;
}

/* The text of dlerror(), without the file name it usually starts with. */
static const char *dl_reason(const char *opened)
{
    const char *e = dlerror();
    if (!e)
        return "unknown error";
    size_t n = strlen(opened);
    if (strncmp(e, opened, n) == 0 && e[n] == ':' && e[n + 1] == ' ')
        e += n + 2;
    return e;
}

static mof_status load_file(mof_context *ctx, const load_req *req)
{
    /* Without a slash dlopen would search the library path, not the current folder. */
    char *opened = strchr(req->path, '/') ? mof_strdup(req->path)
                                          : mof_asprintf("./%s", req->path);
    if (!opened)
        return load_fail(ctx, req, MOF_ERR_NOMEM, "out of memory");
    mof_status st;
    dlerror();
    void *handle = dlopen(opened, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        st = load_fail(ctx, req, MOF_ERR_IO, "cannot open: %s", dl_reason(opened));
        goto out;
    }
    /* The same file loaded again (perhaps through another path) gives the same
     * handle; dlclose drops the extra reference. */
    for (size_t i = 0; i < ctx->n_plugins; i++) {
        if (ctx->plugins[i]->handle == handle) {
            dlclose(handle);
            st = MOF_UNCHANGED;
            goto out;
        }
    }
    dlerror();
    void *sym = dlsym(handle, MOF_PLUGIN_ENTRY_NAME);
    if (!sym) {
        st = load_fail(ctx, req, MOF_ERR_ABI, "no entry point: the file does not export '%s'",
                       MOF_PLUGIN_ENTRY_NAME);
        dlclose(handle);
        goto out;
    }
    /* POSIX guarantees that a dlsym result converts to a function pointer. */
    mof_plugin_entry_fn entry;
    memcpy(&entry, &sym, sizeof(entry));
    st = add_plugin(ctx, req, handle, entry());
    if (st != MOF_OK)
        dlclose(handle);
out:
    free(opened);
    return st;
}

mof_status mof_host_load_plugin_at(mof_context *ctx, const char *path,
                                   const mof_location *loc)
{
    if (!ctx || !path || !*path) {
        if (ctx)
            mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, loc,
                       "cannot load plugin: no file name given");
        return MOF_ERR_INVALID_ARG;
    }
    load_req req = { .path = path, .loc = loc };
    return load_file(ctx, &req);
}

mof_status mof_context_load_plugin(mof_context *ctx, const char *path)
{
    return mof_host_load_plugin_at(ctx, path, NULL);
}

mof_status mof_context_add_static_plugin(mof_context *ctx, mof_plugin_entry_fn entry)
{
    if (!ctx)
        return MOF_ERR_INVALID_ARG;
    load_req req = { .path = STATIC_PATH };
    if (!entry)
        return load_fail(ctx, &req, MOF_ERR_ABI, "no entry point given");
    return add_plugin(ctx, &req, NULL, entry());
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_plugin_file_name(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && n > 3 && strcmp(name + n - 3, ".so") == 0;
}

mof_status mof_context_load_plugin_dir(mof_context *ctx, const char *dir)
{
    if (!ctx || !dir)
        return MOF_ERR_INVALID_ARG;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return MOF_OK;
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_IO, NULL,
                          "%s: cannot read plugin folder: %s", dir, strerror(errno));
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    mof_status st = MOF_OK;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        if (!is_plugin_file_name(e->d_name))
            continue;
        char *copy = mof_strdup(e->d_name);
        if (!copy || !MOF_GROW(names, cap, n + 1)) {
            free(copy);
            st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
            goto out;
        }
        names[n++] = copy;
    }
    if (errno) {
        st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_IO, NULL,
                        "%s: cannot read plugin folder: %s", dir, strerror(errno));
        goto out;
    }
    /* strcmp, not the locale's collation: the same order everywhere. */
    if (n)
        qsort(names, n, sizeof(*names), compare_names);

    size_t dlen = strlen(dir);
    const char *sep = dlen && dir[dlen - 1] == '/' ? "" : "/";
    for (size_t i = 0; i < n; i++) {
        char *path = mof_asprintf("%s%s%s", dir, sep, names[i]);
        if (!path) {
            mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
            if (st == MOF_OK)
                st = MOF_ERR_NOMEM;
            break;
        }
        struct stat sb;
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            free(path);
            continue;
        }
        load_req req = { .path = path, .skip_duplicates = true };
        mof_status one = load_file(ctx, &req);
        if (one < 0 && st == MOF_OK)
            st = one;
        free(path);
    }
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
    return st;
}

mof_status mof_context_load_default_plugins(mof_context *ctx, size_t n_extra_dirs,
                                            const char *const *extra_dirs)
{
    if (!ctx)
        return MOF_ERR_INVALID_ARG;
    mof_status st = MOF_OK, one;
    for (size_t i = 0; i < n_extra_dirs; i++) {
        if (!extra_dirs || !extra_dirs[i])
            continue;
        one = mof_context_load_plugin_dir(ctx, extra_dirs[i]);
        if (one < 0 && st == MOF_OK)
            st = one;
    }
    const char *env = getenv("MOF_PLUGIN_PATH");
    if (env) {
        /* Empty entries ("a::b") are skipped rather than read as the current folder. */
        for (const char *p = env; *p;) {
            const char *colon = strchr(p, ':');
            size_t len = colon ? (size_t)(colon - p) : strlen(p);
            if (len) {
                char *dir = mof_strndup(p, len);
                if (!dir) {
                    one = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL,
                                     "out of memory");
                } else {
                    one = mof_context_load_plugin_dir(ctx, dir);
                    free(dir);
                }
                if (one < 0 && st == MOF_OK)
                    st = one;
            }
            p += len;
            if (*p == ':')
                p++;
        }
    }
    one = mof_context_load_plugin_dir(ctx, mof_installed_plugin_dir());
    if (one < 0 && st == MOF_OK)
        st = one;
    return st;
}

void mof_host_fini(mof_context *ctx)
{
    free(ctx->passes);
    free(ctx->backends);
    ctx->passes = NULL;
    ctx->backends = NULL;
    ctx->n_passes = ctx->n_backends = 0;
    /* Unload in reverse order of loading, as destructors expect. */
    for (size_t i = ctx->n_plugins; i-- > 0;) {
        mof_plugin_rec *rec = ctx->plugins[i];
        if (rec->handle)
            dlclose(rec->handle);
        free(rec->path);
        free(rec);
    }
    free(ctx->plugins);
    ctx->plugins = NULL;
    ctx->n_plugins = 0;
}
