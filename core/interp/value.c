/* value.c: the interpreter's values other than tensors (sequences and optionals), the
 * kinds that graph types declare, and value files of the ONNX backend test data.
 *
 * A graph value's TypeProto is kept packed by the IR when it is not a tensor type
 * (MOF_TYPE_OPAQUE); its kind is read here with protobuf-c. SequenceProto and
 * OptionalProto (onnx-data.proto) are not in the schema mof compiles, so their few
 * fields are read from the wire format directly; each TensorProto inside is read by
 * the ONNX reader (mof_onnx_tensor_from_buffer). */
#define _POSIX_C_SOURCE 200809L /* fileno */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <mof/io.h>

#include "interp/op.h"
#include "onnx_private.h"

/* ------------------------------------------------------------------ values */

const char *mof_ivalue_kind_name(mof_ivalue_kind kind)
{
    switch (kind) {
    case MOF_IVALUE_TENSOR: return "tensor";
    case MOF_IVALUE_SEQUENCE: return "sequence";
    case MOF_IVALUE_OPTIONAL: return "optional";
    }
    return "value";
}

mof_ivalue *mof_ivalue_tensor(mof_tensor *t)
{
    if (!t)
        return NULL;
    mof_ivalue *v = mof_calloc(1, sizeof(*v));
    if (!v)
        return NULL;
    v->refcount = 1;
    v->kind = MOF_IVALUE_TENSOR;
    v->tensor = mof_tensor_ref(t);
    return v;
}

mof_ivalue *mof_ivalue_sequence(mof_dtype elem_type, size_t n, mof_tensor *const *items)
{
    for (size_t i = 0; i < n; i++)
        if (!items[i] || items[i]->dtype != elem_type)
            return NULL;
    if (n && elem_type == MOF_DTYPE_UNDEFINED)
        return NULL;
    mof_ivalue *v = mof_calloc(1, sizeof(*v));
    mof_tensor **copy = mof_calloc(n ? n : 1, sizeof(*copy));
    if (!v || !copy) {
        free(v);
        free(copy);
        return NULL;
    }
    v->refcount = 1;
    v->kind = MOF_IVALUE_SEQUENCE;
    v->elem_type = elem_type;
    v->n_items = n;
    v->items = copy;
    for (size_t i = 0; i < n; i++)
        copy[i] = mof_tensor_ref(items[i]);
    return v;
}

mof_ivalue *mof_ivalue_optional(mof_ivalue *elem)
{
    if (elem && elem->kind == MOF_IVALUE_OPTIONAL)
        return NULL;
    mof_ivalue *v = mof_calloc(1, sizeof(*v));
    if (!v)
        return NULL;
    v->refcount = 1;
    v->kind = MOF_IVALUE_OPTIONAL;
    v->elem = elem ? mof_ivalue_ref(elem) : NULL;
    return v;
}

mof_ivalue *mof_ivalue_ref(mof_ivalue *v)
{
    if (v)
        v->refcount++;
    return v;
}

void mof_ivalue_unref(mof_ivalue *v)
{
    if (!v || --v->refcount > 0)
        return;
    mof_tensor_unref(v->tensor);
    for (size_t i = 0; i < v->n_items; i++)
        mof_tensor_unref(v->items[i]);
    free(v->items);
    mof_ivalue_unref(v->elem);
    free(v);
}

mof_ivalue_kind mof_ivalue_get_kind(const mof_ivalue *v) { return v->kind; }

mof_tensor *mof_ivalue_get_tensor(const mof_ivalue *v)
{
    return v && v->kind == MOF_IVALUE_TENSOR ? v->tensor : NULL;
}

size_t mof_ivalue_length(const mof_ivalue *v)
{
    return v && v->kind == MOF_IVALUE_SEQUENCE ? v->n_items : 0;
}

mof_tensor *mof_ivalue_item(const mof_ivalue *v, size_t i)
{
    return v && v->kind == MOF_IVALUE_SEQUENCE && i < v->n_items ? v->items[i] : NULL;
}

mof_dtype mof_ivalue_elem_type(const mof_ivalue *v)
{
    return v && v->kind == MOF_IVALUE_SEQUENCE ? v->elem_type : MOF_DTYPE_UNDEFINED;
}

mof_ivalue *mof_ivalue_element(const mof_ivalue *v)
{
    return v && v->kind == MOF_IVALUE_OPTIONAL ? v->elem : NULL;
}

/* ------------------------------------------------------------------ declared kinds */

