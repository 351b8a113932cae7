/* mof/ir.h: the in-memory graph IR: models, graphs, nodes, values and tensors, and the
 * mutation API that passes are written in.
 *
 * Ownership: a model owns its graph; a graph owns its nodes, values and names; a node
 * owns its attributes (and through them its subgraphs). Tensors are reference counted
 * and immutable once shared, so copying a graph costs pointers, not weights.
 *
 * Values are SSA: each has at most one producer (a node output) and an exact list of
 * uses, kept by the functions below; passes never edit use lists by hand. A node input
 * may be NULL: an omitted optional input (ONNX's empty name).
 *
 * Iteration is by index or along the node list, never in hash order, so everything mof
 * writes is deterministic. Pointers to nodes and values stay valid until that node or
 * value is removed; strings returned by the accessors stay valid until the object is
 * changed or destroyed. */
#ifndef MOF_IR_H
#define MOF_IR_H

#include <mof/common.h>
#include <mof/context.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ tensors */

/* Creates a tensor of the given type and shape, zero-filled (empty strings for
 * STRING). rank 0 is a scalar. Returns NULL when out of memory or when the size
 * overflows. The caller owns one reference. */
MOF_API mof_tensor *mof_tensor_create(mof_dtype dtype, size_t rank, const int64_t *dims);
/* Like mof_tensor_create, then copies nbytes = numel * dtype size from data (not for
 * STRING). */
MOF_API mof_tensor *mof_tensor_create_from(mof_dtype dtype, size_t rank, const int64_t *dims,
                                           const void *data);
/* Adds a reference; returns t. */
MOF_API mof_tensor *mof_tensor_ref(mof_tensor *t);
/* Drops a reference and frees the tensor with the last. NULL is a no-op. */
MOF_API void mof_tensor_unref(mof_tensor *t);

MOF_API mof_dtype mof_tensor_dtype(const mof_tensor *t);
MOF_API size_t mof_tensor_rank(const mof_tensor *t);
/* The dims (borrowed, rank entries). */
MOF_API const int64_t *mof_tensor_dims(const mof_tensor *t);
MOF_API int64_t mof_tensor_numel(const mof_tensor *t);
/* numel * element size (for STRING: numel * sizeof(mof_string)). */
MOF_API size_t mof_tensor_nbytes(const mof_tensor *t);
/* The elements in row-major order (borrowed; mof_string elements for STRING). */
MOF_API const void *mof_tensor_data(const mof_tensor *t);
/* Writable elements, only while the caller holds the only reference and the data is
 * not borrowed from a mapped file; NULL otherwise (make a copy with mof_tensor_dup). */
MOF_API void *mof_tensor_data_mut(mof_tensor *t);
/* A deep copy with its own data (one reference, owned). NULL when out of memory. */
MOF_API mof_tensor *mof_tensor_dup(const mof_tensor *t);
/* True when both have the same type, shape and bytes. */
MOF_API bool mof_tensor_equal(const mof_tensor *a, const mof_tensor *b);
/* True when the data lives in an external-data file (memory-mapped, read-only). */
MOF_API bool mof_tensor_is_external(const mof_tensor *t);

/* ------------------------------------------------------------------ values */

/* Dims of a value's shape: a number, a symbol (dim_param) or unknown. */
#define MOF_DIM_UNKNOWN (-1)

/* The value's name (borrowed). Never NULL; unique within its graph. */
MOF_API const char *mof_value_name(const mof_value *v);
/* Renames a value. MOF_ERR_INVALID_ARG if the name is taken or empty. */
MOF_API mof_status mof_value_set_name(mof_value *v, const char *name);
MOF_API mof_graph *mof_value_graph(const mof_value *v);

