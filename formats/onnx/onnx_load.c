/* onnx_load.c: reads ONNX models (ModelProto files) into the IR.
 *
 * The file is memory-mapped, checked by a light walk over the protobuf wire format
 * (protobuf-c's unpack gives no reason when it fails, and recurses without a depth
 * limit), unpacked by protobuf-c and unmapped; the message is converted into the IR
 * and freed at once. Weights are not copied again: protobuf-c already malloc'ed each
 * raw_data and each typed data array, and the tensors take those buffers over.
 * External data is memory-mapped, one mapping per data file, shared by its tensors.
 *
 * Faithfulness (see onnx_private.h): each IR object keeps, in `extra`, the packed
 * bytes of its message without the fields the IR models.
 *
 * Node outputs of a whole graph are created before any input is connected, so a file
 * whose nodes are not in topological order loads (mof_graph_verify reports it). Names
 * that no graph defines become MOF_VF_UNDEFINED values; names an enclosing graph
 * defines become captures.
 *
 * Every failure reports exactly one diagnostic, naming the file, and returns NULL. */
#define _XOPEN_SOURCE 700 /* mkstemp, mkdtemp, nftw, realpath, lstat */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mof/io.h>
#include <mof/text.h>

#include "onnx_private.h"

/* raw_data and external data are little-endian; they are used in place. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "mof reads ONNX tensor data in place and needs a little-endian host"
#endif

/* Deepest nesting of messages accepted (protobuf's own default limit). */
#define MAX_DEPTH 100

/* ------------------------------------------------------------------ shared helpers */

uint32_t mof_onnx_typed_field(mof_dtype dtype, size_t *per_elem)
{
    *per_elem = 1;
    switch (dtype) {
    case MOF_DTYPE_FLOAT:
        return MOF_ONNX_FIELD_FLOAT_DATA;
    case MOF_DTYPE_COMPLEX64:
        *per_elem = 2;
        return MOF_ONNX_FIELD_FLOAT_DATA;
    case MOF_DTYPE_INT32:
    case MOF_DTYPE_INT16:
    case MOF_DTYPE_INT8:
    case MOF_DTYPE_UINT16:
    case MOF_DTYPE_UINT8:
    case MOF_DTYPE_BOOL:
    case MOF_DTYPE_FLOAT16:
    case MOF_DTYPE_BFLOAT16:
        return MOF_ONNX_FIELD_INT32_DATA;
    case MOF_DTYPE_UINT4: /* two elements per int32_data entry (see load_tensor) */
    case MOF_DTYPE_INT4:
        return MOF_ONNX_FIELD_INT32_DATA;
    case MOF_DTYPE_STRING:
        return MOF_ONNX_FIELD_STRING_DATA;
    case MOF_DTYPE_INT64:
        return MOF_ONNX_FIELD_INT64_DATA;
    case MOF_DTYPE_DOUBLE:
        return MOF_ONNX_FIELD_DOUBLE_DATA;
    case MOF_DTYPE_COMPLEX128:
        *per_elem = 2;
        return MOF_ONNX_FIELD_DOUBLE_DATA;
    case MOF_DTYPE_UINT32:
    case MOF_DTYPE_UINT64:
        return MOF_ONNX_FIELD_UINT64_DATA;
    default:
        *per_elem = 0;
        return 0;
    }
}

bool mof_onnx_dtype_known(int32_t dtype)
{
    return (dtype >= MOF_DTYPE_FLOAT && dtype <= MOF_DTYPE_BFLOAT16) ||
           dtype == MOF_DTYPE_UINT4 || dtype == MOF_DTYPE_INT4;
}

bool mof_onnx_dtype_packed(mof_dtype dtype)
{
    return dtype == MOF_DTYPE_UINT4 || dtype == MOF_DTYPE_INT4;
}

void mof_onnx_unpack4(mof_dtype dtype, const uint8_t *src, size_t numel, uint8_t *dst)
{
    bool sign = dtype == MOF_DTYPE_INT4;
    for (size_t i = 0; i < numel; i++) {
        unsigned v = (src[i / 2] >> (i % 2 ? 4 : 0)) & 0xFu;
        dst[i] = sign ? (uint8_t)(int8_t)((int)(v ^ 8u) - 8) : (uint8_t)v;
    }
}

void mof_onnx_pack4(const uint8_t *src, size_t numel, uint8_t *dst)
{
    for (size_t i = 0; i < numel; i += 2) {
        unsigned lo = src[i] & 0xFu, hi = i + 1 < numel ? src[i + 1] & 0xFu : 0;
        dst[i / 2] = (uint8_t)(lo | hi << 4);
    }
}

void mof_onnx_format_type(char *buf, size_t size, int32_t dtype, size_t rank,
                          const int64_t *dims)
{
    mof_strbuf sb;
    mof_strbuf_init(&sb);
    if (mof_onnx_dtype_known(dtype))
        mof_strbuf_puts(&sb, mof_dtype_name((mof_dtype)dtype));
    else
        mof_strbuf_printf(&sb, "type %" PRId32, dtype);
    mof_strbuf_puts(&sb, "[");
    for (size_t i = 0; i < rank; i++)
        mof_strbuf_printf(&sb, "%s%" PRId64, i ? ", " : "", dims[i]);
    mof_strbuf_puts(&sb, "]");
    snprintf(buf, size, "%s", sb.data && !sb.failed ? sb.data : "?");
    mof_strbuf_free(&sb);
}

bool mof_onnx_location_is_contained(const char *location)
{
    if (!location || !*location || location[0] == '/')
        return false;
    for (const char *p = location;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return false;
        if (!slash)
            return true;
        p = slash + 1;
    }
}

/* ------------------------------------------------------------------ the wire walk
 * A check of the protobuf wire format against the ONNX descriptors, run before
 * protobuf-c unpacks: it says where and why a file is broken, and bounds the nesting
 * depth. It accepts what protobuf-c 1.4 accepts, except for field number 0. */

typedef struct wire_scan {
    size_t offset;          /* where the first problem is, from the start of the file */
    bool truncated;         /* the problem is that the data ends early */
    bool top_known;         /* a ModelProto field was recognized before it */
    char path[256];         /* message path at the problem, "ModelProto.graph.node" */
    char reason[192];
} wire_scan;

/* Reads a varint of at most max_bytes bytes at *pos. 0: read; 1: the data ends
 * inside it; 2: it is longer than max_bytes. */
static int read_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *value,
                       unsigned max_bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < max_bytes; i++) {
        if (*pos + i >= len)
            return 1;
        uint8_t b = p[*pos + i];
        if (i < 10)
            v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *pos += i + 1;
            *value = v;
            return 0;
        }
    }
    return 2;
}

static bool wire_fail(wire_scan *ws, size_t offset, bool truncated, const char *fmt, ...)
    MOF_PRINTF(4, 5);

static bool wire_fail(wire_scan *ws, size_t offset, bool truncated, const char *fmt, ...)
{
    ws->offset = offset;
    ws->truncated = truncated;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ws->reason, sizeof(ws->reason), fmt, ap);
    va_end(ap);
    return false;
}

static int wire_type_of(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
        return 5;
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 1;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_BYTES:
    case PROTOBUF_C_TYPE_MESSAGE:
        return 2;
    default:
        return 0;
    }
}

/* Checks the body of a packed repeated field. */
static bool wire_packed(wire_scan *ws, const ProtobufCFieldDescriptor *f, const uint8_t *p,
                        size_t len, size_t base)
{
    int wt = wire_type_of(f->type);
    if (wt == 5 || wt == 1) {
        size_t unit = wt == 5 ? 4 : 8;
        if (len % unit)
            return wire_fail(ws, base, false,
                             "packed field '%s' holds %zu bytes, not a multiple of %zu",
                             f->name, len, unit);
        return true;
    }
    for (size_t pos = 0; pos < len;) {
        uint64_t v;
        if (read_varint(p, len, &pos, &v, 10))
            return wire_fail(ws, base + pos, false, "packed field '%s' is malformed",
                             f->name);
    }
    return true;
}

