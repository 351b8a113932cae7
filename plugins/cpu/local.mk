# The cpu backend plugin: generated C artifacts (portable and oneDNN kernel providers).
# The emitter (emit.c, plan.c, artifact.c) asks the providers of provider.c's table for
# each node; see plugins/cpu/DESIGN.md and provider.h.
pkgplugin_LTLIBRARIES += plugins/cpu/cpu.la
plugins_cpu_cpu_la_SOURCES = \
	plugins/cpu/provider.h plugins/cpu/cpu.h \
	plugins/cpu/cpu_backend.c plugins/cpu/emit.c plugins/cpu/artifact.c \
	plugins/cpu/provider.c plugins/cpu/provider_portable.c
nodist_plugins_cpu_cpu_la_SOURCES = plugins/cpu/runtime_files.c
plugins_cpu_cpu_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(srcdir)/plugins/cpu
plugins_cpu_cpu_la_CFLAGS = $(AM_CFLAGS)
plugins_cpu_cpu_la_LDFLAGS = $(AM_LDFLAGS) $(MOF_PLUGIN_LDFLAGS)
plugins_cpu_cpu_la_LIBADD = libmof.la -lm
MOF_UNINSTALLED_PLUGIN_DIRS += $(abs_top_builddir)/plugins/cpu/.libs

# Runtime files: C sources and headers copied into artifacts (with "mofrt" renamed to
# the artifact's runtime prefix). They are compiled into the plugin as text. Paths are
# relative to the source tree; the other fragments append with
#   CPU_RUNTIME_FILES += plugins/cpu/runtime/mofrt_xyz.c
CPU_RUNTIME_FILES = \
	plugins/cpu/runtime/mofrt.h plugins/cpu/runtime/mofrt.c \
	plugins/cpu/runtime/mofrt_gemm.h plugins/cpu/runtime/mofrt_gemm.c \
	plugins/cpu/runtime/mofrt_conv.h plugins/cpu/runtime/mofrt_conv.c \
	plugins/cpu/runtime/mofrt_tensorio.h plugins/cpu/runtime/mofrt_tensorio.c \
	plugins/cpu/runtime/mofrt_ops.h plugins/cpu/runtime/mofrt_ops.c

include plugins/cpu/onednn.mk
include plugins/cpu/int8.mk

# After the fragments, so that their runtime files are in the list. The generated file
# depends on every listed file; a file's name in the table is its base name.
EXTRA_DIST += plugins/cpu/DESIGN.md $(CPU_RUNTIME_FILES) plugins/cpu/gen-runtime.sh
plugins/cpu/runtime_files.c: $(CPU_RUNTIME_FILES) $(srcdir)/plugins/cpu/gen-runtime.sh Makefile
	$(AM_V_GEN)$(MKDIR_P) plugins/cpu && \
	  $(SHELL) $(srcdir)/plugins/cpu/gen-runtime.sh $(srcdir) $(CPU_RUNTIME_FILES) > $@-t && mv $@-t $@
BUILT_SOURCES += plugins/cpu/runtime_files.c
CLEANFILES += plugins/cpu/runtime_files.c
