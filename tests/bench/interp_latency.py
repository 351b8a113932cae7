#!/usr/bin/env python3
"""Latency of mof's reference interpreter against ONNX Runtime, one thread each.

    interp_latency.py [--mof PATH] [--runs N] [--json FILE] MODEL.onnx [MODEL.onnx...]

For each model, seeded random inputs (as tests/python/crosscheck.py makes them)
are written as input_<i>.pb, then both sides are timed in the same run:

  mof:  MOF exec MODEL --inputs DIR -o OUT --time N
        (mof loads the model, runs it once untimed, then N timed runs, and
        prints their median; the interpreter is single-threaded)
  ort:  an onnxruntime.InferenceSession in this process with
        intra_op_num_threads=1, inter_op_num_threads=1 (CPU provider, default
        graph optimizations), one untimed warm-up run, then N timed runs of
        session.run, median taken here.

Both sides therefore measure steady-state inference only: no process start-up,
model loading or session creation.  Sides alternate for --rounds rounds (the
median over all runs is reported) so that drift in machine load hits both.
The outputs of mof's last run are compared with ONNX Runtime's as a sanity
check (the cross-check proper is crosscheck.py).

Prints a markdown table.  Exit status: 0 ok, 1 a run failed or the outputs
differ, 2 usage.
"""

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
import crosscheck  # noqa: E402  (make_inputs, find_mof, compare)
sys.path.pop(0)

# "median 12.3 ms", "median: 0.45 s", "median latency 870 us" ...
MEDIAN_RE = re.compile(r"median[^0-9\n]*([0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)\s*"
                       r"(ns|us|µs|ms|s)\b", re.IGNORECASE)
MIN_RE = re.compile(r"\bmin[^0-9\n]*([0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)\s*"
                    r"(ns|us|µs|ms|s)\b", re.IGNORECASE)