static void path_push(wire_scan *ws, const char *name)
{
    size_t n = strlen(ws->path);
    snprintf(ws->path + n, sizeof(ws->path) - n, "%s%s", n ? "." : "", name);
}

static bool wire_message(wire_scan *ws, const ProtobufCMessageDescriptor *desc,
                         const uint8_t *p, size_t len, size_t base, int depth)
{
    size_t path_len = strlen(ws->path);
    for (size_t pos = 0; pos < len;) {
        size_t at = pos;
        uint64_t tag;
        int r = read_varint(p, len, &pos, &tag, 5);
        if (r == 1)
            return wire_fail(ws, base + at, true, "the data ends inside a field tag");
        if (r == 2 || (tag >> 3) > UINT32_MAX)
            return wire_fail(ws, base + at, false, "invalid field tag");
        uint32_t number = (uint32_t)(tag >> 3);
        int wt = (int)(tag & 7);
        if (number == 0)
            return wire_fail(ws, base + at, false, "invalid field number 0");
        const ProtobufCFieldDescriptor *f =
            desc ? protobuf_c_message_descriptor_get_field(desc, number) : NULL;
        if (wt == 3 || wt == 4 || wt > 5)
            return wire_fail(ws, base + at, false, "invalid wire type %d (field %" PRIu32 ")",
                             wt, number);
        if (f) {
            int want = wire_type_of(f->type);
            bool packed = f->label == PROTOBUF_C_LABEL_REPEATED && want != 2 && wt == 2;
            if (wt != want && !packed)
                return wire_fail(ws, base + at, false,
                                 "field '%s' has wire type %d, expected %d", f->name, wt,
                                 want);
            if (depth == 0)
                ws->top_known = true;
        }
        uint64_t v;
        switch (wt) {
        case 0:
            r = read_varint(p, len, &pos, &v, 10);
            if (r == 1)
                return wire_fail(ws, base + at, true, "the data ends inside a number");
            if (r == 2)
                return wire_fail(ws, base + at, false, "a number is longer than 10 bytes");
            break;
        case 1:
        case 5: {
            size_t n = wt == 1 ? 8 : 4;
            if (len - pos < n)
                return wire_fail(ws, base + at, true, "the data ends inside a %zu-byte number",
                                 n);
            pos += n;
            break;
        }
        default: { /* 2: length-delimited */
            r = read_varint(p, len, &pos, &v, 5);
            if (r == 1)
                return wire_fail(ws, base + at, true, "the data ends inside a length");
            if (r == 2)
                return wire_fail(ws, base + at, false, "invalid length");
            if (v > len - pos)
                return wire_fail(ws, base + at, true,
                                 "field %s%s%s declares %" PRIu64 " bytes, but only %zu remain",
                                 f ? "'" : "", f ? f->name : "", f ? "'" : "", v, len - pos);
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
                if (depth + 1 > MAX_DEPTH)
                    return wire_fail(ws, base + at, false,
                                     "messages are nested deeper than %d levels", MAX_DEPTH);
                path_push(ws, f->name);
                if (!wire_message(ws, f->descriptor, p + pos, (size_t)v, base + pos, depth + 1))
                    return false;
                ws->path[path_len] = '\0';
            } else if (f && wire_type_of(f->type) != 2) {
                if (!wire_packed(ws, f, p + pos, (size_t)v, base + pos))
                    return false;
            }
            pos += (size_t)v;
            break;
        }
        }
    }
    return true;
}

/* ------------------------------------------------------------------ the loader */

typedef struct ext_file {
    char *real;           /* realpath of the data file */
    mof_mapping *map;     /* NULL for an empty file */
    size_t size;
} ext_file;

typedef struct loader {
    mof_context *ctx;
    const char *file;      /* the model's name in messages */
    const char *base_dir;  /* where external data lives; NULL: refused */
    char *base_real;       /* realpath(base_dir), made on first use */
    mof_model *model;
    ext_file *ext;
    size_t n_ext, cap_ext;
    mof_status status;     /* the first error; later ones are not reported */
} loader;

static mof_status fail(loader *L, mof_status st, const char *fmt, ...) MOF_PRINTF(3, 4);

static mof_status fail(loader *L, mof_status st, const char *fmt, ...)
{
    if (L->status == MOF_OK) {
        va_list ap;
        va_start(ap, fmt);
        mof_vreport(L->ctx, MOF_SEVERITY_ERROR, st, &(mof_location){.file = L->file}, fmt, ap);
        va_end(ap);
        L->status = st;
    }
    return L->status;
}

static mof_status nomem(loader *L)
{
    return fail(L, MOF_ERR_NOMEM, "out of memory while loading the model");
}

static void loader_release(loader *L)
{
    for (size_t i = 0; i < L->n_ext; i++) {
        free(L->ext[i].real);
        mof_mapping_unref(L->ext[i].map);
    }
    free(L->ext);
    free(L->base_real);
}

static char *steal_str(char **field)
{
    char *s = *field;
    *field = NULL;
    return s;
}

/* Storage big enough for a copy of any ONNX message. */
typedef union msg_copy {
    ProtobufCMessage base;
    Onnx__ModelProto model;
    Onnx__GraphProto graph;
    Onnx__NodeProto node;
    Onnx__AttributeProto attr;
    Onnx__TensorProto tensor;
    Onnx__ValueInfoProto value_info;
    Onnx__TypeProto type;
    Onnx__OperatorSetIdProto opset;
} msg_copy;

/* Makes a field of the message at `msg` look absent to the packer. */
static void clear_field(unsigned char *msg, const ProtobufCFieldDescriptor *f)
{
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        *(size_t *)(void *)(msg + f->quantifier_offset) = 0;
    } else if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t *which = (uint32_t *)(void *)(msg + f->quantifier_offset);
        if (*which == f->id)
            *which = 0;
    } else if (f->type == PROTOBUF_C_TYPE_MESSAGE || f->type == PROTOBUF_C_TYPE_STRING) {
        *(void **)(void *)(msg + f->offset) = NULL;
    } else {
        MOF_ASSERT(f->label == PROTOBUF_C_LABEL_OPTIONAL);
        *(protobuf_c_boolean *)(void *)(msg + f->quantifier_offset) = 0;
    }
}

/* Packs msg without the fields numbered in skip: what the IR does not model. */
static bool pack_extra(const ProtobufCMessage *msg, const uint32_t *skip, size_t n_skip,
                       mof_blob *out)
{
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    msg_copy copy;
    MOF_ASSERT(d->sizeof_message <= sizeof(copy));
    memcpy(&copy, msg, d->sizeof_message);
    for (size_t i = 0; i < n_skip; i++) {
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(d, skip[i]);
        MOF_ASSERT(f != NULL);
        clear_field((unsigned char *)&copy, f);
    }
    *out = (mof_blob){0};
    size_t size = protobuf_c_message_get_packed_size(&copy.base);
    if (!size)
        return true;
    out->data = malloc(size);
    if (!out->data)
        return false;
    out->size = protobuf_c_message_pack(&copy.base, out->data);
    return true;
}

/* ------------------------------------------------------------------ types */

