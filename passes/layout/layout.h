/* layout.h: what the files of the layout plugin share (private to the plugin).
 *
 * sink.c holds the transpose-sinking engine and the sink-transposes pass; nhwc.c the
 * to-nhwc pass, which wraps convolutions and pools in Transposes and then lets the
 * engine cancel every pair that meets inside the converted region; layout.c registers
 * both and documents the mof.Nhwc* operators. */
#ifndef MOF_PASSES_LAYOUT_H
#define MOF_PASSES_LAYOUT_H

#include <stdint.h>

#include <mof/mof.h>

/* What one run of the engine did. */
struct layout_sink_stats {
    int64_t rewrites;   /* nodes moved across a Transpose, and Transposes merged */
    int64_t moved;      /* rewrites that moved Transposes without removing any */
    int64_t merged;     /* Transpose pairs merged into one or cancelled */
};

/* The rewrites per graph to-nhwc allows the engine (sink-transposes' default). */
#define LAYOUT_MAX_REWRITES 10000

/* Sinks, merges and cancels the Transposes of g and of its subgraphs, making at most
 * max_rewrites rewrites per graph. opset is the model's ONNX opset. The number of
 * Transposes never grows. Returns MOF_OK or MOF_ERR_NOMEM (then the graph is
 * consistent but half rewritten: the pass manager restores it). */
mof_status layout_sink_graph(mof_graph *g, int64_t opset, int64_t max_rewrites,
                             struct layout_sink_stats *stats);

/* The rank of v: its shape's, a constant's, or else what its producers say (a
 * Transpose's perm, the rank that elementwise ops, convolutions and pools keep),
 * looking a bounded way back; -1 when unknown. opset is the model's ONNX opset. */
int layout_value_rank(const mof_value *v, int64_t opset);

/* ONNX Transpose nodes in g and its subgraphs. */
int64_t layout_count_transposes(const mof_graph *g);

/* The permutation that moves the channel axis (1) of a rank-r tensor last:
 * {0, 2, 3, ..., r-1, 1}; with to_last false its inverse {0, r-1, 1, ..., r-2}.
 * perm has r entries, r >= 2. */
void layout_channels_perm(size_t r, bool to_last, int64_t *perm);

/* Sets dst's type to src's with its dims permuted as Transpose(perm) permutes them
 * (dim i of dst is dim perm[i] of src); nothing when src has no type. */
mof_status layout_copy_permuted_type(mof_value *dst, const mof_value *src,
                                     const int64_t *perm, size_t rank);

/* A new Transpose of v by perm (r entries), placed before or after anchor, its output
 * typed from v's, carrying origin's provenance. NULL when out of memory. */
mof_node *layout_add_transpose(mof_graph *g, mof_insert where, mof_node *anchor, mof_value *v,
                               const int64_t *perm, size_t r, const mof_node *origin);

/* The pass descriptors, registered by layout.c. */
extern const mof_pass_desc layout_sink_transposes_pass;
extern const mof_pass_desc layout_to_nhwc_pass;

#endif
