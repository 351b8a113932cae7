/* test_ir.c: unit tests of the IR's main graph: tensors, building graphs, use lists
 * through every mutation, attributes, origins, verification, chain matching, and the
 * model-level API (opsets, metadata, stats, swap).
 *
 * The public API cannot declare graph inputs or outputs (only the reader does), so the
 * tests use the internal constructors of ir_private.h for those. Subgraphs, captures
 * and model copies are in test_ir_subgraph.c. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include "config.h"

#include <stdarg.h>
#include <sys/mman.h>

#include "ir_private.h"

#include "testutil.h"

MOF_TEST_MODEL_FIXTURE

/* ------------------------------------------------------------------ helpers */

/* A graph input of type float[1, 4]. */
static mof_value *add_input(mof_graph *gr, const char *name)
{
    const int64_t dims[2] = {1, 4};
    return mof_test_add_input(gr, name, MOF_DTYPE_FLOAT, 2, dims, NULL);
}

/* A node at the end of gr with one output; inputs may be NULL. */
static mof_node *add_node(mof_graph *gr, const char *op, const char *name, size_t n_in,
                          mof_value *a, mof_value *b)
{
    return mof_test_add_node(gr, op, NULL, name, n_in, a, b, NULL);
}

static mof_value *out0(const mof_node *n) { return mof_node_output(n, 0); }

#define expect_uses(...) mof_test_expect_uses_(__LINE__, __VA_ARGS__)

/* Asserts that gr's node list is exactly the nodes given, linked both ways. */
static void expect_order_(int line, const mof_graph *gr, size_t count, ...)
{
    ck_assert_msg(mof_graph_n_nodes(gr) == count, "line %d: %zu nodes, expected %zu", line,
                  mof_graph_n_nodes(gr), count);
    va_list ap;
    va_start(ap, count);
    const mof_node *prev = NULL, *n = mof_graph_first_node(gr);
    for (size_t i = 0; i < count; i++) {
        const mof_node *want = va_arg(ap, const mof_node *);
        ck_assert_msg(n == want, "line %d: node %zu is '%s', expected '%s'", line, i,
                      n ? mof_node_name(n) : "NULL", mof_node_name(want));
        ck_assert_msg(mof_node_prev(n) == prev, "line %d: node %zu has a wrong prev", line, i);
        prev = n;
        n = mof_node_next(n);
    }
    va_end(ap);
    ck_assert_msg(n == NULL, "line %d: more nodes than expected", line);
    ck_assert_ptr_eq(mof_graph_last_node(gr), prev);
}
#define expect_order(...) expect_order_(__LINE__, __VA_ARGS__)

static void expect_verify_ok(const mof_graph *gr)
{
    mof_test_expect_verify_ok(ctx, gr);
}

/* Asserts that verification fails with a diagnostic containing each needle. */
static void expect_verify_fails(const mof_graph *gr, const char *needle1, const char *needle2)
{
    mof_test_expect_verify_fails(ctx, gr, needle1, needle2);
}

/* ------------------------------------------------------------------ tensors */

START_TEST(test_tensor_create)
{
    const int64_t dims[2] = {2, 3};
    mof_tensor *t = mof_tensor_create(MOF_DTYPE_FLOAT, 2, dims);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(mof_tensor_dtype(t), MOF_DTYPE_FLOAT);
    ck_assert_uint_eq(mof_tensor_rank(t), 2);
    ck_assert_ptr_ne(mof_tensor_dims(t), dims); /* copied */
    ck_assert_int_eq(mof_tensor_dims(t)[0], 2);
    ck_assert_int_eq(mof_tensor_dims(t)[1], 3);
    ck_assert_int_eq(mof_tensor_numel(t), 6);
    ck_assert_uint_eq(mof_tensor_nbytes(t), 24);
    ck_assert(!mof_tensor_is_external(t));
    const float *d = mof_tensor_data(t);
    for (int i = 0; i < 6; i++)
        ck_assert(d[i] == 0.0f);
    mof_tensor_unref(t);

    /* A scalar: rank 0, one element. */
    mof_tensor *s = mof_tensor_create(MOF_DTYPE_INT64, 0, NULL);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(mof_tensor_rank(s), 0);
    ck_assert_int_eq(mof_tensor_numel(s), 1);
    ck_assert_uint_eq(mof_tensor_nbytes(s), 8);
    ck_assert_int_eq(*(const int64_t *)mof_tensor_data(s), 0);
    mof_tensor_unref(s);

    /* No elements at all. */
    const int64_t empty[2] = {0, 5};
    mof_tensor *e = mof_tensor_create(MOF_DTYPE_UINT8, 2, empty);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(mof_tensor_numel(e), 0);
    ck_assert_uint_eq(mof_tensor_nbytes(e), 0);
    mof_tensor *e2 = mof_tensor_dup(e);
    ck_assert(mof_tensor_equal(e, e2));
    mof_tensor_unref(e2);
    mof_tensor_unref(e);

    /* Sizes by element type. */
    const int64_t four = 4;
    mof_tensor *h = mof_tensor_create(MOF_DTYPE_FLOAT16, 1, &four);
    ck_assert_uint_eq(mof_tensor_nbytes(h), 8);
    mof_tensor_unref(h);
    mof_tensor *c = mof_tensor_create(MOF_DTYPE_COMPLEX128, 1, &four);
    ck_assert_uint_eq(mof_tensor_nbytes(c), 64);
    mof_tensor_unref(c);

    ck_assert_ptr_null(mof_tensor_create(MOF_DTYPE_UNDEFINED, 1, &four));
    mof_tensor_unref(NULL); /* a no-op */
}
END_TEST

