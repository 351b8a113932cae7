/* test_cleanup: the cleanup plugin's passes (eliminate-identity, dead-code) on small
 * graphs.
 *
 * The plugin is compiled into this program (MOF_PLUGIN_STATIC=cleanup) and registered
 * with mof_context_add_static_plugin. The SDK builds nodes and initializers but cannot
 * declare graph inputs, outputs or subgraphs, so each test graph is written as a tiny
 * ONNX protobuf by the encoder below and read with mof_model_load_buffer; the passes
 * then run through a one-line pipeline, exactly as `mof run --passes` runs them. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mof/mof.h>

#include "testutil.h"
#include "passtest.h"

const mof_plugin_desc *mof_plugin_entry_cleanup(void);

/* ------------------------------------------------------------------ protobuf encoder */

/* A protobuf message being written. */
struct pb {
    uint8_t *data;
    size_t len, cap;
};

static void pb_put(struct pb *b, const void *data, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n)
            cap *= 2;
        b->data = realloc(b->data, cap);
        ck_assert_ptr_nonnull(b->data);
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
}

static void pb_varint(struct pb *b, uint64_t v)
{
    uint8_t byte;
    do {
        byte = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            byte |= 0x80;
        pb_put(b, &byte, 1);
    } while (v);
}

static void pb_int(struct pb *b, unsigned field, int64_t v)
{
    pb_varint(b, (uint64_t)field << 3);
    pb_varint(b, (uint64_t)v);
}

static void pb_bytes(struct pb *b, unsigned field, const void *data, size_t n)
{
    pb_varint(b, (uint64_t)field << 3 | 2);
    pb_varint(b, n);
    pb_put(b, data, n);
}

static void pb_str(struct pb *b, unsigned field, const char *s)
{
    pb_bytes(b, field, s, strlen(s));
}

/* Appends sub as a length-delimited field and frees it. */
static void pb_msg(struct pb *b, unsigned field, struct pb *sub)
{
    pb_bytes(b, field, sub->data, sub->len);
    free(sub->data);
    memset(sub, 0, sizeof *sub);
}

/* ------------------------------------------------------------------ ONNX messages */

enum { T_FLOAT = 1, T_BOOL = 9 };

/* ValueInfoProto for a tensor of shape dims ("2,3"; "" for a scalar). */
static struct pb value_info(const char *name, int elem_type, const char *dims)
{
    struct pb shape = { 0 }, tensor = { 0 }, type = { 0 }, vi = { 0 };
    for (const char *s = dims; *s;) {
        struct pb dim = { 0 };
        pb_int(&dim, 1, strtoll(s, NULL, 10));
        pb_msg(&shape, 1, &dim);
        s += strcspn(s, ",");
        s += *s == ',';
    }
    pb_int(&tensor, 1, elem_type);
    pb_msg(&tensor, 2, &shape);
    pb_msg(&type, 1, &tensor);
    pb_str(&vi, 1, name);
    pb_msg(&vi, 2, &type);
    return vi;
}

/* Adds each name of a comma-separated list as a repeated string field; an empty
 * entry ("A,,C") is ONNX's omitted optional input or output. */
static void pb_names(struct pb *b, unsigned field, const char *list)
{
    if (!*list)
        return;
    for (const char *s = list;;) {
        size_t n = strcspn(s, ",");
        pb_bytes(b, field, s, n);
        if (!s[n])
            break;
        s += n + 1;
    }
}

/* NodeProto; attributes are added with the attr_* functions. */
static struct pb node(const char *op_type, const char *name, const char *inputs,
                      const char *outputs)
{
    struct pb n = { 0 };
    pb_names(&n, 1, inputs);
    pb_names(&n, 2, outputs);
    pb_str(&n, 3, name);
    pb_str(&n, 4, op_type);
    return n;
}

static void node_domain(struct pb *n, const char *domain)
{
    pb_str(n, 7, domain);
}

static void attr_int(struct pb *n, const char *name, int64_t v)
{
    struct pb a = { 0 };
    pb_str(&a, 1, name);
    pb_int(&a, 3, v);
    pb_int(&a, 20, 2);
    pb_msg(n, 5, &a);
}

