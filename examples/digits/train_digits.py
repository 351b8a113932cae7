#!/usr/bin/env python3
"""Trains the digits CNN of examples/digits and writes the model and its data.

    train_digits.py [--out DIR] [--epochs N] [--data-only]

The data: the handwritten digits of scikit-learn (sklearn.datasets.load_digits,
shipped inside the package, nothing is downloaded): 1797 grey 8x8 images, pixel
values 0..16, ten classes. Inputs are normalised as x / 16 (so 0..1; no mean
subtraction), float32, NCHW [N,1,8,8].

The split is fixed and seeded (numpy RandomState(0) permutation of the 1797
samples, independent of any library's version): the first 450 are the held-out
test set, the other 1347 the training set; the calibration set is 100 images
of the training set (the first 100 of a RandomState(1) permutation of it), as
in practice, where calibration data comes from the training distribution.

The model (about 25k parameters), chosen so that the optimizations mof measures
on it all occur in a real, trained network:

    input [N,1,8,8]
    Conv 1->16 3x3 -> BatchNormalization -> Relu          (Conv+BN fusion)
    Conv 16->24 3x3 -> BatchNormalization -> Relu         (channel pruning across BN)
    MaxPool 2x2                                           -> [N,24,4,4]
    residual block: Conv 24->24 -> BN -> Relu -> Conv 24->24 -> BN,
                    Add with the block's input -> Relu    (a residual Add group)
    Conv 24->48 3x3 -> Relu
    GlobalAveragePool -> Flatten -> Gemm 48->10           (Gemm)
    logits [N,10]

It is exported with torch.onnx.export, opset 13, BatchNormalization kept as a
node (training=PRESERVE on a model in eval mode, so the exporter does not fold
it into the Conv: that is mof's job), input "input" and output "logits" with a
dynamic batch dimension "N".

Training: Adam, 40 epochs, batch 64, cosine learning rate from 3e-3, small
random shifts of +-1 pixel as augmentation, CPU only, one thread,
torch.manual_seed(0) and deterministic algorithms: about 20 s on two cores.
The same torch build on the same kind of CPU writes the same weights; another
torch version or CPU may round differently and end with slightly different
weights (the data files do not depend on torch: they are the same everywhere).

Writes into DIR (default: this script's folder):
    digits-cnn.onnx        the trained model
    test/input.npy         float32 [450,1,8,8], the held-out images (x / 16)
    test/labels.npy        int64 [450], their labels
    test/logits.npy        float32 [450,10], the labels one-hot: "expected
                           logits" for `mof exec --expect`, whose top-1
                           agreement column is then the accuracy
    calib/input.npy        float32 [100,1,8,8], the calibration images
    calib/labels.npy       int64 [100], their labels

Needs Debian's python3-torch and python3-sklearn (and onnx, onnxruntime for the
final check), e.g. the venv of tests/python/setup-venv.sh.
"""

import argparse
import os
import sys
import time

import numpy as np

N_TEST = 450
N_CALIB = 100
SPLIT_SEED = 0
CALIB_SEED = 1
TORCH_SEED = 0
OPSET = 13


