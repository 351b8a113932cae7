/* status.c: names of statuses and element types. */
#include "config.h"

#include <mof/common.h>

const char *mof_status_str(mof_status status)
{
    switch (status) {
    case MOF_OK: return "ok";
    case MOF_UNCHANGED: return "unchanged";
    case MOF_ERR_NOMEM: return "out of memory";
    case MOF_ERR_IO: return "input/output error";
    case MOF_ERR_PARSE: return "parse error";
    case MOF_ERR_INVALID_MODEL: return "invalid model";
    case MOF_ERR_INVALID_ARG: return "invalid argument";
    case MOF_ERR_UNSUPPORTED: return "unsupported";
    case MOF_ERR_ABI: return "incompatible plugin ABI";
    case MOF_ERR_VERIFY: return "verification failed";
    case MOF_ERR_INTERNAL: return "internal error";
    case MOF_ERR_NOT_FOUND: return "not found";
    }
    /* Not a case label: a plugin may hand back any integer. */
    return "unknown status";
}

const char *mof_dtype_name(mof_dtype dtype)
{
    switch (dtype) {
    case MOF_DTYPE_UNDEFINED: return "undefined";
    case MOF_DTYPE_FLOAT: return "float";
    case MOF_DTYPE_UINT8: return "uint8";
    case MOF_DTYPE_INT8: return "int8";
    case MOF_DTYPE_UINT16: return "uint16";
    case MOF_DTYPE_INT16: return "int16";
    case MOF_DTYPE_INT32: return "int32";
    case MOF_DTYPE_INT64: return "int64";
    case MOF_DTYPE_STRING: return "string";
    case MOF_DTYPE_BOOL: return "bool";
    case MOF_DTYPE_FLOAT16: return "float16";
    case MOF_DTYPE_DOUBLE: return "double";
    case MOF_DTYPE_UINT32: return "uint32";
    case MOF_DTYPE_UINT64: return "uint64";
    case MOF_DTYPE_COMPLEX64: return "complex64";
    case MOF_DTYPE_COMPLEX128: return "complex128";
    case MOF_DTYPE_BFLOAT16: return "bfloat16";
    case MOF_DTYPE_UINT4: return "uint4";
    case MOF_DTYPE_INT4: return "int4";
    }
    return "undefined";
}

size_t mof_dtype_size(mof_dtype dtype)
{
    switch (dtype) {
    case MOF_DTYPE_UINT8:
    case MOF_DTYPE_INT8:
    case MOF_DTYPE_BOOL:
    case MOF_DTYPE_UINT4: /* unpacked in memory, see mof/common.h */
    case MOF_DTYPE_INT4:
        return 1;
    case MOF_DTYPE_UINT16:
    case MOF_DTYPE_INT16:
    case MOF_DTYPE_FLOAT16:
    case MOF_DTYPE_BFLOAT16:
        return 2;
    case MOF_DTYPE_FLOAT:
    case MOF_DTYPE_INT32:
    case MOF_DTYPE_UINT32:
        return 4;
    case MOF_DTYPE_INT64:
    case MOF_DTYPE_UINT64:
    case MOF_DTYPE_DOUBLE:
    case MOF_DTYPE_COMPLEX64:
        return 8;
    case MOF_DTYPE_COMPLEX128:
        return 16;
    case MOF_DTYPE_UNDEFINED:
    case MOF_DTYPE_STRING:
        return 0;
    }
    return 0;
}

size_t mof_dtype_storage_bytes(mof_dtype dtype, int64_t numel)
{
    if (numel <= 0)
        return 0;
    if (dtype == MOF_DTYPE_UINT4 || dtype == MOF_DTYPE_INT4)
        return (size_t)(numel / 2 + numel % 2);
    return (size_t)numel * mof_dtype_size(dtype);
}
