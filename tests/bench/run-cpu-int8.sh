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
. "$here/lib.sh"
models="${MOF_BENCH_MODELS:-$repo/build/bench-models}/calibrated"
names=(resnet18)
bench_find_mof --no-opt run-cpu-int8.sh
mkdir -p "$models"
bench_export_models --calibrated >&2
py="$venv/bin/python"
"$py" "$here/cpu_int8_bench.py" --mof "$mof" --models "$models" "$@" resnet18