UNIT_MS = {"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "ms": 1.0, "s": 1e3}


def mof_median_ms(mof, model, indir, outdir, runs):
    """Runs `mof exec --time`; returns (median ms, min ms or None) as mof prints them."""
    argv = [mof, "exec", model, "--inputs", indir, "-o", outdir, "--time", str(runs)]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise RuntimeError("mof exec failed (exit %d): %s\n%s"
                           % (p.returncode, " ".join(argv), p.stderr.strip()))
    m = MEDIAN_RE.search(p.stdout) or MEDIAN_RE.search(p.stderr)
    if not m:
        raise RuntimeError("no median in the output of %s:\n%s%s"
                           % (" ".join(argv), p.stdout, p.stderr))
    median = float(m.group(1)) * UNIT_MS[m.group(2).lower()]
    # "latency: median 160.2 ms over 9 runs (min 151.0 ms, max ...)": min when given
    mn = MIN_RE.search(p.stdout)
    return median, (float(mn.group(1)) * UNIT_MS[mn.group(2).lower()] if mn else None)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def ort_session(model):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


def bench_model(mof, model, runs, rounds, seed, work):
    import onnx
    from onnx import numpy_helper

    name = os.path.splitext(os.path.basename(model))[0]
    m = onnx.load(model)
    inputs = crosscheck.make_inputs(m, seed)
    out_names = [o.name for o in m.graph.output]
    del m
    indir = os.path.join(work, name, "inputs")
    outdir = os.path.join(work, name, "outputs")
    os.makedirs(indir)
    for i, (iname, a) in enumerate(inputs):
        with open(os.path.join(indir, "input_%d.pb" % i), "wb") as f:
            f.write(numpy_helper.from_array(a, iname).SerializeToString())

    sess = ort_session(model)
    feed = dict(inputs)
    want = sess.run(None, feed)  # warm-up
    mof_ms, mof_min, ort_ms = [], [], []
    for _ in range(rounds):
        shutil.rmtree(outdir, ignore_errors=True)
        med, mn = mof_median_ms(mof, model, indir, outdir, runs)
        mof_ms.append(med)
        if mn is not None:
            mof_min.append(mn)
        for _ in range(runs):
            t0 = time.perf_counter()
            sess.run(None, feed)
            ort_ms.append((time.perf_counter() - t0) * 1e3)

    worst = 0.0
    for i, (oname, w) in enumerate(zip(out_names, want)):
        t = onnx.TensorProto()
        with open(os.path.join(outdir, "output_%d.pb" % i), "rb") as f:
            t.ParseFromString(f.read())
        st = crosscheck.compare(oname, numpy_helper.to_array(t), w, 1e-5, 1e-4)
        if not st["ok"]:
            raise RuntimeError("output %r differs from ONNX Runtime's: %s" % (oname, st["why"]))
        worst = max(worst, st["max_abs"])

    # mof reports one median per round; with one round it is the median of `runs`.
    mof_med = statistics.median(mof_ms)
    ort_med = statistics.median(ort_ms)
    return {"model": name, "path": os.path.abspath(model), "runs": runs, "rounds": rounds,
            "mof_median_ms": mof_med, "mof_round_medians_ms": mof_ms,
            "mof_min_ms": min(mof_min) if mof_min else None,
            "ort_median_ms": ort_med, "ort_ms": ort_ms, "ort_min_ms": min(ort_ms),
            "ratio_mof_ort": mof_med / ort_med, "max_abs_err": worst}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+", metavar="MODEL.onnx")
    ap.add_argument("--mof", default=os.environ.get("MOF"),
                    help="mof binary (default: $MOF, else ./mof, else mof on PATH)")
    ap.add_argument("--runs", type=int, default=7,
                    help="timed runs per side and round (default 7, at least 5)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="alternations of the two sides (default 1)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the random inputs")
    ap.add_argument("--json", metavar="FILE", help="also write all samples as JSON")
    args = ap.parse_args(argv)
    if args.runs < 5:
        ap.error("--runs must be at least 5")
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    mof = crosscheck.find_mof(args.mof)
    if not mof:
        print("interp_latency: mof binary not found (%s); build it first or pass "
              "--mof PATH / set MOF" % (args.mof or "tried ./mof and PATH"), file=sys.stderr)
        return 2
    for m in args.models:
        if not os.path.isfile(m):
            print("interp_latency: model %s not found" % m, file=sys.stderr)
            return 2

    import onnxruntime
    work = tempfile.mkdtemp(prefix="mof-latency-")
    results, failed = [], False
    try:
        for model in args.models:
            try:
                results.append(bench_model(mof, model, args.runs, args.rounds,
                                           args.seed, work))
            except Exception as e:
                print("interp_latency: %s: %s" % (model, e), file=sys.stderr)
                failed = True
    finally:
        shutil.rmtree(work, ignore_errors=True)

    if results:
        print("| model | mof interpreter median ms | ONNX Runtime median ms (1 thread) "
              "| mof / ORT | mof min ms | ORT min ms |")
        print("|---|---:|---:|---:|---:|---:|")
        for r in results:
            print("| %s | %.1f | %.1f | %.2f | %s | %.1f |" % (
                r["model"], r["mof_median_ms"], r["ort_median_ms"], r["ratio_mof_ort"],
                "-" if r["mof_min_ms"] is None else "%.1f" % r["mof_min_ms"],
                r["ort_min_ms"]))
        print("\nmedians of %d run(s) per side x %d round(s), batch 1, after a warm-up; "
              "ONNX Runtime %s, CPU provider, intra_op 1, inter_op 1; %s, %d CPUs."
              % (args.runs, args.rounds, onnxruntime.__version__,
                 cpu_name(), os.cpu_count()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"mof": mof, "onnxruntime": onnxruntime.__version__,
                       "cpu": cpu_name(), "cpu_count": os.cpu_count(),
                       "results": results}, f, indent=2)
            f.write("\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
