#!/usr/bin/env python3
"""Cross-check mof's reference interpreter against ONNX Runtime.

    crosscheck.py [--mof PATH] [--models DIR] [--seed S] [options] [name...]

For each architecture (default: the cross-check set below; any name that
tests/bench/export_models.py knows can be given, e.g. vit_b_16):

  1. export it to DIR/<name>.onnx unless it is there already (through
     tests/bench/export_models.py --calibrated: random weights seeded before
     construction, brought to O(1) activations, batch 1, opset 13, static
     shapes; deterministic, so the folder is a cache),
  2. make seeded random inputs (standard normal for floats) and write them as
     input_<i>.pb TensorProto files, in graph-input order,
  3. run ONNX Runtime on them (CPU, one thread),
  4. run `mof exec MODEL --inputs IN -o OUT` (the reference interpreter), which
     writes OUT/output_<i>.pb,
  5. compare every output elementwise: |mof - ort| <= atol + rtol * |ort|
     (defaults atol 1e-5, rtol 1e-4); integer and bool outputs must be equal.

It prints one line per model as it goes, then a markdown table: per model the
max absolute error, the max relative error (|mof - ort| / |ort| over elements
where |ort| >= atol / rtol, i.e. where the relative term dominates the
tolerance), and "worst/tol", the largest |mof - ort| / (atol + rtol * |ort|)
(at most 1 to pass).  An op the interpreter does not implement is listed by
node and op type.  A float output whose largest magnitude is below 0.1 fails
as degenerate (the tolerance would accept anything).  On a mismatch, the torch
model is also run in float64, to tell whether mof or ONNX Runtime is further
from the exact result (float32 rounding in deep networks, or a kernel bug).

Exit status: 0 every model matched; 1 a mismatch, an unsupported op or a
failed run; 2 usage (mof not found, unknown model name).
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
BENCH = os.path.join(REPO, "tests", "bench")

# The architectures of the acceptance criterion.  ViT-B/16 is the full-size one
# (330 MiB; about 25 s to export once and 4 s to interpret on two cores);
# `crosscheck.py vit_tiny` is a 64x64, 2-layer ViT of the same structure, for a
# quick look.
DEFAULT_NAMES = [
    "resnet18",
    "mobilenet_v2",
    "mobilenet_v3_small",
    "squeezenet1_0",
    "shufflenet_v2_x0_5",
    "efficientnet_b0",
    "densenet121",
    "vit_b_16",
    "transformer_encoder_d64",
]

# A float output whose largest magnitude is below this is refused as degenerate:
# the absolute tolerance would accept anything.
MIN_SCALE = 0.1

UNSUPPORTED_RE = re.compile(
    r"node '([^']*)' \(([^,]+), domain '([^']*)'\): not implemented by the interpreter")


def load_exporter():
    """tests/bench/export_models.py as a module (its MODELS table and export())."""
    sys.path.insert(0, BENCH)
    try:
        import export_models
    finally:
        sys.path.pop(0)
    return export_models


def find_mof(explicit):
    """The mof binary: --mof / $MOF, else ./mof, else `mof` on PATH."""
    if explicit:
        path = explicit if os.sep in explicit else (shutil.which(explicit) or explicit)
        ok = os.path.isfile(path) and os.access(path, os.X_OK)
        return os.path.abspath(path) if ok else None
    if os.path.isfile("./mof") and os.access("./mof", os.X_OK):
        return os.path.abspath("./mof")
    return shutil.which("mof")


def graph_inputs(model):
    """(name, numpy dtype, shape) of each graph input that is not an initializer."""
    from onnx import helper
    inits = {t.name for t in model.graph.initializer}
    res = []
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        dims = []
        for d in tt.shape.dim:
            if not d.HasField("dim_value"):
                raise ValueError("input %r has a dynamic dim (%s); the cross-check "
                                 "needs static shapes" % (vi.name, d.dim_param or "?"))
            dims.append(d.dim_value)
        res.append((vi.name, helper.tensor_dtype_to_np_dtype(tt.elem_type), tuple(dims)))
    return res


def make_inputs(model, seed):
    """Seeded random inputs, one array per graph input (graph-input order)."""
    import numpy as np
    rng = np.random.default_rng(seed)
    arrays = []
    for name, dtype, shape in graph_inputs(model):
        if np.issubdtype(dtype, np.floating):
            a = rng.standard_normal(shape).astype(dtype)
        elif dtype == np.bool_:
            a = rng.integers(0, 2, shape).astype(np.bool_)
        elif np.issubdtype(dtype, np.integer):
            a = rng.integers(0, 10, shape).astype(dtype)
        else:
            raise ValueError("input %r: cannot make random data of type %s" % (name, dtype))
        arrays.append((name, a))
    return arrays


def run_ort(path, inputs, opt_level):
    """Outputs of ONNX Runtime (CPU, one thread) and the median of 3 runs in ms."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.graph_optimization_level = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[opt_level]
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    feed = dict(inputs)
    t0 = time.perf_counter()
    outs = sess.run(None, feed)
    return outs, (time.perf_counter() - t0) * 1e3


