/* onnx_private.h: what the ONNX reader (onnx_load.c) and writer (onnx_save.c) share.
 *
 * The reader unpacks a ModelProto with protobuf-c, converts it into the IR and frees
 * the message at once. For every message it keeps, in the IR object's `extra`, the
 * packed bytes of the same message type with the modeled fields removed: unmodeled
 * fields and unknown fields. The writer unpacks `extra`, sets the modeled fields from
 * the IR (pointing at IR data, never copying weights) and packs. protobuf-c packs
 * known fields in field-number order and unknown fields after them, so load + save
 * gives the bytes protobuf-c packs from the original message.
 *
 * Conventions shared by both sides:
 * - ValueInfoProto types. A value's type comes from the first listing that names it
 *   (inputs, then outputs, then value_info). A later listing whose TypeProto differs
 *   keeps its own in its `extra`; when writing, a listing whose `extra` has a type
 *   keeps it, otherwise it gets the value's type.
 * - Typed data fields (float_data, int32_data, ...) hold, per element type, the ones
 *   listed by mof_onnx_typed_field(); narrower types are widened to int32/uint64
 *   in the file and narrowed in memory.
 * - External data is written at offsets aligned to MOF_ONNX_EXTERNAL_ALIGN. */
#ifndef MOF_ONNX_PRIVATE_H
#define MOF_ONNX_PRIVATE_H

#include <protobuf-c/protobuf-c.h>

#include "ir_private.h"
#include "onnx.pb-c.h"

/* Alignment of tensors in data files mof writes (enough for any SIMD load). */
#define MOF_ONNX_EXTERNAL_ALIGN 64

/* TensorProto field numbers of the data fields. */
enum {
    MOF_ONNX_FIELD_FLOAT_DATA = 4,
    MOF_ONNX_FIELD_INT32_DATA = 5,
    MOF_ONNX_FIELD_STRING_DATA = 6,
    MOF_ONNX_FIELD_INT64_DATA = 7,
    MOF_ONNX_FIELD_RAW_DATA = 9,
    MOF_ONNX_FIELD_DOUBLE_DATA = 10,
    MOF_ONNX_FIELD_UINT64_DATA = 11,
};

/* The typed TensorProto field holding elements of dtype (one of the
 * MOF_ONNX_FIELD_*_DATA numbers), and how many file elements one tensor element takes
 * (2 for complex types). 0 for types that have none (UNDEFINED, unknown). */
MOF_INTERNAL uint32_t mof_onnx_typed_field(mof_dtype dtype, size_t *per_elem);

/* Whether dtype is one that mof can hold in a tensor (every ONNX 1.12 type but
 * UNDEFINED). */
MOF_INTERNAL bool mof_onnx_dtype_known(int32_t dtype);
/* int4 / uint4: held one element per byte in memory, two per byte in files (first in
 * the low nibble). unpack4 reads numel elements from packed src (int4 sign-extended);
 * pack4 writes ceil(numel / 2) bytes of the low nibbles of src. */
MOF_INTERNAL bool mof_onnx_dtype_packed(mof_dtype dtype);
MOF_INTERNAL void mof_onnx_unpack4(mof_dtype dtype, const uint8_t *src, size_t numel,
                                   uint8_t *dst);
MOF_INTERNAL void mof_onnx_pack4(const uint8_t *src, size_t numel, uint8_t *dst);

/* Formats "float[2, 3]" into buf (truncated to size). */
MOF_INTERNAL void mof_onnx_format_type(char *buf, size_t size, int32_t dtype, size_t rank,
                                       const int64_t *dims);

/* Whether `location` (an external-data location, or a data file name) stays inside
 * its model's folder by its spelling: relative, not empty, no ".." component. */
MOF_INTERNAL bool mof_onnx_location_is_contained(const char *location);

/* Reads one TensorProto (a ".pb" tensor file, the ONNX test-data format) from memory;
 * path names it in messages, and its folder holds any external data. *name (name may
 * be NULL) receives the TensorProto's name (owned, NULL when it has none). Returns
 * NULL after one diagnostic. The tensor keeps its proto details, so that
 * mof_onnx_tensor_write() writes it back alike. */
MOF_INTERNAL mof_tensor *mof_onnx_tensor_from_buffer(mof_context *ctx, const char *path,
                                                     const uint8_t *data, size_t size,
                                                     char **name);
/* Writes t as one TensorProto (inline data) to f, named name (NULL: the name it was
 * read with, if any); path names the file in messages. */
MOF_INTERNAL mof_status mof_onnx_tensor_write(mof_context *ctx, const mof_tensor *t,
                                              const char *name, FILE *f, const char *path);

#endif
