/* simplify: passes that remove redundant work without changing what a model computes,
 * bit for bit.
 *
 * cse (common subexpression elimination) merges two nodes that compute the same thing:
 * same op type and domain, the same input values in the same order, and equal
 * attributes (every attribute, compared by type and value: floats by their bits, so
 * 0.0 and -0.0 differ and a NaN equals itself; tensors by type, shape and bytes). The
 * later node goes and its users read the earlier one's outputs. Nodes are visited in
 * topological order and hashed on (op, domain, inputs, attributes), so a whole chain of
 * duplicates merges in one linear run: once the first pair merged, the next pair reads
 * the same values. Never merged: operators with randomness (RandomNormal, ..., and
 * Dropout, random in training mode); nodes holding subgraphs (If, Loop, Scan); nodes
 * with an attribute the SDK cannot compare (lists of strings, tensors or graphs, sparse
 * tensors, types); nodes of non-ONNX domains unless unknown-domains=true (a custom op
 * may have side effects). Inputs are compared by identity, so two equal initializers
 * are two different inputs: run merge-initializers first. A subgraph is processed on
 * its own: its nodes are not merged with the enclosing graph's.
 *
 * merge-initializers makes equal initializers (same element type, shape and bytes) one:
 * the first in the graph's order stays and the uses of the others read it. Only
 * initializers that are not graph inputs take part (an overridable default may be fed
 * a different value). Bytes are hashed only for tensors whose type and shape some other
 * initializer shares, so a model of distinct weights is not read twice.
 *
 * eliminate-noops removes nodes whose output is their first input, unchanged:
 * Transpose with the identity perm, Reshape to the shape the input already has, Cast
 * (and CastLike) to the input's own type, Pad with all-zero pads, Slice that keeps
 * every element (step 1, start clamping to 0, end to the dim), Concat of one input,
 * Expand and Tile that do not grow the input, Squeeze without axes of a shape with no
 * dim of 1, Flatten of a matrix at axis 1, and Mul or Div by 1, Add or Sub of 0 when
 * the constant's broadcast leaves the shape as it is. Add of +0.0 turns -0.0 into
 * +0.0, so it is kept unless keep-signed-zeros=false (Add of -0.0 and Sub of +0.0 are
 * exact and always go). What is known about shapes comes from the values' types, so the
 * pass finds the most after infer-shapes.
 *
 * merge-consecutive rewrites pairs of shape ops into one: Transpose -> Transpose with
 * the composed perm (both go when it is the identity), a Reshape after Reshape,
 * Flatten, Squeeze or Unsqueeze reads the first op's input directly (when its shape
 * has no 0 that would copy a dim of the first op's output), Squeeze -> Squeeze and
 * Unsqueeze -> Unsqueeze with the axes combined, and Squeeze -> Unsqueeze or
 * Unsqueeze -> Squeeze of the same axes, which cancel. The second node is rewritten in
 * place (it keeps its name and output, and takes the first's provenance); the first
 * goes when nothing else reads it, so a first op with other users never costs an
 * extra node. Axes are the attribute before opset 13 and a constant input from 13 on.
 *
 * Common to all four: subgraphs (If, Loop, Scan) are processed too; a graph output
 * keeps its name and declared type (a value taking its place takes both, and a node
 * copying a graph input to a graph output stays); constants that a removed node alone
 * read go with it; each pass returns MOF_UNCHANGED when it found nothing to do. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mof/mof.h>

/* cse's parameters. */
struct cse_pass {
    bool unknown_domains;   /* also merge nodes of non-ONNX domains */
};

/* eliminate-noops' parameters. */
struct noops_pass {
    bool keep_signed_zeros; /* keep Add of +0.0 and Sub of -0.0 */
};

static const mof_param_desc cse_params[] = {
    { .name = "unknown-domains",
      .help = "also merge nodes of non-ONNX domains (assumes custom ops are pure)",
      .type = MOF_PARAM_BOOL, .offset = offsetof(struct cse_pass, unknown_domains),
      .def = "false" },
    { 0 }
};

static const mof_param_desc noops_params[] = {
    { .name = "keep-signed-zeros",
      .help = "keep Add of +0.0 and Sub of -0.0, which turn -0.0 into +0.0",
      .type = MOF_PARAM_BOOL, .offset = offsetof(struct noops_pass, keep_signed_zeros),
      .def = "true" },
    { 0 }
};

/* ------------------------------------------------------------------ helpers */

static bool is_onnx_domain(const char *domain)
{
    return domain[0] == '\0' || strcmp(domain, "ai.onnx") == 0;
}

static bool is_op(const mof_node *n, const char *op_type)
{
    return strcmp(mof_node_op_type(n), op_type) == 0 && is_onnx_domain(mof_node_domain(n));
}

/* Records a statistic of the running pass; zero counts are left out of the report. */
static void add_stat(mof_pass_ctx *pc, const char *name, int64_t count)
{
    if (count != 0)
        mof_pass_stat(pc, name, count);
}

static bool value_is_used(const mof_value *v)
{
    return v && (mof_value_n_uses(v) > 0 || mof_value_is_graph_output(v));
}

static bool node_is_used(const mof_node *n)
{
    for (size_t i = 0; i < mof_node_n_outputs(n); i++)
        if (value_is_used(mof_node_output(n, i)))
            return true;
    return false;
}

static mof_value *input_at(const mof_node *n, size_t i)
{
    return i < mof_node_n_inputs(n) ? mof_node_input(n, i) : NULL;
}

static mof_value *output0(const mof_node *n)
{
    return mof_node_n_outputs(n) > 0 ? mof_node_output(n, 0) : NULL;
}

/* The node producing v when it is op_type of the ONNX domain, else NULL. */
static mof_node *producer_op(const mof_value *v, const char *op_type)
{
    mof_node *p = v ? mof_value_producer(v, NULL) : NULL;
    return p && is_op(p, op_type) ? p : NULL;
}

/* The tensor a value is known to hold: an initializer that is not a graph input, or
 * the output of a Constant node with a `value` attribute. NULL when not constant. */
static const mof_tensor *constant_tensor(const mof_value *v)
{
    if (!v)
        return NULL;
    if (mof_value_is_constant(v))
        return mof_value_tensor(v);
    mof_node *p = producer_op(v, "Constant");
    return p ? mof_node_attr_tensor(p, "value") : NULL;
}

/* True when v's shape is known to the last dim. */
static bool shape_is_static(const mof_value *v)
{
    int rank = v ? mof_value_rank(v) : -1;
    if (rank < 0)
        return false;
    for (int i = 0; i < rank; i++)
        if (mof_value_dim(v, (size_t)i) < 0)
            return false;
    return true;
}

/* True when both shapes are known to the last dim and equal. */
static bool same_static_shape(const mof_value *a, const mof_value *b)
{
    if (!shape_is_static(a) || !shape_is_static(b) || mof_value_rank(a) != mof_value_rank(b))
        return false;
    for (int i = 0; i < mof_value_rank(a); i++)
        if (mof_value_dim(a, (size_t)i) != mof_value_dim(b, (size_t)i))
            return false;
    return true;
}

/* The element type of v, from its type or its constant tensor; UNDEFINED if unknown. */
static mof_dtype value_dtype(const mof_value *v)
{
    if (v && mof_value_has_type(v) && mof_value_dtype(v) != MOF_DTYPE_UNDEFINED)
        return mof_value_dtype(v);
    const mof_tensor *t = constant_tensor(v);
    return t ? mof_tensor_dtype(t) : MOF_DTYPE_UNDEFINED;
}

/* Makes every use of old_v read new_v. A graph output keeps its name and its declared
 * type: new_v takes both (they describe the same tensor, so the type still holds).
 * MOF_UNCHANGED when that is not allowed (see mof_value_can_replace). */
