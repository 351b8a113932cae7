/* provider.c: the table of kernel providers of the cpu backend (see provider.h). */
#include "provider.h"

const cpu_provider *const cpu_providers[] = {
    /* Other providers go here, one line each, above portable. */
    &cpu_provider_onednn,
    &cpu_provider_int8,
    &cpu_provider_portable, /* last: the fallback */
};

const size_t cpu_n_providers = sizeof cpu_providers / sizeof cpu_providers[0];
