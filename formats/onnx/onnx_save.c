/* onnx_save.c: writes the IR as an ONNX model.
 *
 * The writer builds a protobuf-c message tree whose fields point at the IR's strings
 * and tensor data (weights are never copied), starting each message from its `extra`
 * (the unmodeled and unknown fields, see onnx_private.h), and packs it straight into
 * the output file through protobuf-c's ProtobufCBuffer interface, so that the packed
 * model is never whole in memory. Every message struct, and every message unpacked
 * from an `extra`, lives in one arena freed at the end: nothing borrowed from the IR
 * is ever freed.
 *
 * Files are written under a temporary name and renamed into place (mof_output); a
 * data file for external tensors is written the same way beside the model, and never
 * over a data file that the model's own tensors are mapped from. */
#define _XOPEN_SOURCE 700 /* mkstemp, mkdtemp, nftw, realpath, lstat */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <mof/io.h>

#include "onnx_private.h"

/* ------------------------------------------------------------------ arena */

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    max_align_t data[];
} arena_chunk;

typedef struct arena {
    arena_chunk *head;
    bool failed;
} arena;

#define ARENA_CHUNK 65536

static void *arena_alloc(void *user, size_t size)
{
    arena *a = user;
    size_t align = _Alignof(max_align_t);
    if (size > SIZE_MAX - align - sizeof(arena_chunk)) {
        a->failed = true;
        return NULL;
    }
    size = (size + align - 1) / align * align;
    arena_chunk *c = a->head;
    if (!c || c->cap - c->used < size) {
        size_t cap = size > ARENA_CHUNK ? size : ARENA_CHUNK;
        arena_chunk *n = malloc(sizeof(*n) + cap);
        if (!n) {
            a->failed = true;
            return NULL;
        }
        n->used = 0;
        n->cap = cap;
        /* A big block gets a chunk of its own, kept behind the current one. */
        if (c && cap > ARENA_CHUNK / 2) {
            n->next = c->next;
            c->next = n;
        } else {
            n->next = c;
            a->head = n;
        }
        c = n;
    }
    void *p = (char *)c->data + c->used;
    c->used += size;
    return p;
}

static void arena_free_noop(void *user, void *ptr)
{
    (void)user;
    (void)ptr;
}

static void arena_release(arena *a)
{
    for (arena_chunk *c = a->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    a->head = NULL;
}

/* ------------------------------------------------------------------ the writer */

typedef struct saver {
    mof_context *ctx;
    const char *file;          /* the output path in messages, NULL for buffers */
    arena ar;
    ProtobufCAllocator alloc;
    mof_external_mode mode;
    size_t threshold;
    bool inline_only;
    char *data_path;           /* the data file to write, NULL when none may be */
    const char *data_location; /* its name as the model records it */
    mof_output *data_out;      /* opened with the first external tensor */
    FILE *data_f;
    uint64_t data_off;
    const mof_mapping **maps;  /* mappings the model's tensors borrow from */
    size_t n_maps, cap_maps;
    mof_status status;
} saver;

static mof_status save_fail(saver *S, mof_status st, const char *fmt, ...) MOF_PRINTF(3, 4);

static mof_status save_fail(saver *S, mof_status st, const char *fmt, ...)
{
    if (S->status == MOF_OK) {
        va_list ap;
        va_start(ap, fmt);
        mof_vreport(S->ctx, MOF_SEVERITY_ERROR, st, &(mof_location){.file = S->file}, fmt,
                    ap);
        va_end(ap);
        S->status = st;
    }
    return S->status;
}

static void *s_alloc(saver *S, size_t size)
{
    void *p = arena_alloc(&S->ar, size ? size : 1);
    if (!p)
        save_fail(S, MOF_ERR_NOMEM, "out of memory while writing the model");
    return p;
}

static void *s_array(saver *S, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) {
        save_fail(S, MOF_ERR_NOMEM, "out of memory while writing the model");
        return NULL;
    }
    return s_alloc(S, n * size);
}

/* A message of type desc: the unpacked `extra` when there is one, else empty. */
static void *new_msg(saver *S, const ProtobufCMessageDescriptor *desc, const mof_blob *extra)
{
    if (extra && extra->size) {
        ProtobufCMessage *m = protobuf_c_message_unpack(desc, &S->alloc, extra->size,
                                                        extra->data);
        if (!m) {
            if (S->ar.failed)
                save_fail(S, MOF_ERR_NOMEM, "out of memory while writing the model");
            else
                save_fail(S, MOF_ERR_INTERNAL, "the kept fields of a %s do not unpack",
                          desc->short_name);
        }
        return m;
    }
    void *m = s_alloc(S, desc->sizeof_message);
    if (m)
        desc->message_init(m);
    return m;
}

