/* registry.c: the list of operator tables and the lookup of an op in them.
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
    mof_ops_layout,
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

bool mof_interp_supports(const char *domain, const char *op_type, int64_t opset)
{
    const mof_op_def *d = mof_op_find(domain, op_type, opset);
    return d && d->run;
}
