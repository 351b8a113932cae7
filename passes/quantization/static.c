/* quantize-static: post-training static quantization with calibration data.
 *
 * The pass picks the nodes to quantize (op-types, exclude-op-types, nodes,
 * exclude-nodes), runs the float model with the reference interpreter over the
 * calibration samples while an observer collects, for every activation tensor those
 * nodes read or write, its min/max and a histogram (calib.h: statistics that merge
 * exactly, so that stats-out files of several runs merged with stats-in give one run's
 * result bit for bit). The range of each tensor comes from its statistics by method
 * (minmax, percentile, entropy) and gives a scale and zero point (qmath.h).
 *
 * QDQ format: each quantized activation tensor x gets QuantizeLinear ->
 * DequantizeLinear, and every node that read x reads the dequantized copy (a graph
 * output stays float). Weights of Conv, Gemm and MatMul are stored quantized (int8 or
 * uint8, per output channel or per tensor) behind a DequantizeLinear; their bias is
 * stored as int32 with scale x_scale * w_scale, as ONNX Runtime does. A Relu that is
 * the only reader of a quantized node's output is quantized in place of that output
 * and, when its zero point is the bottom of the type (asymmetric activations), removed:
 * QuantizeLinear then clips at 0 exactly as Relu did. MaxPool, AveragePool and the
 * data-movement ops (Flatten, Reshape, Transpose, Squeeze, Unsqueeze) are quantized
 * only when their input is, and their output reuses the input's scale and zero-point
 * initializers, as ONNX Runtime's QDQ quantizer does: ORT then runs them on 8-bit data
 * (and GlobalAveragePool, with a scale of its own, as QLinearGlobalAveragePool).
 * QOperator format: the Conv and MatMul nodes whose inputs and output are all
 * quantized become QLinearConv and QLinearMatMul (QLinearMatMul only with a per-tensor
 * weight scale); everything else stays in QDQ form. The ONNX standard has no other
 * QLinear op: ORT's QGemm, QLinearAdd and QLinearGlobalAveragePool are com.microsoft
 * ops that mof's interpreter (and so its verification) does not run, and ORT fuses the
 * QDQ form of Gemm, Add and pooling into exactly those kernels itself.
 *
 * Sensitivity: on the first report-samples calibration samples, the pass compares each
 * quantized tensor with the float model's: "alone" quantizes only that tensor (the
 * noise its own rounding and clipping adds), "in model" reads it in the fully quantized
 * (QDQ) model (the noise accumulated up to it). With keep-float=N or layer-report, each
 * quantized node is also quantized alone and the model's output compared with the float
 * output: the N nodes with the lowest output SQNR stay float. All of it is printed as
 * notes, sorted worst first, and attached to the run report as JSON ("quantize-static").
 *
 * Conv + BatchNormalization should be folded first (fusion's fuse-conv-bn), as
 * examples/pipelines/quantize-static.xml does: a plugin cannot run another's passes. */
#define _POSIX_C_SOURCE 200809L /* strdup, strndup, isatty, clock_gettime */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "calib.h"
#include "qutil.h"
#include "qmath.h"
#include "quant.h"

typedef struct qs_pass {
    const char *calibration;
    int method;
    double percentile;
    bool per_channel;
    bool sym_w, sym_a;
    int act_type, w_type, format;
    const char *op_types, *exclude_op_types, *nodes, *exclude_nodes;
    int64_t keep_float;
    const char *stats_out, *stats_in;
    int64_t report_samples;
    bool layer_report;
} qs_pass;

/* The ops whose QDQ form ONNX Runtime runs as 8-bit kernels (QLinearConv, QGemm,
 * QLinearAdd, QLinearGlobalAveragePool, MaxPool and data movement on uint8/int8): the
 * coverage of ORT's quantize_static with its default op types on CNNs. Concat stays
 * out (its inputs would each be requantized to one scale). */
#define QS_DEFAULT_OPS "Conv,Gemm,MatMul,Add,Mul,GlobalAveragePool,AveragePool,MaxPool," \
    "Flatten,Reshape,Transpose,Squeeze,Unsqueeze"

static const char *const methods[] = { "minmax", "percentile", "entropy", NULL };
static const char *const qtypes_a[] = { "uint8", "int8", NULL };
static const char *const qtypes_w[] = { "int8", "uint8", NULL };
static const char *const formats[] = { "qdq", "qoperator", NULL };

static const mof_param_desc qs_params[] = {
    { .name = "calibration", .type = MOF_PARAM_STRING, .offset = offsetof(qs_pass, calibration),
      .def = "", .help = "calibration data: a folder (test_data_set_<k>/ sub-folders, or one "
      "NAME.npy/.pb per input with samples stacked on the first dim) or random:N (warns)" },
    { .name = "method", .type = MOF_PARAM_CHOICE, .offset = offsetof(qs_pass, method),
      .def = "minmax", .choices = methods,
      .help = "activation ranges from min/max, a percentile, or entropy (KL divergence)" },
    { .name = "percentile", .type = MOF_PARAM_FLOAT, .offset = offsetof(qs_pass, percentile),
      .def = "99.99", .min = 50, .max = 100, .flags = MOF_PARAM_RANGE,
      .help = "with method=percentile: keep this central percentage of the values" },
    { .name = "per-channel", .type = MOF_PARAM_BOOL, .offset = offsetof(qs_pass, per_channel),
      .def = "true", .help = "one weight scale per output channel (else per tensor)" },
    { .name = "symmetric-weights", .type = MOF_PARAM_BOOL, .offset = offsetof(qs_pass, sym_w),
      .def = "true", .help = "weights symmetric around 0 (zero point 0, or 128 for uint8)" },
    { .name = "symmetric-activations", .type = MOF_PARAM_BOOL,
      .offset = offsetof(qs_pass, sym_a), .def = "false",
      .help = "activations symmetric around 0 (else their range sets the zero point)" },
    { .name = "activation-type", .type = MOF_PARAM_CHOICE, .offset = offsetof(qs_pass, act_type),
      .def = "uint8", .choices = qtypes_a, .help = "type of quantized activations" },
    { .name = "weight-type", .type = MOF_PARAM_CHOICE, .offset = offsetof(qs_pass, w_type),
      .def = "int8", .choices = qtypes_w, .help = "type of quantized weights" },
    { .name = "format", .type = MOF_PARAM_CHOICE, .offset = offsetof(qs_pass, format),
      .def = "qdq", .choices = formats,
      .help = "qdq: QuantizeLinear/DequantizeLinear pairs; qoperator: QLinearConv, "
      "QLinearMatMul where possible" },
    { .name = "op-types", .type = MOF_PARAM_STRING, .offset = offsetof(qs_pass, op_types),
      .def = QS_DEFAULT_OPS, .help = "comma list of op types to quantize, among "
      "Conv, Gemm, MatMul, Add, Mul, Concat, GlobalAveragePool, and (sharing their input's "
      "scale, when it is quantized) MaxPool, AveragePool, Flatten, Reshape, Transpose, "
      "Squeeze, Unsqueeze" },
    { .name = "exclude-op-types", .type = MOF_PARAM_STRING,
      .offset = offsetof(qs_pass, exclude_op_types), .def = "",
      .help = "comma list of op types to leave float" },
    { .name = "nodes", .type = MOF_PARAM_STRING, .offset = offsetof(qs_pass, nodes), .def = "",
      .help = "comma list of node names: quantize only these (empty: every node of op-types)" },
    { .name = "exclude-nodes", .type = MOF_PARAM_STRING,
      .offset = offsetof(qs_pass, exclude_nodes), .def = "",
      .help = "comma list of node names to leave float" },
    { .name = "keep-float", .type = MOF_PARAM_INT, .offset = offsetof(qs_pass, keep_float),
      .def = "0", .min = 0, .max = 1e6, .flags = MOF_PARAM_RANGE,
      .help = "leave float the N nodes whose quantization alone costs the most output SQNR" },
    { .name = "stats-out", .type = MOF_PARAM_STRING, .offset = offsetof(qs_pass, stats_out),
      .def = "", .help = "write the calibration statistics to this file (mergeable)" },
    { .name = "stats-in", .type = MOF_PARAM_STRING, .offset = offsetof(qs_pass, stats_in),
      .def = "", .help = "comma list of statistics files to merge instead of calibrating" },
    { .name = "report-samples", .type = MOF_PARAM_INT,
      .offset = offsetof(qs_pass, report_samples), .def = "8", .min = 0, .max = 1e6,
      .flags = MOF_PARAM_RANGE, .help = "calibration samples for the SQNR report and "
      "keep-float (0: no report)" },
    { .name = "layer-report", .type = MOF_PARAM_BOOL, .offset = offsetof(qs_pass, layer_report),
      .def = "false", .help = "also report each node's cost: the output SQNR with only that "
      "node quantized (always computed for keep-float)" },
    { 0 }
};

/* ------------------------------------------------------------------ the plan */

/* K_SAME: ops whose output is on the grid of their input (MaxPool, data movement) or
 * that ONNX Runtime quantizes with their input's parameters (AveragePool): the output
 * shares the input's scale and zero point, as ORT's QDQDirect8BitOp does, and such a
 * node is quantized only when its input is (by another node). ORT then runs
 * DequantizeLinear -> op -> QuantizeLinear as the op on 8-bit data. */
typedef enum qs_kind { K_CONV, K_GEMM, K_MATMUL, K_ELEM, K_POOL, K_SAME } qs_kind;

static const struct {
    const char *op;
    qs_kind kind;
} qs_ops[] = {
    { "Conv", K_CONV }, { "Gemm", K_GEMM }, { "MatMul", K_MATMUL }, { "Add", K_ELEM },
    { "Mul", K_ELEM }, { "Concat", K_ELEM }, { "GlobalAveragePool", K_POOL },
    { "MaxPool", K_SAME }, { "AveragePool", K_SAME }, { "Flatten", K_SAME },
    { "Reshape", K_SAME }, { "Transpose", K_SAME }, { "Squeeze", K_SAME },
    { "Unsqueeze", K_SAME },
};
#define N_QS_OPS (sizeof(qs_ops) / sizeof(qs_ops[0]))