/* IR strings go into message fields that are not const; packing only reads them. */
static char *str(const char *s)
{
    return (char *)s;
}

/* ------------------------------------------------------------------ types */

/* The TypeProto of a value, or NULL (check S->status) for none. */
static Onnx__TypeProto *build_type(saver *S, const mof_type *t)
{
    if (t->kind == MOF_TYPE_NONE)
        return NULL;
    Onnx__TypeProto *tp = new_msg(S, &onnx__type_proto__descriptor, &t->extra);
    if (!tp || t->kind == MOF_TYPE_OPAQUE)
        return tp;
    Onnx__TypeProto__Tensor *tt = new_msg(S, &onnx__type_proto__tensor__descriptor, NULL);
    if (!tt)
        return NULL;
    tp->denotation = str(t->denotation);
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    tt->has_elem_type = t->has_elem_type;
    tt->elem_type = (int32_t)t->elem_type;
    if (!t->has_shape)
        return tp;
    Onnx__TensorShapeProto *sh = new_msg(S, &onnx__tensor_shape_proto__descriptor, NULL);
    if (!sh || !(sh->dim = s_array(S, t->rank, sizeof(*sh->dim))))
        return NULL;
    tt->shape = sh;
    sh->n_dim = t->rank;
    for (size_t i = 0; i < t->rank; i++) {
        const mof_dim *d = &t->dims[i];
        Onnx__TensorShapeProto__Dimension *pd =
            new_msg(S, &onnx__tensor_shape_proto__dimension__descriptor, NULL);
        if (!pd)
            return NULL;
        pd->denotation = str(d->denotation);
        if (d->kind == MOF_DIM_VALUE) {
            pd->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            pd->dim_value = d->value;
        } else if (d->kind == MOF_DIM_PARAM) {
            pd->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            pd->dim_param = str(d->param ? d->param : "");
        }
        sh->dim[i] = pd;
    }
    return tp;
}

/* ------------------------------------------------------------------ tensors */

static bool data_write(saver *S, const void *data, size_t n)
{
    if (n && fwrite(data, 1, n, S->data_f) != n) {
        save_fail(S, MOF_ERR_IO, "cannot write the data file '%s': %s", S->data_path,
                  strerror(errno));
        return false;
    }
    S->data_off += n;
    return true;
}

static Onnx__StringStringEntryProto *new_entry(saver *S, const char *key, const char *value)
{
    Onnx__StringStringEntryProto *e =
        new_msg(S, &onnx__string_string_entry_proto__descriptor, NULL);
    if (e) {
        e->key = str(key);
        e->value = str(value);
    }
    return e;
}

/* Sets key in the entries (the first of that key), or appends it. */
static bool set_entry(saver *S, Onnx__StringStringEntryProto **entries, size_t *n,
                      const char *key, const char *value)
{
    for (size_t i = 0; i < *n; i++) {
        if (entries[i]->key && strcmp(entries[i]->key, key) == 0) {
            entries[i]->value = str(value);
            return true;
        }
    }
    return (entries[(*n)++] = new_entry(S, key, value)) != NULL;
}

static char *s_printf(saver *S, const char *fmt, ...) MOF_PRINTF(2, 3);

static char *s_printf(saver *S, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    MOF_ASSERT(n >= 0 && (size_t)n < sizeof(tmp));
    char *s = s_alloc(S, (size_t)n + 1);
    if (s)
        memcpy(s, tmp, (size_t)n + 1);
    return s;
}

