/* prune.h: what the files of the pruning plugin share (private to the plugin; the
 * helpers live in prune.c, the measures in flops.c).
 *
 * Every pruning pass picks its layers the same way (prune_select): by op type
 * (op-types, default Conv,MatMul,Gemm; mof.FusedConv, mof.FusedGemm and
 * mof.FusedMatMul count as their ONNX op), by node name (nodes, exclude-nodes: lists of
 * fnmatch patterns separated by commas, spaces, ';' or '|', matched against the node
 * name, or the first origin of an unnamed node), and by size (min-params: a weight of
 * fewer elements is left alone). The weight is the product's second input (Conv W,
 * Gemm B, MatMul B) when it is a float initializer that is not a graph input or
 * output. Every pass measures the model before and after (prune_measure) and reports
 * the difference as statistics and one note. */
#ifndef MOF_PASSES_PRUNING_H
#define MOF_PASSES_PRUNING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mof/mof.h>

/* The products the passes know. */
typedef enum prune_kind {
    PRUNE_CONV = 0,
    PRUNE_CONV_TRANSPOSE = 1,
    PRUNE_GEMM = 2,
    PRUNE_MATMUL = 3,
    PRUNE_N_KINDS = 4,
} prune_kind;

/* The selection parameters. Each pass's private struct starts with this. */
struct prune_select {
    const char *op_types;
    const char *nodes;
    const char *exclude_nodes;
    int64_t min_params;
};

/* Parameter table entries for the selection (op_types_def: the default list). */
#define PRUNE_SELECT_PARAMS(type_, op_types_def_, op_types_help_)                         \
    { .name = "op-types", .help = op_types_help_, .type = MOF_PARAM_STRING,               \
      .offset = offsetof(type_, sel.op_types), .def = op_types_def_ },                     \
    { .name = "nodes",                                                                     \
      .help = "only these nodes: names or fnmatch patterns, separated by commas or spaces "\
              "(empty: every node)",                                                       \
      .type = MOF_PARAM_STRING, .offset = offsetof(type_, sel.nodes), .def = "" },         \
    { .name = "exclude-nodes",                                                             \
      .help = "never these nodes: names or fnmatch patterns, separated by commas or spaces",\
      .type = MOF_PARAM_STRING, .offset = offsetof(type_, sel.exclude_nodes), .def = "" }, \
    { .name = "min-params",                                                                \
      .help = "leave weights of fewer elements than this alone (small layers)",            \
      .type = MOF_PARAM_INT, .offset = offsetof(type_, sel.min_params), .def = "0",        \
      .min = 0, .max = 1e15, .flags = MOF_PARAM_RANGE }

/* Model measures (flops.c). FLOPs count 2 per multiply-add of Conv, ConvTranspose,
 * Gemm and MatMul (and their mof.Fused forms) from inferred shapes; a dim that is not
 * known (a symbolic batch) counts as 1. nonzero_flops scales each product by its
 * constant weight's density (the work a sparse kernel that skips zeros would do). */
typedef struct prune_measure {
    int64_t params;          /* elements of all initializers, subgraphs included */
    int64_t nonzero;         /* of those, the nonzero ones */
    int64_t bytes;           /* bytes of all initializers */
    int64_t flops;
    int64_t nonzero_flops;
    bool flops_known;        /* shape inference could run */
} prune_measure;

/* Measures the model. Shape inference runs on a copy, with its own context, so the
 * model and the diagnostics do not change. Returns MOF_ERR_NOMEM or MOF_OK. */
mof_status prune_measure_model(const mof_model *model, prune_measure *m);

/* One run of a pruning pass. */
typedef struct prune_run {
    mof_pass_ctx *pc;
    mof_context *ctx;
    mof_model *model;
    const struct prune_select *sel;
    unsigned kinds;              /* bit (1u << prune_kind) per selected op type */
    char **include, **exclude;   /* the patterns, NULL-terminated */
    bool *include_used;          /* which include patterns matched a node */
    prune_measure before;
} prune_run;

/* Parses the selection, checks that each `nodes` pattern names a node of the model
 * (an error otherwise; an unmatched exclude-nodes pattern is a warning), and measures
 * the model. allowed: the kinds this pass accepts (others in op-types are an error). */
