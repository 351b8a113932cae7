#!/usr/bin/env bash
# crosscheck.sh: mof's reference interpreter against ONNX Runtime on exported
# architectures (ResNet-18, MobileNetV2/V3-Small, SqueezeNet, ShuffleNetV2,
# EfficientNet-B0, DenseNet-121, ViT-B/16, a transformer encoder); every output
# must match within 1e-5 + 1e-4 * |ort|. The work is tests/python/crosscheck.py's;
# this script picks its Python and runs it on the build tree's mof.
#
# Python: $MOF_PYTHON (.ci/run sets it after tests/python/setup-venv.sh); if unset,
# $top_srcdir/.venv/bin/python when present; otherwise the test is skipped (77).
# An explicit $MOF_PYTHON that lacks numpy/onnx/onnxruntime is a broken setup (99).
# Exported models are cached in $top_builddir/tests/crosscheck-models (exports are
# deterministic; `make clean` removes them), or in $MOF_CROSSCHECK_CACHE when set (a
# folder kept across builds, e.g. shared by a build and its distcheck).
# MOF_CROSSCHECK_NAMES="resnet18 vit_tiny" checks those models instead of the set.
# On two shared cores: about 13 s once cached (a minute with sanitizers), and about
# 90 s the first time, exports included (ViT-B/16 alone is 330 MiB).
. "$(dirname "$0")/lib.sh"

py=${MOF_PYTHON:-}
explicit=yes
if [ -z "$py" ]; then
    explicit=no
    py="$top_srcdir/.venv/bin/python"
    if [ ! -x "$py" ]; then
        echo "skip: no Python for the cross-check: set MOF_PYTHON, or create" \
             "$top_srcdir/.venv with tests/python/setup-venv.sh"
        exit 77
    fi
fi
if ! "$py" -c 'import numpy, onnx, onnxruntime' 2>"$TMP/import.err"; then
    sed 's/^/    | /' "$TMP/import.err"
    if [ "$explicit" = yes ]; then
        echo "error: MOF_PYTHON=$py cannot import numpy, onnx and onnxruntime"
        exit 99
    fi
    echo "skip: $py cannot import numpy, onnx and onnxruntime" \
         "(run tests/python/setup-venv.sh)"
    exit 77
fi

# `mof exec` runs a model on tensor files; a mof without it cannot be checked.
if ! "$MOF" exec --help >/dev/null 2>&1; then
    echo "skip: $MOF has no 'exec' command"
    exit 77
fi

models="${MOF_CROSSCHECK_CACHE:-$top_builddir/tests/crosscheck-models}"
echo "python: $py"
echo "models: $models"
read -r -a names <<< "${MOF_CROSSCHECK_NAMES:-}"
status=0
"$py" "$top_srcdir/tests/python/crosscheck.py" --mof "$MOF" --models "$models" \
    --timeout 300 ${names[@]+"${names[@]}"} || status=$?
if [ "$status" -eq 0 ]; then
    pass "every architecture matches ONNX Runtime"
else
    fail "cross-check with ONNX Runtime (crosscheck.py exit $status)"
fi
finish
