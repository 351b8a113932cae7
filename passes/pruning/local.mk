# The pruning plugin: prune-magnitude, prune-nm, prune-channels.
pkgplugin_LTLIBRARIES += passes/pruning/pruning.la
passes_pruning_pruning_la_SOURCES = passes/pruning/prune.c passes/pruning/prune.h \
	passes/pruning/flops.c passes/pruning/magnitude.c passes/pruning/nm.c \
	passes/pruning/channels.c passes/pruning/calib.c
passes_pruning_pruning_la_LDFLAGS = $(AM_LDFLAGS) $(MOF_PLUGIN_LDFLAGS)
passes_pruning_pruning_la_LIBADD = libmof.la -lm
MOF_UNINSTALLED_PLUGIN_DIRS += $(abs_top_builddir)/passes/pruning/.libs