static mof_status replace_value(mof_value *old_v, mof_value *new_v)
{
    if (!mof_value_can_replace(old_v, new_v))
        return MOF_UNCHANGED;
    bool keep_type = mof_value_is_graph_output(old_v) && mof_value_has_type(old_v);
    mof_status st = mof_value_replace_uses(old_v, new_v);
    if (st == MOF_OK && keep_type)
        st = mof_value_copy_type(new_v, old_v);
    return st;
}

/* Removes what removing a node left unread: v, when it is an initializer of g (not a
 * graph input or output) or a Constant node's output, and nothing uses it any more. */
static mof_status drop_constant_if_unused(mof_graph *g, mof_value *v)
{
    if (!v || value_is_used(v) || mof_value_graph(v) != g)
        return MOF_OK;
    if (mof_value_is_constant(v))
        return mof_graph_remove_initializer(g, v);
    mof_node *p = producer_op(v, "Constant");
    if (p && !node_is_used(p))
        return mof_graph_remove_node(g, p);
    return MOF_OK;
}

/* Removes node n when none of its outputs is used, then the constants only it read.
 * *removed (may be NULL) is incremented when it went. */
static mof_status remove_if_unused(mof_graph *g, mof_node *n, int64_t *removed)
{
    if (node_is_used(n))
        return MOF_OK;
    /* The inputs die with the node: keep them in a list first. */
    size_t count = mof_node_n_inputs(n);
    mof_value **inputs = NULL;
    if (count) {
        inputs = malloc(count * sizeof *inputs);
        if (!inputs)
            return MOF_ERR_NOMEM;
        for (size_t i = 0; i < count; i++)
            inputs[i] = mof_node_input(n, i);
    }
    mof_status st = mof_graph_remove_node(g, n);
    if (st == MOF_OK && removed)
        (*removed)++;
    for (size_t i = 0; i < count && st == MOF_OK; i++) {
        /* The same constant may be read twice: only its first visit removes it. */
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = inputs[j] == inputs[i];
        if (!seen)
            st = drop_constant_if_unused(g, inputs[i]);
    }
    free(inputs);
    return st;
}

/* Bypasses node n: the uses of its output read `in` instead, and the node goes.
 * MOF_UNCHANGED when the graph's interface forbids it. */
static mof_status bypass_node(mof_graph *g, mof_node *n, mof_value *in, int64_t *removed)
{
    mof_value *out = output0(n);
    if (!in || !out || mof_node_n_outputs(n) != 1)
        return MOF_UNCHANGED;
    mof_status st = replace_value(out, in);
    if (st != MOF_OK)
        return st;
    return remove_if_unused(g, n, removed);
}

/* ------------------------------------------------------------------ integer lists */

/* A list of integers read in place from an INTS attribute (int64) or a constant
 * tensor (int32 or int64), never copied. */
struct ilist {
    size_t n;
    const int64_t *i64;
    const int32_t *i32;
};

static int64_t ilist_at(const struct ilist *l, size_t i)
{
    return l->i64 ? l->i64[i] : l->i32[i];
}

static bool ilist_from_attr(const mof_node *n, const char *name, struct ilist *l)
{
    if (mof_node_attr_type(n, name) != MOF_ATTR_INTS)
        return false;
    l->i64 = mof_node_attr_ints(n, name, &l->n);
    l->i32 = NULL;
    return true;
}

/* False when v is absent, not constant, not an integer tensor or not 1-D/scalar. */
static bool ilist_from_value(const mof_value *v, struct ilist *l)
{
    const mof_tensor *t = constant_tensor(v);
    if (!t || mof_tensor_rank(t) > 1)
        return false;
    l->n = (size_t)mof_tensor_numel(t);
    l->i64 = NULL;
    l->i32 = NULL;
    if (mof_tensor_dtype(t) == MOF_DTYPE_INT64)
        l->i64 = mof_tensor_data(t);
    else if (mof_tensor_dtype(t) == MOF_DTYPE_INT32)
        l->i32 = mof_tensor_data(t);
    else
        return false;
    return true;
}

static bool ilist_all(const struct ilist *l, int64_t v)
{
    for (size_t i = 0; i < l->n; i++)
        if (ilist_at(l, i) != v)
            return false;
    return true;
}

/* The axes of a Squeeze or Unsqueeze: the attribute before opset 13, input 1 from 13
 * on. *present tells whether the node names axes at all. False when they are not
 * known at optimization time (an input computed at run time). */
static bool node_axes(const mof_node *n, int64_t opset, struct ilist *l, bool *present)
{
    memset(l, 0, sizeof *l);
    if (opset < 13) {
        *present = mof_node_has_attr(n, "axes");
        return !*present || ilist_from_attr(n, "axes", l);
    }
    mof_value *axes = input_at(n, 1);
    *present = axes != NULL;
    return !axes || ilist_from_value(axes, l);
}

/* Writes l's axes into out, each made non-negative against rank (rank < 0: unknown,
 * then a negative axis cannot be placed), sorted ascending. False when an axis is
 * out of range, repeated, or negative with an unknown rank. */
static bool normalize_axes(const struct ilist *l, int64_t rank, int64_t *out)
{
    for (size_t i = 0; i < l->n; i++) {
        int64_t a = ilist_at(l, i);
        if (a < 0) {
            if (rank < 0)
                return false;
            a += rank;
        }
        if (a < 0 || (rank >= 0 && a >= rank))
            return false;
        /* Insertion sort: axis lists are a handful long. */
        size_t j = i;
        while (j > 0 && out[j - 1] > a) {
            out[j] = out[j - 1];
            j--;
        }
        if (j > 0 && out[j - 1] == a)
            return false;
        out[j] = a;
    }
    return true;
}

static bool sorted_contains(const int64_t *v, size_t n, int64_t x)
{
    for (size_t i = 0; i < n && v[i] <= x; i++)
        if (v[i] == x)
            return true;
    return false;
}

/* The k-th (from 0) non-negative integer that is not in the sorted list skip. */
static int64_t nth_not_in(const int64_t *skip, size_t n_skip, int64_t k)
{
    int64_t p = -1;
    for (int64_t seen = -1; seen < k;) {
        p++;
        if (!sorted_contains(skip, n_skip, p))
            seen++;
    }
    return p;
}

/* ------------------------------------------------------------------ hashing */

/* Folds v into the running hash h (the splitmix64 finalizer: every input bit moves
 * every output bit). Only equality decides anything, never the hash order, so the
 * passes' results do not depend on it. */
static uint64_t hash_mix(uint64_t h, uint64_t v)
{
    uint64_t z = h ^ (v + 0x9e3779b97f4a7c15u + (h << 6) + (h >> 2));
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint64_t hash_bytes(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = hash_mix(h, w);
    }
    uint64_t w = 0;
    if (n)
        memcpy(&w, p, n);
    return hash_mix(h, w ^ (uint64_t)n << 56);
}

static uint64_t hash_str(uint64_t h, const char *s)
{
    return hash_bytes(h, s, strlen(s));
}

/* An open-addressing hash table of items (never NULL) under 64-bit hashes. Lookups
 * compare the hash, then the items themselves with the caller's eq. */
struct htab {
    struct hslot {
        uint64_t hash;
        void *item;
    } *slots;
    size_t cap, n;   /* cap is 0 or a power of two */
};

static void *htab_find(const struct htab *t, uint64_t h,
                       bool (*eq)(const void *item, const void *key), const void *key)
{
    if (!t->cap)
        return NULL;
    for (size_t i = (size_t)h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        if (!t->slots[i].item)
            return NULL;
        if (t->slots[i].hash == h && eq(t->slots[i].item, key))
            return t->slots[i].item;
    }
}