/* Adds a GRAPH attribute, taking the graph message. */
static void attr_graph(struct pb *n, const char *name, struct pb *graph)
{
    struct pb a = { 0 };
    pb_str(&a, 1, name);
    pb_msg(&a, 6, graph);
    pb_int(&a, 20, 5);
    pb_msg(n, 5, &a);
}

/* TensorProto with raw data. */
static struct pb tensor(const char *name, int elem_type, const char *dims, const void *raw,
                        size_t raw_size)
{
    struct pb t = { 0 };
    for (const char *s = dims; *s;) {
        pb_int(&t, 1, strtoll(s, NULL, 10));
        s += strcspn(s, ",");
        s += *s == ',';
    }
    pb_int(&t, 2, elem_type);
    pb_str(&t, 8, name);
    pb_bytes(&t, 9, raw, raw_size);
    return t;
}

/* A GraphProto under construction. */
struct graph {
    struct pb pb;
};

static void graph_init(struct graph *g, const char *name)
{
    memset(g, 0, sizeof *g);
    pb_str(&g->pb, 2, name);
}

static void graph_node(struct graph *g, struct pb *n)
{
    pb_msg(&g->pb, 1, n);
}

static void graph_add(struct graph *g, const char *op_type, const char *name,
                      const char *inputs, const char *outputs)
{
    struct pb n = node(op_type, name, inputs, outputs);
    graph_node(g, &n);
}

static void graph_input(struct graph *g, const char *name, int elem_type, const char *dims)
{
    struct pb vi = value_info(name, elem_type, dims);
    pb_msg(&g->pb, 11, &vi);
}

static void graph_output(struct graph *g, const char *name, int elem_type, const char *dims)
{
    struct pb vi = value_info(name, elem_type, dims);
    pb_msg(&g->pb, 12, &vi);
}

/* A float initializer of n elements, all `fill`. */
static void graph_init_float(struct graph *g, const char *name, const char *dims, size_t n,
                             float fill)
{
    float *data = calloc(n ? n : 1, sizeof *data);
    ck_assert_ptr_nonnull(data);
    for (size_t i = 0; i < n; i++)
        data[i] = fill;
    struct pb t = tensor(name, T_FLOAT, dims, data, n * sizeof *data);
    pb_msg(&g->pb, 5, &t);
    free(data);
}

static void graph_init_bool(struct graph *g, const char *name, bool v)
{
    uint8_t b = v;
    struct pb t = tensor(name, T_BOOL, "", &b, 1);
    pb_msg(&g->pb, 5, &t);
}

/* ModelProto (IR version 8, one default-domain opset) around the graph, freed here. */
static struct pb model_bytes(struct graph *g, int64_t opset)
{
    struct pb m = { 0 }, op = { 0 };
    pb_int(&m, 1, 8);
    pb_str(&m, 2, "test_cleanup");
    pb_msg(&m, 7, &g->pb);
    pb_str(&op, 1, "");
    pb_int(&op, 2, opset);
    pb_msg(&m, 8, &op);
    return m;
}

/* ------------------------------------------------------------------ running passes */

static void fixture_load(struct fixture *f, struct graph *g, int64_t opset)
{
    memset(f, 0, sizeof *f);
    f->ctx = mof_context_create();
    ck_assert_ptr_nonnull(f->ctx);
    ck_assert_status(f->ctx, mof_context_add_static_plugin(f->ctx, mof_plugin_entry_cleanup),
                     MOF_OK);
    struct pb bytes = model_bytes(g, opset);
    f->model = mof_model_load_buffer(f->ctx, bytes.data, bytes.len, "test.onnx", NULL);
    free(bytes.data);
    if (!f->model)
        mof_test_print_diags(f->ctx);
    ck_assert_ptr_nonnull(f->model);
    ck_assert_status(f->ctx, mof_graph_verify(f->ctx, mof_model_graph(f->model)), MOF_OK);
}

