/* mof/pipeline.h: pipeline files and the pass manager.
 *
 * A pipeline file is XML, checked against the RELAX NG schema mof installs
 * (pipeline.rng):
 *
 *   <pipeline name="optimize">
 *     <plugin path="./libmy-pass.so"/>
 *     <input name="image" shape="1,3,224,224"/>
 *     <pass name="eliminate-identity"/>
 *     <repeat max="8">
 *       <pass name="dead-code" keep-initializers="false"/>
 *     </repeat>
 *     <backend name="onnx" output="model.onnx"/>
 *   </pipeline>
 *
 * Loading a pipeline validates everything before anything runs: the schema, every
 * pass and backend name, every parameter (type, range, choices), and the contracts
 * (properties passes require, provide and invalidate). Every error names file:line and
 * an unknown name gets the closest valid one as a suggestion. */
#ifndef MOF_PIPELINE_H
#define MOF_PIPELINE_H

#include <stdio.h>

#include <mof/common.h>
#include <mof/context.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Parses and validates a pipeline file, loading its <plugin> paths into ctx first.
 * Returns NULL after reporting every error found. The pipeline is owned by the caller
 * and must be destroyed before ctx. */
MOF_API mof_pipeline *mof_pipeline_load(mof_context *ctx, const char *path);
/* The same from memory; name is used as the file name in messages and base_dir (may
 * be NULL) resolves relative plugin paths. */
MOF_API mof_pipeline *mof_pipeline_load_buffer(mof_context *ctx, const char *xml, size_t size,
                                               const char *name, const char *base_dir);
/* A pipeline from a one-line list: "eliminate-identity,dead-code(keep-initializers=true)". */
MOF_API mof_pipeline *mof_pipeline_parse_list(mof_context *ctx, const char *list);
MOF_API void mof_pipeline_destroy(mof_pipeline *p);

/* Overrides a parameter of every step of that pass: "PASS.PARAM=VALUE" (as --set).
 * The value is checked like one from the file. */
MOF_API mof_status mof_pipeline_set(mof_pipeline *p, const char *assignment);
/* Pins the shape of a graph input: "NAME=1,3,224,224" (as --input-shape). */
MOF_API mof_status mof_pipeline_set_input_shape(mof_pipeline *p, const char *assignment);

MOF_API const char *mof_pipeline_name(const mof_pipeline *p);
/* SHA-256 of the pipeline file's bytes as 64 hex digits (borrowed). */
MOF_API const char *mof_pipeline_hash(const mof_pipeline *p);
MOF_API size_t mof_pipeline_n_backends(const mof_pipeline *p);
/* Number of <pass> steps, those inside <repeat> counted once each. */
MOF_API size_t mof_pipeline_n_passes(const mof_pipeline *p);

/* Run-time options. Initialize with mof_run_options_init. */
typedef struct mof_run_options {
    size_t size;                /* sizeof(mof_run_options) */
    bool verify_each;           /* mof_graph_verify after each pass */
    bool time_passes;           /* record and print pass times */
    const char *print_after;    /* pass name or "all": print the graph after it */
    bool keep_going;            /* a failed pass is rolled back and the run goes on */
    bool record_metadata;       /* write mof.* metadata_props (default true) */
    FILE *log;                  /* where --print-after and --time-passes go (stderr) */
    const char *input_path;     /* the model file, refused as an output path */
    const char *output;         /* -o: the ONNX file (no backend) or the output folder */
    /* Numeric checks with the reference interpreter (see mof/verify.h). Both run the
     * models on check_inputs sets of random inputs (set k made with check_seed + k,
     * after the input shape pins) and compare outputs elementwise:
     * |got - ref| <= atol + rtol * |ref|, where a pass flagged
     * MOF_PASS_CHANGES_NUMERICS raises rtol to its declared tolerance. */
    bool check;                 /* before writing anything, compare the final model with
                                   the input model (rtol raised to the largest tolerance
                                   declared by the passes that ran); past tolerance the
                                   run fails with MOF_ERR_VERIFY and writes nothing */
    bool check_each;            /* after each pass, compare the model with the model
                                   before it; the first pass past tolerance is named, the
                                   model is restored, a reproducer is written beside
                                   `output` (<output>.before-<pass>.onnx, the model before
                                   the pass, and <output>.repro-<pass>.xml, a one-pass
                                   pipeline) and the run stops (or, with keep_going, goes
                                   on without it) with MOF_ERR_VERIFY; implies check */
    size_t check_inputs;        /* random input sets (MOF_VERIFY_DEFAULT_SETS: 3) */
    uint64_t check_seed;        /* 0 */
    double rtol;                /* MOF_VERIFY_DEFAULT_RTOL: 1e-4 */
    double atol;                /* MOF_VERIFY_DEFAULT_ATOL: 1e-5 */
} mof_run_options;

MOF_API void mof_run_options_init(mof_run_options *opts);

