/* test_onnx.c: the ONNX reader and writer, and atomic outputs.
 *
 * - Faithfulness: every model of the ONNX backend test data (Debian's
 *   libonnx-testdata) loads and saves to exactly the bytes protobuf-c packs from the
 *   unpacked original; so does a hand-made model full of unknown fields.
 * - Errors: broken files give NULL and exactly one diagnostic naming the file.
 * - External data: mapped, written back (kept, inlined, above a threshold), and
 *   locations outside the model's folder refused.
 * - mof_output: commit and abort leave exactly the right files.
 *
 * The models are built with protobuf-c here, in a fresh temporary folder per test. */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw, symlink */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx.pb-c.h"
#include "testutil.h"

#define TESTDATA_DIR "/usr/share/libonnx-testdata/data"

/* ------------------------------------------------------------------ helpers */

static char tmpdir[256];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/mof-test-onnx-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_tmpdir(void)
{
    if (tmpdir[0])
        nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    tmpdir[0] = '\0';
}

/* tmpdir/name in a static buffer (one of a few, so several can be live). */
static const char *tmp_path(const char *name)
{
    static char bufs[8][512];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof(bufs[0]), "%s/%s", tmpdir, name);
    return b;
}

static uint8_t *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf && n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *size = (size_t)(n > 0 ? n : 0);
    return buf;
}

static void write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    if (size)
        ck_assert_uint_eq(fwrite(data, 1, size, f), size);
    ck_assert_int_eq(fclose(f), 0);
}

static bool file_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Number of entries in a folder, "." and ".." aside. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static uint8_t *pack_msg(const ProtobufCMessage *m, size_t *size)
{
    *size = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(*size ? *size : 1);
    ck_assert_ptr_nonnull(buf);
    protobuf_c_message_pack(m, buf);
    return buf;
}

/* What protobuf-c packs from the unpacked bytes: the round trip's expectation. */
static uint8_t *repack(const uint8_t *data, size_t size, size_t *out)
{
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, size, data);
    if (!mp)
        return NULL;
    uint8_t *buf = pack_msg(&mp->base, out);
    protobuf_c_message_free_unpacked(&mp->base, NULL);
    return buf;
}

static size_t first_difference(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    size_t i = 0;
    while (i < na && i < nb && a[i] == b[i])
        i++;
    return i;
}

/* Loads from memory, saves to memory, and checks the bytes against repack(). */
static void check_round_trip(mof_context *ctx, const uint8_t *data, size_t size)
{
    size_t want_size;
    uint8_t *want = repack(data, size, &want_size);
    ck_assert_ptr_nonnull(want);
    mof_model *m = mof_model_load_buffer(ctx, data, size, "handmade.onnx", NULL);
    if (!m)
        mof_test_print_diags(ctx);
    ck_assert_ptr_nonnull(m);
    void *got;
    size_t got_size;
    ck_assert_status(ctx, mof_model_save_buffer(m, &got, &got_size), MOF_OK);
    size_t at = first_difference(want, want_size, got, got_size);
    ck_assert_msg(want_size == got_size && at == want_size,
                  "round trip differs at byte %zu (sizes %zu and %zu)", at, want_size, got_size);
    free(got);
    free(want);
    mof_model_destroy(m);
}

/* ------------------------------------------------------------------ model builders */

/* Messages built for a test are malloc'ed into a pool freed at the end. */
typedef struct pool {
    void *items[256];
    size_t n;
} pool;

static void *pool_add(pool *p, void *item)
{
    ck_assert_ptr_nonnull(item);
    ck_assert_uint_lt(p->n, 256);
    p->items[p->n++] = item;
    return item;
}

static void pool_free(pool *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->items[i]);
    p->n = 0;
}

static void *pool_dup(pool *p, const void *init, size_t size)
{
    void *x = pool_add(p, malloc(size));
    memcpy(x, init, size);
    return x;
}

/* A malloc'ed message of `type` set to `init` (its INIT macro), owned by the pool. */
#define POOL_NEW(p, type, init) ((type *)pool_dup((p), &(type)init, sizeof(type)))

