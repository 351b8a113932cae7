#!/usr/bin/env python3
"""Export benchmark models to ONNX with random (seeded) weights.

    export_models.py OUTDIR [names...]

Writes OUTDIR/<name>.onnx for each requested model (default: all).  Files that
already exist are skipped.  No pretrained weights are downloaded: every model
is built from its architecture with torch.manual_seed(SEED) just before
construction, so the weights, and the exported bytes, are the same on every
run with the same torch version.

All exports use opset 13, batch 1, static shapes and do_constant_folding=True.
Needs torch + torchvision (Debian's python3-torch / python3-torchvision, via
the venv from tests/python/setup-venv.sh).
"""

import argparse
import os
import sys
import time

SEED = 20240101
OPSET = 13


# torch is imported only when something is to be exported, so a run where
# every file exists already is quick.

def transformer_encoder():
    """A small transformer encoder: 2 layers, d_model 128, 4 heads, seq 32."""
    import torch
    layer = torch.nn.TransformerEncoderLayer(
        128, 4, dim_feedforward=256, dropout=0.0, batch_first=True)
    # enable_nested_tensor=False: keep to the plain (exportable) code path.
    return torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False), (1, 32, 128)


def vision(name):
    """A torchvision classifier with random weights; 224x224 RGB input."""
    def make():
        import torchvision
        return getattr(torchvision.models, name)(weights=None), (1, 3, 224, 224)
    return make


# name -> factory returning (module, input shape)
MODELS = {
    "resnet50": vision("resnet50"),
    "resnet18": vision("resnet18"),
    "mobilenet_v2": vision("mobilenet_v2"),
    "squeezenet1_0": vision("squeezenet1_0"),
    "transformer_encoder": transformer_encoder,
}


def export(name, path):
    import torch
    torch.manual_seed(SEED)  # before construction: it draws the weights
    model, shape = MODELS[name]()
    model.eval()
    x = torch.randn(*shape)
    tmp = path + ".tmp"
    # Deliberately not under torch.no_grad(): in eval mode without grad,
    # torch 1.13 routes nn.TransformerEncoderLayer through a fused "fast path"
    # op (aten::_transformer_encoder_layer_fwd) that has no ONNX export.
    torch.onnx.export(
        model, (x,), tmp,
        opset_version=OPSET,
        do_constant_folding=True,
        input_names=["input"],
        output_names=["output"],
        # no dynamic_axes: static shapes, batch 1
    )
    os.replace(tmp, path)  # only complete files ever carry the final name


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="models: " + ", ".join(MODELS))
    ap.add_argument("outdir", help="directory for <name>.onnx files")
    ap.add_argument("names", nargs="*", metavar="name",
                    help="models to export (default: all)")
    args = ap.parse_args(argv)

    names = args.names or list(MODELS)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        ap.error("unknown model(s): %s (known: %s)"
                 % (", ".join(unknown), ", ".join(MODELS)))

    os.makedirs(args.outdir, exist_ok=True)
    for name in names:
        path = os.path.join(args.outdir, name + ".onnx")
        if os.path.exists(path):
            print("export_models: %s exists, skipped" % path)
            continue
        t0 = time.perf_counter()
        export(name, path)
        print("export_models: wrote %s (%.1f MiB, %.1f s)"
              % (path, os.path.getsize(path) / 2**20, time.perf_counter() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
