/* layout: passes that change the order of axes the model computes in.
 *
 * sink-transposes (sink.c) moves Transpose nodes through layout-agnostic operators,
 * merges consecutive ones and cancels those that compose to the identity, never adding
 * a Transpose. to-nhwc (nhwc.c) converts convolutions, pools and batch normalizations
 * to channels-last operators of the "mof" domain and lets the same engine cancel the
 * Transposes between them, so that they remain only at the region's boundaries.
 *
 * The channels-last operators, domain "mof", version 1
 * ----------------------------------------------------
 * ONNX defines Conv and its relatives channels-first only. to-nhwc writes these
 * instead; each one has exactly the attributes of its ONNX twin (same names, meanings
 * and defaults: kernel_shape, pads, strides, dilations, group, auto_pad, ceil_mode,
 * count_include_pad, epsilon, ...), and differs only in the layout of its data input X
 * and output Y, where the channel axis comes last: [N, D1, ..., Dn, C] instead of
 * [N, C, D1, ..., Dn] (NHWC for 2-D). Every other input is exactly the ONNX one.
 *
 *   mof.NhwcConv(X, W, B) -> Y       ONNX Conv. W stays OIHW: [M, C/group, kH, kW]
 *                                    (kernel spatial dims in ONNX order); B is [M].
 *                                    Y is [N, oH, oW, M].
 *   mof.NhwcMaxPool(X) -> Y          ONNX MaxPool without its Indices output.
 *   mof.NhwcAveragePool(X) -> Y      ONNX AveragePool.
 *   mof.NhwcGlobalAveragePool(X) -> Y, mof.NhwcGlobalMaxPool(X) -> Y
 *                                    Y is [N, 1, ..., 1, C].
 *   mof.NhwcBatchNormalization(X, scale, B, input_mean, input_var) -> Y
 *                                    inference mode only (training_mode = 0); the
 *                                    per-channel inputs are [C].
 *
 * Their element types are those of the ONNX twin at the model's ONNX opset. The
 * reference interpreter implements them (core/interp/ops_layout.c) by transposing X to
 * channels-first, running the ONNX kernel, and transposing Y back: the same numbers as
 * the ONNX op, which is why to-nhwc is exact. A backend that supports them reads the
 * ONNX twin's attribute semantics and the layouts above. */
#include <stddef.h>

#include <mof/mof.h>

#include "layout.h"

static mof_status register_layout(mof_registrar *r)
{
    const mof_pass_desc *const passes[] = {
        &layout_sink_transposes_pass,
        &layout_to_nhwc_pass,
    };
    for (size_t i = 0; i < sizeof passes / sizeof passes[0]; i++) {
        mof_status st = mof_register_pass(r, passes[i]);
        if (st != MOF_OK)
            return st;
    }
    return MOF_OK;
}

MOF_PLUGIN_DEFINE("layout", MOF_VERSION_STRING,
                  "layout passes: transpose sinking and cancellation, conversion to "
                  "channels-last (NHWC) mof.Nhwc* operators",
                  "MIT", register_layout)
