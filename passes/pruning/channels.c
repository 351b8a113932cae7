/* prune-channels: structured pruning: removes whole output channels (filters) of Conv
 * nodes, ranked by the L1 or L2 norm of their filters, and shrinks every node that reads
 * those channels, so the model gets physically smaller and faster.
 *
 * Channel spaces. Each selected Conv (group 1, constant float weight, constant or no
 * bias) opens a channel space: its K output channels. A forward sweep over the main
 * graph follows each space through the nodes that keep channels apart, recording the
 * slice of each constant that must shrink with it:
 *   - the Conv itself: W [K, C, ...] axis 0 and its bias;
 *   - BatchNormalization (inference), InstanceNormalization: scale, B, mean, var;
 *   - elementwise unary ops (Relu, LeakyRelu, Clip with scalar bounds, Sigmoid,
 *     HardSigmoid, HardSwish, Tanh, Elu, Selu, Softplus, Identity, Dropout, ...) and
 *     pools (MaxPool, AveragePool, LpPool, GlobalAveragePool, ...): nothing;
 *   - Add, Sub, Mul, Div, Max, Min, Sum, Mean, PRelu: a constant operand of one value
 *     per channel is sliced; two operands that both carry channel spaces tie them:
 *     the spaces merge (union-find) and are pruned as one, the channels ranked by the
 *     sum of their filters' norms (a residual block's convs drop the same channels);
 *   - Concat on the channel axis: each space keeps its own offset;
 *   - a depthwise Conv (group = channels, one filter each): its filters and bias drop
 *     the same channels and its group shrinks; its output carries the same spaces;
 *   - the next Conv (group 1): its W [K', C, ...] drops the input channels (axis 1);
 *   - Flatten (axis 1) then Gemm (transA 0) or MatMul: the block of rows of B that
 *     each channel's spatial positions feed.
 * Anything else that reads a space's channels blocks it, and its Conv keeps all its
 * channels, with a note saying why: a graph output (graph outputs keep their shape), a
 * Reshape, Transpose, Split, Slice, Softmax, a grouped Conv, a read from a subgraph,
 * a non-constant operand, segments that do not line up, an op not listed above.
 *
 * How many go: of S channels, floor(ratio * S) are removed, then the kept count is
 * rounded up to a multiple of round-to (never above S) and is at least 1. The channels
 * of smallest score go first (ties: the later channel first). The score is the norm of
 * the filter as it is: with a BatchNormalization after the Conv, run fuse-conv-bn first
 * to rank the filters the BN scales (Li et al., "Pruning Filters for Efficient
 * ConvNets", rank the raw filters).
 *
 * What the pass computes exactly: the pruned model equals the input model in which the
 * weights that READ a removed channel are zero: every consuming Conv's input-channel
 * slice, every Gemm/MatMul row block, every depthwise filter downstream. A removed
 * channel's values (after a BatchNormalization with a bias B they are not zero) flow
 * only into those consumers, since every node between keeps channels apart, so
 * zeroing what reads them cuts exactly what the pass removes. tests/unit/test_pruning.c
 * checks this against the interpreter. Values of the main graph whose channel count
 * changed get their declared shapes updated; ratio=0 changes nothing. Subgraphs are
 * not pruned. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prune.h"

struct channels_pass {
    struct prune_select sel;
    double ratio;
    int norm;
    int64_t round_to;
};

enum { NORM_L1, NORM_L2 };
static const char *const norm_choices[] = { "l1", "l2", NULL };

static const mof_param_desc channels_params[] = {
    { .name = "ratio", .help = "fraction of each Conv's output channels to remove",
      .type = MOF_PARAM_FLOAT, .offset = offsetof(struct channels_pass, ratio), .def = "0.25",
      .min = 0, .max = 1, .flags = MOF_PARAM_RANGE },
    { .name = "norm", .help = "rank filters by their l1 or l2 norm", .type = MOF_PARAM_CHOICE,
      .offset = offsetof(struct channels_pass, norm), .def = "l1", .choices = norm_choices },
    { .name = "round-to",
      .help = "keep a multiple of this many channels (rounding the kept count up)",
      .type = MOF_PARAM_INT, .offset = offsetof(struct channels_pass, round_to), .def = "1",
      .min = 1, .max = 65536, .flags = MOF_PARAM_RANGE },
    PRUNE_SELECT_PARAMS(struct channels_pass, "Conv", "products whose outputs are pruned: Conv"),
    { 0 }
};

/* ------------------------------------------------------------------ state */

/* A run of channels along axis 1: a whole channel space, or channels that cannot be
 * removed (space -1). */
typedef struct seg {
    int space;
    int64_t len;
} seg;

/* The channels of a value: segments along axis 1. flat: axis 1 was flattened (after
 * Flatten), each channel a block of hw elements (0: not known yet). */
typedef struct layout {
    const mof_value *value;
    seg *segs;
    size_t n_segs;
    int rank;
    bool flat;
    int64_t hw;
} layout;

