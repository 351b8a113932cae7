#!/usr/bin/env python3
"""Latency of the cpu backend's int8 artifact against ONNX Runtime, batch 1, side by
side in one run; see run-cpu-int8.sh.

    cpu_int8_bench.py --mof MOF --models DIR [--runs N] [--rounds R] [--threads 1]
                      [--work DIR] [names...]

For each model (a float export): ONNX Runtime's quantize_static writes a QDQ model
(per-channel int8 weights, uint8 activations, calibrated on 8 seeded random inputs,
after onnxruntime's quant_pre_process). mof emits it with the cpu backend (isa=avx2),
which lowers the QDQ patterns to integer kernels (plugins/cpu/qdq.c); the artifact is
built with its Makefile and timed by its example program (median of N runs after a
warm-up). ONNX Runtime is timed the same way in this process on the float model and on
the QDQ model (its own int8 kernels). The artifact is also built with
-DM_RT_I8_NO_VNNI: the int16 path a CPU without AVX512-VNNI runs. The four alternate
over R rounds; each number is the median of the rounds' medians. Prints one markdown
row per (model, threads) with the ratios to ORT float (issue #6's target: <= 0.6) and
to ORT int8, then how far the artifact's output is from ORT float's and ORT int8's
(max |diff|, top-1).
"""
import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

PIPELINE = """<pipeline>
  <pass name="infer-shapes"/>
  <backend name="cpu" output="art" prefix="m" isa="avx2" threads="{threads}"/>
</pipeline>
"""


