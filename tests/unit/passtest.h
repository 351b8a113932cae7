/* passtest.h: helpers shared by the pass unit tests (test_cleanup, test_fold,
 * test_simplify, test_fusion, test_layout), which build or load a model, run a
 * one-line pipeline over it with one statically linked plugin, and check the result.
 * Include after testutil.h. A test file that needs more fixture members defines
 * PASSTEST_FIXTURE_EXTRA (member declarations) before including this header. */
#ifndef MOF_PASSTEST_H
#define MOF_PASSTEST_H

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mof/mof.h>

#include "testutil.h"

struct fixture {
    mof_context *ctx;
    mof_model *model;
    mof_model *before;      /* a copy taken by snapshot(), for numeric checks */
    mof_run_report *report;
    mof_graph *g;           /* the main graph */
#ifdef PASSTEST_FIXTURE_EXTRA
    PASSTEST_FIXTURE_EXTRA
#endif
};

/* A new context with the plugin `entry` linked in, and an empty model. */
static inline void passtest_fixture_init(struct fixture *f, mof_plugin_entry_fn entry)
{
    memset(f, 0, sizeof *f);
    f->ctx = mof_context_create();
    ck_assert_ptr_nonnull(f->ctx);
    ck_assert_status(f->ctx, mof_context_add_static_plugin(f->ctx, entry), MOF_OK);
    f->model = mof_model_create(f->ctx);
    ck_assert_ptr_nonnull(f->model);
    f->g = mof_model_graph(f->model);
}

static inline void fixture_free(struct fixture *f)
{
    mof_run_report_destroy(f->report);
    mof_model_destroy(f->before);
    mof_model_destroy(f->model);
    mof_context_destroy(f->ctx);
}

/* Keeps a copy of the model as it is now, for check_equivalent(). */
static inline void snapshot(struct fixture *f)
{
    ck_assert_status(f->ctx, mof_graph_verify(f->ctx, f->g), MOF_OK);
    mof_model_destroy(f->before);
    f->before = mof_model_dup(f->model);
    ck_assert_ptr_nonnull(f->before);
}

/* Saves the model as ONNX and reads it back in its place, as `mof run` output is. A
 * loaded node's provenance starts with its own name. */
static inline void reload(struct fixture *f)
{
    void *buf = NULL;
    size_t size = 0;
    ck_assert_status(f->ctx, mof_model_save_buffer(f->model, &buf, &size), MOF_OK);
    mof_model *back = mof_model_load_buffer(f->ctx, buf, size, "reloaded.onnx", NULL);
    free(buf);
    if (!back)
        mof_test_print_diags(f->ctx);
    ck_assert_ptr_nonnull(back);
    mof_model_destroy(f->model);
    f->model = back;
    f->g = mof_model_graph(back);
}

/* Runs a one-line pass list that must succeed; returns the status of its last
 * (non-backend) pass and leaves the report in f->report. Every graph invariant is
 * checked after each pass (verify_each) and again at the end. */
static inline mof_status passtest_run(struct fixture *f, const char *passes)
{
    mof_pipeline *p = mof_pipeline_parse_list(f->ctx, passes);
    if (!p)
        mof_test_print_diags(f->ctx);
    ck_assert_ptr_nonnull(p);
    mof_run_options opts;
    mof_run_options_init(&opts);
    opts.verify_each = true;
    opts.record_metadata = false;
    mof_run_report_destroy(f->report);
    f->report = NULL;
    mof_status st = mof_pipeline_run(p, f->model, &opts, &f->report);
    mof_pipeline_destroy(p);
    if (st < 0)
        mof_test_print_diags(f->ctx);
    ck_assert_int_ge(st, 0);
    ck_assert_ptr_nonnull(f->report);
    f->g = mof_model_graph(f->model);
    ck_assert_status(f->ctx, mof_graph_verify(f->ctx, f->g), MOF_OK);
    for (size_t i = mof_run_report_n_steps(f->report); i-- > 0;) {
        const mof_step_report *s = mof_run_report_step(f->report, i);
        if (!s->is_backend)
            return s->status;
    }
    return MOF_ERR_INTERNAL;
}

/* Runs the pass list `passes` on f->model with the default run options and asserts
 * that the run fails; its diagnostics stay on f->ctx. */
static inline void passtest_run_fails(struct fixture *f, const char *passes)
{
    mof_pipeline *p = mof_pipeline_parse_list(f->ctx, passes);
    ck_assert_ptr_nonnull(p);
    mof_run_options opts;
    mof_run_options_init(&opts);
    ck_assert_int_lt(mof_pipeline_run(p, f->model, &opts, &f->report), 0);
    mof_pipeline_destroy(p);
}

/* A statistic of the last run, summed over its steps. */
static inline int64_t stat_of(const struct fixture *f, const char *name)
{
    int64_t sum = 0;
    for (size_t i = 0; i < mof_run_report_n_steps(f->report); i++) {
        const mof_step_report *s = mof_run_report_step(f->report, i);
        for (size_t j = 0; j < s->n_stats; j++)
            if (strcmp(s->stat_names[j], name) == 0)
                sum += s->stat_values[j];
    }
    return sum;
}