/* An activation tensor to quantize. */
typedef struct qs_value {
    char *name;
    const mof_node *producer;  /* in the input model; NULL for a graph input */
    size_t first_target;       /* the first target that reads or writes it */
    bool used;                 /* read or written by an active target */
    bool not_float;            /* calibration saw another element type */
    long same_as;              /* takes the parameters of this value (K_SAME), -1: own */
    float lo, hi, scale;
    int32_t zp;
    /* report */
    double sig, noise_alone, noise_model;
    int64_t n_model;
    char *dq_name;             /* the dequantized copy in the quantized model */
} qs_value;

/* A node to quantize. */
typedef struct qs_target {
    size_t node;               /* index in the main graph's node list */
    const mof_node *n;         /* in the input model */
    qs_kind kind;
    size_t *ins;               /* values read, as indices into the value list */
    size_t n_ins;
    long out;                  /* value written (after a fused Relu), -1: none */
    long relu;                 /* node index of the Relu that follows, -1: none */
    int w_slot, w_axis, b_slot;/* weight and bias inputs, -1: none */
    bool active;
    bool kept_float;
    double out_sqnr;           /* output SQNR with only this node quantized */
    bool have_sqnr;
} qs_target;

typedef struct qs_run {
    mof_pass_ctx *pc;
    mof_context *ctx;
    const qs_pass *p;
    mof_model *model;          /* the float model (a copy of the pass's) */
    const mof_node **nodes;    /* the input model's main graph, in order */
    size_t n_nodes;
    qs_value *values;
    size_t n_values;
    qs_target *targets;
    size_t n_targets;
    qc_stats stats;
    mof_dtype at, wt;
    bool per_channel;
    int64_t opset;             /* of the standard domain */
    qc_source *src;
    size_t report_n;           /* samples of the report */
    double out_sig, out_noise; /* the quantized model's outputs, on those samples */
} qs_run;

/* Splits a comma list into trimmed, non-empty items (owned strings). */
static char **split_list(const char *s, size_t *n)
{
    *n = 0;
    size_t cap = 1;
    for (const char *c = s; *c; c++)
        cap += *c == ',';
    char **items = calloc(cap, sizeof(*items));
    if (!items)
        return NULL;
    const char *p = s;
    while (*p) {
        const char *e = strchr(p, ',');
        if (!e)
            e = p + strlen(p);
        const char *a = p, *b = e;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (b > a) {
            items[*n] = strndup(a, (size_t)(b - a));
            if (!items[*n]) {
                for (size_t i = 0; i < *n; i++)
                    free(items[i]);
                free(items);
                return NULL;
            }
            (*n)++;
        }
        p = *e ? e + 1 : e;
    }
    return items;
}

static void free_list(char **l, size_t n)
{
    if (!l)
        return;
    for (size_t i = 0; i < n; i++)
        free(l[i]);
    free(l);
}

static bool in_list(char **l, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(l[i], s) == 0)
            return true;
    return false;
}

