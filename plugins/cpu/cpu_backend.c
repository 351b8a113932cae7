/* cpu_backend.c: the cpu backend's descriptor, parameters and per-node support check.
 * The work is emit.c's (plan, providers) and artifact.c's (files). */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "qdq.h"

const char *cpu_kernel_choices[17];

static const char *const weights_choices[] = { "auto", "embed", "blob", NULL };
static const char *const isa_choices[] = { "baseline", "avx2", "avx512", NULL };

static const mof_param_desc cpu_param_table[] = {
    { .name = "prefix",
      .help = "C symbol prefix of the artifact's API and file names (several models link "
              "into one program)",
      .type = MOF_PARAM_STRING, .offset = offsetof(cpu_params, prefix), .def = "model" },
    { .name = "runtime-prefix",
      .help = "symbol prefix of the runtime files (default <prefix>_rt); artifacts that "
              "share it can share one compiled runtime",
      .type = MOF_PARAM_STRING, .offset = offsetof(cpu_params, runtime_prefix), .def = "" },
    { .name = "kernels", .help = "kernel provider: portable C, or another built in",
      .type = MOF_PARAM_CHOICE, .offset = offsetof(cpu_params, kernels), .def = "portable",
      .choices = cpu_kernel_choices },
    { .name = "threads", .help = "default size of the artifact's thread pool",
      .type = MOF_PARAM_INT, .offset = offsetof(cpu_params, threads), .def = "1", .min = 1,
      .max = 256, .flags = MOF_PARAM_RANGE },
    { .name = "weights",
      .help = "weights embedded in the source, in a blob file, or auto (embed up to "
              "embed-max bytes)",
      .type = MOF_PARAM_CHOICE, .offset = offsetof(cpu_params, weights), .def = "auto",
      .choices = weights_choices },
    { .name = "embed-max", .help = "with weights=auto, the most bytes embedded",
      .type = MOF_PARAM_INT, .offset = offsetof(cpu_params, embed_max), .def = "4194304",
      .min = 0, .max = 1e12, .flags = MOF_PARAM_RANGE },
    { .name = "isa",
      .help = "instruction set the Makefile compiles for (checked by create()): baseline "
              "x86-64, avx2 (+fma), avx512 (avx512f)",
      .type = MOF_PARAM_CHOICE, .offset = offsetof(cpu_params, isa), .def = "baseline",
      .choices = isa_choices },
    { .name = "runs", .help = "default number of timed runs of the example program",
      .type = MOF_PARAM_INT, .offset = offsetof(cpu_params, runs), .def = "10", .min = 1,
      .max = 1e6, .flags = MOF_PARAM_RANGE },
    { 0 }
};

size_t cpu_provider_chain(int kernels, const cpu_provider **chain, size_t max)
{
    size_t n = 0;
    const char *sel = kernels >= 0 ? cpu_kernel_choices[kernels] : NULL;
    const cpu_provider *selected = NULL;
    for (size_t i = 0; i < cpu_n_providers; i++)
        if (sel && (cpu_providers[i]->flags & CPU_PROVIDER_SELECTABLE) &&
            strcmp(cpu_providers[i]->name, sel) == 0)
            selected = cpu_providers[i];
    if (selected && n < max)
        chain[n++] = selected;
    for (size_t i = 0; i < cpu_n_providers; i++)
        if ((cpu_providers[i]->flags & CPU_PROVIDER_AUXILIARY) && cpu_providers[i] != selected &&
            n < max)
            chain[n++] = cpu_providers[i];
    if (selected != &cpu_provider_portable && n < max)
        chain[n++] = &cpu_provider_portable;
    return n;
}

/* Why value v, read or written by a node, cannot be emitted (the emitter needs every
 * dim known: see add_tensor in emit.c), formatted into buf; NULL when it can. */
