# Pass plugins, one module per family.
pkgplugin_LTLIBRARIES += passes/cleanup/cleanup.la
passes_cleanup_cleanup_la_SOURCES = passes/cleanup/cleanup.c
passes_cleanup_cleanup_la_LDFLAGS = $(AM_LDFLAGS) $(MOF_PLUGIN_LDFLAGS)
passes_cleanup_cleanup_la_LIBADD = libmof.la
MOF_UNINSTALLED_PLUGIN_DIRS += $(abs_top_builddir)/passes/cleanup/.libs

# The cleanup passes' unit test links the plugin in statically (MOF_PLUGIN_STATIC
# renames its entry point to mof_plugin_entry_cleanup), so it needs no dlopen.
check_PROGRAMS += tests/unit/test_cleanup
TESTS += tests/unit/test_cleanup
tests_unit_test_cleanup_SOURCES = tests/unit/test_cleanup.c passes/cleanup/cleanup.c
tests_unit_test_cleanup_CPPFLAGS = $(TEST_CPPFLAGS) -DMOF_PLUGIN_STATIC=cleanup
tests_unit_test_cleanup_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_cleanup_LDADD = $(TEST_LDADD)
