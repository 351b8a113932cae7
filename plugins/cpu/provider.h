/* plugins/cpu/provider.h: the contract between the cpu backend's emitter and its kernel
 * providers (portable, onednn, int8, ...). Private to plugins/cpu/ (not SDK).
 *
 * See plugins/cpu/DESIGN.md for the artifact's shape. In short: the emitter (emit.c)
 * walks the graph in order, plans one arena, and for each node (or group of nodes,
 * see cpu_group) asks the providers in order whether one of them computes it; the
 * first that says yes writes C code into the sections of the generated source
 * (<prefix>.c). Providers never write files themselves: they print into sections, add
 * packed weights to the weight blob, name the runtime files their code calls, and add
 * build flags; the emitter writes everything atomically at the end.
 *
 * STABILITY: this header is shared by three people working in parallel. Changes are
 * additive only (new functions, new fields at the END of structs, new enum values at
 * the end). */
#ifndef MOF_CPU_PROVIDER_H
#define MOF_CPU_PROVIDER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mof/mof.h>

#define CPU_MAX_RANK 8

/* ------------------------------------------------------------------ sections
 *
 * The generated <prefix>.c is laid out as:
 *
 *   #include "<prefix>.h"  and the headers of the runtime files in use ("mofrt.h"...)
 *   [CPU_SEC_DECLS]        file-scope code: static const parameter structs, static
 *                          helper functions, tables. Everything here MUST be static
 *                          (only the <prefix>_* API is exported).
 *   struct <prefix>_model {
 *       unsigned char *arena;         activations (planned), 64-byte aligned
 *       unsigned char *scratch;       node-local scratch (see cpu_emit_scratch)
 *       const unsigned char *weights; the weight blob, 64-byte aligned
 *       mofrt_pool *pool;             thread pool (mofrt.h), never NULL
 *       int threads;                  number of threads of the pool (>= 1)
 *       ... emitter bookkeeping ...
 *       [CPU_SEC_STATE]              members; each line a declaration ending in ';'
 *   };
 *   int <prefix>_create(...) {
 *       ... allocates m (zeroed), arena, loads weights, checks CPU features,
 *           creates the pool ...
 *       [CPU_SEC_CREATE]             in scope: `m` (struct <prefix>_model *),
 *                                    `W` (const unsigned char *, = m->weights).
 *                                    On failure: `st = <PREFIX>_ERR_...; goto fail;`
 *                                    (destroy() then runs; see CPU_SEC_DESTROY).
 *   }
 *   int <prefix>_run(m, inputs, outputs) {
 *       [CPU_SEC_RUN]                in scope: `m`, `A` (unsigned char *, arena),
 *                                    `S` (unsigned char *, scratch), `W`,
 *                                    `in` (const void *const *), `out` (void *const *),
 *                                    `P` (mofrt_pool *, = m->pool).
 *                                    Each node's code is wrapped in its own { } block
 *                                    by the emitter, preceded by a comment naming the
 *                                    node; declare locals freely.
 *   }
 *   void <prefix>_destroy(m) {
 *       [CPU_SEC_DESTROY]            frees what CREATE allocated; runs in reverse
 *                                    node order; `m` is zeroed at allocation, so code
 *                                    here must accept members still 0/NULL (create
 *                                    failed half-way).
 *       ... frees pool, arena (if owned), weights, m ...
 *   }
 *
 * Use cpu_emit_printf for every line; the emitter indents. */
typedef enum cpu_section {
    CPU_SEC_DECLS = 0,
    CPU_SEC_STATE,
    CPU_SEC_CREATE,
    CPU_SEC_RUN,
    CPU_SEC_DESTROY,
    CPU_SEC_COUNT
} cpu_section;

/* ------------------------------------------------------------------ tensors
 *
 * The emitter's view of one value of the graph, every dim static. Where it lives: */
typedef enum cpu_storage {
    CPU_STORAGE_INPUT = 1,  /* a graph input: the caller's buffer in[index] (read-only) */
    CPU_STORAGE_OUTPUT,     /* a graph output: the caller's buffer out[index] */
    CPU_STORAGE_ARENA,      /* an activation at A + offset */
    CPU_STORAGE_WEIGHT,     /* a constant, in plain row-major form, at W + offset
                               (only present in the blob if some node reads it plain:
                               see cpu_emit_weight_expr) */
    CPU_STORAGE_ALIAS,      /* a view (Reshape, Flatten, Squeeze, Unsqueeze, Identity):
                               the same bytes as `alias_of`; expr is that tensor's */
} cpu_storage;