/* Appends the tensor's bytes to the data file and points tp at them. */
static bool write_external(saver *S, const mof_tensor *t, Onnx__TensorProto *tp)
{
    static const uint8_t zeros[MOF_ONNX_EXTERNAL_ALIGN];
    const mof_tensor_proto *p = t->proto;
    if (!S->data_out) {
        S->data_out = mof_output_open_file(S->ctx, S->data_path);
        if (!S->data_out) {
            S->status = S->status ? S->status : MOF_ERR_IO;
            return false;
        }
        S->data_f = mof_output_file(S->data_out);
    }
    size_t pad = (size_t)((MOF_ONNX_EXTERNAL_ALIGN - S->data_off % MOF_ONNX_EXTERNAL_ALIGN) %
                          MOF_ONNX_EXTERNAL_ALIGN);
    if (!data_write(S, zeros, pad))
        return false;
    uint64_t offset = S->data_off;
    size_t file_bytes = mof_dtype_storage_bytes(t->dtype, t->numel);
    if (mof_onnx_dtype_packed(t->dtype)) {
        uint8_t *packed = s_alloc(S, file_bytes);
        if (!packed)
            return false;
        mof_onnx_pack4(t->data, (size_t)t->numel, packed);
        if (!data_write(S, packed, file_bytes))
            return false;
    } else if (!data_write(S, t->data, t->nbytes)) {
        return false;
    }

    /* Entries kept in extra (when one had unknown fields), then the modeled ones; the
     * location, offset and length are those of the new file. */
    size_t n_old = tp->n_external_data, n_kept = p ? p->n_external : 0, n = n_old;
    Onnx__StringStringEntryProto **entries = s_array(S, n_old + n_kept + 3, sizeof(*entries));
    char *off_s = s_printf(S, "%" PRIu64, offset);
    char *len_s = s_printf(S, "%zu", file_bytes);
    if (!entries || !off_s || !len_s)
        return false;
    for (size_t i = 0; i < n_old; i++)
        entries[i] = tp->external_data[i];
    for (size_t i = 0; i < n_kept; i++) {
        if (!(entries[n++] = new_entry(S, p->external[i].key, p->external[i].value)))
            return false;
    }
    if (!set_entry(S, entries, &n, "location", S->data_location) ||
        !set_entry(S, entries, &n, "offset", off_s) || !set_entry(S, entries, &n, "length", len_s))
        return false;
    tp->external_data = entries;
    tp->n_external_data = n;
    tp->has_data_location = 1;
    tp->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    return true;
}

/* Fills the typed data field of dtype from the tensor's elements; narrow types are
 * widened into a new array. */
static bool write_typed(saver *S, const mof_tensor *t, Onnx__TensorProto *tp)
{
    size_t per;
    mof_onnx_typed_field(t->dtype, &per);
    size_t count = (size_t)t->numel * per;
    void *data = t->data;
    if (mof_onnx_dtype_packed(t->dtype)) {
        /* One int32_data entry per packed byte: two elements. */
        size_t n = mof_dtype_storage_bytes(t->dtype, t->numel);
        uint8_t *b = s_alloc(S, n);
        int32_t *w = s_array(S, n, sizeof(*w));
        if (!b || !w)
            return false;
        mof_onnx_pack4(data, (size_t)t->numel, b);
        for (size_t i = 0; i < n; i++)
            w[i] = b[i];
        tp->n_int32_data = n;
        tp->int32_data = w;
        return true;
    }
    switch (t->dtype) {
    case MOF_DTYPE_FLOAT:
    case MOF_DTYPE_COMPLEX64:
        tp->n_float_data = count;
        tp->float_data = data;
        return true;
    case MOF_DTYPE_INT32:
        tp->n_int32_data = count;
        tp->int32_data = data;
        return true;
    case MOF_DTYPE_INT64:
        tp->n_int64_data = count;
        tp->int64_data = data;
        return true;
    case MOF_DTYPE_DOUBLE:
    case MOF_DTYPE_COMPLEX128:
        tp->n_double_data = count;
        tp->double_data = data;
        return true;
    case MOF_DTYPE_UINT64:
        tp->n_uint64_data = count;
        tp->uint64_data = data;
        return true;
    case MOF_DTYPE_UINT32: {
        uint64_t *w = s_array(S, count, sizeof(*w));
        if (!w)
            return false;
        for (size_t i = 0; i < count; i++)
            w[i] = ((const uint32_t *)data)[i];
        tp->n_uint64_data = count;
        tp->uint64_data = w;
        return true;
    }
    case MOF_DTYPE_STRING: {
        const mof_string *s = data;
        ProtobufCBinaryData *b = s_array(S, count, sizeof(*b));
        if (!b)
            return false;
        for (size_t i = 0; i < count; i++)
            b[i] = (ProtobufCBinaryData){s[i].size, (uint8_t *)s[i].data};
        tp->n_string_data = count;
        tp->string_data = b;
        return true;
    }
    default: {
        int32_t *w = s_array(S, count, sizeof(*w));
        if (!w)
            return false;
        for (size_t i = 0; i < count; i++) {
            switch (t->dtype) {
            case MOF_DTYPE_INT8: w[i] = ((const int8_t *)data)[i]; break;
            case MOF_DTYPE_INT16: w[i] = ((const int16_t *)data)[i]; break;
            case MOF_DTYPE_UINT8:
            case MOF_DTYPE_BOOL: w[i] = ((const uint8_t *)data)[i]; break;
            default: w[i] = ((const uint16_t *)data)[i]; break;
            }
        }
        tp->n_int32_data = count;
        tp->int32_data = w;
        return true;
    }
    }
}

