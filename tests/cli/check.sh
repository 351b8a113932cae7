#!/bin/sh
# check.sh: mof run --check and --check-each. The cleanup pipeline passes them (its
# passes are exact); a pipeline with a pass that perturbs the weights fails, naming
# the pass and its line, writes nothing but a reproducer (the model before the pass
# and a one-pass pipeline), and the reproducer reproduces the failure.
. "$(dirname "$0")/lib.sh"

PERTURB="$top_builddir/tests/plugins/.libs/perturb.so"
if [ ! -f "$PERTURB" ]; then
    echo "error: $PERTURB is not built (make check builds it)"
    exit 99
fi

# cleanup.xml: every pass checked, and the end result.
expect_status 0 "cleanup.xml --check-each" run --check-each "$PIPELINES/cleanup.xml" "$MODEL" \
    -o "$TMP/out"
expect_match stderr '^note: check-each: [0-9]+ pass runs checked, each within tolerance$' \
    "every pass run was checked"
expect_match stderr '^note: check: the optimized model computes what the input model computes \(3 random input sets, seed 0\): 1 output within .*max abs error 0 ' \
    "the end result was checked, with no error"
check "the output is written" test -f "$TMP/out/model.onnx"
expect_status 0 "cleanup.xml --check with options" run --check --check-inputs 2 --seed 9 \
    --rtol 0 --atol 0 "$PIPELINES/cleanup.xml" "$MODEL" -o "$TMP/out2"
expect_match stderr '\(2 random input sets, seed 9\)' "the options are used"
expect_no_match stderr 'check-each' "--check alone checks only the end"
expect_status 0 "--check-each --quiet" run -q --check-each "$PIPELINES/cleanup.xml" "$MODEL" \
    -o "$TMP/out3"
expect_no_match stderr . "--quiet prints nothing"

# A pipeline whose second pass perturbs the weights (line 5).
cat >"$TMP/perturb.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<pipeline name="perturbing">
  <plugin path="$PERTURB"/>
  <pass name="eliminate-identity"/>
  <pass name="test-perturb" amount="0.5"/>
  <repeat max="4">
    <pass name="dead-code"/>
  </repeat>
</pipeline>
XML
out="$TMP/p.onnx"
before="$out.before-test-perturb.onnx"
repro="$out.repro-test-perturb.xml"
expect_status 1 "--check-each with test-perturb" run --check-each "$TMP/perturb.xml" "$MODEL" \
    -o "$out"
expect_match stderr "perturb\\.xml:5: error: pass 'test-perturb' changed what the model computes: output 'logits': max abs error [0-9.e-]+ at \\[0,[0-9]\\] \\(ref [-0-9.e]+, got [-0-9.e]+\\) is past atol 1e-05 \\+ rtol 0\\.0001 \\* \\|ref\\|" \
    "the pass, its line, the output and the error are named"
grep 'changed what the model computes' "$TMP/stderr" | sed 's/.*max abs error \([^ ]*\) .*/\1/' \
    >"$TMP/error-each"
expect_no_match stderr "pass 'eliminate-identity' changed" "the exact pass before it is not blamed"
expect_no_match stderr "^dead-code " "the run stopped at the failing pass"
check "no output is written" test ! -e "$out"
check "the model before the pass is written" test -f "$before"
check "the one-pass pipeline is written" test -f "$repro"
expect_match stderr "error: pass 'test-perturb' .*; reproducer: .*p\\.onnx\\.before-test-perturb\\.onnx \\(the model before the pass\\) and .*p\\.onnx\\.repro-test-perturb\\.xml \\(the pass alone\\)\$" \
    "the error names the reproducer's files"
expect_match stderr "^mof: note: to reproduce: mof run --check .*p\\.onnx\\.repro-test-perturb\\.xml .*p\\.onnx\\.before-test-perturb\\.onnx -o " \
    "a note says how to reproduce it"
expect_status 1 "--check-each --quiet with test-perturb" run -q --check-each "$TMP/perturb.xml" \
    "$MODEL" -o "$TMP/quiet.onnx"