static mof_status htab_insert(struct htab *t, uint64_t h, void *item)
{
    /* Keep the load under one half, so that probes stay short. */
    if (2 * (t->n + 1) > t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        struct hslot *slots = calloc(cap, sizeof *slots);
        if (!slots)
            return MOF_ERR_NOMEM;
        for (size_t i = 0; i < t->cap; i++) {
            if (!t->slots[i].item)
                continue;
            size_t j = (size_t)t->slots[i].hash & (cap - 1);
            while (slots[j].item)
                j = (j + 1) & (cap - 1);
            slots[j] = t->slots[i];
        }
        free(t->slots);
        t->slots = slots;
        t->cap = cap;
    }
    size_t j = (size_t)h & (t->cap - 1);
    while (t->slots[j].item)
        j = (j + 1) & (t->cap - 1);
    t->slots[j].hash = h;
    t->slots[j].item = item;
    t->n++;
    return MOF_OK;
}

static void htab_free(struct htab *t)
{
    free(t->slots);
    memset(t, 0, sizeof *t);
}

/* ------------------------------------------------------------------ cse */

struct cse_state {
    const struct cse_pass *p;
    int64_t merged;
};

/* Operators whose result differs from run to run, and Dropout, which does when it
 * runs in training mode. */
static bool is_random(const mof_node *n)
{
    static const char *const ops[] = {
        "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
        "Multinomial", "Bernoulli", "Dropout",
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(mof_node_op_type(n), ops[i]) == 0)
            return true;
    return false;
}

/* Attribute types whose values the SDK can read, hence compare. */
static bool attr_is_comparable(mof_attr_type type)
{
    switch (type) {
    case MOF_ATTR_FLOAT:
    case MOF_ATTR_INT:
    case MOF_ATTR_STRING:
    case MOF_ATTR_TENSOR:
    case MOF_ATTR_FLOATS:
    case MOF_ATTR_INTS:
        return true;
    default:
        return false;
    }
}

static bool cse_candidate(const mof_node *n, const struct cse_pass *p)
{
    const char *domain = mof_node_domain(n);
    if (!is_onnx_domain(domain) && strcmp(domain, "ai.onnx.ml") != 0 && !p->unknown_domains)
        return false;
    if (mof_node_n_outputs(n) == 0 || mof_node_n_subgraphs(n) > 0 || is_random(n))
        return false;
    for (size_t i = 0; i < mof_node_n_attrs(n); i++)
        if (!attr_is_comparable(mof_node_attr_type(n, mof_node_attr_name(n, i))))
            return false;
    return true;
}

/* A value's identity, stable while the pass runs: its producer's id and output index,
 * or, for values no node of this graph produces (inputs, initializers, captures),
 * its name, which replacing a graph output never changes for those. */
static uint64_t value_key(const mof_value *v)
{
    if (!v)
        return 0x6e6f6e65u;
    size_t index = 0;
    const mof_node *p = mof_value_producer(v, &index);
    if (p)
        return hash_mix(mof_node_id(p), index);
    return hash_str(0x76616c7565u, mof_value_name(v));
}

static uint64_t node_hash(const mof_node *n)
{
    uint64_t h = hash_str(0, mof_node_op_type(n));
    h = hash_str(h, is_onnx_domain(mof_node_domain(n)) ? "" : mof_node_domain(n));
    h = hash_mix(h, mof_node_n_outputs(n));
    for (size_t i = 0; i < mof_node_n_inputs(n); i++)
        h = hash_mix(h, value_key(mof_node_input(n, i)));
    /* Attributes are a set: their hashes are summed, in whatever order they come. */
    uint64_t attrs = 0;
    for (size_t i = 0; i < mof_node_n_attrs(n); i++) {
        const char *name = mof_node_attr_name(n, i);
        mof_attr_type type = mof_node_attr_type(n, name);
        uint64_t a = hash_mix(hash_str(0, name), (uint64_t)type);
        if (type == MOF_ATTR_INT)
            a = hash_mix(a, (uint64_t)mof_node_attr_int(n, name, 0));
        attrs += a;
    }
    return hash_mix(h, attrs);
}

static bool attr_equal(const mof_node *a, const mof_node *b, const char *name,
                       mof_attr_type type)
{
    switch (type) {
    case MOF_ATTR_FLOAT: {
        float fa = mof_node_attr_float(a, name, 0), fb = mof_node_attr_float(b, name, 0);
        return memcmp(&fa, &fb, sizeof fa) == 0;
    }
    case MOF_ATTR_INT:
        return mof_node_attr_int(a, name, 0) == mof_node_attr_int(b, name, 0);
    case MOF_ATTR_STRING: {
        size_t na = 0, nb = 0;
        const char *sa = mof_node_attr_string(a, name, "", &na);
        const char *sb = mof_node_attr_string(b, name, "", &nb);
        return na == nb && memcmp(sa, sb, na) == 0;
    }
    case MOF_ATTR_TENSOR: {
        const mof_tensor *ta = mof_node_attr_tensor(a, name);
        const mof_tensor *tb = mof_node_attr_tensor(b, name);
        return ta && tb && mof_tensor_equal(ta, tb);
    }
    case MOF_ATTR_FLOATS: {
        size_t na, nb;
        const float *va = mof_node_attr_floats(a, name, &na);
        const float *vb = mof_node_attr_floats(b, name, &nb);
        return na == nb && (na == 0 || memcmp(va, vb, na * sizeof *va) == 0);
    }
    case MOF_ATTR_INTS: {
        size_t na, nb;
        const int64_t *va = mof_node_attr_ints(a, name, &na);
        const int64_t *vb = mof_node_attr_ints(b, name, &nb);
        return na == nb && (na == 0 || memcmp(va, vb, na * sizeof *va) == 0);
    }
    default:
        return false;
    }
}

/* Whether two candidates compute the same outputs (see the top comment). */
static bool nodes_equal(const void *item, const void *key)
{
    const mof_node *a = item, *b = key;
    if (strcmp(mof_node_op_type(a), mof_node_op_type(b)) != 0)
        return false;
    const char *da = mof_node_domain(a), *db = mof_node_domain(b);
    if (!(is_onnx_domain(da) && is_onnx_domain(db)) && strcmp(da, db) != 0)
        return false;
    if (mof_node_n_inputs(a) != mof_node_n_inputs(b) ||
        mof_node_n_outputs(a) != mof_node_n_outputs(b) ||
        mof_node_n_attrs(a) != mof_node_n_attrs(b))
        return false;
    for (size_t i = 0; i < mof_node_n_inputs(a); i++)
        if (mof_node_input(a, i) != mof_node_input(b, i))
            return false;
    /* Same count and every name of a found in b with the same type: the same set. */
    for (size_t i = 0; i < mof_node_n_attrs(a); i++) {
        const char *name = mof_node_attr_name(a, i);
        mof_attr_type type = mof_node_attr_type(a, name);
        if (mof_node_attr_type(b, name) != type || !attr_equal(a, b, name, type))
            return false;
    }
    return true;
}

/* Makes the users of dup's outputs read keep's, then removes dup. All or nothing:
 * MOF_UNCHANGED when one output cannot be replaced (both are graph outputs, or keep
 * omits an output that dup computes and something reads). */
static mof_status merge_node(mof_graph *g, mof_node *dup, mof_node *keep)
{
    size_t n = mof_node_n_outputs(dup);
    for (size_t i = 0; i < n; i++) {
        mof_value *old_v = mof_node_output(dup, i), *new_v = mof_node_output(keep, i);
        if (value_is_used(old_v) && (!new_v || !mof_value_can_replace(old_v, new_v)))
            return MOF_UNCHANGED;
    }
    for (size_t i = 0; i < n; i++) {
        mof_value *old_v = mof_node_output(dup, i);
        if (!value_is_used(old_v))
            continue;
        mof_status st = replace_value(old_v, mof_node_output(keep, i));
        if (st != MOF_OK)
            return st < 0 ? st : MOF_ERR_INTERNAL;
    }
    mof_status st = mof_node_add_origins(keep, dup);
    if (st != MOF_OK)
        return st;
    return remove_if_unused(g, dup, NULL);
}

