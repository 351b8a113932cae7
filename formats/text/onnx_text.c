/* onnx_text.c: the ONNX textual syntax (see <mof/text.h>): a printer that writes the
 * IR as onnx.printer.to_text does, and a recursive-descent parser that builds the IR
 * the way the binary reader (formats/onnx/onnx_load.c) does, so that a model read from
 * text and the same model read from an ONNX file are the same graph.
 *
 * The grammar (after ONNX's docs/Syntax.md; `?` optional, `*` repeated):
 *
 *   model      ::= ('<' field (',' field)* '>')? graph
 *   field      ::= id ':' (int | string | '[' (string ':' (int | string)),* ']')
 *   graph      ::= name '(' item,* ')' '=>' '(' item,* ')' ('<' item,* '>')? '{' node* '}'
 *   item       ::= type? name (('=')? constant-data)?     (a typed value or a constant)
 *   type       ::= elem ('[' (dim,*)? ']')? | seq(type) | optional(type)
 *                | map(elem, type) | sparse_tensor(elem [dims])
 *   dim        ::= int | id | '?'
 *   node       ::= ('[' name ']')? (name,*)? '=' id('.' id)* attrs? '(' name,* ')' attrs?
 *   attrs      ::= '<' attr,* '>'
 *   attr       ::= name (':' attr-type)? '=' (value | '[' value,* ']' | '@' id)
 *   value      ::= number | string | elem dims? name? '='? constant-data | graph
 *   constant-data ::= '{' literal,* '}'
 *   name       ::= id | string                      ("" is an omitted input or output;
 *                                                    in a node's lists it may be left
 *                                                    out: `y, , z = Op (a, , b)`)
 *
 * `float` is a scalar tensor type (a shape with no dims) and `float[]` a tensor type
 * with no shape, as in ONNX. Node inputs may name values defined later (the binary
 * format allows it); they are resolved when the whole model has been read, through
 * enclosing graphs for subgraphs, as the binary reader does. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <mof/text.h>

#include "onnx_private.h"
#include "onnx_text.h"

/* ------------------------------------------------------------------ names and types */

/* ONNX's element type names, numbered as TensorProto.DataType. */
static const char *const elem_names[] = {
    [1] = "float",         [2] = "uint8",           [3] = "int8",
    [4] = "uint16",        [5] = "int16",           [6] = "int32",
    [7] = "int64",         [8] = "string",          [9] = "bool",
    [10] = "float16",      [11] = "double",         [12] = "uint32",
    [13] = "uint64",       [14] = "complex64",      [15] = "complex128",
    [16] = "bfloat16",     [17] = "float8e4m3fn",   [18] = "float8e4m3fnuz",
    [19] = "float8e5m2",   [20] = "float8e5m2fnuz", [21] = "uint4",
    [22] = "int4",         [23] = "float4e2m1",
};
#define N_ELEM_NAMES ((int32_t)(sizeof(elem_names) / sizeof(elem_names[0])))

static const char *elem_name(int32_t dtype)
{
    return dtype > 0 && dtype < N_ELEM_NAMES ? elem_names[dtype] : NULL;
}

static int32_t elem_of_word(const char *s, size_t n)
{
    for (int32_t i = 1; i < N_ELEM_NAMES; i++) {
        if (strlen(elem_names[i]) == n && memcmp(elem_names[i], s, n) == 0)
            return i;
    }
    return 0;
}

static const char *const attr_type_names[] = {
    [MOF_ATTR_FLOAT] = "float",           [MOF_ATTR_INT] = "int",
    [MOF_ATTR_STRING] = "string",         [MOF_ATTR_TENSOR] = "tensor",
    [MOF_ATTR_GRAPH] = "graph",           [MOF_ATTR_FLOATS] = "floats",
    [MOF_ATTR_INTS] = "ints",             [MOF_ATTR_STRINGS] = "strings",
    [MOF_ATTR_TENSORS] = "tensors",       [MOF_ATTR_GRAPHS] = "graphs",
    [MOF_ATTR_SPARSE_TENSOR] = "sparse_tensor",
    [MOF_ATTR_SPARSE_TENSORS] = "sparse_tensors",
    [MOF_ATTR_TYPE_PROTO] = "type_proto", [MOF_ATTR_TYPE_PROTOS] = "type_protos",
};
#define N_ATTR_TYPE_NAMES ((int)(sizeof(attr_type_names) / sizeof(attr_type_names[0])))

/* Whether the text syntax can write an attribute of this type (all but sparse
 * tensors). */
static bool attr_type_printable(mof_attr_type t)
{
    return (t >= MOF_ATTR_FLOAT && t <= MOF_ATTR_GRAPHS) || t == MOF_ATTR_TYPE_PROTO ||
           t == MOF_ATTR_TYPE_PROTOS;
}