static const char *shape_why(const mof_value *v, char *buf, size_t size)
{
    if (!v || (mof_value_is_constant(v) && mof_value_tensor(v)))
        return NULL;
    const char *name = mof_value_name(v);
    int rank = mof_value_has_type(v) ? mof_value_rank(v) : -1;
    if (rank < 0) {
        snprintf(buf, size, "value '%s' has no known shape; the cpu backend needs static "
                 "shapes (run infer-shapes first)", name);
        return buf;
    }
    for (int i = 0; i < rank; i++) {
        if (mof_value_dim(v, (size_t)i) >= 0)
            continue;
        const char *sym = mof_value_dim_symbol(v, (size_t)i);
        if (mof_value_is_graph_input(v))
            snprintf(buf, size, "input '%s': dim %d is %s%s%s; the cpu backend needs static "
                     "shapes: pin it with --input-shape %s=...", name, i,
                     sym ? "symbolic ('" : "unknown", sym ? sym : "", sym ? "')" : "", name);
        else
            snprintf(buf, size, "value '%s': dim %d is %s%s%s; the cpu backend needs static "
                     "shapes (pin the inputs with --input-shape, run infer-shapes)", name, i,
                     sym ? "symbolic ('" : "unknown", sym ? sym : "", sym ? "')" : "");
        return buf;
    }
    return NULL;
}

/* Supported when a provider of the chain claims the node and every value it reads or
 * writes has a static shape. On true, *why names the provider that runs it (for
 * preflight); on false it is a provider's reason, or the shape problem (in p->why,
 * valid until the next call). */
static bool cpu_supports_node(const mof_node *node, const char **why, void *priv)
{
    cpu_params *p = priv;
    const cpu_provider *chain[16];
    size_t len = cpu_provider_chain(p->kernels, chain, 16);
    *why = NULL;
    const cpu_provider *runner = NULL;
    for (size_t i = 0; i < len && !runner; i++) {
        const char *w = NULL;
        if (chain[i]->supports(node, &w))
            runner = chain[i];
        else if (!*why)
            *why = w;
    }
    if (runner) {
        size_t n_in = mof_node_n_inputs(node), n_out = mof_node_n_outputs(node);
        for (size_t i = 0; i < n_in + n_out; i++) {
            const mof_value *v = i < n_in ? mof_node_input(node, i)
                                          : mof_node_output(node, i - n_in);
            const char *w = shape_why(v, p->why, sizeof p->why);
            if (w) {
                *why = w;
                return false;
            }
        }
        *why = runner->name;
        return true;
    }
    if (!*why)
        *why = "no kernel provider implements it";
    return false;
}

static bool valid_identifier(const char *s)
{
    if (!s || !*s || !(isalpha((unsigned char)*s) || *s == '_'))
        return false;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_'))
            return false;
    return true;
}

static mof_status cpu_emit_backend(mof_backend_ctx *bc, const mof_model *model,
                                   const char *output_path, void *priv)
{
    const cpu_params *p = priv;
    mof_context *ctx = mof_backend_ctx_context(bc);
    if (!valid_identifier(p->prefix) || strlen(p->prefix) > 40)
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL,
                          "prefix '%s' is not a C identifier of at most 40 characters",
                          p->prefix ? p->prefix : "");
    if (p->runtime_prefix && *p->runtime_prefix &&
        (!valid_identifier(p->runtime_prefix) || strlen(p->runtime_prefix) > 40))
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL,
                          "runtime-prefix '%s' is not a C identifier of at most 40 characters",
                          p->runtime_prefix);
    /* QDQ patterns become integer ops (qdq.c, the int8 work) on a copy of the model. */
    mof_model *lowered = mof_model_dup(model);
    if (!lowered)
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
    mof_status lst = cpu_qdq_lower(ctx, lowered, NULL);
    if (lst < 0) {
        mof_model_destroy(lowered);
        return lst;
    }
    model = lowered;
    cpu_emit *e = calloc(1, sizeof *e);
    if (!e) {
        mof_model_destroy(lowered);
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
    }
    e->ctx = ctx;
    e->model = model;
    e->graph = mof_model_graph(model);
    e->params = p;
    snprintf(e->prefix, sizeof e->prefix, "%s", p->prefix);
    if (p->runtime_prefix && *p->runtime_prefix)
        snprintf(e->rt_prefix, sizeof e->rt_prefix, "%s", p->runtime_prefix);
    else
        snprintf(e->rt_prefix, sizeof e->rt_prefix, "%s_rt", p->prefix);
    size_t errors = mof_context_n_errors(ctx);
    mof_status st = cpu_emit_run(e);
    if (st == MOF_OK)
        st = cpu_write_artifact(e, output_path, mof_backend_ctx_provenance(bc));
    if (st != MOF_OK && mof_context_n_errors(ctx) == errors)
        mof_report(ctx, MOF_SEVERITY_ERROR, st, NULL, "cpu backend: %s", mof_status_str(st));
    cpu_emit_fini(e);
    free(e);
    mof_model_destroy(lowered);
    return st < 0 ? st : MOF_OK;
}

