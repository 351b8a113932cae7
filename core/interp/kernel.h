/* kernel.h: helpers shared by the interpreter's kernels and shape functions (inside
 * libmof, see kernel_util.c).
 *
 * Kernels get their inputs checked and their outputs created through these, so that
 * every failure names the node the same way; element types are classified once; and
 * shape functions build output shapes in a mof_dimvec, a dim at a time, carrying the
 * symbols of the input dims they keep. */
#ifndef MOF_INTERP_KERNEL_H
#define MOF_INTERP_KERNEL_H

#include "interp/op.h"

/* ------------------------------------------------------------------ kernels */

/* Reports "out of memory" about the running node; returns MOF_ERR_NOMEM. */
MOF_INTERNAL mof_status mof_kernel_nomem(mof_kernel_ctx *kc);

/* A new zero-filled tensor (owned), or NULL with the failure reported. */
MOF_INTERNAL mof_tensor *mof_kernel_new_tensor(mof_kernel_ctx *kc, mof_dtype dtype,
                                               size_t rank, const int64_t *dims);

/* Input i of a kernel (borrowed), NULL when omitted or beyond the node's inputs. */
static inline const mof_tensor *mof_kernel_input(size_t n_in, mof_tensor *const *in,
                                                 size_t i)
{
    return i < n_in ? in[i] : NULL;
}

/* MOF_OK when input i is given, else reports "input i is missing". */
MOF_INTERNAL mof_status mof_kernel_need_input(mof_kernel_ctx *kc, size_t n_in,
                                              mof_tensor *const *in, size_t i);
/* The same for inputs 0 .. n-1. */
MOF_INTERNAL mof_status mof_kernel_need_inputs(mof_kernel_ctx *kc, size_t n_in,
                                               mof_tensor *const *in, size_t n);

/* Normalizes axis into [0, rank), accepting [-rank, rank); else reports it. */
MOF_INTERNAL mof_status mof_kernel_norm_axis(mof_kernel_ctx *kc, int64_t axis, int64_t rank,
                                             int64_t *out);

/* The node's "axis" attribute (def when absent) normalized against rank. */
MOF_INTERNAL mof_status mof_kernel_axis(mof_kernel_ctx *kc, int64_t def, int64_t rank,
                                        int64_t *out);

/* Reports "<type> tensors are not supported by <op>" (MOF_ERR_UNSUPPORTED). */
MOF_INTERNAL mof_status mof_kernel_unsupported_type(mof_kernel_ctx *kc, mof_dtype t);

/* Hands y out as *out when st is MOF_OK, else drops it (a kernel's last step). */
static inline void mof_kernel_set_output(mof_status st, mof_tensor *y, mof_tensor **out)
{
    if (st == MOF_OK)
        *out = y;
    else
        mof_tensor_unref(y);
}

/* Drops out[i] for each output the node omits (a kernel that computes every output
 * calls this last). */
MOF_INTERNAL void mof_kernel_drop_unused(mof_kernel_ctx *kc, size_t n_out, mof_tensor **out);

/* d becomes a copy of s (d's old bytes freed). False when out of memory. */
MOF_INTERNAL bool mof_string_assign(mof_string *d, const mof_string *s);

/* Copies n elements src[si..] to dst[di..] (same element type); strings are duplicated
 * (replacing what dst held). False when out of memory. */
MOF_INTERNAL bool mof_tensor_copy_elems(mof_tensor *dst, int64_t di, const mof_tensor *src,
                                        int64_t si, int64_t n);

/* ------------------------------------------------------------------ element types */

static inline bool mof_dtype_is_float(mof_dtype t)
{
    return t == MOF_DTYPE_FLOAT || t == MOF_DTYPE_DOUBLE || t == MOF_DTYPE_FLOAT16 ||
           t == MOF_DTYPE_BFLOAT16;
}

static inline bool mof_dtype_is_int(mof_dtype t)
{
    switch (t) {
    case MOF_DTYPE_INT8: case MOF_DTYPE_INT16: case MOF_DTYPE_INT32: case MOF_DTYPE_INT64:
    case MOF_DTYPE_UINT8: case MOF_DTYPE_UINT16: case MOF_DTYPE_UINT32:
    case MOF_DTYPE_UINT64:
        return true;
    default:
        return false;
    }
}

static inline bool mof_dtype_is_unsigned(mof_dtype t)
{
    return t == MOF_DTYPE_UINT8 || t == MOF_DTYPE_UINT16 || t == MOF_DTYPE_UINT32 ||
           t == MOF_DTYPE_UINT64;
}

/* Numbers and bool: what mof_tensor_get_f64 / _i64 read. */
static inline bool mof_dtype_is_numeric(mof_dtype t)
{
    return mof_dtype_is_int(t) || mof_dtype_is_float(t) || t == MOF_DTYPE_BOOL;
}

/* ------------------------------------------------------------------ shape functions */

/* Input i of a shape function, NULL when omitted. */
static inline const mof_shape *mof_infer_input(const mof_infer_ctx *ic, size_t i)
{
    return i < ic->n_in && ic->in[i].present ? &ic->in[i] : NULL;
}

/* The node's "axis" attribute (def when absent) normalized into [0, rank); a
 * contradiction otherwise. */
MOF_INTERNAL mof_status mof_infer_axis(mof_infer_ctx *ic, int64_t def, int64_t rank,
                                       int64_t *out);

/* Output k (when the node has it) has the shape of x (unknown when x is NULL) and
 * element type dtype. */
MOF_INTERNAL mof_status mof_infer_like(mof_infer_ctx *ic, size_t k, const mof_shape *x,
                                       mof_dtype dtype);

/* Output 0 has input 0's type and shape (not its value). */
MOF_INTERNAL mof_status mof_infer_same(mof_infer_ctx *ic);

/* Output k (when the node has it) has the given type and rank (-1: unknown), its dims
 * unknown. */
MOF_INTERNAL mof_status mof_infer_set_rank(mof_infer_ctx *ic, size_t k, mof_dtype dtype,
                                           int rank);

/* The type of a value as declared or inferred so far (its value not looked at). */
MOF_INTERNAL mof_status mof_shape_of_value(const mof_value *v, mof_shape *s);

/* An output shape under construction: each dim a number, or -1 with a symbol
 * (borrowed from an input shape) or none. */
typedef struct mof_dimvec {
    int rank;
    int64_t *dims;
    const char **syms;
} mof_dimvec;

/* Starts rank dims, all unknown. MOF_ERR_NOMEM when out of memory. */
MOF_INTERNAL mof_status mof_dimvec_init(mof_dimvec *v, int rank);
MOF_INTERNAL void mof_dimvec_free(mof_dimvec *v);
/* Dim i becomes dim j of s (number or symbol); nothing when s has no dim j. */
MOF_INTERNAL void mof_dimvec_take(mof_dimvec *v, int i, const mof_shape *s, int j);
/* Dim i becomes the number d (negative: unknown). */
MOF_INTERNAL void mof_dimvec_set(mof_dimvec *v, int i, int64_t d);
/* Writes v as output k (when the node has it) with the given type, and frees v. */
MOF_INTERNAL mof_status mof_dimvec_emit(mof_infer_ctx *ic, size_t k, mof_dtype dtype,
                                        mof_dimvec *v);

#endif
