/* mof/plugin.h: writing pass and backend plugins.
 *
 * A plugin is a shared object with one exported function, made by MOF_PLUGIN_DEFINE,
 * that returns a descriptor. The descriptor starts with the ABI version the plugin was
 * built against; the host refuses any other version before calling anything else in
 * the plugin. Its registration function declares passes and backends, each a static,
 * const table: name, summary, typed parameters, and the functions to call.
 *
 *   static const mof_param_desc params[] = {
 *       { .name = "max-nodes", .help = "stop after this many", .type = MOF_PARAM_INT,
 *         .offset = offsetof(struct my_pass, max_nodes), .def = "100", .min = 1,
 *         .max = 1e6, .flags = MOF_PARAM_RANGE },
 *       { 0 }
 *   };
 *   static const mof_pass_desc my_pass = { .size = sizeof(mof_pass_desc),
 *       .name = "my-pass", .summary = "...", .params = params,
 *       .priv_size = sizeof(struct my_pass), .run = my_run };
 *   static mof_status reg(mof_registrar *r) { return mof_register_pass(r, &my_pass); }
 *   MOF_PLUGIN_DEFINE("my-plugin", "1.0.0", "what it does", "MIT", reg)
 *
 * Build it with `pkg-config --cflags --libs mof` into a .so and put it in a plugin
 * folder (see `mof plugins`). */
#ifndef MOF_PLUGIN_H
#define MOF_PLUGIN_H

#include <mof/common.h>
#include <mof/context.h>
#include <mof/ir.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ parameters */

typedef enum mof_param_type {
    MOF_PARAM_BOOL = 1,    /* stored as bool: true/false, yes/no, on/off, 1/0 */
    MOF_PARAM_INT = 2,     /* stored as int64_t */
    MOF_PARAM_FLOAT = 3,   /* stored as double */
    MOF_PARAM_STRING = 4,  /* stored as const char * (owned by the host) */
    MOF_PARAM_CHOICE = 5,  /* stored as int: the index in choices */
} mof_param_type;

enum {
    MOF_PARAM_REQUIRED = 1u << 0, /* must be given; def is ignored */
    MOF_PARAM_RANGE = 1u << 1,    /* INT/FLOAT value must lie in [min, max] */
};

/* One parameter. A table of them ends with an all-zero entry. The host applies the
 * default, parses values given in the pipeline or with --set, checks type, range and
 * choices, and stores the value at offset in the pass's private struct. */
typedef struct mof_param_desc {
    const char *name;              /* kebab-case */
    const char *help;              /* one line */
    mof_param_type type;
    size_t offset;                 /* offsetof(private struct, field) */
    const char *def;               /* default, written as in a pipeline file; NULL: none */
    double min, max;               /* with MOF_PARAM_RANGE */
    const char *const *choices;    /* NULL-terminated, for MOF_PARAM_CHOICE */
    unsigned flags;
} mof_param_desc;

/* ------------------------------------------------------------------ passes */

typedef struct mof_pass_ctx mof_pass_ctx;

enum {
    /* The pass keeps the model's function exactly (bit for bit on every input). */
    MOF_PASS_EXACT = 1u << 0,
    /* The pass changes numerics (quantization, pruning); checks use `tolerance`. */
    MOF_PASS_CHANGES_NUMERICS = 1u << 1,
};

typedef struct mof_pass_desc {
    uint32_t size;                 /* sizeof(mof_pass_desc) */
    const char *name;              /* kebab-case, unique among loaded plugins */
    const char *summary;           /* one line for `mof passes` */
    const char *help;              /* longer text, may be NULL */
    const mof_param_desc *params;  /* may be NULL */
    size_t priv_size;              /* private struct size, allocated zeroed by the host */
    unsigned flags;                /* MOF_PASS_* */
    double tolerance;              /* relative tolerance with MOF_PASS_CHANGES_NUMERICS */
    /* Contracts, NULL-terminated lists of property names ("shapes", "nhwc", "qdq"):
     * what must hold before the pass runs, what holds after it, what it breaks. */
    const char *const *requires;
    const char *const *provides;
    const char *const *invalidates;
    /* Called once after the parameters are stored; may be NULL. */
    mof_status (*init)(mof_pass_ctx *pc, void *priv);
    /* Rewrites the model. Returns MOF_OK when it changed something, MOF_UNCHANGED
     * when not, or an error after reporting it (the host then restores the model). */
    mof_status (*run)(mof_pass_ctx *pc, mof_model *model, void *priv);
    /* Called exactly once, even when init failed; may be NULL. Must not free priv. */
    void (*fini)(void *priv);
} mof_pass_desc;

/* The context of the running pass: report through it. */
MOF_API mof_context *mof_pass_ctx_context(mof_pass_ctx *pc);
MOF_API const char *mof_pass_ctx_name(const mof_pass_ctx *pc);
/* Adds delta to a named statistic of this run ("nodes-removed"); shown in reports. */
MOF_API void mof_pass_stat(mof_pass_ctx *pc, const char *name, int64_t delta);
/* Attaches a structured result to this run's entry of the run report, under key:
 * json is one complete JSON value (object, array, string, number), copied. `mof run
 * --report FILE` writes it as "data": {key: json, ...} in the step's entry; the same
 * key given twice keeps the last. The host does not parse it: the pass must write
 * valid JSON. Returns MOF_OK, MOF_ERR_INVALID_ARG (NULL or empty key or json) or
 * MOF_ERR_NOMEM. A run that fails or is rolled back drops what it attached. */
