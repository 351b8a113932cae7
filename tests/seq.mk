# Tests of sequences and optionals in the reference interpreter (core/interp/ops_seq.c,
# value.c), training-mode Dropout and its MT19937 stream (random.c, compiled in: its
# functions are internal to libmof).
check_PROGRAMS += tests/unit/test_seq
TESTS += tests/unit/test_seq
tests_unit_test_seq_SOURCES = tests/unit/test_seq.c core/interp/random.c
tests_unit_test_seq_CPPFLAGS = $(TEST_CPPFLAGS) -DMOF_BUILDING_LIBMOF
tests_unit_test_seq_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_seq_LDADD = $(TEST_LDADD)