static void note_mapping(saver *S, const mof_mapping *map)
{
    for (size_t i = 0; i < S->n_maps; i++) {
        if (S->maps[i] == map)
            return;
    }
    if (MOF_GROW(S->maps, S->cap_maps, S->n_maps + 1))
        S->maps[S->n_maps++] = map;
    else
        save_fail(S, MOF_ERR_NOMEM, "out of memory while writing the model");
}

/* The TensorProto of t; `name` is the initializer's value name (NULL for attribute
 * tensors, which keep their own). */
static Onnx__TensorProto *build_tensor(saver *S, const mof_tensor *t, const char *name)
{
    const mof_tensor_proto *p = t->proto;
    Onnx__TensorProto *tp = new_msg(S, &onnx__tensor_proto__descriptor, p ? &p->extra : NULL);
    if (!tp)
        return NULL;
    if (t->mapping)
        note_mapping(S, t->mapping);
    tp->n_dims = t->rank;
    tp->dims = t->dims;
    if (!p || p->has_data_type) {
        tp->has_data_type = 1;
        tp->data_type = (int32_t)t->dtype;
    }
    tp->name = str(name ? name : p ? p->name : NULL);
    tp->doc_string = str(p ? p->doc_string : NULL);
    bool was_external = p && p->store == MOF_STORE_EXTERNAL;
    bool external = false;
    if (!S->inline_only && t->dtype != MOF_DTYPE_STRING) {
        if (S->mode == MOF_EXTERNAL_KEEP)
            external = was_external;
        else if (S->mode == MOF_EXTERNAL_ABOVE)
            external = t->nbytes > 0 &&
                       mof_dtype_storage_bytes(t->dtype, t->numel) >= S->threshold;
    }
    if (external)
        return write_external(S, t, tp) ? tp : NULL;

    /* Inline: as it was stored, raw_data for what was external or is new. */
    if (p && p->has_data_location && !was_external) {
        tp->has_data_location = 1;
        tp->data_location = (Onnx__TensorProto__DataLocation)p->data_location;
    }
    if (was_external) {
        tp->n_external_data = 0;
    } else if (p && p->n_external) {
        Onnx__StringStringEntryProto **entries = s_array(S, p->n_external, sizeof(*entries));
        if (!entries)
            return NULL;
        for (size_t i = 0; i < p->n_external; i++) {
            if (!(entries[i] = new_entry(S, p->external[i].key, p->external[i].value)))
                return NULL;
        }
        tp->external_data = entries;
        tp->n_external_data = p->n_external;
    }
    mof_tensor_store store = p ? p->store : MOF_STORE_RAW;
    if (store == MOF_STORE_EXTERNAL || (store == MOF_STORE_NONE && t->numel))
        store = MOF_STORE_RAW;
    if (t->dtype == MOF_DTYPE_STRING && store == MOF_STORE_RAW)
        store = MOF_STORE_TYPED;
    switch (store) {
    case MOF_STORE_RAW:
        tp->has_raw_data = 1;
        tp->raw_data = (ProtobufCBinaryData){t->nbytes, t->data};
        if (mof_onnx_dtype_packed(t->dtype)) {
            size_t n = mof_dtype_storage_bytes(t->dtype, t->numel);
            uint8_t *b = s_alloc(S, n);
            if (!b)
                return NULL;
            mof_onnx_pack4(t->data, (size_t)t->numel, b);
            tp->raw_data = (ProtobufCBinaryData){n, b};
        }
        break;
    case MOF_STORE_TYPED:
        if (!write_typed(S, t, tp))
            return NULL;
        break;
    default:
        break;
    }
    return tp;
}

/* ------------------------------------------------------------------ graphs */

static Onnx__GraphProto *build_graph(saver *S, const mof_graph *g);

