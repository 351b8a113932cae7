/* The quantization plugin: quantize-static, quantize-dynamic and quantize-weights. */
#include <mof/mof.h>

#include "quant.h"

static mof_status register_quantization(mof_registrar *r)
{
    mof_status st = quant_register_static(r);
    if (st == MOF_OK)
        st = quant_register_dynamic(r);
    if (st == MOF_OK)
        st = quant_register_weights(r);
    return st;
}

MOF_PLUGIN_DEFINE("quantization", MOF_VERSION_STRING,
                  "post-training quantization: static (calibrated), dynamic, weight-only",
                  "MIT", register_quantization)