/* Runs a one-line pass list over the model; returns the status of its last step. */
static mof_status run(struct fixture *f, const char *passes)
{
    mof_pipeline *p = mof_pipeline_parse_list(f->ctx, passes);
    if (!p)
        mof_test_print_diags(f->ctx);
    ck_assert_ptr_nonnull(p);
    mof_run_options opts;
    mof_run_options_init(&opts);
    opts.verify_each = true;
    opts.record_metadata = false;
    opts.output = NULL;   /* rewrite the model in memory only */
    mof_run_report_destroy(f->report);
    f->report = NULL;
    mof_status st = mof_pipeline_run(p, f->model, &opts, &f->report);
    mof_pipeline_destroy(p);
    if (st < 0)
        mof_test_print_diags(f->ctx);
    ck_assert_int_ge(st, 0);
    ck_assert_ptr_nonnull(f->report);
    ck_assert_status(f->ctx, mof_graph_verify(f->ctx, mof_model_graph(f->model)), MOF_OK);
    size_t n = mof_run_report_n_steps(f->report);
    ck_assert_uint_ge(n, 1);
    for (size_t i = n; i-- > 0;) {
        const mof_step_report *s = mof_run_report_step(f->report, i);
        if (!s->is_backend)
            return s->status;
    }
    return MOF_ERR_INTERNAL;
}

static mof_graph *main_graph(const struct fixture *f)
{
    return mof_model_graph(f->model);
}

static mof_graph *subgraph(const struct fixture *f, const char *node_name, const char *attr)
{
    mof_node *n = find_node(main_graph(f), node_name);
    ck_assert_ptr_nonnull(n);
    mof_graph *g = mof_node_attr_graph(n, attr);
    ck_assert_ptr_nonnull(g);
    return g;
}

/* ------------------------------------------------------------------ eliminate-identity */

START_TEST(identity_chain)
{
    /* X -> Identity -> Identity -> Relu -> Y */
    struct graph g;
    graph_init(&g, "chain");
    graph_input(&g, "X", T_FLOAT, "2,3");
    graph_add(&g, "Identity", "id1", "X", "A");
    graph_add(&g, "Identity", "id2", "A", "B");
    graph_add(&g, "Relu", "relu", "B", "Y");
    graph_output(&g, "Y", T_FLOAT, "2,3");
    struct fixture f;
    fixture_load(&f, &g, 13);

    ck_assert_int_eq(run(&f, "eliminate-identity"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "identity-removed"), 2);
    ck_assert_int_eq(stat_of(&f, "dropout-removed"), 0);
    ck_assert_uint_eq(mof_graph_n_nodes(main_graph(&f)), 1);
    mof_node *relu = find_node(main_graph(&f), "relu");
    ck_assert_ptr_nonnull(relu);
    ck_assert_ptr_eq(mof_node_input(relu, 0), mof_graph_input(main_graph(&f), 0));

    /* Nothing left to do: a second run says so. */
    ck_assert_int_eq(run(&f, "eliminate-identity"), MOF_UNCHANGED);
    fixture_free(&f);
}
END_TEST

START_TEST(identity_feeding_output)
{
    /* X -> Relu -> A -> Identity -> Y (graph output): Relu now writes Y itself. */
    struct graph g;
    graph_init(&g, "to_output");
    graph_input(&g, "X", T_FLOAT, "4");
    graph_add(&g, "Relu", "relu", "X", "A");
    graph_add(&g, "Identity", "id", "A", "Y");
    graph_output(&g, "Y", T_FLOAT, "4");
    struct fixture f;
    fixture_load(&f, &g, 13);

    ck_assert_int_eq(run(&f, "eliminate-identity"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "identity-removed"), 1);
    mof_graph *mg = main_graph(&f);
    ck_assert_uint_eq(mof_graph_n_nodes(mg), 1);
    ck_assert_uint_eq(mof_graph_n_outputs(mg), 1);
    mof_value *y = mof_graph_output(mg, 0);
    ck_assert_str_eq(mof_value_name(y), "Y");
    ck_assert_ptr_eq(mof_value_producer(y, NULL), find_node(mg, "relu"));
    fixture_free(&f);
}
END_TEST