static Onnx__AttributeProto *build_attr(saver *S, const mof_attr *a)
{
    Onnx__AttributeProto *ap = new_msg(S, &onnx__attribute_proto__descriptor, &a->extra);
    if (!ap)
        return NULL;
    ap->name = str(a->name);
    ap->doc_string = str(a->doc_string);
    ap->ref_attr_name = str(a->ref_attr_name);
    if (a->has_type) {
        ap->has_type = 1;
        ap->type = (Onnx__AttributeProto__AttributeType)a->type;
    }
    switch (a->type) {
    case MOF_ATTR_FLOAT:
        ap->has_f = a->has_value;
        ap->f = a->f;
        break;
    case MOF_ATTR_INT:
        ap->has_i = a->has_value;
        ap->i = a->i;
        break;
    case MOF_ATTR_STRING:
        if (a->has_value) {
            ap->has_s = 1;
            ap->s = (ProtobufCBinaryData){a->s_size, (uint8_t *)a->s};
        }
        break;
    case MOF_ATTR_TENSOR:
        if (a->t && !(ap->t = build_tensor(S, a->t, NULL)))
            return NULL;
        break;
    case MOF_ATTR_GRAPH:
        if (a->g && !(ap->g = build_graph(S, a->g)))
            return NULL;
        break;
    case MOF_ATTR_FLOATS:
        ap->n_floats = a->n;
        ap->floats = a->floats;
        break;
    case MOF_ATTR_INTS:
        ap->n_ints = a->n;
        ap->ints = a->ints;
        break;
    case MOF_ATTR_STRINGS:
        if (a->n) {
            if (!(ap->strings = s_array(S, a->n, sizeof(*ap->strings))))
                return NULL;
            for (size_t i = 0; i < a->n; i++)
                ap->strings[i] = (ProtobufCBinaryData){a->strings[i].size,
                                                       (uint8_t *)a->strings[i].data};
            ap->n_strings = a->n;
        }
        break;
    case MOF_ATTR_TENSORS:
        if (a->n) {
            if (!(ap->tensors = s_array(S, a->n, sizeof(*ap->tensors))))
                return NULL;
            for (size_t i = 0; i < a->n; i++) {
                if (!(ap->tensors[i] = build_tensor(S, a->tensors[i], NULL)))
                    return NULL;
            }
            ap->n_tensors = a->n;
        }
        break;
    case MOF_ATTR_GRAPHS:
        if (a->n) {
            if (!(ap->graphs = s_array(S, a->n, sizeof(*ap->graphs))))
                return NULL;
            for (size_t i = 0; i < a->n; i++) {
                if (!(ap->graphs[i] = build_graph(S, a->graphs[i])))
                    return NULL;
            }
            ap->n_graphs = a->n;
        }
        break;
    default:
        break;
    }
    return ap;
}

static Onnx__NodeProto *build_node(saver *S, const mof_node *n)
{
    Onnx__NodeProto *np = new_msg(S, &onnx__node_proto__descriptor, &n->extra);
    if (!np || !(np->input = s_array(S, n->n_inputs, sizeof(char *))) ||
        !(np->output = s_array(S, n->n_outputs, sizeof(char *))) ||
        !(np->attribute = s_array(S, n->n_attrs, sizeof(*np->attribute))))
        return NULL;
    for (size_t i = 0; i < n->n_inputs; i++)
        np->input[i] = str(n->inputs[i] ? n->inputs[i]->name : "");
    np->n_input = n->n_inputs;
    for (size_t i = 0; i < n->n_outputs; i++)
        np->output[i] = str(n->outputs[i] ? n->outputs[i]->name : "");
    np->n_output = n->n_outputs;
    np->name = str(n->name);
    np->op_type = str(n->op_type);
    np->domain = str(n->domain);
    np->doc_string = str(n->doc_string);
    for (size_t i = 0; i < n->n_attrs; i++) {
        if (!(np->attribute[i] = build_attr(S, &n->attrs[i])))
            return NULL;
    }
    np->n_attribute = n->n_attrs;
    return np;
}

/* A ValueInfoProto; a listing whose extra carries its own type keeps it. */
static Onnx__ValueInfoProto *build_listing(saver *S, const mof_listing *l)
{
    Onnx__ValueInfoProto *vi = new_msg(S, &onnx__value_info_proto__descriptor, &l->extra);
    if (!vi)
        return NULL;
    vi->name = str(l->value->name);
    vi->doc_string = str(l->doc_string);
    if (!vi->type && !l->untyped) {
        vi->type = build_type(S, &l->value->type);
        if (S->status)
            return NULL;
    }
    return vi;
}

