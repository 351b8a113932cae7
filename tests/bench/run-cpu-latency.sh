#!/usr/bin/env bash
# cpu backend latency: mof artifacts (kernels=portable, kernels=onednn) against ONNX
# Runtime (all graph optimizations on, intra_op_num_threads = the same), batch 1,
# 1 and 2 threads, on ResNet-18, MobileNetV2, SqueezeNet and the transformer encoder,
# side by side; then the achieved GFLOP/s of ResNet's 3x3 64-channel convolution
# through the oneDNN runtime against the measured FMA peak (onednn_conv_bench.c).
#
#   tests/bench/run-cpu-latency.sh [cpu_latency.py options...]
#
# Environment: MOF (mof binary; default $REPO/mof, else on PATH), MOF_BENCH_MODELS
# (exports, default $REPO/build/bench-models; this uses its calibrated/ folder),
# MOF_VENV (default $REPO/.venv), CC. Needs libdnnl-dev. Run on an idle machine.
# With 2 threads the onednn artifacts are timed with libgomp's default wait policy and
# with OMP_WAIT_POLICY=PASSIVE (see cpu_latency.py).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"
models="${MOF_BENCH_MODELS:-$repo/build/bench-models}/calibrated"
names=(resnet18 mobilenet_v2 squeezenet1_0 transformer_encoder)
bench_find_mof --no-opt run-cpu-latency.sh
mkdir -p "$models"
bench_export_models --calibrated >&2
py="$venv/bin/python"
"$py" "$here/cpu_latency.py" --mof "$mof" --models "$models" \
    --pipeline "$here/cpu-latency.xml" "$@" "${names[@]}"

echo
echo "ResNet 3x3 conv, 56x56x64 -> 64 (oneDNN runtime of the artifacts):"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"${CC:-cc}" -std=c99 -O2 -I"$repo/plugins/cpu/runtime" "$here/onednn_conv_bench.c" \
    "$repo/plugins/cpu/runtime/mofrt_onednn.c" -ldnnl -lgomp -o "$tmp/conv"
# (GFLOP/s count the direct convolution's 2*MACs: with Winograd, the artifacts'
# default for this shape, they are "effective" and may pass the FMA peak;
# MOFRT_ONEDNN_WINOGRAD=0 times the direct kernels)
for t in 1 2; do
    for l in blocked8 blocked16 plain; do
        "$tmp/conv" --threads "$t" --layout "$l"
    done
    MOFRT_ONEDNN_WINOGRAD=0 "$tmp/conv" --threads "$t" --layout blocked16
done