START_TEST(identity_input_to_output_kept)
{
    /* X -> Identity -> Y: both are the graph's interface, the node must stay. */
    struct graph g;
    graph_init(&g, "passthrough");
    graph_input(&g, "X", T_FLOAT, "4");
    graph_add(&g, "Identity", "id", "X", "Y");
    graph_output(&g, "Y", T_FLOAT, "4");
    struct fixture f;
    fixture_load(&f, &g, 13);

    ck_assert_int_eq(run(&f, "eliminate-identity"), MOF_UNCHANGED);
    ck_assert_int_eq(stat_of(&f, "identity-removed"), 0);
    ck_assert_uint_eq(count_op(main_graph(&f), "Identity"), 1);
    ck_assert_str_eq(mof_value_name(mof_graph_output(main_graph(&f), 0)), "Y");
    fixture_free(&f);
}
END_TEST

START_TEST(identity_of_initializer_to_output_kept)
{
    struct graph g;
    graph_init(&g, "const_out");
    graph_init_float(&g, "W", "2", 2, 1.5f);
    graph_add(&g, "Identity", "id", "W", "Y");
    graph_output(&g, "Y", T_FLOAT, "2");
    struct fixture f;
    fixture_load(&f, &g, 13);

    ck_assert_int_eq(run(&f, "eliminate-identity"), MOF_UNCHANGED);
    ck_assert_uint_eq(count_op(main_graph(&f), "Identity"), 1);
    fixture_free(&f);
}
END_TEST

START_TEST(dropout_removed)
{
    /* Opset 13, no training_mode, unused mask: a no-op at inference. A Dropout whose
     * training_mode is a constant false goes too. */
    struct graph g;
    graph_init(&g, "dropout");
    graph_input(&g, "X", T_FLOAT, "4");
    graph_init_bool(&g, "no", false);
    graph_add(&g, "Dropout", "drop1", "X", "A,M");
    graph_add(&g, "Dropout", "drop2", "A,,no", "B");
    graph_add(&g, "Relu", "relu", "B", "Y");
    graph_output(&g, "Y", T_FLOAT, "4");
    struct fixture f;
    fixture_load(&f, &g, 13);

    ck_assert_int_eq(run(&f, "eliminate-identity"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "dropout-removed"), 2);
    ck_assert_uint_eq(count_op(main_graph(&f), "Dropout"), 0);
    ck_assert_ptr_eq(mof_node_input(find_node(main_graph(&f), "relu"), 0),
                     mof_graph_input(main_graph(&f), 0));
    fixture_free(&f);
}
END_TEST

START_TEST(dropout_kept_when_it_matters)
{
    /* drop1's mask is a graph output; drop2 runs in training mode (constant true);
     * drop3's training_mode is only known at run time. */
    struct graph g;
    graph_init(&g, "dropout_kept");
    graph_input(&g, "X", T_FLOAT, "4");
    graph_input(&g, "training", T_BOOL, "");
    graph_init_bool(&g, "yes", true);
    graph_add(&g, "Dropout", "drop1", "X", "A,M");
    graph_add(&g, "Dropout", "drop2", "A,,yes", "B");
    graph_add(&g, "Dropout", "drop3", "B,,training", "Y");
    graph_output(&g, "Y", T_FLOAT, "4");
    graph_output(&g, "M", T_BOOL, "4");
    struct fixture f;
    fixture_load(&f, &g, 13);

    ck_assert_int_eq(run(&f, "eliminate-identity"), MOF_UNCHANGED);
    ck_assert_uint_eq(count_op(main_graph(&f), "Dropout"), 3);
    fixture_free(&f);
}
END_TEST

