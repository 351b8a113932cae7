#!/usr/bin/env python3
"""File size and output SQNR of mof's quantize-weights / quantize-dynamic, run in ORT.

    quantdyn_measure.py --mof BUILD/mof MODEL.onnx [--out DIR] [--sets N]

Quantizes MODEL with mof (int8 per column, int4 blocked 32, int4 asymmetric, dynamic
int8) and with onnxruntime.quantization.quantize_dynamic for reference, then runs the
float model and each quantized one in ONNX Runtime on N random input sets (normal,
seed 0) and prints: file bytes, size relative to float, and the output SQNR in dB
(10 log10(sum ref^2 / sum (ref - q)^2) over all sets) with ORT's basic graph
optimizations and with all of them (where ORT swaps DequantizeLinear(int4) + MatMul
for MatMulNBits, which by default also quantizes activations to int8).
--pre (default eliminate-identity) runs first: PyTorch's exporter shares a weight
between layers through Identity nodes, which would hide it from the passes.
MOF_PLUGIN_PATH must point at the build's plugins.
"""
import argparse
import os
import subprocess
import sys

import numpy as np
import onnxruntime as ort

VARIANTS = [
    ("mof quantize-weights int8/col", "quantize-weights"),
    ("mof quantize-weights int4/b32", "quantize-weights(bits=4)"),
    ("mof quantize-weights uint4/b32 asym", "quantize-weights(bits=4,symmetric=false)"),
    ("mof quantize-dynamic int8", "quantize-dynamic"),
    ("mof quantize-dynamic int8/col", "quantize-dynamic(per-channel=true)"),
]


def run(path, feeds, level):
    so = ort.SessionOptions()
    so.graph_optimization_level = level
    so.log_severity_level = 3
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return [s.run(None, f) for f in feeds]


def sqnr(ref, got):
    sig = sum(float((r.astype(np.float64) ** 2).sum()) for rs in ref for r in rs)
    noise = sum(float(((r.astype(np.float64) - g) ** 2).sum())
                for rs, gs in zip(ref, got) for r, g in zip(rs, gs))
    return float("inf") if noise == 0 else 10 * np.log10(sig / noise)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mof", required=True)
    ap.add_argument("--out", default="quantdyn-out")
    ap.add_argument("--sets", type=int, default=4)
    ap.add_argument("--pre", default="eliminate-identity",
                    help="passes run first (PyTorch shares weights through Identity)")
    ap.add_argument("model")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    s = ort.InferenceSession(a.model, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feeds = [{i.name: rng.standard_normal([d if isinstance(d, int) else 1 for d in i.shape])
              .astype(np.float32) for i in s.get_inputs()} for _ in range(a.sets)]
    basic = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    full = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    ref = run(a.model, feeds, basic)
    size0 = os.path.getsize(a.model)
    rows = [("float", a.model)]
    for i, (label, passes) in enumerate(VARIANTS):
        out = os.path.join(a.out, "v%d.onnx" % i)
        subprocess.run([a.mof, "run", "-q", "--no-metadata", "--passes=" + ",".join(p for p in (a.pre, passes) if p), a.model,
                        "-o", out], check=True)
        rows.append((label, out))
    try:
        from onnxruntime.quantization import quantize_dynamic, QuantType
        out = os.path.join(a.out, "ort_dynamic.onnx")
        quantize_dynamic(a.model, out, weight_type=QuantType.QInt8)
        rows.append(("ORT quantize_dynamic int8", out))
    except Exception as e:  # the reference is optional
        print("note: ORT quantize_dynamic failed: %s" % e, file=sys.stderr)
    print("| model | bytes | size | SQNR basic (dB) | SQNR all opt (dB) |")
    print("|---|---:|---:|---:|---:|")
    for label, path in rows:
        sz = os.path.getsize(path)
        print("| %s | %d | %.1f%% | %.1f | %.1f |" % (
            label, sz, 100.0 * sz / size0, sqnr(ref, run(path, feeds, basic)),
            sqnr(ref, run(path, feeds, full))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
