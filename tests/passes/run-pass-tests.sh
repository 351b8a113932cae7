#!/bin/sh
# Runs every pass test case of tests/passes/*.test (see tests/passes/README.md) with the
# harness built in the build tree. make check sets top_srcdir, top_builddir and
# MOF_PLUGIN_PATH (AM_TESTS_ENVIRONMENT).
exec "${top_builddir:-.}/tests/passes/run_pass_tests" "${top_srcdir:-.}/tests/passes"
