# Tests of the mof command line, as shell scripts run from the build tree. They get
# top_srcdir, top_builddir and MOF_PLUGIN_PATH from AM_TESTS_ENVIRONMENT, share the
# helpers of tests/cli/lib.sh, print each check, and exit 77 to skip, 0 or 1 otherwise.
MOF_CLI_TESTS = \
	tests/cli/help.sh \
	tests/cli/info.sh \
	tests/cli/plugins.sh \
	tests/cli/run.sh \
	tests/cli/errors.sh \
	tests/cli/custom-pass.sh \
	tests/cli/print.sh \
	tests/cli/pipelines.sh
TESTS += $(MOF_CLI_TESTS)
dist_check_SCRIPTS += $(MOF_CLI_TESTS)
EXTRA_DIST += tests/cli/lib.sh

# custom-pass.sh runs `make install` from this build tree, and libtool relinks the
# plugin modules in their .libs folders while installing: a test that loads plugins at
# that moment can fail. So it runs after every other test.
# (Named through a variable: automake would drop its own recipe for a literal target.)
MOF_LAST_TEST_LOG = tests/cli/custom-pass.sh.log
$(MOF_LAST_TEST_LOG): $(filter-out $(MOF_LAST_TEST_LOG),$(TEST_LOGS))
