# The cpu backend against the ONNX node tests (libonnx-testdata): every test the
# backend claims is emitted, compiled (all into one program per kernel provider:
# portable, and onednn when oneDNN is installed), run and compared with the stored
# outputs; a table of pass counts per op is printed. Skips (77) without the test data
# or a C compiler. `tests/conformance/cpu_conformance -v FILTER` runs a subset.
check_PROGRAMS += tests/conformance/cpu_conformance
TESTS += tests/conformance/cpu_conformance
tests_conformance_cpu_conformance_SOURCES = tests/conformance/cpu_conformance.c \
	tests/conformance/testdata.c tests/conformance/testdata.h
tests_conformance_cpu_conformance_CPPFLAGS = $(AM_CPPFLAGS)
tests_conformance_cpu_conformance_CFLAGS = $(AM_CFLAGS)
tests_conformance_cpu_conformance_LDADD = libmof.la

# mof preflight (core/cli/mof.c, mof_pipeline_preflight) with the cpu backend.
TESTS += tests/cli/preflight.sh
dist_check_SCRIPTS += tests/cli/preflight.sh

# mof_pipeline_preflight and the backend step accessors (core/passmgr.c, pipeline.c).
check_PROGRAMS += tests/unit/test_preflight
TESTS += tests/unit/test_preflight
tests_unit_test_preflight_SOURCES = tests/unit/test_preflight.c
tests_unit_test_preflight_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_test_preflight_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_preflight_LDADD = $(TEST_LDADD)
