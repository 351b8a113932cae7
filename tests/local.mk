# Tests, run by `make check`. Each module's tests add themselves in their fragment.
TEST_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/unit \
	-DMOF_TEST_SRCDIR='"$(abs_top_srcdir)"' -DMOF_TEST_BUILDDIR='"$(abs_top_builddir)"'
TEST_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(PROTOBUF_C_CFLAGS) $(LIBXML2_CFLAGS)
TEST_LDADD = libmof.la $(CHECK_LIBS) $(PROTOBUF_C_LIBS) $(LIBXML2_LIBS)
# Tests see every plugin built in this tree, and the ONNX test data when installed.
AM_TESTS_ENVIRONMENT = \
	MOF_PLUGIN_PATH=`echo $(MOF_UNINSTALLED_PLUGIN_DIRS) | tr ' ' ':'`; \
	export MOF_PLUGIN_PATH; \
	top_srcdir='$(abs_top_srcdir)'; top_builddir='$(abs_top_builddir)'; \
	export top_srcdir top_builddir;
EXTRA_DIST += tests/unit/testutil.h
EXTRA_DIST += tests/unit/passtest.h

include tests/ir.mk
include tests/onnx.mk
include tests/host.mk
include tests/pipeline.mk
include tests/cli.mk
include tests/interp.mk
include tests/nn.mk
include tests/shapeops.mk
include tests/crosscheck.mk
include tests/verify.mk
include tests/text.mk
include tests/digits.mk
include tests/seq.mk
include tests/prune.mk
include tests/quant.mk
include tests/quantdyn.mk
include tests/cpu.mk
include tests/cpu-onednn.mk
include tests/cpu-int8.mk
include tests/cpu-conformance.mk
include tests/fuzz.mk