static mof_status cse_graph(struct cse_state *s, mof_graph *g)
{
    struct htab seen = { 0 };
    mof_status st = MOF_OK;
    mof_node *next;
    for (mof_node *n = mof_graph_first_node(g); n && st >= 0; n = next) {
        next = mof_node_next(n);
        /* What a subgraph captures is defined before its node, so merged already. */
        for (size_t i = 0; i < mof_node_n_subgraphs(n) && st >= 0; i++)
            st = cse_graph(s, mof_node_subgraph(n, i));
        if (st < 0 || !cse_candidate(n, s->p))
            continue;
        uint64_t h = node_hash(n);
        mof_node *keep = htab_find(&seen, h, nodes_equal, n);
        if (!keep) {
            st = htab_insert(&seen, h, n);
            continue;
        }
        /* When dup must stay, keep remains the representative of its class. */
        st = merge_node(g, n, keep);
        if (st == MOF_OK)
            s->merged++;
    }
    htab_free(&seen);
    return st < 0 ? st : MOF_OK;
}

static mof_status cse_run(mof_pass_ctx *pc, mof_model *model, void *priv)
{
    struct cse_state s = { .p = priv };
    mof_status st = cse_graph(&s, mof_model_graph(model));
    add_stat(pc, "nodes-merged", s.merged);
    if (st < 0)
        return st;
    return s.merged > 0 ? MOF_OK : MOF_UNCHANGED;
}

/* ------------------------------------------------------------------ merge-initializers */

struct init_counts {
    int64_t merged, bytes;
};

/* One initializer taking part. */
struct init_entry {
    mof_value *v;
    const mof_tensor *t;
    bool shared_shape;   /* another initializer has the same type and shape */
};

static uint64_t tensor_shape_hash(const mof_tensor *t)
{
    uint64_t h = hash_mix((uint64_t)mof_tensor_dtype(t), mof_tensor_rank(t));
    for (size_t i = 0; i < mof_tensor_rank(t); i++)
        h = hash_mix(h, (uint64_t)mof_tensor_dims(t)[i]);
    return h;
}

static uint64_t tensor_content_hash(uint64_t h, const mof_tensor *t)
{
    if (mof_tensor_dtype(t) != MOF_DTYPE_STRING)
        return hash_bytes(h, mof_tensor_data(t), mof_tensor_nbytes(t));
    /* Strings: their bytes, not the pointers to them. */
    const mof_string *s = mof_tensor_data(t);
    for (int64_t i = 0; i < mof_tensor_numel(t); i++)
        h = hash_bytes(hash_mix(h, s[i].size), s[i].data, s[i].size);
    return h;
}

static bool same_shape(const void *item, const void *key)
{
    const mof_tensor *a = ((const struct init_entry *)item)->t;
    const mof_tensor *b = ((const struct init_entry *)key)->t;
    if (mof_tensor_dtype(a) != mof_tensor_dtype(b) || mof_tensor_rank(a) != mof_tensor_rank(b))
        return false;
    size_t rank = mof_tensor_rank(a);
    return rank == 0 ||
           memcmp(mof_tensor_dims(a), mof_tensor_dims(b), rank * sizeof(int64_t)) == 0;
}

static bool same_tensor(const void *item, const void *key)
{
    return mof_tensor_equal(((const struct init_entry *)item)->t,
                            ((const struct init_entry *)key)->t);
}

static mof_status merge_initializers_in(mof_graph *g, struct init_counts *counts)
{
    struct init_entry *entries = NULL;
    struct htab shapes = { 0 }, contents = { 0 };
    mof_status st = MOF_OK;
    size_t n = 0, cap = mof_graph_n_initializers(g);
    if (cap < 2)
        goto out;
    entries = malloc(cap * sizeof *entries);
    if (!entries) {
        st = MOF_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < cap; i++) {
        mof_value *v = mof_graph_initializer(g, i);
        if (mof_value_is_constant(v) && mof_value_tensor(v))
            entries[n++] = (struct init_entry){ v, mof_value_tensor(v), false };
    }
    /* First pass: which type-and-shape classes have more than one member. */
    for (size_t i = 0; i < n && st == MOF_OK; i++) {
        uint64_t h = tensor_shape_hash(entries[i].t);
        struct init_entry *first = htab_find(&shapes, h, same_shape, &entries[i]);
        if (first)
            first->shared_shape = entries[i].shared_shape = true;
        else
            st = htab_insert(&shapes, h, &entries[i]);
    }
    /* Second pass: hash the bytes of those only; the first of equal tensors stays. */
    for (size_t i = 0; i < n && st == MOF_OK; i++) {
        struct init_entry *e = &entries[i];
        if (!e->shared_shape)
            continue;
        uint64_t h = tensor_content_hash(tensor_shape_hash(e->t), e->t);
        struct init_entry *keep = htab_find(&contents, h, same_tensor, e);
        if (!keep) {
            st = htab_insert(&contents, h, e);
            continue;
        }
        /* An initializer listed as a graph output cannot hand its name over. */
        st = replace_value(e->v, keep->v);
        if (st == MOF_UNCHANGED) {
            st = MOF_OK;
            continue;
        }
        if (st != MOF_OK)
            break;
        int64_t bytes = (int64_t)mof_tensor_nbytes(e->t);
        st = mof_graph_remove_initializer(g, e->v);
        if (st == MOF_OK) {
            counts->merged++;
            counts->bytes += bytes;
        }
    }
out:
    htab_free(&shapes);
    htab_free(&contents);
    free(entries);
    if (st != MOF_OK)
        return st;
    for (mof_node *node = mof_graph_first_node(g); node; node = mof_node_next(node)) {
        for (size_t i = 0; i < mof_node_n_subgraphs(node); i++) {
            st = merge_initializers_in(mof_node_subgraph(node, i), counts);
            if (st != MOF_OK)
                return st;
        }
    }
    return MOF_OK;
}

static mof_status merge_initializers_run(mof_pass_ctx *pc, mof_model *model, void *priv)
{
    struct init_counts counts = { 0, 0 };
    mof_status st = merge_initializers_in(mof_model_graph(model), &counts);
    add_stat(pc, "initializers-merged", counts.merged);
    add_stat(pc, "bytes-saved", counts.bytes);
    if (st < 0)
        return st;
    return counts.merged > 0 ? MOF_OK : MOF_UNCHANGED;
}

/* ------------------------------------------------------------------ eliminate-noops */

/* The kinds of no-op, each counted under its own statistic. */
enum noop_kind {
    NOOP_TRANSPOSE, NOOP_RESHAPE, NOOP_CAST, NOOP_PAD, NOOP_SLICE, NOOP_CONCAT,
    NOOP_EXPAND, NOOP_TILE, NOOP_SQUEEZE, NOOP_FLATTEN, NOOP_ARITH, NOOP_KINDS
};

static const char *const noop_stat_names[NOOP_KINDS] = {
    "transpose-removed", "reshape-removed", "cast-removed", "pad-removed",
    "slice-removed", "concat-removed", "expand-removed", "tile-removed",
    "squeeze-removed", "flatten-removed", "arithmetic-removed",
};

struct noops_state {
    const struct noops_pass *p;
    int64_t opset;
    int64_t counts[NOOP_KINDS];
};

/* Transpose: the identity perm, or no perm (reversal) of a rank below 2. */
static bool transpose_is_noop(const mof_node *n)
{
    if (!mof_node_has_attr(n, "perm")) {
        int rank = mof_value_rank(input_at(n, 0));
        return rank == 0 || rank == 1;
    }
    size_t count;
    const int64_t *perm = mof_node_attr_ints(n, "perm", &count);
    if (mof_node_attr_type(n, "perm") != MOF_ATTR_INTS)
        return false;
    for (size_t i = 0; i < count; i++)
        if (perm[i] != (int64_t)i)
            return false;
    return true;
}