/* A constant that shrinks with a space: node input `input`, along `axis`, where the
 * space starts at channel `offset` of `n_channels`, each channel `unit` elements. */
typedef struct action {
    mof_node *node;
    size_t input;
    int axis;
    int64_t offset, n_channels, unit;
} action;

typedef struct space {
    mof_node *conv;
    int64_t size;
    int parent;
    bool blocked;
    char why[256];
    double *score;
    action *acts;
    size_t n_acts, cap_acts;
    bool *keep;              /* the decision, on roots */
} space;

/* A constant's new contents: which of its channels along axis stay. */
typedef struct edit {
    mof_node *node;
    size_t input;
    int axis;
    int64_t n_channels, unit;
    bool *keep;
} edit;

typedef struct chan_run {
    prune_run r;
    const struct channels_pass *p;
    mof_graph *g;
    const mof_graph *typed;  /* a copy of the model with inferred shapes */
    space *spaces;
    size_t n_spaces, cap_spaces;
    layout *layouts;
    size_t n_layouts, cap_layouts;
    size_t *table;           /* value -> 1 + index in layouts; open addressing */
    size_t table_size;
    edit *edits;
    size_t n_edits, cap_edits;
    mof_node **depthwise;
    size_t n_depthwise, cap_depthwise;
    bool nomem;
} chan_run;

#define GROW(arr, n, cap)                                                                  \
    ((n) < (cap) || grow_((void **)&(arr), &(cap), sizeof(*(arr))))

static bool grow_(void **arr, size_t *cap, size_t elem)
{
    size_t nc = *cap ? 2 * *cap : 16;
    void *na = realloc(*arr, nc * elem);
    if (!na)
        return false;
    *arr = na;
    *cap = nc;
    return true;
}

/* ------------------------------------------------------------------ spaces */

static int find(chan_run *c, int s)
{
    while (c->spaces[s].parent != s) {
        c->spaces[s].parent = c->spaces[c->spaces[s].parent].parent;
        s = c->spaces[s].parent;
    }
    return s;
}

static void block(chan_run *c, int s, const char *fmt, ...) MOF_PRINTF(3, 4);

static void block(chan_run *c, int s, const char *fmt, ...)
{
    space *sp = &c->spaces[find(c, s)];
    if (sp->blocked)
        return;
    sp->blocked = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sp->why, sizeof sp->why, fmt, ap);
    va_end(ap);
}

static void unite(chan_run *c, int a, int b)
{
    a = find(c, a);
    b = find(c, b);
    if (a == b)
        return;
    if (b < a) {
        int t = a;
        a = b;
        b = t;
    }
    c->spaces[b].parent = a;
    if (c->spaces[b].blocked && !c->spaces[a].blocked) {
        c->spaces[a].blocked = true;
        memcpy(c->spaces[a].why, c->spaces[b].why, sizeof c->spaces[a].why);
    }
}

static void add_action(chan_run *c, int s, mof_node *n, size_t input, int axis, int64_t offset,
                       int64_t n_channels, int64_t unit)
{
    space *sp = &c->spaces[s];
    if (!GROW(sp->acts, sp->n_acts, sp->cap_acts)) {
        c->nomem = true;
        return;
    }
    sp->acts[sp->n_acts++] = (action){ n, input, axis, offset, n_channels, unit };
}

/* ------------------------------------------------------------------ layouts */

static size_t hash_ptr(const void *p, size_t size)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (size_t)x & (size - 1);
}

static layout *find_layout(const chan_run *c, const mof_value *v)
{
    if (!v || !c->table_size)
        return NULL;
    for (size_t h = hash_ptr(v, c->table_size);; h = (h + 1) & (c->table_size - 1)) {
        size_t i = c->table[h];
        if (!i)
            return NULL;
        if (c->layouts[i - 1].value == v)
            return &c->layouts[i - 1];
    }
}

static bool table_insert(chan_run *c, size_t index)
{
    if (2 * (c->n_layouts + 1) > c->table_size) {
        size_t ns = c->table_size ? 2 * c->table_size : 64;
        size_t *nt = calloc(ns, sizeof *nt);
        if (!nt)
            return false;
        free(c->table);
        c->table = nt;
        c->table_size = ns;
        for (size_t i = 0; i < c->n_layouts; i++) {
            if (i == index)
                continue;
            size_t h = hash_ptr(c->layouts[i].value, ns);
            while (nt[h])
                h = (h + 1) & (ns - 1);
            nt[h] = i + 1;
        }
    }
    size_t h = hash_ptr(c->layouts[index].value, c->table_size);
    while (c->table[h])
        h = (h + 1) & (c->table_size - 1);
    c->table[h] = index + 1;
    return true;
}

static int64_t total_channels(const layout *l)
{
    int64_t t = 0;
    for (size_t i = 0; i < l->n_segs; i++)
        t += l->segs[i].len;
    return t;
}

static void block_layout(chan_run *c, const layout *l, const char *why)
{
    for (size_t i = 0; i < l->n_segs; i++)
        if (l->segs[i].space >= 0)
            block(c, l->segs[i].space, "%s", why);
}

