/* prune-channels: structured pruning: removes whole output channels (filters) of Conv
 * nodes, shrinks every node that reads those channels, and folds what the removed
 * channels contributed on average into the readers' biases, so the model gets
 * physically smaller and faster and keeps as much of its accuracy as a constant can.
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
 *     the spaces merge (union-find) and are pruned as one (a residual block's convs
 *     drop the same channels);
 *   - Concat on the channel axis: each space keeps its own offset;
 *   - a depthwise Conv (group = channels, one filter each): its filters and bias drop
 *     the same channels and its group shrinks; its output carries the same spaces;
 *   - READERS, the nodes that mix channels: the next Conv (group 1), whose W
 *     [K', C, ...] drops the input channels (axis 1), and Flatten (axis 1) or a
 *     Reshape to [N, C*H*W] then Gemm (transA 0) or MatMul: the block of rows of B that
 *     each channel's spatial positions feed.
 * Anything else that reads a space's channels blocks it, and its Conv keeps all its
 * channels, with a note saying why: a graph output (graph outputs keep their shape),
 * another Reshape, Transpose, Split, Slice, Softmax, a grouped Conv, a read from a
 * subgraph, a non-constant operand, segments that do not line up, an op not listed.
 *
 * How many go: of S channels, floor(ratio * S) are removed, then the kept count is
 * rounded up to a multiple of round-to (never above S) and is at least 1. The channels
 * of smallest score go first (ties: the later channel first). The criterion:
 *   l1, l2      the norm of the filter as it is (Li et al., "Pruning Filters for
 *               Efficient ConvNets"); with a BatchNormalization after the Conv, run
 *               fuse-conv-bn first to rank the filters the BN scales;
 *   l2-reader   the filter's l2 norm times the l2 norm of every reader's weights
 *               that read the channel (what the channel can change downstream);
 *   activation  data-driven (needs calibration): the sum over readers of the
 *               channel's variance at the reader's input (its mean square without
 *               compensation) times the squared norm of the reader's weights on it:
 *               the output error the removal is expected to cause.
 * Channels tied into one group (residual Adds) rank by the sum over the group's
 * Convs (filter norms) or over all the group's readers (reader terms).
 *
 * Compensation (compensate=true, the default). A removed channel's activation is
 * not zero (after a Conv bias or a BatchNormalization and Relu it is relu(w*x + b)):
 * each reader gets, in its bias, what the channel's constant value m contributed:
 * sum over the removed channels c of m_c times the reader's weights on c (for a Conv
 * reader, summed over the kernel taps; for a Gemm, alpha/beta scaled into C, added
 * when absent; for a MatMul, an Add after it). m_c is the channel's mean at the
 * reader's input over the calibration data (calibration=FOLDER, measured on the
 * input model), else the data-free value: the channel's value when its Conv's input
 * is zero (relu(b) after a bias and Relu), carried through the nodes between
 * (evaluated by the interpreter on one value per channel; pools keep it).
 *
 * Reconstruction (reconstruct=true, needs calibration): each reader's kept weights
 * and bias are refitted by least squares so that, over the calibration data, the
 * reader computes as nearly as it can what it computed in the input model (see the
 * reconstruction section below); readers it cannot refit keep the compensation.
 *
 * What the pass computes exactly (without reconstruct): the pruned model equals the
 * input model in which, at every reader, each removed channel is replaced by its
 * constant m_c (0 with compensate=false), the constant extending into a Conv
 * reader's zero padding (the bias carries all kernel taps). With reconstruct, when a
 * removed channel is a linear combination of kept ones on the calibration data, the
 * pruned model computes what the input model computes. A removed channel's values
 * flow only into readers, since every node between keeps channels apart.
 * tests/unit/test_pruning.c checks both against the interpreter. Values of the main
 * graph whose channel count changed get their declared shapes updated; ratio=0
 * changes nothing. Subgraphs are not pruned. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prune.h"

struct channels_pass {
    struct prune_select sel;
    double ratio;
    int criterion;
    int norm;
    int64_t round_to;
    bool compensate;
    bool reconstruct;
    const char *calibration;
};

enum { CRIT_L1, CRIT_L2, CRIT_L2_READER, CRIT_ACTIVATION };
static const char *const criterion_choices[] = { "l1", "l2", "l2-reader", "activation", NULL };
enum { NORM_L1, NORM_L2 };
static const char *const norm_choices[] = { "l1", "l2", NULL };

static const mof_param_desc channels_params[] = {
    { .name = "ratio", .help = "fraction of each Conv's output channels to remove",
      .type = MOF_PARAM_FLOAT, .offset = offsetof(struct channels_pass, ratio), .def = "0.25",
      .min = 0, .max = 1, .flags = MOF_PARAM_RANGE },
    { .name = "criterion",
      .help = "rank channels by their filter's l1 or l2 norm, by l2-reader (filter norm "
              "times the norm of the weights that read the channel), or by activation "
              "(variance on the calibration data times the readers' weights; needs "
              "calibration)",
      .type = MOF_PARAM_CHOICE, .offset = offsetof(struct channels_pass, criterion),
      .def = "l1", .choices = criterion_choices },
    { .name = "norm", .help = "the former spelling of criterion=l1|l2 (norm=l2 means criterion=l2)",
      .type = MOF_PARAM_CHOICE, .offset = offsetof(struct channels_pass, norm), .def = "l1",
      .choices = norm_choices },
    { .name = "round-to",
      .help = "keep a multiple of this many channels (rounding the kept count up)",
      .type = MOF_PARAM_INT, .offset = offsetof(struct channels_pass, round_to), .def = "1",
      .min = 1, .max = 65536, .flags = MOF_PARAM_RANGE },
    { .name = "compensate",
      .help = "fold each removed channel's mean value (times the readers' weights) into the "
              "readers' biases",
      .type = MOF_PARAM_BOOL, .offset = offsetof(struct channels_pass, compensate),
      .def = "true" },
    { .name = "reconstruct",
      .help = "refit each reader's kept weights and bias by least squares to the input "
              "model's outputs on the calibration data (needs calibration)",
      .type = MOF_PARAM_BOOL, .offset = offsetof(struct channels_pass, reconstruct),
      .def = "false" },
    { .name = "calibration",
      .help = "calibration data for the channel means and criterion=activation: a folder "
              "(test_data_set_<k>/ sub-folders, or one NAME.npy/.pb per input with the "
              "samples stacked on the first dim); empty: data-free values",
      .type = MOF_PARAM_STRING, .offset = offsetof(struct channels_pass, calibration),
      .def = "" },
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
 * Flatten), each channel a block of hw elements (0: not known yet). konst: per
 * channel, the data-free value a removed channel carries (NaN: not known); sum, sq,
 * count: the calibration sums of x and x^2 per channel, over count elements each. */
typedef struct layout {
    const mof_value *value;
    seg *segs;
    size_t n_segs;
    int rank;
    bool flat;
    int64_t hw;
    double *konst;
    double *sum, *sq;
    double count;
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
    double *score;           /* the filter norms */
    double *rscore;          /* the reader terms (l2-reader, activation) */
    action *acts;
    size_t n_acts, cap_acts;
    bool *keep;              /* the decision, on roots */
} space;

/* A node that mixes the channels of value `in` through its weight (input 1): along
 * `axis`, `unit` slices per channel; its outputs index the weight's dims before axis
 * (out_outer: Conv, Gemm with transB) or after it. delta: the compensation per
 * output, computed before the weights shrink. */
