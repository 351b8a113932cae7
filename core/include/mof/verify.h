/* mof/verify.h: numeric verification with the reference interpreter.
 *
 * Everything `mof exec`, `mof verify` and `mof run --check` do is here:
 *   - inputs for a model: random ones from a seed (mof_random_inputs), the same on
 *     every run and every machine, or tensor files from a folder (mof_load_inputs);
 *   - dynamic dims pinned by the caller (mof_model_set_input_shape);
 *   - running a model (mof_run_model) and timing it (mof_measure_latency);
 *   - comparing the outputs of two runs (mof_verify_report), and comparing two models
 *     on the same inputs (mof_verify_models).
 *
 * A comparison is elementwise against a tolerance, as numpy.isclose reads it:
 * element b of the model under test matches element a of the reference when
 * |a - b| <= atol + rtol * |a| (defaults: rtol 1e-4, atol 1e-5). NaN matches NaN and an
 * infinity matches the same infinity. Besides the verdict, each output gets its max
 * absolute error, its max relative error |a - b| / max(|a|, MOF_VERIFY_TINY), the
 * cosine similarity of the two tensors and, for classifier-like outputs (floating
 * point, rank 2 [B, C] with C > 1), how many of the B rows agree on the top-1 class.
 *
 *   mof_verify_options o;
 *   mof_verify_options_init(&o);                  // 3 random input sets, seed 0
 *   mof_verify_report *rep = NULL;
 *   mof_status st = mof_verify_models(ctx, original, optimized, &o, &rep);
 *   if (rep)
 *       mof_verify_report_print(rep, stdout);     // one row per output
 *   // st: MOF_OK within tolerance, MOF_ERR_VERIFY past it, another error when the
 *   // models could not be run (reported on ctx)
 *   mof_verify_report_destroy(rep);
 */
#ifndef MOF_VERIFY_H
#define MOF_VERIFY_H

#include <stdio.h>

#include <mof/common.h>
#include <mof/context.h>
#include <mof/interp.h>
#include <mof/ir.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Default tolerances of every check (mof verify, mof run --check). */
#define MOF_VERIFY_DEFAULT_RTOL 1e-4
#define MOF_VERIFY_DEFAULT_ATOL 1e-5
/* Default number of random input sets of mof verify and mof run --check. */
#define MOF_VERIFY_DEFAULT_SETS 3
/* Floor of the denominator of relative errors, so that a reference of 0 gives a large
 * but finite relative error. */
#define MOF_VERIFY_TINY 1e-12

/* ------------------------------------------------------------------ inputs */

/* Pins the shape of a graph input of the model: "NAME=1,3,224,224" (as --input-shape;
 * "NAME=" pins a scalar). The input must exist, its rank (when known) must match and
 * its numeric dims must agree; symbolic and unknown dims are replaced. Every problem
 * is reported on the model's context with "--input-shape" as the file. Returns MOF_OK,
 * MOF_ERR_INVALID_ARG or MOF_ERR_NOMEM. */
MOF_API mof_status mof_model_set_input_shape(mof_model *model, const char *assignment);

/* Makes random inputs for the model's main graph: inputs[i] (n_inputs must be the
 * number of graph inputs) receives a new tensor of input i's element type and shape,
 * or NULL for an initializer that is also a graph input (its default is used).
 * Values: floating point types uniform in [-1, 1) on a grid every type represents
 * exactly, integer types in [0, 4) (small and non-negative, so that they are valid
 * indices and sizes), bool true or false with equal odds. The values depend only on
 * the seed, the input types and the shapes: the same on every run and every machine
 * (a xoshiro256** stream seeded through splitmix64, drawn input by input, element by
 * element). Every dim must be known: a symbolic or unknown one is an error naming the
 * input and the dim (pin it with mof_model_set_input_shape). Reports every problem;
 * on error every inputs[i] is NULL. Returns MOF_OK, MOF_ERR_INVALID_ARG,
 * MOF_ERR_UNSUPPORTED (a STRING or complex input) or MOF_ERR_NOMEM. */
MOF_API mof_status mof_random_inputs(mof_context *ctx, const mof_model *model, uint64_t seed,
                                     size_t n_inputs, mof_tensor **inputs);

/* Loads inputs for the model's main graph from the folder dir, laid out either as ONNX
 * test data (input_0.pb, input_1.pb, ...: TensorProto files, bound to the input their
 * TensorProto names, else to the graph inputs that are not initializers, in order) or
 * as one file per input named after it (NAME.npy or NAME.pb). inputs[i] (n_inputs
 * must be the number of graph inputs) receives a new tensor, or NULL for an
 * initializer that is also a graph input and has no file. A missing input, a file
 * that binds no input or an input given twice is an error naming the file or the
 * input; types and shapes are checked when the model runs. Reports every problem; on
 * error every inputs[i] is NULL. Returns MOF_OK, MOF_ERR_IO, MOF_ERR_PARSE,
 * MOF_ERR_INVALID_ARG or MOF_ERR_NOMEM. */