static mof_status nomem(qs_run *r)
{
    return mof_report(r->ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
}

static long value_index(qs_run *r, const char *name)
{
    for (size_t i = 0; i < r->n_values; i++)
        if (strcmp(r->values[i].name, name) == 0)
            return (long)i;
    return -1;
}

/* The value's index, added when new. -1 when out of memory. */
static long add_value(qs_run *r, const mof_value *v, size_t target)
{
    long i = value_index(r, mof_value_name(v));
    if (i >= 0)
        return i;
    qs_value *nv = realloc(r->values, (r->n_values + 1) * sizeof(*nv));
    if (!nv)
        return -1;
    r->values = nv;
    qs_value *q = &r->values[r->n_values];
    memset(q, 0, sizeof(*q));
    q->name = strdup(mof_value_name(v));
    if (!q->name)
        return -1;
    q->producer = mof_value_producer(v, NULL);
    q->first_target = target;
    q->same_as = -1;
    return (long)r->n_values++;
}

static bool is_float_constant(const mof_value *v)
{
    return v && mof_value_is_constant(v) && mof_tensor_dtype(mof_value_tensor(v)) == MOF_DTYPE_FLOAT;
}

/* Whether a value may be an activation to quantize: not a constant, and float when
 * its type is known. */
static bool is_activation(const mof_value *v)
{
    if (!v || mof_value_is_initializer(v))
        return false;
    return !mof_value_has_type(v) || mof_value_dtype(v) == MOF_DTYPE_FLOAT;
}

static size_t node_index(const qs_run *r, const mof_node *n)
{
    for (size_t i = 0; i < r->n_nodes; i++)
        if (r->nodes[i] == n)
            return i;
    return SIZE_MAX;
}

/* Decides the weight and bias slots of a Conv/Gemm/MatMul; false when the node cannot
 * be quantized (why says it). */
static bool weight_slots(const qs_run *r, const mof_node *n, qs_target *t, const char **why)
{
    t->w_slot = t->b_slot = t->w_axis = -1;
    const mof_value *w = mof_node_n_inputs(n) > 1 ? mof_node_input(n, 1) : NULL;
    const mof_value *b = mof_node_n_inputs(n) > 2 ? mof_node_input(n, 2) : NULL;
    switch (t->kind) {
    case K_CONV:
        if (!is_float_constant(w)) {
            *why = "its weight is not a float constant";
            return false;
        }
        t->w_slot = 1;
        t->w_axis = r->per_channel ? 0 : -1;
        if (b && is_float_constant(b) && mof_tensor_rank(mof_value_tensor(b)) == 1)
            t->b_slot = 2;
        return true;
    case K_GEMM: {
        if (!is_float_constant(w) || mof_tensor_rank(mof_value_tensor(w)) != 2) {
            *why = "its B is not a 2-D float constant";
            return false;
        }
        t->w_slot = 1;
        bool tb = mof_node_attr_int(n, "transB", 0) != 0;
        t->w_axis = r->per_channel ? (tb ? 0 : 1) : -1;
        int64_t nout = mof_tensor_dims(mof_value_tensor(w))[tb ? 0 : 1];
        if (b && is_float_constant(b) && mof_node_attr_float(n, "alpha", 1.0f) == 1.0f &&
            mof_node_attr_float(n, "beta", 1.0f) == 1.0f &&
            mof_tensor_rank(mof_value_tensor(b)) == 1 &&
            mof_tensor_dims(mof_value_tensor(b))[0] == nout)
            t->b_slot = 2;
        return true;
    }
    case K_MATMUL:
        if (is_float_constant(w)) {
            t->w_slot = 1;
            t->w_axis = r->per_channel && mof_tensor_rank(mof_value_tensor(w)) == 2 ? 1 : -1;
        }
        return true;
    default:
        return true;
    }
}

/* The bounds of a Relu, or of a Clip whose bounds are constants (inputs from opset 11,
 * attributes before); false for anything else. */
static bool act_bounds(const mof_node *n, int64_t opset, double *lo, double *hi)
{
    *lo = -INFINITY;
    *hi = INFINITY;
    if (qu_is_op(n, "Relu")) {
        *lo = 0;
        return true;
    }
    if (!qu_is_op(n, "Clip"))
        return false;
    if (opset < 11) {
        *lo = mof_node_attr_float(n, "min", -INFINITY);
        *hi = mof_node_attr_float(n, "max", INFINITY);
        return true;
    }
    for (size_t k = 1; k < 3 && k < mof_node_n_inputs(n); k++) {
        const mof_value *b = mof_node_input(n, k);
        if (!b)
            continue;
        const mof_tensor *t = qu_const_tensor(b);
        if (!t || mof_tensor_dtype(t) != MOF_DTYPE_FLOAT || mof_tensor_numel(t) != 1)
            return false;
        double v = *(const float *)mof_tensor_data(t);
        if (k == 1)
            *lo = v;
        else
            *hi = v;
    }
    return true;
}

/* Builds the targets and the values they read and write. */
static mof_status plan(qs_run *r)
{
    const qs_pass *p = r->p;
    mof_status st = MOF_OK;
    size_t n_types = 0, n_xtypes = 0, n_names = 0, n_xnames = 0;
    char **types = split_list(p->op_types, &n_types);
    char **xtypes = split_list(p->exclude_op_types, &n_xtypes);
    char **names = split_list(p->nodes, &n_names);
    char **xnames = split_list(p->exclude_nodes, &n_xnames);
    if (!types || !xtypes || !names || !xnames) {
        st = nomem(r);
        goto done;
    }
    for (size_t l = 0; l < 2; l++) {
        char **list = l ? xtypes : types;
        size_t n = l ? n_xtypes : n_types;
        for (size_t i = 0; i < n; i++) {
            bool known = false;
            for (size_t k = 0; k < N_QS_OPS; k++)
                known |= strcmp(qs_ops[k].op, list[i]) == 0;
            if (!known)
                st = mof_report(r->ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL,
                                "%s: '%s' is not an op type quantize-static quantizes (Conv, "
                                "Gemm, MatMul, Add, Mul, Concat, GlobalAveragePool, MaxPool, "
                                "AveragePool, Flatten, Reshape, Transpose, Squeeze, "
                                "Unsqueeze)", l ? "exclude-op-types" : "op-types",
                                list[i]);
        }
    }
    if (st != MOF_OK)
        goto done;
    for (size_t l = 0; l < 2; l++) {
        char **list = l ? xnames : names;
        size_t n = l ? n_xnames : n_names;
        for (size_t i = 0; i < n; i++) {
            bool found = false;
            for (size_t k = 0; k < r->n_nodes && !found; k++)
                found = strcmp(mof_node_name(r->nodes[k]), list[i]) == 0;
            if (!found)
                mof_report(r->ctx, MOF_SEVERITY_WARNING, MOF_OK, NULL,
                           "%s: the model has no node named '%s'",
                           l ? "exclude-nodes" : "nodes", list[i]);
        }
    }
    r->targets = calloc(r->n_nodes ? r->n_nodes : 1, sizeof(*r->targets));
    if (!r->targets) {
        st = nomem(r);
        goto done;
    }
    for (size_t i = 0; i < r->n_nodes; i++) {
        const mof_node *n = r->nodes[i];
        const char *op = mof_node_op_type(n);
        if (*mof_node_domain(n) || !in_list(types, n_types, op) ||
            in_list(xtypes, n_xtypes, op) || (n_names && !in_list(names, n_names, mof_node_name(n))) ||
            in_list(xnames, n_xnames, mof_node_name(n)))
            continue;
        qs_target *t = &r->targets[r->n_targets];
        memset(t, 0, sizeof(*t));
        t->node = i;
        t->n = n;
        t->out = t->relu = -1;
        for (size_t k = 0; k < N_QS_OPS; k++)
            if (strcmp(qs_ops[k].op, op) == 0)
                t->kind = qs_ops[k].kind;
        const char *why = NULL;
        if (!weight_slots(r, n, t, &why)) {
            mof_report_node(r->ctx, MOF_SEVERITY_NOTE, MOF_OK, n, "left float: %s", why);
            continue;
        }
        if (t->kind == K_SAME && mof_node_n_outputs(n) > 1 && mof_node_output(n, 1) &&
            (mof_value_n_uses(mof_node_output(n, 1)) || mof_value_is_graph_output(mof_node_output(n, 1)))) {
            mof_report_node(r->ctx, MOF_SEVERITY_NOTE, MOF_OK, n, "left float: its indices "
                            "output is used");
            continue;
        }
        t->ins = calloc(mof_node_n_inputs(n) + 1, sizeof(*t->ins));
        if (!t->ins) {
            st = nomem(r);
            goto done;
        }
        size_t n_act = t->kind == K_POOL || t->kind == K_SAME || t->kind == K_CONV ? 1 :
                       t->kind == K_GEMM ? 1 : mof_node_n_inputs(n);
        for (size_t k = 0; k < n_act && k < mof_node_n_inputs(n); k++) {
            const mof_value *v = mof_node_input(n, k);
            if ((int)k == t->w_slot || !is_activation(v))
                continue;
            long vi = add_value(r, v, r->n_targets);
            if (vi < 0) {
                st = nomem(r);
                goto done;
            }
            t->ins[t->n_ins++] = (size_t)vi;
        }
        if ((t->kind == K_CONV || t->kind == K_GEMM || t->kind == K_MATMUL ||
             t->kind == K_SAME) && t->n_ins == 0) {
            mof_report_node(r->ctx, MOF_SEVERITY_NOTE, MOF_OK, n, "left float: its input is "
                            "not a float activation");
            free(t->ins);
            continue;
        }
        /* The output, through a Relu or Clip that is its only reader (quantizing its
         * output instead, as ONNX Runtime does). */
        const mof_value *o = mof_node_output(n, 0);
        if (o && t->kind != K_SAME && mof_value_n_uses(o) == 1 && !mof_value_is_graph_output(o)) {
            const mof_node *u = mof_value_use(o, 0, NULL);
            double alo, ahi;
            if (act_bounds(u, r->opset, &alo, &ahi)) {
                t->relu = (long)node_index(r, u);
                o = mof_node_output(u, 0);
            }
        }
        if (o && !mof_value_is_graph_output(o) && is_activation(o)) {
            long vi = add_value(r, o, r->n_targets);
            if (vi < 0) {
                st = nomem(r);
                goto done;
            }
            t->out = vi;
        } else {
            t->relu = -1;
        }
        t->active = true;
        r->n_targets++;
    }
    /* K_SAME nodes are quantized only when their input is, and their output takes the
     * input's parameters; in node order, so that chains (Reshape -> Transpose) follow. */
    bool *quant = calloc(r->n_values + 1, sizeof(*quant));
    if (!quant) {
        st = nomem(r);
        goto done;
    }
    for (size_t t = 0; t < r->n_targets; t++) {
        const qs_target *tg = &r->targets[t];
        if (tg->kind == K_SAME)
            continue;
        for (size_t k = 0; k < tg->n_ins; k++)
            quant[tg->ins[k]] = true;
        if (tg->out >= 0)
            quant[tg->out] = true;
    }
    for (size_t t = 0; t < r->n_targets; t++) {
        qs_target *tg = &r->targets[t];
        if (tg->kind != K_SAME)
            continue;
        if (!quant[tg->ins[0]] || tg->out < 0) {
            tg->active = false;
            mof_report_node(r->ctx, MOF_SEVERITY_NOTE, MOF_OK, tg->n, "left float: %s",
                            tg->out < 0 ? "its output is not a float activation inside the "
                            "graph" : "its input is not quantized (no quantized node reads "
                            "or writes it)");
            continue;
        }
        quant[tg->out] = true;
        r->values[tg->out].same_as = (long)tg->ins[0];
    }
    free(quant);
done:
    free_list(types, n_types);
    free_list(xtypes, n_xtypes);
    free_list(names, n_names);
    free_list(xnames, n_xnames);
    return st;
}

/* Marks the values that active targets read or write. */
static void mark_used(qs_run *r)
{
    for (size_t i = 0; i < r->n_values; i++)
        r->values[i].used = false;
    for (size_t t = 0; t < r->n_targets; t++) {
        qs_target *tg = &r->targets[t];
        if (!tg->active)
            continue;
        for (size_t k = 0; k < tg->n_ins; k++)
            r->values[tg->ins[k]].used = true;
        if (tg->out >= 0)
            r->values[tg->out].used = true;
    }
}

/* ------------------------------------------------------------------ calibration */

typedef struct calib_obs {
    qs_run *r;
    qc_stats *stats;
} calib_obs;

static mof_status add_tensor(qs_run *r, qc_stats *stats, size_t vi, const mof_tensor *t)
{
    qc_stat *st = qc_stats_get(stats, r->values[vi].name);
    if (!st)
        return MOF_ERR_NOMEM;
    if (!st->dtype)
        st->dtype = (int)mof_tensor_dtype(t);
    if (mof_tensor_dtype(t) != MOF_DTYPE_FLOAT) {
        st->dtype = (int)mof_tensor_dtype(t);
        return MOF_OK;
    }
    return qc_stat_add(st, mof_tensor_data(t), (size_t)mof_tensor_numel(t));
}

static mof_status calib_observe(void *user, const mof_node *node, size_t n_out,
                                mof_tensor *const *outs)
{
    calib_obs *o = user;
    qs_run *r = o->r;
    for (size_t i = 0; i < r->n_values; i++) {
        if (r->values[i].producer != node)
            continue;
        for (size_t k = 0; k < n_out; k++) {
            const mof_value *v = mof_node_output(node, k);
            if (outs[k] && v && strcmp(mof_value_name(v), r->values[i].name) == 0) {
                mof_status st = add_tensor(r, o->stats, i, outs[k]);
                if (st != MOF_OK)
                    return st;
            }
        }
    }
    return MOF_OK;
}

static void progress(size_t done, size_t total, bool tty)
{
    if (!tty)
        return;
    int width = 30, fill = total ? (int)(done * (size_t)width / total) : width;
    fprintf(stderr, "\rquantize-static: calibrating [%.*s%*s] %zu/%zu", fill,
            "##############################", width - fill, "", done, total);
    if (done == total)
        fputs("\r\033[K", stderr);
    fflush(stderr);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static mof_status calibrate(qs_run *r)
{
    mof_status st = MOF_OK;
    const mof_graph *g = mof_model_graph(r->model);
    size_t n_in = mof_graph_n_inputs(g), n_out = mof_graph_n_outputs(g);
    mof_tensor **ins = calloc(n_in + 1, sizeof(*ins)), **outs = calloc(n_out + 1, sizeof(*outs));
    mof_interp *it = NULL;
    if (!ins || !outs) {
        st = nomem(r);
        goto done;
    }
    it = mof_interp_create(r->ctx, r->model);
    if (!it) {
        st = MOF_ERR_UNSUPPORTED;
        goto done;
    }
    calib_obs obs = { r, &r->stats };
    mof_interp_set_observer(it, calib_observe, &obs);
    size_t n = qc_source_n(r->src);
    bool tty = isatty(STDERR_FILENO) && getenv("TERM") && strcmp(getenv("TERM"), "dumb") != 0;
    double t0 = now_s();
    for (size_t k = 0; k < n; k++) {
        progress(k, n, tty);
        st = qc_source_get(r->src, k, n_in, ins);
        if (st != MOF_OK)
            goto done;
        for (size_t i = 0; i < n_in; i++) {
            const mof_value *v = mof_graph_input(g, i);
            long vi = value_index(r, mof_value_name(v));
            if (vi >= 0 && ins[i] && (st = add_tensor(r, &r->stats, (size_t)vi, ins[i])) != MOF_OK)
                goto done;
        }
        st = mof_interp_run(it, n_in, ins, n_out, outs);
        mof_tensors_release(n_in, ins);
        mof_tensors_release(n_out, outs);
        if (st != MOF_OK) {
            mof_report(r->ctx, MOF_SEVERITY_ERROR, st, NULL, "calibration sample %zu failed", k);
            goto done;
        }
        r->stats.samples++;
    }
    progress(n, n, tty);
    mof_report(r->ctx, MOF_SEVERITY_NOTE, MOF_OK, NULL,
               "calibrated %zu tensors on %zu samples in %.2f s", r->stats.n, n, now_s() - t0);
done:
    if (st == MOF_ERR_NOMEM)
        nomem(r);
    mof_interp_destroy(it);
    if (ins)
        mof_tensors_release(n_in, ins);
    if (outs)
        mof_tensors_release(n_out, outs);
    free(ins);
    free(outs);
    return st;
}

/* Statistics from stats-in files, merged. */
static mof_status read_stats(qs_run *r)
{
    size_t n = 0;
    char **files = split_list(r->p->stats_in, &n);
    if (!files)
        return nomem(r);
    mof_status st = MOF_OK;
    for (size_t i = 0; i < n && st == MOF_OK; i++)
        st = qc_stats_read(r->ctx, &r->stats, files[i]);
    free_list(files, n);
    if (st == MOF_OK)
        mof_report(r->ctx, MOF_SEVERITY_NOTE, MOF_OK, NULL, "merged calibration statistics "
                   "of %" PRId64 " samples from %zu file%s", r->stats.samples, n,
                   n == 1 ? "" : "s");
    return st;
}

/* Ranges, scales and zero points; drops the targets of tensors that are not float. */
static mof_status compute_params(qs_run *r)
{
    int32_t qlo, qhi;
    qm_range(r->at, &qlo, &qhi);
    for (size_t i = 0; i < r->n_values; i++) {
        qs_value *v = &r->values[i];
        qc_stat *st = qc_stats_find(&r->stats, v->name);
        if (!st)
            return mof_report(r->ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL,
                              "the calibration statistics have no tensor '%s' (were they "
                              "collected with the same model and op-types?)", v->name);
        if (st->dtype && st->dtype != MOF_DTYPE_FLOAT) {
            v->not_float = true;
            continue;
        }
        int levels = st->min >= 0 && !r->p->sym_a ? 256 : 128;
        qc_range(st, (qc_method)r->p->method, r->p->percentile, levels, &v->lo, &v->hi);
        qm_params(v->lo, v->hi, r->at, r->p->sym_a, false, &v->scale, &v->zp);
    }
    /* Shared parameters, through chains of K_SAME nodes. */
    for (size_t i = 0; i < r->n_values; i++) {
        qs_value *v = &r->values[i];
        if (v->same_as < 0)
            continue;
        const qs_value *src = &r->values[v->same_as];
        for (size_t hop = 0; src->same_as >= 0 && hop < r->n_values; hop++)
            src = &r->values[src->same_as];
        v->not_float = v->not_float || src->not_float;
        v->lo = src->lo;
        v->hi = src->hi;
        v->scale = src->scale;
        v->zp = src->zp;
    }
    for (size_t t = 0; t < r->n_targets; t++) {
        qs_target *tg = &r->targets[t];
        bool ok = !(tg->out >= 0 && r->values[tg->out].not_float);
        for (size_t k = 0; k < tg->n_ins; k++)
            ok = ok && !r->values[tg->ins[k]].not_float;
        if (!ok && tg->active) {
            tg->active = false;
            mof_report_node(r->ctx, MOF_SEVERITY_NOTE, MOF_OK, tg->n,
                            "left float: it reads or writes a tensor that is not float");
        }
    }
    mark_used(r);
    return MOF_OK;
}

/* ------------------------------------------------------------------ rewriting */

/* Adds a node with one output: the node named hint + "_" + op, its output hint +
 * suffix (both made unique). */
static mof_node *add_node1(qs_run *r, mof_graph *g, mof_insert where, mof_node *anchor,
                           const char *op, const char *hint, const char *suffix,
                           size_t n_in, mof_value *const *ins)
{
    char op_suffix[64];
    snprintf(op_suffix, sizeof op_suffix, "_%s", op);
    mof_node *n = qu_add_node(g, where, anchor, op, hint, op_suffix, n_in, ins, 1);
    if (!n || qu_name_value(g, mof_node_output(n, 0), hint, suffix) != MOF_OK) {
        nomem(r);
        return NULL;
    }
    return n;
}

static mof_tensor *scalar_f(float v)
{
    return mof_tensor_create_from(MOF_DTYPE_FLOAT, 0, NULL, &v);
}

static mof_tensor *scalar_q(mof_dtype t, int32_t v)
{
    if (t == MOF_DTYPE_INT8) {
        int8_t b = (int8_t)v;
        return mof_tensor_create_from(t, 0, NULL, &b);
    }
    uint8_t b = (uint8_t)v;
    return mof_tensor_create_from(t, 0, NULL, &b);
}

static mof_value *add_init(qs_run *r, mof_graph *g, const char *base, const char *suffix,
                           mof_tensor *t)
{
    mof_value *v = qu_add_init(g, base, suffix, t);
    if (!v)
        nomem(r);
    return v;
}

/* Points every node input that reads old_v at new_v, except node `skip`. */
static mof_status redirect(mof_value *old_v, mof_value *new_v, const mof_node *skip)
{
    for (;;) {
        size_t n = mof_value_n_uses(old_v), i;
        for (i = 0; i < n; i++) {
            int idx;
            mof_node *u = mof_value_use(old_v, i, &idx);
            if (u == skip || idx < 0)
                continue;
            mof_status st = mof_node_set_input(u, (size_t)idx, new_v);
            if (st != MOF_OK)
                return st;
            break;
        }
        if (i == n)
            return MOF_OK;
    }
}

/* Removes n when nothing reads its outputs. */
static void remove_if_dead(mof_graph *g, mof_node *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < mof_node_n_outputs(n); i++) {
        const mof_value *v = mof_node_output(n, i);
        if (v && (mof_value_n_uses(v) || mof_value_is_graph_output(v)))
            return;
    }
    mof_graph_remove_node(g, n);
}

/* The value whose parameters vi takes (itself when it has its own). */
static size_t param_root(const qs_run *r, size_t vi)
{
    for (size_t hop = 0; r->values[vi].same_as >= 0 && hop < r->n_values; hop++)
        vi = (size_t)r->values[vi].same_as;
    return vi;
}

/* Inserts QuantizeLinear -> DequantizeLinear on activation value vi of model g.
 * relu (may be NULL): the Relu or Clip whose output this is, removed when Q's own range
 * lies within its bounds (then Q saturates wherever it would have clipped). *fused
 * counts removed Relus, *clips removed Clips.
 * params[vi] (in/out): the scale and zero-point initializers made for each value, so
 * that a value sharing another's parameters reads the same two initializers. */
static mof_status insert_qdq(qs_run *r, mof_graph *g, size_t vi, mof_node *relu, bool record,
                             mof_value **params, size_t *fused, size_t *clips)
{
    qs_value *qv = &r->values[vi];
    mof_value *v = mof_graph_find_value(g, qv->name);
    if (!v)
        return mof_report(r->ctx, MOF_SEVERITY_ERROR, MOF_ERR_INTERNAL, NULL,
                          "internal error: tensor '%s' vanished", qv->name);
    int32_t qlo, qhi;
    qm_range(r->at, &qlo, &qhi);
    mof_value *qin = v;
    double alo, ahi;
    bool drop_relu = relu && mof_node_output(relu, 0) == v &&
                     act_bounds(relu, r->opset, &alo, &ahi) &&
                     (double)qm_dequantize(qlo, qv->scale, qv->zp) >= alo &&
                     (double)qm_dequantize(qhi, qv->scale, qv->zp) <= ahi;
    if (drop_relu)
        qin = mof_node_input(relu, 0);
    size_t root = param_root(r, vi);
    mof_value *s = params[2 * root], *z = params[2 * root + 1];
    if (!s || !z) {
        s = add_init(r, g, qv->name, "_scale", scalar_f(qv->scale));
        z = s ? add_init(r, g, qv->name, "_zero_point", scalar_q(r->at, qv->zp)) : NULL;
        if (!z)
            return MOF_ERR_NOMEM;
        params[2 * vi] = s;
        params[2 * vi + 1] = z;
    }
    mof_node *prod = mof_value_producer(qin, NULL);
    mof_value *qins[3] = { qin, s, z };
    mof_node *q = add_node1(r, g, prod ? MOF_INSERT_AFTER : MOF_INSERT_BEFORE, prod,
                            "QuantizeLinear", qv->name, "_quantized", 3, qins);
    if (!q)
        return MOF_ERR_NOMEM;
    mof_value *dins[3] = { mof_node_output(q, 0), s, z };
    mof_node *dq = add_node1(r, g, MOF_INSERT_AFTER, q, "DequantizeLinear", qv->name,
                             "_dequantized", 3, dins);
    if (!dq)
        return MOF_ERR_NOMEM;
    if (prod) {
        mof_node_add_origins(q, prod);
        mof_node_add_origins(dq, prod);
    }
    mof_value *out = mof_node_output(dq, 0);
    mof_value_copy_type(out, v);
    mof_status st = redirect(v, out, q);
    if (st != MOF_OK)
        return st;
    if (drop_relu) {
        size_t *count = qu_is_op(relu, "Clip") ? clips : fused;
        /* Constant nodes that made a Clip's bounds go with it when nothing else reads
         * them. */
        mof_node *bounds[2] = { NULL, NULL };
        for (size_t k = 1; k < 3 && k < mof_node_n_inputs(relu); k++)
            bounds[k - 1] = qu_producer_op(mof_node_input(relu, k), "Constant");
        if ((st = mof_graph_remove_node(g, relu)) != MOF_OK)
            return st;
        for (size_t k = 0; k < 2; k++)
            if (bounds[k] && (k == 0 || bounds[1] != bounds[0]))
                remove_if_dead(g, bounds[k]);
        (*count)++;
    }
    if (record) {
        free(qv->dq_name);
        qv->dq_name = strdup(mof_value_name(out));
        if (!qv->dq_name)
            return nomem(r);
    }
    return MOF_OK;
}

/* The DequantizeLinear of a quantized weight, made once per weight. */
typedef struct wcache {
    char **names;
    mof_value **dq;
    mof_tensor **scales;   /* the weight's scale (borrowed from its initializer) */
    size_t n;
} wcache;

static void wcache_free(wcache *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->names[i]);
    free(c->names);
    free(c->dq);
    free(c->scales);
}