/* An identifier the grammar reads without quotes. */
static bool is_plain_id(const char *s)
{
    if (!s || !(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
        return false;
    for (s++; *s; s++) {
        if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9')))
            return false;
    }
    return true;
}

/* ------------------------------------------------------------------ printer */

typedef struct printer {
    mof_strbuf out;
    size_t max_elements;
    bool value_types;
    size_t n_elided;        /* constants written without their data */
    size_t n_left_out;      /* attributes the syntax cannot write */
    bool nul_in_string;     /* a string was cut at a NUL byte */
} printer;

static void put(printer *P, const char *s)
{
    mof_strbuf_puts(&P->out, s);
}

static void putc_(printer *P, char c)
{
    mof_strbuf_append(&P->out, &c, 1);
}

static void putf(printer *P, const char *fmt, ...) MOF_PRINTF(2, 3);
static void putf(printer *P, const char *fmt, ...)
{
    char buf[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        P->out.failed = true;
    else if ((size_t)n < sizeof(buf))
        mof_strbuf_append(&P->out, buf, (size_t)n);
    else {
        va_start(ap, fmt);
        char *s = mof_vasprintf(fmt, ap);
        va_end(ap);
        if (!s)
            P->out.failed = true;
        else
            put(P, s);
        free(s);
    }
}

static void put_indent(printer *P, int n)
{
    static const char spaces[] = "                                ";
    while (n > 0) {
        int k = n < 32 ? n : 32;
        mof_strbuf_append(&P->out, spaces, (size_t)k);
        n -= k;
    }
}

/* A quoted string: only '"' and '\' are escaped, as both parsers read a backslash as
 * "take the next character as it is". */
static void put_str(printer *P, const char *s, size_t n)
{
    putc_(P, '"');
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\' || s[i] == '\0') {
            mof_strbuf_append(&P->out, s + start, i - start);
            if (s[i] == '\0')
                P->nul_in_string = true;
            else {
                putc_(P, '\\');
                putc_(P, s[i]);
            }
            start = i + 1;
        }
    }
    mof_strbuf_append(&P->out, s + start, n - start);
    putc_(P, '"');
}

static void put_id(printer *P, const char *s)
{
    if (is_plain_id(s))
        put(P, s);
    else
        put_str(P, s ? s : "", s ? strlen(s) : 0);
}

/* %.9g reads back to the same float, %.17g to the same double. */
static void put_real(printer *P, double v, int digits)
{
    if (isnan(v))
        put(P, "nan");
    else if (isinf(v))
        put(P, v < 0 ? "-inf" : "inf");
    else
        putf(P, "%.*g", digits, v);
}

static void put_elem(printer *P, bool has, int32_t dtype)
{
    const char *name = has ? elem_name(dtype) : NULL;
    put(P, name ? name : "undefined");
}

static void put_dim(printer *P, bool is_value, int64_t value, const char *param)
{
    if (is_value)
        putf(P, "%" PRId64, value);
    else if (param)
        put_id(P, param);
    else
        putc_(P, '?');
}

static void put_shape_proto(printer *P, const Onnx__TensorShapeProto *shape)
{
    if (!shape) {
        put(P, "[]");
        return;
    }
    if (!shape->n_dim)
        return;
    putc_(P, '[');
    for (size_t i = 0; i < shape->n_dim; i++) {
        const Onnx__TensorShapeProto__Dimension *d = shape->dim[i];
        if (i)
            putc_(P, ',');
        put_dim(P, d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE,
                d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE
                    ? d->dim_value : 0,
                d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM
                    ? (d->dim_param ? d->dim_param : "") : NULL);
    }
    putc_(P, ']');
}

/* A TypeProto the IR keeps packed (sequences, maps, optionals, sparse tensors). */
static void put_type_proto(printer *P, const Onnx__TypeProto *tp)
{
    switch (tp->value_case) {
    case ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE:
        put_elem(P, tp->tensor_type->has_elem_type, tp->tensor_type->elem_type);
        put_shape_proto(P, tp->tensor_type->shape);
        break;
    case ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE:
        put(P, "sparse_tensor(");
        put_elem(P, tp->sparse_tensor_type->has_elem_type, tp->sparse_tensor_type->elem_type);
        put_shape_proto(P, tp->sparse_tensor_type->shape);
        putc_(P, ')');
        break;
    case ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE:
    case ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE: {
        bool seq = tp->value_case == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE;
        const Onnx__TypeProto *elem =
            seq ? tp->sequence_type->elem_type : tp->optional_type->elem_type;
        put(P, seq ? "seq(" : "optional(");
        if (elem)
            put_type_proto(P, elem);
        putc_(P, ')');
        break;
    }
    case ONNX__TYPE_PROTO__VALUE_MAP_TYPE:
        put(P, "map(");
        put_elem(P, tp->map_type->has_key_type, tp->map_type->key_type);
        put(P, ", ");
        if (tp->map_type->value_type)
            put_type_proto(P, tp->map_type->value_type);
        putc_(P, ')');
        break;
    default:
        break;
    }
}

/* Writes a value's type; returns whether anything was written. */
static bool put_type(printer *P, const mof_type *t)
{
    size_t before = P->out.len;
    if (t->kind == MOF_TYPE_TENSOR) {
        put_elem(P, t->has_elem_type, t->elem_type);
        if (!t->has_shape) {
            put(P, "[]");
        } else if (t->rank) {
            putc_(P, '[');
            for (size_t i = 0; i < t->rank; i++) {
                if (i)
                    putc_(P, ',');
                put_dim(P, t->dims[i].kind == MOF_DIM_VALUE, t->dims[i].value,
                        t->dims[i].kind == MOF_DIM_PARAM ? t->dims[i].param : NULL);
            }
            putc_(P, ']');
        }
    } else if (t->kind == MOF_TYPE_OPAQUE && t->extra.size) {
        Onnx__TypeProto *tp = onnx__type_proto__unpack(NULL, t->extra.size, t->extra.data);
        if (tp) {
            put_type_proto(P, tp);
            protobuf_c_message_free_unpacked(&tp->base, NULL);
        }
    }
    return P->out.len != before;
}

static void put_value_info(printer *P, const mof_value *v)
{
    if (put_type(P, &v->type))
        putc_(P, ' ');
    put_id(P, v->name);
}

static void put_tensor_type(printer *P, const mof_tensor *t)
{
    put_elem(P, true, (int32_t)t->dtype);
    if (!t->rank)
        return;
    putc_(P, '[');
    for (size_t i = 0; i < t->rank; i++)
        putf(P, "%s%" PRId64, i ? "," : "", t->dims[i]);
    putc_(P, ']');
}

static void put_tensor_element(printer *P, const mof_tensor *t, int64_t i)
{
    const void *d = t->data;
    switch (t->dtype) {
    case MOF_DTYPE_FLOAT: put_real(P, ((const float *)d)[i], 9); break;
    case MOF_DTYPE_DOUBLE: put_real(P, ((const double *)d)[i], 17); break;
    case MOF_DTYPE_INT4: /* unpacked in memory, one per byte */
    case MOF_DTYPE_INT8: putf(P, "%d", ((const int8_t *)d)[i]); break;
    case MOF_DTYPE_UINT4:
    case MOF_DTYPE_UINT8: putf(P, "%u", ((const uint8_t *)d)[i]); break;
    case MOF_DTYPE_INT16: putf(P, "%d", ((const int16_t *)d)[i]); break;
    case MOF_DTYPE_UINT16:
    case MOF_DTYPE_FLOAT16: /* float16 and bfloat16 as their bits, as ONNX writes them */
    case MOF_DTYPE_BFLOAT16: putf(P, "%u", ((const uint16_t *)d)[i]); break;
    case MOF_DTYPE_INT32: putf(P, "%" PRId32, ((const int32_t *)d)[i]); break;
    case MOF_DTYPE_UINT32: putf(P, "%" PRIu32, ((const uint32_t *)d)[i]); break;
    case MOF_DTYPE_INT64: putf(P, "%" PRId64, ((const int64_t *)d)[i]); break;
    case MOF_DTYPE_UINT64: putf(P, "%" PRIu64, ((const uint64_t *)d)[i]); break;
    case MOF_DTYPE_BOOL: putc_(P, ((const uint8_t *)d)[i] ? '1' : '0'); break;
    case MOF_DTYPE_STRING: {
        const mof_string *s = &((const mof_string *)d)[i];
        put_str(P, s->data ? s->data : "", s->data ? s->size : 0);
        break;
    }
    default: break;
    }
}

/* "{1, 2, 3}", or "..." for a constant too large to print or of a type the syntax
 * cannot write (complex numbers). */
static void put_tensor_data(printer *P, const mof_tensor *t)
{
    bool complex = t->dtype == MOF_DTYPE_COMPLEX64 || t->dtype == MOF_DTYPE_COMPLEX128;
    if (complex || (uint64_t)t->numel > (uint64_t)P->max_elements || (t->numel && !t->data)) {
        put(P, "...");
        P->n_elided++;
        return;
    }
    putc_(P, '{');
    for (int64_t i = 0; i < t->numel; i++) {
        if (i)
            put(P, ", ");
        put_tensor_element(P, t, i);
    }
    putc_(P, '}');
}

static void put_graph(printer *P, const mof_graph *g, int indent);

static void put_attr_tensor(printer *P, const mof_tensor *t)
{
    put_tensor_type(P, t);
    putc_(P, ' ');
    if (t->proto && t->proto->name && t->proto->name[0]) {
        put_id(P, t->proto->name);
        putc_(P, ' ');
    }
    put_tensor_data(P, t);
}

/* The AttributeProto fields the IR keeps packed in an attribute's extra (type protos),
 * or NULL. Free with protobuf_c_message_free_unpacked. */
static Onnx__AttributeProto *attr_extra(const mof_attr *a)
{
    return a->extra.size ? onnx__attribute_proto__unpack(NULL, a->extra.size, a->extra.data)
                         : NULL;
}

static void put_attr(printer *P, const mof_attr *a, int indent)
{
    put_id(P, a->name ? a->name : "");
    if (a->type != MOF_ATTR_UNDEFINED) { /* only a reference may have no type */
        put(P, ": ");
        put(P, attr_type_names[a->type]);
    }
    put(P, " = ");
    if (a->ref_attr_name) {
        putc_(P, '@');
        put_id(P, a->ref_attr_name);
        return;
    }
    if (a->type == MOF_ATTR_TYPE_PROTO || a->type == MOF_ATTR_TYPE_PROTOS) {
        Onnx__AttributeProto *ap = attr_extra(a);
        if (!ap) {
            if (a->type == MOF_ATTR_TYPE_PROTOS && !a->extra.size)
                put(P, "[]"); /* an empty list packs to nothing */
            return;
        }
        if (a->type == MOF_ATTR_TYPE_PROTO) {
            put_type_proto(P, ap->tp);
        } else {
            putc_(P, '[');
            for (size_t i = 0; i < ap->n_type_protos; i++) {
                if (i)
                    put(P, ", ");
                put_type_proto(P, ap->type_protos[i]);
            }
            putc_(P, ']');
        }
        protobuf_c_message_free_unpacked(&ap->base, NULL);
        return;
    }
    bool list = a->type >= MOF_ATTR_FLOATS;
    if (list)
        putc_(P, '[');
    size_t n = list ? a->n : 1;
    for (size_t i = 0; i < n; i++) {
        if (i)
            put(P, ", ");
        switch (a->type) {
        case MOF_ATTR_FLOAT: put_real(P, a->f, 9); break;
        case MOF_ATTR_INT: putf(P, "%" PRId64, a->i); break;
        case MOF_ATTR_STRING: put_str(P, a->s ? a->s : "", a->s ? a->s_size : 0); break;
        case MOF_ATTR_TENSOR: put_attr_tensor(P, a->t); break;
        case MOF_ATTR_GRAPH: put_graph(P, a->g, indent); break;
        case MOF_ATTR_FLOATS: put_real(P, a->floats[i], 9); break;
        case MOF_ATTR_INTS: putf(P, "%" PRId64, a->ints[i]); break;
        case MOF_ATTR_STRINGS:
            put_str(P, a->strings[i].data ? a->strings[i].data : "",
                    a->strings[i].data ? a->strings[i].size : 0);
            break;
        case MOF_ATTR_TENSORS: put_attr_tensor(P, a->tensors[i]); break;
        case MOF_ATTR_GRAPHS: put_graph(P, a->graphs[i], indent); break;
        default: break;
        }
    }
    if (list)
        putc_(P, ']');
}

/* Whether an attribute can be written: a type the syntax has, and a value. */
static bool attr_printable(const mof_attr *a)
{
    if (a->ref_attr_name)
        return a->type == MOF_ATTR_UNDEFINED || attr_type_printable(a->type);
    if (!attr_type_printable(a->type))
        return false;
    switch (a->type) {
    case MOF_ATTR_TENSOR: return a->t != NULL;
    case MOF_ATTR_GRAPH: return a->g != NULL;
    case MOF_ATTR_TYPE_PROTO:
    case MOF_ATTR_TYPE_PROTOS: {
        /* An empty type_protos list packs to nothing, and is a value all the same. */
        if (a->type == MOF_ATTR_TYPE_PROTOS && !a->extra.size)
            return true;
        Onnx__AttributeProto *ap = attr_extra(a);
        bool ok = ap && (a->type == MOF_ATTR_TYPE_PROTO ? ap->tp != NULL : true);
        if (ap)
            protobuf_c_message_free_unpacked(&ap->base, NULL);
        return ok;
    }
    default: return true;
    }
}

static void put_attrs(printer *P, const mof_node *n, int indent)
{
    put(P, " <");
    bool first = true;
    for (size_t i = 0; i < n->n_attrs; i++) {
        if (!attr_printable(&n->attrs[i]))
            continue;
        if (!first)
            put(P, ", ");
        first = false;
        put_attr(P, &n->attrs[i], indent);
    }
    putc_(P, '>');
}

static void put_node(printer *P, const mof_node *n, int indent)
{
    put_indent(P, indent);
    if (n->name && n->name[0]) {
        putc_(P, '[');
        put_id(P, n->name);
        put(P, "] ");
    }
    for (size_t i = 0; i < n->n_outputs; i++) {
        if (i)
            put(P, ", ");
        put_id(P, n->outputs[i] ? n->outputs[i]->name : "");
    }
    put(P, n->n_outputs ? " = " : "= ");
    if (n->domain && n->domain[0]) {
        put(P, n->domain);
        putc_(P, '.');
    }
    put(P, n->op_type ? n->op_type : "");
    /* Like the onnx printer: attributes first, unless one holds a graph, which would
     * push the inputs far below. */
    size_t n_attrs = 0;
    bool graphs = false;
    for (size_t i = 0; i < n->n_attrs; i++) {
        if (attr_printable(&n->attrs[i])) {
            n_attrs++;
            graphs |= n->attrs[i].type == MOF_ATTR_GRAPH || n->attrs[i].type == MOF_ATTR_GRAPHS;
        } else {
            P->n_left_out++;
        }
    }
    if (n_attrs && !graphs)
        put_attrs(P, n, indent);
    put(P, " (");
    for (size_t i = 0; i < n->n_inputs; i++) {
        if (i)
            put(P, ", ");
        put_id(P, n->inputs[i] ? n->inputs[i]->name : "");
    }
    putc_(P, ')');
    if (n_attrs && graphs)
        put_attrs(P, n, indent);
    putc_(P, '\n');
}


/* One item of the block after the outputs; the first opens the block. */
static void block_item(printer *P, size_t *count, int indent)
{
    if ((*count)++ == 0) {
        putc_(P, '\n');
        put_indent(P, indent + 3);
        putc_(P, '<');
    } else {
        put(P, ",\n");
        put_indent(P, indent + 4);
    }
}

static void put_value_list(printer *P, const mof_listing *list, size_t n)
{
    putc_(P, '(');
    for (size_t i = 0; i < n; i++) {
        if (i)
            put(P, ", ");
        put_value_info(P, list[i].value);
    }
    putc_(P, ')');
}

static void put_graph(printer *P, const mof_graph *g, int indent)
{
    put_id(P, g->name ? g->name : "");
    putc_(P, ' ');
    put_value_list(P, g->inputs, g->n_inputs);
    put(P, " => ");
    put_value_list(P, g->outputs, g->n_outputs);

    /* Initializers, then value_info, one per line. */
    size_t count = 0;
    for (size_t i = 0; i < g->n_initializers; i++) {
        const mof_value *v = g->initializers[i];
        block_item(P, &count, indent);
        if (v->tensor) {
            put_tensor_type(P, v->tensor);
            putc_(P, ' ');
            put_id(P, v->name);
            put(P, " = ");
            put_tensor_data(P, v->tensor);
        } else {
            put_value_info(P, v);
        }
    }
    for (size_t i = 0; i < g->n_value_infos; i++) {
        block_item(P, &count, indent);
        put_value_info(P, g->value_infos[i].value);
    }
    if (P->value_types) {
        /* The values listed in value_info, by name (graph inputs and outputs are listed
         * where their refs say). */
        mof_map listed;
        mof_map_init(&listed);
        for (size_t i = 0; i < g->n_value_infos; i++) {
            if (!mof_map_put(&listed, g->value_infos[i].value->name, g->value_infos[i].value))
                P->out.failed = true;
        }
        for (const mof_node *n = g->first; n; n = n->next) {
            for (size_t i = 0; i < n->n_outputs; i++) {
                const mof_value *v = n->outputs[i];
                if (v && v->type.kind != MOF_TYPE_NONE && !v->n_input_refs &&
                    !v->n_output_refs && !mof_map_get(&listed, v->name)) {
                    block_item(P, &count, indent);
                    put_value_info(P, v);
                }
            }
        }
        mof_map_free(&listed);
    }
    if (count) {
        put(P, ">\n");
        put_indent(P, indent);
        put(P, "{\n");
    } else {
        put(P, " {\n");
    }
    for (const mof_node *n = g->first; n; n = n->next)
        put_node(P, n, indent + 3);
    put_indent(P, indent);
    putc_(P, '}');
}

static void put_header(printer *P, const mof_model *m)
{
    put(P, "<\n");
    put(P, "   ");
    if (m->has_ir_version)
        putf(P, "ir_version: %" PRId64 ",\n   ", m->ir_version);
    put(P, "opset_import: [");
    for (size_t i = 0; i < m->n_opsets; i++) {
        const mof_opset *o = &m->opsets[i];
        if (i)
            put(P, ", ");
        put_str(P, o->domain ? o->domain : "", o->domain ? strlen(o->domain) : 0);
        putf(P, " : %" PRId64, o->has_version ? o->version : 0);
    }
    putc_(P, ']');
    const struct { const char *key; const char *value; } strs[] = {
        {"producer_name", m->producer_name},
        {"producer_version", m->producer_version},
        {"domain", m->domain},
    };
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        if (strs[i].value) {
            putf(P, ",\n   %s: ", strs[i].key);
            put_str(P, strs[i].value, strlen(strs[i].value));
        }
    }
    if (m->has_model_version)
        putf(P, ",\n   model_version: %" PRId64, m->model_version);
    if (m->doc_string) {
        put(P, ",\n   doc_string: ");
        put_str(P, m->doc_string, strlen(m->doc_string));
    }
    if (m->n_metadata) {
        put(P, ",\n   metadata_props: [");
        for (size_t i = 0; i < m->n_metadata; i++) {
            const mof_kv *kv = &m->metadata[i];
            if (i)
                put(P, ", ");
            put_str(P, kv->key ? kv->key : "", kv->key ? strlen(kv->key) : 0);
            put(P, ": ");
            put_str(P, kv->value ? kv->value : "", kv->value ? strlen(kv->value) : 0);
        }
        putc_(P, ']');
    }
    put(P, "\n>\n");
}

