# Tests of the ONNX text syntax (formats/text/): printer and parser round trips over
# the ONNX node test models, the syntax, and the exact text of every parse error.
check_PROGRAMS += tests/unit/test_text
TESTS += tests/unit/test_text
tests_unit_test_text_SOURCES = tests/unit/test_text.c
tests_unit_test_text_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_test_text_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_text_LDADD = $(TEST_LDADD)
# Its cross-check with the onnx package's own printer and parser (run when a Python
# with onnx is found: $MOF_TEST_PYTHON or the source tree's .venv).
EXTRA_DIST += tests/python/text_crosscheck.py

# Pass tests as text: tests/passes/*.test, each a list of cases (an input model in the
# ONNX text syntax, the passes to run, FileCheck-style CHECK lines, and a numeric check
# of before against after), all run by one harness over the folder; see
# tests/passes/README.md. A new .test file runs as soon as it is in the folder; list it
# in MOF_PASS_TEST_FILES so that it is distributed too.
MOF_PASS_TEST_FILES = \
	tests/passes/cleanup.test tests/passes/fusion.test tests/passes/layout.test \
	tests/passes/simplify.test tests/passes/pruning.test tests/passes/quantization.test \
	tests/passes/quantize-dynamic.test tests/passes/quantize-weights.test
check_PROGRAMS += tests/passes/run_pass_tests
tests_passes_run_pass_tests_SOURCES = tests/passes/run_pass_tests.c \
	tests/passes/filecheck.c tests/passes/filecheck.h
tests_passes_run_pass_tests_CPPFLAGS = $(TEST_CPPFLAGS)
tests_passes_run_pass_tests_CFLAGS = $(AM_CFLAGS)
tests_passes_run_pass_tests_LDADD = libmof.la
TESTS += tests/passes/run-pass-tests.sh
dist_check_SCRIPTS += tests/passes/run-pass-tests.sh
EXTRA_DIST += $(MOF_PASS_TEST_FILES) tests/passes/README.md

# The harness must fail where it should: tests/passes/selftest/harness.test holds cases
# that fail (a CHECK, a CHECK-NOT, a pass that changes the outputs, a parse error, ...)
# and the script checks each report.
TESTS += tests/passes/selftest.sh
dist_check_SCRIPTS += tests/passes/selftest.sh
EXTRA_DIST += tests/passes/selftest/harness.test

# The matcher itself: that what must fail fails.
check_PROGRAMS += tests/unit/test_filecheck
TESTS += tests/unit/test_filecheck
tests_unit_test_filecheck_SOURCES = tests/unit/test_filecheck.c tests/passes/filecheck.c
tests_unit_test_filecheck_CPPFLAGS = $(TEST_CPPFLAGS) -I$(top_srcdir)/tests/passes
tests_unit_test_filecheck_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_filecheck_LDADD = $(TEST_LDADD)