MOF_API mof_status mof_load_inputs(mof_context *ctx, const mof_model *model, const char *dir,
                                   size_t n_inputs, mof_tensor **inputs);

/* Loads expected outputs the same way: output_0.pb, output_1.pb, ... (bound by
 * TensorProto name, else in graph output order), or NAME.npy / NAME.pb. Every graph
 * output must have a file. Returns as mof_load_inputs. */
MOF_API mof_status mof_load_outputs(mof_context *ctx, const mof_model *model, const char *dir,
                                    size_t n_outputs, mof_tensor **outputs);

/* The ONNX test-data sets of the folder dir: its sub-folders named test_data_set_<k>,
 * as paths "dir/test_data_set_<k>", in numeric order of k (test_data_set_2 before
 * test_data_set_10), each one input set for mof_load_inputs. *sets (owned: free it
 * with mof_data_sets_free) and *n_sets are NULL and 0 when there is none or dir cannot
 * be read. Reports nothing; returns MOF_OK, MOF_ERR_INVALID_ARG or MOF_ERR_NOMEM (then
 * *sets is NULL). */
MOF_API mof_status mof_list_data_sets(const char *dir, char ***sets, size_t *n_sets);

/* Frees what mof_list_data_sets gave (NULL is a no-op). */
MOF_API void mof_data_sets_free(char **sets, size_t n_sets);

/* Drops the reference of each of the n tensors (NULL entries are skipped) and sets the
 * entries to NULL. */
MOF_API void mof_tensors_release(size_t n, mof_tensor **tensors);

/* ------------------------------------------------------------------ running */

/* Runs the model's main graph once with the reference interpreter (mof_interp_create,
 * then mof_interp_run): outputs[i] receives a new reference to graph output i.
 * n_inputs and n_outputs must match the graph. Errors are reported on ctx (an op the
 * interpreter does not implement, a bad input, a failing kernel); on error every
 * outputs[i] is NULL. */
MOF_API mof_status mof_run_model(mof_context *ctx, const mof_model *model, size_t n_inputs,
                                 mof_tensor *const *inputs, size_t n_outputs,
                                 mof_tensor **outputs);

/* Wall-clock latency of runs of an interpreter, in seconds. */
typedef struct mof_latency {
    size_t n_runs;       /* timed runs */
    double median;       /* the median (the mean of the two middle runs for even n_runs) */
    double min, max;
} mof_latency;

/* Runs the interpreter n_warmup times untimed, then n_runs (at least 1) times timed
 * with a monotonic clock, and fills *out. n_inputs and n_outputs are the numbers of
 * inputs and outputs of the interpreter's main graph, as for mof_interp_run; the
 * outputs are dropped. Returns MOF_OK, the first failing run's error,
 * MOF_ERR_INVALID_ARG (n_runs 0) or MOF_ERR_NOMEM. */
MOF_API mof_status mof_measure_latency(mof_interp *it, size_t n_inputs,
                                       mof_tensor *const *inputs, size_t n_outputs,
                                       size_t n_warmup, size_t n_runs, mof_latency *out);

/* Prints a one-line summary of a tensor: its type and shape and, for numbers, the
 * smallest, largest and mean element (NaN and infinities counted apart); then, on
 * the next line, indented by two spaces, its first n_values elements in row-major
 * order (followed by "..." when there are more; no line when n_values is 0). */
MOF_API void mof_tensor_print_summary(FILE *out, const mof_tensor *t, size_t n_values);

/* ------------------------------------------------------------------ comparing */

/* How one output compared, over every input set added to a report. Borrowed from the
 * report; valid until the next mof_verify_report_add or the report's destruction.
 * Fields are only ever added at the end. */
typedef struct mof_output_diff {
    const char *name;            /* the output's name */
    mof_dtype dtype;             /* the reference's element type */
    size_t rank;                 /* the reference's shape (last input set) */
    const int64_t *dims;
    int64_t n_elements;          /* elements compared, over every input set */
    double max_abs;              /* max |a - b| (infinity when only one is NaN or inf) */
    double max_rel;              /* max |a - b| / max(|a|, MOF_VERIFY_TINY) */
    double cosine;               /* smallest cosine similarity of one input set: 1 when
                                    both tensors are zero, 0 when only one is, computed
                                    over elements finite in both */
    int64_t n_mismatches;        /* elements past the tolerance */
    int64_t top1_rows;           /* rows compared for top-1 (0: not a classifier-like output) */
    int64_t top1_agree;          /* of those, rows whose argmax agrees */
    bool type_mismatch;          /* element types or shapes differ: nothing was compared */
    bool passed;                 /* no mismatch and no type mismatch */
    /* The element farthest past the tolerance (relative to it), or, when every element
     * is within it, the one with the largest absolute error: which input set (from 0),
     * its flat index (row-major) and both values. worst_set is -1 when nothing was
     * compared. */
    int64_t worst_set;
    int64_t worst_index;
    double worst_ref, worst_got;
} mof_output_diff;

