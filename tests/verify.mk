# Tests of numeric verification (core/verify.c, mof exec, mof verify, mof run --check
# and --check-each). Their passes that change a model's function on purpose come from
# tests/plugins/perturb.c, built twice: as a module for the command-line tests (never
# installed; -rpath /nowhere makes libtool build a module) and linked statically into
# test_verify (MOF_PLUGIN_STATIC).
check_LTLIBRARIES += tests/plugins/perturb.la
tests_plugins_perturb_la_SOURCES = tests/plugins/perturb.c
tests_plugins_perturb_la_LDFLAGS = $(MOF_TEST_PLUGIN_LDFLAGS)
tests_plugins_perturb_la_LIBADD = libmof.la

check_PROGRAMS += tests/unit/test_verify
TESTS += tests/unit/test_verify
tests_unit_test_verify_SOURCES = tests/unit/test_verify.c tests/plugins/perturb.c
tests_unit_test_verify_CPPFLAGS = $(TEST_CPPFLAGS) -DMOF_PLUGIN_STATIC=perturb
tests_unit_test_verify_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_verify_LDADD = $(TEST_LDADD)

# The command line; the scripts share tests/cli/lib.sh (see tests/cli.mk).
MOF_VERIFY_CLI_TESTS = \
	tests/cli/exec.sh \
	tests/cli/verify.sh \
	tests/cli/check.sh
TESTS += $(MOF_VERIFY_CLI_TESTS)
dist_check_SCRIPTS += $(MOF_VERIFY_CLI_TESTS)