/* Whether the value has a tensor type (element type and possibly shape). */
MOF_API bool mof_value_has_type(const mof_value *v);
MOF_API mof_dtype mof_value_dtype(const mof_value *v);
/* Rank of the shape, or -1 when the shape is unknown. */
MOF_API int mof_value_rank(const mof_value *v);
/* Size of dim i, or MOF_DIM_UNKNOWN when it is symbolic or unknown. */
MOF_API int64_t mof_value_dim(const mof_value *v, size_t i);
/* Symbol of dim i ("N"), or NULL when it is a number or unknown (borrowed). */
MOF_API const char *mof_value_dim_symbol(const mof_value *v, size_t i);
/* Sets the tensor type: rank < 0 means unknown shape; dims[i] < 0 with syms[i] (may be
 * NULL) gives a symbolic or unknown dim. syms may be NULL. */
MOF_API mof_status mof_value_set_type(mof_value *v, mof_dtype dtype, int rank,
                                      const int64_t *dims, const char *const *syms);
/* Copies src's type (tensor or otherwise) onto dst. */
MOF_API mof_status mof_value_copy_type(mof_value *dst, const mof_value *src);

/* The node producing v and which of its outputs v is (out_index may be NULL), or NULL
 * for graph inputs, initializers and values captured from an enclosing graph. */
MOF_API mof_node *mof_value_producer(const mof_value *v, size_t *out_index);
/* Number of node uses (a graph output is not counted; see mof_value_is_graph_output). */
MOF_API size_t mof_value_n_uses(const mof_value *v);
/* The i-th use: the node and which input (input_index may be NULL). input_index is -1
 * for an implicit use: a subgraph of that node reads v from the enclosing scope. */
MOF_API mof_node *mof_value_use(const mof_value *v, size_t i, int *input_index);
MOF_API bool mof_value_is_graph_input(const mof_value *v);
MOF_API bool mof_value_is_graph_output(const mof_value *v);
/* True for initializers (constant tensors of the graph), including initializers that
 * are also listed as graph inputs (overridable defaults, IR version < 4). */
MOF_API bool mof_value_is_initializer(const mof_value *v);
/* True for an initializer that is not also a graph input: its value is known. */
MOF_API bool mof_value_is_constant(const mof_value *v);
/* The initializer's tensor (borrowed), or NULL. */
MOF_API mof_tensor *mof_value_tensor(const mof_value *v);
/* Replaces an initializer's tensor (the reference is taken over). */
MOF_API mof_status mof_value_set_tensor(mof_value *v, mof_tensor *take);

/* Makes every use of old_v a use of new_v. If old_v is a graph output, new_v takes its
 * place and its name (a graph's interface never changes name); that is refused with
 * MOF_ERR_INVALID_ARG when new_v is itself a graph input, output or initializer (see
 * mof_value_can_replace). */
MOF_API mof_status mof_value_replace_uses(mof_value *old_v, mof_value *new_v);
MOF_API bool mof_value_can_replace(const mof_value *old_v, const mof_value *new_v);

/* ------------------------------------------------------------------ attributes */

typedef enum mof_attr_type {
    MOF_ATTR_UNDEFINED = 0,
    MOF_ATTR_FLOAT = 1,
    MOF_ATTR_INT = 2,
    MOF_ATTR_STRING = 3,
    MOF_ATTR_TENSOR = 4,
    MOF_ATTR_GRAPH = 5,
    MOF_ATTR_FLOATS = 6,
    MOF_ATTR_INTS = 7,
    MOF_ATTR_STRINGS = 8,
    MOF_ATTR_TENSORS = 9,
    MOF_ATTR_GRAPHS = 10,
    MOF_ATTR_SPARSE_TENSOR = 11,
    MOF_ATTR_SPARSE_TENSORS = 12,
    MOF_ATTR_TYPE_PROTO = 13,
    MOF_ATTR_TYPE_PROTOS = 14,
} mof_attr_type;

MOF_API size_t mof_node_n_attrs(const mof_node *n);
/* Name of the i-th attribute (borrowed). */
MOF_API const char *mof_node_attr_name(const mof_node *n, size_t i);
/* Type of the named attribute, MOF_ATTR_UNDEFINED when absent. */
MOF_API mof_attr_type mof_node_attr_type(const mof_node *n, const char *name);
MOF_API bool mof_node_has_attr(const mof_node *n, const char *name);
/* Getters return def when the attribute is absent or of another type. */
MOF_API int64_t mof_node_attr_int(const mof_node *n, const char *name, int64_t def);
MOF_API float mof_node_attr_float(const mof_node *n, const char *name, float def);
/* Borrowed; *size (may be NULL) receives the length. NUL-terminated. */
MOF_API const char *mof_node_attr_string(const mof_node *n, const char *name, const char *def,
                                         size_t *size);