/* A tensor type float[d0, d1] (a negative dim: the symbol "N"). */
static Onnx__TypeProto *float_type(pool *p, int64_t d0, int64_t d1)
{
    Onnx__TensorShapeProto__Dimension **dims = pool_add(p, calloc(2, sizeof(*dims)));
    for (int i = 0; i < 2; i++) {
        int64_t d = i ? d1 : d0;
        dims[i] = POOL_NEW(p, Onnx__TensorShapeProto__Dimension,
                           ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT);
        if (d >= 0) {
            dims[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dims[i]->dim_value = d;
        } else {
            dims[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            dims[i]->dim_param = "N";
        }
    }
    Onnx__TensorShapeProto *shape = POOL_NEW(p, Onnx__TensorShapeProto,
                                             ONNX__TENSOR_SHAPE_PROTO__INIT);
    shape->n_dim = 2;
    shape->dim = dims;
    Onnx__TypeProto__Tensor *tt = POOL_NEW(p, Onnx__TypeProto__Tensor,
                                           ONNX__TYPE_PROTO__TENSOR__INIT);
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = shape;
    Onnx__TypeProto *tp = POOL_NEW(p, Onnx__TypeProto, ONNX__TYPE_PROTO__INIT);
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    return tp;
}

static Onnx__ValueInfoProto *value_info(pool *p, const char *name, Onnx__TypeProto *type)
{
    Onnx__ValueInfoProto *vi = POOL_NEW(p, Onnx__ValueInfoProto, ONNX__VALUE_INFO_PROTO__INIT);
    vi->name = (char *)name;
    vi->type = type;
    return vi;
}

static const float W_VALUES[6] = {1, 2, 3, 4, 5, 6};

/* Y = Add(X, W) with W float[2, 3]: inline raw_data, or external data at `location`
 * (offset `offset`) when location is not NULL. `n_floats` > 6 makes W a bigger
 * float[1, n] of inline data instead (for truncation tests). Returns packed bytes. */
static uint8_t *make_add_model(const char *location, const char *offset, size_t n_floats,
                               size_t *size)
{
    pool p = {0};
    Onnx__TensorProto w = ONNX__TENSOR_PROTO__INIT;
    int64_t dims[2] = {2, 3};
    float *big = NULL;
    w.name = "W";
    w.has_data_type = 1;
    w.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    w.n_dims = 2;
    w.dims = dims;
    Onnx__StringStringEntryProto e_loc = ONNX__STRING_STRING_ENTRY_PROTO__INIT;
    Onnx__StringStringEntryProto e_off = ONNX__STRING_STRING_ENTRY_PROTO__INIT;
    Onnx__StringStringEntryProto e_len = ONNX__STRING_STRING_ENTRY_PROTO__INIT;
    Onnx__StringStringEntryProto *entries[3] = {&e_loc, &e_off, &e_len};
    if (location) {
        e_loc.key = "location";
        e_loc.value = (char *)location;
        e_off.key = "offset";
        e_off.value = (char *)offset;
        e_len.key = "length";
        e_len.value = "24";
        w.n_external_data = 3;
        w.external_data = entries;
        w.has_data_location = 1;
        w.data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    } else if (n_floats > 6) {
        big = malloc(n_floats * sizeof(float));
        for (size_t i = 0; i < n_floats; i++)
            big[i] = (float)i;
        dims[0] = 1;
        dims[1] = (int64_t)n_floats;
        w.has_raw_data = 1;
        w.raw_data = (ProtobufCBinaryData){n_floats * sizeof(float), (uint8_t *)big};
    } else {
        w.has_raw_data = 1;
        w.raw_data = (ProtobufCBinaryData){sizeof(W_VALUES), (uint8_t *)W_VALUES};
    }
    Onnx__TensorProto *inits[1] = {&w};
    char *in[2] = {"X", "W"}, *out[1] = {"Y"};
    Onnx__NodeProto node = ONNX__NODE_PROTO__INIT;
    node.name = "add0";
    node.op_type = "Add";
    node.n_input = 2;
    node.input = in;
    node.n_output = 1;
    node.output = out;
    Onnx__NodeProto *nodes[1] = {&node};
    Onnx__ValueInfoProto *ins[1] = {value_info(&p, "X", float_type(&p, dims[0], dims[1]))};
    Onnx__ValueInfoProto *outs[1] = {value_info(&p, "Y", float_type(&p, dims[0], dims[1]))};
    Onnx__GraphProto g = ONNX__GRAPH_PROTO__INIT;
    g.name = "g";
    g.n_node = 1;
    g.node = nodes;
    g.n_initializer = 1;
    g.initializer = inits;
    g.n_input = 1;
    g.input = ins;
    g.n_output = 1;
    g.output = outs;
    Onnx__OperatorSetIdProto opset = ONNX__OPERATOR_SET_ID_PROTO__INIT;
    opset.domain = "";
    opset.has_version = 1;
    opset.version = 13;
    Onnx__OperatorSetIdProto *opsets[1] = {&opset};
    Onnx__ModelProto m = ONNX__MODEL_PROTO__INIT;
    m.has_ir_version = 1;
    m.ir_version = 8;
    m.producer_name = "mof-test";
    m.n_opset_import = 1;
    m.opset_import = opsets;
    m.graph = &g;
    uint8_t *bytes = pack_msg(&m.base, size);
    free(big);
    pool_free(&p);
    return bytes;
}

/* Packs msg, appends raw wire bytes (unknown fields) and unpacks it again, so that the
 * message carries them as protobuf-c unknown fields. */
static ProtobufCMessage *with_unknown(const ProtobufCMessage *msg, const uint8_t *extra,
                                      size_t n_extra)
{
    size_t n;
    uint8_t *bytes = pack_msg(msg, &n);
    bytes = realloc(bytes, n + n_extra);
    ck_assert_ptr_nonnull(bytes);
    memcpy(bytes + n, extra, n_extra);
    ProtobufCMessage *r = protobuf_c_message_unpack(msg->descriptor, NULL, n + n_extra, bytes);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_gt(r->n_unknown_fields, 0);
    free(bytes);
    return r;
}

/* ------------------------------------------------------------------ (a) test data */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The model.onnx files under the test data folders, sorted; NULL when absent. */
static char **list_testdata_models(const char *root, size_t *count)
{
    static const char *const kinds[] = {"node", "simple", "pytorch-converted",
                                        "pytorch-operator", "real"};
    char **list = NULL;
    size_t n = 0, cap = 0;
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        char dir[1024];
        snprintf(dir, sizeof(dir), "%s/%s", root, kinds[k]);
        DIR *d = opendir(dir);
        if (!d)
            continue;
        for (struct dirent *e; (e = readdir(d));) {
            if (e->d_name[0] == '.')
                continue;
            char path[2048];
            snprintf(path, sizeof(path), "%s/%s/model.onnx", dir, e->d_name);
            if (!file_exists(path))
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 1024;
                list = realloc(list, cap * sizeof(*list));
                ck_assert_ptr_nonnull(list);
            }
            list[n++] = strdup(path);
        }
        closedir(d);
    }
    if (list)
        qsort(list, n, sizeof(*list), cmp_str);
    *count = n;
    return list;
}

