#!/usr/bin/env bash
# Pruning the digits CNN without retraining (prune-magnitude at 30/50/70%, layer and
# global; prune-nm 2:4; prune-channels 25/50/75% with each criterion, without
# compensation, with data-free or calibrated compensation, and with least-squares
# reconstruction on examples/digits/calib): accuracy in ONNX Runtime on the 450
# held-out images, with parameter and FLOP counts from the passes' reports.
#
#   tests/bench/run-digits-prune.sh [--mof PATH] [--work DIR]
#
# Environment: MOF (mof binary; default $REPO/mof, else mof on PATH), MOF_VENV (a
# Python venv with onnxruntime and numpy; default $REPO/.venv), MOF_PLUGIN_PATH (the
# plugin folders, when mof is run from a build tree; set by default from the mof
# binary's folder). Takes a few seconds.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${MOF_VENV:-$repo/.venv}"
mof="${MOF:-}"
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --mof) mof="$2"; shift 2 ;;
        --mof=*) mof="${1#--mof=}"; shift ;;
        *) args+=("$1"); shift ;;
    esac
done
if [ -z "$mof" ]; then
    if [ -x "$repo/mof" ]; then mof="$repo/mof"; else mof="$(command -v mof || true)"; fi
fi
if [ -z "$mof" ] || ! command -v "$mof" >/dev/null; then
    echo "run-digits-prune: mof binary not found; build it or pass --mof PATH" >&2
    exit 2
fi
mof="$(cd "$(dirname "$mof")" && pwd)/$(basename "$mof")"
if [ -z "${MOF_PLUGIN_PATH:-}" ]; then
    b="$(dirname "$mof")"
    MOF_PLUGIN_PATH="$b/passes/pruning/.libs:$b/passes/cleanup/.libs:$b/passes/fusion/.libs:$b/plugins/onnx/.libs"
    export MOF_PLUGIN_PATH
fi
py="$venv/bin/python"
[ -x "$py" ] || py="$(command -v python3)"
exec "$py" "$here/digits_prune.py" --mof "$mof" --python "$py" "${args[@]}"