static mof_status quantize_weight(qs_run *r, mof_graph *g, mof_node *n, const qs_target *t,
                                  wcache *c, size_t *n_weights)
{
    mof_value *w = mof_node_input(n, (size_t)t->w_slot);
    const char *wn = mof_value_name(w);
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->names[i], wn) == 0)
            return mof_node_set_input(n, (size_t)t->w_slot, c->dq[i]);
    }
    mof_tensor *tq = NULL, *ts = NULL, *tz = NULL;
    mof_status st = qm_quantize_weight(mof_value_tensor(w), t->w_axis, 0, r->wt, r->p->sym_w,
                                       false, &tq, &ts, &tz);
    if (st != MOF_OK)
        return st == MOF_ERR_NOMEM ? nomem(r) :
               mof_report_node(r->ctx, MOF_SEVERITY_ERROR, st, n, "cannot quantize weight '%s'",
                               wn);
    mof_value *vq = add_init(r, g, wn, "_quantized", tq);
    mof_value *vs = vq ? add_init(r, g, wn, "_scale", ts) : NULL;
    mof_value *vz = vs ? add_init(r, g, wn, "_zero_point", tz) : NULL;
    if (!vq || !vs || !vz) {
        if (!vq)
            mof_tensor_unref(ts);
        if (!vs)
            mof_tensor_unref(tz);
        return MOF_ERR_NOMEM;
    }
    mof_value *ins[3] = { vq, vs, vz };
    mof_node *dq = add_node1(r, g, MOF_INSERT_BEFORE, n, "DequantizeLinear", wn, "_dequantized",
                             3, ins);
    if (!dq)
        return MOF_ERR_NOMEM;
    if (t->w_axis >= 0 && (st = mof_node_set_attr_int(dq, "axis", t->w_axis)) != MOF_OK)
        return nomem(r);
    mof_value_copy_type(mof_node_output(dq, 0), w);
    char **names = realloc(c->names, (c->n + 1) * sizeof(*names));
    if (names)
        c->names = names;
    mof_value **dqs = realloc(c->dq, (c->n + 1) * sizeof(*dqs));
    if (dqs)
        c->dq = dqs;
    mof_tensor **scs = realloc(c->scales, (c->n + 1) * sizeof(*scs));
    if (scs)
        c->scales = scs;
    if (!names || !dqs || !scs || !(c->names[c->n] = strdup(wn)))
        return nomem(r);
    c->dq[c->n] = mof_node_output(dq, 0);
    c->scales[c->n] = mof_value_tensor(vs);
    c->n++;
    (*n_weights)++;
    return mof_node_set_input(n, (size_t)t->w_slot, mof_node_output(dq, 0));
}