START_TEST(test_round_trip_testdata)
{
    const char *root = getenv("MOF_ONNX_TESTDATA");
    if (!root)
        root = TESTDATA_DIR;
    size_t n_models;
    char **models = list_testdata_models(root, &n_models);
    if (!n_models) {
        fprintf(stderr, "test_onnx: %s not found (Debian package libonnx-testdata); "
                        "skipping the round trip over the ONNX test models\n", root);
        free(models);
        return;
    }
    make_tmpdir();
    mof_context *ctx = mof_context_create();
    size_t failed = 0, via_file = 0;
    for (size_t i = 0; i < n_models; i++) {
        size_t size, want_size;
        uint8_t *data = read_file(models[i], &size);
        ck_assert_ptr_nonnull(data);
        uint8_t *want = repack(data, size, &want_size);
        ck_assert_msg(want != NULL, "protobuf-c cannot unpack %s", models[i]);
        mof_model *m = mof_model_load(ctx, models[i]);
        if (!m) {
            fprintf(stderr, "load failed: %s\n", models[i]);
            mof_test_print_diags(ctx);
            mof_context_clear_diags(ctx);
            failed++;
            free(data);
            free(want);
            continue;
        }
        void *got = NULL;
        size_t got_size = 0;
        mof_status st = mof_model_save_buffer(m, &got, &got_size);
        size_t at = st ? 0 : first_difference(want, want_size, got, got_size);
        if (st || got_size != want_size || at != want_size) {
            fprintf(stderr, "round trip differs: %s (byte %zu, sizes %zu and %zu)\n",
                    models[i], at, want_size, got_size);
            mof_test_print_diags(ctx);
            mof_context_clear_diags(ctx);
            failed++;
        } else if (i % 64 == 0) {
            /* Also through the streaming file writer. */
            const char *out = tmp_path("out.onnx");
            size_t file_size;
            uint8_t *file = NULL;
            if (mof_model_save(m, out, NULL) != MOF_OK ||
                !(file = read_file(out, &file_size)) || file_size != want_size ||
                memcmp(file, want, want_size) != 0) {
                fprintf(stderr, "file round trip differs: %s\n", models[i]);
                mof_test_print_diags(ctx);
                failed++;
            }
            free(file);
            via_file++;
        }
        free(got);
        mof_model_destroy(m);
        free(want);
        free(data);
    }
    fprintf(stderr, "test_onnx: round trip of %zu ONNX test models (%zu also through files): "
                    "%zu failed\n", n_models, via_file, failed);
    ck_assert_uint_eq(failed, 0);
    ck_assert_uint_gt(n_models, 1000);
    for (size_t i = 0; i < n_models; i++)
        free(models[i]);
    free(models);
    mof_context_destroy(ctx);
    remove_tmpdir();
}
END_TEST

/* ------------------------------------------------------------------ (b) unknown fields */

/* Hand-written wire bytes: field 100 varint 42; field 101 "hi"; field 102 fixed32. */
static const uint8_t UNKNOWN_A[] = {0xa0, 0x06, 0x2a};
static const uint8_t UNKNOWN_B[] = {0xaa, 0x06, 0x02, 'h', 'i'};
static const uint8_t UNKNOWN_C[] = {0xb5, 0x06, 0x01, 0x02, 0x03, 0x04};

static bool contains(const uint8_t *hay, size_t n, const uint8_t *needle, size_t m)
{
    for (size_t i = 0; i + m <= n; i++) {
        if (memcmp(hay + i, needle, m) == 0)
            return true;
    }
    return false;
}

