#!/bin/sh
# The pass test harness must fail where it should: runs it on
# tests/passes/selftest/harness.test, whose cases all fail but one, and checks that each
# failure is reported with its file:line and reason.
srcdir=${top_srcdir:-.}
builddir=${top_builddir:-.}
test_file=$srcdir/tests/passes/selftest/harness.test
out=${TMPDIR:-/tmp}/mof-pass-selftest.$$
trap 'rm -f "$out"' EXIT
# test-perturb comes from the test plugin built for the verification tests.
MOF_PLUGIN_PATH=$builddir/tests/plugins/.libs${MOF_PLUGIN_PATH:+:$MOF_PLUGIN_PATH}
export MOF_PLUGIN_PATH

"$builddir/tests/passes/run_pass_tests" "$test_file" >"$out" 2>&1
rc=$?
failed=0
expect() {
    if grep -F -q -e "$1" "$out"; then
        echo "ok: $1"
    else
        echo "MISSING: $1"
        failed=1
    fi
}
[ "$rc" -eq 1 ] || { echo "the harness exited with $rc, expected 1"; failed=1; }
expect "pass tests: 1 passed, 8 failed (1 file)"
expect "harness.test:20: CHECK: Sigmoid"
expect "no match for \"Sigmoid\" in the output from line 1 on"
expect "harness.test:29: CHECK-NOT: Identity"
expect "found \"Identity\" on line 6 of the output: \"   t = Identity (x)\""
if [ -f "$builddir/tests/plugins/.libs/perturb.so" ]; then
    expect "harness.test:32: FAIL: RUN: test-perturb"
    expect "the passes changed the model's outputs past rtol 1e-05, atol 1e-06: output 'y'"
fi
expect "harness.test:44:1: error: expected ')' or ',' in the node's inputs, found '}'"
expect "harness.test:52: error: unknown directive 'CHEK'"
expect "harness.test:60: EXPECT-ERROR: anything"
expect "the passes succeeded"
expect "harness.test:63: FAIL: RUN: no-such-pass"
expect "error: unknown pass 'no-such-pass'"
expect "harness.test:70: FAIL: RUN: dead-code"
expect "the numeric check could not run the models"
if [ "$failed" -ne 0 ]; then
    echo "--- the harness said:"
    cat "$out"
fi
exit "$failed"
