# Cross-check of the reference interpreter with ONNX Runtime (tests/python/crosscheck.py)
# on architectures exported from torchvision: run by tests/cli/crosscheck.sh, which is
# skipped when no Python with onnx and onnxruntime is found (see its header).
# The exported models are cached in the build tree, in tests/crosscheck-models.
TESTS += tests/cli/crosscheck.sh
dist_check_SCRIPTS += tests/cli/crosscheck.sh
EXTRA_DIST += tests/python/crosscheck.py tests/bench/export_models.py \
	tests/bench/interp_latency.py tests/bench/run-interp-latency.sh

clean-local: crosscheck-clean-local
.PHONY: crosscheck-clean-local
crosscheck-clean-local:
	-rm -rf tests/crosscheck-models