/* Borrowed arrays; *count receives the length (0 and NULL when absent). */
MOF_API const int64_t *mof_node_attr_ints(const mof_node *n, const char *name, size_t *count);
MOF_API const float *mof_node_attr_floats(const mof_node *n, const char *name, size_t *count);
/* Borrowed tensor, NULL when absent. */
MOF_API mof_tensor *mof_node_attr_tensor(const mof_node *n, const char *name);
/* Borrowed subgraph of a GRAPH attribute, NULL when absent. */
MOF_API mof_graph *mof_node_attr_graph(const mof_node *n, const char *name);

/* Setters replace an attribute of the same name or append a new one. */
MOF_API mof_status mof_node_set_attr_int(mof_node *n, const char *name, int64_t v);
MOF_API mof_status mof_node_set_attr_float(mof_node *n, const char *name, float v);
MOF_API mof_status mof_node_set_attr_string(mof_node *n, const char *name, const char *v);
MOF_API mof_status mof_node_set_attr_ints(mof_node *n, const char *name, size_t count,
                                          const int64_t *v);
MOF_API mof_status mof_node_set_attr_floats(mof_node *n, const char *name, size_t count,
                                            const float *v);
/* Takes over the caller's reference to t. */
MOF_API mof_status mof_node_set_attr_tensor(mof_node *n, const char *name, mof_tensor *t);
/* Removes the attribute; MOF_UNCHANGED when it was absent. */
MOF_API mof_status mof_node_remove_attr(mof_node *n, const char *name);
/* Copies every attribute of src onto dst (subgraphs are deep-copied). */
MOF_API mof_status mof_node_copy_attrs(mof_node *dst, const mof_node *src);

/* ------------------------------------------------------------------ nodes */

MOF_API const char *mof_node_op_type(const mof_node *n);
/* The operator domain; "" is the default ONNX domain (never NULL). */
MOF_API const char *mof_node_domain(const mof_node *n);
/* The node name; may be "". */
MOF_API const char *mof_node_name(const mof_node *n);
MOF_API mof_status mof_node_set_name(mof_node *n, const char *name);
/* A number unique within the graph, given at creation and never reused. */
MOF_API uint32_t mof_node_id(const mof_node *n);
MOF_API mof_graph *mof_node_graph(const mof_node *n);

MOF_API size_t mof_node_n_inputs(const mof_node *n);
/* The i-th input, NULL for an omitted optional input. */
MOF_API mof_value *mof_node_input(const mof_node *n, size_t i);
MOF_API size_t mof_node_n_outputs(const mof_node *n);
/* The i-th output, NULL for an omitted optional output. */
MOF_API mof_value *mof_node_output(const mof_node *n, size_t i);
/* Sets input i (i == n_inputs appends); v may be NULL. Use lists are updated. */
MOF_API mof_status mof_node_set_input(mof_node *n, size_t i, mof_value *v);
/* Drops trailing inputs so that the node has count inputs. */
MOF_API mof_status mof_node_truncate_inputs(mof_node *n, size_t count);

/* The nodes of the graph in order, as a list: for (n = first; n; n = next(n)). */
MOF_API mof_node *mof_node_next(const mof_node *n);
MOF_API mof_node *mof_node_prev(const mof_node *n);

/* Provenance: names of the input model's nodes this node came from. A loaded node
 * starts with its own name (or "op_type#index" when unnamed); nodes created by passes
 * start with none and get them with mof_node_add_origins(). */
MOF_API size_t mof_node_n_origins(const mof_node *n);
MOF_API const char *mof_node_origin(const mof_node *n, size_t i);
/* Adds src's origins to dst (duplicates skipped, order kept). */
MOF_API mof_status mof_node_add_origins(mof_node *dst, const mof_node *src);

