/* op.h: how the reference interpreter's operators are declared (inside libmof).
 *
 * Each operator is one row of a table: domain, op type, the opset range it covers, a
 * kernel that computes outputs from input tensors, and a shape function that computes
 * output types and shapes (with symbolic dims) from input shapes. The tables of all
 * families are listed in registry.c. Kernels are plain, obviously correct C; they
 * never print and report errors through mof_kernel_error (naming the node). */
#ifndef MOF_INTERP_OP_H
#define MOF_INTERP_OP_H

#include <stdarg.h>

#include <mof/interp.h>

#include "ir_private.h"

/* ------------------------------------------------------------------ kernels */

typedef struct mof_kernel_ctx {
    mof_context *ctx;
    const mof_node *node;
    int64_t opset;           /* opset of the node's domain */
    mof_interp *interp;      /* for control flow ops: see mof_interp_run_subgraph */
    void *frame;             /* the running frame (control flow ops pass it on) */
} mof_kernel_ctx;

/* Computes the node: in[i] is input i (NULL when omitted), out[i] must receive a new
 * tensor reference for every output the node has (out[i] may be left NULL for an
 * omitted output, i.e. when mof_node_output(node, i) is NULL). */
typedef mof_status (*mof_kernel_fn)(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                                    size_t n_out, mof_tensor **out);

/* A value of any kind (see <mof/interp.h>). Kernels of ops that take or give sequences
 * or optionals (value kernels) see their inputs as these; tensors are wrapped. */
struct mof_ivalue {
    int refcount;
    mof_ivalue_kind kind;
    mof_tensor *tensor;      /* TENSOR */
    mof_dtype elem_type;     /* SEQUENCE: the items' type (UNDEFINED: empty, unknown) */
    size_t n_items;          /* SEQUENCE */
    mof_tensor **items;      /* SEQUENCE: n_items references */
    mof_ivalue *elem;        /* OPTIONAL: what it holds, NULL when empty */
};

MOF_INTERNAL const char *mof_ivalue_kind_name(mof_ivalue_kind kind);

/* Computes the node from values of any kind: in[i] is input i (NULL when omitted),
 * out[i] must receive a new reference for every output the node has. */
typedef mof_status (*mof_vkernel_fn)(mof_kernel_ctx *kc, size_t n_in, mof_ivalue *const *in,
                                     size_t n_out, mof_ivalue **out);

/* Reports an error about the running node (MOF_ERR_INVALID_MODEL unless said) and
 * returns the status. */
MOF_INTERNAL mof_status mof_kernel_error(mof_kernel_ctx *kc, mof_status status,
                                         const char *fmt, ...) MOF_PRINTF(3, 4);

/* Reports an error about node n, named by its name or else the name it was loaded
 * under ("Relu#3"); returns status. */
MOF_INTERNAL mof_status mof_node_error(mof_context *ctx, mof_status status, const mof_node *n,
                                       const char *fmt, ...) MOF_PRINTF(4, 5);
MOF_INTERNAL mof_status mof_node_verror(mof_context *ctx, mof_status status,
                                        const mof_node *n, const char *fmt, va_list ap);

/* Runs a subgraph of the running node (If branches, Loop bodies) with the given
 * inputs (its graph inputs, in order); values of enclosing graphs are read from the
 * running frames. outputs receives new references, n_outputs == graph outputs. */
MOF_INTERNAL mof_status mof_interp_run_subgraph(mof_kernel_ctx *kc, const mof_graph *g,
                                                size_t n_inputs, mof_tensor *const *inputs,
                                                size_t n_outputs, mof_tensor **outputs);

/* The same with values of any kind (for If branches, Loop bodies and SequenceMap). */
MOF_INTERNAL mof_status mof_interp_run_subgraph_values(mof_kernel_ctx *kc, const mof_graph *g,
                                                       size_t n_inputs,
                                                       mof_ivalue *const *inputs,
                                                       size_t n_outputs,
                                                       mof_ivalue **outputs);

/* A seed for a random op without a `seed` attribute: the interpreter's count of such
 * draws so far (0, 1, 2, ... over its lifetime), so that runs are reproducible. */
MOF_INTERNAL uint64_t mof_interp_next_seed(mof_kernel_ctx *kc);

/* ------------------------------------------------------------------ shape inference */

/* A value's type during inference. rank -1: unknown shape. dims[i] >= 0 is known;
 * otherwise syms[i] names a symbol (may be NULL: unknown). value: the tensor when the
 * value is known (constant), for shape ops such as Reshape (borrowed). dtype
 * MOF_DTYPE_UNDEFINED: unknown type, or an omitted input (then present is false). */
typedef struct mof_shape {
    bool present;
    mof_dtype dtype;
    int rank;
    int64_t *dims;
    char **syms;
    const mof_tensor *value;
} mof_shape;

typedef struct mof_infer_ctx {
    mof_context *ctx;
    const mof_node *node;
    int64_t opset;
    size_t n_in;
    const mof_shape *in;
    size_t n_out;
    mof_shape *out;          /* zeroed; fill with mof_shape_set / mof_shape_copy */
} mof_infer_ctx;

/* Fills out[*] of the node. Leave an output's dtype UNDEFINED when it cannot be known;
 * return an error (via mof_infer_error) only for a real contradiction. */
typedef mof_status (*mof_infer_fn)(mof_infer_ctx *ic);

