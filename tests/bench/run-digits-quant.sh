#!/usr/bin/env bash
# Post-training quantization of the digits CNN, mof against ONNX Runtime's
# onnxruntime.quantization, end to end: venv, quantization, accuracy.
#
#   tests/bench/run-digits-quant.sh [digits_quant.py options...]
#
# Quantizes examples/digits/digits-cnn.onnx with ONNX Runtime (quantize_static:
# QDQ, per-channel, int8, MinMax or --method entropy/percentile over
# examples/digits/calib; quantize_dynamic)
# and, when its quantization plugin has the passes, with mof (quantize-static,
# quantize-dynamic), and prints a markdown table of each model's accuracy on the
# 450 held-out images in examples/digits/test, run by ONNX Runtime, and its size.
# Takes a few seconds. Exit status non-zero when a step failed (its row says why).
#
# Environment:
#   MOF        mof binary (default: $REPO/mof, else mof on PATH); --mof PATH among
#              the options works too
#   MOF_VENV   Python venv (default: $REPO/.venv)
#
# Example: tests/bench/run-digits-quant.sh --mof build/mof --work build/digits-quant
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"

bench_find_mof run-digits-quant "$@"

"$repo/tests/python/setup-venv.sh" "$venv"
# --mof comes first, so a --mof among "$@" still wins.
exec "$venv/bin/python" "$here/digits_quant.py" --mof "$mof" "$@"
