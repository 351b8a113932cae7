/* quant.h: the quantization plugin's internal registry. Each file of the plugin
 * registers its passes through one function. */
#ifndef MOF_QUANT_QUANT_H
#define MOF_QUANT_QUANT_H

#include <mof/mof.h>

/* static.c: quantize-static (calibration, QDQ / QOperator, sensitivity report). */
mof_status quant_register_static(mof_registrar *r);
/* dynamic.c: quantize-dynamic. */
mof_status quant_register_dynamic(mof_registrar *r);
/* weights.c: quantize-weights (weight-only int8 / blocked int4). */
mof_status quant_register_weights(mof_registrar *r);

#endif
