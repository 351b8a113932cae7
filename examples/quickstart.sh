#!/usr/bin/env bash
# Quick start on a fresh Debian 12 machine, as root: installs the build dependencies,
# builds mof in build/, and runs the example cleanup pipeline on the bundled example
# model, printing what each pass did.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends \
        build-essential autoconf automake libtool autoconf-archive pkg-config \
        protobuf-c-compiler libprotobuf-c-dev libxml2-dev libxml2-utils check libonnx-dev
else
    echo "quickstart: not root, so not installing packages (see README.md for the list)"
fi

autoreconf -fi
mkdir -p build/quickstart
cd build/quickstart
[ -f Makefile ] || "$top/configure" -q
make -j"$(nproc)"

echo
echo "== mof info on the example model"
./mof info "$top/examples/models/tiny-cnn.onnx"
echo
echo "== mof run examples/pipelines/cleanup.xml"
./mof run --time-passes "$top/examples/pipelines/cleanup.xml" \
    "$top/examples/models/tiny-cnn.onnx" -o out
echo
echo "== the optimized model"
./mof info out/model.onnx
