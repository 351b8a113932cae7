# libmof: the IR, the plugin host, pipelines and the pass manager, diagnostics, and
# (from formats/local.mk) the ONNX reader and writer.
lib_LTLIBRARIES += libmof.la
libmof_la_SOURCES = \
	core/util.c core/util.h \
	core/status.c \
	core/context.c core/context_private.h \
	core/host.c core/host_private.h \
	core/params.c core/params.h \
	core/tensor.c core/ir.c core/ir_attr.c core/ir_verify.c core/ir_match.c \
	core/ir_private.h \
	core/output.c \
	core/print.c core/print.h \
	core/sha256.c core/sha256.h \
	core/pipeline.c core/pipeline_private.h \
	core/passmgr.c \
	core/verify.c
nodist_libmof_la_SOURCES = core/pipeline_rng.c
libmof_la_CPPFLAGS = $(AM_CPPFLAGS) -DMOF_BUILDING_LIBMOF
libmof_la_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS) $(LIBXML2_CFLAGS)
libmof_la_LIBADD = $(PROTOBUF_C_LIBS) $(LIBXML2_LIBS)
# -version-info current:revision:age of the library interface.
libmof_la_LDFLAGS = $(AM_LDFLAGS) -version-info 0:0:0 -no-undefined

# The SDK headers install as <prefix>/include/mof/*.h.
mofincludedir = $(includedir)/mof
mofinclude_HEADERS = \
	core/include/mof/mof.h core/include/mof/common.h core/include/mof/context.h \
	core/include/mof/ir.h core/include/mof/io.h core/include/mof/plugin.h \
	core/include/mof/host.h core/include/mof/pipeline.h core/include/mof/verify.h \
	core/include/mof/fused.h
nodist_mofinclude_HEADERS = core/include/mof/version.h
pkgconfig_DATA += core/mof.pc

# The pipeline schema is installed for users and editors, and compiled into libmof so
# that validation never depends on an installed file.
dist_pkgschema_DATA += core/pipeline.rng
core/pipeline_rng.c: core/pipeline.rng
	$(AM_V_GEN)$(MKDIR_P) core && { \
	  echo '/* Generated from pipeline.rng by the build; do not edit. */'; \
	  echo 'extern const char mof_pipeline_rng[];'; \
	  echo 'const char mof_pipeline_rng[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/    "/' -e 's/$$/\\n"/' $(srcdir)/core/pipeline.rng; \
	  echo ';'; } > $@-t && mv $@-t $@
BUILT_SOURCES += core/pipeline_rng.c
CLEANFILES += core/pipeline_rng.c

# The command-line client.
bin_PROGRAMS += mof
mof_SOURCES = core/cli/mof.c
mof_LDADD = libmof.la
mof_CPPFLAGS = $(AM_CPPFLAGS) \
	-DMOF_UNINSTALLED_PLUGIN_PATH='"$(MOF_UNINSTALLED_PLUGIN_DIRS)"'
dist_man_MANS += core/cli/mof.1

EXTRA_DIST += core/mof.pc.in core/include/mof/version.h.in

# The reference interpreter and shape inference.
libmof_la_SOURCES += \
	core/interp/op.h core/interp/kernel.h core/interp/interp.c core/interp/registry.c \
	core/interp/infer.c core/interp/kernel_util.c core/interp/gemm.c \
	core/interp/ops_elementwise.c core/interp/ops_reduce.c core/interp/ops_control.c \
	core/interp/ops_nn.c core/interp/ops_shape.c core/interp/ops_quant.c \
	core/interp/ops_mof.c core/interp/ops_layout.c \
	core/interp/ops_einsum.c core/interp/ops_detect.c
# Sequences and optionals (value kernels), and the random numbers of Dropout.
libmof_la_SOURCES += \
	core/interp/value.c core/interp/ops_seq.c core/interp/random.c core/interp/random.h
mofinclude_HEADERS += core/include/mof/interp.h
# The ONNX text syntax (formats/text/, see formats/local.mk).
mofinclude_HEADERS += core/include/mof/text.h
