/* onnx_text.h: what the ONNX text printer and parser (onnx_text.c) offer the rest of
 * libmof beyond the SDK functions of <mof/text.h>. Internal to libmof. */
#ifndef MOF_ONNX_TEXT_H
#define MOF_ONNX_TEXT_H

#include <mof/ir.h>
#include <mof/text.h>

#include "util.h"

/* The file name extension of text models (what mof_path_is_text_model looks for). */
#define MOF_TEXT_EXTENSION ".onnxtxt"

/* How deeply subgraphs and types may nest in a text model before the parser refuses it
 * (a bound on its recursion, whatever the input). */
#define MOF_TEXT_MAX_DEPTH 64

/* Writes one graph alone (no model header), the way mof_model_print_text writes it,
 * its lines indented by `indent` spaces except the first. For messages and debugging
 * output about a subgraph. opts may be NULL. Returns a string owned by the caller, or
 * NULL when out of memory. */
MOF_INTERNAL char *mof_text_print_graph(const mof_graph *g, int indent,
                                        const mof_text_options *opts);

#endif
