/* print.h: a readable, deterministic text dump of models and graphs, in the spirit of
 * the ONNX textual syntax, for --print-after and debugging:
 *
 *   <ir_version: 8, opset_import: ["" : 13]>
 *   graph main (float[1,3,16,16] image) => (float[1,10] logits) {
 *     initializer w: float[8,3,3,3]
 *     conv_out = Conv <kernel_shape = [3, 3], pads = [1, 1, 1, 1]> (image, w, b)  # conv0
 *     ...
 *   }
 *
 * Subgraphs print nested inside their node's attribute list. The output depends only
 * on the model, never on addresses or hash order. (The full ONNX text printer and
 * parser live in formats/; this one never fails and never needs a round trip.)
 * Internal to libmof. */
#ifndef MOF_PRINT_H
#define MOF_PRINT_H

#include <stdio.h>

#include <mof/ir.h>

#include "util.h"

/* Writes the model: a header with the IR version and opset imports, then the main
 * graph. */
MOF_INTERNAL void mof_print_model(FILE *out, const mof_model *m);
/* Writes one graph, its lines indented by `indent` spaces (the closing brace too; the
 * first line is not indented, so that it can follow an attribute name). */
MOF_INTERNAL void mof_print_graph(FILE *out, const mof_graph *g, int indent);
/* Writes a value's type as "float[1,3,N,?]" ("?" when it has none). */
MOF_INTERNAL void mof_print_value_type(FILE *out, const mof_value *v);

#endif
