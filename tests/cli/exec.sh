#!/bin/sh
# exec.sh: mof exec runs a model with the reference interpreter. On the example's
# stored inputs it reproduces the output that ONNX Runtime wrote; random inputs give
# the same files for the same seed; --time prints a median; the output folder is
# written whole or not at all; bad command lines and inputs get their exit status.
. "$(dirname "$0")/lib.sh"

DATA="$top_srcdir/examples/models/tiny-cnn-inputs"

expect_status 0 "mof exec --help" exec --help
cp "$TMP/stdout" "$TMP/help-exec"
expect_match stdout '^Usage: mof exec' "--help starts with the usage line"
expect_status 0 "mof --help" --help
expect_match stdout '^  exec ' "mof --help lists exec"
# Every long option of the help is documented in the man page (hyphens escaped).
man1="$top_srcdir/core/cli/mof.1"
expect_match "$man1" '^\.B(R|I)? "?exec( |"|$)' "mof.1 documents the command 'exec'"
grep -Eo -- '--[a-z][a-z-]*' "$TMP/help-exec" | sort -u >"$TMP/options"
while read -r opt; do
    escaped=$(printf '%s' "$opt" | sed 's/-/\\\\-/g')
    expect_match "$man1" "$escaped" "mof.1 documents $opt"
done <"$TMP/options"

# The stored inputs: the output matches ONNX Runtime's output_0.pb within 1e-4 relative.
expect_status 0 "exec on the stored inputs, -o" exec "$MODEL" --inputs "$DATA" -o "$TMP/out"
check "output_0.pb is written" test -f "$TMP/out/output_0.pb"
check "nothing else is written" test "$(ls -A "$TMP/out")" = output_0.pb
expect_status 0 "the outputs match ONNX Runtime's (--expect, rtol 1e-4)" exec "$MODEL" \
    --inputs "$DATA" --expect "$DATA" --rtol 1e-4 --atol 0
expect_match stdout '^logits +float\[1,10\] .* 1/1 +ok$' "the table has one row, ok"
expect_match stdout "^ok: the outputs match " "the verdict is ok"
# The file written above holds exactly what was computed (so it matches ORT too).
expect_status 0 "the written output_0.pb is what exec computes" exec "$MODEL" \
    --inputs "$DATA" --expect "$TMP/out" --rtol 0 --atol 0
expect_match stdout '^logits +float\[1,10\] +0 +0 ' "bit for bit"
expect_status 0 "the written output_0.pb loads as inputs of another run" exec "$MODEL" \
    --inputs "$DATA" -o "$TMP/out"
check "an existing output folder is replaced" test "$(ls -A "$TMP/out")" = output_0.pb

# Without -o: a summary on stdout.
expect_status 0 "exec without -o" exec "$MODEL" --inputs "$DATA"
expect_match stdout '^output 0: logits float\[1,10\]  min -?[0-9.]+  max -?[0-9.]+  mean ' \
    "the summary gives the type and statistics"

# Random inputs: the same seed gives the same bytes, another seed others.
expect_status 0 "exec --random --seed 5" exec "$MODEL" --random --seed 5 -o "$TMP/r1"
expect_status 0 "the same again" exec "$MODEL" --random --seed 5 -o "$TMP/r2"
check "the same seed writes the same files" cmp -s "$TMP/r1/output_0.pb" "$TMP/r2/output_0.pb"
expect_status 0 "exec --random --seed 6" exec "$MODEL" --random --seed=6 -o "$TMP/r3"
check "another seed writes another file" test -n "$(cmp "$TMP/r1/output_0.pb" \
    "$TMP/r3/output_0.pb" 2>&1)"
expect_status 0 "exec --random (seed 0)" exec "$MODEL" --random -o "$TMP/r0"
expect_status 0 "exec --random --seed 0" exec "$MODEL" --random --seed 0 -o "$TMP/r00"
check "the default seed is 0" cmp -s "$TMP/r0/output_0.pb" "$TMP/r00/output_0.pb"
expect_status 1 "other outputs fail --expect" exec "$MODEL" --inputs "$DATA" \
    --expect "$TMP/r1"
expect_match stdout '^logits .* FAIL \(10 of 10 elements\)$' "the row says FAIL"
expect_match stdout "^FAIL: .*output 'logits': max abs error" "the verdict names the output"

# --time N: the median of N runs after the warm-up.
expect_status 0 "exec --time 5" exec "$MODEL" --random --time 5
expect_match stdout '^latency: median [0-9.]+ m?s over 5 runs \(min [0-9.]+ m?s, max [0-9.]+ m?s; after 1 warm-up run\)$' \
    "--time prints the median"

# Pins: the example's input is fixed, so a pin must agree with it.
expect_status 0 "--input-shape that agrees" exec "$MODEL" --random --input-shape image=1,3,16,16
expect_status 2 "--input-shape that does not" exec "$MODEL" --random \
    --input-shape image=2,3,16,16
expect_match stderr "^--input-shape: error: input 'image' is pinned with dim 0 = 2" \
    "the pin's problem is named"
expect_status 2 "--input-shape of no input" exec "$MODEL" --random --input-shape nope=1
expect_match stderr "its inputs: 'image'" "the model's inputs are listed"

# Usage errors.
expect_status 2 "no inputs" exec "$MODEL"
expect_match stderr "missing the inputs: --inputs=DIR or --random" "the missing inputs are named"
expect_status 2 "--inputs and --random" exec "$MODEL" --random --inputs "$DATA"
expect_status 2 "--seed without --random" exec "$MODEL" --inputs "$DATA" --seed 1
expect_status 2 "--rtol without --expect" exec "$MODEL" --inputs "$DATA" --rtol 1e-3
expect_status 2 "--time 0" exec "$MODEL" --random --time 0
expect_status 2 "a bad seed" exec "$MODEL" --random --seed -1
expect_status 2 "no model" exec --random
expect_status 2 "two models" exec "$MODEL" "$MODEL" --random
mkdir "$TMP/hold"
cp "$MODEL" "$TMP/hold/m.onnx"
expect_status 2 "-o holding the model" exec "$TMP/hold/m.onnx" --random -o "$TMP/hold"
check "the model is still there" cmp -s "$MODEL" "$TMP/hold/m.onnx"
cp -r "$DATA" "$TMP/data"
expect_status 2 "-o naming the inputs folder" exec "$MODEL" --inputs "$TMP/data" -o "$TMP/data"
check "the inputs are still there" test -f "$TMP/data/input_0.pb"

# Bad input: a missing model or folder (3); a failed run writes nothing (1).
expect_status 3 "a missing model" exec "$TMP/nope.onnx" --random
expect_status 3 "a missing input folder" exec "$MODEL" --inputs "$TMP/nope"
expect_one_line_error "nope: error: cannot read the input folder" "the folder is named"
mkdir "$TMP/empty"
expect_status 3 "a folder without the input" exec "$MODEL" --inputs "$TMP/empty"
expect_one_line_error "no tensor for input 'image' \\(expected input_0\\.pb, or image\\.npy\\)" \
    "the missing input is named"
mkdir "$TMP/wrong"
cp "$TMP/r1/output_0.pb" "$TMP/wrong/input_0.pb"
expect_status 1 "an input of the wrong shape" exec "$MODEL" --inputs "$TMP/wrong" \
    -o "$TMP/failed"
expect_match stderr "input 'image'" "the input is named"
check "a failed run writes no output folder" test ! -e "$TMP/failed"

finish