/* Gives v a layout of n_segs segments (copied) and checks its readers that the sweep
 * cannot see: a graph output, a subgraph. */
static void set_layout(chan_run *c, const mof_value *v, const seg *segs, size_t n_segs, int rank,
                       bool flat, int64_t hw)
{
    if (!v || c->nomem)
        return;
    seg *copy = malloc((n_segs ? n_segs : 1) * sizeof *copy);
    if (!copy || !GROW(c->layouts, c->n_layouts, c->cap_layouts)) {
        free(copy);
        c->nomem = true;
        return;
    }
    memcpy(copy, segs, n_segs * sizeof *segs);
    size_t index = c->n_layouts++;
    c->layouts[index] = (layout){ v, copy, n_segs, rank, flat, hw };
    if (!table_insert(c, index)) {
        c->nomem = true;
        return;
    }
    char why[200];
    if (mof_value_is_graph_output(v)) {
        snprintf(why, sizeof why, "its channels reach the graph output '%s'", mof_value_name(v));
        block_layout(c, &c->layouts[index], why);
    }
    for (size_t i = 0; i < mof_value_n_uses(v); i++) {
        int input;
        mof_node *u = mof_value_use(v, i, &input);
        if (input < 0) {
            snprintf(why, sizeof why, "'%s' is read inside a subgraph of node '%s' (%s)",
                     mof_value_name(v), prune_label(u), mof_node_op_type(u));
            block_layout(c, &c->layouts[index], why);
        }
    }
}

/* A known dim of v in the shape-inferred copy, or -1. */
static int64_t typed_dim(const chan_run *c, const mof_value *v, int i)
{
    const mof_value *t = c->typed ? mof_graph_find_value(c->typed, mof_value_name(v)) : NULL;
    if (!t || !mof_value_has_type(t) || mof_value_rank(t) <= i)
        return -1;
    return mof_value_dim(t, (size_t)i);
}

/* ------------------------------------------------------------------ the sweep */

static bool is_one_of(const mof_node *n, const char *const *ops)
{
    for (size_t i = 0; ops[i]; i++)
        if (prune_is_op(n, ops[i]))
            return true;
    return false;
}

static const char *const unary_ops[] = {
    "Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Elu", "Selu", "Celu",
    "Softplus", "Softsign", "ThresholdedRelu", "Mish", "Gelu", "Identity", "Dropout", "Clip",
    "Abs", "Neg", "Exp", "Log", "Sqrt", "Reciprocal", "Floor", "Ceil", "Round", "Erf", "Sign",
    NULL
};
static const char *const pool_ops[] = {
    "MaxPool", "AveragePool", "LpPool", "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool",
    NULL
};
static const char *const binary_ops[] = {
    "Add", "Sub", "Mul", "Div", "Max", "Min", "Sum", "Mean", "PRelu", NULL
};

static bool only_first_output_used(const mof_node *n)
{
    for (size_t i = 1; i < mof_node_n_outputs(n); i++) {
        const mof_value *v = mof_node_output(n, i);
        if (v && (mof_value_n_uses(v) || mof_value_is_graph_output(v)))
            return false;
    }
    return true;
}

static bool is_scalar_constant(const mof_value *v)
{
    const mof_tensor *t = prune_constant(v);
    return t && mof_tensor_numel(t) == 1;
}

/* The layout of the node's output 0 when it passes input 0's channels through. */
static void pass_through(chan_run *c, const mof_node *n, const layout *l)
{
    const seg *segs = l->segs;
    size_t n_segs = l->n_segs;
    int rank = l->rank;
    bool flat = l->flat;
    int64_t hw = l->hw;
    set_layout(c, mof_node_output(n, 0), segs, n_segs, rank, flat, hw);
}

/* Records slicing constant input `input` of n along `axis` with each segment of l. */
static void slice_with(chan_run *c, mof_node *n, size_t input, int axis, const layout *l,
                       int64_t unit)
{
    int64_t total = total_channels(l), off = 0;
    for (size_t i = 0; i < l->n_segs; i++) {
        if (l->segs[i].space >= 0)
            add_action(c, l->segs[i].space, n, input, axis, off, total, unit);
        off += l->segs[i].len;
    }
}

static void block_node(chan_run *c, const mof_node *n, const layout *l, const char *what)
{
    char why[200];
    snprintf(why, sizeof why, "node '%s' (%s) reads its channels%s%s", prune_label(n),
             mof_node_op_type(n), what ? ": " : "", what ? what : "");
    block_layout(c, l, why);
}

/* A constant per-channel operand (BatchNormalization's, PRelu's, Add's...) of a tracked
 * value of layout l: sliced when it has one value per channel on the channel axis,
 * left alone when it broadcasts along it. false when it does neither. */
