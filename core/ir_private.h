/* ir_private.h: the IR's data structures, seen by libmof's own modules (the ONNX
 * reader/writer, the pass manager, the printer) and never by plugins.
 *
 * Faithfulness: every IR object that comes from an ONNX message keeps, in `extra`, the
 * packed protobuf bytes of that message holding only the fields the IR does not model
 * (unknown fields included). The writer unpacks `extra`, fills in the modeled fields
 * and packs, so that what mof does not understand survives a load/save unchanged.
 * Optional strings use NULL for "absent" and "" for "present but empty"; optional
 * scalars carry a has_ flag. */
#ifndef MOF_IR_PRIVATE_H
#define MOF_IR_PRIVATE_H

#include <mof/ir.h>

#include "util.h"

/* Packed protobuf bytes of unmodeled fields; size 0 means none. Owned. */
typedef struct mof_blob {
    uint8_t *data;
    size_t size;
} mof_blob;

MOF_INTERNAL void mof_blob_free(mof_blob *b);
MOF_INTERNAL bool mof_blob_copy(mof_blob *dst, const mof_blob *src);

/* ------------------------------------------------------------------ tensors */

/* A read-only file mapping that external-data tensors borrow from. */
typedef struct mof_mapping {
    int refcount;
    void *addr;
    size_t length;
} mof_mapping;

MOF_INTERNAL void mof_mapping_unref(mof_mapping *m);

/* How the tensor's data was stored in its TensorProto, so it is written back alike. */
typedef enum mof_tensor_store {
    MOF_STORE_RAW = 0,      /* raw_data (the default for new tensors) */
    MOF_STORE_TYPED = 1,    /* float_data / int32_data / int64_data / ... by dtype */
    MOF_STORE_EXTERNAL = 2, /* data_location = EXTERNAL */
    MOF_STORE_NONE = 3,     /* no data field at all (zero elements) */
} mof_tensor_store;

/* A key/value pair of a StringStringEntryProto; NULL members are absent. */
typedef struct mof_kv {
    char *key;
    char *value;
} mof_kv;

/* What a TensorProto carried besides type, dims and data. */
typedef struct mof_tensor_proto {
    char *name;              /* TensorProto.name (attribute tensors; initializers use
                                their value's name when written) */
    char *doc_string;
    bool has_data_type;
    mof_tensor_store store;
    bool has_data_location;
    int data_location;
    mof_kv *external;        /* external_data entries, in order */
    size_t n_external;
    mof_blob extra;          /* segment, unknown fields */
} mof_tensor_proto;

struct mof_tensor {
    int refcount;
    mof_dtype dtype;
    size_t rank;
    int64_t *dims;
    int64_t numel;
    size_t nbytes;
    void *data;              /* owned (malloc) unless mapping is set */
    mof_mapping *mapping;    /* borrowed data lives in this mapping */
    mof_tensor_proto *proto; /* NULL for tensors made by mof */
};

/* Creates a tensor around data: `owned` data is freed with the tensor; otherwise it
 * is borrowed from `mapping` (a reference is taken). dims are copied. For STRING,
 * data is an owned array of numel mof_string whose bytes are owned too. */
MOF_INTERNAL mof_tensor *mof_tensor_wrap(mof_dtype dtype, size_t rank, const int64_t *dims,
                                         void *data, size_t nbytes, mof_mapping *mapping);
MOF_INTERNAL void mof_tensor_proto_free(mof_tensor_proto *p);
MOF_INTERNAL mof_tensor_proto *mof_tensor_proto_dup(const mof_tensor_proto *p);
/* numel of dims, or -1 on overflow / negative dims. */
MOF_INTERNAL int64_t mof_dims_numel(size_t rank, const int64_t *dims);

/* ------------------------------------------------------------------ types */

typedef enum mof_dim_kind { MOF_DIM_NONE = 0, MOF_DIM_VALUE = 1, MOF_DIM_PARAM = 2 } mof_dim_kind;

typedef struct mof_dim {
    mof_dim_kind kind;
    int64_t value;
    char *param;
    char *denotation;
} mof_dim;