/* A TypeProto the IR models: a tensor type with no unknown fields inside. */
static bool type_is_modeled(const Onnx__TypeProto *tp)
{
    if (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
        return false;
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    if (tt->base.n_unknown_fields)
        return false;
    if (tt->shape) {
        if (tt->shape->base.n_unknown_fields)
            return false;
        for (size_t i = 0; i < tt->shape->n_dim; i++) {
            if (tt->shape->dim[i]->base.n_unknown_fields)
                return false;
        }
    }
    return true;
}

/* Converts a TypeProto (NULL: none) into *out, which is clear. The message is left
 * untouched: another listing's type may be compared with it later. */
static mof_status load_type(loader *L, const Onnx__TypeProto *tp, mof_type *out)
{
    if (!tp)
        return MOF_OK;
    if (!type_is_modeled(tp)) {
        out->kind = MOF_TYPE_OPAQUE;
        return pack_extra(&tp->base, NULL, 0, &out->extra) ? MOF_OK : nomem(L);
    }
    static const uint32_t skip[] = {1, 6}; /* tensor_type, denotation */
    out->kind = MOF_TYPE_TENSOR;
    if (!pack_extra(&tp->base, skip, 2, &out->extra) ||
        (tp->denotation && !(out->denotation = mof_strdup(tp->denotation))))
        return nomem(L);
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    out->has_elem_type = tt->has_elem_type;
    out->elem_type = (mof_dtype)tt->elem_type;
    if (!tt->shape)
        return MOF_OK;
    out->has_shape = true;
    if (tt->shape->n_dim) {
        out->dims = calloc(tt->shape->n_dim, sizeof(*out->dims));
        if (!out->dims)
            return nomem(L);
        out->rank = tt->shape->n_dim;
    }
    for (size_t i = 0; i < out->rank; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        mof_dim *md = &out->dims[i];
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
            md->kind = MOF_DIM_VALUE;
            md->value = d->dim_value;
        } else if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM) {
            md->kind = MOF_DIM_PARAM;
            if (!(md->param = mof_strdup(d->dim_param ? d->dim_param : "")))
                return nomem(L);
        }
        if (d->denotation && !(md->denotation = mof_strdup(d->denotation)))
            return nomem(L);
    }
    return MOF_OK;
}

/* 1: both absent or packing to the same bytes; 0: different; -1: out of memory. */
static int same_type(const Onnx__TypeProto *a, const Onnx__TypeProto *b)
{
    if (!a || !b)
        return a == b;
    size_t na = protobuf_c_message_get_packed_size(&a->base);
    size_t nb = protobuf_c_message_get_packed_size(&b->base);
    if (na != nb)
        return 0;
    if (!na)
        return 1;
    uint8_t *buf = malloc(2 * na);
    if (!buf)
        return -1;
    protobuf_c_message_pack(&a->base, buf);
    protobuf_c_message_pack(&b->base, buf + na);
    int same = memcmp(buf, buf + na, na) == 0;
    free(buf);
    return same;
}

/* ------------------------------------------------------------------ external data */

static bool path_within(const char *real, const char *base)
{
    size_t n = strlen(base);
    if (n == 1 && base[0] == '/')
        return real[0] == '/';
    return strncmp(real, base, n) == 0 && real[n] == '/';
}

