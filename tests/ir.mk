# Tests of the IR: tensors, graphs and the mutation API, verification, chain matching,
# subgraphs and captures, model copies.
#
# The tests also drive the IR's internal constructors (ir_private.h: graph inputs and
# outputs, subgraphs), which libmof.so does not export (MOF_INTERNAL is hidden). So the
# IR sources are built a second time into a check-only convenience library linked ahead
# of libmof.la: the test programs call that copy, everything else comes from libmof.
check_LTLIBRARIES += tests/unit/libmof_ir_internal.la
tests_unit_libmof_ir_internal_la_SOURCES = \
	core/util.c core/tensor.c core/ir.c core/ir_attr.c core/ir_verify.c core/ir_match.c
tests_unit_libmof_ir_internal_la_CPPFLAGS = $(AM_CPPFLAGS) -DMOF_BUILDING_LIBMOF
tests_unit_libmof_ir_internal_la_CFLAGS = $(AM_CFLAGS)

check_PROGRAMS += tests/unit/test_ir tests/unit/test_ir_subgraph
TESTS += tests/unit/test_ir tests/unit/test_ir_subgraph
tests_unit_test_ir_SOURCES = tests/unit/test_ir.c
tests_unit_test_ir_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_test_ir_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_ir_LDADD = tests/unit/libmof_ir_internal.la $(TEST_LDADD)
tests_unit_test_ir_subgraph_SOURCES = tests/unit/test_ir_subgraph.c
tests_unit_test_ir_subgraph_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_test_ir_subgraph_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_ir_subgraph_LDADD = tests/unit/libmof_ir_internal.la $(TEST_LDADD)