/* Bias as int32 with scale x_scale * w_scale (per channel when the weight is). */
static mof_status quantize_bias(qs_run *r, mof_graph *g, mof_node *n, const qs_target *t,
                                const mof_tensor *wscale)
{
    mof_value *b = mof_node_input(n, (size_t)t->b_slot);
    const mof_tensor *bt = mof_value_tensor(b);
    float xs = r->values[t->ins[0]].scale;
    int64_t nb = mof_tensor_numel(bt);
    int64_t nws = mof_tensor_numel(wscale);
    if (nws != 1 && nws != nb)
        return MOF_OK;   /* shapes that do not match: the bias stays float */
    mof_tensor *q = mof_tensor_create(MOF_DTYPE_INT32, 1, &nb);
    mof_tensor *s = nws == 1 ? mof_tensor_create(MOF_DTYPE_FLOAT, 0, NULL)
                             : mof_tensor_create(MOF_DTYPE_FLOAT, 1, &nb);
    if (!q || !s) {
        mof_tensor_unref(q);
        mof_tensor_unref(s);
        return nomem(r);
    }
    const float *bd = mof_tensor_data(bt), *wsd = mof_tensor_data(wscale);
    int32_t *qd = mof_tensor_data_mut(q);
    float *sd = mof_tensor_data_mut(s);
    for (int64_t i = 0; i < nws; i++)
        sd[i] = xs * wsd[i];
    for (int64_t i = 0; i < nb; i++) {
        double v = (double)bd[i] / (double)sd[nws == 1 ? 0 : i];
        v = isfinite(v) ? nearbyint(v) : 0;
        if (v > INT32_MAX)
            v = INT32_MAX;
        if (v < INT32_MIN)
            v = INT32_MIN;
        qd[i] = (int32_t)v;
    }
    const char *bn = mof_value_name(b);
    mof_value *vq = add_init(r, g, bn, "_quantized", q);
    mof_value *vs = vq ? add_init(r, g, bn, "_scale", s) : NULL;
    if (!vq || !vs) {
        if (!vq)
            mof_tensor_unref(s);
        return MOF_ERR_NOMEM;
    }
    mof_value *ins[2] = { vq, vs };
    mof_node *dq = add_node1(r, g, MOF_INSERT_BEFORE, n, "DequantizeLinear", bn, "_dequantized",
                             2, ins);
    if (!dq)
        return MOF_ERR_NOMEM;
    if (nws != 1 && mof_node_set_attr_int(dq, "axis", 0) != MOF_OK)
        return nomem(r);
    mof_value_copy_type(mof_node_output(dq, 0), b);
    return mof_node_set_input(n, (size_t)t->b_slot, mof_node_output(dq, 0));
}

typedef struct qs_counts {
    size_t nodes, tensors, weights, fused, clips, qlinear;
} qs_counts;

/* Quantizes the active targets of model m (the input model or a copy of it, whose
 * main graph lists the same nodes in the same order). */
static mof_status quantize_model(qs_run *r, mof_model *m, bool record, qs_counts *cnt)
{
    mof_graph *g = mof_model_graph(m);
    mof_status st = MOF_OK;
    wcache wc = { 0 };
    mof_node **nodes = calloc(r->n_nodes + 1, sizeof(*nodes));
    mof_value **params = calloc(2 * r->n_values + 1, sizeof(*params));
    if (!nodes || !params) {
        free(nodes);
        free(params);
        return nomem(r);
    }
    size_t k = 0;
    for (mof_node *n = mof_graph_first_node(g); n && k < r->n_nodes; n = mof_node_next(n))
        nodes[k++] = n;
    memset(cnt, 0, sizeof(*cnt));
    /* Activations, with the Relu that a target's output goes through. */
    for (size_t vi = 0; vi < r->n_values; vi++) {
        if (!r->values[vi].used)
            continue;
        mof_node *relu = NULL;
        for (size_t t = 0; t < r->n_targets; t++)
            if (r->targets[t].active && r->targets[t].out == (long)vi && r->targets[t].relu >= 0)
                relu = nodes[r->targets[t].relu];
        if ((st = insert_qdq(r, g, vi, relu, record, params, &cnt->fused, &cnt->clips)) !=
            MOF_OK)
            goto done;
        cnt->tensors++;
    }
    /* Weights and biases. */
    for (size_t t = 0; t < r->n_targets; t++) {
        const qs_target *tg = &r->targets[t];
        if (!tg->active)
            continue;
        cnt->nodes++;
        mof_node *n = nodes[tg->node];
        if (tg->w_slot < 0)
            continue;
        if ((st = quantize_weight(r, g, n, tg, &wc, &cnt->weights)) != MOF_OK)
            goto done;
        if (tg->b_slot >= 0 && tg->n_ins > 0 && tg->ins[0] < r->n_values) {
            const mof_value *wdq = mof_node_input(n, (size_t)tg->w_slot);
            const mof_tensor *ws = NULL;
            for (size_t i = 0; i < wc.n; i++)
                if (wc.dq[i] == wdq)
                    ws = wc.scales[i];
            /* The bias's scale needs the scale of the input that the weight multiplies. */
            const mof_value *x = mof_node_input(nodes[tg->node], 0);
            if (ws && x && mof_value_producer(x, NULL) &&
                strcmp(mof_node_op_type(mof_value_producer(x, NULL)), "DequantizeLinear") == 0 &&
                (st = quantize_bias(r, g, n, tg, ws)) != MOF_OK)
                goto done;
        }
    }
    /* Float weights and biases nothing reads any more. */
    for (size_t i = mof_graph_n_initializers(g); i-- > 0;) {
        mof_value *v = mof_graph_initializer(g, i);
        if (mof_value_n_uses(v) == 0 && !mof_value_is_graph_input(v) &&
            !mof_value_is_graph_output(v) && mof_tensor_dtype(mof_value_tensor(v)) == MOF_DTYPE_FLOAT) {
            bool was_weight = false;
            for (size_t t = 0; t < r->n_targets && !was_weight; t++) {
                const qs_target *tg = &r->targets[t];
                if (!tg->active)
                    continue;
                const mof_node *on = r->nodes[tg->node];
                for (int s = 0; s < 3 && !was_weight; s++) {
                    int slot = s == 0 ? tg->w_slot : s == 1 ? tg->b_slot : -1;
                    if (slot >= 0 && (size_t)slot < mof_node_n_inputs(on) &&
                        strcmp(mof_value_name(mof_node_input(on, (size_t)slot)),
                               mof_value_name(v)) == 0)
                        was_weight = true;
                }
            }
            if (was_weight && (st = mof_graph_remove_initializer(g, v)) != MOF_OK)
                goto done;
        }
    }
done:
    wcache_free(&wc);
    free(nodes);
    free(params);
    return st;
}

/* ------------------------------------------------------------------ QOperator */

static bool scalar_param(const mof_node *n)
{
    const mof_value *s = mof_node_input(n, 1);
    return s && mof_value_is_constant(s) && mof_tensor_numel(mof_value_tensor(s)) == 1;
}