/* The data file `location` names, mapped (once per model). */
static mof_status ext_open(loader *L, const char *tname, const char *location, ext_file **out)
{
    if (!L->base_dir)
        return fail(L, MOF_ERR_INVALID_MODEL,
                    "tensor '%s': its data is in the external file '%s', but the model was "
                    "loaded from memory without a folder to read it from",
                    tname, location);
    if (location[0] == '/')
        return fail(L, MOF_ERR_INVALID_MODEL,
                    "tensor '%s': external data location '%s' is an absolute path; only "
                    "files inside the model's folder are read",
                    tname, location);
    if (!mof_onnx_location_is_contained(location))
        return fail(L, MOF_ERR_INVALID_MODEL,
                    "tensor '%s': external data location '%s' leaves the model's folder",
                    tname, location);
    if (!L->base_real && !(L->base_real = realpath(L->base_dir, NULL)))
        return fail(L, MOF_ERR_IO, "cannot resolve the model's folder '%s': %s", L->base_dir,
                    strerror(errno));
    char *path = mof_asprintf("%s/%s", L->base_dir, location);
    if (!path)
        return nomem(L);
    char *real = realpath(path, NULL);
    int err = errno;
    free(path);
    if (!real)
        return fail(L, MOF_ERR_IO, "tensor '%s': cannot open external data file '%s': %s",
                    tname, location, strerror(err));
    if (!path_within(real, L->base_real)) {
        fail(L, MOF_ERR_INVALID_MODEL,
             "tensor '%s': external data location '%s' resolves to '%s', outside the "
             "model's folder",
             tname, location, real);
        free(real);
        return L->status;
    }
    for (size_t i = 0; i < L->n_ext; i++) {
        if (strcmp(L->ext[i].real, real) == 0) {
            free(real);
            *out = &L->ext[i];
            return MOF_OK;
        }
    }
    if (!MOF_GROW(L->ext, L->cap_ext, L->n_ext + 1)) {
        free(real);
        return nomem(L);
    }
    int fd = open(real, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* no wait on a FIFO */
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        err = errno;
        if (fd >= 0)
            close(fd);
        free(real);
        return fail(L, MOF_ERR_IO, "tensor '%s': cannot open external data file '%s': %s",
                    tname, location, strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        free(real);
        return fail(L, MOF_ERR_INVALID_MODEL,
                    "tensor '%s': external data location '%s' is not a regular file", tname,
                    location);
    }
    ext_file *e = &L->ext[L->n_ext];
    *e = (ext_file){.real = real, .size = (size_t)st.st_size};
    if (e->size) {
        void *addr = mmap(NULL, e->size, PROT_READ, MAP_PRIVATE, fd, 0);
        err = errno;
        if (addr == MAP_FAILED) {
            close(fd);
            free(real);
            return fail(L, MOF_ERR_IO, "tensor '%s': cannot map external data file '%s': %s",
                        tname, location, strerror(err));
        }
        e->map = malloc(sizeof(*e->map));
        if (!e->map) {
            munmap(addr, e->size);
            close(fd);
            free(real);
            return nomem(L);
        }
        *e->map = (mof_mapping){.refcount = 1, .addr = addr, .length = e->size};
    }
    close(fd);
    L->n_ext++;
    *out = e;
    return MOF_OK;
}

/* A decimal number of an external_data entry. */
static bool parse_u64(const char *s, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

/* Alignment the elements of dtype need to be read in place. */
static size_t elem_align(mof_dtype dtype)
{
    switch (dtype) {
    case MOF_DTYPE_COMPLEX64:
        return 4;
    case MOF_DTYPE_COMPLEX128:
        return 8;
    default: {
        size_t s = mof_dtype_size(dtype);
        return s ? s : 1;
    }
    }
}

/* Reads the data of an external tensor: borrowed from the mapped file, or copied when
 * it is not aligned for its type. */
static mof_status load_external(loader *L, const Onnx__TensorProto *tp, const char *tname,
                                const char *tdesc, mof_dtype dtype, size_t nbytes,
                                void **data, mof_mapping **mapping)
{
    const char *location = NULL;
    uint64_t offset = 0, length = 0;
    bool has_length = false;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const Onnx__StringStringEntryProto *kv = tp->external_data[i];
        if (!kv->key)
            continue;
        if (strcmp(kv->key, "location") == 0) {
            location = kv->value;
        } else if (strcmp(kv->key, "offset") == 0 || strcmp(kv->key, "length") == 0) {
            bool is_offset = kv->key[0] == 'o';
            if (!parse_u64(kv->value, is_offset ? &offset : &length))
                return fail(L, MOF_ERR_INVALID_MODEL,
                            "tensor '%s': external data %s '%s' is not a number", tname,
                            kv->key, kv->value ? kv->value : "");
            has_length |= !is_offset;
        }
    }
    if (!location || !*location)
        return fail(L, MOF_ERR_INVALID_MODEL,
                    "tensor '%s' is stored as external data but names no location", tname);
    if (dtype == MOF_DTYPE_STRING)
        return fail(L, MOF_ERR_INVALID_MODEL,
                    "tensor '%s': string tensors cannot be stored as external data", tname);
    ext_file *e = NULL;
    mof_status st = ext_open(L, tname, location, &e);
    if (st)
        return st;
    if (has_length && length != nbytes)
        return fail(L, MOF_ERR_INVALID_MODEL,
                    "tensor '%s' (%s): external data length %" PRIu64
                    " does not match its size of %zu bytes",
                    tname, tdesc, length, nbytes);
    if (offset > e->size || nbytes > e->size - offset)
        return fail(L, MOF_ERR_INVALID_MODEL,
                    "tensor '%s' (%s): external data at offset %" PRIu64 " (%zu bytes) lies "
                    "beyond the end of '%s' (%zu bytes)",
                    tname, tdesc, offset, nbytes, location, e->size);
    if (!nbytes) {
        *data = mof_malloc(0);
        return *data ? MOF_OK : nomem(L);
    }
    const uint8_t *src = (const uint8_t *)e->map->addr + offset;
    if ((uintptr_t)src % elem_align(dtype)) {
        *data = malloc(nbytes);
        if (!*data)
            return nomem(L);
        memcpy(*data, src, nbytes);
        return MOF_OK;
    }
    *data = (void *)src;
    *mapping = e->map;
    return MOF_OK;
}

/* ------------------------------------------------------------------ tensors */

/* Narrows int32_data / uint64_data into the in-memory element type; refuses values
 * that would not be written back the same. */
static void *narrow_typed(loader *L, const Onnx__TensorProto *tp, mof_dtype dtype,
                          size_t count, const char *tname, const char *tdesc)
{
    size_t esize = mof_dtype_size(dtype);
    uint8_t *out = mof_malloc(count * esize);
    if (!out) {
        nomem(L);
        return NULL;
    }
    if (mof_onnx_dtype_packed(dtype)) {
        /* count elements; each int32_data entry holds a byte of two of them. */
        size_t n = mof_dtype_storage_bytes(dtype, (int64_t)count);
        uint8_t *bytes = mof_malloc(n ? n : 1);
        if (!bytes) {
            free(out);
            nomem(L);
            return NULL;
        }
        for (size_t i = 0; i < n; i++) {
            if (tp->int32_data[i] < 0 || tp->int32_data[i] > UINT8_MAX) {
                fail(L, MOF_ERR_INVALID_MODEL,
                     "tensor '%s' (%s): entry %zu of int32_data does not hold two packed "
                     "4-bit elements", tname, tdesc, i);
                free(bytes);
                free(out);
                return NULL;
            }
            bytes[i] = (uint8_t)tp->int32_data[i];
        }
        mof_onnx_unpack4(dtype, bytes, count, out);
        free(bytes);
        return out;
    }
    for (size_t i = 0; i < count; i++) {
        int64_t v;
        if (dtype == MOF_DTYPE_UINT32)
            v = tp->uint64_data[i] > UINT32_MAX ? -1 : (int64_t)tp->uint64_data[i];
        else
            v = tp->int32_data[i];
        int64_t lo = 0, hi = 0;
        switch (dtype) {
        case MOF_DTYPE_INT8: lo = INT8_MIN; hi = INT8_MAX; break;
        case MOF_DTYPE_UINT8:
        case MOF_DTYPE_BOOL: hi = UINT8_MAX; break;
        case MOF_DTYPE_INT16: lo = INT16_MIN; hi = INT16_MAX; break;
        case MOF_DTYPE_UINT16:
        case MOF_DTYPE_FLOAT16:
        case MOF_DTYPE_BFLOAT16: hi = UINT16_MAX; break;
        default: hi = UINT32_MAX; break; /* UINT32 */
        }
        if (v < lo || v > hi) {
            fail(L, MOF_ERR_INVALID_MODEL,
                 "tensor '%s' (%s): element %zu of %s does not fit the element type", tname,
                 tdesc, i, dtype == MOF_DTYPE_UINT32 ? "uint64_data" : "int32_data");
            free(out);
            return NULL;
        }
        switch (esize) {
        case 1: out[i] = (uint8_t)v; break;
        case 2: ((uint16_t *)(void *)out)[i] = (uint16_t)v; break;
        default: ((uint32_t *)(void *)out)[i] = (uint32_t)v; break;
        }
    }
    return out;
}

/* Takes the typed data array of tp (count elements of that field) as the tensor's
 * data: the arrays protobuf-c allocated are taken over when the type matches. */
static void *take_typed(loader *L, Onnx__TensorProto *tp, mof_dtype dtype, size_t count,
                        const char *tname, const char *tdesc)
{
    void *data = NULL;
    switch (dtype) {
    case MOF_DTYPE_FLOAT:
    case MOF_DTYPE_COMPLEX64:
        data = tp->float_data;
        tp->float_data = NULL;
        tp->n_float_data = 0;
        break;
    case MOF_DTYPE_INT32:
        data = tp->int32_data;
        tp->int32_data = NULL;
        tp->n_int32_data = 0;
        break;
    case MOF_DTYPE_INT64:
        data = tp->int64_data;
        tp->int64_data = NULL;
        tp->n_int64_data = 0;
        break;
    case MOF_DTYPE_DOUBLE:
    case MOF_DTYPE_COMPLEX128:
        data = tp->double_data;
        tp->double_data = NULL;
        tp->n_double_data = 0;
        break;
    case MOF_DTYPE_UINT64:
        data = tp->uint64_data;
        tp->uint64_data = NULL;
        tp->n_uint64_data = 0;
        break;
    case MOF_DTYPE_STRING: {
        mof_string *s = mof_calloc(count, sizeof(*s));
        if (!s) {
            nomem(L);
            return NULL;
        }
        for (size_t i = 0; i < count; i++) {
            s[i].size = tp->string_data[i].len;
            s[i].data = (char *)tp->string_data[i].data;
            tp->string_data[i] = (ProtobufCBinaryData){0};
        }
        return s;
    }
    default:
        return narrow_typed(L, tp, dtype, count, tname, tdesc);
    }
    if (!data && !(data = mof_malloc(0)))
        nomem(L);
    return data;
}

static size_t typed_count(const Onnx__TensorProto *tp, uint32_t field)
{
    switch (field) {
    case MOF_ONNX_FIELD_FLOAT_DATA: return tp->n_float_data;
    case MOF_ONNX_FIELD_INT32_DATA: return tp->n_int32_data;
    case MOF_ONNX_FIELD_STRING_DATA: return tp->n_string_data;
    case MOF_ONNX_FIELD_INT64_DATA: return tp->n_int64_data;
    case MOF_ONNX_FIELD_DOUBLE_DATA: return tp->n_double_data;
    case MOF_ONNX_FIELD_UINT64_DATA: return tp->n_uint64_data;
    default: return tp->has_raw_data ? 1 : 0;
    }
}

static const char *field_name(uint32_t field)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field(&onnx__tensor_proto__descriptor, field);
    return f ? f->name : "?";
}

/* Converts a TensorProto into a tensor with its proto details. `what` names it in
 * messages. The initializer's name is its value's, not kept in the proto. */
