# Tests of the interpreter's shape, data-movement and quantization operators
# (core/interp/ops_shape.c, ops_quant.c): kernels on hand-computed cases, shape
# functions with symbolic dims.
check_PROGRAMS += tests/unit/test_shape_ops
TESTS += tests/unit/test_shape_ops
tests_unit_test_shape_ops_SOURCES = tests/unit/test_shape_ops.c
tests_unit_test_shape_ops_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_test_shape_ops_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_shape_ops_LDADD = $(TEST_LDADD)
