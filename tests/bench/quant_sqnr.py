#!/usr/bin/env python3
"""Static int8 quantization: mof's quantize-static against ONNX Runtime's quantize_static.

    quant_sqnr.py --mof MOF [--calib 32] [--eval 8] [--method minmax|entropy|percentile]
                  [--op-types LIST|defaults] [--json FILE] MODEL.onnx...

For each model, both tools quantize with the same settings (QDQ, per-channel int8
symmetric weights, uint8 asymmetric activations, --method calibration (default
min/max; ONNX Runtime's CalibrationMethod of the same name), op types --op-types
(default Conv, Gemm, MatMul, Add, Mul; "defaults": each tool's own default list, ORT's
op_types_to_quantize=None and mof's op-types left out) on the same calibration set: --calib inputs drawn
from a standard normal distribution (numpy RandomState(0)).  Each quantized model
then runs in ONNX Runtime (CPU, one thread) on --eval other inputs
(RandomState(1)), and its output is compared with the float model's output in
ONNX Runtime: SQNR = 10 log10(sum f^2 / sum (f - q)^2) over all eval outputs.
Also prints each file's size and the ratio float / quantized.  Prints a markdown
table; --json writes the numbers.  --ops also prints, per quantized model, the op
histogram of the graph ONNX Runtime runs (its QDQ fusions applied, extended graph
optimizations): what ends up on integer kernels and what stays float.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime import quantization as oq

OP_TYPES = ["Conv", "Gemm", "MatMul", "Add", "Mul"]
METHODS = {"minmax": oq.CalibrationMethod.MinMax, "entropy": oq.CalibrationMethod.Entropy,
           "percentile": oq.CalibrationMethod.Percentile}


def input_spec(path):
    m = onnx.load(path, load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    specs = []
    for i in m.graph.input:
        if i.name in inits:
            continue
        dims = [d.dim_value if d.dim_value > 0 else 1 for d in i.type.tensor_type.shape.dim]
        specs.append((i.name, dims))
    return specs


def draw(specs, n, seed):
    rs = np.random.RandomState(seed)
    return [{name: rs.randn(*dims).astype(np.float32) for name, dims in specs}
            for _ in range(n)]


class Reader(oq.CalibrationDataReader):
    def __init__(self, samples):
        self.it = iter(samples)

    def get_next(self):
        return next(self.it, None)


def session(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def run_all(path, samples):
    s = session(path)
    return [s.run(None, x) for x in samples]


def ort_ops(path):
    """Op histogram of the graph ONNX Runtime runs for the model at path."""
    import collections
    with tempfile.TemporaryDirectory(prefix="quant-ops-") as tmp:
        so = ort.SessionOptions()
        so.log_severity_level = 3
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        so.optimized_model_filepath = os.path.join(tmp, "opt.onnx")
        ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        m = onnx.load(so.optimized_model_filepath, load_external_data=False)
    return dict(sorted(collections.Counter(n.op_type for n in m.graph.node).items()))


def sqnr(ref, got):
    sig = sum(float((r.astype(np.float64) ** 2).sum()) for rs in ref for r in rs)
    noise = sum(float(((r.astype(np.float64) - g) ** 2).sum())
                for rs, gs in zip(ref, got) for r, g in zip(rs, gs))
    return float("inf") if noise == 0 else 10 * np.log10(sig / noise)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mof", required=True)
    ap.add_argument("--calib", type=int, default=32)
    ap.add_argument("--eval", type=int, default=8)
    ap.add_argument("--method", choices=sorted(METHODS), default="minmax",
                    help="calibration method of both tools (default: %(default)s)")
    ap.add_argument("--op-types", default=",".join(OP_TYPES),
                    help="comma list of op types for both tools, or 'defaults' "
                    "(default: %(default)s)")
    ap.add_argument("--ops", action="store_true",
                    help="also print the op histograms of the graphs ONNX Runtime runs")
    ap.add_argument("--json")
    ap.add_argument("models", nargs="+")
    a = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="quant-sqnr-") as tmp:
        for path in a.models:
            name = os.path.splitext(os.path.basename(path))[0]
            specs = input_spec(path)
            calib = draw(specs, a.calib, 0)
            evals = draw(specs, a.eval, 1)
            cdir = os.path.join(tmp, name + "-calib")
            os.makedirs(cdir)
            for n, _ in specs:
                np.save(os.path.join(cdir, n + ".npy"),
                        np.concatenate([c[n] for c in calib], axis=0))
            mof_out = os.path.join(tmp, name + "-mof.onnx")
            t0 = time.time()
            ops = "" if a.op_types == "defaults" else ",op-types='%s'" % a.op_types
            subprocess.run([a.mof, "run", "--passes",
                            "quantize-static(calibration=%s,method=%s,per-channel=true,"
                            "activation-type=uint8,weight-type=int8,format=qdq,"
                            "report-samples=0%s)" % (cdir, a.method, ops),
                            path, "-o", mof_out], check=True, stderr=subprocess.DEVNULL)
            t_mof = time.time() - t0
            ort_out = os.path.join(tmp, name + "-ort.onnx")
            t0 = time.time()
            oq.quantize_static(path, ort_out, Reader(calib), quant_format=oq.QuantFormat.QDQ,
                               per_channel=True, activation_type=oq.QuantType.QUInt8,
                               weight_type=oq.QuantType.QInt8,
                               calibrate_method=METHODS[a.method],
                               op_types_to_quantize=(None if a.op_types == "defaults"
                                                     else a.op_types.split(",")))
            t_ort = time.time() - t0
            ref = run_all(path, evals)
            row = {"model": name, "float_bytes": os.path.getsize(path)}
            for tool, out, t in (("mof", mof_out, t_mof), ("ort", ort_out, t_ort)):
                row[tool + "_sqnr_db"] = sqnr(ref, run_all(out, evals))
                row[tool + "_bytes"] = os.path.getsize(out)
                row[tool + "_seconds"] = t
                if a.ops:
                    row[tool + "_ort_ops"] = ort_ops(out)
            rows.append(row)
            print("%s: done" % name, file=sys.stderr)
    print("| model | mof SQNR dB | ORT SQNR dB | float MB | mof MB (ratio) | ORT MB (ratio) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        f = r["float_bytes"]
        print("| %s | %.2f | %.2f | %.2f | %.2f (%.2fx) | %.2f (%.2fx) |" % (
            r["model"], r["mof_sqnr_db"], r["ort_sqnr_db"], f / 1e6, r["mof_bytes"] / 1e6,
            f / r["mof_bytes"], r["ort_bytes"] / 1e6, f / r["ort_bytes"]))
    print("\n%d calibration inputs, %d evaluation inputs (standard normal), method %s, "
          "op types %s, ONNX Runtime %s" % (a.calib, a.eval, a.method, a.op_types,
                                            ort.__version__))
    for r in rows if a.ops else []:
        for tool in ("mof", "ort"):
            print("%s %s, as ONNX Runtime runs it: %s" % (
                r["model"], tool, ", ".join("%s %d" % kv for kv in r[tool + "_ort_ops"].items())))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