static mof_tensor *load_tensor(loader *L, Onnx__TensorProto *tp, const char *what,
                               bool initializer)
{
    static const uint32_t data_fields[] = {
        MOF_ONNX_FIELD_RAW_DATA,   MOF_ONNX_FIELD_FLOAT_DATA,  MOF_ONNX_FIELD_INT32_DATA,
        MOF_ONNX_FIELD_STRING_DATA, MOF_ONNX_FIELD_INT64_DATA, MOF_ONNX_FIELD_DOUBLE_DATA,
        MOF_ONNX_FIELD_UINT64_DATA,
    };
    const char *tname = what && *what ? what : "(unnamed)";
    int32_t dt = tp->has_data_type ? tp->data_type : 0;
    char tdesc[128];
    mof_onnx_format_type(tdesc, sizeof(tdesc), dt, tp->n_dims, tp->dims);
    int64_t numel = mof_dims_numel(tp->n_dims, tp->dims);
    if (numel < 0) {
        fail(L, MOF_ERR_INVALID_MODEL, "tensor '%s' has invalid dims %s", tname, tdesc);
        return NULL;
    }
    if (!mof_onnx_dtype_known(dt)) {
        if (!tp->has_data_type || dt == 0)
            fail(L, MOF_ERR_INVALID_MODEL, "tensor '%s' has no data type", tname);
        else
            fail(L, MOF_ERR_UNSUPPORTED, "tensor '%s' has data type %" PRId32
                 ", which mof does not support", tname, dt);
        return NULL;
    }
    mof_dtype dtype = (mof_dtype)dt;
    bool external = tp->has_data_location &&
                    tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    uint32_t present[2] = {0, 0};
    size_t n_present = 0;
    for (size_t i = 0; i < sizeof(data_fields) / sizeof(data_fields[0]); i++) {
        if (typed_count(tp, data_fields[i])) {
            if (n_present < 2)
                present[n_present] = data_fields[i];
            n_present++;
        }
    }
    size_t per;
    uint32_t typed = mof_onnx_typed_field(dtype, &per);
    mof_tensor_store store;
    if (external) {
        if (n_present) {
            fail(L, MOF_ERR_INVALID_MODEL,
                 "tensor '%s' is stored as external data but also has %s", tname,
                 field_name(present[0]));
            return NULL;
        }
        store = MOF_STORE_EXTERNAL;
    } else if (n_present > 1) {
        fail(L, MOF_ERR_INVALID_MODEL, "tensor '%s' has data in both %s and %s", tname,
             field_name(present[0]), field_name(present[1]));
        return NULL;
    } else if (n_present == 0) {
        if (numel) {
            fail(L, MOF_ERR_INVALID_MODEL, "tensor '%s' (%s) has no data", tname, tdesc);
            return NULL;
        }
        store = MOF_STORE_NONE;
    } else if (present[0] == MOF_ONNX_FIELD_RAW_DATA) {
        if (dtype == MOF_DTYPE_STRING) {
            fail(L, MOF_ERR_INVALID_MODEL,
                 "tensor '%s': string tensors cannot use raw_data", tname);
            return NULL;
        }
        store = MOF_STORE_RAW;
    } else if (present[0] != typed) {
        fail(L, MOF_ERR_INVALID_MODEL,
             "tensor '%s' (%s) has its data in %s, which does not hold %s elements", tname,
             tdesc, field_name(present[0]), mof_dtype_name(dtype));
        return NULL;
    } else {
        store = MOF_STORE_TYPED;
    }

    size_t esize = dtype == MOF_DTYPE_STRING ? sizeof(mof_string) : mof_dtype_size(dtype);
    if ((uint64_t)numel > SIZE_MAX / esize / 2) {
        fail(L, MOF_ERR_INVALID_MODEL, "tensor '%s' (%s) is too large", tname, tdesc);
        return NULL;
    }
    size_t nbytes = (size_t)numel * esize;
    /* What the file holds: int4 / uint4 packed two per byte, unpacked in memory. */
    bool packed = mof_onnx_dtype_packed(dtype);
    size_t file_bytes = mof_dtype_storage_bytes(dtype, numel);
    size_t typed_want = packed ? file_bytes : (size_t)numel * per;
    void *data = NULL;
    mof_mapping *mapping = NULL;
    switch (store) {
    case MOF_STORE_RAW:
        if (tp->raw_data.len != file_bytes) {
            fail(L, MOF_ERR_INVALID_MODEL,
                 "tensor '%s' (%s) has %zu bytes of raw_data, expected %zu", tname, tdesc,
                 tp->raw_data.len, file_bytes);
            return NULL;
        }
        break;
    case MOF_STORE_TYPED: {
        size_t n = typed_count(tp, typed);
        if (n != typed_want) {
            fail(L, MOF_ERR_INVALID_MODEL,
                 "tensor '%s' (%s) has %zu values in %s, expected %zu", tname, tdesc, n,
                 field_name(typed), typed_want);
            return NULL;
        }
        break;
    }
    case MOF_STORE_EXTERNAL:
        if (load_external(L, tp, tname, tdesc, dtype, file_bytes, &data, &mapping))
            return NULL;
        if (packed) {
            uint8_t *u = mof_malloc(nbytes ? nbytes : 1);
            if (!u) {
                if (!mapping)
                    free(data);
                nomem(L);
                return NULL;
            }
            mof_onnx_unpack4(dtype, data, (size_t)numel, u);
            if (!mapping)
                free(data);
            data = u;
            mapping = NULL;
        }
        break;
    case MOF_STORE_NONE:
        break;
    }

    /* The extra keeps external_data entries only when one has unknown fields. */
    bool ext_modeled = true;
    for (size_t i = 0; i < tp->n_external_data; i++)
        ext_modeled &= tp->external_data[i]->base.n_unknown_fields == 0;
    uint32_t skip[8] = {1, 2, 8, 12, 14};
    size_t n_skip = 5;
    if (store == MOF_STORE_RAW)
        skip[n_skip++] = MOF_ONNX_FIELD_RAW_DATA;
    else if (store == MOF_STORE_TYPED)
        skip[n_skip++] = typed;
    if (ext_modeled)
        skip[n_skip++] = 13;
    mof_tensor_proto *proto = calloc(1, sizeof(*proto));
    if (!proto || !pack_extra(&tp->base, skip, n_skip, &proto->extra))
        goto nomem;
    if (ext_modeled && tp->n_external_data) {
        proto->external = calloc(tp->n_external_data, sizeof(*proto->external));
        if (!proto->external)
            goto nomem;
        proto->n_external = tp->n_external_data;
    }

    /* Nothing fails past the data conversion but allocations; take buffers now. */
    switch (store) {
    case MOF_STORE_RAW:
        if (packed) {
            if (!(data = mof_malloc(nbytes ? nbytes : 1)))
                goto nomem;
            mof_onnx_unpack4(dtype, tp->raw_data.data, (size_t)numel, data);
            break;
        }
        data = tp->raw_data.data;
        tp->raw_data = (ProtobufCBinaryData){0};
        tp->has_raw_data = 0;
        if (!data && !(data = mof_malloc(0)))
            goto nomem;
        break;
    case MOF_STORE_TYPED:
        data = take_typed(L, tp, dtype, (size_t)numel * per, tname, tdesc);
        if (!data)
            goto fail;
        break;
    case MOF_STORE_NONE:
        if (!(data = mof_calloc(1, 1)))
            goto nomem;
        break;
    case MOF_STORE_EXTERNAL:
        break;
    }
    mof_tensor *t = mof_tensor_wrap(dtype, tp->n_dims, tp->dims, data, nbytes, mapping);
    if (!t) {
        if (!mapping) {
            if (dtype == MOF_DTYPE_STRING) {
                mof_string *s = data;
                for (int64_t i = 0; i < numel; i++)
                    free(s[i].data);
            }
            free(data);
        }
        data = NULL;
        goto nomem;
    }
    proto->has_data_type = tp->has_data_type;
    proto->store = store;
    proto->has_data_location = tp->has_data_location;
    proto->data_location = (int)tp->data_location;
    proto->doc_string = steal_str(&tp->doc_string);
    if (!initializer)
        proto->name = steal_str(&tp->name);
    for (size_t i = 0; i < proto->n_external; i++) {
        proto->external[i].key = steal_str(&tp->external_data[i]->key);
        proto->external[i].value = steal_str(&tp->external_data[i]->value);
    }
    t->proto = proto;
    return t;
nomem:
    if (data && !mapping)
        free(data);
    nomem(L);
fail:
    mof_tensor_proto_free(proto);
    return NULL;
}

/* ------------------------------------------------------------------ graphs */

static mof_status load_graph(loader *L, mof_graph *g, Onnx__GraphProto *gp, int depth);

