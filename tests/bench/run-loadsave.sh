#!/usr/bin/env bash
# Load+save benchmark, end to end: venv, model export, measurement.
#
#   tests/bench/run-loadsave.sh [loadsave.py options...]
#
# Environment:
#   MOF               mof binary (default: $REPO/mof, else mof on PATH);
#                     --mof PATH among the options works too
#   MOF_BENCH_MODELS  where exported models are kept (default: $REPO/build/bench-models)
#   MOF_BENCH_NAMES   models to export and measure (default: resnet50)
#   MOF_VENV          Python venv (default: $REPO/.venv)
#
# Example: tests/bench/run-loadsave.sh --runs 9 --json build/loadsave.json
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"
models="${MOF_BENCH_MODELS:-$repo/build/bench-models}"
read -r -a names <<< "${MOF_BENCH_NAMES:-resnet50}"

bench_find_mof run-loadsave "$@"

bench_export_models
# --mof comes first, so a --mof among "$@" still wins.
exec "$venv/bin/python" "$here/loadsave.py" --mof "$mof" "$@" "${paths[@]}"
