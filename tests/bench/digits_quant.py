#!/usr/bin/env python3
"""Post-training quantization of the digits CNN: mof against ONNX Runtime.

    digits_quant.py [--mof PATH] [--model MODEL.onnx] [--calib DIR] [--data DIR]
                    [--method minmax|entropy|percentile] [--work DIR] [--json FILE]

The model is examples/digits/digits-cnn.onnx (a trained CNN, 98.67% on its 450
held-out images); every variant below is evaluated in ONNX Runtime (CPU
execution provider, default graph optimizations, one thread) on the same
held-out set by examples/digits/eval_digits.py.

  float                the model as committed
  mof optimize         examples/pipelines/optimize.xml (BatchNormalization
                       folded into the Conv before it, and cleanup)
  ort static           onnxruntime.quantization.quant_pre_process (ORT's
                       documented first step: shape inference and graph
                       optimization, which folds BatchNormalization too), then
                       quantize_static: QDQ, per-channel, int8 weights and
                       activations, MinMax over the calibration set
                       (examples/digits/calib/input.npy, 100 training images)
  ort static (per-tensor)  the same with per_channel=False
  ort dynamic          quantize_dynamic on the pre-processed model: int8
                       weights (uint8 where ORT's ConvInteger kernel wants
                       them), activations quantized at run time
  mof static           mof run --passes quantize-static(calibration=CALIB,
                       method=minmax, per-channel=true, format=qdq,
                       activation-type=int8) on mof's optimize.xml output, when
                       the quantization plugin has the pass; and the same with
                       per-channel=false ("mof static (per-tensor)")
  mof dynamic          mof run --passes quantize-dynamic on the same, likewise

--method picks the calibration method of both static rows (ORT's CalibrationMethod
of that name, mof's method=); default minmax.

Parameters are given to mof only when `mof passes NAME` lists them, so the rows
follow the plugin as it is. When mof has no quantization pass, the script says
so and prints the other rows.

Prints a markdown table: variant, accuracy, correct/total, change in points
against float, file size in bytes, and how it was made. Exit status: 0, 1 when
a step of ONNX Runtime's or mof's failed (that row says why), 2 usage.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
DIGITS = os.path.join(REPO, "examples", "digits")
sys.path.insert(0, DIGITS)
sys.dont_write_bytecode = True  # no __pycache__ in examples/digits
import eval_digits  # noqa: E402  (predict)
sys.path.pop(0)


def find_mof(explicit):
    if explicit:
        return explicit
    env = os.environ.get("MOF")
    if env:
        return env
    local = os.path.join(REPO, "mof")
    if os.access(local, os.X_OK):
        return local
    return shutil.which("mof")


def mof_pass_params(mof, name):
    """The parameter names of mof's pass NAME, or None when mof has no such pass."""
    p = subprocess.run([mof, "passes", "--quiet"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise RuntimeError("mof passes failed (exit %d): %s" % (p.returncode, p.stderr.strip()))
    if not any(line.split()[:1] == [name] for line in p.stdout.splitlines()):
        return None
    p = subprocess.run([mof, "passes", "--quiet", name], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise RuntimeError("mof passes %s failed (exit %d): %s"
                           % (name, p.returncode, p.stderr.strip()))
    params, inside = [], False
    for line in p.stdout.splitlines():
        if line.startswith("parameters:"):
            inside = True
        elif inside and re.match(r"^\S", line):
            inside = False
        elif inside:
            m = re.match(r"^\s+([a-z][a-z0-9-]*)\s", line)
            if m:
                params.append(m.group(1))
    return params


def run_mof(mof, argv):
    p = subprocess.run([mof] + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    if p.returncode != 0:
        msg = (p.stderr.strip() or p.stdout.strip()).splitlines()
        raise RuntimeError("mof %s: exit %d: %s" % (argv[0], p.returncode,
                                                     msg[0] if msg else ""))
    return True


def mof_passes(mof, model, out, name, wanted, available):
    """mof run --passes NAME(params) MODEL -o OUT, with the wanted params that exist."""
    given = [(k, v) for k, v in wanted if k in available]
    spec = name + ("(" + ",".join("%s=%s" % kv for kv in given) + ")" if given else "")
    run_mof(mof, ["run", "--quiet", "--passes", spec, model, "-o", out])
    return "mof run --passes '%s'" % spec


class CalibReader:
    """onnxruntime.quantization.CalibrationDataReader over calib/input.npy, in batches."""

    def __init__(self, x, name, batch=10):
        self.items = [{name: x[i:i + batch]} for i in range(0, len(x), batch)]
        self.pos = 0

    def get_next(self):
        if self.pos >= len(self.items):
            return None
        self.pos += 1
        return self.items[self.pos - 1]

    def rewind(self):
        self.pos = 0


ORT_METHODS = {"minmax": "MinMax", "entropy": "Entropy", "percentile": "Percentile"}


def ort_static(pre, out, calib, per_channel, method="minmax"):
    from onnxruntime import quantization as q

    name = ORT_METHODS[method]
    q.quantize_static(pre, out, CalibReader(calib, "input"),
                      quant_format=q.QuantFormat.QDQ, per_channel=per_channel,
                      activation_type=q.QuantType.QInt8, weight_type=q.QuantType.QInt8,
                      calibrate_method=getattr(q.CalibrationMethod, name))
    return "quantize_static(QDQ, per_channel=%s, QInt8/QInt8, %s)" % (per_channel, name)


def ort_dynamic(pre, out, x_probe):
    """quantize_dynamic with int8 weights; ORT's CPU ConvInteger runs only uint8
    weights, so when a session cannot be made from the int8 model, uint8 weights."""
    import onnxruntime as ort
    from onnxruntime import quantization as q

    for wt, label in ((q.QuantType.QInt8, "QInt8"), (q.QuantType.QUInt8, "QUInt8")):
        q.quantize_dynamic(pre, out, weight_type=wt)
        try:
            sess = ort.InferenceSession(out, providers=["CPUExecutionProvider"])
            sess.run(None, {"input": x_probe})
            return "quantize_dynamic(weight_type=%s)" % label
        except Exception as e:  # noqa: BLE001
            last = e
    raise RuntimeError("quantize_dynamic: no weight type gives a model ORT runs: %s" % last)


def main():
    ap = argparse.ArgumentParser(
        description="Post-training quantization of the digits CNN: mof against ONNX Runtime.")
    ap.add_argument("--mof", help="mof binary (default: $MOF, $REPO/mof, mof on PATH)")
    ap.add_argument("--model", default=os.path.join(DIGITS, "digits-cnn.onnx"))
    ap.add_argument("--calib", default=os.path.join(DIGITS, "calib"),
                    help="calibration folder with input.npy (default: %(default)s)")
    ap.add_argument("--data", default=os.path.join(DIGITS, "test"),
                    help="held-out folder with input.npy, labels.npy (default: %(default)s)")
    ap.add_argument("--method", choices=sorted(ORT_METHODS), default="minmax",
                    help="calibration method of the static rows (default: %(default)s)")
    ap.add_argument("--work", help="keep the models in this folder (default: a temporary one)")
    ap.add_argument("--json", help="also write the rows to this JSON file")
    args = ap.parse_args()

    x = np.load(os.path.join(args.data, "input.npy"))
    y = np.load(os.path.join(args.data, "labels.npy"))
    calib = np.load(os.path.join(args.calib, "input.npy"))
    mof = find_mof(args.mof)
    if not mof or not shutil.which(mof):
        print("digits_quant: mof binary not found (give --mof PATH or set MOF)", file=sys.stderr)
        return 2

    work = args.work or tempfile.mkdtemp(prefix="mof-digits-quant.")
    os.makedirs(work, exist_ok=True)
    rows, notes, status = [], [], 0

    def add(variant, path, how):
        nonlocal status
        try:
            pred = eval_digits.predict(path, x, 1, True)
        except Exception as e:  # noqa: BLE001
            rows.append({"variant": variant, "error": "ORT cannot run it: %s"
                         % str(e).strip().splitlines()[0], "how": how})
            status = 1
            return
        correct = int((pred == y).sum())
        rows.append({"variant": variant, "model": path, "correct": correct,
                     "total": int(len(y)), "accuracy": correct / len(y),
                     "bytes": os.path.getsize(path), "how": how})

    def step(variant, fn):
        """fn()'s value (truthy on success), or None after adding a FAILED row."""
        nonlocal status
        try:
            return fn()
        except Exception as e:  # noqa: BLE001
            rows.append({"variant": variant, "error": str(e).strip().splitlines()[0],
                         "how": ""})
            status = 1
            return None

    add("float", args.model, "examples/digits/digits-cnn.onnx")

    # mof's optimize.xml writes OUT/model.onnx; it is moved next to the others.
    pipeline = os.path.join(REPO, "examples", "pipelines", "optimize.xml")
    opt = os.path.join(work, "mof-optimize.onnx")
    optdir = os.path.join(work, "mof-optimize")
    shutil.rmtree(optdir, ignore_errors=True)
    mof_opt = None
    if step("mof optimize", lambda: run_mof(mof, ["run", "--quiet", pipeline, args.model,
                                                  "-o", optdir])):
        os.replace(os.path.join(optdir, "model.onnx"), opt)
        shutil.rmtree(optdir)
        mof_opt = opt
        add("mof optimize", opt, "mof run examples/pipelines/optimize.xml")

    from onnxruntime import quantization as q
    pre = os.path.join(work, "ort-preprocessed.onnx")
    if step("ort pre-process", lambda: q.quant_pre_process(args.model, pre) or True):
        for per_channel in (True, False):
            variant = "ort static" + ("" if per_channel else " (per-tensor)")
            out = os.path.join(work, "ort-static-%s.onnx"
                               % ("per-channel" if per_channel else "per-tensor"))
            how = step(variant, lambda: ort_static(pre, out, calib, per_channel, args.method))
            if how:
                add(variant, out, "quant_pre_process + " + how)
        out = os.path.join(work, "ort-dynamic.onnx")
        how = step("ort dynamic", lambda: ort_dynamic(pre, out, x[:1]))
        if how:
            add("ort dynamic", out, "quant_pre_process + " + how)

    base = mof_opt or args.model
    static_params = mof_pass_params(mof, "quantize-static")
    if static_params is None:
        notes.append("mof static: not measured: %s has no pass 'quantize-static' "
                     "(the quantization plugin lacks it, or is not on the plugin path)" % mof)
    else:
        for per_channel in ("true", "false"):
            out = os.path.join(work, "mof-static-%s.onnx"
                               % ("per-channel" if per_channel == "true" else "per-tensor"))
            variant = "mof static" + ("" if per_channel == "true" else " (per-tensor)")
            wanted = [("calibration", os.path.abspath(args.calib)), ("method", args.method),
                      ("per-channel", per_channel), ("format", "qdq"),
                      ("activation-type", "int8")]
            how = step(variant, lambda: mof_passes(mof, base, out, "quantize-static", wanted,
                                                   static_params))
            if how:
                add(variant, out, how)
    dyn_params = mof_pass_params(mof, "quantize-dynamic")
    if dyn_params is None:
        notes.append("mof dynamic: not measured: %s has no pass 'quantize-dynamic'" % mof)
    else:
        out = os.path.join(work, "mof-dynamic.onnx")
        how = step("mof dynamic", lambda: mof_passes(mof, base, out, "quantize-dynamic", [],
                                                     dyn_params))
        if how:
            add("mof dynamic", out, how)

    fl = rows[0].get("accuracy") if rows and "accuracy" in rows[0] else None
    print("Digits CNN, %d held-out images, ONNX Runtime (CPU EP, 1 thread); models %s"
          % (len(y), "in " + work if args.work else "removed (--work DIR keeps them)"))
    print()
    print("| variant | accuracy | correct | vs float | bytes | how |")
    print("|---|---:|---:|---:|---:|---|")
    for r in rows:
        if "error" in r:
            print("| %s | - | - | - | - | FAILED: %s |" % (r["variant"], r["error"]))
            continue
        delta = "%+.2f" % (100 * (r["accuracy"] - fl)) if fl is not None else "-"
        print("| %s | %.2f%% | %d/%d | %s | %d | %s |" % (
            r["variant"], 100 * r["accuracy"], r["correct"], r["total"], delta, r["bytes"],
            r["how"]))
    for n in notes:
        print()
        print("note: " + n)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "notes": notes}, f, indent=1)
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
