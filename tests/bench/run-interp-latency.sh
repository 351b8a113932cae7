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
repo="$(cd "$here/../.." && pwd)"
venv="${MOF_VENV:-$repo/.venv}"
# Calibrated exports (export_models.py --calibrated): O(1) activations, as a
# trained model has, the same models the cross-check runs.
models="${MOF_BENCH_MODELS:-$repo/build/bench-models}/calibrated"
read -r -a names <<< "${MOF_LATENCY_NAMES:-resnet18}"

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
    echo "run-interp-latency: mof binary not found (${mof:-tried $repo/mof and PATH});" \
         "build it first (make) or set MOF / pass --mof PATH" >&2
    exit 2
fi

"$repo/tests/python/setup-venv.sh" "$venv"
"$venv/bin/python" "$here/export_models.py" --calibrated "$models" "${names[@]}"

paths=()
for n in "${names[@]}"; do paths+=("$models/$n.onnx"); done
# --mof comes first, so a --mof among "$@" still wins.
exec "$venv/bin/python" "$here/interp_latency.py" --mof "$mof" "$@" "${paths[@]}"
