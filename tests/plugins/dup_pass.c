/* dup_pass.c: a plugin that registers a new pass, then test-noop, which good_plugin
 * already registered: the host must keep neither. */
#include <mof/mof.h>

static mof_status unchanged_run(mof_pass_ctx *pc, mof_model *model, void *priv)
{
    return MOF_UNCHANGED;
}

static const mof_pass_desc fresh_pass = {
    .size = sizeof(mof_pass_desc),
    .name = "test-dup-pass-fresh",
    .summary = "does nothing (tests)",
    .run = unchanged_run,
};

static const mof_pass_desc noop_again = {
    .size = sizeof(mof_pass_desc),
    .name = "test-noop",
    .summary = "does nothing either (tests)",
    .run = unchanged_run,
};

static mof_status register_dup_pass(mof_registrar *r)
{
    mof_status st = mof_register_pass(r, &fresh_pass);
    if (st != MOF_OK)
        return st;
    return mof_register_pass(r, &noop_again);
}

MOF_PLUGIN_DEFINE("test-dup-pass", "1.0.0", "registers test-noop again (tests)", "MIT",
                  register_dup_pass)