/* Reshape: every entry of a constant shape keeps the input's dim (0 copies it unless
 * allowzero, -1 infers it once, a number equals it), or, with a shape computed at run
 * time, input and output types are the same static shape. */
static bool reshape_is_noop(const mof_node *n)
{
    mof_value *x = input_at(n, 0);
    struct ilist shape;
    if (!ilist_from_value(input_at(n, 1), &shape))
        return same_static_shape(x, output0(n));
    int rank = mof_value_rank(x);
    if (rank < 0 || (size_t)rank != shape.n)
        return false;
    bool allowzero = mof_node_attr_int(n, "allowzero", 0) != 0;
    size_t n_inferred = 0;
    for (size_t i = 0; i < shape.n; i++) {
        int64_t t = ilist_at(&shape, i), d = mof_value_dim(x, i);
        if (t == 0 && !allowzero)
            continue;
        if (t == -1) {
            /* -1 is the one dim the others leave, unless a 0 makes that ambiguous. */
            if (d == 0 || ++n_inferred > 1)
                return false;
            continue;
        }
        if (t < 0 || t != d)
            return false;
    }
    return true;
}

/* Cast (`to`) or CastLike (input 1's type) to the type the input already has. */
static bool cast_is_noop(const mof_node *n)
{
    mof_dtype from = value_dtype(input_at(n, 0));
    if (from == MOF_DTYPE_UNDEFINED)
        return false;
    if (is_op(n, "CastLike"))
        return value_dtype(input_at(n, 1)) == from;
    return mof_node_attr_type(n, "to") == MOF_ATTR_INT &&
           mof_node_attr_int(n, "to", 0) == (int64_t)from;
}

/* Pad: all pads zero (then the mode and the constant value do not matter). The pads
 * are the attribute before opset 11 (`paddings` in opset 1), input 1 from 11 on. */
static bool pad_is_noop(const mof_node *n, int64_t opset)
{
    struct ilist pads;
    bool known = opset >= 11 ? ilist_from_value(input_at(n, 1), &pads)
                             : ilist_from_attr(n, opset < 2 ? "paddings" : "pads", &pads);
    return known && ilist_all(&pads, 0);
}

/* Slice: on every sliced axis, step 1, a start that clamps to 0 and an end that
 * clamps to the dim (with an unknown dim, only an end of 2^62 or more is surely
 * past it). Starts, ends, axes are attributes before opset 10, inputs from 10 on. */
static bool slice_is_noop(const mof_node *n, int64_t opset)
{
    struct ilist starts, ends, axes = { 0 }, steps = { 0 };
    bool has_axes, has_steps = false;
    if (opset < 10) {
        if (!ilist_from_attr(n, "starts", &starts) || !ilist_from_attr(n, "ends", &ends))
            return false;
        has_axes = mof_node_has_attr(n, "axes");
        if (has_axes && !ilist_from_attr(n, "axes", &axes))
            return false;
    } else {
        if (!ilist_from_value(input_at(n, 1), &starts) ||
            !ilist_from_value(input_at(n, 2), &ends))
            return false;
        has_axes = input_at(n, 3) != NULL;
        has_steps = input_at(n, 4) != NULL;
        if ((has_axes && !ilist_from_value(input_at(n, 3), &axes)) ||
            (has_steps && !ilist_from_value(input_at(n, 4), &steps)))
            return false;
    }
    if (ends.n != starts.n || (has_axes && axes.n != starts.n) ||
        (has_steps && steps.n != starts.n))
        return false;
    mof_value *x = input_at(n, 0);
    int rank = mof_value_rank(x);
    for (size_t i = 0; i < starts.n; i++) {
        int64_t axis = has_axes ? ilist_at(&axes, i) : (int64_t)i;
        if (axis < 0 && rank >= 0)
            axis += rank;
        if (axis < 0 || (rank >= 0 && axis >= rank))
            return false;
        if (has_steps && ilist_at(&steps, i) != 1)
            return false;
        int64_t d = rank >= 0 ? mof_value_dim(x, (size_t)axis) : MOF_DIM_UNKNOWN;
        int64_t start = ilist_at(&starts, i), end = ilist_at(&ends, i);
        if (start < 0 ? d < 0 || start + d > 0 : start != 0)
            return false;
        if (d >= 0 ? end < d : end < (INT64_C(1) << 62))
            return false;
    }
    return true;
}

/* Expand to a constant shape that broadcasts to the input's own (each entry, aligned
 * right, is 1 or the input's dim), or, with a shape computed at run time, input and
 * output types are the same static shape. */
static bool expand_is_noop(const mof_node *n)
{
    mof_value *x = input_at(n, 0);
    struct ilist shape;
    if (!ilist_from_value(input_at(n, 1), &shape))
        return same_static_shape(x, output0(n));
    int rank = mof_value_rank(x);
    if (rank < 0 || shape.n > (size_t)rank)
        return false;
    for (size_t j = 0; j < shape.n; j++) {
        int64_t t = ilist_at(&shape, j);
        int64_t d = mof_value_dim(x, (size_t)rank - shape.n + j);
        if (t != 1 && (t < 0 || t != d))
            return false;
    }
    return true;
}

/* Squeeze without axes (or with an empty list) of a shape known to have no dim of 1. */
static bool squeeze_is_noop(const mof_node *n, int64_t opset)
{
    struct ilist axes;
    bool present;
    if (!node_axes(n, opset, &axes, &present) || axes.n > 0)
        return false;
    mof_value *x = input_at(n, 0);
    if (!shape_is_static(x))
        return false;
    for (int i = 0; i < mof_value_rank(x); i++)
        if (mof_value_dim(x, (size_t)i) == 1)
            return false;
    return true;
}

/* Flatten of a matrix at axis 1 (or -1): [a, b] stays [a, b]. */
static bool flatten_is_noop(const mof_node *n)
{
    if (mof_value_rank(input_at(n, 0)) != 2)
        return false;
    int64_t axis = mof_node_attr_int(n, "axis", 1);
    return axis == 1 || axis == -1;
}

/* What a constant operand must hold for the arithmetic to be the identity. */
enum neutral { NEUTRAL_ONE, NEUTRAL_ADD_ZERO, NEUTRAL_SUB_ZERO };

/* Whether every element of t is one of the element patterns of its type that make the
 * operation the identity: 1 for Mul and Div; for Add, -0.0 (x + -0.0 is x, even for
 * x = -0.0) and, unless signed zeros are kept, +0.0; for Sub, +0.0 and, unless kept,
 * -0.0. Integers: 1, or 0. */