START_TEST(dropout_used_mask_kept)
{
    /* The mask feeds a node: the Dropout stays even at opset 10. */
    struct graph g;
    graph_init(&g, "mask_used");
    graph_input(&g, "X", T_FLOAT, "4");
    graph_add(&g, "Dropout", "drop", "X", "A,M");
    graph_add(&g, "Not", "not", "M", "N");
    graph_add(&g, "Relu", "relu", "A", "Y");
    graph_output(&g, "Y", T_FLOAT, "4");
    graph_output(&g, "N", T_BOOL, "4");
    struct fixture f;
    fixture_load(&f, &g, 10);

    ck_assert_int_eq(run(&f, "eliminate-identity"), MOF_UNCHANGED);
    ck_assert_uint_eq(count_op(main_graph(&f), "Dropout"), 1);
    fixture_free(&f);
}
END_TEST

START_TEST(dropout_old_opsets)
{
    /* Before opset 7, Dropout is a no-op only with is_test=1. */
    struct graph g;
    graph_init(&g, "old");
    graph_input(&g, "X", T_FLOAT, "4");
    struct pb test_mode = node("Dropout", "test_mode", "X", "A");
    attr_int(&test_mode, "is_test", 1);
    graph_node(&g, &test_mode);
    graph_add(&g, "Dropout", "training", "A", "Y");
    graph_output(&g, "Y", T_FLOAT, "4");
    struct fixture f;
    fixture_load(&f, &g, 6);

    ck_assert_int_eq(run(&f, "eliminate-identity"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "dropout-removed"), 1);
    ck_assert_ptr_null(find_node(main_graph(&f), "test_mode"));
    ck_assert_ptr_nonnull(find_node(main_graph(&f), "training"));
    fixture_free(&f);
}
END_TEST

START_TEST(dropout_param_off)
{
    struct graph g;
    graph_init(&g, "dropout_off");
    graph_input(&g, "X", T_FLOAT, "4");
    graph_add(&g, "Identity", "id", "X", "A");
    graph_add(&g, "Dropout", "drop", "A", "B");
    graph_add(&g, "Relu", "relu", "B", "Y");
    graph_output(&g, "Y", T_FLOAT, "4");
    struct fixture f;
    fixture_load(&f, &g, 13);

    ck_assert_int_eq(run(&f, "eliminate-identity(dropout=false)"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "identity-removed"), 1);
    ck_assert_uint_eq(count_op(main_graph(&f), "Dropout"), 1);
    fixture_free(&f);
}
END_TEST

/* ------------------------------------------------------------------ dead-code */

START_TEST(dead_branch_removed)
{
    /* Sigmoid -> Tanh -> Neg leads nowhere; the custom-domain node too. */
    struct graph g;
    graph_init(&g, "dead_branch");
    graph_input(&g, "X", T_FLOAT, "4");
    graph_add(&g, "Relu", "relu", "X", "Y");
    graph_add(&g, "Sigmoid", "sig", "X", "S");
    graph_add(&g, "Tanh", "tanh", "S", "T");
    graph_add(&g, "Neg", "neg", "T", "N");
    struct pb custom = node("Log", "custom", "X", "L");
    node_domain(&custom, "com.example");
    graph_node(&g, &custom);
    graph_output(&g, "Y", T_FLOAT, "4");
    struct fixture f;
    fixture_load(&f, &g, 13);

    ck_assert_int_eq(run(&f, "dead-code"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "nodes-removed"), 4);
    ck_assert_uint_eq(mof_graph_n_nodes(main_graph(&f)), 1);
    ck_assert_ptr_nonnull(find_node(main_graph(&f), "relu"));
    /* Graph inputs stay, even when nothing reads them any more. */
    ck_assert_uint_eq(mof_graph_n_inputs(main_graph(&f)), 1);

    ck_assert_int_eq(run(&f, "dead-code"), MOF_UNCHANGED);
    fixture_free(&f);
}
END_TEST

START_TEST(dead_code_keeps_unknown_domains)
{
    struct graph g;
    graph_init(&g, "custom");
    graph_input(&g, "X", T_FLOAT, "4");
    graph_add(&g, "Relu", "relu", "X", "Y");
    struct pb custom = node("Print", "print", "X", "P");
    node_domain(&custom, "com.example");
    graph_node(&g, &custom);
    graph_add(&g, "Abs", "abs", "X", "Z");
    graph_output(&g, "Y", T_FLOAT, "4");
    struct fixture f;
    fixture_load(&f, &g, 13);

    ck_assert_int_eq(run(&f, "dead-code(keep-unknown-domains=true)"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "nodes-removed"), 1);
    ck_assert_ptr_nonnull(find_node(main_graph(&f), "print"));
    ck_assert_ptr_null(find_node(main_graph(&f), "abs"));
    fixture_free(&f);
}
END_TEST

