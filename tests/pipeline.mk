# Tests of typed parameters, pipelines (XML and the one-line form) and the pass manager.
check_PROGRAMS += tests/unit/test_params tests/unit/test_pipeline tests/unit/test_passmgr
TESTS += tests/unit/test_params tests/unit/test_pipeline tests/unit/test_passmgr \
	tests/pipeline-schema.sh
# The installed schema checked with xmllint against the same files (skipped without it).
dist_check_SCRIPTS += tests/pipeline-schema.sh

# test_params compiles params.c (and the helpers it uses) in, to call its internal
# functions; the copies are the test's own, libmof's stay hidden.
tests_unit_test_params_SOURCES = tests/unit/test_params.c core/params.c core/util.c
tests_unit_test_params_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_test_params_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_params_LDADD = $(TEST_LDADD)

# test_pipeline checks SHA-256 against the FIPS 180-4 vectors with its own sha256.c.
tests_unit_test_pipeline_SOURCES = tests/unit/test_pipeline.c core/sha256.c
tests_unit_test_pipeline_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_test_pipeline_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_pipeline_LDADD = $(TEST_LDADD)

tests_unit_test_passmgr_SOURCES = tests/unit/test_passmgr.c
tests_unit_test_passmgr_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_test_passmgr_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_passmgr_LDADD = $(TEST_LDADD)

EXTRA_DIST += \
	tests/data/pipelines/valid.xml \
	tests/data/pipelines/syntax.xml \
	tests/data/pipelines/schema.xml \
	tests/data/pipelines/unknown-pass.xml \
	tests/data/pipelines/wrong-type.xml \
	tests/data/pipelines/range.xml \
	tests/data/pipelines/many-errors.xml \
	tests/data/pipelines/contracts.xml \
	tests/data/pipelines/xxe.xml \
	tests/data/pipelines/plugin.xml
