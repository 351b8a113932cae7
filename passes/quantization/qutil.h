/* qutil.h: helpers that the files of the quantization plugin share (internal to the
 * plugin): growing arrays, comma lists of parameters, op tests, and new nodes and
 * initializers named after the tensors they come from. */
#ifndef MOF_QUANT_QUTIL_H
#define MOF_QUANT_QUTIL_H

#include <stdbool.h>
#include <stddef.h>

#include <mof/mof.h>

/* Makes room for one more item in *items (n in use, *cap allocated, of size bytes
 * each), doubling it (first 8). False when out of memory (*items is unchanged). */
bool qu_grow(void *items, size_t n, size_t *cap, size_t size);

/* Whether name is one of the comma-separated words of list (blanks around words are
 * ignored; an empty name is never in it). */
bool qu_list_has(const char *list, const char *name);

/* Whether n is the standard-domain op `op`. NULL n: false. */
bool qu_is_op(const mof_node *n, const char *op);

/* The tensor of a constant value: an initializer's (not one that is also a graph
 * input), or the `value` of the Constant node that makes it. Borrowed; NULL for
 * anything else. */
const mof_tensor *qu_const_tensor(const mof_value *v);

/* The producer of v when it is the standard-domain op `op`, else NULL. */
mof_node *qu_producer_op(const mof_value *v, const char *op);

/* A new initializer named base + suffix (made unique) holding t; takes ownership of t
 * (released on failure; NULL t gives NULL). NULL when out of memory. */
mof_value *qu_add_init(mof_graph *g, const char *base, const char *suffix, mof_tensor *t);

/* A new node of op `op` (standard domain) named base + suffix (made unique), inserted
 * where/anchor as mof_graph_add_node does. NULL when out of memory. */
mof_node *qu_add_node(mof_graph *g, mof_insert where, mof_node *anchor, const char *op,
                      const char *base, const char *suffix, size_t n_in,
                      mof_value *const *ins, size_t n_out);

/* Renames v to base + suffix (made unique). MOF_OK or MOF_ERR_NOMEM. */
mof_status qu_name_value(mof_graph *g, mof_value *v, const char *base, const char *suffix);

#endif