START_TEST(unused_initializers)
{
    /* W is used, U is not, D is read only by a dead node, B is also a graph input. */
    struct graph g;
    graph_init(&g, "inits");
    graph_input(&g, "X", T_FLOAT, "2");
    graph_input(&g, "B", T_FLOAT, "2");
    graph_init_float(&g, "W", "2", 2, 2.0f);
    graph_init_float(&g, "U", "3", 3, 0.0f);
    graph_init_float(&g, "D", "2", 2, 1.0f);
    graph_init_float(&g, "B", "2", 2, 0.5f);
    graph_add(&g, "Mul", "mul", "X,W", "Y");
    graph_add(&g, "Add", "dead_add", "X,D", "Z");
    graph_output(&g, "Y", T_FLOAT, "2");
    struct fixture f;
    fixture_load(&f, &g, 13);
    ck_assert_uint_eq(mof_graph_n_initializers(main_graph(&f)), 4);

    ck_assert_int_eq(run(&f, "dead-code(keep-initializers=true)"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "nodes-removed"), 1);
    ck_assert_int_eq(stat_of(&f, "initializers-removed"), 0);
    ck_assert_uint_eq(mof_graph_n_initializers(main_graph(&f)), 4);

    ck_assert_int_eq(run(&f, "dead-code"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "initializers-removed"), 2);
    mof_graph *mg = main_graph(&f);
    ck_assert_uint_eq(mof_graph_n_initializers(mg), 2);
    ck_assert_ptr_nonnull(mof_graph_find_value(mg, "W"));
    ck_assert_ptr_nonnull(mof_graph_find_value(mg, "B"));
    ck_assert_ptr_null(mof_graph_find_value(mg, "U"));
    ck_assert_ptr_null(mof_graph_find_value(mg, "D"));
    fixture_free(&f);
}
END_TEST

START_TEST(unused_graph_output_initializer_kept)
{
    /* An initializer that is itself a graph output is the interface: it stays. */
    struct graph g;
    graph_init(&g, "init_out");
    graph_init_float(&g, "C", "2", 2, 3.0f);
    graph_output(&g, "C", T_FLOAT, "2");
    struct fixture f;
    fixture_load(&f, &g, 13);

    ck_assert_int_eq(run(&f, "dead-code"), MOF_UNCHANGED);
    ck_assert_uint_eq(mof_graph_n_initializers(main_graph(&f)), 1);
    fixture_free(&f);
}
END_TEST

/* ------------------------------------------------------------------ subgraphs */

/* If(cond) -> Y, with
 *   then: Identity(X) -> T1, Relu(T1) -> then_out, Sigmoid(X) -> unused
 *   else: Identity(X) -> else_out
 * where X comes from the enclosing graph, plus a dead Neg(X) in the main graph. */
static void if_graph(struct graph *g)
{
    struct graph then_g, else_g;
    graph_init(&then_g, "then");
    graph_add(&then_g, "Identity", "then_id", "X", "T1");
    graph_add(&then_g, "Relu", "then_relu", "T1", "then_out");
    graph_add(&then_g, "Sigmoid", "then_dead", "X", "unused");
    graph_output(&then_g, "then_out", T_FLOAT, "4");
    graph_init(&else_g, "else");
    graph_add(&else_g, "Identity", "else_id", "X", "else_out");
    graph_output(&else_g, "else_out", T_FLOAT, "4");

    graph_init(g, "with_if");
    graph_input(g, "X", T_FLOAT, "4");
    graph_input(g, "cond", T_BOOL, "");
    struct pb n = node("If", "if", "cond", "Y");
    attr_graph(&n, "then_branch", &then_g.pb);
    attr_graph(&n, "else_branch", &else_g.pb);
    graph_node(g, &n);
    graph_add(g, "Neg", "neg", "X", "dead");
    graph_output(g, "Y", T_FLOAT, "4");
}