static bool build_listings(saver *S, const mof_listing *list, size_t n,
                           Onnx__ValueInfoProto ***out, size_t *n_out)
{
    Onnx__ValueInfoProto **vis = s_array(S, n, sizeof(*vis));
    if (!vis)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!(vis[i] = build_listing(S, &list[i])))
            return false;
    }
    *out = vis;
    *n_out = n;
    return true;
}

/* The graph's value_info: its listings, then every node output that a pass typed (shape
 * inference) but no list names, in node order, so the saved model carries what was
 * inferred. A loaded model types only listed values, so a round trip is unchanged. */
static bool build_value_infos(saver *S, const mof_graph *g, Onnx__GraphProto *gp)
{
    mof_map listed;
    mof_map_init(&listed);
    bool ok = true;
    for (size_t i = 0; i < g->n_value_infos && ok; i++)
        ok = mof_map_put(&listed, g->value_infos[i].value->name, g->value_infos[i].value);
    if (!ok) {
        mof_map_free(&listed);
        save_fail(S, MOF_ERR_NOMEM, "out of memory while writing the model");
        return false;
    }
    size_t n = g->n_value_infos;
    for (const mof_node *nd = g->first; nd; nd = nd->next) {
        for (size_t k = 0; k < nd->n_outputs; k++) {
            const mof_value *v = nd->outputs[k];
            n += v && v->type.kind != MOF_TYPE_NONE && !v->n_output_refs &&
                 !mof_map_get(&listed, v->name);
        }
    }
    /* s_array and build_listing report their own failures. */
    Onnx__ValueInfoProto **vis = s_array(S, n, sizeof(*vis));
    ok = vis != NULL;
    for (size_t i = 0; i < g->n_value_infos && ok; i++)
        ok = (vis[i] = build_listing(S, &g->value_infos[i])) != NULL;
    size_t j = g->n_value_infos;
    for (const mof_node *nd = g->first; nd && ok; nd = nd->next) {
        for (size_t k = 0; k < nd->n_outputs && ok; k++) {
            mof_value *v = nd->outputs[k];
            if (v && v->type.kind != MOF_TYPE_NONE && !v->n_output_refs &&
                !mof_map_get(&listed, v->name)) {
                mof_listing l = {.value = v};
                ok = (vis[j++] = build_listing(S, &l)) != NULL;
            }
        }
    }
    mof_map_free(&listed);
    if (!ok)
        return false;
    gp->value_info = vis;
    gp->n_value_info = n;
    return true;
}

static Onnx__GraphProto *build_graph(saver *S, const mof_graph *g)
{
    Onnx__GraphProto *gp = new_msg(S, &onnx__graph_proto__descriptor, &g->extra);
    if (!gp || !(gp->node = s_array(S, g->n_nodes, sizeof(*gp->node))) ||
        !(gp->initializer = s_array(S, g->n_initializers, sizeof(*gp->initializer))))
        return NULL;
    gp->name = str(g->name);
    gp->doc_string = str(g->doc_string);
    size_t k = 0;
    for (const mof_node *n = g->first; n; n = n->next) {
        if (!(gp->node[k++] = build_node(S, n)))
            return NULL;
    }
    gp->n_node = k;
    for (size_t i = 0; i < g->n_initializers; i++) {
        const mof_value *v = g->initializers[i];
        if (!v->tensor) {
            save_fail(S, MOF_ERR_INTERNAL, "initializer '%s' has no tensor", v->name);
            return NULL;
        }
        if (!(gp->initializer[i] = build_tensor(S, v->tensor, v->name)))
            return NULL;
    }
    gp->n_initializer = g->n_initializers;
    if (!build_listings(S, g->inputs, g->n_inputs, &gp->input, &gp->n_input) ||
        !build_listings(S, g->outputs, g->n_outputs, &gp->output, &gp->n_output) ||
        !build_value_infos(S, g, gp))
        return NULL;
    return gp;
}

