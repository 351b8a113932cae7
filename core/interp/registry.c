/* registry.c: the lists of operator tables (tensor kernels with shape functions, and
 * the value kernels of ops that take or give sequences or optionals) and the lookup of
 * an op in them.
 *
 * The tables are searched in this order and, within a table, row by row: the first row
 * whose domain, op type and opset range match wins. "" and "ai.onnx" name the same
 * (default) domain. */
#include "config.h"

#include <string.h>

#include "interp/op.h"

static const mof_op_def *const op_tables[] = {
    mof_ops_elementwise, mof_ops_reduce, mof_ops_control,
    mof_ops_nn,          mof_ops_shape,  mof_ops_quant,
    mof_ops_einsum,      mof_ops_detect,
    mof_ops_mof,
    mof_ops_layout,      mof_ops_seq,
};

static const char *canonical_domain(const char *domain)
{
    return !domain || !strcmp(domain, "ai.onnx") ? "" : domain;
}

const mof_op_def *mof_op_find(const char *domain, const char *op_type, int64_t opset)
{
    if (!op_type || opset < 1)
        return NULL;
    domain = canonical_domain(domain);
    for (size_t t = 0; t < sizeof(op_tables) / sizeof(op_tables[0]); t++) {
        for (const mof_op_def *d = op_tables[t]; d->op_type; d++) {
            if (strcmp(d->op_type, op_type) || strcmp(canonical_domain(d->domain), domain))
                continue;
            if (opset < d->since_opset || (d->until_opset && opset > d->until_opset))
                continue;
            return d;
        }
    }
    return NULL;
}

static const mof_vop_def *const vop_tables[] = {
    mof_vops_elementwise, mof_vops_control, mof_vops_seq,
};

mof_vkernel_fn mof_vop_find(const char *domain, const char *op_type, int64_t opset)
{
    if (!op_type || opset < 1)
        return NULL;
    domain = canonical_domain(domain);
    for (size_t t = 0; t < sizeof(vop_tables) / sizeof(vop_tables[0]); t++) {
        for (const mof_vop_def *d = vop_tables[t]; d->op_type; d++) {
            if (strcmp(d->op_type, op_type) || strcmp(canonical_domain(d->domain), domain))
                continue;
            if (opset < d->since_opset || (d->until_opset && opset > d->until_opset))
                continue;
            return d->run;
        }
    }
    return NULL;
}

bool mof_op_can_run(const char *domain, const char *op_type, int64_t opset)
{
    if (mof_vop_find(domain, op_type, opset))
        return true;
    const mof_op_def *d = mof_op_find(domain, op_type, opset);
    return d && d->run;
}

bool mof_interp_supports(const char *domain, const char *op_type, int64_t opset)
{
    return mof_op_can_run(domain, op_type, opset);
}