/* Subgraphs held by the node's GRAPH/GRAPHS attributes, in attribute order. */
MOF_API size_t mof_node_n_subgraphs(const mof_node *n);
MOF_API mof_graph *mof_node_subgraph(const mof_node *n, size_t i);

/* ------------------------------------------------------------------ graphs */

MOF_API const char *mof_graph_name(const mof_graph *g);
/* The node owning this subgraph, NULL for the main graph. */
MOF_API mof_node *mof_graph_parent(const mof_graph *g);
MOF_API mof_model *mof_graph_model(const mof_graph *g);

MOF_API size_t mof_graph_n_nodes(const mof_graph *g);
MOF_API mof_node *mof_graph_first_node(const mof_graph *g);
MOF_API mof_node *mof_graph_last_node(const mof_graph *g);
MOF_API size_t mof_graph_n_inputs(const mof_graph *g);
MOF_API mof_value *mof_graph_input(const mof_graph *g, size_t i);
MOF_API size_t mof_graph_n_outputs(const mof_graph *g);
MOF_API mof_value *mof_graph_output(const mof_graph *g, size_t i);
MOF_API size_t mof_graph_n_initializers(const mof_graph *g);
MOF_API mof_value *mof_graph_initializer(const mof_graph *g, size_t i);
/* The value of that name in this graph (not its enclosing graphs), or NULL. */
MOF_API mof_value *mof_graph_find_value(const mof_graph *g, const char *name);

/* Where a new node goes: before or after anchor; anchor NULL means at the end (AFTER)
 * or at the start (BEFORE). */
typedef enum mof_insert { MOF_INSERT_BEFORE, MOF_INSERT_AFTER } mof_insert;

/* Creates a node with the given inputs (entries may be NULL) and n_outputs new output
 * values named after the node ("name", "name_1", ... made unique). name may be NULL
 * for a generated one; domain NULL means "". Returns NULL with a diagnostic on error. */
MOF_API mof_node *mof_graph_add_node(mof_graph *g, mof_insert where, mof_node *anchor,
                                     const char *op_type, const char *domain,
                                     const char *name, size_t n_inputs,
                                     mof_value *const *inputs, size_t n_outputs);
/* Removes a node whose outputs have no uses and are not graph outputs; its input uses
 * are dropped and its outputs destroyed. MOF_ERR_INVALID_ARG when it is still used. */
MOF_API mof_status mof_graph_remove_node(mof_graph *g, mof_node *n);
/* Moves node n to just before anchor (for passes that reorder). */
MOF_API mof_status mof_graph_move_node(mof_graph *g, mof_node *n, mof_insert where,
                                       mof_node *anchor);

/* Adds a graph input named `name` (exactly; MOF_ERR_INVALID_ARG via NULL when the name
 * is taken) of the given tensor type (rank < 0: unknown shape; dims < 0 with syms[i]:
 * a symbolic dim; syms may be NULL), at the end of the input list. NULL on error. */
MOF_API mof_value *mof_graph_add_input(mof_graph *g, const char *name, mof_dtype dtype, int rank,
                                       const int64_t *dims, const char *const *syms);
/* Lists v, a value of g, at the end of the graph's outputs. */
MOF_API mof_status mof_graph_add_output(mof_graph *g, mof_value *v);
/* Creates an empty subgraph named graph_name owned by node n as its GRAPH attribute
 * attr_name (replacing one of that name). Its nodes may read values of enclosing
 * graphs (they are captured by name). Returns the subgraph (borrowed), NULL when out
 * of memory. */
MOF_API mof_graph *mof_node_add_subgraph(mof_node *n, const char *attr_name,
                                         const char *graph_name);

/* Adds an initializer: a constant value named after name_hint (made unique), taking
 * over the reference to t. Returns NULL when out of memory. */
MOF_API mof_value *mof_graph_add_initializer(mof_graph *g, const char *name_hint, mof_tensor *t);
/* Removes an initializer that nothing uses (and that is not a graph input or output). */
MOF_API mof_status mof_graph_remove_initializer(mof_graph *g, mof_value *v);
/* Returns a name not used in g or any graph enclosing or enclosed by it, derived from
 * hint (malloc'ed, owned by the caller). */
