/* qdq.h: the cpu backend's lowering of QDQ patterns to integer operators (qdq.c).
 * Private to plugins/cpu/. */
#ifndef MOF_CPU_QDQ_H
#define MOF_CPU_QDQ_H

#include <stddef.h>

#include <mof/mof.h>

/* What the lowering did. */
typedef struct cpu_qdq_stats {
    size_t conv;     /* DQ -> Conv -> [Relu] -> Q  became QLinearConv */
    size_t gemm;     /* DQ -> Gemm -> [Relu] -> Q  became Reshape -> QLinearConv 1x1 -> Reshape */
    size_t matmul;   /* DQ -> MatMul -> Q          became QLinearMatMul */
    size_t relu;     /* Relus folded (dropped where the zero point is the type's minimum,
                        else a Max with the zero point after the integer op) */
    size_t pool;     /* DQ -> MaxPool -> Q (same parameters) became MaxPool of the 8-bit data */
    size_t skipped;  /* candidate patterns left in float, each with a note (see below) */
} cpu_qdq_stats;

/* Rewrites, in `model` (a copy the backend owns), every QDQ pattern
 *
 *   DequantizeLinear(x) , DequantizeLinear(w const) [, DequantizeLinear(b int32 const)]
 *       -> Conv | Gemm | MatMul -> [Relu] -> QuantizeLinear
 *
 * and DequantizeLinear -> MaxPool -> QuantizeLinear of one scale and zero point (a
 * MaxPool of the 8-bit tensor, exactly),
 *
 * whose scales and zero points are constants of the shapes the integer ops take (x, y
 * per tensor; w per tensor or per output channel; the bias scale exactly x_scale *
 * w_scale as float), into QLinearConv / QLinearMatMul, which compute with int32 sums
 * and one float requantization (see core/interp/ops_quant.c). The result is a model the
 * reference interpreter runs too: the cpu artifact is bit-exact with the interpreter on
 * it. It is NOT bit-identical to the QDQ model in general (that one sums float
 * products): where the float sum rounds across a tie of the output's quantization the
 * two differ by one step (the tests bound it by one step on their models). A candidate that does not fit is left as it is
 * and noted (severity NOTE, naming the node and the reason). Values keep their types;
 * new values get theirs. Returns MOF_OK, MOF_UNCHANGED when nothing matched, or an
 * error (MOF_ERR_NOMEM). */
mof_status cpu_qdq_lower(mof_context *ctx, mof_model *model, cpu_qdq_stats *stats);

/* True when `op` (a Conv, Gemm or MatMul) is the float op of a QDQ pattern that
 * cpu_qdq_lower rewrites: the backend's preflight (which sees the model before the
 * lowering) accepts it on that ground. On false, *why says why (static string). */
bool cpu_qdq_lowerable(const mof_node *op, const char **why);

/* The same for a MaxPool between DequantizeLinear and QuantizeLinear of one scale and
 * zero point, which the lowering turns into a MaxPool of the 8-bit tensor. */
bool cpu_qdq_pool_lowerable(const mof_node *pool);

#endif