mof_status prune_begin(prune_run *r, mof_pass_ctx *pc, mof_model *model,
                       const struct prune_select *sel, unsigned allowed);
/* Measures the model again, records the statistics and writes the note
 * "<pass>: <summary>; params P -> P' (nonzero N -> N'), bytes B -> B', FLOPs F -> F'
 * (nonzero F0 -> F0')", then frees what prune_begin allocated. st: the pass's status
 * so far, returned unless measuring fails; on an error only the freeing is done. */
mof_status prune_end(prune_run *r, mof_status st, const char *summary);
/* Records the statistics of an elementwise pruning (prune-magnitude, prune-nm):
 * layers-pruned, weights (their elements), weights-zeroed. Returns MOF_OK when a
 * weight was zeroed, else MOF_UNCHANGED. */
mof_status prune_zeroed_stats(prune_run *r, int64_t layers, int64_t weights, int64_t zeroed);

/* The kind of a node: Conv, ConvTranspose, Gemm, MatMul of the ONNX domain, or
 * mof.FusedConv, mof.FusedGemm, mof.FusedMatMul. */
bool prune_node_kind(const mof_node *n, prune_kind *kind);
/* The node is of a selected kind and passes nodes / exclude-nodes. */
bool prune_node_selected(prune_run *r, const mof_node *n);
/* The node's name, else its first origin, else its op type (borrowed). */
const char *prune_label(const mof_node *n);
/* n is op_type of the ONNX domain. */
bool prune_is_op(const mof_node *n, const char *op_type);

/* The tensor v is known to hold: an initializer that is not a graph input, or the
 * output of a Constant node with `value` (borrowed); NULL otherwise. */
const mof_tensor *prune_constant(const mof_value *v);
/* A weight the passes may prune: a FLOAT initializer that is not a graph input or
 * output (its tensor is never written: the passes make new tensors). */
bool prune_is_weight(const mof_value *v);

/* A weight to prune, and the first selected node that reads it. */
typedef struct prune_weight {
    mof_value *value;
    const mof_node *node;
    prune_kind kind;
    int axis;                    /* the reduction axis of the weight (prune-nm) */
} prune_weight;

/* The reduction axis of a product's weight of that rank: Conv W [K, C/g, ...] axis 1
 * (input channels), ConvTranspose W [C, K/g, ...] axis 0, Gemm B axis 0 ([K, N]) or 1
 * with transB ([N, K]), MatMul B axis rank-2 ([..., K, N]; 0 for a vector). */
int prune_reduction_axis(prune_kind kind, const mof_node *n, size_t rank);

/* The weights of the selected nodes of every graph, each once (a weight shared by
 * several selected nodes is one entry), in graph order (*out malloc'ed). A weight that
 * is not a float constant, or that something other than a selected node's weight
 * input reads, or that has a different reduction axis for another reader, is left out
 * with a note; one of fewer than min-params elements is left out silently. Both are
 * counted in the statistic "layers-skipped". */
mof_status prune_collect_weights(prune_run *r, prune_weight **out, size_t *n);

/* Replaces input `index` of node n with tensor t (taken over): in place when the
 * initializer is read by n alone, else as a new initializer named after the old one
 * (the old one stays for its other readers). */
mof_status prune_set_input_tensor(prune_run *r, mof_node *n, size_t index, mof_tensor *t);

/* Reports "out of memory" and returns MOF_ERR_NOMEM. */
mof_status prune_nomem(prune_run *r);

/* Runs the model in the interpreter on the calibration data of folder spec with the
 * observer fn (calib.c): test_data_set_<k>/ sub-folders, one run each, or one input set
 * (input_0.pb, ... or NAME.npy / NAME.pb per graph input) whose first dim stacks the
 * samples, run in chunks. *n_samples receives the samples run. Errors name the folder
 * or file. */
mof_status prune_calibrate(prune_run *r, const char *spec, mof_interp_observer fn, void *user,
                           int64_t *n_samples);

/* The pass descriptors. */
extern const mof_pass_desc prune_magnitude_pass;
extern const mof_pass_desc prune_nm_pass;
extern const mof_pass_desc prune_channels_pass;

#endif
