/* fusion.h: what the pass files of the fusion plugin share (private to the plugin;
 * the helpers live in fusion.c).
 *
 * Every fusion pass is a visitor: fusion_run_pass() walks each graph of the model
 * (subgraphs included, at the node that owns them) and hands every node to the pass,
 * which treats it as the LAST node of a candidate pattern and matches backwards, along
 * the inputs, as mof_match_chain does. Since every node of a pattern then comes before
 * the visited one, a rewrite may remove the visited node and nodes before it, and
 * insert nodes before it, without disturbing the walk.
 *
 * A match that failed after it started (the visited node is the pattern's own op, or
 * the pattern's distinctive op was reached) is a near miss: the pass records how far
 * it got and the first check that failed, in a mof_match_failure, and hands it to
 * fusion_near_miss(), which counts it and, with the pass parameter explain=true,
 * reports it as a note on the visited node. */
#ifndef MOF_PASSES_FUSION_H
#define MOF_PASSES_FUSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mof/mof.h>

/* ------------------------------------------------------------------ passes */

/* The parameters of every fusion pass (fusion_params_table). */
struct fusion_params {
    bool explain;
};
extern const mof_param_desc fusion_params_table[];

/* One run of a fusion pass. */
typedef struct fusion_run {
    mof_pass_ctx *pc;
    mof_context *ctx;
    mof_model *model;
    bool explain;
    int64_t opset;           /* the model's opset of the default domain */
    int64_t rewrites;
    int64_t near_misses;
} fusion_run;

/* Looks at n as the last node of a pattern. Returns MOF_OK after a rewrite,
 * MOF_UNCHANGED when there was none, or an error (reported). */
typedef mof_status (*fusion_visit_fn)(fusion_run *r, mof_node *n);

/* Runs visit over every node of every graph of the model, then records the
 * "near-misses" statistic. Returns MOF_OK when something was rewritten, MOF_UNCHANGED
 * when not, or the first error. priv is the pass's struct fusion_params. */
mof_status fusion_run_pass(mof_pass_ctx *pc, mof_model *model, const void *priv,
                           fusion_visit_fn visit);

/* Counts one rewrite, under the statistic `stat` ("conv-bn"). */
void fusion_count(fusion_run *r, const char *stat);

/* ------------------------------------------------------------------ matching */

/* Fails a match: fills *why (may be NULL) and returns false. */
bool fusion_fail(mof_match_failure *why, size_t matched, const mof_node *at, const char *fmt,
                 ...) MOF_PRINTF(4, 5);

/* Records a near miss of `pattern` ("Conv -> BatchNormalization", total nodes) whose
 * match started at anchor and stopped as *why says. */
void fusion_near_miss(fusion_run *r, const mof_node *anchor, const char *pattern,
                      size_t total, const mof_match_failure *why);

/* How a node is named in messages: its name, else its first origin, else its op type
 * (borrowed). */
const char *fusion_label(const mof_node *n);

/* n is op_type of the default ONNX domain. */
bool fusion_is_op(const mof_node *n, const char *op_type);

/* The node computing v in v's own graph, or NULL (graph inputs, initializers, values
 * captured from an enclosing graph, NULL). */
mof_node *fusion_producer(const mof_value *v);

/* The tensor v is known to hold: an initializer that is not a graph input, or the
 * output of a Constant node with a `value` (borrowed); NULL otherwise. */
const mof_tensor *fusion_constant(const mof_value *v);

/* v is a constant with one element of a number type; *out receives it. */
bool fusion_scalar(const mof_value *v, double *out);

/* a and b agree to a relative 1e-4 (for constants written in float). */
bool fusion_close(double a, double b);

/* The operand of a two-input node other than `v`; NULL when v is not an input. */
mof_value *fusion_other_input(const mof_node *n, const mof_value *v);

/* Checks that the values computed inside a pattern stay inside it: every output of
 * nodes[0..n-1] other than `result` is not a graph output and is read only by those
 * nodes. On failure fills *why with `matched`. */
bool fusion_check_uses(mof_node *const *nodes, size_t n, const mof_value *result,
                       size_t matched, mof_match_failure *why);

/* Element type of a value as far as it is known (MOF_DTYPE_UNDEFINED otherwise). */
mof_dtype fusion_dtype(const mof_value *v);

bool fusion_is_float(mof_dtype t);

/* ------------------------------------------------------------------ numbers */

/* The elements of a FLOAT or DOUBLE tensor as doubles (malloc'ed, numel entries, at
 * least one allocated); NULL for other types or when out of memory. */
double *fusion_read_f64(const mof_tensor *t);

/* A new FLOAT or DOUBLE tensor from doubles (rounded once); NULL when out of memory. */
mof_tensor *fusion_tensor_f64(mof_dtype dtype, size_t rank, const int64_t *dims,
                              const double *data);

/* ------------------------------------------------------------------ rewriting */

/* Reports "out of memory" and returns MOF_ERR_NOMEM. */
mof_status fusion_nomem(fusion_run *r);

/* Adds t (taken over; NULL means the allocation failed) as an initializer of g named
 * after hint. NULL after reporting when out of memory. */
mof_value *fusion_add_constant(fusion_run *r, mof_graph *g, const char *hint, mof_tensor *t);

/* Creates a node with one output just before `before`, named after name_from (its
 * name, when it has one), with the given inputs. NULL after reporting. */
mof_node *fusion_add_node(fusion_run *r, mof_node *before, const char *op_type,
                          const char *domain, const mof_node *name_from, size_t n_in,
                          mof_value *const *in);

/* Adds the origins of each of src[0..n-1] to dst (provenance). */
mof_status fusion_add_origins(fusion_run *r, mof_node *dst, size_t n, mof_node *const *src);

/* Makes new_out stand for old_out: new_out takes old_out's type, its uses and its
 * place among the graph outputs; then the nodes remove[0..n-1] (now unused; entries
 * are set to NULL as they go) are removed, and new_out takes old_out's name when it
 * is free (a graph output has it already). */
mof_status fusion_replace(fusion_run *r, mof_value *old_out, mof_value *new_out,
                          size_t n_remove, mof_node **remove);

/* Makes sure the model imports the "mof" domain (mof/fused.h). */
mof_status fusion_import_mof(fusion_run *r);

/* The pass descriptors, one per file. */
extern const mof_pass_desc fusion_conv_bn_pass;
extern const mof_pass_desc fusion_bias_pass;
extern const mof_pass_desc fusion_matmul_add_pass;
extern const mof_pass_desc fusion_activation_pass;
extern const mof_pass_desc fusion_gelu_pass;
extern const mof_pass_desc fusion_layernorm_pass;
extern const mof_pass_desc fusion_attention_pass;
extern const mof_pass_desc fusion_fold_pad_pass;
extern const mof_pass_desc fusion_softmax_pass;

#endif
