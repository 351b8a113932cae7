/* cpu.h: private declarations shared by the cpu backend's emitter files (not by
 * providers: they see provider.h only). */
#ifndef MOF_CPU_CPU_H
#define MOF_CPU_CPU_H

#include <stdio.h>

#include "provider.h"

/* Backend parameters (the private struct of the backend). */
enum cpu_weights_mode { CPU_WEIGHTS_AUTO = 0, CPU_WEIGHTS_EMBED, CPU_WEIGHTS_BLOB };
enum cpu_isa { CPU_ISA_BASELINE = 0, CPU_ISA_AVX2, CPU_ISA_AVX512 };

typedef struct cpu_params {
    const char *prefix;
    const char *runtime_prefix;  /* "" : <prefix>_rt */
    int kernels;                 /* index in cpu_kernel_choices */
    int64_t threads;
    int weights;                 /* enum cpu_weights_mode */
    int isa;                     /* enum cpu_isa */
    int64_t embed_max;           /* weights=auto embeds up to this many bytes */
    int64_t runs;                /* default runs of the example program */
    char why[320];               /* supports_node's formatted reasons (valid until the
                                    next call) */
} cpu_params;

/* kernels= choices: the SELECTABLE providers' names, NULL-terminated. */
extern const char *cpu_kernel_choices[];
/* The provider chain for a kernels= choice; returns its length. */
size_t cpu_provider_chain(int kernels, const cpu_provider **chain, size_t max);

/* A growable string. */
typedef struct cpu_buf {
    char *data;
    size_t len, cap;
    bool failed;   /* out of memory once: every later append is dropped */
} cpu_buf;
void cpu_buf_append(cpu_buf *b, const char *s, size_t n);
void cpu_buf_printf(cpu_buf *b, const char *fmt, ...) MOF_PRINTF(2, 3);
void cpu_buf_vprintf(cpu_buf *b, const char *fmt, va_list ap) MOF_PRINTF(2, 0);
void cpu_buf_free(cpu_buf *b);
/* s as the body of a C string literal (quotes, backslashes, '?' and control bytes
 * escaped), or as the text of a C comment ("*" "/" broken up). */
void cpu_buf_c_string(cpu_buf *b, const char *s);
void cpu_buf_comment(cpu_buf *b, const char *s);

/* The emitter's state (provider.h keeps it opaque). */
struct cpu_emit {
    mof_context *ctx;
    const mof_model *model;
    const mof_graph *graph;
    const cpu_params *params;
    char prefix[64], rt_prefix[80];
    cpu_buf sec[CPU_SEC_COUNT];
    unsigned char *blob;
    size_t blob_len, blob_cap;
    cpu_tensor *tensors;          /* every value of the main graph */
    size_t n_tensors;
    const mof_value **keys;       /* hash: value -> index + 1 */
    size_t *slots, n_slots;
    char **runtime;               /* names of the runtime files asked for */
    size_t n_runtime;
    cpu_buf cflags, ldlibs, isa;  /* space-separated words */
    size_t scratch;               /* max node scratch */
    size_t arena_act;             /* planned activation bytes */
    size_t peak_live;             /* peak of simultaneously live activation bytes */
    const mof_node *cur;          /* node being emitted */
    cpu_buf prof_labels;          /* the run's profile entries as C string literals,
                                     ",\n"-separated (see <prefix>_profile) */
    size_t n_prof;
    char idbuf[32];
    bool failed;
};

/* Fills the emitter from the model and runs the providers (emit.c). */
mof_status cpu_emit_run(cpu_emit *e);
void cpu_emit_fini(cpu_emit *e);
/* Writes the artifact folder (artifact.c). */
mof_status cpu_write_artifact(cpu_emit *e, const char *output_path, const char *provenance);

#endif