typedef struct reader {
    mof_node *node;
    const mof_value *in;
    int axis;
    int64_t unit;
    bool out_outer;
    double *delta;
    int64_t n_out;
    /* reconstruct: the Gram matrix of the reader's input features (im2col of a Conv's
     * input, the rows of a Gemm's) with a trailing 1, n_feat + 1 square, and the
     * refitted weights [n_out, kept features] */
    double *gram;
    int64_t n_feat;
    double *refit;
} reader;

/* A Reshape to [N, C*H*W] whose shape constant names the channel count. */
typedef struct reshape_fix {
    mof_node *node;
    const mof_value *in;
    int64_t hw;
} reshape_fix;

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
    int criterion;           /* the effective one (norm=l2 folded in) */
    mof_graph *g;
    const mof_graph *typed;  /* a copy of the model with inferred shapes */
    mof_context *quiet;      /* for evaluations that may fail */
    space *spaces;
    size_t n_spaces, cap_spaces;
    layout *layouts;
    size_t n_layouts, cap_layouts;
    size_t *table;           /* value -> 1 + index in layouts; open addressing */
    size_t table_size;
    reader *readers;
    size_t n_readers, cap_readers;
    reshape_fix *reshapes;
    size_t n_reshapes, cap_reshapes;
    edit *edits;
    size_t n_edits, cap_edits;
    mof_node **depthwise;
    size_t n_depthwise, cap_depthwise;
    bool calibrated;
    int64_t compensated, uncompensated;
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

/* Gives v a layout of n_segs segments (copied), with the data-free values konst (one
 * per channel, copied; NULL: not known), and checks its readers that the sweep cannot
 * see: a graph output, a subgraph. */
