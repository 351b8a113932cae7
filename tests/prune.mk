# The pruning passes' unit test, with the plugin linked in (MOF_PLUGIN_STATIC=pruning):
# structure, statistics, and the numeric proof that each pruned model equals the input
# model with the pruned weights set to zero.
check_PROGRAMS += tests/unit/test_pruning
TESTS += tests/unit/test_pruning
tests_unit_test_pruning_SOURCES = tests/unit/test_pruning.c $(passes_pruning_pruning_la_SOURCES)
tests_unit_test_pruning_CPPFLAGS = $(TEST_CPPFLAGS) -DMOF_PLUGIN_STATIC=pruning
tests_unit_test_pruning_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_pruning_LDADD = $(TEST_LDADD) -lm

# The passes from the command line, on the digits CNN and the example pipelines.
TESTS += tests/cli/prune.sh
dist_check_SCRIPTS += tests/cli/prune.sh
EXTRA_DIST += examples/pipelines/prune-sparse.xml examples/pipelines/prune-channels.xml \
	tests/bench/run-digits-prune.sh tests/bench/digits_prune.py