START_TEST(test_unknown_fields)
{
    pool p = {0};
    /* Initializer W with an unknown field; typed float_data storage. */
    float wf[6] = {1, 2, 3, 4, 5, 6};
    int64_t wdims[2] = {2, 3};
    Onnx__TensorProto w0 = ONNX__TENSOR_PROTO__INIT;
    w0.name = "W";
    w0.has_data_type = 1;
    w0.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    w0.n_dims = 2;
    w0.dims = wdims;
    w0.n_float_data = 6;
    w0.float_data = wf;
    w0.doc_string = "";
    Onnx__TensorProto *w = (Onnx__TensorProto *)with_unknown(&w0.base, UNKNOWN_C,
                                                             sizeof(UNKNOWN_C));
    /* An int8 constant in int32_data, and a string tensor, as attributes. */
    int32_t i8[3] = {-128, 0, 127};
    int64_t d3 = 3;
    Onnx__TensorProto ct = ONNX__TENSOR_PROTO__INIT;
    ct.has_data_type = 1;
    ct.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT8;
    ct.n_dims = 1;
    ct.dims = &d3;
    ct.n_int32_data = 3;
    ct.int32_data = i8;
    Onnx__AttributeProto cattr = ONNX__ATTRIBUTE_PROTO__INIT;
    cattr.name = "value";
    cattr.has_type = 1;
    cattr.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
    cattr.t = &ct;
    Onnx__AttributeProto *cattr_u =
        (Onnx__AttributeProto *)with_unknown(&cattr.base, UNKNOWN_A, sizeof(UNKNOWN_A));
    ProtobufCBinaryData strs[2] = {{3, (uint8_t *)"abc"}, {0, NULL}};
    Onnx__TensorProto st = ONNX__TENSOR_PROTO__INIT;
    st.has_data_type = 1;
    st.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__STRING;
    int64_t d2 = 2;
    st.n_dims = 1;
    st.dims = &d2;
    st.n_string_data = 2;
    st.string_data = strs;
    st.name = "strings";
    Onnx__AttributeProto sattr = ONNX__ATTRIBUTE_PROTO__INIT;
    sattr.name = "value";
    sattr.has_type = 1;
    sattr.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
    sattr.t = &st;
    /* An attribute without a type field, and one with two value fields. */
    int64_t ints[3] = {1, 2, 3};
    Onnx__AttributeProto untyped = ONNX__ATTRIBUTE_PROTO__INIT;
    untyped.name = "perm";
    untyped.n_ints = 3;
    untyped.ints = ints;
    Onnx__AttributeProto both = ONNX__ATTRIBUTE_PROTO__INIT;
    both.name = "alpha";
    both.has_type = 1;
    both.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
    both.has_f = 1;
    both.f = 0.5f;
    both.has_i = 1;
    both.i = 7;
    both.has_s = 1;
    both.s = (ProtobufCBinaryData){0, NULL};

    /* Nodes, deliberately out of topological order: "relu" reads "c" made after it,
     * and reads "nowhere", which nothing defines. */
    char *relu_in[3] = {"c", "", "nowhere"}, *relu_out[2] = {"r", ""};
    Onnx__AttributeProto *relu_attrs[2] = {&untyped, &both};
    Onnx__NodeProto relu = ONNX__NODE_PROTO__INIT;
    relu.op_type = "Relu";
    relu.domain = "";
    relu.n_input = 3;
    relu.input = relu_in;
    relu.n_output = 2;
    relu.output = relu_out;
    relu.n_attribute = 2;
    relu.attribute = relu_attrs;
    Onnx__NodeProto *relu_u =
        (Onnx__NodeProto *)with_unknown(&relu.base, UNKNOWN_B, sizeof(UNKNOWN_B));
    char *c_out[1] = {"c"};
    Onnx__AttributeProto *c_attrs[1] = {cattr_u};
    Onnx__NodeProto cnode = ONNX__NODE_PROTO__INIT;
    cnode.name = "const";
    cnode.op_type = "Constant";
    cnode.n_output = 1;
    cnode.output = c_out;
    cnode.n_attribute = 1;
    cnode.attribute = c_attrs;
    char *s_out[1] = {"s"};
    Onnx__AttributeProto *s_attrs[1] = {&sattr};
    Onnx__NodeProto snode = ONNX__NODE_PROTO__INIT;
    snode.op_type = "Constant";
    snode.domain = "com.example";
    snode.n_output = 1;
    snode.output = s_out;
    snode.n_attribute = 1;
    snode.attribute = s_attrs;
    Onnx__NodeProto *nodes[3] = {relu_u, &cnode, &snode};

    /* Types: X is listed as input and in value_info with another shape; Y's type has
     * an unknown field inside its tensor type (so it is kept opaque); "r" has no type. */
    Onnx__TypeProto *ytype = float_type(&p, 2, 3);
    Onnx__TypeProto__Tensor *ytt = (Onnx__TypeProto__Tensor *)with_unknown(
        &ytype->tensor_type->base, UNKNOWN_A, sizeof(UNKNOWN_A));
    ytype->tensor_type = ytt;
    Onnx__ValueInfoProto *xin = value_info(&p, "X", float_type(&p, 2, -1));
    xin->doc_string = "the input";
    Onnx__ValueInfoProto *xin_u =
        (Onnx__ValueInfoProto *)with_unknown(&xin->base, UNKNOWN_B, sizeof(UNKNOWN_B));
    Onnx__ValueInfoProto *ins[1] = {xin_u};
    Onnx__ValueInfoProto *outs[2] = {value_info(&p, "Y", ytype), value_info(&p, "r", NULL)};
    Onnx__ValueInfoProto *vinfo[2] = {value_info(&p, "X", float_type(&p, 2, 3)),
                                      value_info(&p, "c", NULL)};
    Onnx__TensorProto *inits[1] = {w};
    Onnx__GraphProto g = ONNX__GRAPH_PROTO__INIT;
    g.name = "";
    g.n_node = 3;
    g.node = nodes;
    g.n_initializer = 1;
    g.initializer = inits;
    g.n_input = 1;
    g.input = ins;
    g.n_output = 2;
    g.output = outs;
    g.n_value_info = 2;
    g.value_info = vinfo;
    Onnx__GraphProto *g_u = (Onnx__GraphProto *)with_unknown(&g.base, UNKNOWN_C,
                                                             sizeof(UNKNOWN_C));

    Onnx__OperatorSetIdProto opset = ONNX__OPERATOR_SET_ID_PROTO__INIT;
    opset.domain = "";
    opset.has_version = 1;
    opset.version = 13;
    Onnx__OperatorSetIdProto *opset_u =
        (Onnx__OperatorSetIdProto *)with_unknown(&opset.base, UNKNOWN_A, sizeof(UNKNOWN_A));
    Onnx__OperatorSetIdProto *opsets[1] = {opset_u};
    Onnx__StringStringEntryProto meta = ONNX__STRING_STRING_ENTRY_PROTO__INIT;
    meta.key = "author";
    meta.value = "";
    Onnx__StringStringEntryProto *meta_u = (Onnx__StringStringEntryProto *)with_unknown(
        &meta.base, UNKNOWN_A, sizeof(UNKNOWN_A));
    Onnx__StringStringEntryProto *metas[1] = {meta_u};
    Onnx__ModelProto m0 = ONNX__MODEL_PROTO__INIT;
    m0.has_ir_version = 1;
    m0.ir_version = 8;
    m0.producer_name = "";
    m0.n_opset_import = 1;
    m0.opset_import = opsets;
    m0.graph = g_u;
    m0.n_metadata_props = 1;
    m0.metadata_props = metas;
    size_t size;
    uint8_t *bytes = pack_msg(&m0.base, &size);
    /* And an unknown field of the ModelProto itself, appended to the file. */
    bytes = realloc(bytes, size + sizeof(UNKNOWN_B));
    memcpy(bytes + size, UNKNOWN_B, sizeof(UNKNOWN_B));
    size += sizeof(UNKNOWN_B);

    mof_context *ctx = mof_context_create();
    check_round_trip(ctx, bytes, size);

    /* The model reads as expected through the public API. */
    mof_model *m = mof_model_load_buffer(ctx, bytes, size, "handmade.onnx", NULL);
    ck_assert_ptr_nonnull(m);
    mof_graph *gr = mof_model_graph(m);
    ck_assert_uint_eq(mof_graph_n_nodes(gr), 3);
    mof_node *n0 = mof_graph_first_node(gr);
    ck_assert_str_eq(mof_node_op_type(n0), "Relu");
    ck_assert_str_eq(mof_node_origin(n0, 0), "Relu#0");
    ck_assert_ptr_null(mof_node_input(n0, 1));
    ck_assert_ptr_eq(mof_node_input(n0, 0), mof_node_output(mof_node_next(n0), 0));
    ck_assert_str_eq(mof_value_name(mof_node_input(n0, 2)), "nowhere");
    ck_assert_ptr_null(mof_node_output(n0, 1));
    ck_assert_int_eq(mof_node_attr_type(n0, "perm"), MOF_ATTR_INTS);
    size_t n_perm;
    const int64_t *perm = mof_node_attr_ints(n0, "perm", &n_perm);
    ck_assert_uint_eq(n_perm, 3);
    ck_assert_int_eq(perm[2], 3);
    ck_assert_float_eq(mof_node_attr_float(n0, "alpha", 0), 0.5f);
    mof_tensor *ct8 = mof_node_attr_tensor(mof_node_next(n0), "value");
    ck_assert_int_eq(mof_tensor_dtype(ct8), MOF_DTYPE_INT8);
    ck_assert_int_eq(((const int8_t *)mof_tensor_data(ct8))[0], -128);
    mof_tensor *cs = mof_node_attr_tensor(mof_graph_last_node(gr), "value");
    const mof_string *sv = mof_tensor_data(cs);
    ck_assert_uint_eq(sv[0].size, 3);
    ck_assert_int_eq(memcmp(sv[0].data, "abc", 3), 0);
    mof_value *x = mof_graph_input(gr, 0);
    ck_assert_int_eq(mof_value_rank(x), 2);
    ck_assert_str_eq(mof_value_dim_symbol(x, 1), "N");
    mof_tensor *wt = mof_value_tensor(mof_graph_initializer(gr, 0));
    ck_assert_int_eq(memcmp(mof_tensor_data(wt), wf, sizeof(wf)), 0);
    void *out;
    size_t out_size;
    ck_assert_status(ctx, mof_model_save_buffer(m, &out, &out_size), MOF_OK);
    ck_assert(contains(out, out_size, UNKNOWN_A, sizeof(UNKNOWN_A)));
    ck_assert(contains(out, out_size, UNKNOWN_B, sizeof(UNKNOWN_B)));
    ck_assert(contains(out, out_size, UNKNOWN_C, sizeof(UNKNOWN_C)));

    /* A tensor made by mof is written as raw_data and reads back equal. */
    float nv[2] = {7, 8};
    int64_t nd = 2;
    mof_value *nval = mof_graph_add_initializer(gr, "fresh",
                                                mof_tensor_create_from(MOF_DTYPE_FLOAT, 1, &nd, nv));
    ck_assert_ptr_nonnull(nval);
    free(out);
    ck_assert_status(ctx, mof_model_save_buffer(m, &out, &out_size), MOF_OK);
    mof_model *m2 = mof_model_load_buffer(ctx, out, out_size, "again.onnx", NULL);
    ck_assert_ptr_nonnull(m2);
    mof_value *again = mof_graph_find_value(mof_model_graph(m2), mof_value_name(nval));
    ck_assert_ptr_nonnull(again);
    ck_assert(mof_tensor_equal(mof_value_tensor(again), mof_value_tensor(nval)));
    mof_model_destroy(m2);
    free(out);
    mof_model_destroy(m);
    ck_assert_uint_eq(mof_context_n_errors(ctx), 0);
    mof_context_destroy(ctx);

    free(bytes);
    protobuf_c_message_free_unpacked(&g_u->base, NULL);
    protobuf_c_message_free_unpacked(&w->base, NULL);
    protobuf_c_message_free_unpacked(&cattr_u->base, NULL);
    protobuf_c_message_free_unpacked(&relu_u->base, NULL);
    protobuf_c_message_free_unpacked(&ytt->base, NULL);
    protobuf_c_message_free_unpacked(&xin_u->base, NULL);
    protobuf_c_message_free_unpacked(&opset_u->base, NULL);
    protobuf_c_message_free_unpacked(&meta_u->base, NULL);
    pool_free(&p);
}
END_TEST

