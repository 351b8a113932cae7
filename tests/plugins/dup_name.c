/* dup_name.c: a second plugin named like good_plugin ("test-good"). */
#include <mof/mof.h>

static mof_status unchanged_run(mof_pass_ctx *pc, mof_model *model, void *priv)
{
    return MOF_UNCHANGED;
}

static const mof_pass_desc other_pass = {
    .size = sizeof(mof_pass_desc),
    .name = "test-dup-name-pass",
    .summary = "does nothing (tests)",
    .run = unchanged_run,
};

static mof_status register_dup_name(mof_registrar *r)
{
    return mof_register_pass(r, &other_pass);
}

MOF_PLUGIN_DEFINE("test-good", "9.9.9", "takes the name of test-good (tests)", "MIT",
                  register_dup_name)
