#!/usr/bin/env python3
"""Graph optimization: mof against onnxsim and onnxoptimizer, side by side.

    compare_peers.py [--mof PATH] [--pipeline XML] [--runs N] [--json FILE]
                     [--explain] MODEL.onnx [MODEL.onnx...]

For each model, three tools optimize the same file:

  mof            MOF run PIPELINE MODEL -o OUT   (a subprocess; default pipeline
                 examples/pipelines/optimize.xml: cleanup and fusions that leave
                 only standard ONNX ops)
  onnxsim        onnxsim.simplify(model)           (its defaults)
  onnxoptimizer  onnxoptimizer.optimize(model)     (its default passes:
                 get_fuse_and_elimination_passes())

and for each output this reports:

  nodes     top-level node count (the original's too)
  ok        outputs match the original's, both run by ONNX Runtime on the same
            seeded input: |out - orig| <= 1e-5 + 1e-4 |orig| elementwise
            (tests/python/crosscheck.py's tolerance)
  latency   ONNX Runtime with graph optimizations DISABLED (ORT_DISABLE_ALL, so
            that the graph as each tool wrote it is what runs), 1 intra- and 1
            inter-op thread, median of --runs runs after --warmup untimed runs;
            the tools' sessions take turns run by run, so drift in machine load
            hits all of them alike
  opt time  wall time to optimize, median of --opt-runs: for mof the whole
            process (start-up, load, passes, save); for the peers, in this
            process, onnx.load + optimize + onnx.save (no interpreter start-up
            or imports)

Prints a markdown table (ratios are mof/peer).  --explain prints, per model, the
op types of which mof's output has more nodes than a peer's.

Exit status: 0 ok, 1 a mof output does not match the original or mof failed
(a peer's mismatch or failure is reported, not fatal), 2 usage.
"""

import argparse
import collections
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
import crosscheck  # noqa: E402  (make_inputs, find_mof, compare)
sys.path.pop(0)

ATOL = 1e-5
RTOL = 1e-4
SEED = 0
TOOLS = ("mof", "onnxsim", "onnxoptimizer")
STANDARD_DOMAINS = ("", "ai.onnx", "ai.onnx.ml")


def run_mof(mof, pipeline, model, out):
    """Optimizes with mof; returns (seconds, path of the optimized model)."""
    argv = [mof, "run", "--quiet", pipeline, model, "-o", out]
    t0 = time.perf_counter()
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError("mof run failed (exit %d): %s\n%s"
                           % (p.returncode, " ".join(argv), p.stderr.strip()))
    # A pipeline with an onnx backend writes OUT/<output>; one without, the file OUT.
    if os.path.isdir(out):
        files = [f for f in os.listdir(out) if f.endswith(".onnx")]
        if len(files) != 1:
            raise RuntimeError("mof run wrote %d .onnx files into %s" % (len(files), out))
        return dt, os.path.join(out, files[0])
    return dt, out


def run_onnxsim(model, out):
    import onnx
    import onnxsim
    t0 = time.perf_counter()
    m = onnx.load(model)
    m, _ = onnxsim.simplify(m)
    onnx.save(m, out)
    return time.perf_counter() - t0, out


def run_onnxoptimizer(model, out):
    import onnx
    import onnxoptimizer
    t0 = time.perf_counter()
    m = onnx.load(model)
    m = onnxoptimizer.optimize(m)
    onnx.save(m, out)
    return time.perf_counter() - t0, out


def session(path):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def op_counts(model):
    return collections.Counter(
        (n.domain + "." if n.domain not in STANDARD_DOMAINS else "") + n.op_type
        for n in model.graph.node)


def measure(path, args, mof, pipeline, work):
    import onnx
    name = os.path.splitext(os.path.basename(path))[0]
    orig = onnx.load(path)
    res = {"model": name, "nodes": {"original": len(orig.graph.node)},
           "ok": {}, "why": {}, "worst_tol": {}, "latency_ms": {}, "opt_s": {},
           "custom_ops": {}, "ops": {"original": dict(op_counts(orig))}}
    inputs = dict(crosscheck.make_inputs(orig, SEED))

    outputs = {}
    for tool in TOOLS:
        times = []
        try:
            for i in range(args.opt_runs):
                if tool == "mof":
                    out = os.path.join(work, "%s.mof.%d.onnx" % (name, i))
                    dt, out = run_mof(mof, pipeline, path, out)
                elif tool == "onnxsim":
                    dt, out = run_onnxsim(path, os.path.join(work, "%s.onnxsim.onnx" % name))
                else:
                    dt, out = run_onnxoptimizer(
                        path, os.path.join(work, "%s.onnxoptimizer.onnx" % name))
                times.append(dt)
        except Exception as e:  # a peer may fail on a model; report it
            res["ok"][tool] = False
            res["why"][tool] = "failed: %s" % str(e).splitlines()[0][:200]
            continue
        res["opt_s"][tool] = statistics.median(times)
        m = onnx.load(out)
        counts = op_counts(m)
        res["nodes"][tool] = len(m.graph.node)
        res["ops"][tool] = dict(counts)
        res["custom_ops"][tool] = sorted(k for k in counts if "." in k)
        outputs[tool] = out

    # Reference: the original, run by ORT the same way as the outputs.
    ref_sess = session(path)
    names = [o.name for o in ref_sess.get_outputs()]
    want = ref_sess.run(names, inputs)
    sessions = {"original": ref_sess}
    for tool, out in outputs.items():
        try:
            s = session(out)
            got = s.run(names, inputs)
        except Exception as e:
            res["ok"][tool] = False
            res["why"][tool] = "ORT failed: %s" % str(e).splitlines()[0][:200]
            continue
        stats = [crosscheck.compare(n, g, w, ATOL, RTOL)
                 for n, g, w in zip(names, got, want)]
        res["ok"][tool] = all(st["ok"] for st in stats)
        res["worst_tol"][tool] = max(st["worst_tol"] for st in stats)
        res["why"][tool] = "; ".join(st["why"] for st in stats if st["why"])
        sessions[tool] = s

    # Latency: warm up each, then take turns run by run.
    for s in sessions.values():
        for _ in range(args.warmup):
            s.run(names, inputs)
    samples = {k: [] for k in sessions}
    for _ in range(args.runs):
        for k, s in sessions.items():
            t0 = time.perf_counter()
            s.run(names, inputs)
            samples[k].append((time.perf_counter() - t0) * 1e3)
    for k, v in samples.items():
        res["latency_ms"][k] = statistics.median(v)
    return res


