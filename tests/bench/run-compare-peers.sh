#!/usr/bin/env bash
# Graph optimization benchmark, end to end: venv, model export, measurement.
#
#   tests/bench/run-compare-peers.sh [compare_peers.py options...]
#
# Optimizes each model with mof (examples/pipelines/optimize.xml), onnxsim and
# onnxoptimizer, side by side, and prints a markdown table: node counts, whether
# each output matches the original in ONNX Runtime, ORT latency of each output
# (graph optimizations disabled, 1 thread) and each tool's optimize time.
# Exit status non-zero when a mof output does not match the original.
#
# Environment:
#   MOF                 mof binary (default: $REPO/mof, else mof on PATH);
#                       --mof PATH among the options works too
#   MOF_BENCH_MODELS    where exported models are kept (default: $REPO/build/bench-models);
#                       this benchmark's exports go to its calibrated/ subfolder
#   MOF_PEERS_NAMES     models to export and compare (default: resnet18 resnet50
#                       mobilenet_v2 squeezenet1_0 transformer_encoder vit_tiny)
#   MOF_VENV            Python venv (default: $REPO/.venv)
#
# Example: tests/bench/run-compare-peers.sh --runs 30 --explain --json build/peers.json
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"
models="${MOF_BENCH_MODELS:-$repo/build/bench-models}/calibrated"
read -r -a names <<< "${MOF_PEERS_NAMES:-resnet18 resnet50 mobilenet_v2 squeezenet1_0 transformer_encoder vit_tiny}"

bench_find_mof run-compare-peers "$@"

bench_export_models --calibrated
# --mof comes first, so a --mof among "$@" still wins.
exec "$venv/bin/python" "$here/compare_peers.py" --mof "$mof" "$@" "${paths[@]}"
