#!/bin/sh
# verify.sh: mof verify compares two models on the same inputs. A model against
# itself, or against its cleaned-up copy, passes with no error at all; against a copy
# whose weights a pass perturbed it fails with exit status 1 and names the output.
. "$(dirname "$0")/lib.sh"

DATA="$top_srcdir/examples/models/tiny-cnn-inputs"
PERTURB="$top_builddir/tests/plugins/.libs/perturb.so"
if [ ! -f "$PERTURB" ]; then
    echo "error: $PERTURB is not built (make check builds it)"
    exit 99
fi

expect_status 0 "mof verify --help" verify --help
cp "$TMP/stdout" "$TMP/help-verify"
expect_match stdout '^Usage: mof verify' "--help starts with the usage line"
expect_status 0 "mof --help" --help
expect_match stdout '^  verify ' "mof --help lists verify"
man1="$top_srcdir/core/cli/mof.1"
expect_match "$man1" '^\.B(R|I)? "?verify( |"|$)' "mof.1 documents the command 'verify'"
grep -Eo -- '--[a-z][a-z-]*' "$TMP/help-verify" | sort -u >"$TMP/options"
while read -r opt; do
    escaped=$(printf '%s' "$opt" | sed 's/-/\\\\-/g')
    expect_match "$man1" "$escaped" "mof.1 documents $opt"
done <"$TMP/options"

# A model against itself: no error at all.
expect_status 0 "a model against itself" verify "$MODEL" "$MODEL"
expect_match stdout '^output +type +max abs +max rel +cosine +top-1 +result$' "the table's header"
expect_match stdout '^logits +float\[1,10\] +0 +0 +1\.000000 +3/3 +ok$' \
    "0 error, cosine 1, top-1 3 of 3"
expect_match stdout "^ok: .* computes what .* computes \\(3 random input sets, seed 0\\)" \
    "the verdict says how it was checked"

# The cleaned-up model computes exactly what the original does.
expect_status 0 "mof run cleanup.xml" run -q "$PIPELINES/cleanup.xml" "$MODEL" -o "$TMP/clean"
expect_status 0 "the cleaned-up model against the original" verify "$MODEL" \
    "$TMP/clean/model.onnx"
expect_match stdout '^logits +float\[1,10\] +0 +0 ' "0 error"

# A perturbed copy: test-perturb adds 0.5 to the first weights.
cat >"$TMP/perturb.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<pipeline name="perturb">
  <plugin path="$PERTURB"/>
  <pass name="test-perturb" amount="0.5"/>
</pipeline>
XML
expect_status 0 "make a perturbed copy" run -q "$TMP/perturb.xml" "$MODEL" \
    -o "$TMP/perturbed.onnx"
expect_status 1 "against the perturbed copy" verify "$MODEL" "$TMP/perturbed.onnx"
expect_match stdout '^logits +float\[1,10\] .* FAIL \([0-9]+ of 30 elements\)$' \
    "the row says FAIL and how many elements"
expect_match stdout "^FAIL: .*perturbed\\.onnx does not compute what .* computes .*: output 'logits': max abs error [0-9.e-]+ at \\[0,[0-9]\\]" \
    "the verdict names the output, the error and where"
expect_status 0 "with a loose enough atol it passes" verify --atol 100 "$MODEL" \
    "$TMP/perturbed.onnx"

# Options: the number of sets and the seed, the stored inputs, JSON.
expect_status 0 "--random 5 --seed 3" verify --random 5 --seed 3 "$MODEL" "$MODEL"
expect_match stdout ' 5/5 +ok$' "five rows compared for top-1"
expect_match stdout '\(5 random input sets, seed 3\)' "the verdict says so"
expect_status 0 "--inputs" verify --inputs "$DATA" "$MODEL" "$MODEL"
expect_match stdout "\\(the inputs in .*tiny-cnn-inputs\\)" "on the stored inputs"
expect_status 0 "--json" verify --json "$MODEL" "$MODEL"
expect_match stdout '^\{"rtol": 0\.0001, "atol": 1e-05, "input_sets": 3, "passed": true, "outputs": \[\{"name": "logits", "dtype": "float", "shape": \[1, 10\], "elements": 30, "max_abs": 0, ' \
    "JSON with the tolerances, the verdict and the output"
expect_status 1 "--json against the perturbed copy" verify --json "$MODEL" "$TMP/perturbed.onnx"
expect_match stdout '"passed": false' "the JSON says it failed"
expect_status 0 "--rtol and --atol" verify --rtol 1e-3 --atol=0 "$MODEL" "$MODEL"

# Usage errors (2) and bad input (3).
expect_status 2 "one model" verify "$MODEL"
expect_match stderr "missing the MODEL argument" "the missing model is named"
expect_status 2 "three models" verify "$MODEL" "$MODEL" "$MODEL"
expect_status 2 "--random 0" verify --random 0 "$MODEL" "$MODEL"
expect_status 2 "a negative tolerance" verify --rtol -1 "$MODEL" "$MODEL"
expect_status 2 "a tolerance that is no number" verify --atol abc "$MODEL" "$MODEL"
expect_status 2 "--inputs and --random" verify --inputs "$DATA" --random 2 "$MODEL" "$MODEL"
expect_status 2 "a pin of no input" verify --input-shape nope=1 "$MODEL" "$MODEL"
expect_status 3 "a missing model" verify "$MODEL" "$TMP/nope.onnx"
expect_match stderr "nope\\.onnx" "the missing model is named"
expect_status 3 "a missing input folder" verify --inputs "$TMP/nope" "$MODEL" "$MODEL"

finish