def run_mof(mof, path, indir, outdir, timeout):
    """Runs `mof exec`; returns (exit status, stderr text, seconds)."""
    argv = [mof, "exec", path, "--inputs", indir, "-o", outdir]
    t0 = time.perf_counter()
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=timeout)
        rc, err = p.returncode, p.stderr
    except subprocess.TimeoutExpired as e:
        rc = None
        err = (e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes)
               else (e.stderr or "")) + "\ntimed out after %d s" % timeout
    return rc, err, time.perf_counter() - t0


def compare(name, got, want, atol, rtol):
    """Error statistics of one output; got/want are numpy arrays."""
    import numpy as np
    st = {"output": name, "shape": list(want.shape), "dtype": str(want.dtype),
          "max_abs": 0.0, "max_rel": 0.0, "worst_tol": 0.0, "ok": True, "why": "",
          "scale": None}
    if got.shape != want.shape:
        st.update(ok=False, why="shape %s, ONNX Runtime %s" % (list(got.shape), list(want.shape)))
        return st
    if got.dtype != want.dtype:
        st.update(ok=False, why="type %s, ONNX Runtime %s" % (got.dtype, want.dtype))
        return st
    if not np.issubdtype(want.dtype, np.floating):
        bad = int(np.count_nonzero(got != want))
        if bad:
            st.update(ok=False, why="%d of %d elements differ" % (bad, want.size))
        return st
    g = got.astype(np.float64)
    w = want.astype(np.float64)
    nan_g, nan_w = np.isnan(g), np.isnan(w)
    if (nan_g != nan_w).any():
        st.update(ok=False, why="NaN in %d places where ONNX Runtime has none, or the "
                  "reverse" % int(np.count_nonzero(nan_g != nan_w)))
        return st
    keep = ~nan_w
    g, w = g[keep], w[keep]
    if g.size == 0:
        return st
    inf_g, inf_w = np.isinf(g), np.isinf(w)
    if (inf_g != inf_w).any() or (g[inf_w] != w[inf_w]).any():
        st.update(ok=False, why="infinities differ")
        return st
    g, w = g[~inf_w], w[~inf_w]
    if g.size == 0:
        return st
    st["scale"] = float(np.abs(w).max())
    d = np.abs(g - w)
    tol = atol + rtol * np.abs(w)
    big = np.abs(w) >= atol / rtol
    st["max_abs"] = float(d.max())
    st["max_rel"] = float((d[big] / np.abs(w[big])).max()) if big.any() else 0.0
    ratio = d / tol
    st["worst_tol"] = float(ratio.max())
    if st["scale"] < MIN_SCALE:
        st.update(ok=False, why="degenerate: ONNX Runtime's output is at most %.3g in "
                  "magnitude, too small for the tolerance to mean anything (weights "
                  "not calibrated?)" % st["scale"])
    elif st["worst_tol"] > 1.0:
        i = int(ratio.argmax())
        st.update(ok=False, why="%d of %d elements out of tolerance; worst: mof %.9g, "
                  "ONNX Runtime %.9g" % (int(np.count_nonzero(ratio > 1.0)), d.size,
                                          g[i], w[i]))
    return st


def float64_outputs(exporter, name, inputs):
    """The outputs of the torch model that was exported, rebuilt the same way and run
    in float64 on the same inputs: the function both runtimes approximate."""
    import numpy as np
    import torch
    torch.manual_seed(exporter.SEED)
    model, shape = exporter.MODELS[name]()
    model.eval()
    exporter.calibrate(model, shape)
    model = model.double()
    xs = [torch.from_numpy(a).double() if a.dtype.kind == "f" else torch.from_numpy(a)
          for _, a in inputs]
    y = model(*xs)
    flat = []

    def walk(v):
        if isinstance(v, torch.Tensor):
            flat.append(v.detach().numpy().astype(np.float64))
        elif isinstance(v, dict):
            for k in v:
                walk(v[k])
        elif isinstance(v, (list, tuple)):
            for e in v:
                walk(e)
    walk(y)
    return flat