static bool channel_operand(chan_run *c, mof_node *n, size_t input, const layout *l)
{
    const mof_tensor *t = prune_constant(mof_node_input(n, input));
    if (!t || l->flat)
        return false;
    int cr = (int)mof_tensor_rank(t);
    if (cr > l->rank)
        return false;
    int axis = 1 - (l->rank - cr);
    if (axis < 0 || mof_tensor_dims(t)[axis] == 1)
        return true;
    if (mof_tensor_dims(t)[axis] != total_channels(l))
        return false;
    slice_with(c, n, input, axis, l, 1);
    return true;
}

static bool same_segments(const layout *a, const layout *b)
{
    if (a->n_segs != b->n_segs || a->rank != b->rank || a->flat != b->flat)
        return false;
    for (size_t i = 0; i < a->n_segs; i++)
        if (a->segs[i].len != b->segs[i].len)
            return false;
    return true;
}

/* Add, Mul, ...: ties the spaces of tracked operands, slices constant ones. */
static void visit_binary(chan_run *c, mof_node *n)
{
    const layout *first = NULL;
    size_t n_in = mof_node_n_inputs(n);
    for (size_t i = 0; i < n_in && !first; i++)
        first = find_layout(c, mof_node_input(n, i));
    /* Copy: set_layout may move the layouts array. */
    layout l = *first;
    bool ok = true;
    char why[200] = "";
    for (size_t i = 0; i < n_in; i++) {
        const mof_value *v = mof_node_input(n, i);
        const layout *o = find_layout(c, v);
        if (o) {
            if (!same_segments(&l, o)) {
                ok = false;
                snprintf(why, sizeof why, "its operands' channels do not line up");
                continue;
            }
            for (size_t k = 0; k < l.n_segs; k++) {
                int a = l.segs[k].space, b = o->segs[k].space;
                if (a >= 0 && b >= 0)
                    unite(c, a, b);
                else if (a >= 0 || b >= 0) {
                    char w[200];
                    snprintf(w, sizeof w, "node '%s' (%s) combines them with channels that "
                             "cannot be removed", prune_label(n), mof_node_op_type(n));
                    block(c, a >= 0 ? a : b, "%s", w);
                }
            }
        } else if (v && !channel_operand(c, n, i, &l)) {
            ok = false;
            snprintf(why, sizeof why, "its operand '%s' is not a constant that broadcasts "
                     "per channel", mof_value_name(v));
        }
    }
    if (!ok) {
        for (size_t i = 0; i < n_in; i++) {
            const layout *o = find_layout(c, mof_node_input(n, i));
            if (o)
                block_node(c, n, o, why);
        }
    }
    pass_through(c, n, &l);
}

static void visit_concat(chan_run *c, mof_node *n, const layout *any)
{
    int64_t axis = mof_node_attr_int(n, "axis", 1);
    int rank = any->rank;
    if (axis < 0)
        axis += rank;
    size_t n_in = mof_node_n_inputs(n), n_segs = 0;
    bool ok = axis == 1 && !any->flat;
    for (size_t i = 0; i < n_in; i++) {
        const layout *l = find_layout(c, mof_node_input(n, i));
        n_segs += l ? l->n_segs : 1;
        if (l && (l->flat || l->rank != rank))
            ok = false;
    }
    seg *segs = ok ? malloc((n_segs ? n_segs : 1) * sizeof *segs) : NULL;
    if (ok && !segs) {
        c->nomem = true;
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < n_in && ok; i++) {
        const mof_value *v = mof_node_input(n, i);
        const layout *l = find_layout(c, v);
        if (l) {
            memcpy(segs + k, l->segs, l->n_segs * sizeof *segs);
            k += l->n_segs;
        } else {
            int64_t len = v ? typed_dim(c, v, 1) : -1;
            if (len < 0)
                ok = false;
            segs[k++] = (seg){ -1, len };
        }
    }
    if (ok)
        set_layout(c, mof_node_output(n, 0), segs, k, rank, false, 0);
    free(segs);
    if (!ok)
        for (size_t i = 0; i < n_in; i++) {
            const layout *l = find_layout(c, mof_node_input(n, i));
            if (l)
                block_node(c, n, l, axis == 1 ? "an operand's channel count is not known"
                                              : "not on the channel axis");
        }
}

/* A Conv reading tracked channels: slices its weight's input channels (group 1), or,
 * depthwise, passes the channels through. Returns whether its output is handled. */
static bool visit_conv_input(chan_run *c, mof_node *n, const layout *l)
{
    const mof_tensor *w = prune_constant(mof_node_input(n, 1));
    int64_t group = mof_node_attr_int(n, "group", 1), total = total_channels(l);
    if (l->flat || !w || (int)mof_tensor_rank(w) != l->rank) {
        block_node(c, n, l, l->flat ? "flattened" : "its weight is not a constant");
        return false;
    }
    const int64_t *wd = mof_tensor_dims(w);
    if (group == 1 && wd[1] == total) {
        slice_with(c, n, 1, 1, l, 1);
        return false;
    }
    const mof_value *b = mof_node_n_inputs(n) > 2 ? mof_node_input(n, 2) : NULL;
    if (group == total && wd[0] == total && wd[1] == 1 && (!b || prune_constant(b))) {
        slice_with(c, n, 1, 0, l, 1);
        if (b)
            slice_with(c, n, 2, 0, l, 1);
        if (!GROW(c->depthwise, c->n_depthwise, c->cap_depthwise)) {
            c->nomem = true;
            return true;
        }
        c->depthwise[c->n_depthwise++] = n;
        pass_through(c, n, l);
        return true;
    }
    char why[80];
    snprintf(why, sizeof why, "a grouped Conv (group %lld) that is not depthwise",
             (long long)group);
    block_node(c, n, l, why);
    return false;
}

