# quantize-static (passes/quantization/static.c, calib.c): calibration statistics,
# QDQ / QOperator structure, selection, keep-float, stats files; the plugin is linked
# in (MOF_PLUGIN_STATIC=quantization).
check_PROGRAMS += tests/unit/test_quant_static
TESTS += tests/unit/test_quant_static
tests_unit_test_quant_static_SOURCES = tests/unit/test_quant_static.c \
	$(passes_quantization_quantization_la_SOURCES)
tests_unit_test_quant_static_CPPFLAGS = $(TEST_CPPFLAGS) -DMOF_PLUGIN_STATIC=quantization
tests_unit_test_quant_static_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_quant_static_LDADD = $(TEST_LDADD) -lm

# End to end: tiny-cnn through examples/pipelines/quantize-static.xml, checked by the
# interpreter and, with $MOF_PYTHON, by ONNX Runtime.
TESTS += tests/cli/quant-static.sh
dist_check_SCRIPTS += tests/cli/quant-static.sh

EXTRA_DIST += tests/bench/run-quant-sqnr.sh tests/bench/quant_sqnr.py \
	examples/pipelines/quantize-static.xml
