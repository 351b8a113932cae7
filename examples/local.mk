# Example pipelines, models and out-of-tree plugins. They are data for users and for
# the tests (tests/cli/), so they are distributed, not built: the out-of-tree plugin
# builds against an installed mof with its own Makefile (tests/cli/custom-pass.sh).
EXTRA_DIST += \
	examples/pipelines/roundtrip.xml \
	examples/pipelines/cleanup.xml \
	examples/pipelines/simplify.xml \
	examples/pipelines/optimize.xml \
	examples/pipelines/optimize-nhwc.xml \
	examples/quickstart.sh \
	examples/models/README.md \
	examples/models/make_tiny_cnn.py \
	examples/models/tiny-cnn.onnx \
	examples/models/tiny-cnn-inputs/input_0.pb \
	examples/models/tiny-cnn-inputs/output_0.pb \
	examples/custom-pass/README.md \
	examples/custom-pass/Makefile \
	examples/custom-pass/rename_nodes.c \
	examples/custom-pass/pipeline.xml

# The benchmark scripts and the Python environment they share (not run by make check).
EXTRA_DIST += \
	tests/python/setup-venv.sh tests/python/requirements.txt \
	tests/bench/loadsave.py tests/bench/run-loadsave.sh \
	tests/bench/compare_peers.py tests/bench/run-compare-peers.sh \
	tests/bench/lib.sh
