#!/usr/bin/env python3
"""Accuracy of digits models on the held-out test set, in ONNX Runtime.

    eval_digits.py [--data DIR] [--json] [--threads N] MODEL.onnx [MODEL.onnx...]

Runs each model (the float digits-cnn.onnx, or a quantized or pruned version of
it: anything with one float input [N,1,8,8] and one output [N,10]) with ONNX
Runtime's CPU execution provider on DIR/input.npy (default: the test/ folder
beside this script, 450 images, x / 16) and compares the argmax of its output
with DIR/labels.npy. A model whose batch dimension is fixed is run one batch of
that size at a time.

Prints one row per model: accuracy, correct/total, file size in bytes, and the
difference in points to the first model given (so give the float model first).
--json prints a JSON list of {"model", "correct", "total", "accuracy", "bytes"}
instead. ONNX Runtime's graph optimizations are left at their default (what a
user of the model gets); --no-ort-opt disables them.

Exit status: 0, 1 when a model cannot be loaded or run, 2 usage.
"""

import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def predict(path, x, threads, ort_opt):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    if not ort_opt:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    inputs, outputs = sess.get_inputs(), sess.get_outputs()
    if len(inputs) != 1 or len(outputs) < 1:
        raise ValueError("expected one input and an output, found %d inputs and %d outputs"
                         % (len(inputs), len(outputs)))
    batch = inputs[0].shape[0] if inputs[0].shape else None
    step = batch if isinstance(batch, int) and batch > 0 else len(x)
    logits = []
    for i in range(0, len(x), step):
        chunk = x[i:i + step]
        if len(chunk) < step:  # a fixed batch: pad the last one
            chunk = np.concatenate([chunk, np.zeros((step - len(chunk),) + x.shape[1:],
                                                    x.dtype)])
        logits.append(sess.run([outputs[0].name], {inputs[0].name: chunk})[0])
    out = np.concatenate(logits)[:len(x)]
    if out.ndim != 2 or out.shape[0] != len(x):
        raise ValueError("output '%s' has shape %s, expected [%d, classes]"
                         % (outputs[0].name, out.shape, len(x)))
    return out.argmax(axis=1)


def main():
    ap = argparse.ArgumentParser(
        description="Accuracy of digits models on the held-out test set, in ONNX Runtime.")
    ap.add_argument("models", nargs="+", metavar="MODEL.onnx")
    ap.add_argument("--data", default=os.path.join(HERE, "test"),
                    help="folder with input.npy and labels.npy (default: %(default)s)")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("--threads", type=int, default=1,
                    help="ONNX Runtime intra-op threads (default 1)")
    ap.add_argument("--no-ort-opt", action="store_true",
                    help="disable ONNX Runtime's graph optimizations")
    args = ap.parse_args()

    try:
        x = np.load(os.path.join(args.data, "input.npy"))
        y = np.load(os.path.join(args.data, "labels.npy"))
    except OSError as e:
        print("eval_digits: error: %s" % e, file=sys.stderr)
        return 2
    if x.dtype != np.float32 or x.ndim != 4 or y.shape != (len(x),):
        print("eval_digits: error: %s: expected input.npy float32 [N,1,8,8] and labels.npy "
              "[N], found %s %s and %s" % (args.data, x.dtype, x.shape, y.shape),
              file=sys.stderr)
        return 2

    rows, status = [], 0
    for path in args.models:
        try:
            pred = predict(path, x, args.threads, not args.no_ort_opt)
        except Exception as e:  # noqa: BLE001  (ORT raises its own types)
            print("eval_digits: error: %s: %s" % (path, str(e).strip().splitlines()[0]),
                  file=sys.stderr)
            status = 1
            continue
        correct = int((pred == y).sum())
        rows.append({"model": path, "correct": correct, "total": int(len(y)),
                     "accuracy": correct / len(y), "bytes": os.path.getsize(path)})

    if args.json:
        print(json.dumps(rows, indent=1))
        return status
    if rows:
        w = max(len(r["model"]) for r in rows)
        print("%-*s  %8s  %9s  %9s  %7s" % (w, "model", "accuracy", "correct", "bytes",
                                            "delta"))
        base = rows[0]["accuracy"]
        for r in rows:
            print("%-*s  %7.2f%%  %4d/%-4d  %9d  %+7.2f" % (
                w, r["model"], 100 * r["accuracy"], r["correct"], r["total"], r["bytes"],
                100 * (r["accuracy"] - base)))
    return status


if __name__ == "__main__":
    sys.exit(main())
