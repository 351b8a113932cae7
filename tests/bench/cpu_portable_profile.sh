#!/usr/bin/env bash
# The cpu backend's portable kernels against ONNX Runtime, side by side in one run:
# for each model, the artifact (examples/pipelines/cpu.xml, kernels=portable,
# threads=2, isa=$ISA) is emitted, built with its Makefile, checked against the
# reference interpreter (`mof exec --expect`), and timed by its example program
# (median of RUNS runs after a warm-up, -t 1 and -t 2); ORT (all graph optimizations,
# intra_op_num_threads the same, batch 1) is timed right after it. With PERF=1 it also
# prints the hottest functions of each artifact (`perf record` of 1 thread).
#
#   tests/bench/cpu_portable_profile.sh [model names...]
#
# Environment: MOF (the mof binary; default ./mof), MODELS (the exports of
# tests/bench/export_models.py; default $REPO/build/crosscheck-models), MOF_VENV
# (default $REPO/.venv), ISA (baseline|avx2|avx512; default avx2), RUNS (default 30),
# WORK (default a temporary folder), PERF (1: profile). Run on an idle machine.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
mof="${MOF:-./mof}"
models="${MODELS:-$repo/build/crosscheck-models}"
py="${MOF_VENV:-$repo/.venv}/bin/python"
isa="${ISA:-avx2}"
runs="${RUNS:-30}"
work="${WORK:-$(mktemp -d)}"
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(resnet18 mobilenet_v2 squeezenet1_0 transformer_encoder)

ort_ms() { # MODEL THREADS
    "$py" - "$1" "$2" "$runs" <<'PYEOF'
import statistics, sys, time
import numpy as np
import onnxruntime as ort
model, threads, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
so = ort.SessionOptions()
so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
so.intra_op_num_threads = threads
so.inter_op_num_threads = 1
s = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
rng = np.random.default_rng(1)
feeds = {i.name: rng.uniform(-1, 1, [d if isinstance(d, int) else 1 for d in i.shape])
         .astype(np.float32) for i in s.get_inputs()}
for _ in range(3):
    s.run(None, feeds)
t = []
for _ in range(runs):
    t0 = time.perf_counter()
    s.run(None, feeds)
    t.append(time.perf_counter() - t0)
print(f"{statistics.median(t) * 1e3:.3f}")
PYEOF
}

echo "load: $(uptime)"
echo "| model | threads | portable ms | ORT ms | portable/ORT |"
echo "|---|---|---|---|---|"
for name in "${names[@]}"; do
    model="$models/$name.onnx"
    out="$work/$name"
    rm -rf "$out"
    "$mof" run -q "$repo/examples/pipelines/cpu.xml" "$model" -o "$out" --set cpu.prefix=m \
        --set cpu.kernels=portable --set cpu.threads=2 --set cpu.isa="$isa"
    make -s -C "$out/model" >/dev/null
    mkdir -p "$out/in" "$out/out"
    (cd "$out/model" && ./m_main -n 1 -r 1 -s "$out/in" -o "$out/out" >/dev/null)
    if ! "$mof" exec -q "$model" --inputs "$out/in" --expect "$out/out" >"$out/exec.txt" 2>&1; then
        echo "<!-- $name: outputs differ from the interpreter: $(tail -3 "$out/exec.txt") -->"
    fi
    for t in 1 2; do
        p=$(cd "$out/model" && ./m_main -n "$runs" -t "$t" -r 1 |
            sed -n 's/.*median latency \([0-9.]*\) ms.*/\1/p')
        o=$(ort_ms "$model" "$t")
        echo "| $name | $t | $p | $o | $(awk -v a="$p" -v b="$o" 'BEGIN { printf "%.2f", a / b }') |"
    done
    if [ "${PERF:-0}" = 1 ] && command -v perf >/dev/null 2>&1; then
        (cd "$out/model" && perf record -q -o "$out/perf.data" ./m_main -n "$runs" -t 1 -r 1 \
            >/dev/null 2>&1) &&
            perf report -i "$out/perf.data" --stdio 2>/dev/null | grep -v '^#' | grep . | head -8
    fi
done
echo "load: $(uptime)"