static void set_layout(chan_run *c, const mof_value *v, const seg *segs, size_t n_segs, int rank,
                       bool flat, int64_t hw, const double *konst)
{
    if (!v || c->nomem)
        return;
    int64_t total = 0;
    for (size_t i = 0; i < n_segs; i++)
        total += segs[i].len;
    seg *copy = malloc((n_segs ? n_segs : 1) * sizeof *copy);
    double *k = malloc((size_t)(total > 0 ? total : 1) * sizeof *k);
    if (!copy || !k || !GROW(c->layouts, c->n_layouts, c->cap_layouts)) {
        free(copy);
        free(k);
        c->nomem = true;
        return;
    }
    memcpy(copy, segs, n_segs * sizeof *segs);
    for (int64_t i = 0; i < total; i++)
        k[i] = konst ? konst[i] : NAN;
    size_t index = c->n_layouts++;
    c->layouts[index] = (layout){ v, copy, n_segs, rank, flat, hw, k, NULL, NULL, 0 };
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

/* The layout of the node's output 0 when it passes input 0's channels, and their
 * values, through (pools, Identity; konst NULL: l's). */
static void pass_through(chan_run *c, const mof_node *n, const layout *l, const double *konst)
{
    set_layout(c, mof_node_output(n, 0), l->segs, l->n_segs, l->rank, l->flat, l->hw,
               konst ? konst : l->konst);
}

/* Per channel, the mean of t over every dim but axis 1 (of `total` channels) into out;
 * false when t does not have them. */
static bool channel_means(const mof_tensor *t, int64_t total, double *out)
{
    if (!t || mof_tensor_dtype(t) != MOF_DTYPE_FLOAT || mof_tensor_rank(t) < 2 ||
        mof_tensor_dims(t)[1] != total || total <= 0)
        return false;
    int64_t outer = mof_tensor_dims(t)[0], inner = mof_tensor_numel(t) / (outer * total);
    const float *d = mof_tensor_data(t);
    for (int64_t k = 0; k < total; k++) {
        double s = 0;
        for (int64_t o = 0; o < outer; o++)
            for (int64_t i = 0; i < inner; i++)
                s += d[(o * total + k) * inner + i];
        out[k] = outer * inner > 0 ? s / (double)(outer * inner) : NAN;
    }
    return true;
}

/* Evaluates n (output 0, `total` channels) with each tracked input replaced by one
 * value per channel, its data-free values ([1, C, 1, ...]), into out: NaN where an
 * input's value is not known or when the interpreter cannot run the node. */
static void eval_konst(chan_run *c, const mof_node *n, int64_t total, double *out)
{
    size_t n_in = mof_node_n_inputs(n), n_out = mof_node_n_outputs(n);
    mof_tensor **ins = calloc(n_in + 1, sizeof *ins), **outs = calloc(n_out + 1, sizeof *outs);
    bool *unknown = calloc((size_t)(total > 0 ? total : 1), sizeof *unknown);
    bool ok = ins && outs && unknown;
    if (!ok)
        c->nomem = true;
    for (size_t i = 0; ok && i < n_in; i++) {
        const mof_value *v = mof_node_input(n, i);
        const layout *l = find_layout(c, v);
        if (!v)
            continue;
        if (!l) {
            const mof_tensor *t = prune_constant(v);
            ok = t != NULL;
            if (ok)
                ins[i] = mof_tensor_ref((mof_tensor *)t);
            continue;
        }
        int64_t lt = total_channels(l), dims[16] = { 1, lt };
        int rank = l->flat ? 2 : l->rank;
        if (rank > 16 || lt != total) {
            ok = false;
            break;
        }
        for (int d = 2; d < rank; d++)
            dims[d] = 1;
        if (!(ins[i] = mof_tensor_create(MOF_DTYPE_FLOAT, (size_t)rank, dims))) {
            ok = false;
            c->nomem = true;
            break;
        }
        float *d = mof_tensor_data_mut(ins[i]);
        for (int64_t k = 0; k < lt; k++) {
            unknown[k] = unknown[k] || isnan(l->konst[k]);
            d[k] = isnan(l->konst[k]) ? 0.0f : (float)l->konst[k];
        }
    }
    if (ok)
        ok = mof_interp_eval_node(c->quiet, n, mof_model_opset(c->r.model, mof_node_domain(n)),
                                  n_in, ins, n_out, outs) == MOF_OK &&
             channel_means(outs[0], total, out);
    for (int64_t k = 0; k < total; k++)
        if (!ok || unknown[k])
            out[k] = NAN;
    if (ins)
        mof_tensors_release(n_in, ins);
    if (outs)
        mof_tensors_release(n_out, outs);
    free(ins);
    free(outs);
    free(unknown);
}

/* The output layout of a node that keeps input layout l's channels apart but changes
 * their values (activations, BatchNormalization, per-channel Add/Mul...). */
static void pass_eval(chan_run *c, const mof_node *n, const layout *l)
{
    int64_t total = total_channels(l);
    double *k = malloc((size_t)(total > 0 ? total : 1) * sizeof *k);
    if (!k) {
        c->nomem = true;
        return;
    }
    eval_konst(c, n, total, k);
    pass_through(c, n, l, k);
    free(k);
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

/* Records node n as a reader of value in (see reader). */
static void add_reader(chan_run *c, mof_node *n, const mof_value *in, int axis, int64_t unit,
                       bool out_outer)
{
    if (!GROW(c->readers, c->n_readers, c->cap_readers)) {
        c->nomem = true;
        return;
    }
    c->readers[c->n_readers++] = (reader){ n, in, axis, unit, out_outer, NULL, 0, NULL, 0, NULL };
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
    pass_eval(c, n, &l);
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
    int64_t total = 0;
    for (size_t i = 0; ok && i < k; i++)
        total += segs[i].len;
    double *konst = ok ? malloc((size_t)(total > 0 ? total : 1) * sizeof *konst) : NULL;
    if (ok && !konst) {
        free(segs);
        c->nomem = true;
        return;
    }
    for (size_t i = 0, at = 0; ok && i < n_in; i++) {
        const mof_value *v = mof_node_input(n, i);
        const layout *l = find_layout(c, v);
        int64_t len = l ? total_channels(l) : typed_dim(c, v, 1);
        for (int64_t j = 0; j < len; j++)
            konst[at + (size_t)j] = l ? l->konst[j] : NAN;
        at += (size_t)len;
    }
    if (ok)
        set_layout(c, mof_node_output(n, 0), segs, k, rank, false, 0, konst);
    free(konst);
    free(segs);
    if (!ok)
        for (size_t i = 0; i < n_in; i++) {
            const layout *l = find_layout(c, mof_node_input(n, i));
            if (l)
                block_node(c, n, l, axis == 1 ? "an operand's channel count is not known"
                                              : "not on the channel axis");
        }
}

/* A Reshape of [N, C, H, W...] to [N, C*H*W] is a Flatten at axis 1: its constant
 * shape is [0 or N or -1, -1 or C*H*W] (allowzero 0). A literal C*H*W is rewritten
 * when channels go. Any other Reshape blocks. */
static void visit_reshape(chan_run *c, mof_node *n, const layout *l)
{
    const mof_tensor *st = mof_node_n_inputs(n) == 2 ? prune_constant(mof_node_input(n, 1)) : NULL;
    const mof_value *in = mof_node_input(n, 0);
    int64_t total = total_channels(l), hw = 1, d0 = typed_dim(c, in, 0);
    for (int i = 2; i < l->rank && hw > 0; i++) {
        int64_t d = typed_dim(c, in, i);
        hw = d >= 0 ? hw * d : 0;
    }
    bool ok = !l->flat && st && mof_tensor_dtype(st) == MOF_DTYPE_INT64 &&
              mof_tensor_rank(st) == 1 && mof_tensor_dims(st)[0] == 2 &&
              !mof_node_attr_int(n, "allowzero", 0) && total > 0;
    const int64_t *sh = ok ? mof_tensor_data(st) : NULL;
    if (ok) {
        /* The second dim: -1, or C*H*W (which gives H*W when the shapes are not known). */
        if (sh[1] == -1)
            ok = sh[0] == 0 || (sh[0] > 0 && sh[0] == d0);
        else if (sh[1] > 0 && sh[1] % total == 0 && (!hw || sh[1] == total * hw)) {
            hw = sh[1] / total;
            ok = sh[0] == 0 || sh[0] == -1 || (sh[0] > 0 && sh[0] == d0);
        } else
            ok = false;
    }
    if (!ok) {
        block_node(c, n, l, "not a flatten to [N, C*H*W]");
        return;
    }
    if (sh[1] != -1) {
        if (!GROW(c->reshapes, c->n_reshapes, c->cap_reshapes)) {
            c->nomem = true;
            return;
        }
        c->reshapes[c->n_reshapes++] = (reshape_fix){ n, in, hw };
    }
    set_layout(c, mof_node_output(n, 0), l->segs, l->n_segs, 2, true, hw, l->konst);
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
        add_reader(c, n, l->value, 1, 1, true);
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
        /* A constant channel m comes out as b + m * sum(w) (the taps in the padding
         * count: the compensation's convention); a fused activation is not modelled. */
        double *k = malloc((size_t)(total > 0 ? total : 1) * sizeof *k);
        if (!k) {
            c->nomem = true;
            return true;
        }
        const mof_tensor *bt = b ? prune_constant(b) : NULL;
        bool fused = strcmp(mof_node_domain(n), MOF_FUSED_DOMAIN) == 0;
        bool wf = mof_tensor_dtype(w) == MOF_DTYPE_FLOAT;
        int64_t per = mof_tensor_numel(w) / total;
        const float *wdat = mof_tensor_data(w);
        for (int64_t ch = 0; ch < total; ch++) {
            double sw = 0;
            for (int64_t j = 0; wf && j < per; j++)
                sw += wdat[ch * per + j];
            k[ch] = fused || !wf ? NAN : l->konst[ch] * sw;
            if (bt && mof_tensor_dtype(bt) == MOF_DTYPE_FLOAT)
                k[ch] += ((const float *)mof_tensor_data(bt))[ch];
            else if (bt)
                k[ch] = NAN;
        }
        pass_through(c, n, l, k);
        free(k);
        return true;
    }
    char why[80];
    snprintf(why, sizeof why, "a grouped Conv (group %lld) that is not depthwise",
             (long long)group);
    block_node(c, n, l, why);
    return false;
}

/* The output of Conv n (k channels) when its input is zero, per channel, into out:
 * its bias (0 without), through the activation of a mof.FusedConv (evaluated on a
 * zero input as large as the dilated kernel); NaN when that cannot run. */
static void conv_zero_value(chan_run *c, const mof_node *n, int64_t k, double *out)
{
    const mof_value *bv = mof_node_n_inputs(n) > 2 ? mof_node_input(n, 2) : NULL;
    const mof_tensor *b = bv ? prune_constant(bv) : NULL;
    if (prune_is_op(n, "Conv")) {
        bool bf = b && mof_tensor_dtype(b) == MOF_DTYPE_FLOAT && mof_tensor_numel(b) == k;
        for (int64_t i = 0; i < k; i++)
            out[i] = !b ? 0.0 : bf ? ((const float *)mof_tensor_data(b))[i] : NAN;
        return;
    }
    const mof_tensor *w = prune_constant(mof_node_input(n, 1));
    size_t rank = mof_tensor_rank(w), n_dil = 0;
    const int64_t *dil = mof_node_attr_ints(n, "dilations", &n_dil);
    int64_t dims[16];
    mof_tensor *ins[3] = { NULL, (mof_tensor *)w, (mof_tensor *)b }, *outs[1] = { NULL };
    bool ok = rank <= 16;
    for (size_t i = 0; ok && i < rank; i++)
        dims[i] = i == 0 ? 1 : i == 1 ? mof_tensor_dims(w)[1]
                : (mof_tensor_dims(w)[i] - 1) * (n_dil == rank - 2 ? dil[i - 2] : 1) + 1;
    ok = ok && (ins[0] = mof_tensor_create(MOF_DTYPE_FLOAT, rank, dims)) != NULL;
    if (ok)
        memset(mof_tensor_data_mut(ins[0]), 0, mof_tensor_nbytes(ins[0]));
    ok = ok && mof_interp_eval_node(c->quiet, n, mof_model_opset(c->r.model, mof_node_domain(n)),
                                    mof_node_n_inputs(n) > 2 ? 3 : 2, ins, 1, outs) == MOF_OK &&
         channel_means(outs[0], k, out);
    if (!ok)
        for (int64_t i = 0; i < k; i++)
            out[i] = NAN;
    mof_tensor_unref(ins[0]);
    mof_tensor_unref(outs[0]);
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
    size_t cnt = (size_t)(sp->size ? sp->size : 1);
    sp->score = calloc(cnt, sizeof *sp->score);
    sp->rscore = calloc(cnt, sizeof *sp->rscore);
    double *konst = malloc(cnt * sizeof *konst);
    if (!sp->score || !sp->rscore || !konst) {
        free(konst);
        c->nomem = true;
        return;
    }
    bool l1 = c->criterion == CRIT_L1;
    const float *d = mof_tensor_data(w);
    int64_t per = sp->size ? mof_tensor_numel(w) / sp->size : 0;
    for (int64_t k = 0; k < sp->size; k++) {
        double sum = 0;
        for (int64_t j = 0; j < per; j++) {
            double x = d[k * per + j];
            sum += l1 ? fabs(x) : x * x;
        }
        sp->score[k] = l1 ? sum : sqrt(sum);
    }
    conv_zero_value(c, n, sp->size, konst);
    add_action(c, s, n, 1, 0, 0, sp->size, 1);
    if (bv)
        add_action(c, s, n, 2, 0, 0, sp->size, 1);
    seg one = { s, sp->size };
    set_layout(c, mof_node_output(n, 0), &one, 1, (int)mof_tensor_rank(w), false, 0, konst);
    free(konst);
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
            pass_eval(c, n, &l);
        return;
    }
    if (is_one_of(n, pool_ops)) {
        if (l.flat || !only_first_output_used(n)) {
            block_node(c, n, &l, l.flat ? "flattened" : "its Indices output is used");
            return;
        }
        /* Max and average pools keep a constant; Lp pools scale it. */
        if (prune_is_op(n, "LpPool") || prune_is_op(n, "GlobalLpPool")) {
            set_layout(c, mof_node_output(n, 0), l.segs, l.n_segs, l.rank, false, 0, NULL);
            return;
        }
        pass_through(c, n, &l, NULL);
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
        pass_eval(c, n, &l);
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
        set_layout(c, mof_node_output(n, 0), l.segs, l.n_segs, 2, true, hw, l.konst);
        return;
    }
    if (prune_is_op(n, "Reshape")) {
        visit_reshape(c, n, &l);
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
        add_reader(c, n, l.value, axis, unit, axis == 1);
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
    /* Filter norms and reader terms add up over the group. */
    for (int64_t k = 0; k < s; k++) {
        double fs = 0, rs = 0;
        for (size_t i = 0; i < c->n_spaces; i++)
            if (find(c, (int)i) == root) {
                fs += c->spaces[i].score[k];
                rs += c->spaces[i].rscore[k];
            }
        rk[k].score = c->criterion == CRIT_L2_READER ? fs * sqrt(rs)
                      : c->criterion == CRIT_ACTIVATION ? rs : fs;
    }
    qsort(rk, (size_t)s, sizeof *rk, cmp_ranked);
    for (int64_t k = 0; k < s - keep; k++)
        sp->keep[rk[k].index] = false;
    free(rk);
    (*groups_pruned)++;
    return (s - keep) * (int64_t)n_members;
}

static int64_t kept_channels(chan_run *c, const layout *l);
static bool reader_geometry(const reader *rd, const mof_tensor *w, int64_t *outer, int64_t *a,
                            int64_t *inner);
static const bool *conv_keep(chan_run *c, const mof_node *n);
static bool reader_view(const chan_run *c, const reader *rd, const layout **l, const float **d,
                        int64_t *outer, int64_t *a, int64_t *inner);

/* ------------------------------------------------------------------ calibration */

/* ------------------------------------------------------------------ reconstruction
 *
 * With reconstruct=true each reader's kept weights and bias are refitted, by least
 * squares over the calibration data, to what the reader computed in the input model
 * (as ThiNet and He et al.'s channel pruning reconstruct the next layer): with Z the
 * reader's input features that stay (the kept channels' im2col columns for a Conv,
 * their rows for a Gemm/MatMul) and a constant 1, and X all of them, the new weights
 * S solve (Z'Z + lambda I) S = Z'X W', W the reader's original weights. Both sides
 * come from one Gram matrix of [X, 1], summed while the calibration runs. */

#define RECON_MAX_FEATURES 4096

/* The Conv geometry of a reader's 2-D im2col (false when not supported). */
typedef struct conv_geo {
    int64_t kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
} conv_geo;

static bool reader_conv_geo(const reader *rd, const mof_tensor *w, conv_geo *g)
{
    const mof_node *n = rd->node;
    size_t cnt;
    const char *ap = mof_node_attr_string(n, "auto_pad", "NOTSET", NULL);
    if (mof_tensor_rank(w) != 4 || (strcmp(ap, "NOTSET") != 0 && strcmp(ap, "VALID") != 0))
        return false;
    *g = (conv_geo){ mof_tensor_dims(w)[2], mof_tensor_dims(w)[3], 1, 1, 1, 1, 0, 0, 0, 0 };
    const int64_t *v = mof_node_attr_ints(n, "strides", &cnt);
    if (v && cnt == 2) {
        g->sh = v[0];
        g->sw = v[1];
    }
    if ((v = mof_node_attr_ints(n, "dilations", &cnt)) && cnt == 2) {
        g->dh = v[0];
        g->dw = v[1];
    }
    if ((v = mof_node_attr_ints(n, "pads", &cnt)) && cnt == 4 && strcmp(ap, "NOTSET") == 0) {
        g->pt = v[0];
        g->pl = v[1];
        g->pb = v[2];
        g->pr = v[3];
    }
    return g->sh > 0 && g->sw > 0 && g->dh > 0 && g->dw > 0;
}

/* Adds z z' (z: n_feat features and a trailing 1, nonzero ones listed in nz) to the
 * upper triangle of the Gram matrix. */
static void gram_rank1(reader *rd, const double *z, const int64_t *nz, int64_t n_nz)
{
    int64_t f1 = rd->n_feat + 1;
    for (int64_t a = 0; a < n_nz; a++)
        for (int64_t b = a; b < n_nz; b++) {
            int64_t i = nz[a], j = nz[b];
            rd->gram[(i < j ? i : j) * f1 + (i < j ? j : i)] += z[i] * z[j];
        }
}

/* The observer's part: the features of one tensor the reader read. */
static void gram_add(reader *rd, const mof_tensor *t)
{
    int64_t f1 = rd->n_feat + 1, n = mof_tensor_dims(t)[0];
    double *z = calloc((size_t)f1, sizeof *z);
    int64_t *nz = malloc((size_t)f1 * sizeof *nz);
    const float *d = mof_tensor_data(t);
    conv_geo g;
    prune_kind kind;
    if (!z || !nz || !prune_node_kind(rd->node, &kind))
        goto done;
    if (kind == PRUNE_CONV) {
        if (mof_tensor_rank(t) != 4 ||
            !reader_conv_geo(rd, prune_constant(mof_node_input(rd->node, 1)), &g))
            goto done;
        int64_t ch = mof_tensor_dims(t)[1], h = mof_tensor_dims(t)[2], w = mof_tensor_dims(t)[3];
        int64_t oh = (h + g.pt + g.pb - ((g.kh - 1) * g.dh + 1)) / g.sh + 1;
        int64_t ow = (w + g.pl + g.pr - ((g.kw - 1) * g.dw + 1)) / g.sw + 1;
        if (ch * g.kh * g.kw != rd->n_feat)
            goto done;
        for (int64_t b = 0; b < n; b++)
            for (int64_t y = 0; y < oh; y++)
                for (int64_t x = 0; x < ow; x++) {
                    int64_t n_nz = 0;
                    for (int64_t c = 0; c < ch; c++)
                        for (int64_t i = 0; i < g.kh; i++)
                            for (int64_t j = 0; j < g.kw; j++) {
                                int64_t iy = y * g.sh - g.pt + i * g.dh;
                                int64_t ix = x * g.sw - g.pl + j * g.dw;
                                int64_t f = (c * g.kh + i) * g.kw + j;
                                z[f] = iy >= 0 && iy < h && ix >= 0 && ix < w
                                           ? d[((b * ch + c) * h + iy) * w + ix] : 0.0;
                                if (z[f] != 0)
                                    nz[n_nz++] = f;
                            }
                    z[rd->n_feat] = 1;
                    nz[n_nz++] = rd->n_feat;
                    gram_rank1(rd, z, nz, n_nz);
                }
    } else {
        if (mof_tensor_rank(t) != 2 || mof_tensor_dims(t)[1] != rd->n_feat)
            goto done;
        for (int64_t b = 0; b < n; b++) {
            int64_t n_nz = 0;
            for (int64_t f = 0; f < rd->n_feat; f++)
                if ((z[f] = d[b * rd->n_feat + f]) != 0)
                    nz[n_nz++] = f;
            z[rd->n_feat] = 1;
            nz[n_nz++] = rd->n_feat;
            gram_rank1(rd, z, nz, n_nz);
        }
    }
done:
    free(z);
    free(nz);
}

/* Gives every reader that can be refitted its (zeroed) Gram matrix. */
static void gram_prepare(chan_run *c)
{
    for (size_t r = 0; r < c->n_readers && !c->nomem; r++) {
        reader *rd = &c->readers[r];
        const mof_tensor *w = prune_constant(mof_node_input(rd->node, 1));
        int64_t outer, a, inner;
        conv_geo g;
        prune_kind kind;
        if (!reader_geometry(rd, w, &outer, &a, &inner) || !prune_node_kind(rd->node, &kind) ||
            (kind == PRUNE_CONV && !reader_conv_geo(rd, w, &g)) ||
            (kind != PRUNE_CONV && !rd->out_outer && outer != 1))
            continue;
        rd->n_feat = rd->out_outer ? a * inner : a;
        if (rd->n_feat > RECON_MAX_FEATURES)
            continue;
        size_t f1 = (size_t)rd->n_feat + 1;
        if (!(rd->gram = calloc(f1 * f1, sizeof *rd->gram)))
            c->nomem = true;
    }
}

/* Cholesky solve of the n x n symmetric positive definite a (upper triangle given;
 * overwritten) for the n_rhs columns of b (n x n_rhs, row major; overwritten with the
 * solution). false when a is not positive definite. */
static bool cholesky_solve(double *a, int64_t n, double *b, int64_t n_rhs)
{
    /* a = U'U, U upper, kept in the upper triangle. */
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = i; j < n; j++) {
            double s = a[i * n + j];
            for (int64_t k = 0; k < i; k++)
                s -= a[k * n + i] * a[k * n + j];
            if (i == j) {
                if (!(s > 0))
                    return false;
                a[i * n + i] = sqrt(s);
            } else
                a[i * n + j] = s / a[i * n + i];
        }
    }
    for (int64_t r = 0; r < n_rhs; r++) {
        for (int64_t i = 0; i < n; i++) { /* U'y = b */
            double s = b[i * n_rhs + r];
            for (int64_t k = 0; k < i; k++)
                s -= a[k * n + i] * b[k * n_rhs + r];
            b[i * n_rhs + r] = s / a[i * n + i];
        }
        for (int64_t i = n; i-- > 0;) { /* Ux = y */
            double s = b[i * n_rhs + r];
            for (int64_t k = i + 1; k < n; k++)
                s -= a[i * n + k] * b[k * n_rhs + r];
            b[i * n_rhs + r] = s / a[i * n + i];
        }
    }
    return true;
}

