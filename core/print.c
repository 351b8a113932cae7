/* print.c: the text dump of print.h. Attributes are read from the IR's own structures
 * (ir_private.h) so that every attribute type prints, lists and subgraphs included. */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "ir_private.h"
#include "print.h"

/* Tensors up to this many elements print their values. */
#define PRINT_MAX_ELEMENTS 16

static void put_indent(FILE *out, int n)
{
    fprintf(out, "%*s", n, "");
}

/* %.9g round-trips a float; ".0" keeps integral values recognisable as floats. */
static void put_float(FILE *out, double v)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%.9g", v);
    fputs(buf, out);
    if (isfinite(v) && !strpbrk(buf, ".e"))
        fputs(".0", out);
}

static void put_string(FILE *out, const char *s, size_t n)
{
    fputc('"', out);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", out);
        else if (c == '\t')
            fputs("\\t", out);
        else if (c < 0x20 || c == 0x7f)
            fprintf(out, "\\x%02x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

void mof_print_value_type(FILE *out, const mof_value *v)
{
    if (!mof_value_has_type(v)) {
        fputc('?', out);
        return;
    }
    fputs(mof_dtype_name(mof_value_dtype(v)), out);
    int rank = mof_value_rank(v);
    if (rank < 0)
        return;
    fputc('[', out);
    for (int i = 0; i < rank; i++) {
        if (i)
            fputc(',', out);
        int64_t d = mof_value_dim(v, (size_t)i);
        const char *sym = mof_value_dim_symbol(v, (size_t)i);
        if (d != MOF_DIM_UNKNOWN)
            fprintf(out, "%" PRId64, d);
        else if (sym)
            fputs(sym, out);
        else
            fputc('?', out);
    }
    fputc(']', out);
}

static void put_tensor_type(FILE *out, const mof_tensor *t)
{
    fputs(mof_dtype_name(mof_tensor_dtype(t)), out);
    fputc('[', out);
    const int64_t *dims = mof_tensor_dims(t);
    for (size_t i = 0; i < mof_tensor_rank(t); i++)
        fprintf(out, "%s%" PRId64, i ? "," : "", dims[i]);
    fputc(']', out);
}

/* One element of a small tensor, or false for types this dump does not spell out. */
static bool put_element(FILE *out, const mof_tensor *t, int64_t i)
{
    const void *data = mof_tensor_data(t);
    switch (mof_tensor_dtype(t)) {
    case MOF_DTYPE_FLOAT:
        put_float(out, ((const float *)data)[i]);
        return true;
    case MOF_DTYPE_DOUBLE:
        put_float(out, ((const double *)data)[i]);
        return true;
    case MOF_DTYPE_INT8:
        fprintf(out, "%d", ((const int8_t *)data)[i]);
        return true;
    case MOF_DTYPE_UINT8:
        fprintf(out, "%u", ((const uint8_t *)data)[i]);
        return true;
    case MOF_DTYPE_INT16:
        fprintf(out, "%d", ((const int16_t *)data)[i]);
        return true;
    case MOF_DTYPE_UINT16:
        fprintf(out, "%u", ((const uint16_t *)data)[i]);
        return true;
    case MOF_DTYPE_INT32:
        fprintf(out, "%" PRId32, ((const int32_t *)data)[i]);
        return true;
    case MOF_DTYPE_UINT32:
        fprintf(out, "%" PRIu32, ((const uint32_t *)data)[i]);
        return true;
    case MOF_DTYPE_INT64:
        fprintf(out, "%" PRId64, ((const int64_t *)data)[i]);
        return true;
    case MOF_DTYPE_UINT64:
        fprintf(out, "%" PRIu64, ((const uint64_t *)data)[i]);
        return true;
    case MOF_DTYPE_BOOL:
        fputs(((const uint8_t *)data)[i] ? "1" : "0", out);
        return true;
    case MOF_DTYPE_STRING: {
        const mof_string *s = &((const mof_string *)data)[i];
        put_string(out, s->data ? s->data : "", s->size);
        return true;
    }
    default:
        return false;
    }
}

static void put_tensor(FILE *out, const mof_tensor *t)
{
    put_tensor_type(out, t);
    int64_t n = mof_tensor_numel(t);
    if (n < 0 || n > PRINT_MAX_ELEMENTS || !mof_tensor_data(t) || n == 0)
        return;
    fputs(" {", out);
    for (int64_t i = 0; i < n; i++) {
        if (i)
            fputs(", ", out);
        if (!put_element(out, t, i)) {
            fputs("...", out);
            break;
        }
    }
    fputc('}', out);
}

static void print_graph_at(FILE *out, const mof_graph *g, int indent);

static void put_attr(FILE *out, const mof_attr *a, int indent)
{
    fprintf(out, "%s = ", a->name ? a->name : "");
    if (a->ref_attr_name) {
        fprintf(out, "@%s", a->ref_attr_name);
        return;
    }
    switch (a->type) {
    case MOF_ATTR_FLOAT:
        put_float(out, a->f);
        break;
    case MOF_ATTR_INT:
        fprintf(out, "%" PRId64, a->i);
        break;
    case MOF_ATTR_STRING:
        put_string(out, a->s ? a->s : "", a->s ? a->s_size : 0);
        break;
    case MOF_ATTR_TENSOR:
        if (a->t)
            put_tensor(out, a->t);
        else
            fputs("tensor ?", out);
        break;
    case MOF_ATTR_GRAPH:
        if (a->g)
            print_graph_at(out, a->g, indent);
        else
            fputs("graph ?", out);
        break;
    case MOF_ATTR_FLOATS:
    case MOF_ATTR_INTS:
    case MOF_ATTR_STRINGS:
    case MOF_ATTR_TENSORS:
    case MOF_ATTR_GRAPHS:
        fputc('[', out);
        for (size_t i = 0; i < a->n; i++) {
            if (i)
                fputs(", ", out);
            if (a->type == MOF_ATTR_FLOATS)
                put_float(out, a->floats[i]);
            else if (a->type == MOF_ATTR_INTS)
                fprintf(out, "%" PRId64, a->ints[i]);
            else if (a->type == MOF_ATTR_STRINGS)
                put_string(out, a->strings[i].data ? a->strings[i].data : "",
                           a->strings[i].size);
            else if (a->type == MOF_ATTR_TENSORS)
                put_tensor(out, a->tensors[i]);
            else
                print_graph_at(out, a->graphs[i], indent);
        }
        fputc(']', out);
        break;
    case MOF_ATTR_SPARSE_TENSOR:
    case MOF_ATTR_SPARSE_TENSORS:
        fputs("<sparse tensor>", out);
        break;
    case MOF_ATTR_TYPE_PROTO:
    case MOF_ATTR_TYPE_PROTOS:
        fputs("<type>", out);
        break;
    default:
        fputc('?', out);
        break;
    }
}

static void put_value_list(FILE *out, size_t n, mof_value *(*get)(const mof_graph *, size_t),
                           const mof_graph *g)
{
    fputc('(', out);
    for (size_t i = 0; i < n; i++) {
        mof_value *v = get(g, i);
        if (i)
            fputs(", ", out);
        if (mof_value_has_type(v)) {
            mof_print_value_type(out, v);
            fputc(' ', out);
        }
        fputs(mof_value_name(v), out);
    }
    fputc(')', out);
}

static void print_node(FILE *out, const mof_node *n, int indent)
{
    put_indent(out, indent);
    for (size_t i = 0; i < mof_node_n_outputs(n); i++) {
        mof_value *v = mof_node_output(n, i);
        fprintf(out, "%s%s", i ? ", " : "", v ? mof_value_name(v) : "");
    }
    if (mof_node_n_outputs(n))
        fputs(" = ", out);
    const char *domain = mof_node_domain(n);
    if (domain[0])
        fprintf(out, "%s.", domain);
    fputs(mof_node_op_type(n) ? mof_node_op_type(n) : "?", out);
    if (n->n_attrs) {
        fputs(" <", out);
        for (size_t i = 0; i < n->n_attrs; i++) {
            if (i)
                fputs(", ", out);
            put_attr(out, &n->attrs[i], indent);
        }
        fputc('>', out);
    }
    fputs(" (", out);
    for (size_t i = 0; i < mof_node_n_inputs(n); i++) {
        mof_value *v = mof_node_input(n, i);
        fprintf(out, "%s%s", i ? ", " : "", v ? mof_value_name(v) : "");
    }
    fputc(')', out);
    const char *name = mof_node_name(n);
    if (name[0])
        fprintf(out, "  # %s", name);
    fputc('\n', out);
}

static void print_graph_at(FILE *out, const mof_graph *g, int indent)
{
    const char *name = mof_graph_name(g);
    fprintf(out, "graph %s ", name && name[0] ? name : "_");
    put_value_list(out, mof_graph_n_inputs(g), mof_graph_input, g);
    fputs(" => ", out);
    put_value_list(out, mof_graph_n_outputs(g), mof_graph_output, g);
    fputs(" {\n", out);
    for (size_t i = 0; i < mof_graph_n_initializers(g); i++) {
        mof_value *v = mof_graph_initializer(g, i);
        mof_tensor *t = mof_value_tensor(v);
        put_indent(out, indent + 2);
        fprintf(out, "initializer %s: ", mof_value_name(v));
        if (t)
            put_tensor_type(out, t);
        else
            mof_print_value_type(out, v);
        fputc('\n', out);
    }
    for (const mof_node *n = mof_graph_first_node(g); n; n = mof_node_next(n))
        print_node(out, n, indent + 2);
    put_indent(out, indent);
    fputc('}', out);
}

void mof_print_graph(FILE *out, const mof_graph *g, int indent)
{
    print_graph_at(out, g, indent);
    fputc('\n', out);
}

void mof_print_model(FILE *out, const mof_model *m)
{
    fprintf(out, "<ir_version: %" PRId64 ", opset_import: [", mof_model_ir_version(m));
    for (size_t i = 0; i < mof_model_n_opsets(m); i++) {
        const char *d = mof_model_opset_domain(m, i);
        fprintf(out, "%s", i ? ", " : "");
        put_string(out, d ? d : "", d ? strlen(d) : 0);
        fprintf(out, " : %" PRId64, mof_model_opset_version(m, i));
    }
    fputc(']', out);
    const char *producer = mof_model_producer_name(m);
    if (producer && producer[0]) {
        fputs(", producer_name: ", out);
        put_string(out, producer, strlen(producer));
    }
    fputs(">\n", out);
    mof_print_graph(out, mof_model_graph(m), 0);
}
