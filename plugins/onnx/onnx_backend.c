/* onnx: the backend that writes the optimized model back as an ONNX file.
 *
 * It supports every operator of every domain: whatever the passes left in the graph
 * is written as is, through mof_model_save, which writes a temporary file and renames
 * it into place (a failed run leaves no half-written model). Tensor data can stay
 * where the input had it (external-data=keep), be written inline (none), or go to a
 * data file beside the model when a tensor has at least external-threshold bytes
 * (above; ONNX's protobuf encoding cannot exceed 2 GiB, so large models need it). */
#include <stddef.h>
#include <stdint.h>

#include <mof/mof.h>

struct onnx_backend {
    int external_data;          /* index in external_choices */
    int64_t external_threshold; /* bytes, with external-data=above */
};

/* Indexed like mof_external_mode. */
static const char *const external_choices[] = { "keep", "none", "above", NULL };

static const mof_param_desc onnx_params[] = {
    { .name = "external-data",
      .help = "tensor data: keep as loaded, none (all inline), above (large ones to a file)",
      .type = MOF_PARAM_CHOICE, .offset = offsetof(struct onnx_backend, external_data),
      .def = "keep", .choices = external_choices },
    { .name = "external-threshold",
      .help = "with external-data=above, tensors of at least this many bytes go to the file",
      .type = MOF_PARAM_INT, .offset = offsetof(struct onnx_backend, external_threshold),
      .def = "1024", .min = 0, .max = 1099511627776.0, .flags = MOF_PARAM_RANGE },
    { 0 }
};

static const mof_op_support onnx_ops[] = {
    { .domain = "*", .op_type = "*" },
    { 0 }
};

static mof_external_mode external_mode(int choice)
{
    switch (choice) {
    case 1:
        return MOF_EXTERNAL_NONE;
    case 2:
        return MOF_EXTERNAL_ABOVE;
    default:
        return MOF_EXTERNAL_KEEP;
    }
}

static mof_status onnx_emit(mof_backend_ctx *bc, const mof_model *model,
                            const char *output_path, void *priv)
{
    const struct onnx_backend *b = priv;
    mof_context *ctx = mof_backend_ctx_context(bc);
    mof_save_options opts;
    mof_save_options_init(&opts);
    opts.external = external_mode(b->external_data);
    opts.threshold = (size_t)b->external_threshold;

    size_t errors_before = mof_context_n_errors(ctx);
    mof_status st = mof_model_save(model, output_path, &opts);
    /* The writer reports its own errors; make sure a failure never goes unexplained. */
    if (st < 0 && mof_context_n_errors(ctx) == errors_before)
        mof_report(ctx, MOF_SEVERITY_ERROR, st, &(mof_location){ .file = output_path },
                   "cannot write the model: %s", mof_status_str(st));
    return st < 0 ? st : MOF_OK;
}

static const mof_backend_desc onnx_backend = {
    .size = sizeof(mof_backend_desc),
    .name = "onnx",
    .summary = "write the model as an ONNX file",
    .help = "Writes the optimized model as ONNX (protobuf), loadable by ONNX Runtime and\n"
            "by mof itself. Every operator is supported. The file is written under a\n"
            "temporary name and renamed into place. With external-data=above, tensors\n"
            "of at least external-threshold bytes go to \"<output>.data\" beside it.",
    .params = onnx_params,
    .priv_size = sizeof(struct onnx_backend),
    .default_output = "model.onnx",
    .ops = onnx_ops,
    .emit = onnx_emit,
};

static mof_status register_onnx(mof_registrar *r)
{
    return mof_register_backend(r, &onnx_backend);
}

MOF_PLUGIN_DEFINE("onnx", MOF_VERSION_STRING, "ONNX writer backend: the optimized model as .onnx",
                  "MIT", register_onnx)