/* Opens a channel space for a selected Conv. */
static void open_space(chan_run *c, mof_node *n)
{
    const mof_value *wv = mof_node_input(n, 1);
    const mof_value *bv = mof_node_n_inputs(n) > 2 ? mof_node_input(n, 2) : NULL;
    if (!prune_node_selected(&c->r, n) || mof_node_attr_int(n, "group", 1) != 1 ||
        !prune_is_weight(wv) || mof_tensor_rank(mof_value_tensor(wv)) < 3 ||
        (bv && !prune_constant(bv)) || !mof_node_output(n, 0))
        return;
    const mof_tensor *w = mof_value_tensor(wv);
    if (mof_tensor_numel(w) < c->r.sel->min_params) {
        mof_pass_stat(c->r.pc, "layers-skipped", 1);
        return;
    }
    if (!GROW(c->spaces, c->n_spaces, c->cap_spaces)) {
        c->nomem = true;
        return;
    }
    int s = (int)c->n_spaces++;
    space *sp = &c->spaces[s];
    memset(sp, 0, sizeof *sp);
    sp->conv = n;
    sp->size = mof_tensor_dims(w)[0];
    sp->parent = s;
    sp->score = calloc((size_t)(sp->size ? sp->size : 1), sizeof *sp->score);
    if (!sp->score) {
        c->nomem = true;
        return;
    }
    const float *d = mof_tensor_data(w);
    int64_t per = sp->size ? mof_tensor_numel(w) / sp->size : 0;
    for (int64_t k = 0; k < sp->size; k++) {
        double sum = 0;
        for (int64_t j = 0; j < per; j++) {
            double x = d[k * per + j];
            sum += c->p->norm == NORM_L2 ? x * x : fabs(x);
        }
        sp->score[k] = c->p->norm == NORM_L2 ? sqrt(sum) : sum;
    }
    add_action(c, s, n, 1, 0, 0, sp->size, 1);
    if (bv)
        add_action(c, s, n, 2, 0, 0, sp->size, 1);
    seg one = { s, sp->size };
    set_layout(c, mof_node_output(n, 0), &one, 1, (int)mof_tensor_rank(w), false, 0);
}