/* Whether channel ch of l stays. */
static bool channel_kept(chan_run *c, const layout *l, int64_t ch)
{
    int64_t off = 0;
    for (size_t i = 0; i < l->n_segs; off += l->segs[i].len, i++) {
        if (ch >= off + l->segs[i].len)
            continue;
        int s = l->segs[i].space;
        const space *root = s >= 0 ? &c->spaces[find(c, s)] : NULL;
        return !root || !root->keep || root->keep[ch - off];
    }
    return true;
}

/* Solves a reader's refit: rd->refit [n_out, kept features] and rd->delta (the bias
 * change). Returns false (nothing set) when the reader reads no removed channel or
 * the system cannot be solved. */
static bool refit_solve(chan_run *c, reader *rd)
{
    const layout *l;
    const float *w;
    int64_t outer, a, inner, f1 = rd->n_feat + 1;
    if (!rd->gram || !reader_view(c, rd, &l, &w, &outer, &a, &inner))
        return false;
    int64_t n_out = rd->out_outer ? outer : inner, nk = 0;
    int64_t *idx = malloc((size_t)f1 * sizeof *idx);
    double *g = rd->gram, *lhs = NULL, *rhs = NULL;
    bool ok = false;
    if (!idx)
        goto nomem;
    for (int64_t f = 0; f < rd->n_feat; f++)
        if (channel_kept(c, l, (rd->out_outer ? f / inner : f) / rd->unit))
            idx[nk++] = f;
    if (nk == rd->n_feat)
        goto done;
    idx[nk] = rd->n_feat; /* the constant */
    int64_t m = nk + 1;
    lhs = malloc((size_t)(m * m) * sizeof *lhs);
    rhs = calloc((size_t)(m * n_out), sizeof *rhs);
    if (!lhs || !rhs)
        goto nomem;
#define G(i, j) g[((i) < (j) ? (i) : (j)) * f1 + ((i) < (j) ? (j) : (i))]
    double trace = 0;
    for (int64_t i = 0; i < m; i++)
        trace += G(idx[i], idx[i]);
    double lambda = 1e-7 * trace / (double)m + 1e-30;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = i; j < m; j++)
            lhs[i * m + j] = G(idx[i], idx[j]) + (i == j && i < nk ? lambda : 0);
    for (int64_t i = 0; i < m; i++)
        for (int64_t f = 0; f < rd->n_feat; f++) {
            double gf = G(idx[i], f);
            if (gf == 0)
                continue;
            for (int64_t o = 0; o < n_out; o++)
                rhs[i * n_out + o] += gf * (rd->out_outer ? w[o * a * inner + f]
                                                          : w[f * inner + o]);
        }
