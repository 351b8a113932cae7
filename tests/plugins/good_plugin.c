/* good_plugin.c: a well-formed plugin for mof's own tests.
 *
 * test-noop              does nothing; has an INT (with range), a CHOICE and a BOOL
 *                        parameter and reports their values in a note, so that tests
 *                        can see what the host stored
 * test-fail              changes the graph (renames the first node, adds a node), then
 *                        reports an error and fails: the pass manager must restore the
 *                        model
 * test-contract-needs-x  requires the property "x"
 * test-provides-x        provides the property "x"
 * test-null              a backend that writes a one-line summary of the model */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <mof/mof.h>

struct noop {
    int64_t iterations;
    int mode;
    bool verbose;
};

static const char *const noop_modes[] = { "fast", "exact", "lazy", NULL };

static const mof_param_desc noop_params[] = {
    { .name = "iterations", .help = "how many times to do nothing", .type = MOF_PARAM_INT,
      .offset = offsetof(struct noop, iterations), .def = "3", .min = 1, .max = 10,
      .flags = MOF_PARAM_RANGE },
    { .name = "mode", .help = "how to do nothing", .type = MOF_PARAM_CHOICE,
      .offset = offsetof(struct noop, mode), .def = "fast", .choices = noop_modes },
    { .name = "verbose", .help = "say what was done", .type = MOF_PARAM_BOOL,
      .offset = offsetof(struct noop, verbose), .def = "false" },
    { 0 }
};

static mof_status noop_run(mof_pass_ctx *pc, mof_model *model, void *priv)
{
    const struct noop *p = priv;
    mof_report(mof_pass_ctx_context(pc), MOF_SEVERITY_NOTE, MOF_OK, NULL,
               "iterations=%lld mode=%s verbose=%s", (long long)p->iterations,
               p->mode >= 0 && p->mode < 3 ? noop_modes[p->mode] : "?",
               p->verbose ? "true" : "false");
    mof_pass_stat(pc, "runs", 1);
    return MOF_UNCHANGED;
}

static const mof_pass_desc noop_pass = {
    .size = sizeof(mof_pass_desc),
    .name = "test-noop",
    .summary = "does nothing (tests)",
    .help = "Leaves the model alone and notes its parameters.",
    .params = noop_params,
    .priv_size = sizeof(struct noop),
    .flags = MOF_PASS_EXACT,
    .run = noop_run,
};

static mof_status fail_run(mof_pass_ctx *pc, mof_model *model, void *priv)
{
    mof_context *ctx = mof_pass_ctx_context(pc);
    mof_graph *g = mof_model_graph(model);
    mof_node *first = mof_graph_first_node(g);
    if (first && mof_node_set_name(first, "renamed-by-test-fail") != MOF_OK)
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INTERNAL, NULL,
                          "could not rename the first node");
    if (!mof_graph_add_node(g, MOF_INSERT_AFTER, NULL, "TestFail", "mof.test",
                            "added-by-test-fail", 0, NULL, 1))
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INTERNAL, NULL,
                          "could not add a node");
    return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL,
                      "failing on purpose after changing the graph");
}

static const mof_pass_desc fail_pass = {
    .size = sizeof(mof_pass_desc),
    .name = "test-fail",
    .summary = "changes the graph, then fails (tests)",
    .flags = MOF_PASS_EXACT,
    .run = fail_run,
};

static mof_status unchanged_run(mof_pass_ctx *pc, mof_model *model, void *priv)
{
    return MOF_UNCHANGED;
}

static const char *const property_x[] = { "x", NULL };

static const mof_pass_desc needs_x_pass = {
    .size = sizeof(mof_pass_desc),
    .name = "test-contract-needs-x",
    .summary = "requires the property x (tests)",
    .flags = MOF_PASS_EXACT,
    .requires = property_x,
    .run = unchanged_run,
};

static const mof_pass_desc provides_x_pass = {
    .size = sizeof(mof_pass_desc),
    .name = "test-provides-x",
    .summary = "provides the property x (tests)",
    .flags = MOF_PASS_EXACT,
    .provides = property_x,
    .run = unchanged_run,
};

static const mof_op_support null_ops[] = {
    { .domain = "*", .op_type = "*" },
    { 0 }
};

static mof_status null_emit(mof_backend_ctx *bc, const mof_model *model,
                            const char *output_path, void *priv)
{
    mof_output *out = mof_output_open_file(mof_backend_ctx_context(bc), output_path);
    if (!out)
        return MOF_ERR_IO;
    fprintf(mof_output_file(out), "test-null: %zu nodes\n",
            mof_graph_n_nodes(mof_model_graph(model)));
    return mof_output_commit(out);
}

static const mof_backend_desc null_backend = {
    .size = sizeof(mof_backend_desc),
    .name = "test-null",
    .summary = "writes the node count (tests)",
    .default_output = "model.txt",
    .ops = null_ops,
    .emit = null_emit,
};

static mof_status register_good(mof_registrar *r)
{
    mof_status st;
    if ((st = mof_register_pass(r, &noop_pass)) != MOF_OK
        || (st = mof_register_pass(r, &fail_pass)) != MOF_OK
        || (st = mof_register_pass(r, &needs_x_pass)) != MOF_OK
        || (st = mof_register_pass(r, &provides_x_pass)) != MOF_OK
        || (st = mof_register_backend(r, &null_backend)) != MOF_OK)
        return st;
    return MOF_OK;
}

MOF_PLUGIN_DEFINE("test-good", "1.2.3", "passes and a backend for mof's own tests", "MIT",
                  register_good)