/* How many nodes of op_type g holds (not counting subgraphs). */
static inline size_t count_op(const mof_graph *g, const char *op_type)
{
    size_t n = 0;
    for (mof_node *it = mof_graph_first_node(g); it; it = mof_node_next(it))
        n += strcmp(mof_node_op_type(it), op_type) == 0;
    return n;
}

static inline mof_node *find_node(const mof_graph *g, const char *name)
{
    for (mof_node *it = mof_graph_first_node(g); it; it = mof_node_next(it))
        if (strcmp(mof_node_name(it), name) == 0)
            return it;
    return NULL;
}

/* ------------------------------------------------------------------ numeric equivalence */

static inline uint64_t rng_next(uint64_t *state)
{
    *state = *state * 6364136223846793005u + 1442695040888963407u;
    return *state >> 33;
}

/* Uniform in [lo, hi), drawn from *state. */
static inline float passtest_rng_float(uint64_t *state, float lo, float hi)
{
    return lo + (hi - lo) * (float)(rng_next(state) % 1000003) / 1000003.0f;
}

/* A float tensor of the (fully known) shape of graph input v, uniform in [-1, 1):
 * a passtest_input_fn. */
static inline mof_tensor *passtest_uniform_input(const mof_value *v, uint64_t *state)
{
    int rank = mof_value_rank(v);
    int64_t dims[8];
    ck_assert_int_ge(rank, 0);
    ck_assert_int_le(rank, 8);
    for (int i = 0; i < rank; i++)
        dims[i] = mof_value_dim(v, (size_t)i);
    mof_tensor *t = mof_tensor_create(MOF_DTYPE_FLOAT, (size_t)rank, dims);
    ck_assert_ptr_nonnull(t);
    float *d = mof_tensor_data_mut(t);
    for (int64_t i = 0; i < mof_tensor_numel(t); i++)
        d[i] = passtest_rng_float(state, -1.0f, 1.0f);
    return t;
}

/* A random tensor for graph input v, drawn from *state. */
typedef mof_tensor *(*passtest_input_fn)(const mof_value *v, uint64_t *state);
/* Asserts that output i (called name) agrees before and after the passes. */
typedef void (*passtest_compare_fn)(size_t i, const char *name, const mof_tensor *before,
                                    const mof_tensor *after, const void *arg);

/* Runs f->before and f->model with the interpreter on the same inputs (overrides[i],
 * when overrides and it are non-NULL, replaces the tensor that random_input draws for
 * input i from a state seeded with seed), asserts that inputs and outputs match by
 * name, and calls compare(..., arg) on each pair of outputs. */
static inline void passtest_check_equivalent(struct fixture *f, uint64_t seed,
                                             mof_tensor *const *overrides,
                                             passtest_input_fn random_input,
                                             passtest_compare_fn compare, const void *arg)
{
    ck_assert_ptr_nonnull(f->before);
    const mof_graph *ga = mof_model_graph(f->before), *gb = mof_model_graph(f->model);
    size_t n_in = mof_graph_n_inputs(ga), n_out = mof_graph_n_outputs(ga);
    ck_assert_uint_eq(mof_graph_n_inputs(gb), n_in);
    ck_assert_uint_eq(mof_graph_n_outputs(gb), n_out);
    mof_tensor *ins[8] = { 0 }, *oa[8] = { 0 }, *ob[8] = { 0 };
    ck_assert_uint_le(n_in, 8);
    ck_assert_uint_le(n_out, 8);
    uint64_t state = seed;
    for (size_t i = 0; i < n_in; i++) {
        ck_assert_str_eq(mof_value_name(mof_graph_input(ga, i)),
                         mof_value_name(mof_graph_input(gb, i)));
        ins[i] = overrides && overrides[i] ? mof_tensor_ref(overrides[i])
                                           : random_input(mof_graph_input(ga, i), &state);
    }
    mof_interp *ia = mof_interp_create(f->ctx, f->before);
    mof_interp *ib = mof_interp_create(f->ctx, f->model);
    if (!ia || !ib)
        mof_test_print_diags(f->ctx);
    ck_assert_ptr_nonnull(ia);
    ck_assert_ptr_nonnull(ib);
    ck_assert_status(f->ctx, mof_interp_run(ia, n_in, ins, n_out, oa), MOF_OK);
    ck_assert_status(f->ctx, mof_interp_run(ib, n_in, ins, n_out, ob), MOF_OK);
    for (size_t i = 0; i < n_out; i++) {
        const char *name = mof_value_name(mof_graph_output(ga, i));
        ck_assert_str_eq(name, mof_value_name(mof_graph_output(gb, i)));
        compare(i, name, oa[i], ob[i], arg);
    }
    for (size_t i = 0; i < n_in; i++)
        mof_tensor_unref(ins[i]);
    for (size_t i = 0; i < n_out; i++) {
        mof_tensor_unref(oa[i]);
        mof_tensor_unref(ob[i]);
    }
    mof_interp_destroy(ia);
    mof_interp_destroy(ib);
}

#endif