/* A subgraph (If) reading a value of the main graph keeps it captured and round-trips. */
START_TEST(test_subgraph_round_trip)
{
    pool p = {0};
    char *then_in[1] = {"X"}, *then_out[1] = {"t"};
    Onnx__NodeProto then_node = ONNX__NODE_PROTO__INIT;
    then_node.op_type = "Identity";
    then_node.n_input = 1;
    then_node.input = then_in;
    then_node.n_output = 1;
    then_node.output = then_out;
    Onnx__NodeProto *then_nodes[1] = {&then_node};
    Onnx__ValueInfoProto *then_outs[1] = {value_info(&p, "t", NULL)};
    Onnx__GraphProto then_g = ONNX__GRAPH_PROTO__INIT;
    then_g.name = "then";
    then_g.n_node = 1;
    then_g.node = then_nodes;
    then_g.n_output = 1;
    then_g.output = then_outs;
    Onnx__ValueInfoProto *else_outs[1] = {value_info(&p, "X", NULL)};
    Onnx__GraphProto else_g = ONNX__GRAPH_PROTO__INIT;
    else_g.name = "else";
    else_g.n_output = 1;
    else_g.output = else_outs;
    Onnx__AttributeProto a_then = ONNX__ATTRIBUTE_PROTO__INIT, a_else = ONNX__ATTRIBUTE_PROTO__INIT;
    a_then.name = "then_branch";
    a_then.has_type = 1;
    a_then.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH;
    a_then.g = &then_g;
    a_else.name = "else_branch";
    a_else.has_type = 1;
    a_else.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH;
    a_else.g = &else_g;
    Onnx__AttributeProto *attrs[2] = {&a_then, &a_else};
    char *if_in[1] = {"cond"}, *if_out[1] = {"Y"};
    Onnx__NodeProto if_node = ONNX__NODE_PROTO__INIT;
    if_node.op_type = "If";
    if_node.name = "if";
    if_node.n_input = 1;
    if_node.input = if_in;
    if_node.n_output = 1;
    if_node.output = if_out;
    if_node.n_attribute = 2;
    if_node.attribute = attrs;
    Onnx__NodeProto *nodes[1] = {&if_node};
    Onnx__ValueInfoProto *ins[2] = {value_info(&p, "cond", NULL),
                                    value_info(&p, "X", float_type(&p, 1, 1))};
    Onnx__ValueInfoProto *outs[1] = {value_info(&p, "Y", NULL)};
    Onnx__GraphProto g = ONNX__GRAPH_PROTO__INIT;
    g.n_node = 1;
    g.node = nodes;
    g.n_input = 2;
    g.input = ins;
    g.n_output = 1;
    g.output = outs;
    Onnx__ModelProto m0 = ONNX__MODEL_PROTO__INIT;
    m0.has_ir_version = 1;
    m0.ir_version = 8;
    m0.graph = &g;
    size_t size;
    uint8_t *bytes = pack_msg(&m0.base, &size);
    mof_context *ctx = mof_context_create();
    check_round_trip(ctx, bytes, size);
    mof_model *m = mof_model_load_buffer(ctx, bytes, size, "if.onnx", NULL);
    ck_assert_ptr_nonnull(m);
    mof_node *n = mof_graph_first_node(mof_model_graph(m));
    ck_assert_uint_eq(mof_node_n_subgraphs(n), 2);
    mof_graph *then_branch = mof_node_attr_graph(n, "then_branch");
    ck_assert_ptr_eq(mof_graph_parent(then_branch), n);
    mof_value *x = mof_graph_input(mof_model_graph(m), 1);
    /* X is read by both branches: implicit uses by the If node. */
    ck_assert_uint_eq(mof_value_n_uses(x), 2);
    int idx;
    ck_assert_ptr_eq(mof_value_use(x, 0, &idx), n);
    ck_assert_int_eq(idx, -1);
    ck_assert_status(ctx, mof_graph_verify(ctx, mof_model_graph(m)), MOF_OK);
    mof_model_destroy(m);
    mof_context_destroy(ctx);
    free(bytes);
    pool_free(&p);
}
END_TEST