#undef G
    if (!cholesky_solve(lhs, m, rhs, n_out)) {
        mof_report_node(c->r.ctx, MOF_SEVERITY_NOTE, MOF_OK, rd->node,
                        "not reconstructed (the calibration data leaves its least-squares "
                        "system singular): compensated with the channel means");
        goto done;
    }
    free(rd->refit);
    free(rd->delta);
    rd->refit = malloc((size_t)(n_out * (nk ? nk : 1)) * sizeof *rd->refit);
    rd->delta = malloc((size_t)(n_out ? n_out : 1) * sizeof *rd->delta);
    if (!rd->refit || !rd->delta)
        goto nomem;
    rd->n_out = n_out;
    for (int64_t o = 0; o < n_out; o++) {
        for (int64_t j = 0; j < nk; j++)
            rd->refit[o * nk + j] = rhs[j * n_out + o];
        rd->delta[o] = rhs[nk * n_out + o];
    }
    ok = true;
    goto done;
nomem:
    c->nomem = true;
done:
    free(idx);
    free(lhs);
    free(rhs);
    return ok;
}

/* Writes a refitted reader's weights into its (already shrunk) weight. */
static mof_status refit_write(chan_run *c, reader *rd)
{
    mof_tensor *t = mof_tensor_dup(prune_constant(mof_node_input(rd->node, 1)));
    if (!t)
        return prune_nomem(&c->r);
    const bool *keep = rd->out_outer ? conv_keep(c, rd->node) : NULL;
    int64_t n_out = rd->n_out, nk = 0, kept_out = 0;
    for (int64_t o = 0; o < n_out; o++)
        kept_out += !keep || keep[o];
    nk = kept_out ? mof_tensor_numel(t) / kept_out : 0;
    float *d = mof_tensor_data_mut(t);
    for (int64_t o = 0, o2 = 0; o < n_out; o++) {
        if (keep && !keep[o])
            continue;
        for (int64_t j = 0; j < nk; j++) {
            float v = (float)rd->refit[o * nk + j];
            if (rd->out_outer)
                d[o2 * nk + j] = v;
            else
                d[j * n_out + o] = v;
        }
        o2++;
    }
    return prune_set_input_tensor(&c->r, rd->node, 1, t);
}

