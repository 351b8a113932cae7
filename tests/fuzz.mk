# Fuzz harnesses (tests/fuzz/, see tests/fuzz/README.md): the ONNX loader, the ONNX
# text parser and the pipeline parser, each a libFuzzer entry point. `make check` links
# them with a small driver (tests/fuzz/driver.c) and runs each on its seeds, then
# mutates them for MOF_FUZZ_SECONDS seconds (default 15) under the build's sanitizers;
# `make fuzz` (clang only) builds them with libFuzzer and runs them.
MOF_FUZZ_COMMON = tests/fuzz/fuzz.h tests/fuzz/fuzz_common.c tests/fuzz/driver.c \
	tests/fuzz/mutate.c tests/fuzz/mutate.h
check_PROGRAMS += tests/fuzz/fuzz_onnx tests/fuzz/fuzz_text tests/fuzz/fuzz_pipeline
tests_fuzz_fuzz_onnx_SOURCES = tests/fuzz/fuzz_onnx.c $(MOF_FUZZ_COMMON)
tests_fuzz_fuzz_onnx_CPPFLAGS = $(AM_CPPFLAGS) -DMOF_FUZZ_NAME='"onnx"' \
	-DMOF_FUZZ_EXT='".onnx"' -DMOF_FUZZ_FLAGS=MOF_FUZZ_PROTOBUF
tests_fuzz_fuzz_onnx_LDADD = libmof.la
tests_fuzz_fuzz_text_SOURCES = tests/fuzz/fuzz_text.c $(MOF_FUZZ_COMMON)
tests_fuzz_fuzz_text_CPPFLAGS = $(AM_CPPFLAGS) -DMOF_FUZZ_NAME='"text"' \
	-DMOF_FUZZ_EXT='".onnxtxt"' -DMOF_FUZZ_FLAGS=MOF_FUZZ_TEXT
tests_fuzz_fuzz_text_LDADD = libmof.la
tests_fuzz_fuzz_pipeline_SOURCES = tests/fuzz/fuzz_pipeline.c $(MOF_FUZZ_COMMON)
tests_fuzz_fuzz_pipeline_CPPFLAGS = $(AM_CPPFLAGS) -DMOF_FUZZ_NAME='"pipeline"' \
	-DMOF_FUZZ_EXT='".xml"' -DMOF_FUZZ_FLAGS=MOF_FUZZ_TEXT
tests_fuzz_fuzz_pipeline_LDADD = libmof.la

MOF_FUZZ_TESTS = tests/fuzz/onnx.sh tests/fuzz/text.sh tests/fuzz/pipeline.sh
TESTS += $(MOF_FUZZ_TESTS)
dist_check_SCRIPTS += $(MOF_FUZZ_TESTS) tests/fuzz/run-driver.sh
EXTRA_DIST += tests/fuzz/README.md tests/fuzz/run-libfuzzer.sh tests/fuzz/corpus \
	tests/fuzz/onnx-testdata.list tests/fuzz/onnx.dict tests/fuzz/text.dict \
	tests/fuzz/pipeline.dict tests/fuzz/make_seeds.py
CLEANFILES += tests/fuzz/crash-* tests/fuzz/leak-* tests/fuzz/timeout-*

# The libFuzzer builds: the same harnesses with -fsanitize=fuzzer instead of the
# driver. They need clang, and libmof compiled with -fsanitize=fuzzer-no-link for
# coverage: tests/fuzz/run-libfuzzer.sh configures such a build tree and runs
# `make fuzz` in it (FUZZ_SECONDS per harness, 60 by default).
MOF_FUZZ_LIBFUZZER_CFLAGS = $(AM_CFLAGS) -fsanitize=fuzzer
EXTRA_PROGRAMS = tests/fuzz/libfuzzer_onnx tests/fuzz/libfuzzer_text \
	tests/fuzz/libfuzzer_pipeline
tests_fuzz_libfuzzer_onnx_SOURCES = tests/fuzz/fuzz_onnx.c tests/fuzz/fuzz_common.c \
	tests/fuzz/mutate.c
tests_fuzz_libfuzzer_onnx_CPPFLAGS = $(AM_CPPFLAGS) -DMOF_FUZZ_LIBFUZZER
tests_fuzz_libfuzzer_onnx_CFLAGS = $(MOF_FUZZ_LIBFUZZER_CFLAGS)
tests_fuzz_libfuzzer_onnx_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
tests_fuzz_libfuzzer_onnx_LDADD = libmof.la
tests_fuzz_libfuzzer_text_SOURCES = tests/fuzz/fuzz_text.c tests/fuzz/fuzz_common.c
tests_fuzz_libfuzzer_text_CPPFLAGS = $(AM_CPPFLAGS) -DMOF_FUZZ_LIBFUZZER
tests_fuzz_libfuzzer_text_CFLAGS = $(MOF_FUZZ_LIBFUZZER_CFLAGS)
tests_fuzz_libfuzzer_text_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
tests_fuzz_libfuzzer_text_LDADD = libmof.la
tests_fuzz_libfuzzer_pipeline_SOURCES = tests/fuzz/fuzz_pipeline.c tests/fuzz/fuzz_common.c
tests_fuzz_libfuzzer_pipeline_CPPFLAGS = $(AM_CPPFLAGS) -DMOF_FUZZ_LIBFUZZER
tests_fuzz_libfuzzer_pipeline_CFLAGS = $(MOF_FUZZ_LIBFUZZER_CFLAGS)
tests_fuzz_libfuzzer_pipeline_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
tests_fuzz_libfuzzer_pipeline_LDADD = libmof.la

FUZZ_SECONDS = 60
.PHONY: fuzz
fuzz:
	@case '$(CC)' in *clang*) ;; *) echo "make fuzz needs a build tree configured" \
	  "with CC=clang: run tests/fuzz/run-libfuzzer.sh" >&2; exit 1 ;; esac
	$(MAKE) $(AM_MAKEFLAGS) $(EXTRA_PROGRAMS) $(pkgplugin_LTLIBRARIES)
	@for h in onnx text pipeline; do \
	  MOF_PLUGIN_PATH=`echo $(MOF_UNINSTALLED_PLUGIN_DIRS) | tr ' ' ':'` \
	  $(SHELL) $(top_srcdir)/tests/fuzz/run-libfuzzer.sh --run $$h $(FUZZ_SECONDS) \
	    || exit 1; \
	done
CLEANFILES += $(EXTRA_PROGRAMS)
clean-local: fuzz-clean-local
.PHONY: fuzz-clean-local
fuzz-clean-local:
	-rm -rf tests/fuzz/libfuzzer-work