/* ------------------------------------------------------------------ (c) errors */

/* Offset of the contents of a packed model's graph field (7). */
static size_t graph_content(const uint8_t *p, size_t size)
{
    for (size_t pos = 0; pos < size;) {
        uint8_t tag = p[pos++];
        uint64_t v = 0;
        for (int shift = 0; pos < size; shift += 7) {
            uint8_t b = p[pos++];
            v |= (uint64_t)(b & 0x7f) << shift;
            if (!(b & 0x80))
                break;
        }
        if ((tag & 7) == 2) {
            if (tag >> 3 == 7)
                return pos;
            pos += v;
        }
    }
    ck_abort_msg("no graph in the model");
    return 0;
}

/* Loads path, which must fail with one diagnostic naming it and containing `what`. */
static void expect_load_error(const char *path, mof_status status, const char *what)
{
    mof_context *ctx = mof_context_create();
    mof_model *m = mof_model_load(ctx, path);
    if (m || mof_context_n_diags(ctx) != 1 || !mof_test_diag_contains(ctx, path) ||
        !mof_test_diag_contains(ctx, what) || mof_context_diag(ctx, 0)->status != status) {
        fprintf(stderr, "loading %s (expecting '%s', status %d):\n", path, what, (int)status);
        mof_test_print_diags(ctx);
    }
    ck_assert_ptr_null(m);
    ck_assert_uint_eq(mof_context_n_diags(ctx), 1);
    ck_assert_int_eq(mof_context_diag(ctx, 0)->status, status);
    ck_assert(mof_test_diag_contains(ctx, path));
    ck_assert(mof_test_diag_contains(ctx, what));
    mof_context_destroy(ctx);
}

START_TEST(test_errors)
{
    make_tmpdir();
    size_t size;
    uint8_t *model = make_add_model(NULL, NULL, 1000, &size);

    /* A model cut in half: its initializer's raw_data runs past the end. */
    write_file(tmp_path("half.onnx"), model, size / 2);
    expect_load_error(tmp_path("half.onnx"), MOF_ERR_PARSE, "truncated ONNX model");
    /* A model whose graph holds an invalid wire type. */
    uint8_t *bad = malloc(size);
    memcpy(bad, model, size);
    size_t pos = graph_content(bad, size);
    bad[pos] = 0x0f; /* field 1, wire type 7 */
    write_file(tmp_path("corrupt.onnx"), bad, size);
    expect_load_error(tmp_path("corrupt.onnx"), MOF_ERR_PARSE, "corrupt ONNX model");
    free(bad);
    /* Empty, text, PNG, random bytes that happen to parse, a directory, no file. */
    write_file(tmp_path("empty.onnx"), "", 0);
    expect_load_error(tmp_path("empty.onnx"), MOF_ERR_PARSE, "empty");
    const char *text = "This is a text file.\nIt is not an ONNX model.\n";
    write_file(tmp_path("text.onnx"), text, strlen(text));
    expect_load_error(tmp_path("text.onnx"), MOF_ERR_PARSE, "not an ONNX model");
    static const uint8_t png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13,
                                  'I', 'H', 'D', 'R', 0, 0, 1, 0, 0, 0, 1, 0, 8, 6, 0, 0, 0};
    write_file(tmp_path("image.png"), png, sizeof(png));
    expect_load_error(tmp_path("image.png"), MOF_ERR_PARSE, "not an ONNX model");
    static const uint8_t parses[] = {0x68, 0x05, 0x78, 0x01}; /* unknown fields 13, 15 */
    write_file(tmp_path("parses.bin"), parses, sizeof(parses));
    expect_load_error(tmp_path("parses.bin"), MOF_ERR_PARSE, "not an ONNX model");
    ck_assert_int_eq(mkdir(tmp_path("folder.onnx"), 0755), 0);
    expect_load_error(tmp_path("folder.onnx"), MOF_ERR_IO, "directory");
    expect_load_error(tmp_path("missing.onnx"), MOF_ERR_IO, "No such file");

    /* Messages nested far deeper than any model (graph > node > attribute > graph
     * ...): refused, not a stack overflow in protobuf-c. */
    size_t levels = 100000, cap = levels * 12 + 16, at = cap;
    uint8_t *deep = malloc(cap);
    static const uint8_t cycle[3] = {0x32 /* Attribute.g */, 0x2a /* Node.attribute */,
                                     0x0a /* Graph.node */};
    for (size_t i = 0; i <= levels * 3; i++) {
        size_t len = cap - at;
        uint8_t v[10];
        int k = 0;
        do {
            v[k++] = (uint8_t)((len & 0x7f) | (len > 0x7f ? 0x80 : 0));
            len >>= 7;
        } while (len);
        at -= (size_t)k;
        memcpy(deep + at, v, (size_t)k);
        deep[--at] = i == levels * 3 ? 0x3a /* Model.graph */ : cycle[i % 3];
    }
    write_file(tmp_path("deep.onnx"), deep + at, cap - at);
    expect_load_error(tmp_path("deep.onnx"), MOF_ERR_PARSE, "nested deeper than");
    free(deep);

    /* A tensor whose data does not match its dims. */
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, size, model);
    mp->graph->initializer[0]->raw_data.len -= 4;
    size_t bad_size;
    uint8_t *bad_model = pack_msg(&mp->base, &bad_size);
    mp->graph->initializer[0]->raw_data.len += 4;
    protobuf_c_message_free_unpacked(&mp->base, NULL);
    write_file(tmp_path("short.onnx"), bad_model, bad_size);
    expect_load_error(tmp_path("short.onnx"), MOF_ERR_INVALID_MODEL, "tensor 'W'");
    free(bad_model);
    free(model);
    remove_tmpdir();
}
END_TEST