static bool tensor_is_neutral(const mof_tensor *t, enum neutral kind, bool keep_signed_zeros)
{
    union {
        float f;
        double d;
        uint16_t h;
        int8_t i8;
        int16_t i16;
        int32_t i32;
        int64_t i64;
        unsigned char bytes[8];
    } pat[2];
    memset(pat, 0, sizeof pat);
    size_t n_pat = 1;
    bool one = kind == NEUTRAL_ONE;
    /* The zero the operation keeps exact: -0.0 for Add, +0.0 for Sub; pat[1] is the
     * other zero, allowed when signed zeros may change. */
    bool neg = kind == NEUTRAL_ADD_ZERO;
    switch (mof_tensor_dtype(t)) {
    case MOF_DTYPE_FLOAT:
        pat[0].f = one ? 1.0f : neg ? -0.0f : 0.0f;
        pat[1].f = neg ? 0.0f : -0.0f;
        n_pat = one || keep_signed_zeros ? 1 : 2;
        break;
    case MOF_DTYPE_DOUBLE:
        pat[0].d = one ? 1.0 : neg ? -0.0 : 0.0;
        pat[1].d = neg ? 0.0 : -0.0;
        n_pat = one || keep_signed_zeros ? 1 : 2;
        break;
    case MOF_DTYPE_FLOAT16:
    case MOF_DTYPE_BFLOAT16: {
        uint16_t one_bits = mof_tensor_dtype(t) == MOF_DTYPE_FLOAT16 ? 0x3c00 : 0x3f80;
        pat[0].h = one ? one_bits : neg ? 0x8000 : 0;
        pat[1].h = neg ? 0 : 0x8000;
        n_pat = one || keep_signed_zeros ? 1 : 2;
        break;
    }
    case MOF_DTYPE_INT8:
    case MOF_DTYPE_UINT8:
        pat[0].i8 = one;
        break;
    case MOF_DTYPE_INT16:
    case MOF_DTYPE_UINT16:
        pat[0].i16 = one;
        break;
    case MOF_DTYPE_INT32:
    case MOF_DTYPE_UINT32:
        pat[0].i32 = one;
        break;
    case MOF_DTYPE_INT64:
    case MOF_DTYPE_UINT64:
        pat[0].i64 = one;
        break;
    default:
        return false;
    }
    size_t size = mof_dtype_size(mof_tensor_dtype(t));
    const unsigned char *data = mof_tensor_data(t);
    for (int64_t i = 0; i < mof_tensor_numel(t); i++) {
        const unsigned char *e = data + (size_t)i * size;
        bool ok = false;
        for (size_t k = 0; k < n_pat && !ok; k++)
            ok = memcmp(e, pat[k].bytes, size) == 0;
        if (!ok)
            return false;
    }
    return true;
}

/* Whether `c` is a constant operand that leaves `x` as it is under the operation:
 * neutral elements only, the same element type, and a shape that broadcasts into x's
 * without growing it (aligned right, each dim 1 or x's known dim). */
static bool operand_is_neutral(const mof_value *x, const mof_value *c, enum neutral kind,
                               bool keep_signed_zeros)
{
    const mof_tensor *t = constant_tensor(c);
    if (!t || !x || value_dtype(x) != mof_tensor_dtype(t))
        return false;
    int rank = mof_value_rank(x);
    size_t crank = mof_tensor_rank(t);
    if (rank < 0 || crank > (size_t)rank)
        return false;
    for (size_t j = 0; j < crank; j++) {
        int64_t cd = mof_tensor_dims(t)[j];
        if (cd != 1 && cd != mof_value_dim(x, (size_t)rank - crank + j))
            return false;
    }
    return tensor_is_neutral(t, kind, keep_signed_zeros);
}

/* For Mul, Div, Add and Sub: the operand the node passes through unchanged, or NULL. */
static mof_value *arith_passthrough(const mof_node *n, bool keep_signed_zeros)
{
    if (mof_node_n_inputs(n) != 2)
        return NULL;
    mof_value *a = mof_node_input(n, 0), *b = mof_node_input(n, 1);
    bool mul = is_op(n, "Mul"), add = is_op(n, "Add");
    enum neutral kind = mul || is_op(n, "Div") ? NEUTRAL_ONE
                        : add                  ? NEUTRAL_ADD_ZERO
                                               : NEUTRAL_SUB_ZERO;
    if (operand_is_neutral(a, b, kind, keep_signed_zeros))
        return a;
    /* Mul and Add commute; Div and Sub only have a neutral right operand. */
    if ((mul || add) && operand_is_neutral(b, a, kind, keep_signed_zeros))
        return b;
    return NULL;
}

/* Which kind of no-op n is, and the input it passes through; NOOP_KINDS when none. */
static enum noop_kind classify_noop(const struct noops_state *s, const mof_node *n,
                                    mof_value **through)
{
    *through = input_at(n, 0);
    if (!is_onnx_domain(mof_node_domain(n)) || !*through || mof_node_n_outputs(n) != 1)
        return NOOP_KINDS;
    const char *op = mof_node_op_type(n);
    int64_t opset = s->opset;
    if (!strcmp(op, "Transpose"))
        return transpose_is_noop(n) ? NOOP_TRANSPOSE : NOOP_KINDS;
    if (!strcmp(op, "Reshape") && opset >= 5)
        return reshape_is_noop(n) ? NOOP_RESHAPE : NOOP_KINDS;
    if (!strcmp(op, "Cast") || !strcmp(op, "CastLike"))
        return cast_is_noop(n) ? NOOP_CAST : NOOP_KINDS;
    if (!strcmp(op, "Pad"))
        return pad_is_noop(n, opset) ? NOOP_PAD : NOOP_KINDS;
    if (!strcmp(op, "Slice"))
        return slice_is_noop(n, opset) ? NOOP_SLICE : NOOP_KINDS;
    if (!strcmp(op, "Concat"))
        return mof_node_n_inputs(n) == 1 ? NOOP_CONCAT : NOOP_KINDS;
    if (!strcmp(op, "Expand"))
        return expand_is_noop(n) ? NOOP_EXPAND : NOOP_KINDS;
    if (!strcmp(op, "Tile") && opset >= 6) {
        struct ilist repeats;
        bool ok = ilist_from_value(input_at(n, 1), &repeats) && ilist_all(&repeats, 1);
        return ok ? NOOP_TILE : NOOP_KINDS;
    }
    if (!strcmp(op, "Squeeze"))
        return squeeze_is_noop(n, opset) ? NOOP_SQUEEZE : NOOP_KINDS;
    if (!strcmp(op, "Flatten"))
        return flatten_is_noop(n) ? NOOP_FLATTEN : NOOP_KINDS;
    if (!strcmp(op, "Mul") || !strcmp(op, "Div") || !strcmp(op, "Add") || !strcmp(op, "Sub")) {
        *through = arith_passthrough(n, s->p->keep_signed_zeros);
        return *through ? NOOP_ARITH : NOOP_KINDS;
    }
    return NOOP_KINDS;
}

static mof_status noops_graph(struct noops_state *s, mof_graph *g)
{
    mof_node *next;
    for (mof_node *n = mof_graph_first_node(g); n; n = next) {
        next = mof_node_next(n);
        for (size_t i = 0; i < mof_node_n_subgraphs(n); i++) {
            mof_status st = noops_graph(s, mof_node_subgraph(n, i));
            if (st < 0)
                return st;
        }
        mof_value *through;
        enum noop_kind kind = classify_noop(s, n, &through);
        if (kind == NOOP_KINDS)
            continue;
        /* Removing n may remove the Constant node feeding it, which comes earlier. */
        mof_status st = bypass_node(g, n, through, &s->counts[kind]);
        if (st < 0)
            return st;
    }
    return MOF_OK;
}

static mof_status noops_run(mof_pass_ctx *pc, mof_model *model, void *priv)
{
    struct noops_state s = { .p = priv, .opset = mof_model_opset(model, "") };
    mof_status st = noops_graph(&s, mof_model_graph(model));
    int64_t total = 0;
    for (int k = 0; k < NOOP_KINDS; k++) {
        add_stat(pc, noop_stat_names[k], s.counts[k]);
        total += s.counts[k];
    }
    add_stat(pc, "nodes-removed", total);
    if (st < 0)
        return st;
    return total > 0 ? MOF_OK : MOF_UNCHANGED;
}

/* ------------------------------------------------------------------ merge-consecutive */

/* The patterns, each counted under its own statistic. */
enum pair_kind {
    PAIR_TRANSPOSE, PAIR_RESHAPE, PAIR_SQUEEZE, PAIR_UNSQUEEZE, PAIR_SQUEEZE_UNSQUEEZE,
    PAIR_UNSQUEEZE_SQUEEZE, PAIR_KINDS
};

static const char *const pair_stat_names[PAIR_KINDS] = {
    "transpose-transpose", "reshape-reshape", "squeeze-squeeze", "unsqueeze-unsqueeze",
    "squeeze-unsqueeze", "unsqueeze-squeeze",
};

