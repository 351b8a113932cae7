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
 * new reference to graph output i (the caller unrefs each). Errors name the node. */
MOF_API mof_status mof_interp_run(mof_interp *it, size_t n_inputs, mof_tensor *const *inputs,
                                  size_t n_outputs, mof_tensor **outputs);

/* Called after each node of the main graph (not of If/Loop/Scan bodies) runs, with the
 * node's outputs (entries NULL for omitted ones; borrowed, valid during the call). For
 * calibration and per-layer error reports. A negative status stops the run with it. */
typedef mof_status (*mof_interp_observer)(void *user, const mof_node *node, size_t n_outputs,
                                          mof_tensor *const *outputs);

/* Sets (fn NULL: clears) the observer of later runs. */
MOF_API void mof_interp_set_observer(mof_interp *it, mof_interp_observer fn, void *user);

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
