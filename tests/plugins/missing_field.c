/* missing_field.c: a plugin whose descriptor has no name. */
#include <mof/mof.h>

static mof_status register_missing_field(mof_registrar *r)
{
    return MOF_OK;
}

MOF_PLUGIN_DEFINE(NULL, "1.0.0", "has no name (tests)", "MIT", register_missing_field)
