/* Calibration runs for the pruning passes: the model runs in the reference
 * interpreter on sample inputs while an observer sees every node's outputs
 * (prune-channels measures each channel's mean and variance this way).
 *
 * The data is a folder, as quantize-static's `calibration` takes it (the quantization
 * plugin keeps its reader private, so this is the pruning plugin's own small one,
 * built on the public mof_list_data_sets and mof_load_inputs):
 *   - test_data_set_<k>/ sub-folders (ONNX test data): one run each, in numeric order;
 *   - else one input set: input_0.pb, ... or one NAME.npy / NAME.pb per graph input,
 *     whose first dim stacks the samples. It runs in chunks of the input's declared
 *     first dim when that is fixed, else of at most PRUNE_CALIB_CHUNK rows. */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "prune.h"

#define PRUNE_CALIB_CHUNK 64

/* Rows [from, from + count) of t along dim 0 (a new tensor). */
static mof_tensor *rows_of(const mof_tensor *t, int64_t from, int64_t count)
{
    size_t rank = mof_tensor_rank(t);
    int64_t *dims = malloc(rank * sizeof *dims);
    if (!dims)
        return NULL;
    memcpy(dims, mof_tensor_dims(t), rank * sizeof *dims);
    int64_t total = dims[0];
    dims[0] = count;
    mof_tensor *r = mof_tensor_create(mof_tensor_dtype(t), rank, dims);
    free(dims);
    if (!r)
        return NULL;
    size_t row = total ? mof_tensor_nbytes(t) / (size_t)total : 0;
    memcpy(mof_tensor_data_mut(r), (const char *)mof_tensor_data(t) + (size_t)from * row,
           (size_t)count * row);
    return r;
}

/* Runs one input set, split along dim 0 into chunks; adds the samples to *n_samples. */
static mof_status run_set(prune_run *r, mof_interp *it, const char *where, size_t n_in,
                          mof_tensor **inputs, mof_tensor **chunk, size_t n_out,
                          mof_tensor **outputs, int64_t *n_samples)
{
    const mof_graph *g = mof_model_graph(r->model);
    int64_t rows = -1, step = PRUNE_CALIB_CHUNK;
    bool split = true, fixed = false;
    for (size_t i = 0; i < n_in; i++) {
        const mof_tensor *t = inputs[i];
        if (!t)
            continue;
        if (mof_tensor_rank(t) == 0 || mof_tensor_dtype(t) == MOF_DTYPE_STRING ||
            (rows >= 0 && mof_tensor_dims(t)[0] != rows)) {
            split = false;
            continue;
        }
        rows = mof_tensor_dims(t)[0];
        const mof_value *v = mof_graph_input(g, i);
        if (mof_value_rank(v) > 0 && mof_value_dim(v, 0) > 0) {
            step = mof_value_dim(v, 0);
            fixed = true;
        }
    }
    if (rows <= 0 || !split)
        step = rows = 1; /* one run of the set as it is */
    if (split && fixed && rows > 1 && rows % step != 0) {
        mof_location loc = { where, 0, 0 };
        return mof_report(r->ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, &loc,
                          "calibration data has %" PRId64 " rows, not a multiple of the "
                          "input's batch of %" PRId64, rows, step);
    }
    for (int64_t from = 0; from < rows; from += step) {
        int64_t count = rows - from < step ? rows - from : step;
        for (size_t i = 0; i < n_in; i++) {
            chunk[i] = NULL;
            if (!inputs[i])
                continue;
            chunk[i] = split && rows > 1 ? rows_of(inputs[i], from, count)
                                         : mof_tensor_ref(inputs[i]);
            if (!chunk[i]) {
                mof_tensors_release(n_in, chunk);
                return prune_nomem(r);
            }
        }
        mof_status st = mof_interp_run(it, n_in, chunk, n_out, outputs);
        mof_tensors_release(n_in, chunk);
        mof_tensors_release(n_out, outputs);
        if (st < 0) {
            mof_location loc = { where, 0, 0 };
            return mof_report(r->ctx, MOF_SEVERITY_ERROR, st, &loc,
                              "the model failed on this calibration data");
        }
        *n_samples += count;
    }
    return MOF_OK;
}

mof_status prune_calibrate(prune_run *r, const char *spec, mof_interp_observer fn, void *user,
                           int64_t *n_samples)
{
    const mof_graph *g = mof_model_graph(r->model);
    size_t n_in = mof_graph_n_inputs(g), n_out = mof_graph_n_outputs(g);
    char **sets = NULL;
    size_t n_sets = 0;
    mof_tensor **inputs = calloc(n_in + 1, sizeof *inputs);
    mof_tensor **chunk = calloc(n_in + 1, sizeof *chunk);
    mof_tensor **outputs = calloc(n_out + 1, sizeof *outputs);
    mof_interp *it = NULL;
    mof_status st = MOF_OK;
    *n_samples = 0;
    if (!inputs || !chunk || !outputs) {
        st = prune_nomem(r);
        goto done;
    }
    struct stat sb;
    if (stat(spec, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        st = mof_report(r->ctx, MOF_SEVERITY_ERROR, MOF_ERR_IO, NULL,
                        "parameter 'calibration': '%s' is not a folder", spec);
        goto done;
    }
    if ((st = mof_list_data_sets(spec, &sets, &n_sets)) != MOF_OK) {
        st = prune_nomem(r);
        goto done;
    }
    if (!(it = mof_interp_create(r->ctx, r->model))) {
        st = mof_report(r->ctx, MOF_SEVERITY_ERROR, MOF_ERR_UNSUPPORTED, NULL,
                        "calibration needs the interpreter to run the model");
        goto done;
    }
    mof_interp_set_observer(it, fn, user);
    for (size_t k = 0; k < (n_sets ? n_sets : 1) && st >= 0; k++) {
        const char *dir = n_sets ? sets[k] : spec;
        if ((st = mof_load_inputs(r->ctx, r->model, dir, n_in, inputs)) < 0)
            break;
        st = run_set(r, it, dir, n_in, inputs, chunk, n_out, outputs, n_samples);
        mof_tensors_release(n_in, inputs);
    }
done:
    mof_interp_destroy(it);
    mof_data_sets_free(sets, n_sets);
    free(inputs);
    free(chunk);
    free(outputs);
    return st;
}