def blame(exporter, name, inputs, got, want):
    """On a mismatch: which side is further from the float64 result.  Deep float32
    networks legitimately differ by more than the tolerance between two correct
    runtimes (accumulation order); a kernel bug shows as mof far further off."""
    import numpy as np
    try:
        ref = float64_outputs(exporter, name, inputs)
    except Exception as e:  # no torch, or a model that does not run in float64
        return "no float64 reference (%s: %s)" % (type(e).__name__, e)
    if len(ref) != len(want):
        return "no float64 reference (torch gives %d outputs, the model %d)" % (
            len(ref), len(want))
    parts = []
    for i, (g, w, r) in enumerate(zip(got, want, ref)):
        if g is None or g.shape != r.shape or np.asarray(w).shape != r.shape:
            continue
        em = float(np.abs(g.astype(np.float64) - r).max())
        eo = float(np.abs(np.asarray(w, dtype=np.float64) - r).max())
        verdict = ("mof no further than ONNX Runtime: float32 rounding" if em <= 1.5 * eo
                   else "mof %.1fx further than ONNX Runtime" % (em / max(eo, 1e-30)))
        parts.append("output %d vs float64 torch: mof max abs %.3g, ONNX Runtime %.3g (%s)"
                     % (i, em, eo, verdict))
    return "; ".join(parts) or "no comparable float64 output"


def check_model(name, args, exporter, mof, work):
    import numpy as np
    import onnx
    from onnx import numpy_helper

    res = {"model": name, "status": "ok", "detail": "", "unsupported": [],
           "outputs": [], "nodes": 0, "ops": 0}
    path = os.path.join(args.models, name + ".onnx")
    if not os.path.exists(path):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            # torch's tracer warns about asserts on shapes (ViT); static shapes are meant
            warnings.simplefilter("ignore")
            exporter.export(name, path, calibrated=True)
        res["export_s"] = time.perf_counter() - t0

    model = onnx.load(path)
    res["nodes"] = len(model.graph.node)
    res["ops"] = len({(n.domain, n.op_type) for n in model.graph.node})
    inputs = make_inputs(model, args.seed)
    out_names = [o.name for o in model.graph.output]
    del model

    indir = os.path.join(work, name, "inputs")
    outdir = os.path.join(work, name, "outputs")
    os.makedirs(indir)
    for i, (iname, a) in enumerate(inputs):
        with open(os.path.join(indir, "input_%d.pb" % i), "wb") as f:
            f.write(numpy_helper.from_array(a, iname).SerializeToString())

    want, res["ort_ms"] = run_ort(path, inputs, args.ort_opt)
    rc, err, res["mof_s"] = run_mof(mof, path, indir, outdir, args.timeout)

    if rc != 0:
        found = UNSUPPORTED_RE.findall(err)
        if found:
            res["status"] = "unsupported"
            res["unsupported"] = [{"node": n, "op": op, "domain": dom}
                                  for n, op, dom in found]
            ops = sorted({op if dom in ("", "ai.onnx") else "%s:%s" % (dom, op)
                          for _, op, dom in found})
            res["detail"] = ", ".join(ops)
        else:
            res["status"] = "error"
            lines = [l for l in err.strip().splitlines() if l.strip()]
            res["detail"] = ("exit %s: " % rc) + (" | ".join(lines[-3:]) or "no message")
        res["stderr"] = err
        return res

    got = []
    for i, (oname, w) in enumerate(zip(out_names, want)):
        p = os.path.join(outdir, "output_%d.pb" % i)
        if not os.path.exists(p):
            got.append(None)
            st = {"output": oname, "ok": False, "why": "mof wrote no output_%d.pb" % i,
                  "max_abs": float("nan"), "max_rel": float("nan"),
                  "worst_tol": float("nan")}
        else:
            t = onnx.TensorProto()
            with open(p, "rb") as f:
                t.ParseFromString(f.read())
            got.append(numpy_helper.to_array(t))
            st = compare(oname, got[-1], np.asarray(w), args.atol, args.rtol)
        res["outputs"].append(st)
    extra = sorted(set(os.listdir(outdir)) -
                   {"output_%d.pb" % i for i in range(len(out_names))})
    bad = [o for o in res["outputs"] if not o["ok"]]
    if bad:
        res["status"] = "mismatch"
        res["detail"] = "; ".join("%s: %s" % (o["output"], o["why"]) for o in bad)
        res["detail"] += "; " + blame(exporter, name, inputs, got, want)
    elif extra:
        res["status"] = "error"
        res["detail"] = "unexpected files from mof: " + ", ".join(extra)
    return res


def fmt_err(x):
    return "-" if x is None or x != x else "%.2e" % x


