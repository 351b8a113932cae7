#!/usr/bin/env python3
"""Latency of the cpu backend's artifacts (kernels=portable and kernels=onednn) against
ONNX Runtime (all graph optimizations, intra_op_num_threads = the same count), batch 1,
side by side in one run; see run-cpu-latency.sh.

With more than one thread, the onednn artifact is timed twice: as it comes (libgomp's
default: worker threads spin a while at each barrier, like ORT's pool) and with
OMP_WAIT_POLICY=PASSIVE (workers sleep: robust when the cores are shared; libgomp reads
it at program start, so the caller sets it).

    cpu_latency.py --mof MOF --models DIR --pipeline CPU.XML [--runs N] [--rounds R]
                   [--threads 1 2] [names...]

For each model and thread count: the artifacts are emitted with the pipeline (kernels
and threads set) and built with their Makefiles; then R rounds (default 5) each time
every artifact with its example program (median of N runs after a warm-up, default
20) and ONNX Runtime the same way in this process, one after the other. The time a
run takes on this kind of machine (a VM on a shared host) drifts by up to 1.7x over
seconds, both programs alike; alternating them pairs measurements taken moments apart:
each ratio mof/ORT is the median of the per-round ratios (their range in brackets),
each time the median over rounds. Prints one markdown row per (model, threads), then
the artifact's binary size and arena size against the model's float weight bytes.
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


def ort_session(model, threads):
    """An ONNX Runtime session (all graph optimizations, threads intra-op) and its feeds,
    warmed up."""
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
    return s, feeds


def time_ort(session, runs):
    s, feeds = session
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
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--isa", default="avx2", choices=["baseline", "avx2", "avx512"],
                    help="instruction set the artifacts are built for (default avx2)")
    ap.add_argument("names", nargs="*",
                    default=["resnet18", "mobilenet_v2", "squeezenet1_0",
                             "transformer_encoder"])
    a = ap.parse_args()
    global ISA
    ISA = a.isa
    if a.runs < 20 or a.rounds < 1:
        sys.exit("cpu_latency.py: --runs must be at least 20, --rounds at least 1")
    work = tempfile.mkdtemp(prefix="mof-cpu-latency.")
    print(f"(each time: the median of {a.runs} runs after a warm-up; {a.rounds} rounds "
          "alternate the programs, so that each ratio pairs measurements taken moments "
          "apart; columns: the median over rounds, and each ratio's median over rounds "
          "with its range)")
    print()
    print("| model | threads | portable ms | onednn ms | onednn passive ms | ORT ms "
          "| portable/ORT | onednn/ORT | onednn passive/ORT |")
    print("|---|---|---|---|---|---|---|---|---|")
    sizes = []
    nan = float("nan")
    for name in a.names:
        model = os.path.join(a.models, name + ".onnx")
        for t in a.threads:
            # what each round times: (column, artifact folder, environment)
            timed = []
            for k in ("portable", "onednn"):
                try:
                    art = build(a.mof, a.pipeline, model, k, t, work)
                except subprocess.CalledProcessError as e:
                    err = (e.stderr or b"").decode(errors="replace")
                    print(f"<!-- {name} {k} {t}: failed: {str(e)[:200]} {err[-400:]} -->")
                    continue
                timed.append((k, art, None))
                if k == "onednn" and t > 1:
                    timed.append(("passive", art, {"OMP_WAIT_POLICY": "PASSIVE"}))
                if t == a.threads[0]:
                    binary = os.path.getsize(os.path.join(art, "m_main"))
                    sizes.append((name, k, binary, arena_bytes(art), weight_bytes(model)))
            session = ort_session(model, t)
            ms = {k: [] for k, _, _ in timed}
            ms["ort"] = []
            for _ in range(a.rounds):
                for k, art, env in timed:
                    try:
                        ms[k].append(time_artifact(art, t, a.runs, env))
                    except (subprocess.CalledProcessError, RuntimeError) as e:
                        print(f"<!-- {name} {k} {t}: run failed: {str(e)[:300]} -->")
                        ms[k].append(nan)
                ms["ort"].append(time_ort(session, a.runs))
            del session

            def med(k):
                return statistics.median(ms[k]) if ms.get(k) else nan

            def ratio(k):
                if not ms.get(k):
                    return "nan"
                r = sorted(x / o for x, o in zip(ms[k], ms["ort"]))
                return f"{statistics.median(r):.2f} ({r[0]:.2f}-{r[-1]:.2f})"

            print(f"| {name} | {t} | {med('portable'):.3f} | {med('onednn'):.3f} "
                  f"| {med('passive'):.3f} | {med('ort'):.3f} | {ratio('portable')} "
                  f"| {ratio('onednn')} | {ratio('passive')} |", flush=True)
    print()
    print("| model | kernels | m_main bytes | arena bytes | float weight bytes | arena/weights |")
    print("|---|---|---|---|---|---|")
    for name, k, b, ar, w in sizes:
        print(f"| {name} | {k} | {b} | {ar} | {w} | {ar / w:.2f} |")


if __name__ == "__main__":
    main()