static void printer_init(printer *P, const mof_text_options *opts)
{
    mof_text_options o;
    mof_text_options_init(&o);
    /* Read only the fields the caller's struct has. */
    if (opts && opts->size >= offsetof(mof_text_options, max_elements) + sizeof(size_t))
        o.max_elements = opts->max_elements;
    if (opts && opts->size >= offsetof(mof_text_options, value_types) + sizeof(bool))
        o.value_types = opts->value_types;
    memset(P, 0, sizeof(*P));
    mof_strbuf_init(&P->out);
    P->max_elements = o.max_elements;
    P->value_types = o.value_types;
}

void mof_text_options_init(mof_text_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->size = sizeof(*opts);
    opts->max_elements = SIZE_MAX;
    opts->value_types = false;
}

char *mof_text_print_graph(const mof_graph *g, int indent, const mof_text_options *opts)
{
    printer P;
    printer_init(&P, opts);
    put_graph(&P, g, indent);
    return mof_strbuf_take(&P.out);
}

char *mof_model_print_text(const mof_model *m, const mof_text_options *opts)
{
    printer P;
    printer_init(&P, opts);
    put_header(&P, m);
    put_graph(&P, m->graph, 0);
    putc_(&P, '\n');
    if (P.out.failed) {
        mof_strbuf_free(&P.out);
        return NULL;
    }

    /* What the text leaves out, said first, as comments. */
    size_t n_functions = 0, n_training = 0;
    if (m->extra.size) {
        Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, m->extra.size, m->extra.data);
        if (mp) {
            n_functions = mp->n_functions;
            n_training = mp->n_training_info;
            protobuf_c_message_free_unpacked(&mp->base, NULL);
        }
    }
    mof_strbuf notes;
    mof_strbuf_init(&notes);
    if (P.n_elided)
        mof_strbuf_printf(&notes,
                          "# mof: %zu constant%s written without %s data (\"...\": more than "
                          "%zu elements, or complex numbers): this text cannot be parsed "
                          "back\n",
                          P.n_elided, P.n_elided == 1 ? "" : "s",
                          P.n_elided == 1 ? "its" : "their", P.max_elements);
    if (P.n_left_out)
        mof_strbuf_printf(&notes,
                          "# mof: %zu attribute%s left out (sparse tensors and attributes "
                          "without a value have no text form)\n",
                          P.n_left_out, P.n_left_out == 1 ? "" : "s");
    if (n_functions)
        mof_strbuf_printf(&notes, "# mof: the model's %zu local function%s left out\n",
                          n_functions, n_functions == 1 ? " is" : "s are");
    if (n_training)
        mof_strbuf_printf(&notes, "# mof: the model's training info is left out\n");
    if (P.nul_in_string)
        mof_strbuf_printf(&notes, "# mof: NUL bytes left out of strings\n");
    if (notes.failed) {
        mof_strbuf_free(&notes);
        mof_strbuf_free(&P.out);
        return NULL;
    }
    if (!notes.len)
        return mof_strbuf_take(&P.out);
    mof_strbuf_append(&notes, P.out.data, P.out.len);
    mof_strbuf_free(&P.out);
    return mof_strbuf_take(&notes);
}

/* ------------------------------------------------------------------ lexer */

typedef enum tok_kind {
    TK_EOF,
    TK_ID,       /* [A-Za-z_][A-Za-z0-9_]* */
    TK_STR,      /* "..." (the span includes the quotes) */
    TK_INT,      /* [+-]?[0-9]+ */
    TK_REAL,     /* numbers with '.' or an exponent, [+-]inf, [+-]nan */
    TK_PUNCT,    /* one of < > ( ) [ ] { } , : = @ . ? */
    TK_ARROW,    /* => */
    TK_ELLIPSIS, /* ... (a constant written without its data) */
} tok_kind;

typedef struct token {
    tok_kind kind;
    const char *p;   /* the token's text in the source */
    size_t n;
    unsigned line, col;
    char c;          /* TK_PUNCT */
} token;

/* A node input naming a value not defined when it was read; resolved at the end. */
typedef struct fixup {
    mof_graph *g;
    mof_node *node;
    size_t index;
    char *name;
} fixup;

typedef struct parser {
    mof_context *ctx;
    const char *file;
    const char *pos, *end;   /* the lexer */
    unsigned line, col;
    token tok;               /* the current token */
    mof_model *model;
    mof_status status;       /* the first error; MOF_OK while all is well */
    fixup *fix;
    size_t n_fix, cap_fix;
    int depth;
} parser;

static bool fail_at(parser *P, unsigned line, unsigned col, mof_status st, const char *fmt,
                    ...) MOF_PRINTF(5, 6);
static bool fail_at(parser *P, unsigned line, unsigned col, mof_status st, const char *fmt,
                    ...)
{
    if (P->status)
        return false;
    mof_location loc = {P->file, line, col};
    va_list ap;
    va_start(ap, fmt);
    mof_vreport(P->ctx, MOF_SEVERITY_ERROR, st, &loc, fmt, ap);
    va_end(ap);
    P->status = st;
    return false;
}

#define FAIL(P, t, ...) fail_at((P), (t).line, (t).col, MOF_ERR_PARSE, __VA_ARGS__)

static bool nomem(parser *P)
{
    return fail_at(P, P->tok.line, P->tok.col, MOF_ERR_NOMEM, "out of memory");
}

static bool is_alpha(char c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static void advance(parser *P, size_t n)
{
    for (size_t i = 0; i < n && P->pos < P->end; i++, P->pos++) {
        if (*P->pos == '\n') {
            P->line++;
            P->col = 1;
        } else {
            P->col++;
        }
    }
}

static bool word_at(const char *p, const char *end, const char *w)
{
    size_t n = strlen(w);
    return (size_t)(end - p) >= n && memcmp(p, w, n) == 0 &&
           ((size_t)(end - p) == n || !(is_alpha(p[n]) || is_digit(p[n])));
}

/* Reads the next token into *t. A malformed one is reported when `report`, and reads
 * as the end of the input. */
static void lex(parser *P, token *t, bool report)
{
    while (P->pos < P->end) {
        char c = *P->pos;
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v') {
            advance(P, 1);
        } else if (c == '#') {
            while (P->pos < P->end && *P->pos != '\n')
                advance(P, 1);
        } else {
            break;
        }
    }
    memset(t, 0, sizeof(*t));
    t->p = P->pos;
    t->line = P->line;
    t->col = P->col;
    if (P->pos >= P->end) {
        t->kind = TK_EOF;
        return;
    }
    const char *p = P->pos, *end = P->end;
    char c = *p;
    char c1 = p + 1 < end ? p[1] : '\0';
    size_t n = 0;
    if (is_alpha(c)) {
        while (p + n < end && (is_alpha(p[n]) || is_digit(p[n])))
            n++;
        t->kind = TK_ID;
    } else if (is_digit(c) || ((c == '-' || c == '+') && (is_digit(c1) || c1 == '.' ||
                                                          word_at(p + 1, end, "inf") ||
                                                          word_at(p + 1, end, "nan"))) ||
               (c == '.' && is_digit(c1))) {
        t->kind = TK_INT;
        if (c == '-' || c == '+')
            n++;
        if (word_at(p + n, end, "inf") || word_at(p + n, end, "nan")) {
            n += 3;
            t->kind = TK_REAL;
        } else {
            while (p + n < end && is_digit(p[n]))
                n++;
            if (p + n < end && p[n] == '.' && !(p + n + 1 < end && p[n + 1] == '.')) {
                t->kind = TK_REAL;
                n++;
                while (p + n < end && is_digit(p[n]))
                    n++;
            }
            if (p + n < end && (p[n] == 'e' || p[n] == 'E')) {
                size_t k = n + 1;
                if (p + k < end && (p[k] == '+' || p[k] == '-'))
                    k++;
                if (p + k < end && is_digit(p[k])) {
                    while (p + k < end && is_digit(p[k]))
                        k++;
                    n = k;
                    t->kind = TK_REAL;
                }
            }
        }
    } else if (c == '"') {
        n = 1;
        while (p + n < end && p[n] != '"')
            n += p[n] == '\\' && p + n + 1 < end ? 2 : 1;
        if (p + n >= end) {
            if (report)
                FAIL(P, *t, "string not closed (it starts here)");
            t->kind = TK_EOF;
            return;
        }
        n++;
        t->kind = TK_STR;
    } else if (c == '=' && c1 == '>') {
        n = 2;
        t->kind = TK_ARROW;
    } else if (c == '.' && c1 == '.' && p + 2 < end && p[2] == '.') {
        n = 3;
        t->kind = TK_ELLIPSIS;
    } else if (c && strchr("<>()[]{},:=@.?", c)) {
        n = 1;
        t->kind = TK_PUNCT;
        t->c = c;
    } else {
        if (report) {
            if (c > 0x20 && c < 0x7f)
                FAIL(P, *t, "unexpected character '%c'", c);
            else
                FAIL(P, *t, "unexpected byte 0x%02x", (unsigned)(unsigned char)c);
        }
        t->kind = TK_EOF;
        return;
    }
    t->n = n;
    advance(P, n);
}