struct pairs_state {
    int64_t opset;
    int64_t counts[PAIR_KINDS];
    int64_t removed;
};

/* Removes `second`, whose output equals `x`: its uses read x instead; then `first`
 * goes if nothing else reads it. MOF_UNCHANGED when the graph's interface forbids it
 * (second's output is a graph output and x is a graph input, say). */
static mof_status cancel_pair(struct pairs_state *s, mof_graph *g, mof_node *first,
                              mof_node *second, mof_value *x)
{
    mof_status st = bypass_node(g, second, x, &s->removed);
    if (st != MOF_OK)
        return st;
    return remove_if_unused(g, first, &s->removed);
}

/* Makes `second` read first's input x directly (its other inputs and attributes set
 * by the caller), gives it first's provenance, and removes first if now unused. */
static mof_status bypass_first(struct pairs_state *s, mof_graph *g, mof_node *first,
                               mof_node *second, mof_value *x)
{
    mof_status st = mof_node_set_input(second, 0, x);
    if (st == MOF_OK)
        st = mof_node_add_origins(second, first);
    if (st == MOF_OK)
        st = remove_if_unused(g, first, &s->removed);
    return st;
}

/* A Transpose's perm into perm[0..rank-1]: its attribute, or the reversal when it has
 * none. False when the attribute has another length or is not a permutation. */
static bool read_perm(const mof_node *n, size_t rank, int64_t *perm)
{
    if (!mof_node_has_attr(n, "perm")) {
        for (size_t i = 0; i < rank; i++)
            perm[i] = (int64_t)(rank - 1 - i);
        return true;
    }
    size_t count;
    const int64_t *p = mof_node_attr_ints(n, "perm", &count);
    if (mof_node_attr_type(n, "perm") != MOF_ATTR_INTS || count != rank)
        return false;
    for (size_t i = 0; i < rank; i++) {
        if (p[i] < 0 || p[i] >= (int64_t)rank)
            return false;
        for (size_t j = 0; j < i; j++)
            if (p[j] == p[i])
                return false;
        perm[i] = p[i];
    }
    return true;
}

/* Transpose(p2) of Transpose(p1) of x is Transpose(q) of x with q[j] = p1[p2[j]]. */
static mof_status merge_transposes(struct pairs_state *s, mof_graph *g, mof_node *second)
{
    mof_node *first = producer_op(input_at(second, 0), "Transpose");
    mof_value *x = first ? input_at(first, 0) : NULL;
    if (!x)
        return MOF_UNCHANGED;
    bool has1 = mof_node_has_attr(first, "perm"), has2 = mof_node_has_attr(second, "perm");
    if (!has1 && !has2) {
        /* Two reversals, whatever the rank. */
        mof_status st = cancel_pair(s, g, first, second, x);
        if (st == MOF_OK)
            s->counts[PAIR_TRANSPOSE]++;
        if (st != MOF_UNCHANGED)
            return st;
    }
    size_t rank;
    if (has1 || has2)
        mof_node_attr_ints(has1 ? first : second, "perm", &rank);
    else if (mof_value_rank(x) >= 0)
        rank = (size_t)mof_value_rank(x);
    else
        return MOF_UNCHANGED;
    int64_t *buf = malloc(3 * (rank ? rank : 1) * sizeof *buf);
    if (!buf)
        return MOF_ERR_NOMEM;
    int64_t *p1 = buf, *p2 = buf + rank, *q = buf + 2 * rank;
    mof_status st = MOF_UNCHANGED;
    if (!read_perm(first, rank, p1) || !read_perm(second, rank, p2))
        goto out;
    bool identity = true;
    for (size_t j = 0; j < rank; j++) {
        q[j] = p1[p2[j]];
        identity = identity && q[j] == (int64_t)j;
    }
    if (identity) {
        st = cancel_pair(s, g, first, second, x);
        if (st != MOF_UNCHANGED)
            goto counted;
    }
    /* Not cancelling (or not allowed to): one Transpose of x with the composed perm. */
    st = mof_node_set_attr_ints(second, "perm", rank, q);
    if (st == MOF_OK)
        st = bypass_first(s, g, first, second, x);
counted:
    if (st == MOF_OK)
        s->counts[PAIR_TRANSPOSE]++;
out:
    free(buf);
    return st;
}

/* Reshape of a Reshape, Flatten, Squeeze or Unsqueeze of x is the Reshape of x, since
 * all of them keep the elements in order: unless the second shape has a 0 copying a
 * dim of the first op's output (allowzero=0), or is computed at run time and could. */
static mof_status merge_reshapes(struct pairs_state *s, mof_graph *g, mof_node *second)
{
    mof_value *mid = input_at(second, 0);
    mof_node *first = producer_op(mid, "Reshape");
    if (!first)
        first = producer_op(mid, "Flatten");
    if (!first)
        first = producer_op(mid, "Squeeze");
    if (!first)
        first = producer_op(mid, "Unsqueeze");
    mof_value *x = first ? input_at(first, 0) : NULL;
    struct ilist shape;
    if (!x || !ilist_from_value(input_at(second, 1), &shape))
        return MOF_UNCHANGED;
    if (mof_node_attr_int(second, "allowzero", 0) == 0) {
        for (size_t i = 0; i < shape.n; i++)
            if (ilist_at(&shape, i) == 0)
                return MOF_UNCHANGED;
    }
    mof_status st = bypass_first(s, g, first, second, x);
    if (st == MOF_OK)
        s->counts[PAIR_RESHAPE]++;
    return st;
}

/* Gives a Squeeze or Unsqueeze the axes list (attribute before opset 13, a new
 * initializer as input 1 from 13 on; the old one goes if nothing else reads it). */
static mof_status set_axes(const struct pairs_state *s, mof_graph *g, mof_node *n,
                           size_t count, const int64_t *axes)
{
    if (s->opset < 13)
        return mof_node_set_attr_ints(n, "axes", count, axes);
    int64_t dim = (int64_t)count;
    mof_tensor *t = mof_tensor_create_from(MOF_DTYPE_INT64, 1, &dim, axes);
    if (!t)
        return MOF_ERR_NOMEM;
    mof_value *v = mof_graph_add_initializer(g, "axes", t);
    if (!v)
        return MOF_ERR_NOMEM;
    mof_value *old = input_at(n, 1);
    mof_status st = mof_node_set_input(n, 1, v);
    if (st == MOF_OK)
        st = drop_constant_if_unused(g, old);
    return st;
}

/* The four pairs of Squeeze and Unsqueeze. With a = first's axes and b = second's,
 * all made non-negative against the rank they apply to (r, x's rank; Squeeze axes
 * name input dims, Unsqueeze axes output dims):
 *   Squeeze(b) . Squeeze(a):     a, plus each b mapped to the b-th dim a left;
 *   Unsqueeze(b) . Unsqueeze(a): b, plus each a mapped to the a-th dim b did not add;
 *   Unsqueeze(b) . Squeeze(a) and Squeeze(b) . Unsqueeze(a) cancel when a = b. */