/* The op table: the union of the providers' tables. */
static mof_op_support cpu_ops[256];

static mof_backend_desc cpu_backend = {
    .size = sizeof(mof_backend_desc),
    .name = "cpu",
    .summary = "generate a self-contained C artifact for CPUs (x86-64; portable C for AArch64 too)",
    .help = "Writes a folder that builds with a plain `make`: <prefix>.h (create, run,\n"
            "destroy; inputs, outputs, arena size), <prefix>.c specialised to the model's\n"
            "static shapes, the weights (embedded or <prefix>.weights), the runtime files,\n"
            "an example program (<prefix>_main: reads .pb/.npy inputs, runs, writes the\n"
            "outputs, prints the median latency) and a Makefile. Every shape must be\n"
            "static: pin inputs with --input-shape and run infer-shapes and fold-constants\n"
            "first. kernels=portable needs nothing but a C99 compiler and libm (and\n"
            "cross-compiles: make CC=aarch64-linux-gnu-gcc AR=aarch64-linux-gnu-ar).\n"
            "`make PROFILE=1` builds it to time each node: <prefix>_main -p lists them.",
    .params = cpu_param_table,
    .priv_size = sizeof(cpu_params),
    .default_output = "cpu",
    .ops = cpu_ops,
    .supports_node = cpu_supports_node,
    .emit = cpu_emit_backend,
};

static mof_status register_cpu(mof_registrar *r)
{
    size_t nc = 0, no = 0;
    for (size_t i = 0; i < cpu_n_providers && nc + 1 < sizeof cpu_kernel_choices /
                                                     sizeof cpu_kernel_choices[0]; i++)
        if (cpu_providers[i]->flags & CPU_PROVIDER_SELECTABLE)
            cpu_kernel_choices[nc++] = cpu_providers[i]->name;
    cpu_kernel_choices[nc] = NULL;
    for (size_t i = 0; i < cpu_n_providers; i++)
        for (const mof_op_support *op = cpu_providers[i]->ops; op && op->op_type; op++) {
            bool dup = false;
            for (size_t j = 0; j < no && !dup; j++)
                dup = !strcmp(cpu_ops[j].domain, op->domain) &&
                      !strcmp(cpu_ops[j].op_type, op->op_type) &&
                      cpu_ops[j].since_opset == op->since_opset &&
                      cpu_ops[j].until_opset == op->until_opset;
            if (!dup && no + 1 < sizeof cpu_ops / sizeof cpu_ops[0])
                cpu_ops[no++] = *op;
        }
    memset(&cpu_ops[no], 0, sizeof cpu_ops[no]);
    return mof_register_backend(r, &cpu_backend);
}

MOF_PLUGIN_DEFINE("cpu", MOF_VERSION_STRING,
                  "x86-64 CPU backend: generated C with portable (and optional) kernels", "MIT",
                  register_cpu)
