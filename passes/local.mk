# Pass plugins, one module per family.
pkgplugin_LTLIBRARIES += passes/cleanup/cleanup.la
passes_cleanup_cleanup_la_SOURCES = passes/cleanup/cleanup.c passes/cleanup/fold.c \
	passes/cleanup/shapes.c passes/cleanup/simplify.c
passes_cleanup_cleanup_la_LDFLAGS = $(AM_LDFLAGS) $(MOF_PLUGIN_LDFLAGS)
passes_cleanup_cleanup_la_LIBADD = libmof.la
MOF_UNINSTALLED_PLUGIN_DIRS += $(abs_top_builddir)/passes/cleanup/.libs

# The cleanup passes' unit test links the plugin in statically (MOF_PLUGIN_STATIC
# renames its entry point to mof_plugin_entry_cleanup), so it needs no dlopen.
check_PROGRAMS += tests/unit/test_cleanup
TESTS += tests/unit/test_cleanup
tests_unit_test_cleanup_SOURCES = tests/unit/test_cleanup.c $(passes_cleanup_cleanup_la_SOURCES)
tests_unit_test_cleanup_CPPFLAGS = $(TEST_CPPFLAGS) -DMOF_PLUGIN_STATIC=cleanup
tests_unit_test_cleanup_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_cleanup_LDADD = $(TEST_LDADD)

# fold-constants and infer-shapes, linked in the same way.
check_PROGRAMS += tests/unit/test_fold
TESTS += tests/unit/test_fold
tests_unit_test_fold_SOURCES = tests/unit/test_fold.c $(passes_cleanup_cleanup_la_SOURCES)
tests_unit_test_fold_CPPFLAGS = $(TEST_CPPFLAGS) -DMOF_PLUGIN_STATIC=cleanup
tests_unit_test_fold_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_fold_LDADD = $(TEST_LDADD)

# cse, merge-initializers, eliminate-noops and merge-consecutive, linked in the same way.
check_PROGRAMS += tests/unit/test_simplify
TESTS += tests/unit/test_simplify
tests_unit_test_simplify_SOURCES = tests/unit/test_simplify.c $(passes_cleanup_cleanup_la_SOURCES)
tests_unit_test_simplify_CPPFLAGS = $(TEST_CPPFLAGS) -DMOF_PLUGIN_STATIC=cleanup
tests_unit_test_simplify_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_simplify_LDADD = $(TEST_LDADD)

# The layout plugin: sink-transposes and to-nhwc.
pkgplugin_LTLIBRARIES += passes/layout/layout.la
passes_layout_layout_la_SOURCES = passes/layout/layout.c passes/layout/layout.h \
	passes/layout/sink.c passes/layout/nhwc.c
passes_layout_layout_la_LDFLAGS = $(AM_LDFLAGS) $(MOF_PLUGIN_LDFLAGS)
passes_layout_layout_la_LIBADD = libmof.la
MOF_UNINSTALLED_PLUGIN_DIRS += $(abs_top_builddir)/passes/layout/.libs

# The layout passes' unit test, with the plugin linked in (MOF_PLUGIN_STATIC=layout).
check_PROGRAMS += tests/unit/test_layout
TESTS += tests/unit/test_layout
tests_unit_test_layout_SOURCES = tests/unit/test_layout.c $(passes_layout_layout_la_SOURCES)
tests_unit_test_layout_CPPFLAGS = $(TEST_CPPFLAGS) -DMOF_PLUGIN_STATIC=layout
tests_unit_test_layout_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_layout_LDADD = $(TEST_LDADD)

# Operator fusion; the fused operators it writes are in mof/fused.h.
pkgplugin_LTLIBRARIES += passes/fusion/fusion.la
passes_fusion_fusion_la_SOURCES = passes/fusion/fusion.c passes/fusion/fusion.h \
	passes/fusion/conv_bn.c passes/fusion/bias.c passes/fusion/activation.c \
	passes/fusion/gelu.c passes/fusion/layernorm.c passes/fusion/attention.c \
	passes/fusion/pad.c passes/fusion/softmax.c
passes_fusion_fusion_la_LDFLAGS = $(AM_LDFLAGS) $(MOF_PLUGIN_LDFLAGS)
passes_fusion_fusion_la_LIBADD = libmof.la
MOF_UNINSTALLED_PLUGIN_DIRS += $(abs_top_builddir)/passes/fusion/.libs

check_PROGRAMS += tests/unit/test_fusion
TESTS += tests/unit/test_fusion
tests_unit_test_fusion_SOURCES = tests/unit/test_fusion.c $(passes_fusion_fusion_la_SOURCES)
tests_unit_test_fusion_CPPFLAGS = $(TEST_CPPFLAGS) -DMOF_PLUGIN_STATIC=fusion
tests_unit_test_fusion_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_fusion_LDADD = $(TEST_LDADD)

include passes/pruning/local.mk
include passes/quantization/local.mk