static mof_status merge_squeezes(struct pairs_state *s, mof_graph *g, mof_node *second)
{
    mof_value *mid = input_at(second, 0);
    mof_node *first = producer_op(mid, "Squeeze");
    if (!first)
        first = producer_op(mid, "Unsqueeze");
    mof_value *x = first ? input_at(first, 0) : NULL;
    if (!x)
        return MOF_UNCHANGED;
    bool sq1 = is_op(first, "Squeeze"), sq2 = is_op(second, "Squeeze");
    struct ilist l1, l2;
    bool present1, present2;
    if (!node_axes(first, s->opset, &l1, &present1) || !present1 || l1.n == 0 ||
        !node_axes(second, s->opset, &l2, &present2) || !present2 || l2.n == 0)
        return MOF_UNCHANGED;   /* "squeeze every 1" depends on the runtime shape */
    int64_t r = mof_value_rank(x);
    if (r < 0 && mof_value_rank(mid) >= 0)
        r = mof_value_rank(mid) + (sq1 ? (int64_t)l1.n : -(int64_t)l1.n);
    int64_t mid_rank = r < 0 ? -1 : sq1 ? r - (int64_t)l1.n : r + (int64_t)l1.n;
    int64_t rank1 = sq1 ? r : mid_rank;   /* the rank a's axes are relative to */
    int64_t rank2 = sq2 ? mid_rank
                        : mid_rank < 0 ? -1 : mid_rank + (int64_t)l2.n;
    size_t n1 = l1.n, n2 = l2.n;
    int64_t *a = malloc(3 * (n1 + n2) * sizeof *a);
    if (!a)
        return MOF_ERR_NOMEM;
    int64_t *b = a + n1, *combined = b + n2, *sorted = combined + n1 + n2;
    mof_status st = MOF_UNCHANGED;
    enum pair_kind kind;
    if (!normalize_axes(&l1, rank1, a) || !normalize_axes(&l2, rank2, b))
        goto out;
    if (sq1 != sq2) {
        kind = sq1 ? PAIR_SQUEEZE_UNSQUEEZE : PAIR_UNSQUEEZE_SQUEEZE;
        if (n1 != n2 || memcmp(a, b, n1 * sizeof *a) != 0)
            goto out;
        st = cancel_pair(s, g, first, second, x);
        goto counted;
    }
    kind = sq1 ? PAIR_SQUEEZE : PAIR_UNSQUEEZE;
    /* Squeeze: b names dims of the middle, which are x's dims not in a. Unsqueeze: a
     * names dims of the middle, which sit at the output's dims not in b. */
    const int64_t *base = sq1 ? a : b, *mapped = sq1 ? b : a;
    size_t n_base = sq1 ? n1 : n2, n_mapped = sq1 ? n2 : n1;
    for (size_t i = 0; i < n_base; i++)
        combined[i] = base[i];
    for (size_t i = 0; i < n_mapped; i++)
        combined[n_base + i] = nth_not_in(base, n_base, mapped[i]);
    /* Sorted, and checked against the rank the combined axes apply to. */
    struct ilist all = { .n = n1 + n2, .i64 = combined };
    int64_t all_rank = sq1 ? r : r < 0 ? -1 : r + (int64_t)(n1 + n2);
    if (!normalize_axes(&all, all_rank, sorted))
        goto out;
    st = set_axes(s, g, second, n1 + n2, sorted);
    if (st == MOF_OK)
        st = bypass_first(s, g, first, second, x);
counted:
    if (st == MOF_OK)
        s->counts[kind]++;
out:
    free(a);
    return st;
}

static mof_status pairs_graph(struct pairs_state *s, mof_graph *g)
{
    mof_node *next;
    for (mof_node *n = mof_graph_first_node(g); n; n = next) {
        next = mof_node_next(n);
        for (size_t i = 0; i < mof_node_n_subgraphs(n); i++) {
            mof_status st = pairs_graph(s, mof_node_subgraph(n, i));
            if (st < 0)
                return st;
        }
        mof_status st = MOF_UNCHANGED;
        if (is_op(n, "Transpose"))
            st = merge_transposes(s, g, n);
        else if (is_op(n, "Reshape") && s->opset >= 5)
            st = merge_reshapes(s, g, n);
        else if (is_op(n, "Squeeze") || is_op(n, "Unsqueeze"))
            st = merge_squeezes(s, g, n);
        if (st < 0)
            return st;
    }
    return MOF_OK;
}

static mof_status pairs_run(mof_pass_ctx *pc, mof_model *model, void *priv)
{
    struct pairs_state s = { .opset = mof_model_opset(model, "") };
    mof_status st = pairs_graph(&s, mof_model_graph(model));
    int64_t total = 0;
    for (int k = 0; k < PAIR_KINDS; k++) {
        add_stat(pc, pair_stat_names[k], s.counts[k]);
        total += s.counts[k];
    }
    add_stat(pc, "nodes-removed", s.removed);
    if (st < 0)
        return st;
    return total > 0 ? MOF_OK : MOF_UNCHANGED;
}

/* ------------------------------------------------------------------ descriptors */

/* Registered by cleanup.c, the plugin's entry point; the only symbols this file
 * shares. */
extern const mof_pass_desc cleanup_cse_pass;
extern const mof_pass_desc cleanup_merge_initializers_pass;
extern const mof_pass_desc cleanup_eliminate_noops_pass;
extern const mof_pass_desc cleanup_merge_consecutive_pass;

const mof_pass_desc cleanup_cse_pass = {
    .size = sizeof(mof_pass_desc),
    .name = "cse",
    .summary = "merge nodes that compute the same thing from the same inputs",
    .help = "Two nodes with the same op type and domain, the same input values in the\n"
            "same order and equal attributes become one: the later one's users read\n"
            "the earlier one's outputs. Chains of duplicates merge in one run. Never\n"
            "merged: random ops and Dropout, nodes with subgraphs, nodes with list-of-\n"
            "string/tensor/graph attributes, and non-ONNX domains unless\n"
            "unknown-domains=true. Inputs compare by identity, so run\n"
            "merge-initializers first. Subgraphs are processed on their own.",
    .params = cse_params,
    .priv_size = sizeof(struct cse_pass),
    .flags = MOF_PASS_EXACT,
    .run = cse_run,
};

const mof_pass_desc cleanup_merge_initializers_pass = {
    .size = sizeof(mof_pass_desc),
    .name = "merge-initializers",
    .summary = "make initializers with equal type, shape and bytes one",
    .help = "Of initializers with the same element type, shape and bytes, the first in\n"
            "the graph's order stays and the others' uses read it. Initializers that\n"
            "are graph inputs (overridable defaults) are left alone. Subgraphs are\n"
            "processed too, each on its own.",
    .priv_size = 0,
    .flags = MOF_PASS_EXACT,
    .run = merge_initializers_run,
};

const mof_pass_desc cleanup_eliminate_noops_pass = {
    .size = sizeof(mof_pass_desc),
    .name = "eliminate-noops",
    .summary = "remove nodes whose output is their input (identity Transpose, Reshape, ...)",
    .help = "Removes Transpose with the identity perm, Reshape to the input's shape,\n"
            "Cast/CastLike to the input's type, Pad with zero pads, Slice keeping every\n"
            "element, single-input Concat, Expand and Tile that do not grow the input,\n"
            "Squeeze without axes of a shape with no 1, Flatten of a matrix at axis 1,\n"
            "Mul/Div by 1 and Add/Sub of 0 whose constant does not broadcast the input.\n"
            "Shapes come from the values' types: run infer-shapes first. Add of +0.0\n"
            "(which turns -0.0 into +0.0) stays unless keep-signed-zeros=false.",
    .params = noops_params,
    .priv_size = sizeof(struct noops_pass),
    .flags = MOF_PASS_EXACT,
    .run = noops_run,
};

const mof_pass_desc cleanup_merge_consecutive_pass = {
    .size = sizeof(mof_pass_desc),
    .name = "merge-consecutive",
    .summary = "merge pairs of Transpose, Reshape, Squeeze and Unsqueeze",
    .help = "Transpose -> Transpose becomes one Transpose (none when the perms cancel);\n"
            "a Reshape after Reshape, Flatten, Squeeze or Unsqueeze reads the first\n"
            "op's input (unless its shape has a 0 copying a dim); Squeeze -> Squeeze\n"
            "and Unsqueeze -> Unsqueeze combine their axes; Squeeze -> Unsqueeze and\n"
            "Unsqueeze -> Squeeze of the same axes cancel. The first op goes when\n"
            "nothing else reads it. Subgraphs are processed too.",
    .priv_size = 0,
    .flags = MOF_PASS_EXACT,
    .run = pairs_run,
};