/* The attribute data field (AttributeProto field number) of a type, 0 for none. */
static uint32_t attr_field(mof_attr_type type)
{
    switch (type) {
    case MOF_ATTR_FLOAT: return 2;
    case MOF_ATTR_INT: return 3;
    case MOF_ATTR_STRING: return 4;
    case MOF_ATTR_TENSOR: return 5;
    case MOF_ATTR_GRAPH: return 6;
    case MOF_ATTR_FLOATS: return 7;
    case MOF_ATTR_INTS: return 8;
    case MOF_ATTR_STRINGS: return 9;
    case MOF_ATTR_TENSORS: return 10;
    case MOF_ATTR_GRAPHS: return 11;
    default: return 0;
    }
}

/* The type of an attribute without a type field: that of its only value field. */
static mof_attr_type infer_attr_type(const Onnx__AttributeProto *ap)
{
    struct { bool present; mof_attr_type type; } f[] = {
        {ap->has_f, MOF_ATTR_FLOAT},         {ap->has_i, MOF_ATTR_INT},
        {ap->has_s, MOF_ATTR_STRING},        {ap->t != NULL, MOF_ATTR_TENSOR},
        {ap->g != NULL, MOF_ATTR_GRAPH},     {ap->sparse_tensor != NULL, MOF_ATTR_SPARSE_TENSOR},
        {ap->tp != NULL, MOF_ATTR_TYPE_PROTO}, {ap->n_floats > 0, MOF_ATTR_FLOATS},
        {ap->n_ints > 0, MOF_ATTR_INTS},     {ap->n_strings > 0, MOF_ATTR_STRINGS},
        {ap->n_tensors > 0, MOF_ATTR_TENSORS}, {ap->n_graphs > 0, MOF_ATTR_GRAPHS},
        {ap->n_sparse_tensors > 0, MOF_ATTR_SPARSE_TENSORS},
        {ap->n_type_protos > 0, MOF_ATTR_TYPE_PROTOS},
    };
    mof_attr_type type = MOF_ATTR_UNDEFINED;
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        if (f[i].present) {
            if (type != MOF_ATTR_UNDEFINED)
                return MOF_ATTR_UNDEFINED;
            type = f[i].type;
        }
    }
    return type;
}

static mof_status load_subgraph(loader *L, mof_node *node, Onnx__GraphProto *gp,
                                mof_graph **slot, int depth)
{
    /* The slot owns the graph at once, so that a failure frees it with the model. */
    if (!(*slot = mof_graph_new(L->model, node)))
        return nomem(L);
    return load_graph(L, *slot, gp, depth + 1);
}

static mof_status load_attr(loader *L, mof_node *node, Onnx__AttributeProto *ap, int depth)
{
    mof_attr *a = mof_node_append_attr(node);
    if (!a)
        return nomem(L);
    mof_attr_type type = ap->has_type ? (mof_attr_type)ap->type : infer_attr_type(ap);
    uint32_t skip[5] = {1, 13, 20, 21}; /* name, doc_string, type, ref_attr_name */
    size_t n_skip = 4;
    uint32_t data = attr_field(type);
    if (data)
        skip[n_skip++] = data;
    if (!pack_extra(&ap->base, skip, n_skip, &a->extra))
        return nomem(L);
    a->name = steal_str(&ap->name);
    a->doc_string = steal_str(&ap->doc_string);
    a->ref_attr_name = steal_str(&ap->ref_attr_name);
    a->has_type = ap->has_type;
    a->type = type;
    const char *aname = a->name ? a->name : "";
    switch (type) {
    case MOF_ATTR_FLOAT:
        a->has_value = ap->has_f;
        a->f = ap->f;
        break;
    case MOF_ATTR_INT:
        a->has_value = ap->has_i;
        a->i = ap->i;
        break;
    case MOF_ATTR_STRING:
        if (ap->has_s) {
            a->s = mof_strndup(ap->s.data ? (const char *)ap->s.data : "", ap->s.len);
            if (!a->s)
                return nomem(L);
            a->s_size = ap->s.len;
            a->has_value = true;
        }
        break;
    case MOF_ATTR_TENSOR:
        if (ap->t) {
            if (!(a->t = load_tensor(L, ap->t, ap->t->name ? ap->t->name : aname, false)))
                return L->status;
            a->has_value = true;
        }
        break;
    case MOF_ATTR_GRAPH:
        if (ap->g) {
            a->has_value = true;
            return load_subgraph(L, node, ap->g, &a->g, depth);
        }
        break;
    case MOF_ATTR_FLOATS:
        a->floats = ap->floats;
        a->n = ap->n_floats;
        ap->floats = NULL;
        ap->n_floats = 0;
        break;
    case MOF_ATTR_INTS:
        a->ints = ap->ints;
        a->n = ap->n_ints;
        ap->ints = NULL;
        ap->n_ints = 0;
        break;
    case MOF_ATTR_STRINGS:
        if (ap->n_strings) {
            if (!(a->strings = calloc(ap->n_strings, sizeof(*a->strings))))
                return nomem(L);
            a->n = ap->n_strings;
            for (size_t i = 0; i < a->n; i++) {
                a->strings[i].size = ap->strings[i].len;
                a->strings[i].data = (char *)ap->strings[i].data;
                ap->strings[i] = (ProtobufCBinaryData){0};
            }
        }
        break;
    case MOF_ATTR_TENSORS:
        if (ap->n_tensors) {
            if (!(a->tensors = calloc(ap->n_tensors, sizeof(*a->tensors))))
                return nomem(L);
            a->n = ap->n_tensors;
            for (size_t i = 0; i < a->n; i++) {
                Onnx__TensorProto *tp = ap->tensors[i];
                if (!(a->tensors[i] = load_tensor(L, tp, tp->name ? tp->name : aname, false)))
                    return L->status;
            }
        }
        break;
    case MOF_ATTR_GRAPHS:
        if (ap->n_graphs) {
            if (!(a->graphs = calloc(ap->n_graphs, sizeof(*a->graphs))))
                return nomem(L);
            a->n = ap->n_graphs;
            for (size_t i = 0; i < a->n; i++) {
                mof_status st = load_subgraph(L, node, ap->graphs[i], &a->graphs[i], depth);
                if (st)
                    return st;
            }
        }
        break;
    default:
        break;
    }
    return MOF_OK;
}

enum listing_kind { LIST_INPUT, LIST_OUTPUT, LIST_VALUE_INFO };

/* Lists v in one of g's ValueInfoProto lists. `first` maps names to the first listing
 * of each value (see onnx_private.h for where types go). */
static mof_status add_listing(loader *L, mof_graph *g, mof_map *first, mof_value *v,
                              Onnx__ValueInfoProto *vi, enum listing_kind kind)
{
    Onnx__ValueInfoProto *prev = mof_map_get(first, v->name);
    bool type_modeled = true;
    if (!prev) {
        if (!mof_map_put(first, v->name, vi))
            return nomem(L);
        mof_type_clear(&v->type);
        mof_status st = load_type(L, vi->type, &v->type);
        if (st)
            return st;
    } else {
        int same = same_type(prev->type, vi->type);
        if (same < 0)
            return nomem(L);
        type_modeled = same;
    }
    static const uint32_t skip[] = {1, 3, 2}; /* name, doc_string, type */
    mof_blob extra;
    if (!pack_extra(&vi->base, skip, type_modeled ? 3 : 2, &extra))
        return nomem(L);
    mof_status st;
    mof_listing *l;
    switch (kind) {
    case LIST_INPUT:
        st = mof_graph_list_input(g, v, vi->doc_string, &extra);
        l = &g->inputs[g->n_inputs - 1];
        break;
    case LIST_OUTPUT:
        st = mof_graph_list_output(g, v, vi->doc_string, &extra);
        l = &g->outputs[g->n_outputs - 1];
        break;
    default:
        st = mof_graph_list_value_info(g, v, vi->doc_string, &extra);
        l = &g->value_infos[g->n_value_infos - 1];
        break;
    }
    mof_blob_free(&extra);
    /* A later listing without a TypeProto must be written without one. */
    if (!st && !type_modeled && !vi->type)
        l->untyped = true;
    return st ? nomem(L) : MOF_OK;
}