expect_match stderr "; reproducer: .*quiet\\.onnx\\.before-test-perturb\\.onnx" \
    "--quiet still names the reproducer"
expect_equal "$(info_field "$before" nodes)" 10 "the model before the pass is after eliminate-identity"
expect_match "$repro" '<pass name="test-perturb" amount="0\.5"/>' "the pipeline has the pass and its parameter"
expect_match "$repro" '<plugin path="/.*/perturb\.so"/>' "and its plugin (an absolute path)"
expect_no_match "$repro" 'name="(eliminate-identity|dead-code)"' "and no other pass"
expect_status 0 "the reproducer is a valid pipeline" validate "$repro"

# The reproducer reproduces: the same error, with --check alone.
expect_status 1 "mof run --check REPRO BEFORE" run --check "$repro" "$before" -o "$TMP/r.onnx"
expect_match stderr "error: check: the optimized model does not compute what the input model computes: output 'logits': max abs error" \
    "it fails the check"
grep 'does not compute what' "$TMP/stderr" | sed 's/.*max abs error \([^ ]*\) .*/\1/' \
    >"$TMP/error-repro"
check "with the same error" cmp -s "$TMP/error-each" "$TMP/error-repro"
expect_match stderr 'run again with --check-each' "--check suggests --check-each"
check "the failed check writes nothing" test ! -e "$TMP/r.onnx"

# Non-default check options go into the command the note prints, which reproduces.
expect_status 1 "--check-each with options" run --check-each --check-inputs 2 --seed 4 \
    --rtol 0.001 "$TMP/perturb.xml" "$MODEL" -o "$TMP/s.onnx"
expect_match stderr "to reproduce: mof run --check --check-inputs 2 --seed 4 --rtol 0\\.001 " \
    "the note has the options"
cmd=$(sed -n 's/^mof: note: to reproduce: mof //p' "$TMP/stderr")
# shellcheck disable=SC2086 # the paths under $TMP have no blanks
expect_status 1 "the printed command" $cmd
expect_match stderr "check: the optimized model does not compute" "reproduces the failure"

# --check alone: the run fails at the end and writes nothing.
expect_status 1 "--check with test-perturb" run --check "$TMP/perturb.xml" "$MODEL" \
    -o "$TMP/q.onnx"
check "nothing is written" test ! -e "$TMP/q.onnx"
check "no reproducer without --check-each" test ! -e "$TMP/q.onnx.before-test-perturb.onnx"

# --keep-going: the pass is undone, the run goes on and writes, exit status 1.
expect_status 1 "--check-each --keep-going" run --check-each --keep-going "$TMP/perturb.xml" \
    "$MODEL" -o "$TMP/k.onnx"
expect_match stderr "pass 'test-perturb' is undone, and the run goes on" "the pass is undone"
check "the rest of the run wrote the output" test -f "$TMP/k.onnx"
expect_status 0 "which computes what the input computes" verify "$MODEL" "$TMP/k.onnx"

# A pass that declares how much it changes numerics is held to that tolerance.
sed 's/test-perturb"/test-perturb-lossy"/' "$TMP/perturb.xml" >"$TMP/lossy.xml"
expect_status 0 "--check-each with a pass that declares its tolerance" run --check-each \
    "$TMP/lossy.xml" "$MODEL" -o "$TMP/l.onnx"
check "its output is written" test -f "$TMP/l.onnx"

# Usage errors.
expect_status 2 "--rtol without --check" run --rtol 1e-3 "$PIPELINES/cleanup.xml" "$MODEL" \
    -o "$TMP/u"
expect_match stderr "option '--rtol' needs --check or --check-each" "says what it needs"
expect_status 2 "--check-inputs 0" run --check --check-inputs 0 "$PIPELINES/cleanup.xml" \
    "$MODEL" -o "$TMP/u"
expect_status 2 "--atol that is no number" run --check --atol x "$PIPELINES/cleanup.xml" \
    "$MODEL" -o "$TMP/u"
expect_status 2 "a seed that is no number" run --check --seed -3 "$PIPELINES/cleanup.xml" \
    "$MODEL" -o "$TMP/u"
check "nothing was written" test ! -e "$TMP/u"

finish