/* The kind of a TypeProto: tensors, sequences of tensors, optionals of those. */
static mof_status type_proto_kind(const Onnx__TypeProto *tp, bool inner, mof_ivalue_kind *kind)
{
    switch (tp->value_case) {
    case ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE:
        *kind = MOF_IVALUE_TENSOR;
        return MOF_OK;
    case ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE: {
        const Onnx__TypeProto *e = tp->sequence_type->elem_type;
        mof_ivalue_kind k;
        /* A sequence's elements must be tensors (or of a type not said). */
        if (e && (type_proto_kind(e, true, &k) != MOF_OK || k != MOF_IVALUE_TENSOR))
            return MOF_ERR_UNSUPPORTED;
        *kind = MOF_IVALUE_SEQUENCE;
        return MOF_OK;
    }
    case ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE: {
        const Onnx__TypeProto *e = tp->optional_type->elem_type;
        mof_ivalue_kind k;
        if (inner || (e && (type_proto_kind(e, true, &k) != MOF_OK ||
                            k == MOF_IVALUE_OPTIONAL)))
            return MOF_ERR_UNSUPPORTED;
        *kind = MOF_IVALUE_OPTIONAL;
        return MOF_OK;
    }
    case ONNX__TYPE_PROTO__VALUE__NOT_SET:
        *kind = MOF_IVALUE_TENSOR;
        return inner ? MOF_OK : MOF_UNCHANGED;
    default:
        return MOF_ERR_UNSUPPORTED; /* maps, sparse tensors, opaque types */
    }
}

mof_status mof_interp_value_kind(const mof_value *v, mof_ivalue_kind *kind)
{
    *kind = MOF_IVALUE_TENSOR;
    while (v->flags & MOF_VF_CAPTURE && v->outer)
        v = v->outer;
    if (v->type.kind == MOF_TYPE_TENSOR || v->tensor)
        return MOF_OK;
    if (v->type.kind != MOF_TYPE_OPAQUE)
        return MOF_UNCHANGED;
    Onnx__TypeProto *tp = onnx__type_proto__unpack(NULL, v->type.extra.size,
                                                   v->type.extra.data);
    if (!tp)
        return MOF_ERR_UNSUPPORTED;
    mof_status st = type_proto_kind(tp, false, kind);
    protobuf_c_message_free_unpacked(&tp->base, NULL);
    if (st == MOF_UNCHANGED)
        st = MOF_ERR_UNSUPPORTED; /* a TypeProto that says nothing mof knows */
    return st;
}

/* ------------------------------------------------------------------ value files */

/* A protobuf field being read: number, wire type, and a varint or a byte range. */
typedef struct wire_field {
    uint32_t number;
    int wire;
    uint64_t varint;
    const uint8_t *bytes;
    size_t len;
} wire_field;

static bool wire_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

/* Reads the next field at *p; false at a malformed one. */
static bool wire_next(const uint8_t **p, const uint8_t *end, wire_field *f)
{
    uint64_t key;
    if (!wire_varint(p, end, &key) || key >> 3 == 0 || key >> 3 > UINT32_MAX)
        return false;
    f->number = (uint32_t)(key >> 3);
    f->wire = (int)(key & 7);
    f->bytes = NULL;
    f->len = 0;
    switch (f->wire) {
    case 0:
        return wire_varint(p, end, &f->varint);
    case 1:
        if (end - *p < 8)
            return false;
        *p += 8;
        return true;
    case 2: {
        uint64_t n;
        if (!wire_varint(p, end, &n) || n > (uint64_t)(end - *p))
            return false;
        f->bytes = *p;
        f->len = (size_t)n;
        *p += n;
        return true;
    }
    case 5:
        if (end - *p < 4)
            return false;
        *p += 4;
        return true;
    default:
        return false;
    }
}

/* Field numbers shared by SequenceProto and OptionalProto (onnx-data.proto). */
enum {
    F_ELEM_TYPE = 2,
    F_TENSOR = 3,
    F_SPARSE = 4,
    F_SEQUENCE = 5,
    F_MAP = 6,
    F_OPTIONAL = 7,
};
/* Their DataType enum. */
enum { DT_UNDEFINED = 0, DT_TENSOR = 1, DT_SEQUENCE = 3 };

static mof_ivalue *parse_value(mof_context *ctx, const char *path, const uint8_t *data,
                               size_t size, mof_ivalue_kind kind, int depth);

static mof_ivalue *bad_file(mof_context *ctx, const char *path, const char *what)
{
    mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_PARSE, &(mof_location){.file = path}, "%s",
               what);
    return NULL;
}

static mof_ivalue *nomem_file(mof_context *ctx, const char *path)
{
    mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, &(mof_location){.file = path},
               "out of memory");
    return NULL;
}