typedef struct cpu_tensor {
    const mof_value *value;   /* the IR value */
    const char *name;         /* its ONNX name (borrowed from the IR) */
    mof_dtype dtype;
    int rank;                 /* 0 for a scalar */
    int64_t dims[CPU_MAX_RANK];
    int64_t numel;            /* product of dims (1 for a scalar) */
    size_t nbytes;            /* numel * element size */
    cpu_storage storage;
    int index;                /* INPUT/OUTPUT: position in the graph's inputs/outputs */
    size_t offset;            /* ARENA: offset in the arena; WEIGHT: offset in the blob */
    const struct cpu_tensor *alias_of; /* ALIAS: the tensor whose bytes these are
                                          (never itself an ALIAS) */
    const mof_tensor *data;   /* WEIGHT (and constants in general): the data at emit
                                 time, to pack or to specialise code on; else NULL */
    /* A C expression, valid in CPU_SEC_RUN, of the element pointer type:
     * "((float *)(A + 4096))", "((const float *)in[0])", "((float *)out[1])",
     * "((const float *)(W + 128))". Inputs and weights are const. */
    char expr[96];
    /* The element type as C: "float", "int64_t", "uint8_t", "int8_t", "int32_t"... */
    const char *ctype;
} cpu_tensor;

/* ------------------------------------------------------------------ groups
 *
 * The emitter hands a provider a group: one primary node and, where the provider
 * accepts them (cpu_provider.accepts_post), element-wise nodes after it that it folds
 * into its epilogue: e.g. Conv -> Add(residual) -> Relu becomes one group with two
 * post-ops. The group's result is the output of the last post-op (or of the primary
 * when there is none); values between them are never materialised. A post-op follows
 * the primary's (or the previous post-op's) output, which must have exactly one use
 * and not be a graph output. */
typedef enum cpu_post_kind {
    CPU_POST_ADD = 1,       /* y = y + other, other of the same shape as y (e.g. a
                               residual), or broadcast per channel (see other_bcast) */
    CPU_POST_ACTIVATION,    /* y = act(y): activation and params as in <mof/fused.h> */
} cpu_post_kind;

typedef struct cpu_post {
    cpu_post_kind kind;
    const mof_node *node;          /* the Add / Relu / Clip / ... node */
    /* ADD: */
    const cpu_tensor *other;       /* the other operand */
    /* ACTIVATION: */
    mof_activation activation;
    float params[2];               /* filled with defaults where not given */
} cpu_post;

#define CPU_MAX_POST 4
typedef struct cpu_group {
    const mof_node *node;          /* the primary node */
    size_t n_post;
    cpu_post post[CPU_MAX_POST];
    const cpu_tensor *out;         /* where the group's result goes (output 0 of the last
                                      node of the group) */
} cpu_group;

/* ------------------------------------------------------------------ the emitter's API */

typedef struct cpu_emit cpu_emit;

/* Appends formatted text (normally one or more full lines) to a section. */
void cpu_emit_printf(cpu_emit *e, cpu_section s, const char *fmt, ...) MOF_PRINTF(3, 4);
void cpu_emit_vprintf(cpu_emit *e, cpu_section s, const char *fmt, va_list ap);

/* The tensor of a value (NULL for an omitted optional input, or a value the emitter
 * does not hold, e.g. a non-tensor). Valid until the end of the emit. */
const cpu_tensor *cpu_emit_tensor(cpu_emit *e, const mof_value *v);

/* A unique C identifier stem for this node, e.g. "n17"; use it for every
 * file-scope and state name the node's code declares ("n17_params", "n17_prim"). */
const char *cpu_emit_node_id(cpu_emit *e, const mof_node *node);

/* Adds data to the weight blob (copied; the blob is 64-byte aligned and each entry
 * is placed at a 64-byte boundary). *offset receives its offset: in code, the bytes are
 * at (W + offset). Use it for pre-packed weights (packed at emit time). */
mof_status cpu_emit_add_blob(cpu_emit *e, const void *data, size_t nbytes, size_t *offset);

/* Makes a constant tensor's plain row-major data available in the blob (added once,
 * shared by every node that asks) and returns its C expression (as cpu_tensor.expr).
 * Providers that pack a weight should not call this for it, so that the unpacked
 * copy does not enter the artifact. NULL for a non-constant. */
const char *cpu_emit_weight_expr(cpu_emit *e, const cpu_tensor *t);

/* Asks for `nbytes` of scratch memory for the node being emitted: the bytes at S
 * (= m->scratch, 64-byte aligned) are the node's alone while its code runs; the
 * scratch region is the maximum over all nodes and follows the activations in the
 * arena. Ask for per-thread scratch as threads * bytes (cpu_emit_threads). */
void cpu_emit_scratch(cpu_emit *e, size_t nbytes);

/* Declares that the artifact needs a runtime file of plugins/cpu/runtime/, by its
 * name there ("mofrt_gemm.c", "mofrt_gemm.h"). .c files are compiled and linked by
 * the artifact's Makefile; for a .h, the generated source #includes it. A file is
 * written once however often it is asked for. Returns MOF_ERR_NOT_FOUND (with a
 * diagnostic) when the plugin was built without it. Runtime files are copied with
 * "mofrt" replaced by the runtime prefix everywhere (names of files, functions, types,
 * macros as "MOFRT"), so several artifacts link into one program. */