typedef enum mof_type_kind {
    MOF_TYPE_NONE = 0,       /* no TypeProto */
    MOF_TYPE_TENSOR = 1,     /* tensor_type, modeled */
    MOF_TYPE_OPAQUE = 2,     /* anything else (sequence, map, optional, sparse, or a
                                tensor type with unknown fields): the whole packed
                                TypeProto is in extra */
} mof_type_kind;

typedef struct mof_type {
    mof_type_kind kind;
    bool has_elem_type;
    mof_dtype elem_type;
    bool has_shape;          /* false: unknown rank */
    size_t rank;
    mof_dim *dims;
    char *denotation;        /* TypeProto.denotation */
    mof_blob extra;          /* OPAQUE: the TypeProto; TENSOR: TypeProto unknown fields */
} mof_type;

MOF_INTERNAL void mof_type_clear(mof_type *t);
MOF_INTERNAL bool mof_type_copy(mof_type *dst, const mof_type *src);

/* ------------------------------------------------------------------ values */

typedef struct mof_use {
    mof_node *node;
    int index;               /* input index, -1: implicit use through a subgraph */
} mof_use;

enum {
    MOF_VF_INITIALIZER = 1u << 0,
    MOF_VF_CAPTURE = 1u << 1,    /* read from an enclosing graph (see outer) */
    MOF_VF_UNDEFINED = 1u << 2,  /* named by the model but defined nowhere */
};

struct mof_value {
    mof_graph *graph;
    char *name;
    uint32_t id;
    unsigned flags;
    mof_type type;
    mof_node *producer;
    size_t producer_index;
    mof_use *uses;
    size_t n_uses, cap_uses;
    size_t n_input_refs;     /* listings in graph->inputs */
    size_t n_output_refs;    /* listings in graph->outputs */
    mof_tensor *tensor;      /* initializer data */
    mof_value *outer;        /* MOF_VF_CAPTURE: the value read, in an enclosing graph */
    size_t slot;             /* index in graph->values */
};

/* A ValueInfoProto listing in a graph's input, output or value_info list. */
typedef struct mof_listing {
    mof_value *value;
    char *doc_string;
    mof_blob extra;
    bool untyped;            /* written without a type although the value has one (a
                                later listing of a value that had no TypeProto) */
} mof_listing;

/* ------------------------------------------------------------------ attributes */

typedef struct mof_attr {
    char *name;
    mof_attr_type type;
    bool has_type;           /* the proto's type field was present */
    bool has_value;          /* FLOAT/INT/STRING/TENSOR/GRAPH: the field was present */
    float f;
    int64_t i;
    char *s;                 /* NUL-terminated copy of s_size bytes */
    size_t s_size;
    mof_tensor *t;
    mof_graph *g;
    size_t n;                /* length of the list member in use */
    float *floats;
    int64_t *ints;
    mof_string *strings;
    mof_tensor **tensors;
    mof_graph **graphs;
    char *ref_attr_name;
    char *doc_string;
    mof_blob extra;          /* sparse tensors, type protos, unknown fields */
} mof_attr;

MOF_INTERNAL void mof_attr_clear(mof_attr *a);

/* ------------------------------------------------------------------ nodes */

struct mof_node {
    mof_graph *graph;
    uint32_t id;
    mof_node *prev, *next;
    char *op_type;           /* NULL: absent in the proto */
    char *domain;            /* NULL: absent ("" for the API) */
    char *name;              /* NULL: absent ("" for the API) */
    char *doc_string;
    mof_value **inputs;
    size_t n_inputs, cap_inputs;
    mof_value **outputs;
    size_t n_outputs, cap_outputs;
    mof_attr *attrs;
    size_t n_attrs, cap_attrs;
    char **origins;
    size_t n_origins, cap_origins;
    mof_blob extra;
};

/* ------------------------------------------------------------------ graphs */

struct mof_graph {
    mof_model *model;
    mof_node *parent;        /* the node owning this subgraph, NULL for the main graph */
    char *name;
    char *doc_string;
    mof_node *first, *last;
    size_t n_nodes;
    uint32_t next_node_id;
    uint32_t next_value_id;
    mof_value **values;      /* every value, in creation order (owned) */
    size_t n_values, cap_values;
    mof_map by_name;
    mof_listing *inputs;
    size_t n_inputs, cap_inputs;
    mof_listing *outputs;
    size_t n_outputs, cap_outputs;
    mof_listing *value_infos;
    size_t n_value_infos, cap_value_infos;
    mof_value **initializers;
    size_t n_initializers, cap_initializers;
    mof_blob extra;          /* sparse_initializer, quantization_annotation, unknown */
};