/* Sets a shape (dims and syms copied; syms may be NULL; rank -1: unknown). */
MOF_INTERNAL mof_status mof_shape_set(mof_shape *s, mof_dtype dtype, int rank,
                                      const int64_t *dims, char *const *syms);
MOF_INTERNAL mof_status mof_shape_copy(mof_shape *dst, const mof_shape *src);
MOF_INTERNAL void mof_shape_clear(mof_shape *s);
/* Multidirectional (numpy) broadcasting of n shapes into out (dtype given); a
 * contradiction is reported naming the node. */
MOF_INTERNAL mof_status mof_shape_broadcast(mof_infer_ctx *ic, size_t n,
                                            const mof_shape *const *shapes, mof_dtype dtype,
                                            mof_shape *out);
MOF_INTERNAL mof_status mof_infer_error(mof_infer_ctx *ic, const char *fmt, ...)
    MOF_PRINTF(2, 3);

/* ------------------------------------------------------------------ operator tables */

typedef struct mof_op_def {
    const char *domain;      /* "" for ONNX */
    const char *op_type;
    int64_t since_opset;     /* first opset this row covers (1 = all) */
    int64_t until_opset;     /* last opset covered, 0 = no upper bound */
    mof_kernel_fn run;       /* NULL for ops with a value kernel (mof_vop_def) */
    mof_infer_fn infer;
} mof_op_def;

/* The value kernel of an op that takes or gives sequences or optionals (Identity, If,
 * Loop and the sequence and optional ops). Such an op has a row here and, for its
 * shape function, a mof_op_def row whose run is NULL. */
typedef struct mof_vop_def {
    const char *domain;
    const char *op_type;
    int64_t since_opset;
    int64_t until_opset;
    mof_vkernel_fn run;
} mof_vop_def;

/* The operator tables, each ending with an all-zero row (registry.c lists them). */
extern MOF_INTERNAL const mof_op_def mof_ops_elementwise[];
extern MOF_INTERNAL const mof_op_def mof_ops_reduce[];
extern MOF_INTERNAL const mof_op_def mof_ops_control[];
extern MOF_INTERNAL const mof_op_def mof_ops_nn[];
extern MOF_INTERNAL const mof_op_def mof_ops_shape[];
extern MOF_INTERNAL const mof_op_def mof_ops_quant[];
extern MOF_INTERNAL const mof_op_def mof_ops_einsum[];
extern MOF_INTERNAL const mof_op_def mof_ops_detect[];
extern MOF_INTERNAL const mof_op_def mof_ops_mof[];
extern MOF_INTERNAL const mof_op_def mof_ops_layout[];
extern MOF_INTERNAL const mof_op_def mof_ops_seq[];

extern MOF_INTERNAL const mof_vop_def mof_vops_elementwise[];
extern MOF_INTERNAL const mof_vop_def mof_vops_control[];
extern MOF_INTERNAL const mof_vop_def mof_vops_seq[];

/* The row implementing op_type of domain at opset, or NULL. */
MOF_INTERNAL const mof_op_def *mof_op_find(const char *domain, const char *op_type,
                                           int64_t opset);
/* The value kernel of op_type of domain at opset, or NULL. */
MOF_INTERNAL mof_vkernel_fn mof_vop_find(const char *domain, const char *op_type,
                                         int64_t opset);
/* Whether the interpreter can run op_type of domain at opset (a tensor kernel or a
 * value kernel). */
MOF_INTERNAL bool mof_op_can_run(const char *domain, const char *op_type, int64_t opset);

/* ------------------------------------------------------------------ helpers for kernels */

/* Strides of a row-major shape (strides[rank-1] = 1). */
MOF_INTERNAL void mof_strides(size_t rank, const int64_t *dims, int64_t *strides);
/* Broadcast output dims of two shapes; false when incompatible. out has max rank. */
MOF_INTERNAL bool mof_broadcast_dims(size_t ra, const int64_t *a, size_t rb, const int64_t *b,
                                     size_t *rout, int64_t *out);
/* Reads element i of a numeric tensor as double / int64 (any numeric dtype). */
MOF_INTERNAL double mof_tensor_get_f64(const mof_tensor *t, int64_t i);
MOF_INTERNAL int64_t mof_tensor_get_i64(const mof_tensor *t, int64_t i);
/* Writes element i of a numeric tensor from double / int64 (converted, saturating for
 * integer types where the ONNX op says so is the kernel's business: this truncates). */
MOF_INTERNAL void mof_tensor_set_f64(mof_tensor *t, int64_t i, double v);
MOF_INTERNAL void mof_tensor_set_i64(mof_tensor *t, int64_t i, int64_t v);
/* IEEE half <-> float conversions. */
MOF_INTERNAL float mof_half_to_float(uint16_t h);
MOF_INTERNAL uint16_t mof_float_to_half(float f);
MOF_INTERNAL float mof_bfloat16_to_float(uint16_t h);
MOF_INTERNAL uint16_t mof_float_to_bfloat16(float f);
/* sgemm: C[M,N] = alpha * op(A)[M,K] op(B)[K,N] + beta * C, row-major with leading
 * dimensions; trans_a/trans_b transpose. Blocked for cache; used by MatMul, Gemm and
 * Conv (im2col). */
MOF_INTERNAL void mof_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                            float alpha, const float *a, int64_t lda, const float *b,
                            int64_t ldb, float beta, float *c, int64_t ldc);

#endif