MOF_API char *mof_graph_unique_name(const mof_graph *g, const char *hint);

/* Checks every invariant of the graph and its subgraphs: use lists match inputs,
 * nodes are in topological order, every input is defined (in this graph or an
 * enclosing one), names are unique, initializer tensors match their values' types.
 * Each violation is reported (naming the node); returns MOF_ERR_VERIFY if any. */
MOF_API mof_status mof_graph_verify(mof_context *ctx, const mof_graph *g);

/* ------------------------------------------------------------------ pattern matching */

/* Why a chain match stopped; see mof_match_chain. */
typedef struct mof_match_failure {
    size_t matched;         /* how many nodes of the chain matched, from the last */
    const mof_node *at;     /* the node where the check failed (borrowed), may be NULL */
    char reason[128];       /* e.g. "Conv output has 2 uses" */
} mof_match_failure;

/* Matches a chain of single-input-path ops ending at `last`, e.g. {"Conv",
 * "BatchNormalization", "Relu"} matches Conv -> BN -> Relu where Relu is `last`. Each
 * link follows input 0 of the later node; every value between two nodes of the chain
 * must have exactly one use and not be a graph output. Ops are in the default domain.
 * On success stores the nodes (first to last) in nodes[0..n_ops-1] and returns true;
 * otherwise fills *why (may be NULL) and returns false. */
MOF_API bool mof_match_chain(const mof_node *last, size_t n_ops, const char *const *ops,
                             mof_node **nodes, mof_match_failure *why);

/* ------------------------------------------------------------------ models */

/* Creates an empty model (IR version 8, opset 13 of the default domain, an empty main
 * graph named "main"). Owned by the caller. */
MOF_API mof_model *mof_model_create(mof_context *ctx);
MOF_API void mof_model_destroy(mof_model *m);
/* A deep copy of the structure; tensors are shared. NULL when out of memory. */
MOF_API mof_model *mof_model_dup(const mof_model *m);
MOF_API mof_context *mof_model_context(const mof_model *m);
MOF_API mof_graph *mof_model_graph(const mof_model *m);

MOF_API int64_t mof_model_ir_version(const mof_model *m);
/* Opset of a domain ("" or "ai.onnx" for the default), -1 when not imported. */
MOF_API int64_t mof_model_opset(const mof_model *m, const char *domain);
/* Imports domain at version (replacing an existing import). */
MOF_API mof_status mof_model_set_opset(mof_model *m, const char *domain, int64_t version);
MOF_API size_t mof_model_n_opsets(const mof_model *m);
MOF_API const char *mof_model_opset_domain(const mof_model *m, size_t i);
MOF_API int64_t mof_model_opset_version(const mof_model *m, size_t i);
/* Producer name and version (borrowed, "" when absent). */
MOF_API const char *mof_model_producer_name(const mof_model *m);
MOF_API const char *mof_model_producer_version(const mof_model *m);

/* metadata_props, in order. get returns NULL when absent. set replaces or appends. */
MOF_API size_t mof_model_n_metadata(const mof_model *m);
MOF_API const char *mof_model_metadata_key(const mof_model *m, size_t i);
MOF_API const char *mof_model_metadata_value(const mof_model *m, size_t i);
MOF_API const char *mof_model_metadata_get(const mof_model *m, const char *key);
MOF_API mof_status mof_model_metadata_set(mof_model *m, const char *key, const char *value);

/* Counts over the main graph and its subgraphs. */
typedef struct mof_model_stats {
    size_t n_nodes;           /* all nodes, subgraphs included */
    size_t n_initializers;
    int64_t n_parameters;     /* elements of all initializers */
    int64_t parameter_bytes;  /* bytes of all initializers */
} mof_model_stats;
MOF_API void mof_model_get_stats(const mof_model *m, mof_model_stats *stats);

#ifdef __cplusplus
}
#endif
#endif
