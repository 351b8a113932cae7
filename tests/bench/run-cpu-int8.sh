#!/usr/bin/env bash
# cpu backend, int8: ResNet-18 quantized by ONNX Runtime's quantize_static (QDQ,
# per-channel int8 weights, uint8 activations), emitted by mof's cpu backend (the QDQ
# patterns lowered to integer kernels, isa=avx2), against ONNX Runtime on the float
# model and on the QDQ model, batch 1, 1 thread by default, side by side in one run
# (medians of --runs runs after a warm-up). Issue #6's target: mof int8 <= 0.6 x ORT
# float.
#
#   tests/bench/run-cpu-int8.sh [cpu_int8_bench.py options...]   (e.g. --runs 50 --threads 1 2)
#
# Environment: MOF (mof binary; default $REPO/mof, else on PATH), MOF_BENCH_MODELS
# (exports, default $REPO/build/bench-models; this uses its calibrated/ folder),
# MOF_VENV (default $REPO/.venv). Run on an idle machine.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${MOF_VENV:-$repo/.venv}"
models="${MOF_BENCH_MODELS:-$repo/build/bench-models}/calibrated"
mof="${MOF:-}"
if [ -z "$mof" ]; then
    if [ -x "$repo/mof" ]; then mof="$repo/mof"; else mof="$(command -v mof || true)"; fi
fi
if [ -z "$mof" ]; then
    echo "run-cpu-int8.sh: no mof binary (set MOF)" >&2
    exit 1
fi
py="$venv/bin/python"
mkdir -p "$models"
"$py" "$here/export_models.py" --calibrated "$models" resnet18 >&2
"$py" "$here/cpu_int8_bench.py" --mof "$mof" --models "$models" "$@" resnet18
