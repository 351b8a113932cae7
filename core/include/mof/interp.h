/* mof/interp.h: the reference interpreter and shape inference.
 *
 * The interpreter runs a whole model on given inputs with plain, obviously correct C
 * kernels. It is the oracle of mof: constant folding, quantization calibration and
 * numeric verification all run on it. Every op it implements also has shape and type
 * inference, with symbolic dims carried through. An op it does not implement is
 * refused by name and domain, never skipped. */
#ifndef MOF_INTERP_H
#define MOF_INTERP_H

#include <mof/common.h>
#include <mof/context.h>
#include <mof/ir.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mof_interp mof_interp;

/* Prepares a model for execution: every node (subgraphs included) must be an op the
 * interpreter implements at the model's opset; each one that is not is reported
 * ("node 'n' (Foo, domain 'x'): not implemented by the interpreter") and NULL is
 * returned. The model must outlive the interpreter and not change while it lives. */
MOF_API mof_interp *mof_interp_create(mof_context *ctx, const mof_model *model);
MOF_API void mof_interp_destroy(mof_interp *it);

/* Runs the main graph. inputs[i] feeds graph input i (initializers that are also
 * inputs may be given NULL to use their default). On success outputs[i] receives a
 * new reference to graph output i (the caller unrefs each). Errors name the node.
 * Inputs and outputs are tensors here; see mof_interp_run_values for the others. */
MOF_API mof_status mof_interp_run(mof_interp *it, size_t n_inputs, mof_tensor *const *inputs,
                                  size_t n_outputs, mof_tensor **outputs);

/* Called after each node of the main graph (not of If/Loop/Scan bodies) runs, with the
 * node's outputs (entries NULL for omitted ones and for outputs that are sequences or
 * optionals; borrowed, valid during the call). For
 * calibration and per-layer error reports. A negative status stops the run with it. */
typedef mof_status (*mof_interp_observer)(void *user, const mof_node *node, size_t n_outputs,
                                          mof_tensor *const *outputs);

/* Sets (fn NULL: clears) the observer of later runs. */
MOF_API void mof_interp_set_observer(mof_interp *it, mof_interp_observer fn, void *user);

/* ------------------------------------------------------------------ sequences, optionals
 *
 * A value of a graph is a tensor, a sequence of tensors, or an optional (empty, or
 * holding a tensor or a sequence of tensors). mof_interp_run carries tensors only; a
 * model whose inputs or outputs are sequences or optionals runs through
 * mof_interp_run_values. A mof_ivalue is reference counted and never changes once
 * made. */
typedef struct mof_ivalue mof_ivalue;

typedef enum mof_ivalue_kind {
    MOF_IVALUE_TENSOR = 0,
    MOF_IVALUE_SEQUENCE = 1,
    MOF_IVALUE_OPTIONAL = 2,
} mof_ivalue_kind;

/* A tensor value (a reference to t is taken). NULL when out of memory. */
MOF_API mof_ivalue *mof_ivalue_tensor(mof_tensor *t);
/* A sequence of n tensors (references taken), all of element type elem_type;
 * elem_type may be MOF_DTYPE_UNDEFINED only for an empty sequence whose element type
 * is not known. NULL when out of memory or when an item is of another type. */
MOF_API mof_ivalue *mof_ivalue_sequence(mof_dtype elem_type, size_t n,
                                        mof_tensor *const *items);
/* An optional holding elem (a reference is taken; a tensor or a sequence), or the
 * empty optional when elem is NULL. NULL when out of memory or elem is an optional. */
MOF_API mof_ivalue *mof_ivalue_optional(mof_ivalue *elem);
MOF_API mof_ivalue *mof_ivalue_ref(mof_ivalue *v);
/* Drops a reference (NULL is a no-op). */
MOF_API void mof_ivalue_unref(mof_ivalue *v);
MOF_API mof_ivalue_kind mof_ivalue_get_kind(const mof_ivalue *v);
/* The tensor of a tensor value (borrowed), NULL for other kinds. */
MOF_API mof_tensor *mof_ivalue_get_tensor(const mof_ivalue *v);
/* A sequence's length (0 for other kinds), item i (borrowed) and element type. */
MOF_API size_t mof_ivalue_length(const mof_ivalue *v);
MOF_API mof_tensor *mof_ivalue_item(const mof_ivalue *v, size_t i);
MOF_API mof_dtype mof_ivalue_elem_type(const mof_ivalue *v);
/* What an optional holds (borrowed), NULL when it is empty or v is no optional. */
MOF_API mof_ivalue *mof_ivalue_element(const mof_ivalue *v);

/* Reads a value file of the ONNX backend test data: a TensorProto, SequenceProto or
 * OptionalProto (".pb"; kind says which, since the bytes do not), or a ".npy" tensor.
 * NULL after one diagnostic naming the file. */
MOF_API mof_ivalue *mof_ivalue_load(mof_context *ctx, const char *path, mof_ivalue_kind kind);

/* The kind of value v of a graph as its type declares it: MOF_OK with *kind;
 * MOF_UNCHANGED when the value has no declared type (*kind is MOF_IVALUE_TENSOR);
 * MOF_ERR_UNSUPPORTED for types the interpreter does not hold (maps, sparse tensors,
 * sequences of sequences). */
MOF_API mof_status mof_interp_value_kind(const mof_value *v, mof_ivalue_kind *kind);

/* Like mof_interp_run, for values of any kind: inputs[i] feeds graph input i (NULL
 * for an initializer's default), outputs[i] receives a new reference to output i. */
MOF_API mof_status mof_interp_run_values(mof_interp *it, size_t n_inputs,
                                         mof_ivalue *const *inputs, size_t n_outputs,
                                         mof_ivalue **outputs);

/* True when the interpreter implements op_type of domain ("" = ONNX) at that opset. */
MOF_API bool mof_interp_supports(const char *domain, const char *op_type, int64_t opset);

/* Evaluates one node on the given inputs (entries NULL for omitted optional inputs).
 * outputs[i] receives a new reference per node output (NULL for omitted ones). For
 * constant folding. */
MOF_API mof_status mof_interp_eval_node(mof_context *ctx, const mof_node *node, int64_t opset,
                                        size_t n_inputs, mof_tensor *const *inputs,
                                        size_t n_outputs, mof_tensor **outputs);

/* Infers the type and shape of every value of the model's graphs from its inputs and
 * initializers, writing them onto the values (mof_value_set_type). Dims that cannot be
 * known stay symbolic or unknown. A contradiction (e.g. Add of [2,3] and [4]) is an
 * error naming the node. Returns MOF_OK when something changed, MOF_UNCHANGED when
 * not. */
MOF_API mof_status mof_infer_shapes(mof_context *ctx, mof_model *model);

#ifdef __cplusplus
}
#endif
#endif