static void next(parser *P)
{
    if (P->status) {
        P->tok.kind = TK_EOF;
        return;
    }
    lex(P, &P->tok, true);
}

/* The token after the current one (nothing is consumed). */
static token peek(parser *P)
{
    const char *pos = P->pos;
    unsigned line = P->line, col = P->col;
    token t;
    lex(P, &t, false);
    P->pos = pos;
    P->line = line;
    P->col = col;
    return t;
}

/* How a token reads in a message: "'('", "'Relu'", "number 1.5", "end of input". */
static const char *describe(const token *t, char *buf, size_t size)
{
    const char *what;
    switch (t->kind) {
    case TK_EOF: return "end of input";
    case TK_STR: what = "string "; break;
    case TK_INT:
    case TK_REAL: what = "number "; break;
    default: what = ""; break;
    }
    bool quote = t->kind != TK_STR && t->kind != TK_INT && t->kind != TK_REAL;
    int len = t->n > 40 ? 40 : (int)t->n;
    /* Control characters (a newline inside a string) print as spaces. */
    char text[41];
    for (int i = 0; i < len; i++)
        text[i] = (unsigned char)t->p[i] < 0x20 ? ' ' : t->p[i];
    snprintf(buf, size, "%s%s%.*s%s%s", what, quote ? "'" : "", len, text,
             t->n > 40 ? "..." : "", quote ? "'" : "");
    return buf;
}

/* Reports "expected WHAT, found TOKEN" at the current token. */
static bool expected(parser *P, const char *what)
{
    char buf[96];
    return FAIL(P, P->tok, "expected %s, found %s", what, describe(&P->tok, buf, sizeof(buf)));
}

static bool is_p(const parser *P, char c)
{
    return P->tok.kind == TK_PUNCT && P->tok.c == c;
}

static bool accept(parser *P, char c)
{
    if (!is_p(P, c))
        return false;
    next(P);
    return true;
}

/* Expects punctuation c; `what` completes "expected 'c' ...". */
static bool expect(parser *P, char c, const char *what)
{
    if (accept(P, c))
        return true;
    char buf[160];
    snprintf(buf, sizeof(buf), "'%c' %s", c, what);
    return expected(P, buf);
}

static bool tok_is_word(const token *t, const char *w)
{
    return t->kind == TK_ID && strlen(w) == t->n && memcmp(t->p, w, t->n) == 0;
}

static bool is_word(const parser *P, const char *w)
{
    return tok_is_word(&P->tok, w);
}

/* The text of a string token, with the quotes removed and each backslash taking the
 * next character as it is; *len (may be NULL) receives its length. */
static char *str_value(parser *P, const token *t, size_t *len)
{
    char *s = malloc(t->n);
    if (!s) {
        nomem(P);
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 1; i + 1 < t->n; i++) {
        if (t->p[i] == '\\' && i + 2 < t->n)
            i++;
        s[k++] = t->p[i];
    }
    s[k] = '\0';
    if (len)
        *len = k;
    return s;
}

/* A name: an identifier or a quoted string. */
static bool take_name(parser *P, char **out, const char *what)
{
    *out = NULL;
    if (P->tok.kind == TK_ID)
        *out = mof_strndup(P->tok.p, P->tok.n);
    else if (P->tok.kind == TK_STR)
        *out = str_value(P, &P->tok, NULL);
    else
        return expected(P, what);
    if (!*out)
        return nomem(P);
    next(P);
    return true;
}

static bool take_string(parser *P, char **out, size_t *len, const char *what)
{
    *out = NULL;
    if (P->tok.kind != TK_STR)
        return expected(P, what);
    if (!(*out = str_value(P, &P->tok, len)))
        return false;
    next(P);
    return true;
}

/* Copies a number token into buf as a C string. */
static bool number_text(parser *P, char *buf, size_t size)
{
    if (P->tok.n >= size)
        return FAIL(P, P->tok, "number too long: %.32s...", P->tok.p);
    memcpy(buf, P->tok.p, P->tok.n);
    buf[P->tok.n] = '\0';
    return true;
}

static bool take_int(parser *P, int64_t min, int64_t max, int64_t *out, const char *what)
{
    char buf[64];
    if (P->tok.kind == TK_REAL) {
        char found[96];
        return FAIL(P, P->tok, "expected %s (an integer), found %s", what,
                    describe(&P->tok, found, sizeof(found)));
    }
    if (P->tok.kind != TK_INT)
        return expected(P, what);
    if (!number_text(P, buf, sizeof(buf)))
        return false;
    errno = 0;
    long long v = strtoll(buf, NULL, 10);
    if (errno == ERANGE || v < min || v > max)
        return FAIL(P, P->tok, "%s out of range: %s is not in [%" PRId64 ", %" PRId64 "]",
                    what, buf, min, max);
    *out = v;
    next(P);
    return true;
}

static bool take_uint64(parser *P, uint64_t *out, const char *what)
{
    char buf[64];
    if (P->tok.kind != TK_INT || P->tok.p[0] == '-')
        return P->tok.kind == TK_INT
                   ? FAIL(P, P->tok, "%s out of range: %.*s is negative", what,
                          (int)P->tok.n, P->tok.p)
                   : expected(P, what);
    if (!number_text(P, buf, sizeof(buf)))
        return false;
    errno = 0;
    unsigned long long v = strtoull(buf, NULL, 10);
    if (errno == ERANGE)
        return FAIL(P, P->tok, "%s out of range: %s is larger than %" PRIu64, what, buf,
                    UINT64_MAX);
    *out = v;
    next(P);
    return true;
}

/* A real number: an integer or real literal, or inf / nan. Single precision reads
 * with strtof, so that what %.9g wrote comes back bit for bit. */
static bool take_real(parser *P, bool single, double *out, const char *what)
{
    char buf[80];
    const token t = P->tok;
    if (tok_is_word(&t, "inf") || tok_is_word(&t, "nan")) {
        *out = t.p[0] == 'i' ? INFINITY : NAN;
        next(P);
        return true;
    }
    if (t.kind != TK_INT && t.kind != TK_REAL)
        return expected(P, what);
    if (!number_text(P, buf, sizeof(buf)))
        return false;
    bool special = strstr(buf, "inf") || strstr(buf, "nan");
    errno = 0;
    double v = single ? (double)strtof(buf, NULL) : strtod(buf, NULL);
    if (errno == ERANGE && isinf(v) && !special)
        return FAIL(P, t, "%s out of range: %s is too large for a %s", what, buf,
                    single ? "float" : "double");
    *out = v;
    next(P);
    return true;
}

/* ------------------------------------------------------------------ types */

static bool is_type_word(const token *t)
{
    return t->kind == TK_ID &&
           (elem_of_word(t->p, t->n) || tok_is_word(t, "seq") || tok_is_word(t, "map") ||
            tok_is_word(t, "optional") || tok_is_word(t, "sparse_tensor"));
}

/* Whether the current token starts a type followed by a name (`float x`, `seq(...)`),
 * rather than being a name itself (`(float)` names a value "float"). */
static bool starts_type(parser *P)
{
    if (!is_type_word(&P->tok))
        return false;
    token t = peek(P);
    return t.kind == TK_ID || t.kind == TK_STR ||
           (t.kind == TK_PUNCT && (t.c == '[' || t.c == '('));
}

static void *new_msg(parser *P, size_t size, void (*init)(void *))
{
    void *m = malloc(size);
    if (!m) {
        nomem(P);
        return NULL;
    }
    init(m);
    return m;
}

#define NEW_MSG(P, type, init) ((type *)new_msg((P), sizeof(type), (void (*)(void *))(init)))

/* An element type name. */
static bool take_elem(parser *P, int32_t *out, const char *what)
{
    int32_t e = P->tok.kind == TK_ID ? elem_of_word(P->tok.p, P->tok.n) : 0;
    if (!e)
        return expected(P, what);
    *out = e;
    next(P);
    return true;
}

/* `elem`, `elem[]` or `elem[d, ...]`: *shape is NULL for `elem[]` (no shape). */
static bool parse_tensor_part(parser *P, int32_t *elem, Onnx__TensorShapeProto **shape)
{
    *shape = NULL;
    if (!take_elem(P, elem, "an element type (float, int64, ...)"))
        return false;
    bool bracket = is_p(P, '[');
    if (bracket) {
        next(P);
        if (accept(P, ']'))
            return true;
    }
    if (!(*shape = NEW_MSG(P, Onnx__TensorShapeProto, onnx__tensor_shape_proto__init)))
        return false;
    if (!bracket)
        return true;
    size_t cap = 0;
    do {
        Onnx__TensorShapeProto *s = *shape;
        if (!MOF_GROW(s->dim, cap, s->n_dim + 1))
            return nomem(P);
        Onnx__TensorShapeProto__Dimension *d =
            NEW_MSG(P, Onnx__TensorShapeProto__Dimension,
                    onnx__tensor_shape_proto__dimension__init);
        if (!d)
            return false;
        s->dim[s->n_dim++] = d;
        if (accept(P, '?')) {
            continue;
        } else if (P->tok.kind == TK_INT) {
            int64_t v;
            if (!take_int(P, 0, INT64_MAX, &v, "a dim"))
                return false;
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = v;
        } else if (P->tok.kind == TK_ID || P->tok.kind == TK_STR) {
            char *param;
            if (!take_name(P, &param, "a dim"))
                return false;
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = param;
        } else {
            return expected(P, "a dim (a number, a symbol or '?')");
        }
    } while (accept(P, ','));
    return expect(P, ']', "to close the dims");
}