/* ------------------------------------------------------------------ (d) external data */

static void write_weights(const char *path, size_t offset)
{
    uint8_t buf[256] = {0};
    memset(buf, 0xee, offset);
    memcpy(buf + offset, W_VALUES, sizeof(W_VALUES));
    write_file(path, buf, offset + sizeof(W_VALUES) + 8);
}

static mof_tensor *w_tensor(mof_model *m)
{
    mof_value *w = mof_graph_find_value(mof_model_graph(m), "W");
    ck_assert_ptr_nonnull(w);
    return mof_value_tensor(w);
}

static void check_w(mof_model *m, bool external)
{
    mof_tensor *t = w_tensor(m);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(mof_tensor_is_external(t), external);
    ck_assert_uint_eq(mof_tensor_nbytes(t), sizeof(W_VALUES));
    ck_assert_int_eq(memcmp(mof_tensor_data(t), W_VALUES, sizeof(W_VALUES)), 0);
}

START_TEST(test_external_data)
{
    make_tmpdir();
    write_weights(tmp_path("weights.bin"), 64);
    size_t size;
    uint8_t *model = make_add_model("weights.bin", "64", 0, &size);
    write_file(tmp_path("model.onnx"), model, size);
    mof_context *ctx = mof_context_create();
    mof_model *m = mof_model_load(ctx, tmp_path("model.onnx"));
    if (!m)
        mof_test_print_diags(ctx);
    ck_assert_ptr_nonnull(m);
    check_w(m, true);

    /* KEEP: a new data file beside the output; the copy reads back the same. */
    ck_assert_int_eq(mkdir(tmp_path("keep"), 0755), 0);
    ck_assert_status(ctx, mof_model_save(m, tmp_path("keep/out.onnx"), NULL), MOF_OK);
    ck_assert(file_exists(tmp_path("keep/out.onnx.data")));
    ck_assert_int_eq(count_entries(tmp_path("keep")), 2);
    mof_model *k = mof_model_load(ctx, tmp_path("keep/out.onnx"));
    ck_assert_ptr_nonnull(k);
    check_w(k, true);
    /* Saved again with KEEP, it gives the same bytes (same layout, same names). */
    ck_assert_status(ctx, mof_model_save(k, tmp_path("keep/again.onnx"), NULL), MOF_OK);
    size_t a_size, b_size;
    uint8_t *a = read_file(tmp_path("keep/out.onnx.data"), &a_size);
    uint8_t *b = read_file(tmp_path("keep/again.onnx.data"), &b_size);
    ck_assert_uint_eq(a_size, b_size);
    ck_assert_int_eq(memcmp(a, b, a_size), 0);
    free(a);
    free(b);
    mof_model_destroy(k);

    /* NONE: everything inline, no data file. */
    mof_save_options opts;
    mof_save_options_init(&opts);
    opts.external = MOF_EXTERNAL_NONE;
    ck_assert_int_eq(mkdir(tmp_path("none"), 0755), 0);
    ck_assert_status(ctx, mof_model_save(m, tmp_path("none/out.onnx"), &opts), MOF_OK);
    ck_assert_int_eq(count_entries(tmp_path("none")), 1);
    mof_model *in = mof_model_load(ctx, tmp_path("none/out.onnx"));
    ck_assert_ptr_nonnull(in);
    check_w(in, false);

    /* ABOVE: the inlined model's 24-byte W goes out again at threshold 16, under the
     * chosen data file name. */
    opts.external = MOF_EXTERNAL_ABOVE;
    opts.threshold = 16;
    opts.data_file = "w.bin";
    ck_assert_status(ctx, mof_model_save(in, tmp_path("none/above.onnx"), &opts), MOF_OK);
    ck_assert(file_exists(tmp_path("none/w.bin")));
    mof_model *ab = mof_model_load(ctx, tmp_path("none/above.onnx"));
    ck_assert_ptr_nonnull(ab);
    check_w(ab, true);
    mof_model_destroy(ab);
    mof_model_destroy(in);

    /* Never over the data file the model's own tensors are mapped from. */
    mof_save_options_init(&opts);
    opts.data_file = "weights.bin";
    ck_assert_int_eq(mof_model_save(m, tmp_path("other.onnx"), &opts), MOF_ERR_INVALID_ARG);
    ck_assert(mof_test_diag_contains(ctx, "weights.bin"));
    ck_assert(!file_exists(tmp_path("other.onnx")));
    mof_context_clear_diags(ctx);
    check_w(m, true);

    /* From memory: no folder, no external data. */
    mof_model *mem = mof_model_load_buffer(ctx, model, size, "mem.onnx", NULL);
    ck_assert_ptr_null(mem);
    ck_assert_uint_eq(mof_context_n_diags(ctx), 1);
    ck_assert(mof_test_diag_contains(ctx, "mem.onnx"));
    mof_context_clear_diags(ctx);
    mem = mof_model_load_buffer(ctx, model, size, "mem.onnx", tmpdir);
    ck_assert_ptr_nonnull(mem);
    check_w(mem, true);
    mof_model_destroy(mem);
    mof_model_destroy(m);
    mof_context_destroy(ctx);
    free(model);

    /* Refused locations: absolute, "..", a link leading out, data past the end. */
    ck_assert_int_eq(mkdir(tmp_path("outside"), 0755), 0);
    ck_assert_int_eq(mkdir(tmp_path("models"), 0755), 0);
    write_weights(tmp_path("outside/x.bin"), 0);
    ck_assert_int_eq(symlink("../outside/x.bin", tmp_path("models/link.bin")), 0);
    write_weights(tmp_path("models/short.bin"), 0);
    struct { const char *location, *offset, *what; mof_status st; } bad[] = {
        {"/etc/passwd", "0", "absolute", MOF_ERR_INVALID_MODEL},
        {"../outside/x.bin", "0", "leaves the model's folder", MOF_ERR_INVALID_MODEL},
        {"link.bin", "0", "outside the model's folder", MOF_ERR_INVALID_MODEL},
        {"short.bin", "16", "beyond the end", MOF_ERR_INVALID_MODEL},
        {"absent.bin", "0", "absent.bin", MOF_ERR_IO},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        model = make_add_model(bad[i].location, bad[i].offset, 0, &size);
        write_file(tmp_path("models/bad.onnx"), model, size);
        free(model);
        expect_load_error(tmp_path("models/bad.onnx"), bad[i].st, bad[i].what);
        ctx = mof_context_create();
        ck_assert_ptr_null(mof_model_load(ctx, tmp_path("models/bad.onnx")));
        ck_assert(mof_test_diag_contains(ctx, "tensor 'W'"));
        ck_assert(mof_test_diag_contains(ctx, bad[i].location));
        mof_context_destroy(ctx);
    }
    remove_tmpdir();
}
END_TEST

