/* reg_fail.c: a plugin whose registration registers a pass, then fails. */
#include <mof/mof.h>

static mof_status unchanged_run(mof_pass_ctx *pc, mof_model *model, void *priv)
{
    return MOF_UNCHANGED;
}

static const mof_pass_desc early_pass = {
    .size = sizeof(mof_pass_desc),
    .name = "test-reg-fail-early",
    .summary = "registered before the failure (tests)",
    .run = unchanged_run,
};

static mof_status register_reg_fail(mof_registrar *r)
{
    mof_status st = mof_register_pass(r, &early_pass);
    if (st != MOF_OK)
        return st;
    return MOF_ERR_INVALID_ARG;
}

MOF_PLUGIN_DEFINE("test-reg-fail", "1.0.0", "fails to register (tests)", "MIT",
                  register_reg_fail)