def fmt_ratio(a, b):
    return "%.2f" % (a / b) if a is not None and b else "-"


def print_table(results, args):
    print("| model | nodes orig | mof | onnxsim | onnxoptimizer "
          "| match mof/sim/opt | ORT ms orig | mof | onnxsim | onnxoptimizer "
          "| mof/sim | mof/opt | opt s mof | onnxsim | onnxoptimizer |")
    print("|---|---:|---:|---:|---:|:---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        n = r["nodes"]
        lat = r["latency_ms"]
        ok = "/".join(("yes" if r["ok"].get(t) else "NO") for t in TOOLS)
        cells = [r["model"], str(n["original"])]
        cells += [str(n.get(t, "-")) for t in TOOLS]
        cells.append(ok)
        cells += ["%.2f" % lat[k] if k in lat else "-" for k in ("original",) + TOOLS]
        cells += [fmt_ratio(lat.get("mof"), lat.get("onnxsim")),
                  fmt_ratio(lat.get("mof"), lat.get("onnxoptimizer"))]
        cells += ["%.2f" % r["opt_s"][t] if t in r["opt_s"] else "-" for t in TOOLS]
        print("| " + " | ".join(cells) + " |")
    print()
    print("ORT %s, graph optimizations disabled, 1 thread, median of %d runs after %d "
          "warm-up; optimize time median of %d; %s, %d CPUs, load average %.1f."
          % (__import__("onnxruntime").__version__, args.runs, args.warmup,
             args.opt_runs, platform.machine(), os.cpu_count(), os.getloadavg()[0]))
    for r in results:
        for t in TOOLS:
            if r["why"].get(t):
                print("%s, %s: %s" % (r["model"], t, r["why"][t]))
            if r["custom_ops"].get(t):
                print("%s, %s: non-standard ops %s" % (r["model"], t,
                                                       ", ".join(r["custom_ops"][t])))


def print_explain(results):
    """Op types where mof's output has more nodes than a peer's (and the reverse)."""
    for r in results:
        mof = collections.Counter(r["ops"].get("mof", {}))
        for peer in TOOLS[1:]:
            if peer not in r["ops"]:
                continue
            p = collections.Counter(r["ops"][peer])
            more = mof - p
            less = p - mof
            if more or less:
                print("%s: mof vs %s: mof has more %s; fewer %s" % (
                    r["model"], peer,
                    ", ".join("%s +%d" % kv for kv in sorted(more.items())) or "-",
                    ", ".join("%s -%d" % kv for kv in sorted(less.items())) or "-"))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+", metavar="MODEL.onnx")
    ap.add_argument("--mof", help="mof binary (default: $MOF, ./mof, PATH)")
    ap.add_argument("--pipeline", default=os.path.join(REPO, "examples", "pipelines",
                                                       "optimize.xml"),
                    help="mof pipeline (default: examples/pipelines/optimize.xml)")
    ap.add_argument("--runs", type=int, default=30, help="timed ORT runs (default 30)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed ORT runs (default 3)")
    ap.add_argument("--opt-runs", type=int, default=3,
                    help="times each tool optimizes each model (default 3)")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--explain", action="store_true",
                    help="print the op types where mof's node count differs from a peer's")
    args = ap.parse_args(argv)
    if args.runs < 1 or args.opt_runs < 1 or args.warmup < 0:
        ap.error("--runs and --opt-runs must be >= 1, --warmup >= 0")
    mof = crosscheck.find_mof(args.mof or os.environ.get("MOF"))
    if not mof:
        print("compare_peers: mof binary not found", file=sys.stderr)
        return 2
    if not os.path.isfile(args.pipeline):
        print("compare_peers: no pipeline %s" % args.pipeline, file=sys.stderr)
        return 2

    results = []
    with tempfile.TemporaryDirectory(prefix="mof-peers-") as work:
        for path in args.models:
            print("compare_peers: %s" % path, file=sys.stderr)
            results.append(measure(path, args, mof, os.path.abspath(args.pipeline), work))
    print_table(results, args)
    if args.explain:
        print()
        print_explain(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"pipeline": args.pipeline, "runs": args.runs,
                       "results": results}, f, indent=1)
    bad = [r["model"] for r in results if not r["ok"].get("mof")]
    if bad:
        print("compare_peers: mof output does not match the original: %s"
              % ", ".join(bad), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
