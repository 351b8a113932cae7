/* no_entry.c: a shared object that exports no mof entry point. */
#include <mof/mof.h>

MOF_API int mof_test_not_a_plugin(void);
MOF_API int mof_test_not_a_plugin(void)
{
    return 42;
}