MOF_API mof_status mof_pass_report_json(mof_pass_ctx *pc, const char *key, const char *json);

/* ------------------------------------------------------------------ backends */

typedef struct mof_backend_ctx mof_backend_ctx;

/* One supported operator: domain ("" for ONNX), op type ("*" for every op of the
 * domain, domain "*" for every domain), and the opset range (0 = unbounded). */
typedef struct mof_op_support {
    const char *domain;
    const char *op_type;
    int64_t since_opset;
    int64_t until_opset;
} mof_op_support;

typedef struct mof_backend_desc {
    uint32_t size;                   /* sizeof(mof_backend_desc) */
    const char *name;                /* kebab-case ("onnx", "cpu") */
    const char *summary;
    const char *help;
    const mof_param_desc *params;
    size_t priv_size;
    const char *default_output;      /* output name when the pipeline gives none */
    const mof_op_support *ops;       /* ends with an all-NULL entry */
    /* Refines ops for one node (types, attributes); may be NULL. On false, *why is a
     * static or node-lifetime string naming the reason (or one in priv, valid until the
     * next call). On true, *why may be set to a short note on how the backend runs the
     * node, shown by preflight (the cpu backend names its kernel provider), or left
     * NULL. */
    bool (*supports_node)(const mof_node *node, const char **why, void *priv);
    mof_status (*init)(mof_backend_ctx *bc, void *priv);
    /* Writes the artifact to output_path (use mof_output_* for atomicity). */
    mof_status (*emit)(mof_backend_ctx *bc, const mof_model *model, const char *output_path,
                       void *priv);
    void (*fini)(void *priv);
} mof_backend_desc;

MOF_API mof_context *mof_backend_ctx_context(mof_backend_ctx *bc);
MOF_API const char *mof_backend_ctx_name(const mof_backend_ctx *bc);
/* The pipeline's record of what produced the model ("mof 0.1.0; pipeline sha256:..."),
 * for the front-matter comment of emitted code (borrowed). */
MOF_API const char *mof_backend_ctx_provenance(const mof_backend_ctx *bc);

/* ------------------------------------------------------------------ plugins */

typedef struct mof_registrar mof_registrar;

MOF_API mof_status mof_register_pass(mof_registrar *r, const mof_pass_desc *pass);
MOF_API mof_status mof_register_backend(mof_registrar *r, const mof_backend_desc *backend);

/* Describes how the plugin was built, compared by the host. */
#define MOF_BUILD_SIGNATURE                                                                \
    "abi=" MOF_STRINGIFY(MOF_ABI_VERSION) ";ptr=" MOF_STRINGIFY(__SIZEOF_POINTER__)
#define MOF_STRINGIFY_(x) #x
#define MOF_STRINGIFY(x) MOF_STRINGIFY_(x)

/* The descriptor. Its head (abi_version, size) is fixed forever; fields are only ever
 * added at the end. */
typedef struct mof_plugin_desc {
    uint32_t abi_version;            /* MOF_ABI_VERSION at build time */
    uint32_t size;                   /* sizeof(mof_plugin_desc) at build time */
    const char *build_signature;     /* MOF_BUILD_SIGNATURE */
    const char *name;
    const char *version;
    const char *description;
    const char *license;
    mof_status (*register_plugin)(mof_registrar *r);
} mof_plugin_desc;

/* The one exported symbol of a plugin. */
#define MOF_PLUGIN_ENTRY_NAME "mof_plugin_entry"
typedef const mof_plugin_desc *(*mof_plugin_entry_fn)(void);

#if defined(MOF_PLUGIN_STATIC)
/* Linked into a program (unit tests): the entry point gets a unique name,
 * mof_plugin_entry_<MOF_PLUGIN_STATIC>, to pass to mof_context_add_static_plugin(). */
#define MOF_PLUGIN_ENTRY_SYMBOL_(n) mof_plugin_entry_##n
#define MOF_PLUGIN_ENTRY_SYMBOL(n) MOF_PLUGIN_ENTRY_SYMBOL_(n)
#define MOF_PLUGIN_EXPORT_ MOF_PLUGIN_ENTRY_SYMBOL(MOF_PLUGIN_STATIC)
#define MOF_PLUGIN_VISIBILITY_
#else
#define MOF_PLUGIN_EXPORT_ mof_plugin_entry
#define MOF_PLUGIN_VISIBILITY_ MOF_API
#endif

#define MOF_PLUGIN_DEFINE(name_, version_, description_, license_, register_)              \
    static const mof_plugin_desc mof_plugin_desc_ = {                                      \
        .abi_version = MOF_ABI_VERSION,                                                    \
        .size = sizeof(mof_plugin_desc),                                                   \
        .build_signature = MOF_BUILD_SIGNATURE,                                            \
        .name = (name_),                                                                   \
        .version = (version_),                                                             \
        .description = (description_),                                                    \
        .license = (license_),                                                             \
        .register_plugin = (register_),                                                    \
    };                                                                                     \
    MOF_PLUGIN_VISIBILITY_ const mof_plugin_desc *MOF_PLUGIN_EXPORT_(void);                \
    MOF_PLUGIN_VISIBILITY_ const mof_plugin_desc *MOF_PLUGIN_EXPORT_(void)                 \
    {                                                                                      \
        return &mof_plugin_desc_;                                                          \
    }

#ifdef __cplusplus
}
#endif
#endif