/* ------------------------------------------------------------------ (e) outputs */

START_TEST(test_output_file)
{
    make_tmpdir();
    mof_context *ctx = mof_context_create();
    const char *target = tmp_path("result.txt");
    mof_output *o = mof_output_open_file(ctx, target);
    ck_assert_ptr_nonnull(o);
    ck_assert_str_ne(mof_output_path(o), target);
    fputs("hello", mof_output_file(o));
    ck_assert(!file_exists(target));
    ck_assert_status(ctx, mof_output_commit(o), MOF_OK);
    size_t n;
    char *got = (char *)read_file(target, &n);
    ck_assert_uint_eq(n, 5);
    ck_assert_int_eq(memcmp(got, "hello", 5), 0);
    free(got);
    ck_assert_int_eq(count_entries(tmpdir), 1);

    /* Replacing: the old content until commit, the new one after. */
    o = mof_output_open_file(ctx, target);
    fputs("bye", mof_output_file(o));
    got = (char *)read_file(target, &n);
    ck_assert_uint_eq(n, 5);
    free(got);
    ck_assert_status(ctx, mof_output_commit(o), MOF_OK);
    got = (char *)read_file(target, &n);
    ck_assert_uint_eq(n, 3);
    free(got);

    /* Abort leaves nothing behind, and the old file untouched. */
    o = mof_output_open_file(ctx, tmp_path("aborted.txt"));
    fputs("partial", mof_output_file(o));
    mof_output_abort(o);
    mof_output_abort(NULL);
    ck_assert(!file_exists(tmp_path("aborted.txt")));
    ck_assert_int_eq(count_entries(tmpdir), 1);

    /* A folder that does not exist: an error naming the path. */
    ck_assert_ptr_null(mof_output_open_file(ctx, tmp_path("no/such/file")));
    ck_assert_uint_eq(mof_context_n_errors(ctx), 1);
    ck_assert(mof_test_diag_contains(ctx, "no/such/file"));
    mof_context_destroy(ctx);
    remove_tmpdir();
}
END_TEST

START_TEST(test_output_dir)
{
    make_tmpdir();
    mof_context *ctx = mof_context_create();
    const char *target = tmp_path("artifact");
    char inner[600];

    mof_output *o = mof_output_open_dir(ctx, target);
    ck_assert_ptr_nonnull(o);
    ck_assert_ptr_null(mof_output_file(o));
    snprintf(inner, sizeof(inner), "%s/old.c", mof_output_path(o));
    write_file(inner, "old", 3);
    ck_assert_status(ctx, mof_output_commit(o), MOF_OK);
    ck_assert(file_exists(tmp_path("artifact/old.c")));

    /* Replacing a folder: only the new files remain, and no leftovers beside it. */
    o = mof_output_open_dir(ctx, target);
    snprintf(inner, sizeof(inner), "%s/new.c", mof_output_path(o));
    write_file(inner, "new", 3);
    snprintf(inner, sizeof(inner), "%s/sub", mof_output_path(o));
    ck_assert_int_eq(mkdir(inner, 0755), 0);
    snprintf(inner, sizeof(inner), "%s/sub/deep.h", mof_output_path(o));
    write_file(inner, "deep", 4);
    ck_assert(file_exists(tmp_path("artifact/old.c")));
    ck_assert_status(ctx, mof_output_commit(o), MOF_OK);
    ck_assert(!file_exists(tmp_path("artifact/old.c")));
    ck_assert(file_exists(tmp_path("artifact/new.c")));
    ck_assert(file_exists(tmp_path("artifact/sub/deep.h")));
    ck_assert_int_eq(count_entries(tmpdir), 1);

    /* Abort removes the whole temporary tree; the committed folder stays. */
    o = mof_output_open_dir(ctx, target);
    snprintf(inner, sizeof(inner), "%s/sub", mof_output_path(o));
    ck_assert_int_eq(mkdir(inner, 0755), 0);
    snprintf(inner, sizeof(inner), "%s/sub/x", mof_output_path(o));
    write_file(inner, "x", 1);
    mof_output_abort(o);
    ck_assert_int_eq(count_entries(tmpdir), 1);
    ck_assert(file_exists(tmp_path("artifact/new.c")));
    ck_assert_uint_eq(mof_context_n_errors(ctx), 0);
    mof_context_destroy(ctx);
    remove_tmpdir();
}
END_TEST

static Suite *onnx_suite(void)
{
    Suite *s = suite_create("onnx");
    TCase *tc = tcase_create("round trip");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_round_trip_testdata);
    tcase_add_test(tc, test_unknown_fields);
    tcase_add_test(tc, test_subgraph_round_trip);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("external data");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_external_data);
    suite_add_tcase(s, tc);
    tc = tcase_create("outputs");
    tcase_add_test(tc, test_output_file);
    tcase_add_test(tc, test_output_dir);
    suite_add_tcase(s, tc);
    return s;
}

MOF_TEST_MAIN(onnx_suite)
