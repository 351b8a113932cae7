# The cpu backend's integer kernels and QDQ lowering (plugins/cpu/qdq.c,
# emit_int8.c, runtime/mofrt_int8.c).
#
# test_cpu_int8 runs the runtime kernels against the reference interpreter, bit for
# bit, with the build's flags (the plain C micro-kernel); test_cpu_int8_avx2 is the
# same program compiled with -mavx2 (the AVX2 micro-kernel; it skips on a CPU without
# AVX2). Both use the pool with threads (MOFRT_THREADS=1).
CPU_INT8_TEST_SOURCES = tests/unit/test_cpu_int8.c \
	plugins/cpu/runtime/mofrt_int8.c plugins/cpu/runtime/mofrt.c
CPU_INT8_TEST_CPPFLAGS = $(TEST_CPPFLAGS) -I$(top_srcdir)/plugins/cpu/runtime -DMOFRT_THREADS=1
check_PROGRAMS += tests/unit/test_cpu_int8 tests/unit/test_cpu_int8_avx2
TESTS += tests/unit/test_cpu_int8 tests/unit/test_cpu_int8_avx2
tests_unit_test_cpu_int8_SOURCES = $(CPU_INT8_TEST_SOURCES)
tests_unit_test_cpu_int8_CPPFLAGS = $(CPU_INT8_TEST_CPPFLAGS)
tests_unit_test_cpu_int8_CFLAGS = $(TEST_CFLAGS) -pthread
tests_unit_test_cpu_int8_LDADD = $(TEST_LDADD) -lm -lpthread
tests_unit_test_cpu_int8_avx2_SOURCES = $(CPU_INT8_TEST_SOURCES)
tests_unit_test_cpu_int8_avx2_CPPFLAGS = $(CPU_INT8_TEST_CPPFLAGS) -DMOF_TEST_NEED_AVX2
tests_unit_test_cpu_int8_avx2_CFLAGS = $(TEST_CFLAGS) -pthread -mavx2 -mfma
tests_unit_test_cpu_int8_avx2_LDADD = $(TEST_LDADD) -lm -lpthread

# The QDQ lowering (qdq.c, compiled into the test): structure, numbers against the QDQ
# model (within one quantization step), refusal of inexact patterns.
check_PROGRAMS += tests/unit/test_cpu_int8_qdq
TESTS += tests/unit/test_cpu_int8_qdq
tests_unit_test_cpu_int8_qdq_SOURCES = tests/unit/test_cpu_int8_qdq.c plugins/cpu/qdq.c
tests_unit_test_cpu_int8_qdq_CPPFLAGS = $(TEST_CPPFLAGS) -I$(top_srcdir)/plugins/cpu
tests_unit_test_cpu_int8_qdq_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_cpu_int8_qdq_LDADD = $(TEST_LDADD) -lm

# End to end: integer and QDQ models through the cpu backend, built and run, compared
# with mof exec (bit for bit on the integer model).
TESTS += tests/cli/cpu-int8.sh
dist_check_SCRIPTS += tests/cli/cpu-int8.sh
EXTRA_DIST += tests/bench/run-cpu-int8.sh tests/bench/cpu_int8_bench.py
