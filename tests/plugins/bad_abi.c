/* bad_abi.c: a plugin built for the next ABI, written out by hand so that the host
 * must refuse it from the version alone. */
#include <mof/mof.h>

static mof_status register_bad_abi(mof_registrar *r)
{
    return MOF_OK;
}

static const mof_plugin_desc desc = {
    .abi_version = MOF_ABI_VERSION + 1,
    .size = sizeof(mof_plugin_desc),
    .build_signature = MOF_BUILD_SIGNATURE,
    .name = "test-bad-abi",
    .version = "1.0.0",
    .description = "claims a future ABI (tests)",
    .license = "MIT",
    .register_plugin = register_bad_abi,
};

MOF_API const mof_plugin_desc *mof_plugin_entry(void);
MOF_API const mof_plugin_desc *mof_plugin_entry(void)
{
    return &desc;
}