static mof_ivalue *parse_sequence(mof_context *ctx, const char *path, const uint8_t *data,
                                  size_t size)
{
    const uint8_t *p = data, *end = data + size;
    mof_tensor **items = NULL;
    size_t n = 0, cap = 0;
    mof_ivalue *v = NULL;
    int64_t elem_type = DT_UNDEFINED;
    const char *why = NULL;
    while (p < end && !why) {
        wire_field f;
        if (!wire_next(&p, end, &f)) {
            why = "corrupt SequenceProto (protobuf parse failed)";
            break;
        }
        if (f.number == F_ELEM_TYPE && f.wire == 0) {
            elem_type = (int64_t)f.varint;
        } else if (f.number == F_TENSOR && f.wire == 2) {
            if (!MOF_GROW(items, cap, n + 1)) {
                why = "";
                break;
            }
            items[n] = mof_onnx_tensor_from_buffer(ctx, path, f.bytes, f.len, NULL);
            if (!items[n])
                goto done; /* reported */
            n++;
        } else if (f.number >= F_SPARSE && f.number <= F_OPTIONAL && f.wire == 2) {
            why = "the SequenceProto holds sparse tensors, sequences, maps or optionals: "
                  "only sequences of tensors are supported";
        }
    }
    if (!why && elem_type != DT_TENSOR && !(elem_type == DT_UNDEFINED && n == 0))
        why = "the SequenceProto's elem_type is not TENSOR: only sequences of tensors are "
              "supported";
    for (size_t i = 1; !why && i < n; i++)
        if (items[i]->dtype != items[0]->dtype)
            why = "the SequenceProto's tensors have different element types";
    if (why) {
        if (*why)
            bad_file(ctx, path, why);
        else
            nomem_file(ctx, path);
        goto done;
    }
    v = mof_ivalue_sequence(n ? items[0]->dtype : MOF_DTYPE_UNDEFINED, n, items);
    if (!v)
        nomem_file(ctx, path);
done:
    for (size_t i = 0; i < n; i++)
        mof_tensor_unref(items[i]);
    free(items);
    return v;
}

static mof_ivalue *parse_optional(mof_context *ctx, const char *path, const uint8_t *data,
                                  size_t size, int depth)
{
    const uint8_t *p = data, *end = data + size;
    const uint8_t *elem = NULL;
    size_t elem_len = 0;
    mof_ivalue_kind elem_kind = MOF_IVALUE_TENSOR;
    while (p < end) {
        wire_field f;
        if (!wire_next(&p, end, &f))
            return bad_file(ctx, path, "corrupt OptionalProto (protobuf parse failed)");
        if ((f.number == F_TENSOR || f.number == F_SEQUENCE) && f.wire == 2) {
            elem = f.bytes;
            elem_len = f.len;
            elem_kind = f.number == F_TENSOR ? MOF_IVALUE_TENSOR : MOF_IVALUE_SEQUENCE;
        } else if (f.number >= F_SPARSE && f.number <= F_OPTIONAL && f.wire == 2) {
            return bad_file(ctx, path, "the OptionalProto holds a sparse tensor, a map or an "
                                       "optional: only tensors and sequences are supported");
        }
    }
    mof_ivalue *e = NULL;
    if (elem && !(e = parse_value(ctx, path, elem, elem_len, elem_kind, depth + 1)))
        return NULL;
    mof_ivalue *v = mof_ivalue_optional(e);
    mof_ivalue_unref(e);
    return v ? v : nomem_file(ctx, path);
}

static mof_ivalue *parse_value(mof_context *ctx, const char *path, const uint8_t *data,
                               size_t size, mof_ivalue_kind kind, int depth)
{
    if (depth > 2)
        return bad_file(ctx, path, "values nested too deep");
    switch (kind) {
    case MOF_IVALUE_SEQUENCE:
        return parse_sequence(ctx, path, data, size);
    case MOF_IVALUE_OPTIONAL:
        return parse_optional(ctx, path, data, size, depth);
    case MOF_IVALUE_TENSOR:
        break;
    }
    mof_tensor *t = mof_onnx_tensor_from_buffer(ctx, path, data, size, NULL);
    if (!t)
        return NULL;
    mof_ivalue *v = mof_ivalue_tensor(t);
    mof_tensor_unref(t);
    return v ? v : nomem_file(ctx, path);
}

mof_ivalue *mof_ivalue_load(mof_context *ctx, const char *path, mof_ivalue_kind kind)
{
    if (kind == MOF_IVALUE_TENSOR) {
        mof_tensor *t = mof_tensor_load(ctx, path, NULL);
        if (!t)
            return NULL;
        mof_ivalue *v = mof_ivalue_tensor(t);
        mof_tensor_unref(t);
        return v ? v : nomem_file(ctx, path);
    }
    mof_location loc = {.file = path};
    FILE *f = fopen(path, "rb");
    if (!f) {
        mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_IO, &loc, "cannot open: %s",
                   strerror(errno));
        return NULL;
    }
    struct stat st;
    uint8_t *buf = NULL;
    size_t size = 0;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_IO, &loc, "not a regular file");
        return NULL;
    }
    size = (size_t)st.st_size;
    buf = mof_malloc(size ? size : 1);
    if (!buf) {
        fclose(f);
        return nomem_file(ctx, path);
    }
    bool ok = fread(buf, 1, size, f) == size && !ferror(f);
    fclose(f);
    mof_ivalue *v = NULL;
    if (!ok)
        mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_IO, &loc, "read error");
    else
        v = parse_value(ctx, path, buf, size, kind, 0);
    free(buf);
    return v;
}