static Onnx__ModelProto *build_model(saver *S, const mof_model *m)
{
    Onnx__ModelProto *mp = new_msg(S, &onnx__model_proto__descriptor, &m->extra);
    if (!mp)
        return NULL;
    mp->has_ir_version = m->has_ir_version;
    mp->ir_version = m->ir_version;
    mp->producer_name = str(m->producer_name);
    mp->producer_version = str(m->producer_version);
    mp->domain = str(m->domain);
    mp->has_model_version = m->has_model_version;
    mp->model_version = m->model_version;
    mp->doc_string = str(m->doc_string);
    if (!(mp->opset_import = s_array(S, m->n_opsets, sizeof(*mp->opset_import))))
        return NULL;
    for (size_t i = 0; i < m->n_opsets; i++) {
        const mof_opset *o = &m->opsets[i];
        Onnx__OperatorSetIdProto *op =
            new_msg(S, &onnx__operator_set_id_proto__descriptor, &o->extra);
        if (!op)
            return NULL;
        op->domain = str(o->domain);
        op->has_version = o->has_version;
        op->version = o->version;
        mp->opset_import[i] = op;
    }
    mp->n_opset_import = m->n_opsets;
    /* Entries kept in extra (when one had unknown fields) come first. */
    size_t n_old = mp->n_metadata_props;
    Onnx__StringStringEntryProto **meta = s_array(S, n_old + m->n_metadata, sizeof(*meta));
    if (!meta)
        return NULL;
    for (size_t i = 0; i < n_old; i++)
        meta[i] = mp->metadata_props[i];
    for (size_t i = 0; i < m->n_metadata; i++) {
        if (!(meta[n_old + i] = new_entry(S, m->metadata[i].key, m->metadata[i].value)))
            return NULL;
    }
    mp->metadata_props = meta;
    mp->n_metadata_props = n_old + m->n_metadata;
    const mof_graph *g = m->graph;
    if (g && (m->has_graph || g->n_nodes || g->n_inputs || g->n_outputs ||
              g->n_initializers || g->n_value_infos || g->name)) {
        if (!(mp->graph = build_graph(S, g)))
            return NULL;
    }
    return mp;
}

/* ------------------------------------------------------------------ saving */

void mof_save_options_init(mof_save_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->size = sizeof(*opts);
    opts->external = MOF_EXTERNAL_KEEP;
    opts->threshold = 1024;
    opts->data_file = NULL;
}

static void saver_init(saver *S, mof_context *ctx, const char *file)
{
    memset(S, 0, sizeof(*S));
    S->ctx = ctx;
    S->file = file;
    S->alloc = (ProtobufCAllocator){arena_alloc, arena_free_noop, &S->ar};
    S->mode = MOF_EXTERNAL_NONE;
}

static void saver_release(saver *S)
{
    mof_output_abort(S->data_out);
    S->data_out = NULL;
    arena_release(&S->ar);
    free(S->maps);
    free(S->data_path);
}

typedef struct file_sink {
    ProtobufCBuffer base;
    FILE *f;
    int err;
} file_sink;

static void sink_append(ProtobufCBuffer *buf, size_t len, const uint8_t *data)
{
    file_sink *s = (file_sink *)buf;
    if (s->err || !len)
        return;
    if (fwrite(data, 1, len, s->f) != len)
        s->err = errno ? errno : EIO;
}

/* Whether the file at S->data_path is one that a tensor of the model is mapped from:
 * replacing it would change the input model's weights under it. The mappings are
 * matched to files by device and inode through /proc/self/maps. */
static bool data_file_is_mapped(saver *S)
{
    struct stat st;
    if (!S->n_maps || stat(S->data_path, &st) != 0)
        return false;
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        return true; /* cannot tell: refuse rather than risk it */
    bool found = false;
    char line[4096];
    while (!found && fgets(line, sizeof(line), f)) {
        unsigned long long lo, hi, inode;
        unsigned maj, mnr;
        if (sscanf(line, "%llx-%llx %*s %*s %x:%x %llu", &lo, &hi, &maj, &mnr, &inode) != 5)
            continue;
        if (makedev(maj, mnr) != st.st_dev || inode != (unsigned long long)st.st_ino)
            continue;
        for (size_t i = 0; i < S->n_maps && !found; i++) {
            uintptr_t a = (uintptr_t)S->maps[i]->addr;
            found = a >= lo && a < hi;
        }
    }
    fclose(f);
    return found;
}

