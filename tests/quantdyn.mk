# quantize-dynamic and quantize-weights (passes/quantization/dynamic.c, weights.c) and
# the int4 / uint4 element types: unit tests with the plugin linked in
# (MOF_PLUGIN_STATIC=quantization), and a CLI test that also runs the results in ONNX
# Runtime when a Python with onnxruntime is found (tests/cli/quant-dynamic.sh).
check_PROGRAMS += tests/unit/test_quant_dynamic
TESTS += tests/unit/test_quant_dynamic
tests_unit_test_quant_dynamic_SOURCES = tests/unit/test_quant_dynamic.c \
	$(passes_quantization_quantization_la_SOURCES)
tests_unit_test_quant_dynamic_CPPFLAGS = $(TEST_CPPFLAGS) -DMOF_PLUGIN_STATIC=quantization
tests_unit_test_quant_dynamic_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_quant_dynamic_LDADD = $(TEST_LDADD) -lm

TESTS += tests/cli/quant-dynamic.sh
dist_check_SCRIPTS += tests/cli/quant-dynamic.sh

# Size and SQNR measurement of the two passes (see its docstring; not run by make check).
EXTRA_DIST += tests/bench/quantdyn_measure.py