/* ------------------------------------------------------------------ models */

typedef struct mof_opset {
    char *domain;            /* NULL: absent */
    bool has_version;
    int64_t version;
    mof_blob extra;
} mof_opset;

struct mof_model {
    mof_context *ctx;
    bool has_ir_version;
    int64_t ir_version;
    mof_opset *opsets;
    size_t n_opsets, cap_opsets;
    char *producer_name;
    char *producer_version;
    char *domain;
    bool has_model_version;
    int64_t model_version;
    char *doc_string;
    bool has_graph;          /* false: the proto had no graph (the IR still has one) */
    mof_graph *graph;
    mof_kv *metadata;
    size_t n_metadata, cap_metadata;
    mof_blob extra;          /* training_info, functions, unknown fields */
    uint32_t next_name_id;   /* suffix counter of mof_graph_unique_name */
};

/* ------------------------------------------------------------------ construction
 * Used by the reader: these build the IR without the checks of the public mutation
 * API (which the reader's input may not yet satisfy). */

MOF_INTERNAL mof_model *mof_model_new(mof_context *ctx);         /* no graph yet */
MOF_INTERNAL mof_graph *mof_graph_new(mof_model *m, mof_node *parent);
MOF_INTERNAL void mof_graph_free(mof_graph *g);   /* no use-list bookkeeping */
/* Drops the implicit uses that a subgraph's captures hold on values of enclosing
 * graphs; call before freeing a subgraph whose enclosing graph lives on. */
MOF_INTERNAL void mof_graph_release_captures(mof_graph *sub);
/* A new value; NULL when the name is taken in g or out of memory. */
MOF_INTERNAL mof_value *mof_graph_new_value(mof_graph *g, const char *name);
/* The value named `name` as seen from g: in g itself, else captured from an enclosing
 * graph (a MOF_VF_CAPTURE value is created in g, and in every graph between, with an
 * implicit use recorded on each owning node). NULL when no graph defines it. */
MOF_INTERNAL mof_value *mof_graph_resolve(mof_graph *g, const char *name);
/* A new node at the end of g with no inputs, outputs or attributes. */
MOF_INTERNAL mof_node *mof_node_new(mof_graph *g, const char *op_type, const char *domain,
                                    const char *name);
/* Appends an output (v may be NULL); v's producer is set. */
MOF_INTERNAL mof_status mof_node_append_output(mof_node *n, mof_value *v);
/* Appends a zeroed attribute, or NULL when out of memory. */
MOF_INTERNAL mof_attr *mof_node_append_attr(mof_node *n);
MOF_INTERNAL mof_status mof_node_add_origin(mof_node *n, const char *origin);
/* Appends a listing (doc may be NULL; extra is moved in and zeroed). */
MOF_INTERNAL mof_status mof_graph_list_input(mof_graph *g, mof_value *v, const char *doc,
                                             mof_blob *extra);
MOF_INTERNAL mof_status mof_graph_list_output(mof_graph *g, mof_value *v, const char *doc,
                                              mof_blob *extra);
MOF_INTERNAL mof_status mof_graph_list_value_info(mof_graph *g, mof_value *v,
                                                  const char *doc, mof_blob *extra);
/* Makes v an initializer holding t (reference taken over) at the end of the list. */
MOF_INTERNAL mof_status mof_graph_list_initializer(mof_graph *g, mof_value *v, mof_tensor *t);
/* Deep copy of a graph as a subgraph owned by new_parent (NULL: a main graph of
 * new_model); captured values are resolved again by name. */
MOF_INTERNAL mof_graph *mof_graph_dup(const mof_graph *g, mof_model *new_model,
                                      mof_node *new_parent);
/* Swaps the contents of two models (used to restore a snapshot: swap, then destroy
 * the snapshot, which now holds the discarded state). Each keeps its context. */
MOF_INTERNAL void mof_model_swap_contents(mof_model *dst, mof_model *src);

#endif