START_TEST(subgraph_identity)
{
    struct graph g;
    if_graph(&g);
    struct fixture f;
    fixture_load(&f, &g, 13);

    ck_assert_int_eq(run(&f, "eliminate-identity"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "identity-removed"), 1);
    mof_graph *then_g = subgraph(&f, "if", "then_branch");
    mof_graph *else_g = subgraph(&f, "if", "else_branch");
    ck_assert_uint_eq(count_op(then_g, "Identity"), 0);
    /* else_out must stay a value of the subgraph: its Identity is kept. */
    ck_assert_uint_eq(count_op(else_g, "Identity"), 1);
    mof_node *relu = find_node(then_g, "then_relu");
    ck_assert_ptr_nonnull(relu);
    ck_assert_str_eq(mof_value_name(mof_node_input(relu, 0)), "X");
    fixture_free(&f);
}
END_TEST

START_TEST(subgraph_dead_code)
{
    struct graph g;
    if_graph(&g);
    struct fixture f;
    fixture_load(&f, &g, 13);

    ck_assert_int_eq(run(&f, "dead-code"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "nodes-removed"), 2);
    ck_assert_ptr_null(find_node(main_graph(&f), "neg"));
    mof_graph *then_g = subgraph(&f, "if", "then_branch");
    ck_assert_ptr_null(find_node(then_g, "then_dead"));
    ck_assert_uint_eq(mof_graph_n_nodes(then_g), 2);
    ck_assert_uint_eq(mof_graph_n_outputs(then_g), 1);

    mof_model_stats stats;
    mof_model_get_stats(f.model, &stats);
    ck_assert_uint_eq(stats.n_nodes, 4);
    fixture_free(&f);
}
END_TEST

START_TEST(dead_if_removed_whole)
{
    /* An If whose output nothing reads goes with its subgraphs. */
    struct graph g, then_g, else_g;
    graph_init(&then_g, "then");
    graph_add(&then_g, "Relu", "then_relu", "X", "then_out");
    graph_output(&then_g, "then_out", T_FLOAT, "4");
    graph_init(&else_g, "else");
    graph_add(&else_g, "Abs", "else_abs", "X", "else_out");
    graph_output(&else_g, "else_out", T_FLOAT, "4");
    graph_init(&g, "dead_if");
    graph_input(&g, "X", T_FLOAT, "4");
    graph_input(&g, "cond", T_BOOL, "");
    struct pb n = node("If", "if", "cond", "unused");
    attr_graph(&n, "then_branch", &then_g.pb);
    attr_graph(&n, "else_branch", &else_g.pb);
    graph_node(&g, &n);
    graph_add(&g, "Neg", "neg", "X", "Y");
    graph_output(&g, "Y", T_FLOAT, "4");
    struct fixture f;
    fixture_load(&f, &g, 13);

    ck_assert_int_eq(run(&f, "dead-code"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "nodes-removed"), 1);
    ck_assert_ptr_null(find_node(main_graph(&f), "if"));
    ck_assert_uint_eq(mof_value_n_uses(mof_graph_input(main_graph(&f), 0)), 1);
    fixture_free(&f);
}
END_TEST

