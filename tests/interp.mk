# Tests of the reference interpreter and shape inference (core/interp).
#
# test_interp builds its graphs with the IR's internal constructors, so it links the
# check-only copy of the IR (tests/ir.mk) ahead of libmof.la.
check_PROGRAMS += tests/unit/test_interp
TESTS += tests/unit/test_interp
tests_unit_test_interp_SOURCES = tests/unit/test_interp.c
tests_unit_test_interp_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_test_interp_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_interp_LDADD = tests/unit/libmof_ir_internal.la $(TEST_LDADD)

# The ONNX backend node tests (libonnx-testdata) run through the interpreter; the
# program prints a table per op and exits 77 (skipped) when the data is not installed.
# `tests/conformance/conformance -v FILTER` runs a subset with one line per test.
check_PROGRAMS += tests/conformance/conformance
TESTS += tests/conformance/conformance
tests_conformance_conformance_SOURCES = tests/conformance/conformance.c \
	tests/conformance/testdata.c tests/conformance/testdata.h
tests_conformance_conformance_CPPFLAGS = $(AM_CPPFLAGS)
tests_conformance_conformance_CFLAGS = $(AM_CFLAGS)
tests_conformance_conformance_LDADD = libmof.la
