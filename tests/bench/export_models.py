#!/usr/bin/env python3
"""Export benchmark models to ONNX with random (seeded) weights.

    export_models.py OUTDIR [names...]

Writes OUTDIR/<name>.onnx for each requested model (default: all).  Files that
already exist are skipped.  No pretrained weights are downloaded: every model
is built from its architecture with torch.manual_seed(SEED) just before
construction, so the weights, and the exported bytes, are the same on every
run with the same torch version.

All exports use opset 13, batch 1, static shapes and do_constant_folding=True.
With --calibrated, activations are brought to O(1) first (see calibrate()); the
cross-check (tests/python/crosscheck.py) uses that form.
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


def transformer_encoder_d64():
    """The cross-check's transformer encoder: 2 layers, d_model 64, 4 heads, seq 16."""
    import torch
    layer = torch.nn.TransformerEncoderLayer(
        64, 4, dim_feedforward=128, dropout=0.0, batch_first=True)
    return torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False), (1, 16, 64)


def vit_tiny():
    """A small ViT with ViT-B/16's structure (patch embedding, class token, encoder
    blocks, head): 64x64 input, patch 16, 2 layers, 4 heads, hidden 64, MLP 128;
    0.7 MiB and instant, where ViT-B/16 (vit_b_16) is 330 MiB and 17.5 GFLOP."""
    import torchvision
    return torchvision.models.VisionTransformer(
        image_size=64, patch_size=16, num_layers=2, num_heads=4,
        hidden_dim=64, mlp_dim=128), (1, 3, 64, 64)


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
    "mobilenet_v3_small": vision("mobilenet_v3_small"),
    "squeezenet1_0": vision("squeezenet1_0"),
    "shufflenet_v2_x0_5": vision("shufflenet_v2_x0_5"),
    "efficientnet_b0": vision("efficientnet_b0"),
    "densenet121": vision("densenet121"),
    "vit_b_16": vision("vit_b_16"),
    "vit_tiny": vit_tiny,
    "transformer_encoder": transformer_encoder,
    "transformer_encoder_d64": transformer_encoder_d64,
}


def calibrate(model, shape):
    """Gives a randomly initialized model O(1) activations and outputs, as a trained
    one has, so that comparing two runtimes on it means something.

    With torchvision's initializations the activations of some architectures
    vanish: depthwise convolutions are drawn with kaiming fan_out (std
    sqrt(2 / (C * k * k))), so MobileNetV2 ends near 1e-16 and EfficientNet-B0
    near 1e-20; classifier heads are drawn with std 0.01, or are all zeros
    (ViT).  Any two runtimes then "agree" within an absolute tolerance.  So:
    every Linear weight is redrawn with std 1/sqrt(fan_in), and every BatchNorm
    gets the mean and variance of its input on a random batch (as if trained:
    it normalizes to unit scale; export folds it into the convolution before
    it).  Deterministic: it draws from torch's generator, seeded in export()."""
    import torch
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.Linear):
                m.weight.normal_(0.0, m.weight.shape[1] ** -0.5)
    bns = [m for m in model.modules()
           if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    model.eval()
    saved = []
    for m in bns:
        saved.append(m.momentum)
        m.reset_running_stats()
        m.momentum = None  # cumulative average: after one batch, that batch's stats
        m.train()
    with torch.no_grad():
        model(torch.randn(2, *shape[1:]))
    for m, momentum in zip(bns, saved):
        m.momentum = momentum
        m.eval()


def export(name, path, calibrated=False):
    """Writes model `name` to path; calibrated: see calibrate()."""
    import torch
    torch.manual_seed(SEED)  # before construction: it draws the weights
    model, shape = MODELS[name]()
    model.eval()
    if calibrated:
        calibrate(model, shape)
    x = torch.randn(*shape)
    tmp = "%s.tmp%d" % (path, os.getpid())  # concurrent exporters never share one
    # Deliberately not under torch.no_grad(): in eval mode without grad,
    # torch 1.13 routes nn.TransformerEncoderLayer through a fused "fast path"
    # op (aten::_transformer_encoder_layer_fwd) that has no ONNX export.
    try:
        torch.onnx.export(
            model, (x,), tmp,
            opset_version=OPSET,
            do_constant_folding=True,
            input_names=["input"],
            output_names=["output"],
            # no dynamic_axes: static shapes, batch 1
        )
        os.replace(tmp, path)  # only complete files ever carry the final name
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="models: " + ", ".join(MODELS))
    ap.add_argument("outdir", help="directory for <name>.onnx files")
    ap.add_argument("names", nargs="*", metavar="name",
                    help="models to export (default: all)")
    ap.add_argument("--calibrated", action="store_true",
                    help="give the random weights O(1) activations (BatchNorm "
                         "statistics measured on random data, Linear layers redrawn "
                         "with std 1/sqrt(fan_in)), "
                         "as tests/python/crosscheck.py uses them")
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
        export(name, path, args.calibrated)
        print("export_models: wrote %s (%.1f MiB, %.1f s)"
              % (path, os.path.getsize(path) / 2**20, time.perf_counter() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