def print_table(results, args):
    print()
    print("| model | nodes | ops | max abs err | max rel err | worst/tol | output scale | "
          "ORT ms | mof s | result |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in results:
        outs = r["outputs"]
        agg = lambda k: max(o[k] for o in outs) if outs else None
        result = r["status"] if not r["detail"] else "%s: %s" % (r["status"], r["detail"])
        result = result.replace("|", "/")  # a table cell
        scales = [o["scale"] for o in outs if o.get("scale") is not None]
        print("| %s | %d | %d | %s | %s | %s | %s | %s | %s | %s |" % (
            r["model"], r["nodes"], r["ops"], fmt_err(agg("max_abs")),
            fmt_err(agg("max_rel")), "-" if not outs else "%.3f" % agg("worst_tol"),
            "%.3g" % max(scales) if scales else "-",
            "%.1f" % r["ort_ms"] if "ort_ms" in r else "-",
            "%.2f" % r["mof_s"] if "mof_s" in r else "-", result))
    print("\ntolerance: |mof - ort| <= %g + %g * |ort| per element; max rel err over "
          "elements with |ort| >= %g; output scale: max |ort|; seed %d; ONNX Runtime: "
          "1 thread, optimizations '%s'; mof s includes loading the model."
          % (args.atol, args.rtol, args.atol / args.rtol, args.seed, args.ort_opt))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="default models: " + " ".join(DEFAULT_NAMES))
    ap.add_argument("names", nargs="*", metavar="name",
                    help="models to check (default: the cross-check set)")
    ap.add_argument("--mof", default=os.environ.get("MOF"),
                    help="mof binary (default: $MOF, else ./mof, else mof on PATH)")
    ap.add_argument("--models", default=os.path.join(os.getcwd(), "tests", "crosscheck-models"),
                    help="folder of exported models, filled as needed "
                         "(default: ./tests/crosscheck-models)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the random inputs (default 1)")
    ap.add_argument("--atol", type=float, default=1e-5, help="absolute tolerance (default 1e-5)")
    ap.add_argument("--rtol", type=float, default=1e-4, help="relative tolerance (default 1e-4)")
    ap.add_argument("--ort-opt", choices=["disable", "basic", "extended", "all"],
                    default="all", help="ONNX Runtime graph optimization level (default all)")
    ap.add_argument("--timeout", type=int, default=600,
                    help="seconds one `mof exec` may take (default 600)")
    ap.add_argument("--keep", metavar="DIR",
                    help="keep inputs and outputs in DIR/<model>/ (default: a temp dir)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = ap.parse_args(argv)

    exporter = load_exporter()
    names = args.names or DEFAULT_NAMES
    unknown = [n for n in names if n not in exporter.MODELS]
    if unknown:
        ap.error("unknown model(s): %s (known: %s)"
                 % (", ".join(unknown), ", ".join(exporter.MODELS)))
    mof = find_mof(args.mof)
    if not mof:
        print("crosscheck: mof binary not found (%s); build it first or pass --mof PATH"
              % (args.mof or "tried ./mof and PATH"), file=sys.stderr)
        return 2
    os.makedirs(args.models, exist_ok=True)

    if args.keep:
        work = args.keep
        for n in names:
            shutil.rmtree(os.path.join(work, n), ignore_errors=True)
        os.makedirs(work, exist_ok=True)
    else:
        work = tempfile.mkdtemp(prefix="mof-crosscheck-")
    results = []
    try:
        for name in names:
            try:
                r = check_model(name, args, exporter, mof, work)
            except Exception as e:  # export, ONNX Runtime or file trouble
                r = {"model": name, "status": "error", "detail": "%s: %s"
                     % (type(e).__name__, e), "unsupported": [], "outputs": [],
                     "nodes": 0, "ops": 0}
            results.append(r)
            outs = r["outputs"]
            print("crosscheck: %-24s %-11s max abs %s, max rel %s%s%s" % (
                name, r["status"],
                fmt_err(max(o["max_abs"] for o in outs) if outs else None),
                fmt_err(max(o["max_rel"] for o in outs) if outs else None),
                " (mof %.2f s)" % r["mof_s"] if "mof_s" in r else "",
                "\n    " + r["detail"] if r["detail"] and not r["unsupported"] else ""),
                flush=True)
            by_op = {}
            for u in r["unsupported"]:
                op = u["op"] if u["domain"] in ("", "ai.onnx") else \
                    "%s (domain %s)" % (u["op"], u["domain"])
                by_op.setdefault(op, []).append(u["node"])
            for op, nodes in sorted(by_op.items()):
                print("    not implemented by the interpreter: %s, %d node(s): %s%s" % (
                    op, len(nodes), ", ".join(repr(n) for n in nodes[:5]),
                    ", ..." if len(nodes) > 5 else ""))
            if r["status"] == "error" and r.get("stderr"):
                print("    stderr of mof exec:")
                for line in r["stderr"].strip().splitlines()[-20:]:
                    print("    | " + line)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    print_table(results, args)
    failed = [r["model"] for r in results if r["status"] != "ok"]
    print("\n%d of %d models match ONNX Runtime%s" % (
        len(results) - len(failed), len(results),
        "; failed: " + ", ".join(failed) if failed else ""))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"mof": mof, "seed": args.seed, "atol": args.atol, "rtol": args.rtol,
                       "ort_opt": args.ort_opt, "results": results}, f, indent=2)
            f.write("\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