START_TEST(dead_capture_frees_outer_value)
{
    /* S = Sigmoid(X) is read only by a dead node of the then-branch: once that node
     * is gone, nothing reads S and its producer is dead too. */
    struct graph g, then_g, else_g;
    graph_init(&then_g, "then");
    graph_add(&then_g, "Relu", "then_relu", "X", "then_out");
    graph_add(&then_g, "Neg", "then_dead", "S", "unused");
    graph_output(&then_g, "then_out", T_FLOAT, "4");
    graph_init(&else_g, "else");
    graph_add(&else_g, "Abs", "else_abs", "X", "else_out");
    graph_output(&else_g, "else_out", T_FLOAT, "4");
    graph_init(&g, "capture");
    graph_input(&g, "X", T_FLOAT, "4");
    graph_input(&g, "cond", T_BOOL, "");
    graph_add(&g, "Sigmoid", "sig", "X", "S");
    struct pb n = node("If", "if", "cond", "Y");
    attr_graph(&n, "then_branch", &then_g.pb);
    attr_graph(&n, "else_branch", &else_g.pb);
    graph_node(&g, &n);
    graph_output(&g, "Y", T_FLOAT, "4");
    struct fixture f;
    fixture_load(&f, &g, 13);

    ck_assert_int_eq(run(&f, "dead-code"), MOF_OK);
    ck_assert_ptr_null(find_node(subgraph(&f, "if", "then_branch"), "then_dead"));
    ck_assert_ptr_null(find_node(main_graph(&f), "sig"));
    ck_assert_int_eq(stat_of(&f, "nodes-removed"), 2);
    fixture_free(&f);
}
END_TEST

START_TEST(both_passes_on_tiny_cnn)
{
    /* The example model: an Identity, a Dropout, a dead Relu, an unused initializer. */
    struct fixture f;
    memset(&f, 0, sizeof f);
    f.ctx = mof_context_create();
    ck_assert_ptr_nonnull(f.ctx);
    ck_assert_status(f.ctx, mof_context_add_static_plugin(f.ctx, mof_plugin_entry_cleanup),
                     MOF_OK);
    f.model = mof_model_load(f.ctx, MOF_TEST_SRCDIR "/examples/models/tiny-cnn.onnx");
    if (!f.model)
        mof_test_print_diags(f.ctx);
    ck_assert_ptr_nonnull(f.model);
    ck_assert_uint_eq(mof_graph_n_nodes(main_graph(&f)), 12);

    ck_assert_int_eq(run(&f, "eliminate-identity,dead-code"), MOF_OK);
    ck_assert_int_eq(stat_of(&f, "identity-removed"), 1);
    ck_assert_int_eq(stat_of(&f, "dropout-removed"), 1);
    ck_assert_int_eq(stat_of(&f, "nodes-removed"), 1);
    ck_assert_int_eq(stat_of(&f, "initializers-removed"), 1);
    ck_assert_uint_eq(mof_graph_n_nodes(main_graph(&f)), 9);
    ck_assert_ptr_null(mof_graph_find_value(main_graph(&f), "unused.weight"));
    ck_assert_ptr_null(find_node(main_graph(&f), "dead_relu"));
    fixture_free(&f);
}
END_TEST

static Suite *cleanup_suite(void)
{
    Suite *s = suite_create("cleanup");
    TCase *identity = tcase_create("eliminate-identity");
    tcase_add_test(identity, identity_chain);
    tcase_add_test(identity, identity_feeding_output);
    tcase_add_test(identity, identity_input_to_output_kept);
    tcase_add_test(identity, identity_of_initializer_to_output_kept);
    tcase_add_test(identity, dropout_removed);
    tcase_add_test(identity, dropout_kept_when_it_matters);
    tcase_add_test(identity, dropout_used_mask_kept);
    tcase_add_test(identity, dropout_old_opsets);
    tcase_add_test(identity, dropout_param_off);
    suite_add_tcase(s, identity);

    TCase *dead = tcase_create("dead-code");
    tcase_add_test(dead, dead_branch_removed);
    tcase_add_test(dead, dead_code_keeps_unknown_domains);
    tcase_add_test(dead, unused_initializers);
    tcase_add_test(dead, unused_graph_output_initializer_kept);
    suite_add_tcase(s, dead);

    TCase *sub = tcase_create("subgraphs");
    tcase_add_test(sub, subgraph_identity);
    tcase_add_test(sub, subgraph_dead_code);
    tcase_add_test(sub, dead_if_removed_whole);
    tcase_add_test(sub, dead_capture_frees_outer_value);
    suite_add_tcase(s, sub);

    TCase *model = tcase_create("example model");
    tcase_add_test(model, both_passes_on_tiny_cnn);
    suite_add_tcase(s, model);
    return s;
}

MOF_TEST_MAIN(cleanup_suite)
