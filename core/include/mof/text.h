/* mof/text.h: models in the ONNX textual syntax, the one that the onnx Python
 * package reads with onnx.parser.parse_model and writes with onnx.printer.to_text:
 *
 *   <ir_version: 8, opset_import: ["" : 13]>
 *   main (float[N,4] x) => (float[N,4] y)
 *      <float[4] bias = {1, 2, 3, 4}>
 *   {
 *      [add0] t = Add (x, bias)
 *      y = Relu (t)
 *   }
 *
 * It is mof's readable form of a model: `mof print`, `--print-after`, and the input
 * and expected output of pass tests (tests/passes/README.md). Files named *.onnxtxt
 * hold it.
 *
 * What the text carries: the model header (ir_version, opset_import, producer_name,
 * producer_version, domain, model_version, doc_string, metadata_props), graph names,
 * inputs and outputs with their types (tensor types with numeric, symbolic and unknown
 * dims; seq, map, optional and sparse_tensor types), initializers and value_info
 * (inside `<...>` after the outputs), nodes with their names (`[name]`), domains
 * (`com.microsoft.Op`), omitted inputs and outputs (`""`), attributes of every type
 * but sparse tensors (always written with their type, `alpha: float = 0.5`,
 * `type: type_proto = seq(float[N])`), attribute references (`@name`), and subgraphs.
 * `#` starts a comment that runs to the end of the line.
 *
 * What it does not carry: doc strings of graphs, nodes and values, model-local
 * functions and training info, sparse-tensor attributes, protobuf fields ONNX does not
 * define, and how tensor data was stored (raw or typed fields, external data). The
 * printer says in a leading comment what it left out. A model loaded from a binary
 * file and printed parses back to the same graph: same values, types, nodes,
 * attributes and constants; onnx.parser reads mof's text as the same model, and mof
 * reads onnx.printer's text as the same model (tests/unit/test_text.c checks all three
 * on every ONNX node test model of libonnx-testdata).
 *
 * Extensions over the onnx parser, all of them accepted but never printed: a graph
 * input or output without a type (`=> (y)`), a missing model header (it then means
 * `<ir_version: 8, opset_import: ["" : 13]>`), `true`/`false` in bool constants,
 * and quoted dim symbols. Strings are read as the onnx parser reads them: a backslash
 * takes the next character as it is (`\"` is ", `\n` is n); so the printer escapes only
 * `"` and `\` and writes other characters, newlines included, as they are (a string
 * holding a NUL byte cannot be printed). */
#ifndef MOF_TEXT_H
#define MOF_TEXT_H

#include <mof/common.h>
#include <mof/context.h>

#ifdef __cplusplus
extern "C" {
#endif

/* How mof_model_print_text writes a model. Initialize with mof_text_options_init;
 * fields are only ever added at the end. */
typedef struct mof_text_options {
    size_t size;              /* sizeof(mof_text_options) */
    /* Constants (initializers and tensor attributes) with more elements than this are
     * written without their data, as `float[64,3,7,7] w = ...`; the text then cannot
     * be parsed back, and says so in a comment on its first line. SIZE_MAX (the
     * default) writes every constant in full. */
    size_t max_elements;
    /* Also list the types that values carry without being listed in the graph's
     * value_info (types found by shape inference, or set by passes), after the
     * listed ones in the `<...>` block. The text stays parseable; parsed back, those
     * types become value_info listings. Default false. */
    bool value_types;
} mof_text_options;

/* Fills opts with the defaults (every constant in full, no unlisted types). */
MOF_API void mof_text_options_init(mof_text_options *opts);

/* Parses a model written in the ONNX textual syntax: len bytes of text (need not be
 * NUL-terminated). name (may be NULL: "<text>") is the file name in messages. On error
 * returns NULL after reporting one diagnostic located at name:line:column that says
 * what was expected and what was found ("expected ')' or ',' after an input, found
 * 'Relu'"), or what is wrong (a value defined twice, a constant whose element count
 * does not match its shape, a number out of range for its type). The model is owned
 * by the caller (mof_model_destroy). */
MOF_API mof_model *mof_model_parse_text(mof_context *ctx, const char *text, size_t len,
                                        const char *name);

/* True when path names a text model: its name ends in ".onnxtxt". */
MOF_API bool mof_path_is_text_model(const char *path);

/* Reads a file in the ONNX textual syntax (any name; mof_model_load dispatches
 * *.onnxtxt here). Returns as mof_model_parse_text, or NULL after a diagnostic naming
 * the file when it cannot be read. */
MOF_API mof_model *mof_model_load_text(mof_context *ctx, const char *path);

/* Writes the model in the ONNX textual syntax (see the top of this file). opts may be
 * NULL for the defaults. The output depends only on the model: same model, same bytes.
 * Returns a NUL-terminated string owned by the caller (free), or NULL when out of
 * memory. */
MOF_API char *mof_model_print_text(const mof_model *model, const mof_text_options *opts);

/* Writes the text to path through a temporary file renamed into place (see
 * mof_output_open_file). Errors are reported on the model's context. Returns MOF_OK,
 * MOF_ERR_IO or MOF_ERR_NOMEM. */
MOF_API mof_status mof_model_save_text(const mof_model *model, const char *path,
                                       const mof_text_options *opts);

#ifdef __cplusplus
}
#endif
#endif