static mof_value *new_value(loader *L, mof_graph *g, const char *name, unsigned flags)
{
    mof_value *v = mof_graph_new_value(g, name);
    if (!v)
        nomem(L);
    else
        v->flags |= flags;
    return v;
}

static const char *graph_label(const Onnx__GraphProto *gp, const mof_graph *g)
{
    return g->name ? g->name : gp->name ? gp->name : "";
}

static mof_status load_graph(loader *L, mof_graph *g, Onnx__GraphProto *gp, int depth)
{
    static const uint32_t skip[] = {1, 2, 5, 10, 11, 12, 13};
    if (!pack_extra(&gp->base, skip, sizeof(skip) / sizeof(skip[0]), &g->extra))
        return nomem(L);
    g->name = steal_str(&gp->name);
    g->doc_string = steal_str(&gp->doc_string);
    const char *gname = graph_label(gp, g);
    mof_map first;
    mof_map_init(&first);
    mof_status st = MOF_OK;

    for (size_t i = 0; i < gp->n_input && !st; i++) {
        Onnx__ValueInfoProto *vi = gp->input[i];
        if (!vi->name || !*vi->name) {
            st = fail(L, MOF_ERR_INVALID_MODEL, "graph '%s': input %zu has no name", gname, i);
            break;
        }
        mof_value *v = mof_graph_find_value(g, vi->name);
        if (!v && !(v = new_value(L, g, vi->name, 0)))
            st = L->status;
        else
            st = add_listing(L, g, &first, v, vi, LIST_INPUT);
    }
    for (size_t i = 0; i < gp->n_initializer && !st; i++) {
        Onnx__TensorProto *tp = gp->initializer[i];
        if (!tp->name || !*tp->name) {
            st = fail(L, MOF_ERR_INVALID_MODEL, "graph '%s': initializer %zu has no name",
                      gname, i);
            break;
        }
        mof_value *v = mof_graph_find_value(g, tp->name);
        if (v && (v->flags & MOF_VF_INITIALIZER)) {
            st = fail(L, MOF_ERR_INVALID_MODEL, "graph '%s': two initializers are named '%s'",
                      gname, tp->name);
            break;
        }
        if (!v && !(v = new_value(L, g, tp->name, 0))) {
            st = L->status;
            break;
        }
        mof_tensor *t = load_tensor(L, tp, tp->name, true);
        if (!t)
            st = L->status;
        else if (mof_graph_list_initializer(g, v, t))
            st = nomem(L);
    }

    /* Every node and its outputs first, so that inputs can name later nodes' outputs. */
    for (size_t i = 0; i < gp->n_node && !st; i++) {
        Onnx__NodeProto *np = gp->node[i];
        static const uint32_t node_skip[] = {1, 2, 3, 4, 5, 6, 7};
        mof_blob extra;
        if (!pack_extra(&np->base, node_skip, 7, &extra)) {
            st = nomem(L);
            break;
        }
        mof_node *n = mof_node_new(g, np->op_type, np->domain, np->name);
        if (!n) {
            mof_blob_free(&extra);
            st = nomem(L);
            break;
        }
        n->extra = extra;
        n->doc_string = steal_str(&np->doc_string);
        if (n->name && *n->name) {
            st = mof_node_add_origin(n, n->name);
        } else {
            char *origin = mof_asprintf("%s#%zu", n->op_type ? n->op_type : "", i);
            st = origin ? mof_node_add_origin(n, origin) : MOF_ERR_NOMEM;
            free(origin);
        }
        if (st) {
            st = nomem(L);
            break;
        }
        for (size_t k = 0; k < np->n_output && !st; k++) {
            const char *name = np->output[k];
            mof_value *v = NULL;
            if (*name) {
                v = mof_graph_find_value(g, name);
                if (v && v->producer) {
                    st = fail(L, MOF_ERR_INVALID_MODEL,
                              "graph '%s': value '%s' is the output of two nodes ('%s' and "
                              "'%s')",
                              gname, name, mof_node_name(v->producer), mof_node_name(n));
                    break;
                }
                if (!v && !(v = new_value(L, g, name, 0))) {
                    st = L->status;
                    break;
                }
            }
            if (mof_node_append_output(n, v))
                st = nomem(L);
        }
    }

    mof_node *n = g->first;
    for (size_t i = 0; i < gp->n_node && !st; i++, n = n->next) {
        Onnx__NodeProto *np = gp->node[i];
        for (size_t k = 0; k < np->n_input && !st; k++) {
            const char *name = np->input[k];
            mof_value *v = NULL;
            if (*name && !(v = mof_graph_resolve(g, name)) &&
                !(v = new_value(L, g, name, MOF_VF_UNDEFINED))) {
                st = L->status;
                break;
            }
            if (mof_node_set_input(n, n->n_inputs, v))
                st = nomem(L);
        }
        for (size_t k = 0; k < np->n_attribute && !st; k++) {
            /* The IR finds attributes by name: two of one name cannot be kept (ONNX's
             * checker refuses them too, as the text parser does). */
            const char *aname = np->attribute[k]->name ? np->attribute[k]->name : "";
            for (size_t j = 0; j < n->n_attrs && !st; j++) {
                const char *other = n->attrs[j].name ? n->attrs[j].name : "";
                if (strcmp(aname, other) == 0)
                    st = fail(L, MOF_ERR_INVALID_MODEL,
                              "graph '%s': node '%s' (%s): attribute '%s' is given twice",
                              gname, mof_node_name(n), mof_node_op_type(n), aname);
            }
            if (!st)
                st = load_attr(L, n, np->attribute[k], depth);
        }
    }

    for (size_t i = 0; i < gp->n_output && !st; i++) {
        Onnx__ValueInfoProto *vi = gp->output[i];
        if (!vi->name || !*vi->name) {
            st = fail(L, MOF_ERR_INVALID_MODEL, "graph '%s': output %zu has no name", gname, i);
            break;
        }
        mof_value *v = mof_graph_resolve(g, vi->name);
        if (!v && !(v = new_value(L, g, vi->name, MOF_VF_UNDEFINED)))
            st = L->status;
        else
            st = add_listing(L, g, &first, v, vi, LIST_OUTPUT);
    }
    for (size_t i = 0; i < gp->n_value_info && !st; i++) {
        Onnx__ValueInfoProto *vi = gp->value_info[i];
        if (!vi->name || !*vi->name) {
            st = fail(L, MOF_ERR_INVALID_MODEL, "graph '%s': value_info %zu has no name",
                      gname, i);
            break;
        }
        mof_value *v = mof_graph_find_value(g, vi->name);
        if (!v && !(v = new_value(L, g, vi->name, MOF_VF_UNDEFINED)))
            st = L->status;
        else
            st = add_listing(L, g, &first, v, vi, LIST_VALUE_INFO);
    }
    mof_map_free(&first);
    return st;
}

/* ------------------------------------------------------------------ models */