typedef struct mof_verify_report mof_verify_report;

/* Creates an empty report that compares with these tolerances (each >= 0). Returns
 * NULL when out of memory or when a tolerance is negative or NaN. */
MOF_API mof_verify_report *mof_verify_report_create(double rtol, double atol);
MOF_API void mof_verify_report_destroy(mof_verify_report *r);

/* Adds one input set: ref[i] (the reference) and got[i] (the model under test) are
 * output i, named names[i] (may be NULL: "output_<i>"). The first call fixes the
 * number of outputs; a later call with another count, or NULL tensors, is
 * MOF_ERR_INVALID_ARG. Outputs of different element types or shapes are recorded as
 * type mismatches, not errors. STRING outputs are compared for equality. Returns
 * MOF_OK (whatever the verdict), MOF_ERR_INVALID_ARG or MOF_ERR_NOMEM. */
MOF_API mof_status mof_verify_report_add(mof_verify_report *r, size_t n_outputs,
                                         const char *const *names, mof_tensor *const *ref,
                                         mof_tensor *const *got);

MOF_API double mof_verify_report_rtol(const mof_verify_report *r);
MOF_API double mof_verify_report_atol(const mof_verify_report *r);
/* Number of input sets added. */
MOF_API size_t mof_verify_report_n_sets(const mof_verify_report *r);
MOF_API size_t mof_verify_report_n_outputs(const mof_verify_report *r);
MOF_API const mof_output_diff *mof_verify_report_output(const mof_verify_report *r, size_t i);
/* True when at least one input set was added and every output passed. */
MOF_API bool mof_verify_report_passed(const mof_verify_report *r);

/* One line on the result, for messages: the first output that failed ("output
 * 'logits': max abs error 1.5 at [0,3] (ref 0.25, got 1.75) is past atol 1e-05 + rtol
 * 0.0001 * |ref| in 10 of 30 elements (input set 1); max rel error 6, cosine 0.93,
 * top-1 2/3 rows"), or, when all passed, the largest errors over all outputs. Owned
 * by the caller (free); NULL when out of memory. */
MOF_API char *mof_verify_report_summary(const mof_verify_report *r);

/* Prints a table, one row per output: name, type and shape, max abs error, max rel
 * error, cosine similarity, top-1 agreement ("-" when not a classifier-like output)
 * and the verdict ("ok", "FAIL", "TYPE" for a type or shape mismatch). */
MOF_API void mof_verify_report_print(const mof_verify_report *r, FILE *out);

/* The report as a JSON object (owned by the caller; NULL when out of memory):
 *   {"rtol": 0.0001, "atol": 1e-05, "input_sets": 3, "passed": true,
 *    "outputs": [{"name": "logits", "dtype": "float", "shape": [1, 10],
 *                 "elements": 30, "max_abs": 0, "max_rel": 0, "cosine": 1,
 *                 "mismatches": 0, "top1_rows": 3, "top1_agree": 3,
 *                 "type_mismatch": false, "passed": true,
 *                 "worst": {"set": 0, "index": 4, "ref": 0.5, "got": 0.5}}]}
 * Numbers are written in the fewest digits that read back exactly; infinities and
 * NaN (which JSON cannot write) as null; "worst" is null when nothing was compared. */
MOF_API char *mof_verify_report_json(const mof_verify_report *r);

/* ------------------------------------------------------------------ comparing models */

typedef struct mof_verify_options {
    size_t size;                 /* sizeof(mof_verify_options) */
    double rtol;                 /* MOF_VERIFY_DEFAULT_RTOL */
    double atol;                 /* MOF_VERIFY_DEFAULT_ATOL */
    /* Inputs: the folder of tensor files inputs_dir (one input set, see
     * mof_load_inputs) or, when it is NULL, n_random random sets, set k made by
     * mof_random_inputs with seed + k. */
    const char *inputs_dir;
    size_t n_random;             /* MOF_VERIFY_DEFAULT_SETS */
    uint64_t seed;               /* 0 */
} mof_verify_options;

/* Fills opts with the defaults above. */
MOF_API void mof_verify_options_init(mof_verify_options *opts);

/* Runs ref and got on the same inputs (made for ref: the two main graphs must have the
 * same number of inputs and of outputs) and compares their outputs. *report (may be
 * NULL) receives the report, owned by the caller, whenever both models ran. Returns
 * MOF_OK when every output is within tolerance, MOF_ERR_VERIFY when one is not (no
 * diagnostic is recorded for that: read the report), or the error that kept a model
 * from running (reported on ctx). opts may be NULL for the defaults. */
MOF_API mof_status mof_verify_models(mof_context *ctx, const mof_model *ref,
                                     const mof_model *got, const mof_verify_options *opts,
                                     mof_verify_report **report);

#ifdef __cplusplus
}
#endif
#endif