static void visit(chan_run *c, mof_node *n)
{
    size_t n_in = mof_node_n_inputs(n);
    const layout *tracked = NULL;
    size_t first = 0;
    for (size_t i = 0; i < n_in && !tracked; i++)
        if ((tracked = find_layout(c, mof_node_input(n, i))))
            first = i;
    prune_kind kind = PRUNE_N_KINDS;
    if (!prune_node_kind(n, &kind))
        kind = PRUNE_N_KINDS;
    bool is_conv = kind == PRUNE_CONV;
    if (!tracked) {
        if (is_conv)
            open_space(c, n);
        return;
    }
    layout l = *tracked; /* a copy: set_layout may move the array */
    /* Tracked channels anywhere but the data input of a Conv, unary op, pool, ... */
    bool later = false;
    for (size_t i = first + 1; i < n_in; i++)
        later = later || find_layout(c, mof_node_input(n, i));
    bool multi_ok = is_one_of(n, binary_ops) || prune_is_op(n, "Concat");
    if (!multi_ok && (first != 0 || later)) {
        for (size_t i = 0; i < n_in; i++) {
            const layout *o = find_layout(c, mof_node_input(n, i));
            if (o)
                block_node(c, n, o, "not as its data input");
        }
        return;
    }
    if (is_conv) {
        if (!visit_conv_input(c, n, &l))
            open_space(c, n);
        return;
    }
    if (is_one_of(n, unary_ops)) {
        bool ok = only_first_output_used(n);
        for (size_t i = 1; i < n_in; i++)
            ok = ok && (!mof_node_input(n, i) || is_scalar_constant(mof_node_input(n, i)));
        if (!ok)
            block_node(c, n, &l, "with non-scalar operands or a second output");
        else
            pass_through(c, n, &l);
        return;
    }
    if (is_one_of(n, pool_ops)) {
        if (l.flat || !only_first_output_used(n))
            block_node(c, n, &l, l.flat ? "flattened" : "its Indices output is used");
        else
            pass_through(c, n, &l);
        return;
    }
    if (prune_is_op(n, "BatchNormalization") || prune_is_op(n, "InstanceNormalization")) {
        bool bn = prune_is_op(n, "BatchNormalization");
        size_t want = bn ? 5 : 3;
        bool ok = !l.flat && n_in == want && only_first_output_used(n) &&
                  !(bn && mof_node_attr_int(n, "training_mode", 0));
        for (size_t i = 1; ok && i < n_in; i++) {
            const mof_tensor *t = prune_constant(mof_node_input(n, i));
            ok = t && mof_tensor_rank(t) == 1 && mof_tensor_dims(t)[0] == total_channels(&l);
        }
        if (!ok) {
            block_node(c, n, &l, "with parameters that are not constants of one per channel");
            return;
        }
        for (size_t i = 1; i < n_in; i++)
            slice_with(c, n, i, 0, &l, 1);
        pass_through(c, n, &l);
        return;
    }
    if (is_one_of(n, binary_ops)) {
        visit_binary(c, n);
        return;
    }
    if (prune_is_op(n, "Concat")) {
        visit_concat(c, n, &l);
        return;
    }
    if (prune_is_op(n, "Flatten")) {
        int64_t axis = mof_node_attr_int(n, "axis", 1);
        if (axis < 0)
            axis += l.rank;
        if (axis != 1 || l.flat) {
            block_node(c, n, &l, "not at axis 1");
            return;
        }
        int64_t hw = 1;
        for (int i = 2; i < l.rank && hw > 0; i++) {
            int64_t d = typed_dim(c, mof_node_input(n, 0), i);
            hw = d >= 0 ? hw * d : 0;
        }
        set_layout(c, mof_node_output(n, 0), l.segs, l.n_segs, 2, true, hw);
        return;
    }
    if (kind == PRUNE_GEMM || kind == PRUNE_MATMUL) {
        /* A flattened feature map (or [N, C]) times B: B's rows for each channel. */
        bool gemm = kind == PRUNE_GEMM;
        const mof_tensor *b = prune_constant(mof_node_input(n, 1));
        int axis = gemm && mof_node_attr_int(n, "transB", 0) ? 1 : 0;
        int64_t total = total_channels(&l);
        bool ok = l.rank == 2 && b && mof_tensor_rank(b) == 2 &&
                  !(gemm && mof_node_attr_int(n, "transA", 0)) && total > 0 &&
                  mof_tensor_dims(b)[axis] % total == 0;
        int64_t unit = ok ? mof_tensor_dims(b)[axis] / total : 0;
        if (ok && ((l.flat && l.hw && l.hw != unit) || (!l.flat && unit != 1)))
            ok = false;
        if (!ok) {
            block_node(c, n, &l, "its weight's rows do not match the channels");
            return;
        }
        slice_with(c, n, 1, axis, &l, unit);
        return;
    }
    block_node(c, n, &l, NULL);
}

/* ------------------------------------------------------------------ decisions */

typedef struct ranked {
    double score;
    int64_t index;
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? -1 : 1;
    return (x->index < y->index) - (x->index > y->index); /* later first */
}

static const char *space_label(const chan_run *c, int s)
{
    return prune_label(c->spaces[s].conv);
}

/* Decides which channels each group of tied spaces keeps; returns how many went. */
static int64_t decide(chan_run *c, int root, int64_t *groups_pruned)
{
    space *sp = &c->spaces[root];
    int64_t s = sp->size;
    char members[256] = "";
    size_t n_members = 0;
    for (size_t i = 0; i < c->n_spaces; i++)
        if (find(c, (int)i) == root) {
            n_members++;
            size_t used = strlen(members);
            if ((int)i != root && used + 1 < sizeof members)
                snprintf(members + used, sizeof members - used, "%s'%s'", used ? ", " : "",
                         space_label(c, (int)i));
        }
    if (sp->blocked) {
        mof_report_node(c->r.ctx, MOF_SEVERITY_NOTE, MOF_OK, sp->conv,
                        "output channels not pruned%s%s%s: %s", n_members > 1 ? " (tied to " : "",
                        n_members > 1 ? members : "", n_members > 1 ? ")" : "", sp->why);
        return 0;
    }
    int64_t keep = s - (int64_t)floor(c->p->ratio * (double)s + 1e-9);
    int64_t rt = c->p->round_to;
    if (rt > 1)
        keep = (keep + rt - 1) / rt * rt;
    if (keep > s)
        keep = s;
    if (keep < 1)
        keep = 1;
    if (keep == s)
        return 0;
    ranked *rk = malloc((size_t)s * sizeof *rk);
    sp->keep = malloc((size_t)s * sizeof *sp->keep);
    if (!rk || !sp->keep) {
        free(rk);
        c->nomem = true;
        return 0;
    }
    for (int64_t k = 0; k < s; k++) {
        rk[k].index = k;
        rk[k].score = 0;
        sp->keep[k] = true;
    }
    for (size_t i = 0; i < c->n_spaces; i++)
        if (find(c, (int)i) == root)
            for (int64_t k = 0; k < s; k++)
                rk[k].score += c->spaces[i].score[k];
    qsort(rk, (size_t)s, sizeof *rk, cmp_ranked);
    for (int64_t k = 0; k < s - keep; k++)
        sp->keep[rk[k].index] = false;
    free(rk);
    (*groups_pruned)++;
    return (s - keep) * (int64_t)n_members;
}