static void free_type_proto(Onnx__TypeProto *tp)
{
    if (tp)
        protobuf_c_message_free_unpacked(&tp->base, NULL);
}

/* A type, as a TypeProto (malloc'ed throughout, freed with free_type_proto). */
static Onnx__TypeProto *parse_type(parser *P)
{
    if (++P->depth > MOF_TEXT_MAX_DEPTH) {
        FAIL(P, P->tok, "types nested more than %d deep", MOF_TEXT_MAX_DEPTH);
        return NULL;
    }
    Onnx__TypeProto *tp = NEW_MSG(P, Onnx__TypeProto, onnx__type_proto__init);
    if (!tp)
        return NULL;
    bool ok = false;
    if (is_word(P, "seq") || is_word(P, "optional")) {
        bool seq = is_word(P, "seq");
        next(P);
        if (!expect(P, '(', seq ? "after seq" : "after optional"))
            goto out;
        if (seq) {
            Onnx__TypeProto__Sequence *s =
                NEW_MSG(P, Onnx__TypeProto__Sequence, onnx__type_proto__sequence__init);
            if (!s)
                goto out;
            tp->value_case = ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE;
            tp->sequence_type = s;
            s->elem_type = parse_type(P);
            if (!s->elem_type)
                goto out;
        } else {
            Onnx__TypeProto__Optional *o =
                NEW_MSG(P, Onnx__TypeProto__Optional, onnx__type_proto__optional__init);
            if (!o)
                goto out;
            tp->value_case = ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE;
            tp->optional_type = o;
            o->elem_type = parse_type(P);
            if (!o->elem_type)
                goto out;
        }
        ok = expect(P, ')', "to close the type");
    } else if (is_word(P, "map")) {
        next(P);
        Onnx__TypeProto__Map *mt = NEW_MSG(P, Onnx__TypeProto__Map, onnx__type_proto__map__init);
        if (!mt)
            goto out;
        tp->value_case = ONNX__TYPE_PROTO__VALUE_MAP_TYPE;
        tp->map_type = mt;
        if (!expect(P, '(', "after map") ||
            !take_elem(P, &mt->key_type, "a map key type (int64, string, ...)"))
            goto out;
        mt->has_key_type = true;
        if (!expect(P, ',', "after the map key type") || !(mt->value_type = parse_type(P)))
            goto out;
        ok = expect(P, ')', "to close the type");
    } else if (is_word(P, "sparse_tensor")) {
        next(P);
        Onnx__TypeProto__SparseTensor *st = NEW_MSG(P, Onnx__TypeProto__SparseTensor,
                                                    onnx__type_proto__sparse_tensor__init);
        if (!st)
            goto out;
        tp->value_case = ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE;
        tp->sparse_tensor_type = st;
        if (!expect(P, '(', "after sparse_tensor") ||
            !parse_tensor_part(P, &st->elem_type, &st->shape))
            goto out;
        st->has_elem_type = true;
        ok = expect(P, ')', "to close the type");
    } else if (P->tok.kind == TK_ID && elem_of_word(P->tok.p, P->tok.n)) {
        Onnx__TypeProto__Tensor *tt =
            NEW_MSG(P, Onnx__TypeProto__Tensor, onnx__type_proto__tensor__init);
        if (!tt)
            goto out;
        tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
        tp->tensor_type = tt;
        ok = parse_tensor_part(P, &tt->elem_type, &tt->shape);
        tt->has_elem_type = true;
    } else {
        expected(P, "a type (float[N,3], int64, seq(float), map(string, float), ...)");
    }
out:
    P->depth--;
    if (!ok) {
        free_type_proto(tp);
        return NULL;
    }
    return tp;
}

/* The IR's form of a type: a tensor type is modeled, anything else kept packed, as
 * the binary reader keeps it. */
static bool type_to_ir(parser *P, const Onnx__TypeProto *tp, mof_type *out)
{
    memset(out, 0, sizeof(*out));
    if (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) {
        out->kind = MOF_TYPE_OPAQUE;
        size_t size = protobuf_c_message_get_packed_size(&tp->base);
        if (!(out->extra.data = malloc(size ? size : 1)))
            return nomem(P);
        out->extra.size = protobuf_c_message_pack(&tp->base, out->extra.data);
        return true;
    }
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    out->kind = MOF_TYPE_TENSOR;
    out->has_elem_type = tt->has_elem_type;
    out->elem_type = (mof_dtype)tt->elem_type;
    if (!tt->shape)
        return true;
    out->has_shape = true;
    if (!tt->shape->n_dim)
        return true;
    if (!(out->dims = calloc(tt->shape->n_dim, sizeof(*out->dims))))
        return nomem(P);
    out->rank = tt->shape->n_dim;
    for (size_t i = 0; i < out->rank; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
            out->dims[i].kind = MOF_DIM_VALUE;
            out->dims[i].value = d->dim_value;
        } else if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM) {
            out->dims[i].kind = MOF_DIM_PARAM;
            if (!(out->dims[i].param = mof_strdup(d->dim_param ? d->dim_param : "")))
                return nomem(P);
        }
    }
    return true;
}

/* ------------------------------------------------------------------ constants */

/* One element of a constant, stored at index i of t. */
static bool parse_element(parser *P, mof_tensor *t, int64_t i)
{
    void *d = t->data;
    int64_t v = 0;
    double r = 0;
    switch (t->dtype) {
    case MOF_DTYPE_FLOAT:
        if (!take_real(P, true, &r, "a float"))
            return false;
        ((float *)d)[i] = (float)r;
        return true;
    case MOF_DTYPE_DOUBLE:
        if (!take_real(P, false, &r, "a double"))
            return false;
        ((double *)d)[i] = r;
        return true;
    case MOF_DTYPE_BOOL:
        if (is_word(P, "true") || is_word(P, "false")) {
            ((uint8_t *)d)[i] = is_word(P, "true");
            next(P);
            return true;
        }
        if (!take_int(P, 0, 1, &v, "a bool (0 or 1)"))
            return false;
        ((uint8_t *)d)[i] = (uint8_t)v;
        return true;
    case MOF_DTYPE_INT8:
        if (!take_int(P, INT8_MIN, INT8_MAX, &v, "an int8"))
            return false;
        ((int8_t *)d)[i] = (int8_t)v;
        return true;
    case MOF_DTYPE_UINT8:
        if (!take_int(P, 0, UINT8_MAX, &v, "a uint8"))
            return false;
        ((uint8_t *)d)[i] = (uint8_t)v;
        return true;
    case MOF_DTYPE_INT4:
        if (!take_int(P, -8, 7, &v, "an int4 (-8 to 7)"))
            return false;
        ((int8_t *)d)[i] = (int8_t)v;
        return true;
    case MOF_DTYPE_UINT4:
        if (!take_int(P, 0, 15, &v, "a uint4 (0 to 15)"))
            return false;
        ((uint8_t *)d)[i] = (uint8_t)v;
        return true;
    case MOF_DTYPE_INT16:
        if (!take_int(P, INT16_MIN, INT16_MAX, &v, "an int16"))
            return false;
        ((int16_t *)d)[i] = (int16_t)v;
        return true;
    case MOF_DTYPE_UINT16:
    case MOF_DTYPE_FLOAT16:
    case MOF_DTYPE_BFLOAT16:
        if (!take_int(P, 0, UINT16_MAX, &v,
                      t->dtype == MOF_DTYPE_UINT16 ? "a uint16"
                                                   : "16-bit float bits (0 to 65535)"))
            return false;
        ((uint16_t *)d)[i] = (uint16_t)v;
        return true;
    case MOF_DTYPE_INT32:
        if (!take_int(P, INT32_MIN, INT32_MAX, &v, "an int32"))
            return false;
        ((int32_t *)d)[i] = (int32_t)v;
        return true;
    case MOF_DTYPE_UINT32:
        if (!take_int(P, 0, UINT32_MAX, &v, "a uint32"))
            return false;
        ((uint32_t *)d)[i] = (uint32_t)v;
        return true;
    case MOF_DTYPE_INT64:
        if (!take_int(P, INT64_MIN, INT64_MAX, &v, "an int64"))
            return false;
        ((int64_t *)d)[i] = v;
        return true;
    case MOF_DTYPE_UINT64:
        return take_uint64(P, &((uint64_t *)d)[i], "a uint64");
    case MOF_DTYPE_STRING: {
        mof_string *s = &((mof_string *)d)[i];
        return take_string(P, &s->data, &s->size, "a string");
    }
    default:
        return FAIL(P, P->tok, "constants of type %s have no text form",
                    mof_dtype_name(t->dtype));
    }
}

/* The data of a constant of the given tensor type: '{' literal, ... '}'. `what` names
 * the constant in messages. */
static mof_tensor *parse_constant_data(parser *P, int32_t elem,
                                       const Onnx__TensorShapeProto *shape, const token *at,
                                       const char *what)
{
    if (P->tok.kind == TK_ELLIPSIS) {
        FAIL(P, P->tok,
             "%s was written without its data (\"...\"): this text cannot be parsed back "
             "(print it with a larger max_elements)",
             what);
        return NULL;
    }
    if (!is_p(P, '{')) {
        expected(P, "'{' to start the constant's data");
        return NULL;
    }
    if (!shape) {
        FAIL(P, *at, "%s needs a shape (`%s[2,3]`, or `%s` for a scalar)", what,
             elem_name(elem), elem_name(elem));
        return NULL;
    }
    if (elem < 1 || (elem > MOF_DTYPE_BFLOAT16 && elem != MOF_DTYPE_UINT4 &&
                     elem != MOF_DTYPE_INT4) ||
        elem == MOF_DTYPE_COMPLEX64 || elem == MOF_DTYPE_COMPLEX128) {
        FAIL(P, *at, "%s: constants of type %s have no text form", what, elem_name(elem));
        return NULL;
    }
    int64_t *dims = calloc(shape->n_dim ? shape->n_dim : 1, sizeof(*dims));
    if (!dims) {
        nomem(P);
        return NULL;
    }
    for (size_t i = 0; i < shape->n_dim; i++) {
        if (shape->dim[i]->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
            free(dims);
            FAIL(P, *at, "%s needs numeric dims (dim %zu is not a number)", what, i);
            return NULL;
        }
        dims[i] = shape->dim[i]->dim_value;
    }
    mof_tensor *t = NULL;
    int64_t numel = mof_dims_numel(shape->n_dim, dims);
    if (numel < 0 || (uint64_t)numel > SIZE_MAX / 16) {
        FAIL(P, *at, "%s is too large", what);
        goto out;
    }
    /* Each element takes at least one byte of text: a shape that needs more elements
     * than the rest of the text holds cannot match its data. Parse into a tensor sized
     * by the text then (to report the count below), never one sized by the shape. */
    size_t left = (size_t)(P->end - P->tok.p);
    int64_t text_dims[1] = { (int64_t)left };
    bool cannot_match = (uint64_t)numel > left;
    if (!(t = cannot_match ? mof_tensor_create((mof_dtype)elem, 1, text_dims)
                           : mof_tensor_create((mof_dtype)elem, shape->n_dim, dims))) {
        nomem(P);
        goto out;
    }
    next(P); /* '{' */
    int64_t count = 0;
    if (!is_p(P, '}')) {
        do {
            if (count == numel) {
                FAIL(P, P->tok, "%s has more than the %" PRId64 " elements of its shape", what,
                     numel);
                goto fail;
            }
            if (!parse_element(P, t, count))
                goto fail;
            count++;
        } while (accept(P, ','));
    }
    if (!is_p(P, '}')) {
        expected(P, "',' or '}' in the constant's data");
        goto fail;
    }
    if (count != numel) {
        FAIL(P, P->tok, "%s has %" PRId64 " element%s, its shape needs %" PRId64, what, count,
             count == 1 ? "" : "s", numel);
        goto fail;
    }
    next(P);
    goto out;
fail:
    mof_tensor_unref(t);
    t = NULL;
out:
    free(dims);
    return t;
}