/* The interpreter's observer: per-channel sums of every tracked value. */
static mof_status observe(void *user, const mof_node *node, size_t n_outputs,
                          mof_tensor *const *outputs)
{
    chan_run *c = user;
    for (size_t i = 0; i < n_outputs; i++) {
        layout *l = find_layout(c, mof_node_output(node, i));
        const mof_tensor *t = outputs[i];
        if (!l || !t || mof_tensor_dtype(t) != MOF_DTYPE_FLOAT || mof_tensor_rank(t) < 2)
            continue;
        int64_t total = total_channels(l), outer = mof_tensor_dims(t)[0];
        int64_t numel = mof_tensor_numel(t);
        if (total <= 0 || outer <= 0 || (!l->flat && mof_tensor_dims(t)[1] != total) ||
            numel % (outer * total) != 0)
            continue;
        if (!l->sum) {
            l->sum = calloc((size_t)total, sizeof *l->sum);
            l->sq = calloc((size_t)total, sizeof *l->sq);
            if (!l->sum || !l->sq)
                return MOF_ERR_NOMEM;
        }
        /* Both [N, C, spatial...] and a flattened [N, C*hw] are (o * C + k) * inner + i. */
        int64_t inner = numel / (outer * total);
        const float *d = mof_tensor_data(t);
        for (int64_t o = 0; o < outer; o++)
            for (int64_t k = 0; k < total; k++) {
                double s = 0, q = 0;
                for (int64_t j = 0; j < inner; j++) {
                    double x = d[(o * total + k) * inner + j];
                    s += x;
                    q += x * x;
                }
                l->sum[k] += s;
                l->sq[k] += q;
            }
        l->count += (double)(outer * inner);
        for (size_t r = 0; r < c->n_readers; r++)
            if (c->readers[r].gram && c->readers[r].in == l->value)
                gram_add(&c->readers[r], t);
    }
    return MOF_OK;
}

/* The constant that stands for channel k of l: its calibration mean, else its
 * data-free value (NaN: none). */
static double channel_value(const chan_run *c, const layout *l, int64_t k)
{
    if (c->calibrated)
        return l->sum && l->count > 0 ? l->sum[k] / l->count : NAN;
    return l->konst[k];
}

/* What removing channel k of l is expected to cost, per unit of squared reader weight:
 * its variance around the constant that replaces it (its mean square without
 * compensation). */
static double channel_spread(const chan_run *c, const layout *l, int64_t k)
{
    if (!l->sum || l->count <= 0)
        return 0;
    double m = l->sum[k] / l->count, q = l->sq[k] / l->count;
    return c->p->compensate ? fmax(q - m * m, 0.0) : q;
}

/* ------------------------------------------------------------------ readers */

/* The geometry of a reader's weight: outer dims before axis, A along it, inner after. */
static bool reader_geometry(const reader *rd, const mof_tensor *w, int64_t *outer, int64_t *a,
                            int64_t *inner)
{
    if (!w || mof_tensor_dtype(w) != MOF_DTYPE_FLOAT || (int)mof_tensor_rank(w) <= rd->axis)
        return false;
    const int64_t *d = mof_tensor_dims(w);
    *outer = *inner = 1;
    for (int i = 0; i < rd->axis; i++)
        *outer *= d[i];
    for (size_t i = (size_t)rd->axis + 1; i < mof_tensor_rank(w); i++)
        *inner *= d[i];
    *a = d[rd->axis];
    return true;
}

/* The layout reader rd reads, and its weight's data and geometry (see
 * reader_geometry); false when they do not fit each other. */
static bool reader_view(const chan_run *c, const reader *rd, const layout **l, const float **d,
                        int64_t *outer, int64_t *a, int64_t *inner)
{
    const mof_tensor *w = prune_constant(mof_node_input(rd->node, 1));
    *l = find_layout(c, rd->in);
    if (!*l || !reader_geometry(rd, w, outer, a, inner) || *a != total_channels(*l) * rd->unit)
        return false;
    *d = mof_tensor_data(w);
    return true;
}

/* The reader terms of the criteria l2-reader and activation: per channel of every
 * space a reader reads, the squared norm of the reader's weights on it (times the
 * channel's spread for activation). */
static void reader_scores(chan_run *c)
{
    for (size_t r = 0; r < c->n_readers; r++) {
        const reader *rd = &c->readers[r];
        const layout *l;
        const float *d;
        int64_t outer, a, inner, off = 0;
        if (!reader_view(c, rd, &l, &d, &outer, &a, &inner))
            continue;
        for (size_t sgi = 0; sgi < l->n_segs; off += l->segs[sgi].len, sgi++) {
            if (l->segs[sgi].space < 0)
                continue;
            space *sp = &c->spaces[l->segs[sgi].space];
            for (int64_t k = 0; k < l->segs[sgi].len; k++) {
                int64_t ch = off + k;
                double w2 = 0;
                for (int64_t o = 0; o < outer; o++)
                    for (int64_t u = 0; u < rd->unit; u++)
                        for (int64_t i = 0; i < inner; i++) {
                            double x = d[(o * a + ch * rd->unit + u) * inner + i];
                            w2 += x * x;
                        }
                sp->rscore[k] += c->criterion == CRIT_ACTIVATION
                                     ? channel_spread(c, l, ch) * w2 : w2;
            }
        }
    }
}

/* Each reader's compensation per output (rd->delta), from its weights before they
 * shrink: the sum over the removed channels c it reads of m_c times its weights on c. */
static void reader_deltas(chan_run *c)
{
    for (size_t r = 0; r < c->n_readers && !c->nomem; r++) {
        reader *rd = &c->readers[r];
        const layout *l;
        const float *d;
        int64_t outer, a, inner, off = 0;
        if (!reader_view(c, rd, &l, &d, &outer, &a, &inner))
            continue;
        rd->n_out = rd->out_outer ? outer : inner;
        if (!(rd->delta = calloc((size_t)(rd->n_out ? rd->n_out : 1), sizeof *rd->delta))) {
            c->nomem = true;
            return;
        }
        for (size_t sgi = 0; sgi < l->n_segs; off += l->segs[sgi].len, sgi++) {
            int s = l->segs[sgi].space;
            const space *root = s >= 0 ? &c->spaces[find(c, s)] : NULL;
            if (!root || !root->keep)
                continue;
            for (int64_t k = 0; k < l->segs[sgi].len; k++) {
                if (root->keep[k])
                    continue;
                int64_t ch = off + k;
                double m = channel_value(c, l, ch);
                if (isnan(m)) {
                    c->uncompensated++;
                    continue;
                }
                c->compensated++;
                for (int64_t o = 0; o < outer; o++)
                    for (int64_t u = 0; u < rd->unit; u++)
                        for (int64_t i = 0; i < inner; i++)
                            rd->delta[rd->out_outer ? o : i] +=
                                m * d[(o * a + ch * rd->unit + u) * inner + i];
            }
        }
    }
}