/* One edit per constant and axis: a Conv that both reads pruned channels (W axis 1)
 * and is pruned itself (W axis 0) gets two, applied one after the other. */
static edit *find_edit(chan_run *c, const action *a)
{
    for (size_t i = 0; i < c->n_edits; i++)
        if (c->edits[i].node == a->node && c->edits[i].input == a->input &&
            c->edits[i].axis == a->axis)
            return &c->edits[i];
    if (!GROW(c->edits, c->n_edits, c->cap_edits))
        return NULL;
    edit *e = &c->edits[c->n_edits];
    *e = (edit){ a->node, a->input, a->axis, a->n_channels, a->unit, NULL };
    e->keep = malloc((size_t)(a->n_channels ? a->n_channels : 1) * sizeof *e->keep);
    if (!e->keep)
        return NULL;
    for (int64_t k = 0; k < a->n_channels; k++)
        e->keep[k] = true;
    c->n_edits++;
    return e;
}

/* Slices t along axis to the kept channels (each `unit` elements long). */
static mof_tensor *slice_tensor(const mof_tensor *t, const edit *e)
{
    size_t rank = mof_tensor_rank(t);
    int64_t dims[16];
    if (rank > 16)
        return NULL;
    memcpy(dims, mof_tensor_dims(t), rank * sizeof *dims);
    int64_t outer = 1, inner = 1, kept = 0;
    for (int i = 0; i < e->axis; i++)
        outer *= dims[i];
    for (size_t i = (size_t)e->axis + 1; i < rank; i++)
        inner *= dims[i];
    for (int64_t k = 0; k < e->n_channels; k++)
        kept += e->keep[k];
    dims[e->axis] = kept * e->unit;
    mof_tensor *nt = mof_tensor_create(mof_tensor_dtype(t), rank, dims);
    if (!nt)
        return NULL;
    size_t es = mof_dtype_size(mof_tensor_dtype(t));
    size_t block = (size_t)(e->unit * inner) * es;
    const char *src = mof_tensor_data(t);
    char *dst = mof_tensor_data_mut(nt);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < e->n_channels; k++) {
            if (!e->keep[k])
                continue;
            memcpy(dst, src + ((size_t)(o * e->n_channels + k) * block), block);
            dst += block;
        }
    return nt;
}

static mof_status apply_edits(chan_run *c)
{
    for (size_t i = 0; i < c->n_edits; i++) {
        edit *e = &c->edits[i];
        const mof_tensor *t = prune_constant(mof_node_input(e->node, e->input));
        if (!t || mof_tensor_dtype(t) == MOF_DTYPE_STRING || (int)mof_tensor_rank(t) <= e->axis ||
            mof_tensor_dims(t)[e->axis] != e->n_channels * e->unit)
            return mof_report_node(c->r.ctx, MOF_SEVERITY_ERROR, MOF_ERR_INTERNAL, e->node,
                                   "internal error: input %zu does not have %lld channels "
                                   "along axis %d", e->input, (long long)e->n_channels, e->axis);
        mof_status st = prune_set_input_tensor(&c->r, e->node, e->input, slice_tensor(t, e));
        if (st < 0)
            return st;
    }
    for (size_t i = 0; i < c->n_depthwise; i++) {
        mof_node *n = c->depthwise[i];
        const mof_tensor *w = prune_constant(mof_node_input(n, 1));
        mof_status st = mof_node_set_attr_int(n, "group", mof_tensor_dims(w)[0]);
        if (st < 0)
            return st;
    }
    return MOF_OK;
}

/* The new channel count of a layout. */
static int64_t kept_channels(chan_run *c, const layout *l)
{
    int64_t t = 0;
    for (size_t i = 0; i < l->n_segs; i++) {
        int s = l->segs[i].space;
        const space *root = s >= 0 ? &c->spaces[find(c, s)] : NULL;
        if (!root || !root->keep) {
            t += l->segs[i].len;
            continue;
        }
        for (int64_t k = 0; k < root->size; k++)
            t += root->keep[k];
    }
    return t;
}

/* Declared shapes: axis 1 of every value whose channels changed. */
static mof_status update_types(chan_run *c)
{
    for (size_t i = 0; i < c->n_layouts; i++) {
        const layout *l = &c->layouts[i];
        mof_value *v = (mof_value *)l->value;
        int rank = mof_value_has_type(v) ? mof_value_rank(v) : -1;
        if (rank < 2 || mof_value_dim(v, 1) < 0)
            continue;
        int64_t before = total_channels(l), after = kept_channels(c, l);
        if (after == before)
            continue;
        int64_t dims[16];
        const char *syms[16];
        if (rank > 16)
            continue;
        for (int d = 0; d < rank; d++) {
            dims[d] = mof_value_dim(v, (size_t)d);
            syms[d] = mof_value_dim_symbol(v, (size_t)d);
        }
        if (dims[1] % before != 0)
            continue;
        dims[1] = dims[1] / before * after;
        mof_status st = mof_value_set_type(v, mof_value_dtype(v), rank, dims, syms);
        if (st < 0)
            return st;
    }
    return MOF_OK;
}

