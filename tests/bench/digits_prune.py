#!/usr/bin/env python3
"""Pruning the digits CNN without retraining: accuracy against parameters and FLOPs.

    digits_prune.py --mof PATH [--work DIR] [--plugin-path P]

Runs `mof run --passes ...` on examples/digits/digits-cnn.onnx for each setting
below, reads the pass's statistics from the run report (--report JSON: params,
nonzero params, FLOPs, nonzero FLOPs as counted by passes/pruning/flops.c, per
image since the batch is symbolic), evaluates every model with
examples/digits/eval_digits.py (ONNX Runtime, 450 held-out images) and prints a
markdown table. Settings with calibration=CALIB read the 100 calibration images of
examples/digits/calib (training images, not the test set). Every setting first folds BatchNormalization (fuse-conv-bn,
dead-code), so that the weights pruned are the ones the model applies; the
baseline row is that folded model, unpruned. Exit status 1 when a step failed.
"""

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
DIGITS = os.path.join(REPO, "examples", "digits")

FOLD = "fuse-conv-bn,dead-code"
SETTINGS = [
    ("baseline (BN folded)", FOLD + ",prune-magnitude(sparsity=0)"),
    ("magnitude 30% (layer)", FOLD + ",prune-magnitude(sparsity=0.3)"),
    ("magnitude 50% (layer)", FOLD + ",prune-magnitude(sparsity=0.5)"),
    ("magnitude 70% (layer)", FOLD + ",prune-magnitude(sparsity=0.7)"),
    ("magnitude 30% (global)", FOLD + ",prune-magnitude(sparsity=0.3,scope=global)"),
    ("magnitude 50% (global)", FOLD + ",prune-magnitude(sparsity=0.5,scope=global)"),
    ("magnitude 70% (global)", FOLD + ",prune-magnitude(sparsity=0.7,scope=global)"),
    ("2:4 (N:M)", FOLD + ",prune-nm"),
    ("channels 25% (l1, no compensation)", FOLD + ",prune-channels(ratio=0.25,compensate=false),dead-code"),
    ("channels 50% (l1, no compensation)", FOLD + ",prune-channels(ratio=0.5,compensate=false),dead-code"),
    ("channels 25% (l1, data-free compensation)", FOLD + ",prune-channels(ratio=0.25),dead-code"),
    ("channels 50% (l1, data-free compensation)", FOLD + ",prune-channels(ratio=0.5),dead-code"),
    ("channels 25% (l1, calibrated)", FOLD + ",prune-channels(ratio=0.25,calibration=CALIB),dead-code"),
    ("channels 50% (l1, calibrated)", FOLD + ",prune-channels(ratio=0.5,calibration=CALIB),dead-code"),
    ("channels 25% (l2, calibrated)", FOLD + ",prune-channels(ratio=0.25,criterion=l2,calibration=CALIB),dead-code"),
    ("channels 25% (l2-reader, calibrated)", FOLD + ",prune-channels(ratio=0.25,criterion=l2-reader,calibration=CALIB),dead-code"),
    ("channels 25% (activation, calibrated)", FOLD + ",prune-channels(ratio=0.25,criterion=activation,calibration=CALIB),dead-code"),
    ("channels 50% (activation, calibrated)", FOLD + ",prune-channels(ratio=0.5,criterion=activation,calibration=CALIB),dead-code"),
    ("channels 25% (l1, reconstructed)", FOLD + ",prune-channels(ratio=0.25,calibration=CALIB,reconstruct=true),dead-code"),
    ("channels 50% (l1, reconstructed)", FOLD + ",prune-channels(ratio=0.5,calibration=CALIB,reconstruct=true),dead-code"),
    ("channels 25% (activation, reconstructed)", FOLD + ",prune-channels(ratio=0.25,criterion=activation,calibration=CALIB,reconstruct=true),dead-code"),
    ("channels 50% (activation, reconstructed)", FOLD + ",prune-channels(ratio=0.5,criterion=activation,calibration=CALIB,reconstruct=true),dead-code"),
    ("channels 75% (l1, reconstructed)", FOLD + ",prune-channels(ratio=0.75,calibration=CALIB,reconstruct=true),dead-code"),
    ("channels 25%, not conv1 (l1, calibrated)", FOLD + ",prune-channels(ratio=0.25,exclude-nodes=/conv1/Conv,calibration=CALIB),dead-code"),
    ("channels 50%, not conv1 (l1, calibrated)", FOLD + ",prune-channels(ratio=0.5,exclude-nodes=/conv1/Conv,calibration=CALIB),dead-code"),
    ("channels 50%, not conv1 (activation, calibrated)", FOLD + ",prune-channels(ratio=0.5,exclude-nodes=/conv1/Conv,criterion=activation,calibration=CALIB),dead-code"),
]


def last_stats(report):
    """The statistics of the last pruning step of a run report (or the first step)."""
    steps = [s for s in report.get("steps", []) if not s.get("backend")]
    for s in reversed(steps):
        if "params-after" in s.get("stats", {}):
            return s["stats"]
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mof", required=True)
    ap.add_argument("--work", default=os.path.join(REPO, "build", "digits-prune"))
    ap.add_argument("--python", default=sys.executable)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    model = os.path.join(DIGITS, "digits-cnn.onnx")
    rows, failed = [], False
    for i, (label, passes) in enumerate(SETTINGS):
        passes = passes.replace("CALIB", os.path.join(DIGITS, "calib"))
        out = os.path.join(a.work, "m%02d.onnx" % i)
        rep = os.path.join(a.work, "m%02d.json" % i)
        r = subprocess.run([a.mof, "run", "-q", "--passes", passes, "--report", rep, model,
                            "-o", out], capture_output=True, text=True)
        if r.returncode != 0:
            rows.append((label, passes, "mof failed: " + r.stderr.strip().splitlines()[-1]))
            failed = True
            continue
        with open(rep) as f:
            stats = last_stats(json.load(f))
        ev = subprocess.run([a.python, os.path.join(DIGITS, "eval_digits.py"), "--json", out],
                            capture_output=True, text=True)
        if ev.returncode != 0:
            rows.append((label, passes, "eval failed: " + ev.stderr.strip()[-200:]))
            failed = True
            continue
        acc = json.loads(ev.stdout)[0]
        rows.append((label, passes, acc, stats))
    base = None
    print("| setting | accuracy | correct | params | nonzero params | FLOPs | nonzero FLOPs |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        if len(row) == 3:
            print("| %s | %s | | | | | |" % (row[0], row[2]))
            continue
        label, passes, acc, st = row
        st = st or {}
        print("| %s | %.2f%% | %d/%d | %s | %s | %s | %s |" % (
            label, 100.0 * acc["accuracy"], acc["correct"], acc["total"],
            st.get("params-after", "?"), st.get("nonzero-params-after", "?"),
            st.get("flops-after", "?"), st.get("nonzero-flops-after", "?")))
    print()
    print("FLOPs: 2 per multiply-add of the Convs and the Gemm, per image. Accuracy:")
    print("ONNX Runtime on the 450 held-out images of examples/digits/test. No retraining.")
    print("Compensation: each removed channel's mean (calibrated: over examples/digits/calib;")
    print("data-free: its value at a zero Conv input) folded into the readers' biases.")
    print("Reconstructed: each reader's kept weights and bias refitted by least squares to")
    print("the unpruned model's reader outputs on the calibration images.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