def load_split():
    """Returns (x_train, y_train, x_test, y_test, x_calib, y_calib), x float32
    [N,1,8,8] in 0..1, y int64."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images.astype(np.float32) / np.float32(16.0)).reshape(-1, 1, 8, 8)
    y = d.target.astype(np.int64)
    if x.shape != (1797, 1, 8, 8) or y.min() != 0 or y.max() != 9:
        raise SystemExit("train_digits: unexpected digits data: %s" % (x.shape,))
    perm = np.random.RandomState(SPLIT_SEED).permutation(len(x))
    test, train = perm[:N_TEST], perm[N_TEST:]
    calib = train[np.random.RandomState(CALIB_SEED).permutation(len(train))[:N_CALIB]]
    return (x[train], y[train], x[test], y[test], x[calib], y[calib])


def build_model(torch):
    nn = torch.nn

    class Residual(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.conv_a = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn_a = nn.BatchNorm2d(c)
            self.conv_b = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn_b = nn.BatchNorm2d(c)

        def forward(self, x):
            y = torch.relu(self.bn_a(self.conv_a(x)))
            y = self.bn_b(self.conv_b(y))
            return torch.relu(x + y)

    class DigitsCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
            self.bn1 = nn.BatchNorm2d(16)
            self.conv2 = nn.Conv2d(16, 24, 3, padding=1)
            self.bn2 = nn.BatchNorm2d(24)
            self.pool = nn.MaxPool2d(2)
            self.res = Residual(24)
            self.conv3 = nn.Conv2d(24, 48, 3, padding=1)
            self.gap = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(48, 10)

        def forward(self, x):
            x = torch.relu(self.bn1(self.conv1(x)))
            x = torch.relu(self.bn2(self.conv2(x)))
            x = self.res(self.pool(x))
            x = torch.relu(self.conv3(x))
            return self.fc(torch.flatten(self.gap(x), 1))

    return DigitsCNN()


def shift(torch, x, gen):
    """Shifts each image by -1..1 pixel in each direction (zero fill)."""
    n = x.shape[0]
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1))
    dy = torch.randint(0, 3, (n,), generator=gen)
    dx = torch.randint(0, 3, (n,), generator=gen)
    out = torch.empty_like(x)
    for i in range(n):
        out[i] = padded[i, :, dy[i]:dy[i] + 8, dx[i]:dx[i] + 8]
    return out


def train(torch, model, x, y, epochs):
    gen = torch.Generator().manual_seed(TORCH_SEED)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    loss_fn = torch.nn.CrossEntropyLoss()
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for i in range(0, len(xt), 64):
            idx = perm[i:i + 64]
            xb = shift(torch, xt[idx], gen)
            opt.zero_grad()
            loss = loss_fn(model(xb), yt[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        sched.step()
        if epoch % 10 == 9 or epoch == epochs - 1:
            print("epoch %2d  loss %.4f" % (epoch + 1, total / len(xt)))


def accuracy_torch(torch, model, x, y):
    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(x)).argmax(1).numpy()
    return float((pred == y).mean())


def export(torch, model, path):
    model.eval()
    tmp = path + ".tmp"
    torch.onnx.export(
        model, torch.zeros(1, 1, 8, 8), tmp, opset_version=OPSET,
        input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
        training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    os.replace(tmp, path)


def save_npy(path, a):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp.npy"
    np.save(tmp, a)
    os.replace(tmp, path)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=here, help="output folder (default: %(default)s)")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--data-only", action="store_true",
                    help="write only the data files (no torch needed)")
    args = ap.parse_args()

    xtr, ytr, xte, yte, xca, yca = load_split()
    out = args.out
    save_npy(os.path.join(out, "test", "input.npy"), xte)
    save_npy(os.path.join(out, "test", "labels.npy"), yte)
    save_npy(os.path.join(out, "test", "logits.npy"), np.eye(10, dtype=np.float32)[yte])
    save_npy(os.path.join(out, "calib", "input.npy"), xca)
    save_npy(os.path.join(out, "calib", "labels.npy"), yca)
    print("data: train %d, test %d, calibration %d (from train)" % (len(xtr), len(xte), len(xca)))
    if args.data_only:
        return 0

    import torch
    torch.manual_seed(TORCH_SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    model = build_model(torch)
    t0 = time.time()
    train(torch, model, xtr, ytr, args.epochs)
    print("trained in %.1f s" % (time.time() - t0))
    print("torch accuracy: train %.4f, test %.4f"
          % (accuracy_torch(torch, model, xtr, ytr), accuracy_torch(torch, model, xte, yte)))

    path = os.path.join(out, "digits-cnn.onnx")
    export(torch, model, path)
    import onnx
    import onnxruntime as ort
    onnx.checker.check_model(onnx.load(path), full_check=True)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    logits = sess.run(None, {"input": xte})[0]
    correct = int((logits.argmax(1) == yte).sum())
    print("wrote %s (%d bytes); ONNX Runtime test accuracy %d/%d = %.2f%%"
          % (path, os.path.getsize(path), correct, len(yte), 100.0 * correct / len(yte)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
