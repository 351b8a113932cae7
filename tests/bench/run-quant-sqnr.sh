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
repo="$(cd "$here/../.." && pwd)"
venv="${MOF_VENV:-$repo/.venv}"
models="${MOF_BENCH_MODELS:-$repo/build/bench-models}/calibrated"
read -r -a names <<< "${MOF_QUANT_NAMES:-resnet18 mobilenet_v2}"

mof="${MOF:-}"
if [ -z "$mof" ]; then
    if [ -x "$repo/mof" ]; then mof="$repo/mof"; else mof="$(command -v mof || true)"; fi
fi
if [ -z "$mof" ] || ! command -v "$mof" >/dev/null; then
    echo "run-quant-sqnr: mof binary not found (${mof:-tried $repo/mof and PATH});" \
         "build it first (make) or set MOF" >&2
    exit 2
fi

"$repo/tests/python/setup-venv.sh" "$venv"
"$venv/bin/python" "$here/export_models.py" --calibrated "$models" "${names[@]}"

paths=()
for n in "${names[@]}"; do paths+=("$models/$n.onnx"); done
exec "$venv/bin/python" "$here/quant_sqnr.py" --mof "$mof" "$@" "${paths[@]}"
