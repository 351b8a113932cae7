# Tests of the interpreter's neural-network operators (core/interp/ops_nn.c): kernels
# on hand-computed cases through mof_interp_eval_node, cross-checks of the float paths
# (im2col + sgemm, col2im) against the plain double ones, and shape functions on
# symbolic dims through mof_infer_shapes.
check_PROGRAMS += tests/unit/test_nn
TESTS += tests/unit/test_nn
tests_unit_test_nn_SOURCES = tests/unit/test_nn.c
tests_unit_test_nn_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_test_nn_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_nn_LDADD = $(TEST_LDADD)

# The sgemm benchmark (not a test): `make tests/bench/gemm_bench`, then
# `tests/bench/gemm_bench [M N K [reps]]`. mof_sgemm is internal to libmof, so gemm.c
# is compiled into the program, with the library's flags.
check_PROGRAMS += tests/bench/gemm_bench
tests_bench_gemm_bench_SOURCES = tests/bench/gemm_bench.c core/interp/gemm.c
tests_bench_gemm_bench_CPPFLAGS = $(AM_CPPFLAGS) -DMOF_BUILDING_LIBMOF
tests_bench_gemm_bench_CFLAGS = $(AM_CFLAGS)