def quantize(model, out):
    import numpy as np
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process
    pre = out[:-5] + "-pre.onnx"
    quant_pre_process(model, pre, skip_symbolic_shape=True)
    m = onnx.load(pre)
    inp = m.graph.input[0]
    shape = [d.dim_value for d in inp.type.tensor_type.shape.dim]

    class Reader(CalibrationDataReader):
        def __init__(self):
            rng = np.random.default_rng(7)
            self.data = iter([{inp.name: rng.standard_normal(shape).astype(np.float32)}
                              for _ in range(8)])

        def get_next(self):
            return next(self.data, None)

    quantize_static(pre, out, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    return shape, inp.name


def build(mof, model, threads, work):
    out = os.path.join(work, f"{os.path.basename(model)[:-5]}-{threads}")
    xml = out + ".xml"
    with open(xml, "w") as f:
        f.write(PIPELINE.format(threads=threads))
    r = subprocess.run([mof, "run", xml, model, "-o", out], capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"mof run failed:\n{r.stderr}")
    art = os.path.join(out, "art")
    subprocess.run(["make", "-C", art], check=True, capture_output=True)
    # The same artifact without the u8 x s8 (AVX512-VNNI) path: the int16 pmaddwd path,
    # what a CPU with AVX2 but no VNNI runs.
    art16 = out + "-int16"
    subprocess.run(["rm", "-rf", art16], check=True)
    subprocess.run(["cp", "-r", art, art16], check=True)
    subprocess.run(["make", "-C", art16, "clean"], check=True, capture_output=True)
    subprocess.run(["make", "-C", art16, "CFLAGS=-O2 -std=c99 -DM_RT_I8_NO_VNNI"], check=True,
                   capture_output=True)
    with open(os.path.join(art, "m.c")) as f:
        src = f.read()
    return art, art16, src.count("_i8_conv_run"), src.count("_i8_matmul_run")


def child_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def time_artifact(art, threads, runs, indir):
    """(median wall ms per run, CPU ms per run). The CPU time is the difference between
    a run of the example with `runs` runs and one with none (loading, the warm-up run
    and writing the outputs cancel out): on a busy machine it stays close to what the
    wall time would be on an idle one."""
    os.makedirs(os.path.join(art, "out"), exist_ok=True)
    cmd = ["./m_main", "-t", str(threads), "-i", indir, "-o", os.path.join(art, "out")]
    c0 = child_cpu()
    subprocess.run(cmd + ["-n", "0"], cwd=art, check=True, capture_output=True)
    c1 = child_cpu()
    r = subprocess.run(cmd + ["-n", str(runs)], cwd=art, check=True, capture_output=True,
                       text=True)
    c2 = child_cpu()
    m = re.search(r"median latency ([0-9.]+) ms", r.stdout)
    if not m:
        raise RuntimeError(f"no latency in: {r.stdout!r}")
    return float(m.group(1)), ((c2 - c1) - (c1 - c0)) * 1e3 / runs


def time_ort(model, threads, runs, feed):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    s = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    out = s.run(None, feed)
    t = []
    c0 = time.process_time()
    for _ in range(runs):
        t0 = time.perf_counter()
        s.run(None, feed)
        t.append((time.perf_counter() - t0) * 1e3)
    cpu = (time.process_time() - c0) * 1e3 / runs
    return statistics.median(t), cpu, out[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mof", required=True)
    ap.add_argument("--models", required=True)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--threads", type=int, nargs="+", default=[1])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--work")
    ap.add_argument("names", nargs="*", default=["resnet18"])
    a = ap.parse_args()
    import numpy as np
    import onnx.numpy_helper as nh
    work = a.work or tempfile.mkdtemp(prefix="mof-int8-bench-")
    os.makedirs(work, exist_ok=True)
    rows = []
    cpu_rows = []
    for name in a.names:
        fmodel = os.path.join(a.models, name + ".onnx")
        qmodel = os.path.join(work, name + "-qdq.onnx")
        shape, iname = quantize(fmodel, qmodel)
        rng = np.random.default_rng(11)
        x = rng.standard_normal(shape).astype(np.float32)
        indir = os.path.join(work, name + "-in")
        os.makedirs(indir, exist_ok=True)
        t = nh.from_array(x, iname)
        with open(os.path.join(indir, "input_0.pb"), "wb") as f:
            f.write(t.SerializeToString())
        for th in a.threads:
            art, art16, nconv, nmm = build(a.mof, qmodel, th, work)
            # Rounds alternate the four, so that a change of machine load hits all of
            # them; each number is the median of the rounds' medians.
            wall = [[], [], [], []]
            cpu = [[], [], [], []]
            for _ in range(a.rounds):
                res = [time_artifact(art, th, a.runs, indir),
                       time_artifact(art16, th, a.runs, indir)]
                f, fc, yf = time_ort(fmodel, th, a.runs, {iname: x})
                q, qc, yq = time_ort(qmodel, th, a.runs, {iname: x})
                res += [(f, fc), (q, qc)]
                for i, (w, c) in enumerate(res):
                    wall[i].append(w)
                    cpu[i].append(c)
            lat, l16, ort_f, ort_q = (statistics.median(v) for v in wall)
            cpu_rows.append((name, th) + tuple(statistics.median(v) for v in cpu))
            outs = sorted(os.listdir(os.path.join(art, "out")))
            ya = nh.to_array(__import__("onnx").load_tensor(os.path.join(art, "out", outs[0])))
            rows.append((name, th, lat, l16, ort_f, ort_q, nconv, nmm, ya, yf, yq))
    print("| model | threads | mof int8 (ms) | mof int8, int16 path (ms) | ORT float (ms) "
          "| ORT int8 (ms) | mof int8 / ORT float | int16 path / ORT float | mof int8 / ORT int8 "
          "| integer convs | integer matmuls |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, th, lat, l16, f, q, nc, nm, *_ in rows:
        print(f"| {name} | {th} | {lat:.2f} | {l16:.2f} | {f:.2f} | {q:.2f} | {lat / f:.2f} "
              f"| {l16 / f:.2f} | {lat / q:.2f} | {nc} | {nm} |")
    print()
    print("CPU time per run (ms; load-robust: what the wall time is on an idle machine):")
    print()
    print("| model | threads | mof int8 | mof int8, int16 path | ORT float | ORT int8 "
          "| mof int8 / ORT float | int16 path / ORT float |")
    print("|---|---|---|---|---|---|---|---|")
    for name, th, c8, c16, cf, cq in cpu_rows:
        print(f"| {name} | {th} | {c8:.2f} | {c16:.2f} | {cf:.2f} | {cq:.2f} | {c8 / cf:.2f} "
              f"| {c16 / cf:.2f} |")
    print()
    for name, th, lat, l16, f, q, nc, nm, ya, yf, yq in rows:
        ya, yf, yq = ya.ravel(), yf.ravel(), yq.ravel()
        print(f"{name} ({th} thread(s)): max |int8 artifact - ORT float| = "
              f"{np.abs(ya - yf).max():.4g} (output range {yf.min():.3g}..{yf.max():.3g}), "
              f"max |artifact - ORT int8| = {np.abs(ya - yq).max():.4g}, "
              f"top-1 artifact {int(ya.argmax())} / ORT float {int(yf.argmax())} / "
              f"ORT int8 {int(yq.argmax())}")
    print(f"(work folder: {work})")


if __name__ == "__main__":
    sys.exit(main())
