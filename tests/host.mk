# Tests of the context (diagnostics) and of the plugin host, with purpose-built plugins:
# one good, and one broken in each way the host must refuse. They are built for
# `make check` only and never installed (-rpath /nowhere makes libtool build a module).
MOF_TEST_PLUGIN_LDFLAGS = $(AM_LDFLAGS) $(MOF_PLUGIN_LDFLAGS) -rpath /nowhere
check_LTLIBRARIES += \
	tests/plugins/good_plugin.la tests/plugins/bad_abi.la tests/plugins/no_entry.la \
	tests/plugins/missing_field.la tests/plugins/dup_name.la tests/plugins/dup_pass.la \
	tests/plugins/reg_fail.la
tests_plugins_good_plugin_la_SOURCES = tests/plugins/good_plugin.c
tests_plugins_good_plugin_la_LDFLAGS = $(MOF_TEST_PLUGIN_LDFLAGS)
tests_plugins_good_plugin_la_LIBADD = libmof.la
tests_plugins_bad_abi_la_SOURCES = tests/plugins/bad_abi.c
tests_plugins_bad_abi_la_LDFLAGS = $(MOF_TEST_PLUGIN_LDFLAGS)
tests_plugins_bad_abi_la_LIBADD = libmof.la
# Exports only mof_test_not_a_plugin: the regex of MOF_PLUGIN_LDFLAGS would hide it.
tests_plugins_no_entry_la_SOURCES = tests/plugins/no_entry.c
tests_plugins_no_entry_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -no-undefined \
	-shared -rpath /nowhere
tests_plugins_no_entry_la_LIBADD = libmof.la
tests_plugins_missing_field_la_SOURCES = tests/plugins/missing_field.c
tests_plugins_missing_field_la_LDFLAGS = $(MOF_TEST_PLUGIN_LDFLAGS)
tests_plugins_missing_field_la_LIBADD = libmof.la
tests_plugins_dup_name_la_SOURCES = tests/plugins/dup_name.c
tests_plugins_dup_name_la_LDFLAGS = $(MOF_TEST_PLUGIN_LDFLAGS)
tests_plugins_dup_name_la_LIBADD = libmof.la
tests_plugins_dup_pass_la_SOURCES = tests/plugins/dup_pass.c
tests_plugins_dup_pass_la_LDFLAGS = $(MOF_TEST_PLUGIN_LDFLAGS)
tests_plugins_dup_pass_la_LIBADD = libmof.la
tests_plugins_reg_fail_la_SOURCES = tests/plugins/reg_fail.c
tests_plugins_reg_fail_la_LDFLAGS = $(MOF_TEST_PLUGIN_LDFLAGS)
tests_plugins_reg_fail_la_LIBADD = libmof.la

check_PROGRAMS += tests/unit/test_context tests/unit/test_host
TESTS += tests/unit/test_context tests/unit/test_host
tests_unit_test_context_SOURCES = tests/unit/test_context.c
tests_unit_test_context_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_test_context_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_context_LDADD = $(TEST_LDADD)
# test_host links good_plugin.c too, built as a static plugin (MOF_PLUGIN_STATIC), to
# check that static plugins go through the same checks as loaded ones.
tests_unit_test_host_SOURCES = tests/unit/test_host.c tests/plugins/good_plugin.c
tests_unit_test_host_CPPFLAGS = $(TEST_CPPFLAGS) -DMOF_PLUGIN_STATIC=good
tests_unit_test_host_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_host_LDADD = $(TEST_LDADD)