/* What one pass run did. Borrowed from the report. */
typedef struct mof_step_report {
    const char *pass;          /* pass or backend name */
    bool is_backend;
    unsigned line;             /* line in the pipeline file, 0 if none */
    unsigned iteration;        /* iteration of the enclosing <repeat>, 0 outside */
    mof_status status;         /* MOF_OK changed, MOF_UNCHANGED, or the error */
    double seconds;
    size_t nodes_before, nodes_after;
    size_t n_stats;
    const char *const *stat_names;
    const int64_t *stat_values;
    const char *output;        /* backends: the artifact written */
    /* Structured results the pass attached (mof_pass_report_json): n_data keys and
     * their JSON values, in the order first given. */
    size_t n_data;
    const char *const *data_keys;
    const char *const *data_json;
} mof_step_report;

typedef struct mof_run_report mof_run_report;

MOF_API size_t mof_run_report_n_steps(const mof_run_report *r);
MOF_API const mof_step_report *mof_run_report_step(const mof_run_report *r, size_t i);
/* Notes like "repeat at pipeline.xml:7 stopped at its bound of 8 iterations". */
MOF_API size_t mof_run_report_n_notes(const mof_run_report *r);
MOF_API const char *mof_run_report_note(const mof_run_report *r, size_t i);
/* Prints the report as a table. */
MOF_API void mof_run_report_print(const mof_run_report *r, FILE *out, bool with_times);
MOF_API void mof_run_report_destroy(mof_run_report *r);

/* Runs the pipeline over the model, then its backends (or, with none, writes the ONNX
 * model to opts->output). A failing pass leaves the model as it was before it. report
 * (may be NULL) receives a report owned by the caller, also on failure. */
MOF_API mof_status mof_pipeline_run(mof_pipeline *p, mof_model *model,
                                    const mof_run_options *opts, mof_run_report **report);

/* ------------------------------------------------------------------ backends and preflight */

/* The backend steps, i < mof_pipeline_n_backends(p), in pipeline order: the backend's
 * name, the line of its <backend> element (0 when none), and the parameters given to it,
 * in the file or by mof_pipeline_set (defaults are not listed): name j, its value in
 * *value. Borrowed; valid until the pipeline is changed or destroyed. NULL (0) when i
 * or j is out of range. */
MOF_API const char *mof_pipeline_backend_name(const mof_pipeline *p, size_t i);
MOF_API unsigned mof_pipeline_backend_line(const mof_pipeline *p, size_t i);
MOF_API size_t mof_pipeline_backend_n_params(const mof_pipeline *p, size_t i);
MOF_API const char *mof_pipeline_backend_param(const mof_pipeline *p, size_t i, size_t j,
                                               const char **value);

/* One node's verdict, given to a mof_preflight_fn. Borrowed; valid during the call. */
typedef struct mof_preflight_result {
    size_t backend;            /* index of the backend step (mof_pipeline_backend_name) */
    const char *backend_name;
    const mof_node *node;      /* a node of the main graph */
    bool supported;            /* in the backend's op table and accepted by its
                                  supports_node */
    const char *reason;        /* unsupported: why (the opset range, or the backend's
                                  reason); NULL when supported */
    const char *note;          /* supported: the backend's note on how it runs the node
                                  (the cpu backend names its kernel provider), or NULL */
} mof_preflight_result;

typedef void (*mof_preflight_fn)(const mof_preflight_result *result, void *user);

enum {
    /* Run the pipeline's passes over the model first (in memory: no checks, no
     * metadata, nothing written) so that the backends are asked about the model they
     * would be given. */
    MOF_PREFLIGHT_RUN_PASSES = 1u << 0,
    /* Infer the shapes (mof_infer_shapes) after the pins and passes, so that the
     * backends see the shapes the model implies without optimizing it. */
    MOF_PREFLIGHT_INFER_SHAPES = 1u << 1,
};

/* Asks every backend of the pipeline, without emitting anything, whether it supports
 * each node of the model's main graph, as mof_pipeline_run checks before any backend
 * emits: the op table (domain, op type, opset range), then supports_node with the
 * backend instantiated from the step's parameters. Applies the pipeline's input shape
 * pins to the model first, with MOF_PREFLIGHT_RUN_PASSES runs the passes, and with
 * MOF_PREFLIGHT_INFER_SHAPES infers the shapes (the model is changed: give a copy to
 * keep the original). fn (may be NULL) is called once
 * per backend and node, in backend then node order.
 * Returns MOF_OK when every node is supported by every backend, MOF_ERR_UNSUPPORTED
 * when one is not (nothing is reported: fn gets the reasons), MOF_ERR_INVALID_ARG
 * (reported) when the pipeline has no backend or the model belongs to another
 * context, or the error of a pin, a pass, a parameter or a backend's init
 * (reported). */
MOF_API mof_status mof_pipeline_preflight(mof_pipeline *p, mof_model *model, unsigned flags,
                                          mof_preflight_fn fn, void *user);

#ifdef __cplusplus
}
#endif
#endif
