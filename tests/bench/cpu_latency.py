#!/usr/bin/env python3
"""Latency of the cpu backend's artifacts (kernels=portable and kernels=onednn) against
ONNX Runtime (all graph optimizations, intra_op_num_threads = the same count), batch 1,
side by side in one run; see run-cpu-latency.sh.

With more than one thread, the onednn artifact is timed twice: as it comes (libgomp's
default: worker threads spin a while at each barrier, like ORT's pool) and with
OMP_WAIT_POLICY=PASSIVE (workers sleep: robust when the cores are shared; libgomp reads
it at program start, so the caller sets it).

    cpu_latency.py --mof MOF --models DIR --pipeline CPU.XML [--runs N] [--threads 1 2] [names...]

For each model: the artifact is emitted with examples/pipelines/cpu.xml (kernels and
threads set),
built with its Makefile, and timed by its example program (median of N runs after a
warm-up run); ORT is timed the same way in this process. Prints one markdown row per
(model, threads) with the ratios mof/ORT, then the artifact's binary size and arena
size against the model's float weight bytes.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ISA = "avx2"


def build(mof, pipeline, model, kernels, threads, work):
    """Emits the artifact with examples/pipelines/cpu.xml and builds it for ISA (what
    this machine runs; ONNX Runtime picks its kernels for the CPU at run time too)."""
    out = os.path.join(work, f"{os.path.basename(model)[:-5]}-{kernels}-{threads}")
    subprocess.run([mof, "run", "-q", pipeline, model, "-o", out,
                    "--set", "cpu.prefix=m", "--set", f"cpu.kernels={kernels}",
                    "--set", f"cpu.threads={threads}", "--set", f"cpu.isa={ISA}"],
                   check=True, capture_output=True)
    art = os.path.join(out, "model")
    subprocess.run(["make", "-C", art], check=True, capture_output=True)
    return art


def time_artifact(art, threads, runs, env=None):
    r = subprocess.run(["./m_main", "-n", str(runs), "-t", str(threads), "-r", "1"],
                       cwd=art, check=True, capture_output=True, text=True,
                       env=dict(os.environ, **(env or {})))
    m = re.search(r"median latency ([0-9.]+) ms", r.stdout)
    if not m:
        raise RuntimeError(f"no latency in: {r.stdout!r}")
    return float(m.group(1))


def time_ort(model, threads, runs):
    import numpy as np
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    s = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    feeds = {i.name: rng.uniform(-1, 1, [d if isinstance(d, int) else 1 for d in i.shape])
             .astype(np.float32) for i in s.get_inputs()}
    s.run(None, feeds)
    t = []
    for _ in range(runs):
        t0 = time.perf_counter()
        s.run(None, feeds)
        t.append(time.perf_counter() - t0)
    return statistics.median(t) * 1e3


def weight_bytes(model):
    import onnx
    m = onnx.load(model)
    total = 0
    for t in m.graph.initializer:
        if t.data_type == onnx.TensorProto.FLOAT:
            n = 1
            for d in t.dims:
                n *= d
            total += 4 * n
    return total


def arena_bytes(art):
    with open(os.path.join(art, "m.h")) as f:
        m = re.search(r"#define M_ARENA_SIZE\s+\(?([0-9]+)", f.read())
    return int(m.group(1)) if m else -1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mof", required=True)
    ap.add_argument("--models", required=True)
    ap.add_argument("--pipeline", required=True, help="examples/pipelines/cpu.xml")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--isa", default="avx2", choices=["baseline", "avx2", "avx512"],
                    help="instruction set the artifacts are built for (default avx2)")
    ap.add_argument("names", nargs="*",
                    default=["resnet18", "mobilenet_v2", "squeezenet1_0",
                             "transformer_encoder"])
    a = ap.parse_args()
    global ISA
    ISA = a.isa
    if a.runs < 20:
        sys.exit("cpu_latency.py: --runs must be at least 20")
    work = tempfile.mkdtemp(prefix="mof-cpu-latency.")
    print("| model | threads | portable ms | onednn ms | onednn passive ms | ORT ms "
          "| portable/ORT | onednn/ORT | onednn passive/ORT |")
    print("|---|---|---|---|---|---|---|---|---|")
    sizes = []
    for name in a.names:
        model = os.path.join(a.models, name + ".onnx")
        for t in a.threads:
            row = {"passive": float("nan")}
            for k in ("portable", "onednn"):
                try:
                    art = build(a.mof, a.pipeline, model, k, t, work)
                    row[k] = time_artifact(art, t, a.runs)
                    if k == "onednn" and t > 1:
                        row["passive"] = time_artifact(art, t, a.runs,
                                                       {"OMP_WAIT_POLICY": "PASSIVE"})
                    if t == a.threads[0]:
                        binary = os.path.getsize(os.path.join(art, "m_main"))
                        sizes.append((name, k, binary, arena_bytes(art),
                                      weight_bytes(model)))
                except (subprocess.CalledProcessError, RuntimeError) as e:
                    err = getattr(e, "stderr", b"") or b""
                    if isinstance(err, bytes):
                        err = err.decode(errors="replace")
                    print(f"<!-- {name} {k} {t}: failed: {str(e)[:200]} {err[-400:]} -->")
                    row[k] = float("nan")
            o = time_ort(model, t, a.runs)
            print(f"| {name} | {t} | {row['portable']:.3f} | {row['onednn']:.3f} "
                  f"| {row['passive']:.3f} | {o:.3f} | {row['portable'] / o:.2f} "
                  f"| {row['onednn'] / o:.2f} | {row['passive'] / o:.2f} |", flush=True)
    print()
    print("| model | kernels | m_main bytes | arena bytes | float weight bytes | arena/weights |")
    print("|---|---|---|---|---|---|")
    for name, k, b, ar, w in sizes:
        print(f"| {name} | {k} | {b} | {ar} | {w} | {ar / w:.2f} |")


if __name__ == "__main__":
    main()
