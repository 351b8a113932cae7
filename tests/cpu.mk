# Tests of the cpu backend (plugins/cpu/): emit, build and run artifacts.
TESTS += tests/cli/cpu.sh
dist_check_SCRIPTS += tests/cli/cpu.sh
EXTRA_DIST += examples/pipelines/cpu.xml
EXTRA_DIST += tests/bench/cpu_portable_profile.sh

# The artifacts' thread pool (runtime/mofrt.c): every loop covered once, distinct
# thread indices, workers woken from sleep and from spinning.
check_PROGRAMS += tests/unit/test_cpu_pool
TESTS += tests/unit/test_cpu_pool
tests_unit_test_cpu_pool_SOURCES = tests/unit/test_cpu_pool.c plugins/cpu/runtime/mofrt.c
tests_unit_test_cpu_pool_CPPFLAGS = $(TEST_CPPFLAGS) -I$(top_srcdir)/plugins/cpu/runtime -DMOFRT_THREADS=1
tests_unit_test_cpu_pool_CFLAGS = $(TEST_CFLAGS) -pthread
tests_unit_test_cpu_pool_LDADD = $(CHECK_LIBS) -lm -lpthread

# The portable artifacts cross-compiled for AArch64 and run under qemu-user.
TESTS += tests/cli/cpu-aarch64.sh
dist_check_SCRIPTS += tests/cli/cpu-aarch64.sh