static mof_status to_qoperator(qs_run *r, mof_model *m, size_t *converted)
{
    mof_graph *g = mof_model_graph(m);
    mof_node *next;
    for (mof_node *n = mof_graph_first_node(g); n; n = next) {
        next = mof_node_next(n);
        const char *op = mof_node_op_type(n);
        bool conv = strcmp(op, "Conv") == 0, mm = strcmp(op, "MatMul") == 0;
        if (*mof_node_domain(n) || (!conv && !mm))
            continue;
        mof_node *dx = qu_producer_op(mof_node_input(n, 0), "DequantizeLinear");
        mof_node *dw = qu_producer_op(mof_node_input(n, 1), "DequantizeLinear");
        mof_node *db = conv && mof_node_n_inputs(n) > 2 && mof_node_input(n, 2)
                           ? qu_producer_op(mof_node_input(n, 2), "DequantizeLinear") : NULL;
        mof_value *y = mof_node_output(n, 0);
        if (!dx || !dw || (conv && mof_node_n_inputs(n) > 2 && mof_node_input(n, 2) && !db) ||
            mof_value_n_uses(y) != 1 || mof_value_is_graph_output(y) ||
            mof_node_n_inputs(dx) < 3 || mof_node_n_inputs(dw) < 3 ||
            !scalar_param(dx) || !mof_value_is_constant(mof_node_input(dw, 0)))
            continue;
        mof_node *qy = mof_value_use(y, 0, NULL);
        if (strcmp(mof_node_op_type(qy), "QuantizeLinear") != 0 || mof_node_n_inputs(qy) < 3 ||
            !scalar_param(qy))
            continue;
        if (mm && !scalar_param(dw))
            continue;
        mof_value *ins[9] = {
            mof_node_input(dx, 0), mof_node_input(dx, 1), mof_node_input(dx, 2),
            mof_node_input(dw, 0), mof_node_input(dw, 1), mof_node_input(dw, 2),
            mof_node_input(qy, 1), mof_node_input(qy, 2), db ? mof_node_input(db, 0) : NULL,
        };
        const char *name = mof_node_name(n);
        char *nn = mof_graph_unique_name(g, *name ? name : conv ? "QLinearConv" : "QLinearMatMul");
        if (!nn)
            return nomem(r);
        mof_node *ql = mof_graph_add_node(g, MOF_INSERT_BEFORE, n,
                                          conv ? "QLinearConv" : "QLinearMatMul", NULL, nn,
                                          db ? 9 : 8, ins, 1);
        free(nn);
        if (!ql)
            return nomem(r);
        mof_status st;
        if ((conv && (st = mof_node_copy_attrs(ql, n)) != MOF_OK) ||
            (st = mof_node_add_origins(ql, n)) != MOF_OK)
            return nomem(r);
        mof_value *yq = mof_node_output(qy, 0);
        mof_value_copy_type(mof_node_output(ql, 0), yq);
        if ((st = redirect(yq, mof_node_output(ql, 0), NULL)) != MOF_OK)
            return st;
        if (next == qy)
            next = mof_node_next(qy);
        char *yq_name = strdup(mof_value_name(yq));
        if (!yq_name)
            return nomem(r);
        mof_graph_remove_node(g, qy);
        /* The QLinear node's output takes the name of the quantized tensor it replaces. */
        mof_value_set_name(mof_node_output(ql, 0), yq_name);
        free(yq_name);
        mof_graph_remove_node(g, n);
        remove_if_dead(g, dx);
        remove_if_dead(g, dw);
        remove_if_dead(g, db);
        (*converted)++;
    }
    /* Scales of biases and initializers only the removed nodes read. */
    for (size_t i = mof_graph_n_initializers(g); i-- > 0;) {
        mof_value *v = mof_graph_initializer(g, i);
        if (mof_value_n_uses(v) == 0 && !mof_value_is_graph_input(v) &&
            !mof_value_is_graph_output(v))
            mof_graph_remove_initializer(g, v);
    }
    return MOF_OK;
}

/* ------------------------------------------------------------------ sensitivity */

/* The float model's tensors of one sample, captured by the observer, then compared
 * with a quantized run. */
typedef struct cmp_obs {
    qs_run *r;
    mof_tensor **ref;      /* per value, the float tensor (float run) */
    bool quant_run;
} cmp_obs;

static mof_status cmp_observe(void *user, const mof_node *node, size_t n_out,
                              mof_tensor *const *outs)
{
    cmp_obs *o = user;
    qs_run *r = o->r;
    for (size_t k = 0; k < n_out; k++) {
        const mof_value *v = mof_node_output(node, k);
        if (!v || !outs[k] || mof_tensor_dtype(outs[k]) != MOF_DTYPE_FLOAT)
            continue;
        const char *name = mof_value_name(v);
        for (size_t i = 0; i < r->n_values; i++) {
            qs_value *qv = &r->values[i];
            if (!qv->used)
                continue;
            if (!o->quant_run && strcmp(qv->name, name) == 0) {
                mof_tensor_unref(o->ref[i]);
                o->ref[i] = mof_tensor_ref(outs[k]);
            } else if (o->quant_run && qv->dq_name && strcmp(qv->dq_name, name) == 0 &&
                       o->ref[i] && mof_tensor_numel(o->ref[i]) == mof_tensor_numel(outs[k])) {
                const float *a = mof_tensor_data(o->ref[i]), *b = mof_tensor_data(outs[k]);
                for (int64_t e = 0; e < mof_tensor_numel(outs[k]); e++) {
                    double d = (double)a[e] - (double)b[e];
                    qv->noise_model += d * d;
                }
                qv->n_model++;
            }
        }
    }
    return MOF_OK;
}

static void add_output_noise(const mof_tensor *const *ref, const mof_tensor *const *got,
                             size_t n, double *sig, double *noise)
{
    for (size_t i = 0; i < n; i++) {
        if (!ref[i] || !got[i] || mof_tensor_dtype(ref[i]) != MOF_DTYPE_FLOAT ||
            mof_tensor_dtype(got[i]) != MOF_DTYPE_FLOAT ||
            mof_tensor_numel(ref[i]) != mof_tensor_numel(got[i]))
            continue;
        const float *a = mof_tensor_data(ref[i]), *b = mof_tensor_data(got[i]);
        for (int64_t e = 0; e < mof_tensor_numel(ref[i]); e++) {
            double d = (double)a[e] - (double)b[e];
            *sig += (double)a[e] * a[e];
            *noise += d * d;
        }
    }
}

static double db_of(double sig, double noise)
{
    if (noise <= 0)
        return INFINITY;
    if (sig <= 0)
        return -INFINITY;
    return 10.0 * log10(sig / noise);
}

/* Float outputs of the report samples, kept for the layer runs. */
typedef struct ref_set {
    mof_tensor **outs;     /* report_n * n_out */
    size_t n_out;
} ref_set;

static mof_status float_refs(qs_run *r, ref_set *rs)
{
    const mof_graph *g = mof_model_graph(r->model);
    size_t n_in = mof_graph_n_inputs(g);
    rs->n_out = mof_graph_n_outputs(g);
    rs->outs = calloc(r->report_n * rs->n_out + 1, sizeof(*rs->outs));
    mof_tensor **ins = calloc(n_in + 1, sizeof(*ins));
    mof_status st = MOF_OK;
    mof_interp *it = NULL;
    if (!rs->outs || !ins) {
        st = nomem(r);
        goto done;
    }
    it = mof_interp_create(r->ctx, r->model);
    if (!it) {
        st = MOF_ERR_UNSUPPORTED;
        goto done;
    }
    for (size_t s = 0; s < r->report_n && st == MOF_OK; s++) {
        if ((st = qc_source_get(r->src, s, n_in, ins)) != MOF_OK)
            break;
        st = mof_interp_run(it, n_in, ins, rs->n_out, rs->outs + s * rs->n_out);
        mof_tensors_release(n_in, ins);
    }
done:
    mof_interp_destroy(it);
    free(ins);
    return st;
}

static void ref_set_free(ref_set *rs, size_t n_samples)
{
    if (rs->outs)
        mof_tensors_release(n_samples * rs->n_out, rs->outs);
    free(rs->outs);
    rs->outs = NULL;
}

/* Output SQNR of each target quantized alone; with keep-float, the worst stay float. */
static mof_status layer_sensitivity(qs_run *r, const ref_set *rs)
{
    const mof_graph *g = mof_model_graph(r->model);
    size_t n_in = mof_graph_n_inputs(g);
    mof_tensor **ins = calloc(n_in + 1, sizeof(*ins));
    mof_tensor **outs = calloc(rs->n_out + 1, sizeof(*outs));
    bool *was = calloc(r->n_targets + 1, sizeof(*was));
    mof_status st = MOF_OK;
    if (!ins || !outs || !was) {
        st = nomem(r);
        goto done;
    }
    for (size_t t = 0; t < r->n_targets; t++)
        was[t] = r->targets[t].active;
    for (size_t t = 0; t < r->n_targets && st == MOF_OK; t++) {
        if (!was[t])
            continue;
        for (size_t u = 0; u < r->n_targets; u++)
            r->targets[u].active = u == t;
        mark_used(r);
        mof_model *m = mof_model_dup(r->model);
        if (!m) {
            st = nomem(r);
            break;
        }
        qs_counts cnt;
        mof_interp *it = NULL;
        st = quantize_model(r, m, false, &cnt);
        if (st == MOF_OK && !(it = mof_interp_create(r->ctx, m)))
            st = MOF_ERR_UNSUPPORTED;
        double sig = 0, noise = 0;
        for (size_t s = 0; s < r->report_n && st == MOF_OK; s++) {
            if ((st = qc_source_get(r->src, s, n_in, ins)) != MOF_OK)
                break;
            st = mof_interp_run(it, n_in, ins, rs->n_out, outs);
            mof_tensors_release(n_in, ins);
            if (st == MOF_OK)
                add_output_noise((const mof_tensor *const *)rs->outs + s * rs->n_out,
                                 (const mof_tensor *const *)outs, rs->n_out, &sig, &noise);
            mof_tensors_release(rs->n_out, outs);
        }
        mof_interp_destroy(it);
        mof_model_destroy(m);
        r->targets[t].out_sqnr = db_of(sig, noise);
        r->targets[t].have_sqnr = true;
    }
    for (size_t t = 0; t < r->n_targets; t++)
        r->targets[t].active = was[t];
    /* keep-float: the N lowest output SQNRs, ties in graph order. */
    for (int64_t k = 0; k < r->p->keep_float && st == MOF_OK; k++) {
        long worst = -1;
        for (size_t t = 0; t < r->n_targets; t++) {
            qs_target *tg = &r->targets[t];
            if (tg->active && tg->have_sqnr &&
                (worst < 0 || tg->out_sqnr < r->targets[worst].out_sqnr))
                worst = (long)t;
        }
        if (worst < 0)
            break;
        r->targets[worst].active = false;
        r->targets[worst].kept_float = true;
        mof_report_node(r->ctx, MOF_SEVERITY_NOTE, MOF_OK, r->targets[worst].n,
                        "kept float (keep-float): quantized alone, it leaves the model output "
                        "at %.2f dB SQNR", r->targets[worst].out_sqnr);
    }
    mark_used(r);
done:
    free(ins);
    free(outs);
    free(was);
    return st;
}

