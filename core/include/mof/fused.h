/* mof/fused.h: the operators of the "mof" domain, which the fusion passes write and
 * backends implement.
 *
 * A fused operator stands for a small subgraph of ONNX operators that runtimes compute
 * in one kernel (a convolution and its activation, GELU, attention). Each is defined
 * below as exactly the ONNX computation it replaces, so a backend may implement it
 * with one kernel, or expand it back into ONNX operators. The reference interpreter
 * implements every one of them (mof_interp_supports("mof", ...) is true), so models
 * that contain them are still checked numerically by `mof verify` and --check.
 *
 * A model that uses one of these operators imports the domain: opset_import
 * { domain: "mof", version: 1 } (mof_model_set_opset(m, MOF_FUSED_DOMAIN,
 * MOF_FUSED_OPSET)); the passes add the import when they write the first such node.
 * A runtime that does not know the domain (ONNX Runtime) cannot load such a model:
 * run only the fusion passes whose output the target understands, or a backend that
 * declares these operators.
 *
 * Element types: the float types (float, double, float16, bfloat16) unless said.
 *
 * ------------------------------------------------------------------ activations
 *
 * FusedConv, FusedGemm and FusedMatMul end with an activation, named by the STRING
 * attribute `activation` and parameterised by the FLOATS attribute
 * `activation_params` (absent or shorter: the defaults below; longer: an error).
 * The activation is applied to every element y of the product:
 *
 *   activation     params (default)        result
 *   (absent), ""   -                       y
 *   "Relu"         -                       max(y, 0)
 *   "LeakyRelu"    alpha (0.01)            y < 0 ? alpha * y : y
 *   "Clip"         min (-inf), max (+inf)  min(max(y, min), max)    (Relu6: 0, 6)
 *   "Sigmoid"      -                       1 / (1 + exp(-y))
 *   "HardSigmoid"  alpha (0.2), beta (0.5) max(0, min(1, alpha * y + beta))
 *   "HardSwish"    -                       y * max(0, min(1, y / 6 + 1/2))
 *   "SiLU"         -                       y * sigmoid(y)   (also called Swish)
 *
 * These are ONNX's Relu, LeakyRelu, Clip, Sigmoid, HardSigmoid and HardSwish with the
 * same attributes (Clip's min and max inputs become parameters), and Mul(y,
 * Sigmoid(y)). The reference computes each in double from the product's element and
 * rounds once to the output type, as the separate ONNX operator does.
 *
 * ------------------------------------------------------------------ operators
 *
 * mof.FusedConv(X, W, [B]) -> Y
 *     ONNX Conv (opset 11 semantics): every input and attribute of Conv (auto_pad,
 *     dilations, group, kernel_shape, pads, strides), plus `activation` and
 *     `activation_params`, applied to Conv's output. Replaces Conv -> activation.
 *
 * mof.FusedGemm(A, B, [C]) -> Y
 *     ONNX Gemm (opset 13 semantics: C optional and unidirectionally broadcast to
 *     [M, N]; alpha, beta, transA, transB), then the activation. Replaces Gemm ->
 *     activation.
 *
 * mof.FusedMatMul(A, B) -> Y
 *     ONNX MatMul (numpy matmul: batched, broadcasting batch dims), then the
 *     activation. Replaces MatMul -> activation.
 *
 * mof.Gelu(X) -> Y
 *     Attribute `approximate` STRING, "none" (default) or "tanh", as ONNX Gelu
 *     (opset 20), which the passes write instead when the model's opset is 20 or more:
 *       "none": Y = 0.5 * X * (1 + erf(X / sqrt(2)))
 *       "tanh": Y = 0.5 * X * (1 + tanh(sqrt(2 / pi) * (X + 0.044715 * X^3)))
 *
 * mof.LayerNormalization(X, Scale, [B]) -> Y, [Mean], [InvStdDev]
 *     Exactly ONNX LayerNormalization (opset 17): attributes axis (-1), epsilon
 *     (1e-5), stash_type (1: float). X is normalized over the axes axis..rank-1:
 *     Y = (X - mean) / sqrt(var + epsilon) * Scale + B, with the population variance;
 *     Scale and B broadcast to X (the passes give them the normalized shape). Written
 *     for models whose opset is below 17; from 17 on the passes write the ONNX op.
 *
 * mof.Attention(Q, K_T, V, [Mask]) -> Y
 *     Scaled dot-product attention with the key already transposed:
 *       S = (Q @ K_T) * scale            Q [..., Lq, D], K_T [..., D, Lk]
 *       S = S + Mask                     when given; numpy broadcasting, so an
 *                                        additive mask of -inf / large negatives
 *       P = Softmax(S, axis = -1)
 *       Y = P @ V                        V [..., Lk, Dv], Y [..., Lq, Dv]
 *     where @ is ONNX MatMul (batch dims broadcast), and the FLOAT attribute `scale`
 *     defaults to 1. Heads are batch dims: [B, H, L, D] or [B*H, L, D]. Replaces
 *     MatMul(Q, K_T) -> Mul or Div by a constant -> Add(Mask) -> Softmax -> MatMul(V),
 *     the scale and mask steps each optional. */
