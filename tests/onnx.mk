# Tests of the ONNX reader and writer (formats/onnx) and of atomic outputs
# (core/output.c). The test builds models with protobuf-c itself, so it compiles the
# generated ONNX code (hidden inside libmof) into its own binary.
check_PROGRAMS += tests/unit/test_onnx
TESTS += tests/unit/test_onnx
tests_unit_test_onnx_SOURCES = tests/unit/test_onnx.c
nodist_tests_unit_test_onnx_SOURCES = formats/onnx/onnx.pb-c.c formats/onnx/onnx.pb-c.h
tests_unit_test_onnx_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_test_onnx_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_onnx_LDADD = $(TEST_LDADD)