/* ------------------------------------------------------------------ graphs */

/* A value of a graph's input, output or `<...>` list. */
typedef struct item {
    char *name;
    bool typed;
    mof_type type;
    token at;
    bool constant;      /* a constant (`float[2] w = {1, 2}`) ... */
    mof_tensor *init;   /* ... whose tensor this is until the graph takes it */
} item;

static void item_clear(item *it)
{
    free(it->name);
    mof_type_clear(&it->type);
    mof_tensor_unref(it->init);
    memset(it, 0, sizeof(*it));
}

typedef struct items {
    item *v;
    size_t n, cap;
} items;

static void items_free(items *l)
{
    for (size_t i = 0; i < l->n; i++)
        item_clear(&l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* `type? name (('=')? data)?`: must_type for the `<...>` list, allow_init where a
 * constant may stand. */
static bool parse_item(parser *P, item *it, bool must_type, bool allow_init)
{
    memset(it, 0, sizeof(*it));
    it->at = P->tok;
    Onnx__TypeProto *tp = NULL;
    bool ok = false;
    if (must_type || starts_type(P)) {
        if (!(tp = parse_type(P)) || !type_to_ir(P, tp, &it->type))
            goto out;
        it->typed = true;
    }
    if (!take_name(P, &it->name, it->typed ? "a value name" : "a value (type and name)"))
        goto out;
    /* "" stands for an omitted input or output in a node only: the graph's lists need
     * names (the ONNX loader refuses a nameless graph input, output or initializer). */
    if (!it->name[0]) {
        FAIL(P, it->at, "a graph input, output or constant needs a name, not \"\"");
        goto out;
    }
    if (allow_init && it->typed &&
        (is_p(P, '=') || is_p(P, '{') || P->tok.kind == TK_ELLIPSIS)) {
        accept(P, '=');
        if (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) {
            FAIL(P, it->at, "constant '%s' needs a tensor type", it->name);
            goto out;
        }
        char what[64];
        snprintf(what, sizeof(what), "constant '%.40s'", it->name);
        it->init = parse_constant_data(P, tp->tensor_type->elem_type, tp->tensor_type->shape,
                                       &it->at, what);
        if (!it->init)
            goto out;
        it->constant = true;
    }
    ok = true;
out:
    free_type_proto(tp);
    return ok;
}

/* '(' item, ... ')' */
static bool parse_item_list(parser *P, items *l, bool allow_init, const char *what)
{
    char buf[96];
    snprintf(buf, sizeof(buf), "to start the %s", what);
    if (!expect(P, '(', buf))
        return false;
    if (accept(P, ')'))
        return true;
    do {
        if (!MOF_GROW(l->v, l->cap, l->n + 1))
            return nomem(P);
        if (!parse_item(P, &l->v[l->n], false, allow_init)) {
            item_clear(&l->v[l->n]);
            return false;
        }
        l->n++;
    } while (accept(P, ','));
    snprintf(buf, sizeof(buf), "or ',' in the %s", what);
    return expect(P, ')', buf);
}

enum listing { LIST_INPUT, LIST_OUTPUT, LIST_VALUE_INFO };

/* Lists v; the first listing of a value gives it its type, as in the binary reader. */
static bool list_item(parser *P, mof_graph *g, mof_map *listed, mof_value *v, item *it,
                      enum listing kind)
{
    if (!mof_map_get(listed, v->name)) {
        if (!mof_map_put(listed, v->name, v))
            return nomem(P);
        if (it->typed) {
            mof_type_clear(&v->type);
            v->type = it->type;
            memset(&it->type, 0, sizeof(it->type));
        }
    }
    mof_status st = kind == LIST_INPUT    ? mof_graph_list_input(g, v, NULL, NULL)
                    : kind == LIST_OUTPUT ? mof_graph_list_output(g, v, NULL, NULL)
                                          : mof_graph_list_value_info(g, v, NULL, NULL);
    return st == MOF_OK || nomem(P);
}

static mof_value *new_value(parser *P, mof_graph *g, const char *name, unsigned flags)
{
    mof_value *v = mof_graph_new_value(g, name);
    if (!v)
        nomem(P);
    else
        v->flags |= flags;
    return v;
}

static bool add_initializer(parser *P, mof_graph *g, item *it)
{
    mof_value *v = mof_graph_find_value(g, it->name);
    if (v && (v->flags & MOF_VF_INITIALIZER))
        return FAIL(P, it->at, "two constants are named '%s'", it->name);
    if (!v && !(v = new_value(P, g, it->name, 0)))
        return false;
    mof_tensor *t = it->init;
    it->init = NULL;
    return mof_graph_list_initializer(g, v, t) == MOF_OK || nomem(P);
}

static bool parse_graph(parser *P, mof_graph *g);

/* ------------------------------------------------------------------ attributes */

static mof_attr_type attr_type_of_word(const token *t)
{
    for (int i = 1; i < N_ATTR_TYPE_NAMES; i++) {
        if (attr_type_names[i] && tok_is_word(t, attr_type_names[i]))
            return (mof_attr_type)i;
    }
    return MOF_ATTR_UNDEFINED;
}

/* A tensor attribute value: `float[2] {1, 2}`, `float[2] name {1, 2}`. */
static mof_tensor *parse_attr_tensor(parser *P, const char *attr)
{
    token at = P->tok;
    int32_t elem;
    Onnx__TensorShapeProto *shape = NULL;
    char *name = NULL;
    mof_tensor *t = NULL;
    if (!parse_tensor_part(P, &elem, &shape))
        goto out;
    if ((P->tok.kind == TK_ID || P->tok.kind == TK_STR) && !take_name(P, &name, "a name"))
        goto out;
    accept(P, '=');
    char what[96];
    snprintf(what, sizeof(what), "the tensor of attribute '%.40s'", attr);
    if (!(t = parse_constant_data(P, elem, shape, &at, what)))
        goto out;
    if (name) {
        if (!(t->proto = calloc(1, sizeof(*t->proto)))) {
            mof_tensor_unref(t);
            t = NULL;
            nomem(P);
            goto out;
        }
        t->proto->has_data_type = true;
        t->proto->name = name;
        name = NULL;
    }
out:
    free(name);
    if (shape)
        protobuf_c_message_free_unpacked(&shape->base, NULL);
    return t;
}

static bool parse_subgraph(parser *P, mof_node *n, mof_graph **slot)
{
    /* The slot owns the graph at once, so that a failure frees it with the model. */
    if (!(*slot = mof_graph_new(P->model, n)))
        return nomem(P);
    return parse_graph(P, *slot);
}

/* The type an attribute value has when the text does not say (`alpha = 0.5`). */
static mof_attr_type guess_attr_type(parser *P)
{
    const token *t = &P->tok;
    if (t->kind == TK_INT)
        return MOF_ATTR_INT;
    if (t->kind == TK_REAL || tok_is_word(t, "inf") || tok_is_word(t, "nan"))
        return MOF_ATTR_FLOAT;
    if (t->kind == TK_STR) {
        token n = peek(P);
        return n.kind == TK_PUNCT && n.c == '(' ? MOF_ATTR_GRAPH : MOF_ATTR_STRING;
    }
    if (t->kind == TK_ID)
        return elem_of_word(t->p, t->n) ? MOF_ATTR_TENSOR
               : is_type_word(t)         ? MOF_ATTR_TYPE_PROTO
                                         : MOF_ATTR_GRAPH;
    if (t->kind == TK_PUNCT && t->c == '[') {
        /* The list's first element tells; numbers are ints unless one is real. */
        const char *pos = P->pos;
        unsigned line = P->line, col = P->col;
        token e;
        lex(P, &e, false);
        mof_attr_type type = MOF_ATTR_UNDEFINED;
        if (e.kind == TK_STR)
            type = MOF_ATTR_STRINGS;
        else if (e.kind == TK_ID && elem_of_word(e.p, e.n))
            type = MOF_ATTR_TENSORS;
        else if (is_type_word(&e))
            type = MOF_ATTR_TYPE_PROTOS;
        else if (e.kind == TK_ID && !tok_is_word(&e, "inf") && !tok_is_word(&e, "nan"))
            type = MOF_ATTR_GRAPHS;
        else if (e.kind == TK_INT || e.kind == TK_REAL || e.kind == TK_ID) {
            type = MOF_ATTR_INTS;
            for (; e.kind != TK_EOF && !(e.kind == TK_PUNCT && e.c == ']'); lex(P, &e, false)) {
                if (e.kind == TK_REAL || e.kind == TK_ID)
                    type = MOF_ATTR_FLOATS;
            }
        }
        P->pos = pos;
        P->line = line;
        P->col = col;
        if (type == MOF_ATTR_UNDEFINED && e.kind == TK_PUNCT && e.c == ']')
            FAIL(P, *t, "an empty list needs its type: `name: ints = []`");
        else if (type == MOF_ATTR_UNDEFINED)
            expected(P, "an attribute value");
        return type;
    }
    expected(P, "an attribute value (a number, a string, a tensor, a graph or a list)");
    return MOF_ATTR_UNDEFINED;
}

/* Appends to a list attribute; the member of the given size in use grows by one. */
static void *grow_list(parser *P, void **array, size_t *cap, size_t n, size_t size)
{
    if (!mof_grow(array, cap, n + 1, size)) {
        nomem(P);
        return NULL;
    }
    return (char *)*array + n * size;
}

static bool parse_attr_element(parser *P, mof_node *n, mof_attr *a, size_t *cap)
{
    switch (a->type) {
    case MOF_ATTR_FLOATS: {
        float *f = grow_list(P, (void **)&a->floats, cap, a->n, sizeof(*f));
        double r;
        if (!f || !take_real(P, true, &r, "a float"))
            return false;
        *f = (float)r;
        a->n++;
        return true;
    }
    case MOF_ATTR_INTS: {
        int64_t *v = grow_list(P, (void **)&a->ints, cap, a->n, sizeof(*v));
        if (!v || !take_int(P, INT64_MIN, INT64_MAX, v, "an int"))
            return false;
        a->n++;
        return true;
    }
    case MOF_ATTR_STRINGS: {
        mof_string *s = grow_list(P, (void **)&a->strings, cap, a->n, sizeof(*s));
        if (!s)
            return false;
        memset(s, 0, sizeof(*s));
        if (!take_string(P, &s->data, &s->size, "a string"))
            return false;
        a->n++;
        return true;
    }
    case MOF_ATTR_TENSORS: {
        mof_tensor **t = grow_list(P, (void **)&a->tensors, cap, a->n, sizeof(*t));
        if (!t || !(*t = parse_attr_tensor(P, a->name)))
            return false;
        a->n++;
        return true;
    }
    case MOF_ATTR_GRAPHS: {
        mof_graph **g = grow_list(P, (void **)&a->graphs, cap, a->n, sizeof(*g));
        if (!g)
            return false;
        *g = NULL;
        a->n++;
        return parse_subgraph(P, n, g);
    }
    default:
        return false;
    }
}

/* A type-proto attribute: the IR keeps it packed in extra, as the binary reader does
 * (an AttributeProto holding only tp or type_protos). */
static bool parse_type_attr(parser *P, mof_attr *a)
{
    Onnx__AttributeProto ap;
    onnx__attribute_proto__init(&ap);
    bool ok = false;
    size_t cap = 0;
    if (a->type == MOF_ATTR_TYPE_PROTO) {
        if (!(ap.tp = parse_type(P)))
            goto out;
    } else {
        if (!expect(P, '[', "to start the list"))
            goto out;
        if (!is_p(P, ']')) {
            do {
                if (!MOF_GROW(ap.type_protos, cap, ap.n_type_protos + 1)) {
                    nomem(P);
                    goto out;
                }
                if (!(ap.type_protos[ap.n_type_protos] = parse_type(P)))
                    goto out;
                ap.n_type_protos++;
            } while (accept(P, ','));
        }
        if (!expect(P, ']', "or ',' in the list"))
            goto out;
    }
    size_t size = protobuf_c_message_get_packed_size(&ap.base);
    if (!(a->extra.data = malloc(size ? size : 1))) {
        nomem(P);
        goto out;
    }
    a->extra.size = protobuf_c_message_pack(&ap.base, a->extra.data);
    ok = true;
out:
    free_type_proto(ap.tp);
    for (size_t i = 0; i < ap.n_type_protos; i++)
        free_type_proto(ap.type_protos[i]);
    free(ap.type_protos);
    return ok;
}

static bool parse_attr_value(parser *P, mof_node *n, mof_attr *a)
{
    double r;
    switch (a->type) {
    case MOF_ATTR_TYPE_PROTO:
    case MOF_ATTR_TYPE_PROTOS:
        return parse_type_attr(P, a);
    case MOF_ATTR_FLOAT:
        if (!take_real(P, true, &r, "a float"))
            return false;
        a->f = (float)r;
        break;
    case MOF_ATTR_INT:
        if (!take_int(P, INT64_MIN, INT64_MAX, &a->i, "an int"))
            return false;
        break;
    case MOF_ATTR_STRING:
        if (!take_string(P, &a->s, &a->s_size, "a string"))
            return false;
        break;
    case MOF_ATTR_TENSOR:
        if (!(a->t = parse_attr_tensor(P, a->name)))
            return false;
        break;
    case MOF_ATTR_GRAPH:
        if (!parse_subgraph(P, n, &a->g))
            return false;
        break;
    case MOF_ATTR_FLOATS:
    case MOF_ATTR_INTS:
    case MOF_ATTR_STRINGS:
    case MOF_ATTR_TENSORS:
    case MOF_ATTR_GRAPHS: {
        if (!expect(P, '[', "to start the list"))
            return false;
        size_t cap = 0;
        if (!is_p(P, ']')) {
            do {
                if (!parse_attr_element(P, n, a, &cap))
                    return false;
            } while (accept(P, ','));
        }
        return expect(P, ']', "or ',' in the list");
    }
    default:
        return FAIL(P, P->tok, "attributes of type %s have no text form",
                    attr_type_names[a->type]);
    }
    a->has_value = true;
    return true;
}

/* name (':' type)? '=' value */
static bool parse_attr(parser *P, mof_node *n)
{
    token at = P->tok;
    char *name;
    if (!take_name(P, &name, "an attribute name"))
        return false;
    for (size_t i = 0; i < n->n_attrs; i++) {
        if (n->attrs[i].name && strcmp(n->attrs[i].name, name) == 0) {
            free(name);
            return FAIL(P, at, "attribute '%s' is given twice", n->attrs[i].name);
        }
    }
    mof_attr *a = mof_node_append_attr(n);
    if (!a) {
        free(name);
        return nomem(P);
    }
    a->name = name;
    if (accept(P, ':')) {
        if ((a->type = attr_type_of_word(&P->tok)) == MOF_ATTR_UNDEFINED)
            return expected(P, "an attribute type (int, float, string, tensor, graph, "
                               "type_proto, ints, floats, strings, tensors, graphs, "
                               "type_protos)");
        next(P);
    }
    if (!expect(P, '=', "after the attribute name"))
        return false;
    a->has_type = true;
    if (accept(P, '@')) {
        if (P->tok.kind != TK_ID)
            return expected(P, "the name of the referenced attribute");
        if (!(a->ref_attr_name = mof_strndup(P->tok.p, P->tok.n)))
            return nomem(P);
        next(P);
        a->has_type = a->type != MOF_ATTR_UNDEFINED;
        return true;
    }
    if (a->type == MOF_ATTR_UNDEFINED && (a->type = guess_attr_type(P)) == MOF_ATTR_UNDEFINED)
        return false;
    return parse_attr_value(P, n, a);
}

static bool parse_attrs(parser *P, mof_node *n)
{
    next(P); /* '<' */
    if (accept(P, '>'))
        return true;
    do {
        if (!parse_attr(P, n))
            return false;
    } while (accept(P, ','));
    return expect(P, '>', "or ',' in the attribute list");
}

/* ------------------------------------------------------------------ nodes */

static bool define_output(parser *P, mof_graph *g, mof_node *n, const token *at, char *name)
{
    mof_value *v = NULL;
    if (*name) {
        if ((v = mof_graph_find_value(g, name))) {
            const char *why = v->producer                      ? "an earlier node's output"
                              : v->n_input_refs                 ? "a graph input"
                              : v->flags & MOF_VF_INITIALIZER   ? "a constant"
                                                                : "read from an enclosing graph";
            return FAIL(P, *at, "value '%s' is defined twice (it is also %s)", name, why);
        }
        if (!(v = new_value(P, g, name, 0)))
            return false;
    }
    return mof_node_append_output(n, v) == MOF_OK || nomem(P);
}

/* An input name: the value if it is defined by now (here or in an enclosing graph),
 * else a fixup resolved once the whole model is read. */
static bool add_input(parser *P, mof_graph *g, mof_node *n, char *name)
{
    size_t index = n->n_inputs;
    mof_value *v = *name ? mof_graph_resolve(g, name) : NULL;
    if (mof_node_set_input(n, index, v))
        return nomem(P);
    if (v || !*name)
        return true;
    if (!MOF_GROW(P->fix, P->cap_fix, P->n_fix + 1))
        return nomem(P);
    if (!(P->fix[P->n_fix].name = mof_strdup(name)))
        return nomem(P);
    P->fix[P->n_fix].g = g;
    P->fix[P->n_fix].node = n;
    P->fix[P->n_fix].index = index;
    P->n_fix++;
    return true;
}

/* A node's inputs or outputs. */
typedef struct name_list {
    char **v;       /* "" for an omitted one */
    token *at;
    size_t n, cap, cap_at;
} name_list;

static void name_list_free(name_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    free(l->at);
    memset(l, 0, sizeof(*l));
}

/* name (',' name)*, where, as in ONNX, a name may be left out for an omitted input or
 * output ("y, , z" is "y", "", "z"), except that a name left out after the last comma
 * counts for nothing ("(x, )" is one input). */
static bool parse_names(parser *P, name_list *l, const char *what)
{
    bool left_out = false;
    do {
        if (!MOF_GROW(l->v, l->cap, l->n + 1) || !MOF_GROW(l->at, l->cap_at, l->n + 1))
            return nomem(P);
        l->at[l->n] = P->tok;
        left_out = P->tok.kind != TK_ID && P->tok.kind != TK_STR;
        if (left_out) {
            if (!(l->v[l->n] = mof_strdup("")))
                return nomem(P);
        } else if (!take_name(P, &l->v[l->n], what)) {
            return false;
        }
        l->n++;
    } while (accept(P, ','));
    if (left_out)
        free(l->v[--l->n]);
    return true;
}

/* ('[' name ']')? (name, ...)? '=' op attrs? '(' name, ... ')' attrs? */
static bool parse_node(parser *P, mof_graph *g, size_t index)
{
    char *label = NULL, *op = NULL, *domain = NULL;
    name_list outs = {0}, ins = {0};
    bool ok = false;
    if (accept(P, '[')) {
        if (!take_name(P, &label, "a node name") || !expect(P, ']', "after the node name"))
            goto out;
    }
    if (P->tok.kind == TK_ID || P->tok.kind == TK_STR || is_p(P, ','))
        if (!parse_names(P, &outs, "an output name"))
            goto out;
    if (!expect(P, '=', outs.n ? "or ',' after the node's outputs" : "to start a node"))
        goto out;

    /* domain.op: the last part is the op. */
    mof_strbuf qual;
    mof_strbuf_init(&qual);
    if (P->tok.kind != TK_ID) {
        expected(P, "an op type (Relu, com.microsoft.Gelu, ...)");
        goto out;
    }
    size_t last = 0;
    for (;;) {
        last = qual.len;
        mof_strbuf_append(&qual, P->tok.p, P->tok.n);
        next(P);
        if (!is_p(P, '.'))
            break;
        next(P);
        if (P->tok.kind != TK_ID) {
            mof_strbuf_free(&qual);
            expected(P, "the rest of the op type after '.'");
            goto out;
        }
        mof_strbuf_append(&qual, ".", 1);
    }
    if (qual.failed) {
        mof_strbuf_free(&qual);
        nomem(P);
        goto out;
    }
    op = mof_strdup(qual.data + last);
    domain = last ? mof_strndup(qual.data, last - 1) : NULL;
    mof_strbuf_free(&qual);
    if (!op || (last && !domain)) {
        nomem(P);
        goto out;
    }

    mof_node *n = mof_node_new(g, op, domain, label);
    if (!n) {
        nomem(P);
        goto out;
    }
    /* Provenance as the binary reader gives it: the name, else "op#index". */
    char *origin = label && *label ? NULL : mof_asprintf("%s#%zu", op, index);
    if ((!(label && *label) && !origin) || mof_node_add_origin(n, origin ? origin : label)) {
        free(origin);
        nomem(P);
        goto out;
    }
    free(origin);
    for (size_t i = 0; i < outs.n; i++) {
        if (!define_output(P, g, n, &outs.at[i], outs.v[i]))
            goto out;
    }
    bool attrs = is_p(P, '<');
    if (attrs && !parse_attrs(P, n))
        goto out;
    char buf[160];
    snprintf(buf, sizeof(buf), "%sto start the inputs of node '%.40s'",
             attrs ? "" : "or '<' ", label && *label ? label : op);
    if (!expect(P, '(', buf))
        goto out;
    if (!is_p(P, ')') && !parse_names(P, &ins, "an input name"))
        goto out;
    if (!expect(P, ')', "or ',' in the node's inputs"))
        goto out;
    for (size_t i = 0; i < ins.n; i++) {
        if (!add_input(P, g, n, ins.v[i]))
            goto out;
    }
    if (!attrs && is_p(P, '<') && !parse_attrs(P, n))
        goto out;
    ok = true;
out:
    name_list_free(&outs);
    name_list_free(&ins);
    free(label);
    free(op);
    free(domain);
    return ok;
}

/* name '(' inputs ')' '=>' '(' outputs ')' ('<' constants and value infos '>')?
 * '{' nodes '}' */
static bool parse_graph(parser *P, mof_graph *g)
{
    if (++P->depth > MOF_TEXT_MAX_DEPTH) {
        P->depth--;
        return FAIL(P, P->tok, "graphs nested more than %d deep", MOF_TEXT_MAX_DEPTH);
    }
    items ins = {0}, outs = {0}, infos = {0};
    mof_map listed;
    mof_map_init(&listed);
    bool ok = false;
    if (!take_name(P, &g->name, "a graph (name (inputs) => (outputs) { nodes })") ||
        !parse_item_list(P, &ins, true, "graph inputs"))
        goto out;
    for (size_t i = 0; i < ins.n; i++) {
        item *it = &ins.v[i];
        mof_value *v = mof_graph_find_value(g, it->name);
        if (!v && !(v = new_value(P, g, it->name, 0)))
            goto out;
        if (!list_item(P, g, &listed, v, it, LIST_INPUT))
            goto out;
    }
    for (size_t i = 0; i < ins.n; i++) {
        if (ins.v[i].init && !add_initializer(P, g, &ins.v[i]))
            goto out;
    }
    if (P->tok.kind != TK_ARROW) {
        expected(P, "'=>' after the graph inputs");
        goto out;
    }
    next(P);
    if (!parse_item_list(P, &outs, false, "graph outputs"))
        goto out;
    if (accept(P, '<') && !accept(P, '>')) {
        do {
            if (!MOF_GROW(infos.v, infos.cap, infos.n + 1)) {
                nomem(P);
                goto out;
            }
            item *it = &infos.v[infos.n];
            if (!parse_item(P, it, true, true)) {
                item_clear(it);
                goto out;
            }
            infos.n++;
            if (it->init && !add_initializer(P, g, it))
                goto out;
        } while (accept(P, ','));
        if (!expect(P, '>', "or ',' in the list of constants and value types"))
            goto out;
    }
    if (!expect(P, '{', "to start the graph's nodes"))
        goto out;
    for (size_t index = 0; !is_p(P, '}'); index++) {
        if (P->tok.kind == TK_EOF) {
            expected(P, "a node or '}'");
            goto out;
        }
        if (!parse_node(P, g, index))
            goto out;
    }
    next(P);

    /* The outputs and value types name values that are all defined by now. */
    for (size_t i = 0; i < outs.n; i++) {
        item *it = &outs.v[i];
        mof_value *v = mof_graph_resolve(g, it->name);
        if (!v && !(v = new_value(P, g, it->name, MOF_VF_UNDEFINED)))
            goto out;
        if (!list_item(P, g, &listed, v, it, LIST_OUTPUT))
            goto out;
    }
    for (size_t i = 0; i < infos.n; i++) {
        item *it = &infos.v[i];
        if (it->constant)
            continue;
        mof_value *v = mof_graph_find_value(g, it->name);
        if (!v && !(v = new_value(P, g, it->name, MOF_VF_UNDEFINED)))
            goto out;
        if (!list_item(P, g, &listed, v, it, LIST_VALUE_INFO))
            goto out;
    }
    ok = true;
out:
    P->depth--;
    mof_map_free(&listed);
    items_free(&ins);
    items_free(&outs);
    items_free(&infos);
    return ok;
}

/* ------------------------------------------------------------------ models */

static bool parse_opsets(parser *P, mof_model *m)
{
    if (!expect(P, '[', "to start the opset imports"))
        return false;
    if (accept(P, ']'))
        return true;
    do {
        token at = P->tok;
        char *domain;
        int64_t version;
        if (!take_string(P, &domain, NULL, "an opset domain (\"\" for ONNX)"))
            return false;
        for (size_t i = 0; i < m->n_opsets; i++) {
            if (mof_str_eq(m->opsets[i].domain, domain)) {
                FAIL(P, at, "opset domain \"%s\" is imported twice", domain);
                free(domain);
                return false;
            }
        }
        if (!MOF_GROW(m->opsets, m->cap_opsets, m->n_opsets + 1)) {
            free(domain);
            return nomem(P);
        }
        mof_opset *o = &m->opsets[m->n_opsets++];
        memset(o, 0, sizeof(*o));
        o->domain = domain;
        if (!expect(P, ':', "after the opset domain") ||
            !take_int(P, 0, INT64_MAX, &version, "an opset version"))
            return false;
        o->has_version = true;
        o->version = version;
    } while (accept(P, ','));
    return expect(P, ']', "or ',' in the opset imports");
}

static bool parse_metadata(parser *P, mof_model *m)
{
    if (!expect(P, '[', "to start the metadata"))
        return false;
    if (accept(P, ']'))
        return true;
    do {
        if (!MOF_GROW(m->metadata, m->cap_metadata, m->n_metadata + 1))
            return nomem(P);
        mof_kv *kv = &m->metadata[m->n_metadata++];
        memset(kv, 0, sizeof(*kv));
        if (!take_string(P, &kv->key, NULL, "a metadata key (a string)") ||
            !expect(P, ':', "after the metadata key") ||
            !take_string(P, &kv->value, NULL, "a metadata value (a string)"))
            return false;
    } while (accept(P, ','));
    return expect(P, ']', "or ',' in the metadata");
}

static const char *const header_fields[] = {
    "ir_version", "opset_import", "producer_name", "producer_version",
    "domain",     "model_version", "doc_string",   "metadata_props",
};

static bool parse_header(parser *P, mof_model *m)
{
    bool seen[sizeof(header_fields) / sizeof(header_fields[0])] = {false};
    next(P); /* '<' */
    if (accept(P, '>'))
        return true;
    do {
        token at = P->tok;
        size_t f = 0;
        while (f < sizeof(header_fields) / sizeof(header_fields[0]) &&
               !tok_is_word(&at, header_fields[f]))
            f++;
        if (f == sizeof(header_fields) / sizeof(header_fields[0])) {
            if (at.kind != TK_ID)
                return expected(P, "a model field (ir_version, opset_import, ...)");
            return FAIL(P, at,
                        "unknown model field '%.*s' (expected ir_version, opset_import, "
                        "producer_name, producer_version, domain, model_version, doc_string "
                        "or metadata_props)",
                        (int)at.n, at.p);
        }
        if (seen[f])
            return FAIL(P, at, "model field '%s' is given twice", header_fields[f]);
        seen[f] = true;
        next(P);
        if (!expect(P, ':', "after the field name"))
            return false;
        bool ok;
        switch (f) {
        case 0:
            ok = take_int(P, INT64_MIN, INT64_MAX, &m->ir_version, "an IR version");
            m->has_ir_version = ok;
            break;
        case 1: ok = parse_opsets(P, m); break;
        case 2: ok = take_string(P, &m->producer_name, NULL, "a string"); break;
        case 3: ok = take_string(P, &m->producer_version, NULL, "a string"); break;
        case 4: ok = take_string(P, &m->domain, NULL, "a string"); break;
        case 5:
            ok = take_int(P, INT64_MIN, INT64_MAX, &m->model_version, "a model version");
            m->has_model_version = ok;
            break;
        case 6: ok = take_string(P, &m->doc_string, NULL, "a string"); break;
        default: ok = parse_metadata(P, m); break;
        }
        if (!ok)
            return false;
    } while (accept(P, ','));
    return expect(P, '>', "or ',' in the model header");
}

/* Resolves the inputs that named values not yet defined when they were read. */
static bool resolve_fixups(parser *P)
{
    for (size_t i = 0; i < P->n_fix; i++) {
        fixup *f = &P->fix[i];
        mof_value *v = mof_graph_resolve(f->g, f->name);
        if (!v && !(v = new_value(P, f->g, f->name, MOF_VF_UNDEFINED)))
            return false;
        if (mof_node_set_input(f->node, f->index, v))
            return nomem(P);
    }
    return true;
}

mof_model *mof_model_parse_text(mof_context *ctx, const char *text, size_t len,
                                const char *name)
{
    if (!text && len) {
        mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL, "no text given");
        return NULL;
    }
    parser P = {
        .ctx = ctx,
        .file = name ? name : "<text>",
        .pos = text ? text : "",
        .end = (text ? text : "") + len,
        .line = 1,
        .col = 1,
    };
    mof_model *m = P.model = mof_model_new(ctx);
    if (!m || !(m->graph = mof_graph_new(m, NULL))) {
        mof_model_destroy(m);
        mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    m->has_graph = true;
    next(&P);
    if (is_p(&P, '<')) {
        parse_header(&P, m);
    } else {
        /* No header: the defaults of a new model (mof_model_create). */
        m->has_ir_version = true;
        m->ir_version = 8;
        if (mof_model_set_opset(m, "", 13) < 0)
            nomem(&P);
    }
    if (!P.status && parse_graph(&P, m->graph) && resolve_fixups(&P) && P.tok.kind != TK_EOF)
        expected(&P, is_p(&P, '<') || P.tok.kind == TK_ID
                         ? "the end of the text after the main graph (mof does not read "
                           "model-local functions)"
                         : "the end of the text after the main graph");
    for (size_t i = 0; i < P.n_fix; i++)
        free(P.fix[i].name);
    free(P.fix);
    if (P.status) {
        mof_model_destroy(m);
        return NULL;
    }
    return m;
}