/* Per tensor "alone" and "in model" noise, and the quantized model's output SQNR, on
 * the report samples. q is the quantized (QDQ) model. */
static mof_status tensor_report(qs_run *r, const mof_model *q, const ref_set *rs)
{
    const mof_graph *g = mof_model_graph(r->model);
    size_t n_in = mof_graph_n_inputs(g);
    mof_tensor **ins = calloc(n_in + 1, sizeof(*ins));
    mof_tensor **outs = calloc(rs->n_out + 1, sizeof(*outs));
    mof_tensor **fouts = calloc(rs->n_out + 1, sizeof(*fouts));
    cmp_obs obs = { r, calloc(r->n_values + 1, sizeof(mof_tensor *)), false };
    mof_interp *fi = NULL, *qi = NULL;
    mof_status st = MOF_OK;
    if (!ins || !outs || !fouts || !obs.ref) {
        st = nomem(r);
        goto done;
    }
    fi = mof_interp_create(r->ctx, r->model);
    qi = fi ? mof_interp_create(r->ctx, q) : NULL;
    if (!qi) {
        st = MOF_ERR_UNSUPPORTED;
        goto done;
    }
    mof_interp_set_observer(fi, cmp_observe, &obs);
    mof_interp_set_observer(qi, cmp_observe, &obs);
    for (size_t s = 0; s < r->report_n && st == MOF_OK; s++) {
        if ((st = qc_source_get(r->src, s, n_in, ins)) != MOF_OK)
            break;
        /* Graph inputs that are quantized: their float values are the inputs. */
        for (size_t i = 0; i < n_in; i++) {
            long vi = value_index(r, mof_value_name(mof_graph_input(g, i)));
            if (vi >= 0 && ins[i]) {
                mof_tensor_unref(obs.ref[vi]);
                obs.ref[vi] = mof_tensor_ref(ins[i]);
            }
        }
        obs.quant_run = false;
        st = mof_interp_run(fi, n_in, ins, rs->n_out, fouts);
        if (st == MOF_OK) {
            obs.quant_run = true;
            st = mof_interp_run(qi, n_in, ins, rs->n_out, outs);
        }
        mof_tensors_release(n_in, ins);
        if (st == MOF_OK) {
            add_output_noise((const mof_tensor *const *)fouts, (const mof_tensor *const *)outs,
                             rs->n_out, &r->out_sig, &r->out_noise);
            for (size_t i = 0; i < r->n_values; i++) {
                qs_value *qv = &r->values[i];
                const mof_tensor *t = obs.ref[i];
                if (!qv->used || !t || mof_tensor_dtype(t) != MOF_DTYPE_FLOAT)
                    continue;
                const float *x = mof_tensor_data(t);
                for (int64_t e = 0; e < mof_tensor_numel(t); e++) {
                    float dq = qm_dequantize(qm_quantize(x[e], qv->scale, qv->zp, r->at),
                                             qv->scale, qv->zp);
                    double d = (double)x[e] - (double)dq;
                    qv->sig += (double)x[e] * x[e];
                    qv->noise_alone += d * d;
                }
            }
        }
        mof_tensors_release(rs->n_out, outs);
        mof_tensors_release(rs->n_out, fouts);
        mof_tensors_release(r->n_values, obs.ref);
    }
done:
    mof_interp_destroy(fi);
    mof_interp_destroy(qi);
    free(ins);
    free(outs);
    free(fouts);
    free(obs.ref);
    return st;
}

/* ------------------------------------------------------------------ the report */

typedef struct sbuf {
    char *s;
    size_t n, cap;
    bool failed;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) MOF_PRINTF(2, 3);

static void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int len = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (len < 0) {
            b->failed = true;
            return;
        }
        if (b->s && b->n + (size_t)len < b->cap) {
            b->n += (size_t)len;
            return;
        }
        size_t cap = (b->cap ? b->cap * 2 : 4096) + (size_t)len;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->failed = true;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

static void sb_str(sbuf *b, const char *s)
{
    sb_printf(b, "\"");
    for (const unsigned char *u = (const unsigned char *)s; *u; u++) {
        if (*u == '"' || *u == '\\')
            sb_printf(b, "\\%c", *u);
        else if (*u < 0x20)
            sb_printf(b, "\\u%04x", *u);
        else
            sb_printf(b, "%c", *u);
    }
    sb_printf(b, "\"");
}

static void sb_num(sbuf *b, double v)
{
    if (isfinite(v))
        sb_printf(b, "%.6g", v);
    else
        sb_printf(b, "null");
}

static const qs_value *rep_values;