mof_status mof_model_save(const mof_model *m, const char *path, const mof_save_options *opts)
{
    if (!m)
        return MOF_ERR_INVALID_ARG;
    mof_save_options o;
    mof_save_options_init(&o);
    if (opts) {
        size_t n = opts->size < sizeof(o) ? opts->size : sizeof(o);
        memcpy(&o, opts, n);
        o.size = sizeof(o);
    }
    saver S;
    saver_init(&S, m->ctx, path);
    mof_output *out = NULL;
    if (!path || !*path) {
        save_fail(&S, MOF_ERR_INVALID_ARG, "no output file given");
        goto done;
    }
    if (o.external != MOF_EXTERNAL_KEEP && o.external != MOF_EXTERNAL_NONE &&
        o.external != MOF_EXTERNAL_ABOVE) {
        save_fail(&S, MOF_ERR_INVALID_ARG, "unknown external data mode %d", (int)o.external);
        goto done;
    }
    S.mode = o.external;
    S.threshold = o.threshold;
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!*base) {
        save_fail(&S, MOF_ERR_INVALID_ARG, "the output path names a folder, not a file");
        goto done;
    }
    char *default_name = NULL;
    const char *location = o.data_file;
    if (!location) {
        if (!(default_name = mof_asprintf("%s.data", base)))
            goto nomem;
        location = default_name;
    }
    if (!mof_onnx_location_is_contained(location)) {
        save_fail(&S, MOF_ERR_INVALID_ARG,
                  "data file '%s' must be a relative path inside the model's folder",
                  location);
        free(default_name);
        goto done;
    }
    S.data_path = slash ? mof_asprintf("%.*s/%s", (int)(slash - path), path, location)
                        : mof_strdup(location);
    S.data_location = location;
    if (!S.data_path) {
        free(default_name);
        goto nomem;
    }
    if (strcmp(S.data_path, path) == 0) {
        save_fail(&S, MOF_ERR_INVALID_ARG, "the data file '%s' would overwrite the model",
                  location);
        free(default_name);
        goto done;
    }
    out = mof_output_open_file(S.ctx, path);
    if (!out) {
        S.status = MOF_ERR_IO;
        free(default_name);
        goto done;
    }
    Onnx__ModelProto *mp = build_model(&S, m);
    if (mp) {
        file_sink sink = {.base = {sink_append}, .f = mof_output_file(out)};
        protobuf_c_message_pack_to_buffer(&mp->base, &sink.base);
        if (sink.err)
            save_fail(&S, MOF_ERR_IO, "cannot write: %s", strerror(sink.err));
    }
    if (!S.status && S.data_out) {
        if (data_file_is_mapped(&S)) {
            save_fail(&S, MOF_ERR_INVALID_ARG,
                      "refusing to write the data file '%s': the model's own tensors are "
                      "read from it; choose another data file name",
                      S.data_path);
        } else {
            mof_status st = mof_output_commit(S.data_out);
            S.data_out = NULL;
            if (st)
                S.status = st;
        }
    }
    if (!S.status) {
        mof_status st = mof_output_commit(out);
        out = NULL;
        if (st)
            S.status = st;
    }
    free(default_name);
    goto done;
nomem:
    save_fail(&S, MOF_ERR_NOMEM, "out of memory while writing the model");
done:
    mof_output_abort(out);
    saver_release(&S);
    return S.status;
}

mof_status mof_model_save_buffer(const mof_model *m, void **data, size_t *size)
{
    if (!m || !data || !size)
        return MOF_ERR_INVALID_ARG;
    *data = NULL;
    *size = 0;
    saver S;
    saver_init(&S, m->ctx, NULL);
    S.inline_only = true;
    Onnx__ModelProto *mp = build_model(&S, m);
    if (mp) {
        size_t n = protobuf_c_message_get_packed_size(&mp->base);
        uint8_t *buf = mof_malloc(n);
        if (!buf) {
            save_fail(&S, MOF_ERR_NOMEM, "out of memory while writing the model");
        } else {
            *size = protobuf_c_message_pack(&mp->base, buf);
            *data = buf;
        }
    }
    saver_release(&S);
    return S.status;
}

mof_status mof_onnx_tensor_write(mof_context *ctx, const mof_tensor *t, const char *name,
                                 FILE *f, const char *path)
{
    saver S;
    saver_init(&S, ctx, path);
    S.inline_only = true;
    Onnx__TensorProto *tp = build_tensor(&S, t, name);
    if (tp) {
        file_sink sink = {.base = {sink_append}, .f = f};
        protobuf_c_message_pack_to_buffer(&tp->base, &sink.base);
        if (sink.err)
            save_fail(&S, MOF_ERR_IO, "cannot write: %s", strerror(sink.err));
    }
    saver_release(&S);
    return S.status;
}