/* The output channels a pruned Conv keeps (NULL when it is not pruned). */
static const bool *conv_keep(chan_run *c, const mof_node *n)
{
    for (size_t i = 0; i < c->n_spaces; i++)
        if (c->spaces[i].conv == n)
            return c->spaces[find(c, (int)i)].keep;
    return NULL;
}

/* A new float tensor of rank 1 [n] (rank 2 [rows, n] when rows > 0) holding base
 * (broadcast from its shape: [], [1], [n], [1, n], [rows, 1], [rows, n]; NULL: zeros)
 * plus scale * delta on every row. NULL when base does not broadcast so, or out of
 * memory. */
static mof_tensor *add_per_output(const mof_tensor *base, const double *delta, int64_t n,
                                  double scale)
{
    int64_t rows = 0, br = 1, bc = 1;
    if (base) {
        size_t rank = mof_tensor_rank(base);
        const int64_t *d = mof_tensor_dims(base);
        if (mof_tensor_dtype(base) != MOF_DTYPE_FLOAT || rank > 2)
            return NULL;
        bc = rank ? d[rank - 1] : 1;
        if (rank == 2) {
            rows = d[0];
            br = d[0];
        }
        if (bc != 1 && bc != n)
            return NULL;
    }
    int64_t dims[2] = { rows, n };
    mof_tensor *t = rows ? mof_tensor_create(MOF_DTYPE_FLOAT, 2, dims)
                         : mof_tensor_create(MOF_DTYPE_FLOAT, 1, &n);
    if (!t)
        return NULL;
    float *out = mof_tensor_data_mut(t);
    const float *b = base ? mof_tensor_data(base) : NULL;
    for (int64_t r = 0; r < (rows ? rows : 1); r++)
        for (int64_t j = 0; j < n; j++) {
            double v = b ? b[(br > 1 ? r : 0) * bc + (bc > 1 ? j : 0)] : 0.0;
            out[r * n + j] = (float)(v + scale * delta[j]);
        }
    return t;
}

/* Sets a node's optional input 2 (a bias) to the new constant t. */
static mof_status set_bias(chan_run *c, mof_node *n, mof_value *bv, mof_tensor *t,
                           const char *hint)
{
    if (!t)
        return prune_nomem(&c->r);
    if (bv)
        return prune_set_input_tensor(&c->r, n, 2, t);
    mof_value *nv = mof_graph_add_initializer(c->g, hint, t);
    return nv ? mof_node_set_input(n, 2, nv) : prune_nomem(&c->r);
}

/* Folds a reader's delta into its bias: a Conv's B (sliced to the channels it keeps
 * when it is pruned itself), a Gemm's C (alpha / beta scaled, broadcast to [N] or
 * [M, N]), an Add after a MatMul. Readers that cannot take it get a note. */
static mof_status fold_delta(chan_run *c, reader *rd)
{
    mof_node *n = rd->node;
    prune_kind kind;
    bool any = false;
    for (int64_t i = 0; rd->delta && i < rd->n_out; i++)
        any = any || rd->delta[i] != 0;
    if (!any || !prune_node_kind(n, &kind))
        return MOF_OK;
    mof_value *bv = mof_node_n_inputs(n) > 2 ? mof_node_input(n, 2) : NULL;
    const mof_tensor *b = bv ? prune_constant(bv) : NULL;
    const char *why = NULL;
    char hint[256], node_hint[256];
    snprintf(hint, sizeof hint, "%s_compensation", mof_value_name(mof_node_input(n, 1)));
    snprintf(node_hint, sizeof node_hint, "%s_compensation", mof_node_name(n));
    if (bv && (!b || mof_tensor_dtype(b) != MOF_DTYPE_FLOAT))
        why = "its bias is not a float constant";
    else if (kind == PRUNE_CONV) {
        const bool *keep = conv_keep(c, n);
        int64_t kept = 0;
        for (int64_t i = 0; i < rd->n_out; i++)
            if (!keep || keep[i])
                rd->delta[kept++] = rd->delta[i];
        if (b && (mof_tensor_rank(b) != 1 || mof_tensor_dims(b)[0] != kept))
            why = "its bias does not have one value per output channel";
        else
            return set_bias(c, n, bv, add_per_output(b, rd->delta, kept, 1.0), hint);
    } else if (kind == PRUNE_GEMM) {
        double alpha = mof_node_attr_float(n, "alpha", 1.0f);
        double beta = mof_node_attr_float(n, "beta", 1.0f);
        size_t rank = b ? mof_tensor_rank(b) : 0;
        int64_t last = rank ? mof_tensor_dims(b)[rank - 1] : 1;
        if (beta == 0)
            why = "its beta is 0";
        else if (b && (rank > 2 || (last != 1 && last != rd->n_out)))
            why = "its C does not broadcast along the outputs";
        else
            return set_bias(c, n, bv, add_per_output(b, rd->delta, rd->n_out, alpha / beta),
                            hint);
    } else if (prune_is_op(n, "MatMul")) {
        mof_tensor *t = add_per_output(NULL, rd->delta, rd->n_out, 1.0);
        mof_value *dv = t ? mof_graph_add_initializer(c->g, hint, t) : NULL;
        if (!dv)
            return prune_nomem(&c->r);
        mof_value *out = mof_node_output(n, 0), *ins[2] = { NULL, dv };
        mof_node *add = mof_graph_add_node(c->g, MOF_INSERT_AFTER, n, "Add", NULL,
                                           *mof_node_name(n) ? node_hint : NULL, 2, ins, 1);
        if (!add)
            return MOF_ERR_NOMEM;
        mof_status st = mof_node_add_origins(add, n);
        if (st == MOF_OK)
            st = mof_value_replace_uses(out, mof_node_output(add, 0));
        if (st == MOF_OK)
            st = mof_node_set_input(add, 0, out);
        return st;
    } else
        why = "it has no bias to fold into";
    mof_report_node(c->r.ctx, MOF_SEVERITY_NOTE, MOF_OK, n, "removed channels not compensated: %s",
                    why);
    c->uncompensated++;
    return MOF_OK;
}

/* Reshapes to [N, C*H*W] whose literal C*H*W changed. */
static mof_status fix_reshapes(chan_run *c)
{
    for (size_t i = 0; i < c->n_reshapes; i++) {
        const reshape_fix *f = &c->reshapes[i];
        const layout *l = find_layout(c, f->in);
        const mof_tensor *st = prune_constant(mof_node_input(f->node, 1));
        int64_t kept = l ? kept_channels(c, l) : 0;
        if (!l || !st || kept == total_channels(l))
            continue;
        mof_tensor *t = mof_tensor_dup(st);
        if (t)
            ((int64_t *)mof_tensor_data_mut(t))[1] = kept * f->hw;
        mof_status s = prune_set_input_tensor(&c->r, f->node, 1, t);
        if (s < 0)
            return s;
    }
    return MOF_OK;
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
        free(c->spaces[i].rscore);
        free(c->spaces[i].acts);
        free(c->spaces[i].keep);
    }
    for (size_t i = 0; i < c->n_layouts; i++) {
        free(c->layouts[i].segs);
        free(c->layouts[i].konst);
        free(c->layouts[i].sum);
        free(c->layouts[i].sq);
    }
    for (size_t i = 0; i < c->n_readers; i++) {
        free(c->readers[i].delta);
        free(c->readers[i].gram);
        free(c->readers[i].refit);
    }
    for (size_t i = 0; i < c->n_edits; i++)
        free(c->edits[i].keep);
    free(c->spaces);
    free(c->layouts);
    free(c->table);
    free(c->readers);
    free(c->reshapes);
    free(c->edits);
    free(c->depthwise);
}

