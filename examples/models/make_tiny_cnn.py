#!/usr/bin/env python3
"""Generate examples/models/tiny-cnn.onnx and its test data.

    make_tiny_cnn.py [--outdir DIR]     write the files (default: next to this script)
    make_tiny_cnn.py --check            rebuild in memory, compare with the files

The model is built with the onnx helper API and weights from a seeded
numpy RandomState (whose stream numpy keeps fixed across versions), so
regenerating gives byte-identical tiny-cnn.onnx and input_0.pb.
output_0.pb is onnxruntime's result for input_0.pb; it may differ in the last
bits on another CPU, so --check compares it with a tolerance.

Graph (opset 13, ir_version 8):

  image [1,3,16,16]
   -> Conv 3->8 3x3 pad 1 -> BatchNormalization -> Relu -> Identity -> Dropout
   -> MaxPool 2x2 -> Conv 8->8 3x3 pad 1 -> Relu -> GlobalAveragePool
   -> Flatten -> Gemm 8->10 -> logits [1,10]

plus deliberate clutter for cleanup passes: an initializer no node uses
("unused.weight") and a Relu whose output nothing uses ("dead_relu").
"""

import argparse
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SEED = 1234
HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_FILE = "tiny-cnn.onnx"
DATA_DIR = "tiny-cnn-inputs"


def build_model():
    rng = np.random.RandomState(SEED)

    def init(name, *shape, scale=0.5, positive=False):
        a = rng.standard_normal(shape) * scale
        if positive:
            a = np.abs(a) + 0.5
        return numpy_helper.from_array(a.astype(np.float32), name)

    # Initializers, in graph order.  fc.weight is [out, in] (Gemm transB=1).
    inits = [
        init("conv1.weight", 8, 3, 3, 3),
        init("conv1.bias", 8, scale=0.1),
        init("bn1.scale", 8, positive=True),
        init("bn1.bias", 8, scale=0.1),
        init("bn1.mean", 8, scale=0.1),
        init("bn1.var", 8, positive=True),
        init("conv2.weight", 8, 8, 3, 3, scale=0.2),
        init("conv2.bias", 8, scale=0.1),
        init("fc.weight", 10, 8),
        init("fc.bias", 10, scale=0.1),
        init("unused.weight", 4, 4),  # referenced by no node
    ]

    conv = dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1])
    N = helper.make_node
    nodes = [
        N("Conv", ["image", "conv1.weight", "conv1.bias"], ["conv1_out"], "conv1", **conv),
        N("BatchNormalization",
          ["conv1_out", "bn1.scale", "bn1.bias", "bn1.mean", "bn1.var"],
          ["bn1_out"], "bn1", epsilon=1e-5),
        N("Relu", ["bn1_out"], ["relu1_out"], "relu1"),
        N("Relu", ["bn1_out"], ["dead_out"], "dead_relu"),  # output used by nothing
        N("Identity", ["relu1_out"], ["identity_out"], "identity"),
        N("Dropout", ["identity_out"], ["dropout_out"], "dropout"),  # inference: a no-op
        N("MaxPool", ["dropout_out"], ["pool1_out"], "pool1",
          kernel_shape=[2, 2], strides=[2, 2]),
        N("Conv", ["pool1_out", "conv2.weight", "conv2.bias"], ["conv2_out"], "conv2", **conv),
        N("Relu", ["conv2_out"], ["relu2_out"], "relu2"),
        N("GlobalAveragePool", ["relu2_out"], ["gap_out"], "gap"),
        N("Flatten", ["gap_out"], ["flatten_out"], "flatten", axis=1),
        N("Gemm", ["flatten_out", "fc.weight", "fc.bias"], ["logits"], "fc", transB=1),
    ]

    graph = helper.make_graph(
        nodes, "tiny_cnn",
        inputs=[helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 16, 16])],
        outputs=[helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])],
        initializer=inits)
    model = helper.make_model(
        graph,
        producer_name="mof-examples",
        opset_imports=[helper.make_opsetid("", 13)],
        doc_string="Tiny CNN example for mof (see examples/models/README.md).")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def make_input():
    # Separate stream from the weights, so changing one leaves the other.
    rng = np.random.RandomState(SEED + 1)
    return rng.standard_normal((1, 3, 16, 16)).astype(np.float32)


def run_ort(model_bytes, x):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.log_severity_level = 3  # hush the warning about the unused initializer
    sess = ort.InferenceSession(model_bytes, opts, providers=["CPUExecutionProvider"])
    return sess.run(["logits"], {"image": x})[0]


def generate():
    """Return {relative path: bytes} for all generated files."""
    model = build_model()
    model_bytes = model.SerializeToString()
    x = make_input()
    y = run_ort(model_bytes, x)
    assert y.shape == (1, 10) and np.all(np.isfinite(y))
    return {
        MODEL_FILE: model_bytes,
        os.path.join(DATA_DIR, "input_0.pb"):
            numpy_helper.from_array(x, "image").SerializeToString(),
        os.path.join(DATA_DIR, "output_0.pb"):
            numpy_helper.from_array(y, "logits").SerializeToString(),
    }


def check(outdir, files):
    ok = True
    for rel, data in files.items():
        path = os.path.join(outdir, rel)
        with open(path, "rb") as f:
            old = f.read()
        if rel.endswith("output_0.pb"):
            t_old, t_new = onnx.TensorProto(), onnx.TensorProto()
            t_old.ParseFromString(old)
            t_new.ParseFromString(data)
            same = np.allclose(numpy_helper.to_array(t_old), numpy_helper.to_array(t_new),
                               rtol=1e-4, atol=1e-5)
        else:
            same = old == data
        print("%s: %s" % (path, "ok" if same else "DIFFERS"))
        ok &= same
    return ok


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--outdir", default=HERE, help="where to write (default: %(default)s)")
    ap.add_argument("--check", action="store_true",
                    help="compare with the existing files instead of writing")
    args = ap.parse_args(argv)

    files = generate()
    if args.check:
        return 0 if check(args.outdir, files) else 1
    for rel, data in files.items():
        path = os.path.join(args.outdir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        print("wrote %s (%d bytes)" % (path, len(data)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
