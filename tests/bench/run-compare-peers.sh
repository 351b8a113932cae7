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
repo="$(cd "$here/../.." && pwd)"
venv="${MOF_VENV:-$repo/.venv}"
models="${MOF_BENCH_MODELS:-$repo/build/bench-models}/calibrated"
read -r -a names <<< "${MOF_PEERS_NAMES:-resnet18 resnet50 mobilenet_v2 squeezenet1_0 transformer_encoder vit_tiny}"

# Find the mof binary first, before spending time on the venv and exports.
mof="${MOF:-}"
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[i]}" in
        --mof) mof="${args[i+1]:-}" ;;
        --mof=*) mof="${args[i]#--mof=}" ;;
    esac
done
if [ -z "$mof" ]; then
    if [ -x "$repo/mof" ]; then mof="$repo/mof"; else mof="$(command -v mof || true)"; fi
fi
if [ -z "$mof" ] || ! command -v "$mof" >/dev/null; then
    echo "run-compare-peers: mof binary not found (${mof:-tried $repo/mof and PATH});" \
         "build it first (make) or set MOF / pass --mof PATH" >&2
    exit 2
fi

"$repo/tests/python/setup-venv.sh" "$venv"
"$venv/bin/python" "$here/export_models.py" --calibrated "$models" "${names[@]}"

paths=()
for n in "${names[@]}"; do paths+=("$models/$n.onnx"); done
# --mof comes first, so a --mof among "$@" still wins.
exec "$venv/bin/python" "$here/compare_peers.py" --mof "$mof" "$@" "${paths[@]}"