static mof_status channels_run(mof_pass_ctx *pc, mof_model *model, void *priv)
{
    chan_run c;
    memset(&c, 0, sizeof c);
    c.p = priv;
    c.g = mof_model_graph(model);
    c.criterion = c.p->criterion == CRIT_L1 && c.p->norm == NORM_L2 ? CRIT_L2 : c.p->criterion;
    int64_t removed = 0, groups_pruned = 0, groups_kept = 0, channels = 0, samples = 0;
    int64_t refitted = 0;
    mof_model *typed = NULL;
    mof_status st = prune_begin(&c.r, pc, model, &c.p->sel, 1u << PRUNE_CONV);
    if (st < 0)
        goto done;
    if (c.p->norm == NORM_L2 && c.p->criterion != CRIT_L1) {
        st = mof_report(c.r.ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL,
                        "parameter 'norm' is the former spelling of criterion=l1|l2: give "
                        "criterion alone");
        goto done;
    }
    if (c.p->reconstruct && !*c.p->calibration) {
        st = mof_report(c.r.ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL,
                        "reconstruct=true needs calibration data (calibration=FOLDER)");
        goto done;
    }
    if (c.criterion == CRIT_ACTIVATION && !*c.p->calibration) {
        st = mof_report(c.r.ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL,
                        "criterion=activation needs calibration data (calibration=FOLDER)");
        goto done;
    }
    /* Shapes, for Concat operands and Flatten's spatial size, from a copy; a quiet
     * context for the evaluations of data-free values, which may fail. */
    if (!(c.quiet = mof_context_create()) || !(typed = mof_model_dup(model)))
        goto nomem;
    if (mof_infer_shapes(c.quiet, typed) >= 0)
        c.typed = mof_model_graph(typed);
    for (mof_node *n = mof_graph_first_node(c.g); n && !c.nomem; n = mof_node_next(n))
        visit(&c, n);
    if (c.nomem)
        goto nomem;
    if (c.p->reconstruct)
        gram_prepare(&c);
    if (c.nomem)
        goto nomem;
    if (*c.p->calibration && c.n_spaces) {
        st = prune_calibrate(&c.r, c.p->calibration, observe, &c, &samples);
        if (st == MOF_ERR_NOMEM)
            goto nomem;
        if (st < 0)
            goto done;
        c.calibrated = true;
        mof_pass_stat(pc, "calibration-samples", samples);
    }
    reader_scores(&c);
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
    if (removed && c.p->compensate)
        reader_deltas(&c);
    for (size_t i = 0; removed && c.p->reconstruct && i < c.n_readers && !c.nomem; i++)
        refitted += refit_solve(&c, &c.readers[i]);
    if (c.nomem)
        goto nomem;
    if (removed && ((st = apply_edits(&c)) < 0 || (st = fix_reshapes(&c)) < 0))
        goto done;
    for (size_t i = 0; removed && i < c.n_readers; i++) {
        reader *rd = &c.readers[i];
        if ((rd->refit && (st = refit_write(&c, rd)) < 0) ||
            ((c.p->compensate || rd->refit) && (st = fold_delta(&c, rd)) < 0))
            goto done;
    }
    if (removed && (st = update_types(&c)) < 0)
        goto done;
    mof_pass_stat(pc, "convs", (int64_t)c.n_spaces);
    mof_pass_stat(pc, "groups-pruned", groups_pruned);
    mof_pass_stat(pc, "groups-kept", groups_kept);
    mof_pass_stat(pc, "channels-removed", removed);
    if (c.p->reconstruct)
        mof_pass_stat(pc, "readers-refitted", refitted);
    if (c.p->compensate) {
        mof_pass_stat(pc, "reads-compensated", c.compensated);
        mof_pass_stat(pc, "reads-not-compensated", c.uncompensated);
    }
    st = removed ? MOF_OK : MOF_UNCHANGED;
    goto done;
nomem:
    st = prune_nomem(&c.r);
done:;
    char summary[320], comp[96];
    if (c.p->reconstruct)
        snprintf(comp, sizeof comp, "%lld readers refitted over %lld calibration samples",
                 (long long)refitted, (long long)samples);
    else if (!c.p->compensate)
        snprintf(comp, sizeof comp, "no compensation");
    else if (c.calibrated)
        snprintf(comp, sizeof comp, "compensated with means over %lld calibration samples",
                 (long long)samples);
    else
        snprintf(comp, sizeof comp, "compensated with data-free values");
    snprintf(summary, sizeof summary,
             "removed %lld of %lld output channels of %zu Convs (ratio %.2f, criterion %s, "
             "%s; %lld channel groups pruned, %lld kept whole)",
             (long long)removed, (long long)channels, c.n_spaces, c.p->ratio,
             criterion_choices[c.criterion], comp, (long long)groups_pruned,
             (long long)groups_kept);
    mof_model_destroy(typed);
    mof_context_destroy(c.quiet);
    chan_free(&c);
    return prune_end(&c.r, st, summary);
}

const mof_pass_desc prune_channels_pass = {
    .size = sizeof(mof_pass_desc),
    .name = "prune-channels",
    .summary = "remove the Conv output channels that matter least, shrinking their readers "
               "and folding the removed channels' means into their biases (structured)",
    .help = "Removes floor(ratio * K) of each selected Conv's K output channels (the\n"
            "kept count rounded up to a multiple of round-to), ranked by `criterion`\n"
            "(filter l1/l2 norm, l2-reader: filter norm times the readers' weights on\n"
            "the channel, activation: variance on calibration data times the readers'\n"
            "weights), and rewrites every reader: BatchNormalization,\n"
            "InstanceNormalization, elementwise activations, pools, per-channel\n"
            "constants of Add/Mul/..., depthwise Convs (filters and group), the next\n"
            "Conv's input channels, Concat offsets, and Flatten (or a Reshape to\n"
            "[N, C*H*W]) -> Gemm/MatMul rows. Convs joined by Add/Mul (residuals) drop\n"
            "the same channels, ranked together. A channel set that reaches a graph\n"
            "output or a node not listed (Transpose, grouped Conv...) is kept, with a\n"
            "note. With compensate (the default) each removed channel's mean (over the\n"
            "calibration data, else its value when its Conv's input is zero) times the\n"
            "reader's weights goes into the reader's bias: the result equals the model\n"
            "with the removed channels replaced by those constants where they are read\n"
            "(a Conv reader's padding included). reconstruct=true (with calibration)\n"
            "instead refits each reader's kept weights and bias by least squares to\n"
            "its outputs in the input model. Main graph only.",
    .params = channels_params,
    .priv_size = sizeof(struct channels_pass),
    .flags = MOF_PASS_CHANGES_NUMERICS,
    .tolerance = 0,
    .run = channels_run,
};