static int cmp_alone(const void *a, const void *b)
{
    const qs_value *x = &rep_values[*(const size_t *)a], *y = &rep_values[*(const size_t *)b];
    double dx = db_of(x->sig, x->noise_alone), dy = db_of(y->sig, y->noise_alone);
    if (dx != dy)
        return dx < dy ? -1 : 1;
    return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

static const qs_target *rep_targets;

static int cmp_layers(const void *a, const void *b)
{
    const qs_target *x = &rep_targets[*(const size_t *)a], *y = &rep_targets[*(const size_t *)b];
    if (x->out_sqnr != y->out_sqnr)
        return x->out_sqnr < y->out_sqnr ? -1 : 1;
    return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

static const char *fmt_db(char *buf, size_t size, double v)
{
    if (isfinite(v))
        snprintf(buf, size, "%.2f", v);
    else
        snprintf(buf, size, "%s", v > 0 ? "inf" : "-inf");
    return buf;
}

static mof_status write_report(qs_run *r, const qs_counts *cnt, bool have_report)
{
    sbuf b = { 0 };
    size_t *order = calloc(r->n_values + r->n_targets + 1, sizeof(*order));
    if (!order)
        return nomem(r);
    static const char *const mnames[] = { "minmax", "percentile", "entropy" };
    sb_printf(&b, "{\"format\": \"%s\", \"method\": \"%s\", \"activation_type\": \"%s\", "
              "\"weight_type\": \"%s\", \"per_channel\": %s, \"calibration_samples\": %" PRId64
              ", \"report_samples\": %zu, \"nodes_quantized\": %zu, \"tensors_quantized\": %zu, "
              "\"weights_quantized\": %zu, \"relu_fused\": %zu, \"clip_fused\": %zu, "
              "\"qlinear_nodes\": %zu",
              formats[r->p->format], mnames[r->p->method], mof_dtype_name(r->at),
              mof_dtype_name(r->wt), r->per_channel ? "true" : "false", r->stats.samples,
              have_report ? r->report_n : 0, cnt->nodes, cnt->tensors, cnt->weights, cnt->fused,
              cnt->clips, cnt->qlinear);
    char b1[32], b2[32];
    if (have_report) {
        double out_db = db_of(r->out_sig, r->out_noise);
        sb_printf(&b, ", \"output_sqnr_db\": ");
        sb_num(&b, out_db);
        mof_report(r->ctx, MOF_SEVERITY_NOTE, MOF_OK, NULL,
                   "model output SQNR %s dB against the float model on %zu calibration "
                   "sample%s (%zu nodes quantized)", fmt_db(b1, sizeof b1, out_db), r->report_n,
                   r->report_n == 1 ? "" : "s", cnt->nodes);
        size_t n = 0;
        for (size_t i = 0; i < r->n_values; i++)
            if (r->values[i].used)
                order[n++] = i;
        rep_values = r->values;
        qsort(order, n, sizeof(*order), cmp_alone);
        mof_report(r->ctx, MOF_SEVERITY_NOTE, MOF_OK, NULL,
                   "tensor SQNR, worst first ('alone': only this tensor quantized; "
                   "'in model': this tensor in the quantized model, QDQ form):");
        mof_report(r->ctx, MOF_SEVERITY_NOTE, MOF_OK, NULL, "  %-32s %-24s %-10s %12s %5s %9s %9s",
                   "tensor", "node", "op", "scale", "zp", "alone dB", "model dB");
        sb_printf(&b, ", \"tensors\": [");
        for (size_t k = 0; k < n; k++) {
            const qs_value *v = &r->values[order[k]];
            const mof_node *tn = r->targets[v->first_target].n;
            const mof_node *pn = v->producer ? v->producer : tn;
            double alone = db_of(v->sig, v->noise_alone);
            double model = v->n_model ? db_of(v->sig, v->noise_model) : NAN;
            mof_report(r->ctx, MOF_SEVERITY_NOTE, MOF_OK, NULL,
                       "  %-32s %-24s %-10s %12.6g %5d %9s %9s", v->name,
                       v->producer ? mof_node_name(pn) : "(graph input)",
                       v->producer ? mof_node_op_type(pn) : "-", (double)v->scale, (int)v->zp,
                       fmt_db(b1, sizeof b1, alone),
                       v->n_model ? fmt_db(b2, sizeof b2, model) : "-");
            sb_printf(&b, "%s{\"tensor\": ", k ? ", " : "");
            sb_str(&b, v->name);
            sb_printf(&b, ", \"node\": ");
            sb_str(&b, v->producer ? mof_node_name(pn) : "");
            sb_printf(&b, ", \"op_type\": ");
            sb_str(&b, v->producer ? mof_node_op_type(pn) : "");
            sb_printf(&b, ", \"scale\": ");
            sb_num(&b, v->scale);
            sb_printf(&b, ", \"zero_point\": %d, \"min\": ", (int)v->zp);
            sb_num(&b, v->lo);
            sb_printf(&b, ", \"max\": ");
            sb_num(&b, v->hi);
            sb_printf(&b, ", \"sqnr_alone_db\": ");
            sb_num(&b, alone);
            sb_printf(&b, ", \"sqnr_in_model_db\": ");
            sb_num(&b, model);
            sb_printf(&b, "}");
        }
        sb_printf(&b, "]");
    }
    size_t nl = 0;
    for (size_t t = 0; t < r->n_targets; t++)
        if (r->targets[t].have_sqnr)
            order[nl++] = t;
    if (nl) {
        rep_targets = r->targets;
        qsort(order, nl, sizeof(*order), cmp_layers);
        mof_report(r->ctx, MOF_SEVERITY_NOTE, MOF_OK, NULL,
                   "node sensitivity, worst first (model output SQNR with only this node "
                   "quantized):");
        sb_printf(&b, ", \"layers\": [");
        for (size_t k = 0; k < nl; k++) {
            const qs_target *t = &r->targets[order[k]];
            mof_report(r->ctx, MOF_SEVERITY_NOTE, MOF_OK, NULL, "  %-32s %-10s %9s dB%s",
                       mof_node_name(t->n), mof_node_op_type(t->n),
                       fmt_db(b1, sizeof b1, t->out_sqnr), t->kept_float ? "  (kept float)" : "");
            sb_printf(&b, "%s{\"node\": ", k ? ", " : "");
            sb_str(&b, mof_node_name(t->n));
            sb_printf(&b, ", \"op_type\": ");
            sb_str(&b, mof_node_op_type(t->n));
            sb_printf(&b, ", \"output_sqnr_db\": ");
            sb_num(&b, t->out_sqnr);
            sb_printf(&b, ", \"kept_float\": %s}", t->kept_float ? "true" : "false");
        }
        sb_printf(&b, "]");
    }
    sb_printf(&b, "}");
    free(order);
    mof_status st = MOF_OK;
    if (b.failed)
        st = nomem(r);
    else
        st = mof_pass_report_json(r->pc, "quantize-static", b.s);
    if (st == MOF_ERR_NOMEM && !b.failed)
        nomem(r);
    free(b.s);
    return st;
}

/* ------------------------------------------------------------------ the pass */

static void run_free(qs_run *r)
{
    for (size_t i = 0; i < r->n_values; i++) {
        free(r->values[i].name);
        free(r->values[i].dq_name);
    }
    free(r->values);
    for (size_t t = 0; t < r->n_targets; t++)
        free(r->targets[t].ins);
    free(r->targets);
    free(r->nodes);
    qc_stats_clear(&r->stats);
    qc_source_destroy(r->src);
}

static mof_status qs_run_pass(mof_pass_ctx *pc, mof_model *model, void *priv)
{
    const qs_pass *p = priv;
    /* Everything is planned and measured on a float copy; model is quantized in place
     * at the end (its main graph lists the same nodes in the same order). */
    qs_run r = { .pc = pc, .ctx = mof_pass_ctx_context(pc), .p = p };
    mof_status st = MOF_OK;
    ref_set rs = { 0 };
    qs_counts cnt = { 0 };
    qc_stats_init(&r.stats);
    r.at = p->act_type == 0 ? MOF_DTYPE_UINT8 : MOF_DTYPE_INT8;
    r.wt = p->w_type == 0 ? MOF_DTYPE_INT8 : MOF_DTYPE_UINT8;
    r.per_channel = p->per_channel;
    int64_t opset = mof_model_opset(model, "");
    r.opset = opset;
    if (opset < 10) {
        st = mof_report(r.ctx, MOF_SEVERITY_ERROR, MOF_ERR_UNSUPPORTED, NULL,
                        "the model imports ONNX opset %" PRId64 "; QuantizeLinear needs 10 or "
                        "later", opset);
        goto done;
    }
    if (opset < 13 && r.per_channel) {
        mof_report(r.ctx, MOF_SEVERITY_WARNING, MOF_OK, NULL, "opset %" PRId64 " has no "
                   "per-axis DequantizeLinear (13 or later): weights are quantized per tensor",
                   opset);
        r.per_channel = false;
    }
    if (!*p->calibration && !*p->stats_in) {
        st = mof_report(r.ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL,
                        "give calibration data (calibration=FOLDER or random:N) or statistics "
                        "files (stats-in=FILE,...)");
        goto done;
    }
    if (!(r.model = mof_model_dup(model))) {
        st = nomem(&r);
        goto done;
    }
    r.n_nodes = mof_graph_n_nodes(mof_model_graph(r.model));
    r.nodes = calloc(r.n_nodes + 1, sizeof(*r.nodes));
    if (!r.nodes) {
        st = nomem(&r);
        goto done;
    }
    size_t k = 0;
    for (mof_node *n = mof_graph_first_node(mof_model_graph(r.model)); n; n = mof_node_next(n))
        r.nodes[k++] = n;
    if ((st = plan(&r)) != MOF_OK)
        goto done;
    mark_used(&r);
    if (r.n_targets == 0) {
        mof_report(r.ctx, MOF_SEVERITY_NOTE, MOF_OK, NULL, "no node to quantize");
        st = MOF_UNCHANGED;
        goto done;
    }
    if (*p->calibration) {
        if ((st = qc_source_open(r.ctx, r.model, p->calibration, &r.src)) != MOF_OK)
            goto done;
        if (qc_source_is_random(r.src))
            mof_report(r.ctx, MOF_SEVERITY_WARNING, MOF_OK, NULL,
                       "CALIBRATING ON %zu RANDOM INPUTS (uniform in [-1, 1)): the ranges say "
                       "nothing about real data and the quantized model may be far less "
                       "accurate than with real calibration samples", qc_source_n(r.src));
    }
    if (*p->stats_in)
        st = read_stats(&r);
    else
        st = calibrate(&r);
    if (st != MOF_OK)
        goto done;
    if (*p->stats_out && (st = qc_stats_write(r.ctx, &r.stats, p->stats_out)) != MOF_OK)
        goto done;
    if ((st = compute_params(&r)) != MOF_OK)
        goto done;
    r.report_n = r.src ? qc_source_n(r.src) : 0;
    if ((uint64_t)r.report_n > (uint64_t)p->report_samples)
        r.report_n = (size_t)p->report_samples;
    if (p->keep_float > 0 && r.report_n == 0) {
        st = mof_report(r.ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL,
                        "keep-float needs calibration samples (calibration=...) and "
                        "report-samples > 0 to rank the nodes");
        goto done;
    }
    if (r.report_n && (st = float_refs(&r, &rs)) != MOF_OK)
        goto done;
    if (r.report_n && (p->keep_float > 0 || p->layer_report) &&
        (st = layer_sensitivity(&r, &rs)) != MOF_OK)
        goto done;
    if ((st = quantize_model(&r, model, true, &cnt)) != MOF_OK)
        goto done;
    if (r.report_n && (st = tensor_report(&r, model, &rs)) != MOF_OK)
        goto done;
    if (p->format == 1 && (st = to_qoperator(&r, model, &cnt.qlinear)) != MOF_OK)
        goto done;
    if ((st = write_report(&r, &cnt, r.report_n > 0)) != MOF_OK)
        goto done;
    if (!r.report_n)
        mof_report(r.ctx, MOF_SEVERITY_NOTE, MOF_OK, NULL, "no SQNR report (it needs "
                   "calibration samples, calibration=..., and report-samples > 0)");
    mof_pass_stat(pc, "nodes-quantized", (int64_t)cnt.nodes);
    mof_pass_stat(pc, "tensors-quantized", (int64_t)cnt.tensors);
    mof_pass_stat(pc, "weights-quantized", (int64_t)cnt.weights);
    if (cnt.fused)
        mof_pass_stat(pc, "relu-fused", (int64_t)cnt.fused);
    if (cnt.clips)
        mof_pass_stat(pc, "clip-fused", (int64_t)cnt.clips);
    if (cnt.qlinear)
        mof_pass_stat(pc, "qlinear-nodes", (int64_t)cnt.qlinear);
    size_t kept = 0;
    for (size_t t = 0; t < r.n_targets; t++)
        kept += r.targets[t].kept_float;
    if (kept)
        mof_pass_stat(pc, "kept-float", (int64_t)kept);
    st = cnt.nodes ? MOF_OK : MOF_UNCHANGED;
done:
    ref_set_free(&rs, r.report_n);
    run_free(&r);
    mof_model_destroy(r.model);
    return st;
}

static const mof_pass_desc quantize_static_desc = {
    .size = sizeof(mof_pass_desc),
    .name = "quantize-static",
    .summary = "post-training int8 quantization calibrated on sample inputs (QDQ or QOperator)",
    .help = "Calibrates activation ranges on sample inputs (min/max, percentile or entropy), "
            "quantizes Conv/Gemm/MatMul weights per channel and activations per tensor, and "
            "writes QuantizeLinear/DequantizeLinear pairs (or QLinearConv/QLinearMatMul). "
            "Prints an SQNR report per tensor; keep-float=N leaves the N most sensitive nodes "
            "float. Run fusion's fuse-conv-bn first.",
    .params = qs_params,
    .priv_size = sizeof(qs_pass),
    .flags = MOF_PASS_CHANGES_NUMERICS,
    .tolerance = 0.25,
    .run = qs_run_pass,
};

mof_status quant_register_static(mof_registrar *r)
{
    return mof_register_pass(r, &quantize_static_desc);
}
