#!/usr/bin/env bash
# Interpreter latency benchmark, end to end: venv, model export, measurement.
#
#   tests/bench/run-interp-latency.sh [interp_latency.py options...]
#
# Times `mof exec --time N` (the reference interpreter) against ONNX Runtime with
# one thread on the same inputs, side by side; prints a markdown table.
#
# Environment:
#   MOF                 mof binary (default: $REPO/mof, else mof on PATH);
#                       --mof PATH among the options works too
#   MOF_BENCH_MODELS    where exported models are kept (default: $REPO/build/bench-models);
#                       this benchmark's exports go to its calibrated/ subfolder
#   MOF_LATENCY_NAMES   models to export and measure (default: resnet18)
#   MOF_VENV            Python venv (default: $REPO/.venv)
#
# Example: tests/bench/run-interp-latency.sh --runs 9 --json build/latency.json
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"
# Calibrated exports (export_models.py --calibrated): O(1) activations, as a
# trained model has, the same models the cross-check runs.
models="${MOF_BENCH_MODELS:-$repo/build/bench-models}/calibrated"
read -r -a names <<< "${MOF_LATENCY_NAMES:-resnet18}"

bench_find_mof run-interp-latency "$@"

bench_export_models --calibrated
# --mof comes first, so a --mof among "$@" still wins.
exec "$venv/bin/python" "$here/interp_latency.py" --mof "$mof" "$@" "${paths[@]}"