static mof_model *load_model(loader *L, Onnx__ModelProto *mp)
{
    if (!mp->graph && !mp->has_ir_version) {
        fail(L, MOF_ERR_PARSE,
             "not an ONNX model (the file parses as protobuf but has neither an IR version "
             "nor a graph)");
        return NULL;
    }
    mof_model *m = mof_model_new(L->ctx);
    if (!m || !(m->graph = mof_graph_new(m, NULL))) {
        mof_model_destroy(m);
        nomem(L);
        return NULL;
    }
    L->model = m;
    bool meta_modeled = true;
    for (size_t i = 0; i < mp->n_metadata_props; i++)
        meta_modeled &= mp->metadata_props[i]->base.n_unknown_fields == 0;
    static const uint32_t skip[] = {1, 2, 3, 4, 5, 6, 7, 8, 14}; /* 14: metadata_props */
    if (!pack_extra(&mp->base, skip, meta_modeled ? 9 : 8, &m->extra))
        goto nomem;
    m->has_ir_version = mp->has_ir_version;
    m->ir_version = mp->ir_version;
    m->producer_name = steal_str(&mp->producer_name);
    m->producer_version = steal_str(&mp->producer_version);
    m->domain = steal_str(&mp->domain);
    m->has_model_version = mp->has_model_version;
    m->model_version = mp->model_version;
    m->doc_string = steal_str(&mp->doc_string);
    if (mp->n_opset_import) {
        if (!(m->opsets = calloc(mp->n_opset_import, sizeof(*m->opsets))))
            goto nomem;
        m->cap_opsets = mp->n_opset_import;
        for (size_t i = 0; i < mp->n_opset_import; i++) {
            Onnx__OperatorSetIdProto *op = mp->opset_import[i];
            static const uint32_t op_skip[] = {1, 2};
            mof_opset *o = &m->opsets[m->n_opsets++];
            if (!pack_extra(&op->base, op_skip, 2, &o->extra))
                goto nomem;
            o->domain = steal_str(&op->domain);
            o->has_version = op->has_version;
            o->version = op->version;
        }
    }
    if (meta_modeled && mp->n_metadata_props) {
        if (!(m->metadata = calloc(mp->n_metadata_props, sizeof(*m->metadata))))
            goto nomem;
        m->cap_metadata = m->n_metadata = mp->n_metadata_props;
        for (size_t i = 0; i < m->n_metadata; i++) {
            m->metadata[i].key = steal_str(&mp->metadata_props[i]->key);
            m->metadata[i].value = steal_str(&mp->metadata_props[i]->value);
        }
    }
    m->has_graph = mp->graph != NULL;
    if (mp->graph && load_graph(L, m->graph, mp->graph, 0)) {
        mof_model_destroy(m);
        return NULL;
    }
    return m;
nomem:
    mof_model_destroy(m);
    nomem(L);
    return NULL;
}

/* Checks, unpacks and converts; `release` (may be NULL) is called on the input bytes
 * right after unpacking, so that a mapped file is unmapped before the conversion. */
static mof_model *load_bytes(loader *L, const uint8_t *data, size_t size,
                             void (*release)(void *cookie), void *cookie)
{
    mof_model *m = NULL;
    Onnx__ModelProto *mp = NULL;
    if (!size) {
        fail(L, MOF_ERR_PARSE, "empty file, not an ONNX model");
        goto out;
    }
    wire_scan ws = {.path = "ModelProto"};
    if (!wire_message(&ws, &onnx__model_proto__descriptor, data, size, 0, 0)) {
        const char *what = !ws.top_known ? "not an ONNX model"
                           : ws.truncated ? "truncated ONNX model"
                                          : "corrupt ONNX model";
        fail(L, MOF_ERR_PARSE, "%s (protobuf parse failed at byte %zu, in %s: %s)", what,
             ws.offset, ws.path, ws.reason);
        goto out;
    }
    mp = onnx__model_proto__unpack(NULL, size, data);
    if (release) {
        release(cookie);
        release = NULL;
    }
    if (!mp) {
        fail(L, MOF_ERR_PARSE,
             "protobuf-c could not unpack the model (out of memory, or invalid data)");
        goto out;
    }
    m = load_model(L, mp);
    protobuf_c_message_free_unpacked(&mp->base, NULL);
out:
    if (release)
        release(cookie);
    return m;
}

mof_model *mof_model_load_buffer(mof_context *ctx, const void *data, size_t size,
                                 const char *name, const char *base_dir)
{
    loader L = {.ctx = ctx, .file = name ? name : "<memory>", .base_dir = base_dir};
    mof_model *m = NULL;
    if (!data && size)
        fail(&L, MOF_ERR_INVALID_ARG, "no model data given");
    else
        m = load_bytes(&L, data, size, NULL, NULL);
    loader_release(&L);
    return m;
}

/* The folder of a file path ("." when it has none); NULL when out of memory. */
static char *folder_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? mof_strndup(path, slash == path ? 1 : (size_t)(slash - path))
                 : mof_strdup(".");
}

mof_tensor *mof_onnx_tensor_from_buffer(mof_context *ctx, const char *path,
                                        const uint8_t *data, size_t size, char **name)
{
    if (name)
        *name = NULL;
    loader L = {.ctx = ctx, .file = path ? path : "<memory>"};
    mof_tensor *t = NULL;
    Onnx__TensorProto *tp = NULL;
    char *dir = path ? folder_of(path) : NULL;
    if (path && !dir) {
        nomem(&L);
        goto out;
    }
    L.base_dir = dir;
    if (!size) {
        fail(&L, MOF_ERR_PARSE, "empty file, not an ONNX tensor");
        goto out;
    }
    wire_scan ws = {.path = "TensorProto"};
    if (!wire_message(&ws, &onnx__tensor_proto__descriptor, data, size, 0, 0)) {
        const char *what = !ws.top_known ? "not an ONNX tensor file"
                           : ws.truncated ? "truncated ONNX tensor file"
                                          : "corrupt ONNX tensor file";
        fail(&L, MOF_ERR_PARSE, "%s (protobuf parse failed at byte %zu, in %s: %s)", what,
             ws.offset, ws.path, ws.reason);
        goto out;
    }
    if (!(tp = onnx__tensor_proto__unpack(NULL, size, data))) {
        fail(&L, MOF_ERR_PARSE,
             "protobuf-c could not unpack the tensor (out of memory, or invalid data)");
        goto out;
    }
    t = load_tensor(&L, tp, tp->name, false);
    if (t && name) {
        *name = t->proto->name;
        t->proto->name = NULL;
    }
out:
    if (tp)
        protobuf_c_message_free_unpacked(&tp->base, NULL);
    loader_release(&L);
    free(dir);
    return t;
}

typedef struct file_bytes {
    void *addr;
    size_t size;
    bool mapped;
} file_bytes;

static void release_file(void *cookie)
{
    file_bytes *fb = cookie;
    if (fb->mapped)
        munmap(fb->addr, fb->size);
    else
        free(fb->addr);
    fb->addr = NULL;
}

/* Reads a whole file when it cannot be mapped. */
static bool read_all(int fd, void *buf, size_t size)
{
    for (size_t done = 0; done < size;) {
        ssize_t n = read(fd, (char *)buf + done, size - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return false;
        }
        done += (size_t)n;
    }
    return true;
}

mof_model *mof_model_load(mof_context *ctx, const char *path)
{
    if (!path) {
        mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL, "no model file given");
        return NULL;
    }
    if (mof_path_is_text_model(path))
        return mof_model_load_text(ctx, path);
    loader L = {.ctx = ctx, .file = path};
    mof_model *m = NULL;
    char *dir = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* no wait on a FIFO */
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        fail(&L, MOF_ERR_IO, "cannot open: %s", strerror(errno));
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        fail(&L, MOF_ERR_IO, "is a directory, not an ONNX model file");
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        fail(&L, MOF_ERR_IO, "not a regular file");
        goto out;
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        fail(&L, MOF_ERR_IO, "file too large");
        goto out;
    }
    if (!(dir = folder_of(path))) {
        nomem(&L);
        goto out;
    }
    L.base_dir = dir;
    file_bytes fb = {.size = (size_t)st.st_size};
    if (fb.size) {
        fb.addr = mmap(NULL, fb.size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (fb.addr != MAP_FAILED) {
            fb.mapped = true;
        } else if (!(fb.addr = malloc(fb.size))) {
            nomem(&L);
            goto out;
        } else if (!read_all(fd, fb.addr, fb.size)) {
            fail(&L, MOF_ERR_IO, "cannot read: %s", strerror(errno));
            free(fb.addr);
            goto out;
        }
    }
    close(fd);
    fd = -1;
    m = load_bytes(&L, fb.addr, fb.size, fb.size ? release_file : NULL, &fb);
out:
    if (fd >= 0)
        close(fd);
    loader_release(&L);
    free(dir);
    return m;
}
