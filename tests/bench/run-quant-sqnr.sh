#!/usr/bin/env bash
# Static quantization benchmark, end to end: venv, model export, measurement.
#
#   tests/bench/run-quant-sqnr.sh [quant_sqnr.py options...]
#
# Quantizes each model with mof's quantize-static and with ONNX Runtime's
# quantize_static (same settings, same 32 random-normal calibration inputs) and
# prints the output SQNR of each against the float model (in ONNX Runtime, on 8
# other inputs) and the file sizes, as a markdown table.
#
# Environment:
#   MOF               mof binary (default: $REPO/mof, else mof on PATH)
#   MOF_BENCH_MODELS  where exported models are kept (default: $REPO/build/bench-models);
#                     this benchmark uses its calibrated/ subfolder (O(1) activations)
#   MOF_QUANT_NAMES   models (default: "resnet18 mobilenet_v2")
#   MOF_VENV          Python venv (default: $REPO/.venv)
#
# Example: tests/bench/run-quant-sqnr.sh --json build/quant-sqnr.json
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"
models="${MOF_BENCH_MODELS:-$repo/build/bench-models}/calibrated"
read -r -a names <<< "${MOF_QUANT_NAMES:-resnet18 mobilenet_v2}"

bench_find_mof --no-opt run-quant-sqnr

bench_export_models --calibrated
exec "$venv/bin/python" "$here/quant_sqnr.py" --mof "$mof" "$@" "${paths[@]}"
