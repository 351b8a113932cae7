/* mof/mof.h: the whole public SDK of mof, a model optimization framework for ONNX.
 *
 * The main flow, as `mof run` does it:
 *
 *   mof_context *ctx = mof_context_create();
 *   mof_context_load_default_plugins(ctx, 0, NULL);
 *   mof_pipeline *p = mof_pipeline_load(ctx, "optimize.xml");   // validates everything
 *   mof_model *m = mof_model_load(ctx, "model.onnx");
 *   mof_run_options opts;
 *   mof_run_options_init(&opts);
 *   opts.input_path = "model.onnx";
 *   opts.output = "out/";
 *   mof_status st = mof_pipeline_run(p, m, &opts, NULL);       // passes, then backends
 *   for (size_t i = 0; i < mof_context_n_diags(ctx); i++) {
 *       char *line = mof_diag_format(mof_context_diag(ctx, i));
 *       fprintf(stderr, "%s\n", line);
 *       free(line);
 *   }
 *   mof_model_destroy(m);
 *   mof_pipeline_destroy(p);
 *   mof_context_destroy(ctx);
 *
 * Headers: common.h (status, element types), context.h (diagnostics), ir.h (the graph
 * IR and its mutation API), io.h (ONNX files), plugin.h (writing passes and backends),
 * host.h (loading plugins), pipeline.h (pipelines and the pass manager), interp.h
 * (the reference interpreter and shape inference), verify.h (random and stored inputs,
 * comparing the outputs of two models: numeric verification), fused.h (the operators
 * of the "mof" domain that the fusion passes write), text.h (models in the
 * ONNX textual syntax: printing, parsing, .onnxtxt files). */
#ifndef MOF_MOF_H
#define MOF_MOF_H

#include <mof/version.h>
#include <mof/common.h>
#include <mof/context.h>
#include <mof/ir.h>
#include <mof/io.h>
#include <mof/plugin.h>
#include <mof/host.h>
#include <mof/pipeline.h>
#include <mof/interp.h>
#include <mof/verify.h>
#include <mof/fused.h>
#include <mof/text.h>

#endif