#ifndef MOF_FUSED_H
#define MOF_FUSED_H

#include <math.h>
#include <string.h>

#include <mof/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The domain of the fused operators and the version this header describes. */
#define MOF_FUSED_DOMAIN "mof"
#define MOF_FUSED_OPSET 1

/* Operator names in MOF_FUSED_DOMAIN. */
#define MOF_OP_FUSED_CONV "FusedConv"
#define MOF_OP_FUSED_GEMM "FusedGemm"
#define MOF_OP_FUSED_MATMUL "FusedMatMul"
#define MOF_OP_GELU "Gelu"
#define MOF_OP_LAYER_NORMALIZATION "LayerNormalization"
#define MOF_OP_ATTENTION "Attention"

/* The activations of FusedConv, FusedGemm and FusedMatMul (see the table above). */
typedef enum mof_activation {
    MOF_ACTIVATION_NONE = 0,
    MOF_ACTIVATION_RELU,
    MOF_ACTIVATION_LEAKY_RELU,
    MOF_ACTIVATION_CLIP,
    MOF_ACTIVATION_SIGMOID,
    MOF_ACTIVATION_HARD_SIGMOID,
    MOF_ACTIVATION_HARD_SWISH,
    MOF_ACTIVATION_SILU,
    MOF_ACTIVATION_UNKNOWN = -1,
} mof_activation;

/* The value of the `activation` attribute for an activation (static string), or
 * NULL for MOF_ACTIVATION_UNKNOWN. */
static inline const char *mof_activation_name(mof_activation a)
{
    switch (a) {
    case MOF_ACTIVATION_NONE: return "";
    case MOF_ACTIVATION_RELU: return "Relu";
    case MOF_ACTIVATION_LEAKY_RELU: return "LeakyRelu";
    case MOF_ACTIVATION_CLIP: return "Clip";
    case MOF_ACTIVATION_SIGMOID: return "Sigmoid";
    case MOF_ACTIVATION_HARD_SIGMOID: return "HardSigmoid";
    case MOF_ACTIVATION_HARD_SWISH: return "HardSwish";
    case MOF_ACTIVATION_SILU: return "SiLU";
    default: return NULL;
    }
}

/* The activation an `activation` attribute names; NULL or "" is NONE, a name not in
 * the table is MOF_ACTIVATION_UNKNOWN. */
static inline mof_activation mof_activation_from_name(const char *name)
{
    if (!name || !*name)
        return MOF_ACTIVATION_NONE;
    for (int a = MOF_ACTIVATION_RELU; a <= MOF_ACTIVATION_SILU; a++)
        if (strcmp(name, mof_activation_name((mof_activation)a)) == 0)
            return (mof_activation)a;
    return MOF_ACTIVATION_UNKNOWN;
}

/* How many `activation_params` an activation takes (0, 1 or 2), and their defaults
 * (defaults may be NULL; it receives that many floats). -1 for UNKNOWN. */
static inline int mof_activation_n_params(mof_activation a, float *defaults)
{
    switch (a) {
    case MOF_ACTIVATION_LEAKY_RELU:
        if (defaults)
            defaults[0] = 0.01f;
        return 1;
    case MOF_ACTIVATION_CLIP:
        if (defaults) {
            defaults[0] = -INFINITY;
            defaults[1] = INFINITY;
        }
        return 2;
    case MOF_ACTIVATION_HARD_SIGMOID:
        if (defaults) {
            defaults[0] = 0.2f;
            defaults[1] = 0.5f;
        }
        return 2;
    case MOF_ACTIVATION_UNKNOWN:
        return -1;
    default:
        return 0;
    }
}

#ifdef __cplusplus
}
#endif
#endif