/* ------------------------------------------------------------------ the pass */

static void chan_free(chan_run *c)
{
    for (size_t i = 0; i < c->n_spaces; i++) {
        free(c->spaces[i].score);
        free(c->spaces[i].acts);
        free(c->spaces[i].keep);
    }
    for (size_t i = 0; i < c->n_layouts; i++)
        free(c->layouts[i].segs);
    for (size_t i = 0; i < c->n_edits; i++)
        free(c->edits[i].keep);
    free(c->spaces);
    free(c->layouts);
    free(c->table);
    free(c->edits);
    free(c->depthwise);
}

static mof_status channels_run(mof_pass_ctx *pc, mof_model *model, void *priv)
{
    chan_run c;
    memset(&c, 0, sizeof c);
    c.p = priv;
    c.g = mof_model_graph(model);
    int64_t removed = 0, groups_pruned = 0, groups_kept = 0, channels = 0;
    mof_context *quiet = NULL;
    mof_model *typed = NULL;
    mof_status st = prune_begin(&c.r, pc, model, &c.p->sel, 1u << PRUNE_CONV);
    if (st < 0)
        goto done;
    /* Shapes, for Concat operands and Flatten's spatial size, from a copy. */
    if (!(quiet = mof_context_create()) || !(typed = mof_model_dup(model)))
        goto nomem;
    if (mof_infer_shapes(quiet, typed) >= 0)
        c.typed = mof_model_graph(typed);
    for (mof_node *n = mof_graph_first_node(c.g); n && !c.nomem; n = mof_node_next(n))
        visit(&c, n);
    if (c.nomem)
        goto nomem;
    for (size_t i = 0; i < c.n_spaces; i++) {
        if (find(&c, (int)i) != (int)i)
            continue;
        removed += decide(&c, (int)i, &groups_pruned);
        groups_kept += c.spaces[i].blocked;
        if (c.nomem)
            goto nomem;
    }
    for (size_t i = 0; i < c.n_spaces; i++) {
        const space *root = &c.spaces[find(&c, (int)i)];
        channels += c.spaces[i].size;
        if (!root->keep)
            continue;
        for (size_t j = 0; j < c.spaces[i].n_acts; j++) {
            const action *a = &c.spaces[i].acts[j];
            edit *e = find_edit(&c, a);
            if (!e)
                goto nomem;
            for (int64_t k = 0; k < root->size; k++)
                e->keep[a->offset + k] = e->keep[a->offset + k] && root->keep[k];
        }
    }
    if (removed && ((st = apply_edits(&c)) < 0 || (st = update_types(&c)) < 0))
        goto done;
    mof_pass_stat(pc, "convs", (int64_t)c.n_spaces);
    mof_pass_stat(pc, "groups-pruned", groups_pruned);
    mof_pass_stat(pc, "groups-kept", groups_kept);
    mof_pass_stat(pc, "channels-removed", removed);
    st = removed ? MOF_OK : MOF_UNCHANGED;
    goto done;
nomem:
    st = prune_nomem(&c.r);
done:;
    char summary[256];
    snprintf(summary, sizeof summary,
             "removed %lld of %lld output channels of %zu Convs (ratio %.2f, %s norm; %lld "
             "channel groups pruned, %lld kept whole)",
             (long long)removed, (long long)channels, c.n_spaces, c.p->ratio,
             c.p->norm == NORM_L2 ? "l2" : "l1", (long long)groups_pruned,
             (long long)groups_kept);
    mof_model_destroy(typed);
    mof_context_destroy(quiet);
    chan_free(&c);
    return prune_end(&c.r, st, summary);
}

const mof_pass_desc prune_channels_pass = {
    .size = sizeof(mof_pass_desc),
    .name = "prune-channels",
    .summary = "remove the Conv output channels of smallest filter norm, shrinking their "
               "readers (structured)",
    .help = "Removes floor(ratio * K) of each selected Conv's K output channels (the\n"
            "kept count rounded up to a multiple of round-to), ranked by the l1 or l2\n"
            "norm of their filters, and rewrites every reader: BatchNormalization,\n"
            "InstanceNormalization, elementwise activations, pools, per-channel\n"
            "constants of Add/Mul/..., depthwise Convs (filters and group), the next\n"
            "Conv's input channels, Concat offsets, and Flatten -> Gemm/MatMul rows.\n"
            "Convs joined by Add/Mul (residuals) drop the same channels, ranked by\n"
            "their summed norms. A channel set that reaches a graph output or a node\n"
            "not listed (Reshape, Transpose, grouped Conv...) is kept, with a note.\n"
            "The result equals the model with the weights that read the removed\n"
            "channels set to zero. Main graph only.",
    .params = channels_params,
    .priv_size = sizeof(struct channels_pass),
    .flags = MOF_PASS_CHANGES_NUMERICS,
    .tolerance = 0,
    .run = channels_run,
};
