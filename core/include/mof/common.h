/* mof/common.h: the types every other mof header uses: export macro, status codes,
 * element types and the opaque handles of the IR and the host. */
#ifndef MOF_COMMON_H
#define MOF_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mof/version.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks a function exported by libmof (the library builds with -fvisibility=hidden). */
#if defined(__GNUC__)
#define MOF_API __attribute__((visibility("default")))
#define MOF_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define MOF_API
#define MOF_PRINTF(fmt, args)
#endif

/* Result of every action. Errors are negative; MOF_UNCHANGED is returned by a pass
 * that found nothing to do (it is a success). */
typedef enum mof_status {
    MOF_OK = 0,
    MOF_UNCHANGED = 1,
    MOF_ERR_NOMEM = -1,
    MOF_ERR_IO = -2,
    MOF_ERR_PARSE = -3,
    MOF_ERR_INVALID_MODEL = -4,
    MOF_ERR_INVALID_ARG = -5,
    MOF_ERR_UNSUPPORTED = -6,
    MOF_ERR_ABI = -7,
    MOF_ERR_VERIFY = -8,
    MOF_ERR_INTERNAL = -9,
    MOF_ERR_NOT_FOUND = -10,
} mof_status;

/* A short lower-case description of a status ("out of memory"). Never NULL. */
MOF_API const char *mof_status_str(mof_status status);

/* Element types, numbered as ONNX's TensorProto.DataType. */
typedef enum mof_dtype {
    MOF_DTYPE_UNDEFINED = 0,
    MOF_DTYPE_FLOAT = 1,
    MOF_DTYPE_UINT8 = 2,
    MOF_DTYPE_INT8 = 3,
    MOF_DTYPE_UINT16 = 4,
    MOF_DTYPE_INT16 = 5,
    MOF_DTYPE_INT32 = 6,
    MOF_DTYPE_INT64 = 7,
    MOF_DTYPE_STRING = 8,
    MOF_DTYPE_BOOL = 9,
    MOF_DTYPE_FLOAT16 = 10,
    MOF_DTYPE_DOUBLE = 11,
    MOF_DTYPE_UINT32 = 12,
    MOF_DTYPE_UINT64 = 13,
    MOF_DTYPE_COMPLEX64 = 14,
    MOF_DTYPE_COMPLEX128 = 15,
    MOF_DTYPE_BFLOAT16 = 16,
    /* 4-bit integers (ONNX IR 10, opset 21). In memory one element per byte (uint4 as
     * 0..15, int4 sign-extended to -8..7), so that they index like int8; ONNX files
     * store them packed two per byte, the first element in the low nibble. */
    MOF_DTYPE_UINT4 = 21,
    MOF_DTYPE_INT4 = 22,
} mof_dtype;

/* ONNX's lower-case name of an element type ("float", "int64"), or "undefined". */
MOF_API const char *mof_dtype_name(mof_dtype dtype);
/* Bytes per element in memory; 0 for STRING (see mof_string) and unknown types. */
MOF_API size_t mof_dtype_size(mof_dtype dtype);
/* Bytes that numel elements take in an ONNX file's raw data: numel * size, except for
 * the packed 4-bit types (int4, uint4): ceil(numel / 2). 0 for STRING. */
MOF_API size_t mof_dtype_storage_bytes(mof_dtype dtype, int64_t numel);

/* One element of a STRING tensor: bytes, not necessarily NUL-terminated. */
typedef struct mof_string {
    size_t size;
    char *data;
} mof_string;

/* Opaque handles. Lifetimes are described where each is created. */
typedef struct mof_context mof_context;
typedef struct mof_model mof_model;
typedef struct mof_graph mof_graph;
typedef struct mof_node mof_node;
typedef struct mof_value mof_value;
typedef struct mof_tensor mof_tensor;
typedef struct mof_pipeline mof_pipeline;

#ifdef __cplusplus
}
#endif
#endif