mof_status cpu_emit_runtime(cpu_emit *e, const char *file);

/* Adds words to the artifact Makefile's CFLAGS (e.g. "-I/usr/include/dnnl"), LDLIBS
 * ("-ldnnl"), once each. */
void cpu_emit_cflags(cpu_emit *e, const char *flags);
void cpu_emit_ldlibs(cpu_emit *e, const char *libs);

/* Declares an instruction-set feature the generated code needs ("avx2", "fma",
 * "avx512f", "avx512vnni", names as __builtin_cpu_supports takes them). They are
 * listed in the header (<PREFIX>_CPU_FEATURES) and checked in create(). */
void cpu_emit_require_isa(cpu_emit *e, const char *feature);

/* Parameters of this emit. */
const char *cpu_emit_prefix(const cpu_emit *e);      /* "tiny": API is tiny_create... */
const char *cpu_emit_rt_prefix(const cpu_emit *e);   /* "tiny_rt": runtime symbols */
int cpu_emit_threads(const cpu_emit *e);              /* default pool size (>= 1) */
mof_context *cpu_emit_context(cpu_emit *e);
const mof_model *cpu_emit_model(const cpu_emit *e);

/* Reports an error about a node (its name and op type are named) and returns status
 * (MOF_ERR_UNSUPPORTED, MOF_ERR_INVALID_ARG, ...). */
mof_status cpu_emit_error(cpu_emit *e, const mof_node *node, mof_status status,
                          const char *fmt, ...) MOF_PRINTF(4, 5);

/* ------------------------------------------------------------------ providers */

enum {
    /* A kernels= choice ("kernels=onednn"). Its nodes go first, then the auxiliary
     * providers', then portable's. */
    CPU_PROVIDER_SELECTABLE = 1u << 0,
    /* Consulted whatever kernels= says, after the selected provider and before
     * portable (e.g. int8: integer kernels for QLinear ops and QDQ). */
    CPU_PROVIDER_AUXILIARY = 1u << 1,
};

typedef struct cpu_provider {
    const char *name;        /* "portable", "onednn", "int8" */
    const char *summary;     /* one line, for the backend's help */
    unsigned flags;          /* CPU_PROVIDER_* */
    /* Whether this provider computes `node` (op, dtypes, shapes, attributes). Called
     * by preflight with shapes possibly unknown (say why when they matter), and by
     * the emitter with every shape static. On false, *why is a static string. */
    bool (*supports)(const mof_node *node, const char **why);
    /* May be NULL. Whether `post` may be folded into the group whose primary node is
     * `node` and which already holds n_prev post-ops. The emitter only offers ADD of a
     * same-shaped tensor and the activations of <mof/fused.h>. */
    bool (*accepts_post)(const mof_node *node, size_t n_prev, const cpu_post *post);
    /* Writes the group's code. Called once per group, in node order, with every
     * tensor placed. Report errors through cpu_emit_error. */
    mof_status (*emit)(cpu_emit *e, const cpu_group *g);
    /* May be NULL. Called once before the first node of an emit that uses this
     * provider (e.g. to ask for its runtime files and flags). */
    mof_status (*begin)(cpu_emit *e);
    /* The ops it may claim (ends with an all-NULL entry); the backend's op table
     * (`mof backends cpu`, preflight) is the union over the providers. */
    const mof_op_support *ops;
} cpu_provider;

/* The providers, in order (provider.c holds the table; portable is last, the
 * fallback). To register a provider: define its `const cpu_provider` in your file,
 * declare it here next to the others, and add one line to cpu_providers[] in
 * provider.c ABOVE the portable entry. */
extern const cpu_provider cpu_provider_portable;
extern const cpu_provider cpu_provider_onednn;   /* provider_onednn.c */
extern const cpu_provider cpu_provider_int8;     /* emit_int8.c */

extern const cpu_provider *const cpu_providers[];
extern const size_t cpu_n_providers;

/* ------------------------------------------------------------------ runtime files
 *
 * Every file listed in CPU_RUNTIME_FILES (plugins/cpu/local.mk; the other fragments
 * append to it) is compiled into the plugin as text by a generated
 * plugins/cpu/runtime_files.c. */
typedef struct cpu_runtime_file {
    const char *name;       /* "mofrt_gemm.c" */
    const char *text;
    size_t size;
} cpu_runtime_file;
extern const cpu_runtime_file cpu_runtime_files[];
extern const size_t cpu_n_runtime_files;

/* ------------------------------------------------------------------ helpers for providers */

/* The C type name of an element type ("float", "int64_t"...), NULL if none. */
const char *cpu_ctype(mof_dtype dtype);
/* True when every dim of v is a known number. */
bool cpu_value_static(const mof_value *v);
/* The activation of a FusedConv/FusedGemm/FusedMatMul node, with its parameters
 * (defaults filled in). MOF_ACTIVATION_UNKNOWN for a bad attribute. */
mof_activation cpu_node_activation(const mof_node *node, float params[2]);

#endif
