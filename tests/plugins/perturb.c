/* perturb.c: passes that change what a model computes, for the tests of numeric
 * verification (mof run --check / --check-each, mof verify).
 *
 * test-perturb        adds `amount` (default 1.0) to every element of one float
 *                     initializer: the one named by `initializer`, or by default the
 *                     first float initializer that some node uses. It declares nothing
 *                     about numerics, so --check-each holds it to the run's tolerance.
 * test-perturb-lossy  the same, declared MOF_PASS_CHANGES_NUMERICS with a relative
 *                     tolerance of 1e6: --check-each lets it through.
 *
 * Built as a loadable module for the command-line tests and linked statically
 * (MOF_PLUGIN_STATIC=perturb) into test_verify. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <mof/mof.h>

struct perturb {
    double amount;
    const char *initializer;
};

static const mof_param_desc perturb_params[] = {
    { .name = "amount", .help = "what to add to each element", .type = MOF_PARAM_FLOAT,
      .offset = offsetof(struct perturb, amount), .def = "1.0" },
    { .name = "initializer", .help = "the initializer to change (empty: the first used "
      "float initializer)", .type = MOF_PARAM_STRING,
      .offset = offsetof(struct perturb, initializer), .def = "" },
    { 0 }
};

static bool is_target(const mof_value *v, const char *wanted)
{
    const mof_tensor *t = mof_value_tensor(v);
    if (!t || mof_tensor_dtype(t) != MOF_DTYPE_FLOAT || mof_tensor_numel(t) == 0)
        return false;
    if (wanted && *wanted)
        return strcmp(mof_value_name(v), wanted) == 0;
    return mof_value_n_uses(v) > 0;
}

static mof_status perturb_run(mof_pass_ctx *pc, mof_model *model, void *priv)
{
    const struct perturb *p = priv;
    mof_context *ctx = mof_pass_ctx_context(pc);
    mof_graph *g = mof_model_graph(model);
    mof_value *target = NULL;
    for (size_t i = 0; i < mof_graph_n_initializers(g) && !target; i++)
        if (is_target(mof_graph_initializer(g, i), p->initializer))
            target = mof_graph_initializer(g, i);
    if (!target) {
        if (p->initializer && *p->initializer)
            return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL,
                              "no float initializer named '%s'", p->initializer);
        return MOF_UNCHANGED;
    }
    mof_tensor *t = mof_tensor_dup(mof_value_tensor(target));
    float *data = t ? mof_tensor_data_mut(t) : NULL;
    if (!data) {
        mof_tensor_unref(t);
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
    }
    for (int64_t i = 0; i < mof_tensor_numel(t); i++)
        data[i] += (float)p->amount;
    mof_status st = mof_value_set_tensor(target, t);
    if (st != MOF_OK)
        return mof_report(ctx, MOF_SEVERITY_ERROR, st, NULL, "cannot replace '%s'",
                          mof_value_name(target));
    mof_pass_stat(pc, "elements-changed", mof_tensor_numel(mof_value_tensor(target)));
    return MOF_OK;
}

static const mof_pass_desc perturb_pass = {
    .size = sizeof(mof_pass_desc),
    .name = "test-perturb",
    .summary = "adds a number to a float initializer (tests)",
    .help = "Changes what the model computes, so that numeric checks have something to "
            "find.",
    .params = perturb_params,
    .priv_size = sizeof(struct perturb),
    .run = perturb_run,
};

static const mof_pass_desc perturb_lossy_pass = {
    .size = sizeof(mof_pass_desc),
    .name = "test-perturb-lossy",
    .summary = "test-perturb, declared as changing numerics within 1e6 (tests)",
    .params = perturb_params,
    .priv_size = sizeof(struct perturb),
    .flags = MOF_PASS_CHANGES_NUMERICS,
    .tolerance = 1e6,
    .run = perturb_run,
};

static mof_status register_perturb(mof_registrar *r)
{
    mof_status st = mof_register_pass(r, &perturb_pass);
    if (st == MOF_OK)
        st = mof_register_pass(r, &perturb_lossy_pass);
    return st;
}

MOF_PLUGIN_DEFINE("test-perturb", "1.0.0", "passes that change a model's function (tests)",
                  "MIT", register_perturb)
