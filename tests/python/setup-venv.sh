#!/usr/bin/env bash
# Create (or refresh) the Python venv used by mof's benchmarks and
# example-model scripts.
#
#   tests/python/setup-venv.sh [VENV_DIR]      (default: $REPO/.venv)
#
# The venv is built on Debian's /usr/bin/python3 with --system-site-packages,
# so it sees Debian's torch/torchvision/numpy; onnx, onnxruntime, onnxsim and
# onnxoptimizer come from PyPI, pinned in tests/python/requirements.txt.
#
# Idempotent: when the venv exists, was built from the current
# requirements.txt (a stamp file records its hash) and the imports work,
# it does nothing (about a second, mostly the import check).
# Missing Debian packages are installed with apt-get when running as root.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${1:-$repo/.venv}"
reqs="$here/requirements.txt"
stamp="$venv/.mof-requirements.sha256"
py=/usr/bin/python3
debs=(python3-venv python3-torch python3-torchvision python3-sklearn)

say() { printf 'setup-venv: %s\n' "$*"; }

# 1. Debian packages (python3-venv for the venv itself, torch for exports).
missing=()
for p in "${debs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
        || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        say "missing Debian packages: ${missing[*]}" >&2
        say "run as root, or: sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Install straight away when the package lists are present; refresh them
    # first otherwise (fresh images ship without lists).
    apt-get install -y --no-install-recommends "${missing[@]}" \
        || { apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"; }
fi

want="$(sha256sum "$reqs" | cut -d' ' -f1)"
check='import numpy, onnx, onnxruntime, onnxsim, onnxoptimizer, torch, torchvision, sklearn'

# 2. Fast path: venv exists, same requirements, imports work.
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] \
   && "$venv/bin/python" -c "$check" 2>/dev/null; then
    say "venv $venv is up to date"
    exit 0
fi

# 3. Create the venv (if needed) and install the pinned packages.  A venv
# that was made from another interpreter (say pyenv's, which lacks torch) or
# without system site-packages is rebuilt in place (venv --clear).
cfg="$venv/pyvenv.cfg"
if [ -x "$venv/bin/python" ] && grep -qx 'home = /usr/bin' "$cfg" 2>/dev/null \
   && grep -qx 'include-system-site-packages = true' "$cfg"; then
    :
elif [ -f "$cfg" ]; then
    say "recreating venv $venv (not a --system-site-packages venv of $py)"
    "$py" -m venv --clear --system-site-packages "$venv"
else
    say "creating venv $venv ($py -m venv --system-site-packages)"
    "$py" -m venv --system-site-packages "$venv"
fi
say "pip install -r $reqs"
# --disable-pip-version-check: Debian's pip 23.0 is fine; no network nag.
"$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$reqs"

# 4. Verify: imports plus a tiny torch.onnx.export -> onnx.checker -> onnxruntime.
"$venv/bin/python" - <<'EOF'
import io
import numpy as np, onnx, onnxruntime as ort, torch
m = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU()).eval()
x = torch.ones(1, 4)
buf = io.BytesIO()
torch.onnx.export(m, x, buf, opset_version=13, input_names=["x"])
model = onnx.load_from_string(buf.getvalue())
onnx.checker.check_model(model)
sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
y = sess.run(None, {"x": x.numpy()})[0]
assert np.allclose(y, m(x).detach().numpy(), atol=1e-6)
print("setup-venv: ok: numpy %s, torch %s, onnx %s, onnxruntime %s"
      % (np.__version__, torch.__version__, onnx.__version__, ort.__version__))
EOF
echo "$want" > "$stamp"
say "venv ready: $venv"