START_TEST(test_tensor_create_from_dup_equal)
{
    const int64_t dims[2] = {2, 3}, flat = 6;
    const float data[6] = {1, 2, 3, 4, 5, 6};
    mof_tensor *a = mof_tensor_create_from(MOF_DTYPE_FLOAT, 2, dims, data);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_ne(mof_tensor_data(a), data);
    ck_assert_mem_eq(mof_tensor_data(a), data, sizeof(data));
    ck_assert(mof_tensor_equal(a, a));

    mof_tensor *b = mof_tensor_dup(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_ne(b, a);
    ck_assert_ptr_ne(mof_tensor_data(b), mof_tensor_data(a));
    ck_assert(mof_tensor_equal(a, b));
    /* The copy is its own: writable, and writing it leaves a alone. */
    float *bd = mof_tensor_data_mut(b);
    ck_assert_ptr_nonnull(bd);
    bd[5] = 7;
    ck_assert(!mof_tensor_equal(a, b));
    ck_assert(((const float *)mof_tensor_data(a))[5] == 6.0f);

    /* Same bytes, other shape or type: not equal. */
    mof_tensor *f = mof_tensor_create_from(MOF_DTYPE_FLOAT, 1, &flat, data);
    ck_assert(!mof_tensor_equal(a, f));
    mof_tensor *i32 = mof_tensor_create_from(MOF_DTYPE_INT32, 2, dims, data);
    ck_assert_ptr_nonnull(i32);
    ck_assert(!mof_tensor_equal(a, i32));
    const int64_t other[2] = {3, 2};
    mof_tensor *t32 = mof_tensor_create_from(MOF_DTYPE_FLOAT, 2, other, data);
    ck_assert(!mof_tensor_equal(a, t32));

    /* STRING tensors cannot be made from raw bytes. */
    ck_assert_ptr_null(mof_tensor_create_from(MOF_DTYPE_STRING, 2, dims, data));

    mof_tensor_unref(t32);
    mof_tensor_unref(i32);
    mof_tensor_unref(f);
    mof_tensor_unref(b);
    mof_tensor_unref(a);
}
END_TEST

START_TEST(test_tensor_ref_unref)
{
    const int64_t n = 3;
    mof_tensor *t = mof_tensor_create(MOF_DTYPE_INT32, 1, &n);
    ck_assert_ptr_nonnull(mof_tensor_data_mut(t));
    ck_assert_ptr_eq(mof_tensor_ref(t), t);
    /* Shared: never written. */
    ck_assert_ptr_null(mof_tensor_data_mut(t));
    ck_assert_ptr_nonnull(mof_tensor_data(t));
    mof_tensor_unref(t);
    ck_assert_ptr_nonnull(mof_tensor_data_mut(t));
    ck_assert_ptr_null(mof_tensor_ref(NULL));

    /* A tensor held by the graph is shared too. */
    mof_tensor_ref(t);
    mof_value *w = mof_graph_add_initializer(g, "w", t);
    ck_assert_ptr_nonnull(w);
    ck_assert_ptr_eq(mof_value_tensor(w), t);
    ck_assert_ptr_null(mof_tensor_data_mut(t));
    mof_tensor_unref(t);
    ck_assert_ptr_nonnull(mof_tensor_data_mut(mof_value_tensor(w)));
}
END_TEST

START_TEST(test_tensor_string)
{
    const int64_t dims[1] = {3};
    mof_tensor *t = mof_tensor_create(MOF_DTYPE_STRING, 1, dims);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(mof_tensor_numel(t), 3);
    ck_assert_uint_eq(mof_tensor_nbytes(t), 3 * sizeof(mof_string));
    mof_string *s = mof_tensor_data_mut(t);
    ck_assert_ptr_nonnull(s);
    for (int i = 0; i < 3; i++) {
        ck_assert_uint_eq(s[i].size, 0);
        ck_assert_ptr_null(s[i].data);
    }
    /* Element 1 stays empty; the others hold bytes with an embedded NUL. */
    s[0].data = malloc(3);
    memcpy(s[0].data, "a\0b", 3);
    s[0].size = 3;
    s[2].data = malloc(5);
    memcpy(s[2].data, "hello", 5);
    s[2].size = 5;

    mof_tensor *c = mof_tensor_dup(t);
    ck_assert_ptr_nonnull(c);
    const mof_string *cs = mof_tensor_data(c);
    ck_assert_ptr_ne(cs[0].data, s[0].data);
    ck_assert_uint_eq(cs[0].size, 3);
    ck_assert_mem_eq(cs[0].data, "a\0b", 3);
    ck_assert_uint_eq(cs[1].size, 0);
    ck_assert_uint_eq(cs[2].size, 5);
    ck_assert(mof_tensor_equal(t, c));

    /* Strings compare by bytes, not by pointer or up to a NUL. */
    mof_string *ms = mof_tensor_data_mut(c);
    ms[0].data[2] = 'c';
    ck_assert(!mof_tensor_equal(t, c));
    ms[0].data[2] = 'b';
    ck_assert(mof_tensor_equal(t, c));
    ms[2].size = 4;
    ck_assert(!mof_tensor_equal(t, c));

    mof_tensor_unref(c);
    mof_tensor_unref(t);
}
END_TEST

START_TEST(test_tensor_external)
{
    /* Data borrowed from a file mapping (an anonymous one stands in for the file). */
    const size_t len = 4096;
    void *addr = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(addr, MAP_FAILED);
    float *f = addr;
    for (int i = 0; i < 4; i++)
        f[i] = (float)i + 0.5f;
    mof_mapping *map = calloc(1, sizeof(*map));
    map->refcount = 1;
    map->addr = addr;
    map->length = len;
    const int64_t four = 4;
    /* A size that does not match the shape is refused, taking no reference. */
    ck_assert_ptr_null(mof_tensor_wrap(MOF_DTYPE_FLOAT, 1, &four, addr, 12, map));
    ck_assert_int_eq(map->refcount, 1);
    mof_tensor *t = mof_tensor_wrap(MOF_DTYPE_FLOAT, 1, &four, addr, 16, map);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(map->refcount, 2);
    mof_mapping_unref(map); /* the tensor keeps the mapping alive */
    ck_assert(mof_tensor_is_external(t));
    ck_assert_ptr_eq(mof_tensor_data(t), addr);
    /* Mapped data is never written, even with a single reference. */
    ck_assert_ptr_null(mof_tensor_data_mut(t));

    /* Stored as external data in the file: a copy is in memory and says so. */
    t->proto = calloc(1, sizeof(*t->proto));
    t->proto->name = mof_strdup("weight");
    t->proto->store = MOF_STORE_EXTERNAL;
    t->proto->has_data_location = true;
    t->proto->data_location = 1;
    t->proto->n_external = 1;
    t->proto->external = calloc(1, sizeof(mof_kv));
    t->proto->external[0].key = mof_strdup("location");
    t->proto->external[0].value = mof_strdup("weights.bin");
    mof_tensor *c = mof_tensor_dup(t);
    ck_assert_ptr_nonnull(c);
    ck_assert(!mof_tensor_is_external(c));
    ck_assert_ptr_nonnull(mof_tensor_data_mut(c));
    ck_assert(mof_tensor_equal(t, c));
    ck_assert_ptr_nonnull(c->proto);
    ck_assert_str_eq(c->proto->name, "weight");
    ck_assert_ptr_ne(c->proto->name, t->proto->name);
    ck_assert_int_eq(c->proto->store, MOF_STORE_RAW);
    ck_assert(!c->proto->has_data_location);
    ck_assert_uint_eq(c->proto->n_external, 0);
    /* The original still describes its file. */
    ck_assert_int_eq(t->proto->store, MOF_STORE_EXTERNAL);
    ck_assert_uint_eq(t->proto->n_external, 1);
    mof_tensor_unref(t); /* unmaps */
    ck_assert(((const float *)mof_tensor_data(c))[3] == 3.5f);
    mof_tensor_unref(c);
}
END_TEST

START_TEST(test_tensor_overflow)
{
    const int64_t huge[2] = {INT64_MAX, 2};
    ck_assert_ptr_null(mof_tensor_create(MOF_DTYPE_FLOAT, 2, huge));
    const int64_t three[3] = {1 << 22, 1 << 22, 1 << 22}; /* 2^66 elements */
    ck_assert_ptr_null(mof_tensor_create(MOF_DTYPE_UINT8, 3, three));
    /* Fits int64 as a count, not as bytes. */
    const int64_t bytes[1] = {INT64_C(1) << 62};
    ck_assert_ptr_null(mof_tensor_create(MOF_DTYPE_FLOAT, 1, bytes));
    ck_assert_ptr_null(mof_tensor_create(MOF_DTYPE_STRING, 1, bytes));
    ck_assert_ptr_null(mof_tensor_create_from(MOF_DTYPE_DOUBLE, 2, huge, "x"));
    const int64_t neg[2] = {2, -1};
    ck_assert_ptr_null(mof_tensor_create(MOF_DTYPE_FLOAT, 2, neg));
    /* A zero dim makes any other dim harmless. */
    const int64_t zero[2] = {0, INT64_MAX};
    mof_tensor *z = mof_tensor_create(MOF_DTYPE_FLOAT, 2, zero);
    ck_assert_ptr_nonnull(z);
    ck_assert_int_eq(mof_tensor_numel(z), 0);
    mof_tensor_unref(z);
}
END_TEST

/* ------------------------------------------------------------------ building graphs */

START_TEST(test_model_defaults)
{
    ck_assert_ptr_eq(mof_model_context(model), ctx);
    ck_assert_int_eq(mof_model_ir_version(model), 8);
    ck_assert_int_eq(mof_model_opset(model, ""), 13);
    ck_assert_int_eq(mof_model_opset(model, NULL), 13);
    ck_assert_int_eq(mof_model_opset(model, "ai.onnx"), 13);
    ck_assert_int_eq(mof_model_opset(model, "com.microsoft"), -1);
    ck_assert_uint_eq(mof_model_n_opsets(model), 1);
    ck_assert_str_eq(mof_model_producer_name(model), "");
    ck_assert_str_eq(mof_model_producer_version(model), "");
    ck_assert_uint_eq(mof_model_n_metadata(model), 0);
    ck_assert_ptr_nonnull(g);
    ck_assert_str_eq(mof_graph_name(g), "main");
    ck_assert_ptr_null(mof_graph_parent(g));
    ck_assert_ptr_eq(mof_graph_model(g), model);
    ck_assert_uint_eq(mof_graph_n_nodes(g), 0);
    ck_assert_ptr_null(mof_graph_first_node(g));
    ck_assert_ptr_null(mof_graph_last_node(g));
    ck_assert_uint_eq(mof_graph_n_inputs(g), 0);
    ck_assert_uint_eq(mof_graph_n_outputs(g), 0);
    ck_assert_uint_eq(mof_graph_n_initializers(g), 0);
    expect_verify_ok(g);
    mof_model_destroy(NULL); /* a no-op */
}
END_TEST

START_TEST(test_build_graph)
{
    mof_value *x = add_input(g, "x");
    mof_value *w = mof_test_add_weight(g, "w", 4);
    mof_node *conv = add_node(g, "Conv", "conv", 2, x, w);
    mof_node *relu = add_node(g, "Relu", "relu", 1, out0(conv), NULL);
    mof_node *add = add_node(g, "Add", "add", 2, out0(relu), x);
    mof_test_add_output(g, out0(add));

    expect_order(g, 3, conv, relu, add);
    ck_assert_str_eq(mof_node_op_type(conv), "Conv");
    ck_assert_str_eq(mof_node_domain(conv), "");
    ck_assert_str_eq(mof_node_name(conv), "conv");
    ck_assert_ptr_eq(mof_node_graph(conv), g);
    ck_assert_uint_lt(mof_node_id(conv), mof_node_id(relu));
    ck_assert_uint_lt(mof_node_id(relu), mof_node_id(add));
    ck_assert_uint_eq(mof_node_n_inputs(conv), 2);
    ck_assert_ptr_eq(mof_node_input(conv, 0), x);
    ck_assert_ptr_eq(mof_node_input(conv, 1), w);
    ck_assert_ptr_null(mof_node_input(conv, 2));
    ck_assert_uint_eq(mof_node_n_outputs(conv), 1);
    ck_assert_ptr_null(mof_node_output(conv, 1));

    /* Outputs are named after their node. */
    ck_assert_str_eq(mof_value_name(out0(conv)), "conv");
    ck_assert_ptr_eq(mof_graph_find_value(g, "conv"), out0(conv));
    ck_assert_ptr_eq(mof_graph_find_value(g, "x"), x);
    ck_assert_ptr_null(mof_graph_find_value(g, "nope"));
    ck_assert_ptr_eq(mof_value_graph(x), g);

    size_t idx = 99;
    ck_assert_ptr_eq(mof_value_producer(out0(relu), &idx), relu);
    ck_assert_uint_eq(idx, 0);
    ck_assert_ptr_null(mof_value_producer(x, NULL));
    ck_assert_ptr_null(mof_value_producer(w, NULL));

    expect_uses(x, 2, conv, 0, add, 1);
    expect_uses(w, 1, conv, 1);
    expect_uses(out0(conv), 1, relu, 0);
    expect_uses(out0(relu), 1, add, 0);
    expect_uses(out0(add), 0); /* a graph output is not a use */

    ck_assert(mof_value_is_graph_input(x));
    ck_assert(!mof_value_is_graph_output(x));
    ck_assert(mof_value_is_graph_output(out0(add)));
    ck_assert(mof_value_is_initializer(w));
    ck_assert(mof_value_is_constant(w));
    ck_assert(!mof_value_is_initializer(x));
    ck_assert(!mof_value_is_constant(out0(conv)));
    ck_assert_ptr_null(mof_value_tensor(x));

    ck_assert_uint_eq(mof_graph_n_inputs(g), 1);
    ck_assert_ptr_eq(mof_graph_input(g, 0), x);
    ck_assert_ptr_null(mof_graph_input(g, 1));
    ck_assert_uint_eq(mof_graph_n_outputs(g), 1);
    ck_assert_ptr_eq(mof_graph_output(g, 0), out0(add));
    ck_assert_ptr_null(mof_graph_output(g, 1));
    ck_assert_uint_eq(mof_graph_n_initializers(g), 1);
    ck_assert_ptr_eq(mof_graph_initializer(g, 0), w);
    ck_assert_ptr_null(mof_graph_initializer(g, 1));

    /* An initializer also listed as a graph input is an overridable default. */
    ck_assert_int_eq(mof_graph_list_input(g, w, NULL, NULL), MOF_OK);
    ck_assert(mof_value_is_initializer(w));
    ck_assert(!mof_value_is_constant(w));
    expect_verify_ok(g);
}
END_TEST

START_TEST(test_add_node_positions)
{
    mof_value *x = add_input(g, "x");
    mof_node *a = add_node(g, "Relu", "a", 1, x, NULL);
    mof_node *b = mof_graph_add_node(g, MOF_INSERT_BEFORE, a, "Relu", NULL, "b", 1, &x, 1);
    expect_order(g, 2, b, a);
    mof_node *c = mof_graph_add_node(g, MOF_INSERT_AFTER, b, "Relu", NULL, "c", 1, &x, 1);
    expect_order(g, 3, b, c, a);
    mof_node *d = mof_graph_add_node(g, MOF_INSERT_BEFORE, NULL, "Relu", NULL, "d", 1, &x, 1);
    expect_order(g, 4, d, b, c, a);
    mof_node *e = mof_graph_add_node(g, MOF_INSERT_AFTER, NULL, "Relu", NULL, "e", 1, &x, 1);
    expect_order(g, 5, d, b, c, a, e);
    mof_node *f = mof_graph_add_node(g, MOF_INSERT_AFTER, e, "Relu", NULL, "f", 1, &x, 1);
    expect_order(g, 6, d, b, c, a, e, f);
    mof_node *h = mof_graph_add_node(g, MOF_INSERT_BEFORE, d, "Relu", NULL, "h", 1, &x, 1);
    expect_order(g, 7, h, d, b, c, a, e, f);
    /* Uses are recorded in creation order, not list order. */
    expect_uses(x, 7, a, 0, b, 0, c, 0, d, 0, e, 0, f, 0, h, 0);

    /* A generated node name; a domain; no inputs; several outputs. */
    mof_node *gen = mof_graph_add_node(g, MOF_INSERT_AFTER, NULL, "Split", "com.example", NULL,
                                       0, NULL, 3);
    ck_assert_ptr_nonnull(gen);
    ck_assert_str_eq(mof_node_domain(gen), "com.example");
    char want[32];
    snprintf(want, sizeof(want), "Split_%u", (unsigned)mof_node_id(gen));
    ck_assert_str_eq(mof_node_name(gen), want);
    ck_assert_uint_eq(mof_node_n_inputs(gen), 0);
    ck_assert_uint_eq(mof_node_n_outputs(gen), 3);
    for (size_t i = 0; i < 3; i++) {
        snprintf(want, sizeof(want), "Split_%u_out%zu", (unsigned)mof_node_id(gen), i);
        ck_assert_str_eq(mof_value_name(mof_node_output(gen, i)), want);
        size_t k = 99;
        ck_assert_ptr_eq(mof_value_producer(mof_node_output(gen, i), &k), gen);
        ck_assert_uint_eq(k, i);
    }

    /* An output whose natural name is taken gets another one. */
    mof_node *xx = add_node(g, "Identity", "x", 1, x, NULL);
    ck_assert_str_ne(mof_value_name(out0(xx)), "x");
    ck_assert_ptr_eq(mof_graph_find_value(g, mof_value_name(out0(xx))), out0(xx));
    ck_assert_ptr_eq(mof_graph_find_value(g, "x"), x);

    /* An omitted optional input. */
    mof_value *ins[3] = {x, NULL, x};
    mof_node *opt = mof_graph_add_node(g, MOF_INSERT_AFTER, NULL, "Clip", NULL, "clip", 3, ins, 1);
    ck_assert_uint_eq(mof_node_n_inputs(opt), 3);
    ck_assert_ptr_null(mof_node_input(opt, 1));
    ck_assert_uint_eq(mof_value_n_uses(x), 10);
    expect_verify_ok(g);
}
END_TEST

START_TEST(test_add_node_errors)
{
    mof_value *x = add_input(g, "x");
    mof_node *a = add_node(g, "Relu", "a", 1, x, NULL);

    ck_assert_ptr_null(mof_graph_add_node(g, MOF_INSERT_AFTER, NULL, NULL, NULL, "n", 0, NULL, 1));
    ck_assert(mof_test_diag_contains(ctx, "no op type given"));
    mof_context_clear_diags(ctx);
    ck_assert_ptr_null(mof_graph_add_node(g, MOF_INSERT_AFTER, NULL, "", NULL, "n", 0, NULL, 1));
    ck_assert(mof_test_diag_contains(ctx, "no op type given"));

    /* The anchor and the inputs must belong to this graph. */
    mof_model *other = mof_model_create(ctx);
    mof_graph *og = mof_model_graph(other);
    mof_value *ox = add_input(og, "ox");
    mof_node *oa = add_node(og, "Relu", "oa", 1, ox, NULL);
    mof_context_clear_diags(ctx);
    ck_assert_ptr_null(mof_graph_add_node(g, MOF_INSERT_AFTER, oa, "Relu", NULL, "n", 1, &x, 1));
    ck_assert(mof_test_diag_contains(ctx, "the anchor node is in another graph"));
    ck_assert_status(ctx, mof_graph_move_node(g, a, MOF_INSERT_AFTER, oa), MOF_ERR_INVALID_ARG);
    ck_assert_status(ctx, mof_graph_move_node(g, oa, MOF_INSERT_AFTER, NULL), MOF_ERR_INVALID_ARG);
    ck_assert_status(ctx, mof_graph_remove_node(g, oa), MOF_ERR_INVALID_ARG);

    mof_context_clear_diags(ctx);
    mof_value *ins[2] = {x, ox};
    ck_assert_ptr_null(mof_graph_add_node(g, MOF_INSERT_AFTER, NULL, "Add", NULL, "bad", 2, ins, 1));
    ck_assert(mof_test_diag_contains(ctx, "input 1 of new Add node 'bad' (value 'ox') is not "
                                          "visible in this graph"));
    /* Nothing of the failed node is left behind. */
    expect_order(g, 1, a);
    expect_uses(x, 1, a, 0);
    expect_uses(ox, 1, oa, 0);
    ck_assert_ptr_null(mof_graph_find_value(g, "bad"));
    ck_assert_uint_eq(mof_value_n_uses(ox), 1);
    mof_context_clear_diags(ctx);
    expect_verify_ok(g);
    expect_verify_ok(og);
    mof_model_destroy(other);
}
END_TEST

START_TEST(test_set_input_truncate)
{
    mof_value *x = add_input(g, "x");
    mof_value *y = add_input(g, "y");
    mof_node *n = add_node(g, "Add", "n", 2, x, x);
    expect_uses(x, 2, n, 0, n, 1);

    ck_assert_int_eq(mof_node_set_input(n, 1, y), MOF_OK);
    ck_assert_ptr_eq(mof_node_input(n, 1), y);
    expect_uses(x, 1, n, 0);
    expect_uses(y, 1, n, 1);

    /* Setting the value it already has changes nothing. */
    ck_assert_int_eq(mof_node_set_input(n, 1, y), MOF_OK);
    expect_uses(y, 1, n, 1);

    /* i == n_inputs appends; past that is refused. */
    ck_assert_int_eq(mof_node_set_input(n, 2, x), MOF_OK);
    ck_assert_uint_eq(mof_node_n_inputs(n), 3);
    expect_uses(x, 2, n, 0, n, 2);
    ck_assert_int_eq(mof_node_set_input(n, 4, x), MOF_ERR_INVALID_ARG);
    ck_assert_uint_eq(mof_node_n_inputs(n), 3);
    expect_uses(x, 2, n, 0, n, 2);

    /* NULL: an omitted input, no use. */
    ck_assert_int_eq(mof_node_set_input(n, 0, NULL), MOF_OK);
    ck_assert_ptr_null(mof_node_input(n, 0));
    expect_uses(x, 1, n, 2);
    ck_assert_int_eq(mof_node_set_input(n, 3, NULL), MOF_OK);
    ck_assert_uint_eq(mof_node_n_inputs(n), 4);
    expect_verify_ok(g);

    /* A value of another graph is refused and changes nothing. */
    mof_model *other = mof_model_create(ctx);
    mof_value *ox = add_input(mof_model_graph(other), "ox");
    ck_assert_int_eq(mof_node_set_input(n, 1, ox), MOF_ERR_INVALID_ARG);
    ck_assert_ptr_eq(mof_node_input(n, 1), y);
    expect_uses(ox, 0);
    expect_uses(y, 1, n, 1);
    mof_model_destroy(other);

    ck_assert_int_eq(mof_node_truncate_inputs(n, 2), MOF_OK);
    ck_assert_uint_eq(mof_node_n_inputs(n), 2);
    expect_uses(x, 0);
    expect_uses(y, 1, n, 1);
    ck_assert_int_eq(mof_node_truncate_inputs(n, 5), MOF_OK); /* never grows */
    ck_assert_uint_eq(mof_node_n_inputs(n), 2);
    ck_assert_int_eq(mof_node_truncate_inputs(n, 0), MOF_OK);
    ck_assert_uint_eq(mof_node_n_inputs(n), 0);
    expect_uses(y, 0);
    expect_verify_ok(g);
}
END_TEST

/* ------------------------------------------------------------------ replace_uses */

START_TEST(test_replace_uses_plain)
{
    mof_value *x = add_input(g, "x");
    mof_value *y = add_input(g, "y");
    mof_node *pre = add_node(g, "Neg", "pre", 1, y, NULL);
    mof_node *a = add_node(g, "Relu", "a", 1, x, NULL);
    mof_node *b = add_node(g, "Add", "b", 2, out0(a), x);
    mof_node *c = add_node(g, "Mul", "c", 2, x, x);
    expect_uses(x, 4, a, 0, b, 1, c, 0, c, 1);

    ck_assert(mof_value_can_replace(x, out0(pre)));
    ck_assert(!mof_value_can_replace(x, x));
    ck_assert_int_eq(mof_value_replace_uses(x, x), MOF_ERR_INVALID_ARG);
    expect_uses(x, 4, a, 0, b, 1, c, 0, c, 1);

    mof_value *p = out0(pre);
    ck_assert_int_eq(mof_value_replace_uses(x, p), MOF_OK);
    expect_uses(x, 0);
    expect_uses(p, 4, a, 0, b, 1, c, 0, c, 1);
    ck_assert_ptr_eq(mof_node_input(a, 0), p);
    ck_assert_ptr_eq(mof_node_input(b, 1), p);
    ck_assert_ptr_eq(mof_node_input(c, 0), p);
    ck_assert_ptr_eq(mof_node_input(c, 1), p);
    ck_assert_ptr_eq(mof_node_input(b, 0), out0(a));
    /* No names change when no graph output is involved. */
    ck_assert_str_eq(mof_value_name(x), "x");
    ck_assert_str_eq(mof_value_name(p), "pre");
    ck_assert(mof_value_is_graph_input(x));
    expect_verify_ok(g);

    /* A graph input may replace a plain value, and uses are appended after existing
     * ones. */
    ck_assert_int_eq(mof_value_replace_uses(out0(a), y), MOF_OK);
    expect_uses(y, 2, pre, 0, b, 0);
    expect_uses(out0(a), 0);
    /* Now unused, a can go. */
    ck_assert_int_eq(mof_graph_remove_node(g, a), MOF_OK);
    expect_verify_ok(g);
}
END_TEST

START_TEST(test_replace_uses_graph_output)
{
    mof_value *x = add_input(g, "x");
    mof_node *a = add_node(g, "Relu", "a", 1, x, NULL);
    mof_node *b = add_node(g, "Neg", "b", 1, x, NULL);
    mof_node *user = add_node(g, "Sigmoid", "user", 1, out0(a), NULL);
    mof_value *va = out0(a), *vb = out0(b);
    mof_test_add_output(g, out0(user));
    mof_test_add_output(g, va);
    ck_assert(!mof_value_has_type(vb));
    const int64_t d[2] = {1, 4};
    ck_assert_int_eq(mof_value_set_type(va, MOF_DTYPE_FLOAT, 2, d, NULL), MOF_OK);

    ck_assert(mof_value_can_replace(va, vb));
    ck_assert_int_eq(mof_value_replace_uses(va, vb), MOF_OK);
    /* vb took a's place in the outputs, with its name; a got a fresh name. */
    ck_assert_ptr_eq(mof_graph_output(g, 1), vb);
    ck_assert_ptr_eq(mof_graph_output(g, 0), out0(user));
    ck_assert(mof_value_is_graph_output(vb));
    ck_assert(!mof_value_is_graph_output(va));
    ck_assert_str_eq(mof_value_name(vb), "a");
    ck_assert_str_ne(mof_value_name(va), "a");
    ck_assert_str_ne(mof_value_name(va), "b");
    ck_assert_ptr_eq(mof_graph_find_value(g, "a"), vb);
    ck_assert_ptr_eq(mof_graph_find_value(g, mof_value_name(va)), va);
    ck_assert_ptr_null(mof_graph_find_value(g, "b"));
    /* The uses moved too, and the declared type came along. */
    expect_uses(va, 0);
    expect_uses(vb, 1, user, 0);
    ck_assert_ptr_eq(mof_node_input(user, 0), vb);
    ck_assert(mof_value_has_type(vb));
    ck_assert_int_eq(mof_value_rank(vb), 2);
    expect_verify_ok(g);

    /* The old producer is now dead and removable. */
    ck_assert_int_eq(mof_graph_remove_node(g, a), MOF_OK);
    expect_order(g, 2, b, user);
    expect_uses(x, 1, b, 0);

    /* A graph output listed twice moves both listings. */
    mof_node *c = add_node(g, "Neg", "c", 1, x, NULL);
    mof_node *e = add_node(g, "Abs", "e", 1, x, NULL);
    mof_test_add_output(g, out0(c));
    mof_test_add_output(g, out0(c));
    ck_assert_int_eq(mof_value_replace_uses(out0(c), out0(e)), MOF_OK);
    ck_assert_ptr_eq(mof_graph_output(g, 2), out0(e));
    ck_assert_ptr_eq(mof_graph_output(g, 3), out0(e));
    ck_assert(!mof_value_is_graph_output(out0(c)));
    ck_assert_str_eq(mof_value_name(out0(e)), "c");
    ck_assert_int_eq(mof_graph_remove_node(g, c), MOF_OK);
    expect_verify_ok(g);
}
END_TEST

START_TEST(test_replace_uses_refused)
{
    mof_value *x = add_input(g, "x");
    mof_value *w = mof_test_add_weight(g, "w", 4);
    mof_node *a = add_node(g, "Add", "a", 2, x, w);
    mof_node *o = add_node(g, "Relu", "o", 1, out0(a), NULL);
    mof_node *o2 = add_node(g, "Relu", "o2", 1, out0(a), NULL);
    mof_test_add_output(g, out0(o));
    mof_test_add_output(g, out0(o2));

    /* input -> output: the graph input would have to change its name. */
    ck_assert(!mof_value_can_replace(out0(o), x));
    ck_assert_int_eq(mof_value_replace_uses(out0(o), x), MOF_ERR_INVALID_ARG);
    /* initializer -> output. */
    ck_assert(!mof_value_can_replace(out0(o), w));
    ck_assert_int_eq(mof_value_replace_uses(out0(o), w), MOF_ERR_INVALID_ARG);
    /* output -> output. */
    ck_assert(!mof_value_can_replace(out0(o), out0(o2)));
    ck_assert_int_eq(mof_value_replace_uses(out0(o), out0(o2)), MOF_ERR_INVALID_ARG);
    /* A value of another model is not visible here. */
    mof_model *other = mof_model_create(ctx);
    mof_value *ox = add_input(mof_model_graph(other), "ox");
    ck_assert(!mof_value_can_replace(x, ox));
    ck_assert_int_eq(mof_value_replace_uses(x, ox), MOF_ERR_INVALID_ARG);
    mof_model_destroy(other);

    /* Nothing changed. */
    ck_assert_str_eq(mof_value_name(out0(o)), "o");
    ck_assert_str_eq(mof_value_name(x), "x");
    ck_assert_str_eq(mof_value_name(w), "w");
    ck_assert_ptr_eq(mof_graph_output(g, 0), out0(o));
    expect_uses(x, 1, a, 0);
    expect_uses(w, 1, a, 1);
    expect_uses(out0(a), 2, o, 0, o2, 0);

    /* Plain uses may move to an initializer or an input. */
    ck_assert(mof_value_can_replace(out0(a), w));
    ck_assert_int_eq(mof_value_replace_uses(out0(a), x), MOF_OK);
    expect_uses(x, 3, a, 0, o, 0, o2, 0);
    expect_verify_ok(g);
}
END_TEST

/* ------------------------------------------------------------------ removing, moving */

START_TEST(test_remove_node)
{
    mof_value *x = add_input(g, "x");
    mof_node *a = add_node(g, "Relu", "a", 1, x, NULL);
    mof_node *b = add_node(g, "Add", "b", 2, out0(a), x);
    mof_node *c = add_node(g, "Neg", "c", 1, out0(b), NULL);
    mof_test_add_output(g, out0(c));
    uint32_t max_id = mof_node_id(c);

    /* Refused while its output is used or is a graph output. */
    ck_assert_int_eq(mof_graph_remove_node(g, a), MOF_ERR_INVALID_ARG);
    ck_assert_int_eq(mof_graph_remove_node(g, b), MOF_ERR_INVALID_ARG);
    ck_assert_int_eq(mof_graph_remove_node(g, c), MOF_ERR_INVALID_ARG);
    expect_order(g, 3, a, b, c);
    expect_uses(x, 2, a, 0, b, 1);

    /* Detach c's input: b is dead, then a. */
    ck_assert_int_eq(mof_node_set_input(c, 0, x), MOF_OK);
    expect_uses(x, 3, a, 0, b, 1, c, 0);
    ck_assert_int_eq(mof_graph_remove_node(g, b), MOF_OK);
    expect_order(g, 2, a, c);
    expect_uses(x, 2, a, 0, c, 0);
    expect_uses(out0(a), 0);
    ck_assert_ptr_null(mof_graph_find_value(g, "b"));
    ck_assert_int_eq(mof_graph_remove_node(g, a), MOF_OK);
    expect_order(g, 1, c);
    expect_uses(x, 1, c, 0);
    ck_assert_ptr_null(mof_graph_find_value(g, "a"));
    expect_verify_ok(g);

    /* Ids are never reused; a removed node's output name is free again. */
    mof_node *d = add_node(g, "Relu", "a", 1, x, NULL);
    ck_assert_uint_gt(mof_node_id(d), max_id);
    ck_assert_str_eq(mof_value_name(out0(d)), "a");

    /* A node with an omitted output and one with several. */
    mof_node *s = mof_graph_add_node(g, MOF_INSERT_AFTER, NULL, "Split", NULL, "s", 1, &x, 2);
    ck_assert_int_eq(mof_node_set_input(d, 0, mof_node_output(s, 1)), MOF_OK);
    ck_assert_int_eq(mof_graph_remove_node(g, s), MOF_ERR_INVALID_ARG);
    ck_assert_int_eq(mof_node_set_input(d, 0, x), MOF_OK);
    ck_assert_int_eq(mof_graph_remove_node(g, s), MOF_OK);
    ck_assert_ptr_null(mof_graph_find_value(g, "s_out0"));
    ck_assert_ptr_null(mof_graph_find_value(g, "s_out1"));
    expect_uses(x, 2, c, 0, d, 0);
    expect_verify_ok(g);
}
END_TEST

START_TEST(test_move_node)
{
    mof_value *x = add_input(g, "x");
    mof_node *a = add_node(g, "Relu", "a", 1, x, NULL);
    mof_node *b = add_node(g, "Neg", "b", 1, x, NULL);
    mof_node *c = add_node(g, "Abs", "c", 1, x, NULL);
    mof_node *d = add_node(g, "Exp", "d", 1, x, NULL);

    ck_assert_int_eq(mof_graph_move_node(g, d, MOF_INSERT_BEFORE, a), MOF_OK);
    expect_order(g, 4, d, a, b, c);
    ck_assert_int_eq(mof_graph_move_node(g, d, MOF_INSERT_AFTER, b), MOF_OK);
    expect_order(g, 4, a, b, d, c);
    ck_assert_int_eq(mof_graph_move_node(g, a, MOF_INSERT_AFTER, NULL), MOF_OK);
    expect_order(g, 4, b, d, c, a);
    ck_assert_int_eq(mof_graph_move_node(g, a, MOF_INSERT_BEFORE, NULL), MOF_OK);
    expect_order(g, 4, a, b, d, c);
    ck_assert_int_eq(mof_graph_move_node(g, c, MOF_INSERT_AFTER, c), MOF_ERR_INVALID_ARG);
    expect_order(g, 4, a, b, d, c);
    /* Moving changes no use. */
    expect_uses(x, 4, a, 0, b, 0, c, 0, d, 0);
    expect_verify_ok(g);
}
END_TEST

START_TEST(test_initializers)
{
    mof_value *x = add_input(g, "x");
    mof_value *w = mof_test_add_weight(g, "w", 4);
    mof_value *w2 = mof_test_add_weight(g, "w", 2);
    mof_value *b = mof_test_add_weight(g, "b", 1);
    ck_assert_str_eq(mof_value_name(w), "w");
    ck_assert_str_ne(mof_value_name(w2), "w");
    ck_assert_ptr_eq(mof_graph_find_value(g, mof_value_name(w2)), w2);
    ck_assert_uint_eq(mof_graph_n_initializers(g), 3);
    ck_assert(mof_value_has_type(w));
    ck_assert_int_eq(mof_value_dtype(w), MOF_DTYPE_FLOAT);
    ck_assert_int_eq(mof_value_rank(w), 1);
    ck_assert_int_eq(mof_value_dim(w, 0), 4);
    ck_assert_int_eq(mof_value_dim(w, 1), MOF_DIM_UNKNOWN);

    mof_node *n = add_node(g, "Add", "n", 2, x, w2);
    ck_assert_int_eq(mof_graph_remove_initializer(g, w2), MOF_ERR_INVALID_ARG); /* used */
    ck_assert_int_eq(mof_graph_remove_initializer(g, x), MOF_ERR_INVALID_ARG);  /* not one */
    ck_assert_int_eq(mof_graph_remove_initializer(g, out0(n)), MOF_ERR_INVALID_ARG);
    mof_test_add_output(g, b);
    ck_assert_int_eq(mof_graph_remove_initializer(g, b), MOF_ERR_INVALID_ARG); /* output */
    ck_assert_uint_eq(mof_graph_n_initializers(g), 3);

    ck_assert_int_eq(mof_graph_remove_initializer(g, w), MOF_OK);
    ck_assert_uint_eq(mof_graph_n_initializers(g), 2);
    ck_assert_ptr_eq(mof_graph_initializer(g, 0), w2);
    ck_assert_ptr_eq(mof_graph_initializer(g, 1), b);
    ck_assert_ptr_null(mof_graph_find_value(g, "w"));

    ck_assert_int_eq(mof_node_set_input(n, 1, x), MOF_OK);
    ck_assert_int_eq(mof_graph_remove_initializer(g, w2), MOF_OK);
    ck_assert_uint_eq(mof_graph_n_initializers(g), 1);
    ck_assert_ptr_eq(mof_graph_initializer(g, 0), b);

    /* Replacing an initializer's tensor updates a declared type. */
    const int64_t d3[2] = {3, 1};
    ck_assert_int_eq(mof_value_set_type(b, MOF_DTYPE_FLOAT, 1, (const int64_t[]){1}, NULL), MOF_OK);
    mof_tensor *t = mof_tensor_create(MOF_DTYPE_INT64, 2, d3);
    ck_assert_int_eq(mof_value_set_tensor(b, t), MOF_OK);
    ck_assert_ptr_eq(mof_value_tensor(b), t);
    ck_assert_int_eq(mof_value_dtype(b), MOF_DTYPE_INT64);
    ck_assert_int_eq(mof_value_rank(b), 2);
    ck_assert_int_eq(mof_value_dim(b, 0), 3);
    mof_tensor *t2 = mof_tensor_create(MOF_DTYPE_INT64, 2, d3);
    ck_assert_int_eq(mof_value_set_tensor(x, t2), MOF_ERR_INVALID_ARG); /* not an initializer */
    mof_tensor_unref(t2);
    ck_assert_int_eq(mof_value_set_tensor(b, NULL), MOF_ERR_INVALID_ARG);
    ck_assert_ptr_null(mof_graph_add_initializer(g, "nothing", NULL));
    expect_verify_ok(g);
}
END_TEST

START_TEST(test_unique_name)
{
    mof_value *x = add_input(g, "x");
    add_node(g, "Relu", "r", 1, x, NULL);
    char *s = mof_graph_unique_name(g, "free");
    ck_assert_str_eq(s, "free");
    free(s);
    for (int i = 0; i < 3; i++) {
        char *u = mof_graph_unique_name(g, "x");
        ck_assert_ptr_nonnull(u);
        ck_assert_str_ne(u, "x");
        ck_assert_ptr_null(mof_graph_find_value(g, u));
        /* Take it, so the next call must find another. */
        ck_assert_ptr_nonnull(mof_graph_new_value(g, u));
        free(u);
    }
    s = mof_graph_unique_name(g, "r");
    ck_assert_str_ne(s, "r");
    free(s);
    s = mof_graph_unique_name(g, NULL);
    ck_assert_str_eq(s, "v");
    free(s);
    s = mof_graph_unique_name(g, "");
    ck_assert_str_eq(s, "v");
    free(s);
    mof_graph_new_value(g, "v");
    s = mof_graph_unique_name(g, "");
    ck_assert_str_ne(s, "v");
    ck_assert_ptr_null(mof_graph_find_value(g, s));
    free(s);
}
END_TEST

START_TEST(test_value_names_types)
{
    mof_value *x = add_input(g, "x");
    mof_node *a = add_node(g, "Relu", "a", 1, x, NULL);
    mof_value *va = out0(a);

    ck_assert_int_eq(mof_value_set_name(va, "x"), MOF_ERR_INVALID_ARG);
    ck_assert_int_eq(mof_value_set_name(va, ""), MOF_ERR_INVALID_ARG);
    ck_assert_int_eq(mof_value_set_name(va, NULL), MOF_ERR_INVALID_ARG);
    ck_assert_str_eq(mof_value_name(va), "a");
    ck_assert_int_eq(mof_value_set_name(va, "relu_out"), MOF_OK);
    ck_assert_str_eq(mof_value_name(va), "relu_out");
    ck_assert_ptr_eq(mof_graph_find_value(g, "relu_out"), va);
    ck_assert_ptr_null(mof_graph_find_value(g, "a"));
    /* The node keeps its name. */
    ck_assert_str_eq(mof_node_name(a), "a");
    ck_assert_int_eq(mof_node_set_name(a, "renamed"), MOF_OK);
    ck_assert_str_eq(mof_node_name(a), "renamed");
    ck_assert_int_eq(mof_node_set_name(a, NULL), MOF_OK);
    ck_assert_str_eq(mof_node_name(a), "");
    expect_verify_ok(g);

    /* Types: none yet; then a shape with a number, a symbol and an unknown dim. */
    ck_assert(!mof_value_has_type(va));
    ck_assert_int_eq(mof_value_dtype(va), MOF_DTYPE_UNDEFINED);
    ck_assert_int_eq(mof_value_rank(va), -1);
    ck_assert_int_eq(mof_value_dim(va, 0), MOF_DIM_UNKNOWN);
    const int64_t dims[3] = {-1, 3, -1};
    const char *syms[3] = {"N", NULL, NULL};
    ck_assert_int_eq(mof_value_set_type(va, MOF_DTYPE_INT8, 3, dims, syms), MOF_OK);
    ck_assert(mof_value_has_type(va));
    ck_assert_int_eq(mof_value_dtype(va), MOF_DTYPE_INT8);
    ck_assert_int_eq(mof_value_rank(va), 3);
    ck_assert_int_eq(mof_value_dim(va, 0), MOF_DIM_UNKNOWN);
    ck_assert_str_eq(mof_value_dim_symbol(va, 0), "N");
    ck_assert_int_eq(mof_value_dim(va, 1), 3);
    ck_assert_ptr_null(mof_value_dim_symbol(va, 1));
    ck_assert_int_eq(mof_value_dim(va, 2), MOF_DIM_UNKNOWN);
    ck_assert_ptr_null(mof_value_dim_symbol(va, 2));
    ck_assert_int_eq(mof_value_dim(va, 3), MOF_DIM_UNKNOWN);
    ck_assert_ptr_null(mof_value_dim_symbol(va, 3));

    /* Unknown rank; a scalar. */
    ck_assert_int_eq(mof_value_set_type(x, MOF_DTYPE_BOOL, -1, NULL, NULL), MOF_OK);
    ck_assert(mof_value_has_type(x));
    ck_assert_int_eq(mof_value_rank(x), -1);
    ck_assert_int_eq(mof_value_set_type(x, MOF_DTYPE_DOUBLE, 0, NULL, NULL), MOF_OK);
    ck_assert_int_eq(mof_value_rank(x), 0);
    ck_assert_int_eq(mof_value_dtype(x), MOF_DTYPE_DOUBLE);

    /* Copying a type: from a declared type, and from an initializer's tensor. */
    ck_assert_int_eq(mof_value_copy_type(x, va), MOF_OK);
    ck_assert_int_eq(mof_value_dtype(x), MOF_DTYPE_INT8);
    ck_assert_int_eq(mof_value_rank(x), 3);
    ck_assert_str_eq(mof_value_dim_symbol(x, 0), "N");
    ck_assert_ptr_ne(mof_value_dim_symbol(x, 0), mof_value_dim_symbol(va, 0));
    mof_value *w = mof_test_add_weight(g, "w", 5);
    ck_assert_int_eq(mof_value_copy_type(va, w), MOF_OK);
    ck_assert_int_eq(mof_value_dtype(va), MOF_DTYPE_FLOAT);
    ck_assert_int_eq(mof_value_rank(va), 1);
    ck_assert_int_eq(mof_value_dim(va, 0), 5);
    ck_assert_ptr_null(mof_value_dim_symbol(va, 0));
}
END_TEST

/* ------------------------------------------------------------------ attributes */

START_TEST(test_attrs_scalar)
{
    mof_value *x = add_input(g, "x");
    mof_node *n = add_node(g, "Conv", "n", 1, x, NULL);
    ck_assert_uint_eq(mof_node_n_attrs(n), 0);
    ck_assert_int_eq(mof_node_attr_type(n, "group"), MOF_ATTR_UNDEFINED);
    ck_assert(!mof_node_has_attr(n, "group"));
    ck_assert_int_eq(mof_node_attr_int(n, "group", 42), 42);

    const int64_t pads[4] = {1, 2, 3, 4};
    const float scales[2] = {0.5f, 2.0f};
    const int64_t dims[1] = {2};
    mof_tensor *t = mof_tensor_create_from(MOF_DTYPE_FLOAT, 1, dims, scales);
    ck_assert_int_eq(mof_node_set_attr_int(n, "group", 3), MOF_OK);
    ck_assert_int_eq(mof_node_set_attr_float(n, "alpha", 0.25f), MOF_OK);
    ck_assert_int_eq(mof_node_set_attr_string(n, "auto_pad", "SAME_UPPER"), MOF_OK);
    ck_assert_int_eq(mof_node_set_attr_ints(n, "pads", 4, pads), MOF_OK);
    ck_assert_int_eq(mof_node_set_attr_floats(n, "scales", 2, scales), MOF_OK);
    ck_assert_int_eq(mof_node_set_attr_tensor(n, "value", t), MOF_OK);
    ck_assert_int_eq(mof_node_set_attr_ints(n, "empty", 0, NULL), MOF_OK);

    ck_assert_uint_eq(mof_node_n_attrs(n), 7);
    const char *names[7] = {"group", "alpha", "auto_pad", "pads", "scales", "value", "empty"};
    for (size_t i = 0; i < 7; i++)
        ck_assert_str_eq(mof_node_attr_name(n, i), names[i]);
    ck_assert_str_eq(mof_node_attr_name(n, 7), "");

    ck_assert_int_eq(mof_node_attr_type(n, "group"), MOF_ATTR_INT);
    ck_assert_int_eq(mof_node_attr_type(n, "alpha"), MOF_ATTR_FLOAT);
    ck_assert_int_eq(mof_node_attr_type(n, "auto_pad"), MOF_ATTR_STRING);
    ck_assert_int_eq(mof_node_attr_type(n, "pads"), MOF_ATTR_INTS);
    ck_assert_int_eq(mof_node_attr_type(n, "scales"), MOF_ATTR_FLOATS);
    ck_assert_int_eq(mof_node_attr_type(n, "value"), MOF_ATTR_TENSOR);
    ck_assert(mof_node_has_attr(n, "value"));

    ck_assert_int_eq(mof_node_attr_int(n, "group", -1), 3);
    ck_assert(mof_node_attr_float(n, "alpha", -1) == 0.25f);
    size_t size = 0;
    ck_assert_str_eq(mof_node_attr_string(n, "auto_pad", NULL, &size), "SAME_UPPER");
    ck_assert_uint_eq(size, 10);
    size_t count = 0;
    const int64_t *gp = mof_node_attr_ints(n, "pads", &count);
    ck_assert_uint_eq(count, 4);
    ck_assert_ptr_ne(gp, pads);
    ck_assert_mem_eq(gp, pads, sizeof(pads));
    const float *gs = mof_node_attr_floats(n, "scales", &count);
    ck_assert_uint_eq(count, 2);
    ck_assert_mem_eq(gs, scales, sizeof(scales));
    ck_assert_ptr_eq(mof_node_attr_tensor(n, "value"), t);
    ck_assert_ptr_nonnull(mof_node_attr_ints(n, "empty", &count));
    ck_assert_uint_eq(count, 0);
    /* The attribute owns the only reference it was given. */
    ck_assert_int_eq(t->refcount, 1);

    /* Absent or of another type: the default. */
    ck_assert_int_eq(mof_node_attr_int(n, "alpha", 7), 7);
    ck_assert(mof_node_attr_float(n, "group", 1.5f) == 1.5f);
    ck_assert_str_eq(mof_node_attr_string(n, "group", "dflt", &size), "dflt");
    ck_assert_uint_eq(size, 4);
    ck_assert_ptr_null(mof_node_attr_string(n, "nope", NULL, &size));
    ck_assert_uint_eq(size, 0);
    count = 9;
    ck_assert_ptr_null(mof_node_attr_ints(n, "scales", &count));
    ck_assert_uint_eq(count, 0);
    count = 9;
    ck_assert_ptr_null(mof_node_attr_floats(n, "pads", &count));
    ck_assert_uint_eq(count, 0);
    ck_assert_ptr_null(mof_node_attr_tensor(n, "group"));
    ck_assert_ptr_null(mof_node_attr_graph(n, "value"));

    /* Setting replaces in place, whatever the old type. */
    ck_assert_int_eq(mof_node_set_attr_float(n, "group", 2.0f), MOF_OK);
    ck_assert_uint_eq(mof_node_n_attrs(n), 7);
    ck_assert_str_eq(mof_node_attr_name(n, 0), "group");
    ck_assert_int_eq(mof_node_attr_type(n, "group"), MOF_ATTR_FLOAT);
    ck_assert_int_eq(mof_node_attr_int(n, "group", -1), -1);
    ck_assert_int_eq(mof_node_set_attr_string(n, "value", NULL), MOF_OK); /* drops t */
    ck_assert_str_eq(mof_node_attr_string(n, "value", "x", &size), "");
    ck_assert_uint_eq(size, 0);
    ck_assert_int_eq(mof_node_set_attr_tensor(n, "t", NULL), MOF_ERR_INVALID_ARG);

    /* Removing keeps the order of the others. */
    ck_assert_int_eq(mof_node_remove_attr(n, "auto_pad"), MOF_OK);
    ck_assert_int_eq(mof_node_remove_attr(n, "auto_pad"), MOF_UNCHANGED);
    ck_assert_uint_eq(mof_node_n_attrs(n), 6);
    ck_assert_str_eq(mof_node_attr_name(n, 1), "alpha");
    ck_assert_str_eq(mof_node_attr_name(n, 2), "pads");
    ck_assert_str_eq(mof_node_attr_name(n, 5), "empty");
    ck_assert(!mof_node_has_attr(n, "auto_pad"));
    ck_assert_uint_eq(mof_node_n_subgraphs(n), 0);
    ck_assert_ptr_null(mof_node_subgraph(n, 0));
}
END_TEST

/* Appends an attribute of a type that only the reader makes. The pointer is valid
 * until the next attribute is appended (find_attr fetches it again). */
static mof_attr *raw_attr(mof_node *n, const char *name, mof_attr_type type, size_t count)
{
    mof_attr *a = mof_node_append_attr(n);
    ck_assert_ptr_nonnull(a);
    a->name = mof_strdup(name);
    a->type = type;
    a->has_type = true;
    a->n = count;
    return a;
}

static mof_attr *find_attr(const mof_node *n, const char *name)
{
    for (size_t i = 0; i < n->n_attrs; i++) {
        if (n->attrs[i].name && !strcmp(n->attrs[i].name, name))
            return &n->attrs[i];
    }
    ck_abort_msg("node '%s' has no attribute '%s'", mof_node_name(n), name);
    return NULL;
}

START_TEST(test_attrs_copy_every_type)
{
    mof_value *x = add_input(g, "x");
    mof_node *src = add_node(g, "Custom", "src", 1, x, NULL);
    mof_node *dst = add_node(g, "Custom", "dst", 1, x, NULL);
    const int64_t ints[3] = {1, 2, 3};
    const float floats[2] = {1.5f, -2.0f};
    const int64_t one = 1;
    ck_assert_int_eq(mof_node_set_attr_int(src, "i", 5), MOF_OK);
    ck_assert_int_eq(mof_node_set_attr_float(src, "f", 0.5f), MOF_OK);
    ck_assert_int_eq(mof_node_set_attr_string(src, "s", "text"), MOF_OK);
    ck_assert_int_eq(mof_node_set_attr_ints(src, "ints", 3, ints), MOF_OK);
    ck_assert_int_eq(mof_node_set_attr_floats(src, "floats", 2, floats), MOF_OK);
    mof_tensor *t = mof_tensor_create_from(MOF_DTYPE_FLOAT, 1, &one, floats);
    ck_assert_int_eq(mof_node_set_attr_tensor(src, "t", t), MOF_OK);

    /* STRINGS, TENSORS, GRAPH and GRAPHS through the internal representation. */
    mof_attr *a = raw_attr(src, "strings", MOF_ATTR_STRINGS, 2);
    a->strings = calloc(2, sizeof(mof_string));
    a->strings[0].data = mof_strdup("ab");
    a->strings[0].size = 2;
    a->strings[1].data = malloc(1);
    a->strings[1].size = 0;
    a = raw_attr(src, "tensors", MOF_ATTR_TENSORS, 2);
    a->tensors = calloc(2, sizeof(mof_tensor *));
    a->tensors[0] = mof_tensor_ref(t);
    a->tensors[1] = mof_tensor_create(MOF_DTYPE_INT32, 1, &one);
    a = raw_attr(src, "body", MOF_ATTR_GRAPH, 0);
    a->has_value = true;
    mof_graph *body = a->g = mof_graph_new(model, src);
    body->name = mof_strdup("body");
    mof_value *bi = add_input(body, "bi");
    mof_node *bn = add_node(body, "Neg", "bn", 1, bi, NULL);
    mof_test_add_output(body, out0(bn));
    a = raw_attr(src, "branches", MOF_ATTR_GRAPHS, 2);
    mof_graph **branches = a->graphs = calloc(2, sizeof(mof_graph *));
    for (int k = 0; k < 2; k++) {
        branches[k] = mof_graph_new(model, src);
        char nm[8];
        snprintf(nm, sizeof(nm), "br%d", k);
        branches[k]->name = mof_strdup(nm);
        mof_value *in = mof_graph_new_value(branches[k], nm);
        ck_assert_int_eq(mof_graph_list_input(branches[k], in, NULL, NULL), MOF_OK);
        mof_test_add_output(branches[k], in);
    }
    const mof_attr *as = find_attr(src, "strings"), *at = find_attr(src, "tensors");
    ck_assert_int_eq(t->refcount, 2);
    ck_assert_int_eq(mof_node_attr_type(src, "strings"), MOF_ATTR_STRINGS);
    ck_assert_int_eq(mof_node_attr_type(src, "body"), MOF_ATTR_GRAPH);
    ck_assert_ptr_eq(mof_node_attr_graph(src, "body"), body);
    ck_assert_uint_eq(mof_node_n_subgraphs(src), 3);
    ck_assert_ptr_eq(mof_node_subgraph(src, 0), body);
    ck_assert_ptr_eq(mof_node_subgraph(src, 2), branches[1]);
    ck_assert_ptr_null(mof_node_subgraph(src, 3));
    expect_verify_ok(g);

    /* dst has an attribute of the same name: replaced, not duplicated. */
    ck_assert_int_eq(mof_node_set_attr_string(dst, "i", "old"), MOF_OK);
    ck_assert_int_eq(mof_node_set_attr_int(dst, "keep", 9), MOF_OK);
    ck_assert_int_eq(mof_node_copy_attrs(dst, src), MOF_OK);
    ck_assert_uint_eq(mof_node_n_attrs(dst), 1 + mof_node_n_attrs(src));
    ck_assert_int_eq(mof_node_attr_int(dst, "keep", 0), 9);
    ck_assert_int_eq(mof_node_attr_int(dst, "i", 0), 5);
    ck_assert(mof_node_attr_float(dst, "f", 0) == 0.5f);
    ck_assert_str_eq(mof_node_attr_string(dst, "s", NULL, NULL), "text");
    ck_assert_ptr_ne(mof_node_attr_string(dst, "s", NULL, NULL),
                     mof_node_attr_string(src, "s", NULL, NULL));
    size_t count;
    const int64_t *ci = mof_node_attr_ints(dst, "ints", &count);
    ck_assert_uint_eq(count, 3);
    ck_assert_ptr_ne(ci, mof_node_attr_ints(src, "ints", &count));
    ck_assert_mem_eq(ci, ints, sizeof(ints));
    const float *cf = mof_node_attr_floats(dst, "floats", &count);
    ck_assert_uint_eq(count, 2);
    ck_assert_mem_eq(cf, floats, sizeof(floats));
    /* Tensors are shared, not copied. */
    ck_assert_ptr_eq(mof_node_attr_tensor(dst, "t"), t);
    ck_assert_int_eq(t->refcount, 4);

    const mof_attr *cs = find_attr(dst, "strings"), *ct = find_attr(dst, "tensors");
    const mof_attr *cgg = find_attr(dst, "branches");
    ck_assert_int_eq(cs->type, MOF_ATTR_STRINGS);
    ck_assert_uint_eq(cs->n, 2);
    ck_assert_ptr_ne(cs->strings[0].data, as->strings[0].data);
    ck_assert_uint_eq(cs->strings[0].size, 2);
    ck_assert_mem_eq(cs->strings[0].data, "ab", 2);
    ck_assert_uint_eq(cs->strings[1].size, 0);
    ck_assert_int_eq(ct->type, MOF_ATTR_TENSORS);
    ck_assert_uint_eq(ct->n, 2);
    ck_assert_ptr_eq(ct->tensors[0], t);
    ck_assert_ptr_eq(ct->tensors[1], at->tensors[1]);

    /* Subgraphs are deep copies owned by dst. */
    mof_graph *cb = mof_node_attr_graph(dst, "body");
    ck_assert_ptr_nonnull(cb);
    ck_assert_ptr_ne(cb, body);
    ck_assert_ptr_eq(mof_graph_parent(cb), dst);
    ck_assert_ptr_eq(mof_graph_model(cb), model);
    ck_assert_str_eq(mof_graph_name(cb), "body");
    ck_assert_uint_eq(mof_graph_n_nodes(cb), 1);
    ck_assert_str_eq(mof_node_name(mof_graph_first_node(cb)), "bn");
    ck_assert_ptr_ne(mof_graph_first_node(cb), bn);
    ck_assert_ptr_ne(mof_graph_input(cb, 0), bi);
    ck_assert_str_eq(mof_value_name(mof_graph_input(cb, 0)), "bi");
    ck_assert_ptr_eq(mof_node_input(mof_graph_first_node(cb), 0), mof_graph_input(cb, 0));
    ck_assert_int_eq(cgg->type, MOF_ATTR_GRAPHS);
    ck_assert_uint_eq(cgg->n, 2);
    ck_assert_ptr_ne(cgg->graphs[0], branches[0]);
    ck_assert_ptr_eq(mof_graph_parent(cgg->graphs[1]), dst);
    ck_assert_str_eq(mof_graph_name(cgg->graphs[1]), "br1");
    ck_assert_uint_eq(mof_node_n_subgraphs(dst), 3);
    expect_verify_ok(g);

    /* Copying a node's attributes onto itself changes nothing. */
    size_t n_src = mof_node_n_attrs(src);
    ck_assert_int_eq(mof_node_copy_attrs(src, src), MOF_OK);
    ck_assert_uint_eq(mof_node_n_attrs(src), n_src);
    ck_assert_str_eq(mof_node_attr_name(src, 0), "i");
    ck_assert_int_eq(mof_node_attr_int(src, "i", 0), 5);
    ck_assert_ptr_eq(mof_node_attr_graph(src, "body"), body);
    ck_assert_uint_eq(mof_node_n_subgraphs(src), 3);

    /* Removing from the source leaves the copy. */
    ck_assert_int_eq(mof_node_remove_attr(src, "body"), MOF_OK);
    ck_assert_int_eq(mof_node_remove_attr(src, "t"), MOF_OK);
    ck_assert_int_eq(mof_node_remove_attr(src, "strings"), MOF_OK);
    ck_assert_int_eq(t->refcount, 3);
    ck_assert_uint_eq(mof_node_n_subgraphs(src), 2);
    ck_assert_ptr_eq(mof_node_attr_graph(dst, "body"), cb);
    ck_assert_str_eq(mof_node_name(mof_graph_first_node(cb)), "bn");
    ck_assert_mem_eq(cs->strings[0].data, "ab", 2);
    expect_verify_ok(g);
}
END_TEST

START_TEST(test_origins)
{
    mof_value *x = add_input(g, "x");
    mof_node *a = add_node(g, "Conv", "a", 1, x, NULL);
    mof_node *b = add_node(g, "Relu", "b", 1, out0(a), NULL);
    mof_node *f = add_node(g, "FusedConv", "f", 1, x, NULL);
    ck_assert_uint_eq(mof_node_n_origins(f), 0);
    ck_assert_ptr_null(mof_node_origin(f, 0));

    ck_assert_int_eq(mof_node_add_origin(a, "conv0"), MOF_OK);
    ck_assert_int_eq(mof_node_add_origin(a, "bn0"), MOF_OK);
    ck_assert_int_eq(mof_node_add_origin(a, "conv0"), MOF_OK); /* already there */
    ck_assert_uint_eq(mof_node_n_origins(a), 2);
    ck_assert_int_eq(mof_node_add_origin(b, "relu0"), MOF_OK);
    ck_assert_int_eq(mof_node_add_origin(b, "bn0"), MOF_OK);

    ck_assert_int_eq(mof_node_add_origins(f, a), MOF_OK);
    ck_assert_int_eq(mof_node_add_origins(f, b), MOF_OK);
    ck_assert_int_eq(mof_node_add_origins(f, a), MOF_OK);
    ck_assert_uint_eq(mof_node_n_origins(f), 3);
    ck_assert_str_eq(mof_node_origin(f, 0), "conv0");
    ck_assert_str_eq(mof_node_origin(f, 1), "bn0");
    ck_assert_str_eq(mof_node_origin(f, 2), "relu0");
    ck_assert_ptr_null(mof_node_origin(f, 3));
    /* Copies, not shared strings. */
    ck_assert_ptr_ne(mof_node_origin(f, 0), mof_node_origin(a, 0));
    /* The source is unchanged. */
    ck_assert_uint_eq(mof_node_n_origins(a), 2);
}
END_TEST

/* ------------------------------------------------------------------ verification */

/* x -> relu1 -> relu2 -> output; x also into add(x, relu2). */
static void build_small(mof_node **r1, mof_node **r2, mof_node **ad)
{
    mof_value *x = add_input(g, "x");
    *r1 = add_node(g, "Relu", "relu1", 1, x, NULL);
    *r2 = add_node(g, "Relu", "relu2", 1, out0(*r1), NULL);
    *ad = add_node(g, "Add", "add", 2, x, out0(*r2));
    mof_test_add_output(g, out0(*ad));
}

START_TEST(test_verify_good)
{
    mof_node *r1, *r2, *ad;
    build_small(&r1, &r2, &ad);
    mof_test_add_weight(g, "unused", 3);
    expect_verify_ok(g);
    ck_assert_uint_eq(mof_context_n_diags(ctx), 0);
}
END_TEST

START_TEST(test_verify_missing_use)
{
    mof_node *r1, *r2, *ad;
    build_small(&r1, &r2, &ad);
    mof_value *x = mof_graph_find_value(g, "x");
    /* Forget relu1's use of x. */
    ck_assert_ptr_eq(x->uses[0].node, r1);
    x->uses[0] = x->uses[1];
    x->n_uses--;
    expect_verify_fails(g, "node 'relu1' (Relu): use list of 'x' records input 0 0 times", NULL);
}
END_TEST

START_TEST(test_verify_extra_use)
{
    mof_node *r1, *r2, *ad;
    build_small(&r1, &r2, &ad);
    mof_value *v = out0(r1);
    /* A use by a node that does not read it, and a duplicate of a real one. */
    v->uses[0] = (mof_use){ad, 0};
    expect_verify_fails(g, "node 'add' (Add): use list of 'relu1' records input 0 1 times, "
                           "the node has it 0 times",
                        "node 'relu2' (Relu): use list of 'relu1' records input 0 0 times");
}
END_TEST

START_TEST(test_verify_node_names)
{
    mof_node *r1, *r2, *ad;
    build_small(&r1, &r2, &ad);
    /* Unnamed nodes are fine, two of one name are not (ONNX Runtime refuses them). */
    ck_assert_int_eq(mof_node_set_name(r1, ""), MOF_OK);
    ck_assert_int_eq(mof_node_set_name(r2, ""), MOF_OK);
    expect_verify_ok(g);
    ck_assert_int_eq(mof_node_set_name(r2, "add"), MOF_OK);
    expect_verify_fails(g, "another node of graph", NULL);
}
END_TEST

START_TEST(test_verify_duplicate_use)
{
    mof_node *r1, *r2, *ad;
    build_small(&r1, &r2, &ad);
    mof_value *v = out0(r1);
    ck_assert(MOF_GROW(v->uses, v->cap_uses, 2));
    v->uses[v->n_uses++] = (mof_use){r2, 0};
    expect_verify_fails(g, "node 'relu2' (Relu): use list of 'relu1' records input 0 2 times", NULL);
}
END_TEST

START_TEST(test_verify_order)
{
    mof_node *r1, *r2, *ad;
    build_small(&r1, &r2, &ad);
    /* The public API lets a pass reorder wrongly; verify must catch it. */
    ck_assert_int_eq(mof_graph_move_node(g, r2, MOF_INSERT_BEFORE, r1), MOF_OK);
    expect_verify_fails(g, "node 'relu2' (Relu): input 'relu1' is produced by node 'relu1', "
                           "which comes later", NULL);
    ck_assert_uint_eq(mof_context_n_errors(ctx), 1);
    ck_assert_int_eq(mof_graph_move_node(g, r2, MOF_INSERT_AFTER, r1), MOF_OK);
    mof_context_clear_diags(ctx);
    expect_verify_ok(g);

    /* A node reading its own output. */
    ck_assert_int_eq(mof_node_set_input(r1, 0, out0(r1)), MOF_OK);
    expect_verify_fails(g, "node 'relu1' (Relu): input 'relu1' is produced by node 'relu1'", NULL);
}
END_TEST

START_TEST(test_verify_corrupt_list)
{
    mof_node *r1, *r2, *ad;
    build_small(&r1, &r2, &ad);
    /* Unlink relu2 from the list behind the graph's back. */
    r1->next = ad;
    ad->prev = r1;
    expect_verify_fails(g, "graph 'main': node list holds 2 nodes, count says 3", NULL);
    r1->next = r2;
    ad->prev = r2;
    mof_context_clear_diags(ctx);
    expect_verify_ok(g);
    /* A node without an op type. */
    free(r2->op_type);
    r2->op_type = NULL;
    expect_verify_fails(g, "node 'relu2'", "node has no op type");
}
END_TEST

START_TEST(test_verify_values)
{
    mof_node *r1, *r2, *ad;
    build_small(&r1, &r2, &ad);
    /* An input defined nowhere (named by the model only). */
    mof_value *ghost = mof_graph_new_value(g, "ghost");
    ck_assert_int_eq(mof_node_set_input(ad, 2, ghost), MOF_OK);
    /* An output defined nowhere. */
    mof_value *gone = mof_graph_new_value(g, "gone");
    mof_test_add_output(g, gone);
    /* Initializer data that contradicts its declared type and shape. */
    mof_value *w = mof_test_add_weight(g, "w", 4);
    ck_assert_int_eq(mof_value_set_type(w, MOF_DTYPE_INT64, 1, (const int64_t[]){4}, NULL), MOF_OK);
    mof_value *w2 = mof_test_add_weight(g, "w2", 4);
    ck_assert_int_eq(mof_value_set_type(w2, MOF_DTYPE_FLOAT, 2, (const int64_t[]){2, 2}, NULL),
                     MOF_OK);
    mof_context_clear_diags(ctx);
    ck_assert_status(ctx, mof_graph_verify(ctx, g), MOF_ERR_VERIFY);
    /* Every violation is reported, not just the first. */
    ck_assert_uint_eq(mof_context_n_errors(ctx), 4);
    ck_assert(mof_test_diag_contains(ctx, "node 'add' (Add): input 2 ('ghost') is not defined "
                                          "anywhere"));
    ck_assert(mof_test_diag_contains(ctx, "graph 'main': output 'gone' is not defined anywhere"));
    ck_assert(mof_test_diag_contains(ctx, "graph 'main': initializer 'w' holds float data but "
                                          "is declared int64"));
    ck_assert(mof_test_diag_contains(ctx, "graph 'main': initializer 'w2' has a shape other "
                                          "than its declared one"));
    for (size_t i = 0; i < mof_context_n_diags(ctx); i++)
        ck_assert_int_eq(mof_context_diag(ctx, i)->status, MOF_ERR_VERIFY);
}
END_TEST

START_TEST(test_verify_wrong_graph)
{
    mof_node *r1, *r2, *ad;
    build_small(&r1, &r2, &ad);
    mof_model *other = mof_model_create(ctx);
    mof_value *ox = add_input(mof_model_graph(other), "ox");
    /* Plant a foreign value as an input, bypassing mof_node_set_input. */
    mof_value *old = r2->inputs[0];
    r2->inputs[0] = ox;
    expect_verify_fails(g, "node 'relu2' (Relu): input 0 ('ox') belongs to another graph", NULL);
    r2->inputs[0] = old;
    /* A producer link that does not match. */
    out0(r2)->producer_index = 3;
    expect_verify_fails(g, "node 'relu2' (Relu): output 0 ('relu2') names another producer",
                        "value 'relu2' names a producer that does not output it");
    out0(r2)->producer_index = 0;
    mof_context_clear_diags(ctx);
    expect_verify_ok(g);
    mof_model_destroy(other);
}
END_TEST

/* ------------------------------------------------------------------ matching */

/* x -> Conv -> BatchNormalization -> Relu, and a Sigmoid after it. */
static void build_chain(mof_node **conv, mof_node **bn, mof_node **relu, mof_node **sig)
{
    mof_value *x = add_input(g, "x");
    mof_value *w = mof_test_add_weight(g, "w", 4);
    *conv = add_node(g, "Conv", "conv", 2, x, w);
    *bn = add_node(g, "BatchNormalization", "bn", 1, out0(*conv), NULL);
    *relu = add_node(g, "Relu", "relu", 1, out0(*bn), NULL);
    *sig = add_node(g, "Sigmoid", "sig", 1, out0(*relu), NULL);
    mof_test_add_output(g, out0(*sig));
}

START_TEST(test_match_success)
{
    mof_node *conv, *bn, *relu, *sig;
    build_chain(&conv, &bn, &relu, &sig);
    const char *ops[3] = {"Conv", "BatchNormalization", "Relu"};
    mof_node *nodes[3] = {NULL, NULL, NULL};
    mof_match_failure why = {0};
    ck_assert(mof_match_chain(relu, 3, ops, nodes, &why));
    ck_assert_ptr_eq(nodes[0], conv);
    ck_assert_ptr_eq(nodes[1], bn);
    ck_assert_ptr_eq(nodes[2], relu);
    /* One op, and no failure record asked for. */
    ck_assert(mof_match_chain(sig, 1, (const char *const[]){"Sigmoid"}, nodes, NULL));
    ck_assert_ptr_eq(nodes[0], sig);
    /* A graph output at the end of the chain does not matter. */
    const char *ops2[2] = {"Relu", "Sigmoid"};
    ck_assert(mof_match_chain(sig, 2, ops2, nodes, &why));
    ck_assert_ptr_eq(nodes[0], relu);
}
END_TEST

START_TEST(test_match_wrong_op)
{
    mof_node *conv, *bn, *relu, *sig;
    build_chain(&conv, &bn, &relu, &sig);
    mof_node *nodes[3];
    mof_match_failure why = {0};
    const char *ops[2] = {"Conv", "Relu"};
    ck_assert(!mof_match_chain(sig, 2, ops, nodes, &why));
    ck_assert_str_eq(why.reason, "expected Relu, found Sigmoid");
    ck_assert_uint_eq(why.matched, 0);
    ck_assert_ptr_eq(why.at, sig);
    /* Failing further up the chain. */
    ck_assert(!mof_match_chain(relu, 2, ops, nodes, &why));
    ck_assert_str_eq(why.reason, "expected Conv, found BatchNormalization");
    ck_assert_uint_eq(why.matched, 1);
    ck_assert_ptr_eq(why.at, bn);
    ck_assert(!mof_match_chain(relu, 0, ops, nodes, &why));
    ck_assert_str_eq(why.reason, "empty pattern");
    ck_assert(!mof_match_chain(sig, 2, ops, nodes, NULL));
    /* Ops are in the default domain only. */
    mof_node *ms = mof_graph_add_node(g, MOF_INSERT_AFTER, NULL, "Relu", "com.microsoft", "ms",
                                      1, (mof_value *const[]){out0(sig)}, 1);
    ck_assert(!mof_match_chain(ms, 1, (const char *const[]){"Relu"}, nodes, &why));
    ck_assert_ptr_eq(why.at, ms);
}
END_TEST

START_TEST(test_match_uses)
{
    mof_node *conv, *bn, *relu, *sig;
    build_chain(&conv, &bn, &relu, &sig);
    mof_node *nodes[3];
    mof_match_failure why = {0};
    const char *ops[3] = {"Conv", "BatchNormalization", "Relu"};
    /* A second reader of conv's output. */
    mof_node *other = add_node(g, "Neg", "other", 1, out0(conv), NULL);
    ck_assert(!mof_match_chain(relu, 3, ops, nodes, &why));
    ck_assert_str_eq(why.reason, "Conv output 'conv' has 2 uses");
    ck_assert_uint_eq(why.matched, 2);
    ck_assert_ptr_eq(why.at, conv);
    ck_assert_int_eq(mof_graph_remove_node(g, other), MOF_OK);
    ck_assert(mof_match_chain(relu, 3, ops, nodes, &why));

    /* A graph output in the middle of the chain. */
    mof_test_add_output(g, out0(bn));
    ck_assert(!mof_match_chain(relu, 3, ops, nodes, &why));
    ck_assert_str_eq(why.reason, "BatchNormalization output 'bn' is a graph output");
    ck_assert_uint_eq(why.matched, 1);
    ck_assert_ptr_eq(why.at, bn);
}
END_TEST

START_TEST(test_match_no_producer)
{
    mof_node *conv, *bn, *relu, *sig;
    build_chain(&conv, &bn, &relu, &sig);
    mof_node *nodes[3];
    mof_match_failure why = {0};
    const char *ops[2] = {"Relu", "Conv"};
    /* conv's input 0 is the graph input x. */
    ck_assert(!mof_match_chain(conv, 2, ops, nodes, &why));
    ck_assert_str_eq(why.reason, "input 'x' of Conv is not produced by a node");
    ck_assert_uint_eq(why.matched, 1);
    ck_assert_ptr_eq(why.at, conv);
    /* An omitted input 0. */
    ck_assert_int_eq(mof_node_set_input(bn, 0, NULL), MOF_OK);
    const char *ops2[2] = {"Conv", "BatchNormalization"};
    ck_assert(!mof_match_chain(bn, 2, ops2, nodes, &why));
    ck_assert_str_eq(why.reason, "BatchNormalization has no input 0");
    ck_assert_ptr_eq(why.at, bn);
}
END_TEST

/* ------------------------------------------------------------------ model-level */

START_TEST(test_opsets)
{
    ck_assert_int_eq(mof_model_set_opset(model, "ai.onnx", 17), MOF_OK);
    ck_assert_uint_eq(mof_model_n_opsets(model), 1);
    ck_assert_int_eq(mof_model_opset(model, ""), 17);
    ck_assert_str_eq(mof_model_opset_domain(model, 0), "");
    ck_assert_int_eq(mof_model_set_opset(model, "com.microsoft", 1), MOF_OK);
    ck_assert_int_eq(mof_model_set_opset(model, "ai.onnx.ml", 3), MOF_OK);
    ck_assert_uint_eq(mof_model_n_opsets(model), 3);
    ck_assert_str_eq(mof_model_opset_domain(model, 1), "com.microsoft");
    ck_assert_int_eq(mof_model_opset_version(model, 1), 1);
    ck_assert_str_eq(mof_model_opset_domain(model, 2), "ai.onnx.ml");
    ck_assert_int_eq(mof_model_opset_version(model, 2), 3);
    ck_assert_int_eq(mof_model_opset(model, "ai.onnx.ml"), 3);
    ck_assert_int_eq(mof_model_set_opset(model, "com.microsoft", 2), MOF_OK);
    ck_assert_uint_eq(mof_model_n_opsets(model), 3);
    ck_assert_int_eq(mof_model_opset(model, "com.microsoft"), 2);
    ck_assert_str_eq(mof_model_opset_domain(model, 3), "");
    ck_assert_int_eq(mof_model_opset_version(model, 3), -1);
    ck_assert_int_eq(mof_model_opset(model, "com.other"), -1);
}
END_TEST

START_TEST(test_metadata)
{
    ck_assert_ptr_null(mof_model_metadata_get(model, "a"));
    ck_assert_int_eq(mof_model_metadata_set(model, "a", "1"), MOF_OK);
    ck_assert_int_eq(mof_model_metadata_set(model, "b", "2"), MOF_OK);
    ck_assert_int_eq(mof_model_metadata_set(model, "a", "3"), MOF_OK);
    ck_assert_int_eq(mof_model_metadata_set(model, "c", NULL), MOF_OK);
    ck_assert_uint_eq(mof_model_n_metadata(model), 3);
    ck_assert_str_eq(mof_model_metadata_key(model, 0), "a");
    ck_assert_str_eq(mof_model_metadata_value(model, 0), "3");
    ck_assert_str_eq(mof_model_metadata_key(model, 1), "b");
    ck_assert_str_eq(mof_model_metadata_value(model, 1), "2");
    ck_assert_str_eq(mof_model_metadata_get(model, "a"), "3");
    ck_assert_str_eq(mof_model_metadata_get(model, "b"), "2");
    ck_assert_str_eq(mof_model_metadata_get(model, "c"), "");
    ck_assert_ptr_null(mof_model_metadata_get(model, "d"));
    ck_assert_str_eq(mof_model_metadata_key(model, 3), "");
    ck_assert_str_eq(mof_model_metadata_value(model, 3), "");
}
END_TEST

START_TEST(test_stats)
{
    mof_model_stats st;
    memset(&st, 0xff, sizeof(st));
    mof_model_get_stats(model, &st);
    ck_assert_uint_eq(st.n_nodes, 0);
    ck_assert_uint_eq(st.n_initializers, 0);
    ck_assert_int_eq(st.n_parameters, 0);
    ck_assert_int_eq(st.parameter_bytes, 0);

    mof_value *x = add_input(g, "x");
    mof_test_add_weight(g, "w", 6);
    const int64_t dims[2] = {2, 5};
    mof_graph_add_initializer(g, "i", mof_tensor_create(MOF_DTYPE_INT64, 2, dims));
    mof_graph_add_initializer(g, "s", mof_tensor_create(MOF_DTYPE_UINT8, 0, NULL));
    add_node(g, "Relu", "a", 1, x, NULL);
    add_node(g, "Relu", "b", 1, x, NULL);
    mof_model_get_stats(model, &st);
    ck_assert_uint_eq(st.n_nodes, 2);
    ck_assert_uint_eq(st.n_initializers, 3);
    ck_assert_int_eq(st.n_parameters, 6 + 10 + 1);
    ck_assert_int_eq(st.parameter_bytes, 24 + 80 + 1);
}
END_TEST

START_TEST(test_swap_contents)
{
    mof_value *x = add_input(g, "x");
    add_node(g, "Relu", "a", 1, x, NULL);
    ck_assert_int_eq(mof_model_set_opset(model, "", 18), MOF_OK);
    ck_assert_int_eq(mof_model_metadata_set(model, "k", "v"), MOF_OK);

    mof_model *other = mof_model_create(ctx);
    mof_graph *og = mof_model_graph(other);
    mof_value *y = add_input(og, "y");
    add_node(og, "Neg", "n1", 1, y, NULL);
    add_node(og, "Neg", "n2", 1, y, NULL);

    mof_model_swap_contents(model, other);
    ck_assert_ptr_eq(mof_model_graph(model), og);
    ck_assert_ptr_eq(mof_model_graph(other), g);
    ck_assert_ptr_eq(mof_graph_model(og), model);
    ck_assert_ptr_eq(mof_graph_model(g), other);
    ck_assert_ptr_eq(mof_model_context(model), ctx);
    ck_assert_ptr_eq(mof_model_context(other), ctx);
    ck_assert_uint_eq(mof_graph_n_nodes(mof_model_graph(model)), 2);
    ck_assert_int_eq(mof_model_opset(model, ""), 13);
    ck_assert_int_eq(mof_model_opset(other, ""), 18);
    ck_assert_ptr_null(mof_model_metadata_get(model, "k"));
    ck_assert_str_eq(mof_model_metadata_get(other, "k"), "v");
    /* The swapped graphs work as usual: new nodes land in the right model. */
    mof_node *n3 = add_node(mof_model_graph(model), "Neg", "n3", 1, y, NULL);
    ck_assert_ptr_eq(mof_graph_model(mof_node_graph(n3)), model);
    expect_verify_ok(mof_model_graph(model));
    expect_verify_ok(mof_model_graph(other));
    mof_model_destroy(other);

    /* Models of two contexts swap contents, not contexts. */
    mof_context *ctx2 = mof_context_create();
    mof_model *m2 = mof_model_create(ctx2);
    mof_model_swap_contents(model, m2);
    ck_assert_ptr_eq(mof_model_context(model), ctx);
    ck_assert_ptr_eq(mof_model_context(m2), ctx2);
    ck_assert_ptr_eq(mof_graph_model(mof_model_graph(m2)), m2);
    ck_assert_uint_eq(mof_graph_n_nodes(mof_model_graph(m2)), 3);
    mof_model_destroy(m2);
    mof_context_destroy(ctx2);
}
END_TEST

static Suite *ir_suite(void)
{
    Suite *s = suite_create("ir");
    TCase *tc = mof_test_tcase(s, "tensor", setup, teardown);
    tcase_add_test(tc, test_tensor_create);
    tcase_add_test(tc, test_tensor_create_from_dup_equal);
    tcase_add_test(tc, test_tensor_ref_unref);
    tcase_add_test(tc, test_tensor_string);
    tcase_add_test(tc, test_tensor_external);
    tcase_add_test(tc, test_tensor_overflow);

    tc = mof_test_tcase(s, "graph", setup, teardown);
    tcase_add_test(tc, test_model_defaults);
    tcase_add_test(tc, test_build_graph);
    tcase_add_test(tc, test_add_node_positions);
    tcase_add_test(tc, test_add_node_errors);
    tcase_add_test(tc, test_set_input_truncate);
    tcase_add_test(tc, test_replace_uses_plain);
    tcase_add_test(tc, test_replace_uses_graph_output);
    tcase_add_test(tc, test_replace_uses_refused);
    tcase_add_test(tc, test_remove_node);
    tcase_add_test(tc, test_move_node);
    tcase_add_test(tc, test_initializers);
    tcase_add_test(tc, test_unique_name);
    tcase_add_test(tc, test_value_names_types);

    tc = mof_test_tcase(s, "attr", setup, teardown);
    tcase_add_test(tc, test_attrs_scalar);
    tcase_add_test(tc, test_attrs_copy_every_type);
    tcase_add_test(tc, test_origins);

    tc = mof_test_tcase(s, "verify", setup, teardown);
    tcase_add_test(tc, test_verify_good);
    tcase_add_test(tc, test_verify_missing_use);
    tcase_add_test(tc, test_verify_extra_use);
    tcase_add_test(tc, test_verify_duplicate_use);
    tcase_add_test(tc, test_verify_node_names);
    tcase_add_test(tc, test_verify_order);
    tcase_add_test(tc, test_verify_corrupt_list);
    tcase_add_test(tc, test_verify_values);
    tcase_add_test(tc, test_verify_wrong_graph);

    tc = mof_test_tcase(s, "match", setup, teardown);
    tcase_add_test(tc, test_match_success);
    tcase_add_test(tc, test_match_wrong_op);
    tcase_add_test(tc, test_match_uses);
    tcase_add_test(tc, test_match_no_producer);

    tc = mof_test_tcase(s, "model", setup, teardown);
    tcase_add_test(tc, test_opsets);
    tcase_add_test(tc, test_metadata);
    tcase_add_test(tc, test_stats);
    tcase_add_test(tc, test_swap_contents);
    return s;
}

MOF_TEST_MAIN(ir_suite)
